#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS lifecycle test (make test-dkms; long, not part of make test).
#
#   1. a private Debian 12 root, debootstrap'd once and cached under
#      build/dkms-root/base (selftests/dkms/mkroot.sh: dkms, build-essential,
#      linux-image + linux-headers of the 6.1 kernel), copied afresh to
#      build/dkms-root/run for every run;
#   2. in that root (chroot): `make dkms-install` from a copy of the tree,
#      the helpers installed with `make -C helper install`, an
#      /etc/modprobe.d option for the module;
#   3. QEMU boots the root's own 6.1 kernel with the root as its / (9p,
#      read-only, overlay on top): modprobe, the option applied, mount -t
#      mqfuse, file data checks, umount, rmmod (selftests/dkms/guest-root.sh);
#   4. in the root: the 6.12 image and headers .deb files (apt-get download,
#      cached) installed with apt-get; the kernel packages' own hooks must
#      rebuild and install mqfuse: this script runs no dkms command;
#   5. QEMU boots 6.12: the same checks plus a posix_test subset;
#   6. dkms.conf's limits: other kernel lines refused (exit 77); purging the
#      6.12 kernel packages removes that build only (prerm hook);
#   7. in the root: `make dkms-remove`; nothing of mqfuse is left.
#
# apt, dpkg, dkms and make install only ever run under chroot with /proc,
# /sys and /dev mounted in a private mount namespace (selftests/dkms/lib.sh);
# the host's root, /lib/modules and /var/lib/dkms are never written.
# One guest at a time, one CPU. TAP output, plan at the end, exit status 0
# only if every check passed; a failed setup step is a "not ok", and the
# steps that depend on it are not run (also "not ok").
#
# Options: --rebuild (debootstrap the cached root again)   --keep (keep the
# run root and guest directories)   --timeout SECONDS (per guest; 1200)
# Environment: KVER_OLD (default: the host's newest 6.1 kernel),
# KVER_NEW (6.12.115+deb12-amd64), DKMS_POSIX (posix_test groups on 6.12),
# DKMS_POSIX_OLD (groups on 6.1; default the same).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
top=$DKMS_TOP

rebuild="" keep=0 gtimeout=1200
while [ $# -gt 0 ]; do
	case "$1" in
	--rebuild) rebuild=--rebuild; shift ;;
	--keep) keep=1; shift ;;
	--timeout) gtimeout=$2; shift 2 ;;
	-h|--help) sed -n '3,35p' "$0"; exit 0 ;;
	*) echo "test.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "test.sh: needs root (debootstrap, chroot, mounts)" >&2; exit 2; }

DKMS_POSIX=${DKMS_POSIX-open,rename,link,dir,data}
DKMS_POSIX_OLD=${DKMS_POSIX_OLD-$DKMS_POSIX}
GEN=$(sed -n 's/^#define[[:space:]]*MQFUSE_GEN[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$top/uapi/mqfuse.h")
NAME=mqfuse_v$GEN
VER=$(for f in MAJOR MINOR PATCH; do sed -n "s/^#define[[:space:]]*MQFUSE_VERSION_${f}[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$top/uapi/mqfuse.h"; done | paste -sd.)
MAXPAGES=256
run=$DKMS_CACHE/run
logs=$DKMS_CACHE/logs
start=$(date +%s)
qemu_pid=""

cleanup() {
	if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
		kill -TERM "$qemu_pid" 2>/dev/null; sleep 1; kill -KILL "$qemu_pid" 2>/dev/null
	fi
	# in_root's mounts live in private namespaces; this only catches a
	# mount that leaked anyway (never expected).
	local m
	for m in dev/pts dev sys proc; do
		mountpoint -q "$run/$m" 2>/dev/null && umount -l "$run/$m"
	done
	[ "$keep" = 1 ] || rm -rf "$DKMS_CACHE"/guest.*
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass=0 fail=0 skipped=0 n=0
emit() {
	n=$((n + 1))
	echo "$1 $n - $2"
	if [ "$1" != ok ]; then fail=$((fail + 1))
	elif [[ "$2" == *"# SKIP"* ]]; then skipped=$((skipped + 1))
	else pass=$((pass + 1)); fi
}
ok()     { emit ok "$*"; }
not_ok() { emit "not ok" "$*"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; return 1; fi; }
# A step the rest depends on failed: report, and end the run.
bail() {
	not_ok "$*"
	echo "# later steps depend on this one: not run"
	finish
}
finish() {
	local el=$(( $(date +%s) - start ))
	echo "1..$n"
	echo "# $pass passed, $fail failed, $skipped skipped in ${el}s ($(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$top" rev-parse --short HEAD 2>/dev/null))"
	echo "# logs: $logs"
	[ "$fail" -eq 0 ] && exit 0
	exit 1
}
# root_sh LOG 'CMD': CMD under chroot of the run root, output to LOG.
root_sh() {
	local log=$1; shift
	echo "# chroot: $*" >>"$log"
	in_root "$run" /bin/sh -c "$*" >>"$log" 2>&1
}
tail_log() { echo "# ---- tail of $1"; tail -n "${2:-25}" "$1" | sed 's/^/#   /'; }

echo "TAP version 13"
echo "# DKMS lifecycle: $NAME/$VER, $KVER_OLD -> $KVER_NEW, root $run"
[ -n "$KVER_OLD" ] || bail "setup: a 6.1 kernel release (KVER_OLD)"
rm -rf "$logs"; mkdir -p "$logs"

# ---- 1. the private root ----
t0=$(date +%s)
if "$here/mkroot.sh" $rebuild >"$logs/mkroot.log" 2>&1; then
	how="built in $(( $(date +%s) - t0 ))s"
	grep -q '^# cached root' "$logs/mkroot.log" && how=cached
	ok "setup: Debian 12 root with dkms and linux-image/headers-$KVER_OLD ($how: ${DKMS_CACHE#"$top"/}/base)"
else
	tail_log "$logs/mkroot.log"
	bail "setup: Debian 12 root (selftests/dkms/mkroot.sh)"
fi
rm -rf "$run"
cp -a "$DKMS_CACHE/base" "$run" || bail "setup: copy the cached root to $run"
ok "setup: fresh run root copied from the cache"
check "setup: the root has no $NAME yet" sh -c "! ls -d '$run'/var/lib/dkms/$NAME '$run'/usr/src/$NAME-* 2>/dev/null | grep -q ." ||
	bail "setup: clean root"

# The project: the tracked files of the working tree (uncommitted edits included).
mkdir -p "$run/root/mqfuse"
(cd "$top" && git ls-files -z | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
	tar -C "$run/root/mqfuse" -xf - || bail "setup: copy the tree into the root"
[ -f "$run/root/mqfuse/dkms.conf" ] || bail "setup: the tree in the root has dkms.conf"
ok "setup: project tree copied to /root/mqfuse in the root"

# ---- 2. make dkms-install, helpers, modprobe.d ----
if root_sh "$logs/dkms-install.log" "cd /root/mqfuse && nice make dkms-install"; then
	ok "make dkms-install in the root"
else
	tail_log "$logs/dkms-install.log" 40
	bail "make dkms-install in the root"
fi
mod_old=$(ls "$run/lib/modules/$KVER_OLD/updates/dkms/$NAME".ko* 2>/dev/null | head -n1)
check "dkms-install: $NAME under /lib/modules/$KVER_OLD/updates/dkms (${mod_old##*/})" [ -n "$mod_old" ]
check "dkms-install: sources in /usr/src/$NAME-$VER" test -f "$run/usr/src/$NAME-$VER/dkms.conf"
check "dkms-install: depmod indexed it (modules.dep)" grep -q "^updates/dkms/$NAME.ko" "$run/lib/modules/$KVER_OLD/modules.dep"
dkms_status() { in_root "$run" dkms status -m "$NAME" 2>&1 | grep -v '^readelf: Warning' >"$1"; }
dkms_status "$logs/status-1.txt"
check "dkms status: $NAME/$VER, $KVER_OLD: installed ($(tr '\n' ';' <"$logs/status-1.txt"))" \
	grep -q "^$NAME/$VER, $KVER_OLD, x86_64: installed" "$logs/status-1.txt"

# Again: the same version is replaced (removed from DKMS, rebuilt), not refused.
if root_sh "$logs/dkms-install-2.log" "cd /root/mqfuse && nice make dkms-install"; then
	ok "make dkms-install again replaces the installed version"
else
	tail_log "$logs/dkms-install-2.log" 40
	not_ok "make dkms-install again replaces the installed version"
fi
check "dkms-install again: still one $NAME for $KVER_OLD, rebuilt" \
	sh -c "[ \$(ls '$run/lib/modules/$KVER_OLD/updates/dkms/' | grep -c '^$NAME.ko') -eq 1 ] &&
	       grep -q 'already added: removing it first' '$logs/dkms-install-2.log'"
signer=$(modinfo -F signer "$mod_old" 2>/dev/null)
check "dkms-install: dkms signed the module with its MOK key (signer: ${signer:-none})" [ -n "$signer" ]

root_sh "$logs/helper.log" "cd /root/mqfuse && nice make -C helper install && nice make -C selftests/posix" ||
	{ tail_log "$logs/helper.log"; bail "setup: build and install mqfused, mount.mqfuse, posix_test in the root"; }
ok "setup: mqfused and mount.mqfuse installed in the root (make -C helper install), posix_test built"
echo "options $NAME max_pages=$MAXPAGES" > "$run/etc/modprobe.d/$NAME.conf"
ok "setup: /etc/modprobe.d/$NAME.conf: options $NAME max_pages=$MAXPAGES"

# ---- guests ----
# boot KVER TAG POSIX_GROUPS: boot the run root's /boot/vmlinuz-KVER, the
# guest's TAP lines become ours, then the guest-level checks.
boot() {
	local kver=$1 tag=$2 groups=$3 g="$DKMS_CACHE/guest.$2"
	local kernel=$run/boot/vmlinuz-$kver initrd
	rm -rf "$g"; mkdir -p "$g/results" "$g/initrd"; chmod 0777 "$g/results"
	[ -r "$kernel" ] || { not_ok "$tag: setup: $kernel exists"; return 1; }

	# Initramfs: static busybox, the 9p/overlay modules from the root's own
	# /lib/modules (decompressed: busybox insmod takes plain .ko files).
	initrd=$g/initrd
	mkdir -p "$initrd"/{bin,dev,proc,sys,lib/mod,lower,upper,newroot}
	cp /bin/busybox "$initrd/bin/busybox" && cp "$here/init" "$initrd/init" && chmod +x "$initrd/init" ||
		{ not_ok "$tag: setup: initramfs files"; return 1; }
	: > "$initrd/lib/mod/order"
	local ko base
	for m in virtio_pci 9pnet_virtio 9p overlay; do
		modprobe -d "$run" -S "$kver" --show-depends "$m" || echo "FAILED $m"
	done 2>&1 | awk '$1 == "insmod" { print $2 } $1 == "FAILED" { print }' | awk '!seen[$0]++' >"$g/mods"
	if grep -q FAILED "$g/mods"; then not_ok "$tag: setup: 9p/overlay modules of $kver in the root"; return 1; fi
	while read -r ko; do
		base=$(basename "$ko")
		case "$ko" in
		*.ko.xz) xz -dc "$ko" > "$initrd/lib/mod/${base%.xz}"; base=${base%.xz} ;;
		*.ko.zst) zstd -qdc "$ko" > "$initrd/lib/mod/${base%.zst}"; base=${base%.zst} ;;
		*) cp "$ko" "$initrd/lib/mod/" ;;
		esac
		echo "$base" >> "$initrd/lib/mod/order"
	done < "$g/mods"
	(cd "$initrd" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$g/initrd.gz" ||
		{ not_ok "$tag: setup: initramfs"; return 1; }
	truncate -s 2G "$g/scratch.img"
	mkfs.ext4 -q -F "$g/scratch.img" || { not_ok "$tag: setup: scratch disk"; return 1; }

	local append="console=ttyS0 loglevel=5 log_buf_len=8M panic=-1 norandmaps tsc=reliable nokaslr"
	local tsc_khz
	tsc_khz=$( { dmesg 2>/dev/null | sed -n 's/.*tsc: Detected \([0-9.]*\) MHz.*/\1/p';
		     sed -n 's/^cpu MHz[[:space:]]*: \([0-9.]*\)/\1/p' /proc/cpuinfo; } |
		   head -n1 | awk '{ printf "%d", $1 * 1000 }')
	[ "${tsc_khz:-0}" -gt 100000 ] && append+=" tsc_early_khz=$tsc_khz"
	append+=" MQ_SRC=/root/mqfuse DKMS_KVER=$kver DKMS_GEN=$GEN DKMS_MAXPAGES=$MAXPAGES"
	[ -n "$groups" ] && append+=" DKMS_POSIX=$groups"

	local t0 rc
	t0=$(date +%s)
	timeout -k 10 "$gtimeout" qemu-system-x86_64 \
		-nodefaults -no-user-config -nographic -no-reboot \
		-machine q35 -accel tcg,thread=multi \
		-cpu max,la57=off,erms=off,fsrm=off -smp 1 -m 2048 \
		-kernel "$kernel" -initrd "$g/initrd.gz" -append "$append" \
		-serial "file:$g/console.log" -monitor none \
		-virtfs "local,path=$run,mount_tag=dkmsroot,security_model=none,readonly=on,multidevs=remap" \
		-virtfs "local,path=$g/results,mount_tag=results,security_model=none" \
		-drive "file=$g/scratch.img,if=virtio,format=raw,cache=unsafe" \
		</dev/null >"$g/qemu.log" 2>&1 &
	qemu_pid=$!
	wait "$qemu_pid"; rc=$?; qemu_pid=""
	local el=$(( $(date +%s) - t0 ))
	cp "$g/console.log" "$logs/console-$tag.log" 2>/dev/null
	cp "$g/results/output.log" "$logs/guest-$tag.log" 2>/dev/null
	cp "$g/results/dmesg.txt" "$logs/dmesg-$tag.txt" 2>/dev/null

	local line guest_n=0
	if [ -f "$g/results/tap.txt" ]; then
		while IFS= read -r line; do
			case "$line" in
			"not ok - "*) not_ok "${line#not ok - }"; guest_n=$((guest_n + 1)) ;;
			"ok - "*) ok "${line#ok - }"; guest_n=$((guest_n + 1)) ;;
			esac
		done < "$g/results/tap.txt"
	fi
	check "$tag: guest ran its checks ($guest_n)" [ "$guest_n" -gt 0 ]
	if [ -e "$g/results/done" ]; then
		ok "$tag: guest ran to completion in ${el}s"
	else
		not_ok "$tag: guest ran to completion (qemu exit $rc after ${el}s)"
		tail_log "$g/console.log" 40
	fi
	# The kernel log, as selftests/vm/run.sh scans it.
	local pattern='BUG:|BUG [^ ]+ \(|WARNING:|Oops|general protection|KASAN|UBSAN|KFENCE'
	pattern+='|blocked for more than|soft lockup|Kernel panic|Call Trace|Bad page|list_(add|del) corruption|refcount_t:'
	local bad
	bad=$(grep -Eh "$pattern" "$g/console.log" "$g/results/dmesg.txt" 2>/dev/null | tr -d '\r' |
	      grep -Ev 'Command line:' | sort -u)
	if [ -z "$bad" ] && [ -f "$g/results/dmesg.txt" ]; then
		ok "$tag: kernel log has no BUG/WARN/Oops/panic report"
	else
		not_ok "$tag: kernel log has no BUG/WARN/Oops/panic report"
		printf '%s\n' "$bad" | head -n 30 | sed 's/^/#   /'
	fi
	[ -e "$g/results/done" ] && ! grep -q '^not ok' "$g/results/tap.txt"
}

# ---- 3. boot 6.1 ----
boot "$KVER_OLD" "$KVER_OLD" "$DKMS_POSIX_OLD" || echo "# $KVER_OLD guest had failures"

# ---- 4. the kernel upgrade, Debian's way ----
pkgver=${KVER_NEW%-amd64}
debs=$DKMS_CACHE/debs-$KVER_NEW
pkgs="linux-image-$KVER_NEW linux-headers-$KVER_NEW linux-headers-$pkgver-common linux-kbuild-$pkgver"
nwant=$(wc -w <<<"$pkgs")
if [ "$(ls "$debs"/*.deb 2>/dev/null | wc -l)" -lt "$nwant" ]; then
	rm -rf "$run/root/debs" && mkdir -p "$run/root/debs"
	if root_sh "$logs/download.log" "apt-get update && cd /root/debs && apt-get download $pkgs"; then
		rm -rf "$debs" && mkdir -p "$debs" && cp "$run"/root/debs/*.deb "$debs/"
	fi
fi
check "upgrade: apt-get download $pkgs ($(ls "$debs"/*.deb 2>/dev/null | wc -l) files, cached in ${debs#$top/})" \
	[ "$(ls "$debs"/*.deb 2>/dev/null | wc -l)" -ge "$nwant" ] || { tail_log "$logs/download.log"; bail "upgrade: the 6.12 packages"; }
rm -rf "$run/root/debs" && mkdir -p "$run/root/debs" && cp "$debs"/*.deb "$run/root/debs/"
[ -e "$run/lib/modules/$KVER_NEW" ] && bail "upgrade: $KVER_NEW not installed in the root before the upgrade"
stamp=$(date +%s)
sleep 1
# apt-get resolves the rest (compiler, pahole, ...) from the archive; the
# kernel packages' postinst hooks run as on any Debian system.
if root_sh "$logs/upgrade.log" "apt-get update -q && nice apt-get install -y --no-install-recommends /root/debs/*.deb"; then
	ok "upgrade: apt-get install ./linux-image-$KVER_NEW ./linux-headers-$KVER_NEW ... (log: upgrade.log)"
else
	tail_log "$logs/upgrade.log" 40
	bail "upgrade: apt-get install of the $KVER_NEW packages"
fi
grep -E 'dkms|Autoinstall|mqfuse|Building|Installing|run-parts|postinst' "$logs/upgrade.log" | head -n 30 | sed 's/^/#   /'
# Which hook built it: the linux-image postinst runs /etc/kernel/postinst.d/*
# (run-parts --report prints each script's name before its output), the
# headers' postinst /etc/kernel/header_postinst.d/*. mqfuse's "Installing to
# .../KVER_NEW/updates/dkms/" must appear in one of those sections.
hook=$(awk -v inst="Installing to /lib/modules/$KVER_NEW/updates/dkms/" '
	{ sub(/\r$/, "") }
	/^\/etc\/kernel\/[a-z_.]+\/[^ ]+:$/ { sec = $0; sub(/:$/, "", sec) }
	index($0, inst) && sec != "" && !found { print sec; found = 1 }' "$logs/upgrade.log")
check "upgrade: the kernel packages' hook ${hook:-(none)} ran dkms autoinstall for $KVER_NEW and installed $NAME" \
	sh -c "case '$hook' in /etc/kernel/postinst.d/dkms|/etc/kernel/header_postinst.d/dkms) exit 0 ;; *) exit 1 ;; esac &&
	       grep -qF 'dkms: running auto installation service for kernel $KVER_NEW' '$logs/upgrade.log'"
mod_new=$(ls "$run/lib/modules/$KVER_NEW/updates/dkms/$NAME".ko* 2>/dev/null | head -n1)
check "upgrade: $NAME built and installed under /lib/modules/$KVER_NEW/updates/dkms (${mod_new##*/}), no dkms call by this test" \
	[ -n "$mod_new" ]
mklog=$run/var/lib/dkms/$NAME/$VER/$KVER_NEW/x86_64/log/make.log
check "upgrade: its DKMS build log is from the upgrade (make.log newer than the apt-get start)" \
	sh -c "[ -f '$mklog' ] && [ \$(stat -c %Y '$mklog') -ge $stamp ]"
signer=$(modinfo -F signer "$mod_new" 2>/dev/null)
check "upgrade: signed with the same MOK key (signer: ${signer:-none})" [ -n "$signer" ]
check "upgrade: depmod for $KVER_NEW indexed it" grep -q "^updates/dkms/$NAME.ko" "$run/lib/modules/$KVER_NEW/modules.dep"
check "upgrade: the $KVER_OLD build is still installed" test -e "$mod_old"
dkms_status "$logs/status-2.txt"
check "dkms status: installed for both kernels ($(tr '\n' ';' <"$logs/status-2.txt"))" \
	sh -c "grep -q '^$NAME/$VER, $KVER_OLD, x86_64: installed' '$logs/status-2.txt' &&
	       grep -q '^$NAME/$VER, $KVER_NEW, x86_64: installed' '$logs/status-2.txt'"

# ---- 5. boot 6.12 ----
boot "$KVER_NEW" "$KVER_NEW" "$DKMS_POSIX" || echo "# $KVER_NEW guest had failures"

# ---- dkms.conf's build limits: kernels outside the 6.1/6.12 lines refused ----
for k in 5.10.0-30-amd64 6.6.15-amd64 6.13.0-1-amd64; do
	in_root "$run" dkms build -m "$NAME" -v "$VER" -k "$k" >"$logs/exclusive-$k.log" 2>&1
	rc=$?
	check "build limits: dkms build for $k refused by BUILD_EXCLUSIVE_KERNEL (exit $rc, want 77)" \
		sh -c "[ $rc -eq 77 ] && grep -q BUILD_EXCLUSIVE '$logs/exclusive-$k.log'"
done

# ---- removing a kernel package removes its build only (/etc/kernel/prerm.d/dkms) ----
if root_sh "$logs/purge.log" "apt-get purge -y linux-image-$KVER_NEW linux-headers-$KVER_NEW"; then
	ok "kernel removal: apt-get purge linux-image-$KVER_NEW linux-headers-$KVER_NEW"
else
	tail_log "$logs/purge.log"
	not_ok "kernel removal: apt-get purge linux-image-$KVER_NEW linux-headers-$KVER_NEW"
fi
check "kernel removal: the prerm hook removed $NAME for $KVER_NEW" \
	sh -c "grep -qF 'dkms: removing: $NAME $VER ($KVER_NEW)' '$logs/purge.log' &&
	       ! ls '$run/lib/modules/$KVER_NEW/updates/dkms/$NAME'.ko* 2>/dev/null | grep -q ."
dkms_status "$logs/status-purge.txt"
check "kernel removal: dkms status lists $KVER_OLD only ($(tr '\n' ';' <"$logs/status-purge.txt"))" \
	sh -c "grep -q '^$NAME/$VER, $KVER_OLD, x86_64: installed' '$logs/status-purge.txt' &&
	       ! grep -qF '$KVER_NEW' '$logs/status-purge.txt'"
check "kernel removal: the $KVER_OLD module is untouched" test -e "$mod_old"

# ---- 6. make dkms-remove ----
if root_sh "$logs/dkms-remove.log" "cd /root/mqfuse && make dkms-remove"; then
	ok "make dkms-remove in the root"
else
	tail_log "$logs/dkms-remove.log"
	not_ok "make dkms-remove in the root"
fi
check "dkms-remove: no $NAME module left under /lib/modules/*/updates" \
	sh -c "! ls '$run'/lib/modules/*/updates/dkms/$NAME.ko* 2>/dev/null | grep -q ."
check "dkms-remove: /usr/src/$NAME-$VER and /var/lib/dkms/$NAME removed" \
	sh -c "[ ! -e '$run/usr/src/$NAME-$VER' ] && ! ls '$run/var/lib/dkms/$NAME'/*/ 2>/dev/null | grep -q ."
check "dkms-remove: modprobe finds no $NAME for $KVER_OLD (depmod rerun)" \
	sh -c "! modprobe -n -d '$run' -S '$KVER_OLD' '$NAME' 2>/dev/null && ! grep -q '$NAME' '$run/lib/modules/$KVER_OLD/modules.dep'"
dkms_status "$logs/status-3.txt"
check "dkms status: $NAME gone" sh -c "! grep -q . '$logs/status-3.txt'"

[ "$keep" = 1 ] || rm -rf "$run"
finish
