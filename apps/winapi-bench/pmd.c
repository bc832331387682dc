/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The winapi-pmd figures: the polled 64-byte echo and the request rate in batches of 32, with
 * the direct path's slices (measure.c), so that they are measured, checked and interleaved
 * alike and their differences and ratios hold.
 */
#include <stdio.h>
#include <unistd.h>

#include "pmd.h"

#define PMD_ECHO_SIZE 64u
#define PMD_BATCH 32u

void bench_pmd_exec(const struct bench_options *options, const char *binary, const char *socket_path)
{
	char lcore[16], prefix[48];

	/*
	 * The worker on the host CPU, polling like the emulator (1 ms before it sleeps); an
	 * instance of its own, so that other daemons on the machine are left alone.
	 */
	snprintf(lcore, sizeof(lcore), "%d", options->host_cpu);
	snprintf(prefix, sizeof(prefix), "winapi-bench-%d", (int)getpid());
	execl(binary, binary, "--socket", socket_path, "--backend", "inline", "--lcores", lcore, "--file-prefix",
	      prefix, "--spin-ns", BENCH_POLLED_SPIN_NS, "--pool-size", "8", "--log-level", "warning", (char *)NULL);
}

int bench_pmd_slice(const struct bench_options *options, winapi_handle_t handle, struct bench_results *results)
{
	int rc;

	rc = bench_echo_slice(handle, PMD_ECHO_SIZE, options->polled_samples / options->rounds,
			      &results->pmd_echo.histogram);
	if (rc != 0)
		return bench_fail("echo (winapi-pmd)", rc);
	rc = bench_rate_slice(handle, PMD_BATCH, options->seconds / options->rounds, &results->pmd_rate);
	if (rc != 0)
		return bench_fail("request rate (winapi-pmd)", rc);
	return 0;
}
