/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request table of every transport (see include/winapi_internal/request_table.h). Both
 * transports once had their own copy of this, and the same stale-id bug was found and fixed
 * in each separately: this is the one place ids, generations and deadlines are kept.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include <winapi/log.h>
#include <winapi_internal/clock.h>
#include <winapi_internal/request_table.h>

#define REQUEST_DEFAULT_TIMEOUT_MS 5000

int request_default_timeout_ms(void)
{
	const char *text = secure_getenv("WINAPI_TIMEOUT_MS");
	char *end;
	long value;

	if (text == NULL || *text == '\0')
		return REQUEST_DEFAULT_TIMEOUT_MS;
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || value <= 0 || value > 24L * 3600 * 1000) {
		winapi_log(WINAPI_LOG_WARNING, "winapi", "ignoring WINAPI_TIMEOUT_MS=%s (want 1..86400000)", text);
		return REQUEST_DEFAULT_TIMEOUT_MS;
	}
	return (int)value;
}

int request_table_init(struct request_table *table, const char *log_component, request_table_wait_fn wait,
		       void *wait_context)
{
	memset(table, 0, sizeof(*table));
	if (pthread_mutex_init(&table->lock, NULL) != 0)
		return -ENOMEM;
	if (pthread_cond_init(&table->receiving_done, NULL) != 0) {
		pthread_mutex_destroy(&table->lock);
		return -ENOMEM;
	}
	table->log_component = log_component;
	table->wait = wait;
	table->wait_context = wait_context;
	return 0;
}

void request_table_destroy(struct request_table *table)
{
	uint32_t i;

	/* Nobody will read their answers now: the host may write the buffers until the device goes. */
	for (i = 0; i < table->late_count; i++)
		table->late[i].ops->abandoned(table->late[i].owner);
	if (table->late_untracked.ops != NULL)
		table->late_untracked.ops->abandoned(table->late_untracked.owner);
	free(table->late);
	pthread_cond_destroy(&table->receiving_done);
	pthread_mutex_destroy(&table->lock);
}

/* ---- lists of slot indices ---- */

static void list_push(struct request_queue *queue, struct request_list *list, uint32_t index)
{
	queue->slots[index].next = REQUEST_NO_SLOT;
	if (list->tail == REQUEST_NO_SLOT)
		list->head = index;
	else
		queue->slots[list->tail].next = index;
	list->tail = index;
}

static uint32_t list_pop(struct request_queue *queue, struct request_list *list)
{
	uint32_t index = list->head;

	if (index != REQUEST_NO_SLOT) {
		list->head = queue->slots[index].next;
		if (list->head == REQUEST_NO_SLOT)
			list->tail = REQUEST_NO_SLOT;
	}
	return index;
}

/* Back to the free list with a new generation: its old id now names nothing. */
static void release_slot(struct request_queue *queue, uint32_t index)
{
	struct request_slot *slot = &queue->slots[index];

	slot->state = REQUEST_FREE;
	if (++slot->generation == 0)
		slot->generation = 1; /* 0 is never handed out: an id with it was never sent */
	slot->next = queue->free_head;
	queue->free_head = index;
}

/* ---- requests that ended before the host answered: their buffers stay the host's ---- */

/* Under lock: @index ended unanswered; if it named buffers, the host may still write them. */
static void become_late(struct request_queue *queue, uint32_t index)
{
	struct request_table *table = queue->table;
	struct request_slot *slot = &queue->slots[index];
	uint64_t id = request_id(queue, index);
	struct request_late *grown;
	uint32_t capacity;

	if (slot->hold_ops == NULL)
		return;
	if (table->late_count == table->late_capacity) {
		capacity = table->late_capacity != 0 ? table->late_capacity * 2 : 16;
		grown = realloc(table->late, capacity * sizeof(*grown));
		if (grown == NULL) {
			/* Untracked, its answer cannot end the hold: the owner holds everything till the end. */
			table->late_untracked = (struct request_late){ .ops = slot->hold_ops, .owner = slot->hold_owner };
			slot->hold_ops->late(slot->hold_owner, 0, slot->buffers, slot->buffer_count);
			return;
		}
		table->late = grown;
		table->late_capacity = capacity;
	}
	table->late[table->late_count++] = (struct request_late){ .id = id, .ops = slot->hold_ops,
								  .owner = slot->hold_owner };
	slot->hold_ops->late(slot->hold_owner, id, slot->buffers, slot->buffer_count);
}

/* Under lock: an answer to a request that had ended came; if it was late, the host is done. */
static void late_answered(struct request_table *table, uint64_t id)
{
	uint32_t i;

	for (i = 0; i < table->late_count; i++) {
		if (table->late[i].id != id)
			continue;
		struct request_late late = table->late[i];

		table->late[i] = table->late[--table->late_count];
		late.ops->answered(late.owner, id);
		return;
	}
}

/* ---- queues ---- */

int request_queue_create(struct request_table *table, unsigned int depth, int timeout_ms, size_t payload_size,
			 struct request_queue **queue_out)
{
	struct request_queue *queue;
	pthread_condattr_t attributes;
	uint32_t i, index;
	int rc = -ENOMEM;

	if (table == NULL || queue_out == NULL || depth == 0 || depth > REQUEST_QUEUE_MAX_DEPTH)
		return -EINVAL;
	queue = calloc(1, sizeof(*queue));
	if (queue == NULL)
		return -ENOMEM;
	queue->slots = calloc(depth, sizeof(*queue->slots));
	queue->payloads = payload_size != 0 ? calloc(depth, payload_size) : NULL;
	if (queue->slots == NULL || (payload_size != 0 && queue->payloads == NULL))
		goto err_free_queue;
	/* Deadlines are CLOCK_MONOTONIC: so must the waits on them be. */
	if (pthread_condattr_init(&attributes) != 0)
		goto err_free_queue;
	pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&queue->done_cond, &attributes) == 0 ? 0 : -ENOMEM;
	pthread_condattr_destroy(&attributes);
	if (rc != 0)
		goto err_free_queue;
	queue->table = table;
	queue->depth = depth;
	queue->payload_size = payload_size;
	queue->timeout_ms = timeout_ms >= 0 ? timeout_ms : request_default_timeout_ms();
	queue->notify_fd = -1;
	queue->deadline_bound_ns = UINT64_MAX;
	queue->added.head = queue->added.tail = REQUEST_NO_SLOT;
	queue->done.head = queue->done.tail = REQUEST_NO_SLOT;

	rc = -EMFILE;
	pthread_mutex_lock(&table->lock);
	for (index = 0; index < REQUEST_TABLE_MAX_QUEUES && table->queues[index] != NULL; index++)
		;
	if (index < REQUEST_TABLE_MAX_QUEUES) {
		/*
		 * A late answer for the index's last queue must not match this one's: generations
		 * start past any that queue reached (first_generation, set when it went). Lowest
		 * slots first on the free list: a lightly used queue stays in few cache lines. The
		 * slots are ready before the queue is listed, where answers look for them.
		 */
		uint32_t first = table->first_generation[index] != 0 ? table->first_generation[index] :
								       REQUEST_FIRST_GENERATION;

		queue->index = index;
		queue->free_head = REQUEST_NO_SLOT;
		for (i = depth; i-- > 0;) {
			queue->slots[i].generation = first;
			queue->slots[i].state = REQUEST_FREE;
			queue->slots[i].next = queue->free_head;
			queue->free_head = i;
		}
		table->queues[index] = queue;
		rc = 0;
	}
	pthread_mutex_unlock(&table->lock);
	if (rc != 0)
		goto err_destroy_cond;
	*queue_out = queue;
	return 0;

err_destroy_cond:
	pthread_cond_destroy(&queue->done_cond);
err_free_queue:
	free(queue->payloads);
	free(queue->slots);
	free(queue);
	return rc;
}

static bool receiving(const struct request_queue *queue)
{
	uint32_t i;

	for (i = 0; i < queue->depth; i++)
		if (queue->slots[i].state == REQUEST_RECEIVING)
			return true;
	return false;
}

/*
 * Where the next queue at @queue's index starts its generations: at the next multiple of
 * 0x10000 (plus one) past the highest this queue reached. Generations of an index only grow,
 * so every id this queue handed out is older than any of the next queue's (stale, not
 * theirs), however often its slots were reused.
 */
static uint32_t generation_after(const struct request_queue *queue)
{
	uint32_t highest = 0, next, i;

	for (i = 0; i < queue->depth; i++)
		if (queue->slots[i].generation > highest)
			highest = queue->slots[i].generation;
	next = ((highest >> 16) + 1) << 16 | 1u;
	return next > highest ? next : REQUEST_FIRST_GENERATION; /* 2^32 generations later: wrap */
}

void request_queue_destroy(struct request_queue *queue)
{
	struct request_table *table;
	uint32_t i;

	if (queue == NULL)
		return;
	table = queue->table;
	pthread_mutex_lock(&table->lock);
	table->queues[queue->index] = NULL;
	table->first_generation[queue->index] = generation_after(queue);
	/* Answers still owed to it must be known for stale, not taken for ids never sent. */
	if (table->retired_depth[queue->index] < queue->depth)
		table->retired_depth[queue->index] = (uint16_t)queue->depth;
	for (i = 0; i < queue->depth; i++)
		if (queue->slots[i].state == REQUEST_SENT)
			become_late(queue, i); /* cancelled, not answered */
	/* A receiver may be writing an answer into one of this queue's destinations: let it end. */
	while (receiving(queue))
		pthread_cond_wait(&table->receiving_done, &table->lock);
	pthread_mutex_unlock(&table->lock);
	pthread_cond_destroy(&queue->done_cond);
	free(queue->payloads);
	free(queue->slots);
	free(queue);
}

uint32_t request_queue_take(struct request_queue *queue, int timeout_ms, void *user_data)
{
	uint32_t index = queue->free_head;
	struct request_slot *slot;

	if (index == REQUEST_NO_SLOT)
		return REQUEST_NO_SLOT;
	slot = &queue->slots[index];
	queue->free_head = slot->next;
	/* Unlocked (the owner's add stays lock-free); an answer's lookup reads it under the lock. */
	__atomic_store_n(&slot->state, REQUEST_ADDED, __ATOMIC_RELAXED);
	slot->timeout_ms = timeout_ms >= 0 ? timeout_ms : queue->timeout_ms;
	slot->user_data = user_data;
	slot->status = 0;
	slot->reply_length = 0;
	slot->hold_ops = NULL;
	list_push(queue, &queue->added, index);
	return index;
}

void request_queue_untake(struct request_queue *queue, uint32_t index)
{
	uint32_t previous = REQUEST_NO_SLOT, at;

	/* It is the last one added: find the one before it. */
	for (at = queue->added.head; at != REQUEST_NO_SLOT && at != index; at = queue->slots[at].next)
		previous = at;
	if (at == REQUEST_NO_SLOT)
		return;
	if (previous == REQUEST_NO_SLOT)
		queue->added.head = queue->slots[index].next;
	else
		queue->slots[previous].next = queue->slots[index].next;
	if (queue->added.tail == index)
		queue->added.tail = previous;
	/* Under the lock: an answer's lookup may be reading this slot's generation. */
	pthread_mutex_lock(&queue->table->lock);
	release_slot(queue, index);
	pthread_mutex_unlock(&queue->table->lock);
}

uint32_t request_queue_next_added(struct request_queue *queue)
{
	return list_pop(queue, &queue->added);
}

void request_queue_cancel_added(struct request_queue *queue)
{
	uint32_t index;

	pthread_mutex_lock(&queue->table->lock);
	while ((index = list_pop(queue, &queue->added)) != REQUEST_NO_SLOT)
		release_slot(queue, index);
	pthread_mutex_unlock(&queue->table->lock);
}

/* ---- under the lock: requests on their way, and their ends ---- */

void request_mark_sent(struct request_queue *queue, uint32_t index, uint64_t now_ns)
{
	struct request_slot *slot = &queue->slots[index];

	slot->state = REQUEST_SENT;
	slot->deadline_ns = winapi_clock_deadline_after(now_ns, slot->timeout_ms);
	/* Nothing else in flight: an old bound (a reap that found none may not have walked) goes. */
	if (queue->in_flight == 0 || slot->deadline_ns < queue->deadline_bound_ns)
		queue->deadline_bound_ns = slot->deadline_ns;
	queue->in_flight++;
}

void request_finish(struct request_queue *queue, uint32_t index, int status)
{
	struct request_table *table = queue->table;
	struct request_slot *slot = &queue->slots[index];

	if (slot->state == REQUEST_SENT || slot->state == REQUEST_RECEIVING)
		queue->in_flight--;
	if (slot->state == REQUEST_SENT && status == -ETIMEDOUT)
		become_late(queue, index);
	if (slot->state == REQUEST_RECEIVING)
		pthread_cond_broadcast(&table->receiving_done);
	slot->state = REQUEST_DONE;
	slot->status = status;
	table->stats.calls++;
	if (status != 0)
		table->stats.failed_calls++;
	if (status == -ETIMEDOUT)
		table->stats.timeouts++;
	list_push(queue, &queue->done, index);
	__atomic_store_n(&queue->done_count, queue->done_count + 1, __ATOMIC_RELEASE);
	if (queue->waiters != 0)
		pthread_cond_signal(&queue->done_cond);
	if (queue->notify_fd >= 0) {
		const uint64_t one = 1;

		/* An eventfd: a full counter already says "look", so a failed write loses nothing. */
		(void)!write(queue->notify_fd, &one, sizeof(one));
	}
}

void request_table_drop_unexpected(struct request_table *table, const char *what, uint64_t id)
{
	table->stats.unexpected_packets++;
	/* Only the first is logged, so that a host that floods them cannot flood the log too. */
	if (table->warned_unexpected)
		return;
	table->warned_unexpected = true;
	winapi_log(WINAPI_LOG_WARNING, table->log_component, "dropped %s from the host (trans_id %#llx): no "
		   "request waits for it; later ones are only counted (unexpected_packets)", what,
		   (unsigned long long)id);
}

/*
 * Whether an id of @queue_index, @index and @generation may name a request of a queue
 * destroyed at that index: a slot below the deepest such queue's depth, a generation older
 * than where the index's next queue starts (the same "older" as a live slot's stale test). A host can forge such an id, but all it
 * gets is what an id it really was sent gets: a count in stale_completions (a late entry
 * ends only on its exact id).
 */
static bool sent_by_destroyed_queue(const struct request_table *table, uint32_t queue_index, uint32_t index,
				    uint32_t generation)
{
	uint32_t first = table->first_generation[queue_index];

	return first != 0 && index < table->retired_depth[queue_index] && (int32_t)(first - generation) > 0;
}

int request_table_find(struct request_table *table, uint64_t id, uint64_t now_ns, struct request_queue **queue_out,
		       uint32_t *index_out)
{
	uint32_t queue_index = (uint32_t)(id >> 48), index = (uint32_t)(id >> 32) & 0xffffu;
	uint32_t generation = (uint32_t)id;
	struct request_queue *queue;
	struct request_slot *slot;

	if (queue_index >= REQUEST_TABLE_MAX_QUEUES || generation == 0) {
		request_table_drop_unexpected(table, "a completion for an id never sent", id);
		return -ENOENT;
	}
	queue = table->queues[queue_index];
	if (queue == NULL || index >= queue->depth) {
		late_answered(table, id); /* its queue went while it was on its way */
		if (sent_by_destroyed_queue(table, queue_index, index, generation)) {
			table->stats.stale_completions++;
			return -ESTALE;
		}
		request_table_drop_unexpected(table, "a completion for an id never sent", id);
		return -ENOENT;
	}
	slot = &queue->slots[index];
	if (__atomic_load_n(&slot->state, __ATOMIC_RELAXED) != REQUEST_SENT || slot->generation != generation) {
		/* Generations move on when a slot is released: an older one is a late answer. */
		late_answered(table, id); /* ended unanswered, reaped or not: the host is done now */
		if ((int32_t)(slot->generation - generation) > 0) {
			table->stats.stale_completions++;
			return -ESTALE;
		}
		request_table_drop_unexpected(table, "a completion for a request not in flight", id);
		return -ENOENT;
	}
	if (slot->deadline_ns <= now_ns) {
		/*
		 * Taken after its deadline: too late, whoever noticed first. Otherwise a reaper
		 * that a loaded machine let sleep past a deadline would take an answer that came
		 * long after it, and the outcome of a late answer would depend on the schedule.
		 */
		request_finish(queue, index, -ETIMEDOUT);
		table->stats.stale_completions++;
		late_answered(table, id); /* late, but here: the host is done with its buffers */
		return -ESTALE;
	}
	*queue_out = queue;
	*index_out = index;
	return 0;
}

void request_begin_receiving(struct request_queue *queue, uint32_t index)
{
	queue->slots[index].state = REQUEST_RECEIVING;
}

void request_table_fail_all(struct request_table *table, int error)
{
	uint32_t q, i;

	/* Atomic: a submitter reads it without the lock, to end a batch at once. */
	if (table->broken == 0)
		__atomic_store_n(&table->broken, error, __ATOMIC_RELAXED);
	for (q = 0; q < REQUEST_TABLE_MAX_QUEUES; q++) {
		struct request_queue *queue = table->queues[q];

		for (i = 0; queue != NULL && i < queue->depth; i++)
			if (__atomic_load_n(&queue->slots[i].state, __ATOMIC_RELAXED) == REQUEST_SENT)
				request_finish(queue, i, table->broken);
	}
	request_table_wake_all(table);
}

void request_table_wake_all(struct request_table *table)
{
	uint32_t q;

	/* On the hot path (a reaper that drained and stepped down) nobody sleeps: no scan. */
	for (q = 0; table->sleepers != 0 && q < REQUEST_TABLE_MAX_QUEUES; q++) {
		struct request_queue *queue = table->queues[q];

		if (queue != NULL && queue->waiters != 0)
			pthread_cond_broadcast(&queue->done_cond);
	}
}

void request_queue_wait(struct request_queue *queue, uint64_t wake_ns)
{
	struct timespec until = winapi_clock_timespec(wake_ns);

	queue->waiters++;
	queue->table->sleepers++;
	if (wake_ns == UINT64_MAX)
		pthread_cond_wait(&queue->done_cond, &queue->table->lock);
	else
		pthread_cond_timedwait(&queue->done_cond, &queue->table->lock, &until);
	queue->table->sleepers--;
	queue->waiters--;
}

/* ---- reaping ---- */

/*
 * Requests past their deadline end with -ETIMEDOUT; returns the earliest deadline left (or a
 * bound below it). The slots are scanned only once the bound has passed: a poller that reaps
 * on every pass (a winapi-pmd worker, with a depth of 1024) would otherwise walk them all
 * each time (issue 19: a microsecond a pass, most of the pmd echo's cost over the direct path).
 */
static uint64_t expire(struct request_queue *queue, uint64_t now_ns)
{
	uint64_t next = UINT64_MAX;
	uint32_t i;

	if (queue->in_flight == 0)
		return next;
	if (now_ns < queue->deadline_bound_ns)
		return queue->deadline_bound_ns;
	for (i = 0; i < queue->depth; i++) {
		struct request_slot *slot = &queue->slots[i];

		if (slot->state != REQUEST_SENT)
			continue;
		if (slot->deadline_ns <= now_ns)
			request_finish(queue, i, -ETIMEDOUT); /* its answer, if it comes, is stale */
		else if (slot->deadline_ns < next)
			next = slot->deadline_ns;
	}
	queue->deadline_bound_ns = next;
	return next;
}

static unsigned int take_done(struct request_queue *queue, struct winapi_call_completion *out, unsigned int max)
{
	unsigned int count = 0;
	uint32_t index;

	while (count < max && (index = list_pop(queue, &queue->done)) != REQUEST_NO_SLOT) {
		struct request_slot *slot = &queue->slots[index];

		out[count++] = (struct winapi_call_completion){
			.user_data = slot->user_data, .status = slot->status, .reply_length = slot->reply_length,
		};
		__atomic_store_n(&queue->done_count, queue->done_count - 1, __ATOMIC_RELAXED);
		release_slot(queue, index);
	}
	return count;
}

/* The reap, with the clock read per round, or @given_ns (non-NULL) for every round. */
static int reap(struct request_queue *queue, struct winapi_call_completion *completions, unsigned int max,
		unsigned int min, int timeout_ms, const uint64_t *given_ns)
{
	struct request_table *table;
	uint64_t deadline = 0, next, now;
	unsigned int count = 0, round = 0;

	if (queue == NULL || (max != 0 && completions == NULL) || min > max)
		return -EINVAL;
	table = queue->table;
	pthread_mutex_lock(&table->lock);
	for (;;) {
		count += take_done(queue, completions + count, max - count);
		/* Usually the answers are in: then the clock is not read at all. */
		if (count >= min || count == max || queue->in_flight == 0)
			break;
		now = given_ns != NULL ? *given_ns : winapi_clock_now_ns();
		if (deadline == 0)
			deadline = winapi_clock_deadline_after(now, timeout_ms);
		next = expire(queue, now);
		count += take_done(queue, completions + count, max - count);
		/*
		 * Enough, or nothing more can come, or out of time: but the transport is asked once
		 * first, so that a reap that may not wait (timeout 0, an event loop's) still sees
		 * the answers that are there.
		 */
		if (count >= min || count == max || queue->in_flight == 0 || (now >= deadline && round != 0))
			break;
		if (next > deadline)
			next = deadline;
		table->wait(table, table->wait_context, queue, round++, now, next);
	}
	pthread_mutex_unlock(&table->lock);
	return (int)count;
}

int request_queue_reap(struct request_queue *queue, struct winapi_call_completion *completions, unsigned int max,
		       unsigned int min, int timeout_ms)
{
	return reap(queue, completions, max, min, timeout_ms, NULL);
}

int request_queue_poll(struct request_queue *queue, struct winapi_call_completion *completions, unsigned int max,
		       uint64_t now_ns)
{
	return reap(queue, completions, max, 1, 0, &now_ns);
}

void request_table_get_stats(struct request_table *table, struct winapi_transport_stats *stats)
{
	pthread_mutex_lock(&table->lock);
	*stats = table->stats;
	pthread_mutex_unlock(&table->lock);
}
