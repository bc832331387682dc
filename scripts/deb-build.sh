#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# make deb: the Debian packages of this tree (debian/), built as a user would build them
# (dpkg-buildpackage -us -uc -b) from a copy of the tree, then checked by lintian: an error
# fails the build. The .debs and the .changes land in OUT.
# Usage: scripts/deb-build.sh OUT
set -eu
[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh" deb

out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(dpkg-parsechangelog -l "$here/debian/changelog" -S Version)
source=$(dpkg-parsechangelog -l "$here/debian/changelog" -S Source)
tree=$out/src/$source-$version
rm -rf "$out/src" "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mkdir -p "$tree"
# The working tree as it is (uncommitted changes included), without its build outputs.
(cd "$here" && tar --exclude=./.git --exclude=./build -cf - .) | tar -xf - -C "$tree"

echo "deb: dpkg-buildpackage -us -uc -b in $tree"
(cd "$tree" && dpkg-buildpackage -us -uc -b -j"$(nproc)") > "$out/build.log" 2>&1 || {
	tail -n 40 "$out/build.log" >&2
	echo "deb: dpkg-buildpackage failed (whole log: $out/build.log)" >&2
	exit 1
}
mv "$out/src/"*.deb "$out/src/"*.changes "$out/src/"*.buildinfo "$out/"
ls -1 "$out"/*.deb | sed 's|^|deb:   |'

echo "deb: lintian"
changes=$(ls "$out"/*.changes)
# Errors fail; warnings are printed for the log. Root: CI runs as root, which lintian allows.
if ! lintian --fail-on error --tag-display-limit 0 "$changes"; then
	echo "deb: lintian found errors in the packages (above)" >&2
	exit 1
fi
echo "deb: packages built and lintian-clean of errors in $out"
