/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC32C of a page whose bytes are known without reading them. Not installed.
 *
 * Owner: lib/winapi
 */
#ifndef WINAPI_INTERNAL_CRC32C_H
#define WINAPI_INTERNAL_CRC32C_H

#include <stdint.h>

/* The length winapi_crc32c_extend_page() works for: a VMBus page (research/vmbus-spec.md). */
#define WINAPI_CRC32C_PAGE_SIZE 4096u

/*
 * What winapi_crc32c(@crc, page, WINAPI_CRC32C_PAGE_SIZE) returns, given @page_crc =
 * winapi_crc32c(0, page, WINAPI_CRC32C_PAGE_SIZE), without touching the page: CRC32C is
 * linear over GF(2), so continuing from @crc only adds @crc carried through 4096 zero bytes,
 * which four table lookups give. A host that has just proven a page equal to bytes it knows
 * (BUFFER_TEST's VERIFY and WRITE) checksums it at no cost per byte.
 *
 * Builds its tables on the first call (2 us); any thread may call it at any time.
 */
uint32_t winapi_crc32c_extend_page(uint32_t crc, uint32_t page_crc);

#endif
