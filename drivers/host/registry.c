/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The process's table of host APIs (include/winapi_internal/host_api.h): the seeds' three,
 * then whatever the program registers. Lookups run on every request, from any host thread,
 * without a lock: an API is published (release) only once its descriptor is complete, and is
 * never removed, so a reader that sees a pointer sees all it points at.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "host_private.h"

static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t seeds_once = PTHREAD_ONCE_INIT;
static struct winapi_host_api seed_apis[3];
static const struct winapi_host_api *apis[WINAPI_HOST_MAX_APIS]; /* in order; [count] published last */
static unsigned int api_count;                                     /* __atomic */
static const struct winapi_host_api *by_id[WINAPI_API_ID_MAX + 1];  /* __atomic */

static void publish(const struct winapi_host_api *api)
{
	unsigned int count = __atomic_load_n(&api_count, __ATOMIC_RELAXED);

	__atomic_store_n(&by_id[api->entry.api_id], api, __ATOMIC_RELEASE);
	apis[count] = api;
	__atomic_store_n(&api_count, count + 1, __ATOMIC_RELEASE);
}

/* The seeds' entries are <winapi/protocol.h>'s (what a guest assumes of a 1.0 host). */
static void register_seeds(void)
{
	static winapi_host_handler *const handlers[] = { winapi_host_echo, winapi_host_buffer_test,
							 winapi_host_perf_test };
	unsigned int i;

	pthread_mutex_lock(&register_lock);
	for (i = 0; i < 3; i++) {
		seed_apis[i] = (struct winapi_host_api){ .entry = winapi_seed_apis[i], .handler = handlers[i] };
		publish(&seed_apis[i]);
	}
	pthread_mutex_unlock(&register_lock);
}

static void ensure_seeds(void)
{
	pthread_once(&seeds_once, register_seeds);
}

int winapi_host_api_register(const struct winapi_host_api *api)
{
	unsigned int i, count;
	int rc = 0;

	if (api == NULL || winapi_api_entry_check(&api->entry) != 0 ||
	    (api->handler == NULL && api->events == NULL) ||
	    (api->events != NULL) != ((api->entry.flags & WINAPI_API_FLAG_EVENT_SOURCE) != 0) ||
	    (api->events != NULL && (api->events->subscribe == NULL || api->events->poll == NULL ||
				     api->events->unsubscribe == NULL)))
		return -EINVAL;
	ensure_seeds();
	pthread_mutex_lock(&register_lock);
	count = __atomic_load_n(&api_count, __ATOMIC_RELAXED);
	if (count == WINAPI_HOST_MAX_APIS) {
		rc = -ENOSPC;
		goto out_unlock;
	}
	for (i = 0; i < count; i++)
		if (apis[i]->entry.api_id == api->entry.api_id || strcmp(apis[i]->entry.name, api->entry.name) == 0) {
			rc = -EEXIST;
			goto out_unlock;
		}
	publish(api);
out_unlock:
	pthread_mutex_unlock(&register_lock);
	return rc;
}

const struct winapi_host_api *winapi_host_api_find(uint16_t api_id)
{
	ensure_seeds();
	return api_id <= WINAPI_API_ID_MAX ? __atomic_load_n(&by_id[api_id], __ATOMIC_ACQUIRE) : NULL;
}

const struct winapi_host_api *winapi_host_api_find_name(const char *name)
{
	unsigned int i, count;

	ensure_seeds();
	count = __atomic_load_n(&api_count, __ATOMIC_ACQUIRE);
	for (i = 0; i < count; i++)
		if (strcmp(apis[i]->entry.name, name) == 0)
			return apis[i];
	return NULL;
}

unsigned int winapi_host_api_count(void)
{
	ensure_seeds();
	return __atomic_load_n(&api_count, __ATOMIC_ACQUIRE);
}

const struct winapi_host_api *winapi_host_api_at(unsigned int index)
{
	return index < winapi_host_api_count() ? apis[index] : NULL;
}
