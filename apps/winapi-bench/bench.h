/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-bench's pieces: what it measures (measure.c), how it reports it (report.c), and the
 * options main.c parses.
 */
#ifndef APPS_WINAPI_BENCH_BENCH_H
#define APPS_WINAPI_BENCH_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <winapi/lowlat.h>

#include "histogram.h"

#define BENCH_ECHO_SIZES 3
#define BENCH_BATCH_SIZES 3
#define BENCH_BUFFER_SIZES 3
#define BENCH_TARGETS 14
#define BENCH_COLD_CALLS 1000 /* round trips of each fresh attach in the cold-start figure */
/*
 * How long a polled side spins before it sleeps: far longer than any round trip, so both
 * sides poll throughout a slice, and short enough that the emulator stops spinning on the
 * host CPU while the baseline has its turn there.
 */
#define BENCH_POLLED_SPIN_NS "1000000"

extern const size_t bench_echo_sizes[BENCH_ECHO_SIZES];        /* 0, 64, 3072 bytes */
extern const unsigned int bench_batch_sizes[BENCH_BATCH_SIZES]; /* 1, 8, 32 */
extern const size_t bench_buffer_sizes[BENCH_BUFFER_SIZES];    /* 64 KiB, 1 MiB, 16 MiB */

struct bench_options {
	int guest_cpu;              /* runs the guest, the ping side, the baseline's client */
	int host_cpu;               /* runs the emulators, winapi-hostd, the pong side, the baseline's host */
	bool quick;
	unsigned int rounds;        /* every measurement is cut in this many slices, interleaved */
	const char *json_path;
	const char *plot_path;
	const char *emulator_path;
	const char *hostd_path;     /* winapi-hostd, the hvsock transport's host */
	uint64_t polled_samples;    /* per polled latency, over all rounds */
	uint64_t blocking_samples;  /* interrupt mode and the baseline: each round trip sleeps */
	double seconds;             /* each request-rate and bandwidth figure, over all rounds */
	uint64_t file_size;         /* the file read figure's file: 256 MiB (quick: 32 MiB) */
};

struct latency {
	const char *name;
	size_t size;
	struct histogram histogram;
};

/* Requests or bytes done, and the time they took, summed over the rounds. */
struct throughput {
	double amount;
	double seconds;
};

struct bench_results {
	struct latency cache_line;                 /* the floor: one line between two cores */
	struct latency ring;                       /* the floor of the wire format: the 64 B echo's packet */
	struct latency ring_large;                 /* the same with the largest echo's packet */
	struct throughput ring_rate[BENCH_BATCH_SIZES]; /* the floor of the request rate: bare rings */
	double memory_read_gbps;                   /* best of the rounds; a buffer larger than the caches */
	double buffer_read_gbps[BENCH_BUFFER_SIZES]; /* best of the rounds; in VERIFY's state */
	double crc32c_gbps[BENCH_BUFFER_SIZES];    /* best of the rounds */
	double copy_gbps;                          /* memcpy of the largest echo's payload, in cache */
	struct latency echo_polled[BENCH_ECHO_SIZES];
	struct latency echo_interrupt;             /* 64 bytes */
	struct latency echo_cold;                  /* 64 bytes: the first calls of a fresh attach */
	struct latency attach;                     /* winapi_init() of each of those attaches */
	struct latency baseline_echo[BENCH_ECHO_SIZES];
	struct throughput rate[BENCH_BATCH_SIZES];
	struct throughput baseline_rate[BENCH_BATCH_SIZES];
	struct throughput verify[BENCH_BUFFER_SIZES];
	struct throughput baseline_verify[BENCH_BUFFER_SIZES];
	uint32_t verify_checksum[BENCH_BUFFER_SIZES];
	uint32_t baseline_verify_checksum[BENCH_BUFFER_SIZES];
	/* liblowlat over the hvsock transport (WSL2's), against winapi-hostd on AF_UNIX */
	struct latency hvsock_echo[BENCH_ECHO_SIZES];
	struct throughput hvsock_rate[BENCH_BATCH_SIZES];
	struct throughput hvsock_verify[BENCH_BUFFER_SIZES];
	uint32_t hvsock_verify_checksum[BENCH_BUFFER_SIZES];
	/* liblowlat through winapi-pmd --backend inline, its worker on the host CPU (pmd.c) */
	struct latency pmd_echo;                   /* 64 bytes, polled */
	struct throughput pmd_rate;                /* batches of 32 */
	/* A file of the host's (in its page cache) read whole, once a round on each path */
	struct throughput file_read;               /* host.file.read into zero-copy buffers, VMBus */
	struct throughput hvsock_file_read;        /* host.file.read over the hvsock transport */
	struct throughput baseline_file_read;      /* the baseline's JSON request, the bytes on its socket */
	double cat_gbps;                           /* the floor: cat of the file on the host CPU */
	uint64_t cat_ns, cat_empty_ns;             /* least of the rounds: cat of the file, of nothing */
	uint32_t file_checksum;                    /* CRC32C of the file: every path's bytes checked */
};

struct bench_target {
	unsigned int issue;  /* the issue that set it */
	const char *goal;
	double measured;
	double bound;
	bool at_most;  /* met when measured <= bound, else when measured >= bound */
	const char *unit;
};

/* measure.c: every measurement, in options->rounds interleaved rounds. 0 or negative errno. */
void bench_results_init(struct bench_results *results);
int bench_measure(const struct bench_options *options, struct bench_results *results);
/* The slices every liblowlat path shares: the same warm-up, samples and checks of each reply. */
int bench_echo_slice(winapi_handle_t handle, size_t size, uint64_t samples, struct histogram *histogram);
int bench_rate_slice(winapi_handle_t handle, unsigned int batch, double seconds, struct throughput *throughput);

/* report.c */
double bench_rate(const struct throughput *throughput);
void bench_evaluate_targets(const struct bench_results *results, struct bench_target targets[BENCH_TARGETS]);
void bench_print(const struct bench_options *options, const struct bench_results *results, const char *machine,
		 const struct bench_target targets[BENCH_TARGETS]);
int bench_write_json(const char *path, const struct bench_options *options, const struct bench_results *results,
		     const char *machine, const struct bench_target targets[BENCH_TARGETS]);
int bench_write_plot(const char *path, const struct bench_results *results);

/* A progress line on stderr; an error line on stderr (returns @rc). */
void bench_progress(const char *format, ...) __attribute__((format(printf, 1, 2)));
int bench_fail(const char *what, int rc);

#endif /* APPS_WINAPI_BENCH_BENCH_H */
