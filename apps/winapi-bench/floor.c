/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
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
			cpu_relax();
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
			cpu_relax();
		if (round >= 10000) /* after warm-up */
			histogram_add(latency, clock_ns(clock_ticks() - start));
	}
	pthread_join(thread, NULL);
	return 0;
}

#define RING_SIZE (VMBUS_RING_HEADER_MIN_SIZE + (64u << 10))
#define RING_PAYLOAD 64u

struct ring_pair {
	struct vmbus_ring to_b;   /* a writes, b reads */
	struct vmbus_ring to_a;   /* b writes, a reads */
};

struct ring_side {
	struct vmbus_ring tx;     /* this side's private cursors over the shared memory */
	struct vmbus_ring rx;
	int cpu;
	uint64_t rounds;
	int rc;
};

/* Send one packet, then wait for one (spinning) and release it. */
static int ring_send(struct vmbus_ring *tx, uint64_t trans_id)
{
	static const uint8_t payload[RING_PAYLOAD];
	const struct iovec vector = { .iov_base = (void *)payload, .iov_len = sizeof(payload) };
	const struct vmbus_ring_packet packet = {
		.type = VMBUS_PACKET_DATA_INBAND, .trans_id = trans_id, .payload = &vector, .payload_count = 1,
	};
	bool signal;
	int rc = vmbus_ring_write(tx, &packet);

	if (rc == 0)
		vmbus_ring_write_publish(tx, &signal);
	return rc;
}

static int ring_receive(struct vmbus_ring *rx, uint64_t trans_id)
{
	uint8_t buffer[256];
	struct vmbus_ring_packet_info info;
	bool signal;
	int rc;

	while ((rc = vmbus_ring_read(rx, buffer, sizeof(buffer), &info)) == -EAGAIN)
		cpu_relax();
	if (rc == 0 && info.trans_id != trans_id)
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
		side->rc = ring_receive(&side->rx, round);
		if (side->rc == 0)
			side->rc = ring_send(&side->tx, round);
	}
	return NULL;
}

int floor_ring_round_trip(int cpu_a, int cpu_b, uint64_t samples, struct histogram *latency)
{
	struct ring_side a = { .cpu = cpu_a, .rounds = samples + 10000 }, b = { .cpu = cpu_b, .rounds = a.rounds };
	uint8_t *memory = aligned_alloc(4096, 2 * RING_SIZE);
	pthread_t thread;
	uint64_t round;
	int rc;

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

		rc = ring_send(&a.tx, round);
		if (rc == 0)
			rc = ring_receive(&a.rx, round);
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

double floor_memory_read(size_t bytes)
{
	size_t words = bytes / sizeof(uint64_t), i;
	uint64_t *memory = malloc(bytes), sum = 0;
	double best = 0;
	int pass;

	if (memory == NULL)
		return 0;
	for (i = 0; i < words; i++)
		memory[i] = i;
	for (pass = 0; pass < 3; pass++) {
		uint64_t start = clock_ticks(), elapsed;

		for (i = 0; i < words; i++)
			sum += memory[i];
		elapsed = clock_ns(clock_ticks() - start);
		if (elapsed != 0 && (double)bytes / (double)elapsed > best)
			best = (double)bytes / (double)elapsed;
	}
	/* Keep the sum alive so that the loop is not optimised away. */
	__asm__ __volatile__("" : : "r"(sum) : "memory");
	free(memory);
	return best; /* bytes per ns = GB/s */
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
