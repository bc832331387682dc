/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * PERF_TEST: the host side of latency and throughput runs. The guest measures the round
 * trips; the host reports what it did (bytes read, their checksum, its own time), all of it
 * measured, nothing assumed.
 */
#include <string.h>
#include <time.h>
#include <winapi_internal/clock.h>

#include "host_private.h"

struct read_pass {
	uint32_t crc;
	uint64_t bytes;
};

static int read_span(uint8_t *span, size_t length, uint64_t position, void *context)
{
	struct read_pass *pass = context;

	(void)position;
	pass->crc = winapi_crc32c(pass->crc, span, length);
	pass->bytes += length;
	return 0;
}

void winapi_host_perf_test(struct winapi_host_context *host, const struct winapi_host_request *request,
			   struct winapi_host_reply *reply)
{
	const struct winapi_message *message = request->message;
	struct winapi_perf_test_request test;
	struct winapi_perf_test_reply result;
	struct read_pass pass = { 0 };
	uint64_t start = winapi_clock_now_ns();
	unsigned int i;

	if (winapi_perf_test_request_decode(message->inline_data, message->inline_length, &test) != 0 ||
	    (test.test_type != WINAPI_PERF_LATENCY && test.test_type != WINAPI_PERF_THROUGHPUT) ||
	    (test.test_type == WINAPI_PERF_THROUGHPUT && message->buffer_count == 0)) {
		reply->status = WINAPI_STATUS_BAD_MESSAGE;
		return;
	}
	if (test.test_type == WINAPI_PERF_THROUGHPUT) {
		if (winapi_host_buffers_check(host, request) != 0) {
			reply->status = WINAPI_STATUS_BAD_BUFFER;
			return;
		}
		for (i = 0; i < message->buffer_count; i++)
			winapi_host_buffer_walk(host, request, i, read_span, &pass);
	}

	memset(&result, 0, sizeof(result));
	result.sequence = test.sequence;
	result.bytes_processed = pass.bytes;
	result.checksum = pass.crc;
	result.host_ns = winapi_clock_now_ns() - start;
	winapi_perf_test_reply_encode(&result, winapi_host_reply_space(host));
	reply->status = WINAPI_STATUS_OK;
	reply->data = winapi_host_reply_space(host);
	reply->length = sizeof(result);
}
