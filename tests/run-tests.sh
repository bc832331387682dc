#!/bin/sh
# Runs test binaries of one build, each under a timeout, and prints a summary.
# Usage: tests/run-tests.sh BUILD TIMEOUT_SECONDS TEST...
# The binaries are BUILD/tests/TEST; the end-to-end ones find the apps in BUILD/bin.
set -u
build=$1
timeout_seconds=$2
shift 2

failed=""
passed=0
for test in "$@"; do
	echo "=== $test ($build, timeout ${timeout_seconds}s)"
	start=$(date +%s)
	WINAPI_BIN_DIR="$build/bin" timeout --kill-after=10 "$timeout_seconds" "$build/tests/$test"
	status=$?
	elapsed=$(( $(date +%s) - start ))
	if [ "$status" -eq 0 ]; then
		echo "=== $test: PASS (${elapsed}s)"
		passed=$((passed + 1))
	else
		[ "$status" -eq 124 ] && echo "=== $test: TIMEOUT after ${timeout_seconds}s"
		echo "=== $test: FAIL (exit $status, ${elapsed}s)"
		failed="$failed $test"
	fi
done

if [ -n "$failed" ]; then
	echo "=== $build: $passed passed, failed:$failed"
	exit 1
fi
echo "=== $build: all $passed test binaries passed"
