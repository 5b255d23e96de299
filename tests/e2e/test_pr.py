"""Pull requests end to end: a private repository on a real git smart-HTTP
server (git http-backend), prompts applied by the real Claude Code CLI
against the scripted Messages API server, and a scripted GitHub REST
server. POST /pr pushes one commit per prompt to a feature branch and opens
the PR; a second call after another prompt pushes the new commit and
updates the same PR; GitHub's errors and someone else's branch come back as
clear API errors."""

import os
import time

from git_http import GitHTTPServer
from scripted_claude import ScriptedClaude
from scripted_github import ScriptedGitHub
from wltest import FIXTURES, check, run

TOKEN = "ghp_e2e_pr_" + str(os.getpid()) + "_abcdef012345"
GIT = GitHTTPServer(token=TOKEN).start()
GH = ScriptedGitHub(token=TOKEN).start()
CLAUDE = ScriptedClaude([
    {"match": "Add a header", "turns": [
        {"write": {"path": "header.html", "content": "<header>h</header>"}}, {"text": "ok"}]},
    {"match": "Add a footer", "turns": [
        {"write": {"path": "footer.html", "content": "<footer>f</footer>"}}, {"text": "ok"}]},
    {"match": "Add a sidebar", "turns": [
        {"write": {"path": "sidebar.html", "content": "<aside>s</aside>"}}, {"text": "ok"}]},
]).start()
HOST = GIT.url.split("://", 1)[1].rstrip("/")


def setup_repo(name):
    GIT.create_repo(name, from_dir=os.path.join(FIXTURES, "static"))
    GH.add_repo(name, default_branch="main", git_dir=GIT.repo_path(name),
                clone_url=GIT.url_for(name))
    return GIT.url_for(name)


def running_worklet(env, name):
    code, w, _ = env.api("POST", "/api/worklet/worklets",
                         {"name": "pr", "git_repo": setup_repo(name)})
    check(code == 201, (code, w))
    env.ids.append(w["id"])
    env.wait_phase(w["id"], "running", 240)
    return w["id"]


def prompt(env, wid, text):
    code, p, _ = env.api("POST", "/api/worklet/worklets/%s/prompt" % wid, {"prompt": text})
    check(code == 202, (code, p))
    deadline = time.time() + 120
    while time.time() < deadline:
        code, p, _ = env.api("GET", "/api/worklet/worklets/%s/prompts/%s" % (wid, p["id"]))
        if p["status"] != "processing":
            check(p["status"] == "completed" and p["commit_sha"], p)
            return p
        time.sleep(0.2)
    raise AssertionError("prompt did not finish: %r" % p)


def pr(env, wid, body):
    return env.api("POST", "/api/worklet/worklets/%s/pr" % wid, body, timeout=150)


def test_pr_after_two_prompts_then_update(env):
    wid = running_worklet(env, "acme/app")
    p1 = prompt(env, wid, "Add a header")
    p2 = prompt(env, wid, "Add a footer")
    GH.clear()
    code, res, _ = pr(env, wid, {"title": "Add header and footer",
                                 "description": "Made with worklet."})
    check(code == 201 and res["created"] and res["number"] >= 1, (code, res))
    branch = "worklet/" + wid
    check(res["branch"] == branch and res["base"] == "main", res)
    check(res["url"].endswith("/acme/app/pull/%d" % res["number"]), res)
    # The pushed branch holds one commit per prompt, on top of main.
    log = GIT.git("acme/app", "log", "--format=%s", branch).split("\n")
    check(log[:3] == ["Add a footer", "Add a header", "initial commit"], log)
    check(GIT.branches("acme/app")[branch] == p2["commit_sha"], "wrong commit pushed")
    create = [r for r in GH.requests if r["method"] == "POST"][0]
    body = create["body"]
    check(body["head"] == branch and body["base"] == "main" and
          body["title"] == "Add header and footer", body)
    for needle in ("Made with worklet.", "Add a header", "Add a footer",
                   "Preview: http://%s.worklet.localhost:%d/" % (wid, env.api_port),
                   "%s/#/w/%s" % (env.base_url, wid), p1["commit_sha"][:7]):
        check(needle in body["body"], "PR body lacks %r: %s" % (needle, body["body"]))
    check(create["headers"]["authorization"] == "Bearer " + TOKEN, "no token sent")
    code, st, _ = env.api("GET", "/api/worklet/worklets/%s/status" % wid)
    check(st["pull_request"]["number"] == res["number"] and
          st["pull_request"]["url"] == res["url"], st)

    # Another prompt, another call: the same PR, updated, with the new commit.
    prompt(env, wid, "Add a sidebar")
    code, res2, _ = pr(env, wid, {"title": "Header, footer and sidebar"})
    check(code == 200 and not res2["created"] and res2["number"] == res["number"],
          (code, res2))
    log = GIT.git("acme/app", "log", "--format=%s", branch).split("\n")
    check(log[0] == "Add a sidebar", log)
    pulls = GH.pulls("acme/app")
    check(len(pulls) == 1, "a duplicate PR was opened: %r" % pulls)
    check(pulls[0]["title"] == "Header, footer and sidebar", pulls)


def test_github_errors_are_named(env):
    wid = running_worklet(env, "acme/errs")
    prompt(env, wid, "Add a header")
    cases = [
        ({"kind": "bad_credentials", "path": "/pulls", "times": 1}, 502, "github_auth", "401"),
        ({"kind": "rate_limit", "path": "/pulls", "times": 1}, 429, "github_rate_limited",
         "rate limit"),
        ({"kind": "validation", "method": "POST", "path": "/pulls$", "times": 1,
          "errors": [{"resource": "PullRequest", "field": "base", "code": "invalid"}]},
         422, "github_validation", "422"),
        ({"kind": "server_error", "path": "/pulls", "times": 1}, 503, "github_unavailable",
         "502"),
        ({"kind": "forbidden", "path": "/pulls", "times": 1}, 502, "github_auth", "403"),
        ({"kind": "not_found", "path": "/pulls", "times": 1}, 502, "github_not_found", "404"),
    ]
    for rule, status, ecode, needle in cases:
        GH.failures = [rule]
        code, res, _ = pr(env, wid, {"title": "t"})
        check(code == status and res["error"]["code"] == ecode and
              needle in res["error"]["message"], (rule, code, res))
        check(TOKEN not in str(res), "the token is in the error")
    GH.failures = []
    code, res, _ = pr(env, wid, {"title": "t"})
    check(code == 201, (code, res))


def test_someone_elses_branch_and_bad_input(env):
    wid = running_worklet(env, "acme/taken")
    prompt(env, wid, "Add a header")
    GIT.commit_files("acme/taken", "taken", {"other.txt": "someone else"}, "theirs")
    before = GIT.branches("acme/taken")["taken"]
    code, res, _ = pr(env, wid, {"title": "t", "branch": "taken"})
    check(code == 409 and res["error"]["code"] == "branch_conflict", (code, res))
    check(GIT.branches("acme/taken")["taken"] == before, "someone else's branch was overwritten")
    for body, status in (({}, 400), ({"title": ""}, 400), ({"title": 5}, 400),
                         ({"title": "t", "branch": "a..b"}, 400),
                         ({"title": "t", "extra": 1}, 400)):
        code, res, _ = pr(env, wid, body)
        check(code == status and "error" in res, (body, code, res))
    code, res, _ = env.api("POST", "/api/worklet/worklets/%s/pr" % wid, {"title": "t"},
                           user="bob")
    check(code == 404, (code, res))


if __name__ == "__main__":
    try:
        run([test_pr_after_two_prompts_then_update, test_github_errors_are_named,
             test_someone_elses_branch_and_bad_input], "pr",
            GITHUB_TOKEN=TOKEN, WORKLET_GIT_TOKEN_HOSTS=HOST,
            WORKLET_GITHUB_API_URL=GH.api_url,
            ANTHROPIC_BASE_URL=CLAUDE.url, ANTHROPIC_API_KEY="sk-e2e-pr")
    finally:
        GIT.stop()
        GH.stop()
        CLAUDE.stop()
