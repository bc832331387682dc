/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: winapi-pmd's telemetry server with the daemon's own commands
 * (apps/winapi-pmd/stats.c: /winapi/stats, /winapi/workers, /winapi/clients,
 * /winapi/client,ID) registered by pmd_stats_register() on lib/telemetry/telemetry.c's
 * server, beside its built-in "/", "/info" and "/help". telemetry_fuzz covers telemetry.c's
 * parsers with handlers of its own; this one feeds commands through serve_client(), the
 * server's receive-and-answer of one connection (recvmsg() with MSG_TRUNC, the requester's
 * uid for the handlers, answer_message()), over a SOCK_SEQPACKET socketpair, to the real
 * handlers. telemetry.c is included because serve_client() and struct client are static.
 *
 * The daemon the handlers walk, made once per process: two struct pmd over a fake device
 * (two channels, a policy read from "fuzz.policy"), one with three workers and five
 * clients (owned by uids 1000, 1001 and root; active, leaving and reclaimable; counters
 * up to UINT64_MAX), one with 5000 clients, too many ids for one answer.
 *
 * Input:
 *   +0  u8  bits 0-1: the requester's uid: root, 1000, 1001 or 4242;
 *           bit 2: the daemon with 5000 clients
 *   +1  the message, as one datagram (at most 2 KiB: past 1024 bytes the server reads it cut)
 *
 * What must hold besides "no sanitizer report": every message that is not dropped gets
 * exactly one answer, one JSON object of one key within PMD_TELEMETRY_MAX_OUTPUT_LEN; the
 * daemon's commands answer what they publish (an object, an array of the clients' ids, an
 * array of one object per worker); /winapi/client,ID answers for a client that exists,
 * with its pid and uid only to root and to its own uid, and null for one that does not.
 */
#include "../../lib/telemetry/telemetry.c"

#include <vmbus/backend.h>
#include <vmbus/guid.h>

#include "../../apps/winapi-pmd/pmd.h"
#include "fuzz_check.h"
#include "fuzz_device.h"

#define PAGE_SIZE 4096u
#define RING_SIZE (2 * PAGE_SIZE)
#define MANY_CLIENTS 5000u
#define FUZZ_MESSAGE_MAX 2048u

struct daemon {
	struct pmd pmd;
	struct pmd_telemetry *server;
	struct pmd_client *clients;
	unsigned int client_count;
};

static struct daemon few, many;
static int sockets[2] = { -1, -1 };
static struct vmbus_device *device;
static struct pmd_policy *policy;
static uint8_t *rings;

static const struct vmbus_backend_ops fake_ops = {
	.name = "fuzz",
	.signal = fuzz_device_signal,
	.wait = fuzz_device_wait,
};

/* The policy names no user or group: the system's databases stay out of the fuzzer. */
static int no_user(const char *name, uid_t *uid)
{
	(void)name;
	(void)uid;
	return -ENOENT;
}

static int no_group(const char *name, gid_t *gid)
{
	(void)name;
	(void)gid;
	return -ENOENT;
}

static void make_device(void)
{
	static struct vmbus_channel_region regions[2];
	struct vmbus_device_params params = {
		.numa_node = 1,
		.side = VMBUS_SIDE_GUEST,
		.page_size = PAGE_SIZE,
		.channel_count = 2,
		.channels = regions,
		.ops = &fake_ops,
	};
	const struct pmd_policy_names names = { .user = no_user, .group = no_group };
	static const char text[] = "allow * winapi.echo\n";
	char error[256];
	unsigned int i;

	rings = aligned_alloc(PAGE_SIZE, 4 * RING_SIZE);
	FUZZ_CHECK(rings != NULL);
	for (i = 0; i < 4; i++)
		vmbus_ring_header_init(rings + i * RING_SIZE, PAGE_SIZE);
	for (i = 0; i < 2; i++)
		regions[i] = (struct vmbus_channel_region){ .ring_base = rings + 2 * i * RING_SIZE, .ring_size = RING_SIZE,
							    .relid = 14 + i, .monitor_id = VMBUS_MONITOR_ID_NONE };
	FUZZ_CHECK(vmbus_guid_parse(WINAPI_DEVICE_CLASS, &params.class_id) == 0);
	FUZZ_CHECK(vmbus_device_create(&params, &device) == 0);
	FUZZ_CHECK(pmd_policy_parse(text, sizeof(text) - 1, "fuzz.policy", &names, &policy, error, sizeof(error)) == 0);
}

static void make_daemon(struct daemon *daemon, unsigned int clients, unsigned int workers)
{
	static const char *const reasons[] = { "it exited", "its request ring is corrupt" };
	struct pmd *pmd = &daemon->pmd;
	unsigned int i;

	pmd->device = device;
	pmd->policy = policy;
	pmd->apis = (struct winapi_api_table){ .listed = true, .count = 3 };
	pmd->worker_count = workers;
	pmd->started_ns = winapi_clock_now_ns();
	pmd->totals = (struct pmd_totals){ .clients_attached = clients, .clients_refused = 3,
					   .clients_reclaimed = UINT64_MAX, .pool_bytes_in_use = 1ull << 40,
					   .pool_bytes_quarantined = 4096, .requests_dropped = (uint64_t)INT64_MAX + 1 };
	for (i = 0; i < workers; i++)
		pmd->workers[i] = (struct pmd_worker){
			.pmd = pmd, .index = i, .cpu = i == 0 ? -1 : (int)i, .clients = clients,
			.in_flight = i * 100,
			.stats = { .requests = UINT64_MAX - i, .completions = i, .busy_ns = 1ull << 62 },
		};
	CDS_INIT_LIST_HEAD(&pmd->clients);
	FUZZ_CHECK(pthread_mutex_init(&pmd->table_lock, NULL) == 0);
	daemon->clients = calloc(clients, sizeof(*daemon->clients));
	FUZZ_CHECK(daemon->clients != NULL);
	daemon->client_count = clients;
	for (i = 0; i < clients; i++) {
		struct pmd_client *client = &daemon->clients[i];

		client->id = i == 4 ? UINT64_MAX : i + 1;
		client->pid = (pid_t)(100 + i);
		client->uid = (uid_t[]){ 1000, 1001, 0 }[i % 3];
		client->worker = workers != 0 ? i % workers : 0;
		client->pool_size = 1u << 20;
		client->state = (int)(i % 3);
		if (client->state != PMD_CLIENT_ACTIVE)
			client->leave_reason = reasons[i % 2];
		client->in_flight = i;
		client->stats = (struct pmd_client_stats){ .requests = i, .completions = UINT64_MAX, .rejected = 7 };
		cds_list_add_tail(&client->node, &pmd->clients);
	}
	pmd->client_count = clients;
	FUZZ_CHECK(pmd_telemetry_create("/nonexistent/fuzz.sock", "winapi-pmd fuzz", &daemon->server) == 0);
	FUZZ_CHECK(pmd_stats_register(pmd, daemon->server) == 0);
}

static void setup(void)
{
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) == 0);
	make_device();
	make_daemon(&few, 5, 3);
	make_daemon(&many, MANY_CLIENTS, 1);
}

static const struct pmd_client *find_client(const struct daemon *daemon, unsigned long long id)
{
	unsigned int i;

	for (i = 0; i < daemon->client_count; i++)
		if (daemon->clients[i].id == id)
			return &daemon->clients[i];
	return NULL;
}

/* What the daemon's command in @command (the message up to its comma) must answer. */
static void check_value(const struct daemon *daemon, const char *command, const char *params, bool whole,
			uid_t requester_uid, const json_t *value)
{
	const struct pmd_client *client;
	unsigned long long id;
	char *end;

	if (!whole)
		return;
	if (strcmp(command, "/winapi/stats") == 0) {
		FUZZ_CHECK(json_is_object(value) && json_integer_value(json_object_get(value, "clients")) ==
							    (json_int_t)daemon->client_count);
	} else if (strcmp(command, "/winapi/workers") == 0) {
		FUZZ_CHECK(json_is_array(value) && json_array_size(value) == daemon->pmd.worker_count);
	} else if (strcmp(command, "/winapi/clients") == 0) {
		/* Too many ids for one answer: null rather than JSON cut short. */
		FUZZ_CHECK(daemon->client_count == MANY_CLIENTS ? json_is_null(value) :
			   json_is_array(value) && json_array_size(value) == daemon->client_count);
	} else if (strcmp(command, "/winapi/client") == 0) {
		errno = 0;
		id = strtoull(params, &end, 10);
		client = params[0] >= '0' && params[0] <= '9' && *end == '\0' && errno == 0 ? find_client(daemon, id) :
											      NULL;
		if (client == NULL) {
			FUZZ_CHECK(json_is_null(value));
			return;
		}
		FUZZ_CHECK(json_is_object(value));
		FUZZ_CHECK((json_int_t)json_integer_value(json_object_get(value, "id")) == (json_int_t)client->id);
		/* Whose it is: only to root and to the client's own uid. */
		FUZZ_CHECK((json_object_get(value, "pid") != NULL) == (requester_uid == 0 || requester_uid == client->uid));
		FUZZ_CHECK((json_object_get(value, "uid") != NULL) == (json_object_get(value, "pid") != NULL));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uid_t uids[] = { 0, 1000, 1001, 4242 };
	static char answer[PMD_TELEMETRY_MAX_OUTPUT_LEN + 1];
	static char text[FUZZ_MESSAGE_MAX + 1];
	struct daemon *daemon;
	struct client connection;
	size_t length, command_length, key_length;
	const char *comma, *key;
	json_error_t error;
	json_t *parsed;
	ssize_t got;
	int rc;

	if (size < 2 || size - 1 > FUZZ_MESSAGE_MAX)
		return 0;
	if (sockets[0] < 0)
		setup();
	daemon = data[0] & 4 ? &many : &few;
	connection = (struct client){ .fd = sockets[0], .uid = uids[data[0] & 3] };
	length = size - 1;
	FUZZ_CHECK(send(sockets[1], data + 1, length, MSG_DONTWAIT) == (ssize_t)length);

	rc = serve_client(daemon->server, &connection);
	FUZZ_CHECK(requester == (uid_t)-1);
	got = recv(sockets[1], answer, sizeof(answer), MSG_DONTWAIT | MSG_TRUNC);
	if (rc != 0) {
		/* Only a command no JSON key can name drops the connection, and it gets no answer. */
		FUZZ_CHECK(rc == -EPROTO && got < 0);
		return 0;
	}
	FUZZ_CHECK(got > 0 && (size_t)got <= PMD_TELEMETRY_MAX_OUTPUT_LEN);
	FUZZ_CHECK(recv(sockets[1], answer, sizeof(answer), MSG_DONTWAIT) < 0); /* one answer only */

	parsed = json_loadb(answer, (size_t)got, JSON_ALLOW_NUL, &error);
	memcpy(text, data + 1, length);
	text[length] = '\0';
	comma = memchr(text, ',', length);
	command_length = comma != NULL ? (size_t)(comma - text) : length;
	if (parsed == NULL && memchr(text, '\0', command_length) != NULL)
		return 0; /* jansson reads no NUL in a key; the answer is JSON all the same */
	FUZZ_CHECK(parsed != NULL && json_is_object(parsed) && json_object_size(parsed) == 1);
	key = json_object_iter_key(json_object_iter(parsed));
	key_length = json_object_iter_key_len(json_object_iter(parsed));
	FUZZ_CHECK(key_length <= command_length && memcmp(key, text, key_length) == 0);
	/* A whole message, without NUL, is one the server passes to a handler. */
	if (length <= PMD_TELEMETRY_MAX_INPUT_LEN && memchr(text, '\0', length) == NULL &&
	    command_length <= PMD_TELEMETRY_MAX_COMMAND_LEN) {
		const char *params = comma != NULL ? text + command_length + 1 : "";

		text[command_length] = '\0';
		check_value(daemon, text, params, winapi_utf8_valid(params, strlen(params)), connection.uid,
			    json_object_iter_value(json_object_iter(parsed)));
	}
	json_decref(parsed);
	return 0;
}
