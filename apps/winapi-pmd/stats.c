/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-pmd's counters: the telemetry commands that publish them, and `winapi-pmd --stats`,
 * which reads them back through the same socket (so what it prints is what any DPDK
 * telemetry client sees).
 *
 *   /winapi/stats        daemon totals (clients attached, refused, reclaimed; pool memory;
 *                        the host's APIs and the policy file)
 *   /winapi/workers      one object per worker
 *   /winapi/clients      ids of the attached clients
 *   /winapi/client,ID    one client's counters; its pid and uid only to root and to that uid
 *                        (group members see each other's counters, not whose they are)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <winapi_internal/telemetry.h>

#include "pmd.h"

static const char *const state_names[] = {
	[PMD_CLIENT_ACTIVE] = "active",
	[PMD_CLIENT_LEAVING] = "leaving",
	[PMD_CLIENT_RECLAIMABLE] = "reclaimable",
};

static int stats_totals(const char *command, const char *params, void *context, json_t **value)
{
	struct pmd *pmd = context;
	const struct pmd_totals *totals = &pmd->totals;
	unsigned int clients;

	(void)command;
	(void)params;
	pthread_mutex_lock(&pmd->table_lock);
	clients = pmd->client_count;
	pthread_mutex_unlock(&pmd->table_lock);
	*value = json_pack("{s:I, s:s, s:i, s:s, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			   "uptime_ms", (json_int_t)((winapi_clock_now_ns() - pmd->started_ns) / 1000000u),
			   "backend", vmbus_device_backend_name(pmd->device),
			   "apis", (int)pmd->apis.count,
			   "policy", pmd->policy != NULL ? pmd_policy_file(pmd->policy) : "",
			   "numa_node", vmbus_device_numa_node(pmd->device),
			   "channels", (int)vmbus_device_channel_count(pmd->device),
			   "workers", (int)pmd->worker_count,
			   "clients", (int)clients,
			   "clients_attached", (json_int_t)winapi_counter_read(&totals->clients_attached),
			   "clients_refused", (json_int_t)winapi_counter_read(&totals->clients_refused),
			   "clients_reclaimed", (json_int_t)winapi_counter_read(&totals->clients_reclaimed),
			   "pool_bytes_in_use", (json_int_t)winapi_counter_read(&totals->pool_bytes_in_use),
			   "pool_bytes_reclaimed", (json_int_t)winapi_counter_read(&totals->pool_bytes_reclaimed),
			   "pool_bytes_quarantined", (json_int_t)winapi_counter_read(&totals->pool_bytes_quarantined),
			   "requests_dropped", (json_int_t)winapi_counter_read(&totals->requests_dropped));
	return *value != NULL ? 0 : -ENOMEM;
}

static json_t *worker_json(struct pmd *pmd, const struct pmd_worker *worker)
{
	const struct pmd_worker_stats *stats = &worker->stats;
	unsigned int clients;

	pthread_mutex_lock(&pmd->table_lock);
	clients = worker->clients;
	pthread_mutex_unlock(&pmd->table_lock);
	return json_pack("{s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "worker", (int)worker->index,
			 "channel", (int)worker->index,
			 "lcore", worker->cpu,
			 "clients", (int)clients,
			 "in_flight", (json_int_t)__atomic_load_n(&worker->in_flight, __ATOMIC_RELAXED),
			 "requests", (json_int_t)winapi_counter_read(&stats->requests),
			 "completions", (json_int_t)winapi_counter_read(&stats->completions),
			 "batches", (json_int_t)winapi_counter_read(&stats->batches),
			 "busy_ns", (json_int_t)winapi_counter_read(&stats->busy_ns),
			 "idle_ns", (json_int_t)winapi_counter_read(&stats->idle_ns),
			 "sleeps", (json_int_t)winapi_counter_read(&stats->sleeps),
			 "parked", (json_int_t)winapi_counter_read(&stats->parked),
			 "ring_full", (json_int_t)winapi_counter_read(&stats->ring_full),
			 "client_ring_full", (json_int_t)winapi_counter_read(&stats->client_ring_full));
}

static int stats_workers(const char *command, const char *params, void *context, json_t **value)
{
	struct pmd *pmd = context;
	unsigned int i;

	(void)command;
	(void)params;
	*value = json_array();
	for (i = 0; *value != NULL && i < pmd->worker_count; i++)
		if (json_array_append_new(*value, worker_json(pmd, &pmd->workers[i])) != 0)
			return -ENOMEM;
	return *value != NULL ? 0 : -ENOMEM;
}

static int stats_clients(const char *command, const char *params, void *context, json_t **value)
{
	struct pmd *pmd = context;
	struct pmd_client *client;
	int rc = 0;

	(void)command;
	(void)params;
	*value = json_array();
	if (*value == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&pmd->table_lock);
	cds_list_for_each_entry(client, &pmd->clients, node)
		if (json_array_append_new(*value, json_integer((json_int_t)client->id)) != 0)
			rc = -ENOMEM;
	pthread_mutex_unlock(&pmd->table_lock);
	return rc;
}

static int stats_client(const char *command, const char *params, void *context, json_t **value)
{
	struct pmd *pmd = context;
	struct pmd_client *client;
	unsigned long long id;
	char *end;
	int state;

	(void)command;
	errno = 0;
	id = strtoull(params, &end, 10);
	if (params[0] < '0' || params[0] > '9' || *end != '\0' || errno != 0)
		return -EINVAL;
	*value = NULL;
	pthread_mutex_lock(&pmd->table_lock);
	cds_list_for_each_entry(client, &pmd->clients, node) {
		if (client->id != id)
			continue;
		state = __atomic_load_n(&client->state, __ATOMIC_ACQUIRE);
		*value = json_pack("{s:I, s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
				   "id", (json_int_t)client->id,
				   "worker", (int)client->worker,
				   "state", state_names[state],
				   "leave_reason", state == PMD_CLIENT_ACTIVE ? "" :
						   __atomic_load_n(&client->leave_reason, __ATOMIC_ACQUIRE),
				   "pool_bytes", (json_int_t)client->pool_size,
				   "in_flight", (json_int_t)__atomic_load_n(&client->in_flight, __ATOMIC_RELAXED),
				   "bytes_in_flight", (json_int_t)__atomic_load_n(&client->bytes_in_flight,
										  __ATOMIC_RELAXED),
				   "requests", (json_int_t)winapi_counter_read(&client->stats.requests),
				   "completions", (json_int_t)winapi_counter_read(&client->stats.completions),
				   "rejected", (json_int_t)winapi_counter_read(&client->stats.rejected),
				   "bad_buffers", (json_int_t)winapi_counter_read(&client->stats.bad_buffers),
				   "denied", (json_int_t)winapi_counter_read(&client->stats.denied),
				   "dropped", (json_int_t)winapi_counter_read(&client->stats.dropped),
				   "timeouts", (json_int_t)winapi_counter_read(&client->stats.timeouts));
		if (*value != NULL && pmd_telemetry_requester_may_see(client->uid) &&
		    json_object_update_new(*value, json_pack("{s:i, s:i}", "pid", (int)client->pid, "uid",
							      (int)client->uid)) != 0) {
			json_decref(*value);
			*value = NULL;
		}
		break;
	}
	pthread_mutex_unlock(&pmd->table_lock);
	return *value != NULL ? 0 : -ENOENT;
}

int pmd_stats_register(struct pmd *pmd, struct pmd_telemetry *telemetry)
{
	int rc;

	rc = pmd_telemetry_register(telemetry, "/winapi/stats", stats_totals, pmd,
				    "Daemon totals: clients attached, refused and reclaimed; pool memory");
	if (rc == 0)
		rc = pmd_telemetry_register(telemetry, "/winapi/workers", stats_workers, pmd,
					    "Per-worker counters: requests, batches, busy and idle time, ring-full events");
	if (rc == 0)
		rc = pmd_telemetry_register(telemetry, "/winapi/clients", stats_clients, pmd,
					    "Ids of the attached clients");
	if (rc == 0)
		rc = pmd_telemetry_register(telemetry, "/winapi/client", stats_client, pmd,
					    "One client's counters. Parameter: client id");
	return rc;
}

/* ---- winapi-pmd --stats ---- */

#define STATS_TIMEOUT_MS 2000

static json_int_t field(const json_t *object, const char *key)
{
	return json_integer_value(json_object_get(object, key));
}

static void print_text(const json_t *totals, const json_t *workers, const json_t *clients)
{
	const json_t *item;
	char pid_text[24];
	size_t i;

	const char *policy = json_string_value(json_object_get(totals, "policy"));

	printf("winapi-pmd: %s backend, %lld channel(s), %lld worker(s), up %.1f s; %lld host API(s), %s%s\n",
	       json_string_value(json_object_get(totals, "backend")), (long long)field(totals, "channels"),
	       (long long)field(totals, "workers"), (double)field(totals, "uptime_ms") / 1000.0,
	       (long long)field(totals, "apis"), policy != NULL && policy[0] != '\0' ? "policy " : "no policy",
	       policy != NULL ? policy : "");
	printf("clients: %lld attached now, %lld since start, %lld refused, %lld reclaimed; "
	       "pool memory %lld bytes in use, %lld reclaimed, %lld quarantined; %lld answers dropped\n",
	       (long long)field(totals, "clients"), (long long)field(totals, "clients_attached"),
	       (long long)field(totals, "clients_refused"), (long long)field(totals, "clients_reclaimed"),
	       (long long)field(totals, "pool_bytes_in_use"), (long long)field(totals, "pool_bytes_reclaimed"),
	       (long long)field(totals, "pool_bytes_quarantined"), (long long)field(totals, "requests_dropped"));
	printf("\n%-6s %5s %7s %8s %12s %10s %8s %9s %9s %9s\n", "worker", "lcore", "clients", "inflight",
	       "requests", "batches", "busy%", "sleeps", "ringfull", "clifull");
	json_array_foreach(workers, i, item) {
		double busy = (double)field(item, "busy_ns"), idle = (double)field(item, "idle_ns");

		printf("%-6lld %5lld %7lld %8lld %12lld %10lld %7.1f%% %9lld %9lld %9lld\n",
		       (long long)field(item, "worker"), (long long)field(item, "lcore"),
		       (long long)field(item, "clients"), (long long)field(item, "in_flight"),
		       (long long)field(item, "requests"), (long long)field(item, "batches"),
		       busy + idle > 0 ? 100.0 * busy / (busy + idle) : 0.0, (long long)field(item, "sleeps"),
		       (long long)field(item, "ring_full"), (long long)field(item, "client_ring_full"));
	}
	printf("\n%-6s %8s %6s %-8s %8s %12s %12s %9s %8s %8s %8s\n", "client", "pid", "worker", "state",
	       "inflight", "requests", "completions", "rejected", "badbuf", "denied", "dropped");
	json_array_foreach(clients, i, item) {
		const json_t *pid = json_object_get(item, "pid");

		if (pid != NULL)
			snprintf(pid_text, sizeof(pid_text), "%lld", (long long)json_integer_value(pid));
		else
			snprintf(pid_text, sizeof(pid_text), "-"); /* another user's client */
		printf("%-6lld %8s %6lld %-8s %8lld %12lld %12lld %9lld %8lld %8lld %8lld\n",
		       (long long)field(item, "id"), pid_text, (long long)field(item, "worker"),
		       json_string_value(json_object_get(item, "state")), (long long)field(item, "in_flight"),
		       (long long)field(item, "requests"), (long long)field(item, "completions"),
		       (long long)field(item, "rejected"), (long long)field(item, "bad_buffers"),
		       (long long)field(item, "denied"), (long long)field(item, "dropped"));
	}
}

int pmd_stats_print(const char *telemetry_path, bool json)
{
	json_t *totals = NULL, *workers = NULL, *ids = NULL, *clients = NULL, *id, *client, *all;
	char text[32];
	size_t i;
	int rc;

	rc = pmd_telemetry_query(telemetry_path, "/winapi/stats", NULL, STATS_TIMEOUT_MS, &totals);
	if (rc == 0)
		rc = pmd_telemetry_query(telemetry_path, "/winapi/workers", NULL, STATS_TIMEOUT_MS, &workers);
	if (rc == 0)
		rc = pmd_telemetry_query(telemetry_path, "/winapi/clients", NULL, STATS_TIMEOUT_MS, &ids);
	if (rc == -EPERM)
		fprintf(stderr, "winapi-pmd: %s is served by a process of another user (neither root nor you): "
				"not trusted, not read\n", telemetry_path);
	if (rc != 0)
		goto out_put;
	if (!json_is_object(totals) || !json_is_array(workers) || !json_is_array(ids)) {
		rc = -EPROTO;
		goto out_put;
	}
	clients = json_array();
	json_array_foreach(ids, i, id) {
		snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(id));
		/* A client that left between the two questions is simply not listed. */
		if (pmd_telemetry_query(telemetry_path, "/winapi/client", text, STATS_TIMEOUT_MS, &client) == 0)
			json_array_append_new(clients, client);
	}
	if (json) {
		all = json_pack("{s:O, s:O, s:O}", "stats", totals, "workers", workers, "clients", clients);
		if (all == NULL || json_dumpf(all, stdout, JSON_INDENT(2)) != 0)
			rc = -ENOMEM;
		putchar('\n');
		json_decref(all);
	} else {
		print_text(totals, workers, clients);
	}
out_put:
	json_decref(clients);
	json_decref(ids);
	json_decref(workers);
	json_decref(totals);
	return rc;
}
