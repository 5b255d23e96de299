"""Every project type, applied as a manifest, reaches running and serves its
page through the published port, with hardened, labelled containers."""

import os

from wltest import check, containers, docker, http_get, run

TYPES = [
    # fixture, detected type, expected body
    ("node", "node", "hello from node"),
    ("python", "python", "hello from python"),
    ("go", "go", "hello from go"),
    ("static", "static", "hello from static"),
    ("dockerfile", "dockerfile", "hello from dockerfile"),
]


def test_every_project_type_runs(env):
    ids = {}
    for fixture, _, _ in TYPES:
        wid = env.new_id(fixture)
        env.apply(wid, env.make_repo(fixture))
        ids[fixture] = wid
    ports = set()
    for fixture, kind, body in TYPES:
        wid = ids[fixture]
        st = env.wait_phase(wid, "running", timeout=420)
        port = st["port"]
        ports.add(port)
        check(st["webUrl"] == "http://%s.worklet.localhost:%d/" % (wid, env.api_port),
              st["webUrl"])
        check(st["detection"]["type"] == kind, st["detection"])
        check(st["detection"].get("evidence"), "no detection evidence")
        check(st["observedGeneration"] == 1, st)
        ready = [c for c in st["conditions"] if c["type"] == "Ready"][0]
        check(ready["status"] == "True", ready)
        code, text = http_get(port)
        check(code == 200 and body in text, "%s: %r" % (fixture, (code, text)))
        check(os.path.getsize(st["buildLogs"]) > 0, "empty build log")

        cs = containers(wid)
        check(len(cs) == 1, "%s: %d containers" % (fixture, len(cs)))
        _, info = docker("GET", "/containers/%s/json" % cs[0]["Id"])
        hc = info["HostConfig"]
        bindings = [b for v in hc["PortBindings"].values() for b in v]
        check(all(b["HostIp"] == "127.0.0.1" for b in bindings), bindings)
        check("no-new-privileges" in (hc.get("SecurityOpt") or []), hc)
        check(hc["Memory"] > 0 and hc["PidsLimit"] > 0 and hc["NanoCpus"] > 0, hc)
        check(not hc.get("Binds") and not info.get("Mounts"), "mounts present")
        check(hc["CapDrop"] == ["ALL"] or "ALL" in hc["CapDrop"], hc["CapDrop"])
        check(info["Config"]["Labels"]["worklet.id"] == wid, info["Config"]["Labels"])
        check("PORT=%d" % st["detection"]["port"] in info["Config"]["Env"],
              info["Config"]["Env"])
    check(len(ports) == len(TYPES), "ports collide: %s" % ports)


if __name__ == "__main__":
    run([test_every_project_type_runs], "types")
