#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# In a guest (selftests/vm/run.sh shell): fio 4 KiB O_DIRECT randread,
# libaio iodepth 16, on an mqfuse mount served by
# mqfused --transport=ring: another build (BASE_MQFUSED, default
# build/mqfused-base, e.g. one of main before the asynchronous batch I/O)
# and helper/mqfused,
# alternately in one guest, at the default depth and at 16.  RT: seconds
# per run (15).  Prints one RESULT line per run.
. "$MQ_ROOT/selftests/vm/lib.sh"
mq_load >/tmp/load.log 2>&1 || { echo "insmod failed"; cat /tmp/load.log; exit 1; }
src=$MQ_SCRATCH/fio-src mnt=/mnt/fio
mkdir -p "$src" "$mnt"
dd if=/dev/urandom of="$src/f" bs=1M count=128 status=none
RT=${RT:-15}
BASE=${BASE_MQFUSED:-$MQ_ROOT/build/mqfused-base}
run() {
	local label=$1 bin=$2; shift 2
	"$bin" -f --transport=ring --stats /tmp/st-$label "$@" "local:$src" "$mnt" 2>/tmp/log-$label &
	local pid=$!
	mq_wait_mounted "$mnt" "$MQ_NAME" || { echo "$label: not mounted"; cat /tmp/log-$label; return; }
	sync; echo 3 > /proc/sys/vm/drop_caches
	fio --name=rr --filename="$mnt/f" --rw=randread --bs=4k --direct=1 --ioengine=libaio \
		--iodepth=16 --runtime=$RT --time_based --numjobs=1 --size=128M \
		--minimal --terse-version=3 > /tmp/fio-$label 2>&1
	local iops=$(cut -d';' -f8 /tmp/fio-$label)
	rm -f /tmp/st-$label
	kill -USR1 $pid
	for _ in $(seq 50); do grep -q '^transport total' /tmp/st-$label 2>/dev/null && break; sleep 0.1; done
	local tot=$(grep '^transport total' /tmp/st-$label)
	local b=$(printf '%s\n' "$tot" | tr ' ' '\n' | sed -n 's/^batches=//p')
	local r=$(printf '%s\n' "$tot" | tr ' ' '\n' | sed -n 's/^requests=//p')
	local m=$(printf '%s\n' "$tot" | tr ' ' '\n' | sed -n 's/^max_inflight=//p')
	umount "$mnt" || umount -l "$mnt"
	wait $pid
	echo "RESULT $label $* iops=$iops batches=$b requests=$r max_inflight=${m:-n/a}"
	[ -n "$iops" ] || head -5 /tmp/fio-$label
}
for rep in 1 2; do
	run base "$BASE"
	run async "$MQ_ROOT/helper/mqfused"
done
for rep in 1 2; do
	run base16 "$BASE" --ring-depth 16
	run async16 "$MQ_ROOT/helper/mqfused" --ring-depth 16
done
