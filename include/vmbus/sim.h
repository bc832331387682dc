/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The emulated VMBus backend (drivers/bus/sim). winapi-host-sim plays the Windows host: it
 * offers one device, creates its memory the way uio_hv_generic maps it (ring memory = map 0,
 * TX half then RX half; interrupt page = map 1; monitor page = map 2) as sealed memfds, plus
 * one signal socket per direction (the emulator's interrupt line, like uio's fd), and hands
 * them to one guest process at a time over a unix socket.
 * Both ends then run the ordinary lib/vmbus ring and channel code on that memory.
 *
 * Socket path: an explicit path, else $WINAPI_SIM_SOCKET, else
 * $XDG_RUNTIME_DIR/winapi-host-sim.sock, else /tmp/winapi-host-sim.<uid>.sock.
 *
 * Owner: drivers/bus/sim
 */
#ifndef VMBUS_SIM_H
#define VMBUS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <vmbus/channel.h>
#include <vmbus/guid.h>

/**
 * Resolve the socket path as described above into @p path.
 * @return 0; -ENAMETOOLONG if it does not fit @p size or a unix socket address.
 */
int vmbus_sim_socket_path(const char *explicit_path, char *path, size_t size);

/**
 * Guest side: connect to the emulator and map the device it offers.
 * @param socket_path NULL for the default (see above)
 * @param timeout_ms  how long to wait for the emulator's offer
 * @return 0; -ENOENT / -ECONNREFUSED (no emulator listening there); -EACCES (the listener
 *         runs as another user); -EBUSY (another guest owns the device); -EPROTO (the
 *         emulator's offer is malformed: wrong magic or version, impossible sizes, missing,
 *         unsealed or wrong kinds of descriptors); -ETIMEDOUT; -ECONNRESET (the emulator
 *         hung up); -ENOMEM; other negative errno from socket calls or mmap.
 */
int vmbus_sim_connect(const char *socket_path, int timeout_ms, struct vmbus_device **device);

/** Host-side emulator: the listening half. */
struct vmbus_sim_host;

/* What the guest's kernel does behind its back, reproduced by the guest side (quirks). */
#define VMBUS_SIM_QUIRK_UNMASK_PRIMARY_ON_SIGNAL 0x1u /* uio irqcontrol, 6.10-6.15 */
#define VMBUS_SIM_QUIRK_UNMASK_ALL_ON_SIGNAL 0x2u     /* uio irqcontrol, 6.16+ */
#define VMBUS_SIM_QUIRK_MASK_IN_INTERRUPT 0x4u        /* uio ISR before 6.18 */

struct vmbus_sim_host_config {
	const char *socket_path;        /**< NULL: default */
	struct vmbus_guid class_id;
	struct vmbus_guid instance_id;
	size_t ring_size;               /**< primary, per direction, header page included */
	size_t subchannel_ring_size;    /**< the same for subchannels */
	unsigned int subchannels;       /**< offered with the primary, 0..15 */
	bool monitored;                 /**< signal by monitor page (else the signal socket) */
	size_t pool_size[2];            /**< GPADL regions receive, send (maps 3, 4); 0: none */
	size_t guest_ram_size;          /**< shared guest RAM for GPA-direct buffers; 0: none */
	unsigned int quirks;            /**< VMBUS_SIM_QUIRK_* */
};

/** Default guest RAM: plenty for 8 buffers of 64 MiB; a sparse memfd costs only what is touched. */
#define VMBUS_SIM_DEFAULT_GUEST_RAM (1ull << 30)

/**
 * Fill @p config's kernel-dependent fields from a profile that reproduces what a guest kernel
 * gives a uio device (shared/research/vmbus-spec.md 1.3, 1.8):
 *   linux-6.1   monitored channel, 2 MiB rings, GPADL regions 31 MiB + 16 MiB
 *   linux-6.12  non-monitored, 2 MiB rings, GPADL regions (Debian's 6.12 still makes them)
 *   mainline    non-monitored, 68 KiB primary rings, 2 MiB subchannel rings, no GPADL regions
 * with each kernel's interrupt-mask quirks. Leaves socket path, GUIDs, subchannels and guest
 * RAM alone. @return 0; -EINVAL for an unknown name.
 */
int vmbus_sim_profile(const char *name, struct vmbus_sim_host_config *config);

/** The profile names, NULL-terminated, for --help. */
extern const char *const vmbus_sim_profile_names[];

/**
 * Bind and listen. A stale socket file (nobody listening) is replaced; a live one is not.
 * @return 0; -EADDRINUSE (another emulator listens there); -EINVAL (a ring size not a page
 *         multiple or below two pages, more than 15 subchannels); other negative errno.
 */
int vmbus_sim_host_listen(const struct vmbus_sim_host_config *config, struct vmbus_sim_host **host);

/** The listening socket, for poll(): readable when a guest connects. */
int vmbus_sim_host_fd(const struct vmbus_sim_host *host);

/** The socket path in use. */
const char *vmbus_sim_host_path(const struct vmbus_sim_host *host);

/**
 * Accept one guest and give it the device: fresh ring memory (headers initialised as the
 * kernel does on channel open), interrupt and monitor pages, and signal sockets. @p device is
 * the host's view (VMBUS_SIDE_HOST); its backend wait returns -ENOTCONN when the guest
 * disconnects.
 * @return 0; -EAGAIN (nobody connecting); -EPROTO (the guest's hello is malformed; that
 *         guest is dropped); other negative errno.
 */
int vmbus_sim_host_accept(struct vmbus_sim_host *host, struct vmbus_device **device);

/** Memory the listener already has, offered to one guest as its GPADL region 0. */
struct vmbus_sim_host_pool {
	int fd;           /**< the file that maps it; the guest gets a duplicate */
	uint64_t offset;  /**< where the region starts in the file: a system page multiple */
	size_t size;      /**< a system page multiple */
	void *address;    /**< where the caller maps it: the host-side device's region 0 */
	uint32_t gpadl;   /**< the handle the guest names it by (nonzero) */
};

/**
 * As vmbus_sim_host_accept(), but the guest's GPADL region 0 is @p pool, memory the caller
 * owns and must keep mapped until the device is closed (region 1 is not offered). winapi-pmd
 * gives each client a slice of the DMA memory it holds on the real device this way, so a
 * client's buffers are memory the real host reaches in place. NULL: as
 * vmbus_sim_host_accept().
 * @return as vmbus_sim_host_accept(); -EINVAL (@p pool misaligned, empty or without fd).
 */
int vmbus_sim_host_accept_pool(struct vmbus_sim_host *host, const struct vmbus_sim_host_pool *pool,
			       struct vmbus_device **device);

/*
 * The same in two steps, for a listener that must not wait on any one guest (winapi-pmd's
 * control thread): take the connection now, and make the offer once poll() says the guest's
 * hello has arrived. A guest that never says hello then costs a descriptor, not a stall.
 */

/**
 * Take one waiting connection, without waiting for its hello.
 * @return 0; -EAGAIN (nobody connecting); other negative errno.
 */
int vmbus_sim_host_accept_connection(struct vmbus_sim_host *host, int *connection_fd);

/**
 * Read the hello waiting on @p connection_fd (poll() said it is readable) and offer the
 * device, as vmbus_sim_host_accept_pool(). The descriptor is the device's from then on, or
 * closed on error.
 * @return as vmbus_sim_host_accept_pool(); -EPROTO also when no hello is there.
 */
int vmbus_sim_host_offer(struct vmbus_sim_host *host, int connection_fd, const struct vmbus_sim_host_pool *pool,
			 struct vmbus_device **device);

/** Read the hello waiting on @p connection_fd, answer @p error (-EBUSY), close it. */
int vmbus_sim_host_refuse(struct vmbus_sim_host *host, int connection_fd, int error);

/** Accept one guest and tell it the device is busy. @return 0 or negative errno. */
int vmbus_sim_host_reject(struct vmbus_sim_host *host, int error);

/**
 * Whether the guest of this host-side device still holds its connection (it has not exited or
 * closed the device). Never blocks.
 */
bool vmbus_sim_host_guest_connected(const struct vmbus_device *device);

/**
 * Host side: the guest RAM of a host-side device (GPA-direct page N is at address + N * 4096),
 * or -ENOENT when the profile has none.
 */
int vmbus_sim_host_guest_ram(const struct vmbus_device *device, void **address, size_t *size);

/** The guest's process and user, as the kernel saw them when it connected. @return 0 or negative errno. */
int vmbus_sim_host_guest_credentials(const struct vmbus_device *device, pid_t *pid, uid_t *uid);

/** Number of signals the guest sent on this host-side device (the ones the host consumed). */
unsigned long long vmbus_sim_host_signals_received(const struct vmbus_device *device);

/**
 * Both sides of one device in this process, joined by a socket pair instead of a listening
 * socket: what vmbus_sim_host_accept() and vmbus_sim_connect() would give a host and its
 * guest, for a host that runs in the guest's own process (winapi-pmd --backend inline).
 * @p config as for vmbus_sim_host_listen() (its socket path is not used). Each device is
 * closed with vmbus_device_close(), after its channels.
 * @return 0; -EINVAL (as vmbus_sim_host_listen()); -ENOMEM; other negative errno.
 */
int vmbus_sim_pair(const struct vmbus_sim_host_config *config, struct vmbus_device **host,
		   struct vmbus_device **guest);

/** Stop listening and remove the socket file. */
void vmbus_sim_host_close(struct vmbus_sim_host *host);

#endif /* VMBUS_SIM_H */
