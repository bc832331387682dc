/* SPDX-License-Identifier: BSD-3-Clause */
/* The host's API table, asked for with LIST and checked (include/winapi_internal/api_table.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <winapi_internal/api_table.h>

/* Attempts at a table that a host registering APIs meanwhile keeps changing. */
#define FETCH_ATTEMPTS 4

static int fill(struct winapi_api_table *table, const struct winapi_api_entry *entries, unsigned int count)
{
	unsigned int i;

	memset(table->by_id, 0, sizeof(table->by_id));
	table->entries = calloc(count != 0 ? count : 1, sizeof(*entries));
	if (table->entries == NULL)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		if (table->by_id[entries[i].api_id] != 0 || winapi_api_table_find_name(table, entries[i].name) != NULL) {
			free(table->entries);
			table->entries = NULL;
			table->count = 0;
			return -EBADMSG;
		}
		table->entries[i] = entries[i];
		table->count = i + 1;
		table->by_id[entries[i].api_id] = (uint16_t)(i + 1);
	}
	return 0;
}

int winapi_api_table_seeds(struct winapi_api_table *table)
{
	memset(table, 0, sizeof(*table));
	table->protocol_oldest = WINAPI_PROTOCOL_VERSION_OLDEST;
	table->protocol_newest = WINAPI_PROTOCOL_VERSION_OLDEST;
	return fill(table, winapi_seed_apis, 3);
}

/* One page, from entry @first on, into @entries (room for the whole table). */
static int fetch_page(winapi_api_table_call_fn *call, void *context, uint32_t first,
		      struct winapi_api_list_reply *list, struct winapi_api_entry *entries)
{
	uint8_t request[sizeof(struct winapi_api_list_request)];
	uint8_t reply[WINAPI_MAX_INLINE_DATA];
	struct winapi_call list_call = {
		.api_id = WINAPI_API_LIST,
		.api_version = WINAPI_PROTOCOL_VERSION,
		.request_data = request,
		.request_length = sizeof(request),
		.reply_data = reply,
		.reply_capacity = sizeof(reply),
		.timeout_ms = -1,
	};
	int rc;

	winapi_api_list_request_encode(&(struct winapi_api_list_request){ .first = first }, request);
	rc = call(context, &list_call);
	if (rc != 0)
		return rc;
	rc = winapi_api_list_reply_decode(reply, list_call.reply_length, list, entries, WINAPI_API_LIST_PAGE);
	if (rc != 0 || list->first != first || (list->entry_count == 0 && first < list->api_count))
		return -EBADMSG;
	return 0;
}

static int fetch_once(struct winapi_api_table *table, winapi_api_table_call_fn *call, void *context)
{
	struct winapi_api_entry *entries = NULL;
	struct winapi_api_list_reply list, page;
	uint32_t got = 0;
	int rc;

	entries = malloc(sizeof(*entries) * (WINAPI_API_ID_MAX + WINAPI_API_LIST_PAGE));
	if (entries == NULL)
		return -ENOMEM;
	rc = fetch_page(call, context, 0, &list, entries);
	if (rc != 0)
		goto out_free;
	got = list.entry_count;
	while (got < list.api_count) {
		rc = fetch_page(call, context, got, &page, entries + got);
		if (rc != 0)
			goto out_free;
		if (page.api_count != list.api_count || page.protocol_oldest != list.protocol_oldest ||
		    page.protocol_newest != list.protocol_newest) {
			rc = -EAGAIN; /* registered meanwhile: read it again */
			goto out_free;
		}
		got += page.entry_count;
	}
	memset(table, 0, sizeof(*table));
	table->protocol_oldest = list.protocol_oldest;
	table->protocol_newest = list.protocol_newest;
	table->listed = true;
	rc = fill(table, entries, got);
out_free:
	free(entries);
	return rc;
}

int winapi_api_table_fetch(struct winapi_api_table *table, winapi_api_table_call_fn *call, void *context)
{
	int attempt, rc = -EAGAIN;

	for (attempt = 0; attempt < FETCH_ATTEMPTS && rc == -EAGAIN; attempt++)
		rc = fetch_once(table, call, context);
	/* A 1.0 host does not know LIST: it serves the seeds' APIs. */
	if (rc == -EOPNOTSUPP)
		rc = winapi_api_table_seeds(table);
	return rc;
}

void winapi_api_table_free(struct winapi_api_table *table)
{
	free(table->entries);
	table->entries = NULL;
	table->count = 0;
}

const struct winapi_api_entry *winapi_api_table_find(const struct winapi_api_table *table, uint16_t api_id)
{
	if (api_id > WINAPI_API_ID_MAX || table->by_id[api_id] == 0)
		return NULL;
	return &table->entries[table->by_id[api_id] - 1];
}

const struct winapi_api_entry *winapi_api_table_find_name(const struct winapi_api_table *table, const char *name)
{
	unsigned int i;

	for (i = 0; i < table->count; i++)
		if (strncmp(table->entries[i].name, name, WINAPI_API_NAME_SIZE) == 0)
			return &table->entries[i];
	return NULL;
}
