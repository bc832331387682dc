/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The answer step for a host inside another program (drivers/host/qemu): the same
 * winapi_host_answer() the project's own VMBus host runs, behind a header with plain types.
 */
#include <errno.h>
#include <stdlib.h>

#include "host_private.h"

_Static_assert(WINAPI_HOST_ANSWER_MAX_SIZE == WINAPI_MESSAGE_MAX_SIZE,
	       "host_answer.h's copy of the largest message size is stale");

struct winapi_host_answerer {
	struct winapi_host_context context;
};

int winapi_host_answerer_create(const struct winapi_host_pages *pages, struct winapi_host_answerer **answerer_out)
{
	struct winapi_host_answerer *answerer = calloc(1, sizeof(*answerer));

	if (answerer == NULL)
		return -ENOMEM;
	answerer->context.memory = (struct winapi_host_memory){
		.gpadl_page = pages->gpadl_page,
		.guest_page = pages->guest_page,
		.context = pages->context,
	};
	*answerer_out = answerer;
	return 0;
}

void winapi_host_answerer_destroy(struct winapi_host_answerer *answerer)
{
	free(answerer);
}

int winapi_host_answerer_run(struct winapi_host_answerer *answerer, const struct winapi_host_packet *packet,
			     void *answer, size_t answer_size, bool *ok)
{
	struct winapi_message response;
	int size = winapi_host_answer(&answerer->context, packet, &response, answer, answer_size);

	*ok = size >= 0 && response.status == WINAPI_STATUS_OK;
	return size;
}
