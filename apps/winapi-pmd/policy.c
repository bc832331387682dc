/* SPDX-License-Identifier: BSD-3-Clause */
/* winapi-pmd's access policy: the file's rules, and what they let one client call (policy.h). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

enum subject_kind {
	SUBJECT_ANY,
	SUBJECT_UID,  /* user:NAME, uid:N */
	SUBJECT_GID,  /* group:NAME, gid:N: any of the client's groups */
};

enum api_kind {
	API_ANY,
	API_EXACT,
	API_PREFIX,   /* name holds the prefix, its final dot included */
};

struct rule {
	bool allow;
	enum subject_kind subject;
	enum api_kind api;
	uint32_t id;                     /* the uid or gid (both 32 bits on Linux) */
	unsigned int line;
	char name[WINAPI_API_NAME_SIZE];
};

struct pmd_policy {
	char *file;
	struct rule *rules;
	unsigned int count;
	unsigned int capacity;
};

/* Why a word is refused, for the caller to put after "FILE:LINE: ". */
struct why {
	char text[256];
};

/* ---- the system's names ---- */

/*
 * One lookup in the user or group database. The *_r calls want a buffer of a size they
 * cannot tell in advance (a group's member list has no bound): grow it until the entry fits.
 */
struct lookup {
	const char *name;      /* by name, or NULL: the user of uid */
	uid_t uid;
	bool group;
	struct passwd user;    /* the result, pointing into buffer */
	struct group group_entry;
	char *buffer;          /* the caller frees it */
};

#define LOOKUP_BUFFER_MIN 1024u
#define LOOKUP_BUFFER_MAX (1u << 20)

/* 0; -ENOENT (no such entry); -ENOMEM; or the lookup's errno. */
static int lookup(struct lookup *query)
{
	struct passwd *user = NULL;
	struct group *group = NULL;
	size_t size;
	int rc;

	query->buffer = NULL;
	for (size = LOOKUP_BUFFER_MIN;; size *= 2) {
		free(query->buffer);
		query->buffer = malloc(size);
		if (query->buffer == NULL)
			return -ENOMEM;
		if (query->group)
			rc = getgrnam_r(query->name, &query->group_entry, query->buffer, size, &group);
		else if (query->name != NULL)
			rc = getpwnam_r(query->name, &query->user, query->buffer, size, &user);
		else
			rc = getpwuid_r(query->uid, &query->user, query->buffer, size, &user);
		if (rc != ERANGE || size >= LOOKUP_BUFFER_MAX)
			break;
	}
	if (user != NULL || group != NULL)
		return 0;
	/* "Not found" is 0 or one of these, depending on the database's backend. */
	return rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM ? -ENOENT : -rc;
}

static int system_user(const char *name, uid_t *uid)
{
	struct lookup query = { .name = name };
	int rc = lookup(&query);

	if (rc == 0)
		*uid = query.user.pw_uid;
	free(query.buffer);
	return rc;
}

static int system_group(const char *name, gid_t *gid)
{
	struct lookup query = { .name = name, .group = true };
	int rc = lookup(&query);

	if (rc == 0)
		*gid = query.group_entry.gr_gid;
	free(query.buffer);
	return rc;
}

const struct pmd_policy_names pmd_policy_system_names = {
	.user = system_user,
	.group = system_group,
};

/* ---- parsing ---- */

/* A uid or gid in decimal; (uid_t)-1 means "nobody" to the kernel, so it is refused. */
static int parse_id(const char *text, uint32_t *id)
{
	uint64_t value = 0;
	size_t i;

	if (text[0] == '\0' || strlen(text) > 10)
		return -EINVAL;
	for (i = 0; text[i] != '\0'; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -EINVAL;
		value = value * 10 + (uint64_t)(text[i] - '0');
	}
	if (value >= UINT32_MAX)
		return -EINVAL;
	*id = (uint32_t)value;
	return 0;
}

static int parse_subject(const char *word, const struct pmd_policy_names *names, struct rule *rule, struct why *why)
{
	const char *value = strchr(word, ':') != NULL ? strchr(word, ':') + 1 : "";
	bool user = word[0] == 'u';
	uid_t uid;
	gid_t gid;
	int rc;

	if (strcmp(word, "*") == 0) {
		rule->subject = SUBJECT_ANY;
		return 0;
	}
	rule->subject = user ? SUBJECT_UID : SUBJECT_GID;
	if (strncmp(word, "user:", 5) == 0 || strncmp(word, "group:", 6) == 0) {
		rc = value[0] == '\0' ? -ENOENT : user ? names->user(value, &uid) : names->group(value, &gid);
		if (rc != 0)
			snprintf(why->text, sizeof(why->text), "%s %s '%.64s'",
				 rc == -ENOENT ? "unknown" : "cannot look up", user ? "user" : "group", value);
		rule->id = user ? (uint32_t)uid : (uint32_t)gid;
	} else if (strncmp(word, "uid:", 4) == 0 || strncmp(word, "gid:", 4) == 0) {
		rc = parse_id(value, &rule->id);
		if (rc != 0)
			snprintf(why->text, sizeof(why->text), "'%.64s' is not a %s (a decimal number)", value,
				 user ? "uid" : "gid");
	} else {
		rc = -EINVAL;
		snprintf(why->text, sizeof(why->text),
			 "'%.64s' is not a subject (user:NAME, uid:N, group:NAME, gid:N or *)", word);
	}
	/* A database that failed is not the file's fault, but its rule cannot stand either. */
	return rc == 0 ? 0 : -EINVAL;
}

static int parse_api(const char *word, struct rule *rule, struct why *why)
{
	size_t length = strlen(word);

	if (strcmp(word, "*") == 0) {
		rule->api = API_ANY;
		return 0;
	}
	rule->api = API_EXACT;
	if (length >= 3 && strcmp(word + length - 2, ".*") == 0) {
		rule->api = API_PREFIX;
		length--; /* the dot stays: host.file.* does not match host.filer */
	}
	if (length < WINAPI_API_NAME_SIZE) {
		memcpy(rule->name, word, length);
		rule->name[length] = '\0';
		if (winapi_api_name_check(rule->name) == 0)
			return 0;
	}
	snprintf(why->text, sizeof(why->text),
		 "'%.64s' is not an API (a name of lower-case letters, digits, '.', '_' and '-', "
		 "a prefix ending in .*, or *)", word);
	return -EINVAL;
}

/* Line @line, NUL-terminated and without its newline: a rule (*@found), or nothing. */
static int parse_line(char *text, unsigned int line, const struct pmd_policy_names *names, struct rule *rule,
		      bool *found, struct why *why)
{
	static const char spaces[] = " \t\r\v\f";
	char *words[4], *comment = strchr(text, '#'), *saved = NULL;
	unsigned int count = 0;
	int rc;

	*found = false;
	if (comment != NULL)
		*comment = '\0';
	for (words[0] = strtok_r(text, spaces, &saved); words[count] != NULL && count < 3;)
		words[++count] = strtok_r(NULL, spaces, &saved);
	if (count == 0)
		return 0;
	if (count != 3 || words[3] != NULL) {
		snprintf(why->text, sizeof(why->text), "expected 'allow|deny SUBJECT API', found %s words",
			 count < 3 ? (count == 1 ? "1 of the 3" : "2 of the 3") : "more than 3");
		return -EINVAL;
	}
	*rule = (struct rule){ .allow = strcmp(words[0], "allow") == 0, .line = line };
	if (!rule->allow && strcmp(words[0], "deny") != 0) {
		snprintf(why->text, sizeof(why->text), "'%.64s' is neither allow nor deny", words[0]);
		return -EINVAL;
	}
	rc = parse_subject(words[1], names, rule, why);
	if (rc == 0)
		rc = parse_api(words[2], rule, why);
	*found = rc == 0;
	return rc;
}

static int add_rule(struct pmd_policy *policy, const struct rule *rule)
{
	struct rule *grown;

	if (policy->count == policy->capacity) {
		grown = realloc(policy->rules, sizeof(*grown) * (policy->capacity != 0 ? policy->capacity * 2 : 16));
		if (grown == NULL)
			return -ENOMEM;
		policy->rules = grown;
		policy->capacity = policy->capacity != 0 ? policy->capacity * 2 : 16;
	}
	policy->rules[policy->count++] = *rule;
	return 0;
}

int pmd_policy_parse(const char *text, size_t length, const char *file, const struct pmd_policy_names *names,
		     struct pmd_policy **policy_out, char *error, size_t error_size)
{
	char line_text[PMD_POLICY_LINE_MAX + 1];
	struct pmd_policy *policy;
	struct why why = { "" };
	struct rule rule;
	size_t start, end;
	unsigned int line = 0;
	bool found;
	int rc = -ENOMEM;

	*policy_out = NULL;
	policy = calloc(1, sizeof(*policy));
	if (policy == NULL || (policy->file = strdup(file)) == NULL)
		goto err_free_policy;
	for (start = 0, line = 1; start < length; start = end + 1, line++) {
		const char *newline = memchr(text + start, '\n', length - start);

		end = newline != NULL ? (size_t)(newline - text) : length;
		rc = -EINVAL;
		if (end - start > PMD_POLICY_LINE_MAX) {
			snprintf(why.text, sizeof(why.text), "longer than %u characters", PMD_POLICY_LINE_MAX);
			goto err_free_policy;
		}
		if (memchr(text + start, '\0', end - start) != NULL) {
			snprintf(why.text, sizeof(why.text), "a NUL byte: not a text file");
			goto err_free_policy;
		}
		memcpy(line_text, text + start, end - start);
		line_text[end - start] = '\0';
		rc = parse_line(line_text, line, names, &rule, &found, &why);
		if (rc == 0 && found)
			rc = add_rule(policy, &rule);
		if (rc != 0)
			goto err_free_policy;
	}
	*policy_out = policy;
	return 0;

err_free_policy:
	pmd_policy_free(policy);
	if (rc == -EINVAL)
		snprintf(error, error_size, "%s:%u: %s", file, line, why.text);
	else
		snprintf(error, error_size, "%s: %s", file, strerror(-rc));
	return rc;
}

int pmd_policy_load(const char *path, struct pmd_policy **policy, char *error, size_t error_size)
{
	size_t length;
	char *text;
	FILE *file;
	int rc;

	*policy = NULL;
	file = fopen(path, "re");
	if (file == NULL) {
		rc = -errno;
		snprintf(error, error_size, "%s: %s", path, strerror(errno));
		return rc;
	}
	/* One byte more than allowed: a file that fills it is too large. */
	text = malloc(PMD_POLICY_SIZE_MAX + 1);
	if (text == NULL) {
		rc = -ENOMEM;
		snprintf(error, error_size, "%s: %s", path, strerror(ENOMEM));
		goto out_close;
	}
	length = fread(text, 1, PMD_POLICY_SIZE_MAX + 1, file);
	if (ferror(file)) {
		rc = -EIO;
		snprintf(error, error_size, "%s: cannot read it", path);
	} else if (length > PMD_POLICY_SIZE_MAX) {
		rc = -EFBIG;
		snprintf(error, error_size, "%s: larger than %u bytes", path, PMD_POLICY_SIZE_MAX);
	} else {
		rc = pmd_policy_parse(text, length, path, &pmd_policy_system_names, policy, error, error_size);
	}
	free(text);
out_close:
	fclose(file);
	return rc;
}

void pmd_policy_free(struct pmd_policy *policy)
{
	if (policy == NULL)
		return;
	free(policy->rules);
	free(policy->file);
	free(policy);
}

const char *pmd_policy_file(const struct pmd_policy *policy)
{
	return policy->file;
}

unsigned int pmd_policy_rule_count(const struct pmd_policy *policy)
{
	return policy->count;
}

/* ---- deciding ---- */

static bool subject_matches(const struct rule *rule, const struct pmd_identity *identity)
{
	unsigned int i;

	switch (rule->subject) {
	case SUBJECT_ANY:
		return true;
	case SUBJECT_UID:
		return identity->uid == rule->id;
	case SUBJECT_GID:
		for (i = 0; i < identity->group_count; i++)
			if (identity->groups[i] == rule->id)
				return true;
		return false;
	}
	return false;
}

static bool api_matches(const struct rule *rule, const char *api_name)
{
	switch (rule->api) {
	case API_ANY:
		return true;
	case API_EXACT:
		return strncmp(api_name, rule->name, WINAPI_API_NAME_SIZE) == 0;
	case API_PREFIX:
		return strncmp(api_name, rule->name, strlen(rule->name)) == 0;
	}
	return false;
}

bool pmd_policy_allows(const struct pmd_policy *policy, const struct pmd_identity *identity, const char *api_name,
		       unsigned int *line)
{
	unsigned int i;

	*line = 0;
	if (policy == NULL)
		return true;
	for (i = 0; i < policy->count; i++) {
		if (subject_matches(&policy->rules[i], identity) && api_matches(&policy->rules[i], api_name)) {
			*line = policy->rules[i].line;
			return policy->rules[i].allow;
		}
	}
	return false;
}

void pmd_policy_access(const struct pmd_policy *policy, const struct pmd_identity *identity,
		       const struct winapi_api_table *table, uint64_t *allowed, unsigned int *lines)
{
	unsigned int i, line;

	memset(allowed, 0, PMD_API_WORDS * sizeof(*allowed));
	for (i = 0; i < table->count; i++) {
		if (pmd_policy_allows(policy, identity, table->entries[i].name, &line))
			pmd_api_allow(allowed, table->entries[i].api_id);
		if (lines != NULL)
			lines[i] = line;
	}
}

/* ---- who a client is ---- */

int pmd_identity_resolve(uid_t uid, struct pmd_identity *identity)
{
	struct lookup query = { .uid = uid };
	gid_t *groups = NULL, *grown;
	int count = 16, wanted, rc;

	*identity = (struct pmd_identity){ .uid = uid };
	rc = lookup(&query);
	if (rc != 0) {
		if (rc == -ENOENT)
			rc = 0; /* a uid without a user: it has no groups to match */
		goto out_free_buffer;
	}
	for (;;) {
		grown = realloc(groups, sizeof(*groups) * (size_t)count);
		if (grown == NULL) {
			rc = -ENOMEM;
			goto out_free_groups;
		}
		groups = grown;
		wanted = count;
		if (getgrouplist(query.user.pw_name, query.user.pw_gid, groups, &wanted) >= 0)
			break;
		/* glibc says how many there are; another libc may not: double. */
		count = wanted > count ? wanted : count * 2;
	}
	identity->groups = groups;
	identity->group_count = (unsigned int)wanted;
	groups = NULL;
out_free_groups:
	free(groups);
out_free_buffer:
	free(query.buffer);
	return rc;
}

void pmd_identity_free(struct pmd_identity *identity)
{
	free(identity->groups);
	identity->groups = NULL;
	identity->group_count = 0;
}
