#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The main job, run inside the guest by `make demo`: load mqfuse, mount a
# directory of the scratch disk through mqfused, run a short real workload
# and show what a user wants to see: throughput, request sizes on the wire,
# per-queue counts.
. "$MQ_ROOT/selftests/vm/lib.sh"
MQFUSED=$MQ_ROOT/helper/mqfused
SRC=$MQ_SCRATCH/demo-src
MNT=/mnt/demo
STATS=/tmp/demo-stats.txt

step() { echo; echo "== $*"; }
die() { echo "demo: $*"; exit 1; }

step "kernel $(uname -r), $(nproc) CPUs; loading $MQ_NAME"
mq_load || die "cannot load $MQ_KO"
echo "module $MQ_NAME $(modinfo -F version "$MQ_KO"), device /dev/$MQ_NAME," \
     "sysfs /sys/fs/$MQ_NAME, netlink: $("$MQ_ROOT/selftests/module/genl_version" "$MQ_NAME")"

step "mount: mqfused local:$SRC on $MNT (queues=$(nproc), consistency=cto)"
mkdir -p "$SRC" "$MNT"
"$MQFUSED" --fs mqfuse -o "queues=$(nproc),consistency=cto,allow_other,default_permissions" \
	--stats "$STATS" "local:$SRC" "$MNT" || die "mqfused failed to mount"
grep " $MNT " /proc/mounts
pid=$(pgrep -n -f "mqfused.*$MNT")
sess=""
for d in /sys/fs/$MQ_NAME/[0-9]*; do
	[ "$(cat "$d/dev" 2>/dev/null)" = "$(mountpoint -d "$MNT")" ] && sess=$d
done
[ -n "$sess" ] && echo "session $(basename "$sess"): state $(cat "$sess/state"), queues $(cat "$sess/queues")," \
	"max_write $(cat "$sess/max_write"), max_pages $(cat "$sess/max_pages"), readdir_size $(cat "$sess/readdir_size")"

fio_run() {	# fio_run NAME ARGS...: print the bandwidth/IOPS summary line
	local name=$1
	shift
	fio --name="$name" --directory="$MNT" --size=64m --group_reporting \
		--output-format=normal "$@" 2>&1 |
		sed -n 's/^ *\(READ\|WRITE\): \(bw=[^ ]* ([^)]*)\).*/\1 \2/p;s/^ *\(read\|write\): \(IOPS=[^,]*\).*/\1 \2/p' |
		paste -sd' ' | sed "s/^/  $name: /"
}

step "workload: fio (64 MiB files)"
fio_run seq-write-8m --rw=write --bs=8m --end_fsync=1
fio_run seq-read-8m --rw=read --bs=8m --invalidate=1
fio_run direct-write-8m --rw=write --bs=8m --direct=1
fio_run direct-read-8m --rw=read --bs=8m --direct=1
fio_run rand-read-4k --rw=randread --bs=4k --size=16m --invalidate=1 --runtime=10 --time_based=0

step "workload: metadata burst (create, stat, rename, unlink 1000 files)"
start=$(date +%s.%N)
mkdir -p "$MNT/meta"
for i in $(seq 1000); do : > "$MNT/meta/f$i"; done
stat "$MNT"/meta/f* > /dev/null
for i in $(seq 1000); do mv "$MNT/meta/f$i" "$MNT/meta/g$i"; done
ls "$MNT/meta" | wc -l | sed 's/^/  entries listed: /'
rm -f "$MNT"/meta/g*
rmdir "$MNT/meta"
echo "  4000 metadata operations + listing in $(awk -v a="$start" -v b="$(date +%s.%N)" "BEGIN{printf \"%.2f\", b-a}") s"

step "request sizes seen by the daemon (mqfused --stats)"
kill -USR1 "$pid" 2>/dev/null
for _ in $(seq 50); do [ -s "$STATS" ] && break; sleep 0.1; done
grep -E '^op=(READ|WRITE|READDIRPLUS|READDIR|CREATE|LOOKUP|UNLINK|RENAME) ' "$STATS" | sed 's/^/  /'
echo "  largest sizes:"
grep -E '^size op=(READ|WRITE|READDIR)' "$STATS" | sort -t= -k3 -n -r | head -6 | sed 's/^/    /'

step "per-queue counters ($sess)"
for q in "$sess"/queue*; do
	[ -f "$q/stats" ] || continue
	printf '  %s: %s\n' "$(basename "$q")" \
		"$(awk '{printf "%s=%s ", $1, $2}' "$q/stats")"
done

step "unmount"
umount "$MNT" && echo "  unmounted"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && die "mqfused still running after unmount"
echo "  mqfused exited"
