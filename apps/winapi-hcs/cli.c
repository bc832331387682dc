/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * winapi-hcs: list the compute systems of this Windows host, show one's properties, and print
 * the VM id that Hyper-V sockets address (what winapi-hostd.exe --vm-id takes). Portable: the
 * arguments, the documents and the output; HCS is behind struct hcs_backend.
 */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_FILTERS 16

struct cli {
	const char *command;       /* list, show, vmid */
	const char *target;        /* show, vmid: an id, a name or an owner */
	bool json;
	const char *owners[MAX_FILTERS + 1];
	const char *types[MAX_FILTERS + 1];
	const char *properties[MAX_FILTERS + 1];
	unsigned int owner_count, type_count, property_count;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: winapi-hcs [--json] COMMAND\n"
		"Asks the Windows Host Compute Service about the compute systems of this host.\n"
		"\n"
		"  list [--owner OWNER]... [--type TYPE]...\n"
		"                       id, name, type, state and owner of each system (TYPE:\n"
		"                       VirtualMachine, Container, ...)\n"
		"  show SYSTEM [--property TYPE]...\n"
		"                       the system's properties as JSON (TYPE: Memory, Statistics,\n"
		"                       ProcessList, GuestConnection, ...; none: the basic ones)\n"
		"  vmid SYSTEM          the VM id Hyper-V sockets address, for winapi-hostd.exe --vm-id\n"
		"\n"
		"SYSTEM is an id, a name, or an owner that has only one system (vmid WSL: WSL2's VM).\n"
		"  --json               machine-readable output\n"
		"  --help               this text\n"
		"\n"
		"Exit status: 0; 1 when HCS failed or the system is not there; 2 for bad usage.\n");
}

static int add_filter(const char **list, unsigned int *count, const char *value, const char *option, FILE *err)
{
	if (value == NULL || *value == '\0') {
		fprintf(err, "winapi-hcs: %s needs a value\n", option);
		return 2;
	}
	if (*count == MAX_FILTERS) {
		fprintf(err, "winapi-hcs: at most %d %s options\n", MAX_FILTERS, option);
		return 2;
	}
	list[(*count)++] = value;
	list[*count] = NULL;
	return 0;
}

static int parse(int argc, char **argv, struct cli *cli, FILE *out, FILE *err)
{
	int i, rc;

	memset(cli, 0, sizeof(*cli));
	for (i = 1; i < argc; i++) {
		const char *argument = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(argument, "--help") == 0 || strcmp(argument, "-h") == 0) {
			usage(out);
			return -1;
		} else if (strcmp(argument, "--json") == 0) {
			cli->json = true;
		} else if (strcmp(argument, "--owner") == 0) {
			rc = add_filter(cli->owners, &cli->owner_count, value, argument, err);
			if (rc != 0)
				return rc;
			i++;
		} else if (strcmp(argument, "--type") == 0) {
			rc = add_filter(cli->types, &cli->type_count, value, argument, err);
			if (rc != 0)
				return rc;
			i++;
		} else if (strcmp(argument, "--property") == 0) {
			rc = add_filter(cli->properties, &cli->property_count, value, argument, err);
			if (rc != 0)
				return rc;
			i++;
		} else if (argument[0] == '-' && argument[1] != '\0') {
			fprintf(err, "winapi-hcs: unknown option '%s'\n", argument);
			return 2;
		} else if (cli->command == NULL) {
			cli->command = argument;
		} else if (cli->target == NULL) {
			cli->target = argument;
		} else {
			fprintf(err, "winapi-hcs: unexpected argument '%s'\n", argument);
			return 2;
		}
	}
	if (cli->command == NULL) {
		usage(err);
		return 2;
	}
	if (strcmp(cli->command, "list") != 0 && strcmp(cli->command, "show") != 0 &&
	    strcmp(cli->command, "vmid") != 0) {
		fprintf(err, "winapi-hcs: unknown command '%s' (list, show or vmid)\n", cli->command);
		return 2;
	}
	if ((strcmp(cli->command, "list") == 0) != (cli->target == NULL)) {
		fprintf(err, "winapi-hcs: %s\n", cli->target == NULL ? "which system? (an id, a name or an owner)" :
								     "list takes no system; filter with --owner, --type");
		return 2;
	}
	if ((cli->owner_count != 0 || cli->type_count != 0) && strcmp(cli->command, "list") != 0) {
		fprintf(err, "winapi-hcs: --owner and --type filter list only\n");
		return 2;
	}
	if (cli->property_count != 0 && strcmp(cli->command, "show") != 0) {
		fprintf(err, "winapi-hcs: --property is for show only\n");
		return 2;
	}
	return 0;
}

static int enumerate(const struct cli *cli, const struct hcs_backend *backend, struct winapi_hcs_system **systems,
		     size_t *count, FILE *err)
{
	struct winapi_hcs_query query = {
		.owners = cli->owner_count != 0 ? cli->owners : NULL,
		.types = cli->type_count != 0 ? cli->types : NULL,
	};
	char error[512] = "", *document = NULL;
	size_t skipped;
	int rc;

	rc = backend->enumerate(&query, &document, error, sizeof(error));
	if (rc != 0) {
		fprintf(err, "winapi-hcs: cannot enumerate compute systems: %s%s%s\n", error[0] ? error : strerror(-rc),
			rc == -EOPNOTSUPP ? " (enable Hyper-V or Containers; is vmcompute running?)" : "",
			rc == -EACCES ? " (run as Administrator, or as a member of Hyper-V Administrators)" : "");
		return rc;
	}
	rc = winapi_hcs_systems_parse(document, systems, count, &skipped);
	free(document);
	if (rc != 0)
		fprintf(err, "winapi-hcs: HCS returned a list that does not parse (%s)\n", strerror(-rc));
	else if (skipped != 0)
		fprintf(err, "winapi-hcs: %zu compute system(s) left out: a field longer than this tool holds\n",
			skipped);
	return rc;
}

static json_t *system_json(const struct winapi_hcs_system *system)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "id", system->id, "name", system->name, "type",
			 system->type, "state", system->state, "owner", system->owner, "runtime_id",
			 system->runtime_id);
}

static int print_json(json_t *value, FILE *out)
{
	int rc = value != NULL && json_dumpf(value, out, JSON_INDENT(2)) == 0 ? 0 : -ENOMEM;

	json_decref(value);
	if (rc == 0)
		fputc('\n', out);
	return rc;
}

static int list(const struct cli *cli, const struct winapi_hcs_system *systems, size_t count, FILE *out)
{
	json_t *array;
	size_t i;

	if (cli->json) {
		array = json_array();
		for (i = 0; array != NULL && i < count; i++)
			if (json_array_append_new(array, system_json(&systems[i])) != 0) {
				json_decref(array);
				array = NULL;
			}
		return print_json(array, out);
	}
	fprintf(out, "%-38s %-20s %-16s %-10s %s\n", "ID", "NAME", "TYPE", "STATE", "OWNER");
	for (i = 0; i < count; i++)
		fprintf(out, "%-38s %-20s %-16s %-10s %s\n", systems[i].id, systems[i].name[0] ? systems[i].name : "-",
			systems[i].type[0] ? systems[i].type : "-", systems[i].state[0] ? systems[i].state : "-",
			systems[i].owner[0] ? systems[i].owner : "-");
	return 0;
}

static int find(const struct cli *cli, const struct winapi_hcs_system *systems, size_t count, FILE *err)
{
	int index = winapi_hcs_find(systems, count, cli->target);

	if (index == -ENOENT)
		fprintf(err, "winapi-hcs: no compute system '%s' (winapi-hcs list shows them)\n", cli->target);
	else if (index == -EEXIST)
		fprintf(err, "winapi-hcs: '%s' names more than one compute system: give its id\n", cli->target);
	return index;
}

static int show(const struct cli *cli, const struct hcs_backend *backend, const struct winapi_hcs_system *system,
		FILE *out, FILE *err)
{
	char error[512] = "", *document = NULL, *pretty = NULL;
	int rc;

	rc = backend->properties(system->id, cli->property_count != 0 ? cli->properties : NULL, &document, error,
				 sizeof(error));
	if (rc != 0) {
		fprintf(err, "winapi-hcs: cannot read the properties of %s: %s\n", system->id,
			error[0] ? error : strerror(-rc));
		return rc;
	}
	rc = winapi_hcs_properties_format(document, &pretty);
	free(document);
	if (rc != 0) {
		fprintf(err, "winapi-hcs: HCS returned properties that do not parse (%s)\n", strerror(-rc));
		return rc;
	}
	fprintf(out, "%s\n", pretty);
	free(pretty);
	return 0;
}

static int vmid(const struct cli *cli, const struct winapi_hcs_system *system, FILE *out, FILE *err)
{
	if (system->runtime_id[0] == '\0') {
		fprintf(err, "winapi-hcs: %s has no RuntimeId: it is not a VM, or it is not running\n", system->id);
		return -ENOENT;
	}
	if (cli->json)
		return print_json(json_pack("{s:s, s:s, s:s}", "id", system->id, "name", system->name, "vm_id",
					    system->runtime_id), out);
	fprintf(out, "%s\n", system->runtime_id);
	return 0;
}

int hcs_cli_main(int argc, char **argv, const struct hcs_backend *backend, FILE *out, FILE *err)
{
	struct winapi_hcs_system *systems = NULL;
	struct cli cli;
	size_t count = 0;
	int rc, index;

	rc = parse(argc, argv, &cli, out, err);
	if (rc != 0)
		return rc < 0 ? 0 : rc;
	rc = enumerate(&cli, backend, &systems, &count, err);
	if (rc == 0 && strcmp(cli.command, "list") == 0) {
		rc = list(&cli, systems, count, out);
	} else if (rc == 0) {
		index = find(&cli, systems, count, err);
		rc = index < 0 ? index :
		     strcmp(cli.command, "show") == 0 ? show(&cli, backend, &systems[index], out, err) :
							vmid(&cli, &systems[index], out, err);
	}
	free(systems);
	return rc == 0 ? 0 : 1;
}
