/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hyper-V ring buffer, one direction. The rules are those of drivers/hv/ring_buffer.c
 * (hv_ringbuffer_write, hv_signal_on_write, hv_pkt_iter_*) and openvmm's vmbus_ring,
 * restated in shared/research/vmbus-spec.md sections 2.2-2.4.
 *
 * Memory ordering: the producer publishes write_index with a store-release after copying the
 * packet, the consumer loads it with a load-acquire before reading the packet (and the same
 * pair for read_index in the other direction). The signal decisions need a store -> load
 * order (our index store, then the peer's mask or pending_send_size), which only a full
 * fence gives; x86-TSO would hide its absence, arm64 would not.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <vmbus/ring.h>

static inline uint32_t load_acquire(const uint32_t *field)
{
	return __atomic_load_n(field, __ATOMIC_ACQUIRE);
}

static inline uint32_t load_relaxed(const uint32_t *field)
{
	return __atomic_load_n(field, __ATOMIC_RELAXED);
}

static inline void store_release(uint32_t *field, uint32_t value)
{
	__atomic_store_n(field, value, __ATOMIC_RELEASE);
}

static inline void full_fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* An index written by the peer is usable only if it lies inside the data area on 8 bytes. */
static inline bool index_valid(const struct vmbus_ring *ring, uint32_t index)
{
	return index < ring->data_size && (index & 7u) == 0;
}

/* Bytes between @from and @to going forward around the ring (hv_get_bytes_to_read). */
static inline uint32_t ring_distance(const struct vmbus_ring *ring, uint32_t from, uint32_t to)
{
	return to >= from ? to - from : ring->data_size - from + to;
}

static inline uint32_t ring_advance(const struct vmbus_ring *ring, uint32_t index, uint32_t bytes)
{
	uint64_t next = (uint64_t)index + bytes;

	return (uint32_t)(next >= ring->data_size ? next - ring->data_size : next);
}

/*
 * A single mapping of the data area (uio and sysfs `ring` files give no double mapping, see
 * vmbus-spec.md 2.5), so every copy is split at the end of the data area.
 */
static uint32_t copy_to_ring(struct vmbus_ring *ring, uint32_t offset, const void *source,
			     uint32_t length)
{
	uint32_t first = ring->data_size - offset;

	if (length <= first) {
		memcpy(ring->data + offset, source, length);
	} else {
		memcpy(ring->data + offset, source, first);
		memcpy(ring->data, (const uint8_t *)source + first, length - first);
	}
	return ring_advance(ring, offset, length);
}

/*
 * Ask for ownership of the ring lines the next packets will be written to. They were last
 * read by the consumer's CPU, so each store into them waits for that line to come over; x86
 * commits stores in order, so one such store holds up every later one and the store buffer
 * fills (issue 19: the writer then stalls on unrelated work). Fetched ahead, the lines come
 * in parallel while the writer encodes the next requests. 512 bytes is three or four small
 * packets: a batch written in a loop runs ahead of a cross-core transfer (~0.2 us here);
 * 256 bytes did 5.6 M requests/s at batches of 32, 512 bytes 6.9, 1024 bytes no more.
 * Only free space is touched: the consumer is done with those lines.
 */
#define RING_PREFETCH_BYTES 512u

#if defined(__x86_64__) || defined(__i386__)
/* PREFETCHW (every AMD64 CPU, Intel since Broadwell); CPUID 0x80000001 ECX bit 8. */
static bool prefetchw_supported;

__attribute__((constructor)) static void detect_prefetchw(void)
{
	unsigned int eax, ebx, ecx, edx;

	prefetchw_supported = __get_cpuid(0x80000001u, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 8)) != 0;
}

__attribute__((target("prfchw"))) static void prefetch_for_write(const struct vmbus_ring *ring, uint32_t offset,
								   uint32_t length)
{
	uint32_t done;

	if (!prefetchw_supported)
		return;
	if (length > RING_PREFETCH_BYTES)
		length = RING_PREFETCH_BYTES;
	/* Whole lines within the free space: the line of offset + done ends before offset + done + 64. */
	for (done = 0; done + 64 <= length; done += 64) {
		__builtin_prefetch(ring->data + offset, 1, 3);
		offset = ring_advance(ring, offset, 64);
	}
}
#else
static void prefetch_for_write(const struct vmbus_ring *ring, uint32_t offset, uint32_t length)
{
	(void)ring;
	(void)offset;
	(void)length;
}
#endif

static uint32_t copy_from_ring(const struct vmbus_ring *ring, uint32_t offset, void *destination,
			       uint32_t length)
{
	uint32_t first = ring->data_size - offset;

	if (length <= first) {
		memcpy(destination, ring->data + offset, length);
	} else {
		memcpy(destination, ring->data + offset, first);
		memcpy((uint8_t *)destination + first, ring->data, length - first);
	}
	return ring_advance(ring, offset, length);
}

int vmbus_ring_attach(struct vmbus_ring *ring, void *base, size_t ring_size, size_t header_size)
{
	uint32_t write_index, read_index;

	if (ring == NULL || base == NULL)
		return -EINVAL;
	if (header_size < VMBUS_RING_HEADER_MIN_SIZE || (header_size & (header_size - 1)) != 0)
		return -EINVAL;
	if (ring_size <= header_size || ring_size - header_size >= UINT32_MAX ||
	    ((ring_size - header_size) & 7u) != 0)
		return -EINVAL;

	memset(ring, 0, sizeof(*ring));
	ring->header = base;
	ring->data = (uint8_t *)base + header_size;
	ring->data_size = (uint32_t)(ring_size - header_size);

	write_index = load_acquire(&ring->header->write_index);
	read_index = load_acquire(&ring->header->read_index);
	if (!index_valid(ring, write_index) || !index_valid(ring, read_index))
		return -EIO;

	ring->write_cursor = ring->published_write = write_index;
	ring->read_cursor = ring->published_read = ring->peer_read_index = read_index;
	return 0;
}

void vmbus_ring_header_init(void *base, size_t header_size)
{
	struct vmbus_ring_header *header = base;

	memset(base, 0, header_size);
	header->feature_bits = VMBUS_RING_FEATURE_PENDING_SEND_SIZE;
	full_fence();
}

uint32_t vmbus_ring_max_packet_size(const struct vmbus_ring *ring)
{
	/* free must stay > packet + trailer, and free is at most data_size: see the full rule. */
	uint32_t ring_limit = ring->data_size >= 16 ? ring->data_size - 16 : 0;

	return ring_limit < VMBUS_PACKET_MAX_LENGTH ? ring_limit : VMBUS_PACKET_MAX_LENGTH;
}

uint32_t vmbus_ring_bytes_free(const struct vmbus_ring *ring)
{
	uint32_t read_index = load_acquire(&ring->header->read_index);

	if (!index_valid(ring, read_index))
		return 0;
	return ring->data_size - ring_distance(ring, read_index, ring->write_cursor);
}

uint32_t vmbus_ring_bytes_available(const struct vmbus_ring *ring)
{
	uint32_t write_index = load_acquire(&ring->header->write_index);

	if (!index_valid(ring, write_index))
		return 0;
	return ring_distance(ring, ring->read_cursor, write_index);
}

/*
 * Room for a packet of @header_size + @payload_size bytes (with padding: *@packet_size) under
 * the full rule; *@free_bytes: the free space before it. -EMSGSIZE, -EAGAIN, -EIO.
 */
static int make_room(struct vmbus_ring *ring, uint64_t header_size, uint64_t payload_size, uint64_t *packet_size,
		     uint32_t *free_bytes)
{
	uint32_t read_index, free;

	*packet_size = (header_size + payload_size + 7u) & ~(uint64_t)7u;
	if (header_size / 8 > UINT16_MAX || *packet_size > vmbus_ring_max_packet_size(ring))
		return -EMSGSIZE;

	free = ring->data_size - ring_distance(ring, ring->peer_read_index, ring->write_cursor);
	/* hv_ringbuffer_write: "If there is only room for the packet, assume it is full." */
	if (free <= *packet_size + VMBUS_PACKET_TRAILER_SIZE) {
		read_index = load_acquire(&ring->header->read_index);
		if (!index_valid(ring, read_index))
			return -EIO;
		ring->peer_read_index = read_index;
		free = ring->data_size - ring_distance(ring, read_index, ring->write_cursor);
		if (free <= *packet_size + VMBUS_PACKET_TRAILER_SIZE)
			return -EAGAIN;
	}
	*free_bytes = free;
	return 0;
}

/* The descriptor and header extension at the write cursor; returns where the payload goes. */
static uint32_t write_head(struct vmbus_ring *ring, const struct vmbus_ring_packet *packet, uint64_t header_size,
			   uint64_t packet_size)
{
	struct vmbus_packet_descriptor descriptor;
	uint32_t offset;

	descriptor.type = htole16(packet->type);
	descriptor.offset8 = htole16((uint16_t)(header_size / 8));
	descriptor.len8 = htole16((uint16_t)(packet_size / 8));
	descriptor.flags = htole16(packet->flags);
	descriptor.trans_id = htole64(packet->trans_id);

	offset = copy_to_ring(ring, ring->write_cursor, &descriptor, sizeof(descriptor));
	if (packet->header_extension_size != 0)
		offset = copy_to_ring(ring, offset, packet->header_extension, packet->header_extension_size);
	return offset;
}

/* Padding of @padding zero bytes at @offset, the trailer, and the cursor past the packet. */
static void write_tail(struct vmbus_ring *ring, uint32_t offset, uint32_t padding, uint64_t packet_size,
		       uint32_t free_bytes)
{
	static const uint8_t zero_padding[8];
	uint64_t trailer = htole64((uint64_t)ring->write_cursor << 32);

	offset = copy_to_ring(ring, offset, zero_padding, padding);
	ring->write_cursor = copy_to_ring(ring, offset, &trailer, sizeof(trailer));
	prefetch_for_write(ring, ring->write_cursor,
			   free_bytes - (uint32_t)packet_size - VMBUS_PACKET_TRAILER_SIZE - 8u);
}

static bool extension_valid(const struct vmbus_ring_packet *packet)
{
	return packet->header_extension_size % 8 == 0 &&
	       (packet->header_extension_size == 0 || packet->header_extension != NULL);
}

int vmbus_ring_write(struct vmbus_ring *ring, const struct vmbus_ring_packet *packet)
{
	uint64_t payload_size = 0, packet_size, header_size;
	uint32_t free_bytes, offset;
	unsigned int i;
	int rc;

	if (!extension_valid(packet) || (packet->payload_count != 0 && packet->payload == NULL))
		return -EINVAL;
	for (i = 0; i < packet->payload_count; i++) {
		if (packet->payload[i].iov_len != 0 && packet->payload[i].iov_base == NULL)
			return -EINVAL;
		/* Bounded per element so that the sum cannot wrap. */
		if (packet->payload[i].iov_len > VMBUS_PACKET_MAX_LENGTH)
			return -EMSGSIZE;
		payload_size += packet->payload[i].iov_len;
	}

	header_size = sizeof(struct vmbus_packet_descriptor) + (uint64_t)packet->header_extension_size;
	rc = make_room(ring, header_size, payload_size, &packet_size, &free_bytes);
	if (rc != 0)
		return rc;
	offset = write_head(ring, packet, header_size, packet_size);
	for (i = 0; i < packet->payload_count; i++)
		if (packet->payload[i].iov_len != 0)
			offset = copy_to_ring(ring, offset, packet->payload[i].iov_base,
					      (uint32_t)packet->payload[i].iov_len);
	write_tail(ring, offset, (uint32_t)(packet_size - header_size - payload_size), packet_size, free_bytes);
	return 0;
}

int vmbus_ring_write_begin(struct vmbus_ring *ring, const struct vmbus_ring_packet *packet, uint32_t payload_size,
			   void *bounce, void **payload)
{
	uint64_t packet_size, header_size;
	uint32_t free_bytes, offset;
	int rc;

	if (ring == NULL || packet == NULL || payload == NULL || !extension_valid(packet) ||
	    packet->payload_count != 0 || (payload_size != 0 && bounce == NULL))
		return -EINVAL;
	header_size = sizeof(struct vmbus_packet_descriptor) + (uint64_t)packet->header_extension_size;
	rc = make_room(ring, header_size, payload_size, &packet_size, &free_bytes);
	if (rc != 0)
		return rc;
	offset = write_head(ring, packet, header_size, packet_size);
	ring->building_payload_offset = offset;
	ring->building_payload_size = payload_size;
	ring->building_packet_size = (uint32_t)packet_size;
	ring->building_free_bytes = free_bytes;
	/* Split by the end of the data area: built aside, copied in two pieces by end. */
	*payload = payload_size <= ring->data_size - offset ? (void *)(ring->data + offset) : bounce;
	return 0;
}

void vmbus_ring_write_end(struct vmbus_ring *ring, const void *payload)
{
	uint32_t offset = ring->building_payload_offset, size = ring->building_payload_size;
	uint32_t header_size = ring_distance(ring, ring->write_cursor, offset);

	if (payload != ring->data + offset)
		offset = copy_to_ring(ring, offset, payload, size);
	else
		offset = ring_advance(ring, offset, size);
	write_tail(ring, offset, ring->building_packet_size - header_size - size, ring->building_packet_size,
		   ring->building_free_bytes);
}

void vmbus_ring_write_publish(struct vmbus_ring *ring, bool *need_signal)
{
	uint32_t old_write = ring->published_write;

	*need_signal = false;
	if (ring->write_cursor == old_write)
		return;

	store_release(&ring->header->write_index, ring->write_cursor);
	ring->published_write = ring->write_cursor;

	/*
	 * hv_signal_on_write: the consumer sets interrupt_mask while it drains and re-checks the
	 * ring after clearing it, so a masked consumer will see this batch without a signal. The
	 * fence orders our index store before the mask load (store -> load).
	 */
	full_fence();
	if (load_relaxed(&ring->header->interrupt_mask) != 0)
		return;
	/* Ring was empty before this batch: the consumer may be asleep. */
	*need_signal = load_acquire(&ring->header->read_index) == old_write;
}

void vmbus_ring_set_pending_send_size(struct vmbus_ring *ring, uint32_t bytes)
{
	__atomic_store_n(&ring->header->pending_send_size, bytes, __ATOMIC_RELAXED);
	full_fence();
}

/*
 * Read and validate the descriptor at the read cursor into @descriptor (a private copy: the
 * producer may rewrite the ring while we look at it, so the copy is what gets validated and
 * used).
 */
static int fetch_descriptor(const struct vmbus_ring *ring, struct vmbus_packet_descriptor *descriptor,
			    struct vmbus_ring_packet_info *info)
{
	uint32_t write_index = load_acquire(&ring->header->write_index);
	uint32_t available, offset8, len8;

	if (!index_valid(ring, write_index))
		return -EIO;
	available = ring_distance(ring, ring->read_cursor, write_index);
	if (available == 0)
		return -EAGAIN;
	if (available < sizeof(*descriptor) + VMBUS_PACKET_TRAILER_SIZE)
		return -EIO;

	copy_from_ring(ring, ring->read_cursor, descriptor, sizeof(*descriptor));
	offset8 = le16toh(descriptor->offset8);
	len8 = le16toh(descriptor->len8);
	if (offset8 < 2 || len8 < offset8 ||
	    (uint64_t)len8 * 8 + VMBUS_PACKET_TRAILER_SIZE > available)
		return -EIO;

	info->type = le16toh(descriptor->type);
	info->flags = le16toh(descriptor->flags);
	info->trans_id = le64toh(descriptor->trans_id);
	info->header_size = offset8 * 8;
	info->packet_size = len8 * 8;
	return 0;
}

int vmbus_ring_peek(struct vmbus_ring *ring, struct vmbus_ring_packet_info *info)
{
	struct vmbus_packet_descriptor descriptor;

	return fetch_descriptor(ring, &descriptor, info);
}

int vmbus_ring_read(struct vmbus_ring *ring, void *buffer, size_t buffer_size,
		    struct vmbus_ring_packet_info *info)
{
	struct vmbus_packet_descriptor descriptor;
	int rc = fetch_descriptor(ring, &descriptor, info);

	if (rc != 0)
		return rc;
	if (buffer_size < info->packet_size)
		return -ENOBUFS;

	copy_from_ring(ring, ring->read_cursor, buffer, info->packet_size);
	/* The caller sees the descriptor that was validated, not a later rewrite by the peer. */
	memcpy(buffer, &descriptor, sizeof(descriptor));
	ring->read_cursor = ring_advance(ring, ring->read_cursor,
					 info->packet_size + VMBUS_PACKET_TRAILER_SIZE);
	return 0;
}

int vmbus_ring_skip(struct vmbus_ring *ring)
{
	struct vmbus_packet_descriptor descriptor;
	struct vmbus_ring_packet_info info;
	int rc = fetch_descriptor(ring, &descriptor, &info);

	if (rc != 0)
		return rc;
	ring->read_cursor = ring_advance(ring, ring->read_cursor,
					 info.packet_size + VMBUS_PACKET_TRAILER_SIZE);
	return 0;
}

void vmbus_ring_read_publish(struct vmbus_ring *ring, bool *need_signal)
{
	uint32_t bytes_read = ring_distance(ring, ring->published_read, ring->read_cursor);
	uint32_t pending, write_index;
	int64_t free_now;

	*need_signal = false;
	if (bytes_read == 0)
		return;

	/* The release orders our copies out of the ring before the producer may reuse it. */
	store_release(&ring->header->read_index, ring->read_cursor);
	ring->published_read = ring->read_cursor;

	if ((load_relaxed(&ring->header->feature_bits) & VMBUS_RING_FEATURE_PENDING_SEND_SIZE) == 0)
		return;
	full_fence();
	pending = load_relaxed(&ring->header->pending_send_size);
	if (pending == 0)
		return;
	write_index = load_acquire(&ring->header->write_index);
	if (!index_valid(ring, write_index))
		return;

	/* hv_pkt_iter_close: signal only on the transition from blocked to fits. */
	free_now = (int64_t)ring->data_size - ring_distance(ring, ring->read_cursor, write_index);
	if (free_now - (int64_t)bytes_read > (int64_t)pending)
		return; /* it was not blocked before this batch */
	*need_signal = free_now > (int64_t)pending;
}

void vmbus_ring_set_interrupt_mask(struct vmbus_ring *ring, bool masked)
{
	__atomic_store_n(&ring->header->interrupt_mask, masked ? 1u : 0u, __ATOMIC_RELAXED);
	full_fence();
}

bool vmbus_ring_is_empty(const struct vmbus_ring *ring)
{
	return load_acquire(&ring->header->write_index) == ring->read_cursor;
}
