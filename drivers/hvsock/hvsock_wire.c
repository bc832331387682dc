/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Hyper-V socket wire: JSON headers (jansson) over a stream, both directions, shared by
 * liblowlat's hvsock transport, the host service and winapi-bench's baseline. The seed APIs'
 * fields travel in JSON but live, on both sides, in <winapi/protocol.h>'s inline encoding, so
 * that the host service runs the very handlers the VMBus host runs; a generic frame carries
 * any other API's inline bytes as they are, in its payload.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <winsock2.h>
#define POLL_READ POLLRDNORM
#define POLL_WRITE POLLWRNORM
#else
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#define POLL_READ POLLIN
#define POLL_WRITE POLLOUT
#endif

#include <winapi_internal/clock.h>
#include <winapi_internal/hvsock.h>

#ifdef _WIN32
#define secure_getenv getenv /* no setuid programs there to steer */
#endif

static_assert(sizeof(((struct winapi_hvsock_header *)0)->fields) >= sizeof(struct winapi_buffer_test_reply) &&
	      sizeof(((struct winapi_hvsock_header *)0)->fields) >= sizeof(struct winapi_perf_test_reply),
	      "header fields hold every inline struct");

/* JSON integers are signed 64-bit (json_int_t): ids and sizes above that are refused. */
#define JSON_UINT_MAX ((uint64_t)INT64_MAX)

static const char *const api_names[] = {
	[WINAPI_API_ECHO] = "echo",
	[WINAPI_API_BUFFER_TEST] = "buffer_test",
	[WINAPI_API_PERF_TEST] = "performance",
};
static const char *const operation_names[] = {
	[WINAPI_BUFFER_OP_WRITE] = "write",
	[WINAPI_BUFFER_OP_READ] = "read",
	[WINAPI_BUFFER_OP_VERIFY] = "verify",
};
static const char *const test_type_names[] = {
	[WINAPI_PERF_LATENCY] = "latency",
	[WINAPI_PERF_THROUGHPUT] = "throughput",
};

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static int name_to_index(const char *const *names, size_t count, const char *name)
{
	size_t i;

	for (i = 1; name != NULL && i < count; i++)
		if (names[i] != NULL && strcmp(names[i], name) == 0)
			return (int)i;
	return -1;
}

/* A name a generic frame may carry: a possible API name, and not a seed's wire name. */
static bool generic_name(const char *name)
{
	return winapi_api_name_check(name) == 0 && name_to_index(api_names, COUNT(api_names), name) < 0;
}

uint64_t winapi_hvsock_buffer_bytes(const struct winapi_hvsock_header *request)
{
	uint64_t total = 0;
	uint32_t i;

	for (i = 0; i < request->buffer_count && i < WINAPI_MAX_BUFFERS; i++)
		total += request->buffer_lengths[i];
	return total;
}

uint64_t winapi_hvsock_access_bytes(const struct winapi_hvsock_header *request,
				    const uint8_t access[WINAPI_MAX_BUFFERS], uint8_t direction)
{
	uint64_t total = 0;
	uint32_t i;

	for (i = 0; i < request->buffer_count && i < WINAPI_MAX_BUFFERS; i++)
		if (access[i] & direction)
			total += request->buffer_lengths[i];
	return total;
}

enum winapi_hvsock_bulk winapi_hvsock_bulk(const struct winapi_hvsock_header *request)
{
	struct winapi_buffer_test_request test;
	struct winapi_perf_test_request perf;

	if (request->buffer_count == 0)
		return WINAPI_HVSOCK_BULK_NONE;
	if (request->api_id == WINAPI_API_BUFFER_TEST &&
	    winapi_buffer_test_request_decode(request->fields, request->fields_length, &test) == 0)
		return test.operation == WINAPI_BUFFER_OP_WRITE ? WINAPI_HVSOCK_BULK_TO_GUEST :
								  WINAPI_HVSOCK_BULK_TO_HOST;
	if (request->api_id == WINAPI_API_PERF_TEST &&
	    winapi_perf_test_request_decode(request->fields, request->fields_length, &perf) == 0 &&
	    perf.test_type == WINAPI_PERF_THROUGHPUT)
		return WINAPI_HVSOCK_BULK_TO_HOST;
	return WINAPI_HVSOCK_BULK_NONE;
}

/* ---- encoding ---- */

static int set_uint(json_t *object, const char *key, uint64_t value)
{
	if (value > JSON_UINT_MAX)
		return -EINVAL;
	return json_object_set_new(object, key, json_integer((json_int_t)value)) == 0 ? 0 : -ENOMEM;
}

/* "buffers": the lengths, each what the decoder takes (1 byte..64 MiB). */
static int add_buffers(const struct winapi_hvsock_header *header, json_t *object)
{
	json_t *lengths;
	uint32_t i;

	if (header->buffer_count > WINAPI_MAX_BUFFERS)
		return -EINVAL;
	for (i = 0; i < header->buffer_count; i++)
		if (header->buffer_lengths[i] == 0 || header->buffer_lengths[i] > WINAPI_MAX_BUFFER_SIZE)
			return -EINVAL;
	lengths = json_array();
	if (lengths == NULL || json_object_set_new(object, "buffers", lengths) != 0)
		return -ENOMEM;
	for (i = 0; i < header->buffer_count; i++)
		if (json_array_append_new(lengths, json_integer((json_int_t)header->buffer_lengths[i])) != 0)
			return -ENOMEM;
	return 0;
}

static int add_request_fields(const struct winapi_hvsock_header *header, json_t *object)
{
	struct winapi_buffer_test_request test;
	struct winapi_perf_test_request perf;
	int rc = 0;

	switch (header->api_id) {
	case WINAPI_API_ECHO:
		return header->buffer_count == 0 && header->fields_length == 0 ? 0 : -EINVAL;
	case WINAPI_API_BUFFER_TEST:
		if (winapi_buffer_test_request_decode(header->fields, header->fields_length, &test) != 0 ||
		    test.operation >= COUNT(operation_names) || operation_names[test.operation] == NULL)
			return -EINVAL;
		rc = json_object_set_new(object, "operation", json_string(operation_names[test.operation]));
		rc |= set_uint(object, "pattern", test.pattern);
		rc |= set_uint(object, "crc_seed", test.crc_seed);
		break;
	case WINAPI_API_PERF_TEST:
		if (winapi_perf_test_request_decode(header->fields, header->fields_length, &perf) != 0 ||
		    perf.test_type >= COUNT(test_type_names) || test_type_names[perf.test_type] == NULL)
			return -EINVAL;
		rc = json_object_set_new(object, "test_type", json_string(test_type_names[perf.test_type]));
		rc |= set_uint(object, "sequence", perf.sequence);
		break;
	default:
		return -EINVAL;
	}
	if (rc != 0)
		return -EINVAL;
	return add_buffers(header, object);
}

/* A generic frame's own fields; what its decoder would refuse is refused here. */
static int add_generic_fields(const struct winapi_hvsock_header *header, bool reply, json_t *object)
{
	int rc;

	if (header->api_id != 0 || header->fields_length != 0 || header->inline_length > WINAPI_MAX_INLINE_DATA ||
	    header->inline_length > header->payload_size)
		return -EINVAL;
	rc = set_uint(object, "inline_length", header->inline_length);
	if (reply)
		return rc == 0 && (header->status == WINAPI_STATUS_OK || header->payload_size == 0) ? 0 : -EINVAL;
	if (header->reply_capacity > WINAPI_MAX_INLINE_DATA ||
	    header->payload_size > header->inline_length + winapi_hvsock_buffer_bytes(header))
		return -EINVAL;
	rc |= set_uint(object, "version", header->api_version);
	rc |= set_uint(object, "reply_capacity", header->reply_capacity);
	if (rc != 0)
		return -EINVAL;
	return add_buffers(header, object);
}

static int add_reply_fields(const struct winapi_hvsock_header *header, json_t *object)
{
	struct winapi_buffer_test_reply test;
	struct winapi_perf_test_reply perf;
	int rc;

	if (header->status != WINAPI_STATUS_OK || header->api_id == WINAPI_API_ECHO)
		return header->fields_length == 0 ? 0 : -EINVAL;
	if (header->api_id == WINAPI_API_BUFFER_TEST) {
		if (winapi_buffer_test_reply_decode(header->fields, header->fields_length, &test) != 0)
			return -EINVAL;
		rc = set_uint(object, "bytes_processed", test.bytes_processed);
		rc |= set_uint(object, "checksum", test.checksum);
		rc |= set_uint(object, "mismatches", test.mismatches);
		if (test.first_mismatch == UINT64_MAX)
			rc |= json_object_set_new(object, "first_mismatch", json_null());
		else
			rc |= set_uint(object, "first_mismatch", test.first_mismatch);
		return rc != 0 ? -EINVAL : 0;
	}
	if (header->api_id == WINAPI_API_PERF_TEST) {
		if (winapi_perf_test_reply_decode(header->fields, header->fields_length, &perf) != 0)
			return -EINVAL;
		rc = set_uint(object, "sequence", perf.sequence);
		rc |= set_uint(object, "bytes_processed", perf.bytes_processed);
		rc |= set_uint(object, "checksum", perf.checksum);
		rc |= set_uint(object, "host_ns", perf.host_ns);
		return rc != 0 ? -EINVAL : 0;
	}
	return -EINVAL;
}

int winapi_hvsock_header_encode(const struct winapi_hvsock_header *header, bool reply, char *out,
				size_t out_size)
{
	json_t *object, *flags;
	size_t length;
	int rc = -ENOMEM;
	bool known, generic;

	if (header == NULL || out == NULL)
		return -EINVAL;
	generic = winapi_hvsock_is_generic(header);
	if (generic && !generic_name(header->api_name))
		return -EINVAL;
	known = !generic && header->api_id < COUNT(api_names) && api_names[header->api_id] != NULL;
	/* Only a reply may name no api: the answer to a request for one nobody knows. */
	if (!known && !generic && !(reply && header->status == WINAPI_STATUS_UNSUPPORTED_API))
		return -EINVAL;
	object = json_object();
	if (object == NULL)
		return -ENOMEM;
	if (set_uint(object, "request_id", header->request_id) != 0 ||
	    json_object_set_new(object, "api", generic ? json_string(header->api_name) :
					       known   ? json_string(api_names[header->api_id]) :
							 json_null()) != 0 ||
	    set_uint(object, "payload_size", header->payload_size) != 0) {
		rc = -EINVAL;
		goto out_free_object;
	}
	if (reply) {
		rc = set_uint(object, "status", header->status);
		if (rc == 0)
			rc = generic ? add_generic_fields(header, true, object) : add_reply_fields(header, object);
	} else {
		flags = json_array();
		rc = flags != NULL && json_object_set_new(object, "flags", flags) == 0 ? 0 : -ENOMEM;
		if (rc == 0 && (header->flags & WINAPI_HVSOCK_FLAG_ASYNC))
			rc = json_array_append_new(flags, json_string("async")) == 0 ? 0 : -ENOMEM;
		if (rc == 0)
			rc = generic ? add_generic_fields(header, false, object) : add_request_fields(header, object);
	}
	if (rc != 0)
		goto out_free_object;
	length = json_dumpb(object, out, out_size, JSON_COMPACT);
	if (length == 0)
		rc = -ENOMEM;
	else if (length > out_size)
		rc = -ENOSPC;
	else
		rc = (int)length;
out_free_object:
	json_decref(object);
	return rc;
}

/* ---- decoding: everything here came from the peer ---- */

/* A non-negative JSON integer no larger than @limit. */
static int get_uint(const json_t *object, const char *key, uint64_t limit, uint64_t *value)
{
	const json_t *item = json_object_get(object, key);

	if (!json_is_integer(item) || json_integer_value(item) < 0 || (uint64_t)json_integer_value(item) > limit)
		return -EBADMSG;
	*value = (uint64_t)json_integer_value(item);
	return 0;
}

static int get_name(const json_t *object, const char *key, const char *const *names, size_t count)
{
	return name_to_index(names, count, json_string_value(json_object_get(object, key)));
}

/*
 * The common part: request_id and payload_size make a frame answerable; api names a seed's
 * handler, or, being any other possible name, makes a generic frame.
 */
static int decode_common(const json_t *object, struct winapi_hvsock_header *header)
{
	const char *name = json_string_value(json_object_get(object, "api"));
	int seed;

	if (!json_is_object(object) || get_uint(object, "request_id", JSON_UINT_MAX, &header->request_id) != 0 ||
	    get_uint(object, "payload_size", WINAPI_HVSOCK_MAX_PAYLOAD, &header->payload_size) != 0)
		return -EPROTO;
	seed = name_to_index(api_names, COUNT(api_names), name);
	if (seed > 0) {
		header->api_id = (uint16_t)seed;
		return 0;
	}
	/* (A NUL inside a JSON string never gets here: json_loadb() refuses it without JSON_ALLOW_NUL.) */
	if (!generic_name(name))
		return -EPROTONOSUPPORT;
	memcpy(header->api_name, name, strlen(name)); /* shorter than api_name (checked), which is zeroed */
	return 0;
}

static int decode_buffers(const json_t *object, struct winapi_hvsock_header *header)
{
	const json_t *lengths = json_object_get(object, "buffers"), *item;
	size_t i;

	if (!json_is_array(lengths) || json_array_size(lengths) > WINAPI_MAX_BUFFERS)
		return -EBADMSG;
	json_array_foreach(lengths, i, item) {
		/* Any length up to a buffer's: a split call's piece is a part of a buffer. */
		if (!json_is_integer(item) || json_integer_value(item) <= 0 ||
		    json_integer_value(item) > (json_int_t)WINAPI_MAX_BUFFER_SIZE)
			return -EBADMSG;
		header->buffer_lengths[i] = (uint64_t)json_integer_value(item);
	}
	header->buffer_count = (uint32_t)json_array_size(lengths);
	return 0;
}

static int decode_flags(const json_t *object, struct winapi_hvsock_header *header)
{
	const json_t *flags = json_object_get(object, "flags"), *item;
	size_t i;

	if (flags == NULL)
		return 0;
	if (!json_is_array(flags))
		return -EBADMSG;
	json_array_foreach(flags, i, item) {
		/* An unknown flag may change the meaning of the request: refuse it, do not guess. */
		if (json_is_string(item) && strcmp(json_string_value(item), "async") == 0)
			header->flags |= WINAPI_HVSOCK_FLAG_ASYNC;
		else
			return -EBADMSG;
	}
	return 0;
}

static int decode_request_fields(const json_t *object, struct winapi_hvsock_header *header)
{
	struct winapi_buffer_test_request test = { 0 };
	struct winapi_perf_test_request perf = { 0 };
	uint64_t pattern, seed;
	int kind;

	switch (header->api_id) {
	case WINAPI_API_ECHO:
		return header->payload_size <= WINAPI_MAX_INLINE_DATA ? 0 : -EBADMSG;
	case WINAPI_API_BUFFER_TEST:
		kind = get_name(object, "operation", operation_names, COUNT(operation_names));
		if (kind < 0 || get_uint(object, "pattern", UINT32_MAX, &pattern) != 0 ||
		    get_uint(object, "crc_seed", UINT32_MAX, &seed) != 0 || decode_buffers(object, header) != 0 ||
		    header->buffer_count == 0)
			return -EBADMSG;
		test.operation = (uint32_t)kind;
		test.pattern = (uint32_t)pattern;
		test.crc_seed = (uint32_t)seed;
		winapi_buffer_test_request_encode(&test, header->fields);
		header->fields_length = sizeof(test);
		break;
	case WINAPI_API_PERF_TEST:
		kind = get_name(object, "test_type", test_type_names, COUNT(test_type_names));
		if (kind < 0 || get_uint(object, "sequence", JSON_UINT_MAX, &perf.sequence) != 0 ||
		    (json_object_get(object, "buffers") != NULL && decode_buffers(object, header) != 0) ||
		    (kind == WINAPI_PERF_THROUGHPUT) != (header->buffer_count != 0))
			return -EBADMSG;
		perf.test_type = (uint32_t)kind;
		winapi_perf_test_request_encode(&perf, header->fields);
		header->fields_length = sizeof(perf);
		break;
	default:
		return -EPROTONOSUPPORT;
	}
	/* The payload is exactly the bytes the host reads, or nothing. */
	if (header->payload_size !=
	    (winapi_hvsock_bulk(header) == WINAPI_HVSOCK_BULK_TO_HOST ? winapi_hvsock_buffer_bytes(header) : 0))
		return -EBADMSG;
	return 0;
}

/*
 * A generic request's fields. Which buffers the payload carries is for the host's registry to
 * say, not the frame: here it holds the inline bytes and at most every buffer.
 */
static int decode_generic_request(const json_t *object, struct winapi_hvsock_header *header)
{
	uint64_t version, inline_length, capacity;

	if (get_uint(object, "version", UINT16_MAX, &version) != 0 ||
	    get_uint(object, "inline_length", WINAPI_MAX_INLINE_DATA, &inline_length) != 0 ||
	    get_uint(object, "reply_capacity", WINAPI_MAX_INLINE_DATA, &capacity) != 0 ||
	    decode_buffers(object, header) != 0)
		return -EBADMSG;
	header->api_version = (uint16_t)version;
	header->inline_length = (uint32_t)inline_length;
	header->reply_capacity = (uint32_t)capacity;
	if (header->payload_size < inline_length ||
	    header->payload_size > inline_length + winapi_hvsock_buffer_bytes(header))
		return -EBADMSG;
	return 0;
}

/* A generic reply's: its inline bytes lead the payload; an error carries neither. */
static int decode_generic_reply(const json_t *object, struct winapi_hvsock_header *header)
{
	uint64_t inline_length;

	if (get_uint(object, "inline_length", WINAPI_MAX_INLINE_DATA, &inline_length) != 0 ||
	    inline_length > header->payload_size || (header->status != WINAPI_STATUS_OK && header->payload_size != 0))
		return -EPROTO;
	header->inline_length = (uint32_t)inline_length;
	return 0;
}

static int decode_reply_fields(const json_t *object, struct winapi_hvsock_header *header)
{
	struct winapi_buffer_test_reply test = { 0 };
	struct winapi_perf_test_reply perf = { 0 };
	const json_t *first;
	uint64_t checksum;

	if (winapi_hvsock_is_generic(header))
		return decode_generic_reply(object, header);
	if (header->status != WINAPI_STATUS_OK)
		return header->payload_size == 0 ? 0 : -EPROTO;
	switch (header->api_id) {
	case WINAPI_API_ECHO:
		return header->payload_size <= WINAPI_MAX_INLINE_DATA ? 0 : -EPROTO;
	case WINAPI_API_BUFFER_TEST:
		first = json_object_get(object, "first_mismatch");
		if (get_uint(object, "bytes_processed", WINAPI_HVSOCK_MAX_PAYLOAD, &test.bytes_processed) != 0 ||
		    get_uint(object, "checksum", UINT32_MAX, &checksum) != 0 ||
		    get_uint(object, "mismatches", WINAPI_HVSOCK_MAX_PAYLOAD, &test.mismatches) != 0 ||
		    (!json_is_null(first) &&
		     get_uint(object, "first_mismatch", WINAPI_HVSOCK_MAX_PAYLOAD, &test.first_mismatch) != 0))
			return -EPROTO;
		if (json_is_null(first))
			test.first_mismatch = UINT64_MAX;
		test.checksum = (uint32_t)checksum;
		winapi_buffer_test_reply_encode(&test, header->fields);
		header->fields_length = sizeof(test);
		return 0;
	case WINAPI_API_PERF_TEST:
		if (get_uint(object, "sequence", JSON_UINT_MAX, &perf.sequence) != 0 ||
		    get_uint(object, "bytes_processed", WINAPI_HVSOCK_MAX_PAYLOAD, &perf.bytes_processed) != 0 ||
		    get_uint(object, "checksum", UINT32_MAX, &checksum) != 0 ||
		    get_uint(object, "host_ns", JSON_UINT_MAX, &perf.host_ns) != 0 || header->payload_size != 0)
			return -EPROTO;
		perf.checksum = (uint32_t)checksum;
		winapi_perf_test_reply_encode(&perf, header->fields);
		header->fields_length = sizeof(perf);
		return 0;
	default:
		return -EPROTO;
	}
}

/*
 * Parse @text and the part every header shares; *@object stays with the caller, for the rest
 * (json_decref() it whatever this returns, when not NULL).
 */
static int decode_start(const void *text, size_t length, struct winapi_hvsock_header *header, json_t **object)
{
	json_error_t error;

	*object = NULL;
	if (text == NULL || header == NULL)
		return -EINVAL;
	memset(header, 0, sizeof(*header));
	/* JSON_REJECT_DUPLICATES: two request_ids in one header must not pick one silently. */
	*object = json_loadb(text, length, JSON_REJECT_DUPLICATES, &error);
	if (*object == NULL)
		return -EPROTO;
	return decode_common(*object, header);
}

int winapi_hvsock_request_decode(const void *text, size_t length, struct winapi_hvsock_header *header)
{
	json_t *object;
	int rc = decode_start(text, length, header, &object);

	if (rc == 0)
		rc = decode_flags(object, header);
	if (rc == 0)
		rc = winapi_hvsock_is_generic(header) ? decode_generic_request(object, header) :
							decode_request_fields(object, header);
	json_decref(object);
	return rc;
}

int winapi_hvsock_reply_decode(const void *text, size_t length, struct winapi_hvsock_header *header)
{
	json_t *object;
	uint64_t status;
	int rc = decode_start(text, length, header, &object);

	/* An api the host does not know is answered with none named, and nothing else. */
	if (rc == -EPROTONOSUPPORT && json_is_null(json_object_get(object, "api")) &&
	    get_uint(object, "status", UINT32_MAX, &status) == 0 && status == WINAPI_STATUS_UNSUPPORTED_API &&
	    header->payload_size == 0) {
		header->status = (uint32_t)status;
		rc = 0;
	} else if (rc == 0 && get_uint(object, "status", UINT32_MAX, &status) != 0) {
		rc = -EPROTO;
	} else if (rc == 0) {
		header->status = (uint32_t)status;
		rc = decode_reply_fields(object, header);
	}
	json_decref(object);
	return rc == -EINVAL ? rc : rc != 0 ? -EPROTO : 0;
}

/* ---- frames on the socket ---- */

/*
 * Wait until @socket is ready for @events, no later than @deadline_ns (CLOCK_MONOTONIC;
 * UINT64_MAX: none) and no longer than @stall_ms (0: no bound) from now. The deadline is
 * absolute: a peer that moves a byte now and then does not move it. With neither, nothing is
 * waited for here (the socket's own timeouts apply). 0; -ETIMEDOUT; a negative errno.
 */
static int wait_ready(winapi_socket_t socket, short events, uint64_t deadline_ns, unsigned int stall_ms)
{
	uint64_t now, until;
	int timeout_ms, rc;

	if (deadline_ns == UINT64_MAX && stall_ms == 0)
		return 0;
	now = winapi_clock_now_ns();
	until = stall_ms == 0 ? deadline_ns : winapi_clock_deadline_after(now, (int)stall_ms);
	if (until > deadline_ns)
		until = deadline_ns;
	for (;;) {
		if (now >= until)
			return -ETIMEDOUT;
		/* Rounded up: a wait that ends a little early would only poll again. */
		timeout_ms = until - now >= 3600000000000u ? 3600000 : (int)((until - now + 999999u) / 1000000u);
#ifdef _WIN32
		WSAPOLLFD ready = { .fd = socket, .events = events };

		rc = WSAPoll(&ready, 1, timeout_ms);
		if (rc < 0)
			return -EIO;
#else
		struct pollfd ready = { .fd = socket, .events = events };

		rc = poll(&ready, 1, timeout_ms);
		if (rc < 0 && errno != EINTR)
			return -errno;
#endif
		if (rc > 0)
			return 0; /* ready, or an error or hang-up the next call reports */
		now = winapi_clock_now_ns();
	}
}

#ifdef _WIN32
static int socket_error(void)
{
	switch (WSAGetLastError()) {
	case WSAECONNRESET:
	case WSAECONNABORTED:
		return -ECONNRESET;
	case WSAESHUTDOWN:
		return -EPIPE;
	case WSAETIMEDOUT:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

/* With a deadline, in pieces: a blocking send() of a large one would outlast it. */
static int send_all(winapi_socket_t socket, const void *data, size_t length, uint64_t deadline_ns)
{
	const char *bytes = data;
	size_t most = deadline_ns == UINT64_MAX ? 1u << 30 : 1u << 16;
	int rc;

	while (length > 0) {
		int chunk = length > most ? (int)most : (int)length;
		int sent;

		rc = wait_ready(socket, POLL_WRITE, deadline_ns, 0);
		if (rc != 0)
			return rc;
		sent = send(socket, bytes, chunk, 0);
		if (sent == SOCKET_ERROR)
			return socket_error();
		bytes += sent;
		length -= (size_t)sent;
	}
	return 0;
}

int winapi_hvsock_send_until(winapi_socket_t socket, uint64_t deadline_ns, const char *header, size_t header_length,
			     const struct winapi_hvsock_span *spans, unsigned int span_count)
{
	uint8_t prefix[4] = { (uint8_t)header_length, (uint8_t)(header_length >> 8),
			      (uint8_t)(header_length >> 16), (uint8_t)(header_length >> 24) };
	unsigned int i;
	int rc;

	if (header == NULL || header_length == 0 || header_length > UINT32_MAX || span_count > WINAPI_HVSOCK_MAX_SPANS ||
	    (span_count != 0 && spans == NULL))
		return -EINVAL;
	rc = send_all(socket, prefix, sizeof(prefix), deadline_ns);
	if (rc == 0)
		rc = send_all(socket, header, header_length, deadline_ns);
	for (i = 0; rc == 0 && i < span_count; i++)
		rc = send_all(socket, spans[i].data, spans[i].length, deadline_ns);
	return rc;
}

/* Bytes read (> 0), 0 at the end of the stream, or a negative errno. */
static long recv_once(winapi_socket_t socket, void *data, size_t length)
{
	int got = recv(socket, data, length > (1u << 30) ? 1 << 30 : (int)length, 0);

	return got == SOCKET_ERROR ? socket_error() : got;
}
#else
int winapi_hvsock_send_until(winapi_socket_t socket, uint64_t deadline_ns, const char *header, size_t header_length,
			     const struct winapi_hvsock_span *spans, unsigned int span_count)
{
	uint8_t prefix[4] = { (uint8_t)header_length, (uint8_t)(header_length >> 8),
			      (uint8_t)(header_length >> 16), (uint8_t)(header_length >> 24) };
	struct iovec iov[2 + WINAPI_HVSOCK_MAX_SPANS];
	struct msghdr message = { .msg_iov = iov };
	/* With a deadline, never blocked in the kernel: a peer reading a byte at a time would hold it. */
	int flags = MSG_NOSIGNAL | (deadline_ns != UINT64_MAX ? MSG_DONTWAIT : 0);
	unsigned int i;
	int rc;

	if (header == NULL || header_length == 0 || header_length > UINT32_MAX || span_count > WINAPI_HVSOCK_MAX_SPANS ||
	    (span_count != 0 && spans == NULL))
		return -EINVAL;
	iov[0] = (struct iovec){ .iov_base = prefix, .iov_len = sizeof(prefix) };
	iov[1] = (struct iovec){ .iov_base = (void *)header, .iov_len = header_length };
	for (i = 0; i < span_count; i++)
		iov[2 + i] = (struct iovec){ .iov_base = (void *)spans[i].data, .iov_len = spans[i].length };
	message.msg_iovlen = 2 + span_count;
	/* One sendmsg for the whole frame: a small request is one segment on the wire. */
	while (message.msg_iovlen > 0) {
		ssize_t sent = sendmsg(socket, &message, flags);

		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && deadline_ns != UINT64_MAX) {
			rc = wait_ready(socket, POLL_WRITE, deadline_ns, 0);
			if (rc != 0)
				return rc;
			continue;
		}
		if (sent < 0)
			return -errno;
		while (message.msg_iovlen > 0 && (size_t)sent >= message.msg_iov->iov_len) {
			sent -= (ssize_t)message.msg_iov->iov_len;
			message.msg_iov++;
			message.msg_iovlen--;
		}
		if (message.msg_iovlen > 0) {
			message.msg_iov->iov_base = (uint8_t *)message.msg_iov->iov_base + sent;
			message.msg_iov->iov_len -= (size_t)sent;
		}
	}
	return 0;
}

static long recv_once(winapi_socket_t socket, void *data, size_t length)
{
	for (;;) {
		ssize_t got = recv(socket, data, length, 0);

		if (got >= 0)
			return (long)got;
		if (errno != EINTR)
			return -errno;
	}
}
#endif

int winapi_hvsock_send(winapi_socket_t socket, const char *header, size_t header_length,
		       const struct winapi_hvsock_span *spans, unsigned int span_count)
{
	return winapi_hvsock_send_until(socket, UINT64_MAX, header, header_length, spans, span_count);
}

void winapi_hvsock_reader_init(struct winapi_hvsock_reader *reader, winapi_socket_t socket)
{
	reader->socket = socket;
	reader->frame_timeout_ms = 0;
	reader->deadline_ns = UINT64_MAX;
	reader->consumed = 0;
	reader->start = reader->end = 0;
}

/* A frame's first byte: from now it has frame_timeout_ms to arrive whole. */
static void start_frame(struct winapi_hvsock_reader *reader)
{
	reader->deadline_ns = reader->frame_timeout_ms == 0 ?
				      UINT64_MAX :
				      winapi_clock_deadline_after(winapi_clock_now_ns(), (int)reader->frame_timeout_ms);
}

/*
 * Exactly @length bytes into @data (NULL: dropped): what the buffer holds first; then a short
 * rest through the buffer, with one recv() taking whatever else has arrived (the next frames of
 * a busy peer), or a long one straight into @data, without a copy.
 * Before the first byte (when @started is false): -ECONNRESET, the stream ended; -EAGAIN, the
 * socket's receive timeout passed. After it: -EPROTO, the stream ended; -ETIMEDOUT, the
 * socket's timeout or the frame's deadline (reader->deadline_ns) passed.
 */
static int read_exact(struct winapi_hvsock_reader *reader, void *data, uint64_t length, bool started)
{
	uint8_t *bytes = data;
	long got;

	while (length > 0) {
		size_t buffered = reader->end - reader->start;

		if (buffered != 0) {
			size_t take = length < buffered ? (size_t)length : buffered;

			if (bytes != NULL) {
				memcpy(bytes, reader->buffer + reader->start, take);
				bytes += take;
			}
			reader->start += take;
			reader->consumed += take;
			length -= take;
			if (!started)
				start_frame(reader);
			started = true;
			continue;
		}
		if (started) {
			int rc = wait_ready(reader->socket, POLL_READ, reader->deadline_ns, reader->frame_timeout_ms);

			if (rc != 0)
				return rc;
		}
		if (bytes != NULL && length >= sizeof(reader->buffer)) {
			got = recv_once(reader->socket, bytes, length > (1u << 30) ? 1u << 30 : (size_t)length);
			if (got > 0) {
				bytes += got;
				length -= (uint64_t)got;
				reader->consumed += (uint64_t)got;
			}
		} else {
			reader->start = 0;
			got = recv_once(reader->socket, reader->buffer, sizeof(reader->buffer));
			reader->end = got > 0 ? (size_t)got : 0;
		}
		/* A receive timeout (SO_RCVTIMEO): between frames the peer is idle, inside one stalled. */
		if (got == -EAGAIN || got == -EWOULDBLOCK || got == -ETIMEDOUT)
			return started ? -ETIMEDOUT : -EAGAIN;
		if (got < 0)
			return (int)got;
		if (got == 0)
			return started ? -EPROTO : -ECONNRESET;
		if (!started)
			start_frame(reader);
		started = true;
	}
	return 0;
}

int winapi_hvsock_receive_header(struct winapi_hvsock_reader *reader, char *buffer, size_t size, size_t *length)
{
	uint8_t prefix[4];
	uint32_t header_length;
	int rc;

	rc = read_exact(reader, prefix, sizeof(prefix), false);
	if (rc != 0)
		return rc;
	header_length = (uint32_t)prefix[0] | (uint32_t)prefix[1] << 8 | (uint32_t)prefix[2] << 16 |
			(uint32_t)prefix[3] << 24;
	if (header_length == 0 || header_length > size)
		return -EPROTO;
	rc = read_exact(reader, buffer, header_length, true);
	if (rc != 0)
		return rc;
	*length = header_length;
	return 0;
}

int winapi_hvsock_receive(struct winapi_hvsock_reader *reader, void *data, uint64_t length)
{
	return read_exact(reader, data, length, true);
}

void winapi_hvsock_service_id(uint32_t port, char text[37])
{
	snprintf(text, 37, "%08" PRIx32 "-facb-11e6-bd58-64006a7986d3", port);
}

int winapi_hvsock_port_from_environment(uint32_t *port)
{
	const char *text = secure_getenv("WINAPI_SOCKET_PORT");
	unsigned long long value;
	char *end;

	*port = WINAPI_SOCKET_DEFAULT_PORT;
	if (text == NULL || *text == '\0')
		return 0;
	errno = 0;
	value = strtoull(text, &end, 0);
	if (errno != 0 || *end != '\0' || value == 0 || value > 0x7fffffffu || text[0] < '0' || text[0] > '9')
		return -EINVAL;
	*port = (uint32_t)value;
	return 0;
}

int winapi_hvsock_parse_cids(const char *text, uint32_t *cids, unsigned int max, unsigned int *count)
{
	unsigned long long value;
	unsigned int n = 0;
	char *end;

	if (text == NULL || *text == '\0')
		return -EINVAL;
	for (;;) {
		/* strtoull would take a sign or spaces: a CID is digits only. */
		if (*text < '0' || *text > '9')
			return -EINVAL;
		errno = 0;
		value = strtoull(text, &end, 0);
		if (errno != 0 || end == text || value >= 0xffffffffu || (*end != ',' && *end != '\0'))
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		cids[n++] = (uint32_t)value;
		if (*end == '\0')
			break;
		text = end + 1;
	}
	*count = n;
	return 0;
}

bool winapi_hvsock_cid_allowed(const uint32_t *cids, unsigned int count, uint32_t cid)
{
	unsigned int i;

	if (count == 0)
		return true;
	for (i = 0; i < count; i++)
		if (cids[i] == cid)
			return true;
	return false;
}

/* A decimal number of 1..@digits digits at *@text, at most @max; the cursor moves past it. */
static int parse_decimal(const char **text, unsigned int digits, unsigned long max, unsigned long *value)
{
	unsigned int count = 0;

	*value = 0;
	while (**text >= '0' && **text <= '9') {
		if (++count > digits)
			return -EINVAL;
		*value = *value * 10 + (unsigned long)(**text - '0');
		(*text)++;
	}
	return count == 0 || *value > max ? -EINVAL : 0;
}

int winapi_hvsock_parse_loopback(const char *text, bool any_port, uint32_t *address, uint16_t *port)
{
	unsigned long octet, number;
	uint32_t host = 0;
	unsigned int i;

	if (text == NULL)
		return -EINVAL;
	if (strncmp(text, "localhost:", 10) == 0) {
		host = 0x7f000001u;
		text += 9;
	} else {
		for (i = 0; i < 4; i++) {
			if (parse_decimal(&text, 3, 255, &octet) != 0 || *text != (i == 3 ? ':' : '.'))
				return -EINVAL;
			host = host << 8 | (uint32_t)octet;
			if (i < 3)
				text++;
		}
	}
	text++; /* the ':' */
	if (parse_decimal(&text, 5, 65535, &number) != 0 || *text != '\0' || (number == 0 && !any_port))
		return -EINVAL;
	if (host >> 24 != 127)
		return -EADDRNOTAVAIL;
	*address = host;
	*port = (uint16_t)number;
	return 0;
}
