#!/bin/sh
# Cross-builds jansson for the Windows build of the host service (Debian packages no mingw-w64
# jansson). The source is Debian's own, of the version installed here (libjansson-dev), fetched
# with apt-get source through a private deb-src list: apt checks it against the archive's signed
# Sources index, so nothing unverified is compiled. Nothing of it is committed to this tree.
# Usage: scripts/build-jansson-mingw.sh OUTPUT_DIR   (installs to OUTPUT_DIR/{include,lib})
set -eu

output=$1
if [ -f "$output/lib/libjansson.a" ] && [ -f "$output/include/jansson.h" ]; then
	exit 0
fi
version=$(dpkg-query -W -f='${Version}' libjansson-dev)
work=$(mktemp -d "${TMPDIR:-/tmp}/jansson-mingw.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# The mirror and suite this machine installs from.
. /etc/os-release
mirror=$(apt-get indextargets --format '$(REPO_URI)' 2>/dev/null | grep -m1 '^http' || true)
mirror=${mirror:-http://deb.debian.org/debian/}
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
echo "deb-src $mirror $VERSION_CODENAME main" >"$work/sources.list"
apt_private() {
	apt-get -q -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
		-o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" \
		-o APT::Sandbox::User=root "$@"
}
apt_private update >/dev/null
(cd "$work/src" && apt_private source --download-only "jansson=$version" >/dev/null)
tarball=$(ls "$work"/src/jansson_*.orig.tar.*)
tar -xf "$tarball" -C "$work/src"
source_dir=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'jansson-*')

cat >"$work/toolchain.cmake" <<TOOLCHAIN
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
TOOLCHAIN
cmake -S "$source_dir" -B "$work/build" -DCMAKE_TOOLCHAIN_FILE="$work/toolchain.cmake" \
	-DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$output" -DJANSSON_BUILD_DOCS=OFF \
	-DJANSSON_WITHOUT_TESTS=ON -DJANSSON_EXAMPLES=OFF -DJANSSON_BUILD_SHARED_LIBS=OFF >"$work/cmake.log" ||
	{ cat "$work/cmake.log" >&2; exit 1; }
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$work/build" -j2 install >"$work/make.log" || { tail -40 "$work/make.log" >&2; exit 1; }
echo "build-jansson-mingw: jansson $version for mingw-w64 in $output"
