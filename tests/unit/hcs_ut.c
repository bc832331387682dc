/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The portable parts of the HCS library (lib/hcs/hcs_json.c) and of winapi-hcs (apps/winapi-hcs/
 * cli.c) against documents in HCS's shapes (tests/unit/hcs/, see its README): the query
 * documents, parsing what HCS returns, finding a system, HRESULTs, the command line and its
 * output. The backend here serves the documents instead of computecore.dll.
 */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <winapi_internal/hcs.h>

#include "../../apps/winapi-hcs/cli.h"

#ifndef HCS_DOCUMENTS
#define HCS_DOCUMENTS "tests/unit/hcs"
#endif

static char *read_document(const char *name)
{
	char path[256];
	FILE *file;
	char *text;
	long size;

	snprintf(path, sizeof(path), "%s/%s", HCS_DOCUMENTS, name);
	file = fopen(path, "rb");
	assert_non_null(file);
	assert_int_equal(fseek(file, 0, SEEK_END), 0);
	size = ftell(file);
	rewind(file);
	text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
	fclose(file);
	return text;
}

static void test_query_documents(void **state)
{
	static const char *const owners[] = { "WSL", "docker", NULL }, *const types[] = { "VirtualMachine", NULL };
	static const char *const not_utf8[] = { "\xff\xfe", NULL };
	static const char *const properties[] = { "Memory", "Statistics", NULL };
	struct winapi_hcs_query query = { .owners = owners, .types = types };
	char *json;

	(void)state;
	assert_int_equal(winapi_hcs_query_build(NULL, &json), 0);
	assert_string_equal(json, "{}");
	free(json);
	assert_int_equal(winapi_hcs_query_build(&query, &json), 0);
	assert_string_equal(json, "{\"Types\":[\"VirtualMachine\"],\"Owners\":[\"WSL\",\"docker\"]}");
	free(json);
	query.names = not_utf8;
	assert_int_equal(winapi_hcs_query_build(&query, &json), -EINVAL);
	assert_int_equal(winapi_hcs_property_query_build(NULL, &json), 0);
	assert_null(json);
	assert_int_equal(winapi_hcs_property_query_build(properties, &json), 0);
	assert_string_equal(json, "{\"PropertyTypes\":[\"Memory\",\"Statistics\"]}");
	free(json);
}

static void test_parse_enumeration(void **state)
{
	char *document = read_document("enumerate.json");
	struct winapi_hcs_system *systems;
	size_t count, skipped;

	(void)state;
	assert_int_equal(winapi_hcs_systems_parse(document, &systems, &count, &skipped), 0);
	assert_int_equal(count, 4); /* the entry without an Id is skipped; so is the over-long name */
	assert_int_equal(skipped, 1);
	assert_string_equal(systems[2].id, "f1e2d3c4b5a697880a1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef");
	assert_string_equal(systems[3].runtime_id, ""); /* the zero GUID is no VM id */
	assert_string_equal(systems[0].id, "5B9D6C3A-2F41-4E8B-9C1D-7A6E5F4B3C21");
	assert_string_equal(systems[0].owner, "WSL");
	assert_string_equal(systems[0].name, "");
	assert_string_equal(systems[0].runtime_id, "8F3E2D1C-0B9A-4876-A5B4-C3D2E1F0A9B8");
	assert_string_equal(systems[1].name, "build-server");
	assert_string_equal(systems[1].runtime_id, "11223344-5566-7788-99AA-BBCCDDEEFF00"); /* "RuntimeID" */
	assert_string_equal(systems[2].type, "Container");
	assert_string_equal(systems[2].state, "Stopped");
	assert_string_equal(systems[2].runtime_id, "");

	assert_int_equal(winapi_hcs_find(systems, count, "5b9d6c3a-2f41-4e8b-9c1d-7a6e5f4b3c21"), 0);
	assert_int_equal(winapi_hcs_find(systems, count, "build-server"), 1);
	assert_int_equal(winapi_hcs_find(systems, count, "WSL"), 0);
	assert_int_equal(winapi_hcs_find(systems, count, "Build-Server"), -ENOENT); /* names keep their case */
	assert_int_equal(winapi_hcs_find(systems, count, ""), -ENOENT);
	free(systems);
	free(document);
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"", "{}", "[1]", "[{\"Id\":5}]", "[{\"Id\":\"a\",\"Name\":[]}]", "[{\"Id\":\"a\",\"Id\":\"b\"}]",
		"[{\"Id\":\"a\\u0000b\"}]",
	};
	struct winapi_hcs_system *systems;
	char *pretty;
	char twice[] = "[{\"Id\":\"x\",\"Name\":\"twin\"},{\"Id\":\"y\",\"Name\":\"twin\",\"Owner\":\"o\"},"
		       "{\"Id\":\"z\",\"Owner\":\"o\"}]";
	size_t count, i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (winapi_hcs_systems_parse(bad[i], &systems, &count, NULL) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(winapi_hcs_systems_parse("[]", &systems, &count, NULL), 0);
	assert_int_equal(count, 0);
	free(systems);
	assert_int_equal(winapi_hcs_systems_parse(twice, &systems, &count, NULL), 0);
	assert_int_equal(winapi_hcs_find(systems, count, "twin"), -EEXIST);
	assert_int_equal(winapi_hcs_find(systems, count, "o"), -EEXIST);
	assert_int_equal(winapi_hcs_find(systems, count, "Y"), 1);
	free(systems);

	assert_int_equal(winapi_hcs_properties_format("[1,2]", &pretty), -EBADMSG);
	assert_null(pretty);
	assert_int_equal(winapi_hcs_properties_format("{\"b\":1,\"a\":2}", &pretty), 0);
	assert_string_equal(pretty, "{\n  \"b\": 1,\n  \"a\": 2\n}");
	free(pretty);
}

static void test_hresults(void **state)
{
	char message[128];
	char *document = read_document("error-not-found.json");

	(void)state;
	assert_int_equal(winapi_hcs_hresult_to_errno(0), 0);
	assert_int_equal(winapi_hcs_hresult_to_errno(0x8037010eu), -ENOENT);
	assert_int_equal(winapi_hcs_hresult_to_errno(0xc037010eu), -ENOENT);
	assert_int_equal(winapi_hcs_hresult_to_errno(0x80370110u), -EALREADY);
	assert_int_equal(winapi_hcs_hresult_to_errno(0x80070005u), -EACCES);
	assert_int_equal(winapi_hcs_hresult_to_errno(0x800705b4u), -ETIMEDOUT);
	assert_int_equal(winapi_hcs_hresult_to_errno(0x80070424u), -EOPNOTSUPP);
	assert_int_equal(winapi_hcs_hresult_to_errno(0x80370118u), -ETIMEDOUT); /* HCS_E_OPERATION_TIMEOUT */
	assert_int_equal(winapi_hcs_hresult_to_errno(0x8037011bu), -EACCES);    /* HCS_E_ACCESS_DENIED */
	assert_int_equal(winapi_hcs_hresult_to_errno(0x80370102u), -EOPNOTSUPP); /* HYPERV_NOT_INSTALLED */
	assert_int_equal(winapi_hcs_hresult_to_errno(0x80370117u), -EBUSY);     /* OPERATION_PENDING */
	assert_int_equal(winapi_hcs_hresult_to_errno(0x80004005u), -EIO); /* E_FAIL */
	assert_int_equal(winapi_hcs_hresult_to_errno(0x8038010eu), -EIO); /* another facility */
	winapi_hcs_error_message(document, message, sizeof(message));
	assert_string_equal(message, "A virtual machine or container with the specified identifier does not exist.");
	winapi_hcs_error_message("not json", message, sizeof(message));
	assert_string_equal(message, "");
	winapi_hcs_error_message(NULL, message, sizeof(message));
	assert_string_equal(message, "");
	free(document);
}

/* ---- the command line, over a backend that serves the documents ---- */

static char *last_query;
static char *last_property_query;
static int enumerate_error;

static int fake_enumerate(const struct winapi_hcs_query *query, char **document, char *error, size_t error_size)
{
	free(last_query);
	assert_int_equal(winapi_hcs_query_build(query, &last_query), 0);
	if (enumerate_error != 0) {
		snprintf(error, error_size, "HcsEnumerateComputeSystems: HRESULT 0x80070005");
		return enumerate_error;
	}
	*document = read_document("enumerate.json");
	return 0;
}

static int fake_properties(const char *id, const char *const *property_types, char **document, char *error,
			   size_t error_size)
{
	char *error_document;

	free(last_property_query);
	assert_int_equal(winapi_hcs_property_query_build(property_types, &last_property_query), 0);
	if (strcmp(id, "5B9D6C3A-2F41-4E8B-9C1D-7A6E5F4B3C21") == 0) {
		*document = read_document("properties-wsl.json");
		return 0;
	}
	error_document = read_document("error-not-found.json");
	winapi_hcs_error_message(error_document, error, error_size);
	free(error_document);
	return winapi_hcs_hresult_to_errno(0x8037010eu);
}

static const struct hcs_backend fake = { .enumerate = fake_enumerate, .properties = fake_properties };

struct run {
	int status;
	char *out;
	char *err;
};

static struct run run_cli(const char *line)
{
	char copy[512], *argv[32], *save = NULL, *word;
	struct run run = { 0 };
	size_t out_size, err_size;
	FILE *out, *err;
	int argc = 0;

	snprintf(copy, sizeof(copy), "winapi-hcs %s", line);
	for (word = strtok_r(copy, " ", &save); word != NULL && argc < 31; word = strtok_r(NULL, " ", &save))
		argv[argc++] = word;
	argv[argc] = NULL;
	out = open_memstream(&run.out, &out_size);
	err = open_memstream(&run.err, &err_size);
	run.status = hcs_cli_main(argc, argv, &fake, out, err);
	fclose(out);
	fclose(err);
	return run;
}

static void free_run(struct run *run)
{
	free(run->out);
	free(run->err);
}

static void test_cli_list(void **state)
{
	struct run run;
	json_error_t error;
	json_t *root;

	(void)state;
	run = run_cli("list");
	assert_int_equal(run.status, 0);
	assert_string_equal(last_query, "{}");
	assert_non_null(strstr(run.out, "ID"));
	assert_non_null(strstr(run.out, "5B9D6C3A-2F41-4E8B-9C1D-7A6E5F4B3C21   -                    VirtualMachine   Running    WSL\n"));
	assert_non_null(strstr(run.out, "build-server"));
	assert_non_null(strstr(run.out, "Container        Stopped    docker\n"));
	assert_non_null(strstr(run.err, "1 compute system(s) left out"));
	free_run(&run);

	run = run_cli("--json list --owner WSL --type VirtualMachine");
	assert_int_equal(run.status, 0);
	assert_string_equal(last_query, "{\"Types\":[\"VirtualMachine\"],\"Owners\":[\"WSL\"]}");
	root = json_loads(run.out, 0, &error);
	assert_non_null(root);
	assert_int_equal(json_array_size(root), 4); /* the fake does not filter: HCS does */
	assert_string_equal(json_string_value(json_object_get(json_array_get(root, 1), "runtime_id")),
			    "11223344-5566-7788-99AA-BBCCDDEEFF00");
	json_decref(root);
	free_run(&run);
}

static void test_cli_show_and_vmid(void **state)
{
	struct run run;
	json_error_t error;
	json_t *root;

	(void)state;
	run = run_cli("show WSL --property Memory --property Statistics");
	assert_int_equal(run.status, 0);
	assert_string_equal(last_property_query, "{\"PropertyTypes\":[\"Memory\",\"Statistics\"]}");
	root = json_loads(run.out, 0, &error);
	assert_non_null(root);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(root, "Memory"),
									    "VirtualMachineMemory"),
							    "AssignedMemory")),
			 8192);
	json_decref(root);
	assert_true(strncmp(run.out, "{\n  \"Id\": ", 10) == 0); /* HCS's order, indented */
	free_run(&run);

	run = run_cli("show build-server");
	assert_int_equal(run.status, 1);
	assert_null(last_property_query);
	assert_non_null(strstr(run.err, "does not exist"));
	free_run(&run);

	run = run_cli("vmid WSL");
	assert_int_equal(run.status, 0);
	assert_string_equal(run.out, "8F3E2D1C-0B9A-4876-A5B4-C3D2E1F0A9B8\n");
	free_run(&run);
	run = run_cli("--json vmid build-server");
	assert_int_equal(run.status, 0);
	root = json_loads(run.out, 0, &error);
	assert_string_equal(json_string_value(json_object_get(root, "vm_id")), "11223344-5566-7788-99AA-BBCCDDEEFF00");
	json_decref(root);
	free_run(&run);
	run = run_cli("vmid web");
	assert_int_equal(run.status, 1);
	assert_non_null(strstr(run.err, "no RuntimeId"));
	free_run(&run);
	run = run_cli("vmid a-process-isolated-container");
	assert_int_equal(run.status, 1);
	assert_non_null(strstr(run.err, "no RuntimeId"));
	free_run(&run);
	run = run_cli("vmid nothing-like-it");
	assert_int_equal(run.status, 1);
	assert_non_null(strstr(run.err, "no compute system 'nothing-like-it'"));
	free_run(&run);
}

static void test_cli_usage_and_failures(void **state)
{
	static const char *const usage_errors[] = {
		"", "start WSL", "list WSL", "show", "vmid", "show WSL extra", "--frobnicate list",
		"vmid WSL --owner WSL", "list --property Memory", "list --owner",
	};
	struct run run;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(usage_errors) / sizeof(usage_errors[0]); i++) {
		run = run_cli(usage_errors[i]);
		if (run.status != 2 || run.err[0] == '\0')
			fail_msg("'%s': status %d, message '%s'", usage_errors[i], run.status, run.err);
		free_run(&run);
	}
	run = run_cli("--help");
	assert_int_equal(run.status, 0);
	assert_non_null(strstr(run.out, "vmid SYSTEM"));
	free_run(&run);

	enumerate_error = -EACCES;
	run = run_cli("list");
	enumerate_error = 0;
	assert_int_equal(run.status, 1);
	assert_non_null(strstr(run.err, "HRESULT 0x80070005"));
	assert_non_null(strstr(run.err, "Administrator"));
	free_run(&run);
}

static int teardown(void **state)
{
	(void)state;
	free(last_query);
	free(last_property_query);
	last_query = last_property_query = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_query_documents),
		cmocka_unit_test(test_parse_enumeration),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_hresults),
		cmocka_unit_test_teardown(test_cli_list, teardown),
		cmocka_unit_test_teardown(test_cli_show_and_vmid, teardown),
		cmocka_unit_test_teardown(test_cli_usage_and_failures, teardown),
	};

	return cmocka_run_group_tests_name("hcs", tests, NULL, NULL);
}
