/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hvsock transport end to end: liblowlat (WINAPI_TRANSPORT=hvsock) against winapi-hostd on
 * AF_UNIX (standing in for AF_VSOCK), many requests in flight from several threads, an API
 * this test registers and serves in its own process (the generic frame), a hostile client
 * against the service, a hostile host (played here) against the library, a host that predates
 * the API table, the service dying under load, and the environment's refusals.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include <winapi_internal/clock.h>
#include <winapi_internal/host_api.h>
#include <winapi_internal/host_socket.h>
#include <winapi_internal/hvsock.h>
#include <winapi/lowlat.h>

#include "emulator.h"

/*
 * Calls that must succeed have a minute, which a loaded machine never takes; a check that
 * expects a timeout sets a short deadline for itself.
 */
#define GROUP_TIMEOUT_MS "60000"

static struct emulator hostd;
/*
 * A second service for the one check of its --timeout: a guest that stops inside a frame
 * loses its connection after 2 s. The shared one keeps the default, which no guest merely
 * waiting for a CPU on a loaded machine reaches.
 */
static struct emulator strict_hostd;
static const char *const strict_hostd_arguments[] = { "--timeout", "2", NULL };
/* A third for the deadlines that hold against a trickling or idling client, and the per-peer cap. */
static struct emulator limits_hostd;
static const char *const limits_hostd_arguments[] = { "--timeout", "2", "--idle-timeout", "3", "--max-per-peer", "3",
						      NULL };

static int start_hostd(void **state)
{
	(void)state;
	if (emulator_prepare_program(&hostd, "hvsock_e2e", "winapi-hostd") != 0)
		return -1;
	setenv("WINAPI_TRANSPORT", "hvsock", 1);
	setenv("WINAPI_SOCKET_PATH", hostd.socket_path, 1);
	setenv("WINAPI_TIMEOUT_MS", GROUP_TIMEOUT_MS, 1);
	return emulator_start(&hostd, NULL);
}

static int stop_hostd(void **state)
{
	(void)state;
	emulator_cleanup(&hostd);
	return 0;
}

/* ---- many requests in flight, from several threads, each answer checked ---- */

#define LOAD_THREADS 3
#define LOAD_DEPTH 32
#define LOAD_REQUESTS 3000
#define LOAD_BUFFER (64u << 10)

struct load {
	winapi_handle_t handle;
	unsigned int seed;
	uint64_t checked;
	int failure;
};

struct load_request {
	uint8_t input[512];
	uint8_t output[512];
	size_t length;
	int kind; /* 0 echo, 1 write, 2 read */
	uint32_t pattern;
	uint32_t expected_crc;
	winapi_buffer_t buffer;
	winapi_buffer_test_result_t result;
	bool busy;
};

static int check_completion(struct load *load, const winapi_completion_t *done)
{
	struct load_request *request = done->user_data;
	uint64_t i;

	request->busy = false;
	if (done->status != 0)
		return done->status;
	if (request->kind == 0)
		return done->length == request->length && memcmp(request->output, request->input, request->length) == 0 ?
			       0 : -EILSEQ;
	if (request->result.bytes_processed != LOAD_BUFFER)
		return -EILSEQ;
	if (request->kind == 1) {
		/* The host's pattern landed in this process's memory, byte for byte. */
		for (i = 0; i < LOAD_BUFFER; i++)
			if (((uint8_t *)request->buffer.data)[i] != winapi_pattern_byte(request->pattern, i))
				return -EILSEQ;
	}
	if (request->result.checksum != winapi_crc32c(0, request->buffer.data, LOAD_BUFFER))
		return -EILSEQ;
	load->checked++;
	return 0;
}

static void *load_thread(void *argument)
{
	struct load *load = argument;
	struct load_request *requests = calloc(LOAD_DEPTH, sizeof(*requests));
	winapi_completion_t done[LOAD_DEPTH];
	winapi_queue_t queue = winapi_queue_create(load->handle, LOAD_DEPTH, -1);
	unsigned int sent = 0, finished = 0, i;
	int rc, count;

	if (requests == NULL || queue == NULL) {
		load->failure = -ENOMEM;
		goto out;
	}
	for (i = 0; i < LOAD_DEPTH; i++)
		if (winapi_alloc_buffer(&requests[i].buffer, LOAD_BUFFER) != 0)
			load->failure = -ENOMEM;
	while (load->failure == 0 && finished < LOAD_REQUESTS) {
		for (i = 0; i < LOAD_DEPTH && sent < LOAD_REQUESTS; i++) {
			struct load_request *request = &requests[i];
			size_t j;

			if (request->busy)
				continue;
			request->kind = (int)(rand_r(&load->seed) % 3);
			request->pattern = (uint32_t)rand_r(&load->seed);
			if (request->kind == 0) {
				request->length = (size_t)rand_r(&load->seed) % sizeof(request->input);
				for (j = 0; j < request->length; j++)
					request->input[j] = (uint8_t)rand_r(&load->seed);
				rc = winapi_queue_echo(queue, request->input, request->length, request->output,
						       sizeof(request->output), request);
			} else {
				if (request->kind == 2)
					for (j = 0; j < LOAD_BUFFER; j += 512)
						((uint8_t *)request->buffer.data)[j] = (uint8_t)rand_r(&load->seed);
				rc = winapi_queue_buffer_test(queue, &request->buffer, 1,
							      request->kind == 1 ? WINAPI_BUFFER_OP_WRITE :
										   WINAPI_BUFFER_OP_READ,
							      request->pattern, &request->result, request);
			}
			if (rc != 0) {
				load->failure = rc;
				break;
			}
			request->busy = true;
			sent++;
		}
		rc = winapi_queue_submit(queue);
		if (rc < 0) {
			load->failure = rc;
			break;
		}
		count = winapi_queue_reap(queue, done, LOAD_DEPTH, 1, 60000);
		if (count <= 0) {
			load->failure = count < 0 ? count : -ETIMEDOUT;
			break;
		}
		for (i = 0; i < (unsigned int)count && load->failure == 0; i++)
			load->failure = check_completion(load, &done[i]);
		finished += (unsigned int)count;
	}
out:
	winapi_queue_destroy(queue);
	for (i = 0; requests != NULL && i < LOAD_DEPTH; i++)
		winapi_free_buffer(&requests[i].buffer);
	free(requests);
	return NULL;
}

static void test_many_in_flight(void **state)
{
	struct load loads[LOAD_THREADS];
	pthread_t threads[LOAD_THREADS];
	winapi_handle_t handle;
	struct winapi_stats stats;
	char output[64];
	unsigned int i;

	(void)state;
	handle = winapi_init();
	assert_non_null(handle);
	for (i = 0; i < LOAD_THREADS; i++) {
		loads[i] = (struct load){ .handle = handle, .seed = 100 + i };
		assert_int_equal(pthread_create(&threads[i], NULL, load_thread, &loads[i]), 0);
	}
	/* Synchronous calls share the connection with the queues meanwhile. */
	for (i = 0; i < 200; i++) {
		assert_int_equal(winapi_echo(handle, "between the queues", output, sizeof(output)), 0);
		assert_string_equal(output, "between the queues");
	}
	for (i = 0; i < LOAD_THREADS; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		if (loads[i].failure != 0)
			fail_msg("load thread %u: %s", i, strerror(-loads[i].failure));
		assert_true(loads[i].checked > LOAD_REQUESTS / 2);
	}
	assert_int_equal(winapi_get_stats(handle, &stats), 0);
	assert_int_equal(stats.calls, LOAD_THREADS * LOAD_REQUESTS + 200);
	assert_int_equal(stats.failed_calls, 0);
	assert_int_equal(stats.unexpected_packets, 0);
	winapi_cleanup(handle);
}

/* ---- an API registered here, served by the host service in this process ---- */

#define SUM_API_ID 200u
#define SUM_BUFFER (16u << 10)
#define SUM_DEPTH 8u
#define SUM_CALLS 64u

static uint64_t sum_served; /* __atomic: requests the test.sum handler ran */

struct sum_pass {
	uint64_t sum;
	uint8_t seed;
};

/* Buffer 0: summed, then scribbled over; the host only reads it, so the guest's copy stays. */
static int sum_and_scribble(uint8_t *span, size_t length, uint64_t position, void *context)
{
	struct sum_pass *pass = context;
	size_t i;

	(void)position;
	for (i = 0; i < length; i++) {
		pass->sum += span[i];
		span[i] = 0xee;
	}
	return 0;
}

static int fill_from_seed(uint8_t *span, size_t length, uint64_t position, void *context)
{
	const struct sum_pass *pass = context;
	size_t i;

	for (i = 0; i < length; i++)
		span[i] = (uint8_t)(pass->seed + position + i);
	return 0;
}

/*
 * test.sum 1.0: a u32 seed in; out, the u64 sum of buffer 0's bytes plus the seed, and buffer
 * 1 filled with (seed + index) bytes.
 */
static void sum_handler(struct winapi_host_context *host, const struct winapi_host_request *request,
			struct winapi_host_reply *reply)
{
	const struct winapi_message *message = request->message;
	struct sum_pass pass = { 0 };
	uint8_t *out = winapi_host_reply_space(host);
	uint32_t seed;

	__atomic_fetch_add(&sum_served, 1, __ATOMIC_RELAXED);
	if (message->inline_length != sizeof(seed) || message->buffer_count != 2) {
		reply->status = WINAPI_STATUS_BAD_MESSAGE;
		return;
	}
	if (winapi_host_buffers_check(host, request) != 0) {
		reply->status = WINAPI_STATUS_BAD_BUFFER;
		return;
	}
	memcpy(&seed, message->inline_data, sizeof(seed));
	pass.seed = (uint8_t)seed;
	winapi_host_buffer_walk(host, request, 0, sum_and_scribble, &pass);
	winapi_host_buffer_walk(host, request, 1, fill_from_seed, &pass);
	pass.sum += seed;
	memcpy(out, &pass.sum, sizeof(pass.sum));
	reply->status = WINAPI_STATUS_OK;
	reply->data = out;
	reply->length = sizeof(pass.sum);
}

static const struct winapi_host_api sum_api = {
	.entry = { .name = "test.sum", .api_id = SUM_API_ID, .version = 0x100, .max_request = 4, .max_reply = 8,
		   .buffer_access = { WINAPI_ACCESS_HOST_READS, WINAPI_ACCESS_HOST_WRITES } },
	.handler = sum_handler,
};

/* The host service in this process: one guest at a time, until told to stop. */
struct in_process_host {
	int listener;
	bool stop; /* __atomic */
	pthread_t thread;
	char path[108];
};

static void *serve_in_process(void *argument)
{
	struct in_process_host *host = argument;

	while (!__atomic_load_n(&host->stop, __ATOMIC_RELAXED)) {
		struct pollfd pfd = { .fd = host->listener, .events = POLLIN };
		int fd;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		fd = accept(host->listener, NULL, NULL);
		if (fd < 0)
			continue;
		winapi_host_socket_serve(fd, NULL);
		close(fd);
	}
	return NULL;
}

static void start_in_process_host(struct in_process_host *host)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };

	host->stop = false;
	assert_true(snprintf(host->path, sizeof(host->path), "%s/in-process.sock", hostd.directory) <
		    (int)sizeof(host->path));
	unlink(host->path);
	memcpy(address.sun_path, host->path, sizeof(host->path));
	host->listener = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(host->listener >= 0);
	assert_int_equal(bind(host->listener, (struct sockaddr *)&address, sizeof(address)), 0);
	assert_int_equal(listen(host->listener, 1), 0);
	assert_int_equal(pthread_create(&host->thread, NULL, serve_in_process, host), 0);
	setenv("WINAPI_SOCKET_PATH", host->path, 1);
}

static void stop_in_process_host(struct in_process_host *host)
{
	__atomic_store_n(&host->stop, true, __ATOMIC_RELAXED);
	pthread_join(host->thread, NULL);
	close(host->listener);
	unlink(host->path);
	setenv("WINAPI_SOCKET_PATH", hostd.socket_path, 1);
}

/* Buffer 0 with bytes of @seed; the sum test.sum answers for it with @seed. */
static uint64_t sum_prepare(winapi_buffer_t *buffers, uint32_t seed)
{
	uint64_t sum = seed;
	size_t i;

	for (i = 0; i < SUM_BUFFER; i++) {
		((uint8_t *)buffers[0].data)[i] = (uint8_t)(i * 13 + seed);
		sum += (uint8_t)(i * 13 + seed);
	}
	memset(buffers[1].data, 0, SUM_BUFFER);
	return sum;
}

/* Buffer 1 as the handler wrote it; buffer 0 as the guest wrote it, whatever the handler did. */
static void sum_check_buffers(const winapi_buffer_t *buffers, uint32_t seed)
{
	size_t i;

	for (i = 0; i < SUM_BUFFER; i++) {
		if (((const uint8_t *)buffers[1].data)[i] != (uint8_t)(seed + i))
			fail_msg("seed %u: buffer 1 byte %zu is %u", seed, i, ((const uint8_t *)buffers[1].data)[i]);
		if (((const uint8_t *)buffers[0].data)[i] != (uint8_t)(i * 13 + seed))
			fail_msg("seed %u: buffer 0 byte %zu changed", seed, i);
	}
}

static void check_sum_list(winapi_handle_t handle)
{
	static const char *const expected[] = { "winapi.echo", "winapi.buffer_test", "winapi.perf_test", "test.sum" };
	winapi_api_info_t apis[16], info;
	unsigned int oldest, newest, i, j;
	int count;

	count = winapi_api_list(handle, apis, 16);
	assert_int_equal(count, 4);
	for (i = 0; i < 4; i++) {
		for (j = 0; j < (unsigned int)count && strcmp(apis[j].name, expected[i]) != 0; j++)
			;
		if (j == (unsigned int)count)
			fail_msg("%s not listed", expected[i]);
	}
	assert_int_equal(winapi_protocol_versions(handle, &oldest, &newest), 0);
	assert_int_equal(newest, WINAPI_PROTOCOL_VERSION);
	assert_int_equal(winapi_api_lookup(handle, "test.sum", 1, &info), 0);
	assert_int_equal(info.api_id, SUM_API_ID);
	assert_int_equal(info.buffer_access[0], WINAPI_ACCESS_HOST_READS);
	assert_int_equal(info.buffer_access[1], WINAPI_ACCESS_HOST_WRITES);
}

static void check_sum_queue(winapi_handle_t handle)
{
	winapi_buffer_t buffers[SUM_DEPTH][2];
	uint64_t replies[SUM_DEPTH], expected[SUM_DEPTH];
	uint32_t seeds[SUM_DEPTH];
	winapi_completion_t done[SUM_DEPTH];
	winapi_queue_t queue = winapi_queue_create(handle, SUM_DEPTH, -1);
	unsigned int sent = 0, finished = 0, in_flight = 0, i;
	int count;

	assert_non_null(queue);
	for (i = 0; i < SUM_DEPTH; i++) {
		assert_int_equal(winapi_alloc_buffer(&buffers[i][0], SUM_BUFFER), 0);
		assert_int_equal(winapi_alloc_buffer(&buffers[i][1], SUM_BUFFER), 0);
	}
	while (finished < SUM_CALLS) {
		/* Slot i is free again once its call is reaped: calls go out in slot order. */
		while (sent < SUM_CALLS && in_flight < SUM_DEPTH) {
			unsigned int slot = sent % SUM_DEPTH;

			seeds[slot] = 1000 + sent;
			expected[slot] = sum_prepare(buffers[slot], seeds[slot]);
			winapi_api_call_t call = { .api = SUM_API_ID, .version_major = 1, .input = &seeds[slot],
						   .input_length = 4, .output = &replies[slot], .output_size = 8,
						   .buffers = buffers[slot], .buffer_count = 2 };
			assert_int_equal(winapi_queue_call_api(queue, &call, (void *)(uintptr_t)slot), 0);
			sent++;
			in_flight++;
		}
		assert_true(winapi_queue_submit(queue) > 0);
		count = winapi_queue_reap(queue, done, SUM_DEPTH, SUM_DEPTH, 60000);
		assert_int_equal(count, (int)in_flight);
		for (i = 0; i < (unsigned int)count; i++) {
			unsigned int slot = (unsigned int)(uintptr_t)done[i].user_data;

			assert_int_equal(done[i].status, 0);
			assert_int_equal(done[i].length, 8);
			assert_true(replies[slot] == expected[slot]);
			sum_check_buffers(buffers[slot], seeds[slot]);
		}
		finished += (unsigned int)count;
		in_flight -= (unsigned int)count;
	}
	winapi_queue_destroy(queue);
	for (i = 0; i < SUM_DEPTH; i++) {
		winapi_free_buffer(&buffers[i][0]);
		winapi_free_buffer(&buffers[i][1]);
	}
}

static void test_registered_api(void **state)
{
	struct in_process_host host;
	winapi_buffer_t buffers[2];
	winapi_handle_t handle;
	uint64_t reply = 0, expected, served;
	uint32_t seed = 7;
	size_t length = 0;
	char echoed[32];

	(void)state;
	assert_int_equal(winapi_host_api_register(&sum_api), 0);
	start_in_process_host(&host);
	handle = winapi_init();
	assert_non_null(handle);
	check_sum_list(handle);

	assert_int_equal(winapi_alloc_buffer(&buffers[0], SUM_BUFFER), 0);
	assert_int_equal(winapi_alloc_buffer(&buffers[1], SUM_BUFFER), 0);
	expected = sum_prepare(buffers, seed);
	winapi_api_call_t call = { .api = SUM_API_ID, .version_major = 1, .input = &seed, .input_length = 4,
				   .output = &reply, .output_size = sizeof(reply), .buffers = buffers,
				   .buffer_count = 2 };
	assert_int_equal(winapi_call_api(handle, &call, &length), 0);
	assert_int_equal(length, 8);
	assert_true(reply == expected);
	sum_check_buffers(buffers, seed);
	assert_int_equal(__atomic_load_n(&sum_served, __ATOMIC_RELAXED), 1);

	/* Refused in this process: another major, input over max_request. The host sees neither. */
	call.version_major = 2;
	assert_int_equal(winapi_call_api(handle, &call, &length), -EPROTONOSUPPORT);
	call.version_major = 1;
	call.input_length = 5;
	assert_int_equal(winapi_call_api(handle, &call, &length), -EMSGSIZE);
	assert_int_equal(length, 0);
	assert_int_equal(__atomic_load_n(&sum_served, __ATOMIC_RELAXED), 1);
	/* The handler's own refusal comes back as its status, naming the api; the stream goes on. */
	served = __atomic_load_n(&sum_served, __ATOMIC_RELAXED);
	call.input_length = 4;
	call.buffer_count = 1;
	assert_int_equal(winapi_call_api(handle, &call, &length), -EBADMSG);
	assert_true(__atomic_load_n(&sum_served, __ATOMIC_RELAXED) == served + 1);

	check_sum_queue(handle);
	/* The seed calls keep their own frames beside the generic ones. */
	assert_int_equal(winapi_echo(handle, "seed frame", echoed, sizeof(echoed)), 0);
	assert_string_equal(echoed, "seed frame");
	winapi_free_buffer(&buffers[0]);
	winapi_free_buffer(&buffers[1]);
	winapi_cleanup(handle);
	stop_in_process_host(&host);
}

/* ---- a hostile client against the service ---- */

static int connect_raw(const char *path)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct timeval limit = { .tv_sec = 60 };

	if (strlen(path) >= sizeof(address.sun_path))
		return -1;
	memcpy(address.sun_path, path, strlen(path) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
	return fd;
}

static void send_raw(int fd, const char *header, const void *payload, size_t length)
{
	const struct winapi_hvsock_span span = { payload, length };

	assert_int_equal(winapi_hvsock_send(fd, header, strlen(header), &span, length != 0), 0);
}

/* The next reply: its header, and up to @size bytes of its payload in @payload (the rest dropped). */
static struct winapi_hvsock_header receive_raw_reply(int fd, uint64_t request_id, uint32_t status, void *payload,
						     size_t size)
{
	/* One frame at a time: this reader never holds bytes of the next one. */
	static struct winapi_hvsock_reader reader;
	struct winapi_hvsock_header reply;
	char text[WINAPI_HVSOCK_MAX_HEADER];
	size_t length, kept;

	winapi_hvsock_reader_init(&reader, fd);
	assert_int_equal(winapi_hvsock_receive_header(&reader, text, sizeof(text), &length), 0);
	assert_int_equal(winapi_hvsock_reply_decode(text, length, &reply), 0);
	assert_int_equal(reply.request_id, request_id);
	assert_int_equal(reply.status, status);
	kept = reply.payload_size < size ? (size_t)reply.payload_size : size;
	assert_int_equal(winapi_hvsock_receive(&reader, payload, kept), 0);
	assert_int_equal(winapi_hvsock_receive(&reader, NULL, reply.payload_size - kept), 0);
	return reply;
}

static void expect_reply(int fd, uint64_t request_id, uint32_t status)
{
	receive_raw_reply(fd, request_id, status, NULL, 0);
}

static void expect_closed(int fd)
{
	char byte;

	assert_int_equal(recv(fd, &byte, 1, 0), 0);
	close(fd);
}

/* Generic frames: sized by the service's own table, whatever the frame claims; answered by name. */
static void check_generic_frames(int fd)
{
	static const uint8_t list_request[8];
	struct winapi_hvsock_header reply;
	char echoed[8];

	send_raw(fd, "{\"request_id\":20,\"api\":\"winapi.echo\",\"payload_size\":5,\"version\":256,"
		     "\"inline_length\":5,\"reply_capacity\":16,\"buffers\":[]}", "hello", 5);
	reply = receive_raw_reply(fd, 20, WINAPI_STATUS_OK, echoed, sizeof(echoed));
	assert_string_equal(reply.api_name, "winapi.echo");
	assert_int_equal(reply.inline_length, 5);
	assert_int_equal(reply.payload_size, 5);
	assert_memory_equal(echoed, "hello", 5);
	/* More payload than the inline bytes and every buffer: the frame itself is wrong. */
	send_raw(fd, "{\"request_id\":21,\"api\":\"winapi.echo\",\"payload_size\":6,\"version\":256,"
		     "\"inline_length\":5,\"reply_capacity\":16,\"buffers\":[]}", "hello!", 6);
	reply = receive_raw_reply(fd, 21, WINAPI_STATUS_BAD_MESSAGE, NULL, 0);
	assert_string_equal(reply.api_name, "winapi.echo");
	/* perf_test reads its buffers: a frame that leaves the buffer's bytes out is refused. */
	send_raw(fd, "{\"request_id\":22,\"api\":\"winapi.perf_test\",\"payload_size\":0,\"version\":256,"
		     "\"inline_length\":0,\"reply_capacity\":64,\"buffers\":[4096]}", NULL, 0);
	expect_reply(fd, 22, WINAPI_STATUS_BAD_MESSAGE);
	/* More buffers than the API takes (echo takes none). */
	send_raw(fd, "{\"request_id\":23,\"api\":\"winapi.echo\",\"payload_size\":0,\"version\":256,"
		     "\"inline_length\":0,\"reply_capacity\":16,\"buffers\":[4096]}", NULL, 0);
	expect_reply(fd, 23, WINAPI_STATUS_BAD_MESSAGE);
	send_raw(fd, "{\"request_id\":24,\"api\":\"winapi.echo\",\"payload_size\":2,\"version\":512,"
		     "\"inline_length\":2,\"reply_capacity\":16,\"buffers\":[]}", "hi", 2);
	expect_reply(fd, 24, WINAPI_STATUS_UNSUPPORTED_VERSION);
	/* An api nobody here knows: answered as a 1.0 service would, naming none. */
	send_raw(fd, "{\"request_id\":25,\"api\":\"no.such.api\",\"payload_size\":3,\"version\":256,"
		     "\"inline_length\":3,\"reply_capacity\":16,\"buffers\":[]}", "abc", 3);
	reply = receive_raw_reply(fd, 25, WINAPI_STATUS_UNSUPPORTED_API, NULL, 0);
	assert_false(winapi_hvsock_is_generic(&reply));
	send_raw(fd, "{\"request_id\":26,\"api\":\"winapi.apis\",\"payload_size\":8,\"version\":257,"
		     "\"inline_length\":8,\"reply_capacity\":3072,\"buffers\":[]}", list_request, 8);
	reply = receive_raw_reply(fd, 26, WINAPI_STATUS_OK, NULL, 0);
	assert_string_equal(reply.api_name, WINAPI_API_LIST_NAME);
	assert_true(reply.inline_length >= sizeof(struct winapi_api_list_reply) + 3 * sizeof(struct winapi_api_entry));
}

static void test_hostile_client(void **state)
{
	static const uint8_t junk[100];
	char output[32];
	winapi_handle_t handle;
	int fd;

	(void)state;
	fd = connect_raw(hostd.socket_path);
	assert_true(fd >= 0);
	send_raw(fd, "{\"request_id\":1,\"api\":\"format_disk\",\"payload_size\":0}", NULL, 0);
	expect_reply(fd, 1, WINAPI_STATUS_UNSUPPORTED_API);
	/* Wrong but framed: the payload is skipped, the request refused, the connection goes on. */
	send_raw(fd, "{\"request_id\":2,\"api\":\"echo\",\"payload_size\":100,\"flags\":[\"zero_copy\"]}", junk, 100);
	expect_reply(fd, 2, WINAPI_STATUS_BAD_MESSAGE);
	send_raw(fd, "{\"request_id\":3,\"api\":\"buffer_test\",\"payload_size\":100,\"operation\":\"read\","
		     "\"pattern\":1,\"crc_seed\":0,\"buffers\":[4096]}", junk, 100);
	expect_reply(fd, 3, WINAPI_STATUS_BAD_MESSAGE);
	send_raw(fd, "{\"request_id\":4,\"api\":\"echo\",\"payload_size\":5}", "hello", 5);
	expect_reply(fd, 4, WINAPI_STATUS_OK);
	check_generic_frames(fd);
	/* Not JSON: nothing can be skipped safely; the service ends this connection only. */
	send_raw(fd, "{\"request_id\":5, oops", NULL, 0);
	expect_closed(fd);
	fd = connect_raw(hostd.socket_path);
	send_raw(fd, "{\"request_id\":6,\"api\":\"echo\",\"payload_size\":536870913}", NULL, 0);
	expect_closed(fd);
	/* A frame cut short, and a length prefix past the limit. */
	fd = connect_raw(hostd.socket_path);
	send_raw(fd, "{\"request_id\":7,\"api\":\"echo\",\"payload_size\":50}", "only ten..", 10);
	shutdown(fd, SHUT_WR);
	expect_closed(fd);
	fd = connect_raw(hostd.socket_path);
	assert_int_equal(write(fd, "\xff\xff\x00\x00", 4), 4);
	expect_closed(fd);
	/* Half a frame, then silence with the socket open: dropped after --timeout (2 s). */
	assert_int_equal(emulator_prepare_program(&strict_hostd, "hvsock_e2e-strict", "winapi-hostd"), 0);
	assert_int_equal(emulator_start(&strict_hostd, strict_hostd_arguments), 0);
	fd = connect_raw(strict_hostd.socket_path);
	assert_true(fd >= 0);
	send_raw(fd, "{\"request_id\":8,\"api\":\"echo\",\"payload_size\":50}", "ten bytes.", 10);
	expect_closed(fd);
	/* Idle between frames is not a stall: the connection is still served after the timeout. */
	fd = connect_raw(strict_hostd.socket_path);
	assert_true(fd >= 0);
	sleep_ms(2500);
	send_raw(fd, "{\"request_id\":9,\"api\":\"echo\",\"payload_size\":5}", "later", 5);
	expect_reply(fd, 9, WINAPI_STATUS_OK);
	close(fd);
	emulator_cleanup(&strict_hostd);

	handle = winapi_init();
	assert_non_null(handle);
	assert_int_equal(winapi_echo(handle, "still serving", output, sizeof(output)), 0);
	assert_string_equal(output, "still serving");
	winapi_cleanup(handle);
}

/* Whether the service has closed @fd, without waiting. */
static bool closed_by_peer(int fd)
{
	char byte;

	return recv(fd, &byte, 1, MSG_DONTWAIT) == 0;
}

/* The resident set of process @pid, in KiB (its /proc status's VmRSS). */
static long resident_kib(pid_t pid)
{
	char path[64], line[128];
	long kib = -1;
	FILE *status;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	status = fopen(path, "r");
	assert_non_null(status);
	while (fgets(line, sizeof(line), status) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(status);
	return kib;
}

#define ECHO_HELLO "{\"request_id\":1,\"api\":\"echo\",\"payload_size\":5}"

/* Whether the service answers an echo on @fd (its reply then waits there); false: it closed @fd. */
static bool answers_echo(int fd)
{
	const struct winapi_hvsock_span span = { "hello", 5 };
	char byte;

	if (winapi_hvsock_send(fd, ECHO_HELLO, strlen(ECHO_HELLO), &span, 1) != 0)
		return false;
	return recv(fd, &byte, 1, MSG_PEEK) > 0;
}

static void expect_echo(const char *path)
{
	int fd = connect_raw(path);

	assert_true(fd >= 0);
	assert_true(answers_echo(fd));
	expect_reply(fd, 1, WINAPI_STATUS_OK);
	close(fd);
}

static void test_service_limits(void **state)
{
	static const char header[] = ECHO_HELLO;
	const struct timeval short_wait = { .tv_sec = 10 };
	uint64_t started_ns;
	int fd, peers[3];
	long before_kib, after_kib;
	char asan_options[512], *saved_asan;
	uint8_t *written;
	size_t i;

	(void)state;
	assert_int_equal(emulator_prepare_program(&limits_hostd, "hvsock_e2e-limits", "winapi-hostd"), 0);
	/* ASan keeps freed memory in quarantine: the service's must go back at once to be seen. */
	saved_asan = getenv("ASAN_OPTIONS") != NULL ? strdup(getenv("ASAN_OPTIONS")) : NULL;
	snprintf(asan_options, sizeof(asan_options), "%s%squarantine_size_mb=0", saved_asan != NULL ? saved_asan : "",
		 saved_asan != NULL && *saved_asan != '\0' ? ":" : "");
	setenv("ASAN_OPTIONS", asan_options, 1);
	assert_int_equal(emulator_start(&limits_hostd, limits_hostd_arguments), 0);
	if (saved_asan != NULL)
		setenv("ASAN_OPTIONS", saved_asan, 1);
	else
		unsetenv("ASAN_OPTIONS");
	free(saved_asan);

	/*
	 * A client that trickles a request a byte every 300 ms (each well inside --timeout 2, so a
	 * timeout per recv() never fires) is closed once the frame's absolute deadline passes,
	 * give or take a loaded machine's 2 s; another client is served meanwhile.
	 */
	fd = connect_raw(limits_hostd.socket_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, (uint8_t[4]){ sizeof(header) - 1 }, 4), 4);
	started_ns = winapi_clock_now_ns();
	for (i = 0; i < sizeof(header) - 1 && !closed_by_peer(fd); i++) {
		if (send(fd, header + i, 1, MSG_NOSIGNAL) != 1)
			break;
		if (i == 2)
			expect_echo(limits_hostd.socket_path);
		sleep_ms(300);
	}
	assert_true(i < sizeof(header) - 1);
	assert_true(winapi_clock_now_ns() - started_ns < (2000u + 2000u) * 1000000ull);
	close(fd);

	/* Idle for --idle-timeout (3 s): closed, not before. */
	fd = connect_raw(limits_hostd.socket_path);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &short_wait, sizeof(short_wait));
	started_ns = winapi_clock_now_ns();
	expect_closed(fd);
	assert_true(winapi_clock_now_ns() - started_ns >= 2900u * 1000000ull);

	/* One peer (this uid) gets --max-per-peer (3) connections; a fourth is refused at accept. */
	for (i = 0; i < 3; i++) {
		peers[i] = connect_raw(limits_hostd.socket_path);
		assert_true(peers[i] >= 0);
		assert_true(answers_echo(peers[i]));
		expect_reply(peers[i], 1, WINAPI_STATUS_OK);
	}
	fd = connect_raw(limits_hostd.socket_path);
	assert_true(fd >= 0);
	assert_false(answers_echo(fd));
	close(fd);
	/* One gone, one more is served (once its thread has seen the close). */
	close(peers[0]);
	for (i = 0; i < 100; i++) {
		fd = connect_raw(limits_hostd.socket_path);
		assert_true(fd >= 0);
		if (answers_echo(fd))
			break;
		close(fd);
		sleep_ms(50);
	}
	expect_reply(fd, 1, WINAPI_STATUS_OK);
	close(fd);
	close(peers[1]);
	close(peers[2]);

	/*
	 * A 150-byte WRITE request for 16 MiB: the service fills and sends them (taken straight
	 * into a buffer here, inside --timeout even under TSan, where 64 MiB was not), then gives its
	 * buffer back once the connection idles (WINAPI_HOST_SOCKET_SHRINK_MS), not at its end.
	 */
	sleep_ms(500);
	before_kib = resident_kib(limits_hostd.pid);
	written = malloc(16u << 20);
	assert_non_null(written);
	fd = connect_raw(limits_hostd.socket_path);
	send_raw(fd, "{\"request_id\":2,\"api\":\"buffer_test\",\"payload_size\":0,\"operation\":\"write\","
		     "\"pattern\":1,\"crc_seed\":0,\"buffers\":[16777216]}", NULL, 0);
	receive_raw_reply(fd, 2, WINAPI_STATUS_OK, written, 16u << 20);
	free(written);
	after_kib = resident_kib(limits_hostd.pid);
	for (i = 0; i < 50 && after_kib - before_kib > 8 * 1024; i++) {
		sleep_ms(100);
		after_kib = resident_kib(limits_hostd.pid);
	}
	assert_true(after_kib - before_kib < 8 * 1024);
	assert_false(closed_by_peer(fd)); /* given back while the connection lives */
	close(fd);
	emulator_cleanup(&limits_hostd);
}

/* ---- a hostile host against the library ---- */

enum fake_host_mode {
	FAKE_WRONG_ID,        /* answers another id, then nothing: the call times out */
	FAKE_ECHO_TOO_LONG,   /* an echo longer than the caller's room */
	FAKE_WRITE_SHORT,     /* a write's bytes, one short: refused before it lands */
	FAKE_GARBAGE,         /* a header that does not decode: the connection is dropped */
	FAKE_STALL,           /* a reply's header and part of its payload, then nothing */
	FAKE_DEAF,            /* never reads a request: the guest's socket buffer fills */
	FAKE_LATE,            /* answers its first echo right once released, the others at once */
	FAKE_GENERIC,         /* lists test.sum, answers its calls wrong in turn, then right */
	FAKE_OLD,             /* a 1.0 host: knows no generic frame (nor LIST), answers echo */
	FAKE_TRICKLE,         /* a reply's header, then its payload a byte every 200 ms */
	FAKE_SLOW_READER,     /* takes requests 16 KiB every 50 ms, answers nothing */
};

struct fake_host {
	int listener;
	int release; /* FAKE_DEAF: may read again; FAKE_LATE: may answer (__atomic) */
	enum fake_host_mode mode;
	unsigned int answered; /* FAKE_GENERIC: test.sum calls answered (the fake's thread only) */
	uint64_t taken;        /* FAKE_SLOW_READER: bytes read so far (__atomic) */
	char path[108];
};

/*
 * FAKE_GENERIC: LIST answered with the seeds and test.sum; each test.sum call with 8 inline
 * bytes and buffer 1 (what the host writes), all 0xab, but the first four wrong in one way each.
 */
static void fake_generic_answer(struct fake_host *fake, const struct winapi_hvsock_header *request,
				struct winapi_hvsock_header *reply, uint8_t *payload)
{
	const struct winapi_api_entry entries[4] = { winapi_seed_apis[0], winapi_seed_apis[1], winapi_seed_apis[2],
						     sum_api.entry };
	const struct winapi_api_list_reply list = { .protocol_oldest = WINAPI_PROTOCOL_VERSION_OLDEST,
						    .protocol_newest = WINAPI_PROTOCOL_VERSION,
						    .api_count = 4, .entry_count = 4 };
	uint64_t written = request->buffer_count == 2 ? request->buffer_lengths[1] : 0;
	int length;

	memcpy(reply->api_name, request->api_name, sizeof(reply->api_name));
	if (strcmp(request->api_name, WINAPI_API_LIST_NAME) == 0) {
		length = winapi_api_list_reply_encode(&list, entries, payload, WINAPI_MAX_INLINE_DATA);
		reply->inline_length = length > 0 ? (uint32_t)length : 0;
		reply->payload_size = reply->inline_length;
		return;
	}
	memset(payload, 0xab, 16 + written + request->buffer_lengths[0]);
	reply->inline_length = 8;
	reply->payload_size = 8 + written;
	switch (fake->answered++) {
	case 0:
		reply->payload_size--; /* buffer 1 one byte short */
		break;
	case 1:
		reply->payload_size += request->buffer_lengths[0]; /* buffer 0 too, which the host only reads */
		break;
	case 2:
		strcpy(reply->api_name, "test.other");
		break;
	case 3:
		reply->inline_length += 8; /* more than the caller's room */
		reply->payload_size += 8;
		break;
	default:
		break;
	}
}

static void *fake_host_main(void *argument)
{
	struct fake_host *fake = argument;
	struct winapi_hvsock_header request, reply;
	struct winapi_hvsock_reader *reader = malloc(sizeof(*reader));
	char text[WINAPI_HVSOCK_MAX_HEADER];
	uint8_t *payload = calloc(1, 1 << 20);
	size_t length;
	int fd = accept(fake->listener, NULL, NULL), size;

	winapi_hvsock_reader_init(reader, fd);
	if (fake->mode == FAKE_DEAF) {
		/* Not a byte read until the guest has given up and closed (or 10 s). */
		struct timeval limit = { .tv_sec = 10 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
		while (__atomic_load_n(&fake->release, __ATOMIC_ACQUIRE) == 0)
			sleep_ms(10);
	}
	if (fake->mode == FAKE_SLOW_READER) {
		/*
		 * 320 KiB/s: room in the guest's socket comes back every tenth of a second or so,
		 * well inside a per-send timeout of WINAPI_TIMEOUT_MS, so only the request's
		 * absolute deadline ends a large send.
		 * (On AF_UNIX the sender's buffer is the bound; a receive buffer set here would
		 * change nothing.) Read until the guest cuts the frame and closes.
		 */
		ssize_t got;

		while ((got = recv(fd, payload, 16384, 0)) > 0) {
			__atomic_add_fetch(&fake->taken, (uint64_t)got, __ATOMIC_RELEASE);
			sleep_ms(50);
		}
		close(fd);
		fd = -1;
	}
	while (fd >= 0 && winapi_hvsock_receive_header(reader, text, sizeof(text), &length) == 0 &&
	       winapi_hvsock_request_decode(text, length, &request) == 0 &&
	       winapi_hvsock_receive(reader, payload, request.payload_size) == 0) {
		reply = (struct winapi_hvsock_header){ .request_id = request.request_id, .api_id = request.api_id };
		switch (fake->mode) {
		case FAKE_WRONG_ID:
			reply.request_id ^= 0x10000; /* same queue, another generation */
			reply.payload_size = request.payload_size;
			break;
		case FAKE_ECHO_TOO_LONG:
			reply.payload_size = 3000;
			break;
		case FAKE_WRITE_SHORT: {
			struct winapi_buffer_test_reply test = { .bytes_processed = 4096, .first_mismatch = UINT64_MAX };

			winapi_buffer_test_reply_encode(&test, reply.fields);
			reply.fields_length = sizeof(test);
			reply.payload_size = winapi_hvsock_buffer_bytes(&request) - 1;
			memset(payload, 0xee, (size_t)reply.payload_size);
			break;
		}
		case FAKE_GARBAGE:
			send(fd, "\x05\x00\x00\x00{{{{{", 9, MSG_NOSIGNAL);
			continue;
		case FAKE_STALL:
			/*
			 * No assertion on this thread: a guest that has already given up may have
			 * closed, and the test's verdict is what the guest saw (main thread).
			 */
			reply.payload_size = request.payload_size;
			size = winapi_hvsock_header_encode(&reply, true, text, sizeof(text));
			if (size <= 0 || winapi_hvsock_send(fd, text, (size_t)size,
							    &(struct winapi_hvsock_span){ payload, 2 }, 1) != 0)
				break;
			continue; /* the rest never comes; the next read sees the guest close */
		case FAKE_TRICKLE:
			/* Each byte well inside any receive timeout: only an absolute deadline ends it. */
			reply.payload_size = request.payload_size;
			size = winapi_hvsock_header_encode(&reply, true, text, sizeof(text));
			if (size <= 0 || winapi_hvsock_send(fd, text, (size_t)size, NULL, 0) != 0)
				break;
			for (uint64_t at = 0; at < reply.payload_size; at++) {
				if (send(fd, payload + at, 1, MSG_NOSIGNAL) != 1)
					break;
				sleep_ms(200);
			}
			continue;
		case FAKE_DEAF:
		case FAKE_SLOW_READER: /* never here: it read its requests above, and closed */
			break;
		case FAKE_LATE:
			/* Late by an event, not a delay: released once the guest has given up. */
			for (int i = 0; i < 3000 && __atomic_load_n(&fake->release, __ATOMIC_ACQUIRE) == 0; i++)
				sleep_ms(10);
			reply.payload_size = request.payload_size;
			break;
		case FAKE_GENERIC:
			fake_generic_answer(fake, &request, &reply, payload);
			break;
		case FAKE_OLD:
			/* What a 1.0 host answers an api it does not know: none named. */
			if (winapi_hvsock_is_generic(&request))
				reply.status = WINAPI_STATUS_UNSUPPORTED_API;
			else
				reply.payload_size = request.payload_size;
			break;
		}
		size = winapi_hvsock_header_encode(&reply, true, text, sizeof(text));
		const struct winapi_hvsock_span span = { payload, (size_t)reply.payload_size };
		if (size < 0 || winapi_hvsock_send(fd, text, (size_t)size, &span, reply.payload_size != 0) != 0)
			break;
	}
	if (fd >= 0)
		close(fd);
	free(reader);
	free(payload);
	return NULL;
}

static winapi_handle_t start_fake_host(struct fake_host *fake, enum fake_host_mode mode, pthread_t *thread)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };

	fake->mode = mode;
	fake->release = 0;
	fake->answered = 0;
	fake->taken = 0;
	assert_true(snprintf(fake->path, sizeof(fake->path), "%s/fake.sock", hostd.directory) < (int)sizeof(fake->path));
	unlink(fake->path);
	memcpy(address.sun_path, fake->path, sizeof(fake->path));
	fake->listener = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fake->listener, (struct sockaddr *)&address, sizeof(address)), 0);
	assert_int_equal(listen(fake->listener, 1), 0);
	assert_int_equal(pthread_create(thread, NULL, fake_host_main, fake), 0);
	setenv("WINAPI_SOCKET_PATH", fake->path, 1);
	return winapi_init();
}

static void stop_fake_host(struct fake_host *fake, winapi_handle_t handle, pthread_t thread)
{
	winapi_cleanup(handle); /* the fake host sees the end of the stream */
	__atomic_store_n(&fake->release, 1, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	close(fake->listener);
	setenv("WINAPI_SOCKET_PATH", hostd.socket_path, 1);
}

/* One echo on a queue of its own whose requests have @deadline_ms; the call's status. */
static int echo_on_own_queue(winapi_handle_t handle, int deadline_ms, const char *text, char *output,
			     size_t capacity)
{
	winapi_queue_t queue = winapi_queue_create(handle, 1, deadline_ms);
	winapi_completion_t done;

	assert_non_null(queue);
	assert_int_equal(winapi_queue_echo(queue, text, strlen(text), output, capacity, NULL), 0);
	assert_int_equal(winapi_queue_submit(queue), 1);
	assert_int_equal(winapi_queue_reap(queue, &done, 1, 1, -1), 1);
	winapi_queue_destroy(queue);
	return done.status;
}

static void test_hostile_host(void **state)
{
	struct fake_host fake;
	winapi_buffer_t buffer;
	winapi_buffer_test_result_t result;
	struct winapi_stats stats;
	winapi_completion_t done;
	char output[4096], echo_out[8];
	winapi_handle_t handle;
	winapi_queue_t queue;
	pthread_t thread;
	uint64_t started_ns;
	size_t i;

	(void)state;
	/*
	 * The right answer never comes. The wrong one is counted stale whenever it comes, before
	 * the deadline or after it (the receiver reads on): wait for it, bounded.
	 */
	setenv("WINAPI_TIMEOUT_MS", "1000", 1);
	handle = start_fake_host(&fake, FAKE_WRONG_ID, &thread);
	assert_non_null(handle);
	assert_int_equal(winapi_echo(handle, "who answers?", output, sizeof(output)), -ETIMEDOUT);
	for (i = 0; i < 3000; i++) {
		assert_int_equal(winapi_get_stats(handle, &stats), 0);
		if (stats.stale_completions != 0)
			break;
		sleep_ms(10);
	}
	assert_int_equal(stats.timeouts, 1);
	assert_int_equal(stats.stale_completions, 1);
	stop_fake_host(&fake, handle, thread);

	/*
	 * Answers that are wrong, not late: they must fail for what they are, however long a
	 * loaded machine takes to deliver them, so the deadline is far.
	 */
	setenv("WINAPI_TIMEOUT_MS", "30000", 1);
	handle = start_fake_host(&fake, FAKE_ECHO_TOO_LONG, &thread);
	assert_non_null(handle);
	memset(output, 'x', sizeof(output));
	assert_int_equal(winapi_echo(handle, "short", output, 16), -EBADMSG);
	for (i = 16; i < sizeof(output); i++)
		assert_int_equal(output[i], 'x'); /* nothing written past the caller's room */
	assert_int_equal(winapi_echo(handle, "again", output, 16), -EBADMSG); /* the stream held */
	stop_fake_host(&fake, handle, thread);

	handle = start_fake_host(&fake, FAKE_WRITE_SHORT, &thread);
	assert_non_null(handle);
	assert_int_equal(winapi_alloc_buffer(&buffer, 8192), 0);
	assert_int_equal(winapi_buffer_test(handle, &buffer, 1, WINAPI_BUFFER_OP_WRITE, 1, &result), -EBADMSG);
	for (i = 0; i < 8192; i++)
		assert_int_equal(((uint8_t *)buffer.data)[i], 0); /* no byte of the bad answer landed */
	winapi_free_buffer(&buffer);
	stop_fake_host(&fake, handle, thread);

	handle = start_fake_host(&fake, FAKE_GARBAGE, &thread);
	assert_non_null(handle);
	assert_int_equal(winapi_echo(handle, "hello", output, sizeof(output)), -EIO);
	assert_int_equal(winapi_echo(handle, "hello", output, sizeof(output)), -EIO);
	stop_fake_host(&fake, handle, thread);

	/*
	 * Half a reply, then silence: the receiver gives up WINAPI_TIMEOUT_MS after the last byte,
	 * ends the call and the connection. The call's own deadline is far, so that it is the
	 * half reply that ends it, however late a loaded machine delivers that half.
	 */
	setenv("WINAPI_TIMEOUT_MS", "3000", 1);
	handle = start_fake_host(&fake, FAKE_STALL, &thread);
	assert_non_null(handle);
	assert_int_equal(echo_on_own_queue(handle, 600000, "half of this", output, sizeof(output)), -ETIMEDOUT);
	assert_int_equal(winapi_echo(handle, "and then", output, sizeof(output)), -ENOTCONN);
	stop_fake_host(&fake, handle, thread);

	/*
	 * A reply trickled a byte every 200 ms (its 40 bytes would take 8 s): the call ends at its
	 * deadline all the same, give or take a loaded machine's 2 s; the stream, stalled inside a
	 * frame past WINAPI_TIMEOUT_MS, is then broken for every later call.
	 */
	handle = start_fake_host(&fake, FAKE_TRICKLE, &thread);
	assert_non_null(handle);
	started_ns = winapi_clock_now_ns();
	assert_int_equal(echo_on_own_queue(handle, 1000, "a reply that takes eight seconds to come",
					   output, sizeof(output)), -ETIMEDOUT);
	assert_true(winapi_clock_now_ns() - started_ns < (1000u + 2000u) * 1000000ull);
	assert_int_equal(winapi_echo(handle, "and then", output, sizeof(output)), -ENOTCONN);
	stop_fake_host(&fake, handle, thread);

	/*
	 * A queue times out on a slow host and goes; the next queue takes its index, and the old
	 * reply, arriving meanwhile, must not pass for the new request's.
	 */
	handle = start_fake_host(&fake, FAKE_LATE, &thread);
	assert_non_null(handle);
	assert_int_equal(echo_on_own_queue(handle, 100, "old!", echo_out, sizeof(echo_out)), -ETIMEDOUT);
	queue = winapi_queue_create(handle, 1, 30000);
	assert_non_null(queue);
	__atomic_store_n(&fake.release, 1, __ATOMIC_RELEASE); /* the old answer comes now */
	/* Added, not submitted: nothing is in flight, so a reap without a limit returns at once. */
	assert_int_equal(winapi_queue_echo(queue, "new!", 4, echo_out, sizeof(echo_out), NULL), 0);
	assert_int_equal(winapi_queue_reap(queue, &done, 1, 1, -1), 0);
	assert_int_equal(winapi_queue_submit(queue), 1);
	assert_int_equal(winapi_queue_reap(queue, &done, 1, 1, -1), 1);
	assert_int_equal(done.status, 0);
	assert_memory_equal(echo_out, "new!", 4);
	assert_int_equal(winapi_get_stats(handle, &stats), 0);
	assert_int_equal(stats.unexpected_packets + stats.stale_completions, 1);
	winapi_queue_destroy(queue);
	stop_fake_host(&fake, handle, thread);

	/* A host that reads nothing: a 64 MiB send cannot finish, and fails at the deadline. */
	setenv("WINAPI_TIMEOUT_MS", "300", 1);
	handle = start_fake_host(&fake, FAKE_DEAF, &thread);
	assert_non_null(handle);
	assert_int_equal(winapi_alloc_buffer(&buffer, 64u << 20), 0);
	assert_int_equal(winapi_buffer_test(handle, &buffer, 1, WINAPI_BUFFER_OP_READ, 1, &result), -ETIMEDOUT);
	assert_int_equal(winapi_echo(handle, "anyone?", output, sizeof(output)), -ENOTCONN);
	winapi_free_buffer(&buffer);
	stop_fake_host(&fake, handle, thread);
	setenv("WINAPI_TIMEOUT_MS", GROUP_TIMEOUT_MS, 1);
}

/* ---- a host that reads the guest's requests slowly ---- */

struct slow_send {
	winapi_handle_t handle;
	winapi_buffer_t buffer;
	uint64_t elapsed_ns;
	int status;
};

/* One buffer_test call whose request carries the buffer to the host; how long it took. */
static void *slow_send_main(void *argument)
{
	struct slow_send *send = argument;
	winapi_buffer_test_result_t result;
	uint64_t started_ns = winapi_clock_now_ns();

	send->status = winapi_buffer_test(send->handle, &send->buffer, 1, WINAPI_BUFFER_OP_READ, 1, &result);
	send->elapsed_ns = winapi_clock_now_ns() - started_ns;
	return NULL;
}

static void test_slow_reading_host(void **state)
{
	struct slow_send send = { 0 };
	struct fake_host fake;
	winapi_completion_t done;
	winapi_queue_t queue;
	pthread_t thread, sender;
	uint64_t started_ns;
	char output[64];
	int i, rc;

	(void)state;
	/*
	 * An 8 MiB request to a host that takes 16 KiB every 50 ms (26 s for all of it): the
	 * call ends at its 1 s deadline all the same, give or take a loaded machine's 2 s, and
	 * the frame it cut ends the connection for every later call.
	 */
	setenv("WINAPI_TIMEOUT_MS", "1000", 1);
	send.handle = start_fake_host(&fake, FAKE_SLOW_READER, &thread);
	assert_non_null(send.handle);
	assert_int_equal(winapi_alloc_buffer(&send.buffer, 8u << 20), 0);
	slow_send_main(&send);
	assert_int_equal(send.status, -ETIMEDOUT);
	assert_true(send.elapsed_ns < (1000u + 2000u) * 1000000ull);
	assert_true(__atomic_load_n(&fake.taken, __ATOMIC_ACQUIRE) < 8u << 20);
	assert_int_equal(winapi_echo(send.handle, "and then", output, sizeof(output)), -ENOTCONN);
	winapi_free_buffer(&send.buffer);
	stop_fake_host(&fake, send.handle, thread);

	/*
	 * Another thread's request waits behind that frame only until its own deadline (500 ms,
	 * not the sender's 6 s) and ends unsent; the frame goes on until its own deadline cuts it.
	 */
	setenv("WINAPI_TIMEOUT_MS", "6000", 1);
	send.handle = start_fake_host(&fake, FAKE_SLOW_READER, &thread);
	assert_non_null(send.handle);
	assert_int_equal(winapi_alloc_buffer(&send.buffer, 8u << 20), 0); /* a buffer is its handle's */
	assert_int_equal(pthread_create(&sender, NULL, slow_send_main, &send), 0);
	for (i = 0; i < 3000 && __atomic_load_n(&fake.taken, __ATOMIC_ACQUIRE) == 0; i++)
		sleep_ms(1);
	queue = winapi_queue_create(send.handle, 1, 500);
	assert_non_null(queue);
	started_ns = winapi_clock_now_ns();
	assert_int_equal(winapi_queue_echo(queue, "behind it", 9, output, sizeof(output), NULL), 0);
	rc = winapi_queue_submit(queue);
	assert_true(rc == 0 || rc == 1);
	assert_int_equal(winapi_queue_reap(queue, &done, 1, 1, -1), 1);
	assert_int_equal(done.status, -ETIMEDOUT);
	assert_true(winapi_clock_now_ns() - started_ns < (500u + 2000u) * 1000000ull);
	winapi_queue_destroy(queue);
	assert_int_equal(pthread_join(sender, NULL), 0);
	assert_int_equal(send.status, -ETIMEDOUT);
	assert_true(send.elapsed_ns < (6000u + 2000u) * 1000000ull);
	assert_int_equal(winapi_echo(send.handle, "and then", output, sizeof(output)), -ENOTCONN);
	winapi_free_buffer(&send.buffer);
	stop_fake_host(&fake, send.handle, thread);
	setenv("WINAPI_TIMEOUT_MS", GROUP_TIMEOUT_MS, 1);

	/* The process is none the worse: a new handle on the service calls as ever. */
	send.handle = winapi_init();
	assert_non_null(send.handle);
	assert_int_equal(winapi_echo(send.handle, "still here", output, sizeof(output)), 0);
	assert_string_equal(output, "still here");
	winapi_cleanup(send.handle);
}

/* ---- generic replies from a hostile host, and a host that predates the API table ---- */

static void test_generic_hostile_host(void **state)
{
	const uint8_t before[2] = { 0x11, 0x22 };
	winapi_api_info_t apis[8], info;
	winapi_buffer_t buffers[2];
	struct fake_host fake;
	winapi_handle_t handle;
	unsigned int oldest, newest, i, j;
	uint64_t reply;
	uint32_t seed = 3;
	size_t length;
	pthread_t thread;
	char output[16];

	(void)state;
	setenv("WINAPI_TIMEOUT_MS", "30000", 1);
	handle = start_fake_host(&fake, FAKE_GENERIC, &thread);
	assert_non_null(handle);
	assert_int_equal(winapi_alloc_buffer(&buffers[0], SUM_BUFFER), 0);
	assert_int_equal(winapi_alloc_buffer(&buffers[1], SUM_BUFFER), 0);
	memset(buffers[0].data, before[0], SUM_BUFFER);
	memset(buffers[1].data, before[1], SUM_BUFFER);
	winapi_api_call_t call = { .api = SUM_API_ID, .version_major = 1, .input = &seed, .input_length = 4,
				   .output = &reply, .output_size = sizeof(reply), .buffers = buffers,
				   .buffer_count = 2 };
	/* Each wrong answer is refused before a byte of it lands; the stream holds for the next. */
	for (i = 0; i < 4; i++) {
		reply = 0;
		assert_int_equal(winapi_call_api(handle, &call, &length), -EBADMSG);
		assert_true(reply == 0);
		for (j = 0; j < SUM_BUFFER; j++)
			if (((uint8_t *)buffers[0].data)[j] != before[0] || ((uint8_t *)buffers[1].data)[j] != before[1])
				fail_msg("answer %u: byte %u of a buffer changed", i, j);
	}
	assert_int_equal(winapi_call_api(handle, &call, &length), 0);
	assert_int_equal(length, 8);
	assert_true(reply == 0xababababababababull);
	for (j = 0; j < SUM_BUFFER; j++)
		if (((uint8_t *)buffers[0].data)[j] != before[0] || ((uint8_t *)buffers[1].data)[j] != 0xab)
			fail_msg("byte %u: buffer 0 written, or buffer 1 not", j);
	winapi_free_buffer(&buffers[0]);
	winapi_free_buffer(&buffers[1]);
	stop_fake_host(&fake, handle, thread);

	/* A 1.0 host answers LIST as any api it does not know: the seeds' table stands in. */
	handle = start_fake_host(&fake, FAKE_OLD, &thread);
	assert_non_null(handle);
	assert_int_equal(winapi_api_list(handle, apis, 8), 3);
	assert_string_equal(apis[0].name, "winapi.echo");
	assert_int_equal(winapi_protocol_versions(handle, &oldest, &newest), 0);
	assert_int_equal(oldest, WINAPI_PROTOCOL_VERSION_OLDEST);
	assert_int_equal(newest, WINAPI_PROTOCOL_VERSION_OLDEST);
	assert_int_equal(winapi_api_lookup(handle, "test.sum", 1, &info), -ENOENT);
	assert_int_equal(winapi_echo(handle, "old host", output, sizeof(output)), 0);
	assert_string_equal(output, "old host");
	stop_fake_host(&fake, handle, thread);
	setenv("WINAPI_TIMEOUT_MS", GROUP_TIMEOUT_MS, 1);
}

/* ---- the service dies under load ---- */

static void test_host_dies(void **state)
{
	winapi_completion_t done[64];
	char input[64] = "in flight", output[64][64];
	winapi_handle_t handle;
	winapi_queue_t queue;
	unsigned int reaped = 0, i;
	int count, failed = 0;


	(void)state;
	handle = winapi_init();
	assert_non_null(handle);
	queue = winapi_queue_create(handle, 64, 600000);
	assert_non_null(queue);
	for (i = 0; i < 64; i++)
		assert_int_equal(winapi_queue_echo(queue, input, sizeof(input), output[i], sizeof(output[i]), NULL), 0);
	assert_int_equal(emulator_stop(&hostd, SIGKILL) != -1, 1);
	winapi_queue_submit(queue);
	/* Every request ends for the service's death, not at its deadline (ten minutes). */
	while (reaped < 64) {
		count = winapi_queue_reap(queue, done, 64, 64 - reaped, 60000);
		assert_true(count > 0);
		for (i = 0; i < (unsigned int)count; i++)
			if (done[i].status != 0) {
				assert_int_equal(done[i].status, -ENOTCONN);
				failed++;
			}
		reaped += (unsigned int)count;
	}
	assert_int_equal(winapi_echo(handle, "anyone?", output[0], sizeof(output[0])), -ENOTCONN);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);

	/* A new service on the same path: a new handle reaches it. */
	assert_int_equal(emulator_start(&hostd, NULL), 0);
	handle = winapi_init();
	assert_non_null(handle);
	assert_int_equal(winapi_echo(handle, "back", output[0], sizeof(output[0])), 0);
	winapi_cleanup(handle);
	assert_int_equal(failed, 64);
}

/* ---- what the environment may ask for and is refused ---- */

static void test_environment_refusals(void **state)
{
	char *saved_path = strdup(getenv("WINAPI_SOCKET_PATH"));

	(void)state;
	setenv("WINAPI_SHARED_MEM", "/mnt/c/temp/winapi_shared_memory", 1);
	errno = 0;
	assert_null(winapi_init());
	assert_int_equal(errno, EINVAL);
	setenv("WINAPI_SHARED_MEM", "/dev/shm/winapi", 1);
	assert_null(winapi_init());
	assert_int_equal(errno, EOPNOTSUPP);
	unsetenv("WINAPI_SHARED_MEM");

	setenv("WINAPI_TRANSPORT", "carrier-pigeon", 1);
	assert_null(winapi_init());
	assert_int_equal(errno, EINVAL);
	setenv("WINAPI_TRANSPORT", "hvsock", 1);

	setenv("WINAPI_SOCKET_PATH", "/nonexistent/winapi.sock", 1);
	assert_null(winapi_init());
	assert_int_equal(errno, ENOENT);
	/* Without a path: AF_VSOCK, whose port must parse (the connect itself needs a hypervisor). */
	unsetenv("WINAPI_SOCKET_PATH");
	setenv("WINAPI_SOCKET_PORT", "not-a-port", 1);
	assert_null(winapi_init());
	assert_int_equal(errno, EINVAL);
	unsetenv("WINAPI_SOCKET_PORT");
	setenv("WINAPI_SOCKET_PATH", saved_path, 1);
	free(saved_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_in_flight),
		cmocka_unit_test(test_registered_api),
		cmocka_unit_test(test_hostile_client),
		cmocka_unit_test(test_service_limits),
		cmocka_unit_test(test_hostile_host),
		cmocka_unit_test(test_slow_reading_host),
		cmocka_unit_test(test_generic_hostile_host),
		cmocka_unit_test(test_environment_refusals),
		cmocka_unit_test(test_host_dies),
	};

	return cmocka_run_group_tests_name("hvsock_e2e", tests, start_hostd, stop_hostd);
}
