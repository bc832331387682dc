/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device's memory as the kernel exposes it: /dev/uioN's maps (rings, interrupt and monitor
 * pages, GPADL regions) and the subchannels' `ring` files. Kept together because each is
 * mapped only after its sysfs name, size and offset were checked against what uio_hv_generic
 * creates and what the ring layout needs: sysfs is read as the kernel writes it, but not
 * trusted to be sane.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uio_private.h"

/* Read map K's name and size from sysfs and check them against what uio_hv_generic creates. */
static int read_map(const char *uio_dir, unsigned int index, char *name, size_t name_size, uint64_t *size)
{
	char map_dir[PATH_MAX];
	int rc;

	rc = uio_format_path(map_dir, sizeof(map_dir), "%s/maps/map%u", uio_dir, index);
	if (rc == 0)
		rc = uio_read_attribute(map_dir, "name", name, name_size);
	if (rc == 0)
		rc = uio_read_number(map_dir, "size", size);
	return rc;
}

/* mmap map @index of the uio fd: uio selects the map by the offset, index * system page size. */
static int map_uio(int fd, unsigned int index, size_t size, void **address)
{
	void *mapping = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			     (off_t)index * sysconf(_SC_PAGESIZE));

	if (mapping == MAP_FAILED)
		return -errno;
	*address = mapping;
	return 0;
}

void uio_unmap_all(struct uio_backend *backend)
{
	unsigned int i;

	for (i = 0; i < UIO_MAP_COUNT; i++)
		if (backend->maps[i].base != NULL)
			munmap(backend->maps[i].base, backend->maps[i].size);
	for (i = 0; i < backend->subchannel_count; i++)
		munmap(backend->subchannel_rings[i].base, backend->subchannel_rings[i].size);
}

/*
 * Map 0 (rings), 1 (interrupt page), 2 (monitor page), and 3/4 (GPADL regions) when they
 * exist. The kernel names them txrx_rings, int_page, monitor_page, recv:<gpadl>, send:<gpadl>.
 */
int uio_map_device(struct uio_backend *backend, const char *uio_dir, char *message, size_t message_size)
{
	static const char *const fixed_names[] = { "txrx_rings", "int_page", "monitor_page" };
	size_t page_size = (size_t)sysconf(_SC_PAGESIZE);
	unsigned int index;
	char name[64];
	uint64_t size;
	int rc;

	for (index = 0; index < UIO_MAP_COUNT; index++) {
		rc = read_map(uio_dir, index, name, sizeof(name), &size);
		if (rc != 0 && index >= UIO_MAP_RECEIVE)
			continue; /* maps 3 and 4 are optional (non-network devices, 6.14+) */
		if (rc != 0) {
			uio_set_error(message, message_size, "%s/maps/map%u is missing or unreadable (%s)",
				      uio_dir, index, strerror(-rc));
			return -EPROTO;
		}
		if (index < UIO_MAP_RECEIVE && strcmp(name, fixed_names[index]) != 0) {
			uio_set_error(message, message_size, "%s/maps/map%u is \"%s\", expected \"%s\"", uio_dir,
				      index, name, fixed_names[index]);
			return -EPROTO;
		}
		if (index >= UIO_MAP_RECEIVE) {
			const char *prefix = index == UIO_MAP_RECEIVE ? "recv:" : "send:";
			char *end;
			unsigned long gpadl;

			if (strncmp(name, prefix, 5) != 0)
				continue; /* not a GPADL region we know */
			errno = 0;
			gpadl = strtoul(name + 5, &end, 10);
			if (errno != 0 || end == name + 5 || *end != '\0' || gpadl > UINT32_MAX)
				continue;
			backend->maps[index].gpadl = (uint32_t)gpadl;
		}
		/*
		 * Map 0 holds two rings of header page + data; the interrupt and monitor pages are
		 * one Hyper-V page (4 KiB) or one system page depending on the kernel.
		 */
		if (size == 0 || size > (1ull << 32) ||
		    (index == UIO_MAP_RINGS && (size % (2 * page_size) != 0 || size / 2 <= page_size)) ||
		    ((index == UIO_MAP_INTERRUPT_PAGE || index == UIO_MAP_MONITOR_PAGE) && size < 4096)) {
			uio_set_error(message, message_size, "%s/maps/map%u has an impossible size %" PRIu64,
				      uio_dir, index, size);
			return -EPROTO;
		}
		/*
		 * uio maps whole pages: a map smaller than a system page (the 4 KiB interrupt and
		 * monitor pages on 64K-page kernels before 2025) starts at maps/mapK/offset in it.
		 */
		char map_dir[PATH_MAX + 16];
		uint64_t offset = 0;

		if (uio_format_path(map_dir, sizeof(map_dir), "%s/maps/map%u", uio_dir, index) == 0 &&
		    uio_read_number(map_dir, "offset", &offset) != 0)
			offset = 0;
		if (offset >= page_size || (index == UIO_MAP_RINGS && offset != 0)) {
			uio_set_error(message, message_size, "%s/maps/map%u has an impossible offset %" PRIu64,
				      uio_dir, index, offset);
			return -EPROTO;
		}
		rc = map_uio(backend->fd, index, (size_t)(offset + size), &backend->maps[index].base);
		if (rc != 0) {
			uio_set_error(message, message_size, "mmap of map%u (%s, %" PRIu64 " bytes) failed: %s",
				      index, name, size, strerror(-rc));
			return rc;
		}
		backend->maps[index].size = (size_t)(offset + size);
		backend->maps[index].address = (uint8_t *)backend->maps[index].base + offset;
	}
	return 0;
}

static bool already_mapped(const struct uio_backend *backend, uint32_t relid)
{
	unsigned int i;

	for (i = 0; i < backend->subchannel_count; i++)
		if (backend->subchannel_relids[i] == relid)
			return true;
	return false;
}

/*
 * Subchannels under channels/ whose ring file exists and that are not mapped yet (the
 * primary excluded), in subchannel index order.
 */
unsigned int uio_list_new_subchannels(const struct uio_backend *backend, struct uio_subchannel *found,
				      unsigned int max)
{
	char path[PATH_MAX + 64], channel_dir[PATH_MAX + 32];
	struct dirent *entry;
	unsigned int count = 0, i, j;
	DIR *directory;

	if (uio_format_path(path, sizeof(path), "%s/channels", backend->device_dir) != 0)
		return 0;
	directory = opendir(path);
	if (directory == NULL)
		return 0;
	while ((entry = readdir(directory)) != NULL && count < max) {
		struct stat st;
		unsigned long relid;
		uint64_t index;
		char *end;

		errno = 0;
		relid = strtoul(entry->d_name, &end, 10);
		if (errno != 0 || end == entry->d_name || *end != '\0' || relid > UINT32_MAX ||
		    relid == backend->relid || already_mapped(backend, (uint32_t)relid))
			continue;
		if (uio_format_path(path, sizeof(path), "%s/channels/%s/ring", backend->device_dir,
				    entry->d_name) != 0 ||
		    stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		uio_format_path(channel_dir, sizeof(channel_dir), "%s/channels/%s", backend->device_dir, entry->d_name);
		if (uio_read_number(channel_dir, "subchannel_id", &index) != 0 || index == 0)
			index = relid;
		found[count++] = (struct uio_subchannel){ .relid = (uint32_t)relid, .index = index };
	}
	closedir(directory);
	for (i = 1; i < count; i++)
		for (j = i; j > 0 && found[j - 1].index > found[j].index; j--) {
			struct uio_subchannel swap = found[j];

			found[j] = found[j - 1];
			found[j - 1] = swap;
		}
	return count;
}

/*
 * A subchannel ring file maps both rings (TX half then RX half). Its size was a constant
 * 4 MiB until 2025 regardless of the real ring, and a mapping larger than the real ring fails
 * (vm_iomap_memory); subchannels always get 2 MiB + 2 MiB (hv_uio_new_channel), so that is
 * what we map, or the file size when it is smaller and plausible.
 */
int uio_map_subchannel(struct uio_backend *backend, uint32_t relid, struct uio_mapping *mapping)
{
	size_t page_size = (size_t)sysconf(_SC_PAGESIZE), size = 4u << 20;
	char path[PATH_MAX + 64];
	struct stat st;
	void *address;
	int fd, rc;

	if (uio_format_path(path, sizeof(path), "%s/channels/%u/ring", backend->device_dir, relid) != 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && (uint64_t)st.st_size < size)
		size = (size_t)st.st_size;
	if (size % (2 * page_size) != 0 || size / 2 <= page_size) {
		close(fd);
		return -EPROTO;
	}
	address = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	rc = address == MAP_FAILED ? -errno : 0;
	close(fd);
	if (rc != 0)
		return rc;
	mapping->base = mapping->address = address;
	mapping->size = size;
	return 0;
}
