/* SPDX-License-Identifier: BSD-3-Clause */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <vmbus/guid.h>

/*
 * Byte i of the text (in the order the hex digits appear) lands at guid->bytes[text_order[i]]:
 * Data1, Data2 and Data3 are stored little-endian in the Windows layout.
 */
static const uint8_t text_order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int vmbus_guid_parse(const char *text, struct vmbus_guid *guid)
{
	size_t length, position = 0;
	unsigned int byte = 0;
	bool braces;

	if (text == NULL || guid == NULL)
		return -EINVAL;
	length = strlen(text);
	braces = length == 38 && text[0] == '{' && text[37] == '}';
	if (length != 36 && !braces)
		return -EINVAL;
	if (braces)
		text++;

	while (byte < 16) {
		int high, low;

		if (position == 8 || position == 13 || position == 18 || position == 23) {
			if (text[position] != '-')
				return -EINVAL;
			position++;
			continue;
		}
		high = hex_value(text[position]);
		low = hex_value(text[position + 1]);
		if (high < 0 || low < 0)
			return -EINVAL;
		guid->bytes[text_order[byte]] = (uint8_t)(high << 4 | low);
		byte++;
		position += 2;
	}
	return 0;
}

char *vmbus_guid_format(const struct vmbus_guid *guid, char text[VMBUS_GUID_STRING_SIZE])
{
	const uint8_t *b = guid->bytes;

	snprintf(text, VMBUS_GUID_STRING_SIZE,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return text;
}

bool vmbus_guid_equal(const struct vmbus_guid *a, const struct vmbus_guid *b)
{
	return memcmp(a->bytes, b->bytes, sizeof(a->bytes)) == 0;
}
