/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest-side winapi driver: many requests in flight on one channel, from any number of
 * queues (one per thread), matched to their completions by trans_id. The requests live in
 * the request table (lib/requests): trans_id is the table's request id, so a completion for
 * anything but the request now in its slot is recognised (stale or unknown) and dropped.
 * Everything read back from the host is validated before use.
 *
 * Locks: tx_lock covers writing to the ring and publishing (one publication, one signal
 * decision per submitted batch). The table's lock covers the slots of requests in flight,
 * the done lists and the reaper election. Order: tx_lock, then the table's lock. One thread
 * at a time drains the RX ring (the leader); the others sleep on their queue until the
 * leader hands their completions over or steps down, or their deadlines come.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <vmbus/channel.h>
#include <vmbus/memory.h>
#include <winapi/log.h>
#include <winapi/protocol.h>
#include <winapi_internal/clock.h>
#include <winapi_internal/request_table.h>
#include <winapi_internal/winapi_driver.h>

/* A request's own bytes, copied at add time: the caller's may go away after that. */
struct driver_request {
	uint16_t api_id;
	uint16_t api_version;
	uint32_t request_length;
	uint8_t request[WINAPI_MAX_INLINE_DATA];
	void *reply_data;
	uint32_t reply_capacity;
	struct winapi_call_buffer buffers[WINAPI_MAX_BUFFERS];
	unsigned int buffer_count;
};

struct winapi_driver_queue {
	struct winapi_driver *driver;
	struct request_queue *requests;
	int notify_fd;   /* -1, or the eventfd its finished requests write */
	int event_fd;    /* -1, or the epoll set an application polls */
};

struct winapi_driver {
	struct vmbus_device *device;
	struct vmbus_channel *channel;
	struct request_table table;
	pthread_mutex_t tx_lock;
	bool reaping;                          /* under the table's lock: a leader drains the RX ring */
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

static void wait_for_completions(struct request_table *table, void *context, struct request_queue *queue,
				 unsigned int round, uint64_t now_ns, uint64_t wake_ns);

/* ---- opening ---- */

int winapi_driver_open(struct vmbus_device *device, unsigned int channel_index, struct winapi_driver **driver_out)
{
	struct vmbus_guid winapi_class;
	struct winapi_driver *driver;
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
	rc = request_table_init(&driver->table, "winapi", wait_for_completions, driver);
	if (rc != 0)
		goto err_free_buffers;
	pthread_mutex_init(&driver->tx_lock, NULL);
	pthread_mutex_init(&driver->call_lock, NULL);
	rc = winapi_driver_queue_create(driver, 1, -1, &driver->call_queue);
	if (rc != 0)
		goto err_destroy_locks;
	*driver_out = driver;
	return 0;

err_destroy_locks:
	pthread_mutex_destroy(&driver->call_lock);
	pthread_mutex_destroy(&driver->tx_lock);
	request_table_destroy(&driver->table);
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
	pthread_mutex_destroy(&driver->call_lock);
	pthread_mutex_destroy(&driver->tx_lock);
	request_table_destroy(&driver->table);
	free(driver->pfns);
	free(driver->gpa_header);
	free(driver->receive_buffer);
	vmbus_chan_close(driver->channel);
	free(driver);
}

void winapi_driver_get_stats(struct winapi_driver *driver, struct winapi_transport_stats *stats)
{
	struct vmbus_chan_stats channel;

	request_table_get_stats(&driver->table, stats);
	vmbus_chan_get_stats(driver->channel, &channel);
	stats->signals_sent = channel.signals_sent;
	stats->sleeps = channel.sleeps;
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
	int rc;

	if (driver == NULL || queue_out == NULL)
		return -EINVAL;
	queue = calloc(1, sizeof(*queue));
	if (queue == NULL)
		return -ENOMEM;
	rc = request_queue_create(&driver->table, depth, timeout_ms, sizeof(struct driver_request),
				  &queue->requests);
	if (rc != 0) {
		free(queue);
		return rc;
	}
	queue->driver = driver;
	queue->notify_fd = -1;
	queue->event_fd = -1;
	*queue_out = queue;
	return 0;
}

void winapi_driver_queue_destroy(struct winapi_driver_queue *queue)
{
	if (queue == NULL)
		return;
	request_queue_destroy(queue->requests);
	if (queue->event_fd >= 0)
		close(queue->event_fd);
	if (queue->notify_fd >= 0)
		close(queue->notify_fd);
	free(queue);
}

int winapi_driver_queue_event_fd(struct winapi_driver_queue *queue)
{
	struct winapi_driver *driver;
	struct epoll_event event = { .events = EPOLLIN };
	int device_fd, rc;

	if (queue == NULL)
		return -EINVAL;
	if (queue->event_fd >= 0)
		return queue->event_fd;
	driver = queue->driver;
	device_fd = vmbus_device_event_fd(driver->device);
	if (device_fd < 0)
		return device_fd;
	queue->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (queue->notify_fd < 0)
		return -errno;
	queue->event_fd = epoll_create1(EPOLL_CLOEXEC);
	if (queue->event_fd < 0) {
		rc = -errno;
		goto err_close_notify;
	}
	if (epoll_ctl(queue->event_fd, EPOLL_CTL_ADD, device_fd, &event) != 0 ||
	    epoll_ctl(queue->event_fd, EPOLL_CTL_ADD, queue->notify_fd, &event) != 0) {
		rc = -errno;
		goto err_close_epoll;
	}
	pthread_mutex_lock(&driver->table.lock);
	request_queue_set_notify(queue->requests, queue->notify_fd);
	pthread_mutex_unlock(&driver->table.lock);
	/* Nobody polls the ring while the application sleeps: the host must signal every batch. */
	pthread_mutex_lock(&driver->tx_lock);
	vmbus_chan_set_interrupt_mode(driver->channel, true);
	pthread_mutex_unlock(&driver->tx_lock);
	return queue->event_fd;

err_close_epoll:
	close(queue->event_fd);
	queue->event_fd = -1;
err_close_notify:
	close(queue->notify_fd);
	queue->notify_fd = -1;
	return rc;
}

int winapi_driver_queue_add(struct winapi_driver_queue *queue, const struct winapi_call *call, void *user_data)
{
	struct driver_request *request;
	uint32_t index;

	if (queue == NULL || call == NULL || (call->request_length != 0 && call->request_data == NULL) ||
	    (call->reply_capacity != 0 && call->reply_data == NULL) ||
	    (call->buffer_count != 0 && call->buffers == NULL))
		return -EINVAL;
	if (call->request_length > WINAPI_MAX_INLINE_DATA || call->reply_capacity > WINAPI_MAX_INLINE_DATA ||
	    call->buffer_count > WINAPI_MAX_BUFFERS)
		return -EMSGSIZE;
	index = request_queue_take(queue->requests, call->timeout_ms, user_data);
	if (index == REQUEST_NO_SLOT)
		return -EAGAIN;
	request = request_payload(queue->requests, index);
	request->api_id = call->api_id;
	request->api_version = call->api_version;
	request->request_length = call->request_length;
	if (call->request_length != 0)
		memcpy(request->request, call->request_data, call->request_length);
	request->reply_data = call->reply_data;
	request->reply_capacity = call->reply_capacity;
	request->buffer_count = call->buffer_count;
	if (call->buffer_count != 0)
		memcpy(request->buffers, call->buffers, call->buffer_count * sizeof(*call->buffers));
	/* The host writes them in place: if the request ends unanswered, their owner must know. */
	request_queue_set_hold(queue->requests, index, call->hold_ops, call->hold_owner, request->buffers,
			       call->buffer_count);
	return 0;
}

/* ---- submitting ---- */

/*
 * Fill @descriptors for @request's buffers and, when some are GPA-direct, the packet's range
 * header (one range per such buffer, its index in the descriptor's region).
 * Returns the header's size (0: no GPA-direct buffer), or negative errno.
 */
static int prepare_buffers(struct winapi_driver *driver, const struct driver_request *request,
			   struct winapi_buffer_descriptor *descriptors)
{
	struct vmbus_gpa_range_desc ranges[WINAPI_MAX_BUFFERS];
	unsigned int i, range_count = 0;
	size_t pfns_used = 0;
	int count;

	for (i = 0; i < request->buffer_count; i++) {
		const struct winapi_call_buffer *buffer = &request->buffers[i];

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

/* Encode one added request and write it (not yet published). Under tx_lock. */
static int write_request(struct winapi_driver_queue *queue, uint32_t index)
{
	struct winapi_driver *driver = queue->driver;
	const struct driver_request *request = request_payload(queue->requests, index);
	struct winapi_message message;
	int gpa_size, rc;
	size_t size;
	void *out;

	/*
	 * Each field winapi_message_encode() reads, set one by one: zeroing the whole message
	 * (its eight descriptors, of which only buffer_count are read) was a `rep stos` that
	 * cost 8 ns a request (issue 19).
	 */
	message.version = 0;
	message.flags = 0;
	message.status = 0;
	message.api_id = request->api_id;
	message.api_version = request->api_version;
	message.request_id = request_id(queue->requests, index);
	message.reply_capacity = request->reply_capacity;
	message.inline_length = request->request_length;
	message.inline_data = request->request;
	message.buffer_count = (uint16_t)request->buffer_count;
	gpa_size = prepare_buffers(driver, request, message.buffers);
	if (gpa_size < 0)
		return gpa_size;
	size = winapi_message_size(&message);
	if (size > sizeof(driver->message))
		return -EINVAL; /* what the encoder says of a message over the limits */
	const struct vmbus_ring_packet packet = {
		.type = gpa_size != 0 ? VMBUS_PACKET_DATA_USING_GPA_DIRECT : VMBUS_PACKET_DATA_INBAND,
		.flags = VMBUS_PACKET_FLAG_COMPLETION_REQUESTED,
		.trans_id = message.request_id,
		.header_extension = gpa_size != 0 ? driver->gpa_header : NULL,
		.header_extension_size = (uint32_t)gpa_size,
	};
	/*
	 * Encoded straight into the ring: encoded aside and copied in, the copy's wide loads of
	 * the header's fresh 8-byte stores stalled on store forwarding, and the bytes were
	 * written twice (issue 19). driver->message is the aside for a message the ring's end
	 * would split.
	 */
	rc = vmbus_chan_write_begin(driver->channel, &packet, (uint32_t)size, driver->message, &out);
	if (rc != 0)
		return rc;
	rc = winapi_message_encode(&message, out, size);
	if (rc < 0)
		return rc; /* not ended: the ring is as it was */
	vmbus_chan_write_end(driver->channel, out);
	return 0;
}

/*
 * Requests written, or ended unwritten, whose slots submit_added() updates under one taking of
 * the table's lock. Taken once a request, the lock was 12 of the client's ~260 ns of CPU a
 * request in batches of 32 (scripts/bench-profile.sh, issue 19). Until the flush publishes
 * them, the host cannot answer any of them.
 */
#define SUBMIT_SETTLE_MAX 32

struct submit_settle {
	unsigned int count;
	uint32_t index[SUBMIT_SETTLE_MAX];
	int status[SUBMIT_SETTLE_MAX];
};

/*
 * Under tx_lock: @settle's requests sent at @now, or ended with their error. Returns how many
 * were sent. A channel that broke since they were written (request_table_fail_all(), under
 * the same lock) ends them too: they would otherwise wait for their deadline.
 */
static int settle_submitted(struct winapi_driver_queue *queue, struct submit_settle *settle, uint64_t now)
{
	struct request_table *table = &queue->driver->table;
	unsigned int i;
	int sent = 0;

	pthread_mutex_lock(&table->lock);
	for (i = 0; i < settle->count; i++) {
		int status = settle->status[i] != 0 ? settle->status[i] : table->broken;

		if (status == 0) {
			request_mark_sent(queue->requests, settle->index[i], now);
			sent++;
		} else { /* it cannot be sent (too large, bad buffer, channel gone): it ends */
			request_finish(queue->requests, settle->index[i], status);
		}
	}
	pthread_mutex_unlock(&table->lock);
	settle->count = 0;
	return sent;
}

/* The added requests, their deadlines counted from @now (read before the first byte goes out). */
static int submit_added(struct winapi_driver_queue *queue, uint64_t now)
{
	struct winapi_driver *driver = queue->driver;
	struct request_table *table = &driver->table;
	int written = 0, rc = 0, failed = 0, flush_rc;
	struct submit_settle settle;
	uint32_t index;

	settle.count = 0;
	pthread_mutex_lock(&driver->tx_lock);
	while ((index = request_queue_peek_added(queue->requests)) != REQUEST_NO_SLOT) {
		rc = failed = __atomic_load_n(&table->broken, __ATOMIC_RELAXED);
		if (rc == 0)
			rc = write_request(queue, index);
		if (rc == -EAGAIN)
			break; /* ring full: what is written goes out, the rest waits for room */
		request_queue_next_added(queue->requests);
		settle.index[settle.count] = index;
		settle.status[settle.count++] = rc;
		if (settle.count == SUBMIT_SETTLE_MAX)
			written += settle_submitted(queue, &settle, now);
	}
	if (settle.count != 0)
		written += settle_submitted(queue, &settle, now);
	/* The whole batch: one write_index publication, one signal decision. */
	flush_rc = vmbus_chan_flush(driver->channel);
	if (flush_rc != 0) {
		/* The host is gone: what was written will never be answered. */
		pthread_mutex_lock(&table->lock);
		if (table->broken == 0)
			request_table_fail_all(table, flush_rc);
		pthread_mutex_unlock(&table->lock);
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

/* A submission at @given_ns, or (NULL) at one clock read for the whole batch, if there is one. */
static int submit(struct winapi_driver_queue *queue, const uint64_t *given_ns)
{
	if (queue == NULL)
		return -EINVAL;
	if (request_queue_peek_added(queue->requests) == REQUEST_NO_SLOT)
		return 0;
	return submit_added(queue, given_ns != NULL ? *given_ns : winapi_clock_now_ns());
}

int winapi_driver_queue_submit(struct winapi_driver_queue *queue)
{
	return submit(queue, NULL);
}

int winapi_driver_queue_submit_at(struct winapi_driver_queue *queue, uint64_t now_ns)
{
	return submit(queue, &now_ns);
}

/* ---- reaping ---- */

/* Check the host's answer and copy its inline data out (under lock: the slot is stable). */
static int accept_reply(struct request_queue *requests, uint32_t index, uint64_t request_id,
			const uint8_t *payload, size_t length)
{
	const struct driver_request *request = request_payload(requests, index);
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
	if (reply.api_id != request->api_id || reply.buffer_count != 0) {
		winapi_log(WINAPI_LOG_ERR, "winapi", "reply to request %#llx is for another api",
			   (unsigned long long)request_id);
		return -EBADMSG;
	}
	if (reply.inline_length > request->reply_capacity) {
		winapi_log(WINAPI_LOG_ERR, "winapi", "host returned %u bytes for a %u-byte reply buffer",
			   reply.inline_length, request->reply_capacity);
		return -EBADMSG;
	}
	if (reply.inline_length != 0)
		memcpy(request->reply_data, reply.inline_data, reply.inline_length);
	requests->slots[index].reply_length = reply.inline_length;
	return 0;
}

/*
 * The leader drains the RX ring under the table's lock (it held the lock when it became the
 * leader, and each answer is handed over under it), letting go of it every DRAIN_HOLD_MAX
 * packets so that a submitter or another queue's reaper waiting for it may get it during a
 * long drain (glibc's mutex does not promise the hand-over; the drain is bounded anyway: it
 * ends when the ring is empty, and a submitter kept waiting adds nothing to it).
 * driver->reaping keeps other reapers from draining while it is let go. Let go around the
 * drain and taken again for each answer, it was two more lock pairs on a winapi-pmd worker's
 * echo: the worker's locks went from 114 to 53 ns an echo with this and the submission's
 * (scripts/bench-profile.sh, issue 19).
 *
 * Answers are judged against deadlines by @now_ns, the time the drain starts. Returns how
 * many packets it took, or a negative errno when the channel broke.
 *
 * Once a drain, not once an answer: a clock read per packet cost a tenth of the request rate
 * (winapi-bench, batches of 32: 3.1 against 3.6 M/s). A reaper that slept past a deadline
 * reads the clock after it woke, so the answer it finds is late; only one that lands during
 * this same drain is judged by its start.
 */
#define DRAIN_HOLD_MAX 32

static int drain(struct winapi_driver *driver, uint64_t now)
{
	struct request_table *table = &driver->table;
	struct vmbus_ring_packet_info info;
	struct request_queue *requests;
	uint32_t index;
	int taken = 0, rc;

	for (;;) {
		rc = vmbus_chan_recv(driver->channel, driver->receive_buffer, driver->receive_size, &info);
		if (rc == -EAGAIN)
			break;
		if (rc == -EBADMSG)
			request_table_drop_unexpected(table, "a malformed packet", 0);
		else if (rc == 0 && info.type != VMBUS_PACKET_COMPLETION)
			request_table_drop_unexpected(table, "a packet that is not a completion", info.trans_id);
		else if (rc == 0 && request_table_find(table, info.trans_id, now, &requests, &index) == 0)
			request_finish(requests, index,
				       accept_reply(requests, index, info.trans_id, driver->receive_buffer + info.header_size,
						    info.packet_size - info.header_size));
		if (rc != 0 && rc != -EBADMSG)
			return rc;
		if (++taken % DRAIN_HOLD_MAX == 0) {
			pthread_mutex_unlock(&table->lock);
			pthread_mutex_lock(&table->lock);
		}
	}
	rc = vmbus_chan_recv_done(driver->channel);
	return rc != 0 ? rc : taken;
}

/*
 * The table's wait (under its lock): one reaper at a time leads, draining the ring and
 * sleeping on the channel; the others sleep on their queue until the leader hands their
 * completions over or steps down.
 */
static void wait_for_completions(struct request_table *table, void *context, struct request_queue *queue,
				 unsigned int round, uint64_t now_ns, uint64_t wake_ns)
{
	struct winapi_driver *driver = context;
	int rc;

	(void)round;
	if (driver->reaping) {
		request_queue_wait(queue, wake_ns);
		return;
	}
	driver->reaping = true;
	/*
	 * The reap read the clock just before calling: a second read here cost a winapi-pmd
	 * worker's echo 29 ns (kvm-clock) on its critical path, and a reaper's too.
	 */
	rc = drain(driver, now_ns);
	if (rc == 0) {
		pthread_mutex_unlock(&table->lock);
		rc = vmbus_chan_wait(driver->channel, wake_ns == UINT64_MAX ? -1 :
				     (int)((wake_ns - now_ns + 999999u) / 1000000u));
		pthread_mutex_lock(&table->lock);
		/* Take what woke us. */
		if (rc == 0)
			rc = drain(driver, winapi_clock_now_ns());
	}
	if (rc == -ETIMEDOUT)
		rc = 0;
	driver->reaping = false;
	if (rc < 0 && table->broken == 0) {
		if (rc == -ENOTCONN)
			winapi_log(WINAPI_LOG_ERR, "winapi", "%s: calls fail with ENOTCONN; "
				   "winapi_cleanup() and winapi_init() attach again", winapi_strerror(rc));
		else
			winapi_log(WINAPI_LOG_ERR, "winapi", "the channel failed: %s", strerror(-rc));
		request_table_fail_all(table, rc);
	}
	/* Another reaper may lead now. */
	request_table_wake_all(table);
}

/*
 * What woke an application's poll of the queue's event fd, taken: its eventfd read, the
 * device's events consumed, the ring drained and checked once more after re-arming (a packet
 * that came before the read index was published raised no signal). Skipped while another
 * reaper leads: it drains, and its finished requests write the eventfd.
 */
static void take_queue_events(struct winapi_driver_queue *queue)
{
	struct winapi_driver *driver = queue->driver;
	struct request_table *table = &driver->table;
	uint64_t count;
	int rc;

	(void)!read(queue->notify_fd, &count, sizeof(count));
	pthread_mutex_lock(&table->lock);
	if (driver->reaping) {
		pthread_mutex_unlock(&table->lock);
		return;
	}
	driver->reaping = true;
	pthread_mutex_unlock(&table->lock);
	rc = vmbus_device_take_events(driver->device);
	pthread_mutex_lock(&table->lock);
	while (rc == 0) {
		rc = drain(driver, winapi_clock_now_ns());
		if (rc < 0)
			break;
		rc = vmbus_chan_arm(driver->channel);
		if (rc == 0)
			break; /* empty and armed: the host signals the next packet */
		if (rc == -EAGAIN)
			rc = 0; /* one came meanwhile: drain again */
	}
	driver->reaping = false;
	if (rc < 0 && table->broken == 0)
		request_table_fail_all(table, rc);
	request_table_wake_all(table);
	pthread_mutex_unlock(&table->lock);
}

int winapi_driver_queue_reap(struct winapi_driver_queue *queue, struct winapi_call_completion *completions,
			     unsigned int max, unsigned int min, int timeout_ms)
{
	if (queue == NULL)
		return -EINVAL;
	if (queue->event_fd >= 0 && timeout_ms == 0)
		take_queue_events(queue);
	return request_queue_reap(queue->requests, completions, max, min, timeout_ms);
}

int winapi_driver_queue_poll(struct winapi_driver_queue *queue, struct winapi_call_completion *completions,
			     unsigned int max, uint64_t now_ns)
{
	if (queue == NULL)
		return -EINVAL;
	if (queue->event_fd >= 0)
		take_queue_events(queue);
	return request_queue_poll(queue->requests, completions, max, now_ns);
}

/* ---- one synchronous call ---- */

int winapi_driver_call(struct winapi_driver *driver, struct winapi_call *call)
{
	struct winapi_call_completion completion;
	int timeout_ms, rc;

	if (driver == NULL || call == NULL)
		return -EINVAL;
	/* The call queue read WINAPI_TIMEOUT_MS when it was made: no getenv() per call. */
	timeout_ms = call->timeout_ms >= 0 ? call->timeout_ms : driver->call_queue->requests->timeout_ms;
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
	if (rc < 0 && request_queue_peek_added(driver->call_queue->requests) != REQUEST_NO_SLOT) {
		/* Nothing was sent: the slot goes back. */
		request_queue_cancel_added(driver->call_queue->requests);
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
