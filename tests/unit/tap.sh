# Sourced by the shell tests (run from the top of the tree): TAP lines and a failure count.
# pass DESCRIPTION: "ok"; fail DESCRIPTION: "not ok" and one more failure;
# check STATUS DESCRIPTION: pass when STATUS is 0, else fail.
failures=0

pass() {
	echo "ok - $1"
}

fail() {
	echo "not ok - $1"
	failures=$((failures + 1))
}

check() {
	if [ "$1" = 0 ]; then
		pass "$2"
	else
		fail "$2"
	fi
}
