#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the installed mqfuse selftests (make -C selftests install
# INSTALL_PATH=DIR puts this script in DIR).  Output is KTAP: one subtest per
# suite, each suite's programs nested in it (ktap.sh).
#
#   run_kselftest.sh              every suite
#   run_kselftest.sh -l           list the test programs as suite:program
#   run_kselftest.sh -t SUITE[:PROG] [-t ...]   only these (also "a,b")
#   run_kselftest.sh -s           also print a one-line summary at the end
#
# The tree is self-contained: the suites run the copies installed with them
# (DIR/mqfuse: the modules, mqfused, mount.mqfuse; DIR/<suite>: the test
# programs; DIR/vm/lib.sh finds them), not the build tree's, whatever MQ_ROOT
# says.  They need root and a kernel that loads modules: in the test VM,
#   selftests/vm/run.sh shell "$DIR/run_kselftest.sh -t posix"

base=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
list=$base/kselftest-list.txt

usage() {
	sed -n '/^#   run_kselftest/p' "$0" | sed 's/^# *//'
	exit "${1:-0}"
}

want=() summary=""
while getopts "lt:sh" opt; do
	case "$opt" in
	l)	cat "$list"; exit 0 ;;
	t)	IFS=, read -ra sel <<< "$OPTARG"; want+=("${sel[@]}") ;;
	s)	summary=1 ;;
	h)	usage 0 ;;
	*)	usage 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || usage 2

# The selection, in list order, as "suite prog prog ..." lines.
selected() {
	local entry w
	while IFS= read -r entry; do
		[ -n "$entry" ] || continue
		if [ ${#want[@]} -gt 0 ]; then
			for w in "${want[@]}"; do
				[ "$w" = "$entry" ] || [ "$w" = "${entry%%:*}" ] && break
				w=""
			done
			[ -n "$w" ] || continue
		fi
		echo "$entry"
	done < "$list" | awk -F: '
		!($1 in progs) { order[++n] = $1 }
		{ progs[$1] = progs[$1] " " $2 }
		END { for (i = 1; i <= n; i++) print order[i] progs[order[i]] }'
}

for w in "${want[@]}"; do
	grep -qx -e "$w" -e "$w:.*" "$list" || { echo "run_kselftest.sh: no test '$w' (-l lists them)" >&2; exit 2; }
done

mapfile -t suites < <(selected)
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
echo "KTAP version 1"
echo "1..${#suites[@]}"
i=0 pass=0 fail=0 skip=0
for line in "${suites[@]}"; do
	read -r suite progs <<< "$line"
	i=$((i + 1))
	# shellcheck disable=SC2086  # one argument per program
	"$base/ktap.sh" "$base/$suite" $progs 2>&1 | sed -u 's/^/    /' | tee "$log"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ]; then
		echo "not ok $i $suite"
		fail=$((fail + 1))
	elif grep -Eq '^    ok [0-9]+ [^ ]+ # SKIP' "$log" &&
	     ! grep -Eq '^    ok [0-9]+ [^ ]+$' "$log"; then
		echo "ok $i $suite # SKIP"
		skip=$((skip + 1))
	else
		echo "ok $i $suite"
		pass=$((pass + 1))
	fi
done
[ -z "$summary" ] || echo "# $pass passed, $fail failed, $skip skipped (suites)"
[ "$fail" -eq 0 ]
