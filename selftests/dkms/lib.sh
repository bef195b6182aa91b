# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0
# Shared by selftests/dkms/*.sh (sourced).
DKMS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DKMS_CACHE=${DKMS_CACHE:-$DKMS_TOP/build/dkms-root}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# The kernel installed first (the host's installed 6.1 kernel by default) and
# the one the test upgrades to.
KVER_OLD=${KVER_OLD:-$(ls -1 /lib/modules 2>/dev/null | grep '^6\.1\..*-amd64$' | sort -V | tail -n1)}
KVER_NEW=${KVER_NEW:-6.12.115+deb12-amd64}

# What the cached base root depends on: rebuilt when this changes.
base_key() {
	echo "$KVER_OLD $(cat "$DKMS_TOP/selftests/dkms/mkroot.sh" | md5sum | cut -c1-12)"
}

# in_root ROOT CMD...: CMD under chroot ROOT, with /proc, /sys, /dev and
# /dev/pts mounted in a private mount namespace, so they never appear in the
# host's namespace and disappear when CMD ends, however it ends.
in_root() {
	local r=$1; shift
	[ -d "$r" ] && [ "$r" != / ] || { echo "in_root: bad root '$r'" >&2; return 2; }
	unshare --mount --propagation private -- /bin/sh -euc '
		r=$1; shift
		mount -t proc proc "$r/proc"
		mount -t sysfs sysfs "$r/sys"
		mount --bind /dev "$r/dev"
		mount --bind /dev/pts "$r/dev/pts"
		exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive chroot "$r" "$@"
	' in_root "$r" "$@"
}
