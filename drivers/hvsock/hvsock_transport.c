/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Hyper-V socket transport (WSL2), on the wire of <winapi_internal/hvsock.h>: requests are
 * framed and written by the thread that submits them, many in flight; one receiver thread per
 * handle reads every reply, matches it by request_id in the request table (lib/requests), and
 * lands its bulk data straight in the caller's output or buffers. Because the receiver always
 * reads, the host never blocks writing a reply, so it always gets back to reading requests: a
 * large write from one side cannot deadlock against a large reply from the other.
 *
 * The seed APIs go in the seed's frames; any other API, and LIST, in the generic frame, whose
 * payload carries the buffers the host's table says it reads, and whose reply carries back
 * those it writes: a buffer the host only reads is never written here, whatever it sends.
 *
 * A request's deadline runs from its submit (a synchronous call's: from the call) and holds
 * both ways. Its frame goes out by then or is cut, never blocked in the kernel, so a host that
 * takes a byte at a time cannot stretch it; a cut frame ends the connection. One frame is on
 * the socket at a time (send_lock), one synchronous call at a time (call_lock): a request
 * waiting for either waits no later than its own deadline, then ends unsent (-ETIMEDOUT) and
 * the connection stays. A queue's batch goes in order: a request with a shorter timeout than
 * one added before it may end at that one's deadline.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include <vmbus/memory.h>
#include <winapi/log.h>
#include <winapi/protocol.h>
#include <winapi_internal/clock.h>
#include <winapi_internal/hvsock.h>
#include <winapi_internal/request_table.h>
#include <winapi_internal/transport.h>

#define HVSOCK_SPIN_NS_DEFAULT 50000u

/* A request's own part, kept in its slot of the table. */
struct hvsock_request {
	struct winapi_hvsock_header header;
	uint8_t input[WINAPI_MAX_INLINE_DATA];  /* echo, generic: the inline bytes, copied at add */
	uint8_t access[WINAPI_MAX_BUFFERS];     /* generic: WINAPI_ACCESS_* per buffer, from the host's table */
	struct winapi_call_buffer buffers[WINAPI_MAX_BUFFERS];
	void *reply_data;
	uint32_t reply_capacity;
	uint32_t text_length;
	char text[WINAPI_HVSOCK_MAX_HEADER]; /* the request's header, encoded when it is added */
};

struct hvsock_transport {
	int fd;
	struct winapi_hvsock_reader reader; /* the receiver thread's */
	pthread_t receiver;
	struct request_table table;
	pthread_mutex_t send_lock;    /* one frame at a time on the socket (lock_until()) */
	pthread_mutex_t call_lock;    /* synchronous calls share one queue (lock_until()) */
	struct request_queue *call_queue;
	uint64_t spin_ns;
};

/* ---- the receiver ---- */

/* A generic reply: the api asked for, inline bytes that fit, and exactly the buffers the host writes. */
static int check_generic_reply(const struct hvsock_request *request, const struct winapi_hvsock_header *reply)
{
	if (strcmp(reply->api_name, request->header.api_name) != 0)
		return -EBADMSG;
	if (reply->status != WINAPI_STATUS_OK)
		return 0; /* no payload: the decoder saw to it */
	if (reply->inline_length > request->reply_capacity ||
	    reply->payload_size != reply->inline_length + winapi_hvsock_access_bytes(&request->header, request->access,
										       WINAPI_ACCESS_HOST_WRITES))
		return -EBADMSG;
	return 0;
}

/* Whether a reply fits what was asked: its api, and exactly the payload expected. 0 or -EBADMSG. */
static int check_reply(const struct hvsock_request *request, const struct winapi_hvsock_header *reply)
{
	if (reply->status == WINAPI_STATUS_UNSUPPORTED_API && reply->api_id == 0 && !winapi_hvsock_is_generic(reply))
		return 0; /* the host does not know the api, and so names none (so does a 1.0 host for LIST) */
	if (winapi_hvsock_is_generic(&request->header))
		return check_generic_reply(request, reply);
	if (reply->api_id != request->header.api_id)
		return -EBADMSG;
	if (reply->status != WINAPI_STATUS_OK)
		return 0;
	if (reply->api_id == WINAPI_API_ECHO)
		return reply->payload_size <= request->reply_capacity ? 0 : -EBADMSG;
	if (reply->fields_length > request->reply_capacity)
		return -EBADMSG;
	if (winapi_hvsock_bulk(&request->header) == WINAPI_HVSOCK_BULK_TO_GUEST)
		return reply->payload_size == winapi_hvsock_buffer_bytes(&request->header) ? 0 : -EBADMSG;
	return reply->payload_size == 0 ? 0 : -EBADMSG;
}

/* The payload of an accepted reply, straight into the caller's output or buffers. */
static int receive_payload(struct hvsock_transport *transport, const struct hvsock_request *request,
			   const struct winapi_hvsock_header *reply)
{
	uint32_t i;
	int rc;

	if (reply->payload_size == 0)
		return 0;
	if (reply->api_id == WINAPI_API_ECHO)
		return winapi_hvsock_receive(&transport->reader, request->reply_data, reply->payload_size);
	if (winapi_hvsock_is_generic(reply)) {
		rc = winapi_hvsock_receive(&transport->reader, request->reply_data, reply->inline_length);
		for (i = 0; rc == 0 && i < request->header.buffer_count; i++)
			if (request->access[i] & WINAPI_ACCESS_HOST_WRITES)
				rc = winapi_hvsock_receive(&transport->reader, (void *)request->buffers[i].address,
							   request->buffers[i].length);
		return rc;
	}
	for (i = 0; i < request->header.buffer_count; i++) {
		rc = winapi_hvsock_receive(&transport->reader, (void *)request->buffers[i].address,
					   request->buffers[i].length);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* One reply frame. Returns 0, or the error that ends the connection. */
static int receive_reply(struct hvsock_transport *transport)
{
	struct request_table *table = &transport->table;
	char text[WINAPI_HVSOCK_MAX_HEADER];
	struct winapi_hvsock_header reply;
	struct request_queue *queue = NULL;
	struct hvsock_request *request = NULL;
	uint64_t frame_deadline, request_deadline, consumed;
	uint32_t index = 0;
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

	pthread_mutex_lock(&table->lock);
	/* A reply to a request that ended (or to nothing) is counted there; its payload is dropped. */
	if (request_table_find(table, reply.request_id, winapi_clock_now_ns(), &queue, &index) == 0) {
		request = request_payload(queue, index);
		verdict = check_reply(request, &reply);
		if (verdict == 0)
			request_begin_receiving(queue, index);
		else
			request_finish(queue, index, verdict);
	}
	pthread_mutex_unlock(&table->lock);

	if (request == NULL || verdict != 0)
		return winapi_hvsock_receive(&transport->reader, NULL, reply.payload_size);
	/*
	 * RECEIVING: nobody else ends this request, and its queue waits for it before it goes;
	 * so its deadline is kept here. Its bytes land only until then, however long the frame
	 * may take (a large reply to a call with a long timeout): a host that trickles them
	 * cannot hold the call past it.
	 */
	frame_deadline = transport->reader.deadline_ns;
	request_deadline = queue->slots[index].deadline_ns;
	consumed = transport->reader.consumed;
	transport->reader.deadline_ns = request_deadline;
	rc = receive_payload(transport, request, &reply);
	if (rc == -ETIMEDOUT && winapi_clock_now_ns() >= request_deadline) {
		pthread_mutex_lock(&table->lock);
		request_finish(queue, index, -ETIMEDOUT);
		pthread_mutex_unlock(&table->lock);
		/*
		 * The rest of the frame is dropped if it comes within the frame's own bound: a
		 * slow host keeps its connection, a stalled one loses it (the stream cannot be
		 * resynchronised).
		 */
		transport->reader.deadline_ns = frame_deadline > request_deadline ? frame_deadline : request_deadline;
		return winapi_hvsock_receive(&transport->reader, NULL,
					     reply.payload_size - (transport->reader.consumed - consumed));
	}

	pthread_mutex_lock(&table->lock);
	if (rc != 0)
		rc = rc == -ETIMEDOUT ? -ETIMEDOUT : rc == -EPROTO ? -EIO : -ENOTCONN;
	if (rc == 0 && reply.status == WINAPI_STATUS_OK) {
		if (winapi_hvsock_is_generic(&reply)) {
			queue->slots[index].reply_length = reply.inline_length;
		} else if (reply.api_id == WINAPI_API_ECHO) {
			queue->slots[index].reply_length = (uint32_t)reply.payload_size;
		} else {
			memcpy(request->reply_data, reply.fields, reply.fields_length);
			queue->slots[index].reply_length = reply.fields_length;
		}
	}
	request_finish(queue, index, rc != 0 ? rc : winapi_status_to_errno(reply.status));
	pthread_mutex_unlock(&table->lock);
	return rc;
}

static void *receiver_main(void *argument)
{
	struct hvsock_transport *transport = argument;
	struct request_table *table = &transport->table;
	int rc;

	do
		rc = receive_reply(transport);
	while (rc == 0);
	/* Nobody reads any more: let the host see it at once, and a blocked sender fail. */
	shutdown(transport->fd, SHUT_RDWR);
	pthread_mutex_lock(&table->lock);
	if (rc == -ETIMEDOUT && table->broken == 0)
		winapi_log(WINAPI_LOG_ERR, "lowlat", "hvsock: the host took longer than WINAPI_TIMEOUT_MS (and "
			   "its request's deadline) to send one reply; closing the connection");
	/* -EIO was logged where it was seen; -ENOTCONN is the host closing. */
	else if (rc != -ENOTCONN && rc != -EIO && table->broken == 0)
		winapi_log(WINAPI_LOG_ERR, "lowlat", "hvsock: connection to the host failed: %s", strerror(-rc));
	request_table_fail_all(table, rc == -EIO || rc == -EPROTO ? -EIO : -ENOTCONN);
	pthread_mutex_unlock(&table->lock);
	return NULL;
}

/*
 * The table's wait (under its lock): the receiver completes requests, so a reaper only
 * waits. It spins first: a reply on a quiet host comes back in microseconds. It yields
 * rather than pauses while it spins: the receiver may share its CPU (an application pinned
 * to one core), and must not wait out the whole spin.
 */
static void wait_for_receiver(struct request_table *table, void *context, struct request_queue *queue,
			      unsigned int round, uint64_t now_ns, uint64_t wake_ns)
{
	struct hvsock_transport *transport = context;

	if (round == 0 && transport->spin_ns != 0) {
		uint64_t spin_end = now_ns + transport->spin_ns < wake_ns ? now_ns + transport->spin_ns : wake_ns;

		pthread_mutex_unlock(&table->lock);
		while (__atomic_load_n(&queue->done_count, __ATOMIC_ACQUIRE) == 0 && winapi_clock_now_ns() < spin_end)
			sched_yield();
		pthread_mutex_lock(&table->lock);
		return;
	}
	table->stats.sleeps++;
	request_queue_wait(queue, wake_ns);
}

/* ---- queues ---- */

static int hvsock_queue_create(void *context, unsigned int depth, int timeout_ms, void **queue_out)
{
	struct hvsock_transport *transport = context;
	struct request_queue *queue;
	int rc = request_queue_create(&transport->table, depth, timeout_ms, sizeof(struct hvsock_request), &queue);

	if (rc == 0)
		*queue_out = queue;
	return rc;
}

static void hvsock_queue_destroy(void *queue)
{
	int notify_fd = ((struct request_queue *)queue)->notify_fd;

	request_queue_destroy(queue);
	if (notify_fd >= 0)
		close(notify_fd);
}

/*
 * The receiver thread finishes every request: an application's event loop waits on an eventfd
 * the request table writes as it does (no thread of the application's needed).
 */
static int hvsock_queue_event_fd(void *opaque)
{
	struct request_queue *queue = opaque;
	int fd;

	if (queue->notify_fd >= 0)
		return queue->notify_fd;
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&queue->table->lock);
	request_queue_set_notify(queue, fd);
	pthread_mutex_unlock(&queue->table->lock);
	return fd;
}

/*
 * A generic frame's header: the API by name (LIST by its own), and the payload's size from
 * the host's table's buffer_access, which is copied, as the inline bytes are. Nothing is
 * taken that a frame could not carry either way: -EMSGSIZE.
 */
static int prepare_generic(const struct winapi_call *call, struct hvsock_request *request)
{
	const char *name = call->api_id == WINAPI_API_LIST ? WINAPI_API_LIST_NAME : call->api_name;
	struct winapi_hvsock_header *header = &request->header;

	if (name == NULL || strlen(name) >= sizeof(header->api_name) ||
	    (call->buffer_count != 0 && call->buffer_access == NULL))
		return -EINVAL;
	memcpy(header->api_name, name, strlen(name) + 1);
	header->api_version = call->api_version;
	header->inline_length = call->request_length;
	header->reply_capacity = call->reply_capacity;
	memset(request->access, 0, sizeof(request->access));
	if (call->buffer_count != 0)
		memcpy(request->access, call->buffer_access, call->buffer_count);
	header->payload_size = call->request_length +
			       winapi_hvsock_access_bytes(header, request->access, WINAPI_ACCESS_HOST_READS);
	if (header->payload_size > WINAPI_HVSOCK_MAX_PAYLOAD ||
	    call->reply_capacity + winapi_hvsock_access_bytes(header, request->access, WINAPI_ACCESS_HOST_WRITES) >
		    WINAPI_HVSOCK_MAX_PAYLOAD)
		return -EMSGSIZE;
	/* A call with no input (host.time) has no request_data: memcpy() of NULL is undefined. */
	if (call->request_length != 0)
		memcpy(request->input, call->request_data, call->request_length);
	return 0;
}

static int hvsock_queue_add(void *opaque, const struct winapi_call *call, void *user_data)
{
	struct request_queue *queue = opaque;
	struct hvsock_transport *transport = queue->table->wait_context;
	struct hvsock_request *request;
	bool generic = call->api_name != NULL || call->api_id == WINAPI_API_LIST;
	uint32_t index, i;
	int length, rc;

	if (call->request_length > WINAPI_MAX_INLINE_DATA || call->reply_capacity > WINAPI_MAX_INLINE_DATA ||
	    call->buffer_count > WINAPI_MAX_BUFFERS || (call->buffer_count != 0 && call->buffers == NULL) ||
	    (call->request_length != 0 && call->request_data == NULL) ||
	    (call->reply_capacity != 0 && call->reply_data == NULL))
		return -EINVAL;
	if (!generic && (call->api_id == WINAPI_API_ECHO ? call->buffer_count != 0 :
							   call->request_length > sizeof(request->header.fields)))
		return -EINVAL;
	for (i = 0; i < call->buffer_count; i++)
		if (call->buffers[i].kind != WINAPI_BUFFER_GPA_DIRECT || call->buffers[i].address == NULL ||
		    call->buffers[i].length == 0 || call->buffers[i].length > WINAPI_MAX_BUFFER_SIZE)
			return -EINVAL; /* only memory of this process: the host has no other */
	index = request_queue_take(queue, call->timeout_ms, user_data);
	if (index == REQUEST_NO_SLOT)
		return -EAGAIN;

	request = request_payload(queue, index);
	memset(&request->header, 0, sizeof(request->header));
	request->header.flags = queue == transport->call_queue ? 0 : WINAPI_HVSOCK_FLAG_ASYNC;
	request->header.buffer_count = call->buffer_count;
	for (i = 0; i < call->buffer_count; i++) {
		request->buffers[i] = call->buffers[i];
		request->header.buffer_lengths[i] = call->buffers[i].length;
	}
	if (generic) {
		rc = prepare_generic(call, request);
		if (rc != 0)
			goto err_untake;
	} else {
		request->header.api_id = call->api_id;
		if (call->api_id == WINAPI_API_ECHO) {
			memcpy(request->input, call->request_data, call->request_length);
			request->header.payload_size = call->request_length;
		} else {
			memcpy(request->header.fields, call->request_data, call->request_length);
			request->header.fields_length = call->request_length;
		}
		if (winapi_hvsock_bulk(&request->header) == WINAPI_HVSOCK_BULK_TO_HOST)
			request->header.payload_size = winapi_hvsock_buffer_bytes(&request->header);
	}
	request->reply_data = call->reply_data;
	request->reply_capacity = call->reply_capacity;
	/* Encoded now: a request JSON cannot carry is refused here, before the stream sees it. */
	request->header.request_id = request_id(queue, index);
	length = winapi_hvsock_header_encode(&request->header, false, request->text, sizeof(request->text));
	if (length < 0) {
		rc = length == -ENOMEM ? -ENOMEM : -EINVAL;
		goto err_untake;
	}
	request->text_length = (uint32_t)length;
	return 0;

err_untake:
	request_queue_untake(queue, index);
	return rc;
}

/*
 * Lock @p lock no later than @p deadline_ns (CLOCK_MONOTONIC). pthread_mutex_timedlock() wants
 * CLOCK_REALTIME (ThreadSanitizer knows no pthread_mutex_clocklock()): the time left is carried
 * over, so only a step of the wall clock while waiting moves the end. 0 or -ETIMEDOUT.
 */
static int lock_until(pthread_mutex_t *lock, uint64_t deadline_ns)
{
	struct timespec until;
	uint64_t now, left;

	if (pthread_mutex_trylock(lock) == 0)
		return 0;
	now = winapi_clock_now_ns();
	if (now >= deadline_ns)
		return -ETIMEDOUT;
	if (deadline_ns == UINT64_MAX)
		return -pthread_mutex_lock(lock);
	left = deadline_ns - now;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(left / 1000000000u);
	until.tv_nsec += (long)(left % 1000000000u);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	return pthread_mutex_timedlock(lock, &until) == 0 ? 0 : -ETIMEDOUT;
}

/*
 * Wait for room in the socket, no later than @p deadline_ns. Nothing of the frame is out
 * yet, so giving up here leaves the stream whole. 0; -ETIMEDOUT; a negative errno.
 */
static int wait_for_room(int fd, uint64_t deadline_ns)
{
	struct pollfd room = { .fd = fd, .events = POLLOUT };
	uint64_t now, left;
	int timeout_ms = 0, rc;

	for (;;) {
		rc = poll(&room, 1, timeout_ms);
		if (rc > 0)
			return 0; /* room, or an error or hang-up the send reports */
		if (rc < 0 && errno != EINTR)
			return -errno;
		now = winapi_clock_now_ns();
		if (now >= deadline_ns)
			return -ETIMEDOUT;
		left = deadline_ns - now;
		/* Rounded up: a wait that ends a little early would only poll again. */
		timeout_ms = left >= 3600000000000u ? 3600000 : (int)((left + 999999u) / 1000000u);
	}
}

/*
 * One request on the socket by @p deadline_ns; the caller holds send_lock. 0; -EAGAIN (no
 * room by the deadline, nothing of the frame sent: the stream holds); -ETIMEDOUT (the
 * deadline passed inside the frame); another negative errno (the stream is lost).
 */
static int send_request(struct hvsock_transport *transport, const struct hvsock_request *request,
			uint64_t deadline_ns)
{
	struct winapi_hvsock_span spans[WINAPI_HVSOCK_MAX_SPANS];
	unsigned int span_count = 0, i;
	int rc;

	if (winapi_hvsock_is_generic(&request->header)) {
		/* The inline bytes, then what the host reads, in buffer order (winapi_hvsock_access_bytes()). */
		spans[span_count++] = (struct winapi_hvsock_span){ .data = request->input,
								   .length = request->header.inline_length };
		for (i = 0; i < request->header.buffer_count; i++)
			if (request->access[i] & WINAPI_ACCESS_HOST_READS)
				spans[span_count++] = (struct winapi_hvsock_span){
					.data = request->buffers[i].address, .length = request->buffers[i].length };
	} else if (request->header.api_id == WINAPI_API_ECHO && request->header.payload_size != 0) {
		spans[span_count++] = (struct winapi_hvsock_span){ .data = request->input,
								   .length = (size_t)request->header.payload_size };
	} else if (winapi_hvsock_bulk(&request->header) == WINAPI_HVSOCK_BULK_TO_HOST) {
		for (i = 0; i < request->header.buffer_count; i++)
			spans[span_count++] = (struct winapi_hvsock_span){ .data = request->buffers[i].address,
									   .length = request->buffers[i].length };
	}
	rc = wait_for_room(transport->fd, deadline_ns);
	if (rc != 0)
		return rc == -ETIMEDOUT ? -EAGAIN : rc;
	/*
	 * Never blocked in the kernel: every wait for room polls with the time left to the
	 * request's absolute deadline, so a host that takes a byte now and then cannot stretch it.
	 */
	return winapi_hvsock_send_until(transport->fd, deadline_ns, request->text, request->text_length, spans,
					span_count);
}

/*
 * The queue's added requests, in order, each by its deadline from @p start_ns. Each waits
 * for the socket (another thread's frame may hold it) no later than its own deadline, and
 * ends unsent if that passes: the stream is untouched, the connection kept. Once a frame is
 * started it is finished by its request's deadline or cut, and a cut frame ends the
 * connection: the host cannot find the next frame's start, and the caller's buffers are its
 * own again once the call returns, so the rest cannot be sent later.
 */
static int submit_from(struct request_queue *queue, uint64_t start_ns)
{
	struct hvsock_transport *transport = queue->table->wait_context;
	struct request_table *table = &transport->table;
	bool locked = false;
	uint64_t deadline;
	uint32_t index;
	int sent = 0, rc = 0;

	while ((index = request_queue_next_added(queue)) != REQUEST_NO_SLOT) {
		deadline = winapi_clock_deadline_after(start_ns, queue->slots[index].timeout_ms);
		rc = locked ? 0 : lock_until(&transport->send_lock, deadline);
		locked = rc == 0;
		pthread_mutex_lock(&table->lock);
		if (rc == 0)
			rc = table->broken;
		if (rc == 0 && winapi_clock_now_ns() >= deadline)
			rc = -ETIMEDOUT;
		if (rc == 0)
			request_mark_sent(queue, index, start_ns); /* before the bytes: the reply may be quick */
		else
			request_finish(queue, index, rc);
		pthread_mutex_unlock(&table->lock);
		if (rc != 0)
			continue;
		rc = send_request(transport, request_payload(queue, index), deadline);
		if (rc == -EAGAIN) {
			pthread_mutex_lock(&table->lock);
			if (queue->slots[index].state == REQUEST_SENT)
				request_finish(queue, index, -ETIMEDOUT);
			pthread_mutex_unlock(&table->lock);
			continue;
		}
		if (rc != 0) {
			/* Part of a frame may be out: the stream is lost, for every request on it. */
			if (rc == -ETIMEDOUT)
				winapi_log(WINAPI_LOG_ERR, "lowlat", "hvsock: the host did not take a request by its "
					   "deadline; the frame is cut, closing the connection");
			else
				winapi_log(WINAPI_LOG_ERR, "lowlat", "hvsock: cannot send to the host: %s", strerror(-rc));
			pthread_mutex_lock(&table->lock);
			/*
			 * This request's own error first, then the others': the receiver, which sees
			 * the shutdown below, would otherwise end it as just one more. (It may have
			 * ended it already, if the host went away first.)
			 */
			if (queue->slots[index].state == REQUEST_SENT)
				request_finish(queue, index, rc == -ETIMEDOUT ? -ETIMEDOUT : -ENOTCONN);
			request_table_fail_all(table, -ENOTCONN);
			pthread_mutex_unlock(&table->lock);
			shutdown(transport->fd, SHUT_RDWR);
			continue;
		}
		sent++;
	}
	if (locked)
		pthread_mutex_unlock(&transport->send_lock);
	if (sent == 0 && __atomic_load_n(&table->broken, __ATOMIC_RELAXED) != 0)
		return -ENOTCONN;
	return sent;
}

static int hvsock_queue_submit(void *opaque)
{
	struct request_queue *queue = opaque;

	if (request_queue_peek_added(queue) == REQUEST_NO_SLOT)
		return 0;
	return submit_from(queue, winapi_clock_now_ns());
}

static int hvsock_queue_reap(void *opaque, struct winapi_call_completion *completions, unsigned int max,
			     unsigned int min, int timeout_ms)
{
	struct request_queue *queue = opaque;
	uint64_t count;

	/* What woke an application's poll: taken, so that the eventfd does not stay readable. */
	if (queue->notify_fd >= 0 && timeout_ms == 0)
		(void)!read(queue->notify_fd, &count, sizeof(count));
	return request_queue_reap(queue, completions, max, min, timeout_ms);
}

/* ---- synchronous calls: one request on the handle's own queue ---- */

static int hvsock_call(void *context, struct winapi_call *call)
{
	struct hvsock_transport *transport = context;
	struct winapi_call_completion completion;
	uint64_t start_ns = winapi_clock_now_ns();
	int timeout_ms = call->timeout_ms >= 0 ? call->timeout_ms : transport->call_queue->timeout_ms;
	int rc;

	/* Behind another thread's call no later than this one's deadline, counted from here. */
	rc = lock_until(&transport->call_lock, winapi_clock_deadline_after(start_ns, timeout_ms));
	if (rc != 0)
		return rc;
	rc = hvsock_queue_add(transport->call_queue, call, NULL);
	if (rc == 0) {
		submit_from(transport->call_queue, start_ns);
		/* The request's own deadline ends the wait: it never lasts forever. */
		rc = request_queue_reap(transport->call_queue, &completion, 1, 1, -1);
		rc = rc == 1 ? completion.status : -EIO;
		if (rc == 0)
			call->reply_length = completion.reply_length;
	}
	pthread_mutex_unlock(&transport->call_lock);
	return rc;
}

static void hvsock_get_stats(void *context, struct winapi_transport_stats *stats)
{
	struct hvsock_transport *transport = context;

	request_table_get_stats(&transport->table, stats);
}

/* The socket carries any size: a call is never split for want of room in a packet. */
static uint64_t hvsock_buffer_page_budget(void *context, unsigned int buffer_count, uint32_t inline_length)
{
	(void)context;
	(void)buffer_count;
	(void)inline_length;
	return WINAPI_HVSOCK_MAX_PAYLOAD / VMBUS_PAGE_SIZE;
}

static void hvsock_close(void *context)
{
	struct hvsock_transport *transport = context;

	shutdown(transport->fd, SHUT_RDWR);
	pthread_join(transport->receiver, NULL);
	request_queue_destroy(transport->call_queue);
	close(transport->fd);
	pthread_mutex_destroy(&transport->call_lock);
	pthread_mutex_destroy(&transport->send_lock);
	request_table_destroy(&transport->table);
	free(transport);
}

static const struct winapi_transport_ops hvsock_ops = {
	.call = hvsock_call,
	.get_stats = hvsock_get_stats,
	.buffer_page_budget = hvsock_buffer_page_budget,
	.queue_create = hvsock_queue_create,
	.queue_destroy = hvsock_queue_destroy,
	.queue_add = hvsock_queue_add,
	.queue_submit = hvsock_queue_submit,
	.queue_reap = hvsock_queue_reap,
	.queue_event_fd = hvsock_queue_event_fd,
	.close = hvsock_close,
};

/* ---- connecting ---- */

static int connect_socket(int *fd_out, char *where, size_t where_size)
{
	const char *path = secure_getenv("WINAPI_SOCKET_PATH");
	const char *tcp = secure_getenv("WINAPI_SOCKET_TCP");
	const char *cid_text = secure_getenv("WINAPI_SOCKET_CID");
	struct sockaddr_un unix_address = { .sun_family = AF_UNIX };
	struct sockaddr_in tcp_address = { .sin_family = AF_INET };
	struct sockaddr_vm vsock_address = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST };
	struct sockaddr *address;
	socklen_t address_length;
	int timeout_ms = request_default_timeout_ms();
	const struct timeval peer_timeout = { .tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000 };
	uint32_t port, loopback;
	uint16_t tcp_port;
	char *end;
	int fd, rc;

	if (path != NULL && *path != '\0') {
		if (strlen(path) >= sizeof(unix_address.sun_path))
			return -ENAMETOOLONG;
		memcpy(unix_address.sun_path, path, strlen(path) + 1);
		address = (struct sockaddr *)&unix_address;
		address_length = sizeof(unix_address);
		snprintf(where, where_size, "%s", path);
	} else if (tcp != NULL && *tcp != '\0') {
		snprintf(where, where_size, "WINAPI_SOCKET_TCP=%s", tcp);
		rc = winapi_hvsock_parse_loopback(tcp, false, &loopback, &tcp_port);
		if (rc != 0)
			return rc;
		tcp_address.sin_addr.s_addr = htonl(loopback);
		tcp_address.sin_port = htons(tcp_port);
		address = (struct sockaddr *)&tcp_address;
		address_length = sizeof(tcp_address);
	} else {
		if (winapi_hvsock_port_from_environment(&port) != 0) {
			snprintf(where, where_size, "WINAPI_SOCKET_PORT=%s", secure_getenv("WINAPI_SOCKET_PORT"));
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
	 * A host that stops half-way through a reply would hold the receiver (and the caller's
	 * buffers) for ever: a frame that makes no progress for a call's whole timeout fails
	 * instead. Between frames the receiver just waits again. Sends never block in the kernel
	 * (submit_from()): the send timeout bounds only a connect to a listener whose backlog is full.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &peer_timeout, sizeof(peer_timeout)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &peer_timeout, sizeof(peer_timeout)) != 0 ||
	    connect(fd, address, address_length) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	/* A frame goes as a header and a payload: Nagle would hold the second for the peer's ACK. */
	if (address->sa_family == AF_INET)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	*fd_out = fd;
	return 0;
}

/*
 * Connect ($WINAPI_SOCKET_PATH, else loopback TCP to $WINAPI_SOCKET_TCP, else AF_VSOCK to
 * $WINAPI_SOCKET_CID or the host, port $WINAPI_SOCKET_PORT). Never chosen automatically: a guest with both a VMBus device and a
 * Hyper-V socket takes VMBus unless told otherwise.
 */
static int hvsock_open(bool automatic, struct winapi_transport_instance *instance)
{
	struct hvsock_transport *transport;
	const char *spin = secure_getenv("VMBUS_SPIN_NS");
	char where[160] = "";
	int rc;

	(void)automatic;
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
	/* The fixed bound on any frame from the host, from its first byte: a stalled stream is broken. */
	transport->reader.frame_timeout_ms = (unsigned int)request_default_timeout_ms();
	transport->spin_ns = spin != NULL && *spin != '\0' ? strtoull(spin, NULL, 0) : HVSOCK_SPIN_NS_DEFAULT;
	rc = request_table_init(&transport->table, "lowlat", wait_for_receiver, transport);
	if (rc != 0)
		goto err_close_socket;
	pthread_mutex_init(&transport->send_lock, NULL);
	pthread_mutex_init(&transport->call_lock, NULL);
	rc = request_queue_create(&transport->table, 1, -1, sizeof(struct hvsock_request), &transport->call_queue);
	if (rc != 0)
		goto err_destroy_locks;
	rc = -pthread_create(&transport->receiver, NULL, receiver_main, transport);
	if (rc != 0)
		goto err_destroy_queue;
	*instance = (struct winapi_transport_instance){ .ops = &hvsock_ops, .context = transport, .device = NULL };
	return 0;

err_destroy_queue:
	request_queue_destroy(transport->call_queue);
err_destroy_locks:
	pthread_mutex_destroy(&transport->call_lock);
	pthread_mutex_destroy(&transport->send_lock);
	request_table_destroy(&transport->table);
err_close_socket:
	close(transport->fd);
err_free_transport:
	free(transport);
	return rc;
}

const struct winapi_transport winapi_transport_hvsock = {
	.name = "hvsock",
	.automatic = false,
	.open = hvsock_open,
};
