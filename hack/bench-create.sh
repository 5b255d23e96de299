#!/usr/bin/env bash
# Benchmark: time from a manifest written to the first HTTP 200 of the Node
# fixture, against the same steps done by hand in this script (git clone,
# docker build, docker run, curl loop), measured in the same run with the
# same warm base image. Also the time of a source-change redeploy.
#
#   hack/bench-create.sh [rounds]     (default 3; prints medians and ratio)
set -euo pipefail
cd "$(dirname "$0")/.."
repo_root=$PWD
rounds=${1:-3}

source hack/env.sh
bin=build/workletd
[ -x "$bin" ] || { echo "build first: hack/build.sh" >&2; exit 1; }

work=$(mktemp -d /tmp/wl-bench-XXXXXX)
daemon_pid=
cleanup() {
	[ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
	docker ps -aq --filter label=wl-bench=1 | xargs -r docker rm -f >/dev/null
	docker ps -aq --filter "label=worklet.id" --filter "name=wl-bench" | xargs -r docker rm -f >/dev/null
	for id in $(ls "$work/state/specs" 2>/dev/null | sed 's/\.yaml$//'); do
		docker ps -aq --filter "label=worklet.id=$id" | xargs -r docker rm -f >/dev/null
		docker images -q --filter "label=worklet.id=$id" | xargs -r docker rmi -f >/dev/null 2>&1 || true
	done
	docker images -q wl-bench/manual | xargs -r docker rmi -f >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
git_q() { git -c user.name=b -c user.email=b@example.com "$@" >/dev/null 2>&1; }
wait_200() { # port [needle]
	local port=$1 needle=${2:-}
	for _ in $(seq 1 6000); do
		if body=$(curl -fs --max-time 1 "http://127.0.0.1:$port/" 2>/dev/null); then
			[ -z "$needle" ] || [[ $body == *"$needle"* ]] && return 0
		fi
		sleep 0.02
	done
	echo "port $port never answered" >&2
	return 1
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", a - b}'; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# A fixture repo; each round changes one source line so both paths rebuild
# the source layer and reuse the dependency layer, as a real redeploy does.
src=$work/src
cp -r tests/fixtures/apps/node "$src"
git_q -C "$src" init -b main && git_q -C "$src" add -A && git_q -C "$src" commit -m init
bump() { echo "// round $1 $(date +%N)" >>"$src/server.js"; git_q -C "$src" commit -am "round $1"; }

mkdir -p "$work/state/specs"
WORKLET_STATE_DIR=$work/state WORKLET_BASE_DIR=$work/clones WORKLET_ALLOW_LOCAL_REPOS=1 \
	WORKLET_PORT_MIN=47000 WORKLET_PORT_MAX=47099 WORKLET_LISTEN=127.0.0.1:47300 WORKLET_GIT_POLL_SECONDS=1 \
	WORKLET_LOG_LEVEL=warn "$bin" 2>"$work/workletd.log" &
daemon_pid=$!
sleep 0.5

manual_times=() worklet_times=()
for round in $(seq 1 "$rounds"); do
	bump "$round"
	# (b) by hand: the same Dockerfile shape worklet generates for Node.
	t0=$(now)
	rm -rf "$work/manual" && git_q clone -q "$src" "$work/manual"
	cat >"$work/manual/Dockerfile.bench" <<DF
FROM $WORKLET_IMAGE_NODE
WORKDIR /app
COPY package.json ./
RUN npm install --no-audit --no-fund
COPY . .
ENV PORT=3000 HOST=0.0.0.0
EXPOSE 3000
CMD ["npm", "start"]
DF
	DOCKER_BUILDKIT=0 docker build -q -f "$work/manual/Dockerfile.bench" -t wl-bench/manual "$work/manual" >/dev/null 2>&1
	cid=$(docker run -d --label wl-bench=1 -p 127.0.0.1:47200:3000 wl-bench/manual)
	wait_200 47200
	t1=$(now)
	docker rm -f "$cid" >/dev/null
	manual_times+=("$(sub "$t1" "$t0")")

	# (a) worklet: write the manifest, wait for the first 200.
	id=bench-$round-$RANDOM
	t0=$(now)
	cat >"$work/state/specs/$id.yaml.tmp" <<YAML
apiVersion: worklet.dev/v1
kind: Worklet
metadata: { name: $id, generation: 1 }
spec: { gitRepo: "file://$src" }
YAML
	mv "$work/state/specs/$id.yaml.tmp" "$work/state/specs/$id.yaml"
	port=
	for _ in $(seq 1 3000); do
		port=$(sed -n 's/^  port: \([0-9]*\)$/\1/p' "$work/state/status/$id.yaml" 2>/dev/null || true)
		[ -n "$port" ] && break
		sleep 0.01
	done
	wait_200 "$port"
	t1=$(now)
	worklet_times+=("$(sub "$t1" "$t0")")
	last_id=$id last_port=$port
done

# Source-change redeploy of the last worklet: commit, then wait for it.
echo "// redeploy" >>"$src/server.js"
sed -i 's/hello from node/hello after redeploy/' "$src/server.js"
git_q -C "$src" commit -am redeploy
t0=$(now)
wait_200 "$last_port" "hello after redeploy"
t1=$(now)
redeploy=$(sub "$t1" "$t0")

m=$(printf '%s\n' "${manual_times[@]}" | median)
w=$(printf '%s\n' "${worklet_times[@]}" | median)
printf 'by hand (clone+build+run+curl): %s s   (rounds: %s)\n' "$m" "${manual_times[*]}"
printf 'worklet (manifest -> HTTP 200): %s s   (rounds: %s)\n' "$w" "${worklet_times[*]}"
printf 'ratio worklet/by-hand: %s  (goal <= 1.2)\n' "$(awk -v a="$w" -v b="$m" 'BEGIN {printf "%.2f", a / b}')"
printf 'source-change redeploy (commit -> new content served, git poll 1 s): %s s\n' "$redeploy"
