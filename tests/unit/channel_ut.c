/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the device and channel layer (lib/vmbus/device.c, channel.c) over a test
 * backend: a guest device and a host device on the same memory, eventfds for signals, and
 * counters that show exactly when the channel decided to signal.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <vmbus/backend.h>
#include <vmbus/channel.h>

#include "asleep.h"

#define PAGE 4096u
#define RING_SIZE (2 * PAGE) /* one direction: header page + 4 KiB of data */

struct fake_end {
	int wake_fd;            /* the peer writes here to wake us */
	int peer_fd;            /* we write here to wake the peer */
	unsigned int signals;   /* times the channel called our signal op */
	bool peer_gone;
	int wait_calls;
};

struct fixture {
	uint8_t *memory;
	struct fake_end guest_end, host_end;
	struct vmbus_device *guest, *host;
	struct vmbus_channel *guest_channel, *host_channel;
};

static int fake_signal(struct vmbus_device *device, unsigned int index)
{
	struct fake_end *end = vmbus_device_backend_data(device);
	uint64_t one = 1;

	(void)index;
	__atomic_fetch_add(&end->signals, 1, __ATOMIC_RELAXED);
	return write(end->peer_fd, &one, sizeof(one)) == sizeof(one) ? 0 : -ENOTCONN;
}

static int fake_wait(struct vmbus_device *device, int timeout_ms)
{
	struct fake_end *end = vmbus_device_backend_data(device);
	struct pollfd pfd = { .fd = end->wake_fd, .events = POLLIN };
	uint64_t count;
	int rc;

	__atomic_fetch_add(&end->wait_calls, 1, __ATOMIC_RELAXED);
	if (__atomic_load_n(&end->peer_gone, __ATOMIC_RELAXED))
		return -ENOTCONN;
	rc = poll(&pfd, 1, timeout_ms);
	if (rc == 0)
		return -ETIMEDOUT;
	if (rc < 0)
		return -errno;
	if (read(end->wake_fd, &count, sizeof(count)) < 0)
		return -EIO;
	return 0;
}

static const struct vmbus_backend_ops fake_ops = {
	.name = "fake",
	.signal = fake_signal,
	.wait = fake_wait,
};

static int make_device(struct fixture *f, enum vmbus_side side, struct fake_end *end,
		       struct vmbus_device **device)
{
	struct vmbus_channel_region region = {
		.ring_base = f->memory, .ring_size = RING_SIZE, .relid = 1,
		.monitor_id = VMBUS_MONITOR_ID_NONE,
	};
	struct vmbus_device_params params = {
		.numa_node = -1, .side = side, .page_size = PAGE, .channel_count = 1,
		.channels = &region, .ops = &fake_ops, .backend_data = end,
	};

	return vmbus_device_create(&params, device);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	int guest_wake = eventfd(0, EFD_NONBLOCK), host_wake = eventfd(0, EFD_NONBLOCK);

	if (f == NULL || guest_wake < 0 || host_wake < 0)
		return -1;
	f->memory = aligned_alloc(PAGE, 2 * RING_SIZE);
	if (f->memory == NULL)
		return -1;
	vmbus_ring_header_init(f->memory, PAGE);
	vmbus_ring_header_init(f->memory + RING_SIZE, PAGE);
	f->guest_end = (struct fake_end){ .wake_fd = guest_wake, .peer_fd = host_wake };
	f->host_end = (struct fake_end){ .wake_fd = host_wake, .peer_fd = guest_wake };
	if (make_device(f, VMBUS_SIDE_GUEST, &f->guest_end, &f->guest) != 0 ||
	    make_device(f, VMBUS_SIDE_HOST, &f->host_end, &f->host) != 0 ||
	    vmbus_chan_open(f->guest, 0, &f->guest_channel) != 0 ||
	    vmbus_chan_open(f->host, 0, &f->host_channel) != 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->guest_channel != NULL)
		vmbus_chan_close(f->guest_channel);
	vmbus_chan_close(f->host_channel);
	vmbus_device_close(f->guest);
	vmbus_device_close(f->host);
	close(f->guest_end.wake_fd);
	close(f->host_end.wake_fd);
	free(f->memory);
	free(f);
	return 0;
}

static struct vmbus_ring_header *guest_tx_header(struct fixture *f)
{
	return (struct vmbus_ring_header *)f->memory;
}

static struct vmbus_ring_header *guest_rx_header(struct fixture *f)
{
	return (struct vmbus_ring_header *)(f->memory + RING_SIZE);
}

static int send_text(struct vmbus_channel *channel, uint64_t trans_id, const char *text)
{
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };

	return vmbus_chan_send_inband(channel, trans_id, VMBUS_PACKET_FLAG_COMPLETION_REQUESTED, &iov, 1);
}

static void test_device_create_checks(void **state)
{
	struct fixture *f = *state;
	struct vmbus_channel_region region = { .ring_base = f->memory, .ring_size = RING_SIZE };
	struct vmbus_device_params params = {
		.page_size = PAGE, .channel_count = 1, .channels = &region, .ops = &fake_ops,
	};
	struct vmbus_backend_ops no_wait = { .name = "x", .signal = fake_signal };
	struct vmbus_device *device;

	params.channel_count = 0;
	assert_int_equal(vmbus_device_create(&params, &device), -EINVAL);
	params.channel_count = 1;
	params.ops = &no_wait;
	assert_int_equal(vmbus_device_create(&params, &device), -EINVAL);
	params.ops = &fake_ops;
	region.ring_size = PAGE; /* no data area */
	assert_int_equal(vmbus_device_create(&params, &device), -EINVAL);
	region.ring_base = NULL;
	region.ring_size = RING_SIZE;
	assert_int_equal(vmbus_device_create(&params, &device), -EINVAL);

	assert_int_equal(vmbus_device_channel_count(f->guest), 1);
	assert_int_equal(vmbus_device_numa_node(f->guest), -1);
	assert_string_equal(vmbus_device_backend_name(f->guest), "fake");
}

static void test_open_rules(void **state)
{
	struct fixture *f = *state;
	struct vmbus_channel *channel;

	assert_int_equal(vmbus_chan_open(f->guest, 0, &channel), -EBUSY);
	assert_int_equal(vmbus_chan_open(f->guest, 1, &channel), -EINVAL);
	/* Both sides start in polling mode: their RX interrupt_mask is set. */
	assert_int_equal(guest_rx_header(f)->interrupt_mask, 1);
	assert_int_equal(guest_tx_header(f)->interrupt_mask, 1);
	/* Closing frees the slot. */
	vmbus_chan_close(f->guest_channel);
	assert_int_equal(vmbus_chan_open(f->guest, 0, &f->guest_channel), 0);
	assert_int_equal(vmbus_chan_max_packet_size(f->guest_channel), PAGE - 16);
}

static void test_request_and_completion(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet_info info;
	uint8_t buffer[256];
	struct iovec reply = { .iov_base = "pong", .iov_len = 4 };
	struct vmbus_chan_stats stats;

	assert_int_equal(send_text(f->guest_channel, 77, "ping"), 0);
	/* The guest's TX ring is the first half: the host reads it there. */
	assert_int_equal(guest_tx_header(f)->write_index, 32);
	assert_int_equal(vmbus_chan_recv(f->host_channel, buffer, sizeof(buffer), &info), 0);
	assert_int_equal(info.type, VMBUS_PACKET_DATA_INBAND);
	assert_int_equal(info.flags, VMBUS_PACKET_FLAG_COMPLETION_REQUESTED);
	assert_true(info.trans_id == 77);
	assert_memory_equal(buffer + info.header_size, "ping", 4);
	assert_int_equal(vmbus_chan_recv_done(f->host_channel), 0);

	assert_int_equal(vmbus_chan_send_completion(f->host_channel, 77, &reply, 1), 0);
	assert_int_equal(guest_rx_header(f)->write_index, 32);
	assert_int_equal(vmbus_chan_recv(f->guest_channel, buffer, sizeof(buffer), &info), 0);
	assert_int_equal(info.type, VMBUS_PACKET_COMPLETION);
	assert_int_equal(info.flags, 0);
	assert_true(info.trans_id == 77);
	assert_memory_equal(buffer + info.header_size, "pong", 4);
	assert_int_equal(vmbus_chan_recv(f->guest_channel, buffer, sizeof(buffer), &info), -EAGAIN);

	/* Both sides were polling (masked): no signal was needed in either direction. */
	assert_int_equal(f->guest_end.signals, 0);
	assert_int_equal(f->host_end.signals, 0);
	vmbus_chan_get_stats(f->guest_channel, &stats);
	assert_int_equal(stats.packets_sent, 1);
	assert_int_equal(stats.packets_received, 1);
}

static void test_signal_only_on_transition(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet_info info;
	uint8_t buffer[256];

	/* The host stops polling: it clears the mask of the ring it reads. */
	guest_tx_header(f)->interrupt_mask = 0;
	assert_int_equal(send_text(f->guest_channel, 1, "a"), 0);
	assert_int_equal(f->guest_end.signals, 1);      /* empty -> non-empty */
	assert_int_equal(send_text(f->guest_channel, 2, "b"), 0);
	assert_int_equal(f->guest_end.signals, 1);      /* not a transition */

	while (vmbus_chan_recv(f->host_channel, buffer, sizeof(buffer), &info) == 0)
		;
	assert_int_equal(vmbus_chan_recv_done(f->host_channel), 0);

	/* A batch of five from empty: one publication, one signal. */
	for (int i = 0; i < 5; i++) {
		struct iovec iov = { .iov_base = "batch", .iov_len = 5 };
		struct vmbus_ring_packet packet = {
			.type = VMBUS_PACKET_DATA_INBAND, .trans_id = 10 + (uint64_t)i,
			.payload = &iov, .payload_count = 1,
		};
		assert_int_equal(vmbus_chan_write(f->guest_channel, &packet), 0);
	}
	assert_int_equal(f->guest_end.signals, 1);
	assert_int_equal(vmbus_chan_flush(f->guest_channel), 0);
	assert_int_equal(f->guest_end.signals, 2);
	assert_int_equal(vmbus_chan_flush(f->guest_channel), 0); /* nothing new */
	assert_int_equal(f->guest_end.signals, 2);
}

static void test_disallowed_packet_dropped(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet_info info;
	uint8_t buffer[256];
	struct vmbus_chan_stats stats;
	struct vmbus_ring_packet bad = { .type = VMBUS_PACKET_ADD_TRANSFER_PAGESET, .trans_id = 1 };
	struct vmbus_ring_packet bad_flags = { .type = VMBUS_PACKET_DATA_INBAND, .flags = 0x8, .trans_id = 2 };

	assert_int_equal(vmbus_chan_write(f->guest_channel, &bad), 0);
	assert_int_equal(vmbus_chan_write(f->guest_channel, &bad_flags), 0);
	assert_int_equal(send_text(f->guest_channel, 3, "good"), 0);
	assert_int_equal(vmbus_chan_recv(f->host_channel, buffer, sizeof(buffer), &info), -EBADMSG);
	assert_int_equal(vmbus_chan_recv(f->host_channel, buffer, sizeof(buffer), &info), -EBADMSG);
	/* The channel works on. */
	assert_int_equal(vmbus_chan_recv(f->host_channel, buffer, sizeof(buffer), &info), 0);
	assert_true(info.trans_id == 3);
	vmbus_chan_get_stats(f->host_channel, &stats);
	assert_int_equal(stats.bad_packets, 2);
}

static void test_corrupt_ring_is_eio(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet_info info;
	uint8_t buffer[256];

	guest_rx_header(f)->write_index = 5 * PAGE; /* the host scribbles beyond the ring */
	assert_int_equal(vmbus_chan_recv(f->guest_channel, buffer, sizeof(buffer), &info), -EIO);
	assert_int_equal(vmbus_chan_recv(f->guest_channel, buffer, sizeof(buffer), &info), -EIO);
}

static uint64_t elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - start->tv_sec) * 1000 +
	       (uint64_t)((now.tv_nsec - start->tv_nsec) / 1000000);
}

static void test_wait_timeout(void **state)
{
	struct fixture *f = *state;
	struct vmbus_chan_stats stats;
	struct timespec start;

	assert_int_equal(vmbus_chan_wait(f->guest_channel, 0), -ETIMEDOUT);
	vmbus_chan_set_spin_ns(f->guest_channel, 1000);
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_int_equal(vmbus_chan_wait(f->guest_channel, 50), -ETIMEDOUT);
	assert_true(elapsed_ms(&start) >= 49);
	vmbus_chan_get_stats(f->guest_channel, &stats);
	assert_true(stats.sleeps >= 1);
	/* After the wait the ring is masked again: back in polling mode. */
	assert_int_equal(guest_rx_header(f)->interrupt_mask, 1);

	/* Data already there: no wait at all. */
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	assert_int_equal(vmbus_chan_send_completion(f->host_channel, 1, &iov, 1), 0);
	assert_int_equal(vmbus_chan_wait(f->guest_channel, 0), 0);
}

/*
 * A wait that spins to its deadline (pinned polling) and never blocks still looks at the
 * backend every few milliseconds: the peer gone ends it with -ENOTCONN long before its
 * deadline, for every wait of the device from then on, and no ring is read again.
 */
static void test_spinning_wait_sees_peer_gone(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet_info info;
	struct timespec start;
	uint8_t buffer[64];
	int looks;

	vmbus_chan_set_spin_ns(f->guest_channel, UINT32_MAX);
	assert_int_equal(vmbus_chan_wait(f->guest_channel, 20), -ETIMEDOUT);
	looks = f->guest_end.wait_calls;
	assert_true(looks >= 2); /* every 2 ms while it spun, and once at the deadline */

	__atomic_store_n(&f->guest_end.peer_gone, true, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_MONOTONIC, &start);
	assert_int_equal(vmbus_chan_wait(f->guest_channel, 60000), -ENOTCONN);
	/* Generous for a loaded machine, and far from the minute it would have spun. */
	assert_true(elapsed_ms(&start) < 10000);
	assert_int_equal(vmbus_chan_wait_writable(f->guest_channel, 64, 60000), -ENOTCONN);
	assert_int_equal(vmbus_chan_recv(f->guest_channel, buffer, sizeof(buffer), &info), -ENOTCONN);
	/* Sticky: the backend was asked once more, never again. */
	assert_int_equal(f->guest_end.wait_calls, looks + 1);
}

/* The host sends a completion once @sleeper has gone to sleep @sleeps times. */
struct delayed_send {
	struct fixture *f;
	const struct vmbus_channel *sleeper;
	uint64_t sleeps;
};

static void *send_later(void *argument)
{
	struct delayed_send *job = argument;
	struct iovec iov = { .iov_base = "late", .iov_len = 4 };

	if (wait_until_asleep(job->sleeper, job->sleeps))
		vmbus_chan_send_completion(job->f->host_channel, 9, &iov, 1);
	return NULL;
}

static void test_wait_blocks_then_wakes(void **state)
{
	struct fixture *f = *state;
	struct delayed_send job = { .f = f, .sleeper = f->guest_channel, .sleeps = 1 };
	struct vmbus_ring_packet_info info;
	struct vmbus_chan_stats stats;
	uint8_t buffer[64];
	pthread_t thread;

	vmbus_chan_set_spin_ns(f->guest_channel, 0); /* interrupt mode */
	assert_int_equal(pthread_create(&thread, NULL, send_later, &job), 0);
	assert_int_equal(vmbus_chan_wait(f->guest_channel, 30000), 0);
	pthread_join(thread, NULL);
	/* The guest had unmasked before blocking, so the host's send had to signal. */
	assert_int_equal(f->host_end.signals, 1);
	vmbus_chan_get_stats(f->guest_channel, &stats);
	assert_true(stats.sleeps >= 1);
	assert_int_equal(vmbus_chan_recv(f->guest_channel, buffer, sizeof(buffer), &info), 0);
	assert_true(info.trans_id == 9);
}

static void test_wait_peer_gone(void **state)
{
	struct fixture *f = *state;

	vmbus_chan_set_spin_ns(f->guest_channel, 0);
	f->guest_end.peer_gone = true;
	assert_int_equal(vmbus_chan_wait(f->guest_channel, 5000), -ENOTCONN);
	/* Sticky: the next wait does not ask the backend again. */
	assert_int_equal(vmbus_chan_wait(f->guest_channel, 5000), -ENOTCONN);
	assert_int_equal(f->guest_end.wait_calls, 1);
}

/* The host drains two packets once the guest's writer has gone to sleep. */
static void *drain_later(void *argument)
{
	struct fixture *f = argument;
	struct vmbus_ring_packet_info info;
	uint8_t buffer[PAGE];

	if (!wait_until_asleep(f->guest_channel, 1))
		return NULL;
	vmbus_chan_recv(f->host_channel, buffer, sizeof(buffer), &info);
	vmbus_chan_recv(f->host_channel, buffer, sizeof(buffer), &info);
	vmbus_chan_recv_done(f->host_channel);
	return NULL;
}

static void test_wait_writable_pending_send(void **state)
{
	struct fixture *f = *state;
	static uint8_t payload[1000];
	struct iovec iov = { .iov_base = payload, .iov_len = sizeof(payload) };
	unsigned int sent = 0;
	pthread_t thread;

	while (vmbus_chan_send_inband(f->guest_channel, sent, 0, &iov, 1) == 0)
		sent++;
	assert_int_equal(sent, 3); /* 3 x (1016 + 8) leaves 1024: not more than packet + trailer */
	assert_int_equal(vmbus_chan_wait_writable(f->guest_channel, 1016, 0), -ETIMEDOUT);
	assert_int_equal(vmbus_chan_wait_writable(f->guest_channel, PAGE, 0), -EMSGSIZE);

	vmbus_chan_set_spin_ns(f->guest_channel, 0);
	assert_int_equal(pthread_create(&thread, NULL, drain_later, f), 0);
	assert_int_equal(vmbus_chan_wait_writable(f->guest_channel, 1016, 30000), 0);
	pthread_join(thread, NULL);
	/* The host's read crossed the guest's pending_send_size: that is what woke it. */
	assert_int_equal(f->host_end.signals, 1);
	assert_int_equal(guest_tx_header(f)->pending_send_size, 0); /* disarmed again */
	assert_int_equal(vmbus_chan_send_inband(f->guest_channel, 99, 0, &iov, 1), 0);
}

/* Waits on two channels' worth of conditions share the device's one interrupt. */
struct writable_waiter {
	struct fixture *f;
	int rc;
};

static void *wait_writable_thread(void *argument)
{
	struct writable_waiter *job = argument;

	job->rc = vmbus_chan_wait_writable(job->f->guest_channel, 1016, 30000);
	return NULL;
}

/*
 * W waits for room in the guest's TX, R for a completion; one of them sleeps in the backend,
 * the other behind it. The host's completion comes once both sleep: whoever takes the signal,
 * R must see it. Then the host drains TX: W must see that. A lost wake-up leaves one of them
 * waiting to its 30 s deadline, and the test fails on its -ETIMEDOUT.
 */
static void test_two_waiters_no_lost_wakeup(void **state)
{
	struct fixture *f = *state;
	static uint8_t payload[1000];
	struct iovec iov = { .iov_base = payload, .iov_len = sizeof(payload) };
	struct writable_waiter writer = { .f = f };
	/* Nothing signals before the completion, so two sleeps are W's and R's. */
	struct delayed_send job = { .f = f, .sleeper = f->guest_channel, .sleeps = 2 };
	struct vmbus_ring_packet_info info;
	uint8_t buffer[PAGE];
	pthread_t writer_thread, sender;

	vmbus_chan_set_spin_ns(f->guest_channel, 0);
	while (vmbus_chan_send_inband(f->guest_channel, 1, 0, &iov, 1) == 0)
		;
	assert_int_equal(pthread_create(&writer_thread, NULL, wait_writable_thread, &writer), 0);
	assert_int_equal(pthread_create(&sender, NULL, send_later, &job), 0);
	assert_int_equal(vmbus_chan_wait(f->guest_channel, 30000), 0);
	pthread_join(sender, NULL);
	assert_int_equal(vmbus_chan_recv(f->guest_channel, buffer, sizeof(buffer), &info), 0);
	assert_true(info.trans_id == 9);

	while (vmbus_chan_recv(f->host_channel, buffer, sizeof(buffer), &info) == 0)
		;
	assert_int_equal(vmbus_chan_recv_done(f->host_channel), 0);
	pthread_join(writer_thread, NULL);
	assert_int_equal(writer.rc, 0);
}

/* The guest sends "second" once the host has gone to sleep. */
static void *guest_send_later(void *argument)
{
	struct fixture *f = argument;

	if (wait_until_asleep(f->host_channel, 1))
		send_text(f->guest_channel, 2, "second");
	return NULL;
}

/*
 * A wait releases what was read: else the writer sees a "non-empty" ring and never signals,
 * and the wait runs to its deadline.
 */
static void test_wait_publishes_reads_first(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet_info info;
	uint8_t buffer[64];
	pthread_t thread;

	assert_int_equal(send_text(f->guest_channel, 1, "first"), 0);
	assert_int_equal(vmbus_chan_recv(f->host_channel, buffer, sizeof(buffer), &info), 0);
	/* No recv_done: the host's read of "first" is not published yet. */
	vmbus_chan_set_spin_ns(f->host_channel, 0);
	assert_int_equal(pthread_create(&thread, NULL, guest_send_later, f), 0);
	assert_int_equal(vmbus_chan_wait(f->host_channel, 30000), 0);
	pthread_join(thread, NULL);
	assert_int_equal(f->guest_end.signals, 1);
	assert_int_equal(vmbus_chan_recv(f->host_channel, buffer, sizeof(buffer), &info), 0);
	assert_true(info.trans_id == 2);
}

/*
 * The other half of the signal rule: a producer that finds the ring not empty (the consumer
 * has read but not yet released) or masked does not signal, so the consumer must look at its
 * ring after it releases and unmasks, before it sleeps. Whatever order a host answers and
 * releases in, a request that came without a signal is served without waiting for the next.
 */
static void test_unsignalled_packet_found_before_sleeping(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet_info info;
	struct vmbus_chan_stats stats;
	uint8_t buffer[64];

	vmbus_chan_set_spin_ns(f->host_channel, 0);
	vmbus_chan_set_interrupt_mode(f->host_channel, true);

	/* Read, not released: the guest's next send sees a non-empty ring. */
	assert_int_equal(send_text(f->guest_channel, 1, "first"), 0);
	assert_int_equal(f->guest_end.signals, 1);
	assert_int_equal(vmbus_chan_recv(f->host_channel, buffer, sizeof(buffer), &info), 0);
	assert_int_equal(send_text(f->guest_channel, 2, "second"), 0);
	assert_int_equal(f->guest_end.signals, 1);
	/* The wait returns at once (a 30 s wait that slept would say the packet was missed). */
	assert_int_equal(vmbus_chan_wait(f->host_channel, 30000), 0);
	vmbus_chan_get_stats(f->host_channel, &stats);
	assert_int_equal(stats.sleeps, 0);
	assert_int_equal(vmbus_chan_recv(f->host_channel, buffer, sizeof(buffer), &info), 0);
	assert_true(info.trans_id == 2);

	/* Masked (the host polls): no signal; turning to interrupts, the host still finds it. */
	vmbus_chan_set_interrupt_mode(f->host_channel, false);
	assert_int_equal(vmbus_chan_recv_done(f->host_channel), 0);
	assert_int_equal(guest_tx_header(f)->interrupt_mask, 1);
	assert_int_equal(send_text(f->guest_channel, 3, "third"), 0);
	assert_int_equal(f->guest_end.signals, 1);
	vmbus_chan_set_interrupt_mode(f->host_channel, true);
	assert_int_equal(vmbus_chan_wait(f->host_channel, 30000), 0);
	vmbus_chan_get_stats(f->host_channel, &stats);
	assert_int_equal(stats.sleeps, 0);
	assert_int_equal(vmbus_chan_recv(f->host_channel, buffer, sizeof(buffer), &info), 0);
	assert_true(info.trans_id == 3);
}

static void test_wait_writable_corrupt_read_index(void **state)
{
	struct fixture *f = *state;

	guest_tx_header(f)->read_index = 3; /* not on 8 bytes */
	assert_int_equal(vmbus_chan_wait_writable(f->guest_channel, 64, 1000), -EIO);
	assert_int_equal(vmbus_chan_wait_writable(f->guest_channel, 64, -1), -EIO);
}

static void test_interrupt_mode(void **state)
{
	struct fixture *f = *state;
	struct vmbus_ring_packet_info info;
	struct iovec iov = { .iov_base = "irq", .iov_len = 3 };
	uint8_t buffer[64];

	vmbus_chan_set_interrupt_mode(f->guest_channel, true);
	assert_int_equal(guest_rx_header(f)->interrupt_mask, 0);
	/* No interrupt pending: the wait times out, and RX stays unmasked. */
	assert_int_equal(vmbus_chan_wait_interrupt(f->guest_channel, 20), -ETIMEDOUT);
	assert_int_equal(guest_rx_header(f)->interrupt_mask, 0);

	/* The host's completion on an empty, unmasked ring signals; the wait consumes it. */
	assert_int_equal(vmbus_chan_send_completion(f->host_channel, 4, &iov, 1), 0);
	assert_int_equal(f->host_end.signals, 1);
	assert_int_equal(vmbus_chan_wait_interrupt(f->guest_channel, 1000), 0);
	assert_int_equal(vmbus_chan_recv(f->guest_channel, buffer, sizeof(buffer), &info), 0);
	/* A kernel that masks in its interrupt handler (before 6.18): recv_done unmasks again. */
	guest_rx_header(f)->interrupt_mask = 1;
	assert_int_equal(vmbus_chan_recv_done(f->guest_channel), 0);
	assert_int_equal(guest_rx_header(f)->interrupt_mask, 0);
	/* A regular wait in interrupt mode does not re-mask when it returns. */
	assert_int_equal(vmbus_chan_wait(f->guest_channel, 20), -ETIMEDOUT);
	assert_int_equal(guest_rx_header(f)->interrupt_mask, 0);

	vmbus_chan_set_interrupt_mode(f->guest_channel, false);
	assert_int_equal(guest_rx_header(f)->interrupt_mask, 1);
}

/*
 * The uio irqcontrol quirk: a signal clears every RX mask. Afterwards the polling channel is
 * masked again, while the one waiting for interrupts stays unmasked (never set, even for a
 * moment: the remask leaves armed channels alone).
 */
static void test_signal_unmask_quirk(void **state)
{
	struct fixture *f = *state;
	struct vmbus_channel_region regions[2] = {
		{ .ring_base = f->memory, .ring_size = RING_SIZE, .relid = 1,
		  .monitor_id = VMBUS_MONITOR_ID_NONE },
		{ .ring_base = NULL, .ring_size = RING_SIZE, .relid = 2, .monitor_id = VMBUS_MONITOR_ID_NONE },
	};
	struct vmbus_device_params params = {
		.numa_node = -1, .side = VMBUS_SIDE_GUEST, .page_size = PAGE, .channel_count = 2,
		.channels = regions, .ops = &fake_ops, .backend_data = &f->guest_end,
		.quirks = VMBUS_BACKEND_SIGNAL_UNMASKS_RX,
	};
	struct vmbus_ring_header *rx[3];
	struct vmbus_channel *polling, *waiting;
	struct vmbus_device *device;
	uint8_t *second = aligned_alloc(PAGE, 2 * RING_SIZE), *third = aligned_alloc(PAGE, 2 * RING_SIZE);
	struct iovec iov = { .iov_base = "q", .iov_len = 1 };
	struct vmbus_channel_region unopened = { .ring_base = third, .ring_size = RING_SIZE, .relid = 3,
						 .monitor_id = VMBUS_MONITOR_ID_NONE };

	vmbus_ring_header_init(second, PAGE);
	vmbus_ring_header_init(second + RING_SIZE, PAGE);
	vmbus_ring_header_init(third, PAGE);
	vmbus_ring_header_init(third + RING_SIZE, PAGE);
	regions[1].ring_base = second;
	vmbus_chan_close(f->guest_channel);
	f->guest_channel = NULL;
	assert_int_equal(vmbus_device_create(&params, &device), 0);
	assert_int_equal(vmbus_device_add_channel(device, &unopened), 2);
	assert_int_equal(vmbus_chan_open(device, 0, &polling), 0);
	assert_int_equal(vmbus_chan_open(device, 1, &waiting), 0);
	vmbus_chan_set_interrupt_mode(waiting, true);
	rx[0] = guest_rx_header(f);
	rx[1] = (struct vmbus_ring_header *)(second + RING_SIZE);
	rx[2] = (struct vmbus_ring_header *)(third + RING_SIZE);

	/* What the kernel's irqcontrol does, then our signal (the host listens: TX mask clear). */
	rx[0]->interrupt_mask = rx[1]->interrupt_mask = rx[2]->interrupt_mask = 0;
	guest_tx_header(f)->interrupt_mask = 0;
	assert_int_equal(vmbus_chan_send_inband(polling, 1, 0, &iov, 1), 0);
	assert_int_equal(f->guest_end.signals, 1);
	assert_int_equal(rx[0]->interrupt_mask, 1); /* polling: masked again */
	assert_int_equal(rx[1]->interrupt_mask, 0); /* waiting for interrupts: left alone */
	assert_int_equal(rx[2]->interrupt_mask, 1); /* not open: masked too */

	vmbus_chan_close(waiting);
	vmbus_chan_close(polling);
	vmbus_device_close(device);
	free(second);
	free(third);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_device_create_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_and_completion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_only_on_transition, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disallowed_packet_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_ring_is_eio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_blocks_then_wakes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_peer_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spinning_wait_sees_peer_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_writable_pending_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_waiters_no_lost_wakeup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_publishes_reads_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsignalled_packet_found_before_sleeping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_writable_corrupt_read_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_unmask_quirk, setup, teardown),
	};

	return cmocka_run_group_tests_name("channel", tests, NULL, NULL);
}
