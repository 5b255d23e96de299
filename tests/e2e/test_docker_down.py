"""Docker unreachable, through a forwarder workletd's DOCKER_HOST points at
(tests/e2e/docker_gate.py; the shared dockerd is never touched): started
with Docker down, the API answers and every worklet's status names the
cause (DockerReachable=False, lastError) until Docker is back, then they
run; Docker lost in the middle of a build, or while apps run, or its
connections cut: the worklets recover, with one container each and no
strays, and running apps keep serving through the outage."""

import json
import os
import time
import urllib.parse

from docker_gate import DockerGate
from wltest import check, containers, docker, run

GATE = DockerGate().start()
INSTANCE = "gate-%d" % os.getpid()
SETTINGS = {"DOCKER_HOST": GATE.host, "WORKLET_INSTANCE": INSTANCE}
W = "/api/worklet/worklets"


def condition(st, kind):
    for c in st.get("conditions") or []:
        if c["type"] == kind:
            return c
    return {}


def docker_down(st):
    c = condition(st, "DockerReachable")
    return c.get("status") == "False" and "cannot reach Docker" in (c.get("message") or "")


def docker_back(st):
    return condition(st, "DockerReachable").get("status") == "True" and \
        not st.get("lastError")


def create(env, fixture="static", nonce=False):
    repo = env.make_repo(fixture, "%s-%d" % (fixture, len(env.ids)))
    if nonce:  # a fresh file: the build cannot come from the cache
        env.commit_file(repo, "nonce.txt", str(time.time()))
    code, w, _ = env.api("POST", W, {"name": "gate", "git_repo": repo})
    check(code == 201, (code, w))
    env.ids.append(w["id"])
    return w["id"]


def ours():
    """Every container of this test's service instance (other engineers'
    containers on the shared daemon are not ours to judge)."""
    q = urllib.parse.quote(json.dumps({"label": ["worklet.instance=" + INSTANCE]}))
    return docker("GET", "/containers/json?all=1&filters=" + q)[1] or []


def one_container_each(env, ids):
    for wid in ids:
        env.wait(wid, lambda s, w=wid: len(containers(w)) == 1, 30, "one container")
        cs = containers(wid)
        check(cs[0]["State"] == "running", cs)


def test_down_at_start(env):
    env.stop()
    GATE.down()
    try:
        env.start()
        env.wait_api()
        a = create(env)
        b = create(env, "python")
        # The API answers, and says why nothing moves.
        for wid in (a, b):
            st = env.wait(wid, docker_down, 30, "DockerReachable=False")
            check("cannot reach Docker" in st.get("lastError", ""), st)
            code, w, _ = env.api("GET", "%s/%s" % (W, wid))
            check(code == 200 and "cannot reach Docker" in (w["last_error"] or ""), w)
        check(env.api("GET", "/healthz", user=None)[0] == 200, "healthz")
        check(env.api("GET", W)[0] == 200, "list")
        time.sleep(3)
        check(env.proc.poll() is None, "workletd exited")
    finally:
        GATE.up()
    t0 = time.time()
    for wid in (a, b):
        env.wait(wid, lambda s: s.get("phase") == "running" and docker_back(s), 90,
                 "running with Docker back")
    print("  running %.1fs after Docker came back" % (time.time() - t0))
    one_container_each(env, (a, b))
    check(len(ours()) == 2, "strays: %r" % [c["Names"] for c in ours()])


test_down_at_start.settings = SETTINGS


def test_lost_during_build(env):
    wid = create(env, "go", nonce=True)
    env.wait_phase(wid, "building", 120)
    time.sleep(1)
    GATE.down()  # the build stream is cut, new connections refused
    try:
        env.wait(wid, docker_down, 30, "DockerReachable=False")
        check(env.proc.poll() is None, "workletd exited")
    finally:
        GATE.up()
    st = env.wait(wid, lambda s: s.get("phase") == "running" and docker_back(s), 300,
                  "running after the build was cut")
    check(st["servingCommit"] == st["commit"], st)
    one_container_each(env, [wid])
    strays = [c for c in ours() if c["Labels"].get("worklet.id") != wid]
    check(not strays, "stray containers: %s" % [(c["Names"], c["Image"]) for c in strays])


test_lost_during_build.settings = SETTINGS


def test_lost_while_running(env):
    ids = [create(env), create(env, "node")]
    sts = {wid: env.wait_phase(wid, "running", 240) for wid in ids}
    before = {wid: [c["Id"] for c in containers(wid)] for wid in ids}
    GATE.down()
    try:
        for wid in ids:
            env.wait(wid, docker_down, 30, "DockerReachable=False")
            # The app does not need Docker to serve: the proxy still works.
            code, body, _ = env.api("GET", "%s/%s/proxy/" % (W, wid))
            check(code == 200, (wid, code, body))
    finally:
        GATE.up()
    for wid in ids:
        env.wait(wid, lambda s: s.get("phase") == "running" and docker_back(s), 60,
                 "running with Docker back")
    # Cut every connection (the events stream too) and change something:
    # the controller reconnects and still acts.
    GATE.cut()
    code, _, _ = env.api("POST", "%s/%s/restart" % (W, ids[0]))
    check(code == 202, code)
    env.wait(ids[0], lambda s: s.get("phase") == "running" and
             s.get("containerId") != sts[ids[0]]["containerId"], 120, "restarted")
    one_container_each(env, ids)
    check(len(ours()) == len(ids), "strays: %r" % [c["Names"] for c in ours()])
    check([c["Id"] for c in containers(ids[1])] == before[ids[1]],
          "an app that ran through the outage was replaced")
    check(GATE.accepted > 0, "the gate forwarded nothing")


test_lost_while_running.settings = SETTINGS


def test_restart_without_live_restore(env):
    """What a dockerd restart without live-restore does, rehearsed: Docker
    goes away and every container stops (here: stopped through the real
    socket while the gate is down); when Docker is back every worklet runs
    again, one container each."""
    ids = [create(env), create(env, "python")]
    for wid in ids:
        env.wait_phase(wid, "running", 240)
    GATE.down()
    try:
        for c in ours():
            code, _ = docker("POST", "/containers/%s/stop?t=2" % c["Id"])
            check(code in (204, 304), code)
        for wid in ids:
            env.wait(wid, docker_down, 30, "DockerReachable=False")
    finally:
        GATE.up()
    t0 = time.time()
    for wid in ids:
        env.wait(wid, lambda s, w=wid: s.get("phase") == "running" and docker_back(s) and
                 any(c["State"] == "running" for c in containers(w)), 120,
                 "running again")
    print("  all running again %.1fs after Docker came back" % (time.time() - t0))
    one_container_each(env, ids)
    for wid in ids:
        code, body, _ = env.api("GET", "%s/%s/proxy/" % (W, wid))
        check(code == 200, (wid, code, body))


test_restart_without_live_restore.settings = SETTINGS


if __name__ == "__main__":
    try:
        run([test_down_at_start, test_lost_during_build, test_lost_while_running,
             test_restart_without_live_restore], "gate")
    finally:
        GATE.stop()
