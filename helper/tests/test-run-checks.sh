#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# run-checks.sh must fail when a program crashes after printing "ok" lines,
# exits non-zero, or prints no test; and pass when everything passes.
# Runs it in a scratch directory against stand-in programs.
here=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/mq-runchecks.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
cp "$here/run-checks.sh" "$here/tap-unnumbered.sh" "$T/"
# the other programs run-checks.sh runs pass
printf '#!/bin/bash\necho "ok 1 - c"\n' > "$T/unit_crypto"
printf '#!/bin/bash\necho "ok - r"\n' > "$T/remote-e2e.sh"
printf '#!/bin/bash\necho "ok - v"\n' > "$T/vhost-e2e.sh"
chmod +x "$T/unit_crypto" "$T/remote-e2e.sh" "$T/vhost-e2e.sh"
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
printf '#!/bin/bash\necho "ok 1 - c"; exit 1\n' > "$T/unit_crypto"
try "a numbered program (unit_crypto) exits 1 -> non-zero" 1 'echo "ok - a"' 'echo "ok - b"'
[ $fails -eq 0 ]
