#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The main job, run inside the guest by `make demo`: load mqfuse and show it
# is alive. (Mounting and exercising a filesystem joins once the client and
# the daemon land.)
. "$MQ_ROOT/selftests/vm/lib.sh"
set -e
echo "== kernel $(uname -r), $(nproc) CPUs"
mq_load
echo "== module"
modinfo -F version "$MQ_KO" | sed 's/^/version: /'
grep "^$MQ_NAME " /proc/modules
echo "== names"
grep -w "$MQ_NAME" /proc/filesystems
ls -l "/dev/$MQ_NAME"
echo "sysfs: /sys/fs/$MQ_NAME: generation $(cat /sys/fs/$MQ_NAME/generation), version $(cat /sys/fs/$MQ_NAME/version)"
"$MQ_ROOT/selftests/module/genl_version" "$MQ_NAME" | sed 's/^/netlink: /'
echo "== parameters"
for p in /sys/module/$MQ_NAME/parameters/*; do echo "$(basename "$p") = $(cat "$p")"; done
