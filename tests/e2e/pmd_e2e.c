/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-pmd end to end: a real winapi-host-sim offering two channels, a real winapi-pmd with
 * two workers on them, and client processes that link liblowlat with WINAPI_TRANSPORT=pmd.
 *
 *  - 4 client processes push 1,000,000 mixed requests (echoes of random bytes, buffer
 *    WRITEs and READs in zero-copy buffers): every request completes, every byte is checked
 *    (echo output, the buffer's bytes after a WRITE, the host's CRC32C of a READ);
 *  - one client is killed with SIGKILL mid-load: the others finish, every check passing, and
 *    the daemon's counters show the dead client's pool reclaimed;
 *  - a client sent away while it runs keeps its pool quarantined (it still maps guest RAM)
 *    until its process exits, and no longer;
 *  - a client naming memory outside its own pool gets -EFAULT, and a client working beside it
 *    notices nothing;
 *  - requests the host's API table rules out (an unknown API, another major, over an API's
 *    limits) are answered by the daemon and never reach the host;
 *  - the telemetry socket answers the DPDK telemetry v2 protocol with the counters, and
 *    winapi-pmd --stats prints them;
 *  - SIGTERM: the daemon answers what is in flight and exits 0; its clients get -ENOTCONN, and
 *    attach again once a new daemon runs;
 *  - a daemon with a --policy (on a host of its own): what the policy allows is served, what
 *    it denies gets -EACCES, counted for the client and logged once; a malformed policy
 *    stops it at start with status 2 and the file's line;
 *  - fair share in bytes (a daemon with one worker, on a host of its own): two clients keep
 *    256 requests each in flight, every one naming their whole pool, while a bystander's
 *    echoes keep their p99 within 10x of its idle value and none time out; a request naming
 *    more than its pool in all (overlapping buffers) is refused;
 *  - --max-clients-per-uid (a daemon run as nobody, on a host of its own, when the test runs
 *    as root): that user's clients beyond the cap get -EUSERS, logged with the uid, until one
 *    of them leaves.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include <vmbus/memory.h>
#include <vmbus/sim.h>
#include <winapi_internal/api_table.h>
#include <winapi_internal/winapi_driver.h>
#include <winapi/lowlat.h>
#include <winapi_internal/pmd.h>
#include <winapi_internal/telemetry.h>

#include "emulator.h"
#include "load.h"

#define CLIENTS 4u
#define TOTAL_REQUESTS 1000000u
#define DEPTH 32u
#define POOL_MIB 8

static struct emulator host;
static struct emulator pmd;
static char prefix[64];
static char telemetry_path[108];

static int start_pmd(void)
{
	const char *const arguments[] = { "--lcores", "0,1", "--backend", "sim", "--sim-socket", host.socket_path,
					  "--file-prefix", prefix, "--pool-size", "8", "--log-level", "info",
					  NULL };

	/*
	 * Every call here must succeed, the daemon's own to the host and its clients': a minute,
	 * not the default 5 s (read by the daemon and by each winapi_init()).
	 */
	setenv("WINAPI_TIMEOUT_MS", "60000", 1);
	return emulator_start(&pmd, arguments);
}

static int group_setup(void **state)
{
	const char *const host_arguments[] = { "--subchannels", "1", "--profile", "linux-6.12", NULL };

	(void)state;
	if (emulator_prepare(&host, "pmd-e2e-host") != 0 || emulator_start(&host, host_arguments) != 0)
		return -1;
	if (emulator_prepare_program(&pmd, "pmd-e2e", "winapi-pmd") != 0)
		return -1;
	snprintf(prefix, sizeof(prefix), "pmd-e2e-%d", (int)getpid());
	if (winapi_pmd_socket_path(prefix, false, WINAPI_PMD_TELEMETRY_SOCKET, telemetry_path,
				   sizeof(telemetry_path)) != 0)
		return -1;
	setenv("WINAPI_TRANSPORT", "pmd", 1);
	setenv("WINAPI_PMD_SOCKET", pmd.socket_path, 1);
	return start_pmd();
}

/* End a group's daemon and its host, and the runtime directory the daemon made for @name. */
static void stop_daemon(struct emulator *daemon, struct emulator *daemon_host, const char *name)
{
	char directory[108];

	emulator_cleanup(daemon);
	emulator_cleanup(daemon_host);
	if (winapi_pmd_runtime_dir(name, false, directory, sizeof(directory)) == 0)
		rmdir(directory);
}

static int group_teardown(void **state)
{
	(void)state;
	stop_daemon(&pmd, &host, prefix);
	return 0;
}

/* ---- the client processes (tests/e2e/load.c) ---- */

struct child {
	pid_t pid;
	int report_fd;
	int progress_fd;
};

/*
 * A client process. With @gate (a pipe) it attaches, says so on its progress pipe and waits
 * for a byte on gate[0] before its first request.
 */
static void start_gated_client(struct child *child, uint32_t requests, uint32_t seed, const int *gate)
{
	int report_pipe[2], progress_pipe[2];

	assert_int_equal(pipe(report_pipe), 0);
	assert_int_equal(pipe(progress_pipe), 0);
	child->pid = fork();
	assert_true(child->pid >= 0);
	if (child->pid == 0) {
		const struct load_options options = {
			.requests = requests, .depth = DEPTH, .seed = seed, .progress_fd = progress_pipe[1],
			.timeout_ms = 60000, .gated = gate != NULL, .start_fd = gate != NULL ? gate[0] : -1,
		};
		struct load_report report;
		int rc;

		close(report_pipe[0]);
		close(progress_pipe[0]);
		if (gate != NULL)
			close(gate[1]);
		rc = load_run(&options, &report);
		(void)!write(report_pipe[1], &report, sizeof(report));
		_exit(rc == 0 ? 0 : 1);
	}
	close(report_pipe[1]);
	close(progress_pipe[1]);
	child->report_fd = report_pipe[0];
	child->progress_fd = progress_pipe[0];
}

static void start_client(struct child *child, uint32_t requests, uint32_t seed)
{
	start_gated_client(child, requests, seed, NULL);
}

/* Wait for the client, bounded by the test's timeout, and read its report. */
static int finish_client(struct child *child, struct load_report *report)
{
	int status;

	memset(report, 0, sizeof(*report));
	if (waitpid(child->pid, &status, 0) != child->pid)
		return -1;
	if (read(child->report_fd, report, sizeof(*report)) != (ssize_t)sizeof(*report))
		memset(report, 0, sizeof(*report));
	close(child->report_fd);
	close(child->progress_fd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ---- telemetry ---- */

/* A counter of this process's client of the daemon whose telemetry is at @path; -1 if none. */
static json_int_t own_client_value(const char *path, const char *key)
{
	json_t *ids = NULL, *client = NULL, *id;
	json_int_t value = -1;
	char id_text[32];
	size_t index;

	if (pmd_telemetry_query(path, "/winapi/clients", NULL, 30000, &ids) != 0)
		return -1;
	json_array_foreach(ids, index, id) {
		snprintf(id_text, sizeof(id_text), "%lld", (long long)json_integer_value(id));
		if (pmd_telemetry_query(path, "/winapi/client", id_text, 30000, &client) != 0)
			continue; /* gone since the list */
		if (json_integer_value(json_object_get(client, "pid")) == getpid())
			value = json_integer_value(json_object_get(client, key));
		json_decref(client);
	}
	json_decref(ids);
	return value;
}

/* Requests the daemon's workers forwarded to the host, all together; -1 if not told. */
static json_int_t forwarded_requests(void)
{
	json_t *workers = NULL, *worker;
	json_int_t total = 0;
	size_t index;

	if (pmd_telemetry_query(telemetry_path, "/winapi/workers", NULL, 30000, &workers) != 0)
		return -1;
	json_array_foreach(workers, index, worker)
		total += json_integer_value(json_object_get(worker, "requests"));
	json_decref(workers);
	return total;
}

static json_int_t stat_value(const char *key)
{
	json_t *value = NULL;
	json_int_t result = -1;

	if (pmd_telemetry_query(telemetry_path, "/winapi/stats", NULL, 30000, &value) == 0)
		result = json_integer_value(json_object_get(value, key));
	json_decref(value);
	return result;
}

/* Wait (bounded: 30 s, for a loaded machine) until every client that ever attached has been reclaimed. */
static bool wait_all_reclaimed(void)
{
	int i;

	for (i = 0; i < 1500; i++) {
		json_int_t reclaimed = stat_value("clients_reclaimed"), attached = stat_value("clients_attached");

		/* -1 is a query that failed (timed out): not an answer, and never "equal". */
		if (reclaimed >= 0 && attached >= 0 && reclaimed == attached)
			return true;
		sleep_ms(20);
	}
	return false;
}

/* ---- the tests ---- */

static void test_four_clients_a_million_mixed(void **state)
{
	struct load_report reports[CLIENTS];
	struct child children[CLIENTS];
	uint32_t completed = 0;
	unsigned int i;
	json_t *workers = NULL;
	char byte;
	int gate[2];

	(void)state;
	/*
	 * All four attached before any starts: the daemon places each on the worker with the
	 * fewest clients, so both workers serve, whatever the schedule after.
	 */
	assert_int_equal(pipe(gate), 0);
	for (i = 0; i < CLIENTS; i++)
		start_gated_client(&children[i], TOTAL_REQUESTS / CLIENTS, 0x9e3779b9u * (i + 1), gate);
	for (i = 0; i < CLIENTS; i++)
		assert_int_equal(read(children[i].progress_fd, &byte, 1), 1);
	assert_int_equal(write(gate[1], "1234", CLIENTS), CLIENTS);
	close(gate[0]);
	close(gate[1]);
	for (i = 0; i < CLIENTS; i++) {
		assert_int_equal(finish_client(&children[i], &reports[i]), 0);
		assert_int_equal(reports[i].failed, 0);
		assert_int_equal(reports[i].corrupted, 0);
		assert_int_equal(reports[i].duplicated, 0);
		assert_int_equal(reports[i].unanswered, 0);
		completed += reports[i].completed;
	}
	assert_int_equal(completed, TOTAL_REQUESTS);

	/* Both workers served: clients are spread over the channels. */
	assert_int_equal(pmd_telemetry_query(telemetry_path, "/winapi/workers", NULL, 30000, &workers), 0);
	assert_int_equal(json_array_size(workers), 2);
	for (i = 0; i < 2; i++)
		assert_true(json_integer_value(json_object_get(json_array_get(workers, i), "requests")) > 0);
	json_decref(workers);
}

static void test_killed_client_reclaimed(void **state)
{
	json_int_t reclaimed_before, pool_reclaimed_before;
	struct load_report report;
	struct child victim, others[2];
	char byte;
	unsigned int i;

	(void)state;
	/* The daemon reclaims the clients of the test before on its own time: let it finish. */
	assert_true(wait_all_reclaimed());
	reclaimed_before = stat_value("clients_reclaimed");
	pool_reclaimed_before = stat_value("pool_bytes_reclaimed");
	assert_true(reclaimed_before >= 0);
	start_client(&victim, 10000000u, 7);
	for (i = 0; i < 2; i++)
		start_client(&others[i], 100000u, 11 + i);
	/* Mid-load: it has completed 5000 requests and has DEPTH in flight. */
	for (i = 0; i < 5; i++)
		assert_int_equal(read(victim.progress_fd, &byte, 1), 1);
	assert_int_equal(kill(victim.pid, SIGKILL), 0);
	assert_int_equal(finish_client(&victim, &report), -1);

	for (i = 0; i < 2; i++) {
		assert_int_equal(finish_client(&others[i], &report), 0);
		assert_int_equal(report.failed, 0);
		assert_int_equal(report.corrupted, 0);
		assert_int_equal(report.completed, 100000u);
	}
	/*
	 * The victim and the two others left: three clients, three pools reclaimed. A request of
	 * the victim's that outlived the daemon's deadline on a slow machine (sanitizers) keeps its
	 * pool quarantined until the host's late answer is read: wait for that too (bounded).
	 */
	assert_true(wait_all_reclaimed());
	for (i = 0; i < 1500 && stat_value("pool_bytes_quarantined") != 0; i++)
		sleep_ms(20);
	assert_int_equal(stat_value("clients_reclaimed"), reclaimed_before + 3);
	assert_int_equal(stat_value("pool_bytes_reclaimed"), pool_reclaimed_before + 3 * ((json_int_t)POOL_MIB << 20));
	assert_int_equal(stat_value("clients"), 0);
	/* Nothing of it is held: what is in use is what the attached clients (none) hold. */
	assert_int_equal(stat_value("pool_bytes_in_use"), 0);
}

/*
 * On the emulator a client maps all of guest RAM: one the daemon sends away while it still
 * runs keeps its pool quarantined. Before the daemon watched the process (a pidfd), that was
 * for good, and a few such clients took every pool there was (ENOMEM for everyone after).
 */
static void test_evicted_client_pool_freed_at_exit(void **state)
{
	static uint8_t oversize[16384];
	const struct iovec payload = { .iov_base = oversize, .iov_len = sizeof(oversize) };
	const struct vmbus_ring_packet packet = { .type = VMBUS_PACKET_DATA_INBAND,
						  .flags = VMBUS_PACKET_FLAG_COMPLETION_REQUESTED,
						  .trans_id = 1, .payload = &payload, .payload_count = 1 };
	json_int_t quarantined_before;
	int gate[2], ready[2], status;
	char byte = 0;
	pid_t pid;
	int i;

	(void)state;
	assert_true(wait_all_reclaimed());
	for (i = 0; i < 1500 && stat_value("pool_bytes_quarantined") != 0; i++)
		sleep_ms(20);
	quarantined_before = stat_value("pool_bytes_quarantined");
	assert_int_equal(quarantined_before, 0);
	assert_int_equal(pipe(gate), 0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vmbus_device *device;
		struct vmbus_channel *channel;

		/* The test's ends: its exit (or failure) must end the wait below. */
		close(gate[1]);
		close(ready[0]);
		/* A packet larger than any request: the daemon sends this client away. */
		if (vmbus_sim_connect(pmd.socket_path, 30000, &device) != 0 ||
		    vmbus_chan_open(device, 0, &channel) != 0 || vmbus_chan_write(channel, &packet) != 0 ||
		    vmbus_chan_flush(channel) != 0)
			_exit(1);
		(void)!write(ready[1], &byte, 1);
		/* Still mapping guest RAM, till the test says go. */
		(void)!read(gate[0], &byte, 1);
		_exit(0);
	}
	close(ready[1]);
	close(gate[0]);
	assert_int_equal(read(ready[0], &byte, 1), 1);
	/* Sent away while it runs: its pool is kept out of use. */
	for (i = 0; i < 1500 && stat_value("pool_bytes_quarantined") != (json_int_t)POOL_MIB << 20; i++)
		sleep_ms(20);
	assert_int_equal(stat_value("pool_bytes_quarantined"), (json_int_t)POOL_MIB << 20);
	assert_true(emulator_log_count(&pmd, "it sent a packet larger than any request") >= 1);
	/* It exits: the pool is free again, within the control thread's next look. */
	assert_int_equal(write(gate[1], &byte, 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (i = 0; i < 1500 && stat_value("pool_bytes_quarantined") != 0; i++)
		sleep_ms(20);
	assert_int_equal(stat_value("pool_bytes_quarantined"), 0);
	assert_true(emulator_log_count(&pmd, "its process has exited; its") >= 1);
	close(ready[0]);
	close(gate[1]);
}

/* The internal driver, to say what liblowlat never would: a buffer outside our pool. */
static void test_buffer_outside_pool_refused(void **state)
{
	struct vmbus_gpadl_region region;
	struct vmbus_device *device;
	struct winapi_driver *driver;
	struct winapi_buffer_test_request request = { .operation = WINAPI_BUFFER_OP_READ };
	uint8_t request_bytes[sizeof(request)], reply[64];
	struct winapi_call_buffer buffer;
	struct winapi_call call = {
		.api_id = WINAPI_API_BUFFER_TEST,
		.request_data = request_bytes,
		.request_length = sizeof(request_bytes),
		.reply_data = reply,
		.reply_capacity = sizeof(reply),
		.buffers = &buffer,
		.buffer_count = 1,
		.timeout_ms = 60000,
	};
	struct load_report report;
	struct child neighbour;

	(void)state;
	winapi_buffer_test_request_encode(&request, request_bytes);
	start_client(&neighbour, 50000u, 99);
	assert_int_equal(vmbus_sim_connect(pmd.socket_path, 30000, &device), 0);
	assert_int_equal(vmbus_device_gpadl_region(device, VMBUS_GPADL_RECEIVE, &region), 0);
	assert_int_equal(region.size, (size_t)POOL_MIB << 20);
	assert_int_equal(winapi_driver_open(device, 0, &driver), 0);

	/* Past the end of the pool, straddling it, and another GPADL handle: all refused. */
	buffer = (struct winapi_call_buffer){ .kind = WINAPI_BUFFER_GPADL, .gpadl = region.gpadl,
					      .gpadl_offset = region.size, .length = 4096 };
	assert_int_equal(winapi_driver_call(driver, &call), -EFAULT);
	buffer.gpadl_offset = region.size - 4096;
	buffer.length = 8192;
	assert_int_equal(winapi_driver_call(driver, &call), -EFAULT);
	buffer = (struct winapi_call_buffer){ .kind = WINAPI_BUFFER_GPADL, .gpadl = region.gpadl ^ 1u,
					      .gpadl_offset = 0, .length = 4096 };
	assert_int_equal(winapi_driver_call(driver, &call), -EFAULT);

	/* The same connection, inside the pool: served. */
	memset(region.address, 0xa5, 4096);
	buffer = (struct winapi_call_buffer){ .kind = WINAPI_BUFFER_GPADL, .gpadl = region.gpadl,
					      .gpadl_offset = 0, .length = 4096 };
	assert_int_equal(winapi_driver_call(driver, &call), 0);

	/*
	 * The daemon counted the three, against this client alone: ours says 3, and the daemon
	 * logged three in all (a neighbour may have left, and taken its counters, by the time
	 * it would be asked).
	 */
	assert_int_equal(own_client_value(telemetry_path, "bad_buffers"), 3);
	assert_int_equal(emulator_log_count(&pmd, "names memory outside its pool"), 3);

	winapi_driver_close(driver);
	vmbus_device_close(device);

	assert_int_equal(finish_client(&neighbour, &report), 0);
	assert_int_equal(report.failed, 0);
	assert_int_equal(report.corrupted, 0);
	assert_int_equal(report.completed, 50000u);
}

static int driver_call(void *driver, struct winapi_call *call)
{
	return winapi_driver_call(driver, call);
}

static uint8_t raw_reply[WINAPI_MAX_INLINE_DATA];
static uint32_t raw_reply_length;

/* @call as it stands (api, version, lengths, buffers), with "hi" to send and room for any reply. */
static int raw_call(struct winapi_driver *driver, struct winapi_call call)
{
	static const uint8_t request[WINAPI_MAX_INLINE_DATA] = "hi";
	int rc;

	call.request_data = request;
	call.reply_data = raw_reply;
	call.reply_capacity = sizeof(raw_reply);
	call.timeout_ms = 60000;
	rc = winapi_driver_call(driver, &call);
	raw_reply_length = call.reply_length;
	return rc;
}

/*
 * The internal driver again, for requests liblowlat would refuse itself: the daemon answers
 * them from the host's API table, and its workers forward none of them.
 */
static void test_api_checks_before_host(void **state)
{
	struct vmbus_gpadl_region region;
	struct vmbus_device *device;
	struct winapi_driver *driver;
	struct winapi_api_table table;
	struct winapi_call_buffer buffer;
	struct winapi_call call;
	json_int_t forwarded;

	(void)state;
	assert_int_equal(vmbus_sim_connect(pmd.socket_path, 30000, &device), 0);
	assert_int_equal(vmbus_device_gpadl_region(device, VMBUS_GPADL_RECEIVE, &region), 0);
	assert_int_equal(winapi_driver_open(device, 0, &driver), 0);
	buffer = (struct winapi_call_buffer){ .kind = WINAPI_BUFFER_GPADL, .gpadl = region.gpadl, .length = 4096 };
	forwarded = forwarded_requests();
	assert_true(forwarded >= 0);

	/* An id the host does not serve, and a control id the protocol does not have. */
	call = (struct winapi_call){ .api_id = 999 };
	assert_int_equal(raw_call(driver, call), -EOPNOTSUPP);
	call.api_id = WINAPI_API_UNSUBSCRIBE + 1;
	assert_int_equal(raw_call(driver, call), -EOPNOTSUPP);
	/* Written for another major of echo. */
	call = (struct winapi_call){ .api_id = WINAPI_API_ECHO, .api_version = 0x200, .request_length = 2 };
	assert_int_equal(raw_call(driver, call), -EPROTONOSUPPORT);
	/* A buffer to echo, which takes none; to LIST, likewise; past BUFFER_TEST's 16 bytes. */
	call = (struct winapi_call){ .api_id = WINAPI_API_ECHO, .request_length = 2, .buffers = &buffer,
				     .buffer_count = 1 };
	assert_int_equal(raw_call(driver, call), -EBADMSG);
	call.api_id = WINAPI_API_LIST;
	assert_int_equal(raw_call(driver, call), -EBADMSG);
	call.api_id = WINAPI_API_BUFFER_TEST;
	call.request_length = 17;
	assert_int_equal(raw_call(driver, call), -EBADMSG);
	assert_int_equal(forwarded_requests(), forwarded);
	assert_int_equal(own_client_value(telemetry_path, "rejected"), 6);

	/* Another minor of the same major is the host's to serve; so is LIST, for anyone. */
	call = (struct winapi_call){ .api_id = WINAPI_API_ECHO, .api_version = 0x1ff, .request_length = 2 };
	assert_int_equal(raw_call(driver, call), 0);
	assert_int_equal(raw_reply_length, 2);
	assert_memory_equal(raw_reply, "hi", 2);
	assert_int_equal(winapi_api_table_fetch(&table, driver_call, driver), 0);
	assert_true(table.listed);
	assert_non_null(winapi_api_table_find_name(&table, "winapi.perf_test"));
	winapi_api_table_free(&table);
	assert_true(forwarded_requests() >= forwarded + 2);

	winapi_driver_close(driver);
	vmbus_device_close(device);
}

static void test_telemetry_v2(void **state)
{
	json_t *value = NULL;
	char command[512];
	int status;

	(void)state;
	assert_int_equal(pmd_telemetry_query(telemetry_path, "/", NULL, 30000, &value), 0);
	assert_true(json_is_array(value));
	assert_true(json_array_size(value) >= 7);
	json_decref(value);
	assert_int_equal(pmd_telemetry_query(telemetry_path, "/info", NULL, 30000, &value), 0);
	assert_int_equal(json_integer_value(json_object_get(value, "pid")), pmd.pid);
	json_decref(value);
	assert_int_equal(pmd_telemetry_query(telemetry_path, "/winapi/stats", NULL, 30000, &value), 0);
	assert_int_equal(json_integer_value(json_object_get(value, "workers")), 2);
	assert_true(json_integer_value(json_object_get(value, "clients_attached")) > 0);
	json_decref(value);
	assert_int_equal(pmd_telemetry_query(telemetry_path, "/winapi/client", "999999", 30000, &value), -ENOTSUP);

	/* winapi-pmd --stats reads the same socket and prints JSON that parses. */
	snprintf(command, sizeof(command), "%s/winapi-pmd --stats --json --file-prefix %s > %s/stats.json",
		 getenv("WINAPI_BIN_DIR") != NULL ? getenv("WINAPI_BIN_DIR") : "build/bin", prefix, pmd.directory);
	status = system(command);
	assert_int_equal(status, 0);
	snprintf(command, sizeof(command), "%s/stats.json", pmd.directory);
	value = json_load_file(command, 0, NULL);
	assert_non_null(value);
	assert_int_equal(json_array_size(json_object_get(value, "workers")), 2);
	json_decref(value);
	unlink(command);

	/* DPDK's own client speaks to it unchanged (skipped only where it cannot be had). */
	snprintf(command, sizeof(command), "tests/e2e/dpdk_telemetry.sh %s /winapi/workers > %s/stock.out", prefix,
		 pmd.directory);
	status = system(command);
	if (WEXITSTATUS(status) == 77) {
		fprintf(stderr, "note: DPDK's dpdk-telemetry.py is not available here; not run\n");
	} else {
		assert_int_equal(WEXITSTATUS(status), 0);
		snprintf(command, sizeof(command), "grep -q client_ring_full %s/stock.out", pmd.directory);
		assert_int_equal(system(command), 0);
	}
	snprintf(command, sizeof(command), "%s/stock.out", pmd.directory);
	unlink(command);
}

/*
 * Connections that never say hello must not hold the daemon: with 20 of them open (more than
 * it keeps waiting), a real client still attaches within its own timeout and is served.
 */
static void test_silent_connections(void **state)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	winapi_handle_t handle;
	char output[64];
	int silent[20];
	unsigned int i;

	(void)state;
	strcpy(address.sun_path, pmd.socket_path);
	for (i = 0; i < 20; i++) {
		silent[i] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		assert_true(silent[i] >= 0);
		assert_int_equal(connect(silent[i], (struct sockaddr *)&address, sizeof(address)), 0);
	}
	handle = winapi_init();
	assert_non_null(handle);
	assert_int_equal(winapi_echo(handle, "past the silent ones", output, sizeof(output)), 0);
	assert_string_equal(output, "past the silent ones");
	winapi_cleanup(handle);
	for (i = 0; i < 20; i++)
		close(silent[i]);
}

/* ---- runtime directories and sockets: who may own them (issue 18, item 7) ---- */

#define NOBODY ((uid_t)65534)  /* a client of another user */
#define STRANGER ((uid_t)54321) /* a third user, who plants sockets */

static const char *bin_dir(void)
{
	return getenv("WINAPI_BIN_DIR") != NULL ? getenv("WINAPI_BIN_DIR") : "build/bin";
}

/* The daemon's own: the instance directory 0750, the sockets 0660, all ours. */
static void test_runtime_modes(void **state)
{
	char directory[108];
	struct stat status;

	(void)state;
	assert_int_equal(winapi_pmd_runtime_dir(prefix, false, directory, sizeof(directory)), 0);
	assert_int_equal(lstat(directory, &status), 0);
	assert_true(S_ISDIR(status.st_mode));
	assert_int_equal(status.st_mode & 07777, 0750);
	assert_int_equal(status.st_uid, geteuid());
	assert_int_equal(lstat(telemetry_path, &status), 0);
	assert_true(S_ISSOCK(status.st_mode));
	assert_int_equal(status.st_mode & 07777, 0660);
	assert_int_equal(lstat(pmd.socket_path, &status), 0);
	assert_true(S_ISSOCK(status.st_mode));
	assert_int_equal(status.st_mode & 07777, 0660);
	assert_int_equal(status.st_uid, geteuid());
}

/* winapi-pmd with --file-prefix @name exits 2 before it touches a device, saying @expected. */
static void assert_prefix_refused(const char *name, const char *expected)
{
	char out_path[160], command[1024], message[512] = "";
	FILE *out;
	int status;

	snprintf(out_path, sizeof(out_path), "%s/refused.out", pmd.directory);
	snprintf(command, sizeof(command), "%s/winapi-pmd --backend sim --sim-socket %s/none --file-prefix %s 2> %s",
		 bin_dir(), pmd.directory, name, out_path);
	status = system(command);
	out = fopen(out_path, "r");
	assert_non_null(out);
	(void)!fgets(message, sizeof(message), out);
	fclose(out);
	unlink(out_path);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 2 || strstr(message, expected) == NULL)
		fail_msg("--file-prefix %s: status %d, \"%s\"; wanted 2 and \"%s\"", name, status, message, expected);
}

/* A runtime directory that is a symbolic link, writable by others or another user's is refused. */
static void test_runtime_dir_refused(void **state)
{
	char name[96], path[108], target[128];

	(void)state;
	snprintf(target, sizeof(target), "%s/elsewhere", pmd.directory);
	assert_int_equal(mkdir(target, 0750), 0);
	snprintf(name, sizeof(name), "%s-link", prefix);
	assert_int_equal(winapi_pmd_runtime_dir(name, false, path, sizeof(path)), 0);
	assert_int_equal(symlink(target, path), 0);
	assert_prefix_refused(name, "symbolic link");
	unlink(path);
	rmdir(target); /* empty: nothing was made through the link */

	snprintf(name, sizeof(name), "%s-open", prefix);
	assert_int_equal(winapi_pmd_runtime_dir(name, false, path, sizeof(path)), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, 0770), 0);
	assert_prefix_refused(name, "writable by its group or others");
	rmdir(path);

	snprintf(name, sizeof(name), "%s-theirs", prefix);
	assert_int_equal(winapi_pmd_runtime_dir(name, false, path, sizeof(path)), 0);
	assert_int_equal(mkdir(path, 0750), 0);
	assert_int_equal(chown(path, STRANGER, STRANGER), 0);
	assert_prefix_refused(name, "belongs to another user");
	rmdir(path);
}

/* In a child: become @uid (with group @group as a supplementary one) and try winapi_init(). */
static pid_t start_client_as(uid_t uid, gid_t group, const char *runtime_dir)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		gid_t groups[1] = { group };
		winapi_handle_t handle;

		if (runtime_dir != NULL) {
			setenv("XDG_RUNTIME_DIR", runtime_dir, 1);
			unsetenv("WINAPI_PMD_SOCKET");
		}
		setenv("WINAPI_TIMEOUT_MS", "1000", 1);
		if (setgroups(1, groups) != 0 || setgid(uid) != 0 || setuid(uid) != 0)
			_exit(3);
		handle = winapi_init();
		if (handle != NULL)
			winapi_cleanup(handle);
		_exit(handle != NULL ? 0 : 1);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * A client without WINAPI_PMD_SOCKET looks in its own runtime directory first: a socket
 * another user planted there (as anyone may under /tmp/dpdk) is skipped, never connected to;
 * one of its own is used.
 */
static void test_client_skips_foreign_socket(void **state)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	char runtime[64] = "/tmp/pmd-e2e-xdg.XXXXXX", path[160];
	int listener, connection;

	(void)state;
	assert_non_null(mkdtemp(runtime));
	assert_int_equal(chmod(runtime, 0755), 0);
	assert_int_equal(chown(runtime, NOBODY, NOBODY), 0);
	snprintf(path, sizeof(path), "%s/dpdk", runtime);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(chown(path, NOBODY, NOBODY), 0);
	snprintf(path, sizeof(path), "%s/dpdk/%s", runtime, WINAPI_PMD_DEFAULT_PREFIX);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(chown(path, NOBODY, NOBODY), 0);
	assert_true(strlen(path) + sizeof(WINAPI_PMD_CLIENT_SOCKET) + 1 <= sizeof(address.sun_path));
	strcat(strcat(strcpy(address.sun_path, path), "/"), WINAPI_PMD_CLIENT_SOCKET);
	listener = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(listener >= 0);
	assert_int_equal(bind(listener, (struct sockaddr *)&address, sizeof(address)), 0);
	assert_int_equal(listen(listener, 4), 0);
	assert_int_equal(chmod(address.sun_path, 0777), 0);

	assert_int_equal(chown(address.sun_path, STRANGER, STRANGER), 0);
	assert_int_equal(wait_exit(start_client_as(NOBODY, NOBODY, runtime)), 1);
	connection = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (connection >= 0)
		fail_msg("the client connected to a socket of uid %u", (unsigned int)STRANGER);

	/* The control: its own socket is used (and says nothing, so the attach fails). */
	assert_int_equal(chown(address.sun_path, NOBODY, NOBODY), 0);
	assert_int_equal(wait_exit(start_client_as(NOBODY, NOBODY, runtime)), 1);
	connection = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	assert_true(connection >= 0);
	close(connection);

	close(listener);
	unlink(address.sun_path);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/dpdk", runtime);
	rmdir(path);
	rmdir(runtime);
}

/*
 * On the sim backend every client maps the emulator's whole guest RAM, other clients' pools
 * included: a client of another user is refused (-EPERM), even one the socket lets in.
 */
static void test_sim_refuses_other_users(void **state)
{
	(void)state;
	/* The socket is 0660 root:root in the test's 0700 directory: let the group through. */
	assert_int_equal(chmod(pmd.directory, 0710), 0);
	assert_int_equal(wait_exit(start_client_as(NOBODY, 0, NULL)), 1);
	assert_int_equal(chmod(pmd.directory, 0700), 0);
	assert_int_equal(emulator_wait_log(&pmd, "client of uid 65534 refused: on the sim backend"), 0);
}

static void test_sigterm_then_restart(void **state)
{
	winapi_handle_t handle;
	char output[64];

	(void)state;
	handle = winapi_init();
	assert_non_null(handle);
	assert_int_equal(winapi_echo(handle, "before", output, sizeof(output)), 0);
	assert_int_equal(emulator_stop(&pmd, SIGTERM), 0); /* exit status 0: a clean stop */
	assert_int_equal(winapi_echo(handle, "after", output, sizeof(output)), -ENOTCONN);
	winapi_cleanup(handle);

	/* A new daemon on the same paths (the emulator took the device back): attach again. */
	assert_int_equal(start_pmd(), 0);
	handle = winapi_init();
	assert_non_null(handle);
	assert_int_equal(winapi_echo(handle, "again", output, sizeof(output)), 0);
	assert_string_equal(output, "again");
	winapi_cleanup(handle);
}

/* ---- a daemon with a policy, on a host of its own ---- */

static struct emulator policy_host;
static struct emulator guarded;
static char guarded_prefix[64];
static char guarded_telemetry[108];
static char policy_path[128];

/* Write @text (a format with the test's uid for each %u) to @path. 0 or -1. */
static int write_policy(const char *path, const char *text)
{
	FILE *file = fopen(path, "w");

	if (file == NULL)
		return -1;
	fprintf(file, text, (unsigned int)getuid(), (unsigned int)getuid());
	return fclose(file) == 0 ? 0 : -1;
}

static int policy_setup(void **state)
{
	const char *const host_arguments[] = { "--profile", "linux-6.12", NULL };
	const char *const arguments[] = { "--lcores", "0", "--backend", "sim", "--sim-socket", policy_host.socket_path,
					  "--file-prefix", guarded_prefix, "--pool-size", "8", "--log-level", "info",
					  "--policy", policy_path, NULL };

	(void)state;
	if (emulator_prepare_program(&policy_host, "pmd-e2e-policy-host", "winapi-host-sim") != 0 ||
	    emulator_start(&policy_host, host_arguments) != 0 ||
	    emulator_prepare_program(&guarded, "pmd-e2e-guarded", "winapi-pmd") != 0)
		return -1;
	snprintf(guarded_prefix, sizeof(guarded_prefix), "pmd-e2e-guarded-%d", (int)getpid());
	snprintf(policy_path, sizeof(policy_path), "%s/policy", guarded.directory);
	if (winapi_pmd_socket_path(guarded_prefix, false, WINAPI_PMD_TELEMETRY_SOCKET, guarded_telemetry,
				   sizeof(guarded_telemetry)) != 0 ||
	    write_policy(policy_path, "# pmd_e2e: echo yes, perf_test no, the rest by default (no)\n"
				      "allow uid:%u winapi.echo\n"
				      "deny uid:%u winapi.perf_test\n") != 0)
		return -1;
	setenv("WINAPI_PMD_SOCKET", guarded.socket_path, 1);
	return emulator_start(&guarded, arguments);
}

static int policy_teardown(void **state)
{
	(void)state;
	unlink(policy_path);
	stop_daemon(&guarded, &policy_host, guarded_prefix);
	return 0;
}

static void test_policy_allows_and_denies(void **state)
{
	winapi_perf_test_params_t params = { .test_type = WINAPI_PERF_LATENCY, .iterations = 1 };
	winapi_perf_test_result_t perf;
	winapi_buffer_test_result_t result;
	winapi_api_info_t apis[8];
	winapi_buffer_t buffer;
	winapi_handle_t handle;
	char output[64], line[256];

	(void)state;
	handle = winapi_init();
	assert_non_null(handle);
	assert_int_equal(winapi_echo(handle, "allowed", output, sizeof(output)), 0);
	assert_string_equal(output, "allowed");
	/* No rule names LIST: anyone may read the table all the same. */
	assert_true(winapi_api_list(handle, apis, 8) >= 3);

	/* Denied by line 3, twice: counted twice, logged once. */
	assert_int_equal(winapi_perf_test(handle, &params, NULL, 0, &perf), -EACCES);
	assert_int_equal(winapi_perf_test(handle, &params, NULL, 0, &perf), -EACCES);
	assert_int_equal(own_client_value(guarded_telemetry, "denied"), 2);
	snprintf(line, sizeof(line), "uid %u) denied winapi.perf_test: policy %s:3", (unsigned int)getuid(),
		 policy_path);
	assert_int_equal(emulator_log_count(&guarded, "audit: client"), 1);
	assert_int_equal(emulator_log_count(&guarded, line), 1);

	/* No rule for BUFFER_TEST: a policy denies what it does not allow. */
	assert_int_equal(winapi_alloc_buffer(&buffer, 4096), 0);
	assert_int_equal(winapi_buffer_test(handle, &buffer, 1, WINAPI_BUFFER_OP_WRITE, 0x12345678u, &result), -EACCES);
	assert_int_equal(emulator_log_count(&guarded, "denied winapi.buffer_test: no rule matched"), 1);
	assert_int_equal(own_client_value(guarded_telemetry, "denied"), 3);
	winapi_free_buffer(&buffer);

	/* What is allowed still is. */
	assert_int_equal(winapi_echo(handle, "still", output, sizeof(output)), 0);
	winapi_cleanup(handle);
}

/* A policy the daemon cannot read stops it before it touches the device: status 2, file:line. */
static void test_policy_malformed_exits_2(void **state)
{
	char bad_path[160], out_path[160], command[1024], message[512] = "";
	FILE *out;
	int status;

	(void)state;
	snprintf(bad_path, sizeof(bad_path), "%s/bad-policy", guarded.directory);
	snprintf(out_path, sizeof(out_path), "%s/bad-policy.out", guarded.directory);
	assert_int_equal(write_policy(bad_path, "allow uid:%u winapi.echo\n\nallow uid:%u winapi.echo extra\n"), 0);
	snprintf(command, sizeof(command), "%s/winapi-pmd --backend sim --sim-socket %s --file-prefix %s-bad "
		 "--policy %s 2> %s", getenv("WINAPI_BIN_DIR") != NULL ? getenv("WINAPI_BIN_DIR") : "build/bin",
		 policy_host.socket_path, guarded_prefix, bad_path, out_path);
	status = system(command);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
	out = fopen(out_path, "r");
	assert_non_null(out);
	assert_non_null(fgets(message, sizeof(message), out));
	fclose(out);
	snprintf(command, sizeof(command), "%s:3: expected 'allow|deny SUBJECT API'", bad_path);
	if (strstr(message, command) == NULL)
		fail_msg("winapi-pmd said \"%s\", not \"%s\"", message, command);
	unlink(bad_path);
	unlink(out_path);
}

/* ---- fair share in bytes: one worker, so that every client shares its channel ---- */

#define FAIR_POOL_MIB 2
#define HEAVY_DEPTH 256u
#define BYSTANDER_CALLS 400u

static struct emulator fair_host;
static struct emulator fair_pmd;
static char fair_prefix[64];
static char fair_telemetry[108];

static int fair_setup(void **state)
{
	const char *const host_arguments[] = { "--profile", "linux-6.12", NULL };
	const char *const arguments[] = { "--lcores", "0", "--backend", "sim", "--sim-socket", fair_host.socket_path,
					  "--file-prefix", fair_prefix, "--pool-size", "2", "--log-level", "info",
					  NULL };

	(void)state;
	if (emulator_prepare_program(&fair_host, "pmd-e2e-fair-host", "winapi-host-sim") != 0 ||
	    emulator_start(&fair_host, host_arguments) != 0 ||
	    emulator_prepare_program(&fair_pmd, "pmd-e2e-fair", "winapi-pmd") != 0)
		return -1;
	snprintf(fair_prefix, sizeof(fair_prefix), "pmd-e2e-fair-%d", (int)getpid());
	if (winapi_pmd_socket_path(fair_prefix, false, WINAPI_PMD_TELEMETRY_SOCKET, fair_telemetry,
				   sizeof(fair_telemetry)) != 0)
		return -1;
	setenv("WINAPI_PMD_SOCKET", fair_pmd.socket_path, 1);
	/* The default deadlines, the daemon's and the bystander's: none of its calls may pass them. */
	unsetenv("WINAPI_TIMEOUT_MS");
	return emulator_start(&fair_pmd, arguments);
}

static int fair_teardown(void **state)
{
	(void)state;
	stop_daemon(&fair_pmd, &fair_host, fair_prefix);
	return 0;
}

/* A client that keeps HEAVY_DEPTH buffer WRITEs in flight, each naming its whole pool. */
struct heavy_client {
	pthread_t thread;
	struct vmbus_device *device;
	struct winapi_driver *driver;
	struct winapi_driver_queue *queue;
	struct vmbus_gpadl_region region;
	uint8_t replies[HEAVY_DEPTH][sizeof(struct winapi_buffer_test_reply)];
	uint64_t completed;
	uint64_t failed;
	int first_error;
};

static bool heavy_stop;

static void *heavy_main(void *argument)
{
	struct heavy_client *heavy = argument;
	const struct winapi_buffer_test_request request = { .operation = WINAPI_BUFFER_OP_WRITE, .pattern = 0x5a17u };
	const struct winapi_call_buffer buffer = { .kind = WINAPI_BUFFER_GPADL, .gpadl = heavy->region.gpadl,
						   .gpadl_offset = 0, .length = heavy->region.size };
	struct winapi_call_completion completions[HEAVY_DEPTH];
	unsigned int free_slots[HEAVY_DEPTH], free_count = HEAVY_DEPTH, in_flight = 0, i;
	uint8_t request_bytes[sizeof(request)];
	bool stopping = false;
	int count;

	winapi_buffer_test_request_encode(&request, request_bytes);
	for (i = 0; i < HEAVY_DEPTH; i++)
		free_slots[i] = i;
	while (!stopping || in_flight != 0) {
		stopping = __atomic_load_n(&heavy_stop, __ATOMIC_ACQUIRE);
		while (!stopping && free_count != 0) {
			unsigned int slot = free_slots[free_count - 1];
			struct winapi_call call = {
				.api_id = WINAPI_API_BUFFER_TEST,
				.request_data = request_bytes,
				.request_length = sizeof(request_bytes),
				.reply_data = heavy->replies[slot],
				.reply_capacity = sizeof(heavy->replies[slot]),
				.buffers = &buffer,
				.buffer_count = 1,
				.timeout_ms = 60000,
			};

			if (winapi_driver_queue_add(heavy->queue, &call, (void *)(uintptr_t)slot) != 0)
				break;
			free_count--;
			in_flight++;
		}
		(void)winapi_driver_queue_submit(heavy->queue); /* -EAGAIN: the ring is full, reap first */
		count = winapi_driver_queue_reap(heavy->queue, completions, HEAVY_DEPTH, 1, 100);
		for (i = 0; count > 0 && i < (unsigned int)count; i++) {
			free_slots[free_count++] = (unsigned int)(uintptr_t)completions[i].user_data;
			in_flight--;
			/* Atomic: the test's thread watches them for the first answer. */
			if (completions[i].status == 0) {
				__atomic_fetch_add(&heavy->completed, 1, __ATOMIC_RELAXED);
			} else {
				if (__atomic_fetch_add(&heavy->failed, 1, __ATOMIC_RELAXED) == 0)
					heavy->first_error = completions[i].status;
			}
		}
	}
	return NULL;
}

static void heavy_attach(struct heavy_client *heavy)
{
	memset(heavy, 0, sizeof(*heavy));
	assert_int_equal(vmbus_sim_connect(fair_pmd.socket_path, 30000, &heavy->device), 0);
	assert_int_equal(vmbus_device_gpadl_region(heavy->device, VMBUS_GPADL_RECEIVE, &heavy->region), 0);
	assert_int_equal(heavy->region.size, (size_t)FAIR_POOL_MIB << 20);
	assert_int_equal(winapi_driver_open(heavy->device, 0, &heavy->driver), 0);
	assert_int_equal(winapi_driver_queue_create(heavy->driver, HEAVY_DEPTH, 60000, &heavy->queue), 0);
}

static void heavy_detach(struct heavy_client *heavy)
{
	winapi_driver_queue_destroy(heavy->queue);
	winapi_driver_close(heavy->driver);
	vmbus_device_close(heavy->device);
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The bystander's echo p99, in ns, over BYSTANDER_CALLS calls; every call must succeed. */
static uint64_t bystander_p99(winapi_handle_t handle)
{
	static uint64_t latencies[BYSTANDER_CALLS];
	struct timespec start, end;
	char output[16];
	unsigned int i;
	int rc;

	for (i = 0; i < BYSTANDER_CALLS; i++) {
		clock_gettime(CLOCK_MONOTONIC, &start);
		rc = winapi_echo(handle, "bystander", output, sizeof(output));
		clock_gettime(CLOCK_MONOTONIC, &end);
		if (rc != 0)
			fail_msg("bystander echo %u failed: %d", i, rc);
		latencies[i] = (uint64_t)(end.tv_sec - start.tv_sec) * 1000000000u + (uint64_t)end.tv_nsec -
			       (uint64_t)start.tv_nsec;
	}
	qsort(latencies, BYSTANDER_CALLS, sizeof(latencies[0]), compare_u64);
	return latencies[BYSTANDER_CALLS * 99 / 100];
}

/*
 * The host serves the channel's requests in order: counted in requests, two clients whose
 * every request names their pool kept 256 pools' worth of work ahead of each of a
 * bystander's echoes (seconds, then timeouts). Counted in bytes, each has at most a share of
 * twice a pool in flight, and the bystander waits for at most that much work.
 */
static void test_fair_share_in_bytes(void **state)
{
	static struct heavy_client heavy[2];
	uint64_t idle_p99, loaded_p99;
	winapi_handle_t handle;
	unsigned int i;

	(void)state;
	handle = winapi_init();
	assert_non_null(handle);
	/* Warm first: a fresh handle's first calls are slower (cold caches, a fresh table). */
	(void)bystander_p99(handle);
	idle_p99 = bystander_p99(handle);

	__atomic_store_n(&heavy_stop, false, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++) {
		heavy_attach(&heavy[i]);
		assert_int_equal(pthread_create(&heavy[i].thread, NULL, heavy_main, &heavy[i]), 0);
	}
	/* Until both have work at the host: the bystander must meet them there. */
	for (i = 0; i < 2; i++)
		while (__atomic_load_n(&heavy[i].completed, __ATOMIC_RELAXED) == 0 &&
		       __atomic_load_n(&heavy[i].failed, __ATOMIC_RELAXED) == 0)
			usleep(1000);
	loaded_p99 = bystander_p99(handle);
	__atomic_store_n(&heavy_stop, true, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++) {
		pthread_join(heavy[i].thread, NULL);
		heavy_detach(&heavy[i]);
		if (heavy[i].failed != 0)
			fail_msg("heavy client %u: %llu of its WRITEs failed, the first with %d", i,
				 (unsigned long long)heavy[i].failed, heavy[i].first_error);
		assert_true(heavy[i].completed > 0);
	}
	print_message("bystander echo p99: %llu ns idle, %llu ns beside two heavy clients (%.1fx); "
		      "they wrote %llu and %llu pools\n", (unsigned long long)idle_p99, (unsigned long long)loaded_p99,
		      (double)loaded_p99 / (double)idle_p99, (unsigned long long)heavy[0].completed,
		      (unsigned long long)heavy[1].completed);
	/*
	 * Not below 2 ms: among the spinning processes of make check-load, on 2 CPUs, a p99 of
	 * a few hundred microseconds measures the scheduler's time slices, not the daemon. Before
	 * shares in bytes it was 36 ms with half these clients' depth on a quiet machine.
	 */
	if (loaded_p99 > 10 * (idle_p99 > 2000000u ? idle_p99 : 2000000u))
		fail_msg("the bystander's echo p99 went from %llu ns to %llu ns beside two heavy clients",
			 (unsigned long long)idle_p99, (unsigned long long)loaded_p99);
	winapi_cleanup(handle);
}

/* Eight descriptors over the same pool name eight pools of host work: more than one is refused. */
static void test_request_bytes_capped(void **state)
{
	struct winapi_buffer_test_request request = { .operation = WINAPI_BUFFER_OP_WRITE };
	struct winapi_call_buffer buffers[2];
	uint8_t request_bytes[sizeof(request)], reply[64];
	struct winapi_call call = {
		.api_id = WINAPI_API_BUFFER_TEST,
		.request_data = request_bytes,
		.request_length = sizeof(request_bytes),
		.reply_data = reply,
		.reply_capacity = sizeof(reply),
		.buffers = buffers,
		.buffer_count = 2,
		.timeout_ms = 60000,
	};
	struct heavy_client client;
	unsigned int i;

	(void)state;
	winapi_buffer_test_request_encode(&request, request_bytes);
	heavy_attach(&client);
	for (i = 0; i < 2; i++)
		buffers[i] = (struct winapi_call_buffer){ .kind = WINAPI_BUFFER_GPADL, .gpadl = client.region.gpadl,
							  .gpadl_offset = 0, .length = client.region.size / 2 + 4096 };
	assert_int_equal(winapi_driver_call(client.driver, &call), -EFAULT);
	/* Half each, overlap or not: the pool's size in all is served. */
	buffers[1].length = buffers[0].length = client.region.size / 2;
	assert_int_equal(winapi_driver_call(client.driver, &call), 0);
	heavy_detach(&client);
}

/* ---- --max-clients-per-uid: root is exempt, so the daemon and its clients are nobody ---- */

#define CAPPED_SHARE 2u
#define CAPPED_WAIT_MS 30000

static struct emulator capped_host;
static struct emulator capped_pmd;
static char capped_prefix[64];
static char capped_runtime[64] = "/tmp/pmd-e2e-capped-xdg.XXXXXX"; /* the daemon's XDG_RUNTIME_DIR */
static char capped_skip[160];                                      /* why the test cannot run */

/*
 * On the sim backend the daemon serves only its own user and root, and root is not capped:
 * only a daemon of another user shows the cap. It needs what a user's daemon has: the
 * emulator's socket, and a runtime directory (for its telemetry socket) and a directory for
 * --socket that are its own. Not a memlock limit: on the sim backend its pools are the
 * emulator's guest RAM, which nobody locks.
 */
static int capped_start(void)
{
	const char *const host_arguments[] = { "--profile", "linux-6.12", NULL };
	const char *arguments[] = { "--lcores", "0", "--backend", "sim", "--sim-socket", capped_host.socket_path,
				    "--file-prefix", capped_prefix, "--pool-size", "2", "--max-clients-per-uid", "2",
				    "--group", NULL /* nobody's group, below */, "--log-level", "info", NULL };
	const char *saved_xdg = getenv("XDG_RUNTIME_DIR");
	const struct passwd *user = getpwuid(NOBODY);
	const struct group *group;
	char xdg_copy[256] = "";
	int rc;

	if (geteuid() != 0) {
		snprintf(capped_skip, sizeof(capped_skip), "runs as uid %u: only root can run a daemon and its "
			 "clients as another user", (unsigned int)geteuid());
		return 0;
	}
	group = user != NULL ? getgrgid(user->pw_gid) : NULL;
	if (group == NULL) {
		snprintf(capped_skip, sizeof(capped_skip), "no user %u with a named group", (unsigned int)NOBODY);
		return 0;
	}
	arguments[13] = group->gr_name;
	if (mkdtemp(capped_runtime) == NULL || chown(capped_runtime, NOBODY, user->pw_gid) != 0)
		return -1;
	if (emulator_prepare_program(&capped_host, "pmd-e2e-capped-host", "winapi-host-sim") != 0 ||
	    emulator_start(&capped_host, host_arguments) != 0)
		return -1;
	/* The daemon (nobody) may reach the emulator's socket; the rest of its directory stays the test's. */
	if (chmod(capped_host.directory, 0711) != 0 || chown(capped_host.socket_path, NOBODY, user->pw_gid) != 0)
		return -1;
	if (emulator_prepare_program(&capped_pmd, "pmd-e2e-capped", "winapi-pmd") != 0 ||
	    chown(capped_pmd.directory, NOBODY, user->pw_gid) != 0)
		return -1;
	snprintf(capped_prefix, sizeof(capped_prefix), "pmd-e2e-capped-%d", (int)getpid());
	capped_pmd.uid = NOBODY;
	capped_pmd.gid = user->pw_gid;
	setenv("WINAPI_TRANSPORT", "pmd", 1);
	setenv("WINAPI_PMD_SOCKET", capped_pmd.socket_path, 1);

	/* Only the daemon gets it: in the test it would move the sockets liblowlat looks for. */
	if (saved_xdg != NULL)
		snprintf(xdg_copy, sizeof(xdg_copy), "%s", saved_xdg);
	setenv("XDG_RUNTIME_DIR", capped_runtime, 1);
	rc = emulator_start(&capped_pmd, arguments);
	if (saved_xdg != NULL)
		setenv("XDG_RUNTIME_DIR", xdg_copy, 1);
	else
		unsetenv("XDG_RUNTIME_DIR");
	return rc;
}

static int capped_teardown(void **state)
{
	char path[160];

	(void)state;
	if (capped_skip[0] != '\0')
		return 0;
	/* SIGTERM first: a daemon that stops cleanly removes its runtime directory itself. */
	emulator_stop(&capped_pmd, SIGTERM);
	emulator_cleanup(&capped_pmd);
	emulator_cleanup(&capped_host);
	snprintf(path, sizeof(path), "%s/dpdk/%s/%s", capped_runtime, capped_prefix, WINAPI_PMD_TELEMETRY_SOCKET);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dpdk/%s", capped_runtime, capped_prefix);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/dpdk", capped_runtime);
	rmdir(path);
	rmdir(capped_runtime);
	return 0;
}

static int capped_setup(void **state)
{
	if (capped_start() == 0)
		return 0;
	/* cmocka tears down no group whose setup failed. */
	capped_teardown(state);
	return -1;
}

/* A client process of nobody; while attached, it holds its handle until told to leave. */
struct capped_client {
	pid_t pid;
	int result_fd; /* its answer: 0 (attached, and echoed), or -errno */
	int leave_fd;  /* a byte: it leaves */
};

static void capped_client_start(struct capped_client *client)
{
	int result_pipe[2], leave_pipe[2];
	pid_t test = getpid();

	assert_int_equal(pipe(result_pipe), 0);
	assert_int_equal(pipe(leave_pipe), 0);
	client->pid = fork();
	assert_true(client->pid >= 0);
	if (client->pid == 0) {
		winapi_handle_t handle;
		char output[64], byte;
		int result;

		close(result_pipe[0]);
		close(leave_pipe[1]);
		if (setgroups(1, &capped_pmd.gid) != 0 || setresgid(capped_pmd.gid, capped_pmd.gid, capped_pmd.gid) != 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) != 0)
			_exit(3);
		/* Clients started later hold its pipe's other end too: the test's death ends it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != test)
			_exit(4);
		setenv("WINAPI_TIMEOUT_MS", "30000", 1);
		handle = winapi_init();
		result = handle == NULL ? -errno : winapi_echo(handle, "capped", output, sizeof(output));
		if (result == 0 && strcmp(output, "capped") != 0)
			result = -EBADMSG;
		(void)!write(result_pipe[1], &result, sizeof(result));
		if (handle != NULL) {
			(void)!read(leave_pipe[0], &byte, 1);
			winapi_cleanup(handle);
		}
		_exit(0);
	}
	close(result_pipe[1]);
	close(leave_pipe[0]);
	client->result_fd = result_pipe[0];
	client->leave_fd = leave_pipe[1];
}

/* Its answer; -ETIME if none came in time (or it died without one). */
static int capped_client_result(const struct capped_client *client)
{
	struct pollfd answer = { .fd = client->result_fd, .events = POLLIN };
	int result;

	if (poll(&answer, 1, 2 * CAPPED_WAIT_MS) != 1 ||
	    read(client->result_fd, &result, sizeof(result)) != (ssize_t)sizeof(result))
		return -ETIME;
	return result;
}

/* Tell it to leave and reap it: 0 if it exited by itself in time. */
static int capped_client_finish(struct capped_client *client)
{
	int status, waited_ms;

	(void)!write(client->leave_fd, "", 1);
	close(client->leave_fd);
	close(client->result_fd);
	for (waited_ms = 0; waited_ms < CAPPED_WAIT_MS; waited_ms += 10) {
		if (waitpid(client->pid, &status, WNOHANG) == client->pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
		sleep_ms(10);
	}
	kill(client->pid, SIGKILL);
	waitpid(client->pid, &status, 0);
	return -1;
}

static void test_clients_per_uid_capped(void **state)
{
	struct capped_client held[CAPPED_SHARE], extra, again;
	char line[160];
	unsigned int i;
	int result, waited_ms;

	(void)state;
	if (capped_skip[0] != '\0') {
		print_message("skipped: %s\n", capped_skip);
		skip();
	}
	for (i = 0; i < CAPPED_SHARE; i++) {
		capped_client_start(&held[i]);
		assert_int_equal(capped_client_result(&held[i]), 0);
	}
	capped_client_start(&extra);
	assert_int_equal(capped_client_result(&extra), -EUSERS);
	assert_int_equal(capped_client_finish(&extra), 0);
	snprintf(line, sizeof(line), "client of uid %u refused: it has %u clients of its %u (--max-clients-per-uid)",
		 (unsigned int)NOBODY, CAPPED_SHARE, CAPPED_SHARE);
	assert_int_equal(emulator_wait_log(&capped_pmd, line), 0);

	/* The daemon frees the slot once it sees the client go, which takes it a moment. */
	assert_int_equal(capped_client_finish(&held[0]), 0);
	for (waited_ms = 0;; waited_ms += 50) {
		capped_client_start(&again);
		result = capped_client_result(&again);
		if ((result != -EUSERS && result != -EDQUOT) || waited_ms >= CAPPED_WAIT_MS)
			break;
		assert_int_equal(capped_client_finish(&again), 0);
		sleep_ms(50);
	}
	if (result != 0)
		fail_msg("a client of uid %u got %d, not a slot, %d ms after one of its %u clients left",
			 (unsigned int)NOBODY, result, waited_ms, CAPPED_SHARE);
	assert_int_equal(capped_client_finish(&again), 0);
	assert_int_equal(capped_client_finish(&held[1]), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_four_clients_a_million_mixed),
		cmocka_unit_test(test_killed_client_reclaimed),
		cmocka_unit_test(test_evicted_client_pool_freed_at_exit),
		cmocka_unit_test(test_buffer_outside_pool_refused),
		cmocka_unit_test(test_api_checks_before_host),
		cmocka_unit_test(test_telemetry_v2),
		cmocka_unit_test(test_silent_connections),
		cmocka_unit_test(test_runtime_modes),
		cmocka_unit_test(test_runtime_dir_refused),
		cmocka_unit_test(test_client_skips_foreign_socket),
		cmocka_unit_test(test_sim_refuses_other_users),
		cmocka_unit_test(test_sigterm_then_restart),
	};

	const struct CMUnitTest policy_tests[] = {
		cmocka_unit_test(test_policy_allows_and_denies),
		cmocka_unit_test(test_policy_malformed_exits_2),
	};
	const struct CMUnitTest fair_tests[] = {
		cmocka_unit_test(test_fair_share_in_bytes),
		cmocka_unit_test(test_request_bytes_capped),
	};
	const struct CMUnitTest capped_tests[] = {
		cmocka_unit_test(test_clients_per_uid_capped),
	};
	int failed;

	signal(SIGPIPE, SIG_IGN);
	failed = cmocka_run_group_tests_name("pmd", tests, group_setup, group_teardown);
	failed += cmocka_run_group_tests_name("policy", policy_tests, policy_setup, policy_teardown);
	failed += cmocka_run_group_tests_name("fairness", fair_tests, fair_setup, fair_teardown);
	failed += cmocka_run_group_tests_name("per-uid", capped_tests, capped_setup, capped_teardown);
	return failed != 0;
}
