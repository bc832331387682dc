# winapi-remoting: GNU Make build.
#
#   make              libraries (static + shared) and apps, in $(BUILD)
#   make test         install missing packages, build, run every test, then again under ASan+UBSan
#   make check        run every test of this build only (no sanitizer pass)
#   make check-load   the same while a spinning process per CPU competes for every core
#   make demo         start the host emulator, make echo calls through liblowlat, stop it
#   make bench        winapi-bench: the floor, liblowlat and the socket+JSON baseline, side by
#                     side; writes $(BUILD)/bench/results.json and results.png (BENCH_FLAGS)
#   make install      PREFIX=/usr/local DESTDIR= (libraries, headers, pkg-config files, apps,
#                     vmbus-bind, man pages, winapi-pmd's systemd units and udev rule)
#   make deb-test     build the Debian packages (debian/), install them into a fresh root and
#                     call the installed emulator from a program built with pkg-config there
#
# Variables: BUILD (output directory), SANITIZE (e.g. address,undefined), CFLAGS, CC,
# TEST_TIMEOUT (seconds per test binary; multiplied for sanitizer builds), INSTALL_DEPS=no
# (build with what is installed; a package build, whose Build-Depends say what it needs).

BUILD ?= build
ifeq ($(origin CC),default)
CC := gcc
endif
CFLAGS ?= -O2 -g
SANITIZE ?=
TEST_TIMEOUT ?= 300
PREFIX ?= /usr/local
prefix ?= $(PREFIX)
libdir ?= $(prefix)/lib
includedir ?= $(prefix)/include
bindir ?= $(prefix)/bin
sbindir ?= $(prefix)/sbin
mandir ?= $(prefix)/share/man
systemdunitdir ?= $(prefix)/lib/systemd/system
udevrulesdir ?= $(prefix)/lib/udev/rules.d

LOWLAT_VERSION_MAJOR := 1
# The minor version is the newest node of lib/lowlat/liblowlat.map (LOWLAT_1.2).
LOWLAT_VERSION := $(LOWLAT_VERSION_MAJOR).2.0
VMBUS_VERSION_MAJOR := 0
VMBUS_VERSION := $(VMBUS_VERSION_MAJOR).1.0

WARNINGS := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wno-format-nonliteral -Werror
ALL_CPPFLAGS := -Iinclude -D_GNU_SOURCE $(CPPFLAGS)
ALL_CFLAGS := -std=c11 $(WARNINGS) -fPIC -pthread -MMD -MP $(CFLAGS)
ALL_LDFLAGS := -pthread $(LDFLAGS)
ifneq ($(SANITIZE),)
ALL_CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
ALL_LDFLAGS += -fsanitize=$(SANITIZE)
endif

# One list per component; the tree shows the layers (see README "Layout").
VMBUS_SOURCES := lib/vmbus/ring.c lib/vmbus/guid.c lib/vmbus/device.c lib/vmbus/channel.c \
	lib/vmbus/memory.c lib/vmbus/gpa.c lib/vmbus/page_allocator.c \
	drivers/bus/sim/sim_wire.c drivers/bus/sim/sim_guest.c drivers/bus/sim/sim_host.c \
	drivers/bus/uio/uio_bus.c drivers/bus/uio/uio_scan.c drivers/bus/uio/uio_map.c drivers/bus/uio/uio_dma.c
# The wire formats both sides speak: the VMBus protocol, and the Hyper-V socket's frames.
PROTOCOL_SOURCES := lib/winapi/protocol.c lib/winapi/crc32c.c lib/winapi/crc32c_page.c lib/log/log.c drivers/hvsock/hvsock_wire.c
# The request table every transport keeps its requests in.
REQUESTS_SOURCES := lib/requests/request_table.c lib/requests/api_table.c
# Transports: the winapi driver on VMBus (uio, emulator, winapi-pmd), the Hyper-V socket.
DRIVER_SOURCES := drivers/winapi/winapi_driver.c drivers/winapi/winapi_transport.c drivers/winapi/pmd_client.c \
	drivers/winapi/pmd_path.c drivers/hvsock/hvsock_transport.c drivers/transports.c
LOWLAT_SOURCES := lib/lowlat/lowlat.c lib/lowlat/apis.c lib/lowlat/host_apis.c lib/lowlat/buffers.c lib/lowlat/perf.c lib/lowlat/async.c
HOST_SOURCES := drivers/host/host.c drivers/host/dispatch.c drivers/host/registry.c drivers/host/events.c drivers/host/tick.c drivers/host/sim_memory.c drivers/host/answer.c drivers/host/socket.c drivers/host/echo.c \
	drivers/host/buffer_test.c drivers/host/perf_test.c drivers/host/system_apis.c drivers/host/system_posix.c \
	drivers/host/files.c drivers/host/files_posix.c
# DPDK telemetry v2 server and client: winapi-pmd serves with it, its --stats and tests query.
TELEMETRY_SOURCES := lib/telemetry/telemetry.c

objects = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
VMBUS_OBJECTS := $(call objects,$(VMBUS_SOURCES))
PROTOCOL_OBJECTS := $(call objects,$(PROTOCOL_SOURCES))
LOWLAT_OBJECTS := $(call objects,$(LOWLAT_SOURCES) $(DRIVER_SOURCES) $(REQUESTS_SOURCES)) $(PROTOCOL_OBJECTS) \
	$(VMBUS_OBJECTS)
HOST_OBJECTS := $(call objects,$(HOST_SOURCES)) $(PROTOCOL_OBJECTS) $(VMBUS_OBJECTS)

# What the protocol layer links: isa-l (CRC32C) and jansson (the Hyper-V socket wire's JSON).
LIBS_PROTOCOL := -lisal -ljansson
LIB := $(BUILD)/lib
BIN := $(BUILD)/bin
TESTBIN := $(BUILD)/tests

LIBRARIES := $(LIB)/libvmbus.a $(LIB)/libvmbus.so.$(VMBUS_VERSION) \
	$(LIB)/liblowlat.a $(LIB)/liblowlat.so.$(LOWLAT_VERSION) $(LIB)/libwinapi-host.a
APPS := $(BIN)/winapi-test $(BIN)/winapi-host-sim $(BIN)/winapi-hostd $(BIN)/vmbus-probe $(BIN)/winapi-bench \
	$(BIN)/winapi-pmd
# The example driver, linked statically for the initramfs of the VM test.
STATIC_PROBE := $(BUILD)/static/vmbus-probe

UNIT_TESTS := $(TESTBIN)/ring_ut $(TESTBIN)/channel_ut $(TESTBIN)/protocol_ut $(TESTBIN)/sim_ut \
	$(TESTBIN)/uio_ut $(TESTBIN)/telemetry_ut $(TESTBIN)/hvsock_ut $(TESTBIN)/hcs_ut \
	$(TESTBIN)/page_allocator_ut $(TESTBIN)/request_table_ut $(TESTBIN)/host_answer_ut \
	$(TESTBIN)/api_table_ut $(TESTBIN)/policy_ut $(TESTBIN)/host_system_ut
SCRIPT_TESTS := $(TESTBIN)/vmbus_bind_test $(TESTBIN)/windows_build_test $(TESTBIN)/layering_test \
	$(TESTBIN)/headers_test $(TESTBIN)/systemd_unit_test $(TESTBIN)/secure_env_test $(TESTBIN)/man_pages_test
E2E_TESTS := $(TESTBIN)/echo_e2e $(TESTBIN)/async_e2e $(TESTBIN)/buffer_e2e $(TESTBIN)/channels_e2e \
	$(TESTBIN)/baseline_e2e $(TESTBIN)/pmd_e2e $(TESTBIN)/faults_e2e $(TESTBIN)/integration_e2e \
	$(TESTBIN)/hvsock_e2e $(TESTBIN)/api_e2e $(TESTBIN)/pmd_inline_e2e $(TESTBIN)/host_apis_e2e
TESTS := $(UNIT_TESTS) $(SCRIPT_TESTS) $(E2E_TESTS)

INSTALL_DEPS ?= yes
ifeq ($(INSTALL_DEPS),no)
DEPS_STAMP :=
else
DEPS_STAMP := $(BUILD)/.deps-installed
endif

.PHONY: all deps windows test check check-load sanitize-check tsan-check soak demo bench vm-test wine-test install \
	deb deb-test clean
.DEFAULT_GOAL := all

all: $(LIBRARIES) $(APPS)

# Packages first: every object waits for them (order-only), and the check re-runs when the
# script changes.
ifneq ($(DEPS_STAMP),)
$(DEPS_STAMP): scripts/install-deps.sh
	@mkdir -p $(@D)
	scripts/install-deps.sh
	@touch $@
endif

deps: $(DEPS_STAMP)

$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

# Static archives.
$(LIB)/libvmbus.a: $(VMBUS_OBJECTS)
$(LIB)/liblowlat.a: $(LOWLAT_OBJECTS)
$(LIB)/libwinapi-host.a: $(HOST_OBJECTS)
$(LIB)/%.a:
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcs $@ $^

# Shared libraries: soname = major version, exports fixed by a version script.
$(LIB)/liblowlat.so.$(LOWLAT_VERSION): $(LOWLAT_OBJECTS) lib/lowlat/liblowlat.map
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,liblowlat.so.$(LOWLAT_VERSION_MAJOR) \
		-Wl,--version-script=lib/lowlat/liblowlat.map -Wl,--no-undefined \
		$(ALL_LDFLAGS) -o $@ $(LOWLAT_OBJECTS) $(LIBS_PROTOCOL)
	ln -sf $(@F) $(LIB)/liblowlat.so.$(LOWLAT_VERSION_MAJOR)
	ln -sf $(@F) $(LIB)/liblowlat.so

$(LIB)/libvmbus.so.$(VMBUS_VERSION): $(VMBUS_OBJECTS) lib/vmbus/libvmbus.map
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libvmbus.so.$(VMBUS_VERSION_MAJOR) \
		-Wl,--version-script=lib/vmbus/libvmbus.map -Wl,--no-undefined \
		$(ALL_LDFLAGS) -o $@ $(VMBUS_OBJECTS)
	ln -sf $(@F) $(LIB)/libvmbus.so.$(VMBUS_VERSION_MAJOR)
	ln -sf $(@F) $(LIB)/libvmbus.so

# Apps: winapi-test links the shared liblowlat as applications do; the emulator is static.
RPATH := -Wl,-rpath,'$$ORIGIN/../lib'
$(BIN)/winapi-test: $(call objects,apps/winapi-test/main.c) $(LIB)/liblowlat.so.$(LOWLAT_VERSION)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $< -L$(LIB) -llowlat $(RPATH)

$(BIN)/winapi-host-sim: $(call objects,apps/winapi-host-sim/main.c) $(LIB)/libwinapi-host.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_PROTOCOL)

# The host service's Linux build (AF_VSOCK, or AF_UNIX for tests).
$(BIN)/winapi-hostd: $(call objects,apps/winapi-hostd/main.c) $(LIB)/libwinapi-host.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_PROTOCOL)

# The host service's Windows build (mingw-w64): the portable core, the handlers, and
# apps/winapi-hostd/windows.c; jansson cross-built from Debian's source; CRC32C with SSE4.2.
MINGW_CC := x86_64-w64-mingw32-gcc
WINDOWS := $(BUILD)/windows
WINDOWS_JANSSON := $(WINDOWS)/jansson
WINDOWS_SOURCES := apps/winapi-hostd/windows.c drivers/host/socket.c drivers/host/dispatch.c drivers/host/registry.c \
	drivers/host/events.c drivers/host/tick.c drivers/host/system_apis.c drivers/host/system_windows.c \
	drivers/host/files.c drivers/host/files_windows.c \
	drivers/host/echo.c drivers/host/buffer_test.c drivers/host/perf_test.c lib/vmbus/gpa.c \
	lib/winapi/protocol.c drivers/hvsock/hvsock_wire.c lib/winapi/crc32c_sse42.c lib/winapi/crc32c_page.c lib/log/log.c
WINDOWS_OBJECTS := $(patsubst %.c,$(WINDOWS)/obj/%.o,$(WINDOWS_SOURCES))
WINDOWS_CFLAGS := -std=c11 $(WARNINGS) -O2 -g -Iinclude -Iinclude/compat/mingw \
	-include include/compat/mingw/compat.h -I$(WINDOWS_JANSSON)/include -DJANSSON_STATIC

$(WINDOWS_JANSSON)/lib/libjansson.a: scripts/build-jansson-mingw.sh | $(DEPS_STAMP)
	scripts/build-jansson-mingw.sh $(CURDIR)/$(WINDOWS_JANSSON)

$(WINDOWS)/obj/%.o: %.c $(WINDOWS_JANSSON)/lib/libjansson.a
	@mkdir -p $(@D)
	$(MINGW_CC) $(WINDOWS_CFLAGS) -MMD -MP -c $< -o $@

# Static: the service runs from one file, without mingw's DLLs beside it.
$(WINDOWS)/winapi-hostd.exe: $(WINDOWS_OBJECTS) $(WINDOWS_JANSSON)/lib/libjansson.a
	$(MINGW_CC) -static -o $@ $^ -lws2_32 -ladvapi32 -lntdll -lpthread

# winapi-hcs.exe: the HCS tool (lib/hcs, apps/winapi-hcs) over computecore.dll, which it loads
# at run time (lib/hcs/hcs_windows.c: a Windows without HCS gets a message, not a loader error).
WINDOWS_HCS_SOURCES := apps/winapi-hcs/main.c apps/winapi-hcs/cli.c lib/hcs/hcs_json.c lib/hcs/hcs_windows.c
$(WINDOWS)/winapi-hcs.exe: $(patsubst %.c,$(WINDOWS)/obj/%.o,$(WINDOWS_HCS_SOURCES)) $(WINDOWS_JANSSON)/lib/libjansson.a
	$(MINGW_CC) -static -o $@ $^ -lshell32

windows: $(WINDOWS)/winapi-hostd.exe $(WINDOWS)/winapi-hcs.exe

# winapi-bench links liblowlat statically: its numbers should not pay for PLT calls the
# library's own hot path does not make.
BENCH_SOURCES := apps/winapi-bench/main.c apps/winapi-bench/measure.c apps/winapi-bench/report.c \
	apps/winapi-bench/floor.c apps/winapi-bench/histogram.c apps/winapi-bench/baseline.c apps/winapi-bench/pmd.c
$(BIN)/winapi-bench: $(call objects,$(BENCH_SOURCES)) $(LIB)/liblowlat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -ljansson -lnuma -lm $(LIBS_PROTOCOL)

# winapi-pmd drives the device with the internal driver (the static archive's objects), and
# with --backend inline runs the emulator's host in its workers (libwinapi-host).
PMD_SOURCES := apps/winapi-pmd/main.c apps/winapi-pmd/control.c apps/winapi-pmd/worker.c \
	apps/winapi-pmd/request.c apps/winapi-pmd/stats.c apps/winapi-pmd/policy.c apps/winapi-pmd/inline.c \
	$(TELEMETRY_SOURCES)
$(BIN)/winapi-pmd: $(call objects,$(PMD_SOURCES)) $(LIB)/liblowlat.a $(LIB)/libwinapi-host.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -ljansson -lnuma -lurcu-qsbr $(LIBS_PROTOCOL)

# vmbus-probe uses include/vmbus/ only, so it links libvmbus alone.
$(BIN)/vmbus-probe: $(call objects,apps/vmbus-probe/main.c) $(LIB)/libvmbus.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

$(STATIC_PROBE): $(call objects,apps/vmbus-probe/main.c) $(LIB)/libvmbus.a
	@mkdir -p $(@D)
	$(CC) -static $(ALL_LDFLAGS) -o $@ $^

# Tests: unit tests link the objects they test; the end-to-end test uses the public API only.
$(TESTBIN)/ring_ut: $(call objects,tests/unit/ring_ut.c) $(LIB)/libvmbus.a
$(TESTBIN)/page_allocator_ut: $(call objects,tests/unit/page_allocator_ut.c) $(LIB)/libvmbus.a
$(TESTBIN)/channel_ut: $(call objects,tests/unit/channel_ut.c) $(LIB)/libvmbus.a
$(TESTBIN)/sim_ut: $(call objects,tests/unit/sim_ut.c) $(LIB)/libvmbus.a
# uio_ut includes drivers/bus/uio/*.c itself (fake open/mmap), so the archive's copies stay out.
$(TESTBIN)/uio_ut: $(call objects,tests/unit/uio_ut.c) $(LIB)/libvmbus.a
$(TESTBIN)/protocol_ut: $(call objects,tests/unit/protocol_ut.c) $(PROTOCOL_OBJECTS)
$(TESTBIN)/telemetry_ut: $(call objects,tests/unit/telemetry_ut.c $(TELEMETRY_SOURCES)) $(PROTOCOL_OBJECTS)
$(TESTBIN)/hvsock_ut: $(call objects,tests/unit/hvsock_ut.c) $(PROTOCOL_OBJECTS)
# host_answer_ut: the answer step the QEMU device (drivers/host/qemu) runs, on fake guest pages.
$(TESTBIN)/host_answer_ut: $(call objects,tests/unit/host_answer_ut.c) $(LIB)/libwinapi-host.a
# host_system_ut: host.info's texts as the host copies them from the machine.
$(TESTBIN)/host_system_ut: $(call objects,tests/unit/host_system_ut.c) $(LIB)/libwinapi-host.a
$(TESTBIN)/request_table_ut: $(call objects,tests/unit/request_table_ut.c lib/requests/request_table.c lib/log/log.c)
$(TESTBIN)/api_table_ut: $(call objects,tests/unit/api_table_ut.c lib/requests/api_table.c) $(PROTOCOL_OBJECTS)
# policy_ut: winapi-pmd's access policy, with the system's own user and groups.
$(TESTBIN)/policy_ut: $(call objects,tests/unit/policy_ut.c apps/winapi-pmd/policy.c lib/requests/api_table.c) \
	$(PROTOCOL_OBJECTS)
# hcs_ut: the HCS library's portable half and winapi-hcs's command line, on recorded documents.
$(TESTBIN)/hcs_ut: $(call objects,tests/unit/hcs_ut.c lib/hcs/hcs_json.c apps/winapi-hcs/cli.c)
$(BUILD)/obj/tests/unit/hcs_ut.o: ALL_CPPFLAGS += -DHCS_DOCUMENTS='"$(CURDIR)/tests/unit/hcs"' 
$(UNIT_TESTS):
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka -ljansson $(LIBS_PROTOCOL)

$(TESTBIN)/vmbus_bind_test: tests/unit/vmbus_bind_test.sh scripts/vmbus-bind
	@mkdir -p $(@D)
	install -m 755 $< $@

# The tree's layers, from its #include lines; and every header compiling on its own.
$(TESTBIN)/layering_test: tests/unit/layering_test.sh tests/unit/tap.sh
	@mkdir -p $(@D)
	install -m 755 $< $@

$(TESTBIN)/headers_test: tests/unit/headers_test.sh
	@mkdir -p $(@D)
	install -m 755 $< $@

# The systemd unit make install writes, through systemd-analyze verify and security.
$(TESTBIN)/systemd_unit_test: tests/unit/systemd_unit_test.sh tests/unit/tap.sh apps/winapi-pmd/winapi-pmd.service.in \
		apps/winapi-pmd/winapi-bind.service.in apps/winapi-pmd/60-winapi-vmbus.rules
	@mkdir -p $(@D)
	install -m 755 $< $@

$(TESTBIN)/man_pages_test: tests/unit/man_pages_test.sh tests/unit/tap.sh $(wildcard docs/man/*) lib/lowlat/liblowlat.map scripts/vmbus-bind
	@mkdir -p $(@D)
	install -m 755 $< $@

# secure_env_test: liblowlat ignores its environment in a setuid process (the probe, static
# like winapi-pmd: ld.so does not expand $ORIGIN for a setuid binary).
$(TESTBIN)/secure_env_probe: $(call objects,tests/unit/secure_env_probe.c) $(LIB)/liblowlat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_PROTOCOL)

$(TESTBIN)/secure_env_test: tests/unit/secure_env_test.sh $(TESTBIN)/secure_env_probe
	@mkdir -p $(@D)
	install -m 755 $< $@

# Checks the Windows service the build made (it cannot run here: no Hyper-V, no wine).
$(TESTBIN)/windows_build_test: tests/unit/windows_build_test.sh tests/unit/tap.sh $(WINDOWS)/winapi-hostd.exe $(WINDOWS)/winapi-hcs.exe
	@mkdir -p $(@D)
	install -m 755 $< $@

# End-to-end tests: echo_e2e uses the public API only (the shared library, as applications
# do); buffer_e2e also crafts bad requests through the internal driver (the static archive).
E2E_HELPER := $(call objects,tests/e2e/emulator.c)
$(TESTBIN)/echo_e2e: $(call objects,tests/e2e/echo_e2e.c) $(E2E_HELPER) $(LIB)/liblowlat.so.$(LOWLAT_VERSION)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) -L$(LIB) -llowlat -lcmocka -Wl,-rpath,'$$ORIGIN/../lib'

$(TESTBIN)/async_e2e: $(call objects,tests/e2e/async_e2e.c) $(E2E_HELPER) $(LIB)/liblowlat.so.$(LOWLAT_VERSION)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) -L$(LIB) -llowlat -lcmocka -Wl,-rpath,'$$ORIGIN/../lib'

$(TESTBIN)/buffer_e2e: $(call objects,tests/e2e/buffer_e2e.c) $(E2E_HELPER) $(LIB)/liblowlat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka $(LIBS_PROTOCOL)

# channels_e2e opens a driver on every channel of one device: the internal driver API.
$(TESTBIN)/channels_e2e: $(call objects,tests/e2e/channels_e2e.c) $(E2E_HELPER) $(LIB)/liblowlat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka $(LIBS_PROTOCOL)

# baseline_e2e checks winapi-bench's baseline against liblowlat: it links the baseline's code.
$(TESTBIN)/baseline_e2e: $(call objects,tests/e2e/baseline_e2e.c apps/winapi-bench/baseline.c) $(E2E_HELPER) \
		$(LIB)/liblowlat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -ljansson -lcmocka $(LIBS_PROTOCOL)

# pmd_e2e talks to the daemon's telemetry with the daemon's own client code, and crafts bad
# requests through the internal driver (the static archive).
$(TESTBIN)/pmd_e2e: $(call objects,tests/e2e/pmd_e2e.c tests/e2e/load.c $(TELEMETRY_SOURCES)) $(E2E_HELPER) \
		$(LIB)/liblowlat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -ljansson -lcmocka $(LIBS_PROTOCOL)

# pmd_inline_e2e: clients of winapi-pmd --backend inline (the host in its workers).
$(TESTBIN)/pmd_inline_e2e: $(call objects,tests/e2e/pmd_inline_e2e.c tests/e2e/load.c) $(E2E_HELPER) $(LIB)/liblowlat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka $(LIBS_PROTOCOL)

# faults_e2e: the fault matrix against winapi-host-sim and winapi-pmd; cleans the daemon's
# runtime directory with winapi_pmd_runtime_dir() (the static archive).
$(TESTBIN)/faults_e2e: $(call objects,tests/e2e/faults_e2e.c) $(E2E_HELPER) $(LIB)/liblowlat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka $(LIBS_PROTOCOL)

# hvsock_e2e plays a hostile host and a hostile client with the wire's own code (the static
# archives), and serves APIs the test registers with the host service's own code.
$(TESTBIN)/hvsock_e2e: $(call objects,tests/e2e/hvsock_e2e.c) $(E2E_HELPER) $(LIB)/liblowlat.a $(LIB)/libwinapi-host.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka $(LIBS_PROTOCOL)

# api_e2e registers APIs of its own on a host it runs in-process (drivers/host over the
# emulator's bus) and calls them through liblowlat, directly and through winapi-pmd.
$(TESTBIN)/api_e2e: $(call objects,tests/e2e/api_e2e.c) $(E2E_HELPER) $(LIB)/liblowlat.a $(LIB)/libwinapi-host.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka $(LIBS_PROTOCOL)

# host_apis_e2e: host.time and host.info as the programs serve them (winapi-host-sim,
# winapi-pmd with both backends, winapi-hostd), checked against this machine.
$(TESTBIN)/host_apis_e2e: $(call objects,tests/e2e/host_apis_e2e.c) $(E2E_HELPER) $(LIB)/liblowlat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lcmocka $(LIBS_PROTOCOL)

$(TESTBIN)/integration_e2e: tests/e2e/integration_e2e.sh
	@mkdir -p $(@D)
	install -m 755 $< $@

check: all $(TESTS)
	tests/run-tests.sh $(BUILD) $(TEST_TIMEOUT) $(notdir $(TESTS))

# The same suite under AddressSanitizer and UndefinedBehaviorSanitizer, in its own build tree.
sanitize-check:
	$(MAKE) BUILD=$(BUILD)/sanitize SANITIZE=address,undefined \
		TEST_TIMEOUT=$$(( $(TEST_TIMEOUT) * 3 )) check

test: check sanitize-check

# The same suite while a spinning process per CPU competes for every core (tests/check-load.sh):
# what passes only on a quiet machine fails here.
check-load: all $(TESTS)
	tests/check-load.sh $(BUILD) $(TEST_TIMEOUT) $(notdir $(TESTS))

# The concurrency tests under ThreadSanitizer, in their own build tree. gcc warns that TSan
# does not model atomic_thread_fence (the ring's full barrier before a signal decision); the
# suppressions (tests/tsan.supp) say what is not ours to fix, and why.
TSAN_TESTS := channel_ut echo_e2e async_e2e channels_e2e pmd_e2e hvsock_e2e api_e2e pmd_inline_e2e
tsan-check:
	$(MAKE) BUILD=$(BUILD)/tsan SANITIZE=thread CFLAGS="-O1 -g -Wno-error=tsan" all \
		$(addprefix $(BUILD)/tsan/tests/,$(TSAN_TESTS))
	TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1" \
		tests/run-tests.sh $(BUILD)/tsan $$(( $(TEST_TIMEOUT) * 5 )) $(TSAN_TESTS)

# make soak DURATION=seconds: emulator + winapi-pmd + checked clients for that long (default 600).
DURATION ?= 600
$(TESTBIN)/soak: $(call objects,tests/soak/soak.c tests/e2e/load.c $(TELEMETRY_SOURCES)) \
		$(E2E_HELPER) $(LIB)/liblowlat.a
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -ljansson $(LIBS_PROTOCOL)

soak: all $(TESTBIN)/soak
	WINAPI_BIN_DIR=$(BIN) timeout --kill-after=10 $$(( $(DURATION) + 300 )) $(TESTBIN)/soak --duration $(DURATION)

demo: all
	scripts/demo.sh $(BUILD)

BENCH_FLAGS ?=
bench: all
	@mkdir -p $(BUILD)/bench
	WINAPI_BIN_DIR=$(BUILD)/bin $(BIN)/winapi-bench --json $(BUILD)/bench/results.json \
		--plot $(BUILD)/bench/results.png $(BENCH_FLAGS)

# The uio backend and the winapi product path against a real kernel and a real VMBus host:
# QEMU's hv-balloon and the winapi device, nested (tests/vm/README.md). Installs QEMU from
# bookworm-backports, builds it with the winapi device (scripts/build-qemu-winapi.sh, cached)
# and downloads kernels.
vm-test: $(STATIC_PROBE) all deb
	WINAPI_VM_DEB_DIR=$(BUILD)/deb tests/vm/run.sh $(STATIC_PROBE) scripts/vmbus-bind $(BIN)

# The Windows build's own code under Wine (Debian's wine64, installed when missing): the host
# service on loopback TCP, called from Linux (scripts/wine-test.sh; the prefix is cached).
wine-test: all windows $(TESTBIN)/host_apis_e2e
	scripts/install-deps.sh wine
	scripts/wine-test.sh $(BIN) $(WINDOWS) $(TESTBIN)

PC_SUBSTITUTIONS := -e 's|@prefix@|$(prefix)|; s|@libdir@|$(libdir)|; s|@includedir@|$(includedir)|'
UNIT_SUBSTITUTIONS := -e 's|@bindir@|$(bindir)|; s|@sbindir@|$(sbindir)|'

install: all
	install -d $(DESTDIR)$(libdir) $(DESTDIR)$(includedir)/winapi $(DESTDIR)$(includedir)/vmbus \
		$(DESTDIR)$(bindir) $(DESTDIR)$(sbindir) $(DESTDIR)$(libdir)/pkgconfig
	install -m 644 $(LIB)/liblowlat.a $(LIB)/libvmbus.a $(DESTDIR)$(libdir)
	install -m 755 $(LIB)/liblowlat.so.$(LOWLAT_VERSION) $(LIB)/libvmbus.so.$(VMBUS_VERSION) \
		$(DESTDIR)$(libdir)
	ln -sf liblowlat.so.$(LOWLAT_VERSION) $(DESTDIR)$(libdir)/liblowlat.so.$(LOWLAT_VERSION_MAJOR)
	ln -sf liblowlat.so.$(LOWLAT_VERSION_MAJOR) $(DESTDIR)$(libdir)/liblowlat.so
	ln -sf libvmbus.so.$(VMBUS_VERSION) $(DESTDIR)$(libdir)/libvmbus.so.$(VMBUS_VERSION_MAJOR)
	ln -sf libvmbus.so.$(VMBUS_VERSION_MAJOR) $(DESTDIR)$(libdir)/libvmbus.so
	install -m 644 include/winapi/lowlat.h include/winapi/protocol.h include/winapi/log.h include/winapi/host_apis.h \
		$(DESTDIR)$(includedir)/winapi
	install -m 644 include/vmbus/*.h $(DESTDIR)$(includedir)/vmbus
	install -m 755 $(APPS) $(DESTDIR)$(bindir)
	install -m 755 scripts/vmbus-bind $(DESTDIR)$(sbindir)
	sed $(PC_SUBSTITUTIONS) -e 's|@version@|$(LOWLAT_VERSION)|' lib/lowlat/liblowlat.pc.in \
		> $(DESTDIR)$(libdir)/pkgconfig/liblowlat.pc
	sed $(PC_SUBSTITUTIONS) -e 's|@version@|$(VMBUS_VERSION)|' lib/vmbus/libvmbus.pc.in \
		> $(DESTDIR)$(libdir)/pkgconfig/libvmbus.pc
	install -d $(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man3 $(DESTDIR)$(mandir)/man8
	install -m 644 docs/man/*.1 $(DESTDIR)$(mandir)/man1
	install -m 644 docs/man/*.3 $(DESTDIR)$(mandir)/man3
	install -m 644 docs/man/*.8 $(DESTDIR)$(mandir)/man8
	install -d $(DESTDIR)$(systemdunitdir) $(DESTDIR)$(udevrulesdir)
	sed $(UNIT_SUBSTITUTIONS) apps/winapi-pmd/winapi-pmd.service.in > $(DESTDIR)$(systemdunitdir)/winapi-pmd.service
	sed $(UNIT_SUBSTITUTIONS) apps/winapi-pmd/winapi-bind.service.in > $(DESTDIR)$(systemdunitdir)/winapi-bind.service
	install -m 644 apps/winapi-pmd/60-winapi-vmbus.rules $(DESTDIR)$(udevrulesdir)

# Debian packages (debian/; dpkg-buildpackage -us -uc -b), into $(BUILD)/deb.
deb:
	scripts/deb-build.sh $(BUILD)/deb

# The packages installed into a fresh root of this machine's release (mmdebstrap), where a
# program built with pkg-config calls the installed emulator (scripts/deb-test.sh).
deb-test: deb
	scripts/deb-test.sh $(BUILD)/deb

clean:
	rm -rf $(BUILD)

# libFuzzer targets (clang): make fuzz [FUZZ_SECONDS=60]
-include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
-include $(shell find $(WINDOWS)/obj -name "*.d" 2>/dev/null)
