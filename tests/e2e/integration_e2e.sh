#!/bin/sh
# winapi-test --integration against winapi-host-sim in every kernel profile (issue 4's
# "passes against each profile"), and over the hvsock transport against winapi-hostd, the
# Linux build of the host service (AF_UNIX standing in for AF_VSOCK).
# The binaries come from $WINAPI_BIN_DIR (tests/run-tests.sh).
set -u
bin=${WINAPI_BIN_DIR:-build/bin}
work=$(mktemp -d "${TMPDIR:-/tmp}/integration_e2e.XXXXXX")
socket=$work/host-sim.sock
emulator=""

stop_emulator() {
	[ -n "$emulator" ] || return 0
	kill -TERM "$emulator" 2>/dev/null
	i=0
	while kill -0 "$emulator" 2>/dev/null && [ $i -lt 300 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$emulator" 2>/dev/null
	wait "$emulator" 2>/dev/null
	emulator=""
}
trap 'stop_emulator; rm -rf "$work"' EXIT INT TERM

# Wait (30 s at most: a loaded machine may start a daemon slowly) until a unix socket listens
# at $1, without connecting to it. The emulator and winapi-hostd bind another name and rename it
# to $1 once they listen (the kernel's table keeps the bound name): a socket file no socket was
# bound to is one of those. A daemon that binds $1 itself creates the file a moment before
# listen(): the table says when it accepts (flags 00010000, __SO_ACCEPTCON).
wait_listening() {
	i=0
	while [ $i -lt 300 ]; do
		if [ -S "$1" ]; then
			awk -v path="$1" '$8 == path { bound = 1; if ($4 == "00010000") found = 1 }
				END { exit !(found || !bound) }' /proc/net/unix && return 0
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "# nothing listens at $1 after 30 s"
	return 1
}

# The suite checks bytes, not latency: 512 MiB through one call may take a loaded machine (or a
# sanitizer build) far longer than the 5 s default deadline.
export WINAPI_TIMEOUT_MS=300000

failed=""
for profile in linux-6.1 linux-6.12 mainline; do
	"$bin/winapi-host-sim" --socket "$socket" --profile "$profile" --subchannels 1 >/dev/null &
	emulator=$!
	wait_listening "$socket"
	if WINAPI_TRANSPORT=sim "$bin/winapi-test" --socket "$socket" --integration >"$work/out" 2>&1; then
		echo "ok - winapi-test --integration, profile $profile"
	else
		echo "not ok - winapi-test --integration, profile $profile"
		sed 's/^/#   /' "$work/out"
		failed="$failed $profile"
	fi
	stop_emulator
done

hostd_socket=$work/hostd.sock
"$bin/winapi-hostd" --socket "$hostd_socket" >"$work/hostd.out" 2>&1 &
emulator=$!
wait_listening "$hostd_socket"
if WINAPI_TRANSPORT=hvsock WINAPI_SOCKET_PATH="$hostd_socket" "$bin/winapi-test" --integration >"$work/out" 2>&1; then
	echo "ok - winapi-test --integration, hvsock transport against winapi-hostd"
else
	echo "not ok - winapi-test --integration, hvsock transport against winapi-hostd"
	sed 's/^/#   /' "$work/out"
	failed="$failed hvsock"
fi
stop_emulator
# The service's own count: every request the suite made reached it and none was refused.
if grep -q ' requests (0 refused)' "$work/hostd.out" && ! grep -q ' 0 requests' "$work/hostd.out"; then
	echo "ok - winapi-hostd served the suite: $(grep 'connections' "$work/hostd.out")"
else
	echo "not ok - winapi-hostd's counters"
	sed 's/^/#   /' "$work/hostd.out"
	failed="$failed hostd-counters"
fi

if [ -n "$failed" ]; then
	echo "failed:$failed"
	exit 1
fi
echo "all profiles and transports passed"
