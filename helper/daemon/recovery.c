// SPDX-License-Identifier: GPL-2.0
/*
 * Recovery at the session level: give a new session its recovery state,
 * and start as the successor of a daemon that died (--attach), or that is
 * being replaced (--takeover).
 *
 * The kernel contract (uapi/mqfuse.h, "Recovery"): a session mounted with
 * recovery=SECONDS outlives its daemon for that long; a new daemon
 * attaches with MQFUSE_IOC_ATTACH, gets no INIT (MQFUSE_IOC_GET_INFO has
 * what INIT negotiated), reads the replayed requests first, and fetches
 * the one file the session keeps for it (MQFUSE_IOC_FETCH_FD): our state.
 *
 * A successor never writes the state it fetched.  It rebuilds its tables
 * from a private copy, writes a new state (its own fd numbers), copies
 * the journal entries still in flight into it, and only then swaps it in
 * with MQFUSE_IOC_STORE_FD: if it dies half way, the next successor still
 * finds the old, complete state.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include <mqfuse.h>

#include "mqfused.h"
#include "restore.h"
#include "rstate.h"

static int mq_root_stat(struct stat *st)
{
	int root_fd = mq_itable_root_fd();

	return fstat(root_fd, st) ? -errno : 0;
}

/* Journal ring size for the threads this daemon will run. */
static uint32_t mq_recovery_journal_size(void)
{
	return mq_rs_journal_size(mq_cfg.threads ?: 256);
}

int mq_recovery_new_session(int devfd)
{
	struct mqfuse_session_info info;
	struct stat root;
	int memfd, ret;

	memset(&info, 0, sizeof(info));
	if (ioctl(devfd, MQFUSE_IOC_GET_INFO, &info) || !info.recovery_s)
		return 0;	/* recovery off: nothing to keep */
	ret = mq_root_stat(&root);
	if (ret)
		return ret;
	memfd = mq_rs_create(mq_handles_max(), mq_recovery_journal_size(),
			     &root, 1, 0);
	if (memfd < 0) {
		mq_warn("recovery state: %s: a restarted daemon cannot attach",
			strerror(-memfd));
		return 0;
	}
	if (ioctl(devfd, MQFUSE_IOC_STORE_FD, &memfd)) {
		mq_warn("recovery state: MQFUSE_IOC_STORE_FD: %s: a restarted daemon cannot attach",
			strerror(errno));
		mq_rs_close();
		close(memfd);
		return 0;
	}
	close(memfd);	/* the session holds it; the mapping stays */
	mq_info("recovery=%u s: state kept by session %llu", info.recovery_s,
		(unsigned long long)info.session_id);
	return 1;
}

/* --attach=ID or --attach=PATH (a file of the mount). */
static int mq_attach_ioctl(int devfd, const char *target)
{
	struct mqfuse_attach a;
	char *end;
	int ret;

	memset(&a, 0, sizeof(a));
	a.fd = -1;
	errno = 0;
	a.session_id = strtoull(target, &end, 10);
	if (errno || end == target || *end) {
		a.session_id = 0;
		a.fd = open(target, O_PATH | O_CLOEXEC);
		if (a.fd < 0) {
			ret = -errno;
			mq_err("--attach %s: %s", target, strerror(-ret));
			return ret;
		}
	}
	ret = ioctl(devfd, MQFUSE_IOC_ATTACH, &a) ? -errno : 0;
	if (a.fd >= 0)
		close(a.fd);
	if (ret)
		mq_err("--attach %s: MQFUSE_IOC_ATTACH: %s%s", target,
		       strerror(-ret), ret == -ENOTTY ?
		       " (this mqfuse has no recovery)" : "");
	return ret;
}

int mq_recovery_attach(const char *target, int *devfdp)
{
	struct mqfuse_session_info info;
	struct mq_restore_stats rs;
	struct mq_rs_image img;
	struct stat root;
	char err[512];
	int devfd, memfd = -1, newfd = -1, root_fd, ret;
	int *movable[3];

	devfd = open(mq_cfg.devpath, O_RDWR | O_CLOEXEC);
	if (devfd < 0) {
		ret = -errno;
		mq_err("open %s: %s", mq_cfg.devpath, strerror(-ret));
		return ret;
	}
	ret = mq_attach_ioctl(devfd, target);
	if (ret)
		goto err_close;
	memset(&info, 0, sizeof(info));
	if (ioctl(devfd, MQFUSE_IOC_GET_INFO, &info)) {
		ret = -errno;
		mq_err("attached, but MQFUSE_IOC_GET_INFO: %s", strerror(-ret));
		goto err_close;
	}
	if (!info.proto_minor) {
		ret = -EPROTO;
		mq_err("session %llu never finished INIT: nothing to take over",
		       (unsigned long long)info.session_id);
		goto err_close;
	}
	memfd = ioctl(devfd, MQFUSE_IOC_FETCH_FD);
	if (memfd < 0) {
		ret = -errno;
		mq_err("session %llu keeps no recovery state (%s): refusing to serve nodeids we cannot know",
		       (unsigned long long)info.session_id, strerror(-ret));
		goto err_close;
	}
	ret = mq_root_stat(&root);
	if (!ret)
		ret = mq_rs_load(memfd, &root, &img, err, sizeof(err));
	if (ret) {
		mq_err("session %llu: recovery state refused: %s",
		       (unsigned long long)info.session_id, err);
		goto err_close;
	}
	/* What INIT negotiated with the first daemon. */
	mq_conn.max_write = info.max_write;
	mq_conn.flags = (uint32_t)info.init_flags;
	if (info.max_write > mq_cfg.max_write)
		mq_cfg.max_write = info.max_write;
	newfd = mq_rs_create(mq_handles_max(), mq_recovery_journal_size(),
			     &root, img.epoch + 1, img.nodeid_reserved);
	if (newfd < 0) {
		ret = newfd;
		mq_err("new recovery state: %s", strerror(-ret));
		goto err_image;
	}
	root_fd = mq_itable_root_fd();
	movable[0] = &devfd;
	movable[1] = &memfd;
	movable[2] = &newfd;
	ret = mq_restore_tables(&img, &root_fd, movable, 3, &rs, err,
				sizeof(err));
	if (ret) {
		mq_err("session %llu: recovery state refused: %s",
		       (unsigned long long)info.session_id, err);
		goto err_image;
	}
	mq_rs_journal_adopt(&img);
	if (ioctl(devfd, MQFUSE_IOC_STORE_FD, &newfd)) {
		ret = -errno;
		mq_err("MQFUSE_IOC_STORE_FD: %s", strerror(-ret));
		goto err_image;
	}
	mq_info("attached to session %llu (epoch %llu): %u inodes, %u handles, %u journal entries in flight; %u inodes and %u handles gone from the backing fs",
		(unsigned long long)info.session_id,
		(unsigned long long)img.epoch + 1, rs.inodes, rs.handles,
		img.nr_journal, rs.stale_inodes, rs.stale_handles);
	mq_rs_image_free(&img);
	close(newfd);
	close(memfd);
	/* Published last: requests are served from here on. */
	atomic_store(&mq_conn.proto_minor, info.proto_minor);
	*devfdp = devfd;
	return 0;

err_image:
	mq_rs_image_free(&img);
err_close:
	mq_rs_close();
	if (newfd >= 0)
		close(newfd);
	if (memfd >= 0)
		close(memfd);
	close(devfd);
	return ret;
}
