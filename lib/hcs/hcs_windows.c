/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Windows half of the HCS library: computecore.dll's operation model made synchronous.
 * Every HCS call takes an operation; its result (a UTF-16 JSON document, allocated by HCS and
 * released with LocalFree) comes from HcsWaitForOperationResult. Strings cross as UTF-8.
 */
#include <windows.h>
#include <computecore.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winapi_internal/hcs.h>

/* Long enough for HCS on a busy host, short enough that a hung vmcompute is reported. */
#define HCS_TIMEOUT_MS 30000u

/*
 * computecore.dll is loaded when first needed, not imported: on a Windows without the Host
 * Compute Service (Home editions, Hyper-V and Containers off, older than 1809, Wine) an
 * import stops the loader before main() with nothing said (STATUS_DLL_NOT_FOUND). Its calls
 * go through this table; the library's callers get -ENOSYS and a sentence instead.
 */
static struct {
	__typeof__(&HcsCreateOperation) create_operation;
	__typeof__(&HcsCloseOperation) close_operation;
	__typeof__(&HcsWaitForOperationResult) wait_for_operation_result;
	__typeof__(&HcsEnumerateComputeSystems) enumerate_compute_systems;
	__typeof__(&HcsOpenComputeSystem) open_compute_system;
	__typeof__(&HcsCloseComputeSystem) close_compute_system;
	__typeof__(&HcsGetComputeSystemProperties) get_compute_system_properties;
} hcs;
static INIT_ONCE hcs_once = INIT_ONCE_STATIC_INIT;
static int hcs_error; /* 0, or -ENOSYS: no computecore.dll, or one without a call we need */

/* GetProcAddress()'s type is not the callee's: through a generic function pointer. */
#define HCS_BIND(module, field, name) (hcs.field = (__typeof__(hcs.field))(void (*)(void))GetProcAddress(module, name))

static BOOL CALLBACK load_hcs(PINIT_ONCE once, PVOID parameter, PVOID *context)
{
	HMODULE module = LoadLibraryExW(L"computecore.dll", NULL, LOAD_LIBRARY_SEARCH_SYSTEM32);

	(void)once;
	(void)parameter;
	(void)context;
	if (module == NULL || !HCS_BIND(module, create_operation, "HcsCreateOperation") ||
	    !HCS_BIND(module, close_operation, "HcsCloseOperation") ||
	    !HCS_BIND(module, wait_for_operation_result, "HcsWaitForOperationResult") ||
	    !HCS_BIND(module, enumerate_compute_systems, "HcsEnumerateComputeSystems") ||
	    !HCS_BIND(module, open_compute_system, "HcsOpenComputeSystem") ||
	    !HCS_BIND(module, close_compute_system, "HcsCloseComputeSystem") ||
	    !HCS_BIND(module, get_compute_system_properties, "HcsGetComputeSystemProperties"))
		hcs_error = -ENOSYS;
	return TRUE;
}

/* 0, or -ENOSYS with the reason in @error. */
static int bind_hcs(char *error, size_t error_size)
{
	InitOnceExecuteOnce(&hcs_once, load_hcs, NULL, NULL);
	if (hcs_error != 0 && error != NULL && error_size != 0)
		snprintf(error, error_size, "the Host Compute Service is not on this machine (no computecore.dll "
			 "with the calls winapi-hcs makes: Windows 10 1809 or Server 2019 and later, with Hyper-V or "
			 "Containers enabled)");
	return hcs_error;
}

static wchar_t *to_utf16(const char *text)
{
	int length;
	wchar_t *wide;

	if (text == NULL)
		return NULL;
	length = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, text, -1, NULL, 0);
	if (length <= 0)
		return NULL;
	wide = malloc((size_t)length * sizeof(*wide));
	if (wide != NULL && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, text, -1, wide, length) != length) {
		free(wide);
		wide = NULL;
	}
	return wide;
}

static char *to_utf8(const wchar_t *wide)
{
	int length = WideCharToMultiByte(CP_UTF8, 0, wide, -1, NULL, 0, NULL, NULL);
	char *text;

	if (length <= 0)
		return NULL;
	text = malloc((size_t)length);
	if (text != NULL && WideCharToMultiByte(CP_UTF8, 0, wide, -1, text, length, NULL, NULL) != length) {
		free(text);
		text = NULL;
	}
	return text;
}

/* Say what failed: HCS's own message when its error document has one. */
static int fail(HRESULT result, const char *what, const char *document, char *error, size_t error_size)
{
	char message[512];

	winapi_hcs_error_message(document, message, sizeof(message));
	if (error != NULL && error_size != 0)
		snprintf(error, error_size, "%s: HRESULT 0x%08lx%s%s", what, (unsigned long)result,
			 message[0] != '\0' ? ": " : "", message);
	return winapi_hcs_hresult_to_errno((uint32_t)result);
}

/* Wait for @operation; its document (result or error) in UTF-8 into *@document. */
static HRESULT wait_result(HCS_OPERATION operation, char **document)
{
	PWSTR result_document = NULL;
	HRESULT result = hcs.wait_for_operation_result(operation, HCS_TIMEOUT_MS, &result_document);

	*document = NULL;
	if (result_document != NULL) {
		*document = to_utf8(result_document);
		LocalFree(result_document);
		if (*document == NULL && SUCCEEDED(result))
			result = E_OUTOFMEMORY;
	}
	return result;
}

int winapi_hcs_enumerate(const struct winapi_hcs_query *query, char **document, char *error, size_t error_size)
{
	HCS_OPERATION operation;
	wchar_t *wide_query = NULL;
	char *query_json = NULL;
	HRESULT result;
	int rc;

	*document = NULL;
	rc = bind_hcs(error, error_size);
	if (rc != 0)
		return rc;
	rc = winapi_hcs_query_build(query, &query_json);
	if (rc != 0)
		return rc;
	wide_query = to_utf16(query_json);
	free(query_json);
	if (wide_query == NULL)
		return -ENOMEM;
	operation = hcs.create_operation(NULL, NULL);
	if (operation == NULL) {
		free(wide_query);
		return fail(E_OUTOFMEMORY, "HcsCreateOperation", NULL, error, error_size);
	}
	result = hcs.enumerate_compute_systems(wide_query, operation);
	if (SUCCEEDED(result))
		result = wait_result(operation, document);
	hcs.close_operation(operation);
	free(wide_query);
	if (FAILED(result)) {
		rc = fail(result, "HcsEnumerateComputeSystems", *document, error, error_size);
		free(*document);
		*document = NULL;
		return rc;
	}
	return *document != NULL ? 0 : -EBADMSG;
}

int winapi_hcs_properties(const char *id, const char *const *property_types, char **document, char *error,
			  size_t error_size)
{
	wchar_t *wide_id, *wide_query = NULL;
	HCS_OPERATION operation = NULL;
	HCS_SYSTEM system = NULL;
	char *query_json = NULL;
	HRESULT result;
	int rc;

	*document = NULL;
	rc = bind_hcs(error, error_size);
	if (rc != 0)
		return rc;
	rc = winapi_hcs_property_query_build(property_types, &query_json);
	if (rc != 0)
		return rc;
	wide_id = to_utf16(id);
	if (query_json != NULL)
		wide_query = to_utf16(query_json);
	free(query_json);
	if (wide_id == NULL || (property_types != NULL && property_types[0] != NULL && wide_query == NULL)) {
		rc = -ENOMEM;
		goto out_free_strings;
	}
	result = hcs.open_compute_system(wide_id, GENERIC_ALL, &system);
	if (FAILED(result)) {
		rc = fail(result, "HcsOpenComputeSystem", NULL, error, error_size);
		goto out_free_strings;
	}
	operation = hcs.create_operation(NULL, NULL);
	if (operation == NULL) {
		rc = fail(E_OUTOFMEMORY, "HcsCreateOperation", NULL, error, error_size);
		goto out_close_system;
	}
	result = hcs.get_compute_system_properties(system, operation, wide_query);
	if (SUCCEEDED(result))
		result = wait_result(operation, document);
	rc = 0;
	if (FAILED(result)) {
		rc = fail(result, "HcsGetComputeSystemProperties", *document, error, error_size);
		free(*document);
		*document = NULL;
	} else if (*document == NULL) {
		rc = -EBADMSG;
	}
	hcs.close_operation(operation);
out_close_system:
	hcs.close_compute_system(system);
out_free_strings:
	free(wide_query);
	free(wide_id);
	return rc;
}
