#!/bin/sh
# The Windows build of the host service (make windows): a PE32+ x86-64 executable that imports
# Winsock (ws2_32: AF_HYPERV sockets) and the service control manager (advapi32), and nothing
# that is not part of Windows (it is linked statically: jansson and winpthreads inside).
# It cannot run here (no Hyper-V, and wine has no AF_HYPERV), so this checks the file itself.
set -u
exe=${WINAPI_BIN_DIR:-build/bin}/../windows/winapi-hostd.exe
objdump=x86_64-w64-mingw32-objdump
failures=0

check() {
	if [ "$1" = 0 ]; then
		echo "ok - $2"
	else
		echo "not ok - $2"
		failures=$((failures + 1))
	fi
}

# Little-endian integers from the file: byte offset, size.
read_le() {
	od -An -tu"$2" -j "$1" -N "$2" --endian=little "$exe" | tr -d ' '
}

[ -f "$exe" ] || { echo "not ok - $exe missing (make windows)"; exit 1; }
[ "$(head -c 2 "$exe")" = "MZ" ]
check $? "DOS header (MZ)"
pe=$(read_le 60 4)
[ "$(od -An -c -j "$pe" -N 4 "$exe" | tr -d ' ')" = 'PE\0\0' ]
check $? "PE signature at e_lfanew ($pe)"
[ "$(read_le $((pe + 4)) 2)" = 34404 ]
check $? "machine is x86-64 (0x8664)"
[ "$(read_le $((pe + 24)) 2)" = 523 ]
check $? "optional header magic is PE32+ (0x20b)"

imports=$($objdump -p "$exe" | sed -n 's/^[[:space:]]*DLL Name: //p' | tr 'A-Z' 'a-z' | sort -u)
echo "$imports" | grep -qx 'ws2_32.dll'
check $? "imports ws2_32.dll"
echo "$imports" | grep -qx 'advapi32.dll'
check $? "imports advapi32.dll (the service control manager)"
unexpected=$(echo "$imports" | grep -vx -e 'ws2_32.dll' -e 'advapi32.dll' -e 'kernel32.dll' -e 'msvcrt.dll' || true)
[ -z "$unexpected" ]
check $? "no DLL that Windows does not ship${unexpected:+ (found: $unexpected)}"

# The calls that make it a Hyper-V socket service, by name in the import table.
functions=$($objdump -p "$exe" | awk '/DLL Name:/ { dll = tolower($3) } dll != "" && NF >= 3 && $1 ~ /^[0-9a-f]+$/ { print dll ":" $3 }')
for wanted in ws2_32.dll:socket ws2_32.dll:bind ws2_32.dll:listen ws2_32.dll:accept ws2_32.dll:recv \
	ws2_32.dll:send advapi32.dll:StartServiceCtrlDispatcherA advapi32.dll:RegisterServiceCtrlHandlerExA; do
	echo "$functions" | grep -qx "$wanted"
	check $? "imports $wanted"
done

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
echo "windows build: all checks passed"
