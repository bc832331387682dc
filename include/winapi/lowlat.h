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
 * Transport ($WINAPI_TRANSPORT): "uio" drives the winapi VMBus device bound to
 * uio_hv_generic (scripts/vmbus-bind); "sim" attaches to the host emulator (winapi-host-sim)
 * at the socket named by $WINAPI_SIM_SOCKET, else $XDG_RUNTIME_DIR/winapi-host-sim.sock, else
 * /tmp/winapi-host-sim.<uid>.sock; "pmd" attaches to a running winapi-pmd daemon, which owns
 * the device and serves many processes, at $WINAPI_PMD_SOCKET, else
 * $XDG_RUNTIME_DIR/dpdk/winapi-pmd/winapi-pmd.sock (/tmp without XDG_RUNTIME_DIR; /var/run for
 * root), else /var/run/dpdk/winapi-pmd/winapi-pmd.sock (a daemon run by systemd). When the
 * daemon exits, calls fail with -ENOTCONN: winapi_cleanup() and winapi_init() attach again.
 * "hvsock" (WSL2, where no VMBus device can be bound) talks to the host service over a Hyper-V
 * socket: AF_VSOCK to CID $WINAPI_SOCKET_CID (default 2, the host) and port
 * $WINAPI_SOCKET_PORT (default 0x1234), or the AF_UNIX socket $WINAPI_SOCKET_PATH (a host
 * service on this machine, tests), or loopback TCP at $WINAPI_SOCKET_TCP ("127.0.0.1:PORT":
 * winapi-hostd.exe --tcp, for tests under Wine and hosts without Hyper-V sockets), framed
 * as docs/SECURITY.md's hvsock rows say. There, buffers are this process's memory and their
 * bytes travel on the socket: the Windows host cannot map guest memory through a socket, so
 * nothing is zero-copy. Unset: uio when this machine has a VMBus with a winapi device, the
 * emulator otherwise.
 *
 * Environment: WINAPI_TIMEOUT_MS (time a call may take, default 5000), WINAPI_LOG_LEVEL or
 * WINAPI_DEBUG (see <winapi/log.h>), VMBUS_SPIN_NS (how long a waiting call polls before it
 * sleeps, default 50000). WINAPI_SHARED_MEM (the WSL2 seed's "shared memory" file) is refused
 * when set: under /mnt (drvfs, 9p) a file is not coherent between Windows and Linux, and no
 * file of the guest is memory the host can map; bulk data goes on the socket or in GPADLs.
 *
 * <winapi/protocol.h> comes along for the wire's enums and limits, and for winapi_crc32c(),
 * which liblowlat exports so that applications check checksums with the same function.
 *
 * Errors: int functions return 0 or a negative errno; winapi_init() returns NULL and sets
 * errno, and logs the cause and the remedy on stderr. winapi_strerror() (<winapi/protocol.h>)
 * words an error for a message: -ENOTCONN says the device was removed or the daemon exited.
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
 *   winapi_alloc_buffer, winapi_free_buffer | anything (other buffers); not with calls
 *                     |   that use the buffer being freed
 *   winapi_buffer_test, winapi_perf_test | as winapi_echo
 *   winapi_queue_create | anything but winapi_cleanup of that handle
 *   winapi_queue_echo, _buffer_test, | calls on other queues and synchronous calls, from
 *     _submit, _reap    |   any thread; nothing else on the same queue (a queue is one
 *                       |   thread's: the thread that adds also submits and reaps)
 *   winapi_queue_destroy | calls on other queues; not winapi_cleanup
 *   winapi_call_api   | as winapi_echo
 *   winapi_queue_call_api | as winapi_queue_echo
 *   winapi_subscribe, winapi_unsubscribe | as winapi_echo
 *   winapi_queue_receive_events, | as winapi_queue_echo
 *     winapi_queue_event_fd |
 *   winapi_host_time, _info, | as winapi_echo
 *     winapi_clock_offset, |
 *     winapi_file_stat, _list, |
 *     _read, _write     |
 *   winapi_api_list, _lookup, | anything but winapi_cleanup of that handle (the first
 *     winapi_protocol_versions |   asks the host; the others wait for its answer)
 *
 * The synchronous calls are one-request queues on the same path. Destroy a handle's queues
 * before winapi_cleanup().
 *
 * Owner: lib/lowlat
 */
#ifndef WINAPI_LOWLAT_H
#define WINAPI_LOWLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <winapi/host_apis.h>
#include <winapi/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A connection to the host. Opaque. */
typedef struct winapi_handle *winapi_handle_t;

/**
 * Connect to the host and bind the winapi channel.
 * @return a handle, or NULL with errno: ENOENT or ECONNREFUSED (no host emulator, daemon or
 *         host service at the socket); EBUSY (another process owns the device); ENODEV (the
 *         device offered is not a winapi device); EPROTO (the host's offer is malformed);
 *         EAFNOSUPPORT (hvsock: no AF_VSOCK in this kernel); EINVAL (WINAPI_TRANSPORT,
 *         WINAPI_SOCKET_PORT, WINAPI_SOCKET_CID or WINAPI_SOCKET_TCP that does not parse;
 *         WINAPI_SHARED_MEM under /mnt); EADDRNOTAVAIL (WINAPI_SOCKET_TCP off this machine);
 *         EOPNOTSUPP (WINAPI_SHARED_MEM set elsewhere); ETIMEDOUT; ENOMEM.
 */
winapi_handle_t winapi_init(void);

/**
 * Send @p input (a NUL-terminated string of at most 3072 bytes) to the host and receive it
 * back in @p output, NUL-terminated.
 * @return 0; -EINVAL (a NULL argument); -EMSGSIZE (input longer than 3072 bytes); -ENOBUFS
 *         (@p output_size < strlen(input) + 1: nothing is truncated silently); -ETIMEDOUT;
 *         -ENOTCONN (the host went away); -EIO (the host corrupted the channel); -EBADMSG (the
 *         host's reply failed validation); -EPROTONOSUPPORT, -EOPNOTSUPP, -EBUSY, -EACCES (winapi-pmd's policy), -EREMOTEIO
 *         (the host refused the request: see winapi_status_to_errno() in
 *         <winapi/protocol.h>).
 */
int winapi_echo(winapi_handle_t handle, const char *input, char *output, size_t output_size);

/**
 * Memory the host reads and writes in place, without a copy (DESIGN.md section 4): carved
 * from the device's GPADL regions when it has them, else DMA memory whose page numbers go to
 * the host in GPA-direct ranges. data and size are the application's; the rest is private.
 */
typedef struct winapi_buffer {
	void *data;
	size_t size;
	void *owner;       /**< private: the attachment the memory belongs to */
	uint32_t kind;     /**< private: WINAPI_BUFFER_GPADL or WINAPI_BUFFER_GPA_DIRECT */
	uint32_t region;   /**< private: GPADL region index */
	uint64_t offset;   /**< private: offset in the region */
	size_t allocated;  /**< private: bytes reserved (whole pages) */
} winapi_buffer_t;

/**
 * Allocate a buffer of @p size bytes (4 KiB to 64 MiB) the host reaches in place, from the
 * memory of this process's attachment (a handle from winapi_init() must be open; the buffer
 * keeps that memory alive after winapi_cleanup() until it is freed). Zeroed.
 * @return 0; -EINVAL (NULL, or size outside 4 KiB..64 MiB); -ENODEV (no open handle);
 *         -ENOMEM (the regions are full); -EOPNOTSUPP (no zero-copy path: no GPADL region and
 *         no DMA memory, e.g. uio without CAP_SYS_ADMIN on a kernel without GPADL regions;
 *         the cause is logged).
 */
int winapi_alloc_buffer(winapi_buffer_t *buffer, size_t size);

/**
 * Free a buffer from winapi_alloc_buffer(); a zeroed or already freed one is ignored. The
 * caller's struct is cleared at once. A buffer that a request which ended unanswered named
 * (it timed out, or its queue was destroyed with it in flight) may still be written by the
 * host: its memory stays allocated, never handed out again, until the host's late answer
 * to that request is taken (by a later call or reap on the handle) or the handle is
 * cleaned up; then the memory goes with the device, when the last buffer is freed.
 */
void winapi_free_buffer(winapi_buffer_t *buffer);

typedef enum winapi_buffer_op winapi_buffer_op_t;

/** What a BUFFER_TEST did. */
typedef struct winapi_buffer_test_result {
	uint64_t bytes_processed;
	uint32_t checksum;        /**< CRC32C over the buffers in order, as they are afterwards */
	int status;               /**< 0; -EILSEQ when VERIFY found bytes that differ */
	uint64_t mismatches;      /**< VERIFY: bytes that differ from the pattern */
	uint64_t first_mismatch;  /**< VERIFY: index over all buffers' bytes; UINT64_MAX: none */
} winapi_buffer_test_result_t;

/**
 * Have the host WRITE the 32-bit @p pattern (repeated little-endian from each buffer's first
 * byte) into 1 to 8 buffers, READ them, or VERIFY they hold it, with a CRC32C of the bytes.
 * The host works on the buffers in place. A call too large for one packet is split into
 * several requests, the checksum carried from one to the next.
 * @return 0 (see result->status for VERIFY); -EINVAL (bad arguments, a buffer of another
 *         attachment); -EFAULT (the host could not reach a buffer); and winapi_echo()'s errors.
 */
int winapi_buffer_test(winapi_handle_t handle, winapi_buffer_t *buffers, size_t count, int operation,
		       uint32_t pattern, winapi_buffer_test_result_t *result);

typedef enum winapi_perf_test_type winapi_perf_test_type_t;

/** What to measure (the seeds' winapi_perf_test_params_t). */
typedef struct winapi_perf_test_params {
	int test_type;         /**< WINAPI_PERF_LATENCY or WINAPI_PERF_THROUGHPUT */
	uint64_t iterations;   /**< round trips (LATENCY), or the most requests (THROUGHPUT) */
	uint64_t target_bytes; /**< THROUGHPUT: stop once the host has read this much (0: none) */
} winapi_perf_test_params_t;

/** Measured figures; every one comes from real round trips in this call. */
typedef struct winapi_perf_test_result {
	uint64_t throughput_mbps;  /**< MB/s (10^6 bytes) the host read; 0 for LATENCY */
	uint64_t avg_latency_ns;   /**< mean round trip */
	uint64_t min_latency_ns;
	uint64_t p50_latency_ns;
	uint64_t p99_latency_ns;
	uint64_t max_latency_ns;
	uint64_t iterations;       /**< round trips made */
	uint64_t bytes_processed;  /**< bytes the host read */
	uint64_t elapsed_ns;       /**< wall time of the whole run */
	uint64_t host_ns;          /**< time the host says it spent, summed */
} winapi_perf_test_result_t;

/**
 * Measure round trips to the host. LATENCY: @p params->iterations requests without data.
 * THROUGHPUT: passes over @p buffers (the host reads every byte; a pass is one request, or
 * several when the buffers' page numbers do not fit one packet) until params->target_bytes
 * are read or params->iterations requests made, whichever comes first (at least one limit
 * must be set; the pass under way completes). Latency figures are per request.
 * @return 0; -EINVAL (bad params, THROUGHPUT without buffers); and winapi_buffer_test()'s errors.
 */
int winapi_perf_test(winapi_handle_t handle, const winapi_perf_test_params_t *params,
		     winapi_buffer_t *buffers, size_t count, winapi_perf_test_result_t *result);

/* ---- Asynchronous calls ---- */

/**
 * A queue of requests in flight, for one thread. Requests are added, submitted in batches
 * (one ring publication and at most one signal for the whole batch) and reaped when done, in
 * any order; many queues, on many threads, share the handle's channel.
 */
typedef struct winapi_queue *winapi_queue_t;

/** A finished request. */
typedef struct winapi_completion {
	void *user_data;  /**< as given when it was added */
	int status;       /**< 0, or what the synchronous call would have returned */
	size_t length;    /**< echo: bytes written to the output (no NUL is added) */
} winapi_completion_t;

/**
 * A queue for up to @p depth (1..4096) requests in flight, each failing with -ETIMEDOUT after
 * @p timeout_ms (-1: WINAPI_TIMEOUT_MS or 5000). A timed-out request's slot is reused at once;
 * its completion, if it comes later, is recognised and dropped.
 * @return the queue, or NULL with errno EINVAL, EMFILE (1024 queues) or ENOMEM.
 */
winapi_queue_t winapi_queue_create(winapi_handle_t handle, unsigned int depth, int timeout_ms);

/** Destroy a queue; requests still in flight are forgotten (their completions dropped). */
void winapi_queue_destroy(winapi_queue_t queue);

/**
 * Add an echo of @p length bytes (any bytes, at most 3072; copied now) to the next batch. The
 * answer goes to @p output (@p output_size bytes), which must stay valid until reaped.
 * @return 0; -EAGAIN (depth requests outstanding: reap first); -EINVAL; -EMSGSIZE.
 */
int winapi_queue_echo(winapi_queue_t queue, const void *input, size_t length, void *output, size_t output_size,
		      void *user_data);

/**
 * Add a BUFFER_TEST over 1 to 8 buffers to the next batch; @p result is filled when it is
 * reaped. It must fit one request (winapi_buffer_test() splits larger calls): -EMSGSIZE
 * otherwise. Buffers and result must stay valid until reaped.
 * @return 0; -EAGAIN; -EINVAL; -EMSGSIZE.
 */
int winapi_queue_buffer_test(winapi_queue_t queue, winapi_buffer_t *buffers, size_t count, int operation,
			     uint32_t pattern, winapi_buffer_test_result_t *result, void *user_data);

/**
 * Submit the batch added since the last submit: one write_index publication, at most one
 * signal. A request that cannot be sent ends at once with its error (reap it).
 * @return requests sent (>= 0); -EAGAIN (the ring is full and nothing could be sent: reap
 *         and try again); -ENOTCONN (the host is gone).
 */
int winapi_queue_submit(winapi_queue_t queue);

/**
 * Collect up to @p max finished requests, waiting until at least @p min are there, @p
 * timeout_ms passes (-1: no limit), or nothing is in flight any more.
 * @return the number collected (possibly fewer than @p min); -EINVAL.
 */
int winapi_queue_reap(winapi_queue_t queue, winapi_completion_t *completions, unsigned int max, unsigned int min,
		      int timeout_ms);

/* ---- Any API the host serves (1.1) ---- */

/**
 * One API of the host's table: name ("winapi.echo", "host.time"), id, version (major << 8 |
 * minor), the most inline bytes a call may send (max_request) and get back (max_reply), flags
 * (WINAPI_API_FLAG_*), and for each buffer it takes what the host does with it
 * (buffer_access[i]: WINAPI_ACCESS_HOST_READS, _WRITES or both; the first 0 ends the list).
 * See struct winapi_api_entry in <winapi/protocol.h>.
 */
typedef struct winapi_api_entry winapi_api_info_t;

/**
 * Copy up to @p max of the host's APIs into @p apis, in the host's order. The handle asks the
 * host for its table once, at the first call that needs it (this one, winapi_api_lookup(),
 * winapi_protocol_versions(), or a call of an API that is not a seed's); a host that predates
 * the table is taken to serve the three seed APIs.
 * @return the number of APIs the host serves (>= 0, possibly more than @p max); -EINVAL; or,
 *         when the table could not be had, winapi_echo()'s errors.
 */
int winapi_api_list(winapi_handle_t handle, winapi_api_info_t *apis, size_t max);

/**
 * Find the API named @p name, which the caller was written for at major version
 * @p version_major, and fill @p info (its id goes into winapi_api_call_t.api).
 * @return 0; -ENOENT (the host serves no API of that name); -EPROTONOSUPPORT (it serves
 *         another major: @p info is filled all the same, so the caller can say which);
 *         -EINVAL (NULL, or version_major 0); or winapi_api_list()'s errors.
 */
int winapi_api_lookup(winapi_handle_t handle, const char *name, unsigned int version_major, winapi_api_info_t *info);

/**
 * The host's protocol range: the oldest and newest version it speaks (major << 8 | minor;
 * a host that predates the API table: 1.0 to 1.0).
 * @return 0; -EINVAL; or winapi_api_list()'s errors.
 */
int winapi_protocol_versions(winapi_handle_t handle, unsigned int *oldest, unsigned int *newest);

/** A call of any API: what goes in, where the answer goes, and the buffers the host reaches. */
typedef struct winapi_api_call {
	uint16_t api;               /**< the API's id (winapi_api_lookup()) */
	uint16_t version_major;     /**< the major version of the API this caller was written for */
	const void *input;          /**< inline bytes to the host (copied when the call is made) */
	size_t input_length;        /**< at most the API's max_request */
	void *output;               /**< where the host's inline answer goes */
	size_t output_size;         /**< room there; the host sends at most min(this, max_reply) */
	winapi_buffer_t *buffers;   /**< whole buffers from winapi_alloc_buffer(), the host reaches in place */
	size_t buffer_count;        /**< at most the buffers the API takes (<= 8) */
} winapi_api_call_t;

/**
 * Call @p call->api on the host and wait for its answer; *@p output_length (may be NULL) gets
 * the inline bytes the host wrote to call->output. Nothing leaves the process unless the
 * host's table has the API at this major and the call is within its limits. A call is one
 * request: it is never split.
 * @return 0; -EINVAL (NULL, version_major 0, more buffers than the API takes, a buffer of
 *         another attachment); -EOPNOTSUPP (the host serves no API of this id);
 *         -EPROTONOSUPPORT (it serves another major of it); -EMSGSIZE (input over the API's
 *         max_request, or more page numbers than one packet carries); and winapi_echo()'s
 *         errors (-ETIMEDOUT, -ENOTCONN, the host's status as errno, ...).
 */
int winapi_call_api(winapi_handle_t handle, const winapi_api_call_t *call, size_t *output_length);

/**
 * Add a call of any API to the queue's next batch, checked as winapi_call_api() checks it
 * (its input is copied now; output and buffers must stay valid until reaped); the
 * completion's length is the inline bytes the host wrote to call->output.
 * @return 0; -EAGAIN (depth requests outstanding); and winapi_call_api()'s errors of the checks.
 */
int winapi_queue_call_api(winapi_queue_t queue, const winapi_api_call_t *call, void *user_data);

/* ---- Events from the host (1.1) ---- */

/** One event of a subscription. */
typedef struct winapi_event {
	uint64_t subscription; /**< as winapi_subscribe() returned it */
	uint64_t sequence;     /**< 1, 2, ... in the order the host posted them; lost ones leave gaps */
	uint64_t lost;         /**< events of this subscription the host lost so far, in total: it
				    keeps `depth` of them, and one more posted before they were asked
				    for is lost (counted here, never silently) */
	uint32_t length;       /**< bytes of data */
	uint8_t data[WINAPI_EVENT_MAX_DATA];
} winapi_event_t;

/**
 * Subscribe to @p api (an API flagged WINAPI_API_FLAG_EVENT_SOURCE in the host's table, at
 * major @p version_major), with the source's own @p params (winapi.tick: a u32 period in ms,
 * little-endian). The host keeps up to @p depth events (0: WINAPI_EVENT_DEFAULT_DEPTH; at most
 * WINAPI_EVENT_MAX_DEPTH) until they are received with winapi_queue_receive_events().
 * @return 0 with *@p subscription; -EINVAL (NULL, version_major 0, depth over the limit, not
 *         an event source); -EOPNOTSUPP (no such API, or a host that posts no events);
 *         -EPROTONOSUPPORT; -EMSGSIZE (params too long); -EBADMSG (the source refused the
 *         params); -EBUSY (the host holds as many subscriptions as it can); and winapi_echo()'s
 *         errors.
 */
int winapi_subscribe(winapi_handle_t handle, uint16_t api, uint16_t version_major, const void *params,
		     size_t params_length, unsigned int depth, uint64_t *subscription);

/**
 * End a subscription: receives still pending complete with -ECANCELED. Ending one that has
 * ended is not an error. @return 0; -EINVAL; winapi_echo()'s errors.
 */
int winapi_unsubscribe(winapi_handle_t handle, uint64_t subscription);

/**
 * Add a receive of up to @p max events of @p subscription into @p events (which must stay
 * valid until reaped) to the queue's next batch. It completes as soon as the host has events
 * (completion.length: how many it filled, >= 1), in the order the host posted them; several
 * receives may be in flight, and the oldest is filled first. A receive the host answers with
 * no event (it asks again before its deadline) is sent again by the library, unseen. It
 * completes with -ECANCELED once the subscription has ended.
 * @return 0; -EAGAIN (depth outstanding); -EINVAL (NULL, max 0); -ENOMEM.
 */
int winapi_queue_receive_events(winapi_queue_t queue, uint64_t subscription, winapi_event_t *events,
				unsigned int max, void *user_data);

/**
 * A descriptor that poll() or epoll reports readable when the queue may have completions, for
 * an application's own event loop (no thread of the library's): when it is readable, reap
 * with @p min 0 and @p timeout_ms 0 until nothing more comes; such a reap also takes what made
 * it readable. Owned by the queue (closed by winapi_queue_destroy()); the same on every call.
 * On VMBus transports the handle's channel then runs in interrupt mode: the host signals
 * each batch it starts, and waiting calls on the handle block at once instead of spinning.
 * @return the descriptor; -EINVAL; -EOPNOTSUPP (this transport has none); -ENOMEM; -EMFILE.
 */
int winapi_queue_event_fd(winapi_queue_t queue);

/* ---- Host APIs (<winapi/host_apis.h>): calls of host.time and host.info ---- */

/** The host's clocks (host.time), in host byte order. */
typedef struct winapi_host_time winapi_host_time_t;
/** What the host is (host.info): texts NUL-terminated UTF-8. */
typedef struct winapi_host_info winapi_host_info_t;

/**
 * Read the host's clocks (host.time 1.x): one call.
 * @return 0; -EINVAL (NULL); -EOPNOTSUPP (the host serves no host.time); -EPROTONOSUPPORT
 *         (another major of it); -EBADMSG (the answer failed winapi_host_time_decode()); and
 *         winapi_call_api()'s errors.
 */
int winapi_host_time(winapi_handle_t handle, winapi_host_time_t *time);

/**
 * Ask the host what it is (host.info 1.x). @return as winapi_host_time().
 */
int winapi_host_info(winapi_handle_t handle, winapi_host_info_t *info);

/** The host's clocks against this machine's, as winapi_clock_offset() estimates them. */
typedef struct winapi_clock_offset {
	int64_t realtime_offset_ns;  /**< host wall clock minus this machine's CLOCK_REALTIME */
	int64_t monotonic_offset_ns; /**< host monotonic clock minus this machine's CLOCK_MONOTONIC */
	uint64_t error_bound_ns;     /**< both offsets are right to within +/- this */
	uint64_t round_trip_ns;      /**< the round trip of the call they come from (the tightest) */
	unsigned int round_trips;    /**< calls made */
} winapi_clock_offset_t;

/**
 * Estimate the host's clocks against this machine's as NTP does: @p round_trips calls of
 * host.time (1..100000), each between two reads of this machine's clocks; the host read its
 * clocks somewhere between them, so the offset is the host's reading minus the midpoint, wrong
 * by at most half the round trip plus the host clock's resolution. The call with the tightest
 * round trip wins. With the polled VMBus path a round trip is about a microsecond, and so is
 * the bound; through a socket it is tens of microseconds.
 * @return 0; -EINVAL (NULL, round_trips out of range); -ERANGE (an offset does not fit 63
 *         bits); -EAGAIN (this machine's wall clock stepped back across every call); and
 *         winapi_host_time()'s errors.
 */
int winapi_clock_offset(winapi_handle_t handle, unsigned int round_trips, winapi_clock_offset_t *offset);

/* ---- Host APIs: files the host exports (host.file.*) ---- */

/** What a path names (host.file.stat): type, size, mtime_ns, flags (WINAPI_FILE_WRITABLE). */
typedef struct winapi_file_stat winapi_file_stat_t;
/** One entry of a directory (host.file.list): name, type, size, mtime_ns. */
typedef struct winapi_file_entry winapi_file_entry_t;

/*
 * The file calls name an export of the host (winapi-hostd --export NAME=DIR) and a path in it:
 * relative, '/' between components, "" for the export's directory, by the rules of
 * winapi_file_path_check() (<winapi/host_apis.h>), which the library applies before a request
 * leaves and every host applies again. Their errors: -EINVAL (NULL, a bad export name or path,
 * a length over the buffers); what the host's file system said, as errno (-ENOENT: no such
 * export or file; -EACCES: out of the export, a symbolic link that leads out, not a regular
 * file; -EROFS: a read-only export; -EISDIR, -ENOTDIR, -ENOSPC, ...); -EOPNOTSUPP (a host
 * without host.file.*); and winapi_call_api()'s errors.
 */

/** What @p path of @p export_name is. @return 0 or an error (above). */
int winapi_file_stat(winapi_handle_t handle, const char *export_name, const char *path, winapi_file_stat_t *stat);

/**
 * Up to @p max entries of the directory @p path, in byte order of their names, from the
 * @p first-th; *@p more (may be NULL) says whether entries follow. A reply holds what fits in
 * 3 KiB (about 60 entries): call again from first + count.
 * @return the number of entries filled (>= 0), or an error (above; -ENOTDIR).
 */
int winapi_file_list(winapi_handle_t handle, const char *export_name, const char *path, uint64_t first,
		     winapi_file_entry_t *entries, size_t max, bool *more);

/**
 * Read up to @p length bytes of the file from @p offset straight into @p buffers (from
 * winapi_alloc_buffer(), in order: on VMBus the host writes them in place, no copy), at most
 * 8 and at most their total size. *@p bytes gets the bytes read and *@p eof (may be NULL)
 * whether the file ended first.
 * @return 0 or an error (above; -EISDIR). A read past the end is 0 with *bytes 0 and *eof.
 */
int winapi_file_read(winapi_handle_t handle, const char *export_name, const char *path, uint64_t offset,
		     uint64_t length, winapi_buffer_t *buffers, size_t count, uint64_t *bytes, bool *eof);

/**
 * Write @p length bytes from @p buffers (in order, at most their total) into the file at
 * @p offset; @p flags: WINAPI_FILE_CREATE (make it if missing), WINAPI_FILE_TRUNCATE (cut it
 * after the write). *@p bytes gets the bytes written.
 * @return 0 or an error (above; -EROFS, -ENOSPC, -EFBIG).
 */
int winapi_file_write(winapi_handle_t handle, const char *export_name, const char *path, uint64_t offset,
		      uint64_t length, unsigned int flags, winapi_buffer_t *buffers, size_t count, uint64_t *bytes);

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
