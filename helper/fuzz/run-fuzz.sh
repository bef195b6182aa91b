#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run the dispatch fuzzer over the in-tree seeds.  New inputs go to a
# scratch corpus (the tree is not written); crash reproducers to
# $FUZZ_ARTIFACTS (default: a scratch dir, printed on failure).
# Usage: run-fuzz.sh [libFuzzer options, e.g. -runs=20000 or -max_total_time=60]
# Prints "# fuzz: N runs, exit S" and exits with libFuzzer's status
# (non-zero on a sanitizer report or a failed check).
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/fuzz_dispatch
[ -x "$bin" ] || { echo "run-fuzz.sh: $bin not built (make -C helper fuzz-build)" >&2; exit 2; }
work=$(mktemp -d /tmp/mqfused-fuzz-corpus.XXXXXX) || exit 2
art=${FUZZ_ARTIFACTS:-$work/artifacts}
mkdir -p "$art"
log=$work/log
"$bin" -artifact_prefix="$art/" -print_final_stats=1 -handle_xfsz=0 \
	-rss_limit_mb=2048 "$@" "$work" "$here/corpus" > "$log" 2>&1
rc=$?
runs=$(sed -n 's/^Done \([0-9]*\) runs in.*/\1/p' "$log" | tail -1)
[ -n "$runs" ] || runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
echo "# fuzz: ${runs:-0} runs, exit $rc"
if [ $rc -ne 0 ] || [ -z "$runs" ] || [ "$runs" -eq 0 ]; then
	tail -40 "$log" | sed 's/^/# /'
	echo "# fuzz: reproducers in $art"
	[ $rc -ne 0 ] || rc=1
else
	rm -rf "$work"
fi
exit $rc
