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

int mq_op_read(struct mq_req *req)
{
	const struct fuse_read_in *ri = (const void *)req->arg;
	int fd = mq_handle_get_fd(ri->fh, req->in->nodeid);
	size_t size = ri->size;
	ssize_t n;

	if (fd < 0)
		return fd;
	if (size > req->out_max)
		size = req->out_max;
	/* Synchronous: the completion is reaped before the put. */
	n = mq_io_read(req->thr->uring, fd, req->out, size, ri->offset);
	mq_handle_put(ri->fh);
	return n;
}

int mq_op_write(struct mq_req *req)
{
	const struct fuse_write_in *wi = (const void *)req->arg;
	struct fuse_write_out *wo = (void *)req->out;
	int fd;
	ssize_t n;

	if (req->arg_len - sizeof(*wi) < wi->size)
		return -EINVAL;
	fd = mq_handle_get_fd(wi->fh, req->in->nodeid);
	if (fd < 0)
		return fd;
	n = mq_io_write(req->thr->uring, fd, wi + 1, wi->size, wi->offset);
	mq_handle_put(wi->fh);
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
	mq_handle_put(f->fh);
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
	if (f->opcode == FUSE_READ) {
		const struct fuse_read_in *ri = (const void *)req->arg;

		fd = mq_handle_get_fd(ri->fh, req->in->nodeid);
		if (fd < 0)
			goto err;
		f->fh = ri->fh;
		f->io.buf = req->out;
		f->io.len = ri->size < req->out_max ? ri->size : req->out_max;
		f->io.off = ri->offset;
	} else {
		const struct fuse_write_in *wi = (const void *)req->arg;

		fd = -EINVAL;
		if (req->arg_len - sizeof(*wi) < wi->size)
			goto err;
		fd = mq_handle_get_fd(wi->fh, req->in->nodeid);
		if (fd < 0)
			goto err;
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
