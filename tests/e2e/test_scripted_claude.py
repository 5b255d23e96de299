"""The real Claude Code CLI (the version hack/setup.sh pins) against the
scripted Messages API server of scripted_claude.py: a Write that creates a
file, a resumed session that reads and edits it with the first conversation
resent, an API error, a stalled stream that only a wall-clock limit ends,
retries after scripted failures, the non-streaming fallback, and which flags
really take Bash away. No workletd, no Docker: each test runs `claude` in a
fresh git directory with its own CLAUDE_CONFIG_DIR and TMPDIR."""

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
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scripted_claude import ScriptedClaude  # noqa: E402
from wltest import Failure, check, git  # noqa: E402

CLAUDE = shutil.which("claude") or "claude"
MESSAGES_PATH = "/v1/messages?beta=true"


class Ctx:
    """A scripted server, a git working tree and the CLI's private state."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="wl-e2e-claude-")
        self.repo = os.path.join(self.tmp, "repo")
        self.config = os.path.join(self.tmp, "config")
        self.tmpdir = os.path.join(self.tmp, "tmp")
        for d in (self.repo, self.config, self.tmpdir):
            os.makedirs(d)
        git(self.repo, "init", "-q", "-b", "main")
        self.srv = ScriptedClaude().start()
        self.last = None  # (argv, stdout, stderr) of the latest run, for failures

    def env(self, **extra):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ANTHROPIC_", "CLAUDE"))}  # CLAUDE_*, CLAUDECODE
        env.update({
            "ANTHROPIC_BASE_URL": self.srv.url,
            "ANTHROPIC_API_KEY": "test-key",
            "CLAUDE_CONFIG_DIR": self.config,
            "TMPDIR": self.tmpdir,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
        })
        env.update({k: str(v) for k, v in extra.items()})
        return env

    def argv(self, prompt, session=None, resume=None, flags=()):
        argv = [CLAUDE, "-p", prompt, "--output-format", "stream-json", "--verbose",
                "--permission-mode", "acceptEdits", "--max-turns", "10"]
        argv += ["--resume", resume] if resume else ["--session-id", session or str(uuid.uuid4())]
        return argv + list(flags)

    def spawn(self, argv, env):
        """The CLI in its own process group, stdin /dev/null."""
        self.close_output()
        self.out = open(os.path.join(self.tmp, "stdout"), "w+")
        self.err = open(os.path.join(self.tmp, "stderr"), "w+")
        self.last = (argv, self.out, self.err)
        return subprocess.Popen(argv, cwd=self.repo, env=env, stdin=subprocess.DEVNULL,
                                stdout=self.out, stderr=self.err, start_new_session=True)

    def claude(self, prompt, session=None, resume=None, flags=(), timeout=60, **env):
        """Run to the end; returns (exit status, stream-json events)."""
        p = self.spawn(self.argv(prompt, session, resume, flags), self.env(**env))
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_group(p)
            raise Failure("claude still running after %d s" % timeout)
        return rc, self.events()

    def events(self):
        self.out.seek(0)
        out = []
        for line in self.out.read().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                raise Failure("stdout line is not JSON: %r" % line[:300])
        return out

    def report(self):
        """What to print when a test fails."""
        lines = []
        if self.last:
            argv, out, err = self.last
            out.seek(0)
            err.seek(0)
            lines.append("---- claude %s" % " ".join(argv[1:]))
            tail = out.read().splitlines()[-8:]
            lines.append("stdout (tail):\n" + "\n".join(line[:400] for line in tail))
            lines.append("stderr:\n" + err.read()[-2000:])
        lines.append("---- server requests")
        for r in self.srv.requests:
            body = r["body"] if isinstance(r["body"], dict) else {}
            lines.append("%s %s stream=%s messages=%s" % (
                r["method"], r["path"], body.get("stream"),
                [m.get("role") for m in body.get("messages") or []]))
        return "\n".join(lines)

    def close_output(self):
        if self.last:
            self.last[1].close()
            self.last[2].close()
            self.last = None

    def cleanup(self):
        self.close_output()
        self.srv.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def kill_group(p, sig=signal.SIGTERM):
    try:
        os.killpg(p.pid, sig)
    except ProcessLookupError:
        return p.wait()
    try:
        return p.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        return p.wait()


def result_of(events):
    results = [e for e in events if e.get("type") == "result"]
    check(len(results) == 1, "expected one result event, got %d" % len(results))
    return results[0]


def read(path):
    with open(path) as f:
        return f.read()


def tool_results(events):
    return [b for e in events if e.get("type") == "user"
            for b in e["message"]["content"]
            if isinstance(b, dict) and b.get("type") == "tool_result"]


def post(url, body):
    """POST JSON; returns (status, headers, raw body)."""
    req = urllib.request.Request(url, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


# -- the scenarios ---------------------------------------------------------------

def test_write_creates_a_file(ctx):
    page = "<!doctype html>\n<title>Hello</title>\n<h1>Hello, \"world\" & {friends}</h1>\n"
    ctx.srv.rules = [{"match": "make a page", "turns": [
        {"write": {"path": "index.html", "content": page}},
        {"text": "Wrote index.html."}]}]
    session = str(uuid.uuid4())
    rc, events = ctx.claude("please make a page", session=session)
    res = result_of(events)
    check(rc == 0 and res["is_error"] is False and res["subtype"] == "success", res)
    check(res["result"] == "Wrote index.html." and res["session_id"] == session, res)
    check(res["num_turns"] == 2 and res["permission_denials"] == [], res)
    check(read(os.path.join(ctx.repo, "index.html")) == page, "index.html differs")
    # What went over the wire: two turns, only POST /v1/messages, streamed.
    reqs = ctx.srv.requests
    check([(r["method"], r["path"]) for r in reqs] == [("POST", MESSAGES_PATH)] * 2, reqs)
    first, second = reqs[0], reqs[1]
    check(all(r["body"]["stream"] is True for r in reqs), "a request was not streamed")
    h = first["headers"]
    check(h.get("x-api-key") == "test-key" and h.get("anthropic-version") == "2023-06-01", h)
    check(h.get("x-claude-code-session-id") == session, h)
    # The model echoed; the tool_use id came back as the tool_result's.
    init = next(e for e in events if e.get("type") == "system" and e.get("subtype") == "init")
    check(init["cwd"] == os.path.realpath(ctx.repo), init)
    tool_use = next(b for e in events if e.get("type") == "assistant"
                    for b in e["message"]["content"] if b["type"] == "tool_use")
    check(tool_use["name"] == "Write" and tool_use["input"]["file_path"]
          == os.path.join(os.path.realpath(ctx.repo), "index.html"), tool_use)
    model = first["body"]["model"]
    check(all(e["message"]["model"] == model for e in events if e.get("type") == "assistant"),
          "model not echoed")
    last = second["body"]["messages"][-1]
    check(last["role"] == "user" and last["content"][0]["type"] == "tool_result"
          and last["content"][0]["tool_use_id"] == tool_use["id"], last)


def test_resume_reads_and_edits_with_the_first_conversation(ctx):
    ctx.srv.rules = [
        {"match": "make a page", "turns": [
            {"write": {"path": "index.html", "content": "<h1>Old title</h1>\n"}},
            {"text": "Made it."}]},
        {"match": "change the title", "turns": [
            {"read": {"path": "index.html"}},
            {"edit": {"path": "index.html", "old": "Old title", "new": "New title"}},
            {"text": "Changed the title."}]}]
    session = str(uuid.uuid4())
    rc, events = ctx.claude("make a page", session=session)
    check(rc == 0 and not result_of(events)["is_error"], result_of(events))
    n_first = len(ctx.srv.requests)
    rc, events = ctx.claude("now change the title", resume=session)
    res = result_of(events)
    check(rc == 0 and res["is_error"] is False and res["result"] == "Changed the title.", res)
    check(res["session_id"] == session, res)
    check(read(os.path.join(ctx.repo, "index.html")) == "<h1>New title</h1>\n", "not edited")
    results = tool_results(events)
    check(len(results) == 2 and not any(r.get("is_error") for r in results), results)
    # The second run's first request carries the whole first conversation.
    reqs = ctx.srv.requests[n_first:]
    check(len(reqs) == 3, "expected Read, Edit, text turns: %d requests" % len(reqs))
    sent = json.dumps(reqs[0]["body"]["messages"])
    check("make a page" in sent and "Made it." in sent and "<h1>Old title</h1>" in sent,
          "the first conversation was not resent")
    check("now change the title" in sent, "the new prompt is missing")


def test_api_error_fails_the_run(ctx):
    ctx.srv.rules = [{"turns": [{"error": {"status": 529, "type": "overloaded_error",
                                           "message": "Scripted overload"}}]}]
    rc, events = ctx.claude("anything", CLAUDE_CODE_MAX_RETRIES=0)
    res = result_of(events)
    check(rc == 1, "exit status %d" % rc)
    # subtype stays "success": only the exit status and is_error tell.
    check(res["is_error"] is True and res["subtype"] == "success", res)
    check(res["api_error_status"] == 529 and res["terminal_reason"] == "api_error", res)
    check(res["result"].startswith("API Error: 529"), res["result"])
    msg = next(e for e in events if e.get("type") == "assistant")
    check(msg.get("api_error_status") == 529 and msg.get("api_error_type") == "overloaded_error"
          and msg.get("error") == "server_error", msg)
    check(len(ctx.srv.requests) == 1, "retried despite CLAUDE_CODE_MAX_RETRIES=0")


def test_retries_after_scripted_failures(ctx):
    ctx.srv.rules = [{"match": "flaky", "fail_times": 2,
                      "error": {"status": 529, "type": "overloaded_error", "message": "busy"},
                      "turns": [{"text": "Fine now."}]}]
    rc, events = ctx.claude("a flaky request", CLAUDE_CODE_MAX_RETRIES=3)
    res = result_of(events)
    check(rc == 0 and res["is_error"] is False and res["result"] == "Fine now.", res)
    retries = [e for e in events if e.get("subtype") == "api_retry"]
    check([(e["attempt"], e["error_status"]) for e in retries] == [(1, 529), (2, 529)], retries)
    check(ctx.srv.hits() == [3] and len(ctx.srv.requests) == 3, ctx.srv.hits())


def test_stalled_stream_needs_a_wall_clock_limit(ctx):
    ctx.srv.rules = [{"turns": [{"stall": 120}]}]
    p = ctx.spawn(ctx.argv("hang"), ctx.env())
    try:
        time.sleep(3)
        check(p.poll() is None, "claude ended during a stalled stream: %s" % p.returncode)
        check(len(ctx.srv.requests) == 1, "the stalled request never arrived")
    finally:
        t0 = time.time()
        rc = kill_group(p)
    check(rc == 143, "SIGTERM to the group: exit %s" % rc)
    check(time.time() - t0 < 2, "took %.1f s to die" % (time.time() - t0))
    check(not any(e.get("type") == "result" for e in ctx.events()), "a result after SIGTERM")


def test_cut_stream_falls_back_to_a_plain_message(ctx):
    # The first (streamed) answer stalls, then the connection drops; by
    # then the script says "recovered", which the CLI's non-streaming
    # fallback request gets as a plain message object.
    ctx.srv.rules = [{"match": "cut", "turns": [{"stall": 1.5}]}]
    p = ctx.spawn(ctx.argv("cut me off"), ctx.env(CLAUDE_CODE_MAX_RETRIES=0))
    try:
        deadline = time.time() + 20
        while not ctx.srv.requests and time.time() < deadline:
            time.sleep(0.02)
        check(ctx.srv.requests, "no request arrived")
        ctx.srv.rules = [{"match": "cut", "turns": [{"text": "recovered"}]}]
        rc = p.wait(30)
    finally:
        kill_group(p)
    res = result_of(ctx.events())
    check(rc == 0 and res["is_error"] is False and res["result"] == "recovered", res)
    streams = [r["body"]["stream"] for r in ctx.srv.requests]
    check(streams == [True, False], "expected a streamed then a plain request: %s" % streams)


def test_which_flags_take_bash_away(ctx):
    ctx.srv.rules = [{"match": "run bash", "turns": [
        {"tool": {"name": "Bash", "input": {"command": "touch bash-ran",
                                            "description": "make a marker"}}},
        {"text": "ran"}]}]
    marker = os.path.join(ctx.repo, "bash-ran")
    cases = [
        ([], True),  # acceptEdits alone lets a harmless command in the tree run
        (["--allowedTools", "Read,Write,Edit"], True),  # pre-approves; restricts nothing
        (["--allowedTools", "Read,Write,Edit", "--disallowedTools", "Bash"], False),
        (["--tools", "Read,Write,Edit"], False),
    ]
    for flags, runs in cases:
        if os.path.exists(marker):
            os.unlink(marker)
        ctx.srv.clear()
        rc, events = ctx.claude("run bash", flags=flags)
        res = result_of(events)
        check(rc == 0 and res["result"] == "ran", (flags, res))
        check(os.path.exists(marker) == runs,
              "%s: Bash %s" % (flags, "did not run" if runs else "ran"))
        tools = [t["name"] for t in ctx.srv.requests[0]["body"]["tools"]]
        check(("Bash" in tools) == runs, "%s: tools sent %s" % (flags, tools))
        if not runs:
            r = tool_results(events)[0]
            check(r.get("is_error") and "No such tool available: Bash" in json.dumps(r), r)
        if flags[:1] == ["--tools"]:
            check(set(tools) <= {"Read", "Write", "Edit", "DeferredToolPlaceholder"}, tools)


def test_server_answers_without_the_cli(ctx):
    """The server's own contract, where the CLI cannot reach: plain
    messages, every turn shape, unknown shapes, other endpoints."""
    url = ctx.srv.url + "/v1/messages"
    ctx.srv.errors_to_stderr = False  # the 500s below are on purpose
    base = {"model": "m-1", "max_tokens": 10, "stream": False,
            "system": "x\n - Primary working directory: /w/d\n",
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>edit here</system-reminder>"},
                {"type": "text", "text": "do the thing"}]}]}
    ctx.srv.rules = [
        {"match": "edit here", "turns": [{"text": "reminders are not prompts"}]},
        {"match": "thing", "turns": [
            [{"text": "two blocks:"}, {"read": {"path": "a.txt"}}, {"write": {"path": "/abs/b",
                                                                               "content": "b"}}],
            {"delay": 0.2, "edit": {"path": "sub/c", "old": "x", "new": "y"}},
            {"bogus": True}]}]
    status, headers, raw = post(url, base)
    msg = json.loads(raw)
    check(status == 200 and msg["type"] == "message" and msg["model"] == "m-1", msg)
    check(msg["stop_reason"] == "tool_use" and [b["type"] for b in msg["content"]]
          == ["text", "tool_use", "tool_use"], msg)
    read_, write = msg["content"][1], msg["content"][2]
    check(read_["input"] == {"file_path": "/w/d/a.txt"} and write["input"]["file_path"] == "/abs/b",
          msg)
    check(read_["id"] != write["id"], "tool ids repeat")
    # Turn 1 (one assistant turn since the prompt), streamed, after its delay.
    body = dict(base, stream=True, messages=base["messages"] + [
        {"role": "assistant", "content": msg["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": read_["id"],
                                      "content": "ok"}]}])
    t0 = time.time()
    status, headers, raw = post(url, body)
    check(status == 200 and headers["Content-Type"].startswith("text/event-stream"), headers)
    check(time.time() - t0 >= 0.2, "delay ignored")
    frames = [f for f in raw.split("\n\n") if f]
    names = [f.split("\n")[0][len("event: "):] for f in frames]
    check(names == ["message_start", "ping", "content_block_start"] + ["content_block_delta"]
          * (len(names) - 6) + ["content_block_stop", "message_delta", "message_stop"], names)
    datas = [json.loads(f.split("\n")[1][len("data: "):]) for f in frames]
    partial = "".join(d["delta"]["partial_json"] for d in datas
                      if d["type"] == "content_block_delta")
    check(len(names) - 6 > 1, "input JSON not chunked")
    check(json.loads(partial) == {"file_path": "/w/d/sub/c", "old_string": "x",
                                  "new_string": "y"}, partial)
    check(datas[-2]["delta"]["stop_reason"] == "tool_use", datas[-2])
    # Turn 2 is not a turn: a loud 500. Turn 3 is past the end: "done".
    body["messages"] += [{"role": "assistant", "content": [{"type": "text", "text": "x"}]},
                         {"role": "user", "content": [{"type": "tool_result",
                                                       "tool_use_id": "t", "content": "ok"}]}]
    status, _, raw = post(url, dict(body, stream=False))
    check(status == 500 and "unknown turn block" in raw and "bogus" in raw, (status, raw))
    body["messages"] += [{"role": "assistant", "content": [{"type": "text", "text": "y"}]},
                         {"role": "user", "content": [{"type": "tool_result",
                                                       "tool_use_id": "u", "content": "ok"}]}]
    status, _, raw = post(url, dict(body, stream=False))
    msg = json.loads(raw)
    check(status == 200 and msg["content"] == [{"type": "text", "text": "done"}]
          and msg["stop_reason"] == "end_turn", msg)
    # A relative path without a working directory in the request: a 500.
    status, _, raw = post(url, dict(base, system="no directory here"))
    check(status == 500 and "working directory" in raw, raw)
    # Errors and other endpoints.
    ctx.srv.rules = [{"turns": [{"error": {"status": 429, "type": "rate_limit_error",
                                           "message": "slow down"}}]}]
    status, _, raw = post(url, base)
    check(status == 429 and json.loads(raw) == {"type": "error", "error": {
        "type": "rate_limit_error", "message": "slow down"}}, raw)
    status, _, raw = post(url + "/count_tokens", base)
    check(status == 200 and json.loads(raw)["input_tokens"] > 0, raw)
    status, _, raw = post(ctx.srv.url + "/v1/other", base)
    check(status == 404 and json.loads(raw)["type"] == "error", raw)
    ctx.srv.rules = [{"match": "nothing like it", "turns": []}]
    status, _, raw = post(url, base)
    check(status == 500 and "no rule matches" in raw, raw)


def test_process_mode(ctx):
    """scripted_claude.py as a process: the URL on one line, then it serves."""
    script = os.path.join(ctx.tmp, "script.json")
    with open(script, "w") as f:
        json.dump([{"turns": [{"text": "from a process"}]}], f)
    p = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "scripted_claude.py"), "--port", "0", "--script", script],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        url = p.stdout.readline().strip()
        check(url.startswith("http://127.0.0.1:"), url)
        status, _, raw = post(url + "/v1/messages", {
            "model": "m", "stream": False,
            "messages": [{"role": "user", "content": "hello"}]})
        check(status == 200 and json.loads(raw)["content"][0]["text"] == "from a process", raw)
    finally:
        kill_group(p)


TESTS = [test_write_creates_a_file, test_resume_reads_and_edits_with_the_first_conversation,
         test_api_error_fails_the_run, test_retries_after_scripted_failures,
         test_stalled_stream_needs_a_wall_clock_limit,
         test_cut_stream_falls_back_to_a_plain_message, test_which_flags_take_bash_away,
         test_server_answers_without_the_cli, test_process_mode]


def main():
    only = sys.argv[1:]
    passed = failed = 0
    version = subprocess.run([CLAUDE, "--version"], capture_output=True, text=True) \
        if shutil.which(CLAUDE) else None
    if not version or version.returncode != 0:
        print("FAIL claude CLI not found on PATH (hack/setup.sh installs it)")
        print("0 passed, 1 failed")
        sys.exit(1)
    print("claude %s" % version.stdout.strip(), flush=True)
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
