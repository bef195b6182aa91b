#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# End-to-end test of mqfused on the host's stock FUSE (/dev/fuse, root).
# Prints "ok - name" / "not ok - name" / "ok - name # SKIP why" lines.
set -u
HELPER=$(cd "$(dirname "$0")/.." && pwd)
ROOT=$(cd "$HELPER/.." && pwd)
MQFUSED=$HELPER/mqfused

ok()   { echo "ok - $1"; }
nok()  { echo "not ok - $1"; }
skip() { echo "ok - $1 # SKIP $2"; }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else nok "$name"; fi; }
# Up to 5 s for the mqfused processes whose command line has $1 to be gone.
wait_gone() { local i; for i in $(seq 1 50); do pgrep -f -- "$1" >/dev/null || return 0; sleep 0.1; done; return 1; }
# find_procs PATTERN: sets mon (mqfused-monitor) and srv (the serving
# process) among the processes whose command line matches PATTERN.
find_procs() {
	local p
	mon= srv=
	for p in $(pgrep -f -- "$1"); do
		case $(cat /proc/$p/comm 2>/dev/null) in
		mqfused-monitor) mon=$p ;;
		mqfused) srv=$p ;;
		esac
	done
}

if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ]; then
	skip "host e2e" "needs root and /dev/fuse"
	exit 0
fi

T=$(mktemp -d /tmp/mqfused-e2e.XXXXXX)
B=$T/back M=$T/mnt S=$T/stats
mkdir -p "$B" "$M"
chmod 755 "$T"
cleanup() {
	mountpoint -q "$M" && umount -l "$M"
	rm -rf "$T"
}
trap cleanup EXIT

# Mount errors are reported synchronously (before daemonizing).
"$MQFUSED" --fs fuse local:"$T/nonexistent" "$M" 2>/dev/null
check "bad backend dir fails with non-zero exit" test $? -ne 0
"$MQFUSED" --fs fuse -o fd=5 local:"$B" "$M" 2>/dev/null
check "reserved option fd= rejected" test $? -ne 0
check "nothing mounted after a failed start" bash -c "! mountpoint -q '$M'"

echo hello > "$B/pre"
"$MQFUSED" --fs fuse --threads 2 -o allow_other --stats "$S" local:"$B" "$M" </dev/null >/dev/null 2>&1
check "mount (daemonized, exit 0)" test $? -eq 0
check "mountpoint is a fuse mount" bash -c "grep -q ' $M fuse ' /proc/mounts"
PID=$(pgrep -f "mqfused --fs fuse --threads 2 -o allow_other --stats $S" | head -1)
check "daemon running" test -n "$PID"

check "read pre-existing file" bash -c "[ \"\$(cat $M/pre)\" = hello ]"
echo data > "$M/new"
check "create+write visible in backend" bash -c "[ \"\$(cat $B/new)\" = data ]"
mkdir -p "$M/d/e/f"
check "mkdir -p" test -d "$B/d/e/f"
ln -s ../pre "$M/d/sl"
check "symlink + readlink" bash -c "[ \"\$(readlink $M/d/sl)\" = ../pre ] && [ \"\$(cat $M/d/sl)\" = hello ]"
ln "$M/new" "$M/d/hl"
check "hard link shares the inode" bash -c "[ \$(stat -c %i $M/new) = \$(stat -c %i $M/d/hl) ] && [ \$(stat -c %h $M/new) = 2 ]"
mv "$M/new" "$M/renamed"
check "rename" bash -c "[ -e $B/renamed ] && [ ! -e $B/new ]"
chmod 0600 "$M/renamed"
check "chmod" bash -c "[ \$(stat -c %a $B/renamed) = 600 ]"
chown 1234:5678 "$M/renamed"
check "chown" bash -c "[ \$(stat -c %u:%g $B/renamed) = 1234:5678 ]"
truncate -s 100000 "$M/renamed"
check "truncate" bash -c "[ \$(stat -c %s $B/renamed) = 100000 ]"
touch -d "2001-02-03 04:05:06" "$M/renamed"
check "utimens" bash -c "[ \$(stat -c %Y $B/renamed) = \$(date -d '2001-02-03 04:05:06' +%s) ]"
if setfattr -n user.k -v val "$M/pre" 2>/dev/null; then
	check "xattr round trip" bash -c "getfattr --only-values -n user.k $B/pre | grep -qx val"
else
	skip "xattr round trip" "setfattr missing or backend without user xattrs"
fi
chmod 1777 "$M/d"
if ! command -v setpriv >/dev/null; then
	skip "objects created as the caller" "setpriv missing"
elif setpriv --reuid=4321 --regid=4321 --clear-groups sh -c "mkdir $M/d/owned && : > $M/d/owned/f"; then
	check "objects created as the caller" bash -c "[ \$(stat -c %u:%g $B/d/owned/f) = 4321:4321 ]"
else
	nok "objects created as the caller"
fi

# Large sequential I/O: O_DIRECT writes of 1 MiB (stock FUSE cap).
dd if=/dev/urandom of="$T/rand" bs=1M count=24 status=none
dd if="$T/rand" of="$M/big" bs=4M oflag=direct status=none
check "O_DIRECT 4 MiB writes land intact" cmp "$T/rand" "$B/big"
check "buffered read back" cmp "$T/rand" "$M/big"
cp "$M/big" "$M/big2"
check "copy inside the mount" cmp "$T/rand" "$B/big2"

# Directory listing larger than one READDIR buffer, with concurrent churn.
mkdir "$M/many"
for i in $(seq 1 600); do : > "$M/many/file-with-a-long-name-$i"; done
check "listing of 600 entries" bash -c "[ \$(ls $M/many | wc -l) = 600 ]"
check "listing matches the backend" bash -c "diff <(ls $M/many) <(ls $B/many)"
check "find sees every entry" bash -c "[ \$(find $M/many -type f | wc -l) = 600 ]"

rm -rf "$M/d" "$M/many"
check "rm -rf" bash -c "[ ! -e $B/d ] && [ ! -e $B/many ]"
check "statfs" stat -f "$M"

# Stats on SIGUSR1, atomically replaced.
kill -USR1 "$PID"; sleep 0.5
check "stats file on SIGUSR1" grep -q '^op=WRITE count=' "$S"
check "stats per-thread lines" bash -c "[ \$(grep -c '^thread=' $S) = 2 ]"
check "stats show 1 MiB writes on the wire" grep -q '^size op=WRITE bytes=1048576 ' "$S"
check "stats show 32 KiB readdir requests" grep -Eq '^size op=READDIR(PLUS)? bytes=32768 ' "$S"

# Lookup references are returned: after dropping caches the table shrinks.
sync; echo 2 > /proc/sys/vm/drop_caches; sleep 0.5
kill -USR1 "$PID"; sleep 0.5
INODES=$(sed -n 's/^inodes=\([0-9]*\).*/\1/p' "$S")
check "FORGET frees inodes (inodes=$INODES)" test "${INODES:-999}" -lt 50

# umount ends the daemon.
umount "$M"
for i in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
check "daemon exits after umount" bash -c "! kill -0 $PID 2>/dev/null || grep -q zombie /proc/$PID/status 2>/dev/null || [ \"\$(awk '/State/{print \$2}' /proc/$PID/status)\" = Z ]"
check "final stats written on exit" grep -q '^inodes=[0-9]* handles=0' "$S"

# SIGTERM unmounts and exits 0 (foreground instance).
"$MQFUSED" -f --fs fuse local:"$B" "$M" </dev/null >/dev/null 2>&1 &
FPID=$!
for i in $(seq 1 50); do mountpoint -q "$M" && break; sleep 0.1; done
check "foreground mount" mountpoint -q "$M"
kill -TERM $FPID; wait $FPID; RC=$?
check "SIGTERM: exit 0" test $RC -eq 0
check "SIGTERM: unmounted" bash -c "! mountpoint -q '$M'"

# Descriptors inherited from the caller (fd 9: an open file) are closed in
# every mqfused process, sandboxed or not; the sandboxed serving process
# has a network namespace of its own.
echo secret > "$T/inherited"
for mode in on none; do
	"$MQFUSED" --fs fuse --sandbox=$mode local:"$B" "$M" 9<"$T/inherited" </dev/null >/dev/null 2>&1
	pids=$(pgrep -f -- "--sandbox=$mode local:$B $M")
	held=$(for p in $pids; do ls -l /proc/$p/fd/; done 2>/dev/null | grep -c "$T/inherited")
	check "sandbox=$mode: inherited fd 9 closed in every mqfused process ($(echo $pids | wc -w) found)" \
		bash -c "[ -n '$pids' ] && [ $held = 0 ] && [ \"\$(cat $M/pre)\" = hello ]"
	if [ $mode = on ]; then
		find_procs "--sandbox=$mode local:$B $M"
		check "sandbox=on: the serving process has its own network namespace (not the monitor's)" \
			bash -c "[ -n '$mon' ] && [ -n '$srv' ] && [ \"\$(readlink /proc/$srv/ns/net)\" != \"\$(readlink /proc/$mon/ns/net)\" ] && [ \"\$(readlink /proc/$mon/ns/net)\" = \"\$(readlink /proc/self/ns/net)\" ]"
	fi
	umount "$M"
	wait_gone "--sandbox=$mode local:$B $M"
done

# A directory inherited on fd 0 (mqfused ... 0</) would give openat(0, ...)
# the host's tree: /dev/null goes over it in both processes (foreground:
# the daemon's own detach would hide a miss).
"$MQFUSED" --fs fuse -f --sandbox=on local:"$B" "$M" 0</ >/dev/null 2>"$T/stdin-dir.err" &
FPID=$!
for i in $(seq 1 50); do mountpoint -q "$M" && break; sleep 0.1; done
find_procs "-f --sandbox=on local:$B $M"
check "stdin a directory (0</): fd 0 of the serving process and the monitor is /dev/null" \
	bash -c "[ -n '$srv' ] && [ -n '$mon' ] && [ \"\$(readlink /proc/$srv/fd/0)\" = /dev/null ] && [ \"\$(readlink /proc/$mon/fd/0)\" = /dev/null ] && [ \"\$(cat $M/pre)\" = hello ]"
kill -TERM $FPID; wait $FPID
wait_gone "-f --sandbox=on local:$B $M"

# Started with 0-2 closed: /dev/null fills them first, so neither the
# backing root nor the device fd gets a number the detach overwrites.
for mode in on none; do
	"$MQFUSED" --fs fuse --syslog --sandbox=$mode local:"$B" "$M" 0<&- 1>&- 2>&-
	RC=$?
	check "sandbox=$mode: started with fds 0-2 closed: mounts and serves" \
		bash -c "[ $RC -eq 0 ] && mountpoint -q '$M' && [ \"\$(cat $M/pre)\" = hello ] && ls '$M' | grep -qx pre"
	umount "$M" 2>/dev/null || umount -l "$M" 2>/dev/null
	wait_gone "--sandbox=$mode local:$B $M"
done

# Started with SIGCHLD ignored (SIG_IGN survives exec): the monitor still
# sees the serving process die (kill -9), unmounts and exits.
python3 -c 'import signal, os, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])' \
	"$MQFUSED" --fs fuse --sandbox=on --stats "$T/sigign" local:"$B" "$M" </dev/null >/dev/null 2>&1
find_procs "--stats $T/sigign local:$B $M"
[ -n "$srv" ] && kill -9 $srv
gone=no
for i in $(seq 1 50); do
	if ! mountpoint -q "$M" && ! kill -0 $mon 2>/dev/null; then gone=yes; break; fi
	sleep 0.1
done
check "SIGCHLD ignored by the caller: after kill -9 of the serving process the mount is gone and the monitor exited" \
	bash -c "[ -n '$srv' ] && [ -n '$mon' ] && [ $gone = yes ]"
if [ $gone = no ]; then
	umount -l "$M" 2>/dev/null
	[ -n "$mon" ] && kill -9 $mon 2>/dev/null
fi
wait_gone "--stats $T/sigign local:$B $M"

# --sandbox takes on, log or none only (as --help and mqfused.8 say).
for bad in kill off; do
	"$MQFUSED" --fs fuse --sandbox=$bad local:"$B" "$M" </dev/null >/dev/null 2>"$T/sandbox-bad.err"
	RC=$?
	check "--sandbox=$bad refused (exit 2), nothing mounted" \
		bash -c "[ $RC -eq 2 ] && grep -q -- '--sandbox must be on, log or none' '$T/sandbox-bad.err' && ! mountpoint -q '$M'"
	mountpoint -q "$M" && umount "$M" && wait_gone "--sandbox=$bad local:$B $M"
done

# --sandbox=log says so at warning level on the caller's stderr; =on does not.
"$MQFUSED" --fs fuse --sandbox=log local:"$B" "$M" </dev/null >/dev/null 2>"$T/log-mode.err"
check "sandbox=log: warning on stderr that violations are only logged" \
	grep -q "^mqfused: warn: sandbox in LOG mode (--sandbox=log): system calls outside the allow-list are NOT refused, only logged" "$T/log-mode.err"
umount "$M"
wait_gone "--sandbox=log local:$B $M"
"$MQFUSED" --fs fuse --log-level=err --sandbox=log local:"$B" "$M" </dev/null >/dev/null 2>"$T/log-mode-err.err"
check "sandbox=log --log-level=err: the log-mode warning still on stderr" \
	grep -q "^mqfused: warn: sandbox in LOG mode (--sandbox=log)" "$T/log-mode-err.err"
umount "$M"
wait_gone "--sandbox=log local:$B $M"
"$MQFUSED" --fs fuse --sandbox=on local:"$B" "$M" </dev/null >/dev/null 2>"$T/on-mode.err"
check "sandbox=on: no log-mode warning" bash -c "mountpoint -q '$M' && ! grep -q 'LOG mode' '$T/on-mode.err'"
umount "$M"
wait_gone "--sandbox=on local:$B $M"

# syslog (a /dev/log of our own, in a private mount namespace): the
# log-mode warning arrives there too, and the serving process still logs
# after the descriptor sweep and the sandbox (--syslog: the log socket is
# open before the sweep, which must reconnect it).
if command -v python3 >/dev/null && command -v unshare >/dev/null; then
	unshare -m --propagation private bash -s "$MQFUSED" "$B" "$M" "$T" >"$T/syslog-run.out" 2>&1 <<'EOS'
set -u
MQFUSED=$1 B=$2 M=$3 T=$4
mkdir -p "$T/hostdev"
mount --bind /dev "$T/hostdev" && mount -t tmpfs tmpfs /dev || exit 1
for d in fuse null; do touch /dev/$d; mount --bind "$T/hostdev/$d" /dev/$d || exit 1; done
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
with open(sys.argv[1], "a") as f:
    while True:
        f.write(s.recv(8192).decode(errors="replace") + "\n")
        f.flush()
' "$T/syslog.txt" &
lp=$!
for i in $(seq 1 50); do [ -S /dev/log ] && break; sleep 0.1; done
"$MQFUSED" --fs fuse --sandbox=log --syslog --log-level info local:"$B" "$M" </dev/null >/dev/null 2>&1 || echo "mqfused failed"
cat "$M/pre" >/dev/null
umount "$M"
for i in $(seq 1 50); do pgrep -f -- "--log-level info local:$B $M" >/dev/null || break; sleep 0.1; done
sleep 0.2
kill $lp
EOS
	check "syslog: the log-mode warning (LOG_DAEMON|LOG_WARNING)" grep -q '^<28>.*sandbox in LOG mode' "$T/syslog.txt"
	check "syslog: the sandboxed serving process still logs after the fd sweep (its exit)" grep -q '^<30>.*mqfused\[.*exiting' "$T/syslog.txt"
	grep -q . "$T/syslog-run.out" && sed 's/^/# /' "$T/syslog-run.out"
else
	skip "syslog checks" "python3 or unshare missing"
fi

# mount.mqfuse with fs=fuse.
"$HELPER/mount.mqfuse" "$B" "$M" -o fs=fuse,threads=1,nofail,_netdev,defaults,rw,allow_other </dev/null >/dev/null 2>&1
check "mount.mqfuse fs=fuse" bash -c "mountpoint -q '$M' && [ \"\$(cat $M/pre)\" = hello ]"
mountpoint -q "$M" && umount "$M"
"$HELPER/mount.mqfuse" "$B" "$M" -o fs=fuse,consistency=nonsense 2>/dev/null
check "mount.mqfuse rejects bad option values" bash -c "[ $? -ne 0 ] && ! mountpoint -q '$M'"

# mount.mqfuse sandbox=on|log|none becomes mqfused --sandbox=...; a bad value
# is refused by the helper itself (mount(8) status 32) before anything runs.
OUT=$("$HELPER/mount.mqfuse" "$B" "$M" -f -o fs=fuse,sandbox=log 2>&1)
check "mount.mqfuse sandbox=log passes --sandbox=log to mqfused" \
	bash -c "[ $? -eq 0 ] && printf '%s\n' '$OUT' | grep -q -- ' --sandbox=log ' && ! mountpoint -q '$M'"
for bad in "sandbox=bogus:sandbox= must be on, log or none, not 'bogus'" \
	   "sandbox=LOG:sandbox= must be on, log or none, not 'LOG'" \
	   "sandbox=off:sandbox= must be on, log or none, not 'off'" \
	   "sandbox=kill:sandbox= must be on, log or none, not 'kill'" \
	   "sandbox=:option 'sandbox=' needs the form key=value" \
	   "sandbox:option 'sandbox' needs the form key=value"; do
	opt=${bad%%:*} want=${bad#*:}
	"$HELPER/mount.mqfuse" "$B" "$M" -o fs=fuse,$opt 2>"$T/sandbox-opt.err"
	RC=$?
	LEFT=$(pgrep -f -- "-- $B $M" | wc -l)
	check "mount.mqfuse -o $opt refused (exit $RC): \"$want\", nothing mounted or running" \
		bash -c "[ $RC -eq 32 ] && grep -qF \"mount.mqfuse: \$1\" '$T/sandbox-opt.err' && ! mountpoint -q '$M' && [ $LEFT = 0 ]" _ "$want"
done
"$HELPER/mount.mqfuse" "$B" "$M" -o fs=fuse,sandbox=none </dev/null >/dev/null 2>&1
SPID=$(pgrep -f -- "--sandbox=none --fs=fuse -- $B $M")
check "mount.mqfuse sandbox=none: one unconfined process (Seccomp 0)" \
	bash -c "mountpoint -q '$M' && [ \$(echo $SPID | wc -w) = 1 ] && grep -Eq '^Seccomp:[[:space:]]+0$' /proc/$SPID/status"
mountpoint -q "$M" && umount "$M"
wait_gone "-- $B $M"
"$HELPER/mount.mqfuse" "$B" "$M" -o fs=fuse,sandbox=log </dev/null >/dev/null 2>"$T/sandbox-log-opt.err"
check "mount.mqfuse sandbox=log: mounted, the log-mode warning on mount's stderr" \
	bash -c "mountpoint -q '$M' && grep -q 'warn: sandbox in LOG mode' '$T/sandbox-log-opt.err'"
mountpoint -q "$M" && umount "$M"
wait_gone "-- $B $M"

# Shared test programs, when built.
if [ -x "$ROOT/selftests/posix/posix_test" ]; then
	"$MQFUSED" --fs fuse -o allow_other local:"$B" "$M" </dev/null >/dev/null 2>&1
	# stock FUSE: mqfused does not ask for FUSE_HANDLE_KILLPRIV_V2 there
	OUT=$("$ROOT/selftests/posix/posix_test" -x kill_nocap "$M" 2>&1)
	RC=$?
	check "posix_test ($(echo "$OUT" | tail -1 | sed 's/^# //'))" test $RC -eq 0
	[ $RC -ne 0 ] && echo "$OUT" | grep '^not ok' | sed 's/^/# /'
	umount "$M"
else
	skip "posix_test" "selftests/posix not built"
fi
if [ -x "$ROOT/selftests/fsx/mqverify" ]; then
	"$MQFUSED" --fs fuse -o allow_other local:"$B" "$M" </dev/null >/dev/null 2>&1
	check "mqverify buffered" "$ROOT/selftests/fsx/mqverify" -n 5000 -f 2 "$M"
	check "mqverify O_DIRECT" "$ROOT/selftests/fsx/mqverify" -d -n 3000 -f 2 "$M"
	umount "$M"
else
	skip "mqverify" "selftests/fsx not built"
fi
sleep 0.5
left=0
for p in $(pgrep -x mqfused); do
	grep -q "$B" /proc/$p/cmdline 2>/dev/null || continue
	[ "$(awk '/^State/{print $2}' /proc/$p/status 2>/dev/null)" = Z ] && continue
	left=$((left + 1))
done
check "no daemon left behind" test $left -eq 0
