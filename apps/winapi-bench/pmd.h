/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The winapi-pmd path in winapi-bench: liblowlat on the guest CPU, attached to winapi-pmd
 * --backend inline, whose one worker runs on the host CPU with the emulator's host inside it
 * (two cores cannot hold a client, a worker and a host thread that all poll).
 */
#ifndef APPS_WINAPI_BENCH_PMD_H
#define APPS_WINAPI_BENCH_PMD_H

#include <winapi/lowlat.h>

#include "bench.h"

/*
 * In the child forked to be the daemon: exec winapi-pmd (@binary), clients at @socket_path.
 * Returns only if the exec failed.
 */
void bench_pmd_exec(const struct bench_options *options, const char *binary, const char *socket_path);

/* One round's slice of the pmd figures, through @handle: 0 or negative errno. */
int bench_pmd_slice(const struct bench_options *options, winapi_handle_t handle, struct bench_results *results);

#endif /* APPS_WINAPI_BENCH_PMD_H */
