/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: winapi-pmd's access policy parser (apps/winapi-pmd/policy.c), the text of
 * --policy FILE, which the daemon reads as root before it serves anyone. What must hold:
 * it accepts or refuses with -EINVAL and a "FILE:LINE: why" naming a line the text has; an
 * accepted policy has at most one rule a line, and every decision names the line of a rule
 * or none; what pmd_policy_access() gives a client is exactly what pmd_policy_allows() says.
 *
 * Input: the file's bytes, as they are. Names resolve without the system's databases, so the
 * run is fast and the same everywhere: a user or group name starting with a-m is known (its
 * id: its length), one starting with z fails to look up (-EIO), any other is unknown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../apps/winapi-pmd/policy.h"
#include "fuzz_check.h"

#define FILE_NAME "fuzz.policy"

static int fake_id(const char *name, uint32_t *id)
{
	if (name[0] >= 'a' && name[0] <= 'm') {
		*id = (uint32_t)strlen(name);
		return 0;
	}
	return name[0] == 'z' ? -EIO : -ENOENT;
}

static int fake_user(const char *name, uid_t *uid)
{
	uint32_t id;
	int rc = fake_id(name, &id);

	*uid = id;
	return rc;
}

static int fake_group(const char *name, gid_t *gid)
{
	uint32_t id;
	int rc = fake_id(name, &id);

	*gid = id;
	return rc;
}

static const struct pmd_policy_names fake_names = { .user = fake_user, .group = fake_group };

/* A host's table: the seeds and a few names that prefixes tell apart. */
static const char *const api_names[] = { "winapi.echo", "winapi.buffer_test", "winapi.perf_test", "host.file.read",
					 "host.filer", "host.file", "a" };
#define API_COUNT (sizeof(api_names) / sizeof(api_names[0]))

static struct winapi_api_entry entries[API_COUNT];
static struct winapi_api_table table = { .listed = true, .count = API_COUNT, .entries = entries };

static void table_init(void)
{
	unsigned int i;

	for (i = 0; i < API_COUNT; i++) {
		snprintf(entries[i].name, sizeof(entries[i].name), "%s", api_names[i]);
		entries[i].api_id = (uint16_t)(i + 1 + i * 100); /* spread over the bitmap's words */
		entries[i].version = 0x100;
		table.by_id[entries[i].api_id] = (uint16_t)(i + 1);
	}
}

/* The line number of an error "FILE:LINE: why"; 0 if it has none. */
static unsigned long error_line(const char *error)
{
	const char *after = error + strlen(FILE_NAME ":");

	FUZZ_CHECK(strncmp(error, FILE_NAME ":", strlen(FILE_NAME ":")) == 0);
	return strtoul(after, NULL, 10);
}

static void check_decisions(const struct pmd_policy *policy, unsigned long lines)
{
	static gid_t groups[] = { 1, 5, 11 };
	const struct pmd_identity identities[] = {
		{ .uid = 0 },
		{ .uid = 5, .groups = groups, .group_count = 3 },
		{ .uid = 1000, .groups = groups + 2, .group_count = 1 },
	};
	uint64_t allowed[PMD_API_WORDS];
	unsigned int decided[API_COUNT], line, i, j;
	bool allows;

	for (i = 0; i < sizeof(identities) / sizeof(identities[0]); i++) {
		pmd_policy_access(policy, &identities[i], &table, allowed, decided);
		for (j = 0; j < API_COUNT; j++) {
			allows = pmd_policy_allows(policy, &identities[i], api_names[j], &line);
			FUZZ_CHECK(line <= lines);
			/* A rule decides an allow: without one, the default is deny. */
			FUZZ_CHECK(!allows || line != 0);
			FUZZ_CHECK(allows == pmd_api_allowed(allowed, entries[j].api_id));
			FUZZ_CHECK(line == decided[j]);
		}
		/* Nothing outside the table, whatever the rules say. */
		FUZZ_CHECK(!pmd_api_allowed(allowed, 0) && !pmd_api_allowed(allowed, WINAPI_API_ID_MAX));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool table_ready;
	struct pmd_policy *policy = (struct pmd_policy *)1;
	unsigned long lines = 1;
	char error[512] = "";
	char *text;
	size_t i;
	int rc;

	if (size > PMD_POLICY_SIZE_MAX)
		return 0;
	if (!table_ready) {
		table_init();
		table_ready = true;
	}
	/* The text at its exact size, not NUL-terminated: the parser reads size bytes and no more. */
	text = malloc(size != 0 ? size : 1);
	FUZZ_CHECK(text != NULL);
	memcpy(text, data, size);
	for (i = 0; i < size; i++)
		lines += text[i] == '\n';

	rc = pmd_policy_parse(text, size, FILE_NAME, &fake_names, &policy, error, sizeof(error));
	if (rc == 0) {
		FUZZ_CHECK(policy != NULL);
		FUZZ_CHECK(pmd_policy_rule_count(policy) <= lines);
		FUZZ_CHECK(strcmp(pmd_policy_file(policy), FILE_NAME) == 0);
		check_decisions(policy, lines);
		pmd_policy_free(policy);
	} else {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
		FUZZ_CHECK(policy == NULL);
		if (rc == -EINVAL) {
			unsigned long line = error_line(error);

			FUZZ_CHECK(line >= 1 && line <= lines);
		}
	}
	free(text);
	return 0;
}
