/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of drivers/bus/uio on fake sysfs trees shaped like three kernels
 * (shared/research/vmbus-spec.md 1.3, 1.8):
 *   linux-6.1   monitored channel, maps 0-4, 2 MiB rings
 *   linux-6.12  non-monitored channel, maps 0-4, 2 MiB rings
 *   mainline    non-monitored, maps 0-2 only, 68 KiB primary rings, subchannel `ring` files
 *
 * The backend's source files are included (as SPDK's unit tests do) with open() and mmap()
 * renamed: the fake /dev/uio0 is one end of a socketpair (its reads are interrupt counts, its
 * writes the irqcontrol signals), and mapping it at offset K * page size maps the memfd
 * standing in for map K, as uio_mmap() selects the map by the offset. All of them: this
 * object then defines every symbol of drivers/bus/uio, so the linker takes none of the
 * archive's copies (one taken for a missing symbol would bring the real open() and mmap(),
 * and define again what this object defines).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <vmbus/backend.h>
#include <vmbus/channel.h>
#include <vmbus/memory.h>
#include <vmbus/ring.h>
#include <vmbus/uio.h>

#define CLASS "6ac83d8f-6e16-4e5c-ab3d-fd8c5a4b7e21"
#define INSTANCE "8e29ab16-1111-2222-3333-444455556666"
#define OTHER_INSTANCE "8e29ab16-aaaa-bbbb-cccc-ddddeeeeffff"

/* The fake kernel: memfds per map, the socketpair behind /dev/uio0. */
static struct {
	char root[64];         /* holds sys/ and dev/ */
	char dev_node[128];
	int map_fd[5];
	size_t map_size[5];
	int uio_fd;            /* what open() of the node returned (the driver's end) */
	int kernel_fd;         /* the test's end: reads signals, writes interrupt counts */
	bool deny_open;
} fake;

static int fake_open(const char *path, int flags, ...)
{
	int pair[2];

	if (strcmp(path, fake.dev_node) != 0)
		return open(path, flags);
	if (fake.deny_open) {
		errno = EACCES;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
		return -1;
	fake.uio_fd = pair[0];
	fake.kernel_fd = pair[1];
	return pair[0];
}

static void *fake_mmap(void *address, size_t length, int protection, int flags, int fd, off_t offset)
{
	long page = sysconf(_SC_PAGESIZE);
	long index = offset / page;

	if (fd != fake.uio_fd || fake.uio_fd < 0)
		return mmap(address, length, protection, flags, fd, offset);
	/* uio_find_mem_index / uio_mmap_physical: the offset picks the map, the length must fit. */
	if (offset % page != 0 || index < 0 || index >= 5 || fake.map_fd[index] < 0 ||
	    length > fake.map_size[index]) {
		errno = EINVAL;
		return MAP_FAILED;
	}
	return mmap(address, length, protection, flags, fake.map_fd[index], 0);
}

#define open fake_open
#define mmap fake_mmap
#include "../../drivers/bus/uio/uio_scan.c"
#include "../../drivers/bus/uio/uio_map.c"
#include "../../drivers/bus/uio/uio_dma.c"
#include "../../drivers/bus/uio/uio_bus.c"
#undef open
#undef mmap

#include "asleep.h"

static void write_file(const char *relative, const char *content)
{
	char path[PATH_MAX], command[PATH_MAX + 32];
	FILE *file;

	snprintf(path, sizeof(path), "%s/%s", fake.root, relative);
	snprintf(command, sizeof(command), "mkdir -p \"$(dirname '%s')\"", path);
	assert_int_equal(system(command), 0);
	file = fopen(path, "w");
	assert_non_null(file);
	fputs(content, file);
	fclose(file);
}

static void make_link(const char *relative, const char *target)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", fake.root, relative);
	assert_int_equal(symlink(target, path), 0);
}

static void make_map(unsigned int index, const char *name, size_t size)
{
	char relative[256], text[32];

	snprintf(relative, sizeof(relative), "sys/bus/vmbus/devices/" INSTANCE "/uio/uio0/maps/map%u/name", index);
	write_file(relative, name);
	snprintf(relative, sizeof(relative), "sys/bus/vmbus/devices/" INSTANCE "/uio/uio0/maps/map%u/size", index);
	snprintf(text, sizeof(text), "0x%zx\n", size);
	write_file(relative, text);
	fake.map_fd[index] = memfd_create("uio_ut map", MFD_CLOEXEC);
	assert_true(fake.map_fd[index] >= 0);
	assert_int_equal(ftruncate(fake.map_fd[index], (off_t)size), 0);
	fake.map_size[index] = size;
	/* The kernel initialises the ring headers at open (hv_ringbuffer_init). */
	if (index == 0) {
		uint8_t *rings = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fake.map_fd[0], 0);

		vmbus_ring_header_init(rings, (size_t)sysconf(_SC_PAGESIZE));
		vmbus_ring_header_init(rings + size / 2, (size_t)sysconf(_SC_PAGESIZE));
		munmap(rings, size);
	}
}

enum shape { LINUX_6_1, LINUX_6_12, MAINLINE };

/* A device directory as vmbus_drv.c and uio_hv_generic.c lay it out. */
static void make_device(const char *instance, const char *class_text, bool monitored, const char *driver)
{
	char relative[256];

	snprintf(relative, sizeof(relative), "sys/bus/vmbus/devices/%s/class_id", instance);
	write_file(relative, class_text);
	snprintf(relative, sizeof(relative), "sys/bus/vmbus/devices/%s/device_id", instance);
	write_file(relative, instance);
	snprintf(relative, sizeof(relative), "sys/bus/vmbus/devices/%s/id", instance);
	write_file(relative, "14\n");
	snprintf(relative, sizeof(relative), "sys/bus/vmbus/devices/%s/numa_node", instance);
	write_file(relative, "0\n");
	if (monitored) {
		snprintf(relative, sizeof(relative), "sys/bus/vmbus/devices/%s/monitor_id", instance);
		write_file(relative, "37\n");
	}
	if (driver != NULL) {
		char target[128];

		snprintf(relative, sizeof(relative), "sys/bus/vmbus/drivers/%s/bind", driver);
		write_file(relative, "");
		snprintf(relative, sizeof(relative), "sys/bus/vmbus/devices/%s/driver", instance);
		snprintf(target, sizeof(target), "../../drivers/%s", driver);
		make_link(relative, target);
	}
}

static void build_tree(enum shape shape)
{
	size_t ring = shape == MAINLINE ? 0x11000 : 2u << 20;

	/* A device of another class first, so the scan has to skip it. */
	make_device(OTHER_INSTANCE, "{F8615163-DF3E-46C5-913F-F2D2F965ED0E}\n", true, "hv_netvsc");
	make_device(INSTANCE, "{6AC83D8F-6E16-4E5C-AB3D-FD8C5A4B7E21}\n", shape == LINUX_6_1, "uio_hv_generic");
	make_map(0, "txrx_rings", 2 * ring);
	make_map(1, "int_page", 0x1000);
	make_map(2, "monitor_page", 0x1000);
	if (shape != MAINLINE) {
		make_map(3, "recv:925200", 0x1f00000);
		make_map(4, "send:925201", 0x1000000);
	}
	write_file("dev/uio0", "");
}

static int setup(void **state)
{
	(void)state;
	memset(&fake, 0, sizeof(fake));
	for (int i = 0; i < 5; i++)
		fake.map_fd[i] = -1;
	fake.uio_fd = fake.kernel_fd = -1;
	snprintf(fake.root, sizeof(fake.root), "/tmp/uio_ut.XXXXXX");
	if (mkdtemp(fake.root) == NULL)
		return -1;
	snprintf(fake.dev_node, sizeof(fake.dev_node), "%s/dev/uio0", fake.root);
	return 0;
}

static int teardown(void **state)
{
	char command[128];

	(void)state;
	for (int i = 0; i < 5; i++)
		if (fake.map_fd[i] >= 0)
			close(fake.map_fd[i]);
	if (fake.kernel_fd >= 0)
		close(fake.kernel_fd);
	snprintf(command, sizeof(command), "rm -rf '%s'", fake.root);
	return system(command) == 0 ? 0 : -1;
}

static struct vmbus_uio_config config_for(const char *kernel_release)
{
	static char sysfs[128], dev[128];
	struct vmbus_uio_config config;

	snprintf(sysfs, sizeof(sysfs), "%s/sys", fake.root);
	snprintf(dev, sizeof(dev), "%s/dev", fake.root);
	config = (struct vmbus_uio_config){ .sysfs_root = sysfs, .dev_root = dev,
					    .kernel_release = kernel_release };
	return config;
}

static int open_device(const char *kernel_release, struct vmbus_device **device, char *error, size_t size)
{
	struct vmbus_uio_config config = config_for(kernel_release);
	struct vmbus_uio_open_params params = { .config = &config, .error_message = error, .error_size = size };

	vmbus_guid_parse(CLASS, &params.class_id);
	return vmbus_uio_open(&params, device);
}

static uint8_t *map_of(unsigned int index)
{
	uint8_t *address = mmap(NULL, fake.map_size[index], PROT_READ | PROT_WRITE, MAP_SHARED,
				fake.map_fd[index], 0);

	assert_true(address != MAP_FAILED);
	return address;
}

static int count_device(const struct vmbus_uio_device_info *info, void *argument)
{
	struct vmbus_uio_device_info *seen = argument;

	if (strcmp(info->name, INSTANCE) == 0)
		*seen = *info;
	return 0;
}

static void test_scan_reads_sysfs(void **state)
{
	struct vmbus_uio_config config;
	struct vmbus_uio_device_info seen = { .uio_index = -2 };
	char text[VMBUS_GUID_STRING_SIZE];

	(void)state;
	build_tree(LINUX_6_1);
	config = config_for("6.1.0-56-amd64");
	assert_int_equal(vmbus_uio_scan(&config, count_device, &seen), 0);
	assert_string_equal(vmbus_guid_format(&seen.class_id, text), CLASS); /* braces, case */
	assert_string_equal(vmbus_guid_format(&seen.instance_id, text), INSTANCE);
	assert_int_equal(seen.relid, 14);
	assert_int_equal(seen.monitor_id, 37);
	assert_int_equal(seen.numa_node, 0);
	assert_string_equal(seen.driver, "uio_hv_generic");
	assert_int_equal(seen.uio_index, 0);

	config.sysfs_root = "/nonexistent";
	assert_int_equal(vmbus_uio_scan(&config, count_device, &seen), -ENOENT);
}

/* A packet from the guest; the caller has cleared the host's mask so that it must signal. */
static void guest_sends(struct vmbus_channel *channel)
{
	struct iovec iov = { .iov_base = "hello", .iov_len = 5 };

	assert_int_equal(vmbus_chan_send_inband(channel, 1, 0, &iov, 1), 0);
}

static void test_linux_6_1_monitored(void **state)
{
	struct vmbus_channel *channel;
	struct vmbus_device *device;
	uint8_t *rings, *monitor_page;
	struct vmbus_gpadl_region region;
	char error[512] = "";
	uint32_t pending;

	(void)state;
	build_tree(LINUX_6_1);
	assert_int_equal(open_device("6.1.0-56-amd64", &device, error, sizeof(error)), 0);
	assert_string_equal(vmbus_device_backend_name(device), "uio");
	assert_int_equal(vmbus_device_numa_node(device), 0);
	assert_int_equal(vmbus_device_channel_count(device), 1);
	assert_int_equal(vmbus_device_gpadl_region(device, VMBUS_GPADL_RECEIVE, &region), 0);
	assert_int_equal(region.size, 0x1f00000);
	assert_int_equal(region.gpadl, 925200);
	assert_int_equal(vmbus_device_gpadl_region(device, VMBUS_GPADL_SEND, &region), 0);
	assert_int_equal(region.gpadl, 925201);

	assert_int_equal(vmbus_chan_open(device, 0, &channel), 0);
	/* 2 MiB rings: len8 limits a packet, not the ring. */
	assert_int_equal(vmbus_chan_max_packet_size(channel), VMBUS_PACKET_MAX_LENGTH);

	/* The host listens (TX mask clear): the guest signals by the monitor page, no syscall. */
	rings = map_of(0);
	((struct vmbus_ring_header *)rings)->interrupt_mask = 0;
	guest_sends(channel);
	monitor_page = map_of(2);
	/* monitor_id 37: trigger group 1 (pending @ 8 + 1 * 8), bit 5. */
	memcpy(&pending, monitor_page + 8 + 8, sizeof(pending));
	assert_int_equal(pending, 1u << 5);
	memcpy(&pending, monitor_page + 8, sizeof(pending));
	assert_int_equal(pending, 0);
	/* Nothing went through the fd. */
	struct pollfd pfd = { .fd = fake.kernel_fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 0), 0);
	/* The packet is in map 0's first half (TX), where the host reads it. */
	assert_int_equal(((struct vmbus_ring_header *)rings)->write_index, 32);
	assert_memory_equal(rings + 4096 + 16, "hello", 5);

	munmap(monitor_page, 0x1000);
	munmap(rings, fake.map_size[0]);
	vmbus_chan_close(channel);
	vmbus_device_close(device);
}

static void test_linux_6_12_non_monitored(void **state)
{
	struct vmbus_ring_header *guest_rx;
	struct vmbus_channel *channel;
	struct vmbus_device *device;
	char error[512] = "";
	int32_t signal_value = 0;
	uint8_t *rings;

	(void)state;
	build_tree(LINUX_6_12);
	assert_int_equal(open_device("6.12.95+deb12-amd64", &device, error, sizeof(error)), 0);
	assert_int_equal(vmbus_chan_open(device, 0, &channel), 0);
	rings = map_of(0);
	guest_rx = (struct vmbus_ring_header *)(rings + fake.map_size[0] / 2);
	assert_int_equal(guest_rx->interrupt_mask, 1); /* polling */

	/* The host listens; the kernel's irqcontrol clears our RX mask when we signal (6.10+). */
	((struct vmbus_ring_header *)rings)->interrupt_mask = 0;
	guest_rx->interrupt_mask = 0; /* what hv_uio_irqcontrol does behind our back */
	guest_sends(channel);
	assert_int_equal(read(fake.kernel_fd, &signal_value, sizeof(signal_value)), 4);
	assert_int_equal(signal_value, 1); /* write(fd, 1): enable + signal */
	assert_int_equal(guest_rx->interrupt_mask, 1); /* masked again: we are polling */

	munmap(rings, fake.map_size[0]);
	vmbus_chan_close(channel);
	vmbus_device_close(device);
}

struct interrupt_job {
	uint8_t *rings;
	size_t size;
	const struct vmbus_channel *sleeper;
};

/*
 * The host, once the guest sleeps (before that, the guest's RX is masked and the host would
 * rightly not interrupt): put a completion in the guest's RX ring, then raise the uio
 * interrupt (count 7).
 */
static void *host_interrupts_later(void *argument)
{
	struct interrupt_job *job = argument;
	struct vmbus_ring host_tx;
	struct iovec iov = { .iov_base = "done", .iov_len = 4 };
	struct vmbus_ring_packet packet = { .type = VMBUS_PACKET_COMPLETION, .trans_id = 1,
					    .payload = &iov, .payload_count = 1 };
	uint32_t count = 7;
	bool signal;

	if (!wait_until_asleep(job->sleeper, 1))
		return NULL;
	vmbus_ring_attach(&host_tx, job->rings + job->size / 2, job->size / 2, (size_t)sysconf(_SC_PAGESIZE));
	vmbus_ring_write(&host_tx, &packet);
	vmbus_ring_write_publish(&host_tx, &signal);
	if (signal && write(fake.kernel_fd, &count, sizeof(count)) != sizeof(count))
		return NULL;
	return NULL;
}

static void test_interrupt_wait_and_rescind(void **state)
{
	struct vmbus_ring_packet_info info;
	struct interrupt_job job;
	struct vmbus_channel *channel;
	struct vmbus_device *device;
	struct vmbus_chan_stats stats;
	char error[512] = "";
	uint8_t buffer[64];
	pthread_t thread;

	(void)state;
	build_tree(LINUX_6_12);
	assert_int_equal(open_device("6.12.95+deb12-amd64", &device, error, sizeof(error)), 0);
	assert_int_equal(vmbus_chan_open(device, 0, &channel), 0);
	vmbus_chan_set_spin_ns(channel, 0);
	job = (struct interrupt_job){ .rings = map_of(0), .size = fake.map_size[0], .sleeper = channel };
	assert_int_equal(pthread_create(&thread, NULL, host_interrupts_later, &job), 0);
	assert_int_equal(vmbus_chan_wait(channel, 30000), 0);
	pthread_join(thread, NULL);
	vmbus_chan_get_stats(channel, &stats);
	assert_true(stats.sleeps >= 1);
	assert_int_equal(vmbus_uio_interrupt_count(device), 7);
	assert_int_equal(vmbus_chan_recv(channel, buffer, sizeof(buffer), &info), 0);
	assert_int_equal(info.type, VMBUS_PACKET_COMPLETION);

	/* Rescind: the interrupt fd fails; every wait then says the host is gone. */
	close(fake.kernel_fd);
	fake.kernel_fd = -1;
	assert_int_equal(vmbus_chan_wait(channel, 5000), -ENOTCONN);
	assert_int_equal(vmbus_chan_wait(channel, 5000), -ENOTCONN);

	munmap(job.rings, job.size);
	vmbus_chan_close(channel);
	vmbus_device_close(device);
}

/*
 * A subchannel as the kernel shows it: its monitor_id first, then its ring file, which appears
 * whole (hv_uio_new_channel creates the sysfs file after vmbus_open set the ring up). Built
 * under another name and renamed into place, so that a backend polling for it from another
 * thread never finds a ring file half made.
 */
static void make_subchannel_ring_sized(uint32_t relid, bool monitored, size_t file_size)
{
	char relative[256], path[PATH_MAX], building[PATH_MAX];
	int fd;

	if (monitored) {
		snprintf(relative, sizeof(relative), "sys/bus/vmbus/devices/" INSTANCE "/channels/%u/monitor_id", relid);
		write_file(relative, "40\n");
	}
	snprintf(relative, sizeof(relative), "sys/bus/vmbus/devices/" INSTANCE "/channels/%u/ring.new", relid);
	write_file(relative, "");
	snprintf(building, sizeof(building), "%s/%s", fake.root, relative);
	fd = open(building, O_RDWR);
	assert_true(fd >= 0);
	/* hv_uio_new_channel: 2 MiB + 2 MiB, headers initialised at vmbus_open. */
	assert_int_equal(ftruncate(fd, (off_t)file_size), 0);
	uint8_t *rings = mmap(NULL, file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	vmbus_ring_header_init(rings, (size_t)sysconf(_SC_PAGESIZE));
	vmbus_ring_header_init(rings + file_size / 2, (size_t)sysconf(_SC_PAGESIZE));
	munmap(rings, file_size);
	close(fd);
	snprintf(path, sizeof(path), "%s/sys/bus/vmbus/devices/" INSTANCE "/channels/%u/ring", fake.root, relid);
	assert_int_equal(rename(building, path), 0);
}

static void make_subchannel_ring(uint32_t relid, bool monitored)
{
	make_subchannel_ring_sized(relid, monitored, 4 << 20);
}

/* The offer comes while the backend polls for it (whenever that thread gets a CPU). */
static void *add_subchannel_later(void *argument)
{
	(void)argument;
	make_subchannel_ring(17, false);
	return NULL;
}

static void test_mainline_small_ring_and_subchannels(void **state)
{
	struct vmbus_channel *primary, *sub;
	struct vmbus_device *device;
	struct vmbus_gpadl_region region;
	char error[512] = "", path[PATH_MAX];
	uint8_t copy[32];
	pthread_t thread;
	int fd;

	(void)state;
	build_tree(MAINLINE);
	/* The primary's own ring file is not a subchannel. */
	write_file("sys/bus/vmbus/devices/" INSTANCE "/channels/14/ring", "");
	make_subchannel_ring(15, false);
	make_subchannel_ring(16, false);
	assert_int_equal(open_device("6.18.0", &device, error, sizeof(error)), 0);
	assert_int_equal(vmbus_device_gpadl_region(device, VMBUS_GPADL_RECEIVE, &region), -ENOENT);
	assert_int_equal(vmbus_chan_open(device, 0, &primary), 0);
	/* 68 KiB per direction: 64 KiB of data (6.10+ default for an unknown class). */
	assert_int_equal(vmbus_chan_max_packet_size(primary), 0x10000 - 16);

	assert_int_equal(vmbus_uio_open_subchannels(device, 3, 100), -ETIMEDOUT);
	assert_int_equal(pthread_create(&thread, NULL, add_subchannel_later, NULL), 0);
	assert_int_equal(vmbus_uio_open_subchannels(device, 3, 30000), 0);
	pthread_join(thread, NULL);
	assert_int_equal(vmbus_device_channel_count(device), 4);

	/* Channel 1 is relid 15: its TX half is the first half of that ring file. */
	assert_int_equal(vmbus_chan_open(device, 1, &sub), 0);
	assert_int_equal(vmbus_chan_max_packet_size(sub), VMBUS_PACKET_MAX_LENGTH);
	struct iovec iov = { .iov_base = "subchannel", .iov_len = 10 };
	assert_int_equal(vmbus_chan_send_inband(sub, 5, 0, &iov, 1), 0);
	snprintf(path, sizeof(path), "%s/sys/bus/vmbus/devices/" INSTANCE "/channels/15/ring", fake.root);
	fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, copy, sizeof(copy), (off_t)sysconf(_SC_PAGESIZE)), sizeof(copy));
	close(fd);
	assert_memory_equal(copy + 16, "subchannel", 10);

	vmbus_chan_close(sub);
	vmbus_chan_close(primary);
	vmbus_device_close(device);
}

/* A monitored subchannel signals by its own trigger bit; a ring file smaller than 4 MiB is
 * mapped at its real size (the sysfs file size is dynamic since 2025). */
static void test_monitored_subchannel_small_ring(void **state)
{
	struct vmbus_channel *sub;
	struct vmbus_device *device;
	char error[512] = "";
	uint8_t *monitor_page;
	uint32_t pending;

	(void)state;
	build_tree(LINUX_6_1);
	make_subchannel_ring_sized(20, true, 2 * 0x11000);
	assert_int_equal(open_device("6.1.0-56-amd64", &device, error, sizeof(error)), 0);
	assert_int_equal(vmbus_uio_open_subchannels(device, 1, 1000), 0);
	assert_int_equal(vmbus_chan_open(device, 1, &sub), 0);
	assert_int_equal(vmbus_chan_max_packet_size(sub), 0x10000 - 16);

	/* The host listens on the subchannel: its send sets monitor id 40 (group 1, bit 8). */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/sys/bus/vmbus/devices/" INSTANCE "/channels/20/ring", fake.root);
	int fd = open(path, O_RDWR);
	uint8_t *rings = mmap(NULL, 2 * 0x11000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	((struct vmbus_ring_header *)rings)->interrupt_mask = 0;
	guest_sends(sub);
	monitor_page = map_of(2);
	memcpy(&pending, monitor_page + 8 + 8, sizeof(pending));
	assert_int_equal(pending, 1u << 8);
	munmap(monitor_page, 0x1000);
	munmap(rings, 2 * 0x11000);
	vmbus_chan_close(sub);
	vmbus_device_close(device);
}

/* Before 6.16 the irqcontrol write cannot reach a subchannel: refuse it, say why. */
static void test_non_monitored_subchannel_old_kernel(void **state)
{
	struct vmbus_device *device;
	char error[512] = "";

	(void)state;
	build_tree(LINUX_6_12);
	make_subchannel_ring(15, false);
	assert_int_equal(open_device("6.12.95", &device, error, sizeof(error)), 0);
	assert_int_equal(vmbus_uio_open_subchannels(device, 1, 100), -EOPNOTSUPP);
	assert_int_equal(vmbus_device_channel_count(device), 1);
	vmbus_device_close(device);
}

/* Nothing of a failed open stays behind: no descriptor, no mapping. */
static int count_fake_mappings(void)
{
	char line[512];
	int count = 0;
	FILE *maps = fopen("/proc/self/maps", "r");

	while (maps != NULL && fgets(line, sizeof(line), maps) != NULL)
		if (strstr(line, "uio_ut map") != NULL)
			count++;
	if (maps != NULL)
		fclose(maps);
	return count;
}

static void test_failed_open_leaks_nothing(void **state)
{
	struct vmbus_device *device;
	char error[512];

	(void)state;
	build_tree(LINUX_6_12);
	/* map3 claims more than its memfd: maps 0-2 are mapped by then and must be undone. */
	write_file("sys/bus/vmbus/devices/" INSTANCE "/uio/uio0/maps/map3/size", "0x4000000\n");
	assert_int_equal(open_device("6.12.95", &device, error, sizeof(error)), -EINVAL);
	assert_non_null(strstr(error, "mmap of map3"));
	assert_int_equal(count_fake_mappings(), 0);
	errno = 0;
	assert_int_equal(fcntl(fake.uio_fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
}

/*
 * DMA memory on a real guest: locked memory translated through /proc/self/pagemap. As root
 * the page numbers are real (this test reads pagemap itself to compare); without the
 * capability the kernel hides them and the allocation says -EOPNOTSUPP.
 */
static void test_dma_memory_pagemap(void **state)
{
	struct vmbus_device *device;
	char error[512] = "";
	uint64_t pfns[3], entry, offset;
	volatile uint8_t *other;
	int fd, rc, share_fd;
	void *memory;

	(void)state;
	build_tree(LINUX_6_12);
	assert_int_equal(open_device("6.12.95", &device, error, sizeof(error)), 0);
	rc = vmbus_device_dma_alloc(device, 3 * 4096, &memory);
	if (rc == -EOPNOTSUPP || rc == -ENOMEM) {
		/* Not root, or no room to lock: refused, not faked. */
		vmbus_device_close(device);
		skip();
	}
	assert_int_equal(rc, 0);
	assert_int_equal(vmbus_device_dma_pfns(device, memory, 3 * 4096, pfns, 3), 3);
	fd = open("/proc/self/pagemap", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &entry, 8, (off_t)((uintptr_t)memory / 4096 * 8)), 8);
	close(fd);
	assert_true(pfns[0] != 0);
	assert_true(pfns[0] == (entry & ((1ull << 55) - 1)) * ((uint64_t)sysconf(_SC_PAGESIZE) / 4096));
	assert_int_equal(vmbus_device_dma_pfns(device, memory, 3 * 4096, pfns, 2), -ENOBUFS);

	/* Shared with another mapping (winapi-pmd's clients): the same pages, from the offset. */
	assert_int_equal(vmbus_device_dma_share(device, (uint8_t *)memory + 4096, 4096, &share_fd, &offset), 0);
	assert_int_equal(offset, 4096);
	/* Sealed at its size: the process it goes to cannot shrink it under the host. */
	assert_true(fcntl(share_fd, F_GET_SEALS) & F_SEAL_SHRINK);
	assert_int_equal(ftruncate(share_fd, 4096), -1);
	other = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, share_fd, (off_t)offset);
	assert_true(other != MAP_FAILED);
	((volatile uint8_t *)memory)[4096] = 0x5a;
	assert_int_equal(other[0], 0x5a);
	munmap((void *)other, 4096);
	assert_int_equal(vmbus_device_dma_share(device, pfns, sizeof(pfns), &share_fd, &offset), -EINVAL);
	assert_int_equal(vmbus_device_dma_share(device, memory, 4 * 4096, &share_fd, &offset), -EINVAL);
	vmbus_device_dma_free(device, memory, 3 * 4096);
	vmbus_device_close(device);
}

/*
 * A process the DMA memory is shared with (a winapi-pmd client) punches a hole in it: the
 * pages the host was given must stay where they are, allocated and pinned, and the host must
 * go on getting those page numbers, not whatever the punched range maps next.
 */
static void test_dma_pinned_against_hole_punch(void **state)
{
	struct vmbus_device *device;
	char error[512] = "";
	uint64_t before[4], after[4], entry, offset, flags;
	int fd, flags_fd, rc, share_fd;
	void *memory;

	(void)state;
	build_tree(LINUX_6_12);
	assert_int_equal(open_device("6.12.95", &device, error, sizeof(error)), 0);
	rc = vmbus_device_dma_alloc(device, 4 * 4096, &memory);
	if (rc == -EOPNOTSUPP || rc == -ENOMEM) {
		vmbus_device_close(device);
		skip();
	}
	assert_int_equal(rc, 0);
	assert_int_equal(vmbus_device_dma_pfns(device, memory, 4 * 4096, before, 4), 4);
	assert_int_equal(vmbus_device_dma_share(device, memory, 4 * 4096, &share_fd, &offset), 0);
	assert_int_equal(fallocate(share_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset + 4096, 2 * 4096),
			 0);
	/* The punched range maps new pages once touched... */
	((volatile uint8_t *)memory)[4096] = 1;
	fd = open("/proc/self/pagemap", O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &entry, 8, (off_t)(((uintptr_t)memory + 4096) / 4096 * 8)), 8);
	close(fd);
	assert_true((entry & ((1ull << 55) - 1)) * ((uint64_t)sysconf(_SC_PAGESIZE) / 4096) != before[1]);
	/* ...but the host is still given the pinned ones... */
	assert_int_equal(vmbus_device_dma_pfns(device, memory, 4 * 4096, after, 4), 4);
	assert_memory_equal(after, before, sizeof(before));
	/*
	 * ...which are still allocated, held by the pin: not back in the buddy allocator (kpageflags
	 * bit 10, KPF_BUDDY) for someone else to get. (kpagecount counts mappings, not references:
	 * it says 0 for a page that is pinned and unmapped.)
	 */
	flags_fd = open("/proc/kpageflags", O_RDONLY);
	if (flags_fd >= 0) {
		assert_int_equal(pread(flags_fd, &flags, 8, (off_t)(before[1] / ((uint64_t)sysconf(_SC_PAGESIZE) / 4096) * 8)),
				 8);
		assert_false(flags & (1ull << 10));
		close(flags_fd);
	}
	vmbus_device_dma_free(device, memory, 4 * 4096);
	vmbus_device_close(device);
}

static void test_diagnosis(void **state)
{
	struct vmbus_device *device;
	char error[512];
	char relative[256];

	(void)state;
	/* No VMBus at all. */
	assert_int_equal(open_device("6.12.0", &device, error, sizeof(error)), -ENOENT);
	assert_non_null(strstr(error, "not a Hyper-V guest"));

	/* A non-monitored device on 6.1: the kernel refused it. */
	make_device(INSTANCE, CLASS, false, NULL);
	assert_int_equal(open_device("6.1.0-56-amd64", &device, error, sizeof(error)), -EOPNOTSUPP);
	assert_non_null(strstr(error, "needs kernel 6.10"));
	/* The same on 6.12: it is merely not bound yet. */
	assert_int_equal(open_device("6.12.95", &device, error, sizeof(error)), -ENXIO);
	assert_non_null(strstr(error, "vmbus-bind --bind " CLASS));

	/* Bound to a kernel driver. */
	snprintf(relative, sizeof(relative), "sys/bus/vmbus/devices/%s/driver", INSTANCE);
	write_file("sys/bus/vmbus/drivers/hv_balloon/bind", "");
	make_link(relative, "../../drivers/hv_balloon");
	assert_int_equal(open_device("6.12.95", &device, error, sizeof(error)), -ENXIO);
	assert_non_null(strstr(error, "hv_balloon"));

	/* Another class entirely. */
	struct vmbus_uio_config config = config_for("6.12.95");
	struct vmbus_uio_open_params params = { .config = &config, .error_message = error,
						.error_size = sizeof(error) };
	vmbus_guid_parse("f8615163-df3e-46c5-913f-f2d2f965ed0e", &params.class_id);
	assert_int_equal(vmbus_uio_open(&params, &device), -ENODEV);
	assert_non_null(strstr(error, "no VMBus device of class"));
}

static void test_permission_denied(void **state)
{
	struct vmbus_device *device;
	char error[512];

	(void)state;
	build_tree(LINUX_6_12);
	fake.deny_open = true;
	assert_int_equal(open_device("6.12.95", &device, error, sizeof(error)), -EACCES);
	assert_non_null(strstr(error, "permission denied"));
}

static void test_bad_maps(void **state)
{
	struct vmbus_device *device;
	char error[512];

	(void)state;
	build_tree(LINUX_6_12);
	/* A name the kernel never gives map 1. */
	write_file("sys/bus/vmbus/devices/" INSTANCE "/uio/uio0/maps/map1/name", "something_else\n");
	assert_int_equal(open_device("6.12.95", &device, error, sizeof(error)), -EPROTO);
	assert_non_null(strstr(error, "expected \"int_page\""));
	write_file("sys/bus/vmbus/devices/" INSTANCE "/uio/uio0/maps/map1/name", "int_page\n");

	/* Rings that are not two page-aligned halves. */
	write_file("sys/bus/vmbus/devices/" INSTANCE "/uio/uio0/maps/map0/size", "0x3000\n");
	assert_int_equal(open_device("6.12.95", &device, error, sizeof(error)), -EPROTO);
	write_file("sys/bus/vmbus/devices/" INSTANCE "/uio/uio0/maps/map0/size", "-1\n");
	assert_int_equal(open_device("6.12.95", &device, error, sizeof(error)), -EPROTO);

	/* sysfs claims more than the kernel lets us map: mmap fails, nothing leaks. */
	write_file("sys/bus/vmbus/devices/" INSTANCE "/uio/uio0/maps/map0/size", "0x800000\n");
	assert_int_equal(open_device("6.12.95", &device, error, sizeof(error)), -EINVAL);
	assert_non_null(strstr(error, "mmap of map0"));

	/* The monitor page map is missing. */
	write_file("sys/bus/vmbus/devices/" INSTANCE "/uio/uio0/maps/map0/size", "0x400000\n");
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/sys/bus/vmbus/devices/" INSTANCE "/uio/uio0/maps/map2/size", fake.root);
	unlink(path);
	assert_int_equal(open_device("6.12.95", &device, error, sizeof(error)), -EPROTO);
	assert_non_null(strstr(error, "map2"));
}

static int other_signal(struct vmbus_device *device, unsigned int index)
{
	(void)device;
	(void)index;
	return 0;
}

static int other_wait(struct vmbus_device *device, int timeout_ms)
{
	(void)device;
	(void)timeout_ms;
	return -ETIMEDOUT;
}

/* The uio calls refuse a device of another backend instead of misreading its state. */
static void test_not_a_uio_device(void **state)
{
	static const struct vmbus_backend_ops other = { .name = "sim", .signal = other_signal,
							.wait = other_wait };
	static uint8_t memory[4 * 4096] __attribute__((aligned(4096)));
	struct vmbus_channel_region region = { .ring_base = memory, .ring_size = 2 * 4096 };
	struct vmbus_device_params params = { .page_size = 4096, .channel_count = 1,
					      .channels = &region, .ops = &other };
	struct vmbus_gpadl_region gpadl;
	struct vmbus_device *device;

	(void)state;
	assert_int_equal(vmbus_device_create(&params, &device), 0);
	assert_int_equal(vmbus_uio_open_subchannels(device, 1, 0), -EINVAL);
	assert_int_equal(vmbus_device_gpadl_region(device, VMBUS_GPADL_SEND, &gpadl), -ENOENT);
	assert_int_equal(vmbus_uio_interrupt_count(device), 0);
	assert_int_equal(vmbus_uio_open_subchannels(NULL, 1, 0), -EINVAL);
	vmbus_device_close(device);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan_reads_sysfs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_6_1_monitored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_6_12_non_monitored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupt_wait_and_rescind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mainline_small_ring_and_subchannels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_monitored_subchannel_small_ring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_monitored_subchannel_old_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_open_leaks_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_memory_pagemap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_pinned_against_hole_punch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diagnosis, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permission_denied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_maps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_a_uio_device, setup, teardown),
	};

	/* A signal after a (simulated) rescind writes to a closed socket, where uio says EIO. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("uio", tests, NULL, NULL);
}
