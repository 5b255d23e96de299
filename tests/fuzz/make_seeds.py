#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets into tests/fuzz/corpus/.

The seeds are small, meaningful inputs (valid manifests, request bodies,
HTTP heads, Docker stream frames, stream-json lines, file trees) in each
target's input format (see the comment at the top of each fuzz_*.c).
Run it again after changing a format; the files it writes are committed.
"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

SPEC = open(os.path.join(os.path.dirname(__file__), "..", "..", "specs",
                         "worklet.example.yaml")).read()

STATUS = """apiVersion: worklet.dev/v1
kind: WorkletStatus
metadata:
  id: todo-demo
  generation: 3
status:
  phase: running
  observedGeneration: 3
  conditions:
  - type: Ready
    status: "True"
    reason: Running
    message: the app answers on its port
    lastTransitionTime: "2026-11-24T19:40:00Z"
  webUrl: http://127.0.0.1:8080/api/worklet/worklets/todo-demo/proxy/
  port: 40123
  containerId: 0123456789abcdef
  imageId: sha256:abcdef
  sessionId: 6f1c2a9e-4a61-4d5b-9b1e-2f3c4d5e6f70
  lastPrompt: add a dark mode
  commit: 1234567890abcdef1234567890abcdef12345678
  detection:
    type: node
    framework: vite
    startCommand: npm start
    port: 3000
    evidence:
    - "package.json: scripts.start = \\"vite\\""
  restartCount: 1
  lastExitCode: 137
  lastFinishedAt: "2026-11-24T19:41:00Z"
  queuedPrompts: 2
  pullRequest:
    handledAt: "2026-11-24T19:42:00Z"
    number: 7
    url: https://github.com/u/r/pull/7
    created: 1
  updatedAt: "2026-11-24T19:43:00Z"
"""

def full_doc():
    # spec document + the status section of STATUS
    status = STATUS.split("\nstatus:\n", 1)[1]
    return (SPEC.split("\n# A status section")[0].rstrip("\n") +
            "\nstatus:\n" + status)


SMALL = """apiVersion: worklet.dev/v1
kind: Worklet
metadata:
  id: a
spec:
  gitRepo: https://github.com/u/r
"""

PR = """apiVersion: worklet.dev/v1
kind: Worklet
metadata: {id: pr-demo, userId: bob, generation: 2}
spec:
  gitRepo: "https://github.com/u/r.git"
  branch: feature/x
  startCommand: node server.js --port 3000
  runtimeVersion: "^20.19.0 || >=22.12.0"
  projectType: dockerfile
  dockerfile: docker/Dockerfile
  runState: stopped
  resources: {memory: 1Gi, cpus: 500m, pids: 64}
  restartedAt: "2026-11-24T19:40:00Z"
  pullRequest:
    title: Dark mode
    description: "adds\\na toggle"
    branch: worklet/pr-demo
    base: main
    requestedAt: "2026-11-24T19:40:00Z"
"""

written = 0


def put(target, name, data):
    global written
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    written += 1


def yaml_seeds():
    put("yaml", "spec-example", b"\x00" + SPEC.encode())
    put("yaml", "spec-small", b"\x00" + SMALL.encode())
    put("yaml", "spec-pr", b"\x00" + PR.encode())
    put("yaml", "status", b"\x01" + STATUS.encode())
    put("yaml", "full", b"\x02" + full_doc().encode())
    put("yaml", "bad-alias", b"\x00" + b"a: &x 1\nb: *x\n")
    put("yaml", "bad-multidoc", b"\x00" + SMALL.encode() + b"---\n" +
        SMALL.encode())
    put("yaml", "bad-unknown", b"\x00" + SMALL.replace(
        "gitRepo", "gitRep").encode())
    put("yaml", "flow-nested", b"\x00" +
        b"apiVersion: worklet.dev/v1\nkind: Worklet\nspec: {env: "
        b"{A: '1', B: \"two\\n\"}, containerPort: 8080}\n")


def spec_json(doc):
    import yaml  # python3-yaml
    return json.dumps(yaml.safe_load(doc), default=str)


def json_seeds():
    try:
        spec = spec_json(SPEC.split("\n# A status section")[0])
        pr = spec_json(PR)
        full = spec_json(full_doc())
    except ImportError:
        spec = json.dumps({"apiVersion": "worklet.dev/v1", "kind": "Worklet",
                           "metadata": {"id": "a"},
                           "spec": {"gitRepo": "https://github.com/u/r"}})
        pr = full = spec
    put("json", "spec-example", b"\x00" + spec.encode())
    put("json", "spec-pr", b"\x00" + pr.encode())
    put("json", "full", b"\x01" + full.encode())
    put("json", "bad-dup", b"\x00" + b'{"apiVersion":"worklet.dev/v1",'
        b'"kind":"Worklet","kind":"Worklet"}')
    put("json", "bad-type", b"\x00" + b'{"apiVersion":"worklet.dev/v1",'
        b'"kind":"Worklet","spec":{"containerPort":"80"}}')
    put("json", "unicode", b"\x00" + '{"apiVersion":"worklet.dev/v1",'
        '"kind":"Worklet","metadata":{"name":"caf\\u00e9 \\ud83d\\ude00"}}'
        .encode())


def validate_seeds():
    put("validate", "spec-example", b"\x00" + SPEC.encode())
    put("validate", "spec-local", b"\x01" + SMALL.replace(
        "https://github.com/u/r", "/srv/git/repo").encode())
    for i, url in enumerate(["https://github.com/u/r.git",
                             "file:///srv/r", "ext::sh -c x",
                             "git@github.com:u/r.git",
                             "https://user:pass@host/r", "-uhttps://x/r"]):
        put("validate", "url-%d" % i, bytes([2 << 1 | (i & 1)]) + url.encode())
    for i, b in enumerate(["main", "feature/x", "a..b", "-x", "x.lock",
                           "a/.b", "@{u}"]):
        put("validate", "branch-%d" % i, bytes([3 << 1]) + b.encode())
    for i, s in enumerate(["todo-demo", "a", "-a", "A", "a" * 64]):
        put("validate", "id-%d" % i, bytes([4 << 1]) + s.encode())
    put("validate", "prompt-id", bytes([5 << 1]) +
        b"p1700000000000abcdef")
    put("validate", "prompt-file", bytes([6 << 1]) +
        b"todo-demo.p1700000000000abcdef.status.json")


def api_seeds():
    body = json.dumps({"git_repo": "https://github.com/u/r",
                       "name": "demo", "branch": "main",
                       "env": {"A": "b"}, "base_prompt": "make it blue"})
    reqs = {
        "list": "GET /api/worklet/worklets\n",
        "list-resource": "GET /api/worklet/worklets?format=resource\n",
        "get": "GET /api/worklet/worklets/w1\n",
        "get-resource": "GET /api/worklet/worklets/w1?format=resource\n",
        "get-format-bad": "GET /api/worklet/worklets/w1?a=b&format=x\n",
        "get-other": "GET /api/worklet/worklets/w2\n",
        "status": "GET /api/worklet/worklets/w1/status\n",
        "prompts": "GET /api/worklet/worklets/w1/prompts\n",
        "prompt-get": "GET /api/worklet/worklets/w1/prompts/"
                      "p1700000000000abcdef\n",
        "create": "POST /api/worklet/worklets\n" + body,
        "put": "PUT /api/worklet/worklets/w1\n" + json.dumps({
            "apiVersion": "worklet.dev/v1", "kind": "Worklet",
            "metadata": {"id": "w1"},
            "spec": {"gitRepo": "https://example.com/a/b.git"}}),
        "delete": "DELETE /api/worklet/worklets/w1\n",
        "stop": "POST /api/worklet/worklets/w1/stop\n",
        "restart": "POST /api/worklet/worklets/w1/restart\n",
        "prompt": "POST /api/worklet/worklets/w1/prompt\n" +
                  json.dumps({"prompt": "add a footer"}),
        "cancel": "POST /api/worklet/worklets/w1/prompts/"
                  "p1700000000000abcdef/cancel\n",
        "pr": "POST /api/worklet/worklets/w1/pr\n" +
              json.dumps({"title": "x", "description": "y"}),
        "method": "PATCH /api/worklet/worklets/w1\n",
        "deep": "GET /api/worklet/worklets/w1/a/b/c/d\n",
        "other": "GET /api/worklet/other\n",
    }
    for name, r in reqs.items():
        put("api", name, r)


def http1_seeds():
    put("http1", "req-get", b"\x00GET /api/worklet/worklets/w1/proxy/a?b=c "
        b"HTTP/1.1\r\nHost: w1.apps.example.com:8080\r\n"
        b"Cookie: a=1; wl_session=secret; b=2\r\n"
        b"Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n"
        b"X-Forwarded-For: 1.2.3.4\r\nAuthorization: Bearer x\r\n\r\n")
    put("http1", "req-post", b"\x00POST /x HTTP/1.1\r\nHost: a\r\n"
        b"Content-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n\r\nhello")
    put("http1", "req-lf", b"\x00\r\nGET / HTTP/1.0\nHost: a\n\n")
    put("http1", "req-fold", b"\x00GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n")
    put("http1", "resp-200", b"\x01HTTP/1.1 200 OK\r\nContent-Length: 12\r\n"
        b"Connection: close, X-Private\r\nX-Private: 1\r\n"
        b"Keep-Alive: timeout=5\r\n\r\n")
    put("http1", "resp-chunked", b"\x01HTTP/1.1 200 OK\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n")
    put("http1", "resp-redirect", b"\x01HTTP/1.1 302 Found\r\n"
        b"Location: http://127.0.0.1:8080/login?x=1\r\n\r\n")
    put("http1", "resp-head", b"\x09HTTP/1.1 204 No Content\r\n"
        b"Content-Length: 10\r\n\r\n")
    put("http1", "resp-10", b"\x01HTTP/1.0 404 Not Found\r\n\r\n")
    put("http1", "chunked", b"\x02\x01\x03\x07\xff5\r\nhello\r\n"
        b"a;ext=1\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nrest")
    put("http1", "target", b"\x03/a b/\"c\"/%41?x=\x7f")


def frame(stream, payload):
    return struct.pack(">BxxxI", stream, len(payload)) + payload


def docker_logs_seeds():
    put("docker_logs", "two-frames", b"\x05" + frame(1, b"hello\n") +
        frame(2, b"oops\n"))
    put("docker_logs", "partial", b"\x11" + frame(1, b"abc") +
        frame(1, b"truncated payload")[:12])
    put("docker_logs", "bad-header", b"\x07" + frame(1, b"ok\n") +
        b"\x09\x00\x00\x00\x00\x00\x00\x01x")
    put("docker_logs", "empty-frame", b"\x00" + frame(0, b"") +
        frame(3, b"sys\n"))


def agent_seeds():
    lines = [
        {"type": "system", "subtype": "init", "session_id": "s1",
         "tools": ["Read", "Edit"], "model": "claude"},
        {"type": "assistant", "message": {"content": [
            {"type": "text", "text": "Editing"},
            {"type": "tool_use", "name": "Edit", "input": {"path": "a"}}]}},
        {"type": "result", "subtype": "success", "is_error": False,
         "result": "Done.", "session_id": "s1", "num_turns": 3,
         "total_cost_usd": 0.0123, "duration_ms": 1000},
    ]
    put("agent_stream", "success",
        "\n".join(json.dumps(line) for line in lines) + "\n")
    put("agent_stream", "error", json.dumps(
        {"type": "result", "subtype": "error_during_execution",
         "is_error": True, "result": "API Error: 529", "num_turns": 1e30,
         "api_error_status": 529, "total_cost_usd": -1}) + "\r\n")
    put("agent_stream", "noise", "not json\n[1,2]\n{\"type\":\"result\"} x\n"
        "{\"type\": \"result\", \"result\": null, \"session_id\": 5}\n")


def tree(ptype, port, entries):
    out = bytes([ptype, port])
    for sel, name, content in entries:
        if isinstance(content, str):
            content = content.encode()
        out += bytes([sel])
        if sel == 0xfd:
            out += bytes([len(name)]) + name.encode()
        out += struct.pack(">H", len(content)) + content
    return out


def detect_seeds():
    # selectors: index in fuzz_detect.c's markers[]
    names = ["package.json", "package-lock.json", "npm-shrinkwrap.json",
             "yarn.lock", "pnpm-lock.yaml", "bun.lock", "vite.config.js",
             "vite.config.ts", "vite.config.mjs", "index.js", "server.js",
             "main.js", "app.js", "requirements.txt", "pyproject.toml",
             "Pipfile", "main.py", "app.py", "server.py", "start.py",
             "bot.py", "manage.py", "go.mod", "go.sum", "main.go",
             "main_test.go", "cmd/app/main.go", "cmd/tool/main.go",
             "index.html", "public/index.html", "dist/index.html",
             "Dockerfile", "docker/Dockerfile", "src/main.py",
             "src/index.js", "app/main.py"]
    s = {n: i for i, n in enumerate(names)}
    put("detect", "node-start", tree(0, 0, [
        (s["package.json"], "", json.dumps(
            {"name": "a", "scripts": {"start": "node server.js"}})),
        (s["package-lock.json"], "", "{}"), (s["server.js"], "", "x")]))
    put("detect", "node-vite", tree(0, 0, [
        (s["package.json"], "", json.dumps(
            {"scripts": {"build": "vite build", "dev": "vite"},
             "devDependencies": {"vite": "^5"}})),
        (s["vite.config.ts"], "", "export default {}"),
        (s["yarn.lock"], "", "")]))
    put("detect", "node-next", tree(0, 31, [
        (s["package.json"], "", json.dumps(
            {"scripts": {"build": "next build", "start": "next start"},
             "dependencies": {"next": "14"}})),
        (s["pnpm-lock.yaml"], "", "")]))
    put("detect", "python-flask", tree(0, 0, [
        (s["requirements.txt"], "", "flask==3.0\ngunicorn\n"),
        (s["app.py"], "", "from flask import Flask\napp = Flask(__name__)\n")]))
    put("detect", "python-django", tree(0, 0, [
        (s["requirements.txt"], "", "Django>=4\n"),
        (s["manage.py"], "", "import django\n"),
        (0xfd, "mysite/wsgi.py", "application = None\n")]))
    put("detect", "python-pyproject", tree(3, 0, [
        (s["pyproject.toml"], "", "[project]\nname='a'\ndependencies="
         "['fastapi','uvicorn']\n"),
        (s["main.py"], "", "from fastapi import FastAPI\napp = FastAPI()\n")]))
    put("detect", "go-cmd", tree(0, 0, [
        (s["go.mod"], "", "module example.com/a\n\ngo 1.21\n"),
        (s["cmd/app/main.go"], "", "package main\nfunc main() {}\n")]))
    put("detect", "static-public", tree(5, 0, [
        (s["public/index.html"], "", "<h1>hi</h1>")]))
    put("detect", "dockerfile", tree(0, 0, [
        (s["Dockerfile"], "", "FROM worklet-local/node\nEXPOSE 8080\n"
         "CMD [\"node\", \"a.js\"]\n")]))
    put("detect", "dockerfile-custom", tree(1, 0, [
        (s["docker/Dockerfile"], "", "FROM scratch\nEXPOSE 80/tcp 81\n"),
        (0xff, "", "docker/Dockerfile")]))
    put("detect", "start-override", tree(0, 0, [
        (s["package.json"], "", "{}"), (0xfe, "", "node  a.js --x")]))
    put("detect", "both", tree(0, 0, [
        (s["package.json"], "", '{"main": "index.js"}'),
        (s["requirements.txt"], "", "flask\n"), (s["index.js"], "", "")]))
    put("detect", "bad-json", tree(0, 0, [
        (s["package.json"], "", '{"scripts": {"start": 5}')]))
    put("detect", "nothing", tree(0, 0, [(0xfd, "README.md", "# hi")]))


def query_seeds():
    # first byte: the output size (fuzz_query.c's sizes[], low 3 bits)
    put("query", "tail", b"\x07tail\ntail=100")
    put("query", "since", b"\x04since\nlogs=1&since=12345")
    put("query", "tiny", b"\x00follow\nfollow=1")
    put("query", "long", b"\x02format\nformat=resourceXXXXXXXXXXXX")
    put("query", "empties", b"\x05logs\n&&logs&logs=&logs=1")
    put("query", "prefix", b"\x06a\nab=1&a=2&a=3")


yaml_seeds()
json_seeds()
validate_seeds()
api_seeds()
http1_seeds()
docker_logs_seeds()
agent_seeds()
detect_seeds()
query_seeds()
print("wrote %d seed files under %s" % (written, ROOT))
