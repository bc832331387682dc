/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * For tests in which one thread must act only once another sleeps on a channel: the waiter
 * counts a sleep after it armed the peer's signal and re-checked its ring, so from then on the
 * peer's send or drain must signal it. A fixed delay in place of this bets that the waiter
 * got that far, a bet that a loaded machine loses (make check-load).
 */
#ifndef TESTS_UNIT_ASLEEP_H
#define TESTS_UNIT_ASLEEP_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <vmbus/channel.h>

/* Wait, yielding, until @channel has gone to sleep @sleeps times; false after 30 s. */
static inline bool wait_until_asleep(const struct vmbus_channel *channel, uint64_t sleeps)
{
	const struct timespec yield = { .tv_sec = 0, .tv_nsec = 1000000L };
	struct vmbus_chan_stats stats;
	int i;

	for (i = 0; i < 30000; i++) {
		vmbus_chan_get_stats(channel, &stats);
		if (stats.sleeps >= sleeps)
			return true;
		nanosleep(&yield, NULL);
	}
	return false;
}

#endif /* TESTS_UNIT_ASLEEP_H */
