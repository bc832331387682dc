#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Run each libFuzzer target for a bounded time on a copy of its committed seed corpus.
#
#   tests/fuzz/run-fuzz.sh <fuzz build dir> <seconds per target> <target>...
#
# For target T: the seeds of tests/fuzz/corpus/T are copied to <dir>/work/T (what the run adds
# stays there, the committed corpus stays small), libFuzzer's log goes to <dir>/logs/T.log and
# a crashing input to <dir>/artifacts/T/. One summary line per target; the exit status is
# non-zero if any target failed.
set -u

if [ $# -lt 3 ]; then
	echo "usage: $0 <fuzz build dir> <seconds per target> <target>..." >&2
	exit 2
fi
mkdir -p "$1" || exit 1
dir=$(cd "$1" && pwd)
seconds=$2
shift 2
corpus_root=$(cd "$(dirname "$0")" && pwd)/corpus
failed=0

# A value from libFuzzer's -print_final_stats=1 lines ("stat::name: value").
stat() {
	sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

for target in "$@"; do
	binary=$dir/$target
	work=$dir/work/$target
	artifacts=$dir/artifacts/$target
	log=$dir/logs/$target.log
	rm -rf "$work" "$artifacts"
	mkdir -p "$work" "$artifacts" "$dir/logs"
	if [ -d "$corpus_root/$target" ]; then
		# Seeds only: reproducers (crash-*) are replayed below, not mutated.
		find "$corpus_root/$target" -maxdepth 1 -type f ! -name 'crash-*' -exec cp {} "$work/" \;
	fi

	# Past crashes first: each must stay fixed.
	status=0
	for reproducer in "$corpus_root/$target"/crash-*; do
		[ -f "$reproducer" ] || continue
		if ! "$binary" -runs=1 "$reproducer" >"$log" 2>&1; then
			echo "$target: FAILED: reproducer $reproducer fails again (log: $log)"
			status=1
		fi
	done

	# One job, one worker: the run stays on one core. -jobs makes libFuzzer write its output
	# to fuzz-0.log in the working directory, so it runs from the logs directory.
	if [ "$status" -eq 0 ]; then
		(cd "$dir/logs" && "$binary" -jobs=1 -workers=1 -max_total_time="$seconds" -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" "$work") \
			>/dev/null 2>&1
		status=$?
		mv "$dir/logs/fuzz-0.log" "$log" 2>/dev/null
	fi

	crash=$(find "$artifacts" -type f 2>/dev/null | head -n 1)
	if [ "$status" -ne 0 ] || [ -n "$crash" ]; then
		echo "$target: FAILED: ${crash:-no crash file} (log: $log)"
		failed=1
		continue
	fi
	runs=$(stat number_of_executed_units "$log")
	rate=$(stat average_exec_per_sec "$log")
	added=$(stat new_units_added "$log")
	rss=$(stat peak_rss_mb "$log")
	echo "$target: ok: ${runs:-?} runs in ${seconds} s (${rate:-?}/s), ${added:-?} new inputs, peak RSS ${rss:-?} MB"
done
exit $failed
