#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Consistency modes (Documentation/consistency.rst), two clients of one
# store: for each mode, mounts A and B of ONE backing directory, each with
# its own mqfused. Every check shows what the mode promises, and where a
# weaker mode promises less, that it really serves its cache (the stale
# value is asserted, so the cache is measurable and a mode that silently
# behaved like a stronger one fails too).
#
# The daemons give 600 s attribute and entry timeouts, so no slow run can
# make a "still cached" check pass or fail by timing; on a third mount
# with 1 s ones, relaxed is shown to catch up after its timeout, and
# immutable to keep its cache past it until the daemon invalidates it
# (SIGHUP: FUSE_NOTIFY_INC_EPOCH), and then to serve the new data.
#
# Expectations, B's view after A (or the backing directory) changed a file
# B had read fully ("new" = sees the change, "old" = its cache):
#                                     strict  cto  relaxed immutable
#                                  (cto-wb: as cto)
#   next open after A's write+close    new    new    old     old
#   next open after a backing write    new    new    old     old
#   open fd, pread after A's write     new    old    old     old
#   stat after A's size change         new    old    old     old
#   size at next open                  new    new    old     old
#   name removed in the store          gone  cached cached  cached
# In every mode a lock (POSIX and flock) held through A blocks B.
# In every mode a client sees its own writes (pwrite into cached data,
# O_APPEND, ftruncate) and a store through a shared map reaches the store
# at close. cto-wb's batching: 4 KiB sequential writes leave the kernel
# as WRITEs of up to 8 MiB (cto: one per write), counted by mqfused's
# --stats.
. "$(dirname "$0")/../vm/lib.sh"
MQFUSED=$MQ_HELPER/mqfused
MQMOUNT=$MQ_TESTS/kclient/mqmount
MODES="strict cto cto-wb relaxed immutable"
REFUSED=""
MA=/mnt/cons-a MB=/mnt/cons-b MC=/mnt/cons-c
mkdir -p "$MA" "$MB" "$MC"
mq_load || { not_ok "load $MQ_NAME"; exit 1; }

# start MNT SRC MODE TTL: one mqfused mount of SRC (consistency MODE unless
# empty) with attribute and entry timeouts TTL.
start() {
	local mnt=$1 src=$2 mode=$3 ttl=$4 o="queues=$(nproc)"
	[ -n "$mode" ] && o="$o,consistency=$mode"
	"$MQFUSED" --fs mqfuse --entry-timeout "$ttl" --attr-timeout "$ttl" \
		-o "$o" "local:$src" "$mnt" && mq_wait_mounted "$mnt"
}
stop() {
	local m
	for m in "$@"; do
		mq_mounted "$m" && { umount "$m" || umount -l "$m"; }
	done
	return 0
}
# sysfs_mode MNT: the consistency attribute of MNT's session directory.
sysfs_mode() {
	local d devno
	devno=$(mountpoint -d "$1") || return 1
	for d in /sys/fs/$MQ_NAME/[0-9]*; do
		[ "$(cat "$d/dev" 2>/dev/null)" = "$devno" ] && { cat "$d/consistency"; return; }
	done
	return 1
}
# ctl_mode MNT: the CONSISTENCY column mqfusectl lists for MNT's session.
ctl_mode() {
	"$MQ_HELPER/mqfusectl" --no-header sessions | awk -v m="$1" '$NF == m { print $8 }'
}
# is_new|is_old: what an expectation word means for a check.
want() {	# want MODE STRICT CTO RELAXED -> the word for MODE
	case $1 in
	strict) echo "$2" ;; cto | cto-wb) echo "$3" ;; relaxed | immutable) echo "$4" ;;
	esac
}
# same NAME WANT GOT NEW OLD: one TAP line: GOT must be NEW (WANT=new) or OLD.
same() {
	local name=$1 w=$2 got=$3 exp
	[ "$w" = new ] && exp=$4 || exp=$5
	if [ "$got" = "$exp" ]; then
		ok "$name: $w ($(printf %s "$got" | head -c 40))"
	else
		not_ok "$name: expected $w '$exp', got '$got'"
	fi
}
# mounted_with MNT MODE: /proc/mounts lists MNT with exactly consistency=MODE.
mounted_with() {
	grep " $1 $MQ_NAME " /proc/mounts | grep -Eq ",consistency=$2(,| )"
}
# name_state PATH: "file", "gone" (ENOENT) or the error of stat(2).
name_state() {
	python3 -c '
import os, sys
try:
	os.stat(sys.argv[1]); print("file")
except FileNotFoundError:
	print("gone")
except OSError as e:
	print(e.strerror)' "$1"
}
# klog_count TEXT: lines of the kernel log holding TEXT.
klog_count() { dmesg | grep -cF -- "$1"; }
# pread3: 4 KiB at offset 0 of fd 3 (inherited: no new open on the file).
pread3() { python3 -c 'import os, sys; sys.stdout.write(os.pread(3, 4096, 0).decode())'; }

# strict_mmap_checks SRC: strict's maps, with A and B mounted on SRC.
strict_mmap_checks() {
	local src=$1 pids

	# A map set up through a file opened before A's write, after an
	# earlier map through it cached the old data, shows A's write.
	printf 'mmap-1\n' > "$src/map"
	exec 4< "$MB/map"
	python3 -c "import mmap; m = mmap.mmap(4, 7, prot=mmap.PROT_READ); m[:]; m.close()"
	printf 'mmap-2\n' > "$MA/map"
	check "strict: a map set up after A's write on a file opened before it shows the write" \
		python3 -c "
import mmap, sys
m = mmap.mmap(4, 7, prot=mmap.PROT_READ)
sys.exit(m[:] != b'mmap-2\n' and 'map: %r' % m[:])"
	exec 4<&-
	# ->mmap does not wait for the daemon: with B's daemon stopped, mmap(2)
	# of a file opened before returns at once (libc's mmap: Python's
	# fstat()s). A watchdog resumes the daemon after 10 s; the file is
	# closed (FLUSH) only once the daemon runs again.
	pids=$(pgrep -f -- "local:$src $MB\$")
	if [ -n "$pids" ]; then
		check "strict: mmap(2) does not wait for the daemon" python3 -c "
import ctypes, os, signal, sys, time
pids = [int(p) for p in sys.argv[1:]]
def resume():
	for p in pids: os.kill(p, signal.SIGCONT)
w = os.fork()
if w == 0:
	time.sleep(10); resume(); os._exit(0)
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
		      ctypes.c_int, ctypes.c_long]
fd = os.open('$MB/map', os.O_RDONLY)
for p in pids: os.kill(p, signal.SIGSTOP)
t = time.monotonic()
ptr = libc.mmap(None, 4096, 1, 1, fd, 0)
dt = time.monotonic() - t
err = ctypes.get_errno()
resume()
os.kill(w, signal.SIGKILL); os.waitpid(w, 0)
os.close(fd)
if ptr in (None, 2**64 - 1): sys.exit('mmap: errno %d' % err)
if dt > 5: sys.exit('mmap took %.1f s' % dt)" $pids
	else
		not_ok "strict: mmap(2) does not wait for the daemon (no mqfused of $MB)"
	fi

	# stores through a shared map: msync sends them (A sees them with
	# nothing read on B in between), read(2) on B sees unsynced ones, and
	# close sends what munmap left dirty
	check "strict: shared map on B: msync reaches A, read(2) sees the store, close sends it" \
		python3 -c "
import mmap, os, sys
fd = os.open('$MB/map', os.O_RDWR)
m = mmap.mmap(fd, 7)
m[0:6] = b'MMAP-3'
m.flush()
got = open('$MA/map', 'rb').read()
if got != b'MMAP-3\n': sys.exit('A after msync: %r' % got)
m[0:6] = b'MMAP-4'
got = os.pread(fd, 7, 0)
if got != b'MMAP-4\n': sys.exit('read(2) on B: %r' % got)
m[0:6] = b'MMAP-5'
m.close()
os.close(fd)
got = open('$src/map', 'rb').read()
if got != b'MMAP-5\n': sys.exit('store after munmap+close: %r' % got)"

	# write(2) racing stores through a shared map of the same pages: no
	# byte written is lost to a stale page written back after it
	truncate -s 65536 "$src/race"
	check "strict: write(2) racing stores through a shared map loses nothing" \
		timeout 120 python3 -c "
import mmap, os, signal, sys
NP = 16
fd = os.open('$MB/race', os.O_RDWR)
m = mmap.mmap(fd, NP * 4096)
pid = os.fork()
if pid == 0:
	i = 0
	while True:
		for p in range(NP):
			m[p * 4096] = 65 + i % 26
		i += 1
for k in range(1, 40):
	for p in range(NP):
		os.pwrite(fd, b'%02d-%03d' % (p, k), p * 4096 + k * 64)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
m.flush()
m.close()
os.close(fd)
data = open('$src/race', 'rb').read()
lost = [(p, k) for k in range(1, 40) for p in range(NP)
	if data[p * 4096 + k * 64:p * 4096 + k * 64 + 6] != b'%02d-%03d' % (p, k)]
if lost: sys.exit('%d of %d writes lost, e.g. %r' % (len(lost), 39 * NP, lost[:4]))"
}

# immutable_checks SRC: a third mount of SRC, immutable, whose daemon
# gives 1 s timeouts: the cache outlives them until the daemon is told the
# store changed (SIGHUP), then the new data, sizes and names are served.
immutable_checks() {
	local src=$1 pid n
	printf 'imm-1\n' > "$src/imm"
	printf '0123456789\n' > "$src/immsize"
	printf 'x\n' > "$src/immgone"
	if ! start "$MC" "$src" immutable 1; then
		not_ok "immutable: third mount with 1 s timeouts"
		return
	fi
	pid=$(pgrep -n -x mqfused)
	for f in imm immsize immgone; do cat "$MC/$f" > /dev/null; done
	stat "$MC/immsize" > /dev/null
	printf 'imm-2\n' > "$src/imm"
	printf 'more\n' >> "$src/immsize"
	rm -f "$src/immgone"
	sleep 2
	same "immutable, 1 s timeout: stat past the timeout" old \
		"$(stat -c %s "$MC/immsize")" 16 11
	same "immutable, 1 s timeout: next open past the timeout" old \
		"$(cat "$MC/imm")" imm-2 imm-1
	same "immutable, 1 s timeout: a name removed in the store" old \
		"$(name_state "$MC/immgone")" gone file
	n=$(klog_count "unsupported notification")
	if [ -n "$pid" ] && kill -HUP "$pid"; then
		ok "immutable: SIGHUP to the mount's mqfused"
	else
		not_ok "immutable: SIGHUP to the mount's mqfused (pid '$pid')"
	fi
	sleep 0.5
	same "immutable: stat after the daemon's invalidation" new \
		"$(stat -c %s "$MC/immsize")" 16 11
	same "immutable: next open after the daemon's invalidation" new \
		"$(cat "$MC/imm")" imm-2 imm-1
	same "immutable: the removed name after the daemon's invalidation" new \
		"$(name_state "$MC/immgone")" gone file
	check "immutable: the kernel took FUSE_NOTIFY_INC_EPOCH (no 'unsupported notification')" \
		test "$(klog_count "unsupported notification")" -eq "$n"
	# and it caches again: a later change in the store is not seen
	printf 'imm-3\n' > "$src/imm"
	sleep 2
	same "immutable: the new data is cached again past the timeout" old \
		"$(cat "$MC/imm")" imm-3 imm-2
	stop "$MC"
}

# batch_checks SRC MODE: a third mount of SRC in MODE whose mqfused
# counts requests: 16 MiB written 4 KiB at a time, then closed. cto sends
# one WRITE per write(2); cto-wb batches the dirty pages into WRITEs of up
# to 8 MiB (max_write) at close. B sees all of it at its next open.
batch_checks() {
	local src=$1 mode=$2 st=$MQ_SCRATCH/stats-$2 n max rest
	rm -f "$st"
	if ! "$MQFUSED" --fs mqfuse --stats "$st" -o "queues=$(nproc),consistency=$mode" \
		"local:$src" "$MC" || ! mq_wait_mounted "$MC"; then
		not_ok "$mode: mount with --stats"
		return
	fi
	# dirty limit: strict, 20% of the threshold (admin-guide "Dirty pages")
	check "$mode: the mount's bdi holds at most 20% of the dirty threshold" \
		test "$(cat "/sys/class/bdi/$(mountpoint -d "$MC")/max_ratio" 2>&1)" = 20
	# every mqfused thread is an I/O flusher (PF_LOCAL_THROTTLE 0x100000)
	check "$mode: mqfused's threads run with PR_SET_IO_FLUSHER" sh -c '
		n=0
		for t in $(for p in $(pgrep -x mqfused); do echo /proc/$p/task/*; done); do
			fl=$(cut -d")" -f2 "$t/stat" | cut -d" " -f8) || exit 1
			[ $((fl & 0x100000)) -ne 0 ] || { echo "$t flags $fl"; exit 1; }
			n=$((n + 1))
		done
		[ $n -gt 0 ]'
	head -c $((16 << 20)) /dev/urandom > "$MQ_SCRATCH/batch-src"
	check "$mode: 16 MiB written 4 KiB per write(2), closed" \
		dd if="$MQ_SCRATCH/batch-src" of="$MC/batch" bs=4k status=none
	pkill -USR1 -n -x mqfused
	for _ in $(seq 50); do [ -s "$st" ] && break; sleep 0.1; done
	read -r n max < <(awk '$1 == "op=WRITE" { sub("count=", "", $2); sub("max=", "", $4); print $2, $4 }' "$st")
	if [ "$mode" = cto-wb ]; then
		if [ -n "$n" ] && [ "$n" -le 16 ] && [ "$max" = 8388608 ]; then
			ok "cto-wb: 4 KiB writes left the kernel as $n WRITEs, largest 8 MiB"
		else
			not_ok "cto-wb: 4 KiB writes batched into WRITEs of up to 8 MiB (got count '$n', max '$max')"
		fi
	else
		if [ "$n" = 4096 ] && [ "$max" = 4096 ]; then
			ok "cto: 4 KiB writes left the kernel as one WRITE each ($n)"
		else
			not_ok "cto: one WRITE per 4 KiB write (got count '$n', max '$max')"
		fi
	fi
	check "$mode: the file is whole in the store after close" cmp "$MQ_SCRATCH/batch-src" "$src/batch"
	check "$mode: B reads it whole at its next open" cmp "$MQ_SCRATCH/batch-src" "$MB/batch"
	# cto-wb's own view while pages are dirty: size and data are the kernel's
	rest=$(python3 -c "
import os
fd = os.open('$MC/wbsize', os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
for i in range(10):
	os.write(fd, b'%04d' % i)
st = os.stat('$MC/wbsize')
rd = open('$MC/wbsize', 'rb').read()
os.close(fd)
print(st.st_size, rd.decode())")
	check "$mode: a writer's stat and read see its own writes before close ($rest)" \
		test "$rest" = "40 0000000100020003000400050006000700080009"
	check "$mode: after close the store has them" \
		test "$(cat "$src/wbsize")" = 0000000100020003000400050006000700080009
	# ftruncate and a write past EOF while the writer's pages are dirty
	check "$mode: ftruncate of dirty data, then a write past EOF: size, hole and data right" \
		python3 -c "
import os, sys
p = '$MC/wbtrunc'
fd = os.open(p, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
os.write(fd, b'a' * 8192)
os.ftruncate(fd, 100)
if os.fstat(fd).st_size != 100: sys.exit('size after ftruncate %d' % os.fstat(fd).st_size)
os.pwrite(fd, b'tail', 20000)
if os.fstat(fd).st_size != 20004: sys.exit('size after pwrite %d' % os.fstat(fd).st_size)
d = os.pread(fd, 20004, 0)
os.close(fd)
want = b'a' * 100 + bytes(19900) + b'tail'
if d != want: sys.exit('own read differs at %d' % next(i for i in range(len(d)) if d[i:i+1] != want[i:i+1]))
s = open('$src/wbtrunc', 'rb').read()
if s != want: sys.exit('store: %d bytes, differs' % len(s))"
	check "$mode: fchmod and utimes while the writer's pages are dirty keep its size and data" \
		python3 -c "
import os, sys
p = '$MC/wbchmod'
fd = os.open(p, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
os.write(fd, b'c' * 8192)
os.fchmod(fd, 0o600)
os.utime(fd, (1, 2))
if os.fstat(fd).st_size != 8192: sys.exit('size after fchmod %d' % os.fstat(fd).st_size)
os.close(fd)
s = open('$src/wbchmod', 'rb').read()
if s != b'c' * 8192: sys.exit('store: %d bytes' % len(s))
st = os.stat('$src/wbchmod')
if st.st_mode & 0o777 != 0o600: sys.exit('mode not set')
if st.st_mtime != 2: sys.exit('mtime %s in the store, set 2' % st.st_mtime)"
	check "$mode: ftruncate over pages dirtied through a shared map: size and store right" \
		python3 -c "
import os, sys, mmap
p = '$MC/wbmaptrunc'
fd = os.open(p, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
os.write(fd, b'm' * 8192)
m = mmap.mmap(fd, 8192)
m[4096:4100] = b'MMAP'
m[10:14] = b'KEEP'
os.ftruncate(fd, 100)
if os.fstat(fd).st_size != 100: sys.exit('size after ftruncate %d' % os.fstat(fd).st_size)
m.close()
os.close(fd)
want = b'm' * 10 + b'KEEP' + b'm' * 86
s = open('$src/wbmaptrunc', 'rb').read()
if s != want: sys.exit('store: %d bytes %r' % (len(s), s[:20]))
if os.stat(p).st_size != 100: sys.exit('size after close %d' % os.stat(p).st_size)"
	check "$mode: copy_file_range from a file whose dirty pages lie past the store's EOF" \
		python3 -c "
import os, sys
p = '$MC/wbcfr'
fd = os.open(p, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
os.pwrite(fd, b'far', 1 << 20)
out = os.open('$MC/wbcfr-out', os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
n = os.copy_file_range(fd, out, 4096, 0, 0)
d = os.pread(out, 8192, 0)
os.close(out)
os.close(fd)
if n != 4096 or d != bytes(4096): sys.exit('copied %d, read %d bytes back' % (n, len(d)))"
	check "$mode: after close, stat shows the store's size and mtime" python3 -c "
import os, sys
p = '$MC/wbtimes'
fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
for i in range(4):
	os.write(fd, b'x' * 1000)
os.close(fd)
a, b = os.stat(p), os.stat('$src/wbtimes')
if (a.st_size, a.st_mtime_ns) != (b.st_size, b.st_mtime_ns):
	sys.exit('mount %d %d, store %d %d' % (a.st_size, a.st_mtime_ns, b.st_size, b.st_mtime_ns))"
	rm -f "$MQ_SCRATCH/batch-src"
	stop "$MC"
}

# ---- the mode matrix ----
for mode in $MODES; do
	src=$MQ_SCRATCH/cons-$mode
	rm -rf "$src" && mkdir -p "$src" && chmod 755 "$src"
	for f in reopen oob openfd; do printf 'version-1\n' > "$src/$f"; done
	printf '0123456789\n' > "$src/size"
	printf 'x\n' > "$src/gone"
	if ! start "$MA" "$src" "$mode" 600 || ! start "$MB" "$src" "$mode" 600; then
		not_ok "$mode: two mqfused mounts of one store"
		stop "$MA" "$MB"
		continue
	fi
	ok "$mode: two mqfused mounts of one store"
	check "$mode: /proc/mounts shows consistency=$mode on both" \
		eval "mounted_with $MA $mode && mounted_with $MB $mode"
	check "$mode: sysfs session shows $mode" test "$(sysfs_mode "$MB")" = "$mode"
	check "$mode: mqfusectl sessions shows $mode" test "$(ctl_mode "$MB")" = "$mode"

	# B reads everything fully first: its page cache and attributes hold it.
	for f in reopen oob openfd size gone; do cat "$MB/$f" > /dev/null; done
	stat "$MB/size" > /dev/null
	exec 3< "$MB/openfd"
	cat <&3 > /dev/null

	# A changes the files (closed before B looks), the store changes one.
	printf 'version-2\n' > "$MA/reopen"
	printf 'version-2\n' > "$MA/openfd"
	printf 'more\n' >> "$MA/size"
	printf 'version-2\n' > "$src/oob"
	rm -f "$src/gone"

	same "$mode: open fd on B, pread after A's write" \
		"$(want $mode new old old)" "$(pread3)" version-2 version-1
	exec 3<&-
	same "$mode: stat on B after A appended" \
		"$(want $mode new old old)" "$(stat -c %s "$MB/size")" 16 11
	same "$mode: next open on B after A's write+close" \
		"$(want $mode new new old)" "$(cat "$MB/reopen")" version-2 version-1
	same "$mode: next open on B after a write in the store" \
		"$(want $mode new new old)" "$(cat "$MB/oob")" version-2 version-1
	same "$mode: bytes read at the next open on B after A appended" \
		"$(want $mode new new old)" "$(wc -c < "$MB/size")" 16 11
	same "$mode: a name removed in the store, on B (ENOENT)" \
		"$(want $mode new old old)" "$(name_state "$MB/gone")" gone file

	# A's own writes into data it has cached are what it reads back.
	printf 'own-1 own-1\n' > "$src/own"
	cat "$MA/own" > /dev/null
	python3 -c "import os; fd = os.open('$MA/own', os.O_WRONLY); os.pwrite(fd, b'OWN-2', 0)"
	check "$mode: A reads back its pwrite into cached data" \
		test "$(cat "$MA/own")" = "OWN-2 own-1"
	printf 'app\n' >> "$MA/own"
	check "$mode: A reads back its O_APPEND write to cached data" \
		test "$(tail -n 1 "$MA/own")" = app
	truncate -s 3 "$MA/own"
	check "$mode: A reads back its ftruncate of cached data" \
		test "$(cat "$MA/own")" = OWN
	# a store through a shared map reaches the store when the file is
	# closed, the map still alive and nothing read in between
	printf 'close-1\n' > "$src/mapclose"
	check "$mode: a store through A's shared map reaches the store at close" python3 -c "
import mmap, os, sys
fd = os.open('$MA/mapclose', os.O_RDWR)
m = mmap.mmap(fd, 8)
m[0:7] = b'CLOSE-2'
os.close(fd)
got = open('$src/mapclose', 'rb').read()
m.close()
sys.exit(got != b'CLOSE-2\n' and 'store: %r' % got)"

	if [ "$mode" = strict ]; then
		strict_mmap_checks "$src"
	fi

	if [ "$mode" = relaxed ]; then
		# the same store with 1 s timeouts: consistent once they passed
		if start "$MC" "$src" relaxed 1; then
			for f in reopen size; do cat "$MC/$f" > /dev/null; done
			stat "$MC/size" > /dev/null
			printf 'version-3\n' > "$MA/reopen"
			printf 'more\n' >> "$MA/size"
			sleep 2
			same "relaxed, 1 s timeout: stat after the timeout" new \
				"$(stat -c %s "$MC/size")" 21 16
			same "relaxed, 1 s timeout: next open after the timeout" new \
				"$(cat "$MC/reopen")" version-3 version-2
		else
			not_ok "relaxed: third mount with 1 s timeouts"
		fi
		stop "$MC"
	fi

	if [ "$mode" = immutable ]; then
		immutable_checks "$src"
	fi
	if [ "$mode" = cto ] || [ "$mode" = cto-wb ]; then
		batch_checks "$src" "$mode"
	fi
	# Locks, the same in every mode: each mqfused takes them on the
	# backing file (OFD locks), so a lock held through A excludes B.
	for kind in lockf flock; do
		check "$mode: a $kind lock held on A blocks B's, B gets it once A lets go" \
			python3 -c "
import errno, fcntl, os, sys
take = fcntl.$kind
a = os.open('$MA/lock-$kind', os.O_CREAT | os.O_RDWR, 0o644)
b = os.open('$MB/lock-$kind', os.O_RDWR)
take(a, fcntl.LOCK_EX)
try:
	take(b, fcntl.LOCK_EX | fcntl.LOCK_NB)
	sys.exit('B took the lock A holds')
except OSError as e:
	if e.errno not in (errno.EAGAIN, errno.EACCES):
		sys.exit('B: %s' % e)
take(a, fcntl.LOCK_UN)
take(b, fcntl.LOCK_EX | fcntl.LOCK_NB)
take(b, fcntl.LOCK_UN)"
	done
	stop "$MA" "$MB"
done

# ---- modes that are refused ----
# mqmount_rc MODE: mount with exactly these options (no daemon); its errno.
mqmount_rc() {
	"$MQMOUNT" -r -o "fd=%FD,rootmode=40000,user_id=0,group_id=0,consistency=$1" \
		"$MA" > /dev/null 2>&1
}
if [ -x "$MQMOUNT" ]; then
	# positive control: the same command with an implemented mode mounts
	mqmount_rc cto
	rc=$?
	if [ $rc -eq 0 ] && mq_mounted "$MA"; then
		ok "mount -o consistency=cto by the same command succeeds"
	else
		not_ok "mount -o consistency=cto by the same command succeeds (rc $rc)"
	fi
	stop "$MA"
	for m in $REFUSED bogus; do
		[ "$m" = bogus ] && msg="consistency=$m: unknown mode" ||
			msg="consistency=$m: not supported yet"
		n=$(klog_count "$msg")
		mqmount_rc "$m"
		rc=$?
		if [ $rc -eq 22 ] && ! mq_mounted "$MA"; then
			ok "mount -o consistency=$m refused with EINVAL"
		else
			not_ok "mount -o consistency=$m refused with EINVAL (rc $rc)"
			stop "$MA"
		fi
		check "mount -o consistency=$m logs '$msg'" test "$(klog_count "$msg")" -gt "$n"
	done
else
	not_ok "kclient's mqmount built"
fi

# ---- the module parameter sets the default ----
P=/sys/module/$MQ_NAME/parameters/consistency
echo relaxed > "$P"
for m in $REFUSED bogus; do
	[ "$m" = bogus ] && msg="parameter consistency=$m: unknown mode" ||
		msg="parameter consistency=$m: not supported yet"
	n=$(klog_count "$msg")
	check_fail "parameter consistency=$m refused" sh -c "echo $m > $P"
	check "parameter consistency=$m logs '$msg'" test "$(klog_count "$msg")" -gt "$n"
	check "parameter still relaxed after consistency=$m was refused" grep -qx relaxed "$P"
done
for mode in $MODES; do
	src=$MQ_SCRATCH/cons-$mode
	if check "parameter consistency=$mode accepted" sh -c "echo $mode > $P && grep -qx $mode $P" &&
	   start "$MA" "$src" "" 600; then
		check "a mount without consistency= gets the default $mode" mounted_with "$MA" "$mode"
	else
		not_ok "a mount without consistency= gets the default $mode"
	fi
	stop "$MA"
done
echo cto > "$P"
