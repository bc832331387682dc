/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-hostd, the Linux build of the host service: the Hyper-V socket wire served on
 * AF_VSOCK (a Linux host of a VM, or a WSL2 distribution's peer) or, for tests and for a
 * client on the same machine, on AF_UNIX or loopback TCP. The Windows build is windows.c in
 * this directory.
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
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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
	const char *tcp;              /* --tcp: loopback TCP, for tests and hosts without vsock */
	uint32_t tcp_address;         /* host byte order, in 127.0.0.0/8 */
	uint16_t tcp_port;            /* 0: any free one, logged */
	uint32_t port;
	uint32_t cid;
	unsigned int max_connections;
	unsigned int max_per_peer;    /* 0: a quarter of max_connections (at least 1) */
	/*
	 * How long a frame may take either way, from its first byte (a reply for the guest to
	 * read, a request to arrive whole), before the connection is dropped: absolute, so a
	 * guest that trickles a byte now and then gains nothing.
	 */
	unsigned int peer_timeout_s;
	unsigned int idle_timeout_s;  /* between frames; 0: none */
	uint32_t allowed_cids[WINAPI_HVSOCK_MAX_ALLOWED_CIDS];
	unsigned int allowed_count;   /* 0: every vsock peer */
};

/*
 * Connections open per peer (a vsock CID, or a uid on AF_UNIX), so that one guest cannot
 * take every slot: under peers_lock, at most max_connections entries.
 */
struct peer {
	uint64_t key; /* peer_key() */
	unsigned int connections;
};

struct connection_thread {
	int fd;
	uint64_t peer_key;
};

static pthread_mutex_t peers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct peer *peers;
static unsigned int peer_slots;  /* entries of peers: max_connections */
static struct winapi_host_socket_limits limits;

static struct winapi_host_socket_stats stats;
static unsigned int connections_open; /* __atomic */
static volatile sig_atomic_t stop_requested;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: winapi-hostd [options]\n"
		"Serves the winapi APIs (echo, buffer test, performance test, winapi.tick, host.time,\n"
		"host.info) over the Hyper-V socket wire: length-prefixed JSON headers, bulk data on\n"
		"the socket.\n"
		"\n"
		"  -p, --port PORT          AF_VSOCK port (default: $WINAPI_SOCKET_PORT, else 0x1234)\n"
		"      --cid CID            AF_VSOCK address to listen on (default: any)\n"
		"      --tcp ADDR:PORT      listen on loopback TCP instead (127.0.0.0/8 or localhost;\n"
		"                           PORT 0: a free one, logged): clients WINAPI_SOCKET_TCP; the\n"
		"                           wire has no authentication, so nothing else is accepted\n"
		"  -s, --socket PATH        listen on this AF_UNIX socket instead of AF_VSOCK (tests,\n"
		"                           or clients on this machine: WINAPI_SOCKET_PATH=PATH)\n"
		"  -m, --max-connections N  connections served at once (default 16); each may hold a\n"
		"                           payload buffer of up to 512 MiB (given back after 1 s idle)\n"
		"      --max-per-peer N     connections served at once for one peer: one vsock CID, or\n"
		"                           one uid on --socket (default: a quarter of -m, at least 1)\n"
		"      --allow-cid CID[,CID...]  serve only these vsock peers; others are closed at\n"
		"                           accept, logged (default: every peer)\n"
		"  -t, --timeout SECONDS    most a frame may take either way from its first byte (a\n"
		"                           reply for the guest to read, a request to arrive whole);\n"
		"                           a guest that misses it is dropped (default 30)\n"
		"      --idle-timeout SECONDS  close a connection with no frame either way for this\n"
		"                           long (default 300; 0: never)\n"
		"      --export NAME=DIR[:ro|rw]  serve DIR to host.file.* as NAME, read-only unless\n"
		"                           :rw (repeatable; nothing exported, nothing reachable)\n"
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

/* A count option (--NAME TEXT) of @min..@max into @value: 0, or 2 (reported: the exit status). */
static int parse_count(const char *name, const char *text, uint64_t min, uint64_t max, unsigned int *value)
{
	uint64_t number;

	if (parse_number(text, max, &number) != 0 || number < min) {
		fprintf(stderr, "winapi-hostd: --%s %s: want %" PRIu64 "..%" PRIu64 "\n", name, text, min, max);
		return 2;
	}
	*value = (unsigned int)number;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *options)
{
	static const struct option long_options[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "cid", required_argument, NULL, 'C' },
		{ "socket", required_argument, NULL, 's' },
		{ "max-connections", required_argument, NULL, 'm' },
		{ "max-per-peer", required_argument, NULL, 'P' },
		{ "allow-cid", required_argument, NULL, 'A' },
		{ "timeout", required_argument, NULL, 't' },
		{ "idle-timeout", required_argument, NULL, 'I' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "export", required_argument, NULL, 'E' },
		{ "tcp", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t value;
	int option, level;

	if (winapi_hvsock_port_from_environment(&options->port) != 0) {
		fprintf(stderr, "winapi-hostd: WINAPI_SOCKET_PORT=%s is not a port (1..0x7fffffff)\n",
			secure_getenv("WINAPI_SOCKET_PORT"));
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
			if (parse_count("max-connections", optarg, 1, 4096, &options->max_connections) != 0)
				return 2;
			break;
		case 'P':
			if (parse_count("max-per-peer", optarg, 1, 4096, &options->max_per_peer) != 0)
				return 2;
			break;
		case 'A':
			if (winapi_hvsock_parse_cids(optarg, options->allowed_cids, WINAPI_HVSOCK_MAX_ALLOWED_CIDS,
						     &options->allowed_count) != 0) {
				fprintf(stderr, "winapi-hostd: --allow-cid %s: want CID[,CID...], at most %u, not "
					"the wildcard 0xffffffff\n", optarg, WINAPI_HVSOCK_MAX_ALLOWED_CIDS);
				return 2;
			}
			break;
		case 'I':
			if (parse_count("idle-timeout", optarg, 0, 86400, &options->idle_timeout_s) != 0)
				return 2;
			break;
		case 'E':
			if (winapi_host_file_export(optarg) != 0)
				return 2;
			break;
		case 'T': {
			int rc = winapi_hvsock_parse_loopback(optarg, true, &options->tcp_address, &options->tcp_port);

			if (rc != 0) {
				fprintf(stderr, "winapi-hostd: --tcp %s: %s\n", optarg,
					rc == -EADDRNOTAVAIL ? "loopback only (127.0.0.0/8 or localhost): the wire has no "
							       "authentication" :
							       "want ADDR:PORT, as 127.0.0.1:5000");
				return 2;
			}
			options->tcp = optarg;
			break;
		}
		case 't':
			if (parse_count("timeout", optarg, 1, 3600, &options->peer_timeout_s) != 0)
				return 2;
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
	if (options->tcp != NULL && options->unix_path != NULL) {
		fprintf(stderr, "winapi-hostd: --tcp and --socket: one listener, not both\n");
		return 2;
	}
	if (options->allowed_count != 0 && options->tcp != NULL) {
		fprintf(stderr, "winapi-hostd: --allow-cid names vsock peers; --tcp has none\n");
		return 2;
	}
	if (options->max_per_peer == 0)
		options->max_per_peer = options->max_connections / 4 != 0 ? options->max_connections / 4 : 1;
	if (options->allowed_count != 0 && options->unix_path != NULL) {
		fprintf(stderr, "winapi-hostd: --allow-cid names vsock peers; --socket has none\n");
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
	/*
	 * Bound under a name of its own and renamed once it listens, as the emulator does
	 * (vmbus_sim_host_listen()): whoever waits for the file is never refused in between.
	 */
	if ((size_t)snprintf(address.sun_path, sizeof(address.sun_path), "%s.%d", path, (int)getpid()) >=
	    sizeof(address.sun_path))
		memcpy(address.sun_path, path, strlen(path) + 1);
	else
		unlink(address.sun_path);
	if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(fd, 64) != 0 ||
	    (strcmp(address.sun_path, path) != 0 && rename(address.sun_path, path) != 0)) {
		int rc = -errno;

		winapi_log(WINAPI_LOG_ERR, "hostd", "cannot listen on %s: %s", path, strerror(-rc));
		if (strcmp(address.sun_path, path) != 0)
			unlink(address.sun_path);
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

/* --tcp: loopback only (parse_options() checked the address); the port it got is logged. */
static int listen_tcp(const struct options *options)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(options->tcp_port),
				       .sin_addr.s_addr = htonl(options->tcp_address) };
	socklen_t length = sizeof(address);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(fd, 64) != 0 ||
	    getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
		rc = -errno;
		winapi_log(WINAPI_LOG_ERR, "hostd", "cannot listen on %s: %s", options->tcp, strerror(-rc));
		close(fd);
		return rc;
	}
	winapi_log(WINAPI_LOG_NOTICE, "hostd", "serving TCP %u.%u.%u.%u:%u (loopback)", options->tcp_address >> 24,
		   options->tcp_address >> 16 & 0xff, options->tcp_address >> 8 & 0xff, options->tcp_address & 0xff,
		   ntohs(address.sin_port));
	return fd;
}

/* A peer's key: its CID on AF_VSOCK, its uid on AF_UNIX (kinds apart, so a uid is no CID). */
static uint64_t peer_key(int fd, const struct sockaddr_storage *address)
{
	struct ucred credentials;
	socklen_t length = sizeof(credentials);

	if (address->ss_family == AF_VSOCK)
		return 1ull << 32 | ((const struct sockaddr_vm *)address)->svm_cid;
	if (address->ss_family == AF_INET)
		return 4ull << 32; /* loopback: every peer is this machine, one count for all */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0)
		return 2ull << 32 | credentials.uid;
	return 3ull << 32; /* unknown: all such peers share one count */
}

/* One more connection for @key, unless it has @max already: 0 or -EUSERS. */
static int peer_acquire(uint64_t key, unsigned int max, unsigned int slots)
{
	unsigned int i, free_slot = slots;
	int rc = -EUSERS;

	pthread_mutex_lock(&peers_lock);
	for (i = 0; i < slots; i++) {
		if (peers[i].connections != 0 && peers[i].key == key)
			break;
		if (peers[i].connections == 0 && free_slot == slots)
			free_slot = i;
	}
	if (i == slots)
		i = free_slot; /* slots == max_connections: a free one exists below the limit */
	if (i < slots && peers[i].connections < max) {
		peers[i].key = key;
		peers[i].connections++;
		rc = 0;
	}
	pthread_mutex_unlock(&peers_lock);
	return rc;
}

static void peer_release(uint64_t key, unsigned int slots)
{
	unsigned int i;

	pthread_mutex_lock(&peers_lock);
	for (i = 0; i < slots; i++)
		if (peers[i].connections != 0 && peers[i].key == key) {
			peers[i].connections--;
			break;
		}
	pthread_mutex_unlock(&peers_lock);
}

static void *serve_connection(void *argument)
{
	struct connection_thread *connection = argument;
	int rc = winapi_host_socket_serve_limited(connection->fd, &stats, &limits);

	if (rc != 0)
		winapi_log(WINAPI_LOG_INFO, "hostd", "connection ended: %s", strerror(-rc));
	close(connection->fd);
	peer_release(connection->peer_key, peer_slots);
	free(connection);
	__atomic_fetch_sub(&connections_open, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Whether to serve the connection just accepted: a vsock peer on the allow-list, under the
 * total and its peer's limits (its count taken). Logs a refusal. 0 or a negative errno.
 */
static int admit(int fd, const struct sockaddr_storage *address, const struct options *options, uint64_t *key)
{
	if (address->ss_family == AF_VSOCK &&
	    !winapi_hvsock_cid_allowed(options->allowed_cids, options->allowed_count,
				       ((const struct sockaddr_vm *)address)->svm_cid)) {
		winapi_log(WINAPI_LOG_WARNING, "hostd", "refusing vsock peer cid %u: not in --allow-cid",
			   ((const struct sockaddr_vm *)address)->svm_cid);
		return -EACCES;
	}
	if (__atomic_load_n(&connections_open, __ATOMIC_ACQUIRE) >= options->max_connections) {
		winapi_log(WINAPI_LOG_WARNING, "hostd", "refusing a connection: %u already served (--max-connections)",
			   options->max_connections);
		return -EUSERS;
	}
	*key = peer_key(fd, address);
	if (peer_acquire(*key, options->max_per_peer, peer_slots) != 0) {
		winapi_log(WINAPI_LOG_WARNING, "hostd", "refusing a connection: its peer (%s %u) has %u already "
			   "(--max-per-peer)", *key >> 32 == 1 ? "cid" : "uid", (unsigned int)*key, options->max_per_peer);
		return -EUSERS;
	}
	return 0;
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
		struct sockaddr_storage address;
		socklen_t address_length = sizeof(address);
		struct connection_thread *connection;
		uint64_t key;

		if (poll(&watch, 1, 200) <= 0)
			continue;
		fd = accept4(listener, (struct sockaddr *)&address, &address_length, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (admit(fd, &address, options, &key) != 0) {
			close(fd);
			continue;
		}
		/* A backstop under the service's own absolute deadlines: no send() or recv() blocks longer. */
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &peer_timeout, sizeof(peer_timeout));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &peer_timeout, sizeof(peer_timeout));
		/* A frame goes as a header and a payload: Nagle would hold the second for the peer's ACK. */
		if (address.ss_family == AF_INET)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
		connection = malloc(sizeof(*connection));
		rc = connection == NULL ? ENOMEM : 0;
		if (rc == 0) {
			*connection = (struct connection_thread){ .fd = fd, .peer_key = key };
			__atomic_fetch_add(&connections_open, 1, __ATOMIC_RELAXED);
			rc = pthread_create(&thread, &attributes, serve_connection, connection);
			if (rc != 0)
				__atomic_fetch_sub(&connections_open, 1, __ATOMIC_RELAXED);
		}
		if (rc != 0) {
			winapi_log(WINAPI_LOG_ERR, "hostd", "cannot start a connection thread: %s", strerror(rc));
			free(connection);
			peer_release(key, peer_slots);
			close(fd);
		}
	}
	pthread_attr_destroy(&attributes);
	return 0;
}

int main(int argc, char **argv)
{
	struct options options = { .cid = VMADDR_CID_ANY, .max_connections = 16, .peer_timeout_s = 30,
				   .idle_timeout_s = 300 };
	struct sigaction action = { .sa_handler = on_signal };
	char service_id[37];
	int listener, rc;

	rc = parse_options(argc, argv, &options);
	if (rc != 0)
		return rc;
	limits = (struct winapi_host_socket_limits){ .frame_timeout_ms = options.peer_timeout_s * 1000u,
						     .idle_timeout_ms = options.idle_timeout_s * 1000u };
	peer_slots = options.max_connections;
	peers = calloc(peer_slots, sizeof(*peers));
	if (peers == NULL) {
		fprintf(stderr, "winapi-hostd: out of memory\n");
		return 1;
	}
	sigaction(SIGINT, &action, NULL);
	sigaction(SIGTERM, &action, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* The service posts events (winapi.tick) and serves the host APIs. */
	rc = winapi_host_register_apis();
	if (rc != 0) {
		fprintf(stderr, "winapi-hostd: cannot register the host APIs: %s\n", strerror(-rc));
		return 1;
	}

	listener = options.unix_path != NULL ? listen_unix(options.unix_path) :
		   options.tcp != NULL	     ? listen_tcp(&options) :
					       listen_vsock(options.cid, options.port);
	if (listener < 0)
		return 1;
	winapi_hvsock_service_id(options.port, service_id);
	if (options.unix_path != NULL)
		winapi_log(WINAPI_LOG_NOTICE, "hostd", "serving on %s", options.unix_path);
	else if (options.tcp == NULL)
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
