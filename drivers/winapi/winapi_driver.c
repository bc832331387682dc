/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest-side winapi driver: many requests in flight on one channel, from any number of
 * queues (one per thread), matched to their completions by trans_id.
 *
 * trans_id = queue index << 48 | slot << 32 | generation. A slot's generation moves every
 * time the slot is reused or its request times out, and a queue that takes an index another
 * queue used starts its generations in a new epoch (the top 16 bits), so a completion for
 * anything but the request now in the slot is recognised (stale or unknown) and dropped: it
 * never lands in memory that belongs to someone else now. Everything read back from the host
 * is validated before use.
 *
 * Locks: tx_lock covers writing to the ring and publishing (one publication, one signal
 * decision per submitted batch). lock covers the queue table, the slots of requests in
 * flight, the done lists and the reaper election. Order: tx_lock, then lock. One thread at
 * a time reaps the RX ring (the leader); the others wait on cond for it to hand their
 * completions over, or for their deadlines.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmbus/channel.h>
#include <vmbus/memory.h>
#include <winapi/driver.h>
#include <winapi/log.h>
#include <winapi/protocol.h>

#define WINAPI_DEFAULT_TIMEOUT_MS 5000
#define DRIVER_MAX_QUEUES 1024u
#define QUEUE_MAX_DEPTH 4096u
#define NO_SLOT UINT32_MAX

enum slot_state {
	SLOT_FREE,     /* on the owner's free list */
	SLOT_PENDING,  /* added, not yet written to the ring (owner only) */
	SLOT_INFLIGHT, /* written: a completion may come (under lock) */
	SLOT_DONE,     /* on the done list with its outcome (under lock) */
};

struct slot {
	enum slot_state state;
	uint32_t generation;
	uint32_t next;             /* free, pending or done list */
	uint64_t deadline;         /* INFLIGHT: when it times out */
	int timeout_ms;
	void *user_data;
	/* The call, copied at add time: the caller's request bytes may go away after that. */
	uint16_t api_id;
	uint32_t request_length;
	uint8_t request[WINAPI_MAX_INLINE_DATA];
	void *reply_data;
	uint32_t reply_capacity;
	struct winapi_call_buffer buffers[WINAPI_MAX_BUFFERS];
	unsigned int buffer_count;
	/* The outcome. */
	int status;
	uint32_t reply_length;
};

struct fifo {
	uint32_t head;
	uint32_t tail;
};

struct winapi_driver_queue {
	struct winapi_driver *driver;
	uint32_t index;
	uint32_t depth;
	int timeout_ms;
	struct slot *slots;
	uint32_t free_head;        /* owner only */
	struct fifo pending;       /* owner only */
	struct fifo done;          /* under driver->lock */
	uint32_t inflight;         /* under driver->lock */
};

struct winapi_driver {
	struct vmbus_device *device;
	struct vmbus_channel *channel;
	pthread_mutex_t tx_lock;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool reaping;                          /* a leader drains the RX ring */
	int failed;                            /* the channel broke: every request gets this */
	bool warned_unexpected;                /* the first unexpected packet was logged */
	struct winapi_driver_queue *queues[DRIVER_MAX_QUEUES];
	uint16_t queue_epochs[DRIVER_MAX_QUEUES]; /* bumped each time a queue takes the index */
	struct winapi_driver_stats stats;      /* under lock */
	/* Under tx_lock: the request being written. */
	uint8_t message[WINAPI_MESSAGE_MAX_SIZE];
	uint8_t *gpa_header;
	uint64_t *pfns;
	size_t pfn_capacity;
	/* The leader's: one whole packet, as large as the ring allows. */
	uint8_t *receive_buffer;
	size_t receive_size;
	/* winapi_driver_call()'s queue. */
	pthread_mutex_t call_lock;
	struct winapi_driver_queue *call_queue;
};

int winapi_driver_default_timeout_ms(void)
{
	const char *text = getenv("WINAPI_TIMEOUT_MS");
	char *end;
	long value;

	if (text == NULL || *text == '\0')
		return WINAPI_DEFAULT_TIMEOUT_MS;
	errno = 0;
	value = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || value <= 0 || value > 24L * 3600 * 1000) {
		winapi_log(WINAPI_LOG_WARNING, "winapi", "ignoring WINAPI_TIMEOUT_MS=%s (want 1..86400000)",
			   text);
		return WINAPI_DEFAULT_TIMEOUT_MS;
	}
	return (int)value;
}

static uint64_t now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static uint64_t deadline_after(uint64_t now, int timeout_ms)
{
	return timeout_ms < 0 ? UINT64_MAX : now + (uint64_t)timeout_ms * 1000000u;
}

static uint64_t trans_id_of(const struct winapi_driver_queue *queue, uint32_t slot)
{
	return (uint64_t)queue->index << 48 | (uint64_t)slot << 32 | queue->slots[slot].generation;
}

/* ---- lists of slot indices ---- */

static void fifo_push(struct winapi_driver_queue *queue, struct fifo *fifo, uint32_t slot)
{
	queue->slots[slot].next = NO_SLOT;
	if (fifo->tail == NO_SLOT)
		fifo->head = slot;
	else
		queue->slots[fifo->tail].next = slot;
	fifo->tail = slot;
}

static uint32_t fifo_pop(struct winapi_driver_queue *queue, struct fifo *fifo)
{
	uint32_t slot = fifo->head;

	if (slot != NO_SLOT) {
		fifo->head = queue->slots[slot].next;
		if (fifo->head == NO_SLOT)
			fifo->tail = NO_SLOT;
	}
	return slot;
}

/* Back to the free list with a new generation: its old trans_id now names nothing. */
static void release_slot(struct winapi_driver_queue *queue, uint32_t index)
{
	struct slot *slot = &queue->slots[index];

	slot->state = SLOT_FREE;
	if (++slot->generation == 0)
		slot->generation = 1;
	slot->next = queue->free_head;
	queue->free_head = index;
}

/* ---- opening ---- */

int winapi_driver_open(struct vmbus_device *device, unsigned int channel_index, struct winapi_driver **driver_out)
{
	struct vmbus_guid winapi_class;
	struct winapi_driver *driver;
	pthread_condattr_t attributes;
	int rc;

	vmbus_guid_parse(WINAPI_DEVICE_CLASS, &winapi_class);
	if (!vmbus_guid_equal(vmbus_device_class_id(device), &winapi_class))
		return -ENODEV;

	driver = calloc(1, sizeof(*driver));
	if (driver == NULL)
		return -ENOMEM;
	rc = vmbus_chan_open(device, channel_index, &driver->channel);
	if (rc != 0)
		goto err_free_driver;
	driver->device = device;
	driver->receive_size = vmbus_chan_max_packet_size(driver->channel);
	driver->pfn_capacity = driver->receive_size / sizeof(uint64_t);
	driver->receive_buffer = malloc(driver->receive_size);
	driver->gpa_header = malloc(driver->receive_size);
	driver->pfns = calloc(driver->pfn_capacity, sizeof(uint64_t));
	if (driver->receive_buffer == NULL || driver->gpa_header == NULL || driver->pfns == NULL) {
		rc = -ENOMEM;
		goto err_free_buffers;
	}
	pthread_mutex_init(&driver->tx_lock, NULL);
	pthread_mutex_init(&driver->lock, NULL);
	pthread_mutex_init(&driver->call_lock, NULL);
	pthread_condattr_init(&attributes);
	pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
	pthread_cond_init(&driver->cond, &attributes);
	pthread_condattr_destroy(&attributes);
	rc = winapi_driver_queue_create(driver, 1, -1, &driver->call_queue);
	if (rc != 0)
		goto err_destroy_locks;
	*driver_out = driver;
	return 0;

err_destroy_locks:
	pthread_cond_destroy(&driver->cond);
	pthread_mutex_destroy(&driver->call_lock);
	pthread_mutex_destroy(&driver->lock);
	pthread_mutex_destroy(&driver->tx_lock);
err_free_buffers:
	free(driver->pfns);
	free(driver->gpa_header);
	free(driver->receive_buffer);
	vmbus_chan_close(driver->channel);
err_free_driver:
	free(driver);
	return rc;
}

void winapi_driver_close(struct winapi_driver *driver)
{
	if (driver == NULL)
		return;
	winapi_driver_queue_destroy(driver->call_queue);
	pthread_cond_destroy(&driver->cond);
	pthread_mutex_destroy(&driver->call_lock);
	pthread_mutex_destroy(&driver->lock);
	pthread_mutex_destroy(&driver->tx_lock);
	free(driver->pfns);
	free(driver->gpa_header);
	free(driver->receive_buffer);
	vmbus_chan_close(driver->channel);
	free(driver);
}

void winapi_driver_get_stats(struct winapi_driver *driver, struct winapi_driver_stats *stats)
{
	pthread_mutex_lock(&driver->lock);
	*stats = driver->stats;
	pthread_mutex_unlock(&driver->lock);
	vmbus_chan_get_stats(driver->channel, &stats->channel);
}

uint64_t winapi_driver_gpa_page_budget(struct winapi_driver *driver, unsigned int buffer_count,
				       uint32_t inline_length)
{
	uint64_t fixed = sizeof(struct vmbus_packet_descriptor) + 8 /* range count */ +
			 8ull * buffer_count /* range headers */ + sizeof(struct winapi_message_header) +
			 (uint64_t)buffer_count * sizeof(struct winapi_buffer_descriptor) + inline_length;
	uint64_t room = vmbus_chan_max_packet_size(driver->channel);

	/* The packet is padded to 8 bytes: keep 8 spare. */
	return room > fixed + 8 ? (room - fixed - 8) / 8 : 0;
}

/* ---- queues ---- */

int winapi_driver_queue_create(struct winapi_driver *driver, unsigned int depth, int timeout_ms,
			       struct winapi_driver_queue **queue_out)
{
	struct winapi_driver_queue *queue;
	uint32_t i;
	int rc = -EMFILE;

	if (driver == NULL || queue_out == NULL || depth == 0 || depth > QUEUE_MAX_DEPTH)
		return -EINVAL;
	queue = calloc(1, sizeof(*queue));
	if (queue == NULL)
		return -ENOMEM;
	queue->slots = calloc(depth, sizeof(*queue->slots));
	if (queue->slots == NULL) {
		free(queue);
		return -ENOMEM;
	}
	queue->driver = driver;
	queue->depth = depth;
	queue->timeout_ms = timeout_ms >= 0 ? timeout_ms : winapi_driver_default_timeout_ms();
	queue->free_head = NO_SLOT;
	queue->pending.head = queue->pending.tail = NO_SLOT;
	queue->done.head = queue->done.tail = NO_SLOT;
	for (i = depth; i-- > 0;) {
		queue->slots[i].generation = 0;
		release_slot(queue, i);
	}

	pthread_mutex_lock(&driver->lock);
	for (i = 0; i < DRIVER_MAX_QUEUES; i++) {
		if (driver->queues[i] == NULL) {
			uint32_t epoch = ++driver->queue_epochs[i], slot;

			/* A late completion for the index's last queue must not match this one's. */
			for (slot = 0; slot < depth; slot++)
				queue->slots[slot].generation = epoch << 16 | (queue->slots[slot].generation & 0xffffu);
			queue->index = i;
			driver->queues[i] = queue;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&driver->lock);
	if (rc != 0) {
		free(queue->slots);
		free(queue);
		return rc;
	}
	*queue_out = queue;
	return 0;
}

void winapi_driver_queue_destroy(struct winapi_driver_queue *queue)
{
	struct winapi_driver *driver;

	if (queue == NULL)
		return;
	driver = queue->driver;
	/* Unlisted under the lock: a completion still on its way finds no queue, and is dropped. */
	pthread_mutex_lock(&driver->lock);
	driver->queues[queue->index] = NULL;
	pthread_mutex_unlock(&driver->lock);
	free(queue->slots);
	free(queue);
}

int winapi_driver_queue_add(struct winapi_driver_queue *queue, const struct winapi_call *call, void *user_data)
{
	struct slot *slot;
	uint32_t index;

	if (queue == NULL || call == NULL || (call->request_length != 0 && call->request_data == NULL) ||
	    (call->reply_capacity != 0 && call->reply_data == NULL) ||
	    (call->buffer_count != 0 && call->buffers == NULL))
		return -EINVAL;
	if (call->request_length > WINAPI_MAX_INLINE_DATA || call->reply_capacity > WINAPI_MAX_INLINE_DATA ||
	    call->buffer_count > WINAPI_MAX_BUFFERS)
		return -EMSGSIZE;
	index = queue->free_head;
	if (index == NO_SLOT)
		return -EAGAIN;
	slot = &queue->slots[index];
	queue->free_head = slot->next;

	slot->state = SLOT_PENDING;
	slot->user_data = user_data;
	slot->timeout_ms = call->timeout_ms >= 0 ? call->timeout_ms : queue->timeout_ms;
	slot->api_id = call->api_id;
	slot->request_length = call->request_length;
	if (call->request_length != 0)
		memcpy(slot->request, call->request_data, call->request_length);
	slot->reply_data = call->reply_data;
	slot->reply_capacity = call->reply_capacity;
	slot->buffer_count = call->buffer_count;
	if (call->buffer_count != 0)
		memcpy(slot->buffers, call->buffers, call->buffer_count * sizeof(*call->buffers));
	slot->status = 0;
	slot->reply_length = 0;
	fifo_push(queue, &queue->pending, index);
	return 0;
}

static void fail_all(struct winapi_driver *driver, int error);

/* ---- submitting ---- */

/*
 * Fill @descriptors for @slot's buffers and, when some are GPA-direct, the packet's range
 * header (one range per such buffer, its index in the descriptor's region).
 * Returns the header's size (0: no GPA-direct buffer), or negative errno.
 */
static int prepare_buffers(struct winapi_driver *driver, const struct slot *slot,
			   struct winapi_buffer_descriptor *descriptors)
{
	struct vmbus_gpa_range_desc ranges[WINAPI_MAX_BUFFERS];
	unsigned int i, range_count = 0;
	size_t pfns_used = 0;
	int count;

	for (i = 0; i < slot->buffer_count; i++) {
		const struct winapi_call_buffer *buffer = &slot->buffers[i];

		if (buffer->length == 0 || buffer->length > UINT32_MAX)
			return -EINVAL;
		descriptors[i] = (struct winapi_buffer_descriptor){ .kind = buffer->kind, .length = buffer->length };
		if (buffer->kind == WINAPI_BUFFER_GPADL) {
			descriptors[i].region = buffer->gpadl;
			descriptors[i].offset = buffer->gpadl_offset;
			continue;
		}
		if (buffer->kind != WINAPI_BUFFER_GPA_DIRECT || buffer->address == NULL)
			return -EINVAL;
		count = vmbus_device_dma_pfns(driver->device, buffer->address, buffer->length,
					      driver->pfns + pfns_used, driver->pfn_capacity - pfns_used);
		if (count < 0)
			return count == -ENOBUFS ? -EMSGSIZE : count;
		ranges[range_count] = (struct vmbus_gpa_range_desc){
			.byte_count = (uint32_t)buffer->length,
			.byte_offset = (uint32_t)((uintptr_t)buffer->address % VMBUS_PAGE_SIZE),
			.pfns = driver->pfns + pfns_used,
		};
		pfns_used += (size_t)count;
		descriptors[i].region = range_count++;
		descriptors[i].offset = 0;
	}
	if (range_count == 0)
		return 0;
	count = vmbus_gpa_header_encode(ranges, range_count, driver->gpa_header, driver->receive_size);
	return count == -ENOBUFS ? -EMSGSIZE : count;
}

/* Encode one pending request and write it (not yet published). Under tx_lock. */
static int write_request(struct winapi_driver_queue *queue, uint32_t index)
{
	struct winapi_driver *driver = queue->driver;
	const struct slot *slot = &queue->slots[index];
	struct winapi_message message;
	struct iovec payload;
	int gpa_size, size;

	memset(&message, 0, sizeof(message));
	message.api_id = slot->api_id;
	message.request_id = trans_id_of(queue, index);
	message.reply_capacity = slot->reply_capacity;
	message.inline_length = slot->request_length;
	message.inline_data = slot->request;
	message.buffer_count = (uint16_t)slot->buffer_count;
	gpa_size = prepare_buffers(driver, slot, message.buffers);
	if (gpa_size < 0)
		return gpa_size;
	size = winapi_message_encode(&message, driver->message, sizeof(driver->message));
	if (size < 0)
		return size;
	payload = (struct iovec){ .iov_base = driver->message, .iov_len = (size_t)size };
	const struct vmbus_ring_packet packet = {
		.type = gpa_size != 0 ? VMBUS_PACKET_DATA_USING_GPA_DIRECT : VMBUS_PACKET_DATA_INBAND,
		.flags = VMBUS_PACKET_FLAG_COMPLETION_REQUESTED,
		.trans_id = message.request_id,
		.header_extension = gpa_size != 0 ? driver->gpa_header : NULL,
		.header_extension_size = (uint32_t)gpa_size,
		.payload = &payload,
		.payload_count = 1,
	};
	return vmbus_chan_write(driver->channel, &packet);
}

/* The request ends here with @status (under lock): onto the done list for its owner. */
static void finish(struct winapi_driver_queue *queue, uint32_t index, int status)
{
	struct winapi_driver *driver = queue->driver;
	struct slot *slot = &queue->slots[index];

	if (slot->state == SLOT_INFLIGHT)
		queue->inflight--;
	slot->state = SLOT_DONE;
	slot->status = status;
	driver->stats.calls++;
	if (status != 0)
		driver->stats.failed_calls++;
	if (status == -ETIMEDOUT)
		driver->stats.timeouts++;
	fifo_push(queue, &queue->done, index);
}

int winapi_driver_queue_submit(struct winapi_driver_queue *queue)
{
	struct winapi_driver *driver;
	int written = 0, rc = 0, failed = 0, flush_rc;
	uint32_t index;
	uint64_t now;

	if (queue == NULL)
		return -EINVAL;
	driver = queue->driver;
	if (queue->pending.head == NO_SLOT)
		return 0;
	/* One clock read for the whole batch, before the first byte goes out. */
	now = now_ns();
	pthread_mutex_lock(&driver->tx_lock);
	while ((index = queue->pending.head) != NO_SLOT) {
		rc = failed = __atomic_load_n(&driver->failed, __ATOMIC_RELAXED);
		if (rc == 0)
			rc = write_request(queue, index);
		if (rc == -EAGAIN)
			break; /* ring full: what is written goes out, the rest waits for room */
		fifo_pop(queue, &queue->pending);
		pthread_mutex_lock(&driver->lock);
		if (rc == 0) {
			queue->slots[index].state = SLOT_INFLIGHT;
			queue->slots[index].deadline = deadline_after(now, queue->slots[index].timeout_ms);
			queue->inflight++;
			written++;
		} else {
			/* This request cannot be sent (too large, bad buffer, channel gone): it ends. */
			finish(queue, index, rc);
		}
		pthread_mutex_unlock(&driver->lock);
	}
	/* The whole batch: one write_index publication, one signal decision. */
	flush_rc = vmbus_chan_flush(driver->channel);
	if (flush_rc != 0) {
		/* The host is gone: what was written will never be answered. */
		pthread_mutex_lock(&driver->lock);
		if (driver->failed == 0)
			fail_all(driver, flush_rc);
		pthread_cond_broadcast(&driver->cond);
		pthread_mutex_unlock(&driver->lock);
	}
	pthread_mutex_unlock(&driver->tx_lock);
	if (flush_rc != 0)
		return flush_rc;
	if (written == 0 && rc == -EAGAIN)
		return -EAGAIN;
	if (written == 0 && failed != 0)
		return failed; /* the channel broke earlier: the batch ended with its error */
	return written;
}

/* ---- reaping ---- */

/* Check the host's answer and copy its inline data out (under lock: the slot is stable). */
static int accept_reply(struct slot *slot, uint64_t request_id, const uint8_t *payload, size_t length)
{
	struct winapi_message reply;
	int rc = winapi_message_decode(payload, length, &reply);

	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "winapi", "reply to request %#llx is malformed (%s)",
			   (unsigned long long)request_id, strerror(-rc));
		return -EBADMSG;
	}
	if (!(reply.flags & WINAPI_MESSAGE_FLAG_RESPONSE) || reply.request_id != request_id) {
		winapi_log(WINAPI_LOG_ERR, "winapi", "reply to request %#llx does not match it",
			   (unsigned long long)request_id);
		return -EBADMSG;
	}
	/* An error status comes first: a host that could not decode the request may not know its api. */
	if (reply.status != WINAPI_STATUS_OK) {
		winapi_log(WINAPI_LOG_DEBUG, "winapi", "request %#llx: host status %s",
			   (unsigned long long)request_id, winapi_status_name(reply.status));
		return winapi_status_to_errno(reply.status);
	}
	if (reply.api_id != slot->api_id || reply.buffer_count != 0) {
		winapi_log(WINAPI_LOG_ERR, "winapi", "reply to request %#llx is for another api",
			   (unsigned long long)request_id);
		return -EBADMSG;
	}
	if (reply.inline_length > slot->reply_capacity) {
		winapi_log(WINAPI_LOG_ERR, "winapi", "host returned %u bytes for a %u-byte reply buffer",
			   reply.inline_length, slot->reply_capacity);
		return -EBADMSG;
	}
	if (reply.inline_length != 0)
		memcpy(slot->reply_data, reply.inline_data, reply.inline_length);
	slot->reply_length = reply.inline_length;
	return 0;
}

/*
 * A packet no request waits for (under lock): counted and dropped. Only the first is logged,
 * so that a host that floods them cannot flood the log too.
 */
static void drop_unexpected(struct winapi_driver *driver, const char *what, uint64_t trans_id)
{
	driver->stats.unexpected_packets++;
	if (driver->warned_unexpected)
		return;
	driver->warned_unexpected = true;
	winapi_log(WINAPI_LOG_WARNING, "winapi", "dropped %s from the host (trans_id %#llx): no request "
		   "waits for it; later ones are only counted (unexpected_packets)", what,
		   (unsigned long long)trans_id);
}

/*
 * A completion arrived for @trans_id (under lock). Anything but a request in flight now is
 * counted and dropped: ids of timed-out requests (stale), ids never handed out (unexpected).
 */
static void dispatch(struct winapi_driver *driver, uint64_t trans_id, const uint8_t *payload, size_t length)
{
	uint32_t queue_index = (uint32_t)(trans_id >> 48), index = (uint32_t)(trans_id >> 32) & 0xffff;
	uint32_t generation = (uint32_t)trans_id;
	struct winapi_driver_queue *queue = queue_index < DRIVER_MAX_QUEUES ? driver->queues[queue_index] : NULL;
	struct slot *slot;

	if (queue == NULL || index >= queue->depth || generation == 0) {
		drop_unexpected(driver, "a completion for an id never sent", trans_id);
		return;
	}
	slot = &queue->slots[index];
	if (slot->state != SLOT_INFLIGHT || slot->generation != generation) {
		/* Generations move on at reuse and timeout: an older one is a late completion. */
		if ((int32_t)(slot->generation - generation) > 0)
			driver->stats.stale_completions++;
		else
			drop_unexpected(driver, "a completion for a request not in flight", trans_id);
		return;
	}
	finish(queue, index, accept_reply(slot, trans_id, payload, length));
}

/* Every request in flight, in every queue, ends with @error: the channel is gone. */
static void fail_all(struct winapi_driver *driver, int error)
{
	uint32_t q, i;

	driver->failed = error;
	for (q = 0; q < DRIVER_MAX_QUEUES; q++) {
		struct winapi_driver_queue *queue = driver->queues[q];

		for (i = 0; queue != NULL && i < queue->depth; i++)
			if (queue->slots[i].state == SLOT_INFLIGHT)
				finish(queue, i, error);
	}
}

/*
 * The leader drains the RX ring without the lock, taking it per completion to hand it over.
 * Returns how many packets it took, or a negative errno when the channel broke.
 */
static int drain(struct winapi_driver *driver)
{
	struct vmbus_ring_packet_info info;
	int taken = 0, rc;

	for (;;) {
		rc = vmbus_chan_recv(driver->channel, driver->receive_buffer, driver->receive_size, &info);
		if (rc == -EAGAIN)
			break;
		pthread_mutex_lock(&driver->lock);
		if (rc == -EBADMSG)
			drop_unexpected(driver, "a malformed packet", 0);
		else if (rc == 0 && info.type != VMBUS_PACKET_COMPLETION)
			drop_unexpected(driver, "a packet that is not a completion", info.trans_id);
		else if (rc == 0)
			dispatch(driver, info.trans_id, driver->receive_buffer + info.header_size,
				 info.packet_size - info.header_size);
		pthread_mutex_unlock(&driver->lock);
		if (rc != 0 && rc != -EBADMSG)
			return rc;
		taken++;
	}
	rc = vmbus_chan_recv_done(driver->channel);
	return rc != 0 ? rc : taken;
}

/* Requests of @queue past their deadline end with -ETIMEDOUT (under lock). */
static uint64_t expire(struct winapi_driver_queue *queue, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	uint32_t i;

	if (queue->inflight == 0)
		return next;
	for (i = 0; i < queue->depth; i++) {
		struct slot *slot = &queue->slots[i];

		if (slot->state != SLOT_INFLIGHT)
			continue;
		if (slot->deadline <= now) {
			/* The slot is reused at once: release_slot() moves its generation on, so
			 * a completion that still comes is recognised as stale. */
			finish(queue, i, -ETIMEDOUT);
		} else if (slot->deadline < next) {
			next = slot->deadline;
		}
	}
	return next;
}

/* Hand @queue's finished requests to its owner (under lock). */
static unsigned int take_done(struct winapi_driver_queue *queue, struct winapi_driver_completion *out,
			      unsigned int max)
{
	unsigned int count = 0;
	uint32_t index;

	while (count < max && (index = fifo_pop(queue, &queue->done)) != NO_SLOT) {
		struct slot *slot = &queue->slots[index];

		out[count++] = (struct winapi_driver_completion){
			.user_data = slot->user_data, .status = slot->status, .reply_length = slot->reply_length,
		};
		release_slot(queue, index);
	}
	return count;
}

static void wait_until(struct winapi_driver *driver, uint64_t deadline)
{
	struct timespec until = { .tv_sec = (time_t)(deadline / 1000000000u),
				  .tv_nsec = (long)(deadline % 1000000000u) };

	if (deadline == UINT64_MAX)
		pthread_cond_wait(&driver->cond, &driver->lock);
	else
		pthread_cond_timedwait(&driver->cond, &driver->lock, &until);
}

int winapi_driver_queue_reap(struct winapi_driver_queue *queue, struct winapi_driver_completion *completions,
			     unsigned int max, unsigned int min, int timeout_ms)
{
	struct winapi_driver *driver;
	uint64_t deadline = 0, next, now;
	unsigned int count = 0;
	bool looked = false;
	int rc;

	if (queue == NULL || (max != 0 && completions == NULL) || min > max)
		return -EINVAL;
	driver = queue->driver;
	pthread_mutex_lock(&driver->lock);
	for (;;) {
		count += take_done(queue, completions + count, max - count);
		/* Usually the answers are in: then the clock is not read at all. */
		if (count >= min || count == max || queue->inflight == 0)
			break;
		now = now_ns();
		if (deadline == 0)
			deadline = deadline_after(now, timeout_ms);
		next = expire(queue, now);
		count += take_done(queue, completions + count, max - count);
		/*
		 * Enough, or nothing more can come, or out of time: but the ring is looked at once
		 * first, so that a reap that may not wait (timeout 0, an event loop's) still sees
		 * the answers that are there.
		 */
		if (count >= min || count == max || queue->inflight == 0 || (now >= deadline && looked))
			break;
		if (next > deadline)
			next = deadline;
		looked = true;
		if (driver->reaping) {
			/* The leader hands our completions over and wakes us; our deadlines wake us too. */
			wait_until(driver, next);
			continue;
		}
		/* Lead: drain, and sleep on the channel when there was nothing. */
		driver->reaping = true;
		pthread_mutex_unlock(&driver->lock);
		rc = drain(driver);
		if (rc == 0) {
			rc = vmbus_chan_wait(driver->channel, next == UINT64_MAX ? -1 :
					     (int)((next - now + 999999u) / 1000000u));
			/* Take what woke us before taking the lock again. */
			if (rc == 0)
				rc = drain(driver);
		}
		if (rc == -ETIMEDOUT)
			rc = 0;
		pthread_mutex_lock(&driver->lock);
		driver->reaping = false;
		if (rc < 0 && driver->failed == 0) {
			if (rc == -ENOTCONN)
				winapi_log(WINAPI_LOG_ERR, "winapi", "the host is gone (winapi-pmd or the emulator "
					   "exited, or the device was rescinded): calls fail with ENOTCONN; "
					   "winapi_cleanup() and winapi_init() attach again");
			else
				winapi_log(WINAPI_LOG_ERR, "winapi", "the channel failed: %s", strerror(-rc));
			fail_all(driver, rc);
		}
		pthread_cond_broadcast(&driver->cond);
	}
	pthread_mutex_unlock(&driver->lock);
	return (int)count;
}

/* ---- one synchronous call ---- */

/* Drop what was added but never written: its slot goes back, nothing was sent. */
static void cancel_pending(struct winapi_driver_queue *queue)
{
	uint32_t index;

	while ((index = fifo_pop(queue, &queue->pending)) != NO_SLOT)
		release_slot(queue, index);
}

int winapi_driver_call(struct winapi_driver *driver, struct winapi_call *call)
{
	struct winapi_driver_completion completion;
	int timeout_ms, rc;

	if (driver == NULL || call == NULL)
		return -EINVAL;
	/* The call queue read WINAPI_TIMEOUT_MS when it was made: no getenv() per call. */
	timeout_ms = call->timeout_ms >= 0 ? call->timeout_ms : driver->call_queue->timeout_ms;
	pthread_mutex_lock(&driver->call_lock);
	rc = winapi_driver_queue_add(driver->call_queue, call, NULL);
	if (rc != 0)
		goto out_unlock;
	rc = winapi_driver_queue_submit(driver->call_queue);
	while (rc == -EAGAIN) {
		/* The ring is full of other queues' requests: wait for room, within the call's time. */
		rc = vmbus_chan_wait_writable(driver->channel,
					      (uint32_t)(WINAPI_MESSAGE_MAX_SIZE + sizeof(struct vmbus_packet_descriptor)),
					      timeout_ms);
		if (rc == 0)
			rc = winapi_driver_queue_submit(driver->call_queue);
	}
	if (rc < 0 && driver->call_queue->pending.head != NO_SLOT) {
		cancel_pending(driver->call_queue);
		goto out_unlock;
	}
	/* Written, or ended at once (then its outcome is on the done list already). */
	rc = winapi_driver_queue_reap(driver->call_queue, &completion, 1, 1, -1);
	if (rc == 1) {
		rc = completion.status;
		call->reply_length = completion.reply_length;
	} else if (rc >= 0) {
		rc = -EIO; /* nothing in flight and nothing done: cannot happen */
	}
out_unlock:
	pthread_mutex_unlock(&driver->call_lock);
	return rc;
}

struct vmbus_channel *winapi_driver_channel(struct winapi_driver *driver)
{
	return driver->channel;
}
