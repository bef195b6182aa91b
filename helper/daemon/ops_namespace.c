// SPDX-License-Identifier: GPL-2.0
/*
 * Directory modifications: SYMLINK, MKNOD, MKDIR, UNLINK, RMDIR, RENAME,
 * RENAME2, LINK, CREATE, TMPFILE.  New objects are created with the
 * caller's fsuid/fsgid (creds.c) and answered with a LOOKUP-style entry
 * that takes one lookup reference.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mqfused.h"

/* Resolve the parent directory of a namespace operation. */
static int mq_get_dir(struct mq_req *req, uint64_t nodeid,
		      struct mq_inode **out)
{
	struct mq_inode *dir = mq_inode_get(nodeid);

	if (!dir)
		return -ESTALE;
	if (!S_ISDIR(dir->type)) {
		mq_inode_put(dir);
		return -ENOTDIR;
	}
	(void)req;
	*out = dir;
	return 0;
}

/* Finish a create-like op: entry reply for @name in @dir. */
static int mq_reply_new_entry(struct mq_req *req, struct mq_inode *dir,
			      const char *name)
{
	struct fuse_entry_out *eo = (void *)req->out;
	int ret = mq_do_lookup(dir->fd, name, eo);

	return ret ? ret : (int)sizeof(*eo);
}

/* What SYMLINK, MKNOD and MKDIR create; they share everything else. */
enum mq_node_kind { MQ_NODE_SYMLINK, MQ_NODE_MKNOD, MQ_NODE_MKDIR };

/*
 * Create @name in the request's directory as the caller (fsuid/fsgid and
 * umask of the request), then answer with the new entry.
 */
static int mq_make_node(struct mq_req *req, const char *name, enum mq_node_kind kind,
			mode_t mode, mode_t umask, dev_t rdev, const char *target)
{
	struct mq_inode *dir;
	int ret;

	ret = mq_name_check(name);
	if (ret)
		return ret;
	ret = mq_get_dir(req, req->in->nodeid, &dir);
	if (ret)
		return ret;
	mode = mq_umask_enter(req, mode, umask);
	switch (kind) {
	case MQ_NODE_SYMLINK:
		ret = symlinkat(target, dir->fd, name);
		break;
	case MQ_NODE_MKNOD:
		ret = mknodat(dir->fd, name, mode, rdev);
		break;
	default:
		ret = mkdirat(dir->fd, name, mode);
		break;
	}
	ret = ret ? -errno : 0;	/* before mq_creds_leave() can touch errno */
	mq_umask_leave(req);
	if (!ret)
		ret = mq_reply_new_entry(req, dir, name);
	mq_inode_put(dir);
	return ret;
}

int mq_op_symlink(struct mq_req *req)
{
	size_t next;
	const char *name = mq_req_name(req, 0, &next);
	const char *target = name ? mq_req_name(req, next, NULL) : NULL;

	if (!target)
		return -EINVAL;
	return mq_make_node(req, name, MQ_NODE_SYMLINK, 0, 0, 0, target);
}

int mq_op_mknod(struct mq_req *req)
{
	const struct fuse_mknod_in *mi = (const void *)req->arg;
	const char *name = mq_req_name(req, sizeof(*mi), NULL);

	return mq_make_node(req, name, MQ_NODE_MKNOD, mi->mode, mi->umask, mi->rdev, NULL);
}

int mq_op_mkdir(struct mq_req *req)
{
	const struct fuse_mkdir_in *mi = (const void *)req->arg;
	const char *name = mq_req_name(req, sizeof(*mi), NULL);

	return mq_make_node(req, name, MQ_NODE_MKDIR, mi->mode, mi->umask, 0, NULL);
}

static int mq_remove(struct mq_req *req, int flags)
{
	const char *name = mq_req_name(req, 0, NULL);
	struct mq_inode *dir;
	int ret;

	ret = mq_name_check(name);
	if (ret)
		return ret;
	ret = mq_get_dir(req, req->in->nodeid, &dir);
	if (ret)
		return ret;
	ret = unlinkat(dir->fd, name, flags) ? -errno : 0;
	mq_inode_put(dir);
	return ret;
}

int mq_op_unlink(struct mq_req *req)
{
	return mq_remove(req, 0);
}

int mq_op_rmdir(struct mq_req *req)
{
	return mq_remove(req, AT_REMOVEDIR);
}

static int mq_do_rename(struct mq_req *req, uint64_t newdir_id, size_t off,
			unsigned int flags)
{
	size_t next;
	const char *oldname = mq_req_name(req, off, &next);
	const char *newname = oldname ? mq_req_name(req, next, NULL) : NULL;
	struct mq_inode *olddir, *newdir;
	int ret;

	ret = mq_name_check(oldname);
	if (!ret)
		ret = mq_name_check(newname);
	if (ret)
		return ret;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	ret = mq_get_dir(req, req->in->nodeid, &olddir);
	if (ret)
		return ret;
	ret = mq_get_dir(req, newdir_id, &newdir);
	if (ret)
		goto out_put_old;
	ret = renameat2(olddir->fd, oldname, newdir->fd, newname, flags) ?
		-errno : 0;
	mq_inode_put(newdir);
out_put_old:
	mq_inode_put(olddir);
	return ret;
}

int mq_op_rename(struct mq_req *req)
{
	const struct fuse_rename_in *ri = (const void *)req->arg;

	return mq_do_rename(req, ri->newdir, sizeof(*ri), 0);
}

int mq_op_rename2(struct mq_req *req)
{
	const struct fuse_rename2_in *ri = (const void *)req->arg;

	return mq_do_rename(req, ri->newdir, sizeof(*ri), ri->flags);
}

int mq_op_link(struct mq_req *req)
{
	const struct fuse_link_in *li = (const void *)req->arg;
	const char *name = mq_req_name(req, sizeof(*li), NULL);
	struct mq_inode *dir, *old;
	char path[64];
	int ret;

	ret = mq_name_check(name);
	if (ret)
		return ret;
	old = mq_inode_get(li->oldnodeid);
	if (!old)
		return -ESTALE;
	ret = mq_get_dir(req, req->in->nodeid, &dir);
	if (ret)
		goto out_put_old;
	/* Linking does not create an inode: no credential switch needed. */
	ret = linkat(old->fd, "", dir->fd, name, AT_EMPTY_PATH) ? -errno : 0;
	if (ret == -ENOENT || ret == -EPERM) {
		mq_proc_path(path, sizeof(path), old->fd);
		ret = linkat(AT_FDCWD, path, dir->fd, name, AT_SYMLINK_FOLLOW) ?
			-errno : ret;
	}
	if (!ret)
		ret = mq_reply_new_entry(req, dir, name);
	mq_inode_put(dir);
out_put_old:
	mq_inode_put(old);
	return ret;
}

/*
 * Client flags kept when opening a backend file on behalf of
 * OPEN/CREATE/TMPFILE: the access mode and these.  Everything else is
 * dropped: O_PATH, O_TMPFILE, O_DIRECTORY, O_NOFOLLOW would change what is
 * opened (the kernel resolved the path; /proc/self/fd/N is a symlink
 * itself); O_CREAT/O_EXCL/O_TMPFILE are added by the callers that need
 * them; O_NOATIME needs ownership the daemon must not lend; O_DIRECT is
 * not honoured (payload buffers are aligned, client offsets/sizes need
 * not be); O_NONBLOCK is the kernel's business on the client's file (a
 * backend fd with it could answer -EAGAIN and keep a serving thread
 * retrying); O_NOCTTY, O_ASYNC and O_LARGEFILE mean nothing here.
 */
#define MQ_OPEN_ALLOWED	(O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC)

/*
 * Backend open flags for client @flags, or -EINVAL for access mode 3
 * (O_ACCMODE: "ioctl only", which no FUSE client needs; it would hand out
 * an fd usable for neither READ nor WRITE yet checked for both).
 */
int mq_backend_open_flags(uint32_t flags)
{
	if ((flags & O_ACCMODE) == O_ACCMODE)
		return -EINVAL;
	flags &= MQ_OPEN_ALLOWED;
	if (mq_conn.flags & FUSE_WRITEBACK_CACHE) {
		/* The kernel reads to fill partial pages and owns i_size. */
		if ((flags & O_ACCMODE) == O_WRONLY)
			flags = (flags & ~O_ACCMODE) | O_RDWR;
		flags &= ~O_APPEND;
	}
	return flags | O_CLOEXEC;
}

uint32_t mq_open_reply_flags(void)
{
#ifdef FOPEN_PARALLEL_DIRECT_WRITES
	return FOPEN_PARALLEL_DIRECT_WRITES;
#else
	return 0;
#endif
}

/*
 * Open an existing @name for CREATE without O_EXCL: through an O_PATH fd
 * whose type is checked first, so a device node or FIFO that appeared
 * under the name is never opened.
 */
static int mq_create_open_existing(int dirfd, const char *name, int flags)
{
	struct stat st;
	char path[64];
	int pfd, fd, ret;

	pfd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	ret = fstat(pfd, &st) ? -errno : mq_open_type_check(st.st_mode);
	if (!ret) {
		mq_proc_path(path, sizeof(path), pfd);
		/*
		 * /proc/self/fd/N is a symlink: O_NOFOLLOW would fail with
		 * ELOOP.  pfd was opened O_NOFOLLOW and its type checked.
		 */
		fd = open(path, flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW));
		ret = fd < 0 ? -errno : fd;
	}
	close(pfd);
	return ret;
}

int mq_op_create(struct mq_req *req)
{
	const struct fuse_create_in *ci = (const void *)req->arg;
	const char *name = mq_req_name(req, sizeof(*ci), NULL);
	struct fuse_entry_out *eo = (void *)req->out;
	struct fuse_open_out *oo = (void *)(eo + 1);
	struct mq_inode *dir;
	int ret, fd, flags;
	uint64_t fh;
	mode_t mode;

	ret = mq_name_check(name);
	if (ret)
		return ret;
	flags = mq_backend_open_flags(ci->flags);
	if (flags < 0)
		return flags;
	flags |= O_CREAT | O_EXCL | O_NOFOLLOW;
	ret = mq_get_dir(req, req->in->nodeid, &dir);
	if (ret)
		return ret;
	mode = mq_umask_enter(req, ci->mode, ci->umask);
	fd = openat(dir->fd, name, flags, mode);
	ret = fd < 0 ? -errno : 0;
	mq_umask_leave(req);
	/*
	 * A replayed CREATE whose file the dead daemon made (replay.c): open
	 * that file, not truncating what may have been written since.
	 */
	if (ret == -EEXIST && req->replay_applied)
		flags &= ~O_TRUNC;
	if (ret == -EEXIST && (!(ci->flags & O_EXCL) || req->replay_applied)) {
		fd = mq_create_open_existing(dir->fd, name, flags);
		ret = fd < 0 ? fd : 0;
		/* it truncated an existing file: FUSE_HANDLE_KILLPRIV_V2 (ops_file.c) */
		if (!ret && (flags & O_TRUNC) &&
		    (ci->open_flags & FUSE_OPEN_KILL_SUIDGID)) {
			ret = mq_kill_suidgid(req, fd, -1);
			if (ret)
				close(fd);
		}
	}
	mq_inode_put(dir);
	if (ret)
		return ret;
	/*
	 * The entry is the object we opened, not whatever the name refers
	 * to now (a concurrent rename may have replaced it).
	 */
	ret = mq_entry_from_fd(fd, eo);
	if (!ret) {
		ret = mq_handle_add(fd, MQ_HANDLE_FILE, NULL, eo->nodeid,
				    &fh);
		if (ret)	/* the kernel will not know the entry */
			mq_inode_forget(eo->nodeid, 1);
	}
	if (ret) {
		close(fd);
		return ret;
	}
	memset(oo, 0, sizeof(*oo));
	oo->fh = fh;
	oo->open_flags = mq_open_reply_flags();
	return sizeof(*eo) + sizeof(*oo);
}

int mq_op_tmpfile(struct mq_req *req)
{
	const struct fuse_create_in *ci = (const void *)req->arg;
	struct fuse_entry_out *eo = (void *)req->out;
	struct fuse_open_out *oo = (void *)(eo + 1);
	struct mq_inode *dir;
	int ret, fd, flags;
	uint64_t fh;
	mode_t mode;

	flags = mq_backend_open_flags(ci->flags);
	if (flags < 0)
		return flags;
	flags |= O_TMPFILE;
	ret = mq_get_dir(req, req->in->nodeid, &dir);
	if (ret)
		return ret;
	mode = mq_umask_enter(req, ci->mode, ci->umask);
	fd = openat(dir->fd, ".", flags, mode);
	ret = fd < 0 ? -errno : 0;
	mq_umask_leave(req);
	mq_inode_put(dir);
	if (ret)
		return ret;
	ret = mq_entry_from_fd(fd, eo);
	if (!ret) {
		ret = mq_handle_add(fd, MQ_HANDLE_FILE, NULL, eo->nodeid,
				    &fh);
		if (ret)
			mq_inode_forget(eo->nodeid, 1);
	}
	if (ret) {
		close(fd);
		return ret;
	}
	memset(oo, 0, sizeof(*oo));
	oo->fh = fh;
	oo->open_flags = mq_open_reply_flags();
	return sizeof(*eo) + sizeof(*oo);
}
