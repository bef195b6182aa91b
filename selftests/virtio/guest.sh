#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# virtio-fs served by mqfused on the host: run.sh starts "mqfused
# --vhost-user" on RUN/vufs-share (MQ_VUFS_SHARE) and attaches a
# vhost-user-fs-pci device, tag mqvirtio, MQ_VUFS_QUEUES request queues.
# The stock virtiofs driver mounts it; a file seeded on the host reads back
# (MQ_VUFS_SEED: its sha256) and one written here lands on the host (seen
# through a read-only 9p view of the same directory, tag vufsshare, no
# cache); the device's request queues are set up, and used from every CPU
# where the kernel maps CPUs to them (6.11 and later); the POSIX suite
# (statfs compared with the host directory) and the verifier pass; umount
# ends the session and a second mount starts a new one. The back-end's exit
# and its log are the runner's to check, after QEMU.
. "$(dirname "$0")/../vm/lib.sh"
POSIX=$MQ_TESTS/posix/posix_test
VERIFY=$MQ_TESTS/fsx/mqverify
TAG=mqvirtio MNT=/mnt/virtio HOST=/mnt/vufs-host
T60=$(mq_tmo 60)	# a mount, an umount, a read of a few MiB

if [ -z "${MQ_VUFS_SHARE:-}" ] || [ -z "${MQ_VUFS_SEED:-}" ] || [ -z "${MQ_VUFS_QUEUES:-}" ]; then
	# selftests/vm/run.sh always attaches the device for this suite: a
	# SKIP there (exit 4, no test line) fails the suite all the same
	echo "1..0 # SKIP no vhost-user-fs device (MQ_VUFS_SHARE unset: run by selftests/vm/run.sh)"
	exit 4
fi
plan 33

umount_all() {
	mq_mounted "$MNT" virtiofs && { timeout $T60 umount "$MNT" || umount -l "$MNT"; }
	mq_mounted "$HOST" 9p && umount -l "$HOST"
}
trap umount_all EXIT

# mount_virtiofs: mount the tag on $MNT; true once its root answers stat
# (the back-end answered FUSE_INIT). A hung back-end must not hang the suite.
mount_virtiofs() {
	timeout $T60 mount -t virtiofs "$TAG" "$MNT" || return 1
	mq_mounted "$MNT" virtiofs && timeout $T60 stat "$MNT/." >/dev/null
}

# qcount NAME: interrupts of the device's queue NAME so far, summed over the
# CPUs (/proc/interrupts: "IRQ: count... ... virtioN-NAME")
qcount() {
	awk -v q="$vname-$1" -v n="$(nproc)" '$NF == q { s = 0; for (i = 2; i <= n + 1; i++) s += $i; print s; f = 1 }
		END { if (!f) print -1 }' /proc/interrupts
}

# --- the device ---
check "virtiofs driver available (modprobe virtiofs)" modprobe virtiofs
# Two virtio-fs devices: mqvirtio (MQ_VUFS_QUEUES request queues, at least
# 2) and run.sh's hostile one, mqevil (1 request queue): told apart by their
# request queues' interrupts.
vdev="" evdev=""
for d in /sys/bus/virtio/devices/virtio*; do
	[ "$(cat "$d/device" 2>/dev/null)" = 0x001a ] || continue
	n=$(grep -cE " ${d##*/}-requests\.[0-9]+\$" /proc/interrupts)
	if [ "$n" -eq "$MQ_VUFS_QUEUES" ]; then vdev=$d; else evdev=$d; fi
done
vname=${vdev##*/} evname=${evdev##*/}
drv=$(basename "$(readlink "$vdev/driver" 2>/dev/null)")
check "a virtio-fs device (id 0x001a) bound to the virtiofs driver (${vname:-none}, driver ${drv:-none})" \
	[ -n "$vdev" -a "$drv" = virtiofs ]

# The driver sets up every request queue the device offers (num-request-queues),
# each with its own MSI-X vector named after it, plus the hiprio queue.
nreq=$(grep -cE " $vname-requests\.[0-9]+\$" /proc/interrupts)
check "the guest set up the device's $MQ_VUFS_QUEUES request queues and the hiprio queue (/proc/interrupts: $nreq)" \
	sh -c "[ '$nreq' -eq '$MQ_VUFS_QUEUES' ] && grep -q ' $vname-hiprio\$' /proc/interrupts"
[ "$nreq" -eq "$MQ_VUFS_QUEUES" ] || grep "$vname" /proc/interrupts | sed 's/^/# /'

# --- the host's view, read-only and uncached ---
# msize 8192: QEMU's 9p server reports statfs in blocks of about msize
# (4 KiB blocks grouped by (msize - 24) / 4096, rounded down), which loses
# up to a group's worth of the size; with 8192 a block stays 4 KiB and the
# statfs that posix_test -b compares is exact.
mkdir -p "$HOST" "$MNT"
check "the host directory seen read-only over 9p (tag vufsshare) holds the seed" sh -c "
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=8192,cache=none,ro vufsshare '$HOST' &&
	[ \"\$(sha256sum < '$HOST/seed' | cut -c1-64)\" = '$MQ_VUFS_SEED' ] &&
	cmp '$HOST/seed' '$MQ_VUFS_SHARE/seed'"

# --- mount ---
if ! check "mount -t virtiofs $TAG $MNT (its root answers stat)" mount_virtiofs; then
	tail -n 20 "$MQ_RESULTS/vufs-mqfused.log" 2>/dev/null | sed 's/^/# back-end: /'
	exit 1
fi
check "the seed written on the host reads back (1 MiB, sha256)" sh -c \
	"[ \"\$(timeout $T60 sha256sum '$MNT/seed' | cut -c1-64)\" = '$MQ_VUFS_SEED' ]"
head -c 4194304 /dev/urandom > /tmp/virtio-out
check "a file written here lands on the host (4 MiB, fsync, compared over 9p)" sh -c "
	timeout $T60 dd if=/tmp/virtio-out of='$MNT/from-guest' bs=1M conv=fsync status=none &&
	cmp /tmp/virtio-out '$HOST/from-guest'"

# --- the request queues in use ---
# From 6.11 virtiofs maps CPUs to request queues (/sys/fs/virtiofs/N/mqs);
# before, every request goes through requests.0. O_DIRECT writes and reads
# from a task pinned to each CPU must then complete on every queue.
if ls -d /sys/fs/virtiofs/*/mqs >/dev/null 2>&1; then
	before=()
	for ((q = 0; q < MQ_VUFS_QUEUES; q++)); do before[$q]=$(qcount "requests.$q"); done
	for ((c = 0; c < $(nproc); c++)); do
		taskset -c "$c" dd if=/tmp/virtio-out of="$MNT/cpu$c" bs=64k oflag=direct status=none
		taskset -c "$c" dd if="$MNT/cpu$c" of=/dev/null bs=64k iflag=direct status=none
		rm -f "$MNT/cpu$c"
	done
	used="" unused=""
	for ((q = 0; q < MQ_VUFS_QUEUES; q++)); do
		d=$(( $(qcount "requests.$q") - before[$q] ))
		[ "$d" -gt 0 ] && used+=" $q:+$d" || unused+=" $q:+$d"
	done
	check "requests from every CPU complete on every request queue (interrupts$used$unused)" [ -z "$unused" ]
	for f in /sys/fs/virtiofs/*/mqs/*/cpu_list; do diag "${f#/sys/fs/virtiofs/}: $(cat "$f")"; done
else
	skip "requests from every CPU complete on every request queue" \
		"this kernel's virtiofs sends every request to requests.0 (no /sys/fs/virtiofs/*/mqs)"
fi

# --- POSIX suite and verifier ---
# Features the back-end claims: their SKIP is a failure. Stock FUSE without
# FUSE_HANDLE_KILLPRIV_V2 drops two kills and removes security.capability
# with a REMOVEXATTR as the writer (selftests/daemon: -x file_caps -x kill_nocap).
# -b: statfs compared with the host directory, over the 9p view.
features=rename_flags,fallocate,punch_hole,zero_range,seek_data,xattr
ulimit -n 8192
out=$(timeout "$(mq_tmo 300)" "$POSIX" -r "$features" -x file_caps -x kill_nocap -b "$HOST" "$MNT" 2>&1)
rc=$?
summary=$(printf '%s\n' "$out" | grep -E '^# [0-9]+ passed' | tail -1)
if [ $rc -eq 0 ]; then
	ok "posix_test on virtio-fs (${summary#\# })"
else
	not_ok "posix_test on virtio-fs (exit $rc; ${summary#\# })"
	printf '%s\n' "$out" | grep -A3 '^not ok' | head -60 | sed 's/^/# /'
fi
printf '%s\n' "$out" | grep -E '^(ok|not ok).*# SKIP' | sed 's/^/# posix_test: /'

run_verify() {	# run_verify NAME ARGS...
	local name=$1
	shift
	if timeout "$(mq_tmo 150)" "$VERIFY" "$@" "$MNT" > /tmp/virtio-verify.log 2>&1; then
		ok "$name ($(grep -E '^# [0-9]+ ops' /tmp/virtio-verify.log | sed 's/^# //'))"
	else
		not_ok "$name (exit $?)"
		tail -30 /tmp/virtio-verify.log | sed 's/^/# /'
	fi
}
run_verify "verifier on virtio-fs: 5000 ops, 4 files" -s 41 -n 5000 -f 4
run_verify "verifier on virtio-fs: O_DIRECT, 2000 ops, 2 files" -d -s 42 -n 2000 -f 2

# --- the end of the session, and a new one ---
timeout $T60 umount "$MNT"
rc=$?
check "umount $MNT (exit $rc)" sh -c "[ $rc -eq 0 ] && ! awk '\$2 == \"$MNT\"' /proc/mounts | grep -q ."
# posix_test and the verifier remove what they create
left=$(cd "$HOST" && ls -A | sort | tr '\n' ' ')
check "the host directory holds the seed and from-guest, nothing else (got: $left)" sh -c "
	[ '$left' = 'from-guest seed ' ] && cmp /tmp/virtio-out '$HOST/from-guest'"
check "a second mount (a new FUSE session on the same device) reads the seed and from-guest" sh -c "
	timeout $T60 mount -t virtiofs '$TAG' '$MNT' &&
	[ \"\$(timeout $T60 sha256sum '$MNT/seed' | cut -c1-64)\" = '$MQ_VUFS_SEED' ] &&
	timeout $T60 cmp /tmp/virtio-out '$MNT/from-guest'"
if mq_mounted "$MNT" virtiofs; then
	timeout $T60 umount "$MNT"
	rc=$?
	check "umount of the second mount (exit $rc)" sh -c "[ $rc -eq 0 ] && ! awk '\$2 == \"$MNT\"' /proc/mounts | grep -q ."
else
	not_ok "umount of the second mount (it was not mounted)"
fi

# ===================== mqfuse over virtio: mqfuse_virtio_v$MQ_GEN =====================
# The same device moves from virtiofs to mqfuse's virtio transport: the
# core's client (queues = request virtqueues, 8 MiB requests) on the
# device's queues; the hostile device mqevil must not crash it.
VNAME=mqfuse_virtio_v$MQ_GEN
VKO=$(dirname "$MQ_KO")/$VNAME.ko
VKO_NEXT=$(dirname "$MQ_KO_NEXT")/mqfuse_virtio_v$((MQ_GEN + 1)).ko
VMNT=/mnt/mqvirtio EMNT=/mnt/mqevil
mkdir -p "$VMNT" "$EMNT"
vumount_all() {
	umount_all
	mq_mounted "$VMNT" "$VNAME" && { timeout $T60 umount "$VMNT" || umount -l "$VMNT"; }
	mq_mounted "$EMNT" "$VNAME" && { timeout $T60 umount "$EMNT" || umount -l "$EMNT"; }
	grep -q "^$VNAME " /proc/modules && rmmod "$VNAME"
}
trap vumount_all EXIT

# A module of the next generation needs that generation's core: with only
# this one loaded it must refuse to load (its symbols are mqfuse_v<N+1>_*).
grep -q "^mqfuse_v$((MQ_GEN + 1)) " /proc/modules && rmmod "mqfuse_v$((MQ_GEN + 1))"
mq_load || { not_ok "load $MQ_NAME"; exit 1; }
err=$(insmod "$VKO_NEXT" 2>&1)
rc=$?
check "generation $((MQ_GEN + 1))'s virtio module refuses generation $MQ_GEN's core (insmod exit $rc: ${err:0:80})" \
	sh -c "[ $rc -ne 0 ] && ! grep -q '^mqfuse_virtio_v$((MQ_GEN + 1)) ' /proc/modules &&
	       dmesg | tail -n 20 | grep -q 'Unknown symbol mqfuse_v$((MQ_GEN + 1))_'"

# Hand both devices to our driver: unbound from virtiofs, then insmod (a
# driver binds the unbound devices it matches when it registers).
for d in "$vname" "$evname"; do
	[ -n "$d" ] && [ -e "/sys/bus/virtio/drivers/virtiofs/$d" ] &&
		echo "$d" > /sys/bus/virtio/drivers/virtiofs/unbind
done
check "insmod $VNAME binds both virtio-fs devices ($vname: $TAG, $evname: mqevil)" sh -c "
	insmod '$VKO' &&
	[ \"\$(cat /sys/bus/virtio/devices/$vname/tag)\" = '$TAG' ] &&
	[ \"\$(cat /sys/bus/virtio/devices/$evname/tag)\" = mqevil ] &&
	[ \"\$(cat /sys/bus/virtio/devices/$vname/request_queues)\" = '$MQ_VUFS_QUEUES' ]"
if ! check "mount -t $VNAME $TAG $VMNT (its root answers stat)" sh -c "
	timeout $T60 mount -t '$VNAME' '$TAG' '$VMNT' && timeout $T60 stat '$VMNT/.' >/dev/null"; then
	tail -n 20 "$MQ_RESULTS/vufs-mqfused.log" 2>/dev/null | sed 's/^/# back-end: /'
	exit 1
fi
vsd=""
vdevno=$(awk -v m="$VMNT" '$5 == m { print $3 }' /proc/self/mountinfo)
for d in /sys/fs/$MQ_NAME/[0-9]*; do
	[ "$(cat "$d/dev" 2>/dev/null)" = "$vdevno" ] && vsd=$d
done
check "the session: transport virtio, $MQ_VUFS_QUEUES queues, max_write 8 MiB (sysfs ${vsd:-none}: $(cat "$vsd/transport" "$vsd/queues" "$vsd/max_write" 2>/dev/null | tr '\n' ' '))" \
	sh -c "[ \"\$(cat '$vsd/transport')\" = virtio ] && [ \"\$(cat '$vsd/queues')\" = '$MQ_VUFS_QUEUES' ] &&
	       [ \"\$(cat '$vsd/max_write')\" = 8388608 ]"
check "the seed reads back, and from-guest (written through virtiofs) too" sh -c "
	[ \"\$(timeout $T60 sha256sum '$VMNT/seed' | cut -c1-64)\" = '$MQ_VUFS_SEED' ] &&
	timeout $T60 cmp /tmp/virtio-out '$VMNT/from-guest'"

# Requests from a task pinned to each CPU travel on that CPU's queue: every
# request virtqueue sends some (sysfs vq_stats of the device).
vq_sent() { awk -v q="requests.$1" '$1 == q { print $3 }' "/sys/bus/virtio/devices/$vname/vq_stats"; }
before=()
for ((q = 0; q < MQ_VUFS_QUEUES; q++)); do before[$q]=$(vq_sent $q); done
for ((c = 0; c < $(nproc); c++)); do
	taskset -c "$c" dd if=/tmp/virtio-out of="$VMNT/cpu$c" bs=64k oflag=direct status=none
	taskset -c "$c" dd if="$VMNT/cpu$c" of=/dev/null bs=64k iflag=direct status=none
	rm -f "$VMNT/cpu$c"
done
spread=""
for ((q = 0; q < MQ_VUFS_QUEUES; q++)); do spread+=" $q:+$(( $(vq_sent $q) - before[$q] ))"; done
check "requests from every CPU spread over the $MQ_VUFS_QUEUES request virtqueues (sent:$spread)" \
	sh -c "! echo '$spread' | grep -q ':+0\\b'"
diag "$(cat /sys/bus/virtio/devices/$vname/vq_stats)"
# mqfusectl shows the session (transport virtio, this mount) and its
# per-queue counters: every queue served requests.
ctl_line=$("$MQ_HELPER/mqfusectl" --no-header sessions | awk -v m="$VMNT" '$NF == m')
ctl_q=$("$MQ_HELPER/mqfusectl" --no-header queues "$(cat "$vsd/id")" | awk '$2 > 0' | wc -l)
check "mqfusectl: the session on $VMNT with transport virtio, $MQ_VUFS_QUEUES queues each with requests (${ctl_line:0:60}...; $ctl_q queues served)" \
	sh -c "echo '$ctl_line' | awk '{ exit !(\$9 == \"virtio\" && \$4 == $MQ_VUFS_QUEUES) }' && [ '$ctl_q' -eq '$MQ_VUFS_QUEUES' ]"

# 8 MiB requests on the wire: O_DIRECT 8 MiB writes and reads reach the
# back-end whole (its log gives the largest request per queue at DESTROY).
head -c 16777216 /dev/urandom > /tmp/virtio-big
check "16 MiB written and read back with O_DIRECT in 8 MiB requests" sh -c "
	timeout $T60 dd if=/tmp/virtio-big of='$VMNT/big' bs=8M oflag=direct status=none &&
	timeout $T60 dd if='$VMNT/big' of=/tmp/virtio-big2 bs=8M iflag=direct status=none &&
	cmp /tmp/virtio-big /tmp/virtio-big2 && rm -f '$VMNT/big'"
rm -f /tmp/virtio-big /tmp/virtio-big2

# The POSIX suite (mqfuse's client, consistency cto) and the verifier.
out=$(timeout "$(mq_tmo 300)" "$POSIX" -r "$features" -x file_caps -x kill_nocap -b "$HOST" "$VMNT" 2>&1)
rc=$?
summary=$(printf '%s\n' "$out" | grep -E '^# [0-9]+ passed' | tail -1)
if [ $rc -eq 0 ]; then
	ok "posix_test on $VNAME (${summary#\# })"
else
	not_ok "posix_test on $VNAME (exit $rc; ${summary#\# })"
	printf '%s\n' "$out" | grep -A3 '^not ok' | head -60 | sed 's/^/# /'
fi
MNT=$VMNT run_verify "verifier on $VNAME: 5000 ops, 4 files" -s 43 -n 5000 -f 4
MNT=$VMNT run_verify "verifier on $VNAME: O_DIRECT, 2000 ops, 2 files" -d -s 44 -n 2000 -f 2

# Nobody attaches as the daemon of a virtio session (its daemon is its
# device): mqfused --attach by path and by session id fail, the mount serves on.
mkdir -p /tmp/vattach
sid=$(cat "$vsd/id" 2>/dev/null)
timeout 20 "$MQ_HELPER/mqfused" --fs mqfuse --attach "$VMNT" -f /tmp/vattach >/tmp/vattach.log 2>&1
rc1=$?
timeout 20 "$MQ_HELPER/mqfused" --fs mqfuse --attach "${sid:-0}" -f /tmp/vattach >>/tmp/vattach.log 2>&1
rc2=$?
check "mqfused --attach cannot take the virtio session over (by path: exit $rc1, by id $sid: exit $rc2), the mount serves on" \
	sh -c "[ $rc1 -ne 0 ] && [ $rc1 -ne 124 ] && [ $rc2 -ne 0 ] && [ $rc2 -ne 124 ] &&
	       [ \"\$(cat '$vsd/transport')\" = virtio ] && timeout $T60 cmp /tmp/virtio-out '$VMNT/from-guest'"
[ $rc1 -ne 0 ] && [ $rc2 -ne 0 ] || sed 's/^/# /' /tmp/vattach.log

timeout $T60 umount "$VMNT"
rc=$?
check "umount $VMNT (exit $rc); the back-end saw the session end with 8 MiB requests" sh -c "
	[ $rc -eq 0 ] && ! awk '\$2 == \"$VMNT\"' /proc/mounts | grep -q . &&
	for _ in \$(seq 50); do grep -q 'DESTROY' '$MQ_RESULTS/vufs-mqfused.log' && break; sleep 0.1; done &&
	grep -q 'DESTROY' '$MQ_RESULTS/vufs-mqfused.log' &&
	grep -E 'largest [0-9]+ bytes' '$MQ_RESULTS/vufs-mqfused.log' |
	awk '{ for (i = 1; i < NF; i++) if (\$(i + 1) == \"bytes\" && \$i + 0 >= 8388608) f = 1 } END { exit !f }'"

# --- a hostile device: most replies damaged (helper/tests/mqfused_evil) ---
bad0=$(dmesg | grep -c 'bad reply')
if check "mount -t $VNAME mqevil $EMNT (INIT is answered well)" sh -c "
	timeout $T60 mount -t '$VNAME' mqevil '$EMNT' && awk '\$2 == \"$EMNT\" && \$3 == \"$VNAME\" { f = 1 } END { exit !f }' /proc/mounts"; then
	for r in 1 2; do
		for i in $(seq 15); do
			timeout -k 2 10 sh -c "echo x > '$EMNT/f$i'" 2>/dev/null
			timeout -k 2 10 cat "$EMNT/f$i" >/dev/null 2>&1
			timeout -k 2 10 stat "$EMNT/f$i" >/dev/null 2>&1
			timeout -k 2 10 mkdir "$EMNT/d$i" 2>/dev/null
			timeout -k 2 10 ls -l "$EMNT" >/dev/null 2>&1
			timeout -k 2 10 dd if=/dev/zero of="$EMNT/big" bs=1M count=2 status=none 2>/dev/null
			timeout -k 2 10 dd if="$EMNT/big" of=/dev/null bs=1M iflag=direct status=none 2>/dev/null
		done
	done
	bad=$(( $(dmesg | grep -c 'bad reply') - bad0 ))
	ebad=$(awk '$1 == "requests.0" { print $7 }' "/sys/bus/virtio/devices/$evname/vq_stats")
	# the device breaks its ring (a used entry naming no request): the
	# session aborts, so nothing waits for what the ring held.  The LOOKUP
	# that breaks it is sent once the parent's attributes came back right
	# (the device damages most replies): try until the session is aborted.
	esd=""
	edevno=$(awk -v m="$EMNT" '$5 == m { print $3 }' /proc/self/mountinfo)
	for d in /sys/fs/$MQ_NAME/[0-9]*; do
		[ "$(cat "$d/dev" 2>/dev/null)" = "$edevno" ] && esd=$d
	done
	tries=0
	while [ $tries -lt 30 ]; do
		tries=$((tries + 1))
		timeout -k 5 $T60 stat "$EMNT/break-ring" >/dev/null 2>&1
		rc1=$?
		[ $rc1 -ge 124 ] && break
		[ "$(cat "$esd/state" 2>/dev/null)" = aborted ] && break
	done
	estate=$(cat "$esd/state" 2>/dev/null)
	out=$(timeout -k 5 $T60 ls "$EMNT" 2>&1)
	rc2=$?
	check "a ring the device breaks aborts its session: no task hangs (after $tries stat(s), last exit $rc1; state ${estate:-?}; ls exit $rc2: ${out:0:60})" \
		sh -c "[ $rc1 -lt 124 ] && [ '$estate' = aborted ] && [ $rc2 -ne 0 ] && [ $rc2 -lt 124 ] &&
		       echo '$out' | grep -q 'not connected'"
	timeout $T60 umount "$EMNT"
	rc=$?
	check "the hostile device's damaged replies were refused, its requests failed, umount works (bad replies: $bad in dmesg, $ebad counted; umount exit $rc)" \
		sh -c "[ $rc -eq 0 ] && [ '$bad' -gt 0 ] && [ '${ebad:-0}' -gt 0 ]"
else
	not_ok "the hostile device's damaged replies were refused (no mount)"
fi
check "rmmod $VNAME (nothing holds it)" rmmod "$VNAME"

# The hostile vhost-user front-end (helper/tests/vhost_hostile: no VM) against
# mqfused --vhost-user, here in the guest too: malformed chains, messages,
# ring restarts; mqfused never dies of a signal or hangs.
out=$(cd "$MQ_HELPER/tests" && timeout "$(mq_tmo 300)" ./vhost-e2e.sh 2>&1)
rc=$?
nok=$(printf '%s\n' "$out" | grep -c '^ok - ')
nbad=$(printf '%s\n' "$out" | grep -c '^not ok - ')
check "vhost-e2e.sh: a hostile front-end against mqfused --vhost-user (exit $rc, $nok ok, $nbad not ok)" \
	sh -c "[ $rc -eq 0 ] && [ $nbad -eq 0 ] && [ $nok -ge 300 ]"
[ $rc -eq 0 ] || printf '%s\n' "$out" | grep -A4 '^not ok' | head -30 | sed 's/^/# /'
rm -f /tmp/virtio-out /tmp/virtio-verify.log
exit 0
