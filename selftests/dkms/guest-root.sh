#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of the DKMS lifecycle test (selftests/dkms/test.sh); PID 1 in
# the private Debian root, booted on that root's own kernel. Loads the
# DKMS-installed module with modprobe (options from /etc/modprobe.d),
# mounts with mount -t mqfuse (mount.mqfuse + mqfused, as installed in the
# root), checks file data through the mount and, with DKMS_POSIX set, runs
# a posix_test subset. One "ok - ..."/"not ok - ..." line per check in
# /results/tap.txt; /results/done when it got to the end. Always powers off.
# Only ever as PID 1 of the DKMS guest: never in the test VM's suite loop.
if [ $$ != 1 ] || [ -z "${DKMS_KVER:-}" ]; then
	echo "selftests/dkms/guest-root.sh runs only as the DKMS guest's init" >&2
	exit 2
fi
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb
unset LANG LC_ALL

poweroff_now() {
	sync
	echo o > /proc/sysrq-trigger
	sleep 30
}
trap poweroff_now EXIT

ln -sf /proc/self/fd /dev/fd
mkdir -p /results /scratch /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=none results /results ||
	{ echo "guest: cannot mount the results share"; poweroff_now; }
exec > >(tee -a /results/output.log) 2>&1

ok()     { echo "ok - $*" | tee -a /results/tap.txt; }
not_ok() { echo "not ok - $*" | tee -a /results/tap.txt; }
# check NAME CMD...: one TAP line from CMD's exit status (output kept in the log).
check() {
	local name=$1; shift
	if "$@"; then ok "$name"; return 0; fi
	not_ok "$name"
	return 1
}
finish() {
	dmesg > /results/dmesg.txt
	sync
	umount /scratch 2>/dev/null
	touch /results/done
	poweroff_now
}

kver=$DKMS_KVER tag="$DKMS_KVER"
name=mqfuse_v$DKMS_GEN
echo "# guest: $(uname -r), expecting $kver, module $name"
check "$tag: booted the root's own kernel $kver" [ "$(uname -r)" = "$kver" ] || finish

# A failed setup step is a failure, never a skip.
modprobe virtio_blk && modprobe ext4 || { not_ok "$tag: setup: modprobe virtio_blk ext4"; finish; }
for _ in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
mount -t ext4 /dev/vda /scratch || { not_ok "$tag: setup: mount the ext4 scratch disk"; finish; }
hostname dkms-guest
ip link set lo up 2>/dev/null

# --- modprobe: depmod's view of updates/dkms, options from /etc/modprobe.d ---
check "$tag: $name not loaded before modprobe" sh -c "! grep -q '^$name ' /proc/modules"
path=$(modinfo -n "$name" 2>&1)
check "$tag: modinfo -n $name resolves to updates/dkms ($path)" \
	sh -c "case '$path' in /lib/modules/$kver/updates/dkms/$name.ko*) exit 0 ;; *) exit 1 ;; esac"
check "$tag: module vermagic is $kver" sh -c "modinfo -F vermagic $name | grep -q '^$kver '"
if ! check "$tag: modprobe $name" modprobe "$name"; then
	dmesg | tail -n 20
	finish
fi
check "$tag: the loaded module is the DKMS build (srcversion $(cat /sys/module/$name/srcversion 2>/dev/null))" \
	sh -c "[ \"\$(cat /sys/module/$name/srcversion)\" = \"\$(modinfo -F srcversion $name)\" ]"
check "$tag: /etc/modprobe.d option applied: max_pages=$(cat /sys/module/$name/parameters/max_pages 2>/dev/null) (want $DKMS_MAXPAGES)" \
	[ "$(cat /sys/module/$name/parameters/max_pages 2>/dev/null)" = "$DKMS_MAXPAGES" ]
check "$tag: $name registered in /proc/filesystems" grep -qw "$name" /proc/filesystems
check "$tag: /dev/$name exists" test -c "/dev/$name"

# --- mount through the installed helper ---
src=/scratch/src mnt=/mnt/mq
mkdir -p "$src" "$mnt"
chmod 0755 "$src"
if ! check "$tag: mount -t mqfuse $src $mnt (mount.mqfuse -> mqfused)" \
	mount -t mqfuse -o allow_other,default_permissions "$src" "$mnt"; then
	finish
fi
check "$tag: $mnt is a $name mount in /proc/mounts" \
	awk -v m="$mnt" -v t="$name" '$2 == m && $3 == t { f = 1 } END { exit !f }' /proc/mounts
check "$tag: mqfused serves the mount" pgrep -x mqfused

# --- file data and names through the mount, checked against the backing dir ---
dd if=/dev/urandom of=/scratch/ref bs=64k count=40 status=none	# 2.5 MiB
check "$tag: create + write 2.5 MiB (cp)" cp /scratch/ref "$mnt/f1"
check "$tag: sync" sync
echo 3 > /proc/sys/vm/drop_caches
check "$tag: read back through the mount matches" cmp /scratch/ref "$mnt/f1"
check "$tag: backing file matches" cmp /scratch/ref "$src/f1"
check "$tag: stat size through the mount" [ "$(stat -c %s "$mnt/f1")" = "$(stat -c %s /scratch/ref)" ]
check "$tag: append" sh -c "printf tail >> '$mnt/f1' && [ \"\$(tail -c 4 '$src/f1')\" = tail ]"
check "$tag: mkdir" mkdir "$mnt/d"
check "$tag: rename into a subdirectory" mv "$mnt/f1" "$mnt/d/f2"
check "$tag: rename: old name gone, new name present (mount and backing)" \
	sh -c "[ ! -e '$mnt/f1' ] && [ -f '$mnt/d/f2' ] && [ ! -e '$src/f1' ] && [ -f '$src/d/f2' ]"
check "$tag: readdir lists the renamed file" sh -c "[ \"\$(ls '$mnt/d')\" = f2 ]"
check "$tag: symlink + readlink" sh -c "ln -s d/f2 '$mnt/l' && [ \"\$(readlink '$mnt/l')\" = d/f2 ]"
check "$tag: truncate" sh -c "truncate -s 4096 '$mnt/d/f2' && [ \$(stat -c %s '$src/d/f2') = 4096 ] && cmp -n 4096 /scratch/ref '$mnt/d/f2'"
check "$tag: unlink" sh -c "rm '$mnt/d/f2' '$mnt/l' && [ ! -e '$src/d/f2' ] && [ ! -e '$mnt/d/f2' ]"
check "$tag: rmdir" sh -c "rmdir '$mnt/d' && [ ! -e '$src/d' ]"

# --- a posix_test subset (groups where mqfuse claims full POSIX behaviour) ---
if [ -n "${DKMS_POSIX:-}" ]; then
	POSIX=$MQ_SRC/selftests/posix/posix_test
	groups=""
	for g in ${DKMS_POSIX//,/ }; do groups+=" -g $g"; done
	ulimit -n 8192
	timeout -s KILL 900 "$POSIX" -r rename_flags,fallocate,seek_data $groups -b "$src" "$mnt" \
		> /tmp/posix.out 2>&1
	rc=$?
	sed -n -E 's/^(not ok|ok)( [0-9]+)?( -)? */\1 - '"$tag"': posix: /p' /tmp/posix.out >> /results/tap.txt
	grep -E '^not ok|^# ' /tmp/posix.out | head -n 40
	summary=$(grep -E '^# [0-9]+ passed' /tmp/posix.out | tail -n 1)
	check "$tag: posix_test -g ${DKMS_POSIX//,/ -g } exit 0 (got $rc; ${summary#\# })" [ "$rc" -eq 0 ]
fi


check "$tag: umount" umount "$mnt"
for _ in $(seq 50); do pgrep -x mqfused >/dev/null || break; sleep 0.1; done
check "$tag: mqfused exits on umount" sh -c "! pgrep -x mqfused >/dev/null"
check "$tag: rmmod $name" rmmod "$name"
check "$tag: $name unloaded" sh -c "! grep -q '^$name ' /proc/modules"
finish
