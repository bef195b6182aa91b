#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Crash recovery and hot upgrade, kernel side: recovery=, ORPHANED
# sessions, replay with MQFUSE_UNIQUE_REPLAY, MQFUSE_IOC_ATTACH (by id,
# by an fd of the mount, refusals), STORE_FD/FETCH_FD, the recovery
# timeout and umount of an orphaned session, a hostile attaching daemon;
# then mqfused.sh (mqfused --supervise/--attach), takeover.sh (hot
# upgrade) and load.sh (kill -9 and takeovers under load).
# The recovery program is the daemon (raw protocol, tinyfs) and forks the
# applications; every scenario's TAP lines come from it.
. "$(dirname "$0")/../vm/lib.sh"
mq_load || { not_ok "load $MQ_NAME"; exit 1; }
bin=$MQ_TESTS/recovery/recovery
mnt=/tmp/recovery-mnt
mkdir -p "$mnt"
fail=0

if [ ! -x "$bin" ]; then
	not_ok "recovery binary exists ($bin)"
	exit 1
fi
# MQ_RECOVERY_SCENARIOS=a,b: only these (run.sh --env MQ_RECOVERY_SCENARIOS=replay,kill)
# shellcheck disable=SC2086
timeout -k 5 "$(mq_tmo 240)" "$bin" -t "$MQ_NAME" -d "/dev/$MQ_NAME" -m "$mnt" \
	${MQ_RECOVERY_SCENARIOS//,/ }
rc=$?
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	not_ok "recovery finished without hanging (exit $rc)"
	fail=1
elif [ $rc -ne 0 ]; then
	not_ok "recovery exited with status $rc"
	fail=1
fi
if grep -q " $mnt " /proc/mounts; then
	not_ok "no mount left behind"
	umount -l "$mnt"
	fail=1
else
	ok "no mount left behind"
fi
# umount of an orphaned session is no abort: the netlink listeners see
# MOUNTED, RUNNING, ORPHANED, UNMOUNTED, and no ABORTED
ctl=$MQ_HELPER/mqfusectl
mon=/tmp/recovery-mon.out
if [ -x "$ctl" ]; then
	"$ctl" --gen "$MQ_GEN" --no-header --count 4 monitor > "$mon" 2>&1 & pmon=$!
	sleep 1
	timeout -k 5 "$(mq_tmo 60)" "$bin" -t "$MQ_NAME" -d "/dev/$MQ_NAME" -m "$mnt" \
		umount_orphaned > /tmp/recovery-mon-run.out 2>&1 ||
		sed 's/^/# /' /tmp/recovery-mon-run.out
	for _ in $(seq 100); do kill -0 $pmon 2>/dev/null || break; sleep 0.1; done
	kill $pmon 2>/dev/null
	wait $pmon
	diag "monitor: $(awk '{ print $3 }' "$mon" | paste -sd,)"
	check "umount of an orphaned session: mounted, running, orphaned, unmounted events, no aborted" \
		sh -c "awk '{ print \$3 }' $mon | paste -sd, | grep -qx mounted,running,orphaned,unmounted" || fail=1
else
	skip "umount of an orphaned session: events (no $ctl)"
fi
# orphaned, aborted and recovered sessions must not pin the module
if check "rmmod $MQ_NAME after the recovery scenarios" rmmod "$MQ_NAME"; then
	mq_load || { not_ok "reload $MQ_NAME"; fail=1; }
else
	fail=1
fi
# the module parameter gives new mounts their default
if check "load with recovery=7" mq_load recovery=7; then
	check "parameter reads back 7" grep -qx 7 /sys/module/$MQ_NAME/parameters/recovery || fail=1
	check_fail "recovery=86401 refused at load" mq_load recovery=86401 || fail=1
	mq_load || { not_ok "reload $MQ_NAME"; fail=1; }
else
	fail=1
fi
# mqfused's side, end to end, then the kill -9 load test (the guest
# runner and run_kselftest.sh run guest.sh only)
for prog in mqfused.sh "load.sh kill" "load.sh kill dev" takeover.sh \
	    "load.sh takeover" "load.sh takeover dev"; do
	# shellcheck disable=SC2086  # the program and its argument
	bash "$(dirname "$0")"/$prog
	rc=$?
	[ $rc -eq 0 ] || { not_ok "$prog exit status 0 (got $rc)"; fail=1; }
done
exit $fail
