#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the DKMS lifecycle test's private Debian 12 root (cached):
#   build/dkms-root/base   debootstrap bookworm + dkms, build-essential, the
#                          helpers' build dependencies, linux-image and
#                          linux-headers of the 6.1 kernel (KVER_OLD); openssl
#                          so that dkms signs what it builds (its MOK key), as
#                          on an ordinary Debian install.
#   build/dkms-root/base.ok  stamp: written only when every step succeeded.
# Nothing here touches the host's root: apt, dpkg and dkms only ever run
# under chroot, with /proc, /sys and /dev mounted in a private mount
# namespace (they vanish with it, even if this script is killed).
# Usage: mkroot.sh [--rebuild]    (env: KVER_OLD, MIRROR)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# A killed debootstrap can leave proc/sys/dev mounts under the cache: never
# delete through them.
drop_base() {
	if findmnt -rn -o TARGET | grep -q "^$DKMS_CACHE/"; then
		echo "mounts left under $DKMS_CACHE (findmnt): unmount them first" >&2
		exit 1
	fi
	rm -rf --one-file-system "$DKMS_CACHE/base" "$DKMS_CACHE/base.ok"
}
[ "${1:-}" = --rebuild ] && drop_base
if [ -f "$DKMS_CACHE/base.ok" ] && [ "$(cat "$DKMS_CACHE/base.ok")" = "$(base_key)" ]; then
	echo "# cached root: $DKMS_CACHE/base ($(base_key))"
	exit 0
fi
drop_base
mkdir -p "$DKMS_CACHE"
base=$DKMS_CACHE/base

echo "# debootstrap bookworm into $base (several minutes)"
nice unshare --mount --propagation private debootstrap --variant=minbase bookworm "$base" "$MIRROR" >"$DKMS_CACHE/debootstrap.log" 2>&1 ||
	{ echo "debootstrap failed, see $DKMS_CACHE/debootstrap.log" >&2; tail -n 20 "$DKMS_CACHE/debootstrap.log" >&2; exit 1; }

cat > "$base/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main
SRC
# No service starts inside the chroot.
printf '#!/bin/sh\nexit 101\n' > "$base/usr/sbin/policy-rc.d"
chmod 0755 "$base/usr/sbin/policy-rc.d"
echo dkms-root > "$base/etc/hostname"
cp /etc/resolv.conf "$base/etc/resolv.conf"

echo "# apt-get install dkms, build tools, linux-image/headers-$KVER_OLD"
in_root "$base" sh -c "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
	dkms openssl build-essential kmod procps util-linux psmisc liburing-dev libseccomp-dev \
	libnl-3-dev libnl-genl-3-dev \
	linux-image-$KVER_OLD linux-headers-$KVER_OLD && apt-get clean" \
	>"$DKMS_CACHE/apt-base.log" 2>&1 ||
	{ echo "apt-get in the root failed, see $DKMS_CACHE/apt-base.log" >&2; tail -n 30 "$DKMS_CACHE/apt-base.log" >&2; exit 1; }
[ -e "$base/lib/modules/$KVER_OLD/build/include" ] || { echo "no headers for $KVER_OLD in $base" >&2; exit 1; }
[ -r "$base/boot/vmlinuz-$KVER_OLD" ] || { echo "no $base/boot/vmlinuz-$KVER_OLD" >&2; exit 1; }
base_key > "$DKMS_CACHE/base.ok"
echo "# root ready: $base"
