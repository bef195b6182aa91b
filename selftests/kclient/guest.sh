#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Kernel client suite: mount options, device semantics, INIT negotiation,
# a working POSIX filesystem served by an unmodified libfuse3 daemon (lfpt)
# and by mqfused, sysfs counters, daemon death.
#
# sysfs interface checked here (documented in fs/sysfs.c):
#   /sys/fs/mqfuse_vN/<session-id>/{dev,state,queues,...}
#   /sys/fs/mqfuse_vN/<session-id>/queue<N>/stats
. "$(dirname "$0")/../vm/lib.sh"

K=$MQ_TESTS/kclient
LFPT=$MQ_TESTS/libfuse-passthrough/lfpt
MQFUSED=$MQ_HELPER/mqfused
POSIX=$MQ_TESTS/posix/posix_test
VERIFY=$MQ_TESTS/fsx/mqverify
MNT=/tmp/kc_mnt
# posix_test features mqfused claims (RENAME2, FALLOCATE, LSEEK, xattrs).
MQFUSED_FEATURES=rename_flags,fallocate,punch_hole,zero_range,seek_data,xattr
SRC=$MQ_SCRATCH/kc_src
mkdir -p "$MNT" "$SRC"
# passthrough daemons keep one fd per cached inode
ulimit -n 65536 2>/dev/null || ulimit -n 4096

mounted() { mq_mounted "$MNT"; }
# MNT is a $MQ_NAME mount (not the bare directory underneath after a failed
# mount) and its root answers (INIT done).
wait_mounted_ready() { mq_wait_mounted "$MNT"; }
session_dir() {
	local d devno
	devno=$(mountpoint -d "$MNT" 2>/dev/null)
	for d in /sys/fs/$MQ_NAME/[0-9]*; do
		[ "$(cat "$d/dev" 2>/dev/null)" = "$devno" ] && { echo "$d"; return 0; }
	done
	return 1
}
# run_posix LABEL [ARGS]: posix_test with a watchdog that dumps blocked tasks on a hang
run_posix() {
	local l=$1 rc
	shift
	timeout -s KILL "$(mq_tmo 600)" "$POSIX" -b "$SRC" "$@" "$MNT" 2>&1 |
		sed -u -E "s/^(not ok|ok)( [0-9]+)?( -)? */\1 - $l posix: /"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 137 ]; then
		not_ok "$l: posix_test finished within 600 s"
		echo w > /proc/sysrq-trigger
		dmesg | tail -150 | sed 's/^/# /'
	elif [ "$rc" -ne 0 ]; then
		not_ok "$l: posix_test exit status 0 (got $rc)"
	fi
}
stop_daemon() {	# stop_daemon PID
	kill "$1" 2>/dev/null
	for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
	true
}

check "module loads" mq_load || exit 1

# ---- mount options ----
for o in "rootmode=40000,user_id=0,group_id=0" "fd=%FD,user_id=0,group_id=0" \
	 "fd=%FD,rootmode=40000,group_id=0" "fd=%FD,rootmode=40000,user_id=0" \
	 "fd=%FD,rootmode=40000,user_id=0,group_id=0,bogus=1" \
	 "fd=%FD,rootmode=40000,user_id=0,group_id=0,queues=0" \
	 "fd=%FD,rootmode=40000,user_id=0,group_id=0,queues=100000" \
	 "fd=%FD,rootmode=40000,user_id=0,group_id=0,blksize=3000" \
	 "fd=%FD,rootmode=40000,user_id=0,group_id=0,balance=maybe" \
	 "fd=%FD,rootmode=40000,user_id=0,group_id=0,consistency=nonsense" \
	 "fd=%FD,rootmode=99999999,user_id=0,group_id=0" \
	 "fd=notanumber,rootmode=40000,user_id=0,group_id=0"; do
	"$K/mqmount" -r -o "$o" "$MNT" >/dev/null 2>&1
	rc=$?
	if [ $rc -eq 22 ] && ! mounted; then ok "mount -o $o refused with EINVAL"
	else not_ok "mount -o $o refused with EINVAL (rc $rc)"; umount "$MNT" 2>/dev/null; fi
done
"$K/mqmount" -d /dev/null "$MNT" >/dev/null 2>&1
rc=$?
if [ $rc -eq 22 ] && ! mounted; then ok "fd of /dev/null refused with EINVAL"
else not_ok "fd of /dev/null refused with EINVAL (rc $rc)"; umount "$MNT" 2>/dev/null; fi
# The refusal must be explained in the kernel log written after a marker
# (mount(2) has no other channel for the message).
marker="kclient: refused-option marker $$.$RANDOM"
echo "$marker" > /dev/kmsg
"$K/mqmount" -o blksize=3000 "$MNT" >/dev/null 2>&1
check "dmesg explains a refused option (blksize=3000)" \
	sh -c "dmesg | sed -n '/$marker/,\$p' | grep -q 'blksize=3000: need a power of 2'"

# ---- hand-written daemon: ioctls, read semantics, INIT ----
"$K/kc_test" "$MNT"
rc=$?
[ $rc -eq 0 ] || not_ok "kc_test exit status 0 (got $rc)"
umount "$MNT" 2>/dev/null

# ---- lfpt (unmodified libfuse3 daemon) ----
run_fs_checks() {	# run_fs_checks LABEL
	local l=$1 f=$MNT/kc_basic d
	check "$l: create+write+read" sh -c "echo hello > $f && [ \"\$(cat $f)\" = hello ]"
	check "$l: append" sh -c "echo world >> $f && [ \"\$(cat $f)\" = \"\$(printf 'hello\nworld')\" ]"
	check "$l: visible in backing dir" sh -c "[ \"\$(cat $SRC/kc_basic)\" = \"\$(printf 'hello\nworld')\" ]"
	check "$l: truncate" sh -c "truncate -s 3 $f && [ \"\$(cat $f)\" = hel ]"
	check "$l: chmod" sh -c "chmod 640 $f && [ \"\$(stat -c %a $f)\" = 640 ]"
	check "$l: touch -d" sh -c "touch -d '2001-02-03 04:05:06' $f && [ \"\$(stat -c %Y $f)\" = \"\$(date -d '2001-02-03 04:05:06' +%s)\" ]"
	check "$l: mkdir+rmdir" sh -c "mkdir $MNT/kc_d && [ -d $MNT/kc_d ] && rmdir $MNT/kc_d && [ ! -e $MNT/kc_d ]"
	check "$l: symlink+readlink" sh -c "ln -s kc_basic $MNT/kc_l && [ \"\$(readlink $MNT/kc_l)\" = kc_basic ] && [ \"\$(cat $MNT/kc_l)\" = hel ]"
	check "$l: hard link" sh -c "ln $f $MNT/kc_h && [ \"\$(stat -c %h $f)\" = 2 ] && rm $MNT/kc_h && [ \"\$(stat -c %h $f)\" = 1 ]"
	check "$l: rename" sh -c "mv $MNT/kc_l $MNT/kc_l2 && [ -L $MNT/kc_l2 ] && [ ! -e $MNT/kc_l ] && rm $MNT/kc_l2"
	check "$l: mknod fifo" sh -c "mkfifo $MNT/kc_fifo && [ -p $MNT/kc_fifo ] && rm $MNT/kc_fifo"
	mkdir -p "$SRC/kc_many"
	for i in $(seq 1 1500); do : > "$SRC/kc_many/entry_with_a_longish_name_$i"; done
	check "$l: readdir of 1500 entries (32 KiB buffers, resume by offset)" \
		sh -c "[ \$(ls -f $MNT/kc_many | wc -l) = 1502 ] && [ \$(ls $MNT/kc_many | sort -u | wc -l) = 1500 ]"
	# names only no longer make inodes past the first READDIRPLUS
	# (readdirplus=auto); a stat of each does, through READDIRPLUS or LOOKUP
	ls -l "$MNT/kc_many" > /dev/null
	rm -rf "$SRC/kc_many"
	sync; echo 2 > /proc/sys/vm/drop_caches; sleep 0.5
	sd=$(session_dir)
	check "$l: evicted inodes send FORGETs (sysfs forgets > 1000)" \
		sh -c "cat $sd/queue*/stats | awk '/^forgets/{s+=\$2} END{exit !(s>1000)}'"
	check "$l: 16 MiB write+read back" sh -c "dd if=/dev/urandom of=/tmp/kc_rand bs=1M count=16 2>/dev/null && \
		dd if=/tmp/kc_rand of=$MNT/kc_big bs=4M 2>/dev/null && cmp /tmp/kc_rand $MNT/kc_big && cmp /tmp/kc_rand $SRC/kc_big"
	check "$l: copy_file_range 3 MiB" sh -c "python3 -c \"
import os
a = os.open('$MNT/kc_big', os.O_RDONLY)
b = os.open('$MNT/kc_copy', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
left = 3 << 20
while left:
    n = os.copy_file_range(a, b, left)
    assert n > 0
    left -= n
\" && head -c 3145728 /tmp/kc_rand | cmp - $MNT/kc_copy && rm $MNT/kc_copy"
	check "$l: O_DIRECT 8 MiB write+read" sh -c "dd if=/tmp/kc_rand of=$MNT/kc_dio bs=8M count=2 oflag=direct 2>/dev/null && \
		dd if=$MNT/kc_dio of=/tmp/kc_dio bs=8M iflag=direct 2>/dev/null && cmp /tmp/kc_rand /tmp/kc_dio"
	check "$l: close-to-open sees a backing-dir change" sh -c "cat $MNT/kc_basic >/dev/null && sleep 1.1 && \
		echo changed > $SRC/kc_basic && [ \"\$(cat $MNT/kc_basic)\" = changed ]"
	check "$l: xattr set/get" sh -c "setfattr -n user.kc -v 42 $f && [ \"\$(getfattr --only-values -n user.kc $f)\" = 42 ] || \
		python3 -c 'import os;os.setxattr(\"$f\",\"user.kc\",b\"42\");assert os.getxattr(\"$f\",\"user.kc\")==b\"42\"'"
	check "$l: statfs" sh -c "stat -f $MNT >/dev/null"
	check "$l: unlink" sh -c "rm -f $f $MNT/kc_big $MNT/kc_dio && [ ! -e $f ]"
	sd=$(session_dir)
	check "$l: sysfs session dir found by dev number" test -n "$sd"
	if [ -n "$sd" ]; then
		check "$l: sysfs state running" grep -qx running "$sd/state"
		check "$l: sysfs queue0 stats count requests" sh -c "cat $sd/queue*/stats | awk '/^requests/{s+=\$2} END{exit !(s>0)}'"
		diag "$l: session $(cat $sd/id) queues=$(cat $sd/queues) max_pages=$(cat $sd/max_pages) max_write=$(cat $sd/max_write)"
	fi
}

if [ -x "$LFPT" ]; then
	pid=$("$K/mqmount" -l /tmp/kc_lfpt.log -o allow_other,default_permissions "$MNT" -- \
		"$LFPT" -f "$SRC" /dev/fd/%FD)
	if check "lfpt: mount and INIT" wait_mounted_ready; then
		run_fs_checks lfpt
		if [ -x "$POSIX" ]; then
			run_posix lfpt
		else
			skip "lfpt: posix_test" "not built"
		fi
		if [ -x "$VERIFY" ]; then
			check "lfpt: mqverify" timeout "$(mq_tmo 300)" "$VERIFY" -n 3000 "$MNT"
		fi
		# kc_dead exists in the backing directory but was never looked up
		# through the mount: only a dead daemon can make its stat fail.
		: > "$SRC/kc_dead"
		kill -9 "$pid"
		sleep 0.5
		check "lfpt: lookup of an existing name fails with ENOTCONN after daemon death" \
			sh -c "test -e $SRC/kc_dead && stat $MNT/kc_dead 2>&1 | grep -q 'not connected'"
		rm -f "$SRC/kc_dead"
		check "lfpt: ENOTCONN after daemon death" sh -c "stat $MNT/. 2>&1 | grep -q 'not connected'"
		check "lfpt: umount after daemon death" umount "$MNT"
	else
		sed 's/^/# /' /tmp/kc_lfpt.log | tail -20
	fi
	stop_daemon "$pid"
else
	skip "lfpt suite" "lfpt not built"
fi

# ---- mqfused ----
if [ -x "$MQFUSED" ]; then
	pid=$("$K/mqmount" -l /tmp/kc_mqfused.log -o allow_other,default_permissions,queues=2,balance=on \
		"$MNT" -- "$MQFUSED" -f --fd %FD "local:$SRC")
	if check "mqfused: mount and INIT" wait_mounted_ready; then
		run_fs_checks mqfused
		if [ -x "$POSIX" ]; then
			# mqfused implements these on an ext4 backing directory: their
			# SKIP would hide a regression.
			run_posix mqfused -r "$MQFUSED_FEATURES"
		fi
		# asynchronous O_DIRECT (FUSE_ASYNC_DIO): AIO and io_uring
		timeout -s KILL "$(mq_tmo 600)" "$K/aio_test" "$MNT" "$SRC"
		rc=$?
		[ $rc -eq 0 ] || not_ok "mqfused: aio_test exit status 0 (got $rc)"
		check "mqfused: umount while daemon alive" umount "$MNT"
	else
		sed 's/^/# /' /tmp/kc_mqfused.log | tail -20
	fi
	stop_daemon "$pid"
else
	skip "mqfused suite" "mqfused not built"
fi

check "module unloads" mq_unload
