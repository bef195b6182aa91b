#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# 'make bench': for each kernel in BENCH_KVERS, one after the other: build
# mqfuse, the helpers and the test programs for that kernel (make all
# KVER=K KDIR=/lib/modules/K/build), boot one guest on it (run.sh --kver K)
# and run guest-bench.sh there, which measures every workload on
# mqfuse+mqfused over the ring transport and over the char device, stock
# FUSE (that kernel's fuse.ko)+mqfused, stock FUSE+libfuse3 (lfpt) and
# native ext4 side by side (section "compare"),
# then mqfuse once per consistency mode, the five mounted side by side
# (section "modes": 4 KiB buffered writes, reread of a cached file, stat
# and open/close storms), then one virtio-fs device served on the host by
# helper/mqfused --vhost-user, mounted in turn by that kernel's virtiofs
# driver and by mqfuse_virtio_vN with one and with all of its request
# queues (section "virtio"; run.sh --vhost-user-fs attaches the device).
# Then print one report with columns per kernel (medians, ratios taken
# within each kernel's run only, raw repetitions), a per-mode table per
# kernel (neighbour ratios and the issue-11 claims, computed and reported,
# never asserted), a virtio table per kernel (ratios against virtiofs) and
# keep it in build/bench/results-<date>.txt.
# At the end (also on Ctrl-C/SIGTERM: an EXIT trap) the tree is rebuilt for
# the default kernel (KVER, else the newest 6.1) if the last build was for
# another one; the last output line says which kernel the tree is built for.
#
# Environment:
#   BENCH_KVERS="K..."   kernel releases to measure (default: the newest
#                        installed 6.1 and the newest installed 6.12, as the
#                        top Makefile's KVER and KVER_612; 'make bench'
#                        passes its own, KVER=/KVER_612= override them);
#                        duplicates are dropped (first one kept)
#   BENCH_MODE=default   multi-threaded TCG (fastest wall clock)
#   BENCH_MODE=icount    single-threaded TCG with -icount shift=$BENCH_ICOUNT_SHIFT
#                        (default 5),sleep=off: guest time follows the number of
#                        instructions executed, not host load.  One guest CPU:
#                        with -smp 2 the guest did not get past early boot in
#                        120 s (shift 3 and 5 tried); with -smp 1, shift 5 boots
#                        in ~14 s wall.
#   BENCH_QUICK=1        tiny sizes, one repetition (development only);
#                        otherwise 5 repetitions in section compare, 3 in
#                        modes and in virtio
#   BENCH_SMP, BENCH_MEM guest CPUs (default 2; icount: always 1) and MiB
#                        (default 2048)
#   BENCH_TIMEOUT        each guest run, seconds (default 10800, quick 900:
#                        a full run takes ~1.5 h per kernel)
#   BENCH_SECTIONS="compare modes virtio"   which guest sections to run
#                        (default all three); BENCH_SECTIONS=modes
#                        BENCH_QUICK=1 is the quick development loop for the
#                        mode table, BENCH_SECTIONS=virtio BENCH_QUICK=1 for
#                        the virtio table.  With virtio, the guest gets the
#                        vhost-user-fs device (run.sh --vhost-user-fs: guest
#                        RAM in a shared memfd of BENCH_MEM MiB, the
#                        back-end helper/mqfused of this tree, whatever
#                        BENCH_MQFUSED says, and run.sh's hostile second
#                        device, which is not measured)
#   BENCH_CONSISTENCY    modes measured by "modes" (default "strict cto
#                        cto-wb relaxed immutable")
#   BENCH_REPS, BENCH_SEQ_MB, BENCH_RAND_MB, BENCH_RUNTIME, BENCH_RW_MB,
#   BENCH_META_FILES, BENCH_LIST_FILES, BENCH_CONFIGS, BENCH_STORM_FILES,
#   BENCH_VIRTIO_LIST_FILES
#                        passed to the guest (guest-bench.sh; with section
#                        virtio also BENCH_VUFS_NOFILE, this shell's hard
#                        RLIMIT_NOFILE, which its back-end inherits)
#   BENCH_MQFUSED=PATH   the mqfused the guest runs (default helper/mqfused
#                        of this tree; the path must be visible in the
#                        guest, which sees the host's root)
#
# Exit status: 0 when every kernel was built and its guest run completed
# cleanly (whatever the figures); 1 when a kernel is not installed, its build
# failed, its guest run failed or did not finish, the guest booted another
# kernel than the one asked for, mqfuse over the ring (a) or over the char
# device (e), or stock FUSE + mqfused (b) was unavailable in its guest (an
# "NA a"/"NA e"/"NA b" record: insmod, mount, a session that does not use
# the transport asked for, or a mid-run failure), so was mqfuse in one of
# the consistency modes (an "NA
# <mode>" record), or one of the virtio configurations (virtiofs, or
# mqfuse_virtio with 1 or N queues: "NA vfs"/"NA vq1"/"NA vqn": no device,
# driver bind, insmod, mount, a session with the wrong transport or queue
# count, a mid-run failure), or a measurement failed (a "FAIL" record) --
# its columns show what it produced, else n/a -- or the final rebuild
# failed or was impossible.  Only configurations c (libfuse3, which may be
# missing) and d (ext4) may be "n/a" in a successful run.
#
#   bench.sh --check-raw KVER RAW   only apply those checks to one guest's
#                                   raw.txt: print the reasons, exit 1 if any
set -uo pipefail

# raw_failures KVER RAW: why the guest run that wrote RAW, asked to boot
# KVER, does not count as a measurement of KVER: one reason per line,
# nothing when it does.
raw_failures() {
	local k=$1 raw=$2 gk n
	if [ ! -f "$raw" ]; then
		echo "the guest run produced no raw.txt"
		return
	fi
	grep -q '^META bench_seconds ' "$raw" ||
		echo "guest run did not finish guest-bench.sh (no final record in raw.txt)"
	gk=$(sed -n 's/^META kernel //p' "$raw" | head -n1)
	[ "$gk" = "$k" ] ||
		echo "the guest ran kernel '${gk:-?}' (uname -r), not $k"
	grep -E '^NA [abe] ' "$raw" | cut -c1-240 |
		sed -e 's/^NA a /configuration a (mqfuse ring: mqfuse+mqfused --transport=ring) unavailable: /' \
		    -e 's/^NA e /configuration e (mqfuse dev: mqfuse+mqfused --transport=dev) unavailable: /' \
		    -e 's/^NA b /configuration b (stock FUSE+mqfused) unavailable: /'
	grep -E '^NA (strict|cto|cto-wb|relaxed|immutable) ' "$raw" | cut -c1-200 |
		sed -E 's/^NA ([^ ]+) /mqfuse with consistency=\1 unavailable: /'
	grep -E '^NA (vfs|vq1|vqn) ' "$raw" | cut -c1-240 |
		sed -e 's/^NA vfs /virtio configuration vfs (stock virtiofs) unavailable: /' \
		    -e 's/^NA vq1 /virtio configuration vq1 (mqfuse_virtio, virtqueues=1) unavailable: /' \
		    -e 's/^NA vqn /virtio configuration vqn (mqfuse_virtio, all request queues) unavailable: /'
	n=$(grep -c '^FAIL ' "$raw")
	[ "$n" -eq 0 ] ||
		echo "$n failed measurement(s), first: $(grep -m1 '^FAIL ' "$raw" | cut -c6-160)"
}

if [ "${1:-}" = --check-raw ]; then
	[ $# -eq 3 ] || { echo "usage: bench.sh --check-raw KVER RAW" >&2; exit 2; }
	why=$(raw_failures "$2" "$3")
	[ -z "$why" ] && exit 0
	printf '%s\n' "$why"
	exit 1
fi

# modinfo is in /usr/sbin on Debian, often not on a user's PATH.
PATH=$PATH:/usr/sbin:/sbin
command -v modinfo >/dev/null ||
	{ echo "bench: modinfo not found (package kmod): needed to check the module's vermagic" >&2; exit 2; }

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mode=${BENCH_MODE:-default}
quick=${BENCH_QUICK:-0}
smp=${BENCH_SMP:-2}
mem=${BENCH_MEM:-2048}
if [ "$quick" = 1 ]; then timeout=${BENCH_TIMEOUT:-900}; else timeout=${BENCH_TIMEOUT:-10800}; fi

# Debian's kernels run without slub_debug, page poisoning or init_on_free:
# so does the benchmark guest (the test guest turns them on to catch memory
# errors), unless BENCH_MEMDEBUG=1.
if [ "${BENCH_MEMDEBUG:-0}" = 1 ]; then memdebug_opts=(); else memdebug_opts=(--no-memdebug); fi

case "$mode" in
default)
	accel_opts=(--accel tcg,thread=multi)
	mode_desc="default (TCG, multi-threaded, wall-clock guest time)"
	;;
icount)
	shift_=${BENCH_ICOUNT_SHIFT:-5}
	smp=1
	accel_opts=(--accel tcg --qemu-opt "-icount shift=$shift_,sleep=off")
	mode="icount-shift$shift_"
	mode_desc="icount (TCG single-threaded, -icount shift=$shift_,sleep=off: instruction-driven guest time)"
	;;
*)
	echo "bench: unknown BENCH_MODE '$mode' (default or icount)" >&2
	exit 2
	;;
esac

# The module's name: mqfuse_v<GEN>.ko (another generation's may be stale).
gen=$(sed -n 's/^#define[[:space:]]*MQFUSE_GEN[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$root/uapi/mqfuse.h")
[ -n "$gen" ] || { echo "bench: no MQFUSE_GEN in $root/uapi/mqfuse.h" >&2; exit 2; }
ko=$root/mqfuse_v$gen.ko
vko=$root/mqfuse_virtio_v$gen.ko

# The kernels: the same choice as the top Makefile's KVER and KVER_612.
newest() { ls -1 /lib/modules 2>/dev/null | grep -E "$1" | sort -V | tail -n1; }
k61=$(newest '^6\.1\..*-amd64$')
k612=$(newest '^6\.12\..*\+deb12-amd64$')
if [ -n "${BENCH_KVERS:-}" ]; then
	read -r -a kvers <<< "$BENCH_KVERS"
else
	kvers=("${k61:-no-6.1-kernel}" "${k612:-no-6.12-kernel}")
fi
[ ${#kvers[@]} -gt 0 ] || { echo "bench: BENCH_KVERS names no kernel" >&2; exit 2; }
# Each kernel once (first occurrence kept).
uniq_k=()
for k in "${kvers[@]}"; do
	case " ${uniq_k[*]} " in
	*" $k "*) echo "bench: note: kernel $k named twice in BENCH_KVERS; measured once" >&2 ;;
	*) uniq_k+=("$k") ;;
	esac
done
kvers=("${uniq_k[@]}")
# The kernel the tree is left built for (make all's default).
final_kver=${KVER:-$k61}

stamp=$(date +%Y%m%d-%H%M%S)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- 2>/dev/null || commit="$commit+dirty"
outdir=$root/build/bench
rundir=$outdir/run-$stamp
mkdir -p "$rundir"

# The guest's sections (guest-bench.sh's default when unset): section
# virtio needs run.sh's vhost-user-fs device and the virtio module.
sections=${BENCH_SECTIONS:-compare modes virtio}
vufs_opts=() virtio=0
case " $sections " in
*" virtio "*) vufs_opts=(--vhost-user-fs) virtio=1 ;;
esac

# Pass the BENCH_* knobs through to the guest command.
envs="BENCH_MODE=$mode"
for v in BENCH_QUICK BENCH_REPS BENCH_SEQ_MB BENCH_RAND_MB BENCH_RUNTIME BENCH_RW_MB \
	 BENCH_META_FILES BENCH_LIST_FILES BENCH_CONFIGS BENCH_RUN_TIMEOUT \
	 BENCH_SECTIONS BENCH_CONSISTENCY BENCH_STORM_FILES BENCH_MQFUSED BENCH_VIRTIO_LIST_FILES; do
	[ -n "${!v:-}" ] && envs+=" $v='${!v}'"
done
# Section virtio's back-end (run.sh starts it from here) keeps an fd per
# inode the guest remembers: the guest sizes its directory to the limit
# that back-end can reach (it raises its soft limit to the hard one; going
# beyond needs CAP_SYS_RESOURCE).
if [ $virtio = 1 ]; then
	nofile=$(ulimit -Hn)
	[ "$nofile" = unlimited ] && nofile=1048576
	envs+=" BENCH_VUFS_NOFILE=$nofile"
fi

# build_for K LOG: the module, helpers and test programs for kernel K
# (KDIR too: make exports the parent's to us).
# built_for/built_ok: the kernel of the last build and whether it succeeded.
built_for="" built_ok=0
build_for() {
	local k=$1 log=$2 vm
	built_for=$k built_ok=0
	env -u KDIR make -C "$root" all KVER="$k" KDIR="/lib/modules/$k/build" >"$log" 2>&1 ||
		return 1
	# The module the guest loads must be the one for K.
	if ! vm=$(modinfo -F vermagic "$ko" 2>>"$log"); then
		echo "bench: modinfo -F vermagic $ko failed" >>"$log"
		return 1
	fi
	if [ "${vm%% *}" != "$k" ]; then
		echo "bench: $ko has vermagic '${vm%% *}', expected $k" >>"$log"
		return 1
	fi
	# So must the virtio module, which section virtio loads.
	if [ $virtio = 1 ]; then
		if ! vm=$(modinfo -F vermagic "$vko" 2>>"$log"); then
			echo "bench: modinfo -F vermagic $vko failed" >>"$log"
			return 1
		fi
		if [ "${vm%% *}" != "$k" ]; then
			echo "bench: $vko has vermagic '${vm%% *}', expected $k" >>"$log"
			return 1
		fi
	fi
	built_ok=1
}

# finish: on any exit (the end, an error, Ctrl-C, SIGTERM), once: stop a
# running guest, leave the tree built for the default kernel rather than for
# whichever came last, and say so on the last output line.
finished=0 guest_pid=""
finish() {
	local note log
	[ $finished = 0 ] || return
	finished=1
	# A second signal only stops what runs now (the rebuild's make: the
	# note then says it failed); children get the default handling.
	trap ':' INT TERM
	if [ -n "$guest_pid" ]; then
		echo "bench: interrupted: stopping the guest run (pid $guest_pid)" >&2
		kill -TERM "$guest_pid" 2>/dev/null
		wait "$guest_pid" 2>/dev/null
		guest_pid=""
		[ $rc -ne 0 ] || rc=1
	fi
	if [ -z "$built_for" ]; then
		return
	elif [ "$built_for" = "$final_kver" ]; then
		if [ $built_ok = 1 ]; then
			note="the tree is built for $built_for (the default kernel)"
		else
			note="the build for $built_for failed: the tree holds a partial build"
		fi
	elif [ -z "$final_kver" ] || [ ! -d "/lib/modules/$final_kver/build" ]; then
		note="FAILED: cannot rebuild the tree for the default kernel '${final_kver:-none: no 6.1 kernel installed}' (no headers in /lib/modules/${final_kver:-?}/build): the tree holds the build for $built_for"
		[ $built_ok = 1 ] || note="FAILED: cannot rebuild the tree for the default kernel '${final_kver:-none}' (no headers): the build for $built_for failed, the tree holds a partial build"
		[ $rc -ne 0 ] || rc=1
	else
		log=$rundir/build-final-$final_kver.log
		echo "bench: rebuilding the tree for the default kernel $final_kver (the last build was for $built_for)"
		if build_for "$final_kver" "$log"; then
			note="the tree is built for $final_kver again (the default kernel)"
		else
			note="FAILED: rebuilding for $final_kver failed (see $log): the tree holds a partial build"
			[ $rc -ne 0 ] || rc=1
		fi
	fi
	echo "bench: $note"
}
rc=0
trap 'finish; exit $rc' EXIT
trap 'echo "bench: interrupted (SIGINT)" >&2; rc=130; exit 130' INT
trap 'echo "bench: terminated (SIGTERM)" >&2; rc=143; exit 143' TERM

echo "bench: kernels ${kvers[*]}; mode $mode_desc, $smp guest CPUs, commit $commit, timeout ${timeout}s per guest run"
echo "bench: raw output in $rundir"
report_args=()
for k in "${kvers[@]}"; do
	kdir=$rundir/$k
	mkdir -p "$kdir"
	report_args+=(--run "$k" "$kdir/bench/raw.txt")
	echo "bench: ==== kernel $k"
	if [ ! -d "/lib/modules/$k/build" ] || [ ! -r "/boot/vmlinuz-$k" ]; then
		why="kernel not installed (/boot/vmlinuz-$k and /lib/modules/$k/build needed; 'make deps' installs a 6.12 kernel if none)"
		echo "bench: kernel $k: $why" >&2
		report_args+=(--failed "$k" "$why")
		rc=1
		continue
	fi
	log=$rundir/build-$k.log
	t0=$(date +%s)
	if ! build_for "$k" "$log"; then
		why="build failed (see $log)"
		echo "bench: kernel $k: $why:" >&2
		tail -n 20 "$log" | sed 's/^/bench:   /' >&2
		report_args+=(--failed "$k" "$why")
		rc=1
		continue
	fi
	echo "bench: built for $k in $(( $(date +%s) - t0 ))s (log $log)"
	for f in "${BENCH_MQFUSED:-$root/helper/mqfused}" "$root/selftests/libfuse-passthrough/lfpt" \
		 "$here/mdbench" /usr/bin/fio; do
		[ -x "$f" ] || echo "bench: warning: $f is missing; its configurations will be n/a" >&2
	done
	[ $virtio = 1 ] && [ -n "${BENCH_MQFUSED:-}" ] &&
		echo "bench: note: section virtio's back-end is $root/helper/mqfused (run.sh starts it), not BENCH_MQFUSED" >&2
	start=$(date +%s)
	# In the background so that a signal reaches the EXIT trap at once (it
	# stops the guest before rebuilding); run.sh needs no stdin.
	"$root/selftests/vm/run.sh" --kver "$k" --timeout "$timeout" --smp "$smp" --mem "$mem" \
		"${accel_opts[@]}" "${memdebug_opts[@]}" "${vufs_opts[@]}" --save "$kdir" \
		shell "$envs bash \$MQ_ROOT/selftests/bench/guest-bench.sh" &
	guest_pid=$!
	wait "$guest_pid"
	r=$?
	guest_pid=""
	elapsed=$(( $(date +%s) - start ))
	report_args+=(--note "$k" "whole guest run ${elapsed}s wall, run.sh exit $r")
	whys=()
	[ $r -eq 0 ] || whys+=("guest run exited with status $r after ${elapsed}s")
	while IFS= read -r why; do
		whys+=("$why")
	done < <(raw_failures "$k" "$kdir/bench/raw.txt")
	for why in "${whys[@]}"; do
		echo "bench: kernel $k: $why" >&2
		report_args+=(--failed "$k" "$why")
		rc=1
	done
done

results=$outdir/results-$stamp.txt
python3 "$here/report.py" "${report_args[@]}" --commit "$commit" \
	--host-note "mode: $mode_desc; kernels measured one after the other, one guest each" > "$results"
prc=$?
if ! grep -q '^Raw figures per repetition' "$results"; then
	# No report (no kernel produced raw results): report.py said why.
	cat "$results"
	rc=1
	exit 1
fi
# report.py exits 1 when it marks a kernel FAILED (all of bench's reasons
# are passed to it, so this only adds what it found itself).
[ $prc -eq 0 ] || rc=1
{
	for k in "${kvers[@]}"; do
		[ -f "$rundir/$k/bench/raw.txt" ] || continue
		echo
		echo "Raw guest records, kernel $k (selftests/bench/guest-bench.sh format):"
		cat "$rundir/$k/bench/raw.txt"
	done
} >> "$results"
echo
sed -n '/^Raw figures per repetition/q;p' "$results"
echo "bench: full report with raw figures: $results"
[ $rc -eq 0 ] || echo "bench: FAILED: not every kernel was measured cleanly (see FAILED above)" >&2
exit $rc
