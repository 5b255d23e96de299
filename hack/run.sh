#!/usr/bin/env bash
# hack/run.sh: install what is missing, build, and start workletd in the
# foreground.
#
#   hack/run.sh [WORKLETD_ARGS...]
#
# Environment: hack/env.sh supplies the base image names and
# WORKLET_STATE_DIR defaults to .state/ in the repository; any WORKLET_*
# variable already set is kept.
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WL_REPO"

hack/setup.sh
hack/build.sh
# shellcheck source=hack/env.sh
source hack/env.sh
export WORKLET_STATE_DIR="${WORKLET_STATE_DIR:-$WL_REPO/.state}"
mkdir -p "$WORKLET_STATE_DIR"
exec build/workletd "$@"
