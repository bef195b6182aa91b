// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: direct I/O (O_DIRECT, FOPEN_DIRECT_IO handles, strict mode).
 *
 * The payload moves between the caller's own pages and the request: user
 * memory is pinned, bvec pages are used in place, and only kernel
 * iterators without pages (kvec, xarray) go through bounce pages.
 *
 * Synchronous: one READ or WRITE of up to max_read/max_write bytes at a
 * time, each waited for. The result is the bytes up to the first short or
 * failed request, or its error if that is the first one.
 *
 * Asynchronous, for AIO and io_uring submitters (a kiocb with
 * ->ki_complete) when the daemon agreed to FUSE_ASYNC_DIO: the range is
 * cut into chunks of the same size, each sent as a background request,
 * and the submitter returns -EIOCBQUEUED. A struct mqfuse_dio counts the
 * chunks in flight; the result follows the synchronous rule, computed
 * from where the chunks ended. Everything after the reply runs on
 * mqfuse_dio_wq, never in the daemon thread that wrote the reply:
 * ->ki_complete may drop the last reference to the file, and its release
 * (flock unlock, RELEASE) sends requests this very thread would have to
 * answer; unpinning a page to be dirtied takes its page lock.
 *
 * It stays synchronous for: synchronous kiocbs and those without
 * IOCB_DIRECT (an AIO or io_uring read of a FOPEN_DIRECT_IO handle or of
 * a mount without page cache behaves as read(2) does); a daemon without
 * FUSE_ASYNC_DIO; stream and nonseekable files (no position to cut at);
 * iterators that need bounce pages (a READ's result would have to be
 * copied into an iterator that is gone by the completion); writes that
 * extend the file (the size becomes known in order, reply by reply, and
 * the sync path sets i_size as it goes) and DSYNC writes (the submitter
 * must see them stable before it returns).
 *
 * An asynchronous READ stops at i_size only where the size is the
 * kernel's to trust (page-cache handles); a FOPEN_DIRECT_IO file of size
 * 0 may well have contents. A chunk failed with -EAGAIN or -EOPNOTSUPP
 * completes the iocb with -EIO: those would tell io_uring to retry.
 *
 * Asynchronous writes hold inode_dio_begin() until their completion, and
 * every size change waits for them (mqfuse_nowrite_begin()), so a WRITE
 * in flight never lands after a truncate. Reads are not counted: a steady
 * stream of them would starve the truncate's inode_dio_wait(); a read
 * racing with a truncate gets what the daemon has, like a buffered read.
 */
#include "mqfuse_i.h"
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/slab.h>

/*
 * Runs every async direct I/O completion. Created before the filesystem
 * is registered, destroyed after it is unregistered (main.c), when no
 * session, hence no iocb, is left.
 */
static struct workqueue_struct *mqfuse_dio_wq;

/* One asynchronous direct I/O: an iocb cut into chunks. */
struct mqfuse_dio {
	refcount_t ref;			/* the submitter + one per chunk not yet finished */
	/* fields below are constant after setup */
	struct kiocb *iocb;		/* completed by the last put when @queued */
	struct inode *inode;		/* pinned by iocb->ki_filp while @queued */
	loff_t pos;			/* file offset of the first byte */
	bool write;			/* WRITE (holds inode_dio_begin()) */
	bool dirty;			/* READ into user memory: dirty the pages */
	u32 kill;			/* WRITE: FUSE_WRITE_KILL_SUIDGID on every chunk, or 0 */
	/*
	 * Fields below are written by the submitter before it drops its
	 * reference, read by the last put (ordered by the refcount).
	 */
	bool queued;			/* -EIOCBQUEUED returned: the last put completes @iocb */
	size_t sent;			/* bytes taken from the iterator into chunks */
	spinlock_t lock;		/* protects the fields below */
	/* fields below are protected by lock; the last put reads them without */
	size_t end;			/* where the first short or failed chunk ended; SIZE_MAX: none */
	int error;			/* the failed chunk's error if it set @end, else 0 */
	/* the completion, when the submitter's put is the last one */
	struct work_struct work;
};

/* ---- pages ---- */

/* Take up to @want bytes of @iter's pages into @io; returns bytes taken or -errno. */
static ssize_t mqfuse_dio_pin(struct mqfuse_io *io, struct iov_iter *iter, size_t want)
{
	size_t bytes = 0;
	ssize_t ret = 0;

	io->nr = 0;
	while (bytes < want && io->nr < io->max_pages) {
		size_t start, left;
		unsigned int first = io->nr, i;

		ret = mqfuse_iter_extract_pages(iter, &io->pages[io->nr], want - bytes,
						io->max_pages - io->nr, &start, &io->hold);
		if (ret <= 0)
			break;
		left = ret;
		for (i = first; left; i++) {
			size_t off = i == first ? start : 0;
			size_t len = min_t(size_t, left, PAGE_SIZE - off);

			io->descs[i].offset = off;
			io->descs[i].length = len;
			left -= len;
		}
		io->nr = i;
		bytes += ret;
	}
	if (!bytes)
		return ret < 0 ? ret : -EFAULT;
	return bytes;
}

/* Bounce buffer pages for kernel iterators (kvec, xarray). */
static int mqfuse_dio_bounce(struct mqfuse_io *io, size_t want)
{
	unsigned int i;

	io->hold = MQFUSE_PAGES_BOUNCE;
	io->nr = DIV_ROUND_UP(want, PAGE_SIZE);
	for (i = 0; i < io->nr; i++) {
		io->pages[i] = alloc_page(GFP_KERNEL);
		if (!io->pages[i]) {
			io->nr = i;
			return -ENOMEM;
		}
		io->descs[i].offset = 0;
		io->descs[i].length = min_t(size_t, PAGE_SIZE, want - (size_t)i * PAGE_SIZE);
	}
	return 0;
}

/* Give back the pages of @io; @dirty: a READ stored into them. */
static void mqfuse_dio_release(struct mqfuse_io *io, bool dirty)
{
	unsigned int i;

	switch (io->hold) {
	case MQFUSE_PAGES_PIN:
		if (dirty)
			unpin_user_pages_dirty_lock(io->pages, io->nr, true);
		else
			unpin_user_pages(io->pages, io->nr);
		break;
	case MQFUSE_PAGES_REF:
		for (i = 0; i < io->nr; i++) {
			if (dirty)
				set_page_dirty_lock(io->pages[i]);
			put_page(io->pages[i]);
		}
		break;
	case MQFUSE_PAGES_BOUNCE:
		for (i = 0; i < io->nr; i++)
			__free_page(io->pages[i]);
		break;
	case MQFUSE_PAGES_BORROWED:
		break;
	}
	io->nr = 0;
}

/* Copy between bounce pages and @iter (@to_iter: READ result to the caller). */
static size_t mqfuse_dio_copy(struct mqfuse_io *io, struct iov_iter *iter, size_t len,
			      bool to_iter)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < io->nr && done < len; i++) {
		size_t n = min_t(size_t, len - done, io->descs[i].length);
		size_t c = to_iter ? copy_page_to_iter(io->pages[i], 0, n, iter) :
				     copy_page_from_iter(io->pages[i], 0, n, iter);

		done += c;
		if (c != n)
			break;
	}
	return done;
}

static bool mqfuse_dio_can_pin(struct iov_iter *iter)
{
	return user_backed_iter(iter) || iov_iter_is_bvec(iter);
}

/*
 * Bytes per request for @iter with a page vector of @max_pages. A user
 * buffer that is not page aligned straddles one page more than its
 * length; an aligned one (the common O_DIRECT case) gets the whole
 * vector, i.e. full 8 MiB requests.
 */
static size_t mqfuse_dio_max_bytes(struct mqfuse_conn *fc, struct iov_iter *iter,
				   bool write, unsigned int max_pages)
{
	size_t max_bytes = write ? READ_ONCE(fc->max_write) : READ_ONCE(fc->max_read);

	if (mqfuse_dio_can_pin(iter) && (iov_iter_alignment(iter) & ~PAGE_MASK))
		max_bytes = min_t(size_t, max_bytes, (size_t)(max_pages - 1) << PAGE_SHIFT);
	else
		max_bytes = min_t(size_t, max_bytes, (size_t)max_pages << PAGE_SHIFT);
	return max_t(size_t, max_bytes, PAGE_SIZE);
}

/*
 * Drop the page cache over [@start, @end] after a direct write. A page
 * that cannot go (mapped and dirtied meanwhile) keeps stale data: say so,
 * and make the next fsync() report it, as
 * kiocb_invalidate_post_direct_write() does.
 */
static void mqfuse_dio_invalidate(struct inode *inode, loff_t start, loff_t end)
{
	int err;

	err = invalidate_inode_pages2_range(inode->i_mapping, start >> PAGE_SHIFT,
					    end >> PAGE_SHIFT);
	if (err) {
		pr_warn_ratelimited("inode %lu: page cache not invalidated after a direct write: %d\n",
				    inode->i_ino, err);
		errseq_set(&inode->i_mapping->wb_err, -EIO);
	}
}

/*
 * A write(2) that reaches the daemon without the page cache
 * (consistency=strict, a FOPEN_DIRECT_IO handle) must stay coherent with
 * a shared map of the same bytes, as POSIX wants of write(2) and mmap: a
 * page dirtied after the flush but before the invalidation still holds
 * the bytes from before the WRITE around the store, and writing it back
 * (launder, msync) would overwrite what the WRITE sent. So, like
 * copy_file_range (mqfuse_copy_range_daemon), each chunk's flush, WRITE
 * and invalidation run under the exclusive invalidate_lock, which
 * page_mkwrite and read faults take shared. It is taken per chunk, after
 * the chunk's user pages were pinned or copied: a source buffer that maps
 * this very file faults with the lock not held. O_DIRECT follows Linux's
 * rule instead (no fence, on the asynchronous path neither): the cache is
 * flushed before and dropped after, and a page dirtied through a map
 * meanwhile is laundered (mqfuse_launder_folio) and reported.
 */
static int mqfuse_dio_write_fence(struct address_space *mapping, loff_t pos, size_t len)
{
	int err;

	/* killable: the holder may be a fault waiting for an unanswered READ */
	if (down_write_killable(&mapping->invalidate_lock))
		return -EINTR;
	err = filemap_write_and_wait_range(mapping, pos, pos + len - 1);
	if (err)
		filemap_invalidate_unlock(mapping);
	return err;
}

/*
 * The daemon may now hold any of the @len bytes sent at @pos (a failed or
 * short WRITE may have reached the file in part): drop the cached pages
 * over all of them. Invalidation launders a dirty page (one dirtied
 * through a long-term pin: faults are fenced off); if that fails, the
 * range is written back once more and dropped only if that worked: a page
 * whose write back failed stays dirty, and the error goes to the mapping
 * for fsync and close to report.
 */
static void mqfuse_dio_write_unfence(struct address_space *mapping, loff_t pos, size_t len)
{
	pgoff_t first = pos >> PAGE_SHIFT;
	pgoff_t last = (pos + len - 1) >> PAGE_SHIFT;

	if (len && invalidate_inode_pages2_range(mapping, first, last)) {
		loff_t start = (loff_t)first << PAGE_SHIFT;
		loff_t end = ((loff_t)(last + 1) << PAGE_SHIFT) - 1;
		int werr;

		werr = filemap_write_and_wait_range(mapping, start, end);
		if (werr)
			mapping_set_error(mapping, werr);
		else
			truncate_inode_pages_range(mapping, start, end);
	}
	filemap_invalidate_unlock(mapping);
}

/* ---- synchronous ---- */

static ssize_t mqfuse_dio_sync(struct kiocb *iocb, struct iov_iter *iter, bool write)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct mqfuse_inode *mi = MQFUSE_I(inode);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_file *ff = file->private_data;
	bool pin = mqfuse_dio_can_pin(iter);
	bool fence = write && !(iocb->ki_flags & IOCB_DIRECT);
	size_t count = iov_iter_count(iter);
	loff_t pos = iocb->ki_pos;
	loff_t sent_end = pos;	/* end of the last request sent */
	size_t max_bytes;
	ssize_t done = 0;
	struct mqfuse_io *io;
	int err = 0;

	io = mqfuse_io_alloc_best(min_t(size_t, READ_ONCE(fc->max_pages),
					DIV_ROUND_UP(count, PAGE_SIZE) + 1), GFP_KERNEL);
	if (!io)
		return -ENOMEM;
	/* a GETATTR answered while the daemon extends the file has an old size */
	if (write)
		set_bit(MQFUSE_I_SIZE_UNSTABLE, &mi->state);
	max_bytes = mqfuse_dio_max_bytes(fc, iter, write, io->max_pages);

	while (iov_iter_count(iter)) {
		size_t want = min(iov_iter_count(iter), max_bytes);
		ssize_t bytes, ret;
		size_t n;
		u32 kill;

		if (pin) {
			bytes = mqfuse_dio_pin(io, iter, want);
			if (bytes < 0) {
				err = bytes;
				break;
			}
		} else {
			err = mqfuse_dio_bounce(io, want);
			if (err) {
				mqfuse_dio_release(io, false);
				break;
			}
			bytes = want;
			if (write && mqfuse_dio_copy(io, iter, want, false) != want) {
				iov_iter_revert(iter, want);
				mqfuse_dio_release(io, false);
				err = -EFAULT;
				break;
			}
		}

		memset(&io->args, 0, sizeof(io->args));
		if (fence) {
			err = mqfuse_dio_write_fence(file->f_mapping, pos, bytes);
			if (err) {
				mqfuse_dio_release(io, false);
				iov_iter_revert(iter, bytes);
				break;
			}
		}
		kill = write ? mqfuse_write_kill_flag(inode) : 0;
		if (write)
			mqfuse_io_write_args(io, ff, pos, bytes, kill, file->f_flags);
		else
			mqfuse_io_read_args(io, ff, pos, bytes, file->f_flags);
		ret = mqfuse_simple_request(fc, &io->args);
		if (!ret && kill)
			mqfuse_suidgid_killed(inode);
		sent_end = pos + bytes;
		if (fence)
			mqfuse_dio_write_unfence(file->f_mapping, pos, bytes);
		if (write)
			n = ret ? 0 : io->wout.size;
		else
			n = ret < 0 ? 0 : ret;
		if (ret >= 0 && n > (size_t)bytes) {
			mqfuse_bad_reply(fc, "%s of %zd bytes answered %zu\n",
					 write ? "WRITE" : "READ", bytes, n);
			ret = -EIO;
			n = 0;
		}
		if (!pin && !write && ret >= 0)
			n = mqfuse_dio_copy(io, iter, n, true);
		mqfuse_dio_release(io, pin && !write && user_backed_iter(iter));
		if (pin || write)
			iov_iter_revert(iter, bytes - n);
		if (ret < 0) {
			err = ret;
			break;
		}
		pos += n;
		done += n;
		if (n < (size_t)bytes)
			break;	/* short transfer: EOF or daemon-side limit */
	}
	mqfuse_io_free(io);

	/*
	 * A failed or short WRITE may have reached the file in part: the
	 * cache goes over all that was sent, not only over the bytes
	 * reported (under the fence, chunk by chunk, when fenced).
	 */
	if (write && sent_end > iocb->ki_pos) {
		if (!fence)
			mqfuse_dio_invalidate(inode, iocb->ki_pos, sent_end - 1);
		if (done && pos > i_size_read(inode))
			mqfuse_size_changed(inode, pos);
		set_bit(MQFUSE_I_SELF_CHANGED, &mi->state);
		mqfuse_invalidate_attr(inode);
	}
	if (write)
		clear_bit(MQFUSE_I_SIZE_UNSTABLE, &mi->state);
	iocb->ki_pos = pos;
	return done ? done : err;
}

/* ---- asynchronous ---- */

/* Complete @dio: the submitter and every chunk are done with it. */
static void mqfuse_dio_complete(struct mqfuse_dio *dio)
{
	struct kiocb *iocb = dio->iocb;
	struct inode *inode = dio->inode;
	size_t end;
	ssize_t ret;

	if (!dio->queued) {
		/* nothing was sent; the submitter returned the error itself */
		kfree(dio);
		return;
	}
	end = min(dio->end, dio->sent);
	ret = end ? (ssize_t)end : dio->error;
	if (dio->write) {
		/*
		 * Any chunk sent may have reached the file, also one after a
		 * failed chunk, or a failed one in part: drop the cache over
		 * all of them, not only over the bytes reported.
		 */
		mqfuse_dio_invalidate(inode, dio->pos, dio->pos + dio->sent - 1);
		set_bit(MQFUSE_I_SELF_CHANGED, &MQFUSE_I(inode)->state);
		if (dio->kill && end)
			mqfuse_suidgid_killed(inode);
		else
			mqfuse_invalidate_attr(inode);
		inode_dio_end(inode);
	} else if (ret > 0 && mqfuse_conn_of(inode)->cons->read_stales_attr) {
		/* the daemon's file got a new atime: do not serve the old one */
		mqfuse_invalidate_attr(inode);
	}
	if (ret > 0)
		iocb->ki_pos = dio->pos + ret;
	kfree(dio);
	/* last: may drop the last reference to the file, and with it the inode */
	iocb->ki_complete(iocb, ret);
}

static void mqfuse_dio_work(struct work_struct *work)
{
	mqfuse_dio_complete(container_of(work, struct mqfuse_dio, work));
}

/* Drop a reference; @in_worker: the caller runs on mqfuse_dio_wq already. */
static void mqfuse_dio_put(struct mqfuse_dio *dio, bool in_worker)
{
	if (!refcount_dec_and_test(&dio->ref))
		return;
	if (in_worker || !dio->queued)
		mqfuse_dio_complete(dio);
	else
		queue_work(mqfuse_dio_wq, &dio->work);
}

/* A chunk [@off, @off + @len) moved @done bytes or failed with @error. */
static void mqfuse_dio_note_locked(struct mqfuse_dio *dio, size_t off, size_t len,
				   size_t done, int error)
{
	size_t end = error ? off : off + done;

	lockdep_assert_held(&dio->lock);
	if (!error && done == len)
		return;
	/* chunks do not overlap: only one of them can end at @end */
	if (end < dio->end) {
		dio->end = end;
		dio->error = error;
	}
}

static void mqfuse_dio_chunk_work(struct work_struct *work)
{
	struct mqfuse_io *io = container_of(work, struct mqfuse_io, dio_work);
	struct mqfuse_dio *dio = io->dio;

	mqfuse_dio_release(io, dio->dirty);
	spin_lock(&dio->lock);
	mqfuse_dio_note_locked(dio, io->dio_off, io->bytes, io->dio_done, io->dio_error);
	spin_unlock(&dio->lock);
	mqfuse_io_free(io);
	mqfuse_dio_put(dio, true);
}

/*
 * ->end of a chunk: in the daemon thread that wrote the reply, or in
 * whoever failed the request (abort, or the submitter if it was never
 * queued). Only records the result; the rest runs on the workqueue.
 */
static void mqfuse_dio_chunk_end(struct mqfuse_conn *fc, struct mqfuse_args *args,
				 int error)
{
	struct mqfuse_io *io = container_of(args, struct mqfuse_io, args);
	size_t done = 0;

	if (!error) {
		done = io->dio->write ? io->wout.size : args->out_args[0].size;
		if (done > io->bytes) {
			mqfuse_bad_reply(fc, "async %s of %zu bytes answered %zu\n",
					 io->dio->write ? "WRITE" : "READ", io->bytes, done);
			error = -EIO;
			done = 0;
		}
	}
	/*
	 * -EAGAIN would make io_uring reissue the iocb (6.12's
	 * io_rw_should_reissue()), and a daemon answering it every time would
	 * loop it forever; -EOPNOTSUPP would read as "try without
	 * RWF_NOWAIT". Neither means that here: the daemon failed the I/O.
	 */
	if (error == -EAGAIN || error == -EOPNOTSUPP)
		error = -EIO;
	io->dio_done = done;
	io->dio_error = error;
	queue_work(mqfuse_dio_wq, &io->dio_work);
}

static bool mqfuse_dio_may_async(struct kiocb *iocb, struct iov_iter *iter, bool write)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);

	/*
	 * async_dio is INIT's answer, in before any OPEN could be sent
	 * (acquire of fc->state in mqfuse_req_alloc()).
	 */
	if (is_sync_kiocb(iocb) || !(iocb->ki_flags & IOCB_DIRECT) ||
	    !mqfuse_conn_of(inode)->async_dio)
		return false;
	if (!mqfuse_dio_can_pin(iter))
		return false;
	if ((file->f_mode & FMODE_STREAM) ||
	    !(file->f_mode & (write ? FMODE_PWRITE : FMODE_PREAD)))
		return false;
	if (write) {
		/* no write or size change can run between this check and the submission */
		lockdep_assert_held(&inode->i_rwsem);
		if (iocb_is_dsync(iocb) ||
		    iocb->ki_pos + iov_iter_count(iter) > i_size_read(inode))
			return false;
	}
	return true;
}

/*
 * Whether a READ past i_size can be answered with EOF without asking the
 * daemon. Not for FOPEN_DIRECT_IO handles and filesystems without a page
 * cache: their daemons may report a size of 0 for files with contents
 * (procfs-like), and read(2) returns what READ does.
 */
static bool mqfuse_dio_size_is_authoritative(struct file *file)
{
	struct mqfuse_file *ff = file->private_data;

	return !(ff->open_flags & FOPEN_DIRECT_IO) &&
	       mqfuse_conn_of(file_inode(file))->cons->page_cache;
}

/*
 * Send @iter as chunks in the background. Returns -EIOCBQUEUED once one
 * chunk reached a queue, even if a later one could not be sent (the
 * iocb then completes with the bytes before it); if none did, the error,
 * with @iter as it was.
 */
static ssize_t mqfuse_dio_async(struct kiocb *iocb, struct iov_iter *iter, bool write)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_file *ff = file->private_data;
	unsigned int max_pages = max(READ_ONCE(fc->max_pages), 1U);
	loff_t pos = iocb->ki_pos;
	size_t max_bytes, consumed = 0, shorten = 0;
	bool submitted = false;
	struct mqfuse_dio *dio;
	ssize_t ret;
	int err = 0;

	if (!write && mqfuse_dio_size_is_authoritative(file)) {
		loff_t size = i_size_read(inode);
		size_t count = iov_iter_count(iter);

		/* nothing to ask for past EOF: as a buffered read does, refresh a stale size */
		if (pos + count > size) {
			err = mqfuse_update_attr_if_stale(inode, file);
			if (err)
				return err;
			size = i_size_read(inode);
			if (pos >= size)
				return 0;
			if (pos + count > size) {
				shorten = count - (size - pos);
				iov_iter_truncate(iter, size - pos);
			}
		}
	}

	dio = kmalloc(sizeof(*dio), GFP_KERNEL);
	if (!dio) {
		ret = -ENOMEM;
		goto out;
	}
	refcount_set(&dio->ref, 1);
	dio->iocb = iocb;
	dio->inode = inode;
	dio->pos = pos;
	dio->write = write;
	dio->dirty = !write && user_backed_iter(iter);
	/* chunks run in parallel: each carries the kill, the daemon does it once */
	dio->kill = write ? mqfuse_write_kill_flag(inode) : 0;
	dio->queued = false;
	dio->sent = 0;
	spin_lock_init(&dio->lock);
	dio->end = SIZE_MAX;
	dio->error = 0;
	INIT_WORK(&dio->work, mqfuse_dio_work);
	max_bytes = mqfuse_dio_max_bytes(fc, iter, write, max_pages);
	if (write)
		inode_dio_begin(inode);

	while (iov_iter_count(iter)) {
		size_t want = min(iov_iter_count(iter), max_bytes);
		struct mqfuse_io *io;
		ssize_t bytes;

		io = mqfuse_io_alloc_best(min_t(size_t, max_pages,
						DIV_ROUND_UP(want, PAGE_SIZE) + 1), GFP_KERNEL);
		if (!io) {
			err = -ENOMEM;
			break;
		}
		bytes = mqfuse_dio_pin(io, iter, want);
		if (bytes < 0) {
			mqfuse_io_free(io);
			err = bytes;
			break;
		}
		/*
		 * No handle reference: the request carries the fh, and the
		 * iocb holds the file until the completion.
		 */
		io->bytes = bytes;
		io->dio = dio;
		io->dio_off = consumed;
		INIT_WORK(&io->dio_work, mqfuse_dio_chunk_work);
		if (write)
			mqfuse_io_write_args(io, ff, pos + consumed, bytes, dio->kill,
					     file->f_flags);
		else
			mqfuse_io_read_args(io, ff, pos + consumed, bytes, file->f_flags);
		io->args.end = mqfuse_dio_chunk_end;
		consumed += bytes;
		refcount_inc(&dio->ref);
		/*
		 * May wait for a background slot. From here the chunk belongs
		 * to its ->end, which runs also when it cannot be queued.
		 */
		err = mqfuse_simple_background(fc, &io->args, GFP_KERNEL);
		if (err)
			break;
		submitted = true;
	}

	if (!submitted) {
		/*
		 * Nothing reached the daemon: fail now, as if never tried. A
		 * chunk whose queueing failed is still being released on the
		 * workqueue; it touches neither the inode nor the file.
		 */
		iov_iter_revert(iter, consumed);
		iov_iter_reexpand(iter, iov_iter_count(iter) + shorten);
		if (write)
			inode_dio_end(inode);
		mqfuse_dio_put(dio, false);
		return err;
	}
	dio->sent = consumed;
	dio->queued = true;
	/*
	 * Before the last put: once it is dropped, the iocb may complete,
	 * and 6.12's io_uring may iov_iter_restore() @iter from the
	 * completion (io_rw_should_reissue()).
	 */
	iov_iter_reexpand(iter, iov_iter_count(iter) + shorten);
	mqfuse_dio_put(dio, false);
	return -EIOCBQUEUED;
out:
	iov_iter_reexpand(iter, iov_iter_count(iter) + shorten);
	return ret;
}

ssize_t mqfuse_direct_io(struct kiocb *iocb, struct iov_iter *iter, bool write)
{
	struct address_space *mapping = iocb->ki_filp->f_mapping;
	size_t count = iov_iter_count(iter);
	loff_t pos = iocb->ki_pos;
	int err;

	/*
	 * No FMODE_NOWAIT (every path here may wait for the daemon), but
	 * 6.1's io_uring tries files of filesystems without a block device
	 * with IOCB_NOWAIT all the same: let it retry from its worker.
	 */
	if (iocb->ki_flags & IOCB_NOWAIT)
		return -EAGAIN;
	/*
	 * cto-wb: a read must find at the daemon what we have up to our EOF
	 * (dirty pages past the range extend the file there too).
	 */
	err = filemap_write_and_wait_range(mapping, pos,
			!write && mqfuse_conn_of(mapping->host)->cons->writeback ?
			LLONG_MAX : pos + count - 1);
	if (err)
		return err;
	if (mqfuse_dio_may_async(iocb, iter, write))
		return mqfuse_dio_async(iocb, iter, write);
	return mqfuse_dio_sync(iocb, iter, write);
}

int mqfuse_dio_init(void)
{
	mqfuse_dio_wq = alloc_workqueue("%s", WQ_MEM_RECLAIM | WQ_UNBOUND, 0,
					MQFUSE_NAME "_dio");
	return mqfuse_dio_wq ? 0 : -ENOMEM;
}

void mqfuse_dio_exit(void)
{
	destroy_workqueue(mqfuse_dio_wq);
}
