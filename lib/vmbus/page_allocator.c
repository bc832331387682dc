/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Carving a region into buffers: offsets, not memory, so that the same allocator serves any
 * region someone else mapped (liblowlat's GPADL pools, the emulator's guest RAM), apart from
 * the device calls that map them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <vmbus/memory.h>

/*
 * Page-run allocator: a sorted array of free runs, first fit, neighbours merged on free.
 * Allocations are few and large (buffers of 4 KiB to 64 MiB), so a linear scan is plenty.
 */
struct free_run {
	size_t first;
	size_t pages;
};

struct vmbus_page_allocator {
	pthread_mutex_t lock;
	size_t pages;
	size_t page_size;
	struct free_run *runs;
	size_t run_count;
	size_t run_capacity;
};

int vmbus_page_allocator_create(size_t pages, size_t page_size, struct vmbus_page_allocator **allocator_out)
{
	struct vmbus_page_allocator *allocator;

	if (pages == 0 || page_size == 0 || allocator_out == NULL)
		return -EINVAL;
	allocator = calloc(1, sizeof(*allocator));
	if (allocator == NULL)
		return -ENOMEM;
	allocator->run_capacity = 16;
	allocator->runs = calloc(allocator->run_capacity, sizeof(*allocator->runs));
	if (allocator->runs == NULL) {
		free(allocator);
		return -ENOMEM;
	}
	pthread_mutex_init(&allocator->lock, NULL);
	allocator->pages = pages;
	allocator->page_size = page_size;
	allocator->runs[0] = (struct free_run){ .first = 0, .pages = pages };
	allocator->run_count = 1;
	*allocator_out = allocator;
	return 0;
}

void vmbus_page_allocator_destroy(struct vmbus_page_allocator *allocator)
{
	if (allocator == NULL)
		return;
	pthread_mutex_destroy(&allocator->lock);
	free(allocator->runs);
	free(allocator);
}

/* Whole pages holding @size bytes; no wrap for a size near SIZE_MAX (it then fits nowhere). */
static size_t pages_for(const struct vmbus_page_allocator *allocator, size_t size)
{
	return size / allocator->page_size + (size % allocator->page_size != 0);
}

int vmbus_page_allocator_alloc(struct vmbus_page_allocator *allocator, size_t size, size_t *offset)
{
	size_t pages, i;
	int rc = -ENOMEM;

	if (allocator == NULL || offset == NULL || size == 0)
		return -EINVAL;
	pages = pages_for(allocator, size);
	pthread_mutex_lock(&allocator->lock);
	for (i = 0; i < allocator->run_count; i++) {
		struct free_run *run = &allocator->runs[i];

		if (run->pages < pages)
			continue;
		*offset = run->first * allocator->page_size;
		run->first += pages;
		run->pages -= pages;
		if (run->pages == 0) {
			memmove(run, run + 1, (allocator->run_count - i - 1) * sizeof(*run));
			allocator->run_count--;
		}
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&allocator->lock);
	return rc;
}

int vmbus_page_allocator_free(struct vmbus_page_allocator *allocator, size_t offset, size_t size)
{
	size_t first, pages, i;
	struct free_run *runs;
	int rc = 0;

	if (allocator == NULL || size == 0 || offset % allocator->page_size != 0)
		return -EINVAL;
	first = offset / allocator->page_size;
	pages = pages_for(allocator, size);
	if (first >= allocator->pages || pages > allocator->pages - first)
		return -EINVAL;

	pthread_mutex_lock(&allocator->lock);
	runs = allocator->runs;
	/* i = the first free run after the freed one. */
	for (i = 0; i < allocator->run_count && runs[i].first < first; i++)
		;
	/* Overlap with a free run means a double free or a wrong size. */
	if ((i > 0 && runs[i - 1].first + runs[i - 1].pages > first) ||
	    (i < allocator->run_count && first + pages > runs[i].first)) {
		rc = -EINVAL;
		goto out_unlock;
	}
	if (i > 0 && runs[i - 1].first + runs[i - 1].pages == first) {
		runs[i - 1].pages += pages;
		if (i < allocator->run_count && runs[i - 1].first + runs[i - 1].pages == runs[i].first) {
			runs[i - 1].pages += runs[i].pages;
			memmove(&runs[i], &runs[i + 1], (allocator->run_count - i - 1) * sizeof(*runs));
			allocator->run_count--;
		}
		goto out_unlock;
	}
	if (i < allocator->run_count && first + pages == runs[i].first) {
		runs[i].first = first;
		runs[i].pages += pages;
		goto out_unlock;
	}
	if (allocator->run_count == allocator->run_capacity) {
		struct free_run *grown = realloc(runs, 2 * allocator->run_capacity * sizeof(*runs));

		if (grown == NULL) {
			rc = -ENOMEM;
			goto out_unlock;
		}
		allocator->runs = runs = grown;
		allocator->run_capacity *= 2;
	}
	memmove(&runs[i + 1], &runs[i], (allocator->run_count - i) * sizeof(*runs));
	runs[i] = (struct free_run){ .first = first, .pages = pages };
	allocator->run_count++;
out_unlock:
	pthread_mutex_unlock(&allocator->lock);
	return rc;
}
