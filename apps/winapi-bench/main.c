/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-bench: in one run, on the same two cores, the physical floor of the machine, liblowlat
 * against the host emulator (steady state and a fresh attach's first calls), liblowlat's hvsock transport against winapi-hostd, and the
 * socket+JSON baseline; every figure also as a ratio.
 * See docs/BENCHMARKS.md.
 */
#include <errno.h>
#include <getopt.h>
#include <numa.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "floor.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: winapi-bench [options]\n"
		"Measures, in one run on two cores: the machine's floor (cache-line round trip, the bare\n"
		"VMBus rings' round trip and request rate by batch, memory read bandwidth from DRAM and\n"
		"from buffers of the verify sizes read again and again, CRC32C), liblowlat against the\n"
		"host emulator (polled and interrupt-mode echo, the first 1000 echoes of a fresh attach,\n"
		"request rate by batch, zero-copy verify bandwidth), liblowlat's hvsock transport\n"
		"against winapi-hostd (AF_UNIX standing in for the Hyper-V socket), liblowlat through\n"
		"winapi-pmd --backend inline (its worker, with the emulator's host in it, on the host\n"
		"CPU; WINAPI_BIN_DIR's, else the one next to this program), and the socket+JSON\n"
		"baseline doing the same work. Prints a table with ratios; progress goes to stderr.\n"
		"\n"
		"  -l, --lcores A,B       the two CPUs: A runs the guest, B the host (default: the first\n"
		"                         two allowed CPUs, on one NUMA node when possible)\n"
		"  -q, --quick            a tenth of the samples and time (a smoke run; 100,000 polled\n"
		"                         samples instead of 1,000,000; a 32 MiB file, not 256 MiB)\n"
		"  -r, --rounds N         cut every measurement in N slices, taken in turn (default 5):\n"
		"                         noise from neighbours then weighs on every figure alike\n"
		"  -j, --json FILE        write every figure as JSON\n"
		"  -p, --plot FILE.png    draw the latency distributions and the throughputs (gnuplot)\n"
		"  -e, --emulator PATH    winapi-host-sim to run (default: $WINAPI_BIN_DIR/winapi-host-sim,\n"
		"                         else the one next to this program)\n"
		"  -H, --hostd PATH       winapi-hostd to run for the hvsock transport (default: as for\n"
		"                         --emulator)\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit status: 0 when every measurement ran and checked out, 1 otherwise, 2 for bad options.\n");
}

/* ---- CPUs ---- */

static int parse_lcores(const char *text, struct bench_options *options)
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
static int choose_cpus(struct bench_options *options)
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

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "lcores", required_argument, NULL, 'l' },
		{ "quick", no_argument, NULL, 'q' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, 'p' },
		{ "emulator", required_argument, NULL, 'e' },
		{ "hostd", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_options options = { .guest_cpu = -1, .host_cpu = -1, .rounds = 5 };
	struct bench_target targets[BENCH_TARGETS];
	struct bench_results *results;
	char model[128], machine[192];
	int option, rc;
	char *end;

	while ((option = getopt_long(argc, argv, "l:qr:j:p:e:H:h", long_options, NULL)) != -1) {
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
		case 'r':
			errno = 0;
			options.rounds = (unsigned int)strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || options.rounds < 1 || options.rounds > 100) {
				fprintf(stderr, "winapi-bench: --rounds wants 1 to 100 (got '%s')\n", optarg);
				return 2;
			}
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
		case 'H':
			options.hostd_path = optarg;
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
	options.seconds = options.quick ? 0.25 : 2.0;
	options.file_size = options.quick ? 32u << 20 : 256u << 20;

	results = malloc(sizeof(*results));
	if (results == NULL)
		return 1;
	bench_results_init(results);
	/* A child that dies must not take this process with it through a write to its socket. */
	signal(SIGPIPE, SIG_IGN);
	clock_calibrate();
	cpu_model(model, sizeof(model));
	snprintf(machine, sizeof(machine), "%s, NUMA node %d", model, numa_node(options.guest_cpu));

	rc = bench_measure(&options, results);
	if (rc != 0) {
		free(results);
		return 1;
	}
	bench_evaluate_targets(results, targets);
	bench_print(&options, results, machine, targets);
	if (options.json_path != NULL && bench_write_json(options.json_path, &options, results, machine, targets) != 0)
		rc = -EIO;
	if (options.plot_path != NULL && bench_write_plot(options.plot_path, results) != 0)
		rc = -EIO;
	if (rc == 0 && (options.json_path != NULL || options.plot_path != NULL))
		bench_progress("wrote%s%s%s%s", options.json_path ? " " : "", options.json_path ? options.json_path : "",
			       options.plot_path ? " " : "", options.plot_path ? options.plot_path : "");
	free(results);
	return rc == 0 ? 0 : 1;
}
