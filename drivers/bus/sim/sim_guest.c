/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest side of the emulated bus: what drivers/bus/uio does with sysfs and /dev/uioN, done
 * with the emulator's socket. The emulator is as untrusted as a real host: the offer is
 * validated field by field and every mapping is checked against the size of its file. The
 * guest kernel's uio quirks that the profile names are reproduced here, on the guest's side,
 * where the kernel would do them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <vmbus/backend.h>
#include <vmbus/memory.h>
#include <vmbus/ring.h>
#include <vmbus/sim.h>

#include "sim_wire.h"

/* Monitor ids index four trigger groups of 32 in the monitor page. */
#define SIM_MONITOR_ID_LIMIT 128u
/* Largest region the guest accepts to map from an offer (guest RAM, pools). */
#define SIM_REGION_LIMIT (64ull << 30)

struct sim_guest {
	int socket_fd;      /* kept open: the emulator sees us leave when it closes */
	int signal_host_fd;
	int interrupt_fd;
	int event_fd;       /* epoll over interrupt_fd and socket_fd: what sim_guest_wait() watches */
	int guest_ram_fd;   /* kept for vmbus_device_dma_share(); -1 without guest RAM */
	struct sim_memory memory;
	struct sim_offer offer;
	struct vmbus_page_allocator *guest_ram; /* NULL without guest RAM */
};

/* The RX ring header of channel @index, where the kernel's quirks write. */
static uint32_t *rx_interrupt_mask(struct sim_guest *guest, unsigned int index)
{
	size_t ring_size = index == 0 ? guest->offer.ring_size : guest->offer.subchannel_ring_size;
	struct vmbus_ring_header *rx = (void *)((uint8_t *)guest->memory.rings[index].address + ring_size);

	return &rx->interrupt_mask;
}

static void set_rx_masks(struct sim_guest *guest, unsigned int count, uint32_t value)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		__atomic_store_n(rx_interrupt_mask(guest, i), value, __ATOMIC_SEQ_CST);
}

static int sim_guest_signal(struct vmbus_device *device, unsigned int index)
{
	struct sim_guest *guest = vmbus_device_backend_data(device);

	if (guest->offer.monitor_id != VMBUS_MONITOR_ID_NONE) {
		vmbus_monitor_trigger(guest->memory.monitor_page.address, guest->offer.monitor_id + index);
		return 0;
	}
	/* uio's irqcontrol write clears RX masks before it signals (hv_uio_irqcontrol). */
	if (guest->offer.flags & SIM_OFFER_UNMASK_ALL_ON_SIGNAL)
		set_rx_masks(guest, guest->offer.channel_count, 0);
	else if (guest->offer.flags & SIM_OFFER_UNMASK_PRIMARY_ON_SIGNAL)
		set_rx_masks(guest, 1, 0);
	return sim_signal_peer(guest->signal_host_fd);
}

static int sim_guest_wait(struct vmbus_device *device, int timeout_ms)
{
	struct sim_guest *guest = vmbus_device_backend_data(device);
	int rc = sim_wait_peer(guest->interrupt_fd, guest->socket_fd, timeout_ms, NULL);

	/* Before 6.18 uio's interrupt handler masks the channel that interrupted. */
	if (rc == 0 && (guest->offer.flags & SIM_OFFER_MASK_IN_INTERRUPT))
		set_rx_masks(guest, guest->offer.channel_count, 1);
	return rc;
}

static void sim_guest_free(struct sim_guest *guest)
{
	if (guest->event_fd >= 0)
		close(guest->event_fd);
	if (guest->guest_ram_fd >= 0)
		close(guest->guest_ram_fd);
	vmbus_page_allocator_destroy(guest->guest_ram);
	sim_memory_unmap(&guest->memory);
	free(guest);
}

static void sim_guest_release(struct vmbus_device *device)
{
	struct sim_guest *guest = vmbus_device_backend_data(device);

	close(guest->interrupt_fd);
	close(guest->signal_host_fd);
	close(guest->socket_fd);
	sim_guest_free(guest);
}

static int sim_guest_gpadl_region(const struct vmbus_device *device, unsigned int index,
				  struct vmbus_gpadl_region *region)
{
	const struct sim_guest *guest = vmbus_device_backend_data(device);

	if (index > 1 || guest->memory.pools[index].address == NULL)
		return -ENOENT;
	region->address = guest->memory.pools[index].address;
	region->size = guest->memory.pools[index].size;
	region->gpadl = guest->offer.pool_gpadl[index];
	return 0;
}

/* DMA memory is guest RAM: the emulator finds page N at N * 4 KiB of the shared memfd. */
static int sim_guest_dma_alloc(struct vmbus_device *device, size_t size, void **address)
{
	struct sim_guest *guest = vmbus_device_backend_data(device);
	size_t offset;
	int rc;

	if (guest->guest_ram == NULL)
		return -EOPNOTSUPP;
	rc = vmbus_page_allocator_alloc(guest->guest_ram, size, &offset);
	if (rc != 0)
		return rc;
	*address = (uint8_t *)guest->memory.guest_ram.address + offset;
	memset(*address, 0, size);
	return 0;
}

static void sim_guest_dma_free(struct vmbus_device *device, void *address, size_t size)
{
	struct sim_guest *guest = vmbus_device_backend_data(device);

	if (guest->guest_ram != NULL)
		vmbus_page_allocator_free(guest->guest_ram,
					  (size_t)((uint8_t *)address - (uint8_t *)guest->memory.guest_ram.address),
					  size);
}

/* Where [@address, @address + @size) starts in guest RAM: 0, or -EINVAL unless all of it is there. */
static int guest_ram_offset(const struct sim_guest *guest, const void *address, size_t size, uint64_t *offset)
{
	uintptr_t ram = (uintptr_t)guest->memory.guest_ram.address, start = (uintptr_t)address;

	if (ram == 0 || start < ram || size > guest->memory.guest_ram.size ||
	    start - ram > guest->memory.guest_ram.size - size)
		return -EINVAL;
	*offset = start - ram;
	return 0;
}

static int sim_guest_dma_pfns(struct vmbus_device *device, const void *address, size_t size, uint64_t *pfns,
			      size_t max)
{
	uint64_t offset, first, count, i;

	if (guest_ram_offset(vmbus_device_backend_data(device), address, size, &offset) != 0)
		return -EINVAL;
	first = offset / VMBUS_PAGE_SIZE;
	count = (offset % VMBUS_PAGE_SIZE + size + VMBUS_PAGE_SIZE - 1) / VMBUS_PAGE_SIZE;
	if (count > max)
		return -ENOBUFS;
	for (i = 0; i < count; i++)
		pfns[i] = first + i;
	return (int)count;
}

/* DMA memory lives in the guest RAM file: another process maps the same pages from it. */
static int sim_guest_dma_share(struct vmbus_device *device, const void *address, size_t size, int *fd,
			       uint64_t *offset)
{
	struct sim_guest *guest = vmbus_device_backend_data(device);

	if (guest_ram_offset(guest, address, size, offset) != 0)
		return -EINVAL;
	*fd = guest->guest_ram_fd;
	return 0;
}

static int sim_guest_event_fd(const struct vmbus_device *device)
{
	const struct sim_guest *guest = vmbus_device_backend_data(device);

	return guest->event_fd;
}

static const struct vmbus_backend_ops sim_guest_ops = {
	.name = "sim",
	.signal = sim_guest_signal,
	.wait = sim_guest_wait,
	.release = sim_guest_release,
	.event_fd = sim_guest_event_fd,
	.dma_share = sim_guest_dma_share,
	.gpadl_region = sim_guest_gpadl_region,
	.dma_alloc = sim_guest_dma_alloc,
	.dma_free = sim_guest_dma_free,
	.dma_pfns = sim_guest_dma_pfns,
};

static bool ring_size_valid(uint64_t ring_size, uint32_t page_size)
{
	return ring_size >= 2u * page_size && ring_size % page_size == 0 && ring_size - page_size < UINT32_MAX;
}

static int validate_offer(const struct sim_offer *offer)
{
	const uint32_t known_flags = SIM_OFFER_UNMASK_PRIMARY_ON_SIGNAL | SIM_OFFER_UNMASK_ALL_ON_SIGNAL |
				     SIM_OFFER_MASK_IN_INTERRUPT;
	unsigned int i;

	if (offer->magic != SIM_WIRE_MAGIC || offer->version != SIM_WIRE_VERSION)
		return -EPROTO;
	if (offer->status != 0)
		return offer->status < 0 && offer->status > -4096 ? offer->status : -EPROTO;
	if (offer->channel_count == 0 || offer->channel_count > SIM_MAX_CHANNELS)
		return -EPROTO;
	/* Ring headers are one system page: the emulator runs on this machine, so they agree. */
	if (offer->page_size != (uint32_t)sysconf(_SC_PAGESIZE))
		return -EPROTO;
	if (!ring_size_valid(offer->ring_size, offer->page_size) ||
	    (offer->channel_count > 1 && !ring_size_valid(offer->subchannel_ring_size, offer->page_size)))
		return -EPROTO;
	if (offer->monitor_id != VMBUS_MONITOR_ID_NONE &&
	    (offer->monitor_id >= SIM_MONITOR_ID_LIMIT ||
	     offer->channel_count > SIM_MONITOR_ID_LIMIT - offer->monitor_id))
		return -EPROTO;
	for (i = 0; i < 2; i++)
		if (offer->pool_size[i] % SIM_HYPERV_PAGE_SIZE != 0 || offer->pool_size[i] > SIM_REGION_LIMIT ||
		    offer->pool_offset[i] % offer->page_size != 0 || offer->pool_offset[i] > SIM_REGION_LIMIT)
			return -EPROTO;
	if (offer->guest_ram_size % offer->page_size != 0 || offer->guest_ram_size > SIM_REGION_LIMIT)
		return -EPROTO;
	if (offer->flags & ~known_flags)
		return -EPROTO;
	/* NUMA node ids are small (MAX_NUMNODES is at most 1024); -1 means unknown. */
	if (offer->numa_node < -1 || offer->numa_node >= 1024)
		return -EPROTO;
	return 0;
}

/*
 * Map @size bytes of the memfd @fd. The file must be at least that large and sealed against
 * shrinking: otherwise the emulator could truncate it later and our accesses would SIGBUS.
 */
static int map_shared(int fd, uint64_t offset, size_t size, struct sim_mapping *mapping)
{
	struct stat st;
	void *address;
	int seals;

	/* Seals first: once shrinking is sealed, the size fstat() reports can only grow. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return -EPROTO;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < size || (uint64_t)st.st_size - size < offset)
		return -EPROTO;
	address = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
	if (address == MAP_FAILED)
		return -errno;
	mapping->address = address;
	mapping->size = size;
	return 0;
}

static int map_offer(struct sim_guest *guest, const struct sim_fd_layout *layout, const int *fds)
{
	const struct sim_offer *offer = &guest->offer;
	unsigned int i;
	int rc = 0;

	for (i = 0; i < offer->channel_count && rc == 0; i++)
		rc = map_shared(fds[i], 0, 2 * (size_t)(i == 0 ? offer->ring_size : offer->subchannel_ring_size),
				&guest->memory.rings[i]);
	if (rc == 0)
		rc = map_shared(fds[layout->interrupt_page], 0, SIM_HYPERV_PAGE_SIZE, &guest->memory.interrupt_page);
	if (rc == 0)
		rc = map_shared(fds[layout->monitor_page], 0, SIM_HYPERV_PAGE_SIZE, &guest->memory.monitor_page);
	for (i = 0; i < 2 && rc == 0; i++)
		if (layout->pool[i] >= 0)
			rc = map_shared(fds[layout->pool[i]], offer->pool_offset[i], offer->pool_size[i],
					&guest->memory.pools[i]);
	if (rc == 0 && layout->guest_ram >= 0) {
		rc = map_shared(fds[layout->guest_ram], 0, offer->guest_ram_size, &guest->memory.guest_ram);
		if (rc == 0)
			rc = vmbus_page_allocator_create(offer->guest_ram_size / VMBUS_PAGE_SIZE, VMBUS_PAGE_SIZE,
							 &guest->guest_ram);
	}
	return rc;
}

/* A signal socket of the kind the emulator creates (SIM_SIGNAL_SOCKET_TYPE), nothing else. */
static bool is_signal_socket(int fd)
{
	socklen_t length = sizeof(int);
	struct stat st;
	int type;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 &&
	       type == SIM_SIGNAL_SOCKET_TYPE;
}

/*
 * Whoever listens on the path must run as us or as root: the /tmp fallback path is
 * world-writable, and another user's "emulator" there would see our memory.
 */
static int check_peer(int fd)
{
	struct ucred credentials;
	socklen_t length = sizeof(credentials);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0)
		return -errno;
	return credentials.uid == getuid() || credentials.uid == 0 ? 0 : -EACCES;
}

static int connect_socket(const char *path, int timeout_ms, int *socket_fd)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	struct timeval timeout = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(address.sun_path, path, strlen(path) + 1);
	if (timeout_ms > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) != 0)
		goto err_close;
	if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0)
		goto err_close;
	rc = check_peer(fd);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	*socket_fd = fd;
	return 0;

err_close:
	/* With SO_SNDTIMEO, a connect that found the backlog full for too long says EAGAIN. */
	rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
	close(fd);
	return rc;
}

/* Receive the offer and its descriptors; on success @fds holds layout->count of them. */
static int receive_offer(struct sim_guest *guest, int timeout_ms, int *fds, struct sim_fd_layout *layout)
{
	int fd_count, rc, i;

	rc = sim_wire_wait_readable(guest->socket_fd, timeout_ms);
	if (rc != 0)
		return rc;
	fd_count = sim_wire_receive(guest->socket_fd, &guest->offer, sizeof(guest->offer), fds, SIM_MAX_FDS);
	if (fd_count < 0)
		return fd_count;
	rc = validate_offer(&guest->offer);
	if (rc == 0) {
		sim_fd_layout(&guest->offer, layout);
		if ((unsigned int)fd_count != layout->count || !is_signal_socket(fds[layout->signal_host]) ||
		    !is_signal_socket(fds[layout->signal_guest]))
			rc = -EPROTO;
	}
	if (rc != 0)
		for (i = 0; i < fd_count; i++)
			close(fds[i]);
	return rc;
}

int sim_guest_attach(int socket_fd, int timeout_ms, struct vmbus_device **device)
{
	struct vmbus_channel_region regions[SIM_MAX_CHANNELS];
	struct vmbus_device_params params;
	struct sim_fd_layout layout;
	int fds[SIM_MAX_FDS], rc;
	struct sim_guest *guest;
	unsigned int i;

	guest = calloc(1, sizeof(*guest));
	if (guest == NULL) {
		close(socket_fd);
		return -ENOMEM;
	}
	guest->event_fd = guest->guest_ram_fd = -1;
	guest->socket_fd = socket_fd;

	rc = receive_offer(guest, timeout_ms, fds, &layout);
	if (rc != 0)
		goto err_close_socket;
	rc = map_offer(guest, &layout, fds);
	if (rc != 0)
		goto err_close_fds;
	guest->signal_host_fd = fds[layout.signal_host];
	guest->interrupt_fd = fds[layout.signal_guest];
	/* One descriptor for both things sim_guest_wait() watches (vmbus_device_event_fd()). */
	guest->event_fd = sim_event_fd_create(guest->interrupt_fd, guest->socket_fd);
	if (guest->event_fd < 0) {
		rc = guest->event_fd;
		goto err_close_fds;
	}

	for (i = 0; i < guest->offer.channel_count; i++)
		regions[i] = (struct vmbus_channel_region){
			.ring_base = guest->memory.rings[i].address,
			.ring_size = guest->memory.rings[i].size / 2,
			.relid = guest->offer.relid + i,
			.monitor_id = guest->offer.monitor_id == VMBUS_MONITOR_ID_NONE ? VMBUS_MONITOR_ID_NONE :
								guest->offer.monitor_id + i,
		};
	memset(&params, 0, sizeof(params));
	memcpy(params.class_id.bytes, guest->offer.class_id, sizeof(params.class_id.bytes));
	memcpy(params.instance_id.bytes, guest->offer.instance_id, sizeof(params.instance_id.bytes));
	params.numa_node = guest->offer.numa_node;
	params.side = VMBUS_SIDE_GUEST;
	params.page_size = guest->offer.page_size;
	params.channel_count = guest->offer.channel_count;
	params.channels = regions;
	params.ops = &sim_guest_ops;
	params.backend_data = guest;
	if (guest->offer.flags & (SIM_OFFER_UNMASK_PRIMARY_ON_SIGNAL | SIM_OFFER_UNMASK_ALL_ON_SIGNAL))
		params.quirks = VMBUS_BACKEND_SIGNAL_UNMASKS_RX;
	rc = vmbus_device_create(&params, device);
	if (rc != 0)
		goto err_close_fds;
	/*
	 * The mappings hold the memory; of the descriptors the signal sockets stay open, and
	 * guest RAM's, which vmbus_device_dma_share() hands on.
	 */
	for (i = 0; i < layout.count; i++)
		if (i != layout.signal_host && i != layout.signal_guest && (int)i != layout.guest_ram)
			close(fds[i]);
	if (layout.guest_ram >= 0)
		guest->guest_ram_fd = fds[layout.guest_ram];
	return 0;

err_close_fds:
	for (i = 0; i < layout.count; i++)
		close(fds[i]);
err_close_socket:
	close(guest->socket_fd);
	sim_guest_free(guest);
	return rc;
}

int vmbus_sim_connect(const char *socket_path, int timeout_ms, struct vmbus_device **device)
{
	const struct sim_hello hello = { .magic = SIM_WIRE_MAGIC, .version = SIM_WIRE_VERSION };
	char path[108];
	int socket_fd = -1, rc;

	rc = vmbus_sim_socket_path(socket_path, path, sizeof(path));
	if (rc != 0)
		return rc;
	rc = connect_socket(path, timeout_ms, &socket_fd);
	if (rc != 0)
		return rc;
	rc = sim_wire_send(socket_fd, &hello, sizeof(hello), NULL, 0);
	if (rc != 0) {
		close(socket_fd);
		return rc;
	}
	return sim_guest_attach(socket_fd, timeout_ms, device);
}
