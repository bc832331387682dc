/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <winapi/lowlat.h>
#include <winapi_internal/clock.h>

#include "load.h"

#define LOAD_MAX_DEPTH 64u
#define LOAD_BUFFER_SIZE (16u << 10)
#define LOAD_ECHO_MAX 512u

struct slot {
	bool busy;
	int kind;               /* 0 echo, 1 buffer WRITE, 2 buffer READ */
	size_t length;
	uint32_t pattern;
	uint8_t input[LOAD_ECHO_MAX];
	uint8_t output[LOAD_ECHO_MAX];
	winapi_buffer_t buffer;
	winapi_buffer_test_result_t result;
};

static uint32_t next_random(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

static int add_request(winapi_queue_t queue, struct slot *slot, uint32_t *random_state)
{
	uint32_t choice = next_random(random_state) % 10, i;

	slot->busy = true;
	if (choice < 8) {
		slot->kind = 0;
		slot->length = 1 + next_random(random_state) % sizeof(slot->input);
		for (i = 0; i < slot->length; i++)
			slot->input[i] = (uint8_t)next_random(random_state);
		memset(slot->output, 0, slot->length);
		return winapi_queue_echo(queue, slot->input, slot->length, slot->output, sizeof(slot->output), slot);
	}
	if (choice == 8) {
		slot->kind = 1;
		slot->pattern = next_random(random_state);
		return winapi_queue_buffer_test(queue, &slot->buffer, 1, WINAPI_BUFFER_OP_WRITE, slot->pattern,
						&slot->result, slot);
	}
	slot->kind = 2;
	for (i = 0; i < LOAD_BUFFER_SIZE; i += 4) {
		uint32_t word = next_random(random_state);

		memcpy((uint8_t *)slot->buffer.data + i, &word, 4);
	}
	return winapi_queue_buffer_test(queue, &slot->buffer, 1, WINAPI_BUFFER_OP_READ, 0, &slot->result, slot);
}

/* Every byte that came back is checked against what the client knows it must be. */
static bool answer_correct(const struct slot *slot, const winapi_completion_t *completion)
{
	const uint8_t *bytes = slot->buffer.data;
	uint32_t i;

	switch (slot->kind) {
	case 0:
		return completion->length == slot->length && memcmp(slot->output, slot->input, slot->length) == 0;
	case 1:
		for (i = 0; i < LOAD_BUFFER_SIZE; i++)
			if (bytes[i] != winapi_pattern_byte(slot->pattern, i))
				return false;
		/* The checksum is of the bytes as they are now. */
		__attribute__((fallthrough));
	default:
		return slot->result.bytes_processed == LOAD_BUFFER_SIZE &&
		       slot->result.checksum == winapi_crc32c(0, slot->buffer.data, LOAD_BUFFER_SIZE);
	}
}

static bool finished(const struct load_options *options, const struct load_report *report, uint64_t deadline)
{
	uint64_t answered = report->completed + report->failed + report->corrupted;

	return (options->requests != 0 && answered >= options->requests) ||
	       (options->duration_ns != 0 && winapi_clock_now_ns() >= deadline);
}

int load_run(const struct load_options *options, struct load_report *report)
{
	unsigned int depth = options->depth < LOAD_MAX_DEPTH ? options->depth : LOAD_MAX_DEPTH;
	winapi_completion_t completions[LOAD_MAX_DEPTH];
	uint32_t random_state = options->seed | 1u;
	uint64_t submitted = 0, in_flight = 0, deadline;
	struct slot *slots = calloc(depth, sizeof(*slots));
	winapi_handle_t handle;
	winapi_queue_t queue;
	unsigned int i;
	int count, j, rc = -1;

	memset(report, 0, sizeof(*report));
	deadline = winapi_clock_now_ns() + options->duration_ns;
	handle = winapi_init();
	if (handle == NULL || slots == NULL)
		goto out_free;
	queue = winapi_queue_create(handle, depth, options->timeout_ms);
	if (queue == NULL)
		goto out_cleanup;
	for (i = 0; i < depth; i++)
		if (winapi_alloc_buffer(&slots[i].buffer, LOAD_BUFFER_SIZE) != 0)
			goto out_free_buffers;
	if (options->gated) {
		char byte;

		if (write(options->progress_fd, "", 1) != 1 || read(options->start_fd, &byte, 1) != 1)
			goto out_free_buffers;
	}
	while (!finished(options, report, deadline) || in_flight != 0) {
		for (i = 0; i < depth && !finished(options, report, deadline); i++) {
			if (slots[i].busy)
				continue;
			if (options->requests != 0 && submitted >= options->requests)
				break;
			if (add_request(queue, &slots[i], &random_state) != 0)
				goto out_free_buffers;
			submitted++;
			in_flight++;
		}
		if (winapi_queue_submit(queue) < 0)
			break;
		if (in_flight == 0)
			continue;
		count = winapi_queue_reap(queue, completions, depth, 1, options->timeout_ms + 5000);
		if (count <= 0)
			break;
		for (j = 0; j < count; j++) {
			struct slot *slot = completions[j].user_data;

			if (!slot->busy) {
				report->duplicated++;
				continue;
			}
			slot->busy = false;
			in_flight--;
			if (completions[j].status != 0) {
				report->failed++;
				report->timeouts += completions[j].status == -ETIMEDOUT;
			} else if (!answer_correct(slot, &completions[j])) {
				report->corrupted++;
			} else {
				report->completed++;
			}
			if (options->progress_fd >= 0 &&
			    (report->completed + report->failed + report->corrupted) % 1000 == 0)
				(void)!write(options->progress_fd, "", 1);
		}
	}
	report->unanswered = in_flight;
	rc = 0;
out_free_buffers:
	for (i = 0; i < depth; i++)
		winapi_free_buffer(&slots[i].buffer);
	winapi_queue_destroy(queue);
out_cleanup:
	winapi_cleanup(handle);
out_free:
	free(slots);
	return rc;
}
