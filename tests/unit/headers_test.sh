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
