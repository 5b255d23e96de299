"""The test servers of the git and pull-request side, on their own: git_http
(git's http-backend behind basic auth) driven by the real git CLI, and
scripted_github (the GitHub REST API) driven with plain HTTP. Private clone
with the token, without it, with a wrong one; a public repository; a missing
repository; branch selection and fetch; pushes (a new branch, a large
chunked one, refused ones); a redirect to another host that must not get
the token, and what git itself does there; the create / list / update PR
endpoints with GitHub's checks and error shapes, scripted failures, a path
prefix and both servers' process modes. No workletd, no Docker."""

import base64
import filecmp
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from git_http import GitHTTPServer  # noqa: E402
from scripted_github import ScriptedGitHub  # noqa: E402
from wltest import FIXTURES, check  # noqa: E402

TOKEN = "ghp_test" + "0123456789abcdef"
STATIC = os.path.join(FIXTURES, "static")
HERE = os.path.dirname(os.path.abspath(__file__))


class Ctx:
    """A temporary directory, an isolated git environment, servers to stop."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="wl-e2e-gitsrv-")
        self.home = os.path.join(self.tmp, "home")
        os.makedirs(self.home)
        self.servers = []
        self.procs = []
        self.last = None

    def git_server(self, **kw):
        srv = GitHTTPServer(kw.pop("token", TOKEN), **kw).start()
        self.servers.append(srv)
        return srv

    def github(self, **kw):
        srv = ScriptedGitHub(kw.pop("token", TOKEN), **kw).start()
        self.servers.append(srv)
        return srv

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(HOME=self.home, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0",
                   GIT_ASKPASS="", SSH_ASKPASS="", GIT_AUTHOR_NAME="t",
                   GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
                   GIT_COMMITTER_EMAIL="t@example.com")
        return env

    def git(self, *args, cwd=None):
        """git in cwd (default: the temp dir); (exit status, stdout, stderr)."""
        p = subprocess.run(["git"] + list(args), cwd=cwd or self.tmp, env=self.env(),
                           capture_output=True, text=True, timeout=60)
        self.last = (args, p.returncode, p.stdout, p.stderr)
        return p.returncode, p.stdout, p.stderr

    def ok(self, *args, cwd=None):
        rc, out, err = self.git(*args, cwd=cwd)
        check(rc == 0, "git %s: exit %d: %s" % (" ".join(args), rc, err))
        return out

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def report(self):
        if self.last:
            args, rc, out, err = self.last
            return "last git: %s -> %d\n%s%s" % (" ".join(args), rc, out, err)
        return ""

    def cleanup(self):
        for p in self.procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
            p.wait(5)
        for srv in self.servers:
            srv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def same_tree(a, b):
    """Whether directory b holds the files of a (b's .git aside)."""
    cmp = filecmp.dircmp(a, b, ignore=[".git"])

    def walk(c):
        if c.left_only or c.right_only or c.diff_files or c.funny_files:
            return False
        return all(walk(sub) for sub in c.subdirs.values())
    return walk(cmp)


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http_get(url, headers=None):
    """One GET without following redirects: (status, headers, body)."""
    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


# -- git_http with the git CLI -------------------------------------------------

def test_private_clone_with_the_token(ctx):
    srv = ctx.git_server()
    srv.create_repo("acme/app", from_dir=STATIC)
    ctx.ok("clone", "-q", srv.url_for("acme/app", "x-access-token:" + TOKEN), "c1")
    check(same_tree(STATIC, ctx.path("c1")), "the clone differs from the fixture")
    check(ctx.ok("rev-parse", "--abbrev-ref", "HEAD", cwd=ctx.path("c1")).strip() == "main",
          "not on main")
    reqs = srv.requests
    # git sends nothing first, gets the 401 challenge, then Basic.
    check(reqs[0]["status"] == 401 and reqs[0]["authorization"] is None, reqs[0])
    check(all(r["status"] == 200 and r["user"] == "x-access-token" for r in reqs[1:]), reqs)
    check(srv.saw_token(TOKEN), "the token was never sent")
    # Any user name with the token as password, and the token as user name.
    ctx.ok("clone", "-q", srv.url_for("acme/app", "someone:" + TOKEN), "c2")
    ctx.ok("clone", "-q", srv.url_for("acme/app", TOKEN), "c3")
    # The same fixture gives the same commit (fixed author and date).
    other = ctx.git_server()
    other.create_repo("acme/app", from_dir=STATIC)
    check(other.branches("acme/app") == srv.branches("acme/app"), "seed commits differ")
    check(srv.stderr == [], srv.stderr)


def test_clone_without_the_token_is_refused(ctx):
    srv = ctx.git_server(realm="GitHub")
    srv.create_repo("acme/app", from_dir=STATIC)
    rc, _, err = ctx.git("clone", "-q", srv.url_for("acme/app"), "c1")
    check(rc != 0 and "could not read Username" in err, err)
    check(not os.path.exists(ctx.path("c1")), "a clone directory was left")
    check([r["status"] for r in srv.requests] == [401], srv.requests)
    status, headers, _ = http_get(srv.url_for("acme/app") + "/info/refs?service=git-upload-pack")
    check(status == 401 and headers.get("www-authenticate") == 'Basic realm="GitHub"',
          (status, headers))
    # A Bearer header is not basic auth: refused as well.
    status, _, _ = http_get(srv.url_for("acme/app") + "/info/refs?service=git-upload-pack",
                            {"Authorization": "Bearer " + TOKEN})
    check(status == 401, status)


def test_clone_with_a_wrong_token_fails(ctx):
    srv = ctx.git_server()
    srv.create_repo("acme/app", from_dir=STATIC)
    rc, _, err = ctx.git("clone", "-q", srv.url_for("acme/app", "x-access-token:wrong"), "c1")
    check(rc != 0 and "Authentication failed" in err and "Invalid username or token" in err, err)
    check(not srv.saw_token(TOKEN), "the real token was seen")
    # Tokens can change at run time: the old one stops working.
    srv.tokens = ["new-token"]
    rc, _, err = ctx.git("clone", "-q", srv.url_for("acme/app", "x:" + TOKEN), "c2")
    check(rc != 0 and "Authentication failed" in err, err)
    ctx.ok("clone", "-q", srv.url_for("acme/app", "x:new-token"), "c3")


def test_public_and_missing_repositories(ctx):
    srv = ctx.git_server()
    srv.create_repo("acme/open", from_dir=STATIC, public=True)
    ctx.ok("clone", "-q", srv.url_for("acme/open"), "c1")
    check(same_tree(STATIC, ctx.path("c1")), "public clone differs")
    # git sends a token only after a 401, so a bad one in the URL goes unseen
    # here; a request that carries one is refused (GitHub does that too).
    ctx.ok("ls-remote", srv.url_for("acme/open", "x:bad"))
    check(not any(r["authorization"] for r in srv.requests), srv.requests)
    status, _, _ = http_get(srv.url_for("acme/open") + "/info/refs?service=git-upload-pack",
                            {"Authorization": basic("x", "bad")})
    check(status == 401, status)
    # A push needs the token even there.
    ctx.ok("-C", ctx.path("c1"), "commit", "-q", "--allow-empty", "-m", "anon")
    rc, _, err = ctx.git("push", "-q", "origin", "HEAD:refs/heads/anon", cwd=ctx.path("c1"))
    check(rc != 0 and "anon" not in srv.branches("acme/open"), err)
    # A repository with its own token: the server's does not open it.
    srv.create_repo("acme/own", from_dir=STATIC, tokens=["own-token"])
    rc, _, err = ctx.git("ls-remote", srv.url_for("acme/own", "x:" + TOKEN))
    check(rc != 0, err)
    ctx.ok("ls-remote", srv.url_for("acme/own", "x:own-token"))
    # A missing repository: 404 with the token, the 401 challenge without.
    rc, _, err = ctx.git("clone", "-q", srv.url_for("acme/none", "x:" + TOKEN), "c2")
    check(rc != 0 and "not found" in err, err)
    rc, _, err = ctx.git("clone", "-q", srv.url_for("acme/none"), "c3")
    check(rc != 0 and "could not read Username" in err, err)
    check(http_get(srv.url + "/../etc/passwd", {"Authorization": basic("x", TOKEN)})[0] == 404,
          "path outside the root")


def test_branch_selection_and_fetch(ctx):
    srv = ctx.git_server()
    srv.create_repo("acme/app", from_dir=STATIC, branches={
        "feature": {"feature.txt": "on feature\n", "about/index.html": None},
        "plain": None})
    url = srv.url_for("acme/app", "x:" + TOKEN)
    heads = ctx.ok("ls-remote", "--heads", url)
    check(sorted(line.split("refs/heads/")[1] for line in heads.splitlines())
          == ["feature", "main", "plain"], heads)
    ctx.ok("clone", "-q", "-b", "feature", url, "c1")
    check(os.path.exists(ctx.path("c1", "feature.txt")), "feature.txt missing")
    check(not os.path.exists(ctx.path("c1", "about", "index.html")), "deleted file present")
    rc, _, err = ctx.git("clone", "-q", "-b", "nope", url, "c2")
    check(rc != 0 and "Remote branch nope not found" in err, err)
    # Someone else pushes to main: a fetch brings it (protocol v2 and v0).
    ctx.ok("clone", "-q", url, "c3")
    sha = srv.commit_files("acme/app", "main", {"news.txt": "news\n"}, "news")
    for proto in ("2", "0"):
        ctx.ok("-c", "protocol.version=" + proto, "fetch", "-q", "origin", cwd=ctx.path("c3"))
        check(ctx.ok("rev-parse", "origin/main", cwd=ctx.path("c3")).strip() == sha,
              "fetch did not bring the new commit")
    check(any(r["git_protocol"] == "version=2" for r in srv.requests), "no protocol v2 request")


def test_push_a_new_branch(ctx):
    srv = ctx.git_server()
    srv.create_repo("acme/app", from_dir=STATIC)
    url = srv.url_for("acme/app", "x-access-token:" + TOKEN)
    ctx.ok("clone", "-q", url, "c1")
    work = ctx.path("c1")
    for i in (1, 2):
        with open(os.path.join(work, "p%d.txt" % i), "w") as f:
            f.write("prompt %d\n" % i)
        ctx.ok("add", "-A", cwd=work)
        ctx.ok("commit", "-q", "-m", "prompt %d" % i, cwd=work)
    srv.clear()
    ctx.ok("push", "-q", "origin", "HEAD:refs/heads/worklet/feature", cwd=work)
    check(srv.branches("acme/app")["worklet/feature"]
          == ctx.ok("rev-parse", "HEAD", cwd=work).strip(), "pushed sha differs")
    log = srv.git("acme/app", "log", "--format=%s", "main..worklet/feature").split("\n")
    check(log[:2] == ["prompt 2", "prompt 1"], log)
    pushes = [r for r in srv.requests if r["service"] == "receive-pack"]
    check(pushes and all(r["status"] in (200, 401) for r in pushes), pushes)
    # A push beyond http.postBuffer goes chunked, as libgit2 always does.
    with open(os.path.join(work, "big.bin"), "wb") as f:
        f.write(os.urandom(2 * 1024 * 1024))
    ctx.ok("add", "-A", cwd=work)
    ctx.ok("commit", "-q", "-m", "big", cwd=work)
    srv.clear()
    ctx.ok("push", "-q", "origin", "HEAD:refs/heads/worklet/feature", cwd=work)
    check(any(r["chunked"] for r in srv.requests if r["method"] == "POST"),
          "no chunked POST: %r" % srv.requests)
    check(srv.git("acme/app", "log", "-1", "--format=%s", "worklet/feature").strip() == "big",
          "big push not there")
    # A wrong token cannot push; push=False answers 403.
    ctx.ok("commit", "-q", "--allow-empty", "-m", "more", cwd=work)
    rc, _, err = ctx.git("push", "-q", srv.url_for("acme/app", "x:bad"), "HEAD:refs/heads/x",
                         cwd=work)
    check(rc != 0 and "x" not in srv.branches("acme/app"), err)
    srv.set_push("acme/app", False)
    rc, _, err = ctx.git("push", "-q", "origin", "HEAD:refs/heads/y", cwd=work)
    check(rc != 0 and "403" in err and "y" not in srv.branches("acme/app"), err)


def test_redirect_to_another_host_does_not_get_the_token(ctx):
    a = ctx.git_server()
    b = ctx.git_server(url_host="localhost")  # another host name, another port
    for srv in (a, b):
        srv.create_repo("acme/app", from_dir=STATIC)
    a.redirect_to(b.url)
    status, headers, _ = http_get(a.url_for("acme/app") + "/info/refs?service=git-upload-pack")
    check(status == 301 and headers["location"]
          == b.url_for("acme/app") + "/info/refs?service=git-upload-pack", (status, headers))
    a.clear()
    # A token in the URL: git follows the redirect but does not carry it.
    rc, _, err = ctx.git("clone", "-q", a.url_for("acme/app", "x:" + TOKEN), "c1")
    check(rc != 0 and "Authentication failed" in err, err)
    check([r["status"] for r in a.requests] == [301], a.requests)
    check(b.requests and not any(r["authorization"] for r in b.requests), b.requests)
    # A credential helper scoped to the first host: same.
    b.clear()
    helper = "!f() { echo username=x; echo password=%s; }; f" % TOKEN
    rc, _, err = ctx.git("-c", "credential.%s.helper=%s" % (a.url, helper),
                         "clone", "-q", a.url_for("acme/app"), "c2")
    check(rc != 0 and not b.saw_token(TOKEN), (err, b.requests))
    # A helper that answers for any host hands the token over: the check
    # belongs to the client, and b's records show it.
    b.clear()
    ctx.ok("-c", "credential.helper=" + helper, "clone", "-q", a.url_for("acme/app"), "c3")
    check(b.saw_token(TOKEN) and not a.saw_token(TOKEN), "expected b to see the token")
    # A host that authenticates first, then redirects: the header sent to a
    # is not forwarded to b.
    a.clear()
    b.clear()
    a.redirect_to(b.url, status=302, require_auth=True)
    rc, _, err = ctx.git("clone", "-q", a.url_for("acme/app", "x:" + TOKEN), "c4")
    check(rc != 0, "clone through an authenticated redirect succeeded")
    check([r["status"] for r in a.requests] == [401, 302] and a.saw_token(TOKEN), a.requests)
    check(b.requests and not b.saw_token(TOKEN), b.requests)
    # Redirects off: a serves again.
    a.redirect_to(None)
    ctx.ok("ls-remote", a.url_for("acme/app", "x:" + TOKEN))


def test_git_http_process_mode(ctx):
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "git_http.py"), "--token", TOKEN,
                          "--repo", "acme/app=" + STATIC, "--repo", "acme/empty",
                          "--public", "acme/app"],
                         stdout=subprocess.PIPE, text=True, start_new_session=True)
    ctx.procs.append(p)
    url = p.stdout.readline().strip()
    check(url.startswith("http://127.0.0.1:"), url)
    ctx.ok("clone", "-q", url + "/acme/app.git", "c1")
    check(same_tree(STATIC, ctx.path("c1")), "clone differs")
    rc, _, err = ctx.git("ls-remote", url + "/acme/empty.git")
    check(rc != 0, "a private repository without the token")
    out = ctx.ok("ls-remote", url.replace("http://", "http://x:%s@" % TOKEN) + "/acme/empty.git")
    check(out.strip() == "", out)


# -- scripted_github ------------------------------------------------------------

def api(gh, method, path, body=None, token=TOKEN, scheme="Bearer", headers=None, ua=True):
    """One request to the scripted GitHub: (status, headers, parsed body)."""
    h = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    if ua:
        h["User-Agent"] = "worklet-test"
    if token is not None:
        h["Authorization"] = "%s %s" % (scheme, token)
    h.update(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    host, port = gh.url.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest(method, gh.prefix + path, skip_accept_encoding=True)
    for k, v in h.items():
        conn.putheader(k, v)
    conn.putheader("Content-Length", str(len(data or b"")))
    conn.endheaders(data)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = raw.decode(errors="replace")
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed


def error_shape(status, got, want_status, message_part):
    check(status == want_status, (status, got))
    check(isinstance(got, dict) and set(got) >= {"message", "documentation_url", "status"}
          and got["status"] == str(want_status) and message_part in got["message"]
          and got["documentation_url"].startswith("https://docs.github.com/"), got)


def pushed_repo(ctx, branches=None):
    """A served repository with a worklet branch two commits ahead of main."""
    srv = ctx.git_server()
    srv.create_repo("acme/app", from_dir=STATIC, branches=branches or {})
    srv.commit_files("acme/app", "worklet/one", {"a.txt": "1\n"}, "prompt 1")
    srv.commit_files("acme/app", "worklet/one", {"b.txt": "2\n"}, "prompt 2")
    return srv


def test_github_pull_request_create_list_update(ctx):
    srv = pushed_repo(ctx)
    gh = ctx.github(html_base="https://github.example")
    gh.add_repo("acme/app", git_dir=srv.repo_path("acme/app"),
                clone_url=srv.url_for("acme/app"))
    status, _, repo = api(gh, "GET", "/repos/acme/app")
    check(status == 200 and repo["default_branch"] == "main" and repo["private"]
          and repo["clone_url"] == srv.url_for("acme/app") and repo["full_name"] == "acme/app",
          repo)
    pr_body = {"title": "Make a page", "head": "worklet/one", "base": "main",
               "body": "What it does.\n\n## Prompts\n1. make a page"}
    status, headers, pr = api(gh, "POST", "/repos/acme/app/pulls", pr_body)
    check(status == 201, (status, pr))
    check(pr["number"] == 1 and pr["state"] == "open" and pr["title"] == "Make a page"
          and pr["body"] == pr_body["body"], pr)
    check(pr["html_url"] == "https://github.example/acme/app/pull/1", pr["html_url"])
    check(pr["url"] == gh.api_url + "/repos/acme/app/pulls/1" and headers["location"] == pr["url"],
          (pr["url"], headers))
    check(pr["head"]["ref"] == "worklet/one" and pr["head"]["label"] == "acme:worklet/one"
          and pr["head"]["sha"] == srv.branches("acme/app")["worklet/one"]
          and pr["base"]["ref"] == "main", pr)
    check(int(headers["x-ratelimit-remaining"]) > 0 and headers["x-github-request-id"], headers)
    posted = [r for r in gh.requests if r["method"] == "POST"]
    check(posted[-1]["body"] == pr_body and posted[-1]["headers"]["authorization"]
          == "Bearer " + TOKEN, posted)
    # A second create for the same head: GitHub's 422.
    status, _, err = api(gh, "POST", "/repos/acme/app/pulls", pr_body, scheme="token")
    error_shape(status, err, 422, "Validation Failed")
    check(err["errors"] == [{"resource": "PullRequest", "code": "custom", "message":
                             "A pull request already exists for acme:worklet/one."}], err)
    # Finding the existing PR: head=owner:branch, state=open.
    gh.add_pull("acme/app", "other", "main", "Someone else's")
    status, _, found = api(gh, "GET", "/repos/acme/app/pulls?head=acme:worklet/one&state=open")
    check(status == 200 and [p["number"] for p in found] == [1], found)
    status, _, found = api(gh, "GET", "/repos/acme/app/pulls?head=worklet/one")
    check([p["number"] for p in found] == [2, 1], "a bare head is ignored: %r" % found)
    status, _, found = api(gh, "GET", "/repos/acme/app/pulls?head=acme:worklet/one&state=closed")
    check(found == [], found)
    # New commits, then the update: title and body change, the head sha moves.
    new_sha = srv.commit_files("acme/app", "worklet/one", {"c.txt": "3\n"}, "prompt 3")
    status, _, upd = api(gh, "PATCH", "/repos/acme/app/pulls/1",
                         {"title": "Make a page (2)", "body": "three prompts"})
    check(status == 200 and upd["number"] == 1 and upd["title"] == "Make a page (2)"
          and upd["body"] == "three prompts" and upd["head"]["sha"] == new_sha, upd)
    status, _, got = api(gh, "GET", "/repos/acme/app/pulls/1")
    check(status == 200 and got["title"] == "Make a page (2)", got)
    check([p["title"] for p in gh.pulls("acme/app")] == ["Make a page (2)", "Someone else's"],
          gh.pulls("acme/app"))
    status, _, err = api(gh, "PATCH", "/repos/acme/app/pulls/9", {"title": "x"})
    error_shape(status, err, 404, "Not Found")
    # Closed, a new PR for the same head may be opened.
    status, _, upd = api(gh, "PATCH", "/repos/acme/app/pulls/1", {"state": "closed"})
    check(status == 200 and upd["state"] == "closed", upd)
    status, _, pr3 = api(gh, "POST", "/repos/acme/app/pulls", pr_body)
    check(status == 201 and pr3["number"] == 3, pr3)
    status, _, me = api(gh, "GET", "/user")
    check(status == 200 and me["login"] == "worklet-bot", me)


def test_github_validation(ctx):
    srv = pushed_repo(ctx, branches=["same"])
    gh = ctx.github()
    gh.add_repo("acme/app", git_dir=srv.repo_path("acme/app"))
    path = "/repos/acme/app/pulls"
    status, _, err = api(gh, "POST", path, {"title": "t", "head": "not-pushed", "base": "main"})
    error_shape(status, err, 422, "Validation Failed")
    check(err["errors"] == [{"resource": "PullRequest", "field": "head", "code": "invalid"}], err)
    status, _, err = api(gh, "POST", path, {"title": "t", "head": "worklet/one", "base": "nope"})
    check(status == 422 and err["errors"][0]["field"] == "base", err)
    status, _, err = api(gh, "POST", path, {"title": "t", "head": "other:worklet/one",
                                            "base": "main"})
    check(status == 422 and err["errors"][0]["field"] == "head", "fork head: %r" % err)
    status, _, err = api(gh, "POST", path, {"title": "t", "head": "same", "base": "main"})
    check(status == 422 and err["errors"][0]["message"] == "No commits between main and same",
          err)
    status, _, err = api(gh, "POST", path, {"base": "main"})
    check(status == 422 and sorted(e["field"] for e in err["errors"]) == ["head", "title"]
          and all(e["code"] == "missing_field" for e in err["errors"]), err)
    status, _, err = api(gh, "POST", path, {"title": 5, "head": "worklet/one", "base": "main"})
    error_shape(status, err, 422, "For 'properties/title', 5 is not a string.")
    status, _, err = api(gh, "POST", path, b"{not json")
    error_shape(status, err, 400, "Problems parsing JSON")
    status, _, pr = api(gh, "POST", path, {"title": "t", "head": "acme:worklet/one",
                                           "base": "main"})
    check(status == 201 and pr["body"] is None and pr["head"]["ref"] == "worklet/one", pr)


def test_github_auth_errors(ctx):
    gh = ctx.github()
    gh.add_repo("acme/app")
    gh.add_repo("acme/pub", private=False)
    gh.add_repo("acme/ro", push=False)
    body = {"title": "t", "head": "f", "base": "main"}
    status, _, err = api(gh, "POST", "/repos/acme/app/pulls", body, token=None)
    error_shape(status, err, 401, "Requires authentication")
    status, _, err = api(gh, "POST", "/repos/acme/app/pulls", body, token="wrong")
    error_shape(status, err, 401, "Bad credentials")
    status, _, err = api(gh, "POST", "/repos/acme/app/pulls", body, token=TOKEN, scheme="Basic")
    error_shape(status, err, 401, "Bad credentials")
    status, _, err = api(gh, "GET", "/repos/acme/app", token=None)
    error_shape(status, err, 404, "Not Found")
    status, _, repo = api(gh, "GET", "/repos/acme/pub", token=None)
    check(status == 200 and repo["private"] is False, repo)
    status, _, err = api(gh, "GET", "/repos/acme/missing")
    error_shape(status, err, 404, "Not Found")
    status, _, err = api(gh, "POST", "/repos/acme/ro/pulls", body)
    error_shape(status, err, 403, "Resource not accessible by personal access token")
    status, _, text = api(gh, "POST", "/repos/acme/app/pulls", body, ua=False)
    check(status == 403 and "User-Agent" in text, (status, text))
    status, _, err = api(gh, "GET", "/nothing/here")
    error_shape(status, err, 404, "Not Found")


def test_github_scripted_failures(ctx):
    gh = ctx.github()
    gh.add_repo("acme/app")
    path = "/repos/acme/app/pulls"
    body = {"title": "t", "head": "feature", "base": "main"}
    gh.fail(kind="rate_limit", method="POST", path="/pulls$", times=1)
    status, headers, err = api(gh, "POST", path, body)
    error_shape(status, err, 403, "API rate limit exceeded")
    check(headers["x-ratelimit-remaining"] == "0" and int(headers["x-ratelimit-reset"])
          > time.time(), headers)
    status, headers, pr = api(gh, "POST", path, body)  # times=1: then normal
    check(status == 201 and headers["x-ratelimit-remaining"] != "0", pr)
    cases = [("bad_credentials", 401, "Bad credentials"),
             ("forbidden", 403, "Resource not accessible"),
             ("secondary_rate_limit", 403, "secondary rate limit"),
             ("not_found", 404, "Not Found"),
             ("exists", 422, "Validation Failed"),
             ("server_error", 502, "Server Error")]
    for kind, want, text in cases:
        gh.failures = [{"kind": kind, "method": "POST"}]
        status, headers, err = api(gh, "POST", path, dict(body, head="x"))
        error_shape(status, err, want, text)
        if kind == "secondary_rate_limit":
            check(headers.get("retry-after") == "60", headers)
        if kind == "exists":
            check(err["errors"][0]["message"] == "A pull request already exists for acme:x.", err)
    gh.failures = [{"status": 422, "message": "Validation Failed", "errors": [
        {"resource": "PullRequest", "code": "custom", "message": "custom"}], "path": "/pulls"}]
    status, _, err = api(gh, "GET", path)
    check(status == 422 and err["errors"][0]["message"] == "custom", err)
    gh.failures = []
    status, _, listed = api(gh, "GET", path)
    check(status == 200 and len(listed) == 1, listed)
    try:
        gh.fail(kind="nope")
        check(False, "an unknown kind was accepted")
    except ValueError:
        pass


def test_github_prefix_and_process_mode(ctx):
    srv = pushed_repo(ctx)
    script = ctx.path("failures.json")
    with open(script, "w") as f:
        json.dump([{"kind": "server_error", "path": "/pulls/7$"}], f)
    log = ctx.path("requests.jsonl")
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "scripted_github.py"),
                          "--token", TOKEN, "--prefix", "/api/v3", "--script", script,
                          "--log", log, "--repo", "acme/app=" + srv.repo_path("acme/app")],
                         stdout=subprocess.PIPE, text=True, start_new_session=True)
    ctx.procs.append(p)
    api_url = p.stdout.readline().strip()
    check(api_url.startswith("http://127.0.0.1:") and api_url.endswith("/api/v3"), api_url)

    def call(method, path, body=None, auth=True):
        req = urllib.request.Request(api_url + path, method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": "token " + TOKEN} if auth else {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
    status, repo = call("GET", "/repos/acme/app")
    check(status == 200 and repo["default_branch"] == "main", repo)
    status, pr = call("POST", "/repos/acme/app/pulls",
                      {"title": "t", "body": "b", "head": "worklet/one", "base": "main"})
    check(status == 201 and pr["url"] == api_url + "/repos/acme/app/pulls/1", pr)
    status, err = call("GET", "/repos/acme/app/pulls/7")
    check(status == 502 and err["message"] == "Server Error", err)
    status, err = call("GET", "/repos/acme/app/pulls/1", auth=False)
    check(status == 404, "a private repository's PR without auth: %r" % err)
    # Outside the prefix: not the API.
    status, _, _ = http_get(api_url[:-len("/api/v3")] + "/repos/acme/app",
                            {"Authorization": "token " + TOKEN})
    check(status == 404, status)
    with open(log) as f:
        lines = [json.loads(line) for line in f]
    check(len(lines) >= 4 and all(TOKEN not in json.dumps(line) for line in lines)
          and lines[0]["headers"]["authorization"] == "<redacted>", lines[:2])


TESTS = [test_private_clone_with_the_token, test_clone_without_the_token_is_refused,
         test_clone_with_a_wrong_token_fails, test_public_and_missing_repositories,
         test_branch_selection_and_fetch, test_push_a_new_branch,
         test_redirect_to_another_host_does_not_get_the_token, test_git_http_process_mode,
         test_github_pull_request_create_list_update, test_github_validation,
         test_github_auth_errors, test_github_scripted_failures,
         test_github_prefix_and_process_mode]


def main():
    only = sys.argv[1:]
    passed = failed = 0
    for fn in TESTS:
        if only and fn.__name__ not in only:
            continue
        ctx = Ctx()
        t0 = time.time()
        try:
            fn(ctx)
            passed += 1
            print("ok   %s (%.1fs)" % (fn.__name__, time.time() - t0), flush=True)
        except Exception:  # noqa: BLE001 - report every failure the same way
            failed += 1
            print("FAIL %s (%.1fs)" % (fn.__name__, time.time() - t0), flush=True)
            traceback.print_exc()
            print(ctx.report())
        finally:
            ctx.cleanup()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or passed == 0 else 0)


if __name__ == "__main__":
    main()
