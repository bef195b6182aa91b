#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Per-CPU queues: placement by submitting CPU, balance=on work stealing,
# balance=off isolation.
. "$(dirname "$0")/../vm/lib.sh"
mq_load || { not_ok "load $MQ_NAME"; exit 1; }
mnt=/tmp/qtest-mnt
mkdir -p "$mnt"
for m in affinity balance-on balance-off; do
	timeout -k 5 "$(mq_tmo 150)" "$MQ_TESTS/queues/qtest" "$m" "$mnt"
	rc=$?
	if [ $rc -ne 0 ]; then
		not_ok "$m: qtest exit status 0 (got $rc)"
		umount -l "$mnt" 2>/dev/null
	fi
done
exit 0
