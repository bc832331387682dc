/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * host.time and host.info (<winapi/host_apis.h>): the same handlers in every host of both
 * builds; the machine is read through system.h.
 */
#include <errno.h>
#include <string.h>

#include <winapi/host_apis.h>

#include "host_private.h"
#include "system.h"

void winapi_host_text_copy(char *field, size_t size, const char *text)
{
	const unsigned char *bytes = (const unsigned char *)text;
	size_t in = 0, out = 0, length;

	if (size == 0)
		return;
	while (bytes[in] != 0) {
		length = bytes[in] < 0x80 ? 1 : (bytes[in] & 0xe0) == 0xc0 ? 2 : (bytes[in] & 0xf0) == 0xe0 ? 3 :
			 (bytes[in] & 0xf8) == 0xf0 ? 4 : 0;
		/* A sequence cut by the text's end holds its NUL, which no continuation byte is. */
		if (length == 0 || !winapi_utf8_valid(bytes + in, length)) {
			if (out + 1 >= size)
				break;
			field[out++] = '?';
			in++;
			continue;
		}
		if (out + length >= size)
			break;
		memcpy(field + out, bytes + in, length);
		out += length;
		in += length;
	}
	memset(field + out, 0, size - out);
}

/*
 * Nothing before the clock reads: the guest's offset estimate pays for every nanosecond here.
 * Neither API takes input or buffers, and dispatch refuses a request with either
 * (check_against(): max_request 0, no buffer_access).
 */
static void host_time(struct winapi_host_context *host, const struct winapi_host_request *request,
		      struct winapi_host_reply *reply)
{
	struct winapi_host_time time;
	uint8_t *out;

	(void)request;
	if (winapi_host_system_time(&time) != 0) {
		reply->status = WINAPI_STATUS_INTERNAL;
		return;
	}
	out = winapi_host_reply_space(host);
	winapi_host_time_encode(&time, out);
	reply->status = WINAPI_STATUS_OK;
	reply->data = out;
	reply->length = WINAPI_HOST_TIME_SIZE;
}

static void host_info(struct winapi_host_context *host, const struct winapi_host_request *request,
		      struct winapi_host_reply *reply)
{
	struct winapi_host_info info;
	uint8_t *out;

	(void)request;
	if (winapi_host_system_info(&info) != 0) {
		reply->status = WINAPI_STATUS_INTERNAL;
		return;
	}
	out = winapi_host_reply_space(host);
	winapi_host_info_encode(&info, out);
	reply->status = WINAPI_STATUS_OK;
	reply->data = out;
	reply->length = WINAPI_HOST_INFO_SIZE;
}

const struct winapi_host_api winapi_host_time_api = {
	.entry = { .name = WINAPI_HOST_TIME_NAME, .api_id = WINAPI_HOST_TIME_ID, .version = WINAPI_HOST_TIME_VERSION,
		   .max_request = 0, .max_reply = WINAPI_HOST_TIME_SIZE },
	.handler = host_time,
};

const struct winapi_host_api winapi_host_info_api = {
	.entry = { .name = WINAPI_HOST_INFO_NAME, .api_id = WINAPI_HOST_INFO_ID, .version = WINAPI_HOST_INFO_VERSION,
		   .max_request = 0, .max_reply = WINAPI_HOST_INFO_SIZE },
	.handler = host_info,
};

int winapi_host_register_apis(void)
{
	static const struct winapi_host_api *const apis[] = { &winapi_host_tick_api, &winapi_host_time_api,
							      &winapi_host_info_api,   &winapi_host_file_apis[0],
							      &winapi_host_file_apis[1], &winapi_host_file_apis[2],
							      &winapi_host_file_apis[3] };
	unsigned int i;
	int rc;

	for (i = 0; i < sizeof(apis) / sizeof(apis[0]); i++) {
		rc = winapi_host_api_register(apis[i]);
		/* Registered before (a test's second host): the same descriptor is not a conflict. */
		if (rc == -EEXIST && winapi_host_api_find(apis[i]->entry.api_id) == apis[i])
			rc = 0;
		if (rc != 0)
			return rc;
	}
	return 0;
}
