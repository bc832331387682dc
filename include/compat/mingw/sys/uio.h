/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * <sys/uio.h> for the mingw-w64 build: the VMBus headers the host's handlers share name
 * struct iovec in declarations; the Windows service never calls anything that takes one.
 */
#ifndef COMPAT_MINGW_SYS_UIO_H
#define COMPAT_MINGW_SYS_UIO_H

#include <stddef.h>

struct iovec {
	void *iov_base;
	size_t iov_len;
};

#endif
