/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <winapi/protocol.h>

#include "floor.h"

static double ns_per_tick = 1.0;
static bool use_tsc;

static uint64_t monotonic_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

uint64_t clock_ticks(void)
{
#if defined(__x86_64__)
	if (use_tsc)
		return __builtin_ia32_rdtsc();
#endif
	return monotonic_ns();
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

	start_ns = monotonic_ns();
	start_ticks = __builtin_ia32_rdtsc();
	nanosleep(&pause, NULL);
	elapsed_ns = monotonic_ns() - start_ns;
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
