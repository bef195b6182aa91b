#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of the runner; runs as PID 1 in the overlay root. Never exits:
# it always ends by powering the guest off, which ends QEMU.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb
unset LANG LC_ALL

poweroff_now() {
	sync
	echo o > /proc/sysrq-trigger
	sleep 30
}
trap poweroff_now EXIT

# devtmpfs lacks these; bash process substitution needs /dev/fd.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /dev/shm

# /tmp and /run stay on the overlay (writable, in guest memory): a tmpfs
# mounted over them would hide a project checked out below them on the host.
mkdir -p /results /scratch
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none results /results ||
	{ echo "guest: cannot mount the results share"; poweroff_now; }
exec > >(tee -a /results/output.log) 2>&1

# A failed setup step is a failed run: it is recorded as a "not ok" line
# and no suite runs on a half-built guest.
setup_failed=""
setup_fail() {
	echo "guest: $*"
	echo "not ok - guest: setup: $*" >> /results/tap.txt
	setup_failed=1
}
modprobe virtio_blk && modprobe ext4 || setup_fail "cannot load virtio_blk/ext4"
for _ in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
if ! mount -t ext4 /dev/vda /scratch; then
	setup_fail "cannot mount the scratch disk"
elif ! awk '$2 == "/scratch" && $3 == "ext4" { f = 1 } END { exit !f }' /proc/mounts; then
	setup_fail "scratch disk not mounted as ext4 on /scratch"
fi
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname mqfuse-guest
# Make hangs visible within a test's lifetime rather than after two minutes.
echo 60 > /proc/sys/kernel/hung_task_timeout_secs 2>/dev/null
ip link set lo up 2>/dev/null
ulimit -c 0

if [ ! -f "$MQ_ROOT/selftests/vm/lib.sh" ]; then
	echo "guest: project root $MQ_ROOT is not visible in the guest"
	poweroff_now
fi
export MQ_ROOT MQ_RESULTS=/results MQ_SCRATCH=/scratch MQ_KVER=$(uname -r)
# shellcheck source=lib.sh
. "$MQ_ROOT/selftests/vm/lib.sh"
export MQ_GEN MQ_NAME MQ_KO

# Memory debugging asked for on the command line must really be on.
if grep -qw 'slub_debug=FZPU' /proc/cmdline && [ "$MQ_MODE" = test ]; then
	sd=/sys/kernel/slab/kmalloc-64
	if [ "$(cat $sd/sanity_checks $sd/red_zone $sd/poison $sd/store_user 2>/dev/null | tr -d '\n')" = 1111 ]; then
		echo "ok - guest: slub_debug=FZPU active (kmalloc-64: sanity checks, red zone, poison, owner)" >> /results/tap.txt
	else
		setup_fail "slub_debug=FZPU not active on kmalloc-64"
	fi
fi

if [ -n "$setup_failed" ]; then
	echo "$MQ_MODE exit status: setup failed"
	MQ_MODE=setup-failed
fi

case "$MQ_MODE" in
setup-failed) ;;
test)
	mq_run_suites ${MQ_SUITES//,/ }
	;;
demo)
	bash "$MQ_ROOT/selftests/vm/demo.sh"
	echo "demo exit status: $?"
	;;
shell)
	bash /results/cmd.sh
	echo "shell exit status: $?"
	;;
*)
	echo "guest: unknown mode '$MQ_MODE'"
	;;
esac

dmesg > /results/dmesg.txt
sync
umount /scratch 2>/dev/null
touch /results/done
poweroff_now
