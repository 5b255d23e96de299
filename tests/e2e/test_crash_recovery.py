"""kill -9 of workletd mid-build, then a restart, converges with no duplicate
or orphan container; a restart of a healthy controller adopts what runs."""

import glob
import os
import time

import yaml

from wltest import check, containers, docker, run


def test_kill9_mid_build_converges(env):
    ids = []
    before = {c["Id"] for c in docker("GET", "/containers/json?all=1")[1]}
    for fixture in ("go", "node", "python"):
        wid = env.new_id(fixture)
        repo = env.make_repo(fixture)
        # A fresh source file: the compile step cannot come from the cache,
        # so the kill lands while Docker is really building.
        env.commit_file(repo, "nonce-%s.txt" % wid, wid)
        env.apply(wid, repo)
        ids.append(wid)
    env.wait(ids[0], lambda s: s.get("phase") == "building", 120, "building")
    time.sleep(0.5)
    env.kill9()
    env.start()
    for wid in ids:
        env.wait_phase(wid, "running", 420)
    for wid in ids:
        cs = containers(wid)
        check(len(cs) == 1, "%s has %d containers" % (wid, len(cs)))
    # Nothing else was left behind either: no build containers of the
    # interrupted builds, no containers without our labels.
    # Other services' containers (other test runs share the daemon) carry
    # their own worklet.instance: not ours to judge. Their builds' short-lived
    # unlabelled step containers come and go: a stray is one still there a
    # few seconds later.
    ours = {c["Labels"].get("worklet.instance") for wid in ids for c in containers(wid)}

    def strays_now():
        return [c for c in docker("GET", "/containers/json?all=1")[1]
                if c["Id"] not in before
                and c["Labels"].get("worklet.id") not in ids
                and c["Labels"].get("worklet.instance") in ours | {None}]
    strays = strays_now()
    if strays:
        time.sleep(5)
        still = {c["Id"] for c in strays_now()}
        strays = [c for c in strays if c["Id"] in still]
    check(not strays, "stray containers: %s" % [(c["Names"], c["Image"]) for c in strays])
    for path in glob.glob(os.path.join(env.state, "*", "*.yaml")):
        with open(path) as f:
            yaml.safe_load(f)


def test_restart_adopts_running_containers(env):
    wid = env.new_id("static")
    env.apply(wid, env.make_repo("static"))
    st = env.wait_phase(wid, "running", 300)
    before = containers(wid)
    env.stop()
    env.start()
    time.sleep(5)  # a few resync periods of the new process
    after = containers(wid)
    check([c["Id"] for c in after] == [c["Id"] for c in before],
          "containers changed across a controller restart")
    st2 = env.status(wid)
    check(st2["phase"] == "running" and st2["port"] == st["port"], st2)


if __name__ == "__main__":
    run([test_kill9_mid_build_converges, test_restart_adopts_running_containers], "crash")
