#!/bin/sh
# Ask a telemetry v2 server a question with DPDK's own client, usertools/dpdk-telemetry.py, so
# that pmd_e2e checks winapi-pmd against the stock tool and not only against our client.
# Usage: dpdk_telemetry.sh FILE-PREFIX COMMAND   (prints the answer; exit 77: no such client here)
#
# The script ships in Debian's dpdk-dev, which pulls in all of DPDK: when it is not installed,
# the package is downloaded (not installed) once and the script taken from it. It needs only
# python3's standard library.
set -u
prefix=$1
command=$2
cache=${WINAPI_BIN_DIR:-build/bin}/../tests/.dpdk-telemetry

client=$(command -v dpdk-telemetry.py 2>/dev/null || true)
if [ -z "$client" ] && [ -x "$cache/usr/bin/dpdk-telemetry.py" ]; then
	client=$cache/usr/bin/dpdk-telemetry.py
fi
if [ -z "$client" ]; then
	mkdir -p "$cache" || exit 77
	(cd "$cache" && apt-get download dpdk-dev >/dev/null 2>&1 && dpkg-deb -x dpdk-dev_*.deb . && rm -f dpdk-dev_*.deb) ||
		{ echo "dpdk_telemetry.sh: no dpdk-telemetry.py and cannot download dpdk-dev" >&2; exit 77; }
	client=$cache/usr/bin/dpdk-telemetry.py
fi
command -v python3 >/dev/null 2>&1 || { echo "dpdk_telemetry.sh: no python3" >&2; exit 77; }
echo "$command" | python3 "$client" -f "$prefix"
