"""The reverse proxy end to end, through Docker: a fixture app that echoes
requests sees the method, path, body and forwarded headers but not our
credentials; chunked uploads, large streamed downloads, redirects and
WebSocket echo work on both the path form and the host form; a slow
client does not stall others; a worklet that is not running answers 503."""

import asyncio
import http.client
import json
import socket
import threading
import time

import websockets

from wltest import check, run


def running_echo(env):
    got, w, _ = env.api("POST", "/api/worklet/worklets", {"git_repo": env.make_repo("echo")})
    check(got == 201, w)
    wid = w["id"]
    env.ids.append(wid)
    env.wait_phase(wid, "running", 300)
    return wid


def raw(env, method, path, headers, body=b"", host=None):
    h = {"Authorization": "Bearer " + env.tokens["alice"]}
    if host:
        h["Host"] = host
    h.update(headers)
    conn = http.client.HTTPConnection("127.0.0.1", env.api_port, timeout=60)
    conn.request(method, path, body=body, headers=h,
                 encode_chunked=h.get("Transfer-Encoding") == "chunked")
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), data


def test_requests_are_forwarded_faithfully(env):
    wid = running_echo(env)
    prefix = "/api/worklet/worklets/%s/proxy" % wid
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        body = b'{"n": 1}' if method in ("POST", "PUT", "PATCH") else b""
        code, headers, data = raw(env, method, prefix + "/echo?a=1&b=two",
                                  {"Cookie": "wl_session=secret; theirs=1",
                                   "X-Requested-With": "kept",
                                   "Content-Type": "application/json"},
                                  body)
        check(code == 200, (method, code, data[:200]))
        echo = json.loads(data)
        check(echo["method"] == method, echo)
        check(echo["path"] == "/echo?a=1&b=two", echo["path"])
        check(echo["body"] == body.decode(), echo)
        h = {k.lower(): v for k, v in echo["headers"].items()}
        check("authorization" not in h, "credentials reached the app: %s" % h)
        check("wl_session" not in h.get("cookie", ""), h.get("cookie"))
        check(h.get("x-requested-with") == "kept", h)
        check(h.get("x-forwarded-for") == "127.0.0.1", h)
        check(h.get("x-forwarded-proto") == "http", h)
        check(h.get("x-forwarded-prefix") == prefix, h)
        check(h.get("x-forwarded-host", "").startswith("127.0.0.1"), h)
    # The host form: the app runs at / on its own origin.
    host = "%s.localhost:%d" % (wid, env.api_port)
    code, _, data = raw(env, "GET", "/echo", {}, host=host)
    echo = json.loads(data)
    check(code == 200 and echo["path"] == "/echo", echo)
    # The app's own response headers come back untouched: no policy of ours.
    code, headers, _ = raw(env, "GET", "/echo", {}, host=host)
    check("content-security-policy" not in headers, headers)
    check("x-forwarded-prefix" not in {k.lower() for k in echo["headers"]}, echo)


def test_bodies_redirects_and_smuggling(env):
    wid = running_echo(env)
    prefix = "/api/worklet/worklets/%s/proxy" % wid
    # Chunked upload arrives whole.
    chunks = [b"x" * 1000 for _ in range(300)]
    code, _, data = raw(env, "POST", prefix + "/echo", {"Transfer-Encoding": "chunked"},
                        iter(chunks))
    check(code == 200 and len(json.loads(data)["body"]) == 300000, (code, data[:200]))
    # A 64 MB streamed download arrives whole.
    code, headers, data = raw(env, "GET", prefix + "/big?mb=64", {})
    check(code == 200 and len(data) == 64 << 20, (code, len(data)))
    # A chunked response.
    code, _, data = raw(env, "GET", prefix + "/chunked", {})
    check(code == 200 and data, (code, data))
    # Redirects stay under the prefix.
    code, headers, _ = raw(env, "GET", prefix + "/redirect", {})
    check(code == 302 and headers["location"] == prefix + "/login", headers)
    # Both Content-Length and Transfer-Encoding: refused, the app never sees it.
    s = socket.create_connection(("127.0.0.1", env.api_port), timeout=10)
    s.sendall(("POST %s/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
               "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
               % (prefix, env.tokens["alice"])).encode())
    reply = s.recv(4096)
    s.close()
    check(reply.startswith(b"HTTP/1.1 400"), reply[:200])


def test_websocket_echo_through_both_forms(env):
    wid = running_echo(env)
    auth = {"Authorization": "Bearer " + env.tokens["alice"]}

    async def main():
        for url in ("ws://127.0.0.1:%d/api/worklet/worklets/%s/proxy/ws" % (env.api_port, wid),
                    "ws://%s.localhost:%d/ws" % (wid, env.api_port)):
            # *.localhost is the loopback; connect there whatever the resolver says.
            sock = socket.create_connection(("127.0.0.1", env.api_port))
            async with websockets.connect(url, extra_headers=auth, sock=sock) as ws:
                await ws.send("hello")
                check(await asyncio.wait_for(ws.recv(), 10) == "hello", url)
                await ws.send(b"\x00\x01binary")
                check(await asyncio.wait_for(ws.recv(), 10) == b"\x00\x01binary", url)
    asyncio.run(main())


def test_slow_client_does_not_stall_others(env):
    wid = running_echo(env)
    prefix = "/api/worklet/worklets/%s/proxy" % wid
    # A client that asks for 256 MB and never reads.
    slow = socket.create_connection(("127.0.0.1", env.api_port), timeout=10)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(("GET %s/big?mb=256 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                  % (prefix, env.tokens["alice"])).encode())
    time.sleep(1)
    # Others are served promptly meanwhile.
    t0 = time.time()
    for _ in range(50):
        code, _, data = raw(env, "GET", prefix + "/echo", {})
        check(code == 200, code)
    check(time.time() - t0 < 10, "50 requests took %.1fs beside a slow client" % (time.time() - t0))
    slow.close()


def test_not_running_answers_503(env):
    wid = running_echo(env)
    got, _, _ = env.api("POST", "/api/worklet/worklets/%s/stop" % wid)
    env.wait_phase(wid, "stopped", 60)
    code, _, data = raw(env, "GET", "/api/worklet/worklets/%s/proxy/" % wid, {})
    check(code == 503 and b"stopped" in data, (code, data))


if __name__ == "__main__":
    run([test_requests_are_forwarded_faithfully, test_bodies_redirects_and_smuggling,
         test_websocket_echo_through_both_forms, test_slow_client_does_not_stall_others,
         test_not_running_answers_503], "proxy")
