"""WebSocket status streams against the running service: a watcher sees
creating -> building -> deploying -> running in order, a reconnect with the
last event id gets what it missed, other users cannot watch, and browsers
can authenticate with a subprotocol."""

import asyncio
import json
import time

import websockets

from wltest import check, run

ORDER = ["creating", "building", "deploying", "running"]


def ws_url(env, path):
    return "ws://127.0.0.1:%d%s" % (env.api_port, path)


async def collect(ws, until, timeout=300):
    """Read events until until(events) is true."""
    events = []
    deadline = time.time() + timeout
    while not until(events):
        left = deadline - time.time()
        if left <= 0:
            raise AssertionError("timed out; got %s" % events)
        events.append(json.loads(await asyncio.wait_for(ws.recv(), left)))
    return events


def phases(events, wid):
    return [e["phase"] for e in events if e.get("type") == "phase" and e["worklet_id"] == wid]


def test_watcher_sees_every_phase_in_order(env):
    async def main():
        headers = {"Authorization": "Bearer " + env.tokens["alice"]}
        async with websockets.connect(ws_url(env, "/api/worklet/watch"),
                                      extra_headers=headers) as ws:
            hello = json.loads(await ws.recv())
            check(hello["type"] == "hello", hello)
            got, w, _ = env.api("POST", "/api/worklet/worklets",
                                {"git_repo": env.make_repo("node")})
            check(got == 201, w)
            wid = w["id"]
            env.ids.append(wid)
            events = await collect(ws, lambda ev: "running" in phases(ev, wid))
            seen = phases(events, wid)
            # Every phase, in order, each once (no phase skipped or repeated).
            check(seen == ORDER, seen)
            ids = [e["id"] for e in events]
            check(ids == sorted(ids) and len(set(ids)) == len(ids), ids)
            return wid, events
    wid, events = asyncio.run(main())

    # Reconnect from the middle: the missed events come again, in order.
    mid = [e for e in events if e.get("type") == "phase"][1]["id"]

    async def replay():
        async with websockets.connect(
                ws_url(env, "/api/worklet/worklets/%s/watch?since=%d" % (wid, mid - 1)),
                extra_headers={"Authorization": "Bearer " + env.tokens["alice"]}) as ws:
            again = await collect(ws, lambda ev: "running" in phases(ev, wid), 30)
            check(phases(again, wid) == ORDER[1:], phases(again, wid))
    asyncio.run(replay())


def test_other_users_cannot_watch(env):
    got, w, _ = env.api("POST", "/api/worklet/worklets", {"git_repo": env.make_repo("static")})
    wid = w["id"]
    env.ids.append(wid)

    async def main():
        # Bob cannot open Alice's worklet stream at all...
        try:
            async with websockets.connect(
                    ws_url(env, "/api/worklet/worklets/%s/watch" % wid),
                    extra_headers={"Authorization": "Bearer " + env.tokens["bob"]}):
                raise AssertionError("bob watched alice's worklet")
        except websockets.exceptions.InvalidStatusCode as e:
            check(e.status_code in (403, 404), e.status_code)
        # ...nor does anyone without credentials.
        try:
            async with websockets.connect(ws_url(env, "/api/worklet/watch")):
                raise AssertionError("anonymous watch accepted")
        except websockets.exceptions.InvalidStatusCode as e:
            check(e.status_code in (401, 403), e.status_code)
        # Bob's all-worklets stream never shows Alice's events; a browser
        # that can only offer subprotocols authenticates with one.
        async with websockets.connect(
                ws_url(env, "/api/worklet/watch?since=0"),
                subprotocols=["worklet", "bearer." + env.tokens["bob"]]) as ws:
            check(ws.subprotocol == "worklet", ws.subprotocol)
            hello = json.loads(await ws.recv())
            check(hello["type"] in ("hello", "resync"), hello)
            env.wait_phase(wid, "running", 300)
            try:
                while True:
                    ev = json.loads(await asyncio.wait_for(ws.recv(), 2))
                    check(ev.get("worklet_id") != wid, "bob saw %s" % ev)
            except asyncio.TimeoutError:
                pass
    asyncio.run(main())


def test_log_lines_of_build_and_app(env):
    got, w, _ = env.api("POST", "/api/worklet/worklets", {"git_repo": env.make_repo("crash")})
    wid = w["id"]
    env.ids.append(wid)

    async def main():
        async with websockets.connect(
                ws_url(env, "/api/worklet/worklets/%s/watch?logs=1" % wid),
                extra_headers={"Authorization": "Bearer " + env.tokens["alice"]}) as ws:
            events = await collect(ws, lambda ev: "running" in phases(ev, wid))
            build = [e["line"] for e in events if e.get("type") == "log"
                     and e.get("stream") == "build"]
            check(any("Step" in line for line in build), "no build lines: %s" % events)
            st = env.status(wid)
            # The app writes a line when asked to crash: it arrives as an app line.
            import urllib.request
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/crash" % st["port"], timeout=5)
            except OSError:
                pass
            events = await collect(ws, lambda ev: any(
                e.get("type") == "log" and e.get("stream") == "app"
                and "crash requested" in e["line"] for e in ev), 30)
            # The crash is seen as a phase change too.
            await collect(ws, lambda ev: any(e.get("type") in ("phase", "condition")
                                             for e in ev), 30)
    asyncio.run(main())


if __name__ == "__main__":
    run([test_watcher_sees_every_phase_in_order, test_other_users_cannot_watch,
         test_log_lines_of_build_and_app], "watch")
