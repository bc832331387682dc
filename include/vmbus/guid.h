/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * GUIDs as VMBus carries them: 16 bytes in the Windows layout (first three groups
 * little-endian, the last two as written), the layout of the kernel's guid_t and of the
 * channel offer. The text form is the usual 8-4-4-4-12 hex, as sysfs prints `class_id`.
 *
 * Owner: lib/vmbus
 */
#ifndef VMBUS_GUID_H
#define VMBUS_GUID_H

#include <stdbool.h>
#include <stdint.h>

struct vmbus_guid {
	uint8_t bytes[16];
};

/** Characters of the text form, terminating NUL included. */
#define VMBUS_GUID_STRING_SIZE 37

/**
 * Parse "6ac83d8f-6e16-4e5c-ab3d-fd8c5a4b7e21", optionally in braces, either case.
 * @return 0; -EINVAL if @p text is not exactly a GUID.
 */
int vmbus_guid_parse(const char *text, struct vmbus_guid *guid);

/** Format in lower case into @p text (VMBUS_GUID_STRING_SIZE bytes). Returns @p text. */
char *vmbus_guid_format(const struct vmbus_guid *guid, char text[VMBUS_GUID_STRING_SIZE]);

bool vmbus_guid_equal(const struct vmbus_guid *a, const struct vmbus_guid *b);

#endif /* VMBUS_GUID_H */
