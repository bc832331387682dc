/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-pmd internals: the daemon that owns the winapi VMBus device and serves many client
 * processes from pinned workers.
 *
 * Threads:
 *   control  (main thread)  accepts clients, watches them leave, reclaims what they held
 *   worker i (one per device channel, pinned to its lcore)  polls its channel and its clients
 *   telemetry (telemetry.c) answers DPDK telemetry v2 clients
 *
 * A client attaches with the emulator's protocol (vmbus_sim_host_accept_pool()): it gets a
 * private device whose channel 0 carries its requests and completions (its SQ and CQ, rings in
 * memfds) and whose GPADL region 0 is a slice of the daemon's DMA memory on the real device
 * (its buffer pool). The worker that serves it checks every request, turns the client's GPADL
 * descriptors into GPA-direct ranges of that slice, and forwards it on its device channel;
 * completions come back the same way. Nothing is copied but the inline bytes.
 *
 * The host's API table is read once at start, before any client attaches, and never changes
 * after: the workers check every request against it (request.c) without a lock. What a client
 * may call (the --policy, policy.c) is decided when it attaches, on the control thread, as a
 * bitmap over API ids in the client, fixed before the client is published.
 *
 * The client table is an RCU list (liburcu, QSBR flavour): workers walk it without locks and
 * report a quiescent state once per loop; the control thread alone changes it, under
 * table_lock (which telemetry readers take too), and frees a client only after
 * synchronize_rcu().
 */
#ifndef APPS_WINAPI_PMD_H
#define APPS_WINAPI_PMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <pthread.h>
#include <urcu-qsbr.h>
#include <urcu/rculist.h>

#include <vmbus/channel.h>
#include <vmbus/sim.h>
#include <winapi/protocol.h>
#include <winapi_internal/api_table.h>
#include <winapi_internal/clock.h>
#include <winapi_internal/counter.h>
#include <winapi_internal/winapi_driver.h>

#include "policy.h"

#define PMD_MAX_WORKERS 64
/* Requests one worker has on its device channel at once: its driver queue's depth. */
#define PMD_WORKER_DEPTH 1024u
/* Requests one client may have in flight: a fair share, and what its completions ring holds. */
#define PMD_CLIENT_DEPTH 256u
/* Requests taken from one client per pass: the others get their turn in the same batch. */
#define PMD_CLIENT_BURST 32u
/* Event subscriptions one client may hold (the host keeps 64 per channel, for all clients). */
#define PMD_CLIENT_SUBSCRIPTIONS 8u
/* Longest event wait forwarded: the host answers it well within the daemon's own deadline. */
#define PMD_EVENT_MAX_WAIT_MS 1000u

/* Where a client stands; only its worker moves it on, except ACTIVE -> LEAVING. */
enum pmd_client_state {
	PMD_CLIENT_ACTIVE,      /* serving */
	PMD_CLIENT_LEAVING,     /* gone or misbehaved: nothing more is read; in-flight requests finish */
	PMD_CLIENT_RECLAIMABLE, /* nothing in flight: the control thread may free it */
};

/* Counters, written by the client's worker (winapi_counter_add), read by telemetry. */
struct pmd_client_stats {
	uint64_t requests;       /* taken from the client's ring */
	uint64_t completions;    /* answered into its ring */
	uint64_t rejected;       /* answered with an error without reaching the host */
	uint64_t bad_buffers;    /* of those: descriptors outside the client's own pool */
	uint64_t denied;         /* of those: calls the policy does not allow it (ACCESS_DENIED) */
	uint64_t dropped;        /* completions for the client after it left */
	uint64_t timeouts;       /* requests the host did not answer in time */
};

struct pmd_request;
struct winapi_host;

struct pmd_client {
	struct cds_list_head node;        /* pmd.clients, RCU */
	struct pmd_client *reclaim_next;  /* the control thread's list of clients to free, then of
					     those whose pool is quarantined (pmd.quarantined) */
	uint64_t id;
	pid_t pid;
	int pidfd;                        /* emulator: the client's process, to see it exit; else -1 */
	uid_t uid;
	unsigned int worker;
	struct vmbus_device *device;      /* host side of the client's private device */
	struct vmbus_channel *channel;
	uint8_t *pool;                    /* the client's GPADL region 0: daemon DMA memory */
	size_t pool_size;
	uint32_t gpadl;
	uint64_t allowed[PMD_API_WORDS];  /* API ids the policy lets it call: set before publication */
	unsigned int *rule_lines;         /* per entry of pmd.apis: the policy line that decided it */
	int state;                        /* enum pmd_client_state, __atomic */
	const char *leave_reason;         /* a string literal, __atomic: set before it leaves */
	/* Worker-owned. */
	unsigned int in_flight;           /* requests taken and not yet answered into the ring */
	uint64_t bytes_in_flight;         /* __atomic (telemetry reads it): what its requests at the
					     host cost (worker.c, request_cost()) */
	struct pmd_request *parked;       /* checked, waiting for its share of bytes in flight */
	uint8_t parked_data[WINAPI_MAX_INLINE_DATA]; /* its inline bytes: the packet's buffer is reused */
	/* Requests that named the pool and ended unanswered (timed out), whose late answers have
	 * not come: the host may still write the pool. __atomic: the request table's hold_ops
	 * change it, on the worker's thread; the control thread reads it once the client left. */
	unsigned int late;
	unsigned int *worker_late;        /* its worker's count of them: pmd_worker.late */
	bool pool_mapped;                 /* control thread's: quarantined while a live client maps it */
	struct pmd_request *backlog_head; /* answers waiting for room in the client's ring */
	struct pmd_request *backlog_tail;
	bool tx_dirty;                    /* answers written and not yet published */
	uint64_t audited[PMD_API_WORDS];  /* API ids whose refusal has been logged once */
	uint64_t subscriptions[PMD_CLIENT_SUBSCRIPTIONS]; /* event subscriptions it holds at the host */
	unsigned int subscription_count;
	unsigned int subscribing;         /* SUBSCRIBE requests on their way */
	struct pmd_client_stats stats;
};

struct pmd_worker_stats {
	uint64_t requests;      /* forwarded to the host */
	uint64_t completions;   /* answered (any status) */
	uint64_t batches;       /* submissions that wrote at least one request */
	uint64_t busy_ns;       /* time in passes that found work */
	uint64_t idle_ns;       /* time spinning or asleep */
	uint64_t sleeps;
	uint64_t ring_full;     /* submissions that found the device ring full */
	uint64_t client_ring_full; /* answers that waited for room in a client's ring */
	uint64_t parked;        /* requests that waited for their client's share of bytes in flight */
};

struct pmd;

struct pmd_worker {
	struct pmd *pmd;
	unsigned int index;          /* = the device channel it serves */
	int cpu;                     /* -1: not pinned */
	pthread_t thread;
	int kick_fd;                 /* eventfd: new clients, a client left, stop, shared interrupt */
	struct winapi_driver *driver;
	struct winapi_driver_queue *queue;
	struct pmd_request *requests; /* PMD_WORKER_DEPTH slots */
	struct pmd_request *free_requests;
	unsigned int in_flight;
	unsigned int clients;        /* attached to this worker (control thread's count) */
	unsigned int late;           /* __atomic: its clients' late requests, those gone included */
	uint64_t probe_at;           /* when to send the next probe (worker.c) */
	/* --backend inline (inline.c): its channel's host, run by this worker after it submits,
	 * answering what it can (>= 0) or failing (negative errno); NULL for other backends. */
	int (*serve_host)(struct pmd_worker *worker);
	struct winapi_host *host;
	uint64_t host_due_ns;        /* when the host must run again for its events; UINT64_MAX: never */
	int error;                   /* why the worker stopped, 0 while it runs */
	struct pmd_worker_stats stats;
};

struct pmd_options {
	const char *lcores;          /* -l */
	const char *class_id;        /* --class */
	const char *instance_id;     /* --instance */
	const char *backend;         /* "sim", "uio" or "inline" */
	const char *sim_socket;      /* --sim-socket: the emulator to attach to */
	const char *file_prefix;
	const char *socket_path;     /* --socket: overrides the runtime dir's */
	const char *group;           /* --group */
	const char *policy;          /* --policy: the access policy's file */
	unsigned int pool_mib;       /* --pool-size: each client's buffer pool */
	unsigned int max_clients;
	unsigned int max_clients_per_uid; /* and as many pools' bytes, quarantined ones included */
	unsigned int max_quarantine_mib;  /* quarantined pool memory of one uid, root's too */
	uint32_t spin_ns;            /* how long an idle worker polls before it sleeps */
	bool daemonize;
	bool stats;
	bool json;
};

struct pmd_totals {
	uint64_t clients_attached;
	uint64_t clients_refused;
	uint64_t clients_reclaimed;
	uint64_t pool_bytes_in_use;
	uint64_t pool_bytes_reclaimed;
	uint64_t pool_bytes_quarantined; /* kept out of use: the host or a live client may still touch them */
	uint64_t requests_dropped;   /* answers dropped because their client had left */
};

/* What one user holds, for --max-clients-per-uid: the control thread's alone. */
struct pmd_user {
	uid_t uid;
	unsigned int clients;
	uint64_t pool_bytes;          /* its clients' pools, in use or quarantined */
	uint64_t quarantined_bytes;   /* of those: quarantined */
};

struct pmd {
	struct pmd_options options;
	uid_t owner;                  /* the daemon's effective uid */
	/* The emulator's DMA memory is one guest-RAM file that every client maps whole. */
	bool guest_ram_shared;
	struct pmd_user *users;       /* those holding a client or a quarantined pool */
	unsigned int user_count;
	unsigned int user_capacity;
	struct pmd_client *quarantined; /* the control thread's: clients gone whose pool is kept */
	struct vmbus_device *device;  /* the real (or emulated) winapi device */
	struct vmbus_device *inline_host; /* --backend inline: the host side of that device */
	struct vmbus_sim_host *listener;
	char runtime_dir[108];
	char socket_path[108];
	char telemetry_path[108];
	gid_t group;
	struct pmd_policy *policy;    /* NULL: every API to every client */
	struct winapi_api_table apis; /* the host's, read at start: constant while workers run */
	unsigned int worker_count;    /* set before any worker starts, constant after */
	unsigned int workers_started; /* the control thread's: those it must stop and join */
	struct pmd_worker workers[PMD_MAX_WORKERS];
	struct cds_list_head clients; /* RCU; changed under table_lock by the control thread */
	pthread_mutex_t table_lock;
	unsigned int client_count;
	uint64_t next_client_id;
	int control_kick_fd;          /* eventfd: a worker has a client to reclaim */
	bool stopping;                /* SIGTERM: __atomic */
	uint64_t started_ns;
	struct pmd_totals totals;     /* __atomic */
	int grace;                    /* a token for ThreadSanitizer: see pmd_grace_release() */
};

/*
 * ThreadSanitizer does not see QSBR grace periods (liburcu waits with futexes and fences it
 * does not model), so it would take every free after synchronize_rcu() for a race with the
 * workers' last reads. These say what a grace period guarantees: all that a worker did before
 * a quiescent state (or going offline) happens before what the control thread does after
 * synchronize_rcu(). Nothing at all in other builds.
 */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *address);
void __tsan_release(void *address);

static inline void pmd_grace_release(struct pmd *pmd)
{
	__tsan_release(&pmd->grace);
}

static inline void pmd_grace_acquire(struct pmd *pmd)
{
	__tsan_acquire(&pmd->grace);
}

/* The same for publication: a client's fields, written before cds_list_add_tail_rcu()
 * (rcu_assign_pointer's barrier), are seen by a worker that finds it in the list. */
static inline void pmd_publish(struct pmd_client *client)
{
	__tsan_release(client);
}

static inline void pmd_published(struct pmd_client *client)
{
	__tsan_acquire(client);
}
#else
static inline void pmd_grace_release(struct pmd *pmd)
{
	(void)pmd;
}

static inline void pmd_grace_acquire(struct pmd *pmd)
{
	(void)pmd;
}

static inline void pmd_publish(struct pmd_client *client)
{
	(void)client;
}

static inline void pmd_published(struct pmd_client *client)
{
	(void)client;
}
#endif

/* worker.c */
int pmd_worker_init(struct pmd *pmd, unsigned int index, int cpu);
int pmd_worker_start(struct pmd_worker *worker);
void pmd_worker_fini(struct pmd_worker *worker);
/* Wake the thread sleeping on @eventfd (a worker's kick_fd, control_kick_fd). */
void pmd_kick(int eventfd);

/* inline.c: --backend inline */
/* Both sides of an emulated device of @channels channels, into pmd->device and pmd->inline_host. */
int pmd_inline_open(struct pmd *pmd, const struct vmbus_guid *class_id, const struct vmbus_guid *instance_id,
		    unsigned int channels);
/* After pmd_worker_init(): the worker's host, on its channel. 0 or negative errno. */
int pmd_inline_worker_init(struct pmd_worker *worker);
void pmd_inline_worker_fini(struct pmd_worker *worker);
/* A winapi_api_table_call_fn on a worker (@context) that has not started: it runs the host. */
int pmd_inline_call(void *context, struct winapi_call *call);

/* control.c */
int pmd_control_run(struct pmd *pmd);
/* After the workers' queues are destroyed (no hold callback can come): free what is left. */
void pmd_control_fini(struct pmd *pmd);
void pmd_client_leave(struct pmd_client *client, const char *reason);

/* stats.c: the telemetry commands */
struct pmd_telemetry;
int pmd_stats_register(struct pmd *pmd, struct pmd_telemetry *telemetry);
int pmd_stats_print(const char *telemetry_path, bool json);

/* A counter one thread writes and telemetry reads. */
static inline void pmd_set(unsigned int *counter, unsigned int value)
{
	__atomic_store_n(counter, value, __ATOMIC_RELAXED);
}

#endif /* APPS_WINAPI_PMD_H */
