/* SPDX-License-Identifier: BSD-3-Clause */
/* liblowlat internals: the handle, and the attachment its buffers share. */
#ifndef LIB_LOWLAT_PRIVATE_H
#define LIB_LOWLAT_PRIVATE_H

#include <stdint.h>

#include <vmbus/channel.h>
#include <vmbus/memory.h>
#include <winapi/lowlat.h>
#include <winapi_internal/transport.h>

/*
 * A device attached by winapi_init(), with the allocators carving its GPADL regions. The
 * handle holds one reference and every buffer one more: the memory stays mapped until the
 * last of them is gone.
 */
struct lowlat_attachment {
	int references;                            /* __atomic */
	struct vmbus_device *device;               /* NULL: a transport that carries buffers' bytes */
	struct vmbus_gpadl_region regions[2];      /* size 0 where the device has none */
	struct vmbus_page_allocator *pools[2];
};

struct winapi_handle {
	struct lowlat_attachment *attachment;
	const struct winapi_transport_ops *ops;
	void *transport;
};

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
