/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * liblowlat: call Windows host APIs from a Linux guest (`pkg-config --cflags --libs liblowlat`).
 *
 * @code
 * winapi_handle_t handle = winapi_init();
 * char output[256];
 * int result = winapi_echo(handle, "Hello Windows!", output, sizeof(output));
 * winapi_cleanup(handle);
 * @endcode
 *
 * Transport: winapi_init() attaches to the host emulator (winapi-host-sim) at the socket named
 * by $WINAPI_SIM_SOCKET, else $XDG_RUNTIME_DIR/winapi-host-sim.sock, else
 * /tmp/winapi-host-sim.<uid>.sock.
 *
 * Environment: WINAPI_TIMEOUT_MS (time a call may take, default 5000), WINAPI_LOG_LEVEL or
 * WINAPI_DEBUG (see <winapi/log.h>), VMBUS_SPIN_NS (how long a waiting call polls before it
 * sleeps, default 50000).
 *
 * Errors: int functions return 0 or a negative errno; winapi_init() returns NULL and sets
 * errno, and logs the cause and the remedy on stderr.
 *
 * Synchronisation table:
 *
 *   call              | may run concurrently with
 *   ------------------+-----------------------------------------------------------
 *   winapi_init       | anything (each call makes an independent handle)
 *   winapi_echo,      | any call on the same or another handle, except
 *   winapi_get_stats  |   winapi_cleanup of that handle (calls on one handle are
 *                     |   serialised inside the library)
 *   winapi_cleanup    | nothing on the same handle
 */
#ifndef WINAPI_LOWLAT_H
#define WINAPI_LOWLAT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A connection to the host. Opaque. */
typedef struct winapi_handle *winapi_handle_t;

/**
 * Connect to the host and bind the winapi channel.
 * @return a handle, or NULL with errno: ENOENT or ECONNREFUSED (no host emulator at the
 *         socket: start winapi-host-sim or set WINAPI_SIM_SOCKET); EBUSY (another process
 *         owns the device); ENODEV (the device offered is not a winapi device); EPROTO (the
 *         host's offer is malformed); ETIMEDOUT; ENOMEM.
 */
winapi_handle_t winapi_init(void);

/**
 * Send @p input (a NUL-terminated string of at most 3072 bytes) to the host and receive it
 * back in @p output, NUL-terminated.
 * @return 0; -EINVAL (a NULL argument); -EMSGSIZE (input longer than 3072 bytes); -ENOBUFS
 *         (@p output_size < strlen(input) + 1: nothing is truncated silently); -ETIMEDOUT;
 *         -ENOTCONN (the host went away); -EIO (the host corrupted the channel); -EBADMSG (the
 *         host's reply failed validation); -EPROTONOSUPPORT, -EOPNOTSUPP, -EBUSY, -EREMOTEIO
 *         (the host refused the request: see winapi_status_to_errno() in
 *         <winapi/protocol.h>).
 */
int winapi_echo(winapi_handle_t handle, const char *input, char *output, size_t output_size);

/** Counters of one handle. */
struct winapi_stats {
	uint64_t calls;              /**< calls made */
	uint64_t failed_calls;       /**< calls that returned an error */
	uint64_t timeouts;           /**< calls that failed with -ETIMEDOUT */
	uint64_t stale_completions;  /**< late completions of timed-out calls, dropped */
	uint64_t unexpected_packets; /**< packets no call was waiting for, dropped */
	uint64_t signals_sent;       /**< times the host had to be woken */
	uint64_t sleeps;             /**< times a call blocked instead of polling */
};

/** Copy the counters of @p handle. @return 0 or -EINVAL. */
int winapi_get_stats(winapi_handle_t handle, struct winapi_stats *stats);

/** Close the connection; @p handle becomes invalid. NULL is ignored. */
void winapi_cleanup(winapi_handle_t handle);

#ifdef __cplusplus
}
#endif

#endif /* WINAPI_LOWLAT_H */
