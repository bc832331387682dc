/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-hostd, the Linux build of the host service: the Hyper-V socket wire served on
 * AF_VSOCK (a Linux host of a VM, or a WSL2 distribution's peer) or, for tests and for a
 * client on the same machine, on AF_UNIX. The Windows build is windows.c in this directory.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include <winapi_internal/host_api.h>
#include <winapi_internal/host_socket.h>
#include <winapi/log.h>

struct options {
	const char *unix_path;
	uint32_t port;
	uint32_t cid;
	unsigned int max_connections;
	/*
	 * How long a reply may wait for the guest to read it, and a frame for the rest of its
	 * bytes, before the connection is dropped. A guest idle between frames keeps it.
	 */
	unsigned int peer_timeout_s;
};

static struct winapi_host_socket_stats stats;
static unsigned int connections_open; /* __atomic */
static volatile sig_atomic_t stop_requested;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: winapi-hostd [options]\n"
		"Serves the winapi APIs (echo, buffer test, performance test) over the Hyper-V socket\n"
		"wire: length-prefixed JSON headers, bulk data on the socket.\n"
		"\n"
		"  -p, --port PORT          AF_VSOCK port (default: $WINAPI_SOCKET_PORT, else 0x1234)\n"
		"      --cid CID            AF_VSOCK address to listen on (default: any)\n"
		"  -s, --socket PATH        listen on this AF_UNIX socket instead of AF_VSOCK (tests,\n"
		"                           or clients on this machine: WINAPI_SOCKET_PATH=PATH)\n"
		"  -m, --max-connections N  connections served at once (default 16); each may hold a\n"
		"                           payload buffer of up to 512 MiB\n"
		"  -t, --timeout SECONDS    drop a guest that leaves a reply unread, or stops inside a\n"
		"                           request, for this long (default 30; idle guests stay)\n"
		"      --log-level LEVEL    err, warning, notice, info, debug (default: $WINAPI_LOG_LEVEL\n"
		"                           or notice)\n"
		"  -h, --help               this text\n"
		"\n"
		"SIGINT or SIGTERM: stop accepting, end the connections, print the counters, exit 0.\n");
}

static int parse_number(const char *text, uint64_t limit, uint64_t *value)
{
	char *end;

	errno = 0;
	*value = strtoull(text, &end, 0);
	return errno != 0 || *end != '\0' || *text == '\0' || *text == '-' || *value > limit ? -EINVAL : 0;
}

static int parse_options(int argc, char **argv, struct options *options)
{
	static const struct option long_options[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "cid", required_argument, NULL, 'C' },
		{ "socket", required_argument, NULL, 's' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t value;
	int option, level;

	if (winapi_hvsock_port_from_environment(&options->port) != 0) {
		fprintf(stderr, "winapi-hostd: WINAPI_SOCKET_PORT=%s is not a port (1..0x7fffffff)\n",
			getenv("WINAPI_SOCKET_PORT"));
		return 2;
	}
	while ((option = getopt_long(argc, argv, "p:s:m:t:h", long_options, NULL)) != -1) {
		switch (option) {
		case 'p':
			if (parse_number(optarg, 0x7fffffff, &value) != 0 || value == 0) {
				fprintf(stderr, "winapi-hostd: --port %s: want 1..0x7fffffff\n", optarg);
				return 2;
			}
			options->port = (uint32_t)value;
			break;
		case 'C':
			if (parse_number(optarg, UINT32_MAX, &value) != 0) {
				fprintf(stderr, "winapi-hostd: --cid %s: want a number\n", optarg);
				return 2;
			}
			options->cid = (uint32_t)value;
			break;
		case 's':
			options->unix_path = optarg;
			break;
		case 'm':
			if (parse_number(optarg, 4096, &value) != 0 || value == 0) {
				fprintf(stderr, "winapi-hostd: --max-connections %s: want 1..4096\n", optarg);
				return 2;
			}
			options->max_connections = (unsigned int)value;
			break;
		case 't':
			if (parse_number(optarg, 3600, &value) != 0 || value == 0) {
				fprintf(stderr, "winapi-hostd: --timeout %s: want 1..3600 seconds\n", optarg);
				return 2;
			}
			options->peer_timeout_s = (unsigned int)value;
			break;
		case 'L':
			level = winapi_log_parse_level(optarg);
			if (level < 0) {
				fprintf(stderr, "winapi-hostd: --log-level %s: want err, warning, notice, info or debug\n",
					optarg);
				return 2;
			}
			winapi_log_set_level((enum winapi_log_level)level);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "winapi-hostd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	struct stat status;
	int fd;

	if (strlen(path) >= sizeof(address.sun_path)) {
		winapi_log(WINAPI_LOG_ERR, "hostd", "%s: path too long for a unix socket", path);
		return -ENAMETOOLONG;
	}
	memcpy(address.sun_path, path, strlen(path) + 1);
	/* A socket left by an earlier run is replaced; any other file is not ours to remove. */
	if (lstat(path, &status) == 0) {
		if (!S_ISSOCK(status.st_mode)) {
			winapi_log(WINAPI_LOG_ERR, "hostd", "%s exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(fd, 64) != 0) {
		int rc = -errno;

		winapi_log(WINAPI_LOG_ERR, "hostd", "cannot listen on %s: %s", path, strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

static int listen_vsock(uint32_t cid, uint32_t port)
{
	struct sockaddr_vm address = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc;

	if (fd < 0) {
		rc = -errno;
		winapi_log(WINAPI_LOG_ERR, "hostd", "no AF_VSOCK here (%s): load vsock/hv_sock, or use --socket PATH",
			   strerror(-rc));
		return rc;
	}
	if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(fd, 64) != 0) {
		rc = -errno;
		winapi_log(WINAPI_LOG_ERR, "hostd", "cannot listen on vsock port %#x: %s", port, strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

static void *serve_connection(void *argument)
{
	int fd = (int)(intptr_t)argument;
	int rc = winapi_host_socket_serve(fd, &stats);

	if (rc != 0)
		winapi_log(WINAPI_LOG_INFO, "hostd", "connection ended: %s", strerror(-rc));
	close(fd);
	__atomic_fetch_sub(&connections_open, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void on_signal(int signal_number)
{
	(void)signal_number;
	stop_requested = 1;
}

/* Accept until a signal; each connection gets its own thread, up to the limit. */
static int accept_loop(int listener, const struct options *options)
{
	const struct timeval peer_timeout = { .tv_sec = options->peer_timeout_s };
	struct pollfd watch = { .fd = listener, .events = POLLIN };
	pthread_attr_t attributes;
	pthread_t thread;
	int fd, rc;

	pthread_attr_init(&attributes);
	pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
	while (!stop_requested) {
		if (poll(&watch, 1, 200) <= 0)
			continue;
		fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (__atomic_load_n(&connections_open, __ATOMIC_ACQUIRE) >= options->max_connections) {
			winapi_log(WINAPI_LOG_WARNING, "hostd", "refusing a connection: %u already served (--max-connections)",
				   options->max_connections);
			close(fd);
			continue;
		}
		/* A guest that stops reading, or stops inside a frame, must not hold a thread for ever. */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &peer_timeout, sizeof(peer_timeout));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &peer_timeout, sizeof(peer_timeout));
		__atomic_fetch_add(&connections_open, 1, __ATOMIC_RELAXED);
		rc = pthread_create(&thread, &attributes, serve_connection, (void *)(intptr_t)fd);
		if (rc != 0) {
			winapi_log(WINAPI_LOG_ERR, "hostd", "cannot start a connection thread: %s", strerror(rc));
			__atomic_fetch_sub(&connections_open, 1, __ATOMIC_RELAXED);
			close(fd);
		}
	}
	pthread_attr_destroy(&attributes);
	return 0;
}

int main(int argc, char **argv)
{
	struct options options = { .cid = VMADDR_CID_ANY, .max_connections = 16, .peer_timeout_s = 30 };
	struct sigaction action = { .sa_handler = on_signal };
	char service_id[37];
	int listener, rc;

	rc = parse_options(argc, argv, &options);
	if (rc != 0)
		return rc;
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGTERM, &action, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The service posts events: its guests may subscribe to the tick. */
	rc = winapi_host_api_register(&winapi_host_tick_api);
	if (rc != 0) {
		fprintf(stderr, "winapi-hostd: cannot register winapi.tick: %s\n", strerror(-rc));
		return 1;
	}

	listener = options.unix_path != NULL ? listen_unix(options.unix_path) : listen_vsock(options.cid, options.port);
	if (listener < 0)
		return 1;
	winapi_hvsock_service_id(options.port, service_id);
	if (options.unix_path != NULL)
		winapi_log(WINAPI_LOG_NOTICE, "hostd", "serving on %s", options.unix_path);
	else
		winapi_log(WINAPI_LOG_NOTICE, "hostd", "serving on vsock port %#x (Hyper-V service id %s)",
			   options.port, service_id);
	accept_loop(listener, &options);
	close(listener);
	if (options.unix_path != NULL)
		unlink(options.unix_path);
	printf("winapi-hostd: %" PRIu64 " connections, %" PRIu64 " requests (%" PRIu64 " refused), %" PRIu64
	       " bytes in, %" PRIu64 " bytes out\n",
	       __atomic_load_n(&stats.connections, __ATOMIC_RELAXED), __atomic_load_n(&stats.requests, __ATOMIC_RELAXED),
	       __atomic_load_n(&stats.bad_requests, __ATOMIC_RELAXED), __atomic_load_n(&stats.bytes_in, __ATOMIC_RELAXED),
	       __atomic_load_n(&stats.bytes_out, __ATOMIC_RELAXED));
	return 0;
}
