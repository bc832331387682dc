/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "emulator.h"

/*
 * How long a daemon may take to start listening, or to exit once signalled. Both take
 * milliseconds on a quiet machine; the bound is for a loaded one (make check-load: every core
 * busy, a sanitizer build), where a start or a drain can wait seconds for a CPU.
 */
#define EMULATOR_WAIT_MS 30000

void sleep_ms(long ms)
{
	struct timespec delay = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&delay, NULL);
}

int emulator_prepare_program(struct emulator *emulator, const char *name, const char *program)
{
	memset(emulator, 0, sizeof(*emulator));
	emulator->program = program;
	snprintf(emulator->directory, sizeof(emulator->directory), "/tmp/%s.XXXXXX", name);
	if (mkdtemp(emulator->directory) == NULL)
		return -1;
	snprintf(emulator->socket_path, sizeof(emulator->socket_path), "%s/%s.sock", emulator->directory, program);
	snprintf(emulator->log_path, sizeof(emulator->log_path), "%s/%s.log", emulator->directory, program);
	return 0;
}

int emulator_prepare(struct emulator *emulator, const char *name)
{
	if (emulator_prepare_program(emulator, name, "winapi-host-sim") != 0)
		return -1;
	setenv("WINAPI_SIM_SOCKET", emulator->socket_path, 1);
	setenv("WINAPI_TRANSPORT", "sim", 1);
	return 0;
}

/*
 * Whether a unix socket listens at @path. A daemon that binds its path directly creates the
 * file a moment before listen(); a probe connect() would count as a client (and hold the
 * emulator's accept loop), so ask the kernel: /proc/net/unix flags 00010000 (__SO_ACCEPTCON)
 * mark a listener. The emulator binds another name and renames it to @path once it listens
 * (the kernel's table keeps the name it was bound to): a path no socket was bound to is one
 * of those.
 */
static bool listening(const char *path)
{
	char line[512], name[256];
	unsigned int flags;
	bool bound = false, found = false;
	FILE *table = fopen("/proc/net/unix", "r");

	if (table == NULL)
		return true; /* no way to tell: the socket file will do */
	while (!found && fgets(line, sizeof(line), table) != NULL)
		if (sscanf(line, "%*s %*s %*s %x %*s %*s %*s %255s", &flags, name) == 2 && strcmp(name, path) == 0) {
			bound = true;
			found = (flags & 0x10000u) != 0;
		}
	fclose(table);
	return found || !bound;
}

/* Fork and exec the prepared program with @with_socket's --socket and @arguments. 0 or -1. */
static int spawn(struct emulator *emulator, const char *const *arguments, bool with_socket, char *binary,
		 size_t binary_size)
{
	const char *bin_dir = getenv("WINAPI_BIN_DIR");
	const char *argv[32] = { binary };
	int argc = 1, i;

	if (emulator->pid > 0) {
		fprintf(stderr, "an emulator is already running (pid %d)\n", (int)emulator->pid);
		return -1;
	}
	if (with_socket) {
		argv[argc++] = "--socket";
		argv[argc++] = emulator->socket_path;
	}
	for (i = 0; arguments != NULL && arguments[i] != NULL && argc < 31; i++)
		argv[argc++] = arguments[i];
	argv[argc] = NULL;
	snprintf(binary, binary_size, "%s/%s", bin_dir != NULL ? bin_dir : "build/bin", emulator->program);
	/* A killed emulator leaves its socket file; remove it so that the wait below means the
	 * new one is up (replacing stale files is the emulator's own job, tested in sim_ut). */
	unlink(emulator->socket_path);
	emulator->pid = fork();
	if (emulator->pid < 0) {
		fprintf(stderr, "fork: %s\n", strerror(errno));
		emulator->pid = 0;
		return -1;
	}
	if (emulator->pid == 0) {
		/* If this test dies (a timeout kills it), the emulator must not outlive it. */
		int null_fd = open("/dev/null", O_WRONLY);

		int log_fd = open(emulator->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* The log is opened as the test's user, in its private directory, before this. */
		if (emulator->uid != 0 &&
		    (setgroups(1, &emulator->gid) != 0 || setresgid(emulator->gid, emulator->gid, emulator->gid) != 0 ||
		     setresuid(emulator->uid, emulator->uid, emulator->uid) != 0)) {
			fprintf(stderr, "cannot become uid %u: %s\n", (unsigned int)emulator->uid, strerror(errno));
			_exit(127);
		}
		/* After the change of user, which clears it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (null_fd >= 0)
			dup2(null_fd, STDOUT_FILENO);
		if (log_fd >= 0)
			dup2(log_fd, STDERR_FILENO);
		execv(binary, (char *const *)argv);
		fprintf(stderr, "cannot start %s: %s\n", binary, strerror(errno));
		_exit(127);
	}
	return 0;
}

/*
 * Until the started program is up: its socket listens, or (@ready not NULL) its log holds
 * @ready. 0, or -1 (said on stderr) when it exited first or was not up in time.
 */
static int wait_started(struct emulator *emulator, const char *binary, const char *ready)
{
	struct stat st;
	int i;

	for (i = 0; i < EMULATOR_WAIT_MS / 10; i++) {
		if (ready != NULL ? emulator_log_contains(emulator, ready) :
				    stat(emulator->socket_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
					    listening(emulator->socket_path))
			return 0;
		if (waitpid(emulator->pid, NULL, WNOHANG) == emulator->pid) {
			emulator->pid = 0;
			fprintf(stderr, "%s exited at start\n", binary);
			return -1;
		}
		sleep_ms(10);
	}
	if (ready != NULL)
		fprintf(stderr, "%s never logged \"%s\" within %d s\n", binary, ready, EMULATOR_WAIT_MS / 1000);
	else
		fprintf(stderr, "%s did not create %s within %d s\n", binary, emulator->socket_path,
			EMULATOR_WAIT_MS / 1000);
	return -1;
}

int emulator_start_logged(struct emulator *emulator, const char *const *arguments, const char *ready)
{
	char binary[512];

	if (spawn(emulator, arguments, false, binary, sizeof(binary)) != 0)
		return -1;
	if (wait_started(emulator, binary, ready) != 0) {
		emulator_stop(emulator, SIGKILL); /* no-op when it exited by itself */
		return -1;
	}
	return 0;
}

int emulator_start(struct emulator *emulator, const char *const *arguments)
{
	char binary[512];

	if (spawn(emulator, arguments, true, binary, sizeof(binary)) != 0)
		return -1;
	return wait_started(emulator, binary, NULL);
}

int emulator_stop(struct emulator *emulator, int signal_number)
{
	int status = -1, i;

	if (emulator->pid <= 0)
		return -1;
	kill(emulator->pid, signal_number);
	for (i = 0; i < EMULATOR_WAIT_MS / 10; i++) {
		if (waitpid(emulator->pid, &status, WNOHANG) == emulator->pid) {
			emulator->pid = 0;
			return status;
		}
		sleep_ms(10);
	}
	kill(emulator->pid, SIGKILL);
	waitpid(emulator->pid, &status, 0);
	emulator->pid = 0;
	return -1;
}

unsigned int emulator_log_count(const struct emulator *emulator, const char *text)
{
	char line[1024];
	unsigned int found = 0;
	FILE *log = fopen(emulator->log_path, "r");

	if (log == NULL)
		return 0;
	while (fgets(line, sizeof(line), log) != NULL)
		found += strstr(line, text) != NULL;
	fclose(log);
	return found;
}

bool emulator_log_contains(const struct emulator *emulator, const char *text)
{
	return emulator_log_count(emulator, text) != 0;
}

int emulator_wait_log(const struct emulator *emulator, const char *text)
{
	int i;

	for (i = 0; i < EMULATOR_WAIT_MS / 10; i++) {
		if (emulator_log_contains(emulator, text))
			return 0;
		sleep_ms(10);
	}
	fprintf(stderr, "%s never logged \"%s\" (log: %s)\n", emulator->program, text, emulator->log_path);
	return -1;
}

void emulator_cleanup(struct emulator *emulator)
{
	emulator_stop(emulator, SIGKILL);
	unlink(emulator->socket_path);
	unlink(emulator->log_path);
	rmdir(emulator->directory);
}
