#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# posix_test on the guest's ext4 scratch disk: the reference for the suite's
# own expectations. Every check that fails on ext4 is a wrong expectation,
# not a filesystem bug, and ext4 provides every optional feature, so none
# may SKIP (-r lists them all).
. "$(dirname "$0")/../vm/lib.sh"
POSIX=$MQ_TESTS/posix/posix_test
diag "posix_test: $POSIX"
REF=$MQ_SCRATCH/ext4ref
ALL=atime,tmpfile,xattr,fifo,socket,rename_flags,fallocate,punch_hole,zero_range,seek_data,large_file

if ! mq_mounted "$MQ_SCRATCH" ext4; then
	not_ok "$MQ_SCRATCH is an ext4 mount"
	exit 1
fi
mkdir -p "$REF"
chmod 0755 "$REF"
timeout -s KILL "$(mq_tmo 600)" "$POSIX" -r "$ALL" "$REF" 2>&1 |
	sed -u -E 's/^(not ok|ok)( [0-9]+)?( -)? */\1 - ext4: /'
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || not_ok "ext4: posix_test exit status 0 (got $rc)"
# A misspelt feature must be refused, not ignored.
check "posix_test refuses an unknown -r feature" sh -c "'$POSIX' -r no_such_feature '$REF'; [ \$? -eq 2 ]"
# So must a misspelt group (it used to run nothing and exit 0).
check "posix_test refuses an unknown -g group (exit 2)" sh -c "'$POSIX' -g no-such-group '$REF'; [ \$? -eq 2 ]"
rm -rf "$REF"
exit "$rc"
