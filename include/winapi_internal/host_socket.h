/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The host service over a stream socket (drivers/host/socket.c): the Hyper-V socket wire of
 * <winapi_internal/hvsock.h> in front of the same handlers the VMBus host runs. Portable C: the Linux
 * build (winapi-hostd, AF_VSOCK or AF_UNIX) and the Windows service (AF_HYPERV) both call it.
 *
 * Each connection is served by one thread, request after request; bulk data is read into a
 * per-connection buffer (grown up to the payload limit, 512 MiB), worked on in place, and
 * written back for the requests that return it. The buffer is kept for the next request while
 * requests keep coming, and given back to WINAPI_HOST_SOCKET_KEEP_PAYLOAD bytes once none has
 * come for WINAPI_HOST_SOCKET_SHRINK_MS: a 206-byte request for 512 MiB does not pin 512 MiB
 * for the life of an idle connection.
 *
 * The seed APIs come in the seed's frames; every API of the process's registry
 * (<winapi_internal/host_api.h>: registered before or while serving) and LIST, in the generic
 * frame, by name. Which of a generic request's buffers come in and which go back is the
 * registry entry's buffer_access, never the frame's word; the buffers the host only writes
 * start zeroed.
 *
 * Everything the peer sends is validated: a request that is framed soundly but wrong gets an
 * error status (an api nobody here knows: UNSUPPORTED_API, naming none) and the connection
 * goes on; a frame that cannot be trusted (no request_id or payload_size, a header over the
 * limit) ends the connection, logged.
 *
 * Synchronisation: any number of connections may be served at once, each by its own thread;
 * struct winapi_host_socket_stats is updated with atomic adds and may be shared by them.
 *
 * Owner: drivers/host
 */
#ifndef WINAPI_HOST_SOCKET_H
#define WINAPI_HOST_SOCKET_H

#include <stdint.h>

#include <winapi_internal/hvsock.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Counters, summed over the connections that share them. */
struct winapi_host_socket_stats {
	uint64_t connections;   /**< connections served, ended or not */
	uint64_t requests;      /**< requests answered (any status) */
	uint64_t bad_requests;  /**< requests answered with an error status */
	uint64_t bytes_in;      /**< payload bytes received */
	uint64_t bytes_out;     /**< payload bytes sent */
};

/** Payload buffer bytes a connection keeps while it idles. */
#define WINAPI_HOST_SOCKET_KEEP_PAYLOAD (1u << 20)
/** How long without a frame before a larger payload buffer is given back. */
#define WINAPI_HOST_SOCKET_SHRINK_MS 1000u
/** How long a peer may take; every bound is absolute, never restarted by a byte. */
struct winapi_host_socket_limits {
	/** Most a frame may take either way, from its first byte (a request's to arrive whole, a
	 *  reply's to be taken by the peer); 0: none but the socket's own timeouts. */
	unsigned int frame_timeout_ms;
	/** Most time with no frame either way before the connection is closed; 0: none. While
	 *  it has events to pump (an open event wait, a subscription), WINAPI_EVENT_MAX_WAIT_MS
	 *  more: an open wait is answered by then, and its answer restarts the clock. */
	unsigned int idle_timeout_ms;
};

/**
 * Serve @p socket (connected, blocking) until the peer closes it. The socket is not closed.
 * Each frame must be whole within @p limits->frame_timeout_ms of its first byte, polled with
 * the time left, so a peer that trickles a byte per period loses the connection all the same;
 * a connection idle for @p limits->idle_timeout_ms is closed. @p limits NULL: no bound of its
 * own, only the socket's timeouts (SO_RCVTIMEO, SO_SNDTIMEO), which restart at every byte:
 * a service facing untrusted peers passes limits.
 * @return 0 (the peer closed between requests); -EPROTO (it broke the framing, or closed
 *         inside a frame: logged); -ETIMEDOUT (a frame missed its deadline: logged); -ECANCELED
 *         (idle for the idle timeout: logged); -ENOMEM (a payload's buffer could not be had:
 *         logged); a negative errno of the socket.
 */
int winapi_host_socket_serve_limited(winapi_socket_t socket, struct winapi_host_socket_stats *stats,
				     const struct winapi_host_socket_limits *limits);

/** winapi_host_socket_serve_limited() with @p limits NULL (tests, fuzzing, in-process hosts). */
int winapi_host_socket_serve(winapi_socket_t socket, struct winapi_host_socket_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* WINAPI_HOST_SOCKET_H */
