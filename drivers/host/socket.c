/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The host service over a stream socket: each frame of <winapi_internal/hvsock.h> becomes the message
 * the VMBus host would have decoded, with the payload standing in for guest memory (one
 * "GPADL" that is the connection's buffer), and goes to the same handlers. A generic frame
 * names its API: this process's registry (host_api.h) says which it is and which of its
 * buffers travel each way; the frame only says how long they are.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifndef _WIN32
#include <poll.h>
#endif

#include <winapi_internal/host_socket.h>
#include <winapi/log.h>
#include <winapi_internal/clock.h>
#include <winapi_internal/counter.h>

#include "host_private.h"

/* The GPADL number the payload buffer goes by in the messages built here. */
#define PAYLOAD_REGION 1u

struct connection {
	winapi_socket_t socket;
	struct winapi_hvsock_reader reader;
	struct winapi_host_context context;
	uint8_t *payload;
	uint64_t payload_capacity;
	uint64_t payload_length;   /* bytes of the current request's buffers */
	uint8_t inline_data[WINAPI_MAX_INLINE_DATA]; /* a generic request's, apart from its buffers */
	struct winapi_host_socket_stats *stats;
	struct winapi_host_socket_limits limits;
	uint64_t idle_ns;          /* when the connection is closed if no frame moves either way */
};

/* The protocol's control calls are no registered APIs, but are called by name like one; no buffers. */
static const struct winapi_api_entry control_entries[] = {
	{ .name = WINAPI_API_LIST_NAME, .api_id = WINAPI_API_LIST },
	{ .name = WINAPI_API_SUBSCRIBE_NAME, .api_id = WINAPI_API_SUBSCRIBE },
	{ .name = WINAPI_API_EVENT_WAIT_NAME, .api_id = WINAPI_API_EVENT_WAIT },
	{ .name = WINAPI_API_UNSUBSCRIBE_NAME, .api_id = WINAPI_API_UNSUBSCRIBE },
};

static void *payload_span(void *opaque, uint32_t gpadl, uint64_t offset, uint64_t length)
{
	struct connection *connection = opaque;

	if (gpadl != PAYLOAD_REGION || offset > connection->payload_length ||
	    length > connection->payload_length - offset)
		return NULL;
	return connection->payload + offset;
}

/* Room for @size bytes of buffers; the buffer stays for the next request (see shrink_payload()). */
static int reserve_payload(struct connection *connection, uint64_t size)
{
	uint8_t *grown;

	if (size <= connection->payload_capacity)
		return 0;
	grown = realloc(connection->payload, (size_t)size);
	if (grown == NULL)
		return -ENOMEM;
	connection->payload = grown;
	connection->payload_capacity = size;
	return 0;
}

/*
 * Idle: a buffer grown past what is kept goes back (a fresh one of the kept size, so that
 * the allocator can return the large one's pages at once). On failure the large one stays.
 */
static void shrink_payload(struct connection *connection)
{
	uint8_t *kept;

	if (connection->payload_capacity <= WINAPI_HOST_SOCKET_KEEP_PAYLOAD)
		return;
	kept = malloc(WINAPI_HOST_SOCKET_KEEP_PAYLOAD);
	if (kept == NULL)
		return;
	free(connection->payload);
	connection->payload = kept;
	connection->payload_capacity = WINAPI_HOST_SOCKET_KEEP_PAYLOAD;
	connection->payload_length = 0;
}

/*
 * The message the handlers see: the seed API's fields (echo: its bytes) or a generic frame's
 * inline bytes inline, each buffer a GPADL descriptor into the payload buffer, one after the
 * other. A generic frame's api id is @api_id, from the registry; a seed frame's, its own.
 */
static void build_message(const struct winapi_hvsock_header *request, const struct connection *connection,
			  uint16_t api_id, struct winapi_message *message)
{
	uint64_t offset = 0;
	uint32_t i;

	memset(message, 0, sizeof(*message));
	message->version = WINAPI_PROTOCOL_VERSION;
	message->api_id = api_id;
	message->request_id = request->request_id;
	message->reply_capacity = WINAPI_MAX_INLINE_DATA;
	if (winapi_hvsock_is_generic(request)) {
		message->api_version = request->api_version;
		message->reply_capacity = request->reply_capacity;
		message->inline_data = connection->inline_data;
		message->inline_length = request->inline_length;
	} else if (request->api_id == WINAPI_API_ECHO) {
		message->inline_data = connection->payload;
		message->inline_length = (uint32_t)request->payload_size;
	} else {
		message->inline_data = request->fields;
		message->inline_length = request->fields_length;
	}
	message->buffer_count = (uint16_t)request->buffer_count;
	for (i = 0; i < request->buffer_count; i++) {
		message->buffers[i] = (struct winapi_buffer_descriptor){
			.kind = WINAPI_BUFFER_GPADL,
			.region = PAYLOAD_REGION,
			.offset = offset,
			.length = request->buffer_lengths[i],
		};
		offset += request->buffer_lengths[i];
	}
}

/* @timeout_ms after @now_ns; 0 is none (UINT64_MAX). */
static uint64_t after_ms(uint64_t now_ns, unsigned int timeout_ms)
{
	return timeout_ms == 0 ? UINT64_MAX : winapi_clock_deadline_after(now_ns, (int)timeout_ms);
}

/* @reply, its payload the @span_count spans. */
static int answer_spans(struct connection *connection, struct winapi_hvsock_header *reply,
			const struct winapi_hvsock_span *spans, unsigned int span_count)
{
	char text[WINAPI_HVSOCK_MAX_HEADER];
	uint64_t length = 0;
	unsigned int i;
	int size, rc;

	for (i = 0; i < span_count; i++)
		length += spans[i].length;
	reply->payload_size = length;
	size = winapi_hvsock_header_encode(reply, true, text, sizeof(text));
	if (size < 0)
		return size; /* a handler's answer that JSON cannot carry: a bug here */
	/* Absolute: a peer that reads a byte now and then cannot keep this thread for ever. */
	rc = winapi_hvsock_send_until(connection->socket,
				      connection->limits.frame_timeout_ms == 0 ?
					      UINT64_MAX :
					      winapi_clock_deadline_after(winapi_clock_now_ns(),
									  (int)connection->limits.frame_timeout_ms),
				      text, (size_t)size, spans, span_count);
	if (rc == 0) {
		connection->idle_ns = after_ms(winapi_clock_now_ns(), connection->limits.idle_timeout_ms);
		winapi_counter_add_shared(&connection->stats->requests, 1);
		winapi_counter_add_shared(&connection->stats->bytes_out, length);
		if (reply->status != WINAPI_STATUS_OK)
			winapi_counter_add_shared(&connection->stats->bad_requests, 1);
	}
	return rc;
}

static int answer(struct connection *connection, struct winapi_hvsock_header *reply, const void *data,
		  uint64_t length)
{
	const struct winapi_hvsock_span span = { .data = data, .length = (size_t)length };

	return answer_spans(connection, reply, &span, length != 0);
}

/* The API a generic frame names, by this process's registry (control calls by their own names), or NULL. */
static const struct winapi_api_entry *resolve(const char *name)
{
	const struct winapi_host_api *api;
	size_t i;

	for (i = 0; i < sizeof(control_entries) / sizeof(control_entries[0]); i++)
		if (strcmp(name, control_entries[i].name) == 0)
			return &control_entries[i];
	api = winapi_host_api_find_name(name);
	return api != NULL ? &api->entry : NULL;
}

/*
 * Whether a generic request fits the API @entry (this host's, never the frame's word): its
 * buffers, a payload of exactly the inline bytes and the buffers the host reads, and a reply
 * (inline and the buffers the host writes) that one frame can carry.
 */
static uint32_t check_generic(const struct winapi_hvsock_header *request, const struct winapi_api_entry *entry)
{
	uint64_t reads = winapi_hvsock_access_bytes(request, entry->buffer_access, WINAPI_ACCESS_HOST_READS);
	uint64_t writes = winapi_hvsock_access_bytes(request, entry->buffer_access, WINAPI_ACCESS_HOST_WRITES);

	if (request->buffer_count > winapi_api_entry_buffers(entry) ||
	    request->payload_size != request->inline_length + reads ||
	    request->reply_capacity + writes > WINAPI_HVSOCK_MAX_PAYLOAD)
		return WINAPI_STATUS_BAD_MESSAGE;
	return WINAPI_STATUS_OK;
}

/*
 * A generic request's payload: the inline bytes apart, then each buffer in its place in the
 * payload buffer, as sent when the host reads it, else zeroed (what was there belongs to an
 * earlier request).
 */
static int receive_generic(struct connection *connection, const struct winapi_hvsock_header *request,
			   const struct winapi_api_entry *entry)
{
	uint64_t offset = 0;
	uint32_t i;
	int rc;

	rc = reserve_payload(connection, winapi_hvsock_buffer_bytes(request));
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "host-socket", "no memory for buffers of %llu bytes",
			   (unsigned long long)winapi_hvsock_buffer_bytes(request));
		return rc;
	}
	rc = winapi_hvsock_receive(&connection->reader, connection->inline_data, request->inline_length);
	for (i = 0; rc == 0 && i < request->buffer_count; i++) {
		if (entry->buffer_access[i] & WINAPI_ACCESS_HOST_READS)
			rc = winapi_hvsock_receive(&connection->reader, connection->payload + offset,
						   request->buffer_lengths[i]);
		else
			memset(connection->payload + offset, 0, (size_t)request->buffer_lengths[i]);
		offset += request->buffer_lengths[i];
	}
	if (rc == 0)
		winapi_counter_add_shared(&connection->stats->bytes_in, request->payload_size);
	connection->payload_length = offset;
	return rc;
}

/*
 * A generic request whose header decoded with @decoded (0 or -EBADMSG): an API this process
 * registered, or LIST. The reply names the api as the request did, or none when nobody here
 * knows it (what a 1.0 service answers too, so the guest's fallback works either way).
 */
static int serve_generic(struct connection *connection, const struct winapi_hvsock_header *request, int decoded)
{
	struct winapi_hvsock_header reply = { .request_id = request->request_id };
	struct winapi_hvsock_span spans[WINAPI_HVSOCK_MAX_SPANS];
	const struct winapi_api_entry *entry = resolve(request->api_name);
	struct winapi_host_request context;
	struct winapi_host_reply result;
	struct winapi_message message;
	unsigned int span_count = 0;
	uint64_t offset = 0;
	uint32_t i;
	int rc;

	if (entry == NULL)
		reply.status = WINAPI_STATUS_UNSUPPORTED_API;
	else if (decoded != 0)
		reply.status = WINAPI_STATUS_BAD_MESSAGE;
	else
		reply.status = check_generic(request, entry);
	if (reply.status != WINAPI_STATUS_OK) {
		/* Wrong but framed soundly: skip the payload, answer, go on. */
		rc = winapi_hvsock_receive(&connection->reader, NULL, request->payload_size);
		if (rc != 0)
			return rc;
		winapi_counter_add_shared(&connection->stats->bytes_in, request->payload_size);
		if (entry != NULL)
			memcpy(reply.api_name, request->api_name, sizeof(reply.api_name));
		winapi_log(WINAPI_LOG_DEBUG, "host-socket", "request %llu (%s): %s",
			   (unsigned long long)request->request_id, request->api_name, winapi_status_name(reply.status));
		return answer(connection, &reply, NULL, 0);
	}
	rc = receive_generic(connection, request, entry);
	if (rc != 0)
		return rc;

	build_message(request, connection, entry->api_id, &message);
	context = (struct winapi_host_request){ .message = &message };
	winapi_host_dispatch(&connection->context, &context, &result);
	if (result.status == WINAPI_HOST_STATUS_DEFERRED)
		return 0; /* an event wait: answered by pump_events() */
	memcpy(reply.api_name, request->api_name, sizeof(reply.api_name));
	reply.status = result.status;
	if (result.status != WINAPI_STATUS_OK)
		return answer(connection, &reply, NULL, 0);
	/* The inline answer, then the buffers the host writes, as the handler left them. */
	reply.inline_length = result.length;
	spans[span_count++] = (struct winapi_hvsock_span){ .data = result.data, .length = result.length };
	for (i = 0; i < request->buffer_count; i++) {
		if (entry->buffer_access[i] & WINAPI_ACCESS_HOST_WRITES)
			spans[span_count++] = (struct winapi_hvsock_span){ .data = connection->payload + offset,
									   .length = (size_t)request->buffer_lengths[i] };
		offset += request->buffer_lengths[i];
	}
	return answer_spans(connection, &reply, spans, span_count);
}

/* One request whose header decoded with @decoded (0, -EBADMSG or -EPROTONOSUPPORT). */
static int serve_request(struct connection *connection, const struct winapi_hvsock_header *request, int decoded)
{
	struct winapi_hvsock_header reply = { .request_id = request->request_id, .api_id = request->api_id };
	struct winapi_host_request context;
	struct winapi_host_reply result;
	struct winapi_message message;
	enum winapi_hvsock_bulk bulk = winapi_hvsock_bulk(request);
	uint64_t need = request->payload_size;
	int rc;

	if (winapi_hvsock_is_generic(request))
		return serve_generic(connection, request, decoded);
	if (decoded == 0 && bulk != WINAPI_HVSOCK_BULK_NONE)
		need = winapi_hvsock_buffer_bytes(request);
	rc = decoded == 0 ? reserve_payload(connection, need) : 0;
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "host-socket", "no memory for a payload of %llu bytes",
			   (unsigned long long)need);
		return rc;
	}
	/* A request that is wrong but framed soundly: skip its payload, answer it, go on. */
	rc = winapi_hvsock_receive(&connection->reader, decoded == 0 ? connection->payload : NULL,
				   request->payload_size);
	if (rc != 0)
		return rc;
	winapi_counter_add_shared(&connection->stats->bytes_in, request->payload_size);
	if (decoded != 0) {
		reply.status = decoded == -EPROTONOSUPPORT ? WINAPI_STATUS_UNSUPPORTED_API : WINAPI_STATUS_BAD_MESSAGE;
		winapi_log(WINAPI_LOG_DEBUG, "host-socket", "request %llu: %s", (unsigned long long)request->request_id,
			   winapi_status_name(reply.status));
		return answer(connection, &reply, NULL, 0);
	}

	connection->payload_length = bulk != WINAPI_HVSOCK_BULK_NONE ? need : 0;
	build_message(request, connection, request->api_id, &message);
	context = (struct winapi_host_request){ .message = &message };
	winapi_host_dispatch(&connection->context, &context, &result);
	reply.status = result.status;
	if (result.status != WINAPI_STATUS_OK)
		return answer(connection, &reply, NULL, 0);
	if (request->api_id == WINAPI_API_ECHO)
		return answer(connection, &reply, result.data, result.length);
	if (result.length > sizeof(reply.fields))
		return -EINVAL;
	memcpy(reply.fields, result.data, result.length);
	reply.fields_length = result.length;
	/* write: the buffers as the host left them go back to the guest. */
	return answer(connection, &reply, connection->payload,
		      bulk == WINAPI_HVSOCK_BULK_TO_GUEST ? connection->payload_length : 0);
}

/* A deferred answer (an event wait) goes out as a generic reply frame of its own. */
static int emit_answer(void *context, const struct winapi_message *response)
{
	struct connection *connection = context;
	struct winapi_hvsock_header reply = {
		.request_id = response->request_id,
		.api_name = WINAPI_API_EVENT_WAIT_NAME,
		.status = response->status,
		.inline_length = response->status == WINAPI_STATUS_OK ? response->inline_length : 0,
	};

	return answer(connection, &reply, response->inline_data, reply.inline_length);
}

/*
 * Wait for the next frame no longer than until @wake_ns: an event or a wait's deadline due,
 * the idle timeout, or the time to give back a large buffer (a frame partly read already is
 * taken at once). Returns 1 (read a frame), 0 (@wake_ns came), or a negative errno of the
 * socket.
 */
static int wait_for_frame(struct connection *connection, uint64_t wake_ns)
{
	uint64_t now = winapi_clock_now_ns();
	int timeout_ms, rc;

	if (wake_ns == UINT64_MAX || connection->reader.start < connection->reader.end)
		return 1;
	if (wake_ns <= now)
		return 0;
	timeout_ms = wake_ns - now > 1000000000u ? 1000 : (int)((wake_ns - now + 999999u) / 1000000u);
#ifdef _WIN32
	WSAPOLLFD readable = { .fd = connection->socket, .events = POLLRDNORM };

	rc = WSAPoll(&readable, 1, timeout_ms);
	if (rc < 0)
		return -EIO;
#else
	struct pollfd readable = { .fd = connection->socket, .events = POLLIN };

	rc = poll(&readable, 1, timeout_ms);
	if (rc < 0)
		return errno == EINTR ? 0 : -errno;
#endif
	return rc > 0 ? 1 : 0;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

int winapi_host_socket_serve_limited(winapi_socket_t socket, struct winapi_host_socket_stats *stats,
				     const struct winapi_host_socket_limits *limits)
{
	static const struct winapi_host_socket_limits defaults = { 0 };
	struct winapi_host_socket_stats unshared = { 0 };
	struct connection connection = { .socket = socket, .stats = stats != NULL ? stats : &unshared,
					 .limits = limits != NULL ? *limits : defaults };
	struct winapi_hvsock_header request;
	char text[WINAPI_HVSOCK_MAX_HEADER];
	uint64_t next_ns, now, idle_ns, shrink_ns = UINT64_MAX;
	size_t length;
	int rc, decoded;

	winapi_hvsock_reader_init(&connection.reader, socket);
	connection.reader.frame_timeout_ms = connection.limits.frame_timeout_ms;
	connection.context.memory = (struct winapi_host_memory){ .gpadl_span = payload_span,
								  .context = &connection };
	/* Echo's bytes land in the payload buffer too: it always holds at least those. */
	rc = reserve_payload(&connection, WINAPI_MAX_INLINE_DATA);
	if (rc != 0)
		return rc;
	rc = winapi_host_subscriptions_create(&connection.context.subscriptions);
	if (rc != 0)
		goto out_free_payload;
	winapi_counter_add_shared(&connection.stats->connections, 1);
	connection.idle_ns = after_ms(winapi_clock_now_ns(), connection.limits.idle_timeout_ms);
	for (;;) {
		/* Events due, and the waits they or their deadlines answer, before the next frame. */
		now = winapi_clock_now_ns();
		rc = winapi_host_events_pump(connection.context.subscriptions, now, emit_answer, &connection, &next_ns);
		if (rc != 0)
			break;
		if (now >= shrink_ns) {
			shrink_payload(&connection);
			shrink_ns = UINT64_MAX;
		}
		/*
		 * Idle: no frame either way for the idle timeout. With events to pump (a wait
		 * open, or a subscription) the peer may be waiting on us: it gets the longest
		 * wait more, by which any open wait has been answered, which restarts the clock.
		 */
		idle_ns = connection.idle_ns;
		if (next_ns != UINT64_MAX && idle_ns != UINT64_MAX)
			idle_ns += (uint64_t)WINAPI_EVENT_MAX_WAIT_MS * 1000000u;
		if (now >= idle_ns) {
			winapi_log(WINAPI_LOG_NOTICE, "host-socket", "closing a connection idle for %u ms",
				   connection.limits.idle_timeout_ms);
			rc = -ECANCELED;
			break;
		}
		rc = wait_for_frame(&connection, earliest(next_ns, earliest(idle_ns, shrink_ns)));
		if (rc == 0)
			continue;
		if (rc < 0)
			break;
		rc = winapi_hvsock_receive_header(&connection.reader, text, sizeof(text), &length);
		if (rc == -EAGAIN)
			continue; /* an idle guest, between frames (a receive timeout on the socket) */
		if (rc != 0)
			break;
		decoded = winapi_hvsock_request_decode(text, length, &request);
		if (decoded == -EPROTO) {
			winapi_log(WINAPI_LOG_WARNING, "host-socket",
				   "closing a connection: a header without a usable request_id or payload_size");
			rc = -EPROTO;
			break;
		}
		rc = serve_request(&connection, &request, decoded);
		if (rc != 0)
			break;
		now = winapi_clock_now_ns();
		connection.idle_ns = after_ms(now, connection.limits.idle_timeout_ms);
		shrink_ns = connection.payload_capacity > WINAPI_HOST_SOCKET_KEEP_PAYLOAD ?
				    after_ms(now, WINAPI_HOST_SOCKET_SHRINK_MS) : UINT64_MAX;
	}
	if (rc == -ECONNRESET)
		rc = 0; /* the peer closed between frames: the normal end */
	else if (rc == -EPROTO)
		winapi_log(WINAPI_LOG_WARNING, "host-socket", "connection ended inside a frame or broke the framing");
	else if (rc == -ETIMEDOUT)
		winapi_log(WINAPI_LOG_WARNING, "host-socket",
			   "closing a connection whose frame took longer than %u ms (--timeout)",
			   connection.limits.frame_timeout_ms);
	winapi_host_subscriptions_destroy(connection.context.subscriptions);
out_free_payload:
	free(connection.payload);
	return rc;
}

int winapi_host_socket_serve(winapi_socket_t socket, struct winapi_host_socket_stats *stats)
{
	return winapi_host_socket_serve_limited(socket, stats, NULL);
}
