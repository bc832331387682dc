/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Zero-copy buffers and BUFFER_TEST. A buffer lives where the host reaches it in place: in a
 * GPADL region when the device has one with room, else in DMA memory named by page numbers.
 * A call whose page numbers do not fit one packet (a 64 MiB buffer takes 16,384 of them; a
 * 68 KiB ring carries under 8,000) is split at page boundaries into requests, each carrying
 * the CRC32C on to the next. On the hvsock transport a buffer is this process's own memory,
 * whose bytes travel on the socket (there is no memory the Windows host can map).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <winapi/log.h>
#include <winapi/protocol.h>

#include "lowlat_private.h"

int winapi_alloc_buffer(winapi_buffer_t *buffer, size_t size)
{
	struct lowlat_attachment *attachment;
	size_t allocated, offset;
	unsigned int i;
	void *memory;
	int rc;

	if (buffer == NULL || size < WINAPI_MIN_BUFFER_SIZE || size > WINAPI_MAX_BUFFER_SIZE)
		return -EINVAL;
	memset(buffer, 0, sizeof(*buffer));
	attachment = lowlat_current_attachment();
	if (attachment == NULL) {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "winapi_alloc_buffer: call winapi_init() first (buffers "
			   "live in the memory the host shares with this process)");
		return -ENODEV;
	}
	allocated = (size + VMBUS_PAGE_SIZE - 1) / VMBUS_PAGE_SIZE * VMBUS_PAGE_SIZE;

	/* A GPADL region first: the host mapped it once, descriptors need no page numbers. */
	for (i = 0; i < 2; i++) {
		if (attachment->pools[i] == NULL ||
		    vmbus_page_allocator_alloc(attachment->pools[i], allocated, &offset) != 0)
			continue;
		memory = (uint8_t *)attachment->regions[i].address + offset;
		memset(memory, 0, allocated);
		*buffer = (winapi_buffer_t){ .data = memory, .size = size, .owner = attachment,
					     .kind = WINAPI_BUFFER_GPADL, .region = i, .offset = offset,
					     .allocated = allocated };
		return 0;
	}
	if (attachment->device == NULL) {
		/* hvsock: the bytes go on the socket, from this process's own pages. */
		memory = mmap(NULL, allocated, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		rc = memory != MAP_FAILED ? 0 : -ENOMEM;
	} else {
		rc = vmbus_device_dma_alloc(attachment->device, allocated, &memory);
	}
	if (rc == 0) {
		*buffer = (winapi_buffer_t){ .data = memory, .size = size, .owner = attachment,
					     .kind = WINAPI_BUFFER_GPA_DIRECT, .allocated = allocated };
		return 0;
	}
	if (rc == -EOPNOTSUPP)
		winapi_log(WINAPI_LOG_ERR, "lowlat", "winapi_alloc_buffer: no memory the host reaches "
			   "in place: the device has no GPADL region %s, and its backend cannot give "
			   "page numbers (uio needs CAP_SYS_ADMIN for /proc/self/pagemap)",
			   attachment->pools[0] != NULL || attachment->pools[1] != NULL ? "with room" : "");
	lowlat_attachment_put(attachment);
	return rc;
}

/* Give @buffer's memory back, and its reference on the attachment. */
static void release_buffer(const winapi_buffer_t *buffer)
{
	struct lowlat_attachment *attachment = buffer->owner;

	if (buffer->kind == WINAPI_BUFFER_GPADL)
		vmbus_page_allocator_free(attachment->pools[buffer->region], buffer->offset, buffer->allocated);
	else if (attachment->device == NULL)
		munmap(buffer->data, buffer->allocated);
	else
		vmbus_device_dma_free(attachment->device, buffer->data, buffer->allocated);
	lowlat_attachment_put(attachment);
}

/* Whether the host may still write some of @buffer: a late request named it. Under hold_lock. */
static bool held(const struct lowlat_attachment *attachment, const winapi_buffer_t *buffer)
{
	const struct lowlat_held *entry;
	unsigned int i;

	if (attachment->hold_all)
		return true;
	for (entry = attachment->held; entry != NULL; entry = entry->next) {
		for (i = 0; i < entry->count; i++) {
			const struct winapi_call_buffer *named = &entry->buffers[i];
			uint64_t start, base;

			if (named->kind != buffer->kind)
				continue;
			if (buffer->kind == WINAPI_BUFFER_GPADL) {
				if (named->gpadl != attachment->regions[buffer->region].gpadl)
					continue;
				start = named->gpadl_offset;
				base = buffer->offset;
			} else {
				start = (uintptr_t)named->address;
				base = (uintptr_t)buffer->data;
			}
			if (start < base + buffer->allocated && base < start + named->length)
				return true;
		}
	}
	return false;
}

void winapi_free_buffer(winapi_buffer_t *buffer)
{
	struct lowlat_attachment *attachment;
	struct lowlat_deferred *deferred;
	bool keep;

	if (buffer == NULL || buffer->owner == NULL)
		return;
	attachment = buffer->owner;
	pthread_mutex_lock(&attachment->hold_lock);
	keep = held(attachment, buffer);
	if (keep) {
		deferred = malloc(sizeof(*deferred));
		if (deferred != NULL) {
			deferred->buffer = *buffer;
			deferred->next = attachment->deferred;
			attachment->deferred = deferred;
		} else {
			/* Never released is better than handed out again while the host writes it. */
			winapi_log(WINAPI_LOG_WARNING, "lowlat", "winapi_free_buffer: the host may still write "
				   "this buffer; it stays allocated for good (no memory to track it)");
		}
	}
	pthread_mutex_unlock(&attachment->hold_lock);
	if (!keep)
		release_buffer(buffer);
	memset(buffer, 0, sizeof(*buffer));
}

/* ---- lowlat_hold_ops: what the transport tells of requests that ended unanswered ---- */

static void hold_late(void *owner, uint64_t id, const struct winapi_call_buffer *buffers, unsigned int count)
{
	struct lowlat_attachment *attachment = owner;
	struct lowlat_held *entry = id != 0 ? malloc(sizeof(*entry)) : NULL;

	pthread_mutex_lock(&attachment->hold_lock);
	if (entry != NULL) {
		*entry = (struct lowlat_held){ .next = attachment->held, .id = id, .count = count };
		memcpy(entry->buffers, buffers, count * sizeof(*buffers));
		attachment->held = entry;
	} else {
		/* Untracked, its answer cannot end the hold: every buffer stays until the transport goes. */
		attachment->hold_all = true;
	}
	pthread_mutex_unlock(&attachment->hold_lock);
}

/* Unlink the deferred buffers nothing holds any more (all of them: @all). Under hold_lock. */
static struct lowlat_deferred *take_unheld(struct lowlat_attachment *attachment, bool all)
{
	struct lowlat_deferred **at = &attachment->deferred, *taken = NULL, *deferred;

	while ((deferred = *at) != NULL) {
		if (!all && held(attachment, &deferred->buffer)) {
			at = &deferred->next;
			continue;
		}
		*at = deferred->next;
		deferred->next = taken;
		taken = deferred;
	}
	return taken;
}

static void hold_answered(void *owner, uint64_t id)
{
	struct lowlat_attachment *attachment = owner;
	struct lowlat_held **at, *entry;
	struct lowlat_deferred *released, *next;

	pthread_mutex_lock(&attachment->hold_lock);
	for (at = &attachment->held; (entry = *at) != NULL; at = &entry->next) {
		if (entry->id == id) {
			*at = entry->next;
			free(entry);
			break;
		}
	}
	released = take_unheld(attachment, false);
	pthread_mutex_unlock(&attachment->hold_lock);
	/* The handle's reference outlives its transport, which calls this: no put ends the attachment. */
	for (; released != NULL; released = next) {
		next = released->next;
		release_buffer(&released->buffer);
		free(released);
	}
}

static void hold_abandoned(void *owner)
{
	struct lowlat_attachment *attachment = owner;
	struct lowlat_deferred *dropped, *next_deferred;
	struct lowlat_held *entry, *next_held;

	pthread_mutex_lock(&attachment->hold_lock);
	entry = attachment->held;
	attachment->held = NULL;
	attachment->hold_all = false;
	dropped = take_unheld(attachment, true);
	pthread_mutex_unlock(&attachment->hold_lock);
	for (; entry != NULL; entry = next_held) {
		next_held = entry->next;
		free(entry);
	}
	/*
	 * Nobody reads the late answers now: the memory is not released (the host may write it
	 * until the device goes, with the attachment), only the references it kept.
	 */
	for (; dropped != NULL; dropped = next_deferred) {
		next_deferred = dropped->next;
		lowlat_attachment_put(dropped->buffer.owner);
		free(dropped);
	}
}

const struct winapi_call_hold_ops lowlat_hold_ops = {
	.late = hold_late,
	.answered = hold_answered,
	.abandoned = hold_abandoned,
};

int lowlat_call_buffer(winapi_handle_t handle, const winapi_buffer_t *buffer, uint64_t offset,
		       uint64_t length, struct winapi_call_buffer *call_buffer)
{
	const struct lowlat_attachment *attachment = handle->attachment;

	if (buffer == NULL || buffer->owner != attachment || buffer->data == NULL ||
	    offset > buffer->size || length > buffer->size - offset || length == 0)
		return -EINVAL;
	if (buffer->kind == WINAPI_BUFFER_GPADL) {
		*call_buffer = (struct winapi_call_buffer){
			.kind = WINAPI_BUFFER_GPADL, .length = length,
			.gpadl = attachment->regions[buffer->region].gpadl,
			.gpadl_offset = buffer->offset + offset,
		};
	} else {
		*call_buffer = (struct winapi_call_buffer){
			.kind = WINAPI_BUFFER_GPA_DIRECT, .length = length,
			.address = (const uint8_t *)buffer->data + offset,
		};
	}
	return 0;
}

/*
 * From (*buffer, *offset) on, take pieces while they fit one request: at most 8, and no
 * more GPA-direct page numbers than the channel's packet carries. Pieces end on page
 * boundaries (of the buffer, which is page-aligned), so the pattern's phase, which runs from
 * each piece's first byte on the host, stays that of the whole buffer.
 */
unsigned int lowlat_next_request(winapi_handle_t handle, const winapi_buffer_t *buffers, size_t count,
				 size_t *buffer, uint64_t *offset, uint32_t inline_length,
				 struct lowlat_piece *pieces)
{
	unsigned int taken = 0;
	uint64_t pages_used = 0;

	while (*buffer < count && taken < WINAPI_MAX_BUFFERS) {
		const winapi_buffer_t *current = &buffers[*buffer];
		uint64_t left = current->size - *offset, length = left;

		if (current->kind == WINAPI_BUFFER_GPA_DIRECT) {
			/* Budget with one more range, as this piece would add it. */
			uint64_t budget = handle->ops->buffer_page_budget(handle->transport, taken + 1, inline_length);
			uint64_t pages = (left + VMBUS_PAGE_SIZE - 1) / VMBUS_PAGE_SIZE;

			if (budget <= pages_used)
				break;
			if (pages > budget - pages_used) {
				pages = budget - pages_used;
				length = pages * VMBUS_PAGE_SIZE;
			}
			pages_used += pages;
		}
		pieces[taken++] = (struct lowlat_piece){ .buffer = *buffer, .offset = *offset, .length = length };
		*offset += length;
		if (*offset == current->size) {
			(*buffer)++;
			*offset = 0;
		}
	}
	return taken;
}

int lowlat_pieces_to_call(winapi_handle_t handle, const winapi_buffer_t *buffers,
			  const struct lowlat_piece *pieces, unsigned int taken,
			  struct winapi_call_buffer *call_buffers, uint64_t *bytes)
{
	unsigned int i;
	int rc;

	*bytes = 0;
	for (i = 0; i < taken; i++) {
		rc = lowlat_call_buffer(handle, &buffers[pieces[i].buffer], pieces[i].offset, pieces[i].length,
					&call_buffers[i]);
		if (rc != 0)
			return rc;
		*bytes += pieces[i].length;
	}
	return 0;
}

int winapi_buffer_test(winapi_handle_t handle, winapi_buffer_t *buffers, size_t count, int operation,
		       uint32_t pattern, winapi_buffer_test_result_t *result)
{
	struct winapi_buffer_test_request request = { .operation = (uint32_t)operation, .pattern = pattern };
	struct winapi_call_buffer call_buffers[WINAPI_MAX_BUFFERS];
	uint8_t request_bytes[sizeof(request)], reply_bytes[sizeof(struct winapi_buffer_test_reply)];
	struct lowlat_piece pieces[WINAPI_MAX_BUFFERS];
	struct winapi_buffer_test_reply reply;
	uint64_t offset = 0, done = 0, bytes;
	size_t buffer = 0, i;
	unsigned int taken;
	int rc;

	if (handle == NULL || buffers == NULL || result == NULL || count == 0 || count > WINAPI_MAX_BUFFERS ||
	    (operation != WINAPI_BUFFER_OP_WRITE && operation != WINAPI_BUFFER_OP_READ &&
	     operation != WINAPI_BUFFER_OP_VERIFY))
		return -EINVAL;
	for (i = 0; i < count; i++)
		if (buffers[i].owner != handle->attachment || buffers[i].data == NULL)
			return -EINVAL;
	memset(result, 0, sizeof(*result));
	result->first_mismatch = UINT64_MAX;

	while (buffer < count) {
		struct winapi_call call = {
			.api_id = WINAPI_API_BUFFER_TEST,
			.request_data = request_bytes,
			.request_length = sizeof(request_bytes),
			.reply_data = reply_bytes,
			.reply_capacity = sizeof(reply_bytes),
			.buffers = call_buffers,
			.timeout_ms = -1,
		};

		taken = lowlat_next_request(handle, buffers, count, &buffer, &offset, sizeof(request_bytes), pieces);
		if (taken == 0)
			return -EMSGSIZE; /* not even one page fits a packet of this channel */
		rc = lowlat_pieces_to_call(handle, buffers, pieces, taken, call_buffers, &bytes);
		if (rc != 0)
			return rc;
		call.buffer_count = taken;
		request.crc_seed = result->checksum;
		winapi_buffer_test_request_encode(&request, request_bytes);
		rc = lowlat_seed_call(handle, &call);
		if (rc != 0)
			return rc;
		if (winapi_buffer_test_reply_decode(reply_bytes, call.reply_length, &reply) != 0)
			return -EBADMSG;
		if (reply.first_mismatch != UINT64_MAX && result->first_mismatch == UINT64_MAX)
			result->first_mismatch = done + reply.first_mismatch;
		result->checksum = reply.checksum;
		result->bytes_processed += reply.bytes_processed;
		result->mismatches += reply.mismatches;
		done += bytes;
	}
	result->status = result->mismatches != 0 ? -EILSEQ : 0;
	return 0;
}
