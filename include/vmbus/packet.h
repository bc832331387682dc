/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * VMBus packet framing as it appears inside a ring's data area.
 *
 * Source: Linux include/linux/hyperv.h (struct vmpacket_descriptor, enum vmbus_packet_type),
 * summarised in shared/research/vmbus-spec.md section 3. Every field is little-endian.
 * A packet is: descriptor (16 bytes), type-specific header (offset8 * 8 - 16 bytes), payload,
 * padding to 8 bytes, then an 8-byte trailer that is not counted in len8.
 *
 * Owner: lib/vmbus
 */
#ifndef VMBUS_PACKET_H
#define VMBUS_PACKET_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/** Packet types (enum vmbus_packet_type). Only 6, 7, 9 and 0xb travel on rings in practice. */
enum vmbus_packet_type {
	VMBUS_PACKET_INVALID = 0x0,
	VMBUS_PACKET_SYNCH = 0x1,
	VMBUS_PACKET_ADD_TRANSFER_PAGESET = 0x2,
	VMBUS_PACKET_REMOVE_TRANSFER_PAGESET = 0x3,
	VMBUS_PACKET_ESTABLISH_GPADL = 0x4,
	VMBUS_PACKET_TEARDOWN_GPADL = 0x5,
	VMBUS_PACKET_DATA_INBAND = 0x6,
	VMBUS_PACKET_DATA_USING_TRANSFER_PAGES = 0x7,
	VMBUS_PACKET_DATA_USING_GPADL = 0x8,
	VMBUS_PACKET_DATA_USING_GPA_DIRECT = 0x9,
	VMBUS_PACKET_CANCEL_REQUEST = 0xa,
	VMBUS_PACKET_COMPLETION = 0xb,
	VMBUS_PACKET_DATA_USING_ADDITIONAL_PACKET = 0xc,
	VMBUS_PACKET_ADDITIONAL_DATA = 0xd,
};

/** The receiver must answer with a COMPLETION packet carrying the same trans_id. */
#define VMBUS_PACKET_FLAG_COMPLETION_REQUESTED 0x1u

/** struct vmpacket_descriptor: the first 16 bytes of every packet. */
struct vmbus_packet_descriptor {
	uint16_t type;     /**< enum vmbus_packet_type */
	uint16_t offset8;  /**< header length (descriptor + type-specific part) in 8-byte units, >= 2 */
	uint16_t len8;     /**< packet length without the trailer, in 8-byte units, >= offset8 */
	uint16_t flags;    /**< VMBUS_PACKET_FLAG_* */
	uint64_t trans_id; /**< transaction id, echoed by the completion */
};

static_assert(sizeof(struct vmbus_packet_descriptor) == 16, "descriptor is 16 bytes");
static_assert(offsetof(struct vmbus_packet_descriptor, type) == 0, "type @0");
static_assert(offsetof(struct vmbus_packet_descriptor, offset8) == 2, "offset8 @2");
static_assert(offsetof(struct vmbus_packet_descriptor, len8) == 4, "len8 @4");
static_assert(offsetof(struct vmbus_packet_descriptor, flags) == 6, "flags @6");
static_assert(offsetof(struct vmbus_packet_descriptor, trans_id) == 8, "trans_id @8");

/** Size of the trailer after every packet: u64 = (u64)start_offset << 32 (VMBUS_PKT_TRAILER). */
#define VMBUS_PACKET_TRAILER_SIZE 8u

/** Largest packet len8 can describe (u16 units of 8 bytes), excluding the trailer. */
#define VMBUS_PACKET_MAX_LENGTH (UINT16_MAX * 8u)

/* GPA-direct (type 9) page ranges: <vmbus/memory.h>. */

/** Round up to the 8-byte alignment every packet and index obeys. */
static inline uint32_t vmbus_packet_align8(uint32_t length)
{
	return (length + 7u) & ~7u;
}

#endif /* VMBUS_PACKET_H */
