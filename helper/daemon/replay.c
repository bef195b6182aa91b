// SPDX-License-Identifier: GPL-2.0
/*
 * Replayed requests: which requests are journaled, what is recorded
 * about the world before they run, and how a replayed request whose
 * journal entry holds only the intent (the daemon died while it ran, or
 * before it could record the result) is resolved.
 *
 * The rule per opcode (Documentation/recovery.rst, "Daemon", has the
 * table): a request is journaled if running it twice differs from
 * running it once.  On replay (MQFUSE_UNIQUE_REPLAY), a DONE entry is
 * answered from the journal (dispatch.c); an INTENT entry is resolved
 * here by looking at the backing directory:
 *
 *  CREATE        the name exists as a regular file with ctime >= intent:
 *                ours: open it (no O_EXCL, no O_TRUNC) and answer with it.
 *  MKDIR, MKNOD, the name exists with the wanted type and ctime >=
 *  SYMLINK       intent: ours, answer with its entry.  Else run (EEXIST if
 *                somebody else's).
 *  LINK          the new name is the inode being linked: done, answer
 *                with the entry.  Else run.
 *  UNLINK, RMDIR the victim (dev, ino, file handle) recorded at intent is still under
 *                the name: not done, run.  Gone or replaced: done, 0.
 *                No victim at intent: run (ENOENT).
 *  RENAME(2)     the source (recorded at intent) still under the old
 *                name: not done, run.  Otherwise done, 0 (EXCHANGE:
 *                done iff the source is under the new name).
 *  WRITE on an   the file grew by the payload and the bytes at the size
 *  O_APPEND fh   recorded at intent are the payload: done, answer size.
 *                Else run.
 *  SETATTR, OPEN run again: setting absolute attributes twice is setting
 *                them once; an OPEN whose reply never reached the kernel
 *                leaves at most one unreferenced handle per crash.
 *
 * ctime is compared with CLOCK_REALTIME_COARSE taken before the
 * operation, the clock the kernel stamps inodes with, so an object made by
 * the operation always passes.  An object made by someone else in the same
 * clock tick, between the intent and the crash, would be taken for ours:
 * the one ambiguity left, documented.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mqfuse.h>

#include "mqfused.h"
#include "rstate.h"

bool mq_journal_wanted(const struct mq_req *req)
{
	const struct fuse_write_in *wi;
	int flags;

	switch (req->in->opcode) {
	case FUSE_CREATE:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_LINK:
	case FUSE_UNLINK:
	case FUSE_RMDIR:
	case FUSE_RENAME:
	case FUSE_RENAME2:
	case FUSE_SETATTR:
	case FUSE_OPEN:
		return true;
	case FUSE_WRITE:
		wi = (const void *)req->arg;
		/* a page written back goes to its offset (ops_file.c) */
		if (wi->write_flags & FUSE_WRITE_CACHE)
			return false;
		flags = mq_handle_flags(wi->fh);
		return flags >= 0 && (flags & O_APPEND);
	default:
		return false;
	}
}

/* (dev, ino, type) of @name in directory @nodeid, without following. */
static int mq_replay_stat(uint64_t nodeid, const char *name, struct stat *st)
{
	struct mq_inode *dir;
	int ret;

	if (mq_name_check(name))
		return -EINVAL;
	dir = mq_inode_get(nodeid);
	if (!dir)
		return -ESTALE;
	ret = fstatat(dir->fd, name, st, AT_SYMLINK_NOFOLLOW) ? -errno : 0;
	mq_inode_put(dir);
	return ret;
}

static int64_t mq_ctime_ns(const struct stat *st)
{
	return (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/*
 * Who is under @name of @nodeid (already stat()ed into @st): a 64-bit
 * digest of its file handle, which on ext4, XFS and tmpfs holds the
 * inode's generation, so an inode number reused at once (ext4 does)
 * reads as another object; its ctime where there is no handle (then a
 * new object made in the same clock tick looks the same: documented).
 */
static uint64_t mq_replay_ident(uint64_t nodeid, const char *name, const struct stat *st)
{
	union {
		struct file_handle fh;
		unsigned char buf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	} h;
	const unsigned char *bytes = h.buf + offsetof(struct file_handle, f_handle);
	uint64_t x = 1469598103934665603ULL;	/* FNV-1a */
	struct mq_inode *dir;
	unsigned int i;
	int mnt, ret;

	dir = mq_inode_get(nodeid);
	if (!dir)
		return (uint64_t)mq_ctime_ns(st);
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	ret = name_to_handle_at(dir->fd, name, &h.fh, &mnt, 0);
	mq_inode_put(dir);
	if (ret || h.fh.handle_bytes > MAX_HANDLE_SZ)
		return (uint64_t)mq_ctime_ns(st);
	x = (x ^ (uint32_t)h.fh.handle_type) * 1099511628211ULL;
	for (i = 0; i < h.fh.handle_bytes; i++)
		x = (x ^ bytes[i]) * 1099511628211ULL;
	return x;
}

/* The two names of a RENAME/RENAME2 and its new directory. */
static void mq_rename_args(struct mq_req *req, const char **oldname,
			   const char **newname, uint64_t *newdir,
			   uint32_t *flags)
{
	size_t off, next;

	if (req->in->opcode == FUSE_RENAME2) {
		const struct fuse_rename2_in *ri = (const void *)req->arg;

		*newdir = ri->newdir;
		*flags = ri->flags;
		off = sizeof(*ri);
	} else {
		const struct fuse_rename_in *ri = (const void *)req->arg;

		*newdir = ri->newdir;
		*flags = 0;
		off = sizeof(*ri);
	}
	*oldname = mq_req_name(req, off, &next);
	*newname = *oldname ? mq_req_name(req, next, NULL) : NULL;
}

static const char *mq_link_name(struct mq_req *req)
{
	return mq_req_name(req, sizeof(struct fuse_link_in), NULL);
}

/*
 * What the resolution will need to know about the world as it was:
 * aux[0] 1 if the object existed, aux[1]/aux[2] its ino/dev, aux[3] per
 * opcode.  Errors leave zeros (treated as "nothing there").
 */
void mq_journal_prestate(struct mq_req *req, uint64_t *aux)
{
	const char *oldname, *newname;
	struct mq_inode *inode;
	uint64_t newdir;
	uint32_t flags;
	struct stat st;
	int fd;

	memset(aux, 0, MQ_RS_J_AUX * sizeof(*aux));
	switch (req->in->opcode) {
	case FUSE_UNLINK:
	case FUSE_RMDIR:
		if (!mq_replay_stat(req->in->nodeid, mq_req_name(req, 0, NULL),
				    &st)) {
			aux[0] = 1;
			aux[1] = st.st_ino;
			aux[2] = st.st_dev;
			/* inode numbers are reused at once: the handle tells */
			aux[3] = mq_replay_ident(req->in->nodeid,
						 mq_req_name(req, 0, NULL), &st);
		}
		break;
	case FUSE_RENAME:
	case FUSE_RENAME2:
		mq_rename_args(req, &oldname, &newname, &newdir, &flags);
		if (!mq_replay_stat(req->in->nodeid, oldname, &st)) {
			aux[0] = 1;
			aux[1] = st.st_ino;
			aux[2] = st.st_dev;
		}
		if (newname && !mq_replay_stat(newdir, newname, &st))
			aux[3] = st.st_ino;
		break;
	case FUSE_LINK:
		inode = mq_inode_get(((const struct fuse_link_in *)req->arg)->oldnodeid);
		if (inode) {
			aux[0] = 1;
			aux[1] = inode->ino;
			aux[2] = inode->dev;
			mq_inode_put(inode);
		}
		break;
	case FUSE_WRITE: {
		const struct fuse_write_in *wi = (const void *)req->arg;

		fd = mq_handle_get_fd(wi->fh, req->in->nodeid);
		if (fd < 0)
			break;
		if (!fstat(fd, &st)) {
			aux[0] = 1;
			aux[3] = st.st_size;
		}
		mq_handle_put(wi->fh);
		break;
	}
	default:
		break;
	}
}


/* An entry reply for @name in the request's directory (lookup taken). */
static int mq_replay_entry(struct mq_req *req, uint64_t dir_id,
			   const char *name)
{
	struct fuse_entry_out *eo = (void *)req->out;
	struct mq_inode *dir = mq_inode_get(dir_id);
	int ret;

	if (!dir)
		return -ESTALE;
	ret = mq_do_lookup(dir->fd, name, eo);
	mq_inode_put(dir);
	return ret ? ret : (int)sizeof(*eo);
}

/* MKDIR, MKNOD, SYMLINK, CREATE: did the intent make @name? */
static bool mq_replay_made(struct mq_req *req, const char *name, mode_t type,
			   const struct mq_rs_jentry *e)
{
	struct stat st;

	if (mq_replay_stat(req->in->nodeid, name, &st))
		return false;
	return (st.st_mode & S_IFMT) == type && mq_ctime_ns(&st) >= e->stamp_ns;
}

/* WRITE to an O_APPEND handle: are the payload bytes at the old end? */
static int mq_replay_append(struct mq_req *req, const struct mq_rs_jentry *e)
{
	const struct fuse_write_in *wi = (const void *)req->arg;
	struct fuse_write_out *wo = (void *)req->out;
	struct mq_inode *inode;
	struct stat st;
	char path[64], *buf;
	bool done = false;
	int fd;

	if (!e->aux[0] || req->arg_len - sizeof(*wi) < wi->size)
		return MQ_REPLAY_RUN;
	/* The handle may be write-only: read through a fresh descriptor. */
	inode = mq_inode_get(req->in->nodeid);
	if (!inode)
		return MQ_REPLAY_RUN;
	mq_proc_path(path, sizeof(path), inode->fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	mq_inode_put(inode);
	if (fd < 0)
		return MQ_REPLAY_RUN;
	buf = wi->size ? malloc(wi->size) : NULL;
	if (!fstat(fd, &st) && (uint64_t)st.st_size >= e->aux[3] + wi->size &&
	    buf && pread(fd, buf, wi->size, e->aux[3]) == (ssize_t)wi->size)
		done = !memcmp(buf, wi + 1, wi->size);
	free(buf);
	close(fd);
	if (!done)
		return MQ_REPLAY_RUN;
	memset(wo, 0, sizeof(*wo));
	wo->size = wi->size;
	return sizeof(*wo);
}

int mq_replay_resolve(struct mq_req *req, const struct mq_rs_jentry *e)
{
	const char *name, *oldname, *newname;
	uint64_t newdir;
	uint32_t flags;
	struct stat st;

	switch (req->in->opcode) {
	case FUSE_CREATE:
		name = mq_req_name(req, sizeof(struct fuse_create_in), NULL);
		if (mq_replay_made(req, name, S_IFREG, e))
			req->replay_applied = true;
		return MQ_REPLAY_RUN;
	case FUSE_MKDIR:
		name = mq_req_name(req, sizeof(struct fuse_mkdir_in), NULL);
		return mq_replay_made(req, name, S_IFDIR, e) ?
			mq_replay_entry(req, req->in->nodeid, name) :
			MQ_REPLAY_RUN;
	case FUSE_MKNOD: {
		const struct fuse_mknod_in *mi = (const void *)req->arg;

		name = mq_req_name(req, sizeof(*mi), NULL);
		return mq_replay_made(req, name, mi->mode & S_IFMT, e) ?
			mq_replay_entry(req, req->in->nodeid, name) :
			MQ_REPLAY_RUN;
	}
	case FUSE_SYMLINK:
		name = mq_req_name(req, 0, NULL);
		return mq_replay_made(req, name, S_IFLNK, e) ?
			mq_replay_entry(req, req->in->nodeid, name) :
			MQ_REPLAY_RUN;
	case FUSE_LINK:
		name = mq_link_name(req);
		if (e->aux[0] && !mq_replay_stat(req->in->nodeid, name, &st) &&
		    st.st_ino == e->aux[1] && (uint64_t)st.st_dev == e->aux[2])
			return mq_replay_entry(req, req->in->nodeid, name);
		return MQ_REPLAY_RUN;
	case FUSE_UNLINK:
	case FUSE_RMDIR:
		if (!e->aux[0])
			return MQ_REPLAY_RUN;
		name = mq_req_name(req, 0, NULL);
		if (!mq_replay_stat(req->in->nodeid, name, &st) &&
		    st.st_ino == e->aux[1] && (uint64_t)st.st_dev == e->aux[2] &&
		    mq_replay_ident(req->in->nodeid, name, &st) == e->aux[3])
			return MQ_REPLAY_RUN;
		return 0;
	case FUSE_RENAME:
	case FUSE_RENAME2:
		if (!e->aux[0])
			return MQ_REPLAY_RUN;
		mq_rename_args(req, &oldname, &newname, &newdir, &flags);
		if (flags & RENAME_EXCHANGE)
			return newname && !mq_replay_stat(newdir, newname, &st) &&
			       st.st_ino == e->aux[1] &&
			       (uint64_t)st.st_dev == e->aux[2] ? 0 :
			       MQ_REPLAY_RUN;
		if (!mq_replay_stat(req->in->nodeid, oldname, &st) &&
		    st.st_ino == e->aux[1] && (uint64_t)st.st_dev == e->aux[2])
			return MQ_REPLAY_RUN;
		return 0;
	case FUSE_WRITE:
		return mq_replay_append(req, e);
	default:
		return MQ_REPLAY_RUN;
	}
}
