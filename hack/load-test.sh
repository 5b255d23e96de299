#!/usr/bin/env bash
# Load and slowloris test of one workletd (issue 7).
#
#   hack/load-test.sh [SECONDS, default 180] [WATCHERS, default 300]
#
# Starts workletd (own state dir and ports, bearer tokens) with three
# worklets (node, static: served; a third one stopped and started every 10 s
# so that watchers get events), then for SECONDS at once: wrk on the API
# (list, get, status, with a token), wrk through the proxy (both apps),
# WATCHERS WebSocket watchers that reconnect every 5-15 s, and a probe.
# workletd's RSS and descriptor count are sampled every 2 s. Then two
# slowhttptest attacks on the API port (slow headers -H, slow body -B,
# 1000 connections each, 40 s) while a probe asks /healthz and the list
# every second. Prints the figures and PASS/FAIL against the bounds:
#   - no error: wrk non-2xx and socket errors 0, watcher connect errors and
#     drops 0, probes all 200 within 2 s;
#   - memory flat: RSS growth over the second half of the load < 10%;
#   - no descriptor leak: the count after the clients left within 8 of
#     the count before they came (after the attacks too);
#   - slowloris: every probe during both attacks a 200 within 2 s.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-180}
watchers=${2:-300}

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v slowhttptest >/dev/null || need+=(slowhttptest)
if ((${#need[@]})); then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; }
fi
/usr/bin/python3 -c 'import websockets' 2>/dev/null ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-websockets >/dev/null
source hack/env.sh
bin=build/workletd
[ -x "$bin" ] || { echo "build first: hack/build.sh" >&2; exit 1; }
# slowhttptest and the watchers need more than 1024 descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d /tmp/wl-load-XXXXXX)
api_port=${WL_LOAD_PORT:-47800}
pids=()
ids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for id in "${ids[@]}"; do
		docker ps -aq --filter "label=worklet.id=$id" | xargs -r docker rm -f >/dev/null
		docker images -q --filter "label=worklet.id=$id" | xargs -r docker rmi -f >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

token="tok-load-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
echo "$token load" >"$work/tokens"
chmod 600 "$work/tokens"
auth="Authorization: Bearer $token"
api=http://127.0.0.1:$api_port

for app in node static python; do
	cp -r "tests/fixtures/apps/$app" "$work/$app"
	git -C "$work/$app" init -q -b main
	git -C "$work/$app" add -A
	git -C "$work/$app" -c user.name=l -c user.email=l@example.com commit -qm init
done

WORKLET_STATE_DIR=$work/state WORKLET_BASE_DIR=$work/clones WORKLET_ALLOW_LOCAL_REPOS=1 \
	WORKLET_PORT_MIN=47810 WORKLET_PORT_MAX=47899 WORKLET_LISTEN=127.0.0.1:$api_port \
	WORKLET_TOKENS_FILE=$work/tokens WORKLET_TRUST_USER_HEADER=0 \
	WORKLET_LOG_LEVEL=warn "$bin" 2>"$work/workletd.log" &
wpid=$!
pids+=($wpid)
for _ in $(seq 100); do curl -fs "$api/healthz" >/dev/null && break; sleep 0.1; done

create() {
	curl -fs -X POST "$api/api/worklet/worklets" -H "$auth" \
		-H "Content-Type: application/json" -d "{\"git_repo\": \"$1\"}" |
		sed -n 's/.*"id":"\([^"]*\)".*/\1/p'
}
wait_phase() {
	local st
	for _ in $(seq 600); do
		st=$(curl -fs "$api/api/worklet/worklets/$1/status" -H "$auth")
		[[ $st == *"\"status\":\"$2\""* ]] && return 0
		sleep 0.5
	done
	echo "worklet $1 never reached $2: $st" >&2
	return 1
}
for app in node static python; do
	id=$(create "$work/$app")
	[ -n "$id" ] || { echo "cannot create the $app worklet" >&2; exit 1; }
	ids+=("$id")
done
for id in "${ids[@]}"; do wait_phase "$id" running; done
echo "worklets running: ${ids[*]}"

# Samples: seconds since start, RSS kB, descriptors.
sample() {
	local rss fds
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$wpid/status")
	fds=$(find "/proc/$wpid/fd" -mindepth 1 -maxdepth 1 | wc -l)
	echo "$rss $fds"
}
t0=$(date +%s)
(
	while kill -0 "$wpid" 2>/dev/null; do
		echo "$(($(date +%s) - t0)) $(sample)"
		sleep 2
	done
) >"$work/samples" &
pids+=($!)

cat >"$work/api.lua" <<'LUA'
local paths = {}
local i = 0
function init(args)
	for _, a in ipairs(args) do paths[#paths + 1] = a end
end
function request()
	i = i % #paths + 1
	return wrk.format("GET", paths[i])
end
LUA
api_paths=(/api/worklet/worklets)
for id in "${ids[@]}"; do
	api_paths+=("/api/worklet/worklets/$id" "/api/worklet/worklets/$id/status")
done
proxy_paths=("/api/worklet/worklets/${ids[0]}/proxy/" "/api/worklet/worklets/${ids[1]}/proxy/")

# Warm-up, then the baseline once the clients have left.
wrk -t1 -c4 -d3s -H "$auth" -s "$work/api.lua" "$api" -- "${api_paths[@]}" >/dev/null
wrk -t1 -c4 -d3s -H "$auth" -s "$work/api.lua" "$api" -- "${proxy_paths[@]}" >/dev/null
sleep 3
read -r rss0 fd0 < <(sample)
echo "baseline: RSS $rss0 kB, $fd0 descriptors"

# The load.
load_start=$(($(date +%s) - t0))
wrk -t1 -c16 -d"${duration}s" --timeout 5s -H "$auth" -s "$work/api.lua" "$api" \
	-- "${api_paths[@]}" >"$work/wrk-api" 2>&1 &
p_api=$!
wrk -t1 -c16 -d"${duration}s" --timeout 5s -H "$auth" -s "$work/api.lua" "$api" \
	-- "${proxy_paths[@]}" >"$work/wrk-proxy" 2>&1 &
p_proxy=$!
/usr/bin/python3 hack/load_clients.py watch "$api_port" "$token" "$duration" "$watchers" \
	"${ids[@]}" >"$work/watch.json" 2>"$work/watch.err" &
p_watch=$!
/usr/bin/python3 hack/load_clients.py probe "$api_port" "$token" "$duration" \
	>"$work/probe-load.json" &
p_probe=$!
(
	# Churn: the third worklet stopped and started, for events.
	end=$(($(date +%s) + duration - 10))
	while (($(date +%s) < end)); do
		curl -fs -o /dev/null -X POST -H "$auth" "$api/api/worklet/worklets/${ids[2]}/stop"
		sleep 5
		curl -fs -o /dev/null -X POST -H "$auth" "$api/api/worklet/worklets/${ids[2]}/start"
		sleep 5
	done
) &
p_churn=$!
wait $p_api $p_proxy $p_watch $p_probe $p_churn || true
load_end=$(($(date +%s) - t0))
wait_phase "${ids[2]}" running
# Idle connections to the apps stay pooled for 30 s (front.c POOL_IDLE_MS).
sleep 35
read -r rss1 fd1 < <(sample)

# wrk: "requests errors" (non-2xx and socket errors).
wrk_figures() {
	awk '/requests in/ { r = $1 }
		/Non-2xx/ { e += $NF }
		/Socket errors/ { gsub(",", ""); e += $4 + $6 + $8 + $10 }
		END { printf "%d %d\n", r, e }' "$1"
}
read -r api_req api_err < <(wrk_figures "$work/wrk-api")
read -r px_req px_err < <(wrk_figures "$work/wrk-proxy")

# Slowloris: slow headers, then slow bodies, each with a probe.
attack() {
	local mode=$1 name=$2
	shift 2
	/usr/bin/python3 hack/load_clients.py probe "$api_port" "$token" 50 \
		>"$work/probe-$name.json" &
	local pp=$!
	sleep 2
	slowhttptest "$mode" -c 1000 -r 200 -i 10 -l 40 -p 3 -x 24 "$@" \
		>"$work/slow-$name.out" 2>&1 || true
	wait $pp
}
attack -H headers -t GET -u "$api/healthz"
attack -B body -t POST -s 8192 -u "$api/api/worklet/worklets"
sleep 25 # the head timeout (20 s) closes what the attackers left
read -r rss2 fd2 < <(sample)
kill -0 "$wpid" || { echo "FAIL: workletd died" >&2; exit 1; }

/usr/bin/python3 - "$work" "$duration" "$watchers" "$load_start" "$load_end" \
	"$api_req" "$api_err" "$px_req" "$px_err" "$rss0" "$fd0" "$rss1" "$fd1" "$rss2" "$fd2" <<'PY'
import json, sys
(work, duration, watchers, ls, le, api_req, api_err, px_req, px_err,
 rss0, fd0, rss1, fd1, rss2, fd2) = sys.argv[1:]
ls, le = int(ls), int(le)
samples = [tuple(map(int, l.split())) for l in open(work + "/samples") if len(l.split()) == 3]
load = [s for s in samples if ls <= s[0] <= le]
half = [s for s in load if s[0] >= (ls + le) / 2]
rss_peak = max(s[1] for s in load)
fd_peak = max(s[2] for s in load)
# Least squares slope of RSS over the second half, kB per minute.
n = len(half)
mx = sum(s[0] for s in half) / n
my = sum(s[1] for s in half) / n
slope = sum((s[0] - mx) * (s[1] - my) for s in half) / max(1e-9, sum((s[0] - mx) ** 2 for s in half)) * 60
growth = (half[-1][1] - half[0][1]) / half[0][1] * 100
w = json.load(open(work + "/watch.json"))
pl = json.load(open(work + "/probe-load.json"))
ph = json.load(open(work + "/probe-headers.json"))
pb = json.load(open(work + "/probe-body.json"))
checks = []
def check(ok, what):
    checks.append(ok)
    print("%s  %s" % ("PASS" if ok else "FAIL", what))
print("load: %s s; %s watchers" % (duration, watchers))
def wrk_errors(name):
    # The lines that say which errors, when there were any.
    return " ".join(l.strip() for l in open(work + "/" + name)
                    if l.lstrip().startswith(("Non-2xx", "Socket errors")))
print("  API   (wrk -c16): %s requests, %s errors %s" % (api_req, api_err, wrk_errors("wrk-api")))
print("  proxy (wrk -c16): %s requests, %s errors %s" % (px_req, px_err, wrk_errors("wrk-proxy")))
print("  watchers: %d connects, %d connect errors, %d dropped, %d messages %s"
      % (w["connects"], w["connect_errors"], w["dropped"], w["messages"], w["errors"] or ""))
print("  probe during load: %d probes, %d failures, p50 %s ms, max %s ms %s"
      % (pl["probes"], pl["failures"], pl["p50_ms"], pl["max_ms"], pl["errors"] or ""))
print("  RSS kB: start %s, peak %d, end of load %d, after clients left %s; "
      "second half %+.1f%% (slope %+.0f kB/min)" % (rss0, rss_peak, load[-1][1], rss1, growth, slope))
step = max(1, len(load) // 12)
print("  RSS over the load (s: kB): " +
      ", ".join("%d: %d" % (s[0] - ls, s[1]) for s in load[::step] + [load[-1]]))
print("  descriptors: start %s, peak %d, after clients left %s, after the attacks %s"
      % (fd0, fd_peak, fd1, fd2))
for name, p in (("slow headers (-H)", ph), ("slow body (-B)", pb)):
    print("slowloris %s, 1000 connections, 40 s: %d probes, %d failures, p50 %s ms, max %s ms %s"
          % (name, p["probes"], p["failures"], p["p50_ms"], p["max_ms"], p["errors"] or ""))
check(int(api_err) == 0 and int(px_err) == 0 and int(api_req) > 0 and int(px_req) > 0,
      "wrk: no errors")
check(w["connect_errors"] == 0 and w["dropped"] == 0 and w["connects"] >= int(watchers),
      "watchers: no errors")
check(pl["failures"] == 0, "probes during the load: all 200 within 2 s")
check(growth < 10, "RSS growth over the second half < 10%")
check(abs(int(fd1) - int(fd0)) <= 8, "descriptors back to the baseline after the load (+-8)")
check(abs(int(fd2) - int(fd0)) <= 8, "descriptors back to the baseline after the attacks (+-8)")
check(ph["failures"] == 0 and pb["failures"] == 0,
      "slowloris: every probe a 200 within 2 s during both attacks")
print("RESULT: %s" % ("PASS" if all(checks) else "FAIL"))
sys.exit(0 if all(checks) else 1)
PY
