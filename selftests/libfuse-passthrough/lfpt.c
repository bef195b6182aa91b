// SPDX-License-Identifier: GPL-2.0
/*
 * lfpt - libfuse3 low-level passthrough daemon.
 *
 * The "stock FUSE + libfuse" baseline: an ordinary libfuse3 daemon that
 * mirrors SRCDIR at MOUNTPOINT.  It runs unmodified over /dev/fuse and
 * over mqfuse's character device: when MOUNTPOINT is "/dev/fd/N", libfuse
 * (>= 3.3) serves the already-mounted session on fd N and never mounts or
 * unmounts anything itself.
 *
 *   lfpt [-f] [-d] [-s] [-o opts] [--threads N] SRCDIR MOUNTPOINT
 *
 * Own -o options (everything else goes to libfuse, e.g. allow_other,
 * default_permissions, max_write=N, max_read=N, fsname=...):
 *   timeout=SEC     entry and attribute cache timeout (default 1.0)
 *   splice          use splice for request reads and reply writes
 *   nosplice        never use splice
 *   The default is splice on /dev/fuse and no splice on any other device
 *   (a /dev/fd/N session whose fd is not /dev/fuse), because libfuse has
 *   no read()/write() fallback once splice fails on a device.
 *
 * Every inode the kernel knows about is an O_PATH fd kept in a table
 * keyed by (st_dev, st_ino) with the kernel's lookup count; the nodeid
 * handed to the kernel is the table entry's address.  Objects are
 * created with the caller's fsuid/fsgid and supplementary groups,
 * switched per thread with raw syscalls (glibc's wrappers would change
 * the credentials of every thread).
 *
 * Permission checks are left to the kernel (-o default_permissions);
 * POSIX locks are handled by the kernel locally (no getlk/setlk), flock
 * is passed through to the backing file.
 */
#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#define _GNU_SOURCE

#include <fuse_lowlevel.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define LFPT_HASH_BITS		12
#define LFPT_HASH_SIZE		(1u << LFPT_HASH_BITS)
#define LFPT_MAX_GROUPS		256
#define LFPT_MAX_WRITE		(1u << 20)	/* libfuse 3.14 ceiling */
#define FUSE_DEV_MAJOR		10
#define FUSE_DEV_MINOR		229

/* One backing object the kernel holds a reference to. */
struct lfpt_inode {
	struct lfpt_inode *hash_next;	/* chain in lfpt.hash[]; under lfpt.lock */
	int fd;				/* O_PATH fd of the backing object */
	dev_t dev;			/* key: backing st_dev */
	ino_t ino;			/* key: backing st_ino */
	uint64_t nlookup;		/* kernel lookup count; under lfpt.lock */
};

/* An open directory stream (fi->fh of opendir). */
struct lfpt_dir {
	DIR *dp;			/* the stream */
	off_t offset;			/* telldir() cookie of next entry */
	struct dirent *entry;		/* entry read but not yet returned */
};

enum lfpt_splice_mode {
	LFPT_SPLICE_AUTO,		/* on for /dev/fuse, off otherwise */
	LFPT_SPLICE_ON,
	LFPT_SPLICE_OFF,
};

static struct {
	struct lfpt_inode root;		/* SRCDIR, nodeid FUSE_ROOT_ID */
	pthread_mutex_t lock;		/* protects hash[] and nlookup */
	struct lfpt_inode *hash[LFPT_HASH_SIZE];
	double timeout;			/* entry/attr timeout in seconds */
	enum lfpt_splice_mode splice;
	bool debug;
} lfpt = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.timeout = 1.0,
};

/* ---- inode table ---------------------------------------------------- */

static struct lfpt_inode *lfpt_inode(fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return &lfpt.root;
	return (struct lfpt_inode *)(uintptr_t)ino;
}

static int lfpt_fd(fuse_ino_t ino)
{
	return lfpt_inode(ino)->fd;
}

static unsigned int lfpt_hash(dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15ull) ^ ino;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (unsigned int)(h >> (64 - LFPT_HASH_BITS));
}

/*
 * Find or insert the inode for @st, taking one lookup reference.  Takes
 * ownership of @fd (closed if the inode was already known).
 */
static struct lfpt_inode *lfpt_inode_get(int fd, const struct stat *st)
{
	unsigned int h = lfpt_hash(st->st_dev, st->st_ino);
	struct lfpt_inode *inode;

	if (st->st_dev == lfpt.root.dev && st->st_ino == lfpt.root.ino) {
		/* ".." of a top-level dir or a bind loop: the root itself */
		close(fd);
		pthread_mutex_lock(&lfpt.lock);
		lfpt.root.nlookup++;
		pthread_mutex_unlock(&lfpt.lock);
		return &lfpt.root;
	}

	pthread_mutex_lock(&lfpt.lock);
	for (inode = lfpt.hash[h]; inode; inode = inode->hash_next)
		if (inode->dev == st->st_dev && inode->ino == st->st_ino)
			break;
	if (inode) {
		inode->nlookup++;
		pthread_mutex_unlock(&lfpt.lock);
		close(fd);
		return inode;
	}
	inode = calloc(1, sizeof(*inode));
	if (!inode) {
		pthread_mutex_unlock(&lfpt.lock);
		close(fd);
		return NULL;
	}
	inode->fd = fd;
	inode->dev = st->st_dev;
	inode->ino = st->st_ino;
	inode->nlookup = 1;
	inode->hash_next = lfpt.hash[h];
	lfpt.hash[h] = inode;
	pthread_mutex_unlock(&lfpt.lock);
	return inode;
}

/* Drop @n lookup references; the last one closes the backing fd. */
static void lfpt_inode_put(struct lfpt_inode *inode, uint64_t n)
{
	struct lfpt_inode **pp;

	pthread_mutex_lock(&lfpt.lock);
	if (n > inode->nlookup) {
		fprintf(stderr, "lfpt: forget %" PRIu64 " > nlookup %" PRIu64 "\n",
			n, inode->nlookup);
		n = inode->nlookup;
	}
	inode->nlookup -= n;
	if (inode->nlookup || inode == &lfpt.root) {
		pthread_mutex_unlock(&lfpt.lock);
		return;
	}
	pp = &lfpt.hash[lfpt_hash(inode->dev, inode->ino)];
	while (*pp != inode)
		pp = &(*pp)->hash_next;
	*pp = inode->hash_next;
	pthread_mutex_unlock(&lfpt.lock);
	close(inode->fd);
	free(inode);
}

/* ---- credentials ---------------------------------------------------- */

/*
 * Switch this thread's fs credentials and supplementary groups to the
 * caller's, so new objects get the caller's owner and group (including
 * setgid-directory inheritance done by the backing filesystem).  Raw
 * syscalls: they act on the calling thread only.
 */
static int lfpt_become_caller(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[LFPT_MAX_GROUPS];
	int n;

	n = fuse_req_getgroups(req, LFPT_MAX_GROUPS, groups);
	if (n < 0)
		n = 0;	/* caller gone or no /proc: fsgid only */
	if (n > LFPT_MAX_GROUPS)
		n = LFPT_MAX_GROUPS;
	if (syscall(SYS_setgroups, n, groups))
		return -errno;
	if (syscall(SYS_setfsgid, ctx->gid) == -1 ||
	    syscall(SYS_setfsuid, ctx->uid) == -1)
		return -errno;
	return 0;
}

static void lfpt_become_self(void)
{
	int saved = errno;

	/* fsuid back to 0 re-raises the fs capabilities from permitted */
	syscall(SYS_setfsuid, 0);
	syscall(SYS_setfsgid, 0);
	syscall(SYS_setgroups, 0, NULL);
	errno = saved;
}

/* ---- helpers -------------------------------------------------------- */

static void lfpt_procpath(char buf[64], int fd)
{
	snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

/* Look @name up in @parent and fill @e, taking a lookup reference. */
static int lfpt_do_lookup(fuse_ino_t parent, const char *name,
			  struct fuse_entry_param *e)
{
	struct lfpt_inode *inode;
	int fd;

	memset(e, 0, sizeof(*e));
	e->attr_timeout = lfpt.timeout;
	e->entry_timeout = lfpt.timeout;

	fd = openat(lfpt_fd(parent), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return errno;
	if (fstatat(fd, "", &e->attr, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
		int err = errno;

		close(fd);
		return err;
	}
	inode = lfpt_inode_get(fd, &e->attr);
	if (!inode)
		return ENOMEM;
	e->ino = inode == &lfpt.root ? FUSE_ROOT_ID : (uintptr_t)inode;
	return 0;
}

static void lfpt_reply_entry_or_err(fuse_req_t req, fuse_ino_t parent,
				    const char *name, int err)
{
	struct fuse_entry_param e;

	if (!err)
		err = lfpt_do_lookup(parent, name, &e);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_entry(req, &e);
}

/* ---- operations ----------------------------------------------------- */

static void lfpt_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;

	if (conn->max_write > LFPT_MAX_WRITE)
		conn->max_write = LFPT_MAX_WRITE;
	conn->max_readahead = conn->max_write;
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	if (conn->capable & FUSE_CAP_FLOCK_LOCKS)
		conn->want |= FUSE_CAP_FLOCK_LOCKS;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (lfpt.splice == LFPT_SPLICE_ON) {
		conn->want |= conn->capable & (FUSE_CAP_SPLICE_READ |
					       FUSE_CAP_SPLICE_WRITE |
					       FUSE_CAP_SPLICE_MOVE);
	} else {
		conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				FUSE_CAP_SPLICE_MOVE);
	}
	/* the kernel does POSIX locks locally: we have no getlk/setlk */
	conn->want &= ~FUSE_CAP_POSIX_LOCKS;
	/* new objects get the kernel's already-umasked mode */
	conn->want &= ~FUSE_CAP_DONT_MASK;
	if (lfpt.debug)
		fprintf(stderr, "lfpt: init proto 7.%u max_write %u want %#x\n",
			conn->proto_minor, conn->max_write, conn->want);
}

static void lfpt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err = lfpt_do_lookup(parent, name, &e);

	if (err == ENOENT) {
		/* negative entry, cached for the timeout */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = lfpt.timeout;
		fuse_reply_entry(req, &e);
	} else if (err) {
		fuse_reply_err(req, err);
	} else {
		fuse_reply_entry(req, &e);
	}
}

static void lfpt_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	lfpt_inode_put(lfpt_inode(ino), nlookup);
	fuse_reply_none(req);
}

static void lfpt_forget_multi(fuse_req_t req, size_t count,
			      struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		lfpt_inode_put(lfpt_inode(forgets[i].ino), forgets[i].nlookup);
	fuse_reply_none(req);
}

static void lfpt_getattr(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct stat st;
	int ret;

	if (fi)
		ret = fstat(fi->fh, &st);
	else
		ret = fstatat(lfpt_fd(ino), "", &st,
			      AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
	if (ret)
		fuse_reply_err(req, errno);
	else
		fuse_reply_attr(req, &st, lfpt.timeout);
}

static void lfpt_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			 int valid, struct fuse_file_info *fi)
{
	int fd = lfpt_fd(ino);
	char path[64];
	int ret;

	lfpt_procpath(path, fd);
	/* owner first: a chown by root must not undo the mode below */
	if (valid & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid = valid & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
		gid_t gid = valid & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;

		ret = fchownat(fd, "", uid, gid,
			       AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
		if (ret)
			goto out_err;
	}
	if (valid & FUSE_SET_ATTR_MODE) {
		ret = fi ? fchmod(fi->fh, attr->st_mode) :
			   chmod(path, attr->st_mode);
		if (ret)
			goto out_err;
	}
	if (valid & FUSE_SET_ATTR_SIZE) {
		ret = fi ? ftruncate(fi->fh, attr->st_size) :
			   truncate(path, attr->st_size);
		if (ret)
			goto out_err;
	}
	if (valid & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		struct timespec tv[2] = {
			{ .tv_nsec = UTIME_OMIT },
			{ .tv_nsec = UTIME_OMIT },
		};

		if (valid & FUSE_SET_ATTR_ATIME_NOW)
			tv[0].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_ATIME)
			tv[0] = attr->st_atim;
		if (valid & FUSE_SET_ATTR_MTIME_NOW)
			tv[1].tv_nsec = UTIME_NOW;
		else if (valid & FUSE_SET_ATTR_MTIME)
			tv[1] = attr->st_mtim;
		ret = fi ? futimens(fi->fh, tv) :
			   utimensat(fd, "", tv, AT_EMPTY_PATH);
		if (ret)
			goto out_err;
	}
	lfpt_getattr(req, ino, fi);
	return;
out_err:
	fuse_reply_err(req, errno);
}

static void lfpt_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t n = readlinkat(lfpt_fd(ino), "", buf, sizeof(buf));

	if (n == -1)
		fuse_reply_err(req, errno);
	else if (n == sizeof(buf))
		fuse_reply_err(req, ENAMETOOLONG);
	else {
		buf[n] = '\0';
		fuse_reply_readlink(req, buf);
	}
}

static void lfpt_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, dev_t rdev)
{
	int err = lfpt_become_caller(req);

	if (!err && mknodat(lfpt_fd(parent), name, mode, rdev))
		err = errno;
	lfpt_become_self();
	lfpt_reply_entry_or_err(req, parent, name, err);
}

static void lfpt_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode)
{
	int err = lfpt_become_caller(req);

	if (!err && mkdirat(lfpt_fd(parent), name, mode))
		err = errno;
	lfpt_become_self();
	lfpt_reply_entry_or_err(req, parent, name, err);
}

static void lfpt_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			 const char *name)
{
	int err = lfpt_become_caller(req);

	if (!err && symlinkat(link, lfpt_fd(parent), name))
		err = errno;
	lfpt_become_self();
	lfpt_reply_entry_or_err(req, parent, name, err);
}

static void lfpt_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		      const char *newname)
{
	int err = 0;

	if (linkat(lfpt_fd(ino), "", lfpt_fd(newparent), newname,
		   AT_EMPTY_PATH))
		err = errno;
	lfpt_reply_entry_or_err(req, newparent, newname, err);
}

static void lfpt_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, unlinkat(lfpt_fd(parent), name, 0) ? errno : 0);
}

static void lfpt_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, unlinkat(lfpt_fd(parent), name, AT_REMOVEDIR) ?
			    errno : 0);
}

static void lfpt_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			fuse_ino_t newparent, const char *newname,
			unsigned int flags)
{
	int ret = renameat2(lfpt_fd(parent), name, lfpt_fd(newparent), newname,
			    flags);

	fuse_reply_err(req, ret ? errno : 0);
}

/*
 * Flags for opening the backing file.  The kernel already resolved the
 * path (O_PATH fds are re-opened) and created the file.  O_DIRECT is
 * dropped: it governs the FUSE mount's page cache, which the kernel
 * handles, while the payload reaching us sits at an unaligned offset in
 * libfuse's buffer and would fail with EINVAL on the backing file.
 */
static int lfpt_open_flags(int flags)
{
	return (flags & ~(O_NOFOLLOW | O_CREAT | O_EXCL | O_NOCTTY |
			  O_DIRECT)) | O_CLOEXEC;
}

static void lfpt_open(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	char path[64];
	int fd;

	lfpt_procpath(path, lfpt_fd(ino));
	fd = open(path, lfpt_open_flags(fi->flags));
	if (fd == -1) {
		fuse_reply_err(req, errno);
		return;
	}
	fi->fh = fd;
	if (fuse_reply_open(req, fi))
		close(fd);
}

static void lfpt_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int err, fd = -1;

	err = lfpt_become_caller(req);
	if (!err) {
		fd = openat(lfpt_fd(parent), name,
			    lfpt_open_flags(fi->flags) | O_CREAT |
			    (fi->flags & O_EXCL), mode);
		if (fd == -1)
			err = errno;
	}
	lfpt_become_self();
	if (!err)
		err = lfpt_do_lookup(parent, name, &e);
	if (err) {
		if (fd != -1)
			close(fd);
		fuse_reply_err(req, err);
		return;
	}
	fi->fh = fd;
	if (fuse_reply_create(req, &e, fi)) {
		close(fd);
		lfpt_inode_put(lfpt_inode(e.ino), 1);
	}
}

static void lfpt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	(void)ino;
	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fi->fh;
	buf.buf[0].pos = off;
	/* libfuse splices from the fd when FUSE_CAP_SPLICE_WRITE is on */
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void lfpt_write_buf(fuse_req_t req, fuse_ino_t ino,
			   struct fuse_bufvec *in_buf, off_t off,
			   struct fuse_file_info *fi)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in_buf));
	int fd = fi->fh, flags, own = -1;
	ssize_t n;

	(void)ino;
	/*
	 * A page written back (a shared mapping's) belongs at its offset; a
	 * write through an O_APPEND fd would land at the end: use an fd of
	 * the same file without O_APPEND for it.
	 */
	flags = fi->writepage ? fcntl(fd, F_GETFL) : 0;
	if (flags > 0 && (flags & O_APPEND)) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		own = open(path, (flags & O_ACCMODE) | O_CLOEXEC);
		if (own < 0) {
			fuse_reply_err(req, errno);
			return;
		}
		fd = own;
	}
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = fd;
	out.buf[0].pos = off;
	n = fuse_buf_copy(&out, in_buf, 0);
	if (own >= 0)
		close(own);
	if (n < 0)
		fuse_reply_err(req, -n);
	else
		fuse_reply_write(req, n);
}

static void lfpt_flush(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	/* closing a dup drops POSIX locks and reports delayed errors */
	int ret = close(dup(fi->fh));

	(void)ino;
	fuse_reply_err(req, ret ? errno : 0);
}

static void lfpt_release(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	(void)ino;
	close(fi->fh);
	fuse_reply_err(req, 0);
}

static void lfpt_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		       struct fuse_file_info *fi)
{
	int ret = datasync ? fdatasync(fi->fh) : fsync(fi->fh);

	(void)ino;
	fuse_reply_err(req, ret ? errno : 0);
}

static struct lfpt_dir *lfpt_dir(struct fuse_file_info *fi)
{
	return (struct lfpt_dir *)(uintptr_t)fi->fh;
}

static void lfpt_opendir(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct lfpt_dir *d;
	int fd;

	d = calloc(1, sizeof(*d));
	if (!d)
		goto out_nomem;
	fd = openat(lfpt_fd(ino), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		goto out_err;
	d->dp = fdopendir(fd);
	if (!d->dp) {
		close(fd);
		goto out_err;
	}
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi)) {
		closedir(d->dp);
		free(d);
	}
	return;
out_err:
	free(d);
	fuse_reply_err(req, errno);
	return;
out_nomem:
	fuse_reply_err(req, ENOMEM);
}

static bool lfpt_is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

static void lfpt_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			    off_t offset, struct fuse_file_info *fi, bool plus)
{
	struct lfpt_dir *d = lfpt_dir(fi);
	size_t used = 0;
	char *buf;
	int err = 0;

	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (offset != d->offset) {
		seekdir(d->dp, offset);
		d->entry = NULL;
		d->offset = offset;
	}
	for (;;) {
		struct fuse_entry_param e;
		const char *name;
		off_t next;
		size_t len;

		if (!d->entry) {
			errno = 0;
			d->entry = readdir(d->dp);
			if (!d->entry) {
				err = errno;
				break;
			}
		}
		name = d->entry->d_name;
		next = d->entry->d_off;
		if (plus) {
			memset(&e, 0, sizeof(e));
			if (lfpt_is_dot_or_dotdot(name)) {
				e.attr.st_ino = d->entry->d_ino;
				e.attr.st_mode = d->entry->d_type << 12;
			} else {
				err = lfpt_do_lookup(ino, name, &e);
				if (err == ENOENT) {
					/* raced with unlink: skip it */
					err = 0;
					d->entry = NULL;
					d->offset = next;
					continue;
				}
				if (err)
					break;
			}
			len = fuse_add_direntry_plus(req, buf + used,
						     size - used, name, &e,
						     next);
		} else {
			struct stat st = {
				.st_ino = d->entry->d_ino,
				.st_mode = d->entry->d_type << 12,
			};

			len = fuse_add_direntry(req, buf + used, size - used,
						name, &st, next);
		}
		if (len > size - used) {
			/* does not fit: keep d->entry for the next call */
			if (plus && e.ino)
				lfpt_inode_put(lfpt_inode(e.ino), 1);
			break;
		}
		used += len;
		d->entry = NULL;
		d->offset = next;
	}
	/* an error after some entries is reported by the next call */
	if (err && !used)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void lfpt_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t offset, struct fuse_file_info *fi)
{
	lfpt_do_readdir(req, ino, size, offset, fi, false);
}

static void lfpt_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			     off_t offset, struct fuse_file_info *fi)
{
	lfpt_do_readdir(req, ino, size, offset, fi, true);
}

static void lfpt_releasedir(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	struct lfpt_dir *d = lfpt_dir(fi);

	(void)ino;
	closedir(d->dp);
	free(d);
	fuse_reply_err(req, 0);
}

static void lfpt_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			  struct fuse_file_info *fi)
{
	int fd = dirfd(lfpt_dir(fi)->dp);
	int ret = datasync ? fdatasync(fd) : fsync(fd);

	(void)ino;
	fuse_reply_err(req, ret ? errno : 0);
}

static void lfpt_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (fstatvfs(lfpt_fd(ino), &sv))
		fuse_reply_err(req, errno);
	else
		fuse_reply_statfs(req, &sv);
}

/*
 * xattrs go through /proc/self/fd/N: the f*xattr() calls refuse O_PATH
 * fds.  Symlinks cannot carry user.* xattrs, so following the magic link
 * to the object itself is all that is needed.
 */
static void lfpt_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			  const char *value, size_t size, int flags)
{
	char path[64];

	lfpt_procpath(path, lfpt_fd(ino));
	fuse_reply_err(req, setxattr(path, name, value, size, flags) ?
			    errno : 0);
}

static void lfpt_reply_xattr(fuse_req_t req, size_t size, ssize_t ret,
			     const char *value)
{
	if (ret == -1)
		fuse_reply_err(req, errno);
	else if (!size)
		fuse_reply_xattr(req, ret);
	else
		fuse_reply_buf(req, value, ret);
}

static void lfpt_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			  size_t size)
{
	char path[64], *value = NULL;
	ssize_t ret;

	lfpt_procpath(path, lfpt_fd(ino));
	if (size) {
		value = malloc(size);
		if (!value) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	ret = getxattr(path, name, value, size);
	lfpt_reply_xattr(req, size, ret, value);
	free(value);
}

static void lfpt_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char path[64], *value = NULL;
	ssize_t ret;

	lfpt_procpath(path, lfpt_fd(ino));
	if (size) {
		value = malloc(size);
		if (!value) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	ret = listxattr(path, value, size);
	lfpt_reply_xattr(req, size, ret, value);
	free(value);
}

static void lfpt_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	char path[64];

	lfpt_procpath(path, lfpt_fd(ino));
	fuse_reply_err(req, removexattr(path, name) ? errno : 0);
}

static void lfpt_flock(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi, int op)
{
	(void)ino;
	fuse_reply_err(req, flock(fi->fh, op) ? errno : 0);
}

static void lfpt_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			   off_t offset, off_t length,
			   struct fuse_file_info *fi)
{
	(void)ino;
	fuse_reply_err(req, fallocate(fi->fh, mode, offset, length) ?
			    errno : 0);
}

static void lfpt_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		       struct fuse_file_info *fi)
{
	off_t res = lseek(fi->fh, off, whence);

	(void)ino;
	if (res == -1)
		fuse_reply_err(req, errno);
	else
		fuse_reply_lseek(req, res);
}

static void lfpt_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
				 off_t off_in, struct fuse_file_info *fi_in,
				 fuse_ino_t ino_out, off_t off_out,
				 struct fuse_file_info *fi_out, size_t len,
				 int flags)
{
	ssize_t n;

	(void)ino_in;
	(void)ino_out;
	n = copy_file_range(fi_in->fh, &off_in, fi_out->fh, &off_out, len,
			    flags);
	if (n == -1)
		fuse_reply_err(req, errno);
	else
		fuse_reply_write(req, n);
}

static const struct fuse_lowlevel_ops lfpt_ops = {
	.init		= lfpt_init,
	.lookup		= lfpt_lookup,
	.forget		= lfpt_forget,
	.forget_multi	= lfpt_forget_multi,
	.getattr	= lfpt_getattr,
	.setattr	= lfpt_setattr,
	.readlink	= lfpt_readlink,
	.mknod		= lfpt_mknod,
	.mkdir		= lfpt_mkdir,
	.symlink	= lfpt_symlink,
	.link		= lfpt_link,
	.unlink		= lfpt_unlink,
	.rmdir		= lfpt_rmdir,
	.rename		= lfpt_rename,
	.open		= lfpt_open,
	.create		= lfpt_create,
	.read		= lfpt_read,
	.write_buf	= lfpt_write_buf,
	.flush		= lfpt_flush,
	.release	= lfpt_release,
	.fsync		= lfpt_fsync,
	.opendir	= lfpt_opendir,
	.readdir	= lfpt_readdir,
	.readdirplus	= lfpt_readdirplus,
	.releasedir	= lfpt_releasedir,
	.fsyncdir	= lfpt_fsyncdir,
	.statfs		= lfpt_statfs,
	.setxattr	= lfpt_setxattr,
	.getxattr	= lfpt_getxattr,
	.listxattr	= lfpt_listxattr,
	.removexattr	= lfpt_removexattr,
	.flock		= lfpt_flock,
	.fallocate	= lfpt_fallocate,
	.lseek		= lfpt_lseek,
	.copy_file_range = lfpt_copy_file_range,
};

/* ---- command line --------------------------------------------------- */

static void lfpt_usage(FILE *f)
{
	fprintf(f,
		"usage: lfpt [-f] [-d] [-s] [-o opts] [--threads N] SRCDIR MOUNTPOINT\n"
		"  -f            stay in the foreground\n"
		"  -d            libfuse debug output (implies -f)\n"
		"  -s            single-threaded loop\n"
		"  --threads N   maximum worker threads (default 16)\n"
		"  --clone-fd    one /dev/fuse fd per worker thread\n"
		"  -o timeout=SEC, splice, nosplice, plus any libfuse/mount option\n"
		"  MOUNTPOINT may be /dev/fd/N: serve an already mounted session\n");
}

/* Split our own options out of a -o list; append the rest to @args. */
static int lfpt_parse_o(struct fuse_args *args, const char *list)
{
	char *copy = strdup(list), *save = NULL, *opt;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (opt = strtok_r(copy, ",", &save); opt;
	     opt = strtok_r(NULL, ",", &save)) {
		if (!strncmp(opt, "timeout=", 8)) {
			lfpt.timeout = strtod(opt + 8, NULL);
		} else if (!strcmp(opt, "splice")) {
			lfpt.splice = LFPT_SPLICE_ON;
		} else if (!strcmp(opt, "nosplice")) {
			lfpt.splice = LFPT_SPLICE_OFF;
		} else if (fuse_opt_add_arg(args, "-o") ||
			   fuse_opt_add_arg(args, opt)) {
			ret = -ENOMEM;
			break;
		}
	}
	free(copy);
	return ret;
}

/* Resolve LFPT_SPLICE_AUTO: only /dev/fuse is known to splice. */
static void lfpt_pick_splice(const char *mountpoint)
{
	struct stat st;
	int fd;

	if (lfpt.splice != LFPT_SPLICE_AUTO)
		return;
	lfpt.splice = LFPT_SPLICE_ON;
	if (sscanf(mountpoint, "/dev/fd/%d", &fd) != 1)
		return;
	if (fstat(fd, &st) || !S_ISCHR(st.st_mode) ||
	    major(st.st_rdev) != FUSE_DEV_MAJOR ||
	    minor(st.st_rdev) != FUSE_DEV_MINOR)
		lfpt.splice = LFPT_SPLICE_OFF;
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "threads",  required_argument, NULL, 't' },
		{ "clone-fd", no_argument,       NULL, 'c' },
		{ "help",     no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	bool foreground = false, single = false, clone_fd = false;
	unsigned int threads = 16;
	struct fuse_loop_config *cfg;
	struct fuse_session *se;
	const char *src, *mnt;
	struct stat st;
	int opt, ret = 1;

	if (fuse_opt_add_arg(&args, argv[0]))
		return 1;
	while ((opt = getopt_long(argc, argv, "fdso:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			foreground = true;
			break;
		case 'd':
			foreground = true;
			lfpt.debug = true;
			if (fuse_opt_add_arg(&args, "-d"))
				return 1;
			break;
		case 's':
			single = true;
			break;
		case 'o':
			if (lfpt_parse_o(&args, optarg))
				return 1;
			break;
		case 't':
			threads = strtoul(optarg, NULL, 0);
			if (!threads)
				threads = 1;
			break;
		case 'c':
			clone_fd = true;
			break;
		case 'h':
			lfpt_usage(stdout);
			return 0;
		default:
			lfpt_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		lfpt_usage(stderr);
		return 2;
	}
	src = argv[optind];
	mnt = argv[optind + 1];

	/* modes arrive already umasked by the kernel */
	umask(0);
	lfpt.root.fd = open(src, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (lfpt.root.fd == -1 || fstat(lfpt.root.fd, &st)) {
		fprintf(stderr, "lfpt: %s: %s\n", src, strerror(errno));
		goto out_args;
	}
	lfpt.root.dev = st.st_dev;
	lfpt.root.ino = st.st_ino;
	lfpt.root.nlookup = 2;	/* never dropped */
	lfpt_pick_splice(mnt);

	se = fuse_session_new(&args, &lfpt_ops, sizeof(lfpt_ops), NULL);
	if (!se)
		goto out_root;
	if (fuse_set_signal_handlers(se))
		goto out_session;
	if (fuse_session_mount(se, mnt))
		goto out_signals;
	if (fuse_daemonize(foreground))
		goto out_unmount;

	if (single) {
		ret = fuse_session_loop(se);
	} else {
		cfg = fuse_loop_cfg_create();
		if (!cfg)
			goto out_unmount;
		fuse_loop_cfg_set_clone_fd(cfg, clone_fd);
		fuse_loop_cfg_set_max_threads(cfg, threads);
		fuse_loop_cfg_set_idle_threads(cfg, threads);
		ret = fuse_session_loop_mt(se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	ret = ret < 0 ? 1 : 0;

out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_root:
	close(lfpt.root.fd);
out_args:
	fuse_opt_free_args(&args);
	return ret;
}
