#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The Windows build's own code, run under Wine (Debian's wine64): winapi-hostd.exe serves the
# wire on loopback TCP, and the Linux side calls it through liblowlat's hvsock transport.
#   - winapi-test --integration: echo, every buffer operation up to 64 MiB, performance runs;
#   - host_apis_e2e: host.time, host.info and host.file.* answered by the Win32 implementations
#     (drivers/host/system_windows.c, files_windows.c), checked against this machine, its clock
#     and two exported directories (Wine's Z: is /), hostile paths and links out included;
#   - winapi-hcs.exe without computecore.dll: its own message and exit status 1, no loader error;
# then the service is stopped by its PID, and Wine's server with it: nothing is left running.
#
# Usage: scripts/wine-test.sh [BIN_DIR [WINDOWS_DIR [TEST_DIR]]]   (make wine-test)
# The Wine prefix is made once per Wine version and kept in $WINAPI_WINE_CACHE (default
# /var/cache/winapi-wine); a new one takes about 10 s. Needs wine64 (scripts/install-deps.sh wine).
set -euo pipefail

bin=${1:-build/bin}
windows=${2:-build/windows}
tests=${3:-build/tests}
cache=${WINAPI_WINE_CACHE:-/var/cache/winapi-wine}
log_dir=$(mktemp -d /tmp/winapi-wine-test.XXXXXX)
hostd_pid=""
failures=0

say() { echo "wine-test: $*"; }
die() { echo "wine-test: $*" >&2; exit 1; }
check() { # check STATUS TEXT
	if [ "$1" -eq 0 ]; then echo "ok - $2"; else echo "not ok - $2"; failures=$((failures + 1)); fi
}

wine=$(command -v wine64 || command -v wine || true)
[ -n "$wine" ] || wine=/usr/lib/wine/wine64
[ -x "$wine" ] || die "no Wine here: scripts/install-deps.sh wine installs Debian's wine64"
wineserver=$(command -v wineserver || true)
[ -n "$wineserver" ] || wineserver=$(dirname "$wine")/wineserver
for file in "$windows/winapi-hostd.exe" "$windows/winapi-hcs.exe" "$bin/winapi-test" "$tests/host_apis_e2e"; do
	[ -x "$file" ] || [ -f "$file" ] || die "$file is missing: make all windows first"
done

# One prefix per Wine version; made when absent, under a lock (two runs at once share it).
version=$("$wine" --version)
key=$(printf '%s\n' "$version" | sha256sum | cut -c1-16)
export WINEPREFIX=$cache/prefix-$key WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
mkdir -p "$cache" || die "cannot create $cache (set WINAPI_WINE_CACHE)"
exec 8> "$cache/.lock"
flock -w 600 8 || die "another run holds $cache/.lock"

cleanup() {
	if [ -n "$hostd_pid" ] && kill -0 "$hostd_pid" 2>/dev/null; then
		kill "$hostd_pid" 2>/dev/null || true
		wait "$hostd_pid" 2>/dev/null || true
	fi
	"$wineserver" -k 2>/dev/null || true
	rm -rf "$log_dir"
}
trap cleanup EXIT

if [ ! -f "$WINEPREFIX/.winapi-ready" ]; then
	say "making a Wine prefix for $version in $WINEPREFIX"
	rm -rf "$WINEPREFIX"
	timeout 300 "$wine" wineboot --init > "$log_dir/wineboot.log" 2>&1 ||
		{ tail -n 20 "$log_dir/wineboot.log" >&2; die "wineboot failed"; }
	"$wineserver" -w
	touch "$WINEPREFIX/.winapi-ready"
else
	say "Wine prefix for $version: cached in $WINEPREFIX"
fi

# Two exports, made empty here (the service opens them at start; the test fills them).
exports=$log_dir/exports
mkdir -p "$exports/data" "$exports/ro"
windows_path() { echo "Z:$1" | tr / '\\'; }

# The service on a free loopback port, which it logs.
"$wine" "$windows/winapi-hostd.exe" --console --tcp 127.0.0.1:0 --export "data=$(windows_path "$exports/data"):rw" \
	--export "ro=$(windows_path "$exports/ro")" > "$log_dir/hostd.log" 2>&1 &
hostd_pid=$!
port=""
for _ in $(seq 600); do
	# The background shell may not have opened its log yet.
	port=$(sed -n 's/.*serving TCP 127\.0\.0\.1:\([0-9]*\) (loopback).*/\1/p' "$log_dir/hostd.log" 2>/dev/null ||
		true)
	[ -n "$port" ] && break
	kill -0 "$hostd_pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$port" ]; then
	cat "$log_dir/hostd.log" >&2
	die "winapi-hostd.exe did not start listening under Wine"
fi
say "winapi-hostd.exe (PID $hostd_pid) serves 127.0.0.1:$port under $version"

export WINAPI_TRANSPORT=hvsock WINAPI_SOCKET_TCP=127.0.0.1:$port WINAPI_TIMEOUT_MS=60000
status=0
timeout 600 "$bin/winapi-test" --integration > "$log_dir/integration.log" 2>&1 || status=$?
[ "$status" -eq 0 ] || tail -n 20 "$log_dir/integration.log"
check "$status" "winapi-test --integration against winapi-hostd.exe under Wine"

status=0
timeout 300 env WINAPI_E2E_WINE_TCP=127.0.0.1:$port WINAPI_E2E_WINE_EXPORTS="$exports" "$tests/host_apis_e2e" \
	> "$log_dir/host_apis.log" 2>&1 || status=$?
[ "$status" -eq 0 ] || cat "$log_dir/host_apis.log"
check "$status" "host.time, host.info and host.file.* from the Win32 implementations (host_apis_e2e)"
"$bin/winapi-test" --info --clock | sed 's/^/# /' || true

# winapi-hcs.exe: Wine has no computecore.dll.
status=0
timeout 120 "$wine" "$windows/winapi-hcs.exe" list > "$log_dir/hcs.out" 2> "$log_dir/hcs.err" || status=$?
result=1
if [ "$status" -eq 1 ] && grep -q "the Host Compute Service is not on this machine" "$log_dir/hcs.err"; then
	result=0
fi
check "$result" "winapi-hcs.exe list without computecore.dll: exit 1 with its own message (exit $status)"
sed 's/^/# /' "$log_dir/hcs.err"

# Stopped by its PID, as a service manager would; it must go.
kill "$hostd_pid"
for _ in $(seq 100); do
	kill -0 "$hostd_pid" 2>/dev/null || break
	sleep 0.1
done
result=0
kill -0 "$hostd_pid" 2>/dev/null && result=1
check "$result" "winapi-hostd.exe stopped by its PID"
hostd_pid=""

[ "$failures" -eq 0 ] || die "$failures check(s) failed"
say "all checks passed"
