/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-pmd's access policy (--policy FILE): which client may call which API of the host.
 *
 * One rule a line, "allow|deny SUBJECT API"; '#' starts a comment, blank lines are skipped.
 * SUBJECT: user:NAME, uid:N, group:NAME, gid:N or *. API: an exact API name, a prefix ending
 * in ".*" (host.file.* matches host.file.read), or *. The first rule that matches a client and
 * an API decides; with a policy, a call no rule matches is denied. Without one (a NULL policy),
 * every API is allowed to whoever may attach (the socket's --group).
 *
 * The parser is a function of the text and of a name resolver (the system's databases, or a
 * test's), so it is unit tested and fuzzed on its own. User and group names are resolved when
 * the file is read; a client's groups when it attaches (pmd_identity_resolve()). The control
 * thread then decides once what the client may call (pmd_policy_access()): a bitmap over API
 * ids that the worker tests without a lock. A parsed policy is never changed: any thread may
 * read it.
 */
#ifndef APPS_WINAPI_PMD_POLICY_H
#define APPS_WINAPI_PMD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <winapi/protocol.h>
#include <winapi_internal/api_table.h>

/* Longest line, its newline not counted: a rule is three short words. */
#define PMD_POLICY_LINE_MAX 1024u
/* Largest file pmd_policy_load() reads. */
#define PMD_POLICY_SIZE_MAX (1u << 20)

/* A set of API ids (0..WINAPI_API_ID_MAX): bit id % 64 of word id / 64. */
#define PMD_API_WORDS ((WINAPI_API_ID_MAX + 64u) / 64u)

static inline bool pmd_api_allowed(const uint64_t *allowed, uint16_t api_id)
{
	return api_id <= WINAPI_API_ID_MAX && (allowed[api_id / 64u] >> (api_id % 64u) & 1u);
}

static inline void pmd_api_allow(uint64_t *allowed, uint16_t api_id)
{
	allowed[api_id / 64u] |= UINT64_C(1) << (api_id % 64u);
}

struct pmd_policy;

/* How the names of a policy become ids: 0, or -ENOENT for a name nobody has. */
struct pmd_policy_names {
	int (*user)(const char *name, uid_t *uid);
	int (*group)(const char *name, gid_t *gid);
};

/* The system's databases (getpwnam_r, getgrnam_r). */
extern const struct pmd_policy_names pmd_policy_system_names;

/* Who a client is: its uid, and its user's groups (primary and supplementary). */
struct pmd_identity {
	uid_t uid;
	gid_t *groups;
	unsigned int group_count;
};

/*
 * Parse @length bytes of @text, read from @file (the name errors and audit lines give), and
 * resolve its names with @names. On error, @error (@error_size bytes) says "FILE:LINE: why".
 * @return 0; -EINVAL (a bad line, an unknown user or group); -ENOMEM.
 */
int pmd_policy_parse(const char *text, size_t length, const char *file, const struct pmd_policy_names *names,
		     struct pmd_policy **policy, char *error, size_t error_size);

/*
 * Read @path (at most PMD_POLICY_SIZE_MAX bytes) and parse it with the system's names.
 * @return as pmd_policy_parse(); -EFBIG; or the errno of reading it (@error says which).
 */
int pmd_policy_load(const char *path, struct pmd_policy **policy, char *error, size_t error_size);

void pmd_policy_free(struct pmd_policy *policy);

/* The file it was read from, and how many rules it has. */
const char *pmd_policy_file(const struct pmd_policy *policy);
unsigned int pmd_policy_rule_count(const struct pmd_policy *policy);

/*
 * Whether @identity may call the API named @api_name. *@line is the line of the rule that
 * decided, 0 when none matched (then denied). A NULL @policy allows everything.
 */
bool pmd_policy_allows(const struct pmd_policy *policy, const struct pmd_identity *identity, const char *api_name,
		       unsigned int *line);

/*
 * What @identity may call of @table: @allowed (PMD_API_WORDS words) gets the ids it may call;
 * @lines (table->count entries, or NULL) the deciding rule's line of each entry, in the
 * table's order. A NULL @policy allows every API of the table.
 */
void pmd_policy_access(const struct pmd_policy *policy, const struct pmd_identity *identity,
		       const struct winapi_api_table *table, uint64_t *allowed, unsigned int *lines);

/*
 * The groups of @uid's user (getpwuid_r, getgrouplist). A uid without a user has none: only
 * uid: and * rules match it. @return 0; -ENOMEM; the errno of the lookup.
 */
int pmd_identity_resolve(uid_t uid, struct pmd_identity *identity);

void pmd_identity_free(struct pmd_identity *identity);

#endif /* APPS_WINAPI_PMD_POLICY_H */
