/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Host side of the emulated bus: the part of Hyper-V plus uio_hv_generic that sets a device
 * up. Each accepted guest gets fresh memory with ring headers initialised the way
 * hv_ringbuffer_init() does at channel open, so a new guest never sees an old guest's state.
 * Profiles reproduce what different guest kernels give a uio device.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <vmbus/backend.h>
#include <vmbus/memory.h>
#include <vmbus/sim.h>
#include <winapi_internal/clock.h>

#include "sim_wire.h"

/* A guest that connects must say hello within this time, or it is dropped. */
#define SIM_HELLO_TIMEOUT_MS 2000

/* The relid of the primary channel (any nonzero value; Hyper-V starts low). */
#define SIM_PRIMARY_RELID 1u
/* The monitor id of the primary when the profile monitors: ids go up with subchannels. */
#define SIM_PRIMARY_MONITOR_ID 5u

/* GPADL handles of the two regions (uio map names say recv:<gpadl> and send:<gpadl>). */
static const uint32_t sim_pool_gpadl[2] = { 0xe1000001u, 0xe1000002u };

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
	int event_fd;         /* epoll over signal_host_fd and connection_fd; -1 when monitored */
	struct sim_memory memory;
	bool pool_borrowed;   /* pools[0] is the caller's memory (vmbus_sim_host_accept_pool) */
	unsigned int channel_count;
	bool monitored;
	unsigned long long signals_received;
};

static int sim_host_signal(struct vmbus_device *device, unsigned int index)
{
	struct sim_host_device *host = vmbus_device_backend_data(device);

	(void)index;
	return sim_signal_peer(host->signal_guest_fd);
}

/* A monitored guest sets trigger bits instead of signalling: take them, like the hypervisor. */
static bool take_monitor_triggers(struct sim_host_device *host)
{
	bool any = false;
	unsigned int i;

	for (i = 0; i < host->channel_count; i++)
		if (vmbus_monitor_take(host->memory.monitor_page.address, SIM_PRIMARY_MONITOR_ID + i))
			any = true;
	if (any)
		host->signals_received++;
	return any;
}

static int sim_host_wait(struct vmbus_device *device, int timeout_ms)
{
	struct sim_host_device *host = vmbus_device_backend_data(device);
	uint64_t deadline;
	int rc;

	if (!host->monitored)
		return sim_wait_peer(host->signal_host_fd, host->connection_fd, timeout_ms,
				     &host->signals_received);
	/*
	 * Hyper-V scans the monitor page after each channel's latency; so do we, and watch the
	 * sockets (departure, stray signals) in between.
	 */
	deadline = timeout_ms < 0 ? UINT64_MAX : winapi_clock_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		if (take_monitor_triggers(host))
			return 0;
		if (winapi_clock_now_ms() >= deadline)
			return -ETIMEDOUT;
		rc = sim_wait_peer(host->signal_host_fd, host->connection_fd, 0, &host->signals_received);
		if (rc != -ETIMEDOUT)
			return rc;
		usleep(SIM_MONITOR_SCAN_US);
	}
}

static void sim_host_device_free(struct sim_host_device *host)
{
	if (host->pool_borrowed)
		host->memory.pools[0].address = NULL;
	sim_memory_unmap(&host->memory);
	if (host->event_fd >= 0)
		close(host->event_fd);
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

/* The host's view of a pool: the same region, mapped in the emulator. */
static int sim_host_gpadl_region(const struct vmbus_device *device, unsigned int index,
				 struct vmbus_gpadl_region *region)
{
	const struct sim_host_device *host = vmbus_device_backend_data(device);

	if (index > 1 || host->memory.pools[index].address == NULL)
		return -ENOENT;
	region->address = host->memory.pools[index].address;
	region->size = host->memory.pools[index].size;
	region->gpadl = sim_pool_gpadl[index];
	return 0;
}

static int sim_host_event_fd(const struct vmbus_device *device)
{
	const struct sim_host_device *host = vmbus_device_backend_data(device);

	/* A monitored guest signals by bits in a page, which only a scan sees. */
	return host->event_fd >= 0 ? host->event_fd : -EOPNOTSUPP;
}

static const struct vmbus_backend_ops sim_host_ops = {
	.name = "sim-host",
	.signal = sim_host_signal,
	.wait = sim_host_wait,
	.release = sim_host_release,
	.event_fd = sim_host_event_fd,
	.gpadl_region = sim_host_gpadl_region,
};

bool vmbus_sim_host_guest_connected(const struct vmbus_device *device)
{
	const struct sim_host_device *host = vmbus_device_backend_data(device);
	struct pollfd pfd = { .fd = host->connection_fd, .events = POLLIN };

	/* As in sim_host_wait(): any event on the socket means the guest has gone. */
	return poll(&pfd, 1, 0) == 0;
}

int vmbus_sim_host_guest_credentials(const struct vmbus_device *device, pid_t *pid, uid_t *uid)
{
	const struct sim_host_device *host = vmbus_device_backend_data(device);
	struct ucred credentials;
	socklen_t length = sizeof(credentials);

	if (getsockopt(host->connection_fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0)
		return -errno;
	*pid = credentials.pid;
	*uid = credentials.uid;
	return 0;
}

unsigned long long vmbus_sim_host_signals_received(const struct vmbus_device *device)
{
	const struct sim_host_device *host = vmbus_device_backend_data(device);

	return host->signals_received;
}

int vmbus_sim_host_guest_ram(const struct vmbus_device *device, void **address, size_t *size)
{
	const struct sim_host_device *host;

	if (device == NULL || strcmp(vmbus_device_backend_name(device), sim_host_ops.name) != 0)
		return -EINVAL;
	host = vmbus_device_backend_data(device);
	if (host->memory.guest_ram.address == NULL)
		return -ENOENT;
	*address = host->memory.guest_ram.address;
	*size = host->memory.guest_ram.size;
	return 0;
}

/*
 * A memfd of @size bytes, mapped shared and sealed at that size: a guest that maps it can
 * rely on the size (a file that shrinks under a mapping turns accesses into SIGBUS).
 * Returns 0 or negative errno.
 */
static int create_region(const char *name, size_t size, struct sim_mapping *mapping, int *fd_out)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int rc;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) != 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0)
		goto err_close;
	mapping->address = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mapping->address == MAP_FAILED) {
		mapping->address = NULL;
		goto err_close;
	}
	mapping->size = size;
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

int vmbus_sim_host_accept_connection(struct vmbus_sim_host *host, int *connection_fd)
{
	struct timeval timeout = { .tv_sec = SIM_HELLO_TIMEOUT_MS / 1000,
				   .tv_usec = (SIM_HELLO_TIMEOUT_MS % 1000) * 1000 };
	int fd = accept4(host->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	/* A guest that stops reading cannot hold the offer's send for long either. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	*connection_fd = fd;
	return 0;
}

/* The hello, which must be waiting on @fd already: 0, or -EPROTO (absent or malformed). */
static int read_hello(int fd)
{
	struct sim_hello hello;
	int rc = sim_wire_wait_readable(fd, 0);

	if (rc == 0)
		rc = sim_wire_receive(fd, &hello, sizeof(hello), NULL, 0);
	if (rc == 0 && (hello.magic != SIM_WIRE_MAGIC || hello.version != SIM_WIRE_VERSION))
		rc = -EPROTO;
	return rc == 0 ? 0 : -EPROTO;
}

/* Accept one guest and wait (bounded) for its hello to arrive. */
static int accept_guest(struct vmbus_sim_host *host, int *connection_fd)
{
	int fd, rc;

	rc = vmbus_sim_host_accept_connection(host, &fd);
	if (rc != 0)
		return rc;
	rc = sim_wire_wait_readable(fd, SIM_HELLO_TIMEOUT_MS);
	if (rc != 0) {
		close(fd);
		return rc == -ETIMEDOUT ? -EPROTO : rc;
	}
	*connection_fd = fd;
	return 0;
}

static void fill_offer(const struct vmbus_sim_host *host, struct sim_offer *offer, int status)
{
	const struct vmbus_sim_host_config *config = &host->config;
	unsigned int i;

	memset(offer, 0, sizeof(*offer));
	offer->magic = SIM_WIRE_MAGIC;
	offer->version = SIM_WIRE_VERSION;
	offer->status = status;
	offer->channel_count = 1 + config->subchannels;
	memcpy(offer->class_id, config->class_id.bytes, sizeof(offer->class_id));
	memcpy(offer->instance_id, config->instance_id.bytes, sizeof(offer->instance_id));
	offer->ring_size = config->ring_size;
	offer->subchannel_ring_size = config->subchannel_ring_size;
	offer->page_size = (uint32_t)host->page_size;
	offer->relid = SIM_PRIMARY_RELID;
	offer->monitor_id = config->monitored ? SIM_PRIMARY_MONITOR_ID : VMBUS_MONITOR_ID_NONE;
	offer->numa_node = -1;
	for (i = 0; i < 2; i++) {
		offer->pool_size[i] = config->pool_size[i];
		offer->pool_gpadl[i] = config->pool_size[i] != 0 ? sim_pool_gpadl[i] : 0;
	}
	offer->guest_ram_size = config->guest_ram_size;
	if (config->quirks & VMBUS_SIM_QUIRK_UNMASK_PRIMARY_ON_SIGNAL)
		offer->flags |= SIM_OFFER_UNMASK_PRIMARY_ON_SIGNAL;
	if (config->quirks & VMBUS_SIM_QUIRK_UNMASK_ALL_ON_SIGNAL)
		offer->flags |= SIM_OFFER_UNMASK_ALL_ON_SIGNAL;
	if (config->quirks & VMBUS_SIM_QUIRK_MASK_IN_INTERRUPT)
		offer->flags |= SIM_OFFER_MASK_IN_INTERRUPT;
}

/* Create every region and socket of @offer; @fds receives the guest's descriptors. */
static int create_device_memory(const struct vmbus_sim_host *host, const struct sim_offer *offer,
				const struct sim_fd_layout *layout, const struct vmbus_sim_host_pool *pool,
				struct sim_host_device *state, int *fds)
{
	static const char *const pool_names[2] = { "vmbus-sim-recv-pool", "vmbus-sim-send-pool" };
	unsigned int i;
	int rc = 0;

	for (i = 0; i < offer->channel_count && rc == 0; i++) {
		size_t ring_size = i == 0 ? offer->ring_size : offer->subchannel_ring_size;

		rc = create_region("vmbus-sim-rings", 2 * ring_size, &state->memory.rings[i], &fds[i]);
		if (rc == 0) {
			/* The kernel initialises both headers when it opens the channel. */
			vmbus_ring_header_init(state->memory.rings[i].address, host->page_size);
			vmbus_ring_header_init((uint8_t *)state->memory.rings[i].address + ring_size,
					       host->page_size);
		}
	}
	if (rc == 0)
		rc = create_region("vmbus-sim-int-page", SIM_HYPERV_PAGE_SIZE, &state->memory.interrupt_page,
				   &fds[layout->interrupt_page]);
	if (rc == 0)
		rc = create_region("vmbus-sim-monitor-page", SIM_HYPERV_PAGE_SIZE, &state->memory.monitor_page,
				   &fds[layout->monitor_page]);
	for (i = 0; i < 2 && rc == 0; i++) {
		if (layout->pool[i] < 0)
			continue;
		if (i == 0 && pool != NULL) {
			fds[layout->pool[0]] = fcntl(pool->fd, F_DUPFD_CLOEXEC, 0);
			if (fds[layout->pool[0]] < 0)
				rc = -errno;
			state->memory.pools[0] = (struct sim_mapping){ .address = pool->address, .size = pool->size };
			state->pool_borrowed = true;
			continue;
		}
		rc = create_region(pool_names[i], offer->pool_size[i], &state->memory.pools[i],
				   &fds[layout->pool[i]]);
	}
	if (rc == 0 && layout->guest_ram >= 0)
		rc = create_region("vmbus-sim-guest-ram", offer->guest_ram_size, &state->memory.guest_ram,
				   &fds[layout->guest_ram]);
	if (rc == 0)
		rc = create_signal_pair(&state->signal_host_fd, &fds[layout->signal_host]);
	if (rc == 0)
		rc = create_signal_pair(&state->signal_guest_fd, &fds[layout->signal_guest]);
	/* One descriptor for both things sim_host_wait() watches, unless it scans monitor pages. */
	if (rc == 0 && !state->monitored) {
		state->event_fd = sim_event_fd_create(state->signal_host_fd, state->connection_fd);
		rc = state->event_fd < 0 ? state->event_fd : 0;
	}
	return rc;
}

static bool pool_valid(const struct vmbus_sim_host_pool *pool, size_t page_size)
{
	return pool->fd >= 0 && pool->address != NULL && pool->size != 0 &&
	       pool->size % SIM_HYPERV_PAGE_SIZE == 0 && pool->size % page_size == 0 &&
	       pool->offset % page_size == 0 && pool->gpadl != 0;
}

int vmbus_sim_host_accept(struct vmbus_sim_host *host, struct vmbus_device **device)
{
	return vmbus_sim_host_accept_pool(host, NULL, device);
}

int vmbus_sim_host_accept_pool(struct vmbus_sim_host *host, const struct vmbus_sim_host_pool *pool,
			       struct vmbus_device **device)
{
	int connection_fd, rc;

	if (pool != NULL && !pool_valid(pool, host->page_size))
		return -EINVAL;
	rc = accept_guest(host, &connection_fd);
	if (rc != 0)
		return rc;
	return vmbus_sim_host_offer(host, connection_fd, pool, device);
}

int vmbus_sim_host_offer(struct vmbus_sim_host *host, int connection_fd, const struct vmbus_sim_host_pool *pool,
			 struct vmbus_device **device)
{
	struct vmbus_channel_region regions[SIM_MAX_CHANNELS];
	struct vmbus_device_params params;
	struct sim_host_device *state;
	struct sim_fd_layout layout;
	int fds[SIM_MAX_FDS], rc;
	struct sim_offer offer;
	unsigned int i;

	for (i = 0; i < SIM_MAX_FDS; i++)
		fds[i] = -1;
	state = calloc(1, sizeof(*state));
	if (state == NULL) {
		close(connection_fd);
		return -ENOMEM;
	}
	state->signal_host_fd = state->signal_guest_fd = state->event_fd = -1;
	state->connection_fd = connection_fd;
	if (pool != NULL && !pool_valid(pool, host->page_size)) {
		rc = -EINVAL;
		goto err_free_state;
	}
	rc = read_hello(connection_fd);
	if (rc != 0)
		goto err_free_state;

	fill_offer(host, &offer, 0);
	if (pool != NULL) {
		offer.pool_size[0] = pool->size;
		offer.pool_offset[0] = pool->offset;
		offer.pool_gpadl[0] = pool->gpadl;
	}
	sim_fd_layout(&offer, &layout);
	state->channel_count = offer.channel_count;
	state->monitored = host->config.monitored;
	rc = create_device_memory(host, &offer, &layout, pool, state, fds);
	if (rc != 0)
		goto err_close_fds;
	rc = sim_wire_send(state->connection_fd, &offer, sizeof(offer), fds, layout.count);
	if (rc != 0)
		goto err_close_fds;
	/* The guest has its copies; we keep the mappings and our ends of the signal sockets. */
	for (i = 0; i < layout.count; i++)
		close(fds[i]);

	for (i = 0; i < offer.channel_count; i++)
		regions[i] = (struct vmbus_channel_region){
			.ring_base = state->memory.rings[i].address,
			.ring_size = state->memory.rings[i].size / 2,
			.relid = SIM_PRIMARY_RELID + i,
			.monitor_id = host->config.monitored ? SIM_PRIMARY_MONITOR_ID + i : VMBUS_MONITOR_ID_NONE,
		};
	memset(&params, 0, sizeof(params));
	params.class_id = host->config.class_id;
	params.instance_id = host->config.instance_id;
	params.numa_node = -1;
	params.side = VMBUS_SIDE_HOST;
	params.page_size = host->page_size;
	params.channel_count = offer.channel_count;
	params.channels = regions;
	params.ops = &sim_host_ops;
	params.backend_data = state;
	rc = vmbus_device_create(&params, device);
	if (rc != 0)
		goto err_free_state;
	return 0;

err_close_fds:
	for (i = 0; i < SIM_MAX_FDS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
err_free_state:
	sim_host_device_free(state);
	return rc;
}

int vmbus_sim_host_reject(struct vmbus_sim_host *host, int error)
{
	int fd, rc;

	rc = accept_guest(host, &fd);
	if (rc != 0)
		return rc;
	return vmbus_sim_host_refuse(host, fd, error);
}

int vmbus_sim_host_refuse(struct vmbus_sim_host *host, int connection_fd, int error)
{
	struct sim_offer offer;
	int rc = read_hello(connection_fd);

	if (rc == 0) {
		fill_offer(host, &offer, error);
		rc = sim_wire_send(connection_fd, &offer, sizeof(offer), NULL, 0);
	}
	close(connection_fd);
	return rc;
}

const char *const vmbus_sim_profile_names[] = { "linux-6.1", "linux-6.12", "mainline", NULL };

int vmbus_sim_profile(const char *name, struct vmbus_sim_host_config *config)
{
	/* What uio_hv_generic gives a device (vmbus-spec.md 1.3): 31 MiB receive, 16 MiB send. */
	const size_t receive_pool = 31u << 20, send_pool = 16u << 20;

	if (name == NULL || config == NULL)
		return -EINVAL;
	if (strcmp(name, "linux-6.1") == 0) {
		/* Monitored channels only (the probe refuses others); the ISR masks RX. */
		config->monitored = true;
		config->ring_size = config->subchannel_ring_size = 2u << 20;
		config->pool_size[0] = receive_pool;
		config->pool_size[1] = send_pool;
		config->quirks = VMBUS_SIM_QUIRK_MASK_IN_INTERRUPT;
	} else if (strcmp(name, "linux-6.12") == 0) {
		/* Non-monitored allowed (6.10+); irqcontrol unmasks the primary; Debian's build
		 * still creates both GPADL regions for every device. */
		config->monitored = false;
		config->ring_size = config->subchannel_ring_size = 2u << 20;
		config->pool_size[0] = receive_pool;
		config->pool_size[1] = send_pool;
		config->quirks = VMBUS_SIM_QUIRK_UNMASK_PRIMARY_ON_SIGNAL | VMBUS_SIM_QUIRK_MASK_IN_INTERRUPT;
	} else if (strcmp(name, "mainline") == 0) {
		/* 64 KiB of data + a header page for an unknown class (6.10+), GPADL regions for
		 * network devices only (6.14+), every channel signalled and unmasked (6.16+),
		 * userspace owns the mask (6.18+). */
		config->monitored = false;
		config->ring_size = 0x11000;
		config->subchannel_ring_size = 2u << 20;
		config->pool_size[0] = config->pool_size[1] = 0;
		config->quirks = VMBUS_SIM_QUIRK_UNMASK_ALL_ON_SIGNAL;
	} else {
		return -EINVAL;
	}
	return 0;
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

static bool ring_size_valid(size_t ring_size, size_t page_size)
{
	return ring_size >= 2 * page_size && ring_size % page_size == 0 && ring_size - page_size < UINT32_MAX;
}

/* @host's configuration from @config, checked: 0 or -EINVAL. */
static int host_configure(struct vmbus_sim_host *host, const struct vmbus_sim_host_config *config)
{
	unsigned int i;

	host->config = *config;
	host->page_size = (size_t)sysconf(_SC_PAGESIZE);
	if (host->config.subchannel_ring_size == 0)
		host->config.subchannel_ring_size = host->config.ring_size;
	if (!ring_size_valid(host->config.ring_size, host->page_size) ||
	    !ring_size_valid(host->config.subchannel_ring_size, host->page_size) ||
	    host->config.subchannels >= SIM_MAX_CHANNELS)
		return -EINVAL;
	for (i = 0; i < 2; i++)
		if (host->config.pool_size[i] % SIM_HYPERV_PAGE_SIZE != 0)
			return -EINVAL;
	return host->config.guest_ram_size % host->page_size == 0 ? 0 : -EINVAL;
}

int vmbus_sim_pair(const struct vmbus_sim_host_config *config, struct vmbus_device **host_device,
		   struct vmbus_device **guest_device)
{
	const struct sim_hello hello = { .magic = SIM_WIRE_MAGIC, .version = SIM_WIRE_VERSION };
	struct vmbus_sim_host host = { .listen_fd = -1 };
	int pair[2], rc;

	rc = host_configure(&host, config);
	if (rc != 0)
		return rc;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
		return -errno;
	/*
	 * The hand-over of vmbus_sim_connect() and vmbus_sim_host_accept(), in one thread: each
	 * message fits the socket's buffer, so the hello and the offer wait there for their reader.
	 */
	rc = sim_wire_send(pair[1], &hello, sizeof(hello), NULL, 0);
	if (rc != 0)
		goto err_close_pair;
	rc = vmbus_sim_host_offer(&host, pair[0], NULL, host_device);
	if (rc != 0) {
		close(pair[1]);
		return rc;
	}
	rc = sim_guest_attach(pair[1], 0, guest_device);
	if (rc != 0)
		vmbus_device_close(*host_device);
	return rc;

err_close_pair:
	close(pair[0]);
	close(pair[1]);
	return rc;
}

int vmbus_sim_host_listen(const struct vmbus_sim_host_config *config, struct vmbus_sim_host **host_out)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	struct vmbus_sim_host *host;
	int rc;

	host = calloc(1, sizeof(*host));
	if (host == NULL)
		return -ENOMEM;
	rc = host_configure(host, config);
	if (rc != 0)
		goto err_free_host;
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
	/*
	 * The path appears only once the socket listens: bound under a name of its own, then
	 * renamed. Whoever waits for the file (a script, the bench) would otherwise connect in the
	 * moment between bind() and listen() and be refused. A path too long for the extra name
	 * is bound as it is.
	 */
	if ((size_t)snprintf(address.sun_path, sizeof(address.sun_path), "%s.%d", host->path, (int)getpid()) >=
	    sizeof(address.sun_path))
		memcpy(address.sun_path, host->path, strlen(host->path) + 1);
	else
		unlink(address.sun_path);
	if (bind(host->listen_fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
		rc = -errno;
		goto err_close_socket;
	}
	if (listen(host->listen_fd, 8) != 0 ||
	    (strcmp(address.sun_path, host->path) != 0 && rename(address.sun_path, host->path) != 0)) {
		rc = -errno;
		goto err_unlink_bound;
	}
	*host_out = host;
	return 0;

err_unlink_bound:
	unlink(address.sun_path);
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
