// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: READDIR / READDIRPLUS with readdir_size (32 KiB default)
 * buffers. One getdents call fills the user buffer from as many replies as
 * needed; the position is the daemon's cookie of the last entry consumed,
 * so a resumed getdents continues exactly after it.
 *
 * Every record is checked (name length, bounds, alignment, no '/' or NUL
 * in the name); READDIRPLUS entries also prime the dcache, and any node
 * the daemon counted a lookup for is either kept (inode) or forgotten.
 *
 * READDIRPLUS or READDIR (readdirplus= mount option, default auto): a
 * READDIRPLUS reply carries a lookup per entry, which the daemon pays
 * (a stat, an inode table entry) and the kernel too (an inode, a dentry,
 * a FORGET later); worth it when the names are stat'ed next ("ls -l"),
 * waste when only names are wanted ("ls", find without -type on a d_type
 * filesystem). With auto (and a daemon that granted FUSE_READDIRPLUS_AUTO)
 * the request at position 0 of a stream is READDIRPLUS, small directories
 * being listed and stat'ed whole; after it, a getdents call uses
 * READDIRPLUS for all its requests only if a child of the directory was
 * looked up or stat'ed since the previous call (MQFUSE_I_ADVISE_RDPLUS,
 * set by lookup, d_revalidate and getattr). Per call, not per request:
 * "ls -l" stats the entries of one getdents buffer before asking for the
 * next, which spans several 32 KiB READDIRPLUS replies; deciding per
 * request would prime only the first of them. Which of the two a request
 * is changes nothing in the lookup counting below: only READDIRPLUS
 * records carry lookups.
 */
#include "mqfuse_i.h"
#include <linux/dcache.h>
#include <linux/slab.h>

/* A name from the daemon: non-empty, bounded, no '/' and no NUL. */
int mqfuse_dirent_check(const char *name, u32 namelen)
{
	if (!namelen || namelen > MQFUSE_NAME_MAX)
		return -EIO;
	if (memchr(name, '/', namelen) || memchr(name, '\0', namelen))
		return -EIO;
	return 0;
}

/*
 * A child of @dir was looked up or stat'ed: the next getdents call on
 * @dir is likely part of an "ls -l" (readdirplus=auto). Lockless: an
 * atomic bit, read first so a directory under a stat storm keeps its
 * cache line shared. Callers may hold only rcu_read_lock() on @dir.
 */
void mqfuse_advise_readdirplus(struct inode *dir)
{
	struct mqfuse_inode *mi = MQFUSE_I(dir);

	if (!mqfuse_conn_of(dir)->readdirplus_auto || !S_ISDIR(dir->i_mode))
		return;
	if (!test_bit(MQFUSE_I_ADVISE_RDPLUS, &mi->state))
		set_bit(MQFUSE_I_ADVISE_RDPLUS, &mi->state);
}

/* READDIRPLUS for the next request of this getdents call? */
static bool mqfuse_use_readdirplus(struct mqfuse_conn *fc, struct dir_context *ctx,
				   bool advised)
{
	if (!fc->readdirplus)
		return false;
	if (!fc->readdirplus_auto)
		return true;
	return advised || ctx->pos == 0;
}

static bool mqfuse_is_dot(const char *name, u32 len)
{
	return (len == 1 && name[0] == '.') ||
	       (len == 2 && name[0] == '.' && name[1] == '.');
}

static void mqfuse_readdir_forget(struct mqfuse_conn *fc, u64 nodeid)
{
	struct mqfuse_forget *f;

	if (!nodeid || nodeid == FUSE_ROOT_ID)
		return;
	f = kzalloc(sizeof(*f), GFP_KERNEL | __GFP_NOFAIL);
	mqfuse_queue_forget(fc, f, nodeid, 1);
}

/* Prime the dcache with one READDIRPLUS entry; keeps lookup counts exact. */
static void mqfuse_direntplus_link(struct file *file, struct fuse_direntplus *dp,
				   u64 attr_version)
{
	struct dentry *parent = file->f_path.dentry;
	struct inode *dir = d_inode(parent);
	struct mqfuse_conn *fc = mqfuse_conn_of(dir);
	struct fuse_entry_out *e = &dp->entry_out;
	struct qstr name = QSTR_INIT(dp->dirent.name, dp->dirent.namelen);
	DECLARE_WAIT_QUEUE_HEAD_ONSTACK(wq);
	struct dentry *dentry, *alias;
	struct inode *inode;

	if (!e->nodeid)
		return;		/* daemon did not look it up */
	if (mqfuse_is_dot(name.name, name.len)) {
		/* dot entries never count a lookup; a node here is a bug */
		mqfuse_bad_reply(fc, "READDIRPLUS: lookup data on a dot entry\n");
		return;
	}
	if (mqfuse_entry_check(fc, e, false) ||
	    (e->attr.mode & S_IFMT) >> 12 != dp->dirent.type) {
		mqfuse_readdir_forget(fc, e->nodeid);
		return;
	}

	name.hash = full_name_hash(parent, name.name, name.len);
	dentry = d_lookup(parent, &name);
	if (dentry) {
		inode = d_inode(dentry);
		if (inode && mqfuse_nodeid(inode) == e->nodeid &&
		    !((inode->i_mode ^ e->attr.mode) & S_IFMT) &&
		    MQFUSE_I(inode)->generation == e->generation) {
			struct mqfuse_inode *mi = MQFUSE_I(inode);

			spin_lock(&mi->lock);
			mi->nlookup++;
			spin_unlock(&mi->lock);
			mqfuse_attr_apply(inode, &e->attr, e->attr_valid,
					  e->attr_valid_nsec, attr_version, 0);
			mqfuse_dentry_set_ttl(dentry, e->entry_valid, e->entry_valid_nsec,
				      attr_version);
			dput(dentry);
			return;
		}
		d_invalidate(dentry);
		dput(dentry);
	}

	inode = mqfuse_iget(dir->i_sb, e->nodeid, e->generation, &e->attr,
			    e->attr_valid, e->attr_valid_nsec, attr_version);
	if (IS_ERR(inode)) {
		mqfuse_readdir_forget(fc, e->nodeid);
		return;
	}
	dentry = d_alloc_parallel(parent, &name, &wq);
	if (IS_ERR(dentry)) {
		iput(inode);	/* lookup count stays with the inode */
		return;
	}
	if (!d_in_lookup(dentry)) {
		/* someone else instantiated it meanwhile */
		iput(inode);
		dput(dentry);
		return;
	}
	alias = d_splice_alias(inode, dentry);
	d_lookup_done(dentry);
	if (alias && !IS_ERR(alias)) {
		mqfuse_dentry_set_ttl(alias, e->entry_valid, e->entry_valid_nsec,
				      attr_version);
		dput(alias);
	} else if (!alias) {
		mqfuse_dentry_set_ttl(dentry, e->entry_valid, e->entry_valid_nsec,
				      attr_version);
	}
	dput(dentry);
}

/*
 * Length of the record at @pos of a reply of @nbytes (READDIRPLUS if
 * @plus), or 0 if it is malformed: it overruns the reply or its name
 * fails mqfuse_dirent_check().
 */
static size_t mqfuse_dirent_reclen(const void *buf, size_t pos, size_t nbytes, bool plus)
{
	size_t hdr = plus ? FUSE_NAME_OFFSET_DIRENTPLUS : FUSE_NAME_OFFSET;
	const struct fuse_dirent *d;
	size_t reclen;

	if (nbytes - pos < hdr)
		return 0;
	if (plus)
		d = &((const struct fuse_direntplus *)(buf + pos))->dirent;
	else
		d = buf + pos;
	reclen = FUSE_DIRENT_ALIGN(hdr + d->namelen);
	if (d->namelen > MQFUSE_NAME_MAX || reclen > nbytes - pos)
		return 0;
	if (mqfuse_dirent_check(d->name, d->namelen))
		return 0;
	return reclen;
}

/*
 * Did the daemon count a lookup for this READDIRPLUS record? Mirrors
 * mqfuse_direntplus_link(), which keeps (inode) or forgets exactly these:
 * a nodeid other than 0 (not looked up) and the root (never counted, as
 * in mqfuse_readdir_forget()), on a name other than "." and "..".
 */
static bool mqfuse_direntplus_counted(const struct fuse_direntplus *dp)
{
	u64 nodeid = dp->entry_out.nodeid;

	return nodeid && nodeid != FUSE_ROOT_ID &&
	       !mqfuse_is_dot(dp->dirent.name, dp->dirent.namelen);
}

/*
 * A READDIRPLUS reply whose reader was killed (mqfuse_dev_abandoned_reply()):
 * forget every node the normal path would have counted, that is every
 * counted record up to the first malformed one, where mqfuse_parse_dirents()
 * stops too. @buf is a private copy of the reply. Allocations may fail
 * (the daemon's write() path): such a lookup count is lost, and logged.
 */
void mqfuse_readdirplus_forget_all(struct mqfuse_conn *fc, const void *buf, size_t nbytes)
{
	unsigned int lost = 0;
	size_t pos = 0, reclen;

	while (pos < nbytes) {
		const struct fuse_direntplus *dp = buf + pos;
		struct mqfuse_forget *f;

		reclen = mqfuse_dirent_reclen(buf, pos, nbytes, true);
		if (!reclen) {
			mqfuse_bad_reply(fc, "malformed directory record at byte %zu of %zu\n",
					 pos, nbytes);
			break;
		}
		pos += reclen;
		if (!mqfuse_direntplus_counted(dp))
			continue;
		f = kzalloc(sizeof(*f), GFP_KERNEL | __GFP_NOWARN);
		if (!f) {
			lost++;
			continue;
		}
		mqfuse_queue_forget(fc, f, dp->entry_out.nodeid, 1);
	}
	if (lost)
		pr_warn_ratelimited("session %llu: no memory to forget %u nodes of a READDIRPLUS\n",
				    fc->id, lost);
}

/*
 * Parse one reply. Returns 1 if the user buffer is full, 0 if all entries
 * were emitted, -EIO on a malformed record (entries before it were used).
 */
static int mqfuse_parse_dirents(struct file *file, struct dir_context *ctx,
				void *buf, size_t nbytes, bool plus, u64 attr_version)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(file_inode(file));
	size_t pos = 0;
	bool full = false;

	while (pos < nbytes) {
		struct fuse_dirent *d;
		struct fuse_direntplus *dp = NULL;
		size_t reclen;

		reclen = mqfuse_dirent_reclen(buf, pos, nbytes, plus);
		if (!reclen)
			goto bad;
		if (plus) {
			dp = buf + pos;
			d = &dp->dirent;
		} else {
			d = buf + pos;
		}

		/*
		 * Every READDIRPLUS record carries a lookup reference, so link
		 * (or forget) all of them, also those past a full user buffer:
		 * skipping them would leak the daemon's lookup counts.
		 */
		if (plus)
			mqfuse_direntplus_link(file, dp, attr_version);
		if (!full) {
			if (dir_emit(ctx, d->name, d->namelen, d->ino, d->type))
				ctx->pos = d->off;
			else
				full = true;
		}
		pos += reclen;
	}
	return full;
bad:
	mqfuse_bad_reply(fc, "malformed directory record at byte %zu of %zu\n", pos, nbytes);
	return -EIO;
}

int mqfuse_readdir(struct file *file, struct dir_context *ctx)
{
	struct inode *inode = file_inode(file);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_file *ff = file->private_data;
	size_t size = READ_ONCE(fc->readdir_size);
	struct fuse_read_in in = {};
	struct mqfuse_args args = {};
	bool advised;
	void *buf;
	int err = 0;

	if (mqfuse_is_bad(inode))
		return -EIO;
	buf = kvmalloc(size, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	/* lookups and stats from now on advise the next call */
	advised = fc->readdirplus_auto &&
		  test_and_clear_bit(MQFUSE_I_ADVISE_RDPLUS, &MQFUSE_I(inode)->state);

	for (;;) {
		bool plus = mqfuse_use_readdirplus(fc, ctx, advised);
		u64 attr_version = atomic64_read(&fc->attr_version);
		ssize_t n;

		memset(&in, 0, sizeof(in));
		memset(&args, 0, sizeof(args));
		in.fh = ff->fh;
		in.offset = ctx->pos;
		in.size = size;
		mqfuse_args_init(&args, plus ? FUSE_READDIRPLUS : FUSE_READDIR,
				 mqfuse_nodeid(inode));
		mqfuse_args_in(&args, 0, sizeof(in), &in);
		args.out_argvar = true;
		mqfuse_args_out(&args, 0, size, buf);
		n = mqfuse_simple_request(fc, &args);
		if (n <= 0) {
			err = n;
			break;
		}
		/* parse only what the reply carried, never the rest of buf */
		if (n > size) {
			mqfuse_bad_reply(fc, "READDIR of %zu answered %zd\n", size, n);
			err = -EIO;
			break;
		}
		err = mqfuse_parse_dirents(file, ctx, buf, n, plus, attr_version);
		if (err) {
			if (err > 0)
				err = 0;
			break;
		}
	}
	kvfree(buf);
	return err;
}
