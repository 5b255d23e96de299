"""The REST API against the running service: the requirements' usage
example with curl, every error status, two users who cannot see or touch
each other's worklets, the lifecycle actions, logs, health and metrics."""

import http.client
import json
import os
import socket
import subprocess
import threading
import time
import urllib.request

from wltest import check, containers, run


def curl(*args):
    out = subprocess.run(["curl", "-s", "-w", "\n%{http_code}"] + list(args),
                         check=True, capture_output=True, text=True).stdout
    body, _, code = out.rpartition("\n")
    return int(code), body


def wait_api_phase(env, wid, phase, user="alice", timeout=300):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        code, st, _ = env.api("GET", "/api/worklet/worklets/%s/status" % wid, user=user)
        last = (code, st)
        if code == 200 and st["status"] == phase:
            return st
        time.sleep(0.3)
    raise AssertionError("never reached %s: %r" % (phase, last))


def test_requirements_usage_example(env):
    repo = env.make_repo("node", "repo")
    # 1. Create worklet, word for word but for the host and a local repo.
    code, body = curl("-X", "POST", env.base_url + "/api/worklet/worklets",
                      "-H", "Content-Type: application/json",
                      "-H", "X-User-ID: user123",
                      "-d", json.dumps({
                          "name": "My App Prototype",
                          "git_repo": repo,
                          "branch": "main",
                          "base_prompt": "Convert this into a modern React app with Tailwind CSS",
                      }))
    check(code == 201, (code, body))
    w = json.loads(body)
    env.ids.append(w["id"])
    check(w["status"] == "creating", w)
    check(w["name"] == "My App Prototype" and w["user_id"] == "user123", w)
    # Each app on its own origin (curl, like browsers, resolves *.localhost
    # to the loopback).
    check(w["web_url"] == "http://%s.worklet.localhost:%d/" % (w["id"], env.api_port), w)
    for field in ("id", "name", "description", "status", "git_repo", "branch",
                  "base_prompt", "web_url", "port", "environment", "user_id",
                  "container_id", "session_id", "last_prompt", "last_error",
                  "created_at", "updated_at"):
        check(field in w, "missing field %s" % field)
    # The controller does the rest; the same user sees it running.
    deadline = time.time() + 300
    while time.time() < deadline:
        code, body = curl(env.base_url + "/api/worklet/worklets/%s" % w["id"],
                          "-H", "X-User-ID: user123")
        if json.loads(body)["status"] == "running":
            break
        time.sleep(0.3)
    check(json.loads(body)["status"] == "running", body)
    check("Step" in json.loads(body)["build_logs"], "no build output")
    # 3. Access the prototype at web_url.
    code, body = curl("-H", "X-User-ID: user123", w["web_url"])
    check(code == 200 and "hello from node" in body, (code, body))
    # 2. A prompt is accepted and queued (test_prompts.py follows one to
    # the end with the real CLI).
    code, body = curl("-X", "POST", env.base_url + "/api/worklet/worklets/%s/prompt" % w["id"],
                      "-H", "X-User-ID: user123",
                      "-H", "Content-Type: application/json",
                      "-d", '{"prompt": "Add a dark mode toggle to the header"}')
    p = json.loads(body)
    check(code == 202 and p["status"] == "processing" and p["worklet_id"] == w["id"]
          and p["prompt"] == "Add a dark mode toggle to the header"
          and p["user_id"] == "user123", body)


def http_ok(env):
    got, _, _ = env.api("GET", "/api/worklet/worklets")
    return got == 200


def test_error_statuses(env):
    base = "/api/worklet/worklets"
    repo = env.make_repo("static")
    cases = [
        # method, path, kwargs, status, error code, message fragment
        ("GET", base, {"user": None}, 401, "unauthorized", "authentication required"),
        ("GET", base, {"user": None, "headers": {"Authorization": "Bearer nope-nope-nope-nope"}},
         401, "unauthorized", "invalid token"),
        ("POST", base, {"raw_body": b"{not json", "headers": {"Content-Type": "application/json"}},
         400, "malformed_json", "not a JSON object"),
        ("POST", base, {"body": {"git_repo": repo, "colour": "red"}}, 400, "invalid",
         "colour: unknown field"),
        ("POST", base, {"body": {"name": "x"}}, 400, "invalid", "git_repo: is required"),
        ("POST", base, {"body": {"git_repo": "ext::sh -c touch% /tmp/x"}}, 400, "invalid",
         "git_repo"),
        ("POST", base, {"body": {"git_repo": repo, "environment": {"A": 1}}}, 400, "invalid",
         "environment.A: must be a string"),
        ("POST", base, {"body": {"git_repo": repo, "branch": "-bad"}}, 400, "invalid", "branch"),
        ("POST", base, {"raw_body": b"git_repo=x", "headers": {"Content-Type": "text/plain"}},
         415, "unsupported_media_type", "application/json"),
        ("PUT", base, {"body": {}}, 405, "method_not_allowed", "GET, POST"),
        ("GET", base + "/wl-nothere", {}, 404, "not_found", "not found"),
        ("GET", base + "/../../etc/passwd", {}, 404, "not_found", ""),
        ("POST", base + "/wl-nothere/start", {}, 404, "not_found", "not found"),
        ("GET", base + "/wl-nothere/start", {}, 405, "method_not_allowed", "POST"),
        ("GET", "/api/worklet/nothing", {}, 404, "not_found", "no such endpoint"),
    ]
    for method, path, kw, status, code, fragment in cases:
        got, body, headers = env.api(method, path, **kw)
        check(got == status, "%s %s: %s %r" % (method, path, got, body))
        check(isinstance(body, dict) and body["error"]["code"] == code,
              "%s %s: %r" % (method, path, body))
        check(fragment in body["error"]["message"], "%s %s: %r" % (method, path, body))
        if status == 405:
            check("Allow" in headers or "allow" in headers, headers)
    # 413: answered from Content-Length, before the body is read.
    sock = socket.create_connection(("127.0.0.1", env.api_port), timeout=10)
    sock.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                  "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{"
                  % (base, env.tokens["alice"], 2 << 20)).encode())
    reply = b""
    while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        reply += chunk
    sock.close()
    check(reply.startswith(b"HTTP/1.1 413") and b"too_large" in reply, reply[:300])
    # A body that grows past the limit while streaming (chunked) also stops:
    # the server answers 413 and closes while the client is still sending,
    # so the client may see its writes fail; what it reads must be the 413.
    sock = socket.create_connection(("127.0.0.1", env.api_port), timeout=10)
    sock.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                  "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                  % (base, env.tokens["alice"])).encode())
    chunk = b"{" + b" " * 65535
    reply = b""
    try:
        for _ in range(40):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    except ConnectionResetError:
        pass
    sock.close()
    # (411: the front end refuses chunked API bodies, lws never ends them.)
    check(reply == b"" or reply.startswith((b"HTTP/1.1 413", b"HTTP/1.1 411")), reply[:300])
    check(http_ok(env), "the server is not answering after the oversized body")
    # Nothing was stored by any of them.
    check(os.listdir(os.path.join(env.state, "specs")) == [], "a bad request stored something")
    # 409: start while deleting.
    got, w, _ = env.api("POST", base, {"git_repo": repo})
    check(got == 201, w)
    env.ids.append(w["id"])
    # The API server alone: the deletion stays pending, no controller ends it.
    env.stop()
    env.start("apiserver")
    env.wait_api()
    got, body, _ = env.api("DELETE", base + "/" + w["id"])
    check(got == 202 and body["deleting"], body)
    got, body, _ = env.api("POST", base + "/%s/start" % w["id"])
    check(got == 409 and body["error"]["code"] == "deleting", body)


def test_two_users_are_isolated(env):
    base = "/api/worklet/worklets"
    got, w, _ = env.api("POST", base, {"git_repo": env.make_repo("static"), "name": "mine"})
    check(got == 201, w)
    wid = w["id"]
    env.ids.append(wid)
    wait_api_phase(env, wid, "running")
    got, lst, _ = env.api("GET", base, user="bob")
    check(got == 200 and lst["worklets"] == [], lst)
    got, lst, _ = env.api("GET", base)
    check([x["id"] for x in lst["worklets"]] == [wid], lst)
    for method, path in (("GET", "/%s"), ("GET", "/%s/status"), ("GET", "/%s/logs"),
                         ("DELETE", "/%s"), ("POST", "/%s/stop"), ("POST", "/%s/restart"),
                         ("POST", "/%s/prompt"), ("GET", "/%s/proxy/")):
        got, body, _ = env.api(method, base + path % wid, user="bob")
        check(got == 404, "bob %s %s: %s %r" % (method, path, got, body))
        # Indistinguishable from an id that does not exist.
        got2, body2, _ = env.api(method, base + path % "wl-0000000000", user="bob")
        check(got2 == 404 and body2["error"] == json.loads(json.dumps(body["error"]).replace(
            wid, "wl-0000000000")), (body, body2))
    # Host routing checks ownership too.
    got, body, _ = env.api("GET", "/", user="bob", host="%s.worklet.localhost:%d" % (wid, env.api_port))
    check(got == 404, (got, body))
    got, body, _ = env.api("GET", "/", host="%s.worklet.localhost:%d" % (wid, env.api_port))
    check(got == 200 and "hello from static" in body, (got, body))
    # Bob's attempts changed nothing.
    st = wait_api_phase(env, wid, "running")
    check(st["generation"] == 1, st)


def test_lifecycle_through_the_api(env):
    base = "/api/worklet/worklets"
    got, w, _ = env.api("POST", base, {"git_repo": env.make_repo("node"),
                                       "environment": {"GREETING": "hi"}})
    check(got == 201, w)
    wid = w["id"]
    env.ids.append(wid)
    wait_api_phase(env, wid, "running")
    got, body, _ = env.api("POST", base + "/%s/stop" % wid)
    check(got == 202 and body["run_state"] == "stopped", body)
    wait_api_phase(env, wid, "stopped")
    got, body, _ = env.api("POST", base + "/%s/start" % wid)
    check(got == 202, body)
    st = wait_api_phase(env, wid, "running")
    old = st["container_id"]
    got, body, _ = env.api("POST", base + "/%s/restart" % wid)
    check(got == 202, body)
    deadline = time.time() + 120
    while time.time() < deadline:
        _, st, _ = env.api("GET", base + "/%s/status" % wid)
        if st["status"] == "running" and st["container_id"] not in (None, old):
            break
        time.sleep(0.3)
    check(st["container_id"] not in (None, old), st)
    got, logs, _ = env.api("GET", base + "/%s/logs?tail=5" % wid)
    with open(os.path.join(env.state, "logs", wid, "build.log")) as f:
        last5 = f.read().splitlines()[-5:]
    check(got == 200 and logs["build_logs"].splitlines() == last5, (logs, last5))
    check("listening on 0.0.0.0:3000" in logs["app_logs"], logs)
    got, body, _ = env.api("GET", base + "/%s/logs?tail=x" % wid)
    check(got == 400, body)
    got, body, _ = env.api("DELETE", base + "/" + wid)
    check(got == 202 and body["deleting"], body)
    deadline = time.time() + 60
    while time.time() < deadline and env.api("GET", base + "/" + wid)[0] != 404:
        time.sleep(0.3)
    check(env.api("GET", base + "/" + wid)[0] == 404, "not deleted")
    check(containers(wid) == [], "containers left after delete")


def test_logs_follow_streams_new_output(env):
    base = "/api/worklet/worklets"
    got, w, _ = env.api("POST", base, {"git_repo": env.make_repo("crash")})
    wid = w["id"]
    env.ids.append(wid)
    st = wait_api_phase(env, wid, "running")
    conn = http.client.HTTPConnection("127.0.0.1", env.api_port, timeout=30)
    conn.request("GET", base + "/%s/logs?follow=1&tail=10" % wid,
                 headers={"Authorization": "Bearer " + env.tokens["alice"]})
    resp = conn.getresponse()
    check(resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked",
          (resp.status, resp.getheaders()))
    # New output arrives while the stream is open; the app's exit ends it.
    def crash():
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/crash" % st["port"], timeout=5).read()
        except OSError:
            pass  # the app dies mid-answer; that is the point
    threading.Timer(1.0, crash).start()
    text = resp.read().decode()  # until the terminating chunk
    conn.close()
    check("crash requested: exiting with code 7" in text, text)
    # Someone else cannot follow.
    got, body, _ = env.api("GET", base + "/%s/logs?follow=1" % wid, user="bob")
    check(got == 404, body)


def test_health_and_metrics(env):
    got, body, _ = env.api("GET", "/healthz", user=None)
    check(got == 200 and body.strip() == "ok" if isinstance(body, str) else False, body)
    got, body, headers = env.api("GET", "/metrics", user=None)
    check(got == 200 and "text/plain" in headers.get("content-type", ""), headers)
    for name in ("worklet_worklets{phase=\"running\"}", "worklet_reconciles_total",
                 "worklet_builds_total", "worklet_proxy_requests_total",
                 "worklet_proxy_bytes_out_total", "worklet_ws_clients",
                 "worklet_reconcile_seconds_sum"):
        check(name in body, "metrics lack %s" % name)


def test_put_creates_and_replaces(env):
    """PUT /worklets/{id}, what `workletctl apply` sends: a Worklet document
    creates the worklet with its own id, then replaces the spec of your own;
    the generation moves only on a change; the server's fields stay the
    server's; someone else's id and a worklet being deleted are refused."""
    repo = env.make_repo("static")
    wid = env.new_id("put")
    path = "/api/worklet/worklets/" + wid
    doc = {"apiVersion": "worklet.dev/v1", "kind": "Worklet",
           "metadata": {"id": wid, "name": "put", "userId": "mallory", "generation": 40,
                        "labels": {"team": "web"}},
           "spec": {"gitRepo": repo, "runState": "stopped", "env": {"A": "1"},
                    "resources": {"memory": "256Mi"}},
           "status": {"phase": "running"}}
    got, w, _ = env.api("PUT", path, doc)
    check(got == 201 and w["id"] == wid and w["user_id"] == "alice" and
          w["generation"] == 1 and w["run_state"] == "stopped", (got, w))
    m = env.read_manifest(wid)
    check(m["metadata"]["userId"] == "alice" and m["metadata"]["generation"] == 1 and
          m["metadata"]["labels"] == {"team": "web"} and
          m["spec"]["resources"]["memory"] == "256Mi", m)
    got, w, _ = env.api("PUT", path, doc)
    check(got == 200 and w["generation"] == 1, ("unchanged must not bump", got, w))

    # restartedAt and pullRequest are written by the API's own actions; a
    # document without them keeps them.
    got, w, _ = env.api("POST", path + "/restart")
    check(got == 202, w)
    got, pr, _ = env.api("POST", path + "/pr", {"title": "t"}, timeout=150)
    check(got == 400, ("a local repository is not on GitHub", got, pr))
    before = env.read_manifest(wid)["spec"]
    check(before.get("restartedAt") and before.get("pullRequest"), before)
    doc["spec"]["env"] = {"A": "2"}
    got, w, _ = env.api("PUT", path, doc)
    m = env.read_manifest(wid)
    check(got == 200 and w["environment"] == {"A": "2"} and w["run_state"] == "stopped" and
          w["generation"] == m["metadata"]["generation"] >= 3, (got, w, m))
    check(m["spec"]["restartedAt"] == before["restartedAt"] and
          m["spec"]["pullRequest"] == before["pullRequest"], m)

    # Errors: the field named; the id in the URL rules; ids are global.
    bad = dict(doc, spec={"gitRepo": repo, "containerPort": "web"})
    got, err, _ = env.api("PUT", path, bad)
    check(got == 400 and err["error"]["message"].startswith("spec.containerPort:"), err)
    got, err, _ = env.api("PUT", path, dict(doc, spec={"gitRepo": "ssh://h/r.git"}))
    check(got == 400 and "spec.gitRepo: must be an https URL" in err["error"]["message"], err)
    got, err, _ = env.api("PUT", path + "x", doc)
    check(got == 400 and "does not match the id in the URL" in err["error"]["message"], err)
    got, err, _ = env.api("PUT", path, doc, user="bob")
    check(got == 409 and err["error"]["code"] == "id_taken", (got, err))
    check(env.read_manifest(wid)["metadata"]["userId"] == "alice", "bob took it")
    got, lst, _ = env.api("GET", "/api/worklet/worklets", user="bob")
    check(lst["count"] == 0, lst)
    got, err, _ = env.api("PUT", path, raw_body=b"{", headers={"Content-Type": "application/json"})
    check(got == 400, (got, err))
    got, _, _ = env.api("DELETE", path)
    check(got == 202, got)
    got, err, _ = env.api("PUT", path, doc)
    check(got == 409 and err["error"]["code"] == "deleting", (got, err))


if __name__ == "__main__":
    run([test_requirements_usage_example, test_error_statuses, test_two_users_are_isolated,
         test_lifecycle_through_the_api, test_logs_follow_streams_new_output,
         test_health_and_metrics, test_put_creates_and_replaces], "api")
