/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * liblowlat's way to winapi-pmd ("pmd"): the daemon offers each client a private winapi
 * device over the emulator's bus protocol (drivers/bus/sim), so the client stack above the
 * bus is the same as on the emulator: this file only finds the daemon's socket.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmbus/sim.h>
#include <winapi/log.h>
#include <winapi_internal/pmd.h>
#include <winapi_internal/request_table.h>

#include "winapi_private.h"

/*
 * $WINAPI_PMD_SOCKET, else the default instance in this user's runtime directory, else the
 * system one (a daemon run by systemd).
 */
static int pmd_open(bool automatic, struct winapi_transport_instance *instance)
{
	const char *explicit_path = secure_getenv("WINAPI_PMD_SOCKET");
	struct vmbus_device *device;
	char path[108];
	int rc;

	(void)automatic;
	if (explicit_path != NULL && *explicit_path != '\0') {
		rc = vmbus_sim_socket_path(explicit_path, path, sizeof(path));
	} else {
		rc = winapi_pmd_socket_path(NULL, false, WINAPI_PMD_CLIENT_SOCKET, path, sizeof(path));
		if (rc == 0 && access(path, F_OK) != 0)
			rc = winapi_pmd_socket_path(NULL, true, WINAPI_PMD_CLIENT_SOCKET, path, sizeof(path));
	}
	if (rc == 0)
		rc = vmbus_sim_connect(path, request_default_timeout_ms(), &device);
	if (rc != 0) {
		winapi_log(WINAPI_LOG_ERR, "lowlat", "cannot attach to winapi-pmd at %s: %s%s",
			   rc == -ENAMETOOLONG ? "(path too long)" : path, strerror(-rc),
			   rc == -ENOENT || rc == -ECONNREFUSED ?
				   " (is winapi-pmd running? point WINAPI_PMD_SOCKET at its socket)" :
				   rc == -EACCES ? " (the socket is 0660: join the daemon's --group)" : "");
		return rc;
	}
	return winapi_transport_bind(device, instance);
}

const struct winapi_transport winapi_transport_pmd = {
	.name = "pmd",
	.automatic = false,
	.open = pmd_open,
};
