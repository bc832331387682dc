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
failures=0

# As make install writes it, with the binary this build made.
unit=$root/winapi-pmd.service
sed -e "s|@bindir@|$(cd "$bin_dir" && pwd)|" apps/winapi-pmd/winapi-pmd.service.in > "$unit"

if output=$(systemd-analyze verify --man=no "$unit" 2>&1) && [ -z "$output" ]; then
	echo "ok - systemd-analyze verify accepts the unit"
else
	echo "not ok - systemd-analyze verify"
	printf '%s\n' "$output" | sed 's/^/#   /'
	failures=$((failures + 1))
fi

for option in NoNewPrivileges=yes CapabilityBoundingSet= ProtectSystem=strict PrivateTmp=yes \
	RestrictAddressFamilies=AF_UNIX DeviceAllow=char-uio SystemCallFilter=@system-service RuntimeDirectory=; do
	if grep -q "^$option" "$unit"; then
		echo "ok - $option"
	else
		echo "not ok - the unit has no $option"
		failures=$((failures + 1))
	fi
done

# The score, for the log; 'OK' or better (exposure under 5.0) is the bar.
exposure=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "# systemd-analyze security: exposure ${exposure:-unknown}"
if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e < 5.0) }'; then
	echo "ok - exposure $exposure is under 5.0"
else
	echo "not ok - exposure ${exposure:-unknown} (want under 5.0)"
	failures=$((failures + 1))
fi
exit $((failures != 0))
