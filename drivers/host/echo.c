/* SPDX-License-Identifier: BSD-3-Clause */
#include "host_private.h"

/* ECHO: the inline data goes back as it came. It takes no buffers. */
void winapi_host_echo(struct winapi_host_context *host, const struct winapi_host_request *request,
		      struct winapi_host_reply *reply)
{
	const struct winapi_message *message = request->message;

	(void)host;
	if (message->buffer_count != 0) {
		reply->status = WINAPI_STATUS_BAD_MESSAGE;
		return;
	}
	reply->status = WINAPI_STATUS_OK;
	reply->data = message->inline_data;
	reply->length = message->inline_length;
}
