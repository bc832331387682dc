/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the Hyper-V socket wire (drivers/hvsock/hvsock_wire.c) and the host service that
 * reads it (drivers/host/socket.c), with what a hostile peer sends.
 *
 * Input: +0 u8 mode (value % 3); then
 *   0: a request header's text, a seed's or a generic frame's: if it decodes, it must encode
 *      back and decode to the same header, and a generic one's payload must lie between its
 *      inline bytes and those plus every buffer; -EBADMSG and -EPROTONOSUPPORT must still
 *      give its request_id and payload_size (and a generic frame's, a possible api name);
 *   1: a reply header's text: if it decodes, the same round trip; a generic one's inline
 *      bytes lead its payload, and an error carries nothing;
 *   2: a stream the service reads: queued on one end of an AF_UNIX socketpair, shut for
 *      writing; winapi_host_socket_serve() runs on the other end, non-blocking (an answer that
 *      does not fit ends the session with -EAGAIN, as a stalled peer would).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <winapi_internal/host_socket.h>
#include <winapi_internal/hvsock.h>

#include "fuzz_check.h"

#define MAX_STREAM (64u << 10)

static void round_trip(const struct winapi_hvsock_header *header, bool reply)
{
	struct winapi_hvsock_header again;
	char text[WINAPI_HVSOCK_MAX_HEADER];
	int length = winapi_hvsock_header_encode(header, reply, text, sizeof(text));

	/* Every header that decoded can be written back, within the wire's limit. */
	FUZZ_CHECK(length > 0);
	FUZZ_CHECK((reply ? winapi_hvsock_reply_decode(text, (size_t)length, &again) :
			    winapi_hvsock_request_decode(text, (size_t)length, &again)) == 0);
	FUZZ_CHECK(memcmp(&again, header, sizeof(again)) == 0);
}

/* A generic frame names an API the way a registry can (never a seed's wire name) and no id. */
static void check_generic(const struct winapi_hvsock_header *header)
{
	FUZZ_CHECK(header->api_id == 0 && header->fields_length == 0);
	FUZZ_CHECK(winapi_api_name_check(header->api_name) == 0);
	FUZZ_CHECK(header->inline_length <= WINAPI_MAX_INLINE_DATA && header->inline_length <= header->payload_size);
}

static void decode_request(const uint8_t *text, size_t size)
{
	struct winapi_hvsock_header header;
	int rc = winapi_hvsock_request_decode(text, size, &header);

	FUZZ_CHECK(rc == 0 || rc == -EBADMSG || rc == -EPROTONOSUPPORT || rc == -EPROTO);
	if (rc == 0) {
		FUZZ_CHECK(header.buffer_count <= WINAPI_MAX_BUFFERS);
		FUZZ_CHECK(header.payload_size <= WINAPI_HVSOCK_MAX_PAYLOAD);
		if (winapi_hvsock_is_generic(&header)) {
			check_generic(&header);
			FUZZ_CHECK(header.reply_capacity <= WINAPI_MAX_INLINE_DATA);
			FUZZ_CHECK(header.payload_size <= header.inline_length + winapi_hvsock_buffer_bytes(&header));
		} else {
			FUZZ_CHECK(header.payload_size ==
				   (winapi_hvsock_bulk(&header) == WINAPI_HVSOCK_BULK_TO_HOST ?
					    winapi_hvsock_buffer_bytes(&header) :
				    header.api_id == WINAPI_API_ECHO ? header.payload_size : 0));
		}
		round_trip(&header, false);
	}
	if (rc == -EBADMSG || rc == -EPROTONOSUPPORT)
		FUZZ_CHECK(header.payload_size <= WINAPI_HVSOCK_MAX_PAYLOAD);
	/* The service answers a refused generic frame by its name: one a registry could hold. */
	if (rc == -EBADMSG && winapi_hvsock_is_generic(&header))
		FUZZ_CHECK(winapi_api_name_check(header.api_name) == 0);
}

static void decode_reply(const uint8_t *text, size_t size)
{
	struct winapi_hvsock_header header;
	int rc = winapi_hvsock_reply_decode(text, size, &header);

	FUZZ_CHECK(rc == 0 || rc == -EPROTO);
	if (rc == 0) {
		FUZZ_CHECK(header.api_id != 0 || winapi_hvsock_is_generic(&header) ||
			   header.status == WINAPI_STATUS_UNSUPPORTED_API);
		FUZZ_CHECK(header.status == WINAPI_STATUS_OK || header.payload_size == 0);
		if (winapi_hvsock_is_generic(&header))
			check_generic(&header);
		round_trip(&header, true);
	}
}

static void serve(const uint8_t *stream, size_t size)
{
	struct winapi_host_socket_stats stats = { 0 };
	int sockets[2], rc;

	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) == 0);
	if (size != 0)
		FUZZ_CHECK(send(sockets[1], stream, size, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)size);
	FUZZ_CHECK(shutdown(sockets[1], SHUT_WR) == 0);
	FUZZ_CHECK(fcntl(sockets[0], F_SETFL, O_NONBLOCK) == 0);
	rc = winapi_host_socket_serve(sockets[0], &stats);
	/* The stream ends where the input does: inside a frame, or at its end, or stalled. */
	FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -EAGAIN || rc == -ENOMEM);
	FUZZ_CHECK(stats.bytes_in <= size);
	close(sockets[0]);
	close(sockets[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size - 1 > MAX_STREAM)
		return 0;
	switch (data[0] % 3) {
	case 0:
		decode_request(data + 1, size - 1);
		break;
	case 1:
		decode_reply(data + 1, size - 1);
		break;
	default:
		serve(data + 1, size - 1);
		break;
	}
	return 0;
}
