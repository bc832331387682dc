/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The baseline winapi-bench compares against: the design of the WSL2 proof of concept (seed
 * 002), built honestly. Each message is a 4-byte little-endian length and a JSON object
 * (jansson); bulk data follows its header on the same stream socket (AF_UNIX standing in for
 * the Hyper-V socket). The host side does the same work as ours: it echoes the text,
 * writes, reads or verifies the buffer bytes with the same CRC32C, and reads a file.
 */
#ifndef APPS_WINAPI_BENCH_BASELINE_H
#define APPS_WINAPI_BENCH_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#include <winapi_internal/hvsock.h>
#include <winapi/lowlat.h>

/* Serve one connection until the client closes it. Returns 0, or negative errno. */
int baseline_serve(int fd);

struct baseline_client {
	int fd;
	uint64_t next_id;
	struct winapi_hvsock_reader reader;
};

/* A client on @fd (connected to a baseline host). */
void baseline_client_init(struct baseline_client *client, int fd);

/*
 * Echo @length bytes of text (no NUL inside) through the host into @output (NUL-terminated).
 * Returns 0 or negative errno (-EPROTO: the host's answer is malformed).
 */
int baseline_echo(struct baseline_client *client, const char *text, size_t length, char *output,
		  size_t output_size);

/*
 * Send @count requests at once, then read the @count answers: pipelining, the socket's
 * equivalent of a batch. Returns 0 or negative errno.
 */
int baseline_echo_batch(struct baseline_client *client, const char *text, size_t length, unsigned int count);

/*
 * BUFFER_TEST over one buffer: WRITE has the host send @length pattern bytes into @buffer;
 * READ and VERIFY send @buffer's bytes to the host. @result as liblowlat fills it.
 */
int baseline_buffer_test(struct baseline_client *client, int operation, void *buffer, size_t length,
			 uint32_t pattern, winapi_buffer_test_result_t *result);

/*
 * Read @length bytes (at most 64 MiB) of the file at @path from @offset through the host into
 * @buffer: the JSON request, the host's pread(), the bytes back on the socket. *@bytes gets
 * what came (less at the file's end). Returns 0 or negative errno.
 */
int baseline_file_read(struct baseline_client *client, const char *path, uint64_t offset, void *buffer, size_t length,
		       size_t *bytes);

#endif /* APPS_WINAPI_BENCH_BASELINE_H */
