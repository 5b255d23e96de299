"""The agent sandbox (WORKLET_AGENT_SANDBOX=docker, the default): the real
Claude Code CLI runs in a per-run container, driven by the scripted Messages
API server. Its Bash tool runs inside the container (non-root, its own
hostname, no host files, no Docker socket); the container carries the
designed limits and mounts; the model API key reaches the CLI (the server
sees it) but is nowhere to be read while a prompt runs (docker inspect,
container logs, the processes' environment and command lines, status,
state files, workletd's log, the API); a timeout, a cancel and a workletd
killed mid-run leave no container behind (after kill -9 the container
stops by itself within the lease); a sandbox without network reports why
the prompt failed; the host mode (explicit opt-in) still runs the CLI on the
host without Bash."""

import json
import os
import socket
import time

from scripted_claude import ScriptedClaude
from wltest import agent_containers, check, docker, run
from test_prompts import (clone, commits, create, git_out, proxy_get, send,
                          tree_clean, wait_prompt, wait_stage)
import test_prompts

SRV = ScriptedClaude()
SRV.start()
test_prompts.SRV.stop()  # imported for its helpers only
API_KEY = "sk-e2e-sandbox-" + str(os.getpid())
GITHUB_TOKEN = "ghp_e2e_sandbox_secret_%d" % os.getpid()
CLI = os.path.realpath("/usr/bin/claude")
LEASE_S = 3  # WL_AGENT_SANDBOX_LEASE_S


def probe_command(tokens_file):
    # Everything the agent's shell can see, into a file of the tree.
    return ("{ echo uid=$(id -u); echo host=$(hostname); echo root=$(ls / | tr '\\n' ' '); "
            "cat %s 2>/dev/null || echo tokens=unreadable; "
            "ls /work >/dev/null 2>&1 && echo work=visible || echo work=absent; "
            "test -e /var/run/docker.sock && echo sock=present || echo sock=absent; "
            "echo gh=${GITHUB_TOKEN:-unset}; } > probe.txt; sleep 3" % tokens_file)


def wait_agent_container(wid, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        cs = [c for c in agent_containers(wid) if c["State"] == "running"]
        if cs:
            return cs[0]
        time.sleep(0.1)
    raise AssertionError("no running agent container for %s" % wid)


def inspect(cid):
    code, j = docker("GET", "/containers/%s/json" % cid)
    check(code == 200, (code, j))
    return j


def check_container(env, wid, j):
    hc, cfg = j["HostConfig"], j["Config"]
    check(cfg["User"] == "1000:1000", cfg["User"])
    check(cfg["Hostname"] == "worklet-agent", cfg["Hostname"])
    check(hc["CapDrop"] == ["ALL"] and not hc.get("CapAdd"), (hc["CapDrop"], hc.get("CapAdd")))
    check(hc["SecurityOpt"] == ["no-new-privileges"], hc["SecurityOpt"])
    check(not hc["Privileged"] and hc["ReadonlyRootfs"] and hc["Init"], hc)
    check(hc["Memory"] == 1 << 30 and hc["MemorySwap"] == 1 << 30, hc["Memory"])
    check(hc["NanoCpus"] == 10 ** 9 and hc["PidsLimit"] == 512, (hc["NanoCpus"], hc["PidsLimit"]))
    check(sorted(hc["Tmpfs"]) == ["/run/worklet", "/tmp"], hc["Tmpfs"])
    check("mode=0700,uid=1000,gid=1000" in hc["Tmpfs"]["/run/worklet"], hc["Tmpfs"])
    check(hc["NetworkMode"] == env.settings["WORKLET_AGENT_NETWORK"], hc["NetworkMode"])
    check(hc["ExtraHosts"] == ["host.docker.internal:host-gateway"], hc["ExtraHosts"])
    tree = clone(env, wid)
    config_dir = os.path.join(env.state, "agent-config", wid)
    mounts = sorted((m["Source"], m["Destination"], m["RW"]) for m in j["Mounts"])
    want = sorted([(tree, tree, True), (tree + "/.git", tree + "/.git", False),
                   (config_dir, config_dir, True), (CLI, "/usr/local/bin/claude", False)])
    check(mounts == want, "mounts %r, want %r" % (mounts, want))
    check(not any("docker.sock" in m["Source"] for m in j["Mounts"]), j["Mounts"])
    env_vars = dict(e.split("=", 1) for e in cfg["Env"])
    check("GITHUB_TOKEN" not in env_vars and GITHUB_TOKEN not in json.dumps(j),
          "the GitHub token reached the sandbox")
    check(env_vars["IS_SANDBOX"] == "1" and env_vars["HOME"] == "/tmp", env_vars)
    check(env_vars["ANTHROPIC_BASE_URL"].startswith("http://host.docker.internal:"),
          env_vars["ANTHROPIC_BASE_URL"])
    check(env_vars["CLAUDE_CONFIG_DIR"] == config_dir, env_vars)
    check("ANTHROPIC_API_KEY" not in env_vars and "ANTHROPIC_AUTH_TOKEN" not in env_vars,
          env_vars)
    check(API_KEY not in json.dumps(j), "the API key is in the container's configuration")
    check(cfg["OpenStdin"] and cfg["StdinOnce"], "the container has no stdin lease")
    labels = cfg["Labels"]
    check(labels["worklet.role"] == "agent" and labels["worklet.agent-for"] == wid
          and "worklet.id" not in labels, labels)
    check(cfg["Cmd"][:2] == ["/bin/sh", "-c"] and cfg["Cmd"][3:5] == [
        "worklet-agent", "/usr/local/bin/claude"], cfg["Cmd"])
    i = cfg["Cmd"].index("--settings")
    check(json.loads(cfg["Cmd"][i + 1]) == {"apiKeyHelper": "cat /run/worklet/api-key"},
          cfg["Cmd"])
    check("--disallowedTools" not in cfg["Cmd"], cfg["Cmd"])


def test_bash_runs_in_the_sandbox(env):
    SRV.rules = [{"match": "Probe", "turns": [
        {"tool": {"name": "Bash", "input": {
            "command": probe_command(env.tokens_file),
            "description": "probe the sandbox"}}},
        {"text": "Probed."}]}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    pid = send(env, wid, "Probe the sandbox")
    c = wait_agent_container(wid)
    check_container(env, wid, inspect(c["Id"]))
    p = wait_prompt(env, wid, pid, 120)
    check(p["status"] == "completed" and p["commit_sha"], p)
    check(commits(env, wid)[0] == "Probe the sandbox", commits(env, wid))
    probe = git_out(clone(env, wid), "show", "HEAD:probe.txt")
    lines = dict(line.split("=", 1) for line in probe.splitlines() if "=" in line)
    check(lines["uid"] == "1000", probe)
    check(lines["host"] == "worklet-agent" and lines["host"] != socket.gethostname(), probe)
    check("work" not in lines["root"].split() and "usr" in lines["root"].split(), probe)
    check(lines["tokens"] == "unreadable" and "tok-alice" not in probe, probe)
    check(lines["work"] == "absent" and lines["sock"] == "absent", probe)
    check(lines["gh"] == "unset", probe)
    # committed and deployed: the new version serves the file
    code, body = proxy_get(env, wid, "/probe.txt")[:2]
    check(code == 200 and "uid=1000" in str(body), (code, body))
    check(agent_containers(wid) == [], "the agent container was left behind")
    check(tree_clean(env, wid), "tree not clean")
    # the host's git still owns the repository (not handed to the sandbox)
    check(os.stat(os.path.join(clone(env, wid), ".git")).st_uid == 0, "the .git dir changed hands")


test_bash_runs_in_the_sandbox.settings = {
    "ANTHROPIC_BASE_URL": SRV.url, "ANTHROPIC_API_KEY": API_KEY,
    "GITHUB_TOKEN": GITHUB_TOKEN}


def test_git_dir_is_read_only(env):
    # (a script: the CLI itself refuses a command that names .git/hooks)
    SRV.rules = [{"match": "hook", "turns": [
        {"write": {"path": "t.sh", "content":
                   "if echo x > .git/hooks/post-commit 2>/dev/null; then echo wrote; "
                   "else echo refused; fi > hook.txt; rm -f t.sh\n"}},
        {"tool": {"name": "Bash", "input": {"command": "sh t.sh",
                                            "description": "try to plant a hook"}}},
        {"text": "Tried."}]}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    p = wait_prompt(env, wid, send(env, wid, "Plant a hook"), 120)
    check(p["status"] == "completed", p)
    check(git_out(clone(env, wid), "show", "HEAD:hook.txt").strip() == "refused",
          "the sandbox could write into .git")
    check(not os.path.exists(os.path.join(clone(env, wid), ".git/hooks/post-commit")),
          "a hook was planted")


test_git_dir_is_read_only.settings = {
    "ANTHROPIC_BASE_URL": SRV.url, "ANTHROPIC_API_KEY": API_KEY}


def test_timeout_removes_the_container(env):
    SRV.rules = [{"match": "slow", "turns": [
        {"write": {"path": "half.txt", "content": "half"}}, {"stall": 120}]}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    pid = send(env, wid, "Be slow")
    wait_agent_container(wid)
    t0 = time.time()
    p = wait_prompt(env, wid, pid, 60)
    check(p["status"] == "error" and "within 5s" in p["error"], p)
    check(time.time() - t0 < 30, "the timeout took %.0fs" % (time.time() - t0))
    check(agent_containers(wid) == [], "the agent container outlived its timeout")
    check(tree_clean(env, wid), "the half-done edit was left in the tree")


test_timeout_removes_the_container.settings = {
    "ANTHROPIC_BASE_URL": SRV.url, "ANTHROPIC_API_KEY": API_KEY,
    "WORKLET_AGENT_TIMEOUT_SECONDS": 5}


def test_cancel_removes_the_container(env):
    SRV.rules = [{"match": "Hang", "turns": [
        {"write": {"path": "h.txt", "content": "h"}}, {"stall": 120}]}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    h = send(env, wid, "Hang around")
    wait_stage(env, wid, h, "running")
    wait_agent_container(wid)
    time.sleep(2)
    t0 = time.time()
    env.api("POST", "/api/worklet/worklets/%s/prompts/%s/cancel" % (wid, h))
    ph = wait_prompt(env, wid, h, 30)
    check(ph["status"] == "error" and ph["error"] == "cancelled", ph)
    check(time.time() - t0 < 10, "the cancel took %.1fs" % (time.time() - t0))
    check(agent_containers(wid) == [], "the agent container outlived the cancel")
    check(tree_clean(env, wid), "tree not clean after cancel")


test_cancel_removes_the_container.settings = {
    "ANTHROPIC_BASE_URL": SRV.url, "ANTHROPIC_API_KEY": API_KEY}


def files_holding(root, needle):
    """The files under root whose bytes contain needle."""
    found = []
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            try:
                with open(p, "rb") as fh:
                    if needle.encode() in fh.read():
                        found.append(p)
            except OSError:
                pass
    return found


def test_key_is_nowhere_while_a_prompt_runs(env):
    SRV.rules = [{"match": "Keep", "turns": [
        {"write": {"path": "k.txt", "content": "k"}}, {"stall": 120}]}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    SRV.clear()
    pid = send(env, wid, "Keep the key safe")
    c = wait_agent_container(wid)
    deadline = time.time() + 60
    while len(SRV.message_requests()) < 2 and time.time() < deadline:
        time.sleep(0.1)
    # The CLI is mid-run and has used the key: the server saw it.
    reqs = [r for r in SRV.requests if r["path"].startswith("/v1/messages")]
    check(len(reqs) >= 2, "the CLI did not reach the model API")
    check(all(r["headers"].get("x-api-key") == API_KEY for r in reqs),
          [r["headers"].get("x-api-key") for r in reqs])
    check(agent_containers(wid)[0]["State"] == "running", "the run ended early")
    # Where it must not be, while it runs:
    j = inspect(c["Id"])
    check(API_KEY not in json.dumps(j), "docker inspect shows the key")
    check(not j.get("ExecIDs"), ("something exec'd in the container", j.get("ExecIDs")))
    code, logs = docker("GET", "/containers/%s/logs?stdout=1&stderr=1" % c["Id"])
    check(code == 200 and API_KEY not in str(logs), "the container's logs show the key")
    code, top = docker("GET", "/containers/%s/top?ps_args=-eo%%20pid" % c["Id"])
    check(code == 200 and top["Processes"], (code, top))
    seen = 0
    for row in top["Processes"]:
        for what in ("environ", "cmdline"):
            try:
                with open("/proc/%s/%s" % (row[0], what), "rb") as f:
                    data = f.read()
            except OSError:
                continue
            seen += 1
            check(API_KEY.encode() not in data,
                  "process %s of the container has the key in its %s" % (row[0], what))
    check(seen, "no process of the container could be read")
    check(files_holding(env.state, API_KEY) == [], files_holding(env.state, API_KEY))
    check(files_holding(env.clones, API_KEY) == [], files_holding(env.clones, API_KEY))
    check(API_KEY not in env.logs(), "workletd's log shows the key")
    for path in ("", "/status", "/prompts", "/logs"):
        code, body, _ = env.api("GET", "/api/worklet/worklets/%s%s" % (wid, path))
        check(code == 200 and API_KEY not in json.dumps(body), (path, code))
    env.api("POST", "/api/worklet/worklets/%s/prompts/%s/cancel" % (wid, pid))
    p = wait_prompt(env, wid, pid, 30)
    check(p["status"] == "error" and p["error"] == "cancelled", p)
    check(agent_containers(wid) == [], "the agent container outlived the cancel")
    check(files_holding(env.state, API_KEY) == [], files_holding(env.state, API_KEY))


test_key_is_nowhere_while_a_prompt_runs.settings = {
    "ANTHROPIC_BASE_URL": SRV.url, "ANTHROPIC_API_KEY": API_KEY}


def test_killed_workletd_leaves_no_container(env):
    SRV.rules = [{"match": "Interrupt", "turns": [
        {"write": {"path": "i.txt", "content": "i"}}, {"stall": 120}]}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    SRV.clear()
    pid = send(env, wid, "Interrupt me")
    wait_stage(env, wid, pid, "running")
    wait_agent_container(wid)
    # the stalled turn: the CLI has written i.txt and its transcript
    deadline = time.time() + 30
    while len(SRV.message_requests()) < 2 and time.time() < deadline:
        time.sleep(0.1)
    # a run longer than the lease's grace is not cut short
    time.sleep(LEASE_S + 3)
    check([c["State"] for c in agent_containers(wid)] == ["running"],
          "a healthy run was stopped")
    session = env.status(wid)["sessionId"]
    env.kill9()
    # the lease ends with workletd: the container stops by itself
    t0 = time.time()
    while time.time() - t0 < LEASE_S + 7 and any(
            c["State"] == "running" for c in agent_containers(wid)):
        time.sleep(0.05)
    took = time.time() - t0
    left = agent_containers(wid)
    print("  agent container stopped %.2f s after kill -9" % took, flush=True)
    check(left and all(c["State"] != "running" for c in left),
          ("the agent container outlived workletd", left))
    check(took < LEASE_S + 2, "stopping took %.1f s" % took)
    j = inspect(left[0]["Id"])
    check(j["State"]["ExitCode"] == 143, ("the CLI did not get SIGTERM", j["State"]))
    env.start()
    env.wait_api()
    p = wait_prompt(env, wid, pid, 60)
    check(p["status"] == "error" and "interrupted" in p["error"], p)
    check(agent_containers(wid) == [], "an orphaned agent container survived the restart")
    check(tree_clean(env, wid), "tree not clean after restart")
    env.wait_phase(wid, "running", 60)
    # the session's transcript (in the mounted config dir) is resumed
    SRV.rules = [{"match": "After the restart", "turns": [
        {"write": {"path": "after.txt", "content": "after"}}, {"text": "ok"}]}]
    SRV.clear()
    p = wait_prompt(env, wid, send(env, wid, "After the restart"), 60)
    check(p["status"] == "completed" and p["commit_sha"], p)
    check(env.status(wid)["sessionId"] == session, "a new session was started")
    check(any("Interrupt me" in str(b["messages"]) for b in SRV.message_requests()),
          "the earlier conversation was not resumed")


test_killed_workletd_leaves_no_container.settings = {
    "ANTHROPIC_BASE_URL": SRV.url, "ANTHROPIC_API_KEY": API_KEY}


def test_no_network_is_reported(env):
    SRV.rules = [{"turns": [{"write": {"path": "n.txt", "content": "n"}}, {"text": "ok"}]}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    SRV.clear()
    p = wait_prompt(env, wid, send(env, wid, "Offline change"), 120)
    check(p["status"] == "error", p)
    check("WORKLET_AGENT_NETWORK=none" in p["error"] and "cannot reach the model API" in p["error"], p)
    check(SRV.message_requests() == [], "the API was reached without a network")
    check(agent_containers(wid) == [], "the agent container was left behind")
    check(tree_clean(env, wid), "tree not clean")


test_no_network_is_reported.settings = {
    "ANTHROPIC_BASE_URL": SRV.url, "ANTHROPIC_API_KEY": API_KEY,
    "WORKLET_AGENT_NETWORK": "none", "WORKLET_AGENT_CLI_RETRIES": 0,
    "WORKLET_AGENT_RETRIES": 0}


def test_missing_image_is_reported(env):
    SRV.rules = [{"turns": [{"write": {"path": "m.txt", "content": "m"}}, {"text": "ok"}]}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    p = wait_prompt(env, wid, send(env, wid, "Any change"), 60)
    check(p["status"] == "error" and "worklet-local/absent:none" in p["error"]
          and "WORKLET_AGENT_IMAGE" in p["error"], p)
    check(agent_containers(wid) == [], "a container was left behind")
    check(tree_clean(env, wid), "tree not clean")


test_missing_image_is_reported.settings = {
    "ANTHROPIC_BASE_URL": SRV.url, "ANTHROPIC_API_KEY": API_KEY,
    "WORKLET_AGENT_IMAGE": "worklet-local/absent:none"}


def test_host_mode_opt_in(env):
    # On the host the CLI runs as workletd's child, without Bash.
    SRV.rules = [{"match": "Host", "turns": [
        {"tool": {"name": "Bash", "input": {"command": "echo ran > bash.txt",
                                            "description": "try the shell"}}},
        {"write": {"path": "host.txt", "content": "host"}}, {"text": "ok"}]}]
    wid, _ = create(env)
    env.wait_phase(wid, "running", 240)
    p = wait_prompt(env, wid, send(env, wid, "Host mode edit"), 120)
    check(p["status"] == "completed" and p["commit_sha"], p)
    files = git_out(clone(env, wid), "ls-tree", "--name-only", "HEAD").split()
    check("host.txt" in files and "bash.txt" not in files, files)
    check(agent_containers(wid) == [], "host mode created an agent container")
    check(os.path.isdir(os.path.join(env.state, "claude", "projects")),
          "host mode did not use the shared config dir")


test_host_mode_opt_in.settings = {
    "ANTHROPIC_BASE_URL": SRV.url, "ANTHROPIC_API_KEY": API_KEY,
    "WORKLET_AGENT_SANDBOX": "host"}


if __name__ == "__main__":
    run([test_bash_runs_in_the_sandbox, test_git_dir_is_read_only,
         test_timeout_removes_the_container, test_cancel_removes_the_container,
         test_key_is_nowhere_while_a_prompt_runs,
         test_killed_workletd_leaves_no_container, test_no_network_is_reported,
         test_missing_image_is_reported, test_host_mode_opt_in], "agent-sandbox")
