/* SPDX-License-Identifier: BSD-3-Clause */
#include <endian.h>
#include <errno.h>
#include <string.h>

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

int winapi_message_encode(const struct winapi_message *message, void *out, size_t out_size)
{
	struct winapi_message_header header;
	uint8_t *cursor = out;
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

	memset(&header, 0, sizeof(header));
	header.magic = htole32(WINAPI_PROTOCOL_MAGIC);
	header.version = htole16(WINAPI_PROTOCOL_VERSION);
	header.api_id = htole16(message->api_id);
	header.flags = htole32(message->flags);
	header.status = htole32(message->status);
	header.request_id = htole64(message->request_id);
	header.inline_length = htole32(message->inline_length);
	header.reply_capacity = htole32(message->reply_capacity);
	header.buffer_count = htole16(message->buffer_count);
	header.header_checksum = htole32(header_checksum(&header));
	memcpy(cursor, &header, sizeof(header));
	cursor += sizeof(header);

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

	memset(message, 0, sizeof(*message));
	message->version = le16toh(header.version);
	message->api_id = le16toh(header.api_id);
	message->flags = le32toh(header.flags);
	message->status = le32toh(header.status);
	message->request_id = le64toh(header.request_id);
	message->reply_capacity = le32toh(header.reply_capacity);
	message->buffer_count = le16toh(header.buffer_count);
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

/*
 * The payloads are sequences of little-endian u32 and u64 fields; each pair below walks its
 * struct's fields in order with these cursors.
 */
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
