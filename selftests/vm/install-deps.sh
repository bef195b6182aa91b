#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install what building and testing mqfuse needs, from Debian's packages.
# Idempotent and fast when everything is present (one dpkg query, no apt).
set -euo pipefail

KVER_PKG_IMAGE=linux-image-amd64
KVER_PKG_HEADERS=linux-headers-amd64
PKGS=(
	build-essential make gcc kmod cpio gzip e2fsprogs util-linux procps coreutils
	qemu-system-x86 busybox-static sparse dkms pkg-config
	"$KVER_PKG_IMAGE" "$KVER_PKG_HEADERS"
	liburing-dev libseccomp-dev libfuse3-dev fuse3 fio python3
	libnl-3-dev libnl-genl-3-dev attr acl
	clang libclang-rt-14-dev
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done

# The guest kernel and its headers must be the same ABI.
if [ ${#missing[@]} -eq 0 ] &&
   ! ls -d /lib/modules/6.1.*-amd64/build >/dev/null 2>&1; then
	missing+=("$KVER_PKG_HEADERS")
fi

# The 6.12 line (make test runs the suite on both lines): the image and
# headers of one release. Preferred: the release the suite was last run on
# (Documentation/testing.rst); else the newest pair the archive has.
KVER_612_PREFERRED=6.12.115+deb12-amd64
have_612() { ls -d /lib/modules/6.12.*+deb12-amd64/build >/dev/null 2>&1 &&
	ls /boot/vmlinuz-6.12.*+deb12-amd64 >/dev/null 2>&1; }
need_612=0
have_612 || need_612=1

if [ ${#missing[@]} -eq 0 ] && [ $need_612 = 0 ]; then
	exit 0
fi

echo "install-deps: installing ${missing[*]}$([ $need_612 = 0 ] || echo ' and a 6.12 kernel')" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: need root to install packages" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
stamp=/var/lib/apt/periodic/mqfuse-update-stamp
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +360 2>/dev/null)" ]; then
	apt-get update -q >&2
	mkdir -p "$(dirname "$stamp")" && touch "$stamp"
fi
if [ $need_612 = 1 ]; then
	pick=""
	for v in "$KVER_612_PREFERRED" $(apt-cache pkgnames linux-headers-6.12. 2>/dev/null |
			sed -n 's/^linux-headers-\(6\.12\.[0-9]*+deb12-amd64\)$/\1/p' | sort -rV); do
		if apt-cache show "linux-image-$v" >/dev/null 2>&1 &&
		   apt-cache show "linux-headers-$v" >/dev/null 2>&1; then
			pick=$v
			break
		fi
	done
	if [ -z "$pick" ]; then
		echo "install-deps: no linux-image/linux-headers 6.12.*+deb12-amd64 pair in the archive" >&2
		exit 1
	fi
	missing+=("linux-image-$pick" "linux-headers-$pick")
fi
[ ${#missing[@]} -eq 0 ] || apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
if ! have_612; then
	echo "install-deps: the 6.12 kernel image and headers are still missing" >&2
	exit 1
fi
