#!/usr/bin/env bash
# Installs what building and testing fargo needs on Debian 12, when it is missing.
# Idempotent and quiet when everything is present; run by `make deps`. Arguments
# name more packages to install with them.
set -euo pipefail

need_go="1.26"
# containerd, runc, CNI plugins and iproute2: the host agent's containerd runtime;
# qemu-system-x86: the microvm runtime; nftables (nft): the embedded kube-proxy's rules; awscli and curl: tests with the clients users bring; e2fsprogs and mount: the full-disk fault's loop-mounted filesystem; busybox-static and the libraries Debian's nginx links: the test and demo images; lxcfs: Fargate pods see their size in free -m and /proc/cpuinfo.
packages=(ca-certificates git make gcc libc6-dev procps iproute2 containerd runc containernetworking-plugins nftables busybox-static awscli curl e2fsprogs mount
	libpcre2-8-0 libssl3 zlib1g libcrypt1 lxcfs qemu-system-x86)
# Extra packages a target needs (make conformance: bind9-dnsutils and netcat-openbsd,
# dig and nc for its agnhost image).
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "deps: missing Debian packages: ${missing[*]}; install them (as root: apt-get install -y ${missing[*]})" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v go >/dev/null; then
	echo "deps: Go is not on PATH; install Go ${need_go} or newer from https://go.dev/dl (Debian 12's golang is too old)" >&2
	exit 1
fi
have=$(go env GOVERSION | sed 's/^go//')
if [[ "$(printf '%s\n%s\n' "$need_go" "$have" | sort -V | head -n1)" != "$need_go" ]]; then
	echo "deps: Go $have is too old; fargo needs Go ${need_go} or newer" >&2
	exit 1
fi
