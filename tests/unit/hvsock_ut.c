/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the Hyper-V socket wire (include/winapi_internal/hvsock.h, drivers/hvsock/hvsock_wire.c): the
 * seed's JSON metadata, round trips, everything a hostile peer could send, and the frames on
 * a real socket pair.
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <winapi_internal/hvsock.h>

static struct winapi_hvsock_header buffer_test_request(uint32_t operation, unsigned int count, uint64_t length)
{
	struct winapi_buffer_test_request test = { .operation = operation, .pattern = 0xaabbccdd, .crc_seed = 77 };
	struct winapi_hvsock_header header = { .request_id = 12345, .api_id = WINAPI_API_BUFFER_TEST,
					       .buffer_count = count, .flags = WINAPI_HVSOCK_FLAG_ASYNC };
	unsigned int i;

	winapi_buffer_test_request_encode(&test, header.fields);
	header.fields_length = sizeof(test);
	for (i = 0; i < count; i++)
		header.buffer_lengths[i] = length;
	if (operation != WINAPI_BUFFER_OP_WRITE)
		header.payload_size = count * length;
	return header;
}

static int decode_text(const char *text, struct winapi_hvsock_header *header)
{
	return winapi_hvsock_request_decode(text, strlen(text), header);
}

static void test_request_is_the_seeds_json(void **state)
{
	struct winapi_hvsock_header header = buffer_test_request(WINAPI_BUFFER_OP_READ, 2, 1048576);
	char text[WINAPI_HVSOCK_MAX_HEADER];
	json_error_t error;
	json_t *object;
	int length;

	(void)state;
	length = winapi_hvsock_header_encode(&header, false, text, sizeof(text));
	assert_true(length > 0);
	object = json_loadb(text, (size_t)length, 0, &error);
	assert_non_null(object);
	assert_int_equal(json_integer_value(json_object_get(object, "request_id")), 12345);
	assert_string_equal(json_string_value(json_object_get(object, "api")), "buffer_test");
	assert_int_equal(json_integer_value(json_object_get(object, "payload_size")), 2 * 1048576);
	assert_string_equal(json_string_value(json_array_get(json_object_get(object, "flags"), 0)), "async");
	assert_string_equal(json_string_value(json_object_get(object, "operation")), "read");
	assert_int_equal(json_integer_value(json_object_get(object, "pattern")), 0xaabbccdd);
	assert_int_equal(json_array_size(json_object_get(object, "buffers")), 2);
	json_decref(object);
}

static void test_request_round_trips(void **state)
{
	struct winapi_perf_test_request perf = { .test_type = WINAPI_PERF_THROUGHPUT, .sequence = 99 };
	struct winapi_hvsock_header sent[4], got;
	char text[WINAPI_HVSOCK_MAX_HEADER];
	unsigned int i;
	int length;

	(void)state;
	sent[0] = buffer_test_request(WINAPI_BUFFER_OP_WRITE, 8, WINAPI_MAX_BUFFER_SIZE);
	sent[1] = buffer_test_request(WINAPI_BUFFER_OP_VERIFY, 1, 4096);
	sent[2] = (struct winapi_hvsock_header){ .request_id = 1, .api_id = WINAPI_API_ECHO, .payload_size = 3072 };
	sent[3] = (struct winapi_hvsock_header){ .request_id = 2, .api_id = WINAPI_API_PERF_TEST, .buffer_count = 1,
						 .buffer_lengths = { 8192 }, .payload_size = 8192 };
	winapi_perf_test_request_encode(&perf, sent[3].fields);
	sent[3].fields_length = sizeof(perf);
	for (i = 0; i < 4; i++) {
		length = winapi_hvsock_header_encode(&sent[i], false, text, sizeof(text));
		assert_true(length > 0);
		assert_int_equal(winapi_hvsock_request_decode(text, (size_t)length, &got), 0);
		assert_memory_equal(&got, &sent[i], sizeof(got));
	}
	assert_int_equal(winapi_hvsock_bulk(&sent[0]), WINAPI_HVSOCK_BULK_TO_GUEST);
	assert_int_equal(winapi_hvsock_bulk(&sent[1]), WINAPI_HVSOCK_BULK_TO_HOST);
	assert_int_equal(winapi_hvsock_bulk(&sent[2]), WINAPI_HVSOCK_BULK_NONE);
	assert_int_equal(winapi_hvsock_bulk(&sent[3]), WINAPI_HVSOCK_BULK_TO_HOST);
}

static void test_reply_round_trips(void **state)
{
	struct winapi_buffer_test_reply test = { .bytes_processed = 4096, .checksum = 0xdeadbeef,
						 .mismatches = 0, .first_mismatch = UINT64_MAX };
	struct winapi_hvsock_header sent = { .request_id = 5, .api_id = WINAPI_API_BUFFER_TEST }, got;
	char text[WINAPI_HVSOCK_MAX_HEADER];
	int length;

	(void)state;
	winapi_buffer_test_reply_encode(&test, sent.fields);
	sent.fields_length = sizeof(test);
	length = winapi_hvsock_header_encode(&sent, true, text, sizeof(text));
	assert_true(length > 0);
	assert_non_null(strstr(text, "\"first_mismatch\":null"));
	assert_int_equal(winapi_hvsock_reply_decode(text, (size_t)length, &got), 0);
	assert_memory_equal(&got, &sent, sizeof(got));

	/* An error carries no fields; an unknown api's answer names none. */
	sent = (struct winapi_hvsock_header){ .request_id = 6, .status = WINAPI_STATUS_UNSUPPORTED_API };
	length = winapi_hvsock_header_encode(&sent, true, text, sizeof(text));
	assert_true(length > 0);
	assert_non_null(strstr(text, "\"api\":null"));
	sent.status = WINAPI_STATUS_BAD_MESSAGE;
	assert_int_equal(winapi_hvsock_header_encode(&sent, true, text, sizeof(text)), -EINVAL);
	assert_int_equal(winapi_hvsock_header_encode(&sent, false, text, sizeof(text)), -EINVAL);
	sent = buffer_test_request(WINAPI_BUFFER_OP_READ, 1, 4096);
	assert_int_equal(winapi_hvsock_header_encode(&sent, false, text, 10), -ENOSPC);
}

/* What a hostile guest may send the host: each answered or refused, never trusted. */
static void test_request_decode_rejects(void **state)
{
	static const struct {
		const char *text;
		int expected;
	} cases[] = {
		{ "not json", -EPROTO },
		{ "[1,2]", -EPROTO },
		{ "{\"api\":\"echo\",\"payload_size\":0}", -EPROTO },
		{ "{\"request_id\":-1,\"api\":\"echo\",\"payload_size\":0}", -EPROTO },
		{ "{\"request_id\":1,\"api\":\"echo\",\"payload_size\":-5}", -EPROTO },
		{ "{\"request_id\":1,\"api\":\"echo\",\"payload_size\":536870913}", -EPROTO },
		{ "{\"request_id\":1,\"request_id\":2,\"api\":\"echo\",\"payload_size\":0}", -EPROTO },
		{ "{\"request_id\":1,\"api\":\"format_disk\",\"payload_size\":0}", -EPROTONOSUPPORT },
		{ "{\"request_id\":1,\"payload_size\":0}", -EPROTONOSUPPORT },
		{ "{\"request_id\":1,\"api\":\"echo\",\"payload_size\":3073}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"echo\",\"payload_size\":3,\"flags\":[\"zero_copy\"]}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"echo\",\"payload_size\":3,\"flags\":\"async\"}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"buffer_test\",\"payload_size\":0,\"operation\":\"erase\","
		  "\"pattern\":1,\"crc_seed\":0,\"buffers\":[4096]}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"buffer_test\",\"payload_size\":0,\"operation\":\"write\","
		  "\"pattern\":4294967296,\"crc_seed\":0,\"buffers\":[4096]}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"buffer_test\",\"payload_size\":0,\"operation\":\"write\","
		  "\"pattern\":1,\"crc_seed\":0,\"buffers\":[]}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"buffer_test\",\"payload_size\":0,\"operation\":\"write\","
		  "\"pattern\":1,\"crc_seed\":0,\"buffers\":[1,1,1,1,1,1,1,1,1]}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"buffer_test\",\"payload_size\":0,\"operation\":\"write\","
		  "\"pattern\":1,\"crc_seed\":0,\"buffers\":[0]}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"buffer_test\",\"payload_size\":0,\"operation\":\"write\","
		  "\"pattern\":1,\"crc_seed\":0,\"buffers\":[67108865]}", -EBADMSG },
		/* read carries exactly the buffers' bytes; write carries none */
		{ "{\"request_id\":1,\"api\":\"buffer_test\",\"payload_size\":4095,\"operation\":\"read\","
		  "\"pattern\":1,\"crc_seed\":0,\"buffers\":[4096]}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"buffer_test\",\"payload_size\":4096,\"operation\":\"write\","
		  "\"pattern\":1,\"crc_seed\":0,\"buffers\":[4096]}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"performance\",\"payload_size\":0,\"test_type\":\"latency\","
		  "\"sequence\":1,\"buffers\":[4096]}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"performance\",\"payload_size\":0,\"test_type\":\"throughput\","
		  "\"sequence\":1}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"performance\",\"payload_size\":0,\"test_type\":\"latency\"}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"performance\",\"payload_size\":0,\"test_type\":\"latency\","
		  "\"sequence\":1}", 0 },
	};
	struct winapi_hvsock_header header;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = decode_text(cases[i].text, &header);

		if (rc != cases[i].expected)
			fail_msg("case %zu (%s): %d, want %d", i, cases[i].text, rc, cases[i].expected);
		/* Answerable ones keep the id, so that the refusal reaches the right request. */
		if (rc == -EBADMSG || rc == -EPROTONOSUPPORT)
			assert_int_equal(header.request_id, 1);
	}
}

/* What a hostile host may send the guest. */
static void test_reply_decode_rejects(void **state)
{
	static const char *const cases[] = {
		"{\"request_id\":1,\"api\":\"echo\",\"payload_size\":0}",                      /* no status */
		"{\"request_id\":1,\"api\":\"echo\",\"payload_size\":3073,\"status\":0}",      /* echo too long */
		"{\"request_id\":1,\"api\":\"echo\",\"payload_size\":8,\"status\":4}",         /* error with data */
		"{\"request_id\":1,\"api\":\"buffer_test\",\"payload_size\":0,\"status\":0}",  /* no fields */
		"{\"request_id\":1,\"api\":\"buffer_test\",\"payload_size\":0,\"status\":0,\"bytes_processed\":1,"
		"\"checksum\":4294967296,\"mismatches\":0,\"first_mismatch\":null}",
		"{\"request_id\":1,\"api\":\"performance\",\"payload_size\":5,\"status\":0,\"sequence\":1,"
		"\"bytes_processed\":0,\"checksum\":0,\"host_ns\":1}",
		"{\"request_id\":1,\"api\":null,\"payload_size\":0,\"status\":1}",      /* only for status 3 */
		"{\"request_id\":1,\"api\":null,\"payload_size\":4,\"status\":3}",
		"{\"request_id\":1,\"api\":\"echo\",\"payload_size\":0,\"status\":-1}",
	};
	struct winapi_hvsock_header header;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (winapi_hvsock_reply_decode(cases[i], strlen(cases[i]), &header) != -EPROTO)
			fail_msg("case %zu accepted: %s", i, cases[i]);
	/* The host's answer to an api it does not know names none: it still reaches its request. */
	static const char unsupported[] = "{\"request_id\":9,\"api\":null,\"payload_size\":0,\"status\":3}";

	assert_int_equal(winapi_hvsock_reply_decode(unsupported, strlen(unsupported), &header), 0);
	assert_int_equal(header.request_id, 9);
	assert_int_equal(header.api_id, 0);
	assert_int_equal(header.status, WINAPI_STATUS_UNSUPPORTED_API);
}

static void test_frames_on_a_socket(void **state)
{
	const char payload[] = "payload bytes";
	const struct winapi_hvsock_span spans[2] = { { payload, 7 }, { payload + 7, sizeof(payload) - 7 } };
	char header[WINAPI_HVSOCK_MAX_HEADER], received[sizeof(payload)];
	struct winapi_hvsock_reader reader;
	uint8_t raw[8];
	size_t length;
	int fds[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	winapi_hvsock_reader_init(&reader, fds[1]);
	assert_int_equal(winapi_hvsock_send(fds[0], "{\"a\":1}", 7, spans, 2), 0);
	assert_int_equal(winapi_hvsock_receive_header(&reader, header, sizeof(header), &length), 0);
	assert_int_equal(length, 7);
	assert_memory_equal(header, "{\"a\":1}", 7);
	assert_int_equal(winapi_hvsock_receive(&reader, received, sizeof(payload)), 0);
	assert_memory_equal(received, payload, sizeof(payload));

	/* A length of 0, or over the limit, ends the stream: nothing can be skipped safely. */
	memset(raw, 0, sizeof(raw));
	assert_int_equal(write(fds[0], raw, 4), 4);
	assert_int_equal(winapi_hvsock_receive_header(&reader, header, sizeof(header), &length), -EPROTO);
	raw[1] = 0x04; /* 1024 + 1 */
	raw[0] = 0x01;
	assert_int_equal(write(fds[0], raw, 4), 4);
	assert_int_equal(winapi_hvsock_receive_header(&reader, header, sizeof(header), &length), -EPROTO);
	assert_int_equal(winapi_hvsock_send(fds[0], header, 0, NULL, 0), -EINVAL);

	/* Closed inside a frame, or between frames. */
	raw[0] = 10;
	raw[1] = 0;
	assert_int_equal(write(fds[0], raw, 4), 4);
	assert_int_equal(write(fds[0], "abc", 3), 3);
	close(fds[0]);
	assert_int_equal(winapi_hvsock_receive_header(&reader, header, sizeof(header), &length), -EPROTO);
	close(fds[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	winapi_hvsock_reader_init(&reader, fds[1]);
	close(fds[0]);
	assert_int_equal(winapi_hvsock_receive_header(&reader, header, sizeof(header), &length), -ECONNRESET);
	assert_int_equal(winapi_hvsock_receive(&reader, NULL, 1), -EPROTO);
	close(fds[1]);
}

static void test_service_id_and_port(void **state)
{
	char text[37];
	uint32_t port;

	(void)state;
	winapi_hvsock_service_id(0x1234, text);
	assert_string_equal(text, "00001234-facb-11e6-bd58-64006a7986d3");
	winapi_hvsock_service_id(0x7fffffff, text);
	assert_string_equal(text, "7fffffff-facb-11e6-bd58-64006a7986d3");

	unsetenv("WINAPI_SOCKET_PORT");
	assert_int_equal(winapi_hvsock_port_from_environment(&port), 0);
	assert_int_equal(port, 0x1234);
	setenv("WINAPI_SOCKET_PORT", "0x5678", 1);
	assert_int_equal(winapi_hvsock_port_from_environment(&port), 0);
	assert_int_equal(port, 0x5678);
	setenv("WINAPI_SOCKET_PORT", "4660", 1);
	assert_int_equal(winapi_hvsock_port_from_environment(&port), 0);
	assert_int_equal(port, 0x1234);
	for (const char *const *bad = (const char *const[]){ "0", "-1", "0x80000000", "12ab", " 5", NULL }; *bad; bad++) {
		setenv("WINAPI_SOCKET_PORT", *bad, 1);
		if (winapi_hvsock_port_from_environment(&port) != -EINVAL)
			fail_msg("WINAPI_SOCKET_PORT=%s accepted", *bad);
	}
	unsetenv("WINAPI_SOCKET_PORT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_is_the_seeds_json),
		cmocka_unit_test(test_request_round_trips),
		cmocka_unit_test(test_reply_round_trips),
		cmocka_unit_test(test_request_decode_rejects),
		cmocka_unit_test(test_reply_decode_rejects),
		cmocka_unit_test(test_frames_on_a_socket),
		cmocka_unit_test(test_service_id_and_port),
	};

	return cmocka_run_group_tests_name("hvsock", tests, NULL, NULL);
}
