/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * VMBus devices bound to uio_hv_generic (kernel drivers/uio/uio_hv_generic.c, drivers/uio/uio.c).
 * Every fact used here is in shared/research/vmbus-spec.md section 1, with its kernel source.
 * sysfs is read as the kernel writes it, but not trusted to be sane: sizes and names are
 * checked before anything is mapped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <vmbus/backend.h>
#include <vmbus/memory.h>
#include <vmbus/uio.h>

#define UIO_DRIVER_NAME "uio_hv_generic"

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

/* Subchannel ring files appear after the offer; DPDK retries for 10 s, so do we by default. */
#define UIO_SUBCHANNEL_POLL_MS 10

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

/* snprintf for paths: a path that does not fit is an error, never a truncated path. */
static int format_path(char *path, size_t size, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

static int format_path(char *path, size_t size, const char *format, ...)
{
	va_list arguments;
	int length;

	va_start(arguments, format);
	length = vsnprintf(path, size, format, arguments);
	va_end(arguments);
	return length < 0 || (size_t)length >= size ? -ENAMETOOLONG : 0;
}

static void resolve_roots(const struct vmbus_uio_config *config, struct uio_roots *roots)
{
	const char *sysfs = config != NULL ? config->sysfs_root : NULL;
	const char *dev = config != NULL ? config->dev_root : NULL;
	struct utsname name;

	if (sysfs == NULL)
		sysfs = getenv("VMBUS_SYSFS_ROOT");
	if (dev == NULL)
		dev = getenv("VMBUS_DEV_ROOT");
	format_path(roots->sysfs, sizeof(roots->sysfs), "%s", sysfs != NULL && *sysfs ? sysfs : "/sys");
	format_path(roots->dev, sizeof(roots->dev), "%s", dev != NULL && *dev ? dev : "/dev");
	if (config != NULL && config->kernel_release != NULL)
		format_path(roots->kernel_release, sizeof(roots->kernel_release), "%s", config->kernel_release);
	else if (uname(&name) == 0)
		format_path(roots->kernel_release, sizeof(roots->kernel_release), "%s", name.release);
	else
		roots->kernel_release[0] = '\0';
}

static void set_error(char *message, size_t size, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

static void set_error(char *message, size_t size, const char *format, ...)
{
	va_list arguments;

	if (message == NULL || size == 0)
		return;
	va_start(arguments, format);
	vsnprintf(message, size, format, arguments);
	va_end(arguments);
}

/* Read a sysfs attribute: one line, newline stripped. */
static int read_attribute(const char *directory, const char *name, char *value, size_t size)
{
	char path[PATH_MAX];
	ssize_t length;
	int fd;

	if (format_path(path, sizeof(path), "%s/%s", directory, name) != 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	length = read(fd, value, size - 1);
	close(fd);
	if (length < 0)
		return -errno;
	value[length] = '\0';
	value[strcspn(value, "\n")] = '\0';
	return 0;
}

/* An unsigned number in sysfs style: decimal, or hex with 0x (map sizes). */
static int read_number(const char *directory, const char *name, uint64_t *number)
{
	char text[64], *end;
	int rc = read_attribute(directory, name, text, sizeof(text));

	if (rc != 0)
		return rc;
	/* Decimal, or 0x-prefixed hex as uio prints sizes; never octal, signs or spaces. */
	if (text[0] < '0' || text[0] > '9')
		return -EPROTO;
	errno = 0;
	*number = strncmp(text, "0x", 2) == 0 ? strtoull(text + 2, &end, 16) : strtoull(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return -EPROTO;
	return 0;
}

/* The GUID attributes may be written with braces ({...}, some kernels' class_id). */
static int read_guid(const char *directory, const char *name, struct vmbus_guid *guid)
{
	char text[64];
	int rc = read_attribute(directory, name, text, sizeof(text));

	if (rc != 0)
		return rc;
	return vmbus_guid_parse(text, guid) == 0 ? 0 : -EPROTO;
}

/* The name of the first entry of @directory starting with "uio" (the uio device), or -ENOENT. */
static int find_uio_index(const char *device_dir)
{
	char path[PATH_MAX];
	struct dirent *entry;
	int index = -ENOENT;
	DIR *directory;

	if (format_path(path, sizeof(path), "%s/uio", device_dir) != 0)
		return -ENAMETOOLONG;
	directory = opendir(path);
	if (directory == NULL)
		return -ENOENT;
	while ((entry = readdir(directory)) != NULL) {
		char *end;
		long value;

		if (strncmp(entry->d_name, "uio", 3) != 0)
			continue;
		value = strtol(entry->d_name + 3, &end, 10);
		if (end != entry->d_name + 3 && *end == '\0' && value >= 0 && value < INT_MAX) {
			index = (int)value;
			break;
		}
	}
	closedir(directory);
	return index;
}

static void read_driver(const char *device_dir, char *driver, size_t size)
{
	char path[PATH_MAX], target[PATH_MAX];
	ssize_t length;
	const char *slash;

	driver[0] = '\0';
	if (format_path(path, sizeof(path), "%s/driver", device_dir) != 0)
		return;
	length = readlink(path, target, sizeof(target) - 1);
	if (length <= 0)
		return;
	target[length] = '\0';
	slash = strrchr(target, '/');
	format_path(driver, size, "%s", slash != NULL ? slash + 1 : target);
}

static int read_device_info(const char *device_dir, const char *name, struct vmbus_uio_device_info *info)
{
	uint64_t number;
	int rc;

	memset(info, 0, sizeof(*info));
	if (format_path(info->name, sizeof(info->name), "%s", name) != 0)
		return -ENAMETOOLONG;
	rc = read_guid(device_dir, "class_id", &info->class_id);
	if (rc == 0)
		rc = read_guid(device_dir, "device_id", &info->instance_id);
	if (rc == 0)
		rc = read_number(device_dir, "id", &number);
	if (rc == 0 && number > UINT32_MAX)
		rc = -EPROTO;
	if (rc != 0)
		return rc;
	info->relid = (uint32_t)number;
	/* Hidden for non-monitored channels (vmbus_dev_attr_is_visible). */
	info->monitor_id = read_number(device_dir, "monitor_id", &number) == 0 && number < UIO_MONITOR_ID_LIMIT ?
		(uint32_t)number : VMBUS_MONITOR_ID_NONE;
	info->numa_node = read_number(device_dir, "numa_node", &number) == 0 && number < 1024 ? (int)number : -1;
	read_driver(device_dir, info->driver, sizeof(info->driver));
	info->uio_index = strcmp(info->driver, UIO_DRIVER_NAME) == 0 ? find_uio_index(device_dir) : -1;
	if (info->uio_index < 0)
		info->uio_index = -1;
	return 0;
}

static int scan_devices(const struct uio_roots *roots,
			int (*visit)(const struct vmbus_uio_device_info *info, const char *device_dir, void *argument),
			void *argument)
{
	char devices[PATH_MAX], device_dir[PATH_MAX];
	struct vmbus_uio_device_info info;
	struct dirent *entry;
	DIR *directory;
	int rc = 0;

	if (format_path(devices, sizeof(devices), "%s/bus/vmbus/devices", roots->sysfs) != 0)
		return -ENAMETOOLONG;
	directory = opendir(devices);
	if (directory == NULL)
		return errno == EACCES ? -EACCES : -ENOENT;
	while ((entry = readdir(directory)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		if (format_path(device_dir, sizeof(device_dir), "%s/%s", devices, entry->d_name) != 0)
			continue;
		/* A device whose attributes do not parse is not one we can drive: skip it. */
		if (read_device_info(device_dir, entry->d_name, &info) != 0)
			continue;
		rc = visit(&info, device_dir, argument);
		if (rc != 0)
			break;
	}
	closedir(directory);
	return rc;
}

struct public_scan {
	int (*visit)(const struct vmbus_uio_device_info *info, void *argument);
	void *argument;
};

static int visit_public(const struct vmbus_uio_device_info *info, const char *device_dir, void *argument)
{
	struct public_scan *scan = argument;

	(void)device_dir;
	return scan->visit(info, scan->argument);
}

int vmbus_uio_scan(const struct vmbus_uio_config *config,
		   int (*visit)(const struct vmbus_uio_device_info *info, void *argument), void *argument)
{
	struct public_scan scan = { .visit = visit, .argument = argument };
	struct uio_roots roots;

	if (visit == NULL)
		return -EINVAL;
	resolve_roots(config, &roots);
	return scan_devices(&roots, visit_public, &scan);
}

struct find_device {
	const struct vmbus_uio_open_params *params;
	struct vmbus_uio_device_info info;
	char device_dir[PATH_MAX];
	bool found;
};

static int visit_find(const struct vmbus_uio_device_info *info, const char *device_dir, void *argument)
{
	struct find_device *find = argument;

	if (!vmbus_guid_equal(&info->class_id, &find->params->class_id))
		return 0;
	if (find->params->instance_id != NULL && !vmbus_guid_equal(&info->instance_id, find->params->instance_id))
		return 0;
	/* Prefer a device uio_hv_generic owns; remember the first match otherwise, to explain. */
	if (!find->found || (find->info.uio_index < 0 && info->uio_index >= 0)) {
		find->info = *info;
		format_path(find->device_dir, sizeof(find->device_dir), "%s", device_dir);
		find->found = true;
	}
	return info->uio_index >= 0;
}

/* Kernel release "6.1.0-56-amd64" -> 601; 0 when it cannot be read. */
static unsigned int kernel_version(const char *release)
{
	unsigned int major = 0, minor = 0;

	if (sscanf(release, "%u.%u", &major, &minor) != 2)
		return 0;
	return major * 100 + minor;
}

/* The device is there but uio_hv_generic does not have it: say why and what to do. */
static int explain_unbound(const struct uio_roots *roots, const struct find_device *find, char *message,
			   size_t size)
{
	unsigned int version = kernel_version(roots->kernel_release);
	char class_text[VMBUS_GUID_STRING_SIZE];

	vmbus_guid_format(&find->info.class_id, class_text);
	if (strcmp(find->info.driver, UIO_DRIVER_NAME) == 0) {
		set_error(message, size, "device %s is bound to %s but has no uio node under its sysfs "
			  "directory: the driver and this library disagree (kernel %s)", find->info.name,
			  UIO_DRIVER_NAME, roots->kernel_release);
		return -EPROTO;
	}
	/*
	 * Before 6.10 ("uio_hv_generic: Enable interrupt for low speed VMBus devices"), the probe
	 * refuses channels without a monitor: "vmbus channel requires hypercall", -ENOTSUPP. A
	 * vendor kernel may carry the change under an older number, hence "probably".
	 */
	if (find->info.monitor_id == VMBUS_MONITOR_ID_NONE && version != 0 && version < 610) {
		set_error(message, size,
			  "device %s has a non-monitored channel, and uio_hv_generic needs kernel 6.10 "
			  "or later to drive those: this kernel (%s) probably refuses it (dmesg says "
			  "\"vmbus channel requires hypercall\"); boot a 6.10+ kernel, or use a device "
			  "with a monitored channel", find->info.name, roots->kernel_release);
		return -EOPNOTSUPP;
	}
	if (find->info.driver[0] != '\0')
		set_error(message, size,
			  "device %s (class %s) is bound to the kernel driver %s, not to %s: run "
			  "scripts/vmbus-bind --bind %s", find->info.name, class_text, find->info.driver,
			  UIO_DRIVER_NAME, find->info.name);
	else
		set_error(message, size,
			  "device %s (class %s) is not bound to %s: run scripts/vmbus-bind --bind %s "
			  "(as root; it loads the module if needed)", find->info.name, class_text,
			  UIO_DRIVER_NAME, class_text);
	return -ENXIO;
}

/* Read map K's name and size from sysfs and check them against what uio_hv_generic creates. */
static int read_map(const char *uio_dir, unsigned int index, char *name, size_t name_size, uint64_t *size)
{
	char map_dir[PATH_MAX];
	int rc;

	rc = format_path(map_dir, sizeof(map_dir), "%s/maps/map%u", uio_dir, index);
	if (rc == 0)
		rc = read_attribute(map_dir, "name", name, name_size);
	if (rc == 0)
		rc = read_number(map_dir, "size", size);
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

static void unmap_all(struct uio_backend *backend)
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
static int map_device(struct uio_backend *backend, const char *uio_dir, char *message, size_t message_size)
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
			set_error(message, message_size, "%s/maps/map%u is missing or unreadable (%s)",
				  uio_dir, index, strerror(-rc));
			return -EPROTO;
		}
		if (index < UIO_MAP_RECEIVE && strcmp(name, fixed_names[index]) != 0) {
			set_error(message, message_size, "%s/maps/map%u is \"%s\", expected \"%s\"", uio_dir,
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
			set_error(message, message_size, "%s/maps/map%u has an impossible size %" PRIu64,
				  uio_dir, index, size);
			return -EPROTO;
		}
		/*
		 * uio maps whole pages: a map smaller than a system page (the 4 KiB interrupt and
		 * monitor pages on 64K-page kernels before 2025) starts at maps/mapK/offset in it.
		 */
		char map_dir[PATH_MAX + 16];
		uint64_t offset = 0;

		if (format_path(map_dir, sizeof(map_dir), "%s/maps/map%u", uio_dir, index) == 0 &&
		    read_number(map_dir, "offset", &offset) != 0)
			offset = 0;
		if (offset >= page_size || (index == UIO_MAP_RINGS && offset != 0)) {
			set_error(message, message_size, "%s/maps/map%u has an impossible offset %" PRIu64,
				  uio_dir, index, offset);
			return -EPROTO;
		}
		rc = map_uio(backend->fd, index, (size_t)(offset + size), &backend->maps[index].base);
		if (rc != 0) {
			set_error(message, message_size, "mmap of map%u (%s, %" PRIu64 " bytes) failed: %s",
				  index, name, size, strerror(-rc));
			return rc;
		}
		backend->maps[index].size = (size_t)(offset + size);
		backend->maps[index].address = (uint8_t *)backend->maps[index].base + offset;
	}
	return 0;
}

/*
 * Monitored channel: set the channel's trigger bit; the hypervisor scans the page after the
 * channel's latency. DPDK dropped the interrupt-page bit the kernel also sets ("bus/vmbus:
 * remove sending interrupts via INT bit"). Non-monitored: only the kernel can issue the
 * HvSignalEvent hypercall, through the irqcontrol write (6.10+).
 */
static int uio_signal(struct vmbus_device *device, unsigned int index)
{
	struct uio_backend *backend = vmbus_device_backend_data(device);
	uint32_t monitor_id = index < 64 ? backend->monitor_ids[index] : VMBUS_MONITOR_ID_NONE;
	const int32_t enable = 1;

	if (monitor_id != VMBUS_MONITOR_ID_NONE) {
		vmbus_monitor_trigger(backend->maps[UIO_MAP_MONITOR_PAGE].address, monitor_id);
		return 0;
	}
	if (write(backend->fd, &enable, sizeof(enable)) == (ssize_t)sizeof(enable))
		return 0;
	/* EIO: rescinded (hv_uio_rescind sets irq to 0, every call then fails). */
	return -ENOTCONN;
}

/* uio's read blocks until the device's event count moves, and returns the new count. */
static int uio_wait(struct vmbus_device *device, int timeout_ms)
{
	struct uio_backend *backend = vmbus_device_backend_data(device);
	struct pollfd pfd = { .fd = backend->fd, .events = POLLIN };
	uint32_t count;
	ssize_t length;
	int rc = poll(&pfd, 1, timeout_ms);

	if (rc < 0)
		return errno == EINTR ? -EINTR : -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	length = read(backend->fd, &count, sizeof(count));
	if (length == (ssize_t)sizeof(count)) {
		__atomic_store_n(&backend->interrupt_count, count, __ATOMIC_RELAXED);
		return 0;
	}
	if (length < 0 && (errno == EINTR || errno == EAGAIN))
		return -EINTR;
	return -ENOTCONN; /* EIO after rescind, or a device that no longer reads as uio */
}

/* uio's fd is the device's one interrupt line: readable when the count has moved. */
static int uio_event_fd(const struct vmbus_device *device)
{
	const struct uio_backend *backend = vmbus_device_backend_data(device);

	return backend->fd;
}

static void free_dma_regions(struct uio_backend *backend);

static void uio_release(struct vmbus_device *device)
{
	struct uio_backend *backend = vmbus_device_backend_data(device);

	free_dma_regions(backend);
	pthread_mutex_destroy(&backend->dma_lock);
	unmap_all(backend);
	close(backend->fd);
	free(backend);
}

/* Maps 3 and 4, when the kernel made them (network devices only since 6.14). */
static int uio_gpadl_region(const struct vmbus_device *device, unsigned int index,
			    struct vmbus_gpadl_region *region)
{
	const struct uio_backend *backend = vmbus_device_backend_data(device);
	const struct uio_mapping *mapping = &backend->maps[UIO_MAP_RECEIVE + index];

	if (index > 1 || mapping->address == NULL)
		return -ENOENT;
	region->address = mapping->address;
	region->size = mapping->size;
	region->gpadl = mapping->gpadl;
	return 0;
}

static int uio_dma_alloc(struct vmbus_device *device, size_t size, void **address);
static void uio_dma_free(struct vmbus_device *device, void *address, size_t size);
static int uio_dma_share(struct vmbus_device *device, const void *address, size_t size, int *fd,
			 uint64_t *offset);
static int uio_dma_pfns(struct vmbus_device *device, const void *address, size_t size, uint64_t *pfns,
			size_t max);

static const struct vmbus_backend_ops uio_ops = {
	.name = "uio",
	.signal = uio_signal,
	.wait = uio_wait,
	.release = uio_release,
	.event_fd = uio_event_fd,
	.gpadl_region = uio_gpadl_region,
	.dma_alloc = uio_dma_alloc,
	.dma_free = uio_dma_free,
	.dma_pfns = uio_dma_pfns,
	.dma_share = uio_dma_share,
};

static int open_uio_node(const struct uio_roots *roots, int uio_index, char *message, size_t size)
{
	char path[PATH_MAX];
	int fd;

	if (format_path(path, sizeof(path), "%s/uio%d", roots->dev, uio_index) != 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (errno == EACCES || errno == EPERM)
		set_error(message, size, "permission denied opening %s: run as root, or give this user "
			  "read/write access to it (udev rule or chmod)", path);
	else
		set_error(message, size, "cannot open %s: %s", path, strerror(errno));
	return errno == EPERM ? -EACCES : -errno;
}

int vmbus_uio_open(const struct vmbus_uio_open_params *params, struct vmbus_device **device)
{
	struct find_device find = { .params = params };
	struct vmbus_channel_region region;
	struct vmbus_device_params device_params;
	char uio_dir[PATH_MAX + 32], class_text[VMBUS_GUID_STRING_SIZE];
	char *message = params != NULL ? params->error_message : NULL;
	size_t message_size = params != NULL ? params->error_size : 0;
	struct uio_backend *backend;
	struct uio_roots roots;
	int rc;

	if (params == NULL || device == NULL)
		return -EINVAL;
	resolve_roots(params->config, &roots);
	vmbus_guid_format(&params->class_id, class_text);

	rc = scan_devices(&roots, visit_find, &find);
	if (rc == -ENOENT) {
		set_error(message, message_size, "no VMBus under %s/bus/vmbus: not a Hyper-V guest, "
			  "or the hv_vmbus module is not loaded", roots.sysfs);
		return rc;
	}
	if (rc < 0) {
		set_error(message, message_size, "cannot read %s/bus/vmbus/devices: %s", roots.sysfs,
			  strerror(-rc));
		return rc;
	}
	if (!find.found) {
		set_error(message, message_size, "no VMBus device of class %s%s under %s/bus/vmbus/devices",
			  class_text, params->instance_id != NULL ? " with that instance" : "", roots.sysfs);
		return -ENODEV;
	}
	if (find.info.uio_index < 0)
		return explain_unbound(&roots, &find, message, message_size);

	backend = calloc(1, sizeof(*backend));
	if (backend == NULL)
		return -ENOMEM;
	format_path(backend->device_dir, sizeof(backend->device_dir), "%s", find.device_dir);
	backend->relid = find.info.relid;
	backend->kernel_version = kernel_version(roots.kernel_release);
	for (unsigned int i = 0; i < 64; i++)
		backend->monitor_ids[i] = VMBUS_MONITOR_ID_NONE;
	backend->monitor_ids[0] = find.info.monitor_id;
	pthread_mutex_init(&backend->dma_lock, NULL);
	backend->fd = open_uio_node(&roots, find.info.uio_index, message, message_size);
	if (backend->fd < 0) {
		rc = backend->fd;
		goto err_free_backend;
	}
	rc = format_path(uio_dir, sizeof(uio_dir), "%s/uio/uio%d", find.device_dir, find.info.uio_index);
	if (rc == 0)
		rc = map_device(backend, uio_dir, message, message_size);
	if (rc != 0)
		goto err_unmap;

	region = (struct vmbus_channel_region){
		.ring_base = backend->maps[UIO_MAP_RINGS].address,
		.ring_size = backend->maps[UIO_MAP_RINGS].size / 2,
		.relid = find.info.relid,
		.monitor_id = find.info.monitor_id,
	};
	memset(&device_params, 0, sizeof(device_params));
	device_params.class_id = find.info.class_id;
	device_params.instance_id = find.info.instance_id;
	device_params.numa_node = find.info.numa_node;
	device_params.side = VMBUS_SIDE_GUEST;
	device_params.page_size = (size_t)sysconf(_SC_PAGESIZE);
	device_params.channel_count = 1;
	device_params.channels = &region;
	device_params.ops = &uio_ops;
	device_params.backend_data = backend;
	if (find.info.monitor_id == VMBUS_MONITOR_ID_NONE)
		device_params.quirks = VMBUS_BACKEND_SIGNAL_UNMASKS_RX;
	rc = vmbus_device_create(&device_params, device);
	if (rc != 0)
		goto err_unmap;
	return 0;

err_unmap:
	unmap_all(backend);
	close(backend->fd);
err_free_backend:
	free(backend);
	return rc;
}

/* A subchannel offered by the host: its relid and its index among subchannels. */
struct subchannel {
	uint32_t relid;
	uint64_t index; /* channels/<relid>/subchannel_id, the order DPDK uses; else the relid */
};

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
static unsigned int list_new_subchannels(const struct uio_backend *backend, struct subchannel *found,
					 unsigned int max)
{
	char path[PATH_MAX + 64], channel_dir[PATH_MAX + 32];
	struct dirent *entry;
	unsigned int count = 0, i, j;
	DIR *directory;

	if (format_path(path, sizeof(path), "%s/channels", backend->device_dir) != 0)
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
		if (format_path(path, sizeof(path), "%s/channels/%s/ring", backend->device_dir,
				entry->d_name) != 0 ||
		    stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		format_path(channel_dir, sizeof(channel_dir), "%s/channels/%s", backend->device_dir, entry->d_name);
		if (read_number(channel_dir, "subchannel_id", &index) != 0 || index == 0)
			index = relid;
		found[count++] = (struct subchannel){ .relid = (uint32_t)relid, .index = index };
	}
	closedir(directory);
	for (i = 1; i < count; i++)
		for (j = i; j > 0 && found[j - 1].index > found[j].index; j--) {
			struct subchannel swap = found[j];

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
static int map_subchannel(struct uio_backend *backend, uint32_t relid, struct uio_mapping *mapping)
{
	size_t page_size = (size_t)sysconf(_SC_PAGESIZE), size = 4u << 20;
	char path[PATH_MAX + 64];
	struct stat st;
	void *address;
	int fd, rc;

	if (format_path(path, sizeof(path), "%s/channels/%u/ring", backend->device_dir, relid) != 0)
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

static uint64_t now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* The uio backend of @device, or NULL when the device belongs to another backend. */
static struct uio_backend *uio_backend_of(const struct vmbus_device *device)
{
	if (device == NULL || strcmp(vmbus_device_backend_name(device), uio_ops.name) != 0)
		return NULL;
	return vmbus_device_backend_data(device);
}

int vmbus_uio_open_subchannels(struct vmbus_device *device, unsigned int count, int timeout_ms)
{
	struct uio_backend *backend = uio_backend_of(device);
	struct subchannel found[63];
	unsigned int available, i;
	uint64_t deadline;
	int rc;

	if (backend == NULL || count > 63)
		return -EINVAL;
	if (count <= backend->subchannel_count)
		return 0;
	deadline = now_ms() + (timeout_ms < 0 ? 10000u : (uint64_t)timeout_ms);
	/* The ring files appear asynchronously after the offer (hv_uio_probe's comment). */
	for (;;) {
		available = list_new_subchannels(backend, found, 63);
		if (backend->subchannel_count + available >= count)
			break;
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(UIO_SUBCHANNEL_POLL_MS * 1000);
	}
	for (i = 0; backend->subchannel_count < count; i++) {
		struct uio_mapping *mapping = &backend->subchannel_rings[backend->subchannel_count];
		char channel_dir[PATH_MAX + 32];
		struct vmbus_channel_region region;
		uint64_t monitor_id;

		format_path(channel_dir, sizeof(channel_dir), "%s/channels/%u", backend->device_dir, found[i].relid);
		/* Each channel has its own monitor slot, hidden when it has none. */
		if (read_number(channel_dir, "monitor_id", &monitor_id) != 0 || monitor_id >= UIO_MONITOR_ID_LIMIT)
			monitor_id = VMBUS_MONITOR_ID_NONE;
		/*
		 * A non-monitored subchannel is signalled by the same irqcontrol write as the
		 * primary, which reaches subchannels only since 6.16 ("Set event for all channels
		 * on the device"); before, the host would never hear from it.
		 */
		if (monitor_id == VMBUS_MONITOR_ID_NONE && backend->kernel_version != 0 &&
		    backend->kernel_version < 616)
			return -EOPNOTSUPP;
		rc = map_subchannel(backend, found[i].relid, mapping);
		if (rc != 0)
			return rc;
		region = (struct vmbus_channel_region){
			.ring_base = mapping->address,
			.ring_size = mapping->size / 2,
			.relid = found[i].relid,
			.monitor_id = (uint32_t)monitor_id,
		};
		rc = vmbus_device_add_channel(device, &region);
		if (rc < 0) {
			munmap(mapping->base, mapping->size);
			memset(mapping, 0, sizeof(*mapping));
			return rc;
		}
		backend->monitor_ids[rc] = (uint32_t)monitor_id;
		backend->subchannel_relids[backend->subchannel_count++] = found[i].relid;
		/* Its signal is the fd write: it clears RX masks like the primary's (6.16+). */
		if (monitor_id == VMBUS_MONITOR_ID_NONE)
			vmbus_device_add_quirks(device, VMBUS_BACKEND_SIGNAL_UNMASKS_RX);
	}
	return 0;
}

uint32_t vmbus_uio_interrupt_count(const struct vmbus_device *device)
{
	const struct uio_backend *backend = uio_backend_of(device);

	return backend != NULL ? __atomic_load_n(&backend->interrupt_count, __ATOMIC_RELAXED) : 0;
}

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

static int uio_dma_alloc(struct vmbus_device *device, size_t size, void **address)
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

static void uio_dma_free(struct vmbus_device *device, void *address, size_t size)
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

static int uio_dma_share(struct vmbus_device *device, const void *address, size_t size, int *fd,
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

static void free_dma_regions(struct uio_backend *backend)
{
	struct uio_dma_region *region;

	while ((region = backend->dma_regions) != NULL) {
		backend->dma_regions = region->next;
		munmap(region->address, region->size);
		close(region->fd);
		free(region);
	}
}

static int uio_dma_pfns(struct vmbus_device *device, const void *address, size_t size, uint64_t *pfns,
			size_t max)
{
	size_t count;
	int rc;

	(void)device;
	rc = read_frames(address, size, pfns, max, &count);
	return rc != 0 ? rc : (int)count;
}
