/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The Windows Host Compute Service, for the operator of the host service (the hcs-rs seed):
 * find the compute systems (VMs, containers, WSL2's utility VM) and read their properties, to
 * learn the VM id that Hyper-V sockets address (winapi-hostd.exe --vm-id).
 *
 * HCS (computecore.dll) works with operations and JSON documents in UTF-16; this library hides
 * both: each call is synchronous, takes and returns UTF-8, and returns 0 or a negative errno.
 * The calls that reach HCS exist in the Windows build only (lib/hcs/hcs_windows.c); the
 * documents are built and parsed by portable code (lib/hcs/hcs_json.c, jansson), which the
 * Linux tests run against recorded documents.
 *
 * Synchronisation: every call is reentrant; HCS serialises what it must.
 *
 * Owner: lib/hcs
 */
#ifndef WINAPI_HCS_H
#define WINAPI_HCS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** One compute system, as HCS enumerates it (schema 1 ContainerProperties). Empty: absent. */
struct winapi_hcs_system {
	char id[256];         /**< "Id": a GUID, or a name (docker: 64 hex digits; hcsshim: "<id>@vm") */
	char name[256];       /**< "Name" */
	char type[32];        /**< "SystemType": "VirtualMachine", "Container", ... */
	char state[32];       /**< "State": "Running", "Stopped", ... */
	char owner[128];      /**< "Owner": who created it ("WSL", "docker", "VMMS", ...) */
	char runtime_id[64];  /**< "RuntimeId": for a VM, its partition's id: the VmId of Hyper-V sockets */
};

/** What to enumerate (HCS's SystemQuery); NULL entries and a NULL query: no filter. */
struct winapi_hcs_query {
	const char *const *ids;
	const char *const *names;
	const char *const *types;
	const char *const *owners;
};

/* ---- portable: documents ---- */

/**
 * The SystemQuery document for @p query: {"Ids":[...],"Names":[...],"Types":[...],"Owners":[...]},
 * each key only when given. *@p json is freed with free().
 * @return 0; -EINVAL (NULL json, or a value that is not UTF-8); -ENOMEM.
 */
int winapi_hcs_query_build(const struct winapi_hcs_query *query, char **json);

/**
 * Parse HcsEnumerateComputeSystems' result: a JSON array of objects. Entries without an "Id"
 * (or with a null one), and entries with a string too long for its field, are skipped (counted
 * in *@p skipped when not NULL): strings are never cut, and one odd system does not hide the
 * others. *@p systems is freed with free().
 * @return 0; -EBADMSG (not an array of objects, a field of the wrong type); -ENOMEM.
 */
int winapi_hcs_systems_parse(const char *document, struct winapi_hcs_system **systems, size_t *count,
			     size_t *skipped);

/**
 * The system @p key names: its id (compared without case, as GUIDs are), else the one system
 * of that name, else the one system of that owner (WSL2's VM is known by its owner, "WSL").
 * @return its index; -ENOENT; -EEXIST (two systems have that name, or that owner).
 */
int winapi_hcs_find(const struct winapi_hcs_system *systems, size_t count, const char *key);

/**
 * The PropertyQuery document ({"PropertyTypes":[...]}) for HcsGetComputeSystemProperties, or
 * NULL in *@p json for none (HCS then returns the basic properties).
 * @return 0; -EINVAL (a type that is not UTF-8); -ENOMEM.
 */
int winapi_hcs_property_query_build(const char *const *property_types, char **json);

/**
 * Check that @p document is a JSON object (a properties document) and write it to *@p pretty,
 * indented, keys in HCS's order. @return 0; -EBADMSG; -ENOMEM.
 */
int winapi_hcs_properties_format(const char *document, char **pretty);

/**
 * The negative errno for an HRESULT of HCS: 0 for S_OK; -ENOENT (no such system),
 * -EACCES, -EINVAL, -ETIMEDOUT, -EEXIST, -EALREADY (already in that state), -EBUSY, -ENOMEM,
 * -EOPNOTSUPP (HCS not available: the Hyper-V or Containers feature is off); -EIO otherwise.
 */
int winapi_hcs_hresult_to_errno(uint32_t hresult);

/**
 * The text of an HCS error document ({"Error": hresult, "ErrorMessage": "..."}), into
 * @p out; empty when the document has none. Never fails.
 */
void winapi_hcs_error_message(const char *document, char *out, size_t out_size);

/* ---- Windows: the service itself (lib/hcs/hcs_windows.c) ---- */

/**
 * Enumerate compute systems matching @p query (NULL: all). *@p document is the raw JSON
 * result (UTF-8, free()), ready for winapi_hcs_systems_parse().
 * @return 0; winapi_hcs_hresult_to_errno()'s errors, the cause in @p error (may be NULL).
 */
int winapi_hcs_enumerate(const struct winapi_hcs_query *query, char **document, char *error, size_t error_size);

/**
 * The properties of compute system @p id, as HCS returns them for @p property_types (NULL:
 * the basic ones). *@p document is UTF-8 JSON (free()).
 * @return 0; winapi_hcs_hresult_to_errno()'s errors (-ENOENT: no such system), the cause in
 *         @p error.
 */
int winapi_hcs_properties(const char *id, const char *const *property_types, char **document, char *error,
			  size_t error_size);

#ifdef __cplusplus
}
#endif

#endif /* WINAPI_HCS_H */
