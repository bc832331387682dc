/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request table (lib/requests) driven by hand: no transport, no process, no sleep. The
 * table's wait function is the test's own, so every answer, expiry and wake-up happens where
 * the test says. Clock values handed to the table are made up where the table takes them;
 * where it reads the clock itself (reap), deadlines are either far away or already past.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <winapi_internal/clock.h>
#include <winapi_internal/request_table.h>

#define FAR_AWAY_MS (3600 * 1000)

/* What the test's wait function does when a reaper has nothing to collect. */
struct waiter {
	unsigned int calls;
	unsigned int last_round;
	uint64_t last_now_ns, last_wake_ns;
	struct request_queue *finish_queue; /* non-NULL: finish this request on the first call */
	uint32_t finish_index;
	int finish_status;
};

static void test_wait(struct request_table *table, void *context, struct request_queue *queue,
		      unsigned int round, uint64_t now_ns, uint64_t wake_ns)
{
	struct waiter *waiter = context;

	(void)table;
	(void)queue;
	waiter->calls++;
	waiter->last_round = round;
	waiter->last_now_ns = now_ns;
	waiter->last_wake_ns = wake_ns;
	if (waiter->finish_queue != NULL) {
		request_finish(waiter->finish_queue, waiter->finish_index, waiter->finish_status);
		waiter->finish_queue = NULL;
	}
}

struct fixture {
	struct request_table table;
	struct waiter waiter;
	struct request_queue *queue;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(request_table_init(&f->table, "test", test_wait, &f->waiter), 0);
	assert_int_equal(request_queue_create(&f->table, 4, FAR_AWAY_MS, 16, &f->queue), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	request_queue_destroy(f->queue);
	request_table_destroy(&f->table);
	free(f);
	return 0;
}

/* Take, send and return the index of one request; its user data is @user_data. */
static uint32_t send_one(struct request_queue *queue, void *user_data, uint64_t now_ns)
{
	uint32_t index = request_queue_take(queue, -1, user_data);

	assert_int_not_equal(index, REQUEST_NO_SLOT);
	assert_int_equal(request_queue_next_added(queue), index);
	pthread_mutex_lock(&queue->table->lock);
	request_mark_sent(queue, index, now_ns);
	pthread_mutex_unlock(&queue->table->lock);
	return index;
}

/* request_table_find() under the lock, as a transport calls it. */
static int find(struct request_table *table, uint64_t id, uint64_t now_ns, struct request_queue **queue,
		uint32_t *index)
{
	int rc;

	pthread_mutex_lock(&table->lock);
	rc = request_table_find(table, id, now_ns, queue, index);
	pthread_mutex_unlock(&table->lock);
	return rc;
}

static void finish(struct request_queue *queue, uint32_t index, int status)
{
	pthread_mutex_lock(&queue->table->lock);
	request_finish(queue, index, status);
	pthread_mutex_unlock(&queue->table->lock);
}

/* ---- what the table logged (stderr, where winapi_log writes) ---- */

static char captured[4096];
static int capture_fd = -1;
static int saved_stderr = -1;

static void capture_begin(void)
{
	char path[] = "/tmp/request_table_ut.XXXXXX";

	capture_fd = mkstemp(path);
	assert_true(capture_fd >= 0);
	unlink(path);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_int_equal(dup2(capture_fd, STDERR_FILENO), STDERR_FILENO);
}

/* Stop capturing; the text is in `captured` (and is passed on to the real stderr). */
static void capture_end(void)
{
	ssize_t length;

	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	length = pread(capture_fd, captured, sizeof(captured) - 1, 0);
	close(capture_fd);
	capture_fd = -1;
	captured[length > 0 ? length : 0] = '\0';
	(void)!write(STDERR_FILENO, captured, strlen(captured));
}

/* ---- holds of requests that end unanswered ---- */

struct hold {
	unsigned int late, answered, abandoned;
	uint64_t late_id, answered_id;
	unsigned int late_count; /* buffers the late request named */
};

static void hold_late(void *owner, uint64_t id, const struct winapi_call_buffer *buffers, unsigned int count)
{
	struct hold *hold = owner;

	(void)buffers;
	hold->late++;
	hold->late_id = id;
	hold->late_count = count;
}

static void hold_answered(void *owner, uint64_t id)
{
	struct hold *hold = owner;

	hold->answered++;
	hold->answered_id = id;
}

static void hold_abandoned(void *owner)
{
	((struct hold *)owner)->abandoned++;
}

static const struct winapi_call_hold_ops hold_ops = {
	.late = hold_late, .answered = hold_answered, .abandoned = hold_abandoned,
};

/* Take, hold @buffer for @hold, send: the request's index. */
static uint32_t send_holding(struct request_queue *queue, struct hold *hold, const struct winapi_call_buffer *buffer)
{
	uint32_t index = request_queue_take(queue, -1, NULL);

	assert_int_not_equal(index, REQUEST_NO_SLOT);
	request_queue_set_hold(queue, index, &hold_ops, hold, buffer, 1);
	assert_int_equal(request_queue_next_added(queue), index);
	pthread_mutex_lock(&queue->table->lock);
	request_mark_sent(queue, index, 0);
	pthread_mutex_unlock(&queue->table->lock);
	return index;
}

/* ---- ids ---- */

static void test_id_names_queue_slot_generation(void **state)
{
	struct fixture *f = *state;
	struct request_queue *found;
	uint32_t index, found_index;
	uint64_t id;

	index = send_one(f->queue, NULL, 0);
	id = request_id(f->queue, index);
	assert_int_equal(id >> 48, f->queue->index);
	assert_int_equal((id >> 32) & 0xffff, index);
	assert_int_not_equal((uint32_t)id, 0); /* generation 0 is never handed out */
	assert_int_equal(find(&f->table, id, 0, &found, &found_index), 0);
	assert_ptr_equal(found, f->queue);
	assert_int_equal(found_index, index);
}

static void test_answer_completes_with_user_data(void **state)
{
	struct fixture *f = *state;
	struct winapi_call_completion completion;
	int cookie;
	uint32_t index = send_one(f->queue, &cookie, 0);

	pthread_mutex_lock(&f->table.lock);
	f->queue->slots[index].reply_length = 7;
	request_finish(f->queue, index, 0);
	pthread_mutex_unlock(&f->table.lock);
	assert_int_equal(request_queue_reap(f->queue, &completion, 1, 1, 0), 1);
	assert_ptr_equal(completion.user_data, &cookie);
	assert_int_equal(completion.status, 0);
	assert_int_equal(completion.reply_length, 7);
	assert_int_equal(f->queue->in_flight, 0);
	assert_int_equal(f->table.stats.calls, 1);
	assert_int_equal(f->table.stats.failed_calls, 0);
}

static void test_late_answer_is_stale_after_reuse(void **state)
{
	struct fixture *f = *state;
	struct winapi_call_completion completion;
	struct request_queue *found;
	uint32_t index, again, found_index;
	uint64_t old_id;

	index = send_one(f->queue, NULL, 0);
	old_id = request_id(f->queue, index);
	finish(f->queue, index, -ETIMEDOUT);
	assert_int_equal(request_queue_reap(f->queue, &completion, 1, 1, 0), 1);
	/* The slot is reused (lowest first): the old id names nothing now. */
	again = send_one(f->queue, NULL, 0);
	assert_int_equal(again, index);
	assert_int_not_equal(request_id(f->queue, again), old_id);
	assert_int_equal(find(&f->table, old_id, 0, &found, &found_index), -ESTALE);
	assert_int_equal(f->table.stats.stale_completions, 1);
	assert_int_equal(f->table.stats.unexpected_packets, 0);
	/* The new request still takes its own answer. */
	assert_int_equal(find(&f->table, request_id(f->queue, again), 0, &found, &found_index), 0);
}

static void test_unknown_ids_are_unexpected(void **state)
{
	struct fixture *f = *state;
	struct request_queue *found;
	uint32_t index, found_index;
	uint64_t id;

	index = send_one(f->queue, NULL, 0);
	id = request_id(f->queue, index);
	/* Generation 0, a queue that does not exist, a slot past the depth. */
	assert_int_equal(find(&f->table, id & ~0xffffffffull, 0, &found, &found_index), -ENOENT);
	assert_int_equal(find(&f->table, id | 0xffffull << 48, 0, &found, &found_index), -ENOENT);
	assert_int_equal(find(&f->table, id | 0xffffull << 32, 0, &found, &found_index), -ENOENT);
	/*
	 * An answer to a request that ended but is not yet reaped: a duplicate (the host
	 * answered twice), logged as such; its generation moves on only when it is reaped.
	 */
	finish(f->queue, index, 0);
	assert_int_equal(find(&f->table, id, 0, &found, &found_index), -ENOENT);
	assert_int_equal(f->table.stats.unexpected_packets, 4);
	assert_int_equal(f->table.stats.stale_completions, 0);
	assert_true(f->table.warned_unexpected); /* logged once, counted always */
}

static void test_new_queue_on_old_index_starts_past_old_generations(void **state)
{
	struct fixture *f = *state;
	struct winapi_call_completion completion;
	struct request_queue *found, *next;
	uint32_t index, found_index, queue_index = f->queue->index;
	uint64_t old_id;

	index = send_one(f->queue, NULL, 0);
	old_id = request_id(f->queue, index);
	request_queue_destroy(f->queue);
	assert_int_equal(request_queue_create(&f->table, 4, FAR_AWAY_MS, 16, &next), 0);
	f->queue = next;
	assert_int_equal(next->index, queue_index);
	index = send_one(next, NULL, 0);
	/* Same queue index, same slot: only the generation tells them apart. */
	assert_int_equal(request_id(next, index) >> 32, old_id >> 32);
	assert_int_not_equal(request_id(next, index), old_id);
	assert_int_equal(find(&f->table, old_id, 0, &found, &found_index), -ESTALE);
	assert_int_equal(request_queue_reap(next, &completion, 1, 0, 0), 0);
}

/*
 * A slot reused more than 0x10000 times climbs past where the next queue at its index would
 * have started if that were a fixed step: an answer still owed to the old queue must stay
 * stale for the new one however far the generations went.
 */
static void test_busy_slot_never_reaches_next_queue_generations(void **state)
{
	struct fixture *f = *state;
	struct winapi_call_completion completion;
	struct request_queue *found, *next;
	uint32_t owed, busy, index, found_index, round;
	uint64_t owed_id, busy_id;

	owed = send_one(f->queue, NULL, 0);
	owed_id = request_id(f->queue, owed);
	for (round = 0; round < 0x30000; round++) {
		busy = send_one(f->queue, NULL, 0);
		finish(f->queue, busy, 0);
		assert_int_equal(request_queue_reap(f->queue, &completion, 1, 1, 0), 1);
	}
	busy = send_one(f->queue, NULL, 0);
	busy_id = request_id(f->queue, busy);
	request_queue_destroy(f->queue);
	assert_int_equal(request_queue_create(&f->table, 4, FAR_AWAY_MS, 16, &next), 0);
	f->queue = next;
	for (round = 0; round < 8; round++) {
		index = send_one(next, NULL, 0);
		assert_int_not_equal(request_id(next, index), owed_id);
		assert_int_not_equal(request_id(next, index), busy_id);
		assert_int_equal(find(&f->table, owed_id, 0, &found, &found_index), -ESTALE);
		assert_int_equal(find(&f->table, busy_id, 0, &found, &found_index), -ESTALE);
		finish(next, index, 0);
		assert_int_equal(request_queue_reap(next, &completion, 1, 1, 0), 1);
	}
}

/* ---- destroying a queue with requests on their way ---- */

/*
 * Destroy cancels: the buffers stay held until the host's answer comes, and that answer is
 * a late one (stale), not an id the host made up: nothing is logged.
 */
static void test_destroy_in_flight_then_late_answer_is_stale(void **state)
{
	struct fixture *f = *state;
	struct winapi_call_buffer buffer = { .length = 4096, .gpadl = 7 };
	struct request_queue *found;
	struct hold hold = { 0 };
	uint32_t plain, holding, found_index;
	uint64_t plain_id, holding_id;

	plain = send_one(f->queue, NULL, 0);
	holding = send_holding(f->queue, &hold, &buffer);
	plain_id = request_id(f->queue, plain);
	holding_id = request_id(f->queue, holding);
	request_queue_destroy(f->queue);
	f->queue = NULL;
	assert_int_equal(hold.late, 1);
	assert_true(hold.late_id == holding_id);
	assert_int_equal(hold.late_count, 1);
	assert_int_equal(hold.answered, 0); /* the host may still write it */

	capture_begin();
	assert_int_equal(find(&f->table, plain_id, 0, &found, &found_index), -ESTALE);
	assert_int_equal(hold.answered, 0);
	assert_int_equal(find(&f->table, holding_id, 0, &found, &found_index), -ESTALE);
	capture_end();
	assert_int_equal(hold.answered, 1); /* the host is done with it now */
	assert_true(hold.answered_id == holding_id);
	assert_int_equal(f->table.stats.stale_completions, 2);
	assert_int_equal(f->table.stats.unexpected_packets, 0);
	assert_false(f->table.warned_unexpected);
	assert_null(strstr(captured, "never sent"));
	assert_int_equal(f->table.late_count, 0);
	request_table_destroy(&f->table);
	assert_int_equal(hold.abandoned, 0); /* answered: nothing left to abandon */
	assert_int_equal(request_table_init(&f->table, "test", test_wait, &f->waiter), 0);
}

/* Nobody answers: the hold lasts until the table goes, where it is abandoned. */
static void test_destroy_in_flight_unanswered_hold_is_abandoned(void **state)
{
	struct fixture *f = *state;
	struct winapi_call_buffer buffer = { .length = 4096, .gpadl = 7 };
	struct hold hold = { 0 };

	send_holding(f->queue, &hold, &buffer);
	request_queue_destroy(f->queue);
	f->queue = NULL;
	assert_int_equal(hold.late, 1);
	request_table_destroy(&f->table);
	assert_int_equal(hold.answered, 0);
	assert_int_equal(hold.abandoned, 1);
	assert_int_equal(request_table_init(&f->table, "test", test_wait, &f->waiter), 0);
}

/*
 * A shallower queue took the index since: the owed answer names a slot past its depth, and
 * is still known for the destroyed queue's.
 */
static void test_destroy_in_flight_answer_past_next_queue_depth_is_stale(void **state)
{
	struct fixture *f = *state;
	struct request_queue *found, *next;
	uint32_t index = 0, found_index, i;
	uint64_t owed_id;

	for (i = 0; i < 4; i++)
		index = send_one(f->queue, NULL, 0);
	assert_int_equal(index, 3);
	owed_id = request_id(f->queue, index);
	request_queue_destroy(f->queue);
	assert_int_equal(request_queue_create(&f->table, 1, FAR_AWAY_MS, 16, &next), 0);
	f->queue = next;
	assert_int_equal(request_id(next, 0) >> 48, owed_id >> 48);
	capture_begin();
	assert_int_equal(find(&f->table, owed_id, 0, &found, &found_index), -ESTALE);
	capture_end();
	assert_int_equal(f->table.stats.stale_completions, 1);
	assert_int_equal(f->table.stats.unexpected_packets, 0);
	assert_null(strstr(captured, "never sent"));
}

/*
 * What a destroyed queue leaves known is no wider than what it sent: a slot past its depth,
 * a generation it never reached, an index no queue had, generation 0 are still ids never
 * sent, counted and logged as such.
 */
static void test_forged_ids_after_destroy_are_never_sent(void **state)
{
	struct fixture *f = *state;
	struct request_queue *found;
	uint32_t index, found_index, queue_index = f->queue->index;
	uint64_t id, slot_past_depth, generation_ahead, other_index, generation_zero;

	index = send_one(f->queue, NULL, 0);
	id = request_id(f->queue, index);
	request_queue_destroy(f->queue);
	f->queue = NULL;
	slot_past_depth = (id & ~(0xffffull << 32)) | 4ull << 32;
	generation_ahead = (id & ~0xffffffffull) | (uint32_t)(f->table.first_generation[queue_index] + 1);
	other_index = (id & ~(0xffffull << 48)) | (uint64_t)(queue_index + 1) << 48;
	generation_zero = id & ~0xffffffffull;

	capture_begin();
	assert_int_equal(find(&f->table, slot_past_depth, 0, &found, &found_index), -ENOENT);
	assert_int_equal(find(&f->table, generation_ahead, 0, &found, &found_index), -ENOENT);
	assert_int_equal(find(&f->table, other_index, 0, &found, &found_index), -ENOENT);
	assert_int_equal(find(&f->table, generation_zero, 0, &found, &found_index), -ENOENT);
	capture_end();
	assert_int_equal(f->table.stats.unexpected_packets, 4);
	assert_int_equal(f->table.stats.stale_completions, 0);
	assert_non_null(strstr(captured, "a completion for an id never sent"));
	/* The real one is still known for stale. */
	assert_int_equal(find(&f->table, id, 0, &found, &found_index), -ESTALE);
	assert_int_equal(f->table.stats.stale_completions, 1);
}

/* ---- deadlines ---- */

static void test_answer_after_deadline_times_out(void **state)
{
	struct fixture *f = *state;
	struct winapi_call_completion completion;
	struct request_queue *found;
	uint32_t index, found_index;

	index = request_queue_take(f->queue, 1, NULL); /* 1 ms */
	assert_int_equal(request_queue_next_added(f->queue), index);
	pthread_mutex_lock(&f->table.lock);
	request_mark_sent(f->queue, index, 1000);
	pthread_mutex_unlock(&f->table.lock);
	/* Taken just before the deadline: the answer counts. */
	assert_int_equal(find(&f->table, request_id(f->queue, index), 1000 + 999999, &found, &found_index), 0);
	/* Taken at the deadline: too late, whatever the reaper was doing meanwhile. */
	assert_int_equal(find(&f->table, request_id(f->queue, index), 1000 + 1000000, &found, &found_index),
			 -ESTALE);
	assert_int_equal(request_queue_reap(f->queue, &completion, 1, 1, 0), 1);
	assert_int_equal(completion.status, -ETIMEDOUT);
	assert_int_equal(f->table.stats.timeouts, 1);
	assert_int_equal(f->table.stats.stale_completions, 1);
}

static void test_reap_expires_past_deadlines(void **state)
{
	struct fixture *f = *state;
	struct winapi_call_completion completions[2];
	uint32_t expired, waiting;

	expired = request_queue_take(f->queue, 0, (void *)1);
	waiting = request_queue_take(f->queue, -1, (void *)2);
	assert_int_equal(request_queue_next_added(f->queue), expired);
	assert_int_equal(request_queue_next_added(f->queue), waiting);
	pthread_mutex_lock(&f->table.lock);
	request_mark_sent(f->queue, expired, 0);  /* deadline 0: long past */
	request_mark_sent(f->queue, waiting, UINT64_MAX / 2);
	pthread_mutex_unlock(&f->table.lock);
	/* A reap that may not wait still expires what is due, and asks the transport once. */
	assert_int_equal(request_queue_reap(f->queue, completions, 2, 2, 0), 1);
	assert_ptr_equal(completions[0].user_data, (void *)1);
	assert_int_equal(completions[0].status, -ETIMEDOUT);
	assert_int_equal(f->waiter.calls, 1);
	assert_int_equal(f->waiter.last_round, 0);
	assert_int_equal(f->queue->in_flight, 1);
}

/* The slots are walked only once the earliest deadline may have passed: every send lowers it. */
static void test_reap_expires_requests_sent_after_a_later_one(void **state)
{
	struct fixture *f = *state;
	struct winapi_call_completion completions[2];
	uint32_t waiting, expired, i;

	waiting = send_one(f->queue, (void *)1, winapi_clock_now_ns()); /* due in an hour */
	assert_int_equal(request_queue_reap(f->queue, completions, 2, 1, 0), 0);
	for (i = 0; i < 2; i++) {
		expired = request_queue_take(f->queue, 0, (void *)2);
		assert_int_equal(request_queue_next_added(f->queue), expired);
		pthread_mutex_lock(&f->table.lock);
		request_mark_sent(f->queue, expired, 0); /* deadline 0: long past */
		pthread_mutex_unlock(&f->table.lock);
		assert_int_equal(request_queue_reap(f->queue, completions, 2, 1, 0), 1);
		assert_ptr_equal(completions[0].user_data, (void *)2);
		assert_int_equal(completions[0].status, -ETIMEDOUT);
		assert_int_equal(f->queue->slots[waiting].state, REQUEST_SENT);
	}
	assert_int_equal(f->table.stats.timeouts, 2);
}

/* A poll judges deadlines by the time it is given, not the clock, and never waits past it. */
static void test_poll_judges_deadlines_at_the_given_time(void **state)
{
	struct fixture *f = *state;
	struct winapi_call_completion completion;
	uint32_t index;

	index = request_queue_take(f->queue, 1, (void *)7); /* 1 ms */
	assert_int_equal(request_queue_next_added(f->queue), index);
	pthread_mutex_lock(&f->table.lock);
	request_mark_sent(f->queue, index, 1000);
	pthread_mutex_unlock(&f->table.lock);
	/* The clock is long past 1 ms after boot: only the given time keeps the request alive. */
	assert_int_equal(request_queue_poll(f->queue, &completion, 1, 1000 + 999999), 0);
	assert_int_equal(f->waiter.calls, 1);
	assert_int_equal(f->waiter.last_now_ns, 1000 + 999999);
	assert_int_equal(f->waiter.last_wake_ns, 1000 + 999999);
	assert_int_equal(f->queue->slots[index].state, REQUEST_SENT);
	assert_int_equal(request_queue_poll(f->queue, &completion, 1, 1000 + 1000000), 1);
	assert_ptr_equal(completion.user_data, (void *)7);
	assert_int_equal(completion.status, -ETIMEDOUT);
	assert_int_equal(request_queue_poll(f->queue, NULL, 0, 0), -EINVAL);
	assert_int_equal(request_queue_poll(NULL, &completion, 1, 0), -EINVAL);
}

/* ---- reaping ---- */

static void test_reap_waits_through_the_transport(void **state)
{
	struct fixture *f = *state;
	struct winapi_call_completion completion;
	uint32_t index = send_one(f->queue, (void *)3, winapi_clock_now_ns()); /* due in an hour */

	/* Nothing done: the transport's wait runs, and the answer it lands is collected. */
	f->waiter.finish_queue = f->queue;
	f->waiter.finish_index = index;
	f->waiter.finish_status = -EBADMSG;
	assert_int_equal(request_queue_reap(f->queue, &completion, 1, 1, -1), 1);
	assert_int_equal(f->waiter.calls, 1);
	assert_ptr_equal(completion.user_data, (void *)3);
	assert_int_equal(completion.status, -EBADMSG);
	assert_int_equal(f->table.stats.failed_calls, 1);
}

static void test_reap_respects_min_and_max(void **state)
{
	struct fixture *f = *state;
	struct winapi_call_completion completions[4];
	uint32_t indices[3], i;

	for (i = 0; i < 3; i++)
		indices[i] = send_one(f->queue, (void *)(uintptr_t)(i + 1), 0);
	for (i = 0; i < 3; i++)
		finish(f->queue, indices[i], 0);
	assert_int_equal(request_queue_reap(f->queue, completions, 2, 1, 0), 2);
	/* In the order they finished. */
	assert_ptr_equal(completions[0].user_data, (void *)1);
	assert_ptr_equal(completions[1].user_data, (void *)2);
	assert_int_equal(request_queue_reap(f->queue, completions, 4, 1, 0), 1);
	assert_ptr_equal(completions[0].user_data, (void *)3);
	/* Nothing in flight: returns at once, without asking the transport. */
	assert_int_equal(request_queue_reap(f->queue, completions, 4, 4, -1), 0);
	assert_int_equal(f->waiter.calls, 0);
	assert_int_equal(request_queue_reap(f->queue, completions, 1, 2, 0), -EINVAL);
	assert_int_equal(request_queue_reap(NULL, completions, 1, 1, 0), -EINVAL);
}

/* ---- slots ---- */

static void test_depth_bounds_outstanding_requests(void **state)
{
	struct fixture *f = *state;
	uint32_t indices[4], i;

	for (i = 0; i < 4; i++)
		indices[i] = request_queue_take(f->queue, -1, NULL);
	assert_int_equal(request_queue_take(f->queue, -1, NULL), REQUEST_NO_SLOT);
	/* The one in the middle is refused after all: the others keep their order. */
	request_queue_untake(f->queue, indices[1]);
	assert_int_equal(request_queue_next_added(f->queue), indices[0]);
	assert_int_equal(request_queue_next_added(f->queue), indices[2]);
	assert_int_equal(request_queue_peek_added(f->queue), indices[3]);
	request_queue_cancel_added(f->queue);
	assert_int_equal(request_queue_peek_added(f->queue), REQUEST_NO_SLOT);
	/* indices[1] and [3] are free again (the two taken off the list are the caller's). */
	assert_int_not_equal(request_queue_take(f->queue, -1, NULL), REQUEST_NO_SLOT);
	assert_int_not_equal(request_queue_take(f->queue, -1, NULL), REQUEST_NO_SLOT);
	assert_int_equal(request_queue_take(f->queue, -1, NULL), REQUEST_NO_SLOT);
}

static void test_fail_all_ends_sent_not_receiving(void **state)
{
	struct fixture *f = *state;
	struct winapi_call_completion completions[2];
	uint32_t sent, receiving;

	sent = send_one(f->queue, (void *)1, 0);
	receiving = send_one(f->queue, (void *)2, 0);
	pthread_mutex_lock(&f->table.lock);
	request_begin_receiving(f->queue, receiving);
	request_table_fail_all(&f->table, -ENOTCONN);
	pthread_mutex_unlock(&f->table.lock);
	assert_int_equal(f->table.broken, -ENOTCONN);
	assert_int_equal(request_queue_reap(f->queue, completions, 2, 1, 0), 1);
	assert_ptr_equal(completions[0].user_data, (void *)1);
	assert_int_equal(completions[0].status, -ENOTCONN);
	/* The receiver lands its answer, then ends it itself. */
	finish(f->queue, receiving, 0);
	assert_int_equal(request_queue_reap(f->queue, completions, 2, 1, 0), 1);
	assert_int_equal(completions[0].status, 0);
	(void)sent;
}

static void test_queue_limits(void **state)
{
	struct fixture *f = *state;
	struct request_queue *queues[REQUEST_TABLE_MAX_QUEUES], *extra;
	unsigned int i, created = 0;

	assert_int_equal(request_queue_create(&f->table, 0, -1, 0, &extra), -EINVAL);
	assert_int_equal(request_queue_create(&f->table, REQUEST_QUEUE_MAX_DEPTH + 1, -1, 0, &extra), -EINVAL);
	/* The fixture's queue holds one index. */
	for (i = 0; i < REQUEST_TABLE_MAX_QUEUES - 1; i++) {
		assert_int_equal(request_queue_create(&f->table, 1, -1, 0, &queues[i]), 0);
		created++;
	}
	assert_int_equal(request_queue_create(&f->table, 1, -1, 0, &extra), -EMFILE);
	for (i = 0; i < created; i++)
		request_queue_destroy(queues[i]);
	assert_int_equal(request_queue_create(&f->table, 1, -1, 0, &extra), 0);
	request_queue_destroy(extra);
}

static void test_default_timeout_from_environment(void **state)
{
	(void)state;
	setenv("WINAPI_TIMEOUT_MS", "1234", 1);
	assert_int_equal(request_default_timeout_ms(), 1234);
	setenv("WINAPI_TIMEOUT_MS", "soon", 1);
	assert_int_equal(request_default_timeout_ms(), 5000);
	setenv("WINAPI_TIMEOUT_MS", "0", 1);
	assert_int_equal(request_default_timeout_ms(), 5000);
	unsetenv("WINAPI_TIMEOUT_MS");
	assert_int_equal(request_default_timeout_ms(), 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_id_names_queue_slot_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_completes_with_user_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_answer_is_stale_after_reuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_ids_are_unexpected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_queue_on_old_index_starts_past_old_generations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_busy_slot_never_reaches_next_queue_generations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_in_flight_then_late_answer_is_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_in_flight_unanswered_hold_is_abandoned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_in_flight_answer_past_next_queue_depth_is_stale, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_forged_ids_after_destroy_are_never_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_answer_after_deadline_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reap_expires_past_deadlines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reap_expires_requests_sent_after_a_later_one, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reap_waits_through_the_transport, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_judges_deadlines_at_the_given_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reap_respects_min_and_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_depth_bounds_outstanding_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_all_ends_sent_not_receiving, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_limits, setup, teardown),
		cmocka_unit_test(test_default_timeout_from_environment),
	};

	return cmocka_run_group_tests_name("request table", tests, NULL, NULL);
}
