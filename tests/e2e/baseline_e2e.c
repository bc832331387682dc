/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-bench's baseline does the same work as liblowlat, so that their ratio means something:
 * its echo returns the same bytes, and its host's WRITE, READ and VERIFY give the same bytes,
 * checksums and mismatch reports as the host emulator's over the same buffers. Not timed.
 * Also: a baseline host fed garbage stops with an error instead of crashing.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <winapi/lowlat.h>

#include "../../apps/winapi-bench/baseline.h"
#include "emulator.h"

#define PATTERN 0x1badcafeu

static struct emulator emulator;
static winapi_handle_t handle;
static struct baseline_client client = { .fd = -1, .next_id = 1 };
static pid_t server = -1;

/* A baseline host in a child process, as winapi-bench runs it. */
static int start_baseline(struct baseline_client *to, pid_t *pid)
{
	int sockets[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
		return -1;
	*pid = fork();
	if (*pid < 0)
		return -1;
	if (*pid == 0) {
		close(sockets[0]);
		_exit(baseline_serve(sockets[1]) == 0 ? 0 : 1);
	}
	close(sockets[1]);
	baseline_client_init(to, sockets[0]);
	return 0;
}

/* Close the client's end and return the host's exit status. */
static int stop_baseline(struct baseline_client *to, pid_t pid)
{
	int status = -1;

	close(to->fd);
	to->fd = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	return status;
}

static int group_setup(void **state)
{
	(void)state;
	/* Every call here must succeed: a loaded machine gets a minute, not the default 5 s. */
	setenv("WINAPI_TIMEOUT_MS", "60000", 1);
	if (emulator_prepare(&emulator, "baseline_e2e") != 0 || emulator_start(&emulator, NULL) != 0)
		return -1;
	handle = winapi_init();
	if (handle == NULL)
		return -1;
	return start_baseline(&client, &server);
}

static int group_teardown(void **state)
{
	int status;

	(void)state;
	winapi_cleanup(handle);
	emulator_cleanup(&emulator);
	status = stop_baseline(&client, server);
	/* The host saw a clean end of the connection. */
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void echo_both(const char *input)
{
	static char ours[WINAPI_MAX_INLINE_DATA + 1], theirs[WINAPI_MAX_INLINE_DATA + 1];

	memset(ours, 0x55, sizeof(ours));
	memset(theirs, 0x55, sizeof(theirs));
	assert_int_equal(winapi_echo(handle, input, ours, sizeof(ours)), 0);
	assert_int_equal(baseline_echo(&client, input, strlen(input), theirs, sizeof(theirs)), 0);
	assert_string_equal(ours, input);
	assert_string_equal(theirs, input);
}

/* The sizes winapi-bench measures, and text that JSON must escape. */
static void test_echo_same_bytes(void **state)
{
	static char text[WINAPI_MAX_INLINE_DATA + 1];
	size_t sizes[] = { 0, 1, 64, 1000, 3072 }, i, j;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		for (j = 0; j < sizes[i]; j++)
			text[j] = (char)('a' + j % 26);
		text[sizes[i]] = '\0';
		echo_both(text);
	}
	echo_both("quotes \" and backslashes \\ and\ttabs\nand newlines\r\n");
	echo_both("control \x01\x02\x1f bytes, UTF-8: \xc3\xa9t\xc3\xa9, \xe6\x97\xa5\xe6\x9c\xac, \xf0\x9f\x98\x80");
	echo_both("{\"json\": [\"inside\", 1, null]}");
	/* A reply too large for the caller's buffer is refused by both, not truncated. */
	{
		char small[4];

		assert_int_equal(winapi_echo(handle, "too long", small, sizeof(small)), -ENOBUFS);
		assert_int_equal(baseline_echo(&client, "too long", 8, small, sizeof(small)), -ENOBUFS);
	}
}

struct outcome {
	winapi_buffer_test_result_t ours;
	winapi_buffer_test_result_t theirs;
};

static void buffer_test_both(winapi_buffer_t *buffer, uint8_t *copy, int operation, struct outcome *outcome)
{
	assert_int_equal(winapi_buffer_test(handle, buffer, 1, operation, PATTERN, &outcome->ours), 0);
	assert_int_equal(baseline_buffer_test(&client, operation, copy, buffer->size, PATTERN, &outcome->theirs), 0);
	assert_int_equal(outcome->ours.bytes_processed, buffer->size);
	assert_int_equal(outcome->theirs.bytes_processed, buffer->size);
	assert_int_equal(outcome->ours.checksum, outcome->theirs.checksum);
	assert_int_equal(outcome->ours.status, outcome->theirs.status);
	assert_int_equal(outcome->ours.mismatches, outcome->theirs.mismatches);
	assert_true(outcome->ours.first_mismatch == outcome->theirs.first_mismatch);
	/* And the bytes themselves: both hosts left the buffers alike. */
	assert_memory_equal(buffer->data, copy, buffer->size);
}

/* WRITE, READ, VERIFY, and VERIFY after a byte goes bad, over winapi-bench's buffer sizes. */
static void test_buffer_test_same_checksums(void **state)
{
	size_t sizes[] = { 4096, 64u << 10, 1u << 20, 16u << 20 }, i;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct outcome outcome;
		winapi_buffer_t buffer;
		uint8_t *copy = malloc(sizes[i]);

		assert_non_null(copy);
		assert_int_equal(winapi_alloc_buffer(&buffer, sizes[i]), 0);
		memset(copy, 0, sizes[i]);

		buffer_test_both(&buffer, copy, WINAPI_BUFFER_OP_WRITE, &outcome);
		assert_int_equal(outcome.ours.checksum, winapi_crc32c(0, buffer.data, buffer.size));
		buffer_test_both(&buffer, copy, WINAPI_BUFFER_OP_READ, &outcome);
		buffer_test_both(&buffer, copy, WINAPI_BUFFER_OP_VERIFY, &outcome);
		assert_int_equal(outcome.ours.status, 0);

		((uint8_t *)buffer.data)[sizes[i] / 3] ^= 0x40;
		copy[sizes[i] / 3] ^= 0x40;
		buffer_test_both(&buffer, copy, WINAPI_BUFFER_OP_VERIFY, &outcome);
		assert_int_equal(outcome.ours.status, -EILSEQ);
		assert_int_equal(outcome.ours.mismatches, 1);
		assert_true(outcome.ours.first_mismatch == sizes[i] / 3);

		winapi_free_buffer(&buffer);
		free(copy);
	}
}

/* Frames the baseline host must refuse: it stops with an error, it does not crash or hang. */
static void test_baseline_host_refuses_garbage(void **state)
{
	/* declared: the length the frame claims; -1: the text's own length. */
	static const struct {
		const char *name;
		const char *frame;
		int64_t declared;
	} frames[] = {
		{ "not JSON", "{{{{", -1 },
		{ "not an object", "[1,2,3]", -1 },
		{ "no api", "{\"request_id\": 1}", -1 },
		{ "unknown api", "{\"request_id\": 1, \"api\": \"format_disk\"}", -1 },
		{ "echo without data", "{\"request_id\": 1, \"api\": \"echo\"}", -1 },
		{ "echo of a number", "{\"request_id\": 1, \"api\": \"echo\", \"data\": 5}", -1 },
		{ "negative payload",
		  "{\"request_id\":1,\"api\":\"buffer_test\",\"op\":\"read\",\"pattern\":0,\"payload_size\":-5}", -1 },
		{ "huge payload",
		  "{\"request_id\":1,\"api\":\"buffer_test\",\"op\":\"read\",\"pattern\":0,\"payload_size\":99999999999}",
		  -1 },
		{ "unknown operation",
		  "{\"request_id\":1,\"api\":\"buffer_test\",\"op\":\"erase\",\"pattern\":0,\"payload_size\":4096}", -1 },
		{ "payload cut short",
		  "{\"request_id\":1,\"api\":\"buffer_test\",\"op\":\"verify\",\"pattern\":0,\"payload_size\":4096}", -1 },
		{ "frame cut short", "{\"request_id\": 1, \"api\": \"echo\"", 100 },
		{ "length of zero", "", 0 },
		{ "length too large", "x", 1 << 30 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		struct baseline_client other = { .fd = -1, .next_id = 1 };
		size_t text_length = strlen(frames[i].frame);
		/* Little-endian, as on the machines this runs on. */
		uint32_t length = frames[i].declared < 0 ? (uint32_t)text_length : (uint32_t)frames[i].declared;
		pid_t pid;
		int status;

		assert_int_equal(start_baseline(&other, &pid), 0);
		assert_int_equal(send(other.fd, &length, sizeof(length), MSG_NOSIGNAL), (ssize_t)sizeof(length));
		if (text_length != 0)
			assert_int_equal(send(other.fd, frames[i].frame, text_length, MSG_NOSIGNAL), (ssize_t)text_length);
		shutdown(other.fd, SHUT_WR); /* nothing more comes: a host waiting for more sees the end */
		status = stop_baseline(&other, pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
			fail_msg("%s: the baseline host ended with status %#x, want exit 1", frames[i].name, status);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_same_bytes),
		cmocka_unit_test(test_buffer_test_same_checksums),
		cmocka_unit_test(test_baseline_host_refuses_garbage),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("baseline does the same work", tests, group_setup, group_teardown);
}
