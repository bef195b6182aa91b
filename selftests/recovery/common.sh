# SPDX-License-Identifier: GPL-2.0
# Helpers of the mqfused recovery scripts (mqfused.sh, takeover.sh), sourced
# after vm/lib.sh with $mnt set: the session is asked of sysfs, never of
# the mount (a stat there waits while the session is ORPHANED).
fail=0
t() { check "$@" || fail=1; }
# A shell command line run here, with the scripts' functions.
sh_fn() { eval "$1"; }
sess_dir() { mq_session_dir "$mnt"; }
sess_attr() { local d; d=$(sess_dir) && cat "$d/$1"; }
# Wait (bounded) until session attribute $1 reads $2.
wait_attr() {
	local _
	for _ in $(seq 200); do
		[ "$(sess_attr "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
comm_of() { cat "/proc/$1/comm" 2>/dev/null; }
parent_comm() { comm_of "$(awk '{ print $4 }' "/proc/$1/stat" 2>/dev/null)"; }
procs="mqfused mqfused-sup mqfused-monitor"	# (pgrep -x: one name each, <= 15 chars)
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
