/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Host side of the emulated bus: the part of Hyper-V plus uio_hv_generic that sets a channel
 * up. Each accepted guest gets fresh memory with ring headers initialised the way
 * hv_ringbuffer_init() does at channel open, so a new guest never sees an old guest's state.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <vmbus/backend.h>
#include <vmbus/sim.h>

#include "sim_wire.h"

/* A guest that connects must say hello within this time, or it is dropped. */
#define SIM_HELLO_TIMEOUT_MS 2000

/* The relid the emulator gives its one channel (any nonzero value; Hyper-V starts low). */
#define SIM_PRIMARY_RELID 1u

struct vmbus_sim_host {
	int listen_fd;
	char path[108];
	struct vmbus_sim_host_config config;
	size_t page_size;
};

struct sim_host_device {
	int connection_fd;
	int signal_host_fd;   /* our end of guest -> host signals: we wait on it */
	int signal_guest_fd;  /* our end of host -> guest signals: we send on it */
	void *ring_memory;
	size_t ring_memory_size;
	void *interrupt_page;
	void *monitor_page;
	unsigned long long signals_received;
};

static int sim_host_signal(struct vmbus_device *device, unsigned int index)
{
	struct sim_host_device *host = vmbus_device_backend_data(device);

	(void)index;
	return sim_signal_peer(host->signal_guest_fd);
}

static int sim_host_wait(struct vmbus_device *device, int timeout_ms)
{
	struct sim_host_device *host = vmbus_device_backend_data(device);

	return sim_wait_peer(host->signal_host_fd, host->connection_fd, timeout_ms,
			     &host->signals_received);
}

static void sim_host_device_free(struct sim_host_device *host)
{
	if (host->monitor_page != NULL)
		munmap(host->monitor_page, SIM_HYPERV_PAGE_SIZE);
	if (host->interrupt_page != NULL)
		munmap(host->interrupt_page, SIM_HYPERV_PAGE_SIZE);
	if (host->ring_memory != NULL)
		munmap(host->ring_memory, host->ring_memory_size);
	if (host->signal_guest_fd >= 0)
		close(host->signal_guest_fd);
	if (host->signal_host_fd >= 0)
		close(host->signal_host_fd);
	if (host->connection_fd >= 0)
		close(host->connection_fd);
	free(host);
}

static void sim_host_release(struct vmbus_device *device)
{
	sim_host_device_free(vmbus_device_backend_data(device));
}

static const struct vmbus_backend_ops sim_host_ops = {
	.name = "sim-host",
	.signal = sim_host_signal,
	.wait = sim_host_wait,
	.release = sim_host_release,
};

bool vmbus_sim_host_guest_connected(const struct vmbus_device *device)
{
	const struct sim_host_device *host = vmbus_device_backend_data(device);
	struct pollfd pfd = { .fd = host->connection_fd, .events = POLLIN };

	/* As in sim_host_wait(): any event on the socket means the guest has gone. */
	return poll(&pfd, 1, 0) == 0;
}

unsigned long long vmbus_sim_host_signals_received(const struct vmbus_device *device)
{
	const struct sim_host_device *host = vmbus_device_backend_data(device);

	return host->signals_received;
}

/*
 * A memfd of @size bytes, mapped shared and sealed at that size: a guest that maps it can
 * rely on the size (a file that shrinks under a mapping turns accesses into SIGBUS).
 * Returns 0 or negative errno.
 */
static int create_region(const char *name, size_t size, void **mapping, int *fd_out)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int rc;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) != 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
		goto err_close;
	*mapping = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (*mapping == MAP_FAILED) {
		*mapping = NULL;
		goto err_close;
	}
	*fd_out = fd;
	return 0;

err_close:
	rc = -errno;
	close(fd);
	return rc;
}

/* One signal direction: @ours stays here, @theirs goes to the guest. */
static int create_signal_pair(int *ours, int *theirs)
{
	int pair[2];

	if (socketpair(AF_UNIX, SIM_SIGNAL_SOCKET_TYPE | SOCK_CLOEXEC, 0, pair) != 0)
		return -errno;
	*ours = pair[0];
	*theirs = pair[1];
	return 0;
}

static int accept_guest(struct vmbus_sim_host *host, int *connection_fd)
{
	struct timeval timeout = { .tv_sec = SIM_HELLO_TIMEOUT_MS / 1000,
				   .tv_usec = (SIM_HELLO_TIMEOUT_MS % 1000) * 1000 };
	struct sim_hello hello;
	int fd, rc;

	fd = accept4(host->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	rc = sim_wire_wait_readable(fd, SIM_HELLO_TIMEOUT_MS);
	if (rc == 0)
		rc = sim_wire_receive(fd, &hello, sizeof(hello), NULL, 0);
	if (rc == 0 && (hello.magic != SIM_WIRE_MAGIC || hello.version != SIM_WIRE_VERSION))
		rc = -EPROTO;
	if (rc != 0) {
		close(fd);
		return rc == -ETIMEDOUT ? -EPROTO : rc;
	}
	*connection_fd = fd;
	return 0;
}

static void fill_offer(const struct vmbus_sim_host *host, struct sim_offer *offer, int status)
{
	memset(offer, 0, sizeof(*offer));
	offer->magic = SIM_WIRE_MAGIC;
	offer->version = SIM_WIRE_VERSION;
	offer->status = status;
	offer->channel_count = 1;
	memcpy(offer->class_id, host->config.class_id.bytes, sizeof(offer->class_id));
	memcpy(offer->instance_id, host->config.instance_id.bytes, sizeof(offer->instance_id));
	offer->ring_size = host->config.ring_size;
	offer->page_size = (uint32_t)host->page_size;
	offer->relid = SIM_PRIMARY_RELID;
	offer->monitor_id = VMBUS_MONITOR_ID_NONE;
	offer->numa_node = -1;
}

int vmbus_sim_host_accept(struct vmbus_sim_host *host, struct vmbus_device **device)
{
	struct vmbus_channel_region region;
	struct vmbus_device_params params;
	struct sim_host_device *state;
	int fds[SIM_FD_COUNT], i, rc;
	struct sim_offer offer;
	uint8_t *rings;

	for (i = 0; i < SIM_FD_COUNT; i++)
		fds[i] = -1;
	state = calloc(1, sizeof(*state));
	if (state == NULL)
		return -ENOMEM;
	state->connection_fd = state->signal_host_fd = state->signal_guest_fd = -1;

	rc = accept_guest(host, &state->connection_fd);
	if (rc != 0)
		goto err_free_state;

	state->ring_memory_size = 2 * host->config.ring_size;
	rc = create_region("vmbus-sim-rings", state->ring_memory_size, &state->ring_memory,
			   &fds[SIM_FD_RING]);
	if (rc == 0)
		rc = create_region("vmbus-sim-int-page", SIM_HYPERV_PAGE_SIZE, &state->interrupt_page,
				   &fds[SIM_FD_INTERRUPT_PAGE]);
	if (rc == 0)
		rc = create_region("vmbus-sim-monitor-page", SIM_HYPERV_PAGE_SIZE,
				   &state->monitor_page, &fds[SIM_FD_MONITOR_PAGE]);
	if (rc == 0)
		rc = create_signal_pair(&state->signal_host_fd, &fds[SIM_FD_SIGNAL_HOST]);
	if (rc == 0)
		rc = create_signal_pair(&state->signal_guest_fd, &fds[SIM_FD_SIGNAL_GUEST]);
	if (rc != 0)
		goto err_close_fds;

	rings = state->ring_memory;
	vmbus_ring_header_init(rings, host->page_size);
	vmbus_ring_header_init(rings + host->config.ring_size, host->page_size);

	fill_offer(host, &offer, 0);
	rc = sim_wire_send(state->connection_fd, &offer, sizeof(offer), fds, SIM_FD_COUNT);
	if (rc != 0)
		goto err_close_fds;

	/* The guest has its copies; we keep the mappings and our ends of the signal sockets. */
	for (i = 0; i < SIM_FD_COUNT; i++)
		close(fds[i]);

	region = (struct vmbus_channel_region){
		.ring_base = state->ring_memory,
		.ring_size = host->config.ring_size,
		.relid = SIM_PRIMARY_RELID,
		.monitor_id = VMBUS_MONITOR_ID_NONE,
	};
	memset(&params, 0, sizeof(params));
	params.class_id = host->config.class_id;
	params.instance_id = host->config.instance_id;
	params.numa_node = -1;
	params.side = VMBUS_SIDE_HOST;
	params.page_size = host->page_size;
	params.channel_count = 1;
	params.channels = &region;
	params.ops = &sim_host_ops;
	params.backend_data = state;
	rc = vmbus_device_create(&params, device);
	if (rc != 0)
		goto err_free_state;
	return 0;

err_close_fds:
	for (i = 0; i < SIM_FD_COUNT; i++)
		if (fds[i] >= 0)
			close(fds[i]);
err_free_state:
	sim_host_device_free(state);
	return rc;
}

int vmbus_sim_host_reject(struct vmbus_sim_host *host, int error)
{
	struct sim_offer offer;
	int fd, rc;

	rc = accept_guest(host, &fd);
	if (rc != 0)
		return rc;
	fill_offer(host, &offer, error);
	rc = sim_wire_send(fd, &offer, sizeof(offer), NULL, 0);
	close(fd);
	return rc;
}

/* Is someone listening on @path? Decides whether a leftover socket file may be removed. */
static bool socket_is_live(const char *path)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	memcpy(address.sun_path, path, strlen(path) + 1);
	live = connect(fd, (struct sockaddr *)&address, sizeof(address)) == 0;
	close(fd);
	return live;
}

int vmbus_sim_host_listen(const struct vmbus_sim_host_config *config, struct vmbus_sim_host **host_out)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	struct vmbus_sim_host *host;
	int rc;

	host = calloc(1, sizeof(*host));
	if (host == NULL)
		return -ENOMEM;
	host->config = *config;
	host->page_size = (size_t)sysconf(_SC_PAGESIZE);
	if (config->ring_size < 2 * host->page_size || config->ring_size % host->page_size != 0 ||
	    config->ring_size - host->page_size >= UINT32_MAX) {
		rc = -EINVAL;
		goto err_free_host;
	}
	rc = vmbus_sim_socket_path(config->socket_path, host->path, sizeof(host->path));
	if (rc != 0)
		goto err_free_host;
	host->config.socket_path = host->path;

	if (socket_is_live(host->path)) {
		rc = -EADDRINUSE;
		goto err_free_host;
	}
	unlink(host->path); /* stale file from an emulator that did not exit cleanly */

	host->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (host->listen_fd < 0) {
		rc = -errno;
		goto err_free_host;
	}
	memcpy(address.sun_path, host->path, strlen(host->path) + 1);
	if (bind(host->listen_fd, (struct sockaddr *)&address, sizeof(address)) != 0 ||
	    listen(host->listen_fd, 8) != 0) {
		rc = -errno;
		goto err_close_socket;
	}
	*host_out = host;
	return 0;

err_close_socket:
	close(host->listen_fd);
err_free_host:
	free(host);
	return rc;
}

int vmbus_sim_host_fd(const struct vmbus_sim_host *host)
{
	return host->listen_fd;
}

const char *vmbus_sim_host_path(const struct vmbus_sim_host *host)
{
	return host->path;
}

void vmbus_sim_host_close(struct vmbus_sim_host *host)
{
	if (host == NULL)
		return;
	close(host->listen_fd);
	unlink(host->path);
	free(host);
}
