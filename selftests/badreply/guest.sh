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
. "$(dirname "$0")/../vm/lib.sh"
mq_load || { not_ok "load $MQ_NAME"; exit 1; }
br=$MQ_TESTS/badreply/badreply
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

# Race scenarios run with mq_kdelay (selftests/kdelay) loaded: a kprobe that
# busy-waits at the racy point, or (sleep_us=) an ftrace hook that sleeps
# before a call, so the window the scenario aims at is milliseconds wide
# instead of a few instructions.
kdelay_ko=$MQ_TESTS/kdelay/mq_kdelay.ko
# never leave the delay behind for the suites after this one
trap 'rmmod mq_kdelay 2>/dev/null' EXIT
kdelay_args() {
	case $1 in
	race_abort_signal)
		# the abort ends its requests one by one: 20 ms before each
		echo "func=$MQ_NAME:mqfuse_req_end delay_us=20000" ;;
	race_reply_before_read_done)
		# the reading daemon thread, just after it unlocked the queue
		# with the request IN_DAEMON (7114f35 read it there, when the
		# other process may have answered and freed it); a build whose
		# unlock is a tail call has no code after it: nothing to widen (an
		# export of the core, so named mqfuse_v<GEN>_queue_read_done)
		echo "func=$MQ_NAME:${MQ_NAME}_queue_read_done after=_raw_spin_unlock delay_us=20000 optional=1" ;;
	race_writeback_end_evict)
		# the writeback WRITE's reply sleeps 1 s (an RCU grace period
		# can end meanwhile) before it calls mqfuse_attr_outdated()
		echo "func=$MQ_NAME:mqfuse_attr_outdated caller=$MQ_NAME:mqfuse_writeback_end sleep_us=1000000" ;;
	esac
}
kdelay_on() {
	local args
	args=$(kdelay_args "$1")
	[ -n "$args" ] || return 1
	if ! grep -qw register_kprobe /proc/kallsyms; then
		skip "$1: race window widened by mq_kdelay" "kernel without CONFIG_KPROBES"
		return 1
	fi
	case " $args" in *" sleep_us="*)
		if ! grep -qw register_ftrace_function /proc/kallsyms; then
			skip "$1: race window widened by mq_kdelay (sleep_us=)" "kernel without ftrace"
			return 1
		fi
	esac
	# shellcheck disable=SC2086
	if ! insmod "$kdelay_ko" $args; then
		not_ok "$1: mq_kdelay loads ($args)"
		fail=1
		return 1
	fi
	return 0
}
kdelay_off() {
	local hits sleep_us slept nosleep nr_sites p=/sys/module/mq_kdelay/parameters
	hits=$(cat $p/hits 2>/dev/null)
	sleep_us=$(cat $p/sleep_us 2>/dev/null)
	slept=$(cat $p/slept 2>/dev/null)
	nosleep=$(cat $p/nosleep 2>/dev/null)
	nr_sites=$(cat $p/nr_sites 2>/dev/null)
	timeout 60 rmmod mq_kdelay || { not_ok "$1: mq_kdelay unloads (within 60 s)"; fail=1; }
	# optional=1: a point that may not exist, or not be on the path taken,
	# in every build (a tail-called unlock has no code after it)
	case " $(kdelay_args "$1")" in *" optional=1"*)
		case "$nr_sites:$hits" in
		[0-9]*:[0-9]*) ;;
		*)	not_ok "$1: mq_kdelay's outputs read (nr_sites '$nr_sites', hits '$hits')"
			fail=1
			return 0 ;;
		esac
		# nr_sites 0: no call to the unlock at all; hits 0: calls only on
		# paths the scenario does not take (a tail-called unlock on its own)
		if [ "$nr_sites" = 0 ] || [ "$hits" = 0 ]; then
			skip "$1: the widened window was reached" \
				"not in this build (mq_kdelay optional=1: ${nr_sites:-?} probes, ${hits:-?} hits)"
			return 0
		fi
	esac
	if [ "${hits:-0}" -gt 0 ]; then
		ok "$1: the widened window was reached ($hits times)"
	else
		not_ok "$1: the widened window was reached (mq_kdelay hits: ${hits:-none})"
		fail=1
	fi
	[ "${sleep_us:-0}" -gt 0 ] || return 0
	if [ "${slept:-0}" -gt 0 ]; then
		ok "$1: mq_kdelay slept in the window ($slept times, ${nosleep:-?} could not)"
	else
		not_ok "$1: mq_kdelay slept in the window (slept: ${slept:-none}, nosleep: ${nosleep:-none})"
		fail=1
	fi
}

for s in $scenarios; do
	tmo=90
	case "$s" in fuzz_*) tmo=$((MQ_FUZZ_SECONDS + 90)) ;; esac
	kd=0
	kdelay_on "$s" && kd=1
	# A reply that wakes on a freed inode may spin forever on its lock
	# (the only CPU, preemption off): panic then, the runner reports it.
	slp=$(cat /proc/sys/kernel/softlockup_panic 2>/dev/null)
	[ $kd = 0 ] || echo 1 > /proc/sys/kernel/softlockup_panic 2>/dev/null
	timeout -k 5 "$(mq_tmo "$tmo")" "$br" -t "$MQ_NAME" -d "/dev/$MQ_NAME" "$s" "$mnt"
	rc=$?
	[ -z "$slp" ] || echo "$slp" > /proc/sys/kernel/softlockup_panic 2>/dev/null
	[ $kd = 0 ] || kdelay_off "$s"
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
