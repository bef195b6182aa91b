#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# run-checks.sh must fail when a program crashes after printing "ok" lines,
# exits non-zero, or prints no test; and pass when everything passes.
# Runs it in a scratch directory against stand-in programs.
here=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/mq-runchecks.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
cp "$here/run-checks.sh" "$T/"
fails=0
try() {	# name expected-status unit_test-body host-e2e-body
	printf '#!/bin/bash\n%s\n' "$3" > "$T/unit_test"
	printf '#!/bin/bash\n%s\n' "$4" > "$T/host-e2e.sh"
	chmod +x "$T/unit_test" "$T/host-e2e.sh"
	"$T/run-checks.sh" >/dev/null 2>&1
	rc=$?
	if { [ "$2" = 0 ] && [ $rc -eq 0 ]; } || { [ "$2" != 0 ] && [ $rc -ne 0 ]; }; then
		echo "ok - run-checks: $1"
	else
		echo "not ok - run-checks: $1 (exit $rc)"
		fails=$((fails + 1))
	fi
}
try "all pass -> 0" 0 'echo "ok - a"' 'echo "ok - b"'
try "unit_test crashes after ok -> non-zero" 1 'echo "ok - a"; kill -SEGV $$' 'echo "ok - b"'
try "unit_test exits 1 without not-ok lines -> non-zero" 1 'echo "ok - a"; exit 1' 'echo "ok - b"'
try "host e2e exits 2 -> non-zero" 1 'echo "ok - a"' 'echo "ok - b"; exit 2'
try "a program prints no test -> non-zero" 1 'true' 'echo "ok - b"'
try "a not ok line -> non-zero" 1 'echo "not ok - a"' 'echo "ok - b"'
[ $fails -eq 0 ]
