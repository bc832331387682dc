#!/bin/sh
# The tree keeps its layers, read from the #include lines of every source and header:
# - every header in include/ (but the mingw shims) says which component owns it ("Owner:");
# - nothing under lib/ includes a header of a driver or an app (by path, or owned by one);
# - no two components include each other, directly or around a longer circle.
# A component is a directory (lib/lowlat, drivers/bus/sim, apps/winapi-pmd, ...); a header in
# include/ belongs to its owner, and what it includes is its owner's. Run from the top of the
# tree.
set -u
. tests/unit/tap.sh
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT INT TERM

owner_of() {
	sed -n 's/^ \* Owner: \([A-Za-z0-9_/.-]*\).*$/\1/p' "$1" | head -n 1
}

# 1. Owners.
missing=0
for header in $(find include -name '*.h' ! -path 'include/compat/*' | sort); do
	owner=$(owner_of "$header")
	if [ -z "$owner" ] || [ ! -d "$owner" ]; then
		echo "# $header: no \"Owner: <directory>\" line naming a directory of the tree"
		missing=$((missing + 1))
	fi
done
check "$missing" "every header in include/ names the component that owns it"

# 2. The edges: component -> component it includes from.
for file in $(find lib drivers apps include -name '*.c' -o -name '*.h' | grep -v '^include/compat/' | sort); do
	case "$file" in
	include/*) component=$(owner_of "$file") ;;
	*) component=$(dirname "$file") ;;
	esac
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\([<"]\)\([^>"]*\)[>"].*$/\1 \2/p' "$file" |
	while read -r kind path; do
		target=""
		if [ "$kind" = "<" ]; then
			[ -f "include/$path" ] && target=$(owner_of "include/$path")
		else
			resolved=$(realpath -m --relative-to=. "$(dirname "$file")/$path")
			case "$resolved" in
			include/*) [ -f "$resolved" ] && target=$(owner_of "$resolved") ;;
			*) [ -f "$resolved" ] && target=$(dirname "$resolved") ;;
			esac
		fi
		[ -n "$target" ] && [ "$target" != "$component" ] && echo "$component $target $file $path"
	done
done > "$edges"

# 3. lib/ stays below drivers/ and apps/.
upward=$(awk '$1 ~ /^lib\// && $2 ~ /^(drivers|apps)\// { print "# " $3 " includes " $4 " (" $2 ")" }' "$edges")
[ -n "$upward" ] && echo "$upward"
check "$([ -z "$upward" ] && echo 0 || echo 1)" "no file under lib/ includes a driver's or an app's header"

# 4. No circle: tsort finds one if there is.
circle=$(awk '{ print $1, $2 }' "$edges" | sort -u | tsort 2>&1 >/dev/null)
if [ -n "$circle" ]; then
	echo "$circle" | sed 's/^/# /'
	awk '{ print $1, $2 }' "$edges" | sort -u | sed 's/^/# edge: /'
fi
check "$([ -z "$circle" ] && echo 0 || echo 1)" "no components include each other in a circle"

[ "$failures" -eq 0 ]
