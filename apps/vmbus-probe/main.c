/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vmbus-probe: an example of a user-space VMBus driver written against the public
 * include/vmbus/ API only. It lists VMBus devices, and speaks the opening of the Hyper-V
 * Dynamic Memory protocol (the balloon device, which QEMU's hv-balloon also offers) over a
 * channel bound to uio_hv_generic: version negotiation, then the capabilities report.
 *
 * Exit status: 0 success; 1 the exchange failed; 2 bad usage; 3 the device cannot be used
 * (no VMBus, not bound, refused by the kernel, no permission).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmbus/channel.h>
#include <vmbus/uio.h>

#define DM_CLASS "525074dc-8985-46e2-8057-a307dc18a502"

/*
 * Dynamic Memory protocol (Linux drivers/hv/hv_balloon.c, QEMU include/hw/hyperv/
 * dynmem-proto.h): every message starts with this header; size counts the header too.
 */
enum dm_message_type {
	DM_VERSION_REQUEST = 1,
	DM_VERSION_RESPONSE = 2,
	DM_CAPABILITIES_REPORT = 3,
	DM_CAPABILITIES_RESPONSE = 4,
};

/* Version 2.0 (Windows 10): the major version is the high half. */
#define DM_VERSION_WIN10 0x00020000u

struct dm_header {
	uint16_t type;
	uint16_t size;
	uint32_t trans_id;
} __attribute__((packed));

struct dm_version_request {
	struct dm_header header;
	uint32_t version;
	uint32_t flags; /* bit 0: is_last_attempt */
} __attribute__((packed));

struct dm_capabilities {
	struct dm_header header;
	uint64_t capabilities; /* bit 0 balloon, bit 1 hot add, bits 2-5 hot-add alignment */
	uint64_t min_page_count;
	uint64_t max_page_number;
} __attribute__((packed));

/* Both responses: header, then a u64 whose bit 0 is "accepted". */
struct dm_response {
	struct dm_header header;
	uint64_t flags;
} __attribute__((packed));

_Static_assert(sizeof(struct dm_header) == 8, "dm_header is 8 bytes");
_Static_assert(sizeof(struct dm_version_request) == 16, "dm_version_request is 16 bytes");
_Static_assert(sizeof(struct dm_capabilities) == 32, "dm_capabilities is 32 bytes");
_Static_assert(sizeof(struct dm_response) == 16, "dm responses are 16 bytes");

enum { EXIT_OK = 0, EXIT_EXCHANGE_FAILED = 1, EXIT_USAGE = 2, EXIT_UNAVAILABLE = 3 };

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vmbus-probe list [options]\n"
		"       vmbus-probe balloon [options]\n"
		"\n"
		"list      show the VMBus devices, their classes, drivers and uio nodes\n"
		"balloon   open a device bound to uio_hv_generic and run the Dynamic Memory\n"
		"          protocol's opening: version request/response, capabilities report/response\n"
		"\n"
		"  -c, --class GUID      device class (balloon default: " DM_CLASS ")\n"
		"  -i, --instance GUID   a particular device of that class\n"
		"  -m, --mode MODE       poll (spin on the ring, never sleep) or interrupt (RX\n"
		"                        unmasked, block for the host's interrupt, then read the\n"
		"                        ring); default poll\n"
		"  -t, --timeout MS      how long to wait for each response (default 10000)\n"
		"  -s, --sysfs-root DIR  sysfs to read instead of /sys ($VMBUS_SYSFS_ROOT)\n"
		"  -d, --dev-root DIR    device nodes instead of /dev ($VMBUS_DEV_ROOT)\n"
		"  -h, --help            this text\n"
		"\n"
		"Exit status: 0 ok, 1 exchange failed, 2 usage, 3 device unavailable.\n");
}

static uint64_t now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static int print_device(const struct vmbus_uio_device_info *info, void *argument)
{
	char class_text[VMBUS_GUID_STRING_SIZE];
	char monitor[16] = "none", uio[16] = "-";

	(*(unsigned int *)argument)++;
	if (info->monitor_id != VMBUS_MONITOR_ID_NONE)
		snprintf(monitor, sizeof(monitor), "%u", info->monitor_id);
	if (info->uio_index >= 0)
		snprintf(uio, sizeof(uio), "uio%d", info->uio_index);
	printf("%s  class %s  relid %u  monitor %s  numa %d  driver %s  %s\n", info->name,
	       vmbus_guid_format(&info->class_id, class_text), info->relid, monitor, info->numa_node,
	       info->driver[0] ? info->driver : "-", uio);
	return 0;
}

static int list_devices(const struct vmbus_uio_config *config)
{
	unsigned int count = 0;
	int rc = vmbus_uio_scan(config, print_device, &count);

	if (rc != 0) {
		fprintf(stderr, "vmbus-probe: error: cannot list VMBus devices: %s%s\n", strerror(-rc),
			rc == -ENOENT ? " (no /sys/bus/vmbus: not a Hyper-V guest, or hv_vmbus not loaded)" : "");
		return EXIT_UNAVAILABLE;
	}
	if (count == 0)
		printf("no VMBus devices\n");
	return EXIT_OK;
}

/* Send one DM message as an inband packet, trans_id = the message's own. */
static int send_message(struct vmbus_channel *channel, const void *message, size_t size, uint32_t trans_id)
{
	const struct iovec payload = { .iov_base = (void *)message, .iov_len = size };

	/* QEMU answers with its own inband packet, not a completion: no COMPLETION_REQUESTED. */
	return vmbus_chan_send_inband(channel, trans_id, 0, &payload, 1);
}

/*
 * Wait for the DM message of @type answering @trans_id; validate it before reading it, the
 * host is not trusted. Other messages (the host may send its own) are reported and skipped.
 */
static int receive_response(struct vmbus_channel *channel, bool interrupt_mode, uint16_t type,
			    uint32_t trans_id, int timeout_ms, struct dm_response *response)
{
	uint8_t buffer[4096];
	struct vmbus_ring_packet_info info;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000u;
	bool await_interrupt = interrupt_mode;
	int rc;

	for (;;) {
		struct dm_header header;
		size_t length;
		uint64_t now;

		/*
		 * Interrupt mode is driven by the host's interrupt, as the kernel's fcopy daemon is:
		 * the request went out with RX empty, published and unmasked, so the host's answer
		 * is certain to raise one; block for it, then drain the ring. Later waits (after a
		 * skipped packet) re-check the ring before sleeping, like every wait.
		 */
		if (await_interrupt) {
			now = now_ns();
			rc = now >= deadline ? -ETIMEDOUT :
				vmbus_chan_wait_interrupt(channel, (int)((deadline - now + 999999u) / 1000000u));
			if (rc != 0)
				return rc;
			await_interrupt = false;
		}
		rc = vmbus_chan_recv(channel, buffer, sizeof(buffer), &info);
		if (rc == -EAGAIN) {
			now = now_ns();
			if (now >= deadline)
				return -ETIMEDOUT;
			rc = vmbus_chan_wait(channel, (int)((deadline - now + 999999u) / 1000000u));
			if (rc != 0)
				return rc;
			continue;
		}
		if (rc == -EBADMSG || rc == -ENOBUFS) {
			fprintf(stderr, "vmbus-probe: skipped a packet the host should not send (%s)\n",
				strerror(-rc));
			continue;
		}
		if (rc != 0)
			return rc;
		length = info.packet_size - info.header_size;
		if (info.type != VMBUS_PACKET_DATA_INBAND || length < sizeof(header)) {
			fprintf(stderr, "vmbus-probe: skipped a packet of type %u, %zu bytes\n", info.type, length);
			continue;
		}
		memcpy(&header, buffer + info.header_size, sizeof(header));
		if (header.size < sizeof(header) || header.size > length) {
			fprintf(stderr, "vmbus-probe: skipped a DM message whose size %u does not fit its %zu-byte packet\n",
				header.size, length);
			continue;
		}
		if (header.type != type || header.trans_id != trans_id) {
			fprintf(stderr, "vmbus-probe: skipped DM message type %u (transaction %u)\n", header.type,
				header.trans_id);
			continue;
		}
		if (header.size < sizeof(*response)) {
			fprintf(stderr, "vmbus-probe: DM response of %u bytes is too short\n", header.size);
			return -EBADMSG;
		}
		memcpy(response, buffer + info.header_size, sizeof(*response));
		return vmbus_chan_recv_done(channel);
	}
}

/* One request/response; prints the round trip. Returns 0 if the host accepted. */
static int exchange(struct vmbus_channel *channel, bool interrupt_mode, const char *what,
		    const void *request, size_t size, uint32_t trans_id, uint16_t response_type, int timeout_ms)
{
	struct dm_response response;
	uint64_t start = now_ns();
	int rc;

	rc = send_message(channel, request, size, trans_id);
	if (rc == 0)
		rc = receive_response(channel, interrupt_mode, response_type, trans_id, timeout_ms, &response);
	if (rc != 0) {
		fprintf(stderr, "vmbus-probe: %s: %s\n", what, strerror(-rc));
		return rc;
	}
	printf("%s: response type %u, transaction %u, accepted %s, round trip %.1f us\n", what,
	       response.header.type, response.header.trans_id, (response.flags & 1) ? "yes" : "no",
	       (double)(now_ns() - start) / 1000.0);
	return (response.flags & 1) ? 0 : -EPROTO;
}

static int run_balloon(const struct vmbus_uio_config *config, const struct vmbus_guid *class_id,
		       const struct vmbus_guid *instance_id, bool interrupt_mode, int timeout_ms)
{
	char error[512] = "", instance_text[VMBUS_GUID_STRING_SIZE];
	struct vmbus_uio_open_params params = {
		.config = config, .class_id = *class_id, .instance_id = instance_id,
		.error_message = error, .error_size = sizeof(error),
	};
	struct dm_version_request version = {
		.header = { .type = DM_VERSION_REQUEST, .size = sizeof(version), .trans_id = 1 },
		.version = DM_VERSION_WIN10,
		.flags = 1, /* last attempt: we speak 2.0 or nothing */
	};
	struct dm_capabilities capabilities = {
		.header = { .type = DM_CAPABILITIES_REPORT, .size = sizeof(capabilities), .trans_id = 2 },
		.capabilities = 0, /* a probe: neither ballooning nor hot add */
		.min_page_count = 0,
		.max_page_number = UINT64_MAX,
	};
	struct vmbus_chan_stats stats;
	struct vmbus_channel *channel;
	struct vmbus_device *device;
	int status = EXIT_OK, rc;

	rc = vmbus_uio_open(&params, &device);
	if (rc != 0) {
		fprintf(stderr, "vmbus-probe: error: %s\n", error[0] ? error : strerror(-rc));
		return EXIT_UNAVAILABLE;
	}
	rc = vmbus_chan_open(device, 0, &channel);
	if (rc != 0) {
		fprintf(stderr, "vmbus-probe: error: cannot open the primary channel: %s\n", strerror(-rc));
		status = EXIT_UNAVAILABLE;
		goto out_close_device;
	}
	/* Poll mode never sleeps; interrupt mode keeps RX unmasked and sleeps on the interrupt. */
	if (interrupt_mode)
		vmbus_chan_set_interrupt_mode(channel, true);
	else
		vmbus_chan_set_spin_ns(channel, UINT32_MAX);
	printf("device %s (backend %s, %s mode, max packet %u bytes)\n",
	       vmbus_guid_format(vmbus_device_instance_id(device), instance_text),
	       vmbus_device_backend_name(device), interrupt_mode ? "interrupt" : "poll",
	       vmbus_chan_max_packet_size(channel));

	if (exchange(channel, interrupt_mode, "version 2.0", &version, sizeof(version),
		     version.header.trans_id, DM_VERSION_RESPONSE, timeout_ms) != 0 ||
	    exchange(channel, interrupt_mode, "capabilities", &capabilities, sizeof(capabilities),
		     capabilities.header.trans_id, DM_CAPABILITIES_RESPONSE, timeout_ms) != 0) {
		status = EXIT_EXCHANGE_FAILED;
		goto out_close_channel;
	}

	vmbus_chan_get_stats(channel, &stats);
	printf("stats: %" PRIu64 " packets sent, %" PRIu64 " received, %" PRIu64 " signals sent, "
	       "%" PRIu64 " sleeps, %u interrupts\n", stats.packets_sent, stats.packets_received,
	       stats.signals_sent, stats.sleeps, vmbus_uio_interrupt_count(device));
	/* The mode must have been what it claims: otherwise the test proves nothing about it. */
	if (interrupt_mode && (stats.sleeps < 2 || vmbus_uio_interrupt_count(device) < 2)) {
		fprintf(stderr, "vmbus-probe: interrupt mode, but the responses did not come with interrupts\n");
		status = EXIT_EXCHANGE_FAILED;
	} else if (!interrupt_mode && stats.sleeps != 0) {
		fprintf(stderr, "vmbus-probe: poll mode, but a wait slept\n");
		status = EXIT_EXCHANGE_FAILED;
	} else {
		printf("balloon handshake: PASS (%s mode)\n", interrupt_mode ? "interrupt" : "poll");
	}

out_close_channel:
	vmbus_chan_close(channel);
out_close_device:
	vmbus_device_close(device);
	return status;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "class", required_argument, NULL, 'c' },
		{ "instance", required_argument, NULL, 'i' },
		{ "mode", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 't' },
		{ "sysfs-root", required_argument, NULL, 's' },
		{ "dev-root", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vmbus_uio_config config = { 0 };
	struct vmbus_guid class_id, instance_id;
	bool have_instance = false, interrupt_mode = false;
	const char *command;
	int option, timeout_ms = 10000;
	char *end;

	if (argc < 2 || argv[1][0] == '-') {
		if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
			usage(stdout);
			return EXIT_OK;
		}
		usage(stderr);
		return EXIT_USAGE;
	}
	command = argv[1];
	vmbus_guid_parse(DM_CLASS, &class_id);
	optind = 2;
	while ((option = getopt_long(argc, argv, "c:i:m:t:s:d:h", options, NULL)) != -1) {
		switch (option) {
		case 'c':
			if (vmbus_guid_parse(optarg, &class_id) != 0) {
				fprintf(stderr, "vmbus-probe: bad --class '%s' (want a GUID)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'i':
			if (vmbus_guid_parse(optarg, &instance_id) != 0) {
				fprintf(stderr, "vmbus-probe: bad --instance '%s' (want a GUID)\n", optarg);
				return EXIT_USAGE;
			}
			have_instance = true;
			break;
		case 'm':
			if (strcmp(optarg, "poll") != 0 && strcmp(optarg, "interrupt") != 0) {
				fprintf(stderr, "vmbus-probe: bad --mode '%s' (poll or interrupt)\n", optarg);
				return EXIT_USAGE;
			}
			interrupt_mode = strcmp(optarg, "interrupt") == 0;
			break;
		case 't':
			errno = 0;
			timeout_ms = (int)strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || timeout_ms <= 0) {
				fprintf(stderr, "vmbus-probe: bad --timeout '%s' (milliseconds > 0)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 's':
			config.sysfs_root = optarg;
			break;
		case 'd':
			config.dev_root = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vmbus-probe: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (strcmp(command, "list") == 0)
		return list_devices(&config);
	if (strcmp(command, "balloon") == 0)
		return run_balloon(&config, &class_id, have_instance ? &instance_id : NULL, interrupt_mode,
				   timeout_ms);
	fprintf(stderr, "vmbus-probe: unknown command '%s' (list or balloon)\n", command);
	return EXIT_USAGE;
}
