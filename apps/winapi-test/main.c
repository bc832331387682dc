/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-test: the seeds' test_client. Calls the host through liblowlat and checks what came
 * back; every time it reports is measured here (CLOCK_MONOTONIC) or by PERF_TEST's round trips.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <winapi/lowlat.h>
#include <winapi/protocol.h>
#include <winapi_internal/clock.h>

struct options {
	const char *test;         /* echo, buffer, performance */
	const char *message;
	unsigned long count;
	bool integration;
	bool stress;
	const char *benchmark;    /* latency, throughput, rate */
	uint64_t iterations;
	unsigned int batch;       /* --batch: requests per submission (benchmark rate) */
	uint64_t size;            /* --size: buffer bytes (buffer test) or bytes to move (benchmark) */
	unsigned int buffers;
	bool list_apis;
	bool clock;
	bool info;
	const char *cat;          /* --cat EXPORT:PATH */
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: winapi-test [options]\n"
		"Calls the Windows host through liblowlat and checks what came back.\n"
		"\n"
		"  -t, --test NAME         echo (default), buffer or performance\n"
		"  -m, --message TEXT      text to echo (default \"Hello Windows!\")\n"
		"  -n, --count N           echo calls to make (default 1); more than one prints a summary\n"
		"  -b, --buffers N         buffers per buffer test call, 1..8 (default 4)\n"
		"  -S, --size BYTES        buffer test: bytes per buffer (4K..64M, default 1M);\n"
		"                          benchmark throughput: bytes to move (default 100M)\n"
		"      --integration       echo, every buffer operation over 4 KiB..64 MiB buffers (with\n"
		"                          --size: up to that size), and performance runs, each checked\n"
		"      --stress            random echoes and buffer operations, every result checked\n"
		"  -i, --iterations N      stress rounds, or benchmark round trips or requests\n"
		"                          (default 1000)\n"
		"      --benchmark KIND    latency or throughput: measured round trips, printed;\n"
		"                          rate: 64-byte echoes through a queue, in batches, two\n"
		"                          batches in flight, every answer checked\n"
		"      --batch N           benchmark rate: requests per submission, 1..64 (default 32)\n"
		"      --list-apis         the host's protocol versions and API table: name, id,\n"
		"                          version, inline limits, what the host does with each buffer\n"
		"      --clock             the host's clocks against this machine's (host.time): offsets\n"
		"                          of the wall and monotonic clocks and their error bound, from\n"
		"                          the tightest of --iterations round trips (default 1000)\n"
		"      --info              what the host is (host.info): system, name, processors, memory\n"
		"      --cat EXPORT:PATH   a file the host exports (host.file.read) to stdout, read\n"
		"                          straight into zero-copy buffers, 4 MiB a call\n"
		"  -s, --socket PATH       the host emulator's socket (sets WINAPI_SIM_SOCKET)\n"
		"  -h, --help              this text\n"
		"\n"
		"Sizes take K, M and G (powers of 1024), or KB, MB, GB.\n"
		"Exit status: 0 when everything checked out, 1 otherwise, 2 for bad options.\n");
}

static int compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
static uint64_t percentile(const uint64_t *sorted, size_t count, double fraction)
{
	size_t rank = (size_t)(fraction * (double)count + 0.999999);

	if (rank == 0)
		rank = 1;
	return sorted[(rank > count ? count : rank) - 1];
}

static int parse_size(const char *text, uint64_t *size)
{
	unsigned long long value;
	char *end;

	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno != 0 || end == text)
		return -EINVAL;
	switch (*end) {
	case 'K': case 'k': value <<= 10; end++; break;
	case 'M': case 'm': value <<= 20; end++; break;
	case 'G': case 'g': value <<= 30; end++; break;
	default: break;
	}
	if ((*end == 'B' || *end == 'b') && end[-1] != *text)
		end++;
	if (*end != '\0')
		return -EINVAL;
	*size = value;
	return 0;
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "winapi-test: %s: %s\n", what, winapi_strerror(rc));
	return 1;
}

/* ---- echo ---- */

static int test_echo(winapi_handle_t handle, const char *message, unsigned long count, bool quiet)
{
	char output[WINAPI_MAX_INLINE_DATA + 1];
	uint64_t *samples, start;
	unsigned long i;
	int rc;

	samples = calloc(count, sizeof(*samples));
	if (samples == NULL)
		return fail("echo", -ENOMEM);
	for (i = 0; i < count; i++) {
		start = winapi_clock_now_ns();
		rc = winapi_echo(handle, message, output, sizeof(output));
		samples[i] = winapi_clock_now_ns() - start;
		if (rc != 0 || strcmp(output, message) != 0) {
			free(samples);
			if (rc != 0)
				return fail("echo", rc);
			fprintf(stderr, "winapi-test: echo call %lu returned \"%s\", sent \"%s\"\n", i + 1,
				output, message);
			return 1;
		}
		if (!quiet && (count == 1 || i < 3))
			printf("echo: sent \"%s\", received \"%s\", round trip %.1f us\n", message, output,
			       (double)samples[i] / 1000.0);
	}
	if (count > 1 && !quiet) {
		qsort(samples, count, sizeof(*samples), compare_u64);
		printf("echo: %lu calls, %zu bytes each; round trip min %.1f us, median %.1f us, "
		       "p99 %.1f us, max %.1f us\n",
		       count, strlen(message), (double)samples[0] / 1000.0,
		       (double)percentile(samples, count, 0.50) / 1000.0,
		       (double)percentile(samples, count, 0.99) / 1000.0,
		       (double)samples[count - 1] / 1000.0);
	}
	free(samples);
	return 0;
}

/* ---- buffer test ---- */

/* CRC32C of the buffers' bytes as they are here: the same memory the host worked on. */
static uint32_t local_checksum(const winapi_buffer_t *buffers, unsigned int count)
{
	uint32_t crc = 0;
	unsigned int i;

	for (i = 0; i < count; i++)
		crc = winapi_crc32c(crc, buffers[i].data, buffers[i].size);
	return crc;
}

static bool holds_pattern(const winapi_buffer_t *buffer, uint32_t pattern)
{
	const uint8_t *bytes = buffer->data;
	size_t i;

	for (i = 0; i < buffer->size; i++)
		if (bytes[i] != winapi_pattern_byte(pattern, i))
			return false;
	return true;
}

/*
 * How the buffers reached the host: inside a GPADL region, or GPA-direct by page number (uio:
 * from /proc/self/pagemap). Read from the buffer's private kind: a diagnostic of this
 * program, which the nested test uses to see that both paths ran.
 */
static unsigned long gpadl_buffers, gpa_direct_buffers;

/*
 * WRITE, then check in place that the host's pattern is in our memory (nothing was copied
 * back: the host wrote where we read); READ our own random bytes; VERIFY both ways.
 */
static int buffer_round(winapi_handle_t handle, unsigned int count, uint64_t size, uint32_t pattern,
			unsigned int *seed, bool verbose)
{
	winapi_buffer_t buffers[WINAPI_MAX_BUFFERS];
	winapi_buffer_test_result_t result;
	unsigned int allocated, i;
	uint64_t start;
	int rc = 0, status = 0;

	memset(buffers, 0, sizeof(buffers));
	for (allocated = 0; allocated < count; allocated++) {
		rc = winapi_alloc_buffer(&buffers[allocated], size);
		if (rc != 0) {
			status = fail("winapi_alloc_buffer", rc);
			goto out_free;
		}
		if (buffers[allocated].kind == WINAPI_BUFFER_GPADL)
			gpadl_buffers++;
		else
			gpa_direct_buffers++;
	}

	start = winapi_clock_now_ns();
	rc = winapi_buffer_test(handle, buffers, count, WINAPI_BUFFER_OP_WRITE, pattern, &result);
	if (rc != 0) {
		status = fail("buffer write", rc);
		goto out_free;
	}
	if (result.bytes_processed != count * size || result.checksum != local_checksum(buffers, count)) {
		fprintf(stderr, "winapi-test: buffer write: host says %" PRIu64 " bytes, checksum 0x%08X; "
			"here %" PRIu64 " bytes, checksum 0x%08X\n", result.bytes_processed, result.checksum,
			count * size, local_checksum(buffers, count));
		status = 1;
		goto out_free;
	}
	for (i = 0; i < count; i++) {
		if (!holds_pattern(&buffers[i], pattern)) {
			fprintf(stderr, "winapi-test: buffer %u does not hold the host's pattern\n", i);
			status = 1;
			goto out_free;
		}
	}
	if (verbose)
		printf("buffer write: %u x %" PRIu64 " bytes, checksum 0x%08X, %.2f ms, in place\n", count, size,
		       result.checksum, (double)(winapi_clock_now_ns() - start) / 1e6);

	rc = winapi_buffer_test(handle, buffers, count, WINAPI_BUFFER_OP_VERIFY, pattern, &result);
	if (rc != 0 || result.status != 0 || result.mismatches != 0) {
		status = rc != 0 ? fail("buffer verify", rc) : 1;
		if (rc == 0)
			fprintf(stderr, "winapi-test: verify found %" PRIu64 " mismatches\n", result.mismatches);
		goto out_free;
	}

	/* Our own bytes: the host must read exactly these. */
	for (i = 0; i < count; i++) {
		uint8_t *bytes = buffers[i].data;
		uint64_t j;

		for (j = 0; j < size; j += 8)
			bytes[j] = (uint8_t)rand_r(seed);
	}
	start = winapi_clock_now_ns();
	rc = winapi_buffer_test(handle, buffers, count, WINAPI_BUFFER_OP_READ, pattern, &result);
	if (rc != 0 || result.checksum != local_checksum(buffers, count)) {
		status = rc != 0 ? fail("buffer read", rc) : 1;
		if (rc == 0)
			fprintf(stderr, "winapi-test: buffer read: host checksum 0x%08X, here 0x%08X\n",
				result.checksum, local_checksum(buffers, count));
		goto out_free;
	}
	if (verbose)
		printf("buffer read:  %u x %" PRIu64 " bytes, checksum 0x%08X, %.2f ms\n", count, size,
		       result.checksum, (double)(winapi_clock_now_ns() - start) / 1e6);

	/* One byte off the pattern: VERIFY must find exactly it. */
	rc = winapi_buffer_test(handle, buffers, count, WINAPI_BUFFER_OP_WRITE, pattern, &result);
	if (rc == 0) {
		uint64_t where = (count - 1) * size + size / 2;

		((uint8_t *)buffers[count - 1].data)[size / 2] ^= 0x40;
		rc = winapi_buffer_test(handle, buffers, count, WINAPI_BUFFER_OP_VERIFY, pattern, &result);
		if (rc == 0 && (result.status != -EILSEQ || result.mismatches != 1 || result.first_mismatch != where)) {
			fprintf(stderr, "winapi-test: verify of one changed byte at %" PRIu64 ": status %d, "
				"%" PRIu64 " mismatches, first at %" PRIu64 "\n", where, result.status,
				result.mismatches, result.first_mismatch);
			status = 1;
		}
	}
	if (rc != 0)
		status = fail("buffer verify", rc);
out_free:
	for (i = 0; i < allocated; i++)
		winapi_free_buffer(&buffers[i]);
	return status;
}

static int test_buffer(winapi_handle_t handle, const struct options *options)
{
	unsigned int seed = 1;
	int status = buffer_round(handle, options->buffers, options->size, 0xAABBCCDDu, &seed, true);

	if (status == 0)
		printf("buffer test: PASS\n");
	return status;
}

/* ---- performance ---- */

static void print_perf(const char *what, const winapi_perf_test_result_t *r)
{
	printf("%s: %" PRIu64 " round trips in %.1f ms; latency avg %.1f us, min %.1f, p50 %.1f, p99 %.1f, "
	       "max %.1f",
	       what, r->iterations, (double)r->elapsed_ns / 1e6, (double)r->avg_latency_ns / 1e3,
	       (double)r->min_latency_ns / 1e3, (double)r->p50_latency_ns / 1e3, (double)r->p99_latency_ns / 1e3,
	       (double)r->max_latency_ns / 1e3);
	if (r->bytes_processed != 0)
		printf("; %" PRIu64 " bytes, %" PRIu64 " MB/s", r->bytes_processed, r->throughput_mbps);
	printf("\n");
}

static int run_perf(winapi_handle_t handle, int type, uint64_t iterations, uint64_t target_bytes,
		    unsigned int buffer_count, uint64_t buffer_size, winapi_perf_test_result_t *result)
{
	winapi_perf_test_params_t params = { .test_type = type, .iterations = iterations, .target_bytes = target_bytes };
	winapi_buffer_t buffers[WINAPI_MAX_BUFFERS];
	unsigned int allocated = 0, i;
	int rc = 0;

	memset(buffers, 0, sizeof(buffers));
	for (; type == WINAPI_PERF_THROUGHPUT && allocated < buffer_count && rc == 0; allocated++)
		rc = winapi_alloc_buffer(&buffers[allocated], buffer_size);
	if (rc == 0)
		rc = winapi_perf_test(handle, &params, buffers, allocated, result);
	for (i = 0; i < allocated; i++)
		winapi_free_buffer(&buffers[i]);
	return rc;
}

static int test_performance(winapi_handle_t handle, uint64_t iterations)
{
	winapi_perf_test_result_t result;
	int rc;

	rc = run_perf(handle, WINAPI_PERF_LATENCY, iterations, 0, 0, 0, &result);
	if (rc != 0)
		return fail("performance latency", rc);
	print_perf("latency", &result);
	rc = run_perf(handle, WINAPI_PERF_THROUGHPUT, 0, 64u << 20, 4, 1u << 20, &result);
	if (rc != 0)
		return fail("performance throughput", rc);
	print_perf("throughput (4 x 1 MiB)", &result);
	return 0;
}

/* Requests per second through winapi_queue_*: what winapi-bench's rate rows measure. */
#define RATE_PAYLOAD 64u
#define RATE_MAX_BATCH 64u

static int run_rate(winapi_handle_t handle, uint64_t requests, unsigned int batch)
{
	static uint8_t input[RATE_PAYLOAD], outputs[2 * RATE_MAX_BATCH][RATE_PAYLOAD];
	winapi_completion_t completions[2 * RATE_MAX_BATCH];
	unsigned int depth = 2 * batch, in_flight = 0, next = 0, i;
	uint64_t added = 0, done = 0, start, elapsed_ns;
	winapi_queue_t queue;
	int rc = 0, count;

	queue = winapi_queue_create(handle, depth, -1);
	if (queue == NULL)
		return fail("benchmark rate: queue", -errno);
	for (i = 0; i < RATE_PAYLOAD; i++)
		input[i] = (uint8_t)(i * 7 + 1);
	start = winapi_clock_now_ns();
	while (done < requests) {
		while (in_flight + batch <= depth && added < requests) {
			unsigned int this_batch = requests - added < batch ? (unsigned int)(requests - added) : batch;

			for (i = 0; i < this_batch; i++, next = (next + 1) % depth) {
				rc = winapi_queue_echo(queue, input, sizeof(input), outputs[next], RATE_PAYLOAD,
						       outputs[next]);
				if (rc != 0)
					goto out_destroy;
			}
			rc = winapi_queue_submit(queue);
			if (rc < 0 && rc != -EAGAIN)
				goto out_destroy;
			in_flight += this_batch;
			added += this_batch;
		}
		/*
		 * A full ring (-EAGAIN) sends part of a batch: the rest goes before the reap, which
		 * nothing else would end if nothing were sent.
		 */
		rc = winapi_queue_submit(queue);
		if (rc < 0 && rc != -EAGAIN)
			goto out_destroy;
		rc = 0;
		count = winapi_queue_reap(queue, completions, depth, 1, -1);
		if (count < 0) {
			rc = count;
			goto out_destroy;
		}
		for (i = 0; i < (unsigned int)count; i++) {
			rc = completions[i].status;
			if (rc == 0 && (completions[i].length != RATE_PAYLOAD ||
					memcmp(completions[i].user_data, input, RATE_PAYLOAD) != 0))
				rc = -EBADMSG;
			if (rc != 0)
				goto out_destroy;
			memset(completions[i].user_data, 0, RATE_PAYLOAD);
		}
		in_flight -= (unsigned int)count;
		done += (uint64_t)count;
	}
	elapsed_ns = winapi_clock_now_ns() - start;
	printf("rate: %" PRIu64 " requests of %u bytes in batches of %u in %.1f ms; %.0f requests/s\n", done,
	       RATE_PAYLOAD, batch, (double)elapsed_ns / 1e6, (double)done * 1e9 / (double)elapsed_ns);
out_destroy:
	/* Collect what is still out before the queue goes (its buffers are ours). */
	while (in_flight != 0 && (count = winapi_queue_reap(queue, completions, depth, in_flight, -1)) > 0)
		in_flight -= (unsigned int)count;
	winapi_queue_destroy(queue);
	return rc != 0 ? fail("benchmark rate", rc) : 0;
}

static int run_benchmark(winapi_handle_t handle, const struct options *options)
{
	winapi_perf_test_result_t result;
	int rc;

	if (strcmp(options->benchmark, "rate") == 0)
		return run_rate(handle, options->iterations, options->batch);
	if (strcmp(options->benchmark, "latency") == 0) {
		rc = run_perf(handle, WINAPI_PERF_LATENCY, options->iterations, 0, 0, 0, &result);
		if (rc != 0)
			return fail("benchmark latency", rc);
		print_perf("latency", &result);
		return 0;
	}
	/* Throughput: 8 MiB buffers, as many as the size asks (at most 8), until it has moved. */
	uint64_t buffer_size = options->size < (8u << 20) ? (options->size < WINAPI_MIN_BUFFER_SIZE ?
				WINAPI_MIN_BUFFER_SIZE : options->size) : (8u << 20);
	unsigned int count = (unsigned int)((options->size + buffer_size - 1) / buffer_size);

	if (count > WINAPI_MAX_BUFFERS)
		count = WINAPI_MAX_BUFFERS;
	rc = run_perf(handle, WINAPI_PERF_THROUGHPUT, 0, options->size, count, buffer_size, &result);
	if (rc != 0)
		return fail("benchmark throughput", rc);
	print_perf("throughput", &result);
	return 0;
}

/* ---- integration and stress ---- */

static int integration(winapi_handle_t handle, uint64_t largest)
{
	static const uint64_t sizes[] = { 4u << 10, 1u << 20, 16u << 20, 64u << 20 };
	static const unsigned int counts[] = { 1, 3, 8 };
	char text[WINAPI_MAX_INLINE_DATA + 1], small[4];
	winapi_perf_test_result_t perf;
	unsigned int seed = 7, s, c;
	int rc;

	/* Echo: sizes 0 to 3072, then the error cases. */
	for (s = 0; s <= WINAPI_MAX_INLINE_DATA; s += 256) {
		memset(text, 'a' + (int)(s % 26), s);
		text[s] = '\0';
		if (test_echo(handle, text, 3, true) != 0)
			return 1;
	}
	rc = winapi_echo(handle, "toolong", small, sizeof(small));
	if (rc != -ENOBUFS) {
		fprintf(stderr, "winapi-test: echo into a short buffer gave %d, not -ENOBUFS\n", rc);
		return 1;
	}
	printf("integration: echo 0..3072 bytes and a short output buffer: ok\n");

	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]) && sizes[s] <= largest; s++) {
		for (c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
			if (buffer_round(handle, counts[c], sizes[s], 0x5A5A0000u + s * 16 + c, &seed, false) != 0) {
				fprintf(stderr, "winapi-test: integration failed at %u x %" PRIu64 " bytes\n",
					counts[c], sizes[s]);
				return 1;
			}
			printf("integration: buffers %u x %" PRIu64 " bytes: write, read, verify: ok\n",
			       counts[c], sizes[s]);
		}
	}

	rc = run_perf(handle, WINAPI_PERF_LATENCY, 200, 0, 0, 0, &perf);
	if (rc != 0 || perf.iterations != 200 || perf.avg_latency_ns == 0)
		return rc != 0 ? fail("performance latency", rc) : 1;
	rc = run_perf(handle, WINAPI_PERF_THROUGHPUT, 0, 16u << 20, 2, 1u << 20, &perf);
	if (rc != 0 || perf.bytes_processed < (16u << 20) || perf.throughput_mbps == 0)
		return rc != 0 ? fail("performance throughput", rc) : 1;
	printf("integration: performance latency and throughput: ok\n");
	printf("integration: %lu buffers in GPADL regions, %lu GPA-direct\n", gpadl_buffers, gpa_direct_buffers);
	printf("integration: PASS\n");
	return 0;
}

/* Buffer rights as letters: r (the host reads it), w (writes), rw; "-" for none. */
static void format_access(const winapi_api_info_t *api, char *text, size_t size)
{
	size_t used = 0;
	unsigned int i;

	text[0] = '\0';
	for (i = 0; i < WINAPI_MAX_BUFFERS && api->buffer_access[i] != 0 && used < size; i++)
		used += (size_t)snprintf(text + used, size - used, "%s%s%s", i == 0 ? "" : ",",
					 api->buffer_access[i] & WINAPI_ACCESS_HOST_READS ? "r" : "",
					 api->buffer_access[i] & WINAPI_ACCESS_HOST_WRITES ? "w" : "");
	if (i == 0)
		snprintf(text, size, "-");
}

static int list_apis(winapi_handle_t handle)
{
	winapi_api_info_t apis[WINAPI_API_ID_MAX];
	unsigned int oldest, newest;
	char access[64];
	int count, i, rc;

	rc = winapi_protocol_versions(handle, &oldest, &newest);
	count = rc == 0 ? winapi_api_list(handle, apis, WINAPI_API_ID_MAX) : rc;
	if (count < 0)
		return fail("list apis", count);
	printf("protocol %u.%u..%u.%u%s, %d APIs\n", oldest >> 8, oldest & 0xff, newest >> 8, newest & 0xff,
	       newest == WINAPI_PROTOCOL_VERSION_OLDEST ? " (a host without an API table: the seed APIs)" : "", count);
	printf("%-32s %5s %7s %9s %9s  %-24s %s\n", "NAME", "ID", "VERSION", "MAX-IN", "MAX-OUT", "BUFFERS", "FLAGS");
	for (i = 0; i < count && i < (int)WINAPI_API_ID_MAX; i++) {
		format_access(&apis[i], access, sizeof(access));
		printf("%-32s %5u %5u.%-1u %9u %9u  %-24s %s\n", apis[i].name, apis[i].api_id, apis[i].version >> 8,
		       apis[i].version & 0xff, apis[i].max_request, apis[i].max_reply, access,
		       apis[i].flags & WINAPI_API_FLAG_EVENT_SOURCE ? "events" : "-");
	}
	return 0;
}

/* ---- host APIs ---- */

static int show_clock(winapi_handle_t handle, uint64_t round_trips)
{
	winapi_clock_offset_t offset;
	int rc;

	rc = winapi_clock_offset(handle, round_trips > 100000 ? 100000 : (unsigned int)round_trips, &offset);
	if (rc != 0)
		return fail("clock offset (host.time)", rc);
	printf("clock: host minus this machine: wall clock %+.3f us, monotonic clock %+.3f us\n",
	       (double)offset.realtime_offset_ns / 1e3, (double)offset.monotonic_offset_ns / 1e3);
	printf("clock: error bound +/- %.3f us (the tightest of %u round trips: %.3f us)\n",
	       (double)offset.error_bound_ns / 1e3, offset.round_trips, (double)offset.round_trip_ns / 1e3);
	return 0;
}

static int show_info(winapi_handle_t handle)
{
	winapi_host_info_t info;
	int rc;

	rc = winapi_host_info(handle, &info);
	if (rc != 0)
		return fail("host info (host.info)", rc);
	printf("host: %s\n", info.host_name[0] != '\0' ? info.host_name : "(no name)");
	printf("system: %s %s (%u.%u.%u)\n", info.os_name, info.os_version, info.os_major, info.os_minor,
	       info.os_build);
	printf("processors: %u%s%s\n", info.processor_count, info.processor[0] != '\0' ? " x " : "", info.processor);
	printf("memory: %.1f GiB, %.1f GiB available\n", (double)info.memory_total / (1u << 30),
	       (double)info.memory_available / (1u << 30));
	return 0;
}

#define CAT_CHUNK (4u << 20)

static int cat_file(winapi_handle_t handle, const char *spec)
{
	const char *colon = strchr(spec, ':');
	char export_name[WINAPI_FILE_EXPORT_NAME_MAX + 1];
	uint64_t offset = 0, bytes;
	winapi_buffer_t buffer;
	bool eof = false;
	int rc, status = 0;

	if (colon == NULL || colon == spec || (size_t)(colon - spec) > WINAPI_FILE_EXPORT_NAME_MAX) {
		fprintf(stderr, "winapi-test: --cat wants EXPORT:PATH (got '%s')\n", spec);
		return 2;
	}
	snprintf(export_name, sizeof(export_name), "%.*s", (int)(colon - spec), spec);
	rc = winapi_alloc_buffer(&buffer, CAT_CHUNK);
	if (rc != 0)
		return fail("winapi_alloc_buffer", rc);
	while (!eof) {
		rc = winapi_file_read(handle, export_name, colon + 1, offset, CAT_CHUNK, &buffer, 1, &bytes, &eof);
		if (rc != 0) {
			fprintf(stderr, "winapi-test: %s: %s\n", spec, winapi_strerror(rc));
			status = 1;
			break;
		}
		if (fwrite(buffer.data, 1, bytes, stdout) != bytes) {
			fprintf(stderr, "winapi-test: writing stdout: %s\n", strerror(errno));
			status = 1;
			break;
		}
		offset += bytes;
		if (bytes == 0)
			break; /* the host read nothing and did not say why: do not ask for ever */
	}
	if (fflush(stdout) != 0)
		status = 1;
	winapi_free_buffer(&buffer);
	return status;
}

static int stress(winapi_handle_t handle, uint64_t rounds)
{
	char text[WINAPI_MAX_INLINE_DATA + 1];
	unsigned int seed = 42;
	uint64_t round;

	for (round = 0; round < rounds; round++) {
		size_t length = (size_t)rand_r(&seed) % (WINAPI_MAX_INLINE_DATA + 1), i;
		unsigned int count = 1 + (unsigned int)rand_r(&seed) % WINAPI_MAX_BUFFERS;
		uint64_t size = WINAPI_MIN_BUFFER_SIZE * (1 + (uint64_t)rand_r(&seed) % 64);

		for (i = 0; i < length; i++)
			text[i] = (char)(1 + rand_r(&seed) % 255);
		text[length] = '\0';
		if (test_echo(handle, text, 1, true) != 0 ||
		    buffer_round(handle, count, size, (uint32_t)rand_r(&seed), &seed, false) != 0) {
			fprintf(stderr, "winapi-test: stress failed in round %" PRIu64 "\n", round + 1);
			return 1;
		}
	}
	printf("stress: %" PRIu64 " rounds of echo and buffer operations: PASS\n", rounds);
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPTION_INTEGRATION = 256, OPTION_STRESS, OPTION_BENCHMARK, OPTION_LIST_APIS, OPTION_BATCH, OPTION_CLOCK,
	       OPTION_INFO, OPTION_CAT };
	static const struct option long_options[] = {
		{ "test", required_argument, NULL, 't' },
		{ "message", required_argument, NULL, 'm' },
		{ "count", required_argument, NULL, 'n' },
		{ "buffers", required_argument, NULL, 'b' },
		{ "size", required_argument, NULL, 'S' },
		{ "integration", no_argument, NULL, OPTION_INTEGRATION },
		{ "stress", no_argument, NULL, OPTION_STRESS },
		{ "iterations", required_argument, NULL, 'i' },
		{ "benchmark", required_argument, NULL, OPTION_BENCHMARK },
		{ "batch", required_argument, NULL, OPTION_BATCH },
		{ "list-apis", no_argument, NULL, OPTION_LIST_APIS },
		{ "clock", no_argument, NULL, OPTION_CLOCK },
		{ "info", no_argument, NULL, OPTION_INFO },
		{ "cat", required_argument, NULL, OPTION_CAT },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options options = { .test = "echo", .message = "Hello Windows!", .count = 1, .iterations = 1000,
				   .buffers = 4, .batch = 32 };
	bool size_given = false;
	winapi_handle_t handle;
	unsigned long value;
	int option, status;
	char *end;

	while ((option = getopt_long(argc, argv, "t:m:n:b:S:i:s:h", long_options, NULL)) != -1) {
		switch (option) {
		case 't':
			options.test = optarg;
			break;
		case 'm':
			options.message = optarg;
			break;
		case 'n':
		case 'b':
		case 'i':
			errno = 0;
			value = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || value == 0 || value > 100000000ul ||
			    (option == 'b' && value > WINAPI_MAX_BUFFERS)) {
				fprintf(stderr, "winapi-test: bad -%c '%s'\n", option, optarg);
				return 2;
			}
			if (option == 'n')
				options.count = value;
			else if (option == 'b')
				options.buffers = (unsigned int)value;
			else
				options.iterations = value;
			break;
		case 'S':
			if (parse_size(optarg, &options.size) != 0 || options.size == 0) {
				fprintf(stderr, "winapi-test: bad --size '%s'\n", optarg);
				return 2;
			}
			size_given = true;
			break;
		case OPTION_INTEGRATION:
			options.integration = true;
			break;
		case OPTION_STRESS:
			options.stress = true;
			break;
		case OPTION_BENCHMARK:
			options.benchmark = optarg;
			if (strcmp(optarg, "latency") != 0 && strcmp(optarg, "throughput") != 0 &&
			    strcmp(optarg, "rate") != 0) {
				fprintf(stderr, "winapi-test: unknown --benchmark '%s' (latency, throughput or rate)\n",
					optarg);
				return 2;
			}
			break;
		case OPTION_BATCH:
			errno = 0;
			value = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || value == 0 || value > RATE_MAX_BATCH) {
				fprintf(stderr, "winapi-test: bad --batch '%s' (1..%u)\n", optarg, RATE_MAX_BATCH);
				return 2;
			}
			options.batch = (unsigned int)value;
			break;
		case OPTION_LIST_APIS:
			options.list_apis = true;
			break;
		case OPTION_CLOCK:
			options.clock = true;
			break;
		case OPTION_INFO:
			options.info = true;
			break;
		case OPTION_CAT:
			options.cat = optarg;
			break;
		case 's':
			setenv("WINAPI_SIM_SOCKET", optarg, 1);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "winapi-test: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (strcmp(options.test, "echo") != 0 && strcmp(options.test, "buffer") != 0 &&
	    strcmp(options.test, "performance") != 0) {
		fprintf(stderr, "winapi-test: unknown test '%s' (echo, buffer or performance)\n", options.test);
		return 2;
	}
	if (strlen(options.message) > WINAPI_MAX_INLINE_DATA) {
		fprintf(stderr, "winapi-test: --message is longer than %u bytes\n", WINAPI_MAX_INLINE_DATA);
		return 2;
	}
	if (!size_given)
		options.size = options.benchmark != NULL ? 100u << 20 : 1u << 20;
	if (options.benchmark == NULL && (options.size < WINAPI_MIN_BUFFER_SIZE || options.size > WINAPI_MAX_BUFFER_SIZE)) {
		fprintf(stderr, "winapi-test: --size must be 4K..64M for buffers\n");
		return 2;
	}

	handle = winapi_init();
	if (handle == NULL) {
		fprintf(stderr, "winapi-test: winapi_init failed: %s\n", strerror(errno));
		return 1;
	}
	if (options.list_apis)
		status = list_apis(handle);
	else if (options.cat != NULL)
		status = cat_file(handle, options.cat);
	else if (options.clock || options.info)
		status = (options.info ? show_info(handle) : 0) | (options.clock ? show_clock(handle, options.iterations) : 0);
	else if (options.integration)
		status = integration(handle, size_given ? options.size : WINAPI_MAX_BUFFER_SIZE);
	else if (options.stress)
		status = stress(handle, options.iterations);
	else if (options.benchmark != NULL)
		status = run_benchmark(handle, &options);
	else if (strcmp(options.test, "buffer") == 0)
		status = test_buffer(handle, &options);
	else if (strcmp(options.test, "performance") == 0)
		status = test_performance(handle, options.iterations);
	else
		status = test_echo(handle, options.message, options.count, false);
	winapi_cleanup(handle);
	return status;
}
