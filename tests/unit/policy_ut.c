/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-pmd's access policy (apps/winapi-pmd/policy.c): every kind of subject and API
 * pattern, the first rule deciding, the default deny of a policy file, comments, and each
 * refusal naming its file and line. Names are the running user's own (getpwuid), so the test
 * runs as anyone; a uid without a user skips what needs a name.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../apps/winapi-pmd/policy.h"

#define FILE_NAME "test.policy"

static char user_name[64];
static char group_name[64];
static uid_t own_uid;
static gid_t own_gid;

/* Nobody the rules below name: another uid, in no group. */
static const struct pmd_identity stranger = { .uid = 4000000000u };

static struct pmd_identity own_identity(void)
{
	static gid_t groups[1];

	groups[0] = own_gid;
	return (struct pmd_identity){ .uid = own_uid, .groups = groups, .group_count = 1 };
}

static struct pmd_policy *parse(const char *text)
{
	struct pmd_policy *policy = NULL;
	char error[512] = "";

	if (pmd_policy_parse(text, strlen(text), FILE_NAME, &pmd_policy_system_names, &policy, error,
			     sizeof(error)) != 0)
		fail_msg("policy refused: %s\n%s", error, text);
	return policy;
}

/* Parse @length bytes of @text, expecting a refusal whose message starts "FILE:@expected". */
static void refused_bytes(const char *text, size_t length, const struct pmd_policy_names *names,
			  const char *expected)
{
	struct pmd_policy *policy = (struct pmd_policy *)1;
	char error[512] = "", want[512];

	assert_int_equal(pmd_policy_parse(text, length, FILE_NAME, names, &policy, error, sizeof(error)), -EINVAL);
	assert_null(policy);
	snprintf(want, sizeof(want), "%s:%s", FILE_NAME, expected);
	if (strncmp(error, want, strlen(want)) != 0)
		fail_msg("for %.60s: got \"%s\", want \"%s...\"", text, error, want);
}

static void refused(const char *text, const struct pmd_policy_names *names, const char *expected)
{
	refused_bytes(text, strlen(text), names, expected);
}

/* Whether @identity may call @api under @text; *@line as pmd_policy_allows() says. */
static bool allows(const char *text, const struct pmd_identity *identity, const char *api, unsigned int *line)
{
	struct pmd_policy *policy = parse(text);
	bool allowed = pmd_policy_allows(policy, identity, api, line);

	pmd_policy_free(policy);
	return allowed;
}

static int group_setup(void **state)
{
	struct passwd *user;
	struct group *group;

	(void)state;
	own_uid = getuid();
	own_gid = getgid();
	user = getpwuid(own_uid);
	if (user != NULL) {
		snprintf(user_name, sizeof(user_name), "%s", user->pw_name);
		own_gid = user->pw_gid;
	}
	group = getgrgid(own_gid);
	if (group != NULL)
		snprintf(group_name, sizeof(group_name), "%s", group->gr_name);
	return 0;
}

/* ---- subjects ---- */

static void test_subject_ids(void **state)
{
	const struct pmd_identity own = own_identity();
	unsigned int line;
	char text[256];

	(void)state;
	snprintf(text, sizeof(text), "allow uid:%u winapi.echo\n", (unsigned int)own_uid);
	assert_true(allows(text, &own, "winapi.echo", &line));
	assert_int_equal(line, 1);
	assert_false(allows(text, &stranger, "winapi.echo", &line));
	assert_int_equal(line, 0);

	snprintf(text, sizeof(text), "allow gid:%u winapi.echo\n", (unsigned int)own_gid);
	assert_true(allows(text, &own, "winapi.echo", &line));
	assert_int_equal(line, 1);
	assert_false(allows(text, &stranger, "winapi.echo", &line));

	assert_true(allows("allow * winapi.echo\n", &own, "winapi.echo", &line));
	assert_true(allows("allow * winapi.echo\n", &stranger, "winapi.echo", &line));
}

static void test_subject_names(void **state)
{
	const struct pmd_identity own = own_identity();
	unsigned int line;
	char text[256];

	(void)state;
	if (user_name[0] == '\0' || group_name[0] == '\0')
		skip(); /* a uid without a user, or a gid without a group: no name to use */
	snprintf(text, sizeof(text), "allow user:%s winapi.echo\n", user_name);
	assert_true(allows(text, &own, "winapi.echo", &line));
	assert_int_equal(line, 1);
	assert_false(allows(text, &stranger, "winapi.echo", &line));

	snprintf(text, sizeof(text), "deny group:%s winapi.echo\nallow * *\n", group_name);
	assert_false(allows(text, &own, "winapi.echo", &line));
	assert_int_equal(line, 1);
	assert_true(allows(text, &stranger, "winapi.echo", &line));
	assert_int_equal(line, 2);
}

/* The groups a client is matched by are its user's, looked up by uid. */
static void test_identity_resolve(void **state)
{
	struct pmd_identity identity;
	unsigned int i;
	bool primary = false;

	(void)state;
	assert_int_equal(pmd_identity_resolve(own_uid, &identity), 0);
	assert_int_equal(identity.uid, own_uid);
	if (user_name[0] != '\0') {
		for (i = 0; i < identity.group_count; i++)
			primary |= identity.groups[i] == own_gid;
		assert_true(primary);
	}
	pmd_identity_free(&identity);

	/* A uid nobody has: no groups, not an error. */
	assert_int_equal(pmd_identity_resolve(stranger.uid, &identity), 0);
	assert_int_equal(identity.group_count, 0);
	pmd_identity_free(&identity);
}

/* ---- APIs, order, defaults ---- */

static void test_api_patterns(void **state)
{
	const struct pmd_identity own = own_identity();
	unsigned int line;

	(void)state;
	assert_true(allows("allow * host.file.*\n", &own, "host.file.read", &line));
	assert_true(allows("allow * host.file.*\n", &own, "host.file.x.y", &line));
	/* The dot is part of the prefix. */
	assert_false(allows("allow * host.file.*\n", &own, "host.filer", &line));
	assert_false(allows("allow * host.file.*\n", &own, "host.file", &line));
	assert_true(allows("allow * *\n", &own, "anything.at-all", &line));
	/* Exact means exact. */
	assert_false(allows("allow * winapi.echo\n", &own, "winapi.echo2", &line));
	assert_false(allows("allow * winapi.echo\n", &own, "winapi.ech", &line));
}

static void test_first_match_wins(void **state)
{
	const struct pmd_identity own = own_identity();
	unsigned int line;
	char text[256];

	(void)state;
	snprintf(text, sizeof(text), "deny uid:%u winapi.perf_test\nallow uid:%u winapi.*\nallow * winapi.perf_test\n",
		 (unsigned int)own_uid, (unsigned int)own_uid);
	assert_false(allows(text, &own, "winapi.perf_test", &line));
	assert_int_equal(line, 1);
	assert_true(allows(text, &own, "winapi.echo", &line));
	assert_int_equal(line, 2);
	assert_true(allows(text, &stranger, "winapi.perf_test", &line));
	assert_int_equal(line, 3);
}

static void test_default_deny(void **state)
{
	const struct pmd_identity own = own_identity();
	unsigned int line = 99;

	(void)state;
	/* With a file, a call no rule matches is denied; an empty file denies everything. */
	assert_false(allows("allow * winapi.echo\n", &own, "winapi.perf_test", &line));
	assert_int_equal(line, 0);
	assert_false(allows("", &own, "winapi.echo", &line));
	assert_false(allows("# nothing but this\n", &own, "winapi.echo", &line));
	/* Without one, everything is allowed. */
	line = 99;
	assert_true(pmd_policy_allows(NULL, &own, "winapi.echo", &line));
	assert_int_equal(line, 0);
}

static void test_comments_and_blanks(void **state)
{
	const struct pmd_identity own = own_identity();
	struct pmd_policy *policy;
	unsigned int line;

	(void)state;
	policy = parse("# who may call what\n\n   \t\n\tallow\t*   winapi.echo # the rest is a comment\r\n"
		       "deny * *#no space before it\n"
		       "allow * winapi.perf_test"); /* no newline at the end */
	assert_int_equal(pmd_policy_rule_count(policy), 3);
	assert_string_equal(pmd_policy_file(policy), FILE_NAME);
	assert_true(pmd_policy_allows(policy, &own, "winapi.echo", &line));
	assert_int_equal(line, 4);
	assert_false(pmd_policy_allows(policy, &own, "winapi.perf_test", &line));
	assert_int_equal(line, 5);
	pmd_policy_free(policy);
}

/* ---- what a client may call of a table ---- */

static void test_access_bitmap(void **state)
{
	const struct pmd_identity own = own_identity();
	struct winapi_api_table table;
	uint64_t allowed[PMD_API_WORDS];
	unsigned int lines[3];
	struct pmd_policy *policy;
	uint16_t id;

	(void)state;
	assert_int_equal(winapi_api_table_seeds(&table), 0);
	policy = parse("allow * winapi.echo\ndeny * winapi.perf_test\n");
	pmd_policy_access(policy, &own, &table, allowed, lines);
	assert_true(pmd_api_allowed(allowed, WINAPI_API_ECHO));
	assert_false(pmd_api_allowed(allowed, WINAPI_API_BUFFER_TEST));
	assert_false(pmd_api_allowed(allowed, WINAPI_API_PERF_TEST));
	assert_int_equal(lines[0], 1);
	assert_int_equal(lines[1], 0);
	assert_int_equal(lines[2], 2);
	/* Nothing outside the table, and no control call: those are the check's business. */
	for (id = WINAPI_API_PERF_TEST + 1; id <= WINAPI_API_ID_MAX; id++)
		assert_false(pmd_api_allowed(allowed, id));
	assert_false(pmd_api_allowed(allowed, WINAPI_API_LIST));
	pmd_policy_free(policy);

	/* No policy: the whole table. */
	pmd_policy_access(NULL, &own, &table, allowed, NULL);
	for (id = WINAPI_API_ECHO; id <= WINAPI_API_PERF_TEST; id++)
		assert_true(pmd_api_allowed(allowed, id));
	assert_false(pmd_api_allowed(allowed, 0));
	winapi_api_table_free(&table);
}

/* ---- refusals ---- */

static int failing_lookup_user(const char *name, uid_t *uid)
{
	(void)name;
	(void)uid;
	return -EIO;
}

static int failing_lookup_group(const char *name, gid_t *gid)
{
	(void)name;
	(void)gid;
	return -EIO;
}

static void test_errors_name_the_line(void **state)
{
	static const struct pmd_policy_names failing = { .user = failing_lookup_user, .group = failing_lookup_group };
	static const char nul[] = "allow * x\n\0allow * y\n";
	const struct pmd_policy_names *system = &pmd_policy_system_names;
	char long_line[PMD_POLICY_LINE_MAX + 2], error[512];
	struct pmd_policy *policy = NULL;

	(void)state;
	refused("allow\n", system, "1: expected 'allow|deny SUBJECT API', found 1 of the 3 words");
	refused("# fine\nallow *\n", system, "2: expected 'allow|deny SUBJECT API', found 2 of the 3 words");
	refused("allow * winapi.echo extra\n", system, "1: expected 'allow|deny SUBJECT API', found more than 3");
	refused("\n\npermit * winapi.echo\n", system, "3: 'permit' is neither allow nor deny");
	refused("allow user:no-such-user-here winapi.echo\n", system, "1: unknown user 'no-such-user-here'");
	refused("allow * *\nallow group:no-such-group-here *\n", system, "2: unknown group 'no-such-group-here'");
	refused("allow user: *\n", system, "1: unknown user ''");
	refused("allow user:root *\n", &failing, "1: cannot look up user 'root'");
	refused("allow group:root *\n", &failing, "1: cannot look up group 'root'");
	refused("allow uid:abc *\n", system, "1: 'abc' is not a uid");
	refused("allow uid:4294967295 *\n", system, "1: '4294967295' is not a uid");
	refused("allow gid:-1 *\n", system, "1: '-1' is not a gid");
	refused("allow gid: *\n", system, "1: '' is not a gid");
	refused("allow someone *\n", system, "1: 'someone' is not a subject");
	refused("allow nobody:x *\n", system, "1: 'nobody:x' is not a subject");
	refused("allow * Winapi.Echo\n", system, "1: 'Winapi.Echo' is not an API");
	refused("allow * winapi*\n", system, "1: 'winapi*' is not an API");
	refused("allow * .*\n", system, "1: '.*' is not an API");
	refused("allow * *.echo\n", system, "1: '*.echo' is not an API");
	/* WINAPI_API_NAME_SIZE counts the NUL: 39 characters are a name, 40 are not. */
	refused("allow * a-name-of-exactly-forty-characters-xxxxx\n", system, "1: 'a-name-of-exactly");
	refused("allow * a-name-of-forty-with-its-wildcard-yyyyyy.*\n", system, "1: 'a-name-of-forty");
	refused_bytes(nul, sizeof(nul) - 1, system, "2: a NUL byte");

	/* PMD_POLICY_LINE_MAX characters are a line; one more is not. */
	memset(long_line, ' ', sizeof(long_line));
	memcpy(long_line, "allow * *", 9);
	long_line[PMD_POLICY_LINE_MAX] = '\n';
	assert_int_equal(pmd_policy_parse(long_line, PMD_POLICY_LINE_MAX + 1, FILE_NAME, system, &policy, error,
					  sizeof(error)), 0);
	assert_int_equal(pmd_policy_rule_count(policy), 1);
	pmd_policy_free(policy);
	long_line[PMD_POLICY_LINE_MAX] = ' ';
	long_line[PMD_POLICY_LINE_MAX + 1] = '\n';
	refused_bytes(long_line, sizeof(long_line), system, "1: longer than 1024 characters");
}

static void test_load(void **state)
{
	char path[] = "/tmp/policy_ut.XXXXXX", error[512];
	struct pmd_policy *policy;
	char *big;
	FILE *file;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	file = fdopen(fd, "w");
	assert_non_null(file);
	fputs("allow * winapi.echo\nbogus\n", file);
	fclose(file);
	assert_int_equal(pmd_policy_load(path, &policy, error, sizeof(error)), -EINVAL);
	assert_non_null(strstr(error, ":2: expected"));
	assert_int_equal(strncmp(error, path, strlen(path)), 0);

	file = fopen(path, "w");
	fputs("allow * winapi.echo\n", file);
	fclose(file);
	assert_int_equal(pmd_policy_load(path, &policy, error, sizeof(error)), 0);
	assert_string_equal(pmd_policy_file(policy), path);
	pmd_policy_free(policy);

	/* Larger than any policy: refused before it is parsed. */
	big = calloc(1, PMD_POLICY_SIZE_MAX + 1);
	assert_non_null(big);
	memset(big, '\n', PMD_POLICY_SIZE_MAX + 1);
	file = fopen(path, "w");
	assert_int_equal(fwrite(big, 1, PMD_POLICY_SIZE_MAX + 1, file), PMD_POLICY_SIZE_MAX + 1);
	fclose(file);
	free(big);
	assert_int_equal(pmd_policy_load(path, &policy, error, sizeof(error)), -EFBIG);
	assert_null(policy);

	unlink(path);
	assert_int_equal(pmd_policy_load(path, &policy, error, sizeof(error)), -ENOENT);
	assert_non_null(strstr(error, path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_subject_ids),
		cmocka_unit_test(test_subject_names),
		cmocka_unit_test(test_identity_resolve),
		cmocka_unit_test(test_api_patterns),
		cmocka_unit_test(test_first_match_wins),
		cmocka_unit_test(test_default_deny),
		cmocka_unit_test(test_comments_and_blanks),
		cmocka_unit_test(test_access_bitmap),
		cmocka_unit_test(test_errors_name_the_line),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
