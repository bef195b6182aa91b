// SPDX-License-Identifier: GPL-2.0
/*
 * Connection-level requests: INIT, DESTROY, INTERRUPT, STATFS, SYNCFS and
 * the opcodes answered with ENOSYS.  (Locks: locks.c.)
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/statvfs.h>

#include "mqfused.h"

/* Oldest protocol whose request layouts we parse (create_in with umask). */
#define MQ_MIN_MINOR	12

/*
 * Flags we enable when the kernel offers them, and FUSE_POSIX_LOCKS and
 * FUSE_FLOCK_LOCKS unless --no-locks (locks.c takes the locks on the
 * backing files, so that every client of the store sees them; with
 * --no-locks the kernel's local lock manager keeps them to one mount).
 * FUSE_HANDLE_KILLPRIV_V2 (mqfuse only, see mq_op_init()): we clear
 * suid/sgid on the kernel's request (mq_kill_suidgid()), so a WRITE costs
 * no GETXATTR of security.capability and no SETATTR.
 * Deliberately absent: FUSE_POSIX_ACL, FUSE_EXPORT_SUPPORT,
 * FUSE_HANDLE_KILLPRIV (v1: the daemon would decide from the caller's
 * capabilities, which it does not know), FUSE_WRITEBACK_CACHE
 * (--writeback-cache).
 */
static const uint32_t mq_wanted_flags =
	FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |
	FUSE_DONT_MASK | FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS |
	FUSE_READDIRPLUS_AUTO | FUSE_ASYNC_DIO | FUSE_PARALLEL_DIROPS |
	FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS | FUSE_HANDLE_KILLPRIV_V2;

/*
 * INIT flags this daemon can serve a session with: what it may ask for.
 * A daemon attaching to a session that an INIT with others set up (a newer
 * mqfused's) refuses it: the kernel acts on those flags (a kill left to
 * the daemon, say) and would count on what this one does not do.
 */
bool mq_init_flags_served(uint64_t flags)
{
	uint64_t known = mq_wanted_flags | FUSE_WRITEBACK_CACHE |
			 FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS;

	return !(flags & ~known);
}

int mq_op_init(struct mq_req *req)
{
	const struct fuse_init_in *ii = (const void *)req->arg;
	struct fuse_init_out *io = (void *)req->out;
	uint32_t minor, want = mq_wanted_flags;
	size_t len;

	if (atomic_load(&mq_conn.proto_minor))
		return -EIO;	/* INIT only once */
	mq_info("INIT: kernel protocol %u.%u, flags 0x%x, max_readahead %u",
		ii->major, ii->minor, ii->flags, ii->max_readahead);
	memset(io, 0, sizeof(*io));
	io->major = FUSE_KERNEL_VERSION;
	io->minor = FUSE_KERNEL_MINOR_VERSION;
	if (ii->major < FUSE_KERNEL_VERSION) {
		mq_err("kernel protocol %u.%u too old", ii->major, ii->minor);
		return -EPROTO;
	}
	/* Newer major: answer with ours; the kernel sends INIT again. */
	if (ii->major > FUSE_KERNEL_VERSION)
		return 8;
	minor = ii->minor < FUSE_KERNEL_MINOR_VERSION ? ii->minor :
		FUSE_KERNEL_MINOR_VERSION;
	if (minor < MQ_MIN_MINOR) {
		mq_err("kernel protocol 7.%u too old (need 7.%u)", minor,
		       MQ_MIN_MINOR);
		return -EPROTO;
	}
	if (mq_cfg.writeback_cache)
		want |= FUSE_WRITEBACK_CACHE;
	if (mq_cfg.locks)
		want |= FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS;
	/*
	 * Stock FUSE with FUSE_HANDLE_KILLPRIV_V2 drops the mode change of
	 * fallocate and copy_file_range and sends no kill flag with them;
	 * we would run both with our CAP_FSETID and keep the set-id bits.
	 */
	if (mq_cfg.fs == MQ_FS_FUSE)
		want &= ~FUSE_HANDLE_KILLPRIV_V2;
	io->minor = minor;
	io->flags = ii->flags & want;
	io->max_readahead = ii->max_readahead;
	io->max_background = 64;
	io->congestion_threshold = 48;
	io->max_write = mq_cfg.max_write;
	io->time_gran = 1;
	if (io->flags & FUSE_MAX_PAGES)
		io->max_pages = mq_cfg.max_write / 4096;

	if (mq_remote_active()) {
		int ret = mq_remote_init(req->in, ii, io);

		if (ret)
			return ret;
	}
	mq_conn.max_write = io->max_write;
	mq_conn.flags = io->flags;
	mq_info("INIT: protocol 7.%u, flags 0x%x, max_write %u, max_pages %u",
		minor, io->flags, io->max_write, io->max_pages);
	/* Publish before the reply lets other requests in. */
	atomic_store(&mq_conn.proto_minor, minor);

	len = sizeof(*io);
	if (minor < 23)
		len = FUSE_COMPAT_22_INIT_OUT_SIZE;
	return len;
}

int mq_op_destroy(struct mq_req *req)
{
	(void)req;
	atomic_store(&mq_conn.destroyed, true);
	return 0;
}

/*
 * Only a SETLKW waits for something else than the local backend: its
 * waiter answers EINTR (locks.c).  Every other operation runs to
 * completion quickly, so its interrupt is ignored and the original
 * request answered normally.  An INTERRUPT itself is never answered.
 */
int mq_op_interrupt(struct mq_req *req)
{
	const struct fuse_interrupt_in *ii = (const void *)req->arg;

	mq_locks_interrupt(ii->unique);
	return MQ_NO_REPLY;
}

int mq_op_enosys(struct mq_req *req)
{
	(void)req;
	return -ENOSYS;
}

int mq_op_statfs(struct mq_req *req)
{
	struct fuse_statfs_out *so = (void *)req->out;
	struct mq_inode *inode = mq_inode_get(req->in->nodeid ?: FUSE_ROOT_ID);
	struct statvfs sv;
	int ret;

	if (!inode)
		return -ESTALE;
	ret = fstatvfs(inode->fd, &sv) ? -errno : 0;
	mq_inode_put(inode);
	if (ret)
		return ret;
	memset(so, 0, sizeof(*so));
	so->st.blocks = sv.f_blocks;
	so->st.bfree = sv.f_bfree;
	so->st.bavail = sv.f_bavail;
	so->st.files = sv.f_files;
	so->st.ffree = sv.f_ffree;
	so->st.bsize = sv.f_bsize;
	so->st.namelen = sv.f_namemax;
	so->st.frsize = sv.f_frsize;
	return sizeof(*so);
}

int mq_op_syncfs(struct mq_req *req)
{
	struct mq_inode *root = mq_inode_get(FUSE_ROOT_ID);
	char path[64];
	int fd, ret;

	(void)req;
	if (!root)
		return -ESTALE;
	/* syncfs() needs a real open file, not an O_PATH one. */
	mq_proc_path(path, sizeof(path), root->fd);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = fd < 0 ? -errno : 0;
	mq_inode_put(root);
	if (ret)
		return ret;
	ret = syncfs(fd) ? -errno : 0;
	close(fd);
	return ret;
}
