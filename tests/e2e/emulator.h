/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * End-to-end tests run the real winapi-host-sim ($WINAPI_BIN_DIR, else build/bin) as a child
 * that dies with the test, on a private socket that WINAPI_SIM_SOCKET points at; its log goes
 * to a file the test can read.
 */
#ifndef TESTS_E2E_EMULATOR_H
#define TESTS_E2E_EMULATOR_H

#include <stdbool.h>
#include <sys/types.h>

struct emulator {
	const char *program;  /* winapi-host-sim, or another daemon that takes --socket PATH */
	char directory[64];
	char socket_path[128];
	char log_path[128];   /* the emulator's stderr (its log), appended across starts */
	pid_t pid;
	/* Not 0 (set after prepare, the test being root): the program runs as this user, with
	 * this group as its only one, to test what a daemon of an unprivileged user does. */
	uid_t uid;
	gid_t gid;
};

/* A private directory and socket path, exported as WINAPI_SIM_SOCKET. 0 or -1. */
int emulator_prepare(struct emulator *emulator, const char *name);

/* The same for another daemon of build/bin that takes --socket PATH (winapi-pmd); no
 * environment is set. 0 or -1. */
int emulator_prepare_program(struct emulator *emulator, const char *name, const char *program);

/*
 * Start winapi-host-sim (or the prepared program) with @arguments (NULL-terminated, after --socket) and wait (bounded)
 * until it listens. 0 or -1 (with a message on stderr).
 */
int emulator_start(struct emulator *emulator, const char *const *arguments);

/*
 * Start the prepared program with @arguments alone (no --socket: it listens elsewhere, as
 * winapi-hostd --tcp does) and wait (bounded) until its log holds @ready. 0 or -1.
 */
int emulator_start_logged(struct emulator *emulator, const char *const *arguments, const char *ready);

/* Send @signal_number and wait (bounded) for it to exit. Its wait status, or -1. */
int emulator_stop(struct emulator *emulator, int signal_number);

/* How many lines of the emulator's log contain @text now; whether any does. */
unsigned int emulator_log_count(const struct emulator *emulator, const char *text);
bool emulator_log_contains(const struct emulator *emulator, const char *text);

/*
 * Wait (bounded: 30 s, however loaded the machine) until the emulator's log holds a line
 * containing @text: what a test waits for instead of sleeping while the emulator works.
 * 0, or -1 (with a message on stderr) if it never came.
 */
int emulator_wait_log(const struct emulator *emulator, const char *text);

/* Kill what is left and remove the directory. */
void emulator_cleanup(struct emulator *emulator);

void sleep_ms(long ms);

#endif /* TESTS_E2E_EMULATOR_H */
