#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Ring transport and registered daemon memory (fs/ring.c): ring_test serves
# tinyfs over a ring and misuses it on purpose (hostile descriptors, bad
# ioctl arguments, umem unmapped or unregistered under the kernel, a
# stalled or killed daemon). Every TAP line comes from ring_test; the
# runner's dmesg check catches any oops or warning the kernel gives.
# MQ_RING_SCENARIOS=a,b: only these (ring_test list names them).
. "$(dirname "$0")/../vm/lib.sh"
mq_load || { not_ok "load $MQ_NAME"; exit 1; }
bin=$MQ_TESTS/ring/ring_test
mnt=/tmp/ring-mnt
mkdir -p "$mnt"
fail=0

if [ ! -x "$bin" ]; then
	not_ok "ring_test binary exists ($bin)"
	exit 1
fi
# shellcheck disable=SC2086
timeout -k 5 "$(mq_tmo 400)" "$bin" -t "$MQ_NAME" -d "/dev/$MQ_NAME" -m "$mnt" \
	${MQ_RING_SCENARIOS//,/ }
rc=$?
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	not_ok "ring_test finished without hanging (exit $rc)"
	fail=1
elif [ $rc -gt 128 ]; then
	not_ok "ring_test was killed by signal $((rc - 128))"
	fail=1
elif [ $rc -ne 0 ]; then
	not_ok "ring_test exited with status $rc"
	fail=1
fi
if grep -q " $mnt " /proc/mounts; then
	not_ok "no mount left behind"
	umount -l "$mnt"
	fail=1
else
	ok "no mount left behind"
fi
# Nothing the rings pinned or counted may keep the module (or a session) alive.
if check "rmmod $MQ_NAME after the ring scenarios" rmmod "$MQ_NAME"; then
	mq_load || { not_ok "reload $MQ_NAME"; fail=1; }
else
	fail=1
fi
exit $fail
