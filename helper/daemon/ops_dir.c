// SPDX-License-Identifier: GPL-2.0
/*
 * Directories: OPENDIR, READDIR, READDIRPLUS, RELEASEDIR, FSYNCDIR.
 *
 * The offset handed to the kernel with each entry is the backend's d_off
 * cookie from getdents64, so a listing resumes at the right place even
 * when entries are added or removed between two READDIR requests, and a
 * READDIR at any previously returned offset seeks the backend there.
 * Entries read from the backend but not sent (reply full) stay buffered
 * for the next request at the same offset.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqfused.h"

#define MQ_DIR_BUF	(32u << 10)

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

struct mq_dir {
	pthread_mutex_t lock;	/* serialises READDIR on this handle */
	int fd;			/* backend directory, O_RDONLY */
	off_t pos;		/* cookie of the next entry to send */
	size_t buf_off;		/* next unsent entry in buf */
	size_t buf_len;		/* bytes of getdents64 data in buf */
	char buf[MQ_DIR_BUF];	/* entries read ahead from the backend */
};

struct mq_dir *mq_dir_new(int fd)
{
	struct mq_dir *dir = calloc(1, sizeof(*dir));

	if (!dir)
		return NULL;
	pthread_mutex_init(&dir->lock, NULL);
	dir->fd = fd;
	return dir;
}

int mq_op_opendir(struct mq_req *req)
{
	struct fuse_open_out *oo = (void *)req->out;
	struct mq_inode *inode;
	struct mq_dir *dir;
	char path[64];
	int fd, ret;
	uint64_t fh;

	inode = mq_inode_get(req->in->nodeid);
	if (!inode)
		return -ESTALE;
	mq_proc_path(path, sizeof(path), inode->fd);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = fd < 0 ? -errno : 0;
	mq_inode_put(inode);
	if (ret)
		return ret;
	dir = calloc(1, sizeof(*dir));
	if (!dir) {
		close(fd);
		return -ENOMEM;
	}
	pthread_mutex_init(&dir->lock, NULL);
	dir->fd = fd;
	ret = mq_handle_add(fd, MQ_HANDLE_DIR, dir, req->in->nodeid, &fh);
	if (ret) {
		free(dir);
		close(fd);
		return ret;
	}
	memset(oo, 0, sizeof(*oo));
	oo->fh = fh;
	return sizeof(*oo);
}

/* Return the next buffered backend entry, refilling as needed. */
static int mq_dir_peek(struct mq_dir *dir, struct linux_dirent64 **out)
{
	if (dir->buf_off >= dir->buf_len) {
		ssize_t n = getdents64(dir->fd, dir->buf, sizeof(dir->buf));

		if (n < 0)
			return -errno;
		dir->buf_off = 0;
		dir->buf_len = n;
		if (!n)
			return 0;
	}
	*out = (struct linux_dirent64 *)(dir->buf + dir->buf_off);
	return 1;
}

static void mq_dir_consume(struct mq_dir *dir, struct linux_dirent64 *de)
{
	dir->buf_off += de->d_reclen;
	dir->pos = de->d_off;
}

static bool mq_is_dot(const char *name)
{
	return name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2]));
}

static int mq_readdir(struct mq_req *req, bool plus)
{
	const struct fuse_read_in *ri = (const void *)req->arg;
	struct mq_dir *dir = mq_handle_get_dir(ri->fh, req->in->nodeid);
	size_t size = ri->size, used = 0;
	struct linux_dirent64 *de = NULL;
	int ret = 0;

	if (!dir)
		return -EBADF;
	if (size > req->out_max)
		size = req->out_max;
	pthread_mutex_lock(&dir->lock);
	if ((off_t)ri->offset != dir->pos) {
		if (lseek(dir->fd, ri->offset, SEEK_SET) < 0) {
			ret = -errno;
			goto out_unlock;
		}
		dir->pos = ri->offset;
		dir->buf_off = dir->buf_len = 0;
	}
	while ((ret = mq_dir_peek(dir, &de)) > 0) {
		size_t namelen = strlen(de->d_name);
		struct fuse_dirent *fd;
		size_t len;

		if (plus) {
			struct fuse_direntplus *dp = (void *)(req->out + used);

			len = FUSE_DIRENT_ALIGN(offsetof(struct fuse_direntplus,
							 dirent.name) + namelen);
			if (used + len > size)
				break;
			memset(&dp->entry_out, 0, sizeof(dp->entry_out));
			if (!mq_is_dot(de->d_name)) {
				ret = mq_do_lookup(dir->fd, de->d_name,
						   &dp->entry_out);
				if (ret == -ENOENT) {
					/* Vanished since getdents: skip. */
					mq_dir_consume(dir, de);
					continue;
				}
				/*
				 * Not searchable by the caller (or worse):
				 * list the name without an entry, as ls
				 * shows names of a readable, unsearchable
				 * directory.
				 */
				if (ret)
					memset(&dp->entry_out, 0,
					       sizeof(dp->entry_out));
				ret = 0;
			}
			fd = &dp->dirent;
		} else {
			fd = (void *)(req->out + used);
			len = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + namelen);
			if (used + len > size)
				break;
		}
		fd->ino = de->d_ino;
		fd->off = de->d_off;
		fd->namelen = namelen;
		fd->type = de->d_type;
		memcpy(fd->name, de->d_name, namelen);
		/* Zero the alignment padding: it goes to the kernel. */
		memset(fd->name + namelen, 0,
		       req->out + used + len - (fd->name + namelen));
		used += len;
		mq_dir_consume(dir, de);
	}
out_unlock:
	pthread_mutex_unlock(&dir->lock);
	mq_handle_put(ri->fh);
	if (ret < 0 && !used)
		return ret;
	return used;
}

int mq_op_readdir(struct mq_req *req)
{
	return mq_readdir(req, false);
}

int mq_op_readdirplus(struct mq_req *req)
{
	return mq_readdir(req, true);
}

int mq_op_releasedir(struct mq_req *req)
{
	const struct fuse_release_in *ri = (const void *)req->arg;

	return mq_handle_release(ri->fh, MQ_HANDLE_DIR, req->in->nodeid);
}

/* Last reference to the handle gone (handles.c closes dir->fd). */
void mq_dir_free(struct mq_dir *dir)
{
	pthread_mutex_destroy(&dir->lock);
	free(dir);
}

int mq_op_fsyncdir(struct mq_req *req)
{
	const struct fuse_fsync_in *fi = (const void *)req->arg;
	struct mq_dir *dir = mq_handle_get_dir(fi->fh, req->in->nodeid);
	int ret;

	if (!dir)
		return -EBADF;
	ret = ((fi->fsync_flags & 1) ? fdatasync(dir->fd) : fsync(dir->fd)) ?
	      -errno : 0;
	mq_handle_put(fi->fh);
	return ret;
}
