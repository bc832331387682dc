/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi.tick: the first event source. A subscription names a period; every period the host
 * posts its CLOCK_MONOTONIC time. Periods missed while the host was busy are posted late, one
 * by one, never skipped: a guest that reads slowly sees them lost and counted, not vanished.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <winapi_internal/clock.h>

#include "host_private.h"

#define TICK_MAX_PERIOD_MS 60000u

struct tick {
	uint64_t period_ns;
	uint64_t next_ns; /* 0: not started */
};

static uint32_t tick_subscribe(const void *params, uint32_t length, void **state)
{
	struct tick *tick;
	uint32_t period_ms;

	if (length != sizeof(period_ms))
		return WINAPI_STATUS_BAD_MESSAGE;
	memcpy(&period_ms, params, sizeof(period_ms));
	period_ms = le32toh(period_ms);
	if (period_ms == 0 || period_ms > TICK_MAX_PERIOD_MS)
		return WINAPI_STATUS_BAD_MESSAGE;
	tick = calloc(1, sizeof(*tick));
	if (tick == NULL)
		return WINAPI_STATUS_BUSY;
	tick->period_ns = (uint64_t)period_ms * 1000000u;
	*state = tick;
	return WINAPI_STATUS_OK;
}

static uint64_t tick_poll(void *state, uint64_t now_ns, struct winapi_host_events *events)
{
	struct tick *tick = state;
	uint64_t time;

	if (tick->next_ns == 0)
		tick->next_ns = now_ns + tick->period_ns;
	while (tick->next_ns <= now_ns) {
		time = htole64(tick->next_ns);
		winapi_host_event_post(events, &time, sizeof(time));
		tick->next_ns += tick->period_ns;
	}
	return tick->next_ns;
}

static void tick_unsubscribe(void *state)
{
	free(state);
}

static const struct winapi_host_event_source tick_source = {
	.subscribe = tick_subscribe,
	.poll = tick_poll,
	.unsubscribe = tick_unsubscribe,
};

const struct winapi_host_api winapi_host_tick_api = {
	.entry = { .name = "winapi.tick", .api_id = 16, .version = 0x100, .max_request = 0, .max_reply = 0,
		   .flags = WINAPI_API_FLAG_EVENT_SOURCE },
	.events = &tick_source,
};
