// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: consistency modes (mount option consistency=, module parameter
 * for the default). Each mode is a const ops table; a NULL slot means the
 * mode is not implemented yet and mount rejects it.
 *
 * cto (close-to-open): file data is cached in the page cache; open asks
 * the daemon for fresh attributes and drops cached pages if mtime, ctime
 * or size changed since the cache was last validated; close writes back
 * dirty data and waits. write(2) is write-through (no writeback cache).
 */
#include "mqfuse_i.h"
#include <linux/pagemap.h>

static bool mqfuse_stamp_equal(const struct mqfuse_data_stamp *s, struct inode *inode)
{
	return s->valid && timespec64_equal(&s->mtime, &inode->i_mtime) &&
	       timespec64_equal(&s->ctime, &inode->i_ctime) &&
	       s->size == i_size_read(inode);
}

/*
 * Validate the page cache against the attributes just fetched. Changes we
 * made ourselves (MQFUSE_I_SELF_CHANGED) do not drop the cache.
 */
static int mqfuse_cto_revalidate_data(struct inode *inode)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	bool self, drop;

	self = test_and_clear_bit(MQFUSE_I_SELF_CHANGED, &mi->state);
	spin_lock(&mi->lock);
	drop = !self && mi->stamp.valid && !mqfuse_stamp_equal(&mi->stamp, inode);
	mi->stamp.mtime = inode->i_mtime;
	mi->stamp.ctime = inode->i_ctime;
	mi->stamp.size = i_size_read(inode);
	mi->stamp.valid = true;
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

static int mqfuse_cto_flush(struct inode *inode, struct file *file)
{
	return filemap_write_and_wait(inode->i_mapping);
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
