/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The host's API table as a guest knows it (lib/requests): asked for with the control call
 * WINAPI_API_LIST (<winapi/protocol.h>), page by page, through whatever sends calls — a
 * transport's call (liblowlat) or the winapi driver's (winapi-pmd) — and looked up by id and
 * by name. A host that predates LIST (it answers -EOPNOTSUPP) gets the seeds' table. Every
 * byte of the host's answer is checked; a table with two APIs of one id or one name is
 * refused. Not installed.
 *
 * Synchronisation: a table is filled by one thread; once filled, lookups may run concurrently
 * from any thread until it is freed.
 *
 * Owner: lib/requests
 */
#ifndef WINAPI_INTERNAL_API_TABLE_H
#define WINAPI_INTERNAL_API_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include <winapi/protocol.h>
#include <winapi_internal/call.h>

struct winapi_api_table {
	uint16_t protocol_oldest;          /**< the host's protocol range (1.0..1.0: it predates LIST) */
	uint16_t protocol_newest;
	bool listed;                       /**< false: the host predates LIST, the seeds' table stands in */
	unsigned int count;
	struct winapi_api_entry *entries;  /**< count entries, in the host's order */
	uint16_t by_id[WINAPI_API_ID_MAX + 1]; /**< index + 1 into entries; 0: no such API */
};

/** How a call is sent: a transport's call or winapi_driver_call(). */
typedef int winapi_api_table_call_fn(void *context, struct winapi_call *call);

/**
 * Ask the host for its table through @p call and fill @p table.
 * @return 0; -EBADMSG (a reply that fails validation, pages that disagree, an id or name
 *         twice); -EAGAIN (the table kept changing while it was read); -ENOMEM; or the call's
 *         error (-ETIMEDOUT, -ENOTCONN, ...).
 */
int winapi_api_table_fetch(struct winapi_api_table *table, winapi_api_table_call_fn *call, void *context);

/** The seeds' table, as a host that predates LIST serves it. @return 0 or -ENOMEM. */
int winapi_api_table_seeds(struct winapi_api_table *table);

void winapi_api_table_free(struct winapi_api_table *table);

/** The entry of @p api_id, or NULL. */
const struct winapi_api_entry *winapi_api_table_find(const struct winapi_api_table *table, uint16_t api_id);

/** The entry named @p name, or NULL. */
const struct winapi_api_entry *winapi_api_table_find_name(const struct winapi_api_table *table, const char *name);

#endif /* WINAPI_INTERNAL_API_TABLE_H */
