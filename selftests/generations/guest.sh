#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Two generations side by side (DESIGN.md §1, issue 12): mqfuse_vN and
# mqfuse_v(N+1) (build/next-gen, `make next-gen`) loaded together, each
# with live mounts served by their own mqfused, I/O on both at once;
# mount.mqfuse and mqfused pick the newest loaded generation or the one
# given by gen=N / --gen N, and refuse a bad one; the old generation
# unloads after its last umount while the new one keeps serving, and
# refuses to unload while mounted; each generation's sysfs directory and
# mqfusectl --gen N (its netlink family) see only its own sessions, with
# queue counters that follow the I/O; mount -t mqfuse_vN (the installed
# mount.mqfuse_vN link) mounts generation N; a netlink session dump racing
# with mounts and umounts stays complete and harmless.
#
# Every check prints exactly one line whatever happened before it (the
# plan below is fixed); a failed setup (a module that does not load, no
# next generation built) is a failure, never a skip.
. "$(dirname "$0")/../vm/lib.sh"
plan 142

H=$MQ_HELPER
VERIFY=$MQ_TESTS/fsx/mqverify
DELMOD=$MQ_TESTS/generations/delmod
CTL=$H/mqfusectl
OPS=${MQ_GEN_OPS:-2000}
G1=$MQ_GEN G2=$((MQ_GEN + 1))
N1=mqfuse_v$G1 N2=mqfuse_v$G2
KO1=$MQ_KO KO2=$MQ_KO_NEXT
T=/tmp/gen
diag "modules: $KO1 $KO2; daemon: $H/mqfused"
rm -rf "$T" && mkdir -p "$T"

loaded()   { grep -q "^$1 " /proc/modules; }
fstype_of() { awk -v m="$1" '$2 == m { t = $3 } END { print t }' /proc/mounts; }
# Serving mqfused processes (comm mqfused; the sandbox monitor is
# mqfused-monitor and holds no device fd) with /dev/NAME open, one line.
dev_holders() {
	local p
	for p in $(pgrep -x mqfused); do
		[ -n "$(find /proc/"$p"/fd -lname "/dev/$1" 2>/dev/null)" ] && echo "$p"
	done | sort -n | paste -sd' '
}
# major:minor of every mount of filesystem type NAME (mountinfo), sorted.
mount_devs() {
	awk -v t="$1" '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == t) print $3; break } }' \
		/proc/self/mountinfo | sort
}
# "id dev" of every session directory under /sys/fs/NAME, sorted.
sysfs_pairs() {
	local d
	for d in /sys/fs/"$1"/*/; do
		[ -f "$d/dev" ] && echo "$(cat "$d/id") $(cat "$d/dev")"
	done | sort
}
# ctl_is NAME GEN COUNT: mqfusectl --gen GEN sessions lists exactly the
# sessions /sys/fs/NAME lists (id and st_dev), COUNT of them, which are
# the NAME mounts, all running, each with the mount point of its st_dev.
ctl_is() {
	local out c s m
	out=$("$CTL" --no-header --gen "$2" sessions) || { echo "mqfusectl exit $?"; return 1; }
	echo "mqfusectl --gen $2 sessions:"; echo "$out"
	c=$(echo "$out" | awk 'NF { print $1, $3 }' | sort) s=$(sysfs_pairs "$1")
	m=$(mount_devs "$1")
	echo "sysfs: $(echo $s)  mounts: $(echo $m)"
	[ "$(printf '%s' "$c" | grep -c .)" -eq "$3" ] && [ "$c" = "$s" ] || return 1
	[ "$(echo "$c" | awk 'NF { print $2 }' | sort)" = "$m" ] || return 1
	echo "$out" | awk 'NF && $2 != "running" { exit 1 }' || return 1
	echo "$out" | while read -r id st dev rest; do
		[ -n "$id" ] || continue
		[ "$(awk -v d="$dev" '$3 == d { print $5 }' /proc/self/mountinfo)" = "${rest##* }" ] ||
			{ echo "session $id: mount point ${rest##* } is not that of $dev"; exit 1; }
	done
}
# ctl_refused NAME RC RE ARGS...: mqfusectl ARGS exits RC with a message matching RE.
ctl_refused() {
	local name=$1 want=$2 re=$3 rc err
	shift 3
	"$CTL" "$@" > "$T/ctl.out" 2> "$T/ctl.err"
	rc=$?
	err=$(head -n1 "$T/ctl.err")
	if [ $rc -ne "$want" ]; then
		not_ok "$name"; diag "exit $rc, not $want: $err"
	elif [ -s "$T/ctl.out" ] || ! grep -Eq -- "$re" "$T/ctl.err"; then
		not_ok "$name"; diag "output or message does not match /$re/: $err"
	else
		ok "$name (exit $rc: $err)"
	fi
}
# session id of the mount MNT, from /sys/fs/NAME (by st_dev).
session_of() {
	local dev d
	dev=$(awk -v m="$2" '$5 == m { print $3 }' /proc/self/mountinfo)
	for d in /sys/fs/"$1"/*/; do
		[ -f "$d/dev" ] && [ "$(cat "$d/dev")" = "$dev" ] && cat "$d/id"
	done
}
# sum of the requests counters of a session's queues in sysfs
sysfs_requests() {
	cat /sys/fs/"$1"/"$2"/queue*/stats | awk '$1 == "requests" { n += $2 } END { print n + 0 }'
}
# dev of every session directory under /sys/fs/NAME, sorted.
sysfs_devs() {
	local d
	for d in /sys/fs/"$1"/*/; do
		[ -f "$d/dev" ] && cat "$d/dev"
	done | sort
}
# sysfs_is NAME COUNT: /sys/fs/NAME lists exactly the sessions of the
# NAME mounts (by st_dev), COUNT of them, all running.
sysfs_is() {
	local s m d
	s=$(sysfs_devs "$1") m=$(mount_devs "$1")
	echo "sysfs $1: $(echo $s)  mounts: $(echo $m)"
	[ "$(printf '%s' "$s" | grep -c .)" -eq "$2" ] && [ "$s" = "$m" ] || return 1
	for d in /sys/fs/"$1"/*/; do
		[ -f "$d/dev" ] || continue
		grep -qx running "$d/state" || { echo "$d: state $(cat "$d/state")"; return 1; }
	done
}
wait_gone() {	# wait_gone PID...: up to 10 s until none of them runs
	local end=$((SECONDS + 10)) p alive
	while [ $SECONDS -lt $end ]; do
		alive=""
		for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ -z "$alive" ] && return 0
		sleep 0.1
	done
	return 1
}
# rw_ok MNT SRC TAG: a file written through MNT reads back and reached SRC.
rw_ok() {
	head -c 300000 /dev/urandom > "$T/rw-$3" &&
	cp "$T/rw-$3" "$1/rw-$3" && cmp "$T/rw-$3" "$1/rw-$3" && cmp "$T/rw-$3" "$2/rw-$3"
}
# mounted_as MNT TYPE: MNT is a TYPE mount that answers, and files go through.
mounted_as() {
	mq_wait_mounted "$1" "$2" || { echo "$1: $(fstype_of "$1") in /proc/mounts"; return 1; }
	[ "$(fstype_of "$1")" = "$2" ] || { echo "$1: $(fstype_of "$1") in /proc/mounts"; return 1; }
}

# Whatever happens, the next suites find what they expect: no mount of
# ours, the next generation unloaded (mqfused would pick it for their
# mounts) and this generation loaded. Prints no test line (the plan).
leave_clean() {
	local m p
	touch "$T/stop" "$T/go"
	# background I/O jobs keep mounts (and so the modules) busy
	p=$(jobs -p)
	[ -z "$p" ] || { kill -KILL $p 2>/dev/null; wait $p 2>/dev/null; }
	rm -f /sbin/mount.$N1 /sbin/mount.$N2
	for m in /mnt/gen-pick /mnt/gen-race /mnt/gen-ctl /mnt/gen-1a /mnt/gen-1b /mnt/gen-2; do
		mq_mounted "$m" '.*' && { diag "cleanup: umount $m"; umount "$m" || umount -l "$m"; }
	done
	for p in $(dev_holders "$N1") $(dev_holders "$N2"); do
		[ -n "$p" ] && diag "cleanup: kill mqfused $p" && kill -KILL "$p"
	done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		loaded "$N2" || break
		rmmod "$N2" 2>/dev/null && break
		sleep 0.5
	done
	loaded "$N2" && diag "cleanup: $N2 is still loaded"
	loaded "$N1" || insmod "$KO1" || diag "cleanup: $N1 does not load"
}
trap leave_clean EXIT
trap 'exit 143' TERM

# --- setup: both generations, the newer loaded first ---
install -m 0755 "$H/mqfused" /usr/sbin/mqfused &&
	install -m 0755 "$H/mount.mqfuse" /sbin/mount.mqfuse &&
	ln -sf mount.mqfuse /sbin/mount.$N1 && ln -sf mount.mqfuse /sbin/mount.$N2 ||
	{ not_ok "setup: install mqfused, mount.mqfuse and its mount.mqfuse_vN links (as make install)"; exit 1; }
for n in $N2 $N1; do loaded "$n" && rmmod "$n"; done
if [ ! -f "$KO2" ]; then
	not_ok "setup: next generation $KO2 built (make next-gen)"
	exit 1
fi
# /proc/filesystems lists in registration order: the newer one comes first
# here, so picking "the last mqfuse_vN listed" would pick the older one.
check "setup: $N2 then $N1 load side by side" sh -c "insmod '$KO2' && insmod '$KO1'" || exit 1
check "setup: /proc/filesystems lists $N2 before $N1" \
	sh -c "grep -o 'mqfuse_v[0-9]*' /proc/filesystems | paste -sd' ' | grep -qx '$N2 $N1'"

mkdir -p /mnt/gen-pick
src=$MQ_SCRATCH/gen-pick
mkdir -p "$src"

# --- picking a generation ---
# pick_case NAME TYPE CMD...: CMD mounts /mnt/gen-pick as TYPE, served by
# a new mqfused holding /dev/TYPE; then unmounted, the daemon gone.
pick_case() {
	local name=$1 type=$2 out before new p
	shift 2
	before=" $(dev_holders "$type") "
	out=$("$@" 2>&1)
	if [ $? -ne 0 ]; then
		not_ok "$name"; diag "$* failed: $out"; return
	fi
	new=""
	for p in $(dev_holders "$type"); do
		case "$before" in *" $p "*) ;; *) new+=" $p" ;; esac
	done
	check "$name" bash -c "$(declare -f fstype_of mq_mounted mq_wait_mounted mounted_as rw_ok); T=$T
		[ -n '$new' ] || { echo 'no new mqfused holds /dev/$type'; exit 1; }
		mounted_as /mnt/gen-pick $type && rw_ok /mnt/gen-pick $src pick"
	umount /mnt/gen-pick && wait_gone $new ||
		{ diag "umount /mnt/gen-pick or daemon exit failed"; umount -l /mnt/gen-pick; kill -KILL $new; }
}
pick_case "mount -t mqfuse without gen= picks the newest, $N2" $N2 \
	mount -t mqfuse "$src" /mnt/gen-pick
pick_case "mount -t mqfuse -o gen=$G1 mounts $N1" $N1 \
	mount -t mqfuse -o gen=$G1 "$src" /mnt/gen-pick
pick_case "mount -t mqfuse -o noatime,gen=$G2,queues=1 mounts $N2" $N2 \
	mount -t mqfuse -o noatime,gen=$G2,queues=1 "$src" /mnt/gen-pick
# mount(8) runs /sbin/mount.<type>: the mount.mqfuse_vN links
pick_case "mount -t $N1 (/sbin/mount.$N1 link) mounts $N1 although $N2 is newer" $N1 \
	mount -t $N1 "$src" /mnt/gen-pick
pick_case "mount -t $N2 -o queues=2 (/sbin/mount.$N2 link) mounts $N2" $N2 \
	mount -t $N2 -o queues=2 "$src" /mnt/gen-pick
pick_case "mqfused without --gen picks the newest, $N2" $N2 \
	"$H/mqfused" "local:$src" /mnt/gen-pick
pick_case "mqfused --gen $G1 mounts $N1" $N1 \
	"$H/mqfused" --gen $G1 "local:$src" /mnt/gen-pick
pick_case "mqfused --gen=$G2 mounts $N2" $N2 \
	"$H/mqfused" --gen=$G2 "local:$src" /mnt/gen-pick

# --- bad generations: non-zero exit, a message naming the problem,
# nothing mounted, no daemon left ---
# refused NAME WANT_RE CMD...
refused() {
	local name=$1 re=$2 rc err before
	shift 2
	before=$(pgrep -x mqfused | wc -l)
	"$@" > "$T/err" 2>&1
	rc=$?
	err=$(head -c 300 "$T/err" | tr '\n' ' ')
	if [ $rc -eq 0 ]; then
		not_ok "$name"; diag "exit 0: $err"; umount /mnt/gen-pick
	elif mq_mounted /mnt/gen-pick '.*' || [ "$(pgrep -x mqfused | wc -l)" -ne "$before" ]; then
		not_ok "$name"; diag "refused (exit $rc) but left a mount or a daemon"
		umount -l /mnt/gen-pick 2>/dev/null
	elif ! grep -Eq -- "$re" "$T/err"; then
		not_ok "$name"; diag "exit $rc, message does not match /$re/: $err"
	else
		ok "$name (exit $rc: $err)"
	fi
}
N3=mqfuse_v$((G2 + 1))
refused "mount -o gen=$((G2 + 1)) (not loaded) refused" "$N3 is not loaded \(loaded: .*$N1" \
	mount -t mqfuse -o gen=$((G2 + 1)) "$src" /mnt/gen-pick
refused "mount -o gen=abc refused" "gen= needs a generation number.*'abc'" \
	mount -t mqfuse -o gen=abc "$src" /mnt/gen-pick
refused "mount -o gen=0 refused" "gen= needs a generation number.*'0'" \
	mount -t mqfuse -o gen=0 "$src" /mnt/gen-pick
refused "mount -o gen=-1 refused" "gen= needs a generation number.*'-1'" \
	mount -t mqfuse -o gen=-1 "$src" /mnt/gen-pick
refused "mount -o gen=${G1}x refused" "gen= needs a generation number.*'${G1}x'" \
	mount -t mqfuse -o gen=${G1}x "$src" /mnt/gen-pick
refused "mount -o gen= (empty) refused" "'gen=' needs the form key=value" \
	mount -t mqfuse -o gen= "$src" /mnt/gen-pick
refused "mount -o gen=$G1,fs=fuse refused" "gen= selects an mqfuse generation" \
	mount -t mqfuse -o gen=$G1,fs=fuse "$src" /mnt/gen-pick
refused "mount -t $N1 -o gen=$G2 refused (the type names the generation)" "gen=$G2 contradicts mount.$N1" \
	mount -t $N1 -o gen=$G2 "$src" /mnt/gen-pick
# malformed mqfuse_v names never fall back to the newest generation
ln -sf "$H/mount.mqfuse" "$T/mount.mqfuse_v01"
ln -sf "$H/mount.mqfuse" "$T/mount.mqfuse_v0"
ln -sf "$H/mount.mqfuse" "$T/mount.mqfuse_v100000"
ln -sf "$H/mount.mqfuse" "$T/mount.mqfuse_v${G1}.x"
for bad in mount.mqfuse_v01 mount.mqfuse_v0 mount.mqfuse_v100000 mount.mqfuse_v${G1}.x; do
	refused "$bad (malformed generation in the helper's name) refused" "$bad: not a generation" \
		"$T/$bad" "$src" /mnt/gen-pick
	check "$bad exits 32" sh -c "'$T/$bad' '$src' /mnt/gen-pick 2>/dev/null; [ \$? -eq 32 ]"
done
for bad in mqfuse_v01 mqfuse_v0 mqfuse_v mqfuse_v100000 mqfuse_v.sub mqfuse_v${G1}x; do
	refused "mount.mqfuse -t $bad refused" "-t $bad: not a generation" \
		"$H/mount.mqfuse" -t $bad "$src" /mnt/gen-pick
	check "mount.mqfuse -t $bad exits 32" \
		sh -c "'$H/mount.mqfuse' -t $bad '$src' /mnt/gen-pick 2>/dev/null; [ \$? -eq 32 ]"
done
check "mount.mqfuse exits 32 (mount failure) for a generation not loaded" \
	sh -c "'$H/mount.mqfuse' '$src' /mnt/gen-pick -o gen=$((G2 + 1)) 2>/dev/null; [ \$? -eq 32 ]"
refused "mqfused --gen $((G2 + 1)) (not loaded) refused" "--gen $((G2 + 1)): $N3 is not loaded \(loaded: .*$N2" \
	"$H/mqfused" --gen $((G2 + 1)) "local:$src" /mnt/gen-pick
refused "mqfused --gen abc refused" "--gen: 'abc' is not a generation number" \
	"$H/mqfused" --gen abc "local:$src" /mnt/gen-pick
refused "mqfused --gen 0 refused" "--gen: '0' is not a generation number" \
	"$H/mqfused" --gen 0 "local:$src" /mnt/gen-pick
refused "mqfused --gen $G1 --fs fuse refused" "not with --fs fuse" \
	"$H/mqfused" --gen $G1 --fs fuse "local:$src" /mnt/gen-pick
refused "mqfused -o gen=$G1 refused, pointing at --gen" "option 'gen' belongs to mount.mqfuse \(mqfused: --gen N\)" \
	"$H/mqfused" -o gen=$G1 "local:$src" /mnt/gen-pick

# --- three live mounts: two of generation 1, one of generation 2 ---
S1a=$MQ_SCRATCH/gen-1a S1b=$MQ_SCRATCH/gen-1b S2=$MQ_SCRATCH/gen-2
M1a=/mnt/gen-1a M1b=/mnt/gen-1b M2=/mnt/gen-2
mkdir -p "$S1a" "$S1b" "$S2" "$M1a" "$M1b" "$M2"
mount -t mqfuse -o gen=$G1 "$S1a" "$M1a" 2>&1 | sed 's/^/# /'
"$H/mqfused" --gen $G1 "local:$S1b" "$M1b" 2>&1 | sed 's/^/# /'
mount -t mqfuse "$S2" "$M2" 2>&1 | sed 's/^/# /'
check "live: $M1a is $N1 (mount -o gen=$G1), $M1b is $N1 (mqfused --gen $G1), $M2 is $N2 (newest)" \
	bash -c "$(declare -f fstype_of mq_mounted mq_wait_mounted mounted_as);
		mounted_as $M1a $N1 && mounted_as $M1b $N1 && mounted_as $M2 $N2"
h1=$(dev_holders $N1) h2=$(dev_holders $N2)
check "live: each mount has its own mqfused: 2 serving /dev/$N1 ($h1), 1 serving /dev/$N2 ($h2), none serves both" \
	bash -c "[ $(echo $h1 | wc -w) -eq 2 ] && [ $(echo $h2 | wc -w) -eq 1 ] &&
		for p in $h1; do case ' $h2 ' in *\" \$p \"*) exit 1 ;; esac; done"
check "sysfs: /sys/fs/$N1 lists exactly the 2 $N1 sessions (by st_dev), running" sysfs_is $N1 2
check "sysfs: /sys/fs/$N2 lists exactly the 1 $N2 session (by st_dev), running" sysfs_is $N2 1
check "sysfs: every session of both generations has a daemon bound (daemons >= 1)" \
	sh -c "for f in /sys/fs/$N1/*/daemons /sys/fs/$N2/*/daemons; do [ \"\$(cat \$f)\" -ge 1 ] || { echo \$f: \$(cat \$f); exit 1; }; done"
check "genl: family $N1 answers gen=$G1, family $N2 answers gen=$G2" \
	sh -c "'$MQ_TESTS/module/genl_version' $N1 | grep -q '^gen=$G1 ' &&
		'$MQ_TESTS/module/genl_version' $N2 | grep -q '^gen=$G2 '"
check "ctl: mqfusectl --gen $G1 sessions lists exactly the 2 $N1 sessions of /sys/fs/$N1 (id, st_dev, mount point), running" \
	ctl_is $N1 $G1 2
check "ctl: mqfusectl --gen $G2 sessions lists exactly the 1 $N2 session of /sys/fs/$N2 (id, st_dev, mount point), running" \
	ctl_is $N2 $G2 1
check "ctl: mqfusectl without --gen talks to the newest, $N2 (version, sessions)" \
	sh -c "'$CTL' --no-header version | grep -qx '$N2 $G2 [0-9.]*' &&
		[ \"\$('$CTL' sessions | awk '{ print \$1, \$3, \$NF }')\" = \"\$('$CTL' --gen $G2 sessions | awk '{ print \$1, \$3, \$NF }')\" ]"
check "ctl: mqfusectl generations lists $G1 ($N1, 2 sessions) and $G2 ($N2, 1 session)" \
	sh -c "'$CTL' --no-header generations | tee /dev/stderr | awk '{ print \$1, \$2, \$4 }' | paste -sd, |
		grep -qx '$G1 $N1 2,$G2 $N2 1'"
check "ctl: mqfusectl runs unprivileged (sessions of $N1, as nobody)" \
	sh -c "su nobody -s /bin/sh -c \"'$CTL' --no-header --gen $G1 sessions\" | grep -c running | grep -qx 2"
sid2=$(session_of $N2 $M2)
# ctl_queues_ok: the queues of M2's session, one line per queue, REQUESTS
# between two sysfs readings around it; prints the REQUESTS sum
ctl_requests() {
	local a b q n
	a=$(sysfs_requests $N2 "$sid2")
	q=$("$CTL" --no-header --gen $G2 queues "$sid2") || return 1
	b=$(sysfs_requests $N2 "$sid2")
	n=$(echo "$q" | awk '{ n += $2 } END { print n + 0 }')
	[ "$(echo "$q" | grep -c .)" -eq "$(cat /sys/fs/$N2/$sid2/queues)" ] &&
		[ "$(echo "$q" | awk '{ print $1 }' | paste -sd' ')" = "$(seq -s' ' 0 $(($(cat /sys/fs/$N2/$sid2/queues) - 1)))" ] &&
		[ "$a" -le "$n" ] && [ "$n" -le "$b" ] || { echo "queues: $q; sysfs $a..$b" >&2; return 1; }
	echo "$n"
}
r0=$(ctl_requests 2>"$T/ctl.q0")
head -c 2000000 /dev/urandom > "$M2/ctl-io" && sync "$M2/ctl-io" && cmp "$M2/ctl-io" "$S2/ctl-io" &&
	cat "$M2/ctl-io" > /dev/null && rm "$M2/ctl-io"
io=$?
r1=$(ctl_requests 2>"$T/ctl.q1")
check "ctl: mqfusectl --gen $G2 queues $sid2: one line per queue, REQUESTS as in sysfs, growing with I/O on $M2 ($r0 -> $r1, io exit $io)" \
	sh -c "cat $T/ctl.q0 $T/ctl.q1; [ -n '$r0' ] && [ -n '$r1' ] && [ $io -eq 0 ] && [ '$r1' -gt '$r0' ]"
ctl_refused "ctl: mqfusectl --gen $((G2 + 1)) sessions: exit 4, $N3 not loaded" 4 \
	"--gen $((G2 + 1)): mqfuse_v$((G2 + 1)) is not loaded \(loaded: .*$N1" --gen $((G2 + 1)) sessions
ctl_refused "ctl: mqfusectl --gen abc sessions: exit 2 (usage)" 2 "--gen: 'abc' is not a generation number" \
	--gen abc sessions
ctl_refused "ctl: mqfusectl --gen $G1 queues 999999 (no such session): exit 5" 5 \
	"$N1 has no session 999999" --gen $G1 queues 999999
# a live $N2 session whose id no $N1 session has (ids are per generation):
# $M2's, or extra $N2 mounts until one's id differs
sid2x= k=0
[ -e /sys/fs/$N1/$sid2 ] || sid2x=$sid2
while [ -z "$sid2x" ] && [ $k -lt 4 ]; do
	mkdir -p /mnt/gen-x$k
	mount -t mqfuse -o gen=$G2 "$src" /mnt/gen-x$k || break
	id=$(session_of $N2 /mnt/gen-x$k)
	[ -n "$id" ] && [ ! -e /sys/fs/$N1/$id ] && sid2x=$id
	k=$((k + 1))
done
check "ctl: a live $N2 session ($sid2x) that $N1 lacks exists" \
	sh -c "[ -n '$sid2x' ] && [ -d /sys/fs/$N2/$sid2x ] && [ ! -e /sys/fs/$N1/$sid2x ] &&
		'$CTL' --no-header --gen $G2 queues $sid2x > /dev/null"
ctl_refused "ctl: mqfusectl --gen $G1 queues $sid2x (a session of $N2 only): exit 5" 5 \
	"$N1 has no session $sid2x" --gen $G1 queues ${sid2x:-0}
while [ $k -gt 0 ]; do k=$((k - 1)); umount /mnt/gen-x$k; done

# a failed dump (the kernel refuses SESSION_ID in a dump; its errno comes
# in NLMSG_DONE) is an error, exit 1, with the kernel's message
MQFUSECTL_DEBUG_DUMP_ID=1 ctl_refused "ctl: a dump the kernel fails (SESSION_ID in a dump): exit 1, errno and extack from NLMSG_DONE" 1 \
	"GET_SESSION dump: Invalid argument: a dump lists every session: no SESSION_ID" --gen $G1 sessions
ctl_refused "ctl: mqfusectl queues abc: exit 2 (usage)" 2 "'abc' is not a session id" queues abc
ctl_refused "ctl: mqfusectl queues (no id): exit 2 (usage)" 2 "queues takes one session id" queues
ctl_refused "ctl: mqfusectl frobnicate: exit 2 (usage)" 2 "unknown command 'frobnicate'" frobnicate

# --- control (issue 10): mqfusectl monitor sees a session's events in
# order (MOUNTED, RUNNING, ABORTED at mqfusectl abort, UNMOUNTED at
# umount); ABORT needs CAP_NET_ADMIN, refuses an unknown id, aborts like
# sysfs "abort" (ENOTCONN); GET_SESSION reports the daemon pid and the
# recovery counters; malformed requests get EINVAL and an extended ack.
# Nothing else mounts or unmounts $N2 meanwhile, so the monitors (--count
# 4) see this session's four events alone ---
GREQ=$MQ_TESTS/generations/genl_req
MC=/mnt/gen-ctl
mkdir -p "$MC"
# wait_lines FILE N SECONDS: until FILE has N lines
wait_lines() {
	local end=$((SECONDS + $3))
	while [ $SECONDS -lt $end ]; do
		[ "$(grep -c . "$1" 2>/dev/null)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
# wait_exit PID SECONDS VAR: PID (a child of this shell, so not in a
# $(...) subshell) exits in time; VAR gets its status, or "timeout"
wait_exit() {
	local end=$((SECONDS + $2))
	while [ $SECONDS -lt $end ]; do
		kill -0 "$1" 2>/dev/null || { wait "$1"; printf -v "$3" %s $?; return 0; }
		sleep 0.1
	done
	printf -v "$3" timeout
}
# greq_is NAME WANT_ERRNO WANT_MSG_RE ARGS...: genl_req $N2 ARGS answers
# errno WANT_ERRNO with an extended-ack message matching WANT_MSG_RE
greq_is() {
	local name=$1 e=$2 re=$3 out
	shift 3
	out=$("$GREQ" $N2 "$@" 2>&1 | tail -n1)
	if echo "$out" | grep -Eq "^errno=$e msg=$re"; then
		ok "$name ($out)"
	else
		not_ok "$name"; diag "got: $out"
	fi
}
"$CTL" --gen $G2 --count 4 monitor > "$T/mon.out" 2> "$T/mon.err" & pmon=$!
# the JSON one as nobody: the group is open to every user
su nobody -s /bin/sh -c "exec '$CTL' --gen $G2 --json --count 4 monitor" > "$T/monj.out" 2> "$T/monj.err" & pmonj=$!
check "ctl: mqfusectl monitor subscribes to the $N2 events (header printed)" \
	bash -c "$(declare -f wait_lines); wait_lines $T/mon.out 1 $(mq_tmo 20) && head -n1 $T/mon.out | grep -qx 'TIME SESSION EVENT STATE'"
# the JSON monitor prints nothing when subscribed: its process, then a grace
for _ in $(seq 100); do pgrep -u nobody -x mqfusectl > /dev/null && break; sleep 0.1; done
sleep 2
before=" $(dev_holders $N2) "
mount -t mqfuse -o gen=$G2 "$src" "$MC" 2>&1 | sed 's/^/# /'
sidc=$(session_of $N2 "$MC")
dpid=""
for p in $(dev_holders $N2); do case "$before" in *" $p "*) ;; *) dpid=$p ;; esac; done
check "ctl: $MC mounted ($N2 session ${sidc:-none}, served by mqfused ${dpid:-none})" \
	sh -c "[ -n '$sidc' ] && [ -n '$dpid' ] && [ \"\$(cat /sys/fs/$N2/$sidc/state)\" = running ]"
row=$("$CTL" --no-header --gen $G2 list | awk -v i="$sidc" '$1 == i')
check "ctl: mqfusectl list: session $sidc shows DAEMON_PID $dpid (the mqfused holding /dev/$N2), RECOVERY 30s (mount.mqfuse's default), RECOVERIES 0, REPLAYED 0, then MOUNTPOINT $MC ($row)" \
	sh -c "echo '$row' | awk -v p='$dpid' -v m='$MC' '\$2 == \"running\" && \$12 == p && \$13 == \"30s\" && \$14 == 0 && \$15 == 0 && \$16 == m && NF == 16 { ok = 1 } END { exit !ok }'"
check "ctl: mqfusectl --json list: session $sidc with daemon_pid $dpid, recovery_s 30, recoveries 0, replayed 0, mountpoint $MC" \
	sh -c "'$CTL' --json --gen $G2 list | tee /dev/stderr |
		grep -q '{\"id\":$sidc,\"state\":\"running\",.*\"daemon_pid\":$dpid,\"recovery_s\":30,\"recoveries\":0,\"replayed\":0,\"mountpoint\":\"$MC\"}'"
out=$("$GREQ" $N2 GET_SESSION SESSION_ID:u64:"${sidc:-0}" 2>&1 | paste -sd' ')
check "genl: GET_SESSION $sidc carries SESSION_DAEMON_PID, SESSION_RECOVERY_S, SESSION_RECOVERIES (u32) and SESSION_REPLAYED (u64) ($out)" \
	sh -c "echo '$out' | grep -q '^reply .* SESSION_DAEMON_PID=4 SESSION_RECOVERY_S=4 SESSION_RECOVERIES=4 SESSION_REPLAYED=8 .*errno=0 msg=\$'"
check "ctl: mqfusectl --json version and --json queues $sidc print JSON" \
	sh -c "'$CTL' --json --gen $G2 version | grep -qx '{\"name\":\"$N2\",\"gen\":$G2,\"version\":\"[0-9.]*\"}' &&
		[ \"\$('$CTL' --json --gen $G2 stats $sidc | grep -o '\"queue\":' | wc -l)\" -eq \"\$(cat /sys/fs/$N2/$sidc/queues)\" ]"
# refused requests
su nobody -s /bin/sh -c "'$CTL' --gen $G2 abort $sidc" > "$T/ctl.out" 2> "$T/ctl.err"; rc=$?
check "ctl: mqfusectl abort $sidc as nobody: exit 6 (got $rc), EPERM, the session still running ($(head -n1 "$T/ctl.err"))" \
	sh -c "[ $rc -eq 6 ] && grep -q 'Operation not permitted' $T/ctl.err && [ \"\$(cat /sys/fs/$N2/$sidc/state)\" = running ] && ls $MC > /dev/null"
ctl_refused "ctl: mqfusectl abort 999999 (unknown id): exit 5" 5 "$N2 has no session 999999" --gen $G2 abort 999999
ctl_refused "ctl: mqfusectl abort abc: exit 2 (usage)" 2 "'abc' is not a session id" --gen $G2 abort abc
greq_is "genl: ABORT of an unknown id: ENOENT, 'no such session'" 2 "no such session" ABORT SESSION_ID:u64:999999
greq_is "genl: ABORT without SESSION_ID: EINVAL with a message" 22 "SESSION_ID is required" ABORT
greq_is "genl: ABORT with a 4-byte SESSION_ID (wrong type): EINVAL with a message" 22 ".+" ABORT SESSION_ID:u32:"${sidc:-0}"
greq_is "genl: ABORT with SESSION_STATE (a reply attribute): EINVAL" 22 "SESSION_STATE is a reply attribute" \
	ABORT SESSION_ID:u64:"${sidc:-0}" SESSION_STATE:u32:2
greq_is "genl: GET_SESSION with SESSION_DAEMON_PID (a reply attribute): EINVAL" 22 "SESSION_DAEMON_PID is a reply attribute" \
	GET_SESSION SESSION_ID:u64:"${sidc:-0}" SESSION_DAEMON_PID:u32:1
greq_is "genl: ABORT with EVENT (a reply attribute): EINVAL" 22 "EVENT is a reply attribute" \
	ABORT SESSION_ID:u64:"${sidc:-0}" EVENT:u32:1
check "ctl: after the refused requests session $sidc still runs and serves $MC" \
	sh -c "[ \"\$(cat /sys/fs/$N2/$sidc/state)\" = running ] && echo x > $MC/ctl-alive && cat $MC/ctl-alive > /dev/null"
# tunables (SET_SESSION): CAP_NET_ADMIN, ranges, all or nothing, in effect
S=/sys/fs/$N2/${sidc:-0}
su nobody -s /bin/sh -c "'$CTL' --gen $G2 set $sidc max_background=7" > "$T/ctl.out" 2> "$T/ctl.err"; rc=$?
check "ctl: mqfusectl set $sidc max_background=7 as nobody: exit 6 (got $rc), EPERM, nothing changed" \
	sh -c "[ $rc -eq 6 ] && grep -q 'Operation not permitted' $T/ctl.err && [ \"\$(cat $S/max_background)\" != 7 ]"
check "ctl: mqfusectl set $sidc max_background=40 recovery=45: exit 0" \
	"$CTL" --gen $G2 set "${sidc:-0}" max_background=40 recovery=45
check "ctl: in effect: sysfs max_background 40 (queues' shares sum to >= 40), recovery 45, /proc/mounts recovery=45" \
	sh -c "[ \"\$(cat $S/max_background)\" = 40 ] && [ \"\$(cat $S/recovery)\" = 45 ] &&
		[ \"\$(cat $S/queue*/stats | awk '\$1 == \"max_background\" { s += \$2 } END { print s }')\" -ge 40 ] &&
		grep ' $MC ' /proc/mounts | grep -q 'recovery=45'"
greq_is "genl: SET_SESSION MAX_BACKGROUND 0 (out of range): ERANGE" 34 "integer out of range" \
	SET_SESSION SESSION_ID:u64:"${sidc:-0}" SESSION_MAX_BACKGROUND:u32:0
greq_is "genl: SET_SESSION MAX_BACKGROUND 257 (out of range): ERANGE" 34 "integer out of range" \
	SET_SESSION SESSION_ID:u64:"${sidc:-0}" SESSION_MAX_BACKGROUND:u32:257
greq_is "genl: SET_SESSION RECOVERY_S 86401 (out of range): ERANGE" 34 "integer out of range" \
	SET_SESSION SESSION_ID:u64:"${sidc:-0}" SESSION_RECOVERY_S:u32:86401
greq_is "genl: SET_SESSION RECOVERY_S 0 (turning recovery off): ERANGE" 34 "integer out of range" \
	SET_SESSION SESSION_ID:u64:"${sidc:-0}" SESSION_RECOVERY_S:u32:0
greq_is "genl: SET_SESSION with SESSION_STATE (no tunable): EINVAL" 22 ".+" \
	SET_SESSION SESSION_ID:u64:"${sidc:-0}" SESSION_STATE:u32:2
greq_is "genl: SET_SESSION with nothing to set: EINVAL with a message" 22 "nothing to set.*" \
	SET_SESSION SESSION_ID:u64:"${sidc:-0}"
greq_is "genl: SET_SESSION without SESSION_ID: EINVAL with a message" 22 "SESSION_ID is required" \
	SET_SESSION SESSION_MAX_BACKGROUND:u32:5
greq_is "genl: SET_SESSION of an unknown id: ENOENT, 'no such session'" 2 "no such session" \
	SET_SESSION SESSION_ID:u64:999999 SESSION_MAX_BACKGROUND:u32:5
check "ctl: the refused SET_SESSIONs changed nothing (max_background 40, recovery 45)" \
	sh -c "[ \"\$(cat $S/max_background)\" = 40 ] && [ \"\$(cat $S/recovery)\" = 45 ]"
ctl_refused "ctl: mqfusectl set $sidc bogus=1: exit 2 (usage)" 2 "'bogus=1' is not NAME=VALUE" --gen $G2 set "${sidc:-0}" bogus=1
ctl_refused "ctl: mqfusectl set $sidc recovery=1 recovery=2: exit 2 (usage)" 2 "given twice" \
	--gen $G2 set "${sidc:-0}" recovery=1 recovery=2
ctl_refused "ctl: mqfusectl set 999999 recovery=5 (unknown id): exit 5" 5 "$N2 has no session 999999" \
	--gen $G2 set 999999 recovery=5
# the abort
check "ctl: mqfusectl abort $sidc as root: exit 0" "$CTL" --gen $G2 abort "${sidc:-0}"
# a new name needs the daemon (a LOOKUP): no cache can answer it
err=$(touch "$MC/ctl-new" 2>&1)
check "ctl: aborted: $MC gives ENOTCONN, sysfs and mqfusectl list say aborted ($err)" \
	sh -c "echo '$err' | grep -q 'Transport endpoint is not connected' && [ \"\$(cat /sys/fs/$N2/$sidc/state)\" = aborted ] &&
		'$CTL' --no-header --gen $G2 list | awk -v i=$sidc '\$1 == i && \$2 == \"aborted\" { ok = 1 } END { exit !ok }'"
check "ctl: a second abort of $sidc is harmless (exit 0)" "$CTL" --gen $G2 abort "${sidc:-0}"
umount "$MC" || { diag "umount $MC failed"; umount -l "$MC"; }
wait_exit $pmon "$(mq_tmo 20)" rmon
wait_exit $pmonj "$(mq_tmo 20)" rmonj
diag "monitor: $(tail -n +2 "$T/mon.out" | paste -sd'|') $(cat "$T/mon.err")"
diag "json monitor: $(paste -sd'|' "$T/monj.out") $(cat "$T/monj.err")"
check "ctl: mqfusectl monitor --count 4 exited 0 by itself (got $rmon)" test "$rmon" = 0
check "ctl: monitor saw session $sidc mounted (init), running, aborted, unmounted (aborted), in this order, nothing else" \
	sh -c "tail -n +2 $T/mon.out | awk '{ print \$2, \$3, \$4 }' | paste -sd, |
		grep -qx '$sidc mounted init,$sidc running running,$sidc aborted aborted,$sidc unmounted aborted' &&
		! tail -n +2 $T/mon.out | awk '{ print \$1 }' | grep -Ev '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[.][0-9]{3}[-+][0-9]{4}\$' | grep -q ."
check "ctl: mqfusectl --json monitor as nobody exited 0 (got $rmonj), one JSON object per event, the same four" \
	sh -c "[ '$rmonj' = 0 ] && sed -E 's/^\\{\"time\":\"[0-9T:.+-]+\",/{/' $T/monj.out | paste -sd, |
		grep -qx '{\"session\":$sidc,\"event\":\"mounted\",\"state\":\"init\"},{\"session\":$sidc,\"event\":\"running\",\"state\":\"running\"},{\"session\":$sidc,\"event\":\"aborted\",\"state\":\"aborted\"},{\"session\":$sidc,\"event\":\"unmounted\",\"state\":\"aborted\"}'"
# a session mounted with recovery=0: recovery cannot be turned on, and
# all or nothing: the max_background of the same request is not applied
MR=/mnt/gen-norec
mkdir -p "$MR"
if check "ctl: mount -t mqfuse -o gen=$G2,recovery=0 $MR" mount -t mqfuse -o gen=$G2,recovery=0 "$src" "$MR"; then
	sidr=$(session_of $N2 "$MR")
	bg0=$(cat /sys/fs/$N2/${sidr:-0}/max_background)
	greq_is "genl: SET_SESSION RECOVERY_S 30 on recovery=0 session ${sidr:-none}: EOPNOTSUPP with a message" 95 "recovery is off.*" \
		SET_SESSION SESSION_ID:u64:"${sidr:-0}" SESSION_RECOVERY_S:u32:30 SESSION_MAX_BACKGROUND:u32:9
	check "ctl: recovery still 0 and max_background still $bg0 on session ${sidr:-none} (all or nothing)" \
		sh -c "[ \"\$(cat /sys/fs/$N2/${sidr:-0}/recovery)\" = 0 ] && [ \"\$(cat /sys/fs/$N2/${sidr:-0}/max_background)\" = '$bg0' ]"
	check "ctl: mqfusectl set ${sidr:-none} max_background=9 alone: exit 0, in effect" \
		sh -c "'$CTL' --gen $G2 set ${sidr:-0} max_background=9 && [ \"\$(cat /sys/fs/$N2/${sidr:-0}/max_background)\" = 9 ]"
	umount "$MR" || umount -l "$MR"
fi
# a plain mount and umount: no ABORTED (umount is not an abort); and
# SIGTERM / SIGINT end monitors cleanly
"$CTL" --no-header --gen $G2 monitor > "$T/mon2.out" 2> "$T/mon2.err" & pm2=$!
"$CTL" --gen $G2 monitor > "$T/mon3.out" 2>&1 & pm3=$!
wait_lines "$T/mon3.out" 1 "$(mq_tmo 20)"
sleep 1
mount -t mqfuse -o gen=$G2 "$src" "$MC" 2>&1 | sed 's/^/# /'
sidd=$(session_of $N2 "$MC")
umount "$MC"
wait_lines "$T/mon2.out" 3 "$(mq_tmo 20)"
kill -TERM $pm2; kill -INT $pm3
wait_exit $pm2 "$(mq_tmo 10)" r2
wait_exit $pm3 "$(mq_tmo 10)" r3
check "ctl: mount+umount of $MC (session ${sidd:-none}): mounted, running, unmounted, no aborted; monitors end on SIGTERM ($r2) and SIGINT ($r3) with exit 0" \
	sh -c "cat $T/mon2.out $T/mon2.err >&2; [ -n '$sidd' ] && awk '{ print \$2, \$3 }' $T/mon2.out | paste -sd, |
		grep -qx '$sidd mounted,$sidd running,$sidd unmounted' && [ '$r2' = 0 ] && [ '$r3' = 0 ]"

# --- a session dump racing with mounts and umounts of both generations,
# 256 queues each (MQFUSE_MAX_QUEUES: one such session spans several dump
# messages, so umounts land between two messages of one session): dumps
# go on for at least 6 s and until 4 mount/umount cycles are done. Each
# generation also has a stable 256-queue session; every dump must list the
# stable sessions with all their queues (the stable 256-queue one split
# over several messages), ids sorted, no id or device twice. threads=2:
# a thread per queue would pin ~7 MiB of buffers each ---
mkdir -p /mnt/gen-race /mnt/gen-big1 /mnt/gen-big2
mount -t mqfuse -o gen=$G1,queues=256,threads=2 "$src" /mnt/gen-big1 2>&1 | sed 's/^/# /'
mount -t mqfuse -o gen=$G2,queues=256,threads=2 "$src" /mnt/gen-big2 2>&1 | sed 's/^/# /'
big1=$(session_of $N1 /mnt/gen-big1) big2=$(session_of $N2 /mnt/gen-big2)
stable1="$(session_of $N1 $M1a) $(session_of $N1 $M1b) $big1"
stable2="$sid2 $big2"
check "race: stable 256-queue sessions $big1 ($N1) and $big2 ($N2) mounted" \
	sh -c "[ -n '$big1' ] && [ -n '$big2' ] && [ \$(cat /sys/fs/$N1/$big1/queues) -eq 256 ] &&
		[ \$(cat /sys/fs/$N2/$big2/queues) -eq 256 ]"
race_mounts() {
	local i=0 g
	while [ ! -e "$T/race.stop" ]; do
		g=$((i % 2 ? G1 : G2))
		mount -t mqfuse -o gen=$g,queues=256,threads=2 "$src" /mnt/gen-race || { echo "mount $i (gen $g) failed"; return 1; }
		umount /mnt/gen-race || { echo "umount $i failed"; return 1; }
		i=$((i + 1))
		echo $i > "$T/race.n"
	done
}
# race_check GEN BIG STABLE_IDS...: the listing in race.out (stderr:
# race.dbg, MQFUSECTL_DEBUG) of one dump
race_check() {
	local g=$1 big=$2 id q ids devs m
	shift 2
	ids=$(awk '{ print $1 }' "$T/race.out")
	[ "$ids" = "$(echo "$ids" | sort -n -u)" ] || { echo "ids not sorted or repeated: $ids"; return 1; }
	devs=$(awk '{ print $3 }' "$T/race.out" | sort)
	[ "$devs" = "$(echo "$devs" | sort -u)" ] || { echo "a device twice: $devs"; return 1; }
	for id in "$@"; do
		q=$(awk -v i="$id" '$1 == i { print $4 }' "$T/race.out")
		[ "$q" = "$(cat /sys/fs/mqfuse_v$g/$id/queues)" ] ||
			{ echo "stable session $id: queues '$q', sysfs $(cat /sys/fs/mqfuse_v$g/$id/queues)"; return 1; }
	done
	m=$(awk -v i="$big" '$3 == "session" && $4 == i { print $6 }' "$T/race.dbg")
	[ "${m:-0}" -gt 1 ] || { echo "session $big in ${m:-0} message(s), not split: $(cat "$T/race.dbg")"; return 1; }
	echo "$m" >> "$T/race.split"
	awk '$3 == "dump" && $4 == "restarts" { print $5 }' "$T/race.dbg" >> "$T/race.restarts"
}
race_dumps() {
	local i=0 g rc n start=$SECONDS end=$((SECONDS + $(mq_tmo 120)))
	while [ $SECONDS -lt $end ]; do
		n=0; [ -f "$T/race.n" ] && read -r n < "$T/race.n"
		[ $((SECONDS - start)) -ge 6 ] && [ "${n:-0}" -ge 4 ] && break
		kill -0 $prm 2>/dev/null || break	# the mount loop failed
		g=$((i % 2 ? G1 : G2))
		MQFUSECTL_DEBUG=1 "$CTL" --no-header --gen $g sessions > "$T/race.out" 2> "$T/race.dbg"
		rc=$?
		[ $rc -eq 0 ] || { echo "dump $i (gen $g) exit $rc: $(cat "$T/race.out" "$T/race.dbg")"; touch "$T/race.stop"; return 1; }
		if [ $g -eq $G1 ]; then
			race_check $g "$big1" $stable1
		else
			race_check $g "$big2" $stable2
		fi || { echo "dump $i (gen $g): $(cat "$T/race.out")"; touch "$T/race.stop"; return 1; }
		i=$((i + 1))
	done
	touch "$T/race.stop"
	echo "$i dumps in $((SECONDS - start)) s, restarts $(awk '{ n += $1 } END { print n + 0 }' "$T/race.restarts"), 256 queues in $(sort -u "$T/race.split" | paste -sd/) messages"
}
rm -f "$T/race.stop" "$T/race.n" "$T/race.split" "$T/race.restarts"
touch "$T/race.split" "$T/race.restarts"
race_mounts > "$T/race.mounts" 2>&1 & prm=$!
race_dumps > "$T/race.dumps" 2>&1; rd=$?
wait $prm; rm_=$?
nm=0; [ -f "$T/race.n" ] && read -r nm < "$T/race.n"
check "race: session dumps of both generations during mount/umount loops of 256-queue sessions all complete, stable sessions listed whole every time, split over several messages ($(cat "$T/race.dumps"), ${nm:-0} mounts $(cat "$T/race.mounts"))" \
	sh -c "[ $rd -eq 0 ] && [ $rm_ -eq 0 ] && [ ${nm:-0} -ge 4 ] && [ -s '$T/race.split' ]"
# --- deterministic: a 256-queue session unmounted while its dump is
# between two of its messages (mqfusectl stalls after the first part):
# NLM_F_DUMP_INTR, the dump restarts, the session is not listed ---
mkdir -p /mnt/gen-cut
mount -t mqfuse -o gen=$G1,queues=256,threads=2 "$src" /mnt/gen-cut 2>&1 | sed 's/^/# /'
cut=$(session_of $N1 /mnt/gen-cut)
MQFUSECTL_DEBUG=1 MQFUSECTL_DEBUG_STALL=5 "$CTL" --no-header --gen $G1 sessions > "$T/race.out" 2> "$T/race.dbg" & pc=$!
sleep 2
umount /mnt/gen-cut
wait $pc; rcut=$?
rs=$(awk '$3 == "dump" && $4 == "restarts" { print $5 }' "$T/race.dbg")
listed=$(awk -v i="$cut" '$1 == i' "$T/race.out")
race_check $G1 "$big1" $stable1 > "$T/cut.chk" 2>&1; rchk=$?
check "cut: session $cut (256 queues) unmounted inside its dump: exit $rcut, $rs restart(s), not listed, stable sessions whole ($(cat "$T/cut.chk"; tr '\n' ' ' < "$T/race.dbg"))" \
	sh -c "[ -n '$cut' ] && [ $rcut -eq 0 ] && [ '${rs:-0}' -ge 1 ] && [ -z '$listed' ] && [ $rchk -eq 0 ]"
umount /mnt/gen-big1
umount /mnt/gen-big2
check "race: afterwards mqfusectl lists exactly the live sessions again" \
	bash -c "$(declare -f ctl_is sysfs_pairs mount_devs); CTL=$CTL; ctl_is $N1 $G1 2 && ctl_is $N2 $G2 1"

# --- I/O on both generations at once: four jobs released by one barrier,
# each recording when it started and ended (ns) ---
head -c $((16 << 20)) /dev/urandom > "$T/blob"
job() {	# job NAME CMD...
	local name=$1
	shift
	while [ ! -e "$T/go" ]; do sleep 0.05; done
	date +%s%N > "$T/$name.start"
	"$@" > "$T/$name.log" 2>&1
	local rc=$?
	date +%s%N > "$T/$name.end"
	return $rc
}
copy_verify() {	# copy_verify MNT SRC: a 16 MiB file through MNT, compared
	cp "$T/blob" "$1/blob" && sync "$1/blob" && cmp "$T/blob" "$1/blob" &&
	cmp "$T/blob" "$2/blob" && cat "$1/blob" > /dev/null && rm "$1/blob"
}
mkdir -p "$M1a/v" "$M2/v"
job v1 timeout "$(mq_tmo 120)" "$VERIFY" -s 31 -n "$OPS" -f 2 "$M1a/v" & pv1=$!
job v2 timeout "$(mq_tmo 120)" "$VERIFY" -s 32 -n "$OPS" -f 2 "$M2/v" & pv2=$!
job c1 copy_verify "$M1b" "$S1b" & pc1=$!
job c2 copy_verify "$M2" "$S2" & pc2=$!
touch "$T/go"
wait $pv1; rv1=$?
wait $pv2; rv2=$?
wait $pc1; rc1=$?
wait $pc2; rc2=$?
for j in v1 v2 c1 c2; do
	[ -s "$T/$j.log" ] && sed "s/^/# $j: /" "$T/$j.log" | grep -v '^# ..: ok' | tail -n 15
done
check "concurrent: mqverify $OPS ops on $N1 ($M1a) exit 0 (got $rv1)" test $rv1 -eq 0
check "concurrent: mqverify $OPS ops on $N2 ($M2) exit 0 (got $rv2)" test $rv2 -eq 0
check "concurrent: 16 MiB copy+compare on $N1 ($M1b) exit 0 (got $rc1)" test $rc1 -eq 0
check "concurrent: 16 MiB copy+compare on $N2 ($M2) exit 0 (got $rc2)" test $rc2 -eq 0
check "concurrent: the four jobs overlapped in time (latest start before earliest end)" \
	sh -c "s=\$(cat $T/v1.start $T/v2.start $T/c1.start $T/c2.start | sort -n | tail -n1) &&
		e=\$(cat $T/v1.end $T/v2.end $T/c1.end $T/c2.end | sort -n | head -n1) &&
		echo start \$s end \$e && [ \$s -lt \$e ]"

# --- rmmod of a generation with live mounts fails and harms nothing ---
for g in 1 2; do
	if [ $g = 1 ]; then n=$N1 mnts="$M1a $M1b" srcs="$S1a $S1b" hs=$h1; else n=$N2 mnts=$M2 srcs=$S2 hs=$h2; fi
	check "busy: rmmod $n with live mounts fails ('in use')" \
		sh -c "out=\$(rmmod $n 2>&1); rc=\$?; echo \"\$out\"; [ \$rc -ne 0 ] && echo \"\$out\" | grep -q 'in use'"
	out=$("$DELMOD" $n 2>&1); rc=$?
	check "busy: delete_module($n, O_NONBLOCK) refused by the kernel: $out" \
		sh -c "[ $rc -eq 1 ] && echo '$out' | grep -Eqx 'EAGAIN|EBUSY'"
	check "busy: $n still loaded, its mounts, sessions and daemons unharmed, I/O works" \
		bash -c "$(declare -f fstype_of mq_mounted mq_wait_mounted mounted_as rw_ok sysfs_is sysfs_devs mount_devs); T=$T
			grep -q '^$n ' /proc/modules && test -c /dev/$n || exit 1
			set -- $srcs
			for m in $mnts; do mounted_as \$m $n && rw_ok \$m \$1 busy$g || exit 1; shift; done
			for p in $hs; do kill -0 \$p || { echo daemon \$p gone; exit 1; }; done
			sysfs_is $n $(echo $mnts | wc -w)"
done

# --- generation 1 goes away while generation 2 keeps serving ---
# A writer/reader loop on the gen 2 mount, counting verified rounds.
loop2() {
	local i=0
	head -c 1048576 /dev/urandom > "$T/loop.data"
	while [ ! -e "$T/stop" ]; do
		cp "$T/loop.data" "$M2/loop.$((i % 4))" && cmp "$T/loop.data" "$M2/loop.$((i % 4))" &&
			cmp "$T/loop.data" "$S2/loop.$((i % 4))" || { echo "round $i failed"; return 1; }
		i=$((i + 1))
		echo $i > "$T/rounds.tmp" && mv "$T/rounds.tmp" "$T/rounds"
	done
}
rounds() { local r=0; [ -f "$T/rounds" ] && read -r r < "$T/rounds"; echo "${r:-0}"; }
wait_rounds() {	# wait_rounds N: up to 60 s (by the clock) until N verified rounds
	local end=$((SECONDS + $(mq_tmo 60))) r
	while [ $SECONDS -lt $end ]; do
		r=0; [ -f "$T/rounds" ] && read -r r < "$T/rounds"
		[ "${r:-0}" -ge "$1" ] && return 0
		kill -0 $lp 2>/dev/null || break	# the loop failed: no need to wait
		sleep 0.2
	done
	echo "only $(rounds) rounds"; return 1
}
rm -f "$T/stop" "$T/rounds"
loop2 > "$T/loop.log" 2>&1 & lp=$!
check "unload: I/O loop on $N2 running (2 verified rounds)" wait_rounds 2
sid1a=$(session_of $N1 $M1a)
check "unload: umount $M1a: mqfusectl --gen $G1 sessions drops its session $sid1a, lists $M1b's alone (= sysfs)" \
	bash -c "$(declare -f ctl_is sysfs_pairs mount_devs); CTL=$CTL; umount $M1a && ctl_is $N1 $G1 1 &&
		! '$CTL' --no-header --gen $G1 sessions | grep -q '^$sid1a '"
check "unload: umount $M1b, the daemons of both $N1 mounts exit, mqfusectl --gen $G1 sessions is empty" \
	bash -c "$(declare -f wait_gone); umount $M1b && wait_gone $h1 &&
		[ -z \"\$('$CTL' --no-header --gen $G1 sessions)\" ]"
check "unload: no $N1 session left in /sys/fs/$N1, module refcount 0" \
	sh -c "[ -z \"\$(ls -d /sys/fs/$N1/*/ 2>/dev/null)\" ] && [ \"\$(cat /sys/module/$N1/refcnt)\" = 0 ]"
r0=$(rounds)
check "unload: rmmod $N1 after its last umount" rmmod $N1
r1=$(rounds)
check "unload: the $N2 I/O loop was running during the rmmod (rounds $r0 -> $r1, alive)" \
	sh -c "kill -0 $lp && [ -z \"\$(cat $T/loop.log)\" ]"
check "unload: $N1's filesystem type, device, sysfs directory and netlink family are gone" \
	sh -c "! grep -qw $N1 /proc/filesystems && ! test -e /dev/$N1 && ! test -e /sys/fs/$N1 &&
		! '$MQ_TESTS/module/genl_version' $N1 >/dev/null 2>&1"
ctl_refused "unload: mqfusectl --gen $G1 sessions after rmmod $N1: exit 4, only $N2 loaded" 4 \
	"mqfuse_v$G1 is not loaded \(loaded: $N2\)" --gen $G1 sessions
check "unload: the $N2 I/O loop keeps verifying after $N1 is gone (5 more rounds)" wait_rounds $((r1 + 5))
touch "$T/stop"
wait $lp; rl=$?
check "unload: the $N2 I/O loop exit 0 (got $rl, $(rounds) rounds)" \
	sh -c "[ $rl -eq 0 ] || { cat $T/loop.log; exit 1; }"
check "after: $M2 still $N2, /sys/fs/$N2 lists exactly its 1 session, genl $N2 answers" \
	bash -c "$(declare -f fstype_of mq_mounted mq_wait_mounted mounted_as sysfs_is sysfs_devs mount_devs);
		mounted_as $M2 $N2 && sysfs_is $N2 1 &&
		'$MQ_TESTS/module/genl_version' $N2 | grep -q '^gen=$G2 '"
check "after: mqverify $OPS ops on $N2 ($M2) exit 0" \
	timeout "$(mq_tmo 120)" "$VERIFY" -s 33 -n "$OPS" -f 2 "$M2/v"
pick_case "after: mount -t mqfuse without gen= picks $N2, the only one loaded" $N2 \
	mount -t mqfuse "$src" /mnt/gen-pick
refused "after: mount -o gen=$G1 refused, $N1 no longer loaded" "$N1 is not loaded \(loaded: $N2\)" \
	mount -t mqfuse -o gen=$G1 "$src" /mnt/gen-pick

# --- generation 1 back beside the live generation 2 ---
check "reload: $N1 loads again beside the live $N2 mount" insmod "$KO1"
pick_case "reload: mount -t mqfuse still picks the newest, $N2" $N2 \
	mount -t mqfuse "$src" /mnt/gen-pick
pick_case "reload: mount -o gen=$G1 mounts $N1 again" $N1 \
	mount -t mqfuse -o gen=$G1 "$src" /mnt/gen-pick
check "reload: /sys/fs/$N1 lists no session, /sys/fs/$N2 still exactly its 1" \
	bash -c "$(declare -f sysfs_is sysfs_devs mount_devs); sysfs_is $N1 0 && sysfs_is $N2 1"

# --- end: generation 2 unmounts and unloads; generation 1 stays loaded
# with defaults (as the module suite leaves it) ---
check "end: umount $M2, its daemon exits" \
	bash -c "$(declare -f wait_gone); umount $M2 && wait_gone $h2"
check "end: rmmod $N2 after its last umount, $N1 stays" \
	sh -c "rmmod $N2 && ! test -e /dev/$N2 && grep -q '^$N1 ' /proc/modules"
exit 0
