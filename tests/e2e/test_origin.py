"""Every preview on its own origin: web_url is http://<id>.<base domain>:<port>/,
POST .../preview gives a sign-in link for that origin, opening it sets a
host-only session cookie and redirects to the app, and that cookie admits
its user to that one app only: not another worklet's host, not the API, and
the app never sees it. Expired and forged links get a 401 page a person can
read. X-Forwarded-Proto/-Host count only from WORKLET_TRUSTED_PROXIES.
(Real apps in a real browser: test_realapps.py.)"""

import http.client
import json
import time
import urllib.parse

from wltest import check, run


def running_echo(env, user="alice"):
    code, w, _ = env.api("POST", "/api/worklet/worklets",
                         {"git_repo": env.make_repo("echo", "echo-" + user)}, user=user)
    check(code == 201, w)
    env.ids.append(w["id"])
    env.wait_phase(w["id"], "running", 300)
    return w


def get(env, url_or_path, host=None, headers=None, method="GET"):
    """One request to workletd, whatever host the URL names (*.localhost is
    the loopback); returns (status, lower-cased headers, body text)."""
    u = urllib.parse.urlsplit(url_or_path)
    path = (u.path or "/") + ("?" + u.query if u.query else "")
    h = {"Host": host or u.netloc}
    h.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", env.api_port, timeout=30)
    conn.request(method, path, headers=h)
    resp = conn.getresponse()
    body = resp.read().decode(errors="replace")
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def sign_in(env, wid, user="alice"):
    """The cookie a browser would keep after opening the preview link."""
    code, t, _ = env.api("POST", "/api/worklet/worklets/%s/preview" % wid, user=user)
    check(code == 200 and set(t) == {"url", "expires_in"}, t)
    code, h, _ = get(env, t["url"])
    check(code == 302 and h["location"] == "/", (code, h))
    name, value = h["set-cookie"].split(";")[0].split("=", 1)
    check(name == "wl_session", h["set-cookie"])
    return t, h["set-cookie"], value


def test_web_url_and_sign_in(env):
    w = running_echo(env)
    wid = w["id"]
    host = "%s.worklet.localhost:%d" % (wid, env.api_port)
    check(w["web_url"] == "http://%s/" % host, w["web_url"])
    # Without credentials a browser gets a page that says what to do.
    code, h, body = get(env, w["web_url"], headers={"Accept": "text/html"})
    check(code == 401 and h["content-type"].startswith("text/html"), (code, h))
    check("open this preview from the dashboard" in body, body)
    # An API client without credentials: JSON.
    code, _, body = get(env, w["web_url"])
    check(code == 401 and json.loads(body)["error"]["code"] == "unauthorized", body)

    t, set_cookie, cookie = sign_in(env, wid)
    check(t["url"].startswith("http://%s/__worklet/login?ticket=" % host), t["url"])
    check(t["expires_in"] == 300, t)
    attrs = [a.strip().lower() for a in set_cookie.split(";")[1:]]
    check("httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs, attrs)
    check("secure" not in attrs, "Secure on plain http: the browser would drop it")
    check(not any(a.startswith("domain=") for a in attrs), "the cookie must be host-only")

    # The cookie admits the app's every request; the app never sees it.
    jar = "theme=dark; wl_session=%s; lang=en" % cookie
    code, _, body = get(env, "/echo/assets/app.js?v=1", host=host, headers={"Cookie": jar})
    check(code == 200, (code, body))
    echo = json.loads(body)
    seen = {k.lower(): v for k, v in echo["headers"].items()}
    check(echo["path"] == "/echo/assets/app.js?v=1", echo["path"])
    check(seen.get("cookie") == "theme=dark; lang=en", seen.get("cookie"))
    check(cookie not in body, "the session reached the app")
    # ... and its WebSocket upgrades (the hot-reload socket).
    s = http.client.HTTPConnection("127.0.0.1", env.api_port, timeout=10)
    s.request("GET", "/ws", headers={
        "Host": host, "Cookie": jar, "Connection": "Upgrade", "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    check(s.getresponse().status == 101, "the cookie did not admit the WebSocket")
    s.close()

    # Not another worklet's host (even the same user's), not the API.
    other = running_echo(env, user="bob")
    ohost = "%s.worklet.localhost:%d" % (other["id"], env.api_port)
    code, _, body = get(env, "/echo", host=ohost, headers={"Cookie": jar})
    check(code == 401, (code, body))
    code, _, body = get(env, "/api/worklet/worklets/" + wid, host=host.replace(wid + ".", ""),
                        headers={"Cookie": jar})
    check(code == 401, (code, body))
    code, _, body = get(env, "/api/worklet/worklets/%s/proxy/echo" % wid,
                        host="127.0.0.1:%d" % env.api_port, headers={"Cookie": jar})
    check(code == 401, (code, body))
    # Bob cannot mint a link to Alice's worklet, nor use his on her host.
    code, _, _ = env.api("POST", "/api/worklet/worklets/%s/preview" % wid, user="bob")
    check(code == 404, code)
    _, _, bob_cookie = sign_in(env, other["id"], user="bob")
    code, _, _ = get(env, "/echo", host=host, headers={"Cookie": "wl_session=" + bob_cookie})
    check(code == 401, code)


def test_bad_links(env):
    w = running_echo(env)
    wid = w["id"]
    host = "%s.worklet.localhost:%d" % (wid, env.api_port)
    code, t, _ = env.api("POST", "/api/worklet/worklets/%s/preview" % wid)
    check(code == 200, t)
    ticket = urllib.parse.parse_qs(urllib.parse.urlsplit(t["url"]).query)["ticket"][0]
    html = {"Accept": "text/html,application/xhtml+xml"}
    cases = [
        # a forged MAC, another user, another worklet's host, no ticket
        (ticket[:-1] + ("0" if ticket[-1] != "0" else "1"), host, "invalid preview link"),
        (ticket.replace("~alice~", "~bob~"), host, "invalid preview link"),
        (ticket, "other-%s.worklet.localhost:%d" % (wid, env.api_port), "invalid preview link"),
        ("", host, "no valid ticket"),
        # a login ticket is not a cookie, and the expired case below
    ]
    for tk, h, want in cases:
        code, hdrs, body = get(env, "/__worklet/login?ticket=" + urllib.parse.quote(tk),
                               host=h, headers=html)
        check(code == 401 and want in body, (tk, code, body))
        check("set-cookie" not in hdrs, hdrs)
        check(hdrs["content-type"].startswith("text/html"), hdrs)
    code, _, _ = get(env, "/", host=host, headers={"Cookie": "wl_session=" + ticket})
    check(code == 401, "a sign-in link's ticket must not work as a session")
    # An expired link (this server's links last 2 s).
    code, t, _ = env.api("POST", "/api/worklet/worklets/%s/preview" % wid)
    check(t["expires_in"] == 2, t)
    time.sleep(3.1)
    code, hdrs, body = get(env, t["url"], headers=html)
    check(code == 401 and "this preview link has expired" in body, (code, body))
    check("set-cookie" not in hdrs, hdrs)
    # Only a path of the app's own origin after sign-in.
    for nxt, where in (("/about?x=1", "/about?x=1"), ("//evil.example/", "/"),
                       ("https://evil.example/", "/"), ("/\\evil.example", "/")):
        code, t, _ = env.api("POST", "/api/worklet/worklets/%s/preview" % wid)
        code, hdrs, _ = get(env, t["url"] + "&next=" + urllib.parse.quote(nxt, safe=""))
        check(code == 302 and hdrs["location"] == where, (nxt, code, hdrs.get("location")))
    # The ticket is in no log.
    time.sleep(0.5)
    check(ticket not in env.logs(), "a preview ticket in workletd's log")


test_bad_links.settings = {"WORKLET_PREVIEW_LINK_SECONDS": "2"}


def test_trusted_proxy(env):
    """Behind a TLS-terminating proxy on 127.0.0.1 (configured as trusted):
    https preview links, Secure cookies, X-Forwarded-Proto https to the app.
    The same headers from an address that is not trusted count for nothing
    (test_untrusted_proxy)."""
    w = running_echo(env)
    wid = w["id"]
    fwd = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "worklet.localhost:8443"}
    code, t, _ = env.api("POST", "/api/worklet/worklets/%s/preview" % wid, headers=fwd)
    check(code == 200 and t["url"].startswith(
        "https://%s.worklet.localhost:8443/__worklet/login?ticket=" % wid), t)
    host = "%s.worklet.localhost:8443" % wid
    code, h, _ = get(env, t["url"], headers=fwd)
    check(code == 302 and "; Secure" in h["set-cookie"], h)
    cookie = h["set-cookie"].split(";")[0]
    code, _, body = get(env, "/echo", host=host, headers=dict(fwd, Cookie=cookie))
    seen = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
    check(seen["x-forwarded-proto"] == "https", seen)
    # The public URL says where users reach it: web_url follows.
    check(w["web_url"] == "https://%s.worklet.localhost:8443/" % wid, w["web_url"])


test_trusted_proxy.settings = {"WORKLET_TRUSTED_PROXIES": "127.0.0.1/32, ::1",
                               "WORKLET_PUBLIC_URL": "https://worklet.localhost:8443"}


def test_untrusted_proxy(env):
    w = running_echo(env)
    wid = w["id"]
    fwd = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example:1"}
    code, t, _ = env.api("POST", "/api/worklet/worklets/%s/preview" % wid, headers=fwd)
    check(t["url"].startswith("http://%s.worklet.localhost:%d/" % (wid, env.api_port)), t)
    code, h, _ = get(env, t["url"], headers=fwd)
    check(code == 302 and "secure" not in h["set-cookie"].lower(), h)
    cookie = h["set-cookie"].split(";")[0]
    code, _, body = get(env, "/echo", host="%s.worklet.localhost:%d" % (wid, env.api_port),
                        headers=dict(fwd, Cookie=cookie))
    seen = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
    check(seen["x-forwarded-proto"] == "http", seen)


test_untrusted_proxy.settings = {"WORKLET_TRUSTED_PROXIES": "10.0.0.0/8"}


def test_asset_origin_warning(env):
    """A build set to load its assets from a CDN gets a warning condition
    naming the file and the setting; fixing it clears the warning."""
    repo = env.make_repo("static", "cdn-site")
    env.commit_file(repo, "vite.config.js",
                    "export default {\n  base: 'https://cdn.example.com/site/',\n}\n")
    code, w, _ = env.api("POST", "/api/worklet/worklets", {"git_repo": repo})
    check(code == 201, w)
    env.ids.append(w["id"])
    st = env.wait(w["id"], lambda s: any(c["type"] == "AssetOrigin"
                                         for c in s.get("conditions", [])), 120, "AssetOrigin")
    c = [c for c in st["conditions"] if c["type"] == "AssetOrigin"][0]
    check(c["status"] == "False" and c["reason"] == "AssetsElsewhere", c)
    check("vite.config.js: base 'https://cdn.example.com/site/'" in c["message"], c)
    code, v, _ = env.api("GET", "/api/worklet/worklets/%s/status" % w["id"])
    check("AssetOrigin" in json.dumps(v), v)
    env.commit_file(repo, "vite.config.js", "export default {\n  base: '/',\n}\n")
    env.wait(w["id"], lambda s: any(c["type"] == "AssetOrigin" and c["status"] == "True"
                                    for c in s.get("conditions", [])), 120, "AssetOrigin=True")


def test_path_form_server(env):
    """WORKLET_HOST_ROUTING=0: web_url and the preview are the path form
    (for servers without wildcard DNS)."""
    w = running_echo(env)
    wid = w["id"]
    check(w["web_url"] == "%s/api/worklet/worklets/%s/proxy/" % (env.base_url, wid), w)
    code, t, _ = env.api("POST", "/api/worklet/worklets/%s/preview" % wid)
    check(t["url"].startswith("%s/api/worklet/worklets/%s/preview/" % (env.base_url, wid)), t)
    check(t["expires_in"] == 12 * 3600, t)
    code, _, body = get(env, t["url"] + "echo")
    check(code == 200 and json.loads(body)["path"] == "/echo", (code, body))


test_path_form_server.settings = {"WORKLET_HOST_ROUTING": "0"}


if __name__ == "__main__":
    run([test_web_url_and_sign_in, test_bad_links, test_trusted_proxy, test_untrusted_proxy,
         test_asset_origin_warning, test_path_form_server], "origin")
