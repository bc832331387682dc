/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-pmd --backend inline end to end: the emulator's host inside the daemon, run by its
 * two workers between their passes (no winapi-host-sim, no host thread), and clients that
 * link liblowlat with WINAPI_TRANSPORT=pmd.
 *
 *  - the API table is the emulator's, winapi.tick included;
 *  - echoes of 0, 64 and 3072 random bytes come back byte for byte;
 *  - zero-copy buffers (slices of the daemon's guest RAM): WRITE fills every byte with the
 *    pattern, VERIFY finds no mismatch and the same CRC32C, and a flipped byte is found at its
 *    index; READ of random bytes reports our own CRC32C;
 *  - a batch of 32 echoes through one queue, one submission: every answer checked;
 *  - tick events arrive, in order, through receives the inline host holds between passes;
 *  - two client processes keep mixed checked requests in flight (tests/e2e/load.c): nothing
 *    fails, is corrupted or goes unanswered;
 *  - SIGTERM: the daemon exits 0.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <winapi/lowlat.h>
#include <winapi_internal/pmd.h>

#include "emulator.h"
#include "load.h"

#define LOAD_CLIENTS 2u
#define LOAD_REQUESTS 50000u
#define BATCH 32u

static struct emulator pmd;
static char prefix[64];
static winapi_handle_t handle;

static int group_setup(void **state)
{
	const char *arguments[] = { "--lcores", "0,1", "--backend", "inline", "--file-prefix", NULL,
				    "--pool-size", "32", "--log-level", "info", NULL };

	(void)state;
	if (emulator_prepare_program(&pmd, "pmd-inline-e2e", "winapi-pmd") != 0)
		return -1;
	snprintf(prefix, sizeof(prefix), "pmd-inline-e2e-%d", (int)getpid());
	arguments[5] = prefix;
	/* A loaded machine (sanitizers, neighbours) must not fail a call: a minute each. */
	setenv("WINAPI_TIMEOUT_MS", "60000", 1);
	setenv("WINAPI_TRANSPORT", "pmd", 1);
	setenv("WINAPI_PMD_SOCKET", pmd.socket_path, 1);
	if (emulator_start(&pmd, arguments) != 0)
		return -1;
	handle = winapi_init();
	return handle != NULL ? 0 : -1;
}

static int group_teardown(void **state)
{
	char directory[108];

	(void)state;
	winapi_cleanup(handle);
	emulator_cleanup(&pmd);
	if (winapi_pmd_runtime_dir(prefix, false, directory, sizeof(directory)) == 0)
		rmdir(directory);
	return 0;
}

static void fill_random(uint8_t *bytes, size_t length, uint32_t *state)
{
	size_t i;

	for (i = 0; i < length; i++) {
		*state = *state * 1103515245u + 12345u;
		bytes[i] = (uint8_t)(*state >> 16);
	}
}

static void test_api_table_is_the_emulators(void **state)
{
	winapi_api_info_t info;

	(void)state;
	assert_int_equal(winapi_api_lookup(handle, "winapi.echo", 1, &info), 0);
	assert_int_equal(winapi_api_lookup(handle, "winapi.buffer_test", 1, &info), 0);
	assert_int_equal(winapi_api_lookup(handle, "winapi.tick", 1, &info), 0);
	assert_true(info.flags & WINAPI_API_FLAG_EVENT_SOURCE);
}

static void test_echo(void **state)
{
	static const size_t sizes[] = { 0, 64, 3072 };
	static uint8_t input[3072], output[3072];
	winapi_api_info_t echo;
	uint32_t seed = 7;
	size_t i, length;

	(void)state;
	assert_int_equal(winapi_api_lookup(handle, "winapi.echo", 1, &echo), 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		winapi_api_call_t call = { .api = echo.api_id, .version_major = 1, .input = input,
					   .input_length = sizes[i], .output = output, .output_size = sizeof(output) };

		fill_random(input, sizes[i], &seed);
		memset(output, 0, sizeof(output));
		assert_int_equal(winapi_call_api(handle, &call, &length), 0);
		assert_int_equal(length, sizes[i]);
		assert_memory_equal(output, input, sizes[i]);
	}
}

static void test_buffers_write_verify_read(void **state)
{
	const uint32_t pattern = 0xa5c3e10fu;
	winapi_buffer_test_result_t written, verified, read;
	winapi_buffer_t buffer;
	uint32_t seed = 11, expected;
	uint8_t *bytes;
	size_t i;

	(void)state;
	assert_int_equal(winapi_alloc_buffer(&buffer, 1u << 20), 0);
	bytes = buffer.data;
	assert_int_equal(winapi_buffer_test(handle, &buffer, 1, WINAPI_BUFFER_OP_WRITE, pattern, &written), 0);
	assert_int_equal(written.bytes_processed, buffer.size);
	for (i = 0; i < buffer.size; i++)
		if (bytes[i] != (uint8_t)(pattern >> (8 * (i % 4))))
			fail_msg("byte %zu is 0x%02x after WRITE", i, bytes[i]);
	assert_int_equal(written.checksum, winapi_crc32c(0, bytes, buffer.size));

	assert_int_equal(winapi_buffer_test(handle, &buffer, 1, WINAPI_BUFFER_OP_VERIFY, pattern, &verified), 0);
	assert_int_equal(verified.status, 0);
	assert_int_equal(verified.mismatches, 0);
	assert_int_equal(verified.checksum, written.checksum);

	bytes[4097] ^= 0xff;
	assert_int_equal(winapi_buffer_test(handle, &buffer, 1, WINAPI_BUFFER_OP_VERIFY, pattern, &verified), 0);
	assert_int_equal(verified.status, -EILSEQ);
	assert_int_equal(verified.mismatches, 1);
	assert_int_equal(verified.first_mismatch, 4097);

	fill_random(bytes, buffer.size, &seed);
	expected = winapi_crc32c(0, bytes, buffer.size);
	assert_int_equal(winapi_buffer_test(handle, &buffer, 1, WINAPI_BUFFER_OP_READ, 0, &read), 0);
	assert_int_equal(read.bytes_processed, buffer.size);
	assert_int_equal(read.checksum, expected);
	winapi_free_buffer(&buffer);
}

static void test_queue_batch(void **state)
{
	static uint8_t input[BATCH][64], output[BATCH][64];
	winapi_completion_t done[BATCH];
	bool seen[BATCH] = { false };
	winapi_queue_t queue;
	uint32_t seed = 13;
	unsigned int i, reaped = 0;
	int n;

	(void)state;
	queue = winapi_queue_create(handle, 2 * BATCH, -1);
	assert_non_null(queue);
	for (i = 0; i < BATCH; i++) {
		fill_random(input[i], sizeof(input[i]), &seed);
		assert_int_equal(winapi_queue_echo(queue, input[i], sizeof(input[i]), output[i], sizeof(output[i]),
						   &seen[i]), 0);
	}
	assert_int_equal(winapi_queue_submit(queue), BATCH);
	while (reaped < BATCH) {
		n = winapi_queue_reap(queue, done, BATCH, BATCH - reaped, 60000);
		assert_true(n > 0);
		for (i = 0; i < (unsigned int)n; i++) {
			unsigned int index = (unsigned int)((bool *)done[i].user_data - seen);

			assert_true(index < BATCH);
			assert_false(seen[index]);
			seen[index] = true;
			assert_int_equal(done[i].status, 0);
			assert_int_equal(done[i].length, sizeof(input[index]));
			assert_memory_equal(output[index], input[index], sizeof(input[index]));
		}
		reaped += (unsigned int)n;
	}
	winapi_queue_destroy(queue);
}

static void test_tick_events(void **state)
{
	const uint32_t period_ms = 20;
	winapi_event_t events[4];
	winapi_completion_t done;
	winapi_api_info_t tick;
	uint64_t subscription, last = 0;
	winapi_queue_t queue;
	unsigned int received = 0, i;

	(void)state;
	assert_int_equal(winapi_api_lookup(handle, "winapi.tick", 1, &tick), 0);
	assert_int_equal(winapi_subscribe(handle, tick.api_id, 1, &period_ms, sizeof(period_ms), 64, &subscription), 0);
	queue = winapi_queue_create(handle, 4, -1);
	assert_non_null(queue);
	/* The workers have nothing else to do: they sleep, and wake for the host's events. */
	while (received < 5) {
		assert_int_equal(winapi_queue_receive_events(queue, subscription, events, 4, events), 0);
		assert_int_equal(winapi_queue_submit(queue), 1);
		assert_int_equal(winapi_queue_reap(queue, &done, 1, 1, 60000), 1);
		assert_int_equal(done.status, 0);
		assert_true(done.length >= 1 && done.length <= 4);
		for (i = 0; i < done.length; i++) {
			assert_int_equal(events[i].subscription, subscription);
			assert_true(events[i].sequence > last);
			last = events[i].sequence;
		}
		received += (unsigned int)done.length;
	}
	assert_int_equal(winapi_unsubscribe(handle, subscription), 0);
	winapi_queue_destroy(queue);
}

static void test_clients_under_load(void **state)
{
	struct load_report reports[LOAD_CLIENTS];
	pid_t children[LOAD_CLIENTS];
	int pipes[LOAD_CLIENTS][2], status;
	unsigned int i;

	(void)state;
	for (i = 0; i < LOAD_CLIENTS; i++) {
		assert_int_equal(pipe(pipes[i]), 0);
		children[i] = fork();
		assert_true(children[i] >= 0);
		if (children[i] == 0) {
			const struct load_options options = { .requests = LOAD_REQUESTS, .depth = 32, .seed = 101 + i,
							      .progress_fd = -1, .timeout_ms = 60000, .start_fd = -1 };
			struct load_report report = { 0 };
			int rc = load_run(&options, &report);

			(void)!write(pipes[i][1], &report, sizeof(report));
			_exit(rc == 0 ? 0 : 1);
		}
		close(pipes[i][1]);
	}
	for (i = 0; i < LOAD_CLIENTS; i++) {
		assert_int_equal(waitpid(children[i], &status, 0), children[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		assert_int_equal(read(pipes[i][0], &reports[i], sizeof(reports[i])), sizeof(reports[i]));
		close(pipes[i][0]);
		assert_int_equal(reports[i].completed, LOAD_REQUESTS);
		assert_int_equal(reports[i].failed, 0);
		assert_int_equal(reports[i].corrupted, 0);
		assert_int_equal(reports[i].duplicated, 0);
		assert_int_equal(reports[i].unanswered, 0);
	}
}

static void test_sigterm_exits_0(void **state)
{
	int status;

	(void)state;
	winapi_cleanup(handle);
	handle = NULL;
	status = emulator_stop(&pmd, SIGTERM);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(emulator_log_contains(&pmd, "stopped"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api_table_is_the_emulators),
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_buffers_write_verify_read),
		cmocka_unit_test(test_queue_batch),
		cmocka_unit_test(test_tick_events),
		cmocka_unit_test(test_clients_under_load),
		cmocka_unit_test(test_sigterm_exits_0),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
