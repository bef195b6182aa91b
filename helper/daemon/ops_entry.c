// SPDX-License-Identifier: GPL-2.0
/*
 * Name lookup and attributes: LOOKUP, FORGET, BATCH_FORGET, GETATTR,
 * SETATTR, READLINK, ACCESS.  Every inode is reached through its O_PATH fd
 * with *at() calls; /proc/self/fd/N is used only where no *at() form
 * exists for an O_PATH fd (chmod, truncate, reopening).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include "mqfused.h"

void mq_proc_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "%sself/fd/%d", mq_proc_prefix, fd);
}

static void mq_split_timeout(double t, uint64_t *sec, uint32_t *nsec)
{
	if (t < 0)
		t = 0;
	*sec = (uint64_t)t;
	*nsec = (uint32_t)((t - (double)*sec) * 1e9);
}

void mq_fill_attr(struct fuse_attr *attr, const struct stat *st,
		  uint64_t nodeid)
{
	(void)nodeid;
	memset(attr, 0, sizeof(*attr));
	attr->ino = st->st_ino;
	attr->size = st->st_size;
	attr->blocks = st->st_blocks;
	attr->atime = st->st_atim.tv_sec;
	attr->mtime = st->st_mtim.tv_sec;
	attr->ctime = st->st_ctim.tv_sec;
	attr->atimensec = st->st_atim.tv_nsec;
	attr->mtimensec = st->st_mtim.tv_nsec;
	attr->ctimensec = st->st_ctim.tv_nsec;
	attr->mode = st->st_mode;
	attr->nlink = st->st_nlink;
	attr->uid = st->st_uid;
	attr->gid = st->st_gid;
	attr->rdev = st->st_rdev;
	attr->blksize = st->st_blksize;
}

void mq_fill_entry_timeouts(struct fuse_entry_out *eo)
{
	mq_split_timeout(mq_cfg.entry_timeout, &eo->entry_valid,
			 &eo->entry_valid_nsec);
	mq_split_timeout(mq_cfg.attr_timeout, &eo->attr_valid,
			 &eo->attr_valid_nsec);
}

static int mq_stat_fd(int fd, struct stat *st)
{
	if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

static bool mq_openat2_missing;	/* kernel without openat2 (< 5.6) */

/*
 * Probe openat2() once at start.  Without it names are still checked
 * (mq_name_check) and opened with O_NOFOLLOW, one component at a time.
 */
void mq_resolve_probe(int root_fd)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd = syscall(SYS_openat2, root_fd, ".", &how, sizeof(how));

	if (fd >= 0) {
		close(fd);
		return;
	}
	if (errno == ENOSYS) {
		mq_openat2_missing = true;
		mq_warn("openat2 unavailable: resolving with openat(O_NOFOLLOW)");
	}
}

/*
 * Open @name in @dirfd without ever leaving @dirfd: no "..", no absolute
 * path, no symlink or /proc magic link on the way (openat2 RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS; @flags should carry O_NOFOLLOW for the last one).
 */
int mq_openat_beneath(int dirfd, const char *name, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd;

	if (mq_openat2_missing)
		fd = openat(dirfd, name, flags | O_CLOEXEC, mode);
	else
		fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	return fd < 0 ? -errno : fd;
}

/* Entry reply for @inode with attributes @st. */
static void mq_fill_entry(struct fuse_entry_out *eo, struct mq_inode *inode,
			  const struct stat *st)
{
	memset(eo, 0, sizeof(*eo));
	eo->nodeid = inode->nodeid;
	mq_fill_attr(&eo->attr, st, inode->nodeid);
	mq_fill_entry_timeouts(eo);
}

/* Look @name up in @dirfd and take one lookup reference on the result. */
int mq_do_lookup(int dirfd, const char *name, struct fuse_entry_out *eo)
{
	struct mq_inode *inode;
	struct stat st;
	int fd, ret;

	ret = mq_name_check(name);
	if (ret)
		return ret;
	fd = mq_openat_beneath(dirfd, name, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	ret = mq_stat_fd(fd, &st);
	if (ret) {
		close(fd);
		return ret;
	}
	ret = mq_inode_lookup_fd(fd, &st, &inode);
	if (ret)
		return ret;
	mq_fill_entry(eo, inode, &st);
	mq_inode_put(inode);
	return 0;
}

/*
 * Entry for the object open on @fd (CREATE, TMPFILE): the node is derived
 * from the descriptor, never from a name that may have changed since.
 * Takes one lookup reference.
 */
int mq_entry_from_fd(int fd, struct fuse_entry_out *eo)
{
	struct mq_inode *inode;
	struct stat st;
	char path[64];
	int pfd, ret;

	if (fstat(fd, &st))
		return -errno;
	mq_proc_path(path, sizeof(path), fd);
	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	ret = mq_inode_lookup_fd(pfd, &st, &inode);
	if (ret)
		return ret;
	mq_fill_entry(eo, inode, &st);
	mq_inode_put(inode);
	return 0;
}

int mq_op_lookup(struct mq_req *req)
{
	struct fuse_entry_out *eo = (void *)req->out;
	const char *name = mq_req_name(req, 0, NULL);
	struct mq_inode *dir;
	int ret;

	ret = mq_name_check(name);
	if (ret)
		return ret;
	dir = mq_inode_get(req->in->nodeid);
	if (!dir)
		return -ESTALE;
	ret = S_ISDIR(dir->type) ? mq_do_lookup(dir->fd, name, eo) : -ENOTDIR;
	mq_inode_put(dir);
	return ret ? ret : (int)sizeof(*eo);
}

int mq_op_forget(struct mq_req *req)
{
	const struct fuse_forget_in *fi = (const void *)req->arg;

	if (req->in->nodeid != FUSE_ROOT_ID)
		mq_inode_forget(req->in->nodeid, fi->nlookup);
	return MQ_NO_REPLY;
}

int mq_op_batch_forget(struct mq_req *req)
{
	const struct fuse_batch_forget_in *bi = (const void *)req->arg;
	const struct fuse_forget_one *one = (const void *)(bi + 1);
	size_t room = (req->arg_len - sizeof(*bi)) / sizeof(*one);
	uint32_t i, count = bi->count;

	if (count > room) {
		mq_warn("BATCH_FORGET count %u exceeds body (%zu)", count, room);
		count = room;
	}
	for (i = 0; i < count; i++)
		if (one[i].nodeid != FUSE_ROOT_ID)
			mq_inode_forget(one[i].nodeid, one[i].nlookup);
	return MQ_NO_REPLY;
}

static int mq_reply_attr(struct mq_req *req, const struct stat *st)
{
	struct fuse_attr_out *ao = (void *)req->out;

	memset(ao, 0, sizeof(*ao));
	mq_split_timeout(mq_cfg.attr_timeout, &ao->attr_valid,
			 &ao->attr_valid_nsec);
	mq_fill_attr(&ao->attr, st, req->in->nodeid);
	return sizeof(*ao);
}

int mq_op_getattr(struct mq_req *req)
{
	const struct fuse_getattr_in *gi = (const void *)req->arg;
	struct mq_inode *inode;
	struct stat st;
	int ret, fd;

	if (gi->getattr_flags & FUSE_GETATTR_FH) {
		/* Not a file handle opened on this nodeid: EBADF. */
		fd = mq_handle_get_fd(gi->fh, req->in->nodeid);
		if (fd < 0)
			return fd;
		ret = fstat(fd, &st) ? -errno : 0;
		mq_handle_put(gi->fh);
		return ret ? ret : mq_reply_attr(req, &st);
	}
	inode = mq_inode_get(req->in->nodeid);
	if (!inode)
		return -ESTALE;
	ret = mq_stat_fd(inode->fd, &st);
	mq_inode_put(inode);
	return ret ? ret : mq_reply_attr(req, &st);
}

static int mq_setattr_times(const struct fuse_setattr_in *si, int inode_fd,
			    int file_fd)
{
	struct timespec ts[2] = {
		{ .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT },
	};
	char path[64];

	if (si->valid & FATTR_ATIME_NOW)
		ts[0].tv_nsec = UTIME_NOW;
	else if (si->valid & FATTR_ATIME)
		ts[0] = (struct timespec){ si->atime, si->atimensec };
	if (si->valid & FATTR_MTIME_NOW)
		ts[1].tv_nsec = UTIME_NOW;
	else if (si->valid & FATTR_MTIME)
		ts[1] = (struct timespec){ si->mtime, si->mtimensec };

	if (file_fd >= 0 && !futimens(file_fd, ts))
		return 0;
	if (!utimensat(inode_fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return 0;
	if (errno != EINVAL)
		return -errno;
	mq_proc_path(path, sizeof(path), inode_fd);
	if (utimensat(AT_FDCWD, path, ts, 0))
		return -errno;
	return 0;
}

/*
 * A mode change that only clears set-user-ID / set-group-ID bits of
 * @old: what the kernel sends for a writer who is not the owner
 * (file_remove_privs on write, kill_suid/kill_sgid).
 */
static bool mq_mode_drops_setid_only(mode_t old, mode_t new)
{
	mode_t dropped = old & 07777 & ~new;

	return !(new & 07777 & ~old) && dropped &&
	       !(dropped & ~(mode_t)(S_ISUID | S_ISGID));
}

static int mq_do_chmod(int file_fd, const char *path, mode_t mode)
{
	return (file_fd >= 0 ? fchmod(file_fd, mode) : chmod(path, mode)) ?
		-errno : 0;
}

/*
 * Whether the caller (whose credentials the thread carries) may write the
 * file: a handle of this inode opened for writing (checked at open), or
 * write permission now, as the caller (fsuid/fsgid, groups, no
 * capabilities for uid != 0; ACLs included).  Errors deny.
 */
static bool mq_caller_may_write(int inode_fd, int file_fd)
{
	if (file_fd >= 0) {
		int fl = fcntl(file_fd, F_GETFL);

		if (fl >= 0 && (fl & O_ACCMODE) != O_RDONLY)
			return true;
	}
	return !faccessat(inode_fd, "", W_OK, AT_EMPTY_PATH | AT_EACCESS);
}

/*
 * SETATTR mode, as the caller: the backend applies the owner rule.  The
 * one exception is the kernel's set-id clear on write (above), which a
 * writer who is not the owner triggers and which fails with EPERM as the
 * caller.  It is done with the daemon's rights only if the caller may
 * write the file (as on a local fs, where only a write clears the bits)
 * and the request asks for the current mode minus set-id bits.  The mode
 * applied is recomputed from a fresh stat as the daemon, clearing just
 * those bits, so a concurrent chmod by the owner is not reverted by a
 * mode computed earlier (one stat->chmod window of two syscalls remains:
 * there is no compare-and-swap chmod).
 */
static int mq_chmod(struct mq_req *req, int inode_fd, int file_fd,
		    const char *path, mode_t mode)
{
	struct stat st;
	mode_t clear;
	int ret, err;

	ret = mq_do_chmod(file_fd, path, mode);
	if (ret != -EPERM || !req->thr->creds_switched)
		return ret;
	if (fstatat(inode_fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) ||
	    !mq_mode_drops_setid_only(st.st_mode, mode) ||
	    !mq_caller_may_write(inode_fd, file_fd))
		return ret;
	clear = st.st_mode & ~mode & (S_ISUID | S_ISGID);
	mq_creds_leave(req);
	if (fstatat(inode_fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		ret = -errno;
	else if (!(st.st_mode & clear))
		ret = 0;	/* already cleared meanwhile */
	else
		ret = mq_do_chmod(file_fd, path, st.st_mode & 07777 & ~clear);
	err = mq_creds_enter(req);
	return err ? err : ret;
}

static int mq_setattr_apply(struct mq_req *req, const struct fuse_setattr_in *si,
			    int inode_fd, int file_fd)
{
	char path[64];
	int ret;

	mq_proc_path(path, sizeof(path), inode_fd);
	if (si->valid & FATTR_MODE) {
		ret = mq_chmod(req, inode_fd, file_fd, path, si->mode);
		if (ret)
			return ret;
	}
	if (si->valid & (FATTR_UID | FATTR_GID)) {
		uid_t uid = (si->valid & FATTR_UID) ? si->uid : (uid_t)-1;
		gid_t gid = (si->valid & FATTR_GID) ? si->gid : (gid_t)-1;

		if (fchownat(inode_fd, "", uid, gid,
			     AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
			return -errno;
	}
	if (si->valid & FATTR_SIZE) {
		ret = -EBADF;

		if (file_fd >= 0)
			ret = ftruncate(file_fd, si->size) ? -errno : 0;
		if (ret == -EBADF || ret == -EINVAL)
			ret = truncate(path, si->size) ? -errno : 0;
		if (ret)
			return ret;
		/* FUSE_HANDLE_KILLPRIV_V2 (ops_file.c) */
		if (si->valid & FATTR_KILL_SUIDGID) {
			ret = mq_kill_suidgid(req, file_fd, inode_fd);
			if (ret)
				return ret;
		}
	}
	if (si->valid & (FATTR_ATIME | FATTR_MTIME | FATTR_ATIME_NOW |
			 FATTR_MTIME_NOW))
		return mq_setattr_times(si, inode_fd, file_fd);
	return 0;
}

int mq_op_setattr(struct mq_req *req)
{
	const struct fuse_setattr_in *si = (const void *)req->arg;
	struct mq_inode *inode;
	struct stat st;
	int ret, file_fd = -1;

	if (si->valid & FATTR_FH) {
		/* Not a file handle opened on this nodeid: EBADF. */
		file_fd = mq_handle_get_fd(si->fh, req->in->nodeid);
		if (file_fd < 0)
			return file_fd;
	}
	inode = mq_inode_get(req->in->nodeid);
	if (!inode) {
		if (file_fd >= 0)
			mq_handle_put(si->fh);
		return -ESTALE;
	}
	ret = mq_setattr_apply(req, si, inode->fd, file_fd);
	if (file_fd >= 0)
		mq_handle_put(si->fh);
	if (!ret)
		ret = mq_stat_fd(inode->fd, &st);
	mq_inode_put(inode);
	return ret ? ret : mq_reply_attr(req, &st);
}

int mq_op_readlink(struct mq_req *req)
{
	struct mq_inode *inode = mq_inode_get(req->in->nodeid);
	ssize_t n;

	if (!inode)
		return -ESTALE;
	n = readlinkat(inode->fd, "", req->out, req->out_max);
	mq_inode_put(inode);
	if (n < 0)
		return -errno;
	return n;
}

/*
 * Only sent without default_permissions.  The thread runs with the
 * caller's fsuid/fsgid, groups and capabilities (creds.c), which
 * faccessat(AT_EACCESS) checks, ACLs included.
 */
int mq_op_access(struct mq_req *req)
{
	const struct fuse_access_in *ai = (const void *)req->arg;
	struct mq_inode *inode = mq_inode_get(req->in->nodeid);
	unsigned int mask = ai->mask & (R_OK | W_OK | X_OK);
	int ret;

	if (!inode)
		return -ESTALE;
	ret = faccessat(inode->fd, "", mask ?: F_OK,
			AT_EMPTY_PATH | AT_EACCESS) ? -errno : 0;
	mq_inode_put(inode);
	return ret;
}
