/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdint.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <unistd.h>

#include <vmbus/channel.h>
#include <vmbus/sim.h>

#include "sim_wire.h"

int vmbus_sim_socket_path(const char *explicit_path, char *path, size_t size)
{
	struct sockaddr_un address;
	const char *runtime_dir;
	int length;

	if (explicit_path == NULL || *explicit_path == '\0')
		explicit_path = secure_getenv("WINAPI_SIM_SOCKET");
	if (explicit_path != NULL && *explicit_path != '\0') {
		length = snprintf(path, size, "%s", explicit_path);
	} else {
		runtime_dir = secure_getenv("XDG_RUNTIME_DIR");
		if (runtime_dir != NULL && *runtime_dir != '\0')
			length = snprintf(path, size, "%s/winapi-host-sim.sock", runtime_dir);
		else
			length = snprintf(path, size, "/tmp/winapi-host-sim.%u.sock", (unsigned int)getuid());
	}
	if (length < 0 || (size_t)length >= size || (size_t)length >= sizeof(address.sun_path))
		return -ENAMETOOLONG;
	return 0;
}

int sim_wire_send(int socket_fd, const void *message, size_t size, const int *fds, unsigned int fd_count)
{
	union {
		char buffer[CMSG_SPACE(sizeof(int) * SIM_MAX_FDS)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)message, .iov_len = size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;
	ssize_t sent;

	if (fd_count > SIM_MAX_FDS)
		return -EINVAL;
	if (fd_count != 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buffer;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * fd_count);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * fd_count);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * fd_count);
	}
	do
		sent = sendmsg(socket_fd, &msg, MSG_NOSIGNAL);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return -errno;
	return (size_t)sent == size ? 0 : -EPROTO;
}

int sim_wire_receive(int socket_fd, void *message, size_t size, int *fds, unsigned int max_fds)
{
	/* Room for more descriptors than we accept, so that extra ones arrive and get closed. */
	union {
		char buffer[CMSG_SPACE(sizeof(int) * SIM_MAX_FDS * 2)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = message, .iov_len = size };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control.buffer, .msg_controllen = sizeof(control.buffer),
	};
	unsigned int count = 0, i;
	struct cmsghdr *cmsg;
	bool excess = false;
	ssize_t received;

	do
		received = recvmsg(socket_fd, &msg, MSG_CMSG_CLOEXEC);
	while (received < 0 && errno == EINTR);
	if (received < 0)
		return -errno;

	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		size_t n;

		if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(fd));
			if (count < max_fds) {
				fds[count++] = fd;
			} else {
				close(fd);
				excess = true;
			}
		}
	}

	if (received == 0 && count == 0)
		return -ECONNRESET;
	if ((size_t)received != size || excess || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (i = 0; i < count; i++)
			close(fds[i]);
		return -EPROTO;
	}
	return (int)count;
}

int sim_wire_wait_readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int rc;

	do
		rc = poll(&pfd, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -errno;
	return rc == 0 ? -ETIMEDOUT : 0;
}

int sim_signal_peer(int signal_fd)
{
	const char signal_byte = 's';

	if (send(signal_fd, &signal_byte, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1)
		return 0;
	/* A full queue: the peer has not drained the signals it has, a wake-up is pending. */
	return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? 0 : -ENOTCONN;
}

/* Signals drained per wait: a peer flooding us costs one bounded loop, then a spurious wake. */
#define SIM_DRAIN_MAX 64

int sim_wait_peer(int signal_fd, int socket_fd, int timeout_ms, unsigned long long *signals)
{
	struct pollfd fds[2] = {
		{ .fd = signal_fd, .events = POLLIN },
		{ .fd = socket_fd, .events = POLLIN },
	};
	char buffer[16];
	int rc = poll(fds, 2, timeout_ms), drained;

	if (rc < 0)
		return errno == EINTR ? -EINTR : -errno;
	if (rc == 0)
		return -ETIMEDOUT;
	/* Count first, so that a peer's last signals are counted even as it leaves. */
	for (drained = 0; (fds[0].revents & POLLIN) && drained < SIM_DRAIN_MAX; drained++) {
		if (recv(signal_fd, buffer, sizeof(buffer), MSG_DONTWAIT) <= 0)
			break;
		if (signals != NULL)
			(*signals)++;
	}
	if (fds[1].revents != 0 || (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)))
		return -ENOTCONN;
	return 0;
}

int sim_event_fd_create(int signal_fd, int socket_fd)
{
	struct epoll_event event = { .events = EPOLLIN };
	int fd = epoll_create1(EPOLL_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	if (epoll_ctl(fd, EPOLL_CTL_ADD, signal_fd, &event) != 0 || epoll_ctl(fd, EPOLL_CTL_ADD, socket_fd, &event) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

void sim_fd_layout(const struct sim_offer *offer, struct sim_fd_layout *layout)
{
	unsigned int next = offer->channel_count, i;

	layout->interrupt_page = next++;
	layout->monitor_page = next++;
	for (i = 0; i < 2; i++)
		layout->pool[i] = offer->pool_size[i] != 0 ? (int)next++ : -1;
	layout->guest_ram = offer->guest_ram_size != 0 ? (int)next++ : -1;
	layout->signal_host = next++;
	layout->signal_guest = next++;
	layout->count = next;
}

static void unmap_one(struct sim_mapping *mapping)
{
	if (mapping->address != NULL)
		munmap(mapping->address, mapping->size);
	mapping->address = NULL;
}

void sim_memory_unmap(struct sim_memory *memory)
{
	unsigned int i;

	for (i = 0; i < SIM_MAX_CHANNELS; i++)
		unmap_one(&memory->rings[i]);
	unmap_one(&memory->interrupt_page);
	unmap_one(&memory->monitor_page);
	unmap_one(&memory->pools[0]);
	unmap_one(&memory->pools[1]);
	unmap_one(&memory->guest_ram);
}
