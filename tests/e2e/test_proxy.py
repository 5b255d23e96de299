"""The reverse proxy end to end, through Docker: a fixture app that echoes
requests sees the method, path, body and forwarded headers but not our
credentials; chunked uploads, large streamed downloads, redirects and
WebSocket echo work on both the path form and the host form; a slow
client does not stall others; a worklet that is not running answers 503.

The front end (apiserver/front.c) reads request heads itself, so any
header the client sends reaches the app, in order, repeats included; a
connection can carry proxied and API requests one after the other in either
order; slow or oversized heads and smuggling shapes are refused without
holding anyone else up."""

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


class Raw:
    """One client connection spoken by hand: exact bytes out, one parsed
    response in per read_response()."""

    def __init__(self, env, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", env.api_port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed; had %r" % self.buf[:200])
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head_request=False):
        """(status, [(name, value)], body); 1xx answers are skipped."""
        while True:
            status = int(self._line().split(b" ")[1])
            headers = []
            while True:
                line = self._line()
                if not line:
                    break
                name, value = line.split(b":", 1)
                headers.append((name.decode().lower(), value.strip().decode()))
            if status >= 200:
                break
        h = dict(headers)
        if head_request or status in (101, 204, 304):
            return status, headers, b""
        if h.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    return status, headers, body
                body += self._take(size)
                self._take(2)
        if "content-length" in h:
            return status, headers, self._take(int(h["content-length"]))
        while True:  # until close
            try:
                self._fill()
            except EOFError:
                body, self.buf = self.buf, b""
                return status, headers, body

    def closed(self, wait=5):
        """True if the server closes the connection within wait seconds."""
        self.sock.settimeout(wait)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        self.sock.close()


def auth_line(env, user="alice"):
    return "Authorization: Bearer %s\r\n" % env.tokens[user]


def app_count(env, wid):
    code, _, data = raw(env, "GET", "/api/worklet/worklets/%s/proxy/count" % wid, {})
    check(code == 200, (code, data))
    return int(data)


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
    host = "%s.worklet.localhost:%d" % (wid, env.api_port)
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
                    "ws://%s.worklet.localhost:%d/ws" % (wid, env.api_port)):
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


# Request headers libwebsockets 4.1.6 does not know, some with names a
# lenient parser might mangle, one repeated: all must reach the app as sent.
CUSTOM = [
    ("X-My-App-Header", "1"),
    ("Sec-Foo", "bar"),
    ("x_under_score", "u"),
    ("X-Weird!#$%&'*+.^`|~", "every token character"),
    ("A", "one letter"),
    ("X-Repeat", "one"),
    ("X-Long-" + "n" * 200, "a long name"),
    ("X-Repeat", "two"),
    ("x-EMPTY", ""),
    ("X-Spaces", 'a = b;  c="d, e"'),
]


def pairs_of(raw_headers):
    return list(zip(raw_headers[0::2], raw_headers[1::2]))


def test_any_request_header_reaches_the_app(env):
    wid = running_echo(env)
    host = "%s.worklet.localhost:%d" % (wid, env.api_port)
    lines = "".join("%s: %s\r\n" % kv for kv in CUSTOM)
    for path, host_header in (("/api/worklet/worklets/%s/proxy/echo/x" % wid, "127.0.0.1"),
                              ("/echo/x", host)):
        c = Raw(env)
        # Our credentials, and forwarding headers a client must not forge.
        c.send("GET %s HTTP/1.1\r\nHost: %s\r\n%sX-User-ID: mallory\r\n"
               "Cookie: wl_session=secret; theirs=1\r\nX-Forwarded-For: 6.6.6.6\r\n"
               "X-Forwarded-Host: evil.example\r\nX-Forwarded-Prefix: /evil\r\n%s\r\n"
               % (path, host_header, auth_line(env), lines))
        status, _, body = c.read_response()
        c.close()
        check(status == 200, (path, status, body[:300]))
        echo = json.loads(body)
        check(echo["path"] == "/echo/x", echo["path"])
        pairs = pairs_of(echo["rawHeaders"])
        got = [kv for kv in pairs if kv in CUSTOM]
        check(got == CUSTOM, "custom headers changed on the way:\n%s\nvs\n%s" % (got, CUSTOM))
        lower = [(n.lower(), v) for n, v in pairs]
        names = [n for n, _ in lower]
        check("authorization" not in names and "x-user-id" not in names,
              "credentials reached the app: %s" % lower)
        check(dict(lower).get("cookie") == "theirs=1", lower)
        check([v for n, v in lower if n == "x-forwarded-for"] == ["127.0.0.1"], lower)
        check([v for n, v in lower if n == "x-forwarded-host"] == [host_header], lower)
        prefixes = [v for n, v in lower if n == "x-forwarded-prefix"]
        check(prefixes == ([] if host_header == host else
                           ["/api/worklet/worklets/%s/proxy" % wid]), prefixes)
        check("secret" not in body.decode() and "mallory" not in body.decode(), body)


def test_keepalive_connection_carries_many_requests(env):
    wid = running_echo(env)
    prefix = "/api/worklet/worklets/%s/proxy" % wid
    host = "%s.worklet.localhost:%d" % (wid, env.api_port)
    # A browser on the app's own origin: one connection, many requests,
    # each with its custom headers; then curl-like calls to the path form.
    for base, host_header in (("", host), (prefix, "127.0.0.1")):
        c = Raw(env)
        conns = set()
        for i in range(6):
            c.send("GET %s/echo/%d HTTP/1.1\r\nHost: %s\r\n%sX-Seq: %d\r\n\r\n"
                   % (base, i, host_header, auth_line(env), i))
            status, _, body = c.read_response()
            check(status == 200, (status, body[:200]))
            echo = json.loads(body)
            check(echo["path"] == "/echo/%d" % i, echo)
            check(("X-Seq", str(i)) in pairs_of(echo["rawHeaders"]), echo["rawHeaders"])
            conns.add(echo["conn"])
        # Bodies of every framing keep the requests in step.
        c.send("POST %s/echo/len HTTP/1.1\r\nHost: %s\r\n%sContent-Length: 5\r\n\r\nhello"
               % (base, host_header, auth_line(env)))
        status, _, body = c.read_response()
        check(status == 200 and json.loads(body)["body"] == "hello", body[:200])
        c.send("PUT %s/echo/chunked HTTP/1.1\r\nHost: %s\r\n%sTransfer-Encoding: chunked\r\n\r\n"
               "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n"
               % (base, host_header, auth_line(env)))
        status, _, body = c.read_response()
        check(status == 200 and json.loads(body)["body"] == "abcdefg", body[:200])
        # Expect: 100-continue gets its interim answer before the body goes.
        c.send("POST %s/echo/expect HTTP/1.1\r\nHost: %s\r\n%sContent-Length: 4\r\n"
               "Expect: 100-continue\r\n\r\n" % (base, host_header, auth_line(env)))
        check(c._line().startswith(b"HTTP/1.1 100"), c.buf[:100])
        check(c._line() == b"", c.buf[:100])
        c.send("body")
        status, _, body = c.read_response()
        check(status == 200 and json.loads(body)["body"] == "body", body[:200])
        # A chunked response, a HEAD, then three pipelined requests.
        c.send("GET %s/chunked HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (base, host_header, auth_line(env)))
        status, headers, body = c.read_response()
        check(status == 200 and body == b"one two three", (status, body))
        c.send("HEAD %s/big?mb=1 HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (base, host_header, auth_line(env)))
        status, headers, _ = c.read_response(head_request=True)
        check(status == 200 and dict(headers).get("content-length") == "1048576", headers)
        c.send("".join("GET %s/echo/p%d HTTP/1.1\r\nHost: %s\r\n%s\r\n"
                       % (base, i, host_header, auth_line(env)) for i in range(3)))
        for i in range(3):
            status, _, body = c.read_response()
            check(status == 200 and json.loads(body)["path"] == "/echo/p%d" % i, body[:200])
        c.close()
    # An HTTP/1.0 client gets a body it can read to the close.
    c = Raw(env)
    c.send("GET %s/chunked HTTP/1.0\r\nHost: x\r\n%s\r\n" % (prefix, auth_line(env)))
    status, headers, body = c.read_response()
    check(status == 200 and body == b"one two three", (status, headers, body))
    c.close()


def test_keepalive_mixes_api_and_proxy_requests(env):
    wid = running_echo(env)
    prefix = "/api/worklet/worklets/%s/proxy" % wid
    bad_create = '{"git_repo": ""}'
    # Proxy first: ours; then the API on the same connection (handed to
    # libwebsockets, a request with a body among them); then the proxy again.
    c = Raw(env)
    c.send("GET %s/echo/1 HTTP/1.1\r\nHost: x\r\n%sX-My-App-Header: 1\r\n\r\n"
           % (prefix, auth_line(env)))
    status, _, body = c.read_response()
    check(status == 200 and ("X-My-App-Header", "1") in pairs_of(json.loads(body)["rawHeaders"]),
          body[:300])
    c.send("GET /api/worklet/worklets/%s HTTP/1.1\r\nHost: x\r\n%s\r\n" % (wid, auth_line(env)))
    status, _, body = c.read_response()
    check(status == 200 and json.loads(body)["id"] == wid, (status, body[:300]))
    c.send("POST /api/worklet/worklets HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
           "Content-Length: %d\r\n\r\n%s" % (auth_line(env), len(bad_create), bad_create))
    status, _, body = c.read_response()
    check(status == 400 and b"git_repo" in body, (status, body[:300]))
    c.send("GET %s/echo/2 HTTP/1.1\r\nHost: x\r\n%sX-Requested-With: kept\r\n\r\n"
           % (prefix, auth_line(env)))
    status, _, body = c.read_response()
    echo = json.loads(body)
    check(status == 200 and echo["path"] == "/echo/2", (status, body[:300]))
    # (lws owns this connection now: its bridge forwards the headers it knows.)
    check(echo["headers"].get("x-requested-with") == "kept", echo["headers"])
    check("authorization" not in echo["headers"], echo["headers"])
    c.close()
    # The API first (a request with a body, straight to libwebsockets), then
    # the proxy, then the API again.
    c = Raw(env)
    c.send("POST /api/worklet/worklets HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
           "Content-Length: %d\r\n\r\n%s" % (auth_line(env), len(bad_create), bad_create))
    status, _, body = c.read_response()
    check(status == 400 and b"git_repo" in body, (status, body[:300]))
    c.send("GET %s/echo/3 HTTP/1.1\r\nHost: x\r\n%s\r\n" % (prefix, auth_line(env)))
    status, _, body = c.read_response()
    check(status == 200 and json.loads(body)["path"] == "/echo/3", (status, body[:300]))
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    status, _, body = c.read_response()
    check(status == 200 and body == b"ok\n", (status, body))
    c.close()
    # A proxy request pipelined behind an API request, and the reverse.
    c = Raw(env)
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET %s/echo/4 HTTP/1.1\r\nHost: x\r\n%s\r\n"
           % (prefix, auth_line(env)))
    check(c.read_response()[0] == 200, "healthz")
    status, _, body = c.read_response()
    check(status == 200 and json.loads(body)["path"] == "/echo/4", (status, body[:300]))
    c.close()
    c = Raw(env)
    c.send("GET %s/echo/5 HTTP/1.1\r\nHost: x\r\n%s\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
           % (prefix, auth_line(env)))
    status, _, body = c.read_response()
    check(status == 200 and json.loads(body)["path"] == "/echo/5", (status, body[:300]))
    status, _, body = c.read_response()
    check(status == 200 and body == b"ok\n", (status, body))
    c.close()


def test_websocket_upgrade_carries_custom_headers(env):
    wid = running_echo(env)
    token = env.tokens["alice"]
    custom = {"X-My-App-Header": "ws", "Sec-Foo": "bar", "X-Weird!#$%&'*+.^`|~": "t"}

    async def one(url, headers, subprotocols, want_subprotocol):
        sock = socket.create_connection(("127.0.0.1", env.api_port))
        async with websockets.connect(url, extra_headers=headers, sock=sock,
                                      subprotocols=subprotocols) as ws:
            check(ws.subprotocol == want_subprotocol, (url, ws.subprotocol))
            await ws.send("headers?")
            pairs = pairs_of(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            for kv in custom.items():
                check(kv in pairs, (url, kv, pairs))
            names = [n.lower() for n, _ in pairs]
            check("authorization" not in names and token not in json.dumps(pairs),
                  "credentials reached the app: %s" % pairs)
            protos = [v for n, v in pairs if n.lower() == "sec-websocket-protocol"]
            check(protos == (["chat"] if "chat" in (subprotocols or []) else []), protos)
            await ws.send("hello")
            check(await asyncio.wait_for(ws.recv(), 10) == "hello", url)

    async def main():
        for url in ("ws://127.0.0.1:%d/api/worklet/worklets/%s/proxy/ws" % (env.api_port, wid),
                    "ws://%s.worklet.localhost:%d/ws" % (wid, env.api_port)):
            # A client that can set headers.
            await one(url, dict(custom, Authorization="Bearer " + token), None, None)
            # A browser: the token as a subprotocol, which the app never sees.
            await one(url, custom, ["chat", "bearer." + token], "chat")
            await one(url, custom, ["bearer." + token], "bearer." + token)
    asyncio.run(main())


def test_slow_heads_do_not_block_others(env):
    wid = running_echo(env)
    prefix = "/api/worklet/worklets/%s/proxy" % wid
    t_start = time.time()
    # Connections that send half a head and then a byte a second, and
    # connections that say nothing at all.
    slow = []
    for _ in range(100):
        s = socket.create_connection(("127.0.0.1", env.api_port), timeout=30)
        s.sendall(("GET %s/echo HTTP/1.1\r\nHost: x\r\nX-Slow: " % prefix).encode())
        slow.append(s)
    silent = [socket.create_connection(("127.0.0.1", env.api_port)) for _ in range(50)]
    t0 = time.time()
    for i in range(20):
        code, _, data = raw(env, "GET", prefix + "/echo/fast", {})
        check(code == 200, (code, data[:200]))
        code, _, data = raw(env, "GET", "/api/worklet/worklets/%s" % wid, {})
        check(code == 200, (code, data[:200]))
        if i % 5 == 0:
            for s in slow:
                s.sendall(b"a")
    elapsed = time.time() - t0
    check(elapsed < 10, "40 requests took %.1fs beside 150 stalled connections" % elapsed)
    # A head has 20 s from the connection's start, however it trickles in.
    while time.time() - t_start < 23:
        for s in slow[:10]:
            try:
                s.sendall(b"a")
            except OSError:
                pass
        time.sleep(1)
    for s in slow[:10] + silent[:10]:
        s.settimeout(3)
        try:
            gone = s.recv(100) == b""
        except (ConnectionResetError, BrokenPipeError):
            gone = True
        except socket.timeout:
            gone = False
        check(gone, "a connection without a complete head was kept over 20 s")
    for s in slow + silent:
        s.close()


def test_oversized_head_answers_431(env):
    wid = running_echo(env)
    before = app_count(env, wid)
    for path in ("/api/worklet/worklets/%s/proxy/echo" % wid, "/api/worklet/worklets"):
        c = Raw(env)
        c.send("GET %s HTTP/1.1\r\nHost: x\r\n%sX-Big: %s\r\n\r\n"
               % (path, auth_line(env), "a" * (70 * 1024)))
        status, _, body = c.read_response()
        check(status == 431, (path, status, body[:200]))
        check(c.closed(), "the connection stayed open after a 431")
        c.close()
    check(app_count(env, wid) == before + 1, "an oversized head reached the app")
    code, _, _ = raw(env, "GET", "/api/worklet/worklets/%s/proxy/echo" % wid, {})
    check(code == 200, code)


def test_smuggling_shapes_answer_400(env):
    wid = running_echo(env)
    prefix = "/api/worklet/worklets/%s/proxy" % wid
    host = "%s.worklet.localhost:%d" % (wid, env.api_port)
    cases = [
        ("POST %s/echo HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 4\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % prefix, 400),
        ("POST /echo HTTP/1.1\r\nHost: %s\r\n{auth}Transfer-Encoding: chunked\r\n"
         "Content-Length: 4\r\n\r\n0\r\n\r\n" % host, 400),
        ("POST %s/echo HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 5\r\n"
         "Content-Length: 6\r\n\r\nhello!" % prefix, 400),
        ("POST %s/echo HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % prefix, 400),
        ("POST %s/echo HTTP/1.1\r\nHost: x\r\n{auth}Content-Length: 1x\r\n\r\nx" % prefix, 400),
        ("POST %s/echo HTTP/1.0\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\n"
         "0\r\n\r\n" % prefix, 400),
        ("GET %s/echo HTTP/1.1\r\nHost: x\r\nHost: y\r\n{auth}\r\n" % prefix, 400),
        ("POST %s/echo HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: gzip, chunked\r\n\r\n"
         "0\r\n\r\n" % prefix, 501),
        ("POST %s/echo HTTP/1.1\r\nHost: x\r\n{auth}Transfer-Encoding: chunked\r\n\r\n"
         "zz\r\nGET /count HTTP/1.1\r\n\r\n" % prefix, 400),
    ]
    before = app_count(env, wid)
    for req, want in cases:
        c = Raw(env)
        c.send(req.replace("{auth}", auth_line(env)))
        status, _, body = c.read_response()
        check(status == want, (req[:60], status, body[:200]))
        check(c.closed(), "the connection stayed open after %d: %r" % (status, req[:60]))
        c.close()
    # At most the head of the malformed chunked body's request got to the
    # app (it may already be on its way when the body turns out bad), and
    # nothing after it on that connection did.
    check(app_count(env, wid) in (before + 1, before + 2), "a smuggling shape reached the app")


if __name__ == "__main__":
    run([test_requests_are_forwarded_faithfully, test_bodies_redirects_and_smuggling,
         test_websocket_echo_through_both_forms, test_slow_client_does_not_stall_others,
         test_not_running_answers_503, test_any_request_header_reaches_the_app,
         test_keepalive_connection_carries_many_requests,
         test_keepalive_mixes_api_and_proxy_requests,
         test_websocket_upgrade_carries_custom_headers, test_slow_heads_do_not_block_others,
         test_oversized_head_answers_431, test_smuggling_shapes_answer_400], "proxy")
