/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * liblowlat's way to winapi-pmd ("pmd"): the daemon offers each client a private winapi
 * device over the emulator's bus protocol (drivers/bus/sim), so the client stack above the
 * bus is the same as on the emulator: this file only finds the daemon's socket.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmbus/sim.h>
#include <winapi/log.h>
#include <winapi_internal/pmd.h>
#include <winapi_internal/request_table.h>

#include "winapi_private.h"

/*
 * The default instance's socket in this user's runtime directory (@system false) or the
 * system one (a daemon run by systemd), if it may be trusted: one another user planted
 * (/tmp/dpdk is anyone's to create) is skipped, and @skipped says why.
 */
static int default_socket(bool system, char *path, size_t size, char *skipped, size_t skipped_size)
{
	const char *why = NULL;
	size_t used = strlen(skipped);
	int rc;

	rc = winapi_pmd_socket_path(NULL, system, WINAPI_PMD_CLIENT_SOCKET, path, size);
	if (rc == 0)
		rc = winapi_pmd_socket_check(path, &why);
	if (why != NULL)
		snprintf(skipped + used, skipped_size - used, "; skipped %s: it or its directory %s", path, why);
	return rc;
}

/* $WINAPI_PMD_SOCKET as it is (the user chose it), else the defaults, the user's first. */
static int pmd_open(bool automatic, struct winapi_transport_instance *instance)
{
	const char *explicit_path = secure_getenv("WINAPI_PMD_SOCKET");
	struct vmbus_device *device;
	char path[108], skipped[512] = "";
	int rc;

	(void)automatic;
	if (explicit_path != NULL && *explicit_path != '\0') {
		rc = vmbus_sim_socket_path(explicit_path, path, sizeof(path));
	} else {
		rc = default_socket(false, path, sizeof(path), skipped, sizeof(skipped));
		if (rc != 0 && rc != -ENAMETOOLONG)
			rc = default_socket(true, path, sizeof(path), skipped, sizeof(skipped));
	}
	if (rc == 0)
		rc = vmbus_sim_connect(path, request_default_timeout_ms(), &device);
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "cannot attach to winapi-pmd at %s: %s%s%s",
			   rc == -ENAMETOOLONG ? "(path too long)" : path, strerror(-rc),
			   rc == -ENOENT || rc == -ECONNREFUSED ?
				   " (is winapi-pmd running? point WINAPI_PMD_SOCKET at its socket)" :
			   rc == -EACCES ? " (the socket is 0660: join the daemon's --group)" :
			   rc == -EUSERS ? " (this user has --max-clients-per-uid clients attached already)" :
			   rc == -EPERM ? " (on the emulator backend the daemon serves its own user and root only)" :
					  "", skipped);
		return rc;
	}
	return winapi_transport_bind(device, instance);
}

const struct winapi_transport winapi_transport_pmd = {
	.name = "pmd",
	.automatic = false,
	.open = pmd_open,
};
