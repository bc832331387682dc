/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The backend seam: what a bus backend (drivers/bus/sim, drivers/bus/uio) supplies so that
 * lib/vmbus can run channels on it. For writers of backends, not of device drivers.
 *
 * A backend maps the ring memory of every channel, knows how to signal the peer and how to
 * wait for the peer's interrupt, then hands all of it to vmbus_device_create(). The ring and
 * channel code above never learns which backend it runs on; that is what makes the emulator
 * an honest test of the production code.
 *
 * Both ends of a channel use this seam: the guest (VMBUS_SIDE_GUEST: TX is the first half of
 * the ring memory, as uio map 0) and the emulated host (VMBUS_SIDE_HOST: TX is the second
 * half), so the host side of the emulator runs the very same ring code from the other end.
 *
 * Owner: lib/vmbus
 */
#ifndef VMBUS_BACKEND_H
#define VMBUS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <vmbus/channel.h>
#include <vmbus/guid.h>
#include <vmbus/memory.h>

enum vmbus_side {
	VMBUS_SIDE_GUEST, /**< TX = first half of the ring memory (guest -> host) */
	VMBUS_SIDE_HOST,  /**< TX = second half (host -> guest) */
};

struct vmbus_backend_ops {
	const char *name;
	/**
	 * Tell the peer that channel @p index has work (a TX transition, or RX space it waited
	 * for). Called only when the ring rules say so; may run concurrently with itself and
	 * with wait. Must never block. Returns 0 or -ENOTCONN (peer gone).
	 */
	int (*signal)(struct vmbus_device *device, unsigned int index);
	/**
	 * Block until the peer may have signalled any channel of the device, or @p timeout_ms
	 * passes (-1: no limit), consuming the event. lib/vmbus lets one thread at a time in.
	 * Spurious wake-ups are allowed; callers re-check their rings.
	 * Returns 0; -ETIMEDOUT; -EINTR; -ENOTCONN (peer gone, rescind). Any other error is
	 * taken as final for the device, like -ENOTCONN.
	 */
	int (*wait)(struct vmbus_device *device, int timeout_ms);
	/** Undo everything the backend did for this device (unmap, close). May be NULL. */
	void (*release)(struct vmbus_device *device);
	/**
	 * A descriptor that poll() reports readable whenever wait(device, 0) would return
	 * something other than -ETIMEDOUT (a signal, or the peer gone), for event loops that
	 * sleep on many devices (vmbus_device_event_fd()). Owned by the backend. May be NULL, or
	 * return -EOPNOTSUPP where waiting is not a descriptor (a host scanning monitor pages).
	 */
	int (*event_fd)(const struct vmbus_device *device);

	/* Memory the host reaches without copies (<vmbus/memory.h>); NULL where there is none. */

	/** GPADL region @p index: 0 or -ENOENT. */
	int (*gpadl_region)(const struct vmbus_device *device, unsigned int index,
			    struct vmbus_gpadl_region *region);
	/** DMA memory: page-aligned, zeroed, whole pages. 0, -ENOMEM or -EOPNOTSUPP. */
	int (*dma_alloc)(struct vmbus_device *device, size_t size, void **address);
	void (*dma_free)(struct vmbus_device *device, void *address, size_t size);
	/** Hyper-V page numbers of a DMA range: count written, -EINVAL, -ENOBUFS. */
	int (*dma_pfns)(struct vmbus_device *device, const void *address, size_t size, uint64_t *pfns,
			size_t max);
	/** The file and offset that map a DMA range: 0, -EINVAL, -EOPNOTSUPP. May be NULL. */
	int (*dma_share)(struct vmbus_device *device, const void *address, size_t size, int *fd,
			 uint64_t *offset);
};

/** Where one channel's rings live. */
struct vmbus_channel_region {
	void *ring_base;    /**< TX ring then RX ring of the guest, contiguous, page-aligned */
	size_t ring_size;   /**< bytes of *one* direction, its header page included */
	uint32_t relid;     /**< channel relid (sysfs `id`), for messages */
	uint32_t monitor_id; /**< VMBUS_MONITOR_ID_NONE when not monitored */
};

/**
 * params.quirks: how the backend's kernel interface misbehaves.
 *
 * VMBUS_BACKEND_SIGNAL_UNMASKS_RX: signalling the host also clears the RX interrupt_mask of
 * the device's channels (uio_hv_generic for non-monitored channels: its irqcontrol write sets
 * mask = !value on the primary since 6.10, on every channel since 6.16). lib/vmbus masks
 * again every channel that is polling, so the host does not start interrupting pollers.
 */
#define VMBUS_BACKEND_SIGNAL_UNMASKS_RX 0x1u

struct vmbus_device_params {
	struct vmbus_guid class_id;
	struct vmbus_guid instance_id;
	int numa_node;                  /**< -1 when unknown */
	enum vmbus_side side;
	size_t page_size;               /**< system page size: offset of the data area in a ring */
	unsigned int channel_count;
	const struct vmbus_channel_region *channels; /**< channel_count entries, copied */
	const struct vmbus_backend_ops *ops;
	void *backend_data;             /**< the backend's own state, see vmbus_device_backend_data() */
	unsigned int quirks;            /**< VMBUS_BACKEND_* */
};

/**
 * Create a device over memory the backend has mapped. On success the device owns the
 * backend's resources: vmbus_device_close() calls ops->release.
 * @return 0; -EINVAL (no channel or more than 64, impossible ring size, missing ops);
 *         -ENOMEM.
 */
int vmbus_device_create(const struct vmbus_device_params *params, struct vmbus_device **device);

/**
 * Add a channel (a subchannel the host offered later) as the next index.
 * May run concurrently with channel calls, but not with another add.
 * @return the new channel's index (>= 1); -EINVAL (impossible ring size); -ENOSPC (the
 *         device has its 64 channels).
 */
int vmbus_device_add_channel(struct vmbus_device *device, const struct vmbus_channel_region *region);

/** Add VMBUS_BACKEND_* quirks (a subchannel that behaves unlike the primary). */
void vmbus_device_add_quirks(struct vmbus_device *device, unsigned int quirks);

/**
 * The backend learnt outside a wait that the peer is gone (e.g. its signal failed): every
 * channel call then returns @p error (-ENOTCONN) and no ring is touched again.
 */
void vmbus_device_set_gone(struct vmbus_device *device, int error);

/** The backend_data given to vmbus_device_create(). */
void *vmbus_device_backend_data(const struct vmbus_device *device);

#endif /* VMBUS_BACKEND_H */
