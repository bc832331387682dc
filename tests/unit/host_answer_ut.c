/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the answer step a host inside another program runs (drivers/host/answer.c,
 * the QEMU device's path): requests as raw ring bytes, guest memory reached page by page only
 * (GPADL page lists and GPA-direct ranges over scattered guest pages), every answer decoded
 * and checked, bad requests answered with an error and nothing touched.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "le_bytes.h"

#include <winapi/protocol.h>
#include <winapi_internal/host_api.h>

#include "../../drivers/host/host_answer.h"

#define PAGE 4096u
#define GUEST_PAGES 16u
#define FIRST_PFN 0x1000u
#define GPADL_ID 7u
#define GPADL_PAGES 4u

/* Guest RAM of 16 pages at page numbers 0x1000..; GPADL 7 is pages 9, 2, 14, 5 of it. */
struct guest {
	uint8_t memory[GUEST_PAGES * PAGE];
	unsigned int pages_resolved;
};

static const unsigned int gpadl_layout[GPADL_PAGES] = { 9, 2, 14, 5 };

static int gpadl_page(void *context, uint32_t gpadl, uint64_t index, uint64_t *pfn)
{
	(void)context;
	if (gpadl != GPADL_ID || index >= GPADL_PAGES)
		return -EFAULT;
	*pfn = FIRST_PFN + gpadl_layout[index];
	return 0;
}

static void *guest_page(void *context, uint64_t pfn)
{
	struct guest *guest = context;

	if (pfn < FIRST_PFN || pfn >= FIRST_PFN + GUEST_PAGES)
		return NULL;
	guest->pages_resolved++;
	return guest->memory + (pfn - FIRST_PFN) * PAGE;
}

struct fixture {
	struct guest guest;
	struct winapi_host_answerer *answerer;
	uint8_t request[WINAPI_MESSAGE_MAX_SIZE];
	uint8_t answer[WINAPI_HOST_ANSWER_MAX_SIZE];
	struct winapi_message response;
};

static int setup(void **state)
{
	struct fixture *fixture = calloc(1, sizeof(*fixture));
	struct winapi_host_pages pages = { .gpadl_page = gpadl_page, .guest_page = guest_page };

	if (fixture == NULL)
		return -1;
	pages.context = &fixture->guest;
	if (winapi_host_answerer_create(&pages, &fixture->answerer) != 0) {
		free(fixture);
		return -1;
	}
	*state = fixture;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fixture = *state;

	winapi_host_answerer_destroy(fixture->answerer);
	free(fixture);
	return 0;
}

/* Encode @message, run it as a packet of @type and decode the answer into fixture->response. */
static void run(struct fixture *fixture, struct winapi_message *message, uint16_t type, const void *gpa_header,
		size_t gpa_header_size, bool expect_ok)
{
	struct winapi_host_packet packet = { .type = type, .trans_id = message->request_id };
	int size = winapi_message_encode(message, fixture->request, sizeof(fixture->request));
	bool ok = !expect_ok;
	int answer_size;

	assert_true(size > 0);
	packet.message = fixture->request;
	packet.message_size = (size_t)size;
	packet.gpa_header = gpa_header;
	packet.gpa_header_size = gpa_header_size;
	answer_size = winapi_host_answerer_run(fixture->answerer, &packet, fixture->answer, sizeof(fixture->answer), &ok);
	assert_true(answer_size > 0);
	assert_int_equal(ok, expect_ok);
	assert_int_equal(winapi_message_decode(fixture->answer, (size_t)answer_size, &fixture->response), 0);
	assert_true(fixture->response.flags & WINAPI_MESSAGE_FLAG_RESPONSE);
	assert_int_equal(fixture->response.request_id, message->request_id);
}

static struct winapi_message request_for(uint16_t api, uint64_t id)
{
	return (struct winapi_message){ .version = WINAPI_PROTOCOL_VERSION, .api_id = api, .request_id = id,
					.reply_capacity = WINAPI_MAX_INLINE_DATA };
}

static void test_echo_inband(void **state)
{
	struct fixture *fixture = *state;
	struct winapi_message message = request_for(WINAPI_API_ECHO, 0x10001);

	message.inline_data = "over the ring";
	message.inline_length = 13;
	run(fixture, &message, 6, NULL, 0, true);
	assert_int_equal(fixture->response.status, WINAPI_STATUS_OK);
	assert_int_equal(fixture->response.inline_length, 13);
	assert_memory_equal(fixture->response.inline_data, "over the ring", 13);
}

/* A BUFFER_TEST WRITE of @buffer; the pattern must land where the guest's pages are. */
static void buffer_write(struct fixture *fixture, const struct winapi_buffer_descriptor *buffer, uint16_t type,
			 const void *gpa_header, size_t gpa_header_size, uint32_t expected_status)
{
	const struct winapi_buffer_test_request write = { .operation = WINAPI_BUFFER_OP_WRITE, .pattern = 0xA1B2C3D4u };
	struct winapi_message message = request_for(WINAPI_API_BUFFER_TEST, 0x20002);
	uint8_t payload[sizeof(write)];

	winapi_buffer_test_request_encode(&write, payload);
	message.inline_data = payload;
	message.inline_length = sizeof(payload);
	message.buffer_count = 1;
	message.buffers[0] = *buffer;
	run(fixture, &message, type, gpa_header, gpa_header_size, expected_status == WINAPI_STATUS_OK);
	assert_int_equal(fixture->response.status, expected_status);
}

/* Byte @position of a buffer whose pages are @pages (guest page indexes), from @first_offset on. */
static uint8_t *guest_byte(struct fixture *fixture, const unsigned int *pages, uint64_t first_offset, uint64_t position)
{
	uint64_t absolute = first_offset + position;

	return fixture->guest.memory + pages[absolute / PAGE] * PAGE + absolute % PAGE;
}

static void test_gpadl_buffer_by_pages(void **state)
{
	struct fixture *fixture = *state;
	const struct winapi_buffer_descriptor buffer = { .kind = WINAPI_BUFFER_GPADL, .region = GPADL_ID,
							 .offset = 100, .length = 2 * PAGE + 500 };
	uint64_t position;

	buffer_write(fixture, &buffer, 6, NULL, 0, WINAPI_STATUS_OK);
	for (position = 0; position < buffer.length; position++)
		assert_int_equal(*guest_byte(fixture, gpadl_layout, buffer.offset, position),
				 winapi_pattern_byte(0xA1B2C3D4u, position));
	/* Nothing before or after the buffer in its first and last page. */
	assert_int_equal(*guest_byte(fixture, gpadl_layout, 0, 99), 0);
	assert_int_equal(*guest_byte(fixture, gpadl_layout, 0, buffer.offset + buffer.length), 0);
}

static void test_gpadl_past_its_pages(void **state)
{
	struct fixture *fixture = *state;
	const struct winapi_buffer_descriptor past_end = { .kind = WINAPI_BUFFER_GPADL, .region = GPADL_ID,
							   .offset = 3 * PAGE + 1, .length = PAGE };
	const struct winapi_buffer_descriptor other_gpadl = { .kind = WINAPI_BUFFER_GPADL, .region = GPADL_ID + 1,
							      .length = 16 };
	static const uint8_t zero[GUEST_PAGES * PAGE];

	buffer_write(fixture, &past_end, 6, NULL, 0, WINAPI_STATUS_BAD_BUFFER);
	buffer_write(fixture, &other_gpadl, 6, NULL, 0, WINAPI_STATUS_BAD_BUFFER);
	/* Checked before anything is written. */
	assert_memory_equal(fixture->guest.memory, zero, sizeof(zero));
}

/* A GPA-direct header of one range over guest pages @pages (count @page_count). */
static size_t gpa_header(uint8_t *out, uint32_t byte_offset, uint32_t byte_count, const unsigned int *pages,
			 unsigned int page_count, uint64_t pfn_base)
{
	unsigned int i;

	put_le32(out, 0);     /* reserved */
	put_le32(out + 4, 1); /* range count */
	put_le32(out + 8, byte_count);
	put_le32(out + 12, byte_offset);
	for (i = 0; i < page_count; i++)
		put_le64(out + 16 + 8 * i, pfn_base + pages[i]);
	return 16 + 8 * (size_t)page_count;
}

static void test_gpa_direct_range(void **state)
{
	struct fixture *fixture = *state;
	static const unsigned int pages[] = { 3, 11, 0 };
	const struct winapi_buffer_descriptor buffer = { .kind = WINAPI_BUFFER_GPA_DIRECT, .region = 0,
							 .offset = 8, .length = 2 * PAGE };
	uint8_t header[16 + 3 * 8];
	size_t size = gpa_header(header, 64, 2 * PAGE + 64, pages, 3, FIRST_PFN);
	uint64_t position;

	buffer_write(fixture, &buffer, 9, header, size, WINAPI_STATUS_OK);
	for (position = 0; position < buffer.length; position++)
		assert_int_equal(*guest_byte(fixture, pages, 64 + buffer.offset, position),
				 winapi_pattern_byte(0xA1B2C3D4u, position));
}

static void test_gpa_direct_outside_guest(void **state)
{
	struct fixture *fixture = *state;
	static const unsigned int pages[] = { 3, 200 }; /* page 200: not guest memory */
	const struct winapi_buffer_descriptor buffer = { .kind = WINAPI_BUFFER_GPA_DIRECT, .region = 0,
							 .length = 2 * PAGE };
	const struct winapi_buffer_descriptor no_such_range = { .kind = WINAPI_BUFFER_GPA_DIRECT, .region = 1,
								.length = 16 };
	static const uint8_t zero[GUEST_PAGES * PAGE];
	uint8_t header[16 + 2 * 8];
	size_t size = gpa_header(header, 0, 2 * PAGE, pages, 2, FIRST_PFN);

	buffer_write(fixture, &buffer, 9, header, size, WINAPI_STATUS_BAD_BUFFER);
	buffer_write(fixture, &no_such_range, 9, header, size, WINAPI_STATUS_BAD_BUFFER);
	/* A header that is cut short is a bad message, whatever the buffers say. */
	buffer_write(fixture, &buffer, 9, header, size - 8, WINAPI_STATUS_BAD_MESSAGE);
	assert_memory_equal(fixture->guest.memory, zero, sizeof(zero));
}

static void test_bad_messages(void **state)
{
	struct fixture *fixture = *state;
	struct winapi_message message = request_for(WINAPI_API_ECHO, 0x30003);
	struct winapi_host_packet packet = { .type = 6, .trans_id = 0x30003 };
	static const uint8_t garbage[64] = { 0x5a, 0x5a, 0x5a };
	bool ok = true;
	int size;

	/* An id other than the packet's. */
	size = winapi_message_encode(&message, fixture->request, sizeof(fixture->request));
	assert_true(size > 0);
	packet.message = fixture->request;
	packet.message_size = (size_t)size;
	packet.trans_id = 0x30004;
	size = winapi_host_answerer_run(fixture->answerer, &packet, fixture->answer, sizeof(fixture->answer), &ok);
	assert_true(size > 0);
	assert_false(ok);
	assert_int_equal(winapi_message_decode(fixture->answer, (size_t)size, &fixture->response), 0);
	assert_int_equal(fixture->response.status, WINAPI_STATUS_BAD_MESSAGE);

	/* Bytes that are no message at all. */
	packet.message = garbage;
	packet.message_size = sizeof(garbage);
	ok = true;
	size = winapi_host_answerer_run(fixture->answerer, &packet, fixture->answer, sizeof(fixture->answer), &ok);
	assert_true(size > 0);
	assert_false(ok);
	assert_int_equal(winapi_message_decode(fixture->answer, (size_t)size, &fixture->response), 0);
	assert_int_equal(fixture->response.status, WINAPI_STATUS_BAD_MESSAGE);
	assert_int_equal(fixture->response.inline_length, 0);

	/* An api nobody serves. */
	message = request_for(0x7fff, 0x30005);
	run(fixture, &message, 6, NULL, 0, false);
	assert_int_equal(fixture->response.status, WINAPI_STATUS_UNSUPPORTED_API);
}

/* ---- the registry's checks, before a handler runs ---- */

static unsigned int strict_calls;

static void strict_handler(struct winapi_host_context *host, const struct winapi_host_request *request,
			   struct winapi_host_reply *reply)
{
	uint8_t *out = winapi_host_reply_space(host);

	strict_calls++;
	/* Answers one byte more than asked for when the first input byte says so: over max_reply. */
	reply->status = WINAPI_STATUS_OK;
	reply->data = out;
	reply->length = request->message->inline_length != 0 && ((const uint8_t *)request->message->inline_data)[0] == 9 ? 5 : 4;
	memset(out, 0xee, reply->length);
}

static const struct winapi_host_api strict_api = {
	.entry = { .name = "test.strict", .api_id = 300, .version = 0x305, .max_request = 8, .max_reply = 4,
		   .buffer_access = { WINAPI_ACCESS_HOST_READS } },
	.handler = strict_handler,
};

static void test_registry_checks(void **state)
{
	struct fixture *fixture = *state;
	struct winapi_message message = request_for(300, 0x40001);
	const struct winapi_buffer_descriptor buffer = { .kind = WINAPI_BUFFER_GPADL, .region = GPADL_ID,
							 .length = 16 };
	uint8_t input[9] = { 0 };
	unsigned int before;

	/* Registered once per process; a second time, or a taken id or name, is refused. */
	if (winapi_host_api_find(300) == NULL)
		assert_int_equal(winapi_host_api_register(&strict_api), 0);
	assert_int_equal(winapi_host_api_register(&strict_api), -EEXIST);
	struct winapi_host_api copy = strict_api;
	copy.entry.api_id = 301;
	assert_int_equal(winapi_host_api_register(&copy), -EEXIST); /* the name */
	copy = strict_api;
	strcpy(copy.entry.name, "winapi.echo.x");
	copy.entry.api_id = WINAPI_API_ECHO;
	assert_int_equal(winapi_host_api_register(&copy), -EEXIST); /* the id */
	copy.handler = NULL;
	copy.entry.api_id = 302;
	assert_int_equal(winapi_host_api_register(&copy), -EINVAL);
	assert_string_equal(winapi_host_api_find_name("test.strict")->entry.name, "test.strict");

	before = strict_calls;
	message.inline_data = input;
	message.inline_length = 4;
	message.api_version = 0x300; /* any minor of its major */
	run(fixture, &message, 6, NULL, 0, true);
	assert_int_equal(fixture->response.inline_length, 4);
	message.api_version = 0x205;
	run(fixture, &message, 6, NULL, 0, false);
	assert_int_equal(fixture->response.status, WINAPI_STATUS_UNSUPPORTED_VERSION);
	message.api_version = 0;      /* not stated (a 1.0 guest): served */
	message.inline_length = 9;    /* over max_request */
	run(fixture, &message, 6, NULL, 0, false);
	assert_int_equal(fixture->response.status, WINAPI_STATUS_BAD_MESSAGE);
	message.inline_length = 1;
	message.buffer_count = 2;     /* it takes one */
	message.buffers[0] = buffer;
	message.buffers[1] = buffer;
	run(fixture, &message, 6, NULL, 0, false);
	assert_int_equal(fixture->response.status, WINAPI_STATUS_BAD_MESSAGE);
	assert_int_equal(strict_calls, before + 1);
	/* The handler's answer over its own max_reply is not sent; over reply_capacity, neither. */
	message.buffer_count = 0;
	input[0] = 9;
	run(fixture, &message, 6, NULL, 0, false);
	assert_int_equal(fixture->response.status, WINAPI_STATUS_INTERNAL);
	assert_int_equal(fixture->response.inline_length, 0);
	input[0] = 0;
	message.reply_capacity = 3;
	run(fixture, &message, 6, NULL, 0, false);
	assert_int_equal(fixture->response.status, WINAPI_STATUS_REPLY_TOO_LARGE);
}

/* LIST through the answer step: the registry's entries, paged; and no events on this host. */
static void test_list_and_no_events(void **state)
{
	struct fixture *fixture = *state;
	struct winapi_message message = request_for(WINAPI_API_LIST, 0x50001);
	struct winapi_api_entry entries[WINAPI_API_LIST_PAGE];
	struct winapi_api_list_reply list;
	uint8_t request[8], subscribe[12];
	unsigned int i;

	winapi_api_list_request_encode(&(struct winapi_api_list_request){ .first = 1 }, request);
	message.inline_data = request;
	message.inline_length = sizeof(request);
	run(fixture, &message, 6, NULL, 0, true);
	assert_int_equal(winapi_api_list_reply_decode(fixture->response.inline_data, fixture->response.inline_length,
						      &list, entries, WINAPI_API_LIST_PAGE), 0);
	assert_int_equal(list.first, 1);
	assert_int_equal(list.api_count, winapi_host_api_count());
	assert_int_equal(list.protocol_newest, WINAPI_PROTOCOL_VERSION);
	assert_int_equal(list.entry_count, list.api_count - 1);
	for (i = 0; i < list.entry_count; i++)
		assert_memory_equal(&entries[i], &winapi_host_api_at(i + 1)->entry, sizeof(entries[i]));
	/* A first entry past the end: an empty page, not an error. */
	winapi_api_list_request_encode(&(struct winapi_api_list_request){ .first = 5000 }, request);
	run(fixture, &message, 6, NULL, 0, true);
	assert_int_equal(fixture->response.inline_length, 16);
	message.inline_length = 7;
	run(fixture, &message, 6, NULL, 0, false);
	assert_int_equal(fixture->response.status, WINAPI_STATUS_BAD_MESSAGE);

	/* A host that only answers (the QEMU device's) takes no subscriptions. */
	message = request_for(WINAPI_API_SUBSCRIBE, 0x50002);
	winapi_subscribe_request_encode(&(struct winapi_subscribe_request){ .api_id = 16, .api_version = 0x100 },
					subscribe);
	memset(subscribe + 8, 0, 4);
	message.inline_data = subscribe;
	message.inline_length = sizeof(subscribe);
	run(fixture, &message, 6, NULL, 0, false);
	assert_int_equal(fixture->response.status, WINAPI_STATUS_UNSUPPORTED_API);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_echo_inband, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gpadl_buffer_by_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gpadl_past_its_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gpa_direct_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gpa_direct_outside_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registry_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_and_no_events, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
