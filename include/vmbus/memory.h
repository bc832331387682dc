/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Guest memory the host can reach without a copy (shared/DESIGN.md section 4), and the wire
 * forms that name it:
 *
 *  - GPADL regions: buffers the kernel shared with the host when it bound the device (uio
 *    maps 3 and 4, `recv:<gpadl>` and `send:<gpadl>`; network devices only since 6.14). A
 *    buffer inside one is named by the region's GPADL handle, an offset and a length.
 *  - DMA memory: pinned memory whose guest page numbers are known, sent as GPA-direct page
 *    ranges (packet type 9). On a real guest it is locked memory translated through
 *    /proc/self/pagemap; in the emulator a shared "guest RAM" whose page number is the page
 *    index.
 *
 * Page numbers are always in 4 KiB Hyper-V pages, whatever the system page size.
 *
 * Synchronisation: every call here may run concurrently with any other, on any thread.
 *
 * Owner: lib/vmbus
 */
#ifndef VMBUS_MEMORY_H
#define VMBUS_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/channel.h>

/** Hyper-V's page: what PFNs in GPA ranges count. */
#define VMBUS_PAGE_SIZE 4096u

/** Which GPADL region (uio map 3 or 4). */
enum vmbus_gpadl_region_index {
	VMBUS_GPADL_RECEIVE = 0, /**< map 3, `recv:<gpadl>` (31 MiB) */
	VMBUS_GPADL_SEND = 1,    /**< map 4, `send:<gpadl>` (16 MiB) */
};

struct vmbus_gpadl_region {
	void *address;  /**< where it is mapped in this process */
	size_t size;
	uint32_t gpadl; /**< the handle the host knows it by */
};

/**
 * A GPADL region of @p device.
 * @return 0; -ENOENT when the backend has none (non-network devices on 6.14+, emulator
 *         profile "mainline"); -EINVAL.
 */
int vmbus_device_gpadl_region(const struct vmbus_device *device, enum vmbus_gpadl_region_index index,
			      struct vmbus_gpadl_region *region);

/**
 * Allocate @p size bytes (rounded up to whole pages) whose page numbers the host understands,
 * page-aligned, zeroed.
 * @return 0; -EOPNOTSUPP (the backend cannot: e.g. uio without permission to read page
 *         numbers, see the backend's notes); -ENOMEM; -EINVAL.
 */
int vmbus_device_dma_alloc(struct vmbus_device *device, size_t size, void **address);

/** Free what vmbus_device_dma_alloc() returned, with the same size. */
void vmbus_device_dma_free(struct vmbus_device *device, void *address, size_t size);

/**
 * The Hyper-V page numbers of [@p address, @p address + @p size) in DMA memory, one per
 * 4 KiB page touched, into @p pfns.
 * @return the number of page numbers written; -EINVAL (not DMA memory of this device);
 *         -ENOBUFS (@p max too small).
 */
int vmbus_device_dma_pfns(struct vmbus_device *device, const void *address, size_t size, uint64_t *pfns,
			  size_t max);

/**
 * A file descriptor and offset that map [@p address, @p address + @p size) of DMA memory, for
 * handing that memory to another process (winapi-pmd gives each client a slice of its DMA
 * memory this way: the host reaches it by the daemon's page numbers, the client writes it in
 * place). The descriptor belongs to the device: dup() it to keep it, never close it.
 * The other process maps it MAP_SHARED at @p offset (a multiple of the system page size when
 * @p address is page-aligned).
 * @return 0; -EINVAL (not DMA memory of this device); -EOPNOTSUPP (the backend's DMA memory is
 *         not a shareable file).
 */
int vmbus_device_dma_share(struct vmbus_device *device, const void *address, size_t size, int *fd,
			   uint64_t *offset);

/* ---- GPA-direct page ranges (struct vmdata_gpa_direct, vmbus-spec.md 3.3) ---- */

/** One range as the sender describes it. */
struct vmbus_gpa_range_desc {
	uint32_t byte_count;   /**< > 0 */
	uint32_t byte_offset;  /**< into the first page, < 4096 */
	const uint64_t *pfns;  /**< ceil((byte_offset + byte_count) / 4096) page numbers */
};

/** Page numbers a range needs. */
static inline uint64_t vmbus_gpa_range_pages(uint32_t byte_offset, uint32_t byte_count)
{
	return ((uint64_t)byte_offset + byte_count + VMBUS_PAGE_SIZE - 1) / VMBUS_PAGE_SIZE;
}

/**
 * Bytes the type-specific header of a GPA-direct packet takes for these ranges: u32 reserved,
 * u32 range count, then per range u32 byte_count, u32 byte_offset, u64 pfn[]. A multiple of 8.
 */
size_t vmbus_gpa_header_size(const struct vmbus_gpa_range_desc *ranges, unsigned int count);

/**
 * Write that header into @p out (little-endian), for vmbus_ring_packet.header_extension.
 * @return bytes written; -EINVAL (a range with no bytes, an offset >= 4096, no ranges);
 *         -ENOBUFS.
 */
int vmbus_gpa_header_encode(const struct vmbus_gpa_range_desc *ranges, unsigned int count, void *out,
			    size_t out_size);

/** A received GPA-direct header, validated; points into the caller's copy of the packet. */
struct vmbus_gpa_header {
	uint32_t range_count;
	const uint8_t *ranges; /**< first range; walk with vmbus_gpa_header_range() */
	size_t size;           /**< bytes of ranges */
};

/** One range of a received header, host byte order. */
struct vmbus_gpa_range {
	uint32_t byte_count;
	uint32_t byte_offset;
	uint64_t page_count;
	const uint8_t *pfns;   /**< page_count little-endian u64s (maybe unaligned): read with
				    vmbus_gpa_range_pfn() */
};

/**
 * Validate the type-specific header of a received GPA-direct packet: @p header is the packet
 * from byte 16 to offset8 * 8. Every range must fit, have bytes, an offset below 4096 and
 * exactly the page numbers its size needs; nothing may be left over.
 * @return 0; -EBADMSG.
 */
int vmbus_gpa_header_decode(const void *header, size_t size, struct vmbus_gpa_header *decoded);

/** Range @p index (< range_count) of a decoded header. @return 0 or -EINVAL. */
int vmbus_gpa_header_range(const struct vmbus_gpa_header *decoded, uint32_t index, struct vmbus_gpa_range *range);

/** Page number @p page (< page_count) of a range. */
uint64_t vmbus_gpa_range_pfn(const struct vmbus_gpa_range *range, uint64_t page);

/* ---- carving a region into buffers ---- */

/**
 * A first-fit allocator of page runs inside one region (a GPADL region, the emulator's guest
 * RAM). It hands out offsets; the caller owns the memory. Thread-safe.
 */
struct vmbus_page_allocator;

/** @p pages pages, page_size bytes each. @return 0; -ENOMEM; -EINVAL. */
int vmbus_page_allocator_create(size_t pages, size_t page_size, struct vmbus_page_allocator **allocator);

void vmbus_page_allocator_destroy(struct vmbus_page_allocator *allocator);

/** Reserve @p size bytes (whole pages). @return 0 and the byte offset; -ENOMEM when no run fits. */
int vmbus_page_allocator_alloc(struct vmbus_page_allocator *allocator, size_t size, size_t *offset);

/** Release a run given by vmbus_page_allocator_alloc(). @return 0; -EINVAL (not allocated). */
int vmbus_page_allocator_free(struct vmbus_page_allocator *allocator, size_t offset, size_t size);

/* ---- the monitor page (struct vmbus_mon_page, vmbus-spec.md 3.5) ---- */

/** Guest: set channel @p monitor_id's trigger bit (atomic OR), the monitored-channel signal. */
void vmbus_monitor_trigger(void *monitor_page, uint32_t monitor_id);

/** Host: take (test and clear) channel @p monitor_id's trigger bit. */
bool vmbus_monitor_take(void *monitor_page, uint32_t monitor_id);

#endif /* VMBUS_MEMORY_H */
