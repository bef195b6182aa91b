#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Mixed soak on mqfuse + mqfused: parallel fio with verification, the
# integrity verifier with changing seeds, and a create/rename/unlink storm,
# for MQ_SOAK_SECONDS (default 60 here; `make soak` runs 600). Ends with zero
# errors and the daemon's RSS and open fd count flat (printed at start and end).
. "$(dirname "$0")/../vm/lib.sh"
secs=${MQ_SOAK_SECONDS:-60}
MQFUSED=$MQ_HELPER/mqfused
VERIFY=$MQ_TESTS/fsx/mqverify
SRC=$MQ_SCRATCH/soak-src
MNT=/mnt/soak
mkdir -p "$SRC" "$MNT"

mq_load || { not_ok "load $MQ_NAME"; exit 1; }
if ! "$MQFUSED" --fs mqfuse -o "queues=$(nproc),allow_other,default_permissions" \
	"local:$SRC" "$MNT"; then
	not_ok "mqfused mounts"
	exit 1
fi
check "mqfused mounts ($MNT is a $MQ_NAME mount)" mq_wait_mounted "$MNT" || exit 1
pid=$(pgrep -n -x mqfused)
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"; }
fds() { ls "/proc/$pid/fd" | wc -l; }

mkdir -p "$MNT/fio" "$MNT/storm" "$MNT/verify"
# Warm-up so the daemon's steady-state buffers are allocated before measuring.
dd if=/dev/zero of="$MNT/warm" bs=8M count=4 oflag=direct status=none
ls -l "$MNT" > /dev/null
rm -f "$MNT/warm"
rss0=$(rss) fds0=$(fds)
diag "start: daemon RSS ${rss0} KiB, open fds ${fds0}; running ${secs}s"

fio --name=randrw --directory="$MNT/fio" --rw=randwrite --bsrange=4k-1m \
	--size=48m --numjobs=2 --verify=crc32c --verify_backlog=32 --verify_fatal=1 \
	--time_based --runtime="$secs" --output=/tmp/soak-fio-rand.txt >/dev/null 2>&1 &
fio_rand=$!
fio --name=seq --directory="$MNT/fio" --rw=write --bs=8m --size=64m --direct=1 \
	--verify=md5 --verify_fatal=1 --time_based --runtime="$secs" \
	--output=/tmp/soak-fio-seq.txt >/dev/null 2>&1 &
fio_seq=$!

# Each loop writes "ROUNDS ERRORS" (storm) or "RUNS FAILS" (verifier) to its
# result file; a round counts only once all its steps ran.
rm -f /tmp/soak-storm.txt /tmp/soak-verify.txt
storm() {
	local end=$(( $(date +%s) + secs )) i=0 rounds=0 errs=0 d=$MNT/storm
	while [ "$(date +%s)" -lt "$end" ]; do
		i=$((i + 1))
		echo "$i" > "$d/a$i" || errs=$((errs + 1))
		mkdir "$d/d$i" || errs=$((errs + 1))
		mv "$d/a$i" "$d/d$i/b" || errs=$((errs + 1))
		[ "$(cat "$d/d$i/b")" = "$i" ] || errs=$((errs + 1))
		mv "$d/d$i" "$d/e$i" || errs=$((errs + 1))
		rm "$d/e$i/b" && rmdir "$d/e$i" || errs=$((errs + 1))
		rounds=$((rounds + 1))
	done
	[ -z "$(ls -A "$d")" ] || errs=$((errs + 1))
	echo "$rounds $errs" > /tmp/soak-storm.txt
}
storm &
storm_pid=$!

verify_loop() {
	local end=$(( $(date +%s) + secs )) seed=1 runs=0 fails=0
	while [ "$(date +%s)" -lt "$end" ]; do
		"$VERIFY" -s "$seed" -n 5000 -f 2 "$MNT/verify" > "/tmp/soak-verify-$seed.txt" 2>&1 ||
			{ fails=$((fails + 1)); cp "/tmp/soak-verify-$seed.txt" /tmp/soak-verify-failed.txt; }
		runs=$((runs + 1))
		seed=$((seed + 1))
	done
	echo "$runs $fails" > /tmp/soak-verify.txt
}
verify_loop &
verify_pid=$!

wait $fio_rand; rc_rand=$?
wait $fio_seq; rc_seq=$?
wait $storm_pid
wait $verify_pid
rss1=$(rss) fds1=$(fds)

[ $rc_rand -eq 0 ] && ok "fio random write with crc32c verify: no error" ||
	{ not_ok "fio random write with crc32c verify: no error (exit $rc_rand)"; tail -20 /tmp/soak-fio-rand.txt | sed 's/^/# /'; }
[ $rc_seq -eq 0 ] && ok "fio O_DIRECT 8 MiB write with md5 verify: no error" ||
	{ not_ok "fio O_DIRECT 8 MiB write with md5 verify: no error (exit $rc_seq)"; tail -20 /tmp/soak-fio-seq.txt | sed 's/^/# /'; }
# fio_written FILE: bytes the fio run wrote ("WRITE: bw=..., io=64.0MiB (...)")
fio_written() {
	sed -n 's/.*WRITE: .*io=\([0-9.]*\)\([KMGT]\?\)i\?B.*/\1 \2/p' "$1" | head -n1 |
		awk '{ m = 1; if ($2 == "K") m = 2^10; if ($2 == "M") m = 2^20;
		       if ($2 == "G") m = 2^30; if ($2 == "T") m = 2^40; printf "%d\n", $1 * m }'
}
for f in rand seq; do
	w=$(fio_written /tmp/soak-fio-$f.txt)
	[ "${w:-0}" -gt 0 ] && ok "fio $f: wrote data ($w bytes)" ||
		not_ok "fio $f: wrote data (report says ${w:-nothing})"
done
rounds="" errs="" runs="" fails=""
read -r rounds errs < /tmp/soak-storm.txt
if [ "${rounds:-0}" -ge 1 ] && [ "$errs" = 0 ]; then
	ok "create/rename/unlink storm: $rounds rounds, 0 errors"
else
	not_ok "create/rename/unlink storm: at least one round, no error (rounds '${rounds}', errors '${errs}')"
fi
read -r runs fails < /tmp/soak-verify.txt
if [ "${runs:-0}" -ge 1 ] && [ "$fails" = 0 ]; then
	ok "integrity verifier: $runs runs, 0 mismatches"
else
	not_ok "integrity verifier: at least one run, no mismatch (runs '${runs}', failed '${fails}')"
	tail -30 /tmp/soak-verify-failed.txt 2>/dev/null | sed 's/^/# /'
fi

diag "end: daemon RSS ${rss1} KiB (start ${rss0}), open fds ${fds1} (start ${fds0})"
[ "$fds1" -le $((fds0 + 2)) ] && ok "daemon open fds flat ($fds0 -> $fds1)" ||
	not_ok "daemon open fds flat ($fds0 -> $fds1)"
# Flat: no growth beyond 10% + 4 MiB of allocator slack.
[ "$rss1" -le $((rss0 + rss0 / 10 + 4096)) ] && ok "daemon RSS flat ($rss0 -> $rss1 KiB)" ||
	not_ok "daemon RSS flat ($rss0 -> $rss1 KiB)"

rm -rf "$MNT/fio" "$MNT/verify"
umount "$MNT" && ok "unmount" || { not_ok "unmount"; umount -l "$MNT"; }
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && not_ok "daemon exits after unmount" || ok "daemon exits after unmount"
