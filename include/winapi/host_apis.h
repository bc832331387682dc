/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The host APIs every winapi host serves (1.1 table, found by name with winapi_api_lookup()):
 * their names, ids, versions and reply layouts on the wire, and the checks a guest applies to
 * what a host answers. The same bytes from every host: the Linux build (winapi-host-sim,
 * winapi-hostd, winapi-pmd --backend inline) reads POSIX clocks and /proc, the Windows build
 * (winapi-hostd.exe) the Win32 calls named below.
 *
 *   name             id  version  request                      buffers       reply
 *   host.time        32  1.0      none                         none          struct winapi_host_time, 24 bytes
 *   host.info        33  1.0      none                         none          struct winapi_host_info, 480 bytes
 *   host.file.stat   40  1.0      struct winapi_file_request   none          struct winapi_file_stat, 32 bytes
 *   host.file.list   41  1.0      struct winapi_file_request   none          16-byte head, entries
 *   host.file.read   42  1.0      struct winapi_file_request   1-8, written  struct winapi_file_io, 16 bytes
 *   host.file.write  43  1.0      struct winapi_file_request   1-8, read     struct winapi_file_io, 16 bytes
 *
 * Files: a host serves only the directories it exports, each under a name
 * (winapi-host-sim, winapi-hostd: --export NAME=DIR[:ro|rw], read-only unless :rw); with
 * nothing exported nothing is reachable. A path is relative to its export's directory, '/'
 * between components, and follows the same rules on every host (winapi_file_path_check()):
 * what one host refuses, all refuse. Each host opens beneath the export's directory with the
 * kernel's help (Linux: openat2() with RESOLVE_BENEATH; Windows: handle-relative opens, one
 * component at a time, refusing reparse points), so no symbolic link, junction or rename can
 * lead out of it. File replies start with an error: 0, or a Linux errno number (the Windows
 * host maps its errors to those numbers), since the call itself was understood.
 *
 * Linking: liblowlat.so exports the three path checks of this header
 * (winapi_file_path_check() and the name checks); the codecs are in liblowlat.a.
 *
 * Everything is little-endian on the wire; a decoded struct has the same fields in host order.
 * A later minor version may append fields: a 1.x reply is at least the 1.0 size, and a guest
 * reads the fields it knows.
 *
 * Synchronisation: the encode and decode calls touch only their arguments; any may run
 * concurrently with any other.
 *
 * Owner: lib/winapi
 */
#ifndef WINAPI_HOST_APIS_H
#define WINAPI_HOST_APIS_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WINAPI_HOST_TIME_NAME "host.time"
#define WINAPI_HOST_TIME_ID 32u
#define WINAPI_HOST_TIME_VERSION 0x100u
#define WINAPI_HOST_INFO_NAME "host.info"
#define WINAPI_HOST_INFO_ID 33u
#define WINAPI_HOST_INFO_VERSION 0x100u

/**
 * host.time: the host's clocks, read as the handler starts (as close to the request's arrival
 * as the host can). Linux: CLOCK_REALTIME and CLOCK_MONOTONIC. Windows:
 * GetSystemTimePreciseAsFileTime() and QueryPerformanceCounter() scaled to nanoseconds.
 */
struct winapi_host_time {
	uint64_t realtime_ns;   /**< @0  wall clock, ns since 1970-01-01 00:00 UTC; not 0 */
	uint64_t monotonic_ns;  /**< @8  a clock that never steps back, ns from an origin of the host's */
	uint32_t resolution_ns; /**< @16 the coarser of the two clocks' resolutions; 1..1000000000 */
	uint32_t reserved;      /**< @20 zero */
};

#define WINAPI_HOST_TIME_SIZE 24u
static_assert(sizeof(struct winapi_host_time) == WINAPI_HOST_TIME_SIZE, "host.time is 24 bytes");

/** Sizes of host.info's text fields, each NUL-terminated and NUL-padded UTF-8. */
#define WINAPI_HOST_INFO_OS_NAME_SIZE 64u
#define WINAPI_HOST_INFO_OS_VERSION_SIZE 64u
#define WINAPI_HOST_INFO_HOST_NAME_SIZE 256u
#define WINAPI_HOST_INFO_PROCESSOR_SIZE 64u

/**
 * host.info: what the host is. Linux: uname(), gethostname(), sysconf(_SC_NPROCESSORS_ONLN),
 * /proc/cpuinfo's model name, /proc/meminfo's MemTotal and MemAvailable. Windows:
 * RtlGetVersion(), GetComputerNameExW(ComputerNameDnsHostname), GetNativeSystemInfo(), the
 * registry's ProcessorNameString, GlobalMemoryStatusEx(). A text the host cannot tell is empty.
 */
struct winapi_host_info {
	uint32_t processor_count;  /**< @0  logical processors; at least 1 */
	uint32_t os_major;         /**< @4  Linux 6.12.8: 6; Windows 10.0.26100: 10 */
	uint32_t os_minor;         /**< @8  12; 0 */
	uint32_t os_build;         /**< @12 8; 26100 */
	uint64_t memory_total;     /**< @16 bytes of physical memory */
	uint64_t memory_available; /**< @24 bytes available now; <= memory_total */
	char os_name[WINAPI_HOST_INFO_OS_NAME_SIZE];       /**< @32  "Linux", "Windows" */
	char os_version[WINAPI_HOST_INFO_OS_VERSION_SIZE]; /**< @96  free text: "6.12.8-amd64", "10.0.26100 (Wine 8.0)" */
	char host_name[WINAPI_HOST_INFO_HOST_NAME_SIZE];   /**< @160 the host's name (DNS host name on Windows) */
	char processor[WINAPI_HOST_INFO_PROCESSOR_SIZE];   /**< @416 processor model */
};

#define WINAPI_HOST_INFO_SIZE 480u
static_assert(sizeof(struct winapi_host_info) == WINAPI_HOST_INFO_SIZE, "host.info is 480 bytes");
static_assert(offsetof(struct winapi_host_info, host_name) == 160, "host_name @160");

#define WINAPI_HOST_FILE_STAT_NAME "host.file.stat"
#define WINAPI_HOST_FILE_STAT_ID 40u
#define WINAPI_HOST_FILE_LIST_NAME "host.file.list"
#define WINAPI_HOST_FILE_LIST_ID 41u
#define WINAPI_HOST_FILE_READ_NAME "host.file.read"
#define WINAPI_HOST_FILE_READ_ID 42u
#define WINAPI_HOST_FILE_WRITE_NAME "host.file.write"
#define WINAPI_HOST_FILE_WRITE_ID 43u
#define WINAPI_HOST_FILE_VERSION 0x100u

/** An export's name: 1..32 bytes of lower-case letters, digits, '.', '_' and '-'. */
#define WINAPI_FILE_EXPORT_NAME_MAX 32u
/** A path: at most this many bytes ("" is the export's directory itself). */
#define WINAPI_FILE_PATH_MAX 1024u
/** A name in a directory listing: at most this many bytes. */
#define WINAPI_FILE_NAME_MAX 255u

/** host.file.write's flags. */
#define WINAPI_FILE_CREATE 0x1u   /**< create the file when it is not there */
#define WINAPI_FILE_TRUNCATE 0x2u /**< cut the file to offset + length after the write */
#define WINAPI_FILE_WRITE_FLAGS (WINAPI_FILE_CREATE | WINAPI_FILE_TRUNCATE)

/**
 * A file request: this 24-byte head, then the export's name and the path (no NULs, lengths
 * as given). The same for the four calls; what a call does not use is 0.
 */
struct winapi_file_request {
	uint64_t offset;         /**< @0  read, write: the file's first byte; list: the first entry */
	uint64_t length;         /**< @8  read, write: bytes at most (no more than the buffers hold) */
	uint32_t flags;          /**< @16 write: WINAPI_FILE_CREATE, WINAPI_FILE_TRUNCATE */
	uint16_t export_length;  /**< @20 1..WINAPI_FILE_EXPORT_NAME_MAX */
	uint16_t path_length;    /**< @22 0..WINAPI_FILE_PATH_MAX */
	const char *export_name; /**< decoded: into the request's bytes, export_length long */
	const char *path;        /**< decoded: into the request's bytes, path_length long */
};

#define WINAPI_FILE_REQUEST_HEAD 24u
#define WINAPI_FILE_REQUEST_MAX (WINAPI_FILE_REQUEST_HEAD + WINAPI_FILE_EXPORT_NAME_MAX + WINAPI_FILE_PATH_MAX)

/** What a path names. */
#define WINAPI_FILE_TYPE_REGULAR 1u
#define WINAPI_FILE_TYPE_DIRECTORY 2u
#define WINAPI_FILE_TYPE_OTHER 3u

/** host.file.stat's reply. */
struct winapi_file_stat {
	uint32_t error;    /**< @0  0 or a Linux errno number */
	uint32_t type;     /**< @4  WINAPI_FILE_TYPE_* (0 with an error) */
	uint64_t size;     /**< @8  bytes */
	uint64_t mtime_ns; /**< @16 last written, ns since 1970 UTC */
	uint32_t flags;    /**< @24 WINAPI_FILE_WRITABLE: the export is rw */
	uint32_t reserved; /**< @28 zero */
};

#define WINAPI_FILE_WRITABLE 0x1u
#define WINAPI_FILE_STAT_SIZE 32u

/** host.file.read's and host.file.write's reply. */
struct winapi_file_io {
	uint32_t error; /**< @0 0 or a Linux errno number */
	uint32_t flags; /**< @4 read: WINAPI_FILE_EOF, the read ended at the file's end */
	uint64_t bytes; /**< @8 bytes read into the buffers, in order, or written from them */
};

#define WINAPI_FILE_EOF 0x1u
#define WINAPI_FILE_IO_SIZE 16u

/**
 * host.file.list's reply: a 16-byte head (le32 error, le32 entry_count, le32 flags
 * (WINAPI_FILE_MORE: entries follow the last one), le32 zero), then entry_count entries of
 * 24 bytes (le64 size, le64 mtime_ns, le32 type, le16 name_length, le16 zero) each followed
 * by its name and zeros to 8 bytes. Entries in byte order of their names, from the request's
 * offset; names that break winapi_file_name_check() are left out.
 */
struct winapi_file_entry {
	uint64_t size;
	uint64_t mtime_ns;
	uint32_t type;
	char name[WINAPI_FILE_NAME_MAX + 1]; /**< NUL-terminated */
};

#define WINAPI_FILE_MORE 0x1u
#define WINAPI_FILE_LIST_HEAD 16u
#define WINAPI_FILE_ENTRY_HEAD 24u

/**
 * The error numbers file replies carry: Linux's, named here for the Windows host, which maps
 * its own errors to them. A guest returns them negated, as errno values.
 */
enum winapi_file_error {
	WINAPI_FILE_EPERM = 1,
	WINAPI_FILE_ENOENT = 2,
	WINAPI_FILE_EIO = 5,
	WINAPI_FILE_ENOMEM = 12,
	WINAPI_FILE_EACCES = 13,
	WINAPI_FILE_EBUSY = 16,
	WINAPI_FILE_EEXIST = 17,
	WINAPI_FILE_ENOTDIR = 20,
	WINAPI_FILE_EISDIR = 21,
	WINAPI_FILE_EINVAL = 22,
	WINAPI_FILE_EMFILE = 24,
	WINAPI_FILE_EFBIG = 27,
	WINAPI_FILE_ENOSPC = 28,
	WINAPI_FILE_EROFS = 30,
	WINAPI_FILE_ENAMETOOLONG = 36,
	WINAPI_FILE_ELOOP = 40,
	WINAPI_FILE_EOVERFLOW = 75,
};

/** Whether @p name is a valid export name (1..32 of [a-z0-9._-]). 0 or -EINVAL. */
int winapi_file_export_name_check(const char *name, size_t length);

/**
 * Whether @p name (@p length bytes) may be a component of a path on every host: UTF-8, not
 * empty, not "." or "..", none of NUL..0x1f, '/', '\\', ':', '*', '?', '"', '<', '>', '|', no
 * trailing '.' or ' ', and not a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9,
 * CONIN$, CONOUT$, in any case, with or without an extension). 0 or -EINVAL.
 */
int winapi_file_name_check(const char *name, size_t length);

/** A path: "" or components that pass winapi_file_name_check() joined by single '/'. 0 or -EINVAL. */
int winapi_file_path_check(const char *path, size_t length);

/**
 * Encode @p request (export_name and path as given, not checked beyond their lengths) into
 * @p out. @return bytes written; -EINVAL (a length over its limit, unknown flags); -ENOBUFS.
 */
int winapi_file_request_encode(const struct winapi_file_request *request, void *out, size_t out_size);

/**
 * Decode a file request from the guest: the head, lengths within their limits and exactly the
 * request's bytes, known flags only. The names are not checked here (the host answers a bad
 * one with an error). @return 0 or -EBADMSG.
 */
int winapi_file_request_decode(const void *in, size_t length, struct winapi_file_request *request);

void winapi_file_stat_encode(const struct winapi_file_stat *stat, void *out);
/** @return 0; -EBADMSG (short, unknown type or flags, reserved not zero, a type with an error). */
int winapi_file_stat_decode(const void *in, size_t length, struct winapi_file_stat *stat);

void winapi_file_io_encode(const struct winapi_file_io *io, void *out);
/** @return 0; -EBADMSG (short, unknown flags). */
int winapi_file_io_decode(const void *in, size_t length, struct winapi_file_io *io);

/**
 * Append @p entry to a list reply being built in @p out (@p out_size bytes, *@p used of them
 * taken; start with *@p used = WINAPI_FILE_LIST_HEAD). @return 0; -ENOBUFS (it does not fit:
 * the page is full); -EINVAL (a name that breaks winapi_file_name_check()).
 */
int winapi_file_list_add(void *out, size_t out_size, size_t *used, const struct winapi_file_entry *entry);

/** Write the list reply's head once its entries are in. */
void winapi_file_list_finish(void *out, uint32_t error, uint32_t entry_count, uint32_t flags);

/**
 * Decode a list reply from the host into up to @p max entries.
 * @return 0 with *@p error, *@p count and *@p flags; -EBADMSG (lengths that do not add up to
 *         the reply, a name that breaks winapi_file_name_check(), padding not zero, unknown
 *         flags or type); -ENOBUFS (more entries than @p max).
 */
int winapi_file_list_decode(const void *in, size_t length, uint32_t *error, struct winapi_file_entry *entries,
			    size_t max, uint32_t *count, uint32_t *flags);

/** Encode @p time into @p out (WINAPI_HOST_TIME_SIZE bytes); reserved goes as 0. */
void winapi_host_time_encode(const struct winapi_host_time *time, void *out);

/**
 * Decode a host.time reply of @p length bytes from the host.
 * @return 0; -EBADMSG (shorter than WINAPI_HOST_TIME_SIZE, realtime 0, a resolution of 0 or
 *         over a second).
 */
int winapi_host_time_decode(const void *in, size_t length, struct winapi_host_time *time);

/**
 * Encode @p info into @p out (WINAPI_HOST_INFO_SIZE bytes). Texts are cut to their field
 * (at a UTF-8 character's start) and NUL-padded.
 */
void winapi_host_info_encode(const struct winapi_host_info *info, void *out);

/**
 * Decode a host.info reply of @p length bytes from the host.
 * @return 0; -EBADMSG (shorter than WINAPI_HOST_INFO_SIZE, no processor, more memory
 *         available than there is, a text not NUL-terminated within its field or with bytes
 *         after its NUL, or not UTF-8).
 */
int winapi_host_info_decode(const void *in, size_t length, struct winapi_host_info *info);

#ifdef __cplusplus
}
#endif

#endif /* WINAPI_HOST_APIS_H */
