#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# 'make bench': for each kernel in BENCH_KVERS, one after the other: build
# mqfuse, the helpers and the test programs for that kernel (make all
# KVER=K KDIR=/lib/modules/K/build), boot one guest on it (run.sh --kver K)
# and run guest-bench.sh there, which measures every workload on
# mqfuse+mqfused, stock FUSE (that kernel's fuse.ko)+mqfused, stock
# FUSE+libfuse3 (lfpt) and native ext4 side by side.  Then print one report
# with columns per kernel (medians, ratios taken within each kernel's run
# only, raw repetitions) and keep it in build/bench/results-<date>.txt.
# At the end the tree is rebuilt for the default kernel (KVER, else the
# newest 6.1) if the last build was for another one.
#
# Environment:
#   BENCH_KVERS="K..."   kernel releases to measure (default: the newest
#                        installed 6.1 and the newest installed 6.12, as the
#                        top Makefile's KVER and KVER_612; 'make bench'
#                        passes its own, KVER=/KVER_612= override them)
#   BENCH_MODE=default   multi-threaded TCG (fastest wall clock)
#   BENCH_MODE=icount    single-threaded TCG with -icount shift=$BENCH_ICOUNT_SHIFT
#                        (default 5),sleep=off: guest time follows the number of
#                        instructions executed, not host load.  One guest CPU:
#                        with -smp 2 the guest did not get past early boot in
#                        120 s (shift 3 and 5 tried); with -smp 1, shift 5 boots
#                        in ~14 s wall.
#   BENCH_QUICK=1        tiny sizes, one repetition (development only)
#   BENCH_SMP, BENCH_MEM guest CPUs (default 2; icount: always 1) and MiB
#                        (default 2048)
#   BENCH_TIMEOUT        each guest run, seconds (default 3600, quick 900)
#   BENCH_REPS, BENCH_SEQ_MB, BENCH_RAND_MB, BENCH_RUNTIME, BENCH_RW_MB,
#   BENCH_META_FILES, BENCH_LIST_FILES, BENCH_CONFIGS   passed to the guest
#
# Exit status: 0 when every kernel was built and its guest run completed
# (whatever the figures; some configurations may be "n/a"); 1 when a kernel
# is not installed, its build failed, its guest run failed or did not finish
# (its columns show what it produced, else n/a), or the final rebuild failed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mode=${BENCH_MODE:-default}
quick=${BENCH_QUICK:-0}
smp=${BENCH_SMP:-2}
mem=${BENCH_MEM:-2048}
if [ "$quick" = 1 ]; then timeout=${BENCH_TIMEOUT:-900}; else timeout=${BENCH_TIMEOUT:-3600}; fi

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
# The kernel the tree is left built for (make all's default).
final_kver=${KVER:-$k61}

stamp=$(date +%Y%m%d-%H%M%S)
commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- 2>/dev/null || commit="$commit+dirty"
outdir=$root/build/bench
rundir=$outdir/run-$stamp
mkdir -p "$rundir"

# Pass the BENCH_* knobs through to the guest command.
envs="BENCH_MODE=$mode"
for v in BENCH_QUICK BENCH_REPS BENCH_SEQ_MB BENCH_RAND_MB BENCH_RUNTIME BENCH_RW_MB \
	 BENCH_META_FILES BENCH_LIST_FILES BENCH_CONFIGS BENCH_RUN_TIMEOUT; do
	[ -n "${!v:-}" ] && envs+=" $v='${!v}'"
done

# build_for K LOG: the module, helpers and test programs for kernel K
# (KDIR too: make exports the parent's to us).
# built_for/built_ok: the kernel of the last build and whether it succeeded.
built_for="" built_ok=0
build_for() {
	local k=$1 log=$2 ko vm
	built_for=$k built_ok=0
	env -u KDIR make -C "$root" all KVER="$k" KDIR="/lib/modules/$k/build" >"$log" 2>&1 ||
		return 1
	# The module the guest loads must be the one for K.
	ko=$(ls "$root"/mqfuse_v*.ko 2>/dev/null | head -n1)
	vm=$(modinfo -F vermagic "$ko" 2>/dev/null)
	if [ "${vm%% *}" != "$k" ]; then
		echo "bench: ${ko:-mqfuse_v*.ko} has vermagic '${vm%% *}', expected $k" >>"$log"
		return 1
	fi
	built_ok=1
}

echo "bench: kernels ${kvers[*]}; mode $mode_desc, $smp guest CPUs, commit $commit, timeout ${timeout}s per guest run"
echo "bench: raw output in $rundir"
report_args=()
rc=0
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
	for f in "$root/helper/mqfused" "$root/selftests/libfuse-passthrough/lfpt" \
		 "$here/mdbench" /usr/bin/fio; do
		[ -x "$f" ] || echo "bench: warning: $f is missing; its configurations will be n/a" >&2
	done
	start=$(date +%s)
	"$root/selftests/vm/run.sh" --kver "$k" --timeout "$timeout" --smp "$smp" --mem "$mem" \
		"${accel_opts[@]}" --save "$kdir" \
		shell "$envs bash \$MQ_ROOT/selftests/bench/guest-bench.sh"
	r=$?
	elapsed=$(( $(date +%s) - start ))
	report_args+=(--note "$k" "whole guest run ${elapsed}s wall, run.sh exit $r")
	if [ $r -ne 0 ]; then
		why="guest run exited with status $r after ${elapsed}s"
	elif ! grep -q '^META bench_seconds ' "$kdir/bench/raw.txt" 2>/dev/null; then
		why="guest run did not finish guest-bench.sh (no final record in raw.txt)"
	else
		why=""
	fi
	if [ -n "$why" ]; then
		echo "bench: kernel $k: $why" >&2
		report_args+=(--failed "$k" "$why")
		rc=1
	fi
done

# Leave the tree built for the default kernel, not for whichever came last.
tree_note=""
if [ -z "$built_for" ]; then
	:
elif [ "$built_for" = "$final_kver" ]; then
	if [ $built_ok = 1 ]; then
		tree_note="the tree is built for $built_for (the default kernel)"
	else
		tree_note="the build for $built_for failed: the tree holds a partial build"
	fi
elif [ -n "$final_kver" ] && [ -d "/lib/modules/$final_kver/build" ]; then
	log=$rundir/build-final-$final_kver.log
	echo "bench: rebuilding the tree for the default kernel $final_kver (the last build was for $built_for)"
	if build_for "$final_kver" "$log"; then
		tree_note="the tree is built for $final_kver again (the default kernel)"
	else
		tree_note="rebuilding for $final_kver FAILED (see $log): the tree holds a partial build"
		rc=1
	fi
else
	tree_note="the tree holds the build for $built_for (no default 6.1 kernel to rebuild for)"
	[ $built_ok = 1 ] || tree_note="the build for $built_for failed: the tree holds a partial build"
fi

results=$outdir/results-$stamp.txt
if ! python3 "$here/report.py" "${report_args[@]}" --commit "$commit" \
	--host-note "mode: $mode_desc; kernels measured one after the other, one guest each" > "$results"; then
	cat "$results"
	[ -n "$tree_note" ] && echo "bench: $tree_note"
	exit 1
fi
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
[ -n "$tree_note" ] && echo "bench: $tree_note"
[ $rc -eq 0 ] || echo "bench: FAILED: not every kernel was measured (see FAILED above)" >&2
exit $rc
