/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The host service over a stream socket (drivers/host/socket.c): the Hyper-V socket wire of
 * <winapi_internal/hvsock.h> in front of the same handlers the VMBus host runs. Portable C: the Linux
 * build (winapi-hostd, AF_VSOCK or AF_UNIX) and the Windows service (AF_HYPERV) both call it.
 *
 * Each connection is served by one thread, request after request; bulk data is read into a
 * per-connection buffer (grown up to the payload limit, 512 MiB, and kept for the next
 * request), worked on in place, and written back for the requests that return it.
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

/**
 * Serve @p socket (connected, blocking) until the peer closes it. The socket is not closed.
 * With a receive timeout on the socket (SO_RCVTIMEO), a peer that stops inside a frame for
 * that long loses the connection; an idle one keeps it.
 * @return 0 (the peer closed between requests); -EPROTO (it broke the framing, or closed
 *         inside a frame: logged); -ETIMEDOUT (it stopped inside a frame: logged); -ENOMEM (a
 *         payload's buffer could not be had: logged); a negative errno of the socket.
 */
int winapi_host_socket_serve(winapi_socket_t socket, struct winapi_host_socket_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* WINAPI_HOST_SOCKET_H */
