#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# liblowlat must ignore its environment in a secure-execution process (AT_SECURE: setuid,
# setgid, file capabilities): there the variables belong to a less trusted user, and a log
# level, a timeout or a socket path from them would steer a more privileged program. The
# probe (tests/unit/secure_env_probe.c) prints what the library took; it runs as nobody,
# plain (each variable must show: no vacuous pass) and setuid, setgid and with a file
# capability (each variable must change nothing). Runs from the source tree root with
# WINAPI_BIN_DIR set (tests/run-tests.sh); needs root to make those copies.
set -u

bin_dir=${WINAPI_BIN_DIR:-build/bin}
build_dir=$(dirname "$bin_dir")
probe=${SECURE_ENV_PROBE:-$build_dir/tests/secure_env_probe}
marker=/nonexistent/secure-env-marker
failures=0
work=""
trap '[ -z "$work" ] || rm -rf "$work"' EXIT

# tests/run-tests.sh knows pass (0) and fail only: a skip says why and passes.
skip() {
	echo "ok # SKIP secure_env_test: $*"
	exit 0
}

fail() {
	echo "not ok - $1"
	printf '%s\n' "$2" | sed 's/^/#   /'
	failures=$((failures + 1))
}

[ "$(id -u)" -eq 0 ] || skip "not root: setuid, setgid and setcap copies of the probe need root"
[ -x "$probe" ] || { echo "secure_env_test: no probe at $probe" >&2; exit 1; }
command -v setpriv >/dev/null 2>&1 || skip "no setpriv (util-linux) to run the probe as another user"

user=$(id -u nobody 2>/dev/null || echo 65534)
group=$(id -g nobody 2>/dev/null || echo 65534)
# Neither nobody nor root: the setuid/setgid copy gains an identity, not privilege.
owner=$((user - 1))

# The probe as nobody, with only the variables given: nothing from this shell's environment.
run() {
	timeout --kill-after=5 30 setpriv --reuid="$user" --regid="$group" --clear-groups \
		env -i PATH=/usr/bin:/bin "$@" 2>&1
}

# A directory where the kernel honours set-id bits: not nosuid, and this process not under
# no_new_privs (a container or a NoNewPrivileges= service). The probe itself says so.
for base in /tmp /var/tmp "$build_dir"; do
	tried=""
	candidate=$(mktemp -d "$base/secure_env_test.XXXXXX" 2>/dev/null) || continue
	chmod 755 "$candidate"
	cp "$probe" "$candidate/plain" && chmod 755 "$candidate/plain" &&
		cp "$probe" "$candidate/setuid" && chown "$owner" "$candidate/setuid" &&
		chmod 4755 "$candidate/setuid" &&
		tried=$(run "$candidate/setuid") &&
		case $tried in
		*at_secure=1*) true ;;
		*) false ;;
		esac && { work=$candidate; break; }
	# What the probe said, should the reason be none of those the skip names.
	printf '%s\n' "${tried:-}" | sed "s|^|# $base: |"
	rm -rf "$candidate"
done
[ -n "$work" ] || skip "no directory under /tmp, /var/tmp or $build_dir runs a setuid program with AT_SECURE (nosuid mounts, no_new_privs, or nobody cannot reach it)"
echo "# set-id copies of the probe in $work"

cp "$probe" "$work/setgid" && chgrp "$owner" "$work/setgid" && chmod 2755 "$work/setgid"
modes="setuid setgid"
# A file capability makes AT_SECURE too, with no change of identity at all.
if command -v setcap >/dev/null 2>&1 && cp "$probe" "$work/setcap" && chmod 755 "$work/setcap" &&
	setcap cap_net_bind_service+ep "$work/setcap" 2>/dev/null; then
	modes="$modes setcap"
else
	echo "# no file capability (setcap missing or refused): setuid and setgid only"
fi
for mode in $modes; do
	case $(run "$work/$mode") in
	*at_secure=1*) echo "ok - the $mode copy runs with AT_SECURE=1" ;;
	*) fail "the $mode copy runs without AT_SECURE" "$(run "$work/$mode")" ;;
	esac
done

# Each case: the variable, what the probe must print when the library honours it, and the
# probe's arguments (--init: winapi_init(); --open NAME: that transport, as WINAPI_TRANSPORT
# cannot choose one in a setuid process, so its own variables are checked directly).
cases="WINAPI_LOG_LEVEL=debug|log_level=7|
WINAPI_DEBUG=1|log_level=7|
WINAPI_TIMEOUT_MS=4321|timeout_ms=4321|
WINAPI_SOCKET_PORT=0x4321|hvsock_port=0x4321|
WINAPI_TRANSPORT=$marker|$marker|--init
WINAPI_SHARED_MEM=$marker/shm|$marker|--init
WINAPI_SIM_SOCKET=$marker/sim.sock|$marker|--init
XDG_RUNTIME_DIR=$marker/xdg|$marker|--init
WINAPI_PMD_SOCKET=$marker/pmd.sock|$marker|--open pmd
WINAPI_SOCKET_PATH=$marker/hvsock.sock|$marker|--open hvsock
WINAPI_SOCKET_CID=$marker|$marker|--open hvsock
VMBUS_SYSFS_ROOT=$marker/sys|$marker|--open uio"

# The probe's own lines (before what winapi_init() or the transport says, which another
# suite's daemon starting meanwhile could change): the values the library settled on.
settled() {
	printf '%s\n' "$1" | grep -E '^(at_secure|log_level|timeout_ms|sim_socket|pmd_runtime_dir|hvsock_port)='
}

old_ifs=$IFS
IFS='
'
for line in $cases; do
	IFS='|' read -r variable expected arguments <<EOF
$line
EOF
	IFS=$old_ifs
	# shellcheck disable=SC2086 # the probe's arguments are words
	output=$(run "$variable" "$work/plain" $arguments)
	if printf '%s' "$output" | grep -qF -- "$expected"; then
		echo "ok - plain: $variable is honoured ($expected)"
	else
		fail "plain: $variable is not honoured (want $expected): the test would prove nothing" "$output"
	fi
	for mode in $modes; do
		# shellcheck disable=SC2086
		baseline=$(run "$work/$mode" $arguments)
		# shellcheck disable=SC2086
		output=$(run "$variable" "$work/$mode" $arguments)
		if printf '%s' "$output" | grep -qF -- "$marker"; then
			fail "$mode: $variable reached the library" "$output"
		elif [ "$(settled "$output")" != "$(settled "$baseline")" ]; then
			fail "$mode: $variable changed what the library settled on" "$output"
		else
			echo "ok - $mode: $variable is ignored"
		fi
	done
	IFS='
'
done
IFS=$old_ifs

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
