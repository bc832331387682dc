/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The uio backend's internals: its state, and the calls one of its concerns makes into
 * another. Private to drivers/bus/uio, whose API is include/vmbus/uio.h; one header for all
 * its files so that uio_ut can include them together with its fake open() and mmap().
 */
#ifndef DRIVERS_BUS_UIO_PRIVATE_H
#define DRIVERS_BUS_UIO_PRIVATE_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmbus/backend.h>
#include <vmbus/uio.h>

/* uio map indices (enum hv_uio_map in uio_hv_generic.c). */
enum uio_map {
	UIO_MAP_RINGS = 0,
	UIO_MAP_INTERRUPT_PAGE = 1,
	UIO_MAP_MONITOR_PAGE = 2,
	UIO_MAP_RECEIVE = 3,
	UIO_MAP_SEND = 4,
	UIO_MAP_COUNT = 5,
};

/* Monitor ids index trigger groups of 32 in the monitor page: at most 4 groups. */
#define UIO_MONITOR_ID_LIMIT 128u

struct uio_mapping {
	void *base;      /* what mmap returned (munmap this) */
	void *address;   /* base + the map's offset within its page (maps/mapK/offset) */
	size_t size;     /* bytes mapped */
	uint32_t gpadl;
};

struct uio_backend {
	int fd;                          /* /dev/uioN, open for the life of the device */
	char device_dir[PATH_MAX];       /* sysfs bus/vmbus/devices/<instance> */
	uint32_t relid;
	uint32_t monitor_ids[64];        /* per channel index; VMBUS_MONITOR_ID_NONE when not monitored */
	struct uio_mapping maps[UIO_MAP_COUNT];
	struct uio_mapping subchannel_rings[63];
	uint32_t subchannel_relids[63];  /* relids already mapped, in subchannel_rings order */
	unsigned int subchannel_count;
	unsigned int kernel_version;     /* major * 100 + minor, 0 when unknown */
	uint32_t interrupt_count;        /* last count read from the fd */
	pthread_mutex_t dma_lock;
	struct uio_dma_region *dma_regions; /* what uio_dma_alloc() handed out, under dma_lock */
};

struct uio_roots {
	char sysfs[PATH_MAX];
	char dev[PATH_MAX];
	char kernel_release[128];
};

/* What vmbus_uio_open() looks for, and what the scan found of it. */
struct uio_find_device {
	const struct vmbus_uio_open_params *params;
	struct vmbus_uio_device_info info;
	char device_dir[PATH_MAX];
	bool found;
};

/* A subchannel offered by the host: its relid and its index among subchannels. */
struct uio_subchannel {
	uint32_t relid;
	uint64_t index; /* channels/<relid>/subchannel_id, the order DPDK uses; else the relid */
};

/* uio_scan.c: sysfs, and the messages that say why a device cannot be opened. */

/* snprintf for paths: a path that does not fit is an error, never a truncated path. */
int uio_format_path(char *path, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));
/* vsnprintf into the caller's error message, when it gave one. */
void uio_set_error(char *message, size_t size, const char *format, ...) __attribute__((format(printf, 3, 4)));
int uio_read_attribute(const char *directory, const char *name, char *value, size_t size);
int uio_read_number(const char *directory, const char *name, uint64_t *number);
unsigned int uio_kernel_version(const char *release);
/*
 * The device @params asks for, bound to uio_hv_generic, and the roots it was found under;
 * else a negative errno and, in @message, why and what to do.
 */
int uio_find_device(const struct vmbus_uio_open_params *params, struct uio_roots *roots,
		    struct uio_find_device *find, char *message, size_t message_size);

/* uio_map.c: /dev/uioN's maps and the subchannels' ring files. */

int uio_map_device(struct uio_backend *backend, const char *uio_dir, char *message, size_t message_size);
void uio_unmap_all(struct uio_backend *backend);
unsigned int uio_list_new_subchannels(const struct uio_backend *backend, struct uio_subchannel *found,
				      unsigned int max);
int uio_map_subchannel(struct uio_backend *backend, uint32_t relid, struct uio_mapping *mapping);

/* uio_dma.c: DMA memory, the backend ops behind <vmbus/memory.h>'s vmbus_device_dma_*(). */

int uio_dma_alloc(struct vmbus_device *device, size_t size, void **address);
void uio_dma_free(struct vmbus_device *device, void *address, size_t size);
int uio_dma_share(struct vmbus_device *device, const void *address, size_t size, int *fd, uint64_t *offset);
int uio_dma_pfns(struct vmbus_device *device, const void *address, size_t size, uint64_t *pfns, size_t max);
/* At release: what the application did not free. */
void uio_free_dma_regions(struct uio_backend *backend);

#endif /* DRIVERS_BUS_UIO_PRIVATE_H */
