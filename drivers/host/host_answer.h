/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * drivers/host's request-to-answer step, for a host that runs it from inside another program:
 * the QEMU device in drivers/host/qemu. Plain C types only, because QEMU's own VMBus headers
 * define names the project's define too (struct vmbus_gpa_range, for one), so a file cannot
 * include both.
 *
 * Synchronisation: an answerer is used by one thread at a time.
 */
#ifndef DRIVERS_HOST_ANSWER_H
#define DRIVERS_HOST_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A request as it came off the guest's ring (vmbus-spec.md 3.2); every byte is untrusted. */
struct winapi_host_packet {
	uint16_t type;             /* DATA_INBAND (6) or DATA_USING_GPA_DIRECT (9) */
	uint64_t trans_id;
	const void *gpa_header;    /* GPA-direct: the packet's bytes from 16 to offset8 * 8 */
	size_t gpa_header_size;
	const void *message;       /* the payload: a winapi message */
	size_t message_size;
};

/* The largest answer: WINAPI_MESSAGE_MAX_SIZE of <winapi/protocol.h> (checked where both are seen). */
#define WINAPI_HOST_ANSWER_MAX_SIZE 3392u

/* How a foreign host reaches guest memory: page by page (see struct winapi_host_memory). */
struct winapi_host_pages {
	/* Guest page number of page @index of GPADL @gpadl: 0, or -EFAULT. */
	int (*gpadl_page)(void *context, uint32_t gpadl, uint64_t index, uint64_t *pfn);
	/* Host address of guest page @pfn (4 KiB), valid until the answer is made; or NULL. */
	void *(*guest_page)(void *context, uint64_t pfn);
	void *context;
};

struct winapi_host_answerer;

/* Returns 0 or -ENOMEM. */
int winapi_host_answerer_create(const struct winapi_host_pages *pages, struct winapi_host_answerer **answerer);
void winapi_host_answerer_destroy(struct winapi_host_answerer *answerer);

/*
 * Decode, check and run one request and encode its answer into @answer (room for
 * WINAPI_HOST_ANSWER_MAX_SIZE bytes). A bad request gets an answer with an error status;
 * *@ok says whether the status is OK. Returns the answer's size, or -EINVAL/-ENOBUFS when a
 * handler broke the protocol's limits (a host bug, not the guest's).
 */
int winapi_host_answerer_run(struct winapi_host_answerer *answerer, const struct winapi_host_packet *packet,
			     void *answer, size_t answer_size, bool *ok);

#endif /* DRIVERS_HOST_ANSWER_H */
