// SPDX-License-Identifier: BSD-3-Clause
/*
 * make deb-test builds this against the installed libvmbus-dev (pkg-config libvmbus) and
 * runs it: the SDK's headers compile alone, and the shared library links and answers.
 */
#include <stdio.h>
#include <string.h>

#include <vmbus/guid.h>

int main(void)
{
	static const char text[] = "6ac83d8f-6e16-4e5c-ab3d-fd8c5a4b7e21";
	struct vmbus_guid guid;
	char back[VMBUS_GUID_STRING_SIZE];

	if (vmbus_guid_parse(text, &guid) != 0) {
		fprintf(stderr, "vmbus_guid_parse refused %s\n", text);
		return 1;
	}
	vmbus_guid_format(&guid, back);
	if (strcmp(back, text) != 0) {
		fprintf(stderr, "vmbus_guid_format gave %s for %s\n", back, text);
		return 1;
	}
	printf("libvmbus: %s parsed and formatted back\n", back);
	return 0;
}
