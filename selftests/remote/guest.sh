#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Remote storage over TCP (issue 13): mqfuse-server in network namespace
# "mqsrv" serves a directory over a veth pair; mqfused mounts it on mqfuse
# in the root namespace (tcp://10.77.0.2:7419).  The POSIX suite and the
# integrity verifier pass over the network; connections killed under load
# are reconnected with nothing lost or done twice; a hostile client and a
# wrong secret are refused with no crash.
. "$(dirname "$0")/../vm/lib.sh"
H=$MQ_HELPER
POSIX=$MQ_TESTS/posix/posix_test
VERIFY=$MQ_TESTS/fsx/mqverify
HOSTILE=$H/tests/remote_hostile
W=$MQ_SCRATCH/remote
SRC=$W/store/dir MNT=/mnt/remote
NS=mqsrv ADDR=10.77.0.2:7419
plan 22

mq_load || { not_ok "load $MQ_NAME"; exit 1; }
rm -rf "$W"
mkdir -p "$SRC" "$MNT"
chmod 755 "$W" "$W/store" "$SRC"
echo outside > "$W/store/sentinel"
head -c 48 /dev/urandom | base64 > "$W/secret"
head -c 48 /dev/urandom | base64 > "$W/wrong"
chmod 600 "$W/secret" "$W/wrong"

# --- two namespaces, one veth pair ---
modprobe veth 2>/dev/null
modprobe inet_diag 2>/dev/null; modprobe tcp_diag 2>/dev/null
ip netns del $NS 2>/dev/null
if ! check "network namespace $NS joined by veth 10.77.0.1 <-> 10.77.0.2" sh -c "
	ip netns add $NS && ip link add mqv0 type veth peer name mqv1 &&
	ip link set mqv1 netns $NS && ip addr add 10.77.0.1/24 dev mqv0 &&
	ip link set mqv0 up && ip -n $NS addr add 10.77.0.2/24 dev mqv1 &&
	ip -n $NS link set mqv1 up && ip -n $NS link set lo up &&
	busybox ping -c 1 -W 5 10.77.0.2 >/dev/null"; then
	exit 1
fi

ip netns exec $NS "$H/mqfuse-server" --listen "$ADDR" --secret-file "$W/secret" \
	--ready-file "$W/ready" --linger 2 --log-level info "$SRC" 2>"$W/server.log" &
SPID=$!
for _ in $(seq 100); do [ -s "$W/ready" ] && break; sleep 0.1; done
check "mqfuse-server listens on $ADDR in $NS" [ -s "$W/ready" ]

# --- refusals ---
"$H/mqfused" --fs mqfuse --secret-file "$W/wrong" "tcp://$ADDR" "$MNT" 2>"$W/wrong.err"
check "wrong secret: mqfused fails, the server is not trusted, nothing mounted" \
	sh -c "[ $? -ne 0 ] && grep -q 'does not know the secret' '$W/wrong.err'"
check "wrong secret: nothing mounted" sh -c "! awk '\$2 == \"$MNT\"' /proc/mounts | grep -q ."

# a successor could not take a tcp:// session over: recovery= is refused
"$H/mqfused" --fs mqfuse --secret-file "$W/secret" -o recovery=5 "tcp://$ADDR" "$MNT" 2>"$W/rec.err"
check "tcp:// with -o recovery=: refused with a message, nothing mounted" \
	sh -c "[ $? -eq 2 ] && grep -q 'no recovery=' '$W/rec.err' && ! awk '\$2 == \"$MNT\"' /proc/mounts | grep -q ."

# --- mount over the network ---
echo hello > "$SRC/pre"
"$H/mqfused" -f --fs mqfuse --secret-file "$W/secret" \
	-o "queues=$(nproc),allow_other,default_permissions" \
	"tcp://$ADDR" "$MNT" 2>"$W/client.log" &
CPID=$!
if ! check "mqfused mounts tcp://$ADDR on $MQ_NAME" mq_wait_mounted "$MNT"; then
	diag "$(cat "$W/client.log")"
	kill $CPID $SPID 2>/dev/null
	ip netns del $NS
	exit 1
fi
check "a file of the server's directory reads through the mount" \
	sh -c "[ \"\$(cat $MNT/pre)\" = hello ]"
sd=$(mq_session_dir "$MNT")
check "the session serves on the char device (sysfs transport dev, got '$(cat "$sd/transport" 2>/dev/null)')" \
	[ "$(cat "$sd/transport" 2>/dev/null)" = dev ]

ulimit -n 8192
features=rename_flags,fallocate,punch_hole,zero_range,seek_data,xattr
out=$(timeout "$(mq_tmo 900)" "$POSIX" -r "$features" -b "$SRC" "$MNT" 2>&1)
rc=$?
summary=$(printf '%s\n' "$out" | grep -E '^# [0-9]+ passed' | tail -1)
if [ $rc -eq 0 ]; then
	ok "posix_test over tcp:// (${summary#\# })"
else
	not_ok "posix_test over tcp:// (exit $rc; ${summary#\# })"
	printf '%s\n' "$out" | grep -A3 '^not ok' | head -60 | sed 's/^/# /'
fi

run_verify() {	# run_verify NAME ARGS...
	local name=$1
	shift
	if timeout "$(mq_tmo 900)" "$VERIFY" "$@" "$MNT" > "$W/verify.log" 2>&1; then
		ok "$name ($(grep -E '^# [0-9]+ ops' "$W/verify.log" | sed 's/^# //'))"
	else
		not_ok "$name"
		tail -30 "$W/verify.log" | sed 's/^/# /'
	fi
}
run_verify "verifier over tcp://: 10000 ops, 4 files" -s 11 -n 10000 -f 4
run_verify "verifier over tcp://: O_DIRECT, 3000 ops, 2 files" -d -s 12 -n 3000 -f 2

# --- connections killed under load ---
"$VERIFY" -s 13 -n 8000 -f 2 "$MNT" > "$W/verify-kill.log" 2>&1 &
VPID=$!
killed=0
for _ in 1 2 3 4 5 6 7 8; do
	sleep 1
	kill -0 $VPID 2>/dev/null || break
	n=$(ss -K dst 10.77.0.2 dport = :7419 2>/dev/null | grep -c ESTAB)
	killed=$((killed + n))
done
wait $VPID
rc=$?
check "verifier while $killed connection(s) were killed: no error, no mismatch" \
	sh -c "[ $rc -eq 0 ] && [ $killed -gt 0 ]"
[ $rc -ne 0 ] && tail -20 "$W/verify-kill.log" | sed 's/^/# /'
check "the client reconnected and sent the unanswered requests again" \
	grep -q 'back after .* sent again' "$W/client.log"
grep -E 'back after' "$W/client.log" | head -5 | sed 's/^/# /'

# --- a hostile client ---
out=$("$HOSTILE" "$ADDR" "$W/secret" "$W/wrong" 1500 "$SRC" 2>&1)
rc=$?
check "hostile client refused or answered, no crash ($(printf '%s\n' "$out" | tail -1 | sed 's/^# //'))" \
	[ $rc -eq 0 ]
[ $rc -ne 0 ] && printf '%s\n' "$out" | grep '^not ok' | sed 's/^/# /'
check "the server still runs" kill -0 $SPID
check "no server worker died or failed" sh -c "! grep -q 'ended with status' '$W/server.log'"
check "nothing outside the served directory changed" \
	sh -c "[ \"\$(cat $W/store/sentinel)\" = outside ] && [ \$(ls -A $W/store | wc -l) = 2 ]"
check "the mount still serves" sh -c "[ \"\$(cat $MNT/pre)\" = hello ]"

# --- the end ---
umount "$MNT" || umount -l "$MNT"
for _ in $(seq 50); do kill -0 $CPID 2>/dev/null || break; sleep 0.1; done
check "mqfused exits on umount" sh -c "! kill -0 $CPID 2>/dev/null"
wait $CPID
check "mqfused exit status 0" [ $? -eq 0 ]
for _ in $(seq 60); do [ -z "$(pgrep -P $SPID)" ] && break; sleep 0.1; done
check "the session's worker ends --linger after its last connection" [ -z "$(pgrep -P $SPID)" ]
kill $SPID
wait $SPID
check "mqfuse-server exits 0 on SIGTERM" [ $? -eq 0 ]
ip netns del $NS
