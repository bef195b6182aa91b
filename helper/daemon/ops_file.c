// SPDX-License-Identifier: GPL-2.0
/*
 * Open files: OPEN, READ, WRITE, RELEASE, FLUSH, FSYNC, FALLOCATE, LSEEK,
 * COPY_FILE_RANGE.  The fh names the backend fd (see handles.c).  READ, WRITE
 * and FSYNC go through the thread's io_uring with the request/reply
 * buffers registered as fixed buffers: synchronously (mq_op_read,
 * mq_op_write), or, for a ring thread's batch, asynchronously
 * (mq_op_rw_start, mq_op_rw_complete: the same results).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "mqfused.h"

/*
 * Only regular files are opened on a client's behalf (directories through
 * OPENDIR).  Opening a device node would run its driver in the daemon with
 * the daemon's privileges (the virtiofsd CVE-2020-35517 class), and opening
 * a FIFO can block a serving thread forever.  The type comes from the
 * O_PATH fd of the inode (fstat at lookup; an inode's type never changes).
 */
int mq_open_type_check(mode_t type)
{
	switch (type & S_IFMT) {
	case S_IFREG:
		return 0;
	case S_IFDIR:
		return -EISDIR;
	case S_IFLNK:
		return -ELOOP;
	case S_IFCHR:
	case S_IFBLK:
		return -EACCES;
	default:	/* FIFO, socket */
		return -ENXIO;
	}
}

/*
 * FUSE_HANDLE_KILLPRIV_V2.  The kernel asks for it on a WRITE
 * (FUSE_WRITE_KILL_SUIDGID), a truncate (FATTR_KILL_SUIDGID) and an
 * O_TRUNC open (FUSE_OPEN_KILL_SUIDGID) by a caller without CAP_FSETID:
 * clear S_ISUID, and S_ISGID if the group may execute, as the VFS does.
 * WRITE runs with the daemon's credentials (CAP_FSETID: the backend would
 * keep the bits), and so does a truncate for a uid 0 caller, hence the
 * explicit chmod.  The file need not be the caller's (a writer who may
 * write it is enough, as on a local filesystem): the chmod is made with
 * the daemon's rights, the caller's put back afterwards.  One window
 * remains between the stat and the chmod, as in mq_chmod() (ops_entry.c).
 *
 * security.capability needs nothing here: the backend's VFS removes it on
 * every write, truncate and chown, whoever makes them (file_remove_privs,
 * do_truncate, chown_common), and removing it explicitly would take
 * CAP_SETFCAP, which the daemon does not keep (creds.c).  chown clears
 * the set-id bits in the backend too: the kernel sends no flag for it.
 *
 * @fd is an open fd of the file, or -1 and @inode_fd its O_PATH fd.
 */
int mq_kill_suidgid(struct mq_req *req, int fd, int inode_fd)
{
	bool as_caller = req->thr->creds_switched;
	struct stat st;
	char path[64];
	mode_t clear;
	int ret, err;

	if (fstat(fd >= 0 ? fd : inode_fd, &st))
		return -errno;
	clear = st.st_mode & S_ISUID;
	if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		clear |= S_ISGID;
	if (!clear || !S_ISREG(st.st_mode))
		return 0;
	if (as_caller)
		mq_creds_leave(req);
	if (fd >= 0) {
		ret = fchmod(fd, st.st_mode & 07777 & ~clear) ? -errno : 0;
	} else {
		mq_proc_path(path, sizeof(path), inode_fd);
		ret = chmod(path, st.st_mode & 07777 & ~clear) ? -errno : 0;
	}
	if (as_caller) {
		err = mq_creds_enter(req);
		if (err && !ret)
			ret = err;
	}
	return ret;
}

int mq_op_open(struct mq_req *req)
{
	const struct fuse_open_in *oi = (const void *)req->arg;
	struct fuse_open_out *oo = (void *)req->out;
	struct mq_inode *inode;
	char path[64];
	int fd, ret, flags;
	uint64_t fh;

	flags = mq_backend_open_flags(oi->flags);
	if (flags < 0)
		return flags;
	inode = mq_inode_get(req->in->nodeid);
	if (!inode)
		return -ESTALE;
	ret = mq_open_type_check(inode->type);
	if (ret) {
		mq_inode_put(inode);
		return ret;
	}
	mq_proc_path(path, sizeof(path), inode->fd);
	fd = open(path, flags);
	ret = fd < 0 ? -errno : 0;
	mq_inode_put(inode);
	if (!ret && (flags & O_TRUNC) && (oi->open_flags & FUSE_OPEN_KILL_SUIDGID)) {
		ret = mq_kill_suidgid(req, fd, -1);
		if (ret)
			close(fd);
	}
	if (ret)
		return ret;
	ret = mq_handle_add(fd, MQ_HANDLE_FILE, NULL, req->in->nodeid, &fh);
	if (ret) {
		close(fd);
		return ret;
	}
	memset(oo, 0, sizeof(*oo));
	oo->fh = fh;
	oo->open_flags = mq_open_reply_flags();
	return sizeof(*oo);
}

/*
 * A page the kernel writes back (FUSE_WRITE_CACHE: from a shared mapping,
 * or the writeback cache) belongs at its offset, but a WRITE through an
 * O_APPEND fd lands at the end of the file whatever its offset (pwrite(2),
 * io_uring alike).  Such a WRITE to a handle opened with O_APPEND gets an
 * fd of the same file without it, reopened with the daemon's rights (the
 * caller may no longer pass a permission check it passed at open), for
 * this request only: rare (a shared mapping of an O_APPEND file), and
 * nothing to keep in the handle table or restore after a takeover.
 * Returns the fd to use, @fd itself, or -errno.
 */
static int mq_write_positional_fd(struct mq_req *req, int fd)
{
	bool as_caller = req->thr->creds_switched;
	char path[64];
	int flags = fcntl(fd, F_GETFL), nfd, err;

	if (flags < 0)
		return -errno;
	if (!(flags & O_APPEND))
		return fd;
	mq_proc_path(path, sizeof(path), fd);
	if (as_caller)
		mq_creds_leave(req);
	nfd = open(path, (flags & O_ACCMODE) | O_CLOEXEC);
	err = nfd < 0 ? -errno : 0;
	if (as_caller && mq_creds_enter(req) && nfd >= 0) {
		close(nfd);
		err = -EPERM;
	}
	return err ? err : nfd;
}

/*
 * The checks and the set-up a READ (@write false) or WRITE makes before
 * its I/O, synchronous or not: the offset is a file position (io_uring
 * reads an offset of -1 as "the current position"), a WRITE's payload is
 * all there, and a WRITE that asks for FUSE_WRITE_KILL_SUIDGID gets it
 * before its data lands, as the VFS does: new contents never run set-id.
 * Returns the backend fd, its handle's reference held, or -errno with none;
 * *@own_fd is an fd the caller closes once the I/O is done, or -1.
 */
static int mq_rw_begin(struct mq_req *req, bool write, int *own_fd)
{
	const struct fuse_read_in *ri = (const void *)req->arg;
	const struct fuse_write_in *wi = (const void *)req->arg;
	uint64_t off = write ? wi->offset : ri->offset;
	uint64_t fh = write ? wi->fh : ri->fh;
	int fd, ret;

	*own_fd = -1;
	if (off > INT64_MAX)
		return -EINVAL;
	if (write && req->arg_len - sizeof(*wi) < wi->size)
		return -EINVAL;
	if (write && wi->size > INT64_MAX - off)
		return -EFBIG;
	fd = mq_handle_get_fd(fh, req->in->nodeid);
	if (fd < 0 || !write)
		return fd;
	if (wi->write_flags & FUSE_WRITE_KILL_SUIDGID) {
		ret = mq_kill_suidgid(req, fd, -1);
		if (ret)
			goto fail;
	}
	if (wi->write_flags & FUSE_WRITE_CACHE) {
		ret = mq_write_positional_fd(req, fd);
		if (ret < 0)
			goto fail;
		if (ret != fd)
			*own_fd = fd = ret;
	}
	return fd;
fail:
	mq_handle_put(fh);
	return ret;
}

/* The end of a READ or WRITE begun by mq_rw_begin(). */
static void mq_rw_end(uint64_t fh, int own_fd)
{
	if (own_fd >= 0)
		close(own_fd);
	mq_handle_put(fh);
}

int mq_op_read(struct mq_req *req)
{
	const struct fuse_read_in *ri = (const void *)req->arg;
	int own_fd, fd = mq_rw_begin(req, false, &own_fd);
	size_t size = ri->size;
	ssize_t n;

	if (fd < 0)
		return fd;
	if (req->thr->payload_iov) {
		/* straight into the caller's memory (vhost.c) */
		if (size > req->thr->payload_len)
			size = req->thr->payload_len;
		n = mq_io_rwv(false, fd, req->thr->payload_iov,
			      req->thr->payload_niov, size, ri->offset);
		mq_rw_end(ri->fh, own_fd);
		return n;
	}
	if (size > req->out_max)
		size = req->out_max;
	/* Synchronous: the completion is reaped before the put. */
	n = mq_io_read(req->thr->uring, fd, req->out, size, ri->offset);
	mq_rw_end(ri->fh, own_fd);
	return n;
}

int mq_op_write(struct mq_req *req)
{
	const struct fuse_write_in *wi = (const void *)req->arg;
	struct fuse_write_out *wo = (void *)req->out;
	int own_fd, fd = mq_rw_begin(req, true, &own_fd);
	ssize_t n;

	if (fd < 0)
		return fd;
	if (req->thr->payload_iov)	/* from the caller's memory (vhost.c) */
		n = wi->size == req->thr->payload_len ?
		    mq_io_rwv(true, fd, req->thr->payload_iov,
			      req->thr->payload_niov, wi->size, wi->offset) :
		    -EINVAL;
	else
		n = mq_io_write(req->thr->uring, fd, wi + 1, wi->size, wi->offset);
	mq_rw_end(wi->fh, own_fd);
	if (n < 0)
		return n;
	memset(wo, 0, sizeof(*wo));
	wo->size = n;
	return sizeof(*wo);
}

/* A READ or WRITE that moved @n bytes (or failed): its reply payload length. */
static ssize_t mq_op_rw_finish(struct mq_file_io *f, ssize_t n)
{
	struct fuse_write_out *wo = (void *)f->out;

	/* the last use of the fd: its SQEs are all completed */
	mq_rw_end(f->fh, f->own_fd);
	if (f->opcode == FUSE_READ || n < 0)
		return n;
	memset(wo, 0, sizeof(*wo));
	wo->size = n;
	return sizeof(*wo);
}

/*
 * Start READ or WRITE @req asynchronously, its SQE tagged @tag; the fh's
 * reference is held until it finishes.  0: in flight (mq_op_rw_complete
 * with each of its completions); 1: finished already, *@result is the
 * reply payload length or -errno (as mq_op_read/mq_op_write return).
 */
int mq_op_rw_start(struct mq_req *req, struct mq_file_io *f, uint64_t tag,
		   ssize_t *result)
{
	ssize_t n;
	int fd;

	memset(f, 0, sizeof(*f));
	f->unique = req->in->unique;
	f->opcode = req->in->opcode;
	f->out = req->out;
	fd = mq_rw_begin(req, f->opcode == FUSE_WRITE, &f->own_fd);
	if (fd < 0)
		goto err;
	if (f->opcode == FUSE_READ) {
		const struct fuse_read_in *ri = (const void *)req->arg;

		f->fh = ri->fh;
		f->io.buf = req->out;
		f->io.len = ri->size < req->out_max ? ri->size : req->out_max;
		f->io.off = ri->offset;
	} else {
		const struct fuse_write_in *wi = (const void *)req->arg;

		f->fh = wi->fh;
		f->io.write = true;
		f->io.buf = (char *)(wi + 1);
		f->io.len = wi->size;
		f->io.off = wi->offset;
	}
	f->io.fd = fd;
	if (!mq_io_start(req->thr->uring, &f->io, tag, &n))
		return 0;
	*result = mq_op_rw_finish(f, n);
	return 1;

err:
	*result = fd;
	return 1;
}

/* A completion of @f's SQE: as mq_op_rw_start(), 0 or 1 with *@result. */
int mq_op_rw_complete(struct mq_thread *thr, struct mq_file_io *f, int res,
		      uint64_t tag, ssize_t *result)
{
	ssize_t n;

	if (!mq_io_complete(thr->uring, &f->io, res, tag, &n))
		return 0;
	*result = mq_op_rw_finish(f, n);
	return 1;
}

int mq_op_release(struct mq_req *req)
{
	const struct fuse_release_in *ri = (const void *)req->arg;
	int ret;

	mq_locks_release(req->in->nodeid, ri);
	ret = mq_handle_release(ri->fh, MQ_HANDLE_FILE, req->in->nodeid);
	/* After the handle is marked released: no wait can start through it. */
	if (!ret)
		mq_locks_released(req->in->nodeid, ri->fh);
	return ret;
}

int mq_op_flush(struct mq_req *req)
{
	const struct fuse_flush_in *fi = (const void *)req->arg;
	int fd, dupfd;

	/*
	 * close(2) of any fd of the file drops the process's POSIX locks on
	 * it; the kernel always sends the owner.  Also with a bad fh.
	 */
	mq_locks_flush(req->in->nodeid, fi->lock_owner, fi->fh);
	fd = mq_handle_get_fd(fi->fh, req->in->nodeid);
	if (fd < 0)
		return fd;
	/* Closing a duplicate reports deferred errors (e.g. NFS backends). */
	dupfd = dup(fd);
	mq_handle_put(fi->fh);
	if (dupfd < 0)
		return -errno;
	return close(dupfd) ? -errno : 0;
}

int mq_op_fsync(struct mq_req *req)
{
	const struct fuse_fsync_in *fi = (const void *)req->arg;
	int fd = mq_handle_get_fd(fi->fh, req->in->nodeid);
	int ret;

	if (fd < 0)
		return fd;
	ret = mq_io_fsync(req->thr->uring, fd, fi->fsync_flags & 1);
	mq_handle_put(fi->fh);
	return ret;
}

int mq_op_fallocate(struct mq_req *req)
{
	const struct fuse_fallocate_in *fi = (const void *)req->arg;
	int fd = mq_handle_get_fd(fi->fh, req->in->nodeid);
	int ret;

	if (fd < 0)
		return fd;
	ret = fallocate(fd, fi->mode, fi->offset, fi->length) ? -errno : 0;
	mq_handle_put(fi->fh);
	return ret;
}

int mq_op_lseek(struct mq_req *req)
{
	const struct fuse_lseek_in *li = (const void *)req->arg;
	struct fuse_lseek_out *lo = (void *)req->out;
	int fd = mq_handle_get_fd(li->fh, req->in->nodeid);
	off_t off;
	int err;

	if (fd < 0)
		return fd;
	off = lseek(fd, li->offset, li->whence);
	err = errno;
	mq_handle_put(li->fh);
	if (off < 0)
		return -err;
	lo->offset = off;
	return sizeof(*lo);
}

int mq_op_copy_file_range(struct mq_req *req)
{
	const struct fuse_copy_file_range_in *ci = (const void *)req->arg;
	struct fuse_write_out *wo = (void *)req->out;
	int fd_in = mq_handle_get_fd(ci->fh_in, req->in->nodeid);
	int fd_out = fd_in < 0 ? -EBADF : mq_handle_get_fd(ci->fh_out,
							   ci->nodeid_out);
	loff_t off_in = ci->off_in, off_out = ci->off_out;
	ssize_t n;
	int err;

	if (fd_out < 0) {
		if (fd_in >= 0)
			mq_handle_put(ci->fh_in);
		return -EBADF;
	}
	n = copy_file_range(fd_in, &off_in, fd_out, &off_out, ci->len,
			    ci->flags);
	err = errno;
	mq_handle_put(ci->fh_out);
	mq_handle_put(ci->fh_in);
	if (n < 0)
		return -err;
	memset(wo, 0, sizeof(*wo));
	wo->size = n;
	return sizeof(*wo);
}
