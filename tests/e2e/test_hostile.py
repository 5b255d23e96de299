"""Hostile input, as one table of cases against one workletd (issue 7).

Each case is a request (through the API, the proxy, or raw bytes on a
socket) with the status and the error text it must get. After every case:
nothing was stored (the spec, status and clone directories are as before),
no marker file appeared (/tmp/wl-pwned-*), and the service is unaffected
(healthz answers, a running worklet still serves through the proxy).
Then spec files dropped into the spec directory (YAML bombs, deep nesting,
a huge file, invalid UTF-8), git URLs refused when local repositories are
not allowed, and a repository whose symlinks point out of its tree.

The cases the other files hold are not repeated here: test_api.py's error
statuses (ext:: over the API, a 2 MiB Content-Length, ../ in a plain id),
test_proxy.py's framing, slow heads and 431 on proxy requests,
test_failures.py's invalid manifests.
"""

import glob
import http.client
import os
import socket
import time

from wltest import check, http_get, rand_suffix, run

BASE = "/api/worklet/worklets"
MARK = "/tmp/wl-pwned-" + rand_suffix(8)
SECRET = "wl-hostile-secret-" + rand_suffix(12)


def raw(env, data, timeout=15):
    """Send bytes; return (status, whole reply) once the server answers and
    closes, or when the reply is complete enough (a JSON or text body)."""
    s = socket.create_connection(("127.0.0.1", env.api_port), timeout=timeout)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    reply = b""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
            head, sep, body = reply.partition(b"\r\n\r\n")
            if sep:
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(body) >= int(line.split(b":")[1]):
                            deadline = 0
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    try:
        status = int(reply.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    return status, reply.decode(errors="replace")


def auth(env):
    return "Authorization: Bearer %s\r\n" % env.tokens["alice"]


def snapshot(env):
    """What a request must not change."""
    out = {}
    for sub in ("specs", "status", "prompts"):
        d = os.path.join(env.state, sub)
        out[sub] = sorted(os.listdir(d)) if os.path.isdir(d) else []
    out["state"] = sorted(os.listdir(env.state))
    out["clones"] = sorted(os.listdir(env.clones)) if os.path.isdir(env.clones) else []
    return out


def unaffected(env, port, what):
    check(env.proc.poll() is None, "%s: workletd died" % what)
    check(http_get(env.api_port, "/healthz")[0] == 200, "%s: healthz" % what)
    code, body = http_get(port)
    check(code == 200 and "hello from static" in body, "%s: the app stopped serving" % what)
    check(not glob.glob(MARK + "*"), "%s: a hostile input ran a command" % what)


def running_static(env, name="good"):
    code, w, _ = env.api("POST", BASE, {"git_repo": env.make_repo("static", name)})
    check(code == 201, w)
    env.ids.append(w["id"])
    st = env.wait_phase(w["id"], "running", 300)
    return w["id"], st["port"]


def api_cases(env, good, repo):
    """(name, how, request, status, error text). how: 'json' posts a body
    to create; 'api' is (method, path, kwargs) through env.api; 'raw' is
    bytes on a socket."""
    a = auth(env)
    deep = b"[" * 100000 + b"]" * 100000
    deep_obj = b'{"git_repo":"%s","environment":' % repo.encode() + b'{"a":' * 50000 + \
        b'"x"' + b"}" * 50001
    big = b'{"git_repo":"%s","description":"%s"}' % (repo.encode(), b"x" * (10 << 20))
    return [
        # git URLs
        ("git ext:: helper", "json", {"git_repo": "ext::sh -c touch% " + MARK + "-ext"},
         400, "transport syntax is not allowed"),
        ("git -u option", "json", {"git_repo": "-uhttps://x"}, 400, "must not start with '-'"),
        ("git --upload-pack", "json", {"git_repo": "--upload-pack=touch " + MARK + "-up"},
         400, "must not start with '-'"),
        ("git credentials in URL", "json",
         {"git_repo": "https://user:%s@example.com/r.git" % SECRET}, 400,
         "credentials in the URL are not allowed"),
        ("git ssh ProxyCommand", "json",
         {"git_repo": "ssh://-oProxyCommand=touch%%20%s-ssh/r" % MARK}, 400,
         "must be an https URL"),
        ("git host starting with -", "json",
         {"git_repo": "https://-oProxyCommand=x/r"}, 400, "invalid host"),
        ("git URL with a newline", "json",
         {"git_repo": "https://example.com/r.git\n[core]"}, 400, "control characters"),
        ("git branch as an option", "json", {"git_repo": repo, "branch": "--upload-pack=x"},
         400, "branch"),
        # ids
        ("id ../ encoded", "api", ("GET", BASE + "/..%2f..%2fetc%2fpasswd", {}), 404, ""),
        ("id %2e%2e", "api", ("GET", BASE + "/%2e%2e/status", {}), 404, ""),
        ("PUT id ../ encoded", "api",
         ("PUT", BASE + "/..%2fevil", {"body": {"spec": {"gitRepo": repo}}}), (400, 404), ""),
        ("PUT id with /", "raw",
         ("PUT %s/a/b HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
          "Content-Length: 2\r\n\r\n{}" % (BASE, a)).encode(), 404, ""),
        ("PUT id with NUL", "api",
         ("PUT", BASE + "/evil%00x", {"body": {"spec": {"gitRepo": repo}}}), 400, "%00"),
        ("PUT id 300 chars", "api",
         ("PUT", BASE + "/" + "a" * 300, {"body": {"spec": {"gitRepo": repo}}}), 404,
          "no such endpoint"),
        ("PUT id uppercase", "api",
         ("PUT", BASE + "/EVIL", {"body": {"spec": {"gitRepo": repo}}}), 400, "id"),
        # proxy paths
        ("proxy ../ to another worklet", "raw",
         ("GET %s/%s/../wl-0000000000/proxy/ HTTP/1.1\r\nHost: x\r\n%s\r\n"
          % (BASE, good, a)).encode(), 404, ""),
        ("proxy ../ out of the prefix", "raw",
         ("GET %s/%s/proxy/../../../../../etc/passwd HTTP/1.1\r\nHost: x\r\n%s\r\n"
          % (BASE, good, a)).encode(), -1, "root:"),
        ("proxy encoded traversal", "raw",
         ("GET %s/%s/proxy/%%2e%%2e/%%2e%%2e/%%2e%%2e/etc/passwd HTTP/1.1\r\nHost: x\r\n%s\r\n"
          % (BASE, good, a)).encode(), -1, "root:"),
        # JSON
        # Answered from Content-Length; the client may not get to send it all.
        ("JSON 10 MiB", "raw",
         ("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
          "Content-Length: %d\r\n\r\n" % (BASE, a, len(big))).encode() + big[:65536],
         413, "too large"),
        ("JSON nested 100000 deep", "api", ("POST", BASE, {"raw_body": deep, "headers":
                                                          {"Content-Type": "application/json"}}),
         400, ""),
        ("JSON objects nested 50000 deep", "api",
         ("POST", BASE, {"raw_body": deep_obj, "headers": {"Content-Type": "application/json"}}),
         400, ""),
        ("JSON invalid UTF-8 in name", "api",
         ("POST", BASE, {"raw_body": b'{"git_repo":"%s","name":"bad\xc3\x28"}' % repo.encode(),
                         "headers": {"Content-Type": "application/json"}}), 400, "UTF-8"),
        ("JSON invalid UTF-8 in prompt", "api",
         ("POST", BASE + "/%s/prompt" % good,
          {"raw_body": b'{"prompt":"\xff\xfe"}', "headers": {"Content-Type": "application/json"}}),
         400, "UTF-8"),
        ("JSON NUL escape in name", "api",
         ("POST", BASE, {"raw_body": b'{"git_repo":"%s","name":"a\\u0000b"}' % repo.encode(),
                         "headers": {"Content-Type": "application/json"}}), 400, "\\u0000"),
        ("JSON escaped backslash then u0000 is text", "api",
         ("POST", BASE, {"raw_body": b'{"git_repo":"-x","name":"a\\\\u0000b"}',
                         "headers": {"Content-Type": "application/json"}}), 400,
         "must not start with '-'"),
        ("JSON chunked (API)", "raw",
         ("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\n"
          "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n2\r\n1}\r\n0\r\n\r\n"
          % (BASE, a)).encode(), 411, "Content-Length"),
        # headers
        ("header with a bare CR (API)", "raw",
         ("GET %s HTTP/1.1\r\nHost: x\r\n%sX-A: a\rInjected: 1\r\n\r\n" % (BASE, a)).encode(),
         400, ""),
        ("header with a bare CR (proxy)", "raw",
         ("GET %s/%s/proxy/ HTTP/1.1\r\nHost: x\r\n%sX-A: a\rInjected: 1\r\n\r\n"
          % (BASE, good, a)).encode(), 400, ""),
        ("header with a bare LF (proxy)", "raw",
         ("GET %s/%s/proxy/ HTTP/1.1\r\nHost: x\r\n%sX-A: a\nInjected: 1\r\n\r\n"
          % (BASE, good, a)).encode(), (200, 400), ""),
        ("folded header (proxy)", "raw",
         ("GET %s/%s/proxy/ HTTP/1.1\r\nHost: x\r\n%sX-A: a\r\n Injected: 1\r\n\r\n"
          % (BASE, good, a)).encode(), 400, ""),
        ("header 20 KiB (API)", "raw",
         ("GET %s HTTP/1.1\r\nHost: x\r\n%sX-Big: %s\r\n\r\n" % (BASE, a, "b" * 20000)).encode(),
         431, "too large"),
        ("header 70 KiB (API)", "raw",
         ("GET %s HTTP/1.1\r\nHost: x\r\n%sX-Big: %s\r\n\r\n" % (BASE, a, "b" * 70000)).encode(),
         431, ""),
        ("2000 headers (API)", "raw",
         ("GET %s HTTP/1.1\r\nHost: x\r\n%s%s\r\n"
          % (BASE, a, "".join("X-H%d: v\r\n" % i for i in range(2000)))).encode(), 431, ""),
        ("1000 headers, 11 KiB (API): served", "raw",
         ("GET %s HTTP/1.1\r\nHost: x\r\n%s%sConnection: close\r\n\r\n"
          % (BASE, a, "".join("X-H%d: v\r\n" % i for i in range(1000)))).encode(), 200, ""),
    ]


def test_hostile_requests_table(env):
    good, port = running_static(env)
    repo = env.make_repo("static", "other")
    failures = []
    for name, how, req, status, text in api_cases(env, good, repo):
        before = snapshot(env)
        t0 = time.time()
        if how == "json":
            got, body, _ = env.api("POST", BASE, req)
        elif how == "api":
            method, path, kw = req
            try:
                got, body, _ = env.api(method, path, **kw)
            except (OSError, http.client.HTTPException) as e:
                got, body = 0, repr(e)
        else:
            got, body = raw(env, req)
        took = time.time() - t0
        body_text = body if isinstance(body, str) else repr(body)
        if status == -1:
            # A path that leaves the prefix reaches at most the app: it
            # must never be a file from outside the app's root.
            ok = got in (400, 403, 404) and text not in body_text
        else:
            ok = got in (status if isinstance(status, tuple) else (status,)) and \
                text.lower() in body_text.lower()
        if not ok:
            failures.append("%s: got %s in %.1f s, want %s %r: %s"
                            % (name, got, took, status, text, body_text[:200]))
        after = snapshot(env)
        if after != before:
            failures.append("%s: stored something: %r -> %r" % (name, before, after))
        unaffected(env, port, name)
        print("  %-34s %s %5.2fs %s" % (name, got, took, "ok" if ok else "FAIL"), flush=True)
    check(SECRET not in env.logs(), "the credentials reached the log")
    for d in (env.state,):
        for root, _, files in os.walk(d):
            for f in files:
                with open(os.path.join(root, f), errors="replace") as fh:
                    check(SECRET not in fh.read(), "the credentials were stored in %s" % f)
    check(not failures, "\n".join(failures))


def test_hostile_spec_files(env):
    """Files a user (or an attacker with write access to the spec dir)
    drops: each is reported on its own worklet, nothing else changes."""
    good, port = running_static(env)
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    prev = "a"
    for i in range(1, 10):
        laughs += "%s%d: &%s%d [%s]\n" % ("l", i, "l", i, ", ".join(["*" + prev] * 10))
        prev = "l%d" % i
    cases = {
        "bomb": "apiVersion: worklet.dev/v1\nkind: Worklet\n" + laughs +
                "spec:\n  gitRepo: https://example.com/r.git\n  env: *l9\n",
        "deep": "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n  gitRepo: " +
                "[" * 100000 + "]" * 100000 + "\n",
        "huge": "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n  gitRepo: x\n"
                "  description: '" + "x" * (20 << 20) + "'\n",
        "badutf": "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n  gitRepo: "
                  "https://example.com/r.git\n  description: \"\xff\"\n",
    }
    for wid, text in cases.items():
        env.ids.append(wid)
        with open(env.spec_path(wid) + ".tmp", "wb") as f:
            f.write(text.encode("latin-1"))
        os.rename(env.spec_path(wid) + ".tmp", env.spec_path(wid))
    t0 = time.time()
    for wid in cases:
        st = env.wait_phase(wid, "error", 60)
        check(st.get("lastError"), (wid, st))
        print("  %-8s -> %s (%.1f s)" % (wid, st["lastError"][:100], time.time() - t0), flush=True)
        unaffected(env, port, wid)
    code, lst, _ = env.api("GET", BASE)
    check(code == 200 and good in [w["id"] for w in lst["worklets"]], (code, lst))
    check(not os.listdir(env.clones) or os.listdir(env.clones) == [good] or
          all(not d.startswith(tuple(cases)) for d in os.listdir(env.clones)),
          "a clone was made for a bad spec: %r" % os.listdir(env.clones))


def test_local_repos_refused_when_not_allowed(env):
    before = snapshot(env)
    for url, text in (("file:///etc", "must be an https URL"),
                      ("/etc", "must be an https URL"),
                      ("http://127.0.0.1/r.git", "must be an https URL"),
                      ("git@example.com:r.git", "must be an https URL"),
                      ("file:///" + MARK, "must be an https URL")):
        code, body, _ = env.api("POST", BASE, {"git_repo": url})
        check(code == 400 and text in body["error"]["message"], (url, code, body))
    check(snapshot(env) == before, "a refused URL stored something")
    check(http_get(env.api_port, "/healthz")[0] == 200, "healthz")


test_local_repos_refused_when_not_allowed.settings = {"WORKLET_ALLOW_LOCAL_REPOS": "0"}


def test_symlinks_out_of_the_tree_are_not_followed(env):
    """A repository whose files are symlinks to the host's files: the build
    context keeps them as links (never the host file's content) and project
    detection does not read through them (a package.json linked to a
    host file that would make it a Node project)."""
    host_secret = "/tmp/%s.txt" % SECRET
    host_pkg = "/tmp/%s-package.json" % SECRET
    with open(host_secret, "w") as f:
        f.write(SECRET + "\n")
    with open(host_pkg, "w") as f:
        f.write('{"name": "x", "scripts": {"start": "node -e 1"}}\n')
    try:
        repo = os.path.join(env.repos, "links")
        env.make_repo("static", "links")
        os.symlink(host_secret, os.path.join(repo, "secret.txt"))
        os.symlink("../../../../../../../..", os.path.join(repo, "up"))
        os.symlink(host_pkg, os.path.join(repo, "package.json"))
        os.symlink("/etc/passwd", os.path.join(repo, "passwd.txt"))
        from wltest import git
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "links")
        code, w, _ = env.api("POST", BASE, {"git_repo": repo})
        check(code == 201, w)
        env.ids.append(w["id"])
        st = env.wait_phase(w["id"], "running", 300)
        code, body = http_get(st["port"])
        check(code == 200 and "hello from static" in body,
              "detected as something else than static: %s %r" % (code, body[:200]))
        for path in ("/secret.txt", "/up/tmp/%s.txt" % SECRET, "/package.json"):
            code, body = http_get(st["port"], path)
            check(SECRET not in body and "node -e 1" not in body,
                  "a host file was served through %s: %s %r" % (path, code, body[:200]))
        # Through the proxy too.
        code, body, _ = env.api("GET", BASE + "/%s/proxy/secret.txt" % w["id"])
        check(SECRET not in str(body), body)
        code, body = http_get(st["port"], "/passwd.txt")
        with open("/etc/passwd") as f:
            host_passwd = f.read()
        check(body != host_passwd, "the host's /etc/passwd was served")
    finally:
        os.unlink(host_secret)
        os.unlink(host_pkg)


if __name__ == "__main__":
    run([test_hostile_requests_table, test_hostile_spec_files,
         test_local_repos_refused_when_not_allowed,
         test_symlinks_out_of_the_tree_are_not_followed], "hostile")
