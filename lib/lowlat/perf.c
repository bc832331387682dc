/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PERF_TEST: latency and throughput measured from real round trips, here, with
 * CLOCK_MONOTONIC. The proof of concept this replaces made its numbers up; every figure in
 * the result is a measurement of this call.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <winapi/protocol.h>
#include <winapi_internal/clock.h>

#include "lowlat_private.h"

/* Round trips kept for the percentiles; a longer run samples them evenly. */
#define PERF_SAMPLES_MAX (1u << 20)

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
static uint64_t percentile(const uint64_t *sorted, size_t count, unsigned int per_mille)
{
	size_t rank = ((uint64_t)count * per_mille + 999) / 1000;

	return sorted[(rank == 0 ? 1 : rank) - 1];
}

/* One PERF_TEST round trip; @sequence comes back, checked. */
static int round_trip(winapi_handle_t handle, uint32_t type, uint64_t sequence,
		      const struct winapi_call_buffer *call_buffers, unsigned int buffer_count,
		      struct winapi_perf_test_reply *reply)
{
	struct winapi_perf_test_request request = { .test_type = type, .sequence = sequence };
	uint8_t request_bytes[sizeof(request)], reply_bytes[sizeof(*reply)];
	struct winapi_call call = {
		.api_id = WINAPI_API_PERF_TEST,
		.request_data = request_bytes,
		.request_length = sizeof(request_bytes),
		.reply_data = reply_bytes,
		.reply_capacity = sizeof(reply_bytes),
		.buffers = call_buffers,
		.buffer_count = buffer_count,
		.timeout_ms = -1,
	};
	int rc;

	winapi_perf_test_request_encode(&request, request_bytes);
	rc = lowlat_seed_call(handle, &call);
	if (rc != 0)
		return rc;
	if (winapi_perf_test_reply_decode(reply_bytes, call.reply_length, reply) != 0 ||
	    reply->sequence != sequence)
		return -EBADMSG;
	return 0;
}

/* Latency bookkeeping of one run. */
struct perf_run {
	uint64_t *samples;
	size_t kept;
	uint64_t total;
	uint64_t requests;
};

static void record(struct perf_run *run, winapi_perf_test_result_t *result, uint64_t latency,
		   const struct winapi_perf_test_reply *reply)
{
	run->total += latency;
	run->requests++;
	result->bytes_processed += reply->bytes_processed;
	result->host_ns += reply->host_ns;
	if (latency < result->min_latency_ns)
		result->min_latency_ns = latency;
	if (latency > result->max_latency_ns)
		result->max_latency_ns = latency;
	/* The first PERF_SAMPLES_MAX round trips feed the percentiles. */
	if (run->kept < PERF_SAMPLES_MAX)
		run->samples[run->kept++] = latency;
}

/*
 * One pass of THROUGHPUT over all the buffers: as many requests as packets need (a 68 KiB ring
 * carries fewer page numbers than one 64 MiB buffer has), each timed.
 */
static int throughput_pass(winapi_handle_t handle, winapi_buffer_t *buffers, size_t count, struct perf_run *run,
			   winapi_perf_test_result_t *result)
{
	struct winapi_call_buffer call_buffers[WINAPI_MAX_BUFFERS];
	struct lowlat_piece pieces[WINAPI_MAX_BUFFERS];
	struct winapi_perf_test_reply reply;
	uint64_t offset = 0, bytes, before;
	size_t buffer = 0;
	unsigned int taken;
	int rc;

	while (buffer < count) {
		taken = lowlat_next_request(handle, buffers, count, &buffer, &offset,
					    sizeof(struct winapi_perf_test_request), pieces);
		if (taken == 0)
			return -EMSGSIZE;
		rc = lowlat_pieces_to_call(handle, buffers, pieces, taken, call_buffers, &bytes);
		if (rc != 0)
			return rc;
		before = winapi_clock_now_ns();
		rc = round_trip(handle, WINAPI_PERF_THROUGHPUT, run->requests, call_buffers, taken, &reply);
		if (rc != 0)
			return rc;
		if (reply.bytes_processed != bytes)
			return -EBADMSG; /* the host claims to have read something else */
		record(run, result, winapi_clock_now_ns() - before, &reply);
	}
	return 0;
}

int winapi_perf_test(winapi_handle_t handle, const winapi_perf_test_params_t *params,
		     winapi_buffer_t *buffers, size_t count, winapi_perf_test_result_t *result)
{
	struct winapi_perf_test_reply reply;
	struct perf_run run = { 0 };
	uint64_t start, before;
	bool throughput;
	size_t i;
	int rc = 0;

	if (handle == NULL || params == NULL || result == NULL ||
	    (params->test_type != WINAPI_PERF_LATENCY && params->test_type != WINAPI_PERF_THROUGHPUT))
		return -EINVAL;
	throughput = params->test_type == WINAPI_PERF_THROUGHPUT;
	if ((!throughput && params->iterations == 0) ||
	    (throughput && ((params->iterations == 0 && params->target_bytes == 0) || buffers == NULL ||
			    count == 0 || count > WINAPI_MAX_BUFFERS)))
		return -EINVAL;
	for (i = 0; throughput && i < count; i++)
		if (buffers[i].owner != handle->attachment || buffers[i].data == NULL)
			return -EINVAL;
	run.samples = malloc(PERF_SAMPLES_MAX * sizeof(*run.samples));
	if (run.samples == NULL)
		return -ENOMEM;

	memset(result, 0, sizeof(*result));
	result->min_latency_ns = UINT64_MAX;
	start = winapi_clock_now_ns();
	for (;;) {
		if (params->iterations != 0 && run.requests >= params->iterations)
			break;
		if (throughput && params->target_bytes != 0 && result->bytes_processed >= params->target_bytes)
			break;
		if (throughput) {
			rc = throughput_pass(handle, buffers, count, &run, result);
		} else {
			before = winapi_clock_now_ns();
			rc = round_trip(handle, WINAPI_PERF_LATENCY, run.requests, NULL, 0, &reply);
			if (rc == 0)
				record(&run, result, winapi_clock_now_ns() - before, &reply);
		}
		if (rc != 0)
			break;
	}
	result->elapsed_ns = winapi_clock_now_ns() - start;
	result->iterations = run.requests;
	if (rc == 0 && run.requests != 0) {
		qsort(run.samples, run.kept, sizeof(*run.samples), compare_u64);
		result->avg_latency_ns = run.total / run.requests;
		result->p50_latency_ns = percentile(run.samples, run.kept, 500);
		result->p99_latency_ns = percentile(run.samples, run.kept, 990);
		if (throughput && result->elapsed_ns != 0)
			result->throughput_mbps = result->bytes_processed * 1000u / result->elapsed_ns;
	}
	if (run.requests == 0)
		result->min_latency_ns = 0;
	free(run.samples);
	return rc;
}
