#!/usr/bin/env python3
"""A real git smart-HTTP server for tests: git's own `git http-backend`, run
as a CGI program once per request behind a small Python front (standard
library only). It hosts bare repositories in a temporary directory, checks
HTTP basic auth the way GitHub does, and records every request in memory.

As a module:

    srv = GitHTTPServer(token="tok-123").start()
    srv.create_repo("acme/app", from_dir=FIXTURES + "/static",
                    branches={"feature": {"about/index.html": "<p>x</p>"}})
    srv.url_for("acme/app")          # http://127.0.0.1:PORT/acme/app.git
    srv.url_for("acme/app", userinfo="x-access-token:tok-123")
    srv.branches("acme/app")         # {"main": sha, "feature": sha}
    srv.git("acme/app", "log", "--format=%s", "feature")   # stdout, str
    srv.requests                     # copies: method, path, authorization, ...
    srv.redirect_to(other.url)       # every request: 301 to the same path there
    srv.stop()                       # also removes the repositories

More: srv.commit_files(name, branch, {path: content}, message) commits in
the served repository as someone else's push would (returns the sha),
srv.set_public / set_push / set_tokens(name, ...), srv.tokens = [...],
srv.delete_repo(name), srv.repo_path(name), srv.url (base URL), and
GitHTTPServer(url_host="localhost") for a second server under another
host name (it still listens on 127.0.0.1).

GitHTTPServer(tls=(certfile, keyfile)) serves HTTPS instead (URLs then
start with https://; the handshake runs on the request's thread).

`with GitHTTPServer(token) as srv:` works too. As a process (manual runs,
benchmarks): git_http.py --token T [--port N] [--repo NAME[=FIXTURE_DIR]]...
[--public NAME]... [--root DIR] prints the base URL on one line and serves
until killed (a --root of existing bare repositories is served as it is and
not removed; NAME.git under it is repository NAME).

Why a Python front and not lighttpd/Apache/nginx: the CGI program is the
real `git http-backend` (so the protocol, v0 and v2, packs, gzip request
bodies and receive-pack are git's own), and the front gives what a test
needs and a configured web server cannot without writing to disk: the
Authorization header of every request kept in memory only (a web server
would have to log it), a redirect mode and per-repository options that
change at run time, an ephemeral port, no config file and no extra Debian
package. The front de-chunks `Transfer-Encoding: chunked` request bodies
(libgit2 pushes that way; git does past http.postBuffer) and streams them
into the CGI's stdin from a thread while the answer streams out, so a push
of any size neither buffers nor deadlocks; an answer without a
Content-Length is sent chunked, connections are kept alive (HTTP/1.1).

Authentication (GitHub's rules for git over HTTPS):
- `Authorization: Basic base64(user:password)` is accepted when the
  password is a valid token whatever the user (`x-access-token:TOKEN`,
  `oauth2:TOKEN`, `anything:TOKEN`), or when the user is the token and the
  password is empty or `x-oauth-basic`. Nothing else (no Bearer).
- Valid tokens: the server's (`token=`, a string or a list; srv.tokens may
  be reassigned), or a repository's own (`create_repo(..., tokens=[...])`)
  which then replace the server's for that repository.
- Credentials that are present but wrong: 401, public repository or not
  (GitHub too refuses a bad token on a public repository).
- No credentials: 401 for a private repository, for a push (receive-pack,
  both /info/refs?service=git-receive-pack and POST /git-receive-pack) and
  for a repository that does not exist (it does not say which, as GitHub);
  fetches of a `public=True` repository are served.
- A 401 carries `WWW-Authenticate: Basic realm="<realm>"` (default
  "worklet-test"), so git and libgit2 ask their credential helper /
  callback and retry.
- Valid credentials and no such repository: 404 ("Repository not found.").
- Valid credentials, a push and `push=False` on the repository: 403.

Redirect mode: srv.redirect_to(base, status=301, require_auth=False)
answers every request (before any auth check) with `status` and
`Location: base + the same path and query`; with require_auth=True the
redirect is only given to a request carrying valid credentials (others get
the 401), to model a host that authenticates first. srv.redirect_to(None)
ends it. Redirected requests are recorded too (status 301/302...).

Records: srv.requests is a list (copied under a lock) of dicts: time,
method, path (with query), authorization (the raw header or None),
user_agent, git_protocol, status (the answer's, None while in flight),
repo (name or None), service ("upload-pack", "receive-pack" or None),
user (the basic-auth user name when the credentials were valid), chunked
(the request body came chunked), content_length (its header or None).
srv.saw_token(token) tells whether any recorded Authorization header
carries that token (Basic user or password, or Bearer); srv.clear()
forgets. Tokens are never printed: http-backend's stderr is kept in
srv.stderr (a list of strings) and there is no access log.

What real clients do here (git 2.39 with curl 7.88, libgit2 1.5.1; the git
part is asserted by tests/e2e/test_git_servers.py, the libgit2 part was
checked with a small C program):
- Neither sends credentials on the first request: git with a token in the
  URL (http://user:TOKEN@host/r.git) waits for the 401 (curl's
  CURLAUTH_ANY), then retries with Basic; a git credential helper and
  libgit2's credential callback are asked only after a 401. A push is
  GET info/refs?service=git-receive-pack (401, then 200) and a POST
  git-receive-pack; libgit2 always sends that POST chunked, git past
  http.postBuffer (1 MiB; then a small probe POST first).
- Redirects are followed for the first request only (GET /info/refs; git's
  http.followRedirects=initial, libgit2's GIT_REMOTE_REDIRECT_INITIAL), and
  the rest goes to the new base URL. A token in the URL is not carried to
  another host (or port): git fails with "Authentication failed". But a
  git credential helper that answers for any host, or a libgit2 callback
  that does not look at the URL it is given, hands the token to the new
  host on its 401: libgit2 calls the callback with the redirected URL
  (http://otherhost:port/r.git). So "the token never reaches another host"
  is the client code's job, and srv.requests / srv.saw_token() of the
  second server let a test assert it. An Authorization header sent to the
  first host (require_auth=True) is not forwarded on the redirect by either
  client.
- libgit2 1.5: a wrong token makes it call the callback again after every
  401 without end (the callback must give up, e.g. return GIT_PASSTHROUGH
  the second time for the same URL, after which the error is "remote
  authentication required but no callback set", class GIT_ERROR_HTTP); a
  missing repository with a valid token is "unexpected http status code:
  404"; a missing branch (checkout_branch) is GIT_ENOTFOUND "reference
  'refs/remotes/origin/<branch>' not found".
"""

import argparse
import base64
import binascii
import hmac
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# A repository name: one or more path segments of safe characters (e.g.
# "app" or "acme/app"), served at /<name>.git.
NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*$")
PATH_RE = re.compile(r"^/(?P<name>[A-Za-z0-9_][A-Za-z0-9_./-]*?)\.git(?P<rest>/.*)?$")
GIT_IDENT = {"GIT_AUTHOR_NAME": "Fixture", "GIT_AUTHOR_EMAIL": "fixture@example.com",
             "GIT_COMMITTER_NAME": "Fixture", "GIT_COMMITTER_EMAIL": "fixture@example.com",
             "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
             "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z"}
# Request headers a CGI program does not get as HTTP_* (RFC 3875 4.1.18).
NOT_PASSED = {"authorization", "proxy-authorization", "content-type", "content-length",
              "transfer-encoding", "connection"}
BUF = 64 * 1024


def _git_env(home):
    """An environment for our own git commands: no user or system config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(HOME=home, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    return env


def basic_credentials(header):
    """(user, password) of a Basic Authorization header, else None."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(":")
    return (user, password) if sep else None


def header_has_token(header, token):
    """Whether an Authorization header carries token (Basic or Bearer/token)."""
    if not header or not token:
        return False
    creds = basic_credentials(header)
    if creds:
        return token in creds
    return token in header


class _Repo:
    def __init__(self, name, path, public, push, tokens, owned):
        self.name, self.path = name, path
        self.public, self.push, self.tokens = public, push, tokens
        self.owned = owned  # created by us: removed by stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "git-http-test/1"

    def log_message(self, fmt, *args):  # quiet: requests are recorded instead
        pass

    def do_GET(self):
        self._serve()

    def do_POST(self):
        self._serve()

    def do_HEAD(self):
        self._serve()

    def do_PUT(self):
        self._serve()

    # -- request body -----------------------------------------------------
    def _body_chunks(self):
        """The request body, de-chunked, as a generator of byte strings."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("request body cut off")
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(8192).strip():  # trailers
                        pass
                    return
                left = size
                while left:
                    data = self.rfile.read(min(left, BUF))
                    if not data:
                        raise ConnectionError("request body cut off")
                    left -= len(data)
                    yield data
                self.rfile.readline(8)  # the CRLF after a chunk
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                data = self.rfile.read(min(left, BUF))
                if not data:
                    raise ConnectionError("request body cut off")
                left -= len(data)
                yield data

    def _drain(self):
        """Read and drop the request body, so the connection can be reused."""
        try:
            for _ in self._body_chunks():
                pass
        except (OSError, ValueError):
            self.close_connection = True

    # -- simple answers ---------------------------------------------------
    def _answer(self, status, text, headers=None, drain=True):
        if drain:
            self._drain()
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.entry_status(status)

    def entry_status(self, status):
        self.server.owner._set_status(self._entry, status)

    # -- the request ------------------------------------------------------
    def _serve(self):
        owner = self.server.owner
        url = urllib.parse.urlsplit(self.path)
        m = PATH_RE.match(url.path)
        name = m.group("name") if m else None
        rest = (m.group("rest") or "") if m else ""
        query = urllib.parse.parse_qs(url.query)
        if rest == "/git-receive-pack" or (
                rest == "/info/refs" and query.get("service") == ["git-receive-pack"]):
            service = "receive-pack"
        elif rest == "/git-upload-pack" or rest == "/info/refs":
            service = "upload-pack"
        else:
            service = None
        auth = self.headers.get("Authorization")
        self._entry = owner._record(self, name, service, auth)

        with owner._lock:
            redirect = owner._redirect
            repo = owner._repos.get(name) if name else None
            tokens = list(repo.tokens if repo and repo.tokens is not None else owner._tokens)
            realm = owner.realm
        creds = basic_credentials(auth)
        valid = bool(creds) and any(_token_ok(creds, t) for t in tokens)
        if valid:
            owner._set_user(self._entry, creds[0])
        challenge = {"WWW-Authenticate": 'Basic realm="%s"' % realm}

        if redirect and not (redirect[2] and not valid):
            base, status = redirect[0], redirect[1]
            return self._answer(status, "moved\n", {"Location": base.rstrip("/") + self.path})
        if redirect:  # require_auth and no valid credentials
            return self._answer(401, "Authentication required\n", challenge)
        if auth is not None and not valid:
            return self._answer(401, "Invalid username or token.\n", challenge)
        if not m or ".." in name.split("/") or not NAME_RE.match(name):
            return self._answer(404 if valid else 401, "Not found\n",
                                None if valid else challenge)
        if repo is None:
            if valid:
                return self._answer(404, "Repository not found.\n")
            return self._answer(401, "Authentication required\n", challenge)
        if not valid and (service == "receive-pack" or not repo.public):
            return self._answer(401, "Authentication required\n", challenge)
        if service == "receive-pack" and not repo.push:
            return self._answer(403, "Permission to %s.git denied.\n" % name)
        if self.command not in ("GET", "POST"):
            return self._answer(405, "Method not allowed\n")
        self._cgi(owner, repo, rest, url.query, creds[0] if valid else None)

    def _cgi(self, owner, repo, rest, query, user):
        env = _git_env(owner._home)
        env.update({
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": self.request_version,
            "SERVER_SOFTWARE": self.server_version,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.server.server_address[1]),
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": "/" + os.path.relpath(repo.path, owner.root) + rest,
            "QUERY_STRING": query,
            "REMOTE_ADDR": self.client_address[0],
            "GIT_PROJECT_ROOT": owner.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            # Pushes are allowed here; the front decided who may push.
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.receivepack",
            "GIT_CONFIG_VALUE_0": "true",
        })
        if user is not None:
            env["REMOTE_USER"] = user or "token"
            env["AUTH_TYPE"] = "Basic"
        if self.headers.get("Content-Type"):
            env["CONTENT_TYPE"] = self.headers["Content-Type"]
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        if self.headers.get("Content-Length") and not chunked:
            env["CONTENT_LENGTH"] = self.headers["Content-Length"]
        # With neither, http-backend reads the body to EOF (git >= 2.19).
        for k, v in self.headers.items():
            if k.lower() not in NOT_PASSED:
                env["HTTP_" + k.upper().replace("-", "_")] = v

        proc = subprocess.Popen(["git", "http-backend"], env=env, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        feed_error = []

        def feed():
            try:
                for data in self._body_chunks():
                    try:
                        proc.stdin.write(data)
                    except BrokenPipeError:
                        feed_error.append("backend stopped reading")
                        for _ in self._body_chunks():  # keep the connection in step
                            pass
                        break
            except (OSError, ValueError) as e:
                feed_error.append(str(e))
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        def drain_stderr():
            text = proc.stderr.read().decode(errors="replace")
            if text.strip():
                owner._add_stderr(text)

        feeder = threading.Thread(target=feed, daemon=True)
        errs = threading.Thread(target=drain_stderr, daemon=True)
        feeder.start()
        errs.start()
        try:
            self._relay(proc)
        except OSError:
            self.close_connection = True  # the client went away
        finally:
            proc.stdout.close()
            feeder.join(30)
            errs.join(30)
            proc.wait()
        if feed_error:
            self.close_connection = True

    def _relay(self, proc):
        """http-backend's CGI answer to the client."""
        out = proc.stdout
        status, headers = 200, []
        while True:
            line = out.readline()
            if not line:
                self.close_connection = True
                return self._answer(502, "git http-backend gave no answer\n", drain=False)
            line = line.rstrip(b"\r\n").decode("latin-1")
            if not line:
                break
            k, _, v = line.partition(":")
            v = v.strip()
            if k.lower() == "status":
                status = int(v.split()[0])
            else:
                headers.append((k, v))
        length = next((v for k, v in headers if k.lower() == "content-length"), None)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        chunked = length is None and self.request_version == "HTTP/1.1"
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif length is None:
            self.close_connection = True
        self.end_headers()
        self.entry_status(status)
        while True:
            data = out.read1(BUF) if hasattr(out, "read1") else out.read(BUF)
            if not data:
                break
            if self.command == "HEAD":
                continue
            if chunked:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                self.wfile.write(data)
            self.wfile.flush()
        if chunked and self.command != "HEAD":
            self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _token_ok(creds, token):
    if not token:
        return False
    user, password = creds
    eq = hmac.compare_digest
    return eq(password.encode(), token.encode()) or (
        eq(user.encode(), token.encode()) and password in ("", "x-oauth-basic"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    ssl_context = None  # HTTPS when set

    def get_request(self):
        sock, addr = super().get_request()
        if self.ssl_context:
            sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request, client_address):
        if self.ssl_context:
            request.settimeout(10)
            try:
                request.do_handshake()
            except (OSError, ssl.SSLError):
                return  # not a TLS client, or one that gave up
            request.settimeout(None)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return  # a client that hung up: nothing to report
        super().handle_error(request, client_address)


class GitHTTPServer:
    """The git smart-HTTP test server; see the module docstring."""

    def __init__(self, token=None, host="127.0.0.1", port=0, url_host=None, realm="worklet-test",
                 root=None, tls=None):
        self._lock = threading.Lock()
        self._tokens = [token] if isinstance(token, str) else list(token or [])
        self.realm = realm
        self._host, self._port = host, port
        self.url_host = url_host or host  # the host name put in URLs
        self._tmp = tempfile.mkdtemp(prefix="wl-git-http-")
        self._home = os.path.join(self._tmp, "home")
        os.makedirs(self._home)
        self._own_root = root is None
        self.root = os.path.realpath(root or os.path.join(self._tmp, "repos"))
        os.makedirs(self.root, exist_ok=True)
        self._repos = {}
        self._requests = []
        self._stderr = []
        self._redirect = None
        self._tls = tls
        self.scheme = "https" if tls else "http"
        self._httpd = None
        self._thread = None
        if not self._own_root:
            self._adopt_existing()

    # -- configuration ------------------------------------------------------
    @property
    def tokens(self):
        with self._lock:
            return list(self._tokens)

    @tokens.setter
    def tokens(self, tokens):
        with self._lock:
            self._tokens = [tokens] if isinstance(tokens, str) else list(tokens or [])

    def redirect_to(self, base_url, status=301, require_auth=False):
        """Answer every request with a redirect to base_url + the same path
        (None: stop redirecting). See the module docstring."""
        with self._lock:
            self._redirect = (base_url, status, require_auth) if base_url else None

    def set_public(self, name, public=True):
        with self._lock:
            self._repos[name].public = public

    def set_push(self, name, push=True):
        with self._lock:
            self._repos[name].push = push

    def set_tokens(self, name, tokens):
        """A repository's own valid tokens (None: the server's)."""
        with self._lock:
            self._repos[name].tokens = None if tokens is None else (
                [tokens] if isinstance(tokens, str) else list(tokens))

    # -- repositories -------------------------------------------------------
    def repo_path(self, name):
        """The bare repository's directory."""
        return os.path.join(self.root, name + ".git")

    def url_for(self, name, userinfo=None):
        """http://HOST:PORT/<name>.git, with "user:password@" when given."""
        host, port = self._httpd.server_address[:2]
        auth = ""
        if userinfo:
            user, sep, pw = userinfo.partition(":")
            auth = urllib.parse.quote(user, safe="") + (
                ":" + urllib.parse.quote(pw, safe="") if sep else "") + "@"
        return "%s://%s%s:%d/%s.git" % (self.scheme, auth, self.url_host, port, name)

    @property
    def url(self):
        """The base URL, http://HOST:PORT (no trailing slash)."""
        return "%s://%s:%d" % (self.scheme, self.url_host, self._httpd.server_address[1])

    def _run(self, cwd, *args, env=None):
        e = _git_env(self._home)
        e.update(GIT_IDENT)
        e.update(env or {})
        p = subprocess.run(["git"] + list(args), cwd=cwd, env=e, capture_output=True)
        if p.returncode != 0:
            raise RuntimeError("git %s failed: %s" % (" ".join(args),
                                                      p.stderr.decode(errors="replace")))
        return p.stdout.decode(errors="replace")

    def create_repo(self, name, from_dir=None, branches=None, public=False, push=True,
                    tokens=None, default_branch="main", message="initial commit"):
        """A bare repository served at url_for(name); returns its path.

        from_dir: a directory whose files become one commit on default_branch
        (fixed author and date, so the same fixture gives the same sha).
        branches: names (branched from default_branch) or a dict name ->
        {relative path: content (str/bytes) or None to delete}, each a commit
        on top of default_branch. With branches and no from_dir the initial
        commit holds a README. Without either the repository is empty.
        public: fetches need no credentials. push=False: pushes get 403.
        tokens: this repository's own valid tokens (default: the server's)."""
        if not NAME_RE.match(name) or ".." in name.split("/"):
            raise ValueError("bad repository name %r" % name)
        path = self.repo_path(name)
        if os.path.exists(path):
            raise FileExistsError(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self._run(self.root, "init", "-q", "--bare", "-b", default_branch, path)
        if from_dir is not None or branches:
            work = tempfile.mkdtemp(prefix="seed-", dir=self._tmp)
            try:
                self._seed(work, path, from_dir, branches, default_branch, message)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        with self._lock:
            self._repos[name] = _Repo(name, path, public, push,
                                      None if tokens is None else (
                                          [tokens] if isinstance(tokens, str) else list(tokens)),
                                      owned=True)
        return path

    def _seed(self, work, bare, from_dir, branches, default_branch, message):
        self._run(work, "init", "-q", "-b", default_branch)
        if from_dir is not None:
            shutil.copytree(from_dir, work, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".git"))
        else:
            with open(os.path.join(work, "README"), "w") as f:
                f.write("fixture\n")
        self._run(work, "add", "-A")
        self._run(work, "commit", "-q", "--allow-empty", "-m", message)
        if isinstance(branches, dict):
            items = list(branches.items())
        else:
            items = [(b, None) for b in (branches or [])]
        for branch, files in items:
            self._run(work, "checkout", "-q", "-b", branch, default_branch)
            if files:
                self._write_files(work, files)
                self._run(work, "add", "-A")
                self._run(work, "commit", "-q", "-m", "%s: fixture change" % branch)
        self._run(work, "push", "-q", bare, "refs/heads/*:refs/heads/*")

    @staticmethod
    def _write_files(work, files):
        for rel, content in files.items():
            p = os.path.join(work, rel)
            if content is None:
                if os.path.exists(p):
                    os.remove(p)
                continue
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)

    def commit_files(self, name, branch, files, message="server-side change"):
        """A commit on branch (created from the default branch if missing)
        made directly in the served repository, as if someone else pushed;
        returns its sha."""
        path = self.repo_path(name)
        work = tempfile.mkdtemp(prefix="change-", dir=self._tmp)
        try:
            self._run(work, "init", "-q")
            self._run(work, "fetch", "-q", path, "+refs/heads/*:refs/remotes/o/*")
            refs = self._run(work, "branch", "-r", "--format=%(refname:short)").split()
            if "o/" + branch in refs:
                self._run(work, "checkout", "-q", "-b", branch, "o/" + branch)
            else:
                head = self._run(path, "symbolic-ref", "--short", "HEAD").strip()
                self._run(work, "checkout", "-q", "-b", branch, "o/" + head)
            self._write_files(work, files)
            self._run(work, "add", "-A")
            self._run(work, "commit", "-q", "--allow-empty", "-m", message)
            self._run(work, "push", "-q", path, "HEAD:refs/heads/" + branch)
            return self._run(work, "rev-parse", "HEAD").strip()
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def delete_repo(self, name):
        with self._lock:
            repo = self._repos.pop(name)
        shutil.rmtree(repo.path, ignore_errors=True)

    def git(self, name, *args):
        """Run git in the bare repository; returns stdout (str)."""
        return self._run(self.repo_path(name), *args)

    def branches(self, name):
        """{branch: sha} of the served repository."""
        out = self.git(name, "for-each-ref", "--format=%(refname:short) %(objectname)",
                       "refs/heads/")
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def _adopt_existing(self):
        for dirpath, dirnames, _ in os.walk(self.root):
            for d in list(dirnames):
                if d.endswith(".git"):
                    full = os.path.join(dirpath, d)
                    name = os.path.relpath(full, self.root)[:-4]
                    self._repos[name] = _Repo(name, full, False, True, None, owned=False)
                    dirnames.remove(d)

    # -- records ------------------------------------------------------------
    @property
    def requests(self):
        with self._lock:
            return [dict(r) for r in self._requests]

    @property
    def stderr(self):
        """What git http-backend said on stderr (one string per request)."""
        with self._lock:
            return list(self._stderr)

    def clear(self):
        with self._lock:
            self._requests = []
            self._stderr = []

    def saw_token(self, token):
        """Whether any recorded Authorization header carried token."""
        return any(header_has_token(r["authorization"], token) for r in self.requests)

    def _record(self, handler, name, service, auth):
        entry = {"time": time.time(), "method": handler.command, "path": handler.path,
                 "authorization": auth, "user_agent": handler.headers.get("User-Agent"),
                 "git_protocol": handler.headers.get("Git-Protocol"), "status": None,
                 "repo": name, "service": service, "user": None,
                 "chunked": "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower(),
                 "content_length": handler.headers.get("Content-Length")}
        with self._lock:
            self._requests.append(entry)
        return entry

    def _set_status(self, entry, status):
        with self._lock:
            entry["status"] = status

    def _set_user(self, entry, user):
        with self._lock:
            entry["user"] = user

    def _add_stderr(self, text):
        with self._lock:
            self._stderr.append(text)

    # -- lifecycle ----------------------------------------------------------
    def start(self):
        self._httpd = _Server((self._host, self._port), _Handler)
        self._httpd.owner = self
        if self._tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self._tls)
            self._httpd.ssl_context = ctx
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="git-http", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving and remove the temporary directory (and the
        repositories made by create_repo; an adopted --root stays)."""
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(5)
            self._httpd = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description="git smart-HTTP test server (git http-backend).")
    ap.add_argument("--port", type=int, default=0, help="port (0: any free one)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--token", action="append", default=[],
                    help="a valid token (repeatable); the password of basic auth")
    ap.add_argument("--root", help="serve the bare repositories (NAME.git) under DIR")
    ap.add_argument("--repo", action="append", default=[], metavar="NAME[=FIXTURE_DIR]",
                    help="create a repository, seeded from FIXTURE_DIR")
    ap.add_argument("--public", action="append", default=[], metavar="NAME",
                    help="fetches of NAME need no credentials")
    args = ap.parse_args(argv)
    srv = GitHTTPServer(args.token, args.host, args.port, root=args.root)
    # SIGTERM too removes the temporary repositories on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.start()
    for spec in args.repo:
        name, _, fixture = spec.partition("=")
        srv.create_repo(name, from_dir=fixture or None)
    for name in args.public:
        srv.set_public(name)
    print(srv.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
