# shellcheck shell=bash
# What make demo and make demo-seed1 share (sourced by hack/demo.sh and
# hack/demo-seed1.sh): the demo's data dir, its loopback registry, its server,
# and printing each step as a user types it.
#
# Environment (the e2e tests set these; users need not):
#   DEMO_DATA_DIR     the server's data dir (/var/lib/fargo-demo)
#   DEMO_REGISTRY     loopback address of the image registry (127.0.0.1:5000)
#   DEMO_SERVER_ARGS  more `fargo server` flags (ports, say)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
data=${DEMO_DATA_DIR:-/var/lib/fargo-demo}
registry=${DEMO_REGISTRY:-127.0.0.1:5000}
work=$data/demo # the demo's own files: manifests, logs, pids
export PATH=$root/bin:$PATH
export KUBECONFIG=$data/kubeconfig.yaml
started=$(date +%s)

# stop kills the process in pidfile $1, if it runs, and waits for it.
stop() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 0
	if kill "$pid" 2>/dev/null; then
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -f "$1"
}

# demo_down stops the demo's registry and server and uninstalls (every fargo on
# this host, as fargo uninstall does), deleting the data dir.
demo_down() {
	stop "$work/registry.pid"
	stop "$work/server.pid"
	exec "$root/bin/fargo" uninstall --data-dir "$data"
}

# demo_begin refuses to run twice, or without root.
demo_begin() {
	if [[ $(id -u) -ne 0 ]]; then
		echo "demo: run as root (the cluster's sandboxes need network namespaces and cgroups)" >&2
		exit 1
	fi
	if [[ -s $work/server.pid ]] && kill -0 "$(cat "$work/server.pid")" 2>/dev/null; then
		echo "demo: a demo cluster is already running (server pid $(cat "$work/server.pid"), data in $data); make demo-down removes it" >&2
		exit 1
	fi
	mkdir -p "$work"
}

# step prints a command as a user types it, runs it, and shows its output.
step() {
	printf '\n$ %s\n' "$*"
	"$@"
}

# waitfor runs its command until it succeeds, for up to $1 seconds.
waitfor() {
	local limit=$1
	shift
	for _ in $(seq $((limit * 2))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "demo: timed out after ${limit}s waiting for: $*" >&2
	return 1
}

# serve_images builds the images named (bin/images-tool --only) and serves them
# on $registry as <registry>/fargo/<name>:1, in the background.
serve_images() {
	local only
	only=$(
		IFS=,
		echo "$*"
	)
	echo "== serving the demo images ($only) on $registry"
	stop "$work/registry.pid"
	nohup "$root/bin/images-tool" --only "$only" --out "$root/bin/images" --cache "$root/bin/image-cache" --serve "$registry" >"$work/registry.log" 2>&1 &
	echo $! >"$work/registry.pid"
	if ! waitfor 300 grep -q "registry serving" "$work/registry.log"; then
		cat "$work/registry.log" >&2
		exit 1
	fi
}

# start_server runs fargo server with the data dir, its arguments and
# DEMO_SERVER_ARGS in the background, and prints its start-up once it is ready.
start_server() {
	# shellcheck disable=SC2086 # DEMO_SERVER_ARGS is a list of flags
	nohup "$root/bin/fargo" server --data-dir "$data" "$@" ${DEMO_SERVER_ARGS:-} >"$work/server.log" 2>&1 &
	echo $! >"$work/server.pid"
	for _ in $(seq 240); do
		grep -q "^fargo is ready" "$work/server.log" && break
		if ! kill -0 "$(cat "$work/server.pid")" 2>/dev/null; then
			cat "$work/server.log" >&2
			echo "demo: the server stopped (above); make demo-down cleans up" >&2
			exit 1
		fi
		sleep 0.5
	done
	grep -v "^next\|^  " "$work/server.log"
}

# demo_end says how long it took and what is left running.
demo_end() {
	printf '\ndemo: done in %ds. The cluster keeps running: export KUBECONFIG=%s and explore; make demo-down removes it.\n' \
		$(($(date +%s) - started)) "$KUBECONFIG"
}
