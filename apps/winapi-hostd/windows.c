/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-hostd.exe, the Windows build of the host service (mingw-w64): listens on AF_HYPERV
 * for the service id of its port (the VSOCK template, so that AF_VSOCK in a WSL2 or Linux
 * guest reaches it by port number) and serves each connection with the portable core
 * (drivers/host/socket.c) on its own thread. Runs as a Windows service, or in a console
 * with --console. scripts/windows/install-winapi-hostd.ps1 registers both the service and
 * the GuestCommunicationServices entry that lets guests connect.
 */
#include <winsock2.h>
#include <windows.h>
#include <hvsocket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winapi_internal/host_api.h>
#include <winapi_internal/host_socket.h>
#include <winapi/log.h>

/* mingw-w64's winsock2.h stops at AF_BTH (32); the Windows SDK defines AF_HYPERV as 34. */
#ifndef AF_HYPERV
#define AF_HYPERV 34
#endif

#define SERVICE_NAME "winapi-hostd"

struct options {
	unsigned long port;
	GUID vm_id;            /* HV_GUID_WILDCARD: any partition may connect */
	unsigned int max_connections;
	unsigned int max_per_peer;   /* one VM's connections at once; 0: a quarter of max_connections */
	unsigned int timeout_s;      /* most a frame may take either way, from its first byte */
	unsigned int idle_timeout_s; /* between frames; 0: none */
	int console;
	int print_service_id;
	const char *tcp;       /* --tcp: loopback TCP instead of AF_HYPERV (tests, Wine) */
	uint32_t tcp_address;  /* host byte order, in 127.0.0.0/8 */
	uint16_t tcp_port;     /* 0: any free one, logged */
};

static struct options options;
static struct winapi_host_socket_stats stats;
static volatile LONG connections_open;
/* The connections being served, so that a stop can end them: under connections_lock. */
static CRITICAL_SECTION connections_lock;
static SOCKET *connections;
static GUID *connection_vms;  /* the VM each of connections is from */
static SOCKET listener = INVALID_SOCKET;
static volatile LONG stopping; /* the service was asked to stop: the listener is closed */
static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS service_status;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: winapi-hostd.exe [options]\n"
		"Serves the winapi APIs to Hyper-V guests over Hyper-V sockets (AF_HYPERV).\n"
		"\n"
		"  --port PORT           the guest's AF_VSOCK port (default: %%WINAPI_SOCKET_PORT%%, else\n"
		"                        0x1234); the service id is the VSOCK template with this port\n"
		"  --vm-id GUID          accept only this VM (default: any; see winapi-hcs vmid NAME)\n"
		"  --max-connections N   connections served at once (default 16)\n"
		"  --max-per-peer N      connections served at once for one VM (default: a quarter of\n"
		"                        --max-connections, at least 1)\n"
		"  --timeout SECONDS     most a frame may take either way from its first byte; a guest\n"
		"                        that misses it is dropped (default 30)\n"
		"  --idle-timeout SECONDS  close a connection with no frame either way for this long\n"
		"                        (default 300; 0: never)\n"
		"  --tcp ADDR:PORT       listen on loopback TCP instead (127.0.0.0/8 or localhost; PORT\n"
		"                        0: a free one, logged): for tests and hosts without Hyper-V;\n"
		"                        the wire has no authentication, so nothing else is accepted\n"
		"  --export NAME=DIR[:ro|rw]  serve DIR to host.file.* as NAME, read-only unless :rw\n"
		"                        (repeatable; nothing exported, nothing reachable)\n"
		"  --console             run in this console instead of as a Windows service\n"
		"  --service-id          print the service id for the port and exit\n"
		"  --help                this text\n");
}

static int parse_guid(const char *text, GUID *guid)
{
	unsigned int data1, data2, data3, bytes[8];
	char tail;
	int i;

	if (sscanf(text, "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x%c", &data1, &data2, &data3, &bytes[0], &bytes[1],
		   &bytes[2], &bytes[3], &bytes[4], &bytes[5], &bytes[6], &bytes[7], &tail) != 11 ||
	    strlen(text) != 36)
		return -EINVAL;
	guid->Data1 = data1;
	guid->Data2 = (unsigned short)data2;
	guid->Data3 = (unsigned short)data3;
	for (i = 0; i < 8; i++)
		guid->Data4[i] = (unsigned char)bytes[i];
	return 0;
}

/* A count option's value: @min..@max. 0, or -EINVAL (reported). */
static int parse_count(const char *name, const char *value, unsigned long min, unsigned long max, unsigned int *out)
{
	char *end;
	unsigned long number = strtoul(value, &end, 0);

	if (*value < '0' || *value > '9' || *end != '\0' || number < min || number > max) {
		fprintf(stderr, "winapi-hostd: %s %s: want %lu..%lu\n", name, value, min, max);
		return -EINVAL;
	}
	*out = (unsigned int)number;
	return 0;
}

/* The options that take a count. */
struct count_option {
	const char *name;
	unsigned long min, max;
	unsigned int *value;
};

static const struct count_option count_options[] = {
	{ "--max-connections", 1, 4096, &options.max_connections },
	{ "--max-per-peer", 1, 4096, &options.max_per_peer },
	{ "--timeout", 1, 3600, &options.timeout_s },
	{ "--idle-timeout", 0, 86400, &options.idle_timeout_s },
};

static const struct count_option *find_count(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(count_options) / sizeof(count_options[0]); i++)
		if (strcmp(name, count_options[i].name) == 0)
			return &count_options[i];
	return NULL;
}

static int parse_options(int argc, char **argv)
{
	const struct count_option *count;
	uint32_t port;
	char *end;
	int i;

	if (winapi_hvsock_port_from_environment(&port) != 0) {
		fprintf(stderr, "winapi-hostd: WINAPI_SOCKET_PORT is not a port (1..0x7fffffff)\n");
		return 2;
	}
	options.port = port;
	options.vm_id = HV_GUID_WILDCARD;
	options.max_connections = 16;
	options.timeout_s = 30;
	options.idle_timeout_s = 300;
	for (i = 1; i < argc; i++) {
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (strcmp(argv[i], "--console") == 0) {
			options.console = 1;
		} else if (strcmp(argv[i], "--service-id") == 0) {
			options.print_service_id = 1;
		} else if (strcmp(argv[i], "--port") == 0 && value != NULL) {
			options.port = strtoul(value, &end, 0);
			if (*end != '\0' || options.port == 0 || options.port > 0x7fffffffu) {
				fprintf(stderr, "winapi-hostd: --port %s: want 1..0x7fffffff\n", value);
				return 2;
			}
			i++;
		} else if (strcmp(argv[i], "--vm-id") == 0 && value != NULL) {
			if (parse_guid(value, &options.vm_id) != 0) {
				fprintf(stderr, "winapi-hostd: --vm-id %s: want a GUID\n", value);
				return 2;
			}
			if (IsEqualGUID(&options.vm_id, &HV_GUID_WILDCARD)) {
				/* The zero GUID is the wildcard: it would accept every VM, not one. */
				fprintf(stderr, "winapi-hostd: --vm-id %s is the wildcard; leave --vm-id out to serve every VM\n",
					value);
				return 2;
			}
			i++;
		} else if (strcmp(argv[i], "--tcp") == 0 && value != NULL) {
			int rc = winapi_hvsock_parse_loopback(value, true, &options.tcp_address, &options.tcp_port);

			if (rc != 0) {
				fprintf(stderr, "winapi-hostd: --tcp %s: %s\n", value,
					rc == -EADDRNOTAVAIL ? "loopback only (127.0.0.0/8 or localhost): the wire has no "
							       "authentication" :
							       "want ADDR:PORT, as 127.0.0.1:5000");
				return 2;
			}
			options.tcp = value;
			i++;
		} else if (strcmp(argv[i], "--export") == 0 && value != NULL) {
			if (winapi_host_file_export(value) != 0)
				return 2;
			i++;
		} else if ((count = find_count(argv[i])) != NULL && value != NULL) {
			if (parse_count(argv[i], value, count->min, count->max, count->value) != 0)
				return 2;
			i++;
		} else {
			fprintf(stderr, "winapi-hostd: unknown or incomplete option '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (options.tcp != NULL && !IsEqualGUID(&options.vm_id, &HV_GUID_WILDCARD)) {
		fprintf(stderr, "winapi-hostd: --vm-id names a Hyper-V partition; --tcp has none\n");
		return 2;
	}
	if (options.max_per_peer == 0)
		options.max_per_peer = options.max_connections / 4 != 0 ? options.max_connections / 4 : 1;
	return 0;
}

static DWORD WINAPI serve_connection(LPVOID argument)
{
	SOCKET connection = (SOCKET)(ULONG_PTR)argument;
	const struct winapi_host_socket_limits limits = { .frame_timeout_ms = options.timeout_s * 1000u,
							  .idle_timeout_ms = options.idle_timeout_s * 1000u };
	int rc = winapi_host_socket_serve_limited(connection, &stats, &limits);

	unsigned int i;

	if (rc != 0)
		winapi_log(WINAPI_LOG_INFO, "hostd", "connection ended: error %d", -rc);
	EnterCriticalSection(&connections_lock);
	for (i = 0; i < options.max_connections; i++)
		if (connections[i] == connection)
			connections[i] = INVALID_SOCKET;
	LeaveCriticalSection(&connections_lock);
	closesocket(connection);
	InterlockedDecrement(&connections_open);
	return 0;
}

/* Listed, unless its VM has --max-per-peer connections already: 0 or -EBUSY. */
static int track(SOCKET connection, const GUID *vm)
{
	unsigned int i, same = 0, free_slot = options.max_connections;

	EnterCriticalSection(&connections_lock);
	for (i = 0; i < options.max_connections; i++) {
		if (connections[i] == INVALID_SOCKET) {
			if (free_slot == options.max_connections)
				free_slot = i;
		} else if (IsEqualGUID(&connection_vms[i], vm)) {
			same++;
		}
	}
	if (same < options.max_per_peer && free_slot < options.max_connections) {
		connections[free_slot] = connection;
		connection_vms[free_slot] = *vm;
	}
	LeaveCriticalSection(&connections_lock);
	return same < options.max_per_peer && free_slot < options.max_connections ? 0 : -EBUSY;
}

/*
 * Stop: end every connection (their threads see the stream close and exit), and wait for
 * them, telling the service control manager that the stop is under way.
 */
static void end_connections(void)
{
	unsigned int i, waited;

	EnterCriticalSection(&connections_lock);
	for (i = 0; i < options.max_connections; i++)
		if (connections[i] != INVALID_SOCKET)
			shutdown(connections[i], SD_BOTH);
	LeaveCriticalSection(&connections_lock);
	for (waited = 0; InterlockedCompareExchange(&connections_open, 0, 0) != 0 && waited < 100; waited++) {
		service_status.dwCheckPoint++;
		service_status.dwWaitHint = 1000;
		if (status_handle != NULL)
			SetServiceStatus(status_handle, &service_status);
		Sleep(100);
	}
}

/* --tcp: loopback only (parse_options() checked the address). 0 or a WSA error (logged). */
static int open_tcp_listener(void)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(options.tcp_port),
				       .sin_addr.s_addr = htonl(options.tcp_address) };
	int length = sizeof(address);
	BOOL exclusive = TRUE;

	listener = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	if (listener == INVALID_SOCKET) {
		int error = WSAGetLastError();

		winapi_log(WINAPI_LOG_ERR, "hostd", "no TCP socket (WSA error %d)", error);
		return error;
	}
	/* No other program may bind the same port beside us and take our guests' connections. */
	setsockopt(listener, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, (const char *)&exclusive, sizeof(exclusive));
	if (bind(listener, (struct sockaddr *)&address, sizeof(address)) == SOCKET_ERROR ||
	    listen(listener, 64) == SOCKET_ERROR ||
	    getsockname(listener, (struct sockaddr *)&address, &length) == SOCKET_ERROR) {
		int error = WSAGetLastError();

		winapi_log(WINAPI_LOG_ERR, "hostd", "cannot listen on %s (WSA error %d)", options.tcp, error);
		closesocket(listener);
		listener = INVALID_SOCKET;
		return error;
	}
	winapi_log(WINAPI_LOG_NOTICE, "hostd", "serving TCP %u.%u.%u.%u:%u (loopback)", options.tcp_address >> 24,
		   options.tcp_address >> 16 & 0xff, options.tcp_address >> 8 & 0xff, options.tcp_address & 0xff,
		   ntohs(address.sin_port));
	return 0;
}

/* 0, or the WSA error that kept the service from listening (logged). */
static int open_listener(void)
{
	SOCKADDR_HV address;

	if (options.tcp != NULL)
		return open_tcp_listener();

	memset(&address, 0, sizeof(address));
	address.Family = AF_HYPERV;
	address.VmId = options.vm_id;
	address.ServiceId = HV_GUID_VSOCK_TEMPLATE;
	address.ServiceId.Data1 = (unsigned long)options.port;
	listener = socket(AF_HYPERV, SOCK_STREAM, HV_PROTOCOL_RAW);
	if (listener == INVALID_SOCKET) {
		int error = WSAGetLastError();

		winapi_log(WINAPI_LOG_ERR, "hostd", "no Hyper-V sockets here (WSA error %d)", error);
		return error;
	}
	if (bind(listener, (struct sockaddr *)&address, sizeof(address)) == SOCKET_ERROR ||
	    listen(listener, 64) == SOCKET_ERROR) {
		int error = WSAGetLastError();

		winapi_log(WINAPI_LOG_ERR, "hostd", "cannot listen on port %#lx (WSA error %d)", options.port, error);
		closesocket(listener);
		listener = INVALID_SOCKET;
		return error;
	}
	return 0;
}

/* Until the listener is closed (service stop) or fails. */
static void accept_loop(void)
{
	/* Every loopback TCP peer is one for --max-per-peer: all are this machine. */
	static const GUID tcp_peers;
	const DWORD send_timeout = options.timeout_s * 1000u; /* ms */

	for (;;) {
		/* Big enough for SOCKADDR_HV and sockaddr_in: a TCP peer's VM reads as GUID_NULL. */
		union {
			SOCKADDR_HV hyperv;
			struct sockaddr_storage any;
		} peer;
		int peer_length = sizeof(peer);
		SOCKET connection;
		HANDLE thread;

		memset(&peer, 0, sizeof(peer));
		connection = accept(listener, (struct sockaddr *)&peer, &peer_length);
		if (connection == INVALID_SOCKET) {
			/* One guest's aborted connect, or a moment without buffers, must not stop the service. */
			if (InterlockedCompareExchange(&stopping, 0, 0) != 0)
				return;
			winapi_log(WINAPI_LOG_WARNING, "hostd", "accept failed (WSA error %d); going on",
				   WSAGetLastError());
			Sleep(100);
			continue;
		}
		if ((unsigned int)connections_open >= options.max_connections) {
			winapi_log(WINAPI_LOG_WARNING, "hostd", "refusing a connection: %u already served",
				   options.max_connections);
			closesocket(connection);
			continue;
		}
		if (track(connection, options.tcp != NULL ? &tcp_peers : &peer.hyperv.VmId) != 0) {
			winapi_log(WINAPI_LOG_WARNING, "hostd", "refusing a connection: its VM has %u already "
				   "(--max-per-peer)", options.max_per_peer);
			closesocket(connection);
			continue;
		}
		/* A backstop under the service's own absolute deadlines: no send() blocks longer. */
		setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, (const char *)&send_timeout, sizeof(send_timeout));
		/* A frame goes as a header and a payload: Nagle would hold the second for the peer's ACK. */
		if (options.tcp != NULL)
			setsockopt(connection, IPPROTO_TCP, TCP_NODELAY, (const char *)&(BOOL){ TRUE }, sizeof(BOOL));
		InterlockedIncrement(&connections_open);
		thread = CreateThread(NULL, 0, serve_connection, (LPVOID)(ULONG_PTR)connection, 0, NULL);
		if (thread == NULL) {
			EnterCriticalSection(&connections_lock);
			for (unsigned int i = 0; i < options.max_connections; i++)
				if (connections[i] == connection)
					connections[i] = INVALID_SOCKET;
			LeaveCriticalSection(&connections_lock);
			InterlockedDecrement(&connections_open);
			closesocket(connection);
			continue;
		}
		CloseHandle(thread);
	}
}

/* @exit_code: a Win32 or WSA error; the event log shows it as the reason the service stopped. */
static void report_status(DWORD state, DWORD exit_code)
{
	service_status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
	service_status.dwCurrentState = state;
	service_status.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
	service_status.dwWin32ExitCode = exit_code;
	SetServiceStatus(status_handle, &service_status);
}

static DWORD WINAPI control_handler(DWORD control, DWORD event_type, LPVOID event_data, LPVOID context)
{
	(void)event_type;
	(void)event_data;
	(void)context;
	if (control == SERVICE_CONTROL_STOP || control == SERVICE_CONTROL_SHUTDOWN) {
		report_status(SERVICE_STOP_PENDING, NO_ERROR);
		InterlockedExchange(&stopping, 1);
		closesocket(listener); /* accept() returns: the loop ends */
		return NO_ERROR;
	}
	return control == SERVICE_CONTROL_INTERROGATE ? NO_ERROR : ERROR_CALL_NOT_IMPLEMENTED;
}

static void WINAPI service_main(DWORD argc, LPSTR *argv)
{
	(void)argc;
	(void)argv;
	status_handle = RegisterServiceCtrlHandlerExA(SERVICE_NAME, control_handler, NULL);
	if (status_handle == NULL)
		return;
	int error;

	report_status(SERVICE_START_PENDING, NO_ERROR);
	error = open_listener();
	if (error != 0) {
		report_status(SERVICE_STOPPED, (DWORD)error);
		return;
	}
	report_status(SERVICE_RUNNING, NO_ERROR);
	accept_loop();
	end_connections();
	report_status(SERVICE_STOPPED, NO_ERROR);
}

int main(int argc, char **argv)
{
	SERVICE_TABLE_ENTRYA table[] = { { (LPSTR)SERVICE_NAME, service_main }, { NULL, NULL } };
	char service_id[37];
	WSADATA wsa;
	int rc;

	rc = parse_options(argc, argv);
	if (rc != 0)
		return rc;
	winapi_hvsock_service_id((uint32_t)options.port, service_id);
	if (options.print_service_id) {
		printf("%s\n", service_id);
		return 0;
	}
	/* The service posts events (winapi.tick) and serves the host APIs. */
	if (winapi_host_register_apis() != 0) {
		fprintf(stderr, "winapi-hostd: cannot register the host APIs\n");
		return 1;
	}
	connections = malloc(options.max_connections * sizeof(*connections));
	connection_vms = calloc(options.max_connections, sizeof(*connection_vms));
	if (connections == NULL || connection_vms == NULL) {
		fprintf(stderr, "winapi-hostd: out of memory\n");
		return 1;
	}
	for (unsigned int i = 0; i < options.max_connections; i++)
		connections[i] = INVALID_SOCKET;
	InitializeCriticalSection(&connections_lock);
	if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
		fprintf(stderr, "winapi-hostd: WSAStartup failed\n");
		return 1;
	}
	if (!options.console) {
		/* Started by the service control manager; from a console this fails at once. */
		if (!StartServiceCtrlDispatcherA(table)) {
			if (GetLastError() == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT)
				fprintf(stderr, "winapi-hostd: not started as a service; use --console to run here\n");
			rc = 1;
		}
	} else if (open_listener() == 0) {
		if (options.tcp == NULL)
			winapi_log(WINAPI_LOG_NOTICE, "hostd", "serving Hyper-V service id %s", service_id);
		accept_loop();
	} else {
		rc = 1;
	}
	WSACleanup();
	return rc;
}
