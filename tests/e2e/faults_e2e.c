/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The fault matrix end to end: a real winapi-host-sim injects each fault (its --*-request
 * options), liblowlat and a real winapi-pmd must survive it with a clear error, and work on.
 *
 * Straight to the emulator (WINAPI_TRANSPORT=sim):
 *  - drop, delay, duplicate: -ETIMEDOUT for the lost and the late answer, the late and the
 *    second answer dropped, later calls work;
 *  - a WRITE that times out before the host writes (GPADL and GPA-direct buffers): the
 *    buffer freed at once is held, and new buffers never get the host's late write;
 *  - corrupt answers (checksum, request-id, garbage, truncated): -EBADMSG and a log line; an
 *    answer of the wrong packet type is dropped (a log line) and its call times out; later
 *    calls work;
 *  - answers to ids never sent, among real ones: dropped, every real answer right;
 *  - the host stops reading: submits get -EAGAIN, a synchronous call -ETIMEDOUT; once it
 *    reads again every request is answered and later calls work;
 *  - the host dies (SIGKILL) with requests in flight, or rescinds the device: they end with
 *    -ENOTCONN, so does every later call (a log line); a new winapi_init() against a new
 *    emulator works;
 *  - the host rescinds the device while a call spins (VMBUS_SPIN_NS at its maximum, so it
 *    never blocks) with a minute to its deadline: it ends with -ENOTCONN within seconds, and
 *    the log says the device was removed.
 * Through winapi-pmd (WINAPI_TRANSPORT=pmd):
 *  - drop, corrupt, duplicate, unknown ids: the client gets -EREMOTEIO (the daemon's call
 *    timed out) and -EBADMSG, the rest works; the daemon stays up and exits 0 on SIGTERM;
 *  - the host dies mid-load, or rescinds: the client's calls fail, then -ENOTCONN; the daemon
 *    logs that the host is gone and exits 1; a new host and daemon serve a new winapi_init();
 *  - the host rescinds while the daemon's worker spins pinned (--spin-ns max) and its client
 *    spins too: the daemon exits 1 and the client's call ends with -ENOTCONN within seconds,
 *    long before either deadline;
 *  - clients killed while their WRITEs, timed out at the daemon, wait at a stalled host:
 *    their pools are quarantined (telemetry), the uid is refused with EDQUOT at its
 *    --max-quarantine-per-uid; once the host answers, the pools are freed and new clients
 *    for all the guest RAM work.
 * Every wait is bounded; nothing sleeps to let things happen.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <winapi/lowlat.h>
#include <winapi_internal/clock.h>
#include <winapi_internal/pmd.h>

#include "emulator.h"

/*
 * Every call that must succeed has a minute: a loaded machine never takes that long, and a
 * test that expects a timeout gives just that call (or the daemon) a deadline of its own.
 */
#define GROUP_TIMEOUT_MS "60000"

/*
 * How long a spinning call may take to notice a rescind: far below its minute, and generous
 * for a loaded machine (how fast it notices is for benchmarks, not for this test).
 */
#define RESCIND_NOTICED_MS 10000u

/* VMBUS_SPIN_NS at its maximum: a wait spins to its deadline and never blocks. */
#define SPIN_FOREVER "4294967295"

static struct emulator host;
static struct emulator pmd;
static char pmd_prefix[64];

/* ---- what the guest logged (its stderr), and what the emulator logged ---- */

static char captured[64 << 10];
static char capture_path[160];
static int saved_stderr = -1;

static void capture_begin(void)
{
	int fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
}

/* Stop capturing; the text is in `captured` (and is passed on to the real stderr). */
static void capture_end(void)
{
	ssize_t length;
	int fd;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	captured[0] = '\0';
	fd = open(capture_path, O_RDONLY);
	assert_true(fd >= 0);
	length = read(fd, captured, sizeof(captured) - 1);
	close(fd);
	captured[length > 0 ? length : 0] = '\0';
	(void)!write(STDERR_FILENO, captured, strlen(captured));
}

/* ---- calls ---- */

/* One echo through @queue; returns its status (the bytes are checked when it succeeded). */
static int queue_echo(winapi_queue_t queue, const char *text)
{
	char output[64];
	winapi_completion_t completion;

	assert_int_equal(winapi_queue_echo(queue, text, strlen(text), output, sizeof(output), NULL), 0);
	assert_int_equal(winapi_queue_submit(queue), 1);
	assert_int_equal(winapi_queue_reap(queue, &completion, 1, 1, 10000), 1);
	if (completion.status == 0) {
		assert_int_equal(completion.length, strlen(text));
		assert_memory_equal(output, text, strlen(text));
	}
	return completion.status;
}

/* One synchronous echo; returns its result (the bytes are checked when it succeeded). */
static int echo(winapi_handle_t handle, const char *text)
{
	char output[64];
	int rc = winapi_echo(handle, text, output, sizeof(output));

	if (rc == 0)
		assert_string_equal(output, text);
	return rc;
}

/*
 * winapi_init(), again while it is refused (for at most 30 s): emulator_start() returns once
 * the socket file exists, which can be a moment before the daemon accepts on it.
 */
static winapi_handle_t attach(void)
{
	winapi_handle_t handle = NULL;
	int tries;

	/* 30 s: a daemon that was just started or restarted may wait that long for a CPU. */
	for (tries = 0; tries < 3000; tries++) {
		handle = winapi_init();
		if (handle != NULL || (errno != ECONNREFUSED && errno != ENOENT))
			break;
		sleep_ms(10);
	}
	return handle;
}

/* A handle whose synchronous calls give up after @timeout_ms (read by winapi_init()). */
static winapi_handle_t init_with_timeout(int timeout_ms)
{
	winapi_handle_t handle;
	char text[16];

	snprintf(text, sizeof(text), "%d", timeout_ms);
	setenv("WINAPI_TIMEOUT_MS", text, 1);
	handle = attach();
	setenv("WINAPI_TIMEOUT_MS", GROUP_TIMEOUT_MS, 1);
	assert_non_null(handle);
	return handle;
}

/* Each start logs afresh, so that what a test finds in the log is its own. */
static void start_host(const char *const *arguments)
{
	unlink(host.log_path);
	assert_int_equal(emulator_start(&host, arguments), 0);
}

/* The emulator survived the guest's faults: it stops on SIGTERM, exit status 0. */
static void stop_host(void)
{
	int status = emulator_stop(&host, SIGTERM);

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- drop, delay, duplicate ---- */

static void test_drop_delay_duplicate(void **state)
{
	static const char *const arguments[] = { "--drop-request", "2", "--delay-request", "3:10000",
						  "--duplicate-request", "5", NULL };
	struct winapi_stats stats;
	winapi_handle_t handle;
	winapi_queue_t queue, short_queue;

	(void)state;
	start_host(arguments);
	handle = attach(); /* "four" waits out the rest of the host's delay */
	assert_non_null(handle);
	/* What must be answered has a minute; what must time out, 2 s on a queue of its own. */
	queue = winapi_queue_create(handle, 4, 60000);
	short_queue = winapi_queue_create(handle, 1, 2000);
	assert_non_null(queue);
	assert_non_null(short_queue);
	assert_int_equal(queue_echo(queue, "one"), 0);
	assert_int_equal(queue_echo(short_queue, "two"), -ETIMEDOUT);   /* never answered */
	/*
	 * Answered 10 s late: a reaper that wakes late may find the answer already there and take
	 * it, so the margin over the 2 s deadline must be more than any wake-up takes.
	 */
	assert_int_equal(queue_echo(short_queue, "three"), -ETIMEDOUT);
	/* Waits out the rest of the host's delay; the late answer comes first, and is dropped. */
	assert_int_equal(echo(handle, "four"), 0);
	assert_int_equal(queue_echo(queue, "five"), 0); /* answered twice */
	assert_int_equal(queue_echo(queue, "six"), 0);
	assert_int_equal(echo(handle, "seven"), 0);
	assert_int_equal(winapi_get_stats(handle, &stats), 0);
	assert_int_equal(stats.timeouts, 2);
	assert_int_equal(stats.failed_calls, 2);
	/* The late answer and the second one: stale, or unexpected if not yet reaped. */
	assert_int_equal(stats.stale_completions + stats.unexpected_packets, 2);
	winapi_queue_destroy(short_queue);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);
	stop_host();
}

/* ---- a late write after a timeout: the buffer stays the host's ---- */

#define LATE_BUFFER_SIZE (16u << 10)

/* Whether @size bytes at @data are all zero (a new buffer nobody wrote). */
static bool all_zero(const void *data, size_t size)
{
	const uint8_t *bytes = data;
	size_t i;

	for (i = 0; i < size; i++)
		if (bytes[i] != 0)
			return false;
	return true;
}

/*
 * The host stops reading for 4 s after "first": the WRITE behind it times out at 1 s, the
 * buffer is freed and new ones of its size taken at once (the pages it had, were they given
 * back). Then the host reads the WRITE, writes the pattern into the memory it was given, and
 * answers (request 2's "answering ... late"). The new buffers must hold nothing of it; the
 * late answer, once taken, lets the freed memory go.
 */
static void late_write_one(const char *profile, uint32_t kind)
{
	const char *const arguments[] = { "--profile", profile, "--stall-request", "1:4000", "--delay-request", "2:1",
					  NULL };
	winapi_buffer_t freed, fresh[2];
	winapi_buffer_test_result_t result;
	struct winapi_stats stats;
	winapi_handle_t handle;
	unsigned int i;

	start_host(arguments);
	handle = init_with_timeout(1000);
	assert_int_equal(echo(handle, "first"), 0);
	assert_int_equal(winapi_alloc_buffer(&freed, LATE_BUFFER_SIZE), 0);
	assert_int_equal(freed.kind, kind);
	assert_int_equal(winapi_buffer_test(handle, &freed, 1, WINAPI_BUFFER_OP_WRITE, 0xA5C3A5C3u, &result),
			 -ETIMEDOUT);
	winapi_free_buffer(&freed);
	assert_null(freed.owner); /* the caller's struct is cleared as ever */
	for (i = 0; i < 2; i++) {
		assert_int_equal(winapi_alloc_buffer(&fresh[i], LATE_BUFFER_SIZE), 0);
		memset(fresh[i].data, 0, fresh[i].size);
	}
	assert_int_equal(emulator_wait_log(&host, "request 2: answering 1 ms late"), 0);
	for (i = 0; i < 2; i++)
		if (!all_zero(fresh[i].data, fresh[i].size))
			fail_msg("%s: the host's late write landed in a new buffer", profile);
	/* The next call takes the late answer: the freed memory goes back, and all works on. */
	assert_int_equal(echo(handle, "after"), 0);
	assert_int_equal(winapi_get_stats(handle, &stats), 0);
	assert_int_equal(stats.timeouts, 1);
	assert_int_equal(winapi_alloc_buffer(&freed, LATE_BUFFER_SIZE), 0);
	assert_int_equal(winapi_buffer_test(handle, &freed, 1, WINAPI_BUFFER_OP_WRITE, 0x01020304u, &result), 0);
	winapi_free_buffer(&freed);
	for (i = 0; i < 2; i++)
		winapi_free_buffer(&fresh[i]);
	winapi_cleanup(handle);
	stop_host();
}

static void test_late_write_after_timeout(void **state)
{
	(void)state;
	late_write_one("linux-6.12", WINAPI_BUFFER_GPADL);    /* a GPADL region */
	late_write_one("mainline", WINAPI_BUFFER_GPA_DIRECT); /* no regions: page numbers */
}

/* ---- corrupt answers ---- */

static void corrupt_one(const char *kind, int expected, const char *log_text)
{
	char fault[32];
	const char *const arguments[] = { "--corrupt-request", fault, NULL };
	struct winapi_stats stats;
	winapi_handle_t handle;
	winapi_queue_t queue;

	snprintf(fault, sizeof(fault), "2:%s", kind);
	start_host(arguments);
	handle = attach();
	assert_non_null(handle);
	/* Nothing but its deadline ends a call answered with the wrong type: 2 s for that one. */
	queue = winapi_queue_create(handle, 1, expected == -ETIMEDOUT ? 2000 : 60000);
	assert_non_null(queue);
	capture_begin();
	assert_int_equal(echo(handle, "before"), 0);
	assert_int_equal(queue_echo(queue, "damaged"), expected);
	winapi_queue_destroy(queue);
	assert_int_equal(echo(handle, "after"), 0);
	assert_int_equal(echo(handle, "and after"), 0);
	capture_end();
	if (strstr(captured, log_text) == NULL)
		fail_msg("%s: no \"%s\" in the guest's log:\n%s", kind, log_text, captured);
	assert_int_equal(winapi_get_stats(handle, &stats), 0);
	assert_int_equal(stats.failed_calls, 1);
	assert_int_equal(stats.unexpected_packets, expected == -ETIMEDOUT ? 1 : 0);
	winapi_cleanup(handle);
	stop_host();
}

static void test_corrupt_completions(void **state)
{
	(void)state;
	corrupt_one("checksum", -EBADMSG, "is malformed");
	corrupt_one("request-id", -EBADMSG, "does not match it");
	corrupt_one("garbage", -EBADMSG, "is malformed");
	corrupt_one("truncated", -EBADMSG, "is malformed");
	corrupt_one("type", -ETIMEDOUT, "a packet that is not a completion");
}

/* ---- answers to ids never sent ---- */

#define UNKNOWN_DEPTH 8u

static void test_unknown_ids(void **state)
{
	static const char *const arguments[] = { "--unknown-request", "3", NULL };
	static char inputs[UNKNOWN_DEPTH][32], outputs[UNKNOWN_DEPTH][32];
	winapi_completion_t completions[UNKNOWN_DEPTH];
	struct winapi_stats stats;
	winapi_handle_t handle;
	winapi_queue_t queue;
	unsigned int i;
	int count;

	(void)state;
	start_host(arguments);
	handle = attach();
	assert_non_null(handle);
	queue = winapi_queue_create(handle, UNKNOWN_DEPTH, 60000);
	assert_non_null(queue);
	capture_begin();
	/* One batch: the invented answers come between the real ones. */
	for (i = 0; i < UNKNOWN_DEPTH; i++) {
		snprintf(inputs[i], sizeof(inputs[i]), "request %u", i);
		assert_int_equal(winapi_queue_echo(queue, inputs[i], strlen(inputs[i]), outputs[i], sizeof(outputs[i]),
						   (void *)(uintptr_t)i), 0);
	}
	assert_int_equal(winapi_queue_submit(queue), UNKNOWN_DEPTH);
	for (count = 0; count < (int)UNKNOWN_DEPTH;) {
		int taken = winapi_queue_reap(queue, completions + count, UNKNOWN_DEPTH - (unsigned int)count, 1,
					      10000);

		assert_true(taken > 0);
		count += taken;
	}
	for (i = 0; i < UNKNOWN_DEPTH; i++) {
		unsigned int which = (unsigned int)(uintptr_t)completions[i].user_data;

		assert_int_equal(completions[i].status, 0);
		assert_int_equal(completions[i].length, strlen(inputs[which]));
		assert_memory_equal(outputs[which], inputs[which], strlen(inputs[which]));
	}
	assert_int_equal(echo(handle, "after"), 0);
	capture_end();
	assert_non_null(strstr(captured, "for an id never sent"));
	assert_int_equal(winapi_get_stats(handle, &stats), 0);
	assert_int_equal(stats.unexpected_packets, 3);
	assert_int_equal(stats.stale_completions, 0);
	assert_int_equal(stats.failed_calls, 0);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);
	stop_host();
}

/* ---- the host stops reading ---- */

#define STALL_DEPTH 64u

struct stall_slot {
	uint8_t input[3072];
	uint8_t output[3072];
};

static void test_host_stops_reading(void **state)
{
	/* 16 KiB rings: three data pages, three of these requests fill them. */
	static const char *const arguments[] = { "--ring-size", "16K", "--stall-request", "1:10000", NULL };
	static struct stall_slot slots[STALL_DEPTH];
	winapi_completion_t completions[STALL_DEPTH];
	unsigned int added = 0, written = 0, reaped = 0, i;
	winapi_handle_t handle;
	winapi_queue_t queue;
	int rc = 0, count;

	(void)state;
	start_host(arguments);
	/*
	 * "no room" must fail within the 10 s stall: a 1 s deadline for it, and everything that
	 * must succeed goes through the queue, whose deadline no loaded machine reaches.
	 */
	handle = init_with_timeout(1000);
	queue = winapi_queue_create(handle, STALL_DEPTH, 60000);
	assert_non_null(queue);
	assert_int_equal(queue_echo(queue, "one"), 0); /* answered; then the host reads nothing for 10 s */
	/* Fill the guest's ring until a submit sends nothing. */
	while (added < STALL_DEPTH) {
		memset(slots[added].input, (int)added, sizeof(slots[added].input));
		assert_int_equal(winapi_queue_echo(queue, slots[added].input, sizeof(slots[added].input),
						   slots[added].output, sizeof(slots[added].output), &slots[added]), 0);
		added++;
		rc = winapi_queue_submit(queue);
		if (rc == -EAGAIN)
			break;
		assert_int_equal(rc, 1);
		written++;
	}
	assert_int_equal(rc, -EAGAIN);
	assert_true(written >= 1);
	/* A synchronous call finds no room either, and says so in its time. */
	assert_int_equal(echo(handle, "no room"), -ETIMEDOUT);
	/* The host reads again: every request is answered (the one left pending goes out too). */
	while (reaped < added) {
		rc = winapi_queue_submit(queue);
		assert_true(rc >= 0 || rc == -EAGAIN);
		count = winapi_queue_reap(queue, completions, STALL_DEPTH, 1, 60000);
		assert_true(count > 0);
		for (i = 0; i < (unsigned int)count; i++) {
			struct stall_slot *slot = completions[i].user_data;

			assert_int_equal(completions[i].status, 0);
			assert_int_equal(completions[i].length, sizeof(slot->input));
			assert_memory_equal(slot->output, slot->input, sizeof(slot->input));
		}
		reaped += (unsigned int)count;
	}
	assert_int_equal(queue_echo(queue, "queued after"), 0);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);
	stop_host();
	assert_true(emulator_log_contains(&host, "not reading the ring"));
}

/* ---- the host dies, or rescinds the device ---- */

#define LOAD_DEPTH 16u

/*
 * One echo answered, then LOAD_DEPTH in flight on @queue, which the host does not read: it
 * stops reading after the first answer (--stall-request 1:600000), however late the test runs.
 */
static void start_load(winapi_queue_t queue)
{
	static char outputs[LOAD_DEPTH][16];
	unsigned int i;

	assert_int_equal(queue_echo(queue, "first"), 0);
	for (i = 0; i < LOAD_DEPTH; i++)
		assert_int_equal(winapi_queue_echo(queue, "load", 4, outputs[i], sizeof(outputs[i]), NULL), 0);
	assert_int_equal(winapi_queue_submit(queue), LOAD_DEPTH);
}

/* Reap @left requests; returns how many failed, each with one of @errors (0-terminated). */
static unsigned int finish_load(winapi_queue_t queue, unsigned int left, const int *errors)
{
	winapi_completion_t completions[LOAD_DEPTH];
	unsigned int failed = 0, i;
	int count;

	while (left > 0) {
		count = winapi_queue_reap(queue, completions, LOAD_DEPTH, 1, 10000);
		assert_true(count > 0);
		for (i = 0; i < (unsigned int)count; i++) {
			const int *error = errors;

			if (completions[i].status == 0)
				continue;
			while (*error != 0 && *error != completions[i].status)
				error++;
			if (*error == 0)
				fail_msg("a request in flight ended with %d", completions[i].status);
			failed++;
		}
		left -= (unsigned int)count;
	}
	return failed;
}

/* After the host is gone: every call says -ENOTCONN, and a new host can be attached. */
static void check_host_gone(winapi_handle_t handle, winapi_queue_t queue, const char *const *arguments)
{
	winapi_completion_t completion;
	char output[16];

	assert_int_equal(echo(handle, "gone"), -ENOTCONN);
	assert_int_equal(winapi_queue_echo(queue, "gone", 4, output, sizeof(output), NULL), 0);
	assert_int_equal(winapi_queue_submit(queue), -ENOTCONN);
	assert_int_equal(winapi_queue_reap(queue, &completion, 1, 1, 10000), 1);
	assert_int_equal(completion.status, -ENOTCONN);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);

	start_host(arguments);
	handle = attach();
	assert_non_null(handle);
	assert_int_equal(echo(handle, "a new host"), 0);
	winapi_cleanup(handle);
	stop_host();
}

static void test_host_dies_mid_load(void **state)
{
	static const char *const arguments[] = { "--stall-request", "1:600000", NULL };
	static const int errors[] = { -ENOTCONN, 0 };
	winapi_handle_t handle;
	winapi_queue_t queue;

	(void)state;
	start_host(arguments);
	handle = attach();
	assert_non_null(handle);
	queue = winapi_queue_create(handle, LOAD_DEPTH, 20000);
	assert_non_null(queue);
	capture_begin();
	start_load(queue);
	emulator_stop(&host, SIGKILL);
	assert_int_equal(finish_load(queue, LOAD_DEPTH, errors), LOAD_DEPTH);
	capture_end();
	assert_non_null(strstr(captured, "the host is gone"));
	check_host_gone(handle, queue, NULL);
}

static void test_rescind(void **state)
{
	static const char *const arguments[] = { "--rescind-request", "3", "--verbose", NULL };
	winapi_handle_t handle;
	winapi_queue_t queue;

	(void)state;
	start_host(arguments);
	handle = init_with_timeout(60000); /* the rescind, not a deadline, must end "taken away" */
	queue = winapi_queue_create(handle, 4, 20000);
	assert_non_null(queue);
	capture_begin();
	assert_int_equal(echo(handle, "one"), 0);
	assert_int_equal(queue_echo(queue, "two"), 0);
	assert_int_equal(echo(handle, "taken away"), -ENOTCONN);
	capture_end();
	assert_non_null(strstr(captured, "the host is gone"));
	stop_host(); /* the emulator goes on listening after a rescind */
	assert_true(emulator_log_contains(&host, "rescinding the device"));
	assert_true(emulator_log_contains(&host, "(device rescinded: a fault)"));
	check_host_gone(handle, queue, NULL);
}

/* A handle whose waits spin to their deadline (a minute) and never block. */
static winapi_handle_t init_spinning(void)
{
	winapi_handle_t handle;

	setenv("VMBUS_SPIN_NS", SPIN_FOREVER, 1); /* read when winapi_init() opens the device */
	handle = init_with_timeout(60000);
	unsetenv("VMBUS_SPIN_NS");
	return handle;
}

/* A synchronous echo the host answers by going away: -ENOTCONN, noticed within seconds. */
static void echo_taken_away(winapi_handle_t handle)
{
	uint64_t start = winapi_clock_now_ms(), elapsed;

	assert_int_equal(echo(handle, "taken away"), -ENOTCONN);
	elapsed = winapi_clock_now_ms() - start;
	if (elapsed >= RESCIND_NOTICED_MS)
		fail_msg("the rescind was noticed after %llu ms", (unsigned long long)elapsed);
}

static void test_rescind_while_spinning(void **state)
{
	static const char *const arguments[] = { "--rescind-request", "2", NULL };
	winapi_handle_t handle;

	(void)state;
	start_host(arguments);
	handle = init_spinning();
	capture_begin();
	assert_int_equal(echo(handle, "one"), 0);
	echo_taken_away(handle);
	capture_end();
	assert_non_null(strstr(captured, "the VMBus device was removed (rescinded by the host)"));
	winapi_cleanup(handle);
	stop_host();
}

/* ---- through winapi-pmd ---- */

/*
 * Start the daemon on the emulator; its own calls to the host give up after @timeout_ms.
 * @spin_ns: its --spin-ns, or NULL for the default.
 */
static void start_pmd_with(int timeout_ms, const char *pool_mib, const char *option, const char *value)
{
	const char *const arguments[] = { "--lcores", "0", "--backend", "sim", "--sim-socket", host.socket_path,
					  "--file-prefix", pmd_prefix, "--pool-size", pool_mib, "--log-level", "info",
					  option, value, NULL };
	char text[16];

	snprintf(text, sizeof(text), "%d", timeout_ms);
	setenv("WINAPI_TIMEOUT_MS", text, 1);
	unlink(pmd.log_path);
	assert_int_equal(emulator_start(&pmd, arguments), 0);
	setenv("WINAPI_TIMEOUT_MS", GROUP_TIMEOUT_MS, 1);
	setenv("WINAPI_TRANSPORT", "pmd", 1);
}

static void start_pmd_spinning(int timeout_ms, const char *spin_ns)
{
	start_pmd_with(timeout_ms, "8", spin_ns != NULL ? "--spin-ns" : NULL, spin_ns);
}

static void start_pmd(int timeout_ms)
{
	start_pmd_spinning(timeout_ms, NULL);
}

/* The daemon's exit status after it stops by itself (bounded: emulator_stop waits 30 s). */
static int pmd_exit_status(void)
{
	int status = emulator_stop(&pmd, 0);

	setenv("WINAPI_TRANSPORT", "sim", 1);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_pmd_recoverable_faults(void **state)
{
	/* The daemon's own first request, at start, reads the host's API table: the client's are 2.. */
	static const char *const arguments[] = { "--drop-request", "3", "--corrupt-request", "4:checksum",
						  "--duplicate-request", "5", "--unknown-request", "6", NULL };
	winapi_handle_t handle;
	int status;

	(void)state;
	start_host(arguments);
	start_pmd(5000); /* the dropped request costs this; the others must succeed within it */
	handle = init_with_timeout(60000); /* the daemon's deadline, not the client's, must end "dropped" */
	assert_int_equal(echo(handle, "one"), 0);
	assert_int_equal(echo(handle, "dropped"), -EREMOTEIO); /* the daemon's call timed out */
	assert_int_equal(echo(handle, "corrupt"), -EBADMSG);
	assert_int_equal(echo(handle, "duplicated"), 0);
	assert_int_equal(echo(handle, "among unknown ids"), 0);
	assert_int_equal(echo(handle, "after"), 0);
	assert_int_equal(kill(pmd.pid, 0), 0); /* the daemon is up */
	winapi_cleanup(handle);
	status = emulator_stop(&pmd, SIGTERM);
	setenv("WINAPI_TRANSPORT", "sim", 1);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(emulator_log_contains(&pmd, "is malformed"));
	/* The duplicate came first: the daemon's driver logs the first unexpected answer only. */
	assert_true(emulator_log_contains(&pmd, "dropped a completion for a request not in flight"));
	stop_host();
}

/* The daemon lost its host: its client's calls fail, it exits 3, and a new pair serves. */
static void check_pmd_lost_host(winapi_handle_t handle, winapi_queue_t queue)
{
	winapi_completion_t completion;
	char output[16];

	assert_int_equal(pmd_exit_status(), 3);
	/* "worker N: the host is gone" when a submit found out, else only this at exit. */
	assert_true(emulator_log_contains(&pmd, "pmd: stopped: the host is gone"));
	setenv("WINAPI_TRANSPORT", "pmd", 1);
	assert_int_equal(echo(handle, "gone"), -ENOTCONN);
	assert_int_equal(winapi_queue_echo(queue, "gone", 4, output, sizeof(output), NULL), 0);
	assert_int_equal(winapi_queue_submit(queue), -ENOTCONN);
	assert_int_equal(winapi_queue_reap(queue, &completion, 1, 1, 10000), 1);
	assert_int_equal(completion.status, -ENOTCONN);
	winapi_queue_destroy(queue);
	winapi_cleanup(handle);

	emulator_stop(&host, SIGKILL);
	start_host(NULL);
	start_pmd(30000);
	handle = init_with_timeout(60000);
	assert_int_equal(echo(handle, "a new daemon"), 0);
	winapi_cleanup(handle);
	assert_int_equal(emulator_stop(&pmd, SIGTERM), 0);
	setenv("WINAPI_TRANSPORT", "sim", 1);
	stop_host();
}

static void test_pmd_host_dies_mid_load(void **state)
{
	/* Request 1 is the daemon's own (the API table); the host stops reading after the client's first. */
	static const char *const arguments[] = { "--stall-request", "2:600000", NULL };
	/* The daemon answers with its own error, or is gone before it can. */
	static const int errors[] = { -EREMOTEIO, -ENOTCONN, 0 };
	winapi_handle_t handle;
	winapi_queue_t queue;

	(void)state;
	start_host(arguments);
	start_pmd(30000);
	handle = attach();
	assert_non_null(handle);
	queue = winapi_queue_create(handle, LOAD_DEPTH, 60000);
	assert_non_null(queue);
	start_load(queue);
	emulator_stop(&host, SIGKILL);
	assert_int_equal(finish_load(queue, LOAD_DEPTH, errors), LOAD_DEPTH);
	check_pmd_lost_host(handle, queue);
}

static void test_pmd_rescind(void **state)
{
	/* Request 1 is the daemon's own (the API table): the client's third is the host's fourth. */
	static const char *const arguments[] = { "--rescind-request", "4", NULL };
	winapi_handle_t handle;
	winapi_queue_t queue;
	int rc;

	(void)state;
	start_host(arguments);
	start_pmd(30000);
	handle = init_with_timeout(60000); /* the rescind, not a deadline, must end "taken away" */
	queue = winapi_queue_create(handle, 4, 20000);
	assert_non_null(queue);
	assert_int_equal(echo(handle, "one"), 0);
	assert_int_equal(queue_echo(queue, "two"), 0);
	rc = echo(handle, "taken away");
	assert_true(rc == -EREMOTEIO || rc == -ENOTCONN);
	check_pmd_lost_host(handle, queue);
}

/*
 * The daemon's worker spins pinned and never sleeps on the device; its client spins too. The
 * rescind of the daemon's device must stop the daemon, and end the client's call, within
 * seconds, though the daemon's call to the host has 30 s and the client's a minute.
 */
static void test_pmd_rescind_while_spinning(void **state)
{
	static const char *const arguments[] = { "--rescind-request", "3", NULL }; /* 1: the daemon's own */
	winapi_handle_t handle;

	(void)state;
	start_host(arguments);
	start_pmd_spinning(30000, "max");
	handle = init_spinning();
	capture_begin();
	assert_int_equal(echo(handle, "one"), 0);
	echo_taken_away(handle);
	capture_end();
	assert_non_null(strstr(captured, "the host is gone"));
	assert_int_equal(pmd_exit_status(), 3);
	assert_true(emulator_log_contains(&pmd, "the VMBus device was removed (rescinded by the host)"));
	winapi_cleanup(handle);
	stop_host();
}

/* ---- pools the host may still write: quarantined till its late answers ---- */

#define QUARANTINE_POOL_MIB 16
#define QUARANTINE_ROUNDS 3 /* the uid's cap: --max-quarantine-per-uid 48 */

/* The daemon's pool_bytes_quarantined, read as `winapi-pmd --stats --json` prints it; -1 if not. */
static long long quarantined_bytes(void)
{
	const char *bin_dir = getenv("WINAPI_BIN_DIR");
	char command[512], output[16 << 10];
	const char *key = "\"pool_bytes_quarantined\":";
	long long value = -1;
	size_t length;
	char *at;
	FILE *stats;

	snprintf(command, sizeof(command), "%s/winapi-pmd --stats --json --file-prefix %s",
		 bin_dir != NULL ? bin_dir : "build/bin", pmd_prefix);
	stats = popen(command, "r");
	if (stats == NULL)
		return -1;
	length = fread(output, 1, sizeof(output) - 1, stats);
	output[length] = '\0';
	pclose(stats);
	at = strstr(output, key);
	if (at != NULL)
		value = strtoll(at + strlen(key), NULL, 10);
	return value;
}

/* Wait (bounded: 30 s) until the daemon has @bytes quarantined; asserts it came. */
static void wait_quarantined(long long bytes)
{
	long long now = -1;
	int tries;

	for (tries = 0; tries < 300 && (now = quarantined_bytes()) != bytes; tries++)
		sleep_ms(100);
	if (now != bytes)
		fail_msg("pool_bytes_quarantined is %lld, never %lld", now, bytes);
}

/*
 * A client process that asks the host to write a buffer of its pool; the host is stalled, so
 * the daemon's call times out (the client hears -EREMOTEIO, told on @result_fd). It is then
 * killed, with the host's write still to come.
 */
static pid_t start_timed_out_client(void)
{
	winapi_buffer_test_result_t result;
	winapi_buffer_t buffer;
	winapi_handle_t handle;
	int fds[2], rc = -1;
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		handle = attach();
		if (handle != NULL && winapi_alloc_buffer(&buffer, LATE_BUFFER_SIZE) == 0)
			rc = winapi_buffer_test(handle, &buffer, 1, WINAPI_BUFFER_OP_WRITE, 0xA5C3A5C3u, &result);
		(void)!write(fds[1], &rc, sizeof(rc));
		pause();
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &rc, sizeof(rc)), (ssize_t)sizeof(rc));
	close(fds[0]);
	assert_int_equal(rc, -EREMOTEIO);
	return pid;
}

/*
 * The host stops reading after the first echo (request 2; 1 is the daemon's own). Each round,
 * a client's WRITE naming its pool times out at the daemon and the client is killed: its pool
 * is quarantined, QUARANTINE_ROUNDS x 16 MiB, and the uid is refused (EDQUOT) at its cap.
 * Then the host reads and answers them all (request 5 is the last, logged); the pools are
 * freed, and clients for all 64 MiB of the guest RAM attach and echo. Before, every such pool
 * stayed quarantined for ever and those clients got ENOMEM.
 */
static void test_pmd_quarantine_ends(void **state)
{
	static const char *const arguments[] = { "--guest-ram", "80M", "--stall-request", "2:15000",
						  "--delay-request", "5:1", NULL };
	const long long pool = (long long)QUARANTINE_POOL_MIB << 20;
	winapi_handle_t handle, handles[4];
	pid_t pid;
	int status;
	unsigned int i;

	(void)state;
	start_host(arguments);
	start_pmd_with(300, "16", "--max-quarantine-per-uid", "48");
	handle = attach();
	assert_non_null(handle);
	assert_int_equal(echo(handle, "first"), 0);
	winapi_cleanup(handle);
	for (i = 1; i <= QUARANTINE_ROUNDS; i++) {
		pid = start_timed_out_client();
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		wait_quarantined(i * pool);
	}
	assert_null(winapi_init());
	assert_int_equal(errno, EDQUOT);
	assert_true(emulator_log_contains(&pmd, "refused: 50331648 bytes of its pools are quarantined"));
	/* The stall ends: the host answers the WRITEs, late, the last one logged. */
	assert_int_equal(emulator_wait_log(&host, "request 5: answering 1 ms late"), 0);
	wait_quarantined(0);
	for (i = 0; i < 4; i++) {
		handles[i] = attach();
		assert_non_null(handles[i]);
		assert_int_equal(echo(handles[i], "after"), 0);
	}
	for (i = 0; i < 4; i++)
		winapi_cleanup(handles[i]);
	assert_int_equal(emulator_log_count(&pmd, "the host has answered its late requests"), QUARANTINE_ROUNDS);
	assert_int_equal(emulator_stop(&pmd, SIGTERM), 0);
	setenv("WINAPI_TRANSPORT", "sim", 1);
	stop_host();
}

/* After a failed test: the real stderr back, no daemon left, the emulator's transport. */
static int teardown(void **state)
{
	(void)state;
	if (saved_stderr >= 0) {
		dup2(saved_stderr, STDERR_FILENO);
		close(saved_stderr);
		saved_stderr = -1;
	}
	emulator_stop(&pmd, SIGKILL);
	emulator_stop(&host, SIGKILL);
	setenv("WINAPI_TRANSPORT", "sim", 1);
	unsetenv("VMBUS_SPIN_NS");
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	if (emulator_prepare(&host, "faults_e2e") != 0 ||
	    emulator_prepare_program(&pmd, "faults_e2e-pmd", "winapi-pmd") != 0)
		return -1;
	snprintf(capture_path, sizeof(capture_path), "%s/guest.log", host.directory);
	snprintf(pmd_prefix, sizeof(pmd_prefix), "faults-e2e-%d", (int)getpid());
	setenv("WINAPI_PMD_SOCKET", pmd.socket_path, 1);
	setenv("WINAPI_TIMEOUT_MS", GROUP_TIMEOUT_MS, 1);
	return 0;
}

static int group_teardown(void **state)
{
	char directory[108];

	(void)state;
	emulator_cleanup(&pmd);
	unlink(capture_path);
	emulator_cleanup(&host);
	if (winapi_pmd_runtime_dir(pmd_prefix, false, directory, sizeof(directory)) == 0)
		rmdir(directory);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_drop_delay_duplicate, teardown),
		cmocka_unit_test_teardown(test_late_write_after_timeout, teardown),
		cmocka_unit_test_teardown(test_corrupt_completions, teardown),
		cmocka_unit_test_teardown(test_unknown_ids, teardown),
		cmocka_unit_test_teardown(test_host_stops_reading, teardown),
		cmocka_unit_test_teardown(test_host_dies_mid_load, teardown),
		cmocka_unit_test_teardown(test_rescind, teardown),
		cmocka_unit_test_teardown(test_rescind_while_spinning, teardown),
		cmocka_unit_test_teardown(test_pmd_recoverable_faults, teardown),
		cmocka_unit_test_teardown(test_pmd_host_dies_mid_load, teardown),
		cmocka_unit_test_teardown(test_pmd_rescind, teardown),
		cmocka_unit_test_teardown(test_pmd_rescind_while_spinning, teardown),
		cmocka_unit_test_teardown(test_pmd_quarantine_ends, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("fault injection", tests, group_setup, group_teardown);
}
