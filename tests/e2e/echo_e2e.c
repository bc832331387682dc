/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * End to end: a real winapi-host-sim process, liblowlat's public API, nothing else.
 * 100,000 echoes of 0 to 3072 bytes, every byte checked, every completion accounted for;
 * then the lifecycle: a second guest is refused, guests come and go, the host stops or dies
 * under a guest and the guest's next call fails cleanly instead of hanging; a host polling
 * for ever still sees its guest leave.
 *
 * The emulator binary is $WINAPI_BIN_DIR/winapi-host-sim (tests/run-tests.sh sets it).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <winapi/lowlat.h>

#include "emulator.h"

#define ECHO_CALLS 100000u
#define MAX_ECHO 3072u

static struct emulator emulator;

static int start_emulator(void)
{
	return emulator_start(&emulator, NULL);
}

static int stop_emulator(int signal_number)
{
	return emulator_stop(&emulator, signal_number);
}

#define GROUP_TIMEOUT_MS "60000"

static int group_setup(void **state)
{
	(void)state;
	/* Every call here must succeed: a loaded machine gets a minute, not the default 5 s. */
	setenv("WINAPI_TIMEOUT_MS", GROUP_TIMEOUT_MS, 1);
	if (emulator_prepare(&emulator, "echo_e2e") != 0)
		return -1;
	return start_emulator();
}

static int group_teardown(void **state)
{
	(void)state;
	emulator_cleanup(&emulator);
	return 0;
}

static void test_echo_100000(void **state)
{
	static char input[MAX_ECHO + 1], output[MAX_ECHO + 1];
	struct winapi_stats stats;
	winapi_handle_t handle;
	unsigned int seed = 2026;
	uint32_t call;

	(void)state;
	handle = winapi_init();
	assert_non_null(handle);
	for (call = 0; call < ECHO_CALLS; call++) {
		size_t length = call % (MAX_ECHO + 1); /* 0, 1, ..., 3072, 0, ... */
		size_t i;

		/* Any byte but NUL (the API takes a C string); a fresh pattern every call. */
		for (i = 0; i < length; i++)
			input[i] = (char)(1 + rand_r(&seed) % 255);
		input[length] = '\0';
		memset(output, 0, sizeof(output));
		assert_int_equal(winapi_echo(handle, input, output, sizeof(output)), 0);
		if (memcmp(input, output, length + 1) != 0)
			fail_msg("call %u: %zu bytes came back different", call, length);
	}
	/* One more call: a duplicate of the last completion would show up as stale here. */
	assert_int_equal(winapi_echo(handle, "last", output, sizeof(output)), 0);
	/* Every completion arrived once: none late, none unmatched, none lost. */
	assert_int_equal(winapi_get_stats(handle, &stats), 0);
	assert_int_equal(stats.calls, ECHO_CALLS + 1);
	assert_int_equal(stats.failed_calls, 0);
	assert_int_equal(stats.timeouts, 0);
	assert_int_equal(stats.stale_completions, 0);
	assert_int_equal(stats.unexpected_packets, 0);
	winapi_cleanup(handle);
}

static void test_second_guest_refused(void **state)
{
	winapi_handle_t first, second;
	char output[16];

	(void)state;
	first = winapi_init();
	assert_non_null(first);
	errno = 0;
	second = winapi_init();
	assert_null(second);
	assert_int_equal(errno, EBUSY);
	/* The owner is not disturbed by the refusal. */
	assert_int_equal(winapi_echo(first, "still mine", output, sizeof(output)), 0);
	assert_string_equal(output, "still mine");
	winapi_cleanup(first);
}

static void test_argument_errors(void **state)
{
	static char long_input[MAX_ECHO + 2], output[MAX_ECHO + 1];
	winapi_handle_t handle;
	char small[8];

	(void)state;
	handle = winapi_init();
	assert_non_null(handle);
	assert_int_equal(winapi_echo(NULL, "x", small, sizeof(small)), -EINVAL);
	assert_int_equal(winapi_echo(handle, NULL, small, sizeof(small)), -EINVAL);
	assert_int_equal(winapi_echo(handle, "x", NULL, 8), -EINVAL);
	assert_int_equal(winapi_echo(handle, "eight ch", small, sizeof(small)), -ENOBUFS);
	assert_int_equal(winapi_echo(handle, "seven c", small, sizeof(small)), 0); /* exact fit */
	assert_string_equal(small, "seven c");
	memset(long_input, 'a', MAX_ECHO + 1);
	assert_int_equal(winapi_echo(handle, long_input, output, sizeof(output)), -EMSGSIZE);
	long_input[MAX_ECHO] = '\0';
	assert_int_equal(winapi_echo(handle, long_input, output, sizeof(output)), 0);
	assert_int_equal(strlen(output), MAX_ECHO);
	assert_int_equal(winapi_get_stats(NULL, NULL), -EINVAL);
	winapi_cleanup(handle);
	winapi_cleanup(NULL);
}

static void test_guests_come_and_go(void **state)
{
	char output[32], input[32];
	int i;

	(void)state;
	for (i = 0; i < 20; i++) {
		winapi_handle_t handle = winapi_init();

		assert_non_null(handle);
		snprintf(input, sizeof(input), "guest %d", i);
		assert_int_equal(winapi_echo(handle, input, output, sizeof(output)), 0);
		assert_string_equal(output, input);
		winapi_cleanup(handle);
	}
}

/*
 * The host stops (SIGTERM) under a guest: clean exit, socket gone, and the guest's call fails
 * because it sees the host gone, not at its deadline.
 */
static void test_host_stops_under_guest(void **state)
{
	winapi_handle_t handle;
	char output[16];
	int status;

	(void)state;
	/*
	 * A call deadline far beyond the test's own timeout: the call can only end by seeing the
	 * host gone, so no clock needs reading (a loaded machine makes any bound a bet).
	 */
	setenv("WINAPI_TIMEOUT_MS", "3600000", 1);
	handle = winapi_init();
	setenv("WINAPI_TIMEOUT_MS", GROUP_TIMEOUT_MS, 1);
	assert_non_null(handle);
	status = stop_emulator(SIGTERM);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(access(emulator.socket_path, F_OK), -1);
	assert_int_equal(winapi_echo(handle, "anyone?", output, sizeof(output)), -ENOTCONN);
	winapi_cleanup(handle);
	/* Nobody listens now: a clear error, not a hang. */
	errno = 0;
	assert_null(winapi_init());
	assert_true(errno == ENOENT || errno == ECONNREFUSED);
}

/* The host dies (SIGKILL) under a guest: the same, without any help from the host. */
static void test_host_dies_under_guest(void **state)
{
	winapi_handle_t handle;
	char output[16];

	(void)state;
	assert_int_equal(start_emulator(), 0);
	handle = winapi_init();
	assert_non_null(handle);
	assert_int_equal(winapi_echo(handle, "alive", output, sizeof(output)), 0);
	stop_emulator(SIGKILL);
	assert_int_equal(winapi_echo(handle, "anyone?", output, sizeof(output)), -ENOTCONN);
	winapi_cleanup(handle);
	/* A new emulator serves new guests. */
	assert_int_equal(start_emulator(), 0);
	handle = winapi_init();
	assert_non_null(handle);
	assert_int_equal(winapi_echo(handle, "again", output, sizeof(output)), 0);
	winapi_cleanup(handle);
}

/*
 * A host that polls for ever (VMBUS_SPIN_NS at its maximum, as winapi-bench runs it) never
 * sleeps on the guest's socket, yet sees the guest leave: --once makes it exit then.
 */
static void test_polling_host_sees_guest_leave(void **state)
{
	static const char *const once[] = { "--once", NULL };
	winapi_handle_t handle;
	char output[16];
	int status;

	(void)state;
	stop_emulator(SIGTERM);
	setenv("VMBUS_SPIN_NS", "4294967295", 1);
	assert_int_equal(emulator_start(&emulator, once), 0);
	unsetenv("VMBUS_SPIN_NS");
	handle = winapi_init();
	assert_non_null(handle);
	assert_int_equal(winapi_echo(handle, "spin", output, sizeof(output)), 0);
	winapi_cleanup(handle);
	/* Signal 0 sends nothing: emulator_stop only waits (5 s) for the exit --once promises. */
	status = stop_emulator(0);
	assert_true(status != -1 && WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_100000),
		cmocka_unit_test(test_second_guest_refused),
		cmocka_unit_test(test_argument_errors),
		cmocka_unit_test(test_guests_come_and_go),
		cmocka_unit_test(test_host_stops_under_guest),
		cmocka_unit_test(test_host_dies_under_guest),
		cmocka_unit_test(test_polling_host_sees_guest_leave),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("echo end to end", tests, group_setup, group_teardown);
}
