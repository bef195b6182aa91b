#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Hot upgrade under load: mqfused runs supervised on a mount with
# recovery=SECONDS; every TAKEOVER_EVERY seconds for DURATION seconds the
# supervisor is sent SIGUSR2 (a --takeover child from the binary on disk
# replaces the serving daemon) while the load of load.sh runs: fio verify
# (buffered 4 KiB, O_DIRECT 8 MiB, shared mmap 64 KiB) and two namespace
# storms with a log of what they did.  Pass: every takeover completes
# (daemon_pid changes, the old serving process and its monitor are gone,
# one new serving process answers), no application error, no data
# mismatch, no non-idempotent operation applied twice, and the graceful
# path only: no crash recovery counted, nothing replayed.  Prints takeover
# latency p50/p99/max (SIGUSR2 -> the new daemon answers a LOOKUP).
. "$(dirname "$0")/../vm/lib.sh"
H=$MQ_HELPER
DURATION=${MQ_RECOVERY_LOAD_S:-${DURATION:-20}}
TAKEOVER_EVERY=${TAKEOVER_EVERY:-1}
RECOVERY_S=${RECOVERY_S:-30}
mq_load || { not_ok "load $MQ_NAME"; exit 1; }
command -v fio >/dev/null || { not_ok "takeover: fio installed (make deps)"; exit 1; }

src=$MQ_SCRATCH/takeover-src mnt=/mnt/takeover log=$MQ_SCRATCH/takeover-log
rm -rf "$src" "$log"
mkdir -p "$src" "$mnt" "$log"
if ! "$H/mqfused" --supervise -o recovery=$RECOVERY_S,allow_other \
	"local:$src" "$mnt" 2>"$log/mount.err"; then
	not_ok "takeover: mqfused --supervise mounts with recovery=$RECOVERY_S"
	diag "$(cat "$log/mount.err")"
	exit 1
fi
ok "takeover: mqfused --supervise mounts with recovery=$RECOVERY_S"

# --- the namespace storm: each op logged before (intent) and after (rc) ---
storm() {
	local id=$1 i=0 d=$mnt/storm-$id rc
	mkdir -p "$d"
	while [ ! -e "$log/stop" ]; do
		i=$((i + 1))
		echo "create $i" >"$d/f$i" 2>>"$log/storm-$id.err"; rc=$?
		echo "create f$i $rc" >>"$log/storm-$id"
		ln "$d/f$i" "$d/l$i" 2>>"$log/storm-$id.err"; rc=$?
		echo "link l$i $rc" >>"$log/storm-$id"
		ln -s "f$i" "$d/s$i" 2>>"$log/storm-$id.err"; rc=$?
		echo "symlink s$i $rc" >>"$log/storm-$id"
		chmod 600 "$d/f$i" 2>>"$log/storm-$id.err"; rc=$?
		echo "chmod f$i $rc" >>"$log/storm-$id"
		truncate -s 4096 "$d/f$i" 2>>"$log/storm-$id.err"; rc=$?
		echo "truncate f$i $rc" >>"$log/storm-$id"
		mv "$d/f$i" "$d/r$i" 2>>"$log/storm-$id.err"; rc=$?
		echo "rename f$i r$i $rc" >>"$log/storm-$id"
		rm "$d/l$i" 2>>"$log/storm-$id.err"; rc=$?
		echo "unlink l$i $rc" >>"$log/storm-$id"
		mkdir "$d/d$i" 2>>"$log/storm-$id.err"; rc=$?
		echo "mkdir d$i $rc" >>"$log/storm-$id"
		echo "append $i" >>"$d/app" 2>>"$log/storm-$id.err"; rc=$?
		echo "append $i $rc" >>"$log/storm-$id"
	done
	echo "$i" >"$log/storm-$id.count"
}

fio_job() {
	fio --name=verify --directory="$mnt" --size=64m --bs=$1 --rw=randrw \
	    --verify=crc32c --verify_fatal=1 --time_based --runtime="$DURATION" \
	    $2 --output="$log/fio-$3.out" >/dev/null 2>&1
	echo $? >"$log/fio-$3.rc"
}

for id in 1 2; do storm $id & done
fio_job 4k "" buffered &
fio_job 8m "--direct=1" direct &
fio_job 64k "--ioengine=mmap" mmap &

# --- the upgrader: SIGUSR2 to the supervisor, time the hand-over ---
# The session mounted at $mnt, from sysfs (never through the mount).
sess_dir() { mq_session_dir "$mnt"; }
sess=$(sess_dir)
sup=$(pgrep -x mqfused-sup)
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
takeovers=0 failed=0
end=$((SECONDS + DURATION))
: >"$log/takeover-ms"
while [ $SECONDS -lt $end ]; do
	# one every TAKEOVER_EVERY s, or back to back if one takes longer
	next=$(($(date +%s%N) + ${TAKEOVER_EVERY%.*} * 1000000000))
	old=$(<"$sess/daemon_pid") osrv=$(pgrep -x mqfused) omon=$(pgrep -x mqfused-monitor)
	t0=$(date +%s%N)
	kill -USR2 "$sup" || { failed=1; not_ok "takeover: the supervisor is alive"; break; }
	takeovers=$((takeovers + 1))
	# done: daemon_pid changed, the old processes are gone, one serving
	# process that is new, and it answered a LOOKUP of a name never seen
	fin=0
	for _ in $(seq 3000); do
		npid=$(<"$sess/daemon_pid")
		if [ "$npid" != "$old" ] && ! alive "$old" && ! alive "$osrv" &&
		   ! alive "$omon"; then
			nsrv=$(pgrep -x mqfused)
			if [ "$(echo "$nsrv" | wc -w)" = 1 ] &&
			   ! echo " $osrv " | grep -q " $nsrv " &&
			   stat "$mnt/.takeover-$takeovers" 2>&1 | grep -q "No such file"; then
				fin=1
				break
			fi
		fi
		sleep 0.005
	done
	if [ $fin = 0 ]; then
		not_ok "takeover: takeover $takeovers completes (daemon_pid $old -> $npid, serving $osrv -> $nsrv, old alive: $(for p in $old $osrv $omon; do alive $p && echo -n "$p "; done))"
		failed=1
		break
	fi
	echo $((($(date +%s%N) - t0) / 1000000)) >>"$log/takeover-ms"
	now=$(date +%s%N)
	[ "$now" -lt "$next" ] && sleep "$(( (next - now) / 1000000 ))e-3"
done
touch "$log/stop"
wait

# --- verdicts ---
fail=$failed
# back to back at worst: in the TCG guest under this load one takes 2-7 s
# from SIGUSR2 to the new daemon's answer (exec, attach, rebuild); at
# least one per 10 s
[ "$takeovers" -ge $((DURATION / 10)) ] && [ "$takeovers" -ge 1 ] && ok "takeover: $takeovers takeovers in $DURATION s" ||
	{ not_ok "takeover: $takeovers takeovers in $DURATION s (too few)"; fail=1; }
rec=$(cat "$sess/recoveries") rep=$(cat "$sess/replayed") st=$(cat "$sess/state")
[ "$rec" = 0 ] && [ "$rep" = 0 ] && [ "$st" = running ] &&
	ok "takeover: the graceful path only: state running, recoveries 0, replayed 0" ||
	{ fail=1; not_ok "takeover: the graceful path only (state $st, recoveries $rec, replayed $rep)"; }
alive "$sup" && ok "takeover: the supervisor lives on" ||
	{ fail=1; not_ok "takeover: the supervisor lives on"; }
errs=$(cat "$log"/storm-*.err 2>/dev/null | wc -l)
[ "$errs" -eq 0 ] && ok "takeover: $takeovers takeovers, 0 application errors in the storm" ||
	{ fail=1; not_ok "takeover: $takeovers takeovers, $errs application errors in the storm"; head -5 "$log"/storm-*.err | while read -r l; do diag "$l"; done; }
for kind in buffered direct mmap; do
	[ -f "$log/fio-$kind.rc" ] || { fail=1; not_ok "takeover: fio $kind verify ran"; continue; }
	if [ "$(cat "$log/fio-$kind.rc")" = 0 ]; then
		ok "takeover: fio $kind verify: 0 errors, 0 mismatches"
	else
		fail=1
		not_ok "takeover: fio $kind verify (exit $(cat "$log/fio-$kind.rc"))"
		grep -iE 'err|verify|bad' "$log/fio-$kind.out" | head -5 | while read -r l; do diag "$l"; done
	fi
done
# Duplicated non-idempotent ops: every append line exactly once, links
# counted, no unlinked name back, no rename source left.
dups=0
for id in 1 2; do
	d=$src/storm-$id
	n=$(cat "$log/storm-$id.count" 2>/dev/null || echo 0)
	[ "$(sort "$d/app" | uniq -d | wc -l)" -eq 0 ] || dups=$((dups + 1))
	[ "$(wc -l <"$d/app")" -eq "$(grep -c '^append .* 0$' "$log/storm-$id")" ] ||
		dups=$((dups + 1))
	for i in $(seq "$n"); do
		[ -e "$d/f$i" ] && grep -q "^rename f$i r$i 0$" "$log/storm-$id" && dups=$((dups + 1))
		[ -e "$d/l$i" ] && grep -q "^unlink l$i 0$" "$log/storm-$id" && dups=$((dups + 1))
	done
done
[ $dups -eq 0 ] && ok "takeover: 0 duplicated or lost non-idempotent operations" ||
	{ fail=1; not_ok "takeover: $dups duplicated or lost non-idempotent operations"; }
sort -n "$log/takeover-ms" | awk '{ v[NR] = $1 } END {
	if (!NR) { print "# takeover latency: no takeover"; exit }
	p50 = v[int((NR - 1) * 0.50) + 1]; p99 = v[int((NR - 1) * 0.99) + 1]
	printf "# takeover latency over %d takeovers: p50 %d ms, p99 %d ms, max %d ms\n", NR, p50, p99, v[NR] }'
# the serving process exits 0 on unmount; the supervisor follows it
umount "$mnt" 2>/dev/null || umount -l "$mnt"
for _ in $(seq 100); do pgrep -x mqfused-sup >/dev/null || break; sleep 0.1; done
if pgrep -x mqfused-sup >/dev/null; then
	fail=1; not_ok "takeover: the supervisor ends with the unmount"
	pkill -9 -x mqfused-sup
fi
exit $fail
