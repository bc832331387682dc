/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: drivers/bus/uio's sysfs parsers (uio_scan.c, uio_map.c) on a fake sysfs
 * tree whose files the input writes. A tree in a private temporary directory is made once
 * per process (in /dev/shm when it can, else /tmp; removed at exit), with one well-formed
 * device of another class (bound to hv_netvsc) that every scan meets; each input then writes one more device directory under
 * sys/bus/vmbus/devices, runs vmbus_uio_scan(), uio_find_device() (what vmbus_uio_open()
 * does first), and, for a device found bound to uio_hv_generic, uio_map_device() on its
 * uio node's maps, uio_list_new_subchannels() and uio_map_subchannel(). mmap() and munmap()
 * are replaced by fakes that check what would be mapped and hand out a byte of heap each,
 * so that no device memory is touched and a mapping left behind (or released twice) is a
 * sanitizer report. The .c files are included so that the fakes take their calls, as
 * tests/unit/uio_ut.c does.
 *
 * Input:
 *   +0  u8  bit 0: look for the instance 8e29ab16-1111-2222-3333-444455556666 (else the
 *           first device of the class)
 *   then the files, in the order below, each: u8 n, then n bytes of content (cut short by
 *   the end of the input); n = 255: the file is absent; files past the end are absent.
 *   Names (the device's directory, the uio node's entry, the channels' directories) lose
 *   '/' and NUL bytes (each becomes '_'); an absent or empty name is a fixed one.
 *     0 the device's directory name       1 class_id       2 device_id      3 id
 *     4 monitor_id      5 numa_node       6 the target of the `driver` symlink
 *     7 the entry under uio/ (uioN)       8..22 maps/map0..4: name, size, offset
 *     23..25 three channels/ directory names     26..28 their subchannel_id
 *     29..31 their ring files (the content's length is the file's size)
 *     32 the kernel release the config gives
 *
 * What must hold besides "no sanitizer report": a device the scan reports has a name that
 * fits, a monitor id below 128 or none, a NUMA node in -1..1023, and a uio index only when
 * bound to uio_hv_generic; a device found is the class asked for (and instance); a failure
 * says why in the message; maps are mapped only with the size rules uio_map_device() states
 * (rings: whole pairs of pages; the pages: at least 4 KiB; all at most 4 GiB; offset within
 * a page, none for the rings), at map K's offset in the node; subchannels come never the
 * primary, in subchannel index order, and once mapped are not offered again.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_check.h"

static int fuzz_uio_fd = -1; /* what stands for /dev/uioN: /dev/null, never mapped */

/* A byte of heap for each mapping: LeakSanitizer reports one that is never unmapped. */
static void *fuzz_mmap(void *address, size_t length, int protection, int flags, int fd, off_t offset)
{
	long page = sysconf(_SC_PAGESIZE);

	(void)address;
	FUZZ_CHECK(length > 0 && protection == (PROT_READ | PROT_WRITE) && flags == MAP_SHARED && fd >= 0);
	FUZZ_CHECK(offset >= 0 && offset % page == 0);
	if (fd == fuzz_uio_fd) {
		/* uio picks map K by the offset K pages; it refuses more than 4 GiB + a page anyway. */
		FUZZ_CHECK(offset / page < 5 && length <= (1ull << 32) + (size_t)page);
	} else {
		FUZZ_CHECK(offset == 0 && length <= (4u << 20) && length % (size_t)(2 * page) == 0);
	}
	return malloc(1);
}

static int fuzz_munmap(void *address, size_t length)
{
	FUZZ_CHECK(length > 0);
	free(address);
	return 0;
}

#define mmap fuzz_mmap
#define munmap fuzz_munmap
#include "../../drivers/bus/uio/uio_scan.c"
#include "../../drivers/bus/uio/uio_map.c"
#undef mmap
#undef munmap

#define FUZZ_CLASS "6ac83d8f-6e16-4e5c-ab3d-fd8c5a4b7e21"
#define FUZZ_INSTANCE "8e29ab16-1111-2222-3333-444455556666"
#define FUZZ_OTHER "8e29ab16-aaaa-bbbb-cccc-ddddeeeeffff"
#define FUZZ_FILES 33
#define FUZZ_ABSENT 255

struct fuzz_file {
	bool present;
	size_t size;
	char content[256];
};

static char root[64];
static char devices[128];
static char device_dir[512];

static void make_directories(const char *path)
{
	char partial[PATH_MAX];
	size_t i;

	snprintf(partial, sizeof(partial), "%s", path);
	for (i = 1; partial[i] != '\0'; i++)
		if (partial[i] == '/') {
			partial[i] = '\0';
			FUZZ_CHECK(mkdir(partial, 0755) == 0 || errno == EEXIST);
			partial[i] = '/';
		}
	FUZZ_CHECK(mkdir(partial, 0755) == 0 || errno == EEXIST);
}

static void write_at(const char *directory, const char *name, const char *content, size_t size)
{
	char path[PATH_MAX];
	int fd;

	make_directories(directory);
	snprintf(path, sizeof(path), "%s/%s", directory, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(size == 0 || write(fd, content, size) == (ssize_t)size);
	close(fd);
}

static void write_text(const char *directory, const char *name, const char *text)
{
	write_at(directory, name, text, strlen(text));
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	FUZZ_CHECK(remove(path) == 0);
	return 0;
}

static void remove_tree(void)
{
	(void)nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	char other[256], drivers[256];

	/* A tree rewritten for every input: in memory where there is a tmpfs, ten times faster. */
	snprintf(root, sizeof(root), "%s/uio_sysfs_fuzz.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	FUZZ_CHECK(mkdtemp(root) != NULL);
	atexit(remove_tree);
	snprintf(devices, sizeof(devices), "%s/sys/bus/vmbus/devices", root);
	snprintf(other, sizeof(other), "%s/" FUZZ_OTHER, devices);
	write_text(other, "class_id", "{f8615163-df3e-46c5-913f-f2d2f965ed0e}\n");
	write_text(other, "device_id", "{" FUZZ_OTHER "}\n");
	write_text(other, "id", "2\n");
	write_text(other, "monitor_id", "1\n");
	write_text(other, "numa_node", "0\n");
	snprintf(drivers, sizeof(drivers), "%s/sys/bus/vmbus/drivers/hv_netvsc", root);
	make_directories(drivers);
	snprintf(drivers, sizeof(drivers), "%s/driver", other);
	FUZZ_CHECK(symlink("../../../../bus/vmbus/drivers/hv_netvsc", drivers) == 0);
	fuzz_uio_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	FUZZ_CHECK(fuzz_uio_fd >= 0);
}

/* A directory entry's name from the input: no '/', no NUL, not "." or "..", never empty. */
static void entry_name(const struct fuzz_file *file, const char *fallback, char *name, size_t size)
{
	size_t i, n = file->present && file->size != 0 ? file->size : 0;

	if (n == 0) {
		snprintf(name, size, "%s", fallback);
		return;
	}
	n = n < size - 2 ? n : size - 2;
	name[0] = '\0';
	/* "." and ".." name directories that exist; a prefix makes them ordinary names. */
	if (file->content[0] == '.')
		strcat(name, "_");
	for (i = 0; i < n; i++) {
		char c = file->content[i] == '/' || file->content[i] == '\0' ? '_' : file->content[i];

		strncat(name, &c, 1);
	}
	name[size - 1] = '\0';
}

static size_t parse_files(const uint8_t *data, size_t size, struct fuzz_file *files)
{
	size_t at = 0;
	unsigned int i;

	memset(files, 0, sizeof(*files) * FUZZ_FILES);
	for (i = 0; i < FUZZ_FILES && at < size; i++) {
		size_t n = data[at++];

		if (n == FUZZ_ABSENT)
			continue;
		n = n < size - at ? n : size - at;
		files[i].present = true;
		files[i].size = n;
		memcpy(files[i].content, data + at, n);
		at += n;
	}
	return at;
}

static void write_file(const char *directory, const char *name, const struct fuzz_file *file)
{
	if (file->present)
		write_at(directory, name, file->content, file->size);
}

static void build_device(const struct fuzz_file *files)
{
	static const char *const attributes[] = { "class_id", "device_id", "id", "monitor_id", "numa_node" };
	static const char *const map_files[] = { "name", "size", "offset" };
	char name[96], path[PATH_MAX], uio_dir[PATH_MAX], target[256];
	unsigned int i, k;

	entry_name(&files[0], FUZZ_INSTANCE, name, sizeof(name));
	if (strcmp(name, FUZZ_OTHER) == 0)
		strcat(name, "_");
	snprintf(device_dir, sizeof(device_dir), "%s/%s", devices, name);
	make_directories(device_dir);
	for (i = 0; i < 5; i++)
		write_file(device_dir, attributes[i], &files[1 + i]);
	if (files[6].present && files[6].size != 0) {
		memcpy(target, files[6].content, files[6].size);
		target[files[6].size] = '\0';
		snprintf(path, sizeof(path), "%s/driver", device_dir);
		if (target[0] != '\0')
			FUZZ_CHECK(symlink(target, path) == 0);
	}
	entry_name(&files[7], "uio0", name, sizeof(name));
	snprintf(uio_dir, sizeof(uio_dir), "%s/uio/%s", device_dir, name);
	make_directories(uio_dir);
	for (i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/maps/map%u", uio_dir, i);
		for (k = 0; k < 3; k++)
			write_file(path, map_files[k], &files[8 + 3 * i + k]);
	}
	for (i = 0; i < 3; i++) {
		char fallback[16];

		snprintf(fallback, sizeof(fallback), "%u", 20 + i);
		entry_name(&files[23 + i], fallback, name, sizeof(name));
		snprintf(path, sizeof(path), "%s/channels/%s", device_dir, name);
		make_directories(path);
		write_file(path, "subchannel_id", &files[26 + i]);
		write_file(path, "ring", &files[29 + i]);
	}
}

static int check_info(const struct vmbus_uio_device_info *info, void *argument)
{
	unsigned int *count = argument;

	(*count)++;
	FUZZ_CHECK(memchr(info->name, '\0', sizeof(info->name)) != NULL);
	FUZZ_CHECK(memchr(info->driver, '\0', sizeof(info->driver)) != NULL);
	FUZZ_CHECK(info->monitor_id < UIO_MONITOR_ID_LIMIT || info->monitor_id == VMBUS_MONITOR_ID_NONE);
	FUZZ_CHECK(info->numa_node >= -1 && info->numa_node < 1024);
	FUZZ_CHECK(info->uio_index == -1 || (info->uio_index >= 0 && strcmp(info->driver, UIO_DRIVER_NAME) == 0));
	return 0;
}

static void check_maps(const struct uio_backend *backend)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned int i;

	for (i = 0; i < UIO_MAP_COUNT; i++) {
		const struct uio_mapping *map = &backend->maps[i];
		size_t offset, size;

		if (map->base == NULL)
			continue;
		offset = (size_t)((uint8_t *)map->address - (uint8_t *)map->base);
		size = map->size - offset;
		FUZZ_CHECK(offset < page && size > 0 && size <= (1ull << 32));
		if (i == UIO_MAP_RINGS)
			FUZZ_CHECK(offset == 0 && size % (2 * page) == 0 && size / 2 > page);
		if (i == UIO_MAP_INTERRUPT_PAGE || i == UIO_MAP_MONITOR_PAGE)
			FUZZ_CHECK(size >= 4096);
	}
}

static void map_found(const struct uio_find_device *find)
{
	static struct uio_backend backend;
	struct uio_subchannel found[63];
	char uio_dir[PATH_MAX + 32], message[256];
	unsigned int count, i, j;
	int rc;

	memset(&backend, 0, sizeof(backend));
	backend.fd = fuzz_uio_fd;
	backend.relid = find->info.relid;
	snprintf(backend.device_dir, sizeof(backend.device_dir), "%s", find->device_dir);
	/* Where vmbus_uio_open() looks for the node's maps. */
	FUZZ_CHECK(uio_format_path(uio_dir, sizeof(uio_dir), "%s/uio/uio%d", find->device_dir,
				   find->info.uio_index) == 0);
	message[0] = '\0';
	rc = uio_map_device(&backend, uio_dir, message, sizeof(message));
	if (rc != 0) {
		FUZZ_CHECK(rc < 0 && message[0] != '\0');
		uio_unmap_all(&backend);
		return;
	}
	FUZZ_CHECK(backend.maps[0].base != NULL && backend.maps[1].base != NULL && backend.maps[2].base != NULL);
	check_maps(&backend);

	count = uio_list_new_subchannels(&backend, found, 63);
	FUZZ_CHECK(count <= 3);
	for (i = 0; i < count; i++) {
		FUZZ_CHECK(found[i].relid != backend.relid);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(found[j].index <= found[i].index);
		if (uio_map_subchannel(&backend, found[i].relid, &backend.subchannel_rings[backend.subchannel_count]) == 0)
			backend.subchannel_relids[backend.subchannel_count++] = found[i].relid;
	}
	/* Those mapped are not offered again. */
	FUZZ_CHECK(uio_list_new_subchannels(&backend, found, 63) == count - backend.subchannel_count);
	uio_unmap_all(&backend);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_file files[FUZZ_FILES];
	struct vmbus_uio_config config = { 0 };
	struct vmbus_uio_open_params params = { .config = &config };
	struct vmbus_guid instance;
	struct uio_find_device find;
	struct uio_roots roots;
	char sysfs[128], release[256], message[512];
	unsigned int visited = 0;
	int rc;

	if (size < 1)
		return 0;
	if (fuzz_uio_fd < 0)
		setup();
	parse_files(data + 1, size - 1, files);
	build_device(files);

	snprintf(sysfs, sizeof(sysfs), "%s/sys", root);
	config.sysfs_root = sysfs;
	config.dev_root = "/nonexistent";
	if (files[32].present) {
		memcpy(release, files[32].content, files[32].size);
		release[files[32].size] = '\0';
		config.kernel_release = release;
	} else {
		config.kernel_release = "6.12.0";
	}

	FUZZ_CHECK(vmbus_uio_scan(&config, check_info, &visited) == 0);
	FUZZ_CHECK(visited >= 1 && visited <= 2); /* the other device, and the input's if it parses */

	FUZZ_CHECK(vmbus_guid_parse(FUZZ_CLASS, &params.class_id) == 0);
	FUZZ_CHECK(vmbus_guid_parse(FUZZ_INSTANCE, &instance) == 0);
	if (data[0] & 1)
		params.instance_id = &instance;
	message[0] = '\0';
	rc = uio_find_device(&params, &roots, &find, message, sizeof(message));
	if (find.found) {
		FUZZ_CHECK(vmbus_guid_equal(&find.info.class_id, &params.class_id));
		FUZZ_CHECK(params.instance_id == NULL || vmbus_guid_equal(&find.info.instance_id, &instance));
	}
	if (rc == 0) {
		FUZZ_CHECK(find.found && find.info.uio_index >= 0);
		map_found(&find);
	} else {
		FUZZ_CHECK(rc == -ENODEV || rc == -EPROTO || rc == -EOPNOTSUPP || rc == -ENXIO);
		FUZZ_CHECK(message[0] != '\0' && memchr(message, '\0', sizeof(message)) != NULL);
	}

	FUZZ_CHECK(nftw(device_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
	return 0;
}
