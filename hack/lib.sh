# shellcheck shell=bash
# Helpers shared by the hack/ scripts. Source it; it defines functions and
# WL_REPO (the repository root) and changes nothing else.

WL_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

wl_log() { printf '==> %s\n' "$*" >&2; }
wl_warn() { printf 'warning: %s\n' "$*" >&2; }
wl_die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# The C sources and headers that clang-format owns. tests/fixtures holds
# sample projects (data, not our code) and is left out.
wl_c_files() {
	local d
	for d in controller apiserver specs tests; do
		[[ -d "$WL_REPO/$d" ]] || continue
		find "$WL_REPO/$d" -path "$WL_REPO/tests/fixtures" -prune -o \
			-type f \( -name '*.c' -o -name '*.h' \) -print
	done | LC_ALL=C sort
}
