/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest side of the emulated bus: what drivers/bus/uio does with sysfs and /dev/uioN, done
 * with the emulator's socket. The emulator is as untrusted as a real host: the offer is
 * validated field by field and every mapping is checked against the size of its file.
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
#include <vmbus/sim.h>

#include "sim_wire.h"

struct sim_guest {
	int socket_fd;      /* kept open: the emulator sees us leave when it closes */
	int signal_host_fd;
	int interrupt_fd;
	void *ring_memory;
	size_t ring_memory_size;
	void *interrupt_page;
	void *monitor_page;
};

static int sim_guest_signal(struct vmbus_device *device, unsigned int index)
{
	struct sim_guest *guest = vmbus_device_backend_data(device);

	(void)index;
	return sim_signal_peer(guest->signal_host_fd);
}

static int sim_guest_wait(struct vmbus_device *device, int timeout_ms)
{
	struct sim_guest *guest = vmbus_device_backend_data(device);

	return sim_wait_peer(guest->interrupt_fd, guest->socket_fd, timeout_ms, NULL);
}

static void sim_guest_unmap(struct sim_guest *guest)
{
	if (guest->monitor_page != NULL)
		munmap(guest->monitor_page, SIM_HYPERV_PAGE_SIZE);
	if (guest->interrupt_page != NULL)
		munmap(guest->interrupt_page, SIM_HYPERV_PAGE_SIZE);
	if (guest->ring_memory != NULL)
		munmap(guest->ring_memory, guest->ring_memory_size);
}

static void sim_guest_release(struct vmbus_device *device)
{
	struct sim_guest *guest = vmbus_device_backend_data(device);

	sim_guest_unmap(guest);
	close(guest->interrupt_fd);
	close(guest->signal_host_fd);
	close(guest->socket_fd);
	free(guest);
}

static const struct vmbus_backend_ops sim_guest_ops = {
	.name = "sim",
	.signal = sim_guest_signal,
	.wait = sim_guest_wait,
	.release = sim_guest_release,
};

static int validate_offer(const struct sim_offer *offer)
{
	if (offer->magic != SIM_WIRE_MAGIC || offer->version != SIM_WIRE_VERSION)
		return -EPROTO;
	if (offer->status != 0)
		return offer->status < 0 && offer->status > -4096 ? offer->status : -EPROTO;
	if (offer->channel_count != 1)
		return -EPROTO;
	/* Ring headers are one system page: the emulator runs on this machine, so they agree. */
	if (offer->page_size != (uint32_t)sysconf(_SC_PAGESIZE))
		return -EPROTO;
	if (offer->ring_size < 2u * offer->page_size || offer->ring_size % offer->page_size != 0 ||
	    offer->ring_size - offer->page_size >= UINT32_MAX)
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
static int map_shared(int fd, size_t size, void **address)
{
	struct stat st;
	void *mapping;
	int seals;

	/* Seals first: once shrinking is sealed, the size fstat() reports can only grow. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return -EPROTO;
	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < size)
		return -EPROTO;
	mapping = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mapping == MAP_FAILED)
		return -errno;
	*address = mapping;
	return 0;
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

int vmbus_sim_connect(const char *socket_path, int timeout_ms, struct vmbus_device **device)
{
	const struct sim_hello hello = { .magic = SIM_WIRE_MAGIC, .version = SIM_WIRE_VERSION };
	struct vmbus_channel_region region;
	struct vmbus_device_params params;
	int fds[SIM_FD_COUNT], fd_count, i, rc;
	struct sim_offer offer;
	struct sim_guest *guest;
	char path[108];

	rc = vmbus_sim_socket_path(socket_path, path, sizeof(path));
	if (rc != 0)
		return rc;
	guest = calloc(1, sizeof(*guest));
	if (guest == NULL)
		return -ENOMEM;

	rc = connect_socket(path, timeout_ms, &guest->socket_fd);
	if (rc != 0)
		goto err_free_guest;
	rc = sim_wire_send(guest->socket_fd, &hello, sizeof(hello), NULL, 0);
	if (rc != 0)
		goto err_close_socket;
	rc = sim_wire_wait_readable(guest->socket_fd, timeout_ms);
	if (rc != 0)
		goto err_close_socket;
	fd_count = sim_wire_receive(guest->socket_fd, &offer, sizeof(offer), fds, SIM_FD_COUNT);
	if (fd_count < 0) {
		rc = fd_count;
		goto err_close_socket;
	}
	rc = validate_offer(&offer);
	if (rc == 0 && (fd_count != SIM_FD_COUNT || !is_signal_socket(fds[SIM_FD_SIGNAL_HOST]) ||
			!is_signal_socket(fds[SIM_FD_SIGNAL_GUEST])))
		rc = -EPROTO;
	if (rc != 0)
		goto err_close_fds;

	guest->ring_memory_size = 2 * (size_t)offer.ring_size;
	rc = map_shared(fds[SIM_FD_RING], guest->ring_memory_size, &guest->ring_memory);
	if (rc == 0)
		rc = map_shared(fds[SIM_FD_INTERRUPT_PAGE], SIM_HYPERV_PAGE_SIZE, &guest->interrupt_page);
	if (rc == 0)
		rc = map_shared(fds[SIM_FD_MONITOR_PAGE], SIM_HYPERV_PAGE_SIZE, &guest->monitor_page);
	if (rc != 0)
		goto err_unmap;
	guest->signal_host_fd = fds[SIM_FD_SIGNAL_HOST];
	guest->interrupt_fd = fds[SIM_FD_SIGNAL_GUEST];

	region = (struct vmbus_channel_region){
		.ring_base = guest->ring_memory,
		.ring_size = offer.ring_size,
		.relid = offer.relid,
		.monitor_id = offer.monitor_id,
	};
	memset(&params, 0, sizeof(params));
	memcpy(params.class_id.bytes, offer.class_id, sizeof(params.class_id.bytes));
	memcpy(params.instance_id.bytes, offer.instance_id, sizeof(params.instance_id.bytes));
	params.numa_node = offer.numa_node;
	params.side = VMBUS_SIDE_GUEST;
	params.page_size = offer.page_size;
	params.channel_count = 1;
	params.channels = &region;
	params.ops = &sim_guest_ops;
	params.backend_data = guest;
	rc = vmbus_device_create(&params, device);
	if (rc != 0)
		goto err_unmap;
	/* The mappings hold the memory; of the descriptors only the signal sockets stay open. */
	close(fds[SIM_FD_RING]);
	close(fds[SIM_FD_INTERRUPT_PAGE]);
	close(fds[SIM_FD_MONITOR_PAGE]);
	return 0;

err_unmap:
	sim_guest_unmap(guest);
err_close_fds:
	for (i = 0; i < fd_count; i++)
		close(fds[i]);
err_close_socket:
	close(guest->socket_fd);
err_free_guest:
	free(guest);
	return rc;
}
