#!/usr/bin/env bash
# Benchmark: time from a prompt accepted (202) to its new content served
# through worklet's proxy, with the scripted Messages API server answering
# at once, split into agent, commit, build and rollout (from workletd's own
# log timestamps); compared in the same run with the same steps by hand:
# the bare CLI call, git commit, docker build, docker run, curl loop.
#
#   hack/bench-prompt.sh [rounds] [modes]   (default 5 and docker,host:
#   WORKLET_AGENT_SANDBOX values, each measured; prints medians and ratios)
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/env.sh
[ -x build/workletd ] || { echo "build first: hack/build.sh" >&2; exit 1; }
command -v claude >/dev/null || { echo "run hack/setup.sh first (installs claude)" >&2; exit 1; }
exec /usr/bin/python3 hack/bench_prompt.py "${1:-5}" ${2:+"$2"}
