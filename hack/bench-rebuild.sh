#!/usr/bin/env bash
# Benchmark: a rebuild after a one-line source change against the cold
# build of the same app, through worklet, measured in the same run, for a
# scaffolded Next.js app (next-app: its rebuild starts from the previous
# image's .next/cache) and a Vite app (vite-react: nothing to keep; the
# dependency layer alone is reused). Apps come from tests/e2e/scaffold.py.
# Build times are workletd's own, from its log: "building" to "built" of
# each image (context, docker build; not the git poll or the rollout).
#
#   hack/bench-rebuild.sh [rebuilds] [kinds]
#     rebuilds: one-line changes built after the cold build (default 3;
#               the median is compared)
#     kinds:    scaffold kinds, comma-separated (default next-app,vite-react)
#   WORKLETD=path   another workletd binary (to measure an older version)
#
# Goal: every rebuild median at most 0.40 of its cold build.
set -euo pipefail
cd "$(dirname "$0")/.."
rebuilds=${1:-3}
kinds=${2:-next-app,vite-react}

source hack/env.sh
bin=${WORKLETD:-build/workletd}
[ -x "$bin" ] || { echo "build first: hack/build.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/wl-bench-rebuild-XXXXXX)
daemon_pid=
cleanup() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
	for id in $(ls "$work/state/specs" 2>/dev/null | sed 's/\.yaml$//'); do
		docker ps -aq --filter "label=worklet.id=$id" | xargs -r docker rm -f >/dev/null
		docker images -aq --filter "label=worklet.id=$id" | sort -u |
			xargs -r docker rmi -f >/dev/null 2>&1 || true
	done
	# workletd's networks (the build network, the user's): this
	# instance's label is a hash of the state directory (config.c).
	inst=$(printf %s "$(realpath "$work/state" 2>/dev/null)" | sha256sum | cut -c1-12)
	docker network ls -q --filter "label=worklet.instance=$inst" |
		xargs -r docker network rm >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

git_q() { git -c user.name=b -c user.email=b@example.com "$@" >/dev/null 2>&1; }
status_of() { # id field
	sed -n "s/^  $2: \"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" "$work/state/status/$1.yaml" 2>/dev/null || true
}
die() {
	echo "bench-rebuild: $*" >&2
	echo "---- workletd log (last 40 lines) ----" >&2
	tail -40 "$work/workletd.log" >&2
	exit 1
}
# Wait until the worklet runs an image other than $2 (or any image).
wait_image() { # id old-image
	local id=$1 old=${2:-} img phase
	for _ in $(seq 1 12000); do # 20 min
		img=$(status_of "$id" imageId)
		phase=$(status_of "$id" phase)
		if [ -n "$img" ] && [ "$img" != "$old" ] && [ "$phase" = running ]; then
			echo "$img"
			return 0
		fi
		[ "$phase" = error ] && die "$id: $(status_of "$id" lastError)"
		sleep 0.1
	done
	die "$id: no new image running after 20 minutes"
}
# Seconds between the last "building" and the "built" after it, from
# workletd's log (ISO-8601 UTC timestamps with milliseconds).
build_seconds() { # id
	python3 - "$work/workletd.log" "$1" <<'PY'
import sys
from datetime import datetime
path, wid = sys.argv[1], sys.argv[2]
start = end = None
for line in open(path, errors="replace"):
    if "worklet '%s': building " % wid in line:
        start, end = line.split()[0], None
    elif "worklet '%s': built " % wid in line and start:
        end = line.split()[0]
if not (start and end):
    sys.exit("no complete build of %s in the log" % wid)
t = lambda s: datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ")
print("%.1f" % (t(end) - t(start)).total_seconds())
PY
}
# What the framework said about its own compile step, from the build log.
compiled() { # id
	grep -ao "Compiled successfully in [0-9.]*m\{0,1\}s\|built in [0-9.]*m\{0,1\}s" \
		"$(status_of "$1" buildLogs)" 2>/dev/null | tail -1 || true
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%.1f", NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

mkdir -p "$work/state/specs" "$work/repos"
WORKLET_STATE_DIR=$work/state WORKLET_BASE_DIR=$work/clones WORKLET_ALLOW_LOCAL_REPOS=1 \
	WORKLET_PORT_MIN=47400 WORKLET_PORT_MAX=47499 WORKLET_LISTEN=127.0.0.1:47310 \
	WORKLET_GIT_POLL_SECONDS=1 WORKLET_BUILD_TIMEOUT_SECONDS=1200 \
	WORKLET_HEALTH_TIMEOUT_SECONDS=120 WORKLET_LOG_LEVEL=info \
	"$bin" 2>"$work/workletd.log" &
daemon_pid=$!
sleep 0.5
kill -0 "$daemon_pid" 2>/dev/null || die "workletd did not start"

fail=0
results=()
for kind in ${kinds//,/ }; do
	repo=$work/repos/$kind
	/usr/bin/python3 tests/e2e/scaffold.py "$kind" "$repo" >/dev/null ||
		die "scaffold.py $kind failed"
	case $kind in
	next-*) page=app/page.tsx ;;
	vite-*) page=src/App.tsx ;;
	*) page=$(git -C "$repo" ls-files | grep -m1 -E '\.(tsx|jsx|vue|js)$') ;;
	esac
	id=rb-${kind//[^a-z0-9]/-}-$RANDOM
	cat >"$work/state/specs/$id.yaml.tmp" <<YAML
apiVersion: worklet.dev/v1
kind: Worklet
metadata: { name: $id, generation: 1 }
spec: { gitRepo: "file://$repo" }
YAML
	mv "$work/state/specs/$id.yaml.tmp" "$work/state/specs/$id.yaml"
	img=$(wait_image "$id")
	cold=$(build_seconds "$id")
	cold_said=$(compiled "$id")
	echo "$kind: cold build $cold s  (${cold_said:-framework said nothing})"

	times=()
	for round in $(seq 1 "$rebuilds"); do
		# One line of the page changes, as a prompt's commit would.
		echo "// rebuild round $round $(date +%N)" >>"$repo/$page"
		git_q -C "$repo" commit -am "round $round"
		img=$(wait_image "$id" "$img")
		t=$(build_seconds "$id")
		times+=("$t")
		reused=no
		grep -q "^Step [0-9/]* : COPY --chown=[^ ]* --from=sha256:[0-9a-f]* /app/.next " "$(status_of "$id" buildLogs)" && reused=yes
		echo "$kind: rebuild $round $t s  ($(compiled "$id"); previous build cache: $reused)"
	done
	m=$(printf '%s\n' "${times[@]}" | median)
	r=$(ratio "$m" "$cold")
	ok=$(awk -v r="$r" 'BEGIN {print (r <= 0.40) ? "ok" : "ABOVE GOAL"}')
	[ "$ok" = ok ] || fail=1
	results+=("$(printf '%-11s cold %6.1f s   rebuild (median of %d) %6.1f s   ratio %s  (goal <= 0.40: %s)' \
		"$kind" "$cold" "$rebuilds" "$m" "$r" "$ok")")
done

echo
printf '%s\n' "${results[@]}"
exit "$fail"
