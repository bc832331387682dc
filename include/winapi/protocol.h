/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The winapi remoting wire format (shared/DESIGN.md section 3), spoken inside VMBus packets on
 * channels of class 6ac83d8f-6e16-4e5c-ab3d-fd8c5a4b7e21.
 *
 * A request is the payload of a DATA_INBAND packet (type 6) with COMPLETION_REQUESTED; the
 * response is the payload of the COMPLETION packet (type 0xb) with the same trans_id. Both
 * are a message:
 *
 *     +0     struct winapi_message_header            64 bytes
 *     +64    struct winapi_buffer_descriptor[n]      32 bytes each, n = buffer_count <= 8
 *     +64+32n inline data                            inline_length <= 3072 bytes
 *
 * followed by at most 7 bytes of VMBus padding. Every integer is little-endian; the header
 * ends with a CRC32C of its first 60 bytes. Whoever reads a message (host or guest) treats it
 * as untrusted: winapi_message_decode() checks every field before anything uses it.
 *
 * Versioning: version = major << 8 | minor. A receiver accepts any minor of its own major and
 * ignores the header's reserved fields (senders zero them), so a minor version may add header
 * fields there and new API ids; a new major is refused with WINAPI_STATUS_UNSUPPORTED_VERSION.
 * Descriptor flags and reserved words must be zero in 1.x: a buffer a receiver would
 * misread is refused rather than guessed at.
 *
 * 1.1 added: api_version (@34, formerly reserved: a 1.0 peer ignores it), the version of the
 * API a request was written for, which a host checks against the API's own major; and the
 * control call WINAPI_API_LIST, the host's protocol range and API table (struct
 * winapi_api_entry). APIs are registered on the host (drivers/host's registry) under a name,
 * an id (1..WINAPI_API_ID_MAX) and a version; a 1.0 host answers LIST with
 * WINAPI_STATUS_UNSUPPORTED_API, and serves the three seed APIs (winapi_seed_apis[]).
 *
 * The encode and decode functions touch only the buffers they are given and may run
 * concurrently on different buffers.
 *
 * Linking: liblowlat.so exports winapi_strerror(), winapi_crc32c() and
 * winapi_status_to_errno() of this header (lib/lowlat/liblowlat.map); the codecs are the wire's
 * own, for programs that speak it themselves, and are in liblowlat.a
 * (pkg-config --static --libs liblowlat).
 *
 * Owner: lib/winapi
 */
#ifndef WINAPI_PROTOCOL_H
#define WINAPI_PROTOCOL_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Class GUID of the winapi remoting device (the seeds' channel GUID): the one copy. */
#define WINAPI_DEVICE_CLASS "6ac83d8f-6e16-4e5c-ab3d-fd8c5a4b7e21"

#define WINAPI_PROTOCOL_MAGIC 0x57494e41u /* "WINA" */
#define WINAPI_PROTOCOL_VERSION_MAJOR 1u
#define WINAPI_PROTOCOL_VERSION_MINOR 1u
/** The oldest version this side still speaks: 1.0 (no api_version, no LIST). */
#define WINAPI_PROTOCOL_VERSION_OLDEST 0x100u
#define WINAPI_PROTOCOL_VERSION (WINAPI_PROTOCOL_VERSION_MAJOR << 8 | WINAPI_PROTOCOL_VERSION_MINOR)

#define WINAPI_MAX_BUFFERS 8u
#define WINAPI_MAX_INLINE_DATA 3072u
/* Buffers an application allocates: 4 KiB to 64 MiB. A descriptor may name any part of one
 * (a large call split into requests ends in a partial page). */
#define WINAPI_MIN_BUFFER_SIZE (4u << 10)
#define WINAPI_MAX_BUFFER_SIZE (64u << 20)

/**
 * API ids: the seeds' three (WINAPI_API_*), any other a host registers (1..WINAPI_API_ID_MAX),
 * and the protocol's own control calls, from WINAPI_API_CONTROL_FIRST up.
 */
enum winapi_api_id {
	WINAPI_API_ECHO = 1,        /**< inline data back as it came */
	WINAPI_API_BUFFER_TEST = 2, /**< read / write / verify over shared buffers */
	WINAPI_API_PERF_TEST = 3,   /**< latency and throughput runs */
	WINAPI_API_LIST = 0xff00,   /**< control (1.1): protocol range and API table, paged */
	WINAPI_API_SUBSCRIBE = 0xff01,   /**< control (1.1): subscribe to an event source */
	WINAPI_API_EVENT_WAIT = 0xff02,  /**< control (1.1): a subscription's next events */
	WINAPI_API_UNSUBSCRIBE = 0xff03, /**< control (1.1): end a subscription */
};

#define WINAPI_API_ID_MAX 1023u
#define WINAPI_API_CONTROL_FIRST 0xff00u
/** LIST's name, for a wire that names APIs (the Hyper-V socket's). */
#define WINAPI_API_LIST_NAME "winapi.apis"
#define WINAPI_API_SUBSCRIBE_NAME "winapi.subscribe"
#define WINAPI_API_EVENT_WAIT_NAME "winapi.event_wait"
#define WINAPI_API_UNSUBSCRIBE_NAME "winapi.unsubscribe"

/** Header flags. */
#define WINAPI_MESSAGE_FLAG_RESPONSE 0x1u /**< set in every response */

/** Result of a request, in the response header. */
enum winapi_status {
	WINAPI_STATUS_OK = 0,
	WINAPI_STATUS_BAD_MESSAGE = 1,         /**< request failed validation */
	WINAPI_STATUS_UNSUPPORTED_VERSION = 2, /**< another protocol major */
	WINAPI_STATUS_UNSUPPORTED_API = 3,     /**< unknown api_id */
	WINAPI_STATUS_BAD_BUFFER = 4,          /**< a descriptor the host cannot reach */
	WINAPI_STATUS_REPLY_TOO_LARGE = 5,     /**< result exceeds reply_capacity */
	WINAPI_STATUS_BUSY = 6,                /**< host out of resources, retry later */
	WINAPI_STATUS_INTERNAL = 7,            /**< host-side failure */
	WINAPI_STATUS_ACCESS_DENIED = 8,       /**< 1.1: the caller may not call this api (winapi-pmd's policy) */
};

/** The fixed 64-byte header. Fields are little-endian on the wire. */
struct winapi_message_header {
	uint32_t magic;           /**< @0  WINAPI_PROTOCOL_MAGIC */
	uint16_t version;         /**< @4  WINAPI_PROTOCOL_VERSION of the sender */
	uint16_t api_id;          /**< @6  enum winapi_api_id */
	uint32_t flags;           /**< @8  WINAPI_MESSAGE_FLAG_* */
	uint32_t status;          /**< @12 enum winapi_status; 0 in requests */
	uint64_t request_id;      /**< @16 equals the VMBus trans_id of the request */
	uint32_t inline_length;   /**< @24 bytes of inline data */
	uint32_t reply_capacity;  /**< @28 request: most inline bytes the sender accepts back */
	uint16_t buffer_count;    /**< @32 descriptors after the header */
	uint16_t api_version;     /**< @34 1.1: major << 8 | minor of the API the request was
				       written for; 0: not stated (1.0 senders, replies) */
	uint8_t reserved1[24];    /**< @36 zero */
	uint32_t header_checksum; /**< @60 CRC32C of bytes 0..59 */
};

static_assert(sizeof(struct winapi_message_header) == 64, "header is 64 bytes");
static_assert(offsetof(struct winapi_message_header, version) == 4, "version @4");
static_assert(offsetof(struct winapi_message_header, api_id) == 6, "api_id @6");
static_assert(offsetof(struct winapi_message_header, flags) == 8, "flags @8");
static_assert(offsetof(struct winapi_message_header, status) == 12, "status @12");
static_assert(offsetof(struct winapi_message_header, request_id) == 16, "request_id @16");
static_assert(offsetof(struct winapi_message_header, inline_length) == 24, "inline_length @24");
static_assert(offsetof(struct winapi_message_header, reply_capacity) == 28, "reply_capacity @28");
static_assert(offsetof(struct winapi_message_header, buffer_count) == 32, "buffer_count @32");
static_assert(offsetof(struct winapi_message_header, api_version) == 34, "api_version @34");
static_assert(offsetof(struct winapi_message_header, reserved1) == 36, "reserved1 @36");
static_assert(offsetof(struct winapi_message_header, header_checksum) == 60, "checksum @60");

/** Where a buffer lives (DESIGN.md section 4). */
enum winapi_buffer_kind {
	WINAPI_BUFFER_GPADL = 1,      /**< region = GPADL handle, offset within it */
	WINAPI_BUFFER_GPA_DIRECT = 2, /**< region = index of the packet's GPA range */
};

/** One buffer descriptor, 32 bytes, little-endian. */
struct winapi_buffer_descriptor {
	uint32_t kind;     /**< @0  enum winapi_buffer_kind */
	uint32_t flags;    /**< @4  zero in version 1.0 */
	uint32_t region;   /**< @8  see enum winapi_buffer_kind */
	uint32_t reserved; /**< @12 zero */
	uint64_t offset;   /**< @16 byte offset in the region */
	uint64_t length;   /**< @24 1 .. WINAPI_MAX_BUFFER_SIZE */
};

static_assert(sizeof(struct winapi_buffer_descriptor) == 32, "descriptor is 32 bytes");
static_assert(offsetof(struct winapi_buffer_descriptor, offset) == 16, "offset @16");
static_assert(offsetof(struct winapi_buffer_descriptor, length) == 24, "length @24");

/** Largest message: header, 8 descriptors, 3 KiB inline. */
#define WINAPI_MESSAGE_MAX_SIZE                                                              \
	(sizeof(struct winapi_message_header) +                                              \
	 WINAPI_MAX_BUFFERS * sizeof(struct winapi_buffer_descriptor) + WINAPI_MAX_INLINE_DATA)

/** A message in host byte order, as encoded from or decoded into. */
struct winapi_message {
	uint16_t version;
	uint16_t api_id;
	uint32_t flags;
	uint32_t status;
	uint64_t request_id;
	uint32_t reply_capacity;
	uint16_t buffer_count;
	uint16_t api_version;   /**< 0: not stated */
	struct winapi_buffer_descriptor buffers[WINAPI_MAX_BUFFERS]; /**< host byte order */
	uint32_t inline_length;
	const void *inline_data; /**< encode: source; decode: points into the decoded bytes */
};

/**
 * Write @p message into @p out (little-endian, reserved fields zero, checksum sealed).
 * The version written is WINAPI_PROTOCOL_VERSION; message->version is ignored.
 * @return bytes written; -EINVAL (buffer_count > 8, inline_length > 3072, inline_data NULL
 *         with a length, a descriptor that fails winapi_buffer_descriptor_check());
 *         -ENOBUFS if @p out_size is too small.
 */
int winapi_message_encode(const struct winapi_message *message, void *out, size_t out_size);

/**
 * Validate @p length bytes received from the peer and decode them into @p message.
 * @p bytes must stay valid while message->inline_data is used (it points into them).
 * Descriptors past message->buffer_count are left as they were.
 * @return 0; -EBADMSG (too short, wrong magic, checksum mismatch, counts or lengths beyond the
 *         limits or beyond @p length, more than 7 bytes of trailing padding, a bad descriptor);
 *         -EPROTONOSUPPORT (another major version; message->version and request_id are
 *         filled so that the receiver can answer).
 */
int winapi_message_decode(const void *bytes, size_t length, struct winapi_message *message);

/** Bytes that winapi_message_encode() writes for @p message. */
size_t winapi_message_size(const struct winapi_message *message);

/**
 * Check one descriptor on its own (kind known, flags and reserved zero, length within
 * 1..64 MiB, offset + length without overflow). Whether the region holds it is the
 * host's check. @return 0 or -EINVAL.
 */
int winapi_buffer_descriptor_check(const struct winapi_buffer_descriptor *descriptor);

/* ---- API payloads: the inline data of requests and replies, little-endian ---- */

/** BUFFER_TEST operations (the seeds' WINAPI_BUFFER_OP_*). */
enum winapi_buffer_op {
	WINAPI_BUFFER_OP_WRITE = 1,  /**< the host fills the buffers with the pattern */
	WINAPI_BUFFER_OP_READ = 2,   /**< the host reads the buffers and checksums them */
	WINAPI_BUFFER_OP_VERIFY = 3, /**< the host checks the buffers hold the pattern */
};

/**
 * BUFFER_TEST request, inline (16 bytes), with 1..8 buffer descriptors. The pattern is the
 * 32-bit value repeated little-endian from the first byte of each buffer. The CRC32C runs
 * over the buffers' bytes in descriptor order, continuing from crc_seed: a caller that splits
 * a large call passes each reply's checksum on as the next seed.
 */
struct winapi_buffer_test_request {
	uint32_t operation; /**< enum winapi_buffer_op */
	uint32_t pattern;
	uint32_t crc_seed;
	uint32_t reserved;  /**< zero */
};

/** BUFFER_TEST reply, inline (32 bytes). */
struct winapi_buffer_test_reply {
	uint64_t bytes_processed;
	uint64_t mismatches;     /**< VERIFY: bytes that differ from the pattern */
	uint64_t first_mismatch; /**< byte index over this request's buffers; UINT64_MAX: none */
	uint32_t checksum;       /**< CRC32C of the bytes as they are after the operation */
	uint32_t reserved;
};

/** PERF_TEST kinds (the seeds' WINAPI_PERF_*). */
enum winapi_perf_test_type {
	WINAPI_PERF_LATENCY = 1,    /**< round trips without data: the host answers at once */
	WINAPI_PERF_THROUGHPUT = 2, /**< the host reads every byte of the buffers it is given */
};

/** PERF_TEST request, inline (16 bytes); THROUGHPUT carries buffer descriptors. */
struct winapi_perf_test_request {
	uint32_t test_type; /**< enum winapi_perf_test_type */
	uint32_t reserved;  /**< zero */
	uint64_t sequence;  /**< echoed back */
};

/** PERF_TEST reply, inline (32 bytes). */
struct winapi_perf_test_reply {
	uint64_t sequence;
	uint64_t bytes_processed;
	uint64_t host_ns;   /**< time the host spent on the request, measured there */
	uint32_t checksum;  /**< CRC32C of the bytes read (THROUGHPUT), so they are really read */
	uint32_t reserved;
};

static_assert(sizeof(struct winapi_buffer_test_request) == 16, "buffer test request is 16 bytes");
static_assert(sizeof(struct winapi_buffer_test_reply) == 32, "buffer test reply is 32 bytes");
static_assert(sizeof(struct winapi_perf_test_request) == 16, "perf test request is 16 bytes");
static_assert(sizeof(struct winapi_perf_test_reply) == 32, "perf test reply is 32 bytes");

/*
 * Payload conversions: encode writes exactly sizeof(struct) little-endian bytes; decode
 * reads them back and returns 0, or -EBADMSG when @length is not exactly that size or a
 * reserved field is not zero.
 */
void winapi_buffer_test_request_encode(const struct winapi_buffer_test_request *request, void *out);
int winapi_buffer_test_request_decode(const void *in, size_t length, struct winapi_buffer_test_request *request);
void winapi_buffer_test_reply_encode(const struct winapi_buffer_test_reply *reply, void *out);
int winapi_buffer_test_reply_decode(const void *in, size_t length, struct winapi_buffer_test_reply *reply);
void winapi_perf_test_request_encode(const struct winapi_perf_test_request *request, void *out);
int winapi_perf_test_request_decode(const void *in, size_t length, struct winapi_perf_test_request *request);
void winapi_perf_test_reply_encode(const struct winapi_perf_test_reply *reply, void *out);
int winapi_perf_test_reply_decode(const void *in, size_t length, struct winapi_perf_test_reply *reply);

/** The 32-bit pattern's byte at position @p index of a buffer (little-endian repetition). */
static inline uint8_t winapi_pattern_byte(uint32_t pattern, uint64_t index)
{
	return (uint8_t)(pattern >> (8 * (index & 3)));
}

/* ---- The API table (1.1): what a host serves, as LIST returns it ---- */

/** Longest API name, with its NUL: lower-case letters, digits, '.', '_' and '-'. */
#define WINAPI_API_NAME_SIZE 40u

/** What the host does with a buffer of an API (struct winapi_api_entry.buffer_access). */
#define WINAPI_ACCESS_HOST_READS 0x1u
#define WINAPI_ACCESS_HOST_WRITES 0x2u

/** API flags. */
#define WINAPI_API_FLAG_EVENT_SOURCE 0x1u /**< the API posts events on subscriptions */
#define WINAPI_API_FLAGS_KNOWN WINAPI_API_FLAG_EVENT_SOURCE

/**
 * One API of a host, 64 bytes, little-endian: the same layout in host byte order, as
 * decoded. Buffers: buffer_access[i] says what the host does with buffer i (READS, WRITES or
 * both); the first 0 ends the buffers the API takes (so none: all 0).
 */
struct winapi_api_entry {
	char name[WINAPI_API_NAME_SIZE]; /**< @0  NUL-terminated, NUL-padded, not empty */
	uint16_t api_id;                 /**< @40 1..WINAPI_API_ID_MAX */
	uint16_t version;                /**< @42 major << 8 | minor; major >= 1 */
	uint32_t max_request;            /**< @44 inline bytes a request may carry, <= 3072 */
	uint32_t max_reply;              /**< @48 inline bytes a reply may carry, <= 3072 */
	uint32_t flags;                  /**< @52 WINAPI_API_FLAG_* */
	uint8_t buffer_access[WINAPI_MAX_BUFFERS]; /**< @56 WINAPI_ACCESS_* per buffer */
};

static_assert(sizeof(struct winapi_api_entry) == 64, "api entry is 64 bytes");
static_assert(offsetof(struct winapi_api_entry, api_id) == 40, "api_id @40");
static_assert(offsetof(struct winapi_api_entry, buffer_access) == 56, "buffer_access @56");

/** LIST request, inline (8 bytes): the table from entry @first on. */
struct winapi_api_list_request {
	uint32_t first;
	uint32_t reserved; /**< zero */
};

/** LIST reply, inline: this 16-byte head, then entry_count entries (at most 47: 3 KiB). */
struct winapi_api_list_reply {
	uint16_t protocol_oldest; /**< oldest protocol version the host speaks */
	uint16_t protocol_newest; /**< newest (its own) */
	uint32_t api_count;       /**< entries in the whole table, <= WINAPI_API_ID_MAX */
	uint32_t first;           /**< as requested */
	uint32_t entry_count;     /**< entries in this reply */
};

#define WINAPI_API_LIST_PAGE \
	((WINAPI_MAX_INLINE_DATA - sizeof(struct winapi_api_list_reply)) / sizeof(struct winapi_api_entry))

static_assert(sizeof(struct winapi_api_list_request) == 8, "list request is 8 bytes");
static_assert(sizeof(struct winapi_api_list_reply) == 16, "list reply head is 16 bytes");

/** The seeds' three APIs as a 1.0 host serves them (winapi.echo, winapi.buffer_test, winapi.perf_test). */
extern const struct winapi_api_entry winapi_seed_apis[3];

/**
 * Whether the @p length bytes at @p text are strict UTF-8: no overlong forms, surrogates or
 * code points past U+10FFFF (what JSON and the host APIs' texts carry).
 */
bool winapi_utf8_valid(const void *text, size_t length);

/** Whether @p name is a valid API name (see WINAPI_API_NAME_SIZE). */
int winapi_api_name_check(const char *name);

/**
 * Check an entry on its own: a valid name, id, major, limits, known flags, and access values
 * of 0..3 with none after the first 0. @return 0 or -EINVAL.
 */
int winapi_api_entry_check(const struct winapi_api_entry *entry);

/** Buffers the API takes: the entries of buffer_access before the first 0. */
unsigned int winapi_api_entry_buffers(const struct winapi_api_entry *entry);

void winapi_api_list_request_encode(const struct winapi_api_list_request *request, void *out);
int winapi_api_list_request_decode(const void *in, size_t length, struct winapi_api_list_request *request);

/**
 * Encode a LIST reply: the head and @p reply->entry_count entries (each must pass
 * winapi_api_entry_check()) into @p out (@p out_size bytes).
 * @return bytes written; -EINVAL; -ENOBUFS.
 */
int winapi_api_list_reply_encode(const struct winapi_api_list_reply *reply, const struct winapi_api_entry *entries,
				 void *out, size_t out_size);

/**
 * Decode a LIST reply from the peer into @p reply and up to @p max entries (the count must be
 * exactly what the bytes hold, each entry must pass winapi_api_entry_check(), protocol_oldest
 * <= protocol_newest, first + entry_count <= api_count <= WINAPI_API_ID_MAX).
 * @return 0; -EBADMSG; -ENOBUFS (more entries than @p max).
 */
int winapi_api_list_reply_decode(const void *in, size_t length, struct winapi_api_list_reply *reply,
				 struct winapi_api_entry *entries, size_t max);

/* ---- Events (1.1): subscriptions to an API registered as an event source ---- */

/*
 * A guest subscribes (SUBSCRIBE names the source's api_id, its version and the source's own
 * parameters) and gets a subscription id. The host keeps up to `depth` events of it; one
 * posted while that many wait is lost, and counted. The guest asks for events with
 * EVENT_WAIT requests, several in flight if it likes: the host answers the oldest first, as
 * soon as it has events for it, or with none once wait_ms passed (so that no request outlives
 * its deadline). Events carry the subscription's sequence (1, 2, ... in the order posted);
 * each answer carries the total lost so far. UNSUBSCRIBE ends it: waits still pending are
 * answered with WINAPI_EVENT_WAIT_ENDED.
 */
#define WINAPI_EVENT_MAX_DATA 240u         /**< bytes of one event */
#define WINAPI_EVENT_MAX_DEPTH 1024u       /**< events a host keeps for a subscription */
#define WINAPI_EVENT_DEFAULT_DEPTH 64u
#define WINAPI_EVENT_MAX_WAIT_MS 60000u
#define WINAPI_EVENT_WAIT_ENDED 0x1u       /**< event wait reply flag: the subscription ended */

/** SUBSCRIBE request, inline: this 8-byte head, then the source's parameters. */
struct winapi_subscribe_request {
	uint16_t api_id;      /**< the event source */
	uint16_t api_version; /**< the major (and minor) the guest was written for */
	uint32_t depth;       /**< events the host keeps; 0: WINAPI_EVENT_DEFAULT_DEPTH */
};

/** SUBSCRIBE reply, inline (8 bytes). Also UNSUBSCRIBE's request. */
struct winapi_subscription {
	uint64_t id; /**< never 0 */
};

/** EVENT_WAIT request, inline (16 bytes). */
struct winapi_event_wait_request {
	uint64_t subscription;
	uint32_t max_events; /**< 1.. as many as fit the reply capacity */
	uint32_t wait_ms;    /**< answer with none after this long; <= WINAPI_EVENT_MAX_WAIT_MS */
};

/** EVENT_WAIT reply, inline: this 24-byte head, then event_count events. */
struct winapi_event_wait_reply {
	uint64_t subscription;
	uint64_t lost;        /**< events of this subscription lost so far, in total */
	uint32_t event_count;
	uint32_t flags;       /**< WINAPI_EVENT_WAIT_ENDED */
};

/** One event in a reply: this 16-byte head, then length bytes, zero-padded to 8. */
struct winapi_event_header {
	uint64_t sequence;
	uint32_t length;   /**< <= WINAPI_EVENT_MAX_DATA */
	uint32_t reserved; /**< zero */
};

/** An event as decoded. */
struct winapi_event_record {
	uint64_t sequence;
	uint32_t length;
	const uint8_t *data; /**< points into the decoded bytes */
};

static_assert(sizeof(struct winapi_subscribe_request) == 8, "subscribe request head is 8 bytes");
static_assert(sizeof(struct winapi_event_wait_request) == 16, "event wait request is 16 bytes");
static_assert(sizeof(struct winapi_event_wait_reply) == 24, "event wait reply head is 24 bytes");
static_assert(sizeof(struct winapi_event_header) == 16, "event header is 16 bytes");

/** Bytes one event takes in a reply. */
static inline uint32_t winapi_event_size(uint32_t length)
{
	return (uint32_t)sizeof(struct winapi_event_header) + ((length + 7u) & ~7u);
}

void winapi_subscribe_request_encode(const struct winapi_subscribe_request *request, void *out);
/** @return 0; -EBADMSG (shorter than the head; depth over WINAPI_EVENT_MAX_DEPTH). */
int winapi_subscribe_request_decode(const void *in, size_t length, struct winapi_subscribe_request *request);
void winapi_subscription_encode(const struct winapi_subscription *subscription, void *out);
/** @return 0; -EBADMSG (not 8 bytes, or id 0). */
int winapi_subscription_decode(const void *in, size_t length, struct winapi_subscription *subscription);
void winapi_event_wait_request_encode(const struct winapi_event_wait_request *request, void *out);
/** @return 0; -EBADMSG (not 16 bytes, max_events 0, wait_ms over the limit). */
int winapi_event_wait_request_decode(const void *in, size_t length, struct winapi_event_wait_request *request);

/**
 * Encode an EVENT_WAIT reply: the head (event_count as given) and the events.
 * @return bytes written; -EINVAL (an event over WINAPI_EVENT_MAX_DATA); -ENOBUFS.
 */
int winapi_event_wait_reply_encode(const struct winapi_event_wait_reply *reply,
				   const struct winapi_event_record *events, void *out, size_t out_size);

/**
 * Decode an EVENT_WAIT reply from the peer: the head, then up to @p max events (each within
 * the bytes, lengths within the limit, padding and reserved zero, nothing after the last).
 * @return 0; -EBADMSG; -ENOBUFS (more events than @p max).
 */
int winapi_event_wait_reply_decode(const void *in, size_t length, struct winapi_event_wait_reply *reply,
				   struct winapi_event_record *events, size_t max);

/** Map a response status to the negative errno liblowlat returns (0 for OK). */
int winapi_status_to_errno(uint32_t status);

/**
 * The status that reports @p error to a peer, for a relay that got the error from a call
 * (winapi-pmd answering its clients): the inverse of winapi_status_to_errno() where there is
 * one; WINAPI_STATUS_INTERNAL for errors of the relay itself (-ETIMEDOUT, -ENOTCONN, -EIO).
 */
uint32_t winapi_errno_to_status(int error);

/** Short text for a status, for messages. */
const char *winapi_status_name(uint32_t status);

/**
 * Text for a negative errno that liblowlat (or winapi-pmd) returned, for messages: strerror()'s,
 * but -ENOTCONN says in words that the host went away (the device rescinded, the daemon or the
 * emulator exited) rather than "Transport endpoint is not connected".
 */
const char *winapi_strerror(int error);

/**
 * CRC32C (Castagnoli, the iSCSI CRC: reflected, init and final XOR ~0) over @p length bytes,
 * continuing from @p crc (0 to start). crc32c("123456789") = 0xe3069283.
 */
uint32_t winapi_crc32c(uint32_t crc, const void *data, size_t length);

#endif /* WINAPI_PROTOCOL_H */
