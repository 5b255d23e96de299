"""Builds leave nothing behind on disk. Twenty builds that fail at different
steps, ten that succeed and one cut off by kill -9 of workletd mid-build,
then every worklet deleted: nothing of this instance remains in Docker (no
image, step images of failed builds included, no container), no image made
by one of the test's builds remains whatever its labels (each build's steps
carry a marker of this run; compared with the daemon's images before), and
/metrics counted the images while they were there and counts none after."""

import json
import os
import re
import time
import urllib.parse

from wltest import check, docker, http_get, run

MARK = "wlleft%d" % os.getpid()
BASE = "worklet-local/python:3"


def dockerfile(n, fail_at=None, sleep=False):
    """A Dockerfile of n RUN steps, each leaving its own layer and image;
    failing at step fail_at, or sleeping (to be cut off) after step 2."""
    lines = ["FROM %s" % BASE, "WORKDIR /srv"]
    for i in range(1, n + 1):
        lines.append("RUN echo %s-%d > /srv/step%d.txt" % (MARK, i, i))
        if i == fail_at:
            lines.append("RUN echo '%s: failing at step %d' >&2 && exit 3" % (MARK, i))
        if sleep and i == 2:
            lines.append("RUN echo %s-sleeping && sleep 120" % MARK)
    lines += ["EXPOSE 8080", 'CMD ["python3", "-m", "http.server", "8080"]']
    return "\n".join(lines) + "\n"


def ours_images(env):
    q = urllib.parse.quote(json.dumps({"label": ["worklet.instance=" + env.instance]}))
    return docker("GET", "/images/json?all=1&filters=" + q)[1] or []


def ours_containers(env):
    q = urllib.parse.quote(json.dumps({"label": ["worklet.instance=" + env.instance]}))
    return docker("GET", "/containers/json?all=1&filters=" + q)[1] or []


def made_by_this_test(before):
    """Images that appeared during the test and that one of its builds made
    (a step's command names this run's marker), whatever their labels."""
    found = []
    for img in docker("GET", "/images/json?all=1")[1] or []:
        if img["Id"] in before:
            continue
        code, info = docker("GET", "/images/%s/json" % img["Id"])
        if code != 200:
            continue  # gone meanwhile
        cmd = " ".join((info.get("ContainerConfig") or {}).get("Cmd") or [])
        if MARK in cmd:
            found.append((img["Id"][:19], cmd[-80:]))
    return found


def metric(env, name):
    code, body = http_get(env.api_port, "/metrics")
    m = re.search(r"^%s (\d+)$" % name, body, re.M)
    check(code == 200 and m, "no %s in /metrics" % name)
    return int(m.group(1))


def create(env, name, text):
    repo = env.make_repo("dockerfile", name)
    env.commit_file(repo, "Dockerfile", text)
    code, w, _ = env.api("POST", "/api/worklet/worklets", {"name": name, "git_repo": repo})
    check(code == 201, w)
    env.ids.append(w["id"])
    return w["id"]


def test_builds_leave_nothing(env):
    before = {img["Id"] for img in docker("GET", "/images/json?all=1")[1] or []}
    check(not ours_images(env), "the instance starts with images")

    failing = [create(env, "fail%d" % i, dockerfile(5 + i % 3, fail_at=1 + i % 5))
               for i in range(20)]
    passing = [create(env, "ok%d" % i, dockerfile(2 + i % 3)) for i in range(10)]
    for wid in failing:
        st = env.wait(wid, lambda s: s.get("phase") in ("error", "running"), 600, "a verdict")
        check(st["phase"] == "error", (wid, st.get("phase")))
        check(MARK in (st.get("lastError") or ""), "the cause is not named: %s"
              % st.get("lastError"))
    for wid in passing:
        env.wait_phase(wid, "running", 600)
    # Attributed while they exist: the failed builds' step images carry
    # the instance's labels and the metrics count them.
    check(len(ours_images(env)) > 30, "step images without the instance's labels")
    deadline = time.time() + 30
    while metric(env, "worklet_images") == 0 and time.time() < deadline:
        time.sleep(0.5)
    check(metric(env, "worklet_image_bytes") > 0, "no image bytes in /metrics")

    # One build cut off by kill -9 of workletd.
    cut = create(env, "cut", dockerfile(4, sleep=True))
    deadline = time.time() + 300
    log = ""
    while time.time() < deadline:
        st = env.status(cut)
        if st.get("buildLogs") and os.path.exists(st["buildLogs"]):
            with open(st["buildLogs"], errors="replace") as f:
                log = f.read()
            if MARK + "-sleeping" in log:
                break
        time.sleep(0.2)
    check(MARK + "-sleeping" in log, "the build never reached its long step")
    time.sleep(1)
    env.kill9()
    env.start()
    env.wait_api()

    for wid in env.ids:
        code, _, _ = env.api("DELETE", "/api/worklet/worklets/" + wid)
        check(code in (202, 404), code)
    deadline = time.time() + 300
    left = list(env.ids)
    while left and time.time() < deadline:
        left = [w for w in left if env.api("GET", "/api/worklet/worklets/" + w)[0] != 404]
        time.sleep(0.5)
    check(not left, "not deleted: %s" % left)

    # Nothing left: the instance's images and containers, and whatever the
    # builds made (the cut-off build's container goes when Docker sees its
    # client gone).
    deadline = time.time() + 60
    while (ours_images(env) or ours_containers(env)) and time.time() < deadline:
        time.sleep(1)
    check(not ours_images(env), "images left: %s" % [
        (i["Id"][:19], i.get("RepoTags")) for i in ours_images(env)])
    check(not ours_containers(env), "containers left: %s" % [
        c["Names"] for c in ours_containers(env)])
    leftovers = made_by_this_test(before)
    check(not leftovers, "the builds left images: %s" % leftovers)
    deadline = time.time() + 30
    while metric(env, "worklet_image_bytes") and time.time() < deadline:
        time.sleep(0.5)
    check(metric(env, "worklet_image_bytes") == 0 and metric(env, "worklet_images") == 0,
          "/metrics still counts images")


if __name__ == "__main__":
    run([test_builds_leave_nothing], "leftovers", WORKLET_IMAGE_PYTHON=BASE)
