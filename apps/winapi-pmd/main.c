/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-pmd: owns the winapi VMBus device and serves the winapi calls of every process on
 * the machine, from one pinned worker per channel. See pmd.h for the threads and
 * docs/winapi-pmd.8 for the user's view.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <numa.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmbus/memory.h>
#include <vmbus/uio.h>
#include <winapi/log.h>
#include <winapi_internal/pmd.h>
#include <winapi/protocol.h>
#include <winapi_internal/telemetry.h>

#include "pmd.h"

#define PMD_VERSION "winapi-pmd 1.0"
#define PMD_DEFAULT_POOL_MIB 64u
#define PMD_EXIT_HOST_GONE 3
#define PMD_DEFAULT_MAX_CLIENTS 64u
/* Ring of each client's private channel, per direction: PMD_CLIENT_DEPTH largest answers fit. */
#define PMD_CLIENT_RING_SIZE (2u << 20)
#define PMD_ATTACH_TIMEOUT_MS 30000

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: winapi-pmd [options]\n"
		"       winapi-pmd --stats [--json] [--file-prefix NAME]\n"
		"\n"
		"Owns the winapi VMBus device and serves the winapi calls of every process that links\n"
		"liblowlat with WINAPI_TRANSPORT=pmd: one worker per channel, pinned to its lcore,\n"
		"batches the requests of all clients. Stop it with SIGTERM: what is in flight is answered.\n"
		"\n"
		"Cores and device:\n"
		"  -l, --lcores LIST      CPUs of the workers, one per channel in order: 2,3 or 2-3\n"
		"                         (default: one unpinned worker per channel)\n"
		"  -c, --class GUID       device class (default %s)\n"
		"  -i, --instance GUID    one device of that class (default: the first)\n"
		"      --backend uio|sim|inline  uio: the device bound to uio_hv_generic\n"
		"                         (scripts/vmbus-bind); sim: the host emulator winapi-host-sim\n"
		"                         (default: uio when a winapi device is bound, else sim);\n"
		"                         inline: the emulator's host inside the daemon, run by each\n"
		"                         worker between its passes (benchmarks on two cores)\n"
		"      --sim-socket PATH  the emulator's socket (default: as winapi-host-sim)\n"
		"\n"
		"Instance and clients:\n"
		"      --file-prefix NAME instance name (default %s): sockets in\n"
		"                         <rundir>/dpdk/NAME/ (rundir /var/run for root, else\n"
		"                         $XDG_RUNTIME_DIR or /tmp), as DPDK lays them out\n"
		"      --socket PATH      where clients attach (default <rundir>/dpdk/NAME/%s)\n"
		"      --group NAME       group owning the sockets, which are mode 0660 (default: ours)\n"
		"      --policy FILE      which client may call which API: lines of\n"
		"                         'allow|deny SUBJECT API' (see winapi-pmd(8)); default: every\n"
		"                         API to whoever may attach\n"
		"      --pool-size MIB    each client's zero-copy buffer pool (default %u)\n"
		"      --max-clients N    clients attached at once (default %u)\n"
		"      --max-clients-per-uid N  clients of one user, and as many pools' memory\n"
		"                         (default a quarter of --max-clients)\n"
		"      --max-quarantine-per-uid MIB  pool memory of one user (root too) kept out of\n"
		"                         use till the host answers; then its clients are refused\n"
		"                         (default 4 pools)\n"
		"      --spin-ns N        how long an idle worker polls before it sleeps (default %u;\n"
		"                         'max': never sleeps, for dedicated cores)\n"
		"\n"
		"Running:\n"
		"  -d, --daemon           detach from the terminal (logs stay on stderr: redirect it)\n"
		"      --log-level LEVEL  err, warning, notice, info, debug, or 3-7 (default notice)\n"
		"      --stats            print the counters of the running instance and exit\n"
		"      --json             with --stats: one JSON document\n"
		"  -h, --help             this text\n"
		"\n"
		"Telemetry: <rundir>/dpdk/NAME/%s speaks DPDK telemetry v2\n"
		"(dpdk-telemetry.py -f NAME): /winapi/stats, /winapi/workers, /winapi/clients,\n"
		"/winapi/client,ID.\n",
		WINAPI_DEVICE_CLASS, WINAPI_PMD_DEFAULT_PREFIX, WINAPI_PMD_CLIENT_SOCKET, PMD_DEFAULT_POOL_MIB,
		PMD_DEFAULT_MAX_CLIENTS, VMBUS_CHAN_DEFAULT_SPIN_NS, WINAPI_PMD_TELEMETRY_SOCKET);
}

static int parse_unsigned(const char *text, unsigned long long max, unsigned long long *value)
{
	char *end;

	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	*value = strtoull(text, &end, 10);
	return errno != 0 || *end != '\0' || *value > max ? -EINVAL : 0;
}

/* The lcore list as CPUs in ascending order (libnuma's cpustring grammar: 1,3,5-7). */
static int parse_lcores(const char *text, int *cpus, unsigned int max, unsigned int *count)
{
	struct bitmask *mask;
	unsigned int cpu;

	*count = 0;
	/* The grammar of --help only: libnuma would accept more ("all", "!2") and warn on stderr. */
	if (text[0] == '\0' || strspn(text, "0123456789,-") != strlen(text))
		return -EINVAL;
	mask = numa_parse_cpustring_all(text);
	if (mask == NULL)
		return -EINVAL;
	for (cpu = 0; cpu < mask->size && *count < max; cpu++)
		if (numa_bitmask_isbitset(mask, cpu))
			cpus[(*count)++] = (int)cpu;
	numa_bitmask_free(mask);
	return *count != 0 ? 0 : -EINVAL;
}

enum {
	OPTION_BACKEND = 256,
	OPTION_SIM_SOCKET,
	OPTION_FILE_PREFIX,
	OPTION_SOCKET,
	OPTION_GROUP,
	OPTION_POLICY,
	OPTION_POOL_SIZE,
	OPTION_MAX_CLIENTS,
	OPTION_MAX_CLIENTS_PER_UID,
	OPTION_MAX_QUARANTINE_PER_UID,
	OPTION_SPIN_NS,
	OPTION_LOG_LEVEL,
	OPTION_STATS,
	OPTION_JSON,
};

/* 0; 1 after --help; negative errno for bad options (said on stderr). */
static int parse_options(int argc, char **argv, struct pmd_options *options)
{
	static const struct option long_options[] = {
		{ "lcores", required_argument, NULL, 'l' },
		{ "class", required_argument, NULL, 'c' },
		{ "instance", required_argument, NULL, 'i' },
		{ "backend", required_argument, NULL, OPTION_BACKEND },
		{ "sim-socket", required_argument, NULL, OPTION_SIM_SOCKET },
		{ "file-prefix", required_argument, NULL, OPTION_FILE_PREFIX },
		{ "socket", required_argument, NULL, OPTION_SOCKET },
		{ "group", required_argument, NULL, OPTION_GROUP },
		{ "policy", required_argument, NULL, OPTION_POLICY },
		{ "pool-size", required_argument, NULL, OPTION_POOL_SIZE },
		{ "max-clients", required_argument, NULL, OPTION_MAX_CLIENTS },
		{ "max-clients-per-uid", required_argument, NULL, OPTION_MAX_CLIENTS_PER_UID },
		{ "max-quarantine-per-uid", required_argument, NULL, OPTION_MAX_QUARANTINE_PER_UID },
		{ "spin-ns", required_argument, NULL, OPTION_SPIN_NS },
		{ "daemon", no_argument, NULL, 'd' },
		{ "log-level", required_argument, NULL, OPTION_LOG_LEVEL },
		{ "stats", no_argument, NULL, OPTION_STATS },
		{ "json", no_argument, NULL, OPTION_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long value;
	int option, level;

	*options = (struct pmd_options){
		.class_id = WINAPI_DEVICE_CLASS,
		.file_prefix = WINAPI_PMD_DEFAULT_PREFIX,
		.pool_mib = PMD_DEFAULT_POOL_MIB,
		.max_clients = PMD_DEFAULT_MAX_CLIENTS,
		.spin_ns = VMBUS_CHAN_DEFAULT_SPIN_NS,
	};
	while ((option = getopt_long(argc, argv, "l:c:i:dh", long_options, NULL)) != -1) {
		switch (option) {
		case 'l':
			options->lcores = optarg;
			break;
		case 'c':
			options->class_id = optarg;
			break;
		case 'i':
			options->instance_id = optarg;
			break;
		case OPTION_BACKEND:
			if (strcmp(optarg, "uio") != 0 && strcmp(optarg, "sim") != 0 && strcmp(optarg, "inline") != 0) {
				fprintf(stderr, "winapi-pmd: --backend wants uio, sim or inline (got '%s')\n", optarg);
				return -EINVAL;
			}
			options->backend = optarg;
			break;
		case OPTION_SIM_SOCKET:
			options->sim_socket = optarg;
			break;
		case OPTION_FILE_PREFIX:
			options->file_prefix = optarg;
			break;
		case OPTION_SOCKET:
			options->socket_path = optarg;
			break;
		case OPTION_GROUP:
			options->group = optarg;
			break;
		case OPTION_POLICY:
			options->policy = optarg;
			break;
		case OPTION_POOL_SIZE:
			/* Big enough for one 64 MiB buffer; the emulator's guest RAM bounds the total. */
			if (parse_unsigned(optarg, 4096, &value) != 0 || value == 0) {
				fprintf(stderr, "winapi-pmd: --pool-size wants MiB, 1 to 4096 (got '%s')\n", optarg);
				return -EINVAL;
			}
			options->pool_mib = (unsigned int)value;
			break;
		case OPTION_MAX_CLIENTS:
			if (parse_unsigned(optarg, 4096, &value) != 0 || value == 0) {
				fprintf(stderr, "winapi-pmd: --max-clients wants 1 to 4096 (got '%s')\n", optarg);
				return -EINVAL;
			}
			options->max_clients = (unsigned int)value;
			break;
		case OPTION_MAX_CLIENTS_PER_UID:
			if (parse_unsigned(optarg, 4096, &value) != 0 || value == 0) {
				fprintf(stderr, "winapi-pmd: --max-clients-per-uid wants 1 to 4096 (got '%s')\n", optarg);
				return -EINVAL;
			}
			options->max_clients_per_uid = (unsigned int)value;
			break;
		case OPTION_MAX_QUARANTINE_PER_UID:
			if (parse_unsigned(optarg, 1u << 20, &value) != 0 || value == 0) {
				fprintf(stderr, "winapi-pmd: --max-quarantine-per-uid wants MiB, 1 to 1048576 "
						"(got '%s')\n", optarg);
				return -EINVAL;
			}
			options->max_quarantine_mib = (unsigned int)value;
			break;
		case OPTION_SPIN_NS:
			if (strcmp(optarg, "max") == 0)
				options->spin_ns = UINT32_MAX;
			else if (parse_unsigned(optarg, UINT32_MAX - 1, &value) == 0)
				options->spin_ns = (uint32_t)value;
			else {
				fprintf(stderr, "winapi-pmd: --spin-ns wants nanoseconds or 'max' (got '%s')\n", optarg);
				return -EINVAL;
			}
			break;
		case 'd':
			options->daemonize = true;
			break;
		case OPTION_LOG_LEVEL:
			level = winapi_log_parse_level(optarg);
			if (level < 0) {
				fprintf(stderr, "winapi-pmd: --log-level wants err, warning, notice, info, debug or "
						"3-7 (got '%s')\n", optarg);
				return -EINVAL;
			}
			winapi_log_set_level((enum winapi_log_level)level);
			break;
		case OPTION_STATS:
			options->stats = true;
			break;
		case OPTION_JSON:
			options->json = true;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	/* One user may not take every slot, nor every locked byte, from the others. */
	if (options->max_clients_per_uid == 0)
		options->max_clients_per_uid = options->max_clients > 4 ? options->max_clients / 4 : 1;
	/* Nor every byte of DMA memory by requests the host does not answer (a stalled host). */
	if (options->max_quarantine_mib == 0)
		options->max_quarantine_mib = 4 * options->pool_mib;
	if (optind != argc) {
		fprintf(stderr, "winapi-pmd: unexpected argument '%s' (see --help)\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static int open_device(struct pmd *pmd, unsigned int wanted_channels)
{
	const struct pmd_options *options = &pmd->options;
	struct vmbus_uio_open_params params = { 0 };
	struct vmbus_guid instance;
	char message[512] = "";
	bool automatic = options->backend == NULL;
	int rc, waited_ms;

	if (vmbus_guid_parse(options->class_id, &params.class_id) != 0) {
		fprintf(stderr, "winapi-pmd: --class: '%s' is not a GUID\n", options->class_id);
		return -EINVAL;
	}
	if (options->instance_id != NULL) {
		if (vmbus_guid_parse(options->instance_id, &instance) != 0) {
			fprintf(stderr, "winapi-pmd: --instance: '%s' is not a GUID\n", options->instance_id);
			return -EINVAL;
		}
		params.instance_id = &instance;
	}
	if (!automatic && strcmp(options->backend, "inline") == 0)
		return pmd_inline_open(pmd, &params.class_id, params.instance_id, wanted_channels);
	if (automatic || strcmp(options->backend, "uio") == 0) {
		params.error_message = message;
		params.error_size = sizeof(message);
		rc = vmbus_uio_open(&params, &pmd->device);
		if (rc == 0) {
			/* Subchannels exist only once the host offered them; serve those that come. */
			if (wanted_channels > 1 &&
			    vmbus_uio_open_subchannels(pmd->device, wanted_channels - 1, -1) != 0)
				winapi_log(WINAPI_LOG_WARNING, "pmd", "the host offered no subchannels: "
					   "serving the primary channel only");
			return 0;
		}
		if (!automatic || (rc != -ENOENT && rc != -ENODEV)) {
			winapi_log(WINAPI_LOG_ERR, "pmd", "cannot use the winapi VMBus device: %s",
				   message[0] ? message : strerror(-rc));
			return rc;
		}
	}
	/* A daemon restarted at once finds the emulator still serving its predecessor: wait. */
	for (waited_ms = 0;; waited_ms += 50) {
		rc = vmbus_sim_connect(options->sim_socket, PMD_ATTACH_TIMEOUT_MS, &pmd->device);
		if (rc != -EBUSY || waited_ms >= PMD_ATTACH_TIMEOUT_MS)
			break;
		usleep(50000);
	}
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "pmd", "cannot attach to the host emulator: %s%s", strerror(-rc),
			   rc == -ENOENT || rc == -ECONNREFUSED ? " (is winapi-host-sim running? see --sim-socket)" : "");
		return rc;
	}
	if (memcmp(vmbus_device_class_id(pmd->device), &params.class_id, sizeof(params.class_id)) != 0 ||
	    (params.instance_id != NULL &&
	     memcmp(vmbus_device_instance_id(pmd->device), params.instance_id, sizeof(instance)) != 0)) {
		winapi_log(WINAPI_LOG_ERR, "pmd", "the emulator offers another device than --class/--instance name");
		vmbus_device_close(pmd->device);
		return -ENODEV;
	}
	return 0;
}

/* --policy: read and checked before anything starts, so a bad file is a bad option. */
static int load_policy(struct pmd *pmd)
{
	char error[512];
	int rc;

	if (pmd->options.policy == NULL)
		return 0;
	rc = pmd_policy_load(pmd->options.policy, &pmd->policy, error, sizeof(error));
	if (rc != 0) {
		fprintf(stderr, "winapi-pmd: --policy: %s\n", error);
		return rc;
	}
	winapi_log(WINAPI_LOG_NOTICE, "pmd", "policy %s: %u rule(s); a call no rule allows is denied",
		   pmd->options.policy, pmd_policy_rule_count(pmd->policy));
	return 0;
}

static int driver_call(void *driver, struct winapi_call *call)
{
	return winapi_driver_call(driver, call);
}

/* The device and, with --backend inline, its host side. */
static void close_device(struct pmd *pmd)
{
	vmbus_device_close(pmd->device);
	if (pmd->inline_host != NULL)
		vmbus_device_close(pmd->inline_host);
}

/* A worker, and with --backend inline the host it runs. */
static int init_worker(struct pmd *pmd, unsigned int index, int cpu)
{
	int rc = pmd_worker_init(pmd, index, cpu);

	if (rc != 0 || pmd->inline_host == NULL)
		return rc;
	rc = pmd_inline_worker_init(&pmd->workers[index]);
	if (rc != 0)
		pmd_worker_fini(&pmd->workers[index]);
	return rc;
}

static void fini_worker(struct pmd *pmd, unsigned int index)
{
	pmd_worker_fini(&pmd->workers[index]);
	if (pmd->inline_host != NULL)
		pmd_inline_worker_fini(&pmd->workers[index]);
}

/*
 * The host's API table, read once on the first channel before any client attaches: the
 * workers check each request against it. A host that registers APIs later is served them
 * after a restart of the daemon.
 */
static int read_api_table(struct pmd *pmd)
{
	/* No worker runs the inline host yet: the call runs it. */
	int rc = pmd->inline_host != NULL ? winapi_api_table_fetch(&pmd->apis, pmd_inline_call, &pmd->workers[0]) :
					    winapi_api_table_fetch(&pmd->apis, driver_call, pmd->workers[0].driver);

	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "pmd", "cannot read the host's API table: %s", winapi_strerror(rc));
		return rc;
	}
	if (!pmd->apis.listed)
		winapi_log(WINAPI_LOG_NOTICE, "pmd", "the host speaks protocol 1.0 (no API list): serving the "
			   "seed APIs");
	else
		winapi_log(WINAPI_LOG_NOTICE, "pmd", "the host serves %u API(s), protocol %u.%u to %u.%u",
			   pmd->apis.count, pmd->apis.protocol_oldest >> 8, pmd->apis.protocol_oldest & 0xffu,
			   pmd->apis.protocol_newest >> 8, pmd->apis.protocol_newest & 0xffu);
	return 0;
}

/*
 * Create the runtime directory @path, or check the one that is there (another user may have
 * made it first under /tmp, or planted a symbolic link): see winapi_pmd_dir_open(). Only the
 * instance's own (@own) gets @mode and @group set, through the descriptor that was checked;
 * <rundir>/dpdk may be DPDK's, and stays as it is.
 */
static int prepare_directory(const char *path, mode_t mode, bool own, gid_t group)
{
	const char *why = NULL;
	int fd, rc = 0;

	fd = winapi_pmd_dir_open(path, mode, &why);
	if (fd < 0) {
		if (why != NULL)
			fprintf(stderr, "winapi-pmd: refusing the runtime directory %s: it %s (remove it, or "
				"choose another --file-prefix)\n", path, why);
		else
			fprintf(stderr, "winapi-pmd: cannot create %s: %s\n", path, strerror(-fd));
		return fd;
	}
	if (own && (fchmod(fd, mode) != 0 || (group != (gid_t)-1 && fchown(fd, (uid_t)-1, group) != 0))) {
		rc = -errno;
		fprintf(stderr, "winapi-pmd: cannot set the owner and mode of %s: %s\n", path, strerror(errno));
	}
	close(fd);
	return rc;
}

/* The instance directory, sockets and their permissions. */
static int prepare_paths(struct pmd *pmd)
{
	const struct pmd_options *options = &pmd->options;
	char directory[108];
	struct group *group;
	int rc;

	pmd->group = (gid_t)-1;
	if (options->group != NULL) {
		group = getgrnam(options->group);
		if (group == NULL) {
			fprintf(stderr, "winapi-pmd: --group: no group '%s'\n", options->group);
			return -EINVAL;
		}
		pmd->group = group->gr_gid;
	}
	rc = winapi_pmd_runtime_dir(options->file_prefix, false, directory, sizeof(directory));
	if (rc == 0)
		rc = winapi_pmd_socket_path(options->file_prefix, false, WINAPI_PMD_TELEMETRY_SOCKET,
					    pmd->telemetry_path, sizeof(pmd->telemetry_path));
	if (rc == 0 && options->socket_path == NULL)
		rc = winapi_pmd_socket_path(options->file_prefix, false, WINAPI_PMD_CLIENT_SOCKET, pmd->socket_path,
					    sizeof(pmd->socket_path));
	else if (rc == 0)
		rc = vmbus_sim_socket_path(options->socket_path, pmd->socket_path, sizeof(pmd->socket_path));
	if (rc != 0) {
		fprintf(stderr, "winapi-pmd: --file-prefix/--socket: %s\n",
			rc == -EINVAL ? "a prefix is a plain name (no '/', not starting with '.')" : "path too long");
		return rc;
	}
	if (options->stats)
		return 0;
	/* <rundir>/dpdk, then the instance's own directory, which the group may enter. */
	memcpy(pmd->runtime_dir, directory, sizeof(directory));
	*strrchr(directory, '/') = '\0';
	rc = prepare_directory(directory, 0755, false, (gid_t)-1);
	if (rc == 0)
		rc = prepare_directory(pmd->runtime_dir, 0750, true, pmd->group);
	return rc;
}

static int start_listener(struct pmd *pmd)
{
	struct vmbus_sim_host_config config = {
		.socket_path = pmd->socket_path,
		.class_id = *vmbus_device_class_id(pmd->device),
		.instance_id = *vmbus_device_instance_id(pmd->device),
		.ring_size = PMD_CLIENT_RING_SIZE,
	};
	mode_t umask_before;
	int rc;

	/*
	 * The socket is bound and listening before this function can chmod it: under a umask
	 * of 0177 it is born 0600, never more open than it will be. umask() is the process's,
	 * but no other thread of ours runs yet to create files meanwhile.
	 */
	umask_before = umask(0177);
	rc = vmbus_sim_host_listen(&config, &pmd->listener);
	umask(umask_before);
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "pmd", "cannot listen at %s: %s%s", pmd->socket_path, strerror(-rc),
			   rc == -EADDRINUSE ? " (another winapi-pmd runs with this --file-prefix)" : "");
		return rc;
	}
	/* Clients are the daemon's user and the members of --group; nobody else. The group
	 * first, so that 0660 never opens it to the daemon's own group. */
	if ((pmd->group != (gid_t)-1 && chown(pmd->socket_path, (uid_t)-1, pmd->group) != 0) ||
	    chmod(pmd->socket_path, 0660) != 0) {
		rc = -errno;
		winapi_log(WINAPI_LOG_ERR, "pmd", "cannot set the permissions of %s: %s", pmd->socket_path,
			   strerror(errno));
		vmbus_sim_host_close(pmd->listener);
		return rc;
	}
	return 0;
}

/* Memory the workers and the client pools use should sit on the device's node. */
static void prefer_device_node(struct pmd *pmd, const int *cpus, unsigned int cpu_count)
{
	int node = vmbus_device_numa_node(pmd->device);
	unsigned int i;

	if (node < 0 || numa_available() < 0)
		return;
	numa_set_preferred(node);
	for (i = 0; i < cpu_count; i++)
		if (numa_node_of_cpu(cpus[i]) != node)
			winapi_log(WINAPI_LOG_WARNING, "pmd", "lcore %d is on NUMA node %d, the device on node %d",
				   cpus[i], numa_node_of_cpu(cpus[i]), node);
}

int main(int argc, char **argv)
{
	struct pmd_telemetry *telemetry = NULL;
	int cpus[PMD_MAX_WORKERS];
	unsigned int cpu_count = 0, channels, started, i;
	struct pmd *pmd;
	sigset_t signals;
	int rc, start_rc = 0;

	pmd = calloc(1, sizeof(*pmd));
	if (pmd == NULL)
		return 1;
	rc = parse_options(argc, argv, &pmd->options);
	if (rc == 0 && !pmd->options.stats)
		rc = load_policy(pmd);
	if (rc == 0)
		rc = prepare_paths(pmd);
	if (rc != 0) {
		pmd_policy_free(pmd->policy);
		free(pmd);
		return rc == 1 ? 0 : 2; /* 1: --help */
	}
	if (pmd->options.stats) {
		rc = pmd_stats_print(pmd->telemetry_path, pmd->options.json);
		if (rc != 0)
			fprintf(stderr, "winapi-pmd: cannot read the counters at %s: %s%s\n", pmd->telemetry_path,
				strerror(-rc), rc == -ENOENT || rc == -ECONNREFUSED ?
						       " (is winapi-pmd running with this --file-prefix?)" : "");
		free(pmd);
		return rc == 0 ? 0 : 1;
	}
	if (pmd->options.lcores != NULL &&
	    parse_lcores(pmd->options.lcores, cpus, PMD_MAX_WORKERS, &cpu_count) != 0) {
		fprintf(stderr, "winapi-pmd: --lcores wants CPUs as 2,3 or 2-3 (got '%s')\n", pmd->options.lcores);
		pmd_policy_free(pmd->policy);
		free(pmd);
		return 2;
	}

	/* Signals go to the control thread's signalfd; every thread inherits the mask. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = open_device(pmd, cpu_count != 0 ? cpu_count : 1);
	if (rc != 0)
		goto err_free;
	channels = vmbus_device_channel_count(pmd->device);
	if (cpu_count > channels) {
		winapi_log(WINAPI_LOG_ERR, "pmd", "%u lcores but the device has %u channel(s): one worker per channel",
			   cpu_count, channels);
		rc = -EINVAL;
		goto err_close_device;
	}
	pmd->worker_count = cpu_count != 0 ? cpu_count : channels;
	pmd->owner = geteuid();
	pmd->guest_ram_shared = strcmp(vmbus_device_backend_name(pmd->device), "sim") == 0;
	if (pmd->worker_count < channels)
		winapi_log(WINAPI_LOG_NOTICE, "pmd", "serving %u of the device's %u channels (--lcores)",
			   pmd->worker_count, channels);
	prefer_device_node(pmd, cpus, cpu_count);

	CDS_INIT_LIST_HEAD(&pmd->clients);
	pthread_mutex_init(&pmd->table_lock, NULL);
	pmd->control_kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (pmd->control_kick_fd < 0) {
		rc = -errno;
		goto err_close_device;
	}
	for (i = 0; i < pmd->worker_count; i++) {
		rc = init_worker(pmd, i, cpu_count != 0 ? cpus[i] : -1);
		if (rc != 0) {
			winapi_log(WINAPI_LOG_ERR, "pmd", "cannot open channel %u: %s", i, strerror(-rc));
			goto err_fini_workers;
		}
	}
	rc = read_api_table(pmd);
	if (rc != 0)
		goto err_fini_workers;
	rc = start_listener(pmd);
	if (rc != 0)
		goto err_free_apis;
	rc = pmd_telemetry_create(pmd->telemetry_path, PMD_VERSION, &telemetry);
	if (rc != 0)
		goto err_close_listener;
	rc = pmd_stats_register(pmd, telemetry);
	if (rc != 0)
		goto err_destroy_telemetry;
	if (pmd->options.daemonize && daemon(0, 1) != 0) {
		rc = -errno;
		goto err_destroy_telemetry;
	}
	/* After daemon(): its fork would not carry the threads along. */
	rc = pmd_telemetry_start(telemetry, 0660, pmd->group);
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "pmd", "cannot serve telemetry at %s: %s", pmd->telemetry_path,
			   strerror(-rc));
		goto err_destroy_telemetry;
	}
	pmd->started_ns = winapi_clock_now_ns();
	for (started = 0; started < pmd->worker_count; started++) {
		start_rc = pmd_worker_start(&pmd->workers[started]);
		if (start_rc != 0) {
			winapi_log(WINAPI_LOG_ERR, "pmd", "cannot start worker %u: %s", started, strerror(-start_rc));
			__atomic_store_n(&pmd->stopping, true, __ATOMIC_RELEASE);
			break;
		}
	}
	if (start_rc == 0)
		winapi_log(WINAPI_LOG_NOTICE, "pmd", "serving %s device, %u worker(s), clients at %s, telemetry at %s",
			   vmbus_device_backend_name(pmd->device), pmd->worker_count, pmd->socket_path,
			   pmd->telemetry_path);
	/* Runs the daemon until SIGTERM (or the device goes); closes the listener and joins workers. */
	pmd->workers_started = started;
	rc = pmd_control_run(pmd);
	if (rc == 0)
		rc = start_rc;
	pmd_telemetry_destroy(telemetry);
	rmdir(pmd->runtime_dir); /* when nothing else lives there */
	for (i = 0; i < pmd->worker_count; i++)
		fini_worker(pmd, i);
	pmd_control_fini(pmd); /* after the queues: their holds name quarantined clients */
	close(pmd->control_kick_fd);
	close_device(pmd);
	winapi_api_table_free(&pmd->apis);
	pmd_policy_free(pmd->policy);
	free(pmd->users);
	if (rc != 0)
		winapi_log(WINAPI_LOG_ERR, "pmd", "stopped: %s", winapi_strerror(rc));
	else
		winapi_log(WINAPI_LOG_NOTICE, "pmd", "stopped");
	free(pmd);
	/* Its own status for a host that went away (a rescind): a unit bound to the device stops
	 * cleanly then (winapi-pmd.service: SuccessExitStatus=3), where 1 would mark it failed. */
	if (rc == -ENOTCONN)
		return PMD_EXIT_HOST_GONE;
	return rc == 0 ? 0 : 1;

err_destroy_telemetry:
	pmd_telemetry_destroy(telemetry);
err_close_listener:
	vmbus_sim_host_close(pmd->listener);
err_free_apis:
	winapi_api_table_free(&pmd->apis);
err_fini_workers:
	while (i-- > 0)
		fini_worker(pmd, i);
	close(pmd->control_kick_fd);
err_close_device:
	close_device(pmd);
err_free:
	pmd_policy_free(pmd->policy);
	free(pmd);
	return 1;
}
