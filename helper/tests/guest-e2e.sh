#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest end-to-end test of mqfused, called by the VM runner inside the guest.
#   MQ_ROOT     project root (helper/ already built, or buildable there)
#   MQ_HELPER   mqfused's directory (default $MQ_ROOT/helper), MQ_TESTS the
#               selftests' (default $MQ_ROOT/selftests): an installed tree's
#   MQ_SCRATCH  writable ext4 directory
# Mounts with --fs fuse (stock FUSE) and, when a mqfuse_vN filesystem is
# registered, with --fs mqfuse; runs a short workload on each.
# Output: "ok - name", "not ok - name", "ok - name # SKIP reason".
set -u
: "${MQ_ROOT:?MQ_ROOT must point at the project root}"
: "${MQ_SCRATCH:?MQ_SCRATCH must point at a writable directory}"
HELPER=${MQ_HELPER:-$MQ_ROOT/helper}
POSIX=${MQ_TESTS:-$MQ_ROOT/selftests}/posix/posix_test
MQFUSED=$HELPER/mqfused

ok()   { echo "ok - $1"; }
nok()  { echo "not ok - $1"; }
skip() { echo "ok - $1 # SKIP $2"; }
check() { local name=$1; shift; if "$@" >/dev/null 2>&1; then ok "$name"; else nok "$name"; fi; }

if [ ! -x "$MQFUSED" ]; then
	make -C "$HELPER" >/dev/null 2>&1
fi
if [ ! -x "$MQFUSED" ]; then
	nok "guest: mqfused built"
	exit 0
fi

# Stats can lag the last request; wait for SIGUSR1 to rewrite the file.
stats_now() {
	local pid=$1 file=$2 before
	before=$(stat -c %Y.%s "$file" 2>/dev/null)
	kill -USR1 "$pid"
	for _ in $(seq 1 20); do
		[ "$(stat -c %Y.%s "$file" 2>/dev/null)" != "$before" ] && break
		sleep 0.1
	done
	sleep 0.1
}

run_one() {
	local kind=$1 opts=$2
	local T=$MQ_SCRATCH/mqfused-$kind
	local B=$T/back M=$T/mnt S=$T/stats pid big bytes
	local n="$kind:"

	mountpoint -q "$M" 2>/dev/null && umount -l "$M"
	rm -rf "$T"
	mkdir -p "$B" "$M"
	echo hello > "$B/pre"

	if ! "$MQFUSED" --fs "$kind" -o "$opts" --stats "$S" local:"$B" "$M" \
		</dev/null >"$T/log" 2>&1; then
		nok "$n mount ($(head -c 200 "$T/log" | tr '\n' ' '))"
		return
	fi
	ok "$n mount"
	pid=$(pgrep -f -- "--stats $S" | head -1)
	check "$n daemon running" test -n "$pid"
	check "$n read existing file" bash -c "[ \"\$(cat $M/pre)\" = hello ]"

	# Large I/O: 8 MiB O_DIRECT requests where the kernel allows them.
	big=$T/rand
	dd if=/dev/urandom of="$big" bs=1M count=32 status=none
	check "$n O_DIRECT 8 MiB writes" dd if="$big" of="$M/big" bs=8M oflag=direct status=none
	check "$n data intact in backend" cmp "$big" "$B/big"
	echo 3 > /proc/sys/vm/drop_caches
	check "$n O_DIRECT 8 MiB reads" bash -c "dd if=$M/big bs=8M iflag=direct status=none | cmp - $big"
	check "$n buffered read" cmp "$big" "$M/big"

	# Namespace workload.
	mkdir -p "$M/dir/sub"
	for i in $(seq 1 500); do echo "$i" > "$M/dir/entry-with-a-longish-name-$i"; done
	check "$n 500 creates listed" bash -c "[ \$(ls $M/dir | wc -l) = 501 ]"
	check "$n listing matches backend" bash -c "diff <(ls $M/dir) <(ls $B/dir)"
	mv "$M/dir/entry-with-a-longish-name-1" "$M/dir/sub/moved"
	ln -s moved "$M/dir/sub/link"
	ln "$M/dir/sub/moved" "$M/dir/sub/hard"
	check "$n rename/symlink/link" bash -c "[ \"\$(cat $M/dir/sub/link)\" = 1 ] && [ \$(stat -c %h $M/dir/sub/moved) = 2 ]"
	chmod 600 "$M/dir/sub/moved"; chown 1000:1000 "$M/dir/sub/moved"
	check "$n chmod/chown" bash -c "[ \$(stat -c %a:%u:%g $B/dir/sub/moved) = 600:1000:1000 ]"
	rm -rf "$M/dir"
	check "$n rm -rf" test ! -e "$B/dir"

	stats_now "$pid" "$S"
	check "$n stats written" grep -q '^op=INIT count=1' "$S"
	if [ "$kind" = mqfuse ]; then
		check "$n 8 MiB WRITE requests on the wire" grep -q '^size op=WRITE bytes=8388608 ' "$S"
		check "$n 8 MiB READ requests on the wire" grep -q '^size op=READ bytes=8388608 ' "$S"
		check "$n 32 KiB READDIR requests on the wire" grep -Eq '^size op=READDIR(PLUS)? bytes=32768 ' "$S"
		check "$n one thread per queue" bash -c "[ \$(grep -c '^thread=' $S) = \$(echo '$opts' | sed -n 's/.*queues=\([0-9]*\).*/\1/p') ]"
	else
		bytes=$(sed -n 's/^op=WRITE count=[0-9]* bytes=[0-9]* max=\([0-9]*\)/\1/p' "$S")
		check "$n largest WRITE ${bytes:-0} bytes" test "${bytes:-0}" -ge 131072
	fi
	# stock FUSE: mqfused does not ask for FUSE_HANDLE_KILLPRIV_V2 there
	xopt=()
	[ "$kind" = mqfuse ] || xopt=(-x kill_nocap)
	[ -x "$POSIX" ] &&
		check "$n posix_test" "$POSIX" "${xopt[@]}" "$M"

	# Lookup references come back as FORGETs once the dentries go.
	sync; echo 2 > /proc/sys/vm/drop_caches; sleep 0.5
	stats_now "$pid" "$S"
	local inodes
	inodes=$(sed -n 's/^inodes=\([0-9]*\).*/\1/p' "$S")
	check "$n FORGET frees inodes (inodes=$inodes)" test "${inodes:-999}" -lt 50

	umount "$M"
	for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	check "$n daemon exits after umount" bash -c "! kill -0 $pid 2>/dev/null"
	check "$n final stats on exit, no open handles" grep -q '^inodes=[0-9]* handles=0' "$S"
	rm -rf "$T"
}

modprobe fuse 2>/dev/null
if [ -c /dev/fuse ]; then
	run_one fuse allow_other
else
	skip "fuse: mount" "no /dev/fuse"
fi

if grep -Eq '\bmqfuse_v[0-9]+$' /proc/filesystems; then
	run_one mqfuse "allow_other,queues=2,consistency=cto"
else
	skip "mqfuse: mount" "no mqfuse_vN filesystem registered"
fi
