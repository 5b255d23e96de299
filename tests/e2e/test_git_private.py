"""Private repositories over HTTP(S) with GITHUB_TOKEN, against a real git
smart-HTTP server (tests/e2e/git_http.py: git http-backend behind basic
auth): the token opens the repository, its absence or a wrong one ends in an
error that says which, a fixed token recovers, a missing branch is named, a
redirect to another host never receives the token, and the token is found
nowhere: state files, logs, the clone's config, API answers, docker inspect
and docker history."""

import os
import subprocess
import time

from git_http import GitHTTPServer
from wltest import FIXTURES, check, containers, images, run

TOKEN = "ghp_e2e_private_" + str(os.getpid()) + "_0123456789"
SRV = GitHTTPServer(token=TOKEN).start()
OTHER = GitHTTPServer(token=TOKEN, url_host="localhost").start()
SRV.create_repo("acme/app", from_dir=os.path.join(FIXTURES, "static"),
                branches={"feature": {"about/index.html": "<p>feature branch</p>"}})
HOST = SRV.url.split("://", 1)[1].rstrip("/")


def create(env, url, branch="main"):
    code, w, _ = env.api("POST", "/api/worklet/worklets",
                         {"name": "private", "git_repo": url, "branch": branch})
    check(code == 201, (code, w))
    env.ids.append(w["id"])
    return w["id"]


def test_private_clone_with_token_and_branch(env):
    wid = create(env, SRV.url_for("acme/app"), "feature")
    st = env.wait_phase(wid, "running", 240)
    code, body, _ = env.api("GET", "/api/worklet/worklets/%s/proxy/about/" % wid)
    check(code == 200 and "feature branch" in str(body), (code, body))
    check(SRV.saw_token(TOKEN), "the server never saw the token")
    # The token is nowhere it should not be.
    leaks = []
    for root, _, files in os.walk(env.tmp):
        if os.path.join(env.tmp, "repos") in root:
            continue
        for name in files:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    if TOKEN.encode() in f.read():
                        leaks.append(path)
            except OSError:
                pass
    check(not leaks, "the token is in %s" % leaks)
    for path in ("/api/worklet/worklets/" + wid, "/api/worklet/worklets/%s/status" % wid,
                 "/api/worklet/worklets/%s/logs" % wid, "/api/worklet/worklets"):
        code, body, _ = env.api("GET", path)
        check(TOKEN not in str(body), "the token is in %s" % path)
    for c in containers(wid):
        out = subprocess.run(["docker", "inspect", c["Id"]], capture_output=True, text=True)
        check(TOKEN not in out.stdout, "the token is in docker inspect")
    for img in images(wid):
        for cmd in (["docker", "history", "--no-trunc", img["Id"]],
                    ["docker", "inspect", img["Id"]]):
            out = subprocess.run(cmd, capture_output=True, text=True)
            check(TOKEN not in out.stdout, "the token is in %s" % cmd[1])
    check(st["commit"] == SRV.branches("acme/app")["feature"], st)


test_private_clone_with_token_and_branch.settings = {
    "GITHUB_TOKEN": TOKEN, "WORKLET_GIT_TOKEN_HOSTS": HOST}


def test_without_a_token_then_fixed(env):
    wid = create(env, SRV.url_for("acme/app"))
    st = env.wait_phase(wid, "error", 120)
    check("needs credentials" in st["lastError"] and "GITHUB_TOKEN" in st["lastError"],
          st["lastError"])
    # The cause is fixed (the token added): a restart with it succeeds.
    env.stop()
    env.settings["GITHUB_TOKEN"] = TOKEN
    env.settings["WORKLET_GIT_TOKEN_HOSTS"] = HOST
    env.start()
    env.wait_api()
    env.wait_phase(wid, "running", 240)


def test_wrong_token_and_missing_branch(env):
    wid = create(env, SRV.url_for("acme/app"))
    st = env.wait_phase(wid, "error", 120)
    check("token was rejected" in st["lastError"], st["lastError"])
    check("wrong-token" not in st["lastError"], "the token is in the message")
    SRV.clear()


test_wrong_token_and_missing_branch.settings = {
    "GITHUB_TOKEN": "ghp_wrong-token-0000000000", "WORKLET_GIT_TOKEN_HOSTS": HOST}


def test_missing_branch_is_named(env):
    wid = create(env, SRV.url_for("acme/app"), "no-such-branch")
    st = env.wait_phase(wid, "error", 120)
    check("branch 'no-such-branch' not found" in st["lastError"], st["lastError"])
    wid = create(env, SRV.url_for("acme/no-such-repo"))
    st = env.wait_phase(wid, "error", 120)
    check("repository" in st["lastError"] and "not found" in st["lastError"] and
          "no-such-repo" in st["lastError"], st["lastError"])
    # Nobody listening: a network error, said as such (and retried).
    wid = create(env, "http://127.0.0.1:9/acme/app.git")
    st = env.wait(wid, lambda s: "Cloned" in str(s.get("conditions")) and
                  s.get("lastError"), 60, "clone error")
    check("cannot" in st["lastError"] and "127.0.0.1:9" in st["lastError"], st["lastError"])
    cloned = [c for c in st["conditions"] if c["type"] == "Cloned"][0]
    check(cloned["reason"] == "NetworkError", cloned)


test_missing_branch_is_named.settings = {
    "GITHUB_TOKEN": TOKEN, "WORKLET_GIT_TOKEN_HOSTS": HOST}


def test_redirect_to_another_host_gets_no_token(env):
    OTHER.create_repo("acme/app", from_dir=os.path.join(FIXTURES, "static"))
    OTHER.clear()
    SRV.clear()
    SRV.redirect_to(OTHER.url)
    try:
        wid = create(env, SRV.url_for("acme/app"))
        st = env.wait_phase(wid, "error", 120)
        check("only for" in st["lastError"], st["lastError"])
        check(OTHER.requests, "the redirect was not followed at all")
        check(not OTHER.saw_token(TOKEN) and
              not any(r["authorization"] for r in OTHER.requests),
              "the other host received credentials")
    finally:
        SRV.redirect_to(None)


test_redirect_to_another_host_gets_no_token.settings = {
    "GITHUB_TOKEN": TOKEN, "WORKLET_GIT_TOKEN_HOSTS": HOST}


def test_host_allow_list(env):
    url = SRV.url_for("acme/app")
    SRV.clear()
    code, err, _ = env.api("POST", "/api/worklet/worklets", {"git_repo": url})
    check(code == 400 and "not allowed" in err["error"]["message"], (code, err))
    # A manifest dropped in the directory is refused by the controller too.
    wid = env.new_id("hosts")
    env.apply(wid, url)
    st = env.wait_phase(wid, "error", 60)
    check("not allowed" in st["lastError"] and "github.com" in st["lastError"],
          st["lastError"])
    check(not SRV.requests, "the repository was contacted")


test_host_allow_list.settings = {"WORKLET_GIT_ALLOWED_HOSTS": "github.com,gitlab.com"}


def test_clone_cache_is_shared_and_collected(env):
    """Two worklets of one repository share one mirror, fetched not
    re-cloned; their clones hard-link its objects; it goes once unused."""
    url = SRV.url_for("acme/app")
    a, b = create(env, url), create(env, url, "feature")
    env.wait_phase(a, "running", 240)
    env.wait_phase(b, "running", 240)
    mirrors = os.path.join(env.clones, ".mirrors")
    gits = [d for d in os.listdir(mirrors) if d.endswith(".git")]
    check(len(gits) == 1, "mirrors: %r" % os.listdir(mirrors))
    packs = os.path.join(env.clones, a, ".git", "objects", "pack")
    linked = [f for f in os.listdir(packs) if os.stat(os.path.join(packs, f)).st_nlink > 1]
    check(linked, "the clone's objects are copies, not links to the mirror")
    # The clones push to the real origin, not to the mirror.
    out = subprocess.run(["git", "-C", os.path.join(env.clones, b), "remote", "get-url",
                          "origin"], capture_output=True, text=True).stdout.strip()
    check(out == url, out)
    # A new commit upstream reaches both through the one mirror.
    SRV.clear()
    sha = SRV.commit_files("acme/app", "main", {"index.html": "<h1>NEW-UPSTREAM</h1>"}, "up")
    env.wait(a, lambda s: s.get("servingCommit") == sha, 60, "new commit served")
    for wid in (a, b):
        env.api("DELETE", "/api/worklet/worklets/" + wid)
    env.wait(a, lambda s: not os.path.exists(os.path.join(mirrors, gits[0])), 60,
             "the unused mirror removed")


test_clone_cache_is_shared_and_collected.settings = {
    "GITHUB_TOKEN": TOKEN, "WORKLET_GIT_TOKEN_HOSTS": HOST,
    "WORKLET_GIT_CACHE_TTL_SECONDS": 3}


ALICE_TOKEN = "ghp_alice_only_" + str(os.getpid()) + "_0123456789"
USER_TOKENS = "/tmp/wl-e2e-user-tokens-%d" % os.getpid()
with open(os.open(USER_TOKENS, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
    f.write("# user-id github-token\nalice %s\n" % ALICE_TOKEN)


def test_per_user_token(env):
    """alice's own token opens a repository only she can read; bob (with
    only the global token) cannot clone it, not even through the mirror
    alice's worklet filled."""
    SRV.create_repo("acme/alice-only", from_dir=os.path.join(FIXTURES, "static"),
                    tokens=[ALICE_TOKEN])
    url = SRV.url_for("acme/alice-only")
    a = create(env, url)
    env.wait_phase(a, "running", 240)
    code, w, _ = env.api("POST", "/api/worklet/worklets", {"git_repo": url}, user="bob")
    check(code == 201, (code, w))
    env.ids.append(w["id"])
    st = env.wait_phase(w["id"], "error", 60)
    check("token was rejected" in st["lastError"], st["lastError"])
    check(not os.path.exists(os.path.join(env.clones, w["id"])), "bob got a clone")


test_per_user_token.settings = {
    "GITHUB_TOKEN": TOKEN, "WORKLET_GIT_TOKEN_HOSTS": HOST,
    "WORKLET_USER_TOKENS_FILE": USER_TOKENS}


def test_hostile_symlinks_stay_inside(env):
    """Symlinks pointing outside the clone stay links: what they point to
    on the host never reaches the build context or the image."""
    marker = "HOST-SECRET-%d" % os.getpid()
    secret = "/tmp/wl-e2e-host-secret-%d" % os.getpid()
    with open(secret, "w") as f:
        f.write(marker + "\n")
    try:
        repo = os.path.join(env.repos, "hostile")
        os.makedirs(repo)
        with open(os.path.join(repo, "index.html"), "w") as f:
            f.write("<h1>hostile</h1>\n")
        os.symlink(secret, os.path.join(repo, "leak.txt"))
        os.symlink("../../../../../../etc", os.path.join(repo, "up"))
        subprocess.run(["git", "-C", repo, "init", "-q", "-b", "main"], check=True)
        subprocess.run(["git", "-C", repo, "add", "-A"], check=True)
        subprocess.run(["git", "-C", repo, "-c", "user.name=x", "-c", "user.email=x@x",
                        "commit", "-qm", "hostile"], check=True)
        wid = create(env, repo)
        env.wait_phase(wid, "running", 240)
        clone = os.path.join(env.clones, wid)
        check(os.path.islink(os.path.join(clone, "leak.txt")), "the clone followed a link")
        img = images(wid)[0]["Id"]
        cid = subprocess.run(["docker", "create", img], capture_output=True, text=True,
                             check=True).stdout.strip()
        try:
            out = subprocess.run(["docker", "export", cid], capture_output=True, check=True)
            check(marker.encode() not in out.stdout, "the host file is in the image")
        finally:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        code, body, _ = env.api("GET", "/api/worklet/worklets/%s/proxy/leak.txt" % wid)
        check(marker not in str(body), "the host file is served")
    finally:
        os.unlink(secret)


def test_huge_file_is_refused(env):
    """A repository over the build context limit fails its build with the
    limit named; nothing else is disturbed."""
    repo = env.make_repo("static", "huge")
    with open(os.path.join(repo, "big.bin"), "wb") as f:
        f.write(os.urandom(3 << 20))
    subprocess.run(["git", "-C", repo, "add", "-A"], check=True)
    subprocess.run(["git", "-C", repo, "-c", "user.name=x", "-c", "user.email=x@x",
                    "commit", "-qm", "big"], check=True)
    wid = create(env, repo)
    st = env.wait_phase(wid, "error", 120)
    check("exceeds" in st["lastError"] and str(2 << 20) in st["lastError"], st["lastError"])
    check(containers(wid) == [], "a container was made")


test_huge_file_is_refused.settings = {"WORKLET_BUILD_CONTEXT_MAX": "2Mi"}


if __name__ == "__main__":
    try:
        run([test_private_clone_with_token_and_branch, test_without_a_token_then_fixed,
             test_wrong_token_and_missing_branch, test_missing_branch_is_named,
             test_redirect_to_another_host_gets_no_token, test_host_allow_list,
             test_clone_cache_is_shared_and_collected, test_per_user_token,
             test_hostile_symlinks_stay_inside, test_huge_file_is_refused], "gitpriv")
    finally:
        SRV.stop()
        OTHER.stop()
        os.unlink(USER_TOKENS)
