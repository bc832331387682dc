/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A worker: one device channel, the clients given to it, one thread pinned to one lcore.
 *
 * Each pass takes a burst of requests from every client (PMD_CLIENT_BURST each, so one busy
 * client cannot starve the others), checks them, and submits them to the device as one batch:
 * one ring publication and at most one signal for the requests of all clients. Completions
 * are answered into each client's ring, one publication per client per pass. With --backend
 * inline the worker also runs its channel's host between the submission and the reap
 * (inline.c), so that a request is answered in the pass that forwarded it.
 *
 * Idle: spin for spin_ns, then arm every channel (device and clients), sleep in poll() on
 * their event descriptors and the kick eventfd, take the events, disarm. The device has one
 * interrupt line for all its channels (uio's fd), so whichever worker takes its events kicks
 * the others: each then re-checks its own channel. A worker that does not sleep (busy, or
 * spinning: --spin-ns max) looks at the device's descriptor every 2 ms all the same, so a
 * rescind stops the daemon at once rather than at a request's deadline.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <vmbus/memory.h>
#include <vmbus/packet.h>
#include <winapi/log.h>
#include <winapi_internal/message.h>
#include <winapi_internal/request_table.h>

#include "pmd.h"
#include "request.h"

/* A request between the client's ring and its answer. */
struct pmd_request {
	struct pmd_request *next;   /* free list or a client's backlog */
	struct pmd_client *client;
	uint64_t trans_id;          /* the client's */
	uint16_t api_id;
	uint64_t cost;              /* charged to the client's bytes in flight while at the host */
	uint32_t status;            /* enum winapi_status of the answer */
	uint32_t reply_length;
	struct winapi_call call;
	struct winapi_call_buffer buffers[WINAPI_MAX_BUFFERS];
	uint8_t control[sizeof(struct winapi_subscription)]; /* the daemon's own UNSUBSCRIBE */
	uint8_t reply[WINAPI_MAX_INLINE_DATA];
};

/* Largest request packet a client may send: descriptor, then the largest message. */
#define PMD_PACKET_MAX (sizeof(struct vmbus_packet_descriptor) + WINAPI_MESSAGE_MAX_SIZE + 8)
/* How long a worker sleeps at most: in-flight requests' deadlines are checked this often. */
#define PMD_SLEEP_MS 100
/* A stopping worker answers what is in flight for at most this long past the driver's timeout. */
#define PMD_DRAIN_EXTRA_MS 1000
/*
 * How often a worker that does not sleep (it spins, or it is busy) looks at the device: a
 * rescind shows only on the device's descriptor, which nothing else watches then.
 */
#define PMD_DEVICE_LOOK_NS 2000000u
/*
 * How often an idle spinning worker yields its CPU. A yield is a system call (about a
 * microsecond here), and a request that arrives during it waits for it: yielding on every
 * pass cost the pmd echo 1.1 us of median (issue 19). Yielding now and then still lets a
 * thread that shares the worker's CPU (an unpinned client, a test on two cores) run before
 * the spin budget ends.
 */
#define PMD_SPIN_YIELD_NS 20000u
/*
 * An idle pass takes 0.1-0.2 us and a clock read about 25 ns here (perf: the worker's clock
 * reads were 30 % of its time with two a pass). Idle, the clock is read every this many
 * passes: the spin budget, probes and looks at the device lag by that much at most, and a
 * pass's time counts as busy or idle by the pass that read the clock next.
 */
#define PMD_IDLE_CLOCK_PASSES 16u
/*
 * How many times an idle worker with nothing at the host looks at its clients' request rings
 * alone between full passes. A full idle pass (the device, the inline host, RCU, probes, the
 * clock now and then) takes about 80 ns here with one client, and a request that lands just
 * after the pass looked at its ring waits for the rest of it; a look at the rings takes a few
 * nanoseconds. Sixteen looks with a pause each keep a full pass within half a microsecond.
 */
#define PMD_IDLE_LOOKS 16u
/*
 * What a request costs besides the bytes its buffers name: a page, for its packet and the
 * host's fixed work, so that small requests count too.
 */
#define PMD_REQUEST_BASE_COST 4096u

void pmd_kick(int eventfd)
{
	const uint64_t one = 1;

	/* A full counter already means "look again": nothing is lost when this fails. */
	(void)!write(eventfd, &one, sizeof(one));
}

void pmd_client_leave(struct pmd_client *client, const char *reason)
{
	const char *none = NULL;

	int expected = PMD_CLIENT_ACTIVE;

	/* The first reason stays; it is published before the state that makes readers look. */
	__atomic_compare_exchange_n(&client->leave_reason, &none, reason, false, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	if (__atomic_compare_exchange_n(&client->state, &expected, PMD_CLIENT_LEAVING, false, __ATOMIC_ACQ_REL,
					__ATOMIC_RELAXED)) {
		winapi_log(WINAPI_LOG_INFO, "pmd", "client %llu (pid %d) leaves: %s", (unsigned long long)client->id,
			   (int)client->pid, reason);
	}
}

static int client_state(const struct pmd_client *client)
{
	return __atomic_load_n(&client->state, __ATOMIC_ACQUIRE);
}

static struct pmd_request *request_get(struct pmd_worker *worker)
{
	struct pmd_request *request = worker->free_requests;

	if (request != NULL) {
		worker->free_requests = request->next;
		request->cost = 0;
		pmd_set(&worker->in_flight, worker->in_flight + 1);
	}
	return request;
}

static void request_put(struct pmd_worker *worker, struct pmd_request *request)
{
	if (request->client != NULL) /* NULL: a probe (send_probe()) */
		pmd_set(&request->client->in_flight, request->client->in_flight - 1);
	request->next = worker->free_requests;
	worker->free_requests = request;
	pmd_set(&worker->in_flight, worker->in_flight - 1);
}

/*
 * Bytes one client may have at the host: its share of the worker's budget, twice a pool.
 * The host serves a channel's requests in order, so a call waits behind every byte in flight
 * on its worker before it; counting requests let a client whose requests each name a pool
 * eight times over keep every other client waiting for seconds. With shares in bytes a
 * bystander waits at most for what the others' shares take the host to serve. A request
 * larger than the share still goes when the client has nothing else at the host: one request
 * names at most a pool (request.c), so the bound holds with a pool per client in its place.
 */
static uint64_t client_byte_share(const struct pmd_worker *worker)
{
	unsigned int clients = __atomic_load_n(&worker->clients, __ATOMIC_RELAXED);
	uint64_t budget = (uint64_t)worker->pmd->options.pool_mib << 21;

	return budget / (clients != 0 ? clients : 1);
}

static bool client_has_room(const struct pmd_worker *worker, const struct pmd_client *client, uint64_t cost)
{
	return client->bytes_in_flight == 0 || client->bytes_in_flight + cost <= client_byte_share(worker);
}

/* Overlap counted, as the host's work does: the same page named twice is read twice. */
static uint64_t request_cost(const struct winapi_message *message)
{
	uint64_t cost = PMD_REQUEST_BASE_COST;
	unsigned int i;

	for (i = 0; i < message->buffer_count; i++)
		cost += message->buffers[i].length;
	return cost;
}

static void charge(struct pmd_client *client, int64_t cost)
{
	__atomic_store_n(&client->bytes_in_flight, client->bytes_in_flight + (uint64_t)cost, __ATOMIC_RELAXED);
}

/* Write the answer into the client's ring (published later, by flush_clients()). */
static int write_answer(struct pmd_request *request)
{
	uint8_t message[sizeof(struct winapi_message_header) + WINAPI_MAX_INLINE_DATA];
	struct winapi_message response;
	struct iovec payload;
	struct vmbus_ring_packet packet = {
		.type = VMBUS_PACKET_COMPLETION,
		.trans_id = request->trans_id,
		.payload = &payload,
		.payload_count = 1,
	};
	int length;

	winapi_message_set_response(&response, request->api_id, request->status, request->trans_id, request->reply,
				    request->status == WINAPI_STATUS_OK ? request->reply_length : 0);
	length = winapi_message_encode(&response, message, sizeof(message));
	if (length < 0)
		return length;
	payload = (struct iovec){ .iov_base = message, .iov_len = (size_t)length };
	return vmbus_chan_write(request->client->channel, &packet);
}

static void drop_answer(struct pmd_worker *worker, struct pmd_request *request)
{
	if (request->client != NULL)
		winapi_counter_add(&request->client->stats.dropped, 1);
	winapi_counter_add_shared(&worker->pmd->totals.requests_dropped, 1);
	request_put(worker, request);
}

/* Answer @request to its client, or queue it behind the client's backlog. */
static void answer(struct pmd_worker *worker, struct pmd_request *request)
{
	struct pmd_client *client = request->client;
	int rc;

	winapi_counter_add(&worker->stats.completions, 1);
	if (client == NULL) {
		request_put(worker, request); /* a probe: its answer was all it was for */
		return;
	}
	if (client_state(client) != PMD_CLIENT_ACTIVE) {
		drop_answer(worker, request);
		return;
	}
	rc = client->backlog_head != NULL ? -EAGAIN : write_answer(request);
	if (rc == -EAGAIN) {
		/* The client has not read its earlier answers yet: keep this one in order. */
		request->next = NULL;
		if (client->backlog_tail != NULL)
			client->backlog_tail->next = request;
		else
			client->backlog_head = request;
		client->backlog_tail = request;
		winapi_counter_add(&worker->stats.client_ring_full, 1);
		return;
	}
	if (rc != 0) {
		pmd_client_leave(client, "its completion ring is corrupt");
		drop_answer(worker, request);
		return;
	}
	winapi_counter_add(&client->stats.completions, 1);
	client->tx_dirty = true;
	request_put(worker, request);
}

static void reject(struct pmd_worker *worker, struct pmd_request *request, uint32_t status)
{
	request->status = status;
	winapi_counter_add(&request->client->stats.rejected, 1);
	answer(worker, request);
}

/*
 * A call the policy refused: counted each time, logged the first time for each client and
 * API (a client that retries in a loop must not flood the log).
 */
static void audit_denial(struct pmd_worker *worker, struct pmd_client *client, uint16_t api_id)
{
	const struct pmd *pmd = worker->pmd;
	const struct winapi_api_entry *entry = winapi_api_table_find(&pmd->apis, api_id);
	unsigned int line;

	winapi_counter_add(&client->stats.denied, 1);
	if (pmd_api_allowed(client->audited, api_id))
		return;
	pmd_api_allow(client->audited, api_id);
	/* Only a policy denies, and only an API of the table (request.c): both are there. */
	line = client->rule_lines[entry - pmd->apis.entries];
	if (line != 0)
		winapi_log(WINAPI_LOG_NOTICE, "pmd", "audit: client %llu (pid %d, uid %u) denied %s: policy %s:%u",
			   (unsigned long long)client->id, (int)client->pid, (unsigned int)client->uid, entry->name,
			   pmd_policy_file(pmd->policy), line);
	else
		winapi_log(WINAPI_LOG_NOTICE, "pmd", "audit: client %llu (pid %d, uid %u) denied %s: no rule matched",
			   (unsigned long long)client->id, (int)client->pid, (unsigned int)client->uid, entry->name);
}

/*
 * Check one request of @client and hand it to the device queue. Every field comes from a
 * process we do not trust: the message is decoded and validated, its API must be one of the
 * host's that the client may call, within the API's limits, and each buffer must lie in the
 * client's own pool, before anything names device memory.
 */
/* Forget @subscription of @client (it ends, or the host never made it). */
static void forget_subscription(struct pmd_client *client, uint64_t subscription)
{
	unsigned int i;

	for (i = 0; i < client->subscription_count; i++)
		if (client->subscriptions[i] == subscription) {
			client->subscriptions[i] = client->subscriptions[--client->subscription_count];
			return;
		}
}

/*
 * End @subscription at the host on the daemon's own account: its client left, or could not
 * take it. The answer is dropped (its client is no longer active, or never asked for it);
 * it counts in the client's in_flight, so the client is freed only once the host has it.
 * Returns false when no request slot is free now (try again on a later pass).
 */
static bool end_subscription(struct pmd_worker *worker, struct pmd_client *client, uint64_t subscription)
{
	struct pmd_request *request = request_get(worker);

	if (request == NULL)
		return false;
	request->client = client;
	request->trans_id = 0;
	request->api_id = WINAPI_API_UNSUBSCRIBE;
	request->reply_length = 0;
	pmd_set(&client->in_flight, client->in_flight + 1);
	winapi_subscription_encode(&(struct winapi_subscription){ .id = subscription }, request->control);
	request->call = (struct winapi_call){
		.api_id = WINAPI_API_UNSUBSCRIBE,
		.api_version = WINAPI_PROTOCOL_VERSION,
		.request_data = request->control,
		.request_length = sizeof(request->control),
		.reply_data = request->reply,
		.timeout_ms = -1,
	};
	if (winapi_driver_queue_add(worker->queue, &request->call, request) != 0) {
		request_put(worker, request);
		return false;
	}
	winapi_counter_add(&worker->stats.requests, 1);
	return true;
}

/* A wait or unsubscribe of a subscription the client does not hold: as the host answers one that ended. */
static void answer_ended(struct pmd_worker *worker, struct pmd_request *request, const struct winapi_message *message)
{
	const struct winapi_event_wait_reply ended = { .subscription = pmd_request_subscription(message),
						       .flags = WINAPI_EVENT_WAIT_ENDED };
	int length = 0;

	if (message->api_id == WINAPI_API_EVENT_WAIT)
		length = winapi_event_wait_reply_encode(&ended, NULL, request->reply, message->reply_capacity);
	request->status = length >= 0 ? WINAPI_STATUS_OK : WINAPI_STATUS_BAD_MESSAGE;
	request->reply_length = length >= 0 ? (uint32_t)length : 0;
	answer(worker, request);
}

/*
 * What the request table says of requests that named a client's pool and ended before the
 * host answered them (see struct winapi_call_hold_ops). They run under the table's lock, on
 * the thread that drains the device (this worker's, or the main thread's as the queue goes):
 * counters only. The control thread frees the pool of a client that left once the count is 0.
 */
static void pool_late(void *owner, uint64_t id, const struct winapi_call_buffer *buffers, unsigned int count)
{
	struct pmd_client *client = owner;

	(void)id;
	(void)buffers;
	(void)count;
	__atomic_fetch_add(&client->late, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(client->worker_late, 1, __ATOMIC_RELAXED);
}

static void pool_answered(void *owner, uint64_t id)
{
	struct pmd_client *client = owner;

	(void)id;
	/* Release: the host's writes, done before its answer, are over before the pool is freed. */
	__atomic_fetch_sub(client->worker_late, 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&client->late, 1, __ATOMIC_RELEASE);
}

static void pool_abandoned(void *owner)
{
	struct pmd_client *client = owner;

	/* The queue went with the daemon: the pool leaves with the device. */
	__atomic_fetch_sub(client->worker_late, __atomic_exchange_n(&client->late, 0, __ATOMIC_RELEASE),
			   __ATOMIC_RELAXED);
}

static const struct winapi_call_hold_ops pool_hold_ops = {
	.late = pool_late,
	.answered = pool_answered,
	.abandoned = pool_abandoned,
};

/* Hand a checked request to the device queue; its cost stays charged to its client till the answer. */
static int forward(struct pmd_worker *worker, struct pmd_request *request)
{
	int rc = winapi_driver_queue_add(worker->queue, &request->call, request);

	if (rc != 0) {
		/* -EMSGSIZE: more page numbers than one packet of the device channel carries. */
		request->cost = 0;
		reject(worker, request, winapi_errno_to_status(rc == -EMSGSIZE ? -EFAULT : rc));
		return rc;
	}
	charge(request->client, (int64_t)request->cost);
	winapi_counter_add(&worker->stats.requests, 1);
	return 0;
}

static void take_request(struct pmd_worker *worker, struct pmd_client *client, struct pmd_request *request,
			 const uint8_t *packet, const struct vmbus_ring_packet_info *info)
{
	const struct pmd_pool pool = { .gpadl = client->gpadl, .size = client->pool_size };
	const struct pmd_apis apis = {
		.table = &worker->pmd->apis,
		.allowed = client->allowed,
		.subscriptions = client->subscriptions,
		.subscription_count = client->subscription_count,
		.may_subscribe = client->subscription_count + client->subscribing < PMD_CLIENT_SUBSCRIPTIONS,
		.max_wait_ms = PMD_EVENT_MAX_WAIT_MS,
	};
	struct winapi_message message;
	enum pmd_verdict verdict;
	bool bad_buffer;
	uint32_t status;
	unsigned int i;

	request->client = client;
	request->trans_id = info->trans_id;
	request->reply_length = 0;
	pmd_set(&client->in_flight, client->in_flight + 1);
	winapi_counter_add(&client->stats.requests, 1);

	verdict = pmd_request_check(packet, info, &pool, &apis, &message, &status, &bad_buffer);
	request->api_id = message.api_id;
	if (verdict == PMD_REQUEST_DROP) {
		winapi_counter_add(&client->stats.rejected, 1);
		request_put(worker, request);
		return;
	}
	if (verdict == PMD_REQUEST_ANSWER) {
		if (bad_buffer) {
			winapi_counter_add(&client->stats.bad_buffers, 1);
			winapi_log(WINAPI_LOG_WARNING, "pmd", "client %llu: request %#llx names memory outside its pool",
				   (unsigned long long)client->id, (unsigned long long)info->trans_id);
		}
		if (status == WINAPI_STATUS_ACCESS_DENIED)
			audit_denial(worker, client, pmd_request_api(&message));
		reject(worker, request, status);
		return;
	}
	if (verdict == PMD_REQUEST_ENDED) {
		answer_ended(worker, request, &message);
		return;
	}
	/*
	 * The pool is DMA memory of the device: the host reaches it by page numbers. A GPA-direct
	 * range carries no read or write right on VMBus (the table's buffer_access is what the
	 * host does, not what it may do): the host can read and write every page it is given.
	 * Only a wire that carries the bytes (the Hyper-V socket's) can send each way only what
	 * the API's access says.
	 */
	for (i = 0; i < message.buffer_count; i++)
		request->buffers[i] = (struct winapi_call_buffer){
			.kind = WINAPI_BUFFER_GPA_DIRECT,
			.address = client->pool + message.buffers[i].offset,
			.length = message.buffers[i].length,
		};
	request->call = (struct winapi_call){
		.api_id = message.api_id,
		.api_version = message.api_version, /* the host checks the major too */
		.request_data = message.inline_data,
		.request_length = message.inline_length,
		.reply_data = request->reply,
		.reply_capacity = message.reply_capacity, /* cut to the API's max_reply */
		.buffers = request->buffers,
		.buffer_count = message.buffer_count,
		.timeout_ms = -1,
		.hold_ops = &pool_hold_ops, /* the client's pool stays the host's till its answer */
		.hold_owner = client,
	};
	request->cost = request_cost(&message);
	/* Control calls name no buffers: never parked, so their bookkeeping below stays here. */
	if (message.buffer_count != 0 && !client_has_room(worker, client, request->cost)) {
		if (message.inline_length != 0)
			memcpy(client->parked_data, message.inline_data, message.inline_length);
		request->call.request_data = client->parked_data;
		client->parked = request;
		winapi_counter_add(&worker->stats.parked, 1);
		return;
	}
	if (forward(worker, request) != 0)
		return;
	/* Whose subscriptions are whose: the host sees one guest for all the clients of a channel. */
	if (message.api_id == WINAPI_API_SUBSCRIBE)
		client->subscribing++;
	else if (message.api_id == WINAPI_API_UNSUBSCRIBE)
		forget_subscription(client, pmd_request_subscription(&message));
}

/* A parked request goes once the host has answered enough of its client's others. */
static unsigned int send_parked(struct pmd_worker *worker, struct pmd_client *client)
{
	struct pmd_request *request = client->parked;

	if (!client_has_room(worker, client, request->cost))
		return 0;
	client->parked = NULL;
	forward(worker, request);
	return 1;
}

/*
 * Requests one client may have in flight: PMD_CLIENT_DEPTH, or less when the worker's slots
 * shared out among its clients give less, so that a few clients that stop reading their
 * answers (whose slots wait in their backlogs) can never hold every slot of the worker.
 */
static unsigned int client_depth(const struct pmd_worker *worker)
{
	unsigned int clients = __atomic_load_n(&worker->clients, __ATOMIC_RELAXED);
	unsigned int share = PMD_WORKER_DEPTH / (clients != 0 ? clients : 1);

	return share < PMD_CLIENT_DEPTH ? (share != 0 ? share : 1) : PMD_CLIENT_DEPTH;
}

/* Whether this pass takes requests from @client (else its ring waits, and is not armed). */
static bool client_readable(const struct pmd_worker *worker, const struct pmd_client *client)
{
	return client->backlog_head == NULL && client->parked == NULL && client->in_flight < client_depth(worker) &&
	       worker->free_requests != NULL;
}

/* Take a burst of @client's requests. Returns how many. */
static unsigned int take_requests(struct pmd_worker *worker, struct pmd_client *client, uint8_t *packet)
{
	struct vmbus_ring_packet_info info;
	struct pmd_request *request;
	unsigned int taken = 0;
	int rc;

	while (taken < PMD_CLIENT_BURST && client->in_flight < client_depth(worker) && client->backlog_head == NULL &&
	       client->parked == NULL) {
		rc = vmbus_chan_recv(client->channel, packet, PMD_PACKET_MAX, &info);
		if (rc == -EAGAIN)
			break;
		if (rc == -EBADMSG) {
			/* Dropped, but counted in the burst: a stream of them must not hold the worker. */
			winapi_counter_add(&client->stats.rejected, 1);
			taken++;
			continue;
		}
		if (rc != 0) {
			pmd_client_leave(client, rc == -ENOBUFS ? "it sent a packet larger than any request" :
						  "its request ring is corrupt");
			break;
		}
		request = request_get(worker);
		if (request == NULL)
			break; /* cannot happen: the caller checked; the packet is left for later */
		take_request(worker, client, request, packet, &info);
		taken++;
		if (worker->free_requests == NULL)
			break;
	}
	if (taken != 0 && vmbus_chan_recv_done(client->channel) == -ENOTCONN)
		pmd_client_leave(client, "it exited");
	return taken;
}

/* Answers that waited for room in the client's ring, in order. */
static unsigned int drain_backlog(struct pmd_worker *worker, struct pmd_client *client)
{
	struct pmd_request *request;
	unsigned int written = 0;
	int rc;

	while ((request = client->backlog_head) != NULL) {
		rc = client_state(client) == PMD_CLIENT_ACTIVE ? write_answer(request) : -ENOTCONN;
		if (rc == -EAGAIN)
			break;
		client->backlog_head = request->next;
		if (client->backlog_head == NULL)
			client->backlog_tail = NULL;
		if (rc != 0) {
			if (rc != -ENOTCONN)
				pmd_client_leave(client, "its completion ring is corrupt");
			drop_answer(worker, request);
			continue;
		}
		winapi_counter_add(&client->stats.completions, 1);
		client->tx_dirty = true;
		request_put(worker, request);
		written++;
	}
	return written;
}

static void flush_client(struct pmd_client *client)
{
	if (!client->tx_dirty)
		return;
	client->tx_dirty = false;
	if (vmbus_chan_flush(client->channel) == -ENOTCONN)
		pmd_client_leave(client, "it exited");
}

static void lose_device(struct pmd_worker *worker);

/* A SUBSCRIBE came back: the subscription is the client's now, or (it left) ended at once. */
static void took_subscription(struct pmd_worker *worker, struct pmd_request *request)
{
	struct pmd_client *client = request->client;
	struct winapi_subscription made;

	client->subscribing--;
	if (request->status != WINAPI_STATUS_OK ||
	    winapi_subscription_decode(request->reply, request->reply_length, &made) != 0)
		return;
	if (client_state(client) == PMD_CLIENT_ACTIVE && client->subscription_count < PMD_CLIENT_SUBSCRIPTIONS) {
		client->subscriptions[client->subscription_count++] = made.id;
		return;
	}
	/* Nobody will end it otherwise; if no slot is free now, the client's leaving ends it. */
	if (!end_subscription(worker, client, made.id) && client->subscription_count < PMD_CLIENT_SUBSCRIPTIONS)
		client->subscriptions[client->subscription_count++] = made.id;
}

/* Collect the device's completions (their deadlines judged at @now) and answer them. Returns how many. */
static unsigned int reap(struct pmd_worker *worker, uint64_t now)
{
	struct winapi_call_completion completions[64];
	unsigned int total = 0;
	int count, i;

	/*
	 * Nothing of ours at the host (a probe would be, for late answers): the queue has nothing
	 * to give, and asking takes its lock on every idle pass.
	 */
	if (worker->in_flight == 0)
		return 0;
	do {
		count = winapi_driver_queue_poll(worker->queue, completions, 64, now);
		for (i = 0; i < count; i++) {
			struct pmd_request *request = completions[i].user_data;

			if (request->cost != 0) {
				charge(request->client, -(int64_t)request->cost);
				request->cost = 0;
			}
			/* Unanswered is not finished: pool_late() counted it, till its late answer. */
			if (completions[i].status == -ETIMEDOUT && request->client != NULL)
				winapi_counter_add(&request->client->stats.timeouts, 1);
			if (completions[i].status == -ENOTCONN) {
				/*
				 * The device went. No status says so on the wire (one would read as an
				 * internal host error): the client learns it, as ENOTCONN, when the
				 * control thread closes its connection.
				 */
				lose_device(worker);
				drop_answer(worker, request);
				continue;
			}
			request->status = winapi_errno_to_status(completions[i].status);
			request->reply_length = completions[i].reply_length;
			if (request->api_id == WINAPI_API_SUBSCRIBE)
				took_subscription(worker, request);
			answer(worker, request);
		}
		total += count > 0 ? (unsigned int)count : 0;
	} while (count == 64);
	return total;
}

/* The device is gone (rescinded, or the emulator exited): the daemon cannot go on without it. */
static void lose_device(struct pmd_worker *worker)
{
	if (worker->error != 0)
		return;
	worker->error = -ENOTCONN;
	winapi_log(WINAPI_LOG_ERR, "pmd", "worker %u (channel %u): %s", worker->index, worker->index,
		   winapi_strerror(-ENOTCONN));
	__atomic_store_n(&worker->pmd->stopping, true, __ATOMIC_RELEASE);
	/* The control thread closes the clients' connections: they learn it from that. */
	pmd_kick(worker->pmd->control_kick_fd);
}

/* Take the device's events (its descriptor was readable), and tell the other workers. */
static void take_device_events(struct pmd_worker *worker)
{
	unsigned int other;

	if (vmbus_device_take_events(worker->pmd->device) == -ENOTCONN)
		lose_device(worker);
	/* One interrupt line for every channel: the others may have work too. */
	for (other = 0; other < worker->pmd->worker_count; other++)
		if (other != worker->index)
			pmd_kick(worker->pmd->workers[other].kick_fd);
}

/*
 * A worker that does not sleep on the device's descriptor looks at it every
 * PMD_DEVICE_LOOK_NS without blocking, as the sleep would: a poll() of a few microseconds.
 */
static void look_at_device(struct pmd_worker *worker, uint64_t now, uint64_t *look_at)
{
	struct pollfd device = { .fd = vmbus_device_event_fd(worker->pmd->device), .events = POLLIN };

	if (now < *look_at)
		return;
	*look_at = now + PMD_DEVICE_LOOK_NS;
	if (poll(&device, 1, 0) > 0)
		take_device_events(worker);
}

/*
 * The driver reads the device's ring only while one of the queue's requests is in flight: a
 * late answer that comes to an idle worker would wait there for the next request, and the
 * pools it holds with it. With late requests out and nothing in flight, an empty echo of the
 * daemon's own goes every PMD_SLEEP_MS; reaping it takes the answers before it.
 */
static void send_probe(struct pmd_worker *worker, uint64_t now)
{
	struct pmd_request *request;

	if (worker->in_flight != 0 || __atomic_load_n(&worker->late, __ATOMIC_RELAXED) == 0 ||
	    now < worker->probe_at)
		return;
	request = request_get(worker);
	if (request == NULL)
		return;
	worker->probe_at = now + (uint64_t)PMD_SLEEP_MS * 1000000u;
	request->client = NULL;
	request->api_id = WINAPI_API_ECHO;
	request->call = (struct winapi_call){
		.api_id = WINAPI_API_ECHO,
		.api_version = WINAPI_PROTOCOL_VERSION,
		.reply_data = request->reply,
		.timeout_ms = -1,
	};
	if (winapi_driver_queue_add(worker->queue, &request->call, request) != 0)
		request_put(worker, request);
}

static void submit(struct pmd_worker *worker, uint64_t now)
{
	int rc = winapi_driver_queue_submit_at(worker->queue, now);

	if (rc > 0)
		winapi_counter_add(&worker->stats.batches, 1);
	else if (rc == -EAGAIN)
		winapi_counter_add(&worker->stats.ring_full, 1);
	else if (rc == -ENOTCONN)
		lose_device(worker); /* every request in flight fails with it */
}

/*
 * --backend inline: the host answers what was just submitted, in this thread, so that the
 * reap that follows finds the answers. It drains its ring every time, so a worker whose pass
 * found no work leaves no request there when it sleeps. A failing host is a lost device.
 */
static unsigned int serve_inline_host(struct pmd_worker *worker)
{
	int answered;

	if (worker->serve_host == NULL || worker->error != 0)
		return 0;
	answered = worker->serve_host(worker);
	if (answered >= 0)
		return (unsigned int)answered;
	winapi_log(WINAPI_LOG_ERR, "pmd", "worker %u: the inline host failed: %s", worker->index,
		   winapi_strerror(answered));
	lose_device(worker);
	return 0;
}

/* How long a sleep may last (@timeout_ms at most): the inline host's events must not wait. */
static int inline_host_timeout(const struct pmd_worker *worker, int timeout_ms)
{
	uint64_t now;

	if (worker->serve_host == NULL || worker->host_due_ns == UINT64_MAX)
		return timeout_ms;
	now = winapi_clock_now_ns();
	if (worker->host_due_ns <= now)
		return 0;
	if (worker->host_due_ns - now >= (uint64_t)timeout_ms * 1000000u)
		return timeout_ms;
	return (int)((worker->host_due_ns - now + 999999u) / 1000000u);
}

/* One pass over the clients. Returns the work found (requests taken, answers written). */
static unsigned int serve_clients(struct pmd_worker *worker, uint8_t *packet, bool take)
{
	struct pmd_client *client;
	unsigned int work = 0;

	cds_list_for_each_entry_rcu(client, &worker->pmd->clients, node) {
		pmd_published(client);
		if (client->worker != worker->index)
			continue;
		if (client->backlog_head != NULL)
			work += drain_backlog(worker, client);
		switch (client_state(client)) {
		case PMD_CLIENT_ACTIVE:
			/* Taken already: sent even by a stopping worker, which answers what it took. */
			if (client->parked != NULL)
				work += send_parked(worker, client);
			if (take && client_readable(worker, client))
				work += take_requests(worker, client, packet);
			break;
		case PMD_CLIENT_LEAVING:
			if (client->parked != NULL) {
				drop_answer(worker, client->parked);
				client->parked = NULL;
			}
			/* What it subscribed to ends with it: the host would keep posting for nobody. */
			while (client->subscription_count != 0 &&
			       end_subscription(worker, client, client->subscriptions[client->subscription_count - 1]))
				client->subscription_count--;
			if (client->in_flight == 0 && client->subscription_count == 0) {
				__atomic_store_n(&client->state, PMD_CLIENT_RECLAIMABLE, __ATOMIC_RELEASE);
				pmd_kick(worker->pmd->control_kick_fd);
			}
			break;
		default:
			break;
		}
	}
	return work;
}

/* Whether one of this worker's clients has a request in its ring: an idle worker's look. */
static bool clients_have_requests(const struct pmd_worker *worker)
{
	struct pmd_client *client;

	cds_list_for_each_entry_rcu(client, &worker->pmd->clients, node) {
		pmd_published(client);
		if (client->worker == worker->index && !vmbus_chan_rx_empty(client->channel))
			return true;
	}
	return false;
}

static void flush_clients(struct pmd_worker *worker)
{
	struct pmd_client *client;

	cds_list_for_each_entry_rcu(client, &worker->pmd->clients, node) {
		pmd_published(client);
		if (client->worker == worker->index)
			flush_client(client);
	}
}

/*
 * Sleep until the device, a client or a kick wakes us. Returns false without sleeping when a
 * channel turned out to hold a packet while it was being armed.
 */
static bool sleep_on_events(struct pmd_worker *worker, struct pollfd *fds, struct pmd_client **owners,
			    unsigned int max_fds, bool stopping)
{
	struct vmbus_channel *device_channel = winapi_driver_channel(worker->driver);
	struct pmd_client *client;
	unsigned int count = 0, armed, i;
	bool backlog = false, ready = false;
	uint64_t drained;
	int timeout, rc;

	fds[count++] = (struct pollfd){ .fd = worker->kick_fd, .events = POLLIN };
	rc = vmbus_chan_arm(device_channel);
	if (rc == -EAGAIN)
		return false;
	fds[count] = (struct pollfd){ .fd = vmbus_device_event_fd(worker->pmd->device), .events = POLLIN };
	owners[count++] = NULL;
	cds_list_for_each_entry_rcu(client, &worker->pmd->clients, node) {
		pmd_published(client);
		if (client->worker != worker->index || client_state(client) != PMD_CLIENT_ACTIVE)
			continue;
		if (client->backlog_head != NULL)
			backlog = true;
		/*
		 * A client the next pass would not read (its share in flight, a backlog, a stopping
		 * daemon) is not armed: its waiting requests would only wake us for nothing. The
		 * device's completions or the backlog timeout wake us for it; the control thread
		 * notices it leave.
		 */
		if (stopping || !client_readable(worker, client))
			continue;
		if (count == max_fds)
			continue; /* more clients than the table holds: cannot happen, see max_clients */
		if (vmbus_chan_arm(client->channel) == -EAGAIN) {
			ready = true;
			break;
		}
		fds[count] = (struct pollfd){ .fd = vmbus_device_event_fd(client->device), .events = POLLIN };
		owners[count++] = client;
	}
	armed = count;
	if (!ready) {
		/* A backlog waits for the client to read: look again soon (no signal tells us). */
		timeout = inline_host_timeout(worker, backlog ? 1 : PMD_SLEEP_MS);
		winapi_counter_add(&worker->stats.sleeps, 1);
		pmd_grace_release(worker->pmd);
		rcu_thread_offline();
		rc = poll(fds, count, timeout);
		rcu_thread_online();
		if (rc > 0 && (fds[0].revents & POLLIN))
			(void)!read(worker->kick_fd, &drained, sizeof(drained));
		for (i = 1; rc > 0 && i < count; i++) {
			if (fds[i].revents == 0)
				continue;
			if (owners[i] == NULL)
				take_device_events(worker);
			else if (vmbus_device_take_events(owners[i]->device) == -ENOTCONN)
				pmd_client_leave(owners[i], "it exited");
		}
	}
	vmbus_chan_disarm(device_channel);
	for (i = 2; i < armed; i++)
		vmbus_chan_disarm(owners[i]->channel);
	return true;
}

static void *worker_main(void *argument)
{
	struct pmd_worker *worker = argument;
	struct pmd *pmd = worker->pmd;
	unsigned int max_fds = pmd->options.max_clients + 2, work;
	uint64_t now, counted_to, pass_start, idle_since = 0, drain_deadline = 0, device_look_at = 0, yield_at = 0;
	unsigned int idle_passes = 0;
	struct pmd_client **owners;
	struct pollfd *fds;
	uint8_t *packet;
	bool stopping, waiting;

	fds = calloc(max_fds, sizeof(*fds));
	owners = calloc(max_fds, sizeof(*owners));
	packet = malloc(PMD_PACKET_MAX);
	if (fds == NULL || owners == NULL || packet == NULL) {
		worker->error = -ENOMEM;
		__atomic_store_n(&pmd->stopping, true, __ATOMIC_RELEASE);
		goto out_free;
	}
	rcu_register_thread();
	now = counted_to = winapi_clock_now_ns();
	for (;;) {
		stopping = __atomic_load_n(&pmd->stopping, __ATOMIC_ACQUIRE);
		if (stopping && drain_deadline == 0)
			drain_deadline = now + (uint64_t)(request_default_timeout_ms() + PMD_DRAIN_EXTRA_MS) * 1000000u;
		/* SIGTERM: take nothing new, answer what is in flight, then leave. */
		if (stopping && (worker->in_flight == 0 || worker->error != 0 || now >= drain_deadline))
			break;
		pass_start = now;
		waiting = worker->in_flight != 0;
		work = serve_clients(worker, packet, !stopping);
		if (!stopping)
			send_probe(worker, pass_start);
		/*
		 * One clock read for the pass's submission and its reap, where each read its own:
		 * three kvm-clock reads (29 ns each) were on a pmd echo's critical path. Only for
		 * requests that were already on their way: those taken by an idle worker count
		 * their deadlines from its last read, at most PMD_IDLE_CLOCK_PASSES idle passes
		 * (microseconds) ago, so that the read is off the echo's path too (issue 19).
		 */
		if (waiting)
			now = winapi_clock_now_ns();
		submit(worker, now);
		work += serve_inline_host(worker);
		work += reap(worker, now);
		flush_clients(worker);
		pmd_grace_release(pmd);
		rcu_quiescent_state();
		look_at_device(worker, pass_start, &device_look_at);
		if (work != 0) {
			now = winapi_clock_now_ns();
			winapi_counter_add(&worker->stats.busy_ns, now - counted_to);
			counted_to = now;
			idle_since = 0;
			continue;
		}
		if (idle_since == 0 || ++idle_passes % PMD_IDLE_CLOCK_PASSES == 0) {
			now = winapi_clock_now_ns();
			winapi_counter_add(&worker->stats.idle_ns, now - counted_to);
			counted_to = now;
		}
		if (idle_since == 0) {
			idle_since = now;
			yield_at = now + PMD_SPIN_YIELD_NS;
		}
		/* Spin first: under load the next request is microseconds away. */
		if (pmd->options.spin_ns == UINT32_MAX || now - idle_since < pmd->options.spin_ns) {
			if (now >= yield_at) {
				sched_yield();
				/* Another thread may have run for a while: the next request's deadline counts from here. */
				now = winapi_clock_now_ns();
				yield_at = now + PMD_SPIN_YIELD_NS;
			} else if (worker->in_flight == 0) {
				/* Nothing can come from the host: only a client's request is news. */
				for (unsigned int look = 0; look < PMD_IDLE_LOOKS && !clients_have_requests(worker); look++)
					vmbus_cpu_relax();
			} else {
				vmbus_cpu_relax();
			}
			continue;
		}
		sleep_on_events(worker, fds, owners, max_fds, stopping);
		now = winapi_clock_now_ns();
		winapi_counter_add(&worker->stats.idle_ns, now - counted_to);
		counted_to = now;
	}
	/* Answers still owed to clients that left go nowhere; count them. */
	serve_clients(worker, packet, false);
	flush_clients(worker);
	pmd_grace_release(pmd);
	rcu_unregister_thread();
out_free:
	free(packet);
	free(owners);
	free(fds);
	return NULL;
}

int pmd_worker_init(struct pmd *pmd, unsigned int index, int cpu)
{
	struct pmd_worker *worker = &pmd->workers[index];
	unsigned int i;
	int rc;

	worker->pmd = pmd;
	worker->index = index;
	worker->cpu = cpu;
	worker->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (worker->kick_fd < 0)
		return -errno;
	rc = winapi_driver_open(pmd->device, index, &worker->driver);
	if (rc != 0)
		goto err_close_kick;
	rc = winapi_driver_queue_create(worker->driver, PMD_WORKER_DEPTH, -1, &worker->queue);
	if (rc != 0)
		goto err_close_driver;
	worker->requests = calloc(PMD_WORKER_DEPTH, sizeof(*worker->requests));
	if (worker->requests == NULL) {
		rc = -ENOMEM;
		goto err_destroy_queue;
	}
	for (i = 0; i < PMD_WORKER_DEPTH; i++) {
		worker->requests[i].next = worker->free_requests;
		worker->free_requests = &worker->requests[i];
	}
	return 0;

err_destroy_queue:
	winapi_driver_queue_destroy(worker->queue);
err_close_driver:
	winapi_driver_close(worker->driver);
err_close_kick:
	close(worker->kick_fd);
	return rc;
}

int pmd_worker_start(struct pmd_worker *worker)
{
	pthread_attr_t attributes;
	cpu_set_t cpus;
	int rc;

	rc = pthread_attr_init(&attributes);
	if (rc != 0)
		return -rc;
	if (worker->cpu >= 0) {
		CPU_ZERO(&cpus);
		CPU_SET(worker->cpu, &cpus);
		pthread_attr_setaffinity_np(&attributes, sizeof(cpus), &cpus);
	}
	rc = pthread_create(&worker->thread, &attributes, worker_main, worker);
	pthread_attr_destroy(&attributes);
	return -rc;
}

void pmd_worker_fini(struct pmd_worker *worker)
{
	winapi_driver_queue_destroy(worker->queue);
	winapi_driver_close(worker->driver);
	free(worker->requests);
	close(worker->kick_fd);
}
