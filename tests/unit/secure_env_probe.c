/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What liblowlat took from the environment, for tests/unit/secure_env_test.sh: the same
 * binary runs once plain and once setuid, and in the setuid run (AT_SECURE) every value must
 * be the library's default. Prints key=value lines on stdout; then, with --init, calls
 * winapi_init(), or with --open NAME opens that transport directly, whose failure message
 * (stderr) names the path it tried: so the variables that only steer one transport are seen
 * too, with no host running, even where WINAPI_TRANSPORT (rightly) cannot choose it.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#include <vmbus/channel.h>

#include <vmbus/sim.h>
#include <winapi/log.h>
#include <winapi/lowlat.h>
#include <winapi_internal/hvsock.h>
#include <winapi_internal/pmd.h>
#include <winapi_internal/request_table.h>
#include <winapi_internal/transport.h>

/*
 * LeakSanitizer stops the world with ptrace, which a setuid process (not dumpable) refuses,
 * and the sanitizers ignore ASAN_OPTIONS under AT_SECURE: so the sanitizer build's probe
 * turns it off itself. Unused otherwise.
 */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return 1;
}

int main(int argc, char **argv)
{
	char path[256];
	uint32_t port;
	struct winapi_transport_instance instance;
	winapi_handle_t handle;
	size_t i;
	int rc;

	/* Without AT_SECURE the setuid run proves nothing: the script skips instead of passing. */
	printf("at_secure=%lu\n", getauxval(AT_SECURE));
	printf("log_level=%d\n", (int)winapi_log_get_level());
	printf("timeout_ms=%d\n", request_default_timeout_ms());
	rc = vmbus_sim_socket_path(NULL, path, sizeof(path));
	printf("sim_socket=%s\n", rc == 0 ? path : strerror(-rc));
	rc = winapi_pmd_runtime_dir(NULL, false, path, sizeof(path));
	printf("pmd_runtime_dir=%s\n", rc == 0 ? path : strerror(-rc));
	rc = winapi_hvsock_port_from_environment(&port);
	if (rc == 0)
		printf("hvsock_port=%#x\n", (unsigned int)port);
	else
		printf("hvsock_port=%s\n", strerror(-rc));

	if (argc > 1 && strcmp(argv[1], "--init") == 0) {
		/* stdout first: the script reads both streams as one and the order helps whoever reads it. */
		fflush(stdout);
		handle = winapi_init();
		if (handle != NULL) {
			printf("init=attached\n");
			winapi_cleanup(handle);
		} else {
			printf("init=%s\n", strerror(errno));
		}
	} else if (argc > 2 && strcmp(argv[1], "--open") == 0) {
		fflush(stdout);
		for (i = 0; winapi_transports[i] != NULL; i++)
			if (strcmp(winapi_transports[i]->name, argv[2]) == 0)
				break;
		if (winapi_transports[i] == NULL) {
			fprintf(stderr, "secure_env_probe: no transport %s\n", argv[2]);
			return 2;
		}
		rc = winapi_transports[i]->open(false, &instance);
		if (rc == 0) {
			printf("open=attached\n");
			instance.ops->close(instance.context);
			if (instance.device != NULL)
				vmbus_device_close(instance.device);
		} else {
			printf("open=%s\n", strerror(-rc));
		}
	}
	return 0;
}
