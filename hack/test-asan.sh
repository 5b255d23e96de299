#!/usr/bin/env bash
# hack/test-asan.sh: build with AddressSanitizer + UndefinedBehaviorSanitizer
# (and LeakSanitizer) in build-asan/ and run every test there, unit,
# fuzz-corpus replay and end-to-end (the e2e tests drive the sanitized
# workletd). Any sanitizer report fails the run: the first report stops
# the process (halt_on_error; UBSan is built with
# -fno-sanitize-recover=all), so a unit test or replay exits non-zero, and
# the e2e harness (tests/e2e/wltest.py) stops workletd with SIGTERM after
# each test (LSan runs at exit) and fails the test when workletd's output
# holds a report. The realapps tests are left out (see below).
# tests/lsan.supp lists the leaks inside system libraries
# that are not ours. hack/test.sh --sanitize runs this after the normal
# pass (CI does).
#
#   hack/test-asan.sh [CTEST_ARGS...]
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WL_REPO"

hack/setup.sh
# shellcheck source=hack/env.sh
source hack/env.sh
cmake -S . -B build-asan -DWL_SANITIZE=ON -DWL_WERROR=ON >/dev/null
make -C build-asan -j"$(nproc)" >/dev/null
# Reports go to each process's stderr: CTest's output for unit tests,
# workletd's log for e2e tests (where the harness looks for them).
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$WL_REPO/tests/lsan.supp:print_suppressions=0"
# One more than the cores: end-to-end tests mostly wait on Docker.
export CTEST_PARALLEL_LEVEL="${CTEST_PARALLEL_LEVEL:-$(($(nproc) + 1))}"
start=$(date +%s)
status=0
# The real apps' builds (label realapps) exercise the same C paths as the
# fixtures at many times the cost: the normal pass runs them.
ctest --test-dir build-asan --output-on-failure -LE realapps "$@" || status=1
wl_log "sanitizer pass: $(($(date +%s) - start)) s of tests"
exit $status
