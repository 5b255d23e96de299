"""Real apps, the way their authors get them: generated at test time by the
frameworks' own scaffolders from the npm registry (create-vite's react-ts and
vue templates, create-next-app, create-react-app), committed as they come
(with the lock file npm writes), built and served by worklet with the Node.js
version and start command their authors would use. Hand-written fixtures
cover what no scaffolder makes: an .nvmrc, an engines.node no image
satisfies, a Procfile. Browser checks of these apps are another test's."""

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

from wltest import check, docker, git, http_get, images, run

# Scaffolded apps, generated once per run and shared by the tests.
SCAFFOLD_DIR = tempfile.mkdtemp(prefix="wl-e2e-scaffolds-")
_scaffolded = {}
_scaffold_lock = threading.Lock()

NPM_QUIET = ["--no-audit", "--no-fund", "--loglevel=error"]

# kind -> the scaffolder's command ({dest}: the app's directory, made in
# SCAFFOLD_DIR), and whether npm must still write the lock
# file an author would commit (create-vite does not install; create-next-app
# is told not to, which is faster than its own install and gives the same
# lock file; create-react-app always installs).
SCAFFOLDERS = {
    "vite-react": (["npm", "create", "-y", "vite@latest", "{dest}", "--",
                    "--template", "react-ts", "--no-interactive"], True),
    "vite-vue": (["npm", "create", "-y", "vite@latest", "{dest}", "--",
                  "--template", "vue", "--no-interactive"], True),
    # --empty: the default template's layout fetches its fonts from Google
    # Fonts at build time (next/font/google), which this machine cannot
    # reach; test_failures_quote_the_cause builds that one.
    "next": (["npx", "-y", "create-next-app@latest", "{dest}", "--ts", "--app",
              "--eslint", "--no-tailwind", "--no-src-dir", "--use-npm", "--yes",
              "--disable-git", "--no-agent-feedback", "--import-alias", "@/*",
              "--skip-install", "--empty"], True),
    "next-default": (["npx", "-y", "create-next-app@latest", "{dest}", "--ts",
                      "--app", "--eslint", "--no-tailwind", "--no-src-dir",
                      "--use-npm", "--yes", "--disable-git",
                      "--no-agent-feedback", "--import-alias", "@/*",
                      "--skip-install"], True),
    "cra": (["npx", "-y", "create-react-app@latest", "{dest}"], False),
}


def scaffold(kind):
    """A fresh app of this kind from its framework's own scaffolder (the npm
    registry's latest), as a directory. To be replaced by
    tests/e2e/scaffold.py, the cached scaffolder written on the realapps
    branch, when the branches merge."""
    with _scaffold_lock:
        if kind in _scaffolded:
            return _scaffolded[kind]
        argv, lock = SCAFFOLDERS[kind]
        dest = os.path.join(SCAFFOLD_DIR, kind)
        t0 = time.time()
        # A name, not a path: create-vite takes an absolute one as relative.
        out = subprocess.run([a.replace("{dest}", kind) for a in argv],
                             cwd=SCAFFOLD_DIR, capture_output=True, text=True,
                             timeout=600, env=dict(os.environ, CI="1"))
        check(out.returncode == 0 and os.path.isfile(os.path.join(dest, "package.json")),
              "scaffolding %s failed:\n%s\n%s" % (kind, out.stdout[-3000:], out.stderr[-3000:]))
        if lock:
            out = subprocess.run(["npm", "install", "--package-lock-only"] + NPM_QUIET,
                                 cwd=dest, capture_output=True, text=True, timeout=600)
            check(out.returncode == 0, "npm install --package-lock-only in %s:\n%s"
                  % (kind, out.stderr[-3000:]))
        print("scaffolded %s in %.1f s" % (kind, time.time() - t0), flush=True)
        _scaffolded[kind] = dest
        return dest


def repo_of(env, kind, name=None):
    """A git repository of a scaffolded app, committed as an author would:
    everything its .gitignore does not exclude (node_modules, build
    output), on branch main."""
    path = os.path.join(env.repos, name or kind)
    shutil.copytree(scaffold(kind), path, symlinks=True,
                    ignore=shutil.ignore_patterns("node_modules", ".git"))
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "scaffolded")
    return path


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
    check('Go 1.22 (worklet-local/go:1.22): of the available (1.19, 1.22, 1.23), it '
          'satisfies go.mod go "1.22"' in evidence(st), evidence(st))
    # Routing patterns and range over an int: code only Go 1.22 compiles.
    env.wait_body(st["port"], "hello world from go1.22.")
    code, text = http_get(st["port"], "/worklet")
    check(code == 200 and re.match(r"hello worklet from go1\.22\.\d+!!", text), (code, text))


def test_real_apps_build_and_serve(env):
    # Scaffold while earlier ones build: the scaffolders are network-bound.
    apps = {}
    for kind in ("vite-react", "vite-vue", "next", "cra"):
        wid = env.new_id(kind)
        env.apply(wid, repo_of(env, kind))
        apps[kind] = wid
    # Vite's dev server (hot reload) writes next to its config and into
    # node_modules/.vite: it runs as the app's user in the app's image.
    dev = env.new_id("vite-dev")
    env.apply(dev, os.path.join(env.repos, "vite-react"),
              startCommand="npx vite --host 0.0.0.0 --port $PORT")

    expect = {
        # kind: framework, served page needle, script pattern, needle in it
        "vite-react": ("vite", "<title>vite-react</title>", r"/assets/index-[^\"]+\.js",
                       "Get started"),
        "vite-vue": ("vite", "<title>vite-vue</title>", r"/assets/index-[^\"]+\.js",
                     "Get started"),
        "cra": ("create-react-app", "<title>React App</title>",
                r"/static/js/main\.[^\"]+\.js", "Learn React"),
        "next": ("next", "Hello world!", None, None),
    }
    for kind, wid in apps.items():
        framework, needle, script, needle2 = expect[kind]
        st = env.wait_phase(wid, "running", 1200)
        ev = evidence(st)
        check(st["detection"]["framework"] == framework, (kind, st["detection"]))
        # Nothing asked for a version: the default image, Node.js 24.
        check("Node.js 24 (worklet-local/node:24, the default image)" in ev, (kind, ev))
        code, html = http_get(st["port"], "/", timeout=10)
        check(code == 200 and needle in html, (kind, code, html[:2000]))
        if script:
            # A single-page app served from its build output (index.html
            # fallback for client-side routes), not by a dev server.
            check(st["detection"]["startCommand"].startswith("nginx"), (kind, st["detection"]))
            code, js = http_get(st["port"], script_of(html, script), timeout=10)
            check(code == 200 and needle2 in js, (kind, code, js[:300]))
            code, deep = http_get(st["port"], "/some/client/route")
            check(code == 200 and needle in deep, (kind, "SPA fallback", code))
        # Through the proxy too.
        code, body, _ = env.api("GET", "/api/worklet/worklets/%s/proxy/" % wid,
                                user=None, headers={"X-User-ID": "e2e"})
        check(code == 200 and needle in str(body), (kind, "proxy", code, str(body)[:500]))
    cra = env.status(apps["cra"])
    check('scripts.start = "react-scripts start"' in evidence(cra), evidence(cra))

    # Next.js runs next start as 10001 and may write its cache and its
    # directory.
    st = env.status(apps["next"])
    check(st["detection"]["startCommand"].startswith("npx next start"), st["detection"])
    cid = container_of(apps["next"])
    check(exec_in(cid, "sh", "-c", "id -u | grep -qx 10001 && touch /app/.next/cache/wl "
                  "/app/wl-written && mkdir -p /app/node_modules/.cache/wl") == 0,
          "the Next.js app cannot write next to itself")

    st = env.wait_phase(dev, "running", 600)
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
    try:
        run([test_version_files_and_procfile, test_python_and_go_versions,
             test_real_apps_build_and_serve,
             test_failures_quote_the_cause], "runtimes")
    finally:
        shutil.rmtree(SCAFFOLD_DIR, ignore_errors=True)
