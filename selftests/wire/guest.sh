#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# What goes on the wire, as recorded by mqfused --stats: 8 MiB READ/WRITE
# requests for large buffered writes, mmap writeback, readahead and O_DIRECT;
# 32 KiB READDIRPLUS/READDIR requests listing a 100k-entry directory, with a
# complete and duplicate-free listing while entries are added and removed.
. "$(dirname "$0")/../vm/lib.sh"
MQFUSED=$MQ_HELPER/mqfused
SRC=$MQ_SCRATCH/wire-src
MNT=/mnt/wire
STATS=/tmp/wire-stats.txt
MiB8=8388608
NENT=${MQ_WIRE_ENTRIES:-100000}
mkdir -p "$SRC" "$MNT"

mq_load || { not_ok "load $MQ_NAME"; exit 1; }
DARGS=()	# extra mqfused arguments for mount_it
mount_it() {	# mount_it EXTRA-OPTS
	rm -f "$STATS"
	"$MQFUSED" --fs mqfuse "${DARGS[@]}" -o "queues=$(nproc),allow_other,default_permissions$1" \
		--stats "$STATS" "local:$SRC" "$MNT" && mq_wait_mounted "$MNT"
}
# remount: mount again after unmount_it; a failed mount is a failed test
remount() { mount_it "" || not_ok "mqfused mounts again ($MNT is a $MQ_NAME mount)"; }
unmount_it() {
	local pid
	pid=$(pgrep -n -x mqfused)
	umount "$MNT" || umount -l "$MNT"
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}
# max_size OP: the largest request of OP recorded since the mount
max_size() {
	awk -v op="op=$1" '$1 == op { for (i = 2; i <= NF; i++) if ($i ~ /^max=/) { sub("max=", "", $i); print $i } }' "$STATS"
}
# op_count OP: requests of OP since the mount (0 if none)
op_count() {
	awk -v op="op=$1" '$1 == op { for (i = 2; i <= NF; i++) if ($i ~ /^count=/) { sub("count=", "", $i); n = $i } } END { print n + 0 }' "$STATS"
}
# count_size OP BYTES: how many requests of OP had exactly BYTES
count_size() {
	awk -v op="op=$1" -v b="bytes=$2" '$1 == "size" && $2 == op && $3 == b { sub("count=", "", $4); print $4 }' "$STATS"
}
snapshot() {
	local pid
	pid=$(pgrep -n -x mqfused)
	rm -f "$STATS"
	kill -USR1 "$pid"
	for _ in $(seq 100); do [ -s "$STATS" ] && return 0; sleep 0.05; done
	return 1
}
expect_8m() {	# expect_8m NAME OP
	local n
	snapshot
	n=$(count_size "$2" $MiB8)
	if [ "${n:-0}" -gt 0 ]; then
		ok "$1: $n $2 requests of 8 MiB"
	else
		not_ok "$1: 8 MiB $2 requests (largest: $(max_size "$2"))"
		grep "op=$2" "$STATS" | head -8 | sed 's/^/# /'
	fi
}

if ! mount_it ""; then
	not_ok "mqfused mounts ($MNT is a $MQ_NAME mount)"
	exit 1
fi
ok "mqfused mounts ($MNT is a $MQ_NAME mount)"

# --- WRITE ---
dd if=/dev/urandom of=/tmp/wire-data bs=1M count=64 status=none
dd if=/tmp/wire-data of="$MNT/buffered" bs=16M conv=fsync status=none
expect_8m "buffered write (16 MiB write(2) calls)" WRITE
check "buffered write: data intact" cmp /tmp/wire-data "$SRC/buffered"

unmount_it; remount
dd if=/tmp/wire-data of="$MNT/direct" bs=8M oflag=direct status=none
expect_8m "O_DIRECT write" WRITE
check "O_DIRECT write: data intact" cmp /tmp/wire-data "$SRC/direct"

unmount_it; remount
truncate -s 64M "$MNT/mmap"
fio --name=mmapw --filename="$MNT/mmap" --ioengine=mmap --rw=write --bs=8m --size=64m \
	--fsync_on_close=1 --output=/dev/null || not_ok "shared mmap writeback: fio exit status 0"
expect_8m "shared mmap writeback" WRITE

# --- KILLPRIV ---
# With FUSE_HANDLE_KILLPRIV_V2 (mqfused asks for it) a WRITE costs no
# GETXATTR of security.capability; the daemon clears set-id bits itself.
unmount_it; remount
snapshot; g0=$(op_count GETXATTR); w0=$(op_count WRITE)
: > "$MNT/kp"; chmod 0666 "$MNT/kp"
: > "$MNT/kps"; chmod 04777 "$MNT/kps"
dd if=/dev/zero of="$MNT/kp" bs=4k count=256 conv=notrunc status=none
setpriv --reuid=65534 --regid=65534 --clear-groups \
	dd if=/dev/zero of="$MNT/kp" bs=4k count=256 conv=notrunc status=none
dd if=/dev/zero of="$MNT/kp" bs=4k count=256 oflag=direct conv=notrunc status=none
setpriv --reuid=65534 --regid=65534 --clear-groups \
	dd if=/dev/zero of="$MNT/kps" bs=4k count=256 conv=notrunc status=none
mode=$(stat -c %a "$MNT/kps")
snapshot; g1=$(op_count GETXATTR); w1=$(op_count WRITE)
if [ $((w1 - w0)) -ge 1024 ] && [ "$g1" -eq "$g0" ]; then
	ok "killpriv: 4 MiB in 4 KiB writes (root, nobody, O_DIRECT, set-uid file) sent no GETXATTR ($((w1 - w0)) WRITEs)"
else
	not_ok "killpriv: 4 MiB in 4 KiB writes sent no GETXATTR ($((g1 - g0)) GETXATTR, $((w1 - w0)) WRITEs)"
fi
check "killpriv: a write by nobody cleared S_ISUID (mode $mode)" [ "$mode" = 777 ]
check "killpriv: the backing file lost S_ISUID too" [ "$(stat -c %a "$SRC/kps")" = 777 ]
rm -f "$MNT/kp" "$MNT/kps"

# --- READ ---
unmount_it; remount
echo 3 > /proc/sys/vm/drop_caches
dd if="$MNT/buffered" of=/tmp/wire-back bs=8M status=none
expect_8m "buffered read with readahead" READ
check "readahead read: data intact" cmp /tmp/wire-data /tmp/wire-back

unmount_it; remount
dd if="$MNT/direct" of=/tmp/wire-back bs=8M iflag=direct status=none
expect_8m "O_DIRECT read" READ
check "O_DIRECT read: data intact" cmp /tmp/wire-data /tmp/wire-back
rm -f "$MNT/buffered" "$MNT/direct" "$MNT/mmap" /tmp/wire-back

# --- READDIRPLUS: auto, always, never ---
# readdirplus=auto (default): "ls" (names only) pays no per-entry lookups
# after the first request; "ls -l" (a stat per name, between getdents
# calls) keeps READDIRPLUS. RDN entries. Names and attributes are cached
# for 10 minutes here: with mqfused's default 1 s, a slow guest's ls -l
# outlives the names READDIRPLUS primed and looks them up again, which
# would measure the guest's speed, not the choice of request.
RDN=${MQ_WIRE_RD_ENTRIES:-20000}
DARGS=(--entry-timeout 600 --attr-timeout 600)
unmount_it
rm -rf "$SRC/rd"
mkdir -p "$SRC/rd"
(cd "$SRC/rd" && seq -f "e%05g" 1 "$RDN" | xargs touch)
# rd_counts CMD...: run CMD on a fresh mount's $MNT/rd; sets P R L (READDIRPLUS, READDIR, LOOKUP)
rd_counts() {
	local p0 r0 l0
	snapshot; p0=$(op_count READDIRPLUS); r0=$(op_count READDIR); l0=$(op_count LOOKUP)
	"$@" > /dev/null
	snapshot
	P=$(($(op_count READDIRPLUS) - p0)); R=$(($(op_count READDIR) - r0)); L=$(($(op_count LOOKUP) - l0))
}
remount
check "readdirplus: /proc/mounts shows readdirplus=auto by default" \
	sh -c "grep ' $MNT $MQ_NAME ' /proc/mounts | grep -q 'readdirplus=auto'"
rd_counts ls "$MNT/rd"
if [ "$R" -ge 10 ] && [ "$P" -le 2 ] && [ "$L" -lt $((RDN / 100)) ]; then
	ok "readdirplus=auto: ls of $RDN entries: $R READDIR, $P READDIRPLUS, $L LOOKUP"
else
	not_ok "readdirplus=auto: ls of $RDN entries sends mostly READDIR ($R READDIR, $P READDIRPLUS, $L LOOKUP)"
fi
unmount_it; remount
rd_counts ls -l "$MNT/rd"
if [ "$P" -gt "$R" ] && [ "$L" -lt $((RDN / 10)) ]; then
	ok "readdirplus=auto: ls -l of $RDN entries: $P READDIRPLUS, $R READDIR, $L LOOKUP"
else
	not_ok "readdirplus=auto: ls -l of $RDN entries keeps READDIRPLUS ($P READDIRPLUS, $R READDIR, $L LOOKUP)"
fi
# always: every request READDIRPLUS; never: none
for m in always never; do
	unmount_it
	mount_it ",readdirplus=$m" || not_ok "mqfused mounts with readdirplus=$m"
	rd_counts ls "$MNT/rd"
	if [ $m = always ]; then want=READDIRPLUS want_n=$P other=READDIR other_n=$R
	else want=READDIR want_n=$R other=READDIRPLUS other_n=$P; fi
	if [ "$other_n" -eq 0 ] && [ "$want_n" -ge 10 ]; then
		ok "readdirplus=$m: ls of $RDN entries: $want_n $want, no $other"
	else
		not_ok "readdirplus=$m: ls sends only $want ($want_n $want, $other_n $other)"
	fi
done
unmount_it
rm -rf "$SRC/rd"
DARGS=()
remount

# --- READDIR ---
unmount_it
rm -rf "$SRC/big"
mkdir -p "$SRC/big"
(cd "$SRC/big" && seq -f "s%06g" 1 "$NENT" | xargs touch)
diag "created $NENT entries in the backing directory"
remount
n=$(ls -f "$MNT/big" | wc -l)
[ "$n" -eq $((NENT + 2)) ] && ok "listing of $NENT entries is complete ($n with . and ..)" ||
	not_ok "listing of $NENT entries is complete (got $n, want $((NENT + 2)))"
snapshot
rd=$(max_size READDIRPLUS); r=$(max_size READDIR)
big=${rd:-0}; [ "${r:-0}" -gt "$big" ] && big=$r
[ "$big" -eq 32768 ] && ok "READDIR(PLUS) requests ask for 32 KiB" ||
	not_ok "READDIR(PLUS) requests ask for 32 KiB (READDIRPLUS max ${rd:-none}, READDIR max ${r:-none})"

# Concurrent churn: "c*" entries come and go through the mount while the
# stable "s*" entries are listed; each stable entry must appear exactly once.
churn() {
	local i=0
	while [ ! -e /tmp/wire-stop ]; do
		i=$((i + 1))
		: > "$MNT/big/c$i"
		[ $((i % 3)) -eq 0 ] && rm -f "$MNT/big/c$((i - 2))"
		[ $((i % 50)) -eq 0 ] && rm -f "$MNT/big/s$(printf %06d $((i / 50)))" &&
			echo "s$(printf %06d $((i / 50)))" >> /tmp/wire-removed
	done
}
rm -f /tmp/wire-stop /tmp/wire-removed; touch /tmp/wire-removed
churn &
churn_pid=$!
sleep 1
ls -f "$MNT/big" > /tmp/wire-list
ls -f "$MNT/big" > /tmp/wire-list2
touch /tmp/wire-stop
wait $churn_pid
for l in /tmp/wire-list /tmp/wire-list2; do
	dups=$(sort "$l" | uniq -d | head -5)
	# stable = not removed by the churn at any time
	missing=$(grep -E '^s[0-9]+$' "$l" | sort | comm -13 - <(seq -f "s%06g" 1 "$NENT" | sort) |
		comm -23 - <(sort /tmp/wire-removed) | head -5)
	bogus=$(grep -Ev '^(s[0-9]{6}|c[0-9]+|\.|\.\.)$' "$l" | head -5)
	if [ -z "$dups$missing$bogus" ]; then
		ok "listing during churn ($(basename "$l")): no duplicate, no stable entry missing, no bogus name ($(wc -l < "$l") entries, $(wc -l < /tmp/wire-removed) removed)"
	else
		not_ok "listing during churn ($(basename "$l")): no duplicate, no stable entry missing, no bogus name"
		diag "duplicates: $dups"; diag "missing: $missing"; diag "bogus: $bogus"
	fi
done
unmount_it
rm -rf "$SRC/big"
check "daemon gone after unmount" sh -c "! pgrep -x mqfused"
