"""A full state directory (a 2 MiB tmpfs, filled up): every API write fails
cleanly with 507 and a clear message, reads still answer, the controller
logs its failed writes and goes on, nothing already stored changes or stops
parsing, no temp file is left; once space is freed everything works again
(the controller catches up, creates, prompts and deletes go through).
Needs root (mount)."""

import errno
import json
import os
import subprocess
import threading
import time

import yaml

from scripted_claude import ScriptedClaude
from wltest import check, containers, run

SRV = ScriptedClaude([
    {"match": "Add a page", "turns": [
        {"write": {"path": "page.html", "content": "<p>page</p>"}}, {"text": "ok"}]},
    {"match": "Slow change", "turns": [
        {"write": {"path": "slow.html", "content": "<p>slow</p>"}, "delay": 4},
        {"text": "done slowly"}]}]).start()
W = "/api/worklet/worklets"


def mount_state(env, size="2m"):
    """Restart env's workletd on a fresh tmpfs of `size` as its state dir."""
    env.stop()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size,
                    "tmpfs", env.state], check=True)
    os.makedirs(os.path.join(env.state, "specs"))
    env.start()
    env.wait_api()


def umount_state(env):
    env.stop()
    subprocess.run(["umount", env.state], check=False)


def fill(path):
    """Write `path` until the file system says it is full."""
    chunk = b"x" * 65536
    with open(path, "wb") as f:
        while True:
            try:
                f.write(chunk)
                f.flush()
            except OSError as e:
                check(e.errno == errno.ENOSPC, "filling: %s" % e)
                break
    # The last partial page too, byte by byte in small pieces.
    with open(path, "ab", buffering=0) as f:
        for size in (4096, 512, 64, 1):
            while True:
                try:
                    f.write(b"x" * size)
                except OSError:
                    break


def snapshot(state):
    """Every stored file but the filler and the logs: path -> bytes."""
    out = {}
    for root, _, files in os.walk(state):
        for name in files:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, state)
            if rel == "filler" or rel.startswith("logs/"):
                continue
            with open(path, "rb") as f:
                out[rel] = f.read()
    return out


def check_parses(state):
    for root, _, files in os.walk(state):
        for name in files:
            path = os.path.join(root, name)
            check(".tmp-" not in name, "temp file left: %s" % path)
            if name.endswith(".yaml"):
                with open(path) as f:
                    check(isinstance(yaml.safe_load(f), dict), "%s is not a mapping" % path)
            elif name.endswith(".json"):
                with open(path) as f:
                    json.load(f)


def expect_507(res, what):
    code, body, _ = res
    check(code == 507, "%s: expected 507, got %s %r" % (what, code, body))
    err = body["error"]
    check(err["code"] == "insufficient_storage" and "full" in err["message"] and
          "/" not in err["message"], "%s: %r" % (what, err))


def wait_prompt(env, wid, pid, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        code, p, _ = env.api("GET", "%s/%s/prompts/%s" % (W, wid, pid))
        check(code == 200, (code, p))
        if p["status"] != "processing":
            return p
        time.sleep(0.2)
    raise AssertionError("prompt %s stuck" % pid)


def create(env, repo):
    code, w, _ = env.api("POST", W, {"name": "disk", "git_repo": repo})
    check(code == 201, (code, w))
    env.ids.append(w["id"])
    return w["id"]


def test_full_state_dir(env):
    mount_state(env)
    try:
        full_state_dir(env)
    finally:
        umount_state(env)


def full_state_dir(env):
    repo = env.make_repo("static")
    wid = create(env, repo)
    plain_repo = env.make_repo("static", "plain")
    plain = create(env, plain_repo)  # no prompts: follows its branch
    env.wait_phase(wid, "running", 240)
    plain_st = env.wait_phase(plain, "running", 240)
    p = wait_prompt(env, wid, env.api("POST", "%s/%s/prompt" % (W, wid),
                                      {"prompt": "Add a page"})[1]["id"])
    check(p["status"] == "completed", p)
    st = env.wait(wid, lambda s: s.get("phase") == "running" and
                  s.get("servingCommit") == p["commit_sha"], 120, "rolled out")
    time.sleep(3)  # a resync or two: nothing left to write
    filler = os.path.join(env.state, "filler")
    fill(filler)
    before = snapshot(env.state)
    check(any(k.startswith("prompts/") for k in before), sorted(before))

    # The API: every write is refused, cleanly; reads still answer.
    expect_507(env.api("POST", W, {"name": "x", "git_repo": repo}), "create")
    expect_507(env.api("POST", "%s/%s/prompt" % (W, wid), {"prompt": "Add a page"}),
               "prompt")
    expect_507(env.api("POST", "%s/%s/stop" % (W, wid)), "stop")
    expect_507(env.api("DELETE", "%s/%s" % (W, wid)), "delete")
    code, doc, _ = env.api("GET", "%s/%s?format=resource" % (W, wid))
    check(code == 200, (code, doc))
    doc.pop("status", None)
    doc["spec"]["env"] = {"A": "1"}
    expect_507(env.api("PUT", "%s/%s" % (W, wid), doc), "put (replace)")
    doc["metadata"] = {"name": "put-new", "id": "put-new"}
    expect_507(env.api("PUT", "%s/put-new" % W, doc), "put (create)")
    code, body, _ = env.api("GET", "%s/%s" % (W, wid))
    check(code == 200 and body["status"] == "running", (code, body))
    check(env.api("GET", W)[0] == 200, "list failed")
    check(env.api("GET", "/healthz", user=None)[0] == 200, "healthz failed")

    # The controller: a new commit is fetched, built and rolled out, but no
    # status can be written; it says so and keeps going.
    env.commit_file(plain_repo, "new.html", "<p>new</p>", "upstream change")
    deadline = time.time() + 60
    while time.time() < deadline and "cannot write status" not in env.logs():
        time.sleep(0.5)
    check("cannot write status" in env.logs() and "No space left on device" in env.logs(),
          "the controller did not report its failed write:\n" + "\n".join(
              l for l in env.logs().splitlines()[-400:] if " debug " not in l))
    time.sleep(3)
    check(env.proc.poll() is None, "workletd died")
    after = snapshot(env.state)
    check(after == before, "stored files changed while full: %s" % sorted(
        k for k in set(before) | set(after) if before.get(k) != after.get(k)))
    check_parses(env.state)

    # Space again: the controller catches up, writes go through.
    os.unlink(filler)
    sha = subprocess.run(["git", "-C", plain_repo, "rev-parse", "HEAD"], check=True,
                         capture_output=True, text=True).stdout.strip()
    env.wait(plain, lambda s: s.get("phase") == "running" and s.get("servingCommit") == sha,
             120, "the upstream change rolled out")
    env.wait(plain, lambda s: len(containers(plain)) == 1, 30, "old container removed")
    check(plain_st["webUrl"] == env.status(plain)["webUrl"], "web_url changed")
    check(env.status(wid)["servingCommit"] == st["servingCommit"], "the other one moved")
    wid2 = create(env, env.make_repo("static", "second"))
    env.wait_phase(wid2, "running", 240)
    code, pr, _ = env.api("POST", "%s/%s/prompt" % (W, wid2), {"prompt": "Add a page"})
    check(code == 202, (code, pr))
    check(wait_prompt(env, wid2, pr["id"])["status"] == "completed", "prompt failed")
    check(env.api("DELETE", "%s/%s" % (W, wid))[0] == 202, "delete failed")
    env.wait(wid, lambda s: not os.path.exists(env.spec_path(wid)) and
             not containers(wid), 60, "deleted")
    check_parses(env.state)


class KeepFull:
    """Fill the state directory and keep it full (whatever is freed, e.g.
    by a rename over an older file, is taken again) until closed."""

    def __init__(self, state):
        self.state, self.stop = state, threading.Event()
        fill(os.path.join(state, "filler"))
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            fill(os.path.join(self.state, "filler%d" % n))
            time.sleep(0.02)

    def close(self):
        self.stop.set()
        self.thread.join()
        for name in os.listdir(self.state):
            if name.startswith("filler"):
                os.unlink(os.path.join(self.state, name))


def test_prompt_finishing_on_a_full_disk(env):
    """The agent finishes and commits while the disk is full: the record of
    the commit is waited for, not dropped; the agent is not run again and
    the prompt completes with its commit once space is back."""
    mount_state(env)
    try:
        wid = create(env, env.make_repo("static"))
        env.wait_phase(wid, "running", 240)
        SRV.clear()
        code, p, _ = env.api("POST", "%s/%s/prompt" % (W, wid), {"prompt": "Slow change"})
        check(code == 202, (code, p))
        deadline = time.time() + 30
        while env.api("GET", "%s/%s/prompts/%s" % (W, wid, p["id"]))[1]["stage"] != "running":
            check(time.time() < deadline, "the agent never started")
            time.sleep(0.1)
        full = KeepFull(env.state)
        try:
            time.sleep(12)  # the agent's 4 s turn, the commit, failed writes
            check("waiting for space" in env.logs(), "the controller did not wait for space")
            check(env.proc.poll() is None, "workletd died")
        finally:
            full.close()
        done = wait_prompt(env, wid, p["id"])
        log = subprocess.run(["git", "-C", os.path.join(env.clones, wid), "log", "--format=%H %s"],
                             check=True, capture_output=True, text=True).stdout.splitlines()
        slow = [line.split()[0] for line in log if line.endswith(" Slow change")]
        check(done["status"] == "completed" and done["changed"] and
              done["response"] == "done slowly", done)
        check(len(slow) == 1 and done["commit_sha"] == slow[0], (done, log))
        runs = [b for b in SRV.message_requests() if "Slow change" in str(b["messages"])]
        check(len(runs) == 2, "the agent ran again: %d requests" % len(runs))
        env.wait(wid, lambda s: s.get("servingCommit") == slow[0], 120, "rolled out")
        check_parses(env.state)
    finally:
        umount_state(env)


if __name__ == "__main__":
    try:
        run([test_full_state_dir, test_prompt_finishing_on_a_full_disk], "disk",
            ANTHROPIC_BASE_URL=SRV.url, ANTHROPIC_API_KEY="sk-e2e-disk",
            WORKLET_AGENT_TIMEOUT_SECONDS=60, WORKLET_AGENT_CLI_RETRIES=0)
    finally:
        SRV.stop()
