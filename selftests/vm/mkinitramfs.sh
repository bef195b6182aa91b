#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the test guest's initramfs: static busybox, the modules needed to mount
# the host's root over 9p with an overlay on top, and copies of the hottest
# files (shell, loader, libc) so the guest does not fetch them over 9p.
# Usage: mkinitramfs.sh KVER OUTPUT
# MQ_GUEST_OVERLAY=DIR (run.sh --modules): a tree laid over the guest's root,
# holding lib/modules/KVER for a kernel not installed on the host.
set -euo pipefail
kver=$1 out=$2 overlay=${MQ_GUEST_OVERLAY:-}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp"/{bin,dev,proc,sys,lib/mod,hot,lower,upper,newroot}
cp /bin/busybox "$tmp/bin/busybox"
cp "$here/init" "$tmp/init"
chmod +x "$tmp/init"

# Modules in dependency order (builtin ones print as "builtin" and are skipped).
: > "$tmp/lib/mod/order"
for m in virtio_pci 9pnet_virtio 9p overlay; do
	modprobe ${overlay:+-d "$overlay"} -S "$kver" --show-depends "$m"
done | awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' |
	while read -r ko; do
		cp "$ko" "$tmp/lib/mod/"
		basename "$ko" >> "$tmp/lib/mod/order"
	done

# Hot files: real paths under the overlay's upper layer.
hot=(/usr/bin/bash /usr/bin/env /usr/bin/cat /usr/bin/grep /usr/bin/sed
     /usr/bin/timeout /usr/bin/sleep /etc/ld.so.cache)
for f in "${hot[@]}"; do
	for dep in "$f" $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*' || true); do
		[ -e "$dep" ] || continue
		real=$(readlink -f "$dep")
		mkdir -p "$tmp/hot$(dirname "$real")"
		cp -n "$real" "$tmp/hot$real" 2>/dev/null || true
	done
done

# The --modules tree, at real paths too (/lib is a symlink on merged-/usr hosts).
[ -z "$overlay" ] || (cd "$overlay" && find . -type f) | while read -r f; do
	real=$(readlink -m "/${f#./}")
	mkdir -p "$tmp/hot$(dirname "$real")"
	cp "$overlay/$f" "$tmp/hot$real"
done

(cd "$tmp" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 > "$out.tmp"
mv "$out.tmp" "$out"
