/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Asynchronous calls end to end, through liblowlat's public API and a real winapi-host-sim:
 *  - 4 threads, each with 64 requests in flight, push 1,000,000 echoes of random sizes: every
 *    completion arrives exactly once, every byte is checked;
 *  - the emulator drops one completion, or delays one: that call fails with -ETIMEDOUT, the
 *    late completion is dropped when it comes, and the channel keeps working; a completion
 *    sent twice is taken once;
 *  - the emulator in interrupt mode: each batch costs exactly one signal, counted on both
 *    sides (the guest's counter, the emulator's log).
 * Deadlines are for a loaded machine (make check-load): a call that must succeed gets seconds,
 * a call that must time out is one the host answers later than its deadline (or never), and a
 * test waits for what the emulator logs instead of sleeping while it works.
 */
#include <errno.h>
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

#include <cmocka.h>

#include <winapi/lowlat.h>

#include "emulator.h"

#define THREADS 4u
#define DEPTH 64u
#define TOTAL_REQUESTS 1000000u

static struct emulator emulator;

static int start(const char *const *arguments)
{
	return emulator_start(&emulator, arguments);
}

/* ---- 4 threads x 64 in flight ---- */

struct request_slot {
	uint32_t sequence;
	size_t length;
	uint8_t input[3072];
	uint8_t output[3072];
};

struct worker {
	winapi_handle_t handle;
	unsigned int seed;
	uint32_t requests;       /* to push */
	uint8_t *seen;           /* per sequence: completions that came */
	uint32_t completed;
	uint32_t errors;
	uint32_t mismatches;
	struct request_slot slots[DEPTH];
};

static void *push_requests(void *argument)
{
	struct worker *worker = argument;
	winapi_queue_t queue = winapi_queue_create(worker->handle, DEPTH, -1);
	winapi_completion_t completions[DEPTH];
	uint32_t free_slots[DEPTH], free_count = DEPTH, next = 0, i;
	int count;

	if (queue == NULL) {
		worker->errors++;
		return NULL;
	}
	for (i = 0; i < DEPTH; i++)
		free_slots[i] = i;
	while (worker->completed + worker->errors < worker->requests) {
		/* Fill every free slot, then one submit for the whole batch. */
		while (free_count > 0 && next < worker->requests) {
			struct request_slot *slot = &worker->slots[free_slots[free_count - 1]];

			slot->sequence = next;
			slot->length = (size_t)rand_r(&worker->seed) % (sizeof(slot->input) + 1);
			for (size_t j = 0; j < slot->length; j++)
				slot->input[j] = (uint8_t)rand_r(&worker->seed);
			if (winapi_queue_echo(queue, slot->input, slot->length, slot->output, sizeof(slot->output),
					      slot) != 0) {
				worker->errors++;
				break;
			}
			free_count--;
			next++;
		}
		if (winapi_queue_submit(queue) < 0) {
			worker->errors++;
			break;
		}
		count = winapi_queue_reap(queue, completions, DEPTH, 1, 10000);
		if (count <= 0) {
			worker->errors++;
			break;
		}
		for (i = 0; i < (uint32_t)count; i++) {
			struct request_slot *slot = completions[i].user_data;

			worker->seen[slot->sequence]++;
			if (completions[i].status != 0)
				worker->errors++;
			else if (completions[i].length != slot->length ||
				 memcmp(slot->input, slot->output, slot->length) != 0)
				worker->mismatches++;
			worker->completed++;
			free_slots[free_count++] = (uint32_t)(slot - worker->slots);
		}
	}
	winapi_queue_destroy(queue);
	return NULL;
}

static void test_four_threads_a_million(void **state)
{
	static struct worker workers[THREADS];
	struct winapi_stats stats;
	pthread_t threads[THREADS];
	winapi_handle_t handle;
	unsigned int t;

	(void)state;
	assert_int_equal(start(NULL), 0);
	handle = winapi_init();
	assert_non_null(handle);
	for (t = 0; t < THREADS; t++) {
		memset(&workers[t], 0, sizeof(workers[t]));
		workers[t].handle = handle;
		workers[t].seed = 1000 + t;
		workers[t].requests = TOTAL_REQUESTS / THREADS;
		workers[t].seen = calloc(workers[t].requests, 1);
		assert_non_null(workers[t].seen);
		assert_int_equal(pthread_create(&threads[t], NULL, push_requests, &workers[t]), 0);
	}
	for (t = 0; t < THREADS; t++) {
		assert_int_equal(pthread_join(threads[t], NULL), 0);
		assert_int_equal(workers[t].errors, 0);
		assert_int_equal(workers[t].mismatches, 0);
		assert_int_equal(workers[t].completed, workers[t].requests);
		/* Exactly once: not lost, not duplicated. */
		for (uint32_t sequence = 0; sequence < workers[t].requests; sequence++)
			if (workers[t].seen[sequence] != 1)
				fail_msg("thread %u request %u completed %u times", t, sequence,
					 workers[t].seen[sequence]);
		free(workers[t].seen);
	}
	assert_int_equal(winapi_get_stats(handle, &stats), 0);
	assert_int_equal(stats.stale_completions, 0);
	assert_int_equal(stats.unexpected_packets, 0);
	assert_int_equal(stats.timeouts, 0);
	winapi_cleanup(handle);
	emulator_stop(&emulator, SIGTERM);
}

/* ---- a lost completion, a late one ---- */

/* One echo through a queue with @timeout_ms; returns its status. */
static int echo_once(winapi_queue_t queue, const char *text)
{
	char output[64];
	winapi_completion_t completion;
	int count;

	assert_int_equal(winapi_queue_echo(queue, text, strlen(text), output, sizeof(output), NULL), 0);
	assert_int_equal(winapi_queue_submit(queue), 1);
	count = winapi_queue_reap(queue, &completion, 1, 1, -1);
	assert_int_equal(count, 1);
	if (completion.status == 0) {
		assert_int_equal(completion.length, strlen(text));
		assert_memory_equal(output, text, strlen(text));
	}
	return completion.status;
}

static void test_dropped_completion_times_out(void **state)
{
	static const char *const arguments[] = { "--drop-request", "3", NULL };
	struct winapi_stats stats;
	winapi_handle_t handle;
	winapi_queue_t queue, short_queue;

	(void)state;
	assert_int_equal(start(arguments), 0);
	handle = winapi_init();
	assert_non_null(handle);
	/* What must be answered has a minute; what must time out, 2 s on a queue of its own. */
	queue = winapi_queue_create(handle, 4, 60000);
	short_queue = winapi_queue_create(handle, 1, 2000);
	assert_non_null(queue);
	assert_non_null(short_queue);
	assert_int_equal(echo_once(queue, "one"), 0);
	assert_int_equal(echo_once(queue, "two"), 0);
	assert_int_equal(echo_once(short_queue, "three"), -ETIMEDOUT); /* the host never answers it */
	assert_int_equal(echo_once(queue, "four"), 0);           /* the channel works on */
	assert_int_equal(echo_once(queue, "five"), 0);
	assert_int_equal(winapi_get_stats(handle, &stats), 0);
	assert_int_equal(stats.timeouts, 1);
	assert_int_equal(stats.stale_completions, 0);
	winapi_queue_destroy(short_queue);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);
	emulator_stop(&emulator, SIGTERM);
}

/*
 * The host answers request 2 after 6 s, a deadline of 2 s has passed: the request fails on
 * time whatever the schedule (a reaper that woke only after the answer came would take it,
 * so the margin is seconds). Once the host says it is answering, the late completion is in
 * the ring ahead of any answer to a later request (one host thread serves the channel in
 * order), so the next call meets it first.
 */
static void test_late_completion_dropped(void **state)
{
	static const char *const arguments[] = { "--delay-request", "2:6000", NULL };
	char output[16];
	struct winapi_stats stats;
	winapi_handle_t handle;
	winapi_queue_t queue, short_queue;

	(void)state;
	assert_int_equal(start(arguments), 0);
	handle = winapi_init();
	assert_non_null(handle);
	queue = winapi_queue_create(handle, 4, 60000);
	short_queue = winapi_queue_create(handle, 1, 2000);
	assert_non_null(queue);
	assert_non_null(short_queue);
	assert_int_equal(echo_once(queue, "first"), 0);
	assert_int_equal(echo_once(short_queue, "second"), -ETIMEDOUT); /* answered after 6 s */
	assert_int_equal(emulator_wait_log(&emulator, "request 2: answering 6000 ms late"), 0);
	/* The next call finds the late completion first: dropped as stale, its own one arrives. */
	assert_int_equal(echo_once(queue, "third"), 0);
	assert_int_equal(winapi_echo(handle, "sync too", output, sizeof(output)), 0);
	assert_int_equal(winapi_get_stats(handle, &stats), 0);
	assert_int_equal(stats.timeouts, 1);
	assert_int_equal(stats.stale_completions, 1);
	assert_int_equal(stats.unexpected_packets, 0);
	winapi_queue_destroy(short_queue);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);
	emulator_stop(&emulator, SIGTERM);
}

/*
 * A queue's request times out and the queue goes; the next queue takes its index. The late
 * completion must not pass for the new queue's request in the same slot (echo_once() checks
 * the bytes that come back).
 */
static void test_late_completion_after_queue_reuse(void **state)
{
	static const char *const arguments[] = { "--delay-request", "1:6000", NULL };
	struct winapi_stats stats;
	winapi_handle_t handle;
	winapi_queue_t queue;

	(void)state;
	assert_int_equal(start(arguments), 0);
	handle = winapi_init();
	assert_non_null(handle);
	queue = winapi_queue_create(handle, 1, 2000);
	assert_non_null(queue);
	assert_int_equal(echo_once(queue, "old!"), -ETIMEDOUT);
	winapi_queue_destroy(queue);
	queue = winapi_queue_create(handle, 1, 60000);
	assert_non_null(queue);
	assert_int_equal(emulator_wait_log(&emulator, "request 1: answering 6000 ms late"), 0);
	assert_int_equal(echo_once(queue, "new!"), 0);
	assert_int_equal(winapi_get_stats(handle, &stats), 0);
	assert_int_equal(stats.unexpected_packets + stats.stale_completions, 1);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);
	emulator_stop(&emulator, SIGTERM);
}

static void test_duplicate_completion_dropped(void **state)
{
	static const char *const arguments[] = { "--duplicate-request", "2", NULL };
	struct winapi_stats stats;
	winapi_handle_t handle;
	winapi_queue_t queue;

	(void)state;
	assert_int_equal(start(arguments), 0);
	handle = winapi_init();
	assert_non_null(handle);
	queue = winapi_queue_create(handle, 4, 60000);
	assert_non_null(queue);
	assert_int_equal(echo_once(queue, "one"), 0);
	assert_int_equal(echo_once(queue, "two"), 0);   /* answered twice */
	assert_int_equal(echo_once(queue, "three"), 0); /* the second answer is dropped, not taken */
	assert_int_equal(echo_once(queue, "four"), 0);
	assert_int_equal(winapi_get_stats(handle, &stats), 0);
	assert_int_equal(stats.failed_calls, 0);
	/* Already completed: stale if its slot moved on, unexpected if not yet reaped. */
	assert_int_equal(stats.stale_completions + stats.unexpected_packets, 1);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);
	emulator_stop(&emulator, SIGTERM);
}

/* ---- one signal per batch ---- */

#define BATCHES 50u
#define BATCH 16u

/* The emulator's account of a guest: "guest N left: R requests, B rejected, S signals". */
static unsigned long long signals_in_log(void)
{
	unsigned long long requests = 0, rejected = 0, signals = 0;
	unsigned int number;
	char line[512];
	FILE *log = fopen(emulator.log_path, "r");

	assert_non_null(log);
	while (fgets(line, sizeof(line), log) != NULL) {
		const char *entry = strstr(line, "guest ");

		if (entry != NULL &&
		    sscanf(entry, "guest %u left: %llu requests, %llu rejected, %llu signals", &number, &requests,
			   &rejected, &signals) == 4)
			break;
	}
	fclose(log);
	return signals;
}

/*
 * Exactly one signal per batch is a rule here, not a schedule: every batch starts on an empty
 * ring with the host's mask clear. Empty, because the host releases the requests of a burst
 * before it publishes their completions (finish_burst() in drivers/host/host.c), and the
 * guest sends its next batch only after it has reaped every completion of the last one.
 * Clear, because a host in interrupt mode never masks, and the echo before the count proves
 * it is in that mode: it unmasks before it serves, but may not yet have when the guest's
 * first request arrives (the request is then found without a signal, as it must be).
 */
static void test_one_signal_per_batch(void **state)
{
	static const char *const arguments[] = { "--interrupt-mode", "--verbose", NULL };
	static char inputs[BATCH][32], outputs[BATCH][32];
	winapi_completion_t completions[BATCH];
	struct winapi_stats before, after;
	winapi_handle_t handle;
	winapi_queue_t queue;
	unsigned int batch, i;
	char output[16];

	(void)state;
	assert_int_equal(start(arguments), 0);
	handle = winapi_init();
	assert_non_null(handle);
	queue = winapi_queue_create(handle, BATCH, -1);
	assert_non_null(queue);
	assert_int_equal(winapi_echo(handle, "serving?", output, sizeof(output)), 0);
	assert_int_equal(winapi_get_stats(handle, &before), 0);
	assert_true(before.signals_sent <= 1);
	for (batch = 0; batch < BATCHES; batch++) {
		for (i = 0; i < BATCH; i++) {
			snprintf(inputs[i], sizeof(inputs[i]), "batch %u request %u", batch, i);
			assert_int_equal(winapi_queue_echo(queue, inputs[i], strlen(inputs[i]), outputs[i],
							   sizeof(outputs[i]), NULL), 0);
		}
		assert_int_equal(winapi_queue_submit(queue), BATCH);
		assert_int_equal(winapi_queue_reap(queue, completions, BATCH, BATCH, 30000), BATCH);
		for (i = 0; i < BATCH; i++) {
			assert_int_equal(completions[i].status, 0);
			assert_memory_equal(outputs[i], inputs[i], strlen(inputs[i]));
		}
	}
	assert_int_equal(winapi_get_stats(handle, &after), 0);
	/* The guest decided to signal once per batch ... */
	assert_int_equal(after.signals_sent - before.signals_sent, BATCHES);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);
	/* The emulator counts the signals it drained; it logs them once it has seen us leave. */
	assert_int_equal(emulator_wait_log(&emulator, "guest 1 left"), 0);
	emulator_stop(&emulator, SIGTERM);
	/* ... and the host received exactly those, and the echo's if it sent one. */
	assert_int_equal(signals_in_log(), BATCHES + before.signals_sent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_four_threads_a_million),
		cmocka_unit_test(test_dropped_completion_times_out),
		cmocka_unit_test(test_late_completion_dropped),
		cmocka_unit_test(test_late_completion_after_queue_reuse),
		cmocka_unit_test(test_duplicate_completion_dropped),
		cmocka_unit_test(test_one_signal_per_batch),
	};
	int failures;

	signal(SIGPIPE, SIG_IGN);
	/* Calls that must succeed have a minute; those that must time out set 2 s themselves. */
	setenv("WINAPI_TIMEOUT_MS", "60000", 1);
	if (emulator_prepare(&emulator, "async_e2e") != 0)
		return 1;
	failures = cmocka_run_group_tests_name("asynchronous calls", tests, NULL, NULL);
	emulator_cleanup(&emulator);
	return failures;
}
