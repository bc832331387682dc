/* SPDX-License-Identifier: BSD-3-Clause */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <winapi/host_apis.h>
#include <winapi/protocol.h>

static uint32_t header_checksum(const struct winapi_message_header *header)
{
	return winapi_crc32c(0, header, offsetof(struct winapi_message_header, header_checksum));
}

int winapi_buffer_descriptor_check(const struct winapi_buffer_descriptor *descriptor)
{
	if (descriptor->kind != WINAPI_BUFFER_GPADL && descriptor->kind != WINAPI_BUFFER_GPA_DIRECT)
		return -EINVAL;
	if (descriptor->flags != 0 || descriptor->reserved != 0)
		return -EINVAL;
	if (descriptor->length == 0 || descriptor->length > WINAPI_MAX_BUFFER_SIZE)
		return -EINVAL;
	if (descriptor->offset > UINT64_MAX - descriptor->length)
		return -EINVAL;
	return 0;
}

size_t winapi_message_size(const struct winapi_message *message)
{
	return sizeof(struct winapi_message_header) +
	       (size_t)message->buffer_count * sizeof(struct winapi_buffer_descriptor) +
	       message->inline_length;
}

/*
 * The payloads are sequences of little-endian u16, u32 and u64 fields; each pair below walks its
 * struct's fields in order with these cursors.
 */
static void put_16(uint8_t **cursor, uint16_t value)
{
	value = htole16(value);
	memcpy(*cursor, &value, 2);
	*cursor += 2;
}

static uint16_t get_16(const uint8_t **cursor)
{
	uint16_t value;

	memcpy(&value, *cursor, 2);
	*cursor += 2;
	return le16toh(value);
}

static void put_32(uint8_t **cursor, uint32_t value)
{
	value = htole32(value);
	memcpy(*cursor, &value, 4);
	*cursor += 4;
}

static void put_64(uint8_t **cursor, uint64_t value)
{
	value = htole64(value);
	memcpy(*cursor, &value, 8);
	*cursor += 8;
}

static uint32_t get_32(const uint8_t **cursor)
{
	uint32_t value;

	memcpy(&value, *cursor, 4);
	*cursor += 4;
	return le32toh(value);
}

static uint64_t get_64(const uint8_t **cursor)
{
	uint64_t value;

	memcpy(&value, *cursor, 8);
	*cursor += 8;
	return le64toh(value);
}

int winapi_message_encode(const struct winapi_message *message, void *out, size_t out_size)
{
	uint8_t *cursor = out;
	uint32_t checksum;
	size_t size;
	unsigned int i;

	if (message == NULL || out == NULL || message->buffer_count > WINAPI_MAX_BUFFERS ||
	    message->inline_length > WINAPI_MAX_INLINE_DATA ||
	    (message->inline_length != 0 && message->inline_data == NULL))
		return -EINVAL;
	for (i = 0; i < message->buffer_count; i++)
		if (winapi_buffer_descriptor_check(&message->buffers[i]) != 0)
			return -EINVAL;
	size = winapi_message_size(message);
	if (out_size < size)
		return -ENOBUFS;

	/*
	 * The header as eight 64-bit words stored straight into @out: built field by field in a
	 * struct on the stack, its 2- and 4-byte stores were read back at once by the CRC32C and
	 * the copy out, loads wider than the stores they needed, which x86 cannot forward from
	 * its store buffer: a stall each (issue 19: encode was 25 ns of a 218 ns request at
	 * batches of 32, most of it at those loads). The checksum goes in last.
	 */
	put_64(&cursor, WINAPI_PROTOCOL_MAGIC | (uint64_t)WINAPI_PROTOCOL_VERSION << 32 | (uint64_t)message->api_id << 48);
	put_64(&cursor, message->flags | (uint64_t)message->status << 32);
	put_64(&cursor, message->request_id);
	put_64(&cursor, message->inline_length | (uint64_t)message->reply_capacity << 32);
	put_64(&cursor, message->buffer_count | (uint32_t)message->api_version << 16);
	put_64(&cursor, 0);
	put_64(&cursor, 0);
	put_64(&cursor, 0);
	checksum = htole32(winapi_crc32c(0, out, offsetof(struct winapi_message_header, header_checksum)));
	memcpy((uint8_t *)out + offsetof(struct winapi_message_header, header_checksum), &checksum, sizeof(checksum));

	for (i = 0; i < message->buffer_count; i++) {
		const struct winapi_buffer_descriptor *source = &message->buffers[i];
		struct winapi_buffer_descriptor wire = {
			.kind = htole32(source->kind),
			.region = htole32(source->region),
			.offset = htole64(source->offset),
			.length = htole64(source->length),
		};

		memcpy(cursor, &wire, sizeof(wire));
		cursor += sizeof(wire);
	}
	if (message->inline_length != 0)
		memcpy(cursor, message->inline_data, message->inline_length);
	return (int)size;
}

int winapi_message_decode(const void *bytes, size_t length, struct winapi_message *message)
{
	const uint8_t *cursor = bytes;
	struct winapi_message_header header;
	size_t expected;
	unsigned int i;

	if (bytes == NULL || message == NULL || length < sizeof(header))
		return -EBADMSG;
	/* One copy, then every check and every use reads the copy. */
	memcpy(&header, cursor, sizeof(header));
	cursor += sizeof(header);
	if (le32toh(header.magic) != WINAPI_PROTOCOL_MAGIC)
		return -EBADMSG;
	if (le32toh(header.header_checksum) != header_checksum(&header))
		return -EBADMSG;

	/*
	 * Every field but the descriptors past buffer_count, which no one reads: zeroing the
	 * whole struct (eight descriptors, 304 bytes) cost a `rep stos` a message (issue 19).
	 */
	message->inline_data = NULL;
	message->version = le16toh(header.version);
	message->api_id = le16toh(header.api_id);
	message->flags = le32toh(header.flags);
	message->status = le32toh(header.status);
	message->request_id = le64toh(header.request_id);
	message->reply_capacity = le32toh(header.reply_capacity);
	message->buffer_count = le16toh(header.buffer_count);
	/* 1.0 senders zero it: "not stated". */
	message->api_version = le16toh(header.api_version);
	message->inline_length = le32toh(header.inline_length);
	if (message->version >> 8 != WINAPI_PROTOCOL_VERSION_MAJOR)
		return -EPROTONOSUPPORT;

	if (message->buffer_count > WINAPI_MAX_BUFFERS || message->inline_length > WINAPI_MAX_INLINE_DATA)
		return -EBADMSG;
	expected = winapi_message_size(message);
	/* VMBus pads packets to 8 bytes; anything longer than that is not ours. */
	if (length < expected || length - expected >= 8)
		return -EBADMSG;

	for (i = 0; i < message->buffer_count; i++) {
		struct winapi_buffer_descriptor wire, *decoded = &message->buffers[i];

		memcpy(&wire, cursor, sizeof(wire));
		cursor += sizeof(wire);
		decoded->kind = le32toh(wire.kind);
		decoded->flags = le32toh(wire.flags);
		decoded->region = le32toh(wire.region);
		decoded->reserved = le32toh(wire.reserved);
		decoded->offset = le64toh(wire.offset);
		decoded->length = le64toh(wire.length);
		if (winapi_buffer_descriptor_check(decoded) != 0)
			return -EBADMSG;
	}
	message->inline_data = message->inline_length != 0 ? cursor : NULL;
	return 0;
}

int winapi_status_to_errno(uint32_t status)
{
	switch (status) {
	case WINAPI_STATUS_OK:
		return 0;
	case WINAPI_STATUS_BAD_MESSAGE:
		return -EBADMSG;
	case WINAPI_STATUS_UNSUPPORTED_VERSION:
		return -EPROTONOSUPPORT;
	case WINAPI_STATUS_UNSUPPORTED_API:
		return -EOPNOTSUPP;
	case WINAPI_STATUS_BAD_BUFFER:
		return -EFAULT;
	case WINAPI_STATUS_REPLY_TOO_LARGE:
		return -ENOBUFS;
	case WINAPI_STATUS_BUSY:
		return -EBUSY;
	case WINAPI_STATUS_ACCESS_DENIED:
		return -EACCES;
	default:
		return -EREMOTEIO;
	}
}

uint32_t winapi_errno_to_status(int error)
{
	switch (error) {
	case 0:
		return WINAPI_STATUS_OK;
	case -EBADMSG:
		return WINAPI_STATUS_BAD_MESSAGE;
	case -EPROTONOSUPPORT:
		return WINAPI_STATUS_UNSUPPORTED_VERSION;
	case -EOPNOTSUPP:
		return WINAPI_STATUS_UNSUPPORTED_API;
	case -EFAULT:
		return WINAPI_STATUS_BAD_BUFFER;
	case -ENOBUFS:
		return WINAPI_STATUS_REPLY_TOO_LARGE;
	case -EBUSY:
		return WINAPI_STATUS_BUSY;
	case -EACCES:
		return WINAPI_STATUS_ACCESS_DENIED;
	default:
		return WINAPI_STATUS_INTERNAL;
	}
}

const char *winapi_status_name(uint32_t status)
{
	static const char *const names[] = {
		[WINAPI_STATUS_OK] = "ok",
		[WINAPI_STATUS_BAD_MESSAGE] = "bad message",
		[WINAPI_STATUS_UNSUPPORTED_VERSION] = "unsupported protocol version",
		[WINAPI_STATUS_UNSUPPORTED_API] = "unsupported api",
		[WINAPI_STATUS_BAD_BUFFER] = "bad buffer",
		[WINAPI_STATUS_REPLY_TOO_LARGE] = "reply too large",
		[WINAPI_STATUS_BUSY] = "busy",
		[WINAPI_STATUS_INTERNAL] = "internal host error",
		[WINAPI_STATUS_ACCESS_DENIED] = "access denied",
	};

	return status < sizeof(names) / sizeof(names[0]) ? names[status] : "unknown status";
}

const char *winapi_strerror(int error)
{
	/*
	 * strerror(ENOTCONN), "Transport endpoint is not connected", names no cause a user can
	 * act on: on VMBus it means the device went away, and these are the ways it does.
	 */
	if (error == -ENOTCONN)
		return "the host is gone: the VMBus device was removed (rescinded by the host), "
		       "or winapi-pmd or the host emulator exited";
	return strerror(-error);
}

void winapi_buffer_test_request_encode(const struct winapi_buffer_test_request *request, void *out)
{
	uint8_t *cursor = out;

	put_32(&cursor, request->operation);
	put_32(&cursor, request->pattern);
	put_32(&cursor, request->crc_seed);
	put_32(&cursor, 0);
}

int winapi_buffer_test_request_decode(const void *in, size_t length, struct winapi_buffer_test_request *request)
{
	const uint8_t *cursor = in;

	if (in == NULL || length != sizeof(*request))
		return -EBADMSG;
	request->operation = get_32(&cursor);
	request->pattern = get_32(&cursor);
	request->crc_seed = get_32(&cursor);
	request->reserved = get_32(&cursor);
	return request->reserved == 0 ? 0 : -EBADMSG;
}

void winapi_buffer_test_reply_encode(const struct winapi_buffer_test_reply *reply, void *out)
{
	uint8_t *cursor = out;

	put_64(&cursor, reply->bytes_processed);
	put_64(&cursor, reply->mismatches);
	put_64(&cursor, reply->first_mismatch);
	put_32(&cursor, reply->checksum);
	put_32(&cursor, 0);
}

int winapi_buffer_test_reply_decode(const void *in, size_t length, struct winapi_buffer_test_reply *reply)
{
	const uint8_t *cursor = in;

	if (in == NULL || length != sizeof(*reply))
		return -EBADMSG;
	reply->bytes_processed = get_64(&cursor);
	reply->mismatches = get_64(&cursor);
	reply->first_mismatch = get_64(&cursor);
	reply->checksum = get_32(&cursor);
	reply->reserved = get_32(&cursor);
	return reply->reserved == 0 ? 0 : -EBADMSG;
}

void winapi_perf_test_request_encode(const struct winapi_perf_test_request *request, void *out)
{
	uint8_t *cursor = out;

	put_32(&cursor, request->test_type);
	put_32(&cursor, 0);
	put_64(&cursor, request->sequence);
}

int winapi_perf_test_request_decode(const void *in, size_t length, struct winapi_perf_test_request *request)
{
	const uint8_t *cursor = in;

	if (in == NULL || length != sizeof(*request))
		return -EBADMSG;
	request->test_type = get_32(&cursor);
	request->reserved = get_32(&cursor);
	request->sequence = get_64(&cursor);
	return request->reserved == 0 ? 0 : -EBADMSG;
}

void winapi_perf_test_reply_encode(const struct winapi_perf_test_reply *reply, void *out)
{
	uint8_t *cursor = out;

	put_64(&cursor, reply->sequence);
	put_64(&cursor, reply->bytes_processed);
	put_64(&cursor, reply->host_ns);
	put_32(&cursor, reply->checksum);
	put_32(&cursor, 0);
}

int winapi_perf_test_reply_decode(const void *in, size_t length, struct winapi_perf_test_reply *reply)
{
	const uint8_t *cursor = in;

	if (in == NULL || length != sizeof(*reply))
		return -EBADMSG;
	reply->sequence = get_64(&cursor);
	reply->bytes_processed = get_64(&cursor);
	reply->host_ns = get_64(&cursor);
	reply->checksum = get_32(&cursor);
	reply->reserved = get_32(&cursor);
	return reply->reserved == 0 ? 0 : -EBADMSG;
}

/* ---- the API table ---- */

#define SEED_API(id_, name_, request_, reply_, access_)                                          \
	{ .name = name_, .api_id = id_, .version = 0x100, .max_request = request_, .max_reply = reply_, \
	  .buffer_access = access_ }
#define ALL_BUFFERS(access) { access, access, access, access, access, access, access, access }

const struct winapi_api_entry winapi_seed_apis[3] = {
	SEED_API(WINAPI_API_ECHO, "winapi.echo", WINAPI_MAX_INLINE_DATA, WINAPI_MAX_INLINE_DATA, { 0 }),
	SEED_API(WINAPI_API_BUFFER_TEST, "winapi.buffer_test", sizeof(struct winapi_buffer_test_request),
		 sizeof(struct winapi_buffer_test_reply),
		 ALL_BUFFERS(WINAPI_ACCESS_HOST_READS | WINAPI_ACCESS_HOST_WRITES)),
	SEED_API(WINAPI_API_PERF_TEST, "winapi.perf_test", sizeof(struct winapi_perf_test_request),
		 sizeof(struct winapi_perf_test_reply), ALL_BUFFERS(WINAPI_ACCESS_HOST_READS)),
};

int winapi_api_name_check(const char *name)
{
	size_t i, length;

	if (name == NULL)
		return -EINVAL;
	length = strnlen(name, WINAPI_API_NAME_SIZE);
	if (length == 0 || length == WINAPI_API_NAME_SIZE)
		return -EINVAL;
	for (i = 0; i < length; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return -EINVAL;
	}
	return 0;
}

unsigned int winapi_api_entry_buffers(const struct winapi_api_entry *entry)
{
	unsigned int count = 0;

	while (count < WINAPI_MAX_BUFFERS && entry->buffer_access[count] != 0)
		count++;
	return count;
}

int winapi_api_entry_check(const struct winapi_api_entry *entry)
{
	size_t length;
	unsigned int i, buffers;

	if (entry == NULL || winapi_api_name_check(entry->name) != 0)
		return -EINVAL;
	/* NUL-padded: no bytes after the name, so that equal names are equal entries. */
	for (length = strlen(entry->name); length < WINAPI_API_NAME_SIZE; length++)
		if (entry->name[length] != '\0')
			return -EINVAL;
	if (entry->api_id == 0 || entry->api_id > WINAPI_API_ID_MAX || entry->version >> 8 == 0 ||
	    entry->max_request > WINAPI_MAX_INLINE_DATA || entry->max_reply > WINAPI_MAX_INLINE_DATA ||
	    (entry->flags & ~WINAPI_API_FLAGS_KNOWN) != 0)
		return -EINVAL;
	buffers = winapi_api_entry_buffers(entry);
	for (i = 0; i < WINAPI_MAX_BUFFERS; i++)
		if (entry->buffer_access[i] > (WINAPI_ACCESS_HOST_READS | WINAPI_ACCESS_HOST_WRITES) ||
		    (i >= buffers && entry->buffer_access[i] != 0))
			return -EINVAL;
	return 0;
}

void winapi_api_list_request_encode(const struct winapi_api_list_request *request, void *out)
{
	uint8_t *cursor = out;

	put_32(&cursor, request->first);
	put_32(&cursor, 0);
}

int winapi_api_list_request_decode(const void *in, size_t length, struct winapi_api_list_request *request)
{
	const uint8_t *cursor = in;

	if (in == NULL || length != sizeof(*request))
		return -EBADMSG;
	request->first = get_32(&cursor);
	request->reserved = get_32(&cursor);
	return request->reserved == 0 ? 0 : -EBADMSG;
}

int winapi_api_list_reply_encode(const struct winapi_api_list_reply *reply, const struct winapi_api_entry *entries,
				 void *out, size_t out_size)
{
	uint8_t *cursor = out;
	size_t size;
	uint32_t i;

	if (reply == NULL || out == NULL || (reply->entry_count != 0 && entries == NULL) ||
	    reply->entry_count > WINAPI_API_LIST_PAGE)
		return -EINVAL;
	size = sizeof(*reply) + (size_t)reply->entry_count * sizeof(*entries);
	if (out_size < size)
		return -ENOBUFS;
	for (i = 0; i < reply->entry_count; i++)
		if (winapi_api_entry_check(&entries[i]) != 0)
			return -EINVAL;
	put_16(&cursor, reply->protocol_oldest);
	put_16(&cursor, reply->protocol_newest);
	put_32(&cursor, reply->api_count);
	put_32(&cursor, reply->first);
	put_32(&cursor, reply->entry_count);
	for (i = 0; i < reply->entry_count; i++) {
		const struct winapi_api_entry *entry = &entries[i];

		memcpy(cursor, entry->name, WINAPI_API_NAME_SIZE);
		cursor += WINAPI_API_NAME_SIZE;
		put_16(&cursor, entry->api_id);
		put_16(&cursor, entry->version);
		put_32(&cursor, entry->max_request);
		put_32(&cursor, entry->max_reply);
		put_32(&cursor, entry->flags);
		memcpy(cursor, entry->buffer_access, WINAPI_MAX_BUFFERS);
		cursor += WINAPI_MAX_BUFFERS;
	}
	return (int)size;
}

int winapi_api_list_reply_decode(const void *in, size_t length, struct winapi_api_list_reply *reply,
				 struct winapi_api_entry *entries, size_t max)
{
	const uint8_t *cursor = in;
	uint32_t i;

	if (in == NULL || reply == NULL || length < sizeof(*reply))
		return -EBADMSG;
	reply->protocol_oldest = get_16(&cursor);
	reply->protocol_newest = get_16(&cursor);
	reply->api_count = get_32(&cursor);
	reply->first = get_32(&cursor);
	reply->entry_count = get_32(&cursor);
	if (reply->protocol_oldest > reply->protocol_newest || reply->api_count > WINAPI_API_ID_MAX ||
	    reply->entry_count > WINAPI_API_LIST_PAGE || reply->first > reply->api_count ||
	    reply->entry_count > reply->api_count - reply->first ||
	    length != sizeof(*reply) + (size_t)reply->entry_count * sizeof(*entries))
		return -EBADMSG;
	if (reply->entry_count > max)
		return -ENOBUFS;
	for (i = 0; i < reply->entry_count; i++) {
		struct winapi_api_entry *entry = &entries[i];

		memcpy(entry->name, cursor, WINAPI_API_NAME_SIZE);
		cursor += WINAPI_API_NAME_SIZE;
		entry->api_id = get_16(&cursor);
		entry->version = get_16(&cursor);
		entry->max_request = get_32(&cursor);
		entry->max_reply = get_32(&cursor);
		entry->flags = get_32(&cursor);
		memcpy(entry->buffer_access, cursor, WINAPI_MAX_BUFFERS);
		cursor += WINAPI_MAX_BUFFERS;
		if (winapi_api_entry_check(entry) != 0)
			return -EBADMSG;
	}
	return 0;
}

/* ---- events ---- */

void winapi_subscribe_request_encode(const struct winapi_subscribe_request *request, void *out)
{
	uint8_t *cursor = out;

	put_16(&cursor, request->api_id);
	put_16(&cursor, request->api_version);
	put_32(&cursor, request->depth);
}

int winapi_subscribe_request_decode(const void *in, size_t length, struct winapi_subscribe_request *request)
{
	const uint8_t *cursor = in;

	if (in == NULL || length < sizeof(*request))
		return -EBADMSG;
	request->api_id = get_16(&cursor);
	request->api_version = get_16(&cursor);
	request->depth = get_32(&cursor);
	return request->depth <= WINAPI_EVENT_MAX_DEPTH ? 0 : -EBADMSG;
}

void winapi_subscription_encode(const struct winapi_subscription *subscription, void *out)
{
	uint8_t *cursor = out;

	put_64(&cursor, subscription->id);
}

int winapi_subscription_decode(const void *in, size_t length, struct winapi_subscription *subscription)
{
	const uint8_t *cursor = in;

	if (in == NULL || length != sizeof(*subscription))
		return -EBADMSG;
	subscription->id = get_64(&cursor);
	return subscription->id != 0 ? 0 : -EBADMSG;
}

void winapi_event_wait_request_encode(const struct winapi_event_wait_request *request, void *out)
{
	uint8_t *cursor = out;

	put_64(&cursor, request->subscription);
	put_32(&cursor, request->max_events);
	put_32(&cursor, request->wait_ms);
}

int winapi_event_wait_request_decode(const void *in, size_t length, struct winapi_event_wait_request *request)
{
	const uint8_t *cursor = in;

	if (in == NULL || length != sizeof(*request))
		return -EBADMSG;
	request->subscription = get_64(&cursor);
	request->max_events = get_32(&cursor);
	request->wait_ms = get_32(&cursor);
	return request->max_events != 0 && request->wait_ms <= WINAPI_EVENT_MAX_WAIT_MS ? 0 : -EBADMSG;
}

int winapi_event_wait_reply_encode(const struct winapi_event_wait_reply *reply,
				   const struct winapi_event_record *events, void *out, size_t out_size)
{
	uint8_t *cursor = out;
	size_t size = sizeof(*reply);
	uint32_t i;

	for (i = 0; i < reply->event_count; i++) {
		if (events[i].length > WINAPI_EVENT_MAX_DATA)
			return -EINVAL;
		size += winapi_event_size(events[i].length);
	}
	if (out_size < size)
		return -ENOBUFS;
	put_64(&cursor, reply->subscription);
	put_64(&cursor, reply->lost);
	put_32(&cursor, reply->event_count);
	put_32(&cursor, reply->flags);
	for (i = 0; i < reply->event_count; i++) {
		uint32_t padded = winapi_event_size(events[i].length) - (uint32_t)sizeof(struct winapi_event_header);

		put_64(&cursor, events[i].sequence);
		put_32(&cursor, events[i].length);
		put_32(&cursor, 0);
		memset(cursor, 0, padded);
		if (events[i].length != 0)
			memcpy(cursor, events[i].data, events[i].length);
		cursor += padded;
	}
	return (int)size;
}

int winapi_event_wait_reply_decode(const void *in, size_t length, struct winapi_event_wait_reply *reply,
				   struct winapi_event_record *events, size_t max)
{
	const uint8_t *cursor = in, *end;
	uint32_t i, padded, reserved, k;

	if (in == NULL || reply == NULL || length < sizeof(*reply))
		return -EBADMSG;
	end = cursor + length;
	reply->subscription = get_64(&cursor);
	reply->lost = get_64(&cursor);
	reply->event_count = get_32(&cursor);
	reply->flags = get_32(&cursor);
	if ((reply->flags & ~WINAPI_EVENT_WAIT_ENDED) != 0 || reply->subscription == 0)
		return -EBADMSG;
	if (reply->event_count > max)
		return (size_t)(end - cursor) / sizeof(struct winapi_event_header) < reply->event_count ? -EBADMSG :
															 -ENOBUFS;
	for (i = 0; i < reply->event_count; i++) {
		if ((size_t)(end - cursor) < sizeof(struct winapi_event_header))
			return -EBADMSG;
		events[i].sequence = get_64(&cursor);
		events[i].length = get_32(&cursor);
		reserved = get_32(&cursor);
		if (reserved != 0 || events[i].length > WINAPI_EVENT_MAX_DATA)
			return -EBADMSG;
		padded = winapi_event_size(events[i].length) - (uint32_t)sizeof(struct winapi_event_header);
		if ((size_t)(end - cursor) < padded)
			return -EBADMSG;
		for (k = events[i].length; k < padded; k++)
			if (cursor[k] != 0)
				return -EBADMSG;
		events[i].data = cursor;
		cursor += padded;
	}
	return cursor == end ? 0 : -EBADMSG;
}

/* ---- text ---- */

bool winapi_utf8_valid(const void *text, size_t length)
{
	const unsigned char *bytes = text;
	size_t i = 0;

	while (i < length) {
		uint32_t code_point, smallest;
		size_t extra, k;

		if (bytes[i] < 0x80) {
			i++;
			continue;
		}
		if ((bytes[i] & 0xe0) == 0xc0) {
			extra = 1;
			code_point = bytes[i] & 0x1f;
			smallest = 0x80;
		} else if ((bytes[i] & 0xf0) == 0xe0) {
			extra = 2;
			code_point = bytes[i] & 0x0f;
			smallest = 0x800;
		} else if ((bytes[i] & 0xf8) == 0xf0) {
			extra = 3;
			code_point = bytes[i] & 0x07;
			smallest = 0x10000;
		} else {
			return false;
		}
		if (length - i <= extra)
			return false;
		for (k = 1; k <= extra; k++) {
			if ((bytes[i + k] & 0xc0) != 0x80)
				return false;
			code_point = code_point << 6 | (bytes[i + k] & 0x3f);
		}
		if (code_point < smallest || code_point > 0x10ffff || (code_point >= 0xd800 && code_point <= 0xdfff))
			return false;
		i += extra + 1;
	}
	return true;
}

/* ---- host APIs: host.time, host.info ---- */

void winapi_host_time_encode(const struct winapi_host_time *time, void *out)
{
	uint8_t *cursor = out;

	put_64(&cursor, time->realtime_ns);
	put_64(&cursor, time->monotonic_ns);
	put_32(&cursor, time->resolution_ns);
	put_32(&cursor, 0);
}

int winapi_host_time_decode(const void *in, size_t length, struct winapi_host_time *time)
{
	const uint8_t *cursor = in;

	if (in == NULL || time == NULL || length < WINAPI_HOST_TIME_SIZE)
		return -EBADMSG;
	time->realtime_ns = get_64(&cursor);
	time->monotonic_ns = get_64(&cursor);
	time->resolution_ns = get_32(&cursor);
	time->reserved = get_32(&cursor);
	if (time->realtime_ns == 0 || time->resolution_ns == 0 || time->resolution_ns > 1000000000u)
		return -EBADMSG;
	return 0;
}

/* @text cut to @size - 1 bytes at most, never inside a UTF-8 character, then NULs to @size. */
static void put_text(uint8_t **cursor, const char *text, size_t size)
{
	size_t length = strnlen(text, size);

	if (length == size) {
		length = size - 1;
		while (length > 0 && ((unsigned char)text[length] & 0xc0) == 0x80)
			length--;
	}
	memcpy(*cursor, text, length);
	memset(*cursor + length, 0, size - length);
	*cursor += size;
}

/* A text field from the peer: NUL-terminated within @size, NUL-padded, UTF-8. */
static int get_text(const uint8_t **cursor, char *text, size_t size)
{
	size_t length = strnlen((const char *)*cursor, size), i;

	if (length == size || !winapi_utf8_valid(*cursor, length))
		return -EBADMSG;
	for (i = length; i < size; i++)
		if ((*cursor)[i] != 0)
			return -EBADMSG;
	memcpy(text, *cursor, size);
	*cursor += size;
	return 0;
}

void winapi_host_info_encode(const struct winapi_host_info *info, void *out)
{
	uint8_t *cursor = out;

	put_32(&cursor, info->processor_count);
	put_32(&cursor, info->os_major);
	put_32(&cursor, info->os_minor);
	put_32(&cursor, info->os_build);
	put_64(&cursor, info->memory_total);
	put_64(&cursor, info->memory_available);
	put_text(&cursor, info->os_name, sizeof(info->os_name));
	put_text(&cursor, info->os_version, sizeof(info->os_version));
	put_text(&cursor, info->host_name, sizeof(info->host_name));
	put_text(&cursor, info->processor, sizeof(info->processor));
}

int winapi_host_info_decode(const void *in, size_t length, struct winapi_host_info *info)
{
	const uint8_t *cursor = in;

	if (in == NULL || info == NULL || length < WINAPI_HOST_INFO_SIZE)
		return -EBADMSG;
	info->processor_count = get_32(&cursor);
	info->os_major = get_32(&cursor);
	info->os_minor = get_32(&cursor);
	info->os_build = get_32(&cursor);
	info->memory_total = get_64(&cursor);
	info->memory_available = get_64(&cursor);
	if (info->processor_count == 0 || info->memory_available > info->memory_total)
		return -EBADMSG;
	if (get_text(&cursor, info->os_name, sizeof(info->os_name)) != 0 ||
	    get_text(&cursor, info->os_version, sizeof(info->os_version)) != 0 ||
	    get_text(&cursor, info->host_name, sizeof(info->host_name)) != 0 ||
	    get_text(&cursor, info->processor, sizeof(info->processor)) != 0)
		return -EBADMSG;
	return 0;
}

/* ---- host APIs: host.file.* ---- */

/* An errno number a reply may carry: Linux's are below 4096. */
#define FILE_ERROR_MAX 4095u

int winapi_file_export_name_check(const char *name, size_t length)
{
	size_t i;

	if (name == NULL || length == 0 || length > WINAPI_FILE_EXPORT_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < length; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return -EINVAL;
	}
	return 0;
}

/*
 * Whether @name (@length bytes, upper or lower case) is @word, alone or before an extension;
 * a '#' in @word stands for any digit (COM0..COM9).
 */
static bool names_device(const char *name, size_t length, const char *word)
{
	size_t i, word_length = strlen(word);

	if (length < word_length || (length > word_length && name[word_length] != '.'))
		return false;
	for (i = 0; i < word_length; i++) {
		if (word[i] == '#' ? name[i] < '0' || name[i] > '9' :
				     (name[i] >= 'a' && name[i] <= 'z' ? name[i] - 'a' + 'A' : name[i]) != word[i])
			return false;
	}
	return true;
}

int winapi_file_name_check(const char *name, size_t length)
{
	static const char *const devices[] = { "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "COM#", "LPT#" };
	size_t i;

	if (name == NULL || length == 0 || length > WINAPI_FILE_NAME_MAX || !winapi_utf8_valid(name, length))
		return -EINVAL;
	if ((length == 1 && name[0] == '.') || (length == 2 && name[0] == '.' && name[1] == '.'))
		return -EINVAL;
	for (i = 0; i < length; i++) {
		unsigned char c = (unsigned char)name[i];

		/* Windows refuses these in names; ':' would name an alternate data stream there. */
		if (c < 0x20 || c == '/' || c == '\\' || c == ':' || c == '*' || c == '?' || c == '"' || c == '<' ||
		    c == '>' || c == '|')
			return -EINVAL;
	}
	/* Windows drops a trailing dot or space: "a." would be "a" there and not here. */
	if (name[length - 1] == '.' || name[length - 1] == ' ')
		return -EINVAL;
	for (i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
		if (names_device(name, length, devices[i]))
			return -EINVAL;
	return 0;
}

int winapi_file_path_check(const char *path, size_t length)
{
	size_t start = 0, end;

	if (path == NULL || length > WINAPI_FILE_PATH_MAX)
		return -EINVAL;
	if (length == 0)
		return 0;
	for (;;) {
		const char *slash = memchr(path + start, '/', length - start);

		end = slash != NULL ? (size_t)(slash - path) : length;
		if (winapi_file_name_check(path + start, end - start) != 0)
			return -EINVAL;
		if (end == length)
			return 0;
		start = end + 1; /* a trailing '/' leaves an empty last component: refused above */
		if (start == length)
			return -EINVAL;
	}
}

int winapi_file_request_encode(const struct winapi_file_request *request, void *out, size_t out_size)
{
	uint8_t *cursor = out;
	size_t size;

	if (request == NULL || out == NULL || request->export_length > WINAPI_FILE_EXPORT_NAME_MAX ||
	    request->path_length > WINAPI_FILE_PATH_MAX || (request->flags & ~WINAPI_FILE_WRITE_FLAGS) != 0 ||
	    (request->export_length != 0 && request->export_name == NULL) ||
	    (request->path_length != 0 && request->path == NULL))
		return -EINVAL;
	size = WINAPI_FILE_REQUEST_HEAD + (size_t)request->export_length + request->path_length;
	if (out_size < size)
		return -ENOBUFS;
	put_64(&cursor, request->offset);
	put_64(&cursor, request->length);
	put_32(&cursor, request->flags);
	put_16(&cursor, request->export_length);
	put_16(&cursor, request->path_length);
	if (request->export_length != 0)
		memcpy(cursor, request->export_name, request->export_length);
	if (request->path_length != 0)
		memcpy(cursor + request->export_length, request->path, request->path_length);
	return (int)size;
}

int winapi_file_request_decode(const void *in, size_t length, struct winapi_file_request *request)
{
	const uint8_t *cursor = in;

	if (in == NULL || request == NULL || length < WINAPI_FILE_REQUEST_HEAD)
		return -EBADMSG;
	request->offset = get_64(&cursor);
	request->length = get_64(&cursor);
	request->flags = get_32(&cursor);
	request->export_length = get_16(&cursor);
	request->path_length = get_16(&cursor);
	if ((request->flags & ~WINAPI_FILE_WRITE_FLAGS) != 0 || request->export_length == 0 ||
	    request->export_length > WINAPI_FILE_EXPORT_NAME_MAX || request->path_length > WINAPI_FILE_PATH_MAX ||
	    length != WINAPI_FILE_REQUEST_HEAD + (size_t)request->export_length + request->path_length)
		return -EBADMSG;
	request->export_name = (const char *)cursor;
	request->path = (const char *)cursor + request->export_length;
	return 0;
}

void winapi_file_stat_encode(const struct winapi_file_stat *stat, void *out)
{
	uint8_t *cursor = out;

	put_32(&cursor, stat->error);
	put_32(&cursor, stat->type);
	put_64(&cursor, stat->size);
	put_64(&cursor, stat->mtime_ns);
	put_32(&cursor, stat->flags);
	put_32(&cursor, 0);
}

int winapi_file_stat_decode(const void *in, size_t length, struct winapi_file_stat *stat)
{
	const uint8_t *cursor = in;

	if (in == NULL || stat == NULL || length < WINAPI_FILE_STAT_SIZE)
		return -EBADMSG;
	stat->error = get_32(&cursor);
	stat->type = get_32(&cursor);
	stat->size = get_64(&cursor);
	stat->mtime_ns = get_64(&cursor);
	stat->flags = get_32(&cursor);
	stat->reserved = get_32(&cursor);
	if (stat->error > FILE_ERROR_MAX || stat->reserved != 0 || (stat->flags & ~WINAPI_FILE_WRITABLE) != 0 ||
	    stat->type > WINAPI_FILE_TYPE_OTHER || (stat->error == 0) != (stat->type != 0))
		return -EBADMSG;
	return 0;
}

void winapi_file_io_encode(const struct winapi_file_io *io, void *out)
{
	uint8_t *cursor = out;

	put_32(&cursor, io->error);
	put_32(&cursor, io->flags);
	put_64(&cursor, io->bytes);
}

int winapi_file_io_decode(const void *in, size_t length, struct winapi_file_io *io)
{
	const uint8_t *cursor = in;

	if (in == NULL || io == NULL || length < WINAPI_FILE_IO_SIZE)
		return -EBADMSG;
	io->error = get_32(&cursor);
	io->flags = get_32(&cursor);
	io->bytes = get_64(&cursor);
	if (io->error > FILE_ERROR_MAX || (io->flags & ~WINAPI_FILE_EOF) != 0)
		return -EBADMSG;
	return 0;
}

static size_t file_entry_size(size_t name_length)
{
	return WINAPI_FILE_ENTRY_HEAD + ((name_length + 7) & ~(size_t)7);
}

int winapi_file_list_add(void *out, size_t out_size, size_t *used, const struct winapi_file_entry *entry)
{
	size_t name_length = strnlen(entry->name, sizeof(entry->name)), size = file_entry_size(name_length);
	uint8_t *cursor;

	if (name_length == sizeof(entry->name) || winapi_file_name_check(entry->name, name_length) != 0 ||
	    entry->type == 0 || entry->type > WINAPI_FILE_TYPE_OTHER)
		return -EINVAL;
	if (*used > out_size || out_size - *used < size)
		return -ENOBUFS;
	cursor = (uint8_t *)out + *used;
	put_64(&cursor, entry->size);
	put_64(&cursor, entry->mtime_ns);
	put_32(&cursor, entry->type);
	put_16(&cursor, (uint16_t)name_length);
	put_16(&cursor, 0);
	memcpy(cursor, entry->name, name_length);
	memset(cursor + name_length, 0, size - WINAPI_FILE_ENTRY_HEAD - name_length);
	*used += size;
	return 0;
}

void winapi_file_list_finish(void *out, uint32_t error, uint32_t entry_count, uint32_t flags)
{
	uint8_t *cursor = out;

	put_32(&cursor, error);
	put_32(&cursor, entry_count);
	put_32(&cursor, flags);
	put_32(&cursor, 0);
}

int winapi_file_list_decode(const void *in, size_t length, uint32_t *error, struct winapi_file_entry *entries,
			    size_t max, uint32_t *count, uint32_t *flags)
{
	const uint8_t *cursor = in, *end;
	uint32_t i, reserved, type;
	size_t name_length, k;
	uint16_t zero;

	if (in == NULL || error == NULL || count == NULL || flags == NULL || length < WINAPI_FILE_LIST_HEAD)
		return -EBADMSG;
	end = cursor + length;
	*error = get_32(&cursor);
	*count = get_32(&cursor);
	*flags = get_32(&cursor);
	reserved = get_32(&cursor);
	if (*error > FILE_ERROR_MAX || reserved != 0 || (*flags & ~WINAPI_FILE_MORE) != 0 ||
	    (*error != 0 && (*count != 0 || *flags != 0)) ||
	    *count > (length - WINAPI_FILE_LIST_HEAD) / file_entry_size(1))
		return -EBADMSG;
	if (*count > max)
		return -ENOBUFS;
	for (i = 0; i < *count; i++) {
		if ((size_t)(end - cursor) < WINAPI_FILE_ENTRY_HEAD)
			return -EBADMSG;
		entries[i].size = get_64(&cursor);
		entries[i].mtime_ns = get_64(&cursor);
		type = get_32(&cursor);
		name_length = get_16(&cursor);
		zero = get_16(&cursor);
		if (zero != 0 || type == 0 || type > WINAPI_FILE_TYPE_OTHER || name_length > WINAPI_FILE_NAME_MAX ||
		    (size_t)(end - cursor) < file_entry_size(name_length) - WINAPI_FILE_ENTRY_HEAD ||
		    winapi_file_name_check((const char *)cursor, name_length) != 0)
			return -EBADMSG;
		for (k = name_length; k < file_entry_size(name_length) - WINAPI_FILE_ENTRY_HEAD; k++)
			if (cursor[k] != 0)
				return -EBADMSG;
		entries[i].type = type;
		memcpy(entries[i].name, cursor, name_length);
		entries[i].name[name_length] = '\0';
		cursor += file_entry_size(name_length) - WINAPI_FILE_ENTRY_HEAD;
	}
	return cursor == end ? 0 : -EBADMSG;
}
