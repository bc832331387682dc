/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * A DPDK telemetry protocol v2 server and client, so that DPDK's stock
 * usertools/dpdk-telemetry.py talks to winapi-pmd unchanged (shared/research/ecosystem.md 1.3).
 * The daemon serves with it; its --stats and the tests query with the same client. Internal:
 * shared between components, not installed. The pmd_ prefix of the names is historical.
 *
 * Owner: lib/telemetry
 *
 * Wire format, as DPDK's lib/telemetry/telemetry.c speaks it:
 *   - AF_UNIX, SOCK_SEQPACKET: one message is one command or one answer.
 *   - On accept the server sends {"version":"<version>","pid":<pid>,"max_output_len":16384}.
 *   - A command is "/<name>" with an optional ",<params>" (everything after the first comma).
 *   - The answer is one compact JSON object {"<command>":<value>}, at most 16384 bytes.
 *     Built in: "/" (every command, sorted), "/info" (the hello's fields) and "/help,<command>"
 *     ({"<command>":"<help text>"}; without a parameter, the help of /help itself).
 *   - Unknown commands, failed handlers, answers over 16384 bytes, commands longer than 1024
 *     bytes, and commands holding NUL bytes or invalid UTF-8 parameters get {"<command>":null},
 *     the key cut to 56 bytes as DPDK does. The connection stays open.
 *   - A client is dropped without an answer when the command name itself is not UTF-8 (no
 *     JSON key can name it), when it leaves its answers unread until the socket is full, and
 *     when it sends no message for PMD_TELEMETRY_IDLE_TIMEOUT_MS.
 *
 * Who may hold a connection. The server takes each client's credentials (SO_PEERCRED) at
 * accept. A uid other than root holds at most PMD_TELEMETRY_MAX_CLIENTS_PER_UID connections:
 * one more replaces its own least recently active. When all PMD_TELEMETRY_MAX_CLIENTS slots
 * are taken, a new connection replaces the least recently active of all. (DPDK closes the new
 * one instead; then idle clients lock everybody out.) So idle connections never keep a query
 * out, and one user cannot take every slot. Handlers learn who asks from
 * pmd_telemetry_requester_uid(). The client, pmd_telemetry_query(), talks only to a server
 * run by root or by its own effective uid.
 *
 * Threads. The server owns one thread that blocks in poll(2) and serves every client.
 *
 *   call                        from                 may run concurrently with
 *   create, register, start,    the owner thread     nothing else on the same server;
 *   destroy                                          handlers only once started
 *   handlers                    the telemetry thread the daemon's threads (their data needs
 *                                                    locks); never with another handler
 *   pmd_telemetry_query         any thread           anything (it shares no state)
 *   pmd_telemetry_requester_*   handlers             anything (thread-local)
 *
 * The command table is fixed before start, so the telemetry thread reads it without locks.
 * A handler must not block for long (every client waits for it, and destroy joins it), and
 * must not call pmd_telemetry_destroy() or query its own server.
 */
#ifndef WINAPI_INTERNAL_TELEMETRY_H
#define WINAPI_INTERNAL_TELEMETRY_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

/** Longest command name, in bytes (DPDK's MAX_CMD_LEN). */
#define PMD_TELEMETRY_MAX_COMMAND_LEN 56
/** Registered commands per server, not counting the three built-ins. */
#define PMD_TELEMETRY_MAX_COMMANDS 64
/** Clients served at once; one more replaces the least recently active. */
#define PMD_TELEMETRY_MAX_CLIENTS 16
/** Connections one uid holds at once (root: not capped); one more replaces its own oldest. */
#define PMD_TELEMETRY_MAX_CLIENTS_PER_UID (PMD_TELEMETRY_MAX_CLIENTS / 2)
/** A connection that sends no message for this long is closed. */
#define PMD_TELEMETRY_IDLE_TIMEOUT_MS 10000
/** Longest answer message, in bytes: the "max_output_len" of the hello. */
#define PMD_TELEMETRY_MAX_OUTPUT_LEN 16384
/** Longest command message ("<command>,<params>"), in bytes (DPDK reads 1 KiB). */
#define PMD_TELEMETRY_MAX_INPUT_LEN 1024
/** Longest help text and version string, in bytes (DPDK's RTE_TEL_MAX_STRING_LEN). */
#define PMD_TELEMETRY_MAX_STRING_LEN 128

struct pmd_telemetry;

/**
 * Answer one command.
 * @param command the command as registered
 * @param params  what the client sent after the first comma, valid UTF-8 without NUL bytes;
 *                "" when it sent none
 * @param context as registered
 * @param value   set to a new reference holding the answer (any JSON value)
 * @return 0; or a negative errno, and the client gets {"<command>":null} (a value set anyway
 *         is released). Runs on the telemetry thread.
 */
typedef int (*pmd_telemetry_handler)(const char *command, const char *params, void *context, json_t **value);

/**
 * Who sent the command being answered: the uid its connection had at accept (SO_PEERCRED).
 * @return that uid, inside a handler; (uid_t)-1 anywhere else.
 */
uid_t pmd_telemetry_requester_uid(void);

/**
 * Whether the requester may see what belongs to @p owner (a process's pid and uid, say).
 * @return true inside a handler when the requester is root or @p owner; false otherwise.
 */
bool pmd_telemetry_requester_may_see(uid_t owner);

/**
 * Make a server that will listen at @p socket_path. Nothing is bound until
 * pmd_telemetry_start().
 * @param version the "version" of the hello and of /info (copied)
 * @return 0; -EINVAL (NULL or empty path, @p version NULL, not UTF-8 or longer than
 *         PMD_TELEMETRY_MAX_STRING_LEN); -ENAMETOOLONG (the path does not fit a unix socket
 *         address); -ENOMEM.
 */
int pmd_telemetry_create(const char *socket_path, const char *version, struct pmd_telemetry **telemetry);

/**
 * Add a command. Only before pmd_telemetry_start().
 * @param command "/" then up to PMD_TELEMETRY_MAX_COMMAND_LEN - 1 more of [A-Za-z0-9_/-]
 *                (copied)
 * @param handler called on the telemetry thread with @p context
 * @param help    the text of "/help,<command>", UTF-8, at most PMD_TELEMETRY_MAX_STRING_LEN
 *                bytes (copied)
 * @return 0; -EINVAL (a bad name, NULL handler, bad help); -EEXIST (already registered,
 *         built-ins included); -ENOSPC (PMD_TELEMETRY_MAX_COMMANDS registered); -EBUSY
 *         (the server is started).
 */
int pmd_telemetry_register(struct pmd_telemetry *telemetry, const char *command, pmd_telemetry_handler handler,
			   void *context, const char *help);

/**
 * Bind the socket, set its file to @p mode and, unless @p group is (gid_t)-1, to @p group,
 * then listen and start the telemetry thread. A socket file nobody listens on (left by a
 * daemon that died) is replaced; a live one is not.
 * @return 0; -EADDRINUSE (another process listens there); -EEXIST (the path is not a
 *         socket); -EBUSY (already started); -EPERM or -EACCES (chmod, chown, or a socket
 *         file we may not probe); other negative errno from socket calls or pthread_create.
 *         On error nothing is left bound.
 */
int pmd_telemetry_start(struct pmd_telemetry *telemetry, mode_t mode, gid_t group);

/**
 * Stop the thread (after the handler it may be running returns; clients cannot hold it),
 * close every client, remove the socket file if it is still ours, and free @p telemetry.
 * NULL is allowed; so is a server that was never started.
 */
void pmd_telemetry_destroy(struct pmd_telemetry *telemetry);

/**
 * Client side, for `winapi-pmd --stats`: connect to @p socket_path, check the hello, send
 * @p command (and ",@p params" unless @p params is NULL or empty), and return the value the
 * answer holds under @p command.
 * @param timeout_ms bound for each step (connect, hello, send, answer); negative: no bound
 * @param value      set to a new reference on success
 * @return 0; -EINVAL (@p command not a "/" name of at most PMD_TELEMETRY_MAX_COMMAND_LEN
 *         bytes without commas, or the message longer than PMD_TELEMETRY_MAX_INPUT_LEN);
 *         -ENAMETOOLONG (path); -ENOENT or -ECONNREFUSED (nobody listening there); -EACCES;
 *         -EPERM (the server runs as neither root nor our effective uid: not trusted, nothing
 *         read from it); -ETIMEDOUT; -ECONNRESET (the server closed the connection, e.g. it
 *         made room for a newer one); -EPROTO (the hello or the answer is not what
 *         protocol v2 says: not JSON, not an object, keys missing or of the wrong type, longer
 *         than max_output_len); -ENOTSUP (the server answered null: unknown command or failed
 *         handler); -ENOMEM; other negative errno from socket calls.
 */
int pmd_telemetry_query(const char *socket_path, const char *command, const char *params, int timeout_ms,
			json_t **value);

#endif /* WINAPI_INTERNAL_TELEMETRY_H */
