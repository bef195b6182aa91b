#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Malformed daemon replies: every scenario of badreply against mqfuse. The
# kernel must fail the affected request cleanly and survive (the runner's
# dmesg check catches any oops or warning).
. "$MQ_ROOT/selftests/vm/lib.sh"
mq_load || { not_ok "load $MQ_NAME"; exit 1; }
br=$MQ_ROOT/selftests/badreply/badreply
mnt=/tmp/badreply-mnt
mkdir -p "$mnt"

for s in $("$br" list); do
	timeout -k 5 90 "$br" -t "$MQ_NAME" -d "/dev/$MQ_NAME" "$s" "$mnt"
	rc=$?
	if [ $rc -eq 124 ] || [ $rc -eq 137 ] || [ $rc -gt 128 ]; then
		not_ok "$s: finished without hanging (exit $rc)"
		umount -l "$mnt" 2>/dev/null
	fi
done
grep -q " $mnt " /proc/mounts && { not_ok "no mount left behind"; umount -l "$mnt"; } || ok "no mount left behind"
