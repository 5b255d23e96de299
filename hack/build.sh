#!/usr/bin/env bash
# hack/build.sh: configure and build worklet in build/.
#
#   hack/build.sh [CMAKE_ARGS...]      e.g. hack/build.sh -DWL_WERROR=ON
#
# Configures when build/ is new or arguments are given (CMake keeps options
# in its cache, so -DWL_WERROR=ON stays on until turned off), then builds
# with one job per core. A build with nothing to do takes about a second.
# Needs the packages hack/setup.sh installs.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WL_REPO"

if [[ ! -f build/CMakeCache.txt || $# -gt 0 ]]; then
	cmake -S . -B build "$@"
fi
cmake --build build --parallel "$(nproc)"
