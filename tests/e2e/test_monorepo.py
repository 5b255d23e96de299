"""Repositories built the way their authors do: an app in a folder of a
monorepo (spec.path, REST app_path) with its npm workspace packages
resolved; a root with no app of its own lists the candidate apps and builds
nothing; a scaffolded app in apps/site; a repository Dockerfile whose base
image cannot be pulled suggests project_type.

The monorepo is a hand-written fixture (tests/fixtures/apps/monorepo: no
scaffolder makes one): npm workspaces apps/* and packages/*, its
package-lock.json written by npm 11 when the fixture was made; apps/web's
build and server both require the workspace package @fixture/greeting."""

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time

import yaml

from wltest import FIXTURES, WORKLETD, check, git, http_get, images, run

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scaffold import scaffold  # noqa: E402
from scaffold import tool as scaffold_tool  # noqa: E402

CTL = os.path.join(os.path.dirname(WORKLETD), "workletctl")
GREETING = "hello from the greeting workspace package"
BASE = "/api/worklet/worklets"


def cond(st, kind):
    for c in st.get("conditions") or []:
        if c["type"] == kind:
            return c
    return {}


def when(value):
    """A lastTransitionTime, as PyYAML gives it (datetime) or as text."""
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=None)
    text = str(value).replace("Z", "")
    return datetime.datetime.fromisoformat(text)


def test_app_path_in_npm_workspace(env):
    repo = env.make_repo("monorepo")
    wid = env.new_id("mono")
    env.apply(wid, repo, path="apps/web")
    # The build's own condition, seen while it runs.
    st = env.wait(wid, lambda s: cond(s, "Built").get("status") == "Unknown",
                  300, "Built=Unknown (Building)")
    building = when(cond(st, "Built")["lastTransitionTime"])
    st = env.wait_phase(wid, "running", 420)
    ev = "\n".join(st["detection"]["evidence"])
    check("spec.path = 'apps/web'" in ev, ev)
    check("workspace root '.' (package.json workspaces)" in ev and "npm" in ev
          and "package-lock.json" in ev, ev)
    code, body = env.wait_body(st["port"], GREETING)
    # The server and the build step (in apps/web) both resolved the package.
    check("built with: " + GREETING in body, body)
    # Built's time is the build's end, not the pass's start (issue 5).
    built = cond(st, "Built")
    check(built["status"] == "True", built)
    check(when(built["lastTransitionTime"]) > building,
          "Built went True at %s, the build started at %s" %
          (built["lastTransitionTime"], building))


def test_app_path_in_pnpm_workspace(env):
    # The same layout as pnpm users write it: pnpm-workspace.yaml, the
    # workspace: protocol, and the lock written by pnpm (the scaffolders'
    # pinned pnpm, scaffold.TOOLS) when the test runs.
    repo = os.path.join(env.repos, "monorepo-pnpm")
    shutil.copytree(os.path.join(FIXTURES, "monorepo"), repo)
    os.remove(os.path.join(repo, "package-lock.json"))
    with open(os.path.join(repo, "pnpm-workspace.yaml"), "w") as f:
        f.write("packages:\n  - \"apps/*\"\n  - \"packages/*\"\n")
    web = os.path.join(repo, "apps", "web", "package.json")
    with open(web) as f:
        pkg = json.load(f)
    pkg["dependencies"]["@fixture/greeting"] = "workspace:*"
    with open(web, "w") as f:
        json.dump(pkg, f, indent=2)
    subprocess.run(scaffold_tool("pnpm") + ["install", "--lockfile-only"],
                   cwd=repo, check=True, capture_output=True, timeout=300)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    wid = env.new_id("monopnpm")
    env.apply(wid, repo, path="apps/web")
    st = env.wait_phase(wid, "running", 600)
    ev = "\n".join(st["detection"]["evidence"])
    check("workspace root '.' (package.json workspaces): the install runs "
          "there (pnpm, pnpm-lock.yaml)" in ev, ev)
    code, body = env.wait_body(st["port"], GREETING)
    check("built with: " + GREETING in body, body)


def test_workspace_root_lists_candidates(env):
    repo = env.make_repo("monorepo")
    wid = env.new_id("monoroot")
    env.apply(wid, repo)
    st = env.wait(wid, lambda s: cond(s, "Detected").get("status") == "False",
                  120, "Detected=False")
    det = cond(st, "Detected")
    check(det["reason"] == "ChooseAnApp", det)
    msg = det["message"]
    check("apps/web" in msg and "spec.path" in msg and "app_path" in msg, msg)
    # A library package (no start, no dev server) is not an app to run.
    check("packages/greeting" not in msg, msg)
    check(st.get("lastError") == msg, st)
    check(st.get("phase") == "error", st)
    check(images(wid) == [], "something was built: %s" % images(wid))
    check(not cond(st, "Built"), st)

    # A path that is not in the checkout: named, nothing built.
    missing = env.new_id("monomiss")
    env.apply(missing, repo, path="apps/nope")
    st = env.wait(missing, lambda s: cond(s, "Detected").get("status") == "False",
                  120, "Detected=False")
    det = cond(st, "Detected")
    check(det["reason"] == "PathNotFound" and "'apps/nope'" in det["message"], det)
    check(images(missing) == [], "something was built")


def test_app_path_through_the_api(env):
    repo = env.make_repo("monorepo")
    for bad in ("../x", "/etc", "apps/../../x", "apps/\nweb"):
        got, body, _ = env.api("POST", BASE, {"git_repo": repo, "app_path": bad})
        check(got == 400 and body["error"]["message"].startswith("app_path:"),
              (bad, got, body))
    got, w, _ = env.api("POST", BASE, {"git_repo": repo, "app_path": "apps/web"})
    check(got == 201 and w["app_path"] == "apps/web", w)
    env.ids.append(w["id"])
    got, w2, _ = env.api("GET", BASE + "/" + w["id"])
    check(got == 200 and w2["app_path"] == "apps/web", w2)
    st = env.wait_phase(w["id"], "running", 420)
    env.wait_body(st["port"], GREETING)
    # workletctl describe shows it.
    ctl_env = {k: v for k, v in os.environ.items() if not k.startswith("WORKLET")}
    ctl_env.update(HOME=env.tmp, WORKLET_SERVER=env.base_url,
                   WORKLET_TOKEN=env.tokens["alice"])
    p = subprocess.run([CTL, "describe", w["id"]], env=ctl_env,
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and re.search(r"^App path: +apps/web$", p.stdout, re.M),
          (p.returncode, p.stdout, p.stderr))
    # PUT with the manifest's field, as workletctl apply sends it.
    wid = env.new_id("monoput")
    doc = {"apiVersion": "worklet.dev/v1", "kind": "Worklet",
           "metadata": {"name": wid},
           "spec": {"gitRepo": repo, "path": "apps/web"}}
    got, body, _ = env.api("PUT", BASE + "/" + wid, doc)
    check(got == 201, body)
    got, body, _ = env.api("GET", BASE + "/" + wid + "?format=resource")
    check(body["spec"]["path"] == "apps/web", body)
    doc["spec"]["path"] = "../web"
    got, body, _ = env.api("PUT", BASE + "/" + wid, doc)
    check(got == 400 and "'..'" in body["error"]["message"], body)


def test_scaffolded_app_in_a_folder(env):
    # create-vite's react-ts app, as the scaffolder makes it, in apps/site
    # of a repository whose root has no app.
    repo = os.path.join(env.repos, "site-mono")
    app = scaffold("vite-react", os.path.join(env.tmp, "vite-react"))
    shutil.copytree(app, os.path.join(repo, "apps", "site"), symlinks=True,
                    ignore=shutil.ignore_patterns(".git"))
    with open(os.path.join(repo, "README.md"), "w") as f:
        f.write("# sites\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")

    root = env.new_id("siteroot")
    env.apply(root, repo)
    wid = env.new_id("site")
    env.apply(wid, repo, path="apps/site")
    st = env.wait_phase(wid, "running", 600)
    check(st["detection"]["framework"] == "vite", st["detection"])
    code, page = env.wait_body(st["port"], '<div id="root">')
    script = re.search(r'/assets/index-[^"]+\.js', page)
    check(script, page)
    code, js = http_get(st["port"], script.group(0))
    check(code == 200 and "Get started" in js, (code, js[:200]))
    # Without a path, the root names the app it holds.
    st = env.wait(root, lambda s: cond(s, "Detected").get("status") == "False",
                  120, "Detected=False")
    det = cond(st, "Detected")
    check(det["reason"] == "ChooseAnApp" and "apps/site" in det["message"], det)


def test_next_without_build_stops_before_building(env):
    # create-next-app's app with its build script removed: next start
    # would fail after the install ("Could not find a production build").
    repo = scaffold("next-app", os.path.join(env.repos, "next-nobuild"))
    with open(os.path.join(repo, "package.json")) as f:
        pkg = json.load(f)
    check(pkg["scripts"].pop("build", None), pkg["scripts"])
    with open(os.path.join(repo, "package.json"), "w") as f:
        json.dump(pkg, f, indent=2)
    git(repo, "commit", "-q", "-am", "no build script")
    wid = env.new_id("nobuild")
    started = time.time()
    env.apply(wid, repo)
    st = env.wait(wid, lambda s: cond(s, "Detected").get("status") == "False",
                  120, "Detected=False")
    took = time.time() - started
    det = cond(st, "Detected")
    check(det["reason"] == "StartWillFail", det)
    check("'next start' would fail" in st.get("lastError", ""), st)
    check(images(wid) == [] and not cond(st, "Built"), "something was built")
    print("  StartWillFail after %.1f s" % took)


def test_dockerfile_from_unpullable(env):
    repo = env.make_repo("node", "node-badfrom")
    env.commit_file(repo, "Dockerfile",
                    "FROM worklet-e2e-missing.invalid/none:1\n"
                    "COPY . /app\nCMD [\"node\", \"/app/server.js\"]\n",
                    "a Dockerfile from a registry we cannot reach")
    wid = env.new_id("badfrom")
    env.apply(wid, repo)
    st = env.wait_phase(wid, "error", 300)
    err = st.get("lastError") or ""
    check("FROM worklet-e2e-missing.invalid/none:1" in err, err)
    check("set project_type" in err and "'node'" in err, err)
    check(cond(st, "Built").get("reason") == "BuildFailed", st)
    # And the suggestion works.
    env.update_spec(wid, projectType="node")
    st = env.wait_phase(wid, "running", 300)
    code, body = http_get(st["port"])
    check(code == 200, (code, body))


if __name__ == "__main__":
    run([test_app_path_in_npm_workspace, test_app_path_in_pnpm_workspace,
         test_workspace_root_lists_candidates,
         test_app_path_through_the_api, test_scaffolded_app_in_a_folder,
         test_next_without_build_stops_before_building,
         test_dockerfile_from_unpullable], "monorepo")
