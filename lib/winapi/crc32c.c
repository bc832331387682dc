/* SPDX-License-Identifier: BSD-3-Clause */
/* CRC32C with isa-l, which picks the fastest kernel this CPU has (PCLMUL folding, SSE4.2). */
#include <limits.h>

#include <isa-l/crc.h>

#include <winapi/protocol.h>

uint32_t winapi_crc32c(uint32_t crc, const void *data, size_t length)
{
	const unsigned char *bytes = data;

	/* isa-l's crc32_iscsi() is the raw update (no inversions) and takes an int length. */
	crc = ~crc;
	while (length > 0) {
		int chunk = length > (size_t)INT_MAX ? INT_MAX & ~7 : (int)length;

		crc = crc32_iscsi((unsigned char *)bytes, chunk, crc);
		bytes += chunk;
		length -= (size_t)chunk;
	}
	return ~crc;
}
