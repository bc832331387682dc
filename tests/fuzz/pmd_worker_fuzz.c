/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: winapi-pmd's worker (apps/winapi-pmd/worker.c) between a hostile client
 * and the device, with real objects on both sides. pmd_request_fuzz checks the pure check
 * alone; this one runs what the worker does around it: take_requests() reads the client's
 * ring, take_request() checks each packet, audits refusals, turns the client's GPADL
 * descriptors into GPA-direct ranges of its pool and adds the call to the device queue;
 * submit(), reap(), answer() with its backlog, flush_clients(), and the client's leaving
 * (its subscriptions ended at the host on its account).
 *
 * The objects, made once per process: a struct pmd with the host's table (the three seed
 * APIs, fuzz.limits and the event source fuzz.events, as in pmd_request_fuzz) and worker 0,
 * made by pmd_worker_init() on a guest-side winapi device over rings in memory (a backend
 * whose signal does nothing, whose wait times out at once, and whose DMA memory is the
 * client's pool: page numbers from POOL_FIRST_PFN on). Per input: one client, a host-side
 * device over rings in memory (as vmbus_sim_host_accept_pool() gives the daemon), on the
 * client table. The test plays the client (writes packets into its ring, reads its answers)
 * and the host (reads what the worker submitted, checks it, answers it). worker.c is
 * included so that the harness drives its static passes itself instead of its thread:
 * serve_clients(), submit(), reap(), flush_clients(), the loop of worker_main() without the
 * sleeping and the clock (sleep_on_events(), look_at_device(), send_probe() and the drain at
 * SIGTERM are not run; neither are the control thread's attach and reclaim).
 *
 * Input:
 *   +0  u8  bits 0-1: the worker has 1, 4, 64 or 1024 clients (its share per client: 256,
 *             256, 16, 1 requests in flight, and 2 MiB, 512 KiB, 32 KiB, 2 KiB of bytes in
 *             flight, so that a request that does not fit waits, parked); bit 2: the
 *             client's answer ring holds a few
 *             answers only (the backlog fills); bits 3-6: the policy denies the table's
 *             entry 0-3; bit 7: the client leaves at the end (else it stays attached)
 *   then packets, each:
 *   +0  u8  the packet's type (any value)
 *   +1  u8  bit 0: COMPLETION_REQUESTED; bit 1: seal the message's header checksum;
 *           bit 2: the message's request_id becomes the trans_id; bit 3: end of a pass after
 *           this packet; bit 4: the client reads its answers at the end of that pass;
 *           bits 5-6: a header extension of that many 8-byte words (zero)
 *   +2  u8  how the host answers the n-th request that reaches it, n being this packet's
 *           place among those the client sent (those refused before the host shift the
 *           rest; the daemon's own requests take what is left, else 0): bits 0-1: 0 OK with
 *           no reply, 1 an error status, 2 OK with a reply (bits 2-7: its length in 8-byte
 *           words, cut to the capacity; a SUBSCRIBE's reply is subscription bits 2-7 + 1),
 *           3 not in this pass (then OK, no reply)
 *   +3  le16 the message's length, then the message (what the input has left of it)
 *
 * What must hold besides "no sanitizer report": every request that reaches the device names
 * only pages of the client's pool, each range within the pool, and an API of the table or
 * LIST; every packet the client gets back is a completion of a trans_id it sent with
 * COMPLETION_REQUESTED, a response to that request_id, its reply within the protocol's
 * limit; once the host has answered everything and the client read everything, nothing is
 * in flight, parked or charged to the client's bytes in flight, and no request slot is lost
 * (every input starts with all PMD_WORKER_DEPTH free).
 */
#include "../../apps/winapi-pmd/worker.c"

#include <vmbus/backend.h>
#include <vmbus/guid.h>

#include "../unit/le_bytes.h"
#include "fuzz_check.h"
#include "fuzz_device.h"

#define PAGE_SIZE 4096u
#define DEVICE_RING (PAGE_SIZE + (512u << 10)) /* one direction, header page included */
#define CLIENT_TX_RING (PAGE_SIZE + (64u << 10))
#define CLIENT_RX_RING_LARGE (PAGE_SIZE + (64u << 10))
#define CLIENT_RX_RING_SMALL (PAGE_SIZE + PAGE_SIZE)
#define POOL_SIZE (1u << 20) /* make-seeds.c's PMD_POOL_SIZE */
#define POOL_GPADL 5u        /* make-seeds.c's PMD_POOL_GPADL */
#define POOL_FIRST_PFN 0x1000u
#define TABLE_SIZE 5u
#define EVENTS_ID 17u
#define MAX_SENT 4096u
#define PACKET_HEADER 5u

static struct pmd pmd;
static struct pmd_worker *worker;
static struct winapi_api_entry entries[TABLE_SIZE];
static uint8_t *device_rings;
static uint8_t *pool;
static struct vmbus_ring host_rx; /* what the worker submitted: the device's TX ring */
static struct vmbus_ring host_tx; /* the host's answers: the device's RX ring */
static int device_event_fd = -1;
static int client_event_fd = -1;
static uint8_t *packet_buffer;

/* What the host holds back for a later pass. */
struct held_answer {
	uint64_t trans_id;
	uint16_t api_id;
	uint8_t how;
	uint32_t capacity;
};

static struct {
	struct held_answer held[PMD_WORKER_DEPTH];
	unsigned int held_count;
	uint8_t answers[MAX_SENT]; /* the input's answer bytes, in the order requests were sent */
	unsigned int answers_sent, answers_used;
	uint64_t completion_wanted[MAX_SENT / 64]; /* trans_ids 1..MAX_SENT sent with COMPLETION_REQUESTED */
	uint64_t answered[MAX_SENT / 64];
} state;

/* The device's DMA memory is the client's pool: the host finds it by these page numbers. */
static int fake_dma_pfns(struct vmbus_device *device, const void *address, size_t size, uint64_t *pfns, size_t max)
{
	uintptr_t start = (uintptr_t)address, base = (uintptr_t)pool;
	uint64_t first, count, i;

	(void)device;
	FUZZ_CHECK(start >= base && size <= POOL_SIZE && start - base <= POOL_SIZE - size);
	first = (start - base) / PAGE_SIZE;
	count = ((start - base) % PAGE_SIZE + size + PAGE_SIZE - 1) / PAGE_SIZE;
	if (count > max)
		return -ENOBUFS;
	for (i = 0; i < count; i++)
		pfns[i] = POOL_FIRST_PFN + first + i;
	return (int)count;
}

static const struct vmbus_backend_ops fake_ops = {
	.name = "fuzz",
	.signal = fuzz_device_signal,
	.wait = fuzz_device_wait,
	.event_fd = fuzz_device_event_fd,
	.dma_pfns = fake_dma_pfns,
};

static void table_init(void)
{
	const struct winapi_api_entry limits = {
		.name = "fuzz.limits", .api_id = WINAPI_API_ID_MAX, .version = 0x201, .max_request = 16, .max_reply = 8,
		.buffer_access = { WINAPI_ACCESS_HOST_READS, WINAPI_ACCESS_HOST_WRITES },
	};
	const struct winapi_api_entry events = {
		.name = "fuzz.events", .api_id = EVENTS_ID, .version = 0x100, .flags = WINAPI_API_FLAG_EVENT_SOURCE,
	};
	unsigned int i;

	memcpy(entries, winapi_seed_apis, sizeof(winapi_seed_apis));
	entries[3] = limits;
	entries[4] = events;
	pmd.apis.listed = true;
	pmd.apis.count = TABLE_SIZE;
	pmd.apis.entries = entries;
	for (i = 0; i < TABLE_SIZE; i++)
		pmd.apis.by_id[entries[i].api_id] = (uint16_t)(i + 1);
}

static void setup(void)
{
	static struct vmbus_channel_region region = { .relid = 1, .monitor_id = VMBUS_MONITOR_ID_NONE };
	struct vmbus_device_params params = {
		.numa_node = -1,
		.side = VMBUS_SIDE_GUEST,
		.page_size = PAGE_SIZE,
		.channel_count = 1,
		.channels = &region,
		.ops = &fake_ops,
		.backend_data = &device_event_fd,
	};

	/* Every refused request is logged (WARNING, NOTICE): nothing is printed, or fuzzing crawls. */
	winapi_log_set_level((enum winapi_log_level)(WINAPI_LOG_ERR - 1));
	table_init();
	CDS_INIT_LIST_HEAD(&pmd.clients);
	FUZZ_CHECK(pthread_mutex_init(&pmd.table_lock, NULL) == 0);
	pmd.control_kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	device_event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	client_event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	FUZZ_CHECK(pmd.control_kick_fd >= 0 && device_event_fd >= 0 && client_event_fd >= 0);
	pool = aligned_alloc(PAGE_SIZE, POOL_SIZE);
	device_rings = aligned_alloc(PAGE_SIZE, 2 * DEVICE_RING);
	packet_buffer = malloc(PMD_PACKET_MAX);
	FUZZ_CHECK(pool != NULL && device_rings != NULL && packet_buffer != NULL);
	memset(pool, 0, POOL_SIZE);
	vmbus_ring_header_init(device_rings, PAGE_SIZE);
	vmbus_ring_header_init(device_rings + DEVICE_RING, PAGE_SIZE);
	region.ring_base = device_rings;
	region.ring_size = DEVICE_RING;
	FUZZ_CHECK(vmbus_guid_parse(WINAPI_DEVICE_CLASS, &params.class_id) == 0);
	FUZZ_CHECK(vmbus_device_create(&params, &pmd.device) == 0);
	FUZZ_CHECK(vmbus_ring_attach(&host_rx, device_rings, DEVICE_RING, PAGE_SIZE) == 0);
	FUZZ_CHECK(vmbus_ring_attach(&host_tx, device_rings + DEVICE_RING, DEVICE_RING, PAGE_SIZE) == 0);
	pmd.worker_count = 1;
	/* The worker's byte budget is twice a pool per client: the pool's size in MiB. */
	pmd.options.pool_mib = POOL_SIZE >> 20;
	FUZZ_CHECK(pmd_worker_init(&pmd, 0, -1) == 0);
	worker = &pmd.workers[0];
}

/* ---- the host ---- */

/* A request as it reached the device: only the client's pool, only the table's APIs. */
static void check_submitted(const uint8_t *packet, const struct vmbus_ring_packet_info *info,
			    struct winapi_message *message)
{
	struct vmbus_gpa_header gpa;
	struct vmbus_gpa_range range;
	uint32_t i;
	uint64_t page;

	FUZZ_CHECK(winapi_message_decode(packet + info->header_size, info->packet_size - info->header_size,
					 message) == 0);
	FUZZ_CHECK(message->api_id == WINAPI_API_LIST || winapi_api_table_find(&pmd.apis, message->api_id) != NULL ||
		   message->api_id == WINAPI_API_SUBSCRIBE || message->api_id == WINAPI_API_EVENT_WAIT ||
		   message->api_id == WINAPI_API_UNSUBSCRIBE || message->api_id == WINAPI_API_ECHO);
	if (info->type != VMBUS_PACKET_DATA_USING_GPA_DIRECT) {
		FUZZ_CHECK(info->type == VMBUS_PACKET_DATA_INBAND && message->buffer_count == 0);
		return;
	}
	FUZZ_CHECK(vmbus_gpa_header_decode(packet + sizeof(struct vmbus_packet_descriptor),
					   info->header_size - sizeof(struct vmbus_packet_descriptor), &gpa) == 0);
	FUZZ_CHECK(gpa.range_count == message->buffer_count);
	for (i = 0; i < gpa.range_count; i++) {
		FUZZ_CHECK(vmbus_gpa_header_range(&gpa, i, &range) == 0);
		FUZZ_CHECK(range.byte_count != 0 && range.byte_count <= POOL_SIZE);
		for (page = 0; page < vmbus_gpa_range_pages(range.byte_offset, range.byte_count); page++) {
			uint64_t pfn = vmbus_gpa_range_pfn(&range, page);

			FUZZ_CHECK(pfn >= POOL_FIRST_PFN && pfn < POOL_FIRST_PFN + POOL_SIZE / PAGE_SIZE);
		}
		/* The range ends inside the pool too, not only its pages. */
		FUZZ_CHECK((vmbus_gpa_range_pfn(&range, 0) - POOL_FIRST_PFN) * PAGE_SIZE + range.byte_offset +
				   range.byte_count <= POOL_SIZE);
	}
}

static void host_answer(const struct held_answer *request)
{
	uint8_t reply[WINAPI_MAX_INLINE_DATA], message[sizeof(struct winapi_message_header) + WINAPI_MAX_INLINE_DATA];
	struct winapi_message response = {
		.api_id = request->api_id,
		.flags = WINAPI_MESSAGE_FLAG_RESPONSE,
		.request_id = request->trans_id,
		.inline_data = reply,
	};
	struct iovec payload;
	struct vmbus_ring_packet packet = {
		.type = VMBUS_PACKET_COMPLETION,
		.trans_id = request->trans_id,
		.payload = &payload,
		.payload_count = 1,
	};
	bool need_signal;
	int length;

	switch (request->how & 3u) {
	case 1:
		response.status = WINAPI_STATUS_INTERNAL;
		break;
	case 2:
		if (request->api_id == WINAPI_API_SUBSCRIBE) {
			if (request->capacity >= sizeof(struct winapi_subscription)) {
				winapi_subscription_encode(&(struct winapi_subscription){ .id = (request->how >> 2) + 1u },
							   reply);
				response.inline_length = sizeof(struct winapi_subscription);
			}
			break;
		}
		response.inline_length = (uint32_t)(request->how >> 2) * 8u;
		if (response.inline_length > request->capacity)
			response.inline_length = request->capacity;
		memset(reply, 0x5a, response.inline_length);
		break;
	default:
		break;
	}
	length = winapi_message_encode(&response, message, sizeof(message));
	FUZZ_CHECK(length > 0);
	payload = (struct iovec){ .iov_base = message, .iov_len = (size_t)length };
	/* The device's RX ring is far larger than what PMD_WORKER_DEPTH answers need at once. */
	FUZZ_CHECK(vmbus_ring_write(&host_tx, &packet) == 0);
	vmbus_ring_write_publish(&host_tx, &need_signal);
}

/* Read what was submitted; answer it now, or hold it for a later pass (@all: answer every one). */
static void host_pass(bool all)
{
	static uint8_t packet[DEVICE_RING];
	struct vmbus_ring_packet_info info;
	struct winapi_message message;
	struct held_answer held[PMD_WORKER_DEPTH];
	unsigned int count = 0, i;
	bool need_signal;

	for (i = 0; i < state.held_count; i++)
		host_answer(&state.held[i]);
	state.held_count = 0;
	while (vmbus_ring_read(&host_rx, packet, sizeof(packet), &info) == 0) {
		struct held_answer request;

		check_submitted(packet, &info, &message);
		request = (struct held_answer){
			.trans_id = info.trans_id,
			.api_id = message.api_id,
			.capacity = message.reply_capacity,
			/* The daemon's own requests (UNSUBSCRIBE as a client leaves) get plain answers. */
			.how = state.answers_used < state.answers_sent ? state.answers[state.answers_used++] : 0,
		};
		if ((request.how & 3u) == 3 && !all) {
			request.how = 0;
			held[count++] = request;
		} else {
			host_answer(&request);
		}
	}
	vmbus_ring_read_publish(&host_rx, &need_signal);
	memcpy(state.held, held, count * sizeof(held[0]));
	state.held_count = count;
}

/* ---- the client ---- */

struct fuzz_client {
	struct pmd_client client;
	uint8_t *rings;
	size_t rx_size;
	struct vmbus_ring tx; /* its requests: the host side's RX */
	struct vmbus_ring rx; /* its answers */
};

static void client_read_answers(struct fuzz_client *fc)
{
	static uint8_t packet[CLIENT_RX_RING_LARGE];
	struct vmbus_ring_packet_info info;
	struct winapi_message message;
	bool need_signal;

	while (vmbus_ring_read(&fc->rx, packet, sizeof(packet), &info) == 0) {
		uint64_t id = info.trans_id;

		FUZZ_CHECK(info.type == VMBUS_PACKET_COMPLETION);
		FUZZ_CHECK(id >= 1 && id <= MAX_SENT);
		FUZZ_CHECK(state.completion_wanted[(id - 1) / 64] & (1ull << ((id - 1) % 64)));
		/* One answer per request: a trans_id the client used once is answered once. */
		FUZZ_CHECK(!(state.answered[(id - 1) / 64] & (1ull << ((id - 1) % 64))));
		state.answered[(id - 1) / 64] |= 1ull << ((id - 1) % 64);
		FUZZ_CHECK(winapi_message_decode(packet + info.header_size, info.packet_size - info.header_size,
						 &message) == 0);
		FUZZ_CHECK((message.flags & WINAPI_MESSAGE_FLAG_RESPONSE) && message.request_id == id);
		FUZZ_CHECK(message.inline_length <= WINAPI_MAX_INLINE_DATA && message.buffer_count == 0);
	}
	vmbus_ring_read_publish(&fc->rx, &need_signal);
}

static void client_attach(struct fuzz_client *fc, uint8_t config)
{
	static unsigned int rule_lines[TABLE_SIZE];
	struct vmbus_channel_region region = { .relid = 2, .monitor_id = VMBUS_MONITOR_ID_NONE };
	struct vmbus_device_params params = {
		.numa_node = -1,
		.side = VMBUS_SIDE_HOST,
		.page_size = PAGE_SIZE,
		.channel_count = 1,
		.channels = &region,
		.ops = &fake_ops,
		.backend_data = &client_event_fd,
	};
	/* The ring pair is one block of two equal halves: a small answer ring means a small block. */
	size_t half = config & 4u ? CLIENT_RX_RING_SMALL : CLIENT_TX_RING;
	unsigned int i;

	memset(fc, 0, sizeof(*fc));
	fc->rx_size = half;
	fc->rings = aligned_alloc(PAGE_SIZE, 2 * half);
	FUZZ_CHECK(fc->rings != NULL);
	vmbus_ring_header_init(fc->rings, PAGE_SIZE);
	vmbus_ring_header_init(fc->rings + half, PAGE_SIZE);
	region.ring_base = fc->rings;
	region.ring_size = half;
	FUZZ_CHECK(vmbus_guid_parse(WINAPI_DEVICE_CLASS, &params.class_id) == 0);
	FUZZ_CHECK(vmbus_device_create(&params, &fc->client.device) == 0);
	FUZZ_CHECK(vmbus_chan_open(fc->client.device, 0, &fc->client.channel) == 0);
	FUZZ_CHECK(vmbus_ring_attach(&fc->tx, fc->rings, half, PAGE_SIZE) == 0);
	FUZZ_CHECK(vmbus_ring_attach(&fc->rx, fc->rings + half, half, PAGE_SIZE) == 0);

	fc->client.id = 1;
	fc->client.pid = 4242;
	fc->client.uid = 1000;
	fc->client.worker = 0;
	fc->client.pool = pool;
	fc->client.pool_size = POOL_SIZE;
	fc->client.gpadl = POOL_GPADL;
	fc->client.rule_lines = rule_lines;
	fc->client.worker_late = &worker->late;
	fc->client.state = PMD_CLIENT_ACTIVE;
	for (i = 0; i < TABLE_SIZE; i++)
		if (!(config & (8u << i)) || i >= 4)
			pmd_api_allow(fc->client.allowed, entries[i].api_id);
	pmd_set(&worker->clients, (unsigned int[]){ 1, 4, 64, 1024 }[config & 3u]);
	cds_list_add_tail_rcu(&fc->client.node, &pmd.clients);
}

static void client_detach(struct fuzz_client *fc)
{
	cds_list_del_rcu(&fc->client.node);
	vmbus_chan_close(fc->client.channel);
	vmbus_device_close(fc->client.device);
	free(fc->rings);
}

/* Write one request into the client's ring. Returns false when the ring is full. */
static bool client_send(struct fuzz_client *fc, const uint8_t *header, const uint8_t *body, size_t length,
			uint64_t trans_id)
{
	static uint8_t message[WINAPI_MESSAGE_MAX_SIZE + 8];
	static const uint8_t extension[24];
	struct iovec payload = { .iov_base = message };
	struct vmbus_ring_packet packet = {
		.type = header[0],
		.flags = header[1] & 1u ? VMBUS_PACKET_FLAG_COMPLETION_REQUESTED : 0,
		.trans_id = trans_id,
		.header_extension = (header[1] >> 5) & 3u ? extension : NULL,
		.header_extension_size = ((header[1] >> 5) & 3u) * 8u,
		.payload = &payload,
		.payload_count = 1,
	};
	bool need_signal;

	memcpy(message, body, length);
	memset(message + length, 0, 8);
	length = (length + 7u) & ~(size_t)7u;
	if (length >= sizeof(struct winapi_message_header)) {
		if (header[1] & 4u)
			put_le64(message + 16, trans_id);
		if (header[1] & 2u)
			put_le32(message + 60, winapi_crc32c(0, message, 60));
	}
	payload.iov_len = length;
	if (vmbus_ring_write(&fc->tx, &packet) != 0)
		return false;
	vmbus_ring_write_publish(&fc->tx, &need_signal);
	return true;
}

/* Whether the worker took every request of the client's ring (read as the worker publishes it). */
static bool requests_taken(const struct fuzz_client *fc)
{
	const struct vmbus_ring_header *tx = (const void *)fc->rings;

	return __atomic_load_n(&tx->read_index, __ATOMIC_ACQUIRE) == __atomic_load_n(&tx->write_index, __ATOMIC_ACQUIRE);
}

/* One pass of the worker's loop, the host's answers, then (@read) the client's reading. */
static void pass(struct fuzz_client *fc, bool take, bool read, bool answer_all)
{
	uint64_t now;

	serve_clients(worker, packet_buffer, take);
	now = winapi_clock_now_ns(); /* the worker's one read a pass, for its submission and reap */
	submit(worker, now);
	host_pass(answer_all);
	reap(worker, now);
	flush_clients(worker);
	if (read)
		client_read_answers(fc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_client fc;
	unsigned int sent = 0, rounds;
	size_t at = 1;

	if (size < 1)
		return 0;
	if (worker == NULL)
		setup();
	memset(&state, 0, sizeof(state));
	client_attach(&fc, data[0]);

	while (size - at >= PACKET_HEADER && sent < MAX_SENT) {
		const uint8_t *header = data + at;
		size_t length = (size_t)header[3] | (size_t)header[4] << 8;
		uint64_t trans_id = sent + 1;

		at += PACKET_HEADER;
		if (length > size - at)
			length = size - at;
		if (length > WINAPI_MESSAGE_MAX_SIZE)
			length = WINAPI_MESSAGE_MAX_SIZE;
		if (!client_send(&fc, header, data + at, length, trans_id)) {
			/* The ring is full: the worker takes some, the client reads, and it tries again. */
			pass(&fc, true, true, false);
			if (!client_send(&fc, header, data + at, length, trans_id)) {
				at += length;
				continue;
			}
		}
		at += length;
		sent++;
		if (header[1] & 1u)
			state.completion_wanted[(trans_id - 1) / 64] |= 1ull << ((trans_id - 1) % 64);
		state.answers[state.answers_sent++] = header[2];
		if (header[1] & 8u)
			pass(&fc, true, header[1] & 16u, false);
	}

	/* Everything the client sent is taken and answered, and it reads every answer. */
	for (rounds = 0; rounds < 4 * MAX_SENT && (!requests_taken(&fc) || worker->in_flight != 0 ||
						   fc.client.backlog_head != NULL || fc.client.parked != NULL);
	     rounds++) {
		if (client_state(&fc.client) != PMD_CLIENT_ACTIVE && worker->in_flight == 0)
			break;
		pass(&fc, true, true, true);
	}
	if (data[0] & 0x80u) {
		pmd_client_leave(&fc.client, "the fuzzer is done with it");
		for (rounds = 0; rounds < 64 && client_state(&fc.client) != PMD_CLIENT_RECLAIMABLE; rounds++)
			pass(&fc, false, true, true);
		FUZZ_CHECK(client_state(&fc.client) == PMD_CLIENT_RECLAIMABLE);
	}
	FUZZ_CHECK(worker->in_flight == 0 && fc.client.in_flight == 0 && fc.client.backlog_head == NULL);
	FUZZ_CHECK(fc.client.parked == NULL && __atomic_load_n(&fc.client.bytes_in_flight, __ATOMIC_RELAXED) == 0);
	FUZZ_CHECK(__atomic_load_n(&fc.client.late, __ATOMIC_RELAXED) == 0);
	client_detach(&fc);
	return 0;
}
