#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the debug test kernel (lockdep + KASAN + DEBUG_ATOMIC_SLEEP) from
# Debian's linux-source-6.1 with the minimal config in debug-kernel.config,
# then build mqfuse (this generation and the next one) against it.
#
#   debug-kernel.sh [--kernel-only] [--jobs N]
#
# Everything lives under build/debug-kernel/:
#   src/VERSION/linux-source-6.1   the extracted source (keyed by package version)
#   obj/                           O= build directory (rebuilt when the package
#                                  version or the config fragment changes)
#   build.log                      kernel build log
#   bzImage                        the kernel to boot (run.sh --kernel)
#   guest/                         tree laid over the guest's root (run.sh --modules):
#     lib/modules/RELEASE/         modules.builtin etc. (everything is built in,
#                                  so "modprobe ext4" succeeds in the guest)
#     ROOT/mqfuse_vN.ko            mqfuse built against this kernel, at the path
#     ROOT/build/next-gen/...      the suites load it from (ROOT = this checkout)
#     ROOT/selftests/kdelay/mq_kdelay.ko  the race-window widener, same way
#
# The kernel is built once (about 30-60 min on 2 busy cores, niced) and reused;
# the mqfuse modules are rebuilt on every call (seconds).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
kernel_only=0 jobs=$(nproc)
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel-only) kernel_only=1; shift ;;
	--jobs) jobs=$2; shift 2 ;;
	*) echo "usage: debug-kernel.sh [--kernel-only] [--jobs N]" >&2; exit 2 ;;
	esac
done

pkg=linux-source-6.1
tarball=/usr/src/$pkg.tar.xz
fragment=$here/debug-kernel.config
dk=$root/build/debug-kernel
obj=$dk/obj
mkdir -p "$dk"

log() { echo "debug-kernel: $*" >&2; }

if [ ! -r "$tarball" ]; then
	log "installing $pkg"
	if [ "$(id -u)" -eq 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" >&2
	else
		sudo DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" >&2
	fi
fi
ver=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
[ -n "$ver" ] || ver=$(md5sum < "$tarball" | cut -c1-12)

# 1. Source, extracted once per package version.
src=$dk/src/$ver/$pkg
if [ ! -f "$src/.mq-extracted" ]; then
	log "extracting $tarball ($ver)"
	rm -rf "$dk/src"
	mkdir -p "$dk/src/$ver"
	tar -C "$dk/src/$ver" -xf "$tarball"
	touch "$src/.mq-extracted"
fi

# 2. Config and kernel, rebuilt when the version or the fragment changes.
key="$ver $(md5sum < "$fragment" | cut -c1-12)"
kmake() { nice -n 19 make -C "$src" O="$obj" "$@"; }
if [ "$(cat "$obj/.mq-key" 2>/dev/null)" != "$key" ] || [ ! -s "$obj/arch/x86/boot/bzImage" ]; then
	if [ "$(cat "$obj/.mq-key" 2>/dev/null)" != "$key" ]; then
		log "configuring ($key)"
		rm -rf "$obj" "$dk/bzImage" "$dk/guest"
		mkdir -p "$obj"
		kmake -s KCONFIG_ALLCONFIG="$fragment" allnoconfig >&2
		kmake -s olddefconfig >&2
		# Kconfig silently drops a symbol whose dependencies are unmet:
		# every "=y" of the fragment must have survived.
		missing=$(grep -E '^CONFIG_[A-Z0-9_]+=y$' "$fragment" | while read -r l; do
			grep -qx "$l" "$obj/.config" || echo "${l%=y}"
		done)
		if [ -n "$missing" ]; then
			log "config fragment options not set in .config: $(echo $missing)"
			exit 1
		fi
		for l in CONFIG_DEBUG_LOCKING_API_SELFTESTS CONFIG_KUNIT CONFIG_KASAN_KUNIT_TEST; do
			! grep -qx "$l=y" "$obj/.config" || { log "$l must be off"; exit 1; }
		done
		echo "$key" > "$obj/.mq-key"
	fi
	log "building the kernel (log: $dk/build.log)"
	t0=$(date +%s)
	if ! kmake -j"$jobs" bzImage modules > "$dk/build.log" 2>&1; then
		tail -n 30 "$dk/build.log" >&2
		log "kernel build failed"
		exit 1
	fi
	log "kernel built in $(( $(date +%s) - t0 ))s"
fi
release=$(cat "$obj/include/config/kernel.release")
cp "$obj/arch/x86/boot/bzImage" "$dk/bzImage.tmp" && mv "$dk/bzImage.tmp" "$dk/bzImage"

# 3. The guest overlay: modules.builtin & co (no loadable modules exist).
guest=$dk/guest
if [ ! -f "$guest/lib/modules/$release/modules.builtin.bin" ]; then
	rm -rf "$guest"
	mkdir -p "$guest"
	kmake -s INSTALL_MOD_PATH="$guest" modules_install >&2
	rm -f "$guest/lib/modules/$release/build" "$guest/lib/modules/$release/source"
fi
[ "$kernel_only" -eq 1 ] && { echo "$dk/bzImage $release"; exit 0; }

# 4. mqfuse (this generation and the next one, as 'make next-gen' does),
# built from copies of the sources so the normal build is not touched.
gen=$(sed -n 's/^#define[[:space:]]*MQFUSE_GEN[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$root/uapi/mqfuse.h")
rm -rf "$guest/${root#/}"
for g in "$gen" $((gen + 1)); do
	m=$dk/mod-$g
	rm -rf "$m" && mkdir -p "$m"
	cp -r "$root/Kbuild" "$root/uapi" "$root/fs" "$m/"
	sed -i "s/^\(#define[[:space:]]*MQFUSE_GEN[[:space:]]*\)[0-9][0-9]*/\1$g/" "$m/uapi/mqfuse.h"
	make -s -C "$obj" M="$m" W=1 KCFLAGS=-Werror modules >&2 ||
		{ log "mqfuse (generation $g) does not build against $release"; exit 1; }
	if [ "$g" = "$gen" ]; then dest=$guest/${root#/}; else dest=$guest/${root#/}/build/next-gen; fi
	mkdir -p "$dest"
	cp "$m/mqfuse_v$g.ko" "$m/mqfuse_virtio_v$g.ko" "$dest/"
done
# 5. selftests/kdelay's mq_kdelay.ko (badreply's race windows), same way.
m=$dk/mod-kdelay
rm -rf "$m" && mkdir -p "$m"
cp "$root/selftests/kdelay/Kbuild" "$root/selftests/kdelay/mq_kdelay.c" "$m/"
make -s -C "$obj" M="$m" W=1 KCFLAGS=-Werror modules >&2 ||
	{ log "mq_kdelay does not build against $release"; exit 1; }
mkdir -p "$guest/${root#/}/selftests/kdelay"
cp "$m/mq_kdelay.ko" "$guest/${root#/}/selftests/kdelay/"
echo "$dk/bzImage $release"
