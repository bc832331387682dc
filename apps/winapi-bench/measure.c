/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The measurements. Machines here share their cores with neighbours whose load comes and
 * goes, so nothing is measured in one block: each figure is cut into options->rounds slices,
 * and every round takes one slice of everything (floor, liblowlat, baseline) in turn. A
 * quiet or a noisy minute then weighs on the three alike, and their ratios hold.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <winapi/lowlat.h>

#include "baseline.h"
#include "bench.h"
#include "floor.h"
#include "pmd.h"

#define BENCH_PATTERN 0xa5c3f00fu
/*
 * Round trips before each slice's samples, for at least ECHO_WARMUP_NS: a slice follows
 * another one's load, and a host that slept in between needs its first wake-ups.
 */
#define ECHO_WARMUP 2000u
#define ECHO_WARMUP_NS 20000000u
#define RATE_WARMUP 10000u         /* requests before each slice's clock starts */
#define RATE_PAYLOAD 64u
#define MAX_BATCH 32u
/* The file read figure: each call fills FILE_BUFFERS buffers of FILE_BUFFER_SIZE. */
#define FILE_BUFFERS 8u
#define FILE_BUFFER_SIZE (4u << 20)
#define FILE_CALL_SIZE (FILE_BUFFERS * FILE_BUFFER_SIZE)
#define FILE_EXPORT "bench"
#define FILE_NAME "read.bin"

const size_t bench_echo_sizes[BENCH_ECHO_SIZES] = { 0, 64, 3072 };
const unsigned int bench_batch_sizes[BENCH_BATCH_SIZES] = { 1, 8, 32 };
const size_t bench_buffer_sizes[BENCH_BUFFER_SIZES] = { 64u << 10, 1u << 20, 16u << 20 };

static double seconds_since(uint64_t start_ticks)
{
	return (double)clock_ns(clock_ticks() - start_ticks) / 1e9;
}

static void fill_text(char *text, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		text[i] = (char)('a' + i % 26);
	text[size] = '\0';
}

/* ---- the host emulator, a child process pinned to the host CPU ---- */

struct emulator_child {
	pid_t pid;
	const char *export_spec; /* --export for host.file.* ("bench=DIR"), or NULL */
	char directory[64];
	char socket_path[128];
	char log_path[128];
	bool keep_serving;  /* no --once: guests attach and leave one after another */
	bool pmd;           /* winapi-pmd --backend inline (pmd.c), its clients liblowlat's pmd transport */
};

/* A program of this build: @explicit_path, else $WINAPI_BIN_DIR/@name, else next to this one. */
static int find_program(const char *explicit_path, const char *name, const char *option, char *path, size_t size)
{
	const char *bin_dir = getenv("WINAPI_BIN_DIR");
	char self[PATH_MAX - 32];
	ssize_t length;

	if (explicit_path != NULL) {
		snprintf(path, size, "%s", explicit_path);
	} else if (bin_dir != NULL && *bin_dir != '\0') {
		if ((size_t)snprintf(path, size, "%s/%s", bin_dir, name) >= size)
			return -ENAMETOOLONG;
	} else {
		length = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (length <= 0)
			return -errno;
		self[length] = '\0';
		*strrchr(self, '/') = '\0';
		snprintf(path, size, "%s/%s", self, name);
	}
	if (access(path, X_OK) != 0) {
		fprintf(stderr, "winapi-bench: cannot run %s: %s (build it, or give %s)\n", path, strerror(errno),
			option);
		return -ENOENT;
	}
	return 0;
}

/* The emulator's log goes with its directory when it stops: show it while it is there. */
static void show_log(const struct emulator_child *child)
{
	char line[512];
	FILE *log = fopen(child->log_path, "r");
	int lines = 0;

	if (log == NULL)
		return;
	fprintf(stderr, "winapi-bench: the host emulator's log:\n");
	while (lines++ < 40 && fgets(line, sizeof(line), log) != NULL)
		fprintf(stderr, "  %s", line);
	fclose(log);
}

/*
 * Start a host on the host CPU: winapi-host-sim, polled or in interrupt mode, or winapi-hostd
 * (@hostd); wait until it listens.
 */
static int emulator_start(const struct bench_options *options, bool interrupt_mode, bool hostd,
			  struct emulator_child *child)
{
	char binary[PATH_MAX];
	int rc, i;

	child->pid = -1;
	rc = child->pmd ? find_program(NULL, "winapi-pmd", "WINAPI_BIN_DIR", binary, sizeof(binary)) :
	     hostd ? find_program(options->hostd_path, "winapi-hostd", "--hostd", binary, sizeof(binary)) :
		     find_program(options->emulator_path, "winapi-host-sim", "--emulator", binary, sizeof(binary));
	if (rc != 0)
		return rc;
	snprintf(child->directory, sizeof(child->directory), "/tmp/winapi-bench.XXXXXX");
	if (mkdtemp(child->directory) == NULL)
		return bench_fail("mkdtemp", -errno);
	snprintf(child->socket_path, sizeof(child->socket_path), "%s/host.sock", child->directory);
	snprintf(child->log_path, sizeof(child->log_path), "%s/host.log", child->directory);

	child->pid = fork();
	if (child->pid < 0) {
		rc = bench_fail("fork", -errno);
		rmdir(child->directory);
		return rc;
	}
	if (child->pid == 0) {
		int log = open(child->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (log >= 0) {
			dup2(log, STDERR_FILENO);
			dup2(log, STDOUT_FILENO);
		}
		pin_to_cpu(options->host_cpu);
		setenv("VMBUS_SPIN_NS", interrupt_mode ? "0" : BENCH_POLLED_SPIN_NS, 1);
		if (child->pmd) {
			bench_pmd_exec(options, binary, child->socket_path);
		} else {
			const char *arguments[8] = { binary, "--socket", child->socket_path };
			unsigned int count = 3;

			if (child->export_spec != NULL) {
				arguments[count++] = "--export";
				arguments[count++] = child->export_spec;
			}
			if (!hostd && !child->keep_serving) {
				arguments[count++] = "--once";
				if (interrupt_mode)
					arguments[count++] = "--interrupt-mode";
			}
			arguments[count] = NULL;
			execv(binary, (char *const *)arguments);
		}
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		struct stat st;
		int status;

		if (stat(child->socket_path, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		if (waitpid(child->pid, &status, WNOHANG) == child->pid) {
			child->pid = -1;
			fprintf(stderr, "winapi-bench: the host %s exited at start\n", binary);
			show_log(child);
			return -ECHILD;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000L }, NULL);
	}
	fprintf(stderr, "winapi-bench: the host %s did not listen within 5 s\n", binary);
	show_log(child);
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

/*
 * Attach liblowlat to @child: the emulator, or (@hostd) winapi-hostd over the hvsock
 * transport. VMBUS_SPIN_NS is read when the device or the socket opens.
 */
static winapi_handle_t attach_guest(const struct emulator_child *child, bool interrupt_mode, bool hostd)
{
	winapi_handle_t handle;

	setenv("WINAPI_TRANSPORT", child->pmd ? "pmd" : hostd ? "hvsock" : "sim", 1);
	setenv(child->pmd ? "WINAPI_PMD_SOCKET" : hostd ? "WINAPI_SOCKET_PATH" : "WINAPI_SIM_SOCKET", child->socket_path, 1);
	setenv("VMBUS_SPIN_NS", interrupt_mode ? "0" : BENCH_POLLED_SPIN_NS, 1);
	handle = winapi_init();
	if (handle == NULL) {
		int error = errno;

		fprintf(stderr, "winapi-bench: winapi_init: %s\n", strerror(error));
		show_log(child);
		errno = error;
	}
	return handle;
}

/* ---- everything one run keeps open ---- */

struct session {
	struct emulator_child polled_host;
	struct emulator_child interrupt_host;
	struct emulator_child hvsock_host;             /* winapi-hostd, the WSL2 transport's host */
	struct emulator_child pmd_daemon;              /* winapi-pmd with the emulator's host inside */
	winapi_handle_t polled;
	winapi_handle_t interrupt;
	winapi_handle_t hvsock;
	winapi_handle_t pmd;
	winapi_buffer_t hvsock_buffers[BENCH_BUFFER_SIZES]; /* this process's memory: bytes on the socket */
	struct baseline_client baseline;
	pid_t baseline_host;
	winapi_buffer_t buffers[BENCH_BUFFER_SIZES];   /* zero-copy, the polled host wrote them */
	uint8_t *baseline_buffers[BENCH_BUFFER_SIZES]; /* the baseline host sent the same bytes */
	/* The file read figure: the file, exported to the polled host and to winapi-hostd */
	char file_directory[64];
	char file_path[128];
	char export_spec[96];
	winapi_buffer_t file_buffers[FILE_BUFFERS];        /* zero-copy, of the polled handle */
	winapi_buffer_t hvsock_file_buffers[FILE_BUFFERS]; /* this process's memory, on the socket */
	uint8_t *baseline_file_buffer;
};

static int start_baseline(const struct bench_options *options, struct session *session)
{
	int sockets[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0)
		return bench_fail("socketpair", -errno);
	session->baseline_host = fork();
	if (session->baseline_host < 0) {
		close(sockets[0]);
		close(sockets[1]);
		return bench_fail("fork", -errno);
	}
	if (session->baseline_host == 0) {
		close(sockets[0]);
		pin_to_cpu(options->host_cpu);
		_exit(baseline_serve(sockets[1]) == 0 ? 0 : 1);
	}
	close(sockets[1]);
	baseline_client_init(&session->baseline, sockets[0]);
	return 0;
}

/* Close the baseline's connection; the host must have seen a clean end. */
static int stop_baseline(struct session *session)
{
	int status;

	if (session->baseline_host <= 0)
		return 0;
	close(session->baseline.fd);
	waitpid(session->baseline_host, &status, 0);
	session->baseline_host = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "winapi-bench: the baseline host failed\n");
		return -EPROTO;
	}
	return 0;
}

/* @handle's host WRITEs the pattern into a new buffer of each size: the bytes VERIFY checks. */
static int write_buffers(winapi_handle_t handle, winapi_buffer_t *buffers, uint32_t *checksums)
{
	winapi_buffer_test_result_t result;
	unsigned int i;
	int rc;

	for (i = 0; i < BENCH_BUFFER_SIZES; i++) {
		rc = winapi_alloc_buffer(&buffers[i], bench_buffer_sizes[i]);
		if (rc != 0)
			return bench_fail("winapi_alloc_buffer", rc);
		rc = winapi_buffer_test(handle, &buffers[i], 1, WINAPI_BUFFER_OP_WRITE, BENCH_PATTERN, &result);
		if (rc != 0)
			return bench_fail("BUFFER_TEST WRITE", rc);
		checksums[i] = result.checksum;
	}
	return 0;
}

/* Every host WRITEs the pattern into each buffer size; all must agree on the checksum. */
static int prepare_buffers(struct session *session, struct bench_results *results)
{
	winapi_buffer_test_result_t result;
	unsigned int i;
	int rc;

	rc = write_buffers(session->polled, session->buffers, results->verify_checksum);
	if (rc != 0)
		return rc;
	for (i = 0; i < BENCH_BUFFER_SIZES; i++) {
		session->baseline_buffers[i] = malloc(bench_buffer_sizes[i]);
		if (session->baseline_buffers[i] == NULL)
			return bench_fail("malloc", -ENOMEM);
		rc = baseline_buffer_test(&session->baseline, WINAPI_BUFFER_OP_WRITE, session->baseline_buffers[i],
					  bench_buffer_sizes[i], BENCH_PATTERN, &result);
		if (rc != 0)
			return bench_fail("baseline WRITE", rc);
		results->baseline_verify_checksum[i] = result.checksum;
		/* The same work: the hosts computed the same CRC32C over the same bytes. */
		if (results->verify_checksum[i] != results->baseline_verify_checksum[i] ||
		    results->verify_checksum[i] != results->hvsock_verify_checksum[i]) {
			fprintf(stderr, "winapi-bench: checksums differ for %zu KiB: liblowlat %08x, hvsock %08x, "
				"baseline %08x\n", bench_buffer_sizes[i] >> 10, results->verify_checksum[i],
				results->hvsock_verify_checksum[i], results->baseline_verify_checksum[i]);
			return -EBADMSG;
		}
	}
	return 0;
}

/*
 * The file the file read figure reads: options->file_size bytes that are not a pattern a
 * compressing or deduplicating layer could shortcut, written once, so that every read finds
 * it in the page cache; its CRC32C is what every path's bytes must add up to.
 */
static int make_file(const struct bench_options *options, struct session *session, struct bench_results *results)
{
	uint64_t state = 0x9e3779b97f4a7c15ull, written = 0, i;
	uint64_t *chunk = malloc(1u << 20);
	uint32_t crc = 0;
	FILE *file;
	int rc = 0;

	snprintf(session->file_directory, sizeof(session->file_directory), "/tmp/winapi-bench-files.XXXXXX");
	if (chunk == NULL || mkdtemp(session->file_directory) == NULL) {
		free(chunk);
		return bench_fail("the file read figure's directory", chunk == NULL ? -ENOMEM : -errno);
	}
	snprintf(session->file_path, sizeof(session->file_path), "%s/" FILE_NAME, session->file_directory);
	snprintf(session->export_spec, sizeof(session->export_spec), FILE_EXPORT "=%s", session->file_directory);
	file = fopen(session->file_path, "wb");
	if (file == NULL) {
		free(chunk);
		return bench_fail(session->file_path, -errno);
	}
	while (rc == 0 && written < options->file_size) {
		for (i = 0; i < (1u << 20) / sizeof(*chunk); i++) {
			state ^= state << 13; /* xorshift64 */
			state ^= state >> 7;
			state ^= state << 17;
			chunk[i] = state;
		}
		crc = winapi_crc32c(crc, chunk, 1u << 20);
		if (fwrite(chunk, 1, 1u << 20, file) != 1u << 20)
			rc = -EIO;
		written += 1u << 20;
	}
	if (fclose(file) != 0 && rc == 0)
		rc = -errno;
	free(chunk);
	results->file_checksum = crc;
	return rc != 0 ? bench_fail(session->file_path, rc) : 0;
}

static void remove_file(struct session *session)
{
	if (session->file_path[0] != '\0')
		unlink(session->file_path);
	if (session->file_directory[0] != '\0')
		rmdir(session->file_directory);
}

/* Buffers for the file read figure, of the handle opened last (liblowlat's rule, above). */
static int alloc_file_buffers(winapi_buffer_t *buffers)
{
	unsigned int i;
	int rc;

	for (i = 0; i < FILE_BUFFERS; i++) {
		rc = winapi_alloc_buffer(&buffers[i], FILE_BUFFER_SIZE);
		if (rc != 0)
			return bench_fail("winapi_alloc_buffer (file read)", rc);
	}
	return 0;
}

/* Start @child's host and attach liblowlat to it: 0 or negative errno. */
static int open_host(const struct bench_options *options, bool interrupt_mode, bool hostd,
		     struct emulator_child *child, winapi_handle_t *handle)
{
	int rc = emulator_start(options, interrupt_mode, hostd, child);

	if (rc != 0)
		return rc;
	*handle = attach_guest(child, interrupt_mode, hostd);
	return *handle != NULL ? 0 : -ENOTCONN;
}

/*
 * The interrupt-mode, hvsock and pmd handles first: liblowlat allocates buffers from the
 * attachment opened last, so each handle's buffers are allocated before the next one opens.
 */
static int session_open(const struct bench_options *options, struct session *session,
			struct bench_results *results)
{
	int rc;

	memset(session, 0, sizeof(*session));
	session->polled_host.pid = session->interrupt_host.pid = session->hvsock_host.pid = session->pmd_daemon.pid = -1;
	session->baseline_host = -1;
	session->baseline.fd = -1;
	session->pmd_daemon.pmd = true;
	rc = make_file(options, session, results);
	if (rc != 0)
		return rc;
	session->hvsock_host.export_spec = session->polled_host.export_spec = session->export_spec;
	rc = open_host(options, true, false, &session->interrupt_host, &session->interrupt);
	if (rc == 0)
		rc = open_host(options, false, true, &session->hvsock_host, &session->hvsock);
	if (rc == 0)
		rc = write_buffers(session->hvsock, session->hvsock_buffers, results->hvsock_verify_checksum);
	if (rc == 0)
		rc = alloc_file_buffers(session->hvsock_file_buffers);
	if (rc == 0)
		rc = open_host(options, false, false, &session->pmd_daemon, &session->pmd);
	if (rc == 0)
		rc = open_host(options, false, false, &session->polled_host, &session->polled);
	if (rc == 0)
		rc = alloc_file_buffers(session->file_buffers);
	if (rc != 0)
		return rc;
	session->baseline_file_buffer = malloc(FILE_CALL_SIZE);
	if (session->baseline_file_buffer == NULL)
		return bench_fail("malloc", -ENOMEM);
	rc = start_baseline(options, session);
	if (rc != 0)
		return rc;
	return prepare_buffers(session, results);
}

static int session_close(struct session *session)
{
	unsigned int i;
	int rc;

	for (i = 0; i < BENCH_BUFFER_SIZES; i++) {
		winapi_free_buffer(&session->buffers[i]);
		winapi_free_buffer(&session->hvsock_buffers[i]);
		free(session->baseline_buffers[i]);
	}
	for (i = 0; i < FILE_BUFFERS; i++) {
		winapi_free_buffer(&session->file_buffers[i]);
		winapi_free_buffer(&session->hvsock_file_buffers[i]);
	}
	free(session->baseline_file_buffer);
	winapi_cleanup(session->polled);
	winapi_cleanup(session->interrupt);
	winapi_cleanup(session->hvsock);
	winapi_cleanup(session->pmd);
	rc = stop_baseline(session);
	if (session->polled_host.pid > 0 || session->polled_host.directory[0] != '\0')
		emulator_stop(&session->polled_host);
	if (session->interrupt_host.pid > 0 || session->interrupt_host.directory[0] != '\0')
		emulator_stop(&session->interrupt_host);
	if (session->hvsock_host.pid > 0 || session->hvsock_host.directory[0] != '\0')
		emulator_stop(&session->hvsock_host);
	if (session->pmd_daemon.pid > 0 || session->pmd_daemon.directory[0] != '\0')
		emulator_stop(&session->pmd_daemon);
	remove_file(session);
	return rc;
}

/* ---- liblowlat ---- */

struct warmup {
	uint64_t rounds;
	uint64_t start;
};

/* True while the slice is still warming up (the round trip just made does not count). */
static bool warm_up(struct warmup *warmup)
{
	if (warmup->rounds == 0)
		warmup->start = clock_ticks();
	if (warmup->rounds == UINT64_MAX)
		return false;
	if (++warmup->rounds >= ECHO_WARMUP && clock_ns(clock_ticks() - warmup->start) >= ECHO_WARMUP_NS) {
		warmup->rounds = UINT64_MAX;
		return false;
	}
	return true;
}

/* One echo through liblowlat or through the baseline: 0 or negative errno. */
typedef int (*echo_call)(void *target, const char *input, size_t size, char *output, size_t output_size);

static int liblowlat_echo(void *handle, const char *input, size_t size, char *output, size_t output_size)
{
	(void)size;
	return winapi_echo(handle, input, output, output_size);
}

static int socket_echo(void *client, const char *input, size_t size, char *output, size_t output_size)
{
	return baseline_echo(client, input, size, output, output_size);
}

static int echo_slice(echo_call call, void *target, size_t size, uint64_t samples, struct histogram *histogram)
{
	static char input[WINAPI_MAX_INLINE_DATA + 1], output[WINAPI_MAX_INLINE_DATA + 1];
	struct warmup warmup = { 0 };
	uint64_t round;
	int rc;

	fill_text(input, size);
	for (round = 0; round < samples; round++) {
		uint64_t start = clock_ticks(), elapsed;

		rc = call(target, input, size, output, sizeof(output));
		elapsed = clock_ticks() - start;
		if (rc != 0)
			return rc;
		if (memcmp(input, output, size + 1) != 0)
			return -EBADMSG;
		if (warm_up(&warmup))
			round--;
		else
			histogram_add(histogram, clock_ns(elapsed));
	}
	return 0;
}

int bench_echo_slice(winapi_handle_t handle, size_t size, uint64_t samples, struct histogram *histogram)
{
	return echo_slice(liblowlat_echo, handle, size, samples, histogram);
}

/*
 * Collect whatever @queue still has in flight, so that destroying it cancels nothing: the
 * host's answers would come after it and be counted stale. Each round takes at least one
 * answer or ends (nothing in flight, or an error), and the requests' own 5 s deadline bounds
 * each round's wait.
 */
static void drain_queue(winapi_queue_t queue, winapi_completion_t *completions, unsigned int depth)
{
	while (winapi_queue_reap(queue, completions, depth, depth, 5000) > 0)
		;
}

/*
 * Echoes of RATE_PAYLOAD bytes in batches of @batch, two batches in flight so that the host
 * always has the next one, for @seconds after a warm-up.
 */
int bench_rate_slice(winapi_handle_t handle, unsigned int batch, double seconds, struct throughput *throughput)
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
		if (count <= 0) {
			rc = count < 0 ? count : -ETIMEDOUT;
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
		if (!measuring && done >= RATE_WARMUP) {
			measuring = true;
			done = 0;
			start = clock_ticks();
		} else if (measuring && seconds_since(start) >= seconds) {
			break;
		}
	}
	throughput->amount += (double)done;
	throughput->seconds += seconds_since(start);
	rc = 0;
out_destroy:
	drain_queue(queue, completions, depth);
	winapi_queue_destroy(queue);
	return rc;
}

/* VERIFY over @buffer (the host wrote the pattern), again and again for @seconds. */
static int verify_slice(winapi_handle_t handle, winapi_buffer_t *buffer, uint32_t checksum, double seconds,
			struct throughput *throughput)
{
	winapi_buffer_test_result_t result;
	uint64_t bytes = 0, start = clock_ticks(), passes = 0;
	int rc;

	while (passes < 2 || seconds_since(start) < seconds) {
		rc = winapi_buffer_test(handle, buffer, 1, WINAPI_BUFFER_OP_VERIFY, BENCH_PATTERN, &result);
		if (rc != 0)
			return rc;
		if (result.status != 0 || result.bytes_processed != buffer->size || result.checksum != checksum)
			return -EBADMSG;
		bytes += buffer->size;
		passes++;
	}
	throughput->amount += (double)bytes;
	throughput->seconds += seconds_since(start);
	return 0;
}

/* ---- the baseline ---- */

/* Pipelines of @batch requests: the socket's equivalent of a batch. */
static int baseline_rate_slice(struct baseline_client *client, unsigned int batch, double seconds,
			       struct throughput *throughput)
{
	char input[RATE_PAYLOAD + 1];
	uint64_t done, start;
	int rc;

	memset(input, 'x', RATE_PAYLOAD);
	input[RATE_PAYLOAD] = '\0';
	for (done = 0; done < RATE_WARMUP / 10; done += batch) {
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
	throughput->amount += (double)done;
	throughput->seconds += seconds_since(start);
	return 0;
}

static int baseline_verify_slice(struct baseline_client *client, uint8_t *buffer, size_t size, uint32_t checksum,
				 double seconds, struct throughput *throughput)
{
	winapi_buffer_test_result_t result;
	uint64_t bytes = 0, start = clock_ticks(), passes = 0;
	int rc;

	while (passes < 2 || seconds_since(start) < seconds) {
		rc = baseline_buffer_test(client, WINAPI_BUFFER_OP_VERIFY, buffer, size, BENCH_PATTERN, &result);
		if (rc != 0)
			return rc;
		if (result.status != 0 || result.checksum != checksum)
			return -EBADMSG;
		bytes += size;
		passes++;
	}
	throughput->amount += (double)bytes;
	throughput->seconds += seconds_since(start);
	return 0;
}

/* ---- the file read figure ---- */

/*
 * The whole file through host.file.read, FILE_CALL_SIZE a call into @buffers (zero-copy on
 * VMBus: the host preads into the guest's pages; on hvsock the bytes come on the socket). Only
 * the calls are timed; every call's bytes are then checked against the file's CRC32C. One
 * untimed call first, as every slice warms up: it pays for what later calls do not (the host's
 * first touch of the guest's pages; winapi-hostd growing its payload buffer, which it gives
 * back after a second without a frame, and the other slices take longer than that): 0.2-1.4
 * GB/s against 3-9 here.
 */
static int file_read_slice(winapi_handle_t handle, winapi_buffer_t *buffers, const struct bench_options *options,
			   uint32_t checksum, struct throughput *throughput)
{
	uint64_t offset = 0, bytes, want, elapsed = 0, start, left;
	uint32_t crc = 0;
	unsigned int i;
	bool eof;
	int rc;

	rc = winapi_file_read(handle, FILE_EXPORT, FILE_NAME, 0, FILE_CALL_SIZE, buffers, FILE_BUFFERS, &bytes, &eof);
	if (rc != 0)
		return rc;
	while (offset < options->file_size) {
		want = options->file_size - offset < FILE_CALL_SIZE ? options->file_size - offset : FILE_CALL_SIZE;
		start = clock_ticks();
		rc = winapi_file_read(handle, FILE_EXPORT, FILE_NAME, offset, want, buffers, FILE_BUFFERS, &bytes, &eof);
		elapsed += clock_ticks() - start;
		if (rc != 0)
			return rc;
		if (bytes != want)
			return -EIO;
		for (i = 0, left = bytes; left != 0; i++) {
			size_t length = left < FILE_BUFFER_SIZE ? (size_t)left : FILE_BUFFER_SIZE;

			crc = winapi_crc32c(crc, buffers[i].data, length);
			left -= length;
		}
		offset += bytes;
	}
	if (crc != checksum)
		return -EBADMSG;
	throughput->amount += (double)options->file_size;
	throughput->seconds += (double)clock_ns(elapsed) / 1e9;
	return 0;
}

/* The same through the baseline: its JSON request, the host's pread(), the bytes on its socket. */
static int baseline_file_read_slice(struct session *session, const struct bench_options *options, uint32_t checksum,
				    struct throughput *throughput)
{
	uint64_t offset = 0, elapsed = 0, start;
	size_t want, bytes;
	uint32_t crc = 0;
	int rc;

	rc = baseline_file_read(&session->baseline, session->file_path, 0, session->baseline_file_buffer, FILE_CALL_SIZE,
				&bytes);
	if (rc != 0)
		return rc;
	while (offset < options->file_size) {
		want = options->file_size - offset < FILE_CALL_SIZE ? (size_t)(options->file_size - offset) : FILE_CALL_SIZE;
		start = clock_ticks();
		rc = baseline_file_read(&session->baseline, session->file_path, offset, session->baseline_file_buffer,
					want, &bytes);
		elapsed += clock_ticks() - start;
		if (rc != 0)
			return rc;
		if (bytes != want)
			return -EIO;
		crc = winapi_crc32c(crc, session->baseline_file_buffer, bytes);
		offset += bytes;
	}
	if (crc != checksum)
		return -EBADMSG;
	throughput->amount += (double)options->file_size;
	throughput->seconds += (double)clock_ns(elapsed) / 1e9;
	return 0;
}

/* cat @path > /dev/null on the host CPU; its wall time in ns, or 0 on failure. */
static uint64_t time_cat(const struct bench_options *options, const char *path)
{
	uint64_t start = clock_ticks();
	pid_t pid;
	int status;

	pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		pin_to_cpu(options->host_cpu);
		execlp("cat", "cat", path, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 0;
	return clock_ns(clock_ticks() - start);
}

/*
 * The floor: cat of the file to /dev/null on the host CPU, less what a cat of nothing takes
 * (fork, exec, exit: about a millisecond, which a 32 MiB file would otherwise carry). Each is
 * the least of the rounds so far, and the floor their difference: the best of each round's
 * own difference took the round whose cat of nothing a neighbour happened to slow, and
 * printed a cat at 434 GB/s.
 */
static int cat_slice(const struct bench_options *options, const struct session *session, struct bench_results *results)
{
	uint64_t whole = time_cat(options, session->file_path), empty = time_cat(options, "/dev/null");

	if (whole == 0 || empty == 0)
		return bench_fail("cat of the file", -ECHILD);
	if (results->cat_ns == 0 || whole < results->cat_ns)
		results->cat_ns = whole;
	if (results->cat_empty_ns == 0 || empty < results->cat_empty_ns)
		results->cat_empty_ns = empty;
	results->cat_gbps = (double)options->file_size /
			    (double)(results->cat_ns > results->cat_empty_ns ? results->cat_ns - results->cat_empty_ns :
									       results->cat_ns);
	return 0;
}

static int file_read_slices(const struct bench_options *options, struct session *session,
			    struct bench_results *results)
{
	int rc;

	rc = cat_slice(options, session, results);
	if (rc != 0)
		return rc;
	rc = file_read_slice(session->polled, session->file_buffers, options, results->file_checksum,
			     &results->file_read);
	if (rc != 0)
		return bench_fail("file read (VMBus)", rc);
	rc = file_read_slice(session->hvsock, session->hvsock_file_buffers, options, results->file_checksum,
			     &results->hvsock_file_read);
	if (rc != 0)
		return bench_fail("file read (hvsock)", rc);
	rc = baseline_file_read_slice(session, options, results->file_checksum, &results->baseline_file_read);
	if (rc != 0)
		return bench_fail("baseline file read", rc);
	return 0;
}

/* ---- one round: a slice of everything ---- */

/*
 * The request rate's floor: the rate test's packets (a winapi header and RATE_PAYLOAD bytes
 * each way), batches and depth on bare rings, for as long as a rate slice.
 */
static int ring_rate_slice(const struct bench_options *options, struct bench_results *results)
{
	uint64_t requests, elapsed_ns;
	unsigned int i;
	int rc;

	for (i = 0; i < BENCH_BATCH_SIZES; i++) {
		rc = floor_ring_rate(options->guest_cpu, options->host_cpu, bench_batch_sizes[i],
				     (uint32_t)(sizeof(struct winapi_message_header) + RATE_PAYLOAD), RATE_WARMUP,
				     options->seconds / options->rounds, &requests, &elapsed_ns);
		if (rc != 0)
			return bench_fail("ring request rate", rc);
		results->ring_rate[i].amount += (double)requests;
		results->ring_rate[i].seconds += (double)elapsed_ns / 1e9;
	}
	return 0;
}

/*
 * Memory read in the state of VERIFY's buffers, on the CPU that reads them (the host's): each
 * size read again and again. The best round counts, as for every floor.
 */
static int buffer_read_slice(const struct bench_options *options, struct bench_results *results)
{
	unsigned int i;
	double gbps;

	for (i = 0; i < BENCH_BUFFER_SIZES; i++) {
		gbps = floor_buffer_read(options->host_cpu, bench_buffer_sizes[i], options->quick ? 64u << 20 : 512u << 20);
		if (gbps <= 0)
			return bench_fail("buffer read", -ENOMEM);
		if (gbps > results->buffer_read_gbps[i])
			results->buffer_read_gbps[i] = gbps;
	}
	return 0;
}

/* An emulator for the cold-start figure: it outlives each guest, so each round attaches anew. */
static int cold_host_start(const struct bench_options *options, struct emulator_child *child)
{
	memset(child, 0, sizeof(*child));
	child->keep_serving = true;
	return emulator_start(options, false, false, child);
}

static void cold_host_stop(struct emulator_child *child)
{
	if (child->pid > 0 || child->directory[0] != '\0')
		emulator_stop(child);
}

/*
 * The first BENCH_COLD_CALLS round trips of a fresh attach: a new handle against the running
 * emulator, polled as the steady-state echo is, 64 bytes as its p50 target is, with no
 * warm-up; every reply checked. The handle closes after, so the next round attaches anew.
 */
static int cold_start_slice(const struct emulator_child *host, struct bench_results *results)
{
	static char input[RATE_PAYLOAD + 1], output[WINAPI_MAX_INLINE_DATA + 1];
	uint64_t start = clock_ticks(), elapsed;
	winapi_handle_t handle;
	unsigned int call;
	int rc = 0;

	fill_text(input, RATE_PAYLOAD);
	handle = attach_guest(host, false, false);
	if (handle == NULL)
		return bench_fail("winapi_init (cold start)", -errno);
	histogram_add(&results->attach.histogram, clock_ns(clock_ticks() - start));
	for (call = 0; call < BENCH_COLD_CALLS && rc == 0; call++) {
		start = clock_ticks();
		rc = winapi_echo(handle, input, output, sizeof(output));
		elapsed = clock_ticks() - start;
		if (rc == 0 && memcmp(input, output, RATE_PAYLOAD + 1) != 0)
			rc = -EBADMSG;
		if (rc == 0)
			histogram_add(&results->echo_cold.histogram, clock_ns(elapsed));
	}
	winapi_cleanup(handle);
	return rc != 0 ? bench_fail("echo (cold start)", rc) : 0;
}

static int floor_slice(const struct bench_options *options, uint64_t samples, struct bench_results *results)
{
	double gbps;
	unsigned int i;
	int rc;

	rc = floor_ping_pong(options->guest_cpu, options->host_cpu, samples, &results->cache_line.histogram);
	if (rc != 0)
		return bench_fail("cache-line round trip", rc);
	rc = floor_ring_round_trip(options->guest_cpu, options->host_cpu, (uint32_t)results->ring.size, samples,
				   &results->ring.histogram);
	if (rc != 0)
		return bench_fail("ring round trip", rc);
	rc = floor_ring_round_trip(options->guest_cpu, options->host_cpu, (uint32_t)results->ring_large.size, samples,
				   &results->ring_large.histogram);
	if (rc != 0)
		return bench_fail("ring round trip (largest echo)", rc);
	gbps = floor_copy(bench_echo_sizes[BENCH_ECHO_SIZES - 1], options->quick ? 64u << 20 : 512u << 20);
	if (gbps <= 0)
		return bench_fail("memory copy", -ENOMEM);
	if (gbps > results->copy_gbps)
		results->copy_gbps = gbps;
	/* The floor is what the machine can do: the best round counts. */
	gbps = floor_memory_read(options->quick ? 64u << 20 : 256u << 20);
	if (gbps <= 0)
		return bench_fail("memory read", -ENOMEM);
	if (gbps > results->memory_read_gbps)
		results->memory_read_gbps = gbps;
	for (i = 0; i < BENCH_BUFFER_SIZES; i++) {
		gbps = floor_crc32c(bench_buffer_sizes[i], options->quick ? 64u << 20 : 512u << 20);
		if (gbps <= 0)
			return bench_fail("CRC32C", -ENOMEM);
		if (gbps > results->crc32c_gbps[i])
			results->crc32c_gbps[i] = gbps;
	}
	rc = ring_rate_slice(options, results);
	if (rc != 0)
		return rc;
	rc = buffer_read_slice(options, results);
	if (rc != 0)
		return rc;
	/* floor_ping_pong() pinned this thread to the guest CPU; it stays there. */
	return 0;
}

static int round_slices(const struct bench_options *options, struct session *session, struct bench_results *results)
{
	uint64_t polled = options->polled_samples / options->rounds;
	uint64_t blocking = options->blocking_samples / options->rounds;
	double seconds = options->seconds / options->rounds;
	unsigned int i;
	int rc;

	rc = floor_slice(options, polled, results);
	if (rc != 0)
		return rc;
	for (i = 0; i < BENCH_ECHO_SIZES; i++) {
		rc = echo_slice(liblowlat_echo, session->polled, bench_echo_sizes[i], polled,
				&results->echo_polled[i].histogram);
		if (rc != 0)
			return bench_fail("echo (polled)", rc);
		rc = echo_slice(socket_echo, &session->baseline, bench_echo_sizes[i], blocking,
				&results->baseline_echo[i].histogram);
		if (rc != 0)
			return bench_fail("baseline echo", rc);
	}
	rc = echo_slice(liblowlat_echo, session->interrupt, 64, blocking, &results->echo_interrupt.histogram);
	if (rc != 0)
		return bench_fail("echo (interrupt mode)", rc);
	for (i = 0; i < BENCH_ECHO_SIZES; i++) {
		rc = echo_slice(liblowlat_echo, session->hvsock, bench_echo_sizes[i], blocking,
				&results->hvsock_echo[i].histogram);
		if (rc != 0)
			return bench_fail("echo (hvsock)", rc);
	}
	for (i = 0; i < BENCH_BATCH_SIZES; i++) {
		rc = bench_rate_slice(session->polled, bench_batch_sizes[i], seconds, &results->rate[i]);
		if (rc != 0)
			return bench_fail("request rate", rc);
		rc = baseline_rate_slice(&session->baseline, bench_batch_sizes[i], seconds, &results->baseline_rate[i]);
		if (rc != 0)
			return bench_fail("baseline request rate", rc);
		rc = bench_rate_slice(session->hvsock, bench_batch_sizes[i], seconds, &results->hvsock_rate[i]);
		if (rc != 0)
			return bench_fail("request rate (hvsock)", rc);
	}
	rc = bench_pmd_slice(options, session->pmd, results);
	if (rc != 0)
		return rc;
	for (i = 0; i < BENCH_BUFFER_SIZES; i++) {
		rc = verify_slice(session->polled, &session->buffers[i], results->verify_checksum[i], seconds,
				  &results->verify[i]);
		if (rc != 0)
			return bench_fail("zero-copy verify", rc);
		rc = baseline_verify_slice(&session->baseline, session->baseline_buffers[i], bench_buffer_sizes[i],
					   results->baseline_verify_checksum[i], seconds, &results->baseline_verify[i]);
		if (rc != 0)
			return bench_fail("baseline verify", rc);
		rc = verify_slice(session->hvsock, &session->hvsock_buffers[i], results->hvsock_verify_checksum[i],
				  seconds, &results->hvsock_verify[i]);
		if (rc != 0)
			return bench_fail("verify (hvsock)", rc);
	}
	return file_read_slices(options, session, results);
}

void bench_results_init(struct bench_results *results)
{
	unsigned int i;

	memset(results, 0, sizeof(*results));
	results->cache_line = (struct latency){ .name = "cache-line round trip", .size = 64 };
	/* The packets the 64-byte and the largest echo put on the ring: the winapi header, then the data. */
	results->ring = (struct latency){ .name = "VMBus ring round trip",
					  .size = sizeof(struct winapi_message_header) + 64 };
	results->ring_large = (struct latency){ .name = "VMBus ring round trip",
						.size = sizeof(struct winapi_message_header) +
							bench_echo_sizes[BENCH_ECHO_SIZES - 1] };
	results->echo_interrupt = (struct latency){ .name = "echo interrupt mode", .size = 64 };
	results->echo_cold = (struct latency){ .name = "echo polled, first calls of a fresh attach", .size = RATE_PAYLOAD };
	results->attach = (struct latency){ .name = "winapi_init", .size = 0 };
	histogram_init(&results->echo_cold.histogram);
	histogram_init(&results->attach.histogram);
	histogram_init(&results->cache_line.histogram);
	histogram_init(&results->ring.histogram);
	histogram_init(&results->ring_large.histogram);
	histogram_init(&results->echo_interrupt.histogram);
	results->pmd_echo = (struct latency){ .name = "pmd echo polled", .size = 64 };
	histogram_init(&results->pmd_echo.histogram);
	for (i = 0; i < BENCH_ECHO_SIZES; i++) {
		results->echo_polled[i] = (struct latency){ .name = "echo polled", .size = bench_echo_sizes[i] };
		results->baseline_echo[i] = (struct latency){ .name = "baseline echo", .size = bench_echo_sizes[i] };
		results->hvsock_echo[i] = (struct latency){ .name = "hvsock echo", .size = bench_echo_sizes[i] };
		histogram_init(&results->hvsock_echo[i].histogram);
		histogram_init(&results->echo_polled[i].histogram);
		histogram_init(&results->baseline_echo[i].histogram);
	}
}

int bench_measure(const struct bench_options *options, struct bench_results *results)
{
	struct session session;
	struct emulator_child cold_host = { .pid = -1 };
	unsigned int round;
	int rc, close_rc;

	bench_progress("starting the host emulators (polled, interrupt mode), winapi-hostd (hvsock), winapi-pmd "
		       "(its host inline) and the baseline host on CPU %d",
		       options->host_cpu);
	rc = session_open(options, &session, results);
	if (rc == 0)
		rc = cold_host_start(options, &cold_host);
	for (round = 0; rc == 0 && round < options->rounds; round++) {
		bench_progress("round %u of %u: floor, echo, request rate, verify, file read; each for liblowlat over VMBus, "
			       "over hvsock, through winapi-pmd, and the baseline; a fresh attach's first calls",
			       round + 1, options->rounds);
		rc = round_slices(options, &session, results);
		if (rc == 0)
			rc = cold_start_slice(&cold_host, results);
	}
	cold_host_stop(&cold_host);
	close_rc = session_close(&session);
	return rc != 0 ? rc : close_rc;
}
