"""Load clients for hack/load-test.sh and tests/e2e/test_load.py.

  load_clients.py watch PORT TOKEN SECONDS N ID [ID...]
      N WebSocket watchers spread over the one-worklet streams of the ids
      and the all-worklets stream; each reconnects every 5-15 s (churn).
  load_clients.py probe PORT TOKEN SECONDS [INTERVAL]
      a fresh connection every INTERVAL seconds (default 1) for GET /healthz
      and an authenticated GET of the worklet list, each with a 5 s limit.

Each prints one JSON line of figures. Debian's python3 (python3-websockets).
"""

import asyncio
import http.client
import json
import random
import sys
import time

import websockets


def watch_figures(port, token, seconds, n, ids):
    """Run the watchers; returns a dict of counts."""
    paths = ["/api/worklet/watch"] + ["/api/worklet/worklets/%s/watch" % i for i in ids]
    fig = {"watchers": n, "connects": 0, "connect_errors": 0, "dropped": 0,
           "messages": 0, "errors": []}

    async def one(k):
        url = "ws://127.0.0.1:%d%s" % (port, paths[k % len(paths)])
        end = time.time() + seconds
        while time.time() < end:
            stay = min(random.uniform(5, 15), max(0.0, end - time.time()))
            try:
                ws = await asyncio.wait_for(websockets.connect(
                    url, extra_headers={"Authorization": "Bearer " + token},
                    max_queue=None, open_timeout=10, ping_interval=None), 15)
            except Exception as e:  # noqa: BLE001 - every failure is counted
                fig["connect_errors"] += 1
                if len(fig["errors"]) < 5:
                    fig["errors"].append("connect: %r" % e)
                await asyncio.sleep(1)
                continue
            fig["connects"] += 1
            try:
                stop = time.time() + stay
                while True:
                    left = stop - time.time()
                    if left <= 0:
                        break
                    try:
                        await asyncio.wait_for(ws.recv(), left)
                        fig["messages"] += 1
                    except asyncio.TimeoutError:
                        break
            except websockets.ConnectionClosed as e:
                fig["dropped"] += 1
                if len(fig["errors"]) < 5:
                    fig["errors"].append("closed by the server: %r" % e)
            finally:
                await ws.close()

    async def main():
        # Open them in waves, as clients arrive in practice.
        tasks = []
        for k in range(n):
            tasks.append(asyncio.create_task(one(k)))
            if k % 50 == 49:
                await asyncio.sleep(0.2)
        await asyncio.gather(*tasks)

    asyncio.run(main())
    return fig


def probe_once(port, path, token=None, timeout=5):
    """(status or 0, seconds, error text)"""
    t0 = time.time()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.status, time.time() - t0, ""
    except (OSError, http.client.HTTPException) as e:
        return 0, time.time() - t0, repr(e)


def probe_figures(port, token, seconds, interval=1.0, limit=2.0):
    """Probe until seconds pass; a probe fails when it is not a 200 within
    limit seconds."""
    lat, fails, errors = [], 0, []
    end = time.time() + seconds
    while time.time() < end:
        t0 = time.time()
        for path, tok in (("/healthz", None), ("/api/worklet/worklets", token)):
            code, took, err = probe_once(port, path, tok)
            lat.append(took)
            if code != 200 or took > limit:
                fails += 1
                if len(errors) < 5:
                    errors.append("%s: %s in %.2f s %s" % (path, code, took, err))
        time.sleep(max(0.0, interval - (time.time() - t0)))
    lat.sort()
    return {"probes": len(lat), "failures": fails, "errors": errors,
            "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
            "max_ms": round(lat[-1] * 1000, 1) if lat else None}


if __name__ == "__main__":
    mode, port, token, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    if mode == "watch":
        out = watch_figures(port, token, seconds, int(sys.argv[5]), sys.argv[6:])
    else:
        out = probe_figures(port, token, seconds,
                            float(sys.argv[5]) if len(sys.argv) > 5 else 1.0)
    print(json.dumps(out), flush=True)
