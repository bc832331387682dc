/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest-side winapi driver: one request in flight per driver, matched to its completion by
 * trans_id (= request_id). Everything read back from the host is validated before use.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmbus/channel.h>
#include <vmbus/memory.h>
#include <winapi/driver.h>
#include <winapi/log.h>
#include <winapi/protocol.h>

#define WINAPI_DEFAULT_TIMEOUT_MS 5000

struct winapi_driver {
	struct vmbus_device *device;
	struct vmbus_channel *channel;
	pthread_mutex_t lock;          /* serialises calls */
	uint64_t next_request_id;
	uint8_t request[WINAPI_MESSAGE_MAX_SIZE];
	uint8_t *receive_buffer;       /* one whole packet, as large as the ring allows */
	size_t receive_size;
	uint8_t *gpa_header;           /* GPA-direct ranges of the request being sent */
	uint64_t *pfns;                /* page numbers being gathered for it */
	size_t pfn_capacity;
	struct winapi_driver_stats stats;
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

int winapi_driver_open(struct vmbus_device *device, struct winapi_driver **driver_out)
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
	rc = vmbus_chan_open(device, 0, &driver->channel);
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
	pthread_mutex_init(&driver->lock, NULL);
	driver->next_request_id = 1;
	*driver_out = driver;
	return 0;

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
	pthread_mutex_destroy(&driver->lock);
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
	vmbus_chan_get_stats(driver->channel, &stats->channel);
	pthread_mutex_unlock(&driver->lock);
}

static uint64_t now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = now_ns();

	return now >= deadline ? 0 : (int)((deadline - now + 999999u) / 1000000u);
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

/*
 * Fill @descriptors for @call's buffers and, when some are GPA-direct, the packet's range
 * header (one range per such buffer, its index in the descriptor's region).
 * Returns the header's size (0: no GPA-direct buffer), or negative errno.
 */
static int prepare_buffers(struct winapi_driver *driver, const struct winapi_call *call,
			   struct winapi_buffer_descriptor *descriptors)
{
	struct vmbus_gpa_range_desc ranges[WINAPI_MAX_BUFFERS];
	unsigned int i, range_count = 0;
	size_t pfns_used = 0;
	int count;

	for (i = 0; i < call->buffer_count; i++) {
		const struct winapi_call_buffer *buffer = &call->buffers[i];

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

static int send_request(struct winapi_driver *driver, uint64_t request_id, size_t size, size_t gpa_size,
			uint64_t deadline)
{
	const struct iovec payload = { .iov_base = driver->request, .iov_len = size };
	const struct vmbus_ring_packet packet = {
		.type = gpa_size != 0 ? VMBUS_PACKET_DATA_USING_GPA_DIRECT : VMBUS_PACKET_DATA_INBAND,
		.flags = VMBUS_PACKET_FLAG_COMPLETION_REQUESTED,
		.trans_id = request_id,
		.header_extension = gpa_size != 0 ? driver->gpa_header : NULL,
		.header_extension_size = (uint32_t)gpa_size,
		.payload = &payload,
		.payload_count = 1,
	};
	int rc;

	for (;;) {
		rc = vmbus_chan_write(driver->channel, &packet);
		if (rc == 0)
			return vmbus_chan_flush(driver->channel);
		if (rc != -EAGAIN)
			return rc;
		rc = vmbus_chan_wait_writable(driver->channel,
					      (uint32_t)(sizeof(struct vmbus_packet_descriptor) + gpa_size + size),
					      remaining_ms(deadline));
		if (rc != 0)
			return rc;
	}
}

/* Check the host's answer to @call and copy its inline data out. */
static int accept_reply(struct winapi_call *call, uint64_t request_id, const uint8_t *payload,
			size_t length)
{
	struct winapi_message reply;
	int rc = winapi_message_decode(payload, length, &reply);

	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "winapi", "reply to request %llu is malformed (%s)",
			   (unsigned long long)request_id, strerror(-rc));
		return -EBADMSG;
	}
	if (!(reply.flags & WINAPI_MESSAGE_FLAG_RESPONSE) || reply.request_id != request_id) {
		winapi_log(WINAPI_LOG_ERR, "winapi", "reply to request %llu does not match it",
			   (unsigned long long)request_id);
		return -EBADMSG;
	}
	/* An error status comes first: a host that could not decode the request may not know its api. */
	if (reply.status != WINAPI_STATUS_OK) {
		winapi_log(WINAPI_LOG_DEBUG, "winapi", "request %llu: host status %s",
			   (unsigned long long)request_id, winapi_status_name(reply.status));
		return winapi_status_to_errno(reply.status);
	}
	if (reply.api_id != call->api_id || reply.buffer_count != 0) {
		winapi_log(WINAPI_LOG_ERR, "winapi", "reply to request %llu is for another api",
			   (unsigned long long)request_id);
		return -EBADMSG;
	}
	if (reply.inline_length > call->reply_capacity) {
		winapi_log(WINAPI_LOG_ERR, "winapi", "host returned %u bytes for a %u-byte reply buffer",
			   reply.inline_length, call->reply_capacity);
		return -EBADMSG;
	}
	if (reply.inline_length != 0)
		memcpy(call->reply_data, reply.inline_data, reply.inline_length);
	call->reply_length = reply.inline_length;
	return 0;
}

static int await_completion(struct winapi_driver *driver, struct winapi_call *call,
			    uint64_t request_id, uint64_t deadline)
{
	struct vmbus_ring_packet_info info;
	int rc;

	for (;;) {
		/* A host that keeps sending packets that are not our answer does not extend the call. */
		if (now_ns() >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		rc = vmbus_chan_recv(driver->channel, driver->receive_buffer, driver->receive_size, &info);
		if (rc == -EAGAIN) {
			/* The wait releases what we consumed first: the host may wait for that room. */
			rc = vmbus_chan_wait(driver->channel, remaining_ms(deadline));
			if (rc != 0)
				return rc;
			continue;
		}
		if (rc == -EBADMSG) {
			driver->stats.unexpected_packets++;
			continue;
		}
		if (rc != 0)
			break;
		if (info.type != VMBUS_PACKET_COMPLETION) {
			driver->stats.unexpected_packets++;
			continue;
		}
		if (info.trans_id != request_id) {
			/* Ids below ours were sent by calls that timed out; anything else is bogus. */
			if (info.trans_id != 0 && info.trans_id < request_id)
				driver->stats.stale_completions++;
			else
				driver->stats.unexpected_packets++;
			continue;
		}
		rc = accept_reply(call, request_id, driver->receive_buffer + info.header_size,
				  info.packet_size - info.header_size);
		break;
	}
	vmbus_chan_recv_done(driver->channel);
	return rc;
}

int winapi_driver_call(struct winapi_driver *driver, struct winapi_call *call)
{
	struct winapi_message request;
	uint64_t request_id, deadline;
	int timeout_ms, size, gpa_size, rc;

	if (driver == NULL || call == NULL ||
	    (call->request_length != 0 && call->request_data == NULL) ||
	    (call->reply_capacity != 0 && call->reply_data == NULL))
		return -EINVAL;
	if (call->request_length > WINAPI_MAX_INLINE_DATA || call->reply_capacity > WINAPI_MAX_INLINE_DATA ||
	    call->buffer_count > WINAPI_MAX_BUFFERS)
		return -EMSGSIZE;
	if (call->buffer_count != 0 && call->buffers == NULL)
		return -EINVAL;
	timeout_ms = call->timeout_ms >= 0 ? call->timeout_ms : winapi_driver_default_timeout_ms();
	/* The time spent queueing behind another thread's call counts against this one. */
	deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;

	pthread_mutex_lock(&driver->lock);
	request_id = driver->next_request_id++;
	memset(&request, 0, sizeof(request));
	request.api_id = call->api_id;
	request.request_id = request_id;
	request.reply_capacity = call->reply_capacity;
	request.inline_length = call->request_length;
	request.inline_data = call->request_data;
	request.buffer_count = (uint16_t)call->buffer_count;
	gpa_size = prepare_buffers(driver, call, request.buffers);
	if (gpa_size < 0) {
		rc = gpa_size;
		goto out_unlock;
	}
	size = winapi_message_encode(&request, driver->request, sizeof(driver->request));
	if (size < 0) {
		rc = size;
		goto out_unlock;
	}

	call->reply_length = 0;
	rc = send_request(driver, request_id, (size_t)size, (size_t)gpa_size, deadline);
	if (rc == 0)
		rc = await_completion(driver, call, request_id, deadline);

	driver->stats.calls++;
	if (rc != 0)
		driver->stats.failed_calls++;
	if (rc == -ETIMEDOUT)
		driver->stats.timeouts++;
out_unlock:
	pthread_mutex_unlock(&driver->lock);
	return rc;
}
