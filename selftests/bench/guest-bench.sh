#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of 'make bench' (selftests/bench/bench.sh boots the guest and
# runs this through selftests/vm/run.sh's shell mode).  Three sections,
# each run only if named in BENCH_SECTIONS (default all three, in this
# order):
#
# compare: every workload on five configurations mounted side by side:
#   a  mqfuse (mqfuse_vN.ko)  + helper/mqfused --fs mqfuse --transport=ring
#   e  mqfuse (mqfuse_vN.ko)  + helper/mqfused --fs mqfuse --transport=dev
#   b  stock FUSE (fuse.ko)   + helper/mqfused --fs fuse
#   c  stock FUSE             + selftests/libfuse-passthrough/lfpt (libfuse3)
#   d  native ext4 on $MQ_SCRATCH
#   t  mqfuse + helper/mqfused --fs mqfuse tcp://10.77.1.2:7419 to
#      helper/mqfuse-server in network namespace mqbench, over a veth pair
#      (remote storage over TCP; served by the char device)
# Caches are dropped before every run.  a and e must show the transport
# they asked for in the session's sysfs "transport" file once mounted (and
# still at the end of the section), else they are NA: a daemon that does
# not know --transport, or ignores it, is not measured as the wrong
# configuration.  At the end of the section the per-queue stats of a's and
# e's sessions (ring_batches, ring_requests, in_daemon_max) are recorded.
#
# modes: mqfuse once per consistency mode (configurations named after the
# modes: strict cto cto-wb relaxed immutable, or BENCH_CONSISTENCY), each
# "mqfused --fs mqfuse -o consistency=MODE" with the daemon's default entry
# and attribute timeouts, mounted side by side (after the compare section's
# mounts are gone).  Workloads (ids "mode-*"): 4 KiB sequential buffered
# writes of a new file, open to close with fsync before close all timed;
# rereads of a cached file (one untimed read first, caches not dropped in
# between); a stat storm and an open/close storm over files already looked
# up once.  Caches are dropped before each run (before the untimed pass).
#
# virtio: the vhost-user-fs device "mqvirtio" that run.sh --vhost-user-fs
# attaches (MQ_VUFS_QUEUES request queues, served on the host by
# helper/mqfused --vhost-user from MQ_VUFS_SHARE), mounted in turn by three
# clients (configurations, in column order):
#   vfs  the kernel's own virtiofs driver (mount -t virtiofs mqvirtio)
#   vq1  mqfuse_virtio_vN.ko, mount -o virtqueues=1
#   vqn  mqfuse_virtio_vN.ko, mount -o virtqueues=MQ_VUFS_QUEUES
# The same device and back-end for all three: one is mounted at a time (a
# tag mounts once), the device moving between the drivers by sysfs
# unbind/bind.  The second device (mqevil, a hostile back-end) is never
# touched.  Workloads (ids "virtio-*"): 4 KiB O_DIRECT random read, libaio
# QD16, one job per request queue; 1 MiB O_DIRECT sequential read and
# write; 4 KiB buffered random writes (+fsync); create/stat/unlink with one
# thread per request queue; getdents and ls -l of a big directory.  The
# files are written through the first mount (the guest cannot write the
# host's share otherwise), untimed.  Per run the request queues' interrupts
# (all three) and messages sent (mqfuse_virtio's vq_stats) are counted.
#
# In every section repetitions are interleaved (rep -> workload -> config,
# config order rotated per rep; in virtio the order also reverses from one
# workload to the next, so that a mount serves two runs in a row) so that
# drift in host load spreads over all configurations.  In compare and modes
# all backing directories are on the same scratch ext4 disk.
#
# Output: $MQ_RESULTS/bench/raw.txt, one record per line:
#   META key value...                    run description
#   WL id unit better description        a workload (better: hi|lo)
#   R id config rep value                one measurement
#   NA config reason...                  configuration unavailable
#   META mqfuse_session CONFIG key=value...   a mqfuse config's session,
#                                        once mounted
#   META queue_stats CONFIG queueN key=value...   its queue's counters at
#                                        the end of the compare section
#   META virtio_session CONFIG key=value...   a virtio config's mount, the
#                                        first time it is mounted
#   META virtio_queue_use CONFIG irq|sent requests.Q=N...   what its runs
#                                        put through each request queue
#   FAIL id config rep reason...         one failed measurement
#   REQ id config rep OP=N...            modes section: requests the daemon
#                                        served during that run (untimed
#                                        pass included), from --stats
# plus fio/daemon logs and mqfused --stats files next to it.  The host
# (bench.sh / report.py) computes medians and ratios; nothing here judges
# a figure.
#
# Environment: BENCH_QUICK=1 (tiny sizes, for development), BENCH_REPS
# (every section; default 5 for compare, 3 for modes and virtio, 1 when
# quick), BENCH_SEQ_MB, BENCH_RAND_MB, BENCH_RUNTIME, BENCH_RW_MB,
# BENCH_META_FILES, BENCH_LIST_FILES, BENCH_CONFIGS (default "a e b c d t"),
# BENCH_SECTIONS (default "compare modes virtio"), BENCH_CONSISTENCY
# (default "strict cto cto-wb relaxed immutable"), BENCH_STORM_FILES,
# BENCH_VIRTIO_LIST_FILES (default: BENCH_LIST_FILES, at most 10000 and
# half of BENCH_VUFS_NOFILE, the back-end's fd limit that bench.sh passes),
# BENCH_MODE (label), BENCH_MQFUSED (the mqfused to run, default
# $MQ_ROOT/helper/mqfused: to measure another build of the daemon; not the
# virtio back-end, which run.sh starts on the host), MQ_VUFS_SHARE and
# MQ_VUFS_QUEUES (from run.sh --vhost-user-fs; section virtio needs them).

. "$MQ_ROOT/selftests/vm/lib.sh"

MQFUSED=${BENCH_MQFUSED:-$MQ_ROOT/helper/mqfused}
LFPT=$MQ_ROOT/selftests/libfuse-passthrough/lfpt
MDBENCH=$MQ_ROOT/selftests/bench/mdbench
FIO=$(command -v fio || echo /usr/bin/fio)
OUT=$MQ_RESULTS/bench
RAW=$OUT/raw.txt
mkdir -p "$OUT/logs"
: > "$RAW"

NCPU=$(nproc)
# REPS: the compare section's repetitions, MODE_REPS the modes section's,
# VIRTIO_REPS the virtio section's.
VIRTIO_REPS=${BENCH_REPS:-3}
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	VIRTIO_REPS=${BENCH_REPS:-1}
	REPS=${BENCH_REPS:-1} MODE_REPS=${BENCH_REPS:-1} SEQ_MB=${BENCH_SEQ_MB:-16} RAND_MB=${BENCH_RAND_MB:-16}
	RUNTIME=${BENCH_RUNTIME:-1} RW_MB=${BENCH_RW_MB:-2}
	META_FILES=${BENCH_META_FILES:-200} LIST_FILES=${BENCH_LIST_FILES:-1000}
	STORM_FILES=${BENCH_STORM_FILES:-200}
elif [ "${BENCH_MODE#icount}" != "${BENCH_MODE:-}" ]; then
	# One CPU, and guest time runs ~5x faster than wall time: a little
	# smaller (3 repetitions of four configurations stayed within ~30 min
	# of wall time; 5 of five, scaled from that: ~65 min).
	REPS=${BENCH_REPS:-5} MODE_REPS=${BENCH_REPS:-3} SEQ_MB=${BENCH_SEQ_MB:-64} RAND_MB=${BENCH_RAND_MB:-64}
	RUNTIME=${BENCH_RUNTIME:-5} RW_MB=${BENCH_RW_MB:-8}
	META_FILES=${BENCH_META_FILES:-1000} LIST_FILES=${BENCH_LIST_FILES:-20000}
	STORM_FILES=${BENCH_STORM_FILES:-1000}
else
	REPS=${BENCH_REPS:-5} MODE_REPS=${BENCH_REPS:-3} SEQ_MB=${BENCH_SEQ_MB:-128} RAND_MB=${BENCH_RAND_MB:-128}
	RUNTIME=${BENCH_RUNTIME:-5} RW_MB=${BENCH_RW_MB:-16}
	META_FILES=${BENCH_META_FILES:-1000} LIST_FILES=${BENCH_LIST_FILES:-20000}
	STORM_FILES=${BENCH_STORM_FILES:-1000}
fi
CONFIGS=${BENCH_CONFIGS:-a e b c d t}
# Section virtio's directory to list: its host back-end keeps an fd per
# inode the guest remembers, within the host's RLIMIT_NOFILE (bench.sh
# passes the hard limit as BENCH_VUFS_NOFILE; where mqfused cannot raise
# it, e.g. without CAP_SYS_RESOURCE, 20000 entries ran out of fds): at most
# 10000 entries and half that limit, unless BENCH_VIRTIO_LIST_FILES says.
VIRTIO_LIST_FILES=$LIST_FILES VIRTIO_LIST_NOTE=""
[ "$VIRTIO_LIST_FILES" -gt 10000 ] && VIRTIO_LIST_FILES=10000
if [[ ${BENCH_VUFS_NOFILE:-} =~ ^[0-9]+$ ]] && [ "$VIRTIO_LIST_FILES" -gt $((BENCH_VUFS_NOFILE / 2)) ]; then
	VIRTIO_LIST_FILES=$((BENCH_VUFS_NOFILE / 2))
	VIRTIO_LIST_NOTE="capped at half the back-end's RLIMIT_NOFILE ($BENCH_VUFS_NOFILE)"
fi
VIRTIO_LIST_FILES=${BENCH_VIRTIO_LIST_FILES:-$VIRTIO_LIST_FILES}
SECTIONS=${BENCH_SECTIONS:-compare modes virtio}
CONS_MODES=${BENCH_CONSISTENCY:-strict cto cto-wb relaxed immutable}
for w in $SECTIONS; do
	case $w in compare|modes|virtio) ;; *) echo "bench: unknown section '$w' in BENCH_SECTIONS (compare, modes, virtio)" >&2; exit 2 ;; esac
done
for w in $CONS_MODES; do
	case $w in strict|cto|cto-wb|relaxed|immutable) ;;
	*) echo "bench: unknown mode '$w' in BENCH_CONSISTENCY" >&2; exit 2 ;;
	esac
done
for w in $CONFIGS; do
	case $w in a|b|c|d|e|t) ;; *) echo "bench: unknown configuration '$w' in BENCH_CONFIGS (a e b c d t)" >&2; exit 2 ;; esac
done
section() { case " $SECTIONS " in *" $1 "*) return 0 ;; esac; return 1; }
# Per-run bound: generous, only there so that a hung mount cannot stall the
# whole benchmark (the host run has its own overall --timeout too).
# Guest seconds: under icount, guest time runs ~5x faster than wall time.
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-300}
[ "${BENCH_MODE#icount}" != "${BENCH_MODE:-}" ] && RUN_TIMEOUT=${BENCH_RUN_TIMEOUT:-1500}
# Passthrough daemons keep an fd per inode the kernel knows (lfpt: O_PATH);
# listing LIST_FILES entries with READDIRPLUS needs more than 1024.
ulimit -n 1048576 2>/dev/null || ulimit -n 65536
# "One thread per CPU" variants only when that is more than one.
THREADS="1"
[ "$NCPU" -gt 1 ] && THREADS="1 $NCPU"

declare -A MNT SRC DPID BROKEN SESS
# The transport each mqfuse configuration asks mqfused for.
declare -A TRANSPORT=([a]=ring [e]=dev)
for c in a b c d e t; do
	SRC[$c]=$MQ_SCRATCH/src-$c
	MNT[$c]=/mnt/$c
done
MNT[d]=${SRC[d]}	# native: work directly in the backing directory
for c in $CONS_MODES; do
	SRC[$c]=$MQ_SCRATCH/mode-$c
	MNT[$c]=/mnt/mode-$c
done

say() { echo "bench: $*"; }
rec() { echo "$*" >> "$RAW"; }

# A fifo nobody writes to: 'read -t' on it is a fork-free sleep.
mkfifo /tmp/bench.sleep 2>/dev/null
exec 9<>/tmp/bench.sleep
nap() { read -r -t "$1" -u 9 _ 2>/dev/null; true; }

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# run_bounded SECS OUTFILE CMD...: run CMD with its output in OUTFILE; 124
# if it outlives SECS.  Polls instead of waiting so that a task stuck in D
# state on a dead mount cannot hang the benchmark.
run_bounded() {
	local secs=$1 out=$2 pid i=0
	shift 2
	"$@" > "$out" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt $((secs * 5)) ]; then
			kill -9 "$pid" 2>/dev/null
			return 124
		fi
		nap 0.2
	done
	wait "$pid"
}

# Daemon CPU time (utime+stime, all threads) in clock ticks, of the
# daemon and every process below it: mqfused serves from a child of the
# process we started (its sandbox monitor), whose own ticks stay ~0.
# -1 if the daemon is gone.
daemon_ticks() {
	local pid=${DPID[$1]:-} p s f t=0 todo kids
	[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || { echo -1; return; }
	todo=("$pid")
	# t: the client daemon and the server (its workers are its children)
	if [ "$1" = t ]; then
		[ -n "$REMOTE_PID" ] && [ -r "/proc/$REMOTE_PID/stat" ] || { echo -1; return; }
		todo+=("$REMOTE_PID")
	fi
	while [ ${#todo[@]} -gt 0 ]; do
		p=${todo[0]}
		todo=("${todo[@]:1}")
		s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
		s=${s##*) }	# fields after "comm", starting with field 3
		# shellcheck disable=SC2086
		set -- $s
		t=$(( t + ${12} + ${13} ))
		for f in /proc/"$p"/task/*/children; do
			# shellcheck disable=SC2207
			kids=($(cat "$f" 2>/dev/null))
			todo+=("${kids[@]}")
		done
	done
	echo "$t"
}

mounted() { grep -q " $1 " /proc/mounts; }

wait_ready() {	# wait_ready CONFIG: the mount answers within 30 s
	local m=${MNT[$1]} i
	for i in $(seq 1 150); do
		if mounted "$m" && run_bounded 5 /dev/null stat "$m/."; then
			return 0
		fi
		[ -n "${DPID[$1]:-}" ] && ! kill -0 "${DPID[$1]}" 2>/dev/null && return 1
		nap 0.2
	done
	return 1
}

mark_broken() {	# mark_broken CONFIG REASON...
	local c=$1
	shift
	BROKEN[$c]="$*"
	rec "NA $c $*"
	say "config $c unavailable: $*"
}

# mq_session_dir MOUNTPOINT: the mount's session directory in
# /sys/fs/mqfuse_vN (the one whose dev file is the mount's st_dev).
mq_session_dir() {
	local dev d
	run_bounded 5 "$OUT/logs/stdev.txt" stat -c '%Hd:%Ld' "$1/." || return 1
	dev=$(cat "$OUT/logs/stdev.txt")
	for d in /sys/fs/"$MQ_NAME"/[0-9]*; do
		[ "$(cat "$d/dev" 2>/dev/null)" = "$dev" ] && { echo "$d"; return 0; }
	done
	return 1
}

# check_transport CONFIG: the session behind a mqfuse mount uses the
# transport the configuration asked for (sysfs "transport": "ring" while
# any daemon fd of the session has a ring, else "dev"); else the config is
# NA.  A daemon may set its rings up only after the mount answers: up to
# 10 s for "ring"; "dev" must still read "dev" 1 s later.
check_transport() {
	local c=$1 want=${TRANSPORT[$1]} d got i
	if ! d=$(mq_session_dir "${MNT[$c]}"); then
		stop_config "$c"
		mark_broken "$c" "no session in /sys/fs/$MQ_NAME has the mount's st_dev"
		return
	fi
	SESS[$c]=$d
	for i in $(seq 1 50); do
		got=$(cat "$d/transport" 2>/dev/null)
		[ "$got" = ring ] && break
		[ "$got" = "$want" ] && [ "$i" -ge 5 ] && break
		nap 0.2
	done
	rec "META mqfuse_session $c id=${d##*/} transport=${got:-?} queues=$(cat "$d/queues" 2>/dev/null)" \
		"max_pages=$(cat "$d/max_pages" 2>/dev/null) max_write=$(cat "$d/max_write" 2>/dev/null)"
	if [ "$got" != "$want" ]; then
		stop_config "$c"
		mark_broken "$c" "transport is ${got:-unreadable}, expected $want" \
			"(mqfused --transport=$want; session ${d##*/})"
	fi
}

start_config() {
	local c=$1 log=$OUT/logs/daemon-$1.log reason
	mkdir -p "${SRC[$c]}" "${MNT[$c]}"
	case $c in
	a|e)
		if ! mq_load >"$log" 2>&1; then
			mark_broken $c "insmod $MQ_NAME.ko failed: $(head -c 120 "$log")"
			return
		fi
		"$MQFUSED" -f --fs mqfuse --transport="${TRANSPORT[$c]}" --stats "$OUT/stats-$c.txt" \
			"local:${SRC[$c]}" "${MNT[$c]}" > "$log" 2>&1 &
		DPID[$c]=$!
		;;
	b|c)
		if ! grep -qw fuse /proc/filesystems && ! modprobe fuse >"$log" 2>&1; then
			mark_broken $c "modprobe fuse failed"
			return
		fi
		if [ $c = b ]; then
			"$MQFUSED" -f --fs fuse --stats "$OUT/stats-b.txt" "local:${SRC[b]}" "${MNT[b]}" \
				> "$log" 2>&1 &
		else
			"$LFPT" -f -o default_permissions "${SRC[c]}" "${MNT[c]}" > "$log" 2>&1 &
		fi
		DPID[$c]=$!
		;;
	d)
		return
		;;
	t)
		if ! mq_load >"$log" 2>&1 || ! remote_up >>"$log" 2>&1; then
			mark_broken $c "the server side failed: $(tail -n 2 "$log" | tr '\n' ' ' | cut -c1-160)"
			return
		fi
		"$MQFUSED" -f --fs mqfuse --secret-file "$OUT/remote-secret" --stats "$OUT/stats-t.txt" \
			"tcp://$REMOTE_ADDR" "${MNT[t]}" > "$log" 2>&1 &
		DPID[$c]=$!
		;;
	esac
	if ! wait_ready $c; then
		reason=$(grep -v '^$' "$log" | head -n 2 | tr '\n' ' ' | cut -c1-160)
		kill -9 "${DPID[$c]}" 2>/dev/null
		umount -l "${MNT[$c]}" 2>/dev/null
		if grep -q "unrecognized option '--transport" "$log"; then
			mark_broken $c "mqfused does not know --transport (an older binary)," \
				"so it cannot be asked for the ${TRANSPORT[$c]} transport:" \
				"$(grep -m1 "unrecognized option '--transport" "$log" | cut -c1-100)"
		else
			mark_broken $c "mount failed: ${reason:-no mount within 30 s}"
		fi
		return
	fi
	case $c in a|e) check_transport $c ;; esac
}

# queue_stats CONFIG: at the end of the compare section, the counters of
# each queue of the config's session (cumulative since the mount: setup,
# every workload and repetition), and its transport again: a config whose
# daemon changed transport during the section measured something else.
queue_stats() {
	local c=$1 d=${SESS[$1]:-} q got
	[ -n "$d" ] && [ -z "${BROKEN[$c]:-}" ] || return 0
	for q in "$d"/queue[0-9]*; do
		[ -r "$q/stats" ] || continue
		rec "META queue_stats $c ${q##*/} $(awk '$1 ~ /^(ring_batches|ring_requests|in_daemon_max|requests)$/ {
			printf "%s%s=%s", (n++ ? " " : ""), $1, $2 }' "$q/stats")"
	done
	got=$(cat "$d/transport" 2>/dev/null)
	if [ "$got" != "${TRANSPORT[$c]}" ]; then
		rec "FAIL transport $c 0 transport is ${got:-unreadable} at the end of the compare section, expected ${TRANSPORT[$c]}: its figures are not of configuration $c"
		say "config $c: transport is ${got:-unreadable} at the end, expected ${TRANSPORT[$c]}"
	fi
}

# Configuration t's server: mqfuse-server in network namespace mqbench,
# joined to the root namespace by a veth pair, serving SRC[t].
REMOTE_NS=mqbench REMOTE_ADDR=10.77.1.2:7419 REMOTE_PID=
remote_up() {
	ip netns del $REMOTE_NS 2>/dev/null
	modprobe veth 2>/dev/null
	ip netns add $REMOTE_NS &&
	ip link add mqb0 type veth peer name mqb1 &&
	ip link set mqb1 netns $REMOTE_NS &&
	ip addr add 10.77.1.1/24 dev mqb0 && ip link set mqb0 up &&
	ip -n $REMOTE_NS addr add 10.77.1.2/24 dev mqb1 &&
	ip -n $REMOTE_NS link set mqb1 up && ip -n $REMOTE_NS link set lo up || return 1
	head -c 48 /dev/urandom | base64 > "$OUT/remote-secret"
	chmod 600 "$OUT/remote-secret"
	rm -f "$OUT/remote-ready"
	ip netns exec $REMOTE_NS "$MQ_ROOT/helper/mqfuse-server" --listen "$REMOTE_ADDR" \
		--secret-file "$OUT/remote-secret" --ready-file "$OUT/remote-ready" \
		"${SRC[t]}" 2>"$OUT/logs/server-t.log" &
	REMOTE_PID=$!
	for _ in $(seq 100); do [ -s "$OUT/remote-ready" ] && return 0; nap 0.1; done
	echo "mqfuse-server did not listen: $(cat "$OUT/logs/server-t.log")"
	return 1
}
remote_down() {
	[ -n "$REMOTE_PID" ] && kill "$REMOTE_PID" 2>/dev/null && wait "$REMOTE_PID" 2>/dev/null
	REMOTE_PID=
	ip netns del $REMOTE_NS 2>/dev/null
	true
}

stop_config() {
	stop_daemon "$1"
	[ "$1" != t ] || remote_down
}

stop_daemon() {
	local c=$1 pid=${DPID[$1]:-} i
	[ -n "$pid" ] || return 0
	# SIGTERM makes mqfused write --stats and unmount.
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; nap 0.2; done
	kill -9 "$pid" 2>/dev/null
	mounted "${MNT[$c]}" && { umount "${MNT[$c]}" 2>/dev/null || umount -l "${MNT[$c]}"; }
	true
}

# A run failed or hung: record it; if the mount is gone or stuck, give up
# on the configuration (killing its daemon aborts any stuck request).
run_failed() {	# run_failed ID CONFIG REP RC LOG
	local id=$1 c=$2 rep=$3 rc=$4 log=$5 why
	why=$(grep -v '^$' "$log" 2>/dev/null | tail -n 1 | cut -c1-120)
	[ "$rc" = 124 ] && why="timed out after ${RUN_TIMEOUT}s"
	rec "FAIL $id $c $rep exit $rc: ${why:-no output}"
	say "$id on $c (rep $rep) failed: exit $rc: $why"
	if [ "$rc" = 124 ] || ! run_bounded 10 /dev/null stat "${MNT[$c]}/."; then
		# Killing the daemon aborts the connection and its stuck requests.
		[ -n "${DPID[$c]:-}" ] && kill -9 "${DPID[$c]}" 2>/dev/null
		umount -l "${MNT[$c]}" 2>/dev/null
		mark_broken $c "failed during $id (rep $rep): ${why:-exit $rc}"
	fi
}

# ---------------------------------------------------------------- workloads
# Each workload is a function run_<kind> ID CONFIG REP printing nothing and
# recording "R ID CONFIG REP VALUE".  WL lines describe them for the report.
fio_common=(--ioengine=psync --fallocate=none --minimal --terse-version=3 --group_reporting)

# fio terse v3: field 7 read KiB/s, 8 read IOPS, 48 write KiB/s, 49 write IOPS.
fio_field() {	# fio_field LOG FIELD
	awk -F';' -v f="$2" '$1 == "3" { print $f; exit }' "$1"
}

declare -A WL_ARGS WL_FIELD WL_FILE WL_CPU
WORKLOADS=()
def_fio() {	# def_fio ID UNIT FIELD FILE DESCRIPTION -- FIO ARGS...
	local id=$1 unit=$2 field=$3 file=$4 desc=$5
	shift 6
	WORKLOADS+=("$id")
	WL_ARGS[$id]="$*"
	WL_FIELD[$id]=$field
	WL_FILE[$id]=$file
	rec "WL $id $unit hi $desc"
}

# The compare section's workloads (WL records, WORKLOADS, WL_*).
def_compare_workloads() {
	local bs mode d m t id
	for bs in 1m 8m; do
		for mode in buf dio; do
			if [ $mode = buf ]; then d="--direct=0 --end_fsync=1"; m="buffered+fsync"; else d="--direct=1"; m=O_DIRECT; fi
			def_fio seqwr-$bs-$mode MiB/s 48 seqw "sequential write $bs $m, ${SEQ_MB} MiB new file" -- \
				--rw=write --bs=$bs --size=${SEQ_MB}m $d
			WL_CPU[seqwr-$bs-$mode]=$((SEQ_MB))
		done
	done
	for bs in 1m 8m; do
		for mode in buf dio; do
			if [ $mode = buf ]; then d="--direct=0"; m="buffered cold"; else d="--direct=1"; m=O_DIRECT; fi
			def_fio seqrd-$bs-$mode MiB/s 7 seqfile "sequential read $bs $m, ${SEQ_MB} MiB" -- \
				--rw=read --bs=$bs --size=${SEQ_MB}m $d
			WL_CPU[seqrd-$bs-$mode]=$((SEQ_MB))
		done
	done
	def_fio randrd-4k-buf IOPS 8 randfile "random read 4k buffered cold, ${RUNTIME}s on ${RAND_MB} MiB" -- \
		--rw=randread --bs=4k --size=${RAND_MB}m --direct=0 --time_based --runtime=$RUNTIME
	# One synchronous job (psync): queue depth 1.
	def_fio randrd-4k-dio IOPS 8 randfile "random read 4k O_DIRECT, QD1 (psync, one job), ${RUNTIME}s" -- \
		--rw=randread --bs=4k --size=${RAND_MB}m --direct=1 --time_based --runtime=$RUNTIME
	[ "$NCPU" -gt 1 ] && def_fio randrd-4k-dio-${NCPU}j IOPS 8 randfile "random read 4k O_DIRECT, $NCPU jobs (one per CPU), ${RUNTIME}s" -- \
		--rw=randread --bs=4k --size=${RAND_MB}m --direct=1 --time_based --runtime=$RUNTIME --numjobs=$NCPU
	# AIO with 16 in flight: asynchronous direct I/O (FUSE_ASYNC_DIO)
	def_fio randrd-4k-dio-qd16 IOPS 8 randfile "random read 4k O_DIRECT, libaio QD16, ${RUNTIME}s" -- \
		--rw=randread --bs=4k --size=${RAND_MB}m --direct=1 --ioengine=libaio --iodepth=16 \
		--time_based --runtime=$RUNTIME
	def_fio randwr-4k-dio-qd16 IOPS 49 randfile "random write 4k O_DIRECT, libaio QD16, ${RUNTIME}s" -- \
		--rw=randwrite --bs=4k --size=${RAND_MB}m --direct=1 --ioengine=libaio --iodepth=16 \
		--time_based --runtime=$RUNTIME
	def_fio randwr-4k-buf IOPS 49 randfile "random write 4k buffered+fsync, ${RW_MB} MiB into ${RAND_MB} MiB" -- \
		--rw=randwrite --bs=4k --size=${RAND_MB}m --io_size=${RW_MB}m --direct=0 --end_fsync=1
	def_fio randwr-4k-dio IOPS 49 randfile "random write 4k O_DIRECT, ${RUNTIME}s" -- \
		--rw=randwrite --bs=4k --size=${RAND_MB}m --direct=1 --time_based --runtime=$RUNTIME

	for t in $THREADS; do
		WORKLOADS+=(meta-${t}t)
		rec "WL create-${t}t ops/s hi create+close empty files, $t thread(s) x $META_FILES"
		rec "WL stat-${t}t ops/s hi stat after drop_caches, $t thread(s)"
		rec "WL unlink-${t}t ops/s hi unlink, $t thread(s)"
	done
	WORKLOADS+=(list)
	rec "WL list s lo list a ${LIST_FILES}-entry directory (getdents64), cold"
	rec "WL list-stat s lo list + stat every entry (ls -l) of ${LIST_FILES} entries, cold"
	for id in seqwr-8m-buf seqwr-8m-dio seqrd-8m-buf seqrd-8m-dio; do
		rec "WL cpu-$id s/GiB lo daemon CPU (utime+stime) per GiB moved, $id"
	done
}

run_workload() {	# run_workload ID CONFIG REP
	local id=$1 c=$2 rep=$3 dir=${MNT[$2]} log rc v t0 t1 t out
	log=$OUT/logs/$id-$c-$rep.log
	case $id in
	meta-*)
		t=${id#meta-}; t=${t%t}
		rm -rf "${SRC[$c]}/md"; mkdir -p "${SRC[$c]}/md"
		drop_caches
		run_bounded "$RUN_TIMEOUT" "$log" "$MDBENCH" meta -t "$t" -n "$META_FILES" -D "$dir/md"
		rc=$?
		if [ $rc -ne 0 ]; then run_failed "$id" "$c" "$rep" $rc "$log"; return; fi
		for p in create stat unlink; do
			v=$(awk -v p=$p '$1 == p { print $2 }' "$log")
			[ -n "$v" ] && rec "R $p-${t}t $c $rep $v"
		done
		;;
	list)
		for s in "" -s; do
			drop_caches
			run_bounded "$RUN_TIMEOUT" "$log" "$MDBENCH" list $s "$dir/bigdir"
			rc=$?
			if [ $rc -ne 0 ]; then run_failed "$id" "$c" "$rep" $rc "$log"; return; fi
			read -r _ v n < "$log"
			[ "$n" = "$LIST_FILES" ] || { rec "FAIL $id $c $rep listed $n entries, expected $LIST_FILES"; return; }
			rec "R list${s:+-stat} $c $rep $v"
		done
		;;
	*)
		[ "${WL_FILE[$id]}" = seqw ] && rm -f "${SRC[$c]}/seqw"
		drop_caches
		t0=$(daemon_ticks $c)
		# shellcheck disable=SC2086
		run_bounded "$RUN_TIMEOUT" "$log" "$FIO" --name="$id" \
			--filename="$dir/${WL_FILE[$id]}" "${fio_common[@]}" ${WL_ARGS[$id]}
		rc=$?
		t1=$(daemon_ticks $c)
		if [ $rc -ne 0 ]; then run_failed "$id" "$c" "$rep" $rc "$log"; return; fi
		v=$(fio_field "$log" "${WL_FIELD[$id]}")
		[ -n "$v" ] || { rec "FAIL $id $c $rep no fio result"; return; }
		case ${WL_FIELD[$id]} in 7|48) v=$(awk -v v="$v" 'BEGIN { printf "%.2f", v / 1024 }') ;; esac
		rec "R $id $c $rep $v"
		# Daemon CPU seconds per GiB moved.
		# A serving process that exited in between takes its ticks along:
		# then no figure (n/a), not a wrong one.
		if [ -n "${WL_CPU[$id]:-}" ] && [ "$t0" -ge 0 ] && [ "$t1" -ge "$t0" ]; then
			rec "R cpu-$id $c $rep $(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
				-v mb="${WL_CPU[$id]}" 'BEGIN { printf "%.3f", d / hz / (mb / 1024) }')"
		fi
		;;
	esac
}

# ---------------------------------------------------------------- modes
# start_mode MODE: mqfuse mounted with -o consistency=MODE and mqfused's
# default timeouts; the mount must show that mode in /proc/mounts.
start_mode() {
	local c=$1 log=$OUT/logs/daemon-mode-$1.log reason fs opts
	mkdir -p "${SRC[$c]}" "${MNT[$c]}"
	if ! mq_load >"$log" 2>&1; then
		mark_broken "$c" "insmod $MQ_NAME.ko failed: $(head -c 120 "$log")"
		return
	fi
	"$MQFUSED" -f --fs mqfuse -o "consistency=$c" --stats "$OUT/stats-mode-$c.txt" \
		"local:${SRC[$c]}" "${MNT[$c]}" > "$log" 2>&1 &
	DPID[$c]=$!
	if ! wait_ready "$c"; then
		reason=$(grep -v '^$' "$log" | head -n 2 | tr '\n' ' ' | cut -c1-160)
		kill -9 "${DPID[$c]}" 2>/dev/null
		umount -l "${MNT[$c]}" 2>/dev/null
		mark_broken "$c" "mount failed: ${reason:-no mount within 30 s}"
		return
	fi
	# What the kernel took, not only what was asked for.
	read -r fs opts < <(awk -v m="${MNT[$c]}" '$2 == m { f = $3; o = $4 } END { print f, o }' /proc/mounts)
	case "$fs ,$opts," in
	"$MQ_NAME "*",consistency=$c,"*) ;;
	*)
		stop_config "$c"
		mark_broken "$c" "mounted as '$fs' with '$opts', not $MQ_NAME with consistency=$c"
		;;
	esac
}

# stats_snap CONFIG FILE: the daemon's request counts now (SIGUSR1 makes
# mqfused rewrite --stats; the old file is removed first so that its
# return says the new one is complete).  1 if none came within 10 s.
stats_snap() {
	local c=$1 f=$OUT/stats-mode-$1.txt i
	[ -n "${DPID[$c]:-}" ] || return 1
	rm -f "$f"
	kill -USR1 "${DPID[$c]}" 2>/dev/null || return 1
	for i in $(seq 1 50); do
		[ -s "$f" ] && { cp "$f" "$2"; return 0; }
		nap 0.2
	done
	return 1
}

# req_delta BEFORE AFTER: "OP=N ..." for every opcode whose count grew.
req_delta() {
	awk '
	FNR == 1 { file++ }
	/^op=/ {
		split($1, o, "="); split($2, n, "=")
		if (file == 1) before[o[2]] = n[2]; else { after[o[2]] = n[2]; if (!(o[2] in seen)) { seen[o[2]] = 1; order[++k] = o[2] } }
	}
	END {
		for (i = 1; i <= k; i++) {
			d = after[order[i]] - before[order[i]]
			if (d > 0) printf "%s%s=%d", (out++ ? " " : ""), order[i], d
		}
		print ""
	}' "$1" "$2"
}

MODE_WORKLOADS=(mode-wr4k mode-reread mode-stat mode-open)
def_mode_workloads() {
	rec "WL mode-wr4k MiB/s hi 4 KiB sequential buffered write(2)s of a new ${RW_MB} MiB file; open, writes and close timed (close hands all data to the daemon and waits, in every mode; no fsync: the store's disk flush costs the same in every mode)"
	rec "WL mode-reread MiB/s hi reread of a cached ${RW_MB} MiB file, open+read(2)s of 128 KiB+close per pass, ${RUNTIME}s after one untimed pass"
	rec "WL mode-stat ops/s hi stat(2) storm over ${STORM_FILES} files, ${RUNTIME}s after one untimed pass"
	rec "WL mode-open ops/s hi open(O_RDONLY)+close storm over ${STORM_FILES} files, ${RUNTIME}s after one untimed pass"
}

# run_mode_workload ID MODE REP
run_mode_workload() {
	local id=$1 c=$2 rep=$3 dir=${MNT[$2]} log rc out v size snap0 snap1 req
	local bytes=$((RW_MB * 1048576))
	log=$OUT/logs/$id-$c-$rep.log
	snap0=$OUT/logs/stats-$id-$c-$rep.before snap1=$OUT/logs/stats-$id-$c-$rep.after
	case $id in
	mode-wr4k)
		# Through the mount: immutable would keep a name removed behind it.
		run_bounded "$RUN_TIMEOUT" "$log" rm -f "$dir/wr"
		rc=$?
		if [ $rc -ne 0 ]; then run_failed "$id" "$c" "$rep" $rc "$log"; return; fi
		out="write"
		set -- "$MDBENCH" write -n -b 4096 -s "$bytes" "$dir/wr"
		;;
	mode-reread)
		out=reread
		set -- "$MDBENCH" reread -b 131072 -T "$RUNTIME" "$dir/rr"
		;;
	mode-stat|mode-open)
		out=${id#mode-}
		set -- "$MDBENCH" storm -T "$RUNTIME" "$out" "$dir/storm" "$STORM_FILES"
		;;
	esac
	drop_caches
	stats_snap "$c" "$snap0" || rm -f "$snap0"
	run_bounded "$RUN_TIMEOUT" "$log" "$@"
	rc=$?
	if [ $rc -ne 0 ]; then run_failed "$id" "$c" "$rep" $rc "$log"; return; fi
	if [ -f "$snap0" ] && stats_snap "$c" "$snap1"; then
		req=$(req_delta "$snap0" "$snap1")
		rec "REQ $id $c $rep ${req:-none}"
	else
		say "$id on $c (rep $rep): no request counts (mqfused --stats did not answer SIGUSR1)"
	fi
	v=$(awk -v w="$out" '$1 == w { print $2 }' "$log")
	if ! [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
		rec "FAIL $id $c $rep no figure in mdbench's output: $(head -c 100 "$log" | tr '\n' ' ')"
		return
	fi
	case $id in
	mode-wr4k)
		# The store must have it all (the daemon's view, not the cache's).
		size=$(stat -c %s "${SRC[$c]}/wr" 2>/dev/null)
		if [ "$size" != "$bytes" ]; then
			rec "FAIL $id $c $rep the store's file has ${size:-no} bytes after close, expected $bytes"
			return
		fi
		;;
	mode-reread)
		size=$(awk '$1 == "reread" { print $4 }' "$log")
		if [ "$size" != "$bytes" ]; then
			rec "FAIL $id $c $rep a pass read ${size:-no} bytes, expected $bytes"
			return
		fi
		;;
	esac
	rec "R $id $c $rep $v"
}

# ---------------------------------------------------------------- virtio
# Section virtio: one vhost-user-fs device (tag mqvirtio) and its host
# back-end, mounted in turn by the kernel's virtiofs (vfs) and by
# mqfuse_virtio_vN with one (vq1) or all (vqn) of its request queues.
VIRTIO_CONFIGS="vfs vq1 vqn"
VTAG=mqvirtio
VNAME=mqfuse_virtio_v$MQ_GEN
VKO=$(dirname "$MQ_KO")/$VNAME.ko
VQUEUES=${MQ_VUFS_QUEUES:-0}
VDEV="" VWHY=""	# virtioN of the mqvirtio device; why there is none
VCUR=""		# the configuration mounted now, if any
for c in $VIRTIO_CONFIGS; do MNT[$c]=/mnt/virtio-$c; done
# VQ_USE["CONFIG irq|sent Q"]: interrupts of / messages sent on request
# queue Q over all of CONFIG's runs; VSESS[CONFIG]: its mount was recorded;
# VSECS[ID]: guest seconds spent on workload ID (all configurations and
# repetitions, mounts and driver moves included); VMOVES: mounts and
# driver moves.
declare -A VQ_USE VSESS VSECS
VMOUNTS=0 VMOVES=0

# The driver holding the device now (empty: none).
vdrv() {
	local l
	l=$(readlink "/sys/bus/virtio/devices/$VDEV/driver" 2>/dev/null) && echo "${l##*/}"
}

# virtio_find_dev: VDEV = the virtio-fs device (id 0x001a) with
# MQ_VUFS_QUEUES request queues, told apart from run.sh's hostile one (one
# request queue) by its queues' interrupts once virtiofs holds both, as
# selftests/virtio does; its tag is checked once mqfuse_virtio holds it
# Sets VWHY to the reason and returns 1 if there is none.
virtio_find_dev() {
	local d n
	if ! modprobe virtiofs > "$OUT/logs/virtio-modprobe.log" 2>&1; then
		VWHY="modprobe virtiofs failed: $(head -c 120 "$OUT/logs/virtio-modprobe.log")"
		return 1
	fi
	for d in /sys/bus/virtio/devices/virtio*; do
		[ "$(cat "$d/device" 2>/dev/null)" = 0x001a ] || continue
		n=$(grep -cE " ${d##*/}-requests\.[0-9]+\$" /proc/interrupts)
		[ "$n" -eq "$VQUEUES" ] && { VDEV=${d##*/}; return 0; }
	done
	VWHY="no virtio-fs device with $VQUEUES request queues (/proc/interrupts: $(grep -oE 'virtio[0-9]+-requests\.[0-9]+$' /proc/interrupts | tr '\n' ' '))"
	return 1
}

# virtio_bind DRIVER: the device bound to DRIVER (virtiofs or $VNAME),
# moved from whichever driver holds it; our module is loaded the first
# time (it binds the unbound device when it registers).  Prints the
# reason and returns 1 on failure.
virtio_bind() {
	local want=$1 cur log=$OUT/logs/virtio-bind.log
	cur=$(vdrv)
	[ "$cur" = "$want" ] && return 0
	if [ -n "$cur" ] && ! echo "$VDEV" 2>>"$log" > "/sys/bus/virtio/drivers/$cur/unbind"; then
		echo "unbinding $VDEV from $cur failed: $(tail -n 1 "$log")"
		return 1
	fi
	if [ "$want" = "$VNAME" ] && ! grep -q "^$VNAME " /proc/modules; then
		if ! mq_load >> "$log" 2>&1 || ! insmod "$VKO" >> "$log" 2>&1; then
			echo "insmod $MQ_NAME.ko and $VNAME.ko failed: $(tail -n 1 "$log" | cut -c1-120)"
			return 1
		fi
	elif [ "$(vdrv)" != "$want" ] && ! echo "$VDEV" 2>>"$log" > "/sys/bus/virtio/drivers/$want/bind"; then
		echo "binding $VDEV to $want failed: $(tail -n 1 "$log")"
		return 1
	fi
	cur=$(vdrv)
	if [ "$cur" != "$want" ]; then
		echo "$VDEV is bound to '${cur:-no driver}' after binding it to $want"
		return 1
	fi
	if [ "$want" = "$VNAME" ] && [ "$(cat "/sys/bus/virtio/devices/$VDEV/tag" 2>/dev/null)" != "$VTAG" ]; then
		echo "$VDEV's tag is '$(cat "/sys/bus/virtio/devices/$VDEV/tag" 2>/dev/null)', not $VTAG"
		return 1
	fi
}

# virtio_umount: unmount whatever configuration is mounted (lazily if
# umount fails: then the next mount of the tag may fail, which marks that
# configuration NA with the reason).
virtio_umount() {
	local c=$VCUR
	VCUR=""
	[ -n "$c" ] && mounted "${MNT[$c]}" || return 0
	run_bounded 60 "$OUT/logs/virtio-umount.log" umount "${MNT[$c]}" && return 0
	say "virtio: umount ${MNT[$c]} failed: $(tail -n 1 "$OUT/logs/virtio-umount.log"); unmounted lazily"
	umount -l "${MNT[$c]}" 2>/dev/null
	return 0
}

# virtio_use CONFIG: the device mounted as CONFIG asks (driver, mount
# options), unless it is already; the mount must show the filesystem type
# and, for mqfuse_virtio, a session with transport virtio and the number
# of queues asked for.  1 (and CONFIG NA) if not.
virtio_use() {
	local c=$1 log=$OUT/logs/virtio-mount-$1.log drv why fs opts d f q want
	[ -n "${BROKEN[$c]:-}" ] && return 1
	[ "$VCUR" = "$c" ] && mounted "${MNT[$c]}" && return 0
	virtio_umount
	case $c in
	vfs) drv=virtiofs; set -- mount -t virtiofs "$VTAG" "${MNT[$c]}" ;;
	vq1) drv=$VNAME want=1; set -- mount -t "$VNAME" -o virtqueues=1 "$VTAG" "${MNT[$c]}" ;;
	vqn) drv=$VNAME want=$VQUEUES; set -- mount -t "$VNAME" -o "virtqueues=$VQUEUES" "$VTAG" "${MNT[$c]}" ;;
	esac
	[ "$(vdrv)" = "$drv" ] || VMOVES=$((VMOVES + 1))
	if ! why=$(virtio_bind "$drv"); then
		mark_broken "$c" "$why"
		return 1
	fi
	mkdir -p "${MNT[$c]}"
	VMOUNTS=$((VMOUNTS + 1))
	if ! run_bounded 60 "$log" "$@"; then
		mark_broken "$c" "$* failed: $(tr '\n' ' ' < "$log" | cut -c1-160)"
		umount -l "${MNT[$c]}" 2>/dev/null
		return 1
	fi
	VCUR=$c
	if ! run_bounded 30 /dev/null stat "${MNT[$c]}/."; then
		umount -l "${MNT[$c]}" 2>/dev/null
		VCUR=""
		mark_broken "$c" "$* mounted, but its root did not answer stat within 30 s"
		return 1
	fi
	read -r fs opts < <(awk -v m="${MNT[$c]}" '$2 == m { f = $3; o = $4 } END { print f, o }' /proc/mounts)
	if [ "$fs" != "$drv" ]; then
		virtio_umount
		mark_broken "$c" "mounted as '$fs', not $drv"
		return 1
	fi
	if [ "$c" != vfs ]; then
		if ! d=$(mq_session_dir "${MNT[$c]}"); then
			virtio_umount
			mark_broken "$c" "no session in /sys/fs/$MQ_NAME has the mount's st_dev"
			return 1
		fi
		q=$(cat "$d/queues" 2>/dev/null)
		if [ "$(cat "$d/transport" 2>/dev/null)" != virtio ] || [ "$q" != "$want" ]; then
			virtio_umount
			mark_broken "$c" "session ${d##*/}: transport '$(cat "$d/transport" 2>/dev/null)', $q queue(s);" \
				"expected virtio, $want"
			return 1
		fi
	fi
	if [ -z "${VSESS[$c]:-}" ]; then
		VSESS[$c]=1
		if [ "$c" = vfs ]; then
			# 6.11 and later: virtiofs's CPU to request queue map
			# (/sys/fs/virtiofs/N/mqs/M/cpu_list), as "M:CPUS;...";
			# "none" before 6.11: every request goes on requests.0
			q=""
			for f in /sys/fs/virtiofs/*/mqs/*/cpu_list; do
				[ -r "$f" ] || continue
				[ "$(cat "${f%/mqs/*}/tag" 2>/dev/null)" = "$VTAG" ] || continue
				d=${f%/cpu_list}
				q+="${q:+;}${d##*/}:$(cat "$f")"
			done
			rec "META virtio_session vfs driver=virtiofs device=$VDEV options=$opts" \
				"cpu_to_queue=${q:-none}"
		else
			rec "META virtio_session $c driver=$VNAME device=$VDEV options=$opts id=${d##*/}" \
				"transport=virtio queues=$q max_write=$(cat "$d/max_write" 2>/dev/null)" \
				"max_pages=$(cat "$d/max_pages" 2>/dev/null) consistency=$(cat "$d/consistency" 2>/dev/null)"
		fi
	fi
}

# vq_snap ARRAY: per request queue Q, ARRAY[irqQ] = its interrupts so far
# (summed over the CPUs, from /proc/interrupts "virtioN-requests.Q", which
# both drivers name alike) and ARRAY[sentQ] = the messages mqfuse_virtio
# sent on it (the device's vq_stats; -1 while virtiofs holds the device).
vq_snap() {
	local -n _snap=$1
	local q st=/sys/bus/virtio/devices/$VDEV/vq_stats
	_snap=()
	for ((q = 0; q < VQUEUES; q++)); do
		_snap["irq$q"]=$(awk -v q="$VDEV-requests.$q" -v n="$NCPU" '$NF == q {
			s = 0; for (i = 2; i <= n + 1; i++) s += $i; print s; f = 1 }
			END { if (!f) print -1 }' /proc/interrupts)
		_snap["sent$q"]=-1
		[ "$VCUR" != vfs ] && [ -r "$st" ] &&
			_snap["sent$q"]=$(awk -v q="requests.$q" '$1 == q && $2 == "sent" { print $3; f = 1 }
				END { if (!f) print -1 }' "$st")
	done
}

# vq_add CONFIG BEFORE AFTER: add a run's per-queue counts to CONFIG's.
vq_add() {
	local c=$1 q k
	local -n _b=$2 _a=$3
	for ((q = 0; q < VQUEUES; q++)); do
		for k in irq sent; do
			[ "${_b[$k$q]:--1}" -ge 0 ] && [ "${_a[$k$q]:--1}" -ge "${_b[$k$q]}" ] || continue
			VQ_USE["$c $k $q"]=$(( ${VQ_USE["$c $k $q"]:-0} + ${_a[$k$q]} - ${_b[$k$q]} ))
		done
	done
}

# The virtio section's workloads: ids virtio-*, the fio ones in WL_*.
VIRTIO_WORKLOADS=()
def_virtio_fio() {	# def_virtio_fio ID UNIT FIELD FILE DESCRIPTION -- FIO ARGS...
	local id=$1 unit=$2 field=$3 file=$4 desc=$5
	shift 6
	VIRTIO_WORKLOADS+=("$id")
	WL_ARGS[$id]="$*"
	WL_FIELD[$id]=$field
	WL_FILE[$id]=$file
	rec "WL $id $unit hi $desc"
}
def_virtio_workloads() {
	local n=$VQUEUES
	def_virtio_fio virtio-randrd-4k-qd16-${n}j IOPS 8 randfile \
		"random read 4k O_DIRECT, libaio QD16, $n jobs (one per request queue), ${RUNTIME}s on ${RAND_MB} MiB" -- \
		--rw=randread --bs=4k --size=${RAND_MB}m --direct=1 --ioengine=libaio --iodepth=16 \
		--numjobs=$n --time_based --runtime=$RUNTIME
	def_virtio_fio virtio-seqrd-1m-dio MiB/s 7 seqfile "sequential read 1m O_DIRECT, ${SEQ_MB} MiB" -- \
		--rw=read --bs=1m --size=${SEQ_MB}m --direct=1
	def_virtio_fio virtio-seqwr-1m-dio MiB/s 48 seqw "sequential write 1m O_DIRECT, ${SEQ_MB} MiB new file" -- \
		--rw=write --bs=1m --size=${SEQ_MB}m --direct=1
	def_virtio_fio virtio-randwr-4k-buf IOPS 49 randfile \
		"random write 4k buffered+fsync, ${RW_MB} MiB into ${RAND_MB} MiB" -- \
		--rw=randwrite --bs=4k --size=${RAND_MB}m --io_size=${RW_MB}m --direct=0 --end_fsync=1
	VIRTIO_WORKLOADS+=(virtio-meta)
	rec "WL virtio-create-${n}t ops/s hi create+close empty files, $n thread(s) x $META_FILES"
	rec "WL virtio-stat-${n}t ops/s hi stat after drop_caches, $n thread(s)"
	rec "WL virtio-unlink-${n}t ops/s hi unlink, $n thread(s)"
	VIRTIO_WORKLOADS+=(virtio-list)
	rec "WL virtio-list s lo list a ${VIRTIO_LIST_FILES}-entry directory (getdents64), cold"
	rec "WL virtio-list-stat s lo list + stat every entry (ls -l) of ${VIRTIO_LIST_FILES} entries, cold"
}

# run_virtio_workload ID CONFIG REP: mount CONFIG if it is not, run ID
# in MNT/bench, record R (or FAIL) records and the run's queue use.
run_virtio_workload() {
	local id=$1 c=$2 rep=$3 dir log rc v n p s
	# shellcheck disable=SC2034	# b and a: filled by vq_snap (nameref)
	local -A b a
	virtio_use "$c" || return
	dir=${MNT[$c]}/bench
	log=$OUT/logs/$id-$c-$rep.log
	case $id in
	virtio-meta)
		run_bounded "$RUN_TIMEOUT" "$log" sh -c 'rm -rf "$1" && mkdir "$1"' sh "$dir/md"
		rc=$?
		if [ $rc -ne 0 ]; then run_failed "$id" "$c" "$rep" $rc "$log"; return; fi
		drop_caches
		vq_snap b
		run_bounded "$RUN_TIMEOUT" "$log" "$MDBENCH" meta -t "$VQUEUES" -n "$META_FILES" -D "$dir/md"
		rc=$?
		vq_snap a
		vq_add "$c" b a
		if [ $rc -ne 0 ]; then run_failed "$id" "$c" "$rep" $rc "$log"; return; fi
		for p in create stat unlink; do
			v=$(awk -v p=$p '$1 == p { print $2 }' "$log")
			[ -n "$v" ] && rec "R virtio-$p-${VQUEUES}t $c $rep $v"
		done
		;;
	virtio-list)
		for s in "" -s; do
			drop_caches
			vq_snap b
			run_bounded "$RUN_TIMEOUT" "$log" "$MDBENCH" list $s "$dir/bigdir"
			rc=$?
			vq_snap a
			vq_add "$c" b a
			if [ $rc -ne 0 ]; then run_failed "$id" "$c" "$rep" $rc "$log"; return; fi
			read -r _ v n < "$log"
			[ "$n" = "$VIRTIO_LIST_FILES" ] ||
				{ rec "FAIL $id $c $rep listed $n entries, expected $VIRTIO_LIST_FILES"; return; }
			rec "R virtio-list${s:+-stat} $c $rep $v"
		done
		;;
	*)
		if [ "${WL_FILE[$id]}" = seqw ]; then
			run_bounded "$RUN_TIMEOUT" "$log" rm -f "$dir/seqw"
			rc=$?
			if [ $rc -ne 0 ]; then run_failed "$id" "$c" "$rep" $rc "$log"; return; fi
		fi
		drop_caches
		vq_snap b
		# shellcheck disable=SC2086
		run_bounded "$RUN_TIMEOUT" "$log" "$FIO" --name="$id" \
			--filename="$dir/${WL_FILE[$id]}" "${fio_common[@]}" ${WL_ARGS[$id]}
		rc=$?
		vq_snap a
		vq_add "$c" b a
		if [ $rc -ne 0 ]; then run_failed "$id" "$c" "$rep" $rc "$log"; return; fi
		v=$(fio_field "$log" "${WL_FIELD[$id]}")
		[ -n "$v" ] || { rec "FAIL $id $c $rep no fio result"; return; }
		case ${WL_FIELD[$id]} in 7|48) v=$(awk -v v="$v" 'BEGIN { printf "%.2f", v / 1024 }') ;; esac
		rec "R $id $c $rep $v"
		;;
	esac
}

run_virtio() {
	local c k rep id order cfgs i why setup t0 q k2 line
	local t_sec=$SECONDS
	rec "META virtio_sizes seq=${SEQ_MB}MiB rand=${RAND_MB}MiB runtime=${RUNTIME}s randwrite=${RW_MB}MiB meta=${META_FILES}/thread list=${VIRTIO_LIST_FILES}${VIRTIO_LIST_NOTE:+ ($VIRTIO_LIST_NOTE)}"
	rec "META virtio_backend_nofile ${BENCH_VUFS_NOFILE:-unknown}"
	rec "META virtio_configs_run $VIRTIO_CONFIGS"
	rec "META virtio_queues $VQUEUES"
	if [ -z "${MQ_VUFS_SHARE:-}" ] || ! [[ $VQUEUES =~ ^[1-9][0-9]*$ ]]; then
		for c in $VIRTIO_CONFIGS; do
			mark_broken "$c" "no vhost-user-fs device: MQ_VUFS_SHARE/MQ_VUFS_QUEUES unset (run.sh needs --vhost-user-fs; bench.sh passes it when BENCH_SECTIONS names virtio)"
		done
		return
	fi
	if ! virtio_find_dev; then
		for c in $VIRTIO_CONFIGS; do mark_broken "$c" "$VWHY"; done
		return
	fi
	rec "META virtio_device $VDEV tag=$VTAG request_queues=$VQUEUES host_share=$MQ_VUFS_SHARE"
	def_virtio_workloads

	say "virtio: device $VDEV ($VTAG, $VQUEUES request queues), $VIRTIO_REPS repetition(s), configs: $VIRTIO_CONFIGS"
	# The files, written through the first configuration that mounts
	# (untimed): the host's share is read-only here otherwise.
	setup=""
	for c in $VIRTIO_CONFIGS; do
		virtio_use "$c" && { setup=$c; break; }
	done
	[ -n "$setup" ] || return
	t0=$SECONDS
	if ! run_bounded 3600 "$OUT/logs/virtio-setup.log" sh -c '
		set -e
		rm -rf "$1/bench"; mkdir "$1/bench"
		dd if=/dev/urandom of="$1/bench/seqfile" bs=1M count="$2" conv=fsync status=none
		dd if=/dev/urandom of="$1/bench/randfile" bs=1M count="$3" conv=fsync status=none
		"$4" mkfiles "$1/bench/bigdir" "$5"
		sync' sh "${MNT[$setup]}" "$SEQ_MB" "$RAND_MB" "$MDBENCH" "$VIRTIO_LIST_FILES"; then
		why="writing the files through $setup (${MNT[$setup]}) failed: $(tail -n 2 "$OUT/logs/virtio-setup.log" | tr '\n' ' ' | cut -c1-160)"
		virtio_umount
		for c in $VIRTIO_CONFIGS; do [ -z "${BROKEN[$c]:-}" ] && mark_broken "$c" "$why"; done
		return
	fi
	rec "META virtio_setup $setup $((SECONDS - t0))"
	say "virtio: files written through $setup in $((SECONDS - t0)) s"

	cfgs=($VIRTIO_CONFIGS)
	for rep in $(seq 1 "$VIRTIO_REPS"); do
		k=$(( (rep - 1) % ${#cfgs[@]} ))
		order=("${cfgs[@]:$k}" "${cfgs[@]:0:$k}")
		i=0
		for id in "${VIRTIO_WORKLOADS[@]}"; do
			# Every other workload in the reverse order: the mount of
			# the last configuration serves the next run too.
			t0=$SECONDS
			if [ $((i % 2)) = 1 ]; then
				for c in $(printf '%s\n' "${order[@]}" | tac); do
					[ -n "${BROKEN[$c]:-}" ] || run_virtio_workload "$id" "$c" "$rep"
				done
			else
				for c in "${order[@]}"; do
					[ -n "${BROKEN[$c]:-}" ] || run_virtio_workload "$id" "$c" "$rep"
				done
			fi
			VSECS[$id]=$(( ${VSECS[$id]:-0} + SECONDS - t0 ))
			i=$((i + 1))
		done
		say "virtio: repetition $rep/$VIRTIO_REPS done after $((SECONDS - start)) s"
	done
	virtio_umount
	for c in $VIRTIO_CONFIGS; do
		for k2 in irq sent; do
			line=""
			for ((q = 0; q < VQUEUES; q++)); do
				[ -n "${VQ_USE["$c $k2 $q"]:-}" ] && line+=" requests.$q=${VQ_USE["$c $k2 $q"]}"
			done
			[ -n "$line" ] && rec "META virtio_queue_use $c $k2$line"
		done
	done
	# Leave the device to virtiofs, as the guest found it.
	if [ "$(vdrv)" = "$VNAME" ]; then
		echo "$VDEV" > "/sys/bus/virtio/drivers/$VNAME/unbind" 2>/dev/null
		echo "$VDEV" > /sys/bus/virtio/drivers/virtiofs/bind 2>/dev/null
	fi
	grep -q "^$VNAME " /proc/modules && rmmod "$VNAME" 2>/dev/null
	line=""
	for id in "${VIRTIO_WORKLOADS[@]}"; do line+=" $id=${VSECS[$id]:-0}"; done
	rec "META virtio_workload_seconds$line"
	rec "META virtio_mounts $VMOUNTS driver_moves=$VMOVES"
	rec "META virtio_section_seconds $((SECONDS - t_sec))"
}

# ---------------------------------------------------------------- main
rec "META date $(date -u +%Y-%m-%dT%H:%M:%SZ)"
rec "META mode ${BENCH_MODE:-default}"
rec "META quick ${BENCH_QUICK:-0}"
rec "META guest_cpus $NCPU"
rec "META guest_mem_mib $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)"
rec "META kernel $(uname -r)"
rec "META fio $("$FIO" --version 2>/dev/null || echo "fio missing")"
rec "META reps $REPS"
rec "META mode_reps $MODE_REPS"
rec "META virtio_reps $VIRTIO_REPS"
rec "META nofile $(ulimit -n)"
rec "META sections $SECTIONS"
start=$SECONDS

run_compare() {
	local c d k rep id order cfgs
	rec "META sizes seq=${SEQ_MB}MiB rand=${RAND_MB}MiB runtime=${RUNTIME}s randwrite=${RW_MB}MiB meta=${META_FILES}/thread list=${LIST_FILES}"
	rec "META configs_run $CONFIGS"
	rec "META configs a=mqfuse+mqfused(ring) e=mqfuse+mqfused(dev) b=fuse+mqfused c=fuse+libfuse3(lfpt) d=ext4 t=mqfuse+mqfused(tcp://mqfuse-server,veth)"
	rec "META mqfused $MQFUSED"
	def_compare_workloads

	say "compare: $NCPU CPUs, $REPS repetition(s), seq ${SEQ_MB} MiB, rand ${RAND_MB} MiB, configs: $CONFIGS"
	for c in $CONFIGS; do
		# Backing files, written natively (not timed): the read workloads'
		# files and the directory to list.
		mkdir -p "${SRC[$c]}"
		dd if=/dev/urandom of="${SRC[$c]}/seqfile" bs=1M count="$SEQ_MB" status=none
		dd if=/dev/urandom of="${SRC[$c]}/randfile" bs=1M count="$RAND_MB" status=none
		"$MDBENCH" mkfiles "${SRC[$c]}/bigdir" "$LIST_FILES"
		start_config $c
	done
	sync

	cfgs=($CONFIGS)
	for rep in $(seq 1 "$REPS"); do
		# Rotate the configuration order each repetition.
		k=$(( (rep - 1) % ${#cfgs[@]} ))
		order=("${cfgs[@]:$k}" "${cfgs[@]:0:$k}")
		for id in "${WORKLOADS[@]}"; do
			for c in "${order[@]}"; do
				[ -n "${BROKEN[$c]:-}" ] && continue
				run_workload "$id" "$c" "$rep"
			done
		done
		say "compare: repetition $rep/$REPS done after $((SECONDS - start)) s"
	done
	for c in $CONFIGS; do
		case $c in a|e) queue_stats $c ;; esac
	done
	for c in $CONFIGS; do stop_config $c; done
}

run_modes() {
	local c k rep id order cfgs t
	rec "META mode_sizes write/reread=${RW_MB}MiB storm=${STORM_FILES} files runtime=${RUNTIME}s"
	rec "META modes_run $CONS_MODES"
	# The timeouts every mode's daemon runs with: mqfused's defaults, as
	# its --help states them (strict ignores them: TTL 0; immutable too:
	# until invalidated).
	t=$("$MQFUSED" --help 2>&1 | sed -n 's/^ *--\(entry\|attr\)-timeout SEC.*(default \([^)]*\)).*/\1=\2s/p' | paste -sd' ')
	rec "META mode_timeouts mqfused defaults: ${t:-unknown}"
	def_mode_workloads

	say "modes: $MODE_REPS repetition(s), ${RW_MB} MiB, ${STORM_FILES} files, ${RUNTIME} s, modes: $CONS_MODES"
	for c in $CONS_MODES; do
		# Written natively (not timed): the file to reread, the files to stat.
		mkdir -p "${SRC[$c]}"
		dd if=/dev/urandom of="${SRC[$c]}/rr" bs=1M count="$RW_MB" status=none
		"$MDBENCH" mkfiles "${SRC[$c]}/storm" "$STORM_FILES"
	done
	sync
	for c in $CONS_MODES; do start_mode "$c"; done

	cfgs=($CONS_MODES)
	for rep in $(seq 1 "$MODE_REPS"); do
		k=$(( (rep - 1) % ${#cfgs[@]} ))
		order=("${cfgs[@]:$k}" "${cfgs[@]:0:$k}")
		for id in "${MODE_WORKLOADS[@]}"; do
			for c in "${order[@]}"; do
				[ -n "${BROKEN[$c]:-}" ] && continue
				run_mode_workload "$id" "$c" "$rep"
			done
		done
		say "modes: repetition $rep/$MODE_REPS done after $((SECONDS - start)) s"
	done
	for c in $CONS_MODES; do stop_config "$c"; done
}

section compare && run_compare
section modes && run_modes
section virtio && run_virtio
rec "META bench_seconds $((SECONDS - start))"
say "finished in $((SECONDS - start)) s"
exit 0
