/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client that keeps many mixed requests in flight through liblowlat's queues and checks
 * every answer: echoes of random bytes (compared byte for byte), buffer WRITEs (every byte of
 * the buffer compared with the pattern, and the host's CRC32C with ours) and READs of random
 * data (the host's CRC32C with ours). Used by pmd_e2e and by the soak test.
 */
#ifndef TESTS_E2E_LOAD_H
#define TESTS_E2E_LOAD_H

#include <stdbool.h>
#include <stdint.h>

struct load_options {
	uint64_t requests;    /* stop after this many answers (0: no limit) */
	uint64_t duration_ns; /* or after this long (0: no limit) */
	unsigned int depth;   /* requests in flight, 1..64 */
	uint32_t seed;
	int progress_fd;      /* >= 0: a byte written after every 1000 answers */
	int timeout_ms;       /* per request */
	bool gated;           /* once attached: a byte to progress_fd, then one byte from start_fd */
	int start_fd;         /* before the first request (so that clients can be made to overlap) */
};

struct load_report {
	uint64_t completed;   /* answered with status 0 and checked */
	uint64_t failed;      /* answered with an error (timeouts included) */
	uint64_t timeouts;    /* of those: -ETIMEDOUT, i.e. lost by the transport */
	uint64_t corrupted;   /* answered with status 0 but wrong bytes or checksum */
	uint64_t duplicated;  /* a second answer for a request already answered */
	uint64_t unanswered;  /* still in flight when the run ended */
};

/*
 * Attach (winapi_init()), run, detach. @return 0 when the run went to its end (whatever the
 * report says); -1 when the library refused to start or to take requests.
 */
int load_run(const struct load_options *options, struct load_report *report);

#endif /* TESTS_E2E_LOAD_H */
