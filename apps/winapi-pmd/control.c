/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control thread: attaches clients, notices them leave, frees what they held once no
 * worker can see them, and turns SIGTERM into an orderly stop. It alone changes the client
 * table (under table_lock, which telemetry takes to read it).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vmbus/memory.h>
#include <winapi/log.h>

#include "pmd.h"

/* Linux 6.5; Debian bookworm's headers are older than the kernels that have it. */
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif

/* How often clients are checked for having gone while their worker is busy elsewhere. */
#define PMD_LIVENESS_MS 50
/*
 * Connections waiting for their hello: each has this long, and there are at most so many.
 * The bound on their number is what keeps silent connections from holding the daemon, so
 * the time can be long enough for a client that waits for a CPU on a loaded machine.
 */
#define PMD_HELLO_TIMEOUT_NS (10000ull * 1000000u)
#define PMD_PENDING_MAX 16

/* A connection that has not said hello yet: the control thread waits on it in its poll(). */
struct pending_connection {
	int fd;
	uint64_t deadline_ns;
};

/* The GPADL handle a client names its pool by: its own, so a stale id is refused. */
static uint32_t client_gpadl(uint64_t id)
{
	return 0xd0000000u | (uint32_t)(id & 0x0fffffffu);
}

/* The worker with the fewest clients: clients spread over the channels. */
static unsigned int pick_worker(const struct pmd *pmd)
{
	unsigned int best = 0, i;

	for (i = 1; i < pmd->worker_count; i++)
		if (pmd->workers[i].clients < pmd->workers[best].clients)
			best = i;
	return best;
}

/*
 * What @client may call, decided once, here: its user's groups are looked up now (a change
 * of them takes effect when it attaches again), and the worker tests a bit.
 */
static int decide_access(const struct pmd *pmd, struct pmd_client *client)
{
	struct pmd_identity identity;
	int rc;

	if (pmd->policy == NULL) {
		pmd_policy_access(NULL, NULL, &pmd->apis, client->allowed, NULL);
		return 0;
	}
	rc = pmd_identity_resolve(client->uid, &identity);
	if (rc != 0) {
		winapi_log(WINAPI_LOG_WARNING, "pmd", "client refused: cannot look up the groups of uid %u: %s",
			   (unsigned int)client->uid, strerror(-rc));
		return rc;
	}
	client->rule_lines = calloc(pmd->apis.count != 0 ? pmd->apis.count : 1, sizeof(*client->rule_lines));
	if (client->rule_lines == NULL) {
		pmd_identity_free(&identity);
		return -ENOMEM;
	}
	pmd_policy_access(pmd->policy, &identity, &pmd->apis, client->allowed, client->rule_lines);
	pmd_identity_free(&identity);
	return 0;
}

/* What @uid holds now; NULL only if the table cannot grow. */
static struct pmd_user *find_user(struct pmd *pmd, uid_t uid)
{
	struct pmd_user *users;
	unsigned int i, capacity;

	for (i = 0; i < pmd->user_count; i++)
		if (pmd->users[i].uid == uid)
			return &pmd->users[i];
	if (pmd->user_count == pmd->user_capacity) {
		capacity = pmd->user_capacity != 0 ? 2 * pmd->user_capacity : 8;
		users = reallocarray(pmd->users, capacity, sizeof(*users));
		if (users == NULL)
			return NULL;
		pmd->users = users;
		pmd->user_capacity = capacity;
	}
	pmd->users[pmd->user_count] = (struct pmd_user){ .uid = uid };
	return &pmd->users[pmd->user_count++];
}

/* A user that holds nothing any more leaves the table, which so stays as long as the users. */
static void put_user(struct pmd *pmd, struct pmd_user *user)
{
	if (user->clients == 0 && user->pool_bytes == 0)
		*user = pmd->users[--pmd->user_count];
}

/*
 * Whether @uid may attach one more client: 0, or the error its refusal carries (logged
 * here). One user gets a share of the slots and of the locked pool memory, whose pools kept
 * out of use (quarantined) count until they are freed, so that no user can take what the
 * others need: out of slots is EUSERS; out of memory because of its quarantined pools, or
 * with --max-quarantine-per-uid of them, EDQUOT. Root is bounded by --max-clients and the
 * quarantine cap: its quarantined pools are DMA memory every other client needs.
 */
static int admit(struct pmd *pmd, uid_t uid, size_t pool_size)
{
	unsigned int share = pmd->options.max_clients_per_uid;
	uint64_t quarantine_cap = (uint64_t)pmd->options.max_quarantine_mib << 20;
	struct pmd_user *user;
	int rc = 0;

	if (pmd->client_count >= pmd->options.max_clients) {
		winapi_log(WINAPI_LOG_WARNING, "pmd", "client refused: %u clients attached (--max-clients)",
			   pmd->client_count);
		return -EBUSY;
	}
	/* See free_client() and winapi-pmd(8): on the emulator every client maps all guest RAM. */
	if (pmd->guest_ram_shared && uid != pmd->owner && uid != 0) {
		winapi_log(WINAPI_LOG_WARNING, "pmd", "client of uid %u refused: on the sim backend every client "
			   "can read every pool, so only uid %u and root are served", (unsigned int)uid,
			   (unsigned int)pmd->owner);
		return -EPERM;
	}
	user = find_user(pmd, uid);
	if (user == NULL)
		return -ENOMEM;
	if (uid != 0 && user->clients >= share) {
		winapi_log(WINAPI_LOG_WARNING, "pmd", "client of uid %u refused: it has %u clients of its %u "
			   "(--max-clients-per-uid)", (unsigned int)uid, user->clients, share);
		rc = -EUSERS;
	} else if (user->quarantined_bytes >= quarantine_cap ||
		   (uid != 0 && user->pool_bytes + pool_size > (uint64_t)share * pool_size)) {
		winapi_log(WINAPI_LOG_WARNING, "pmd", "client of uid %u refused: %llu bytes of its pools are "
			   "quarantined until the host answers requests that named them (--max-quarantine-per-uid "
			   "%u MiB, --max-clients-per-uid %u)", (unsigned int)uid,
			   (unsigned long long)user->quarantined_bytes, pmd->options.max_quarantine_mib, share);
		rc = -EDQUOT;
	}
	if (rc != 0) {
		put_user(pmd, user);
		return rc;
	}
	user->clients++;
	user->pool_bytes += pool_size;
	return 0;
}

/* Give back what admit() booked for a client that leaves; @pool_kept: its pool is quarantined. */
static void release_user(struct pmd *pmd, uid_t uid, size_t pool_size, bool pool_kept)
{
	struct pmd_user *user = find_user(pmd, uid);

	if (user == NULL)
		return; /* cannot be: admit() made the entry */
	user->clients--;
	if (pool_kept)
		user->quarantined_bytes += pool_size;
	else
		user->pool_bytes -= pool_size;
	put_user(pmd, user);
}

/* A quarantined pool of @uid is free again: it counts no more. */
static void release_quarantined(struct pmd *pmd, uid_t uid, size_t pool_size)
{
	struct pmd_user *user = find_user(pmd, uid);

	if (user == NULL)
		return; /* cannot be: release_user() kept the entry */
	user->quarantined_bytes -= pool_size;
	user->pool_bytes -= pool_size;
	put_user(pmd, user);
}

static void refuse_client(struct pmd *pmd, int connection_fd, int error)
{
	if (vmbus_sim_host_refuse(pmd->listener, connection_fd, error) == 0)
		winapi_counter_add_shared(&pmd->totals.clients_refused, 1);
}

/*
 * A descriptor of the process at the other end of @connection_fd, for telling when it has
 * exited: on the emulator a client maps all of guest RAM, and its pool may serve no one else
 * until it has gone. The kernel's own (SO_PEERPIDFD) names the process that connected; before
 * Linux 6.5, pidfd_open() of the pid SO_PEERCRED gave, which is still that process while its
 * connection is open: a pid is reused only after its process has exited and been reaped.
 * Returns the descriptor, or -1.
 */
static int peer_pidfd(int connection_fd, pid_t pid)
{
	socklen_t length = sizeof(int);
	int pidfd;

	if (getsockopt(connection_fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &length) == 0)
		return pidfd;
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	return pidfd >= 0 ? pidfd : -1;
}

/* Whether the process of @pidfd has exited (its pidfd reads as ready). */
static bool process_exited(int pidfd)
{
	struct pollfd process = { .fd = pidfd, .events = POLLIN };

	return poll(&process, 1, 0) > 0;
}

/* A connection whose hello has arrived: give it a device, or refuse it. Consumes @connection_fd. */
static void attach_client(struct pmd *pmd, int connection_fd)
{
	size_t pool_size = (size_t)pmd->options.pool_mib << 20;
	struct vmbus_sim_host_pool pool;
	struct pmd_client *client;
	struct ucred peer;
	socklen_t length = sizeof(peer);
	int rc;

	/* Who it is decides whether it may come in, before it is offered anything. */
	if (getsockopt(connection_fd, SOL_SOCKET, SO_PEERCRED, &peer, &length) != 0) {
		refuse_client(pmd, connection_fd, -EPROTO);
		return;
	}
	rc = admit(pmd, peer.uid, pool_size);
	if (rc != 0) {
		refuse_client(pmd, connection_fd, rc);
		return;
	}
	client = calloc(1, sizeof(*client));
	if (client == NULL) {
		vmbus_sim_host_refuse(pmd->listener, connection_fd, -ENOMEM);
		goto err_release_user;
	}
	client->pid = peer.pid;
	client->uid = peer.uid;
	client->pidfd = pmd->guest_ram_shared ? peer_pidfd(connection_fd, peer.pid) : -1;
	client->id = ++pmd->next_client_id;
	client->gpadl = client_gpadl(client->id);
	client->pool_size = pool_size;
	rc = vmbus_device_dma_alloc(pmd->device, pool_size, (void **)&client->pool);
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "pmd", "no DMA memory for a client's %zu-byte pool: %s", pool_size,
			   strerror(-rc));
		refuse_client(pmd, connection_fd, -ENOMEM);
		goto err_free_client;
	}
	pool = (struct vmbus_sim_host_pool){ .address = client->pool, .size = pool_size, .gpadl = client->gpadl };
	rc = vmbus_device_dma_share(pmd->device, client->pool, pool_size, &pool.fd, &pool.offset);
	if (rc != 0) {
		vmbus_sim_host_refuse(pmd->listener, connection_fd, rc);
		goto err_free_pool;
	}
	rc = vmbus_sim_host_offer(pmd->listener, connection_fd, &pool, &client->device);
	if (rc != 0) {
		winapi_log(WINAPI_LOG_WARNING, "pmd", "a client could not attach: %s", strerror(-rc));
		goto err_free_pool;
	}
	rc = decide_access(pmd, client);
	if (rc != 0)
		goto err_close_device;
	rc = vmbus_chan_open(client->device, 0, &client->channel);
	if (rc != 0)
		goto err_free_rule_lines;

	client->worker = pick_worker(pmd);
	client->worker_late = &pmd->workers[client->worker].late;
	pthread_mutex_lock(&pmd->table_lock);
	__atomic_fetch_add(&pmd->workers[client->worker].clients, 1, __ATOMIC_RELAXED);
	pmd_publish(client);
	cds_list_add_tail_rcu(&client->node, &pmd->clients);
	pmd->client_count++;
	pthread_mutex_unlock(&pmd->table_lock);
	winapi_counter_add_shared(&pmd->totals.clients_attached, 1);
	winapi_counter_add_shared(&pmd->totals.pool_bytes_in_use, pool_size);
	pmd_kick(pmd->workers[client->worker].kick_fd);
	winapi_log(WINAPI_LOG_INFO, "pmd", "client %llu attached: pid %d, uid %u, worker %u, %u MiB pool",
		   (unsigned long long)client->id, (int)client->pid, (unsigned int)client->uid, client->worker,
		   pmd->options.pool_mib);
	return;

err_free_rule_lines:
	free(client->rule_lines);
err_close_device:
	vmbus_device_close(client->device);
err_free_pool:
	vmbus_device_dma_free(pmd->device, client->pool, pool_size);
err_free_client:
	if (client->pidfd >= 0)
		close(client->pidfd);
	free(client);
err_release_user:
	release_user(pmd, peer.uid, pool_size, false);
}

/* Free @client itself, its pool already freed or kept for good. */
static void free_client_struct(struct pmd_client *client)
{
	if (client->pidfd >= 0)
		close(client->pidfd);
	free(client->rule_lines);
	free(client);
}

/*
 * Whether the client process of @device still has its connection, given the moment a client
 * that is going needs: its rings close before its connection does (the order of its own
 * close), so a client reclaimed because its ring closed may still look connected for a few
 * milliseconds. Without this grace, such a pool was taken for one the client still maps and
 * kept out of use for good (seen in the soak's attach/detach loop, then refused with EDQUOT).
 * Waits at most PMD_CLOSE_GRACE_MS, only for a client that is really still there.
 */
#define PMD_CLOSE_GRACE_MS 500

static bool still_connected(struct vmbus_device *device)
{
	const struct timespec step = { .tv_nsec = 5 * 1000000 };
	unsigned int waited;

	for (waited = 0; waited < PMD_CLOSE_GRACE_MS && vmbus_sim_host_guest_connected(device); waited += 5)
		nanosleep(&step, NULL);
	return vmbus_sim_host_guest_connected(device);
}

/* Free what @client held; no worker can see it any more. */
static void free_client(struct pmd *pmd, struct pmd_client *client)
{
	/*
	 * The emulator's DMA memory is one guest-RAM file, and a client still running keeps its
	 * slice of it mapped; on a real device each pool is a file of its own, and the client's
	 * mapping keeps its own pages. Either way, pages the host may still write (a request
	 * that timed out, or one still on its way as the daemon stops) must never serve another
	 * client: such a pool waits, with the client's struct that the request table's hold names,
	 * on pmd.quarantined until the host has answered (free_answered()) or the device goes.
	 */
	bool host_may_write = __atomic_load_n(&client->late, __ATOMIC_ACQUIRE) != 0 ||
			      __atomic_load_n(&client->in_flight, __ATOMIC_RELAXED) != 0;
	bool quarantine;

	client->pool_mapped = pmd->guest_ram_shared && still_connected(client->device);
	quarantine = host_may_write || client->pool_mapped;
	vmbus_chan_close(client->channel);
	vmbus_device_close(client->device);
	__atomic_fetch_sub(&pmd->totals.pool_bytes_in_use, client->pool_size, __ATOMIC_RELAXED);
	if (quarantine) {
		winapi_counter_add_shared(&pmd->totals.pool_bytes_quarantined, client->pool_size);
		winapi_log(WINAPI_LOG_WARNING, "pmd", "client %llu: its %zu-byte pool is kept out of use (%s)",
			   (unsigned long long)client->id, client->pool_size,
			   client->pool_mapped ? (client->pidfd >= 0 ? "the client still maps it, till it exits" :
								       "the client still maps it") :
						 "the host may still write it, till it answers");
	} else {
		vmbus_device_dma_free(pmd->device, client->pool, client->pool_size);
		winapi_counter_add_shared(&pmd->totals.pool_bytes_reclaimed, client->pool_size);
	}
	release_user(pmd, client->uid, client->pool_size, quarantine);
	winapi_counter_add_shared(&pmd->totals.clients_reclaimed, 1);
	winapi_log(WINAPI_LOG_INFO, "pmd", "client %llu (pid %d) reclaimed: %s; %llu requests, %llu answered, "
		   "%llu dropped", (unsigned long long)client->id, (int)client->pid,
		   __atomic_load_n(&client->leave_reason, __ATOMIC_ACQUIRE) != NULL ?
			   __atomic_load_n(&client->leave_reason, __ATOMIC_ACQUIRE) : "the daemon stopped",
		   (unsigned long long)client->stats.requests, (unsigned long long)client->stats.completions,
		   (unsigned long long)client->stats.dropped);
	if (quarantine) {
		client->reclaim_next = pmd->quarantined;
		pmd->quarantined = client;
	} else {
		free_client_struct(client);
	}
}

/*
 * Free the quarantined pools nothing can reach any more: the host has answered every late
 * request that named them, and (emulator) the client that mapped them has exited. Their
 * bytes count for their user no more. A client whose exit cannot be watched (no pidfd) keeps
 * its pool for good; only its struct goes.
 */
static void free_answered(struct pmd *pmd)
{
	struct pmd_client **at = &pmd->quarantined, *client;

	while ((client = *at) != NULL) {
		bool exited = client->pool_mapped && client->pidfd >= 0 && process_exited(client->pidfd);

		if (__atomic_load_n(&client->late, __ATOMIC_ACQUIRE) != 0 ||
		    (client->pool_mapped && client->pidfd >= 0 && !exited)) {
			at = &client->reclaim_next;
			continue;
		}
		*at = client->reclaim_next;
		if (!client->pool_mapped || exited) {
			vmbus_device_dma_free(pmd->device, client->pool, client->pool_size);
			__atomic_fetch_sub(&pmd->totals.pool_bytes_quarantined, client->pool_size, __ATOMIC_RELAXED);
			winapi_counter_add_shared(&pmd->totals.pool_bytes_reclaimed, client->pool_size);
			release_quarantined(pmd, client->uid, client->pool_size);
			winapi_log(WINAPI_LOG_INFO, "pmd", "client %llu: %s; its %zu-byte pool is freed",
				   (unsigned long long)client->id,
				   exited ? "its process has exited" : "the host has answered its late requests",
				   client->pool_size);
		}
		free_client_struct(client);
	}
}

void pmd_control_fini(struct pmd *pmd)
{
	struct pmd_client *client, *next;

	/* Their pools leave with the device, which the host may write until it is closed. */
	for (client = pmd->quarantined; client != NULL; client = next) {
		next = client->reclaim_next;
		free_client_struct(client);
	}
	pmd->quarantined = NULL;
}

/*
 * Unlink the clients their workers are done with, wait until no worker can hold a pointer
 * to them (every worker has passed a quiescent state), then free them. With @all (workers
 * stopped), every client goes.
 */
static void reclaim_clients(struct pmd *pmd, bool all)
{
	struct pmd_client *client, *next, *gone = NULL;

	pthread_mutex_lock(&pmd->table_lock);
	cds_list_for_each_entry_safe(client, next, &pmd->clients, node) {
		if (!all && __atomic_load_n(&client->state, __ATOMIC_ACQUIRE) != PMD_CLIENT_RECLAIMABLE)
			continue;
		cds_list_del_rcu(&client->node);
		pmd->client_count--;
		__atomic_fetch_sub(&pmd->workers[client->worker].clients, 1, __ATOMIC_RELAXED);
		/*
		 * Not client->node: a worker may still stand on this client, and its next
		 * pointer must lead back into the table until the grace period ends.
		 */
		client->reclaim_next = gone;
		gone = client;
	}
	pthread_mutex_unlock(&pmd->table_lock);
	if (gone == NULL)
		return;
	if (!all) {
		synchronize_rcu();
		pmd_grace_acquire(pmd);
	}
	for (client = gone; client != NULL; client = next) {
		next = client->reclaim_next;
		free_client(pmd, client);
	}
}

/* A worker busy with other clients may not look at a quiet one for a while: look for it. */
static void check_clients(struct pmd *pmd)
{
	struct pmd_client *client;

	pthread_mutex_lock(&pmd->table_lock);
	cds_list_for_each_entry(client, &pmd->clients, node) {
		if (__atomic_load_n(&client->state, __ATOMIC_ACQUIRE) == PMD_CLIENT_ACTIVE &&
		    !vmbus_sim_host_guest_connected(client->device)) {
			pmd_client_leave(client, "it exited");
			pmd_kick(pmd->workers[client->worker].kick_fd);
		}
	}
	pthread_mutex_unlock(&pmd->table_lock);
}

/* Take a new connection; the oldest silent one makes room when all places are taken. */
static void take_connection(struct pmd *pmd, struct pending_connection *pending, unsigned int *count)
{
	int fd;

	if (vmbus_sim_host_accept_connection(pmd->listener, &fd) != 0)
		return;
	if (*count == PMD_PENDING_MAX) {
		close(pending[0].fd);
		memmove(&pending[0], &pending[1], (PMD_PENDING_MAX - 1) * sizeof(pending[0]));
		(*count)--;
	}
	pending[(*count)++] = (struct pending_connection){ .fd = fd, .deadline_ns = winapi_clock_now_ns() + PMD_HELLO_TIMEOUT_NS };
}

/* Attach those whose hello came (@fds[i] readable), drop those past their deadline. */
static void serve_pending(struct pmd *pmd, struct pending_connection *pending, unsigned int *count,
			  const struct pollfd *fds)
{
	uint64_t now = winapi_clock_now_ns();
	unsigned int i, kept = 0;

	for (i = 0; i < *count; i++) {
		if (fds[i].revents != 0)
			attach_client(pmd, pending[i].fd);
		else if (now >= pending[i].deadline_ns)
			close(pending[i].fd); /* a client that never said hello */
		else
			pending[kept++] = pending[i];
	}
	*count = kept;
}

int pmd_control_run(struct pmd *pmd)
{
	struct pending_connection pending[PMD_PENDING_MAX];
	struct pollfd fds[3 + PMD_PENDING_MAX];
	struct signalfd_siginfo signal_info;
	unsigned int pending_count = 0, i;
	uint64_t drained;
	sigset_t signals;
	int signal_fd, rc = 0;

	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	signal_fd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (signal_fd < 0) {
		/* The workers run already: stop them the usual way. */
		rc = -errno;
		__atomic_store_n(&pmd->stopping, true, __ATOMIC_RELEASE);
	}
	fds[0] = (struct pollfd){ .fd = vmbus_sim_host_fd(pmd->listener), .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = pmd->control_kick_fd, .events = POLLIN };
	fds[2] = (struct pollfd){ .fd = signal_fd, .events = POLLIN };

	while (!__atomic_load_n(&pmd->stopping, __ATOMIC_ACQUIRE)) {
		/*
		 * Connections wait for their hello in this same poll(): one that never says it
		 * costs a slot until its deadline, never a stall of attaching, reclaim or SIGTERM.
		 */
		for (i = 0; i < pending_count; i++)
			fds[3 + i] = (struct pollfd){ .fd = pending[i].fd, .events = POLLIN };
		if (poll(fds, 3 + pending_count, PMD_LIVENESS_MS) < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (fds[2].revents & POLLIN) {
			if (read(signal_fd, &signal_info, sizeof(signal_info)) == (ssize_t)sizeof(signal_info))
				winapi_log(WINAPI_LOG_NOTICE, "pmd", "%s: answering what is in flight, then exiting",
					   strsignal((int)signal_info.ssi_signo));
			__atomic_store_n(&pmd->stopping, true, __ATOMIC_RELEASE);
			break;
		}
		serve_pending(pmd, pending, &pending_count, &fds[3]);
		if (fds[0].revents & POLLIN)
			take_connection(pmd, pending, &pending_count);
		if (fds[1].revents & POLLIN)
			(void)!read(pmd->control_kick_fd, &drained, sizeof(drained));
		check_clients(pmd);
		reclaim_clients(pmd, false);
		free_answered(pmd);
	}

	/* New clients are refused from here on: the socket goes first. */
	for (i = 0; i < pending_count; i++)
		close(pending[i].fd);
	vmbus_sim_host_close(pmd->listener);
	pmd->listener = NULL;
	for (i = 0; i < pmd->workers_started; i++)
		pmd_kick(pmd->workers[i].kick_fd);
	for (i = 0; i < pmd->workers_started; i++) {
		pthread_join(pmd->workers[i].thread, NULL);
		if (pmd->workers[i].error != 0 && rc == 0)
			rc = pmd->workers[i].error;
	}
	reclaim_clients(pmd, true);
	if (signal_fd >= 0)
		close(signal_fd);
	return rc;
}
