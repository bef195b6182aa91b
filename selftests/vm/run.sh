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
#          --timeout SECONDS (whole run; default 3000)   --smp N (default 2)
#          --mem MiB (default 2048)   --keep (keep the run directory)
#          --quiet (do not stream guest output)
#          --save DIR (copy the guest's results share, logs and dmesg to DIR)
#          --qemu-opt 'ARGS' (extra QEMU arguments, e.g. '-icount shift=4')
#          --accel ACCEL (default 'tcg,thread=multi')
#          --env NAME=VALUE (environment for the guest scripts; repeatable)
#          --kernel IMAGE (boot IMAGE, e.g. build/debug-kernel/bzImage)
#          --modules DIR (tree laid over the guest's root: lib/modules/RELEASE)
#
# Test mode prints one TAP line per test, then checks the guest's dmesg for
# BUG/WARN/Oops/general protection/lockdep/KASAN/hung-task lines, and ends
# with "N passed, N failed, N skipped"; exit status 0 only if nothing failed.
# Runs without a terminal or stdin; every wait has a timeout; QEMU is always
# killed on exit.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
kver="" timeout=3000 smp=2 mem=2048 keep=0 quiet=0 save="" qemu_opt="" accel="tcg,thread=multi" guest_env=""
kimage="" kmods=""

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
	-h|--help) sed -n '3,27p' "$0"; exit 0 ;;
	*) break ;;
	esac
done
mode=${1:-test}
[ $# -gt 0 ] && shift
case "$mode" in test|demo|shell) ;; *) echo "run.sh: unknown mode '$mode'" >&2; exit 2 ;; esac

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
qemu_pid=""

cleanup() {
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill -TERM "$qemu_pid" 2>/dev/null
		sleep 1
		kill -KILL "$qemu_pid" 2>/dev/null
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

# Kernel parameters without a dot reach the guest's init as environment.
append="console=ttyS0 loglevel=4 panic=-1 norandmaps tsc=reliable nokaslr MQ_ROOT=$root MQ_MODE=$mode$guest_env"
[ "$mode" = test ] && [ $# -gt 0 ] && append+=" MQ_SUITES=$(IFS=,; echo "$*")"
[ "$mode" = test ] && [ $# -eq 0 ] && [ -n "${MQ_SUITES:-}" ] && append+=" MQ_SUITES=$MQ_SUITES"

start=$(date +%s)
timeout -k 10 "$timeout" qemu-system-x86_64 \
	-nodefaults -no-user-config -nographic -no-reboot \
	-machine q35 -accel "$accel" $qemu_opt \
	-cpu max,la57=off,erms=off,fsrm=off \
	-smp "$smp" -m "$mem" \
	-kernel "$kernel" -initrd "$initrd" -append "$append" \
	-serial "file:$run/console.log" -monitor none \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
	-virtfs "local,path=$results,mount_tag=results,security_model=none" \
	-drive "file=$run/scratch.img,if=virtio,format=raw,cache=unsafe" \
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

if [ "$mode" != test ]; then
	[ "$quiet" -eq 1 ] && cat "$results/output.log" 2>/dev/null
	echo "# guest ran for ${elapsed}s"
	if [ $finished -eq 0 ]; then
		echo "run.sh: the guest did not finish (qemu exit $qemu_rc); console tail:" >&2
		tail -n 40 "$run/console.log" >&2
		cat "$run/qemu.log" >&2
		exit 1
	fi
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
fi

pattern='BUG:|WARNING:|Oops|general protection|lockdep|KASAN|UBSAN|blocked for more than|hung_task|soft lockup|Kernel panic|Call Trace'
logs=("$run/console.log")
[ -f "$results/dmesg.txt" ] && logs+=("$results/dmesg.txt")
bad=$(grep -Eh "$pattern" "${logs[@]}" 2>/dev/null | sort -u)
bad=$(printf '%s\n' "$bad" | grep -v 'RCU lockdep checking is enabled')	# debug kernel's boot banner
if [ -z "$bad" ] && [ -f "$results/dmesg.txt" ]; then
	emit ok "guest: dmesg has no BUG/WARN/Oops/lockdep/KASAN/hung-task lines"
else
	emit "not ok" "guest: dmesg has no BUG/WARN/Oops/lockdep/KASAN/hung-task lines"
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
