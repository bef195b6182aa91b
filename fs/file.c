// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: open files — OPEN/RELEASE, FLUSH/FSYNC, read_iter/write_iter
 * dispatch (page cache vs direct), mmap, llseek with SEEK_DATA/HOLE,
 * fallocate, POSIX locks and flock (local when the daemon does not
 * negotiate them), directory file operations.
 *
 * A struct mqfuse_file is refcounted: the open file holds one reference,
 * every in-flight writeback request another, so RELEASE reaches the daemon
 * only after the last WRITE that uses the handle.
 */
#include "mqfuse_i.h"
#include <linux/capability.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/pid_namespace.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uio.h>

/* Preallocated RELEASE so that closing a file never fails for memory. */
struct mqfuse_release_args {
	struct mqfuse_args args;	/* request */
	struct fuse_release_in in;	/* handle, flags, lock owner */
	struct mqfuse_node_ref *nref;	/* node reference dropped at the end, or NULL */
};

struct mqfuse_file *mqfuse_file_alloc(struct mqfuse_conn *fc)
{
	struct mqfuse_file *ff;

	ff = kzalloc(sizeof(*ff), GFP_KERNEL_ACCOUNT);
	if (!ff)
		return NULL;
	ff->ra = kzalloc(sizeof(*ff->ra), GFP_KERNEL_ACCOUNT);
	if (!ff->ra) {
		kfree(ff);
		return NULL;
	}
	refcount_set(&ff->ref, 1);
	ff->fc = fc;
	INIT_LIST_HEAD(&ff->write_entry);
	return ff;
}

/* Free a handle the daemon never saw (or that needs no RELEASE). */
void mqfuse_file_free(struct mqfuse_file *ff)
{
	kfree(ff->ra);
	kfree(ff);
}

struct mqfuse_file *mqfuse_file_get(struct mqfuse_file *ff)
{
	refcount_inc(&ff->ref);
	return ff;
}

/* The daemon is done with the handle: a FORGET of the node may follow now. */
static void mqfuse_release_end(struct mqfuse_conn *fc, struct mqfuse_args *args, int error)
{
	struct mqfuse_release_args *ra = container_of(args, struct mqfuse_release_args, args);

	mqfuse_node_ref_put(ra->nref);
	kfree(ra);
}

/*
 * Queue @ra (fh, flags and nref filled in) as RELEASE(DIR) of @nodeid.
 * Never waits for the daemon: no background slot (no pages), forced past
 * signals. It may still sleep allocating the request with @gfp; direct
 * reclaim could then evict an inode, and eviction may wait for the daemon.
 * So callers in a daemon thread run under memalloc_nofs_save(): completion
 * callbacks (mqfuse_req_end()) and abandoned replies (dev.c).
 * mqfuse_release_end() frees @ra and drops ra->nref, also when the request
 * cannot even be queued (the error is returned then).
 */
static int mqfuse_send_release(struct mqfuse_conn *fc, struct mqfuse_release_args *ra,
			       u64 nodeid, bool isdir, gfp_t gfp)
{
	mqfuse_args_init(&ra->args, isdir ? FUSE_RELEASEDIR : FUSE_RELEASE, nodeid);
	ra->args.force = true;
	ra->args.nocreds = true;
	mqfuse_args_in(&ra->args, 0, sizeof(ra->in), &ra->in);
	ra->args.end = mqfuse_release_end;
	return mqfuse_simple_background(fc, &ra->args, gfp);
}

void mqfuse_file_put(struct mqfuse_file *ff)
{
	struct mqfuse_release_args *ra;

	if (!refcount_dec_and_test(&ff->ref))
		return;
	ra = ff->ra;
	if (ff->no_release) {
		struct mqfuse_node_ref *nref = ff->nref;

		mqfuse_file_free(ff);
		mqfuse_node_ref_put(nref);
		return;
	}
	ra->nref = ff->nref;
	ra->in.fh = ff->fh;
	if (!ra->in.flags)
		ra->in.flags = ff->flags;
	mqfuse_send_release(ff->fc, ra, ff->nodeid, ff->isdir, GFP_KERNEL | __GFP_NOFAIL);
	kfree(ff);
}

/*
 * RELEASE(DIR) of a handle no open file owns: the daemon opened it for a
 * waiter that was killed meanwhile (an ABANDONED OPEN, OPENDIR or CREATE;
 * mqfuse_dev_abandoned_reply()). Runs in the daemon's write(), so it must
 * not sleep on the daemon; see mqfuse_send_release(). Takes over @nref
 * (may be NULL), dropped once the daemon answered, so the node's FORGET
 * never overtakes this RELEASE. Out of memory, the handle stays open in
 * the daemon (logged) and @nref is dropped now: no RELEASE will follow for
 * the node's FORGET to overtake.
 */
void mqfuse_release_abandoned(struct mqfuse_conn *fc, u64 nodeid, u64 fh, u32 flags,
			      bool isdir, struct mqfuse_node_ref *nref)
{
	struct mqfuse_release_args *ra;

	ra = kzalloc(sizeof(*ra), GFP_KERNEL | __GFP_NOWARN);
	if (!ra) {
		pr_warn_ratelimited("session %llu: no memory to release handle %llu of node %llu\n",
				    fc->id, fh, nodeid);
		mqfuse_node_ref_put(nref);
		return;
	}
	ra->nref = nref;
	ra->in.fh = fh;
	ra->in.flags = flags;
	if (mqfuse_send_release(fc, ra, nodeid, isdir, GFP_KERNEL | __GFP_NOWARN) == -ENOMEM)
		pr_warn_ratelimited("session %llu: no memory to release handle %llu of node %llu\n",
				    fc->id, fh, nodeid);
}

/* A writable handle of @inode for writeback, with a reference, or NULL. */
struct mqfuse_file *mqfuse_write_file_get(struct inode *inode)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	struct mqfuse_file *ff = NULL;

	spin_lock(&mi->lock);
	if (!list_empty(&mi->write_files)) {
		ff = list_first_entry(&mi->write_files, struct mqfuse_file, write_entry);
		mqfuse_file_get(ff);
	}
	spin_unlock(&mi->lock);
	return ff;
}

/*
 * FUSE_HANDLE_KILLPRIV_V2: whether the daemon is to kill suid/sgid for
 * what the current task does (a WRITE, a truncate, an O_TRUNC open): it
 * lacks CAP_FSETID, as in the VFS's setattr_should_drop_suidgid().
 * capable() is asked only once the daemon agreed, since it may log.
 */
bool mqfuse_kill_suidgid_caller(struct mqfuse_conn *fc)
{
	return fc->handle_killpriv_v2 && !capable(CAP_FSETID);
}

/*
 * The write_flags bit a WRITE by the current task carries:
 * FUSE_WRITE_KILL_SUIDGID if the file is set-user-ID, or set-group-ID and
 * group-executable, and the writer lacks CAP_FSETID. The cached mode
 * decides, refreshed as the consistency mode says (a bit set by another
 * client counts from the next refresh, as S_NOSEC did before); strict
 * caches nothing and asks on every write by such a writer. The first
 * WRITE that carries it clears the cached bits (mqfuse_suidgid_killed()),
 * so the following chunks of the same write(2) do not.
 */
u32 mqfuse_write_kill_flag(struct inode *inode)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	umode_t mode = READ_ONCE(inode->i_mode);

	/* nothing the daemon would clear (strict: not known) */
	if (fc->cons->ttl != MQFUSE_TTL_NONE && mode == mqfuse_mode_suidgid_killed(mode))
		return 0;
	return mqfuse_kill_suidgid_caller(fc) ? FUSE_WRITE_KILL_SUIDGID : 0;
}

int mqfuse_send_open(struct mqfuse_conn *fc, u64 nodeid, struct file *file,
		     bool isdir, struct mqfuse_file *ff)
{
	struct fuse_open_in in = {};
	struct fuse_open_out out = {};
	struct mqfuse_args args = {};
	int err;

	ff->isdir = isdir;
	ff->nodeid = nodeid;
	/* the VFS already applied O_NOFOLLOW; daemons opening by path trip on it */
	in.flags = file->f_flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW);
	if (!fc->atomic_o_trunc)
		in.flags &= ~O_TRUNC;
	if (!isdir)
		in.flags = mqfuse_cons_open_flags(fc, in.flags);
	ff->flags = in.flags;
	if (!isdir && (in.flags & O_TRUNC) && mqfuse_kill_suidgid_caller(fc)) {
		in.open_flags |= FUSE_OPEN_KILL_SUIDGID;
		ff->open_kill_suidgid = true;
	}
	if (isdir ? READ_ONCE(fc->no_opendir) : READ_ONCE(fc->no_open)) {
		ff->no_release = true;
		return 0;
	}
	mqfuse_args_init(&args, isdir ? FUSE_OPENDIR : FUSE_OPEN, nodeid);
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	mqfuse_args_out(&args, 0, sizeof(out), &out);
	/*
	 * If we are killed while the daemon opens, the request sends the
	 * RELEASE itself, holding the node so that its FORGET (the inode may
	 * be evicted meanwhile) waits for that RELEASE. The opener holds the
	 * inode, so its nref is valid to borrow here.
	 */
	args.nref = MQFUSE_I(file_inode(file))->nref;
	args.release_flags = in.flags;
	err = mqfuse_simple_request(fc, &args);
	if (err == -ENOSYS) {
		/* FUSE_NO_OPEN(DIR)_SUPPORT: stateless opens from now on */
		if (isdir)
			WRITE_ONCE(fc->no_opendir, true);
		else
			WRITE_ONCE(fc->no_open, true);
		ff->no_release = true;
		return 0;
	}
	if (err)
		return err;
	ff->fh = out.fh;
	ff->open_flags = out.open_flags;
	if (isdir)
		ff->open_flags &= ~FOPEN_DIRECT_IO;
	return 0;
}

void mqfuse_finish_open(struct inode *inode, struct file *file, struct mqfuse_file *ff)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);

	file->private_data = ff;
	if (!ff->nref)	/* atomic open takes it before finish_open() */
		ff->nref = mqfuse_node_ref_get(inode);
	if (ff->open_flags & FOPEN_STREAM)
		stream_open(inode, file);
	else if (ff->open_flags & FOPEN_NONSEEKABLE)
		nonseekable_open(inode, file);
	if (S_ISREG(inode->i_mode) && (file->f_mode & FMODE_WRITE)) {
		spin_lock(&mi->lock);
		list_add_tail(&ff->write_entry, &mi->write_files);
		spin_unlock(&mi->lock);
	}
}

static void mqfuse_prepare_release(struct inode *inode, struct file *file,
				   struct mqfuse_file *ff)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);

	if (!ff->wb_deferred) {
		spin_lock(&mi->lock);
		list_del_init(&ff->write_entry);
		spin_unlock(&mi->lock);
	}
	ff->ra->in.flags = file->f_flags;
	if (ff->flock_used) {
		ff->ra->in.release_flags |= FUSE_RELEASE_FLOCK_UNLOCK;
		ff->ra->in.lock_owner = mqfuse_lock_owner_id(ff->fc, (fl_owner_t)file);
	}
}

int mqfuse_open_common(struct inode *inode, struct file *file, bool isdir)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_file *ff;
	bool trunc;
	int err;

	if (mqfuse_is_bad(inode))
		return -EIO;
	err = generic_file_open(inode, file);
	if (err)
		return err;
	ff = mqfuse_file_alloc(fc);
	if (!ff)
		return -ENOMEM;
	/*
	 * The OPEN itself truncates (atomic_o_trunc): like SETATTR size, it
	 * must not overtake a WRITE of writeback or launder in flight, and
	 * no WRITE of the old pages may follow it.
	 */
	trunc = !isdir && (file->f_flags & O_TRUNC) && fc->atomic_o_trunc &&
		S_ISREG(inode->i_mode);
	if (trunc) {
		inode_lock(inode);
		mqfuse_nowrite_begin(inode);
	}
	err = mqfuse_send_open(fc, mqfuse_nodeid(inode), file, isdir, ff);
	if (trunc) {
		/* no_open: nothing was sent, setattr sends SETATTR size 0 */
		if (!err && !ff->no_release) {
			ff->open_truncated = true;
			if (ff->open_kill_suidgid)
				mqfuse_suidgid_killed(inode);
			mqfuse_size_changed(inode, 0);
			truncate_pagecache(inode, 0);
			set_bit(MQFUSE_I_SELF_CHANGED, &MQFUSE_I(inode)->state);
		} else if (err) {
			/*
			 * The daemon may have truncated all the same (it
			 * failed after truncating, or we were interrupted
			 * while it worked): neither the cached size nor the
			 * pages can be trusted. The next stat or read past
			 * the cached EOF fetches the size (a smaller one
			 * drops the pages past it), the next open drops the
			 * pages whatever the attributes say. (A killed
			 * opener's OPEN may even truncate after this; only
			 * the next attribute refresh after it shows that.)
			 */
			mqfuse_attr_outdated(inode);
			set_bit(MQFUSE_I_DATA_STALE, &MQFUSE_I(inode)->state);
		}
		mqfuse_nowrite_end(inode);
		inode_unlock(inode);
	}
	if (err) {
		mqfuse_file_free(ff);
		return err;
	}
	mqfuse_finish_open(inode, file, ff);
	if (!isdir && fc->cons->open) {
		err = fc->cons->open(inode, file);
		if (err) {
			mqfuse_prepare_release(inode, file, ff);
			file->private_data = NULL;
			mqfuse_file_put(ff);
			return err;
		}
	}
	return 0;
}

int mqfuse_release_common(struct inode *inode, struct file *file, bool isdir)
{
	struct mqfuse_file *ff = file->private_data;

	if (!ff)
		return 0;
	mqfuse_prepare_release(inode, file, ff);
	file->private_data = NULL;
	mqfuse_file_put(ff);
	return 0;
}

static int mqfuse_open(struct inode *inode, struct file *file)
{
	return mqfuse_open_common(inode, file, false);
}

/*
 * The argument of SETLK(W)/GETLK. Apart from struct file_lock, whose
 * layout differs between kernels (compat.h), so that a caller with no
 * lock at hand (the unlock at close) fills it the same way. @owner is the
 * open file for flock, the POSIX owner otherwise; the daemon sees it
 * scrambled. An unlock carries no pid.
 */
static void mqfuse_lk_in_init(struct mqfuse_conn *fc, struct mqfuse_file *ff,
			      fl_owner_t owner, loff_t start, loff_t end, int type,
			      bool flock, struct fuse_lk_in *in)
{
	memset(in, 0, sizeof(*in));
	in->fh = ff->fh;
	in->owner = mqfuse_lock_owner_id(fc, owner);
	in->lk.start = start;
	in->lk.end = end;
	in->lk.type = type;
	in->lk.pid = type == F_UNLCK ? 0 : pid_nr_ns(task_tgid(current), fc->pid_ns);
	if (flock)
		in->lk_flags |= FUSE_LK_FLOCK;
}

/*
 * The last close of an open file description that took a flock. RELEASE
 * unlocks it too (FUSE_RELEASE_FLOCK_UNLOCK), but RELEASE is asynchronous:
 * a flock taken right after close() returns, which must succeed, could
 * reach the daemon first and conflict. Unlock synchronously here; the
 * RELEASE flag still covers a failure (daemon gone, fatal signal), and is
 * the only unlock when the last reference goes in a kthread (see
 * mqfuse_release()).
 */
static void mqfuse_flock_unlock_on_close(struct inode *inode, struct file *file,
					 struct mqfuse_file *ff)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_args args = {};
	struct fuse_lk_in in;

	mqfuse_lk_in_init(fc, ff, (fl_owner_t)file, 0, OFFSET_MAX, F_UNLCK, true, &in);
	mqfuse_args_init(&args, FUSE_SETLK, ff->nodeid);
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	mqfuse_simple_request(fc, &args);
}

/* A released writable handle whose pages iput_work writes back (mqfuse_release()). */
struct mqfuse_wbrel {
	struct llist_node node;		/* in fc->wbrel_list */
	struct mqfuse_file *ff;		/* referenced, still in write_files */
	struct inode *inode;		/* referenced */
};

/*
 * In fc->iput_work (umount flushes it before the inodes go): write the
 * pages back with the handle still listed, then let it go. A silent
 * daemon holds this connection's deferred puts, not the kthread that
 * released the file.
 */
void mqfuse_wbrel_run(struct mqfuse_conn *fc)
{
	struct llist_node *list = llist_del_all(&fc->wbrel_list);
	struct mqfuse_wbrel *r, *next;

	llist_for_each_entry_safe(r, next, list, node) {
		struct mqfuse_inode *mi = MQFUSE_I(r->inode);

		filemap_fdatawrite(r->inode->i_mapping);
		spin_lock(&mi->lock);
		list_del_init(&r->ff->write_entry);
		spin_unlock(&mi->lock);
		mqfuse_file_put(r->ff);
		iput(r->inode);
		kfree(r);
	}
}

static int mqfuse_release(struct inode *inode, struct file *file)
{
	struct mqfuse_file *ff = file->private_data;
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct address_space *mapping = inode->i_mapping;

	/*
	 * cto-wb: pages dirtied after the last flush (a write(2) of another
	 * thread that held the file across close(), an io_uring write) would
	 * be left without a writable handle once this one goes: start their
	 * write back now, while it is still listed (the WRITEs hold it). Not
	 * waited for: close() already returned. A kthread (delayed fput)
	 * must not wait for the daemon at all: the handle stays listed and
	 * iput_work writes the pages back (mqfuse_wbrel_run()).
	 */
	if (ff && (file->f_mode & FMODE_WRITE) && fc->cons->writeback && !mqfuse_is_bad(inode) &&
	    (mapping_tagged(mapping, PAGECACHE_TAG_DIRTY) ||
	     mapping_tagged(mapping, PAGECACHE_TAG_WRITEBACK))) {
		struct mqfuse_wbrel *r = NULL;

		if (current->flags & PF_KTHREAD)
			r = kmalloc(sizeof(*r), GFP_KERNEL);
		if (r) {
			r->ff = mqfuse_file_get(ff);
			ihold(inode);
			r->inode = inode;
			ff->wb_deferred = true;
			llist_add(&r->node, &fc->wbrel_list);
			queue_work(system_unbound_wq, &fc->iput_work);
		} else {
			filemap_fdatawrite(mapping);
		}
	}

	/*
	 * A kthread (delayed_fput after an AIO completion, a workqueue) is
	 * not the close() whose successor could race the RELEASE, and no
	 * signal reaches it: waiting there for a silent daemon would wedge
	 * every later delayed fput in the system. RELEASE unlocks alone.
	 */
	if (ff && ff->flock_used && mqfuse_conn_of(inode)->flock_locks &&
	    !mqfuse_is_bad(inode) && !(current->flags & PF_KTHREAD))
		mqfuse_flock_unlock_on_close(inode, file, ff);
	return mqfuse_release_common(inode, file, false);
}

static int mqfuse_dir_open(struct inode *inode, struct file *file)
{
	return mqfuse_open_common(inode, file, true);
}

static int mqfuse_dir_release(struct inode *inode, struct file *file)
{
	return mqfuse_release_common(inode, file, true);
}

static int mqfuse_flush(struct file *file, fl_owner_t id)
{
	struct inode *inode = file_inode(file);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_file *ff = file->private_data;
	struct fuse_flush_in in = {};
	struct mqfuse_args args = {};
	int err = 0, werr = 0;

	if (mqfuse_is_bad(inode))
		return -EIO;
	if (fc->cons->flush)
		werr = fc->cons->flush(inode, file);
	/*
	 * FLUSH carries the lock owner: a daemon doing POSIX locks releases
	 * them there, also when it has no OPEN (the handle is then 0).
	 */
	if (!ff || READ_ONCE(fc->no_flush) || (ff->open_flags & FOPEN_NOFLUSH) ||
	    (ff->no_release && !fc->posix_locks))
		return werr;

	in.fh = ff->fh;
	in.lock_owner = mqfuse_lock_owner_id(fc, id);
	mqfuse_args_init(&args, FUSE_FLUSH, mqfuse_nodeid(inode));
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	args.force = true;
	err = mqfuse_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_flush, true);
		err = 0;
	}
	return werr ? werr : err;
}

int mqfuse_fsync_common(struct file *file, loff_t start, loff_t end, int datasync,
			bool isdir)
{
	struct inode *inode = file_inode(file);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_file *ff = file->private_data;
	struct fuse_fsync_in in = {};
	struct mqfuse_args args = {};
	bool *no = isdir ? &fc->no_fsyncdir : &fc->no_fsync;
	int err;

	if (mqfuse_is_bad(inode))
		return -EIO;
	err = file_write_and_wait_range(file, start, end);
	if (err)
		return err;
	if (READ_ONCE(*no) || !ff || ff->no_release)
		return 0;
	in.fh = ff->fh;
	in.fsync_flags = datasync ? FUSE_FSYNC_FDATASYNC : 0;
	mqfuse_args_init(&args, isdir ? FUSE_FSYNCDIR : FUSE_FSYNC, mqfuse_nodeid(inode));
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	err = mqfuse_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(*no, true);
		err = 0;
	}
	return err;
}

static int mqfuse_fsync(struct file *file, loff_t start, loff_t end, int datasync)
{
	return mqfuse_fsync_common(file, start, end, datasync, false);
}

static int mqfuse_dir_fsync(struct file *file, loff_t start, loff_t end, int datasync)
{
	return mqfuse_fsync_common(file, start, end, datasync, true);
}

static bool mqfuse_file_direct(struct file *file, struct kiocb *iocb)
{
	struct mqfuse_file *ff = file->private_data;
	struct mqfuse_conn *fc = mqfuse_conn_of(file_inode(file));

	return (iocb->ki_flags & IOCB_DIRECT) || (ff->open_flags & FOPEN_DIRECT_IO) ||
	       !fc->cons->page_cache;
}

static ssize_t mqfuse_file_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	ssize_t ret;

	if (mqfuse_is_bad(inode))
		return -EIO;
	if (!iov_iter_count(to))
		return 0;
	if (mqfuse_file_direct(file, iocb)) {
		ret = mqfuse_direct_io(iocb, to, false);
	} else {
		/*
		 * IOCB_NOWAIT without FMODE_NOWAIT: 6.1's io_uring (see
		 * mqfuse_direct_io()). Only what the page cache holds: no
		 * readahead, no GETATTR; io_uring retries from its worker,
		 * with the same kiocb: IOCB_NOIO must not stay behind.
		 */
		bool noio = (iocb->ki_flags & (IOCB_NOWAIT | IOCB_NOIO)) == IOCB_NOWAIT;

		/*
		 * Reading at or past the cached EOF: make sure the size is
		 * fresh. Not in cto-wb, where the size is ours between opens.
		 */
		if (iocb->ki_pos + iov_iter_count(to) > i_size_read(inode) &&
		    !mqfuse_conn_of(inode)->cons->writeback) {
			if (iocb->ki_flags & IOCB_NOWAIT)
				return -EAGAIN;
			ret = mqfuse_update_attr_if_stale(inode, file);
			if (ret)
				return ret;
		}
		if (noio)
			iocb->ki_flags |= IOCB_NOIO;
		ret = generic_file_read_iter(iocb, to);
		if (noio)
			iocb->ki_flags &= ~IOCB_NOIO;
	}
	/*
	 * The daemon's file got a new atime: do not serve the old one, in
	 * the modes that cache attributes only briefly (relaxed keeps them
	 * for their TTL; strict caches none).
	 */
	if (ret > 0 && mqfuse_conn_of(inode)->cons->read_stales_attr)
		mqfuse_invalidate_attr(inode);
	return ret;
}

/*
 * cto-wb, and this write must kill suid/sgid: a dirtied page would reach
 * the daemon from writeback, which cannot tell who wrote it, so the write
 * goes through like in cto, its WRITEs carrying the kill. Dirty pages in
 * its range are written back first: the write-through path drops what the
 * daemon does not take, which must never be a dirty page's only copy.
 * The kernel still owns size and times (mqfuse_kernel_owns_size()).
 * Caller holds inode_lock.
 */
static ssize_t mqfuse_write_through_wb(struct kiocb *iocb, struct iov_iter *from)
{
	struct inode *inode = file_inode(iocb->ki_filp);
	ssize_t ret;

	lockdep_assert_held(&inode->i_rwsem);
	/* an earlier writeback error stays for fsync(): not ours to report */
	ret = filemap_fdatawrite_range(inode->i_mapping, iocb->ki_pos,
				       iocb->ki_pos + iov_iter_count(from) - 1);
	if (ret)
		return ret;
	filemap_fdatawait_range_keep_errors(inode->i_mapping, iocb->ki_pos,
					    iocb->ki_pos + iov_iter_count(from) - 1);
	ret = mqfuse_perform_write(iocb, from);
	if (ret > 0)
		mqfuse_wb_modified(inode);
	return ret;
}

static ssize_t mqfuse_file_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	ssize_t ret;

	if (mqfuse_is_bad(inode))
		return -EIO;
	/* every write waits for the daemon: see mqfuse_direct_io() */
	if (iocb->ki_flags & IOCB_NOWAIT)
		return -EAGAIN;
	inode_lock(inode);
	if ((iocb->ki_flags & IOCB_APPEND) && !fc->cons->writeback) {
		/* O_APPEND: the daemon's size is the truth (in cto-wb: ours) */
		ret = mqfuse_do_getattr(inode, file);
		if (ret)
			goto out;
	}
	ret = generic_write_checks(iocb, from);
	if (ret <= 0)
		goto out;
	/*
	 * With FUSE_HANDLE_KILLPRIV_V2 the WRITEs carry the suid/sgid kill
	 * (mqfuse_write_kill_flag()) and the daemon removes
	 * security.capability: no GETXATTR, no SETATTR here.
	 */
	if (!fc->handle_killpriv_v2 ||
	    (READ_ONCE(inode->i_mode) & (S_ISGID | S_IXGRP)) == S_ISGID) {
		/*
		 * S_ISGID without group execute: dropped for a writer outside
		 * the file's group (setattr_should_drop_sgid()), which only the
		 * VFS can judge; a SETATTR of the mode, as without the flag.
		 */
		ret = file_remove_privs(file);
		if (ret)
			goto out;
	}
	if (mqfuse_file_direct(file, iocb)) {
		ret = mqfuse_direct_io(iocb, from, true);
		if (ret > 0 || ret == -EIOCBQUEUED)
			mqfuse_wb_modified(inode);
	} else if (fc->cons->writeback && !mqfuse_write_kill_flag(inode)) {
		ret = mqfuse_perform_write_wb(iocb, from);
	} else if (fc->cons->writeback) {
		ret = mqfuse_write_through_wb(iocb, from);
	} else {
		ret = mqfuse_perform_write(iocb, from);
	}
out:
	inode_unlock(inode);
	if (ret > 0)
		ret = generic_write_sync(iocb, ret);
	return ret;
}

/*
 * A daemon's FOPEN_DIRECT_IO refuses shared maps like stock FUSE (6.1).
 * consistency=strict, which also keeps read(2)/write(2) out of the page
 * cache, maps through it when the daemon did not set FOPEN_DIRECT_IO:
 * its ->mmap hook drops pages left since the open (it must not talk to
 * the daemon: mmap_lock is held), and read/write write dirty mapped pages
 * back before going to the daemon (mqfuse_direct_io).
 */
static int mqfuse_file_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct mqfuse_file *ff = file->private_data;
	struct inode *inode = file_inode(file);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	int err;

	if (ff->open_flags & FOPEN_DIRECT_IO) {
		/* no page cache coherency for shared maps of a direct_io file */
		if (vma->vm_flags & VM_MAYSHARE)
			return -ENODEV;
		invalidate_inode_pages2(file->f_mapping);
		return generic_file_mmap(file, vma);
	}
	if (fc->cons->mmap) {
		err = fc->cons->mmap(inode, file, vma);
		if (err)
			return err;
	}
	file_accessed(file);
	vma->vm_ops = &mqfuse_vm_ops;
	return 0;
}

static loff_t mqfuse_lseek_daemon(struct file *file, loff_t offset, int whence)
{
	struct inode *inode = file_inode(file);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_file *ff = file->private_data;
	struct fuse_lseek_in in = {};
	struct fuse_lseek_out out = {};
	struct mqfuse_args args = {};
	int err;

	err = filemap_write_and_wait(inode->i_mapping);
	if (err)
		return err;
	in.fh = ff->fh;
	in.offset = offset;
	in.whence = whence;
	mqfuse_args_init(&args, FUSE_LSEEK, mqfuse_nodeid(inode));
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	mqfuse_args_out(&args, 0, sizeof(out), &out);
	err = mqfuse_simple_request(fc, &args);
	if (err)
		return err;
	if ((s64)out.offset < 0) {
		mqfuse_bad_reply(fc, "LSEEK offset %llu\n", out.offset);
		return -EIO;
	}
	return vfs_setpos(file, out.offset, inode->i_sb->s_maxbytes);
}

static loff_t mqfuse_file_llseek(struct file *file, loff_t offset, int whence)
{
	struct inode *inode = file_inode(file);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_file *ff = file->private_data;
	loff_t ret;

	switch (whence) {
	case SEEK_SET:
	case SEEK_CUR:
		return generic_file_llseek(file, offset, whence);
	case SEEK_DATA:
	case SEEK_HOLE:
		if (!READ_ONCE(fc->no_lseek) && ff && !ff->no_release) {
			ret = mqfuse_lseek_daemon(file, offset, whence);
			if (ret != -ENOSYS)
				return ret;
			WRITE_ONCE(fc->no_lseek, true);
		}
		fallthrough;
	default:
		inode_lock(inode);
		ret = mqfuse_update_attr_if_stale(inode, file);
		if (!ret)
			ret = generic_file_llseek(file, offset, whence);
		inode_unlock(inode);
		return ret;
	}
}

static long mqfuse_file_fallocate(struct file *file, int mode, loff_t offset, loff_t length)
{
	struct inode *inode = file_inode(file);
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_file *ff = file->private_data;
	struct fuse_fallocate_in in = {};
	struct mqfuse_args args = {};
	bool range = mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE);
	loff_t end = offset + length;
	int err;

	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	if (READ_ONCE(fc->no_fallocate))
		return -EOPNOTSUPP;
	if (mqfuse_is_bad(inode))
		return -EIO;

	inode_lock(inode);
	if (range) {
		err = filemap_write_and_wait_range(inode->i_mapping, offset, end - 1);
		if (err)
			goto out;
	}
	if (!(mode & FALLOC_FL_KEEP_SIZE)) {
		err = inode_newsize_ok(inode, end);
		if (err)
			goto out;
	}
	/*
	 * Before nowrite: clearing suid/sgid is a SETATTR, which in cto-wb
	 * writes dirty pages back first, and that writeback would wait for
	 * our own nowrite.
	 */
	err = file_modified(file);
	if (err)
		goto out;
	/* no writeback may cross the daemon's size or hole change */
	mqfuse_nowrite_begin(inode);
	if (!(mode & FALLOC_FL_KEEP_SIZE))
		set_bit(MQFUSE_I_SIZE_UNSTABLE, &mi->state);
	in.fh = ff->fh;
	in.offset = offset;
	in.length = length;
	in.mode = mode;
	mqfuse_args_init(&args, FUSE_FALLOCATE, mqfuse_nodeid(inode));
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	err = mqfuse_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_fallocate, true);
		err = -EOPNOTSUPP;
	}
	if (err)
		goto out_unstable;
	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > i_size_read(inode))
		mqfuse_size_changed(inode, end);
	if (range)
		truncate_pagecache_range(inode, offset, end - 1);
	set_bit(MQFUSE_I_SELF_CHANGED, &mi->state);
	mqfuse_wb_modified(inode);
out_unstable:
	clear_bit(MQFUSE_I_SIZE_UNSTABLE, &mi->state);
	mqfuse_nowrite_end(inode);
	mqfuse_invalidate_attr(inode);
out:
	inode_unlock(inode);
	return err;
}

/* ---- copy_file_range ---- */

static ssize_t mqfuse_copy_range_daemon(struct file *file_in, loff_t pos_in,
					struct file *file_out, loff_t pos_out, size_t len)
{
	struct inode *inode_in = file_inode(file_in);
	struct inode *inode_out = file_inode(file_out);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode_out);
	struct mqfuse_file *ff_in = file_in->private_data;
	struct mqfuse_file *ff_out = file_out->private_data;
	struct fuse_copy_file_range_in in = {};
	struct fuse_write_out out = {};
	struct mqfuse_args args = {};
	ssize_t err;

	if (READ_ONCE(fc->no_copy_file_range) || fc->minor < 28 ||
	    inode_in->i_sb != inode_out->i_sb || ff_in->no_release || ff_out->no_release)
		return -EOPNOTSUPP;
	if (mqfuse_is_bad(inode_in) || mqfuse_is_bad(inode_out))
		return -EIO;
	len = min_t(size_t, len, UINT_MAX & PAGE_MASK);

	/*
	 * The daemon copies what it has: push our dirty data first; in
	 * cto-wb up to our EOF, which may lie past the daemon's (the bytes
	 * between are zeros to us, the end of the file to the daemon).
	 */
	err = filemap_write_and_wait_range(inode_in->i_mapping, pos_in,
					   mqfuse_conn_of(inode_in)->cons->writeback ?
					   LLONG_MAX : pos_in + len - 1);
	if (err)
		return err;
	inode_lock(inode_out);
	/*
	 * From the flush to the invalidation no mmap store may dirty a
	 * destination page (page_mkwrite takes this shared): a page dirtied
	 * meanwhile holds the bytes from before the copy around the store,
	 * and writing it back would overwrite what the daemon copied.
	 */
	filemap_invalidate_lock(inode_out->i_mapping);
	err = file_modified(file_out);
	if (err)
		goto out;
	err = filemap_write_and_wait_range(inode_out->i_mapping, pos_out, pos_out + len - 1);
	if (err)
		goto out;
	in.fh_in = ff_in->fh;
	in.off_in = pos_in;
	in.nodeid_out = mqfuse_nodeid(inode_out);
	in.fh_out = ff_out->fh;
	in.off_out = pos_out;
	in.len = len;
	mqfuse_args_init(&args, FUSE_COPY_FILE_RANGE, mqfuse_nodeid(inode_in));
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	mqfuse_args_out(&args, 0, sizeof(out), &out);
	err = mqfuse_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_copy_file_range, true);
		err = -EOPNOTSUPP;
	}
	if (err)
		goto out;
	if (out.size > len) {
		mqfuse_bad_reply(fc, "COPY_FILE_RANGE of %zu answered %u\n", len, out.size);
		err = -EIO;
		goto out;
	}
	if (out.size) {
		struct address_space *mapping = inode_out->i_mapping;
		pgoff_t first = pos_out >> PAGE_SHIFT;
		pgoff_t last = (pos_out + out.size - 1) >> PAGE_SHIFT;

		if (pos_out + out.size > i_size_read(inode_out))
			mqfuse_size_changed(inode_out, pos_out + out.size);
		mqfuse_wb_modified(inode_out);
		/*
		 * The daemon changed these bytes: drop the cached pages that
		 * hold them, whole pages (a partial page holds live data
		 * around the copied range and is read again, never zeroed).
		 * Pages dirtied through mmap meanwhile are written first.
		 */
		if (invalidate_inode_pages2_range(mapping, first, last)) {
			loff_t start = (loff_t)first << PAGE_SHIFT;
			loff_t end = ((loff_t)(last + 1) << PAGE_SHIFT) - 1;

			int werr;

			/*
			 * Busy pages: write them and drop them anyway. If the
			 * write failed, their data did not reach the daemon;
			 * the copy is done all the same, so its size is the
			 * result and the error goes back to the mapping for
			 * fsync to report.
			 */
			werr = filemap_write_and_wait_range(mapping, start, end);
			truncate_inode_pages_range(mapping, start, end);
			if (werr)
				mapping_set_error(mapping, werr);
		}
		set_bit(MQFUSE_I_SELF_CHANGED, &MQFUSE_I(inode_out)->state);
	}
	mqfuse_invalidate_attr(inode_out);
	err = out.size;
out:
	filemap_invalidate_unlock(inode_out->i_mapping);
	inode_unlock(inode_out);
	return err;
}

static ssize_t mqfuse_copy_file_range(struct file *file_in, loff_t pos_in,
				      struct file *file_out, loff_t pos_out,
				      size_t len, unsigned int flags)
{
	ssize_t ret = mqfuse_copy_range_daemon(file_in, pos_in, file_out, pos_out, len);

	if (ret == -EOPNOTSUPP || ret == -EXDEV)
		ret = splice_copy_file_range(file_in, pos_in, file_out, pos_out, len);
	return ret;
}

/* ---- locks ---- */

static void mqfuse_lk_fill(struct mqfuse_conn *fc, struct file *file, struct file_lock *fl,
			   bool flock, struct fuse_lk_in *in)
{
	mqfuse_lk_in_init(fc, file->private_data,
			  flock ? (fl_owner_t)file : mqfuse_fl_owner(fl),
			  fl->fl_start, fl->fl_end, mqfuse_fl_type(fl), flock, in);
}

/*
 * The pid of a GETLK reply is in the connection's pid namespace, the one
 * lock requests carry pids in (mqfuse_lk_in_init()).  fl_pid wants it in
 * the initial namespace: fcntl_getlk() then translates it for the caller,
 * 0 if the holder is not visible there.  A pid the namespace does not know
 * is 0 (no process the caller could name).
 */
static pid_t mqfuse_lk_pid(struct mqfuse_conn *fc, u32 nr)
{
	pid_t pid;

	if (!nr || nr > PID_MAX_LIMIT)
		return 0;
	rcu_read_lock();
	pid = pid_nr_ns(find_pid_ns(nr, fc->pid_ns), &init_pid_ns);
	rcu_read_unlock();
	return pid;
}

static int mqfuse_getlk(struct file *file, struct file_lock *fl)
{
	struct inode *inode = file_inode(file);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct fuse_lk_in in;
	struct fuse_lk_out out = {};
	struct mqfuse_args args = {};
	int err;

	mqfuse_lk_fill(fc, file, fl, false, &in);
	mqfuse_args_init(&args, FUSE_GETLK, mqfuse_nodeid(inode));
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	mqfuse_args_out(&args, 0, sizeof(out), &out);
	err = mqfuse_simple_request(fc, &args);
	if (err)
		return err;
	if (out.lk.type != F_UNLCK && out.lk.type != F_RDLCK && out.lk.type != F_WRLCK)
		goto bad;
	if (out.lk.type == F_UNLCK) {
		mqfuse_fl_type(fl) = F_UNLCK;
		return 0;
	}
	if (out.lk.start > OFFSET_MAX || out.lk.end > OFFSET_MAX || out.lk.end < out.lk.start)
		goto bad;
	fl->fl_start = out.lk.start;
	fl->fl_end = out.lk.end;
	mqfuse_fl_type(fl) = out.lk.type;
	mqfuse_fl_pid(fl) = mqfuse_lk_pid(fc, out.lk.pid);
	return 0;
bad:
	mqfuse_bad_reply(fc, "GETLK: invalid lock\n");
	return -EIO;
}

static int mqfuse_setlk(struct file *file, struct file_lock *fl, bool flock)
{
	struct inode *inode = file_inode(file);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct fuse_lk_in in;
	struct mqfuse_args args = {};
	int opcode = (mqfuse_fl_flags(fl) & FL_SLEEP) ? FUSE_SETLKW : FUSE_SETLK;
	int err;

	/* close() unlocks through FLUSH's lock_owner */
	if ((mqfuse_fl_flags(fl) & FL_CLOSE_POSIX) == FL_CLOSE_POSIX)
		return 0;
	mqfuse_lk_fill(fc, file, fl, flock, &in);
	mqfuse_args_init(&args, opcode, mqfuse_nodeid(inode));
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	err = mqfuse_simple_request(fc, &args);
	/* locking is restartable */
	if (err == -EINTR)
		err = -ERESTARTSYS;
	return err;
}

static int mqfuse_file_lock(struct file *file, int cmd, struct file_lock *fl)
{
	struct inode *inode = file_inode(file);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);

	if (mqfuse_is_bad(inode))
		return -EIO;
	if (cmd == F_CANCELLK)
		return 0;
	if (!fc->posix_locks) {
		if (IS_GETLK(cmd)) {
			posix_test_lock(file, fl);
			return 0;
		}
		return posix_lock_file(file, fl, NULL);
	}
	if (IS_GETLK(cmd))
		return mqfuse_getlk(file, fl);
	return mqfuse_setlk(file, fl, false);
}

static int mqfuse_file_flock(struct file *file, int cmd, struct file_lock *fl)
{
	struct inode *inode = file_inode(file);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_file *ff = file->private_data;

	if (mqfuse_is_bad(inode))
		return -EIO;
	if (!fc->flock_locks)
		return locks_lock_file_wait(file, fl);
	ff->flock_used = true;
	return mqfuse_setlk(file, fl, true);
}

const struct file_operations mqfuse_file_fops = {
	.owner		= THIS_MODULE,
	.llseek		= mqfuse_file_llseek,
	.read_iter	= mqfuse_file_read_iter,
	.write_iter	= mqfuse_file_write_iter,
	.mmap		= mqfuse_file_mmap,
	.open		= mqfuse_open,
	.flush		= mqfuse_flush,
	.release	= mqfuse_release,
	.fsync		= mqfuse_fsync,
	.lock		= mqfuse_file_lock,
	.flock		= mqfuse_file_flock,
	.splice_read	= copy_splice_read,
	.splice_write	= iter_file_splice_write,
	.fallocate	= mqfuse_file_fallocate,
	.copy_file_range = mqfuse_copy_file_range,
};

const struct file_operations mqfuse_dir_fops = {
	.owner		= THIS_MODULE,
	.llseek		= generic_file_llseek,
	.read		= generic_read_dir,
	.iterate_shared	= mqfuse_readdir,
	.open		= mqfuse_dir_open,
	.release	= mqfuse_dir_release,
	.fsync		= mqfuse_dir_fsync,
};

const struct inode_operations mqfuse_file_iops = {
	.setattr	= mqfuse_setattr,
	.getattr	= mqfuse_getattr,
	.permission	= mqfuse_permission,
	.listxattr	= mqfuse_listxattr,
	MQFUSE_ACL_IOPS
};
