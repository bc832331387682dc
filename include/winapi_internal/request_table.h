/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The request table every transport keeps its requests in (lib/requests): queues of slots,
 * request ids that name exactly one request, the done lists, expiry and the reap-wait. A
 * transport adds what only it knows: how a request goes out, how an answer comes in, and how
 * a reaper with nothing to collect makes progress (drains a ring, or waits for a receiver
 * thread). Not installed.
 *
 * Request id = queue index << 48 | slot << 32 | generation. A slot's generation moves on each
 * time the slot is released, and a queue that takes an index another queue used starts its
 * generations past the highest that queue reached (at the next multiple of 0x10000, plus
 * one), so an answer for anything but the request now in the slot is recognised (stale, or
 * unexpected) and dropped: it never lands in memory that belongs to someone else now.
 * Generation 0 is never handed out. The answer to a request a destroyed queue cancelled is
 * stale too, whether or not another queue took the index since.
 *
 * A slot's life: FREE -(take)-> ADDED -(mark_sent)-> SENT -(finish)-> DONE -(reap)-> FREE,
 * with SENT -(begin_receiving)-> RECEIVING -(finish)-> DONE for a transport that lands an
 * answer's bytes outside the lock (its receiver alone may finish it then).
 *
 * Locking: one mutex per table, @c lock. Functions marked "under lock" need it held; the
 * others take it themselves or touch only what the queue's owner thread owns.
 *
 *   call                               | may run concurrently with
 *   -----------------------------------+--------------------------------------------------
 *   request_queue_take, _cancel_added, | anything on other queues; on the same queue, the
 *     _next_added (owner only)         |   "under lock" calls of another thread
 *   request_queue_reap (owner only)    | anything on other queues; answers for this queue
 *   request_queue_create               | anything but request_table_destroy
 *   request_queue_destroy              | anything on other queues
 *   under-lock calls                   | each other, serialised by the lock
 *   request_table_init, _destroy       | nothing on the same table
 *
 * Owner: lib/requests
 */
#ifndef WINAPI_INTERNAL_REQUEST_TABLE_H
#define WINAPI_INTERNAL_REQUEST_TABLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <winapi_internal/call.h>

#define REQUEST_TABLE_MAX_QUEUES 1024u
#define REQUEST_QUEUE_MAX_DEPTH 4096u
#define REQUEST_NO_SLOT UINT32_MAX
#define REQUEST_FIRST_GENERATION (1u << 16 | 1u) /* an index's first queue starts here */

enum request_state {
	REQUEST_FREE,      /* on the owner's free list */
	REQUEST_ADDED,     /* added, not yet sent (owner only) */
	REQUEST_SENT,      /* on its way: an answer may come (under lock) */
	REQUEST_RECEIVING, /* its answer's bytes are being landed outside the lock */
	REQUEST_DONE,      /* on the done list with its outcome (under lock) */
};

struct request_slot {
	enum request_state state;
	uint32_t generation;
	uint32_t next;             /* free, added or done list */
	int timeout_ms;            /* from add to the deadline */
	uint64_t deadline_ns;      /* SENT: when it times out */
	void *user_data;
	int status;                /* DONE: the outcome */
	uint32_t reply_length;
	/* Told if the request ends before its answer (request_queue_set_hold). */
	const struct winapi_call_hold_ops *hold_ops;
	void *hold_owner;
	const struct winapi_call_buffer *buffers; /* the transport's copy, in its payload */
	unsigned int buffer_count;
};

/* A request that named buffers and ended before the host answered it. */
struct request_late {
	uint64_t id;
	const struct winapi_call_hold_ops *ops;
	void *owner;
};

struct request_list {
	uint32_t head;
	uint32_t tail;
};

struct request_table;
struct request_queue;

/**
 * How a reaper of this table makes progress when nothing is done yet: called under lock
 * with @p round 0 for the first time in a reap, then 1, 2, ...; it may drop and retake the
 * lock; it returns once something may have changed or @p wake_ns (CLOCK_MONOTONIC) came.
 */
typedef void (*request_table_wait_fn)(struct request_table *table, void *context, struct request_queue *queue,
				      unsigned int round, uint64_t now_ns, uint64_t wake_ns);

struct request_queue {
	struct request_table *table;
	uint32_t index;
	uint32_t depth;
	int timeout_ms;
	struct request_slot *slots;
	unsigned char *payloads;     /* the transport's per-slot data, payload_size each */
	size_t payload_size;
	uint32_t free_head;          /* owner only */
	struct request_list added;   /* owner only */
	struct request_list done;    /* under lock */
	uint32_t in_flight;          /* SENT or RECEIVING: under lock */
	uint64_t deadline_bound_ns;  /* under lock: no SENT request of it times out before this */
	uint32_t done_count;         /* __atomic: read unlocked by a reaper that spins */
	unsigned int waiters;        /* under lock: reapers asleep on done_cond */
	pthread_cond_t done_cond;    /* a request of this queue finished, or the table changed */
	int notify_fd;               /* -1, or an eventfd written when a request of it finishes */
};

struct request_table {
	pthread_mutex_t lock;
	pthread_cond_t receiving_done;             /* a RECEIVING slot finished */
	struct request_queue *queues[REQUEST_TABLE_MAX_QUEUES];
	uint32_t first_generation[REQUEST_TABLE_MAX_QUEUES]; /* where the index's next queue starts (0: never used) */
	uint16_t retired_depth[REQUEST_TABLE_MAX_QUEUES];    /* the deepest queue destroyed at the index */
	int broken;                                /* 0, or the error every request now ends with */
	unsigned int sleepers;                     /* reapers asleep on any queue's done_cond */
	bool warned_unexpected;                    /* the first unexpected answer was logged */
	const char *log_component;                 /* who logs: "winapi", "lowlat" */
	struct winapi_transport_stats stats;       /* under lock; a transport whose channel counts
						      signals and sleeps fills those in itself */
	request_table_wait_fn wait;
	void *wait_context;
	/* Under lock: requests whose buffers the host may still write, until their late answers. */
	struct request_late *late;
	uint32_t late_count;
	uint32_t late_capacity;
	struct request_late late_untracked; /* ops NULL, or an owner told of a late request the
					       list had no room for: it holds all until the end */
};

/** Default time a request may take: WINAPI_TIMEOUT_MS, else 5000 ms. */
int request_default_timeout_ms(void);

/** @return 0; -ENOMEM. */
int request_table_init(struct request_table *table, const char *log_component, request_table_wait_fn wait,
		       void *wait_context);
/** Every queue must be destroyed first. Holds of requests still late are told abandoned. */
void request_table_destroy(struct request_table *table);

/**
 * A queue of @p depth (1..REQUEST_QUEUE_MAX_DEPTH) slots, each with @p payload_size bytes of
 * the transport's own; requests time out after @p timeout_ms (-1: the default) unless their
 * call says otherwise.
 * @return 0; -EINVAL; -EMFILE (REQUEST_TABLE_MAX_QUEUES queues exist); -ENOMEM.
 */
int request_queue_create(struct request_table *table, unsigned int depth, int timeout_ms, size_t payload_size,
			 struct request_queue **queue);

/**
 * Unlist and free, cancelling what is still on its way (it does not wait for deadlines: an
 * owner that wants every outcome reaps until nothing is in flight first). A cancelled
 * request ends without a completion and nothing of its answer is landed; a request that
 * named buffers becomes late (request_queue_set_hold()): its hold is told late now and
 * answered when the host's answer comes, or abandoned at request_table_destroy(). The
 * answer to a cancelled request is counted in stale_completions, never taken for an id
 * never sent: the table keeps, per queue index, the deepest destroyed queue's depth and
 * where its generations ended (see request_table_find()). Waits (without the caller holding
 * the lock) until no answer is being landed in one of its slots.
 */
void request_queue_destroy(struct request_queue *queue);

/** The transport's data of slot @p index. */
static inline void *request_payload(const struct request_queue *queue, uint32_t index)
{
	return queue->payloads + (size_t)index * queue->payload_size;
}

static inline uint64_t request_id(const struct request_queue *queue, uint32_t index)
{
	return (uint64_t)queue->index << 48 | (uint64_t)index << 32 | queue->slots[index].generation;
}

/**
 * Owner only: take a free slot for a new request and put it at the end of the added list.
 * @p timeout_ms: the call's own (-1: the queue's).
 * @return the slot's index, or REQUEST_NO_SLOT (depth requests outstanding: -EAGAIN).
 */
uint32_t request_queue_take(struct request_queue *queue, int timeout_ms, void *user_data);

/**
 * Owner only, after take: tell @p ops (NULL: nobody) if the request ends before the host
 * answers it, with its @p count buffers at @p buffers (the transport's copy, stable until
 * the slot is released).
 */
static inline void request_queue_set_hold(struct request_queue *queue, uint32_t index,
					  const struct winapi_call_hold_ops *ops, void *owner,
					  const struct winapi_call_buffer *buffers, unsigned int count)
{
	struct request_slot *slot = &queue->slots[index];

	slot->hold_ops = count != 0 ? ops : NULL;
	slot->hold_owner = owner;
	slot->buffers = buffers;
	slot->buffer_count = count;
}

/** Owner only: give back the slot just taken (the request was refused before it was added). */
void request_queue_untake(struct request_queue *queue, uint32_t index);

/** Owner only: the first added request, off the list; REQUEST_NO_SLOT when none. */
uint32_t request_queue_next_added(struct request_queue *queue);

/** Owner only: the first added request, left on the list; REQUEST_NO_SLOT when none. */
static inline uint32_t request_queue_peek_added(const struct request_queue *queue)
{
	return queue->added.head;
}

/** Owner only: drop every added request, nothing of it was sent. */
void request_queue_cancel_added(struct request_queue *queue);

/** Under lock: request @p index is on its way; it times out its timeout after @p now_ns. */
void request_mark_sent(struct request_queue *queue, uint32_t index, uint64_t now_ns);

/** Under lock: the request ends with @p status, onto its queue's done list. */
void request_finish(struct request_queue *queue, uint32_t index, int status);

/**
 * Under lock: the request an answer taken at @p now_ns names. Anything but a request on its
 * way now is counted and dropped (an answer to a late request that named buffers tells its
 * hold it came: the host is done with them): ids of requests that ended, including those a
 * destroyed queue cancelled (stale_completions), ids never handed out or not in flight
 * (unexpected_packets; the first is logged). An id on an index whose queue is gone, or past
 * the live queue's depth, is stale if its slot is below the deepest destroyed queue's depth
 * there and its generation is older than the index's next start: as for a live slot, a host
 * that forges one gets no more than with a real stale id (a count; a late hold ends only on
 * its exact id). A request whose deadline has passed by @p now_ns ends here with -ETIMEDOUT,
 * its answer counted stale: an answer taken after the deadline is late whether or not a
 * reaper had expired it yet.
 * @return 0 (*queue and *index set); -ESTALE; -ENOENT.
 */
int request_table_find(struct request_table *table, uint64_t id, uint64_t now_ns, struct request_queue **queue,
		       uint32_t *index);

/**
 * Under lock: an answer that names no request at all (malformed, or of the wrong kind):
 * counted with the unexpected ones, the first logged as @p what.
 */
void request_table_drop_unexpected(struct request_table *table, const char *what, uint64_t id);

/** Under lock: the answer to a found request is landed outside the lock (RECEIVING). */
void request_begin_receiving(struct request_queue *queue, uint32_t index);

/**
 * Under lock: the host is gone or the stream is lost: every request on its way (not one
 * being received) ends with @p error, and so will every later one (table->broken).
 */
void request_table_fail_all(struct request_table *table, int error);

/** Under lock: wake every reaper asleep on any queue (the table changed for all). */
void request_table_wake_all(struct request_table *table);

/** Under lock: sleep on @p queue until one of its requests finishes, a wake_all, or @p wake_ns. */
void request_queue_wait(struct request_queue *queue, uint64_t wake_ns);

/**
 * Owner only: collect finished requests, at least @p min unless @p timeout_ms (-1: none)
 * passes or nothing is in flight, at most @p max. Requests past their deadline end here with
 * -ETIMEDOUT. Waits through the table's wait function.
 * @return the number collected; -EINVAL.
 */
int request_queue_reap(struct request_queue *queue, struct winapi_call_completion *completions, unsigned int max,
		       unsigned int min, int timeout_ms);

/**
 * Owner only: request_queue_reap(@p queue, @p completions, @p max, 1, 0) at @p now_ns, a
 * CLOCK_MONOTONIC time the caller read this pass, instead of the clock: deadlines are judged by
 * it. A poller that reads the clock once a pass for its submission and its reap pays one read,
 * not three (a kvm-clock read is 29 ns here, on a winapi-pmd echo's critical path: issue 19).
 * @return the number collected; -EINVAL.
 */
int request_queue_poll(struct request_queue *queue, struct winapi_call_completion *completions, unsigned int max,
		       uint64_t now_ns);

/**
 * Owner only, before any request of the queue is sent: write to the eventfd @p fd (-1: none)
 * each time one of its requests finishes, whichever thread finishes it (an application's
 * event loop polls it: no thread of the library's own is needed). The fd stays the caller's.
 */
static inline void request_queue_set_notify(struct request_queue *queue, int fd)
{
	queue->notify_fd = fd;
}

/** The table's counters. */
void request_table_get_stats(struct request_table *table, struct winapi_transport_stats *stats);

#endif /* WINAPI_INTERNAL_REQUEST_TABLE_H */
