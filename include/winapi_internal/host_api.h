/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Writing a host API (drivers/host): one descriptor and one handler, registered once, and
 * every host of this process serves it — the emulator's VMBus host, the socket service
 * (winapi-hostd, Linux and Windows), the QEMU device's answerer — and lists it in its answer
 * to WINAPI_API_LIST, which is how guests find it (<winapi/lowlat.h>: winapi_api_lookup()).
 * Nothing in the guest's libraries changes for a new API.
 *
 * @code
 * static void add_handler(struct winapi_host_context *host, const struct winapi_host_request *request,
 *                         struct winapi_host_reply *reply)
 * {
 *         ... read request->message->inline_data, write winapi_host_reply_space(host) ...
 * }
 * static const struct winapi_host_api add_api = {
 *         .entry = { .name = "example.add", .api_id = 100, .version = 0x100,
 *                    .max_request = 16, .max_reply = 8 },
 *         .handler = add_handler,
 * };
 * winapi_host_api_register(&add_api);
 * @endcode
 *
 * Before a handler runs, the host has checked the request against the descriptor: the
 * request's api_version (when stated) has the API's major (else UNSUPPORTED_VERSION), its
 * inline bytes are at most max_request and its buffers at most those buffer_access lists
 * (else BAD_MESSAGE). Everything else in the request is the handler's to check: it is
 * untrusted. A reply longer than max_reply or than the request's reply_capacity is not sent
 * (INTERNAL, REPLY_TOO_LARGE).
 *
 * Synchronisation: winapi_host_api_register() may run concurrently with anything (hosts
 * serving, lookups); an API once registered stays for the life of the process. A handler
 * runs on the thread of the host that received the request, possibly on several hosts'
 * threads at once, each with its own context.
 *
 * Owner: drivers/host
 */
#ifndef WINAPI_INTERNAL_HOST_API_H
#define WINAPI_INTERNAL_HOST_API_H

#include <stddef.h>
#include <stdint.h>

#include <winapi/protocol.h>

struct vmbus_gpa_header;

/** What a handler answers; data must stay valid until the completion is written. */
struct winapi_host_reply {
	uint32_t status;  /**< enum winapi_status */
	const void *data; /**< inline reply bytes (winapi_host_reply_space(), or the request's) */
	uint32_t length;
};

/** The host a handler runs on: its view of guest memory and room for a reply. Opaque. */
struct winapi_host_context;

/** A request as handlers see it: the decoded message and, for GPA-direct packets, its ranges. */
struct winapi_host_request {
	const struct winapi_message *message;
	const struct vmbus_gpa_header *gpa; /**< NULL for DATA_INBAND */
};

typedef void winapi_host_handler(struct winapi_host_context *host, const struct winapi_host_request *request,
				 struct winapi_host_reply *reply);

/** Where an event source posts the events of one subscription. Opaque. */
struct winapi_host_events;

/**
 * An event source: what an API flagged WINAPI_API_FLAG_EVENT_SOURCE adds to its descriptor.
 * Its calls run on the thread of the host that holds the subscription, one subscription per
 * state; the host keeps the events, counts the lost ones and answers the guest's waits.
 */
struct winapi_host_event_source {
	/** A guest subscribes with @p params (untrusted): a status (OK, BAD_MESSAGE, BUSY), and
	 *  on OK the subscription's *@p state. */
	uint32_t (*subscribe)(const void *params, uint32_t length, void **state);
	/** Post what is due at @p now_ns (CLOCK_MONOTONIC) with winapi_host_event_post(); return
	 *  when to be called next (ns; UINT64_MAX: not until the host polls again anyway). */
	uint64_t (*poll)(void *state, uint64_t now_ns, struct winapi_host_events *events);
	/** The subscription ended (unsubscribed, or the guest left). */
	void (*unsubscribe)(void *state);
};

/**
 * Post one event of at most WINAPI_EVENT_MAX_DATA bytes (longer ones are cut there): kept
 * for the guest, or counted lost when the subscription already holds its depth of events.
 */
void winapi_host_event_post(struct winapi_host_events *events, const void *data, uint32_t length);

/** One API: what the host's table lists for it, and its handler (or its event source). */
struct winapi_host_api {
	struct winapi_api_entry entry; /**< must pass winapi_api_entry_check() */
	winapi_host_handler *handler;  /**< NULL only for an event source: plain calls are refused */
	/** Set exactly when entry.flags has WINAPI_API_FLAG_EVENT_SOURCE. */
	const struct winapi_host_event_source *events;
};

/**
 * The first event source, "winapi.tick" 1.0: parameters a u32 period in ms (1..60000); every
 * period it posts an event of 8 bytes, the host's CLOCK_MONOTONIC time in ns. Registered by
 * the hosts that can post events (winapi-host-sim, winapi-hostd); a host that only answers
 * requests (the QEMU device) does not list it.
 */
extern const struct winapi_host_api winapi_host_tick_api;

/**
 * "host.time" 1.0 and "host.info" 1.0 (<winapi/host_apis.h>): this machine's clocks and what
 * it is, read with POSIX calls in the Linux build and Win32 calls in the Windows build.
 */
extern const struct winapi_host_api winapi_host_time_api;
extern const struct winapi_host_api winapi_host_info_api;

/** host.file.stat, .list, .read and .write 1.0 (<winapi/host_apis.h>), over the exports below. */
extern const struct winapi_host_api winapi_host_file_apis[4];

/**
 * Export a directory to host.file.* as @p spec says: "NAME=DIR", "NAME=DIR:ro" (read-only, the
 * default) or "NAME=DIR:rw". DIR is opened now and held; what it holds is reached only beneath
 * it. Call before serving (programs: --export); exports are never removed. An error is logged.
 * @return 0; -EINVAL (no '=', a name that breaks winapi_file_export_name_check(), no DIR);
 *         -EEXIST (the name is taken); -ENOSPC (16 exports already); or opening DIR's error
 *         (-ENOENT, -ENOTDIR, -EACCES, ...).
 */
int winapi_host_file_export(const char *spec);

/**
 * Register what every host that runs as a program serves besides the seeds: winapi.tick,
 * host.time, host.info and host.file.* (winapi-host-sim, winapi-hostd on Linux and Windows,
 * winapi-pmd's inline host). Registering them again is not an error.
 * @return 0, or winapi_host_api_register()'s error (-EEXIST: another API has one's id or name).
 */
int winapi_host_register_apis(void);

/** APIs one process may register, the seeds' included. */
#define WINAPI_HOST_MAX_APIS 256u

/**
 * Add @p api (not copied: it must stay valid) to the process's table.
 * @return 0; -EINVAL (a descriptor that fails the checks, or no handler); -EEXIST (its id or
 *         name is taken); -ENOSPC (WINAPI_HOST_MAX_APIS registered).
 */
int winapi_host_api_register(const struct winapi_host_api *api);

/** The API with id @p api_id, or NULL. */
const struct winapi_host_api *winapi_host_api_find(uint16_t api_id);

/** The API named @p name, or NULL. */
const struct winapi_host_api *winapi_host_api_find_name(const char *name);

/** APIs registered now; entry @p index (0..count-1) of the table, in registration order. */
unsigned int winapi_host_api_count(void);
const struct winapi_host_api *winapi_host_api_at(unsigned int index);

/** Room for a handler's reply payload (WINAPI_MAX_INLINE_DATA bytes), valid until the completion is written. */
uint8_t *winapi_host_reply_space(struct winapi_host_context *host);

/** Called with each host-addressable span of a buffer, in order; nonzero stops the walk. */
typedef int winapi_host_span_visitor(uint8_t *span, size_t length, uint64_t position, void *context);

/**
 * Walk buffer @p index of @p request span by span (@p position: bytes of the buffer before
 * the span). @return 0, the visitor's nonzero value, or -EFAULT as soon as a byte lies outside
 * what the guest shared: a GPADL it does not have, a range the packet does not carry, a page
 * number past its memory. Pass a NULL visitor to check without touching anything.
 */
int winapi_host_buffer_walk(struct winapi_host_context *host, const struct winapi_host_request *request,
			    unsigned int index, winapi_host_span_visitor *visit, void *context);

/** Check every buffer of @p request before any is touched: 0 or -EFAULT. */
int winapi_host_buffers_check(struct winapi_host_context *host, const struct winapi_host_request *request);

#endif /* WINAPI_INTERNAL_HOST_API_H */
