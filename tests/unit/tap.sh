# Sourced by the shell tests (run from the top of the tree): TAP lines and a failure count.
# check STATUS DESCRIPTION: "ok" when STATUS is 0, else "not ok" and one more failure.
failures=0

check() {
	if [ "$1" = 0 ]; then
		echo "ok - $2"
	else
		echo "not ok - $2"
		failures=$((failures + 1))
	fi
}
