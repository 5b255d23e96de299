#!/usr/bin/env bash
# hack/crash-test.sh: crash injection against the real service and Docker.
#
#   hack/crash-test.sh [RUNS] [crash_inject.py options]
#       RUNS defaults to 50; e.g. hack/crash-test.sh 1 --seed 4203 --flow pr
#
# Each run starts a private workletd, drives a create, prompt, pull-request,
# delete or mixed flow (round robin over the seeds), kill -9s it after a
# random delay, restarts it and checks that everything converges: one
# container per worklet, no orphans, no prompt lost or stuck, one PR, every
# state file parses, no temp file left (tests/e2e/crash_inject.py). Prints a
# summary with the seed of every failure; exits non-zero if any run failed.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WL_REPO"

runs=50
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
	runs=$1
	shift
fi
hack/setup.sh
[[ -x build/workletd ]] || hack/build.sh -DWL_WERROR=ON
cd tests/e2e
exec /usr/bin/python3 crash_inject.py --runs "$runs" "$@"
