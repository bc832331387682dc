// SPDX-License-Identifier: BSD-3-Clause
/*
 * The seed's API snippet (shared/seeds: the WSL2 client's API Reference: init, echo, a 1 MiB
 * buffer test, a throughput test, cleanup) as a program, built by make deb-test against the
 * installed liblowlat-dev with pkg-config and run against the installed emulator. Exit 0
 * only when every call succeeded and the answers are what was sent.
 */
#include <stdio.h>
#include <string.h>

#include <winapi/lowlat.h>

int main(void)
{
	winapi_handle_t handle = winapi_init();
	if (!handle) {
		perror("winapi_init");
		return 1;
	}
	int failed = 0;

	char output[256];
	int result = winapi_echo(handle, "Hello Windows!", output, sizeof(output));
	if (result == 0 && strcmp(output, "Hello Windows!") == 0) {
		printf("Echo response: %s\n", output);
	} else {
		fprintf(stderr, "winapi_echo: %s\n", result ? winapi_strerror(result) : "wrong answer");
		failed = 1;
	}

	winapi_buffer_t buffer;
	result = winapi_alloc_buffer(&buffer, 1024 * 1024);
	if (result == 0) {
		memset(buffer.data, 0xAA, buffer.size);
		winapi_buffer_test_result_t test;
		result = winapi_buffer_test(handle, &buffer, 1, WINAPI_BUFFER_OP_WRITE, 0xAABBCCDD, &test);
		if (result == 0 && test.bytes_processed == buffer.size) {
			printf("Transferred: %lu bytes, Checksum: 0x%08X\n", (unsigned long)test.bytes_processed,
			       (unsigned)test.checksum);
		} else {
			fprintf(stderr, "winapi_buffer_test: %s\n", result ? winapi_strerror(result) : "short");
			failed = 1;
		}
		winapi_free_buffer(&buffer);
	} else {
		fprintf(stderr, "winapi_alloc_buffer: %s\n", winapi_strerror(result));
		failed = 1;
	}

	winapi_perf_test_params_t params = {
		.test_type = WINAPI_PERF_THROUGHPUT,
		.iterations = 1000,
		.target_bytes = 1024 * 1024 * 10,
	};
	winapi_buffer_t buffers[4];
	size_t allocated = 0;
	while (allocated < 4 && winapi_alloc_buffer(&buffers[allocated], 1024 * 1024) == 0)
		allocated++;
	winapi_perf_test_result_t perf;
	result = allocated == 4 ? winapi_perf_test(handle, &params, buffers, 4, &perf) : -1;
	if (result == 0) {
		printf("Throughput: %lu MB/s\n", (unsigned long)perf.throughput_mbps);
		printf("Avg Latency: %lu ns\n", (unsigned long)perf.avg_latency_ns);
	} else {
		fprintf(stderr, "winapi_perf_test: %s\n", result < -1 || result > 0 ? winapi_strerror(result) : "no buffers");
		failed = 1;
	}
	while (allocated > 0)
		winapi_free_buffer(&buffers[--allocated]);

	winapi_cleanup(handle);
	return failed;
}
