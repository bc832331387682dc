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
 * Trust: the directories and sockets are only used when this process's user or root owns
 * them, they are what they claim (no symbolic links), and nobody else may write the
 * directories; a path planted by another user (/tmp/dpdk is anyone's to create) is refused by
 * the daemon and skipped by clients.
 *
 * Synchronisation: every call may run concurrently with anything.
 *
 * Owner: drivers/winapi
 */
#ifndef WINAPI_PMD_H
#define WINAPI_PMD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

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

/**
 * Make @p path a directory of @p mode (less the umask) if it is missing, then open it and
 * check that it may hold the daemon's sockets: a directory and not a symbolic link (the last
 * component is not followed), owned by this process's user or root, writable by its owner
 * alone. Its parent must exist (and be checked by the caller in turn).
 * @param why set to what is wrong when the check fails (a string literal), else untouched
 * @return an O_DIRECTORY descriptor, so that fchmod() and fchown() on it act on what was
 *         checked; -ENOTDIR (a symbolic link, or not a directory); -EPERM (another user's, or
 *         writable by group or others); other negative errno from mkdir(2) or open(2).
 */
int winapi_pmd_dir_open(const char *path, mode_t mode, const char **why);

/**
 * Whether a client may attach at @p path (a socket in an instance directory,
 * <rundir>/dpdk/<prefix>/<file>): the socket and both directories above it belong to this
 * process's user or root, neither directory is a symbolic link or writable by others (so
 * nobody else can swap the socket between this check and the connect), and the socket is one.
 * @param why as winapi_pmd_dir_open()
 * @return 0; -ENOTDIR, -EPERM as winapi_pmd_dir_open(); -ENOTSOCK; other negative errno from
 *         lstat(2) (-ENOENT: nothing there).
 */
int winapi_pmd_socket_check(const char *path, const char **why);

#endif /* WINAPI_PMD_H */
