/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of what host.info's texts go through on the host (drivers/host/system.h): a
 * machine's names are bytes, not promised UTF-8, and the field is fixed in size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <winapi/protocol.h>

#include "../../drivers/host/system.h"

static void copy(char *field, size_t size, const char *text)
{
	memset(field, 0x55, size);
	winapi_host_text_copy(field, size, text);
}

static void assert_padded(const char *field, size_t size)
{
	size_t i;

	for (i = strlen(field); i < size; i++)
		assert_int_equal(field[i], 0);
}

static void test_fits(void **state)
{
	char field[16];

	(void)state;
	copy(field, sizeof(field), "h\xc3\xb4te");
	assert_string_equal(field, "h\xc3\xb4te");
	assert_padded(field, sizeof(field));
	copy(field, sizeof(field), "");
	assert_string_equal(field, "");
	assert_padded(field, sizeof(field));
}

static void test_cut_at_a_character(void **state)
{
	char field[8];

	(void)state;
	copy(field, sizeof(field), "abcdefghij");
	assert_string_equal(field, "abcdefg");
	/* Six bytes, then a three-byte character that would need two more than the field has. */
	copy(field, sizeof(field), "abcdef\xe2\x82\xac");
	assert_string_equal(field, "abcdef");
	assert_padded(field, sizeof(field));
	copy(field, sizeof(field), "abcd\xe2\x82\xac");
	assert_string_equal(field, "abcd\xe2\x82\xac");
}

static void test_not_utf8_replaced(void **state)
{
	char field[32];

	(void)state;
	copy(field, sizeof(field), "a\xff" "b\xc0\xaf" "c");
	assert_string_equal(field, "a?b??c");
	copy(field, sizeof(field), "cut\xe2\x82");
	assert_string_equal(field, "cut??");
	copy(field, sizeof(field), "\xed\xa0\x80"); /* a surrogate */
	assert_string_equal(field, "???");
	assert_true(winapi_utf8_valid(field, strlen(field)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_cut_at_a_character),
		cmocka_unit_test(test_not_utf8_replaced),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
