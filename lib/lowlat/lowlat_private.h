/* SPDX-License-Identifier: BSD-3-Clause */
/* liblowlat internals: the handle, and the attachment its buffers share. */
#ifndef LIB_LOWLAT_PRIVATE_H
#define LIB_LOWLAT_PRIVATE_H

#include <stdint.h>

#include <vmbus/channel.h>
#include <vmbus/memory.h>
#include <winapi/lowlat.h>
#include <pthread.h>
#include <stdbool.h>

#include <winapi/protocol.h>
#include <winapi_internal/api_table.h>
#include <winapi_internal/transport.h>

/* Buffers a late request named (see lowlat_hold_ops): the host may still write them. */
struct lowlat_held {
	struct lowlat_held *next;
	uint64_t id;                               /* the request's */
	unsigned int count;
	struct winapi_call_buffer buffers[WINAPI_MAX_BUFFERS];
};

/* A buffer freed while held: its memory stays allocated (and the attachment referenced). */
struct lowlat_deferred {
	struct lowlat_deferred *next;
	winapi_buffer_t buffer;
};

/*
 * A device attached by winapi_init(), with the allocators carving its GPADL regions. The
 * handle holds one reference and every buffer one more (a freed buffer still held too): the
 * memory stays mapped until the last of them is gone.
 */
struct lowlat_attachment {
	int references;                            /* __atomic */
	struct vmbus_device *device;               /* NULL: a transport that carries buffers' bytes */
	struct vmbus_gpadl_region regions[2];      /* size 0 where the device has none */
	struct vmbus_page_allocator *pools[2];
	/* Zeroed at creation, which is the initial state of a glibc mutex: none to init here. */
	pthread_mutex_t hold_lock;
	struct lowlat_held *held;                  /* hold_lock */
	struct lowlat_deferred *deferred;          /* hold_lock */
	bool hold_all;                             /* hold_lock: a late request went untracked */
};

/*
 * Told by the transport about requests that ended before the host answered them (timed out,
 * or their queue went): their buffers are held, and freeing one defers its release until
 * the late answers come, or the transport closes (then the memory stays until the device
 * goes, with the attachment). The owner is the attachment.
 */
extern const struct winapi_call_hold_ops lowlat_hold_ops;

struct winapi_handle {
	struct lowlat_attachment *attachment;
	const struct winapi_transport_ops *ops;
	void *transport;
	/* The host's API table, asked for once (apis_lock); apis_known is read without it. */
	pthread_mutex_t apis_lock;
	bool apis_known;            /* __atomic */
	struct winapi_api_table apis;
};

/* The host's table, asked for at the first need. @return 0 or the fetch's error. */
int lowlat_api_table(winapi_handle_t handle, const struct winapi_api_table **table);

/*
 * What a call of @api_id at @version_major is checked against: the host's entry, or for a
 * seed API before the table was asked for, the seed's (no round trip for the seed calls).
 * @return 0; -EOPNOTSUPP; -EPROTONOSUPPORT; or lowlat_api_table()'s error.
 */
int lowlat_api_entry(winapi_handle_t handle, uint16_t api_id, unsigned int version_major,
		     const struct winapi_api_entry **entry);

/*
 * Check @request against @entry and turn it into the transport's @call (buffers into
 * @call_buffers): -EINVAL, -EMSGSIZE as winapi_call_api() says.
 */
int lowlat_api_prepare(winapi_handle_t handle, const struct winapi_api_entry *entry,
		       const winapi_api_call_t *request, struct winapi_call *call,
		       struct winapi_call_buffer *call_buffers);

/* A seed API's call (version 1), made through the same checks and stamp as any other. */
int lowlat_seed_call(winapi_handle_t handle, struct winapi_call *call);

/*
 * Stamp @call with what @entry says of its API (version, name, buffer access) and, where the
 * host reaches buffers in place, who holds them if the call ends unanswered.
 */
void lowlat_api_stamp(winapi_handle_t handle, const struct winapi_api_entry *entry, struct winapi_call *call);

void lowlat_attachment_get(struct lowlat_attachment *attachment);
void lowlat_attachment_put(struct lowlat_attachment *attachment);

/* The attachment buffers come from: the newest open handle's, with a reference; or NULL. */
struct lowlat_attachment *lowlat_current_attachment(void);

/* How the driver names @buffer, after checking it belongs to @handle's attachment. */
int lowlat_call_buffer(winapi_handle_t handle, const winapi_buffer_t *buffer, uint64_t offset,
		       uint64_t length, struct winapi_call_buffer *call_buffer);

/* One request of a call split to fit packets: up to 8 pieces of the caller's buffers. */
struct lowlat_piece {
	size_t buffer;
	uint64_t offset;
	uint64_t length;
};

/*
 * From (*buffer, *offset) on, take the pieces one request carries: at most 8, and no more
 * GPA-direct page numbers than the channel's packet holds with @inline_length bytes inline.
 * Returns how many (0: not even one page fits), and advances the position.
 */
unsigned int lowlat_next_request(winapi_handle_t handle, const winapi_buffer_t *buffers, size_t count,
				 size_t *buffer, uint64_t *offset, uint32_t inline_length,
				 struct lowlat_piece *pieces);

/* The driver's names of @pieces, and their total bytes. */
int lowlat_pieces_to_call(winapi_handle_t handle, const winapi_buffer_t *buffers,
			  const struct lowlat_piece *pieces, unsigned int taken,
			  struct winapi_call_buffer *call_buffers, uint64_t *bytes);

#endif /* LIB_LOWLAT_PRIVATE_H */
