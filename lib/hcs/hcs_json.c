/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The portable half of the HCS library: the JSON documents HCS takes and gives (jansson), and
 * what its HRESULTs mean. The documents come from a Windows service we do not control: every
 * field is type-checked and bounded, nothing is cut silently.
 */
#include <errno.h>
#include <stddef.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <winapi_internal/hcs.h>

static int add_list(json_t *object, const char *key, const char *const *values)
{
	json_t *array;

	if (values == NULL || values[0] == NULL)
		return 0;
	array = json_array();
	if (array == NULL || json_object_set_new(object, key, array) != 0)
		return -ENOMEM;
	for (; *values != NULL; values++) {
		json_t *value = json_string(*values);

		if (value == NULL)
			return -EINVAL; /* not UTF-8 */
		if (json_array_append_new(array, value) != 0)
			return -ENOMEM;
	}
	return 0;
}

static int dump(json_t *object, size_t flags, char **json)
{
	*json = json_dumps(object, flags);
	json_decref(object);
	return *json != NULL ? 0 : -ENOMEM;
}

int winapi_hcs_query_build(const struct winapi_hcs_query *query, char **json)
{
	json_t *object;

	if (json == NULL)
		return -EINVAL;
	object = json_object();
	if (object == NULL)
		return -ENOMEM;
	if (query != NULL) {
		int rc = add_list(object, "Ids", query->ids);

		if (rc == 0)
			rc = add_list(object, "Names", query->names);
		if (rc == 0)
			rc = add_list(object, "Types", query->types);
		if (rc == 0)
			rc = add_list(object, "Owners", query->owners);
		if (rc != 0) {
			json_decref(object);
			return rc;
		}
	}
	return dump(object, JSON_COMPACT, json);
}

int winapi_hcs_property_query_build(const char *const *property_types, char **json)
{
	json_t *object;

	int rc;

	*json = NULL;
	if (property_types == NULL || property_types[0] == NULL)
		return 0;
	object = json_object();
	if (object == NULL)
		return -ENOMEM;
	rc = add_list(object, "PropertyTypes", property_types);
	if (rc != 0) {
		json_decref(object);
		return rc;
	}
	return dump(object, JSON_COMPACT, json);
}

/*
 * An optional string field into @out: absent or null is empty. -EBADMSG: not a string, or a
 * NUL inside; -E2BIG: too long for @out (the caller skips the entry rather than cut it).
 */
static int copy_field(const json_t *entry, const char *key, char *out, size_t size)
{
	const json_t *value = json_object_get(entry, key);

	out[0] = '\0';
	if (value == NULL || json_is_null(value))
		return 0;
	if (!json_is_string(value) || strlen(json_string_value(value)) != json_string_length(value))
		return -EBADMSG;
	if (json_string_length(value) >= size)
		return -E2BIG;
	memcpy(out, json_string_value(value), json_string_length(value) + 1);
	return 0;
}

/* HCS spells the runtime id "RuntimeId" in schema 2 and "RuntimeID" in schema 1. */
static int copy_runtime_id(const json_t *entry, char *out, size_t size)
{
	int rc = copy_field(entry, "RuntimeId", out, size);

	if (rc == 0 && out[0] == '\0')
		rc = copy_field(entry, "RuntimeID", out, size);
	return rc;
}

int winapi_hcs_systems_parse(const char *document, struct winapi_hcs_system **systems_out, size_t *count_out,
			     size_t *skipped)
{
	struct winapi_hcs_system *systems = NULL;
	json_error_t error;
	json_t *root, *entry;
	size_t index, count = 0;
	int rc = 0;

	*systems_out = NULL;
	*count_out = 0;
	if (skipped != NULL)
		*skipped = 0;
	root = json_loads(document, JSON_REJECT_DUPLICATES, &error);
	if (root == NULL || !json_is_array(root)) {
		json_decref(root);
		return -EBADMSG;
	}
	if (json_array_size(root) != 0) {
		systems = calloc(json_array_size(root), sizeof(*systems));
		if (systems == NULL) {
			json_decref(root);
			return -ENOMEM;
		}
	}
	json_array_foreach(root, index, entry) {
		struct winapi_hcs_system *system = &systems[count];

		if (!json_is_object(entry)) {
			rc = -EBADMSG;
			break;
		}
		if (json_object_get(entry, "Id") == NULL || json_is_null(json_object_get(entry, "Id")))
			continue; /* nothing to address it by */
		rc = copy_field(entry, "Id", system->id, sizeof(system->id));
		if (rc == 0)
			rc = copy_field(entry, "Name", system->name, sizeof(system->name));
		if (rc == 0)
			rc = copy_field(entry, "SystemType", system->type, sizeof(system->type));
		if (rc == 0)
			rc = copy_field(entry, "State", system->state, sizeof(system->state));
		if (rc == 0)
			rc = copy_field(entry, "Owner", system->owner, sizeof(system->owner));
		if (rc == 0)
			rc = copy_runtime_id(entry, system->runtime_id, sizeof(system->runtime_id));
		/* The all-zero GUID is HV_GUID_WILDCARD: as a VM id it would mean every VM. */
		if (rc == 0 && strcmp(system->runtime_id, "00000000-0000-0000-0000-000000000000") == 0)
			system->runtime_id[0] = '\0';
		if (rc == -E2BIG) {
			memset(system, 0, sizeof(*system));
			if (skipped != NULL)
				(*skipped)++;
			rc = 0;
			continue;
		}
		if (rc != 0)
			break;
		if (system->id[0] != '\0')
			count++;
	}
	json_decref(root);
	if (rc != 0) {
		free(systems);
		return rc;
	}
	*systems_out = systems;
	*count_out = count;
	return 0;
}

/* The one system whose string field at @offset equals @key: its index, -ENOENT or -EEXIST. */
static int find_unique(const struct winapi_hcs_system *systems, size_t count, const char *key, size_t offset)
{
	int found = -ENOENT;
	size_t i;

	for (i = 0; i < count; i++) {
		if (strcmp((const char *)&systems[i] + offset, key) != 0)
			continue;
		if (found >= 0)
			return -EEXIST;
		found = (int)i;
	}
	return found;
}

int winapi_hcs_find(const struct winapi_hcs_system *systems, size_t count, const char *key)
{
	size_t i;
	int rc;

	if (key == NULL || *key == '\0')
		return -ENOENT;
	for (i = 0; i < count; i++)
		if (strcasecmp(systems[i].id, key) == 0)
			return (int)i;
	rc = find_unique(systems, count, key, offsetof(struct winapi_hcs_system, name));
	if (rc == -ENOENT)
		rc = find_unique(systems, count, key, offsetof(struct winapi_hcs_system, owner));
	return rc;
}

int winapi_hcs_properties_format(const char *document, char **pretty)
{
	json_error_t error;
	json_t *root = json_loads(document, JSON_REJECT_DUPLICATES, &error);

	*pretty = NULL;
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		return -EBADMSG;
	}
	return dump(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER, pretty);
}

/* HCS's facility (FACILITY_VMCOMPUTE), as HRESULT (0x8037....) and as NTSTATUS (0xC037....). */
#define HCS_CODE(hresult) ((hresult) & 0xffffu)
#define HCS_FACILITY(hresult) (((hresult) & 0x3fff0000u) == 0x00370000u)

int winapi_hcs_hresult_to_errno(uint32_t hresult)
{
	switch (hresult) {
	case 0x00000000u: /* S_OK */
		return 0;
	case 0x80070002u: /* HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) */
	case 0x80070490u: /* HRESULT_FROM_WIN32(ERROR_NOT_FOUND) */
		return -ENOENT;
	case 0x80070005u: /* E_ACCESSDENIED */
		return -EACCES;
	case 0x80070057u: /* E_INVALIDARG */
	case 0x80004003u: /* E_POINTER */
		return -EINVAL;
	case 0x8007000eu: /* E_OUTOFMEMORY */
		return -ENOMEM;
	case 0x800705b4u: /* HRESULT_FROM_WIN32(ERROR_TIMEOUT) */
		return -ETIMEDOUT;
	case 0x80070424u: /* HRESULT_FROM_WIN32(ERROR_SERVICE_DOES_NOT_EXIST): no vmcompute */
	case 0x8007007eu: /* HRESULT_FROM_WIN32(ERROR_MOD_NOT_FOUND) */
	case 0x80040154u: /* REGDB_E_CLASSNOTREG */
		return -EOPNOTSUPP;
	default:
		break;
	}
	if (HCS_FACILITY(hresult)) {
		switch (HCS_CODE(hresult)) {
		case 0x010e: /* HCS_E_SYSTEM_NOT_FOUND */
			return -ENOENT;
		case 0x010f: /* HCS_E_SYSTEM_ALREADY_EXISTS */
			return -EEXIST;
		case 0x0110: /* HCS_E_SYSTEM_ALREADY_STOPPED */
			return -EALREADY;
		case 0x0105: /* HCS_E_INVALID_STATE */
		case 0x0117: /* HCS_E_OPERATION_PENDING */
			return -EBUSY;
		case 0x0109: /* HCS_E_CONNECTION_TIMEOUT */
		case 0x0118: /* HCS_E_OPERATION_TIMEOUT */
			return -ETIMEDOUT;
		case 0x011b: /* HCS_E_ACCESS_DENIED */
			return -EACCES;
		case 0x0102: /* HCS_E_HYPERV_NOT_INSTALLED */
		case 0x0114: /* HCS_E_SERVICE_NOT_AVAILABLE */
			return -EOPNOTSUPP;
		default:
			break;
		}
	}
	return -EIO;
}

void winapi_hcs_error_message(const char *document, char *out, size_t out_size)
{
	json_error_t error;
	json_t *root;
	const char *message;

	if (out_size == 0)
		return;
	out[0] = '\0';
	if (document == NULL)
		return;
	root = json_loads(document, 0, &error);
	message = json_string_value(json_object_get(root, "ErrorMessage"));
	if (message != NULL)
		snprintf(out, out_size, "%s", message);
	json_decref(root);
}
