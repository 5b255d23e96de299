"""workletctl, the command-line client, against the running service: every
command as a user would type it, with the exit codes and one-line messages
scripts rely on (unknown id, bad manifest, server down, bad token), the
config file, bash completion, apply/get round trips, live watch and log
streams, a prompt through the real Claude Code CLI and the scripted
Messages API server showing its progress, and a pull request against the
git smart-HTTP server and the scripted GitHub server."""

import json
import os
import queue
import re
import subprocess
import threading
import time

import yaml

from git_http import GitHTTPServer
from scripted_claude import ScriptedClaude
from scripted_github import ScriptedGitHub
from wltest import FIXTURES, WORKLETD, check, free_port, run

CTL = os.path.join(os.path.dirname(WORKLETD), "workletctl")
COMMANDS = ["apply", "get", "describe", "delete", "start", "stop", "restart", "prompt",
            "prompts", "logs", "pr", "watch", "open", "completion", "help"]

GH_TOKEN = "ghp_e2e_ctl_" + str(os.getpid()) + "_abcdef012345"
GIT = GitHTTPServer(token=GH_TOKEN).start()
GH = ScriptedGitHub(token=GH_TOKEN).start()
CLAUDE = ScriptedClaude([
    {"match": "Add a header", "turns": [
        {"write": {"path": "header.html", "content": "<header>h</header>"}},
        {"text": "Added the header."}]},
    {"match": "Add a footer", "turns": [
        {"write": {"path": "footer.html", "content": "<footer>f</footer>"}},
        {"text": "Added the footer."}]},
    {"match": "Break it", "turns": [
        {"error": {"status": 400, "type": "invalid_request_error",
                   "message": "scripted refusal"}}]},
]).start()
GIT_HOST = GIT.url.split("://", 1)[1].rstrip("/")


def ctl_env(env, user="alice", **extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("WORKLET")}
    e["HOME"] = env.tmp  # no config file of the developer's
    e.pop("XDG_CONFIG_HOME", None)
    e["WORKLET_SERVER"] = env.base_url
    e["WORKLET_TOKEN"] = env.tokens[user] if user else ""
    e.update(extra)
    return e


def no_token_in(env, *texts):
    for text in texts:
        for tok in env.tokens.values():
            check(tok not in (text or ""), "a token was printed: %r" % text)


def ctl(env, *args, user="alice", stdin=None, timeout=120, **extra):
    """Run workletctl; returns the CompletedProcess (text)."""
    p = subprocess.run([CTL] + list(args), env=ctl_env(env, user, **extra),
                       input=stdin, capture_output=True, text=True, timeout=timeout)
    no_token_in(env, p.stdout, p.stderr)
    return p


def ok(env, *args, **kw):
    p = ctl(env, *args, **kw)
    check(p.returncode == 0, "workletctl %s: rc %d\nstdout: %s\nstderr: %s"
          % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def fails(env, code, needle, *args, **kw):
    """workletctl args exits code with needle in a one-line stderr."""
    p = ctl(env, *args, **kw)
    check(p.returncode == code and any(
        line.startswith("workletctl: ") and needle in line for line in p.stderr.splitlines()),
          "workletctl %s: want rc %d and a line 'workletctl: ...%s...'; got rc %d\n"
          "stdout: %s\nstderr: %s"
          % (" ".join(args), code, needle, p.returncode, p.stdout, p.stderr))
    return p


def resource(env, wid):
    return json.loads(ok(env, "get", wid, "-o", "json").stdout)


def wait_phase(env, wid, phase, timeout=240, generation=None):
    """Until `get -o json` shows phase (for generation, when given)."""
    deadline = time.time() + timeout
    doc = None
    while time.time() < deadline:
        doc = resource(env, wid)
        st = doc.get("status", {})
        if st.get("phase") == phase and (
                generation is None or st.get("observedGeneration") == generation):
            return doc
        time.sleep(0.3)
    raise AssertionError("%s never reached %s: %r" % (wid, phase, doc))


def manifest(path, wid, repo, with_id=True, **spec):
    doc = {"apiVersion": "worklet.dev/v1", "kind": "Worklet",
           "metadata": {"name": "ctl test"}, "spec": {"gitRepo": repo}}
    if with_id:
        doc["metadata"]["id"] = wid
    doc["spec"].update(spec)
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return path


class Lines:
    """A background workletctl whose stdout and stderr lines are queued."""

    def __init__(self, env, *args):
        self.proc = subprocess.Popen([CTL] + list(args), env=ctl_env(env),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.out, self.err = queue.Queue(), queue.Queue()
        self.seen = []
        for stream, q in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, q), daemon=True).start()

    @staticmethod
    def _pump(stream, q):
        for line in stream:
            q.put(line.rstrip("\n"))
        q.put(None)

    def wait_for(self, pred, timeout=60, q=None, poke=None):
        """Read lines until pred(line); poke() is called between reads."""
        q = q or self.out
        deadline = time.time() + timeout
        while time.time() < deadline:
            if poke:
                poke()
            try:
                line = q.get(timeout=0.5)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("workletctl ended (rc %s) before the line; seen %r"
                                     % (self.proc.wait(), self.seen))
            self.seen.append(line)
            if pred(line):
                return line
        raise AssertionError("no such line in %.0fs; seen %r" % (timeout, self.seen))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)


# -- tests -----------------------------------------------------------------------

def test_help_usage_and_errors(env):
    p = ok(env, "--help")
    check("Exit codes" in p.stdout and "WORKLET_TOKEN" in p.stdout, p.stdout)
    for cmd in COMMANDS:
        p = ok(env, cmd, "--help")
        check(p.stdout.startswith("usage: workletctl " + cmd), (cmd, p.stdout))
        check("Exit codes" in p.stdout, (cmd, p.stdout))
        check(ok(env, "help", cmd).stdout == p.stdout, cmd)
    p = ctl(env)
    check(p.returncode == 1 and "usage: workletctl" in p.stderr, p)
    fails(env, 1, "unknown command 'frobnicate'", "frobnicate")
    fails(env, 1, "unknown flag '--bogus'", "get", "--bogus")
    fails(env, 1, "-f FILE|DIR is required", "apply")
    fails(env, 1, "--title is required", "pr", "w1")
    fails(env, 1, "-o: must be json, yaml or name", "get", "-o", "xml")
    check(re.fullmatch(r"workletctl \S+\n", ok(env, "--version").stdout), "version")

    # The server is down: exit 3, and the message says where and why.
    repo = env.make_repo("static")
    good = manifest(os.path.join(env.tmp, "good.yaml"), "good-1", repo)
    down = "http://127.0.0.1:%d" % free_port()
    want = "workletctl: cannot reach the worklet server at %s: connection refused\n" % down
    for args in (["get"], ["describe", "w1"], ["apply", "-f", good], ["watch"],
                 ["logs", "w1", "-f"], ["prompt", "w1", "hi"], ["delete", "w1"]):
        p = ctl(env, *args, WORKLET_SERVER=down)
        check(p.returncode == 3 and p.stderr == want, (args, p.returncode, p.stderr))
    # --server wins over the environment.
    p = ctl(env, "--server", down, "get")
    check(p.returncode == 3 and p.stderr == want, p.stderr)

    # Credentials: a wrong token, none at all.
    wrong = "tok-wrong-" + "x" * 20
    p = fails(env, 5, "invalid token", "get", WORKLET_TOKEN=wrong)
    check(wrong not in p.stderr + p.stdout, "the token was printed")
    fails(env, 5, "authentication required", "get", user=None)

    # An unknown id: exit 2, named, for every command that takes one.
    for args in (["get", "nope-1"], ["describe", "nope-1"], ["delete", "nope-1"],
                 ["start", "nope-1"], ["stop", "nope-1"], ["restart", "nope-1"],
                 ["prompts", "nope-1"], ["logs", "nope-1"], ["logs", "nope-1", "-f"],
                 ["open", "nope-1"], ["watch", "nope-1"], ["prompt", "nope-1", "hi"],
                 ["prompt", "--no-wait", "nope-1", "hi"],
                 ["pr", "nope-1", "--title", "t"], ["get", "nope-1", "-o", "yaml"]):
        fails(env, 2, "worklet 'nope-1' not found", *args)

    # Bad manifests: exit 4 with the field named (the local parser, with
    # the line), before anything is sent.
    bad = os.path.join(env.tmp, "bad.yaml")
    cases = [
        ("metadata:\n  id: b1\nspec:\n  gitRep: %s\n" % repo, "spec.gitRep: unknown field (line 6)"),
        ("metadata:\n  id: b1\nspec:\n  gitRepo: %s\n  containerPort: web\n" % repo,
         "spec.containerPort: must be an integer (line 7)"),
        ("metadata:\n  id: b1\nspec:\n  gitRepo: ssh://host/repo.git\n",
         "spec.gitRepo: must be an https URL"),
        ("metadata:\n  id: Bad_Id\nspec:\n  gitRepo: %s\n" % repo, "metadata.id: must be a DNS label"),
    ]
    for body, needle in cases:
        with open(bad, "w") as f:
            f.write("apiVersion: worklet.dev/v1\nkind: Worklet\n" + body)
        fails(env, 4, "bad.yaml: " + needle, "apply", "-f", bad)
    # ... and the server's word on what only it can judge: an id that
    # belongs to someone else.
    taken = os.path.join(env.tmp, "taken.yaml")
    manifest(taken, "taken-" + str(os.getpid()), repo, runState="stopped")
    env.ids.append("taken-" + str(os.getpid()))
    ok(env, "apply", "-f", taken, user="bob")
    fails(env, 4, "is taken", "apply", "-f", taken)
    p = ctl(env, "get")
    check(p.returncode == 0 and p.stdout == "" and "No worklets" in p.stderr, p)

    # The config file: server and token from it, refused while others can
    # read the token; flags and the environment win over it.
    cfg = os.path.join(env.tmp, "ctl.yaml")
    with open(cfg, "w") as f:
        f.write("server: %s\ntoken: %s\n" % (env.base_url, env.tokens["bob"]))
    os.chmod(cfg, 0o644)
    p = fails(env, 1, "can be read by others", "get", user=None, WORKLET_SERVER="",
              WORKLETCTL_CONFIG=cfg)
    check("chmod 600" in p.stderr, p.stderr)
    os.chmod(cfg, 0o600)
    p = ok(env, "get", "-o", "name", user=None, WORKLET_SERVER="", WORKLETCTL_CONFIG=cfg)
    check(p.stdout.split() == ["taken-" + str(os.getpid())], p.stdout)
    p = ok(env, "get", "-o", "name", WORKLET_SERVER="", WORKLETCTL_CONFIG=cfg)
    check(p.stdout == "", "WORKLET_TOKEN (alice) did not win: %r" % p.stdout)
    os.makedirs(os.path.join(env.tmp, ".config", "workletctl"))
    os.rename(cfg, os.path.join(env.tmp, ".config", "workletctl", "config.yaml"))
    p = ok(env, "get", "-o", "name", user=None, WORKLET_SERVER="")
    check(p.stdout.split() == ["taken-" + str(os.getpid())], "default config path")
    with open(cfg, "w") as f:
        f.write("server: %s\ntokn: x\n" % env.base_url)
    fails(env, 1, "'tokn': unknown key", "get", WORKLETCTL_CONFIG=cfg)
    fails(env, 1, "cannot read the config file", "get",
          WORKLETCTL_CONFIG=os.path.join(env.tmp, "missing.yaml"))

    # Bash completion: commands, then flags of the command.
    script = ok(env, "completion", "bash").stdout
    check("complete -F _workletctl workletctl" in script, script)

    def complete(*words):
        prog = ('source /dev/stdin; COMP_WORDS=(%s); COMP_CWORD=%d; _workletctl; '
                'echo "${COMPREPLY[*]}"' % (" ".join("'%s'" % w for w in words),
                                            len(words) - 1))
        e = ctl_env(env, "bob", PATH=os.path.dirname(CTL) + ":" + os.environ["PATH"])
        return subprocess.run(["bash", "-c", prog], input=script, env=e, check=True,
                              capture_output=True, text=True).stdout.split()
    check(complete("workletctl", "st") == ["start", "stop"], complete("workletctl", "st"))
    check(complete("workletctl", "logs", "w", "--f") == ["--follow"], "flags")
    check(complete("workletctl", "get", "-o", "") == ["json", "yaml", "name"], "-o")
    check(complete("workletctl", "describe", "") == ["taken-" + str(os.getpid())],
          "ids: %r" % complete("workletctl", "describe", ""))


def test_apply_get_watch_logs_lifecycle(env):
    repo = env.make_repo("static")
    web, paused = env.new_id("ctl-web"), env.new_id("ctl-paused")
    mdir = os.path.join(env.tmp, "manifests")
    os.makedirs(mdir)
    # The file name gives the first one its id; the second names its own.
    manifest(os.path.join(mdir, web + ".yaml"), web, repo, with_id=False, env={"A": "1"})
    manifest(os.path.join(mdir, "paused.yaml"), paused, repo, runState="stopped")
    with open(os.path.join(mdir, "README.txt"), "w") as f:
        f.write("not a manifest\n")

    watch = Lines(env, "watch")
    try:
        watch.wait_for(lambda l: l.startswith("watching all your worklets"), 20, watch.err)
        p = ok(env, "apply", "-f", mdir)
        # In file name order: ctl-web-*.yaml, then paused.yaml.
        check(p.stdout.splitlines() == ["worklet/%s created" % web,
                                        "worklet/%s created" % paused], p.stdout)
        # watch: one line per event, the phases in order.
        watch.wait_for(lambda l: "  %s  condition Ready=True" % web in l, 240)
        phases = [l.split("  phase ")[1] for l in watch.seen if "  %s  phase " % web in l]
        check(phases == ["creating", "building (was creating)", "deploying (was building)",
                         "running (was deploying)"], watch.seen)
        check(any("  %s  phase stopped" % paused in l for l in watch.seen), watch.seen)
    finally:
        watch.stop()

    doc = wait_phase(env, web, "running", 60)
    check(doc["kind"] == "Worklet" and doc["metadata"]["userId"] == "alice" and
          doc["spec"]["env"] == {"A": "1"}, doc)
    wait_phase(env, paused, "stopped", 60)

    # get: a table, JSON, YAML (a WorkletList), names.
    lines = ok(env, "get").stdout.splitlines()
    check(lines[0].split() == ["ID", "NAME", "STATUS", "COMMIT", "AGE", "URL"], lines)
    rows = {l.split()[0]: l for l in lines[1:]}
    check(set(rows) == {web, paused}, rows)
    check(" running " in rows[web] and " stopped " in rows[paused], rows)
    lst = yaml.safe_load(ok(env, "get", "-o", "yaml").stdout)
    check(lst["kind"] == "WorkletList" and
          sorted(i["metadata"]["id"] for i in lst["items"]) == sorted([web, paused]), lst)
    lst = json.loads(ok(env, "get", "-o", "json").stdout)
    check(len(lst["items"]) == 2, lst)
    check(sorted(ok(env, "get", "-o", "name").stdout.split()) == sorted([web, paused]), "names")

    # What get -o yaml prints applies again, unchanged; a change is applied.
    out = os.path.join(env.tmp, "web-out.yaml")
    with open(out, "w") as f:
        f.write(ok(env, "get", web, "-o", "yaml").stdout)
    check(ok(env, "apply", "-f", out).stdout == "worklet/%s unchanged\n" % web, "re-apply")
    check(resource(env, web)["metadata"]["generation"] == 1, "generation moved")
    manifest(os.path.join(mdir, web + ".yaml"), web, repo, with_id=False, env={"A": "2"})
    p = ok(env, "apply", "-f", os.path.join(mdir, web + ".yaml"))
    check(p.stdout == "worklet/%s configured\n" % web, p.stdout)
    doc = wait_phase(env, web, "running", 120, generation=2)
    check(doc["spec"]["env"] == {"A": "2"}, doc)
    # stdin, with the id in the document.
    p = ok(env, "apply", "-f", "-", stdin=ok(env, "get", paused, "-o", "yaml").stdout)
    check(p.stdout == "worklet/%s unchanged\n" % paused, p.stdout)

    # describe
    d = ok(env, "describe", web).stdout
    for needle in ("Id:             " + web, "Status:         running", "Conditions:",
                   "Ready", "HealthCheckPassed", "Detection:", "static", "A=2",
                   "Prompts:        0", "Pull request:   -", "Build output"):
        check(needle in d, "describe lacks %r:\n%s" % (needle, d))

    # open prints a sign-in link for a browser; web_url is the lasting one.
    url = ok(env, "open", web).stdout.strip()
    check(url.startswith("http://%s.worklet.localhost:%d/__worklet/login?ticket=" %
                         (web, env.api_port)), url)
    path = "/api/worklet/worklets/%s/proxy/" % web

    def hit(marker):
        code, body, _ = env.api("GET", path + "?" + marker)
        check(code == 200 and "worklet" in str(body), (code, body))

    wait_proxy = time.time() + 60
    while env.api("GET", path)[0] != 200 and time.time() < wait_proxy:
        time.sleep(0.3)
    hit("ctl-marker-1")
    deadline = time.time() + 20
    while "ctl-marker-1" not in ok(env, "logs", web).stdout:
        check(time.time() < deadline, "logs never showed the request")
        time.sleep(0.3)
    check("Successfully built" in ok(env, "logs", web, "--build").stdout, "build output")
    check(len(ok(env, "logs", web, "--tail", "1").stdout.splitlines()) == 1, "--tail 1")

    # logs -f: the app's output as it comes.
    follow = Lines(env, "logs", web, "-f", "--tail", "0")
    try:
        last = [0]

        def poke():
            if time.time() - last[0] > 0.5:
                last[0] = time.time()
                hit("ctl-follow-2")
        follow.wait_for(lambda l: "ctl-follow-2" in l, 30, poke=poke)
    finally:
        follow.stop()

    # logs --build -f: the next build's lines, as they come, until it ends.
    build = Lines(env, "logs", web, "--build", "-f", "--tail", "0")
    try:
        time.sleep(0.5)  # connected (the tail is empty: nothing to wait for)
        env.commit_file(repo, "index.html", "<h1>worklet v2</h1>\n", "v2")
        build.wait_for(lambda l: l.startswith("Successfully built"), 120)
        check(build.proc.wait(timeout=60) == 0, "logs --build -f did not end with the build")
        check(any(l.startswith("Step 1/") for l in build.seen), build.seen)
    finally:
        build.stop()
    wait_phase(env, web, "running", 120)

    # stop, start, restart; a single-worklet watch ends when it is deleted.
    check(ok(env, "stop", web).stdout == "worklet/%s stopped\n" % web, "stop")
    wait_phase(env, web, "stopped", 60)
    check(ok(env, "start", web).stdout == "worklet/%s started\n" % web, "start")
    wait_phase(env, web, "running", 120)
    check(ok(env, "restart", web).stdout == "worklet/%s restarted\n" % web, "restart")
    check(resource(env, web)["spec"].get("restartedAt"), "no restart marker")
    check(ok(env, "start", paused).stdout == "worklet/%s started\n" % paused, "start")
    check(resource(env, paused)["spec"].get("runState", "running") == "running", "runState")

    one = Lines(env, "watch", paused, "-o", "json")
    try:
        one.wait_for(lambda l: l.startswith("watching worklet " + paused), 20, one.err)
        p = ok(env, "delete", paused, "--wait", timeout=200)
        check(p.stdout == "worklet/%s deleted\n" % paused, p.stdout)
        one.wait_for(lambda l: json.loads(l).get("type") == "deleted", 30)
        check(one.proc.wait(timeout=10) == 0, "watch did not end with its worklet")
        events = [json.loads(l) for l in one.seen[1:]]  # after "watching..."
        check(events and all(e["worklet_id"] == paused for e in events), one.seen)
    finally:
        one.stop()
    fails(env, 2, "worklet '%s' not found" % paused, "get", paused)
    p = ok(env, "delete", web)
    check(p.stdout == "worklet/%s deletion requested\n" % web, p.stdout)
    fails(env, 4, "is being deleted", "start", web)


def test_prompt_and_pull_request(env):
    GIT.create_repo("acme/ctl", from_dir=os.path.join(FIXTURES, "static"))
    GH.add_repo("acme/ctl", default_branch="main", git_dir=GIT.repo_path("acme/ctl"),
                clone_url=GIT.url_for("acme/ctl"))
    wid = env.new_id("ctl-pr")
    ok(env, "apply", "-f", manifest(os.path.join(env.tmp, "pr.yaml"), wid,
                                    GIT.url_for("acme/ctl")))
    wait_phase(env, wid, "running", 240)

    # prompt waits, showing the agent's progress, then the response and commit.
    p = ok(env, "prompt", wid, "Add a header", timeout=240)
    check("Added the header." in p.stdout, p.stdout)
    m = re.search(r"^commit: ([0-9a-f]{40})$", p.stdout, re.M)
    check(m, p.stdout)
    check(re.search(r"^  tool: Write .*header\.html", p.stderr, re.M), p.stderr)
    check("stage: building" in p.stderr and "completed" in p.stderr, p.stderr)
    code, prompts, _ = env.api("GET", "/api/worklet/worklets/%s/prompts" % wid)
    check(prompts["prompts"][-1]["commit_sha"] == m.group(1), prompts)

    # --no-wait prints the prompt id at once; prompts lists the history.
    p = ok(env, "prompt", "--no-wait", wid, "-", stdin="Add a footer\n")
    pid = p.stdout.strip()
    check(re.fullmatch(r"p[0-9]{13}[0-9a-f]{6}", pid), p.stdout)
    deadline = time.time() + 120
    while True:
        lst = json.loads(ok(env, "prompts", wid, "-o", "json").stdout)
        if lst["processing"] == 0:
            break
        check(time.time() < deadline, "the footer prompt never finished: %r" % lst)
        time.sleep(0.3)
    check(lst["count"] == 2 and lst["prompts"][1]["id"] == pid and
          lst["prompts"][1]["status"] == "completed", lst)
    table = ok(env, "prompts", wid).stdout.splitlines()
    check(table[0].split()[:3] == ["ID", "STATUS", "STAGE"] and len(table) == 3, table)
    check(pid in table[2] and "completed" in table[2] and "Add a footer" in table[2], table)

    # A prompt that ends in error: exit 6, the error named.
    fails(env, 6, "scripted refusal", "prompt", wid, "Break it", timeout=120)

    # pr opens the pull request, then updates it.
    p = ok(env, "pr", wid, "--title", "Header and footer", "--description",
           "Made with workletctl.", timeout=200)
    m = re.fullmatch(r"pull request #(\d+) opened: (\S+)\n", p.stdout)
    check(m and m.group(2).endswith("/acme/ctl/pull/" + m.group(1)), p.stdout)
    check("worklet/%s -> main" % wid in p.stderr, p.stderr)
    pulls = GH.pulls("acme/ctl")
    check(len(pulls) == 1 and pulls[0]["title"] == "Header and footer" and
          "Made with workletctl." in pulls[0]["body"], pulls)
    p = ok(env, "pr", wid, "-t", "Header and footer, v2", timeout=200)
    check(p.stdout == "pull request #%s updated: %s\n" % (m.group(1), m.group(2)), p.stdout)
    d = ok(env, "describe", wid).stdout
    check("Pull request:   #%s %s" % (m.group(1), m.group(2)) in d, d)
    check("Prompts:        3 (0 processing)" in d and "Add a header" in d, d)
    check("scripted refusal" in d, d)
    # GitHub's validation error comes back as invalid input (exit 4).
    GH.failures = [{"kind": "validation", "path": "/pulls", "times": 1,
                    "errors": [{"resource": "PullRequest", "field": "base",
                                "code": "invalid"}]}]
    try:
        fails(env, 4, "422", "pr", wid, "--title", "t", timeout=200)
    finally:
        GH.failures = []
    no_token_in(env, d)


if __name__ == "__main__":
    try:
        run([test_help_usage_and_errors, test_apply_get_watch_logs_lifecycle,
             test_prompt_and_pull_request], "workletctl",
            GITHUB_TOKEN=GH_TOKEN, WORKLET_GIT_TOKEN_HOSTS=GIT_HOST,
            WORKLET_GITHUB_API_URL=GH.api_url,
            ANTHROPIC_BASE_URL=CLAUDE.url, ANTHROPIC_API_KEY="sk-e2e-ctl",
            WORKLET_AGENT_RETRIES=0, WORKLET_AGENT_CLI_RETRIES=0,
            WORKLET_AGENT_TIMEOUT_SECONDS=60)
    finally:
        GIT.stop()
        GH.stop()
        CLAUDE.stop()
