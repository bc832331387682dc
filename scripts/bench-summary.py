#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Medians of several winapi-bench runs, as the Markdown tables of docs/BENCHMARKS.md.

Usage: scripts/bench-summary.py RESULTS.json [RESULTS.json ...]

Each cell is the median of the runs' figures, each figure taken on its own; the range across
the runs follows in brackets. Ratios are computed per run, then their median is taken (so a
ratio is of figures measured in the same minutes, never of two medians).
"""
import json
import statistics
import sys


def cell(values, digits=2, scale=1.0):
    values = [v * scale for v in values]
    middle = statistics.median(values)
    text = f"{middle:.{digits}f}"
    if len(values) > 1 and max(values) - min(values) > 0.05 * abs(middle):
        text += f" ({min(values):.{digits}f}-{max(values):.{digits}f})"
    return text


def us(runs, get, digits=2):
    return cell([get(run) / 1000.0 for run in runs], digits)


def latency_table(runs):
    print("| round trip | p50 (us) | p99 | p99.9 | p50 / its ring floor |")
    print("|---|---|---|---|---|")
    floor = lambda run: run["floor"]["ring_round_trip"]["p50_ns"]
    floor_large = lambda run: run["floor"]["ring_round_trip_largest_echo"]["p50_ns"]
    rows = [
        ("floor: cache line between the CPUs", lambda r: r["floor"]["cache_line_round_trip"], None),
        ("floor: VMBus ring pair, 128 B packet (the 64 B echo's)", lambda r: r["floor"]["ring_round_trip"], None),
        ("floor: VMBus ring pair, 3136 B packet (the 3072 B echo's)",
         lambda r: r["floor"]["ring_round_trip_largest_echo"], None),
    ]
    for i, size in enumerate((0, 64, 3072)):
        rows.append((f"liblowlat echo, polled, {size} B", lambda r, i=i: r["echo_polled"][i],
                     floor_large if size == 3072 else floor))
    rows.append(("liblowlat echo, first 1000 of a fresh attach, 64 B", lambda r: r["cold_start"]["echo"], floor))
    rows.append(("liblowlat through winapi-pmd (inline host), 64 B", lambda r: r["pmd"]["echo"], floor))
    rows.append(("liblowlat echo, interrupt mode, 64 B", lambda r: r["echo_interrupt"], None))
    for i, size in enumerate((0, 64, 3072)):
        rows.append((f"hvsock transport echo, {size} B", lambda r, i=i: r["hvsock_echo"][i], None))
    for i, size in enumerate((0, 64, 3072)):
        rows.append((f"baseline echo (socket+JSON), {size} B", lambda r, i=i: r["baseline_echo"][i], None))
    for name, get, ring in rows:
        ratio = cell([get(r)["p50_ns"] / ring(r) for r in runs]) + "x" if ring else ""
        print(f"| {name} | {us(runs, lambda r: get(r)['p50_ns'])} | {us(runs, lambda r: get(r)['p99_ns'])} "
              f"| {us(runs, lambda r: get(r)['p999_ns'], 1)} | {ratio} |")


def rate_table(runs):
    print("| batch | liblowlat (M/s) | bare ring pair (M/s) | liblowlat / ring | hvsock (k/s) | baseline (k/s) "
          "| liblowlat / baseline |")
    print("|---|---|---|---|---|---|---|")
    for i, batch in enumerate(r["batch"] for r in runs[0]["request_rate"]):
        get = lambda run, key: run["request_rate"][i][key]
        print(f"| {batch} | {cell([get(r, 'requests_per_s') for r in runs], 2, 1e-6)} "
              f"| {cell([get(r, 'ring_floor_requests_per_s') for r in runs], 1, 1e-6)} "
              f"| {cell([get(r, 'of_ring_floor') for r in runs])}x "
              f"| {cell([get(r, 'hvsock_requests_per_s') for r in runs], 1, 1e-3)} "
              f"| {cell([get(r, 'baseline_requests_per_s') for r in runs], 1, 1e-3)} "
              f"| {cell([get(r, 'requests_per_s') / get(r, 'baseline_requests_per_s') for r in runs], 0)}x |")


def bandwidth_table(runs):
    print("| buffer | liblowlat VERIFY (GB/s) | read, same size and state | VERIFY / read | read, DRAM | CRC32C "
          "| hvsock | baseline |")
    print("|---|---|---|---|---|---|---|---|")
    for i, size in enumerate(b["buffer_size"] for b in runs[0]["bandwidth"]):
        get = lambda run, key: run["bandwidth"][i][key]
        print(f"| {size >> 10} KiB | {cell([get(r, 'verify_gbps') for r in runs], 1)} "
              f"| {cell([get(r, 'read_same_state_gbps') for r in runs], 1)} "
              f"| {cell([get(r, 'verify_of_read_same_state') for r in runs])}x "
              f"| {cell([r['floor']['memory_read_gbps'] for r in runs], 1)} "
              f"| {cell([get(r, 'crc32c_gbps') for r in runs], 1)} "
              f"| {cell([get(r, 'hvsock_verify_gbps') for r in runs], 2)} "
              f"| {cell([get(r, 'baseline_verify_gbps') for r in runs], 2)} |")


def pmd_table(runs):
    direct64 = lambda r: r["echo_polled"][1]
    rate32 = lambda r: r["request_rate"][-1]["requests_per_s"]
    print("| | through winapi-pmd | direct | pmd - direct | pmd / direct |")
    print("|---|---|---|---|---|")
    print(f"| echo p50, 64 B (us) | {us(runs, lambda r: r['pmd']['echo']['p50_ns'])} "
          f"| {us(runs, lambda r: direct64(r)['p50_ns'])} "
          f"| {cell([r['pmd']['echo_p50_minus_direct_us'] for r in runs])} "
          f"| {cell([r['pmd']['echo_p50_of_direct'] for r in runs])}x |")
    print(f"| echo p99, 64 B (us) | {us(runs, lambda r: r['pmd']['echo']['p99_ns'])} "
          f"| {us(runs, lambda r: direct64(r)['p99_ns'])} | | |")
    print(f"| requests/s, batches of 32 (M) | {cell([r['pmd']['requests_per_s'] for r in runs], 2, 1e-6)} "
          f"| {cell([rate32(r) for r in runs], 2, 1e-6)} | "
          f"| {cell([r['pmd']['rate_of_direct'] for r in runs])}x |")


def targets_table(runs):
    print("| issue | target | median (range) | met in |")
    print("|---|---|---|---|")
    for i, target in enumerate(runs[0]["targets"]):
        values = [r["targets"][i]["measured"] for r in runs]
        met = sum(1 for r in runs if r["targets"][i]["met"])
        print(f"| {target['issue']} | {target['goal']} | {cell(values)} {target['unit']} "
              f"| {met} of {len(runs)} runs |")


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) >= 2 else 2
    runs = []
    for path in sys.argv[1:]:
        try:
            with open(path) as file:
                runs.append(json.load(file))
        except (OSError, ValueError) as error:
            print(f"bench-summary: {path}: {error}", file=sys.stderr)
            return 1
    quick = sum(1 for r in runs if r["machine"]["quick"])
    print(f"{len(runs)} runs on {runs[0]['machine']['description']}, kernel {runs[0]['machine']['kernel']}"
          + (f"; {quick} of them --quick" if quick else "") + ".\n")
    for title, table in (("Latency", latency_table), ("Request rate (64-byte echoes)", rate_table),
                         ("Zero-copy VERIFY bandwidth", bandwidth_table), ("Through winapi-pmd", pmd_table),
                         ("Targets", targets_table)):
        print(f"### {title}\n")
        table(runs)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
