#!/usr/bin/env python3
"""A REAL dockerd restart under a running workletd (hack/dockerd-restart-test.sh
runs it; it stops the shared dockerd, so only when nobody else uses Docker).

Round 1: two apps run (static, node) and a third worklet (go, a fresh
source file) is building when dockerd is stopped (SIGTERM) and started again
by hack/setup.sh. Round 2: the same with only the apps running. Without
live-restore dockerd's shutdown stops every container; with it they keep
running. Either way every worklet must come back to running, serving through
the proxy, with exactly one container and nothing else of this instance.
Prints the figures (dockerd down time, recovery time per round).

--gate: a rehearsal that leaves dockerd alone: workletd talks to Docker
through tests/e2e/docker_gate.py and the "restart" is that gate going down
for 3 s (containers keep running, as with live-restore).
"""

import json
import os
import subprocess
import sys
import time
import urllib.parse

from wltest import SOURCE_DIR, Env, Failure, check, docker

INSTANCE = "dockerd-restart-%d" % os.getpid()
W = "/api/worklet/worklets"


def ours():
    q = urllib.parse.quote(json.dumps({"label": ["worklet.instance=" + INSTANCE]}))
    return docker("GET", "/containers/json?all=1&filters=" + q)[1] or []


def dockerd_pid():
    out = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def restart_dockerd():
    """SIGTERM dockerd, wait for it to exit, start it with hack/setup.sh.
    Returns (seconds to stop, seconds until it answers again)."""
    pids = dockerd_pid()
    check(len(pids) == 1, "expected one dockerd, found %s" % pids)
    t0 = time.time()
    os.kill(pids[0], 15)
    while os.path.exists("/proc/%d" % pids[0]):
        if time.time() - t0 > 90:
            raise Failure("dockerd did not stop within 90 s")
        time.sleep(0.1)
    stopped = time.time() - t0
    subprocess.run([os.path.join(SOURCE_DIR, "hack", "setup.sh")], check=True,
                   stdout=subprocess.DEVNULL)
    return stopped, time.time() - t0


class GateRestart:
    def __init__(self):
        from docker_gate import DockerGate
        self.gate = DockerGate().start()

    def __call__(self):
        t0 = time.time()
        self.gate.down()
        time.sleep(3)
        self.gate.up()
        return 0.0, time.time() - t0


def live_restore():
    _, info = docker("GET", "/info")
    return bool(info.get("LiveRestoreEnabled"))


def create(env, fixture, nonce=False):
    repo = env.make_repo(fixture, "%s-%d" % (fixture, len(env.ids)))
    if nonce:
        env.commit_file(repo, "nonce-%d.txt" % time.time(), str(time.time()))
    code, w, _ = env.api("POST", W, {"name": "restart", "git_repo": repo})
    check(code == 201, (code, w))
    env.ids.append(w["id"])
    return w["id"]


def converge(env, ids, timeout=300):
    t0 = time.time()
    for wid in ids:
        env.wait(wid, lambda s: s.get("phase") == "running" and
                 s.get("servingCommit") == s.get("commit"), timeout, "running")
    for wid in ids:
        env.wait(wid, lambda s, w=wid: len([c for c in ours()
                                            if c["Labels"].get("worklet.id") == w]) == 1,
                 60, "one container")
        deadline = time.time() + 60
        while True:
            code, body, _ = env.api("GET", "%s/%s/proxy/" % (W, wid))
            if code == 200:
                break
            if time.time() > deadline:
                raise Failure("%s does not serve: %s %r" % (wid, code, body))
            time.sleep(0.5)
    strays = [c["Names"] for c in ours() if c["Labels"].get("worklet.id") not in ids]
    check(not strays, "strays: %s" % strays)
    running = [c for c in ours() if c["State"] == "running"]
    check(len(running) == len(ids), "%d of %d containers run" % (len(running), len(ids)))
    return time.time() - t0


def main():
    restart = restart_dockerd
    settings = {"WORKLET_INSTANCE": INSTANCE}
    if "--gate" in sys.argv[1:]:
        restart = GateRestart()
        settings["DOCKER_HOST"] = restart.gate.host
    env = Env("dockerd-restart", **settings)
    ok = False
    try:
        env.start()
        env.wait_api()
        print("live-restore: %s" % live_restore(), flush=True)
        apps = [create(env, "static"), create(env, "node")]
        for wid in apps:
            env.wait_phase(wid, "running", 300)
        building = create(env, "go", nonce=True)
        env.wait_phase(building, "building", 120)
        time.sleep(1)
        before = {c["Id"] for c in ours()}
        stop_s, back_s = restart()
        print("round 1 (mid-build, apps running): dockerd stopped in %.1fs, answering "
              "again after %.1fs" % (stop_s, back_s), flush=True)
        rec = converge(env, apps + [building])
        kept = len(before & {c["Id"] for c in ours()})
        print("round 1: all 3 running and serving %.1fs after dockerd answered; "
              "%d of %d old containers kept" % (rec, kept, len(before)), flush=True)
        before = {c["Id"] for c in ours()}
        stop_s, back_s = restart()
        print("round 2 (apps running): dockerd stopped in %.1fs, answering again after "
              "%.1fs" % (stop_s, back_s), flush=True)
        rec = converge(env, apps + [building])
        kept = len(before & {c["Id"] for c in ours()})
        print("round 2: all 3 running and serving %.1fs after dockerd answered; "
              "%d of %d old containers kept" % (rec, kept, len(before)), flush=True)
        check(env.proc.poll() is None, "workletd exited")
        ok = True
    except Exception as e:  # noqa: BLE001 - reported with the log
        print("FAIL: %s" % e)
        print("\n".join(l for l in env.logs().splitlines()[-300:] if " debug " not in l)[-6000:])
    finally:
        env.cleanup()
        if isinstance(restart, GateRestart):
            restart.gate.stop()
    print("dockerd restart test: %s" % ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
