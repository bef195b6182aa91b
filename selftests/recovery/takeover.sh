#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Hot upgrade, deterministic: mqfused --takeover (by hand) and SIGUSR2 to
# mqfused --supervise hand a serving session over to a new daemon without
# the crash path: the old serving process and its monitor are gone, the
# new one is the session's daemon_pid and serves, the session stayed
# running (no recovery counted, nothing replayed), data and a file held
# open across the upgrade keep working; supervision goes on after it
# (a kill -9 of the new daemon is still repaired).  Under load:
# load.sh takeover.
. "$(dirname "$0")/../vm/lib.sh"
H=$MQ_HELPER
mq_load || { not_ok "load $MQ_NAME"; exit 1; }
src=$MQ_SCRATCH/tko-src mnt=/mnt/tko
rm -rf "$src"
mkdir -p "$src" "$mnt"
. "$(dirname "$0")/common.sh"

# Wait (bounded) until none of the pids $* is alive.
gone() {
	local _ p left
	for _ in $(seq 200); do
		left=0
		for p in "$@"; do alive "$p" && left=1; done
		[ $left = 0 ] && return 0
		sleep 0.05
	done
	return 1
}
# Wait (bounded) until daemon_pid is not $1; prints it.
wait_new_daemon() {
	local _ p
	for _ in $(seq 200); do
		p=$(sess_attr daemon_pid)
		[ -n "$p" ] && [ "$p" != 0 ] && [ "$p" != "$1" ] && { echo "$p"; return 0; }
		sleep 0.05
	done
	return 1
}
# The one serving process (comm mqfused); fails if there is not exactly one.
one_serving() {
	local p
	p=$(pgrep -x mqfused) || return 1
	[ "$(echo "$p" | wc -l)" -eq 1 ] || return 1
	echo "$p"
}
# Wait (bounded) for exactly one serving process, none of the pids $*.
wait_serving_not() {
	local _ p
	for _ in $(seq 200); do
		p=$(one_serving) && ! echo " $* " | grep -q " $p " && { echo "$p"; return 0; }
		sleep 0.05
	done
	return 1
}
# daemon_pid is a live mqfused (the serving process or its monitor).
daemon_is_mqfused() {
	local p
	p=$(sess_attr daemon_pid) && alive "$p" &&
		grep -qx 'mqfused\(-monitor\)\?' "/proc/$p/comm"
}
# What every takeover must leave: the old ones gone, a new daemon serving,
# still running, no crash recovery, nothing replayed.  $1: label, $2: old
# daemon_pid, $3...: old pids that must be gone.
after_takeover() {
	local what=$1 old=$2 npid serving
	shift 2
	npid=$(wait_new_daemon "$old")
	t "$what: daemon_pid changed ($old -> ${npid:-unchanged})" test -n "$npid"
	t "$what: the old processes are gone ($*)" gone "$@"
	t "$what: daemon_pid is a live mqfused" daemon_is_mqfused
	serving=$(wait_serving_not "$@")
	t "$what: one serving process, a new one (${serving:-none})" test -n "$serving"
	t "$what: the session stayed running, no recovery, nothing replayed" \
		sh_fn "[ \"\$(sess_attr state)\" = running ] && [ \"\$(sess_attr recoveries)\" = 0 ] && [ \"\$(sess_attr replayed)\" = 0 ]"
	t "$what: a name never looked up is answered (the new daemon serves)" \
		sh -c "stat $mnt/.never-$RANDOM 2>&1 | grep -q 'No such file'"
}

# --- by hand, no supervisor: mqfused --takeover=MOUNTPOINT ---
if check "mqfused -o recovery=30 mounts (no supervisor)" \
	"$H/mqfused" -o recovery=30 "local:$src" "$mnt"; then
	echo before > "$mnt/data"
	mkdir "$mnt/dir" && echo one > "$mnt/dir/one"
	exec 3<>"$mnt/held"
	printf abc >&3
	old=$(sess_attr daemon_pid) omon=$(pgrep -x mqfused-monitor) osrv=$(one_serving)
	t "before: daemon_pid is the serving process ($old = ${osrv:-none})" \
		test -n "$old" -a "$old" = "$osrv"
	t "mqfused --takeover=$mnt (idle, a file held open)" \
		timeout 30 "$H/mqfused" --takeover="$mnt" "local:$src" "$mnt"
	after_takeover "takeover 1" "$old" "$osrv" "$omon"
	t "data written before reads back" sh -c "[ \"\$(cat $mnt/data)\" = before ]"
	t "in a directory known before: create, rename, unlink" \
		sh -c "cd $mnt/dir && echo two > two && mv two three && rm three && [ \"\$(cat one)\" = one ]"
	printf def >&3 2>/tmp/tko-held.err
	t "the file held open writes on (no EBADF/ENOTCONN: $(cat /tmp/tko-held.err))" \
		test ! -s /tmp/tko-held.err
	# again, by session id, from the daemon that took over (its daemon_pid
	# names its monitor now): the second takeover finds it
	old=$(sess_attr daemon_pid) osrv=$(one_serving)
	id=$(basename "$(sess_dir)")
	t "mqfused --takeover=$id (by session id, from a daemon that took over)" \
		timeout 30 "$H/mqfused" --takeover="$id" "local:$src" "$mnt"
	after_takeover "takeover 2" "$old" "$old" "$osrv"
	printf ghi >&3 2>/tmp/tko-held.err
	t "the held file writes after the second takeover ($(cat /tmp/tko-held.err))" \
		test ! -s /tmp/tko-held.err
	exec 3>&-
	t "its data is whole: abcdefghi" sh -c "[ \"\$(cat $src/held)\" = abcdefghi ]"
	t "--takeover of a path that is no $MQ_NAME mount is refused" \
		sh -c "! $H/mqfused --takeover=/nonexistent local:$src $mnt"
	# SIGTERM to the daemon that took over unmounts, as for the first
	t "SIGTERM to the daemon that took over: unmounted, no process left" \
		sh_fn "kill -TERM \$(sess_attr daemon_pid) && no_process && ! grep -q ' $mnt ' /proc/mounts"
else
	fail=1
fi
cleanup

# --- recovery=0: nothing to take over from, the old daemon serves on ---
if check "mqfused -o recovery=0 mounts" "$H/mqfused" -o recovery=0 "local:$src" "$mnt"; then
	osrv=$(one_serving)
	t "--takeover of a mount without recovery= is refused" \
		sh -c "! $H/mqfused --takeover=$mnt local:$src $mnt"
	t "the old daemon serves on" sh_fn "alive $osrv && [ \"\$(cat $mnt/data)\" = before ]"
	t "umount ends it" sh_fn "umount $mnt && no_process"
else
	fail=1
fi
cleanup

# --- supervised: SIGUSR2 to mqfused-sup ---
if check "mqfused --supervise -o recovery=30 mounts" \
	"$H/mqfused" --supervise -o recovery=30 "local:$src" "$mnt"; then
	sup=$(pgrep -x mqfused-sup)
	exec 3<>"$mnt/held2"
	printf abc >&3
	old=$(sess_attr daemon_pid) omon=$(pgrep -x mqfused-monitor) osrv=$(one_serving)
	t "SIGUSR2 to the supervisor ($sup)" kill -USR2 "$sup"
	after_takeover "supervised takeover 1" "$old" "$osrv" "$omon"
	t "the supervisor lives on (same pid $sup)" alive "$sup"
	printf def >&3 2>/tmp/tko-held.err
	t "the file held open writes on ($(cat /tmp/tko-held.err))" \
		test ! -s /tmp/tko-held.err
	# the new daemon is supervised: kill -9 is repaired by a successor
	osrv=$(one_serving)
	kill -9 "$osrv"
	t "kill -9 after the upgrade: the supervisor restarts it (recoveries 1)" \
		sh_fn "wait_attr recoveries 1 && wait_attr state running"
	t "a successor serves (${osrv} gone)" sh_fn "gone $osrv && wait_serving_not $osrv"
	# and upgrades again after a crash restart
	old=$(sess_attr daemon_pid) osrv=$(one_serving)
	t "SIGUSR2 again" kill -USR2 "$sup"
	npid=$(wait_new_daemon "$old")
	t "supervised takeover 2: daemon_pid changed ($old -> ${npid:-unchanged})" test -n "$npid"
	t "supervised takeover 2: old processes gone" gone "$old" "$osrv"
	t "supervised takeover 2: no second recovery, one new serving process" \
		sh_fn "[ \"\$(sess_attr recoveries)\" = 1 ] && wait_serving_not $old $osrv"
	printf ghi >&3 2>/tmp/tko-held.err
	exec 3>&-
	t "the held file wrote through both: abcdefghi" \
		sh -c "[ \"\$(cat $src/held2)\" = abcdefghi ]"
	t "the supervisor lives on" alive "$sup"
	t "umount: the daemon and the supervisor end" \
		sh_fn "umount $mnt && no_process"
else
	fail=1
fi
cleanup
exit $fail
