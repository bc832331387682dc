/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi_crc32c(c, page) = winapi_crc32c(0, page) ^ shift(c), where shift(c) is c's share of
 * the CRC register after 4096 more bytes: the inversions at both ends cancel in the XOR, and
 * what is left is linear in c. shift() is a 32x32 bit matrix, applied a byte of c at a time.
 * Compiled by every build (Linux with isa-l, Windows, the QEMU device): it only calls
 * winapi_crc32c(), whichever one the build has.
 */
#include <pthread.h>

#include <winapi/protocol.h>
#include <winapi_internal/crc32c.h>

static uint32_t page_shift[4][256];
static pthread_once_t page_shift_once = PTHREAD_ONCE_INIT;

static void page_shift_build(void)
{
	static const uint8_t zeros[WINAPI_CRC32C_PAGE_SIZE];
	uint32_t zero_crc = winapi_crc32c(0, zeros, sizeof(zeros)), image[32];
	unsigned int bit, byte, value;

	/* A bit of c carried through the page: the difference it makes to the page's CRC. */
	for (bit = 0; bit < 32; bit++)
		image[bit] = winapi_crc32c(1u << bit, zeros, sizeof(zeros)) ^ zero_crc;
	for (byte = 0; byte < 4; byte++) {
		page_shift[byte][0] = 0;
		for (value = 1; value < 256; value++)
			page_shift[byte][value] = page_shift[byte][value & (value - 1)] ^
						  image[8 * byte + (unsigned int)__builtin_ctz(value)];
	}
}

uint32_t winapi_crc32c_extend_page(uint32_t crc, uint32_t page_crc)
{
	pthread_once(&page_shift_once, page_shift_build);
	return page_crc ^ page_shift[0][crc & 0xff] ^ page_shift[1][(crc >> 8) & 0xff] ^
	       page_shift[2][(crc >> 16) & 0xff] ^ page_shift[3][crc >> 24];
}
