#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# One file, many writers, mqfuse + mqfused (consistency=cto,
# allow_other,default_permissions):
#  - kpage_test: copy_file_range into unaligned ranges of a cached file,
#    cto after our own write and another writer's;
#  - POSIX ACL owner rule: uid 1000 cannot change the ACL of a root-owned
#    0600 file (EPERM, backing file unchanged), the owner can;
#  - the shared-file verifier: threads on ONE file mixing O_DIRECT,
#    buffered, mmap held across truncate, O_APPEND and copy_file_range,
#    checked against a model and the backing file. MQ_SHARED_OPS sets its
#    length (default a short run), MQ_SHARED_SEED its seed;
#  - two clients of one store: an exclusive create and a rename's target
#    are asked of the daemon even within the entry timeout; POSIX locks
#    and flock exclude each other across the two clients (lock_test), the
#    daemon's per-owner fds do not pile up, --no-locks keeps them local.
# Any failing command, including a crash of a test binary, is a not ok.
. "$(dirname "$0")/../vm/lib.sh"
MQFUSED=$MQ_HELPER/mqfused
VERIFY=$MQ_TESTS/fsx/mqverify
KPAGE=$MQ_TESTS/shared/kpage_test
LOCKT=$MQ_TESTS/shared/lock_test
SRC=$MQ_SCRATCH/shared-src
MNT=/mnt/shared
OPS=${MQ_SHARED_OPS:-10000}
SEED=${MQ_SHARED_SEED:-$(date +%s)}
mkdir -p "$SRC" "$MNT"
chmod 755 "$SRC" "$MNT"
mq_load || { not_ok "load $MQ_NAME"; exit 1; }

"$MQFUSED" --fs mqfuse -o "queues=$(nproc),allow_other,default_permissions" \
	"local:$SRC" "$MNT" || { not_ok "mqfused mounts"; exit 1; }
pid=$(pgrep -n -x mqfused)
grep -q " $MNT $MQ_NAME " /proc/mounts || { not_ok "mounted as $MQ_NAME"; exit 1; }

# ---- kpage_test: its TAP lines, plus its exit status ----
if [ -x "$KPAGE" ]; then
	"$KPAGE" "$MNT" "$SRC"
	rc=$?
	[ $rc -eq 0 ] && ok "kpage_test exits 0" || not_ok "kpage_test exits 0 (exit $rc)"
else
	not_ok "kpage_test built"
fi

# ---- POSIX ACLs under default_permissions ----
# The kernel checks mode bits only (no FUSE_POSIX_ACL yet): an ACL set
# through the mount would not be applied and its mask would widen the
# group bits, so ACL names are refused (EOPNOTSUPP) for everyone, as stock
# FUSE does; unknown system.* names too. Nothing reaches the backing file.
as_user() { setpriv --reuid 1000 --regid 1000 --clear-groups "$@"; }
f=$MNT/kp_acl
echo secret > "$f" && chmod 600 "$f"
acl_before=$(getfacl -cpn "$SRC/kp_acl" 2>&1)
check_fail "uid 1000: setfacl -m u:1000:rw on a root-owned 0600 file fails" \
	as_user setfacl -m u:1000:rw "$f"
check_fail "root: setfacl -m u:1000:rw is refused too" setfacl -m u:1000:rw "$f"
check "root: the refusal is EOPNOTSUPP" sh -c \
	"setfattr -n system.posix_acl_access -v 0sAgAAAAEABgD/////AgAGAOgDAAAEAAAA/////xAABgD/////IAAAAP////8= $f 2>&1 | grep -q 'Operation not supported'"
check_fail "root: setfattr of an unknown system.* name fails" \
	setfattr -n system.mqshared -v 1 "$f"
check "backing file ACL and mode unchanged" sh -c \
	"[ \"\$(getfacl -cpn $SRC/kp_acl 2>&1)\" = \"$acl_before\" ] && [ \$(stat -c %a $SRC/kp_acl) = 600 ]"
check "uid 1000 still cannot read the 0600 file" sh -c \
	"! setpriv --reuid 1000 --regid 1000 --clear-groups cat $f >/dev/null 2>&1"
rm -f "$f"

# ---- shared-file verifier ----
if "$VERIFY" -h 2>&1 | grep -q -- '-S'; then
	diag "shared verifier seed $SEED, $OPS ops"
	start=$(date +%s)
	if "$VERIFY" -S -s "$SEED" -n "$OPS" -t 4 -B "$SRC" "$MNT" > /tmp/shared-verify.log 2>&1; then
		ok "shared-file verifier: $OPS ops, 4 threads, seed $SEED ($(( $(date +%s) - start ))s)"
	else
		not_ok "shared-file verifier: $OPS ops, 4 threads, seed $SEED"
		tail -40 /tmp/shared-verify.log | sed 's/^/# /'
	fi
else
	not_ok "mqverify has the shared-file mode (-S)"
fi

# ---- two clients of one store ----
# Two mounts of one backing directory, each with its own mqfused and a
# 600 s entry timeout, so a cached name stays cached for the whole test.
# An exclusive create and a rename's target must still ask the daemon:
# the other client may have removed or moved the name (the issue's
# "'A/f' and 'B/f' are the same file" from mv).
TWO=$MQ_SCRATCH/two-src MA=/mnt/two-a MB=/mnt/two-b MC=/mnt/two-c
mkdir -p "$TWO/A" "$TWO/B" "$MA" "$MB" "$MC"
echo data > "$TWO/A/f"
two_ok=1
for m in "$MA" "$MB"; do
	"$MQFUSED" --fs mqfuse --entry-timeout 600 --attr-timeout 600 \
		-o "queues=$(nproc)" "local:$TWO" "$m" &&
		grep -q " $m $MQ_NAME " /proc/mounts || two_ok=0
	# the serving process keeps the name (the monitor is mqfused-monitor)
	[ "$m" = "$MB" ] && pid_b=$(pgrep -n -x mqfused)
done
if [ $two_ok = 1 ]; then
	ok "two mqfused mounts of one store"
	check "client A: mv A/f B/" mv "$MA/A/f" "$MA/B/"
	check "client B: mv B/f A/" mv "$MB/B/f" "$MB/A/"
	check "client A: mv A/f B/ again (its B/f is stale: the rename target is asked for)" \
		mv "$MA/A/f" "$MA/B/"
	check "store: B/f is there, A/f is not" sh -c "[ -f $TWO/B/f ] && [ ! -e $TWO/A/f ]"
	check "client A: the moved file reads back" sh -c "[ \"\$(cat $MA/B/f)\" = data ]"
	echo x > "$MA/excl" && stat "$MA/excl" >/dev/null && rm -f "$MB/excl"
	check "client A: O_CREAT|O_EXCL on a name client B removed succeeds" \
		python3 -c "import os; os.close(os.open('$MA/excl', os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))"
	mkdir "$MA/dir" && stat "$MA/dir" >/dev/null && rmdir "$MB/dir"
	check "client A: mkdir of a name client B removed succeeds" mkdir "$MA/dir"
	check "client A: a cached name still resolves within its timeout" stat "$MA/excl"

	# Locks: each daemon takes them on the backing file, so the two
	# clients exclude each other (lock_test: its TAP lines, then its exit
	# status).
	head -c 4096 /dev/zero > "$TWO/lockfile"
	if [ -x "$LOCKT" ]; then
		LOCK_TEST_DAEMON_B=$pid_b \
			timeout -s KILL "$(mq_tmo 600)" "$LOCKT" "$MA/lockfile" "$MB/lockfile"
		rc=$?
		[ $rc -eq 0 ] && ok "lock_test exits 0" || not_ok "lock_test exits 0 (exit $rc)"
		# A lock owner's backing fd goes with its locks (FLUSH at close,
		# full unlock).  fd 7 keeps the file open on client B meanwhile:
		# otherwise its last RELEASE would drop every owner and hide a
		# leak.  60 processes lock and exit, 30 of them holding locks: a
		# leaked owner fd each would be 30 more fds, the threshold is 5.
		exec 7<"$MB/lockfile"
		sleep 1
		fds_before=$(ls /proc/$pid_b/fd | wc -l)
		check "lock churn: 60 processes lock through client B and exit" \
			timeout -s KILL "$(mq_tmo 300)" "$LOCKT" "$MA/lockfile" "$MB/lockfile" churn 60
		sleep 1	# RELEASE is asynchronous: let the last handles close
		fds_after=$(ls /proc/$pid_b/fd | wc -l)
		check "lock churn: client B's daemon holds no more fds ($fds_before before, $fds_after after, file kept open)" \
			test "$fds_after" -le "$((fds_before + 5))"
		exec 7<&-
	else
		not_ok "lock_test built"
	fi
	check "flock(1): client B cannot take the flock client A holds" sh -c \
		"flock -n $MA/lockfile sh -c '! flock -n $MB/lockfile true'"
	check "flock(1): once client A let go, client B takes it" flock -n "$MB/lockfile" true
	# --no-locks: the kernel's local lock manager, as before (one client only)
	if "$MQFUSED" --fs mqfuse --no-locks -o "queues=$(nproc)" "local:$TWO" "$MC" &&
	   grep -q " $MC $MQ_NAME " /proc/mounts; then
		check "--no-locks: a flock on client C ignores client A's (local locks only)" sh -c \
			"flock -n $MA/lockfile flock -n $MC/lockfile true"
		check "--no-locks: flock still excludes within client C" sh -c \
			"flock -n $MC/lockfile sh -c '! flock -n $MC/lockfile true'"
	else
		not_ok "--no-locks: mqfused mounts client C"
	fi
	check "client B's daemon is still serving" sh -c "kill -0 $pid_b && stat $MB/lockfile"
else
	not_ok "two mqfused mounts of one store"
fi
for m in "$MA" "$MB" "$MC"; do
	grep -q " $m " /proc/mounts && { umount "$m" || umount -l "$m"; }
done

umount "$MNT" || umount -l "$MNT"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
check "daemon exits after unmount" sh -c "! kill -0 $pid 2>/dev/null"
