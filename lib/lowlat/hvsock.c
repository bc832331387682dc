/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * liblowlat's second transport: the Hyper-V socket (WSL2), the wire of <winapi/hvsock.h>. The
 * same calls as the VMBus driver (struct lowlat_transport_ops): requests are framed and
 * written by the thread that submits them, many in flight; one receiver thread per handle
 * reads every reply, matches it by request_id, and lands its bulk data straight in the
 * caller's output or buffers. Because the receiver always reads, the host never blocks
 * writing a reply, so it always gets back to reading requests: a large write from one side
 * cannot deadlock against a large reply from the other.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include <winapi/hvsock.h>
#include <winapi/log.h>

#include "lowlat_private.h"

#define HVSOCK_MAX_QUEUES 1024u
#define HVSOCK_SPIN_NS_DEFAULT 50000u

enum slot_state { SLOT_FREE, SLOT_ADDED, SLOT_SENT, SLOT_RECEIVING, SLOT_DONE };

struct hvsock_slot {
	uint32_t generation;
	enum slot_state state;
	struct winapi_hvsock_header header;
	uint8_t input[WINAPI_MAX_INLINE_DATA];  /* echo: the bytes, copied at add */
	struct winapi_call_buffer buffers[WINAPI_MAX_BUFFERS];
	void *reply_data;
	uint32_t reply_capacity;
	uint32_t reply_length;
	void *user_data;
	int status;
	uint64_t deadline_ns;
	uint32_t next_done;
	uint32_t text_length;
	char text[WINAPI_HVSOCK_MAX_HEADER]; /* the request's header, encoded when it is added */
};

struct hvsock_queue {
	struct hvsock_transport *transport;
	uint32_t index;
	uint32_t depth;
	int timeout_ms;
	struct hvsock_slot *slots;
	uint32_t *added;        /* slots added since the last submit, in order */
	uint32_t added_count;
	uint32_t free_hint;
	uint32_t in_flight;     /* SENT or RECEIVING: under the transport's lock */
	uint32_t done_head, done_tail;
	uint32_t done_count;    /* __atomic: read unlocked while spinning */
	pthread_cond_t done;
};

struct hvsock_transport {
	int fd;
	struct winapi_hvsock_reader reader; /* the receiver thread's */
	pthread_t receiver;
	pthread_mutex_t lock;         /* queues, slots, stats, broken */
	pthread_cond_t receiving_done;/* a RECEIVING slot finished (for queue destroy) */
	pthread_mutex_t send_lock;    /* one frame at a time on the socket */
	pthread_mutex_t call_lock;    /* synchronous calls share one queue */
	struct hvsock_queue *call_queue;
	struct hvsock_queue *queues[HVSOCK_MAX_QUEUES];
	/*
	 * Bumped each time a queue takes the index: its slots' generations start from it, so a
	 * late reply for a destroyed queue's request never matches the next queue at that index.
	 */
	uint16_t queue_epochs[HVSOCK_MAX_QUEUES];
	int broken;                   /* 0, or the error every request now ends with */
	uint64_t spin_ns;
	struct winapi_driver_stats stats;
};

#define NO_SLOT UINT32_MAX

static uint64_t request_id(const struct hvsock_queue *queue, uint32_t slot)
{
	return (uint64_t)queue->index << 48 | (uint64_t)slot << 32 | queue->slots[slot].generation;
}

/* ---- completion, under the transport's lock ---- */

static void finish(struct hvsock_queue *queue, uint32_t index, int status)
{
	struct hvsock_slot *slot = &queue->slots[index];
	struct hvsock_transport *transport = queue->transport;

	if (slot->state == SLOT_SENT || slot->state == SLOT_RECEIVING)
		queue->in_flight--;
	slot->status = status;
	slot->state = SLOT_DONE;
	slot->generation++; /* a late reply to this id is recognised as stale */
	slot->next_done = NO_SLOT;
	if (queue->done_tail == NO_SLOT)
		queue->done_head = index;
	else
		queue->slots[queue->done_tail].next_done = index;
	queue->done_tail = index;
	__atomic_store_n(&queue->done_count, queue->done_count + 1, __ATOMIC_RELEASE);
	transport->stats.calls++;
	if (status != 0)
		transport->stats.failed_calls++;
	if (status == -ETIMEDOUT)
		transport->stats.timeouts++;
	pthread_cond_signal(&queue->done);
}

/* The connection is gone: every request in flight ends with @error, later ones at once. */
static void break_connection(struct hvsock_transport *transport, int error)
{
	uint32_t q, i;

	if (transport->broken == 0)
		transport->broken = error;
	for (q = 0; q < HVSOCK_MAX_QUEUES; q++) {
		struct hvsock_queue *queue = transport->queues[q];

		for (i = 0; queue != NULL && i < queue->depth; i++)
			if (queue->slots[i].state == SLOT_SENT)
				finish(queue, i, transport->broken);
	}
}

/* ---- the receiver ---- */

/* Whether a reply fits what was asked: its api, and exactly the payload expected. 0 or -EBADMSG. */
static int check_reply(const struct hvsock_slot *slot, const struct winapi_hvsock_header *reply)
{
	if (reply->status == WINAPI_STATUS_UNSUPPORTED_API && reply->api_id == 0)
		return 0; /* the host does not know the api, and so names none */
	if (reply->api_id != slot->header.api_id)
		return -EBADMSG;
	if (reply->status != WINAPI_STATUS_OK)
		return 0;
	if (reply->api_id == WINAPI_API_ECHO)
		return reply->payload_size <= slot->reply_capacity ? 0 : -EBADMSG;
	if (reply->fields_length > slot->reply_capacity)
		return -EBADMSG;
	if (winapi_hvsock_bulk(&slot->header) == WINAPI_HVSOCK_BULK_TO_GUEST)
		return reply->payload_size == winapi_hvsock_buffer_bytes(&slot->header) ? 0 : -EBADMSG;
	return reply->payload_size == 0 ? 0 : -EBADMSG;
}

/* The payload of an accepted reply, straight into the caller's output or buffers. */
static int receive_payload(struct hvsock_transport *transport, struct hvsock_slot *slot,
			   const struct winapi_hvsock_header *reply)
{
	uint32_t i;
	int rc;

	if (reply->payload_size == 0)
		return 0;
	if (reply->api_id == WINAPI_API_ECHO)
		return winapi_hvsock_receive(&transport->reader, slot->reply_data, reply->payload_size);
	for (i = 0; i < slot->header.buffer_count; i++) {
		rc = winapi_hvsock_receive(&transport->reader, (void *)slot->buffers[i].address,
					   slot->buffers[i].length);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* One reply frame. Returns 0, or the error that ends the connection. */
static int receive_reply(struct hvsock_transport *transport)
{
	char text[WINAPI_HVSOCK_MAX_HEADER];
	struct winapi_hvsock_header reply;
	struct hvsock_queue *queue = NULL;
	struct hvsock_slot *slot = NULL;
	uint32_t queue_index, index = 0;
	size_t length;
	int rc, verdict = 0;

	rc = winapi_hvsock_receive_header(&transport->reader, text, sizeof(text), &length);
	if (rc == -EAGAIN)
		return 0; /* nothing came for a receive timeout: an idle host, between frames */
	if (rc != 0)
		return rc == -ECONNRESET ? -ENOTCONN : rc;
	if (winapi_hvsock_reply_decode(text, length, &reply) != 0) {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "hvsock: the host sent a header that does not decode; "
			   "closing the connection");
		return -EIO;
	}

	pthread_mutex_lock(&transport->lock);
	queue_index = (uint32_t)(reply.request_id >> 48);
	index = (uint32_t)(reply.request_id >> 32) & 0xffffu;
	queue = queue_index < HVSOCK_MAX_QUEUES ? transport->queues[queue_index] : NULL;
	if (queue != NULL && index < queue->depth && queue->slots[index].state == SLOT_SENT &&
	    request_id(queue, index) == reply.request_id) {
		slot = &queue->slots[index];
		verdict = check_reply(slot, &reply);
		if (verdict == 0)
			slot->state = SLOT_RECEIVING;
		else
			finish(queue, index, verdict);
	} else {
		/* A reply to a request that timed out (or to nothing): its payload is dropped. */
		if (queue != NULL && index < queue->depth)
			transport->stats.stale_completions++;
		else
			transport->stats.unexpected_packets++;
	}
	pthread_mutex_unlock(&transport->lock);

	if (slot == NULL || verdict != 0)
		return winapi_hvsock_receive(&transport->reader, NULL, reply.payload_size);
	rc = receive_payload(transport, slot, &reply);

	pthread_mutex_lock(&transport->lock);
	if (rc != 0)
		rc = rc == -ETIMEDOUT ? -ETIMEDOUT : rc == -EPROTO ? -EIO : -ENOTCONN;
	if (rc == 0 && reply.status == WINAPI_STATUS_OK) {
		if (reply.api_id == WINAPI_API_ECHO) {
			slot->reply_length = (uint32_t)reply.payload_size;
		} else {
			memcpy(slot->reply_data, reply.fields, reply.fields_length);
			slot->reply_length = reply.fields_length;
		}
	}
	finish(queue, index, rc != 0 ? rc : winapi_status_to_errno(reply.status));
	pthread_cond_broadcast(&transport->receiving_done);
	pthread_mutex_unlock(&transport->lock);
	return rc;
}

static void *receiver_main(void *argument)
{
	struct hvsock_transport *transport = argument;
	int rc;

	do
		rc = receive_reply(transport);
	while (rc == 0);
	/* Nobody reads any more: let the host see it at once, and a blocked sender fail. */
	shutdown(transport->fd, SHUT_RDWR);
	pthread_mutex_lock(&transport->lock);
	if (rc == -ETIMEDOUT && transport->broken == 0)
		winapi_log(WINAPI_LOG_ERR, "lowlat", "hvsock: the host stopped half-way through a reply for "
			   "WINAPI_TIMEOUT_MS; closing the connection");
	/* -EIO was logged where it was seen; -ENOTCONN is the host closing. */
	else if (rc != -ENOTCONN && rc != -EIO && transport->broken == 0)
		winapi_log(WINAPI_LOG_ERR, "lowlat", "hvsock: connection to the host failed: %s", strerror(-rc));
	break_connection(transport, rc == -EIO || rc == -EPROTO ? -EIO : -ENOTCONN);
	pthread_cond_broadcast(&transport->receiving_done);
	pthread_mutex_unlock(&transport->lock);
	return NULL;
}

/* ---- queues ---- */

static void queue_free(struct hvsock_queue *queue)
{
	pthread_cond_destroy(&queue->done);
	free(queue->added);
	free(queue->slots);
	free(queue);
}

static int hvsock_queue_create(void *opaque, unsigned int depth, int timeout_ms, void **queue_out)
{
	struct hvsock_transport *transport = opaque;
	struct hvsock_queue *queue;
	pthread_condattr_t attributes;
	uint32_t i;
	int rc = -EMFILE;

	if (depth == 0 || depth > 4096)
		return -EINVAL;
	queue = calloc(1, sizeof(*queue));
	if (queue == NULL)
		return -ENOMEM;
	queue->slots = calloc(depth, sizeof(*queue->slots));
	queue->added = calloc(depth, sizeof(*queue->added));
	if (queue->slots == NULL || queue->added == NULL) {
		free(queue->added);
		free(queue->slots);
		free(queue);
		return -ENOMEM;
	}
	pthread_condattr_init(&attributes);
	pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
	pthread_cond_init(&queue->done, &attributes);
	pthread_condattr_destroy(&attributes);
	queue->transport = transport;
	queue->depth = depth;
	queue->timeout_ms = timeout_ms < 0 ? winapi_driver_default_timeout_ms() : timeout_ms;
	queue->done_head = queue->done_tail = NO_SLOT;

	pthread_mutex_lock(&transport->lock);
	for (i = 0; i < HVSOCK_MAX_QUEUES; i++) {
		if (transport->queues[i] == NULL) {
			uint32_t slot, epoch = ++transport->queue_epochs[i];

			queue->index = i;
			for (slot = 0; slot < depth; slot++)
				queue->slots[slot].generation = epoch << 16;
			transport->queues[i] = queue;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&transport->lock);
	if (rc != 0) {
		queue_free(queue);
		return rc;
	}
	*queue_out = queue;
	return 0;
}

static void hvsock_queue_destroy(void *opaque)
{
	struct hvsock_queue *queue = opaque;
	struct hvsock_transport *transport;
	uint32_t i;

	if (queue == NULL)
		return;
	transport = queue->transport;
	pthread_mutex_lock(&transport->lock);
	transport->queues[queue->index] = NULL;
	/* The receiver may be writing a reply into one of this queue's destinations: let it end. */
	for (i = 0; i < queue->depth; i++)
		while (queue->slots[i].state == SLOT_RECEIVING)
			pthread_cond_wait(&transport->receiving_done, &transport->lock);
	pthread_mutex_unlock(&transport->lock);
	queue_free(queue);
}

static uint32_t take_slot(struct hvsock_queue *queue)
{
	uint32_t i, index;

	for (i = 0; i < queue->depth; i++) {
		index = (queue->free_hint + i) % queue->depth;
		if (queue->slots[index].state == SLOT_FREE) {
			queue->free_hint = index + 1;
			return index;
		}
	}
	return NO_SLOT;
}

static int hvsock_queue_add(void *opaque, const struct winapi_call *call, void *user_data)
{
	struct hvsock_queue *queue = opaque;
	struct hvsock_slot *slot;
	uint32_t index, i;
	int timeout_ms, length;

	if (call->request_length > WINAPI_MAX_INLINE_DATA || call->reply_capacity > WINAPI_MAX_INLINE_DATA ||
	    call->buffer_count > WINAPI_MAX_BUFFERS || (call->buffer_count != 0 && call->buffers == NULL))
		return -EINVAL;
	if (call->api_id == WINAPI_API_ECHO ? call->buffer_count != 0 :
					      call->request_length > sizeof(slot->header.fields))
		return -EINVAL;
	for (i = 0; i < call->buffer_count; i++)
		if (call->buffers[i].kind != WINAPI_BUFFER_GPA_DIRECT || call->buffers[i].address == NULL ||
		    call->buffers[i].length == 0 || call->buffers[i].length > WINAPI_MAX_BUFFER_SIZE)
			return -EINVAL; /* only memory of this process: the host has no other */
	pthread_mutex_lock(&queue->transport->lock);
	index = take_slot(queue);
	if (index != NO_SLOT)
		queue->slots[index].state = SLOT_ADDED;
	pthread_mutex_unlock(&queue->transport->lock);
	if (index == NO_SLOT)
		return -EAGAIN;

	slot = &queue->slots[index];
	memset(&slot->header, 0, sizeof(slot->header));
	slot->header.api_id = call->api_id;
	slot->header.flags = queue == queue->transport->call_queue ? 0 : WINAPI_HVSOCK_FLAG_ASYNC;
	if (call->api_id == WINAPI_API_ECHO) {
		memcpy(slot->input, call->request_data, call->request_length);
		slot->header.payload_size = call->request_length;
	} else {
		memcpy(slot->header.fields, call->request_data, call->request_length);
		slot->header.fields_length = call->request_length;
	}
	slot->header.buffer_count = call->buffer_count;
	for (i = 0; i < call->buffer_count; i++) {
		slot->buffers[i] = call->buffers[i];
		slot->header.buffer_lengths[i] = call->buffers[i].length;
	}
	if (winapi_hvsock_bulk(&slot->header) == WINAPI_HVSOCK_BULK_TO_HOST)
		slot->header.payload_size = winapi_hvsock_buffer_bytes(&slot->header);
	slot->reply_data = call->reply_data;
	slot->reply_capacity = call->reply_capacity;
	slot->reply_length = 0;
	slot->user_data = user_data;
	timeout_ms = call->timeout_ms >= 0 ? call->timeout_ms : queue->timeout_ms;
	slot->deadline_ns = lowlat_now_ns() + (uint64_t)timeout_ms * 1000000u;
	/* Encoded now: a request JSON cannot carry is refused here, before the stream sees it. */
	slot->header.request_id = request_id(queue, index);
	length = winapi_hvsock_header_encode(&slot->header, false, slot->text, sizeof(slot->text));
	if (length < 0) {
		pthread_mutex_lock(&queue->transport->lock);
		slot->state = SLOT_FREE;
		pthread_mutex_unlock(&queue->transport->lock);
		return length == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	slot->text_length = (uint32_t)length;
	queue->added[queue->added_count++] = index;
	return 0;
}

/* One request on the socket; the caller holds send_lock. */
static int send_request(struct hvsock_queue *queue, uint32_t index)
{
	struct hvsock_slot *slot = &queue->slots[index];
	struct winapi_hvsock_span spans[WINAPI_MAX_BUFFERS];
	unsigned int span_count = 0, i;

	if (slot->header.api_id == WINAPI_API_ECHO && slot->header.payload_size != 0) {
		spans[span_count++] = (struct winapi_hvsock_span){ .data = slot->input,
								   .length = (size_t)slot->header.payload_size };
	} else if (winapi_hvsock_bulk(&slot->header) == WINAPI_HVSOCK_BULK_TO_HOST) {
		for (i = 0; i < slot->header.buffer_count; i++)
			spans[span_count++] = (struct winapi_hvsock_span){ .data = slot->buffers[i].address,
									   .length = slot->buffers[i].length };
	}
	return winapi_hvsock_send(queue->transport->fd, slot->text, slot->text_length, spans, span_count);
}

static int hvsock_queue_submit(void *opaque)
{
	struct hvsock_queue *queue = opaque;
	struct hvsock_transport *transport = queue->transport;
	uint32_t i, index;
	int sent = 0, rc = 0;

	pthread_mutex_lock(&transport->send_lock);
	for (i = 0; i < queue->added_count; i++) {
		index = queue->added[i];
		pthread_mutex_lock(&transport->lock);
		rc = transport->broken;
		if (rc == 0) {
			queue->slots[index].state = SLOT_SENT; /* before the bytes: the reply may be quick */
			queue->in_flight++;
		} else {
			finish(queue, index, rc);
		}
		pthread_mutex_unlock(&transport->lock);
		if (rc != 0)
			continue;
		rc = send_request(queue, index);
		if (rc != 0) {
			/* Part of a frame may be out: the stream is lost, for every request on it. */
			winapi_log(WINAPI_LOG_ERR, "lowlat", "hvsock: cannot send to the host: %s%s", strerror(-rc),
				   rc == -EAGAIN ? " (it stopped reading for longer than WINAPI_TIMEOUT_MS)" : "");
			pthread_mutex_lock(&transport->lock);
			/*
			 * This request's own error first, then the others': the receiver, which sees
			 * the shutdown below, would otherwise end it as just one more. (It may have
			 * ended it already, if the host went away first.)
			 */
			if (queue->slots[index].state == SLOT_SENT)
				finish(queue, index, rc == -EAGAIN ? -ETIMEDOUT : -ENOTCONN);
			break_connection(transport, -ENOTCONN);
			pthread_mutex_unlock(&transport->lock);
			shutdown(transport->fd, SHUT_RDWR);
			continue;
		}
		sent++;
	}
	queue->added_count = 0;
	pthread_mutex_unlock(&transport->send_lock);
	if (sent == 0 && transport->broken != 0)
		return -ENOTCONN;
	return sent;
}

/*
 * Requests past their deadline end now; returns the earliest deadline still ahead. (A reply
 * being received is the receiver's: it ends it when the host stops half-way, see
 * receive_reply().)
 */
static uint64_t expire(struct hvsock_queue *queue, uint64_t now)
{
	uint64_t earliest = UINT64_MAX;
	uint32_t i;

	for (i = 0; i < queue->depth; i++) {
		struct hvsock_slot *slot = &queue->slots[i];

		if (slot->state != SLOT_SENT)
			continue;
		if (slot->deadline_ns <= now)
			finish(queue, i, -ETIMEDOUT);
		else if (slot->deadline_ns < earliest)
			earliest = slot->deadline_ns;
	}
	return earliest;
}

static int hvsock_queue_reap(void *opaque, struct winapi_driver_completion *completions, unsigned int max,
			     unsigned int min, int timeout_ms)
{
	struct hvsock_queue *queue = opaque;
	struct hvsock_transport *transport = queue->transport;
	uint64_t start = lowlat_now_ns(), limit = timeout_ms < 0 ? UINT64_MAX : start + (uint64_t)timeout_ms * 1000000u;
	unsigned int count = 0;
	bool spun = false;

	pthread_mutex_lock(&transport->lock);
	for (;;) {
		uint64_t now, wake;

		while (count < max && queue->done_head != NO_SLOT) {
			struct hvsock_slot *slot = &queue->slots[queue->done_head];

			completions[count++] = (struct winapi_driver_completion){
				.user_data = slot->user_data, .status = slot->status, .reply_length = slot->reply_length };
			slot->state = SLOT_FREE;
			queue->done_head = slot->next_done;
			if (queue->done_head == NO_SLOT)
				queue->done_tail = NO_SLOT;
			__atomic_store_n(&queue->done_count, queue->done_count - 1, __ATOMIC_RELAXED);
		}
		if (count >= min || count == max || queue->in_flight == 0)
			break;
		now = lowlat_now_ns();
		wake = expire(queue, now);
		if (queue->done_head != NO_SLOT)
			continue;
		if (now >= limit)
			break;
		if (!spun && transport->spin_ns != 0) {
			/*
			 * Spin first: a reply on a quiet host comes back in microseconds. Yield, not
			 * pause: the receiver thread that completes requests may share this CPU (an
			 * application pinned to one core), and must not wait out the whole spin.
			 */
			uint64_t spin_end = now + transport->spin_ns;

			spun = true;
			pthread_mutex_unlock(&transport->lock);
			while (__atomic_load_n(&queue->done_count, __ATOMIC_ACQUIRE) == 0 && lowlat_now_ns() < spin_end)
				sched_yield();
			pthread_mutex_lock(&transport->lock);
			continue;
		}
		if (wake > limit)
			wake = limit;
		transport->stats.channel.sleeps++;
		struct timespec until = { .tv_sec = (time_t)(wake / 1000000000u), .tv_nsec = (long)(wake % 1000000000u) };
		pthread_cond_timedwait(&queue->done, &transport->lock, &until);
	}
	pthread_mutex_unlock(&transport->lock);
	return (int)count;
}

/* ---- synchronous calls: one request on the handle's own queue ---- */

static int hvsock_call(void *opaque, struct winapi_call *call)
{
	struct hvsock_transport *transport = opaque;
	struct winapi_driver_completion completion;
	int rc;

	pthread_mutex_lock(&transport->call_lock);
	rc = hvsock_queue_add(transport->call_queue, call, NULL);
	if (rc == 0) {
		hvsock_queue_submit(transport->call_queue);
		/* The request's own deadline ends the wait: it never lasts forever. */
		rc = hvsock_queue_reap(transport->call_queue, &completion, 1, 1, -1);
		rc = rc == 1 ? completion.status : -EIO;
		if (rc == 0)
			call->reply_length = completion.reply_length;
	}
	pthread_mutex_unlock(&transport->call_lock);
	return rc;
}

static void hvsock_get_stats(void *opaque, struct winapi_driver_stats *stats)
{
	struct hvsock_transport *transport = opaque;

	pthread_mutex_lock(&transport->lock);
	*stats = transport->stats;
	pthread_mutex_unlock(&transport->lock);
}

/* The socket carries any size: a call is never split for want of room in a packet. */
static uint64_t hvsock_gpa_page_budget(void *opaque, unsigned int buffer_count, uint32_t inline_length)
{
	(void)opaque;
	(void)buffer_count;
	(void)inline_length;
	return WINAPI_HVSOCK_MAX_PAYLOAD / VMBUS_PAGE_SIZE;
}

static void hvsock_close(void *opaque)
{
	struct hvsock_transport *transport = opaque;

	shutdown(transport->fd, SHUT_RDWR);
	pthread_join(transport->receiver, NULL);
	hvsock_queue_destroy(transport->call_queue);
	close(transport->fd);
	pthread_mutex_destroy(&transport->call_lock);
	pthread_mutex_destroy(&transport->send_lock);
	pthread_cond_destroy(&transport->receiving_done);
	pthread_mutex_destroy(&transport->lock);
	free(transport);
}

static const struct lowlat_transport_ops hvsock_ops = {
	.call = hvsock_call,
	.get_stats = hvsock_get_stats,
	.gpa_page_budget = hvsock_gpa_page_budget,
	.queue_create = hvsock_queue_create,
	.queue_destroy = hvsock_queue_destroy,
	.queue_add = hvsock_queue_add,
	.queue_submit = hvsock_queue_submit,
	.queue_reap = hvsock_queue_reap,
	.close = hvsock_close,
};

/* ---- connecting ---- */

static int connect_socket(int *fd_out, char *where, size_t where_size)
{
	const char *path = getenv("WINAPI_SOCKET_PATH");
	const char *cid_text = getenv("WINAPI_SOCKET_CID");
	struct sockaddr_un unix_address = { .sun_family = AF_UNIX };
	struct sockaddr_vm vsock_address = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST };
	struct sockaddr *address;
	socklen_t address_length;
	int timeout_ms = winapi_driver_default_timeout_ms();
	const struct timeval peer_timeout = { .tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000 };
	uint32_t port;
	char *end;
	int fd, rc;

	if (path != NULL && *path != '\0') {
		if (strlen(path) >= sizeof(unix_address.sun_path))
			return -ENAMETOOLONG;
		memcpy(unix_address.sun_path, path, strlen(path) + 1);
		address = (struct sockaddr *)&unix_address;
		address_length = sizeof(unix_address);
		snprintf(where, where_size, "%s", path);
	} else {
		if (winapi_hvsock_port_from_environment(&port) != 0) {
			snprintf(where, where_size, "WINAPI_SOCKET_PORT=%s", getenv("WINAPI_SOCKET_PORT"));
			return -EINVAL;
		}
		if (cid_text != NULL && *cid_text != '\0') {
			errno = 0;
			vsock_address.svm_cid = (unsigned int)strtoul(cid_text, &end, 0);
			if (errno != 0 || *end != '\0') {
				snprintf(where, where_size, "WINAPI_SOCKET_CID=%s", cid_text);
				return -EINVAL;
			}
		}
		vsock_address.svm_port = port;
		address = (struct sockaddr *)&vsock_address;
		address_length = sizeof(vsock_address);
		snprintf(where, where_size, "vsock cid %u port %#x", vsock_address.svm_cid, port);
	}
	fd = socket(address->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * A host that stops reading would block a submit for ever once the socket's buffer is
	 * full, and one that stops half-way through a reply would hold the receiver (and the
	 * caller's buffers) for ever: a send or a frame that makes no progress for a call's whole
	 * timeout fails instead. Between frames the receiver just waits again.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &peer_timeout, sizeof(peer_timeout)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &peer_timeout, sizeof(peer_timeout)) != 0 ||
	    connect(fd, address, address_length) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

int lowlat_hvsock_open(const struct lowlat_transport_ops **ops, void **transport_out)
{
	struct hvsock_transport *transport;
	const char *spin = getenv("VMBUS_SPIN_NS");
	char where[160] = "";
	void *call_queue;
	int rc;

	transport = calloc(1, sizeof(*transport));
	if (transport == NULL)
		return -ENOMEM;
	rc = connect_socket(&transport->fd, where, sizeof(where));
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "hvsock: cannot connect to the host service at %s: %s%s", where,
			   strerror(-rc),
			   rc == -ENOENT || rc == -ECONNREFUSED || rc == -ECONNRESET || rc == -ENODEV ?
				   " (is the host service running and registered for this port? on Linux: "
				   "winapi-hostd; WINAPI_SOCKET_PATH for a unix socket)" :
			   rc == -EAFNOSUPPORT ? " (no AF_VSOCK in this kernel: load hv_sock or vsock)" : "");
		goto err_free_transport;
	}
	winapi_hvsock_reader_init(&transport->reader, transport->fd);
	transport->spin_ns = spin != NULL && *spin != '\0' ? strtoull(spin, NULL, 0) : HVSOCK_SPIN_NS_DEFAULT;
	pthread_mutex_init(&transport->lock, NULL);
	pthread_mutex_init(&transport->send_lock, NULL);
	pthread_mutex_init(&transport->call_lock, NULL);
	pthread_cond_init(&transport->receiving_done, NULL);
	rc = hvsock_queue_create(transport, 1, -1, &call_queue);
	if (rc != 0)
		goto err_destroy_locks;
	transport->call_queue = call_queue;
	rc = -pthread_create(&transport->receiver, NULL, receiver_main, transport);
	if (rc != 0)
		goto err_destroy_queue;
	*ops = &hvsock_ops;
	*transport_out = transport;
	return 0;

err_destroy_queue:
	hvsock_queue_destroy(transport->call_queue);
err_destroy_locks:
	pthread_cond_destroy(&transport->receiving_done);
	pthread_mutex_destroy(&transport->call_lock);
	pthread_mutex_destroy(&transport->send_lock);
	pthread_mutex_destroy(&transport->lock);
	close(transport->fd);
err_free_transport:
	free(transport);
	return rc;
}
