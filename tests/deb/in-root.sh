#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Runs inside the fresh root of scripts/deb-test.sh (chroot): installs the packages with apt,
# checks what they put in place, builds the seed's API snippet and a libvmbus program with
# pkg-config, and runs the snippet against the installed emulator. Prints TAP-like lines.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
failures=0
ok() { echo "ok - $*"; }
not_ok() {
	echo "not ok - $*"
	failures=$((failures + 1))
}

# apt resolves the packages' dependencies from the archive, as for a user.
if ! apt-get update -q > /tmp/apt.log 2>&1 ||
	! apt-get install -y -q --no-install-recommends /tmp/debs/*.deb >> /tmp/apt.log 2>&1; then
	tail -n 30 /tmp/apt.log
	echo "not ok - apt-get install of the packages"
	exit 1
fi
ok "apt-get install $(ls /tmp/debs | sed 's/_.*//' | tr '\n' ' ')"

# What each package must have put in place.
for path in /usr/lib/x86_64-linux-gnu/liblowlat.so.1 /usr/lib/x86_64-linux-gnu/libvmbus.so.0 \
	/usr/include/winapi/lowlat.h /usr/include/vmbus/channel.h \
	/usr/bin/winapi-pmd /usr/sbin/vmbus-bind /lib/systemd/system/winapi-pmd.service \
	/lib/systemd/system/winapi-bind.service /lib/udev/rules.d/60-winapi-vmbus.rules \
	/etc/default/winapi-pmd /usr/bin/winapi-test /usr/bin/winapi-host-sim /usr/bin/winapi-hostd \
	/usr/bin/winapi-bench /usr/bin/vmbus-probe; do
	if [ -e "$path" ]; then ok "$path"; else not_ok "$path is missing"; fi
done
for page in man1/winapi-test.1 man1/winapi-host-sim.1 man1/winapi-bench.1 man1/vmbus-probe.1 \
	man8/winapi-hostd.8 man8/winapi-pmd.8 man8/vmbus-bind.8 man3/liblowlat.3; do
	if [ -e "/usr/share/man/$page.gz" ]; then ok "man page $page"; else not_ok "no man page $page"; fi
done
if getent group winapi > /dev/null; then ok "the winapi group exists"; else not_ok "postinst made no winapi group"; fi
if /usr/sbin/vmbus-bind --help > /dev/null; then ok "vmbus-bind --help"; else not_ok "vmbus-bind --help"; fi

# The seed's snippet, built as its README says, with the flags pkg-config gives.
cd /tmp/src || exit 1
flags=$(pkg-config --cflags --libs liblowlat) || not_ok "pkg-config liblowlat"
# shellcheck disable=SC2086
if gcc -std=c11 -Wall -Werror -o seed_api seed_api.c $flags; then
	ok "seed_api.c built with: gcc seed_api.c $flags"
else
	not_ok "seed_api.c does not build against the installed liblowlat-dev"
fi
# /lib is /usr/lib on a merged-/usr system: compare real paths.
resolved=$(ldd ./seed_api 2> /dev/null | sed -n 's/^[[:space:]]*liblowlat\.so\.1 => \([^ ]*\) .*/\1/p')
if [ -n "$resolved" ] &&
	[ "$(readlink -f "$resolved")" = "$(readlink -f /usr/lib/x86_64-linux-gnu/liblowlat.so.1)" ]; then
	ok "seed_api uses the installed liblowlat.so.1 ($resolved)"
else
	not_ok "seed_api does not resolve liblowlat.so.1 to the installed library: $(ldd ./seed_api 2>&1 | grep lowlat)"
fi
flags=$(pkg-config --cflags --libs libvmbus) || not_ok "pkg-config libvmbus"
# shellcheck disable=SC2086
if gcc -std=c11 -Wall -Werror -o vmbus_sdk vmbus_sdk.c $flags && ./vmbus_sdk; then
	ok "vmbus_sdk.c built with pkg-config libvmbus and ran"
else
	not_ok "vmbus_sdk.c against libvmbus-dev"
fi

# The installed emulator plays the host; the snippet calls it.
socket=/tmp/host-sim.sock
WINAPI_TRANSPORT=sim winapi-host-sim --socket "$socket" > /tmp/host-sim.log 2>&1 &
emulator=$!
i=0
while [ ! -S "$socket" ] && [ $i -lt 100 ] && kill -0 "$emulator" 2> /dev/null; do
	sleep 0.1
	i=$((i + 1))
done
if [ -S "$socket" ]; then
	if WINAPI_TRANSPORT=sim WINAPI_SIM_SOCKET=$socket timeout 120 ./seed_api > seed_api.out 2>&1 &&
		grep -q "^Echo response: Hello Windows!$" seed_api.out &&
		grep -q "^Transferred: 1048576 bytes" seed_api.out; then
		ok "seed_api against the installed winapi-host-sim"
	else
		not_ok "seed_api against the installed winapi-host-sim"
	fi
	sed 's/^/#   /' seed_api.out
	if WINAPI_TRANSPORT=sim timeout 120 winapi-test --socket "$socket" --test echo --count 100 > winapi-test.out 2>&1; then
		ok "the installed winapi-test against the installed emulator"
	else
		not_ok "winapi-test --test echo"
		sed 's/^/#   /' winapi-test.out
	fi
else
	not_ok "the installed winapi-host-sim did not open $socket"
	sed 's/^/#   /' /tmp/host-sim.log
fi
kill -TERM "$emulator" 2> /dev/null
i=0
while kill -0 "$emulator" 2> /dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -KILL "$emulator" 2> /dev/null
wait "$emulator" 2> /dev/null

# Removal leaves nothing of the libraries behind.
if apt-get purge -y -q winapi-tools winapi-pmd liblowlat-dev liblowlat1 libvmbus-dev libvmbus0 > /tmp/purge.log 2>&1 &&
	[ ! -e /usr/lib/x86_64-linux-gnu/liblowlat.so.1 ] && [ ! -e /lib/systemd/system/winapi-pmd.service ]; then
	ok "apt-get purge removes every package"
else
	not_ok "apt-get purge"
	tail -n 20 /tmp/purge.log | sed 's/^/#   /'
fi

[ "$failures" -eq 0 ] || { echo "# $failures check(s) failed"; exit 1; }
exit 0
