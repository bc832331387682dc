/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <winapi_internal/hvsock.h>
#include <winapi/protocol.h>

#include "baseline.h"

/* Largest JSON header either side accepts: text of 3 KiB, escaped, with room to spare. */
#define BASELINE_MAX_HEADER (64u << 10)
#define BASELINE_MAX_PAYLOAD (64u << 20)

/* One frame (<winapi_internal/hvsock.h>'s framing): u32 length, the JSON text, then @payload bytes. */
static int send_json(int fd, json_t *object, const void *payload, size_t payload_length)
{
	const struct winapi_hvsock_span span = { .data = payload, .length = payload_length };
	char *text = json_dumps(object, JSON_COMPACT);
	int rc;

	if (text == NULL)
		return -ENOMEM;
	rc = winapi_hvsock_send(fd, text, strlen(text), &span, payload_length != 0);
	free(text);
	return rc;
}

/* -ECONNRESET: the peer closed between frames; -EPROTO: inside one, or not a JSON object. */
static int receive_json(struct winapi_hvsock_reader *reader, json_t **object)
{
	json_error_t error;
	size_t length;
	char *text = malloc(BASELINE_MAX_HEADER);
	int rc;

	if (text == NULL)
		return -ENOMEM;
	rc = winapi_hvsock_receive_header(reader, text, BASELINE_MAX_HEADER, &length);
	if (rc == 0) {
		*object = json_loadb(text, length, 0, &error);
		rc = *object != NULL && json_is_object(*object) ? 0 : -EPROTO;
		if (rc != 0 && *object != NULL)
			json_decref(*object);
	}
	free(text);
	return rc;
}

/* ---- the host ---- */

static int serve_echo(int fd, json_t *request, json_int_t id)
{
	const char *data;
	size_t length;
	json_t *reply;
	int rc;

	if (json_unpack(request, "{s:s%}", "data", &data, &length) != 0)
		return -EPROTO;
	reply = json_pack("{s:I, s:i, s:s%}", "request_id", id, "status", 0, "data", data, length);
	rc = reply != NULL ? send_json(fd, reply, NULL, 0) : -ENOMEM;
	json_decref(reply);
	return rc;
}

static int serve_buffer_test(struct winapi_hvsock_reader *reader, json_t *request, json_int_t id, uint8_t **payload,
			     size_t *capacity)
{
	json_int_t size, pattern;
	const char *operation;
	uint64_t mismatches = 0, first = UINT64_MAX, i;
	uint32_t crc;
	json_t *reply;
	int rc;

	if (json_unpack(request, "{s:s, s:I, s:I}", "op", &operation, "pattern", &pattern, "payload_size", &size) != 0 ||
	    size <= 0 || size > BASELINE_MAX_PAYLOAD ||
	    (strcmp(operation, "write") != 0 && strcmp(operation, "read") != 0 && strcmp(operation, "verify") != 0))
		return -EPROTO;
	if ((size_t)size > *capacity) {
		uint8_t *grown = realloc(*payload, (size_t)size);

		if (grown == NULL)
			return -ENOMEM;
		*payload = grown;
		*capacity = (size_t)size;
	}
	if (strcmp(operation, "write") == 0) {
		for (i = 0; i < (uint64_t)size; i++)
			(*payload)[i] = winapi_pattern_byte((uint32_t)pattern, i);
	} else {
		/* READ and VERIFY: the bytes come over the socket (no shared memory to name). */
		rc = winapi_hvsock_receive(reader, *payload, (size_t)size);
		if (rc != 0)
			return rc;
		if (strcmp(operation, "verify") == 0)
			for (i = 0; i < (uint64_t)size; i++)
				if ((*payload)[i] != winapi_pattern_byte((uint32_t)pattern, i) && mismatches++ == 0)
					first = i;
	}
	crc = winapi_crc32c(0, *payload, (size_t)size);
	reply = json_pack("{s:I, s:i, s:I, s:I, s:I, s:I}", "request_id", id, "status", 0, "bytes_processed",
			  size, "checksum", (json_int_t)crc, "mismatches", (json_int_t)mismatches, "first_mismatch",
			  first == UINT64_MAX ? (json_int_t)-1 : (json_int_t)first);
	/* WRITE: the bytes go back to the guest after the reply, in the same frame. */
	rc = reply != NULL ? send_json(reader->socket, reply, *payload,
				       strcmp(operation, "write") == 0 ? (size_t)size : 0) :
			     -ENOMEM;
	json_decref(reply);
	return rc;
}

/*
 * FILE_READ: @length bytes of the file at @path from @offset, read into the payload buffer and
 * sent after the reply. The bench's own file: the baseline host is the bench's child, and the
 * path is its own, so no export or confinement stands in for the host's work here.
 */
static int serve_file_read(int fd, json_t *request, json_int_t id, uint8_t **payload, size_t *capacity)
{
	json_int_t offset, length;
	const char *path;
	size_t done = 0;
	ssize_t got;
	json_t *reply;
	int file, rc;

	if (json_unpack(request, "{s:s, s:I, s:I}", "path", &path, "offset", &offset, "length", &length) != 0 ||
	    offset < 0 || length <= 0 || length > BASELINE_MAX_PAYLOAD)
		return -EPROTO;
	if ((size_t)length > *capacity) {
		uint8_t *grown = realloc(*payload, (size_t)length);

		if (grown == NULL)
			return -ENOMEM;
		*payload = grown;
		*capacity = (size_t)length;
	}
	file = open(path, O_RDONLY | O_CLOEXEC);
	if (file < 0)
		return -errno;
	while (done < (size_t)length) {
		got = pread(file, *payload + done, (size_t)length - done, (off_t)offset + (off_t)done);
		if (got <= 0)
			break;
		done += (size_t)got;
	}
	close(file);
	reply = json_pack("{s:I, s:i, s:I}", "request_id", id, "status", 0, "bytes", (json_int_t)done);
	rc = reply != NULL ? send_json(fd, reply, *payload, done) : -ENOMEM;
	json_decref(reply);
	return rc;
}

int baseline_serve(int fd)
{
	struct winapi_hvsock_reader *reader = malloc(sizeof(*reader));
	size_t capacity = 0;
	uint8_t *payload = NULL;
	int rc = 0;

	if (reader == NULL)
		return -ENOMEM;
	winapi_hvsock_reader_init(reader, fd);
	for (;;) {
		const char *api;
		json_int_t id;
		json_t *request;

		rc = receive_json(reader, &request);
		if (rc == -ECONNRESET) {
			rc = 0;
			break;
		}
		if (rc != 0)
			break;
		if (json_unpack(request, "{s:I, s:s}", "request_id", &id, "api", &api) != 0)
			rc = -EPROTO;
		else if (strcmp(api, "echo") == 0)
			rc = serve_echo(fd, request, id);
		else if (strcmp(api, "buffer_test") == 0)
			rc = serve_buffer_test(reader, request, id, &payload, &capacity);
		else if (strcmp(api, "file_read") == 0)
			rc = serve_file_read(fd, request, id, &payload, &capacity);
		else
			rc = -EPROTO;
		json_decref(request);
		if (rc != 0)
			break;
	}
	free(payload);
	free(reader);
	return rc;
}

void baseline_client_init(struct baseline_client *client, int fd)
{
	client->fd = fd;
	client->next_id = 1;
	winapi_hvsock_reader_init(&client->reader, fd);
}

/* ---- the guest ---- */

static int send_echo(struct baseline_client *client, const char *text, size_t length)
{
	json_t *request = json_pack("{s:I, s:s, s:s%}", "request_id", (json_int_t)client->next_id++, "api", "echo",
				    "data", text, length);
	int rc = request != NULL ? send_json(client->fd, request, NULL, 0) : -ENOMEM;

	json_decref(request);
	return rc;
}

static int receive_echo(struct baseline_client *client, char *output, size_t output_size)
{
	const char *data;
	int status;
	json_t *reply;
	size_t length;
	int rc = receive_json(&client->reader, &reply);

	if (rc != 0)
		return rc;
	if (json_unpack(reply, "{s:i, s:s%}", "status", &status, "data", &data, &length) != 0 || status != 0)
		rc = -EPROTO;
	else if (output != NULL && length >= output_size)
		rc = -ENOBUFS;
	else if (output != NULL) {
		memcpy(output, data, length);
		output[length] = '\0';
	}
	json_decref(reply);
	return rc;
}

int baseline_echo(struct baseline_client *client, const char *text, size_t length, char *output,
		  size_t output_size)
{
	int rc = send_echo(client, text, length);

	return rc != 0 ? rc : receive_echo(client, output, output_size);
}

int baseline_echo_batch(struct baseline_client *client, const char *text, size_t length, unsigned int count)
{
	unsigned int i;
	int rc = 0;

	for (i = 0; i < count && rc == 0; i++)
		rc = send_echo(client, text, length);
	for (i = 0; i < count && rc == 0; i++)
		rc = receive_echo(client, NULL, 0);
	return rc;
}

int baseline_buffer_test(struct baseline_client *client, int operation, void *buffer, size_t length,
			 uint32_t pattern, winapi_buffer_test_result_t *result)
{
	const char *name = operation == WINAPI_BUFFER_OP_WRITE ? "write" :
			   operation == WINAPI_BUFFER_OP_READ ? "read" : "verify";
	json_int_t bytes, checksum, mismatches, first;
	int status;
	json_t *request, *reply;
	int rc;

	request = json_pack("{s:I, s:s, s:s, s:I, s:I}", "request_id", (json_int_t)client->next_id++, "api",
			    "buffer_test", "op", name, "pattern", (json_int_t)pattern, "payload_size",
			    (json_int_t)length);
	rc = request != NULL ? send_json(client->fd, request, buffer, operation != WINAPI_BUFFER_OP_WRITE ? length : 0) :
			       -ENOMEM;
	json_decref(request);
	if (rc == 0)
		rc = receive_json(&client->reader, &reply);
	if (rc != 0)
		return rc;
	if (json_unpack(reply, "{s:i, s:I, s:I, s:I, s:I}", "status", &status, "bytes_processed", &bytes,
			"checksum", &checksum, "mismatches", &mismatches, "first_mismatch", &first) != 0 ||
	    status != 0 || bytes != (json_int_t)length)
		rc = -EPROTO;
	json_decref(reply);
	if (rc == 0 && operation == WINAPI_BUFFER_OP_WRITE)
		rc = winapi_hvsock_receive(&client->reader, buffer, length);
	if (rc != 0)
		return rc;
	*result = (winapi_buffer_test_result_t){
		.bytes_processed = (uint64_t)bytes,
		.checksum = (uint32_t)checksum,
		.status = mismatches != 0 ? -EILSEQ : 0,
		.mismatches = (uint64_t)mismatches,
		.first_mismatch = first < 0 ? UINT64_MAX : (uint64_t)first,
	};
	return 0;
}

int baseline_file_read(struct baseline_client *client, const char *path, uint64_t offset, void *buffer, size_t length,
		       size_t *bytes)
{
	json_int_t done;
	json_t *request, *reply;
	int status, rc;

	request = json_pack("{s:I, s:s, s:s, s:I, s:I}", "request_id", (json_int_t)client->next_id++, "api",
			    "file_read", "path", path, "offset", (json_int_t)offset, "length", (json_int_t)length);
	rc = request != NULL ? send_json(client->fd, request, NULL, 0) : -ENOMEM;
	json_decref(request);
	if (rc == 0)
		rc = receive_json(&client->reader, &reply);
	if (rc != 0)
		return rc;
	if (json_unpack(reply, "{s:i, s:I}", "status", &status, "bytes", &done) != 0 || status != 0 || done < 0 ||
	    (size_t)done > length)
		rc = -EPROTO;
	json_decref(reply);
	if (rc == 0)
		rc = winapi_hvsock_receive(&client->reader, buffer, (size_t)done);
	if (rc == 0)
		*bytes = (size_t)done;
	return rc;
}
