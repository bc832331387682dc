/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --backend inline: the emulator's host inside the daemon, so that the client -> daemon ->
 * host -> daemon -> client path can be measured on two cores (winapi-bench), the client on
 * one and the worker on the other. Two polling peers of the daemon's (client and a host thread
 * of its own) would leave one of three spinners without a CPU.
 *
 * The device is the emulator's (drivers/bus/sim): its host and guest sides joined in this
 * process by vmbus_sim_pair(), with the rings, guest RAM and signalling winapi-host-sim's guest
 * gets. Each worker runs its channel's host (drivers/host, the emulator's handlers) in its own
 * thread right after it submits (worker.c), so a request is answered in the pass that
 * forwarded it. Clients attach as with --backend sim: their pools are slices of the pair's
 * guest RAM.
 */
#include <errno.h>
#include <stdio.h>

#include <vmbus/packet.h>
#include <vmbus/sim.h>
#include <winapi/log.h>
#include <winapi_internal/host.h>
#include <winapi_internal/host_api.h>

#include "pmd.h"

/*
 * Bytes per ring direction. The host writes one completion per request the worker has in
 * flight (at most PMD_WORKER_DEPTH, event waits and probes included), and the worker reaps
 * them in the pass that follows: with room for that many of the largest, the host's ring is
 * never full, so its write never waits for a reader that is its own thread.
 */
#define PMD_INLINE_RING_SIZE (4u << 20)
#define PMD_INLINE_COMPLETION_MAX (sizeof(struct vmbus_packet_descriptor) + WINAPI_MESSAGE_MAX_SIZE + 16u)
_Static_assert((uint64_t)PMD_WORKER_DEPTH * PMD_INLINE_COMPLETION_MAX < PMD_INLINE_RING_SIZE - 65536u,
	       "the inline host's ring holds a completion for every request a worker has in flight");

int pmd_inline_open(struct pmd *pmd, const struct vmbus_guid *class_id, const struct vmbus_guid *instance_id,
		    unsigned int channels)
{
	struct vmbus_sim_host_config config = { .guest_ram_size = VMBUS_SIM_DEFAULT_GUEST_RAM };
	int rc;

	if (channels > 16) {
		winapi_log(WINAPI_LOG_ERR, "pmd", "--backend inline serves 16 channels at most (%u lcores)", channels);
		return -EINVAL;
	}
	/* What winapi-host-sim serves, so that clients see the same API table. */
	rc = winapi_host_register_apis();
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "pmd", "cannot register the host APIs: %s", winapi_strerror(rc));
		return rc;
	}
	/* winapi-host-sim's default profile; rings sized for the inline host (above). */
	vmbus_sim_profile("linux-6.12", &config);
	config.ring_size = config.subchannel_ring_size = PMD_INLINE_RING_SIZE;
	config.subchannels = channels - 1;
	config.class_id = *class_id;
	if (instance_id != NULL)
		config.instance_id = *instance_id;
	rc = vmbus_sim_pair(&config, &pmd->inline_host, &pmd->device);
	if (rc != 0)
		winapi_log(WINAPI_LOG_ERR, "pmd", "cannot create the inline host's device: %s", winapi_strerror(rc));
	return rc;
}

/* Answer what the worker submitted; reported to the worker's sleep: when to poll again. */
static int serve_host(struct pmd_worker *worker)
{
	return winapi_host_poll_next(worker->host, &worker->host_due_ns);
}

int pmd_inline_worker_init(struct pmd_worker *worker)
{
	struct winapi_host_memory memory;
	int rc;

	winapi_host_sim_memory(worker->pmd->inline_host, &memory);
	rc = winapi_host_create(worker->pmd->inline_host, worker->index, &memory, &worker->host);
	if (rc != 0)
		return rc;
	worker->host_due_ns = UINT64_MAX;
	worker->serve_host = serve_host;
	return 0;
}

void pmd_inline_worker_fini(struct pmd_worker *worker)
{
	winapi_host_destroy(worker->host);
	worker->host = NULL;
	worker->serve_host = NULL;
}

int pmd_inline_call(void *context, struct winapi_call *call)
{
	struct pmd_worker *worker = context;
	struct winapi_call_completion done;
	int rc;

	/* Before the worker runs, on its queue: the call ends, answered or at its deadline. */
	rc = winapi_driver_queue_add(worker->queue, call, call);
	if (rc == 0)
		rc = winapi_driver_queue_submit(worker->queue);
	if (rc < 0)
		return rc;
	do {
		rc = serve_host(worker);
		if (rc >= 0)
			rc = winapi_driver_queue_reap(worker->queue, &done, 1, 1, 0);
		if (rc < 0)
			return rc;
	} while (rc == 0);
	call->reply_length = done.reply_length;
	return done.status;
}
