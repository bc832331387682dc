/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the emulated bus (drivers/bus/sim): the hand-over between winapi-host-sim and
 * a guest, both halves in this process, and a hostile "emulator" whose offers are malformed
 * on purpose. The guest must refuse every one with a clear error and leak nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <vmbus/backend.h>
#include <vmbus/channel.h>
#include <vmbus/memory.h>
#include <vmbus/sim.h>
#include <winapi/protocol.h>

#include "../../drivers/bus/sim/sim_wire.h"
#include "asleep.h"

/* Descriptor positions of the smallest offer: one channel, no pools, no guest RAM. */
enum {
	SIM_FD_RING,
	SIM_FD_INTERRUPT_PAGE,
	SIM_FD_MONITOR_PAGE,
	SIM_FD_SIGNAL_HOST,
	SIM_FD_SIGNAL_GUEST,
	SIM_FD_COUNT
};

struct fixture {
	char directory[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->directory, sizeof(f->directory), "/tmp/sim_ut.XXXXXX");
	if (mkdtemp(f->directory) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/sim.sock", f->directory);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	rmdir(f->directory);
	free(f);
	return 0;
}

static int open_fd_count(void)
{
	DIR *directory = opendir("/proc/self/fd");
	int count = 0;

	while (directory != NULL && readdir(directory) != NULL)
		count++;
	if (directory != NULL)
		closedir(directory);
	return count;
}

static struct vmbus_sim_host_config host_config(const char *path)
{
	struct vmbus_sim_host_config config = { .socket_path = path, .ring_size = 4 * 4096 };

	vmbus_guid_parse(WINAPI_DEVICE_CLASS, &config.class_id);
	vmbus_guid_parse("11111111-2222-3333-4444-555555555555", &config.instance_id);
	return config;
}

static int memfd_of_size(size_t size, bool sealed);

struct accept_job {
	struct vmbus_sim_host *host;
	struct vmbus_device *device;
	int rc;
	int reject_error; /* nonzero: reject instead */
	const struct vmbus_sim_host_pool *pool; /* offer this as region 0 */
};

static void *accept_one(void *argument)
{
	struct accept_job *job = argument;
	struct pollfd pfd = { .fd = vmbus_sim_host_fd(job->host), .events = POLLIN };

	if (poll(&pfd, 1, 5000) != 1) {
		job->rc = -ETIMEDOUT;
		return NULL;
	}
	job->rc = job->reject_error != 0 ? vmbus_sim_host_reject(job->host, job->reject_error) :
					   vmbus_sim_host_accept_pool(job->host, job->pool, &job->device);
	return NULL;
}

/* The guest sends on @channel once the host's @sleeper has gone to sleep. */
struct delayed_send {
	struct vmbus_channel *channel;
	const struct vmbus_channel *sleeper;
	struct iovec *iov;
	int rc;
};

static void *send_later(void *argument)
{
	struct delayed_send *job = argument;

	job->rc = -ETIMEDOUT;
	if (wait_until_asleep(job->sleeper, 1))
		job->rc = vmbus_chan_send_inband(job->channel, 5, VMBUS_PACKET_FLAG_COMPLETION_REQUESTED,
						 job->iov, 1);
	return NULL;
}

static void test_socket_path(void **state)
{
	char path[108], long_path[300];

	(void)state;
	assert_int_equal(vmbus_sim_socket_path("/x/y.sock", path, sizeof(path)), 0);
	assert_string_equal(path, "/x/y.sock");
	setenv("WINAPI_SIM_SOCKET", "/from/env.sock", 1);
	assert_int_equal(vmbus_sim_socket_path(NULL, path, sizeof(path)), 0);
	assert_string_equal(path, "/from/env.sock");
	unsetenv("WINAPI_SIM_SOCKET");
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	assert_int_equal(vmbus_sim_socket_path("", path, sizeof(path)), 0);
	assert_string_equal(path, "/run/user/1000/winapi-host-sim.sock");
	unsetenv("XDG_RUNTIME_DIR");
	assert_int_equal(vmbus_sim_socket_path(NULL, path, sizeof(path)), 0);
	assert_non_null(strstr(path, "/tmp/winapi-host-sim."));
	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[sizeof(long_path) - 1] = '\0';
	assert_int_equal(vmbus_sim_socket_path(long_path, path, sizeof(path)), -ENAMETOOLONG);
}

static void test_handover_and_exchange(void **state)
{
	struct fixture *f = *state;
	struct vmbus_sim_host_config config = host_config(f->path);
	struct accept_job job = { 0 };
	struct vmbus_channel *guest_channel, *host_channel;
	struct vmbus_ring_packet_info info;
	struct vmbus_device *guest;
	struct iovec iov = { .iov_base = "over memfd", .iov_len = 10 };
	char text[VMBUS_GUID_STRING_SIZE];
	uint8_t buffer[128];
	pthread_t thread;
	int fds_before = open_fd_count();

	assert_int_equal(vmbus_sim_host_listen(&config, &job.host), 0);
	assert_string_equal(vmbus_sim_host_path(job.host), f->path);
	assert_int_equal(pthread_create(&thread, NULL, accept_one, &job), 0);
	assert_int_equal(vmbus_sim_connect(f->path, 5000, &guest), 0);
	pthread_join(thread, NULL);
	assert_int_equal(job.rc, 0);

	assert_string_equal(vmbus_guid_format(vmbus_device_class_id(guest), text), WINAPI_DEVICE_CLASS);
	assert_string_equal(vmbus_guid_format(vmbus_device_instance_id(guest), text),
			    "11111111-2222-3333-4444-555555555555");
	assert_string_equal(vmbus_device_backend_name(guest), "sim");

	assert_int_equal(vmbus_chan_open(guest, 0, &guest_channel), 0);
	assert_int_equal(vmbus_chan_open(job.device, 0, &host_channel), 0);
	assert_int_equal(vmbus_chan_max_packet_size(guest_channel), 3 * 4096 - 16);

	/* The host sleeps (spin 0): the guest's send must signal it through the eventfd. */
	vmbus_chan_set_spin_ns(host_channel, 0);
	struct delayed_send job_send = { .channel = guest_channel, .sleeper = host_channel, .iov = &iov };
	assert_int_equal(pthread_create(&thread, NULL, send_later, &job_send), 0);
	assert_int_equal(vmbus_chan_wait(host_channel, 30000), 0);
	pthread_join(thread, NULL);
	assert_int_equal(job_send.rc, 0);
	assert_int_equal(vmbus_chan_recv(host_channel, buffer, sizeof(buffer), &info), 0);
	assert_memory_equal(buffer + info.header_size, "over memfd", 10);
	vmbus_chan_recv_done(host_channel);

	/* And back: the guest sleeps, the host's completion wakes it. */
	vmbus_chan_set_spin_ns(guest_channel, 0);
	assert_int_equal(vmbus_chan_wait(guest_channel, 0), -ETIMEDOUT);
	assert_int_equal(vmbus_chan_send_completion(host_channel, 5, &iov, 1), 0);
	assert_int_equal(vmbus_chan_wait(guest_channel, 5000), 0);
	assert_int_equal(vmbus_chan_recv(guest_channel, buffer, sizeof(buffer), &info), 0);
	assert_int_equal(info.type, VMBUS_PACKET_COMPLETION);

	/* The guest leaves: the host's wait reports it instead of sleeping on. */
	vmbus_chan_close(guest_channel);
	vmbus_device_close(guest);
	assert_int_equal(vmbus_chan_wait(host_channel, 5000), -ENOTCONN);
	/* Exactly one signal crossed: the send that found the host asleep on an empty ring. */
	assert_int_equal(vmbus_sim_host_signals_received(job.device), 1);
	vmbus_chan_close(host_channel);
	vmbus_device_close(job.device);
	vmbus_sim_host_close(job.host);
	assert_int_equal(access(f->path, F_OK), -1); /* socket removed */
	assert_int_equal(open_fd_count(), fds_before);
}

/*
 * winapi-pmd's shape: the host offers memory it already has as the guest's region 0, and an
 * event loop sleeps on the device's descriptor (arm, poll, take the events, disarm).
 */
static void test_lent_pool_and_event_loop(void **state)
{
	struct fixture *f = *state;
	struct vmbus_sim_host_config config = host_config(f->path);
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct vmbus_sim_host_pool pool;
	struct accept_job job = { .pool = &pool };
	struct vmbus_channel *guest_channel, *host_channel;
	struct vmbus_gpadl_region region;
	struct vmbus_ring_packet_info info;
	struct iovec iov = { .iov_base = "wake", .iov_len = 4 };
	struct vmbus_device *guest;
	struct pollfd pfd;
	uint8_t buffer[128], *file_memory;
	pthread_t thread;
	int fd;

	fd = memfd_of_size(4 * page, true);
	assert_true(fd >= 0);
	file_memory = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(file_memory != MAP_FAILED);
	assert_int_equal(vmbus_sim_host_listen(&config, &job.host), 0);

	/* Misaligned: refused before anyone is accepted. */
	pool = (struct vmbus_sim_host_pool){ .fd = fd, .offset = 100, .size = 2 * page,
					     .address = file_memory + 100, .gpadl = 0xabcu };
	assert_int_equal(vmbus_sim_host_accept_pool(job.host, &pool, &job.device), -EINVAL);

	pool = (struct vmbus_sim_host_pool){ .fd = fd, .offset = page, .size = 2 * page,
					     .address = file_memory + page, .gpadl = 0xabcu };
	assert_int_equal(pthread_create(&thread, NULL, accept_one, &job), 0);
	assert_int_equal(vmbus_sim_connect(f->path, 5000, &guest), 0);
	pthread_join(thread, NULL);
	assert_int_equal(job.rc, 0);

	/* The guest's region 0 is the lent slice, nothing more, and the host sees it as its own. */
	assert_int_equal(vmbus_device_gpadl_region(guest, VMBUS_GPADL_RECEIVE, &region), 0);
	assert_int_equal(region.size, 2 * page);
	assert_int_equal(region.gpadl, 0xabcu);
	assert_int_equal(vmbus_device_gpadl_region(guest, VMBUS_GPADL_SEND, &region), -ENOENT);
	assert_int_equal(vmbus_device_gpadl_region(guest, VMBUS_GPADL_RECEIVE, &region), 0);
	memset(region.address, 0x77, 16);
	assert_int_equal(file_memory[page], 0x77);
	assert_int_equal(file_memory[page - 1], 0);
	assert_int_equal(vmbus_device_gpadl_region(job.device, VMBUS_GPADL_RECEIVE, &region), 0);
	assert_ptr_equal(region.address, file_memory + page);

	assert_int_equal(vmbus_chan_open(guest, 0, &guest_channel), 0);
	assert_int_equal(vmbus_chan_open(job.device, 0, &host_channel), 0);
	pfd = (struct pollfd){ .fd = vmbus_device_event_fd(job.device), .events = POLLIN };
	assert_true(pfd.fd >= 0);
	assert_true(vmbus_device_event_fd(guest) >= 0);

	/* Armed on an empty ring, the guest's send signals; the descriptor wakes the loop. */
	assert_int_equal(vmbus_chan_arm(host_channel), 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(vmbus_chan_send_inband(guest_channel, 9, 0, &iov, 1), 0);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(vmbus_device_take_events(job.device), 0);
	assert_int_equal(poll(&pfd, 1, 0), 0); /* taken */
	vmbus_chan_disarm(host_channel);
	/* A packet already there: arming says so instead of letting the loop sleep. */
	assert_int_equal(vmbus_chan_arm(host_channel), -EAGAIN);
	assert_int_equal(vmbus_chan_recv(host_channel, buffer, sizeof(buffer), &info), 0);
	assert_int_equal(info.trans_id, 9);
	/* Polling (disarmed): the guest's next send does not signal. */
	assert_int_equal(vmbus_chan_recv_done(host_channel), 0);
	assert_int_equal(vmbus_chan_send_inband(guest_channel, 10, 0, &iov, 1), 0);
	assert_int_equal(poll(&pfd, 1, 0), 0);
	assert_int_equal(vmbus_chan_recv(host_channel, buffer, sizeof(buffer), &info), 0);

	/* The guest leaves: the descriptor says so, and taking the events reports it. */
	vmbus_chan_close(guest_channel);
	vmbus_device_close(guest);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(vmbus_device_take_events(job.device), -ENOTCONN);
	assert_int_equal(vmbus_chan_arm(host_channel), -ENOTCONN);
	vmbus_chan_close(host_channel);
	vmbus_device_close(job.device);
	vmbus_sim_host_close(job.host);
	/* The lent memory is still the caller's. */
	assert_int_equal(file_memory[page], 0x77);
	munmap(file_memory, 4 * page);
	close(fd);
}

/* Guest RAM is a file: DMA memory can be handed to another process by descriptor and offset. */
static void test_dma_share(void **state)
{
	struct fixture *f = *state;
	struct vmbus_sim_host_config config = host_config(f->path);
	struct accept_job job = { 0 };
	struct vmbus_device *guest;
	uint64_t offset;
	uint8_t *memory, *other;
	pthread_t thread;
	int fd;

	config.guest_ram_size = 64 * 4096;
	assert_int_equal(vmbus_sim_host_listen(&config, &job.host), 0);
	assert_int_equal(pthread_create(&thread, NULL, accept_one, &job), 0);
	assert_int_equal(vmbus_sim_connect(f->path, 5000, &guest), 0);
	pthread_join(thread, NULL);
	assert_int_equal(job.rc, 0);

	assert_int_equal(vmbus_device_dma_alloc(guest, 2 * 4096, (void **)&memory), 0);
	assert_int_equal(vmbus_device_dma_share(guest, memory, 2 * 4096, &fd, &offset), 0);
	other = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)offset);
	assert_true(other != MAP_FAILED);
	other[4096] = 0x42;
	assert_int_equal(memory[4096], 0x42);
	munmap(other, 2 * 4096);
	assert_int_equal(vmbus_device_dma_share(guest, &offset, sizeof(offset), &fd, &offset), -EINVAL);
	vmbus_device_dma_free(guest, memory, 2 * 4096);

	vmbus_device_close(guest);
	vmbus_device_close(job.device);
	vmbus_sim_host_close(job.host);
}

static void test_second_guest_busy(void **state)
{
	struct fixture *f = *state;
	struct vmbus_sim_host_config config = host_config(f->path);
	struct accept_job job = { .reject_error = -EBUSY };
	struct vmbus_device *guest;
	pthread_t thread;

	assert_int_equal(vmbus_sim_host_listen(&config, &job.host), 0);
	assert_int_equal(pthread_create(&thread, NULL, accept_one, &job), 0);
	assert_int_equal(vmbus_sim_connect(f->path, 5000, &guest), -EBUSY);
	pthread_join(thread, NULL);
	assert_int_equal(job.rc, 0);
	vmbus_sim_host_close(job.host);
}

static void test_listen_rules(void **state)
{
	struct fixture *f = *state;
	struct vmbus_sim_host_config config = host_config(f->path);
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	struct vmbus_sim_host *first, *second;
	int stale;

	assert_int_equal(vmbus_sim_host_listen(&config, &first), 0);
	assert_int_equal(vmbus_sim_host_listen(&config, &second), -EADDRINUSE);
	vmbus_sim_host_close(first);

	/* A socket file nobody listens on (an emulator that was killed) is replaced. */
	stale = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	strcpy(address.sun_path, f->path);
	assert_int_equal(bind(stale, (struct sockaddr *)&address, sizeof(address)), 0);
	close(stale);
	assert_int_equal(access(f->path, F_OK), 0);
	assert_int_equal(vmbus_sim_host_listen(&config, &first), 0);
	vmbus_sim_host_close(first);

	config.ring_size = 4096 + 8; /* not a page multiple */
	assert_int_equal(vmbus_sim_host_listen(&config, &first), -EINVAL);
	config.ring_size = 4096; /* a header and no data */
	assert_int_equal(vmbus_sim_host_listen(&config, &first), -EINVAL);
}

/* A hostile emulator: answers the hello with whatever the test prepared. */
struct hostile {
	int listen_fd;
	struct sim_offer offer;
	int fds[8];
	unsigned int fd_count;
	size_t offer_size;
	int kept[2];     /* the emulator's ends of the signal sockets, or 0 */
	enum { ANSWER, HANG_UP, STAY_SILENT } behaviour;
	int done_fd; /* eventfd: the test is finished with the connection */
};

/* sendmsg() by hand: sim_wire_send() refuses to send more descriptors than an offer has. */
static void hostile_send(int connection, const struct hostile *h)
{
	union {
		char buffer[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)&h->offer, .iov_len = h->offer_size };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;

	if (h->fd_count != 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buffer;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * h->fd_count);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * h->fd_count);
		memcpy(CMSG_DATA(cmsg), h->fds, sizeof(int) * h->fd_count);
	}
	if (sendmsg(connection, &msg, 0) < 0)
		fprintf(stderr, "hostile emulator: sendmsg: %s\n", strerror(errno));
}

static void *hostile_emulator(void *argument)
{
	struct hostile *h = argument;
	struct sim_hello hello;
	uint64_t value;
	int connection = accept(h->listen_fd, NULL, NULL);

	if (connection < 0)
		return NULL;
	if (recv(connection, &hello, sizeof(hello), 0) == (ssize_t)sizeof(hello)) {
		if (h->behaviour == ANSWER)
			hostile_send(connection, h);
		if (h->behaviour != HANG_UP && read(h->done_fd, &value, sizeof(value)) < 0)
			value = 0;
	}
	close(connection);
	return NULL;
}

static int memfd_of_size(size_t size, bool sealed)
{
	int fd = memfd_create("sim_ut", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd >= 0 && (ftruncate(fd, (off_t)size) != 0 ||
			(sealed && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0))) {
		close(fd);
		return -1;
	}
	return fd;
}

static struct sim_offer good_offer(void)
{
	struct sim_offer offer = {
		.magic = SIM_WIRE_MAGIC, .version = SIM_WIRE_VERSION, .channel_count = 1,
		.ring_size = 2 * 4096, .page_size = (uint32_t)sysconf(_SC_PAGESIZE), .relid = 1,
		.monitor_id = VMBUS_MONITOR_ID_NONE, .numa_node = -1,
	};
	vmbus_guid_parse(WINAPI_DEVICE_CLASS, (struct vmbus_guid *)offer.class_id);
	return offer;
}

/* The guest's end of a signal socketpair; the hostile emulator keeps the other end. */
static int signal_socket(struct hostile *h, int which)
{
	int pair[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0)
		return -1;
	h->kept[which] = pair[0];
	return pair[1];
}

/* The five descriptors of a good offer; @ring_bytes sizes the ring memfd. */
static void good_fds(struct hostile *h, size_t ring_bytes)
{
	h->fds[SIM_FD_RING] = memfd_of_size(ring_bytes, true);
	h->fds[SIM_FD_INTERRUPT_PAGE] = memfd_of_size(4096, true);
	h->fds[SIM_FD_MONITOR_PAGE] = memfd_of_size(4096, true);
	h->fds[SIM_FD_SIGNAL_HOST] = signal_socket(h, 0);
	h->fds[SIM_FD_SIGNAL_GUEST] = signal_socket(h, 1);
	h->fd_count = SIM_FD_COUNT;
}

/* A good offer whose region 0 is @size bytes at @offset of a @file_size-byte memfd. */
static void pool_offer(struct hostile *h, uint64_t offset, uint64_t size, size_t file_size)
{
	good_fds(h, 4 * 4096);
	h->fds[SIM_FD_COUNT] = h->fds[SIM_FD_SIGNAL_GUEST];
	h->fds[SIM_FD_SIGNAL_GUEST] = h->fds[SIM_FD_SIGNAL_HOST];
	h->fds[SIM_FD_SIGNAL_HOST] = memfd_of_size(file_size, true);
	h->fd_count = SIM_FD_COUNT + 1;
	h->offer.pool_size[0] = size;
	h->offer.pool_offset[0] = offset;
	h->offer.pool_gpadl[0] = 0x1234;
}

/* Run one hostile offer and return what vmbus_sim_connect() said. */
static int connect_to_hostile(struct fixture *f, struct hostile *h, int timeout_ms)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	struct vmbus_device *device = NULL;
	uint64_t one = 1;
	pthread_t thread;
	unsigned int i;
	int rc;

	h->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	h->done_fd = eventfd(0, EFD_CLOEXEC);
	strcpy(address.sun_path, f->path);
	unlink(f->path);
	assert_int_equal(bind(h->listen_fd, (struct sockaddr *)&address, sizeof(address)), 0);
	assert_int_equal(listen(h->listen_fd, 1), 0);
	if (h->offer_size == 0)
		h->offer_size = sizeof(h->offer);
	assert_int_equal(pthread_create(&thread, NULL, hostile_emulator, h), 0);

	rc = vmbus_sim_connect(f->path, timeout_ms, &device);
	if (rc == 0)
		vmbus_device_close(device);
	assert_int_equal(write(h->done_fd, &one, sizeof(one)), sizeof(one));
	pthread_join(thread, NULL);
	for (i = 0; i < h->fd_count; i++)
		close(h->fds[i]);
	for (i = 0; i < 2; i++)
		if (h->kept[i] > 0)
			close(h->kept[i]);
	close(h->done_fd);
	close(h->listen_fd);
	return rc;
}

static void test_hostile_offers(void **state)
{
	struct fixture *f = *state;
	int fds_before = open_fd_count();
	struct hostile h;

	/* The control: a well-formed offer is accepted. */
	h = (struct hostile){ .offer = good_offer() };
	good_fds(&h, 4 * 4096);
	assert_int_equal(connect_to_hostile(f, &h, 2000), 0);

	/* A lent pool (winapi-pmd's): mapped at its offset, which must be aligned and inside. */
	h = (struct hostile){ .offer = good_offer() };
	pool_offer(&h, 4096, 2 * 4096, 3 * 4096);
	assert_int_equal(connect_to_hostile(f, &h, 2000), 0);
	h = (struct hostile){ .offer = good_offer() };
	pool_offer(&h, 100, 4096, 3 * 4096);
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);
	h = (struct hostile){ .offer = good_offer() };
	pool_offer(&h, 2 * 4096, 2 * 4096, 3 * 4096);
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	h = (struct hostile){ .offer = good_offer() };
	h.offer.magic = 0x12345678;
	good_fds(&h, 4 * 4096);
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	h = (struct hostile){ .offer = good_offer() };
	h.offer.version = 99;
	good_fds(&h, 4 * 4096);
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	h = (struct hostile){ .offer = good_offer() };
	h.offer.status = -EBUSY;
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EBUSY);

	h = (struct hostile){ .offer = good_offer() };
	h.offer.status = 5; /* not a negative errno */
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	h = (struct hostile){ .offer = good_offer() };
	h.offer.channel_count = 2;
	good_fds(&h, 4 * 4096);
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	h = (struct hostile){ .offer = good_offer() };
	h.offer.page_size = 2 * (uint32_t)sysconf(_SC_PAGESIZE);
	good_fds(&h, 4 * 4096);
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	h = (struct hostile){ .offer = good_offer() };
	h.offer.ring_size = 2 * 4096 + 8; /* not a page multiple */
	good_fds(&h, 8 * 4096);
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	h = (struct hostile){ .offer = good_offer() };
	h.offer.ring_size = 1ull << 40; /* larger than any ring */
	good_fds(&h, 4 * 4096);
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	/* The ring memfd is smaller than the offer claims: mapping it would SIGBUS later. */
	h = (struct hostile){ .offer = good_offer() };
	good_fds(&h, 3 * 4096);
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	/* A ring memfd the emulator could still shrink under our mapping. */
	h = (struct hostile){ .offer = good_offer() };
	good_fds(&h, 4 * 4096);
	close(h.fds[SIM_FD_RING]);
	h.fds[SIM_FD_RING] = memfd_of_size(4 * 4096, false);
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	/* An eventfd where a signal socket should be: its writer could be blocked by the peer. */
	h = (struct hostile){ .offer = good_offer() };
	good_fds(&h, 4 * 4096);
	close(h.fds[SIM_FD_SIGNAL_GUEST]);
	h.fds[SIM_FD_SIGNAL_GUEST] = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	h = (struct hostile){ .offer = good_offer() };
	h.offer.numa_node = 5000;
	good_fds(&h, 4 * 4096);
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	/* An eventfd where the ring memory should be. */
	h = (struct hostile){ .offer = good_offer() };
	good_fds(&h, 4 * 4096);
	close(h.fds[SIM_FD_RING]);
	h.fds[SIM_FD_RING] = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	/* Too few descriptors, and too many. */
	h = (struct hostile){ .offer = good_offer() };
	good_fds(&h, 4 * 4096);
	close(h.fds[4]);
	close(h.fds[3]);
	h.fd_count = 3;
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);
	h = (struct hostile){ .offer = good_offer() };
	good_fds(&h, 4 * 4096);
	h.fds[5] = eventfd(0, EFD_CLOEXEC);
	h.fds[6] = eventfd(0, EFD_CLOEXEC);
	h.fd_count = 7;
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	/* A short offer. */
	h = (struct hostile){ .offer = good_offer(), .offer_size = 12 };
	assert_int_equal(connect_to_hostile(f, &h, 2000), -EPROTO);

	/* Silence, and hanging up. */
	h = (struct hostile){ .offer = good_offer(), .behaviour = STAY_SILENT };
	assert_int_equal(connect_to_hostile(f, &h, 200), -ETIMEDOUT);
	h = (struct hostile){ .offer = good_offer(), .behaviour = HANG_UP };
	assert_int_equal(connect_to_hostile(f, &h, 2000), -ECONNRESET);

	/* Nobody listening at all. */
	struct vmbus_device *device;
	unlink(f->path);
	assert_int_equal(vmbus_sim_connect(f->path, 200, &device), -ENOENT);

	assert_int_equal(open_fd_count(), fds_before);
}

/* A peer that never drains its signals cannot block us, and a peer that leaves is noticed. */
static void test_signal_socket_never_blocks(void **state)
{
	unsigned long long signals = 0;
	int pair[2], other[2], i;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SIM_SIGNAL_SOCKET_TYPE, 0, pair), 0);
	assert_int_equal(socketpair(AF_UNIX, SIM_SIGNAL_SOCKET_TYPE, 0, other), 0);
	for (i = 0; i < 100000; i++)
		assert_int_equal(sim_signal_peer(pair[0]), 0);
	/* The waiter drains a bounded number per wait and counts them. */
	assert_int_equal(sim_wait_peer(pair[1], other[0], 1000, &signals), 0);
	assert_true(signals >= 1 && signals <= 64);
	/* Nothing pending on a fresh pair: the wait times out. */
	assert_int_equal(sim_wait_peer(other[1], other[0], 10, NULL), -ETIMEDOUT);
	/* The peer's end closes: the signal fails and the wait reports the peer gone. */
	close(other[1]);
	assert_int_equal(sim_signal_peer(other[0]), -ENOTCONN);
	close(pair[0]);
	assert_int_equal(sim_wait_peer(pair[1], other[0], 1000, NULL), -ENOTCONN);
	close(pair[1]);
	close(other[0]);
}

/* Connect a guest to a host configured by @profile, with subchannels and guest RAM. */
static void connect_profile(struct fixture *f, const char *profile, unsigned int subchannels,
			    struct accept_job *job, struct vmbus_device **guest)
{
	struct vmbus_sim_host_config config = host_config(f->path);
	pthread_t thread;

	assert_int_equal(vmbus_sim_profile(profile, &config), 0);
	config.subchannels = subchannels;
	config.guest_ram_size = 16u << 20;
	assert_int_equal(vmbus_sim_host_listen(&config, &job->host), 0);
	assert_int_equal(pthread_create(&thread, NULL, accept_one, job), 0);
	assert_int_equal(vmbus_sim_connect(f->path, 5000, guest), 0);
	pthread_join(thread, NULL);
	assert_int_equal(job->rc, 0);
}

static void close_profile(struct accept_job *job, struct vmbus_device *guest)
{
	vmbus_device_close(guest);
	vmbus_device_close(job->device);
	vmbus_sim_host_close(job->host);
}

static void test_profile_linux_6_1(void **state)
{
	struct fixture *f = *state;
	struct accept_job job = { 0 };
	struct vmbus_channel *guest_channel, *host_channel;
	struct vmbus_gpadl_region guest_pool, host_pool;
	struct vmbus_device *guest;
	struct iovec iov = { .iov_base = "m", .iov_len = 1 };
	struct delayed_send later;
	uint64_t pfns[4];
	void *dma, *ram;
	size_t ram_size;
	pthread_t thread;

	connect_profile(f, "linux-6.1", 2, &job, &guest);
	assert_int_equal(vmbus_device_channel_count(guest), 3);
	assert_int_equal(vmbus_device_channel_count(job.device), 3);

	/* Both GPADL regions, shared: what the guest writes the host reads, by the same handle. */
	assert_int_equal(vmbus_device_gpadl_region(guest, VMBUS_GPADL_RECEIVE, &guest_pool), 0);
	assert_int_equal(guest_pool.size, 31u << 20);
	assert_int_equal(vmbus_device_gpadl_region(job.device, VMBUS_GPADL_RECEIVE, &host_pool), 0);
	assert_int_equal(host_pool.gpadl, guest_pool.gpadl);
	memcpy((uint8_t *)guest_pool.address + 12345, "pool", 4);
	assert_memory_equal((uint8_t *)host_pool.address + 12345, "pool", 4);
	assert_int_equal(vmbus_device_gpadl_region(guest, VMBUS_GPADL_SEND, &guest_pool), 0);
	assert_int_equal(guest_pool.size, 16u << 20);

	/* DMA memory is guest RAM: page N is where the host finds page N. */
	assert_int_equal(vmbus_device_dma_alloc(guest, 3 * 4096, &dma), 0);
	assert_int_equal(vmbus_device_dma_pfns(guest, (uint8_t *)dma + 100, 8192, pfns, 4), 3);
	assert_int_equal(vmbus_device_dma_pfns(guest, dma, 4096, pfns, 0), -ENOBUFS);
	assert_int_equal(vmbus_sim_host_guest_ram(job.device, &ram, &ram_size), 0);
	memcpy((uint8_t *)dma + 4096, "dma!", 4);
	assert_memory_equal((uint8_t *)ram + pfns[1] * 4096, "dma!", 4);
	assert_int_equal(vmbus_device_dma_pfns(guest, &pfns, 8, pfns, 4), -EINVAL);
	vmbus_device_dma_free(guest, dma, 3 * 4096);

	/* Monitored: the guest's signal is a trigger bit the host finds on its scan. */
	assert_int_equal(vmbus_chan_open(guest, 2, &guest_channel), 0);
	assert_int_equal(vmbus_chan_open(job.device, 2, &host_channel), 0);
	vmbus_chan_set_spin_ns(host_channel, 0);
	later = (struct delayed_send){ .channel = guest_channel, .sleeper = host_channel, .iov = &iov };
	assert_int_equal(pthread_create(&thread, NULL, send_later, &later), 0);
	assert_int_equal(vmbus_chan_wait(host_channel, 30000), 0);
	pthread_join(thread, NULL);
	assert_int_equal(vmbus_sim_host_signals_received(job.device), 1);
	vmbus_chan_close(guest_channel);
	vmbus_chan_close(host_channel);
	close_profile(&job, guest);
}

static void test_profile_mainline(void **state)
{
	struct fixture *f = *state;
	struct accept_job job = { 0 };
	struct vmbus_channel *primary, *sub, *host_primary, *host_sub;
	struct vmbus_chan_stats stats;
	struct vmbus_gpadl_region pool;
	struct vmbus_device *guest;
	struct iovec iov = { .iov_base = "x", .iov_len = 1 };
	struct delayed_send later;
	pthread_t thread;

	connect_profile(f, "mainline", 1, &job, &guest);
	assert_int_equal(vmbus_device_gpadl_region(guest, VMBUS_GPADL_RECEIVE, &pool), -ENOENT);
	assert_int_equal(vmbus_chan_open(guest, 0, &primary), 0);
	assert_int_equal(vmbus_chan_open(guest, 1, &sub), 0);
	assert_int_equal(vmbus_chan_open(job.device, 0, &host_primary), 0);
	assert_int_equal(vmbus_chan_open(job.device, 1, &host_sub), 0);
	assert_int_equal(vmbus_chan_max_packet_size(primary), 0x10000 - 16); /* 68 KiB ring */
	assert_int_equal(vmbus_chan_max_packet_size(sub), VMBUS_PACKET_MAX_LENGTH); /* 2 MiB */

	/* The host sleeps, so the guest's send signals through the emulated irqcontrol ... */
	vmbus_chan_set_spin_ns(host_primary, 0);
	later = (struct delayed_send){ .channel = primary, .sleeper = host_primary, .iov = &iov };
	assert_int_equal(pthread_create(&thread, NULL, send_later, &later), 0);
	assert_int_equal(vmbus_chan_wait(host_primary, 30000), 0);
	pthread_join(thread, NULL);
	vmbus_chan_get_stats(primary, &stats);
	assert_int_equal(stats.signals_sent, 1);
	/*
	 * ... which clears the RX masks of every channel, as 6.16+ does. Both guest channels
	 * poll, so lib/vmbus masked them again: the host's completions need no signal.
	 */
	assert_int_equal(vmbus_chan_send_completion(host_primary, 1, &iov, 1), 0);
	assert_int_equal(vmbus_chan_send_completion(host_sub, 1, &iov, 1), 0);
	vmbus_chan_get_stats(host_primary, &stats);
	assert_int_equal(stats.signals_sent, 0);
	vmbus_chan_get_stats(host_sub, &stats);
	assert_int_equal(stats.signals_sent, 0);

	vmbus_chan_close(host_sub);
	vmbus_chan_close(host_primary);
	vmbus_chan_close(sub);
	vmbus_chan_close(primary);
	close_profile(&job, guest);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_path),
		cmocka_unit_test(test_signal_socket_never_blocks),
		cmocka_unit_test_setup_teardown(test_handover_and_exchange, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lent_pool_and_event_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_share, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_guest_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_offers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profile_linux_6_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_profile_mainline, setup, teardown),
	};

	return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
