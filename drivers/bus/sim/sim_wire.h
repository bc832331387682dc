/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The emulator's hand-over protocol on its unix socket (SOCK_SEQPACKET), private to
 * drivers/bus/sim: the guest sends a hello, the host answers with an offer and, in the same
 * message, the device's file descriptors (SCM_RIGHTS). Both ends run on one machine, so the
 * structs are in native byte order; the guest still validates every field, since whoever
 * listens on that socket is not trusted.
 */
#ifndef DRIVERS_BUS_SIM_WIRE_H
#define DRIVERS_BUS_SIM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define SIM_WIRE_MAGIC 0x4d495356u /* "VSIM" */
#define SIM_WIRE_VERSION 3u

/* HV_HYP_PAGE_SIZE: uio_hv_generic's int_page and monitor_page maps are 4 KiB since 2025. */
#define SIM_HYPERV_PAGE_SIZE 4096u

/* Primary + subchannels the emulator offers at most. */
#define SIM_MAX_CHANNELS 16u

/* Most descriptors an offer carries: rings, 2 pages, 2 pools, guest RAM, 2 signal sockets. */
#define SIM_MAX_FDS (SIM_MAX_CHANNELS + 7u)

/* The emulator's monitor scan interval: how soon a monitored signal is seen (Hyper-V's
 * default latency is 50 us; the emulator polls its page at this interval while idle). */
#define SIM_MONITOR_SCAN_US 200

struct sim_hello {
	uint32_t magic;
	uint32_t version;
};

/* What the guest's kernel would do behind its back (offer.flags), by profile. */
#define SIM_OFFER_UNMASK_PRIMARY_ON_SIGNAL 0x1u /* 6.10-6.15 irqcontrol: primary's RX mask cleared */
#define SIM_OFFER_UNMASK_ALL_ON_SIGNAL 0x2u     /* 6.16+: every channel's RX mask cleared */
#define SIM_OFFER_MASK_IN_INTERRUPT 0x4u        /* before 6.18: the ISR sets the RX mask */

struct sim_offer {
	uint32_t magic;
	uint32_t version;
	int32_t status;                /* 0, or a negative errno (-EBUSY) and no descriptors follow */
	uint32_t channel_count;        /* primary + subchannels, 1..SIM_MAX_CHANNELS */
	uint8_t class_id[16];
	uint8_t instance_id[16];
	uint64_t ring_size;            /* primary, one direction, header page included */
	uint64_t subchannel_ring_size; /* the same for every subchannel */
	uint32_t page_size;            /* header page size: the data area starts here */
	uint32_t relid;                /* primary; subchannel i has relid + i */
	uint32_t monitor_id;           /* primary; subchannel i: monitor_id + i; or NONE */
	int32_t numa_node;
	uint64_t pool_size[2];         /* GPADL regions (receive, send); 0: absent */
	uint64_t pool_offset[2];       /* where in its file each region starts (page multiple) */
	uint32_t pool_gpadl[2];
	uint64_t guest_ram_size;       /* shared guest RAM for GPA-direct; 0: absent */
	uint32_t flags;                /* SIM_OFFER_* */
	uint32_t reserved;
};

/*
 * Order of the descriptors that travel with an offer: a ring memfd per channel (TX half then
 * RX half, as uio map 0 and the subchannel `ring` files), the interrupt page (map 1), the
 * monitor page (map 2), the pools that exist (maps 3 and 4), guest RAM if any, then the two
 * signal sockets.
 */
struct sim_fd_layout {
	unsigned int interrupt_page;
	unsigned int monitor_page;
	int pool[2];        /* -1: absent */
	int guest_ram;      /* -1: absent */
	unsigned int signal_host;  /* the guest sends here to signal the host */
	unsigned int signal_guest; /* the guest's interrupts arrive here */
	unsigned int count;
};

/* Where each descriptor of @offer is (offer fields already range-checked). */
void sim_fd_layout(const struct sim_offer *offer, struct sim_fd_layout *layout);

/* Everything both sides map, unmapped by sim_memory_unmap(). */
struct sim_mapping {
	void *address;
	size_t size;
};

struct sim_memory {
	struct sim_mapping rings[SIM_MAX_CHANNELS];
	struct sim_mapping interrupt_page;
	struct sim_mapping monitor_page;
	struct sim_mapping pools[2];
	struct sim_mapping guest_ram;
};

void sim_memory_unmap(struct sim_memory *memory);

/*
 * Signals travel on one SOCK_SEQPACKET socketpair per direction, a one-byte message per
 * signal; each side holds only its own end. Not eventfds: both ends of an eventfd share one
 * file description and one counter, so a hostile peer could clear O_NONBLOCK or fill the
 * counter and block our write for good. On a socketpair every call is non-blocking by its
 * own flag (MSG_DONTWAIT), a full queue just means a wake-up is already pending, and a peer
 * that exits shows up as a hang-up.
 */
#define SIM_SIGNAL_SOCKET_TYPE SOCK_SEQPACKET

/* Send @size bytes and @fd_count descriptors in one message. Returns 0 or negative errno. */
int sim_wire_send(int socket_fd, const void *message, size_t size, const int *fds, unsigned int fd_count);

/*
 * Receive one message of exactly @size bytes with up to @max_fds descriptors (close-on-exec).
 * A short, long or truncated message is -EPROTO, and every descriptor it carried is closed.
 * Returns the number of descriptors received, or negative errno (-ECONNRESET at end of file).
 */
int sim_wire_receive(int socket_fd, void *message, size_t size, int *fds, unsigned int max_fds);

/* Signal the peer on our end of a signal socket. Returns 0, or -ENOTCONN if the peer is gone. */
int sim_signal_peer(int signal_fd);

/*
 * The backend wait of both sides: block until the peer signals on @signal_fd (the signals are
 * consumed, like uio's read(), and counted into *@signals unless NULL) or anything happens on
 * @socket_fd. Nobody writes to the hand-over socket afterwards, so an event there, or a
 * hang-up on the signal socket, means the peer is gone.
 * Returns 0, -ETIMEDOUT, -EINTR, or -ENOTCONN (peer gone).
 */
int sim_wait_peer(int signal_fd, int socket_fd, int timeout_ms, unsigned long long *signals);

/*
 * One descriptor (an epoll) that is readable when sim_wait_peer(@signal_fd, @socket_fd) would
 * not time out, for vmbus_device_event_fd(). Returns it, or negative errno.
 */
int sim_event_fd_create(int signal_fd, int socket_fd);

/* Wait until @fd is readable: 0, -ETIMEDOUT, or negative errno. */
int sim_wire_wait_readable(int fd, int timeout_ms);

/*
 * The guest's half of the hand-over once its hello has gone on @socket_fd: take the offer
 * (waiting up to @timeout_ms for it), map the device, and keep @socket_fd as the device's
 * connection (closed on error). vmbus_sim_connect() and vmbus_sim_pair() both end here.
 */
struct vmbus_device;
int sim_guest_attach(int socket_fd, int timeout_ms, struct vmbus_device **device);

#endif /* DRIVERS_BUS_SIM_WIRE_H */
