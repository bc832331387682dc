#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# A Debian root as a tarball, made by mmdebstrap once and cached by what it holds: the release,
# the variant, the packages, the extra mmdebstrap options and mmdebstrap's version. Prints the
# tarball's path; a caller unpacks a fresh copy of it each run. Used by scripts/deb-test.sh
# (the root the packages are installed into) and tests/vm/run.sh (the boot case's L2).
# Usage: scripts/mmdebstrap-base.sh CACHE-DIR NAME RELEASE VARIANT PACKAGES [MMDEBSTRAP-OPTION...]
#   PACKAGES is comma-separated, as --include takes it. Older tarballs of NAME are removed.
# Exit status: 0, 1 when mmdebstrap failed (the end of its log on stderr), 2 usage.
set -euo pipefail

[ $# -ge 5 ] || { echo "usage: $0 CACHE-DIR NAME RELEASE VARIANT PACKAGES [MMDEBSTRAP-OPTION...]" >&2; exit 2; }
cache=$1 name=$2 release=$3 variant=$4 packages=$5
shift 5

key=$(printf '%s\n' "$release" "$variant" "$packages" "$@" "$(mmdebstrap --version)" | sha256sum | cut -c1-16)
base=$cache/$name-$key.tar
# mmdebstrap picks its output format by the name: a tarball must end in .tar.
partial=$cache/partial-$name-$key.tar
mkdir -p "$cache"
if [ ! -s "$base" ]; then
	echo "mmdebstrap-base: building $name ($release, $variant: $packages); cached in $base" >&2
	# The machine's own Acquire settings (a proxy, an archive snapshot's dates) hold in the
	# root too: mmdebstrap writes them into its apt.conf.d. The suite alone gives the
	# release's main, -updates and -security from deb.debian.org; stdin is /dev/null, so no
	# mirror is read from it.
	aptopts=()
	for conf in /etc/apt/apt.conf.d/*; do
		grep -qs '^[[:space:]]*Acquire::' "$conf" && aptopts+=(--aptopt="$conf")
	done
	log=$cache/$name-mmdebstrap.log
	if ! mmdebstrap --quiet --variant="$variant" "${aptopts[@]}" "$@" --include="$packages" \
		"$release" "$partial" < /dev/null > "$log" 2>&1; then
		tail -n 30 "$log" >&2
		rm -f "$partial"
		echo "mmdebstrap-base: mmdebstrap failed (log: $log); check the network" >&2
		exit 1
	fi
	mv "$partial" "$base"
	find "$cache" -maxdepth 1 -name "$name-*.tar" ! -name "$(basename "$base")" -delete
fi
echo "$base"
