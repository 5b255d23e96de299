"""Two worklet services sharing one Docker daemon leave each other's
containers and images alone: each lists, adopts and garbage-collects only
what carries its own worklet.instance label. (Before the label, each one's
orphan collection killed the other's apps: exit code 143 in a loop.)"""

import time

from wltest import Env, check, containers, images, run


def test_two_services_share_a_daemon(env):
    # A port block of its own, next to the first service's.
    lo = int(env.settings["WORKLET_PORT_MIN"]) + 100
    other = Env("other", WORKLET_PORT_MIN=lo, WORKLET_PORT_MAX=lo + 99)
    other.start()
    other.wait_api()
    try:
        a = env.new_id("mine")
        env.apply(a, env.make_repo("static"))
        b = other.new_id("theirs")
        other.apply(b, other.make_repo("static"))
        env.wait_phase(a, "running", 300)
        other.wait_phase(b, "running", 300)
        before = {w: [c["Id"] for c in containers(w)] for w in (a, b)}
        check(all(len(ids) == 1 for ids in before.values()), before)
        time.sleep(7)  # several resync and garbage-collection passes of both
        after = {w: [c["Id"] for c in containers(w)] for w in (a, b)}
        check(after == before, "containers changed: %s -> %s" % (before, after))
        for e, w in ((env, a), (other, b)):
            st = e.status(w)
            check(st["phase"] == "running" and st.get("restartCount", 0) == 0, st)
            check(images(w), "image of %s collected by the other service" % w)
            labels = containers(w)[0]["Labels"]
            check(labels.get("worklet.instance"), labels)
        check(containers(a)[0]["Labels"]["worklet.instance"] !=
              containers(b)[0]["Labels"]["worklet.instance"], "same instance label")
    finally:
        other.cleanup()


if __name__ == "__main__":
    run([test_two_services_share_a_daemon], "instances")
