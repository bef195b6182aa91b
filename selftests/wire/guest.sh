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
mount_it() {	# mount_it EXTRA-OPTS
	rm -f "$STATS"
	"$MQFUSED" --fs mqfuse -o "queues=$(nproc),allow_other,default_permissions$1" \
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
