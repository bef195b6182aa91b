#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Ad-hoc debugging: run one posix_test group under a daemon with a short
# watchdog and dump queue state and task stacks on a hang.
#   debug.sh lfpt|mqfused GROUP [MOUNT-OPTS]
. "$(dirname "$0")/../vm/lib.sh"
K=$MQ_TESTS/kclient
MNT=/tmp/kc_mnt SRC=${MQ_SCRATCH:-/tmp}/kc_src
mkdir -p $MNT $SRC
ulimit -n 65536
mq_load
opts=${3:-allow_other,default_permissions,queues=2,balance=on}
if [ "$1" = lfpt ]; then
	pid=$($K/mqmount -l /tmp/d.log -o $opts $MNT -- $MQ_TESTS/libfuse-passthrough/lfpt -f $SRC /dev/fd/%FD)
else
	pid=$($K/mqmount -l /tmp/d.log -o $opts $MNT -- $MQ_HELPER/mqfused -f --log-level debug --fd %FD local:$SRC)
fi
sleep 1
timeout -s KILL ${TMO:-60} $MQ_TESTS/posix/posix_test -g "$2" $MNT 2>&1 | tail -${TAILN:-15}
if [ "${PIPESTATUS[0]}" = 137 ]; then
	echo "=== HANG"
	for d in /sys/fs/$MQ_NAME/[0-9]*; do echo "$d: $(cat $d/state) waiting=$(cat $d/waiting)"; grep -H . $d/queue*/stats | grep -E "pending|in_daemon|requests"; done
	for t in /proc/[0-9]*/task/*; do
		c=$(cat $t/comm 2>/dev/null); case "$c" in posix_test|mqfused|lfpt) echo "--- $t $c $(cat $t/wchan)"; cat $t/stack;; esac
	done
	tail -30 /tmp/d.log
fi
kill $pid; sleep 1; umount $MNT 2>/dev/null
dmesg | grep -E "mqfuse|WARN|BUG" | tail -20
