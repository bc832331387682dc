#!/bin/sh
# The man pages (docs/man/): every installed program has exactly one, and liblowlat has
# liblowlat.3; each renders without a warning, through groff -ww and through man-db's own lint
# (the check man-pages(7) recommends); each names every long option its program's --help
# prints; liblowlat.3 names every call liblowlat.map exports. Runs from the source tree root
# with WINAPI_BIN_DIR set to the build's bin directory (tests/run-tests.sh); vmbus-bind is the
# script in scripts/.
set -u

bin_dir=${WINAPI_BIN_DIR:-build/bin}
source_dir=${WINAPI_SOURCE_DIR:-.}
case $source_dir in
.) man_dir=docs/man ;;
*) man_dir=$source_dir/docs/man ;;
esac
programs="winapi-test winapi-host-sim winapi-hostd winapi-bench vmbus-probe vmbus-bind winapi-pmd"
. "$source_dir/tests/unit/tap.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/man_pages_test.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# Lines of a tool's output as TAP comments.
comment() {
	printf '%s\n' "$1" | sed 's/^/#   /'
}

# The page as plain text: no hyphenation (.nh in the pages), lines too long to break an option.
render() {
	groff -man -Tascii -P-cbou -rLL=250n "$1" 2>/dev/null
}

# Whether the text in file $1 has the long option $2 as a word of its own.
names_option() {
	grep -Eq -- "(^|[^A-Za-z0-9-])$2([^A-Za-z0-9-]|\$)" "$1"
}

# groff-base: groff and its man macros; man-db: man. Without them nothing here can be checked.
if ! command -v groff >/dev/null 2>&1; then
	fail "no groff: install the package groff-base"
	exit 1
fi
if ! command -v man >/dev/null 2>&1; then
	fail "no man: install the package man-db (its lint is one of the checks)"
	exit 1
fi

# (a) One page a program, in section 1 or 8, and liblowlat.3; its .TH says the same.
for program in $programs; do
	pages="" count=0
	for section in 1 8; do
		if [ -f "$man_dir/$program.$section" ]; then
			pages="$pages $man_dir/$program.$section"
			count=$((count + 1))
		fi
	done
	if [ "$count" -eq 1 ]; then
		pass "$program has one man page:$pages"
	else
		fail "$program has $count man pages in $man_dir (want exactly one, $program.1 or $program.8)$pages"
	fi
done
if [ -f "$man_dir/liblowlat.3" ]; then
	pass "liblowlat has its man page ($man_dir/liblowlat.3)"
else
	fail "no $man_dir/liblowlat.3"
fi
for page in "$man_dir"/*.[1-9]; do
	[ -f "$page" ] || continue
	name=$(basename "$page")
	want="$(echo "${name%.*}" | tr '[:lower:]' '[:upper:]') ${name##*.}"
	got=$(sed -n 's/^\.TH \([^ ]*\) \([^ ]*\) .*/\1 \2/p' "$page" | head -n 1)
	if [ "$got" = "$want" ]; then
		pass "$page: .TH $want"
	else
		fail "$page: .TH says '${got:-nothing}', want '$want'"
	fi
done

# (b) No warning from groff -ww, nor from man-db's lint; and no option dash left unescaped
# (a literal -- is two hyphens, which man may render as dashes: options are \-\-).
for page in "$man_dir"/*.[1-9]; do
	[ -f "$page" ] || continue
	warnings=$(groff -ww -man -z -t "$page" 2>&1 >/dev/null)
	if [ -z "$warnings" ]; then
		pass "$page: groff -ww -man -z -t prints no warning"
	else
		fail "$page: groff -ww -man -z -t warns"
		comment "$warnings"
	fi
	warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
	if [ -z "$warnings" ]; then
		pass "$page: man --warnings -E UTF-8 -l prints no warning"
	else
		fail "$page: man --warnings -E UTF-8 -l warns"
		comment "$warnings"
	fi
	unescaped=$(grep -n -- '--' "$page" | grep -v '^[0-9]*:\.\\"')
	if [ -z "$unescaped" ]; then
		pass "$page: every -- is escaped (\\-\\-)"
	else
		fail "$page: a -- that is not \\-\\-"
		comment "$unescaped"
	fi
done

# (c) Every long option a program's --help prints is in its page.
for program in $programs; do
	page=""
	for candidate in "$man_dir/$program.1" "$man_dir/$program.8"; do
		[ -f "$candidate" ] && page=$candidate && break
	done
	[ -n "$page" ] || continue # (a) said so
	if [ "$program" = vmbus-bind ]; then
		binary=$source_dir/scripts/vmbus-bind
	else
		binary=$bin_dir/$program
	fi
	if [ ! -x "$binary" ]; then
		fail "$page: cannot run $binary --help (build it, or set WINAPI_BIN_DIR)"
		continue
	fi
	help=$("$binary" --help 2>&1)
	status=$?
	if [ "$status" -ne 0 ]; then
		fail "$page: $binary --help exited $status"
		comment "$help"
		continue
	fi
	options=$(printf '%s\n' "$help" | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
	if [ -z "$options" ]; then
		fail "$page: $binary --help names no long option"
		continue
	fi
	render "$page" > "$work/page.txt"
	missing=""
	for option in $options; do
		names_option "$work/page.txt" "$option" || missing="$missing $option"
	done
	if [ -z "$missing" ]; then
		pass "$page: names every long option of $program --help ($(echo "$options" | wc -w))"
	else
		fail "$page: does not name$missing (printed by $program --help)"
	fi
done

# (d) Every call liblowlat.map exports (its global: lists) is named in liblowlat.3.
map=$source_dir/lib/lowlat/liblowlat.map
if [ -f "$man_dir/liblowlat.3" ] && [ -f "$map" ]; then
	calls=$(awk '/global:/ { global = 1; next } /local:/ || /}/ { global = 0 }
		global && $1 ~ /^[A-Za-z_][A-Za-z0-9_]*;$/ { sub(/;$/, "", $1); print $1 }' "$map")
	if [ -z "$calls" ]; then
		fail "$map: no exported calls found (its global: lists)"
	else
		render "$man_dir/liblowlat.3" > "$work/liblowlat.txt"
		missing=""
		for call in $calls; do
			grep -qw -- "$call" "$work/liblowlat.txt" || missing="$missing $call"
		done
		if [ -z "$missing" ]; then
			pass "$man_dir/liblowlat.3: names every call of liblowlat.map ($(echo "$calls" | wc -w))"
		else
			fail "$man_dir/liblowlat.3: does not name$missing (exported by liblowlat.map)"
		fi
	fi
elif [ ! -f "$map" ]; then
	fail "no $map"
fi

if [ "$failures" -ne 0 ]; then
	echo "# $failures check(s) failed"
	exit 1
fi
echo "# all checks passed"
