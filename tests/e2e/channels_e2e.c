/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every channel of a device carries calls: the emulator offers two subchannels besides the
 * primary, serves each on its own thread, and a winapi driver on each channel, driven by its
 * own thread, gets every echo back byte for byte while the others run.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <vmbus/sim.h>
#include <winapi_internal/winapi_driver.h>
#include <winapi/protocol.h>

#include "emulator.h"

#define CHANNELS 3u
#define CALLS_PER_CHANNEL 5000u

static struct emulator emulator;

struct channel_load {
	pthread_t thread;
	struct winapi_driver *driver;
	unsigned int seed;
	unsigned int failures;   /* calls that failed or came back different */
};

static void *echo_load(void *argument)
{
	struct channel_load *load = argument;
	uint8_t input[WINAPI_MAX_INLINE_DATA], output[WINAPI_MAX_INLINE_DATA];
	unsigned int call_number;

	for (call_number = 0; call_number < CALLS_PER_CHANNEL; call_number++) {
		uint32_t length = (uint32_t)(rand_r(&load->seed) % (WINAPI_MAX_INLINE_DATA + 1));
		struct winapi_call call = {
			.api_id = WINAPI_API_ECHO, .request_data = input, .request_length = length,
			.reply_data = output, .reply_capacity = sizeof(output), .timeout_ms = -1,
		};
		uint32_t i;

		for (i = 0; i < length; i++)
			input[i] = (uint8_t)rand_r(&load->seed);
		if (winapi_driver_call(load->driver, &call) != 0 || call.reply_length != length ||
		    memcmp(input, output, length) != 0) {
			load->failures++;
			break; /* an unserved channel would time out on every call */
		}
	}
	return NULL;
}

static void test_every_channel_serves(void **state)
{
	static const char *const arguments[] = { "--subchannels", "2", NULL };
	struct channel_load loads[CHANNELS];
	struct winapi_transport_stats stats;
	struct winapi_driver *extra;
	struct vmbus_device *device;
	unsigned int i;

	(void)state;
	assert_int_equal(emulator_start(&emulator, arguments), 0);
	assert_int_equal(vmbus_sim_connect(emulator.socket_path, 5000, &device), 0);
	assert_int_equal(vmbus_device_channel_count(device), CHANNELS);
	for (i = 0; i < CHANNELS; i++) {
		loads[i] = (struct channel_load){ .seed = 2026 + i };
		assert_int_equal(winapi_driver_open(device, i, &loads[i].driver), 0);
	}
	/* No fourth channel, and no second driver on one. */
	assert_int_equal(winapi_driver_open(device, CHANNELS, &extra), -EINVAL);
	assert_int_equal(winapi_driver_open(device, 1, &extra), -EBUSY);

	for (i = 0; i < CHANNELS; i++)
		assert_int_equal(pthread_create(&loads[i].thread, NULL, echo_load, &loads[i]), 0);
	for (i = 0; i < CHANNELS; i++)
		pthread_join(loads[i].thread, NULL);
	for (i = 0; i < CHANNELS; i++) {
		assert_int_equal(loads[i].failures, 0);
		/* Each channel carried its own calls, and only those. */
		winapi_driver_get_stats(loads[i].driver, &stats);
		assert_int_equal(stats.calls, CALLS_PER_CHANNEL);
		assert_int_equal(stats.failed_calls, 0);
		assert_int_equal(stats.unexpected_packets, 0);
		winapi_driver_close(loads[i].driver);
	}
	vmbus_device_close(device);
}

static int group_setup(void **state)
{
	(void)state;
	return emulator_prepare(&emulator, "channels_e2e");
}

static int group_teardown(void **state)
{
	(void)state;
	emulator_cleanup(&emulator);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_channel_serves),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("every channel serves", tests, group_setup, group_teardown);
}
