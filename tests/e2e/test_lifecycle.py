"""A running worklet follows its repository and its spec: new commits are
served, stop and start work, a crash is restarted with backoff, a restart
marker recreates the container, delete removes everything, and a spec file
removed by hand leaves no orphans."""

import os
import time

from wltest import check, containers, http_get, images, run


def running_node(env, fixture="node"):
    repo = env.make_repo(fixture)
    wid = env.new_id(fixture)
    env.apply(wid, repo)
    st = env.wait_phase(wid, "running", timeout=300)
    return wid, repo, st


def test_new_commit_is_served(env):
    wid, repo, st = running_node(env)
    port, first_commit, url = st["port"], st["commit"], st["webUrl"]
    with open(os.path.join(repo, "server.js")) as f:
        src = f.read()
    check("hello from node" in src, "fixture changed shape")
    env.commit_file(repo, "server.js", src.replace("hello from node", "hello again from node"))
    st = env.wait(wid, lambda s: s.get("phase") == "running" and s["commit"] != first_commit
                  and s.get("servingCommit") == s["commit"], 120, "new commit serving")
    env.wait_body(st["port"], "hello again from node", timeout=30)
    # A zero-downtime rollout: the new version started on the worklet's
    # other port beside the old one, which is then removed.
    check(st["port"] != port, "the new version did not start beside the old one")
    check(st["webUrl"] == url, "web_url changed on redeploy")
    env.wait(wid, lambda s: len(containers(wid)) == 1, 15, "old container removed")
    check(http_get(port, timeout=2)[0] == 0, "the old version still answers")
    env.wait(wid, lambda s: len(images(wid)) == 1, 30, "old image collected")


def test_stop_and_start(env):
    wid, _, st = running_node(env)
    port = st["port"]
    env.update_spec(wid, runState="stopped")
    env.wait_phase(wid, "stopped", 60)
    check(http_get(port, timeout=2)[0] == 0, "stopped worklet still answers")
    cs = containers(wid)
    check(len(cs) == 1 and cs[0]["State"] != "running", cs)
    env.update_spec(wid, runState="running")
    st = env.wait_phase(wid, "running", 60)
    check(st["port"] == port, "port changed across stop/start")
    env.wait_body(port, "hello from node")
    check(st.get("restartCount", 0) == 0, "a requested stop counted as a crash")


def test_crash_is_restarted_with_backoff(env):
    wid, _, st = running_node(env, "crash")
    port = st["port"]
    http_get(port, "/crash", timeout=2)
    st = env.wait(wid, lambda s: s.get("restartCount", 0) >= 1, 60, "restart count")
    check(st["lastExitCode"] == 7, st)
    ready = [c for c in st["conditions"] if c["type"] == "Ready"][0]
    check(ready["reason"] == "CrashLoopBackOff" or st["phase"] == "running", ready)
    env.wait_phase(wid, "running", 60)
    env.wait_body(port, "hello")
    # A second crash doubles the delay (2 s, then 4 s in this test's config).
    t0 = time.time()
    http_get(port, "/crash", timeout=2)
    st = env.wait(wid, lambda s: s.get("restartCount", 0) >= 2, 60, "second restart")
    check("restart 2 in 4s" in st["lastError"], st["lastError"])
    env.wait_phase(wid, "running", 60)
    check(time.time() - t0 >= 3.5, "second restart came before its backoff")
    check(len(containers(wid)) == 1, "crash restart duplicated the container")


def test_restart_marker_recreates_container(env):
    wid, _, st = running_node(env)
    old = containers(wid)[0]["Id"]
    env.update_spec(wid, restartedAt="2030-01-01T00:00:00Z")
    env.wait(wid, lambda s: s.get("phase") == "running" and s.get("containerId")
             and s["containerId"] != old, 120, "new container")
    env.wait(wid, lambda s: len(containers(wid)) == 1, 15, "old container removed")
    cs = containers(wid)
    check(len(cs) == 1 and cs[0]["Id"] != old, cs)


def test_delete_removes_everything(env):
    wid, _, st = running_node(env)
    doc = env.read_manifest(wid)
    doc["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    import yaml
    env.write_manifest(wid, yaml.safe_dump(doc))
    env.wait(wid, lambda s: not os.path.exists(env.spec_path(wid)), 60, "spec removed")
    check(not os.path.exists(env.status_path(wid)), "status file left")
    check(containers(wid) == [], "containers left")
    check(images(wid) == [], "images left")
    check(not os.path.exists(os.path.join(env.clones, wid)), "clone left")
    check(http_get(st["port"], timeout=2)[0] == 0, "port still answers")


def test_orphans_are_collected(env):
    wid, _, st = running_node(env)
    os.unlink(env.spec_path(wid))
    deadline = time.time() + 60

    def left():
        return [what for what, there in (
            ("containers", containers(wid)), ("images", images(wid)),
            ("status file", os.path.exists(env.status_path(wid))),
            ("clone", os.path.exists(os.path.join(env.clones, wid)))) if there]
    while time.time() < deadline and left():
        time.sleep(0.5)
    check(not left(), "orphans left: %s" % left())


if __name__ == "__main__":
    run([test_new_commit_is_served, test_stop_and_start,
         test_crash_is_restarted_with_backoff, test_restart_marker_recreates_container,
         test_delete_removes_everything, test_orphans_are_collected], "life")
