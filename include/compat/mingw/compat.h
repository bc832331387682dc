/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Included first in every file of the mingw-w64 build (-include): what Linux has and
 * Windows' C runtime does not, for the portable sources the service shares.
 */
#ifndef COMPAT_MINGW_COMPAT_H
#define COMPAT_MINGW_COMPAT_H

#include <errno.h>

/* Linux's value; the service only ever maps it to a status, never reports it to the OS. */
#ifndef EREMOTEIO
#define EREMOTEIO 121
#endif

#endif
