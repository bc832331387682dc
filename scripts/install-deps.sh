#!/bin/sh
# Installs the Debian packages the build and the tests need, only when one is missing.
# Called by the Makefile before building; safe to run by hand (idempotent).
# Usage: scripts/install-deps.sh [--check] [wine] [deb]
#   --check  list what is missing, install nothing
#   wine     also Wine (Debian's wine64), which make wine-test runs the Windows build under
#   deb      also what make deb and make deb-test use: the packaging tools (debhelper,
#            dpkg-dev, fakeroot), lintian, and mmdebstrap for the fresh root
set -eu

# build-essential and pkg-config: the toolchain; the -dev packages: see README;
# busybox: tests/unit/vmbus_bind_test.sh also runs vmbus-bind under busybox ash, as the VM test does;
# libjansson-dev: the JSON of winapi-bench's socket baseline and of --json; gnuplot-nox: --plot.
# python3: runs DPDK's stock dpdk-telemetry.py against winapi-pmd in tests/e2e/pmd_e2e;
# clang: libFuzzer for make fuzz (tests/fuzz).
# gcc-mingw-w64-x86-64 (with binutils-mingw-w64-x86-64: objdump for the PE check) and cmake:
# the Windows build of the host service and of jansson (scripts/build-jansson-mingw.sh).
# systemd: systemd-analyze checks winapi-pmd's units (tests/unit/systemd_unit_test.sh).
# man-db and groff-base: man --warnings and groff -ww check the man pages (man_pages_test).
PACKAGES="build-essential pkg-config libnuma-dev liburcu-dev libcmocka-dev libisal-dev busybox
	libjansson-dev gnuplot-nox python3 clang gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 cmake
	systemd man-db groff-base"

check_only=false
for argument in "$@"; do
	case "$argument" in
	--check) check_only=true ;;
	wine) PACKAGES="$PACKAGES wine64" ;;
	deb) PACKAGES="$PACKAGES debhelper dpkg-dev fakeroot lintian mmdebstrap" ;;
	*) echo "install-deps: unknown argument '$argument' (--check, wine, deb)" >&2; exit 2 ;;
	esac
done

missing=""
for package in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $package"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi
if [ "$check_only" = true ]; then
	echo "missing packages:$missing"
	exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
	as_root=""
elif command -v sudo >/dev/null 2>&1; then
	as_root="sudo"
else
	echo "install-deps: need root (or sudo) to install:$missing" >&2
	exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Package lists on a fresh machine are often empty or stale: refresh once, then install.
$as_root apt-get update -q >/dev/null
# shellcheck disable=SC2086
$as_root apt-get install -y -q --no-install-recommends $missing >/dev/null
