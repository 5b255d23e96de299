"""Rebuilds start from the framework's build cache of the previous build.

A scaffolded Next.js app (tests/e2e/scaffold.py) is built through worklet;
then a one-line change to its page is committed, as a prompt's commit
would be. The second build must copy .next from the image serving at that
moment (the build log shows the COPY --from of that image, workletd's log
says the image was built from it), the change must be served, and the new image must keep its name (a
commit's build key leaves the cache source out, so it is not rebuilt once
its own image serves). How much time that saves is hack/bench-rebuild.sh's business."""

import os
import re
import sys
import time

from wltest import check, run

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from scaffold import scaffold  # noqa: E402

PAGE = "app/page.tsx"
OLD = "To get started, edit the"
NEW = "Rebuilt from the cache, edit the"


def build_log(st):
    with open(st["buildLogs"], errors="replace") as f:
        return f.read()


def test_next_rebuild_reuses_cache(env):
    repo = scaffold("next-app", os.path.join(env.repos, "next-app"))
    code, w, _ = env.api("POST", "/api/worklet/worklets",
                         {"name": "next-app", "git_repo": repo})
    check(code == 201, w)
    wid = w["id"]
    env.ids.append(wid)
    st = env.wait(wid, lambda s: s.get("phase") in ("running", "error"), 1200,
                  "running or error")
    check(st["phase"] == "running", "first build: %s" % st.get("lastError"))
    first_image = st["imageId"]
    first_log = build_log(st)
    # Nothing to start from the first time.
    check("--from=" not in first_log,
          "the first build claims a cache:\n" + first_log[-3000:])
    env.wait_body(st["port"], OLD, 60)

    # One line, as an agent's commit would change it.
    with open(os.path.join(repo, PAGE)) as f:
        page = f.read()
    check(OLD in page, "the scaffolded page changed: %s not found" % OLD)
    env.commit_file(repo, PAGE, page.replace(OLD, NEW, 1), "one-line change")

    st = env.wait(wid, lambda s: s.get("imageId") not in (None, first_image)
                  and s.get("phase") in ("running", "error"), 900, "the rebuild")
    check(st["phase"] == "running", "rebuild: %s" % st.get("lastError"))
    log = build_log(st)
    # The cache came from the image that was serving, this worklet's own.
    m = re.search(r"COPY --chown=\S+ --from=(\S+) /app/\.next /app/\.next", log)
    check(m, "the rebuild did not copy .next from the previous image:\n" + log[-4000:])
    check(m.group(1) == first_image,
          "cache copied from %s, the previous image is %s" % (m.group(1), first_image))
    check("building again without" not in env.logs(), env.logs()[-3000:])
    check("Compiled successfully" in log, log[-4000:])
    # The new version is served, the old text gone.
    env.wait_body(st["port"], NEW, 120)
    # The image name is still the commit's build key: nothing is rebuilt
    # because the cache source (the serving image) changed.
    time.sleep(6)  # three resyncs
    check(env.status(wid).get("imageId") == st["imageId"], env.status(wid))
    check("': building " not in env.logs().split("built %.19s" % st["imageId"])[-1],
          "a second build of the same commit started:\n" + env.logs()[-3000:])


def test_vite_rebuild_keeps_install(env):
    """A Vite app is built in a stage nginx's image does not descend from:
    once its first version served, that stage (its npm ci layer) was
    removed with the old images, and every rebuild installed again."""
    repo = scaffold("vite-react", os.path.join(env.repos, "vite-react"))
    code, w, _ = env.api("POST", "/api/worklet/worklets",
                         {"name": "vite-react", "git_repo": repo})
    check(code == 201, w)
    wid = w["id"]
    env.ids.append(wid)
    st = env.wait(wid, lambda s: s.get("phase") in ("running", "error"), 900,
                  "running or error")
    check(st["phase"] == "running", "first build: %s" % st.get("lastError"))
    first_image = st["imageId"]
    check(re.search(r"^added \d+ packages", build_log(st), re.M), "the first build installed nothing")
    with open(os.path.join(repo, "src/App.tsx")) as f:
        app = f.read()
    check("Count is" in app, "the scaffolded App.tsx changed shape")
    env.commit_file(repo, "src/App.tsx", app.replace("Count is", "Clicks:", 1),
                    "one-line change")
    st = env.wait(wid, lambda s: s.get("imageId") not in (None, first_image)
                  and s.get("phase") in ("running", "error"), 600, "the rebuild")
    check(st["phase"] == "running", "rebuild: %s" % st.get("lastError"))
    log = build_log(st)
    m = re.search(r"^Step \d+/\d+ : RUN npm ci[^\n]*\n([^\n]*)", log, re.M)
    check(m and "Using cache" in m.group(1) and not re.search(r"^added \d+ packages", log, re.M),
          "the rebuild installed the dependencies again:\n" + log[-4000:])
    env.wait_body(st["port"], "", 60)


def test_next_without_dot_next(env):
    """A Next.js app whose build output is elsewhere (distDir) has no .next
    to give: the copy fails, and the rebuild runs again without it."""
    repo = scaffold("next-app", os.path.join(env.repos, "next-dist"))
    with open(os.path.join(repo, "next.config.ts")) as f:
        conf = f.read()
    check("const nextConfig: NextConfig = {" in conf, conf)
    env.commit_file(repo, "next.config.ts", conf.replace(
        "const nextConfig: NextConfig = {",
        'const nextConfig: NextConfig = {\n  distDir: "out-next",', 1), "distDir")
    code, w, _ = env.api("POST", "/api/worklet/worklets",
                         {"name": "next-dist", "git_repo": repo,
                          "start_command": "npx next start -H 0.0.0.0 -p 3000"})
    check(code == 201, w)
    wid = w["id"]
    env.ids.append(wid)
    st = env.wait(wid, lambda s: s.get("phase") in ("running", "error"), 1200,
                  "running or error")
    check(st["phase"] == "running", "first build: %s" % st.get("lastError"))
    first_image = st["imageId"]
    with open(os.path.join(repo, PAGE)) as f:
        page = f.read()
    env.commit_file(repo, PAGE, page.replace(OLD, NEW, 1), "one-line change")
    st = env.wait(wid, lambda s: s.get("imageId") not in (None, first_image)
                  and s.get("phase") in ("running", "error"), 900, "the rebuild")
    check(st["phase"] == "running", "rebuild: %s" % st.get("lastError"))
    check("building again without the previous build's cache" in env.logs(),
          env.logs()[-3000:])
    # The log keeps both attempts: the failed copy, then the build without.
    log = build_log(st)
    check("COPY failed" in log and "Successfully tagged" in log.split("COPY failed")[-1],
          log[-3000:])
    env.wait_body(st["port"], NEW, 120)


if __name__ == "__main__":
    run([test_next_rebuild_reuses_cache, test_vite_rebuild_keeps_install,
         test_next_without_dot_next], "rebuild",
        WORKLET_BUILD_TIMEOUT_SECONDS=1200, WORKLET_HEALTH_TIMEOUT_SECONDS=120)
