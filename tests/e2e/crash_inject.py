#!/usr/bin/env python3
"""Crash injection: kill -9 of workletd at a random point of a create,
prompt, pull-request, delete or mixed flow, a restart, then the invariants
of a level-triggered controller are checked:

  - every worklet converges: running (or stopped, as desired), with
    observedGeneration == generation; deleted ones are gone (spec, status,
    containers, images, prompt files);
  - exactly one container per live worklet, none for anything else of this
    service's instance (no duplicates, no orphans);
  - no prompt lost (every 202-accepted prompt still exists) or stuck (each
    reaches completed or error within a bound); no agent process left over;
  - a pull request retried after the crash updates the same one (never two);
  - every state file parses (YAML / JSON) and no temp file is left.

Not a CTest file (no test_ prefix): hack/crash-test.sh drives it with a run
count; tests/e2e/test_crash_inject.py runs one fixed seed per flow.

    crash_inject.py [--runs N] [--seed S] [--flow F] [--base-seed B]

A failure prints its seed and flow; `--seed S --flow F --runs 1` replays it
(the delay and choices come from the seed; Docker's timing does not).
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse

import yaml

from git_http import GitHTTPServer
from scripted_claude import ScriptedClaude
from scripted_github import ScriptedGitHub
from wltest import FIXTURES, Env, Failure, docker, rand_suffix

FLOWS = ("create", "prompt", "pr", "delete", "mix")
# Log lines a kill may be aimed at (half the runs; the others kill after a
# random delay): the narrow windows between two steps of a flow.
MARKERS = {
    "create": ["created worklet", "phase creating -> building", "building worklet/",
               "built sha256", "created container", "ready at"],
    "prompt": ["sent prompt", "agent running", "committed", "building worklet/",
               "created container", "traffic switched", "completed", "removing container"],
    "pr": ["pushed", "pull request #"],
    "delete": ["deleted worklet", "removing container", "': deleted"],
    "mix": ["sent prompt", "deleted worklet", "stopping container", "created worklet",
            "building worklet/", "created container", "removing container"],
}
CONVERGE_SECONDS = 180
PROMPT_SECONDS = 150

TOKEN = "ghp_crash_" + str(os.getpid()) + "_abcdef0123456789"
_servers = {}


def servers():
    """The scripted Git, GitHub and Claude servers, started once."""
    if not _servers:
        _servers["git"] = GitHTTPServer(token=TOKEN).start()
        _servers["gh"] = ScriptedGitHub(token=TOKEN).start()
        _servers["claude"] = ScriptedClaude([]).start()
    return _servers["git"], _servers["gh"], _servers["claude"]


def stop_servers():
    for s in _servers.values():
        s.stop()
    _servers.clear()


def claude_rules(rng):
    """Every prompt "Change N" writes page-N.html after a random delay, so
    the kill lands before, during or after the agent's run."""
    return [{"match": "Change", "turns": [
        {"write": {"path": "page.html", "content": "<p>%s</p>" % rand_suffix()},
         "delay": round(rng.uniform(0, 1.5), 2)},
        {"text": "Changed."}]}]


def by_label(kind, label):
    q = urllib.parse.quote(json.dumps({"label": [label]}))
    _, out = docker("GET", "/%s/json?all=1&filters=%s" % (kind, q))
    return out or []


class Run:
    """One crash run: a fresh workletd, the flow, the kill, the checks."""

    def __init__(self, seed, flow):
        self.seed, self.flow = seed, flow
        self.rng = random.Random(seed)
        git, gh, claude = servers()
        self.git, self.gh, self.claude = git, gh, claude
        self.instance = "crash-%d-%s" % (seed, rand_suffix(4))
        self.env = Env("crash", WORKLET_INSTANCE=self.instance,
                       GITHUB_TOKEN=TOKEN,
                       WORKLET_GIT_TOKEN_HOSTS=git.url.split("://", 1)[1].rstrip("/"),
                       WORKLET_GITHUB_API_URL=gh.api_url,
                       ANTHROPIC_BASE_URL=claude.url, ANTHROPIC_API_KEY="sk-crash",
                       WORKLET_AGENT_TIMEOUT_SECONDS=60, WORKLET_AGENT_RETRIES=1,
                       WORKLET_AGENT_RETRY_BACKOFF_SECONDS=1,
                       WORKLET_AGENT_CLI_RETRIES=0)
        self.prompts = {}      # worklet id -> [accepted prompt ids]
        self.deleted = set()   # worklet ids whose DELETE was accepted
        self.stopped = set()   # worklet ids whose stop was accepted last
        self.pr_repo = None
        self.delay = 0.0
        self.marker = None
        self.log_start = 0
        self.sessions = set()

    # -- API helpers ---------------------------------------------------------
    def api(self, method, path, body=None, timeout=30):
        return self.env.api(method, "/api/worklet/worklets" + path, body, timeout=timeout)

    def create(self, repo, base_prompt=None):
        body = {"name": "crash", "git_repo": repo}
        if base_prompt:
            body["base_prompt"] = base_prompt
        code, w, _ = self.api("POST", "", body)
        if code != 201:
            raise Failure("create: %s %r" % (code, w))
        self.env.ids.append(w["id"])
        if base_prompt:
            self.prompts.setdefault(w["id"], [])
        return w["id"]

    def send(self, wid, text):
        code, p, _ = self.api("POST", "/%s/prompt" % wid, {"prompt": text})
        if code != 202:
            raise Failure("prompt: %s %r" % (code, p))
        self.prompts.setdefault(wid, []).append(p["id"])
        return p["id"]

    def wait_running(self, wid, timeout=CONVERGE_SECONDS):
        return self.env.wait_phase(wid, "running", timeout)

    def wait_prompt(self, wid, pid, timeout=PROMPT_SECONDS):
        deadline = time.time() + timeout
        p = None
        while time.time() < deadline:
            code, p, _ = self.api("GET", "/%s/prompts/%s" % (wid, pid))
            if code != 200:
                raise Failure("prompt %s of %s lost: %s %r" % (pid, wid, code, p))
            if p["status"] in ("completed", "error"):
                return p
            time.sleep(0.25)
        raise Failure("prompt %s of %s stuck: %r" % (pid, wid, p))

    def local_repo(self):
        return self.env.make_repo("static", "r-" + rand_suffix())

    def served_repo(self):
        name = "crash/r%d-%s" % (self.seed, rand_suffix())
        self.git.create_repo(name, from_dir=os.path.join(FIXTURES, "static"))
        self.gh.add_repo(name, default_branch="main", git_dir=self.git.repo_path(name),
                         clone_url=self.git.url_for(name))
        return name, self.git.url_for(name)

    def mark(self):
        """Where the flow's own log lines begin (for kill_at)."""
        self.log_start = len(self.env.logs())

    def kill_at(self, max_seconds):
        """kill -9 after a random delay up to max_seconds, or (half the
        runs) just after a random marker line of the flow is logged (a
        few ms later; after max_seconds + 20 s if it never comes)."""
        t0 = time.time()
        if self.rng.random() < 0.5:
            self.marker = self.rng.choice(MARKERS[self.flow])
            extra = self.rng.uniform(0, 0.05)
            deadline = t0 + max_seconds + 20
            while time.time() < deadline and \
                    self.marker not in self.env.logs()[self.log_start:]:
                time.sleep(0.005)
            time.sleep(extra)
        else:
            time.sleep(self.rng.uniform(0, max_seconds))
        self.delay = time.time() - t0
        self.env.kill9()

    def in_background(self, fn, *args):
        t = threading.Thread(target=self._quiet, args=(fn,) + args, daemon=True)
        t.start()
        return t

    @staticmethod
    def _quiet(fn, *args):
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - the kill cuts it short on purpose
            pass

    # -- flows ---------------------------------------------------------------
    def flow_create(self):
        self.mark()
        n = self.rng.randint(1, 2)
        for i in range(n):
            self.create(self.local_repo(),
                        "Change %d" % i if self.rng.random() < 0.5 else None)
        self.kill_at(4)

    def flow_prompt(self):
        wid = self.create(self.local_repo())
        self.wait_running(wid)
        self.mark()
        for i in range(self.rng.randint(1, 2)):
            self.send(wid, "Change %d" % i)
        self.kill_at(6)

    def flow_pr(self):
        name, url = self.served_repo()
        self.pr_repo = name
        wid = self.create(url)
        self.wait_running(wid)
        p = self.wait_prompt(wid, self.send(wid, "Change 1"))
        if p["status"] != "completed":
            raise Failure("the prompt before the PR failed: %r" % p)
        self.mark()
        self.in_background(self.api, "POST", "/%s/pr" % wid, {"title": "crash"}, 150)
        self.kill_at(2)

    def flow_delete(self):
        wid = self.create(self.local_repo())
        self.wait_running(wid)
        self.mark()
        if self.rng.random() < 0.5:
            self.send(wid, "Change 1")
            time.sleep(self.rng.uniform(0, 1))
        code, res, _ = self.api("DELETE", "/%s" % wid)
        if code != 202:
            raise Failure("delete: %s %r" % (code, res))
        self.deleted.add(wid)
        self.kill_at(2.5)

    def flow_mix(self):
        ids = [self.create(self.local_repo()) for _ in range(3)]
        for wid in ids:
            self.wait_running(wid)
        self.mark()
        actions = ["prompt", "delete", "stop", "restart", "create"]
        self.rng.shuffle(actions)
        for wid, action in zip(ids + [None, None], actions):
            if action == "prompt" and wid:
                self.send(wid, "Change 1")
            elif action == "delete" and wid:
                if self.api("DELETE", "/%s" % wid)[0] == 202:
                    self.deleted.add(wid)
            elif action in ("stop", "restart") and wid:
                if self.api("POST", "/%s/%s" % (wid, action))[0] == 202:
                    (self.stopped.add if action == "stop" else self.stopped.discard)(wid)
            elif action == "create":
                self.create(self.local_repo())
        self.kill_at(5)

    # -- checks --------------------------------------------------------------
    def adopt_unknown_specs(self):
        """A create cut short may have stored its spec before the answer."""
        for name in os.listdir(os.path.join(self.env.state, "specs")):
            if name.endswith(".yaml") and name[:-5] not in self.env.ids:
                self.env.ids.append(name[:-5])

    def converge(self):
        deadline = time.time() + CONVERGE_SECONDS
        for wid in self.env.ids:
            left = max(1, deadline - time.time())
            if wid in self.deleted:
                self.env.wait(wid, lambda s, w=wid: not os.path.exists(self.env.spec_path(w))
                              and not by_label("containers", "worklet.id=" + w), left, "deleted")
                continue
            want = "stopped" if wid in self.stopped else "running"
            self.env.wait(wid, lambda s: s.get("phase") == want and
                          s.get("observedGeneration") == self.generation(wid), left,
                          "phase %s at the spec's generation" % want)
        for wid, pids in self.prompts.items():
            if wid in self.deleted:
                continue
            code, ps, _ = self.api("GET", "/%s/prompts" % wid)
            if code != 200:
                raise Failure("prompts of %s: %s %r" % (wid, code, ps))
            have = {p["id"] for p in ps["prompts"]}
            lost = [p for p in pids if p not in have]
            if lost:
                raise Failure("prompts lost on %s: %s" % (wid, lost))
            for pid in have:
                self.wait_prompt(wid, pid)
            st = self.env.status(wid)
            if st.get("sessionId"):
                self.sessions.add(st["sessionId"])
        # A prompt that completed after the crash is rolled out: wait again.
        for wid in self.env.ids:
            if wid not in self.deleted:
                want = "stopped" if wid in self.stopped else "running"
                self.env.wait(wid, lambda s: s.get("phase") == want, CONVERGE_SECONDS,
                              "phase %s after the prompts" % want)

    def generation(self, wid):
        try:
            return self.env.read_manifest(wid)["metadata"]["generation"]
        except (OSError, KeyError, TypeError):
            return None

    def check_containers(self):
        live = [w for w in self.env.ids if w not in self.deleted]
        # Old containers of a rollout drain for a moment: allow it to end.
        deadline = time.time() + 30
        while True:
            problems = self.container_problems(live)
            if not problems or time.time() > deadline:
                break
            time.sleep(0.5)
        if problems:
            raise Failure("containers: " + "; ".join(problems))

    def container_problems(self, live):
        problems = []
        mine = by_label("containers", "worklet.instance=" + self.instance)
        per = {}
        for c in mine:
            per.setdefault(c["Labels"].get("worklet.id"), []).append(c)
        for wid, cs in per.items():
            if wid not in live:
                problems.append("orphan container(s) of %s: %s" % (
                    wid, [(c["Names"], c["State"]) for c in cs]))
        for wid in live:
            cs = per.get(wid, [])
            running = [c for c in cs if c["State"] == "running"]
            if wid in self.stopped:
                if running:
                    problems.append("%s is stopped but %d run" % (wid, len(running)))
            elif len(cs) != 1 or len(running) != 1:
                problems.append("%s has %d containers (%d running)" % (
                    wid, len(cs), len(running)))
        for wid in self.deleted:
            imgs = by_label("images", "worklet.id=" + wid)
            if imgs:
                problems.append("images of deleted %s: %d" % (wid, len(imgs)))
        return problems

    def check_pr(self):
        if not self.pr_repo:
            return
        wid = self.env.ids[0]
        code, res, _ = self.api("POST", "/%s/pr" % wid, {"title": "crash again"}, 150)
        if code not in (200, 201):
            raise Failure("PR after the restart: %s %r" % (code, res))
        pulls = self.gh.pulls(self.pr_repo)
        if len(pulls) != 1:
            raise Failure("%d pull requests for one worklet: %r" % (len(pulls), pulls))
        head = self.git.branches(self.pr_repo).get("worklet/" + wid)
        commit = self.env.status(wid).get("commit")
        if head != commit:
            raise Failure("pushed branch %s is not the worklet's commit %s" % (head, commit))

    def check_agents(self):
        for session in self.sessions:
            out = subprocess.run(["pgrep", "-f", session], capture_output=True, text=True)
            pids = [p for p in out.stdout.split() if int(p) != os.getpid()]
            if pids and self.no_prompt_running():
                raise Failure("agent processes of session %s left: %s" % (session, pids))

    def no_prompt_running(self):
        for wid in self.prompts:
            if wid in self.deleted:
                continue
            _, ps, _ = self.api("GET", "/%s/prompts" % wid)
            if any(p["status"] == "processing" for p in ps["prompts"]):
                return False
        return True

    def check_files(self):
        for root, _, files in os.walk(self.env.state):
            for name in files:
                path = os.path.join(root, name)
                if ".tmp-" in name:
                    # The running workletd's own write in flight is gone
                    # (renamed) a moment later; a leftover stays.
                    time.sleep(1)
                    if os.path.exists(path):
                        raise Failure("temp file left: %s" % path)
                    continue
                if name.endswith(".yaml"):
                    with open(path) as f:
                        doc = yaml.safe_load(f)
                    if not isinstance(doc, dict):
                        raise Failure("%s does not hold a mapping" % path)
                elif name.endswith(".json"):
                    with open(path) as f:
                        json.load(f)
        for wid in self.deleted:
            left = [n for n in os.listdir(os.path.join(self.env.state, "prompts"))
                    if n.startswith(wid + ".")] if os.path.isdir(
                        os.path.join(self.env.state, "prompts")) else []
            if left or os.path.exists(self.env.status_path(wid)):
                raise Failure("files of deleted %s left: %s" % (wid, left))

    def execute(self):
        """Returns (ok, message, seconds)."""
        t0 = time.time()
        self.claude.rules = claude_rules(self.rng)
        env = self.env
        try:
            env.start()
            env.wait_api()
            getattr(self, "flow_" + self.flow)()
            env.start()
            env.wait_api()
            self.adopt_unknown_specs()
            self.converge()
            self.check_containers()
            self.check_pr()
            self.check_agents()
            self.check_files()
            return True, "", time.time() - t0
        except Exception as e:  # noqa: BLE001 - every failure is reported with its seed
            tb = traceback.format_exc()
            log = "\n".join(env.logs().splitlines()[-60:])
            return False, "%s\n%s\n---- workletd log (last 60 lines) ----\n%s" % (
                e, tb, log), time.time() - t0
        finally:
            env.cleanup()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--seed", type=int, help="replay this seed (with --runs 1)")
    ap.add_argument("--base-seed", type=int, default=None,
                    help="seeds are base, base+1, ... (default: from the clock)")
    ap.add_argument("--flow", choices=FLOWS, help="only this flow")
    args = ap.parse_args(argv)
    # SIGTERM unwinds like ^C: the current run's workletd and containers go.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = args.seed if args.seed is not None else (
        args.base_seed if args.base_seed is not None else int(time.time()) % 100000 * 100)
    results = []
    marked = 0
    try:
        for i in range(args.runs):
            seed = base + i
            flow = args.flow or FLOWS[(seed if args.seed is None else seed) % len(FLOWS)]
            r = Run(seed, flow)
            ok, msg, secs = r.execute()
            results.append((seed, flow, ok, secs, r.delay, msg))
            marked += bool(r.marker)
            print("%s run %d/%d seed=%d flow=%s kill-after=%.2fs%s worklets=%d deleted=%d "
                  "prompts=%d %.1fs" % (
                      "ok  " if ok else "FAIL", i + 1, args.runs, seed, flow, r.delay,
                      " (at %r)" % r.marker if r.marker else "",
                      len(r.env.ids), len(r.deleted),
                      sum(len(v) for v in r.prompts.values()), secs), flush=True)
            if not ok:
                print(msg, flush=True)
    finally:
        stop_servers()
        summary(results)
        print("kills aimed at a log line: %d of %d" % (marked, len(results)))
    return 0 if results and all(r[2] for r in results) else 1


def summary(results):
    print("==== crash injection summary ====")
    print("runs: %d, passed: %d, failed: %d" % (
        len(results), sum(r[2] for r in results), sum(not r[2] for r in results)))
    for flow in FLOWS:
        rs = [r for r in results if r[1] == flow]
        if rs:
            secs = sorted(r[3] for r in rs)
            print("  %-7s runs %2d  failed %2d  median %.1fs  max %.1fs" % (
                flow, len(rs), sum(not r[2] for r in rs), secs[len(secs) // 2], secs[-1]))
    for seed, flow, ok, _, delay, msg in results:
        if not ok:
            print("  FAILED seed=%d flow=%s kill-after=%.2fs: %s   (replay: --seed %d --flow %s"
                  " --runs 1)" % (seed, flow, delay, msg.splitlines()[0], seed, flow))


if __name__ == "__main__":
    sys.exit(main())
