/* SPDX-License-Identifier: BSD-3-Clause */
#include "host_private.h"

/* ECHO: the inline data goes back as it came. It takes no buffers. */
void winapi_host_echo(struct winapi_host *host, const struct winapi_message *request,
		      struct winapi_host_reply *reply)
{
	(void)host;
	if (request->buffer_count != 0) {
		reply->status = WINAPI_STATUS_BAD_MESSAGE;
		return;
	}
	reply->status = WINAPI_STATUS_OK;
	reply->data = request->inline_data;
	reply->length = request->inline_length;
}
