#!/usr/bin/env python3
"""A scripted GitHub REST API server for tests of the pull-request side
(the API base URL a client is given: srv.api_url). Python standard library
only.

As a module:

    gh = ScriptedGitHub(token="tok-123").start()
    gh.add_repo("acme/app", default_branch="main",
                git_dir=git_srv.repo_path("acme/app"),      # optional
                clone_url=git_srv.url_for("acme/app"))      # optional
    gh.api_url             # "http://127.0.0.1:PORT" (+ prefix, e.g. /api/v3)
    ...                    # the client creates / lists / updates PRs
    gh.pulls("acme/app")   # copies of the PR objects, by number
    gh.requests            # copies of every request: method, path, query,
                           # headers (lower-case names), body, status
    gh.fail(kind="rate_limit", method="POST", path="/pulls$", times=1)
    gh.stop()

`with ScriptedGitHub(token) as gh:` works too. As a process: scripted_github.py
--token T [--port N] [--prefix /api/v3] [--repo OWNER/NAME[=BARE_GIT_DIR]]...
[--script FAILURES.json] [--log FILE] prints the API URL on one line and
serves until killed; --log appends every request as a JSON line with the
Authorization header replaced by "<redacted>".

Endpoints (under the prefix, default none; GitHub Enterprise uses /api/v3):
- GET  /repos/{owner}/{repo}: id, name, full_name, private, owner{login},
  html_url, url, clone_url, default_branch, permissions{admin, push, pull}.
- POST /repos/{owner}/{repo}/pulls {"title", "head", "base", "body"?,
  "draft"?}: 201 with the PR and a Location header. head is "branch" or
  "owner:branch" (owner must be the repository's: no forks here).
  Checks, in GitHub's order and shapes: the body is a JSON object (else 400
  "Problems parsing JSON"); title, head, base, body are strings when given
  (else 422 "Invalid request.\\n\\nFor 'properties/title', 5 is not a
  string."); title, head, base present (else 422 "Validation Failed",
  errors [{"resource": "PullRequest", "field": F, "code":
  "missing_field"}]); with a git_dir, head and base are branches there
  (else code "invalid" on that field) and head has commits that base lacks
  (else {"code": "custom", "message": "No commits between main and
  feature"}); no open PR with the same head and base (else {"code":
  "custom", "message": "A pull request already exists for
  acme:feature."}).
- GET  /repos/{owner}/{repo}/pulls?state=open|closed|all&head=owner:branch
  &base=B&per_page=N&page=P: newest first, 30 a page (Link header when
  there are more). As on GitHub, a head without "owner:" is silently
  ignored (all PRs of that state are listed), a classic client bug.
- GET  /repos/{owner}/{repo}/pulls/{number}
- PATCH /repos/{owner}/{repo}/pulls/{number} {"title"?, "body"?, "state"?
  ("open"/"closed"), "base"?}: 200 with the updated PR (updated_at moves).
- GET  /user: {"login": srv.login, "id": 1, "type": "User"}.
- anything else: 404 {"message": "Not Found", ...}.

A PR object: id, node_id, number (1, 2, ... per repository), url (the API
URL), html_url (srv.html_base + "/owner/repo/pull/N", default
https://github.com), state, draft, title, body, head{ref, sha, label
"owner:ref", repo{full_name}}, base{...}, user{login}, created_at,
updated_at, merged, mergeable_state. head.sha/base.sha are the branches'
commits when the repository has a git_dir (read at creation and at each
GET), else a stand-in derived from the name.

Authentication: `Authorization: Bearer TOKEN` or `token TOKEN` (scheme
case-insensitive) with a token of srv.tokens (a list; token= may be one
string or a list). No header: 401 "Requires authentication" for anything
but a GET of a public repository (a GET of a private one is a 404, as
GitHub hides it). A wrong token: 401 "Bad credentials". A repository added
with push=False answers POST/PATCH with 403 "Resource not accessible by
personal access token". A request without User-Agent gets GitHub's 403
"Request forbidden by administrative rules. Please make sure your request
has a User-Agent header ..." (libcurl sends none unless told;
require_user_agent=False turns the check off).

Errors have GitHub's JSON shape: {"message": M, "documentation_url": U,
"status": "422"} plus "errors": [...] for validation failures.
Every answer carries x-ratelimit-limit/-remaining/-reset/-used/-resource,
x-github-request-id and x-github-media-type.

Scripted failures: srv.failures is a list of rules (srv.fail(...) appends
one); the first rule that matches a request answers it instead of the
normal handling (after the request is recorded, before auth). A rule:
    {"method": "POST" (absent: any), "path": REGEX searched in the path
     without query and prefix (absent: any), "times": N (absent: always;
     counted per rule), "kind": K, "status": S, "message": M,
     "errors": [...], "headers": {...}, "documentation_url": U}
with kind one of (status and message may override the defaults)
    bad_credentials       401 "Bad credentials"
    requires_auth         401 "Requires authentication"
    forbidden             403 "Resource not accessible by personal access token"
    rate_limit            403 "API rate limit exceeded for user ID 1. ...",
                          x-ratelimit-remaining: 0, x-ratelimit-reset
    secondary_rate_limit  403 "You have exceeded a secondary rate limit...",
                          retry-after: 60
    not_found             404 "Not Found"
    exists                422 "Validation Failed", errors [{"resource":
                          "PullRequest", "code": "custom", "message": "A pull
                          request already exists for OWNER:HEAD."}]
    validation            422 "Validation Failed", errors from the rule
    server_error          502 "Server Error"
or no kind and a status (and message, errors). srv.clear() forgets the
requests; srv.failures = [...] resets the rules and their counters.
"""

import argparse
import copy
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DOCS = "https://docs.github.com/rest"
DOC_CREATE = "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"
DOC_UPDATE = "https://docs.github.com/rest/pulls/pulls#update-a-pull-request"
DOC_RATE = ("https://docs.github.com/rest/overview/rate-limits-for-the-rest-api")
UA_MESSAGE = ("Request forbidden by administrative rules. Please make sure your request has "
              "a User-Agent header (https://docs.github.com/en/rest/overview/"
              "resources-in-the-rest-api#user-agent-required). Check "
              "https://developer.github.com for other possible causes.\n")
KINDS = {
    "bad_credentials": (401, "Bad credentials", DOCS),
    "requires_auth": (401, "Requires authentication", DOCS),
    "forbidden": (403, "Resource not accessible by personal access token", DOC_CREATE),
    "rate_limit": (403, "API rate limit exceeded for user ID 1. If you reach out to GitHub "
                   "Support for help, please include the request ID %(rid)s and timestamp "
                   "%(ts)s.", DOC_RATE),
    "secondary_rate_limit": (403, "You have exceeded a secondary rate limit. Please wait a few "
                             "minutes before you try again. If you reach out to GitHub "
                             "Support for help, please include the request ID %(rid)s.",
                             DOC_RATE),
    "not_found": (404, "Not Found", DOCS),
    "exists": (422, "Validation Failed", DOC_CREATE),
    "validation": (422, "Validation Failed", DOC_CREATE),
    "server_error": (502, "Server Error", DOCS),
}
RATE_LIMIT = 5000
REPO_RE = r"/repos/(?P<owner>[A-Za-z0-9_.-]+)/(?P<repo>[A-Za-z0-9_.-]+)"
ROUTES = [
    ("GET", re.compile("^" + REPO_RE + "$"), "get_repo"),
    ("GET", re.compile("^" + REPO_RE + "/pulls$"), "list_pulls"),
    ("POST", re.compile("^" + REPO_RE + "/pulls$"), "create_pull"),
    ("GET", re.compile("^" + REPO_RE + r"/pulls/(?P<number>[0-9]+)$"), "get_pull"),
    ("PATCH", re.compile("^" + REPO_RE + r"/pulls/(?P<number>[0-9]+)$"), "update_pull"),
    ("GET", re.compile("^/user$"), "get_user"),
]


class ApiError(Exception):
    """An answer in GitHub's error shape."""

    def __init__(self, status, message, doc=DOCS, errors=None, headers=None):
        super().__init__(message)
        self.status, self.message, self.doc = status, message, doc
        self.errors, self.headers = errors, headers or {}

    def body(self):
        out = {"message": self.message, "documentation_url": self.doc,
               "status": str(self.status)}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _fake_sha(text):
    return hashlib.sha1(text.encode()).hexdigest()


def _validation(errors, doc=DOC_CREATE):
    return ApiError(422, "Validation Failed", doc, errors)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"

    def log_message(self, fmt, *args):  # quiet; requests are recorded instead
        pass

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return None, raw
        try:
            return json.loads(raw), raw
        except ValueError:
            return raw.decode(errors="replace"), raw

    def _send(self, status, obj, headers=None, content_type="application/json; charset=utf-8"):
        data = obj.encode() if isinstance(obj, str) else json.dumps(obj).encode()
        owner = self.server.owner
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-github-request-id", self._rid)
        self.send_header("x-github-media-type", "github.v3; format=json")
        self.send_header("x-github-api-version-selected", "2022-11-28")
        rate = owner._rate_headers()
        rate.update({k.lower(): v for k, v in (headers or {}).items()})
        for k, v in rate.items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        owner._set_status(self._entry, status)

    def _handle(self):
        owner = self.server.owner
        self._rid = "%04X:%s" % (os.getpid() & 0xFFFF, uuid.uuid4().hex[:16].upper())
        body, raw = self._read_body() if self.command in ("POST", "PATCH", "PUT") else (None, b"")
        url = urllib.parse.urlsplit(self.path)
        self._entry = owner._record(self, url, body)
        path = url.path
        if owner.prefix:
            path = path[len(owner.prefix):] if path.startswith(owner.prefix + "/") else None
        try:
            if path is not None:
                rule = owner._match_failure(self.command, path)
                if rule is not None:
                    raise owner._failure_error(rule, self._rid, body, path)
            if owner.require_user_agent and not self.headers.get("User-Agent"):
                return self._send(403, UA_MESSAGE, content_type="text/plain; charset=utf-8")
            if path is None:
                raise ApiError(404, "Not Found")
            for method, pattern, name in ROUTES:
                m = pattern.match(path)
                if m and method == self.command:
                    status, obj, headers = getattr(owner, "_" + name)(
                        self, m.groupdict(), urllib.parse.parse_qs(url.query), body, raw)
                    return self._send(status, obj, headers)
            raise ApiError(404, "Not Found")
        except ApiError as e:
            return self._send(e.status, e.body(), e.headers)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle

    # -- auth, used by the owner's handlers ----------------------------------
    def auth_state(self):
        """"none", "ok" or "bad"."""
        header = self.headers.get("Authorization")
        if header is None:
            return "none"
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() in ("bearer", "token") and value.strip() in self.server.owner.tokens:
            return "ok"
        return "bad"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class ScriptedGitHub:
    """The scripted GitHub REST server; see the module docstring."""

    def __init__(self, token=None, host="127.0.0.1", port=0, prefix="",
                 html_base="https://github.com", login="worklet-bot",
                 require_user_agent=True, failures=None, log=None):
        self._lock = threading.Lock()
        self._tokens = [token] if isinstance(token, str) else list(token or [])
        self._host, self._port = host, port
        self.prefix = prefix.rstrip("/")
        self.html_base = html_base.rstrip("/")
        self.login = login
        self.require_user_agent = require_user_agent
        self._repos = {}
        self._requests = []
        self._failures, self._fail_hits = [], []
        self.failures = failures or []
        self._used = 0
        self._reset = int(time.time()) + 3600
        self._ids = 1000
        self._log = log
        self._httpd = None
        self._thread = None

    # -- configuration --------------------------------------------------------
    @property
    def tokens(self):
        with self._lock:
            return list(self._tokens)

    @tokens.setter
    def tokens(self, tokens):
        with self._lock:
            self._tokens = [tokens] if isinstance(tokens, str) else list(tokens or [])

    @property
    def failures(self):
        with self._lock:
            return copy.deepcopy(self._failures)

    @failures.setter
    def failures(self, rules):
        if not isinstance(rules, list):
            raise TypeError("failures must be a list of rules")
        for rule in rules:
            self._check_rule(rule)
        with self._lock:
            self._failures = copy.deepcopy(rules)
            self._fail_hits = [0] * len(rules)

    def fail(self, kind=None, status=None, method=None, path=None, times=None, message=None,
             errors=None, headers=None):
        """Append a failure rule (see the module docstring)."""
        rule = {k: v for k, v in dict(kind=kind, status=status, method=method, path=path,
                                      times=times, message=message, errors=errors,
                                      headers=headers).items() if v is not None}
        self._check_rule(rule)
        with self._lock:
            self._failures.append(rule)
            self._fail_hits.append(0)

    @staticmethod
    def _check_rule(rule):
        if not isinstance(rule, dict):
            raise TypeError("a failure rule must be a dict, got %r" % (rule,))
        if "kind" in rule and rule["kind"] not in KINDS:
            raise ValueError("unknown failure kind %r (one of %s)"
                             % (rule["kind"], ", ".join(KINDS)))
        if "kind" not in rule and "status" not in rule:
            raise ValueError("a failure rule needs a kind or a status: %r" % (rule,))
        if "path" in rule:
            re.compile(rule["path"])

    def add_repo(self, full_name, default_branch="main", private=True, git_dir=None,
                 clone_url=None, push=True):
        """A repository the API knows. git_dir: its bare repository (e.g.
        git_http's srv.repo_path(name)), used to check head/base and to give
        real shas. push=False: POST/PATCH answer 403."""
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError("full_name must be owner/name, got %r" % full_name)
        with self._lock:
            self._ids += 1
            self._repos[full_name] = {
                "id": self._ids, "owner": owner, "name": name, "full_name": full_name,
                "default_branch": default_branch, "private": private, "git_dir": git_dir,
                "clone_url": clone_url or "%s/%s.git" % (self.html_base, full_name),
                "push": push, "pulls": [], "next": 1}

    def add_pull(self, full_name, head, base, title, body="", state="open", user=None):
        """A PR made directly (e.g. someone else's); returns a copy."""
        with self._lock:
            repo = self._repos[full_name]
            pr = self._new_pull(repo, head, base, title, body, False, user or self.login)
            pr["state"] = state
            return copy.deepcopy(pr)

    def pulls(self, full_name):
        """Copies of a repository's PRs, by number."""
        with self._lock:
            return copy.deepcopy(self._repos[full_name]["pulls"])

    @property
    def url(self):
        host, port = self._httpd.server_address[:2]
        return "http://%s:%d" % (host, port)

    @property
    def api_url(self):
        """The API base URL a client is given (url + prefix)."""
        return self.url + self.prefix

    # -- records --------------------------------------------------------------
    @property
    def requests(self):
        """Copies of the recorded requests: dicts with time, method, path
        (without query), query (parse_qs dict), headers (lower-case names),
        body (parsed JSON, a string if it is not JSON, None when empty),
        status (None while in flight)."""
        with self._lock:
            return copy.deepcopy(self._requests)

    def clear(self):
        with self._lock:
            self._requests = []

    def _record(self, handler, url, body):
        entry = {"time": time.time(), "method": handler.command, "path": url.path,
                 "query": urllib.parse.parse_qs(url.query),
                 "headers": {k.lower(): v for k, v in handler.headers.items()},
                 "body": body, "status": None}
        with self._lock:
            self._requests.append(entry)
        return entry

    def _set_status(self, entry, status):
        with self._lock:
            entry["status"] = status
            if self._log:
                line = dict(entry, headers=dict(entry["headers"]))
                if "authorization" in line["headers"]:
                    line["headers"]["authorization"] = "<redacted>"
                self._log.write(json.dumps(line) + "\n")
                self._log.flush()

    def _rate_headers(self):
        with self._lock:
            self._used += 1
            if time.time() > self._reset:
                self._reset, self._used = int(time.time()) + 3600, 1
            return {"x-ratelimit-limit": RATE_LIMIT,
                    "x-ratelimit-remaining": max(0, RATE_LIMIT - self._used),
                    "x-ratelimit-reset": self._reset, "x-ratelimit-used": self._used,
                    "x-ratelimit-resource": "core"}

    # -- scripted failures ----------------------------------------------------
    def _match_failure(self, method, path):
        with self._lock:
            for i, rule in enumerate(self._failures):
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if rule.get("path") and not re.search(rule["path"], path):
                    continue
                times = rule.get("times")
                if times is not None and self._fail_hits[i] >= times:
                    continue
                self._fail_hits[i] += 1
                return copy.deepcopy(rule)
        return None

    def _failure_error(self, rule, rid, body, path):
        kind = rule.get("kind")
        status, message, doc = KINDS.get(kind, (rule.get("status"), "Scripted failure", DOCS))
        status = int(rule.get("status", status))
        if "message" in rule:
            message = rule["message"]
        elif "%(" in message:
            message = message % {"rid": rid, "ts": _now()}
        headers = {}
        errors = rule.get("errors")
        if kind == "rate_limit":
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-used": str(RATE_LIMIT),
                       "x-ratelimit-limit": str(RATE_LIMIT),
                       "x-ratelimit-reset": str(int(time.time()) + 3600)}
        elif kind == "secondary_rate_limit":
            headers = {"retry-after": "60"}
        elif kind == "exists" and errors is None:
            head = body.get("head") if isinstance(body, dict) else None
            m = re.match("^" + REPO_RE, path or "")
            if isinstance(head, str) and ":" not in head:
                head = "%s:%s" % (m.group("owner") if m else "owner", head)
            errors = [{"resource": "PullRequest", "code": "custom",
                       "message": "A pull request already exists for %s." % (head or "?")}]
        elif kind == "validation" and errors is None:
            errors = []
        headers.update(rule.get("headers") or {})
        return ApiError(status, message, rule.get("documentation_url", doc), errors, headers)

    # -- handlers -------------------------------------------------------------
    def _repo(self, handler, args, write=False):
        """The repository a request names, after the auth checks."""
        state = handler.auth_state()
        if state == "bad":
            raise ApiError(401, "Bad credentials")
        full = "%s/%s" % (args["owner"], args["repo"])
        with self._lock:
            repo = self._repos.get(full)
        if state == "none" and (write or repo is None or repo["private"]):
            if write:
                raise ApiError(401, "Requires authentication")
            raise ApiError(404, "Not Found")
        if repo is None:
            raise ApiError(404, "Not Found", DOC_CREATE if write else DOCS)
        if write and not repo["push"]:
            raise ApiError(403, "Resource not accessible by personal access token",
                           DOC_CREATE)
        return repo

    def _get_user(self, handler, args, query, body, raw):
        state = handler.auth_state()
        if state == "bad":
            raise ApiError(401, "Bad credentials")
        if state == "none":
            raise ApiError(401, "Requires authentication")
        return 200, {"login": self.login, "id": 1, "type": "User"}, None

    def _get_repo(self, handler, args, query, body, raw):
        repo = self._repo(handler, args)
        return 200, self._repo_json(repo), None

    def _repo_json(self, repo):
        full = repo["full_name"]
        return {"id": repo["id"], "node_id": "R_%d" % repo["id"], "name": repo["name"],
                "full_name": full, "private": repo["private"],
                "visibility": "private" if repo["private"] else "public",
                "owner": {"login": repo["owner"], "id": 1, "type": "User"},
                "html_url": "%s/%s" % (self.html_base, full),
                "url": "%s/repos/%s" % (self.api_url, full),
                "clone_url": repo["clone_url"], "default_branch": repo["default_branch"],
                "permissions": {"admin": False, "maintain": False, "push": repo["push"],
                                "triage": repo["push"], "pull": True}}

    def _branch_sha(self, repo, branch):
        if not repo["git_dir"]:
            return _fake_sha("%s:%s" % (repo["full_name"], branch))
        p = subprocess.run(["git", "rev-parse", "--verify", "-q", "refs/heads/" + branch],
                           cwd=repo["git_dir"], capture_output=True, text=True,
                           env=dict(os.environ, GIT_CONFIG_NOSYSTEM="1"))
        return p.stdout.strip() if p.returncode == 0 else None

    def _commits_between(self, repo, base, head):
        if not repo["git_dir"]:
            return 1
        p = subprocess.run(["git", "rev-list", "--count", "refs/heads/%s..refs/heads/%s"
                            % (base, head)], cwd=repo["git_dir"], capture_output=True,
                           text=True, env=dict(os.environ, GIT_CONFIG_NOSYSTEM="1"))
        return int(p.stdout.strip() or 0) if p.returncode == 0 else 0

    def _new_pull(self, repo, head, base, title, body, draft, user):
        """A PR object added to repo (the lock is held)."""
        n = repo["next"]
        repo["next"] += 1
        self._ids += 1
        full = repo["full_name"]
        now = _now()
        pr = {"id": self._ids, "node_id": "PR_%d" % self._ids, "number": n,
              "url": "%s/repos/%s/pulls/%d" % (self.api_url, full, n),
              "html_url": "%s/%s/pull/%d" % (self.html_base, full, n),
              "state": "open", "draft": bool(draft), "locked": False,
              "title": title, "body": body, "user": {"login": user, "id": 1, "type": "User"},
              "head": self._ref_json(repo, head), "base": self._ref_json(repo, base),
              "created_at": now, "updated_at": now, "closed_at": None, "merged_at": None,
              "merged": False, "mergeable_state": "unknown"}
        repo["pulls"].append(pr)
        return pr

    def _ref_json(self, repo, ref):
        return {"ref": ref, "label": "%s:%s" % (repo["owner"], ref),
                "sha": self._branch_sha(repo, ref),
                "repo": {"id": repo["id"], "full_name": repo["full_name"],
                         "name": repo["name"], "owner": {"login": repo["owner"]}}}

    def _refresh(self, repo, pr):
        """Current shas of a PR's branches (as GitHub shows them)."""
        for side in ("head", "base"):
            sha = self._branch_sha(repo, pr[side]["ref"])
            if sha:
                pr[side]["sha"] = sha
        return pr

    @staticmethod
    def _type_errors(body, fields, doc):
        for f in fields:
            if f in body and body[f] is not None and not isinstance(body[f], str):
                raise ApiError(422, "Invalid request.\n\nFor 'properties/%s', %s is not a "
                               "string." % (f, json.dumps(body[f])), doc)

    def _create_pull(self, handler, args, query, body, raw):
        repo = self._repo(handler, args, write=True)
        if not isinstance(body, dict):
            raise ApiError(400, "Problems parsing JSON", DOC_CREATE)
        self._type_errors(body, ("title", "head", "base", "body"), DOC_CREATE)
        missing = [f for f in ("head", "base", "title") if not body.get(f)]
        if missing:
            raise _validation([{"resource": "PullRequest", "field": f, "code": "missing_field"}
                               for f in missing])
        head, base = body["head"], body["base"]
        if ":" in head:
            head_owner, head = head.split(":", 1)
        else:
            head_owner = repo["owner"]
        if head_owner != repo["owner"] or not self._branch_sha(repo, head):
            raise _validation([{"resource": "PullRequest", "field": "head", "code": "invalid"}])
        if not self._branch_sha(repo, base):
            raise _validation([{"resource": "PullRequest", "field": "base", "code": "invalid"}])
        if self._commits_between(repo, base, head) == 0:
            raise _validation([{"resource": "PullRequest", "code": "custom",
                                "message": "No commits between %s and %s" % (base, head)}])
        with self._lock:
            for pr in repo["pulls"]:
                if pr["state"] == "open" and pr["head"]["ref"] == head \
                        and pr["base"]["ref"] == base:
                    raise _validation([{"resource": "PullRequest", "code": "custom",
                                        "message": "A pull request already exists for %s:%s."
                                        % (repo["owner"], head)}])
            pr = self._new_pull(repo, head, base, body["title"], body.get("body"),
                                body.get("draft"), self.login)
            out = copy.deepcopy(pr)
        return 201, out, {"Location": out["url"]}

    def _list_pulls(self, handler, args, query, body, raw):
        repo = self._repo(handler, args)
        q = {k: v[-1] for k, v in query.items()}
        state = q.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise _validation([{"resource": "Issue", "field": "state", "code": "invalid"}],
                              "https://docs.github.com/rest/pulls/pulls#list-pull-requests")
        head = q.get("head")
        head_filter = None
        if head and ":" in head:  # a bare branch name is ignored, as on GitHub
            head_filter = tuple(head.split(":", 1))
        try:
            per_page = max(1, min(100, int(q.get("per_page", 30))))
            page = max(1, int(q.get("page", 1)))
        except ValueError:
            per_page, page = 30, 1
        with self._lock:
            pulls = [pr for pr in reversed(repo["pulls"])
                     if (state == "all" or pr["state"] == state)
                     and (not head_filter or (head_filter[0] == repo["owner"]
                                              and pr["head"]["ref"] == head_filter[1]))
                     and (not q.get("base") or pr["base"]["ref"] == q["base"])]
            pulls = copy.deepcopy(pulls)
        total = len(pulls)
        out = [self._refresh(repo, pr) for pr in pulls[(page - 1) * per_page:page * per_page]]
        headers = {}
        last = max(1, -(-total // per_page))
        if last > 1:
            base_url = "%s/repos/%s/pulls" % (self.api_url, repo["full_name"])
            links = []
            for rel, p in (("next", page + 1), ("last", last), ("first", 1), ("prev", page - 1)):
                if (rel in ("next", "last") and page < last) or (rel in ("first", "prev")
                                                                 and page > 1):
                    links.append('<%s?%s>; rel="%s"' % (base_url, urllib.parse.urlencode(
                        dict(q, page=p, per_page=per_page)), rel))
            headers["Link"] = ", ".join(links)
        return 200, out, headers

    def _find_pull(self, repo, number):
        for pr in repo["pulls"]:
            if pr["number"] == int(number):
                return pr
        raise ApiError(404, "Not Found",
                       "https://docs.github.com/rest/pulls/pulls#get-a-pull-request")

    def _get_pull(self, handler, args, query, body, raw):
        repo = self._repo(handler, args)
        with self._lock:
            pr = copy.deepcopy(self._find_pull(repo, args["number"]))
        return 200, self._refresh(repo, pr), None

    def _update_pull(self, handler, args, query, body, raw):
        repo = self._repo(handler, args, write=True)
        if not isinstance(body, dict):
            raise ApiError(400, "Problems parsing JSON", DOC_UPDATE)
        self._type_errors(body, ("title", "body", "state", "base"), DOC_UPDATE)
        if body.get("state") not in (None, "open", "closed"):
            raise _validation([{"resource": "PullRequest", "field": "state",
                                "code": "invalid"}], DOC_UPDATE)
        if body.get("base") and not self._branch_sha(repo, body["base"]):
            raise _validation([{"resource": "PullRequest", "field": "base",
                                "code": "invalid"}], DOC_UPDATE)
        with self._lock:
            pr = self._find_pull(repo, args["number"])
            for f in ("title", "body"):
                if f in body:
                    pr[f] = body[f]
            if body.get("base"):
                pr["base"] = self._ref_json(repo, body["base"])
            if body.get("state"):
                pr["state"] = body["state"]
                pr["closed_at"] = _now() if body["state"] == "closed" else None
            pr["updated_at"] = _now()
            out = copy.deepcopy(pr)
        return 200, self._refresh(repo, out), None

    # -- lifecycle ------------------------------------------------------------
    def start(self):
        self._httpd = _Server((self._host, self._port), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="scripted-github", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if not self._httpd:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
        self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Scripted GitHub REST API server.")
    ap.add_argument("--port", type=int, default=0, help="port (0: any free one)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--token", action="append", default=[], help="a valid token (repeatable)")
    ap.add_argument("--prefix", default="", help="API path prefix, e.g. /api/v3")
    ap.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME[=GIT_DIR]",
                    help="a repository (its bare git directory to check branches)")
    ap.add_argument("--script", help="JSON file: a list of failure rules")
    ap.add_argument("--log", help="append every request to this file as JSON lines "
                                  "(Authorization redacted)")
    args = ap.parse_args(argv)
    failures = []
    if args.script:
        with open(args.script) as f:
            failures = json.load(f)
    log = open(args.log, "a") if args.log else None
    srv = ScriptedGitHub(args.token, args.host, args.port, prefix=args.prefix,
                         failures=failures, log=log)
    for spec in args.repo:
        name, _, git_dir = spec.partition("=")
        srv.add_repo(name, git_dir=git_dir or None)
    srv.start()
    print(srv.api_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
