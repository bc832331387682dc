/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The uio backend's DMA memory. Apart from the maps because it is the process's own memory,
 * not the device's: nothing here reads sysfs or /dev/uioN, only /proc/self/pagemap.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vmbus/backend.h>
#include <vmbus/memory.h>

#include "uio_private.h"

/*
 * DMA memory on a real guest: locked shared memory whose physical pages the kernel reveals
 * in /proc/self/pagemap (bits 0-54 the page frame, bit 63 present). Only with CAP_SYS_ADMIN:
 * without it the kernel reports frame 0 (since 4.2), which we refuse. Locked pages do not
 * swap; the kernel may still migrate them (compaction), which is why DPDK prefers hugepages:
 * try those first for large buffers.
 */
#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_FRAME_MASK ((1ull << 55) - 1)

static int read_frames(const void *address, size_t size, uint64_t *hv_pfns, size_t max, size_t *count)
{
	size_t page_size = (size_t)sysconf(_SC_PAGESIZE), per_page = page_size / VMBUS_PAGE_SIZE;
	uintptr_t start = (uintptr_t)address, first = start / page_size;
	size_t pages = (start % page_size + size + page_size - 1) / page_size, i, j, n = 0;
	size_t skip = (start % page_size) / VMBUS_PAGE_SIZE;
	size_t needed = (start % VMBUS_PAGE_SIZE + size + VMBUS_PAGE_SIZE - 1) / VMBUS_PAGE_SIZE;
	int fd, rc = 0;

	if (needed > max)
		return -ENOBUFS;
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (i = 0; i < pages && n < needed; i++) {
		uint64_t entry;

		if (pread(fd, &entry, sizeof(entry), (off_t)((first + i) * sizeof(entry))) != sizeof(entry)) {
			rc = -EIO;
			break;
		}
		if (!(entry & PAGEMAP_PRESENT) || (entry & PAGEMAP_FRAME_MASK) == 0) {
			rc = -EOPNOTSUPP;
			break;
		}
		for (j = i == 0 ? skip : 0; j < per_page && n < needed; j++)
			hv_pfns[n++] = (entry & PAGEMAP_FRAME_MASK) * per_page + j;
	}
	close(fd);
	*count = n;
	return rc;
}

/*
 * Each allocation is a memfd of its own, so that it can be handed to another process
 * (vmbus_device_dma_share(): winapi-pmd gives a client its pool this way) without handing
 * over anything else: the file holds exactly these pages.
 */
struct uio_dma_region {
	struct uio_dma_region *next;
	void *address;
	size_t size;
	int fd;
};

static void *map_dma_file(size_t size, unsigned int memfd_flags, int *fd_out)
{
	void *memory;
	int fd = memfd_create("vmbus-dma", MFD_CLOEXEC | MFD_ALLOW_SEALING | memfd_flags);

	if (fd < 0)
		return MAP_FAILED;
	/*
	 * Sealed at its size: whoever it is shared with (a winapi-pmd client) cannot shrink it
	 * under pages whose numbers the host was given. (Punching holes stays possible; see
	 * winapi-pmd(8), NOTES.)
	 */
	if (ftruncate(fd, (off_t)size) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
		close(fd);
		return MAP_FAILED;
	}
	memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE | MAP_LOCKED, fd, 0);
	if (memory == MAP_FAILED) {
		int saved = errno;

		close(fd);
		errno = saved;
		return MAP_FAILED;
	}
	*fd_out = fd;
	return memory;
}

int uio_dma_alloc(struct vmbus_device *device, size_t size, void **address)
{
	struct uio_backend *backend = vmbus_device_backend_data(device);
	size_t page_size = (size_t)sysconf(_SC_PAGESIZE), count;
	struct uio_dma_region *region;
	uint64_t probe;
	void *memory;
	int rc, fd = -1;

	size = (size + page_size - 1) / page_size * page_size;
	region = calloc(1, sizeof(*region));
	if (region == NULL)
		return -ENOMEM;
	memory = MAP_FAILED;
	if (size >= (2u << 20) && size % (2u << 20) == 0)
		memory = map_dma_file(size, MFD_HUGETLB, &fd);
	if (memory == MAP_FAILED)
		memory = map_dma_file(size, 0, &fd);
	if (memory == MAP_FAILED) {
		rc = errno == EAGAIN || errno == EPERM ? -EOPNOTSUPP : -errno; /* RLIMIT_MEMLOCK */
		goto err_free_region;
	}
	/* One frame tells whether the kernel lets us see them at all. */
	rc = read_frames(memory, 1, &probe, 1, &count);
	if (rc != 0)
		goto err_unmap;
	*region = (struct uio_dma_region){ .address = memory, .size = size, .fd = fd };
	pthread_mutex_lock(&backend->dma_lock);
	region->next = backend->dma_regions;
	backend->dma_regions = region;
	pthread_mutex_unlock(&backend->dma_lock);
	*address = memory;
	return 0;

err_unmap:
	munmap(memory, size);
	close(fd);
err_free_region:
	free(region);
	return rc;
}

void uio_dma_free(struct vmbus_device *device, void *address, size_t size)
{
	struct uio_backend *backend = vmbus_device_backend_data(device);
	struct uio_dma_region **link, *region = NULL;

	(void)size;
	pthread_mutex_lock(&backend->dma_lock);
	for (link = &backend->dma_regions; *link != NULL; link = &(*link)->next) {
		if ((*link)->address == address) {
			region = *link;
			*link = region->next;
			break;
		}
	}
	pthread_mutex_unlock(&backend->dma_lock);
	if (region == NULL)
		return;
	munmap(region->address, region->size);
	close(region->fd);
	free(region);
}

int uio_dma_share(struct vmbus_device *device, const void *address, size_t size, int *fd,
		  uint64_t *offset)
{
	struct uio_backend *backend = vmbus_device_backend_data(device);
	uintptr_t start = (uintptr_t)address;
	struct uio_dma_region *region;
	int rc = -EINVAL;

	pthread_mutex_lock(&backend->dma_lock);
	for (region = backend->dma_regions; region != NULL; region = region->next) {
		uintptr_t base = (uintptr_t)region->address;

		if (start >= base && size <= region->size && start - base <= region->size - size) {
			*fd = region->fd;
			*offset = start - base;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&backend->dma_lock);
	return rc;
}

void uio_free_dma_regions(struct uio_backend *backend)
{
	struct uio_dma_region *region;

	while ((region = backend->dma_regions) != NULL) {
		backend->dma_regions = region->next;
		munmap(region->address, region->size);
		close(region->fd);
		free(region);
	}
}

int uio_dma_pfns(struct vmbus_device *device, const void *address, size_t size, uint64_t *pfns,
		 size_t max)
{
	size_t count;
	int rc;

	(void)device;
	rc = read_frames(address, size, pfns, max, &count);
	return rc != 0 ? rc : (int)count;
}
