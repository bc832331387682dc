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
#define SIM_WIRE_VERSION 1u

/* HV_HYP_PAGE_SIZE: uio_hv_generic's int_page and monitor_page maps are 4 KiB since 2025. */
#define SIM_HYPERV_PAGE_SIZE 4096u

struct sim_hello {
	uint32_t magic;
	uint32_t version;
};

struct sim_offer {
	uint32_t magic;
	uint32_t version;
	int32_t status;         /* 0, or a negative errno (-EBUSY) and no descriptors follow */
	uint32_t channel_count; /* 1: the primary channel */
	uint8_t class_id[16];
	uint8_t instance_id[16];
	uint64_t ring_size;     /* one direction, header page included */
	uint32_t page_size;     /* header page size: the data area starts here */
	uint32_t relid;
	uint32_t monitor_id;    /* VMBUS_MONITOR_ID_NONE */
	int32_t numa_node;
};

/* Order of the descriptors that travel with an offer. */
enum sim_fd_index {
	SIM_FD_RING,           /* memfd, 2 * ring_size: TX half then RX half (uio map 0) */
	SIM_FD_INTERRUPT_PAGE, /* memfd, 4 KiB (uio map 1) */
	SIM_FD_MONITOR_PAGE,   /* memfd, 4 KiB (uio map 2) */
	SIM_FD_SIGNAL_HOST,    /* signal socket: the guest sends here to signal the host */
	SIM_FD_SIGNAL_GUEST,   /* signal socket: the guest's interrupts arrive here */
	SIM_FD_COUNT
};

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

/* Wait until @fd is readable: 0, -ETIMEDOUT, or negative errno. */
int sim_wire_wait_readable(int fd, int timeout_ms);

#endif /* DRIVERS_BUS_SIM_WIRE_H */
