#!/usr/bin/env bash
# hack/format.sh: format every C source and header in place with
# clang-format (the style is .clang-format at the repository root).
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WL_REPO"

command -v clang-format >/dev/null ||
	wl_die "clang-format not found (hack/setup.sh installs it)"
n=0
while IFS= read -r f; do
	clang-format -i "$f"
	n=$((n + 1))
done < <(wl_c_files)
wl_log "formatted $n file(s)"
