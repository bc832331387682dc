/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hvsock transport end to end: liblowlat (WINAPI_TRANSPORT=hvsock) against winapi-hostd on
 * AF_UNIX (standing in for AF_VSOCK), many requests in flight from several threads, a hostile
 * client against the service, a hostile host (played here) against the library, the service
 * dying under load, and the environment's refusals.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
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

static void expect_reply(int fd, uint64_t request_id, uint32_t status)
{
	/* One frame at a time: this reader never holds bytes of the next one. */
	static struct winapi_hvsock_reader reader;
	struct winapi_hvsock_header reply;
	char text[WINAPI_HVSOCK_MAX_HEADER];
	size_t length;

	winapi_hvsock_reader_init(&reader, fd);
	assert_int_equal(winapi_hvsock_receive_header(&reader, text, sizeof(text), &length), 0);
	assert_int_equal(winapi_hvsock_reply_decode(text, length, &reply), 0);
	assert_int_equal(reply.request_id, request_id);
	assert_int_equal(reply.status, status);
	assert_int_equal(winapi_hvsock_receive(&reader, NULL, reply.payload_size), 0);
}

static void expect_closed(int fd)
{
	char byte;

	assert_int_equal(recv(fd, &byte, 1, 0), 0);
	close(fd);
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

/* ---- a hostile host against the library ---- */

enum fake_host_mode {
	FAKE_WRONG_ID,        /* answers another id, then nothing: the call times out */
	FAKE_ECHO_TOO_LONG,   /* an echo longer than the caller's room */
	FAKE_WRITE_SHORT,     /* a write's bytes, one short: refused before it lands */
	FAKE_GARBAGE,         /* a header that does not decode: the connection is dropped */
	FAKE_STALL,           /* a reply's header and part of its payload, then nothing */
	FAKE_DEAF,            /* never reads a request: the guest's socket buffer fills */
	FAKE_LATE,            /* answers its first echo right once released, the others at once */
};

struct fake_host {
	int listener;
	int release; /* FAKE_DEAF: may read again; FAKE_LATE: may answer (__atomic) */
	enum fake_host_mode mode;
	char path[108];
};

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
		case FAKE_DEAF:
			break;
		case FAKE_LATE:
			/* Late by an event, not a delay: released once the guest has given up. */
			for (int i = 0; i < 3000 && __atomic_load_n(&fake->release, __ATOMIC_ACQUIRE) == 0; i++)
				sleep_ms(10);
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
		cmocka_unit_test(test_hostile_client),
		cmocka_unit_test(test_hostile_host),
		cmocka_unit_test(test_environment_refusals),
		cmocka_unit_test(test_host_dies),
	};

	return cmocka_run_group_tests_name("hvsock_e2e", tests, start_hostd, stop_hostd);
}
