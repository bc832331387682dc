/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Any API the host serves: its table (asked for once per handle, with the control call LIST,
 * through the handle's transport), lookups, and the generic call the seed calls are made of.
 */
#include <errno.h>
#include <string.h>

#include <winapi/log.h>

#include "lowlat_private.h"

static int transport_call(void *context, struct winapi_call *call)
{
	winapi_handle_t handle = context;

	return handle->ops->call(handle->transport, call);
}

int lowlat_api_table(winapi_handle_t handle, const struct winapi_api_table **table)
{
	int rc = 0;

	if (!__atomic_load_n(&handle->apis_known, __ATOMIC_ACQUIRE)) {
		pthread_mutex_lock(&handle->apis_lock);
		if (!handle->apis_known) {
			rc = winapi_api_table_fetch(&handle->apis, transport_call, handle);
			if (rc == 0)
				__atomic_store_n(&handle->apis_known, true, __ATOMIC_RELEASE);
			else
				winapi_log(WINAPI_LOG_ERR, "lowlat", "cannot read the host's API table: %s",
					   winapi_strerror(rc));
		}
		pthread_mutex_unlock(&handle->apis_lock);
	}
	*table = &handle->apis;
	return rc;
}

int lowlat_api_entry(winapi_handle_t handle, uint16_t api_id, unsigned int version_major,
		     const struct winapi_api_entry **entry_out)
{
	const struct winapi_api_table *table;
	const struct winapi_api_entry *entry;
	int rc;

	if (!__atomic_load_n(&handle->apis_known, __ATOMIC_ACQUIRE) && api_id >= WINAPI_API_ECHO &&
	    api_id <= WINAPI_API_PERF_TEST) {
		entry = &winapi_seed_apis[api_id - WINAPI_API_ECHO];
	} else {
		rc = lowlat_api_table(handle, &table);
		if (rc != 0)
			return rc;
		entry = winapi_api_table_find(table, api_id);
		if (entry == NULL)
			return -EOPNOTSUPP;
	}
	if (entry->version >> 8 != version_major)
		return -EPROTONOSUPPORT;
	*entry_out = entry;
	return 0;
}

void lowlat_api_stamp(winapi_handle_t handle, const struct winapi_api_entry *entry, struct winapi_call *call)
{
	call->api_id = entry->api_id;
	/* The caller's major and the minor it found: the host checks the major. */
	call->api_version = entry->version;
	call->api_name = entry->api_id > WINAPI_API_PERF_TEST ? entry->name : NULL;
	call->buffer_access = call->api_name != NULL ? entry->buffer_access : NULL;
	/* hvsock carries the bytes: the host never writes this process's memory, nothing to hold. */
	if (handle->attachment->device != NULL) {
		call->hold_ops = &lowlat_hold_ops;
		call->hold_owner = handle->attachment;
	}
}

int lowlat_api_prepare(winapi_handle_t handle, const struct winapi_api_entry *entry,
		       const winapi_api_call_t *request, struct winapi_call *call,
		       struct winapi_call_buffer *call_buffers)
{
	size_t i;
	int rc;

	if ((request->input_length != 0 && request->input == NULL) ||
	    (request->output_size != 0 && request->output == NULL) ||
	    (request->buffer_count != 0 && request->buffers == NULL) ||
	    request->buffer_count > winapi_api_entry_buffers(entry))
		return -EINVAL;
	if (request->input_length > entry->max_request)
		return -EMSGSIZE;
	for (i = 0; i < request->buffer_count; i++) {
		rc = lowlat_call_buffer(handle, &request->buffers[i], 0, request->buffers[i].size, &call_buffers[i]);
		if (rc != 0)
			return rc;
	}
	memset(call, 0, sizeof(*call));
	lowlat_api_stamp(handle, entry, call);
	call->request_data = request->input;
	call->request_length = (uint32_t)request->input_length;
	call->reply_data = request->output;
	call->reply_capacity = (uint32_t)(request->output_size < entry->max_reply ? request->output_size :
									      entry->max_reply);
	call->buffers = call_buffers;
	call->buffer_count = (unsigned int)request->buffer_count;
	call->timeout_ms = -1;
	return 0;
}

int lowlat_seed_call(winapi_handle_t handle, struct winapi_call *call)
{
	const struct winapi_api_entry *entry;
	int rc = lowlat_api_entry(handle, call->api_id, 1, &entry);

	if (rc != 0)
		return rc;
	lowlat_api_stamp(handle, entry, call);
	return handle->ops->call(handle->transport, call);
}

int winapi_call_api(winapi_handle_t handle, const winapi_api_call_t *request, size_t *output_length)
{
	struct winapi_call_buffer call_buffers[WINAPI_MAX_BUFFERS];
	const struct winapi_api_entry *entry;
	struct winapi_call call;
	int rc;

	if (handle == NULL || request == NULL || request->version_major == 0)
		return -EINVAL;
	rc = lowlat_api_entry(handle, request->api, request->version_major, &entry);
	if (rc == 0)
		rc = lowlat_api_prepare(handle, entry, request, &call, call_buffers);
	if (rc == 0)
		rc = handle->ops->call(handle->transport, &call);
	if (output_length != NULL)
		*output_length = rc == 0 ? call.reply_length : 0;
	return rc;
}

int winapi_api_list(winapi_handle_t handle, winapi_api_info_t *apis, size_t max)
{
	const struct winapi_api_table *table;
	int rc;

	if (handle == NULL || (max != 0 && apis == NULL))
		return -EINVAL;
	rc = lowlat_api_table(handle, &table);
	if (rc != 0)
		return rc;
	memcpy(apis, table->entries, (table->count < max ? table->count : max) * sizeof(*apis));
	return (int)table->count;
}

int winapi_api_lookup(winapi_handle_t handle, const char *name, unsigned int version_major, winapi_api_info_t *info)
{
	const struct winapi_api_table *table;
	const struct winapi_api_entry *entry;
	int rc;

	if (handle == NULL || name == NULL || info == NULL || version_major == 0)
		return -EINVAL;
	rc = lowlat_api_table(handle, &table);
	if (rc != 0)
		return rc;
	entry = winapi_api_table_find_name(table, name);
	if (entry == NULL)
		return -ENOENT;
	*info = *entry;
	return entry->version >> 8 == version_major ? 0 : -EPROTONOSUPPORT;
}

int winapi_protocol_versions(winapi_handle_t handle, unsigned int *oldest, unsigned int *newest)
{
	const struct winapi_api_table *table;
	int rc;

	if (handle == NULL || oldest == NULL || newest == NULL)
		return -EINVAL;
	rc = lowlat_api_table(handle, &table);
	if (rc != 0)
		return rc;
	*oldest = table->protocol_oldest;
	*newest = table->protocol_newest;
	return 0;
}

/* ---- events ---- */

int winapi_subscribe(winapi_handle_t handle, uint16_t api, uint16_t version_major, const void *params,
		     size_t params_length, unsigned int depth, uint64_t *subscription)
{
	uint8_t request[WINAPI_MAX_INLINE_DATA], reply[sizeof(struct winapi_subscription)];
	const struct winapi_api_entry *entry;
	struct winapi_subscription decoded;
	struct winapi_call call;
	int rc;

	if (handle == NULL || subscription == NULL || version_major == 0 || depth > WINAPI_EVENT_MAX_DEPTH ||
	    (params_length != 0 && params == NULL))
		return -EINVAL;
	if (params_length > sizeof(request) - sizeof(struct winapi_subscribe_request))
		return -EMSGSIZE;
	rc = lowlat_api_entry(handle, api, version_major, &entry);
	if (rc != 0)
		return rc;
	if (!(entry->flags & WINAPI_API_FLAG_EVENT_SOURCE))
		return -EINVAL;
	winapi_subscribe_request_encode(&(struct winapi_subscribe_request){ .api_id = api, .api_version = entry->version,
									    .depth = depth },
					request);
	if (params_length != 0)
		memcpy(request + sizeof(struct winapi_subscribe_request), params, params_length);
	call = (struct winapi_call){
		.api_id = WINAPI_API_SUBSCRIBE,
		.api_version = WINAPI_PROTOCOL_VERSION,
		.api_name = WINAPI_API_SUBSCRIBE_NAME,
		.request_data = request,
		.request_length = (uint32_t)(sizeof(struct winapi_subscribe_request) + params_length),
		.reply_data = reply,
		.reply_capacity = sizeof(reply),
		.timeout_ms = -1,
	};
	rc = handle->ops->call(handle->transport, &call);
	if (rc != 0)
		return rc;
	if (winapi_subscription_decode(reply, call.reply_length, &decoded) != 0)
		return -EBADMSG;
	*subscription = decoded.id;
	return 0;
}

int winapi_unsubscribe(winapi_handle_t handle, uint64_t subscription)
{
	uint8_t request[sizeof(struct winapi_subscription)];
	struct winapi_call call = {
		.api_id = WINAPI_API_UNSUBSCRIBE,
		.api_version = WINAPI_PROTOCOL_VERSION,
		.api_name = WINAPI_API_UNSUBSCRIBE_NAME,
		.request_data = request,
		.request_length = sizeof(request),
		.timeout_ms = -1,
	};

	if (handle == NULL || subscription == 0)
		return -EINVAL;
	winapi_subscription_encode(&(struct winapi_subscription){ .id = subscription }, request);
	return handle->ops->call(handle->transport, &call);
}
