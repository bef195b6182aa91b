#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Module basics: load/unload, versioned names, modinfo, parameter validation.
. "$(dirname "$0")/../vm/lib.sh"

check "$MQ_KO exists" test -f "$MQ_KO"
mq_unload
check "loads" insmod "$MQ_KO"
check "listed in /proc/modules as $MQ_NAME" grep -q "^$MQ_NAME " /proc/modules
check "filesystem type $MQ_NAME registered" grep -qw "$MQ_NAME" /proc/filesystems
check "misc device /dev/$MQ_NAME exists" test -c "/dev/$MQ_NAME"
check "/sys/fs/$MQ_NAME/generation is $MQ_GEN" \
	grep -qx "$MQ_GEN" "/sys/fs/$MQ_NAME/generation"
ver=$(sed -n 's/^#define MQFUSE_VERSION_\(MAJOR\|MINOR\|PATCH\)[[:space:]]*\([0-9]*\).*/\2/p' \
	"$MQ_HDR" | paste -sd.)
check "/sys/fs/$MQ_NAME/version is $ver" grep -qx "$ver" "/sys/fs/$MQ_NAME/version"
check "modinfo shows generation $MQ_GEN" \
	sh -c "modinfo -F generation '$MQ_KO' | grep -qx '$MQ_GEN'"
check "modinfo version shows release and generation" \
	sh -c "modinfo -F version '$MQ_KO' | grep -qx '$ver-gen$MQ_GEN'"
check "sysfs version matches MODULE_VERSION" \
	sh -c "grep -qx '$ver-gen$MQ_GEN' /sys/module/$MQ_NAME/version"
# Exported symbols: read from the module's symbol table (which nm must
# actually have read: init_module is there), counted against the sources'
# EXPORT_SYMBOL lines, and each must carry the generation prefix so two
# generations load side by side. An empty list passes only when the
# sources export nothing.
nmout=$(nm "$MQ_KO" 2>&1)
check "nm reads $MQ_NAME.ko's symbol table" sh -c "printf '%s\n' \"\$1\" | grep -q ' T init_module\$'" _ "$nmout"
syms=$(printf '%s\n' "$nmout" | sed -n 's/.* __ksymtab_//p' | sort -u)
nsyms=$(printf '%s\n' "$syms" | grep -c .)
nsrc=$(mq_src_exports)
check "exported symbols in the .ko ($nsyms) match EXPORT_SYMBOL lines in fs/ ($nsrc)" \
	test "$nsyms" -eq "$nsrc"
bad=$(printf '%s\n' "$syms" | grep -v "^${MQ_NAME}_" | grep .)
check "every exported symbol carries the ${MQ_NAME}_ prefix ($nsyms exported)" \
	test -z "$bad"
check "genl family $MQ_NAME answers GET_VERSION" \
	sh -c "'$MQ_TESTS/module/genl_version' '$MQ_NAME' | grep -qx 'gen=$MQ_GEN version=$ver'"
check "default parameters readable" \
	sh -c "grep -qx cto /sys/module/$MQ_NAME/parameters/consistency && grep -qx 2048 /sys/module/$MQ_NAME/parameters/max_pages"
check "unloads" rmmod "$MQ_NAME"
check "filesystem type gone after unload" sh -c "! grep -qw '$MQ_NAME' /proc/filesystems"
check "device gone after unload" sh -c "! test -e /dev/$MQ_NAME"

for bad in max_pages=0 max_pages=4096 max_pages=abc queues=100000 readdir_size=12 consistency=bogus consistency=ctowb consistency=Immutable; do
	check_fail "bad parameter $bad refused" insmod "$MQ_KO" "$bad"
	check "not loaded after bad parameter $bad" sh -c "! grep -q '^$MQ_NAME ' /proc/modules"
done
check "loads with valid parameters" insmod "$MQ_KO" max_pages=256 queues=2 consistency=relaxed readdir_size=65536
check "parameters took effect" \
	sh -c "grep -qx 256 /sys/module/$MQ_NAME/parameters/max_pages && grep -qx relaxed /sys/module/$MQ_NAME/parameters/consistency"
check "unload/load cycle x5" sh -c "for i in 1 2 3 4 5; do rmmod $MQ_NAME && insmod '$MQ_KO' || exit 1; done"
check "mount without a device fd fails cleanly" \
	sh -c "mkdir -p /tmp/mnt && ! mount -t $MQ_NAME none /tmp/mnt 2>/dev/null && ! grep -q ' /tmp/mnt ' /proc/mounts"
check "left loaded with defaults" sh -c "rmmod $MQ_NAME && insmod '$MQ_KO'"

# Two generations side by side (build/next-gen holds the same sources with
# MQFUSE_GEN+1; `make test` builds it).
next=mqfuse_v$((MQ_GEN + 1))
nko=$MQ_KO_NEXT
if [ ! -f "$nko" ]; then
	not_ok "next generation $next built (run 'make next-gen')"
else
	check "$next.ko names nothing of $MQ_NAME" sh -c "! grep -aq '$MQ_NAME' '$nko'"
	check "$next loads beside $MQ_NAME" insmod "$nko"
	check "both generations listed in /proc/modules" \
		sh -c "grep -q '^$MQ_NAME ' /proc/modules && grep -q '^$next ' /proc/modules"
	check "both filesystem types registered" \
		sh -c "grep -qw $MQ_NAME /proc/filesystems && grep -qw $next /proc/filesystems"
	check "both devices exist" test -c "/dev/$MQ_NAME" -a -c "/dev/$next"
	check "both sysfs directories exist" test -d "/sys/fs/$MQ_NAME" -a -d "/sys/fs/$next"
	check "$next sysfs generation is $((MQ_GEN + 1))" \
		grep -qx "$((MQ_GEN + 1))" "/sys/fs/$next/generation"
	check "genl family $next answers with its own generation" \
		sh -c "'$MQ_TESTS/module/genl_version' '$next' | grep -q '^gen=$((MQ_GEN + 1)) '"
	check "genl family $MQ_NAME still answers" \
		sh -c "'$MQ_TESTS/module/genl_version' '$MQ_NAME' | grep -q '^gen=$MQ_GEN '"
	check "$next unloads, $MQ_NAME stays" \
		sh -c "rmmod $next && grep -q '^$MQ_NAME ' /proc/modules && test -c /dev/$MQ_NAME"
fi

# Session kobject lifetimes. Each session has a sysfs directory with one
# kobject per queue; their releases free the session. A kernel with
# CONFIG_DEBUG_KOBJECT_RELEASE (make test-debug) delays every release by
# 1-4 s, in any order, so a queue kobject embedded in memory its session's
# release already freed, or a release still pending when rmmod returns (it
# runs module code), shows up there as an ODEBUG/KASAN report or an oops.
# On other kernels releases run at once and these checks pass trivially.
kmnt=/tmp/module-kobj
mkdir -p "$kmnt"
mqmount=$MQ_TESTS/kclient/mqmount
check "mqmount present ($mqmount)" test -x "$mqmount"
# klog_mark NAME / klog_reports NAME: kernel reports logged after the mark
klog_mark() { echo "mqfuse-test: mark $1" > /dev/kmsg; }
klog_reports() {
	dmesg | sed -n "/mqfuse-test: mark $1\$/,\$p" | mq_klog_filter | head -n 5
}
klog_mark kobj
kobj_cycles() {
	# mount without a daemon (mqmount closes the fd: the session aborts),
	# then umount; the sessions' queue kobjects are released afterwards
	local i
	for i in $(seq "$1"); do
		"$mqmount" -o "queues=$2" "$kmnt" && umount "$kmnt" || return 1
	done
}
check "3 sessions with 64 queues mount and unmount" kobj_cycles 3 64
check "a session with 256 queues, then rmmod at once" eval "kobj_cycles 1 256 && rmmod $MQ_NAME"
check "module gone after rmmod" sh -c "! grep -q '^$MQ_NAME ' /proc/modules"
# rmmod waits until every session is freed; a regression would leave
# releases running after it (a chain queue -> session takes at most 8 s)
sleep 9
klog=$(klog_reports kobj)
check "no kernel report from the session kobject releases${klog:+: $klog}" test -z "$klog"
check "reloads after the releases" insmod "$MQ_KO"

# A session's sysfs directory that fails part-way (kobject_add of the
# session or of queue k fails): the mount fails with that error, and only
# what was added is removed; deleting a kobject never added warns
# ("kernfs: can not remove ..., no directory"). mq_kdelay's fail= mode makes
# the n-th kobject_add called from mqfuse_sysfs_add_conn() return -ENOMEM
# (a kprobe: on every kernel the suites boot).
kd=$MQ_TESTS/kdelay/mq_kdelay.ko
kfail_args="func=kobject_add caller=$MQ_NAME:mqfuse_sysfs_add_conn fail=-12"
klog_mark kfail
kfail_mount() {
	local rc failed
	insmod "$kd" $kfail_args "fail_nth=$1" || return 2
	"$mqmount" -o queues=4 "$kmnt"
	rc=$?
	failed=$(cat /sys/module/mq_kdelay/parameters/failed)
	rmmod mq_kdelay || return 3
	if [ "$rc" -eq 0 ]; then
		umount "$kmnt"
		echo "mount succeeded"
		return 1
	fi
	[ "$failed" = 1 ] || { echo "no kobject_add failed"; return 1; }
	[ "$rc" -eq 12 ] || { echo "mount failed with $rc, not ENOMEM"; return 1; }
}
if [ ! -f "$kd" ]; then
	not_ok "mq_kdelay.ko built ($kd)"
elif ! insmod "$kd" $kfail_args fail_nth=1000000; then
	not_ok "mq_kdelay loads in fail mode on kobject_add"
	dmesg | tail -n 5 | sed 's/^/# /'
else
	rmmod mq_kdelay
	# 4 queues: call 1 is the session's directory, 2-5 its queues
	for n in 1 2 3 4 5; do
		check "kobject_add $n of 5 fails: mount fails with ENOMEM" kfail_mount "$n"
	done
	check "no session directory left in /sys/fs/$MQ_NAME" \
		sh -c "! ls /sys/fs/$MQ_NAME | grep -q '^[0-9]'"
	check "a mount after the failures works" kobj_cycles 1 4
	# rmmod returns once every session is freed: the log is complete then
	check "unloads and reloads after the failed mounts" eval "rmmod $MQ_NAME && insmod '$MQ_KO'"
	klog=$(klog_reports kfail)
	check "no kernel report from the failed mounts${klog:+: $klog}" test -z "$klog"
fi
