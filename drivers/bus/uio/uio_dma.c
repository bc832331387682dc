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
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/io_uring.h>

#include <vmbus/backend.h>
#include <vmbus/memory.h>

#include "uio_private.h"

/*
 * DMA memory on a real guest: locked shared memory whose physical pages the kernel reveals
 * in /proc/self/pagemap (bits 0-54 the page frame, bit 63 present). Only with CAP_SYS_ADMIN:
 * without it the kernel reports frame 0 (since 4.2), which we refuse. Locked pages do not
 * swap, but mlock does not stop compaction from moving them, and a process the memory is
 * shared with (a winapi-pmd client) can punch holes in the file, which frees its pages while
 * the host may still be given their numbers. So every region is pinned for the long term
 * (below), and the frames the host gets are the ones read once, after the pin.
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
	int pin_fd;        /* the io_uring whose registered buffers hold the pin */
	uint64_t *frames;  /* Hyper-V page numbers of the pinned pages, read once after the pin */
};

/* io_uring registers at most 1 GiB a buffer. */
#define PIN_CHUNK (1ull << 30)

/*
 * A long-term pin of [memory, memory + size): io_uring's registered buffers take their pages
 * with FOLL_LONGTERM, which moves them out of movable zones first and then refuses migration,
 * and holds a reference that a hole punched in the file (by anyone the file is shared with)
 * cannot drop: such a page is orphaned, never freed for reuse, while the pin lasts. The pin
 * lasts as long as the returned descriptor. Raw system calls: two, no ring is ever used.
 */
static int pin_memory(void *memory, size_t size)
{
	struct iovec chunks[64];
	struct io_uring_params params;
	unsigned int count = 0;
	size_t done;
	int fd, rc;

	if (size > PIN_CHUNK * (sizeof(chunks) / sizeof(chunks[0])))
		return -E2BIG;
	for (done = 0; done < size; done += chunks[count++].iov_len)
		chunks[count] = (struct iovec){ .iov_base = (uint8_t *)memory + done,
						.iov_len = size - done < PIN_CHUNK ? size - done : PIN_CHUNK };
	memset(&params, 0, sizeof(params));
	fd = (int)syscall(__NR_io_uring_setup, 1, &params);
	if (fd < 0)
		return -errno;
	if (syscall(__NR_io_uring_register, fd, IORING_REGISTER_BUFFERS, chunks, count) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	/* The ring is never used; the descriptor is only the pin's owner. */
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

static void free_region(struct uio_dma_region *region)
{
	munmap(region->address, region->size);
	if (region->pin_fd >= 0)
		close(region->pin_fd); /* the pin ends with the mapping gone */
	close(region->fd);
	free(region->frames);
	free(region);
}

static void *map_dma_file(size_t size, unsigned int memfd_flags, int *fd_out)
{
	void *memory;
	int fd = memfd_create("vmbus-dma", MFD_CLOEXEC | MFD_ALLOW_SEALING | memfd_flags);

	if (fd < 0)
		return MAP_FAILED;
	/*
	 * Sealed at its size: whoever it is shared with (a winapi-pmd client) cannot shrink it
	 * under pages whose numbers the host was given. Punching holes stays possible (no seal
	 * stops it but a write seal, and the client must write): the pin below makes a punched
	 * page an orphan that stays allocated rather than a free one.
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
	/* Memory whose pages may move or be freed under the host is no DMA memory: refused. */
	region->pin_fd = pin_memory(memory, size);
	if (region->pin_fd < 0) {
		rc = region->pin_fd == -ENOMEM ? -ENOMEM : -EOPNOTSUPP;
		goto err_unmap;
	}
	/* Read after the pin: pinning may first have moved the pages out of a movable zone. */
	region->frames = malloc(size / VMBUS_PAGE_SIZE * sizeof(*region->frames));
	if (region->frames == NULL) {
		rc = -ENOMEM;
		goto err_unpin;
	}
	rc = read_frames(memory, size, region->frames, size / VMBUS_PAGE_SIZE, &count);
	if (rc != 0)
		goto err_free_frames;
	region->address = memory;
	region->size = size;
	region->fd = fd;
	pthread_mutex_lock(&backend->dma_lock);
	region->next = backend->dma_regions;
	backend->dma_regions = region;
	pthread_mutex_unlock(&backend->dma_lock);
	*address = memory;
	return 0;

err_free_frames:
	free(region->frames);
err_unpin:
	close(region->pin_fd);
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
	if (region != NULL)
		free_region(region);
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
		free_region(region);
	}
}

/*
 * The page numbers recorded when the region was pinned, never re-read: if the memory's owner
 * (or a process it shares the file with) punched a hole since, the pages now mapped there are
 * new and unpinned, while the pinned ones still exist; the host only ever gets those.
 */
int uio_dma_pfns(struct vmbus_device *device, const void *address, size_t size, uint64_t *pfns,
		 size_t max)
{
	struct uio_backend *backend = vmbus_device_backend_data(device);
	uintptr_t start = (uintptr_t)address;
	struct uio_dma_region *region;
	size_t first, needed;
	int rc = -EINVAL;

	if (size == 0)
		return -EINVAL;
	pthread_mutex_lock(&backend->dma_lock);
	for (region = backend->dma_regions; region != NULL; region = region->next) {
		uintptr_t base = (uintptr_t)region->address;

		if (start < base || size > region->size || start - base > region->size - size)
			continue;
		first = (start - base) / VMBUS_PAGE_SIZE;
		needed = ((start - base) % VMBUS_PAGE_SIZE + size + VMBUS_PAGE_SIZE - 1) / VMBUS_PAGE_SIZE;
		if (needed > max) {
			rc = -ENOBUFS;
			break;
		}
		memcpy(pfns, region->frames + first, needed * sizeof(*pfns));
		rc = (int)needed;
		break;
	}
	pthread_mutex_unlock(&backend->dma_lock);
	return rc;
}
