"""worklet behind a TLS-terminating nginx, as a server deployment runs it:
Debian's nginx with manifests/nginx/worklet.conf itself (names, port and
certificate paths substituted), a self-signed wildcard certificate made here
for worklet.test and *.worklet.test, workletd trusting 127.0.0.1 as its proxy.
Through nginx: the API, web_url and preview links in https, the sign-in
link's cookie Secure, the app told X-Forwarded-Proto https, the app's
WebSocket (wss) through both proxies, and the page in Chromium."""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.parse

from wltest import SOURCE_DIR, check, free_port, run

HERE = os.path.dirname(os.path.abspath(__file__))
DOMAIN = "worklet.test"
NGINX_PORT = free_port()
CONF = os.path.join(SOURCE_DIR, "manifests", "nginx", "worklet.conf")


class Nginx:
    """Debian's nginx running the example config in a private prefix."""

    def __init__(self, upstream_port):
        self.dir = tempfile.mkdtemp(prefix="wl-e2e-nginx-")
        self.cert = os.path.join(self.dir, "fullchain.pem")
        self.key = os.path.join(self.dir, "privkey.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=" + DOMAIN, "-keyout", self.key, "-out", self.cert,
             "-addext", "subjectAltName=DNS:%s,DNS:*.%s" % (DOMAIN, DOMAIN)],
            check=True, capture_output=True)
        with open(CONF) as f:
            site = f.read()
        # The example as shipped, with this test's names, ports and files.
        for old, new in (("worklet.example.com", DOMAIN),
                         ("/etc/ssl/worklet/fullchain.pem", self.cert),
                         ("/etc/ssl/worklet/privkey.pem", self.key),
                         ("127.0.0.1:8080", "127.0.0.1:%d" % upstream_port),
                         ("listen 443 ssl;", "listen 127.0.0.1:%d ssl;" % NGINX_PORT)):
            check(old in site, "the example config no longer has %r" % old)
            site = site.replace(old, new)
        # This test listens on loopback only and on no other port.
        site = site.replace("listen [::]:443 ssl;", "")
        site = site[:site.rindex("server {")]
        with open(os.path.join(self.dir, "site.conf"), "w") as f:
            f.write(site)
        with open(os.path.join(self.dir, "nginx.conf"), "w") as f:
            f.write("daemon off;\nworker_processes 1;\npid %s/nginx.pid;\n"
                    "error_log %s/error.log info;\nevents { worker_connections 256; }\n"
                    "http {\n access_log %s/access.log;\n client_body_temp_path %s/body;\n"
                    " proxy_temp_path %s/proxy;\n include %s/site.conf;\n}\n"
                    % ((self.dir,) * 6))
        self.proc = subprocess.Popen(["nginx", "-p", self.dir, "-c",
                                      os.path.join(self.dir, "nginx.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", NGINX_PORT), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("nginx did not start: " + self.log())

    def log(self):
        try:
            with open(os.path.join(self.dir, "error.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def https(method, url, headers=None, body=None):
    """A request through nginx; the name is resolved to 127.0.0.1 here as
    wildcard DNS would, and the certificate is the test's own."""
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection("127.0.0.1", NGINX_PORT, timeout=30, context=ctx)
    # SNI and Host name the real host, as a browser's would.
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", NGINX_PORT)),
                                server_hostname=u.hostname)
    h = {"Host": u.netloc}
    h.update(headers or {})
    data = json.dumps(body).encode() if body is not None else None
    if data:
        h["Content-Type"] = "application/json"
    conn.request(method, (u.path or "/") + ("?" + u.query if u.query else ""), body=data,
                 headers=h)
    resp = conn.getresponse()
    raw = resp.read().decode(errors="replace")
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw


def test_behind_nginx(env):
    nginx = Nginx(env.api_port)
    try:
        base = "https://%s:%d" % (DOMAIN, NGINX_PORT)
        auth = {"Authorization": "Bearer " + env.tokens["alice"]}
        code, _, body = https("POST", base + "/api/worklet/worklets", auth,
                              {"git_repo": env.make_repo("echo")})
        check(code == 201, (code, body))
        w = json.loads(body)
        env.ids.append(w["id"])
        wid = w["id"]
        check(w["web_url"] == "https://%s.%s:%d/" % (wid, DOMAIN, NGINX_PORT), w["web_url"])
        env.wait_phase(wid, "running", 300)
        # The dashboard is served on the base domain as it is.
        code, _, page = https("GET", base + "/")
        check(code == 200 and "<title>" in page, code)

        code, _, body = https("POST", base + "/api/worklet/worklets/%s/preview" % wid, auth)
        t = json.loads(body)
        check(code == 200 and t["url"].startswith(
            "https://%s.%s:%d/__worklet/login?ticket=" % (wid, DOMAIN, NGINX_PORT)), t)
        code, h, _ = https("GET", t["url"])
        check(code == 302 and h["location"] == "/", (code, h))
        attrs = [a.strip().lower() for a in h["set-cookie"].split(";")]
        check("secure" in attrs and "httponly" in attrs and "samesite=lax" in attrs, attrs)
        cookie = h["set-cookie"].split(";")[0]

        code, _, body = https("GET", w["web_url"] + "echo", {"Cookie": cookie})
        check(code == 200, (code, body))
        seen = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
        check(seen["x-forwarded-proto"] == "https", seen)
        check(seen["x-forwarded-host"] == "%s.%s:%d" % (wid, DOMAIN, NGINX_PORT), seen)
        check("wl_session" not in seen.get("cookie", ""), seen)
        # Plain http is no way in (nginx speaks TLS only on this port).
        with socket.create_connection(("127.0.0.1", NGINX_PORT), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % DOMAIN.encode())
            check(b"400" in s.recv(200), "plain http answered")

        # The page and its WebSocket in Chromium (wss through nginx and
        # workletd's proxy), signed in by the link alone.
        spec = {"url": t["url"], "expect_text": ["x-forwarded-proto", "https"],
                "resolve": "MAP *.%s 127.0.0.1, MAP %s 127.0.0.1" % (DOMAIN, DOMAIN),
                "ignore_https_errors": True, "websocket_echo": "/ws",
                "expect_cookie": {"name": "wl_session", "secure": True, "httpOnly": True},
                "screenshot": os.path.join(os.environ.get("WL_TEST_OUTPUT", os.path.join(
                    SOURCE_DIR, "build", "test-output")), "tls", "echo.png")}
        out = subprocess.run(["node", os.path.join(HERE, "realapp.mjs"), json.dumps(spec)],
                             capture_output=True, text=True, timeout=180)
        print(out.stdout[-3000:], out.stderr[-3000:])
        check(out.returncode == 0, "the browser check failed")
    except Exception:
        print("---- nginx error log ----\n" + nginx.log())
        raise
    finally:
        nginx.stop()


if __name__ == "__main__":
    run([test_behind_nginx], "tls",
        WORKLET_BASE_DOMAIN=DOMAIN, WORKLET_TRUSTED_PROXIES="127.0.0.1",
        WORKLET_PUBLIC_URL="https://%s:%d" % (DOMAIN, NGINX_PORT))
