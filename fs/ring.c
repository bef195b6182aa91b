// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: ring transport and registered daemon memory (umem).
 *
 * A daemon fd may register umem (its own memory, pinned, cut into equal
 * buffers) and set up a ring over it: a page of control indices and two
 * descriptor arrays it maps with mmap(2). RING_ENTER takes the reply
 * descriptors the daemon published and hands out requests into free
 * buffers, one syscall per batch either way. Requests are copied by the
 * same code as read(2) and replies parsed by the same code as write(2),
 * through bvec iterators over the pinned pages: the payload is copied
 * once, page cache or user pages <-> umem, and the daemon hands the same
 * buffers to io_uring (fixed buffers) or RDMA without copying again.
 *
 * Memory ordering (the contract of uapi/mqfuse.h, applied here): the
 * kernel publishes request descriptors before the release store of
 * ctl->req_tail, and reads reply descriptors after the acquire load of
 * ctl->rep_tail, storing ctl->rep_head with release once they are read.
 * Everything the daemon writes (rep_tail, descriptors, buffer contents)
 * is untrusted and read once into kernel memory before it is checked;
 * the kernel's own indices live in struct mqfuse_ring, never re-read
 * from the shared page.
 *
 * Lifetimes: umem and ring belong to one struct mqfuse_dev and are
 * freed at its release; a mapping of the ring holds the file, so release
 * comes after the last munmap. No request keeps a reference to umem: a
 * request is copied into its buffer while handed out, and a reply out
 * of it while the reply descriptor is taken, both under dev->ring_mutex
 * in RING_ENTER. A buffer the daemon holds is tracked in ring->held;
 * UMEM_DEREG is refused while any is held.
 */
#include "mqfuse_i.h"
#include <linux/bitmap.h>
#include <linux/bvec.h>
#include <linux/hugetlb.h>
#include <linux/log2.h>
#include <linux/magic.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

/* Registered daemon memory. Constant after UMEM_REG but @bvec (scratch). */
struct mqfuse_umem {
	struct page **pages;		/* pinned FOLL_LONGTERM, nr_pages */
	unsigned long nr_pages;		/* len >> PAGE_SHIFT */
	u32 buf_size;			/* bytes per buffer */
	u32 nr_bufs;			/* buffers */
	/*
	 * Charged to the user's locked_vm against RLIMIT_MEMLOCK (as io_uring
	 * does: the pin lives as long as the fd, which fork, exec or SCM_RIGHTS
	 * can hand to another mm), NULL with CAP_IPC_LOCK.
	 */
	struct user_struct *user;
	struct mm_struct *mm;		/* mmgrab()bed: its pinned_vm (VmPin) shows the pages */
	/* scratch iterator segments for one buffer; used under dev->ring_mutex */
	struct bio_vec *bvec;
	unsigned int nr_bvec;		/* buf_size / PAGE_SIZE + 1 */
};

/* One ring. Protected by the owning dev's ring_mutex unless marked constant. */
struct mqfuse_ring {
	/* constant after setup */
	struct mqfuse_ring_ctl *ctl;	/* vmalloc_user(): shared with the daemon */
	size_t map_len;			/* bytes mmap may map */
	struct mqfuse_ring_desc *req;	/* request descriptors, in ctl's area */
	struct mqfuse_ring_desc *rep;	/* reply descriptors, in ctl's area */
	u32 entries;			/* power of two */
	/* protected by dev->ring_mutex */
	u32 req_tail;			/* request descriptors published */
	u32 rep_head;			/* reply descriptors taken */
	u32 next_buf;			/* where the search for a free buffer starts */
	u32 nr_held;			/* buffers with the daemon */
	DECLARE_BITMAP(held, MQFUSE_RING_MAX_ENTRIES); /* buffers with the daemon */
	u16 *batch;			/* per queue: requests handed out by this ENTER */
};

/* The ABI is the same for 32-bit callers (compat_ptr_ioctl): no padding. */
static_assert(sizeof(struct mqfuse_umem_reg) == 32);
static_assert(sizeof(struct mqfuse_ring_setup) == 32);
static_assert(sizeof(struct mqfuse_ring_enter) == 24);
static_assert(sizeof(struct mqfuse_ring_desc) == 16);
static_assert(sizeof(struct mqfuse_ring_ctl) == 128);

/* ---- umem ---- */

/* Charge @nr pages to @user's locked_vm within RLIMIT_MEMLOCK. */
static int mqfuse_umem_charge(struct user_struct *user, unsigned long nr)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur = atomic_long_read(&user->locked_vm), next;

	do {
		next = cur + nr;
		if (next > limit || next < cur)
			return -ENOMEM;
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, next));
	return 0;
}

/* Undo what mqfuse_umem_reg() charged and counted; no lock needed. */
static void mqfuse_umem_uncharge(struct mqfuse_umem *u)
{
	if (u->user) {
		atomic_long_sub(u->nr_pages, &u->user->locked_vm);
		free_uid(u->user);
		u->user = NULL;
	}
	if (u->mm) {
		atomic64_sub(u->nr_pages, &u->mm->pinned_vm);
		mmdrop(u->mm);
		u->mm = NULL;
	}
}

static void mqfuse_umem_free(struct mqfuse_umem *u)
{
	if (!u)
		return;
	/* the kernel wrote requests into them: dirty */
	unpin_user_pages_dirty_lock(u->pages, u->nr_pages, true);
	mqfuse_umem_uncharge(u);
	kvfree(u->pages);
	kvfree(u->bvec);
	kfree(u);
}

/*
 * umem must be anonymous memory, shmem (tmpfs, memfd) or hugetlb: memory
 * the daemon cannot make wait for a filesystem. On 6.1, GUP pins a file
 * mapping long term (6.5 refuses it), write-faulting it first: a mapping
 * of this very mount would fault into ->page_mkwrite and wait for a
 * WRITE only the daemon can answer. So the VMAs are checked and the
 * pages pinned under one mmap_read_lock (pin_user_pages() keeps it held),
 * and no page of another kind is ever faulted in.
 */
static bool mqfuse_umem_vma_ok(struct vm_area_struct *vma)
{
	if (vma->vm_flags & (VM_IO | VM_PFNMAP))
		return false;
	if (vma_is_anonymous(vma) || is_vm_hugetlb_page(vma))
		return true;
	/* shmem_mapping() is not exported on 6.1: tmpfs (and memfd) by magic */
	return vma->vm_file && file_inode(vma->vm_file)->i_sb->s_magic == TMPFS_MAGIC;
}

static int mqfuse_umem_pin(struct mqfuse_umem *u, unsigned long addr)
{
	struct mm_struct *mm = current->mm;
	unsigned long end = addr + (u->nr_pages << PAGE_SHIFT), cur = addr;
	unsigned long done = 0;
	struct vm_area_struct *vma;
	int err = 0;

	if (mmap_read_lock_killable(mm))
		return -EINTR;
	while (cur < end) {
		vma = find_vma(mm, cur);
		if (!vma || vma->vm_start > cur) {
			err = -EFAULT;
			goto out;
		}
		if (!mqfuse_umem_vma_ok(vma)) {
			err = -EINVAL;
			goto out;
		}
		cur = vma->vm_end;
	}
	while (done < u->nr_pages) {
		long got = mqfuse_pin_user_pages(addr + (done << PAGE_SHIFT),
						 min(u->nr_pages - done, 1UL << 16),
						 FOLL_WRITE | FOLL_LONGTERM, u->pages + done);

		if (got <= 0) {
			err = got ? got : -EFAULT;
			break;
		}
		done += got;
		if (fatal_signal_pending(current)) {
			err = -EINTR;
			break;
		}
		cond_resched();
	}
	if (err && done)
		unpin_user_pages(u->pages, done);
out:
	mmap_read_unlock(mm);
	return err;
}

static long mqfuse_umem_reg(struct mqfuse_dev *dev, struct mqfuse_umem_reg __user *argp)
{
	struct mqfuse_umem_reg reg;
	struct mqfuse_umem *u;
	struct mqfuse_ring *ring;
	int err;

	if (copy_from_user(&reg, argp, sizeof(reg)))
		return -EFAULT;
	if (reg.flags || reg.reserved)
		return -EINVAL;
	if (!reg.len || reg.len > MQFUSE_UMEM_MAX_LEN || !PAGE_ALIGNED(reg.addr) ||
	    reg.buf_size < MQFUSE_UMEM_MIN_BUF || reg.buf_size > MQFUSE_UMEM_MAX_BUF ||
	    !PAGE_ALIGNED(reg.buf_size) || reg.len % reg.buf_size)
		return -EINVAL;
	if (reg.addr > ULONG_MAX || reg.len > ULONG_MAX - reg.addr ||
	    !access_ok(u64_to_user_ptr(reg.addr), reg.len))
		return -EFAULT;

	u = kzalloc(sizeof(*u), GFP_KERNEL_ACCOUNT);
	if (!u)
		return -ENOMEM;
	u->nr_pages = reg.len >> PAGE_SHIFT;
	u->buf_size = reg.buf_size;
	u->nr_bufs = reg.len / reg.buf_size;
	u->nr_bvec = reg.buf_size / PAGE_SIZE + 1;
	if (!capable(CAP_IPC_LOCK)) {
		u->user = get_uid(current_user());
		err = mqfuse_umem_charge(u->user, u->nr_pages);
		if (err) {
			free_uid(u->user);
			kfree(u);
			return err;
		}
	}
	u->pages = kvmalloc_array(u->nr_pages, sizeof(*u->pages), GFP_KERNEL_ACCOUNT);
	u->bvec = kvmalloc_array(u->nr_bvec, sizeof(*u->bvec), GFP_KERNEL_ACCOUNT);
	if (!u->pages || !u->bvec) {
		err = -ENOMEM;
		goto out_uncharge;
	}
	/* no ring_mutex while pinning: faults and migration may take long */
	err = mqfuse_umem_pin(u, reg.addr);
	if (err)
		goto out_uncharge;
	mmgrab(current->mm);
	u->mm = current->mm;
	atomic64_add(u->nr_pages, &u->mm->pinned_vm);

	err = mutex_lock_killable(&dev->ring_mutex);
	if (err)
		goto out_unpin;
	if (dev->umem) {
		mutex_unlock(&dev->ring_mutex);
		err = -EBUSY;
		goto out_unpin;
	}
	dev->umem = u;
	ring = dev->ring;
	if (ring)
		WRITE_ONCE(ring->ctl->buf_size, u->buf_size);
	mutex_unlock(&dev->ring_mutex);
	return 0;

out_unpin:
	unpin_user_pages(u->pages, u->nr_pages);
out_uncharge:
	mqfuse_umem_uncharge(u);
	kvfree(u->pages);
	kvfree(u->bvec);
	kfree(u);
	return err;
}

static long mqfuse_umem_dereg(struct mqfuse_dev *dev)
{
	struct mqfuse_umem *u;

	if (mutex_lock_killable(&dev->ring_mutex))
		return -EINTR;
	u = dev->umem;
	if (!u) {
		mutex_unlock(&dev->ring_mutex);
		return -ENXIO;
	}
	if (dev->ring && READ_ONCE(dev->ring->nr_held)) {
		mutex_unlock(&dev->ring_mutex);
		return -EBUSY;
	}
	dev->umem = NULL;
	mutex_unlock(&dev->ring_mutex);
	mqfuse_umem_free(u);
	return 0;
}

/*
 * Point @it at bytes [@off, @off + @len) of buffer @buf (checked by the
 * caller to lie inside it). @dir: ITER_DEST to copy into umem, ITER_SOURCE
 * out of it.
 */
static void mqfuse_umem_iter(struct mqfuse_umem *u, struct iov_iter *it, unsigned int dir,
			     u32 buf, u32 off, u32 len)
{
	size_t start = (size_t)buf * u->buf_size + off;
	unsigned long pg = start >> PAGE_SHIFT;
	unsigned int poff = offset_in_page(start), n = 0;
	size_t left = len;

	while (left) {
		unsigned int c = min_t(size_t, left, PAGE_SIZE - poff);

		bvec_set_page(&u->bvec[n++], u->pages[pg++], c, poff);
		poff = 0;
		left -= c;
	}
	iov_iter_bvec(it, dir, u->bvec, n, len);
}

/* ---- ring setup and mapping ---- */

static void mqfuse_ring_free(struct mqfuse_ring *ring)
{
	if (!ring)
		return;
	vfree(ring->ctl);
	kfree(ring->batch);
	kfree(ring);
}

static long mqfuse_ring_setup(struct mqfuse_dev *dev, struct mqfuse_ring_setup __user *argp)
{
	struct mqfuse_conn *fc = dev->fc;
	struct mqfuse_ring_setup setup;
	struct mqfuse_ring *ring;
	size_t req_off, rep_off, len;
	int err;

	if (copy_from_user(&setup, argp, sizeof(setup)))
		return -EFAULT;
	if (setup.flags || setup.reserved[0] || setup.reserved[1] || setup.mmap_len)
		return -EINVAL;
	if (!setup.entries || setup.entries > MQFUSE_RING_MAX_ENTRIES ||
	    !is_power_of_2(setup.entries))
		return -EINVAL;

	req_off = ALIGN(sizeof(struct mqfuse_ring_ctl), 64);
	rep_off = req_off + setup.entries * sizeof(struct mqfuse_ring_desc);
	len = PAGE_ALIGN(rep_off + setup.entries * sizeof(struct mqfuse_ring_desc));

	ring = kzalloc(sizeof(*ring), GFP_KERNEL);
	if (!ring)
		return -ENOMEM;
	ring->batch = kcalloc(fc->nr_queues, sizeof(*ring->batch), GFP_KERNEL);
	ring->ctl = vmalloc_user(len);	/* zeroed */
	if (!ring->batch || !ring->ctl) {
		mqfuse_ring_free(ring);
		return -ENOMEM;
	}
	ring->map_len = len;
	ring->entries = setup.entries;
	ring->req = (void *)ring->ctl + req_off;
	ring->rep = (void *)ring->ctl + rep_off;
	ring->ctl->entries = setup.entries;
	ring->ctl->req_off = req_off;
	ring->ctl->rep_off = rep_off;

	/* the size first: a ring is never installed for a caller that cannot learn it */
	if (put_user((u64)len, &argp->mmap_len)) {
		mqfuse_ring_free(ring);
		return -EFAULT;
	}
	if (mutex_lock_killable(&dev->ring_mutex)) {
		mqfuse_ring_free(ring);
		return -EINTR;
	}
	err = -EBUSY;
	if (dev->ring)
		goto out_unlock;
	err = -ENXIO;
	if (!dev->umem)
		goto out_unlock;
	err = -EINVAL;
	if (dev->umem->nr_bufs < setup.entries)
		goto out_unlock;
	ring->ctl->buf_size = dev->umem->buf_size;
	/* pairs with smp_load_acquire() in mqfuse_ring_mmap() */
	smp_store_release(&dev->ring, ring);
	atomic_inc(&fc->nr_rings);
	mutex_unlock(&dev->ring_mutex);
	return 0;

out_unlock:
	mutex_unlock(&dev->ring_mutex);
	mqfuse_ring_free(ring);
	return err;
}

/* Called with mmap_lock held: no ring_mutex here (it nests the other way). */
int mqfuse_ring_mmap(struct mqfuse_dev *dev, struct vm_area_struct *vma)
{
	/* pairs with smp_store_release() in mqfuse_ring_setup() */
	struct mqfuse_ring *ring = smp_load_acquire(&dev->ring);

	if (!ring)
		return -ENXIO;
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start > ring->map_len)
		return -EINVAL;
	/* a private copy would hide the daemon's indices from the kernel */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	/*
	 * A mapping holds the file: inherited by a forked helper that closed
	 * its copy of the fd, it would keep the daemon's fd from being
	 * released (no abort, no recovery) after the daemon died.
	 */
	vm_flags_set(vma, VM_DONTCOPY);
	return remap_vmalloc_range(vma, ring->ctl, 0);
}

/* The fd is going away (its requests were re-queued or ended). */
void mqfuse_ring_dev_release(struct mqfuse_dev *dev)
{
	if (dev->ring)
		atomic_dec(&dev->fc->nr_rings);
	mqfuse_ring_free(dev->ring);
	dev->ring = NULL;
	mqfuse_umem_free(dev->umem);
	dev->umem = NULL;
	mutex_destroy(&dev->ring_mutex);
}

/*
 * poll(2) on a ring fd: no EPOLLIN while the daemon holds every buffer
 * (RING_ENTER could hand nothing out); lockless, a hint like the rest of
 * poll.
 */
bool mqfuse_ring_full(struct mqfuse_dev *dev)
{
	struct mqfuse_ring *ring = smp_load_acquire(&dev->ring);

	return ring && READ_ONCE(ring->nr_held) == ring->entries;
}

/* ---- RING_ENTER ---- */

static void mqfuse_ring_put_buf(struct mqfuse_ring *ring, u32 buf)
{
	__clear_bit(buf, ring->held);
	WRITE_ONCE(ring->nr_held, ring->nr_held - 1);
}

/*
 * Take one reply descriptor. Returns false if it was refused. A held
 * buffer it names is given back in every case, so a daemon bug cannot
 * strand buffers; the request a refused reply was meant for keeps
 * waiting, as after a refused write(2).
 */
static bool mqfuse_ring_take_reply(struct mqfuse_dev *dev, struct mqfuse_ring *ring,
				   struct mqfuse_umem *u, const struct mqfuse_ring_desc *d)
{
	struct mqfuse_conn *fc = dev->fc;
	struct iov_iter it;
	ssize_t ret;

	if (d->buf >= ring->entries || !test_bit(d->buf, ring->held)) {
		mqfuse_bad_reply(fc, "ring: reply descriptor for buffer %u, not held by the daemon\n",
				 d->buf);
		return false;
	}
	if (!d->len && !d->flags) {
		mqfuse_ring_put_buf(ring, d->buf);
		return true;
	}
	if (d->off > u->buf_size || d->len > u->buf_size - d->off || d->flags) {
		mqfuse_bad_reply(fc, "ring: reply descriptor off %u len %u flags %#x outside buffer of %u bytes\n",
				 d->off, d->len, d->flags, u->buf_size);
		mqfuse_ring_put_buf(ring, d->buf);
		return false;
	}
	mqfuse_umem_iter(u, &it, ITER_SOURCE, d->buf, d->off, d->len);
	ret = mqfuse_dev_reply(fc, &it);
	mqfuse_ring_put_buf(ring, d->buf);
	return ret >= 0;
}

static void mqfuse_ring_take_replies(struct mqfuse_dev *dev, struct mqfuse_ring *ring,
				     struct mqfuse_umem *u, struct mqfuse_ring_enter *e)
{
	u32 tail, n, i, mask = ring->entries - 1;

	/* pairs with the daemon's release store of rep_tail */
	tail = smp_load_acquire(&ring->ctl->rep_tail);
	n = tail - ring->rep_head;
	if (n > ring->entries) {
		/* more than could ever be outstanding: take nothing, say it once per call */
		mqfuse_bad_reply(dev->fc, "ring: rep_tail %u is %u past rep_head %u (%u entries)\n",
				 tail, n, ring->rep_head, ring->entries);
		e->bad++;
		return;
	}
	for (i = 0; i < n; i++) {
		const struct mqfuse_ring_desc *shared = &ring->rep[ring->rep_head & mask];
		struct mqfuse_ring_desc d;

		/* one read of each field: the daemon may be rewriting them */
		d.buf = READ_ONCE(shared->buf);
		d.off = READ_ONCE(shared->off);
		d.len = READ_ONCE(shared->len);
		d.flags = READ_ONCE(shared->flags);
		ring->rep_head++;
		if (mqfuse_ring_take_reply(dev, ring, u, &d))
			e->replies++;
		else
			e->bad++;
		cond_resched();
	}
	/* descriptors read: the daemon may reuse their slots */
	smp_store_release(&ring->ctl->rep_head, ring->rep_head);
}

static u32 mqfuse_ring_free_buf(struct mqfuse_ring *ring)
{
	u32 b = find_next_zero_bit(ring->held, ring->entries, ring->next_buf);

	if (b >= ring->entries)
		b = find_first_zero_bit(ring->held, ring->entries);
	ring->next_buf = b + 1 < ring->entries ? b + 1 : 0;
	return b;
}

/*
 * Copy what a take produced into a free buffer. Returns the descriptor
 * length, 0 if nothing is to be published (the request failed and was
 * ended, e.g. too big for a buffer) or a negative errno.
 */
static ssize_t mqfuse_ring_fill(struct mqfuse_dev *dev, struct mqfuse_umem *u,
				struct mqfuse_take *t, u32 buf, u32 *offp)
{
	struct mqfuse_conn *fc = dev->fc;
	struct mqfuse_req *req;
	struct mqfuse_args *args;
	struct iov_iter it;
	size_t len, paged = 0, off = 0;
	int err;

	switch (t->kind) {
	case MQFUSE_TAKE_INTERRUPT:
		len = sizeof(struct fuse_in_header) + sizeof(struct fuse_interrupt_in);
		mqfuse_umem_iter(u, &it, ITER_DEST, buf, 0, len);
		*offp = 0;
		return mqfuse_dev_send_interrupt(t, &it);
	case MQFUSE_TAKE_FORGETS:
		/* max_forgets (mqfuse_ring_fetch()) keeps it inside the buffer */
		len = sizeof(struct fuse_in_header) + (t->nr_forgets == 1 ?
			sizeof(struct fuse_forget_in) : sizeof(struct fuse_batch_forget_in) +
			t->nr_forgets * sizeof(struct fuse_forget_one));
		mqfuse_umem_iter(u, &it, ITER_DEST, buf, 0, len);
		*offp = 0;
		return mqfuse_dev_send_forgets(fc, t, &it);
	case MQFUSE_TAKE_REQ:
		break;
	default:
		return 0;
	}

	req = t->req;
	req->reader = dev;	/* READING: ours alone; published by read_done's lock */
	args = req->args;
	len = req->in_h.len;
	if (args->in_pages && args->in_numargs)
		paged = args->in_args[args->in_numargs - 1].size;
	/* a page payload starts on a page boundary of the buffer */
	if (paged && paged <= len)
		off = round_up(len - paged, PAGE_SIZE) - (len - paged);
	if (off + len > u->buf_size) {
		mqfuse_queue_read_done(req, -E2BIG);
		return 0;
	}
	mqfuse_umem_iter(u, &it, ITER_DEST, buf, off, len);
	err = mqfuse_dev_copy_req_out(req, &it);
	mqfuse_queue_read_done(req, err ? -EIO : 0);	/* req may be gone after it */
	if (err)
		return 0;
	*offp = off;
	return len;
}

/* Hand out requests while there are free buffers; returns how many. */
static unsigned int mqfuse_ring_fetch(struct mqfuse_dev *dev, struct mqfuse_ring *ring,
				     struct mqfuse_umem *u)
{
	struct mqfuse_conn *fc = dev->fc;
	u32 mask = ring->entries - 1;
	unsigned int published = 0, max_forgets, i;

	max_forgets = (u->buf_size - sizeof(struct fuse_in_header) -
		       sizeof(struct fuse_batch_forget_in)) / sizeof(struct fuse_forget_one);
	max_forgets = min(max_forgets, MQFUSE_MAX_FORGET_BATCH);
	if (fc->minor < 16)
		max_forgets = 1;

	while (ring->nr_held < ring->entries && mqfuse_conn_usable(fc)) {
		struct mqfuse_ring_desc *d;
		struct mqfuse_take t;
		unsigned int qi;
		ssize_t len;
		u32 buf, off = 0;

		if (!mqfuse_dev_take(dev, &t, max_forgets))
			break;
		qi = t.q ? t.q->index : 0;
		buf = mqfuse_ring_free_buf(ring);
		len = mqfuse_ring_fill(dev, u, &t, buf, &off);
		if (len <= 0)
			continue;
		d = &ring->req[ring->req_tail & mask];
		WRITE_ONCE(d->buf, buf);
		WRITE_ONCE(d->off, off);
		WRITE_ONCE(d->len, len);
		WRITE_ONCE(d->flags, 0);
		ring->req_tail++;
		__set_bit(buf, ring->held);
		WRITE_ONCE(ring->nr_held, ring->nr_held + 1);
		if (t.kind == MQFUSE_TAKE_REQ && qi < fc->nr_queues)
			ring->batch[qi]++;
		published++;
		cond_resched();
	}
	if (!published)
		return 0;
	/* descriptors (and buffer contents) before the tail */
	smp_store_release(&ring->ctl->req_tail, ring->req_tail);
	for (i = 0; i < fc->nr_queues; i++) {
		if (ring->batch[i]) {
			mqfuse_queue_ring_batch(&fc->queues[i], ring->batch[i]);
			ring->batch[i] = 0;
		}
	}
	return published;
}

/*
 * Every request must fit a buffer, as every read(2) must (dev.c), and so
 * must its reply, built in the same buffer: a READ of max_read bytes (up
 * to max_pages pages, which may exceed max_write) with its header.  Other
 * replies are smaller than MQFUSE_UMEM_MIN_BUF (xattrs: 64 KiB at most,
 * readdir_size: 128 KiB at most).
 */
static bool mqfuse_ring_bufs_fit(struct mqfuse_conn *fc, struct mqfuse_umem *u)
{
	u32 payload = max(READ_ONCE(fc->max_write), READ_ONCE(fc->max_read));

	return mqfuse_conn_state(fc) == MQFUSE_CONN_INIT ||
	       u->buf_size >= PAGE_SIZE + payload;
}

static long mqfuse_ring_enter(struct mqfuse_dev *dev, struct mqfuse_ring_enter __user *argp)
{
	struct mqfuse_conn *fc = dev->fc;
	struct mqfuse_ring_enter e;
	struct mqfuse_ring *ring;
	struct mqfuse_umem *u;
	long err = 0;

	if (copy_from_user(&e, argp, sizeof(e)))
		return -EFAULT;
	if (e.min_req > 1 || (e.flags & ~MQFUSE_RING_ENTER_REPLIES_ONLY) || e.reserved ||
	    ((e.flags & MQFUSE_RING_ENTER_REPLIES_ONLY) && e.min_req))
		return -EINVAL;
	e.replies = e.requests = e.bad = 0;

	if (mutex_lock_interruptible(&dev->ring_mutex))
		return -ERESTARTSYS;
	ring = dev->ring;
	u = dev->umem;
	if (!ring || !u || u->nr_bufs < ring->entries) {
		err = -ENXIO;
		goto out_unlock;
	}
	if (unlikely(!READ_ONCE(fc->daemon_tgid_final)))
		mqfuse_conn_note_daemon(fc, dev);

	/* replies always: a buffer the daemon returns is never stranded */
	mqfuse_ring_take_replies(dev, ring, u, &e);
	for (;;) {
		if (e.flags & MQFUSE_RING_ENTER_REPLIES_ONLY)
			break;
		/* after the replies: an INIT reply sets max_write */
		if (!mqfuse_ring_bufs_fit(fc, u)) {
			err = -ENOBUFS;
			break;
		}
		e.requests += mqfuse_ring_fetch(dev, ring, u);
		if (e.requests || !e.min_req || ring->nr_held == ring->entries)
			break;
		if (!mqfuse_conn_usable(fc)) {
			err = -ENODEV;
			break;
		}
		/*
		 * Sleep without the mutex: UMEM_REG/DEREG, RING_SETUP and other
		 * threads' ENTERs (replies to hand in) must not wait for a
		 * request to come.
		 */
		mutex_unlock(&dev->ring_mutex);
		err = mqfuse_dev_wait(dev);
		if (!err && mutex_lock_interruptible(&dev->ring_mutex))
			err = -ERESTARTSYS;
		if (err)
			goto out;
		/* a UMEM_DEREG may have run meanwhile */
		ring = dev->ring;
		u = dev->umem;
		if (!u || u->nr_bufs < ring->entries) {
			err = -ENXIO;
			break;
		}
	}
	if (!err && !e.requests && !mqfuse_conn_usable(fc))
		err = -ENODEV;	/* as read(2): the session has ended */
out_unlock:
	mutex_unlock(&dev->ring_mutex);
out:
	/* what was done is reported; an error only when nothing was */
	if (e.replies || e.requests || e.bad)
		err = 0;
	if (!err && copy_to_user(argp, &e, sizeof(e)))
		err = -EFAULT;
	return err;
}

long mqfuse_ring_ioctl(struct mqfuse_dev *dev, unsigned int cmd, void __user *argp)
{
	switch (cmd) {
	case MQFUSE_IOC_UMEM_REG:
		return mqfuse_umem_reg(dev, argp);
	case MQFUSE_IOC_UMEM_DEREG:
		return mqfuse_umem_dereg(dev);
	case MQFUSE_IOC_RING_SETUP:
		return mqfuse_ring_setup(dev, argp);
	case MQFUSE_IOC_RING_ENTER:
		return mqfuse_ring_enter(dev, argp);
	}
	return -ENOTTY;
}
