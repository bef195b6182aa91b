#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Malformed daemon replies: every scenario of badreply against mqfuse. The
# kernel must fail the affected request cleanly and survive (the runner's
# dmesg check catches any oops or warning). Every exit status counts: a
# scenario that crashes, hangs or exits non-zero is "not ok" even if it
# printed only "ok" lines.
#
# The fuzz_* scenarios run MQ_FUZZ_SECONDS each (default 20; a long run:
# run.sh --env MQ_FUZZ_SECONDS=1800 --timeout ... test badreply, and raise
# selftests/badreply/timeout). MQ_FUZZ_SEED replays a printed seed.
. "$MQ_ROOT/selftests/vm/lib.sh"
mq_load || { not_ok "load $MQ_NAME"; exit 1; }
br=$MQ_ROOT/selftests/badreply/badreply
mnt=/tmp/badreply-mnt
mkdir -p "$mnt"
fail=0
export MQ_FUZZ_SECONDS=${MQ_FUZZ_SECONDS:-20}

if [ ! -x "$br" ]; then
	not_ok "badreply binary exists ($br)"
	exit 1
fi
# MQ_BADREPLY_SCENARIOS=a,b: run only these (a quick check of one fix).
if [ -n "$MQ_BADREPLY_SCENARIOS" ]; then
	scenarios=${MQ_BADREPLY_SCENARIOS//,/ }
else
	scenarios=$("$br" list) || { not_ok "badreply list (exit $?)"; exit 1; }
fi
[ -n "$scenarios" ] || { not_ok "badreply lists scenarios"; exit 1; }

for s in $scenarios; do
	tmo=90
	case "$s" in fuzz_*) tmo=$((MQ_FUZZ_SECONDS + 90)) ;; esac
	timeout -k 5 "$(mq_tmo "$tmo")" "$br" -t "$MQ_NAME" -d "/dev/$MQ_NAME" "$s" "$mnt"
	rc=$?
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		not_ok "$s: finished without hanging (timed out after ${tmo}s, exit $rc)"
	elif [ $rc -gt 128 ]; then
		not_ok "$s: badreply was killed by signal $((rc - 128))"
	elif [ $rc -ne 0 ]; then
		not_ok "$s: badreply exited with status $rc"
	fi
	if [ $rc -ne 0 ]; then
		fail=1
		grep -q " $mnt " /proc/mounts && umount -l "$mnt" 2>/dev/null
	fi
done
if grep -q " $mnt " /proc/mounts; then
	not_ok "no mount left behind"
	umount -l "$mnt"
	fail=1
else
	ok "no mount left behind"
fi
# Dead daemons, aborted sessions and dirty pages must not pin the module.
if check "rmmod $MQ_NAME after the hostile daemons" rmmod "$MQ_NAME"; then
	mq_load || { not_ok "reload $MQ_NAME"; fail=1; }
else
	fail=1
fi
exit $fail
