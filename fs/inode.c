// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: inodes — the nodeid -> inode map (inode hash keyed by nodeid),
 * lookup counts and FORGET on eviction, attribute cache with TTLs,
 * getattr/setattr/permission.
 *
 * Attributes come from an untrusted daemon: the file type of a cached
 * inode can never change (the inode is marked bad instead), times and
 * sizes are range checked.
 */
#include "mqfuse_i.h"
#include <linux/jiffies.h>
#include <linux/llist.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <linux/writeback.h>

int mqfuse_valid_type(u32 mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return 1;
	}
	return 0;
}

/* jiffies64 deadline for a daemon TTL; 0 TTL gives an already-passed deadline. */
u64 mqfuse_timeout(u64 sec, u32 nsec)
{
	struct timespec64 ts;

	if (!sec && !nsec)
		return 0;
	ts.tv_sec = min_t(u64, sec, (u64)(MAX_JIFFY_OFFSET / HZ) - 1);
	ts.tv_nsec = min_t(u32, nsec, NSEC_PER_SEC - 1);
	return get_jiffies_64() + timespec64_to_jiffies(&ts);
}

struct inode *mqfuse_alloc_inode(struct super_block *sb)
{
	struct mqfuse_inode *mi;

	mi = alloc_inode_sb(sb, mqfuse_inode_cachep, GFP_KERNEL);
	if (!mi)
		return NULL;
	mi->forget = kzalloc(sizeof(*mi->forget), GFP_KERNEL_ACCOUNT);
	mi->nref = kzalloc(sizeof(*mi->nref), GFP_KERNEL_ACCOUNT);
	if (!mi->forget || !mi->nref) {
		kfree(mi->forget);
		kfree(mi->nref);
		kmem_cache_free(mqfuse_inode_cachep, mi);
		return NULL;
	}
	refcount_set(&mi->nref->ref, 1);
	mi->nref->fc = sb->s_fs_info;
	mi->nodeid = 0;
	mi->generation = 0;
	mi->state = 0;
	spin_lock_init(&mi->lock);
	mi->nlookup = 0;
	mi->attr_version = 0;
	mi->attr_expire = 0;
	mi->attr_asked = 0;
	mi->blksize = 0;
	INIT_LIST_HEAD(&mi->write_files);
	memset(&mi->stamp, 0, sizeof(mi->stamp));
	mi->writes = 0;
	mi->nowrite = false;
	return &mi->vfs_inode;
}

void mqfuse_free_inode(struct inode *inode)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);

	kfree(mi->forget);
	if (mi->nref)	/* evict did not run (failed iget) */
		mqfuse_node_ref_put(mi->nref);
	kmem_cache_free(mqfuse_inode_cachep, mi);
}

/* A reference for an open handle (taken at open, dropped by RELEASE's end). */
struct mqfuse_node_ref *mqfuse_node_ref_get(struct inode *inode)
{
	return mqfuse_node_ref_dup(MQFUSE_I(inode)->nref);
}

/* Another reference on @nref, which the caller holds one of (or NULL). */
struct mqfuse_node_ref *mqfuse_node_ref_dup(struct mqfuse_node_ref *nref)
{
	if (nref)
		refcount_inc(&nref->ref);
	return nref;
}

/*
 * A node reference for a node that has no inode (a CREATE reply refused
 * after the daemon opened it, or answered after its waiter was killed):
 * its FORGET of @nlookup goes out when the last reference, the handle's
 * RELEASE, is done. NULL if @gfp allows failure and memory ran out.
 */
struct mqfuse_node_ref *mqfuse_node_ref_orphan(struct mqfuse_conn *fc, u64 nodeid,
					       u64 nlookup, gfp_t gfp)
{
	struct mqfuse_node_ref *nref;

	nref = kzalloc(sizeof(*nref), gfp);
	if (!nref)
		return NULL;
	refcount_set(&nref->ref, 1);
	nref->fc = fc;
	if (nodeid && nodeid != FUSE_ROOT_ID) {
		nref->forget = kzalloc(sizeof(*nref->forget), gfp);
		if (!nref->forget) {
			kfree(nref);
			return NULL;
		}
		nref->nodeid = nodeid;
		nref->nlookup = nlookup;
	}
	return nref;
}

void mqfuse_node_ref_put(struct mqfuse_node_ref *nref)
{
	if (!nref || !refcount_dec_and_test(&nref->ref))
		return;
	if (nref->forget)
		mqfuse_queue_forget(nref->fc, nref->forget, nref->nodeid, nref->nlookup);
	kfree(nref);
}

void mqfuse_evict_inode(struct inode *inode)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	struct mqfuse_node_ref *nref = mi->nref;

	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
	/*
	 * At umount the session is torn down anyway: no FORGETs. Otherwise
	 * the FORGET goes out with the last node reference: a RELEASE of
	 * this node may still be unanswered (the last writeback of a closed
	 * file sends it), and the FORGET must not overtake it.
	 */
	if ((inode->i_sb->s_flags & SB_ACTIVE) && mi->nlookup && mi->nodeid) {
		nref->forget = mi->forget;
		nref->nodeid = mi->nodeid;
		nref->nlookup = mi->nlookup;
		mi->forget = NULL;
	}
	mi->nref = NULL;
	mqfuse_node_ref_put(nref);
	WARN_ON_ONCE(!list_empty(&mi->write_files));
}

void mqfuse_make_bad(struct inode *inode)
{
	set_bit(MQFUSE_I_BAD, &MQFUSE_I(inode)->state);
}

void mqfuse_invalidate_attr(struct inode *inode)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);

	spin_lock(&mi->lock);
	mi->attr_expire = 0;
	spin_unlock(&mi->lock);
}

/*
 * FUSE_HANDLE_KILLPRIV_V2: a request that asked the daemon to kill
 * suid/sgid (WRITE, OPEN with O_TRUNC) succeeded. Show what the daemon
 * did at once (S_ISUID off, S_ISGID off if group-executable) and fetch
 * the rest on the next stat: the attributes are stale, and a reply sent
 * before this request (still with the bits) must not be applied
 * (attr_version, as in mqfuse_attr_outdated()).
 */
void mqfuse_suidgid_killed(struct inode *inode)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);

	spin_lock(&mi->lock);
	inode->i_mode = mqfuse_mode_suidgid_killed(inode->i_mode);
	mi->attr_version = atomic64_inc_return(&fc->attr_version);
	mi->attr_expire = 0;
	spin_unlock(&mi->lock);
}

/*
 * A request that may have changed the node in the daemon failed, so what
 * it did is unknown (an OPEN with O_TRUNC answered with an error, or
 * whose caller was interrupted): the cached attributes are stale, and a
 * reply to a request sent before now may predate the change, so it must
 * not be applied either (mqfuse_attr_apply compares attr_version).
 */
void mqfuse_attr_outdated(struct inode *inode)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);

	spin_lock(&mi->lock);
	mi->attr_version = atomic64_inc_return(&fc->attr_version);
	mi->attr_expire = 0;
	spin_unlock(&mi->lock);
}

/*
 * i_size changed locally (write, copy_file_range, fallocate, truncate):
 * attributes the daemon produced before now are older than this size, so
 * a reply to a request sent earlier must not be applied (mqfuse_attr_apply
 * compares attr_version), and the cached attributes are stale.
 */
void mqfuse_size_changed(struct inode *inode, loff_t size)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);

	spin_lock(&mi->lock);
	i_size_write(inode, size);
	mi->attr_version = atomic64_inc_return(&fc->attr_version);
	mi->attr_expire = 0;
	spin_unlock(&mi->lock);
}

/*
 * Writes that do not hold inode_lock (writeback, launder) are counted, so
 * that a size change (SETATTR size, FALLOCATE) can wait until none is in
 * flight and hold new ones back: a WRITE reaching the daemon after its
 * truncate would extend the file again with data cut off.
 * Returns false while a size change is in progress (unless @nested).
 */
bool mqfuse_write_begin(struct inode *inode, bool nested)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	bool ok;

	spin_lock(&mi->lock);
	/* @nested: the caller holds a count already, so no size change runs */
	ok = nested || !mi->nowrite;
	if (ok)
		mi->writes++;
	spin_unlock(&mi->lock);
	return ok;
}

/* Called while the inode is still pinned (before the last end_page_writeback). */
void mqfuse_write_end(struct inode *inode)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	bool wake;

	spin_lock(&mi->lock);
	if (WARN_ON_ONCE(!mi->writes))
		mi->writes = 1;
	wake = !--mi->writes && mi->nowrite;
	spin_unlock(&mi->lock);
	if (wake)
		wake_up_var(&mi->writes);
}

static bool mqfuse_writes_drained(struct mqfuse_inode *mi)
{
	bool drained;

	spin_lock(&mi->lock);
	drained = !mi->writes;
	spin_unlock(&mi->lock);
	return drained;
}

/*
 * Start a size change: no new WRITEs, wait for those in flight, the
 * asynchronous direct ones included (dio.c: inode_dio_begin() under
 * inode_lock, which the caller holds, so no new one starts).
 */
void mqfuse_nowrite_begin(struct inode *inode)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);

	lockdep_assert_held(&inode->i_rwsem);
	spin_lock(&mi->lock);
	WARN_ON_ONCE(mi->nowrite);
	mi->nowrite = true;
	spin_unlock(&mi->lock);
	wait_var_event(&mi->writes, mqfuse_writes_drained(mi));
	inode_dio_wait(inode);
}

void mqfuse_nowrite_end(struct inode *inode)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);

	lockdep_assert_held(&inode->i_rwsem);
	spin_lock(&mi->lock);
	mi->nowrite = false;
	spin_unlock(&mi->lock);
	/* the waiter tests nowrite locklessly: order the store before the check */
	smp_mb();
	wake_up_var(&mi->nowrite);
}

/* Range checks on attributes from the daemon. */
int mqfuse_attr_check(struct mqfuse_conn *fc, const struct fuse_attr *attr)
{
	if (!mqfuse_valid_type(attr->mode)) {
		mqfuse_bad_reply(fc, "invalid file type %o\n", attr->mode);
		return -EIO;
	}
	if ((s64)attr->size < 0 || attr->atimensec >= NSEC_PER_SEC ||
	    attr->mtimensec >= NSEC_PER_SEC || attr->ctimensec >= NSEC_PER_SEC) {
		mqfuse_bad_reply(fc, "attribute out of range (size %llu)\n", attr->size);
		return -EIO;
	}
	return 0;
}

/*
 * The daemon reported a smaller size (another client truncated the file):
 * drop the pages wholly past the new EOF. Writeback never sends them
 * (mqfuse_writepages_fill), so dirty ones would otherwise stay dirty
 * forever. The partial last page stays, its tail past EOF zeroed (a later
 * local extension must read zeros there, not the old bytes), unless a
 * local write may be filling it (write-through, under inode_lock we do
 * not hold): checked under the folio lock, which that write takes after
 * setting MQFUSE_I_SIZE_UNSTABLE and before updating the size. Uses the
 * size current at the time of the call, so a racing local extension
 * loses no more than cached clean pages.
 *
 * Callers of mqfuse_attr_apply() all may sleep and hold no page lock
 * (lookup, d_revalidate, readdirplus, getattr, setattr); none runs in a
 * daemon thread, which must not wait for the page locks and writeback
 * this can wait for.
 */
static void mqfuse_truncate_past_eof(struct inode *inode)
{
	loff_t size = i_size_read(inode);
	loff_t holebegin = round_up(size, PAGE_SIZE);
	struct folio *folio;

	might_sleep();
	unmap_mapping_range(inode->i_mapping, holebegin, 0, 1);
	truncate_inode_pages(inode->i_mapping, holebegin);
	unmap_mapping_range(inode->i_mapping, holebegin, 0, 1);
	if (!offset_in_page(size))
		return;
	/* not cached: NULL before 6.3, ERR_PTR(-ENOENT) since */
	folio = filemap_lock_folio(inode->i_mapping, size >> PAGE_SHIFT);
	if (IS_ERR_OR_NULL(folio))
		return;
	folio_wait_writeback(folio);
	if (folio->mapping == inode->i_mapping && i_size_read(inode) == size &&
	    !test_bit(MQFUSE_I_SIZE_UNSTABLE, &MQFUSE_I(inode)->state))
		folio_zero_segment(folio, offset_in_folio(folio, size), folio_size(folio));
	folio_unlock(folio);
	folio_put(folio);
}

/*
 * consistency=cto-wb: the kernel owns a regular file's size, mtime and
 * ctime between opens, as stock FUSE's writeback cache does: writes
 * dirty pages the daemon has not seen, so its size and times lag ours,
 * and no lockless check of the dirty tags can tell a reply older than a
 * write from a newer one. They are taken from the daemon only where no
 * write(2), truncate or fallocate can race (inode_lock held) and every
 * dirty page was written back first (MQFUSE_ATTR_AUTH): the open's and
 * the close's GETATTR (consistency.c), a SETATTR's reply, and a new
 * inode. Shared-map stores may dirty pages meanwhile, but never past
 * i_size.
 */
static bool mqfuse_kernel_owns_size(struct inode *inode, unsigned int flags)
{
	return !(flags & MQFUSE_ATTR_AUTH) && S_ISREG(inode->i_mode) &&
	       mqfuse_conn_of(inode)->cons->writeback;
}

/*
 * cto-wb: this client changed the file's data; its mtime and ctime are
 * ours until the daemon's are taken (mqfuse_kernel_owns_size()).
 */
void mqfuse_wb_modified(struct inode *inode)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	struct timespec64 now;

	if (!S_ISREG(inode->i_mode) || !mqfuse_conn_of(inode)->cons->writeback)
		return;
	now = current_time(inode);
	spin_lock(&mi->lock);
	inode_set_mtime(inode, now.tv_sec, now.tv_nsec);
	inode_set_ctime_to_ts(inode, now);
	spin_unlock(&mi->lock);
}

/*
 * Apply daemon attributes to a cached inode. @attr_version: value of
 * fc->attr_version when the request was sent (0: apply unconditionally);
 * an inode updated or invalidated since then keeps its attributes, and 1
 * says the reply was discarded. @flags: MQFUSE_ATTR_AUTH (see
 * mqfuse_kernel_owns_size()). Also clears S_NOSEC when the daemon's ctime
 * or suid/sgid bits changed: another client may have set suid/sgid or
 * security.capability (which changes ctime), which the next write must
 * look for (file_remove_privs()). Returns 0, 1 or -EIO.
 */
int mqfuse_attr_apply(struct inode *inode, struct fuse_attr *attr, u64 attr_valid,
		      u32 attr_valid_nsec, u64 attr_version, unsigned int flags)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	bool shrunk = false;
	umode_t mode_before;

	if (mqfuse_attr_check(fc, attr))
		return -EIO;
	if ((inode->i_mode ^ attr->mode) & S_IFMT) {
		mqfuse_bad_reply(fc, "node %llu changed type %o -> %o\n", mi->nodeid,
				 inode->i_mode & S_IFMT, attr->mode & S_IFMT);
		mqfuse_make_bad(inode);
		return -EIO;
	}

	spin_lock(&mi->lock);
	/*
	 * An AUTH reply is not discarded: its asker holds inode_lock with the
	 * dirty pages written back, and a reply applied meanwhile (a lookup's,
	 * a stat's) did not carry the size and times it is there for.
	 */
	if (attr_version && !(flags & MQFUSE_ATTR_AUTH) && mi->attr_version > attr_version) {
		spin_unlock(&mi->lock);
		return 1;
	}
	mi->attr_version = atomic64_inc_return(&fc->attr_version);
	mi->attr_expire = mqfuse_cons_timeout(fc, attr_valid, attr_valid_nsec);
	mi->attr_asked = attr_version ?: mi->attr_version;
	mode_before = inode->i_mode;
	inode->i_mode = (inode->i_mode & S_IFMT) | (attr->mode & 07777);
	set_nlink(inode, attr->nlink);
	inode->i_uid = make_kuid(fc->user_ns, attr->uid);
	inode->i_gid = make_kgid(fc->user_ns, attr->gid);
	inode->i_blocks = attr->blocks;
	inode_set_atime(inode, attr->atime, attr->atimensec);
	mi->blksize = attr->blksize;
	if (attr->ctime != mi->daemon_ctime.tv_sec || attr->ctimensec != mi->daemon_ctime.tv_nsec ||
	    ((inode->i_mode ^ mode_before) & (S_ISUID | S_ISGID))) {
		inode_set_flags(inode, 0, S_NOSEC);
		mi->daemon_ctime.tv_sec = attr->ctime;
		mi->daemon_ctime.tv_nsec = attr->ctimensec;
	}
	if (mqfuse_kernel_owns_size(inode, flags)) {
		spin_unlock(&mi->lock);
		return 0;
	}
	inode_set_mtime(inode, attr->mtime, attr->mtimensec);
	inode_set_ctime(inode, attr->ctime, attr->ctimensec);
	if (!test_bit(MQFUSE_I_SIZE_UNSTABLE, &mi->state)) {
		shrunk = S_ISREG(inode->i_mode) && attr->size < i_size_read(inode);
		i_size_write(inode, attr->size);
	}
	spin_unlock(&mi->lock);
	if (shrunk)
		mqfuse_truncate_past_eof(inode);
	return 0;
}

void mqfuse_init_inode_ops(struct inode *inode, u32 rdev)
{
	switch (inode->i_mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &mqfuse_file_iops;
		inode->i_fop = &mqfuse_file_fops;
		inode->i_data.a_ops = &mqfuse_aops;
		break;
	case S_IFDIR:
		inode->i_op = &mqfuse_dir_iops;
		inode->i_fop = &mqfuse_dir_fops;
		break;
	case S_IFLNK:
		inode->i_op = &mqfuse_symlink_iops;
		inode_nohighmem(inode);
		break;
	default:
		inode->i_op = &mqfuse_file_iops;
		init_special_inode(inode, inode->i_mode, new_decode_dev(rdev));
		break;
	}
}

static int mqfuse_inode_test(struct inode *inode, void *data)
{
	return MQFUSE_I(inode)->nodeid == *(u64 *)data;
}

static int mqfuse_inode_set(struct inode *inode, void *data)
{
	MQFUSE_I(inode)->nodeid = *(u64 *)data;
	return 0;
}

/*
 * The cached inode of @nodeid, referenced, or NULL. For notifications,
 * which run in a daemon thread: unlike ilookup5() this never waits for an
 * inode being evicted (I_FREEING), whose eviction may wait for writeback
 * only this thread can answer; such an inode is as good as gone. An inode
 * still being set up (I_NEW) is waited for: mqfuse_iget() sends nothing
 * to the daemon before unlock_new_inode().
 */
struct inode *mqfuse_ilookup(struct super_block *sb, u64 nodeid)
{
	struct inode *inode;

	rcu_read_lock();
	inode = find_inode_rcu(sb, (unsigned long)nodeid, mqfuse_inode_test, &nodeid);
	/* inodes are freed after a grace period; igrab() refuses a dying one */
	if (inode)
		inode = igrab(inode);
	rcu_read_unlock();
	if (!inode)
		return NULL;
	wait_on_inode(inode);
	if (inode_unhashed(inode)) {	/* a failed or replaced setup */
		mqfuse_iput_async(inode);
		return NULL;
	}
	return inode;
}

static void mqfuse_iput_work(struct work_struct *work)
{
	struct mqfuse_conn *fc = container_of(work, struct mqfuse_conn, iput_work);
	struct mqfuse_inode *mi, *next;
	struct llist_node *list;

	mqfuse_wbrel_run(fc);		/* deferred write back of released handles (file.c) */
	mqfuse_dput_run(fc);		/* deferred d_invalidate()s and dput()s (dir.c) */
	list = llist_del_all(&fc->iput_list);
	llist_for_each_entry_safe(mi, next, list, iput_node)
		iput(&mi->vfs_inode);
}

/*
 * Drop a reference taken in a daemon thread. The last one evicts the
 * inode (drop_inode is generic_delete_inode), and eviction waits for the
 * node's writeback, which may need this very thread: hand the last put
 * to a worker. At most one deferred put per inode is pending: it keeps
 * its reference until the worker runs, so no other holder sees the count
 * at one and defers too.
 */
void mqfuse_iput_async(struct inode *inode)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);

	if (atomic_add_unless(&inode->i_count, -1, 1))
		return;
	if (llist_add(&MQFUSE_I(inode)->iput_node, &fc->iput_list))
		queue_work(system_unbound_wq, &fc->iput_work);
}

/* Umount, after fc->sb is cleared (no new deferred puts): run those queued. */
void mqfuse_iput_flush(struct mqfuse_conn *fc)
{
	flush_work(&fc->iput_work);
}

void mqfuse_iput_init(struct mqfuse_conn *fc)
{
	init_llist_head(&fc->iput_list);
	init_llist_head(&fc->dput_list);
	init_llist_head(&fc->wbrel_list);
	INIT_WORK(&fc->iput_work, mqfuse_iput_work);
}

/*
 * Find or create the inode for @nodeid and count one lookup on it (the
 * daemon counted one when it answered). A cached inode whose type
 * differs is marked bad and replaced.
 */
struct inode *mqfuse_iget(struct super_block *sb, u64 nodeid, u64 generation,
			  struct fuse_attr *attr, u64 attr_valid, u32 attr_valid_nsec,
			  u64 attr_version)
{
	struct mqfuse_conn *fc = sb->s_fs_info;
	struct mqfuse_inode *mi;
	struct inode *inode;
	bool retried = false;

	if (mqfuse_attr_check(fc, attr))
		return ERR_PTR(-EIO);
retry:
	inode = iget5_locked(sb, (unsigned long)nodeid, mqfuse_inode_test,
			     mqfuse_inode_set, &nodeid);
	if (!inode)
		return ERR_PTR(-ENOMEM);
	mi = MQFUSE_I(inode);

	if (inode->i_state & I_NEW) {
		inode->i_mode = attr->mode & S_IFMT;
		inode->i_ino = attr->ino ? attr->ino : nodeid;
		inode->i_flags |= S_NOATIME | S_NOCMTIME;
		mi->generation = generation;
		mqfuse_init_inode_ops(inode, attr->rdev);
		/* a new inode takes them (its attr_version is 0), asked when they were */
		mqfuse_attr_apply(inode, attr, attr_valid, attr_valid_nsec, attr_version,
				  MQFUSE_ATTR_AUTH);
		mi->nlookup = 1;
		unlock_new_inode(inode);
		return inode;
	}

	if (((inode->i_mode ^ attr->mode) & S_IFMT) || mi->generation != generation) {
		if ((inode->i_mode ^ attr->mode) & S_IFMT)
			mqfuse_bad_reply(fc, "node %llu changed type %o -> %o\n", nodeid,
					 inode->i_mode & S_IFMT, attr->mode & S_IFMT);
		mqfuse_make_bad(inode);
		if (nodeid != FUSE_ROOT_ID && !retried) {
			remove_inode_hash(inode);
			iput(inode);
			retried = true;
			goto retry;
		}
		iput(inode);
		return ERR_PTR(-EIO);
	}
	spin_lock(&mi->lock);
	mi->nlookup++;
	spin_unlock(&mi->lock);
	mqfuse_attr_apply(inode, attr, attr_valid, attr_valid_nsec, attr_version, 0);
	return inode;
}

/* One GETATTR: 0, 1 if its reply was discarded (mqfuse_attr_apply()), or -errno. */
static int mqfuse_getattr_once(struct inode *inode, struct file *file,
			       unsigned int flags)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct fuse_getattr_in in = {};
	struct fuse_attr_out out = {};
	struct mqfuse_args args = {};
	u64 attr_version;
	int err;

	if (mqfuse_is_bad(inode))
		return -EIO;
	attr_version = atomic64_read(&fc->attr_version);
	if (file && S_ISREG(inode->i_mode) && file->private_data) {
		struct mqfuse_file *ff = file->private_data;

		in.getattr_flags |= FUSE_GETATTR_FH;
		in.fh = ff->fh;
	}
	mqfuse_args_init(&args, FUSE_GETATTR, mqfuse_nodeid(inode));
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	mqfuse_args_out(&args, 0, sizeof(out), &out);
	err = mqfuse_simple_request(fc, &args);
	if (err)
		return err;
	return mqfuse_attr_apply(inode, &out.attr, out.attr_valid, out.attr_valid_nsec,
				 attr_version, flags);
}

static bool mqfuse_attr_stale(struct inode *inode)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	bool stale;

	spin_lock(&mi->lock);
	stale = time_before_eq64(mi->attr_expire, get_jiffies_64()) ||
		mi->attr_asked < (u64)atomic64_read(&mqfuse_conn_of(inode)->epoch_version);
	spin_unlock(&mi->lock);
	return stale;
}

/*
 * Fetch attributes from the daemon (using @file's handle if given). A
 * reply overtaken by an invalidation (notify, our own change) carries
 * attributes from before it and is discarded (or a newer reply was
 * applied meanwhile: then they are not stale); the callers that rely on
 * fresh ones (open's cache check, O_APPEND, SEEK_END) then ask again, a
 * bounded number of times: a daemon that keeps invalidating cannot hold
 * them here. @flags: MQFUSE_ATTR_AUTH, for a caller that holds inode_lock
 * and wrote every dirty page back (mqfuse_kernel_owns_size()).
 */
int mqfuse_do_getattr_flags(struct inode *inode, struct file *file, unsigned int flags)
{
	int tries = 3;
	int err;

	if (flags & MQFUSE_ATTR_AUTH)
		lockdep_assert_held(&inode->i_rwsem);
	do {
		err = mqfuse_getattr_once(inode, file, flags);
	} while (err == 1 && mqfuse_attr_stale(inode) && --tries);
	return err == 1 ? 0 : err;
}

int mqfuse_do_getattr(struct inode *inode, struct file *file)
{
	return mqfuse_do_getattr_flags(inode, file, 0);
}

int mqfuse_update_attr_if_stale(struct inode *inode, struct file *file)
{
	if (!mqfuse_attr_stale(inode))
		return 0;
	return mqfuse_do_getattr(inode, file);
}

int mqfuse_getattr(struct mnt_idmap *idmap, const struct path *path,
		   struct kstat *stat, u32 request_mask, unsigned int flags)
{
	struct inode *inode = d_inode(path->dentry);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	int sync = flags & AT_STATX_SYNC_TYPE;
	int err = 0;

	if (mqfuse_is_bad(inode))
		return -EIO;
	if (!mqfuse_allow_current(fc)) {
		if (!request_mask) {
			/* statx(...mask 0) on the mountpoint by others: fake it */
			stat->result_mask = 0;
			stat->dev = inode->i_sb->s_dev;
			return 0;
		}
		return -EACCES;
	}
	/* a stat of a child: "ls -l" in progress; see mqfuse_readdir() */
	if (fc->readdirplus_auto && !IS_ROOT(path->dentry)) {
		struct inode *dir;

		/* inodes are freed after a grace period: no reference needed */
		rcu_read_lock();
		dir = d_inode_rcu(READ_ONCE(path->dentry->d_parent));
		if (dir)
			mqfuse_advise_readdirplus(dir);
		rcu_read_unlock();
	}
	if (sync == AT_STATX_FORCE_SYNC ||
	    (sync != AT_STATX_DONT_SYNC && mqfuse_attr_stale(inode)))
		err = mqfuse_do_getattr(inode, NULL);
	if (err)
		return err;
	generic_fillattr(&nop_mnt_idmap, request_mask, inode, stat);
	spin_lock(&MQFUSE_I(inode)->lock);
	if (MQFUSE_I(inode)->blksize)
		stat->blksize = MQFUSE_I(inode)->blksize;
	else if (fc->opts.blksize)
		stat->blksize = fc->opts.blksize;
	spin_unlock(&MQFUSE_I(inode)->lock);
	return 0;
}

int mqfuse_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
		   struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct file *file = (attr->ia_valid & ATTR_FILE) ? attr->ia_file : NULL;
	unsigned int iv;
	struct fuse_setattr_in in = {};
	struct fuse_attr_out out = {};
	struct mqfuse_args args = {};
	bool truncate, kill_mode;
	loff_t oldsize;
	u64 asked;
	int err;

	if (mqfuse_is_bad(inode))
		return -EIO;
	if (!mqfuse_allow_current(fc))
		return -EACCES;
	/*
	 * notify_change() turned KILL_SUID/SGID into ATTR_MODE where needed
	 * (it never gets ATTR_MODE together with them). With
	 * FUSE_HANDLE_KILLPRIV_V2 the daemon kills the bits itself along with
	 * a truncate (FATTR_KILL_SUIDGID below) or a chown, so that mode is
	 * not sent. Alone (file_remove_privs() of fallocate and
	 * copy_file_range, which carry no kill flag) it still is.
	 */
	kill_mode = (attr->ia_valid & (ATTR_KILL_SUID | ATTR_KILL_SGID)) &&
		    (attr->ia_valid & ATTR_MODE);
	if (kill_mode && fc->handle_killpriv_v2 &&
	    (attr->ia_valid & (ATTR_SIZE | ATTR_UID | ATTR_GID)) &&
	    attr->ia_mode == mqfuse_mode_suidgid_killed(inode->i_mode)) {
		attr->ia_valid &= ~ATTR_MODE;
		kill_mode = false;
	}
	/*
	 * Otherwise (the VFS also drops S_ISGID without group execute for a
	 * writer outside the file's group, which the daemon cannot judge)
	 * the mode goes out as computed.
	 */
	attr->ia_valid &= ~(ATTR_KILL_SUID | ATTR_KILL_SGID | ATTR_KILL_PRIV);
	if (!fc->opts.default_permissions)
		attr->ia_valid |= ATTR_FORCE;
	err = setattr_prepare(&nop_mnt_idmap, dentry, attr);
	if (err)
		return err;

	if (attr->ia_valid & ATTR_OPEN) {
		struct mqfuse_file *ff = file ? file->private_data : NULL;

		/*
		 * open(O_TRUNC): the OPEN truncated if one was sent
		 * (atomic_o_trunc), and mqfuse_open_common() cut the size and
		 * the pages then, under inode_lock. Not again here: a write
		 * since (inode_lock was dropped in between) is past the
		 * truncation, and in cto-wb its dirty pages are its only copy.
		 */
		if (ff && ff->open_truncated) {
			if (!kill_mode)
				return 0;
			/*
			 * Only the suid/sgid kill the VFS asks for after the
			 * truncation (the caller lacks CAP_FSETID), which a
			 * daemon without FUSE_HANDLE_KILLPRIV_V2 did not do.
			 */
			attr->ia_valid &= ATTR_MODE | ATTR_FILE | ATTR_FORCE;
		}
	}
	iv = attr->ia_valid;
	truncate = iv & ATTR_SIZE;
	/*
	 * cto-wb: dirty pages reach the daemon first, or their WRITEs would
	 * follow the SETATTR and give the file a new mtime (and the reply's
	 * size would be older than ours).
	 */
	if (!truncate && fc->cons->writeback && S_ISREG(inode->i_mode)) {
		/*
		 * An error of an earlier writeback is not this call's: fsync
		 * and close report it (errseq). This one's fails it.
		 */
		err = filemap_fdatawrite(inode->i_mapping);
		filemap_fdatawait_keep_errors(inode->i_mapping);
		if (err)
			return err;
	}
	if (truncate) {
		err = filemap_write_and_wait(inode->i_mapping);
		if (err)
			return err;
		/* pages dirtied through mmap from now on wait for the new size */
		mqfuse_nowrite_begin(inode);
		set_bit(MQFUSE_I_SIZE_UNSTABLE, &mi->state);
	}

	if (iv & ATTR_MODE) {
		in.valid |= FATTR_MODE;
		in.mode = attr->ia_mode;
	}
	if (iv & ATTR_UID) {
		in.valid |= FATTR_UID;
		in.uid = from_kuid(fc->user_ns, attr->ia_uid);
	}
	if (iv & ATTR_GID) {
		in.valid |= FATTR_GID;
		in.gid = from_kgid(fc->user_ns, attr->ia_gid);
	}
	/* a chown kills set-id bits whoever makes it (chown_common()) */
	if ((iv & (ATTR_UID | ATTR_GID)) && !S_ISDIR(inode->i_mode) &&
	    fc->handle_killpriv_v2)
		in.valid |= FATTR_KILL_SUIDGID;
	if (truncate) {
		in.valid |= FATTR_SIZE;
		in.size = attr->ia_size;
		if (mqfuse_kill_suidgid_caller(fc))
			in.valid |= FATTR_KILL_SUIDGID;
	}
	if (iv & ATTR_ATIME) {
		in.valid |= FATTR_ATIME;
		in.atime = attr->ia_atime.tv_sec;
		in.atimensec = attr->ia_atime.tv_nsec;
		if (!(iv & ATTR_ATIME_SET))
			in.valid |= FATTR_ATIME_NOW;
	}
	/*
	 * ftruncate() and open(O_TRUNC) ask for "mtime now" beside the size;
	 * the daemon's own truncation through its handle sets it, and a
	 * separate FATTR_MTIME_NOW reads as an explicit time change, which
	 * needs ownership: a writer who does not own the file would get
	 * EPERM (mqfused: futimens as the caller). FUSE sends none either.
	 */
	if (truncate && (iv & (ATTR_FILE | ATTR_OPEN)) && !(iv & ATTR_MTIME_SET))
		iv &= ~ATTR_MTIME;
	if (iv & ATTR_MTIME) {
		in.valid |= FATTR_MTIME;
		in.mtime = attr->ia_mtime.tv_sec;
		in.mtimensec = attr->ia_mtime.tv_nsec;
		if (!(iv & ATTR_MTIME_SET))
			in.valid |= FATTR_MTIME_NOW;
	}
	if (file && file->private_data && S_ISREG(inode->i_mode)) {
		struct mqfuse_file *ff = file->private_data;

		in.valid |= FATTR_FH;
		in.fh = ff->fh;
		if (truncate) {
			in.valid |= FATTR_LOCKOWNER;
			in.lock_owner = mqfuse_lock_owner_id(fc, current->files);
		}
	}

	mqfuse_args_init(&args, FUSE_SETATTR, mi->nodeid);
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	mqfuse_args_out(&args, 0, sizeof(out), &out);
	asked = atomic64_read(&fc->attr_version);
	err = mqfuse_simple_request(fc, &args);
	if (truncate)
		clear_bit(MQFUSE_I_SIZE_UNSTABLE, &mi->state);
	if (err) {
		mqfuse_invalidate_attr(inode);
		goto out;
	}
	oldsize = i_size_read(inode);
	/* under inode_lock, dirty pages written back first in cto-wb */
	err = mqfuse_attr_apply(inode, &out.attr, out.attr_valid, out.attr_valid_nsec, 0,
				MQFUSE_ATTR_AUTH);
	if (err)
		goto out;
	/* applied whatever came meanwhile, but an epoch since it was asked counts */
	spin_lock(&mi->lock);
	mi->attr_asked = asked;
	spin_unlock(&mi->lock);
	if (truncate) {
		loff_t newsize = i_size_read(inode);

		set_bit(MQFUSE_I_SELF_CHANGED, &mi->state);
		if (newsize != oldsize || newsize != attr->ia_size)
			truncate_pagecache(inode, newsize);
		else
			truncate_pagecache(inode, attr->ia_size);
	}
out:
	if (truncate)
		mqfuse_nowrite_end(inode);
	return err;
}

static int mqfuse_access(struct inode *inode, int mask)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct fuse_access_in in = {};
	struct mqfuse_args args = {};
	int err;

	if (READ_ONCE(fc->no_access))
		return 0;
	in.mask = mask & (MAY_READ | MAY_WRITE | MAY_EXEC);
	mqfuse_args_init(&args, FUSE_ACCESS, mqfuse_nodeid(inode));
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	err = mqfuse_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_access, true);
		err = 0;
	}
	return err;
}

int mqfuse_permission(struct mnt_idmap *idmap, struct inode *inode, int mask)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	int err;

	if (mqfuse_is_bad(inode))
		return -EIO;
	if (!mqfuse_allow_current(fc))
		return -EACCES;

	if (fc->opts.default_permissions) {
		if (mqfuse_attr_stale(inode)) {
			if (mask & MAY_NOT_BLOCK)
				return -ECHILD;
			err = mqfuse_do_getattr(inode, NULL);
			if (err)
				return err;
		}
		return generic_permission(&nop_mnt_idmap, inode, mask);
	}
	if (mask & (MAY_ACCESS | MAY_CHDIR)) {
		if (mask & MAY_NOT_BLOCK)
			return -ECHILD;
		return mqfuse_access(inode, mask);
	}
	if ((mask & MAY_EXEC) && S_ISREG(inode->i_mode) && !(inode->i_mode & 0111))
		return -EACCES;
	return 0;
}
