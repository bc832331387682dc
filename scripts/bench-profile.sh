#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Where the time of a request goes: the polled 64-byte echo and the request rate in batches of
# 32, direct (winapi-host-sim) and through winapi-pmd --backend inline, each side sampled by
# perf with the cpu-clock software event (no PMU needed: this VM has none). Prints, per side,
# the CPU time per request by stage. docs/BENCHMARKS.md ("Where the time goes") explains the
# stages and how to read them.
#
# Usage: scripts/bench-profile.sh [options]
#   -b, --build DIR      the build to profile (default: build)
#   -l, --lcores A,B     client on A, host or pmd worker on B (default 0,1)
#   -n, --requests N     requests per measurement (default 2000000; the rate runs take 5x)
#   -o, --output DIR     keep perf's data here (default: a temporary directory, removed)
#   -h, --help
# Needs perf (Debian: linux-perf; installed when missing and run as root).
set -euo pipefail

usage() {
	sed -n '/^# Usage/,/^# Needs/p' "$0" | sed 's/^# \{0,1\}//'
}

build=build
lcores=0,1
requests=2000000
output=""
while [ $# -gt 0 ]; do
	case "$1" in
	-b|--build) build=$2; shift 2 ;;
	-l|--lcores) lcores=$2; shift 2 ;;
	-n|--requests) requests=$2; shift 2 ;;
	-o|--output) output=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	*) echo "bench-profile: unknown option '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
if [[ ! "$lcores" =~ ^[0-9]+,[0-9]+$ ]]; then
	echo "bench-profile: --lcores wants A,B, two CPU numbers (got '$lcores')" >&2
	exit 2
fi
cpu_a=${lcores%,*}
cpu_b=${lcores#*,}
# winapi-test takes at most 100,000,000 calls, and the rate runs make five times as many.
if [[ ! "$requests" =~ ^[0-9]+$ ]] || [ "$requests" -eq 0 ] || [ "$requests" -gt 20000000 ]; then
	echo "bench-profile: --requests wants 1..20000000 (got '$requests')" >&2
	exit 2
fi
bin=$build/bin
for program in winapi-host-sim winapi-pmd winapi-test; do
	if [ ! -x "$bin/$program" ]; then
		echo "bench-profile: $bin/$program is missing: run make first" >&2
		exit 1
	fi
done
if ! command -v perf >/dev/null 2>&1; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "bench-profile: perf is missing: apt-get install linux-perf" >&2
		exit 1
	fi
	echo "bench-profile: installing linux-perf" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends linux-perf >/dev/null
fi

if [ -n "$output" ]; then
	mkdir -p "$output"
	work=$(cd "$output" && pwd)
else
	work=$(mktemp -d /tmp/bench-profile.XXXXXX)
fi
daemon=""
cleanup() {
	if [ -n "$daemon" ]; then
		kill "$daemon" 2>/dev/null || true
		wait "$daemon" 2>/dev/null || true
	fi
	[ -n "$output" ] || rm -rf "$work"
}
trap cleanup EXIT

# A sample every 100 us of a thread's CPU time (10,000 a second a side). Each sample is a timer
# interrupt: at 20 us the polled echo's median went from 1.2 to 58 us on this VM.
period=100000
message=$(printf 'x%.0s' $(seq 64))
export VMBUS_SPIN_NS=1000000

wait_for_socket() {
	local i
	for i in $(seq 300); do
		[ -S "$1" ] && return 0
		kill -0 "$daemon" 2>/dev/null || { echo "bench-profile: the daemon exited at start" >&2; return 1; }
		sleep 0.1
	done
	echo "bench-profile: $1 did not appear" >&2
	return 1
}

# Per-sample symbols of one side, mapped to the stages below; prints "stage count" lines.
stages() {
	perf script -i "$1" -F ip,sym,dso 2>/dev/null | awk '
	{
		sym = $2; dso = $NF
		if (dso ~ /kernel/)                 stage = "kernel (interrupts, system calls)"
		else if (dso ~ /vdso/ || sym ~ /clock_gettime/) stage = "clock reads"
		else if (sym ~ /^(wait_backoff|vmbus_ring_is_empty|rx_ready|tx_ready|vmbus_chan_wait|vmbus_device_take_events|vmbus_device_wait|winapi_host_run|sleep_on_events|__poll|poll|sched_yield|__sched_yield)$/)
			stage = "waiting for the peer (polling)"
		else if (sym ~ /crc32/)             stage = "CRC32C"
		else if (sym ~ /^(vmbus_ring_write_publish|vmbus_ring_read_publish|vmbus_chan_flush|vmbus_chan_recv_done|signal_peer|finish_burst)$/)
			stage = "ring: publish an index, signal decision"
		else if (sym ~ /^(vmbus_ring_write|copy_to_ring|prefetch_for_write|vmbus_chan_write|vmbus_chan_send.*|write_packet)$/)
			stage = "ring: write a packet"
		else if (sym ~ /^(vmbus_ring_read|copy_from_ring.*|fetch_descriptor|vmbus_chan_recv|packet_allowed)$/)
			stage = "ring: read a packet"
		else if (sym ~ /mem(move|cpy|set)/) stage = "memcpy (into and out of rings, replies)"
		else if (sym ~ /^(winapi_message_.*|write_request.*|.*_decode|.*_encode|winapi_host_answer|pmd_request_check|take_request|check_.*)$/)
			stage = "header encode, decode and checks"
		else if (sym ~ /pthread_mutex|pthread_cond|__lll/) stage = "locks"
		else if (sym ~ /^(request_.*|take_done|drain.*|winapi_queue_.*|winapi_driver_.*|lowlat_.*|winapi_call.*|winapi_echo|add|find|record.*|release_slot|list_pop|expire|complete.*)$/)
			stage = "requests: queue, table, matching"
		else if (sym ~ /^(serve_request|winapi_host_.*|dispatch.*|.*_handler|echo.*|pump_events)$/)
			stage = "host: dispatch, handler"
		else if (sym ~ /^(worker_main|serve_clients|flush_clients|reap|submit|answer|serve_inline_host|rcu_.*|look_at_device|send_probe|charge|pmd_.*|sim_.*)$/)
			stage = "pmd worker: its passes"
		else if (dso ~ /winapi-test/ || sym ~ /^(msort.*|compare_u64|main)$/)
			stage = "the test program"
		else                                stage = "other"
		count[stage]++
	}
	END { for (s in count) print count[s] "\t" s }'
}

# table TITLE REQUESTS CLIENT_DATA SERVER_DATA SERVER_NAME SUMMARY: both sides' stages, per request.
table() {
	local title=$1 requests=$2 client=$3 server=$4 server_name=$5 summary=$6
	local order="waiting for the peer (polling)|ring: write a packet|ring: read a packet|ring: publish an index, signal decision|memcpy (into and out of rings, replies)|header encode, decode and checks|CRC32C|requests: queue, table, matching|locks|clock reads|host: dispatch, handler|pmd worker: its passes|kernel (interrupts, system calls)|the test program|other"
	printf '\n%s\n' "$title"
	grep -E '^(echo: [0-9]+ calls|rate:)' "$summary" | sed 's/^/  /'
	printf '  %-42s %14s %14s\n' "stage (ns of CPU per request)" "client (A)" "$server_name (B)"
	join -t "$(printf '\t')" -a1 -a2 -e 0 -o 0,1.2,2.2 \
		<(stages "$client" | awk -F'\t' '{print $2 "\t" $1}' | sort) \
		<(stages "$server" | awk -F'\t' '{print $2 "\t" $1}' | sort) |
	awk -F'\t' -v order="$order" -v period=$period -v requests="$requests" '
	BEGIN { n = split(order, names, "|") }
	{ a[$1] = $2; b[$1] = $3 }
	END {
		for (i = 1; i <= n; i++) {
			s = names[i]
			if (a[s] + b[s] == 0) continue
			printf "  %-42s %14.1f %14.1f\n", s, a[s] * period / requests, b[s] * period / requests
			ta += a[s]; tb += b[s]
		}
		printf "  %-42s %14.1f %14.1f\n", "total", ta * period / requests, tb * period / requests
	}'
}

# profile NAME SERVER_PID ARGS...: the client under perf, the server (daemon) under perf -p.
profile() {
	local name=$1 server=$2 status=0
	shift 2
	perf record -q -e cpu-clock -c $period -p "$server" -o "$work/$name-server.data" \
		> "$work/$name-server.err" 2>&1 &
	local recorder=$!
	sleep 0.5
	if ! kill -0 "$recorder" 2>/dev/null; then
		echo "bench-profile: perf cannot record the daemon:" >&2
		cat "$work/$name-server.err" >&2
		return 1
	fi
	taskset -c "$cpu_a" perf record -q -e cpu-clock -c $period -o "$work/$name-client.data" "$@" \
		> "$work/$name.out" 2> "$work/$name.err" || status=$?
	kill -INT "$recorder" 2>/dev/null || true
	wait "$recorder" 2>/dev/null || true
	if [ "$status" -ne 0 ]; then
		echo "bench-profile: $* failed (exit $status):" >&2
		cat "$work/$name.err" >&2
		return 1
	fi
}

rate_requests=$((requests * 5))

echo "bench-profile: client on CPU $cpu_a, host on CPU $cpu_b; $requests echoes, $rate_requests batched requests"
export WINAPI_TRANSPORT=sim WINAPI_SIM_SOCKET=$work/sim.sock
taskset -c "$cpu_b" "$bin/winapi-host-sim" --socket "$WINAPI_SIM_SOCKET" > "$work/sim.log" 2>&1 &
daemon=$!
wait_for_socket "$WINAPI_SIM_SOCKET"
profile echo "$daemon" "$bin/winapi-test" --count "$requests" --message "$message"
table "Direct (winapi-host-sim): polled echo, 64 bytes" "$requests" "$work/echo-client.data" \
	"$work/echo-server.data" "host" "$work/echo.out"
profile rate "$daemon" "$bin/winapi-test" --benchmark rate --batch 32 --iterations "$rate_requests"
table "Direct (winapi-host-sim): request rate, batches of 32" "$rate_requests" "$work/rate-client.data" \
	"$work/rate-server.data" "host" "$work/rate.out"
kill "$daemon"
wait "$daemon" 2>/dev/null || true
daemon=""

export WINAPI_TRANSPORT=pmd WINAPI_PMD_SOCKET=$work/pmd.sock
unset WINAPI_SIM_SOCKET
"$bin/winapi-pmd" --socket "$WINAPI_PMD_SOCKET" --backend inline --lcores "$cpu_b" --file-prefix "profile-$$" \
	--spin-ns 1000000 --pool-size 8 --log-level warning > "$work/pmd.log" 2>&1 &
daemon=$!
wait_for_socket "$WINAPI_PMD_SOCKET"
profile pmd-echo "$daemon" "$bin/winapi-test" --count "$requests" --message "$message"
table "Through winapi-pmd --backend inline: polled echo, 64 bytes" "$requests" "$work/pmd-echo-client.data" \
	"$work/pmd-echo-server.data" "worker+host" "$work/pmd-echo.out"
profile pmd-rate "$daemon" "$bin/winapi-test" --benchmark rate --batch 32 --iterations "$rate_requests"
table "Through winapi-pmd --backend inline: request rate, batches of 32" "$rate_requests" \
	"$work/pmd-rate-client.data" "$work/pmd-rate-server.data" "worker+host" "$work/pmd-rate.out"
