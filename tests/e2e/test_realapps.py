"""Real apps render in a real browser. Apps generated now by the frameworks'
own scaffolders from the npm registry (tests/e2e/scaffold.py: create-vite
with React and with Vue, create-next-app with the App Router plus a route
handler and a second page, Create React App), built and run by worklet from
their git repositories with nothing configured, then opened in headless
Chromium the way a person opens them: through the link of POST .../preview,
and from the dashboard (its preview frame and "Open in new tab"). Each time
the page's text is visible and not one script, style, image, font, fetch or
document request fails; in the Next.js app a client-side navigation keeps
the document and a fetch of its own API route answers JSON. Screenshots go
to build/test-output/realapps/."""

import json
import os
import re
import subprocess
import sys

from scaffold import USAGE, scaffold
from test_runtimes import container_of, evidence, exec_in
from wltest import SOURCE_DIR, check, http_get, run

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.environ.get("WL_TEST_OUTPUT", os.path.join(SOURCE_DIR, "build",
                                                                 "test-output")), "realapps")
KINDS = ("vite-react", "vite-vue", "next-app", "cra", "vite-start")
# kind: framework detected, page needle, script pattern, needle in it (the
# server's view: what was built and how it is served).
SERVED = {
    "vite-react": ("vite", "<title>vite-react</title>", r"/assets/index-[^\"]+\.js",
                   "Get started"),
    "vite-vue": ("vite", "<title>vite-vue</title>", r"/assets/index-[^\"]+\.js",
                 "Get started"),
    "cra": ("create-react-app", "<title>React App</title>", r"/static/js/main\.[^\"]+\.js",
            "Learn React"),
    "next-app": ("next", "To get started", None, None),
    # the Vite app whose author made "vite" (the dev server) its start script
    "vite-start": ("vite", "<title>vite-react</title>", r"/assets/index-[^\"]+\.js",
                   "Get started"),
}


def check_served(kind, st):
    """How worklet built and serves it: Node.js 24 (nothing asked for), the
    build output of a single-page app served with an index fallback (not
    its dev server), Next.js by next start, writing next to itself."""
    framework, needle, script, needle2 = SERVED[kind]
    check(st["detection"]["framework"] == framework, (kind, st["detection"]))
    check("Node.js 24 (worklet-local/node:24, the default image)" in evidence(st),
          (kind, evidence(st)))
    code, html = http_get(st["port"], "/", timeout=10)
    check(code == 200 and needle in html, (kind, code, html[:2000]))
    if script:
        check(st["detection"]["startCommand"].startswith("nginx"), (kind, st["detection"]))
        m = re.search(r'<script[^>]+src="(%s)"' % script, html)
        check(m, (kind, "no script matching %s" % script, html[:2000]))
        code, js = http_get(st["port"], m.group(1), timeout=10)
        check(code == 200 and needle2 in js, (kind, code, js[:300]))
        code, deep = http_get(st["port"], "/some/client/route")
        check(code == 200 and needle in deep, (kind, "SPA fallback", code))
    if kind == "cra":
        check('scripts.start = "react-scripts start"' in evidence(st), evidence(st))
    if kind == "vite-start":
        check('scripts.start = "vite"' in evidence(st), evidence(st))
    if kind == "next-app":
        check(st["detection"]["startCommand"].startswith("npx next start"), st["detection"])
        check(exec_in(container_of(st["_id"]), "sh", "-c",
                      "id -u | grep -qx 10001 && touch /app/.next/cache/wl /app/wl-written "
                      "&& mkdir -p /app/node_modules/.cache/wl") == 0,
              "the Next.js app cannot write next to itself")


def page_spec(kind):
    u = USAGE["vite-react" if kind == "vite-start" else kind]
    return {k: u[k] for k in ("expect_text", "navigate", "fetch") if k in u}


def node(script, arg=None, env=None, timeout=600):
    out = subprocess.run(["node", os.path.join(HERE, script)] + ([arg] if arg else []),
                         capture_output=True, text=True, timeout=timeout, env=env)
    for line in out.stdout.splitlines():
        if not line.startswith("RESULT "):
            print("  browser: " + line, flush=True)
    if out.stderr.strip():
        print(out.stderr[-3000:], flush=True)
    result = [line[7:] for line in out.stdout.splitlines() if line.startswith("RESULT ")]
    return out.returncode, json.loads(result[-1]) if result else None


def test_real_apps(env):
    ids = {}
    for kind in KINDS:
        if kind == "vite-start":
            repo = scaffold("vite-react", os.path.join(env.repos, kind))
            with open(os.path.join(repo, "package.json")) as f:
                pkg = json.load(f)
            pkg["scripts"]["start"] = "vite"
            env.commit_file(repo, "package.json", json.dumps(pkg, indent=2) + "\n",
                            "start: the dev server")
        else:
            repo = scaffold(kind, os.path.join(env.repos, kind))
        code, w, _ = env.api("POST", "/api/worklet/worklets", {"name": kind, "git_repo": repo})
        check(code == 201, w)
        env.ids.append(w["id"])
        ids[kind] = w["id"]
    for kind in KINDS:
        st = env.wait(ids[kind], lambda s: s.get("phase") in ("running", "error"), 1500,
                      "running or error")
        check(st["phase"] == "running",
              "%s did not run: %s" % (kind, st.get("lastError")))
        st["_id"] = ids[kind]
        check_served(kind, st)
        print("%s: running (%s), served as built" % (kind, st["detection"]["type"]), flush=True)

    # Through the preview link, in a browser of its own.
    failures = []
    for kind in KINDS:
        code, t, _ = env.api("POST", "/api/worklet/worklets/%s/preview" % ids[kind])
        check(code == 200, t)
        spec = dict(page_spec(kind), url=t["url"], screenshot=os.path.join(OUT, kind + ".png"))
        rc, res = node("realapp.mjs", json.dumps(spec))
        print("%s: %s %s" % (kind, "ok" if rc == 0 else "FAILED",
                             json.dumps({k: res.get(k) for k in ("missing", "failed_requests",
                                                                 "final_url")}) if res else ""),
              flush=True)
        if rc != 0:
            failures.append(kind)
        else:
            check(res["final_url"].startswith("http://%s.worklet.localhost:" % ids[kind]), res)
            if "navigate" in spec:
                check(res["navigation"]["client_side"], res["navigation"])
    check(not failures, "through the preview link: %s" % failures)

    # From the dashboard: its frame and a new tab.
    apps = [{"id": ids[k], "spec": page_spec(k)} for k in KINDS]
    penv = dict(os.environ, WL_BASE=env.base_url, WL_TOKEN=env.tokens["alice"],
                WL_APPS=json.dumps(apps), WL_OUT=OUT)
    rc, _ = node("realapps_dashboard.mjs", env=penv)
    check(rc == 0, "from the dashboard: see above")


if __name__ == "__main__":
    sys.path.insert(0, HERE)
    run([test_real_apps], "realapps",
        # Cold installs of real dependency trees on a small shared machine.
        WORKLET_BUILD_TIMEOUT_SECONDS=1200, WORKLET_HEALTH_TIMEOUT_SECONDS=120)
