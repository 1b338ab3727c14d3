#!/usr/bin/env bash
# Builds the micro-VM guest into bin/microvm (make guest): Debian's generic
# amd64 kernel (its cloud flavour lacks 9p), fetched with apt-get download
# into bin/microvm/cache (no internet: the Debian mirror), extracted, and an
# initramfs of its modules, runc and bin/fargo-guest.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bin/microvm
cache=$out/cache
mkdir -p "$cache"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
if [[ -z "$pkg" ]]; then
	echo "guest: apt-cache knows no linux-image-amd64; run apt-get update" >&2
	exit 1
fi
deb=$(ls "$cache"/"${pkg}"_*.deb 2>/dev/null | head -n1 || true)
if [[ -z "$deb" ]]; then
	echo "guest: downloading $pkg"
	(cd "$cache" && apt-get download -q "$pkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
	deb=$(ls "$cache"/"${pkg}"_*.deb 2>/dev/null | head -n1 || true)
	[[ -n "$deb" ]] || { echo "guest: apt-get download $pkg failed" >&2; exit 1; }
fi
tree=$cache/${pkg}
if [[ ! -d "$tree/boot" ]]; then
	rm -rf "$tree.tmp" && mkdir -p "$tree.tmp"
	dpkg-deb -x "$deb" "$tree.tmp"
	mv "$tree.tmp" "$tree"
fi
${GO:-go} run ./hack/guestimage --kernel-tree "$tree" --init bin/fargo-guest --out "$out"
