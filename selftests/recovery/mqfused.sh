#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Crash recovery, mqfused's side, end to end and deterministic: the
# serving process is killed with SIGKILL and a successor serves the same
# session (by --supervise, sandboxed or not, or by hand with --attach):
# the data, a directory looked up before the kill and a file open across
# it survive, and sysfs daemon_pid names the new serving process.  The
# supervisor ends with the session (umount, SIGTERM even after a restart,
# an abort while it waits) and gives up on a successor that cannot start,
# leaving the session to its recovery= deadline.  The load
# test (kills every 0.5 s under fio and a namespace storm) is load.sh.
. "$(dirname "$0")/../vm/lib.sh"
H=$MQ_HELPER
mq_load || { not_ok "load $MQ_NAME"; exit 1; }
src=$MQ_SCRATCH/rec-src mnt=/mnt/rec
rm -rf "$src"
mkdir -p "$src" "$mnt"
. "$(dirname "$0")/common.sh"

# The serving process: sysfs daemon_pid, once it is an "mqfused" (the
# first reader of the newest daemon's fds).
serving() { local p; p=$(sess_attr daemon_pid) && [ "$(comm_of "$p")" = mqfused ] && echo "$p"; }
# kill_serving K: SIGKILL the serving process, then wait (bounded) for
# recovery K: state running, recoveries K, a new serving process that
# answers a LOOKUP of a name never seen.  Prints the new pid.
kill_serving() {
	local k=$1 pid npid _
	pid=$(serving) || return 1
	kill -9 "$pid"
	for _ in $(seq 400); do
		npid=$(serving)
		if [ -n "$npid" ] && [ "$npid" != "$pid" ] && [ "$(sess_attr recoveries)" = "$k" ] &&
		   [ "$(sess_attr state)" = running ] &&
		   timeout 5 stat "$mnt/.probe-$k-$RANDOM" 2>&1 | grep -q "No such file"; then
			echo "$npid"
			return 0
		fi
		sleep 0.05
	done
	return 1
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
	# the session's events on the netlink group, as an operator watches them
	"$H/mqfusectl" --gen "$MQ_GEN" --count 2 monitor >/tmp/rec-mon.out 2>&1 & mon=$!
	# the header line is printed once it is subscribed
	for _ in $(seq 100); do grep -q . /tmp/rec-mon.out 2>/dev/null && break; sleep 0.1; done
	npid=$(kill_serving 1)
	t "SIGKILL of the serving process ($pid): a successor serves (${npid:-none}), recoveries 1" \
		test -n "$npid"
	for _ in $(seq 100); do kill -0 "$mon" 2>/dev/null || break; sleep 0.1; done
	kill "$mon" 2>/dev/null
	wait "$mon"
	t "mqfusectl monitor saw session $(basename "$(sess_dir)") orphaned, then recovered ($(awk '{ print $3 }' /tmp/rec-mon.out | paste -sd,))" \
		sh -c "awk -v i=$(basename "$(sess_dir)") '\$2 == i { print \$3 }' /tmp/rec-mon.out | paste -sd, | grep -qx orphaned,recovered"
	t "sysfs daemon_pid is the serving process (comm mqfused under mqfused-monitor), not the process that attached" \
		sh_fn "[ \"\$(parent_comm $npid)\" = mqfused-monitor ]"
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
	# twice more, back to back: each once the previous successor serves
	for k in 2 3; do
		npid=$(kill_serving $k)
		t "kill $k: a successor serves (${npid:-none}), recoveries $k" test -n "$npid"
	done
	t "the mount reads after three kills" sh -c "[ \"\$(cat $mnt/data2)\" = after ]"
	t "umount: the daemon and the supervisor end" sh_fn "umount $mnt && no_process"
else
	fail=1
fi
cleanup

# --- the same without the sandbox: the supervisor's child serves itself ---
if check "--supervise --sandbox none mounts" \
	"$H/mqfused" --supervise --sandbox none -o recovery=30 "local:$src" "$mnt"; then
	npid=$(kill_serving 1)
	t "--sandbox none: SIGKILL, a successor serves (${npid:-none}), a child of mqfused-sup" \
		sh_fn "[ -n '$npid' ] && [ \"\$(parent_comm $npid)\" = mqfused-sup ]"
	t "--sandbox none: the mount reads" sh -c "[ \"\$(cat $mnt/data2)\" = after ]"
	t "--sandbox none: umount ends everything" sh_fn "umount $mnt && no_process"
else
	fail=1
fi
cleanup

# --- aborted while the supervisor waits: it stops, no restart into it ---
if check "--supervise mounts again" \
	"$H/mqfused" --supervise -o recovery=30 "local:$src" "$mnt"; then
	sup=$(pgrep -x mqfused-sup)
	d=$(mq_session_dir "$mnt")
	# the supervisor finds the session aborted when its daemon is gone
	kill -STOP "$sup"
	kill -9 "$(serving)"
	t "SIGKILL with the supervisor stopped: orphaned" wait_attr state orphaned
	echo 1 > "$d/abort"
	kill -CONT "$sup"
	t "aborted: the supervisor ends, nobody restarts, recoveries 0" \
		sh_fn "no_process && [ \"\$(cat $d/recoveries)\" = 0 ] && [ \"\$(cat $d/state)\" = aborted ]"
	t "the aborted mount answers ENOTCONN" \
		sh -c "stat $mnt/data 2>&1 | grep -q 'not connected'"
	umount "$mnt" 2>/dev/null || umount -l "$mnt"
else
	fail=1
fi
cleanup

# --- SIGTERM to the supervisor after a restart: unmount, all end, exit 0 ---
"$H/mqfused" --supervise -f -o recovery=30 "local:$src" "$mnt" >/tmp/rec-sup.log 2>&1 &
sup=$!
mounted() { grep -q " $mnt $MQ_NAME " /proc/mounts; }
wait_mounted() { local _; for _ in $(seq 100); do mounted && return 0; sleep 0.1; done; return 1; }
if check "--supervise -f mounts (foreground supervisor)" wait_mounted; then
	npid=$(kill_serving 1)
	t "SIGKILL: a successor serves (${npid:-none})" test -n "$npid"
	kill -TERM "$sup"
	for _ in $(seq 100); do kill -0 "$sup" 2>/dev/null || break; sleep 0.1; done
	t "SIGTERM: the supervisor exits" sh -c "! kill -0 $sup 2>/dev/null"
	wait "$sup"; rc=$?
	t "SIGTERM: exit status 0 (got $rc)" test "$rc" -eq 0
	t "SIGTERM after a restart: unmounted (the successor did not mount; the supervisor unmounts), no process left" \
		sh_fn "! grep -q ' $mnt ' /proc/mounts && no_process"
else
	fail=1
fi
cleanup

# --- by hand: mqfused --attach=MOUNTPOINT after a crash ---
if check "mqfused -o recovery=30 mounts (no supervisor)" \
	"$H/mqfused" -o recovery=30 "local:$src" "$mnt"; then
	kill -9 "$(serving)"
	t "SIGKILL: the session is orphaned, not aborted" wait_attr state orphaned
	t "nobody restarts it" sh -c "sleep 1; ! pgrep -x mqfused"
	t "mqfused --attach=$mnt serves it" "$H/mqfused" --attach="$mnt" "local:$src" "$mnt"
	t "attached: running, recoveries 1" sh_fn "wait_attr state running && wait_attr recoveries 1"
	t "the mount reads after the attach" sh -c "[ \"\$(cat $mnt/data2)\" = after ]"
	# exclusive: a successor only joins an orphaned session
	srv=$(serving)
	"$H/mqfused" -f --attach="$mnt" "local:$src" "$mnt" >/tmp/rec-attach2.err 2>&1; rc=$?
	t "a second --attach to the served session is refused (exit $rc: $(grep -o 'Device or resource busy' /tmp/rec-attach2.err | head -1))" \
		sh -c "[ $rc -ne 0 ] && grep -q 'Device or resource busy' /tmp/rec-attach2.err"
	t "the serving daemon serves on (daemon_pid $srv, recoveries 1)" \
		sh_fn "[ \"\$(serving)\" = '$srv' ] && [ \"\$(sess_attr recoveries)\" = 1 ] && [ \"\$(cat $mnt/data2)\" = after ]"
	t "umount ends the attached daemon" sh_fn "umount $mnt && no_process"
else
	fail=1
fi
cleanup

# --- a successor that cannot start: the supervisor gives up, the session
# waits for its recovery= deadline (not aborted early) ---
# (its binary is gone: every exec fails, a quick death of its own fault)
bin=/tmp/rec-gone/mqfused
mkdir -p /tmp/rec-gone && cp "$H/mqfused" "$bin"
if check "--supervise from $bin mounts" "$bin" --supervise -o recovery=120 "local:$src" "$mnt"; then
	d=$(mq_session_dir "$mnt")
	rm -f "$bin"
	kill -9 "$(serving)"
	# 9 delays of 0.1 s doubling up to 5 s, then it gives up: ~21 s
	for _ in $(seq 600); do pgrep -x mqfused-sup >/dev/null || break; sleep 0.1; done
	t "10 failed successors in a row: the supervisor gave up and ended" \
		sh -c "! pgrep -x mqfused-sup"
	t "the session is left orphaned for its recovery= deadline, not aborted" \
		sh -c "[ \"\$(cat $d/state)\" = orphaned ]"
	t "mqfused --attach serves it after all" "$H/mqfused" --attach="$mnt" "local:$src" "$mnt"
	t "attached: running" sh_fn "wait_attr state running"
	t "umount ends it" sh_fn "umount $mnt && no_process"
else
	fail=1
fi
cleanup
exit $fail
