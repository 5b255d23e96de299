"""The body of hack/bench-prompt.sh (see there)."""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import datetime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
os.environ.setdefault("WORKLETD", os.path.join(ROOT, "build", "workletd"))
os.environ.setdefault("WL_SOURCE_DIR", ROOT)

from scripted_claude import ScriptedClaude  # noqa: E402
from wltest import Env, containers, free_port, local_images  # noqa: E402

PAGE = "<!doctype html><html><body><h1>%s</h1></body></html>\n"
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
# WORKLET_AGENT_SANDBOX values to measure, each a worklet run of its own
MODES = sys.argv[2].split(",") if len(sys.argv) > 2 else ["docker", "host"]


def rules(n):
    return [{"match": "round %d." % i, "turns": [
        {"write": {"path": "index.html", "content": PAGE % ("ROUND-%d" % i)}},
        {"text": "done"}]} for i in range(n)]


def get(url, timeout=1):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except Exception:  # noqa: BLE001 - any failure is "not yet"
        return 0, ""


def wait_for(url, needle, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        code, body = get(url)
        if code == 200 and needle in body:
            return time.time()
        time.sleep(0.01)
    raise SystemExit("%s never served %s" % (url, needle))


def log_times(path, wid, pid):
    """Timestamps of one prompt's steps from workletd's log."""
    marks = {}
    pats = {
        "agent": "prompt %s: agent running" % pid,
        "commit": "prompt %s committed" % pid,
        "build": "worklet '%s': building " % wid,
        "built": "worklet '%s': built " % wid,
        "switch": "traffic switched to it",
        "done": "prompt %s completed" % pid,
    }
    with open(path, errors="replace") as f:
        for line in f:
            ts = line.split(" ", 1)[0]
            for k, pat in pats.items():
                if pat in line and (k in ("agent",) or "agent" in marks) and k not in marks:
                    t = datetime.strptime(ts.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
                    marks[k] = t.timestamp()
    return marks


def by_worklet(srv, mode):
    env = Env("bench-prompt", ANTHROPIC_BASE_URL=srv.url, ANTHROPIC_API_KEY="bench",
              WORKLET_LOG_LEVEL="info", WORKLET_GIT_POLL_SECONDS=60,
              WORKLET_AGENT_SANDBOX=mode)
    env.start()
    env.wait_api()
    out = []
    try:
        repo = env.make_repo("static")
        code, w, _ = env.api("POST", "/api/worklet/worklets",
                             {"name": "bench", "git_repo": repo})
        wid = w["id"]
        env.ids.append(wid)
        env.wait_phase(wid, "running", 240)
        url = "%s/api/worklet/worklets/%s/proxy/" % (env.base_url, wid)
        # The proxy needs the token; urllib with a header:
        for i in range(ROUNDS):
            t0 = time.time()
            code, p, _ = env.api("POST", "/api/worklet/worklets/%s/prompt" % wid,
                                 {"prompt": "Set the title for round %d." % i})
            assert code == 202, p
            t_acc = time.time()
            deadline = time.time() + 120
            while True:
                c, body, _ = env.api("GET", "/api/worklet/worklets/%s/proxy/" % wid)
                if c == 200 and ("ROUND-%d" % i) in str(body):
                    break
                if time.time() > deadline:
                    raise SystemExit("round %d never served" % i)
                time.sleep(0.01)
            t_served = time.time()
            env.wait(wid, lambda s: len(containers(wid)) == 1, 30, "drain")
            m = log_times(env.log_path, wid, p["id"])
            out.append({
                "total": t_served - t_acc,
                "accept": t_acc - t0,
                "agent": m["commit"] - m["agent"],
                "build": m["built"] - m["build"],
                "rollout": m["switch"] - m["built"],
                "commit": m["build"] - m["commit"],
            })
    finally:
        env.cleanup()
    return out


def by_hand(srv):
    work = os.path.join("/tmp", "wl-bench-hand-" + uuid.uuid4().hex[:6])
    shutil.copytree(os.path.join(ROOT, "tests", "fixtures", "apps", "static"), work)
    git = ["git", "-C", work, "-c", "user.name=b", "-c", "user.email=b@x"]
    subprocess.run(git + ["init", "-q", "-b", "main"], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "init"], check=True)
    static = local_images().get("WORKLET_IMAGE_STATIC", "nginx:alpine")
    with open(os.path.join(work, ".dockerignore"), "w") as f:
        f.write(".git\nDockerfile.bench\n")
    with open(os.path.join(work, "Dockerfile.bench"), "w") as f:
        f.write("FROM %s\nCOPY . /usr/share/nginx/html/\n" % static)
    conf = os.path.join(work, ".claude-home")
    env = {"PATH": os.environ["PATH"], "HOME": conf, "CLAUDE_CONFIG_DIR": conf,
           "ANTHROPIC_BASE_URL": srv.url, "ANTHROPIC_API_KEY": "bench",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
           "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1"}
    session = str(uuid.uuid4())
    port = free_port()
    out, cid = [], None
    try:
        for i in range(ROUNDS):
            t0 = time.time()
            args = ["claude", "-p", "Set the title for round %d." % i, "--output-format", "json",
                    "--permission-mode", "acceptEdits", "--max-turns", "10",
                    "--disallowedTools", "Bash"]
            args += ["--resume", session] if i else ["--session-id", session]
            subprocess.run(args, cwd=work, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, check=True)
            t1 = time.time()
            subprocess.run(git + ["commit", "-qam", "round %d" % i], check=True)
            t2 = time.time()
            tag = "wl-bench/hand:%d" % i
            subprocess.run(["docker", "build", "-q", "-f", os.path.join(work, "Dockerfile.bench"),
                            "-t", tag, work],
                           check=True, capture_output=True)
            t3 = time.time()
            if cid:
                subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
            cid = subprocess.run(["docker", "run", "-d", "--label", "wl-bench=1", "-p",
                                  "127.0.0.1:%d:80" % port, tag],
                                 check=True, capture_output=True, text=True).stdout.strip()
            t4 = wait_for("http://127.0.0.1:%d/" % port, "ROUND-%d" % i)
            out.append({"total": t4 - t0, "agent": t1 - t0, "commit": t2 - t1,
                        "build": t3 - t2, "rollout": t4 - t3})
    finally:
        if cid:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        for i in range(ROUNDS):
            subprocess.run(["docker", "rmi", "-f", "wl-bench/hand:%d" % i], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return out


def med(rows, key):
    return statistics.median(r[key] for r in rows)


def main():
    srv = ScriptedClaude(rules(ROUNDS))
    srv.start()
    try:
        hand = by_hand(srv)
        wls = [(mode, by_worklet(srv, mode)) for mode in MODES]
    finally:
        srv.stop()
    print("prompt -> new content served, %d rounds, medians in seconds" % ROUNDS)
    print("%-18s %8s %8s %8s %8s %8s" % ("", "total", "agent", "commit", "build", "rollout"))
    rows_by = [("by hand", hand)] + [("worklet (%s)" % m, rows) for m, rows in wls]
    for name, rows in rows_by:
        print("%-18s %8.3f %8.3f %8.3f %8.3f %8.3f" % (
            name, med(rows, "total"), med(rows, "agent"), med(rows, "commit"),
            med(rows, "build"), med(rows, "rollout")))
    for mode, wl in wls:
        print("worklet (%s) / by hand: %.2f (the by-hand path has no zero-downtime"
              " switch: it serves nothing between docker rm and the new container's"
              " start)" % (mode, med(wl, "total") / med(hand, "total")))
    if len(wls) > 1:
        print("agent step, %s minus %s: %+.3f s per prompt" % (
            wls[0][0], wls[1][0], med(wls[0][1], "agent") - med(wls[1][1], "agent")))
    print(json.dumps({"by_hand": hand, "worklet": dict(wls)}), file=sys.stderr)


if __name__ == "__main__":
    main()
