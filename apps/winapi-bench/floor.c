/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmbus/channel.h>
#include <vmbus/ring.h>
#include <winapi/protocol.h>
#include <winapi_internal/clock.h>

#include "floor.h"

static double ns_per_tick = 1.0;
static bool use_tsc;

uint64_t clock_ticks(void)
{
#if defined(__x86_64__)
	if (use_tsc)
		return __builtin_ia32_rdtsc();
#endif
	return winapi_clock_now_ns();
}

uint64_t clock_ns(uint64_t ticks)
{
	return (uint64_t)((double)ticks * ns_per_tick);
}

/*
 * The TSC is invariant on the CPUs this runs on (and what DPDK's timers use); reading it costs
 * a few ns against a few tens for clock_gettime, which matters for a 100 ns round trip.
 */
void clock_calibrate(void)
{
#if defined(__x86_64__)
	uint64_t start_ns, start_ticks, elapsed_ns;
	struct timespec pause = { .tv_sec = 0, .tv_nsec = 200 * 1000000L };

	start_ns = winapi_clock_now_ns();
	start_ticks = __builtin_ia32_rdtsc();
	nanosleep(&pause, NULL);
	elapsed_ns = winapi_clock_now_ns() - start_ns;
	ns_per_tick = (double)elapsed_ns / (double)(__builtin_ia32_rdtsc() - start_ticks);
	use_tsc = ns_per_tick > 0.0 && ns_per_tick < 10.0;
	if (!use_tsc)
		ns_per_tick = 1.0;
#endif
}

int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0 ? 0 : -errno;
}


/* The line both cores write: aligned so that nothing else shares it. */
struct ping_line {
	uint64_t value;
} __attribute__((aligned(64)));

struct pong_job {
	struct ping_line *line;
	int cpu;
	uint64_t rounds;
};

static void *pong(void *argument)
{
	struct pong_job *job = argument;
	uint64_t round;

	pin_to_cpu(job->cpu);
	for (round = 0; round < job->rounds; round++) {
		uint64_t expected = 2 * round + 1;

		while (__atomic_load_n(&job->line->value, __ATOMIC_ACQUIRE) != expected)
			vmbus_cpu_relax();
		__atomic_store_n(&job->line->value, expected + 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

int floor_ping_pong(int cpu_a, int cpu_b, uint64_t samples, struct histogram *latency)
{
	static struct ping_line line;
	struct pong_job job = { .line = &line, .cpu = cpu_b, .rounds = samples + 10000 };
	pthread_t thread;
	uint64_t round;
	int rc;

	line.value = 0;
	rc = pin_to_cpu(cpu_a);
	if (rc != 0)
		return rc;
	rc = -pthread_create(&thread, NULL, pong, &job);
	if (rc != 0)
		return rc;
	for (round = 0; round < job.rounds; round++) {
		uint64_t start = clock_ticks();

		__atomic_store_n(&line.value, 2 * round + 1, __ATOMIC_RELEASE);
		while (__atomic_load_n(&line.value, __ATOMIC_ACQUIRE) != 2 * round + 2)
			vmbus_cpu_relax();
		if (round >= 10000) /* after warm-up */
			histogram_add(latency, clock_ns(clock_ticks() - start));
	}
	pthread_join(thread, NULL);
	return 0;
}

#define RING_SIZE (VMBUS_RING_HEADER_MIN_SIZE + (64u << 10))
#define RING_PAYLOAD_MAX 4096u

struct ring_pair {
	struct vmbus_ring to_b;   /* a writes, b reads */
	struct vmbus_ring to_a;   /* b writes, a reads */
};

/*
 * Aligned to a cache line: the two sides sit next to each other on the caller's stack, and
 * cursors one side writes on every packet must not share a line with the other's.
 */
struct ring_side {
	struct vmbus_ring tx;     /* this side's private cursors over the shared memory */
	struct vmbus_ring rx;
	int cpu;
	uint32_t payload_size;
	uint64_t rounds;
	int rc;
} __attribute__((aligned(64)));

/* Send one packet, then wait for one (spinning) and release it. */
static int ring_send(struct vmbus_ring *tx, uint32_t payload_size, uint64_t trans_id)
{
	static const uint8_t payload[RING_PAYLOAD_MAX];
	const struct iovec vector = { .iov_base = (void *)payload, .iov_len = payload_size };
	const struct vmbus_ring_packet packet = {
		.type = VMBUS_PACKET_DATA_INBAND, .trans_id = trans_id, .payload = &vector, .payload_count = 1,
	};
	bool signal;
	int rc = vmbus_ring_write(tx, &packet);

	if (rc == 0)
		vmbus_ring_write_publish(tx, &signal);
	return rc;
}

static int ring_receive(struct vmbus_ring *rx, uint32_t payload_size, uint64_t trans_id)
{
	uint8_t buffer[RING_PAYLOAD_MAX + 64];
	struct vmbus_ring_packet_info info;
	bool signal;
	int rc;

	while ((rc = vmbus_ring_read(rx, buffer, sizeof(buffer), &info)) == -EAGAIN)
		vmbus_cpu_relax();
	if (rc == 0 && (info.trans_id != trans_id || info.packet_size - info.header_size < payload_size))
		rc = -EPROTO;
	vmbus_ring_read_publish(rx, &signal);
	return rc;
}

static void *ring_echo(void *argument)
{
	struct ring_side *side = argument;
	uint64_t round;

	pin_to_cpu(side->cpu);
	for (round = 0; round < side->rounds && side->rc == 0; round++) {
		side->rc = ring_receive(&side->rx, side->payload_size, round);
		if (side->rc == 0)
			side->rc = ring_send(&side->tx, side->payload_size, round);
	}
	return NULL;
}

int floor_ring_round_trip(int cpu_a, int cpu_b, uint32_t payload_size, uint64_t samples, struct histogram *latency)
{
	struct ring_side a = { .cpu = cpu_a, .payload_size = payload_size, .rounds = samples + 10000 };
	struct ring_side b = { .cpu = cpu_b, .payload_size = payload_size, .rounds = a.rounds };
	uint8_t *memory;
	pthread_t thread;
	uint64_t round;
	int rc;

	if (payload_size > RING_PAYLOAD_MAX)
		return -EINVAL;
	memory = aligned_alloc(4096, 2 * RING_SIZE);
	if (memory == NULL)
		return -ENOMEM;
	vmbus_ring_header_init(memory, VMBUS_RING_HEADER_MIN_SIZE);
	vmbus_ring_header_init(memory + RING_SIZE, VMBUS_RING_HEADER_MIN_SIZE);
	/* Each side its own view of both rings, as two processes would have. */
	rc = vmbus_ring_attach(&a.tx, memory, RING_SIZE, VMBUS_RING_HEADER_MIN_SIZE);
	if (rc == 0)
		rc = vmbus_ring_attach(&b.rx, memory, RING_SIZE, VMBUS_RING_HEADER_MIN_SIZE);
	if (rc == 0)
		rc = vmbus_ring_attach(&b.tx, memory + RING_SIZE, RING_SIZE, VMBUS_RING_HEADER_MIN_SIZE);
	if (rc == 0)
		rc = vmbus_ring_attach(&a.rx, memory + RING_SIZE, RING_SIZE, VMBUS_RING_HEADER_MIN_SIZE);
	if (rc == 0)
		rc = pin_to_cpu(cpu_a);
	if (rc == 0)
		rc = -pthread_create(&thread, NULL, ring_echo, &b);
	if (rc != 0)
		goto out_free;
	for (round = 0; round < a.rounds && rc == 0; round++) {
		uint64_t start = clock_ticks();

		rc = ring_send(&a.tx, payload_size, round);
		if (rc == 0)
			rc = ring_receive(&a.rx, payload_size, round);
		if (round >= 10000)
			histogram_add(latency, clock_ns(clock_ticks() - start));
	}
	if (rc != 0) {
		/* The echo thread may spin for ever on a packet that never comes (not seen on rings
		 * made here, but possible in principle): leave it and its rings to the exit the
		 * caller makes on this error. */
		pthread_detach(thread);
		return rc;
	}
	pthread_join(thread, NULL);
	rc = b.rc;
out_free:
	free(memory);
	return rc;
}

/*
 * The bare ring pair's request rate: what liblowlat's queue does to the rings, without the
 * protocol. Requests and completions are the size of the rate test's (its payload size is the
 * caller's), batches are written with one publication each and a depth of two batches, and
 * the pong side answers bursts as the host does (drivers/host/host.c): up to RING_BURST
 * requests read, a completion written for each, the requests released, then the completions
 * published, all at once.
 */
#define RING_BURST 32u
#define RING_RATE_MAX_PACKET 512u

/*
 * The pong side's cursors change on every packet and are its own; the two words both sides
 * touch have a cache line apart from them, or every packet would move that line too.
 */
struct rate_pong {
	struct vmbus_ring rx;       /* requests from the ping side */
	struct vmbus_ring tx;       /* completions to it */
	int cpu;
	uint32_t payload_size;
	int stop __attribute__((aligned(64))); /* set by the ping side when it has counted enough */
	int rc;                     /* atomic: the ping side gives up waiting when it is set */
} __attribute__((aligned(64)));

static int rate_answer(struct rate_pong *pong, const uint8_t *packet, const struct vmbus_ring_packet_info *info)
{
	const struct iovec vector = { .iov_base = (void *)(packet + info->header_size),
				      .iov_len = info->packet_size - info->header_size };
	const struct vmbus_ring_packet completion = {
		.type = VMBUS_PACKET_COMPLETION, .trans_id = info->trans_id, .payload = &vector, .payload_count = 1,
	};

	/* What the host refuses, this side refuses too; padding may follow the payload. */
	if (info->type != VMBUS_PACKET_DATA_INBAND || !(info->flags & VMBUS_PACKET_FLAG_COMPLETION_REQUESTED) ||
	    vector.iov_len < pong->payload_size)
		return -EPROTO;
	/* The depth is at most two batches, far below the ring's room: full would be a bug. */
	return vmbus_ring_write(&pong->tx, &completion) == 0 ? 0 : -ENOSPC;
}

static void *rate_pong_run(void *argument)
{
	struct rate_pong *pong = argument;
	uint8_t packet[RING_RATE_MAX_PACKET];
	struct vmbus_ring_packet_info info;
	unsigned int burst;
	bool signal;
	int rc = pin_to_cpu(pong->cpu);

	while (rc == 0 && !__atomic_load_n(&pong->stop, __ATOMIC_RELAXED)) {
		for (burst = 0; burst < RING_BURST; burst++) {
			rc = vmbus_ring_read(&pong->rx, packet, sizeof(packet), &info);
			if (rc != 0)
				break;
			rc = rate_answer(pong, packet, &info);
			if (rc != 0)
				break;
		}
		if (rc == -EAGAIN)
			rc = 0;
		if (burst == 0) {
			vmbus_cpu_relax();
			continue;
		}
		/* The host's order: release the requests, then publish the completions. */
		vmbus_ring_read_publish(&pong->rx, &signal);
		vmbus_ring_write_publish(&pong->tx, &signal);
	}
	__atomic_store_n(&pong->rc, rc, __ATOMIC_RELEASE);
	return NULL;
}

/* Write @batch requests and publish them once. */
static int rate_submit(struct vmbus_ring *tx, unsigned int batch, uint32_t payload_size, uint64_t *next_id)
{
	static const uint8_t payload[RING_RATE_MAX_PACKET];
	const struct iovec vector = { .iov_base = (void *)payload, .iov_len = payload_size };
	struct vmbus_ring_packet request = {
		.type = VMBUS_PACKET_DATA_INBAND, .flags = VMBUS_PACKET_FLAG_COMPLETION_REQUESTED,
		.payload = &vector, .payload_count = 1,
	};
	unsigned int i;
	bool signal;
	int rc;

	for (i = 0; i < batch; i++) {
		request.trans_id = (*next_id)++;
		rc = vmbus_ring_write(tx, &request);
		if (rc != 0)
			return rc == -EAGAIN ? -ENOSPC : rc;
	}
	vmbus_ring_write_publish(tx, &signal);
	return 0;
}

/*
 * Take completions until at least @least arrived (spinning) and none is left, @most at the
 * most, then release them with one publication, as a reap for at least a batch does. The ring
 * keeps order, so each completion must carry the next id sent.
 */
static int rate_reap(struct vmbus_ring *rx, int *pong_rc, uint32_t payload_size, unsigned int least,
		     unsigned int most, uint64_t *expected_id, unsigned int *taken)
{
	uint8_t packet[RING_RATE_MAX_PACKET];
	struct vmbus_ring_packet_info info;
	unsigned int count = 0;
	bool signal;
	int rc = 0;

	while (count < most) {
		rc = vmbus_ring_read(rx, packet, sizeof(packet), &info);
		if (rc == -EAGAIN) {
			rc = 0;
			if (count >= least)
				break;
			rc = __atomic_load_n(pong_rc, __ATOMIC_ACQUIRE);
			if (rc != 0)
				break;
			vmbus_cpu_relax();
			continue;
		}
		if (rc != 0)
			break;
		if (info.type != VMBUS_PACKET_COMPLETION || info.trans_id != *expected_id ||
		    info.packet_size - info.header_size < payload_size) {
			rc = -EPROTO;
			break;
		}
		(*expected_id)++;
		count++;
	}
	vmbus_ring_read_publish(rx, &signal);
	*taken = count;
	return rc;
}

int floor_ring_rate(int cpu_a, int cpu_b, unsigned int batch, uint32_t payload_size, uint64_t warmup,
		    double seconds, uint64_t *requests, uint64_t *elapsed_ns)
{
	struct vmbus_ring tx, rx;
	struct rate_pong pong = { .cpu = cpu_b, .payload_size = payload_size };
	uint8_t *memory;
	uint64_t next_id = 0, expected_id = 0, done = 0, start = 0, limit;
	unsigned int depth = 2 * batch, inflight = 0, taken;
	bool measuring = false;
	pthread_t thread;
	int rc;

	if (batch == 0 || payload_size + sizeof(struct vmbus_packet_descriptor) + 8 > RING_RATE_MAX_PACKET)
		return -EINVAL;
	memory = aligned_alloc(4096, 2 * RING_SIZE);
	if (memory == NULL)
		return -ENOMEM;
	vmbus_ring_header_init(memory, VMBUS_RING_HEADER_MIN_SIZE);
	vmbus_ring_header_init(memory + RING_SIZE, VMBUS_RING_HEADER_MIN_SIZE);
	rc = vmbus_ring_attach(&tx, memory, RING_SIZE, VMBUS_RING_HEADER_MIN_SIZE);
	if (rc == 0)
		rc = vmbus_ring_attach(&pong.rx, memory, RING_SIZE, VMBUS_RING_HEADER_MIN_SIZE);
	if (rc == 0)
		rc = vmbus_ring_attach(&pong.tx, memory + RING_SIZE, RING_SIZE, VMBUS_RING_HEADER_MIN_SIZE);
	if (rc == 0)
		rc = vmbus_ring_attach(&rx, memory + RING_SIZE, RING_SIZE, VMBUS_RING_HEADER_MIN_SIZE);
	if (rc == 0)
		rc = pin_to_cpu(cpu_a);
	if (rc == 0)
		rc = -pthread_create(&thread, NULL, rate_pong_run, &pong);
	if (rc != 0) {
		free(memory);
		return rc;
	}
	limit = (uint64_t)(seconds * 1e9);
	while (rc == 0) {
		while (rc == 0 && inflight + batch <= depth) {
			rc = rate_submit(&tx, batch, payload_size, &next_id);
			inflight += batch;
		}
		if (rc == 0)
			rc = rate_reap(&rx, &pong.rc, payload_size, batch, inflight, &expected_id, &taken);
		if (rc != 0)
			break;
		inflight -= taken;
		done += taken;
		if (!measuring && done >= warmup) {
			measuring = true;
			done = 0;
			start = clock_ticks();
		} else if (measuring && clock_ns(clock_ticks() - start) >= limit) {
			break;
		}
	}
	*elapsed_ns = measuring ? clock_ns(clock_ticks() - start) : 0;
	*requests = done;
	__atomic_store_n(&pong.stop, 1, __ATOMIC_RELAXED);
	pthread_join(thread, NULL);
	if (rc == 0)
		rc = pong.rc;
	free(memory);
	return rc;
}

/*
 * Read @bytes at @memory once and fold them into a value the compiler must keep. Vector words
 * and four independent sums, so that the loads, not one chain of additions, set the pace: a
 * buffer in L1 or L2 delivers far more than eight bytes a cycle.
 */
typedef uint64_t read_word __attribute__((vector_size(16)));

static uint64_t read_pass(const void *memory, size_t bytes)
{
	const read_word *word = memory;
	size_t words = bytes / (4 * sizeof(read_word)), i;
	read_word sum0 = { 0 }, sum1 = { 0 }, sum2 = { 0 }, sum3 = { 0 };

	for (i = 0; i < words; i++, word += 4) {
		sum0 += word[0];
		sum1 += word[1];
		sum2 += word[2];
		sum3 += word[3];
	}
	sum0 += sum1 + sum2 + sum3;
	return sum0[0] ^ sum0[1];
}

static void *filled_buffer(size_t bytes)
{
	uint64_t *memory = aligned_alloc(4096, bytes);
	size_t i;

	if (memory != NULL)
		for (i = 0; i < bytes / sizeof(uint64_t); i++)
			memory[i] = i;
	return memory;
}

double floor_memory_read(size_t bytes)
{
	uint64_t *memory = filled_buffer(bytes), sum = 0;
	double best = 0;
	int pass;

	if (memory == NULL)
		return 0;
	for (pass = 0; pass < 3; pass++) {
		uint64_t start = clock_ticks(), elapsed;

		sum += read_pass(memory, bytes);
		elapsed = clock_ns(clock_ticks() - start);
		if (elapsed != 0 && (double)bytes / (double)elapsed > best)
			best = (double)bytes / (double)elapsed;
	}
	/* Keep the sum alive so that the loop is not optimised away. */
	__asm__ __volatile__("" : : "r"(sum) : "memory");
	free(memory);
	return best; /* bytes per ns = GB/s */
}

struct buffer_read_job {
	int cpu;
	size_t size;
	uint64_t total;
	double gbps;
	int rc;
};

static void *buffer_read(void *argument)
{
	struct buffer_read_job *job = argument;
	uint64_t *memory, sum, done = 0, start, elapsed;

	job->rc = pin_to_cpu(job->cpu);
	if (job->rc != 0)
		return NULL;
	memory = filled_buffer(job->size);
	if (memory == NULL) {
		job->rc = -ENOMEM;
		return NULL;
	}
	/* Untimed: VERIFY's buffer has been read by the pass before the one that is timed. */
	sum = read_pass(memory, job->size);
	start = clock_ticks();
	while (done < job->total) {
		sum += read_pass(memory, job->size);
		done += job->size;
	}
	elapsed = clock_ns(clock_ticks() - start);
	__asm__ __volatile__("" : : "r"(sum) : "memory");
	free(memory);
	job->gbps = elapsed != 0 ? (double)done / (double)elapsed : 0;
	return NULL;
}

double floor_buffer_read(int cpu, size_t size, uint64_t total)
{
	struct buffer_read_job job = { .cpu = cpu, .size = size, .total = total };
	pthread_t thread;

	/* A thread of its own: the caller stays pinned where it was. */
	if (pthread_create(&thread, NULL, buffer_read, &job) != 0)
		return 0;
	pthread_join(thread, NULL);
	return job.rc == 0 ? job.gbps : 0;
}

double floor_crc32c(size_t size, uint64_t total)
{
	uint8_t *buffer = malloc(size);
	uint64_t start, elapsed, done = 0;
	uint32_t crc = 0;

	if (buffer == NULL)
		return 0;
	memset(buffer, 0x5a, size);
	start = clock_ticks();
	while (done < total) {
		crc = winapi_crc32c(crc, buffer, size);
		done += size;
	}
	elapsed = clock_ns(clock_ticks() - start);
	__asm__ __volatile__("" : : "r"(crc) : "memory");
	free(buffer);
	return elapsed != 0 ? (double)done / (double)elapsed : 0;
}

double floor_copy(size_t size, uint64_t total)
{
	uint8_t *source = malloc(size), *destination = malloc(size);
	uint64_t start, elapsed = 0, done = 0;

	if (source == NULL || destination == NULL)
		goto out_free;
	memset(source, 0x5a, size);
	memset(destination, 0, size);
	start = clock_ticks();
	while (done < total) {
		memcpy(destination, source, size);
		/* Each copy must happen: the compiler may not fold them into one. */
		__asm__ __volatile__("" : : "r"(destination) : "memory");
		done += size;
	}
	elapsed = clock_ns(clock_ticks() - start);
out_free:
	free(destination);
	free(source);
	return elapsed != 0 ? (double)done / (double)elapsed : 0;
}
