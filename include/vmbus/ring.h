/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * One direction of a VMBus channel: a Hyper-V ring buffer, byte-compatible with the kernel
 * (drivers/hv/ring_buffer.c) and the host (openvmm vmbus_ring). shared/research/vmbus-spec.md
 * sections 2-3 are the reference for every offset and rule here.
 *
 * Layout of one ring (one half of uio map 0, or one subchannel `ring` half):
 *
 *     +0                     header page (struct vmbus_ring_header, padded to header_size)
 *     +header_size           data area, data_size = ring_size - header_size bytes
 *
 * header_size is the *system* page size (4 KiB on x86, 64 KiB on 64K-page arm64); the host
 * sees only the first 4 KiB of it. Ring sizes always come from the backend (sysfs, the
 * emulator's offer); nothing here assumes 4 KiB pages or 2 MiB rings.
 *
 * A struct vmbus_ring is used by exactly one side in exactly one role: as the producer
 * (vmbus_ring_write*) or as the consumer (vmbus_ring_read*, vmbus_ring_peek). The peer on
 * the other side of the shared memory is untrusted: every index and length read from the
 * shared header or the data area is validated before it is used, and packets are copied out
 * before they are parsed, so a peer that rewrites memory under us cannot cause an
 * out-of-bounds access.
 *
 * Errors (negative errno):
 *   -EAGAIN   ring full (write) or empty (read, peek); nothing changed.
 *   -EIO      the peer corrupted the ring: an index beyond the data area or not a multiple of
 *             8, a descriptor whose offset8/len8 is impossible or exceeds the bytes available.
 *   -ENOBUFS  the caller's buffer is smaller than the packet; nothing consumed.
 *   -EMSGSIZE the packet can never fit this ring or its len8 field.
 *   -EINVAL   bad arguments from the caller.
 *
 * Synchronisation table (one producer and one consumer per ring, possibly in two processes or
 * on two sides of a hypervisor):
 *
 *   call                              | may run concurrently with
 *   ----------------------------------+-------------------------------------------------
 *   producer calls (write, write_begin| any consumer call on the same ring (by design);
 *     and _end, publish,              | never with another producer call on the same ring
 *     set_pending_send_size)          |
 *   consumer calls (peek, read,       | any producer call on the same ring;
 *     read_publish, set_interrupt_mask)| never with another consumer call on the same ring
 *   bytes_free, max_packet_size       | what a producer call may (it reads the producer's cursor)
 *   bytes_available, is_empty         | what a consumer call may (it reads the consumer's cursor)
 *
 * Owner: lib/vmbus
 */
#ifndef VMBUS_RING_H
#define VMBUS_RING_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <vmbus/packet.h>

/** The first 4 KiB of a ring: struct hv_ring_buffer up to feature_bits. */
struct vmbus_ring_header {
	uint32_t write_index;       /**< @0  next byte the producer writes (producer-owned) */
	uint32_t read_index;        /**< @4  next byte the consumer reads (consumer-owned) */
	uint32_t interrupt_mask;    /**< @8  consumer: 1 = do not signal me on empty -> non-empty */
	uint32_t pending_send_size; /**< @12 producer, when blocked: signal me when free > this */
	uint32_t reserved1[12];     /**< @16 */
	uint32_t feature_bits;      /**< @64 VMBUS_RING_FEATURE_* */
};

static_assert(offsetof(struct vmbus_ring_header, write_index) == 0, "write_index @0");
static_assert(offsetof(struct vmbus_ring_header, read_index) == 4, "read_index @4");
static_assert(offsetof(struct vmbus_ring_header, interrupt_mask) == 8, "interrupt_mask @8");
static_assert(offsetof(struct vmbus_ring_header, pending_send_size) == 12, "pending_send_size @12");
static_assert(offsetof(struct vmbus_ring_header, feature_bits) == 64, "feature_bits @64");

/** feature_bits bit 0: the consumer honours pending_send_size (feat_pending_send_sz). */
#define VMBUS_RING_FEATURE_PENDING_SEND_SIZE 0x1u

/** Part of the header page the host sees, and the smallest header page there is. */
#define VMBUS_RING_HEADER_MIN_SIZE 4096u

/**
 * A ring as seen from one side. Fields are private to lib/vmbus; the struct is public only so
 * that callers can embed it (the channel layer, tests).
 */
struct vmbus_ring {
	struct vmbus_ring_header *header; /**< shared: the peer writes here too */
	uint8_t *data;                    /**< shared data area */
	uint32_t data_size;               /**< bytes in the data area; multiple of 8 */
	/*
	 * Private cursors. Our own index is never re-read from shared memory: the peer could
	 * have changed it. Producer: write_cursor runs ahead of published_write during a batch.
	 * Consumer: read_cursor runs ahead of published_read until vmbus_ring_read_publish().
	 */
	uint32_t write_cursor;
	uint32_t published_write;
	uint32_t read_cursor;
	uint32_t published_read;
	/*
	 * Producer: the consumer's read_index as last read and validated. The consumer only moves
	 * it forward, so the free space it gives is never more than the truth; it is re-read only
	 * when that is not enough (DPDK's rte_ring caches the consumer's tail the same way), which
	 * keeps a read of the shared header line out of every write.
	 */
	uint32_t peer_read_index;
	/* Producer, between vmbus_ring_write_begin() and _end(): the packet being built. */
	uint32_t building_payload_offset; /* where its payload starts in the data area */
	uint32_t building_payload_size;
	uint32_t building_packet_size;    /* descriptor + header + payload + padding */
	uint32_t building_free_bytes;     /* free space before it, for the prefetch after it */
};

/** Description of one packet to write. */
struct vmbus_ring_packet {
	uint16_t type;            /**< enum vmbus_packet_type */
	uint16_t flags;           /**< VMBUS_PACKET_FLAG_* */
	uint64_t trans_id;
	const void *header_extension;   /**< type-specific header after the descriptor, or NULL */
	uint32_t header_extension_size; /**< bytes; multiple of 8 (it is counted in offset8) */
	const struct iovec *payload;    /**< gathered into the packet after the header */
	unsigned int payload_count;
};

/** What the consumer learnt about a packet; every field has been validated. */
struct vmbus_ring_packet_info {
	uint16_t type;
	uint16_t flags;
	uint64_t trans_id;
	uint32_t header_size;  /**< offset8 * 8: where the payload starts within the packet */
	uint32_t packet_size;  /**< len8 * 8: descriptor + header + payload + padding */
};

/**
 * Attach to a ring at @p base. Loads the current shared indices (validated) as the starting
 * cursors, so both sides may attach in any order after the header was initialised.
 *
 * @param ring_size   bytes of this ring including its header page (from the backend)
 * @param header_size system page size: the data area starts this far after @p base
 * @return 0; -EINVAL if the sizes are impossible (header_size below 4096 or not a power of
 *         two, data area empty, not a multiple of 8 or >= 4 GiB); -EIO if a shared index is
 *         invalid.
 */
int vmbus_ring_attach(struct vmbus_ring *ring, void *base, size_t ring_size, size_t header_size);

/**
 * What the kernel does when it opens a channel (hv_ringbuffer_init): zero the header page,
 * indices 0, feature bit pending_send_size set. For the side that owns ring setup (the
 * emulator); never called on a ring a peer is using.
 */
void vmbus_ring_header_init(void *base, size_t header_size);

/**
 * Copy one packet into the ring at the private write cursor. Not visible to the consumer
 * until vmbus_ring_write_publish().
 *
 * Full rule (the "one-byte gap"): the write is refused when free <= packet + trailer, so the
 * ring never becomes completely full and write_index == read_index always means empty.
 *
 * @return 0; -EAGAIN when full; -EMSGSIZE if the packet can never fit (len8 overflow or larger
 *         than vmbus_ring_max_packet_size(): data_size - 16, as packet + trailer must stay
 *         below the free space of an empty ring); -EINVAL on bad arguments; -EIO if the
 *         peer's read_index is invalid.
 */
int vmbus_ring_write(struct vmbus_ring *ring, const struct vmbus_ring_packet *packet);

/**
 * Write a packet whose payload the caller builds in place, with no copy of it: begin checks
 * for room as vmbus_ring_write() does (the same full rule and errors), writes the descriptor
 * and the header extension of @p packet (whose payload_count must be 0), and sets *@p payload
 * to where the @p payload_size bytes go: into the ring when they lie before the end of its
 * data area, else @p bounce (@p payload_size bytes of the caller's), which
 * vmbus_ring_write_end() copies in, split at the end. The caller fills them, then calls end
 * with the same pointer; only end moves the write cursor, so a begin that is not followed by
 * end (the payload could not be built) leaves the ring as it was. Nothing is visible to the
 * consumer until vmbus_ring_write_publish(). Every byte in place is written by the caller
 * (and never read back by the ring): it is the peer's to read once published.
 *
 * @return 0; -EAGAIN when full; -EMSGSIZE; -EINVAL (bad arguments, a payload_count); -EIO.
 */
int vmbus_ring_write_begin(struct vmbus_ring *ring, const struct vmbus_ring_packet *packet, uint32_t payload_size,
			   void *bounce, void **payload);

/** Finish the packet vmbus_ring_write_begin() began; @p payload: the pointer begin gave. */
void vmbus_ring_write_end(struct vmbus_ring *ring, const void *payload);

/**
 * Publish everything written since the last publication with one store-release of
 * write_index, then make the writer's signal decision for the whole batch: signal iff the
 * consumer's interrupt_mask is clear and the ring was empty before the batch (old
 * write_index == read_index).
 *
 * @param need_signal set to whether the consumer must be signalled; false if nothing was
 *                    pending.
 */
void vmbus_ring_write_publish(struct vmbus_ring *ring, bool *need_signal);

/**
 * Producer about to block: ask the consumer to signal when more than @p bytes are free
 * (0 clears the request). Followed by a full barrier, so a caller that re-checks the free
 * space afterwards cannot miss the consumer's signal.
 */
void vmbus_ring_set_pending_send_size(struct vmbus_ring *ring, uint32_t bytes);

/**
 * Validate and describe the next packet without consuming it.
 * @return 0; -EAGAIN if empty; -EIO if the ring or the descriptor is corrupt.
 */
int vmbus_ring_peek(struct vmbus_ring *ring, struct vmbus_ring_packet_info *info);

/**
 * Copy the next whole packet (descriptor included, info->packet_size bytes) into @p buffer
 * and advance the private read cursor. The descriptor in @p buffer is the validated copy.
 * Not released to the producer until vmbus_ring_read_publish().
 *
 * @return 0; -EAGAIN if empty; -ENOBUFS if @p buffer_size < info->packet_size (info filled,
 *         nothing consumed); -EIO if the ring or the descriptor is corrupt.
 */
int vmbus_ring_read(struct vmbus_ring *ring, void *buffer, size_t buffer_size,
		    struct vmbus_ring_packet_info *info);

/**
 * Skip the next packet without copying it (after vmbus_ring_peek(), for packets the caller
 * rejects). @return as vmbus_ring_peek().
 */
int vmbus_ring_skip(struct vmbus_ring *ring);

/**
 * Release everything read since the last publication with one store of read_index, then
 * make the reader's pending_send_size decision: if the producer advertised the feature and
 * asked for pending_send_size bytes, signal iff it was blocked before this batch
 * (free - bytes_read <= pending) and is not any more (free > pending). The consumer's own
 * interrupt_mask plays no part.
 *
 * @param need_signal set to whether the producer must be signalled.
 */
void vmbus_ring_read_publish(struct vmbus_ring *ring, bool *need_signal);

/**
 * Consumer: set or clear our interrupt_mask (1 = producer need not signal us). Followed by a
 * full barrier: after unmasking, re-check vmbus_ring_is_empty() before sleeping, or a packet
 * that arrived in between is never signalled.
 */
void vmbus_ring_set_interrupt_mask(struct vmbus_ring *ring, bool masked);

/** Consumer: no unread packet (load-acquire of the producer's write_index). */
bool vmbus_ring_is_empty(const struct vmbus_ring *ring);

/**
 * Producer view: bytes free now, counting unpublished writes. Never 0 on a valid ring (the
 * 8-byte gap stays free), so 0 means the peer's read_index is corrupt.
 */
uint32_t vmbus_ring_bytes_free(const struct vmbus_ring *ring);

/** Consumer view: bytes not yet read; 0 if write_index is corrupt. */
uint32_t vmbus_ring_bytes_available(const struct vmbus_ring *ring);

/** Largest packet (len8 * 8, without the trailer) this ring can ever accept. */
uint32_t vmbus_ring_max_packet_size(const struct vmbus_ring *ring);

#endif /* VMBUS_RING_H */
