"""End-to-end test harness: drives the real workletd against the real Docker.

Each test process starts its own workletd with a private state directory,
clone directory and host port range, makes fixture git repositories with the
real git, writes manifests into the spec directory as a user would, and reads
the status files the controller writes. Everything it created in Docker
carries the worklet.id labels of its worklets and is removed at the end.
"""

import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

import yaml

SOURCE_DIR = os.environ.get(
    "WL_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
WORKLETD = os.environ.get("WORKLETD", os.path.join(SOURCE_DIR, "build", "workletd"))
FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures", "apps")
DOCKER_SOCK = "/var/run/docker.sock"


def local_images():
    """The base image names hack/env.sh exports (its defaults win over a
    developer's environment only where that is unset, as in hack/run.sh)."""
    out = subprocess.run(
        ["bash", "-c", 'source "$1" && env', "-", os.path.join(SOURCE_DIR, "hack", "env.sh")],
        check=True, capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines()
                if line.startswith("WORKLET_IMAGE_"))


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def docker(method, path, body=None):
    """One Docker Engine API call; returns (status, parsed JSON or text)."""
    conn = UnixHTTPConnection(DOCKER_SOCK)
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn.request(method, "/v1.41" + path, body=data, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    try:
        return resp.status, json.loads(raw) if raw else None
    except ValueError:
        return resp.status, raw.decode(errors="replace")


def containers(worklet_id=None, all_=True):
    label = "worklet.id=%s" % worklet_id if worklet_id else "worklet.managed=true"
    q = urllib.parse.quote(json.dumps({"label": [label]}))
    _, out = docker("GET", "/containers/json?all=%d&filters=%s" % (1 if all_ else 0, q))
    return out or []


AGENT_NETWORK = "worklet-e2e-agent"
BUILD_NETWORK = "worklet-e2e-build"


def agent_containers(worklet_id):
    """The agent sandbox containers of a worklet (worklet.agent-for)."""
    q = urllib.parse.quote(json.dumps({"label": ["worklet.agent-for=%s" % worklet_id]}))
    _, out = docker("GET", "/containers/json?all=1&filters=%s" % q)
    return out or []


def images(worklet_id):
    q = urllib.parse.quote(json.dumps({"label": ["worklet.id=%s" % worklet_id]}))
    _, out = docker("GET", "/images/json?filters=%s" % q)
    return out or []


def networks(instance):
    """This instance's worklet networks (user_network.c)."""
    q = urllib.parse.quote(json.dumps(
        {"label": ["worklet.managed=true", "worklet.instance=%s" % instance]}))
    _, out = docker("GET", "/networks?filters=%s" % q)
    return out or []


def http_get(port, path="/", timeout=5):
    """GET http://127.0.0.1:port/path; returns (status, body) or (0, error)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read().decode(errors="replace")
        conn.close()
        return resp.status, body
    except (OSError, http.client.HTTPException) as e:
        return 0, str(e)


def git(cwd, *args):
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.com")
    subprocess.run(["git", "-C", cwd] + list(args), check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rand_suffix(n=6):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


class Failure(Exception):
    pass


# What a sanitizer prints into workletd's output (hack/test-asan.sh runs
# the suites against a workletd built with ASan, UBSan and LSan).
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "WARNING: AddressSanitizer")


def sanitizer_report(text):
    """The sanitizer report in a process's output, from its first line, or
    None when there is none."""
    starts = [i for i in (text.find(m) for m in SANITIZER_MARKS) if i >= 0]
    if not starts:
        return None
    start = text.rfind("\n", 0, min(starts)) + 1
    return text[start:start + 6000]


class Env:
    """A private workletd and its directories."""

    def __init__(self, name, **settings):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="wl-e2e-%s-" % name)
        self.state = os.path.join(self.tmp, "state")
        self.clones = os.path.join(self.tmp, "clones")
        self.repos = os.path.join(self.tmp, "repos")
        os.makedirs(os.path.join(self.state, "specs"))
        os.makedirs(self.repos)
        self.ids = []
        self.proc = None
        self.log_path = os.path.join(self.tmp, "workletd.log")
        # App ports from a random block below the kernel's ephemeral range
        # (the pool also skips any port that does not bind); the API port
        # is one the kernel says is free.
        base = random.randrange(20000, 32000, 100)
        self.api_port = free_port()
        self.tokens = {"alice": "tok-alice-" + rand_suffix(24),
                       "bob": "tok-bob-" + rand_suffix(24)}
        self.tokens_file = os.path.join(self.tmp, "tokens")
        with open(self.tokens_file, "w") as f:
            f.write("# e2e users\n")
            for user, tok in self.tokens.items():
                f.write("%s %s\n" % (tok, user))
        os.chmod(self.tokens_file, 0o600)
        self.settings = {
            "WORKLET_STATE_DIR": self.state,
            "WORKLET_BASE_DIR": self.clones,
            "WORKLET_ALLOW_LOCAL_REPOS": "1",
            "WORKLET_RESYNC_SECONDS": "2",
            "WORKLET_GIT_POLL_SECONDS": "1",
            "WORKLET_HEALTH_TIMEOUT_SECONDS": "20",
            "WORKLET_RESTART_BACKOFF_SECONDS": "2",
            "WORKLET_PORT_MIN": str(base),
            "WORKLET_PORT_MAX": str(base + 99),
            "WORKLET_LOG_LEVEL": "debug",
            "WORKLET_LISTEN": "127.0.0.1:%d" % self.api_port,
            "WORKLET_TOKENS_FILE": self.tokens_file,
        }
        self.settings.update(local_images())
        # The agent sandbox: every test run shares one network instead of
        # creating one per instance (Docker's address pools are small).
        self.settings["WORKLET_AGENT_NETWORK"] = AGENT_NETWORK
        self.settings["WORKLET_BUILD_NETWORK"] = BUILD_NETWORK
        self.settings.update({k: str(v) for k, v in settings.items()})

    # -- the service -------------------------------------------------------
    def start(self, *args):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("WORKLET_") and k != "GITHUB_TOKEN"}
        env.update(self.settings)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([WORKLETD] + list(args), env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        return self.proc

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def logs(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    # -- the API ---------------------------------------------------------------
    @property
    def base_url(self):
        return "http://127.0.0.1:%d" % self.api_port

    def wait_api(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if http_get(self.api_port, "/healthz", timeout=1)[0] == 200:
                return
            time.sleep(0.05)
        raise Failure("API server never answered /healthz")

    def api(self, method, path, body=None, user="alice", headers=None,
            raw_body=None, host=None, timeout=30):
        """One request; returns (status, parsed JSON or text, headers)."""
        h = {}
        if user:
            h["Authorization"] = "Bearer " + self.tokens[user]
        data = raw_body
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if host:
            h["Host"] = host
        h.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=timeout)
        conn.request(method, path, body=data, headers=h,
                     encode_chunked=h.get("Transfer-Encoding") == "chunked")
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, parsed, dict(resp.getheaders())

    # -- repositories ------------------------------------------------------
    def make_repo(self, fixture, name=None):
        """A git repository holding tests/fixtures/apps/<fixture>."""
        path = os.path.join(self.repos, name or fixture)
        shutil.copytree(os.path.join(FIXTURES, fixture), path, symlinks=True)
        git(path, "init", "-q", "-b", "main")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", "initial")
        return path

    def commit_file(self, repo, rel, content, message="change"):
        with open(os.path.join(repo, rel), "w") as f:
            f.write(content)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", message)

    # -- manifests ---------------------------------------------------------
    def new_id(self, prefix):
        wid = "%s-%s" % (prefix, rand_suffix())
        self.ids.append(wid)
        return wid

    def spec_path(self, wid):
        return os.path.join(self.state, "specs", wid + ".yaml")

    def status_path(self, wid):
        return os.path.join(self.state, "status", wid + ".yaml")

    def apply(self, wid, repo, **spec):
        doc = {"apiVersion": "worklet.dev/v1", "kind": "Worklet",
               "metadata": {"name": wid, "userId": "e2e", "generation": 1},
               "spec": {"gitRepo": repo}}
        doc["spec"].update(spec)
        self.write_manifest(wid, yaml.safe_dump(doc, sort_keys=False))
        return doc

    def write_manifest(self, wid, text):
        """Write like an editor would not: atomically, as the docs advise."""
        tmp = self.spec_path(wid) + ".tmp-e2e"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, self.spec_path(wid))

    def read_manifest(self, wid):
        with open(self.spec_path(wid)) as f:
            return yaml.safe_load(f)

    def update_spec(self, wid, **changes):
        doc = self.read_manifest(wid)
        doc["spec"].update(changes)
        doc["metadata"]["generation"] = doc["metadata"].get("generation", 1) + 1
        self.write_manifest(wid, yaml.safe_dump(doc, sort_keys=False))

    def status(self, wid):
        try:
            with open(self.status_path(wid)) as f:
                doc = yaml.safe_load(f)
            return (doc or {}).get("status") or {}
        except FileNotFoundError:
            return {}

    def wait(self, wid, pred, timeout=240, what="condition"):
        deadline = time.time() + timeout
        st = {}
        while time.time() < deadline:
            st = self.status(wid)
            if pred(st):
                return st
            if self.proc and self.proc.poll() is not None:
                raise Failure("workletd exited with %s while waiting for %s of %s"
                              % (self.proc.returncode, what, wid))
            time.sleep(0.2)
        raise Failure("timed out waiting for %s of '%s'; last status:\n%s"
                      % (what, wid, yaml.safe_dump(st)))

    def wait_phase(self, wid, phase, timeout=240):
        return self.wait(wid, lambda s: s.get("phase") == phase, timeout,
                         "phase %s" % phase)

    def wait_body(self, port, needle, timeout=60):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = http_get(port)
            if last[0] == 200 and needle in last[1]:
                return last
            time.sleep(0.2)
        raise Failure("port %d never served %r; last: %r" % (port, needle, last))

    # -- cleanup -----------------------------------------------------------
    def cleanup(self):
        self.stop()
        for wid in self.ids:
            for c in containers(wid) + agent_containers(wid):
                docker("DELETE", "/containers/%s?force=1&v=1" % c["Id"])
            for img in images(wid):
                docker("DELETE", "/images/%s?force=1" % img["Id"])
        # The per-user networks of this service (workletd removes unused
        # ones on its own, but it was stopped first).
        for net in networks(self.instance):
            docker("DELETE", "/networks/%s" % net["Id"])
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def instance(self):
        """The worklet.instance label workletd uses (config.c)."""
        if self.settings.get("WORKLET_INSTANCE"):
            return self.settings["WORKLET_INSTANCE"]
        real = os.path.realpath(self.state).encode()
        return hashlib.sha256(real).hexdigest()[:12]


def check(cond, message):
    if not cond:
        raise Failure(message)


def run(tests, name, **settings):
    """Run test functions, each given a fresh started Env. Prints the
    plain 'N passed, N failed' line CTest's log shows."""
    passed = failed = 0
    only = sys.argv[1:]
    for fn in tests:
        if only and fn.__name__ not in only:
            continue
        # A test may add settings of its own: fn.settings = {...}
        env = Env(name, **dict(settings, **getattr(fn, "settings", {})))
        env.start()
        env.wait_api()
        t0 = time.time()
        try:
            fn(env)
            # workletd exits on SIGTERM (LSan reports leaks then): any
            # sanitizer report in its output fails the test.
            env.stop()
            report = sanitizer_report(env.logs())
            if report:
                raise Failure("workletd's output has a sanitizer report:\n" + report)
            passed += 1
            print("ok   %s (%.1fs)" % (fn.__name__, time.time() - t0), flush=True)
        except Exception:  # noqa: BLE001 - report every failure the same way
            failed += 1
            print("FAIL %s (%.1fs)" % (fn.__name__, time.time() - t0), flush=True)
            traceback.print_exc()
            print("---- workletd log (last 80 lines) ----")
            print("\n".join(env.logs().splitlines()[-80:]))
        finally:
            env.cleanup()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or passed == 0 else 0)
