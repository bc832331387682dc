/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Where a winapi-pmd instance keeps its sockets, shared by the daemon and by liblowlat's
 * "pmd" transport. Not installed.
 *
 * An instance is named by its file prefix (--file-prefix, default "winapi-pmd") and lives in
 * <rundir>/dpdk/<prefix>/, as a DPDK process does, so that DPDK's dpdk-telemetry.py -f <prefix>
 * finds its telemetry socket: rundir is /var/run for root, else $XDG_RUNTIME_DIR, else /tmp.
 *
 *   <rundir>/dpdk/<prefix>/winapi-pmd.sock     clients attach here (the emulator's protocol)
 *   <rundir>/dpdk/<prefix>/dpdk_telemetry.v2   DPDK telemetry v2
 *
 * Synchronisation: both calls may run concurrently with anything.
 *
 * Owner: drivers/winapi
 */
#ifndef WINAPI_PMD_H
#define WINAPI_PMD_H

#include <stdbool.h>
#include <stddef.h>

#define WINAPI_PMD_DEFAULT_PREFIX "winapi-pmd"
#define WINAPI_PMD_CLIENT_SOCKET "winapi-pmd.sock"
#define WINAPI_PMD_TELEMETRY_SOCKET "dpdk_telemetry.v2"

/**
 * The instance directory of @p prefix (NULL: the default) into @p path, as this process's
 * user would create it (@p system false) or as root does (@p system true: /var/run/dpdk/...,
 * where a client that is not root finds a daemon run by systemd).
 * @return 0; -EINVAL (a prefix that is empty, has '/' or starts with '.'); -ENAMETOOLONG.
 */
int winapi_pmd_runtime_dir(const char *prefix, bool system, char *path, size_t size);

/**
 * The path of @p file (WINAPI_PMD_CLIENT_SOCKET, WINAPI_PMD_TELEMETRY_SOCKET) in that
 * directory, checked against the length a unix socket address allows.
 * @return as winapi_pmd_runtime_dir().
 */
int winapi_pmd_socket_path(const char *prefix, bool system, const char *file, char *path, size_t size);

#endif /* WINAPI_PMD_H */
