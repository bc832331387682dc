/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the telemetry server and client (lib/telemetry/telemetry.c): the
 * DPDK telemetry v2 wire format byte for byte, the built-in commands, hostile clients, the
 * socket file's life, who may hold a connection and for how long, and the client's checks
 * against scripted fake servers.
 * Nothing waits for a fixed time: every wait is a poll() with a generous bound that only a
 * broken server reaches.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <winapi_internal/telemetry.h>

/* Bound for any wait on the server; reached only when it is broken (so: a loaded machine never). */
#define WAIT_MS 30000
/* Another user, for the tests of who may do what (they run only as root, which can be it). */
#define OTHER_UID 65534

struct call_log {
	pthread_mutex_t lock;
	unsigned int calls;
	char command[PMD_TELEMETRY_MAX_COMMAND_LEN + 1];
	char params[PMD_TELEMETRY_MAX_INPUT_LEN + 1];
};

struct fixture {
	char directory[64];
	char path[96]; /* fits a sun_path */
	struct pmd_telemetry *telemetry;
	struct call_log log;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->directory, sizeof(f->directory), "/tmp/telemetry_ut.XXXXXX");
	if (mkdtemp(f->directory) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/dpdk_telemetry.v2", f->directory);
	pthread_mutex_init(&f->log.lock, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pmd_telemetry_destroy(f->telemetry);
	unlink(f->path);
	rmdir(f->directory);
	pthread_mutex_destroy(&f->log.lock);
	free(f);
	return 0;
}

/* ---- handlers ---- */

static int echo_handler(const char *command, const char *params, void *context, json_t **value)
{
	struct call_log *log = context;

	pthread_mutex_lock(&log->lock);
	log->calls++;
	snprintf(log->command, sizeof(log->command), "%s", command);
	snprintf(log->params, sizeof(log->params), "%s", params);
	pthread_mutex_unlock(&log->lock);
	*value = json_pack("{s:s, s:s}", "command", command, "params", params);
	return *value != NULL ? 0 : -ENOMEM;
}

/* Sets a value anyway: the server must release it (ASan reports the leak otherwise). */
static int fail_handler(const char *command, const char *params, void *context, json_t **value)
{
	(void)command;
	(void)params;
	(void)context;
	*value = json_string("must not be sent");
	return -EIO;
}

/* A string of <params> bytes: the answer {"/size":"..."} is 12 bytes longer. */
static int size_handler(const char *command, const char *params, void *context, json_t **value)
{
	size_t length = strtoul(params, NULL, 10);
	char *text = malloc(length + 1);

	(void)command;
	(void)context;
	if (text == NULL)
		return -ENOMEM;
	memset(text, 'a', length);
	text[length] = '\0';
	*value = json_string(text);
	free(text);
	return *value != NULL ? 0 : -ENOMEM;
}

/* [the requester's uid, whether it may see what uid <params> owns]. */
static int uid_handler(const char *command, const char *params, void *context, json_t **value)
{
	(void)command;
	(void)context;
	*value = json_pack("[I, b]", (json_int_t)pmd_telemetry_requester_uid(),
			   pmd_telemetry_requester_may_see((uid_t)strtoul(params, NULL, 10)));
	return *value != NULL ? 0 : -ENOMEM;
}

static unsigned int calls(struct fixture *f)
{
	unsigned int count;

	pthread_mutex_lock(&f->log.lock);
	count = f->log.calls;
	pthread_mutex_unlock(&f->log.lock);
	return count;
}

static void start_server(struct fixture *f, mode_t mode)
{
	assert_int_equal(pmd_telemetry_create(f->path, "test-1.0", &f->telemetry), 0);
	assert_int_equal(pmd_telemetry_register(f->telemetry, "/x/y", echo_handler, &f->log, "Echoes its params"), 0);
	assert_int_equal(pmd_telemetry_register(f->telemetry, "/fail", fail_handler, NULL, "Always fails"), 0);
	assert_int_equal(pmd_telemetry_register(f->telemetry, "/size", size_handler, NULL, "A string of N bytes"), 0);
	assert_int_equal(pmd_telemetry_register(f->telemetry, "/uid", uid_handler, NULL, "Who asks"), 0);
	assert_int_equal(pmd_telemetry_start(f->telemetry, mode, (gid_t)-1), 0);
}

/* ---- a raw client, to see the bytes ---- */

static int raw_connect(const char *path)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(address.sun_path, sizeof(address.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&address, sizeof(address)), 0);
	return fd;
}

/* One message, NUL-terminated; 0 when the server hung up. Fails the test if nothing comes. */
static ssize_t raw_receive(int fd, char *buffer, size_t size)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t length;

	assert_int_equal(poll(&pfd, 1, WAIT_MS), 1);
	length = recv(fd, buffer, size - 1, 0);
	assert_true(length >= 0);
	buffer[length] = '\0';
	return length;
}

static void raw_read_hello(int fd)
{
	char buffer[1024];

	assert_true(raw_receive(fd, buffer, sizeof(buffer)) > 0);
	assert_non_null(strstr(buffer, "\"max_output_len\":16384"));
}

static int raw_session(const char *path)
{
	int fd = raw_connect(path);

	raw_read_hello(fd);
	return fd;
}

/* Send @length bytes and expect exactly @expected back. */
static void raw_exchange(int fd, const void *message, size_t length, const char *expected)
{
	static char buffer[PMD_TELEMETRY_MAX_OUTPUT_LEN + 2];

	assert_int_equal(send(fd, message, length, MSG_NOSIGNAL), (ssize_t)length);
	assert_true(raw_receive(fd, buffer, sizeof(buffer)) > 0);
	assert_string_equal(buffer, expected);
}

static void raw_command(int fd, const char *message, const char *expected)
{
	raw_exchange(fd, message, strlen(message), expected);
}

static void expect_hang_up(int fd)
{
	char buffer[64];

	assert_int_equal(raw_receive(fd, buffer, sizeof(buffer)), 0);
}

static void assert_info_works(const char *path)
{
	json_t *value = NULL;

	assert_int_equal(pmd_telemetry_query(path, "/info", NULL, WAIT_MS, &value), 0);
	assert_string_equal(json_string_value(json_object_get(value, "version")), "test-1.0");
	json_decref(value);
}

/* ---- the server ---- */

static void test_hello(void **state)
{
	struct fixture *f = *state;
	char buffer[1024], expected[128];
	int fd;

	start_server(f, 0600);
	fd = raw_connect(f->path);
	assert_true(raw_receive(fd, buffer, sizeof(buffer)) > 0);
	/* DPDK's exact bytes: compact, in this key order. */
	snprintf(expected, sizeof(expected), "{\"version\":\"test-1.0\",\"pid\":%d,\"max_output_len\":16384}",
		 (int)getpid());
	assert_string_equal(buffer, expected);
	close(fd);
}

static void test_list(void **state)
{
	struct fixture *f = *state;
	json_t *value = NULL, *expected;

	start_server(f, 0600);
	assert_int_equal(pmd_telemetry_query(f->path, "/", NULL, WAIT_MS, &value), 0);
	expected = json_pack("[s, s, s, s, s, s, s]", "/", "/fail", "/help", "/info", "/size", "/uid", "/x/y");
	assert_true(json_equal(value, expected));
	json_decref(expected);
	json_decref(value);
}

static void test_info(void **state)
{
	struct fixture *f = *state;
	json_t *value = NULL, *expected;

	start_server(f, 0600);
	assert_int_equal(pmd_telemetry_query(f->path, "/info", NULL, WAIT_MS, &value), 0);
	expected = json_pack("{s:s, s:I, s:i}", "version", "test-1.0", "pid", (json_int_t)getpid(), "max_output_len",
			     16384);
	assert_true(json_equal(value, expected));
	json_decref(expected);
	json_decref(value);
}

static void test_help(void **state)
{
	struct fixture *f = *state;
	json_t *value = NULL;
	int fd;

	start_server(f, 0600);
	assert_int_equal(pmd_telemetry_query(f->path, "/help", "/x/y", WAIT_MS, &value), 0);
	assert_int_equal(json_object_size(value), 1);
	assert_string_equal(json_string_value(json_object_get(value, "/x/y")), "Echoes its params");
	json_decref(value);
	/* Without a parameter, DPDK answers /help's own text, as a string. */
	assert_int_equal(pmd_telemetry_query(f->path, "/help", NULL, WAIT_MS, &value), 0);
	assert_true(json_is_string(value));
	json_decref(value);
	assert_int_equal(pmd_telemetry_query(f->path, "/help", "/nope", WAIT_MS, &value), -ENOTSUP);
	fd = raw_session(f->path);
	raw_command(fd, "/help,/nope", "{\"/help\":null}");
	raw_command(fd, "/help,/info", "{\"/help\":{\"/info\":\"Shows the telemetry version, pid and max_output_len. "
		    "Takes no parameters\"}}");
	close(fd);
}

static void test_handler_params(void **state)
{
	struct fixture *f = *state;
	json_t *value = NULL, *expected;
	int fd;

	start_server(f, 0600);
	/* Everything after the first comma, commas included. */
	assert_int_equal(pmd_telemetry_query(f->path, "/x/y", "abc,def", WAIT_MS, &value), 0);
	expected = json_pack("{s:s, s:s}", "command", "/x/y", "params", "abc,def");
	assert_true(json_equal(value, expected));
	json_decref(expected);
	json_decref(value);
	pthread_mutex_lock(&f->log.lock);
	assert_int_equal(f->log.calls, 1);
	assert_string_equal(f->log.command, "/x/y");
	assert_string_equal(f->log.params, "abc,def");
	pthread_mutex_unlock(&f->log.lock);

	assert_int_equal(pmd_telemetry_query(f->path, "/x/y", NULL, WAIT_MS, &value), 0);
	assert_string_equal(json_string_value(json_object_get(value, "params")), "");
	json_decref(value);
	fd = raw_session(f->path);
	raw_command(fd, "/x/y,", "{\"/x/y\":{\"command\":\"/x/y\",\"params\":\"\"}}");
	raw_command(fd, "/x/y,,1", "{\"/x/y\":{\"command\":\"/x/y\",\"params\":\",1\"}}");
	raw_command(fd, "/x/y,\xc3\xa9", "{\"/x/y\":{\"command\":\"/x/y\",\"params\":\"\xc3\xa9\"}}");
	close(fd);
	assert_int_equal(calls(f), 5);
}

static void test_handler_error(void **state)
{
	struct fixture *f = *state;
	json_t *value = NULL;
	int fd;

	start_server(f, 0600);
	assert_int_equal(pmd_telemetry_query(f->path, "/fail", NULL, WAIT_MS, &value), -ENOTSUP);
	assert_null(value);
	fd = raw_session(f->path);
	raw_command(fd, "/fail,1", "{\"/fail\":null}");
	/* The connection goes on. */
	raw_command(fd, "/help,/fail", "{\"/help\":{\"/fail\":\"Always fails\"}}");
	close(fd);
}

static void test_unknown_command(void **state)
{
	struct fixture *f = *state;
	char long_command[80], expected[128];
	json_t *value = NULL;
	int fd;

	start_server(f, 0600);
	assert_int_equal(pmd_telemetry_query(f->path, "/nope", NULL, WAIT_MS, &value), -ENOTSUP);
	fd = raw_session(f->path);
	raw_command(fd, "/nope,1", "{\"/nope\":null}");
	raw_command(fd, "hello", "{\"hello\":null}");
	raw_command(fd, "/x", "{\"/x\":null}");
	raw_command(fd, "/x/y/", "{\"/x/y/\":null}");
	raw_command(fd, ",/info", "{\"\":null}");
	/* The key is escaped (DPDK would send broken JSON here). */
	raw_command(fd, "/a\"b\\", "{\"/a\\\"b\\\\\":null}");
	/* DPDK cuts the key to 56 bytes. */
	memset(long_command, 'a', 70);
	long_command[0] = '/';
	long_command[70] = '\0';
	snprintf(expected, sizeof(expected), "{\"%.56s\":null}", long_command);
	raw_command(fd, long_command, expected);
	/* ... but not inside a character: 55 bytes, then a 2-byte one across the cut. */
	memcpy(long_command + 55, "\xc3\xa9", 3);
	snprintf(expected, sizeof(expected), "{\"%.55s\":null}", long_command);
	raw_command(fd, long_command, expected);
	close(fd);
}

static void test_oversize_answer(void **state)
{
	struct fixture *f = *state;
	json_t *value = NULL;
	int fd;

	start_server(f, 0600);
	/* 16372 + 12 = 16384 bytes: exactly max_output_len, sent. */
	assert_int_equal(pmd_telemetry_query(f->path, "/size", "16372", WAIT_MS, &value), 0);
	assert_int_equal(json_string_length(value), 16372);
	json_decref(value);
	/* One byte more would be cut: null instead, and the connection goes on. */
	fd = raw_session(f->path);
	raw_command(fd, "/size,16373", "{\"/size\":null}");
	raw_command(fd, "/size,3", "{\"/size\":\"aaa\"}");
	close(fd);
	assert_int_equal(pmd_telemetry_query(f->path, "/size", "100000", WAIT_MS, &value), -ENOTSUP);
}

static void test_garbage(void **state)
{
	struct fixture *f = *state;
	static char huge[64 << 10];
	char expected[128];
	int bystander, fd;

	start_server(f, 0600);
	bystander = raw_session(f->path);
	fd = raw_session(f->path);

	/* NUL bytes: never run, answered null under the escaped text. */
	raw_exchange(fd, "/x/y\0zz", 7, "{\"/x/y\\u0000zz\":null}");
	raw_exchange(fd, "/x/y,a\0b", 8, "{\"/x/y\":null}");
	/* Parameters that are not UTF-8: null. */
	raw_command(fd, "/x/y,\xff\xfe", "{\"/x/y\":null}");
	/* 64 KiB: cut to 1 KiB on receipt, so neither run nor trusted. */
	memset(huge, 'A', sizeof(huge));
	snprintf(expected, sizeof(expected), "{\"%.56s\":null}", huge);
	raw_exchange(fd, huge, sizeof(huge), expected);
	memcpy(huge, "/x/y,", 5);
	raw_exchange(fd, huge, sizeof(huge), "{\"/x/y\":null}");
	/* One byte over the limit is refused, the limit itself is not. */
	raw_exchange(fd, huge, PMD_TELEMETRY_MAX_INPUT_LEN + 1, "{\"/x/y\":null}");
	assert_int_equal(calls(f), 0);
	{
		static char full[2 * PMD_TELEMETRY_MAX_INPUT_LEN];

		snprintf(full, sizeof(full), "{\"/x/y\":{\"command\":\"/x/y\",\"params\":\"%.*s\"}}",
			 PMD_TELEMETRY_MAX_INPUT_LEN - 5, huge + 5);
		raw_exchange(fd, huge, PMD_TELEMETRY_MAX_INPUT_LEN, full);
	}
	assert_int_equal(calls(f), 1);
	/* A command name that is not UTF-8 cannot be named in an answer: dropped. */
	assert_int_equal(send(fd, "\xff\xfe/x", 4, MSG_NOSIGNAL), 4);
	expect_hang_up(fd);
	close(fd);
	/* An empty message reads as the end of the session, as in DPDK. */
	fd = raw_session(f->path);
	assert_int_equal(send(fd, "", 0, MSG_NOSIGNAL), 0);
	expect_hang_up(fd);
	close(fd);

	/* The others never noticed. */
	raw_command(bystander, "/fail", "{\"/fail\":null}");
	close(bystander);
	assert_info_works(f->path);
}

static void test_two_clients_interleaved(void **state)
{
	struct fixture *f = *state;
	int a, b;

	start_server(f, 0600);
	a = raw_session(f->path);
	b = raw_session(f->path);
	assert_int_equal(send(a, "/x/y,from-a", 11, MSG_NOSIGNAL), 11);
	assert_int_equal(send(b, "/x/y,from-b", 11, MSG_NOSIGNAL), 11);
	/* Read in the other order: each answer waits on its own connection. */
	raw_exchange(b, "/x/y,again-b", 12, "{\"/x/y\":{\"command\":\"/x/y\",\"params\":\"from-b\"}}");
	raw_exchange(a, "/info", 5, "{\"/x/y\":{\"command\":\"/x/y\",\"params\":\"from-a\"}}");
	raw_command(b, "/nope", "{\"/x/y\":{\"command\":\"/x/y\",\"params\":\"again-b\"}}");
	close(b);
	/* a still has the /info answer queued, then goes on alone. */
	{
		char buffer[256];

		assert_true(raw_receive(a, buffer, sizeof(buffer)) > 0);
		assert_non_null(strstr(buffer, "{\"/info\":{\"version\":\"test-1.0\""));
	}
	raw_command(a, "/fail", "{\"/fail\":null}");
	close(a);
	assert_int_equal(calls(f), 3);
}

static void test_connect_and_close(void **state)
{
	struct fixture *f = *state;
	int i, fd;

	start_server(f, 0600);
	/* More than the client limit, none of them waiting for the hello. */
	for (i = 0; i < 2 * PMD_TELEMETRY_MAX_CLIENTS; i++)
		close(raw_connect(f->path));
	/* One that hangs up half way through a command. */
	fd = raw_session(f->path);
	assert_int_equal(send(fd, "/x/y,1", 6, MSG_NOSIGNAL), 6);
	close(fd);
	assert_info_works(f->path);
}

/*
 * Idle connections in every slot do not keep a query out: the least recently active one
 * makes room (DPDK closes the new one; a query then got -ECONNRESET).
 */
static void test_client_limit(void **state)
{
	struct fixture *f = *state;
	int clients[PMD_TELEMETRY_MAX_CLIENTS];
	int i;

	start_server(f, 0600);
	for (i = 0; i < PMD_TELEMETRY_MAX_CLIENTS; i++)
		clients[i] = raw_session(f->path);
	/* The first becomes the most recently active: the second is the one to go. */
	raw_command(clients[0], "/fail", "{\"/fail\":null}");
	assert_info_works(f->path);
	expect_hang_up(clients[1]);
	close(clients[1]);
	clients[1] = raw_session(f->path); /* into the slot the query left: nobody goes */
	raw_command(clients[0], "/fail", "{\"/fail\":null}");
	raw_command(clients[2], "/fail", "{\"/fail\":null}");
	raw_command(clients[PMD_TELEMETRY_MAX_CLIENTS - 1], "/fail", "{\"/fail\":null}");
	for (i = 0; i < PMD_TELEMETRY_MAX_CLIENTS; i++)
		close(clients[i]);
}

static uint64_t now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
}

/* A connection that sends nothing is closed after PMD_TELEMETRY_IDLE_TIMEOUT_MS, not before. */
static void test_idle_timeout(void **state)
{
	struct fixture *f = *state;
	uint64_t opened;
	int idle;

	start_server(f, 0600);
	opened = now_ms();
	idle = raw_session(f->path);
	expect_hang_up(idle);
	assert_true(now_ms() - opened >= PMD_TELEMETRY_IDLE_TIMEOUT_MS - 10); /* ms clock granularity */
	close(idle);
}

/* ---- as another user: a child process that becomes OTHER_UID ---- */

/* @body's exit status: 0 when its checks held, else which failed. */
static int run_as_other_user(int (*body)(const char *path), const char *path)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(setgid(OTHER_UID) == 0 && setuid(OTHER_UID) == 0 ? body(path) : 100);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* What the server sent next, in the child (no cmocka there); -1 if nothing came in time. */
static ssize_t child_receive(int fd, char *buffer, size_t size)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, WAIT_MS) == 1 ? recv(fd, buffer, size, 0) : -1;
}

static int child_session(const char *path)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	char hello[1024];

	snprintf(address.sun_path, sizeof(address.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0 ||
	    child_receive(fd, hello, sizeof(hello)) <= 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static bool child_answered(int fd)
{
	char answer[256];

	return send(fd, "/fail", 5, MSG_NOSIGNAL) == 5 && child_receive(fd, answer, sizeof(answer)) > 0;
}

/* One connection over the per-uid cap replaces this user's least recently active. */
static int hold_too_many(const char *path)
{
	int fds[PMD_TELEMETRY_MAX_CLIENTS_PER_UID + 1];
	char byte;
	int i;

	for (i = 0; i <= PMD_TELEMETRY_MAX_CLIENTS_PER_UID; i++) {
		fds[i] = child_session(path);
		if (fds[i] < 0)
			return 1;
	}
	if (child_receive(fds[0], &byte, 1) != 0)
		return 2;
	for (i = 1; i <= PMD_TELEMETRY_MAX_CLIENTS_PER_UID; i++)
		if (!child_answered(fds[i]))
			return 3;
	return 0;
}

/* The requester's uid as the server took it, and what that uid may see. */
static int ask_uid(const char *path)
{
	json_t *value = NULL;
	int rc = 0;

	if (pmd_telemetry_query(path, "/uid", "65534", WAIT_MS, &value) != 0)
		return 1;
	if (json_integer_value(json_array_get(value, 0)) != OTHER_UID || !json_is_true(json_array_get(value, 1)))
		rc = 2;
	json_decref(value);
	if (rc == 0 && pmd_telemetry_query(path, "/uid", "0", WAIT_MS, &value) != 0)
		return 3;
	if (rc == 0 && !json_is_false(json_array_get(value, 1)))
		rc = 4;
	json_decref(value);
	return rc;
}

static void allow_other_user(struct fixture *f, mode_t directory_mode)
{
	if (geteuid() != 0)
		skip(); /* only root can be another user */
	assert_int_equal(chmod(f->directory, directory_mode), 0);
}

static void test_per_uid_cap(void **state)
{
	struct fixture *f = *state;
	int mine[PMD_TELEMETRY_MAX_CLIENTS_PER_UID];
	int i;

	allow_other_user(f, 0711);
	start_server(f, 0666);
	/* Root is not capped (the next 8 are its too), and nobody else's connection makes room. */
	for (i = 0; i < PMD_TELEMETRY_MAX_CLIENTS_PER_UID; i++)
		mine[i] = raw_session(f->path);
	assert_int_equal(run_as_other_user(hold_too_many, f->path), 0);
	for (i = 0; i < PMD_TELEMETRY_MAX_CLIENTS_PER_UID; i++) {
		raw_command(mine[i], "/fail", "{\"/fail\":null}");
		close(mine[i]);
	}
}

static void test_requester_uid(void **state)
{
	struct fixture *f = *state;
	json_t *value = NULL;

	assert_int_equal(pmd_telemetry_requester_uid(), (uid_t)-1); /* outside a handler */
	assert_false(pmd_telemetry_requester_may_see(getuid()));
	allow_other_user(f, 0711);
	start_server(f, 0666);
	assert_int_equal(pmd_telemetry_query(f->path, "/uid", "65534", WAIT_MS, &value), 0);
	assert_int_equal(json_integer_value(json_array_get(value, 0)), 0);
	assert_true(json_is_true(json_array_get(value, 1))); /* root may see everyone's */
	json_decref(value);
	assert_int_equal(run_as_other_user(ask_uid, f->path), 0);
}

/* The server says it is up on the first; the test closes the second's write end to stop it. */
static int ready_pipe[2], stop_pipe[2];

/* A server another user runs. */
static int serve_as_other_user(const char *path)
{
	struct pmd_telemetry *telemetry;
	char byte = 0;

	if (pmd_telemetry_create(path, "theirs", &telemetry) != 0 ||
	    pmd_telemetry_start(telemetry, 0666, (gid_t)-1) != 0)
		return 1;
	close(stop_pipe[1]);
	if (write(ready_pipe[1], &byte, 1) != 1)
		return 2;
	while (read(stop_pipe[0], &byte, 1) > 0)
		;
	pmd_telemetry_destroy(telemetry);
	return 0;
}

/* The client reads nothing from a server that runs as neither root nor its own user. */
static void test_query_untrusted_server(void **state)
{
	struct fixture *f = *state;
	json_t *value = NULL;
	pid_t pid;
	char byte;
	int status;

	allow_other_user(f, 0777);
	assert_int_equal(pipe(ready_pipe), 0);
	assert_int_equal(pipe(stop_pipe), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(setgid(OTHER_UID) == 0 && setuid(OTHER_UID) == 0 ? serve_as_other_user(f->path) : 100);
	close(ready_pipe[1]);
	close(stop_pipe[0]);
	assert_int_equal(read(ready_pipe[0], &byte, 1), 1);
	assert_int_equal(pmd_telemetry_query(f->path, "/info", NULL, WAIT_MS, &value), -EPERM);
	assert_null(value);
	close(ready_pipe[0]);
	close(stop_pipe[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_destroy_with_clients(void **state)
{
	struct fixture *f = *state;
	struct stat status;
	int idle, pending, unread;

	start_server(f, 0600);
	idle = raw_session(f->path);
	/* A command whose answer is never read, and a connection never looked at. */
	unread = raw_session(f->path);
	assert_int_equal(send(unread, "/x/y,1", 6, MSG_NOSIGNAL), 6);
	pending = raw_connect(f->path);

	/* No clock: a destroy that waited on these clients would never return (they never act),
	 * and the test binary's timeout says so. */
	pmd_telemetry_destroy(f->telemetry);
	f->telemetry = NULL;

	expect_hang_up(idle);
	assert_int_equal(stat(f->path, &status), -1);
	assert_int_equal(errno, ENOENT);
	close(idle);
	close(unread);
	close(pending);
	/* Never started, and NULL. */
	assert_int_equal(pmd_telemetry_create(f->path, "v", &f->telemetry), 0);
	pmd_telemetry_destroy(f->telemetry);
	f->telemetry = NULL;
	pmd_telemetry_destroy(NULL);
}

/* Leave a socket file behind the way a killed daemon does: bound, then closed. */
static void make_stale_socket(const char *path)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);

	assert_true(fd >= 0);
	snprintf(address.sun_path, sizeof(address.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&address, sizeof(address)), 0);
	assert_int_equal(listen(fd, 1), 0);
	close(fd);
}

static void test_start_live_and_stale(void **state)
{
	struct fixture *f = *state;
	struct pmd_telemetry *second;
	struct stat status;
	json_t *value = NULL;
	int fd;

	start_server(f, 0600);
	assert_int_equal(pmd_telemetry_create(f->path, "second", &second), 0);
	assert_int_equal(pmd_telemetry_start(second, 0600, (gid_t)-1), -EADDRINUSE);
	pmd_telemetry_destroy(second);
	assert_info_works(f->path); /* the first one's socket is still there, and still its own */
	assert_int_equal(pmd_telemetry_start(f->telemetry, 0600, (gid_t)-1), -EBUSY);
	pmd_telemetry_destroy(f->telemetry);
	f->telemetry = NULL;

	make_stale_socket(f->path);
	assert_int_equal(pmd_telemetry_query(f->path, "/info", NULL, WAIT_MS, &value), -ECONNREFUSED);
	start_server(f, 0600);
	assert_info_works(f->path);
	pmd_telemetry_destroy(f->telemetry);
	f->telemetry = NULL;

	/* Not a socket: left alone. */
	fd = open(f->path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(pmd_telemetry_create(f->path, "v", &f->telemetry), 0);
	assert_int_equal(pmd_telemetry_start(f->telemetry, 0600, (gid_t)-1), -EEXIST);
	assert_int_equal(stat(f->path, &status), 0);
	assert_true(S_ISREG(status.st_mode));
}

static void test_socket_mode(void **state)
{
	struct fixture *f = *state;
	struct stat status;
	mode_t saved = umask(022);

	/* The umask alone would give 0755: both modes differ from it. */
	assert_int_equal(pmd_telemetry_create(f->path, "v", &f->telemetry), 0);
	assert_int_equal(pmd_telemetry_start(f->telemetry, 0660, getgid()), 0);
	assert_int_equal(stat(f->path, &status), 0);
	assert_true(S_ISSOCK(status.st_mode));
	assert_int_equal(status.st_mode & 07777, 0660);
	assert_int_equal(status.st_gid, getgid());
	pmd_telemetry_destroy(f->telemetry);
	f->telemetry = NULL;

	start_server(f, 0600);
	assert_int_equal(stat(f->path, &status), 0);
	assert_int_equal(status.st_mode & 07777, 0600);
	umask(saved);
}

static void test_register_rules(void **state)
{
	struct fixture *f = *state;
	char name[PMD_TELEMETRY_MAX_COMMAND_LEN + 2], help[PMD_TELEMETRY_MAX_STRING_LEN + 2];
	struct pmd_telemetry *t;
	json_t *value = NULL;
	int i;

	assert_int_equal(pmd_telemetry_create(NULL, "v", &t), -EINVAL);
	assert_int_equal(pmd_telemetry_create("", "v", &t), -EINVAL);
	assert_int_equal(pmd_telemetry_create(f->path, NULL, &t), -EINVAL);
	assert_int_equal(pmd_telemetry_create(f->path, "\xff", &t), -EINVAL);
	memset(help, 'h', sizeof(help));
	help[sizeof(help) - 1] = '\0';
	assert_int_equal(pmd_telemetry_create(f->path, help, &t), -EINVAL);
	memset(name, 'p', sizeof(name));
	name[sizeof(name) - 1] = '\0';
	{
		char path[200];

		memset(path, 'p', sizeof(path));
		path[sizeof(path) - 1] = '\0';
		assert_int_equal(pmd_telemetry_create(path, "v", &t), -ENAMETOOLONG);
	}

	assert_int_equal(pmd_telemetry_create(f->path, "v", &f->telemetry), 0);
	t = f->telemetry;
	assert_int_equal(pmd_telemetry_register(t, "x", echo_handler, NULL, "h"), -EINVAL);
	assert_int_equal(pmd_telemetry_register(t, "", echo_handler, NULL, "h"), -EINVAL);
	assert_int_equal(pmd_telemetry_register(t, "/a b", echo_handler, NULL, "h"), -EINVAL);
	assert_int_equal(pmd_telemetry_register(t, "/a.b", echo_handler, NULL, "h"), -EINVAL);
	assert_int_equal(pmd_telemetry_register(t, "/a,b", echo_handler, NULL, "h"), -EINVAL);
	assert_int_equal(pmd_telemetry_register(t, "/\xc3\xa9", echo_handler, NULL, "h"), -EINVAL);
	assert_int_equal(pmd_telemetry_register(t, "/ok", NULL, NULL, "h"), -EINVAL);
	assert_int_equal(pmd_telemetry_register(t, "/ok", echo_handler, NULL, NULL), -EINVAL);
	assert_int_equal(pmd_telemetry_register(t, "/ok", echo_handler, NULL, help), -EINVAL);
	assert_int_equal(pmd_telemetry_register(t, "/ok", echo_handler, NULL, "\xc3"), -EINVAL);
	/* 57 bytes refused, 56 taken. */
	name[0] = '/';
	assert_int_equal(pmd_telemetry_register(t, name, echo_handler, NULL, "h"), -EINVAL);
	name[PMD_TELEMETRY_MAX_COMMAND_LEN] = '\0';
	assert_int_equal(pmd_telemetry_register(t, name, echo_handler, &f->log, "h"), 0);
	assert_int_equal(pmd_telemetry_register(t, name, echo_handler, NULL, "h"), -EEXIST);
	assert_int_equal(pmd_telemetry_register(t, "/help", echo_handler, NULL, "h"), -EEXIST);
	assert_int_equal(pmd_telemetry_register(t, "/", echo_handler, NULL, "h"), -EEXIST);
	/* 64 registered in all (the 56-byte one included); built-ins do not count. */
	for (i = 1; i < PMD_TELEMETRY_MAX_COMMANDS; i++) {
		char command[16];

		snprintf(command, sizeof(command), "/c-%d", i);
		assert_int_equal(pmd_telemetry_register(t, command, echo_handler, &f->log, "h"), 0);
	}
	assert_int_equal(pmd_telemetry_register(t, "/one-more", echo_handler, NULL, "h"), -ENOSPC);
	assert_int_equal(pmd_telemetry_start(t, 0600, (gid_t)-1), 0);
	assert_int_equal(pmd_telemetry_register(t, "/late", echo_handler, NULL, "h"), -EBUSY);

	assert_int_equal(pmd_telemetry_query(f->path, "/", NULL, WAIT_MS, &value), 0);
	assert_int_equal(json_array_size(value), PMD_TELEMETRY_MAX_COMMANDS + 3);
	json_decref(value);
	assert_int_equal(pmd_telemetry_query(f->path, name, "p", WAIT_MS, &value), 0);
	assert_string_equal(json_string_value(json_object_get(value, "params")), "p");
	json_decref(value);
}

/* ---- the client against scripted servers ---- */

struct fake_server {
	int listen_fd;
	const char *hello;  /* NULL: say nothing */
	bool hang_up;       /* close at once, before the hello */
	const char *answer; /* to the first command; NULL: never answer */
};

/* Whether the last scripted server received a command (its client got past the hello). */
static bool fake_got_command;

static void *fake_server_thread(void *argument)
{
	struct fake_server *fake = argument;
	struct pollfd pfd = { .events = POLLIN };
	char buffer[PMD_TELEMETRY_MAX_INPUT_LEN];
	int fd = accept4(fake->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return NULL;
	pfd.fd = fd;
	if (!fake->hang_up) {
		if (fake->hello != NULL)
			send(fd, fake->hello, strlen(fake->hello), MSG_NOSIGNAL);
		fake_got_command = poll(&pfd, 1, WAIT_MS) == 1 && recv(fd, buffer, sizeof(buffer), 0) > 0;
		if (fake_got_command && fake->answer != NULL)
			send(fd, fake->answer, strlen(fake->answer), MSG_NOSIGNAL);
		/* Until the client is done with us. */
		while (poll(&pfd, 1, WAIT_MS) == 1 && recv(fd, buffer, sizeof(buffer), 0) > 0)
			;
	}
	close(fd);
	return NULL;
}

static int query_fake(struct fixture *f, const char *hello, bool hang_up, const char *answer, int timeout_ms,
		      json_t **value)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	struct fake_server fake = { .hello = hello, .hang_up = hang_up, .answer = answer };
	pthread_t thread;
	int rc;

	fake_got_command = false;
	fake.listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	assert_true(fake.listen_fd >= 0);
	snprintf(address.sun_path, sizeof(address.sun_path), "%s", f->path);
	unlink(f->path);
	assert_int_equal(bind(fake.listen_fd, (struct sockaddr *)&address, sizeof(address)), 0);
	assert_int_equal(listen(fake.listen_fd, 1), 0);
	assert_int_equal(pthread_create(&thread, NULL, fake_server_thread, &fake), 0);
	rc = pmd_telemetry_query(f->path, "/x", NULL, timeout_ms, value);
	pthread_join(thread, NULL);
	close(fake.listen_fd);
	unlink(f->path);
	return rc;
}

#define GOOD_HELLO "{\"version\":\"v\",\"pid\":1,\"max_output_len\":16384}"

static void test_query_errors(void **state)
{
	struct fixture *f = *state;
	char long_params[PMD_TELEMETRY_MAX_INPUT_LEN + 1];
	json_t *value = NULL;
	int tries;

	assert_int_equal(pmd_telemetry_query(f->path, "/info", NULL, WAIT_MS, &value), -ENOENT);
	assert_int_equal(pmd_telemetry_query(f->path, "info", NULL, WAIT_MS, &value), -EINVAL);
	assert_int_equal(pmd_telemetry_query(f->path, "/a,b", NULL, WAIT_MS, &value), -EINVAL);
	memset(long_params, 'p', sizeof(long_params));
	long_params[sizeof(long_params) - 1] = '\0';
	assert_int_equal(pmd_telemetry_query(f->path, "/x", long_params, WAIT_MS, &value), -EINVAL);

	assert_int_equal(query_fake(f, "not json", false, NULL, WAIT_MS, &value), -EPROTO);
	assert_int_equal(query_fake(f, "[1,2]", false, NULL, WAIT_MS, &value), -EPROTO);
	assert_int_equal(query_fake(f, "{\"version\":\"v\",\"pid\":1}", false, NULL, WAIT_MS, &value), -EPROTO);
	assert_int_equal(query_fake(f, "{\"version\":1,\"pid\":1,\"max_output_len\":16384}", false, NULL, WAIT_MS,
				    &value), -EPROTO);
	assert_int_equal(query_fake(f, NULL, true, NULL, WAIT_MS, &value), -ECONNRESET);
	assert_int_equal(query_fake(f, GOOD_HELLO, false, "{\"/x\":1", WAIT_MS, &value), -EPROTO);
	assert_int_equal(query_fake(f, GOOD_HELLO, false, "{\"/other\":1}", WAIT_MS, &value), -EPROTO);
	assert_int_equal(query_fake(f, GOOD_HELLO, false, "{\"/x\":1,\"/y\":2}", WAIT_MS, &value), -EPROTO);
	assert_int_equal(query_fake(f, GOOD_HELLO, false, "[\"/x\"]", WAIT_MS, &value), -EPROTO);
	assert_int_equal(query_fake(f, GOOD_HELLO, false, "{\"/x\":null}", WAIT_MS, &value), -ENOTSUP);
	/* Longer than the hello's max_output_len, though its first 8 bytes would parse. */
	assert_int_equal(query_fake(f, "{\"version\":\"v\",\"pid\":1,\"max_output_len\":8}", false, "{\"/x\":1}    ",
				    WAIT_MS, &value), -EPROTO);
	assert_null(value);
	/*
	 * Silence: bounded by the timeout, for the hello and for the answer. For the answer's,
	 * again until the hello came within the 100 ms (a loaded machine may take longer), so
	 * that it is the answer's silence that was timed.
	 */
	assert_int_equal(query_fake(f, NULL, false, NULL, 100, &value), -ETIMEDOUT);
	for (tries = 0; tries < 100; tries++) {
		assert_int_equal(query_fake(f, GOOD_HELLO, false, NULL, 100, &value), -ETIMEDOUT);
		if (fake_got_command)
			break;
	}
	assert_true(fake_got_command);

	assert_int_equal(query_fake(f, GOOD_HELLO, false, "{\"/x\":[1,2]}", WAIT_MS, &value), 0);
	assert_int_equal(json_array_size(value), 2);
	json_decref(value);
}

static void test_query_access(void **state)
{
	struct fixture *f = *state;
	json_t *value = NULL;

	if (geteuid() == 0)
		skip(); /* root connects whatever the mode */
	assert_int_equal(pmd_telemetry_create(f->path, "v", &f->telemetry), 0);
	assert_int_equal(pmd_telemetry_start(f->telemetry, 0, (gid_t)-1), 0);
	assert_int_equal(pmd_telemetry_query(f->path, "/info", NULL, WAIT_MS, &value), -EACCES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_info, setup, teardown),
		cmocka_unit_test_setup_teardown(test_help, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handler_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_answer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_clients_interleaved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_and_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_per_uid_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_requester_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_untrusted_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_with_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_live_and_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_access, setup, teardown),
	};

	return cmocka_run_group_tests_name("telemetry", tests, NULL, NULL);
}
