"""Real apps, the way their authors get them: generated at test time by the
frameworks' own scaffolders from the npm registry (create-vite's react-ts and
vue templates, create-next-app, create-react-app), committed as they come
(with the lock file npm writes), built and served by worklet with the Node.js
version and start command their authors would use (tests/e2e/scaffold.py).
Hand-written fixtures cover what no scaffolder makes: an .nvmrc, an
engines.node no image satisfies, a Procfile. The scaffolders' apps built
with nothing configured, seen by the server and in a browser:
test_realapps.py."""

import os
import re

from scaffold import scaffold
from wltest import check, docker, http_get, images, run

def repo_of(env, kind, name=None):
    """A git repository of an app from its framework's scaffolder
    (tests/e2e/scaffold.py: pinned, cached)."""
    return scaffold(kind, os.path.join(env.repos, name or kind))


def cond(st, type_):
    return next((c for c in st.get("conditions", []) if c["type"] == type_), {})


def evidence(st):
    return "\n".join(st.get("detection", {}).get("evidence", []))


def container_of(wid):
    from wltest import containers
    cs = [c for c in containers(wid) if c["State"] == "running"]
    check(len(cs) == 1, ("one running container", wid, cs))
    return cs[0]["Id"]


def exec_in(cid, *cmd):
    """Run cmd in the container as its own user; returns the exit code."""
    code, ex = docker("POST", "/containers/%s/exec" % cid,
                      {"Cmd": list(cmd), "AttachStdout": True, "AttachStderr": True})
    check(code == 201, ("exec create", code, ex))
    docker("POST", "/exec/%s/start" % ex["Id"], {"Detach": False, "Tty": False})
    _, info = docker("GET", "/exec/%s/json" % ex["Id"])
    return info["ExitCode"]


def script_of(html, pattern):
    """The path of the first script the page loads that matches pattern."""
    m = re.search(r'<script[^>]+src="(%s)"' % pattern, html)
    check(m, ("no script matching %s in the page" % pattern, html[:2000]))
    return m.group(1)


def test_version_files_and_procfile(env):
    nvmrc = env.new_id("nvmrc")
    env.apply(nvmrc, env.make_repo("nvmrc"))
    engines = env.new_id("engines99")
    env.apply(engines, env.make_repo("engines99"))
    procfile = env.new_id("procfile")
    env.apply(procfile, env.make_repo("procfile"))
    # The REST API's runtime_version overrides the repository's .nvmrc.
    code, body, _ = env.api("POST", "/api/worklet/worklets", {
        "name": "pinned", "git_repo": os.path.join(env.repos, "nvmrc"),
        "runtime_version": "^20.11"})
    check(code == 201, (code, body))
    pinned = body["id"]
    env.ids.append(pinned)
    code, body, _ = env.api("POST", "/api/worklet/worklets", {
        "git_repo": os.path.join(env.repos, "nvmrc"), "runtime_version": "twenty"})
    check(code == 400 and body["error"]["message"].startswith(
        "runtime_version: 'twenty' is not a Node.js version range"), (code, body))

    # Node 99 is asked for: the worklet fails before building, saying what
    # is needed, where it was read and what there is.
    st = env.wait_phase(engines, "error", 120)
    msg = st["lastError"]
    check('package.json engines.node ">=99"' in msg and "no Node.js image satisfies it" in msg
          and "available: 18, 20, 22, 24" in msg, msg)
    detected = cond(st, "Detected")
    check(detected.get("status") == "False" and detected.get("reason") == "RuntimeUnavailable"
          and detected.get("message") == msg, detected)
    check(not cond(st, "Built") or cond(st, "Built").get("reason") != "BuildFailed", st)
    check(images(engines) == [], "an image was built for an unsatisfiable engines.node")
    check(not os.path.exists(os.path.join(env.state, "logs", engines, "build.log")),
          "a build was started")

    # .nvmrc "22": Node 22, and the app writes next to itself as 10001.
    st = env.wait_phase(nvmrc, "running", 300)
    check('Node.js 22 (worklet-local/node:22): the highest available (18, 20, 22, 24) '
          'that satisfies .nvmrc "22"' in evidence(st), evidence(st))
    env.wait_body(st["port"], "node v22.")
    code, text = http_get(st["port"])
    check(code == 200 and re.match(r"node v22\.\d+\.\d+ visits [2-9]", text), (code, text))
    cid = container_of(nvmrc)
    _, info = docker("GET", "/containers/%s/json" % cid)
    check(info["Config"]["User"] == "10001:10001" and info["HostConfig"]["CapDrop"] == ["ALL"],
          (info["Config"]["User"], info["HostConfig"]["CapDrop"]))

    st = env.wait_phase(pinned, "running", 300)
    check('satisfies spec.runtimeVersion "^20.11"' in evidence(st), evidence(st))
    env.wait_body(st["port"], "node v20.")

    # The Procfile's web: line, $PORT expanded by the shell; the start
    # script (which would crash) is not used.
    st = env.wait_phase(procfile, "running", 300)
    check("Procfile: web:" in evidence(st), evidence(st))
    check(st["detection"]["startCommand"].startswith("/bin/sh -c exec node server.js"),
          st["detection"])
    env.wait_body(st["port"], "hello from procfile: --from-procfile --port 3000")


def test_python_and_go_versions(env):
    # What the repository asks for picks the image, or fails before
    # building with what is needed, where it was read and what there is.
    py311 = env.new_id("py311")
    env.apply(py311, env.make_repo("python311"))
    py313 = env.new_id("py313")
    env.apply(py313, env.make_repo("python313"))
    go122 = env.new_id("go122")
    env.apply(go122, env.make_repo("go122"))
    # spec.runtimeVersion applies to Python too: it overrides .python-version.
    pinned = env.new_id("py-pinned")
    env.apply(pinned, os.path.join(env.repos, "python313"), runtimeVersion="3.11")

    st = env.wait_phase(py313, "error", 120)
    msg = st["lastError"]
    check(msg == '.python-version "3.13": no Python image satisfies it (available: 3.11); '
          'set spec.runtimeVersion, or configure an image with '
          'WORKLET_IMAGE_PYTHON_<major>_<minor>', msg)
    detected = cond(st, "Detected")
    check(detected.get("status") == "False" and detected.get("reason") == "RuntimeUnavailable"
          and detected.get("message") == msg, detected)
    check(images(py313) == [], "an image was built for Python 3.13")
    check(not os.path.exists(os.path.join(env.state, "logs", py313, "build.log")),
          "a build was started")

    for wid, needle in ((py311, '.python-version "3.11"'),
                        (pinned, 'spec.runtimeVersion "3.11"')):
        st = env.wait_phase(wid, "running", 300)
        check("Python 3.11 (worklet-local/python:3): of the available (3.11), it "
              "satisfies " + needle in evidence(st), evidence(st))
        env.wait_body(st["port"], "hello from python 3.11.")

    st = env.wait_phase(go122, "running", 600)
    check('Go 1.22 (worklet-local/go:1.22): of the available (1.19, 1.22), it '
          'satisfies go.mod go "1.22"' in evidence(st), evidence(st))
    # Routing patterns and range over an int: code only Go 1.22 compiles.
    env.wait_body(st["port"], "hello world from go1.22.")
    code, text = http_get(st["port"], "/worklet")
    check(code == 200 and re.match(r"hello worklet from go1\.22\.\d+!!", text), (code, text))


def test_vite_dev_server_as_start_command(env):
    """Vite's dev server (hot reload) writes next to its config and into
    node_modules/.vite: given as the start command, it runs as the app's
    user in the app's Node.js image, not in the nginx stage of a built
    single-page app."""
    dev = env.new_id("vite-dev")
    env.apply(dev, repo_of(env, "vite-react"),
              startCommand="npx vite --host 0.0.0.0 --port $PORT")
    st = env.wait_phase(dev, "running", 900)
    check("runs in its Node.js image" in evidence(st), evidence(st))
    code, html = http_get(st["port"], "/", timeout=10)
    check(code == 200 and "/@vite/client" in html, ("vite dev server", code, html[:1000]))
    cid = container_of(dev)
    check(exec_in(cid, "sh", "-c", "ls /app/node_modules/.vite >/dev/null") == 0,
          "vite's dev server did not write its dependency cache")


def test_failures_quote_the_cause(env):
    # Vite on Node 18: the build fails, and the message says why (what the
    # failing step printed, and what npm warned at install), not only
    # "returned a non-zero code". (Vite 8 dies on Node 18 before it can
    # print its own "Vite requires Node.js version 20.19+".)
    old = env.new_id("vite18")
    env.apply(old, repo_of(env, "vite-react"), runtimeVersion="18")
    st = env.wait_phase(old, "error", 900)
    msg = st["lastError"]
    check(re.search(r"build failed at step \d+/\d+ \(RUN npm run build\): "
                    r"The command '/bin/sh -c npm run build' returned a non-zero "
                    r"code: 1\n", msg), msg)
    check("\nNode.js v18." in msg or "Vite requires Node.js version 20.19+" in msg, msg)
    with open(st["buildLogs"], errors="replace") as f:
        warned = "EBADENGINE" in f.read()
    # (only when the install ran in this build, not from the layer cache)
    check(not warned or re.search(r"\nnpm warned \(EBADENGINE\): \S+ requires "
                                  r"Node.js \^20\.19\.0 \|\| >=22\.12\.0, this is "
                                  r"v18\.", msg), msg)
    check("\x1b" not in msg and "npm error" not in msg and "    at " not in msg, msg)
    built = cond(st, "Built")
    check(built.get("reason") == "BuildFailed" and built.get("message") == msg, built)
    check('satisfies spec.runtimeVersion "18"' in evidence(st), evidence(st))

    # create-next-app's default layout fetches Geist from Google Fonts while
    # building; this machine cannot reach it, and the message says so.
    # (Where it can, the app must simply serve.)
    nxt = env.new_id("next-default")
    env.apply(nxt, repo_of(env, "next-default"))
    st = env.wait(nxt, lambda s: s.get("phase") in ("error", "running"), 900,
                  "the build's end")
    if st["phase"] == "error":
        msg = st["lastError"]
        check("(RUN npm run build)" in msg and "Failed to fetch" in msg
              and "Google Fonts" in msg, msg)
    else:
        check(http_get(st["port"], "/", timeout=10)[0] == 200, "next default template")


if __name__ == "__main__":
    run([test_version_files_and_procfile, test_python_and_go_versions,
         test_vite_dev_server_as_start_command, test_failures_quote_the_cause], "runtimes")
