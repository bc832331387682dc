/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * BUFFER_TEST: the host works directly on the guest's buffers (no copy on either side):
 * WRITE fills them with the pattern, READ checksums them, VERIFY checks the pattern. The
 * CRC32C runs over the bytes in descriptor order, continuing from the request's seed.
 */
#include <stdbool.h>
#include <string.h>

#include "host_private.h"

/* The pattern laid out for any starting phase: copy from pattern_block + (position & 3). */
#define PATTERN_BLOCK_SIZE (VMBUS_PAGE_SIZE + 4)

struct buffer_pass {
	const struct winapi_buffer_test_request *request;
	uint8_t pattern_block[PATTERN_BLOCK_SIZE];
	uint32_t crc;
	uint64_t bytes;          /* over the whole request, for first_mismatch */
	uint64_t mismatches;
	uint64_t first_mismatch;
};

static void fill_pattern_block(struct buffer_pass *pass, uint32_t pattern)
{
	unsigned int i;

	for (i = 0; i < PATTERN_BLOCK_SIZE; i++)
		pass->pattern_block[i] = winapi_pattern_byte(pattern, i);
}

/* Spans come at most a page long (GPA-direct) or whole (GPADL): go page by page either way. */
static int visit_span(uint8_t *span, size_t length, uint64_t position, void *context)
{
	struct buffer_pass *pass = context;
	size_t done = 0;

	while (done < length) {
		size_t chunk = length - done < VMBUS_PAGE_SIZE ? length - done : VMBUS_PAGE_SIZE;
		const uint8_t *expected = pass->pattern_block + ((position + done) & 3);
		uint8_t *bytes = span + done;
		size_t ahead;

		/*
		 * The hardware prefetcher stops at page boundaries: ask for the next page now, so
		 * that it arrives while this one is compared and checksummed (VERIFY would
		 * otherwise wait for memory, then compute, never both at once).
		 */
		for (ahead = chunk; ahead < 2 * VMBUS_PAGE_SIZE && done + ahead < length; ahead += 64)
			__builtin_prefetch(bytes + ahead);

		switch (pass->request->operation) {
		case WINAPI_BUFFER_OP_WRITE:
			memcpy(bytes, expected, chunk);
			break;
		case WINAPI_BUFFER_OP_VERIFY:
			if (memcmp(bytes, expected, chunk) != 0) {
				size_t i;

				for (i = 0; i < chunk; i++) {
					if (bytes[i] == expected[i])
						continue;
					if (pass->mismatches++ == 0)
						pass->first_mismatch = pass->bytes + done + i;
				}
			}
			break;
		default:
			break;
		}
		pass->crc = winapi_crc32c(pass->crc, bytes, chunk);
		done += chunk;
	}
	pass->bytes += length;
	return 0;
}

void winapi_host_buffer_test(struct winapi_host_context *host, const struct winapi_host_request *request,
			     struct winapi_host_reply *reply)
{
	const struct winapi_message *message = request->message;
	struct winapi_buffer_test_request test;
	struct winapi_buffer_test_reply result;
	struct buffer_pass pass;
	unsigned int i;

	if (winapi_buffer_test_request_decode(message->inline_data, message->inline_length, &test) != 0 ||
	    message->buffer_count == 0 ||
	    (test.operation != WINAPI_BUFFER_OP_WRITE && test.operation != WINAPI_BUFFER_OP_READ &&
	     test.operation != WINAPI_BUFFER_OP_VERIFY)) {
		reply->status = WINAPI_STATUS_BAD_MESSAGE;
		return;
	}
	/* All or nothing: no byte is written before every buffer is known to be reachable. */
	if (winapi_host_buffers_check(host, request) != 0) {
		reply->status = WINAPI_STATUS_BAD_BUFFER;
		return;
	}

	memset(&pass, 0, sizeof(pass));
	pass.request = &test;
	pass.crc = test.crc_seed;
	pass.first_mismatch = UINT64_MAX;
	fill_pattern_block(&pass, test.pattern);
	for (i = 0; i < message->buffer_count; i++)
		winapi_host_buffer_walk(host, request, i, visit_span, &pass);

	memset(&result, 0, sizeof(result));
	result.bytes_processed = pass.bytes;
	result.checksum = pass.crc;
	result.mismatches = pass.mismatches;
	result.first_mismatch = pass.first_mismatch;
	winapi_buffer_test_reply_encode(&result, winapi_host_reply_space(host));
	reply->status = WINAPI_STATUS_OK;
	reply->data = winapi_host_reply_space(host);
	reply->length = sizeof(result);
}
