#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Data integrity on mqfuse + mqfused: the random-operation verifier (write,
# read, truncate, fallocate, mmap read/write, fsync, reopen, cache drops)
# against an in-memory model, fixed seeds, 100k operations over 4 concurrent
# files; then an O_DIRECT run. Any mismatch fails with the op log.
. "$(dirname "$0")/../vm/lib.sh"
MQFUSED=$MQ_HELPER/mqfused
VERIFY=$MQ_TESTS/fsx/mqverify
SRC=$MQ_SCRATCH/integrity-src
MNT=/mnt/integrity
OPS=${MQ_VERIFY_OPS:-100000}
mkdir -p "$SRC" "$MNT"
mq_load || { not_ok "load $MQ_NAME"; exit 1; }

"$MQFUSED" --fs mqfuse -o "queues=$(nproc),allow_other,default_permissions" \
	"local:$SRC" "$MNT" || { not_ok "mqfused mounts"; exit 1; }
pid=$(pgrep -n -x mqfused)
check "$MNT is a $MQ_NAME mount" mq_wait_mounted "$MNT" || exit 1

run_verify() {	# run_verify NAME ARGS...
	local name=$1 start end
	shift
	start=$(date +%s)
	if "$VERIFY" "$@" "$MNT" > /tmp/verify.log 2>&1; then
		end=$(date +%s)
		ok "$name ($(( end - start ))s)"
	else
		not_ok "$name"
		tail -40 /tmp/verify.log | sed 's/^/# /'
	fi
}
run_verify "verifier: $OPS ops, 4 files, seed 1" -s 1 -n "$OPS" -f 4
run_verify "verifier: $((OPS / 5)) ops, 4 files, seed 2" -s 2 -n $((OPS / 5)) -f 4
run_verify "verifier: O_DIRECT, $((OPS / 5)) ops, 2 files, seed 3" -d -s 3 -n $((OPS / 5)) -f 2

umount "$MNT" || umount -l "$MNT"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "daemon exits after unmount" sh -c "! kill -0 $pid 2>/dev/null"
