#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# 'make bench': boot the test guest once and run guest-bench.sh in it, which
# measures every workload on mqfuse+mqfused, stock FUSE+mqfused, stock
# FUSE+libfuse3 (lfpt) and native ext4 side by side; then print the report
# (medians, ratios, raw repetitions) and keep it in
# build/bench/results-<date>.txt.  Build first ('make all'; 'make bench'
# does both).
#
# Environment:
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
#   BENCH_TIMEOUT        whole guest run, seconds (default 3600, quick 900)
#   BENCH_REPS, BENCH_SEQ_MB, BENCH_RAND_MB, BENCH_RUNTIME, BENCH_RW_MB,
#   BENCH_META_FILES, BENCH_LIST_FILES, BENCH_CONFIGS   passed to the guest
#
# Exit status: 0 when a report was produced (whatever its figures; some
# configurations may be "n/a"), 1 when the guest produced no results.
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

for f in "$root/helper/mqfused" "$root/selftests/libfuse-passthrough/lfpt" \
	 "$here/mdbench" /usr/bin/fio; do
	[ -x "$f" ] || echo "bench: warning: $f is missing (run 'make all'); its configurations will be n/a" >&2
done

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

echo "bench: mode $mode_desc, $smp guest CPUs, commit $commit, timeout ${timeout}s"
echo "bench: raw output in $rundir"
start=$(date +%s)
"$root/selftests/vm/run.sh" --timeout "$timeout" --smp "$smp" --mem "$mem" \
	"${accel_opts[@]}" --save "$rundir" \
	shell "$envs bash \$MQ_ROOT/selftests/bench/guest-bench.sh"
rc=$?
elapsed=$(( $(date +%s) - start ))
[ $rc -eq 0 ] || echo "bench: guest run exited with status $rc after ${elapsed}s (partial results follow)" >&2

results=$outdir/results-$stamp.txt
if ! python3 "$here/report.py" "$rundir/bench/raw.txt" --commit "$commit" \
	--stats-dir "$rundir/bench" \
	--host-note "mode: $mode_desc; whole guest run ${elapsed}s wall" > "$results"; then
	cat "$results"
	exit 1
fi
{
	echo
	echo "Raw guest records (selftests/bench/guest-bench.sh format):"
	cat "$rundir/bench/raw.txt"
} >> "$results"
echo
sed -n '/^Raw figures per repetition/q;p' "$results"
echo "bench: full report with raw figures: $results"
exit 0
