#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of 'make bench' (selftests/bench/bench.sh boots the guest and
# runs this through selftests/vm/run.sh's shell mode).  Two sections, each
# run only if named in BENCH_SECTIONS (default both, in this order):
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
# In both sections all backing directories are on the same scratch ext4
# disk, and repetitions are interleaved (rep -> workload -> config, config
# order rotated per rep) so that drift in host load spreads over all
# configurations.
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
#   FAIL id config rep reason...         one failed measurement
#   REQ id config rep OP=N...            modes section: requests the daemon
#                                        served during that run (untimed
#                                        pass included), from --stats
# plus fio/daemon logs and mqfused --stats files next to it.  The host
# (bench.sh / report.py) computes medians and ratios; nothing here judges
# a figure.
#
# Environment: BENCH_QUICK=1 (tiny sizes, for development), BENCH_REPS
# (both sections; default 5 for compare, 3 for modes, 1 when quick),
# BENCH_SEQ_MB, BENCH_RAND_MB, BENCH_RUNTIME, BENCH_RW_MB, BENCH_META_FILES,
# BENCH_LIST_FILES, BENCH_CONFIGS (default "a e b c d t"), BENCH_SECTIONS
# (default "compare modes"), BENCH_CONSISTENCY (default "strict cto cto-wb
# relaxed immutable"), BENCH_STORM_FILES, BENCH_MODE (label),
# BENCH_MQFUSED (the mqfused to run, default $MQ_ROOT/helper/mqfused: to
# measure another build of the daemon).

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
# REPS: the compare section's repetitions, MODE_REPS the modes section's.
if [ "${BENCH_QUICK:-0}" = 1 ]; then
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
SECTIONS=${BENCH_SECTIONS:-compare modes}
CONS_MODES=${BENCH_CONSISTENCY:-strict cto cto-wb relaxed immutable}
for w in $SECTIONS; do
	case $w in compare|modes) ;; *) echo "bench: unknown section '$w' in BENCH_SECTIONS (compare, modes)" >&2; exit 2 ;; esac
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
rec "META bench_seconds $((SECONDS - start))"
say "finished in $((SECONDS - start)) s"
exit 0
