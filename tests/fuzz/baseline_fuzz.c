/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the framing and JSON parsing of winapi-bench's socket+JSON baseline
 * (apps/winapi-bench/baseline.c), from both ends of its stream socket.
 *
 * The input is what the peer sent: it is queued on one end of an AF_UNIX stream socketpair,
 * that end is shut for writing (so the stream ends where the input does), and the code under
 * test runs on the other end. What it sends back is not read: the socket is non-blocking for
 * the host (a reply that does not fit ends the session with -EAGAIN, as a stalled peer
 * would), and small for the guest.
 *
 * Input: +0 u8 who reads (value % 4): 0 the host (baseline_serve()), 1 the guest's
 * baseline_echo(), 2 baseline_echo_batch() of 3 requests, 3 baseline_buffer_test();
 * +1 u8 for 3: the operation (1 + value % 3); +2 u16 the buffer's length (value % 4096 + 1);
 * then the stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <winapi/protocol.h>

#include "../../apps/winapi-bench/baseline.h"
#include "fuzz_check.h"

#define INPUT_HEADER 4u
/* Well below what a unix stream socket queues by default, so queuing the input never blocks. */
#define MAX_STREAM (64u << 10)

/* Errors a reader of a hostile stream may return: malformed, cut short, or nothing at all. */
static bool expected_error(int rc)
{
	return rc == -EPROTO || rc == -ECONNRESET || rc == -EPIPE || rc == -EAGAIN || rc == -ENOBUFS;
}

static void run_guest(int fd, unsigned int who, int operation, size_t length)
{
	struct baseline_client client;
	winapi_buffer_test_result_t result;
	char output[WINAPI_MAX_INLINE_DATA + 1];
	uint8_t *buffer;
	int rc;

	baseline_client_init(&client, fd);
	switch (who) {
	case 1:
		rc = baseline_echo(&client, "fuzz", 4, output, sizeof(output));
		FUZZ_CHECK(rc == 0 || expected_error(rc));
		if (rc == 0)
			FUZZ_CHECK(strlen(output) < sizeof(output));
		break;
	case 2:
		rc = baseline_echo_batch(&client, "fuzz", 4, 3);
		FUZZ_CHECK(rc == 0 || expected_error(rc));
		break;
	default:
		/* Exactly the buffer's length: a WRITE answer must not spill past it. */
		buffer = calloc(1, length);
		FUZZ_CHECK(buffer != NULL);
		rc = baseline_buffer_test(&client, operation, buffer, length, 0x5a5aa5a5u, &result);
		FUZZ_CHECK(rc == 0 || expected_error(rc));
		if (rc == 0)
			FUZZ_CHECK(result.bytes_processed == length);
		free(buffer);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *stream = data + INPUT_HEADER;
	size_t stream_size = size - INPUT_HEADER;
	unsigned int who;
	int sockets[2], rc;

	if (size < INPUT_HEADER || stream_size > MAX_STREAM)
		return 0;
	who = data[0] % 4u;
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) == 0);
	if (stream_size != 0)
		FUZZ_CHECK(send(sockets[1], stream, stream_size, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)stream_size);
	FUZZ_CHECK(shutdown(sockets[1], SHUT_WR) == 0);

	if (who == 0) {
		FUZZ_CHECK(fcntl(sockets[0], F_SETFL, O_NONBLOCK) == 0);
		rc = baseline_serve(sockets[0]);
		FUZZ_CHECK(rc == 0 || expected_error(rc));
	} else {
		run_guest(sockets[0], who, 1 + data[1] % 3, (size_t)(data[2] | data[3] << 8) % 4096u + 1);
	}
	close(sockets[0]);
	close(sockets[1]);
	return 0;
}
