#!/bin/sh
# The installed winapi-pmd.service: systemd-analyze verify accepts it (the sandbox options
# included), and its security exposure is reported. Runs from the source tree root with
# WINAPI_BIN_DIR set (tests/run-tests.sh).
set -u

bin_dir=${WINAPI_BIN_DIR:-build/bin}
# scripts/install-deps.sh installs systemd; a machine without it is not set up for the tests.
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "systemd_unit_test: no systemd-analyze (scripts/install-deps.sh installs systemd)" >&2
	exit 1
fi
root=$(mktemp -d "${TMPDIR:-/tmp}/systemd_unit_test.XXXXXX")
trap 'rm -rf "$root"' EXIT
. tests/unit/tap.sh

# As make install writes them, with the programs this tree has.
unit=$root/winapi-pmd.service
bind_unit=$root/winapi-bind.service
substitutions="s|@bindir@|$(cd "$bin_dir" && pwd)|; s|@sbindir@|$(pwd)/scripts|"
sed -e "$substitutions" apps/winapi-pmd/winapi-pmd.service.in > "$unit"
sed -e "$substitutions" apps/winapi-pmd/winapi-bind.service.in > "$bind_unit"

for checked in "$unit" "$bind_unit"; do
	if output=$(systemd-analyze verify --man=no "$checked" 2>&1) && [ -z "$output" ]; then
		pass "systemd-analyze verify accepts $(basename "$checked")"
	else
		fail "systemd-analyze verify $(basename "$checked")"
		printf '%s\n' "$output" | sed 's/^/#   /'
	fi
done

# Binding at boot: the udev rule wants the bind unit and, once the uio node is there, the
# daemon; the daemon binds to the node's unit by the name the rule gives it, after the bind.
rules=apps/winapi-pmd/60-winapi-vmbus.rules
alias_path=$(sed -n 's|.*ENV{SYSTEMD_ALIAS}+="\([^"]*\)".*|\1|p' "$rules")
alias_unit=$(systemd-escape --path --suffix=device "${alias_path:-/missing}")
for expect in "BindsTo=$alias_unit" "After=$alias_unit winapi-bind.service"; do
	if grep -qx "$expect.*" "$unit"; then
		pass "winapi-pmd.service: $expect"
	else
		fail "winapi-pmd.service lacks '$expect' (the rule's alias is '$alias_path')"
	fi
done
for want in winapi-bind.service winapi-pmd.service; do
	if grep -q "ENV{SYSTEMD_WANTS}+=\"$want\"" "$rules"; then
		pass "$rules wants $want"
	else
		fail "$rules does not want $want"
	fi
done
if grep -q '^ExecStart=.*/vmbus-bind --bind 6ac83d8f-6e16-4e5c-ab3d-fd8c5a4b7e21$' "$bind_unit" &&
	[ "$(grep -c 'class_id}=="{6ac83d8f-6e16-4e5c-ab3d-fd8c5a4b7e21}"' "$rules")" -eq 2 ]; then
	pass "the rule and the bind unit name the winapi class"
else
	fail "the rule or the bind unit lacks the winapi class GUID"
fi

for option in NoNewPrivileges=yes CapabilityBoundingSet= ProtectSystem=strict PrivateTmp=yes \
	RestrictAddressFamilies=AF_UNIX DeviceAllow=char-uio SystemCallFilter=@system-service RuntimeDirectory=; do
	if grep -q "^$option" "$unit"; then
		pass "$option"
	else
		fail "the unit has no $option"
	fi
done

# The score, for the log; 'OK' or better (exposure under 5.0) is the bar.
exposure=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security: exposure ${exposure:-unknown}"
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e < 5.0) }'; then
	pass "exposure $exposure is under 5.0"
else
	fail "exposure ${exposure:-unknown} (want under 5.0)"
fi
exit $((failures != 0))
