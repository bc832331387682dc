#!/bin/sh
# make demo: start the host emulator on a private socket, make echo, buffer and performance
# calls through liblowlat (winapi-test), then stop the emulator. Leaves no process and no
# socket behind.
# Usage: scripts/demo.sh [BUILD]
set -eu
build=${1:-build}
workdir=$(mktemp -d "${TMPDIR:-/tmp}/winapi-demo.XXXXXX")
socket="$workdir/host-sim.sock"
emulator_pid=""

cleanup() {
	if [ -n "$emulator_pid" ] && kill -0 "$emulator_pid" 2>/dev/null; then
		kill -TERM "$emulator_pid"
		# Bounded: if it has not exited after 5 s, it is killed.
		i=0
		while kill -0 "$emulator_pid" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$emulator_pid" 2>/dev/null || true
		wait "$emulator_pid" 2>/dev/null || true
	fi
	rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

echo "--- starting the host emulator"
WINAPI_TRANSPORT=sim "$build/bin/winapi-host-sim" --socket "$socket" --verbose &
export WINAPI_TRANSPORT=sim
emulator_pid=$!

i=0
while [ ! -S "$socket" ]; do
	if ! kill -0 "$emulator_pid" 2>/dev/null || [ $i -ge 100 ]; then
		echo "demo: the emulator did not come up" >&2
		exit 1
	fi
	sleep 0.1
	i=$((i + 1))
done

echo "--- one echo call through liblowlat"
"$build/bin/winapi-test" --socket "$socket" --test echo --message "Hello Windows!"
echo "--- 10000 echo calls"
"$build/bin/winapi-test" --socket "$socket" --test echo --count 10000 \
	--message "The quick brown fox jumps over the lazy dog"
echo "--- zero-copy buffers: the host writes, reads and verifies 4 x 1 MiB in place"
"$build/bin/winapi-test" --socket "$socket" --test buffer --buffers 4 --size 1M
echo "--- performance test: measured round trips"
"$build/bin/winapi-test" --socket "$socket" --test performance --iterations 10000
echo "--- stopping the emulator"
