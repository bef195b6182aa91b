#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the unit tests and the host end-to-end test; number the TAP lines and
# print "N passed, N failed".  Exit status 1 if anything failed.
cd "$(dirname "$0")" || exit 1
pass=0 fail=0 n=0
while IFS= read -r line; do
	case "$line" in
	"ok - "*)	n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - ${line#ok - }" ;;
	"not ok - "*)	n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - ${line#not ok - }" ;;
	*)		echo "$line" ;;
	esac
done < <(./unit_test; echo "# unit_test exit $?"; ./host-e2e.sh)
echo "1..$n"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
