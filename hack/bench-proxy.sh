#!/usr/bin/env bash
# Benchmark the reverse proxy. In one run, against the same upstream
# container (the Node fixture): wrk on (a) the container's published port,
# (b) nginx as a reverse proxy with keepalive to the upstream, (c) worklet's
# proxy (path form, X-User-ID), (d) worklet's proxy on the app's own origin
# (host form, signed in by the preview link's session cookie, what a
# browser sends). Prints requests/s and p50/p99 latency of each and the
# ratios c/a, c/b (goal: c/b >= 1.0, added p99 under 1 ms) and d/c (goal:
# >= 1.0, no regression against the path form). Then 1,000 WebSocket status
# watchers: the time for one phase change to reach all of them.
#
#   hack/bench-proxy.sh [seconds per run, default 10] [watchers, default 1000]
#                       [rounds, default 1]
#
# With rounds > 1 the three targets are measured in turn that many times and
# each figure is the median: on a small shared machine one run of each can
# differ by a fifth from the next.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-10}
watchers=${2:-1000}
rounds=${3:-1}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
if ((${#need[@]})); then
	# No service starts at install time: nginx runs only under this script.
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; }
	rm -f /usr/sbin/policy-rc.d
fi
source hack/env.sh
bin=build/workletd
[ -x "$bin" ] || { echo "build first: hack/build.sh" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d /tmp/wl-bench-proxy-XXXXXX)
api_port=47400 nginx_port=47401
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [ -n "${id:-}" ]; then
		docker ps -aq --filter "label=worklet.id=$id" | xargs -r docker rm -f >/dev/null
		docker images -q --filter "label=worklet.id=$id" | xargs -r docker rmi -f >/dev/null 2>&1 || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

cp -r tests/fixtures/apps/node "$work/src"
git -C "$work/src" init -q -b main
git -C "$work/src" add -A
git -C "$work/src" -c user.name=b -c user.email=b@example.com commit -qm init

WORKLET_STATE_DIR=$work/state WORKLET_BASE_DIR=$work/clones WORKLET_ALLOW_LOCAL_REPOS=1 \
	WORKLET_PORT_MIN=47500 WORKLET_PORT_MAX=47599 WORKLET_LISTEN=127.0.0.1:$api_port \
	WORKLET_LOG_LEVEL=warn "$bin" 2>"$work/workletd.log" &
pids+=($!)
api=http://127.0.0.1:$api_port
for _ in $(seq 100); do curl -fs "$api/healthz" >/dev/null && break; sleep 0.1; done
id=$(curl -fs -X POST "$api/api/worklet/worklets" -H "X-User-ID: bench" \
	-H "Content-Type: application/json" -d "{\"git_repo\": \"$work/src\"}" |
	sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
for _ in $(seq 600); do
	st=$(curl -fs "$api/api/worklet/worklets/$id/status" -H "X-User-ID: bench")
	[[ $st == *'"status":"running"'* ]] && break
	sleep 0.5
done
port=$(grep -o "\"port\":[0-9]*" <<<"$st" | head -1 | cut -d: -f2)
[ -n "$port" ] || { echo "worklet never ran: $st" >&2; exit 1; }

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 4096; }
http {
	access_log off;
	upstream app { server 127.0.0.1:$port; keepalive 64; }
	server {
		listen 127.0.0.1:$nginx_port;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
NGINX
nginx -c "$work/nginx.conf" -p "$work" &
pids+=($!)
sleep 0.5

# One wrk run: prints "rps p50_ms p99_ms".
measure() {
	wrk -t2 -c32 -d"${duration}s" --latency "$@" 2>/dev/null | awk '
		function ms(v) {
			if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0;
			if (v ~ /s$/) return v * 1000; return v }
		/Requests\/sec/ { rps = $2 }
		/^ +50%/ { p50 = ms($2) }
		/^ +99%/ { p99 = ms($2) }
		END { printf "%.0f %.3f %.3f\n", rps, p50, p99 }'
}
curl -fs "http://127.0.0.1:$port/" >/dev/null
# The browser's way in: the preview link sets the app host's cookie.
app_host=$id.worklet.localhost:$api_port
link=$(curl -fs -X POST "$api/api/worklet/worklets/$id/preview" -H "X-User-ID: bench" |
	sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
cookie=$(curl -fs -o /dev/null -D - -H "Host: $app_host" "http://127.0.0.1:$api_port${link#*"$app_host"}" |
	sed -n 's/^set-cookie: \(wl_session=[^;]*\);.*/\1/Ip')
[ -n "$cookie" ] || { echo "the preview link set no cookie ($link)" >&2; exit 1; }
curl -fs -o /dev/null -H "Host: $app_host" -H "Cookie: $cookie" "http://127.0.0.1:$api_port/" ||
	{ echo "the session cookie does not admit the app's host" >&2; exit 1; }
for ((r = 0; r < rounds; r++)); do
	measure "http://127.0.0.1:$port/" >>"$work/a"
	measure "http://127.0.0.1:$nginx_port/" >>"$work/b"
	measure -H "X-User-ID: bench" "$api/api/worklet/worklets/$id/proxy/" >>"$work/c"
	measure -H "Host: $app_host" -H "Cookie: $cookie" "http://127.0.0.1:$api_port/" >>"$work/d"
done
# The median of each column over the rounds.
median() { for col in 1 2 3; do cut -d' ' -f$col "$1" | sort -g | awk '{v[NR] = $1}
	END { printf "%s ", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; done; echo; }
read -r a_rps a_p50 a_p99 < <(median "$work/a")
read -r b_rps b_p50 b_p99 < <(median "$work/b")
read -r c_rps c_p50 c_p99 < <(median "$work/c")
read -r d_rps d_p50 d_p99 < <(median "$work/d")
printf '%-28s %10s %9s %9s\n' target req/s p50_ms p99_ms
printf '%-28s %10s %9s %9s\n' "(a) container direct" "$a_rps" "$a_p50" "$a_p99"
printf '%-28s %10s %9s %9s\n' "(b) nginx keepalive proxy" "$b_rps" "$b_p50" "$b_p99"
printf '%-28s %10s %9s %9s\n' "(c) worklet proxy, path" "$c_rps" "$c_p50" "$c_p99"
printf '%-28s %10s %9s %9s\n' "(d) worklet proxy, host" "$d_rps" "$d_p50" "$d_p99"
awk -v a="$a_rps" -v b="$b_rps" -v c="$c_rps" -v d="$d_rps" -v ap="$a_p99" -v cp="$c_p99" \
	-v dp="$d_p99" 'BEGIN {
	printf "ratio c/a %.2f   ratio c/b %.2f (goal >= 1.0)   added p99 %.3f ms (goal < 1 ms)\n",
		c / a, c / b, cp - ap
	printf "host form with cookie: ratio d/c %.2f (goal >= 1.0)   p99 d-c %+.3f ms\n",
		d / c, dp - cp }'

# 1,000 watchers; one phase change (stop) must reach every one of them.
/usr/bin/python3 - "$api_port" "$id" "$watchers" <<'PY'
import asyncio, json, sys, time, urllib.request
import websockets
port, wid, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
url = "ws://127.0.0.1:%d/api/worklet/worklets/%s/watch" % (port, wid)
async def main():
    socks = []
    for i in range(0, n, 100):
        socks += await asyncio.gather(*[websockets.connect(
            url, extra_headers={"X-User-ID": "bench"}, max_queue=None) for _ in range(min(100, n - i))])
    await asyncio.gather(*[ws.recv() for ws in socks])  # hello
    async def wait_stop(ws):
        while True:
            ev = json.loads(await ws.recv())
            if ev.get("type") == "phase" and ev.get("phase") == "stopped":
                return time.time()
    waiters = [asyncio.create_task(wait_stop(ws)) for ws in socks]
    req = urllib.request.Request("http://127.0.0.1:%d/api/worklet/worklets/%s/stop" % (port, wid),
                                 method="POST", headers={"X-User-ID": "bench"})
    await asyncio.get_running_loop().run_in_executor(None, urllib.request.urlopen, req)
    times = await asyncio.wait_for(asyncio.gather(*waiters), 120)
    first, last = min(times), max(times)
    print("%d watchers: the 'stopped' event reached all of them within %.1f ms "
          "of the first (%.1f ms spread)" % (len(socks), (last - first) * 1000, (last - first) * 1000))
    await asyncio.gather(*[ws.close() for ws in socks])
asyncio.run(main())
PY
