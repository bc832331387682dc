#!/bin/sh
# winapi-test --integration against winapi-host-sim in every kernel profile (issue 4's
# "passes against each profile"). The binaries come from $WINAPI_BIN_DIR (tests/run-tests.sh).
set -u
bin=${WINAPI_BIN_DIR:-build/bin}
work=$(mktemp -d "${TMPDIR:-/tmp}/integration_e2e.XXXXXX")
socket=$work/host-sim.sock
emulator=""

stop_emulator() {
	[ -n "$emulator" ] || return 0
	kill -TERM "$emulator" 2>/dev/null
	i=0
	while kill -0 "$emulator" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$emulator" 2>/dev/null
	wait "$emulator" 2>/dev/null
	emulator=""
}
trap 'stop_emulator; rm -rf "$work"' EXIT INT TERM

failed=""
for profile in linux-6.1 linux-6.12 mainline; do
	"$bin/winapi-host-sim" --socket "$socket" --profile "$profile" --subchannels 1 >/dev/null &
	emulator=$!
	i=0
	while [ ! -S "$socket" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if WINAPI_TRANSPORT=sim "$bin/winapi-test" --socket "$socket" --integration >"$work/out" 2>&1; then
		echo "ok - winapi-test --integration, profile $profile"
	else
		echo "not ok - winapi-test --integration, profile $profile"
		sed 's/^/#   /' "$work/out"
		failed="$failed $profile"
	fi
	stop_emulator
done
if [ -n "$failed" ]; then
	echo "failed profiles:$failed"
	exit 1
fi
echo "all profiles passed"
