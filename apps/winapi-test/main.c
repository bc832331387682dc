/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-test: the seeds' test_client. Calls the host through liblowlat and reports what
 * came back and how long each round trip took (measured here, with CLOCK_MONOTONIC).
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <winapi/lowlat.h>
#include <winapi/protocol.h>

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: winapi-test [options]\n"
		"Calls the Windows host through liblowlat and prints what came back.\n"
		"\n"
		"  -t, --test NAME      which API to call: echo (default)\n"
		"  -m, --message TEXT   text to echo (default \"Hello Windows!\")\n"
		"  -n, --count N        calls to make (default 1); more than one prints a summary\n"
		"  -s, --socket PATH    the host emulator's socket (sets WINAPI_SIM_SOCKET)\n"
		"  -h, --help           this text\n"
		"\n"
		"Exit status: 0 when every call succeeded and returned what was sent, 1 otherwise,\n"
		"2 for bad options.\n");
}

static uint64_t now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
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

static int test_echo(winapi_handle_t handle, const char *message, unsigned long count)
{
	char output[WINAPI_MAX_INLINE_DATA + 1];
	uint64_t *samples, start;
	unsigned long i;
	int rc;

	samples = calloc(count, sizeof(*samples));
	if (samples == NULL) {
		fprintf(stderr, "winapi-test: out of memory for %lu samples\n", count);
		return 1;
	}
	for (i = 0; i < count; i++) {
		start = now_ns();
		rc = winapi_echo(handle, message, output, sizeof(output));
		samples[i] = now_ns() - start;
		if (rc != 0) {
			fprintf(stderr, "winapi-test: echo call %lu failed: %s\n", i + 1, strerror(-rc));
			free(samples);
			return 1;
		}
		if (strcmp(output, message) != 0) {
			fprintf(stderr, "winapi-test: echo call %lu returned \"%s\", sent \"%s\"\n", i + 1,
				output, message);
			free(samples);
			return 1;
		}
		if (count == 1 || i < 3)
			printf("echo: sent \"%s\", received \"%s\", round trip %.1f us\n", message, output,
			       (double)samples[i] / 1000.0);
	}
	if (count > 1) {
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

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "test", required_argument, NULL, 't' },
		{ "message", required_argument, NULL, 'm' },
		{ "count", required_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *test = "echo", *message = "Hello Windows!";
	unsigned long count = 1;
	winapi_handle_t handle;
	int option, status;
	char *end;

	while ((option = getopt_long(argc, argv, "t:m:n:s:h", options, NULL)) != -1) {
		switch (option) {
		case 't':
			test = optarg;
			break;
		case 'm':
			message = optarg;
			break;
		case 'n':
			errno = 0;
			count = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || count == 0 || count > 100000000ul) {
				fprintf(stderr, "winapi-test: bad --count '%s' (want 1..100000000)\n", optarg);
				return 2;
			}
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
	if (strcmp(test, "echo") != 0) {
		fprintf(stderr, "winapi-test: unknown test '%s' (available: echo)\n", test);
		return 2;
	}
	if (strlen(message) > WINAPI_MAX_INLINE_DATA) {
		fprintf(stderr, "winapi-test: --message is longer than %u bytes\n", WINAPI_MAX_INLINE_DATA);
		return 2;
	}

	handle = winapi_init();
	if (handle == NULL) {
		fprintf(stderr, "winapi-test: winapi_init failed: %s\n", strerror(errno));
		return 1;
	}
	status = test_echo(handle, message, count);
	winapi_cleanup(handle);
	return status;
}
