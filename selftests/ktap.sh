#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ktap.sh SUITE_DIR PROG...: run one suite's test programs outside the VM
# runner and print KTAP (Documentation/testing.rst, "kselftest layout").
#
# The programs print unnumbered TAP ("ok - name", "not ok - name", "# ...",
# optionally a plan "1..N"), which is what selftests/vm/lib.sh counts; this
# wrapper numbers those lines without changing the programs.  Output:
#
#   KTAP version 1
#   1..<number of programs>
#       KTAP version 1              (each program, indented: a subtest)
#       ok 1 name ...
#       1..<its tests>              (the program's own plan, or one added)
#   ok 1 <suite>:<program>          (its verdict, "# SKIP ..." when skipped)
#
# A program passes only as the VM runner would pass it: exit status 0, no
# "not ok" and no "Bail out!", its plan (if any) matching its count, at least
# min_tests test lines, nothing left mounted or running.  Exit status 4 (the
# kselftest convention) or a missing precondition is a SKIP.
#
# What the suites run (module, mqfused, programs) is found by vm/lib.sh next
# to this script: the build tree's (selftests/ktap.sh; MQ_ROOT, default the
# tree above) or the installed tree's own copies (DIR/ktap.sh of make -C
# selftests install; MQ_ROOT is ignored there).
# Environment: MQ_SCRATCH, a scratch directory on ext4 (default /scratch if
# mounted, else a temporary directory); MQ_TIMEOUT_SCALE multiplies the timeouts.

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=$(cd "${1:?usage: ktap.sh SUITE_DIR PROG...}" && pwd) || exit 1
shift
suite=$(basename "$dir")
[ -f "$here/vm/lib.sh" ] || { echo "ktap.sh: no $here/vm/lib.sh" >&2; exit 1; }
# shellcheck source=vm/lib.sh
. "$here/vm/lib.sh"		# MQ_ROOT, MQ_TESTS, MQ_KO, ... (exported)

work=$(mktemp -d "${TMPDIR:-/tmp}/ktap-$suite.XXXXXX") || exit 1
# --one-file-system: never into a mount a suite left behind.
trap 'rm -rf --one-file-system "$work"' EXIT
if [ -z "$MQ_SCRATCH" ]; then
	if awk '$2 == "/scratch" { f = 1 } END { exit !f }' /proc/mounts; then
		MQ_SCRATCH=/scratch
	else
		MQ_SCRATCH=$work/scratch
		mkdir -p "$MQ_SCRATCH"
	fi
fi
MQ_KVER=$(uname -r)
export MQ_ROOT MQ_SCRATCH MQ_RESULTS=$work MQ_KVER

# precondition: why the suites cannot run here (nothing if they can): they
# load the module and mount filesystems as root.
precondition() {
	[ -n "$MQ_GEN" ] || { echo "no generation in $MQ_HDR: not an mqfuse tree"; return; }
	[ -f "$MQ_KO" ] || { echo "$MQ_KO not built"; return; }
	[ "$(id -u)" = 0 ] || { echo "needs root"; return; }
	[ -f /proc/modules ] || { echo "kernel without module support"; return; }
}

# The options of the suite's config fragment this kernel lacks (if its
# configuration can be read at all): printed, not enforced.
missing_config() {
	local cfg opt
	[ -f "$dir/config" ] || return 0
	if [ -r /proc/config.gz ]; then
		cfg=$(zcat /proc/config.gz)
	elif [ -r "/boot/config-$MQ_KVER" ]; then
		cfg=$(cat "/boot/config-$MQ_KVER")
	else
		return 0
	fi
	for opt in $(grep -Eo '^CONFIG_[A-Z0-9_]+' "$dir/config"); do
		printf '%s\n' "$cfg" | grep -Eq "^$opt=(y|m)" || echo "$opt"
	done
}

# number_lines: the program's output as the body of an indented KTAP
# subtest, as it comes: test lines numbered in order, the first plan kept,
# diagnostics kept, anything else turned into a diagnostic.  A plan is added
# at the end when the program printed none.
number_lines() {
	awk '
	/^(ok|not ok)([ \t]|$)/ {
		st = /^not ok/ ? "not ok" : "ok"
		rest = substr($0, length(st) + 1)
		sub(/^ [0-9]+/, "", rest); sub(/^ -/, "", rest); sub(/^[ \t]*/, "", rest)
		printf "    %s %d%s\n", st, ++n, rest == "" ? "" : " " rest
		fflush(); next
	}
	/^1\.\.[0-9]+/ && !plans++ { print "    " $0; fflush(); next }
	/^#/ { print "    " $0; fflush(); next }
	{ print "    # " $0; fflush() }
	END { if (!plans) print "    1.." n + 0 }'
}

# run_prog PROG: the program as an indented KTAP subtest; sets $verdict.
run_prog() {
	local prog=$1 tmo min n planned rc out=$work/$1.log
	tmo=$(cat "$dir/timeout" 2>/dev/null || echo 600)
	tmo=$((tmo * ${MQ_TIMEOUT_SCALE:-1}))
	min=$(grep -Eo -m1 '^[0-9]+' "$dir/min_tests" 2>/dev/null || echo 1)
	echo "    KTAP version 1"
	(cd "$work" && timeout -k 10 "$tmo" bash -c '
		case "$1" in *.sh) exec bash "$1" ;; *) exec "$1" ;; esac' - "$dir/$prog") 2>&1 |
		tee "$out" | number_lines
	rc=${PIPESTATUS[0]}
	n=$(grep -Ec '^(ok|not ok)([[:space:]]|$)' "$out")
	planned=$(grep -Eo -m1 '^1\.\.[0-9]+' "$out" | cut -c4-)

	local why=""
	if [ "$rc" -eq 4 ]; then
		verdict="ok # SKIP $prog exit status 4"
		return
	fi
	[ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && why="timed out after ${tmo}s"
	[ -z "$why" ] && [ "$rc" -ne 0 ] && why="exit status $rc"
	[ -z "$why" ] && grep -q '^not ok' "$out" && why="$(grep -c '^not ok' "$out") failed"
	[ -z "$why" ] && grep -q '^Bail out!' "$out" && why="bailed out"
	[ -z "$why" ] && [ -n "$planned" ] && [ "$planned" -ne "$n" ] &&
		why="planned $planned tests and ran $n"
	[ -z "$why" ] && [ "$n" -lt "$min" ] && why="ran $n tests, fewer than its minimum $min"
	# The VM runner's cleanup between suites; it reports what was left.
	(mq_cleanup_after_suite "$suite")
	if [ -s "$work/tap.txt" ]; then
		sed 's/^/    # /' "$work/tap.txt"
		[ -z "$why" ] && why="left mounts behind"
		: > "$work/tap.txt"
	fi
	if [ -n "$why" ]; then
		verdict="not ok # $why"
	else
		verdict="ok"
	fi
}

echo "KTAP version 1"
echo "1..$#"
skip_all=$(precondition)
missing=$(missing_config)
[ -z "$missing" ] || echo "# $suite: kernel config lacks $(echo $missing) (see $dir/config)"
i=0 failed=0
for prog in "$@"; do
	i=$((i + 1))
	if [ -n "$skip_all" ]; then
		echo "ok $i $suite:$prog # SKIP $skip_all"
		continue
	fi
	echo "# $suite:$prog"
	run_prog "$prog"
	case "$verdict" in
	"not ok"*) failed=$((failed + 1)); echo "not ok $i $suite:$prog ${verdict#not ok }" ;;
	*)	echo "ok $i $suite:$prog${verdict#ok}" ;;
	esac
done
[ "$failed" -eq 0 ]
