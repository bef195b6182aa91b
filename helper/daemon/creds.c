// SPDX-License-Identifier: GPL-2.0
/*
 * Creating objects as the caller.
 *
 * Around create/mkdir/mknod/symlink/link/tmpfile the serving thread
 * switches its fsuid/fsgid to the caller's (raw syscalls: per thread, no
 * glibc broadcast), so ownership and set-group-ID directory inheritance are
 * decided by the backend exactly as for a local caller.  Switching fsuid
 * away from 0 drops the effective filesystem capabilities; we raise them
 * again because the permission check already happened in the kernel
 * (default_permissions) and the daemon does not know the caller's
 * supplementary groups.
 *
 * The umask sent with FUSE_DONT_MASK is applied by the backend through a
 * per-thread umask (unshare(CLONE_FS) at thread start), so a default ACL
 * on the backend directory still takes precedence as on a local fs.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#include "mqfused.h"

static bool mq_creds_switch;	/* daemon runs as root: switch per request */

static int mq_caps_raise(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	data[0].effective = data[0].permitted;
	data[1].effective = data[1].permitted;
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return 0;
}

int mq_creds_thread_init(struct mq_thread *thr)
{
	mq_creds_switch = geteuid() == 0;
	thr->saved_fsuid = geteuid();
	thr->saved_fsgid = getegid();
	thr->private_umask = unshare(CLONE_FS) == 0;
	if (!thr->private_umask)
		mq_warn("thread %u: unshare(CLONE_FS): %s; applying umask in the daemon",
			thr->index, strerror(errno));
	else
		umask(0);
	return 0;
}

mode_t mq_creds_enter(struct mq_req *req, mode_t mode, uint32_t umask_bits)
{
	struct mq_thread *thr = req->thr;

	umask_bits &= 07777;
	if (thr->private_umask)
		umask(umask_bits);
	else
		mode &= ~umask_bits;
	if (mq_creds_switch) {
		syscall(SYS_setfsgid, req->in->gid);
		syscall(SYS_setfsuid, req->in->uid);
		if (req->in->uid != 0)
			mq_caps_raise();
	}
	return mode;
}

void mq_creds_leave(struct mq_req *req)
{
	struct mq_thread *thr = req->thr;

	if (mq_creds_switch) {
		syscall(SYS_setfsuid, thr->saved_fsuid);
		syscall(SYS_setfsgid, thr->saved_fsgid);
		mq_caps_raise();
	}
	if (thr->private_umask)
		umask(0);
}
