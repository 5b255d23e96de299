#!/usr/bin/env bash
# hack/test-asan.sh: build with AddressSanitizer + UndefinedBehaviorSanitizer
# (and LeakSanitizer) in build-asan/ and run every test there, unit and
# end-to-end (the e2e tests drive the sanitized workletd). Any sanitizer
# report fails the run. tests/lsan.supp lists the leaks inside system
# libraries that are not ours.
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
reports=$(mktemp -d)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$reports/asan"
export UBSAN_OPTIONS="print_stacktrace=1:log_path=$reports/ubsan"
export LSAN_OPTIONS="suppressions=$WL_REPO/tests/lsan.supp:print_suppressions=0"
status=0
ctest --test-dir build-asan --output-on-failure "$@" || status=1
if grep -l -E "ERROR: |runtime error" "$reports"/* >/dev/null 2>&1; then
	cat "$reports"/* >&2
	wl_log "sanitizer reports above"
	status=1
fi
rm -rf "$reports"
exit $status
