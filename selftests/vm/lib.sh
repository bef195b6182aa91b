# SPDX-License-Identifier: GPL-2.0
# Shell library for guest test suites (selftests/*/guest.sh). Source it:
#   . "$MQ_ROOT/selftests/vm/lib.sh"
# TAP lines carry no numbers; the host runner numbers them.

MQ_GEN=$(sed -n 's/^#define[[:space:]]*MQFUSE_GEN[[:space:]]*\([0-9][0-9]*\).*/\1/p' \
	"$MQ_ROOT/uapi/mqfuse.h")
MQ_NAME=mqfuse_v$MQ_GEN
MQ_KO=$MQ_ROOT/$MQ_NAME.ko

ok()      { echo "ok - $*"; }
not_ok()  { echo "not ok - $*"; }
skip()    { local name=$1; shift; echo "ok - $name # SKIP $*"; }
diag()    { echo "# $*"; }

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
	left=$(awk '$3 ~ /^(mqfuse_v[0-9]+|fuse|fuse\..*)$/ { print $2 }' /proc/mounts)
	if [ -n "$left" ]; then
		echo "not ok - $s: left mounts behind: $(echo $left)" >> "$MQ_RESULTS/tap.txt"
		for m in $left; do umount -l "$m" 2>/dev/null; done
	fi
	local p
	for p in mqfused mount.mqfuse lfpt badreply kc_test mqmount mqverify posix_test fio; do
		pkill -KILL -x "$p" 2>/dev/null
	done
	sleep 0.2
}

# Run suites (default: every selftests/*/guest.sh), recording TAP lines
# prefixed with the suite name in $MQ_RESULTS/tap.txt.
mq_run_suites() {
	local suites=("$@") s dir rc tmo out
	if [ ${#suites[@]} -eq 0 ]; then
		# "module" first: it loads and unloads the module from scratch.
		[ -f "$MQ_ROOT/selftests/module/guest.sh" ] && suites+=(module)
		for dir in "$MQ_ROOT"/selftests/*/; do
			s=$(basename "$dir")
			[ "$s" != module ] && [ -f "$dir/guest.sh" ] && suites+=("$s")
		done
	fi
	for s in "${suites[@]}"; do
		if [ ! -f "$MQ_ROOT/selftests/$s/guest.sh" ]; then
			echo "not ok - $s: no such suite" >> "$MQ_RESULTS/tap.txt"
			continue
		fi
		tmo=$(cat "$MQ_ROOT/selftests/$s/timeout" 2>/dev/null || echo 600)
		tmo=$((tmo * ${MQ_TIMEOUT_SCALE:-1}))	# make test-debug: slower kernel
		echo "# suite $s (timeout ${tmo}s)"
		out=$MQ_RESULTS/suite-$s.log
		(cd /tmp && timeout -k 10 "$tmo" bash "$MQ_ROOT/selftests/$s/guest.sh") 2>&1 |
			while IFS= read -r line; do
				printf '%s\n' "$line" >> "$out"
				case "$line" in
				"ok "*|"not ok "*)
					printf '%s\n' "$line" |
						sed -E "s/^(not ok|ok)( [0-9]+)?( -)? */\1 - $s: /" \
						>> "$MQ_RESULTS/tap.txt"
					;;
				esac
				printf '[%s] %s\n' "$s" "$line"
			done
		rc=${PIPESTATUS[0]}
		mq_cleanup_after_suite "$s"
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			echo "not ok - $s: suite timed out after ${tmo}s" >> "$MQ_RESULTS/tap.txt"
		elif [ "$rc" -ne 0 ] && ! grep -q '^not ok' "$out"; then
			echo "not ok - $s: suite exited with status $rc" >> "$MQ_RESULTS/tap.txt"
		fi
	done
}
