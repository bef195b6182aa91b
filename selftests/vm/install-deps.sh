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

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
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
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
