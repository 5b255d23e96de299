"""Prompts through the real service and the real Claude Code CLI, against a
scripted Messages API server (tests/e2e/scripted_claude.py): the base prompt
shapes the first build, later prompts resume the same session and are
committed, built and rolled out without downtime; a broken build keeps the
last good version serving and gets a fix-up prompt; API errors are retried
then reported; timeouts, cancels and a killed workletd leave a clean tree;
a base prompt against an unreachable model API leaves the worklet running
with the failure in lastError, the API, `workletctl describe` and the
dashboard's banner, and the prompt retried once the API is back is
applied."""

import asyncio
import json
import os
import subprocess
import threading
import time

import websockets

from scripted_claude import ScriptedClaude
from wltest import WORKLETD, check, containers, free_port, run

SRV = ScriptedClaude()
API_KEY = "sk-e2e-secret-" + str(os.getpid())
SRV.start()

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>t</title></head>
<body><h1>%s</h1></body></html>
"""


def proxy_get(env, wid, path="/"):
    return env.api("GET", "/api/worklet/worklets/%s/proxy%s" % (wid, path))


def create(env, fixture="static", base_prompt=None, name=None):
    repo = env.make_repo(fixture, name)
    body = {"name": "prompt test", "git_repo": repo, "branch": "main"}
    if base_prompt:
        body["base_prompt"] = base_prompt
    code, w, _ = env.api("POST", "/api/worklet/worklets", body)
    check(code == 201, (code, w))
    env.ids.append(w["id"])
    return w["id"], repo


def send(env, wid, text):
    code, p, _ = env.api("POST", "/api/worklet/worklets/%s/prompt" % wid,
                         {"prompt": text})
    check(code == 202, (code, p))
    check(p["status"] == "processing" and p["stage"] == "queued", p)
    return p["id"]


def prompt(env, wid, pid):
    code, p, _ = env.api("GET", "/api/worklet/worklets/%s/prompts/%s" % (wid, pid))
    check(code == 200, (code, p))
    return p


def wait_prompt(env, wid, pid, timeout=180, status=("completed", "error")):
    deadline = time.time() + timeout
    p = None
    while time.time() < deadline:
        p = prompt(env, wid, pid)
        if p["status"] in status:
            return p
        if env.proc.poll() is not None:
            raise AssertionError("workletd exited")
        time.sleep(0.2)
    raise AssertionError("prompt %s did not finish: %r" % (pid, p))


def wait_stage(env, wid, pid, stage, timeout=60):
    deadline = time.time() + timeout
    p = None
    while time.time() < deadline:
        p = prompt(env, wid, pid)
        if p["stage"] == stage:
            return p
        time.sleep(0.1)
    raise AssertionError("prompt %s never reached %s: %r" % (pid, stage, p))


def clone(env, wid):
    return os.path.join(env.clones, wid)


def git_out(path, *args):
    return subprocess.run(["git", "-C", path] + list(args), check=True,
                          capture_output=True, text=True).stdout


def commits(env, wid):
    return git_out(clone(env, wid), "log", "--format=%s").splitlines()


def tree_clean(env, wid):
    return git_out(clone(env, wid), "status", "--porcelain") == ""


def wait_served(env, wid, needle, timeout=120):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = proxy_get(env, wid)
        if last[0] == 200 and needle in str(last[1]):
            return
        time.sleep(0.2)
    raise AssertionError("never served %r; last %r" % (needle, last))


def agents_running(session_id):
    out = subprocess.run(["pgrep", "-f", session_id], capture_output=True, text=True)
    return out.stdout.split()


# -- tests ---------------------------------------------------------------------

def test_base_prompt_then_resumed_prompt(env):
    SRV.rules = [
        {"match": "welcome page", "turns": [
            {"write": {"path": "index.html", "content": PAGE % "WELCOME-BASE"}},
            {"text": "Wrote the welcome page."}]},
        {"match": "title blue", "turns": [
            {"read": {"path": "index.html"}},
            {"edit": {"path": "index.html", "old": "<h1>WELCOME-BASE</h1>",
                      "new": "<h1 style=\"color:blue\">WELCOME-BLUE</h1>"}},
            {"text": "The title is blue now."}]},
    ]
    SRV.clear()
    wid, _ = create(env, base_prompt="Make a welcome page")
    # The first time it runs, it already serves the base prompt's page.
    st = env.wait_phase(wid, "running", 240)
    code, body, _ = proxy_get(env, wid)
    check(code == 200 and "WELCOME-BASE" in body, (code, body))
    check(st["servingCommit"] == st["commit"], st)
    code, ps, _ = env.api("GET", "/api/worklet/worklets/%s/prompts" % wid)
    check(code == 200 and ps["count"] == 1, ps)
    # The prompt record completes in the same pass, just after the status.
    base = wait_prompt(env, wid, ps["prompts"][0]["id"], 10)
    check(base["base"] and base["status"] == "completed", base)
    check(base["commit_sha"] == st["commit"] and base["response"] == "Wrote the welcome page.", base)
    check(commits(env, wid) == ["Make a welcome page", "initial"], commits(env, wid))
    session = st["sessionId"]

    # A client polling through the proxy during the redeploy sees no failure.
    failures, done = [], threading.Event()

    def poll():
        while not done.is_set():
            code, body, _ = proxy_get(env, wid)
            if code != 200:
                failures.append((code, body))
            time.sleep(0.02)
    poller = threading.Thread(target=poll)
    poller.start()
    try:
        pid = send(env, wid, "Make the title blue\nand keep the text")
        p = wait_prompt(env, wid, pid)
        check(p["status"] == "completed", p)
        wait_served(env, wid, "WELCOME-BLUE", 30)
        time.sleep(2)  # past the drain of the old container
    finally:
        done.set()
        poller.join()
    check(not failures, "requests failed during the redeploy: %r" % failures[:3])
    check(p["response"] == "The title is blue now." and p["num_turns"] >= 1, p)
    check(commits(env, wid) == ["Make the title blue", "Make a welcome page", "initial"],
          commits(env, wid))
    st = env.status(wid)
    check(st["sessionId"] == session, "session changed: %r" % st)
    check(tree_clean(env, wid), "tree not clean")
    # The second prompt's first request carried the first conversation.
    reqs = SRV.message_requests()
    second = [b for b in reqs if "title blue" in str(b["messages"][-1])]
    check(second, "no request for the second prompt")
    check("welcome page" in str(second[0]["messages"]) and
          "Wrote the welcome page." in str(second[0]["messages"]),
          "the session was not resumed: %r" % second[0]["messages"][:2])
    env.wait(wid, lambda s: len(containers(wid)) == 1, 15, "old container removed")
    # The key reached the CLI (the server saw it) but nothing of ours.
    check(any(r["headers"].get("x-api-key") == API_KEY for r in SRV.requests), "key not sent")
    check(API_KEY not in env.logs(), "the API key is in the log")
    for root, _, files in os.walk(env.state):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                check(API_KEY.encode() not in f.read(), "the API key is in %s" % name)


def test_prompt_without_changes(env):
    SRV.rules = [{"match": "Just explain", "turns": [{"text": "Nothing to change."}]}]
    wid, _ = create(env)
    st = env.wait_phase(wid, "running", 240)
    pid = send(env, wid, "Just explain the code")
    p = wait_prompt(env, wid, pid)
    check(p["status"] == "completed" and not p["changed"] and p["commit_sha"] is None, p)
    check(p["response"] == "Nothing to change.", p)
    check(commits(env, wid) == ["initial"], commits(env, wid))
    check(env.status(wid)["containerId"] == st["containerId"], "rebuilt for nothing")


def test_broken_build_gets_a_fixup(env):
    SRV.rules = [
        {"match": "does not work", "turns": [
            {"read": {"path": "Dockerfile"}},
            {"edit": {"path": "Dockerfile", "old": "COPY missing.py ./",
                      "new": "COPY server.py ./"}},
            {"text": "Fixed the COPY line."}]},
        {"match": "Rename the server", "turns": [
            {"read": {"path": "Dockerfile"}},
            {"edit": {"path": "Dockerfile", "old": "COPY server.py ./",
                      "new": "COPY missing.py ./"}},
            {"text": "Renamed."}]},
    ]
    wid, _ = create(env, "dockerfile")
    st = env.wait_phase(wid, "running", 240)
    served = proxy_get(env, wid)
    check(served[0] == 200, served)
    SRV.clear()
    pid = send(env, wid, "Rename the server file")
    # The broken build never takes the app down: the last good one serves.
    saw_fixing = False
    deadline = time.time() + 240
    while time.time() < deadline:
        p = prompt(env, wid, pid)
        if p["stage"] == "fixing" or p["fixups"] > 0:
            saw_fixing = True
            code, _, _ = proxy_get(env, wid)
            check(code == 200, "the last good version stopped serving (%d)" % code)
        if p["status"] != "processing":
            break
        time.sleep(0.2)
    check(saw_fixing, "no fix-up was sent: %r" % p)
    check(p["status"] == "completed" and p["fixups"] == 1, p)
    fix = [b for b in SRV.message_requests() if "does not work" in str(b["messages"])]
    check(fix and "missing.py" in str(fix[0]["messages"][-1]),
          "the fix-up did not carry the build error")
    check(commits(env, wid)[:2] == ["Fix the build after: Rename the server file",
                                    "Rename the server file"], commits(env, wid))
    st = env.wait_phase(wid, "running", 60)
    check(st["servingCommit"] == st["commit"], st)


def test_failed_start_keeps_the_old_version(env):
    """A new version that builds but exits at start is never switched to."""
    SRV.rules = [{"match": "Exit early", "turns": [
        {"read": {"path": "server.py"}},
        {"edit": {"path": "server.py", "old": "import signal\n",
                  "new": "import signal\nraise SystemExit('boom-new-version')\n"}},
        {"text": "Done."}]}]
    wid, _ = create(env, "dockerfile")
    st = env.wait_phase(wid, "running", 240)
    old_commit = st["commit"]
    pid = send(env, wid, "Exit early")
    p = wait_prompt(env, wid, pid, 120)
    check(p["status"] == "error" and "did not start" in p["error"] and
          "boom-new-version" in p["error"], p)
    code, body, _ = proxy_get(env, wid)
    check(code == 200 and "hello from dockerfile" in str(body), (code, body))
    st = env.status(wid)
    check(st["phase"] == "running" and st["servingCommit"] == old_commit, st)
    rollout = [c for c in st["conditions"] if c["type"] == "Rollout"][0]
    check(rollout["status"] == "False", rollout)
    env.wait(wid, lambda s: len(containers(wid)) == 1, 15, "failed container removed")


test_failed_start_keeps_the_old_version.settings = {"WORKLET_AGENT_FIX_ATTEMPTS": 0}


def test_api_errors_are_retried_then_reported(env):
    SRV.rules = [{"match": "Overload me", "fail_times": 1000,
                  "error": {"status": 529, "type": "overloaded_error",
                            "message": "scripted overload"}, "turns": []}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    SRV.clear()
    pid = send(env, wid, "Overload me")
    p = wait_prompt(env, wid, pid, 120)
    check(p["status"] == "error" and "529" in p["error"], p)
    check(p["attempts"] == 1, p)
    hits = [b for b in SRV.message_requests() if "verload me" in str(b["messages"])]
    check(len(hits) >= 2, "not retried: %d requests" % len(hits))
    check(tree_clean(env, wid), "tree not clean")
    # The condition is written by the next pass after the prompt's status.
    st = env.wait(wid, lambda s: any(
        c["type"] == "Agent" and c["status"] == "False" and "529" in c["message"]
        for c in s.get("conditions", [])), 30, "the Agent condition")
    check(st["phase"] == "running", st)


def test_timeout_kills_the_agent(env):
    SRV.rules = [{"match": "slow", "turns": [
        {"write": {"path": "half.txt", "content": "half done"}},
        {"stall": 120}]}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    pid = send(env, wid, "Be slow")
    t0 = time.time()
    p = wait_prompt(env, wid, pid, 60)
    check(p["status"] == "error" and "within 4s" in p["error"], p)
    check(time.time() - t0 < 30, "timeout took %.0fs" % (time.time() - t0))
    check(tree_clean(env, wid), "the half-done edit was left in the tree")
    session = env.status(wid)["sessionId"]
    check(not agents_running(session), "agent processes left: %r" % agents_running(session))


test_timeout_kills_the_agent.settings = {"WORKLET_AGENT_TIMEOUT_SECONDS": 4}


def test_queue_order_and_cancel(env):
    SRV.rules = [
        {"match": "first", "turns": [
            {"delay": 2, "write": {"path": "a.txt", "content": "a"}}, {"text": "a"}]},
        {"match": "second", "turns": [
            {"write": {"path": "b.txt", "content": "b"}}, {"text": "b"}]},
        {"match": "third", "turns": [
            {"write": {"path": "c.txt", "content": "c"}}, {"text": "c"}]},
        {"match": "Hang", "turns": [
            {"write": {"path": "h.txt", "content": "h"}}, {"stall": 120}]},
    ]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    a = send(env, wid, "The first prompt")
    b = send(env, wid, "The second prompt")
    c = send(env, wid, "The third prompt")
    code, cancelled, _ = env.api(
        "POST", "/api/worklet/worklets/%s/prompts/%s/cancel" % (wid, c))
    check(code == 202 and cancelled["cancel_requested"], (code, cancelled))
    pa = wait_prompt(env, wid, a)
    pb = wait_prompt(env, wid, b)
    pc = wait_prompt(env, wid, c)
    check(pa["status"] == "completed" and pb["status"] == "completed", (pa, pb))
    check(pc["status"] == "error" and pc["error"] == "cancelled", pc)
    check(pb["started_at"] >= pa["finished_at"], "ran out of order: %r %r" % (pa, pb))
    check(commits(env, wid) == ["The second prompt", "The first prompt", "initial"],
          commits(env, wid))
    code, again, _ = env.api(
        "POST", "/api/worklet/worklets/%s/prompts/%s/cancel" % (wid, a))
    check(code == 409, (code, again))

    # Cancel while the agent runs: the group is killed, the tree restored.
    h = send(env, wid, "Hang around")
    wait_stage(env, wid, h, "running")
    time.sleep(2)  # let it write h.txt
    env.api("POST", "/api/worklet/worklets/%s/prompts/%s/cancel" % (wid, h))
    ph = wait_prompt(env, wid, h, 30)
    check(ph["status"] == "error" and ph["error"] == "cancelled", ph)
    check(tree_clean(env, wid), "tree not clean after cancel")
    check(not agents_running(env.status(wid)["sessionId"]), "agent left running")


def test_killed_workletd_mid_prompt(env):
    SRV.rules = [{"match": "Interrupt", "turns": [
        {"write": {"path": "i.txt", "content": "i"}}, {"stall": 120}]}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    SRV.clear()
    pid = send(env, wid, "Interrupt me")
    wait_stage(env, wid, pid, "running")
    # the stalled turn: the CLI has written i.txt and its transcript (a
    # fixed sleep was too short on a loaded machine)
    deadline = time.time() + 30
    while len(SRV.message_requests()) < 2 and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1)
    session = env.status(wid)["sessionId"]
    env.kill9()
    time.sleep(0.5)
    check(not agents_running(session), "the agent outlived workletd")
    env.start()
    env.wait_api()
    p = wait_prompt(env, wid, pid, 60)
    check(p["status"] == "error" and "interrupted" in p["error"], p)
    check(tree_clean(env, wid), "tree not clean after restart")
    env.wait_phase(wid, "running", 60)
    # The session survives the restart: the next prompt resumes it.
    SRV.rules = [{"match": "After the restart", "turns": [
        {"write": {"path": "after.txt", "content": "after"}}, {"text": "ok"}]}]
    SRV.clear()
    p = wait_prompt(env, wid, send(env, wid, "After the restart"), 60)
    check(p["status"] == "completed" and p["commit_sha"], p)
    check(env.status(wid)["sessionId"] == session, "a new session was started")
    check(any("Interrupt me" in str(b["messages"]) for b in SRV.message_requests()),
          "the earlier conversation was not resumed")


# The host mode's own guarantee (PDEATHSIG): the agent dies with workletd.
# The sandbox's (its container is removed at restart) is tested in
# test_agent_sandbox.py.
test_killed_workletd_mid_prompt.settings = {"WORKLET_AGENT_SANDBOX": "host"}


def test_delete_stops_a_running_agent(env):
    SRV.rules = [{"match": "Take forever", "turns": [{"stall": 120}]}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    pid = send(env, wid, "Take forever")
    wait_stage(env, wid, pid, "running")
    session = env.status(wid)["sessionId"]
    t0 = time.time()
    code, _, _ = env.api("DELETE", "/api/worklet/worklets/%s" % wid)
    check(code == 202, code)
    env.wait(wid, lambda s: not os.path.exists(env.spec_path(wid)), 30, "deleted")
    check(time.time() - t0 < 15, "delete waited for the agent: %.0fs" % (time.time() - t0))
    check(not agents_running(session), "agent left running")
    check(not [f for f in os.listdir(os.path.join(env.state, "prompts")) if f.startswith(wid)],
          "prompt files left")


def test_agent_concurrency_limit(env):
    """Different worklets share WORKLET_AGENT_CONCURRENCY agent slots (1 here)."""
    SRV.rules = [
        {"match": "Slow one", "turns": [
            {"delay": 3, "write": {"path": "s.txt", "content": "s"}}, {"text": "s"}]},
        {"match": "Quick one", "turns": [
            {"write": {"path": "q.txt", "content": "q"}}, {"text": "q"}]}]
    w1, _ = create(env)
    w2, _ = create(env, name="second")
    env.wait_phase(w1, "running", 240)
    env.wait_phase(w2, "running", 240)
    a = send(env, w1, "Slow one")
    wait_stage(env, w1, a, "running")
    b = send(env, w2, "Quick one")
    time.sleep(1)
    check(prompt(env, w2, b)["stage"] == "queued", "ran beside the other agent")
    pa, pb = wait_prompt(env, w1, a), wait_prompt(env, w2, b)
    check(pa["status"] == pb["status"] == "completed", (pa, pb))
    # B's agent started after A's agent ended (times are whole seconds).
    def ts(t):
        return time.mktime(time.strptime(t, "%Y-%m-%dT%H:%M:%SZ"))
    check(ts(pb["started_at"]) + 1 >= ts(pa["started_at"]) + pa["duration_ms"] / 1000.0,
          (pa, pb))


test_agent_concurrency_limit.settings = {"WORKLET_AGENT_CONCURRENCY": 1}


def test_prompt_errors(env):
    wid, _ = create(env)
    base = "/api/worklet/worklets/%s" % wid
    for body, code in (({}, 400), ({"prompt": ""}, 400), ({"prompt": 5}, 400),
                       ({"prompt": "x", "extra": 1}, 400)):
        got, err, _ = env.api("POST", base + "/prompt", body)
        check(got == code and "error" in err, (body, got, err))
    got, err, _ = env.api("POST", base + "/prompt", raw_body=b"{not json",
                          headers={"Content-Type": "application/json"})
    check(got == 400 and err["error"]["code"] == "malformed_json", (got, err))
    got, err, _ = env.api("POST", base + "/prompt", {"prompt": "x"}, user="bob")
    check(got == 404, (got, err))
    got, err, _ = env.api("GET", base + "/prompts", user="bob")
    check(got == 404, (got, err))
    got, err, _ = env.api("GET", base + "/prompts/p0000000000000000000")
    check(got == 404, (got, err))
    got, err, _ = env.api("GET", base + "/prompts/../../etc")
    check(got == 404, (got, err))
    got, err, _ = env.api("GET", base + "/prompt")
    check(got == 405, (got, err))
    pid = send(env, wid, "queued while nothing runs it")
    got, err, _ = env.api("POST", base + "/prompts/%s/cancel" % pid, user="bob")
    check(got == 404, (got, err))


def test_progress_reaches_watchers(env):
    """The agent's progress is pushed to a WebSocket watcher as it comes."""
    SRV.rules = [{"match": "Add a footer", "turns": [
        {"write": {"path": "footer.html", "content": "<footer>f</footer>"}},
        {"text": "Added the footer."}]}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)

    async def main():
        url = "ws://127.0.0.1:%d/api/worklet/worklets/%s/watch?logs=1" % (env.api_port, wid)
        headers = {"Authorization": "Bearer " + env.tokens["alice"]}
        async with websockets.connect(url, extra_headers=headers) as ws:
            check(json.loads(await ws.recv())["type"] == "hello", "no hello")
            pid = send(env, wid, "Add a footer")
            lines, deadline = [], time.time() + 60
            while time.time() < deadline:
                ev = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.time()))
                if ev.get("type") == "log" and ev.get("stream") == "agent":
                    lines.append(ev["line"])
                if any(line.startswith("result:") for line in lines):
                    break
            return pid, lines
    pid, lines = asyncio.run(main())
    check(any("Write" in line and "footer.html" in line for line in lines), lines)
    check(any("Added the footer." in line for line in lines), lines)
    check(wait_prompt(env, wid, pid)["status"] == "completed", "prompt failed")


def test_cli_missing(env):
    """No CLI: a clear error on the prompt, the app keeps running."""
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    pid = send(env, wid, "Anything")
    p = wait_prompt(env, wid, pid, 30)
    check(p["status"] == "error" and "was not found" in p["error"] and
          "/nonexistent/claude" in p["error"], p)
    check(env.proc.poll() is None, "workletd died")
    check("/nonexistent/claude" in env.logs(), "no startup error in the log")
    check(env.status(wid)["phase"] == "running", env.status(wid))
    check(tree_clean(env, wid), "tree not clean")


test_cli_missing.settings = {"WORKLET_CLAUDE_BIN": "/nonexistent/claude"}


DOWN_PORT = free_port()  # the model API of the next test: nothing listens yet
HERE = os.path.dirname(os.path.abspath(__file__))


def base_failure(st):
    return [c for c in st.get("conditions", []) if c["type"] == "BasePrompt"]


def test_failed_base_prompt_is_visible_and_retryable(env):
    wid, _ = create(env, base_prompt="Make the heading say RETRIED-BASE")
    st = env.wait_phase(wid, "running", 240)
    st = env.wait(wid, lambda s: base_failure(s) and base_failure(s)[0]["status"] == "False",
                  120, "BasePrompt=False")
    code, plist, _ = env.api("GET", "/api/worklet/worklets/%s/prompts" % wid)
    base = plist["prompts"][0]
    check(base["base"] and base["status"] == "error" and base["error"], base)
    print("  base prompt: " + base["error"], flush=True)
    # the worklet runs the repository as it is, and says why
    want = "the base prompt was not applied (prompt %s: " % base["id"]
    time.sleep(3)  # resyncs and git polls pass: the message stays
    st = env.status(wid)
    check(st["phase"] == "running" and want in (st.get("lastError") or ""), st)
    check(base["error"] in st["lastError"] and
          "workletctl retry %s %s" % (wid, base["id"]) in st["lastError"], st["lastError"])
    code, w, _ = env.api("GET", "/api/worklet/worklets/" + wid)
    check(code == 200 and w["status"] == "running" and want in (w["last_error"] or ""), w)
    code, body = proxy_get(env, wid)[:2]
    check(code == 200 and "RETRIED-BASE" not in str(body), (code, body))
    ctl = os.path.join(os.path.dirname(WORKLETD), "workletctl")
    cenv = {k: v for k, v in os.environ.items() if not k.startswith("WORKLET")}
    cenv.update(HOME=env.tmp, WORKLET_SERVER=env.base_url, WORKLET_TOKEN=env.tokens["alice"])
    out = subprocess.run([ctl, "describe", wid], env=cenv, capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("Last error:")]
    check(out.returncode == 0 and lines and want in lines[0], out.stdout)
    # what cannot be retried
    code, body, _ = env.api("POST", "/api/worklet/worklets/%s/prompts/p0000000000000000000/retry"
                            % wid, {})
    check(code == 404, (code, body))
    code, body, _ = env.api("GET", "/api/worklet/worklets/%s/prompts/%s/retry" % (wid, base["id"]))
    check(code == 405, (code, body))
    code, body, _ = env.api("POST", "/api/worklet/worklets/%s/prompts/%s/retry" % (wid, base["id"]),
                            {}, user="bob")
    check(code == 404, (code, body))
    # the model API is back: the dashboard shows the banner, retries, and
    # the banner goes once the prompt is applied
    srv = ScriptedClaude([{"match": "RETRIED-BASE", "turns": [
        {"write": {"path": "index.html", "content": PAGE % "RETRIED-BASE"}},
        {"text": "Done."}]}], port=DOWN_PORT).start()
    try:
        penv = dict(os.environ, WL_BASE=env.base_url, WL_TOKEN=env.tokens["alice"], WL_ID=wid,
                    WL_PROMPT=base["id"], WL_OUT=os.path.join(os.environ.get("WL_TEST_OUTPUT", os.path.join(os.path.dirname(os.path.dirname(HERE)), "build", "test-output")), "base-prompt"))
        if os.path.exists("/usr/bin/chromium"):
            b = subprocess.run(["node", os.path.join(HERE, "base_prompt_banner.mjs")], env=penv,
                               capture_output=True, text=True, timeout=300)
            print("  browser: " + b.stdout.strip()[-300:], flush=True)
            check(b.returncode == 0 and '"ok":true' in b.stdout, (b.stdout, b.stderr[-2000:]))
        else:  # no browser here: the API alone
            code, p, _ = env.api("POST", "/api/worklet/worklets/%s/prompts/%s/retry"
                                 % (wid, base["id"]), {})
            check(code == 202 and p["status"] == "processing" and p["stage"] == "queued", p)
        p = wait_prompt(env, wid, base["id"], 180)
        check(p["status"] == "completed" and p["commit_sha"] and p["base"], p)
        wait_served(env, wid, "RETRIED-BASE")
        st = env.wait(wid, lambda s: not s.get("lastError"), 30, "lastError cleared")
        check(base_failure(st)[0]["status"] == "True", base_failure(st))
        code, body, _ = env.api("POST", "/api/worklet/worklets/%s/prompts/%s/retry"
                                % (wid, base["id"]), {})
        check(code == 409 and "only a prompt that failed" in body["error"]["message"],
              (code, body))
        out = subprocess.run([ctl, "retry", wid, base["id"]], env=cenv, capture_output=True,
                             text=True)
        check(out.returncode == 4 and "only a prompt that failed" in out.stderr, out)
        out = subprocess.run([ctl, "retry", wid, "nope"], env=cenv, capture_output=True,
                             text=True)
        check(out.returncode == 1 and "'nope' is not a prompt id" in out.stderr, out)
    finally:
        srv.stop()


test_failed_base_prompt_is_visible_and_retryable.settings = {
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:%d" % DOWN_PORT, "WORKLET_AGENT_RETRIES": 0,
    "WORKLET_AGENT_CLI_RETRIES": 0}


if __name__ == "__main__":
    try:
        run([test_prompt_errors, test_base_prompt_then_resumed_prompt,
             test_prompt_without_changes, test_broken_build_gets_a_fixup,
             test_api_errors_are_retried_then_reported, test_timeout_kills_the_agent,
             test_queue_order_and_cancel, test_killed_workletd_mid_prompt,
             test_progress_reaches_watchers, test_cli_missing,
             test_failed_start_keeps_the_old_version, test_delete_stops_a_running_agent,
             test_agent_concurrency_limit, test_failed_base_prompt_is_visible_and_retryable],
            "prompts",
            ANTHROPIC_BASE_URL=SRV.url, ANTHROPIC_API_KEY=API_KEY,
            WORKLET_AGENT_TIMEOUT_SECONDS=60,
            WORKLET_AGENT_RETRIES=1, WORKLET_AGENT_RETRY_BACKOFF_SECONDS=1,
            WORKLET_AGENT_CLI_RETRIES=0)
    finally:
        SRV.stop()
