#!/usr/bin/env python3
"""A scripted Anthropic Messages API server for driving the real Claude Code
CLI in tests (ANTHROPIC_BASE_URL=srv.url). Python standard library only.

As a module:

    srv = ScriptedClaude([{"match": "make a page", "turns": [
        {"write": {"path": "index.html", "content": "<h1>hi</h1>"}},
        {"text": "Wrote index.html."}]}])
    srv.start()            # srv.url == "http://127.0.0.1:PORT" (no /v1)
    ...                    # srv.rules may be replaced at any time
    srv.requests           # copies of every request: method, path, headers, body
    srv.stop()

As a process (benchmarks): scripted_claude.py --port N --script FILE.json
prints the URL on one line and serves until killed.

Script: a list of rules {"match": "substring of the prompt" (absent: any),
"turns": [TURN, ...], "fail_times": N, "error": {...}}. The first rule whose
match occurs in the latest human prompt wins. Stateless: the turn index is
the number of assistant turns after the last user message carrying human
text, so retries and --resume behave; past the end a final "done" text turn
is answered. With "fail_times": N the rule answers its "error" the first N
times it is hit (a counter per rule, reset when srv.rules is assigned), then
goes on with its turns. A TURN is one of
    {"write": {"path": P, "content": C}}          Write tool_use
    {"read": {"path": P}}                         Read tool_use
    {"edit": {"path": P, "old": O, "new": N}}     Edit tool_use (needs a Read before)
    {"tool": {"name": NAME, "input": {...}}}      any other tool_use (e.g. Bash)
    {"text": T}                                   final text, stop_reason end_turn
    {"error": {"status": 529, "type": "overloaded_error", "message": M}}
    {"stall": SECONDS}                            message_start and a ping, then
                                                  hang; then drop the connection
    [BLOCK, BLOCK, ...]                           several write/read/edit/tool/text
                                                  blocks in one assistant message
and any of them but a list may carry "delay": SECONDS (wait first). A
relative path is resolved against the working directory the CLI names in
the request. Any other shape answers HTTP 500 saying why (and says it on
stderr unless srv.errors_to_stderr is False), so a broken script fails
loudly.

More of the module: srv.message_requests() (the /v1/messages bodies),
srv.hits() (per rule), srv.clear() (forget requests), `with
ScriptedClaude(rules) as srv:`, and the helpers prompt_text(body),
turn_index(body), working_dir(body). --log FILE in process mode appends
every request as a JSON line.

What the real CLI (2.1.331) does, measured with the environment of
tests/e2e/test_scripted_claude.py; beyond /work/shared/notes/claude-cli.md:
- Requests: only POST /v1/messages?beta=true, "stream": true, one per model
  turn; no count_tokens, title, quota or HEAD requests. A stream cut off
  mid-way is followed at once by the same request with "stream": false
  (x-stainless-timeout 300 instead of 600), even with
  CLAUDE_CODE_MAX_RETRIES=0. Other paths get a JSON 404 here anyway, and
  /v1/messages/count_tokens is answered.
- The working directory is never in `system` (that is a billing-header
  line, an identity line and the main prompt). It is in a role: "system"
  message right after the first user message, " - Primary working
  directory: /abs/path" (content a list of text blocks on the first request,
  a plain string on later ones); --exclude-dynamic-system-prompt-sections
  leaves it there too. We search system, role: system messages, then user
  text.
- The first user message is several <system-reminder> text blocks (git
  status, commit attribution, sometimes memory) and the prompt as the last
  block; a resumed session's new prompt is a plain string. Tool results come
  back as user messages holding only tool_result blocks. So a "human" user
  message is one with text that is not a <system-reminder>, and the match
  is done against that text only.
- Body: model "claude-opus-5-5" unless --model, max_tokens 128000,
  thinking {"type": "adaptive"}, metadata.user_id (a JSON string holding
  the session id), 12 tools (Agent, Bash, Edit, Read, Write, ...).
- Headers: x-api-key, anthropic-version 2023-06-01, anthropic-beta (a
  comma list), x-app: cli, user-agent "claude-cli/2.1.331 (external,
  sdk-cli)", x-claude-code-session-id (the session uuid), x-stainless-*;
  x-stainless-retry-count stays "0": the CLI retries by itself, emitting
  stream-json {"type":"system","subtype":"api_retry","attempt":N,
  "error_status":529,"retry_delay_ms":~500, then ~1100, ...}.
- An error answer: exit 1, result is_error true, subtype "success",
  api_error_status 529, terminal_reason "api_error", result "API Error: 529
  <our message>. This is a server-side issue..."; the assistant event
  carries error "server_error", api_error_type "overloaded_error".
- Cost and usage in the result are computed from the usage we report.
- Tools: --allowedTools alone restricts nothing (it pre-approves), and
  acceptEdits alone lets a harmless Bash command inside the tree run;
  --disallowedTools Bash, or --tools "Read,Write,Edit", removes Bash from
  the request (a Bash tool_use then gets "No such tool available"). Under
  acceptEdits, Bash commands that write outside the tree or use the network
  (curl) are denied (permission_denials) and the run still exits 0.
"""

import argparse
import copy
import json
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DONE_TURN = {"text": "done"}
TOOL_KEYS = ("write", "read", "edit", "tool")
# The CLI writes " - Primary working directory: /abs/path" in its environment
# section; the looser forms are fallbacks for other versions.
CWD_RES = (re.compile(r"Primary working directory:[ \t]*(/[^\n\r]*)"),
           re.compile(r"(?im)^[ \t]*-?[ \t]*(?:working directory|cwd):[ \t]*(/[^\n\r]*)"))


class ScriptError(Exception):
    """A script that cannot be answered: HTTP 500 with this message."""


# -- reading a request ---------------------------------------------------------

def _texts(content):
    """The text of a message content (a string or a list of blocks)."""
    if isinstance(content, str):
        return [content]
    out = []
    for block in content or []:
        if isinstance(block, dict) and block.get("type") == "text":
            out.append(block.get("text") or "")
    return out


def _is_reminder(text):
    return text.lstrip().startswith("<system-reminder>")


def _human_texts(msg):
    """The texts a person wrote in a user message: not tool results, not the
    CLI's <system-reminder> blocks."""
    if msg.get("role") != "user":
        return []
    return [t for t in _texts(msg.get("content")) if t.strip() and not _is_reminder(t)]


def last_human_index(messages):
    """Index of the last user message carrying human text, -1 if none."""
    for i in range(len(messages) - 1, -1, -1):
        if _human_texts(messages[i]):
            return i
    return -1


def prompt_text(body):
    """The latest human prompt of a Messages API request body."""
    messages = body.get("messages") or []
    i = last_human_index(messages)
    return "\n".join(_human_texts(messages[i])) if i >= 0 else ""


def turn_index(body):
    """Assistant turns since the latest human prompt (consecutive assistant
    messages count once: one model turn)."""
    messages = body.get("messages") or []
    n, prev = 0, None
    for msg in messages[last_human_index(messages) + 1:]:
        role = msg.get("role")
        if role == "system":  # the CLI's environment message: not a turn
            continue
        if role == "assistant" and prev != "assistant":
            n += 1
        prev = role
    return n


def working_dir(body):
    """The working directory the CLI states, or None."""
    places = []
    system = body.get("system")
    places += _texts(system) if system else []
    for msg in body.get("messages") or []:
        if msg.get("role") == "system":
            places += _texts(msg.get("content"))
    for msg in body.get("messages") or []:
        if msg.get("role") == "user":
            places += _texts(msg.get("content"))
    for pattern in CWD_RES:
        for text in places:
            m = pattern.search(text)
            if m:
                return m.group(1).strip()
    return None


# -- building an answer --------------------------------------------------------

def _abs_path(path, body):
    if not isinstance(path, str) or not path:
        raise ScriptError("tool path must be a non-empty string, got %r" % (path,))
    if path.startswith("/"):
        return path
    cwd = working_dir(body)
    if not cwd:
        raise ScriptError("relative path %r but the request names no working directory" % path)
    return cwd.rstrip("/") + "/" + path


def _need(spec, kind, *keys):
    if not isinstance(spec, dict) or any(k not in spec for k in keys):
        raise ScriptError("%s turn needs %s, got %r" % (kind, ", ".join(keys), spec))
    return spec


def _block(item, body):
    """One content block (dict) from a script item with exactly one of
    write/read/edit/tool/text."""
    if not isinstance(item, dict):
        raise ScriptError("a turn block must be an object, got %r" % (item,))
    keys = list(item)
    if len(keys) != 1 or keys[0] not in TOOL_KEYS + ("text",):
        raise ScriptError("unknown turn block %r (expected one of write, read, edit, "
                          "tool, text)" % (item,))
    kind = keys[0]
    spec = item[kind]
    if kind == "text":
        if not isinstance(spec, str):
            raise ScriptError("text turn needs a string, got %r" % (spec,))
        return {"type": "text", "text": spec}
    if kind == "write":
        _need(spec, "write", "path", "content")
        name, inp = "Write", {"file_path": _abs_path(spec["path"], body),
                              "content": spec["content"]}
    elif kind == "read":
        _need(spec, "read", "path")
        name, inp = "Read", {"file_path": _abs_path(spec["path"], body)}
    elif kind == "edit":
        _need(spec, "edit", "path", "old", "new")
        name, inp = "Edit", {"file_path": _abs_path(spec["path"], body),
                             "old_string": spec["old"], "new_string": spec["new"]}
        if "replace_all" in spec:
            inp["replace_all"] = bool(spec["replace_all"])
    else:
        _need(spec, "tool", "name")
        name, inp = spec["name"], spec.get("input") or {}
    return {"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:24],
            "name": name, "input": inp}


def plan(turn, body):
    """What to answer: ("message", delay, blocks), ("error", delay, status,
    error object) or ("stall", delay, seconds)."""
    items = turn if isinstance(turn, list) else [turn]
    if not items:
        raise ScriptError("an empty list is not a turn")
    delay = 0.0
    if isinstance(turn, dict):
        delay = turn.get("delay", 0)
        if not isinstance(delay, (int, float)) or delay < 0:
            raise ScriptError("delay must be a number of seconds, got %r" % (delay,))
        rest = [k for k in turn if k != "delay"]
        if rest == ["error"]:
            err = _need(turn["error"], "error", "status")
            return ("error", delay, int(err["status"]), {
                "type": err.get("type", "api_error"),
                "message": err.get("message", "scripted error")})
        if rest == ["stall"]:
            if not isinstance(turn["stall"], (int, float)):
                raise ScriptError("stall needs a number of seconds, got %r" % (turn["stall"],))
            return ("stall", delay, float(turn["stall"]))
        items = [{k: v for k, v in turn.items() if k != "delay"}]
    return ("message", delay, [_block(item, body) for item in items])


# -- the server ----------------------------------------------------------------

def _usage(body):
    return {"input_tokens": max(1, len(json.dumps(body.get("messages") or [])) // 4),
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
            "output_tokens": 1}


def _chunks(s, n=3):
    """s split into up to n pieces (at least one, possibly empty)."""
    if len(s) <= 1:
        return [s]
    step = max(1, -(-len(s) // n))
    return [s[i:i + step] for i in range(0, len(s), step)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "scripted-claude/1"

    def log_message(self, fmt, *args):  # quiet; requests are recorded instead
        pass

    # -- plumbing ---------------------------------------------------------
    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode(errors="replace")

    def _send_json(self, status, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("request-id", "req_" + uuid.uuid4().hex[:24])
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status, type_, message):
        self._send_json(status, {"type": "error", "error": {"type": type_, "message": message}})

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, name, obj):
        self._chunk(("event: %s\ndata: %s\n\n" % (name, json.dumps(obj))).encode())

    # -- methods ----------------------------------------------------------
    def do_GET(self):
        self.server.owner._record(self, None)
        self._error(404, "not_found_error", "scripted server: no GET %s" % self.path)

    def do_HEAD(self):
        self.server.owner._record(self, None)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        body = self._read_body()
        self.server.owner._record(self, body)
        path = self.path.split("?", 1)[0]
        if not isinstance(body, dict):
            return self._error(400, "invalid_request_error", "body is not a JSON object")
        if path == "/v1/messages/count_tokens":
            return self._send_json(200, {"input_tokens": _usage(body)["input_tokens"]})
        if path != "/v1/messages":
            return self._error(404, "not_found_error", "scripted server: no POST %s" % path)
        try:
            what = self.server.owner._decide(body)
        except (ScriptError, TypeError, ValueError, KeyError, AttributeError) as e:
            if self.server.owner.errors_to_stderr:
                sys.stderr.write("scripted_claude: %s\n" % e)
            return self._error(500, "api_error", "scripted_claude: %s" % e)
        stop = self.server.owner._stopping
        if what[1] and stop.wait(what[1]):
            return
        if what[0] == "error":
            return self._send_json(what[2], {"type": "error", "error": what[3]},
                                   {"x-should-retry": "true"} if what[2] >= 500 else None)
        if what[0] == "stall":
            return self._stall(body, what[2])
        return self._message(body, what[2])

    # -- answers ----------------------------------------------------------
    def _message(self, body, blocks):
        model = body.get("model") or "claude-scripted"
        msg_id = "msg_" + uuid.uuid4().hex[:24]
        stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        usage = _usage(body)
        out_tokens = max(1, sum(len(json.dumps(b)) for b in blocks) // 4)
        if not body.get("stream"):
            usage["output_tokens"] = out_tokens
            return self._send_json(200, {
                "id": msg_id, "type": "message", "role": "assistant", "model": model,
                "content": blocks, "stop_reason": stop_reason, "stop_sequence": None,
                "usage": usage})
        self._start_stream()
        self._event("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}})
        self._event("ping", {"type": "ping"})
        for i, b in enumerate(blocks):
            if b["type"] == "text":
                start = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": c} for c in _chunks(b["text"])]
            else:
                start = {"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}
                deltas = [{"type": "input_json_delta", "partial_json": c}
                          for c in _chunks(json.dumps(b["input"]))]
            self._event("content_block_start", {"type": "content_block_start", "index": i,
                                                "content_block": start})
            for d in deltas:
                self._event("content_block_delta", {"type": "content_block_delta",
                                                    "index": i, "delta": d})
            self._event("content_block_stop", {"type": "content_block_stop", "index": i})
        self._event("message_delta", {"type": "message_delta",
                                      "delta": {"stop_reason": stop_reason,
                                                "stop_sequence": None},
                                      "usage": {"output_tokens": out_tokens}})
        self._event("message_stop", {"type": "message_stop"})
        self._chunk(b"")

    def _start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("request-id", "req_" + uuid.uuid4().hex[:24])
        self.end_headers()

    def _stall(self, body, seconds):
        if body.get("stream"):
            self._start_stream()
            self._event("message_start", {"type": "message_start", "message": {
                "id": "msg_" + uuid.uuid4().hex[:24], "type": "message",
                "role": "assistant", "model": body.get("model") or "claude-scripted",
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": _usage(body)}})
            self._event("ping", {"type": "ping"})
        self.server.owner._stopping.wait(seconds)
        self.close_connection = True  # cut off: the answer never completes


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


class ScriptedClaude:
    """The scripted server; see the module docstring."""

    def __init__(self, rules=None, host="0.0.0.0", port=0, log=None):
        self._lock = threading.Lock()
        self._requests = []
        self._rules = []
        self._hits = []
        self.rules = rules or []
        self._host, self._port = host, port
        self._log = log  # a file object: one JSON line per request
        self.errors_to_stderr = True  # say why a request got a scripted 500
        self._stopping = threading.Event()
        self._httpd = None
        self._thread = None

    @property
    def rules(self):
        with self._lock:
            return self._rules

    @rules.setter
    def rules(self, rules):
        if not isinstance(rules, list):
            raise TypeError("rules must be a list of rule objects")
        with self._lock:
            self._rules = copy.deepcopy(rules)
            self._hits = [0] * len(rules)

    @property
    def requests(self):
        """Copies of the recorded requests: dicts with method, path, headers
        (lower-case names) and body (parsed JSON, None when empty)."""
        with self._lock:
            return copy.deepcopy(self._requests)

    def message_requests(self):
        """The recorded POST /v1/messages bodies."""
        return [r["body"] for r in self.requests
                if r["method"] == "POST" and r["path"].split("?")[0] == "/v1/messages"]

    def hits(self):
        with self._lock:
            return list(self._hits)

    def clear(self):
        with self._lock:
            self._requests = []

    @property
    def url(self):
        host, port = self._httpd.server_address[:2]
        # Bound to every address so that agent sandbox containers reach it
        # (workletd rewrites a loopback ANTHROPIC_BASE_URL to
        # host.docker.internal); the host itself uses the loopback.
        if host == "0.0.0.0":
            host = "127.0.0.1"
        return "http://%s:%d" % (host, port)

    def start(self):
        self._stopping.clear()
        self._httpd = _Server((self._host, self._port), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="scripted-claude", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if not self._httpd:
            return
        self._stopping.set()  # wakes stalls and delays
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)
        self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- used by the handler ----------------------------------------------
    def _record(self, handler, body):
        entry = {"time": time.time(), "method": handler.command, "path": handler.path,
                 "headers": {k.lower(): v for k, v in handler.headers.items()},
                 "body": body}
        with self._lock:
            self._requests.append(entry)
            if self._log:
                self._log.write(json.dumps(entry) + "\n")
                self._log.flush()

    def _decide(self, body):
        prompt = prompt_text(body)
        with self._lock:
            rules = self._rules
            for i, rule in enumerate(rules):
                if not isinstance(rule, dict):
                    raise ScriptError("rule %d is not an object: %r" % (i, rule))
                match = rule.get("match")
                if match is None or match in prompt:
                    self._hits[i] += 1
                    hit = self._hits[i]
                    break
            else:
                raise ScriptError("no rule matches the prompt %r" % prompt[:200])
        fail = rule.get("fail_times", 0)
        if not isinstance(fail, int) or fail < 0:
            raise ScriptError("rule %d: fail_times must be a count, got %r" % (i, fail))
        if hit <= fail:
            if "error" not in rule:
                raise ScriptError("rule %d has fail_times but no error" % i)
            return plan({"error": rule["error"]}, body)
        turns = rule.get("turns", [])
        if not isinstance(turns, list):
            raise ScriptError("rule %d: turns must be a list" % i)
        n = turn_index(body)
        return plan(turns[n] if n < len(turns) else DONE_TURN, body)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Scripted Anthropic Messages API server.")
    ap.add_argument("--port", type=int, default=0, help="port (0: any free one)")
    ap.add_argument("--host", default="0.0.0.0")
    ap.add_argument("--script", required=True, help="JSON file: a list of rules")
    ap.add_argument("--log", help="append every request to this file as JSON lines")
    args = ap.parse_args(argv)
    with open(args.script) as f:
        rules = json.load(f)
    log = open(args.log, "a") if args.log else None
    srv = ScriptedClaude(rules, args.host, args.port, log=log).start()
    print(srv.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
