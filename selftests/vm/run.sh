#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# mqfuse guest runner: boots Debian's 6.1 kernel in QEMU (TCG) with a busybox
# initramfs, the host root shared read-only over 9p (host-built programs run
# in the guest), a fresh ext4 scratch disk and a writable results share.
#
#   run.sh [options] test [SUITE...]   run selftests/SUITE/guest.sh (default: all)
#   run.sh [options] demo              run selftests/vm/demo.sh (the main job)
#   run.sh [options] shell 'CMD'       run a shell command in the guest
#
# Options: --kver KVER (default: newest installed 6.1.*-amd64 with headers)
#          --timeout SECONDS (whole run; default 5400)   --smp N (default 2)
#          --mem MiB (default 2048)   --keep (keep the run directory)
#          --quiet (do not stream guest output)
#          --save DIR (copy the guest's results share, logs and dmesg to DIR)
#          --qemu-opt 'ARGS' (extra QEMU arguments, e.g. '-icount shift=4')
#          --accel ACCEL (default 'tcg,thread=multi')
#          --env NAME=VALUE (environment for the guest scripts; repeatable)
#          --no-memdebug (boot without slub_debug/page_poison/init_on_free)
#          --append 'ARGS' (extra kernel command line arguments)
#          --kernel IMAGE (boot IMAGE, e.g. build/debug-kernel/bzImage)
#          --modules DIR (tree laid over the guest's root: lib/modules/RELEASE)
#          --vhost-user-fs (shell/demo: attach the vhost-user-fs device below)
#
# vhost-user-fs (selftests/virtio): in test mode when the suites to run
# include virtio (named, in MQ_SUITES, or all suites because none was
# named), and with --vhost-user-fs, the runner starts the back-end on the
# host before QEMU: "helper/mqfused --vhost-user RUN/vufs.sock -f
# --log-level info RUN/vufs-share" (log: RESULTS/vufs-mqfused.log), waits
# up to 10 s for its socket (the run fails without it) and gives QEMU
# guest RAM in a shared memfd (-object memory-backend-memfd, size = --mem,
# -machine q35,memory-backend=; --mem must then be a number of MiB) and a
# vhost-user-fs-pci device, tag "mqvirtio", max(2, --smp) request queues of
# 1024 entries. RUN/vufs-share (0755) holds "seed", 1 MiB of random bytes;
# the guest gets MQ_VUFS_SHARE (that host path, also seen through the 9p
# root), MQ_VUFS_SEED (its sha256) and MQ_VUFS_QUEUES, and the share again
# as 9p tag "vufsshare" (read-only, for a view without the root's cache).
# The back-end must exit by itself with status 0 within 5 s of QEMU's end
# and log no crash or sanitizer report: one TAP line in test mode, the exit
# status in shell/demo mode. It is always killed on exit.
#
# Test mode prints one TAP line per test (the guest adds a verdict per suite:
# exit status, Bail out!, plan, min_tests), checks that every suite ran to
# its end, that the kernel log is complete and holds no BUG/WARN/Oops/
# lockdep/KASAN/UBSAN/slub_debug/hung-task report, and ends with
# "N passed, N failed, N skipped"; exit status 0 only if nothing failed.
# Runs without a terminal or stdin; every wait has a timeout; QEMU and the
# vhost-user-fs back-end are always killed on exit.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
kver="" timeout=5400 smp=2 mem=2048 keep=0 quiet=0 save="" qemu_opt="" accel="tcg,thread=multi" guest_env=""
extra_append=""
# Memory debugging of the stock kernel: slab red zones, poisoning and
# owner tracking, and freed pages poisoned/zeroed, so that a use-after-free
# or an overflow is reported (and the dmesg check fails) instead of going
# unnoticed. Measured cost: Documentation/testing.rst.
memdebug="slub_debug=FZPU page_poison=1 init_on_free=1"
kimage="" kmods=""
vufs=0

while [ $# -gt 0 ]; do
	case "$1" in
	--kver) kver=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--quiet) quiet=1; shift ;;
	--save) save=$2; shift 2 ;;
	--qemu-opt) qemu_opt=$2; shift 2 ;;
	--accel) accel=$2; shift 2 ;;
	--kernel) kimage=$2; shift 2 ;;
	--modules) kmods=$(cd "$2" && pwd) || exit 2; shift 2 ;;
	--env)
		case "$2" in
		[A-Za-z_]*=*[[:space:]]*|*.*=*) echo "run.sh: --env takes NAME=VALUE without spaces or dots in NAME" >&2; exit 2 ;;
		[A-Za-z_]*=*) guest_env+=" $2" ;;
		*) echo "run.sh: --env takes NAME=VALUE" >&2; exit 2 ;;
		esac
		shift 2 ;;
	--no-memdebug) memdebug=""; shift ;;
	--append) extra_append+=" $2"; shift 2 ;;
	--vhost-user-fs) vufs=1; shift ;;
	-h|--help) sed -n '3,49p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
mode=${1:-test}
[ $# -gt 0 ] && shift
case "$mode" in test|demo|shell) ;; *) echo "run.sh: unknown mode '$mode'" >&2; exit 2 ;; esac

# The vhost-user-fs back-end: for the virtio suite, or asked for.
if [ "$mode" = test ] && [ "$vufs" -eq 0 ]; then
	if [ $# -gt 0 ]; then
		vufs_suites=,$(IFS=,; echo "$*"),
	elif [ -n "${MQ_SUITES:-}" ]; then
		vufs_suites=,$MQ_SUITES,
	elif [ -f "$root/selftests/virtio/guest.sh" ]; then
		vufs_suites=,virtio,	# all suites
	else
		vufs_suites=
	fi
	case "$vufs_suites" in *,virtio,*) vufs=1 ;; esac
fi
if [ "$vufs" -eq 1 ]; then
	# the memory backend's size is --mem MiB: it must equal -m
	case "$mem" in
	''|*[!0-9]*) echo "run.sh: --mem takes a number of MiB with the vhost-user-fs device (got '$mem')" >&2; exit 2 ;;
	esac
	vufs_queues=2
	case "$smp" in ''|*[!0-9]*) ;; *) [ "$smp" -gt 2 ] && vufs_queues=$smp ;; esac
fi

# --kernel/--modules: another kernel (selftests/vm/debug-kernel.sh builds one);
# its release comes from --modules (lib/modules/RELEASE), laid over the guest root.
if [ -n "$kimage" ] && [ -z "$kver" ]; then
	kver=$(ls -1 "${kmods:-/nonexistent}/lib/modules" 2>/dev/null | head -n1)
	[ -n "$kver" ] || kver=$(file -bL "$kimage" | sed -n 's/.*version \([^ ]*\).*/\1/p')
fi
export MQ_GUEST_OVERLAY=$kmods
if [ -z "$kver" ]; then
	kver=$(ls -1 /lib/modules 2>/dev/null | grep '^6\.1\..*-amd64$' | sort -V | tail -n1)
fi
kernel=${kimage:-/boot/vmlinuz-$kver}
if [ -z "$kver" ] || [ ! -r "$kernel" ]; then
	echo "run.sh: no guest kernel (/boot/vmlinuz-$kver); run 'make deps'" >&2
	exit 2
fi

build=$root/build/vm
mkdir -p "$build"

# Initramfs, rebuilt when its inputs change.
key=$(cat "$here/init" "$here/mkinitramfs.sh" | md5sum | cut -c1-12)
[ -z "$kmods" ] || key=$key-$(cd "$kmods" && find . -type f -exec md5sum {} + | sort | md5sum | cut -c1-12)
initrd=$build/initramfs-$kver-$key.gz
if [ ! -s "$initrd" ]; then
	rm -f "$build"/initramfs-*.gz
	"$here/mkinitramfs.sh" "$kver" "$initrd" || { echo "run.sh: initramfs build failed" >&2; exit 2; }
fi

run=$(mktemp -d "$build/run.XXXXXX")
results=$run/results
mkdir -p "$results"
chmod 0777 "$results"
qemu_pid="" vufs_pid=""

cleanup() {
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill -TERM "$qemu_pid" 2>/dev/null
		sleep 1
		kill -KILL "$qemu_pid" 2>/dev/null
	fi
	[ -n "${vufs_evil_pid:-}" ] && kill -KILL "$vufs_evil_pid" 2>/dev/null
	if [ -n "$vufs_pid" ] && kill -0 "$vufs_pid" 2>/dev/null; then
		kill -TERM "$vufs_pid" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$vufs_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$vufs_pid" 2>/dev/null
	fi
	[ -n "${tail_pid:-}" ] && kill "$tail_pid" 2>/dev/null
	if [ -n "$save" ]; then
		mkdir -p "$save" && cp -r "$results"/. "$save"/ &&
			cp "$run/console.log" "$save"/ 2>/dev/null
	fi
	if [ "$keep" -eq 0 ]; then
		rm -rf "$run"
	else
		echo "# run directory kept: $run"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Fresh scratch disk each run (sparse file, formatted on the host: fast).
truncate -s 8G "$run/scratch.img"
mkfs.ext4 -q -F -E lazy_itable_init=1,lazy_journal_init=1 "$run/scratch.img" ||
	{ echo "run.sh: mkfs.ext4 failed" >&2; exit 2; }

if [ "$mode" = shell ]; then
	printf '%s\n' "$*" > "$results/cmd.sh"
fi

# The vhost-user-fs back-end, started before QEMU, which connects at once.
# A run without it fails here: in test mode with a TAP verdict of its own.
vufs_qemu=() vufs_append="" machine=q35
vufs_log=$results/vufs-mqfused.log vufs_evil_log=$results/vufs-evil.log vufs_evil_pid=""
vufs_start_failed() {
	echo "run.sh: vhost-user-fs back-end: $*" >&2
	echo "run.sh: the back-end's log:" >&2
	tail -n 40 "$vufs_log" 2>/dev/null | sed 's/^/  /' >&2
	if [ "$mode" = test ]; then
		echo "TAP version 13"
		echo "not ok 1 - vhost-user-fs: back-end started: $*"
		tail -n 40 "$vufs_log" 2>/dev/null | sed 's/^/#   /'
		echo "1..1"
		echo "0 passed, 1 failed"
		exit 1
	fi
	exit 2
}
if [ "$vufs" -eq 1 ]; then
	vufs_share=$run/vufs-share vufs_sock=$run/vufs.sock
	# sun_path holds 107 bytes and a NUL
	[ ${#vufs_sock} -le 107 ] ||
		vufs_start_failed "socket path $vufs_sock is longer than 107 bytes"
	[ -x "$root/helper/mqfused" ] ||
		vufs_start_failed "$root/helper/mqfused not built (make -C helper mqfused)"
	mkdir -m 0755 "$vufs_share" || vufs_start_failed "cannot create $vufs_share"
	head -c 1048576 /dev/urandom > "$vufs_share/seed" && chmod 0644 "$vufs_share/seed" ||
		vufs_start_failed "cannot write $vufs_share/seed"
	vufs_seed=$(sha256sum < "$vufs_share/seed" | cut -c1-64)
	"$root/helper/mqfused" --vhost-user "$vufs_sock" -f --log-level info "$vufs_share" \
		</dev/null >"$vufs_log" 2>&1 &
	vufs_pid=$!
	for _ in $(seq 100); do
		[ -S "$vufs_sock" ] && break
		kill -0 "$vufs_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ ! -S "$vufs_sock" ]; then
		if kill -0 "$vufs_pid" 2>/dev/null; then
			vufs_start_failed "no socket $vufs_sock after 10 s"
		fi
		wait "$vufs_pid"
		vufs_rc=$?
		vufs_pid=""
		vufs_start_failed "mqfused exited with status $vufs_rc before creating $vufs_sock"
	fi
	# A second device, tag "mqevil": a hostile back-end (helper/tests/
	# mqfused_evil damages most replies) that the guest's virtio transport
	# must survive. Same rules: it must end by itself, without a crash.
	vufs_evil_sock=$run/vufs-evil.sock
	[ -x "$root/helper/tests/mqfused_evil" ] ||
		vufs_start_failed "$root/helper/tests/mqfused_evil not built (make -C helper)"
	mkdir -m 0755 "$run/vufs-evil" || vufs_start_failed "cannot create $run/vufs-evil"
	MQ_VHOST_EVIL_SEED=3 "$root/helper/tests/mqfused_evil" --vhost-user "$vufs_evil_sock" \
		-f --log-level warn "$run/vufs-evil" </dev/null >"$vufs_evil_log" 2>&1 &
	vufs_evil_pid=$!
	for _ in $(seq 100); do
		[ -S "$vufs_evil_sock" ] && break
		kill -0 "$vufs_evil_pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -S "$vufs_evil_sock" ] || vufs_start_failed "the hostile back-end made no socket $vufs_evil_sock"
	machine=q35,memory-backend=mem
	vufs_qemu=(-object "memory-backend-memfd,id=mem,size=${mem}M,share=on"
		-chardev "socket,id=vufs,path=$vufs_sock"
		-device "vhost-user-fs-pci,chardev=vufs,tag=mqvirtio,num-request-queues=$vufs_queues,queue-size=1024"
		-virtfs "local,path=$vufs_share,mount_tag=vufsshare,security_model=none,readonly=on"
		-chardev "socket,id=vufsevil,path=$vufs_evil_sock"
		-device "vhost-user-fs-pci,chardev=vufsevil,tag=mqevil,num-request-queues=1,queue-size=256")
	vufs_append=" MQ_VUFS_SHARE=$vufs_share MQ_VUFS_SEED=$vufs_seed MQ_VUFS_QUEUES=$vufs_queues"
fi

# loglevel=5: KERN_WARNING and more severe reach the console log (scanned
# even when the guest dies before saving dmesg); log_buf_len: the saved
# dmesg holds the whole run (the default 128 KiB wraps).
# Kernel parameters without a dot reach the guest's init as environment.
append="console=ttyS0 loglevel=5 log_buf_len=8M panic=-1 norandmaps tsc=reliable nokaslr"
[ -n "$memdebug" ] && append+=" $memdebug"
# Under TCG the guest's TSC ticks at the host's rate, but the guest's own
# calibration fails on a busy host (53 MHz measured instead of 2596): its
# clock then runs many times too fast, timeouts in the guest fire early and
# RCU stall and soft-lockup reports appear. Hand it the host's frequency.
tsc_khz=$( { dmesg 2>/dev/null | sed -n 's/.*tsc: Detected \([0-9.]*\) MHz.*/\1/p';
	     sed -n 's/^cpu MHz[[:space:]]*: \([0-9.]*\)/\1/p' /proc/cpuinfo; } |
	   head -n1 | awk '{ printf "%d", $1 * 1000 }')
[ "${tsc_khz:-0}" -gt 100000 ] && append+=" tsc_early_khz=$tsc_khz"
append+="$extra_append MQ_ROOT=$root MQ_MODE=$mode$vufs_append$guest_env"
[ "$mode" = test ] && [ $# -gt 0 ] && append+=" MQ_SUITES=$(IFS=,; echo "$*")"
[ "$mode" = test ] && [ $# -eq 0 ] && [ -n "${MQ_SUITES:-}" ] && append+=" MQ_SUITES=$MQ_SUITES"

start=$(date +%s)
timeout -k 10 "$timeout" qemu-system-x86_64 \
	-nodefaults -no-user-config -nographic -no-reboot \
	-machine "$machine" -accel "$accel" $qemu_opt \
	-cpu max,la57=off,erms=off,fsrm=off \
	-smp "$smp" -m "$mem" \
	-kernel "$kernel" -initrd "$initrd" -append "$append" \
	-serial "file:$run/console.log" -monitor none \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$results,mount_tag=results,security_model=none" \
	-drive "file=$run/scratch.img,if=virtio,format=raw,cache=unsafe" \
	"${vufs_qemu[@]}" \
	</dev/null >"$run/qemu.log" 2>&1 &
qemu_pid=$!

if [ "$quiet" -eq 0 ]; then
	touch "$results/output.log"
	tail -n +1 -F "$results/output.log" --pid="$qemu_pid" 2>/dev/null &
	tail_pid=$!
fi
wait "$qemu_pid"
qemu_rc=$?
qemu_pid=""
[ -n "${tail_pid:-}" ] && { sleep 0.5; kill "$tail_pid" 2>/dev/null; wait "$tail_pid" 2>/dev/null; tail_pid=""; }
elapsed=$(( $(date +%s) - start ))

finished=0
[ -e "$results/done" ] && finished=1

# The back-end ends by itself when QEMU closes the socket: status 0 within
# 5 s, and no crash or sanitizer report in its log. vufs_bad says what was
# wrong (empty: nothing).
# vufs_end PID LOG: sets vufs_bad (empty: it ended well) and vufs_crash.
vufs_end() {
	local pid=$1 log=$2 rc
	vufs_bad="" vufs_crash=""
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		vufs_bad="still running 5 s after QEMU ended (killed)"
		kill -TERM "$pid" 2>/dev/null
		sleep 1
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	else
		wait "$pid"
		rc=$?
		if [ "$rc" -gt 128 ]; then
			vufs_bad="killed by signal $((rc - 128))"
		elif [ "$rc" -ne 0 ]; then
			vufs_bad="exited with status $rc"
		fi
	fi
	vufs_crash=$(grep -Ei -m 20 'crash|sanitizer|runtime error:|^SUMMARY: |stack smashing|double free|free\(\): |malloc\(\): |corrupted (size|double-linked)|segmentation fault|SIGSEGV|SIGBUS|SIGABRT|assertion .*failed|core dumped' "$log")
	[ -n "$vufs_crash" ] && vufs_bad="${vufs_bad:+$vufs_bad; }its log holds a crash report"
}
vufs_bad="" vufs_note="" vufs_evil_bad=""
if [ -n "$vufs_evil_pid" ]; then
	vufs_end "$vufs_evil_pid" "$vufs_evil_log"
	vufs_evil_pid=""
	vufs_evil_bad=$vufs_bad
	[ -n "$vufs_evil_bad" ] && vufs_evil_bad="the hostile back-end (vufs-evil.log): $vufs_evil_bad"
fi
if [ -n "$vufs_pid" ]; then
	vufs_end "$vufs_pid" "$vufs_log"
	vufs_pid=""
	vufs_bad="${vufs_bad}${vufs_bad:+${vufs_evil_bad:+; }}${vufs_evil_bad}"
	vufs_note="$(grep -c . "$vufs_log") log lines"
fi
vufs_report() {	# the back-end's log on failure, as diagnostics
	if [ -s "$run/qemu.log" ]; then
		echo "#   qemu.log:"
		tail -n 10 "$run/qemu.log" | sed 's/^/#     /'
	fi
	[ -n "${vufs_crash:-}" ] && { echo "#   crash lines:"; printf '%s\n' "$vufs_crash" | sed 's/^/#     /'; }
	echo "#   the back-end's log, vufs-mqfused.log (last 40 lines; --save keeps it):"
	tail -n 40 "$vufs_log" | sed 's/^/#     /'
	echo "#   the hostile back-end's log, vufs-evil.log (last 10 lines):"
	tail -n 10 "$vufs_evil_log" 2>/dev/null | sed 's/^/#     /'
}

if [ "$mode" != test ]; then
	[ "$quiet" -eq 1 ] && cat "$results/output.log" 2>/dev/null
	echo "# guest ran for ${elapsed}s"
	if [ -n "$vufs_note" ]; then
		if [ -n "$vufs_bad" ]; then
			echo "run.sh: vhost-user-fs back-end: $vufs_bad" >&2
			vufs_report >&2
		else
			echo "# vhost-user-fs back-end exited by itself with status 0 ($vufs_note, no crash report)"
		fi
	fi
	if [ $finished -eq 0 ]; then
		echo "run.sh: the guest did not finish (qemu exit $qemu_rc); console tail:" >&2
		tail -n 40 "$run/console.log" >&2
		cat "$run/qemu.log" >&2
		exit 1
	fi
	[ -z "$vufs_bad" ] || exit 1
	if grep -Eq '^(demo|shell) exit status: 0$' "$results/output.log"; then
		exit 0
	fi
	exit 1
fi

# Test mode: number the TAP lines, add the guest-level checks, count.
pass=0 fail=0 skipped=0 n=0
emit() {
	local status=$1 rest=$2
	n=$((n + 1))
	echo "$status $n - $rest"
	if [ "$status" = ok ]; then
		case "$rest" in *"# SKIP"*) skipped=$((skipped + 1)) ;; *) pass=$((pass + 1)) ;; esac
	else
		fail=$((fail + 1))
	fi
}

echo "TAP version 13"
if [ -f "$results/tap.txt" ]; then
	while IFS= read -r line; do
		case "$line" in
		"not ok - "*) emit "not ok" "${line#not ok - }" ;;
		"ok - "*) emit ok "${line#ok - }" ;;
		esac
	done < "$results/tap.txt"
fi

if [ "$n" -eq 0 ]; then
	emit "not ok" "guest: ran at least one test"
fi
if [ $finished -eq 1 ]; then
	emit ok "guest: ran to completion in ${elapsed}s"
else
	emit "not ok" "guest: ran to completion (qemu exit $qemu_rc after ${elapsed}s)"
	echo "# console tail:"
	tail -n 60 "$run/console.log" | sed 's/^/#   /'
	if [ -s "$run/qemu.log" ]; then
		echo "# qemu.log:"
		tail -n 20 "$run/qemu.log" | sed 's/^/#   /'
	fi
fi
if [ -n "$vufs_note" ]; then
	if [ -z "$vufs_bad" ]; then
		emit ok "vhost-user-fs: mqfused and the hostile back-end exited by themselves with status 0 after QEMU, no crash report in their logs ($vufs_note)"
	else
		emit "not ok" "vhost-user-fs: mqfused and the hostile back-end exited by themselves with status 0 after QEMU, no crash report in their logs: $vufs_bad"
		vufs_report
	fi
fi

# Every suite asked for must have reached the guest runner's verdict
# (lib.sh writes "end SUITE ..." after its checks of the suite's run).
if [ $# -gt 0 ]; then
	want=("$@")
elif [ -n "${MQ_SUITES:-}" ]; then
	IFS=, read -r -a want <<< "$MQ_SUITES"
else
	want=()
	for d in "$root"/selftests/*/; do
		[ -f "$d/guest.sh" ] && want+=("$(basename "$d")")
	done
fi
for s in "${want[@]}"; do
	[ -f "$root/selftests/$s/guest.sh" ] || continue	# "no such suite" already
	if ! grep -q "^end $s " "$results/suites.txt" 2>/dev/null; then
		emit "not ok" "$s: suite ran to its end"
	fi
done
if [ -f "$results/suites.txt" ]; then
	awk '$1 == "time" { printf "# suite %s: %ss\n", $2, $3 }' "$results/suites.txt"
fi

# The kernel log: the dmesg saved at the end (complete only if the buffer
# did not wrap: it must still hold the first boot line) and the console.
if [ -f "$results/dmesg.txt" ] && grep -q 'Linux version' "$results/dmesg.txt"; then
	emit ok "guest: saved dmesg holds the whole run ($(wc -l < "$results/dmesg.txt") lines)"
else
	emit "not ok" "guest: saved dmesg holds the whole run"
fi
# Kernel reports, as defined in klog.sh (shared with the suites).
. "$here/klog.sh"
logs=("$run/console.log")
[ -f "$results/dmesg.txt" ] && logs+=("$results/dmesg.txt")
bad=$(cat "${logs[@]}" 2>/dev/null | mq_klog_filter)
if [ -z "$bad" ] && [ -f "$results/dmesg.txt" ]; then
	emit ok "guest: kernel log has no BUG/WARN/Oops/lockdep/KASAN/UBSAN/slab/hung-task report"
else
	emit "not ok" "guest: kernel log has no BUG/WARN/Oops/lockdep/KASAN/UBSAN/slab/hung-task report"
	printf '%s\n' "$bad" | head -n 40 | sed 's/^/#   /'
	[ -f "$results/dmesg.txt" ] || echo "#   (no dmesg was saved)"
fi

echo "1..$n"
if [ "$skipped" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skipped skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ]
