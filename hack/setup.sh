#!/usr/bin/env bash
# hack/setup.sh: make this machine ready to build, run and test worklet.
#
#   hack/setup.sh [--rebuild-images]
#
# 1. installs the Debian packages the build and the tests need (only those
#    missing; apt-get update only when something must be installed);
# 2. starts dockerd in the background when nothing answers on the Docker
#    socket (there is no systemd on the development machines);
# 3. builds the local base images (worklet-local/*, see hack/base-images/)
#    when they are missing or their recipe changed, since no container
#    registry can be reached from here (Node.js 20, 22 and 24 are the
#    official builds, fetched from the npm registry at pinned versions);
# 4. installs the Claude Code CLI (npm, global) at the pinned version when
#    `claude --version` says anything else;
# 5. installs tests/browser/'s npm packages (playwright-core, for the
#    dashboard test in Debian's chromium) when its package-lock.json changed.
#
# Idempotent: on a machine where it already ran it takes well under a second.
# Concurrent runs wait for each other. It exports nothing; the image names
# live in hack/env.sh. Run it (sourcing it runs it in a child shell).

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
	bash "${BASH_SOURCE[0]}" "$@"
	return $?
fi

set -euo pipefail
# shellcheck source=hack/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PACKAGES=(
	build-essential cmake pkg-config git
	libwebsockets-dev libcurl4-openssl-dev libyaml-dev libcjson-dev
	libgit2-dev libarchive-dev libssl-dev
	docker.io debootstrap ca-certificates curl iproute2
	python3 python3-yaml python3-websockets clang-format
	chromium
	# tests/e2e/test_load.py (and hack/load-test.sh)
	wrk slowhttptest
	# tests/e2e/test_tls_proxy.py: the example site in manifests/nginx
	nginx openssl
)
# The Claude Code CLI the service runs and the e2e tests drive (against
# tests/e2e/scripted_claude.py): an exact version known to work with both.
CLAUDE_CODE_VERSION=2.1.331
DOCKERD_LOG=/var/log/worklet-dockerd.log
BASE_IMAGE=worklet-local/debian:bookworm
# image name, recipe under hack/base-images/, command that proves it works,
# build arguments (space-separated NAME=VALUE; part of the recipe's hash).
# Node.js 18 is Debian's; the others are the official builds of the exact
# versions named here (node-dist.Dockerfile fetches them from the npm
# registry with node:18's npm, so node:18 comes first), each with the npm
# of the line the official tarballs of that major ship (npm 10 up to Node
# 22, npm 11 for Node 24). Go 1.19 is bookworm's; 1.22 is the
# golang-1.22-go package of bookworm-backports (1.21 and 1.23 are there too), on the
# same mirror.
DERIVED_IMAGES=(
	"worklet-local/node:18|node.Dockerfile|node --version|"
	"worklet-local/node:20|node-dist.Dockerfile|node --version|NODE_VERSION=20.20.2 NPM_VERSION=10.9.9"
	"worklet-local/node:22|node-dist.Dockerfile|node --version|NODE_VERSION=22.23.5 NPM_VERSION=10.9.9"
	"worklet-local/node:24|node-dist.Dockerfile|node --version|NODE_VERSION=24.22.3 NPM_VERSION=11.21.3"
	"worklet-local/python:3|python.Dockerfile|python3 --version|"
	"worklet-local/go:1.19|go.Dockerfile|go version|"
	"worklet-local/go:1.22|go-backports.Dockerfile|go version|GO_VERSION=1.22"
	"worklet-local/nginx|nginx.Dockerfile|nginx -v|"
)
LABEL=worklet.recipe
RECIPES="$WL_REPO/hack/base-images"

usage() {
	sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

rebuild=0
for arg in "$@"; do
	case $arg in
	--rebuild-images) rebuild=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*) wl_die "unknown argument '$arg' (try --help)" ;;
	esac
done

if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null ||
		wl_die "setup installs packages and starts dockerd: run it as root"
	exec sudo -E bash "${BASH_SOURCE[0]}" "$@"
fi

# One setup at a time (hack/run.sh and hack/test.sh may start together).
# Children that outlive us (dockerd) must not inherit this descriptor.
exec 9>"${TMPDIR:-/tmp}/worklet-setup.lock"
flock 9

install_packages() {
	local -A have=()
	local missing=() name status pkg
	while read -r name status; do
		[[ $status == ii ]] && have[$name]=1
	done < <(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' \
		"${PACKAGES[@]}" 2>/dev/null || true)
	for pkg in "${PACKAGES[@]}"; do
		[[ -n ${have[$pkg]:-} ]] || missing+=("$pkg")
	done
	((${#missing[@]})) || return 0

	wl_log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=300 update -q
	apt-get -o DPkg::Lock::Timeout=300 install -y -q "${missing[@]}"
}

# `claude --version` prints "2.1.331 (Claude Code)"; npm, from the
# registry, only when that is not the pinned version. The package's
# postinstall puts the native binary in place of a stub, hence
# --allow-scripts (npm 11 warns that it will stop running unlisted ones).
install_claude_cli() {
	local have pkg=@anthropic-ai/claude-code
	have=$(claude --version 2>/dev/null || true)
	[[ ${have%% *} == "$CLAUDE_CODE_VERSION" ]] && return 0
	command -v npm >/dev/null ||
		wl_die "npm not found: install Node.js with npm to get the Claude Code CLI"
	wl_log "installing $pkg@$CLAUDE_CODE_VERSION with npm (found: ${have:-none})"
	npm install -g --no-audit --no-fund --loglevel=error \
		--allow-scripts="$pkg" "$pkg@$CLAUDE_CODE_VERSION" >&2 ||
		wl_die "npm install -g $pkg@$CLAUDE_CODE_VERSION failed"
	have=$(claude --version 2>/dev/null || true)
	[[ ${have%% *} == "$CLAUDE_CODE_VERSION" ]] ||
		wl_die "after installing $pkg@$CLAUDE_CODE_VERSION, 'claude --version' says '${have:-nothing}' ($(command -v claude || echo 'not on PATH'))"
	wl_log "claude: $have"
}

# tests/browser: `npm ci` from the committed lock file, only when the lock
# file changed since the last install (a stamp in node_modules says which).
install_browser_tests() {
	local dir="$WL_REPO/tests/browser" stamp sum
	stamp="$dir/node_modules/.worklet-lock.sha256"
	sum=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
	[[ -f $stamp && $(cat "$stamp") == "$sum" ]] && return 0
	command -v npm >/dev/null ||
		wl_die "npm not found: install Node.js with npm for the browser tests"
	wl_log "installing the browser tests' packages (tests/browser, npm ci)"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2) ||
		wl_die "npm ci in tests/browser failed"
	echo "$sum" >"$stamp"
}

docker_socket() {
	case ${DOCKER_HOST:-} in
	"") echo /var/run/docker.sock ;;
	unix://*) echo "${DOCKER_HOST#unix://}" ;;
	*) return 1 ;;
	esac
}

docker_ping() {
	[[ "$(curl -fsS --max-time 5 --unix-socket "$1" http://localhost/_ping \
		2>/dev/null)" == OK ]]
}

start_docker() {
	local sock pid="" i
	if ! sock=$(docker_socket); then
		wl_log "DOCKER_HOST=$DOCKER_HOST is not a local socket; not managing dockerd"
		return 0
	fi
	docker_ping "$sock" && return 0

	if pgrep -x dockerd >/dev/null; then
		wl_log "dockerd is running but $sock does not answer yet; waiting"
	else
		command -v dockerd >/dev/null || wl_die "dockerd not found (package docker.io)"
		[[ $sock == /var/run/docker.sock ]] ||
			wl_die "nothing answers on $sock (DOCKER_HOST); start that daemon yourself"
		wl_log "starting dockerd (log: $DOCKERD_LOG)"
		# Its own session, no terminal, none of our descriptors: it must
		# outlive this script and the CI job that ran it.
		setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
		pid=$!
	fi
	for ((i = 0; i < 120; i++)); do
		docker_ping "$sock" && return 0
		if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$DOCKERD_LOG" >&2 || true
			wl_die "dockerd exited during start-up; see $DOCKERD_LOG"
		fi
		sleep 0.5
	done
	[[ -f $DOCKERD_LOG ]] && tail -n 20 "$DOCKERD_LOG" >&2
	wl_die "dockerd did not answer on $sock within 60 s; see $DOCKERD_LOG"
}

# The docker client on PATH may be newer than the daemon (here: a 28.x
# client, Debian's 20.10 engine with API 1.41). It negotiates the version
# down by itself; if it cannot, pin the daemon's version, then fall back to
# the client that came with the engine.
DOCKER=docker
pick_docker_client() {
	local c api
	for c in docker /usr/bin/docker; do
		command -v "$c" >/dev/null || continue
		if "$c" version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; then
			DOCKER=$c
			return 0
		fi
	done
	api=$(curl -fsSI --max-time 5 --unix-socket "$(docker_socket || true)" \
		http://localhost/_ping 2>/dev/null |
		sed -n 's/^api-version: *\([0-9.]*\).*/\1/Ip' || true)
	if [[ -n $api ]]; then
		export DOCKER_API_VERSION=$api
		for c in docker /usr/bin/docker; do
			if "$c" version >/dev/null 2>&1; then
				DOCKER=$c
				return 0
			fi
		done
	fi
	wl_die "no docker client can talk to the daemon ($(docker version 2>&1 | tail -n 1))"
}

# Prints "<image id> <recipe label>" of an image, nothing if it is missing.
image_state() {
	"$DOCKER" image inspect \
		--format "{{.Id}} {{index .Config.Labels \"$LABEL\"}}" "$1" \
		2>/dev/null || true
}

# The host's Debian mirrors, so builds use what is known to be reachable.
# WORKLET_DEBIAN_MIRROR / WORKLET_DEBIAN_SECURITY_MIRROR override them.
host_mirrors() {
	local uris
	uris=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n'
	grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list \
		/etc/apt/sources.list.d/*.list 2>/dev/null |
		sed -E 's/\[[^]]*\]//' | awk '{print $2}') || true
	MIRROR=${WORKLET_DEBIAN_MIRROR:-$(grep -E '/debian/?$' <<<"$uris" |
		head -n 1 || true)}
	MIRROR=${MIRROR:-http://deb.debian.org/debian}
	MIRROR=${MIRROR%/}
	SECURITY_MIRROR=${WORKLET_DEBIAN_SECURITY_MIRROR:-$(grep -E \
		'/debian-security/?$' <<<"$uris" | head -n 1 || true)}
	SECURITY_MIRROR=${SECURITY_MIRROR:-${MIRROR}-security}
	SECURITY_MIRROR=${SECURITY_MIRROR%/}
}

# The CA certificates the host trusts beyond Debian's own set: an
# intercepting proxy's or a company's, appended to the system bundle.
host_extra_cas() {
	/usr/bin/python3 - <<'PY'
import glob, re
pem = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", re.S)
def certs(path):
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return pem.findall(f.read())
    except OSError:
        return []
known = {"".join(c.split())
         for p in glob.glob("/usr/share/ca-certificates/**/*.crt", recursive=True)
         for c in certs(p)}
for c in certs("/etc/ssl/certs/ca-certificates.crt"):
    if "".join(c.split()) not in known:
        print(c)
PY
}

verify_image() { # image command...
	local image=$1 out
	shift
	if ! out=$("$DOCKER" run --rm --network none "$image" "$@" 2>&1); then
		printf '%s\n' "$out" >&2
		"$DOCKER" rmi "$image" >/dev/null 2>&1 || true
		wl_die "$image is broken: '$*' failed; removed it"
	fi
	wl_log "$image: $* -> $out"
}

# npm install from the registry inside a build, through whatever TLS
# interception the host has, as the app's user (10001, HOME=/tmp) in a
# directory it owns: what generated Node Dockerfiles do.
verify_npm() { # image
	local image=$1 tag=worklet-local/selftest:npm out
	if ! out=$(printf '%s\n' \
		"FROM $image" \
		"RUN mkdir /t && chown 10001:10001 /t" \
		"USER 10001:10001" \
		"ENV HOME=/tmp" \
		"WORKDIR /t" \
		"RUN npm install --no-audit is-number && node -e \"process.exit(require('is-number')(5) ? 0 : 1)\"" |
		DOCKER_BUILDKIT=0 "$DOCKER" build --no-cache --force-rm -t "$tag" - 2>&1); then
		printf '%s\n' "$out" | tail -n 25 >&2
		"$DOCKER" rmi "$image" >/dev/null 2>&1 || true
		wl_die "npm install inside a build FROM $image failed (CA bundle?); removed the image"
	fi
	"$DOCKER" rmi "$tag" >/dev/null 2>&1 || true
	wl_log "$image: npm install from the registry works in builds"
}

# node, npm and npx run, and node is the version the recipe asked for.
verify_node() { # image [version]
	local image=$1 want=${2:-} out
	# shellcheck disable=SC2016 # expanded by the container's shell
	if ! out=$("$DOCKER" run --rm --network none "$image" sh -c \
		'echo "$(node --version) npm $(npm --version) npx $(npx --version)"' 2>&1) ||
		[[ -n $want && ${out%% *} != "v$want" ]]; then
		printf '%s\n' "$out" >&2
		"$DOCKER" rmi "$image" >/dev/null 2>&1 || true
		wl_die "$image is broken: expected node v${want:-*}, npm and npx; removed it"
	fi
	wl_log "$image: $out"
}

STALE_IDS=()

build_base_image() {
	local state hash tmp root cas
	host_mirrors
	cas=$(host_extra_cas)
	hash=$({
		cat "$RECIPES/debian.sh"
		printf '%s\n%s\n%s\n' "$MIRROR" "$SECURITY_MIRROR" "$cas"
	} | sha256sum | cut -c1-16)
	state=$(image_state "$BASE_IMAGE")
	if [[ $rebuild == 0 && -n $state && ${state#* } == "$hash" ]]; then
		return 0
	fi
	[[ -n $state ]] && STALE_IDS+=("${state%% *}")

	wl_log "building $BASE_IMAGE (debootstrap from $MIRROR)"
	local t0=$SECONDS
	tmp=$(mktemp -d /var/tmp/worklet-rootfs.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	root=$tmp/rootfs
	printf '%s\n' "$cas" >"$tmp/extra-cas.pem"
	if ! bash "$RECIPES/debian.sh" "$root" "$MIRROR" "$SECURITY_MIRROR" \
		"$tmp/extra-cas.pem" >"$tmp/debootstrap.log" 2>&1; then
		tail -n 30 "$tmp/debootstrap.log" >&2
		wl_die "debootstrap of $BASE_IMAGE failed"
	fi
	tar --numeric-owner -C "$root" -c . |
		"$DOCKER" import \
			--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'ENV LANG=C.UTF-8' \
			--change "LABEL $LABEL=$hash" \
			--change 'CMD ["/bin/bash"]' \
			- "$BASE_IMAGE" >/dev/null
	rm -rf "$tmp"
	trap - EXIT
	# shellcheck disable=SC2016 # expanded by the container's shell
	verify_image "$BASE_IMAGE" sh -c '. /etc/os-release && echo "$PRETTY_NAME"'
	wl_log "$BASE_IMAGE built in $((SECONDS - t0)) s"
}

build_derived_image() { # "name|recipe|check command|build args"
	local name recipe check args base_id hash state arg node_version=""
	local no_cache=() build_args=()
	IFS='|' read -r name recipe check args <<<"$1"
	for arg in $args; do
		build_args+=(--build-arg "$arg")
		[[ $arg == NODE_VERSION=* ]] && node_version=${arg#*=}
	done
	base_id=$(image_state "$BASE_IMAGE")
	base_id=${base_id%% *}
	hash=$({
		cat "$RECIPES/$recipe"
		echo "$base_id"
		# (nothing for images without arguments: their hash stays)
		[[ -z $args ]] || echo "$args"
	} | sha256sum | cut -c1-16)
	state=$(image_state "$name")
	if [[ $rebuild == 0 && -n $state && ${state#* } == "$hash" ]]; then
		return 0
	fi
	[[ -n $state ]] && STALE_IDS+=("${state%% *}")

	wl_log "building $name from hack/base-images/$recipe${args:+ ($args)}"
	local t0=$SECONDS
	# The legacy builder: this daemon has no BuildKit client (no buildx).
	# An empty context: the recipes copy nothing in.
	[[ $rebuild == 1 ]] && no_cache=(--no-cache)
	if ! DOCKER_BUILDKIT=0 "$DOCKER" build --force-rm "${no_cache[@]}" \
		"${build_args[@]}" --label "$LABEL=$hash" \
		-t "$name" - <"$RECIPES/$recipe" >"${TMPDIR:-/tmp}/worklet-image-build.log" 2>&1; then
		tail -n 30 "${TMPDIR:-/tmp}/worklet-image-build.log" >&2
		remove_fetch_stages
		wl_die "building $name failed"
	fi
	remove_fetch_stages
	case $name in
	worklet-local/node:*)
		verify_node "$name" "$node_version"
		verify_npm "$name"
		;;
	*)
		# shellcheck disable=SC2086 # the check is a plain word list
		verify_image "$name" $check
		;;
	esac
	wl_log "$name built in $((SECONDS - t0)) s"
}

# The classic builder keeps each earlier stage of a multi-stage build as an
# untagged image; node-dist.Dockerfile labels its download stage so that
# it can go (a Node.js binary and npm that the final image has copied).
remove_fetch_stages() {
	local ids
	ids=$("$DOCKER" images -q --filter dangling=true \
		--filter label=worklet.stage=node-dist-fetch 2>/dev/null || true)
	[[ -n $ids ]] || return 0
	# shellcheck disable=SC2086 # one id per word
	"$DOCKER" rmi $ids >/dev/null 2>&1 || true
}

build_images() {
	local spec i
	pick_docker_client
	build_base_image
	for spec in "${DERIVED_IMAGES[@]}"; do
		build_derived_image "$spec"
	done
	# Images replaced by a rebuild, when nothing uses them any more;
	# children before their parent.
	for ((i = ${#STALE_IDS[@]} - 1; i >= 0; i--)); do
		"$DOCKER" rmi "${STALE_IDS[i]}" >/dev/null 2>&1 || true
	done
}

install_packages
install_claude_cli
install_browser_tests
start_docker
build_images
