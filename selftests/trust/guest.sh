#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Trust boundary 2 (DESIGN.md §3): an unprivileged client cannot escalate
# through mqfused.  Mounts mqfused with allow_other, with and without
# default_permissions, on mqfuse and on stock FUSE, over an ext4 backing
# directory, and acts as uid 1000 (setpriv) against root-owned files:
# ACL and xattr changes, chmod/chown/truncate/write, creation in a root
# directory, device nodes.  Also runs the daemon's unit tests (names,
# device nodes, inode lifetime, credentials) and a short fuzzing run.
# TRUST_FS="fuse mqfuse" selects the kernel sides (default both).
. "$(dirname "$0")/../vm/lib.sh"
H=${TRUST_HELPER:-$MQ_HELPER}
FSLIST=${TRUST_FS:-mqfuse fuse}
SCRATCH=${MQ_SCRATCH:-/tmp}
U=1000
U2=1001

as_user() { setpriv --reuid=$U --regid=$U --clear-groups "$@"; }
as_user2() { setpriv --reuid=$U2 --regid=$U2 --clear-groups "$@"; }
# fails_as_user NAME CMD...: CMD run as uid 1000 must fail.
fails_as_user() {
	local name=$1 out
	shift
	if out=$(as_user "$@" 2>&1); then
		not_ok "$name"
		diag "uid $U could: $*"
		return 1
	fi
	ok "$name (${out##*: })"
}
# fails_eperm_as_user NAME CMD...: must fail with "Operation not permitted".
fails_eperm_as_user() {
	local name=$1 out
	shift
	if out=$(as_user "$@" 2>&1); then
		not_ok "$name"
		diag "uid $U could: $*"
		return 1
	fi
	case "$out" in
	*"Operation not permitted"*) ok "$name (EPERM)" ;;
	*) not_ok "$name"; diag "expected EPERM: $out" ;;
	esac
}
# fails_eopnotsupp NAME CMD...: CMD run as root must fail with EOPNOTSUPP.
fails_eopnotsupp() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		not_ok "$name"
		diag "root could: $*"
		return 1
	fi
	case "$out" in
	*"Operation not supported"*) ok "$name (EOPNOTSUPP)" ;;
	*) not_ok "$name"; diag "expected EOPNOTSUPP: $out" ;;
	esac
}
# has_acl_entry FILE ENTRY [-d]: getfacl of FILE lists ENTRY (e.g. user:1000:rw-).
has_acl_entry() {
	getfacl -c -n $3 "$1" 2>/dev/null | sed 's/[[:space:]]*#.*//' | grep -qx "$2"
}
backend_state() {	# owner, mode, content, ACL of a backend file
	stat -c '%u:%g %a %s' "$1"
	cat "$1"
	getfacl -c -p "$1" 2>/dev/null | grep -v '^$'
}

for tool in setpriv setfacl getfacl setfattr; do
	command -v $tool >/dev/null || { not_ok "trust: $tool available"; exit 1; }
done

# --- daemon unit tests (names, device nodes, lifetime, credentials) ---
if [ -x "$H/tests/unit_test" ]; then
	out=$(TMPDIR=$MQ_SCRATCH "$H/tests/unit_test" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -E '^(ok|not ok) - (trust|groups|names|devnodes|lifetime):'
	[ $rc -eq 0 ] || not_ok "unit_test exits 0 (exit $rc)"
	printf '%s\n' "$out" | grep -q '^ok - names:' ||
		not_ok "unit_test ran the names tests"
else
	not_ok "helper/tests/unit_test built"
fi

# --- short fuzzing run of the request dispatch ---
if [ -x "$H/fuzz/fuzz_dispatch" ]; then
	out=$("$H/fuzz/run-fuzz.sh" -max_total_time=${TRUST_FUZZ_SECONDS:-30} 2>&1)
	rc=$?
	runs=$(printf '%s\n' "$out" | sed -n 's/^# fuzz: \([0-9]*\) runs.*/\1/p')
	if [ $rc -eq 0 ] && [ "${runs:-0}" -gt 0 ]; then
		ok "fuzz: dispatch, $runs runs in ${TRUST_FUZZ_SECONDS:-30}s, no sanitizer report"
	else
		not_ok "fuzz: dispatch (exit $rc, ${runs:-0} runs)"
		printf '%s\n' "$out" | tail -30 | sed 's/^/# /'
	fi
else
	not_ok "fuzz: dispatch: helper/fuzz/fuzz_dispatch built (make deps installs clang)"
fi

for fs in $FSLIST; do
	if [ $fs = mqfuse ]; then
		mq_load || { not_ok "$fs: load $MQ_NAME"; continue; }
	else
		modprobe fuse 2>/dev/null
	fi
	for perm in default_permissions no_default_permissions; do
		t="$fs/$perm"
		src=$SCRATCH/trust-$fs-$perm mnt=/mnt/trust-$fs-$perm
		rm -rf "$src"
		mkdir -p "$src/pub" "$mnt"
		chmod 755 "$src"
		chmod 1777 "$src/pub"
		echo secret > "$src/secret"
		chown 0:0 "$src/secret"
		chmod 600 "$src/secret"
		mknod "$src/kmsg" c 1 11 && chmod 666 "$src/kmsg"
		before=$(backend_state "$src/secret")
		opts="-o allow_other,nodev"
		[ $perm = no_default_permissions ] && opts="$opts --no-default-permissions"
		if ! "$H/mqfused" --fs $fs $opts "local:$src" "$mnt"; then
			not_ok "$t: mqfused mounts"
			continue
		fi
		pid=$(pgrep -n -x mqfused)
		check "$t: uid $U sees the mount" as_user ls "$mnt"

		# Issue 8 item 3: setfacl as uid 1000 on root's 0600 file.
		if [ $fs = mqfuse ] && [ $perm = no_default_permissions ]; then
			# the backing store decides, as the caller
			fails_eperm_as_user "$t: setfacl -m u:$U:rw on root's 0600 file" \
				setfacl -m u:$U:rw "$mnt/secret"
		else	# the kernel refuses ACL names it cannot enforce (as FUSE does without FUSE_POSIX_ACL)
			fails_as_user "$t: setfacl -m u:$U:rw on root's 0600 file" \
				setfacl -m u:$U:rw "$mnt/secret"
		fi
		fails_as_user "$t: setfattr system.posix_acl_access on root's file" \
			setfattr -n system.posix_acl_access -v 0sAgAAAAEABgD/////AgAGAOgDAAAEAAAA/////xAABgD/////IAAAAP////8= "$mnt/secret"
		fails_eperm_as_user "$t: chmod 666 of root's file" chmod 666 "$mnt/secret"
		fails_eperm_as_user "$t: chown $U of root's file" chown $U "$mnt/secret"
		fails_as_user "$t: truncate of root's 0600 file" truncate -s 0 "$mnt/secret"
		fails_as_user "$t: append to root's 0600 file" sh -c "echo evil >> '$mnt/secret'"
		fails_as_user "$t: read of root's 0600 file" cat "$mnt/secret"
		fails_as_user "$t: touch -d of root's file" touch -d 2001-01-01 "$mnt/secret"
		fails_as_user "$t: rm of root's file in root's 0755 dir" rm -f "$mnt/secret"
		fails_as_user "$t: create in root's 0755 dir" sh -c "echo x > '$mnt/new'"
		check "$t: backend file unchanged (owner, mode, content, ACL)" \
			test "$(backend_state "$src/secret")" = "$before"
		check "$t: nothing created in the backend root" test ! -e "$src/new"

		# What uid 1000 may do, it still can, as itself.
		check "$t: uid $U creates in a 1777 dir" as_user sh -c "echo mine > '$mnt/pub/own'"
		check "$t: the backend file belongs to uid $U" \
			test "$(stat -c %u:%g "$src/pub/own" 2>/dev/null)" = "$U:$U"
		fails_eperm_as_user "$t: trusted.* on its own file" \
			setfattr -n trusted.t -v 1 "$mnt/pub/own"
		fails_eperm_as_user "$t: security.* on its own file" \
			setfattr -n security.t -v 1 "$mnt/pub/own"
		check "$t: backend has no trusted.t" \
			sh -c "! getfattr -n trusted.t '$src/pub/own' 2>/dev/null | grep -q trusted"
		check "$t: uid $U chmods its own file" as_user chmod 640 "$mnt/pub/own"
		if [ $fs = mqfuse ] && [ $perm = no_default_permissions ]; then
			# Issue 12: on 6.2+ ACLs take ->get_acl/->set_acl, not the xattr handler.
			check "$t: uid $U sets an ACL on its own file" \
				as_user setfacl -m u:$U:rw "$mnt/pub/own"
			check "$t: getfacl through the mount shows the new entry" \
				has_acl_entry "$mnt/pub/own" user:$U:rw-
			check "$t: the backend file carries the ACL" \
				has_acl_entry "$src/pub/own" user:$U:rw-
			check "$t: the ACL mask shows at once in the group bits (640 -> 660)" \
				test "$(stat -c %a "$mnt/pub/own")" = 660
			out=$(as_user2 setfacl -m u:$U2:rw "$mnt/pub/own" 2>&1) && rc=0 || rc=$?
			case "$rc:$out" in
			0:*) not_ok "$t: uid $U2 cannot set an ACL on uid $U's file"
			     diag "uid $U2 could: setfacl -m u:$U2:rw" ;;
			*"Operation not permitted"*) ok "$t: uid $U2 cannot set an ACL on uid $U's file (EPERM)" ;;
			*) not_ok "$t: uid $U2 cannot set an ACL on uid $U's file"
			   diag "expected EPERM: $out" ;;
			esac
			check "$t: the backend ACL has no entry for uid $U2" \
				sh -c "! getfacl -c -n '$src/pub/own' 2>/dev/null | grep -q 'user:$U2:'"
			check "$t: uid $U removes the access ACL (removexattr)" \
				as_user setfattr -x system.posix_acl_access "$mnt/pub/own"
			check "$t: getfacl shows the entry gone" \
				sh -c "! getfacl -c -n '$mnt/pub/own' 2>/dev/null | grep -q 'user:$U:'"
			check "$t: uid $U sets a default ACL on its own directory" \
				as_user sh -c "mkdir '$mnt/pub/dacl' && setfacl -d -m u:$U:rwx '$mnt/pub/dacl'"
			check "$t: getfacl -d through the mount shows it" \
				has_acl_entry "$mnt/pub/dacl" user:$U:rwx -d
			check "$t: uid $U creates a file in it (umask 022)" \
				as_user sh -c "umask 022 && touch '$mnt/pub/dacl/f'"
			check "$t: the new file inherits the entry" \
				sh -c "getfacl -c -n '$src/pub/dacl/f' | grep -q '^user:$U:rwx'"
			# POSIX.1e: under a default ACL the umask gives way to the
			# ACL. The reference is the backing filesystem itself, in a
			# twin directory, and it must say 664 (so the comparison
			# cannot pass with both sides wrong).
			check "$t: uid $U makes a file and a dir under a default ACL on the backing fs" \
				as_user sh -c "mkdir '$src/pub/dacl-ref' && setfacl -d -m u:$U:rwx '$src/pub/dacl-ref' &&
					umask 022 && touch '$src/pub/dacl-ref/f' && mkdir '$src/pub/dacl-ref/d' &&
					mknod '$src/pub/dacl-ref/p' p"
			check "$t: the backing fs ignores the umask there (file 664)" \
				test "$(stat -c %a "$src/pub/dacl-ref/f")" = 664
			check "$t: through the mount too: the file is 664, not 644 (FUSE_DONT_MASK)" \
				test "$(stat -c %a "$src/pub/dacl/f")" = 664
			check "$t: uid $U makes a dir under the default ACL (umask 022)" \
				as_user sh -c "umask 022 && mkdir '$mnt/pub/dacl/d'"
			check "$t: the dir is 775 as on the backing fs, and inherits the default ACL" \
				sh -c "[ \"\$(stat -c %a '$src/pub/dacl/d')\" = \"\$(stat -c %a '$src/pub/dacl-ref/d')\" ] &&
					[ \"\$(stat -c %a '$src/pub/dacl/d')\" = 775 ] &&
					getfacl -c -n -d '$src/pub/dacl/d' | grep -q '^user:$U:rwx'"
			check "$t: uid $U makes a FIFO under the default ACL (umask 022)" \
				as_user sh -c "umask 022 && mknod '$mnt/pub/dacl/p' p"
			check "$t: the FIFO is 664 as on the backing fs (MKNOD)" \
				sh -c "[ \"\$(stat -c %a '$src/pub/dacl/p')\" = \"\$(stat -c %a '$src/pub/dacl-ref/p')\" ] &&
					[ \"\$(stat -c %a '$src/pub/dacl/p')\" = 664 ]"
			# Without a default ACL the umask applies as always.
			check "$t: uid $U creates with umask 027 outside a default ACL" \
				as_user sh -c "umask 027 && touch '$mnt/pub/um-f' && mkdir '$mnt/pub/um-d' &&
					mknod '$mnt/pub/um-p' p"
			check "$t: file 640, dir 750, fifo 640 there" \
				test "$(stat -c %a "$src/pub/um-f") $(stat -c %a "$src/pub/um-d") $(stat -c %a "$src/pub/um-p")" = "640 750 640"
		fi
		if [ $fs = mqfuse ] && [ $perm = default_permissions ]; then
			# the VFS applies the umask here (no SB_POSIXACL), whatever
			# the daemon agreed to
			check "$t: uid $U creates with umask 027" \
				as_user sh -c "umask 027 && touch '$mnt/pub/um-f' && mkdir '$mnt/pub/um-d' &&
					mknod '$mnt/pub/um-p' p"
			check "$t: file 640, dir 750, fifo 640" \
				test "$(stat -c %a "$src/pub/um-f") $(stat -c %a "$src/pub/um-d") $(stat -c %a "$src/pub/um-p")" = "640 750 640"
			# no FUSE_POSIX_ACL: the kernel refuses what it cannot enforce, even for root
			echo mine > "$mnt/pub/rootacl"
			fails_eopnotsupp "$t: setfacl by root on its own file" \
				setfacl -m u:$U:rw "$mnt/pub/rootacl"
			fails_eopnotsupp "$t: getfattr system.posix_acl_access" \
				getfattr -n system.posix_acl_access "$mnt/pub/rootacl"
			fails_eopnotsupp "$t: setfattr -x system.posix_acl_access" \
				setfattr -x system.posix_acl_access "$mnt/pub/rootacl"
			check "$t: the backend file has no ACL" \
				sh -c "! getfacl -c -n '$src/pub/rootacl' 2>/dev/null | grep -q '^user:[0-9]'"
		fi
		fails_as_user "$t: setfattr system.mqtrust (unknown system.* name) on its own file" \
			setfattr -n system.mqtrust -v 1 "$mnt/pub/own"
		check "$t: uid $U renames its own file" as_user mv "$mnt/pub/own" "$mnt/pub/own2"

		# A 0666 char device (kmsg) in the backend: never reached.
		mark="mqtrust-$fs-$perm-$$"
		fails_as_user "$t: write to a 0666 char device node" \
			sh -c "echo $mark > '$mnt/kmsg'"
		check "$t: the device saw nothing" sh -c "! dmesg | grep -q $mark"

		umount "$mnt" || umount -l "$mnt"
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		check "$t: mqfused exits on umount" sh -c "! kill -0 $pid 2>/dev/null"
		rm -rf "$src"
	done
done
# --- queues: every queue served, threads on the CPUs of their queue ---
# (issue 8: --threads below the queue count left queues unserved; pinning
# ignored the kernel's CPU -> queue map, queue = cpu * queues / nr_cpu_ids)
if echo " $FSLIST " | grep -q " mqfuse " && mq_load; then
	src=$SCRATCH/trust-queues mnt=/mnt/trust-queues
	ncpu=$(nproc)
	mkdir -p "$src" "$mnt"
	echo data > "$src/f"
	if "$H/mqfused" --threads 1 -o queues=$ncpu "local:$src" "$mnt"; then
		pid=$(pgrep -n -x mqfused)
		all=1
		for cpu in $(seq 0 $((ncpu - 1))); do
			out=$(timeout "$(mq_tmo 20)" taskset -c $cpu sh -c "cat '$mnt/f' && echo x > '$mnt/w$cpu' && ls '$mnt' >/dev/null" 2>&1) ||
				{ all=0; diag "cpu $cpu: $out"; }
		done
		[ $all = 1 ] && ok "queues: --threads 1 with queues=$ncpu serves requests from every CPU" ||
			not_ok "queues: --threads 1 with queues=$ncpu serves requests from every CPU"
		umount "$mnt" || umount -l "$mnt"
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	else
		not_ok "queues: mqfused --threads 1 mounts"
	fi
	if [ "$ncpu" -ge 2 ]; then
		nq=$((ncpu * 2))
		if "$H/mqfused" --threads $nq -o queues=$nq "local:$src" "$mnt"; then
			pid=$(pgrep -n -x mqfused)
			bad=""
			for q in $(seq 0 $((nq - 1))); do
				want=""
				for cpu in $(seq 0 $((ncpu - 1))); do
					[ $((cpu * nq / ncpu)) -eq $q ] && want=$cpu
				done
				[ -n "$want" ] || continue
				tid=$(grep -lx "mqfused/$q" /proc/$pid/task/*/comm | head -1 | cut -d/ -f5)
				got=$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/$pid/task/$tid/status 2>/dev/null)
				[ "$got" = "$want" ] || bad="$bad q$q:cpus=${got:-?}(want $want)"
			done
			[ -z "$bad" ] && ok "queues: the thread of each queue runs on that queue's CPUs" ||
				not_ok "queues: the thread of each queue runs on that queue's CPUs:$bad"
			umount "$mnt" || umount -l "$mnt"
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		else
			not_ok "queues: mqfused --threads $nq mounts"
		fi
	fi
	for bad in recovery=soon virtqueues=2 nosuchoption=1; do
		if "$H/mount.mqfuse" "$src" "$mnt" -o $bad 2>/tmp/trust-mount-err; then
			not_ok "mount.mqfuse -o $bad refused"
			umount "$mnt"
		elif grep -q "$(echo $bad | cut -d= -f1)" /tmp/trust-mount-err; then
			ok "mount.mqfuse -o $bad refused up front: $(head -c 100 /tmp/trust-mount-err | tr '\n' ' ')"
		else
			not_ok "mount.mqfuse -o $bad refused with a message naming it"
			diag "$(cat /tmp/trust-mount-err)"
		fi
	done
	rm -rf "$src"
fi
exit 0
