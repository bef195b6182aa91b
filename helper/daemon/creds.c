// SPDX-License-Identifier: GPL-2.0
/*
 * Acting as the caller.
 *
 * A client is untrusted (DESIGN.md §3, trust boundary 2): the daemon must
 * not use its own privileges to do what the caller could not do on a local
 * filesystem.  So every operation that touches the backend namespace or
 * its permissions (the op table marks them, see dispatch.c) runs with:
 *
 *  - fsuid/fsgid of the request (raw syscalls: per thread, no glibc
 *    broadcast to the other threads);
 *  - the caller's supplementary groups, read from /proc/PID/status when the
 *    process still has the request's fsuid/fsgid, else none (the FUSE
 *    request carries only uid/gid/pid; see mqfused(8), "Permissions");
 *  - for a caller other than uid 0, an empty effective capability set, so
 *    the backend filesystem applies the owner and mode rules (no
 *    CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_SYS_ADMIN...).
 *
 * I/O on an already open handle (READ, WRITE, FSYNC...) keeps the daemon's
 * credentials: the permission check happened at open time, and the
 * io_uring workers inherit the credentials of the thread that creates them,
 * which must not be a client's.
 *
 * The umask sent with FUSE_DONT_MASK is applied by the backend through a
 * per-thread umask (unshare(CLONE_FS) at thread start), so a default ACL
 * on the backend directory still takes precedence as on a local fs.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "mqfused.h"

static bool mq_creds_switch;	/* daemon runs as root: switch per request */

/*
 * Capabilities the daemon keeps (permitted); everything else is dropped at
 * start by mq_creds_drop_privileges().  They are effective only while the
 * daemon acts for itself or for a uid 0 caller.
 */
static const int mq_kept_caps[] = {
	CAP_CHOWN,		/* root caller: chown */
	CAP_DAC_OVERRIDE,	/* root caller; the daemon's own /proc use */
	CAP_DAC_READ_SEARCH,	/* root caller; linkat(AT_EMPTY_PATH) */
	CAP_FOWNER,		/* root caller: chmod/utimens/ACLs of others */
	CAP_FSETID,		/* root caller: chmod g+s keeps the bit */
	CAP_MKNOD,		/* root caller: device nodes */
	CAP_SETUID,		/* setfsuid to the caller */
	CAP_SETGID,		/* setfsgid/setgroups to the caller */
	CAP_SYS_ADMIN,		/* root caller: trusted.*; umount at exit
				 * (the monitor's, when sandboxed) */
	CAP_IPC_LOCK,		/* io_uring fixed buffers past RLIMIT_MEMLOCK */
};

bool mq_creds_cap_kept(int cap)
{
	unsigned int i;

	for (i = 0; i < sizeof(mq_kept_caps) / sizeof(mq_kept_caps[0]); i++)
		if (mq_kept_caps[i] == cap)
			return true;
	return false;
}

static int mq_caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};

	return syscall(SYS_capget, &hdr, data) ? -errno : 0;
}

static int mq_caps_set(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};

	return syscall(SYS_capset, &hdr, data) ? -errno : 0;
}

/* Effective set = permitted (raise) or empty (drop); this thread only. */
static int mq_caps_effective(bool raise)
{
	struct __user_cap_data_struct data[2];
	int ret = mq_caps_get(data);

	if (ret)
		return ret;
	data[0].effective = raise ? data[0].permitted : 0;
	data[1].effective = raise ? data[1].permitted : 0;
	return mq_caps_set(data);
}

/* Every permitted capability effective but CAP_FSETID (see mq_creds_enter). */
static int mq_caps_effective_but_fsetid(void)
{
	struct __user_cap_data_struct data[2];
	int ret = mq_caps_get(data);

	if (ret)
		return ret;
	data[0].effective = data[0].permitted & ~(1u << CAP_FSETID);
	data[1].effective = data[1].permitted;
	return mq_caps_set(data);
}

/*
 * Keep only mq_kept_caps in the permitted and effective sets of the calling
 * thread (threads created afterwards inherit them).  Called once mount(2)
 * and the RLIMIT_NOFILE raise are done.
 */
int mq_creds_drop_privileges(void)
{
	struct __user_cap_data_struct data[2];
	uint32_t keep[2] = { 0, 0 };
	unsigned int i;
	int ret;

	if (geteuid() != 0)
		return 0;
	for (i = 0; i < sizeof(mq_kept_caps) / sizeof(mq_kept_caps[0]); i++)
		keep[mq_kept_caps[i] / 32] |= 1u << (mq_kept_caps[i] % 32);
	ret = mq_caps_get(data);
	if (ret)
		return ret;
	for (i = 0; i < 2; i++) {
		data[i].permitted &= keep[i];
		data[i].effective = data[i].permitted;
		data[i].inheritable = 0;
	}
	ret = mq_caps_set(data);
	if (ret)
		return ret;
	/* No capability may come back through exec or an ambient set. */
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return 0;
}

int mq_creds_thread_init(struct mq_thread *thr)
{
	mq_creds_switch = geteuid() == 0;
	thr->saved_fsuid = geteuid();
	thr->saved_fsgid = getegid();
	/*
	 * The daemon's own supplementary groups (often 0) would otherwise
	 * apply to every caller's group permission checks.
	 */
	if (mq_creds_switch && syscall(SYS_setgroups, 0, NULL))
		return -errno;
	thr->private_umask = unshare(CLONE_FS) == 0;
	if (!thr->private_umask)
		mq_warn("thread %u: unshare(CLONE_FS): %s; applying umask in the daemon",
			thr->index, strerror(errno));
	else
		umask(0);
	return 0;
}

/*
 * Supplementary groups of process @pid, if <@proc>PID/status still
 * describes a process with fsuid @uid and fsgid @gid.  Returns the count
 * (0 when unknown: fewer rights, never more).  Sandboxed, the serving
 * process sees no caller's /proc (its own PID namespace): the monitor
 * runs this for it (session.c, mq_monitor_groups()).
 */
int mq_proc_groups(const char *proc, uint32_t pid, uint32_t uid,
		   uint32_t gid, gid_t *groups, int max)
{
	char path[64], line[4096];
	unsigned long fsuid = ~0ul, fsgid = ~0ul, a, b, c;
	int n = 0, nr = 0;
	bool ids_ok = false;
	FILE *f;

	if (!pid)
		return 0;
	snprintf(path, sizeof(path), "%s%u/status", proc, pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Uid: %lu %lu %lu %lu", &a, &b, &c, &fsuid) == 4)
			continue;
		if (sscanf(line, "Gid: %lu %lu %lu %lu", &a, &b, &c, &fsgid) == 4)
			continue;
		if (!strncmp(line, "Groups:", 7)) {
			char *p = line + 7, *end;

			ids_ok = fsuid == uid && fsgid == gid;
			while (ids_ok && nr < max) {
				unsigned long g = strtoul(p, &end, 10);

				if (end == p)
					break;
				groups[nr++] = g;
				p = end;
			}
			n = nr;
			break;
		}
	}
	fclose(f);
	return ids_ok ? n : 0;
}

static int mq_caller_groups(const struct mq_thread *thr,
			    const struct fuse_in_header *in, gid_t *groups,
			    int max)
{
	int nr;

	if (thr->caller_groups_given) {
		nr = thr->caller_ngroups < (unsigned int)max ?
		     (int)thr->caller_ngroups : max;
		memcpy(groups, thr->caller_groups, nr * sizeof(*groups));
		return nr;
	}
	nr = mq_monitor_groups(in->pid, in->uid, in->gid, groups, max);

	if (nr == -ENOTCONN)	/* no monitor: not sandboxed */
		return mq_proc_groups(mq_proc_prefix, in->pid, in->uid,
				      in->gid, groups, max);
	return nr < 0 ? 0 : nr;
}

int mq_creds_caller_groups(const struct mq_thread *thr,
			   const struct fuse_in_header *in, gid_t *groups,
			   int max)
{
	return mq_caller_groups(thr, in, groups, max);
}

int mq_creds_enter(struct mq_req *req)
{
	const struct fuse_in_header *in = req->in;
	struct mq_thread *thr = req->thr;
	gid_t groups[MQ_MAX_CALLER_GROUPS];
	int nr, ret;

	if (!mq_creds_switch)
		return 0;
	/* -1 would leave the ids unchanged (they are queries for setfs*id). */
	if (in->uid == (uint32_t)-1 || in->gid == (uint32_t)-1)
		return -EPERM;
	if (in->uid == thr->saved_fsuid && in->gid == thr->saved_fsgid)
		return 0;
	nr = in->uid ? mq_caller_groups(thr, in, groups, MQ_MAX_CALLER_GROUPS) : 0;
	if (syscall(SYS_setgroups, nr, groups))
		return -errno;
	syscall(SYS_setfsgid, in->gid);
	syscall(SYS_setfsuid, in->uid);
	thr->creds_switched = true;
	if ((uint32_t)syscall(SYS_setfsuid, -1) != in->uid ||
	    (uint32_t)syscall(SYS_setfsgid, -1) != in->gid) {
		mq_creds_leave(req);
		return -EPERM;
	}
	/*
	 * fsuid != 0 cleared the fs capabilities; drop the rest too.  With
	 * mq_cfg.caller_checked (a virtio-fs guest, vhost.c) the caller's
	 * kernel has checked permissions already, with the supplementary
	 * groups we are not told: keep the capabilities but CAP_FSETID,
	 * and let the ids decide only what new files belong to.
	 */
	if (in->uid != 0) {
		ret = mq_cfg.caller_checked ? mq_caps_effective_but_fsetid() :
					      mq_caps_effective(false);
		if (ret) {
			mq_creds_leave(req);
			return ret;
		}
	}
	return 0;
}

void mq_creds_leave(struct mq_req *req)
{
	struct mq_thread *thr = req->thr;

	if (!thr->creds_switched)
		return;
	/*
	 * Capabilities first: setfsuid(0) re-raises only the fs capabilities,
	 * and setgroups/setfsgid need CAP_SETGID.  Any failure would leave
	 * the caller's identity on the thread for the next request.
	 */
	if (mq_caps_effective(true)) {
		mq_err("thread %u: cannot restore capabilities", thr->index);
		abort();
	}
	if (syscall(SYS_setgroups, 0, NULL)) {
		mq_err("thread %u: cannot drop the caller's groups: %s",
		       thr->index, strerror(errno));
		abort();
	}
	syscall(SYS_setfsgid, thr->saved_fsgid);
	syscall(SYS_setfsuid, thr->saved_fsuid);
	/* setfs*id report no errors: read the ids back. */
	if ((uint32_t)syscall(SYS_setfsgid, -1) != thr->saved_fsgid ||
	    (uint32_t)syscall(SYS_setfsuid, -1) != thr->saved_fsuid) {
		mq_err("thread %u: cannot restore fsuid/fsgid", thr->index);
		abort();
	}
	thr->creds_switched = false;
}

mode_t mq_umask_enter(struct mq_req *req, mode_t mode, uint32_t umask_bits)
{
	umask_bits &= 07777;
	if (req->thr->private_umask)
		umask(umask_bits);
	else
		mode &= ~umask_bits;
	return mode;
}

void mq_umask_leave(struct mq_req *req)
{
	if (req->thr->private_umask)
		umask(0);
}
