// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: consistency modes (mount option consistency=, module parameter
 * for the default). Each mode is a const ops table; a NULL slot means the
 * mode is not implemented yet and mount rejects it. The guarantee of each
 * mode, and the test that shows it, is in Documentation/consistency.rst.
 *
 * strict: nothing is cached for read(2)/write(2), stat or name lookup:
 * every such call asks the daemon (attribute and entry TTLs are 0). The
 * page cache serves only mmap; open fetches the attributes (the size a
 * map gets) and writes back and drops the pages earlier maps left, ->mmap
 * drops the clean idle ones left since; dirty pages go back at
 * msync/munmap/close, and read/write of the file write them back first
 * (mqfuse_direct_io), a write dropping the pages it overwrote.
 *
 * cto (close-to-open): file data is cached in the page cache; open asks
 * the daemon for fresh attributes and drops cached pages if mtime, ctime
 * or size changed since the cache was last validated; close writes back
 * dirty data, waits, and after our own changes records the attributes
 * they produced. write(2) is write-through (no writeback cache).
 *
 * relaxed: classic FUSE. Data, attributes and names are cached for the
 * daemon's TTLs; open checks the data against the cached attributes and
 * asks the daemon for fresh ones only once they expired; close writes
 * back like cto's.
 *
 * immutable: for datasets that change only when their owner says so.
 * Data, attributes and names are cached until the daemon invalidates
 * them (FUSE_NOTIFY_INVAL_INODE / _INVAL_ENTRY for one object,
 * FUSE_NOTIFY_INC_EPOCH for all: mqfused sends it on SIGHUP), whatever
 * timeouts the daemon gives; open and close are relaxed's, so after an
 * invalidation the next open fetches the attributes and drops pages whose
 * file changed. Writes still work and are seen by this client.
 *
 * cto-wb: cto plus a writeback cache. write(2) dirties pages
 * (mqfuse_perform_write_wb) and returns; writeback batches contiguous
 * dirty pages into WRITEs of up to max_pages / max_write (8 MiB). The
 * kernel owns a file's size and times between opens (inode.c,
 * mqfuse_kernel_owns_size()); open and close write back, wait, and take
 * the daemon's under inode_lock, so the next open elsewhere sees it all.
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
 * Write back and drop every cached page of @inode, mapped ones included
 * (they fault in afresh). The drop is tried even if the write back failed
 * (invalidation launders what is still dirty); a page it cannot drop (a
 * dirty page whose write back failed again, one a truncate holds) fails
 * it. A failed write back stays recorded in the mapping
 * (fdatawait_keep_errors), so fsync and close on any file of the inode
 * still report it.
 */
static int mqfuse_cons_drop_pages(struct inode *inode)
{
	struct address_space *mapping = inode->i_mapping;
	int err, ierr;

	if (!mapping->nrpages)
		return 0;
	err = filemap_fdatawrite(mapping);
	filemap_fdatawait_keep_errors(mapping);
	ierr = invalidate_inode_pages2(mapping);
	return err ?: ierr;
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
	int err;

	self = test_and_clear_bit(MQFUSE_I_SELF_CHANGED, &mi->state);
	spin_lock(&mi->lock);
	drop = mi->stamp.valid && (self || !mqfuse_stamp_equal(&mi->stamp, inode));
	drop |= test_and_clear_bit(MQFUSE_I_DATA_STALE, &mi->state);
	mqfuse_stamp_take(mi, inode);
	spin_unlock(&mi->lock);

	if (!drop)
		return 0;
	err = mqfuse_cons_drop_pages(inode);
	/* the stamp now matches: without this, the old pages would stay valid */
	if (err)
		set_bit(MQFUSE_I_DATA_STALE, &mi->state);
	return err;
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
/*
 * Close's write back and wait. Its error is the one the writeback of this
 * file's inode met since this open file was opened or last reported one
 * (errseq, as fsync): every open file sees it once, whichever writeback
 * met it, and an old one is not reported to a file opened after it.
 */
static int mqfuse_cons_flush_data(struct inode *inode, struct file *file)
{
	int err;

	err = filemap_fdatawrite(inode->i_mapping);
	filemap_fdatawait_keep_errors(inode->i_mapping);
	/* also clears the legacy AS_EIO/AS_ENOSPC: wb_err says it here */
	return file_check_and_advance_wb_err(file) ?: err;
}

static int mqfuse_cto_flush(struct inode *inode, struct file *file)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	int err;

	err = mqfuse_cons_flush_data(inode, file);
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
	.read_stales_attr = true,
	.ttl		= MQFUSE_TTL_DAEMON,
	.open		= mqfuse_cto_open,
	.flush		= mqfuse_cto_flush,
};

/*
 * strict open: read(2) and write(2) bypass the page cache, but pages of
 * an earlier mmap may be left; a map set up through this file must not
 * start from them. The attributes are fetched here, not in ->mmap (which
 * runs under mmap_lock and must not wait for the daemon): a map set up
 * through this file gets the size the daemon reported at its open.
 */
static int mqfuse_strict_open(struct inode *inode, struct file *file)
{
	int err;

	if (!S_ISREG(inode->i_mode))
		return 0;
	err = mqfuse_do_getattr(inode, file);
	if (err)
		return err;
	/* Busy pages (mapped elsewhere) only fail the drop, not the open. */
	mqfuse_cons_drop_pages(inode);
	return 0;
}

/*
 * strict mmap: pages a map of this file left since the open would serve
 * the new map old data; drop the clean, unmapped, idle ones of the range
 * mapped (not the whole file: this runs under mmap_lock, for every ELF
 * segment too). Runs under
 * mmap_lock: nothing here waits for the daemon (no GETATTR, no write
 * back), so mmap(2) never fails with a daemon error. Pages still mapped
 * by another map of this client are shared with it, as in every mode.
 */
static int mqfuse_strict_mmap(struct inode *inode, struct file *file,
			      struct vm_area_struct *vma)
{
	invalidate_mapping_pages(inode->i_mapping, vma->vm_pgoff,
				 vma->vm_pgoff + vma_pages(vma) - 1);
	return 0;
}

/* strict close: dirty pages of shared maps reach the daemon before close returns. */
static int mqfuse_strict_flush(struct inode *inode, struct file *file)
{
	return mqfuse_cons_flush_data(inode, file);
}

static const struct mqfuse_cons_ops mqfuse_cons_strict = {
	.name		= "strict",
	.page_cache	= false,
	.ttl		= MQFUSE_TTL_NONE,
	.open		= mqfuse_strict_open,
	.flush		= mqfuse_strict_flush,
	.mmap		= mqfuse_strict_mmap,
};

/*
 * relaxed open: the cache is checked like cto's (pages dropped if mtime,
 * ctime or size changed since it was validated, or this client wrote
 * meanwhile without stamping it at close), but against the cached
 * attributes while they are within their TTL: no GETATTR unless they
 * expired. A lookup that refreshed them on the way here counts as such a
 * refresh.
 */
static int mqfuse_relaxed_open(struct inode *inode, struct file *file)
{
	if (!S_ISREG(inode->i_mode))
		return 0;
	/*
	 * Like stock FUSE, the open does not fail because the daemon could
	 * not give attributes (a procfs-like file): the cache is then not
	 * trusted, the next open drops it.
	 */
	if (mqfuse_update_attr_if_stale(inode, file)) {
		set_bit(MQFUSE_I_DATA_STALE, &MQFUSE_I(inode)->state);
		return 0;
	}
	mqfuse_cto_revalidate_data(inode);
	return 0;
}

/*
 * relaxed close is cto's, as stock FUSE's flush writes the inode back:
 * dirty pages (stores through shared maps) reach the daemon and a failed
 * write back is close's error; after our own changes the cache is stamped
 * so they do not drop it at the next open.
 */
static const struct mqfuse_cons_ops mqfuse_cons_relaxed = {
	.name		= "relaxed",
	.page_cache	= true,
	.ttl		= MQFUSE_TTL_DAEMON,
	.open		= mqfuse_relaxed_open,
	.flush		= mqfuse_cto_flush,
};

/*
 * cto-wb open: as cto's, but the size and times the kernel owned since
 * the last open or close (mqfuse_kernel_owns_size()) are given back to
 * the daemon's: under inode_lock (no write(2), truncate or fallocate can
 * run), our dirty pages are written back first, so a smaller size in the
 * reply is another client's truncate, not data the daemon has not seen.
 * A failed write back is still reported by fsync and close (errseq); the
 * daemon's attributes are taken all the same: its file is the file.
 */
static int mqfuse_ctowb_sync_attrs(struct inode *inode, struct file *file)
{
	struct address_space *mapping = inode->i_mapping;

	lockdep_assert_held(&inode->i_rwsem);
	filemap_fdatawrite(mapping);
	filemap_fdatawait_keep_errors(mapping);
	return mqfuse_do_getattr_flags(inode, file, MQFUSE_ATTR_AUTH);
}

static int mqfuse_ctowb_open(struct inode *inode, struct file *file)
{
	int err;

	if (!S_ISREG(inode->i_mode))
		return 0;
	/* killable: the holder may be a writer waiting for a silent daemon */
	if (down_write_killable(&inode->i_rwsem))	/* inode_lock_killable() */
		return -EINTR;
	err = mqfuse_ctowb_sync_attrs(inode, file);
	/* Busy pages (mapped elsewhere) only fail the drop, not the open. */
	if (!err)
		mqfuse_cto_revalidate_data(inode);
	inode_unlock(inode);
	return err;
}

/*
 * cto-wb close: write back and wait (errors as cto's); after our own
 * changes, take the daemon's size and times under inode_lock, as open
 * does, and stamp the cache with them, so that our next open keeps it and
 * stat after close shows what other clients see. Killed meanwhile: the
 * next open drops the cache instead.
 */
static int mqfuse_ctowb_flush(struct inode *inode, struct file *file)
{
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	int err;

	err = mqfuse_cons_flush_data(inode, file);
	if (err || !S_ISREG(inode->i_mode) ||
	    !test_and_clear_bit(MQFUSE_I_SELF_CHANGED, &mi->state))
		return err;
	if (down_write_killable(&inode->i_rwsem)) {	/* inode_lock_killable() */
		set_bit(MQFUSE_I_SELF_CHANGED, &mi->state);
		return 0;
	}
	mqfuse_invalidate_attr(inode);
	if (mqfuse_ctowb_sync_attrs(inode, file) ||
	    test_bit(MQFUSE_I_SELF_CHANGED, &mi->state)) {
		/* failed, or written to again meanwhile: drop at next open */
		set_bit(MQFUSE_I_SELF_CHANGED, &mi->state);
	} else {
		spin_lock(&mi->lock);
		mqfuse_stamp_take(mi, inode);
		spin_unlock(&mi->lock);
	}
	inode_unlock(inode);
	return 0;
}

static const struct mqfuse_cons_ops mqfuse_cons_cto_wb = {
	.name		= "cto-wb",
	.page_cache	= true,
	.read_stales_attr = true,
	.ttl		= MQFUSE_TTL_DAEMON,
	.writeback	= true,
	.open		= mqfuse_ctowb_open,
	.flush		= mqfuse_ctowb_flush,
};

static const struct mqfuse_cons_ops mqfuse_cons_immutable = {
	.name		= "immutable",
	.page_cache	= true,
	.ttl		= MQFUSE_TTL_FOREVER,
	.open		= mqfuse_relaxed_open,
	.flush		= mqfuse_cto_flush,
};

static const struct mqfuse_cons_ops *const mqfuse_cons_table[MQFUSE_CONS_NR] = {
	[MQFUSE_CONS_STRICT]	= &mqfuse_cons_strict,
	[MQFUSE_CONS_CTO]	= &mqfuse_cons_cto,
	[MQFUSE_CONS_RELAXED]	= &mqfuse_cons_relaxed,
	[MQFUSE_CONS_CTO_WB]	= &mqfuse_cons_cto_wb,
	[MQFUSE_CONS_IMMUTABLE]	= &mqfuse_cons_immutable,
};

/*
 * The flags OPEN and CREATE send for a file opened with @flags. cto-wb
 * (as stock FUSE's writeback cache): the kernel reads the rest of a page
 * written in part through the writer's handle, so a write-only open is
 * made read-write at the daemon (a file its opener may write but not read
 * then fails to open with EACCES); and the kernel places appends itself
 * at its own end of file (dirty pages may lie past the daemon's), so the
 * daemon must not append: O_APPEND is not passed.
 */
u32 mqfuse_cons_open_flags(struct mqfuse_conn *fc, u32 flags)
{
	if (!fc->cons->writeback)
		return flags;
	if ((flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags & ~O_APPEND;
}

const struct mqfuse_cons_ops *mqfuse_cons_lookup(unsigned int mode)
{
	return mode < MQFUSE_CONS_NR ? mqfuse_cons_table[mode] : NULL;
}

/*
 * The jiffies64 deadline for attributes or a name the daemon declared
 * valid for @sec.@nsec, as this mount's mode overrides it.
 */
u64 mqfuse_cons_timeout(struct mqfuse_conn *fc, u64 sec, u32 nsec)
{
	switch (fc->cons->ttl) {
	case MQFUSE_TTL_NONE:
		return 0;
	case MQFUSE_TTL_FOREVER:
		/* the longest timeout jiffies can hold: far past any uptime */
		return mqfuse_timeout(U64_MAX, 0);
	case MQFUSE_TTL_DAEMON:
		break;
	}
	return mqfuse_timeout(sec, nsec);
}
