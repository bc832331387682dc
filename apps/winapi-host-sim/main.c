/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-host-sim: plays the Windows host on shared memory. Offers one VMBus device of the
 * winapi class to one guest process at a time and serves its requests with drivers/host.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <vmbus/backend.h>
#include <vmbus/memory.h>
#include <vmbus/sim.h>
#include <winapi_internal/host.h>
#include <winapi_internal/host_api.h>
#include <winapi/log.h>
#include <winapi/protocol.h>

static bool stop_requested;

/*
 * The guest being served. The main thread owns the device (it creates and closes it); the
 * session thread only serves it, and clears `active` when it is done.
 */
struct session {
	pthread_t thread;
	bool active;   /* the session thread is serving (read and written with __atomic) */
	bool joinable; /* a session thread exists and its device is open */
	struct vmbus_device *device;
	unsigned int number;
	bool stop;     /* the session's channels stop serving (read and written with __atomic) */
	uint64_t delay_ns; /* --delay-us */
	struct winapi_host_faults faults;
	bool interrupt_mode;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: winapi-host-sim [options]\n"
		"Plays the Windows host of the winapi remoting device on shared memory.\n"
		"\n"
		"  -s, --socket PATH      listen here (default: $WINAPI_SIM_SOCKET, else\n"
		"                         $XDG_RUNTIME_DIR/winapi-host-sim.sock, else\n"
		"                         /tmp/winapi-host-sim.<uid>.sock)\n"
		"  -p, --profile NAME     what the guest's kernel gives the device (default linux-6.12):\n"
		"                         linux-6.1   monitored channel, 2 MiB rings, GPADL regions\n"
		"                         linux-6.12  non-monitored, 2 MiB rings, GPADL regions\n"
		"                         mainline    non-monitored, 68 KiB rings, no GPADL regions\n"
		"  -r, --ring-size BYTES  override the primary's bytes per ring direction, header page\n"
		"                         included, a page multiple; K, M and G suffixes\n"
		"  -c, --subchannels N    subchannels offered with the primary, each served like it\n"
		"                         (0..15, default 0)\n"
		"  -g, --guest-ram BYTES  shared guest RAM for GPA-direct buffers (default 1G; 0: none)\n"
		"  -d, --delay-us US      answer every request US microseconds late (a slow host)\n"
		"      --interrupt-mode   never poll: sleep between requests, woken by the guest\n"
		"      --export NAME=DIR[:ro|rw]  serve DIR to host.file.* as NAME, read-only unless :rw\n"
		"                         (repeatable; nothing exported, nothing reachable)\n"
		"      --drop-request N   never answer the Nth request of each guest (a fault; faults\n"
		"                         count requests per channel, and may be combined)\n"
		"      --delay-request N:MS  answer the Nth request MS milliseconds late (a fault)\n"
		"      --duplicate-request N  answer the Nth request twice (a fault)\n"
		"      --corrupt-request N:KIND  damage the answer to the Nth request (a fault); KIND:\n"
		"                         checksum    a header byte flipped after sealing\n"
		"                         request-id  a sound message naming another request\n"
		"                         garbage     pseudo-random bytes instead of the message\n"
		"                         truncated   only the first half of the message\n"
		"                         type        sent as a DATA_INBAND packet, not a COMPLETION\n"
		"      --unknown-request N  surround the answer to the Nth request with answers to ids\n"
		"                         the guest never sent (a fault)\n"
		"      --stall-request N:MS  after answering the Nth request, read nothing from the\n"
		"                         guest for MS milliseconds: its ring fills (a fault)\n"
		"      --rescind-request N  take the device away from the guest when its Nth request\n"
		"                         arrives, unanswered (a fault); the next guest gets it again\n"
		"  -i, --instance GUID    device instance GUID (default: random)\n"
		"  -1, --once             exit after the first guest leaves\n"
		"  -v, --verbose          log every guest and request error (twice: debug)\n"
		"  -h, --help             this text\n"
		"\n"
		"Stops on SIGINT or SIGTERM and removes its socket.\n");
}

static void on_stop_signal(int signal_number)
{
	(void)signal_number;
	__atomic_store_n(&stop_requested, true, __ATOMIC_RELAXED);
}

static int parse_size(const char *text, size_t *size)
{
	unsigned long long value;
	char *end;

	errno = 0;
	value = strtoull(text, &end, 0);
	if (errno != 0 || end == text)
		return -EINVAL;
	if (*end == 'K' || *end == 'k') {
		value <<= 10;
		end++;
	} else if (*end == 'M' || *end == 'm') {
		value <<= 20;
		end++;
	} else if (*end == 'G' || *end == 'g') {
		value <<= 30;
		end++;
	}
	if (*end != '\0' || value > (64ull << 30))
		return -EINVAL;
	*size = (size_t)value;
	return 0;
}

static void random_guid(struct vmbus_guid *guid)
{
	if (getrandom(guid->bytes, sizeof(guid->bytes), 0) != (ssize_t)sizeof(guid->bytes))
		memset(guid->bytes, 0x5a, sizeof(guid->bytes));
	/* RFC 4122 version 4, in the Windows byte layout (Data3 is little-endian). */
	guid->bytes[7] = (uint8_t)((guid->bytes[7] & 0x0f) | 0x40);
	guid->bytes[8] = (uint8_t)((guid->bytes[8] & 0x3f) | 0x80);
}

static const char *fault_option_name(const struct option *options, int value)
{
	for (; options->name != NULL; options++)
		if (options->val == value)
			return options->name;
	return "?";
}

static int parse_corruption(const char *text, enum winapi_host_corruption *kind)
{
	static const struct {
		const char *name;
		enum winapi_host_corruption kind;
	} kinds[] = {
		{ "checksum", WINAPI_HOST_CORRUPT_CHECKSUM },
		{ "request-id", WINAPI_HOST_CORRUPT_REQUEST_ID },
		{ "garbage", WINAPI_HOST_CORRUPT_GARBAGE },
		{ "truncated", WINAPI_HOST_CORRUPT_TRUNCATED },
		{ "type", WINAPI_HOST_CORRUPT_PACKET_TYPE },
	};
	size_t i;

	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(text, kinds[i].name) == 0) {
			*kind = kinds[i].kind;
			return 0;
		}
	}
	return -EINVAL;
}

/* The primary and up to 15 subchannels (--subchannels). */
#define SESSION_MAX_CHANNELS 16

/* One channel's host, run by its own thread; all of them end when the guest leaves. */
struct channel_server {
	pthread_t thread;
	struct session *session;
	struct winapi_host *host;
	int rc;
};

static void *serve_channel(void *argument)
{
	struct channel_server *server = argument;

	server->rc = winapi_host_run(server->host, &server->session->stop);
	/* A rescind (or a failure) takes the whole device away: every channel stops. */
	if (server->rc != 0)
		__atomic_store_n(&server->session->stop, true, __ATOMIC_RELAXED);
	return NULL;
}

static void *serve_guest(void *argument)
{
	struct session *session = argument;
	struct winapi_host_memory memory;
	struct channel_server servers[SESSION_MAX_CHANNELS] = { 0 };
	unsigned int count = vmbus_device_channel_count(session->device), started = 0, i;
	struct winapi_host_stats stats, total = { 0 };
	bool rescinded = false;
	int rc = 0;

	if (count > SESSION_MAX_CHANNELS)
		count = SESSION_MAX_CHANNELS;
	winapi_host_sim_memory(session->device, &memory);
	for (i = 0; i < count && rc == 0; i++) {
		servers[i].session = session;
		rc = winapi_host_create(session->device, i, &memory, &servers[i].host);
		if (rc != 0) {
			winapi_log(WINAPI_LOG_ERR, "winapi-host-sim", "guest %u: cannot open channel %u: %s",
				   session->number, i, strerror(-rc));
			break;
		}
		winapi_host_set_delay(servers[i].host, session->delay_ns);
		winapi_host_set_faults(servers[i].host, &session->faults);
		winapi_host_set_interrupt_mode(servers[i].host, session->interrupt_mode);
	}
	/* Subchannels on threads of their own, the primary on this one. */
	for (i = 1; i < count && rc == 0; i++, started++) {
		rc = -pthread_create(&servers[i].thread, NULL, serve_channel, &servers[i]);
		if (rc != 0)
			winapi_log(WINAPI_LOG_ERR, "winapi-host-sim", "guest %u: no thread for channel %u: %s",
				   session->number, i, strerror(-rc));
	}
	if (rc == 0)
		serve_channel(&servers[0]);
	else if (started != 0)
		/* The subchannels that run would serve on until the guest leaves: stop them. */
		__atomic_store_n(&session->stop, true, __ATOMIC_RELAXED);
	for (i = 1; i <= started; i++)
		pthread_join(servers[i].thread, NULL);
	for (i = 0; i < count && servers[i].host != NULL; i++) {
		winapi_host_get_stats(servers[i].host, &stats);
		total.requests += stats.requests;
		total.bad_requests += stats.bad_requests;
		if (servers[i].rc == -ESHUTDOWN)
			rescinded = true;
		else if (servers[i].rc != 0)
			rc = servers[i].rc;
		winapi_host_destroy(servers[i].host);
	}
	winapi_log(WINAPI_LOG_INFO, "winapi-host-sim",
		   "guest %u left: %" PRIu64 " requests, %" PRIu64 " rejected, %llu signals, %u channel(s)%s",
		   session->number, total.requests, total.bad_requests,
		   vmbus_sim_host_signals_received(session->device), count,
		   rescinded ? " (device rescinded: a fault)" : rc != 0 ? " (a channel failed)" : "");
	__atomic_store_n(&session->active, false, __ATOMIC_RELEASE);
	return NULL;
}

/* Wait for the session thread and release its device; the guest sees its connection close. */
static void end_session(struct session *session)
{
	if (!session->joinable)
		return;
	pthread_join(session->thread, NULL);
	vmbus_device_close(session->device);
	session->device = NULL;
	session->joinable = false;
}

static int accept_guest(struct vmbus_sim_host *listener, struct session *session)
{
	int rc;

	/*
	 * One owner at a time, as with one uio device. A guest that has just left may still be
	 * in its session for a moment: then the newcomer waits for it, it is not refused.
	 */
	if (session->joinable && __atomic_load_n(&session->active, __ATOMIC_ACQUIRE) &&
	    vmbus_sim_host_guest_connected(session->device)) {
		rc = vmbus_sim_host_reject(listener, -EBUSY);
		if (rc == 0)
			winapi_log(WINAPI_LOG_INFO, "winapi-host-sim", "refused a second guest: device busy");
		return 0;
	}
	end_session(session);
	rc = vmbus_sim_host_accept(listener, &session->device);
	if (rc == -EAGAIN)
		return 0;
	if (rc != 0) {
		/* ECONNRESET: a client that only checked whether we listen (another emulator starting). */
		winapi_log(rc == -ECONNRESET ? WINAPI_LOG_DEBUG : WINAPI_LOG_WARNING, "winapi-host-sim",
			   "dropped a guest: %s", strerror(-rc));
		return 0;
	}
	session->number++;
	session->stop = __atomic_load_n(&stop_requested, __ATOMIC_RELAXED);
	winapi_log(WINAPI_LOG_INFO, "winapi-host-sim", "guest %u connected", session->number);
	__atomic_store_n(&session->active, true, __ATOMIC_RELEASE);
	rc = pthread_create(&session->thread, NULL, serve_guest, session);
	if (rc != 0) {
		vmbus_device_close(session->device);
		session->device = NULL;
		__atomic_store_n(&session->active, false, __ATOMIC_RELEASE);
		return -rc;
	}
	session->joinable = true;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "profile", required_argument, NULL, 'p' },
		{ "ring-size", required_argument, NULL, 'r' },
		{ "subchannels", required_argument, NULL, 'c' },
		{ "guest-ram", required_argument, NULL, 'g' },
		{ "delay-us", required_argument, NULL, 'd' },
		{ "interrupt-mode", no_argument, NULL, 'I' },
		{ "export", required_argument, NULL, 'E' },
		{ "drop-request", required_argument, NULL, 'D' },
		{ "delay-request", required_argument, NULL, 'L' },
		{ "duplicate-request", required_argument, NULL, 'U' },
		{ "corrupt-request", required_argument, NULL, 'C' },
		{ "unknown-request", required_argument, NULL, 'K' },
		{ "stall-request", required_argument, NULL, 'S' },
		{ "rescind-request", required_argument, NULL, 'R' },
		{ "instance", required_argument, NULL, 'i' },
		{ "once", no_argument, NULL, '1' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vmbus_sim_host_config config = { .guest_ram_size = VMBUS_SIM_DEFAULT_GUEST_RAM };
	struct session session = { .active = false };
	const char *profile = "linux-6.12";
	size_t ring_size = 0, guest_ram = VMBUS_SIM_DEFAULT_GUEST_RAM;
	unsigned long value;
	char *end;
	struct vmbus_sim_host *listener;
	bool once = false, instance_given = false;
	char class_text[VMBUS_GUID_STRING_SIZE], instance_text[VMBUS_GUID_STRING_SIZE];
	struct sigaction action;
	int option, verbose = 0, rc;

	while ((option = getopt_long(argc, argv, "s:p:r:c:g:d:i:1vh", options, NULL)) != -1) {
		switch (option) {
		case 's':
			config.socket_path = optarg;
			break;
		case 'p':
			profile = optarg;
			break;
		case 'r':
			if (parse_size(optarg, &ring_size) != 0) {
				fprintf(stderr, "winapi-host-sim: bad --ring-size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'c':
			errno = 0;
			value = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || value > 15) {
				fprintf(stderr, "winapi-host-sim: bad --subchannels '%s' (0..15)\n", optarg);
				return 2;
			}
			config.subchannels = (unsigned int)value;
			break;
		case 'g':
			if (parse_size(optarg, &guest_ram) != 0) {
				fprintf(stderr, "winapi-host-sim: bad --guest-ram '%s'\n", optarg);
				return 2;
			}
			break;
		case 'd':
			errno = 0;
			value = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || value > 10000000ul) {
				fprintf(stderr, "winapi-host-sim: bad --delay-us '%s' (0..10000000)\n", optarg);
				return 2;
			}
			session.delay_ns = (uint64_t)value * 1000u;
			break;
		case 'I':
			session.interrupt_mode = true;
			break;
		case 'D':
		case 'U':
		case 'K':
		case 'R': {
			uint64_t number;

			errno = 0;
			number = strtoull(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || number == 0) {
				fprintf(stderr, "winapi-host-sim: bad --%s '%s' (a request number, from 1)\n",
					fault_option_name(options, option), optarg);
				return 2;
			}
			if (option == 'D')
				session.faults.drop_request = number;
			else if (option == 'U')
				session.faults.duplicate_request = number;
			else if (option == 'K')
				session.faults.unknown_request = number;
			else
				session.faults.rescind_request = number;
			break;
		}
		case 'C': {
			unsigned long long number;
			char kind[16];

			if (sscanf(optarg, "%llu:%15s", &number, kind) != 2 || number == 0 ||
			    parse_corruption(kind, &session.faults.corrupt_kind) != 0) {
				fprintf(stderr, "winapi-host-sim: bad --corrupt-request '%s' (N:KIND, KIND one of "
					"checksum, request-id, garbage, truncated, type)\n", optarg);
				return 2;
			}
			session.faults.corrupt_request = number;
			break;
		}
		case 'S': {
			unsigned long long number, ms;

			if (sscanf(optarg, "%llu:%llu", &number, &ms) != 2 || number == 0 || ms > 600000) {
				fprintf(stderr, "winapi-host-sim: bad --stall-request '%s' (N:MS)\n", optarg);
				return 2;
			}
			session.faults.stall_request = number;
			session.faults.stall_ns = ms * 1000000ull;
			break;
		}
		case 'L': {
			unsigned long long number, ms;

			if (sscanf(optarg, "%llu:%llu", &number, &ms) != 2 || number == 0 || ms > 600000) {
				fprintf(stderr, "winapi-host-sim: bad --delay-request '%s' (N:MS)\n", optarg);
				return 2;
			}
			session.faults.delay_request = number;
			session.faults.delay_ns = ms * 1000000ull;
			break;
		}
		case 'i':
			if (vmbus_guid_parse(optarg, &config.instance_id) != 0) {
				fprintf(stderr, "winapi-host-sim: bad --instance '%s' (want a GUID)\n", optarg);
				return 2;
			}
			instance_given = true;
			break;
		case '1':
			once = true;
			break;
		case 'E':
			if (winapi_host_file_export(optarg) != 0)
				return 2;
			break;
		case 'v':
			verbose++;
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
		fprintf(stderr, "winapi-host-sim: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (verbose > 0)
		winapi_log_set_level(verbose > 1 ? WINAPI_LOG_DEBUG : WINAPI_LOG_INFO);
	if (vmbus_sim_profile(profile, &config) != 0) {
		fprintf(stderr, "winapi-host-sim: unknown --profile '%s' (linux-6.1, linux-6.12, mainline)\n",
			profile);
		return 2;
	}
	if (ring_size != 0)
		config.ring_size = ring_size;
	config.guest_ram_size = guest_ram;
	vmbus_guid_parse(WINAPI_DEVICE_CLASS, &config.class_id);
	if (!instance_given)
		random_guid(&config.instance_id);

	memset(&action, 0, sizeof(action));
	action.sa_handler = on_stop_signal;
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGTERM, &action, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* The emulator posts events (winapi.tick) and serves the host APIs. */
	rc = winapi_host_register_apis();
	if (rc != 0) {
		fprintf(stderr, "winapi-host-sim: cannot register the host APIs: %s\n", strerror(-rc));
		return 1;
	}
	rc = vmbus_sim_host_listen(&config, &listener);
	if (rc != 0) {
		fprintf(stderr, "winapi-host-sim: cannot listen: %s%s\n", strerror(-rc),
			rc == -EADDRINUSE ? " (another winapi-host-sim serves that socket)" :
			rc == -EINVAL ? " (ring sizes and guest RAM must be page multiples, rings at least two pages)" : "");
		return 1;
	}
	printf("winapi-host-sim: listening on %s (profile %s, class %s, instance %s, ring %zu bytes "
	       "per direction, %u subchannels, %s)\n", vmbus_sim_host_path(listener), profile,
	       vmbus_guid_format(&config.class_id, class_text),
	       vmbus_guid_format(&config.instance_id, instance_text), config.ring_size, config.subchannels,
	       config.monitored ? "monitored" : "not monitored");
	fflush(stdout);

	while (!__atomic_load_n(&stop_requested, __ATOMIC_RELAXED)) {
		struct pollfd pfd = { .fd = vmbus_sim_host_fd(listener), .events = POLLIN };

		/* A session that ended (guest left, or its channel failed) lets its guest go now. */
		if (session.joinable && !__atomic_load_n(&session.active, __ATOMIC_ACQUIRE)) {
			end_session(&session);
			if (once)
				break;
		}
		/* Bounded, so that a stop signal or the end of a --once session is seen promptly. */
		rc = poll(&pfd, 1, 100);
		if (rc > 0) {
			rc = accept_guest(listener, &session);
			if (rc != 0) {
				fprintf(stderr, "winapi-host-sim: %s\n", strerror(-rc));
				break;
			}
		}
	}

	__atomic_store_n(&stop_requested, true, __ATOMIC_RELAXED);
	__atomic_store_n(&session.stop, true, __ATOMIC_RELAXED);
	end_session(&session);
	vmbus_sim_host_close(listener);
	return 0;
}
