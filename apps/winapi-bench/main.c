/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-bench: in one run, on the same two cores, the physical floor of the machine, liblowlat
 * against the host emulator, and the socket+JSON baseline; every figure also as a ratio.
 * See docs/BENCHMARKS.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <numa.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <winapi/lowlat.h>

#include "baseline.h"
#include "floor.h"
#include "histogram.h"

#define BENCH_PATTERN 0xa5c3f00fu
#define ECHO_WARMUP 10000u
#define RATE_PAYLOAD 64u
#define MAX_BATCH 32u

static const size_t echo_sizes[] = { 0, 64, 3072 };
static const unsigned int batch_sizes[] = { 1, 8, 32 };
static const size_t buffer_sizes[] = { 64u << 10, 1u << 20, 16u << 20 };
#define ECHO_SIZES (sizeof(echo_sizes) / sizeof(echo_sizes[0]))
#define BATCH_SIZES (sizeof(batch_sizes) / sizeof(batch_sizes[0]))
#define BUFFER_SIZES (sizeof(buffer_sizes) / sizeof(buffer_sizes[0]))

struct options {
	int guest_cpu;           /* -l A,B: A runs the guest (and the ping side) */
	int host_cpu;            /*         B runs the host emulator and the baseline server */
	bool quick;
	const char *json_path;
	const char *plot_path;
	const char *emulator_path;
	uint64_t polled_samples;    /* per polled echo size */
	uint64_t blocking_samples;  /* interrupt mode and the baseline: each round trip sleeps */
	double seconds_per_rate;    /* request-rate and bandwidth runs: time each */
};

/* A latency measured: its histogram and what it was. */
struct latency {
	const char *name;
	size_t size;
	struct histogram histogram;
};

struct results {
	struct latency ping_pong;
	struct latency ring_round_trip;
	double memory_read_gbps;
	double crc32c_gbps[BUFFER_SIZES];
	struct latency echo_polled[ECHO_SIZES];
	struct latency echo_interrupt;
	double rate[BATCH_SIZES];                  /* requests/s */
	double verify_gbps[BUFFER_SIZES];
	uint32_t verify_checksum[BUFFER_SIZES];
	struct latency baseline_echo[ECHO_SIZES];
	double baseline_rate[BATCH_SIZES];
	double baseline_verify_gbps[BUFFER_SIZES];
	uint32_t baseline_verify_checksum[BUFFER_SIZES];
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: winapi-bench [options]\n"
		"Measures, in one run on two cores: the machine's floor (cache-line round trip, memory\n"
		"read bandwidth, CRC32C), liblowlat against the host emulator (polled and interrupt-mode\n"
		"echo, request rate by batch, zero-copy verify bandwidth), and the socket+JSON baseline\n"
		"doing the same work. Prints a table with ratios; progress goes to stderr.\n"
		"\n"
		"  -l, --lcores A,B       the two CPUs: A runs the guest, B the host (default: the first\n"
		"                         two allowed CPUs, on one NUMA node when possible)\n"
		"  -q, --quick            a tenth of the samples and time (a smoke run; 100,000 polled\n"
		"                         samples instead of 1,000,000)\n"
		"  -j, --json FILE        write every figure as JSON\n"
		"  -p, --plot FILE.png    draw the latency distributions and the throughputs (gnuplot)\n"
		"  -e, --emulator PATH    winapi-host-sim to run (default: $WINAPI_BIN_DIR/winapi-host-sim,\n"
		"                         else the one next to this program)\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit status: 0 when every measurement ran and checked out, 1 otherwise, 2 for bad options.\n");
}

static void progress(const char *format, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *format, ...)
{
	va_list arguments;

	fputs("winapi-bench: ", stderr);
	va_start(arguments, format);
	vfprintf(stderr, format, arguments);
	va_end(arguments);
	fputc('\n', stderr);
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "winapi-bench: %s: %s\n", what, strerror(-rc));
	return rc;
}

static double seconds_since(uint64_t start_ticks)
{
	return (double)clock_ns(clock_ticks() - start_ticks) / 1e9;
}

/* ---- CPUs ---- */

static int parse_lcores(const char *text, struct options *options)
{
	char *end;
	long a, b;

	a = strtol(text, &end, 10);
	if (end == text || *end != ',')
		return -EINVAL;
	text = end + 1;
	b = strtol(text, &end, 10);
	if (end == text || *end != '\0' || a < 0 || b < 0 || a >= CPU_SETSIZE || b >= CPU_SETSIZE || a == b)
		return -EINVAL;
	options->guest_cpu = (int)a;
	options->host_cpu = (int)b;
	return 0;
}

static int numa_node(int cpu)
{
	return numa_available() >= 0 ? numa_node_of_cpu(cpu) : 0;
}

/* Two allowed CPUs, on one node if the machine has a pair there (DPDK's -l, chosen for you). */
static int choose_cpus(struct options *options)
{
	cpu_set_t allowed;
	int a, b;

	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return -errno;
	if (options->guest_cpu >= 0) {
		if (!CPU_ISSET(options->guest_cpu, &allowed) || !CPU_ISSET(options->host_cpu, &allowed))
			return -EINVAL;
		return 0;
	}
	for (a = 0; a < CPU_SETSIZE; a++) {
		if (!CPU_ISSET(a, &allowed))
			continue;
		for (b = a + 1; b < CPU_SETSIZE; b++) {
			if (CPU_ISSET(b, &allowed) && numa_node(a) == numa_node(b)) {
				options->guest_cpu = a;
				options->host_cpu = b;
				return 0;
			}
		}
	}
	for (a = 0; a < CPU_SETSIZE && !CPU_ISSET(a, &allowed); a++)
		;
	for (b = a + 1; b < CPU_SETSIZE && !CPU_ISSET(b, &allowed); b++)
		;
	if (b >= CPU_SETSIZE)
		return -ENODEV;
	options->guest_cpu = a;
	options->host_cpu = b;
	return 0;
}

static void cpu_model(char *model, size_t size)
{
	FILE *cpuinfo = fopen("/proc/cpuinfo", "r");
	char line[256];

	snprintf(model, size, "unknown CPU");
	if (cpuinfo == NULL)
		return;
	while (fgets(line, sizeof(line), cpuinfo) != NULL) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) == 0 && colon != NULL) {
			colon += 2;
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(model, size, "%s", colon);
			break;
		}
	}
	fclose(cpuinfo);
}

/* ---- the host emulator, a child process pinned to the host CPU ---- */

struct emulator_child {
	pid_t pid;
	char directory[64];
	char socket_path[128];
	char log_path[128];
};

static int find_emulator(const struct options *options, char *path, size_t size)
{
	const char *bin_dir = getenv("WINAPI_BIN_DIR");
	char self[PATH_MAX - 32];
	ssize_t length;

	if (options->emulator_path != NULL) {
		snprintf(path, size, "%s", options->emulator_path);
	} else if (bin_dir != NULL && *bin_dir != '\0') {
		if ((size_t)snprintf(path, size, "%s/winapi-host-sim", bin_dir) >= size)
			return -ENAMETOOLONG;
	} else {
		length = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (length <= 0)
			return -errno;
		self[length] = '\0';
		*strrchr(self, '/') = '\0';
		snprintf(path, size, "%s/winapi-host-sim", self);
	}
	if (access(path, X_OK) != 0) {
		fprintf(stderr, "winapi-bench: cannot run the host emulator %s: %s (build it, or give --emulator)\n",
			path, strerror(errno));
		return -ENOENT;
	}
	return 0;
}

/*
 * Start winapi-host-sim on CPU host_cpu, polling for ever (VMBUS_SPIN_NS at its maximum) or in
 * interrupt mode, and wait until it listens. Its log goes to a file, shown if it fails.
 */
static int emulator_start(const struct options *options, bool interrupt_mode, struct emulator_child *child)
{
	char binary[PATH_MAX];
	int rc, i;

	rc = find_emulator(options, binary, sizeof(binary));
	if (rc != 0)
		return rc;
	snprintf(child->directory, sizeof(child->directory), "/tmp/winapi-bench.XXXXXX");
	if (mkdtemp(child->directory) == NULL)
		return fail("mkdtemp", -errno);
	snprintf(child->socket_path, sizeof(child->socket_path), "%s/host.sock", child->directory);
	snprintf(child->log_path, sizeof(child->log_path), "%s/host.log", child->directory);

	child->pid = fork();
	if (child->pid < 0)
		return fail("fork", -errno);
	if (child->pid == 0) {
		int log = open(child->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (log >= 0) {
			dup2(log, STDERR_FILENO);
			dup2(log, STDOUT_FILENO);
		}
		pin_to_cpu(options->host_cpu);
		setenv("VMBUS_SPIN_NS", interrupt_mode ? "0" : "4294967295", 1);
		execl(binary, binary, "--socket", child->socket_path, "--once",
		      interrupt_mode ? "--interrupt-mode" : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		struct stat st;
		int status;

		if (stat(child->socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		if (waitpid(child->pid, &status, WNOHANG) == child->pid) {
			child->pid = -1;
			fprintf(stderr, "winapi-bench: the host emulator exited at start; its log: %s\n",
				child->log_path);
			return -ECHILD;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000L }, NULL);
	}
	fprintf(stderr, "winapi-bench: the host emulator did not listen within 5 s; its log: %s\n", child->log_path);
	return -ETIMEDOUT;
}

static void emulator_stop(struct emulator_child *child)
{
	int i, status;

	if (child->pid > 0) {
		kill(child->pid, SIGTERM);
		for (i = 0; i < 300 && waitpid(child->pid, &status, WNOHANG) == 0; i++)
			nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000L }, NULL);
		if (i == 300) {
			kill(child->pid, SIGKILL);
			waitpid(child->pid, &status, 0);
		}
		child->pid = -1;
	}
	unlink(child->socket_path);
	unlink(child->log_path);
	rmdir(child->directory);
}

/* Attach liblowlat to @child, the guest polling for ever or blocking at once. */
static winapi_handle_t attach_guest(const struct emulator_child *child, bool interrupt_mode)
{
	winapi_handle_t handle;

	setenv("WINAPI_TRANSPORT", "sim", 1);
	setenv("WINAPI_SIM_SOCKET", child->socket_path, 1);
	setenv("VMBUS_SPIN_NS", interrupt_mode ? "0" : "4294967295", 1);
	handle = winapi_init();
	if (handle == NULL)
		fprintf(stderr, "winapi-bench: winapi_init: %s; the emulator's log: %s\n", strerror(errno),
			child->log_path);
	return handle;
}

/* ---- liblowlat ---- */

static void fill_text(char *text, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		text[i] = (char)('a' + i % 26);
	text[size] = '\0';
}

static int measure_echo(winapi_handle_t handle, size_t size, uint64_t samples, struct histogram *histogram)
{
	static char input[WINAPI_MAX_INLINE_DATA + 1], output[WINAPI_MAX_INLINE_DATA + 1];
	uint64_t round;
	int rc;

	fill_text(input, size);
	for (round = 0; round < ECHO_WARMUP + samples; round++) {
		uint64_t start = clock_ticks(), elapsed;

		rc = winapi_echo(handle, input, output, sizeof(output));
		elapsed = clock_ticks() - start;
		if (rc != 0)
			return rc;
		if (memcmp(input, output, size + 1) != 0)
			return -EBADMSG;
		if (round >= ECHO_WARMUP)
			histogram_add(histogram, clock_ns(elapsed));
	}
	return 0;
}

/*
 * Echoes of RATE_PAYLOAD bytes in batches of @batch, two batches in flight so that the host
 * always has the next one: requests per second over @seconds.
 */
static int measure_rate(winapi_handle_t handle, unsigned int batch, double seconds, double *rate)
{
	static uint8_t input[RATE_PAYLOAD], outputs[2 * MAX_BATCH][RATE_PAYLOAD];
	winapi_completion_t completions[2 * MAX_BATCH];
	unsigned int depth = 2 * batch, inflight = 0, next_output = 0, i;
	uint64_t done = 0, start = 0;
	bool measuring = false;
	winapi_queue_t queue;
	int rc = 0, count;

	queue = winapi_queue_create(handle, depth, 5000);
	if (queue == NULL)
		return -errno;
	memset(input, 0x3c, sizeof(input));
	for (;;) {
		while (inflight + batch <= depth) {
			for (i = 0; i < batch; i++) {
				rc = winapi_queue_echo(queue, input, sizeof(input), outputs[next_output], RATE_PAYLOAD,
						       NULL);
				if (rc != 0)
					goto out_destroy;
				next_output = (next_output + 1) % depth;
			}
			rc = winapi_queue_submit(queue);
			if (rc < 0 && rc != -EAGAIN)
				goto out_destroy;
			inflight += batch;
		}
		count = winapi_queue_reap(queue, completions, depth, batch, 5000);
		if (count < 0) {
			rc = count;
			goto out_destroy;
		}
		if (count == 0) {
			rc = -ETIMEDOUT;
			goto out_destroy;
		}
		for (i = 0; i < (unsigned int)count; i++) {
			if (completions[i].status != 0 || completions[i].length != RATE_PAYLOAD) {
				rc = completions[i].status != 0 ? completions[i].status : -EBADMSG;
				goto out_destroy;
			}
		}
		inflight -= (unsigned int)count;
		done += (uint64_t)count;
		if (!measuring && done >= 10000) {
			/* Warmed up: start the clock from here. */
			measuring = true;
			done = 0;
			start = clock_ticks();
		} else if (measuring && seconds_since(start) >= seconds) {
			break;
		}
	}
	*rate = (double)done / seconds_since(start);
	rc = 0;
out_destroy:
	winapi_queue_destroy(queue);
	return rc;
}

/* VERIFY over one buffer of @size the host wrote, again and again for @seconds: GB/s. */
static int measure_verify(winapi_handle_t handle, size_t size, double seconds, double *gbps, uint32_t *checksum)
{
	winapi_buffer_test_result_t result;
	winapi_buffer_t buffer;
	uint64_t bytes = 0, start, passes = 0;
	int rc;

	rc = winapi_alloc_buffer(&buffer, size);
	if (rc != 0)
		return rc;
	rc = winapi_buffer_test(handle, &buffer, 1, WINAPI_BUFFER_OP_WRITE, BENCH_PATTERN, &result);
	if (rc != 0)
		goto out_free;
	*checksum = result.checksum;
	start = clock_ticks();
	while (passes < 4 || seconds_since(start) < seconds) {
		rc = winapi_buffer_test(handle, &buffer, 1, WINAPI_BUFFER_OP_VERIFY, BENCH_PATTERN, &result);
		if (rc != 0)
			goto out_free;
		if (result.status != 0 || result.bytes_processed != size || result.checksum != *checksum) {
			rc = -EBADMSG;
			goto out_free;
		}
		bytes += size;
		passes++;
	}
	*gbps = (double)bytes / (double)clock_ns(clock_ticks() - start);
out_free:
	winapi_free_buffer(&buffer);
	return rc;
}

static int run_polled(const struct options *options, struct results *results)
{
	struct emulator_child child;
	winapi_handle_t handle;
	unsigned int i;
	int rc;

	rc = emulator_start(options, false, &child);
	if (rc != 0)
		return rc;
	handle = attach_guest(&child, false);
	if (handle == NULL) {
		rc = -errno;
		goto out_stop;
	}
	for (i = 0; i < ECHO_SIZES; i++) {
		progress("echo, polled, %zu bytes: %" PRIu64 " round trips", echo_sizes[i], options->polled_samples);
		results->echo_polled[i].name = "echo polled";
		results->echo_polled[i].size = echo_sizes[i];
		rc = measure_echo(handle, echo_sizes[i], options->polled_samples, &results->echo_polled[i].histogram);
		if (rc != 0) {
			fail("echo (polled)", rc);
			goto out_cleanup;
		}
	}
	for (i = 0; i < BATCH_SIZES; i++) {
		progress("request rate, batches of %u", batch_sizes[i]);
		rc = measure_rate(handle, batch_sizes[i], options->seconds_per_rate, &results->rate[i]);
		if (rc != 0) {
			fail("request rate", rc);
			goto out_cleanup;
		}
	}
	for (i = 0; i < BUFFER_SIZES; i++) {
		progress("zero-copy verify, %zu KiB buffers", buffer_sizes[i] >> 10);
		rc = measure_verify(handle, buffer_sizes[i], options->seconds_per_rate, &results->verify_gbps[i],
				    &results->verify_checksum[i]);
		if (rc != 0) {
			fail("zero-copy verify", rc);
			goto out_cleanup;
		}
	}
out_cleanup:
	winapi_cleanup(handle);
out_stop:
	emulator_stop(&child);
	return rc;
}

static int run_interrupt_mode(const struct options *options, struct results *results)
{
	struct emulator_child child;
	winapi_handle_t handle;
	int rc;

	rc = emulator_start(options, true, &child);
	if (rc != 0)
		return rc;
	handle = attach_guest(&child, true);
	if (handle == NULL) {
		rc = -errno;
		goto out_stop;
	}
	progress("echo, interrupt mode, 64 bytes: %" PRIu64 " round trips", options->blocking_samples);
	results->echo_interrupt.name = "echo interrupt";
	results->echo_interrupt.size = 64;
	rc = measure_echo(handle, 64, options->blocking_samples, &results->echo_interrupt.histogram);
	if (rc != 0)
		fail("echo (interrupt mode)", rc);
	winapi_cleanup(handle);
out_stop:
	emulator_stop(&child);
	return rc;
}

/* ---- the baseline: a forked server on the host CPU, over an AF_UNIX stream ---- */

static int measure_baseline_echo(struct baseline_client *client, size_t size, uint64_t samples,
				 struct histogram *histogram)
{
	static char input[WINAPI_MAX_INLINE_DATA + 1], output[WINAPI_MAX_INLINE_DATA + 1];
	uint64_t round;
	int rc;

	fill_text(input, size);
	for (round = 0; round < ECHO_WARMUP + samples; round++) {
		uint64_t start = clock_ticks(), elapsed;

		rc = baseline_echo(client, input, size, output, sizeof(output));
		elapsed = clock_ticks() - start;
		if (rc != 0)
			return rc;
		if (memcmp(input, output, size + 1) != 0)
			return -EBADMSG;
		if (round >= ECHO_WARMUP)
			histogram_add(histogram, clock_ns(elapsed));
	}
	return 0;
}

static int measure_baseline_rate(struct baseline_client *client, unsigned int batch, double seconds, double *rate)
{
	char input[RATE_PAYLOAD + 1];
	uint64_t done = 0, start;
	int rc;

	memset(input, 'x', RATE_PAYLOAD);
	input[RATE_PAYLOAD] = '\0';
	for (done = 0; done < 10000; done += batch) {
		rc = baseline_echo_batch(client, input, RATE_PAYLOAD, batch);
		if (rc != 0)
			return rc;
	}
	start = clock_ticks();
	for (done = 0; seconds_since(start) < seconds; done += batch) {
		rc = baseline_echo_batch(client, input, RATE_PAYLOAD, batch);
		if (rc != 0)
			return rc;
	}
	*rate = (double)done / seconds_since(start);
	return 0;
}

static int measure_baseline_verify(struct baseline_client *client, size_t size, double seconds, double *gbps,
				   uint32_t *checksum)
{
	winapi_buffer_test_result_t result;
	uint64_t bytes = 0, start, passes = 0;
	uint8_t *buffer = malloc(size);
	int rc;

	if (buffer == NULL)
		return -ENOMEM;
	/* The guest fills its buffer as the host's WRITE would have (the socket has no shared memory). */
	rc = baseline_buffer_test(client, WINAPI_BUFFER_OP_WRITE, buffer, size, BENCH_PATTERN, &result);
	if (rc != 0)
		goto out_free;
	*checksum = result.checksum;
	start = clock_ticks();
	while (passes < 4 || seconds_since(start) < seconds) {
		rc = baseline_buffer_test(client, WINAPI_BUFFER_OP_VERIFY, buffer, size, BENCH_PATTERN, &result);
		if (rc != 0)
			goto out_free;
		if (result.status != 0 || result.checksum != *checksum) {
			rc = -EBADMSG;
			goto out_free;
		}
		bytes += size;
		passes++;
	}
	*gbps = (double)bytes / (double)clock_ns(clock_ticks() - start);
out_free:
	free(buffer);
	return rc;
}

static int run_baseline(const struct options *options, struct results *results)
{
	struct baseline_client client = { .fd = -1, .next_id = 1 };
	int sockets[2], rc, status;
	unsigned int i;
	pid_t server;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
		return fail("socketpair", -errno);
	server = fork();
	if (server < 0) {
		rc = fail("fork", -errno);
		close(sockets[0]);
		close(sockets[1]);
		return rc;
	}
	if (server == 0) {
		close(sockets[0]);
		pin_to_cpu(options->host_cpu);
		_exit(baseline_serve(sockets[1]) == 0 ? 0 : 1);
	}
	close(sockets[1]);
	client.fd = sockets[0];

	for (i = 0; i < ECHO_SIZES; i++) {
		progress("baseline echo, %zu bytes: %" PRIu64 " round trips", echo_sizes[i], options->blocking_samples);
		results->baseline_echo[i].name = "baseline echo";
		results->baseline_echo[i].size = echo_sizes[i];
		rc = measure_baseline_echo(&client, echo_sizes[i], options->blocking_samples,
					   &results->baseline_echo[i].histogram);
		if (rc != 0) {
			fail("baseline echo", rc);
			goto out_close;
		}
	}
	for (i = 0; i < BATCH_SIZES; i++) {
		progress("baseline request rate, pipelines of %u", batch_sizes[i]);
		rc = measure_baseline_rate(&client, batch_sizes[i], options->seconds_per_rate, &results->baseline_rate[i]);
		if (rc != 0) {
			fail("baseline request rate", rc);
			goto out_close;
		}
	}
	for (i = 0; i < BUFFER_SIZES; i++) {
		progress("baseline verify, %zu KiB buffers", buffer_sizes[i] >> 10);
		rc = measure_baseline_verify(&client, buffer_sizes[i], options->seconds_per_rate,
					     &results->baseline_verify_gbps[i], &results->baseline_verify_checksum[i]);
		if (rc != 0) {
			fail("baseline verify", rc);
			goto out_close;
		}
	}
out_close:
	close(client.fd);
	waitpid(server, &status, 0);
	if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
		fprintf(stderr, "winapi-bench: the baseline server failed\n");
		rc = -EPROTO;
	}
	return rc;
}

/* ---- the floor ---- */

static int run_floor(const struct options *options, struct results *results)
{
	unsigned int i;
	int rc;

	progress("floor: cache-line round trip between CPUs %d and %d: %" PRIu64 " round trips", options->guest_cpu,
		 options->host_cpu, options->polled_samples);
	results->ping_pong.name = "cache-line round trip";
	rc = floor_ping_pong(options->guest_cpu, options->host_cpu, options->polled_samples,
			     &results->ping_pong.histogram);
	if (rc != 0)
		return fail("cache-line round trip", rc);
	progress("floor: VMBus ring round trip, 64-byte packets: %" PRIu64 " round trips", options->polled_samples);
	results->ring_round_trip.name = "ring round trip";
	results->ring_round_trip.size = 64;
	rc = floor_ring_round_trip(options->guest_cpu, options->host_cpu, options->polled_samples,
				   &results->ring_round_trip.histogram);
	if (rc != 0)
		return fail("ring round trip", rc);
	progress("floor: memory read bandwidth, one core");
	results->memory_read_gbps = floor_memory_read(options->quick ? 64u << 20 : 256u << 20);
	if (results->memory_read_gbps <= 0)
		return fail("memory read", -ENOMEM);
	for (i = 0; i < BUFFER_SIZES; i++) {
		progress("floor: CRC32C over %zu KiB", buffer_sizes[i] >> 10);
		results->crc32c_gbps[i] = floor_crc32c(buffer_sizes[i], options->quick ? 256u << 20 : 2048u << 20);
		if (results->crc32c_gbps[i] <= 0)
			return fail("CRC32C", -ENOMEM);
	}
	return 0;
}

/* ---- output ---- */

static double to_us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

static uint64_t p50(const struct latency *latency)
{
	return histogram_percentile(&latency->histogram, 0.50);
}

static void print_latency(const struct latency *latency, const char *label, const struct latency *floor,
			  const struct latency *baseline)
{
	const struct histogram *histogram = &latency->histogram;
	char vs_floor[32] = "-", vs_baseline[32] = "-";

	if (floor != NULL)
		snprintf(vs_floor, sizeof(vs_floor), "%.2fx", (double)p50(latency) / (double)p50(floor));
	if (baseline != NULL)
		snprintf(vs_baseline, sizeof(vs_baseline), "%.1fx less", (double)p50(baseline) / (double)p50(latency));
	printf("  %-34s %9.3f %9.3f %9.3f %10.3f  %12s  %12s\n", label, to_us(p50(latency)),
	       to_us(histogram_percentile(histogram, 0.99)), to_us(histogram_percentile(histogram, 0.999)),
	       to_us(histogram->max), vs_floor, vs_baseline);
}

static void print_table(const struct options *options, const struct results *results, const char *model)
{
	char label[64];
	unsigned int i;

	printf("\nwinapi-bench: guest on CPU %d, host on CPU %d (NUMA node %d), %s\n", options->guest_cpu,
	       options->host_cpu, numa_node(options->guest_cpu), model);
	printf("\nLatency (us)                          p50       p99     p99.9        max    p50/floor  p50 vs baseline\n");
	print_latency(&results->ping_pong, "floor: cache-line round trip", NULL, NULL);
	print_latency(&results->ring_round_trip, "floor: VMBus ring round trip, 64 B", &results->ping_pong, NULL);
	for (i = 0; i < ECHO_SIZES; i++) {
		snprintf(label, sizeof(label), "echo polled, %zu B", echo_sizes[i]);
		print_latency(&results->echo_polled[i], label, &results->ping_pong, &results->baseline_echo[i]);
	}
	print_latency(&results->echo_interrupt, "echo interrupt mode, 64 B", &results->ping_pong,
		      &results->baseline_echo[1]);
	for (i = 0; i < ECHO_SIZES; i++) {
		snprintf(label, sizeof(label), "baseline echo (socket+JSON), %zu B", echo_sizes[i]);
		print_latency(&results->baseline_echo[i], label, &results->ping_pong, NULL);
	}

	printf("\nRequest rate (64 B echoes)            requests/s              vs baseline\n");
	for (i = 0; i < BATCH_SIZES; i++)
		printf("  batches of %-2u  liblowlat %14.0f   baseline %12.0f   %8.1fx\n", batch_sizes[i],
		       results->rate[i], results->baseline_rate[i], results->rate[i] / results->baseline_rate[i]);

	printf("\nBandwidth (GB/s)                      ours   baseline  memory read  CRC32C   of memory read  vs baseline\n");
	for (i = 0; i < BUFFER_SIZES; i++)
		printf("  zero-copy verify, %5zu KiB     %9.2f  %9.2f  %11.2f  %7.2f   %14.2fx  %10.1fx\n",
		       buffer_sizes[i] >> 10, results->verify_gbps[i], results->baseline_verify_gbps[i],
		       results->memory_read_gbps, results->crc32c_gbps[i],
		       results->verify_gbps[i] / results->memory_read_gbps,
		       results->verify_gbps[i] / results->baseline_verify_gbps[i]);
}

struct target {
	const char *goal;
	double measured;
	double bound;
	bool at_most;  /* measured <= bound, else >= */
	const char *unit;
};

static void evaluate_targets(const struct results *results, struct target targets[6])
{
	const struct latency *echo64 = &results->echo_polled[1];

	targets[0] = (struct target){ "polled echo p50 <= 2x cache-line round trip",
				      (double)p50(echo64) / (double)p50(&results->ping_pong), 2.0, true, "x" };
	targets[1] = (struct target){ "polled echo p99 < 2 us", to_us(histogram_percentile(&echo64->histogram, 0.99)),
				      2.0, true, "us" };
	targets[2] = (struct target){ "polled echo p50 >= 50x lower than baseline",
				      (double)p50(&results->baseline_echo[1]) / (double)p50(echo64), 50.0, false, "x" };
	targets[3] = (struct target){ ">= 15 M requests/s in batches of 32", results->rate[BATCH_SIZES - 1] / 1e6,
				      15.0, false, "M/s" };
	targets[4] = (struct target){ "16 MiB verify >= 0.8x memory read bandwidth",
				      results->verify_gbps[BUFFER_SIZES - 1] / results->memory_read_gbps, 0.8, false, "x" };
	targets[5] = (struct target){ "interrupt-mode echo p50 <= baseline's",
				      (double)p50(&results->echo_interrupt) / (double)p50(&results->baseline_echo[1]), 1.0,
				      true, "x" };
}

static bool target_met(const struct target *target)
{
	return target->at_most ? target->measured <= target->bound : target->measured >= target->bound;
}

static void print_targets(const struct target targets[6])
{
	unsigned int i;

	printf("\nTargets (docs/BENCHMARKS.md says what limits a missed one)\n");
	for (i = 0; i < 6; i++)
		printf("  %-46s %10.2f %-3s  %s\n", targets[i].goal, targets[i].measured, targets[i].unit,
		       target_met(&targets[i]) ? "met" : "MISSED");
}

static json_t *latency_json(const struct latency *latency)
{
	const struct histogram *histogram = &latency->histogram;

	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "name", latency->name, "size",
			 (json_int_t)latency->size, "samples", (json_int_t)histogram->total, "min_ns",
			 (json_int_t)histogram->min, "p50_ns", (json_int_t)histogram_percentile(histogram, 0.5),
			 "p99_ns", (json_int_t)histogram_percentile(histogram, 0.99), "p999_ns",
			 (json_int_t)histogram_percentile(histogram, 0.999), "max_ns", (json_int_t)histogram->max,
			 "mean_ns", (json_int_t)histogram_mean(histogram));
}

static int write_json(const char *path, const struct options *options, const struct results *results,
		      const char *model, const struct target targets[6])
{
	json_t *root, *echo_polled, *baseline_echo, *rate, *bandwidth, *goals;
	struct utsname system;
	unsigned int i;
	int rc;

	uname(&system);
	echo_polled = json_array();
	baseline_echo = json_array();
	for (i = 0; i < ECHO_SIZES; i++) {
		json_array_append_new(echo_polled, latency_json(&results->echo_polled[i]));
		json_array_append_new(baseline_echo, latency_json(&results->baseline_echo[i]));
	}
	rate = json_array();
	for (i = 0; i < BATCH_SIZES; i++)
		json_array_append_new(rate, json_pack("{s:i, s:f, s:f}", "batch", batch_sizes[i], "requests_per_s",
						      results->rate[i], "baseline_requests_per_s",
						      results->baseline_rate[i]));
	bandwidth = json_array();
	for (i = 0; i < BUFFER_SIZES; i++)
		json_array_append_new(bandwidth,
				      json_pack("{s:I, s:f, s:f, s:f, s:I}", "buffer_size", (json_int_t)buffer_sizes[i],
						"verify_gbps", results->verify_gbps[i], "baseline_verify_gbps",
						results->baseline_verify_gbps[i], "crc32c_gbps", results->crc32c_gbps[i],
						"checksum", (json_int_t)results->verify_checksum[i]));
	goals = json_array();
	for (i = 0; i < 6; i++)
		json_array_append_new(goals, json_pack("{s:s, s:f, s:f, s:s, s:b}", "goal", targets[i].goal, "measured",
						       targets[i].measured, "bound", targets[i].bound, "unit",
						       targets[i].unit, "met", target_met(&targets[i])));
	root = json_pack("{s:{s:s, s:s, s:i, s:i, s:i, s:b}, s:{s:o, s:o, s:f}, s:o, s:o, s:o, s:o, s:o, s:o}",
			 "machine", "cpu", model, "kernel", system.release, "guest_cpu", options->guest_cpu,
			 "host_cpu", options->host_cpu, "numa_node", numa_node(options->guest_cpu), "quick",
			 options->quick, "floor", "cache_line_round_trip", latency_json(&results->ping_pong), "ring_round_trip",
			 latency_json(&results->ring_round_trip),
			 "memory_read_gbps", results->memory_read_gbps, "echo_polled", echo_polled,
			 "echo_interrupt", latency_json(&results->echo_interrupt), "baseline_echo", baseline_echo,
			 "request_rate", rate, "bandwidth", bandwidth, "targets", goals);
	if (root == NULL)
		return fail("building the JSON", -ENOMEM);
	rc = json_dump_file(root, path, JSON_INDENT(2)) == 0 ? 0 : -EIO;
	json_decref(root);
	if (rc != 0)
		fprintf(stderr, "winapi-bench: cannot write %s\n", path);
	return rc;
}

/* Latency against percentile on a "nines" axis (x = -log10(1 - p)), as HdrHistogram plots it. */
static void write_percentiles(FILE *data, const struct latency *latency)
{
	static const double fractions[] = { 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99,
					    0.995, 0.999, 0.9995, 0.9999, 0.99999 };
	unsigned int i;

	for (i = 0; i < sizeof(fractions) / sizeof(fractions[0]); i++)
		if ((double)latency->histogram.total * (1.0 - fractions[i]) >= 1.0)
			fprintf(data, "%g %g\n", -log10(1.0 - fractions[i]),
				to_us(histogram_percentile(&latency->histogram, fractions[i])));
	fprintf(data, "\n\n");
}

static int write_plot(const char *path, const struct results *results)
{
	char directory[] = "/tmp/winapi-bench-plot.XXXXXX", data_path[64], command[128];
	unsigned int i;
	FILE *data, *gnuplot;
	int status;

	if (mkdtemp(directory) == NULL)
		return fail("mkdtemp", -errno);
	snprintf(data_path, sizeof(data_path), "%s/data", directory);
	data = fopen(data_path, "w");
	if (data == NULL) {
		rmdir(directory);
		return fail("writing the plot's data", -errno);
	}
	/* Blocks 0..8: latency curves; 9: bandwidth by size; 10: rate by batch. */
	write_percentiles(data, &results->ping_pong);
	write_percentiles(data, &results->ring_round_trip);
	for (i = 0; i < ECHO_SIZES; i++)
		write_percentiles(data, &results->echo_polled[i]);
	write_percentiles(data, &results->echo_interrupt);
	for (i = 0; i < ECHO_SIZES; i++)
		write_percentiles(data, &results->baseline_echo[i]);
	for (i = 0; i < BUFFER_SIZES; i++)
		fprintf(data, "%zu %g %g %g %g\n", buffer_sizes[i] >> 10, results->verify_gbps[i],
			results->baseline_verify_gbps[i], results->memory_read_gbps, results->crc32c_gbps[i]);
	fprintf(data, "\n\n");
	for (i = 0; i < BATCH_SIZES; i++)
		fprintf(data, "%u %g %g\n", batch_sizes[i], results->rate[i] / 1e6, results->baseline_rate[i] / 1e6);
	fclose(data);

	snprintf(command, sizeof(command), "gnuplot 2>%s/errors", directory);
	gnuplot = popen(command, "w");
	if (gnuplot == NULL) {
		status = -errno;
		goto out_remove;
	}
	fprintf(gnuplot,
		"set terminal pngcairo size 1800,600 font ',10'\n"
		"set output '%s'\n"
		"set multiplot layout 1,3 title 'winapi-bench: liblowlat vs. socket+JSON baseline vs. the floor'\n"
		"set title 'Round-trip latency by percentile'\n"
		"set logscale y\nset ylabel 'us'\nset xlabel 'percentile'\nset key top left\n"
		"set xtics ('0%%%%' 0, '90%%%%' 1, '99%%%%' 2, '99.9%%%%' 3, '99.99%%%%' 4, '99.999%%%%' 5)\n"
		"set grid\n"
		"d = '%s'\n"
		"plot d index 0 with lines lw 2 title 'cache-line round trip (floor)', \\\n"
		"     d index 1 with lines lw 2 title 'VMBus ring round trip (floor)', \\\n"
		"     d index 2 with lines lw 2 title 'echo polled 0 B', \\\n"
		"     d index 3 with lines lw 2 title 'echo polled 64 B', \\\n"
		"     d index 4 with lines lw 2 title 'echo polled 3072 B', \\\n"
		"     d index 5 with lines lw 2 title 'echo interrupt mode 64 B', \\\n"
		"     d index 6 with lines dt 2 title 'baseline 0 B', \\\n"
		"     d index 7 with lines dt 2 title 'baseline 64 B', \\\n"
		"     d index 8 with lines dt 2 title 'baseline 3072 B'\n"
		"set title 'Verify bandwidth by buffer size'\n"
		"unset logscale y\nset logscale x 2\nset ylabel 'GB/s'\nset xlabel 'buffer KiB'\n"
		"set xtics auto\nset yrange [0:*]\n"
		"plot d index 9 using 1:2 with linespoints lw 2 title 'liblowlat zero-copy', \\\n"
		"     d index 9 using 1:3 with linespoints lw 2 title 'baseline (socket)', \\\n"
		"     d index 9 using 1:4 with lines dt 2 title 'memory read (floor)', \\\n"
		"     d index 9 using 1:5 with lines dt 3 title 'CRC32C (floor)'\n"
		"set title 'Request rate by batch (64 B echoes)'\n"
		"set ylabel 'million requests/s'\nset xlabel 'batch'\nset logscale y\nset yrange [*:*]\n"
		"plot d index 10 using 1:2 with linespoints lw 2 title 'liblowlat queue', \\\n"
		"     d index 10 using 1:3 with linespoints lw 2 title 'baseline (pipelined)'\n"
		"unset multiplot\n",
		path, data_path);
	status = pclose(gnuplot);
	if (status != 0) {
		char errors[96];

		snprintf(errors, sizeof(errors), "%s/errors", directory);
		fprintf(stderr, "winapi-bench: gnuplot failed (%s); is gnuplot (gnuplot-nox) installed?\n",
			WIFEXITED(status) && WEXITSTATUS(status) == 127 ? "not found" : "see below");
		snprintf(command, sizeof(command), "cat %s >&2", errors);
		if (system(command) != 0)
			fprintf(stderr, "winapi-bench: (no gnuplot output)\n");
		status = -EIO;
	}
out_remove:
	snprintf(command, sizeof(command), "%s/errors", directory);
	unlink(command);
	unlink(data_path);
	rmdir(directory);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "lcores", required_argument, NULL, 'l' },
		{ "quick", no_argument, NULL, 'q' },
		{ "json", required_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, 'p' },
		{ "emulator", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct options options = { .guest_cpu = -1, .host_cpu = -1 };
	struct target targets[6];
	struct results *results;
	char model[128];
	int option, rc;

	while ((option = getopt_long(argc, argv, "l:qj:p:e:h", long_options, NULL)) != -1) {
		switch (option) {
		case 'l':
			if (parse_lcores(optarg, &options) != 0) {
				fprintf(stderr, "winapi-bench: --lcores wants two different CPUs, as A,B (got '%s')\n",
					optarg);
				return 2;
			}
			break;
		case 'q':
			options.quick = true;
			break;
		case 'j':
			options.json_path = optarg;
			break;
		case 'p':
			options.plot_path = optarg;
			break;
		case 'e':
			options.emulator_path = optarg;
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
		fprintf(stderr, "winapi-bench: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	rc = choose_cpus(&options);
	if (rc != 0) {
		fprintf(stderr, "winapi-bench: %s\n", rc == -ENODEV ? "needs two CPUs it may run on (taskset)" :
			"a CPU of --lcores is not one this process may run on");
		return 2;
	}
	options.polled_samples = options.quick ? 100000 : 1000000;
	options.blocking_samples = options.quick ? 10000 : 100000;
	options.seconds_per_rate = options.quick ? 0.2 : 1.0;

	results = calloc(1, sizeof(*results));
	if (results == NULL)
		return 1;
	histogram_init(&results->ping_pong.histogram);
	histogram_init(&results->ring_round_trip.histogram);
	for (unsigned int i = 0; i < ECHO_SIZES; i++) {
		histogram_init(&results->echo_polled[i].histogram);
		histogram_init(&results->baseline_echo[i].histogram);
	}
	histogram_init(&results->echo_interrupt.histogram);
	/* A child that dies must not take this process with it through a write to its socket. */
	signal(SIGPIPE, SIG_IGN);
	clock_calibrate();
	cpu_model(model, sizeof(model));

	rc = run_floor(&options, results);
	if (rc == 0)
		rc = pin_to_cpu(options.guest_cpu);
	if (rc == 0)
		rc = run_polled(&options, results);
	if (rc == 0)
		rc = run_interrupt_mode(&options, results);
	if (rc == 0)
		rc = run_baseline(&options, results);
	if (rc != 0) {
		free(results);
		return 1;
	}
	for (unsigned int i = 0; i < BUFFER_SIZES; i++) {
		/* The same work: both hosts must have computed the same CRC32C over the same bytes. */
		if (results->verify_checksum[i] != results->baseline_verify_checksum[i]) {
			fprintf(stderr, "winapi-bench: checksums differ for %zu KiB: liblowlat %08x, baseline %08x\n",
				buffer_sizes[i] >> 10, results->verify_checksum[i], results->baseline_verify_checksum[i]);
			rc = -EBADMSG;
		}
	}

	evaluate_targets(results, targets);
	print_table(&options, results, model);
	print_targets(targets);
	fflush(stdout);
	if (options.json_path != NULL && write_json(options.json_path, &options, results, model, targets) != 0)
		rc = -EIO;
	if (options.plot_path != NULL && write_plot(options.plot_path, results) != 0)
		rc = -EIO;
	if (rc == 0 && (options.json_path != NULL || options.plot_path != NULL))
		progress("wrote%s%s%s%s", options.json_path ? " " : "", options.json_path ? options.json_path : "",
			 options.plot_path ? " " : "", options.plot_path ? options.plot_path : "");
	free(results);
	return rc == 0 ? 0 : 1;
}
