"""The web dashboard in real headless Chromium (Debian's chromium driven by
playwright-core, tests/e2e/dashboard.mjs): sign in with a token, create a
worklet from the form and watch it reach running without a reload or list
polling, see the preview in its sandboxed frame, send a prompt (the real
Claude Code CLI against the scripted Messages API) and see the preview
change, read the app's logs, open a pull request (scripted GitHub, real git
smart-HTTP server), survive a workletd restart (the page reconnects), show
a failed build's failing step, fit a phone's width, delete with
confirmation. In local mode (X-User-ID trusted) it works without a token,
and its WebSocket's user is taken only from its own origin. Screenshots go to build/test-output/dashboard/ (or
$WL_TEST_OUTPUT/dashboard)."""

import asyncio
import json
import os
import subprocess
import time

import websockets

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
    # Preview links: admit the owner to that worklet's own host only.
    bad = result["broken_id"]
    host = "%s.worklet.localhost:%d" % (bad, env.api_port)
    code, t, _ = env.api("POST", "/api/worklet/worklets/%s/preview" % bad)
    check(code == 200 and t["url"].startswith("http://%s/__worklet/login?ticket=" % host), t)
    login = t["url"].split(host, 1)[1]
    code, _, h = env.api("GET", login, user=None, host=host)
    h = {k.lower(): v for k, v in h.items()}
    check(code == 302 and h.get("set-cookie", "").startswith("wl_session="), (code, h))
    cookie = h["set-cookie"].split(";")[0]
    code, text, _ = env.api("GET", "/", user=None, host=host, headers={"Cookie": cookie})
    check(code == 503, (code, text))  # admitted, but it is not serving
    code, _, _ = env.api("GET", login.replace("~alice~", "~bob~"), user=None, host=host)
    check(code == 401, code)
    flipped = login[:-1] + ("1" if login[-1] == "0" else "0")
    code, _, _ = env.api("GET", flipped, user=None, host=host)
    check(code == 401, code)
    code, _, _ = env.api("POST", "/api/worklet/worklets/%s/preview" % bad, user="bob")
    check(code == 404, code)
    for path in result["screenshots"]:
        check(os.path.getsize(path) > 5000, "empty screenshot " + path)
        print("screenshot: " + path)


async def ws_status(env, protocols, origin):
    """The answer to a watch upgrade offering protocols from origin."""
    url = "ws://127.0.0.1:%d/api/worklet/watch" % env.api_port
    try:
        async with websockets.connect(url, subprotocols=protocols, origin=origin,
                                      open_timeout=10):
            return 101
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code


def test_local_mode(env):
    """A server that trusts X-User-ID (loopback): the page goes on without
    a token; its WebSocket names the user as "user.<id>", accepted only
    from the dashboard's own origin."""
    check(browser_ready(), "chromium or playwright-core missing: run hack/setup.sh")
    own = "http://127.0.0.1:%d" % env.api_port
    check(asyncio.run(ws_status(env, ["worklet", "user.carol"], own)) == 101, "same origin")
    check(asyncio.run(ws_status(env, ["worklet", "user.carol"], "http://evil.example")) == 401,
          "another site's page must not pass as a user")
    check(asyncio.run(ws_status(env, ["worklet", "user.bad!id"], own)) == 401, "bad id")
    repo = env.make_repo("static")
    penv = dict(os.environ, WL_BASE=env.base_url, WL_USER="carol", WL_OUT=OUT)
    proc = subprocess.Popen(["node", os.path.join(HERE, "dashboard_local.mjs")], env=penv,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    result = None
    try:
        for line in proc.stdout:
            print("  browser: " + line.rstrip(), flush=True)
            if line.strip() == "CREATE":
                code, w, _ = env.api("POST", "/api/worklet/worklets",
                                     {"name": "local", "git_repo": repo}, user=None,
                                     headers={"X-User-ID": "carol"})
                check(code == 201, (code, w))
                env.ids.append(w["id"])
                proc.stdin.write(w["id"] + "\n")
                proc.stdin.flush()
            elif line.startswith("RESULT "):
                result = json.loads(line[7:])
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check(code == 0 and result, "the browser flow failed (exit %s)" % code)
    print("screenshot: " + result["screenshot"])


if __name__ == "__main__":
    try:
        run([test_dashboard, test_local_mode], "dashboard",
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
