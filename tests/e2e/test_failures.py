"""Failures are reported precisely and touch nothing else: a failing build,
an app bound to 127.0.0.1, invalid manifests (new and edited), hostile and
broken git URLs. Another worklet keeps serving throughout."""

import os

from wltest import check, containers, http_get, run


def cond(st, type_):
    return next((c for c in st.get("conditions", []) if c["type"] == type_), {})


def running_static(env):
    wid = env.new_id("static")
    env.apply(wid, env.make_repo("static"))
    st = env.wait_phase(wid, "running", 300)
    return wid, st["port"]


def test_build_failure_names_the_step(env):
    good, port = running_static(env)
    bad = env.new_id("broken")
    env.apply(bad, env.make_repo("broken"))
    st = env.wait_phase(bad, "error", 300)
    msg = st["lastError"]
    check("build failed at step" in msg and "RUN" in msg, msg)
    check(cond(st, "Built").get("reason") == "BuildFailed", st)
    check(containers(bad) == [], "a container was made for a failed build")
    with open(st["buildLogs"]) as f:
        check("Step" in f.read(), "build log lacks the build steps")
    code, body = http_get(port)
    check(code == 200 and "hello from static" in body, "other worklet disturbed")
    check(env.status(good)["phase"] == "running", "other worklet left running")


def test_app_bound_to_loopback_is_explained(env):
    wid = env.new_id("badbind")
    env.apply(wid, env.make_repo("badbind"))
    st = env.wait_phase(wid, "error", 300)
    check("127.0.0.1" in st["lastError"] and "0.0.0.0" in st["lastError"], st["lastError"])
    check(cond(st, "Ready").get("reason") == "HealthCheckTimeout", st)


def test_exit_at_start_and_wrong_port_are_explained(env):
    # The same fixture, started two wrong ways through spec.startCommand.
    crash = env.new_id("exits")
    env.apply(crash, env.make_repo("node", "exits"),
              startCommand="node -e console.error('boom-at-start');process.exit(4)")
    port = env.new_id("port")
    env.apply(port, env.make_repo("python", "port"),
              startCommand="python3 -m http.server 8081")
    st = env.wait_phase(crash, "error", 300)
    msg = st["lastError"]
    check("exited at start with code 4" in msg and "boom-at-start" in msg, msg)
    check(cond(st, "Ready").get("reason") == "ExitedAtStart", st)
    check(st.get("restartCount", 0) == 0, "a broken start was restarted in a loop")
    st = env.wait_phase(port, "error", 300)
    check("0.0.0.0:8081" in st["lastError"] and "not on port 3000" in st["lastError"],
          st["lastError"])


def test_invalid_new_manifest_is_reported(env):
    good, port = running_static(env)
    cases = {
        "bad-yaml": "apiVersion: worklet.dev/v1\nkind: Worklet\nspec: [\n",
        "bad-field": "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n  gitRep: x\n",
        "bad-url": "apiVersion: worklet.dev/v1\nkind: Worklet\nspec:\n  gitRepo: 'ext::sh -c touch% /tmp/wl-pwned'\n",
    }
    for wid, text in cases.items():
        env.ids.append(wid)
        env.write_manifest(wid, text)
    for wid in cases:
        st = env.wait_phase(wid, "error", 30)
        check(cond(st, "SpecValid").get("status") == "False", st)
        check(st["lastError"], st)
    check("gitRep" in env.status("bad-field")["lastError"], env.status("bad-field"))
    check("gitRepo" in env.status("bad-url")["lastError"], env.status("bad-url"))
    check(not os.path.exists("/tmp/wl-pwned"), "hostile URL ran a command")
    check(http_get(port)[0] == 200, "other worklet disturbed")


def test_edited_manifest_that_breaks_keeps_last_good(env):
    wid, port = running_static(env)
    with open(env.spec_path(wid)) as f:
        good_text = f.read()
    env.write_manifest(wid, good_text + "  containerPort: many\n")
    st = env.wait(wid, lambda s: cond(s, "SpecValid").get("status") == "False", 30,
                  "SpecValid=False")
    check(st["phase"] == "running", st)
    check("containerPort" in cond(st, "SpecValid")["message"], st)
    check(http_get(port)[0] == 200, "last good state not kept")
    env.write_manifest(wid, good_text)
    env.wait(wid, lambda s: cond(s, "SpecValid").get("status") == "True", 30,
             "SpecValid=True")
    check(http_get(port)[0] == 200, "fixed spec disturbed the app")


def test_missing_branch_and_repo(env):
    repo = env.make_repo("static")
    a = env.new_id("nobranch")
    env.apply(a, repo, branch="nope")
    b = env.new_id("norepo")
    env.apply(b, os.path.join(env.repos, "does-not-exist"))
    st = env.wait_phase(a, "error", 60)
    check("branch 'nope' not found" in st["lastError"], st["lastError"])
    st = env.wait_phase(b, "error", 60)
    check("not found" in st["lastError"], st["lastError"])
    # Once the cause is fixed, the worklet recovers on its own.
    env.update_spec(a, branch="main")
    env.wait_phase(a, "running", 300)


if __name__ == "__main__":
    run([test_build_failure_names_the_step, test_app_bound_to_loopback_is_explained,
         test_exit_at_start_and_wrong_port_are_explained,
         test_invalid_new_manifest_is_reported,
         test_edited_manifest_that_breaks_keeps_last_good, test_missing_branch_and_repo],
        "fail")
