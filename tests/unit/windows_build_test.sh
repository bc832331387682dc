#!/bin/sh
# The Windows builds (make windows), checked as files (make wine-test runs them under Wine,
# which has neither AF_HYPERV nor computecore.dll):
# - winapi-hostd.exe, the host service: imports Winsock (ws2_32: AF_HYPERV sockets), the
#   service control manager (advapi32) and NtCreateFile (ntdll: host.file.*'s handle-relative
#   opens);
# - winapi-hcs.exe, the HCS tool: loads computecore.dll, the Host Compute Service, at run time
#   and asks it for each call by name, so that a Windows without HCS gets its message, not a
#   loader error: it must not import the DLL, and must name every call it binds;
# each a PE32+ x86-64 executable importing nothing Windows does not ship (linked statically:
# jansson and winpthreads are inside).
set -u
windows=${WINAPI_BIN_DIR:-build/bin}/../windows
objdump=x86_64-w64-mingw32-objdump
. tests/unit/tap.sh

# Little-endian integers from the file: byte offset, size.
read_le() {
	od -An -tu"$3" -j "$2" -N "$3" --endian=little "$1" | tr -d ' '
}

# check_executable FILE DLL:FUNCTION... : a PE32+ x86-64 image importing each function.
check_executable() {
	exe=$1
	name=$(basename "$exe")
	shift
	[ -f "$exe" ] || { echo "not ok - $exe missing (make windows)"; failures=$((failures + 1)); return; }
	[ "$(head -c 2 "$exe")" = "MZ" ]
	check $? "$name: DOS header (MZ)"
	pe=$(read_le "$exe" 60 4)
	[ "$(od -An -c -j "$pe" -N 4 "$exe" | tr -d ' ')" = 'PE\0\0' ]
	check $? "$name: PE signature at e_lfanew ($pe)"
	[ "$(read_le "$exe" $((pe + 4)) 2)" = 34404 ]
	check $? "$name: machine is x86-64 (0x8664)"
	[ "$(read_le "$exe" $((pe + 24)) 2)" = 523 ]
	check $? "$name: optional header magic is PE32+ (0x20b)"

	imports=$($objdump -p "$exe" | sed -n 's/^[[:space:]]*DLL Name: //p' | tr 'A-Z' 'a-z' | sort -u)
	unexpected=$(echo "$imports" | grep -vx -e 'ws2_32.dll' -e 'advapi32.dll' -e 'kernel32.dll' \
		-e 'msvcrt.dll' -e 'computecore.dll' -e 'shell32.dll' -e 'ntdll.dll' || true)
	[ -z "$unexpected" ]
	check $? "$name: no DLL that Windows does not ship${unexpected:+ (found: $unexpected)}"
	functions=$($objdump -p "$exe" | awk '/DLL Name:/ { dll = tolower($3) }
		dll != "" && NF >= 3 && $1 ~ /^[0-9a-f]+$/ { print dll ":" $3 }')
	for wanted in "$@"; do
		echo "$imports" | grep -qx "${wanted%%:*}"
		check $? "$name: imports ${wanted%%:*}"
		echo "$functions" | grep -qx "$wanted"
		check $? "$name: imports $wanted"
	done
}

check_executable "$windows/winapi-hostd.exe" ws2_32.dll:socket ws2_32.dll:bind ws2_32.dll:listen \
	ws2_32.dll:accept ws2_32.dll:recv ws2_32.dll:send advapi32.dll:StartServiceCtrlDispatcherA \
	advapi32.dll:RegisterServiceCtrlHandlerExA ntdll.dll:NtCreateFile
check_executable "$windows/winapi-hcs.exe" kernel32.dll:LoadLibraryExW kernel32.dll:GetProcAddress
hcs=$windows/winapi-hcs.exe
if [ -f "$hcs" ]; then
	! $objdump -p "$hcs" | grep -qi 'DLL Name: computecore.dll'
	check $? "winapi-hcs.exe: does not import computecore.dll (loaded at run time)"
	# The DLL's name is UTF-16 (LoadLibraryExW); the calls' names ASCII (GetProcAddress).
	grep -qaP 'c\x00o\x00m\x00p\x00u\x00t\x00e\x00c\x00o\x00r\x00e\x00\.\x00d\x00l\x00l\x00' "$hcs"
	check $? "winapi-hcs.exe: names computecore.dll"
	for call in HcsEnumerateComputeSystems HcsOpenComputeSystem HcsGetComputeSystemProperties \
		HcsCreateOperation HcsWaitForOperationResult HcsCloseOperation HcsCloseComputeSystem; do
		grep -qa "$call" "$hcs"
		check $? "winapi-hcs.exe: binds $call"
	done
fi

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "windows builds: all checks passed"
