#!/usr/bin/env bash
# hack/test.sh: install what is missing, build with -Werror, check C
# formatting, and run every test with CTest.
#
#   hack/test.sh [--sanitize] [CTEST_ARGS...]   e.g. -L unit, -R spec
#
# --sanitize: then run the same tests a second time under ASan, UBSan and
# LSan (hack/test-asan.sh, build-asan/); any sanitizer report fails. CI
# (.ci/run) does.
#
# Exits non-zero when anything fails; the formatting check and the tests
# both run, so one report shows both. CTEST_PARALLEL_LEVEL defaults to the
# number of cores plus one: end-to-end tests run side by side (they wait on
# Docker), except the few marked RUN_SERIAL in CMakeLists.txt.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WL_REPO"

sanitize=0
if [[ "${1:-}" == "--sanitize" ]]; then
	sanitize=1
	shift
fi

hack/setup.sh
# shellcheck source=hack/env.sh
source hack/env.sh

failed=()

wl_log "checking C formatting (clang-format $(clang-format --version |
	sed -n 's/.*version \([0-9.]*\).*/\1/p'))"
drift=()
while IFS= read -r f; do
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || drift+=("$f")
done < <(wl_c_files)
if ((${#drift[@]})); then
	for f in "${drift[@]}"; do
		echo "--- ${f#"$WL_REPO"/} differs from clang-format:"
		diff -u "$f" <(clang-format "$f") | tail -n +3 | head -n 30 || true
	done
	printf 'error: %d file(s) not formatted (run hack/format.sh):\n' \
		"${#drift[@]}" >&2
	printf '  %s\n' "${drift[@]#"$WL_REPO"/}" >&2
	failed+=(format)
fi

wl_log "building with -DWL_WERROR=ON"
hack/build.sh -DWL_WERROR=ON

# Real apps from the frameworks' scaffolders (tests/e2e/scaffold.py), made
# once and cached (WL_SCAFFOLD_CACHE); a cached kind takes milliseconds.
wl_log "scaffolding the real apps the tests use (cached)"
/usr/bin/python3 tests/e2e/scaffold.py --warm >/dev/null || failed+=(scaffold)

wl_log "running tests"
# One more than the cores: end-to-end tests mostly wait on Docker.
export CTEST_PARALLEL_LEVEL="${CTEST_PARALLEL_LEVEL:-$(($(nproc) + 1))}"
ctest --test-dir build --output-on-failure "$@" || failed+=(tests)

if ((sanitize)); then
	wl_log "running the tests again under ASan + UBSan + LSan"
	hack/test-asan.sh "$@" || failed+=(sanitizers)
fi

if ((${#failed[@]})); then
	wl_die "failed: ${failed[*]}"
fi
wl_log "all checks passed"
