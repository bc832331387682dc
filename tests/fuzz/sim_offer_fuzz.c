/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the guest side of the emulated bus (drivers/bus/sim/sim_guest.c) taking
 * a hostile emulator's offer. The whole of vmbus_sim_connect() runs: connect to a socket
 * file, hello, the offer and its descriptors (SCM_RIGHTS), validate_offer(), the descriptor
 * checks, map_offer(), the device over the mappings, and its release. The emulator is a
 * thread of this process that accepts on a socket in a private directory, reads the hello
 * and sends the input's offer with descriptors made for it: sealed memfds sized as the
 * offer says, signal socketpairs, unless the input asks for a wrong one. sim_guest.c is
 * included because the parts worth checking (validate_offer(), map_offer()) are static.
 *
 * Input:
 *   +0  u8  bits 0-2: what is wrong with the descriptors:
 *             0, 1, 2: nothing; 3: descriptor K is not sealed; 4: descriptor K is one page
 *             short; 5: descriptor K is a pipe; 6: one descriptor too few; 7: one too many
 *           bit 3: the descriptors come in two SCM_RIGHTS messages' worth (SIM_MAX_FDS + 1
 *             of them, so the receiver's overflow path closes the extra ones)
 *           bit 4: no descriptors at all
 *           bit 5: the emulator hangs up instead of answering
 *   +1  u8  K, a descriptor's index (value % the number sent)
 *   +2  the offer message as sent (struct sim_offer, native byte order): any length, sent
 *       as one SOCK_SEQPACKET message
 *
 * What must hold besides "no sanitizer report": a device is made only from an offer every
 * field of which is in range and whose descriptors are exactly those its layout names, and
 * then it has the offer's channels, class and NUMA node; an offer with a non-zero status
 * gives that status back when it is an errno; nothing leaks, descriptors included (the
 * lowest free descriptor is the same after every input).
 */
#include <pthread.h>
#include <stdio.h>

#include "../../drivers/bus/sim/sim_guest.c"

#include <vmbus/channel.h>
#include <vmbus/guid.h>
#include <winapi/log.h>

#include "fuzz_check.h"

/* Larger regions are sent as two pages (too small): memfds that size cost nothing, but the
 * guest's page allocator for guest RAM would allocate per page. */
#define FUZZ_REGION_CAP (16ull << 20)
#define FUZZ_MESSAGE_MAX (sizeof(struct sim_offer) + 64)

/* The emulator thread's job, handed over under lock. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	bool pending;            /* main -> emulator: a job; emulator -> main: cleared when done */
	uint8_t control;
	uint8_t fault_index;
	uint8_t message[FUZZ_MESSAGE_MAX];
	size_t message_size;
	int listen_fd;
	int kept[SIM_MAX_FDS * 2]; /* the emulator's ends of the signal sockets, closed after */
	unsigned int kept_count;
	bool harmful;            /* the descriptors sent are not those an honest emulator sends */
} job = { .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER };

static char socket_path[108];
static int lowest_free_fd = -1;
static bool set_up;

static int sealed_memfd(uint64_t size, bool seal)
{
	int fd = memfd_create("sim_offer_fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(ftruncate(fd, (off_t)size) == 0);
	if (seal)
		FUZZ_CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0);
	return fd;
}

static uint64_t capped(uint64_t size)
{
	return size <= FUZZ_REGION_CAP ? size : 2 * SIM_HYPERV_PAGE_SIZE;
}

/* The descriptor at @index of @layout, as an honest emulator makes it for @offer. */
static int make_fd(const struct sim_offer *offer, const struct sim_fd_layout *layout, unsigned int index,
		   int fault)
{
	uint64_t size = SIM_HYPERV_PAGE_SIZE;
	int pair[2];

	if (fault == 5 || (fault != 0 && index != layout->signal_host && index != layout->signal_guest))
		job.harmful = true;
	if (fault == 5) {
		FUZZ_CHECK(pipe2(pair, O_CLOEXEC) == 0);
		job.kept[job.kept_count++] = pair[1];
		return pair[0];
	}
	if (index == layout->signal_host || index == layout->signal_guest) {
		FUZZ_CHECK(socketpair(AF_UNIX, SIM_SIGNAL_SOCKET_TYPE | SOCK_CLOEXEC, 0, pair) == 0);
		job.kept[job.kept_count++] = pair[1];
		return pair[0];
	}
	if (index < offer->channel_count)
		size = 2 * capped(index == 0 ? offer->ring_size : offer->subchannel_ring_size);
	else if ((int)index == layout->pool[0] || (int)index == layout->pool[1])
		size = capped(offer->pool_offset[(int)index == layout->pool[1]]) +
		       capped(offer->pool_size[(int)index == layout->pool[1]]);
	else if ((int)index == layout->guest_ram)
		size = capped(offer->guest_ram_size);
	if (fault == 4)
		size = size >= SIM_HYPERV_PAGE_SIZE ? size - SIM_HYPERV_PAGE_SIZE : 0;
	return sealed_memfd(size, fault != 3);
}

/* Answer one hello on @fd with the job's offer and descriptors. */
static void emulate(int fd)
{
	struct sim_offer offer;
	struct sim_fd_layout layout = { 0 };
	struct sim_hello hello;
	int fds[SIM_MAX_FDS * 2];
	unsigned int count = 0, wanted, i;
	int fault = job.control & 7;

	FUZZ_CHECK(recv(fd, &hello, sizeof(hello), 0) == (ssize_t)sizeof(hello));
	FUZZ_CHECK(hello.magic == SIM_WIRE_MAGIC && hello.version == SIM_WIRE_VERSION);
	if (job.control & 0x20) {
		job.harmful = true;
		return;
	}
	memset(&offer, 0, sizeof(offer));
	memcpy(&offer, job.message, job.message_size < sizeof(offer) ? job.message_size : sizeof(offer));
	/* The layout of an impossible channel count still names some descriptors to send. */
	if (offer.channel_count > SIM_MAX_CHANNELS)
		offer.channel_count = SIM_MAX_CHANNELS;
	sim_fd_layout(&offer, &layout);
	wanted = layout.count;
	if (fault == 6)
		wanted--;
	else if (fault == 7)
		wanted++;
	if (job.control & 0x08)
		wanted = SIM_MAX_FDS + 1;
	if (job.control & 0x10)
		wanted = 0;
	if (wanted != layout.count)
		job.harmful = true;
	for (i = 0; i < wanted && i < SIM_MAX_FDS * 2; i++)
		fds[count++] = make_fd(&offer, &layout, i, i == job.fault_index % (wanted != 0 ? wanted : 1) &&
							      fault >= 3 && fault <= 5 ? fault : 0);
	if (count <= SIM_MAX_FDS) {
		(void)sim_wire_send(fd, job.message, job.message_size, fds, count);
	} else {
		/* sim_wire_send() refuses more than SIM_MAX_FDS: send the extra ones by hand. */
		union {
			char buffer[CMSG_SPACE(sizeof(int) * SIM_MAX_FDS * 2)];
			struct cmsghdr align;
		} control;
		struct iovec iov = { .iov_base = job.message, .iov_len = job.message_size };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buffer,
				      .msg_controllen = CMSG_SPACE(sizeof(int) * count) };
		struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

		memset(&control, 0, sizeof(control));
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * count);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * count);
		(void)sendmsg(fd, &msg, MSG_NOSIGNAL);
	}
	for (i = 0; i < count; i++)
		close(fds[i]);
}

static void *emulator_main(void *argument)
{
	int fd;

	(void)argument;
	for (;;) {
		pthread_mutex_lock(&job.lock);
		while (!job.pending)
			pthread_cond_wait(&job.changed, &job.lock);
		pthread_mutex_unlock(&job.lock);

		fd = accept4(job.listen_fd, NULL, NULL, SOCK_CLOEXEC);
		FUZZ_CHECK(fd >= 0);
		emulate(fd);
		/* What was sent stays queued for the guest after this end closes. */
		close(fd);

		pthread_mutex_lock(&job.lock);
		job.pending = false;
		pthread_cond_broadcast(&job.changed);
		pthread_mutex_unlock(&job.lock);
	}
	return NULL;
}

static char socket_directory[] = "/tmp/sim_offer_fuzz.XXXXXX";

static void remove_socket(void)
{
	unlink(socket_path);
	rmdir(socket_directory);
}

static void setup(void)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	char *directory = socket_directory;
	pthread_t thread;

	/* Refused offers are logged at ERR by callers, not here; keep the run quiet all the same. */
	winapi_log_set_level((enum winapi_log_level)(WINAPI_LOG_ERR - 1));
	FUZZ_CHECK(mkdtemp(directory) != NULL);
	snprintf(socket_path, sizeof(socket_path), "%s/sim.sock", directory);
	memcpy(address.sun_path, socket_path, strlen(socket_path) + 1);
	job.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(job.listen_fd >= 0);
	FUZZ_CHECK(bind(job.listen_fd, (struct sockaddr *)&address, sizeof(address)) == 0);
	FUZZ_CHECK(listen(job.listen_fd, 4) == 0);
	atexit(remove_socket);
	FUZZ_CHECK(pthread_create(&thread, NULL, emulator_main, NULL) == 0);
	FUZZ_CHECK(pthread_detach(thread) == 0);
}

static int lowest_free(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	FUZZ_CHECK(fd >= 0);
	close(fd);
	return fd;
}

/* What an offer must be for the guest to accept it, said apart from validate_offer(). */
static bool offer_acceptable(const struct sim_offer *offer, size_t size)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	unsigned int i;

	if (size != sizeof(*offer) || offer->magic != SIM_WIRE_MAGIC || offer->version != SIM_WIRE_VERSION ||
	    offer->status != 0 || offer->channel_count < 1 || offer->channel_count > SIM_MAX_CHANNELS ||
	    offer->page_size != page || offer->ring_size < 2 * page || offer->ring_size % page != 0 ||
	    offer->ring_size - page >= UINT32_MAX || offer->flags > 7 || offer->numa_node < -1 ||
	    offer->numa_node > 1023)
		return false;
	if (offer->channel_count > 1 &&
	    (offer->subchannel_ring_size < 2 * page || offer->subchannel_ring_size % page != 0 ||
	     offer->subchannel_ring_size - page >= UINT32_MAX))
		return false;
	if (offer->monitor_id != VMBUS_MONITOR_ID_NONE && offer->monitor_id + (uint64_t)offer->channel_count > 128)
		return false;
	for (i = 0; i < 2; i++)
		if (offer->pool_size[i] % 4096 != 0 || offer->pool_offset[i] % page != 0 ||
		    offer->pool_size[i] > (64ull << 30) || offer->pool_offset[i] > (64ull << 30))
			return false;
	return offer->guest_ram_size % page == 0 && offer->guest_ram_size <= (64ull << 30);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmbus_device *device = NULL;
	struct sim_offer offer;
	unsigned int i;
	int rc;

	if (size < 2 || size - 2 > FUZZ_MESSAGE_MAX)
		return 0;
	if (!set_up) {
		setup();
		set_up = true;
	}
	if (lowest_free_fd < 0)
		lowest_free_fd = lowest_free();

	pthread_mutex_lock(&job.lock);
	job.control = data[0];
	job.fault_index = data[1];
	job.message_size = size - 2;
	memcpy(job.message, data + 2, size - 2);
	job.kept_count = 0;
	job.harmful = false;
	job.pending = true;
	pthread_cond_broadcast(&job.changed);
	pthread_mutex_unlock(&job.lock);

	rc = vmbus_sim_connect(socket_path, 5000, &device);

	pthread_mutex_lock(&job.lock);
	while (job.pending)
		pthread_cond_wait(&job.changed, &job.lock);
	pthread_mutex_unlock(&job.lock);

	memset(&offer, 0, sizeof(offer));
	memcpy(&offer, data + 2, size - 2 < sizeof(offer) ? size - 2 : sizeof(offer));
	if (rc == 0) {
		struct vmbus_guid class_id;

		FUZZ_CHECK(offer_acceptable(&offer, size - 2));
		FUZZ_CHECK(!job.harmful);
		FUZZ_CHECK(vmbus_device_channel_count(device) == offer.channel_count);
		FUZZ_CHECK(vmbus_device_numa_node(device) == offer.numa_node);
		memcpy(class_id.bytes, offer.class_id, sizeof(class_id.bytes));
		FUZZ_CHECK(vmbus_guid_equal(vmbus_device_class_id(device), &class_id));
		for (i = 0; i < 2; i++) {
			struct vmbus_gpadl_region region;

			if (vmbus_device_gpadl_region(device, i, &region) == 0)
				FUZZ_CHECK(region.size == offer.pool_size[i] && region.gpadl == offer.pool_gpadl[i]);
		}
		/* Guest RAM, when offered, is what DMA memory comes from. */
		if (offer.guest_ram_size != 0) {
			void *address;

			if (vmbus_device_dma_alloc(device, VMBUS_PAGE_SIZE, &address) == 0)
				vmbus_device_dma_free(device, address, VMBUS_PAGE_SIZE);
		}
		vmbus_device_close(device);
	} else {
		FUZZ_CHECK(rc < 0);
		/*
		 * A refusal the emulator sent as it should is the guest's error. Not so with one
		 * descriptor more or fewer than the layout names (job.harmful): more than a message
		 * may carry is cut off by the kernel, and the guest refuses the truncated message
		 * with -EPROTO before it reads the status.
		 */
		if (size - 2 == sizeof(offer) && offer.magic == SIM_WIRE_MAGIC && offer.version == SIM_WIRE_VERSION &&
		    offer.status < 0 && offer.status > -4096 && (data[0] & 0x38) == 0 && !job.harmful)
			FUZZ_CHECK(rc == offer.status);
	}
	for (i = 0; i < job.kept_count; i++)
		close(job.kept[i]);
	FUZZ_CHECK(lowest_free() == lowest_free_fd);
	return 0;
}
