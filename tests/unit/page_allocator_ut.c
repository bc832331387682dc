/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of the page allocator (lib/vmbus/page_allocator.c) against what
 * include/vmbus/memory.h promises: whole pages, first fit, -ENOMEM when no run fits, -EINVAL
 * for what was not allocated, and thread safety.
 *
 * The allocator is opaque, so its free runs are seen only through allocations: a region
 * that can be allocated again as one run at offset 0 is one whose frees all merged with
 * their neighbours.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include <vmbus/memory.h>

#define PAGE VMBUS_PAGE_SIZE

static struct vmbus_page_allocator *create_allocator(size_t pages, size_t page_size)
{
	struct vmbus_page_allocator *allocator = NULL;

	assert_int_equal(vmbus_page_allocator_create(pages, page_size, &allocator), 0);
	assert_non_null(allocator);
	return allocator;
}

/* An allocation that must succeed, at the offset first fit gives it. */
static void expect_alloc(struct vmbus_page_allocator *allocator, size_t size, size_t expected_offset)
{
	size_t offset = SIZE_MAX;

	assert_int_equal(vmbus_page_allocator_alloc(allocator, size, &offset), 0);
	assert_int_equal(offset, expected_offset);
}

static void expect_no_room(struct vmbus_page_allocator *allocator, size_t size)
{
	size_t offset;

	assert_int_equal(vmbus_page_allocator_alloc(allocator, size, &offset), -ENOMEM);
}

/* Every page free, in one run; left free again. */
static void expect_all_free(struct vmbus_page_allocator *allocator, size_t pages, size_t page_size)
{
	expect_alloc(allocator, pages * page_size, 0);
	assert_int_equal(vmbus_page_allocator_free(allocator, 0, pages * page_size), 0);
}

/* Every page allocated on its own, in order: the start for making holes one page wide. */
static struct vmbus_page_allocator *create_full_of_single_pages(size_t pages)
{
	struct vmbus_page_allocator *allocator = create_allocator(pages, PAGE);
	size_t page;

	for (page = 0; page < pages; page++)
		expect_alloc(allocator, PAGE, page * PAGE);
	return allocator;
}

/* Free pages @first, @first + 2, ... below @pages. */
static void free_every_other_page(struct vmbus_page_allocator *allocator, size_t first, size_t pages)
{
	size_t page;

	for (page = first; page < pages; page += 2)
		assert_int_equal(vmbus_page_allocator_free(allocator, page * PAGE, PAGE), 0);
}

static void test_create_rejects_invalid_arguments(void **state)
{
	struct vmbus_page_allocator *allocator = NULL;

	(void)state;
	assert_int_equal(vmbus_page_allocator_create(0, PAGE, &allocator), -EINVAL);
	assert_int_equal(vmbus_page_allocator_create(16, 0, &allocator), -EINVAL);
	assert_int_equal(vmbus_page_allocator_create(16, PAGE, NULL), -EINVAL);
	assert_null(allocator);
	/* Like free(): callers' unwind paths destroy what may not have been created. */
	vmbus_page_allocator_destroy(NULL);
}

static void test_alloc_rounds_up_to_whole_pages(void **state)
{
	struct vmbus_page_allocator *allocator = create_allocator(8, PAGE);

	(void)state;
	expect_alloc(allocator, 1, 0);
	expect_alloc(allocator, PAGE, PAGE);
	expect_alloc(allocator, PAGE + 1, 2 * PAGE);  /* two pages */
	expect_alloc(allocator, 4 * PAGE, 4 * PAGE);  /* pages 4-7 */
	expect_no_room(allocator, 1);                 /* 1 + 1 + 2 + 4: all eight taken */

	/* Freeing takes the same rounding: one byte of a one-page run frees that page. */
	assert_int_equal(vmbus_page_allocator_free(allocator, 0, 1), 0);
	expect_alloc(allocator, PAGE, 0);
	vmbus_page_allocator_destroy(allocator);
}

/* The page size is the caller's: offsets are multiples of it, whatever it is. */
static void test_any_page_size(void **state)
{
	struct vmbus_page_allocator *allocator = create_allocator(5, 100);

	(void)state;
	expect_alloc(allocator, 150, 0);   /* pages 0-1 */
	expect_alloc(allocator, 1, 200);   /* page 2 */
	assert_int_equal(vmbus_page_allocator_free(allocator, 150, 50), -EINVAL); /* not on a page */
	assert_int_equal(vmbus_page_allocator_free(allocator, 200, 100), 0);
	expect_alloc(allocator, 300, 200); /* pages 2-4 */
	expect_no_room(allocator, 1);
	assert_int_equal(vmbus_page_allocator_free(allocator, 0, 150), 0);
	assert_int_equal(vmbus_page_allocator_free(allocator, 200, 300), 0);
	expect_all_free(allocator, 5, 100);
	vmbus_page_allocator_destroy(allocator);
}

static void test_alloc_rejects_invalid_arguments(void **state)
{
	struct vmbus_page_allocator *allocator = create_allocator(4, PAGE);
	size_t offset;

	(void)state;
	assert_int_equal(vmbus_page_allocator_alloc(NULL, PAGE, &offset), -EINVAL);
	assert_int_equal(vmbus_page_allocator_alloc(allocator, PAGE, NULL), -EINVAL);
	assert_int_equal(vmbus_page_allocator_alloc(allocator, 0, &offset), -EINVAL);
	/* None of them took a page. */
	expect_all_free(allocator, 4, PAGE);
	vmbus_page_allocator_destroy(allocator);
}

static void test_exhaustion(void **state)
{
	struct vmbus_page_allocator *allocator = create_allocator(4, PAGE);

	(void)state;
	expect_no_room(allocator, 5 * PAGE);      /* more than the region */
	expect_no_room(allocator, 4 * PAGE + 1);  /* rounds up to five pages */
	expect_no_room(allocator, SIZE_MAX);      /* rounding must not wrap to nothing */
	expect_no_room(allocator, SIZE_MAX - PAGE + 2);
	expect_alloc(allocator, 4 * PAGE, 0);
	expect_no_room(allocator, 1);
	/* A refusal changes nothing: what is freed is whole again. */
	assert_int_equal(vmbus_page_allocator_free(allocator, 0, 4 * PAGE), 0);
	expect_all_free(allocator, 4, PAGE);
	vmbus_page_allocator_destroy(allocator);
}

/* First fit: the lowest free run large enough, not the one closest in size. */
static void test_first_fit(void **state)
{
	struct vmbus_page_allocator *allocator = create_allocator(10, PAGE);

	(void)state;
	expect_alloc(allocator, 4 * PAGE, 0);        /* A: pages 0-3 */
	expect_alloc(allocator, PAGE, 4 * PAGE);     /* B: page 4 */
	expect_alloc(allocator, 2 * PAGE, 5 * PAGE); /* C: pages 5-6 */
	expect_alloc(allocator, 3 * PAGE, 7 * PAGE); /* D: pages 7-9 */
	assert_int_equal(vmbus_page_allocator_free(allocator, 0, 4 * PAGE), 0);        /* A */
	assert_int_equal(vmbus_page_allocator_free(allocator, 5 * PAGE, 2 * PAGE), 0); /* C */

	expect_alloc(allocator, 2 * PAGE, 0);        /* A's hole, though C's fits exactly */
	expect_alloc(allocator, 2 * PAGE, 2 * PAGE); /* the rest of A's */
	expect_alloc(allocator, 2 * PAGE, 5 * PAGE); /* then C's */
	expect_no_room(allocator, 1);
	vmbus_page_allocator_destroy(allocator);
}

/* Free pages that are not together do not make a run. */
static void test_fragmentation(void **state)
{
	struct vmbus_page_allocator *allocator = create_full_of_single_pages(8);

	(void)state;
	free_every_other_page(allocator, 0, 8);
	expect_no_room(allocator, 2 * PAGE); /* four pages free, none next to another */
	expect_alloc(allocator, PAGE, 0);
	expect_alloc(allocator, PAGE, 2 * PAGE);
	vmbus_page_allocator_destroy(allocator);
}

/* A freed run merges with the free run before it, after it, or both. */
static void test_coalescing(void **state)
{
	struct vmbus_page_allocator *allocator = create_full_of_single_pages(6);

	(void)state;
	assert_int_equal(vmbus_page_allocator_free(allocator, 1 * PAGE, PAGE), 0);
	assert_int_equal(vmbus_page_allocator_free(allocator, 2 * PAGE, PAGE), 0); /* after 1: 1-2 */
	assert_int_equal(vmbus_page_allocator_free(allocator, 4 * PAGE, PAGE), 0);
	assert_int_equal(vmbus_page_allocator_free(allocator, 3 * PAGE, PAGE), 0); /* between: 1-4 */
	expect_alloc(allocator, 4 * PAGE, 1 * PAGE);
	assert_int_equal(vmbus_page_allocator_free(allocator, 1 * PAGE, 4 * PAGE), 0);

	assert_int_equal(vmbus_page_allocator_free(allocator, 0, PAGE), 0);        /* before 1-4: 0-4 */
	assert_int_equal(vmbus_page_allocator_free(allocator, 5 * PAGE, PAGE), 0); /* after 0-4 */
	expect_all_free(allocator, 6, PAGE);
	vmbus_page_allocator_destroy(allocator);
}

/* More holes than the allocator first has room to record: it grows, and still merges. */
static void test_many_holes(void **state)
{
	struct vmbus_page_allocator *allocator = create_full_of_single_pages(256);

	(void)state;
	free_every_other_page(allocator, 0, 256); /* 128 holes */
	expect_no_room(allocator, 2 * PAGE);
	free_every_other_page(allocator, 1, 256); /* each between two holes */
	expect_all_free(allocator, 256, PAGE);
	vmbus_page_allocator_destroy(allocator);
}

/* What was not allocated cannot be freed, and a refused free changes nothing. */
static void test_free_rejects_what_is_not_allocated(void **state)
{
	struct vmbus_page_allocator *allocator = create_allocator(4, PAGE);

	(void)state;
	assert_int_equal(vmbus_page_allocator_free(allocator, 0, PAGE), -EINVAL);    /* never allocated */
	assert_int_equal(vmbus_page_allocator_free(allocator, PAGE, PAGE), -EINVAL); /* inside a free run */
	expect_alloc(allocator, 2 * PAGE, 0);
	expect_alloc(allocator, PAGE, 2 * PAGE);

	assert_int_equal(vmbus_page_allocator_free(allocator, 2 * PAGE, 2 * PAGE), -EINVAL); /* page 3 is free */
	assert_int_equal(vmbus_page_allocator_free(allocator, 3 * PAGE, PAGE), -EINVAL);
	assert_int_equal(vmbus_page_allocator_free(allocator, 1, PAGE), -EINVAL);           /* not on a page */
	assert_int_equal(vmbus_page_allocator_free(allocator, 4 * PAGE, PAGE), -EINVAL);    /* past the end */
	assert_int_equal(vmbus_page_allocator_free(allocator, 0, 5 * PAGE), -EINVAL);       /* runs past it */
	assert_int_equal(vmbus_page_allocator_free(allocator, 0, SIZE_MAX), -EINVAL);       /* no wrap either */
	assert_int_equal(vmbus_page_allocator_free(allocator, 0, 0), -EINVAL);
	assert_int_equal(vmbus_page_allocator_free(NULL, 0, PAGE), -EINVAL);
	/* Still as it was: pages 0-2 taken, page 3 free. */
	expect_alloc(allocator, PAGE, 3 * PAGE);
	expect_no_room(allocator, 1);

	assert_int_equal(vmbus_page_allocator_free(allocator, 2 * PAGE, PAGE), 0);
	assert_int_equal(vmbus_page_allocator_free(allocator, 2 * PAGE, PAGE), -EINVAL); /* twice */
	assert_int_equal(vmbus_page_allocator_free(allocator, 0, 2 * PAGE), 0);
	assert_int_equal(vmbus_page_allocator_free(allocator, 3 * PAGE, PAGE), 0);
	expect_all_free(allocator, 4, PAGE);
	vmbus_page_allocator_destroy(allocator);
}

/*
 * Thread-safe, as memory.h says: threads allocating and freeing at once never get the same
 * page twice. Each claims its pages in an owner table; any overlap is seen there, whatever
 * the interleaving. Demand exceeds the region, so -ENOMEM comes up too.
 */
#define CONCURRENT_THREADS 4
#define CONCURRENT_ROUNDS 1000000
#define CONCURRENT_PAGES 128
#define CONCURRENT_HELD 6
#define CONCURRENT_MAX_PAGES 8

struct concurrent_region {
	struct vmbus_page_allocator *allocator;
	pthread_barrier_t start; /* all threads at once, not one per time slice */
	unsigned char owner[CONCURRENT_PAGES]; /* holder's number, 0 when free; __atomic */
};

struct concurrent_worker {
	struct concurrent_region *region;
	unsigned char number;  /* 1.. */
	unsigned int seed;
	unsigned int errors;   /* counted here: cmocka's asserts belong to the main thread */
	unsigned int allocations;
};

struct concurrent_run {
	size_t offset;
	size_t pages;
};

/* Set (or clear) the owner of each page; false if any was not what it should have been. */
static bool change_owner(struct concurrent_region *region, const struct concurrent_run *run, unsigned char from,
			 unsigned char to)
{
	bool consistent = true;
	size_t page;

	for (page = run->offset / PAGE; page < run->offset / PAGE + run->pages; page++)
		if (__atomic_exchange_n(&region->owner[page], to, __ATOMIC_RELAXED) != from)
			consistent = false;
	return consistent;
}

static void concurrent_release(struct concurrent_worker *worker, const struct concurrent_run *run)
{
	if (!change_owner(worker->region, run, worker->number, 0))
		worker->errors++;
	if (vmbus_page_allocator_free(worker->region->allocator, run->offset, run->pages * PAGE) != 0)
		worker->errors++;
}

static void *concurrent_worker_run(void *argument)
{
	struct concurrent_worker *worker = argument;
	struct concurrent_run held[CONCURRENT_HELD];
	unsigned int count = 0, round;

	pthread_barrier_wait(&worker->region->start);
	for (round = 0; round < CONCURRENT_ROUNDS; round++) {
		struct concurrent_run run;
		size_t size;
		int rc;

		if (count == CONCURRENT_HELD || (count > 0 && rand_r(&worker->seed) % 2 == 0)) {
			unsigned int victim = (unsigned int)rand_r(&worker->seed) % count;

			concurrent_release(worker, &held[victim]);
			held[victim] = held[--count];
			continue;
		}
		run.pages = 1 + (size_t)rand_r(&worker->seed) % CONCURRENT_MAX_PAGES;
		/* Anything in ((pages - 1) pages, pages pages] takes exactly that many. */
		size = run.pages * PAGE - (size_t)rand_r(&worker->seed) % PAGE;
		rc = vmbus_page_allocator_alloc(worker->region->allocator, size, &run.offset);
		if (rc == -ENOMEM)
			continue;
		if (rc != 0 || run.offset % PAGE != 0 || run.offset / PAGE + run.pages > CONCURRENT_PAGES) {
			worker->errors++;
			continue;
		}
		if (!change_owner(worker->region, &run, 0, worker->number))
			worker->errors++;
		held[count++] = run;
		worker->allocations++;
	}
	while (count > 0)
		concurrent_release(worker, &held[--count]);
	return NULL;
}

static void test_concurrent_alloc_and_free(void **state)
{
	struct concurrent_region region = { .allocator = create_allocator(CONCURRENT_PAGES, PAGE) };
	struct concurrent_worker workers[CONCURRENT_THREADS];
	pthread_t threads[CONCURRENT_THREADS];
	unsigned int i;

	(void)state;
	assert_int_equal(pthread_barrier_init(&region.start, NULL, CONCURRENT_THREADS), 0);
	for (i = 0; i < CONCURRENT_THREADS; i++) {
		workers[i] = (struct concurrent_worker){ .region = &region, .number = (unsigned char)(i + 1),
							 .seed = i + 1 };
		assert_int_equal(pthread_create(&threads[i], NULL, concurrent_worker_run, &workers[i]), 0);
	}
	for (i = 0; i < CONCURRENT_THREADS; i++)
		assert_int_equal(pthread_join(threads[i], NULL), 0);
	pthread_barrier_destroy(&region.start);
	for (i = 0; i < CONCURRENT_THREADS; i++) {
		assert_int_equal(workers[i].errors, 0);
		assert_true(workers[i].allocations > 0);
	}
	for (i = 0; i < CONCURRENT_PAGES; i++)
		assert_int_equal(region.owner[i], 0);
	expect_all_free(region.allocator, CONCURRENT_PAGES, PAGE);
	vmbus_page_allocator_destroy(region.allocator);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_rejects_invalid_arguments),
		cmocka_unit_test(test_alloc_rounds_up_to_whole_pages),
		cmocka_unit_test(test_any_page_size),
		cmocka_unit_test(test_alloc_rejects_invalid_arguments),
		cmocka_unit_test(test_exhaustion),
		cmocka_unit_test(test_first_fit),
		cmocka_unit_test(test_fragmentation),
		cmocka_unit_test(test_coalescing),
		cmocka_unit_test(test_many_holes),
		cmocka_unit_test(test_free_rejects_what_is_not_allocated),
		cmocka_unit_test(test_concurrent_alloc_and_free),
	};

	return cmocka_run_group_tests_name("page_allocator", tests, NULL, NULL);
}
