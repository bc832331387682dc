/* SPDX-License-Identifier: BSD-3-Clause */
/* drivers/host internals: the handler table's contract. */
#ifndef DRIVERS_HOST_PRIVATE_H
#define DRIVERS_HOST_PRIVATE_H

#include <stdint.h>

#include <winapi/host.h>
#include <winapi/protocol.h>

/* What a handler answers; data must stay valid until the completion is written. */
struct winapi_host_reply {
	uint32_t status;  /* enum winapi_status */
	const void *data; /* inline reply bytes */
	uint32_t length;
};

/*
 * One API. The request was decoded and validated as a message; the handler validates what is
 * specific to its API (buffer counts, lengths, operation codes) and never trusts it further.
 */
typedef void winapi_host_handler(struct winapi_host *host, const struct winapi_message *request,
				 struct winapi_host_reply *reply);

winapi_host_handler winapi_host_echo;

#endif /* DRIVERS_HOST_PRIVATE_H */
