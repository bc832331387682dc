/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the Hyper-V socket wire (include/winapi_internal/hvsock.h, drivers/hvsock/hvsock_wire.c): the
 * seed's JSON metadata, the generic frame, round trips, everything a hostile peer could send,
 * and the frames on a real socket pair.
 */
#include <errno.h>
#include <jansson.h>
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
#include <unistd.h>

#include <cmocka.h>

#include <winapi_internal/clock.h>
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

/* @header encoded (a request, or with @reply a reply) into @text, and read back as plain JSON. */
static json_t *encode_to_json(const struct winapi_hvsock_header *header, bool reply,
			      char text[WINAPI_HVSOCK_MAX_HEADER], int *length)
{
	json_error_t error;
	json_t *object;

	*length = winapi_hvsock_header_encode(header, reply, text, WINAPI_HVSOCK_MAX_HEADER);
	assert_true(*length > 0);
	object = json_loadb(text, (size_t)*length, 0, &error);
	assert_non_null(object);
	return object;
}

static void test_request_is_the_seeds_json(void **state)
{
	struct winapi_hvsock_header header = buffer_test_request(WINAPI_BUFFER_OP_READ, 2, 1048576);
	char text[WINAPI_HVSOCK_MAX_HEADER];
	json_t *object;
	int length;

	(void)state;
	object = encode_to_json(&header, false, text, &length);
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
#define GENERIC(fields) "{\"request_id\":1,\"api\":\"host.time\"," fields "}"
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
		/* A possible name makes a generic frame, which wants its fields; the service
		 * answers it UNSUPPORTED_API all the same when it knows no such api. */
		{ "{\"request_id\":1,\"api\":\"format_disk\",\"payload_size\":0}", -EBADMSG },
		{ "{\"request_id\":1,\"api\":\"Format Disk\",\"payload_size\":0}", -EPROTONOSUPPORT },
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
		/* ---- generic frames ---- */
		{ GENERIC("\"payload_size\":4,\"version\":256,\"inline_length\":4,\"reply_capacity\":8,"
			  "\"buffers\":[]"), 0 },
		/* payload_size that disagrees with inline_length and the buffers */
		{ GENERIC("\"payload_size\":3,\"version\":256,\"inline_length\":4,\"reply_capacity\":8,"
			  "\"buffers\":[]"), -EBADMSG },
		{ GENERIC("\"payload_size\":4101,\"version\":256,\"inline_length\":4,\"reply_capacity\":8,"
			  "\"buffers\":[4096]"), -EBADMSG },
		/* lengths over the limits */
		{ GENERIC("\"payload_size\":3073,\"version\":256,\"inline_length\":3073,\"reply_capacity\":8,"
			  "\"buffers\":[]"), -EBADMSG },
		{ GENERIC("\"payload_size\":0,\"version\":256,\"inline_length\":0,\"reply_capacity\":3073,"
			  "\"buffers\":[]"), -EBADMSG },
		{ GENERIC("\"payload_size\":0,\"version\":65536,\"inline_length\":0,\"reply_capacity\":8,"
			  "\"buffers\":[]"), -EBADMSG },
		{ GENERIC("\"payload_size\":0,\"version\":-1,\"inline_length\":0,\"reply_capacity\":8,"
			  "\"buffers\":[]"), -EBADMSG },
		{ GENERIC("\"payload_size\":0,\"version\":256,\"inline_length\":0,\"reply_capacity\":8,"
			  "\"buffers\":[67108865]"), -EBADMSG },
		{ GENERIC("\"payload_size\":0,\"version\":256,\"inline_length\":0,\"reply_capacity\":8,"
			  "\"buffers\":[0]"), -EBADMSG },
		{ GENERIC("\"payload_size\":536870913,\"version\":256,\"inline_length\":0,\"reply_capacity\":8,"
			  "\"buffers\":[]"), -EPROTO },
		/* more than 8 buffers */
		{ GENERIC("\"payload_size\":0,\"version\":256,\"inline_length\":0,\"reply_capacity\":8,"
			  "\"buffers\":[1,1,1,1,1,1,1,1,1]"), -EBADMSG },
		/* missing or mistyped fields */
		{ GENERIC("\"payload_size\":0,\"inline_length\":0,\"reply_capacity\":8,\"buffers\":[]"), -EBADMSG },
		{ GENERIC("\"payload_size\":0,\"version\":256,\"reply_capacity\":8,\"buffers\":[]"), -EBADMSG },
		{ GENERIC("\"payload_size\":0,\"version\":256,\"inline_length\":0,\"buffers\":[]"), -EBADMSG },
		{ GENERIC("\"payload_size\":0,\"version\":256,\"inline_length\":0,\"reply_capacity\":8"), -EBADMSG },
		{ GENERIC("\"payload_size\":0,\"version\":256,\"inline_length\":0,\"reply_capacity\":8,"
			  "\"buffers\":4096"), -EBADMSG },
		{ GENERIC("\"payload_size\":0,\"version\":\"1.0\",\"inline_length\":0,\"reply_capacity\":8,"
			  "\"buffers\":[]"), -EBADMSG },
		{ GENERIC("\"payload_size\":0,\"version\":256,\"inline_length\":0,\"reply_capacity\":8,"
			  "\"buffers\":[],\"flags\":[\"zero_copy\"]"), -EBADMSG },
		{ GENERIC("\"version\":256,\"inline_length\":0,\"reply_capacity\":8,\"buffers\":[]"), -EPROTO },
		/* an api that is no possible name: a number, an array, upper case, too long, empty */
		{ "{\"request_id\":1,\"api\":7,\"payload_size\":0}", -EPROTONOSUPPORT },
		{ "{\"request_id\":1,\"api\":[\"host.time\"],\"payload_size\":0}", -EPROTONOSUPPORT },
		{ "{\"request_id\":1,\"api\":\"Host.Time\",\"payload_size\":0}", -EPROTONOSUPPORT },
		{ "{\"request_id\":1,\"api\":\"abbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"payload_size\":0}",
		  -EPROTONOSUPPORT },
		{ "{\"request_id\":1,\"api\":\"\",\"payload_size\":0}", -EPROTONOSUPPORT },
		/* a NUL inside a string: not JSON jansson takes, so nothing of it is trusted */
		{ "{\"request_id\":1,\"api\":\"host\\u0000time\",\"payload_size\":0}", -EPROTO },
	};
#undef GENERIC
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
		/* A refused generic frame still names its api: the host answers an unknown one as such. */
		if (rc == -EBADMSG && winapi_hvsock_is_generic(&header))
			assert_non_null(strstr(cases[i].text, header.api_name));
	}
	/* 39 characters is the longest name. */
	assert_int_equal(decode_text("{\"request_id\":1,\"api\":\"abbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\","
				     "\"payload_size\":0,\"version\":0,\"inline_length\":0,\"reply_capacity\":0,"
				     "\"buffers\":[]}", &header), 0);
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
		/* generic replies */
		"{\"request_id\":1,\"api\":\"host.time\",\"payload_size\":0,\"inline_length\":0}", /* no status */
		"{\"request_id\":1,\"api\":\"host.time\",\"payload_size\":0,\"status\":0}",        /* no inline_length */
		"{\"request_id\":1,\"api\":\"host.time\",\"payload_size\":4,\"status\":0,\"inline_length\":5}",
		"{\"request_id\":1,\"api\":\"host.time\",\"payload_size\":4000,\"status\":0,\"inline_length\":3073}",
		"{\"request_id\":1,\"api\":\"host.time\",\"payload_size\":4,\"status\":1,\"inline_length\":4}",
		"{\"request_id\":1,\"api\":\"host.time\",\"payload_size\":4,\"status\":1,\"inline_length\":0}",
		"{\"request_id\":1,\"api\":\"host.time\",\"payload_size\":0,\"status\":0,\"inline_length\":-1}",
		"{\"request_id\":1,\"api\":7,\"payload_size\":0,\"status\":0,\"inline_length\":0}",
		"{\"request_id\":1,\"api\":\"Host\",\"payload_size\":0,\"status\":0,\"inline_length\":0}",
		"{\"request_id\":1,\"api\":7,\"payload_size\":0,\"status\":3}", /* only null names none */
	};
	struct winapi_hvsock_header header;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (winapi_hvsock_reply_decode(cases[i], strlen(cases[i]), &header) != -EPROTO)
			fail_msg("case %zu accepted: %s", i, cases[i]);
	/* The host's answer to an api it does not know (1.0 or not) names none: it still reaches its request. */
	static const char unsupported[] = "{\"request_id\":9,\"api\":null,\"payload_size\":0,\"status\":3}";

	assert_int_equal(winapi_hvsock_reply_decode(unsupported, strlen(unsupported), &header), 0);
	assert_int_equal(header.request_id, 9);
	assert_int_equal(header.api_id, 0);
	assert_false(winapi_hvsock_is_generic(&header)); /* also a host's answer to a generic frame */
	assert_int_equal(header.status, WINAPI_STATUS_UNSUPPORTED_API);
}

/* ---- the generic frame ---- */

static struct winapi_hvsock_header generic_request(void)
{
	struct winapi_hvsock_header header = { .request_id = 77, .api_version = 0x102, .inline_length = 16,
					       .reply_capacity = 64, .buffer_count = 2,
					       .buffer_lengths = { 4096, 8192 }, .payload_size = 16 + 4096 };

	strcpy(header.api_name, "host.time");
	return header;
}

static void test_generic_request_json(void **state)
{
	struct winapi_hvsock_header header = generic_request(), got;
	char text[WINAPI_HVSOCK_MAX_HEADER];
	json_t *object;
	int length;

	(void)state;
	object = encode_to_json(&header, false, text, &length);
	assert_string_equal(json_string_value(json_object_get(object, "api")), "host.time");
	assert_int_equal(json_integer_value(json_object_get(object, "request_id")), 77);
	assert_int_equal(json_integer_value(json_object_get(object, "version")), 0x102);
	assert_int_equal(json_integer_value(json_object_get(object, "payload_size")), 16 + 4096);
	assert_int_equal(json_integer_value(json_object_get(object, "inline_length")), 16);
	assert_int_equal(json_integer_value(json_object_get(object, "reply_capacity")), 64);
	assert_int_equal(json_array_size(json_object_get(object, "buffers")), 2);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(object, "buffers"), 1)), 8192);
	/* Nothing of the seeds' fields. */
	assert_null(json_object_get(object, "operation"));
	json_decref(object);
	assert_int_equal(winapi_hvsock_request_decode(text, (size_t)length, &got), 0);
	assert_true(winapi_hvsock_is_generic(&got));
	assert_memory_equal(&got, &header, sizeof(got));
	assert_int_equal(winapi_hvsock_bulk(&got), WINAPI_HVSOCK_BULK_NONE);

	/* LIST goes by its name, without buffers, as does a call of a seed by its registered name. */
	header = (struct winapi_hvsock_header){ .request_id = 1, .api_version = WINAPI_PROTOCOL_VERSION,
						.inline_length = 8, .reply_capacity = 3072, .payload_size = 8 };
	strcpy(header.api_name, WINAPI_API_LIST_NAME);
	length = winapi_hvsock_header_encode(&header, false, text, sizeof(text));
	assert_true(length > 0);
	assert_int_equal(winapi_hvsock_request_decode(text, (size_t)length, &got), 0);
	assert_memory_equal(&got, &header, sizeof(got));
	strcpy(header.api_name, "winapi.echo");
	length = winapi_hvsock_header_encode(&header, false, text, sizeof(text));
	assert_int_equal(winapi_hvsock_request_decode(text, (size_t)length, &got), 0);
	assert_string_equal(got.api_name, "winapi.echo");
	assert_int_equal(got.api_id, 0);
}

static void test_generic_reply_round_trips(void **state)
{
	struct winapi_hvsock_header sent = { .request_id = 77, .inline_length = 8, .payload_size = 8 + 8192 }, got;
	char text[WINAPI_HVSOCK_MAX_HEADER];
	json_t *object;
	int length;

	(void)state;
	strcpy(sent.api_name, "host.time");
	object = encode_to_json(&sent, true, text, &length);
	assert_string_equal(json_string_value(json_object_get(object, "api")), "host.time");
	assert_int_equal(json_integer_value(json_object_get(object, "status")), 0);
	assert_int_equal(json_integer_value(json_object_get(object, "inline_length")), 8);
	json_decref(object);
	assert_int_equal(winapi_hvsock_reply_decode(text, (size_t)length, &got), 0);
	assert_memory_equal(&got, &sent, sizeof(got));

	/* An error names the api and carries nothing. */
	sent = (struct winapi_hvsock_header){ .request_id = 78, .status = WINAPI_STATUS_UNSUPPORTED_VERSION };
	strcpy(sent.api_name, "host.time");
	length = winapi_hvsock_header_encode(&sent, true, text, sizeof(text));
	assert_true(length > 0);
	assert_int_equal(winapi_hvsock_reply_decode(text, (size_t)length, &got), 0);
	assert_memory_equal(&got, &sent, sizeof(got));
	sent.payload_size = 4;
	assert_int_equal(winapi_hvsock_header_encode(&sent, true, text, sizeof(text)), -EINVAL);
}

/* What the encoder refuses: anything its decoder would. */
static void test_generic_encode_refuses(void **state)
{
	struct winapi_hvsock_header header;
	char text[WINAPI_HVSOCK_MAX_HEADER];

	(void)state;
	header = generic_request();
	strcpy(header.api_name, "echo"); /* a seed's wire name: it would come back as the seed */
	assert_int_equal(winapi_hvsock_header_encode(&header, false, text, sizeof(text)), -EINVAL);
	strcpy(header.api_name, "Host.Time");
	assert_int_equal(winapi_hvsock_header_encode(&header, false, text, sizeof(text)), -EINVAL);
	memset(header.api_name, 'a', sizeof(header.api_name)); /* no NUL */
	assert_int_equal(winapi_hvsock_header_encode(&header, false, text, sizeof(text)), -EINVAL);
	header = generic_request();
	header.api_id = WINAPI_API_ECHO;
	assert_int_equal(winapi_hvsock_header_encode(&header, false, text, sizeof(text)), -EINVAL);
	header = generic_request();
	header.inline_length = WINAPI_MAX_INLINE_DATA + 1;
	header.payload_size = header.inline_length;
	assert_int_equal(winapi_hvsock_header_encode(&header, false, text, sizeof(text)), -EINVAL);
	header = generic_request();
	header.reply_capacity = WINAPI_MAX_INLINE_DATA + 1;
	assert_int_equal(winapi_hvsock_header_encode(&header, false, text, sizeof(text)), -EINVAL);
	header = generic_request();
	header.payload_size = 16 + 4096 + 8192 + 1;
	assert_int_equal(winapi_hvsock_header_encode(&header, false, text, sizeof(text)), -EINVAL);
	header.payload_size = 15;
	assert_int_equal(winapi_hvsock_header_encode(&header, false, text, sizeof(text)), -EINVAL);
	header = generic_request();
	header.buffer_count = WINAPI_MAX_BUFFERS + 1;
	assert_int_equal(winapi_hvsock_header_encode(&header, false, text, sizeof(text)), -EINVAL);
	header = generic_request();
	header.buffer_lengths[1] = WINAPI_MAX_BUFFER_SIZE + 1;
	assert_int_equal(winapi_hvsock_header_encode(&header, false, text, sizeof(text)), -EINVAL);
}

static void test_access_bytes(void **state)
{
	static const uint8_t access[WINAPI_MAX_BUFFERS] = { WINAPI_ACCESS_HOST_READS, WINAPI_ACCESS_HOST_WRITES,
							    WINAPI_ACCESS_HOST_READS | WINAPI_ACCESS_HOST_WRITES,
							    WINAPI_ACCESS_HOST_READS };
	struct winapi_hvsock_header header = { .buffer_count = 3, .buffer_lengths = { 1, 20, 300, 4000 } };

	(void)state;
	/* Buffer 3 is the table's, not the request's: not counted. */
	assert_int_equal(winapi_hvsock_access_bytes(&header, access, WINAPI_ACCESS_HOST_READS), 301);
	assert_int_equal(winapi_hvsock_access_bytes(&header, access, WINAPI_ACCESS_HOST_WRITES), 320);
	header.buffer_count = 0;
	assert_int_equal(winapi_hvsock_access_bytes(&header, access, WINAPI_ACCESS_HOST_READS), 0);
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

	/* A generic frame's payload: its inline bytes and up to 8 buffers, one span each. */
	struct winapi_hvsock_span many[WINAPI_HVSOCK_MAX_SPANS + 1];
	size_t i;

	for (i = 0; i < WINAPI_HVSOCK_MAX_SPANS + 1; i++)
		many[i] = (struct winapi_hvsock_span){ payload + i, 1 };
	assert_int_equal(winapi_hvsock_send(fds[0], "{}", 2, many, WINAPI_HVSOCK_MAX_SPANS + 1), -EINVAL);
	assert_int_equal(winapi_hvsock_send(fds[0], "{}", 2, many, WINAPI_HVSOCK_MAX_SPANS), 0);
	assert_int_equal(winapi_hvsock_receive_header(&reader, header, sizeof(header), &length), 0);
	assert_int_equal(winapi_hvsock_receive(&reader, received, WINAPI_HVSOCK_MAX_SPANS), 0);
	assert_memory_equal(received, payload, WINAPI_HVSOCK_MAX_SPANS);

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

/* A peer that sends a 10-byte header's frame a byte every 100 ms (1.4 s in all). */
static void *trickle(void *argument)
{
	int fd = *(int *)argument;
	const char frame[] = "\x0a\x00\x00\x00{\"a\":1234}";
	size_t i;

	for (i = 0; i < sizeof(frame) - 1; i++) {
		if (send(fd, frame + i, 1, MSG_NOSIGNAL) != 1)
			break;
		usleep(100000);
	}
	return NULL;
}

static void test_frame_deadlines(void **state)
{
	static uint8_t big[8u << 20];
	const struct winapi_hvsock_span span = { big, sizeof(big) };
	char header[WINAPI_HVSOCK_MAX_HEADER];
	struct winapi_hvsock_reader reader;
	pthread_t thread;
	uint64_t started;
	size_t length;
	int fds[2];

	(void)state;
	/*
	 * Each byte comes well inside the frame timeout, which a timeout per recv() would
	 * restart: the frame's deadline, from its first byte, ends it all the same.
	 */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	winapi_hvsock_reader_init(&reader, fds[1]);
	reader.frame_timeout_ms = 400;
	assert_int_equal(pthread_create(&thread, NULL, trickle, &fds[0]), 0);
	started = winapi_clock_now_ns();
	assert_int_equal(winapi_hvsock_receive_header(&reader, header, sizeof(header), &length), -ETIMEDOUT);
	assert_true(winapi_clock_now_ns() - started < 1000000000u); /* 0.4 s, and a loaded machine's 0.6 */
	shutdown(fds[1], SHUT_RDWR);
	pthread_join(thread, NULL);
	close(fds[0]);
	close(fds[1]);

	/* A peer that reads nothing: a send with a deadline ends there, not when SO_SNDTIMEO says. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	started = winapi_clock_now_ns();
	assert_int_equal(winapi_hvsock_send_until(fds[0], started + 300000000u, "{}", 2, &span, 1), -ETIMEDOUT);
	assert_true(winapi_clock_now_ns() - started >= 300000000u);
	assert_true(winapi_clock_now_ns() - started < 1000000000u);
	close(fds[0]);
	close(fds[1]);
}

/* The wire's loopback TCP form (winapi-hostd.exe --tcp, WINAPI_SOCKET_TCP): this machine only. */
static void test_loopback_addresses(void **state)
{
	uint32_t address;
	uint16_t port;

	(void)state;
	assert_int_equal(winapi_hvsock_parse_loopback("127.0.0.1:5000", false, &address, &port), 0);
	assert_int_equal(address, 0x7f000001u);
	assert_int_equal(port, 5000);
	assert_int_equal(winapi_hvsock_parse_loopback("localhost:1", false, &address, &port), 0);
	assert_int_equal(address, 0x7f000001u);
	assert_int_equal(winapi_hvsock_parse_loopback("127.255.255.254:65535", false, &address, &port), 0);
	assert_int_equal(address, 0x7ffffffeu);
	assert_int_equal(port, 65535);
	/* Port 0 is a listener's "any free one", never a place to connect to. */
	assert_int_equal(winapi_hvsock_parse_loopback("127.0.0.1:0", true, &address, &port), 0);
	assert_int_equal(port, 0);
	assert_int_equal(winapi_hvsock_parse_loopback("127.0.0.1:0", false, &address, &port), -EINVAL);
	/* Off this machine: refused, with its own error. */
	for (const char *const *far = (const char *const[]){ "10.0.0.1:5000", "0.0.0.0:5000", "128.0.0.1:1",
							     "192.168.1.1:80", "255.255.255.255:1", NULL };
	     *far; far++)
		if (winapi_hvsock_parse_loopback(*far, true, &address, &port) != -EADDRNOTAVAIL)
			fail_msg("--tcp '%s' not refused as off this machine", *far);
	for (const char *const *bad = (const char *const[]){ "", "127.0.0.1", "127.0.0.1:", ":5000", "127.0.0:5",
							     "127.0.0.1.1:5", "1270.0.0.1:5", "127.0.0.256:5",
							     " 127.0.0.1:5", "127.0.0.1:5 ", "127.0.0.1:+5",
							     "127.0.0.1:-5", "127.0.0.1:65536", "127.0.0.1:999999",
							     "127.0.0.1:0x10", "localhost", "localhost:", "::1:5",
							     "[::1]:5", "example.org:5", NULL };
	     *bad; bad++)
		if (winapi_hvsock_parse_loopback(*bad, true, &address, &port) != -EINVAL)
			fail_msg("--tcp '%s' accepted", *bad);
	assert_int_equal(winapi_hvsock_parse_loopback(NULL, true, &address, &port), -EINVAL);
}

static void test_allow_cids(void **state)
{
	uint32_t cids[WINAPI_HVSOCK_MAX_ALLOWED_CIDS + 1];
	char many[WINAPI_HVSOCK_MAX_ALLOWED_CIDS * 4 + 8] = "";
	unsigned int count, i;

	(void)state;
	assert_int_equal(winapi_hvsock_parse_cids("3", cids, 4, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(cids[0], 3);
	assert_int_equal(winapi_hvsock_parse_cids("3,0x10,4294967294", cids, 4, &count), 0);
	assert_int_equal(count, 3);
	assert_int_equal(cids[1], 16);
	assert_int_equal(cids[2], 0xfffffffeu);
	assert_true(winapi_hvsock_cid_allowed(cids, count, 16));
	assert_false(winapi_hvsock_cid_allowed(cids, count, 2));
	assert_false(winapi_hvsock_cid_allowed(cids, count, 0xffffffffu));
	assert_true(winapi_hvsock_cid_allowed(cids, 0, 2)); /* no list: every peer */
	/* Nothing guessed: a list that is not exactly CIDs is refused whole. */
	for (const char *const *bad = (const char *const[]){ "", ",", "3,", ",3", "3,,4", "a", "-1", " 3", "3 ",
							     "+3", "0xffffffff", "4294967295", "4294967296",
							     "99999999999999999999", NULL };
	     *bad; bad++)
		if (winapi_hvsock_parse_cids(*bad, cids, 4, &count) != -EINVAL)
			fail_msg("--allow-cid '%s' accepted", *bad);
	for (i = 0; i <= WINAPI_HVSOCK_MAX_ALLOWED_CIDS; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s%u", i == 0 ? "" : ",", i + 3);
	assert_int_equal(winapi_hvsock_parse_cids(many, cids, WINAPI_HVSOCK_MAX_ALLOWED_CIDS, &count), -E2BIG);
	*strrchr(many, ',') = '\0';
	assert_int_equal(winapi_hvsock_parse_cids(many, cids, WINAPI_HVSOCK_MAX_ALLOWED_CIDS, &count), 0);
	assert_int_equal(count, WINAPI_HVSOCK_MAX_ALLOWED_CIDS);
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
		cmocka_unit_test(test_generic_request_json),
		cmocka_unit_test(test_generic_reply_round_trips),
		cmocka_unit_test(test_generic_encode_refuses),
		cmocka_unit_test(test_access_bytes),
		cmocka_unit_test(test_frames_on_a_socket),
		cmocka_unit_test(test_frame_deadlines),
		cmocka_unit_test(test_allow_cids),
		cmocka_unit_test(test_loopback_addresses),
		cmocka_unit_test(test_service_id_and_port),
	};

	return cmocka_run_group_tests_name("hvsock", tests, NULL, NULL);
}
