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
[ "$failures" -eq 0 ]
