#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Crash recovery, mqfused's side, end to end and deterministic: the
# serving process is killed with SIGKILL and a successor serves the same
# session (by --supervise, or by hand with --attach): the data, an open
# file and the session survive; the supervisor ends with the session
# (umount, abort) and never restarts into a dead one.  The load test
# (kills every 0.5 s under fio and a namespace storm) is load.sh.
. "$(dirname "$0")/../vm/lib.sh"
H=$MQ_HELPER
mq_load || { not_ok "load $MQ_NAME"; exit 1; }
src=$MQ_SCRATCH/rec-src mnt=/mnt/rec
rm -rf "$src"
mkdir -p "$src" "$mnt"
fail=0
t() { check "$@" || fail=1; }

# The session mounted at $mnt, read from sysfs (never through the mount:
# while it is ORPHANED a stat there waits for the daemon).
sess_dir() {
	local dev d
	dev=$(awk -v m="$mnt" -v t="$MQ_NAME" '$5 == m && $0 ~ " - " t " " { d = $3 } END { print d }' /proc/self/mountinfo)
	[ -n "$dev" ] || return 1
	for d in /sys/fs/$MQ_NAME/[0-9]*; do
		[ "$(cat "$d/dev" 2>/dev/null)" = "$dev" ] && { echo "$d"; return 0; }
	done
	return 1
}
# A shell command line run here, with this script's functions.
sh_fn() { eval "$1"; }
sess_attr() { local d; d=$(sess_dir) && cat "$d/$1"; }
# Wait (bounded) until attribute $1 reads $2.
wait_attr() {
	local _
	for _ in $(seq 200); do
		[ "$(sess_attr "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
serving() { pgrep -n -x mqfused; }
# Wait (bounded) for a serving process other than $1; prints its pid.
wait_successor() {
	local _ p
	for _ in $(seq 200); do
		p=$(serving)
		[ -n "$p" ] && [ "$p" != "$1" ] && { echo "$p"; return 0; }
		sleep 0.05
	done
	return 1
}
procs="mqfused mqfused-sup mqfused-monitor"	# (pgrep: one name each, <= 15 chars)
any_process() { local c; for c in $procs; do pgrep -x "$c" && return 0; done; return 1; }
no_process() {	# none of them left (bounded wait)
	local _
	for _ in $(seq 100); do
		any_process >/dev/null || return 0
		sleep 0.1
	done
	return 1
}
cleanup() {
	local c
	for c in $procs; do pkill -9 -x "$c"; done
	umount -l "$mnt" 2>/dev/null
	no_process
}

# --- --supervise: SIGKILL of the serving process, a successor attaches ---
if check "--supervise -o recovery=30 mounts" \
	"$H/mqfused" --supervise -o recovery=30 "local:$src" "$mnt"; then
	t "a supervisor (mqfused-sup) and a serving process run" \
		sh -c "pgrep -x mqfused-sup && pgrep -x mqfused"
	echo before > "$mnt/data"
	mkdir "$mnt/dir" && echo one > "$mnt/dir/one"
	exec 3<>"$mnt/held"
	printf abc >&3
	pid=$(serving)
	kill -9 "$pid"
	npid=$(wait_successor "$pid")
	t "SIGKILL of the serving process: a successor serves (was $pid, now ${npid:-none})" \
		test -n "$npid"
	t "the session recovered: running, recoveries 1" \
		sh_fn "wait_attr state running && wait_attr recoveries 1"
	t "data written before the kill reads back" \
		sh -c "[ \"\$(cat $mnt/data)\" = before ]"
	t "new files after the restart" \
		sh -c "echo after > $mnt/data2 && [ \"\$(cat $src/data2)\" = after ]"
	# a directory the dead daemon looked up: its nodeid names it still
	t "in a directory known before the kill: create, link, symlink, chmod, rename, unlink, mkdir" \
		sh -c "cd $mnt/dir && echo two > two && ln two two.l && ln -s two two.s && chmod 600 two && mv two three && rm two.l && mkdir sub && [ \"\$(cat $src/dir/three)\" = two ] && [ \"\$(cat one)\" = one ]"
	# the file opened before the kill: its handle lives on in the successor
	printf def >&3 2>/tmp/rec-held.err
	t "a file open across the restart still writes (no EBADF/ENOTCONN: $(cat /tmp/rec-held.err))" \
		test ! -s /tmp/rec-held.err
	exec 3>&-
	t "its data is whole: abcdef" sh -c "[ \"\$(cat $src/held)\" = abcdef ]"
	# twice more, back to back: the supervisor's delay doubles but it restarts
	for k in 2 3; do
		pid=$(serving); kill -9 "$pid"
		npid=$(wait_successor "$pid")
		t "kill $k: a successor serves (${npid:-none})" test -n "$npid"
	done
	t "recoveries 3 after three kills" \
		sh_fn "wait_attr recoveries 3"
	t "the mount reads after three kills" sh -c "[ \"\$(cat $mnt/data2)\" = after ]"
	t "umount: the daemon and the supervisor end" \
		sh_fn "umount $mnt && no_process"
else
	fail=1
fi
cleanup

# --- an aborted session: the supervisor stops, no restart into it ---
if check "--supervise mounts again" \
	"$H/mqfused" --supervise -o recovery=30 "local:$src" "$mnt"; then
	id=$(basename "$(sess_dir)")
	t "mqfusectl abort $id" "$H/mqfusectl" --gen "$MQ_GEN" abort "$id"
	t "aborted: the serving process and the supervisor end, nobody restarts" \
		no_process
	t "the aborted mount answers ENOTCONN" \
		sh -c "stat $mnt/data 2>&1 | grep -q 'not connected'"
	umount "$mnt" 2>/dev/null || umount -l "$mnt"
else
	fail=1
fi
cleanup

# --- SIGTERM to the supervisor: unmount, everything ends, exit 0 ---
"$H/mqfused" --supervise -f -o recovery=30 "local:$src" "$mnt" >/tmp/rec-sup.log 2>&1 &
sup=$!
mounted() { grep -q " $mnt $MQ_NAME " /proc/mounts; }
wait_mounted() { local _; for _ in $(seq 100); do mounted && return 0; sleep 0.1; done; return 1; }
if check "--supervise -f mounts (foreground supervisor)" wait_mounted; then
	kill -TERM "$sup"
	for _ in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
	t "SIGTERM: the supervisor exits" sh -c "! kill -0 $sup 2>/dev/null"
	wait "$sup"; rc=$?
	t "SIGTERM: exit status 0 (got $rc)" test "$rc" -eq 0
	t "SIGTERM: unmounted, no process left" \
		sh_fn "! grep -q ' $mnt ' /proc/mounts && no_process"
else
	fail=1
fi
cleanup

# --- by hand: mqfused --attach=MOUNTPOINT after a crash ---
if check "mqfused -o recovery=30 mounts (no supervisor)" \
	"$H/mqfused" -o recovery=30 "local:$src" "$mnt"; then
	pid=$(serving)
	kill -9 "$pid"
	t "SIGKILL: the session is orphaned, not aborted" wait_attr state orphaned
	t "nobody restarts it" sh -c "sleep 1; ! pgrep -x mqfused"
	t "mqfused --attach=$mnt serves it" "$H/mqfused" --attach="$mnt" "local:$src" "$mnt"
	t "attached: running, recoveries 1" sh_fn "wait_attr state running && wait_attr recoveries 1"
	t "the mount reads after the attach" sh -c "[ \"\$(cat $mnt/data2)\" = after ]"
	t "umount ends the attached daemon" \
		sh_fn "umount $mnt && no_process"
else
	fail=1
fi
cleanup
exit $fail
