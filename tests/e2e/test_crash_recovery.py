"""kill -9 of workletd mid-build, then a restart, converges with no duplicate
or orphan container; a restart of a healthy controller adopts what runs."""

import glob
import json
import os
import subprocess
import time
import urllib.parse

import yaml

from scripted_claude import ScriptedClaude
from wltest import check, containers, docker, git, run

CLAUDE = ScriptedClaude([{"match": "Stall", "turns": [
    {"write": {"path": "stall.html", "content": "<p>stall</p>"}}, {"stall": 120}]}]).start()


INSTANCE = "crash-recovery-%d" % os.getpid()


def ours():
    """This service instance's containers (the daemon is shared: other
    people's builds and apps are not ours to judge)."""
    q = urllib.parse.quote(json.dumps({"label": ["worklet.instance=" + INSTANCE]}))
    return docker("GET", "/containers/json?all=1&filters=" + q)[1] or []


def test_kill9_mid_build_converges(env):
    ids = []
    for fixture in ("go", "node", "python"):
        wid = env.new_id(fixture)
        repo = env.make_repo(fixture)
        # A fresh source file: the compile step cannot come from the cache,
        # so the kill lands while Docker is really building.
        env.commit_file(repo, "nonce-%s.txt" % wid, wid)
        env.apply(wid, repo)
        ids.append(wid)
    env.wait(ids[0], lambda s: s.get("phase") == "building", 120, "building")
    time.sleep(0.5)
    env.kill9()
    env.start()
    for wid in ids:
        env.wait_phase(wid, "running", 420)
    for wid in ids:
        cs = containers(wid)
        check(len(cs) == 1, "%s has %d containers" % (wid, len(cs)))
    # Nothing else of this instance was left behind.
    strays = [c for c in ours() if c["Labels"].get("worklet.id") not in ids]
    check(not strays, "stray containers: %s" % [(c["Names"], c["Image"]) for c in strays])
    for path in glob.glob(os.path.join(env.state, "*", "*.yaml")):
        with open(path) as f:
            yaml.safe_load(f)


test_kill9_mid_build_converges.settings = {"WORKLET_INSTANCE": INSTANCE}


def test_restart_adopts_running_containers(env):
    wid = env.new_id("static")
    env.apply(wid, env.make_repo("static"))
    st = env.wait_phase(wid, "running", 300)
    before = containers(wid)
    env.stop()
    env.start()
    time.sleep(5)  # a few resync periods of the new process
    after = containers(wid)
    check([c["Id"] for c in after] == [c["Id"] for c in before],
          "containers changed across a controller restart")
    st2 = env.status(wid)
    check(st2["phase"] == "running" and st2["port"] == st["port"], st2)


def test_stale_temp_files_swept(env):
    """A kill -9 between an atomic write's create and rename leaves a temp
    file; the next start removes those of dead writers, and only those."""
    wid = env.new_id("static")
    env.apply(wid, env.make_repo("static"))
    env.wait_phase(wid, "running", 300)
    env.kill9()
    dead = subprocess.Popen(["true"])
    dead.wait()
    hexs = "0123456789abcdef"
    stale = [os.path.join(env.state, d, "%s.yaml.tmp-%d-%s" % (wid, dead.pid, hexs))
             for d in ("specs", "status")]
    stale.append(os.path.join(env.state, "prompts", "%s.p1.json.tmp-%d-%s" % (
        wid, dead.pid, hexs)))
    kept = [os.path.join(env.state, "specs", "%s.yaml.tmp-1-%s" % (wid, hexs)),
            os.path.join(env.state, "specs", "notes.tmp-e2e")]
    for path in stale + kept:
        with open(path, "w") as f:
            f.write("half a write")
    env.start()
    env.wait_api()
    left = [p for p in stale if os.path.exists(p)]
    check(not left, "stale temp files left: %s" % left)
    check(all(os.path.exists(p) for p in kept), "a live writer's or a user's file removed")
    check("removed 3 temp file(s)" in env.logs(), "the sweep was not logged")
    env.wait_phase(wid, "running", 60)
    for p in kept:
        os.unlink(p)


def test_kill9_after_the_commit(env):
    """kill -9 after a prompt's commit was made but before its record said
    so: on restart the prompt is deployed and completes with that commit
    (not "interrupted" while its change is in the branch and served). The
    kill point is set up exactly: the agent stalls, workletd is killed, and
    the commit it was about to record is made as commit_message() makes it."""
    code, w, _ = env.api("POST", "/api/worklet/worklets",
                         {"name": "c", "git_repo": env.make_repo("static")})
    check(code == 201, (code, w))
    wid = w["id"]
    env.ids.append(wid)
    env.wait_phase(wid, "running", 240)
    code, p, _ = env.api("POST", "/api/worklet/worklets/%s/prompt" % wid,
                         {"prompt": "Stall after writing"})
    check(code == 202, (code, p))
    clone = os.path.join(env.clones, wid)
    deadline = time.time() + 60
    while not os.path.exists(os.path.join(clone, "stall.html")):
        check(time.time() < deadline, "the agent never wrote its file")
        time.sleep(0.1)
    env.kill9()
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "Stall after writing\n\nworklet prompt %s\n" % p["id"])
    sha = subprocess.run(["git", "-C", clone, "rev-parse", "HEAD"], check=True,
                         capture_output=True, text=True).stdout.strip()
    env.start()
    env.wait_api()
    deadline = time.time() + 120
    while True:
        _, q, _ = env.api("GET", "/api/worklet/worklets/%s/prompts/%s" % (wid, p["id"]))
        if q["status"] != "processing":
            break
        check(time.time() < deadline, "prompt stuck: %r" % q)
        time.sleep(0.2)
    check(q["status"] == "completed" and q["commit_sha"] == sha and q["changed"], q)
    st = env.wait(wid, lambda s: s.get("servingCommit") == sha, 60, "the commit served")
    check(st["phase"] == "running", st)


if __name__ == "__main__":
    try:
        run([test_kill9_mid_build_converges, test_restart_adopts_running_containers,
             test_stale_temp_files_swept, test_kill9_after_the_commit], "crash",
            ANTHROPIC_BASE_URL=CLAUDE.url, ANTHROPIC_API_KEY="sk-e2e-crash",
            WORKLET_AGENT_TIMEOUT_SECONDS=60, WORKLET_AGENT_CLI_RETRIES=0)
    finally:
        CLAUDE.stop()
