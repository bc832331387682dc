/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <winapi/protocol.h>
#include <winapi_internal/clock.h>
#include <winapi_internal/telemetry.h>

/* "/", "/help" and "/info" live in the same sorted table as the daemon's commands. */
#define BUILTIN_COMMANDS 3
/* How long the thread stops accepting after accept() failed for lack of descriptors or memory. */
#define ACCEPT_BACKOFF_MS 1000
/* Largest answer the client accepts, whatever the hello announces. */
#define QUERY_MAX_OUTPUT_LEN (1u << 20)

/* A connection: who it is (SO_PEERCRED at accept) and when it last sent a whole request. */
struct client {
	int fd;
	uid_t uid;
	int64_t active_ms;     /* for the idle timeout */
	uint64_t active_order; /* for "least recently active": a millisecond clock ties */
};

/* The uid of the client whose command the telemetry thread is answering; -1 between commands. */
static __thread uid_t requester = (uid_t)-1;

struct command {
	char name[PMD_TELEMETRY_MAX_COMMAND_LEN + 1];
	char help[PMD_TELEMETRY_MAX_STRING_LEN + 1];
	pmd_telemetry_handler handler;
	void *context;
};

struct pmd_telemetry {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char version[PMD_TELEMETRY_MAX_STRING_LEN + 1];
	/* Sorted by strcmp, so "/" lists them in order and lookups can bisect. */
	struct command commands[BUILTIN_COMMANDS + PMD_TELEMETRY_MAX_COMMANDS];
	unsigned int command_count;
	bool started;
	int listen_fd;
	int stop_fd;
	/* The socket file we bound, so destroy never removes a successor's. */
	dev_t socket_dev;
	ino_t socket_ino;
	pthread_t thread;
	/* From here on, the telemetry thread's alone once started. */
	struct client clients[PMD_TELEMETRY_MAX_CLIENTS];
	unsigned int client_count;
	uint64_t activity;             /* counts accepts and commands: orders the clients */
	char input[PMD_TELEMETRY_MAX_INPUT_LEN + 1];
	char output[PMD_TELEMETRY_MAX_OUTPUT_LEN];
};

static bool command_name_valid(const char *name)
{
	size_t length = strnlen(name, PMD_TELEMETRY_MAX_COMMAND_LEN + 1);
	size_t i;

	if (length == 0 || length > PMD_TELEMETRY_MAX_COMMAND_LEN || name[0] != '/')
		return false;
	/* Explicit ranges: isalnum() would follow the daemon's locale. */
	for (i = 0; i < length; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '/' || c == '-'))
			return false;
	}
	return true;
}

static int compare_command(const void *key, const void *element)
{
	return strcmp(key, ((const struct command *)element)->name);
}

static const struct command *find_command(const struct pmd_telemetry *telemetry, const char *name)
{
	return bsearch(name, telemetry->commands, telemetry->command_count, sizeof(telemetry->commands[0]),
		       compare_command);
}

static int add_command(struct pmd_telemetry *telemetry, const char *name, pmd_telemetry_handler handler,
		       void *context, const char *help)
{
	unsigned int i = 0;

	if (find_command(telemetry, name) != NULL)
		return -EEXIST;
	if (telemetry->command_count >= BUILTIN_COMMANDS + PMD_TELEMETRY_MAX_COMMANDS)
		return -ENOSPC;
	while (i < telemetry->command_count && strcmp(name, telemetry->commands[i].name) > 0)
		i++;
	memmove(&telemetry->commands[i + 1], &telemetry->commands[i],
		(telemetry->command_count - i) * sizeof(telemetry->commands[0]));
	telemetry->commands[i] = (struct command){ .handler = handler, .context = context };
	/* Lengths were checked by the caller, so these copies are whole. */
	snprintf(telemetry->commands[i].name, sizeof(telemetry->commands[i].name), "%s", name);
	snprintf(telemetry->commands[i].help, sizeof(telemetry->commands[i].help), "%s", help);
	telemetry->command_count++;
	return 0;
}

/* ---- built-in commands ---- */

static json_t *info_object(const struct pmd_telemetry *telemetry)
{
	return json_pack("{s:s, s:I, s:i}", "version", telemetry->version, "pid", (json_int_t)getpid(),
			 "max_output_len", PMD_TELEMETRY_MAX_OUTPUT_LEN);
}

static int list_commands(const char *command, const char *params, void *context, json_t **value)
{
	const struct pmd_telemetry *telemetry = context;
	json_t *list = json_array();
	unsigned int i;

	(void)command;
	(void)params;
	if (list == NULL)
		return -ENOMEM;
	for (i = 0; i < telemetry->command_count; i++) {
		if (json_array_append_new(list, json_string(telemetry->commands[i].name)) != 0) {
			json_decref(list);
			return -ENOMEM;
		}
	}
	*value = list;
	return 0;
}

static int show_info(const char *command, const char *params, void *context, json_t **value)
{
	(void)command;
	(void)params;
	*value = info_object(context);
	return *value != NULL ? 0 : -ENOMEM;
}

/* DPDK's answers: "/help,<cmd>" gives {"<cmd>":"<text>"}, bare "/help" its own text as a string. */
static int show_help(const char *command, const char *params, void *context, json_t **value)
{
	const struct command *found = find_command(context, params[0] != '\0' ? params : command);

	if (found == NULL)
		return -ENOENT;
	if (params[0] == '\0')
		*value = json_string(found->help);
	else
		*value = json_pack("{s:s}", found->name, found->help);
	return *value != NULL ? 0 : -ENOMEM;
}

/* ---- the server's public calls ---- */

int pmd_telemetry_create(const char *socket_path, const char *version, struct pmd_telemetry **telemetry_out)
{
	struct pmd_telemetry *telemetry;
	size_t version_length;

	if (socket_path == NULL || socket_path[0] == '\0' || version == NULL)
		return -EINVAL;
	version_length = strnlen(version, PMD_TELEMETRY_MAX_STRING_LEN + 1);
	if (version_length > PMD_TELEMETRY_MAX_STRING_LEN || !winapi_utf8_valid(version, version_length))
		return -EINVAL;
	if (strlen(socket_path) >= sizeof(telemetry->path))
		return -ENAMETOOLONG;
	telemetry = calloc(1, sizeof(*telemetry));
	if (telemetry == NULL)
		return -ENOMEM;
	memcpy(telemetry->path, socket_path, strlen(socket_path) + 1);
	memcpy(telemetry->version, version, version_length + 1);
	telemetry->listen_fd = -1;
	telemetry->stop_fd = -1;
	/* Three inserts into an empty table: cannot fail. */
	add_command(telemetry, "/", list_commands, telemetry, "Lists every command. Takes no parameters");
	add_command(telemetry, "/info", show_info, telemetry,
		    "Shows the telemetry version, pid and max_output_len. Takes no parameters");
	add_command(telemetry, "/help", show_help, telemetry, "Shows the help text of a command. Parameter: the command");
	*telemetry_out = telemetry;
	return 0;
}

int pmd_telemetry_register(struct pmd_telemetry *telemetry, const char *command, pmd_telemetry_handler handler,
			   void *context, const char *help)
{
	size_t help_length;

	if (telemetry->started)
		return -EBUSY;
	if (command == NULL || !command_name_valid(command) || handler == NULL || help == NULL)
		return -EINVAL;
	help_length = strnlen(help, PMD_TELEMETRY_MAX_STRING_LEN + 1);
	if (help_length > PMD_TELEMETRY_MAX_STRING_LEN || !winapi_utf8_valid(help, help_length))
		return -EINVAL;
	return add_command(telemetry, command, handler, context, help);
}

/*
 * bind() said EADDRINUSE. A daemon that died leaves its socket file behind, and nobody
 * accepts on it any more: connect() is refused. Only then is the file ours to replace.
 */
static int remove_stale_socket(const struct sockaddr_un *address)
{
	struct stat status;
	int probe, rc;

	if (lstat(address->sun_path, &status) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(status.st_mode))
		return -EEXIST; /* never delete what is not a socket */
	probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (probe < 0)
		return -errno;
	if (connect(probe, (const struct sockaddr *)address, sizeof(*address)) == 0)
		rc = -EADDRINUSE;
	else if (errno == ECONNREFUSED)
		rc = unlink(address->sun_path) == 0 || errno == ENOENT ? 0 : -errno;
	else if (errno == ENOENT)
		rc = 0; /* gone meanwhile */
	else if (errno == EAGAIN || errno == EPROTOTYPE)
		rc = -EADDRINUSE; /* a full backlog, or a listener of another type: alive either way */
	else
		rc = -errno;
	close(probe);
	return rc;
}

static int bind_socket(struct pmd_telemetry *telemetry)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	struct stat status;
	int fd, rc;

	memcpy(address.sun_path, telemetry->path, strlen(telemetry->path) + 1);
	/* Non-blocking: the thread must never wait on accept(). */
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
		rc = errno == EADDRINUSE ? remove_stale_socket(&address) : -errno;
		if (rc == 0 && bind(fd, (struct sockaddr *)&address, sizeof(address)) != 0)
			rc = -errno;
		if (rc != 0)
			goto err_close_socket;
	}
	if (stat(telemetry->path, &status) != 0) {
		rc = -errno;
		goto err_unlink_socket;
	}
	telemetry->socket_dev = status.st_dev;
	telemetry->socket_ino = status.st_ino;
	telemetry->listen_fd = fd;
	return 0;

err_unlink_socket:
	unlink(telemetry->path);
err_close_socket:
	close(fd);
	return rc;
}

static void *telemetry_thread(void *argument);

int pmd_telemetry_start(struct pmd_telemetry *telemetry, mode_t mode, gid_t group)
{
	sigset_t all, saved;
	int rc;

	if (telemetry->started)
		return -EBUSY;
	rc = bind_socket(telemetry);
	if (rc != 0)
		return rc;
	/* Before listen(): until then a connect is refused, so nobody gets in under the umask's mode. */
	if (chmod(telemetry->path, mode) != 0 ||
	    (group != (gid_t)-1 && chown(telemetry->path, (uid_t)-1, group) != 0) ||
	    listen(telemetry->listen_fd, PMD_TELEMETRY_MAX_CLIENTS) != 0) {
		rc = -errno;
		goto err_unlink_socket;
	}
	telemetry->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (telemetry->stop_fd < 0) {
		rc = -errno;
		goto err_unlink_socket;
	}
	/* Signals belong to the daemon's main thread; this one only ever waits in poll(). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	rc = -pthread_create(&telemetry->thread, NULL, telemetry_thread, telemetry);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (rc != 0)
		goto err_close_stop;
	pthread_setname_np(telemetry->thread, "pmd-telemetry");
	telemetry->started = true;
	return 0;

err_close_stop:
	close(telemetry->stop_fd);
	telemetry->stop_fd = -1;
err_unlink_socket:
	unlink(telemetry->path);
	close(telemetry->listen_fd);
	telemetry->listen_fd = -1;
	return rc;
}

void pmd_telemetry_destroy(struct pmd_telemetry *telemetry)
{
	uint64_t one = 1;
	struct stat status;
	unsigned int i;

	if (telemetry == NULL)
		return;
	if (telemetry->started) {
		/* Fails only if the counter would overflow, and then it is readable already. */
		ssize_t ignored = write(telemetry->stop_fd, &one, sizeof(one));

		(void)ignored;
		pthread_join(telemetry->thread, NULL);
		for (i = 0; i < telemetry->client_count; i++)
			close(telemetry->clients[i].fd);
		if (stat(telemetry->path, &status) == 0 && status.st_dev == telemetry->socket_dev &&
		    status.st_ino == telemetry->socket_ino)
			unlink(telemetry->path);
		close(telemetry->listen_fd);
		close(telemetry->stop_fd);
	}
	free(telemetry);
}

/* ---- the telemetry thread ---- */

/* Every send is non-blocking: one client that stops reading must not stall the others. */
static int send_message(int fd, const char *message, size_t length)
{
	ssize_t sent = send(fd, message, length, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (sent < 0)
		return -errno;
	return (size_t)sent == length ? 0 : -EMSGSIZE;
}

static int send_hello(struct pmd_telemetry *telemetry, int fd)
{
	json_t *hello = info_object(telemetry);
	size_t length;

	if (hello == NULL)
		return -ENOMEM;
	length = json_dumpb(hello, telemetry->output, sizeof(telemetry->output), JSON_COMPACT);
	json_decref(hello);
	if (length == 0 || length > sizeof(telemetry->output))
		return -ENOMEM;
	return send_message(fd, telemetry->output, length);
}

/* Takes @value (NULL: answer null). */
static int send_answer(struct pmd_telemetry *telemetry, int fd, const char *key, size_t key_length, json_t *value)
{
	json_t *answer = json_object();
	size_t length;

	if (answer == NULL) {
		json_decref(value);
		return -ENOMEM;
	}
	if (json_object_setn_new_nocheck(answer, key, key_length, value != NULL ? value : json_null()) != 0)
		goto err_free_answer;
	length = json_dumpb(answer, telemetry->output, sizeof(telemetry->output), JSON_COMPACT);
	if (length == 0 || length > sizeof(telemetry->output)) {
		/* Cut JSON cannot be parsed by the client: say null, as for a failed command. */
		if (json_object_setn_new_nocheck(answer, key, key_length, json_null()) != 0)
			goto err_free_answer;
		length = json_dumpb(answer, telemetry->output, sizeof(telemetry->output), JSON_COMPACT);
		if (length == 0 || length > sizeof(telemetry->output))
			goto err_free_answer;
	}
	json_decref(answer);
	return send_message(fd, telemetry->output, length);

err_free_answer:
	json_decref(answer);
	return -ENOMEM;
}

/*
 * Answer the message in telemetry->input. Everything in it comes from an untrusted peer: it
 * may be cut short (@truncated), hold NUL bytes, or not be text at all.
 * @return 0 to keep the client, negative errno to drop it.
 */
static int answer_message(struct pmd_telemetry *telemetry, int fd, size_t length, bool truncated)
{
	char *text = telemetry->input;
	const char *comma = memchr(text, ',', length);
	size_t command_length = comma != NULL ? (size_t)(comma - text) : length;
	size_t key_length = command_length;
	bool has_nul = memchr(text, '\0', length) != NULL;
	const struct command *command = NULL;
	const char *params;
	json_t *value = NULL;

	/* DPDK names the answer by the command cut to 56 bytes; cut on a character boundary. */
	if (key_length > PMD_TELEMETRY_MAX_COMMAND_LEN) {
		key_length = PMD_TELEMETRY_MAX_COMMAND_LEN;
		while (key_length > 0 && ((unsigned char)text[key_length] & 0xc0) == 0x80)
			key_length--;
	}
	if (!winapi_utf8_valid(text, key_length))
		return -EPROTO; /* no JSON key can name this: not a telemetry client */
	text[length] = '\0';
	text[command_length] = '\0';
	params = comma != NULL ? text + command_length + 1 : text + length;
	if (!truncated && !has_nul && command_length <= PMD_TELEMETRY_MAX_COMMAND_LEN &&
	    winapi_utf8_valid(params, strlen(params)))
		command = find_command(telemetry, text);
	if (command != NULL && command->handler(command->name, params, command->context, &value) != 0) {
		json_decref(value);
		value = NULL;
	}
	return send_answer(telemetry, fd, text, key_length, value);
}

/* One message per wake-up, so a chatty client cannot starve the others. */
static int serve_client(struct pmd_telemetry *telemetry, struct client *client)
{
	struct iovec iov = { .iov_base = telemetry->input, .iov_len = PMD_TELEMETRY_MAX_INPUT_LEN };
	struct msghdr message = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t length = recvmsg(client->fd, &message, MSG_DONTWAIT);
	int rc;

	if (length < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	/* An empty message reads like the end of the stream; DPDK hangs up on it too. */
	if (length == 0)
		return -ECONNRESET;
	client->active_ms = (int64_t)winapi_clock_now_ms();
	client->active_order = ++telemetry->activity;
	requester = client->uid;
	rc = answer_message(telemetry, client->fd, (size_t)length, (message.msg_flags & MSG_TRUNC) != 0);
	requester = (uid_t)-1;
	return rc;
}

uid_t pmd_telemetry_requester_uid(void)
{
	return requester;
}

bool pmd_telemetry_requester_may_see(uid_t owner)
{
	return requester == 0 || (requester == owner && owner != (uid_t)-1);
}

/*
 * Which connection a new one of @uid replaces: its own least recently active when @uid holds
 * PMD_TELEMETRY_MAX_CLIENTS_PER_UID already (root is not capped), else the least recently
 * active of all when every slot is taken. -1: none, a slot is free.
 */
static int pick_victim(const struct client *clients, unsigned int count, uid_t uid)
{
	unsigned int own = 0, i;
	int victim = -1, own_victim = -1;

	for (i = 0; i < count; i++) {
		if (victim < 0 || clients[i].active_order < clients[victim].active_order)
			victim = (int)i;
		if (clients[i].uid != uid)
			continue;
		own++;
		if (own_victim < 0 || clients[i].active_order < clients[own_victim].active_order)
			own_victim = (int)i;
	}
	if (uid != 0 && own >= PMD_TELEMETRY_MAX_CLIENTS_PER_UID)
		return own_victim;
	return count == PMD_TELEMETRY_MAX_CLIENTS ? victim : -1;
}

static void drop_client(struct pmd_telemetry *telemetry, unsigned int index)
{
	close(telemetry->clients[index].fd);
	telemetry->clients[index] = telemetry->clients[--telemetry->client_count];
}

/*
 * One connection per poll() round. The one accept() takes was queued when poll() looked,
 * and poll() looks at the clients after the listener, so a client that hung up before that
 * connection was made has already freed its slot; a loop here could see a newer connection
 * before the hang-up, and turn it away with a slot about to be free.
 * @return false when accepting should pause (see ACCEPT_BACKOFF_MS).
 */
static bool accept_client(struct pmd_telemetry *telemetry)
{
	struct ucred peer;
	socklen_t peer_length = sizeof(peer);
	int fd, victim;

	do
		fd = accept4(telemetry->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
	if (fd < 0) {
		/*
		 * EMFILE, ENFILE, ENOBUFS, ENOMEM leave the connection queued and the socket
		 * readable: poll() would return at once, forever.
		 */
		return errno == EAGAIN || errno == EWOULDBLOCK;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_length) != 0 || send_hello(telemetry, fd) != 0) {
		close(fd);
		return true;
	}
	/*
	 * Full, DPDK closes the new connection without a word; then 16 idle ones would lock
	 * everybody out until they time out. The least recently active makes room instead.
	 */
	victim = pick_victim(telemetry->clients, telemetry->client_count, peer.uid);
	if (victim >= 0)
		drop_client(telemetry, (unsigned int)victim);
	telemetry->clients[telemetry->client_count++] =
		(struct client){ .fd = fd, .uid = peer.uid, .active_ms = (int64_t)winapi_clock_now_ms(),
				 .active_order = ++telemetry->activity };
	return true;
}

/* Close the connections idle for PMD_TELEMETRY_IDLE_TIMEOUT_MS; @return ms until the next may be. */
static int expire_idle(struct pmd_telemetry *telemetry)
{
	int64_t now = (int64_t)winapi_clock_now_ms(), next = -1;
	unsigned int i;

	for (i = telemetry->client_count; i-- > 0;) {
		int64_t left = telemetry->clients[i].active_ms + PMD_TELEMETRY_IDLE_TIMEOUT_MS - now;

		if (left <= 0)
			drop_client(telemetry, i);
		else if (next < 0 || left < next)
			next = left;
	}
	return (int)next;
}

enum { POLL_STOP, POLL_LISTEN, POLL_CLIENTS };

static void *telemetry_thread(void *argument)
{
	struct pmd_telemetry *telemetry = argument;
	struct pollfd fds[POLL_CLIENTS + PMD_TELEMETRY_MAX_CLIENTS];
	int64_t resume_accepting = 0; /* 0: accepting */

	for (;;) {
		bool accepting = true;
		int timeout = expire_idle(telemetry);
		unsigned int i;
		int ready;

		if (resume_accepting != 0) {
			int64_t left = resume_accepting - (int64_t)winapi_clock_now_ms();

			if (left > 0) {
				accepting = false;
				if (timeout < 0 || left < timeout)
					timeout = (int)left;
			} else {
				resume_accepting = 0;
			}
		}
		fds[POLL_STOP] = (struct pollfd){ .fd = telemetry->stop_fd, .events = POLLIN };
		/* A negative fd is skipped by poll(): how accepting pauses. */
		fds[POLL_LISTEN] = (struct pollfd){ .fd = accepting ? telemetry->listen_fd : -1, .events = POLLIN };
		for (i = 0; i < telemetry->client_count; i++)
			fds[POLL_CLIENTS + i] = (struct pollfd){ .fd = telemetry->clients[i].fd, .events = POLLIN };
		ready = poll(fds, POLL_CLIENTS + telemetry->client_count, timeout);
		if (ready < 0 && errno == EINTR)
			continue;
		/* poll() fails otherwise only for lack of memory: stop serving rather than spin. */
		if (ready < 0)
			break;
		if (fds[POLL_STOP].revents != 0)
			break;
		/*
		 * Clients before the listener, so a slot freed by a hang-up is free for a
		 * connection seen in the same round. Downwards, so that moving the last client
		 * into a freed slot never skips one.
		 */
		for (i = telemetry->client_count; i-- > 0;) {
			if (fds[POLL_CLIENTS + i].revents != 0 && serve_client(telemetry, &telemetry->clients[i]) != 0)
				drop_client(telemetry, i);
		}
		if (fds[POLL_LISTEN].revents != 0 && !accept_client(telemetry))
			resume_accepting = (int64_t)winapi_clock_now_ms() + ACCEPT_BACKOFF_MS;
	}
	return NULL;
}

/* ---- the client ---- */

static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t deadline = (int64_t)winapi_clock_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int remaining = timeout_ms;

	for (;;) {
		int ready = poll(&pfd, 1, remaining);

		if (ready > 0)
			return 0;
		if (ready == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
		if (timeout_ms >= 0) {
			int64_t left = deadline - (int64_t)winapi_clock_now_ms();

			remaining = left > 0 ? (int)left : 0;
		}
	}
}

/* One message of at most @size bytes. -ECONNRESET: the server hung up; -EPROTO: too long. */
static int receive_message(int fd, char *buffer, size_t size, int timeout_ms, size_t *length)
{
	struct iovec iov = { .iov_base = buffer, .iov_len = size };
	struct msghdr message = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t got;
	int rc;

	rc = wait_readable(fd, timeout_ms);
	if (rc != 0)
		return rc;
	got = recvmsg(fd, &message, MSG_DONTWAIT);
	if (got < 0)
		return -errno;
	if (got == 0)
		return -ECONNRESET;
	if (message.msg_flags & MSG_TRUNC)
		return -EPROTO;
	*length = (size_t)got;
	return 0;
}

/* A unix connect() waits only when the listener's backlog is full, bounded by SO_SNDTIMEO. */
static int connect_socket(int fd, const char *socket_path, int timeout_ms)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };

	if (timeout_ms >= 0) {
		struct timeval timeout = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };

		if (timeout_ms == 0)
			timeout.tv_usec = 1; /* zero would mean no bound at all */
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout)) != 0)
			return -errno;
	}
	memcpy(address.sun_path, socket_path, strlen(socket_path) + 1);
	if (connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0)
		return errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT : -errno;
	return 0;
}

/*
 * Whoever can write the socket's directory can serve its path: trust only a server run by
 * root or by us (its credentials as of its listen()), before a byte of it is read.
 */
static int check_server(int fd)
{
	struct ucred server;
	socklen_t length = sizeof(server);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &server, &length) != 0)
		return -errno;
	return server.uid == 0 || server.uid == geteuid() ? 0 : -EPERM;
}

/* Check the hello and learn how long an answer may be. */
static int read_hello(int fd, int timeout_ms, size_t *output_size)
{
	/* DPDK's own client reads the hello with recv(1024). */
	char buffer[1024];
	json_int_t pid, max_output_len;
	const char *version;
	json_error_t error;
	json_t *hello;
	size_t length;
	int rc;

	rc = receive_message(fd, buffer, sizeof(buffer), timeout_ms, &length);
	if (rc != 0)
		return rc;
	hello = json_loadb(buffer, length, 0, &error);
	if (hello == NULL)
		return -EPROTO;
	rc = -EPROTO;
	if (json_unpack(hello, "{s:s, s:I, s:I}", "version", &version, "pid", &pid, "max_output_len",
			&max_output_len) == 0 &&
	    pid > 0 && max_output_len > 0 && max_output_len <= QUERY_MAX_OUTPUT_LEN) {
		*output_size = (size_t)max_output_len;
		rc = 0;
	}
	json_decref(hello);
	return rc;
}

static int parse_answer(const char *buffer, size_t length, const char *command, json_t **value)
{
	json_error_t error;
	json_t *answer = json_loadb(buffer, length, 0, &error);
	json_t *found;
	int rc;

	if (answer == NULL)
		return -EPROTO;
	found = json_is_object(answer) && json_object_size(answer) == 1 ? json_object_get(answer, command) : NULL;
	if (found == NULL) {
		rc = -EPROTO;
	} else if (json_is_null(found)) {
		rc = -ENOTSUP;
	} else {
		*value = json_incref(found);
		rc = 0;
	}
	json_decref(answer);
	return rc;
}

int pmd_telemetry_query(const char *socket_path, const char *command, const char *params, int timeout_ms,
			json_t **value)
{
	char message[PMD_TELEMETRY_MAX_INPUT_LEN + 1];
	size_t output_size, length;
	char *buffer;
	ssize_t sent;
	int fd, rc, written;

	if (socket_path == NULL || command == NULL || command[0] != '/' || strchr(command, ',') != NULL ||
	    strlen(command) > PMD_TELEMETRY_MAX_COMMAND_LEN)
		return -EINVAL;
	if (strlen(socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -ENAMETOOLONG;
	if (params == NULL)
		params = "";
	written = snprintf(message, sizeof(message), "%s%s%s", command, params[0] != '\0' ? "," : "", params);
	if (written < 0 || (size_t)written > PMD_TELEMETRY_MAX_INPUT_LEN)
		return -EINVAL;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect_socket(fd, socket_path, timeout_ms);
	if (rc == 0)
		rc = check_server(fd);
	if (rc == 0)
		rc = read_hello(fd, timeout_ms, &output_size);
	if (rc != 0)
		goto out_close_socket;
	buffer = malloc(output_size);
	if (buffer == NULL) {
		rc = -ENOMEM;
		goto out_close_socket;
	}
	/* SO_SNDTIMEO bounds this too; the server reads each message whole. */
	sent = send(fd, message, (size_t)written, MSG_NOSIGNAL);
	if (sent < 0)
		rc = errno == EAGAIN ? -ETIMEDOUT : -errno;
	else if (sent != written)
		rc = -EIO; /* a SOCK_SEQPACKET send is all or nothing */
	if (rc == 0)
		rc = receive_message(fd, buffer, output_size, timeout_ms, &length);
	if (rc == 0)
		rc = parse_answer(buffer, length, command, value);
	free(buffer);
out_close_socket:
	close(fd);
	return rc;
}
