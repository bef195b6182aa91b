// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: data path — page cache reads (read_folio, readahead batched
 * into READs of up to max_pages), write-through writes, writeback of
 * mmap-dirtied pages (contiguous pages batched into WRITEs of up to
 * max_pages), mmap faults. Direct I/O is in dio.c.
 *
 * All large I/O uses one page vector per request (struct mqfuse_io), so a
 * request moves up to max_pages (2048 = 8 MiB) without extra copies.
 */
#include "mqfuse_i.h"
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/writeback.h>

struct mqfuse_io *mqfuse_io_alloc(unsigned int npages, gfp_t gfp)
{
	struct mqfuse_io *io;
	size_t size = sizeof(*io) + npages * (sizeof(struct page *) +
					      sizeof(struct mqfuse_page_desc));

	io = kvzalloc(size, gfp);
	if (!io)
		return NULL;
	io->max_pages = npages;
	io->pages = (struct page **)(io + 1);
	io->descs = (struct mqfuse_page_desc *)(io->pages + npages);
	return io;
}

void mqfuse_io_free(struct mqfuse_io *io)
{
	if (io->ff)
		mqfuse_file_put(io->ff);
	kvfree(io);
}

/* Allocate for up to @npages, shrinking the batch under memory pressure. */
struct mqfuse_io *mqfuse_io_alloc_best(unsigned int npages, gfp_t gfp)
{
	struct mqfuse_io *io;

	for (;;) {
		io = mqfuse_io_alloc(npages, gfp | (npages > 1 ? __GFP_NOWARN : 0));
		if (io || npages == 1)
			return io;
		npages = max(npages / 4, 1U);
	}
}

void mqfuse_io_read_args(struct mqfuse_io *io, struct mqfuse_file *ff,
				loff_t pos, size_t count, u32 flags)
{
	io->in.read.fh = ff->fh;
	io->in.read.offset = pos;
	io->in.read.size = count;
	io->in.read.flags = flags;
	mqfuse_args_init(&io->args, FUSE_READ, ff->nodeid);
	mqfuse_args_in(&io->args, 0, sizeof(io->in.read), &io->in.read);
	io->args.out_numargs = 1;
	io->args.out_argvar = true;
	io->args.out_pages = true;
	io->args.out_args[0].size = count;
	io->args.pages = io->pages;
	io->args.descs = io->descs;
	io->args.num_pages = io->nr;
}

void mqfuse_io_write_args(struct mqfuse_io *io, struct mqfuse_file *ff,
				 loff_t pos, size_t count, u32 write_flags, u32 flags)
{
	io->in.write.fh = ff->fh;
	io->in.write.offset = pos;
	io->in.write.size = count;
	io->in.write.write_flags = write_flags;
	io->in.write.flags = flags;
	mqfuse_args_init(&io->args, FUSE_WRITE, ff->nodeid);
	mqfuse_args_in(&io->args, 0, sizeof(io->in.write), &io->in.write);
	io->args.in_numargs = 2;	/* in_args[1] is the page vector */
	io->args.in_args[1].size = count;
	io->args.in_pages = true;
	mqfuse_args_out(&io->args, 0, sizeof(io->wout), &io->wout);
	io->args.pages = io->pages;
	io->args.descs = io->descs;
	io->args.num_pages = io->nr;
}

/* A handle to read with when the VFS gave us no file. */
static struct mqfuse_file *mqfuse_read_file_get(struct inode *inode, struct file *file)
{
	if (file && file->private_data)
		return mqfuse_file_get(file->private_data);
	return mqfuse_write_file_get(inode);
}

/* ---- reads ---- */

int mqfuse_read_page_sync(struct file *file, struct page *page)
{
	struct inode *inode = page->mapping->host;
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_io *io;
	ssize_t n;

	if (mqfuse_is_bad(inode))
		return -EIO;
	io = mqfuse_io_alloc(1, GFP_KERNEL);
	if (!io)
		return -ENOMEM;
	io->ff = mqfuse_read_file_get(inode, file);
	if (!io->ff) {
		mqfuse_io_free(io);
		return -EBADF;
	}
	io->pages[0] = page;
	io->descs[0].offset = 0;
	io->descs[0].length = PAGE_SIZE;
	io->nr = 1;
	mqfuse_io_read_args(io, io->ff, page_offset(page), PAGE_SIZE,
			    file ? file->f_flags : 0);
	n = mqfuse_simple_request(fc, &io->args);
	mqfuse_io_free(io);
	if (n < 0)
		return n;
	if (n > PAGE_SIZE) {
		mqfuse_bad_reply(fc, "READ of %lu answered %zd\n", PAGE_SIZE, n);
		return -EIO;
	}
	/* only bytes the daemon sent become page contents */
	if (n < PAGE_SIZE)
		zero_user_segment(page, n, PAGE_SIZE);
	SetPageUptodate(page);
	return 0;
}

static int mqfuse_read_folio(struct file *file, struct folio *folio)
{
	int err = mqfuse_read_page_sync(file, &folio->page);

	folio_unlock(folio);
	return err;
}

static void mqfuse_readahead_end(struct mqfuse_conn *fc, struct mqfuse_args *args,
				 int error)
{
	struct mqfuse_io *io = container_of(args, struct mqfuse_io, args);
	size_t got = error ? 0 : args->out_args[0].size;
	unsigned int i;

	/*
	 * @got is what the reply carried (the request layer shrinks the
	 * variable out arg to it), never more than was asked for; the rest
	 * of the pages is zeroed, not left with what they held before.
	 */
	if (got > io->in.read.size) {
		mqfuse_bad_reply(fc, "READ of %u answered %zu\n", io->in.read.size, got);
		error = -EIO;
	}
	for (i = 0; i < io->nr; i++) {
		struct page *page = io->pages[i];
		size_t start = (size_t)i << PAGE_SHIFT;

		if (!error) {
			if (got < start + PAGE_SIZE)
				zero_user_segment(page, got > start ? got - start : 0,
						  PAGE_SIZE);
			SetPageUptodate(page);
		}
		unlock_page(page);
		put_page(page);
	}
	mqfuse_io_free(io);
}

static void mqfuse_readahead(struct readahead_control *rac)
{
	struct inode *inode = rac->mapping->host;
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	unsigned int max_pages, i;
	struct mqfuse_file *ff;

	if (mqfuse_is_bad(inode))
		return;
	ff = mqfuse_read_file_get(inode, rac->file);
	if (!ff)
		return;
	max_pages = min_t(unsigned int, READ_ONCE(fc->max_pages),
			  READ_ONCE(fc->max_read) >> PAGE_SHIFT);
	max_pages = max(max_pages, 1U);

	while (readahead_count(rac)) {
		unsigned int nr = min_t(unsigned int, readahead_count(rac), max_pages);
		struct mqfuse_io *io = mqfuse_io_alloc_best(nr, GFP_KERNEL);

		if (!io)
			break;
		io->nr = __readahead_batch(rac, io->pages, io->max_pages);
		if (!io->nr) {
			mqfuse_io_free(io);
			break;
		}
		for (i = 0; i < io->nr; i++) {
			io->descs[i].offset = 0;
			io->descs[i].length = PAGE_SIZE;
		}
		io->ff = mqfuse_file_get(ff);
		io->inode = inode;
		mqfuse_io_read_args(io, ff, page_offset(io->pages[0]),
				    (size_t)io->nr << PAGE_SHIFT,
				    rac->file ? rac->file->f_flags : 0);
		io->args.end = mqfuse_readahead_end;
		if (fc->async_read) {
			mqfuse_simple_background(fc, &io->args, GFP_KERNEL);
		} else {
			ssize_t n = mqfuse_simple_request(fc, &io->args);

			mqfuse_readahead_end(fc, &io->args, n < 0 ? n : 0);
		}
	}
	mqfuse_file_put(ff);
}

/* ---- write-through writes (write(2) in cto) ---- */

static void mqfuse_write_pages_done(struct mqfuse_io *io, size_t written, int err)
{
	size_t start = 0;
	unsigned int i;

	for (i = 0; i < io->nr; i++) {
		struct page *page = io->pages[i];
		size_t end = start + io->descs[i].length;

		if (!err && written >= end) {
			if (io->descs[i].length == PAGE_SIZE)
				SetPageUptodate(page);
		} else if (PageUptodate(page)) {
			/* cache holds bytes the daemon did not take: drop them */
			ClearPageUptodate(page);
		}
		unlock_page(page);
		put_page(page);
		start = end;
	}
	io->nr = 0;
}

ssize_t mqfuse_perform_write(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	struct address_space *mapping = inode->i_mapping;
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_file *ff = file->private_data;
	size_t max_write = READ_ONCE(fc->max_write);
	loff_t pos = iocb->ki_pos;
	ssize_t written = 0;
	struct mqfuse_io *io;
	int err = 0;

	io = mqfuse_io_alloc_best(min_t(size_t, READ_ONCE(fc->max_pages),
					DIV_ROUND_UP(offset_in_page(pos) +
						     iov_iter_count(from), PAGE_SIZE)),
				  GFP_KERNEL);
	if (!io)
		return -ENOMEM;
	set_bit(MQFUSE_I_SIZE_UNSTABLE, &mi->state);

	while (iov_iter_count(from)) {
		size_t bytes = 0, nwritten;
		ssize_t ret;
		bool retried = false;
		u32 kill;

		io->nr = 0;
		while (io->nr < io->max_pages && bytes < max_write && iov_iter_count(from)) {
			loff_t cur = pos + bytes;
			size_t off = offset_in_page(cur);
			size_t chunk = min_t(size_t, PAGE_SIZE - off, iov_iter_count(from));
			size_t copied;
			struct page *page;

			chunk = min(chunk, max_write - bytes);
			if (fault_in_iov_iter_readable(from, chunk) == chunk) {
				err = -EFAULT;
				break;
			}
			page = grab_cache_page_write_begin(mapping, cur >> PAGE_SHIFT);
			if (!page) {
				err = -ENOMEM;
				break;
			}
			wait_on_page_writeback(page);
			if (mapping_writably_mapped(mapping))
				flush_dcache_page(page);
			copied = copy_page_from_iter_atomic(page, off, chunk, from);
			flush_dcache_page(page);
			if (!copied) {
				unlock_page(page);
				put_page(page);
				if (io->nr || retried)
					break;
				retried = true;	/* raced with reclaim of the source: once more */
				continue;
			}
			io->pages[io->nr] = page;
			io->descs[io->nr].offset = off;
			io->descs[io->nr].length = copied;
			io->nr++;
			bytes += copied;
			if (copied < chunk || off + copied < PAGE_SIZE)
				break;
		}
		if (!io->nr)
			break;

		kill = mqfuse_write_kill_flag(inode);
		mqfuse_io_write_args(io, ff, pos, bytes, kill, file->f_flags);
		ret = mqfuse_simple_request(fc, &io->args);
		nwritten = ret ? 0 : io->wout.size;
		if (!ret && nwritten > bytes) {
			mqfuse_bad_reply(fc, "WRITE of %zu bytes answered %zu\n", bytes, nwritten);
			ret = -EIO;
			nwritten = 0;
		}
		if (!ret && kill)
			mqfuse_suidgid_killed(inode);
		mqfuse_write_pages_done(io, nwritten, ret);
		if (ret) {
			iov_iter_revert(from, bytes);
			err = ret;
			break;
		}
		pos += nwritten;
		written += nwritten;
		if (pos > i_size_read(inode))
			mqfuse_size_changed(inode, pos);
		if (nwritten < bytes) {
			iov_iter_revert(from, bytes - nwritten);
			break;
		}
		if (err)
			break;
	}
	clear_bit(MQFUSE_I_SIZE_UNSTABLE, &mi->state);
	if (written) {
		set_bit(MQFUSE_I_SELF_CHANGED, &mi->state);
		mqfuse_invalidate_attr(inode);
	}
	iocb->ki_pos = pos;
	mqfuse_io_free(io);
	return written ? written : err;
}

/*
 * consistency=cto-wb: write(2) into the page cache. Pages are dirtied,
 * not sent: writeback (mqfuse_writepages) batches them into WRITEs of up
 * to max_pages / max_write, at close and fsync (which wait), under memory
 * pressure and by the flusher. The kernel owns the size and times
 * (mqfuse_kernel_owns_size()). A page written in part
 * is read first, unless it lies wholly past EOF (zeroed). The caller holds
 * inode_lock.
 */
ssize_t mqfuse_perform_write_wb(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	struct address_space *mapping = inode->i_mapping;
	size_t limit = PAGE_SIZE;	/* after a short copy: what was copied */
	loff_t pos = iocb->ki_pos;
	ssize_t written = 0;
	int err = 0;

	lockdep_assert_held(&inode->i_rwsem);
	while (iov_iter_count(from)) {
		size_t off = offset_in_page(pos);
		size_t chunk = min3(PAGE_SIZE - off, iov_iter_count(from), limit);
		loff_t isize = i_size_read(inode);
		bool past_eof;
		struct page *page;
		size_t copied;

		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		if (fault_in_iov_iter_readable(from, chunk) == chunk) {
			err = -EFAULT;
			break;
		}
		page = grab_cache_page_write_begin(mapping, pos >> PAGE_SHIFT);
		if (!page) {
			err = -ENOMEM;
			break;
		}
		/* the WRITE in flight carries this page: do not tear it */
		wait_on_page_writeback(page);
		past_eof = page_offset(page) >= isize;
		if (!PageUptodate(page) && chunk != PAGE_SIZE && !past_eof) {
			err = mqfuse_read_page_sync(file, page);
			if (err) {
				unlock_page(page);
				put_page(page);
				break;
			}
		}
		if (mapping_writably_mapped(mapping))
			flush_dcache_page(page);
		copied = copy_page_from_iter_atomic(page, off, chunk, from);
		flush_dcache_page(page);
		limit = PAGE_SIZE;
		if (!PageUptodate(page)) {
			if (past_eof && copied) {
				/* nothing to read: what the write did not cover is zero */
				zero_user_segments(page, 0, off, off + copied, PAGE_SIZE);
				SetPageUptodate(page);
			} else if (copied == PAGE_SIZE) {
				SetPageUptodate(page);
			} else {
				/*
				 * A whole page not yet read and a short copy: take
				 * none of it, and next time only as much as the
				 * source gave, so that the page is read first.
				 */
				iov_iter_revert(from, copied);
				limit = copied ?: PAGE_SIZE;
				copied = 0;
			}
		}
		if (copied) {
			set_page_dirty(page);
			pos += copied;
			written += copied;
			if (pos > isize)
				i_size_write(inode, pos);
		}
		unlock_page(page);
		put_page(page);
		balance_dirty_pages_ratelimited(mapping);
	}
	if (written) {
		/* the cached attributes (blocks, atime) are stale */
		mqfuse_size_changed(inode, max_t(loff_t, pos, i_size_read(inode)));
		mqfuse_wb_modified(inode);
		set_bit(MQFUSE_I_SELF_CHANGED, &mi->state);
	}
	iocb->ki_pos = pos;
	return written ? written : err;
}

/* ---- writeback of mmap-dirtied pages ---- */

struct mqfuse_wb_ctx {
	struct inode *inode;		/* file being written back */
	struct mqfuse_file *ff;		/* writable handle, referenced */
	struct mqfuse_io *io;		/* batch being built, or NULL */
	unsigned int max_pages;		/* batch limit (pages) */
	size_t max_write;		/* batch limit (bytes) */
};

static void mqfuse_writeback_end(struct mqfuse_conn *fc, struct mqfuse_args *args,
				 int error)
{
	struct mqfuse_io *io = container_of(args, struct mqfuse_io, args);
	struct inode *inode = io->inode;
	unsigned int i;

	if (!error && io->wout.size != io->bytes) {
		if (io->wout.size > io->bytes)
			mqfuse_bad_reply(fc, "writeback WRITE answered %u of %zu\n",
					 io->wout.size, io->bytes);
		error = -EIO;
	}
	/*
	 * The inode is pinned only by its pages under writeback (evict waits
	 * for them): everything that touches it comes before the last
	 * end_page_writeback(), nothing after.
	 */
	if (error)
		mapping_set_error(inode->i_mapping, error);
	set_bit(MQFUSE_I_SELF_CHANGED, &MQFUSE_I(inode)->state);
	/*
	 * A GETATTR the daemon answered before this WRITE has an older mtime
	 * (and in cto, for a write past its EOF, size): not to be applied.
	 */
	mqfuse_attr_outdated(inode);
	mqfuse_write_end(inode);
	io->inode = NULL;
	for (i = 0; i < io->nr; i++) {
		struct page *page = io->pages[i];

		if (error)
			SetPageError(page);
		end_page_writeback(page);
		put_page(page);
	}
	/* drops the handle; RELEASE needs no inode */
	mqfuse_io_free(io);
}

static void mqfuse_writeback_send(struct mqfuse_wb_ctx *ctx)
{
	struct mqfuse_io *io = ctx->io;
	struct mqfuse_conn *fc = mqfuse_conn_of(ctx->inode);

	ctx->io = NULL;
	io->ff = mqfuse_file_get(ctx->ff);
	io->inode = ctx->inode;
	mqfuse_write_begin(ctx->inode, true);	/* writepages holds a count */
	mqfuse_io_write_args(io, ctx->ff, page_offset(io->pages[0]), io->bytes,
			     FUSE_WRITE_CACHE, 0);
	io->args.force = true;
	io->args.nocreds = true;
	io->args.end = mqfuse_writeback_end;
	mqfuse_simple_background(fc, &io->args, GFP_NOFS | __GFP_NOFAIL);
}

static int mqfuse_writepages_fill(struct page *page, struct writeback_control *wbc,
				  void *data)
{
	struct mqfuse_wb_ctx *ctx = data;
	struct mqfuse_io *io = ctx->io;
	loff_t isize = i_size_read(ctx->inode);
	pgoff_t end_index;
	size_t len;

	if (!isize || page->index > (end_index = (isize - 1) >> PAGE_SHIFT)) {
		/*
		 * Wholly past EOF: a truncate in progress removes the page
		 * itself. Never drop the data here: the size may be one a
		 * daemon reported before our own extension of the file.
		 */
		redirty_page_for_writepage(wbc, page);
		unlock_page(page);
		return 0;
	}
	len = page->index == end_index ? offset_in_page(isize - 1) + 1 : PAGE_SIZE;

	if (io && (io->nr == io->max_pages || io->bytes + len > ctx->max_write ||
		   io->pages[io->nr - 1]->index + 1 != page->index ||
		   io->descs[io->nr - 1].length != PAGE_SIZE)) {
		mqfuse_writeback_send(ctx);
		io = NULL;
	}
	if (!io) {
		io = mqfuse_io_alloc_best(ctx->max_pages, GFP_NOFS);
		if (!io) {
			redirty_page_for_writepage(wbc, page);
			unlock_page(page);
			return -ENOMEM;
		}
		ctx->io = io;
	}
	get_page(page);
	io->pages[io->nr] = page;
	io->descs[io->nr].offset = 0;
	io->descs[io->nr].length = len;
	io->nr++;
	io->bytes += len;
	set_page_writeback(page);
	unlock_page(page);
	return 0;
}

MQFUSE_WRITEPAGE_T(mqfuse_writepages_fill_cb, mqfuse_writepages_fill)

static int mqfuse_writepages(struct address_space *mapping, struct writeback_control *wbc)
{
	struct inode *inode = mapping->host;
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_wb_ctx ctx = { .inode = inode };
	int err;

	if (mqfuse_is_bad(inode))
		return -EIO;
	ctx.ff = mqfuse_write_file_get(inode);
	if (!ctx.ff) {
		pr_warn_ratelimited("session %llu: dirty pages of inode %lu without a writable handle\n",
				    fc->id, inode->i_ino);
		return -EIO;
	}
	ctx.max_pages = max(READ_ONCE(fc->max_pages), 1U);
	ctx.max_write = READ_ONCE(fc->max_write);
	/*
	 * A size change (truncate, fallocate) is in progress: background
	 * writeback leaves the pages dirty for later; data integrity
	 * writeback waits for the new size.
	 */
	while (!mqfuse_write_begin(inode, false)) {
		if (wbc->sync_mode == WB_SYNC_NONE) {
			mqfuse_file_put(ctx.ff);
			return 0;
		}
		wait_var_event(&MQFUSE_I(inode)->nowrite,
			       !READ_ONCE(MQFUSE_I(inode)->nowrite));
	}
	err = write_cache_pages(mapping, wbc, mqfuse_writepages_fill_cb, &ctx);
	if (ctx.io)
		mqfuse_writeback_send(&ctx);
	mqfuse_write_end(inode);
	mqfuse_file_put(ctx.ff);
	return err;
}

/* invalidate_inode_pages2() met a dirty page: write it synchronously. */
static int mqfuse_launder_folio(struct folio *folio)
{
	struct page *page = &folio->page;
	struct inode *inode = page->mapping->host;
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	loff_t isize = i_size_read(inode);
	struct mqfuse_io *io;
	size_t len;
	ssize_t ret;

	if (!folio_test_dirty(folio))
		return 0;
	if (page_offset(page) >= isize) {
		/* invalidation of data past the daemon's EOF: nothing to keep */
		folio_clear_dirty_for_io(folio);
		return 0;
	}
	/* a size change in progress: leave the page dirty, fail the invalidation */
	if (!mqfuse_write_begin(inode, false))
		return -EBUSY;
	len = min_t(loff_t, PAGE_SIZE, isize - page_offset(page));
	io = mqfuse_io_alloc(1, GFP_NOFS);
	if (!io) {
		ret = -ENOMEM;
		goto out_end;
	}
	io->ff = mqfuse_write_file_get(inode);
	if (!io->ff) {
		mqfuse_io_free(io);
		ret = -EIO;
		goto out_end;
	}
	if (!folio_clear_dirty_for_io(folio)) {
		mqfuse_io_free(io);
		ret = 0;
		goto out_end;
	}
	io->pages[0] = page;
	io->descs[0].offset = 0;
	io->descs[0].length = len;
	io->nr = 1;
	mqfuse_io_write_args(io, io->ff, page_offset(page), len, FUSE_WRITE_CACHE, 0);
	io->args.force = true;
	io->args.nocreds = true;
	ret = mqfuse_simple_request(fc, &io->args);
	if (!ret && io->wout.size != len)
		ret = -EIO;
	mqfuse_io_free(io);
	mqfuse_attr_outdated(inode);	/* as at writeback's end */
	/* the data did not reach the daemon: keep it dirty, never drop it */
	if (ret)
		folio_mark_dirty(folio);
out_end:
	mqfuse_write_end(inode);
	return ret;
}

/* ---- mmap ---- */

/*
 * The folio is dirtied here, under the shared invalidate_lock, not later by
 * the fault core: copy_file_range holds the lock exclusively across its
 * flush, the COPY and the invalidation, so a store that got past this
 * point is in the flush, and one that did not waits for the invalidation
 * and faults the copied bytes in afresh. Dirtied after the unlock, the
 * page could miss the flush and be laundered over the copied bytes.
 */
static vm_fault_t mqfuse_page_mkwrite(struct vm_fault *vmf)
{
	struct folio *folio = page_folio(vmf->page);
	struct inode *inode = file_inode(vmf->vma->vm_file);
	vm_fault_t ret = VM_FAULT_LOCKED;

	sb_start_pagefault(inode->i_sb);
	filemap_invalidate_lock_shared(inode->i_mapping);
	folio_lock(folio);
	if (folio->mapping != inode->i_mapping) {
		folio_unlock(folio);
		ret = VM_FAULT_NOPAGE;
		goto out;
	}
	folio_mark_dirty(folio);
	mqfuse_wb_modified(inode);	/* cto-wb: the store changes our mtime */
	/* the daemon must not see a page change while it is being sent */
	folio_wait_writeback(folio);
out:
	filemap_invalidate_unlock_shared(inode->i_mapping);
	sb_end_pagefault(inode->i_sb);
	return ret;
}

static void mqfuse_vma_close(struct vm_area_struct *vma)
{
	/* shared writable maps: push dirty data while the handle still exists */
	if ((vma->vm_flags & (VM_SHARED | VM_MAYWRITE)) == (VM_SHARED | VM_MAYWRITE))
		filemap_write_and_wait(vma->vm_file->f_mapping);
}

const struct vm_operations_struct mqfuse_vm_ops = {
	.close		= mqfuse_vma_close,
	.fault		= filemap_fault,
	.map_pages	= filemap_map_pages,
	.page_mkwrite	= mqfuse_page_mkwrite,
};

const struct address_space_operations mqfuse_aops = {
	.read_folio	= mqfuse_read_folio,
	.readahead	= mqfuse_readahead,
	.writepages	= mqfuse_writepages,
	.dirty_folio	= filemap_dirty_folio,
	.launder_folio	= mqfuse_launder_folio,
	.migrate_folio	= filemap_migrate_folio,
	.direct_IO	= noop_direct_IO,
};
