#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# mqfused --vhost-user against a fake, hostile vhost-user front-end
# (tests/vhost_hostile.c, no VM): features, memory table and virtqueues;
# FUSE requests through split rings (indirect tables, a 1 MiB WRITE in 256
# descriptors); malformed descriptor chains, each followed by a good
# request; then malformed and refused socket messages, one mqfused per
# case.  mqfused must exit 0 when the front-end closes the socket, 1 after
# a malformed message, never die of a signal and never hang.
# Prints "ok - name" / "not ok - name" / "ok - name # SKIP why" lines;
# exits 1 if anything failed.
set -u
cd "$(dirname "$0")" || exit 1
MQFUSED=../mqfused
PROG=./vhost_hostile

FAILED=0
ok()   { echo "ok - $1"; }
nok()  { echo "not ok - $1"; FAILED=1; }
skip() { echo "ok - $1 # SKIP $2"; }

if [ ! -x "$MQFUSED" ] || ! "$MQFUSED" --help 2>&1 | grep -q -- --vhost-user; then
	nok "vhost-user e2e (../mqfused not built or without --vhost-user)"
	exit 1
fi
if [ ! -x "$PROG" ]; then
	nok "vhost-user e2e (tests/vhost_hostile not built)"
	exit 1
fi

T=$(mktemp -d /tmp/mqfuse-vhost.XXXXXX)
D=$T/dir
mkdir -p "$D"
echo outside > "$T/outside"
printf 'hello from the directory mqfused serves\n' > "$D/hello"
PID=
cleanup() {
	if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
		kill -9 "$PID"
		{ wait "$PID"; } 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT

# start SOCKET LOG: mqfused serving $D on SOCKET (PID); 0 once the socket is there
start() {
	rm -f "$1"
	"$MQFUSED" --vhost-user "$1" -f --log-level info "$D" \
		</dev/null >/dev/null 2>"$2" &
	PID=$!
	for _ in $(seq 100); do
		[ -S "$1" ] && return 0
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# finish TENTHS: wait that long for mqfused to end; RC is its status, or
# "running" (then it was killed)
finish() {
	local n=$1
	while [ "$n" -gt 0 ] && kill -0 "$PID" 2>/dev/null; do
		sleep 0.1
		n=$((n - 1))
	done
	if kill -0 "$PID" 2>/dev/null; then
		kill -9 "$PID"
		{ wait "$PID"; } 2>/dev/null
		RC=running
	else
		{ wait "$PID"; } 2>/dev/null
		RC=$?
	fi
	PID=
}

# how RC reads
status_text() {
	case $RC in
	running) echo "still running 5 s after the front-end left (killed)" ;;
	*)	if [ "$RC" -ge 128 ]; then
			echo "killed by signal $((RC - 128))"
		else
			echo "status $RC"
		fi ;;
	esac
}

logtail() {
	echo "# mqfused log ($1), last lines:"
	tail -n "${2:-15}" "$1" | sed 's/^/#   /'
}

# run_prog ARGS...: vhost_hostile's TAP lines; 1 if anything failed or it
# ended abnormally
run_prog() {
	local out rc
	out=$(timeout -s KILL 300 "$PROG" "$@" 2>&1 </dev/null)
	rc=$?
	printf '%s\n' "$out"
	if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
		nok "vhost_hostile $* ended with status $rc"
	fi
	if [ $rc -ne 0 ] || printf '%s\n' "$out" | grep -q '^not ok'; then
		FAILED=1
		return 1
	fi
	return 0
}

# --- one connection: functional and hostile virtqueues ---
S=$T/vhost.sock
LOG=$T/main.log
if start "$S" "$LOG"; then
	ok "mqfused --vhost-user creates its socket"
	mode=$(stat -c %a "$S")
	if [ "$mode" = 600 ]; then ok "the socket's mode is 0600"
	else nok "the socket's mode is 0600 (it is $mode)"; fi
	run_prog "$S" "$D"
	prc=$?
	finish 50
	if [ "$RC" = 0 ]; then
		ok "mqfused exits 0 when the front-end closes the socket"
	else
		nok "mqfused exits 0 when the front-end closes the socket ($(status_text))"
	fi
	[ $prc -ne 0 ] || [ "$RC" != 0 ] && logtail "$LOG" 25
	if [ "$(cat "$T/outside")" = outside ] && [ ! -e "$T/vhost-escape" ] &&
	   [ -z "$(find "$T" -mindepth 1 -maxdepth 1 ! -name dir ! -name outside \
		   ! -name vhost.sock ! -name main.log)" ]; then
		ok "nothing beside the served directory was created or changed"
	else
		nok "nothing beside the served directory was created or changed"
		ls -la "$T" | sed 's/^/# /'
	fi
else
	nok "mqfused --vhost-user creates its socket"
	logtail "$LOG"
	finish 10
fi

# --- one connection per malformed or refused socket message ---
S=$T/case.sock
ncases=0
while read -r name want; do
	ncases=$((ncases + 1))
	L=$T/case-$name.log
	if ! start "$S" "$L"; then
		nok "case $name: mqfused creates its socket"
		logtail "$L"
		finish 10
		continue
	fi
	run_prog --case "$name" "$S" "$D"
	prc=$?
	finish 50
	case $want in
	0)	expect="0"; good=$([ "$RC" = 0 ] && echo y) ;;
	1)	expect="1 (malformed message)"; good=$([ "$RC" = 1 ] && echo y) ;;
	*)	expect="0 or 1"; good=$([ "$RC" = 0 ] || [ "$RC" = 1 ] && echo y) ;;
	esac
	if [ "$good" = y ]; then
		ok "case $name: mqfused ends with status $RC (expected $expect)"
	else
		nok "case $name: mqfused ends with status $expect ($(status_text))"
	fi
	if [ "$want" = 1 ]; then
		if grep -q ': err: ' "$L"; then ok "case $name: mqfused logs why"
		else nok "case $name: mqfused logs why (no err: line)"; good=n; fi
	fi
	if [ "$name" = log-flood ]; then
		# 1024 malformed requests of an untrusted guest
		lines=$(wc -l < "$L")
		if [ "$lines" -le 100 ]; then
			ok "case $name: 1024 malformed requests do not flood the log ($lines lines)"
		else
			nok "case $name: 1024 malformed requests do not flood the log ($lines lines)"
			good=n
		fi
	fi
	[ "$good" = y ] && [ $prc -eq 0 ] || logtail "$L" 8
done < <("$PROG" --list)
[ $ncases -gt 0 ] || nok "vhost_hostile --list gives the protocol cases"

rm -f "$S"
exit $FAILED
