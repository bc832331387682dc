#!/bin/sh
# Every header in include/ compiles on its own, first in a translation unit, as a program that
# includes just it would (SPDK's test/cpp_headers): what it needs, it includes itself. The
# installed ones (include/winapi, include/vmbus) are checked without _GNU_SOURCE too, as an
# application's build might compile them. Run from the top of the tree; CC as the build's.
set -u
cc=${CC:-gcc}
failures=0
for header in $(find include -name '*.h' ! -path 'include/compat/*' | sort); do
	name=${header#include/}
	flags="-D_GNU_SOURCE"
	case "$name" in
	winapi/* | vmbus/*) flags="" ;;
	esac
	if printf '#include <%s>\n' "$name" | "$cc" -std=c11 -Wall -Wextra -Werror -Iinclude $flags \
		-x c -fsyntax-only - 2>/tmp/headers_test.$$; then
		echo "ok - $name compiles alone"
	else
		echo "not ok - $name compiles alone"
		sed 's/^/# /' /tmp/headers_test.$$
		failures=$((failures + 1))
	fi
done
rm -f /tmp/headers_test.$$

# liblowlat.so exports what an application is told to call: every function lowlat.h and log.h
# declare, and those of protocol.h and host_apis.h that lowlat.h names (a codec it names, as
# the check an answer failed, is the wire's own and stays in the static archive).
declared=$(grep -h -v '^static inline' include/winapi/lowlat.h include/winapi/log.h |
	grep -o '^[a-z][a-z0-9_ *]*\bwinapi_[a-z0-9_]*(' | grep -o 'winapi_[a-z0-9_]*($' | tr -d '(')
named=$(grep -o 'winapi_[a-z0-9_]*()' include/winapi/lowlat.h | tr -d '()' | grep -v -e '_decode$' -e '_encode$')
listed=$(grep -o '^[[:space:]]*winapi_[a-z0-9_]*;' lib/lowlat/liblowlat.map | tr -d ' \t;')
missing=
for call in $(printf '%s\n' $declared $named | sort -u); do
	printf '%s\n' "$listed" | grep -qx "$call" || missing="$missing $call"
done
if [ -z "$missing" ]; then
	echo "ok - lib/lowlat/liblowlat.map exports every call lowlat.h and log.h declare or name"
else
	echo "not ok - lib/lowlat/liblowlat.map does not export:$missing"
	failures=$((failures + 1))
fi

# libvmbus.so exports by name: its version script lists exactly what include/vmbus declares
# (functions and extern objects; static inline ones are not symbols).
declared=$(grep -h -v '^static inline' include/vmbus/*.h |
	grep -o -e '^[a-z][a-z0-9_ *]*\bvmbus_[a-z0-9_]*(' -e '^extern [^;]*\bvmbus_[a-z0-9_]*' |
	grep -o -e 'vmbus_[a-z0-9_]*($' -e 'vmbus_[a-z0-9_]*$' | tr -d '(' | sort -u)
listed=$(grep -o '^[[:space:]]*vmbus_[a-z0-9_]*;' lib/vmbus/libvmbus.map | tr -d ' \t;' | sort -u)
if [ "$declared" = "$listed" ]; then
	echo "ok - lib/vmbus/libvmbus.map lists exactly the calls include/vmbus declares"
else
	echo "not ok - lib/vmbus/libvmbus.map lists exactly the calls include/vmbus declares"
	printf '%s\n' "$declared" > /tmp/headers_test_declared.$$
	printf '%s\n' "$listed" | diff /tmp/headers_test_declared.$$ - | sed 's/^/# /'
	rm -f /tmp/headers_test_declared.$$
	failures=$((failures + 1))
fi
[ "$failures" -eq 0 ]
