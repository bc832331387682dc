#!/bin/bash
# Builds QEMU with the winapi VMBus device (drivers/host/qemu) and prints the path of its
# qemu-system-x86_64 on stdout. Progress and the reason for any failure go to stderr.
#
# Usage: scripts/build-qemu-winapi.sh [--check]
#   --check  only say whether a build for the current sources is cached (exit 0) or not (1)
#
# Source: Debian's QEMU 10.0.2 orig tarball from bookworm-backports (the QEMU `make vm-test`
# already runs), found through apt's signed Sources index and checked against the SHA-256 that
# index gives, which must also be the one pinned below. Then drivers/host/qemu/patches, then the
# device and the project's request handling (BSD-3-Clause) staged into hw/hyperv/winapi/.
# Configured for x86_64 under KVM only, with the features the nested test needs.
#
# Cache: $WINAPI_QEMU_CACHE (default /var/cache/winapi-qemu), kept between runs:
#   qemu-<key>/qemu-system-x86_64   finished builds, <key> = hash of everything that goes in
#   work/                           the last tree and build directory; reused when only the
#                                   staged device sources changed (a rebuild of seconds)
#   qemu_<version>.orig.tar.xz      the verified tarball
# Delete the directory to force a build from scratch.
set -euo pipefail

QEMU_UPSTREAM=10.0.2
QEMU_TARBALL=qemu_${QEMU_UPSTREAM}+ds.orig.tar.xz
QEMU_TARBALL_SHA256=0901da33844a331bf8b3602b9c1fbd178e60b737c8e3ade678255bd090c9b9f1
CONFIGURE_FLAGS=(--target-list=x86_64-softmmu --without-default-features --enable-kvm --disable-tcg
	--enable-hv-balloon --disable-download --disable-install-blobs --disable-docs --disable-werror)
# meson >= 1.5 and pycotap come from bookworm-backports; isa-l is the device's CRC32C.
BUILD_PACKAGES=(meson python3-pycotap ninja-build pkg-config python3-venv libglib2.0-dev libpixman-1-dev
	libfdt-dev libisal-dev flex bison xz-utils)

say() { echo "build-qemu-winapi: $*" >&2; }
die() {
	echo "build-qemu-winapi: error: $*" >&2
	exit 1
}

check_only=
case "${1:-}" in
--check) check_only=1 ;;
"") ;;
-h | --help)
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
	exit 0
	;;
*) die "unknown argument '$1' (usage: $0 [--check])" ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
device_dir=$root/drivers/host/qemu
cache=${WINAPI_QEMU_CACHE:-/var/cache/winapi-qemu}

# The project's BSD-3-Clause files built into the device, by their path in the project.
BSD_FILES=(drivers/host/answer.c drivers/host/dispatch.c drivers/host/registry.c drivers/host/events.c drivers/host/echo.c drivers/host/buffer_test.c
	drivers/host/perf_test.c drivers/host/host_private.h drivers/host/host_answer.h
	lib/winapi/protocol.c lib/winapi/crc32c.c lib/winapi/crc32c_sse42.c lib/winapi/crc32c_page.c lib/vmbus/gpa.c)

for f in "${BSD_FILES[@]}" drivers/host/qemu/winapi-vmbus.c drivers/host/qemu/meson.build; do
	[ -f "$root/$f" ] || die "$root/$f is missing (incomplete checkout?)"
done
patches=("$device_dir"/patches/*.patch)
[ -f "${patches[0]}" ] || die "no patches in $device_dir/patches"

# Keys: "base" covers what needs a fresh tree and configure; "full" adds the staged sources.
hash_files() { (cd "$root" && sha256sum "$@" | sha256sum | cut -c1-16); }
base_key=$({
	echo "$QEMU_TARBALL_SHA256 ${CONFIGURE_FLAGS[*]}"
	(cd "$root" && sha256sum drivers/host/qemu/patches/*.patch drivers/host/qemu/meson.build)
} | sha256sum | cut -c1-16)
# shellcheck disable=SC2046  # file names without spaces
full_key=$({
	echo "$base_key"
	hash_files drivers/host/qemu/winapi-vmbus.c "${BSD_FILES[@]}" $(cd "$root" && find include -type f | LC_ALL=C sort)
} | sha256sum | cut -c1-16)
product=$cache/qemu-$full_key/qemu-system-x86_64

if [ -x "$product" ]; then
	[ -n "$check_only" ] && exit 0
	say "cached: $product"
	echo "$product"
	exit 0
fi
[ -z "$check_only" ] || exit 1

mkdir -p "$cache" || die "cannot create the cache directory $cache (set WINAPI_QEMU_CACHE)"
exec 8> "$cache/.lock"
flock -w 1800 8 || die "another build holds $cache/.lock for more than 30 minutes"
if [ -x "$product" ]; then # built by the run we waited for
	echo "$product"
	exit 0
fi
start=$(date +%s)
elapsed() { echo "$(($(date +%s) - start))s"; }

# ---------------------------------------------------------------------------------------------
# Build packages

missing=()
for p in "${BUILD_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q "install ok installed" || missing+=("$p")
done
meson_ok() {
	local v
	v=$(meson --version 2> /dev/null) || return 1
	dpkg --compare-versions "$v" ge 1.5
}
if [ ${#missing[@]} -ne 0 ] || ! meson_ok; then
	[ "$(id -u)" -eq 0 ] || die "missing build packages (${missing[*]:-meson >= 1.5}); as root: apt-get install -t bookworm-backports ${BUILD_PACKAGES[*]}"
	grep -rqsE '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ ||
		die "QEMU 10 needs meson >= 1.5 from bookworm-backports, which apt does not know; add it (tests/vm/run.sh does)"
	say "installing ${missing[*]:-meson} (meson from bookworm-backports)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -t bookworm-backports \
		"${BUILD_PACKAGES[@]}" > "$cache/apt.log" 2>&1 ||
		{
			tail -n 20 "$cache/apt.log" >&2
			die "apt-get install of the build packages failed (log: $cache/apt.log)"
		}
	meson_ok || die "meson $(meson --version 2> /dev/null || echo none) is older than 1.5 (install it from bookworm-backports)"
fi

# ---------------------------------------------------------------------------------------------
# The verified tarball

# The SHA-256 apt's signed Sources index gives for the tarball, or nothing.
indexed_sha256() {
	local index
	for index in $(apt-get indextargets --format '$(FILENAME)' 'Created-By: Sources' 2> /dev/null); do
		/usr/lib/apt/apt-helper cat-file "$index" 2> /dev/null |
			awk -v file="$QEMU_TARBALL" 'BEGIN { RS = "" } /(^|\n)Package: qemu\n/ {
				n = split($0, lines, "\n"); in_sha = 0
				for (i = 1; i <= n; i++) {
					if (lines[i] ~ /^Checksums-Sha256:/) { in_sha = 1; continue }
					if (lines[i] !~ /^ /) in_sha = 0
					if (in_sha) { split(lines[i], f, " "); if (f[3] == file) { print f[1]; exit } }
				}
			}'
	done | head -n 1
}

# The mirror apt reads bookworm-backports from, or nothing.
backports_mirror() {
	apt-cache policy 2> /dev/null | awk '/bookworm-backports\/main/ { print $2; exit }'
}

# Adds a deb-src entry for bookworm-backports on the mirror apt already uses, and reads it.
add_source_index() {
	local uri
	[ "$(id -u)" -eq 0 ] || die "apt has no Sources index listing $QEMU_TARBALL; as root, add a deb-src line for bookworm-backports and run apt-get update"
	uri=$(backports_mirror)
	[ -n "$uri" ] || die "cannot find the bookworm-backports mirror in 'apt-cache policy'"
	say "adding deb-src for bookworm-backports ($uri) and reading its Sources index"
	cat > /etc/apt/sources.list.d/winapi-qemu-source.sources << EOF
Types: deb-src
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
	apt-get update -q -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/winapi-qemu-source.sources \
		-o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 > "$cache/apt.log" 2>&1 ||
		{
			tail -n 20 "$cache/apt.log" >&2
			die "apt-get update of the Sources index failed"
		}
}

tarball=$cache/$QEMU_TARBALL
if [ ! -f "$tarball" ] || [ "$(sha256sum "$tarball" | cut -d' ' -f1)" != "$QEMU_TARBALL_SHA256" ]; then
	rm -f "$tarball"
	sha=$(indexed_sha256)
	if [ -z "$sha" ]; then
		add_source_index
		sha=$(indexed_sha256)
	fi
	[ -n "$sha" ] || die "the Sources index of bookworm-backports does not list $QEMU_TARBALL (the archive moved on: update QEMU_UPSTREAM, the pinned SHA-256 and the patches)"
	[ "$sha" = "$QEMU_TARBALL_SHA256" ] || die "the Sources index gives SHA-256 $sha for $QEMU_TARBALL, not the pinned $QEMU_TARBALL_SHA256"
	uri=$(backports_mirror)
	uri=${uri:-http://deb.debian.org/debian}
	say "downloading $QEMU_TARBALL"
	# apt-helper checks the hash itself and keeps nothing that does not match.
	(cd "$cache" && /usr/lib/apt/apt-helper -o APT::Sandbox::User=root download-file \
		"${uri%/}/pool/main/q/qemu/$QEMU_TARBALL" "$tarball.part" "SHA256:$QEMU_TARBALL_SHA256" > "$cache/download.log" 2>&1) ||
		{
			tail -n 5 "$cache/download.log" >&2
			die "download of $QEMU_TARBALL failed or its SHA-256 did not match"
		}
	mv "$tarball.part" "$tarball"
fi

# ---------------------------------------------------------------------------------------------
# Tree, configure, build

work=$cache/work
tree=$work/qemu-$QEMU_UPSTREAM
build=$work/build
if [ "$(cat "$work/.base-key" 2> /dev/null || true)" != "$base_key" ] || [ ! -f "$build/build.ninja" ]; then
	rm -rf "$work"
	mkdir -p "$work"
	say "unpacking and patching QEMU $QEMU_UPSTREAM"
	tar -xf "$tarball" -C "$work" --no-same-owner || die "cannot unpack $tarball (disk full?)"
	[ -d "$tree" ] || die "$tarball did not unpack to $tree"
	for p in "${patches[@]}"; do
		patch -d "$tree" -p1 --batch --quiet < "$p" > "$work/patch.log" 2>&1 ||
			{
				cat "$work/patch.log" >&2
				die "patch $(basename "$p") does not apply to QEMU $QEMU_UPSTREAM"
			}
	done
	mkdir -p "$tree/hw/hyperv/winapi"
	cp "$device_dir/meson.build" "$device_dir/winapi-vmbus.c" "$tree/hw/hyperv/winapi/"
	mkdir -p "$tree/hw/hyperv/winapi/bsd"
	(cd "$root" && cp -r --parents include "${BSD_FILES[@]}" "$tree/hw/hyperv/winapi/bsd")
	mkdir -p "$build"
	say "configuring (${CONFIGURE_FLAGS[*]})"
	# Debian's python3: meson and pycotap are its packages, not a venv's.
	(cd "$build" && "$tree/configure" --python=/usr/bin/python3 "${CONFIGURE_FLAGS[@]}") > "$work/configure.log" 2>&1 ||
		{
			tail -n 30 "$work/configure.log" >&2
			die "configure failed (log: $work/configure.log)"
		}
	echo "$base_key" > "$work/.base-key"
else
	say "reusing the configured tree in $work; staging the device sources again"
	stage=$tree/hw/hyperv/winapi
	cp "$device_dir/winapi-vmbus.c" "$stage/"
	rm -rf "$stage/bsd"
	mkdir -p "$stage/bsd"
	(cd "$root" && cp -r --parents include "${BSD_FILES[@]}" "$stage/bsd")
fi

say "building qemu-system-x86_64 (a first build takes 5-6 minutes on 2 cores; log: $work/ninja.log)"
if ! ninja -C "$build" -j "$(nproc)" qemu-system-x86_64 > "$work/ninja.log" 2>&1; then
	grep -E "error|Error|FAILED" "$work/ninja.log" | head -n 30 >&2 || tail -n 30 "$work/ninja.log" >&2
	die "ninja failed (log: $work/ninja.log)"
fi
"$build/qemu-system-x86_64" -device help 2> /dev/null | grep -q '"winapi"' ||
	die "the build has no -device winapi (is CONFIG_WINAPI_VMBUS set? see $build/x86_64-softmmu-config-devices.mak)"

mkdir -p "$cache/qemu-$full_key"
cp "$build/qemu-system-x86_64" "$product.part"
mv "$product.part" "$product"
# Keep the newest two finished builds.
# shellcheck disable=SC2012  # names are ours
ls -1dt "$cache"/qemu-*/ 2> /dev/null | tail -n +3 | xargs -r rm -rf
say "built $product in $(elapsed)"
echo "$product"
