/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * End to end: APIs added in one place. This test registers APIs of its own on a host it runs
 * in this process (drivers/host over the emulator's bus, as winapi-host-sim does), then calls
 * them through the unchanged liblowlat: directly on the emulator ("sim"), through a real
 * winapi-pmd child attached to that host ("pmd"), and over the Hyper-V socket wire to the same
 * process's socket service ("hvsock"). Discovery, versions, limits, the queues and events;
 * calls the library must refuse never reach the host (the handlers count what they serve).
 */
#include <errno.h>
#include <poll.h>
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
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <vmbus/channel.h>
#include <vmbus/guid.h>
#include <vmbus/sim.h>
#include <winapi/lowlat.h>
#include <winapi_internal/host.h>
#include <winapi_internal/host_api.h>
#include <winapi_internal/host_socket.h>
#include <winapi_internal/pmd.h>

#include "emulator.h"

#define SUM_API_ID 200u
#define SCALE_API_ID 201u
#define BUFFER_SIZE (64u << 10)
#define ASYNC_CALLS 200u
#define DEPTH 16u

static struct emulator host;   /* the directory and socket of the in-process host */
static struct emulator pmd;
static char pmd_prefix[64];
static struct vmbus_sim_host *listener;
static pthread_t host_thread;
static bool host_stop;
static uint64_t sum_served;   /* __atomic: requests the test.sum handler ran */
static uint64_t scale_served;

/* ---- the test's own APIs: one descriptor and one handler each ---- */

struct sum_pass {
	uint64_t sum;
	uint8_t seed;
};

static int add_bytes(uint8_t *span, size_t length, uint64_t position, void *context)
{
	struct sum_pass *pass = context;
	size_t i;

	(void)position;
	for (i = 0; i < length; i++)
		pass->sum += span[i];
	return 0;
}

static int fill_bytes(uint8_t *span, size_t length, uint64_t position, void *context)
{
	struct sum_pass *pass = context;
	size_t i;

	for (i = 0; i < length; i++)
		span[i] = (uint8_t)(pass->seed + position + i);
	return 0;
}

/*
 * test.sum 1.0: input a u32 seed; sums the bytes of buffer 0 (read), fills buffer 1 (written)
 * with seed + index; answers the u64 sum and the u64 count of bytes written.
 */
static void sum_handler(struct winapi_host_context *context, const struct winapi_host_request *request,
			struct winapi_host_reply *reply)
{
	const struct winapi_message *message = request->message;
	struct sum_pass pass = { 0 };
	uint8_t *out = winapi_host_reply_space(context);
	uint32_t seed;
	uint64_t written;

	__atomic_fetch_add(&sum_served, 1, __ATOMIC_RELAXED);
	if (message->inline_length != sizeof(seed) || message->buffer_count != 2 ||
	    winapi_host_buffers_check(context, request) != 0) {
		reply->status = message->inline_length != sizeof(seed) || message->buffer_count != 2 ?
					WINAPI_STATUS_BAD_MESSAGE : WINAPI_STATUS_BAD_BUFFER;
		return;
	}
	memcpy(&seed, message->inline_data, sizeof(seed));
	pass.seed = (uint8_t)seed;
	winapi_host_buffer_walk(context, request, 0, add_bytes, &pass);
	winapi_host_buffer_walk(context, request, 1, fill_bytes, &pass);
	written = message->buffers[1].length;
	memcpy(out, &pass.sum, 8);
	memcpy(out + 8, &written, 8);
	reply->status = WINAPI_STATUS_OK;
	reply->data = out;
	reply->length = 16;
}

static const struct winapi_host_api sum_api = {
	.entry = { .name = "test.sum", .api_id = SUM_API_ID, .version = 0x100, .max_request = 4, .max_reply = 16,
		   .buffer_access = { WINAPI_ACCESS_HOST_READS, WINAPI_ACCESS_HOST_WRITES } },
	.handler = sum_handler,
};

/* test.scale 2.3: each input byte times 3, inline only. */
static void scale_handler(struct winapi_host_context *context, const struct winapi_host_request *request,
			  struct winapi_host_reply *reply)
{
	const struct winapi_message *message = request->message;
	const uint8_t *in = message->inline_data;
	uint8_t *out = winapi_host_reply_space(context);
	uint32_t i;

	__atomic_fetch_add(&scale_served, 1, __ATOMIC_RELAXED);
	for (i = 0; i < message->inline_length; i++)
		out[i] = (uint8_t)(in[i] * 3);
	reply->status = WINAPI_STATUS_OK;
	reply->data = out;
	reply->length = message->inline_length;
}

static const struct winapi_host_api scale_api = {
	.entry = { .name = "test.scale", .api_id = SCALE_API_ID, .version = 0x203, .max_request = 256,
		   .max_reply = 256 },
	.handler = scale_handler,
};

/* test.count 1.0: winapi.tick's events, with the subscriptions alive counted (who ends them). */
static int live_subscriptions; /* __atomic */

static uint32_t count_subscribe(const void *params, uint32_t length, void **state)
{
	uint32_t status = winapi_host_tick_api.events->subscribe(params, length, state);

	if (status == WINAPI_STATUS_OK)
		__atomic_fetch_add(&live_subscriptions, 1, __ATOMIC_RELAXED);
	return status;
}

static uint64_t count_poll(void *state, uint64_t now_ns, struct winapi_host_events *events)
{
	return winapi_host_tick_api.events->poll(state, now_ns, events);
}

static void count_unsubscribe(void *state)
{
	__atomic_fetch_sub(&live_subscriptions, 1, __ATOMIC_RELAXED);
	winapi_host_tick_api.events->unsubscribe(state);
}

static const struct winapi_host_event_source count_source = {
	.subscribe = count_subscribe,
	.poll = count_poll,
	.unsubscribe = count_unsubscribe,
};

#define COUNT_API_ID 202u

static const struct winapi_host_api count_api = {
	.entry = { .name = "test.count", .api_id = COUNT_API_ID, .version = 0x100,
		   .flags = WINAPI_API_FLAG_EVENT_SOURCE },
	.events = &count_source,
};

/* ---- the in-process host: one guest at a time, channel 0, until it leaves ---- */

static void *serve_guests(void *argument)
{
	struct winapi_host_memory memory;
	struct vmbus_device *device;
	struct winapi_host *server;

	(void)argument;
	while (!__atomic_load_n(&host_stop, __ATOMIC_RELAXED)) {
		struct pollfd pfd = { .fd = vmbus_sim_host_fd(listener), .events = POLLIN };

		if (poll(&pfd, 1, 100) <= 0 || vmbus_sim_host_accept(listener, &device) != 0)
			continue;
		winapi_host_sim_memory(device, &memory);
		if (winapi_host_create(device, 0, &memory, &server) == 0) {
			winapi_host_run(server, &host_stop);
			winapi_host_destroy(server);
		}
		vmbus_device_close(device);
	}
	return NULL;
}

/* ---- the same host's socket service (the hvsock wire), on a unix socket ---- */

static int socket_listener = -1;
static pthread_t socket_thread;
static char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void *serve_connection(void *argument)
{
	int fd = (int)(intptr_t)argument;

	winapi_host_socket_serve(fd, NULL);
	close(fd);
	return NULL;
}

static void *accept_connections(void *argument)
{
	pthread_t thread;
	int fd;

	(void)argument;
	while (!__atomic_load_n(&host_stop, __ATOMIC_RELAXED)) {
		struct pollfd pfd = { .fd = socket_listener, .events = POLLIN };

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		fd = accept(socket_listener, NULL, NULL);
		if (fd < 0)
			continue;
		/* Detached: each serves until its guest closes the connection. */
		if (pthread_create(&thread, NULL, serve_connection, (void *)(intptr_t)fd) == 0)
			pthread_detach(thread);
		else
			close(fd);
	}
	return NULL;
}

static int start_socket_service(void)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };

	if ((size_t)snprintf(socket_path, sizeof(socket_path), "%s/hostd.sock", host.directory) >= sizeof(socket_path))
		return -1;
	memcpy(address.sun_path, socket_path, sizeof(socket_path));
	socket_listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (socket_listener < 0 || bind(socket_listener, (struct sockaddr *)&address, sizeof(address)) != 0 ||
	    listen(socket_listener, 16) != 0)
		return -1;
	return pthread_create(&socket_thread, NULL, accept_connections, NULL) == 0 ? 0 : -1;
}

static int start_host(void)
{
	struct vmbus_sim_host_config config = { .guest_ram_size = VMBUS_SIM_DEFAULT_GUEST_RAM };

	if (winapi_host_api_register(&sum_api) != 0 || winapi_host_api_register(&scale_api) != 0 ||
	    winapi_host_api_register(&winapi_host_tick_api) != 0 || winapi_host_api_register(&count_api) != 0)
		return -1;
	if (emulator_prepare(&host, "api_e2e") != 0 || vmbus_sim_profile("linux-6.12", &config) != 0)
		return -1;
	config.socket_path = host.socket_path;
	vmbus_guid_parse(WINAPI_DEVICE_CLASS, &config.class_id);
	vmbus_guid_parse("8a3b5f61-0d2c-4c1e-9e55-0f2d4a6b7c81", &config.instance_id);
	if (vmbus_sim_host_listen(&config, &listener) != 0)
		return -1;
	if (pthread_create(&host_thread, NULL, serve_guests, NULL) != 0)
		return -1;
	return start_socket_service();
}

static void stop_host(void)
{
	__atomic_store_n(&host_stop, true, __ATOMIC_RELAXED);
	pthread_join(host_thread, NULL);
	pthread_join(socket_thread, NULL);
	close(socket_listener);
	unlink(socket_path);
	vmbus_sim_host_close(listener);
	emulator_cleanup(&host);
}

/* ---- the calls, the same through every transport ---- */

static void check_list(void)
{
	static const char *const expected[] = { "winapi.echo", "winapi.buffer_test", "winapi.perf_test", "test.sum",
						"test.scale", "winapi.tick", "test.count" };
	winapi_handle_t handle = winapi_init();
	winapi_api_info_t apis[16];
	unsigned int oldest, newest, i, j;
	int count;

	assert_non_null(handle);
	count = winapi_api_list(handle, apis, 16);
	assert_int_equal(count, 7);
	for (i = 0; i < 7; i++) {
		for (j = 0; j < (unsigned int)count && strcmp(apis[j].name, expected[i]) != 0; j++)
			;
		assert_true(j < (unsigned int)count);
	}
	/* Fewer slots than APIs: the count says how many there are. */
	assert_int_equal(winapi_api_list(handle, apis, 2), 7);
	assert_int_equal(winapi_protocol_versions(handle, &oldest, &newest), 0);
	assert_int_equal(oldest, WINAPI_PROTOCOL_VERSION_OLDEST);
	assert_int_equal(newest, WINAPI_PROTOCOL_VERSION);
	winapi_cleanup(handle);
}

static void check_lookup_and_versions(void)
{
	winapi_handle_t handle = winapi_init();
	uint8_t input[3] = { 1, 2, 50 }, output[3];
	winapi_api_info_t info;
	size_t length = 99;
	uint64_t served = __atomic_load_n(&scale_served, __ATOMIC_RELAXED);

	assert_non_null(handle);
	assert_int_equal(winapi_api_lookup(handle, "test.sum", 1, &info), 0);
	assert_int_equal(info.api_id, SUM_API_ID);
	assert_int_equal(info.max_request, 4);
	assert_int_equal(info.buffer_access[0], WINAPI_ACCESS_HOST_READS);
	assert_int_equal(info.buffer_access[1], WINAPI_ACCESS_HOST_WRITES);
	assert_int_equal(winapi_api_lookup(handle, "test.nothing", 1, &info), -ENOENT);
	/* Written for 1.x of test.scale, which the host serves at 2.3: told, with the host's entry. */
	assert_int_equal(winapi_api_lookup(handle, "test.scale", 1, &info), -EPROTONOSUPPORT);
	assert_int_equal(info.version, 0x203);
	assert_int_equal(winapi_api_lookup(handle, "test.scale", 2, &info), 0);

	winapi_api_call_t call = { .api = SCALE_API_ID, .version_major = 1, .input = input, .input_length = 3,
				   .output = output, .output_size = sizeof(output) };
	assert_int_equal(winapi_call_api(handle, &call, &length), -EPROTONOSUPPORT);
	assert_int_equal(length, 0);
	call.version_major = 2;
	assert_int_equal(winapi_call_api(handle, &call, &length), 0);
	assert_int_equal(length, 3);
	assert_int_equal(output[0], 3);
	assert_int_equal(output[2], 150);
	/* An id the host does not serve. */
	call.api = 999;
	assert_int_equal(winapi_call_api(handle, &call, &length), -EOPNOTSUPP);
	/* Only the one call that was right reached the host. */
	assert_int_equal(__atomic_load_n(&scale_served, __ATOMIC_RELAXED), served + 1);
	winapi_cleanup(handle);
}

static void check_sum_call(void)
{
	winapi_handle_t handle = winapi_init();
	winapi_buffer_t buffers[3] = { 0 };
	uint64_t reply[2], expected = 0, served;
	uint32_t seed = 7;
	size_t i, length;

	assert_non_null(handle);
	for (i = 0; i < 3; i++)
		assert_int_equal(winapi_alloc_buffer(&buffers[i], BUFFER_SIZE), 0);
	for (i = 0; i < BUFFER_SIZE; i++) {
		((uint8_t *)buffers[0].data)[i] = (uint8_t)(i * 13);
		expected += (uint8_t)(i * 13);
	}
	winapi_api_call_t call = { .api = SUM_API_ID, .version_major = 1, .input = &seed, .input_length = 4,
				   .output = reply, .output_size = sizeof(reply), .buffers = buffers,
				   .buffer_count = 2 };
	assert_int_equal(winapi_call_api(handle, &call, &length), 0);
	assert_int_equal(length, 16);
	assert_true(reply[0] == expected);
	assert_int_equal(reply[1], BUFFER_SIZE);
	for (i = 0; i < BUFFER_SIZE; i++)
		if (((uint8_t *)buffers[1].data)[i] != (uint8_t)(seed + i))
			fail_msg("buffer 1 byte %zu: %u", i, ((uint8_t *)buffers[1].data)[i]);

	/* Refused in the process: over the API's limits, or its major. None reaches the host. */
	served = __atomic_load_n(&sum_served, __ATOMIC_RELAXED);
	call.input_length = 5;
	assert_int_equal(winapi_call_api(handle, &call, &length), -EMSGSIZE);
	call.input_length = 4;
	call.buffer_count = 3;
	assert_int_equal(winapi_call_api(handle, &call, &length), -EINVAL);
	call.buffer_count = 2;
	call.version_major = 2;
	assert_int_equal(winapi_call_api(handle, &call, &length), -EPROTONOSUPPORT);
	call.version_major = 0;
	assert_int_equal(winapi_call_api(handle, &call, &length), -EINVAL);
	assert_true(__atomic_load_n(&sum_served, __ATOMIC_RELAXED) == served);
	/* The handler's own check: it takes exactly two buffers. */
	call.version_major = 1;
	call.buffer_count = 1;
	assert_int_equal(winapi_call_api(handle, &call, &length), -EBADMSG);

	/* The seed calls are unchanged beside it. */
	char echoed[32];
	assert_int_equal(winapi_echo(handle, "still here", echoed, sizeof(echoed)), 0);
	assert_string_equal(echoed, "still here");
	for (i = 0; i < 3; i++)
		winapi_free_buffer(&buffers[i]);
	winapi_cleanup(handle);
}

static void check_queue_calls(void)
{
	winapi_handle_t handle = winapi_init();
	winapi_queue_t queue;
	winapi_completion_t completions[DEPTH];
	uint8_t inputs[DEPTH][8], outputs[DEPTH][8];
	unsigned int sent = 0, done = 0, in_flight = 0, i;
	int count;

	assert_non_null(handle);
	queue = winapi_queue_create(handle, DEPTH, -1);
	assert_non_null(queue);
	while (done < ASYNC_CALLS) {
		while (sent < ASYNC_CALLS && in_flight < DEPTH) {
			unsigned int slot = sent % DEPTH;

			for (i = 0; i < 8; i++)
				inputs[slot][i] = (uint8_t)(sent + i);
			winapi_api_call_t call = { .api = SCALE_API_ID, .version_major = 2, .input = inputs[slot],
						   .input_length = 8, .output = outputs[slot], .output_size = 8 };
			assert_int_equal(winapi_queue_call_api(queue, &call, (void *)(uintptr_t)sent), 0);
			sent++;
			in_flight++;
		}
		assert_true(winapi_queue_submit(queue) >= 0);
		count = winapi_queue_reap(queue, completions, DEPTH, 1, -1);
		assert_true(count > 0);
		for (i = 0; i < (unsigned int)count; i++) {
			unsigned int number = (unsigned int)(uintptr_t)completions[i].user_data, j;

			assert_int_equal(completions[i].status, 0);
			assert_int_equal(completions[i].length, 8);
			for (j = 0; j < 8; j++)
				assert_int_equal(outputs[number % DEPTH][j], (uint8_t)((number + j) * 3));
		}
		done += (unsigned int)count;
		in_flight -= (unsigned int)count;
	}
	/* Checked before it is queued, like the synchronous call. */
	winapi_api_call_t wrong = { .api = SCALE_API_ID, .version_major = 1 };
	assert_int_equal(winapi_queue_call_api(queue, &wrong, NULL), -EPROTONOSUPPORT);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);
}

/* ---- events ---- */

#define TICK_API_ID 16u
#define EVENT_DEADLINE_NS (30ull * 1000000000u)

static uint64_t subscribe_tick(winapi_handle_t handle, uint32_t period_ms, unsigned int depth)
{
	uint64_t subscription = 0;

	assert_int_equal(winapi_subscribe(handle, TICK_API_ID, 1, &period_ms, sizeof(period_ms), depth, &subscription),
			 0);
	assert_true(subscription != 0);
	return subscription;
}

/* Keep @receives receives of up to 8 events in flight until @wanted events came; check order. */
static void receive_in_order(winapi_queue_t queue, uint64_t subscription, unsigned int wanted)
{
	static winapi_event_t events[4][8];
	winapi_completion_t completions[4];
	uint64_t last_sequence = 0, last_time = 0, time;
	unsigned int got = 0, i, j;
	int count;

	for (i = 0; i < 4; i++)
		assert_int_equal(winapi_queue_receive_events(queue, subscription, events[i], 8, events[i]), 0);
	assert_true(winapi_queue_submit(queue) >= 0);
	while (got < wanted) {
		count = winapi_queue_reap(queue, completions, 4, 1, 30000);
		assert_true(count > 0);
		for (i = 0; i < (unsigned int)count; i++) {
			winapi_event_t *batch = completions[i].user_data;

			assert_int_equal(completions[i].status, 0);
			assert_true(completions[i].length >= 1 && completions[i].length <= 8);
			for (j = 0; j < completions[i].length; j++) {
				/* In the order posted, none lost: each the next sequence, the host's clock rising. */
				assert_true(batch[j].subscription == subscription);
				assert_true(batch[j].sequence == last_sequence + 1);
				assert_true(batch[j].lost == 0);
				assert_int_equal(batch[j].length, 8);
				memcpy(&time, batch[j].data, 8);
				assert_true(time > last_time);
				last_sequence = batch[j].sequence;
				last_time = time;
			}
			got += (unsigned int)completions[i].length;
			assert_int_equal(winapi_queue_receive_events(queue, subscription, batch, 8, batch), 0);
		}
		assert_true(winapi_queue_submit(queue) >= 0);
	}
}

static void check_events(void)
{
	winapi_handle_t handle = winapi_init();
	winapi_event_t events[8], late[8];
	winapi_completion_t completions[4];
	uint64_t subscription, slow, period = 5, expected_next;
	winapi_queue_t queue;
	unsigned int i;
	int count;

	assert_non_null(handle);
	queue = winapi_queue_create(handle, 8, -1);
	assert_non_null(queue);

	/* In order, several receives in flight, the oldest filled first. */
	subscription = subscribe_tick(handle, 5, 256);
	receive_in_order(queue, subscription, 40);

	/* Unsubscribe: the receives still pending end with -ECANCELED, and so does a new one. */
	assert_int_equal(winapi_unsubscribe(handle, subscription), 0);
	for (i = 0; i < 4;) {
		count = winapi_queue_reap(queue, completions, 4, 1, 30000);
		assert_true(count > 0);
		/* Events that came before the unsubscribe are delivered; then the end. */
		for (int k = 0; k < count; k++, i++)
			assert_true(completions[k].status == -ECANCELED || completions[k].status == 0);
	}
	assert_int_equal(winapi_queue_receive_events(queue, subscription, events, 8, NULL), 0);
	assert_int_equal(winapi_queue_submit(queue), 1);
	assert_int_equal(winapi_queue_reap(queue, completions, 1, 1, 30000), 1);
	assert_int_equal(completions[0].status, -ECANCELED);
	assert_int_equal(winapi_unsubscribe(handle, subscription), 0); /* again: not an error */

	/*
	 * Loss: a 1 ms tick the host keeps 4 of, nobody receiving for 100 ms. The first receive
	 * gets the 4 oldest (sequences 1..4) and the count of those lost after them; the next
	 * starts past the gap that count accounts for.
	 */
	slow = subscribe_tick(handle, 1, 4);
	sleep_ms(100);
	assert_int_equal(winapi_queue_receive_events(queue, slow, events, 8, NULL), 0);
	assert_int_equal(winapi_queue_submit(queue), 1);
	assert_int_equal(winapi_queue_reap(queue, completions, 1, 1, 30000), 1);
	assert_int_equal(completions[0].status, 0);
	assert_int_equal(completions[0].length, 4);
	for (i = 0; i < 4; i++)
		assert_true(events[i].sequence == i + 1);
	assert_true(events[0].lost > 0);
	expected_next = 5 + events[0].lost;
	assert_int_equal(winapi_queue_receive_events(queue, slow, late, 8, NULL), 0);
	assert_int_equal(winapi_queue_submit(queue), 1);
	assert_int_equal(winapi_queue_reap(queue, completions, 1, 1, 30000), 1);
	assert_int_equal(completions[0].status, 0);
	/* Lost only grows, and what was lost before this batch is exactly the gap before it. */
	assert_true(late[0].lost >= events[0].lost);
	assert_true(late[0].sequence >= expected_next);
	assert_true(late[0].sequence - 5 <= late[0].lost);
	assert_int_equal(winapi_unsubscribe(handle, slow), 0);

	/* Refused: not an event source, the source's own check, another major. */
	assert_int_equal(winapi_subscribe(handle, SUM_API_ID, 1, NULL, 0, 0, &subscription), -EINVAL);
	period = 0;
	assert_int_equal(winapi_subscribe(handle, TICK_API_ID, 1, &period, 4, 0, &subscription), -EBADMSG);
	assert_int_equal(winapi_subscribe(handle, TICK_API_ID, 2, &period, 4, 0, &subscription), -EPROTONOSUPPORT);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);
}

/* An application's own event loop: poll() the queue's descriptor, reap without waiting. */
static void check_event_fd(void)
{
	winapi_handle_t handle = winapi_init();
	winapi_event_t events[2][4];
	winapi_completion_t completions[2];
	uint64_t subscription, last_sequence = 0;
	unsigned int got = 0, wakeups = 0, i, j;
	winapi_queue_t queue;
	struct pollfd pfd;
	int fd, count;

	assert_non_null(handle);
	queue = winapi_queue_create(handle, 4, -1);
	assert_non_null(queue);
	fd = winapi_queue_event_fd(queue);
	assert_true(fd >= 0);
	assert_int_equal(winapi_queue_event_fd(queue), fd);
	subscription = subscribe_tick(handle, 20, 64);
	for (i = 0; i < 2; i++)
		assert_int_equal(winapi_queue_receive_events(queue, subscription, events[i], 4, events[i]), 0);
	assert_int_equal(winapi_queue_submit(queue), 2);
	while (got < 20) {
		pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
		/* Bounded: a loop that is never woken fails instead of hanging. */
		assert_int_equal(poll(&pfd, 1, 30000), 1);
		wakeups++;
		while ((count = winapi_queue_reap(queue, completions, 2, 0, 0)) > 0) {
			for (i = 0; i < (unsigned int)count; i++) {
				winapi_event_t *batch = completions[i].user_data;

				assert_int_equal(completions[i].status, 0);
				for (j = 0; j < completions[i].length; j++) {
					assert_true(batch[j].sequence == last_sequence + 1);
					last_sequence = batch[j].sequence;
				}
				got += (unsigned int)completions[i].length;
				assert_int_equal(winapi_queue_receive_events(queue, subscription, batch, 4, batch), 0);
			}
			assert_true(winapi_queue_submit(queue) >= 0);
		}
		assert_true(count == 0);
	}
	/* Woken by the host, not spun: fewer wake-ups than a 1 ms poll would have made. */
	assert_true(wakeups <= got + 2 * 20);
	assert_int_equal(winapi_unsubscribe(handle, subscription), 0);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);
}

/* ---- through winapi-pmd: whose subscription is whose ---- */

/* Wait (bounded) until the host holds @count subscriptions of test.count. */
static void wait_live_subscriptions(int count)
{
	unsigned int i;

	for (i = 0; i < 3000 && __atomic_load_n(&live_subscriptions, __ATOMIC_RELAXED) != count; i++)
		sleep_ms(10);
	assert_int_equal(__atomic_load_n(&live_subscriptions, __ATOMIC_RELAXED), count);
}

static void check_pmd_subscriptions(void)
{
	winapi_handle_t owner = winapi_init(), other = winapi_init();
	winapi_completion_t completion;
	winapi_event_t events[4];
	uint64_t subscription, extra[8];
	uint32_t period_ms = 10;
	winapi_queue_t queue;
	unsigned int i;
	int base = __atomic_load_n(&live_subscriptions, __ATOMIC_RELAXED), status;
	pid_t child;

	assert_non_null(owner);
	assert_non_null(other);
	assert_int_equal(winapi_subscribe(owner, COUNT_API_ID, 1, &period_ms, 4, 16, &subscription), 0);
	wait_live_subscriptions(base + 1);

	/* Another client naming it: answered by the daemon as an ended subscription, never forwarded. */
	queue = winapi_queue_create(other, 2, -1);
	assert_non_null(queue);
	assert_int_equal(winapi_queue_receive_events(queue, subscription, events, 4, NULL), 0);
	assert_int_equal(winapi_queue_submit(queue), 1);
	assert_int_equal(winapi_queue_reap(queue, &completion, 1, 1, 30000), 1);
	assert_int_equal(completion.status, -ECANCELED);
	assert_int_equal(winapi_unsubscribe(other, subscription), 0);
	winapi_queue_destroy(queue);
	/* ...and it is still the owner's. */
	queue = winapi_queue_create(owner, 2, -1);
	assert_non_null(queue);
	assert_int_equal(winapi_queue_receive_events(queue, subscription, events, 4, NULL), 0);
	assert_int_equal(winapi_queue_submit(queue), 1);
	assert_int_equal(winapi_queue_reap(queue, &completion, 1, 1, 30000), 1);
	assert_int_equal(completion.status, 0);
	assert_true(completion.length >= 1);
	winapi_queue_destroy(queue);
	wait_live_subscriptions(base + 1);

	/* A client holds at most 8. */
	for (i = 0; i < 7; i++)
		assert_int_equal(winapi_subscribe(owner, COUNT_API_ID, 1, &period_ms, 4, 4, &extra[i]), 0);
	assert_int_equal(winapi_subscribe(owner, COUNT_API_ID, 1, &period_ms, 4, 4, &extra[7]), -EBUSY);
	for (i = 0; i < 7; i++)
		assert_int_equal(winapi_unsubscribe(owner, extra[i]), 0);
	assert_int_equal(winapi_unsubscribe(owner, subscription), 0);
	wait_live_subscriptions(base);

	/* A client that dies holding subscriptions: the daemon ends them at the host. */
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		winapi_handle_t handle = winapi_init();
		uint64_t ignored;

		if (handle == NULL || winapi_subscribe(handle, COUNT_API_ID, 1, &period_ms, 4, 4, &ignored) != 0 ||
		    winapi_subscribe(handle, COUNT_API_ID, 1, &period_ms, 4, 4, &ignored) != 0)
			_exit(1);
		_exit(0); /* no unsubscribe, no cleanup */
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	wait_live_subscriptions(base);
	winapi_cleanup(other);
	winapi_cleanup(owner);
}

/* ---- directly on the emulator ---- */

static int sim_setup(void **state)
{
	(void)state;
	setenv("WINAPI_TRANSPORT", "sim", 1);
	setenv("WINAPI_SIM_SOCKET", host.socket_path, 1);
	return 0;
}

static void test_sim_list(void **state)
{
	(void)state;
	check_list();
}

static void test_sim_lookup_and_versions(void **state)
{
	(void)state;
	check_lookup_and_versions();
}

static void test_sim_sum(void **state)
{
	(void)state;
	check_sum_call();
}

static void test_sim_queue(void **state)
{
	(void)state;
	check_queue_calls();
}

static void test_sim_events(void **state)
{
	(void)state;
	check_events();
}

static void test_sim_event_fd(void **state)
{
	(void)state;
	check_event_fd();
}

/* ---- through winapi-pmd, attached to the same host ---- */

static int pmd_setup(void **state)
{
	const char *arguments[] = { "--lcores", "0", "--backend", "sim", "--sim-socket", host.socket_path,
				    "--file-prefix", pmd_prefix, "--pool-size", "8", "--log-level", "info", NULL };

	(void)state;
	snprintf(pmd_prefix, sizeof(pmd_prefix), "api-e2e-%d", (int)getpid());
	if (emulator_prepare_program(&pmd, "api-e2e-pmd", "winapi-pmd") != 0 || emulator_start(&pmd, arguments) != 0)
		return -1;
	setenv("WINAPI_TRANSPORT", "pmd", 1);
	setenv("WINAPI_PMD_SOCKET", pmd.socket_path, 1);
	return 0;
}

static int pmd_teardown(void **state)
{
	char directory[108];

	(void)state;
	emulator_cleanup(&pmd);
	if (winapi_pmd_runtime_dir(pmd_prefix, false, directory, sizeof(directory)) == 0)
		rmdir(directory);
	return 0;
}

static void test_pmd_list(void **state)
{
	(void)state;
	check_list();
}

static void test_pmd_lookup_and_versions(void **state)
{
	(void)state;
	check_lookup_and_versions();
}

static void test_pmd_sum(void **state)
{
	(void)state;
	check_sum_call();
}

static void test_pmd_queue(void **state)
{
	(void)state;
	check_queue_calls();
}

static void test_pmd_events(void **state)
{
	(void)state;
	check_events();
}

static void test_pmd_event_fd(void **state)
{
	(void)state;
	check_event_fd();
}

static void test_pmd_subscriptions(void **state)
{
	(void)state;
	check_pmd_subscriptions();
}

/* ---- the Hyper-V socket wire, to the same host's socket service ---- */

static int hvsock_setup(void **state)
{
	(void)state;
	setenv("WINAPI_TRANSPORT", "hvsock", 1);
	setenv("WINAPI_SOCKET_PATH", socket_path, 1);
	return 0;
}

static void test_hvsock_list(void **state)
{
	(void)state;
	check_list();
}

static void test_hvsock_lookup_and_versions(void **state)
{
	(void)state;
	check_lookup_and_versions();
}

static void test_hvsock_sum(void **state)
{
	(void)state;
	check_sum_call();
}

static void test_hvsock_queue(void **state)
{
	(void)state;
	check_queue_calls();
}

static void test_hvsock_events(void **state)
{
	(void)state;
	check_events();
}

static void test_hvsock_event_fd(void **state)
{
	(void)state;
	check_event_fd();
}

int main(void)
{
	const struct CMUnitTest sim_tests[] = {
		cmocka_unit_test(test_sim_list),
		cmocka_unit_test(test_sim_lookup_and_versions),
		cmocka_unit_test(test_sim_sum),
		cmocka_unit_test(test_sim_queue),
		cmocka_unit_test(test_sim_events),
		cmocka_unit_test(test_sim_event_fd),
	};
	const struct CMUnitTest pmd_tests[] = {
		cmocka_unit_test(test_pmd_list),
		cmocka_unit_test(test_pmd_lookup_and_versions),
		cmocka_unit_test(test_pmd_sum),
		cmocka_unit_test(test_pmd_queue),
		cmocka_unit_test(test_pmd_events),
		cmocka_unit_test(test_pmd_event_fd),
		cmocka_unit_test(test_pmd_subscriptions),
	};
	const struct CMUnitTest hvsock_tests[] = {
		cmocka_unit_test(test_hvsock_list),
		cmocka_unit_test(test_hvsock_lookup_and_versions),
		cmocka_unit_test(test_hvsock_sum),
		cmocka_unit_test(test_hvsock_queue),
		cmocka_unit_test(test_hvsock_events),
		cmocka_unit_test(test_hvsock_event_fd),
	};
	int failed;

	signal(SIGPIPE, SIG_IGN);
	/* Every call must succeed on a loaded machine: a minute each, not the default 5 s. */
	setenv("WINAPI_TIMEOUT_MS", "60000", 1);
	if (start_host() != 0) {
		fprintf(stderr, "api_e2e: cannot start the in-process host\n");
		return 1;
	}
	failed = cmocka_run_group_tests_name("sim", sim_tests, sim_setup, NULL);
	failed += cmocka_run_group_tests_name("pmd", pmd_tests, pmd_setup, pmd_teardown);
	failed += cmocka_run_group_tests_name("hvsock", hvsock_tests, hvsock_setup, NULL);
	stop_host();
	return failed != 0;
}
