/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The transports liblowlat may attach, in the order they are tried when WINAPI_TRANSPORT is
 * unset (the automatic ones). An explicit list rather than constructors: a program that links
 * liblowlat.a statically keeps every transport without --whole-archive. Adding a transport is
 * a driver directory and one line here.
 */
#include <stddef.h>

#include <winapi_internal/transport.h>

extern const struct winapi_transport winapi_transport_uio;
extern const struct winapi_transport winapi_transport_sim;
extern const struct winapi_transport winapi_transport_pmd;
extern const struct winapi_transport winapi_transport_hvsock;

const struct winapi_transport *const winapi_transports[] = {
	&winapi_transport_uio,    /* drivers/winapi: a real winapi device, uio_hv_generic */
	&winapi_transport_sim,    /* drivers/winapi: the host emulator, where there is none */
	&winapi_transport_pmd,    /* drivers/winapi: through winapi-pmd */
	&winapi_transport_hvsock, /* drivers/hvsock: the Hyper-V socket (WSL2) */
	NULL,
};
