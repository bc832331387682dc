/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Subscriptions to event sources, for one host (a VMBus channel, a socket connection): the
 * three control calls (SUBSCRIBE, EVENT_WAIT, UNSUBSCRIBE), the events each subscription
 * keeps for its guest, and the waits the host answers later, oldest first, when events come
 * or their wait_ms passes. Everything runs on the host's thread; nothing here blocks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <winapi_internal/clock.h>
#include <winapi_internal/message.h>

#include "host_private.h"

/* Per host: enough for winapi-pmd's clients sharing one device channel. */
#define HOST_MAX_SUBSCRIPTIONS 64u
#define HOST_MAX_WAITS 256u

struct stored_event {
	uint64_t sequence;
	uint32_t length;
	uint8_t data[WINAPI_EVENT_MAX_DATA];
};

/* One subscription; the source posts into it through this type. */
struct winapi_host_events {
	uint64_t id;                       /* 0: a free slot */
	const struct winapi_host_api *api;
	void *state;
	uint64_t next_poll_ns;
	struct stored_event *ring;
	uint32_t depth, head, count;
	uint64_t sequence;                 /* of the last event posted, lost ones included */
	uint64_t lost;
};

struct pending_wait {
	uint64_t request_id;
	uint64_t subscription;
	uint32_t max_events;
	uint32_t reply_capacity;
	uint64_t deadline_ns;
};

struct winapi_host_subscriptions {
	struct winapi_host_events slots[HOST_MAX_SUBSCRIPTIONS];
	struct pending_wait waits[HOST_MAX_WAITS]; /* oldest first */
	unsigned int wait_count;
	unsigned int active;      /* slots with an id */
	uint64_t id_state;
	uint8_t reply[WINAPI_MAX_INLINE_DATA];
};

int winapi_host_subscriptions_create(struct winapi_host_subscriptions **subscriptions_out)
{
	struct winapi_host_subscriptions *subscriptions = calloc(1, sizeof(*subscriptions));

	if (subscriptions == NULL)
		return -ENOMEM;
	/* Ids another guest of the same host (winapi-pmd's clients share a channel) cannot guess. */
	subscriptions->id_state = winapi_clock_now_ns() ^ (uint64_t)(uintptr_t)subscriptions;
	*subscriptions_out = subscriptions;
	return 0;
}

static void end_subscription(struct winapi_host_subscriptions *subscriptions, struct winapi_host_events *subscription)
{
	subscription->api->events->unsubscribe(subscription->state);
	free(subscription->ring);
	memset(subscription, 0, sizeof(*subscription));
	subscriptions->active--;
}

void winapi_host_subscriptions_destroy(struct winapi_host_subscriptions *subscriptions)
{
	unsigned int i;

	if (subscriptions == NULL)
		return;
	for (i = 0; i < HOST_MAX_SUBSCRIPTIONS; i++)
		if (subscriptions->slots[i].id != 0)
			end_subscription(subscriptions, &subscriptions->slots[i]);
	free(subscriptions);
}

/* splitmix64: a new id, never 0. */
static uint64_t next_id(struct winapi_host_subscriptions *subscriptions)
{
	uint64_t z;

	do {
		z = (subscriptions->id_state += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
	} while (z == 0);
	return z;
}

static struct winapi_host_events *find(struct winapi_host_subscriptions *subscriptions, uint64_t id)
{
	unsigned int i;

	for (i = 0; id != 0 && i < HOST_MAX_SUBSCRIPTIONS; i++)
		if (subscriptions->slots[i].id == id)
			return &subscriptions->slots[i];
	return NULL;
}

void winapi_host_event_post(struct winapi_host_events *events, const void *data, uint32_t length)
{
	struct stored_event *stored;

	events->sequence++;
	if (events->count == events->depth) {
		events->lost++; /* the guest has not asked for the ones it has: never silent */
		return;
	}
	stored = &events->ring[(events->head + events->count) % events->depth];
	stored->sequence = events->sequence;
	stored->length = length < WINAPI_EVENT_MAX_DATA ? length : WINAPI_EVENT_MAX_DATA;
	memcpy(stored->data, data, stored->length);
	events->count++;
}

/* Encode the answer to a wait: the events that fit, oldest first, taken off the ring. */
static int fill_wait_reply(struct winapi_host_events *subscription, uint64_t id, uint32_t max_events,
			   uint32_t capacity, uint8_t *out)
{
	struct winapi_event_record records[WINAPI_MAX_INLINE_DATA / sizeof(struct winapi_event_header)] = { { 0 } };
	struct winapi_event_wait_reply reply = { .subscription = id };
	uint32_t size = sizeof(reply), taken = 0;
	int length;

	if (subscription == NULL) {
		reply.flags = WINAPI_EVENT_WAIT_ENDED;
	} else {
		reply.lost = subscription->lost;
		while (taken < max_events && taken < subscription->count) {
			const struct stored_event *stored =
				&subscription->ring[(subscription->head + taken) % subscription->depth];

			if (size + winapi_event_size(stored->length) > capacity)
				break;
			size += winapi_event_size(stored->length);
			records[taken++] = (struct winapi_event_record){ .sequence = stored->sequence,
									  .length = stored->length,
									  .data = stored->data };
		}
		reply.event_count = taken;
	}
	length = winapi_event_wait_reply_encode(&reply, records, out, capacity);
	if (length >= 0 && subscription != NULL) {
		subscription->head = (subscription->head + taken) % subscription->depth;
		subscription->count -= taken;
	}
	return length;
}

static void subscribe(struct winapi_host_subscriptions *subscriptions, const struct winapi_message *message,
		      uint8_t *out, struct winapi_host_reply *reply)
{
	struct winapi_subscribe_request request;
	const struct winapi_host_api *api;
	struct winapi_host_events *slot;
	unsigned int i;

	if (winapi_subscribe_request_decode(message->inline_data, message->inline_length, &request) != 0) {
		reply->status = WINAPI_STATUS_BAD_MESSAGE;
		return;
	}
	api = winapi_host_api_find(request.api_id);
	if (api == NULL || api->events == NULL) {
		reply->status = WINAPI_STATUS_UNSUPPORTED_API;
		return;
	}
	if (request.api_version != 0 && request.api_version >> 8 != api->entry.version >> 8) {
		reply->status = WINAPI_STATUS_UNSUPPORTED_VERSION;
		return;
	}
	for (i = 0; i < HOST_MAX_SUBSCRIPTIONS && subscriptions->slots[i].id != 0; i++)
		;
	if (i == HOST_MAX_SUBSCRIPTIONS) {
		reply->status = WINAPI_STATUS_BUSY;
		return;
	}
	slot = &subscriptions->slots[i];
	slot->depth = request.depth != 0 ? request.depth : WINAPI_EVENT_DEFAULT_DEPTH;
	slot->ring = malloc(sizeof(*slot->ring) * slot->depth);
	if (slot->ring == NULL) {
		reply->status = WINAPI_STATUS_BUSY;
		return;
	}
	reply->status = api->events->subscribe((const uint8_t *)message->inline_data + sizeof(request),
					       message->inline_length - (uint32_t)sizeof(request), &slot->state);
	if (reply->status != WINAPI_STATUS_OK) {
		free(slot->ring);
		memset(slot, 0, sizeof(*slot));
		return;
	}
	slot->api = api;
	slot->id = next_id(subscriptions);
	subscriptions->active++;
	winapi_subscription_encode(&(struct winapi_subscription){ .id = slot->id }, out);
	reply->data = out;
	reply->length = sizeof(struct winapi_subscription);
}

void winapi_host_events_request(struct winapi_host_context *host, const struct winapi_message *message,
				struct winapi_host_reply *reply)
{
	struct winapi_host_subscriptions *subscriptions = host->subscriptions;
	struct winapi_event_wait_request wait;
	struct winapi_subscription subscription;
	struct winapi_host_events *slot;
	int length;

	reply->status = WINAPI_STATUS_OK;
	if (subscriptions == NULL) {
		reply->status = WINAPI_STATUS_UNSUPPORTED_API; /* a host that only answers (QEMU's) */
		return;
	}
	if (message->buffer_count != 0) {
		reply->status = WINAPI_STATUS_BAD_MESSAGE;
		return;
	}
	switch (message->api_id) {
	case WINAPI_API_SUBSCRIBE:
		subscribe(subscriptions, message, host->reply_space, reply);
		return;
	case WINAPI_API_UNSUBSCRIBE:
		if (winapi_subscription_decode(message->inline_data, message->inline_length, &subscription) != 0) {
			reply->status = WINAPI_STATUS_BAD_MESSAGE;
			return;
		}
		/* Unknown ids too: ending what has ended is not an error. Its waits end at the next pump. */
		slot = find(subscriptions, subscription.id);
		if (slot != NULL)
			end_subscription(subscriptions, slot);
		return;
	default: /* WINAPI_API_EVENT_WAIT */
		if (winapi_event_wait_request_decode(message->inline_data, message->inline_length, &wait) != 0 ||
		    message->reply_capacity < sizeof(struct winapi_event_wait_reply)) {
			reply->status = WINAPI_STATUS_BAD_MESSAGE;
			return;
		}
		slot = find(subscriptions, wait.subscription);
		/* Answered now when there is something to say and no older wait comes first. */
		if ((slot == NULL || slot->count != 0) && subscriptions->wait_count == 0) {
			length = fill_wait_reply(slot, wait.subscription, wait.max_events, message->reply_capacity,
						 host->reply_space);
			reply->status = length >= 0 ? WINAPI_STATUS_OK : WINAPI_STATUS_INTERNAL;
			reply->data = host->reply_space;
			reply->length = length >= 0 ? (uint32_t)length : 0;
			return;
		}
		if (subscriptions->wait_count == HOST_MAX_WAITS) {
			reply->status = WINAPI_STATUS_BUSY;
			return;
		}
		subscriptions->waits[subscriptions->wait_count++] = (struct pending_wait){
			.request_id = message->request_id,
			.subscription = wait.subscription,
			.max_events = wait.max_events,
			.reply_capacity = message->reply_capacity,
			.deadline_ns = winapi_clock_now_ns() + (uint64_t)wait.wait_ms * 1000000u,
		};
		reply->status = WINAPI_HOST_STATUS_DEFERRED;
		return;
	}
}

bool winapi_host_events_idle(const struct winapi_host_subscriptions *subscriptions)
{
	return subscriptions == NULL || (subscriptions->active == 0 && subscriptions->wait_count == 0);
}

int winapi_host_events_pump(struct winapi_host_subscriptions *subscriptions, uint64_t now_ns,
			    winapi_host_emit *emit, void *context, uint64_t *next_ns)
{
	struct winapi_message response;
	unsigned int i, kept = 0;
	uint64_t next = UINT64_MAX;
	int length, rc = 0;

	for (i = 0; i < HOST_MAX_SUBSCRIPTIONS; i++) {
		struct winapi_host_events *slot = &subscriptions->slots[i];

		if (slot->id == 0)
			continue;
		if (slot->next_poll_ns <= now_ns)
			slot->next_poll_ns = slot->api->events->poll(slot->state, now_ns, slot);
		if (slot->next_poll_ns < next)
			next = slot->next_poll_ns;
	}
	for (i = 0; i < subscriptions->wait_count; i++) {
		struct pending_wait *wait = &subscriptions->waits[i];
		struct winapi_host_events *slot = find(subscriptions, wait->subscription);

		if (rc != 0 || (slot != NULL && slot->count == 0 && wait->deadline_ns > now_ns)) {
			if (rc == 0 && wait->deadline_ns < next)
				next = wait->deadline_ns;
			subscriptions->waits[kept++] = *wait;
			continue;
		}
		length = fill_wait_reply(slot, wait->subscription, wait->max_events, wait->reply_capacity,
					 subscriptions->reply);
		winapi_message_set_response(&response, WINAPI_API_EVENT_WAIT,
					    length >= 0 ? WINAPI_STATUS_OK : WINAPI_STATUS_INTERNAL, wait->request_id,
					    subscriptions->reply, length >= 0 ? (uint32_t)length : 0);
		rc = emit(context, &response);
	}
	subscriptions->wait_count = kept;
	*next_ns = next;
	return rc;
}
