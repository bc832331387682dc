/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Finding VMBus devices in sysfs, and saying why the one asked for cannot be driven. Apart
 * from the maps and the backend ops because it only reads sysfs: vmbus_uio_scan() needs
 * nothing else, and a failed open's message (kernel too old, bound to another driver) is
 * decided here. sysfs is read as the kernel writes it (shared/research/vmbus-spec.md
 * section 1), but not trusted to be sane: names and numbers are checked as they are read.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <vmbus/guid.h>
#include <vmbus/uio.h>

#include "uio_private.h"

#define UIO_DRIVER_NAME "uio_hv_generic"

int uio_format_path(char *path, size_t size, const char *format, ...)
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
		sysfs = secure_getenv("VMBUS_SYSFS_ROOT");
	if (dev == NULL)
		dev = secure_getenv("VMBUS_DEV_ROOT");
	uio_format_path(roots->sysfs, sizeof(roots->sysfs), "%s", sysfs != NULL && *sysfs ? sysfs : "/sys");
	uio_format_path(roots->dev, sizeof(roots->dev), "%s", dev != NULL && *dev ? dev : "/dev");
	if (config != NULL && config->kernel_release != NULL)
		uio_format_path(roots->kernel_release, sizeof(roots->kernel_release), "%s", config->kernel_release);
	else if (uname(&name) == 0)
		uio_format_path(roots->kernel_release, sizeof(roots->kernel_release), "%s", name.release);
	else
		roots->kernel_release[0] = '\0';
}

void uio_set_error(char *message, size_t size, const char *format, ...)
{
	va_list arguments;

	if (message == NULL || size == 0)
		return;
	va_start(arguments, format);
	vsnprintf(message, size, format, arguments);
	va_end(arguments);
}

/* Read a sysfs attribute: one line, newline stripped. */
int uio_read_attribute(const char *directory, const char *name, char *value, size_t size)
{
	char path[PATH_MAX];
	ssize_t length;
	int fd;

	if (uio_format_path(path, sizeof(path), "%s/%s", directory, name) != 0)
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
int uio_read_number(const char *directory, const char *name, uint64_t *number)
{
	char text[64], *end;
	int rc = uio_read_attribute(directory, name, text, sizeof(text));

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
	int rc = uio_read_attribute(directory, name, text, sizeof(text));

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

	if (uio_format_path(path, sizeof(path), "%s/uio", device_dir) != 0)
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
	if (uio_format_path(path, sizeof(path), "%s/driver", device_dir) != 0)
		return;
	length = readlink(path, target, sizeof(target) - 1);
	if (length <= 0)
		return;
	target[length] = '\0';
	slash = strrchr(target, '/');
	uio_format_path(driver, size, "%s", slash != NULL ? slash + 1 : target);
}

static int read_device_info(const char *device_dir, const char *name, struct vmbus_uio_device_info *info)
{
	uint64_t number;
	int rc;

	memset(info, 0, sizeof(*info));
	if (uio_format_path(info->name, sizeof(info->name), "%s", name) != 0)
		return -ENAMETOOLONG;
	rc = read_guid(device_dir, "class_id", &info->class_id);
	if (rc == 0)
		rc = read_guid(device_dir, "device_id", &info->instance_id);
	if (rc == 0)
		rc = uio_read_number(device_dir, "id", &number);
	if (rc == 0 && number > UINT32_MAX)
		rc = -EPROTO;
	if (rc != 0)
		return rc;
	info->relid = (uint32_t)number;
	/* Hidden for non-monitored channels (vmbus_dev_attr_is_visible). */
	info->monitor_id = uio_read_number(device_dir, "monitor_id", &number) == 0 && number < UIO_MONITOR_ID_LIMIT ?
		(uint32_t)number : VMBUS_MONITOR_ID_NONE;
	info->numa_node = uio_read_number(device_dir, "numa_node", &number) == 0 && number < 1024 ? (int)number : -1;
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

	if (uio_format_path(devices, sizeof(devices), "%s/bus/vmbus/devices", roots->sysfs) != 0)
		return -ENAMETOOLONG;
	directory = opendir(devices);
	if (directory == NULL)
		return errno == EACCES ? -EACCES : -ENOENT;
	while ((entry = readdir(directory)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		if (uio_format_path(device_dir, sizeof(device_dir), "%s/%s", devices, entry->d_name) != 0)
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

static int visit_find(const struct vmbus_uio_device_info *info, const char *device_dir, void *argument)
{
	struct uio_find_device *find = argument;

	if (!vmbus_guid_equal(&info->class_id, &find->params->class_id))
		return 0;
	if (find->params->instance_id != NULL && !vmbus_guid_equal(&info->instance_id, find->params->instance_id))
		return 0;
	/* Prefer a device uio_hv_generic owns; remember the first match otherwise, to explain. */
	if (!find->found || (find->info.uio_index < 0 && info->uio_index >= 0)) {
		find->info = *info;
		uio_format_path(find->device_dir, sizeof(find->device_dir), "%s", device_dir);
		find->found = true;
	}
	return info->uio_index >= 0;
}

/* Kernel release "6.1.0-56-amd64" -> 601; 0 when it cannot be read. */
unsigned int uio_kernel_version(const char *release)
{
	unsigned int major = 0, minor = 0;

	if (sscanf(release, "%u.%u", &major, &minor) != 2)
		return 0;
	return major * 100 + minor;
}

/* The device is there but uio_hv_generic does not have it: say why and what to do. */
static int explain_unbound(const struct uio_roots *roots, const struct uio_find_device *find, char *message,
			   size_t size)
{
	unsigned int version = uio_kernel_version(roots->kernel_release);
	char class_text[VMBUS_GUID_STRING_SIZE];

	vmbus_guid_format(&find->info.class_id, class_text);
	if (strcmp(find->info.driver, UIO_DRIVER_NAME) == 0) {
		uio_set_error(message, size, "device %s is bound to %s but has no uio node under its sysfs "
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
		uio_set_error(message, size,
			      "device %s has a non-monitored channel, and uio_hv_generic needs kernel 6.10 "
			      "or later to drive those: this kernel (%s) probably refuses it (dmesg says "
			      "\"vmbus channel requires hypercall\"); boot a 6.10+ kernel, or use a device "
			      "with a monitored channel", find->info.name, roots->kernel_release);
		return -EOPNOTSUPP;
	}
	if (find->info.driver[0] != '\0')
		uio_set_error(message, size,
			      "device %s (class %s) is bound to the kernel driver %s, not to %s: run "
			      "scripts/vmbus-bind --bind %s", find->info.name, class_text, find->info.driver,
			      UIO_DRIVER_NAME, find->info.name);
	else
		uio_set_error(message, size,
			      "device %s (class %s) is not bound to %s: run scripts/vmbus-bind --bind %s "
			      "(as root; it loads the module if needed)", find->info.name, class_text,
			      UIO_DRIVER_NAME, class_text);
	return -ENXIO;
}

int uio_find_device(const struct vmbus_uio_open_params *params, struct uio_roots *roots,
		    struct uio_find_device *find, char *message, size_t message_size)
{
	char class_text[VMBUS_GUID_STRING_SIZE];
	int rc;

	*find = (struct uio_find_device){ .params = params };
	resolve_roots(params->config, roots);
	vmbus_guid_format(&params->class_id, class_text);

	rc = scan_devices(roots, visit_find, find);
	if (rc == -ENOENT) {
		uio_set_error(message, message_size, "no VMBus under %s/bus/vmbus: not a Hyper-V guest, "
			      "or the hv_vmbus module is not loaded", roots->sysfs);
		return rc;
	}
	if (rc < 0) {
		uio_set_error(message, message_size, "cannot read %s/bus/vmbus/devices: %s", roots->sysfs,
			      strerror(-rc));
		return rc;
	}
	if (!find->found) {
		uio_set_error(message, message_size, "no VMBus device of class %s%s under %s/bus/vmbus/devices",
			      class_text, params->instance_id != NULL ? " with that instance" : "", roots->sysfs);
		return -ENODEV;
	}
	if (find->info.uio_index < 0)
		return explain_unbound(roots, find, message, message_size);
	return 0;
}
