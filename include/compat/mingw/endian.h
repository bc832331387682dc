/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * <endian.h> for the mingw-w64 build, which has none: Windows runs little-endian on every
 * architecture it supports, so the conversions are identities.
 */
#ifndef COMPAT_MINGW_ENDIAN_H
#define COMPAT_MINGW_ENDIAN_H

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "this header assumes a little-endian Windows target"
#endif

#define htole16(x) ((uint16_t)(x))
#define htole32(x) ((uint32_t)(x))
#define htole64(x) ((uint64_t)(x))
#define le16toh(x) ((uint16_t)(x))
#define le32toh(x) ((uint32_t)(x))
#define le64toh(x) ((uint64_t)(x))

#endif
