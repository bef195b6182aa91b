# SPDX-License-Identifier: GPL-2.0
# Shell library for guest test suites (selftests/*/guest.sh). Source it
# relative to the suite's script, which works in the build tree and in an
# installed tree (make -C selftests install) alike:
#   . "$(dirname "$0")/../vm/lib.sh"
# TAP lines carry no numbers; the host runner numbers them.
#
# Where the suites find what they run, by the layout lib.sh itself sits in:
#   MQ_TESTS    the directory of the suites (SUITE/guest.sh, SUITE/programs)
#   MQ_HELPER   mqfused, mount.mqfuse, tests/unit_test, fuzz/
#   MQ_HDR      uapi/mqfuse.h (generation, release)
#   MQ_KO       this generation's module, MQ_KO_NEXT the next one's (make next-gen)
# Build tree (lib.sh in MQ_ROOT/selftests/vm): MQ_ROOT/selftests, MQ_ROOT/helper,
# MQ_ROOT/uapi/mqfuse.h, MQ_ROOT/mqfuse_vN.ko, MQ_ROOT/build/next-gen/mqfuse_vN+1.ko.
# Installed tree (lib.sh in DIR/vm, DIR/mqfuse/INSTALLED present): DIR,
# DIR/mqfuse/helper, DIR/mqfuse/mqfuse.h, DIR/mqfuse/mqfuse_vN{,+1}.ko; MQ_ROOT
# is then DIR too, so nothing of a build tree is used, whatever MQ_ROOT was.

mq_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$mq_lib_dir/klog.sh"	# mq_klog_filter: what counts as a kernel report
if [ -f "$mq_lib_dir/../mqfuse/INSTALLED" ]; then
	MQ_INSTALLED=1
	MQ_TESTS=$(cd "$mq_lib_dir/.." && pwd)
	MQ_ROOT=$MQ_TESTS
	MQ_HELPER=$MQ_TESTS/mqfuse/helper
	MQ_HDR=$MQ_TESTS/mqfuse/mqfuse.h
	mq_kodir=$MQ_TESTS/mqfuse mq_kodir_next=$MQ_TESTS/mqfuse
else
	MQ_INSTALLED=""
	MQ_ROOT=${MQ_ROOT:-$(cd "$mq_lib_dir/../.." && pwd)}
	MQ_TESTS=$MQ_ROOT/selftests
	MQ_HELPER=$MQ_ROOT/helper
	MQ_HDR=$MQ_ROOT/uapi/mqfuse.h
	mq_kodir=$MQ_ROOT mq_kodir_next=$MQ_ROOT/build/next-gen
fi
MQ_GEN=$(sed -n 's/^#define[[:space:]]*MQFUSE_GEN[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$MQ_HDR")
MQ_NAME=mqfuse_v$MQ_GEN
MQ_KO=$mq_kodir/$MQ_NAME.ko
MQ_KO_NEXT=$mq_kodir_next/mqfuse_v$((MQ_GEN + 1)).ko
unset mq_kodir mq_kodir_next
# helper/tests/guest-e2e.sh and other child scripts read these
export MQ_INSTALLED MQ_ROOT MQ_TESTS MQ_HELPER MQ_HDR MQ_GEN MQ_NAME MQ_KO MQ_KO_NEXT

# mq_src_exports: the number of EXPORT_SYMBOL lines in the module's sources
# (counted at install time into DIR/mqfuse/exports for an installed tree).
mq_src_exports() {
	if [ -n "$MQ_INSTALLED" ]; then
		cat "$MQ_TESTS/mqfuse/exports"
	else
		cat "$MQ_ROOT"/fs/*.c | grep -Ec '^[[:space:]]*EXPORT_SYMBOL(_GPL)?(_NS)?(_GPL)?\('
	fi
}

ok()      { echo "ok - $*"; }
not_ok()  { echo "not ok - $*"; }
skip()    { local name=$1; shift; echo "ok - $name # SKIP $*"; }
diag()    { echo "# $*"; }
# A timeout inside a suite, in seconds, scaled like the suite timeouts
# (make test-debug: MQ_TIMEOUT_SCALE=3 for the slower kernel).
mq_tmo()  { echo $(( $1 * ${MQ_TIMEOUT_SCALE:-1} )); }
# mq_session_dir MOUNTPOINT: /sys/fs/$MQ_NAME/<id> of the session mounted
# there (the newest id with that device), asked of mountinfo and sysfs,
# never of the mount (whose stat waits while the session is ORPHANED)
mq_session_dir() {
	local dev d best=""
	dev=$(awk -v m="$1" -v t="$MQ_NAME" '$5 == m && $0 ~ " - " t " " { d = $3 } END { print d }' /proc/self/mountinfo)
	[ -n "$dev" ] || return 1
	for d in /sys/fs/$MQ_NAME/[0-9]*; do
		[ "$(cat "$d/dev" 2>/dev/null)" = "$dev" ] || continue
		[ -z "$best" ] || [ "${d##*/}" -gt "${best##*/}" ] && best=$d
	done
	[ -n "$best" ] && echo "$best"
}

# check NAME CMD...: one TAP line from a command's status; its output on failure.
check() {
	local name=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "$name"
	else
		not_ok "$name"
		diag "command: $* (exit $rc)"
		printf '%s\n' "$out" | tail -n 20 | sed 's/^/# /'
	fi
	return $rc
}

# check_fail NAME CMD...: the command must fail.
check_fail() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		not_ok "$name"
		diag "command unexpectedly succeeded: $*"
		return 1
	fi
	ok "$name"
}

mq_loaded() { grep -q "^$MQ_NAME " /proc/modules; }

# mq_load [PARAMS...]: load the freshly built module (idempotent without params).
mq_load() {
	if mq_loaded; then
		[ $# -eq 0 ] && return 0
		rmmod "$MQ_NAME" || return 1
	fi
	insmod "$MQ_KO" "$@"
}

mq_unload() { ! mq_loaded || rmmod "$MQ_NAME"; }

# Suites are independent: whatever one leaves mounted or running is removed
# before the next one starts (and reported as a failure of the one that left it).
mq_cleanup_after_suite() {
	local s=$1 left
	left=$(awk '$3 ~ /^(mqfuse(_virtio)?_v[0-9]+|fuse|fuse\..*|virtiofs)$/ { print $2 }' /proc/mounts)
	if [ -n "$left" ]; then
		echo "not ok - $s: left mounts behind: $(echo $left)" >> "$MQ_RESULTS/tap.txt"
		for m in $left; do umount -l "$m" 2>/dev/null; done
	fi
	local p
	for p in mqfused mqfuse-server remote_hostile mount.mqfuse lfpt badreply recovery ring_test kc_test mqmount mqverify posix_test fio kpage_test fuzz_dispatch; do
		pkill -KILL -x "$p" 2>/dev/null
	done
	sleep 0.2
	# the virtio transport holds the core: no later suite could reload it
	local vm
	for vm in $(awk '$1 ~ /^mqfuse_virtio_v[0-9]+$/ { print $1 }' /proc/modules); do
		echo "not ok - $s: left $vm loaded" >> "$MQ_RESULTS/tap.txt"
		rmmod "$vm" 2>/dev/null
	done
	# a race-window delay (selftests/kdelay) slows every later suite
	if grep -q '^mq_kdelay ' /proc/modules; then
		echo "not ok - $s: left mq_kdelay loaded" >> "$MQ_RESULTS/tap.txt"
		rmmod mq_kdelay 2>/dev/null
	fi
}

# mq_mounted MNT [FSTYPE]: MNT is a mount point of FSTYPE (an extended
# regular expression, default $MQ_NAME) according to /proc/mounts. A failed
# mount leaves the directory underneath, where every file operation still
# succeeds: check this before running anything on a mount.
mq_mounted() {
	awk -v m="$1" -v t="^(${2:-$MQ_NAME})\$" \
		'$2 == m && $3 ~ t { found = 1 } END { exit !found }' /proc/mounts
}

# mq_wait_mounted MNT [FSTYPE]: wait up to 10 s until MNT is mounted with
# FSTYPE and its root answers stat(2) (the daemon finished INIT).
mq_wait_mounted() {
	local i
	for i in $(seq 1 100); do
		mq_mounted "$@" && stat "$1/." >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# plan N: print the TAP plan "1..N". The runner then fails the suite unless
# it printed exactly N test lines; a guest.sh that calls plan and prints no
# plan line (it died first) fails too.
plan() { echo "1..$1"; }

# mq_min_tests SUITE: the suite's declared minimum number of test lines
# (first number in selftests/SUITE/min_tests); 1 if it declares none.
mq_min_tests() {
	local f=$MQ_TESTS/$1/min_tests n
	[ -f "$f" ] || { echo 1; return 0; }
	n=$(grep -Eo '^[0-9]+' "$f" | head -n1)
	[ -n "$n" ] || return 1
	echo "$n"
}

# mq_suite_verdict SUITE LOG RC TIMEOUT: the runner's checks of one suite's
# run, beyond its own test lines (Documentation/testing.rst, "Runner rules").
# A suite passes only if guest.sh exited 0, printed no "Bail out!", printed
# a plan matching its count when it has one (and one when it calls plan),
# and printed at least selftests/SUITE/min_tests test lines (at least one).
mq_suite_verdict() {
	local s=$1 log=$2 rc=$3 tmo=$4 tap=$MQ_RESULTS/tap.txt
	local n plans planned bail min bad=0
	n=$(grep -Ec '^(ok|not ok)([[:space:]]|$)' "$log")
	bail=$(grep -m1 '^Bail out!' "$log")
	plans=$(grep -Ec '^1\.\.[0-9]+([[:space:]]|$)' "$log")
	planned=$(grep -Eo -m1 '^1\.\.[0-9]+' "$log" | cut -c4-)
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "not ok - $s: suite timed out after ${tmo}s" >> "$tap"; bad=1
	elif [ "$rc" -gt 128 ]; then
		echo "not ok - $s: suite killed by signal $((rc - 128))" >> "$tap"; bad=1
	elif [ "$rc" -ne 0 ]; then
		echo "not ok - $s: suite exited with status $rc" >> "$tap"; bad=1
	fi
	if [ -n "$bail" ]; then
		echo "not ok - $s: suite bailed out: $bail" >> "$tap"; bad=1
	fi
	if [ "$plans" -gt 1 ]; then
		echo "not ok - $s: suite printed $plans TAP plans" >> "$tap"; bad=1
	elif [ "$plans" -eq 1 ] && [ "$planned" -ne "$n" ]; then
		echo "not ok - $s: suite planned $planned tests and ran $n" >> "$tap"; bad=1
	elif [ "$plans" -eq 0 ] &&
	     grep -Eq '^[[:space:]]*plan[[:space:]]' "$MQ_TESTS/$s/guest.sh"; then
		echo "not ok - $s: suite declares a plan and printed none" >> "$tap"; bad=1
	fi
	if ! min=$(mq_min_tests "$s"); then
		echo "not ok - $s: selftests/$s/min_tests holds a number" >> "$tap"; bad=1; min=1
	fi
	if [ "$n" -eq 0 ]; then
		echo "not ok - $s: suite printed no test line" >> "$tap"; bad=1
	elif [ "$n" -lt "$min" ]; then
		echo "not ok - $s: suite ran $n tests, fewer than its minimum $min" >> "$tap"; bad=1
	fi
	[ "$bad" -eq 0 ] &&
		echo "ok - $s: suite ran cleanly (exit 0, $n tests, minimum $min)" >> "$tap"
	echo "end $s rc=$rc tests=$n min=$min" >> "$MQ_RESULTS/suites.txt"
}

# Run suites (default: every selftests/*/guest.sh), recording TAP lines
# prefixed with the suite name in $MQ_RESULTS/tap.txt, and the runner's
# verdict on each suite (mq_suite_verdict).
mq_run_suites() {
	local suites=("$@") s dir rc tmo out t0
	if [ ${#suites[@]} -eq 0 ]; then
		# "module" first: it loads and unloads the module from scratch.
		# Only directories with a guest.sh: selftests/dkms (make test-dkms)
		# has none, its guest-root.sh runs as PID 1 of its own Debian root.
		[ -f "$MQ_TESTS/module/guest.sh" ] && suites+=(module)
		for dir in "$MQ_TESTS"/*/; do
			s=$(basename "$dir")
			[ "$s" != module ] && [ -f "$dir/guest.sh" ] && suites+=("$s")
		done
	fi
	for s in "${suites[@]}"; do
		if [ ! -f "$MQ_TESTS/$s/guest.sh" ]; then
			echo "not ok - $s: no such suite" >> "$MQ_RESULTS/tap.txt"
			continue
		fi
		tmo=$(cat "$MQ_TESTS/$s/timeout" 2>/dev/null || echo 600)
		tmo=$((tmo * ${MQ_TIMEOUT_SCALE:-1}))	# make test-debug: slower kernel
		echo "# suite $s (timeout ${tmo}s)"
		echo "start $s" >> "$MQ_RESULTS/suites.txt"
		out=$MQ_RESULTS/suite-$s.log
		: > "$out"
		t0=$(date +%s)
		(cd /tmp && timeout -k 10 "$tmo" bash "$MQ_TESTS/$s/guest.sh") 2>&1 |
			while IFS= read -r line; do
				printf '%s\n' "$line" >> "$out"
				case "$line" in
				"ok "*|"not ok "*|ok|"not ok")
					printf '%s\n' "$line" |
						sed -E "s/^(not ok|ok)( [0-9]+)?( -)? */\1 - $s: /" \
						>> "$MQ_RESULTS/tap.txt"
					;;
				esac
				printf '[%s] %s\n' "$s" "$line"
			done
		rc=${PIPESTATUS[0]}
		echo "# suite $s: exit $rc after $(( $(date +%s) - t0 ))s"
		echo "time $s $(( $(date +%s) - t0 ))" >> "$MQ_RESULTS/suites.txt"
		mq_cleanup_after_suite "$s"
		mq_suite_verdict "$s" "$out" "$rc" "$tmo"
	done
}
