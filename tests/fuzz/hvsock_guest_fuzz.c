/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the guest side of the Hyper-V socket transport
 * (drivers/hvsock/hvsock_transport.c) reading a hostile host's stream.
 *
 * The transport is attached as liblowlat attaches it (its open, with WINAPI_SOCKET_PATH naming
 * an AF_UNIX socket this process listens on); the accepted end plays the host. Each input puts
 * five requests in flight on one queue: an echo, a BUFFER_TEST WRITE (the host sends the
 * buffer's bytes back), a BUFFER_TEST READ (it only reads them), a generic call with one
 * buffer the host writes and one it only reads, and a LIST. Then the input is written as the
 * host's bytes, the host's end is shut, and the queue is reaped until every request ended (the
 * receiver fails what is left when the stream ends). Request ids are the table's, so a seed
 * names them: queue 1, slots 0-4, generation 0x10001 (281479271743489 + slot << 32).
 *
 * What must hold: every request ends exactly once, with 0 or a negative errno and a length
 * within its reply buffer; a request that succeeded changed nothing of its reply buffer past
 * that length; one the host refused (its status, or a reply that failed the checks) changed
 * nothing of it; a buffer the host only reads is never written; the canaries around every
 * reply buffer and buffer stay as they were.
 *
 * Input: the host's stream, as is (frames: le32 length, JSON header, payload).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <winapi/log.h>
#include <winapi/protocol.h>
#include <winapi_internal/transport.h>

#include "fuzz_check.h"

extern const struct winapi_transport winapi_transport_hvsock;

#define CANARY 64u
#define PATTERN 0xa5u
#define REQUESTS 5u
#define BUFFER_SIZE 256u

/* Guest memory with canaries: a reply buffer, or a buffer the host reaches. */
struct region {
	uint8_t *block;
	uint32_t size;
};

struct request {
	struct region reply;
	struct region buffers[2];
	unsigned int buffer_count;
	bool host_writes[2];   /* the host may write buffer i (when the request does not fail) */
	bool reaped;
};

static char socket_dir[64];
static char socket_path[108];
static int listen_fd = -1;

static void remove_socket(void)
{
	unlink(socket_path);
	rmdir(socket_dir);
}

/* Once: the listening socket the transport connects to, named in its environment. */
static void listen_once(void)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };

	if (listen_fd >= 0)
		return;
	snprintf(socket_dir, sizeof(socket_dir), "/tmp/hvsock-guest-fuzz.XXXXXX");
	FUZZ_CHECK(mkdtemp(socket_dir) != NULL);
	snprintf(socket_path, sizeof(socket_path), "%s/host", socket_dir);
	memcpy(address.sun_path, socket_path, strlen(socket_path) + 1);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(listen_fd >= 0);
	FUZZ_CHECK(bind(listen_fd, (struct sockaddr *)&address, sizeof(address)) == 0);
	FUZZ_CHECK(listen(listen_fd, 4) == 0);
	atexit(remove_socket);
	FUZZ_CHECK(setenv("WINAPI_SOCKET_PATH", socket_path, 1) == 0);
	/* A stalled frame waits this long at most; the stream here always ends, so it never does. */
	FUZZ_CHECK(setenv("WINAPI_TIMEOUT_MS", "5000", 1) == 0);
	/* Every header that does not decode is logged at ERR: nothing is printed, or fuzzing crawls. */
	winapi_log_set_level((enum winapi_log_level)(WINAPI_LOG_ERR - 1));
}

static void region_init(struct region *region, uint32_t size)
{
	region->size = size;
	region->block = malloc(2 * CANARY + size);
	FUZZ_CHECK(region->block != NULL);
	memset(region->block, PATTERN, 2 * CANARY + size);
}

static uint8_t *region_data(const struct region *region)
{
	return region->block + CANARY;
}

/* Nothing changed outside [0, written) of the region's data (written may be its size). */
static void region_check(const struct region *region, uint32_t written)
{
	uint32_t i;

	for (i = 0; i < CANARY; i++)
		FUZZ_CHECK(region->block[i] == PATTERN && region_data(region)[region->size + i] == PATTERN);
	for (i = written; i < region->size; i++)
		FUZZ_CHECK(region_data(region)[i] == PATTERN);
}

/* Add request @p k of the five (its regions allocated) to @p queue. */
static void add_request(const struct winapi_transport_ops *ops, void *queue, struct request *request, unsigned int k)
{
	static const uint8_t echo_text[] = "fuzz the guest";
	static const uint8_t write_test[16] = { WINAPI_BUFFER_OP_WRITE, 0, 0, 0, 0xdd, 0xcc, 0xbb, 0xaa };
	static const uint8_t read_test[16] = { WINAPI_BUFFER_OP_READ };
	static const uint8_t terms[8] = { 2, 0, 0, 0, 3 };
	static const uint8_t list_page[8] = { 0 };
	static const uint8_t access[2] = { WINAPI_ACCESS_HOST_WRITES, WINAPI_ACCESS_HOST_READS };
	struct winapi_call_buffer buffers[2];
	struct winapi_call call;
	unsigned int i;

	memset(request, 0, sizeof(*request));
	switch (k) {
	case 0:
		call = (struct winapi_call){ .api_id = WINAPI_API_ECHO, .request_data = echo_text,
					     .request_length = sizeof(echo_text), .reply_capacity = 32 };
		break;
	case 1:
	case 2:
		call = (struct winapi_call){ .api_id = WINAPI_API_BUFFER_TEST, .request_data = k == 1 ? write_test : read_test,
					     .request_length = 16, .reply_capacity = 32 };
		request->buffer_count = 1;
		request->host_writes[0] = k == 1;
		break;
	case 3:
		call = (struct winapi_call){ .api_id = 42, .api_version = 0x0100, .api_name = "example.add",
					     .buffer_access = access, .request_data = terms,
					     .request_length = sizeof(terms), .reply_capacity = 8 };
		request->buffer_count = 2;
		request->host_writes[0] = true;
		break;
	default:
		call = (struct winapi_call){ .api_id = WINAPI_API_LIST, .request_data = list_page,
					     .request_length = sizeof(list_page), .reply_capacity = 512 };
		break;
	}
	region_init(&request->reply, call.reply_capacity);
	call.reply_data = region_data(&request->reply);
	for (i = 0; i < request->buffer_count; i++) {
		region_init(&request->buffers[i], BUFFER_SIZE);
		buffers[i] = (struct winapi_call_buffer){ .kind = WINAPI_BUFFER_GPA_DIRECT,
							  .address = region_data(&request->buffers[i]),
							  .length = BUFFER_SIZE };
	}
	call.buffers = request->buffer_count != 0 ? buffers : NULL;
	call.buffer_count = request->buffer_count;
	call.timeout_ms = 60000;
	FUZZ_CHECK(ops->queue_add(queue, &call, request) == 0);
}

static void check_completion(const struct winapi_call_completion *completion, struct request *requests)
{
	struct request *request = completion->user_data;
	int status = completion->status;
	/* The stream broke half-way through a reply: what had landed stays. */
	bool broken = status == -ENOTCONN || status == -EIO || status == -ETIMEDOUT;
	unsigned int i;

	FUZZ_CHECK(request >= requests && request < requests + REQUESTS && !request->reaped);
	request->reaped = true;
	FUZZ_CHECK(status == 0 || (status < 0 && status >= -4095));
	FUZZ_CHECK(completion->reply_length <= request->reply.size);
	region_check(&request->reply, status == 0 ? completion->reply_length : broken ? request->reply.size : 0);
	for (i = 0; i < request->buffer_count; i++)
		region_check(&request->buffers[i],
			     request->host_writes[i] && (status == 0 || broken) ? BUFFER_SIZE : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct winapi_call_completion completions[REQUESTS];
	static struct request requests[REQUESTS];
	struct winapi_transport_instance instance;
	const struct winapi_transport_ops *ops;
	unsigned int k, reaped = 0;
	void *queue;
	int host_fd, n;
	size_t at = 0;
	ssize_t sent;

	listen_once();
	FUZZ_CHECK(winapi_transport_hvsock.open(false, &instance) == 0);
	ops = instance.ops;
	host_fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	FUZZ_CHECK(host_fd >= 0);
	FUZZ_CHECK(ops->queue_create(instance.context, REQUESTS, 60000, &queue) == 0);
	for (k = 0; k < REQUESTS; k++)
		add_request(ops, queue, &requests[k], k);
	FUZZ_CHECK(ops->queue_submit(queue) == (int)REQUESTS);

	/* The host's bytes; it stops when the guest stops reading (then the rest is not heard). */
	while (at < size) {
		sent = send(host_fd, data + at, size - at, MSG_NOSIGNAL);
		if (sent <= 0)
			break;
		at += (size_t)sent;
	}
	shutdown(host_fd, SHUT_WR);

	/* The stream has ended: whatever was not answered fails, nothing waits past that. */
	while (reaped < REQUESTS) {
		n = ops->queue_reap(queue, completions, REQUESTS, REQUESTS - reaped, -1);
		FUZZ_CHECK(n > 0 && (unsigned int)n <= REQUESTS - reaped);
		for (k = 0; k < (unsigned int)n; k++)
			check_completion(&completions[k], requests);
		reaped += (unsigned int)n;
	}

	ops->queue_destroy(queue);
	ops->close(instance.context);
	close(host_fd);
	for (k = 0; k < REQUESTS; k++) {
		free(requests[k].reply.block);
		free(requests[k].buffers[0].block);
		free(requests[k].buffers[1].block);
	}
	return 0;
}
