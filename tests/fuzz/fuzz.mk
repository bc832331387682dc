# libFuzzer targets (tests/fuzz/README.md), included by the top-level Makefile.
#
#   make fuzz          build every target, run each for FUZZ_SECONDS (default 60) on a copy of
#                      its seed corpus; fails if any target crashed
#   make fuzz-build    only build them, in $(BUILD)/fuzz
#   make fuzz-seeds    regenerate the committed seed corpora (tests/fuzz/corpus)
#   make fuzz-replay   run each committed input (seeds and fixed crashes) once: a regression
#                      test of seconds; FUZZ_REPLAY=<targets> for some of them only
#
# The project's sources are compiled again by clang with coverage and sanitizers into
# $(BUILD)/fuzz/obj, apart from the gcc objects of $(BUILD)/obj.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 $(WARNINGS) -pthread -MMD -MP -g -O1 $(FUZZ_SANITIZE)
FUZZ_TARGETS := ring_fuzz packet_fuzz protocol_fuzz host_fuzz pmd_request_fuzz telemetry_fuzz baseline_fuzz \
	hvsock_fuzz policy_fuzz driver_fuzz hvsock_guest_fuzz \
	sim_offer_fuzz uio_sysfs_fuzz pmd_worker_fuzz telemetry_server_fuzz file_request_fuzz
FUZZ_BINARIES := $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))

fuzz_objects = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(1))

# What each target links besides its own file. telemetry_fuzz includes telemetry.c itself
# (its parsers are static), as SPDK's unit tests include the file they test.
FUZZ_VMBUS := lib/vmbus/ring.c lib/vmbus/memory.c lib/vmbus/gpa.c lib/vmbus/page_allocator.c
FUZZ_PROTOCOL := lib/winapi/protocol.c lib/winapi/crc32c.c lib/winapi/crc32c_page.c drivers/hvsock/hvsock_wire.c
ring_fuzz_SOURCES := lib/vmbus/ring.c
packet_fuzz_SOURCES := $(FUZZ_VMBUS) $(FUZZ_PROTOCOL)
protocol_fuzz_SOURCES := $(FUZZ_PROTOCOL)
file_request_fuzz_SOURCES := $(FUZZ_PROTOCOL)
host_fuzz_SOURCES := lib/vmbus/ring.c lib/vmbus/guid.c lib/vmbus/device.c lib/vmbus/channel.c \
	lib/vmbus/memory.c lib/vmbus/gpa.c lib/vmbus/page_allocator.c $(FUZZ_PROTOCOL) lib/log/log.c \
	$(filter-out drivers/host/sim_memory.c,$(HOST_SOURCES))
pmd_request_fuzz_SOURCES := apps/winapi-pmd/request.c lib/requests/api_table.c $(FUZZ_PROTOCOL)
policy_fuzz_SOURCES := apps/winapi-pmd/policy.c lib/requests/api_table.c $(FUZZ_PROTOCOL)
telemetry_fuzz_SOURCES := $(FUZZ_PROTOCOL)
baseline_fuzz_SOURCES := apps/winapi-bench/baseline.c $(FUZZ_PROTOCOL)
hvsock_fuzz_SOURCES := $(FUZZ_PROTOCOL) lib/log/log.c drivers/host/socket.c drivers/host/dispatch.c drivers/host/registry.c \
	drivers/host/events.c \
	drivers/host/echo.c drivers/host/buffer_test.c drivers/host/perf_test.c lib/vmbus/memory.c lib/vmbus/gpa.c lib/vmbus/page_allocator.c
driver_fuzz_SOURCES := lib/vmbus/ring.c lib/vmbus/guid.c lib/vmbus/device.c lib/vmbus/channel.c \
	lib/vmbus/memory.c lib/vmbus/gpa.c lib/vmbus/page_allocator.c $(FUZZ_PROTOCOL) lib/log/log.c \
	lib/requests/request_table.c drivers/winapi/winapi_driver.c
hvsock_guest_fuzz_SOURCES := drivers/hvsock/hvsock_transport.c lib/requests/request_table.c $(FUZZ_PROTOCOL) \
	lib/log/log.c
# sim_offer_fuzz includes sim_guest.c (validate_offer() and map_offer() are static).
sim_offer_fuzz_SOURCES := drivers/bus/sim/sim_wire.c lib/vmbus/ring.c lib/vmbus/guid.c lib/vmbus/device.c \
	lib/vmbus/channel.c lib/vmbus/memory.c lib/vmbus/page_allocator.c lib/log/log.c
# uio_sysfs_fuzz includes uio_scan.c and uio_map.c (its fake mmap() takes their calls).
uio_sysfs_fuzz_SOURCES := lib/vmbus/guid.c
# pmd_worker_fuzz includes worker.c (its passes are static) and drives them without its thread.
pmd_worker_fuzz_SOURCES := apps/winapi-pmd/request.c apps/winapi-pmd/policy.c lib/requests/api_table.c \
	lib/requests/request_table.c drivers/winapi/winapi_driver.c lib/vmbus/ring.c lib/vmbus/guid.c \
	lib/vmbus/device.c lib/vmbus/channel.c lib/vmbus/memory.c lib/vmbus/gpa.c lib/vmbus/page_allocator.c \
	$(FUZZ_PROTOCOL) lib/log/log.c
# telemetry_server_fuzz includes telemetry.c (serve_client() is static) and links stats.c's handlers.
telemetry_server_fuzz_SOURCES := apps/winapi-pmd/stats.c apps/winapi-pmd/policy.c lib/requests/api_table.c \
	lib/vmbus/ring.c lib/vmbus/guid.c lib/vmbus/device.c lib/vmbus/channel.c lib/vmbus/memory.c \
	lib/vmbus/page_allocator.c $(FUZZ_PROTOCOL) lib/log/log.c

ring_fuzz_LIBS :=
packet_fuzz_LIBS := $(LIBS_PROTOCOL)
protocol_fuzz_LIBS := $(LIBS_PROTOCOL)
file_request_fuzz_LIBS := $(LIBS_PROTOCOL)
host_fuzz_LIBS := $(LIBS_PROTOCOL)
pmd_request_fuzz_LIBS := $(LIBS_PROTOCOL)
policy_fuzz_LIBS := $(LIBS_PROTOCOL)
telemetry_fuzz_LIBS := $(LIBS_PROTOCOL)
baseline_fuzz_LIBS := $(LIBS_PROTOCOL)
hvsock_fuzz_LIBS := $(LIBS_PROTOCOL)
driver_fuzz_LIBS := $(LIBS_PROTOCOL)
hvsock_guest_fuzz_LIBS := $(LIBS_PROTOCOL)
sim_offer_fuzz_LIBS :=
uio_sysfs_fuzz_LIBS :=
pmd_worker_fuzz_LIBS := -lurcu-qsbr $(LIBS_PROTOCOL)
telemetry_server_fuzz_LIBS := $(LIBS_PROTOCOL)

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-replay

FUZZ_REPLAY ?= $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BINARIES)

fuzz: fuzz-build
	tests/fuzz/run-fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Each committed input once, no mutation: libFuzzer runs the files it is given and stops.
fuzz-replay: $(addprefix $(FUZZ_DIR)/,$(FUZZ_REPLAY))
	@mkdir -p $(FUZZ_DIR)/logs; failed=0; \
	for target in $(FUZZ_REPLAY); do \
		inputs=$$(find tests/fuzz/corpus/$$target -maxdepth 1 -type f 2>/dev/null | sort); \
		log=$(FUZZ_DIR)/logs/$$target.replay.log; \
		if [ -z "$$inputs" ]; then echo "$$target: no committed inputs"; \
		elif $(FUZZ_DIR)/$$target $$inputs > $$log 2>&1; then \
			echo "$$target: ok: $$(echo "$$inputs" | wc -l) input(s)"; \
		else echo "$$target: FAILED (log: $$log)"; failed=1; fi; \
	done; exit $$failed

# Sources of the project, and the targets themselves: coverage without libFuzzer's main.
$(FUZZ_DIR)/obj/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

define fuzz_target
$(FUZZ_DIR)/$(1): $(call fuzz_objects,tests/fuzz/$(1).c $($(1)_SOURCES))
	$$(FUZZ_CC) $(FUZZ_SANITIZE) -fsanitize=fuzzer -pthread -o $$@ $$^ $($(1)_LIBS)
endef
$(foreach target,$(FUZZ_TARGETS),$(eval $(call fuzz_target,$(target))))

# The seed generator is an ordinary program (gcc is fine); it rewrites tests/fuzz/corpus.
$(FUZZ_DIR)/make-seeds: tests/fuzz/make-seeds.c lib/winapi/protocol.c lib/winapi/crc32c.c lib/vmbus/memory.c lib/vmbus/gpa.c lib/vmbus/page_allocator.c \
		lib/vmbus/ring.c \
		| $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) -std=c11 $(WARNINGS) -pthread -O1 -g -o $@ $^ $(LIBS_PROTOCOL)

fuzz-seeds: $(FUZZ_DIR)/make-seeds
	$(FUZZ_DIR)/make-seeds tests/fuzz/corpus

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
