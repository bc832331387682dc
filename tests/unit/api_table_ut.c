/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The API table's wire (lib/winapi: entries, LIST pages) and the guest's reading of it
 * (lib/requests/api_table.c) against a fake host: paging, a host that predates LIST, and
 * hosts whose answers are wrong in each way the reader must catch.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <winapi/protocol.h>
#include <winapi_internal/api_table.h>

#define MANY 120u

static struct winapi_api_entry make_entry(unsigned int id)
{
	struct winapi_api_entry entry = { .api_id = (uint16_t)id, .version = 0x102, .max_request = 64,
					  .max_reply = 128, .buffer_access = { WINAPI_ACCESS_HOST_READS } };

	snprintf(entry.name, sizeof(entry.name), "test.api-%u", id);
	return entry;
}

/* ---- entries and pages on the wire ---- */

static void test_entry_checks(void **state)
{
	struct winapi_api_entry entry = make_entry(5);

	(void)state;
	assert_int_equal(winapi_api_entry_check(&entry), 0);
	assert_int_equal(winapi_api_entry_buffers(&entry), 1);
	for (unsigned int i = 0; i < 3; i++)
		assert_int_equal(winapi_api_entry_check(&winapi_seed_apis[i]), 0);

	struct winapi_api_entry bad = entry;
	strcpy(bad.name, "Upper.Case");
	assert_int_equal(winapi_api_entry_check(&bad), -EINVAL);
	bad = entry;
	memset(bad.name, 'a', sizeof(bad.name)); /* no NUL */
	assert_int_equal(winapi_api_entry_check(&bad), -EINVAL);
	bad = entry;
	bad.name[sizeof(bad.name) - 1] = 'x'; /* bytes after the NUL */
	assert_int_equal(winapi_api_entry_check(&bad), -EINVAL);
	bad = entry;
	bad.name[0] = '\0';
	assert_int_equal(winapi_api_entry_check(&bad), -EINVAL);
	bad = entry;
	bad.api_id = 0;
	assert_int_equal(winapi_api_entry_check(&bad), -EINVAL);
	bad.api_id = WINAPI_API_LIST;
	assert_int_equal(winapi_api_entry_check(&bad), -EINVAL);
	bad = entry;
	bad.version = 0x0005; /* major 0 */
	assert_int_equal(winapi_api_entry_check(&bad), -EINVAL);
	bad = entry;
	bad.max_reply = WINAPI_MAX_INLINE_DATA + 1;
	assert_int_equal(winapi_api_entry_check(&bad), -EINVAL);
	bad = entry;
	bad.flags = 0x80;
	assert_int_equal(winapi_api_entry_check(&bad), -EINVAL);
	bad = entry;
	bad.buffer_access[0] = 4;
	assert_int_equal(winapi_api_entry_check(&bad), -EINVAL);
	bad = entry;
	bad.buffer_access[2] = WINAPI_ACCESS_HOST_WRITES; /* after the first 0 */
	assert_int_equal(winapi_api_entry_check(&bad), -EINVAL);
}

static void test_list_round_trip(void **state)
{
	struct winapi_api_entry entries[3] = { make_entry(7), make_entry(8), make_entry(900) };
	struct winapi_api_entry decoded[3];
	struct winapi_api_list_reply list = { .protocol_oldest = 0x100, .protocol_newest = 0x101, .api_count = 10,
					      .first = 4, .entry_count = 3 }, back;
	uint8_t bytes[WINAPI_MAX_INLINE_DATA];
	int size;

	(void)state;
	size = winapi_api_list_reply_encode(&list, entries, bytes, sizeof(bytes));
	assert_int_equal(size, 16 + 3 * 64);
	/* Little-endian at the documented offsets. */
	assert_int_equal(bytes[0] | bytes[1] << 8, 0x100);
	assert_int_equal(bytes[4], 10);
	assert_int_equal(bytes[16 + 64 + 40], 8);
	assert_int_equal(bytes[16 + 128 + 40] | bytes[16 + 128 + 41] << 8, 900);
	assert_int_equal(winapi_api_list_reply_decode(bytes, (size_t)size, &back, decoded, 3), 0);
	assert_memory_equal(decoded, entries, sizeof(entries));
	assert_int_equal(back.first, 4);
	assert_int_equal(winapi_api_list_reply_decode(bytes, (size_t)size, &back, decoded, 2), -ENOBUFS);

	/* Every length but the exact one, and heads that contradict themselves. */
	assert_int_equal(winapi_api_list_reply_decode(bytes, (size_t)size - 1, &back, decoded, 3), -EBADMSG);
	assert_int_equal(winapi_api_list_reply_decode(bytes, (size_t)size + 8, &back, decoded, 3), -EBADMSG);
	assert_int_equal(winapi_api_list_reply_decode(bytes, 15, &back, decoded, 3), -EBADMSG);
	bytes[4] = 6; /* api_count 6 < first 4 + 3 entries */
	assert_int_equal(winapi_api_list_reply_decode(bytes, (size_t)size, &back, decoded, 3), -EBADMSG);
	bytes[4] = 10;
	bytes[2] = 0xff; /* newest 0x1ff... */
	bytes[3] = 0x00;
	bytes[0] = 0x00;
	bytes[1] = 0x02; /* ...oldest 0x200 > newest */
	assert_int_equal(winapi_api_list_reply_decode(bytes, (size_t)size, &back, decoded, 3), -EBADMSG);
	bytes[0] = 0x00;
	bytes[1] = 0x01;
	bytes[16 + 5] = 'A'; /* an entry that fails its check */
	assert_int_equal(winapi_api_list_reply_decode(bytes, (size_t)size, &back, decoded, 3), -EBADMSG);

	/* Encode refuses what decode would. */
	entries[1].flags = 0x40;
	assert_int_equal(winapi_api_list_reply_encode(&list, entries, bytes, sizeof(bytes)), -EINVAL);
	list.entry_count = WINAPI_API_LIST_PAGE + 1;
	assert_int_equal(winapi_api_list_reply_encode(&list, entries, bytes, sizeof(bytes)), -EINVAL);
}

/* ---- event waits on the wire ---- */

static void test_event_wait_reply(void **state)
{
	const uint8_t first[3] = { 1, 2, 3 }, second[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
	const struct winapi_event_record events[2] = { { .sequence = 7, .length = 3, .data = first },
						       { .sequence = 9, .length = 8, .data = second } };
	struct winapi_event_wait_reply reply = { .subscription = 0x1234, .lost = 1, .event_count = 2 }, back;
	struct winapi_event_record decoded[2];
	struct winapi_event_wait_request wait;
	uint8_t bytes[256];
	int size;

	(void)state;
	size = winapi_event_wait_reply_encode(&reply, events, bytes, sizeof(bytes));
	assert_int_equal(size, 24 + (16 + 8) + (16 + 8));
	assert_int_equal(winapi_event_wait_reply_decode(bytes, (size_t)size, &back, decoded, 2), 0);
	assert_int_equal(back.lost, 1);
	assert_int_equal(decoded[1].sequence, 9);
	assert_memory_equal(decoded[0].data, first, 3);
	assert_int_equal(winapi_event_wait_reply_decode(bytes, (size_t)size, &back, decoded, 1), -ENOBUFS);
	/* Short, long, padding not zero, a length past the limit, unknown flags, subscription 0. */
	assert_int_equal(winapi_event_wait_reply_decode(bytes, (size_t)size - 8, &back, decoded, 2), -EBADMSG);
	assert_int_equal(winapi_event_wait_reply_decode(bytes, (size_t)size + 8, &back, decoded, 2), -EBADMSG);
	bytes[24 + 16 + 5] = 1;
	assert_int_equal(winapi_event_wait_reply_decode(bytes, (size_t)size, &back, decoded, 2), -EBADMSG);
	bytes[24 + 16 + 5] = 0;
	bytes[24 + 8] = 0xff;
	assert_int_equal(winapi_event_wait_reply_decode(bytes, (size_t)size, &back, decoded, 2), -EBADMSG);
	bytes[24 + 8] = 3;
	bytes[20] = 2;
	assert_int_equal(winapi_event_wait_reply_decode(bytes, (size_t)size, &back, decoded, 2), -EBADMSG);
	bytes[20] = 0;
	memset(bytes, 0, 8);
	assert_int_equal(winapi_event_wait_reply_decode(bytes, (size_t)size, &back, decoded, 2), -EBADMSG);

	winapi_event_wait_request_encode(&(struct winapi_event_wait_request){ .subscription = 5, .max_events = 0 },
					 bytes);
	assert_int_equal(winapi_event_wait_request_decode(bytes, 16, &wait), -EBADMSG);
	winapi_event_wait_request_encode(&(struct winapi_event_wait_request){ .subscription = 5, .max_events = 1,
									      .wait_ms = WINAPI_EVENT_MAX_WAIT_MS + 1 },
					 bytes);
	assert_int_equal(winapi_event_wait_request_decode(bytes, 16, &wait), -EBADMSG);
}

/* ---- the guest reading a fake host's table ---- */

enum fake_fault { FAKE_NONE, FAKE_OLD_HOST, FAKE_WRONG_FIRST, FAKE_GROWS, FAKE_DUPLICATE, FAKE_TIMEOUT,
		  FAKE_SHORT_PAGE };

struct fake_host {
	struct winapi_api_entry entries[MANY];
	unsigned int count;
	enum fake_fault fault;
	unsigned int calls;
};

static int fake_call(void *context, struct winapi_call *call)
{
	struct fake_host *host = context;
	struct winapi_api_list_request request;
	struct winapi_api_list_reply list = { .protocol_oldest = 0x100, .protocol_newest = 0x101 };
	struct winapi_api_entry page[WINAPI_API_LIST_PAGE];
	int size;

	host->calls++;
	assert_int_equal(call->api_id, WINAPI_API_LIST);
	assert_int_equal(winapi_api_list_request_decode(call->request_data, call->request_length, &request), 0);
	if (host->fault == FAKE_OLD_HOST)
		return -EOPNOTSUPP;
	if (host->fault == FAKE_TIMEOUT)
		return -ETIMEDOUT;
	list.api_count = host->count + (host->fault == FAKE_GROWS ? host->calls : 0);
	list.first = request.first + (host->fault == FAKE_WRONG_FIRST && request.first != 0);
	while (list.entry_count < WINAPI_API_LIST_PAGE && list.first + list.entry_count < host->count &&
	       !(host->fault == FAKE_SHORT_PAGE && list.entry_count == 0 && request.first != 0)) {
		page[list.entry_count] = host->entries[list.first + list.entry_count];
		list.entry_count++;
	}
	if (host->fault == FAKE_DUPLICATE && request.first != 0)
		page[0] = host->entries[0];
	size = winapi_api_list_reply_encode(&list, page, call->reply_data, call->reply_capacity);
	assert_true(size > 0);
	call->reply_length = (uint32_t)size;
	return 0;
}

static void fake_host_init(struct fake_host *host, enum fake_fault fault)
{
	unsigned int i;

	memset(host, 0, sizeof(*host));
	for (i = 0; i < MANY; i++)
		host->entries[i] = make_entry(i + 1);
	host->count = MANY;
	host->fault = fault;
}

static void test_fetch_pages(void **state)
{
	struct winapi_api_table table;
	struct fake_host host;
	const struct winapi_api_entry *found;

	(void)state;
	fake_host_init(&host, FAKE_NONE);
	assert_int_equal(winapi_api_table_fetch(&table, fake_call, &host), 0);
	/* 120 entries, 47 a page: three calls. */
	assert_int_equal(host.calls, 3);
	assert_int_equal(table.count, MANY);
	assert_true(table.listed);
	assert_int_equal(table.protocol_newest, 0x101);
	found = winapi_api_table_find(&table, 100);
	assert_non_null(found);
	assert_string_equal(found->name, "test.api-100");
	found = winapi_api_table_find_name(&table, "test.api-7");
	assert_non_null(found);
	assert_int_equal(found->api_id, 7);
	assert_null(winapi_api_table_find(&table, 121));
	assert_null(winapi_api_table_find(&table, WINAPI_API_LIST));
	assert_null(winapi_api_table_find_name(&table, "test.api-0"));
	winapi_api_table_free(&table);
}

static void test_fetch_old_host(void **state)
{
	struct winapi_api_table table;
	struct fake_host host;

	(void)state;
	fake_host_init(&host, FAKE_OLD_HOST);
	assert_int_equal(winapi_api_table_fetch(&table, fake_call, &host), 0);
	assert_false(table.listed);
	assert_int_equal(table.count, 3);
	assert_int_equal(table.protocol_newest, 0x100);
	assert_string_equal(winapi_api_table_find(&table, WINAPI_API_ECHO)->name, "winapi.echo");
	assert_non_null(winapi_api_table_find_name(&table, "winapi.perf_test"));
	winapi_api_table_free(&table);
}

static void test_fetch_refuses_bad_hosts(void **state)
{
	struct winapi_api_table table;
	struct fake_host host;

	(void)state;
	fake_host_init(&host, FAKE_WRONG_FIRST);
	assert_int_equal(winapi_api_table_fetch(&table, fake_call, &host), -EBADMSG);
	fake_host_init(&host, FAKE_DUPLICATE);
	assert_int_equal(winapi_api_table_fetch(&table, fake_call, &host), -EBADMSG);
	fake_host_init(&host, FAKE_SHORT_PAGE);
	assert_int_equal(winapi_api_table_fetch(&table, fake_call, &host), -EBADMSG);
	fake_host_init(&host, FAKE_TIMEOUT);
	assert_int_equal(winapi_api_table_fetch(&table, fake_call, &host), -ETIMEDOUT);
	/* A table that changes under every reading: tried a few times, then given up. */
	fake_host_init(&host, FAKE_GROWS);
	assert_int_equal(winapi_api_table_fetch(&table, fake_call, &host), -EAGAIN);
	assert_true(host.calls <= 4 * 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entry_checks),
		cmocka_unit_test(test_list_round_trip),
		cmocka_unit_test(test_event_wait_reply),
		cmocka_unit_test(test_fetch_pages),
		cmocka_unit_test(test_fetch_old_host),
		cmocka_unit_test(test_fetch_refuses_bad_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
