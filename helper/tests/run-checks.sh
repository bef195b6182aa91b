#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the unit tests and the host end-to-end test; number the TAP lines and
# print "N passed, N failed".  Exit status 1 if any test failed or any
# program exited non-zero (a crash after "ok" lines is a failure) or
# printed no test at all.
cd "$(dirname "$0")" || exit 1
pass=0 fail=0 n=0 status=0
run() {
	local name=$1 rc out
	shift
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	if [ $rc -ne 0 ]; then
		echo "not ok - $name exited with status $rc"
	elif ! printf '%s\n' "$out" | grep -q '^ok - '; then
		echo "not ok - $name reported no passing test"
	fi
}
while IFS= read -r line; do
	case "$line" in
	"ok - "*)	n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - ${line#ok - }" ;;
	"not ok - "*)	n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - ${line#not ok - }" ;;
	*)		echo "$line" ;;
	esac
done < <(run unit_test ./unit_test; run unit_crypto ./tap-unnumbered.sh ./unit_crypto
	 run host-e2e.sh ./host-e2e.sh; run remote-e2e.sh ./remote-e2e.sh
	 run vhost-e2e.sh ./vhost-e2e.sh)
echo "1..$n"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$n" -gt 0 ]
