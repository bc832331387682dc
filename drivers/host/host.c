/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Host-side request loop: take a burst of requests off the guest's TX ring, answer each with
 * a COMPLETION on the host's TX ring, publish the burst once. The guest is untrusted: every
 * request is decoded into a private copy and validated before a handler sees it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmbus/channel.h>
#include <winapi/log.h>
#include <winapi_internal/clock.h>
#include <winapi_internal/counter.h>

#include "host_private.h"

/* Requests answered per publication: bounds the latency a burst adds to its first request. */
#define HOST_BURST 32
/*
 * How long a completion may wait for room in the host's TX ring before it is dropped: long
 * enough that a guest merely waiting for a CPU on a loaded machine loses nothing; only one
 * that has stopped reading does (and it costs only its own session this long per answer).
 */
#define HOST_TX_TIMEOUT_MS 10000
/* Longest block in winapi_host_run(), so that a stop request is seen in time. */
#define HOST_STOP_CHECK_MS 100

struct winapi_host {
	struct vmbus_channel *channel;
	struct winapi_host_context context; /* what the handlers see */
	uint64_t delay_ns;
	struct winapi_host_faults faults;
	uint64_t served;                 /* requests seen, for the faults' numbering */
	uint8_t *receive_buffer;
	size_t receive_size;
	uint8_t reply_buffer[WINAPI_MESSAGE_MAX_SIZE];
	struct winapi_host_stats stats;
};

int winapi_host_create(struct vmbus_device *device, unsigned int channel_index,
		       const struct winapi_host_memory *memory, struct winapi_host **host_out)
{
	struct winapi_host *host;
	int rc;

	host = calloc(1, sizeof(*host));
	if (host == NULL)
		return -ENOMEM;
	if (memory != NULL)
		host->context.memory = *memory;
	rc = winapi_host_subscriptions_create(&host->context.subscriptions);
	if (rc != 0)
		goto err_free_host;
	rc = vmbus_chan_open(device, channel_index, &host->channel);
	if (rc != 0)
		goto err_destroy_subscriptions;
	host->receive_size = vmbus_chan_max_packet_size(host->channel);
	host->receive_buffer = malloc(host->receive_size);
	if (host->receive_buffer == NULL) {
		rc = -ENOMEM;
		goto err_close_channel;
	}
	*host_out = host;
	return 0;

err_close_channel:
	vmbus_chan_close(host->channel);
err_destroy_subscriptions:
	winapi_host_subscriptions_destroy(host->context.subscriptions);
err_free_host:
	free(host);
	return rc;
}

void winapi_host_destroy(struct winapi_host *host)
{
	if (host == NULL)
		return;
	winapi_host_subscriptions_destroy(host->context.subscriptions);
	free(host->receive_buffer);
	vmbus_chan_close(host->channel);
	free(host);
}

void winapi_host_set_delay(struct winapi_host *host, uint64_t delay_ns)
{
	host->delay_ns = delay_ns;
}

void winapi_host_set_faults(struct winapi_host *host, const struct winapi_host_faults *faults)
{
	host->faults = *faults;
}

void winapi_host_set_interrupt_mode(struct winapi_host *host, bool enabled)
{
	vmbus_chan_set_interrupt_mode(host->channel, enabled);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec delay = { .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };

	nanosleep(&delay, NULL);
}

void winapi_host_get_stats(const struct winapi_host *host, struct winapi_host_stats *stats)
{
	stats->requests = winapi_counter_read(&host->stats.requests);
	stats->bad_requests = winapi_counter_read(&host->stats.bad_requests);
	stats->batches = winapi_counter_read(&host->stats.batches);
}

/* Publish the completions written so far and release the requests read so far. */
static int finish_burst(struct winapi_host *host)
{
	/*
	 * Release the requests first, then publish the completions: a guest that answers a
	 * completion with its next batch must find the ring empty, or its empty -> non-empty
	 * signal would be skipped (and an interrupt-driven host would see one batch late).
	 */
	int rc_done = vmbus_chan_recv_done(host->channel);
	int rc = vmbus_chan_flush(host->channel);

	return rc_done != 0 ? rc_done : rc;
}

static int write_packet(struct winapi_host *host, uint16_t type, uint64_t trans_id, const void *reply,
			size_t size)
{
	const struct iovec payload = { .iov_base = (void *)reply, .iov_len = size };
	const struct vmbus_ring_packet packet = {
		.type = type,
		.trans_id = trans_id,
		.payload = &payload,
		.payload_count = 1,
	};
	int rc;

	for (;;) {
		rc = vmbus_chan_write(host->channel, &packet);
		if (rc != -EAGAIN)
			return rc;
		/* Ring full: let the guest see (and drain) what is there, then wait for room. */
		rc = finish_burst(host);
		if (rc == 0)
			rc = vmbus_chan_wait_writable(host->channel,
						      (uint32_t)(sizeof(struct vmbus_packet_descriptor) + size),
						      HOST_TX_TIMEOUT_MS);
		if (rc != 0)
			return rc;
	}
}

static int write_completion(struct winapi_host *host, uint64_t trans_id, const void *reply, size_t size)
{
	return write_packet(host, VMBUS_PACKET_COMPLETION, trans_id, reply, size);
}

/*
 * Injected fault: a completion for @trans_id, an id the guest never sent, carrying a sound
 * message that names it. (@response is the real answer; only its request_id changes.)
 */
static int write_unknown(struct winapi_host *host, uint64_t trans_id, struct winapi_message *response)
{
	uint8_t message[sizeof(struct winapi_message_header) + WINAPI_MAX_INLINE_DATA];
	uint64_t real_id = response->request_id;
	int size;

	response->request_id = trans_id;
	size = winapi_message_encode(response, message, sizeof(message));
	response->request_id = real_id;
	if (size < 0)
		return size;
	return write_completion(host, trans_id, message, (size_t)size);
}

/* Injected fault: the encoded answer in reply_buffer (@size bytes), damaged as configured. */
static int write_corrupt(struct winapi_host *host, uint64_t trans_id, struct winapi_message *response,
			 size_t size)
{
	uint64_t state = trans_id | 1;
	size_t i;
	int length;

	switch (host->faults.corrupt_kind) {
	case WINAPI_HOST_CORRUPT_CHECKSUM:
		host->reply_buffer[offsetof(struct winapi_message_header, inline_length)] ^= 0x01;
		break;
	case WINAPI_HOST_CORRUPT_REQUEST_ID:
		response->request_id = trans_id + 1;
		length = winapi_message_encode(response, host->reply_buffer, sizeof(host->reply_buffer));
		response->request_id = trans_id;
		if (length < 0)
			return length;
		break;
	case WINAPI_HOST_CORRUPT_GARBAGE:
		for (i = 0; i < size; i++) {
			state ^= state << 13;
			state ^= state >> 7;
			state ^= state << 17;
			host->reply_buffer[i] = (uint8_t)state;
		}
		break;
	case WINAPI_HOST_CORRUPT_TRUNCATED:
		size /= 2;
		break;
	case WINAPI_HOST_CORRUPT_PACKET_TYPE:
		return write_packet(host, VMBUS_PACKET_DATA_INBAND, trans_id, host->reply_buffer, size);
	}
	return write_completion(host, trans_id, host->reply_buffer, size);
}

/*
 * Send the answer to the request with @trans_id: @response, encoded in reply_buffer (@size
 * bytes), unless an injected fault for this request number says otherwise.
 */
static int send_answer(struct winapi_host *host, uint64_t trans_id, struct winapi_message *response,
		       size_t size)
{
	/*
	 * Invented ids shaped like the guest driver's (queue << 48 | slot << 32 | generation), so
	 * that they get past its first look and reach its deeper checks. A fault injector may know
	 * this; the host proper never depends on the guest's ids.
	 */
	const uint64_t generation_mask = 0xffffffffull, slot_mask = 0xffffull << 32, queue_mask = 0xffffull << 48;
	const struct winapi_host_faults *faults = &host->faults;
	int rc;

	if (host->served == faults->delay_request) {
		sleep_ns(faults->delay_ns);
		/* Said once the answer is due, so that a test can wait for it instead of guessing. */
		winapi_log(WINAPI_LOG_NOTICE, "host", "request %llu: answering %llu ms late (a fault)",
			   (unsigned long long)host->served, (unsigned long long)(faults->delay_ns / 1000000u));
	}
	if (host->served == faults->drop_request) {
		winapi_counter_add(&host->stats.bad_requests, 1);
		return 0;
	}
	if (host->served == faults->corrupt_request && faults->corrupt_kind != 0) {
		winapi_counter_add(&host->stats.bad_requests, 1);
		return write_corrupt(host, trans_id, response, size);
	}
	if (host->served == faults->unknown_request) {
		rc = write_unknown(host, trans_id | queue_mask, response);
		if (rc == 0)
			rc = write_unknown(host, trans_id | slot_mask, response);
		if (rc != 0)
			return rc;
	}
	rc = write_completion(host, trans_id, host->reply_buffer, size);
	if (rc == 0 && host->served == faults->duplicate_request)
		rc = write_completion(host, trans_id, host->reply_buffer, size);
	if (rc == 0 && host->served == faults->unknown_request)
		rc = write_unknown(host, trans_id & ~generation_mask, response);
	if (rc == 0 && host->served == faults->stall_request) {
		/* The guest gets this answer; then nothing is read or answered for a while. */
		rc = finish_burst(host);
		winapi_log(WINAPI_LOG_NOTICE, "host", "request %llu: not reading the ring for %llu ms (a fault)",
			   (unsigned long long)host->served, (unsigned long long)(faults->stall_ns / 1000000u));
		sleep_ns(faults->stall_ns);
	}
	if (rc == 0)
		winapi_counter_add(&host->stats.requests, 1);
	return rc;
}

/*
 * Decode, dispatch and answer one request that asked for a completion: DATA_INBAND, or
 * GPA-direct whose page ranges name its buffers.
 */
static int serve_request(struct winapi_host *host, const struct vmbus_ring_packet_info *info)
{
	const struct winapi_host_packet packet = {
		.type = info->type,
		.trans_id = info->trans_id,
		.gpa_header = host->receive_buffer + sizeof(struct vmbus_packet_descriptor),
		.gpa_header_size = info->header_size - sizeof(struct vmbus_packet_descriptor),
		.message = host->receive_buffer + info->header_size,
		.message_size = info->packet_size - info->header_size,
	};
	struct winapi_message response;
	int size;

	host->served++;
	if (host->served == host->faults.rescind_request)
		return -ESHUTDOWN; /* unanswered: the device goes away under the guest */
	if (host->delay_ns != 0)
		sleep_ns(host->delay_ns);
	size = winapi_host_answer(&host->context, &packet, &response, host->reply_buffer, sizeof(host->reply_buffer));
	if (size < 0)
		return size; /* a handler broke the protocol's limits: a bug here, not in the guest */
	if (size == 0)
		return 0; /* an event wait: answered by pump_events() */
	if (response.status != WINAPI_STATUS_OK) {
		winapi_counter_add(&host->stats.bad_requests, 1);
		winapi_log(WINAPI_LOG_DEBUG, "host", "request %llu: %s", (unsigned long long)info->trans_id,
			   winapi_status_name(response.status));
	}
	return send_answer(host, info->trans_id, &response, (size_t)size);
}

/* A deferred answer (an event wait) goes out as the completion of its request. */
static int emit_answer(void *context, const struct winapi_message *response)
{
	struct winapi_host *host = context;
	int size = winapi_message_encode(response, host->reply_buffer, sizeof(host->reply_buffer));
	int rc;

	if (size < 0)
		return size;
	rc = write_completion(host, response->request_id, host->reply_buffer, (size_t)size);
	if (rc == 0)
		winapi_counter_add(&host->stats.requests, 1);
	return rc == -ETIMEDOUT ? 0 : rc; /* a guest that stopped reading loses this answer only */
}

/* Events due now, and the waits they (or their deadlines) answer; *@next_ns: when to look again. */
static int pump_events(struct winapi_host *host, uint64_t *next_ns)
{
	/* Polled after every burst: most hosts have no subscription, and a clock read is not free. */
	if (winapi_host_events_idle(host->context.subscriptions)) {
		*next_ns = UINT64_MAX;
		return 0;
	}
	return winapi_host_events_pump(host->context.subscriptions, winapi_clock_now_ns(), emit_answer, host,
				       next_ns);
}

int winapi_host_poll(struct winapi_host *host)
{
	uint64_t next_ns;

	return winapi_host_poll_next(host, &next_ns);
}

int winapi_host_poll_next(struct winapi_host *host, uint64_t *next_ns)
{
	struct vmbus_ring_packet_info info;
	int answered = 0, burst, rc;

	*next_ns = UINT64_MAX;
	do {
		for (burst = 0; burst < HOST_BURST;) {
			rc = vmbus_chan_recv(host->channel, host->receive_buffer, host->receive_size, &info);
			if (rc == -EAGAIN)
				break;
			if (rc == -EBADMSG) {
				winapi_counter_add(&host->stats.bad_requests, 1);
				continue;
			}
			if (rc != 0)
				goto err_finish;
			/* Without COMPLETION_REQUESTED there is nobody to tell that it was wrong. */
			if ((info.type != VMBUS_PACKET_DATA_INBAND &&
			     info.type != VMBUS_PACKET_DATA_USING_GPA_DIRECT) ||
			    !(info.flags & VMBUS_PACKET_FLAG_COMPLETION_REQUESTED)) {
				winapi_counter_add(&host->stats.bad_requests, 1);
				continue;
			}
			rc = serve_request(host, &info);
			if (rc == -ETIMEDOUT) {
				/* The guest stopped reading its ring; the answer is dropped, the host goes on. */
				winapi_counter_add(&host->stats.bad_requests, 1);
				continue;
			}
			if (rc != 0)
				goto err_finish;
			burst++;
		}
		rc = pump_events(host, next_ns);
		if (rc != 0)
			goto err_finish;
		rc = finish_burst(host);
		if (rc != 0)
			return rc;
		if (burst != 0)
			winapi_counter_add(&host->stats.batches, 1);
		answered += burst;
	} while (burst == HOST_BURST);
	return answered;

err_finish:
	finish_burst(host);
	return rc;
}

int winapi_host_run(struct winapi_host *host, const bool *stop)
{
	uint64_t next_ns, now_ns;
	int rc, wait_ms;

	while (!__atomic_load_n(stop, __ATOMIC_RELAXED)) {
		rc = winapi_host_poll(host);
		if (rc == -ENOTCONN)
			return 0; /* the guest left while we answered it */
		if (rc == -ESHUTDOWN) {
			winapi_log(WINAPI_LOG_NOTICE, "host", "request %llu: rescinding the device (a fault)",
				   (unsigned long long)host->served);
			return rc;
		}
		if (rc < 0) {
			winapi_log(WINAPI_LOG_ERR, "host", "channel failed: %s", strerror(-rc));
			return rc;
		}
		/* Sleep until the guest signals, or an event or a wait's deadline is due. */
		rc = pump_events(host, &next_ns);
		if (rc == 0)
			rc = finish_burst(host);
		if (rc == -ENOTCONN)
			return 0;
		if (rc != 0)
			return rc;
		now_ns = winapi_clock_now_ns();
		wait_ms = HOST_STOP_CHECK_MS;
		if (next_ns <= now_ns)
			wait_ms = 0;
		else if (next_ns - now_ns < (uint64_t)HOST_STOP_CHECK_MS * 1000000u)
			wait_ms = (int)((next_ns - now_ns + 999999u) / 1000000u);
		rc = vmbus_chan_wait(host->channel, wait_ms);
		if (rc == -ENOTCONN)
			return 0; /* the guest left */
		if (rc != 0 && rc != -ETIMEDOUT)
			return rc;
	}
	return 0;
}
