"""Crash injection in CI: one kill -9 run per flow (create, prompt, pull
request, delete, mixed) plus a second create, with fixed seeds, through the
same harness as hack/crash-test.sh (tests/e2e/crash_inject.py): after each
restart everything converges, one container per worklet, no orphans, no
prompt lost or stuck, one PR, every state file parses, no temp file."""

import sys

import crash_inject

# (seed, flow): the seeds pick the kill point (a delay or a log line).
RUNS = [(101, "create"), (102, "prompt"), (103, "pr"), (104, "delete"),
        (105, "mix"), (106, "create")]


def main():
    passed = failed = 0
    try:
        for seed, flow in RUNS:
            r = crash_inject.Run(seed, flow)
            ok, msg, secs = r.execute()
            where = "at %r" % r.marker if r.marker else "after %.2fs" % r.delay
            if ok:
                passed += 1
                print("ok   %s seed %d, killed %s (%.1fs)" % (flow, seed, where, secs), flush=True)
            else:
                failed += 1
                print("FAIL %s seed %d, killed %s (%.1fs)\n%s" % (flow, seed, where, secs, msg),
                      flush=True)
    finally:
        crash_inject.stop_servers()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
