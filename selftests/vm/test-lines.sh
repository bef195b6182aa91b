#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The whole suite on each kernel given, one after the other, in this tree:
# build the module, the next generation and the test modules for that
# kernel (make all next-gen KVER=...), run every suite in a guest booting
# it, then the next kernel. The last line sums the runs:
# "N passed, N failed[, N skipped]"; exit 0 only if every run passed.
#   test-lines.sh KVER...      (make test: the newest 6.1 and 6.12)
# A kernel whose build fails, or whose run ends without its summary line,
# counts as a failure; nothing is skipped silently.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -gt 0 ] || { echo "usage: test-lines.sh KVER..." >&2; exit 2; }

total_p=0 total_f=0 total_s=0 rc=0
# Every failure of every kernel, with the diagnostics that follow it, is
# printed again just above the last line: a CI log that keeps only its tail
# still names what failed.
fails=$(mktemp)
trap 'rm -f "$fails"' EXIT
for k in "$@"; do
	echo "# ==== kernel $k"
	log=$root/build/test-lines-build-$k.log
	mkdir -p "$root/build"
	if [ ! -d "/lib/modules/$k/build" ] || [ ! -r "/boot/vmlinuz-$k" ]; then
		echo "not ok - kernel $k: image and headers installed (run 'make deps')" | tee -a "$fails"
		total_f=$((total_f + 1)) rc=1
		continue
	fi
	# KDIR too: make exports the parent's (the first kernel's) to us
	if ! env -u KDIR make -C "$root" all next-gen KVER="$k" KDIR="/lib/modules/$k/build" \
			>"$log" 2>&1; then
		echo "not ok - kernel $k: build (see $log)" | tee -a "$fails"
		tail -n 20 "$log" | sed 's/^/#   /'
		total_f=$((total_f + 1)) rc=1
		continue
	fi
	out=$(mktemp)
	"$root/selftests/vm/run.sh" --kver "$k" test | tee "$out"
	r=${PIPESTATUS[0]}
	sum=$(tail -n 1 "$out")
	# a suite's own "[suite] not ok" with the "[suite] #" lines after it,
	# and run.sh's numbered "not ok N" (with its console tail, if any)
	awk -v k="$k" '
		/^(\[[^]]*\] )?not ok / { n = 6; print "# [" k "] " $0; next }
		n > 0 && /^(\[[^]]*\] )?#/ { n--; print "# [" k "]   " $0; next }
		{ n = 0 }' "$out" >>"$fails"
	rm -f "$out"
	if [[ $sum =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
		total_p=$((total_p + BASH_REMATCH[1]))
		total_f=$((total_f + BASH_REMATCH[2]))
		total_s=$((total_s + ${BASH_REMATCH[4]:-0}))
		echo "# ==== kernel $k: $sum (exit $r)"
	else
		echo "not ok - kernel $k: the run ended with its summary line (exit $r)" | tee -a "$fails"
		total_f=$((total_f + 1))
	fi
	[ "$r" -eq 0 ] || rc=1
done
echo "# ==== all kernels: $*"
if [ -s "$fails" ]; then
	echo "# ==== the failures again ($(grep -cE '^(# \[[^]]*\] )?not ok' "$fails") lines 'not ok'):"
	head -n 200 "$fails"
	echo "# ==== in short (the first 12):"
	grep -E '^(# \[[^]]*\] )?not ok' "$fails" | head -n 12
fi
if [ "$total_s" -gt 0 ]; then
	echo "$total_p passed, $total_f failed, $total_s skipped"
else
	echo "$total_p passed, $total_f failed"
fi
[ "$rc" -eq 0 ] && [ "$total_f" -eq 0 ]
