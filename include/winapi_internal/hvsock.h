/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The Hyper-V socket wire (WSL2 transport, seed 002's design done correctly): a stream socket
 * (AF_VSOCK in the guest, AF_HYPERV on Windows; AF_UNIX standing in for both in tests)
 * carrying frames
 *
 *     u32 length (little-endian) | length bytes of JSON header | payload_size bytes of payload
 *
 * The header is a JSON object (jansson builds and parses it). The seed APIs keep the seed's
 * metadata, which winapi-bench's baseline also speaks:
 *
 *     request: {"request_id": 7, "api": "echo" | "buffer_test" | "performance",
 *               "payload_size": 4096, "flags": ["async"], ...the API's fields}
 *     reply:   {"request_id": 7, "api": ..., "status": 0, "payload_size": 0, ...}
 *
 * The API's fields are those of <winapi/protocol.h>'s inline structs, by name:
 * buffer_test: "operation" ("write", "read", "verify"), "pattern", "crc_seed", "buffers"
 * (lengths, 1-8); reply "bytes_processed", "checksum", "mismatches", "first_mismatch" (null:
 * none). performance: "test_type" ("latency", "throughput"), "sequence", "buffers" (throughput);
 * reply "sequence", "bytes_processed", "checksum", "host_ns". "status" is enum winapi_status.
 *
 * Bulk data travels as the payload, after its header: echo's bytes both ways; the buffers'
 * bytes, in order, toward the side that reads them (to the host for read, verify and
 * throughput; back to the guest for write). A file under /mnt/c is not memory both sides see
 * coherently, so nothing here uses one.
 *
 * Any other API, and the control call LIST (WINAPI_API_LIST_NAME), goes as a generic frame:
 * one whose "api" is an API's registered name (winapi_api_name_check()) rather than a seed's
 * wire name above.
 *
 *     request: {"request_id": 8, "api": "host.time", "payload_size": P, "flags": [...],
 *               "version": 256, "inline_length": I, "reply_capacity": R, "buffers": [len, ...]}
 *     reply:   {"request_id": 8, "api": "host.time", "status": 0, "payload_size": P,
 *               "inline_length": I}
 *
 * "version" is the API version the caller was written for (major << 8 | minor; 0: not
 * stated); I and R are at most WINAPI_MAX_INLINE_DATA; 0-8 buffers of 1 byte..64 MiB. A
 * request's payload is its I inline bytes, then, in buffer order, the bytes of every buffer
 * the host reads; a reply's is its I inline bytes, then the bytes of every buffer the host
 * writes. Which buffers those are is the API's buffer_access in the host's table (struct
 * winapi_api_entry): the guest has it from LIST, the host from its own registry, never from
 * the frame. An error status carries no payload. A host that does not know the name, 1.0 or
 * not, answers UNSUPPORTED_API with "api": null, as for any api it does not know.
 *
 * Requests are matched to replies by request_id: many may be in flight, answered in any
 * order. Everything read from the peer is validated here before either side uses it.
 *
 * Portable C: builds on Linux and, with mingw-w64, on Windows (the host service).
 *
 * Synchronisation: every call is reentrant; calls on one socket from several threads must be
 * serialised by the caller (a frame is written, and read, by one thread at a time).
 *
 * Owner: drivers/hvsock
 */
#ifndef WINAPI_HVSOCK_H
#define WINAPI_HVSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <winapi/protocol.h>

#ifdef _WIN32
#include <winsock2.h>
typedef SOCKET winapi_socket_t;
#else
typedef int winapi_socket_t;
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** The seed's port; $WINAPI_SOCKET_PORT overrides it. Service GUID: see winapi_hvsock_service_id(). */
#define WINAPI_SOCKET_DEFAULT_PORT 0x1234u

/** Longest JSON header either side accepts. */
#define WINAPI_HVSOCK_MAX_HEADER 1024u
/** Longest payload: eight buffers of 64 MiB. */
#define WINAPI_HVSOCK_MAX_PAYLOAD ((uint64_t)WINAPI_MAX_BUFFERS * WINAPI_MAX_BUFFER_SIZE)

/** Most spans one frame's payload is sent from: a generic frame's inline bytes and 8 buffers. */
#define WINAPI_HVSOCK_MAX_SPANS (1u + WINAPI_MAX_BUFFERS)

/** "flags" of a request. */
enum winapi_hvsock_flag {
	WINAPI_HVSOCK_FLAG_ASYNC = 1u << 0, /**< "async": sent from a queue, others in flight */
};

/**
 * A header, either way: a seed API's, with its fields in <winapi/protocol.h>'s inline
 * encoding, or a generic frame's (api_name not empty).
 */
struct winapi_hvsock_header {
	uint64_t request_id;
	uint16_t api_id;             /**< a seed's enum winapi_api_id; 0 in a generic frame */
	uint32_t status;             /**< replies: enum winapi_status */
	uint32_t flags;              /**< requests: enum winapi_hvsock_flag */
	uint64_t payload_size;       /**< bytes after the header */
	uint8_t fields[32];          /**< the seed API's request or reply struct, encoded (echo: none) */
	uint32_t fields_length;
	uint32_t buffer_count;       /**< requests: buffers named, 0-8 */
	uint64_t buffer_lengths[WINAPI_MAX_BUFFERS];
	/** Generic frames: the API's registered name, NUL-padded; "" in a seed's frame, and in
	 *  the answer to an api the host does not know (api_id 0 too: it names none). */
	char api_name[WINAPI_API_NAME_SIZE];
	uint16_t api_version;        /**< generic requests: "version" */
	uint32_t inline_length;      /**< generic: inline bytes at the head of the payload */
	uint32_t reply_capacity;     /**< generic requests: most inline bytes taken back */
};

/** Whether @p header is a generic frame's. */
static inline bool winapi_hvsock_is_generic(const struct winapi_hvsock_header *header)
{
	return header->api_name[0] != '\0';
}

/** Which way a request's buffer bytes travel (winapi_hvsock_bulk()). */
enum winapi_hvsock_bulk {
	WINAPI_HVSOCK_BULK_NONE,     /**< no buffers, or the host does not need their bytes */
	WINAPI_HVSOCK_BULK_TO_HOST,  /**< read, verify, throughput: the request's payload */
	WINAPI_HVSOCK_BULK_TO_GUEST, /**< write: the reply's payload */
};

/** For a seed API's request header that decoded (or that is about to be sent); NONE for a generic one. */
enum winapi_hvsock_bulk winapi_hvsock_bulk(const struct winapi_hvsock_header *request);

/** Sum of a request's buffer lengths. */
uint64_t winapi_hvsock_buffer_bytes(const struct winapi_hvsock_header *request);

/**
 * Sum of the lengths of a generic request's buffers whose @p access (WINAPI_ACCESS_* per
 * buffer, the API's buffer_access) has any bit of @p direction: WINAPI_ACCESS_HOST_READS for
 * what the request carries after its inline bytes, _WRITES for what the reply does.
 */
uint64_t winapi_hvsock_access_bytes(const struct winapi_hvsock_header *request,
				    const uint8_t access[WINAPI_MAX_BUFFERS], uint8_t direction);

/**
 * Write @p header as JSON (a request, or with @p reply a reply) into @p out.
 * @return the length (no NUL); -EINVAL (fields that do not decode as the API's struct; a
 *         generic frame that its decoder would refuse); -ENOSPC (@p out_size too small); -ENOMEM.
 */
int winapi_hvsock_header_encode(const struct winapi_hvsock_header *header, bool reply, char *out,
				size_t out_size);

/**
 * Parse and validate a request header from the peer. A generic frame's payload_size is
 * checked to lie between its inline_length and that plus all its buffers: which buffers the
 * payload carries is for the host's registry to say.
 * @return 0; -EBADMSG (request_id and payload_size are sound, so the payload can be skipped
 *         and the request answered BAD_MESSAGE, but something else is not; a generic frame's
 *         api_name is set all the same, so that an unknown one is answered as such);
 *         -EPROTONOSUPPORT (likewise, for an api that is neither a seed's nor a possible
 *         name: answer UNSUPPORTED_API); -EPROTO (not a JSON object, or no usable request_id
 *         or payload_size: the stream cannot be trusted further).
 */
int winapi_hvsock_request_decode(const void *text, size_t length, struct winapi_hvsock_header *header);

/**
 * Parse and validate a reply header from the peer. Its fields are checked as far as the
 * header alone allows (a generic reply: inline_length at most WINAPI_MAX_INLINE_DATA and
 * payload_size; with an error status, neither); the caller checks them against its request
 * (api, payload_size). The answer to an api the host does not know names none (api_id 0,
 * api_name "", status UNSUPPORTED_API).
 * @return 0; -EPROTO (not usable: the stream cannot be trusted further).
 */
int winapi_hvsock_reply_decode(const void *text, size_t length, struct winapi_hvsock_header *header);

/** One piece of a frame's payload. */
struct winapi_hvsock_span {
	const void *data;
	size_t length;
};

/**
 * Send one frame: the length prefix, @p header_length bytes of header, then the spans (at
 * most WINAPI_HVSOCK_MAX_SPANS). The framing is also that of winapi-bench's baseline, whose
 * headers are larger. Blocks as the socket does (SO_SNDTIMEO applies to each send()).
 * @return 0; a negative errno of the socket (-EPIPE, -ECONNRESET, ...); -EINVAL.
 */
int winapi_hvsock_send(winapi_socket_t socket, const char *header, size_t header_length,
		       const struct winapi_hvsock_span *spans, unsigned int span_count);

/**
 * The same, whole by @p deadline_ns (CLOCK_MONOTONIC; UINT64_MAX: none, as
 * winapi_hvsock_send()): the wait for room is polled with the time left, so a peer that
 * reads a byte now and then cannot stretch one frame past it. (On Windows a send() of up to
 * 64 KiB that started before the deadline may end after it, bounded by SO_SNDTIMEO.)
 * @return as winapi_hvsock_send(); -ETIMEDOUT (the deadline passed: part of the frame may be
 *         out, the stream is lost).
 */
int winapi_hvsock_send_until(winapi_socket_t socket, uint64_t deadline_ns, const char *header, size_t header_length,
			     const struct winapi_hvsock_span *spans, unsigned int span_count);

/**
 * The reading end of a stream: frames are read through a small buffer, so that one recv()
 * takes every small frame that has arrived (a busy peer's replies, a batch's requests), while
 * bulk payloads go straight from the socket into their destination. One per socket, used by
 * one thread at a time.
 *
 * Deadlines: with @c frame_timeout_ms set, a frame must arrive whole within that long of its
 * first byte, and no wait inside it lasts longer either. Inside a frame every wait polls with
 * the time left to @c deadline_ns, so a peer that trickles a byte now and then cannot stretch
 * a frame: a socket receive timeout (SO_RCVTIMEO) alone restarts at each byte. A caller may
 * move @c deadline_ns once it knows more (the guest: to the deadline of the request whose
 * reply it lands; a stall of frame_timeout_ms still ends it). Between frames nothing is
 * polled here: the socket's receive timeout, or the caller's own poll, applies.
 */
struct winapi_hvsock_reader {
	winapi_socket_t socket;
	unsigned int frame_timeout_ms; /* 0: no bound of its own (winapi_hvsock_reader_init()) */
	uint64_t deadline_ns;     /* inside a frame: when it must be whole (CLOCK_MONOTONIC; UINT64_MAX: never) */
	uint64_t consumed;        /* bytes of frames taken so far: how far a frame that failed got */
	size_t start, end;        /* the unread bytes: buffer[start, end) */
	uint8_t buffer[16384];
};

/** No frame timeout: set @c frame_timeout_ms after this for one. */
void winapi_hvsock_reader_init(struct winapi_hvsock_reader *reader, winapi_socket_t socket);

/**
 * Read one frame's header into @p buffer: at most @p size bytes are accepted
 * (WINAPI_HVSOCK_MAX_HEADER for this wire). With a receive timeout on the socket
 * (SO_RCVTIMEO), an idle peer and a stalled one are told apart. The frame's deadline starts
 * at its first byte (see struct winapi_hvsock_reader).
 * @return 0 with *@p length set; -ECONNRESET (the peer closed between frames); -EAGAIN (the
 *         timeout passed between frames: nothing was consumed, call again); -EPROTO (it closed
 *         inside one, or the length is 0 or over @p size); -ETIMEDOUT (it stopped inside a
 *         frame for the socket's timeout, or the frame's deadline passed: the stream cannot be
 *         resynchronised); a negative errno of the socket.
 */
int winapi_hvsock_receive_header(struct winapi_hvsock_reader *reader, char *buffer, size_t size, size_t *length);

/**
 * Read exactly @p length bytes of a frame (or, with @p data NULL, read and drop them).
 * @return 0; -EPROTO (the stream ended); -ETIMEDOUT (the peer stopped for the socket's receive
 *         timeout, or @c deadline_ns passed; @c consumed says how far it got); a negative errno
 *         of the socket.
 */
int winapi_hvsock_receive(struct winapi_hvsock_reader *reader, void *data, uint64_t length);

/**
 * The Hyper-V socket service id for @p port: the VSOCK template
 * 00000000-facb-11e6-bd58-64006a7986d3 with its first field set to the port, as text
 * (37 bytes with the NUL). This is the id registered under GuestCommunicationServices and
 * the one AF_HYPERV listens on; AF_VSOCK in the guest addresses it by port.
 */
void winapi_hvsock_service_id(uint32_t port, char text[37]);

/**
 * The port from $WINAPI_SOCKET_PORT (decimal or 0x hex, 1..0x7fffffff) or the default.
 * @return 0 with *@p port; -EINVAL (set but not a port; nothing is guessed).
 */
int winapi_hvsock_port_from_environment(uint32_t *port);

/** Most vsock peers an allow-list names (winapi-hostd --allow-cid). */
#define WINAPI_HVSOCK_MAX_ALLOWED_CIDS 64u

/**
 * Parse an allow-list of vsock peers, "CID[,CID...]" (decimal or 0x hex), into @p cids.
 * VMADDR_CID_ANY (0xffffffff) is refused: it names no peer, and would read as "every one".
 * @return 0 with *@p count set (1..@p max); -EINVAL (empty, not a number, the wildcard);
 *         -E2BIG (more than @p max).
 */
int winapi_hvsock_parse_cids(const char *text, uint32_t *cids, unsigned int max, unsigned int *count);

/** Whether the peer @p cid may be served: it is one of @p cids, or the list is empty (@p count 0). */
bool winapi_hvsock_cid_allowed(const uint32_t *cids, unsigned int count, uint32_t cid);

/**
 * The loopback TCP form of the wire (winapi-hostd --tcp, $WINAPI_SOCKET_TCP): "HOST:PORT",
 * HOST an IPv4 address of 127.0.0.0/8 or "localhost", PORT decimal 1..65535 (or 0 when
 * @p any_port: a listener's "pick a free one"). Loopback only: the wire carries no
 * authentication, so its TCP form must not reach past this machine.
 * @return 0 with *@p address (host byte order: 0x7f000001 for 127.0.0.1) and *@p port;
 *         -EINVAL (not that form); -EADDRNOTAVAIL (an address outside 127.0.0.0/8).
 */
int winapi_hvsock_parse_loopback(const char *text, bool any_port, uint32_t *address, uint16_t *port);

#ifdef __cplusplus
}
#endif

#endif /* WINAPI_HVSOCK_H */
