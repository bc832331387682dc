#!/bin/sh
# Tests of scripts/vmbus-bind against a fake sysfs tree: what --status shows, and what --bind
# and --unbind write to the kernel's files. Runs from the source tree root (tests/run-tests.sh).
set -u

script=${WINAPI_SOURCE_DIR:-.}/scripts/vmbus-bind
# VMBUS_BIND_SHELL runs the script under another shell (the VM test's busybox ash).
shell=${VMBUS_BIND_SHELL:-}
root=$(mktemp -d "${TMPDIR:-/tmp}/vmbus_bind_test.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$root"' EXIT
failures=0

check() {
	description=$1
	shift
	if "$@"; then
		echo "ok - $description"
	else
		echo "not ok - $description"
		printf '%s\n' "${output:-}" | sed 's/^/#   /'
		failures=$((failures + 1))
	fi
}

contains() {
	printf '%s' "$1" | grep -qF -- "$2"
}

BALLOON=525074dc-8985-46e2-8057-a307dc18a502
WINAPI=6ac83d8f-6e16-4e5c-ab3d-fd8c5a4b7e21
DM_DEVICE=8e29ab16-0000-4000-8000-00000000000a
WINAPI_DEVICE=8e29ab16-0000-4000-8000-00000000000b
LOOSE_DEVICE=8e29ab16-0000-4000-8000-00000000000c

# A VMBus with: a balloon on its kernel driver, a winapi device already on uio_hv_generic,
# and a winapi device with no driver and no monitor (as 6.1 leaves it after refusing it).
sys=$root/sys
devices=$sys/bus/vmbus/devices
drivers=$sys/bus/vmbus/drivers
mkdir -p "$drivers/hv_balloon" "$drivers/uio_hv_generic"
: >"$drivers/hv_balloon/unbind"
: >"$drivers/hv_balloon/bind"
: >"$drivers/uio_hv_generic/new_id"
: >"$drivers/uio_hv_generic/bind"
: >"$drivers/uio_hv_generic/unbind"
device() { # name class monitor driver
	mkdir -p "$devices/$1"
	echo "{$2}" >"$devices/$1/class_id"
	echo "$1" >"$devices/$1/device_id"
	echo 1 >"$devices/$1/id"
	[ -n "$3" ] && echo "$3" >"$devices/$1/monitor_id"
	: >"$devices/$1/driver_override"
	[ -n "$4" ] && ln -s "../../drivers/$4" "$devices/$1/driver"
	return 0
}
device "$DM_DEVICE" "$(echo $BALLOON | tr a-f A-F)" "" hv_balloon
device "$WINAPI_DEVICE" "$WINAPI" 3 uio_hv_generic
mkdir -p "$devices/$WINAPI_DEVICE/uio/uio0"
device "$LOOSE_DEVICE" "$WINAPI" "" ""

run() {
	output=$($shell "$script" --sysfs-root "$sys" "$@" 2>&1)
	status=$?
}

run --status
check "--status succeeds" [ "$status" -eq 0 ]
check "--status shows the bound device with its uio node" \
	contains "$output" "$WINAPI_DEVICE  class $WINAPI (winapi remoting)  relid 1  monitor 3  driver uio_hv_generic  uio0"
check "--status shows the kernel-driver device, class case folded" \
	contains "$output" "$DM_DEVICE  class $BALLOON (dynamic memory (balloon))  relid 1  monitor none  driver hv_balloon"
check "--status shows the unused device" contains "$output" "$LOOSE_DEVICE  class $WINAPI"
check "--status sections" contains "$output" "VMBus devices bound to uio_hv_generic:"

# Bind by class: new_id gets the class, the kernel driver lets go, uio_hv_generic binds it.
# The fake kernel does not react, so the script must report the device as not bound.
export VMBUS_KERNEL_RELEASE=6.1.0-56-amd64
run --bind $BALLOON
check "--bind CLASS writes the class to new_id" [ "$(cat "$drivers/uio_hv_generic/new_id")" = "$BALLOON" ]
check "--bind CLASS unbinds the kernel driver" [ "$(cat "$drivers/hv_balloon/unbind")" = "$DM_DEVICE" ]
check "--bind CLASS asks uio_hv_generic to bind" [ "$(cat "$drivers/uio_hv_generic/bind")" = "$DM_DEVICE" ]
check "--bind reports a device that did not bind" [ "$status" -ne 0 ]
check "--bind on 6.1 explains the non-monitored refusal" contains "$output" "kernel 6.10 or later"
export VMBUS_KERNEL_RELEASE=6.12.95+deb12-amd64
run --bind $BALLOON
check "--bind on 6.12 does not blame the kernel version" contains "$output" "see dmesg"
unset VMBUS_KERNEL_RELEASE


# Bind one device by instance: driver_override, then bind. The fake kernel never binds, so
# the script must undo the override and report the failure.
: >"$drivers/uio_hv_generic/bind"
run --bind "$LOOSE_DEVICE"
check "--bind DEVICE binds that device" [ "$(cat "$drivers/uio_hv_generic/bind")" = "$LOOSE_DEVICE" ]
check "--bind DEVICE reports the failure" [ "$status" -eq 1 ]
check "--bind DEVICE clears its override again" [ ! -s "$devices/$LOOSE_DEVICE/driver_override" ]
# A device taken from a kernel driver and not bound goes back to that driver.
: >"$drivers/hv_balloon/bind"
run --bind "$DM_DEVICE"
check "--bind DEVICE gives a device back to its driver" [ "$(cat "$drivers/hv_balloon/bind")" = "$DM_DEVICE" ]
check "--bind DEVICE says so" contains "$output" "given back to hv_balloon"
# A sysfs the user cannot write: refused before anything is unbound.
: >"$drivers/hv_balloon/unbind"
chmod a-w "$drivers/uio_hv_generic/bind"
if [ "$(id -u)" -ne 0 ]; then
	run --bind "$DM_DEVICE"
	check "a read-only sysfs is refused up front" contains "$output" "run as root"
	check "nothing was unbound" [ ! -s "$drivers/hv_balloon/unbind" ]
fi
chmod u+w "$drivers/uio_hv_generic/bind"

# A device already bound: nothing to write, success.
: >"$drivers/uio_hv_generic/bind"
run --bind "$WINAPI_DEVICE"
check "--bind of a bound device succeeds" [ "$status" -eq 0 ]
check "--bind of a bound device says so" contains "$output" "bound to uio_hv_generic (uio0)"
check "--bind of a bound device writes nothing" [ ! -s "$drivers/uio_hv_generic/bind" ]

run --unbind "$WINAPI_DEVICE"
check "--unbind succeeds" [ "$status" -eq 0 ]
check "--unbind writes the device to unbind" [ "$(cat "$drivers/uio_hv_generic/unbind")" = "$WINAPI_DEVICE" ]

: >"$drivers/hv_balloon/unbind"
run --unbind "$DM_DEVICE"
check "--unbind of a device on another driver is a no-op" contains "$output" "not bound to uio_hv_generic"
check "--unbind of a device on another driver writes nothing" [ ! -s "$drivers/hv_balloon/unbind" ]

# Errors: clear messages, nonzero status, nothing written.
run --bind not-a-guid
check "a bad GUID is refused" [ "$status" -eq 1 ]
check "a bad GUID is named" contains "$output" "'not-a-guid' is not a GUID"
run --bind f8615163-df3e-46c5-913f-f2d2f965ed0e
check "an unknown class is refused" contains "$output" "no VMBus device has class or instance"
run --bind
check "a missing argument is a usage error" [ "$status" -eq 2 ]
run --frobnicate
check "an unknown option is a usage error" [ "$status" -eq 2 ]
output=$($shell "$script" --sysfs-root "$root/nothing" --status 2>&1)
check "no VMBus is explained" contains "$output" "not a Hyper-V guest"
rmdir "$drivers/uio_hv_generic" 2>/dev/null || rm -rf "$drivers/uio_hv_generic"
run --bind $BALLOON
check "a missing uio_hv_generic is explained" contains "$output" "uio_hv_generic is not loaded"

if [ "$failures" -ne 0 ]; then
	echo "$failures check(s) failed${shell:+ (under $shell)}"
	exit 1
fi
echo "all checks passed${shell:+ (under $shell)}"
# The script also runs in the VM test's initramfs, under busybox ash: check it there too.
if [ -z "$shell" ] && command -v busybox >/dev/null 2>&1; then
	VMBUS_BIND_SHELL="busybox sh" exec "$0"
fi
