/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC32C for the Windows build of the host service: isa-l is not packaged for mingw-w64, so
 * this uses the SSE4.2 crc32 instruction (every x86-64 CPU that runs Hyper-V has it). The
 * Linux build uses isa-l (crc32c.c); protocol_ut checks the two agree.
 */
#include <nmmintrin.h>
#include <string.h>

#include <winapi/protocol.h>

#ifndef WINAPI_CRC32C_FUNCTION
#define WINAPI_CRC32C_FUNCTION winapi_crc32c
#endif

uint32_t WINAPI_CRC32C_FUNCTION(uint32_t crc, const void *data, size_t length);

__attribute__((target("sse4.2"))) uint32_t WINAPI_CRC32C_FUNCTION(uint32_t crc, const void *data, size_t length)
{
	const unsigned char *bytes = data;
	uint64_t state = ~crc;
	uint64_t word;

	for (; length >= 8; bytes += 8, length -= 8) {
		memcpy(&word, bytes, sizeof(word));
		state = _mm_crc32_u64(state, word);
	}
	/* A message header's checksum covers 60 bytes: one 4-byte step, not four 1-byte ones. */
	if (length >= 4) {
		uint32_t half;

		memcpy(&half, bytes, sizeof(half));
		state = _mm_crc32_u32((uint32_t)state, half);
		bytes += 4;
		length -= 4;
	}
	for (; length > 0; bytes++, length--)
		state = _mm_crc32_u8((uint32_t)state, *bytes);
	return ~(uint32_t)state;
}
