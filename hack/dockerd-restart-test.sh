#!/usr/bin/env bash
# hack/dockerd-restart-test.sh: restart the REAL dockerd under a running
# workletd, mid-build and with apps running, and check that every worklet
# recovers (tests/e2e/dockerd_restart.py).
#
#   hack/dockerd-restart-test.sh --yes
#
# It stops the shared dockerd (twice): every container on this machine
# stops with it unless dockerd runs with live-restore. Run it only when
# nobody else uses Docker; without --yes it only says so. The everyday
# tests use tests/e2e/docker_gate.py instead (test_docker_down).
set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$WL_REPO"

if [[ ${1:-} != --yes ]]; then
	echo "this restarts the machine's dockerd (twice); every container of" >&2
	echo "every user stops. Run it when nobody else uses Docker:" >&2
	echo "  $0 --yes" >&2
	exit 2
fi
hack/setup.sh
[[ -x build/workletd ]] || hack/build.sh -DWL_WERROR=ON
cd tests/e2e
exec /usr/bin/python3 dockerd_restart.py
