// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: consistency modes (mount option consistency=, module parameter
 * for the default). Each mode is a const ops table; a NULL slot means the
 * mode is not implemented yet and mount rejects it.
 *
 * cto (close-to-open): file data is cached in the page cache; open asks
 * the daemon for fresh attributes and drops cached pages if mtime, ctime
 * or size changed since the cache was last validated; close writes back
 * dirty data, waits, and after our own changes records the attributes
 * they produced. write(2) is write-through (no writeback cache).
 */
#include "mqfuse_i.h"
#include <linux/pagemap.h>

static bool mqfuse_stamp_equal(const struct mqfuse_data_stamp *s, struct inode *inode)
{
	struct timespec64 mtime = inode_get_mtime(inode);
	struct timespec64 ctime = inode_get_ctime(inode);

	return s->valid && timespec64_equal(&s->mtime, &mtime) &&
	       timespec64_equal(&s->ctime, &ctime) &&
	       s->size == i_size_read(inode);
}

/* Record the attributes just fetched as what the page cache matches. */
static void mqfuse_stamp_take(struct mqfuse_inode *mi, struct inode *inode)
{
	lockdep_assert_held(&mi->lock);
	mi->stamp.mtime = inode_get_mtime(inode);
	mi->stamp.ctime = inode_get_ctime(inode);
	mi->stamp.size = i_size_read(inode);
	mi->stamp.valid = true;
}

/*
 * Validate the page cache against the attributes just fetched. The cache
 * is kept only if the daemon's file is exactly what it was when the stamp
 * was taken: at the last open, or after this client's own writes were
 * flushed (mqfuse_cto_flush). Our own writes not yet stamped
 * (MQFUSE_I_SELF_CHANGED) cannot tell our changes from another client's,
 * so they drop the cache too: keeping it would hide the other client's.
 */
static int mqfuse_cto_revalidate_data(struct inode *inode)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	bool self, drop;

	self = test_and_clear_bit(MQFUSE_I_SELF_CHANGED, &mi->state);
	spin_lock(&mi->lock);
	drop = mi->stamp.valid && (self || !mqfuse_stamp_equal(&mi->stamp, inode));
	drop |= test_and_clear_bit(MQFUSE_I_DATA_STALE, &mi->state);
	mqfuse_stamp_take(mi, inode);
	spin_unlock(&mi->lock);

	if (!drop || !inode->i_mapping->nrpages)
		return 0;
	filemap_write_and_wait(inode->i_mapping);
	return invalidate_inode_pages2(inode->i_mapping);
}

static int mqfuse_cto_open(struct inode *inode, struct file *file)
{
	int err;

	if (!S_ISREG(inode->i_mode))
		return 0;
	err = mqfuse_do_getattr(inode, file);
	if (err)
		return err;
	/* Busy pages (mapped elsewhere) only fail the drop, not the open. */
	mqfuse_cto_revalidate_data(inode);
	return 0;
}

/*
 * Close: write back and wait; if this client changed the file, stamp the
 * page cache with the attributes the daemon reports now, i.e. those our
 * writes produced. A change by another client after this point shows as
 * a mismatch at the next open. (One between our last write and this
 * GETATTR is indistinguishable from ours without server change counters.)
 */
static int mqfuse_cto_flush(struct inode *inode, struct file *file)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	int err;

	err = filemap_write_and_wait(inode->i_mapping);
	if (err || !S_ISREG(inode->i_mode) ||
	    !test_and_clear_bit(MQFUSE_I_SELF_CHANGED, &mi->state))
		return err;
	/* attributes cached before our writes must not be stamped */
	mqfuse_invalidate_attr(inode);
	if (mqfuse_do_getattr(inode, file)) {
		set_bit(MQFUSE_I_SELF_CHANGED, &mi->state);	/* drop at next open */
		return 0;
	}
	spin_lock(&mi->lock);
	mqfuse_stamp_take(mi, inode);
	spin_unlock(&mi->lock);
	return 0;
}

static const struct mqfuse_cons_ops mqfuse_cons_cto = {
	.name		= "cto",
	.page_cache	= true,
	.open		= mqfuse_cto_open,
	.flush		= mqfuse_cto_flush,
};

static const struct mqfuse_cons_ops *const mqfuse_cons_table[MQFUSE_CONS_NR] = {
	[MQFUSE_CONS_CTO]	= &mqfuse_cons_cto,
	/* strict, cto-wb, relaxed, immutable: later issues */
};

const struct mqfuse_cons_ops *mqfuse_cons_lookup(unsigned int mode)
{
	return mode < MQFUSE_CONS_NR ? mqfuse_cons_table[mode] : NULL;
}
