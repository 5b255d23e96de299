#!/usr/bin/env bash
# hack/fuzz.sh: build the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang
# in build-fuzz/ (ASan + UBSan + libFuzzer) and run each for a fixed time.
#
#   hack/fuzz.sh [--merge] [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGET names are the parts after
# "fuzz_" (yaml, json, validate, api, http1, docker_logs, agent_stream,
# detect); none means all. New inputs go to a scratch corpus,
# build-fuzz/corpus/<target>/, which later runs start from; the committed
# seeds in tests/fuzz/corpus/<target>/ are only read, unless --merge, which
# merges the scratch corpus into them afterwards (only inputs that add
# coverage). A crash is minimised and copied to
# tests/fuzz/regress/<target>/, which the CTest test fuzz_<target> replays:
# fix the bug, then commit both. Prints a table: target, runs, coverage,
# corpus size, crashes. Exits non-zero when a target crashed.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WL_REPO"

merge=0
if [[ "${1:-}" == "--merge" ]]; then
	merge=1
	shift
fi
seconds=60
if [[ "${1:-}" =~ ^[0-9]+$ ]]; then
	seconds=$1
	shift
fi
targets=("$@")
if ((${#targets[@]} == 0)); then
	for f in tests/fuzz/fuzz_*.c; do
		t=${f##*/fuzz_}
		targets+=("${t%.c}")
	done
fi

# The largest input each target is given (-max_len).
max_len() {
	case $1 in
	yaml | json | agent_stream | detect) echo 16384 ;;
	*) echo 4096 ;;
	esac
}

# Debian 12: clang 14 and its runtime (libFuzzer, the sanitizers).
if ! command -v clang >/dev/null ||
	! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
		>/dev/null 2>&1; then
	wl_log "installing clang and libclang-rt-14-dev"
	sudo=""
	((EUID == 0)) || sudo=sudo
	$sudo apt-get install -y --no-install-recommends clang \
		libclang-rt-14-dev >/dev/null
fi

wl_log "building the fuzz targets in build-fuzz/ (clang, -DWL_FUZZ=ON)"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DWL_FUZZ=ON \
	-DWL_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
build_targets=()
for t in "${targets[@]}"; do
	[[ -f "tests/fuzz/fuzz_$t.c" ]] || wl_die "no fuzz target '$t'"
	build_targets+=(--target "fuzz_$t")
done
cmake --build build-fuzz --parallel "$(nproc)" "${build_targets[@]}" \
	>/dev/null

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$WL_REPO/tests/lsan.supp:print_suppressions=0"

rows=()
failed=()
for t in "${targets[@]}"; do
	scratch=build-fuzz/corpus/$t
	artifacts=build-fuzz/artifacts/$t
	log=build-fuzz/fuzz_$t.log
	mkdir -p "$scratch" "$artifacts"
	args=(-max_total_time="$seconds" -max_len="$(max_len "$t")"
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1
		-artifact_prefix="$artifacts/")
	[[ -f "tests/fuzz/$t.dict" ]] && args+=(-dict="tests/fuzz/$t.dict")
	seeds=("tests/fuzz/corpus/$t")
	[[ -d "tests/fuzz/regress/$t" ]] && seeds+=("tests/fuzz/regress/$t")
	wl_log "fuzzing $t for ${seconds}s (log: $log)"
	status=0
	"build-fuzz/fuzz_$t" "${args[@]}" "$scratch" "${seeds[@]}" \
		>"$log" 2>&1 || status=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
		tail -1)
	cov=$({ grep -o 'cov: [0-9]*' "$log" || true; } | tail -1 |
		cut -d' ' -f2)
	crashes=0
	if ((status != 0)); then
		crash=$(ls -t "$artifacts"/{crash,leak,timeout,oom}-* 2>/dev/null |
			head -1 || true)
		crashes=1
		failed+=("$t")
		grep -E -m 5 "ERROR: |runtime error|fuzz check failed|SUMMARY" \
			"$log" >&2 || true
		if [[ -n "$crash" ]]; then
			min="$artifacts/min-${crash##*/}"
			"build-fuzz/fuzz_$t" -minimize_crash=1 -runs=20000 \
				-exact_artifact_path="$min" "$crash" \
				>"$log.min" 2>&1 || true
			[[ -f "$min" ]] || min=$crash
			mkdir -p "tests/fuzz/regress/$t"
			cp "$min" "tests/fuzz/regress/$t/${crash##*/}"
			wl_warn "$t: crash input (minimised) copied to" \
				"tests/fuzz/regress/$t/${crash##*/}"
		fi
	fi
	rows+=("$(printf '%-14s %12s %8s %8s %8s' "$t" "${runs:-?}" \
		"${cov:-?}" "$(find "$scratch" -type f | wc -l)" "$crashes")")
	if ((merge)); then
		"build-fuzz/fuzz_$t" -merge=1 -max_len="$(max_len "$t")" \
			"tests/fuzz/corpus/$t" "$scratch" >"$log.merge" 2>&1 ||
			wl_warn "$t: merge failed (see $log.merge)"
	fi
done

printf '\n%-14s %12s %8s %8s %8s\n' target runs cov corpus crashes
printf '%s\n' "${rows[@]}"
if ((${#failed[@]})); then
	wl_die "crashed: ${failed[*]} (inputs in tests/fuzz/regress/)"
fi
