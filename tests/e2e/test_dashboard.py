"""The web dashboard in real headless Chromium (Debian's chromium driven by
playwright-core, tests/e2e/dashboard.mjs): sign in with a token, create a
worklet from the form and watch it reach running without a reload or list
polling, see the preview in its sandboxed frame, send a prompt (the real
Claude Code CLI against the scripted Messages API) and see the preview
change, read the app's logs, open a pull request (scripted GitHub, real git
smart-HTTP server), survive a workletd restart (the page reconnects), show
a failed build's failing step, fit a phone's width, delete with
confirmation. Screenshots go to build/test-output/dashboard/ (or
$WL_TEST_OUTPUT/dashboard)."""

import json
import os
import subprocess
import time

from git_http import GitHTTPServer
from scripted_claude import ScriptedClaude
from scripted_github import ScriptedGitHub
from wltest import FIXTURES, check, run

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(os.environ.get("WL_TEST_OUTPUT", os.path.join(SOURCE, "build", "test-output")),
                   "dashboard")
TOKEN = "ghp_e2e_dash_" + str(os.getpid()) + "_abcdef012345"
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>worklet sample</title></head>
<body><h1>hello from the dashboard</h1></body></html>
"""

GIT = GitHTTPServer(token=TOKEN).start()
GH = ScriptedGitHub(token=TOKEN).start()
CLAUDE = ScriptedClaude([
    {"match": "Change the heading", "turns": [
        {"read": {"path": "index.html"}, "delay": 1},
        {"write": {"path": "index.html", "content": PAGE}, "delay": 1},
        {"text": "Changed the heading.", "delay": 2}]},
]).start()
HOST = GIT.url.split("://", 1)[1].rstrip("/")


def browser_ready():
    return (os.path.exists("/usr/bin/chromium") and
            os.path.isdir(os.path.join(SOURCE, "tests", "browser", "node_modules",
                                       "playwright-core")))


def test_dashboard(env):
    check(browser_ready(), "chromium or playwright-core missing: run hack/setup.sh")
    GIT.create_repo("acme/dash", from_dir=os.path.join(FIXTURES, "static"))
    GH.add_repo("acme/dash", default_branch="main", git_dir=GIT.repo_path("acme/dash"),
                clone_url=GIT.url_for("acme/dash"))
    broken = env.make_repo("broken")
    penv = dict(os.environ, WL_BASE=env.base_url, WL_TOKEN=env.tokens["alice"],
                WL_REPO=GIT.url_for("acme/dash"), WL_BROKEN=broken, WL_OUT=OUT)
    proc = subprocess.Popen(["node", os.path.join(HERE, "dashboard.mjs")], env=penv,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    result = None
    try:
        for line in proc.stdout:
            print("  browser: " + line.rstrip(), flush=True)
            if line.strip() == "RESTART":
                env.stop()
                time.sleep(1)
                env.start()
                env.wait_api()
                proc.stdin.write("RESTARTED\n")
                proc.stdin.flush()
            elif line.startswith("RESULT "):
                result = json.loads(line[7:])
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        # Whatever the page created is cleaned up with the rest.
        status, data, _ = env.api("GET", "/api/worklet/worklets")
        if status == 200:
            env.ids.extend(w["id"] for w in data["worklets"])
        if result:
            env.ids.extend(i for i in (result.get("id"), result.get("broken_id")) if i)
    check(code == 0 and result, "the browser flow failed (exit %s)" % code)

    # What the page showed is what the service did.
    pulls = GH.pulls("acme/dash")
    check(len(pulls) == 1 and pulls[0]["title"] == "Dashboard heading", pulls)
    check(result["pr_url"] == pulls[0]["html_url"], (result["pr_url"], pulls[0]))
    log = GIT.git("acme/dash", "log", "--format=%s", "worklet/" + result["id"]).split("\n")
    check(log[0] == "Change the heading", log)
    deadline = time.time() + 60
    while time.time() < deadline:
        status, _, _ = env.api("GET", "/api/worklet/worklets/" + result["id"])
        if status == 404:
            break
        time.sleep(0.5)
    check(status == 404, "the deleted worklet is still there")
    code, w, _ = env.api("GET", "/api/worklet/worklets/" + result["broken_id"])
    check(w["status"] == "error", w)
    for path in result["screenshots"]:
        check(os.path.getsize(path) > 5000, "empty screenshot " + path)
        print("screenshot: " + path)


if __name__ == "__main__":
    try:
        run([test_dashboard], "dashboard",
            GITHUB_TOKEN=TOKEN, WORKLET_GIT_TOKEN_HOSTS=HOST,
            WORKLET_GITHUB_API_URL=GH.api_url,
            ANTHROPIC_BASE_URL=CLAUDE.url, ANTHROPIC_API_KEY="sk-e2e-dash",
            WORKLET_AGENT_TIMEOUT_SECONDS=60,
            # this machine is shared; a busy one starts apps slowly
            WORKLET_HEALTH_TIMEOUT_SECONDS=90)
    finally:
        GIT.stop()
        GH.stop()
        CLAUDE.stop()
