/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * make soak DURATION=seconds: the whole system under load for a long time, every answer
 * checked. A winapi-host-sim with two channels, a winapi-pmd with two workers, several client
 * processes with many requests in flight each (tests/e2e/load.c: echoes of random bytes,
 * buffer WRITEs and READs checked byte by byte and by CRC32C), and one client that attaches,
 * works and detaches over and over (the daemon's reclaim path under load).
 *
 * It counts lost (timed out or never answered), duplicated and corrupted answers, all of
 * which must be 0, and samples the anonymous resident memory (heap, stacks: where a leak
 * shows; the shared rings and pools come and go with clients and are counted by the daemon's
 * own pool counters instead) and the open descriptors of every process: after a warm-up
 * quarter, neither may grow beyond a small allowance. Exit 0 only if all holds.
 *
 * Descriptors are judged by both the least and the most count in a window: a process grows
 * only when both rose. The counts swing for two kinds of noise: at any one sample the daemon
 * may hold the attach/detach client's descriptors twice (one being reclaimed, a new one
 * attaching: a connection, two signal sockets, an epoll, a pidfd each), which lifts a most;
 * and that client itself holds three fewer between a detach and the next attach, so a window
 * whose samples all catch it attached lifts a least (a CI run failed on that: 8 -> 11, its
 * most 11 throughout). A leak raises the floor and the ceiling alike, and survives both. The daemon must also come back, once every client has gone, to the count it
 * had before the first one came.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <winapi_internal/pmd.h>
#include <winapi_internal/telemetry.h>
#include <winapi_internal/clock.h>

#include "../e2e/emulator.h"
#include "../e2e/load.h"

#define MAX_CLIENTS 16
#define SAMPLE_COUNT 20u
#define CHURN_REQUESTS 2000u
/* Growth allowed after the warm-up: allocator and page-cache noise, not a leak. */
#define RSS_ALLOWANCE_KIB 2048u
/* Between the least counts of the second and the last quarter; a leak of one descriptor in
 * a thousand attaches would be 5 of the ~10,000 a 600-second run makes. */
#define FD_ALLOWANCE 2
/* How long the daemon may take to close a gone client's descriptors (its reclaim grace). */
#define REST_WAIT_MS 5000

struct process {
	const char *name;
	pid_t pid;
	long rss_warm_kib;   /* at the end of the warm-up */
	long rss_max_kib;    /* the most after it */
	int fds_warm;
	int fds_max;
	int fds_least_early; /* the least in the second quarter */
	int fds_least_late;  /* the least in the last quarter */
	int fds_most_early;  /* the most in the second quarter */
	int fds_most_late;   /* the most in the last quarter */
};

/* Where a sample falls in the run: samples come every twentieth of it. */
enum sample_window { SAMPLE_WARM_UP, SAMPLE_EARLY, SAMPLE_MIDDLE, SAMPLE_LATE };

struct totals {
	struct load_report load;
	uint64_t runs;       /* load_run() calls that finished */
	uint64_t failed_runs;
};

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long value = -1;
	FILE *file;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	file = fopen(path, "r");
	if (file == NULL)
		return -1;
	while (fgets(line, sizeof(line), file) != NULL)
		if (sscanf(line, "RssAnon: %ld kB", &value) == 1)
			break;
	fclose(file);
	return value;
}

static int fd_count(pid_t pid)
{
	char path[64];
	struct dirent *entry;
	int count = 0;
	DIR *directory;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	directory = opendir(path);
	if (directory == NULL)
		return -1;
	while ((entry = readdir(directory)) != NULL)
		count += entry->d_name[0] != '.';
	closedir(directory);
	return count;
}

static void sample(struct process *process, enum sample_window window)
{
	long rss = rss_kib(process->pid);
	int fds = fd_count(process->pid);

	if (rss < 0 || fds < 0)
		return;
	if (window == SAMPLE_WARM_UP) {
		process->rss_warm_kib = rss;
		process->fds_warm = fds;
		process->rss_max_kib = rss;
		process->fds_max = fds;
		process->fds_least_early = fds;
		process->fds_least_late = INT_MAX;
		process->fds_most_early = fds;
		process->fds_most_late = 0;
		return;
	}
	if (rss > process->rss_max_kib)
		process->rss_max_kib = rss;
	if (fds > process->fds_max)
		process->fds_max = fds;
	if (window == SAMPLE_EARLY && fds < process->fds_least_early)
		process->fds_least_early = fds;
	if (window == SAMPLE_LATE && fds < process->fds_least_late)
		process->fds_least_late = fds;
	if (window == SAMPLE_EARLY && fds > process->fds_most_early)
		process->fds_most_early = fds;
	if (window == SAMPLE_LATE && fds > process->fds_most_late)
		process->fds_most_late = fds;
}

static enum sample_window sample_window_of(unsigned int sample_index, unsigned int sample_count)
{
	if (sample_index * 4 <= sample_count)
		return SAMPLE_WARM_UP;
	if (sample_index * 2 <= sample_count)
		return SAMPLE_EARLY;
	if (sample_index * 4 <= sample_count * 3)
		return SAMPLE_MIDDLE;
	return SAMPLE_LATE;
}

static bool flat(const struct process *process)
{
	long allowance = RSS_ALLOWANCE_KIB > process->rss_warm_kib / 20 ? RSS_ALLOWANCE_KIB : process->rss_warm_kib / 20;

	return process->rss_max_kib - process->rss_warm_kib <= allowance &&
	       (process->fds_least_late - process->fds_least_early <= FD_ALLOWANCE ||
		process->fds_most_late - process->fds_most_early <= FD_ALLOWANCE);
}

/* The descriptors of @pid once it has let go of what it held for clients; -1 if it cannot be read. */
static int fds_at_rest(pid_t pid, int before)
{
	int fds = fd_count(pid), waited;

	for (waited = 0; fds > before && waited < REST_WAIT_MS; waited += 20) {
		sleep_ms(20);
		fds = fd_count(pid);
	}
	return fds;
}

static void add_report(struct totals *totals, const struct load_report *report, int rc)
{
	totals->load.completed += report->completed;
	totals->load.failed += report->failed;
	totals->load.timeouts += report->timeouts;
	totals->load.corrupted += report->corrupted;
	totals->load.duplicated += report->duplicated;
	totals->load.unanswered += report->unanswered;
	totals->runs++;
	totals->failed_runs += rc != 0;
}

/* A client process: one long run, or (churn) short runs until the time is up. */
static pid_t start_client(unsigned int index, bool churn, uint64_t duration_ns, unsigned int depth, int report_fd)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	struct load_options options = {
		.depth = depth, .seed = 0x9e3779b9u * (index + 1), .progress_fd = -1, .timeout_ms = 10000,
	};
	uint64_t deadline = winapi_clock_now_ns() + duration_ns;
	struct totals totals = { 0 };
	struct load_report report;
	int rc;

	if (!churn) {
		options.duration_ns = duration_ns;
		rc = load_run(&options, &report);
		add_report(&totals, &report, rc);
	} else {
		options.requests = CHURN_REQUESTS;
		do {
			options.seed += 7;
			rc = load_run(&options, &report);
			add_report(&totals, &report, rc);
		} while (winapi_clock_now_ns() < deadline);
	}
	(void)!write(report_fd, &totals, sizeof(totals));
	_exit(0);
}

static json_int_t daemon_stat(const char *telemetry_path, const char *key)
{
	json_t *value = NULL;
	json_int_t result = -1;

	if (pmd_telemetry_query(telemetry_path, "/winapi/stats", NULL, 2000, &value) == 0)
		result = json_integer_value(json_object_get(value, key));
	json_decref(value);
	return result;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: soak [--duration SECONDS] [--clients N] [--depth D]\n"
		     "Runs winapi-host-sim, winapi-pmd and N checked clients (default 4, 64 requests in\n"
		     "flight each) plus one attach/detach client for SECONDS (default 600); exits 0 when\n"
		     "nothing was lost, duplicated or corrupted and memory stayed flat.\n");
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "duration", required_argument, NULL, 't' },
		{ "clients", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int duration_s = 600, client_count = 4, depth = 64, i, samples = 0;
	int pmd_fds_before, pmd_fds_after;
	struct process processes[MAX_CLIENTS + 3];
	struct emulator host, pmd;
	struct totals totals = { 0 }, part;
	char prefix[64], telemetry_path[108];
	int report_pipe[2], option, status;
	unsigned int process_count;
	bool ok = true;

	while ((option = getopt_long(argc, argv, "t:c:q:h", long_options, NULL)) != -1) {
		switch (option) {
		case 't':
			duration_s = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			client_count = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'q':
			depth = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (duration_s < 4 || client_count == 0 || client_count > MAX_CLIENTS || depth == 0 || depth > 64) {
		fprintf(stderr, "soak: want --duration >= 4, --clients 1..%d, --depth 1..64\n", MAX_CLIENTS);
		return 2;
	}

	signal(SIGPIPE, SIG_IGN);
	snprintf(prefix, sizeof(prefix), "soak-%d", (int)getpid());
	if (emulator_prepare(&host, "soak-host") != 0 ||
	    emulator_start(&host, (const char *const[]){ "--subchannels", "1", NULL }) != 0 ||
	    emulator_prepare_program(&pmd, "soak-pmd", "winapi-pmd") != 0 ||
	    emulator_start(&pmd, (const char *const[]){ "--lcores", "0,1", "--backend", "sim", "--sim-socket",
							host.socket_path, "--file-prefix", prefix, "--pool-size",
							"8", "--max-clients", "32", NULL }) != 0 ||
	    winapi_pmd_socket_path(prefix, false, WINAPI_PMD_TELEMETRY_SOCKET, telemetry_path,
				   sizeof(telemetry_path)) != 0 ||
	    pipe(report_pipe) != 0) {
		fprintf(stderr, "soak: cannot start the emulator and the daemon\n");
		return 1;
	}
	setenv("WINAPI_TRANSPORT", "pmd", 1);
	setenv("WINAPI_PMD_SOCKET", pmd.socket_path, 1);
	pmd_fds_before = fd_count(pmd.pid);

	processes[0] = (struct process){ .name = "winapi-host-sim", .pid = host.pid };
	processes[1] = (struct process){ .name = "winapi-pmd", .pid = pmd.pid };
	for (i = 0; i <= client_count; i++)
		processes[2 + i] = (struct process){
			.name = i < client_count ? "client" : "churn client",
			.pid = start_client(i, i == client_count, (uint64_t)duration_s * 1000000000u, depth,
					    report_pipe[1]),
		};
	process_count = client_count + 3;
	close(report_pipe[1]);
	printf("soak: %u s, %u clients x %u in flight + 1 attach/detach client, through winapi-pmd (2 workers)\n",
	       duration_s, client_count, depth);
	fflush(stdout);

	/*
	 * Samples in the middle of every twentieth of the run, so that the last one still sees
	 * the clients at work: the first quarter warms up (pools, rings, caches).
	 */
	while (samples < SAMPLE_COUNT) {
		sleep_ms(duration_s * 1000L / SAMPLE_COUNT / (samples == 0 ? 2 : 1));
		samples++;
		for (i = 0; i < process_count; i++)
			sample(&processes[i], sample_window_of(samples, SAMPLE_COUNT));
	}
	for (i = 2; i < process_count; i++) {
		if (waitpid(processes[i].pid, &status, 0) != processes[i].pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			ok = false;
	}
	while (read(report_pipe[0], &part, sizeof(part)) == (ssize_t)sizeof(part)) {
		totals.load.completed += part.load.completed;
		totals.load.failed += part.load.failed;
		totals.load.timeouts += part.load.timeouts;
		totals.load.corrupted += part.load.corrupted;
		totals.load.duplicated += part.load.duplicated;
		totals.load.unanswered += part.load.unanswered;
		totals.runs += part.runs;
		totals.failed_runs += part.failed_runs;
	}

	/* Every client is gone: the daemon must have given back everything it held for them. */
	for (i = 0; i < 250 && daemon_stat(telemetry_path, "clients_reclaimed") !=
				       daemon_stat(telemetry_path, "clients_attached"); i++)
		sleep_ms(20);
	printf("soak: %llu answers checked in %llu client runs; lost %llu (timed out %llu, unanswered %llu), "
	       "duplicated %llu, corrupted %llu, other errors %llu\n",
	       (unsigned long long)totals.load.completed, (unsigned long long)totals.runs,
	       (unsigned long long)(totals.load.timeouts + totals.load.unanswered),
	       (unsigned long long)totals.load.timeouts, (unsigned long long)totals.load.unanswered,
	       (unsigned long long)totals.load.duplicated, (unsigned long long)totals.load.corrupted,
	       (unsigned long long)(totals.load.failed - totals.load.timeouts));
	printf("soak: daemon: %lld clients attached, %lld reclaimed, %lld pool bytes still in use, "
	       "%lld answers dropped\n",
	       (long long)daemon_stat(telemetry_path, "clients_attached"),
	       (long long)daemon_stat(telemetry_path, "clients_reclaimed"),
	       (long long)daemon_stat(telemetry_path, "pool_bytes_in_use"),
	       (long long)daemon_stat(telemetry_path, "requests_dropped"));
	if (totals.load.failed != 0 || totals.load.corrupted != 0 || totals.load.duplicated != 0 ||
	    totals.load.unanswered != 0 || totals.failed_runs != 0 || totals.runs < client_count + 1 ||
	    totals.load.completed == 0)
		ok = false;
	if (daemon_stat(telemetry_path, "clients_reclaimed") != daemon_stat(telemetry_path, "clients_attached") ||
	    daemon_stat(telemetry_path, "pool_bytes_in_use") != 0)
		ok = false;
	for (i = 0; i < process_count; i++) {
		printf("soak: %-16s anonymous rss %ld -> max %ld KiB, fds %d -> max %d (least %d -> %d, most %d -> %d): "
		       "%s\n",
		       processes[i].name, processes[i].rss_warm_kib, processes[i].rss_max_kib, processes[i].fds_warm,
		       processes[i].fds_max, processes[i].fds_least_early, processes[i].fds_least_late,
		       processes[i].fds_most_early, processes[i].fds_most_late, flat(&processes[i]) ? "flat" : "GROWS");
		if (!flat(&processes[i]))
			ok = false;
	}
	pmd_fds_after = fds_at_rest(pmd.pid, pmd_fds_before);
	printf("soak: winapi-pmd with no client: %d descriptors before the first, %d after the last: %s\n",
	       pmd_fds_before, pmd_fds_after, pmd_fds_after == pmd_fds_before ? "flat" : "LEAKS");
	if (pmd_fds_before < 0 || pmd_fds_after != pmd_fds_before)
		ok = false;

	if (emulator_stop(&pmd, SIGTERM) != 0) {
		printf("soak: winapi-pmd did not stop cleanly on SIGTERM\n");
		ok = false;
	}
	emulator_cleanup(&pmd);
	emulator_cleanup(&host);
	printf("soak: %s (%u samples)\n", ok ? "PASS" : "FAIL", samples);
	return ok ? 0 : 1;
}
