#!/bin/sh
# Runs test binaries while every CPU is busy with a spinning process of our own, as on a CI
# machine that other jobs share: a test that bets on a schedule (a signal count, a sleep that
# stands in for "the other side is done", a deadline a loaded machine misses) fails here.
# Usage: tests/check-load.sh BUILD TIMEOUT_SECONDS TEST...   (as tests/run-tests.sh)
# HOGS=N sets the number of spinning processes (default: one per online CPU).
set -u
build=$1
timeout_seconds=$2
shift 2

hogs=${HOGS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
pids=""
run=""

stop_hogs() {
	# By PID, never by name: nothing else on the machine is touched.
	[ -n "$pids" ] && kill $pids 2>/dev/null
	for pid in $pids; do
		wait "$pid" 2>/dev/null
	done
	pids=""
}
trap 'stop_hogs' EXIT
# Stopped from outside (a timeout, ^C): the tests and the hogs go with us.
trap '[ -n "$run" ] && kill "$run" 2>/dev/null; stop_hogs; exit 130' INT
trap '[ -n "$run" ] && kill "$run" 2>/dev/null; stop_hogs; exit 143' TERM

# CPU time (user + system, in clock ticks) a process has used: fields 14 and 15 of its stat,
# counted after the ")" that ends its name.
cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

i=0
while [ "$i" -lt "$hogs" ]; do
	# A busy loop at the tests' own priority: it competes, it does not yield.
	sh -c 'while :; do :; done' &
	pids="$pids $!"
	i=$((i + 1))
done
echo "=== check-load: $hogs spinning processes (pids$pids) compete with the tests"

start=$(date +%s)
# In the background, so that a signal reaches the traps above at once, not after the suite.
tests/run-tests.sh "$build" "$timeout_seconds" "$@" &
run=$!
wait "$run"
status=$?
run=""
elapsed=$(( $(date +%s) - start ))

# Evidence that the load was real: the CPU time the hogs took while the tests ran.
ticks=0
for pid in $pids; do
	used=$(cpu_ticks "$pid")
	[ -z "$used" ] && { echo "=== check-load: spinning process $pid died during the run"; status=1; continue; }
	ticks=$((ticks + used))
done
hertz=$(getconf CLK_TCK 2>/dev/null || echo 100)
echo "=== check-load: the spinning processes used $((ticks / hertz)) CPU-seconds in ${elapsed}s"
exit "$status"
