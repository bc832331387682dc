#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# make deb-test: the packages of make deb installed as a user installs them, into a fresh root
# of this machine's release (mmdebstrap), and used there: apt resolves their dependencies
# from the archive, the seed's API snippet (tests/deb/seed_api.c) and a libvmbus program are
# built with pkg-config against the -dev packages, and the snippet runs against the
# installed emulator. The root's base (apt, gcc, libc6-dev, pkg-config) is cached as a
# tarball keyed by what it holds (WINAPI_DEB_CACHE, default /var/cache/winapi-deb); each run
# unpacks a new copy. Needs root (a chroot, with mounts in a namespace of its own).
# Usage: scripts/deb-test.sh DEB-DIR
# Exit status: 0 passed, 1 a check failed, 2 setup error.
set -euo pipefail

say() { echo "deb-test: $*"; }
die() {
	echo "deb-test: error: $*" >&2
	exit 2
}

[ $# -eq 1 ] || { echo "usage: $0 DEB-DIR (make deb writes it)" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
deb_dir=$(cd "$1" && pwd) || die "no directory '$1' (make deb builds the packages)"
[ "$(id -u)" -eq 0 ] || die "needs root (mmdebstrap and chroot)"
packages="liblowlat1 liblowlat-dev libvmbus0 libvmbus-dev winapi-pmd winapi-tools"
debs=()
for package in $packages; do
	found=$(ls "$deb_dir/${package}_"*.deb 2> /dev/null | head -n 1)
	[ -n "$found" ] || die "no ${package}_*.deb in $deb_dir (make deb builds it)"
	debs+=("$found")
done
"$here/scripts/install-deps.sh" deb

# shellcheck source=/dev/null
. /etc/os-release
release=${VERSION_CODENAME:?/etc/os-release names no release}
cache=${WINAPI_DEB_CACHE:-/var/cache/winapi-deb}
base=$("$here/scripts/mmdebstrap-base.sh" "$cache" root "$release" apt gcc,libc6-dev,pkg-config) ||
	die "no base root (above); check the network"

work=$(mktemp -d /var/tmp/winapi-deb-test.XXXXXX)
root=$work/root
cleanup() {
	# The mounts live in the namespace of the unshare below and went with it.
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT
mkdir -p "$root"
tar -xf "$base" -C "$root"
mkdir -p "$root/tmp/debs" "$root/tmp/src"
cp "${debs[@]}" "$root/tmp/debs/"
cp "$here/tests/deb/seed_api.c" "$here/tests/deb/vmbus_sdk.c" "$root/tmp/src/"
cp "$here/tests/deb/in-root.sh" "$root/tmp/in-root.sh"
say "installing $packages into a fresh $release root"

# A private mount namespace: /proc, /sys, /dev and a /dev/shm of the root's own (the emulator's
# shared memory) exist for the chroot only, and vanish with it.
if unshare --mount --propagation private -- /bin/sh -c '
	root=$1
	mount -t proc proc "$root/proc" &&
	mount -t sysfs -o ro sysfs "$root/sys" &&
	mount --rbind /dev "$root/dev" &&
	mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm" &&
	mount -t tmpfs -o mode=0755 tmpfs "$root/run" &&
	cp /etc/resolv.conf "$root/etc/resolv.conf" &&
	exec timeout 900 chroot "$root" /bin/sh /tmp/in-root.sh' deb-test "$root"; then
	say "PASS"
else
	say "FAIL (above)"
	exit 1
fi
