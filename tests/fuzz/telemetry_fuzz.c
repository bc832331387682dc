/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: winapi-pmd's telemetry parsers (lib/telemetry/telemetry.c), both ends.
 * The parsing is static, so this file includes telemetry.c, as SPDK's unit tests include the
 * file they test; messages travel over a SOCK_SEQPACKET socketpair, as they would over the
 * daemon's socket, without a thread or a socket file.
 *
 * Input: +0 u8 what to fuzz (value % 4), then
 *   0  a client's command message as the server reads it (answer_message(); a message over
 *      PMD_TELEMETRY_MAX_INPUT_LEN arrives cut, as MSG_TRUNC makes it). The answer must be
 *      one JSON object with one key, the command cut to 56 bytes, within max_output_len.
 *   1  the server's hello as pmd_telemetry_query() reads it (read_hello()).
 *   2  +1 u8 n, +2 n bytes of command (to the first NUL), then the server's answer as
 *      pmd_telemetry_query() reads it (parse_answer()).
 *   3  a command name to register, then to call on a fresh server.
 */
#include "../../lib/telemetry/telemetry.c"
#include "fuzz_check.h"

/* sockets[0] is the server's end, sockets[1] the client's. */
static int sockets[2] = { -1, -1 };
static struct pmd_telemetry *server;
static unsigned int handler_calls;

/* The contract says params are UTF-8 without NUL bytes: a JSON string must take them. */
static int echo_params(const char *command, const char *params, void *context, json_t **value)
{
	(void)command;
	(void)context;
	handler_calls++;
	FUZZ_CHECK(winapi_utf8_valid(params, strlen(params)));
	*value = json_string(params);
	FUZZ_CHECK(*value != NULL);
	return 0;
}

/* A failing handler that sets a value anyway: the server must release it. */
static int fail_with_value(const char *command, const char *params, void *context, json_t **value)
{
	(void)command;
	(void)params;
	(void)context;
	handler_calls++;
	*value = json_true();
	return -EIO;
}

/* An answer over max_output_len: the client must get null instead of cut JSON. */
static int too_large(const char *command, const char *params, void *context, json_t **value)
{
	static char text[PMD_TELEMETRY_MAX_OUTPUT_LEN + 1];

	(void)command;
	(void)params;
	(void)context;
	handler_calls++;
	memset(text, 'x', sizeof(text) - 1);
	*value = json_string(text);
	return *value != NULL ? 0 : -ENOMEM;
}

static void setup(void)
{
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) == 0);
	FUZZ_CHECK(pmd_telemetry_create("/nonexistent/fuzz.sock", "fuzz 1.0", &server) == 0);
	FUZZ_CHECK(pmd_telemetry_register(server, "/fuzz/echo", echo_params, NULL, "echo") == 0);
	FUZZ_CHECK(pmd_telemetry_register(server, "/fuzz/fail", fail_with_value, NULL, "fail") == 0);
	FUZZ_CHECK(pmd_telemetry_register(server, "/fuzz/big", too_large, NULL, "big") == 0);
}

/* What is still queued on @fd (nothing, once every check read its message). */
static void drain(int fd)
{
	char buffer[256];

	while (recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT) >= 0)
		;
}

/* Send @command to @telemetry as serve_client() would receive it; check the answer. */
static void serve_command(struct pmd_telemetry *telemetry, const uint8_t *command, size_t size)
{
	static char answer[PMD_TELEMETRY_MAX_OUTPUT_LEN + 1];
	size_t length = size < PMD_TELEMETRY_MAX_INPUT_LEN ? size : PMD_TELEMETRY_MAX_INPUT_LEN;
	const uint8_t *comma = memchr(command, ',', length);
	size_t command_length = comma != NULL ? (size_t)(comma - command) : length;
	size_t key_length, i;
	const char *key;
	json_error_t error;
	void *iter;
	json_t *parsed;
	ssize_t got;
	int rc;

	/* An empty message is a hang-up: serve_client() never passes it on. */
	if (size == 0)
		return;
	memcpy(telemetry->input, command, length);
	rc = answer_message(telemetry, sockets[0], length, size > PMD_TELEMETRY_MAX_INPUT_LEN);
	got = recv(sockets[1], answer, sizeof(answer), MSG_DONTWAIT | MSG_TRUNC);
	if (rc != 0) {
		/* Only a command name no JSON key can hold drops the client, without an answer. */
		FUZZ_CHECK(rc == -EPROTO && got < 0);
		return;
	}
	FUZZ_CHECK(got > 0 && (size_t)got <= PMD_TELEMETRY_MAX_OUTPUT_LEN);

	parsed = json_loadb(answer, (size_t)got, JSON_ALLOW_NUL, &error);
	if (parsed == NULL && memchr(command, '\0', command_length) != NULL)
		return; /* jansson reads no NUL in a key; the answer is JSON all the same */
	FUZZ_CHECK(parsed != NULL && json_is_object(parsed) && json_object_size(parsed) == 1);
	iter = json_object_iter(parsed);
	key = json_object_iter_key(iter);
	key_length = json_object_iter_key_len(iter);
	/*
	 * The key is the command, whole, or cut to 56 bytes and then back to where a character
	 * starts: the bytes dropped after 56 are continuation bytes only.
	 */
	FUZZ_CHECK(key_length <= command_length && memcmp(key, command, key_length) == 0);
	if (key_length < command_length) {
		FUZZ_CHECK(command_length > PMD_TELEMETRY_MAX_COMMAND_LEN && key_length <= PMD_TELEMETRY_MAX_COMMAND_LEN);
		for (i = key_length + 1; i <= PMD_TELEMETRY_MAX_COMMAND_LEN; i++)
			FUZZ_CHECK((command[i] & 0xc0) == 0x80);
		FUZZ_CHECK(key_length == 0 || (command[key_length] & 0xc0) != 0x80);
	}
	json_decref(parsed);
}

static void fuzz_hello(const uint8_t *data, size_t size)
{
	size_t output_size = 0;
	int rc;

	if (size == 0 || send(sockets[1], data, size, MSG_DONTWAIT) != (ssize_t)size)
		return;
	rc = read_hello(sockets[0], 0, &output_size);
	FUZZ_CHECK(rc == 0 || rc == -EPROTO);
	FUZZ_CHECK(rc != 0 || (output_size > 0 && output_size <= QUERY_MAX_OUTPUT_LEN));
}

static void fuzz_answer(const uint8_t *data, size_t size)
{
	char command[256];
	json_t *value = NULL;
	size_t n;
	char *answer;
	int rc;

	if (size < 1 || size - 1 < data[0])
		return;
	n = data[0];
	memcpy(command, data + 1, n);
	command[n] = '\0';
	/* Exactly the answer's size, as receive_message() got it. */
	answer = malloc(size - 1 - n + 1);
	FUZZ_CHECK(answer != NULL);
	memcpy(answer, data + 1 + n, size - 1 - n);
	rc = parse_answer(answer, size - 1 - n, command, &value);
	FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -ENOTSUP);
	FUZZ_CHECK((rc == 0) == (value != NULL));
	json_decref(value);
	free(answer);
}

static void fuzz_register(const uint8_t *data, size_t size)
{
	struct pmd_telemetry *fresh;
	char name[128];
	unsigned int calls;
	size_t length = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	int rc;

	memcpy(name, data, length);
	name[length] = '\0';
	FUZZ_CHECK(pmd_telemetry_create("/nonexistent/fuzz.sock", "fuzz 1.0", &fresh) == 0);
	rc = pmd_telemetry_register(fresh, name, echo_params, NULL, "registered by the fuzzer");
	FUZZ_CHECK(rc == 0 || rc == -EINVAL || rc == -EEXIST);
	if (rc == 0) {
		FUZZ_CHECK(name[0] == '/' && strlen(name) <= PMD_TELEMETRY_MAX_COMMAND_LEN);
		FUZZ_CHECK(find_command(fresh, name) != NULL);
		/* A registered name is a command a client can call. */
		calls = handler_calls;
		serve_command(fresh, (const uint8_t *)name, strlen(name));
		FUZZ_CHECK(handler_calls == calls + 1);
	}
	pmd_telemetry_destroy(fresh);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (server == NULL)
		setup();
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		serve_command(server, data + 1, size - 1);
		break;
	case 1:
		fuzz_hello(data + 1, size - 1);
		break;
	case 2:
		fuzz_answer(data + 1, size - 1);
		break;
	default:
		fuzz_register(data + 1, size - 1);
		break;
	}
	drain(sockets[0]);
	drain(sockets[1]);
	return 0;
}
