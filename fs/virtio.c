// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse_virtio_v<GEN>: mqfuse over virtio-fs devices (virtio device id
 * 26; QEMU's vhost-user-fs-pci, served on the host by e.g. mqfused
 * --vhost-user).  A guest mounts with
 *
 *	mount -t mqfuse_virtio_v<GEN> -o virtqueues=N TAG /mnt
 *
 * and gets the core's client (consistency modes, per-CPU queues, 8 MiB
 * requests, sysfs and netlink) with the device's virtqueues as transport:
 * core queue i is request virtqueue i + 1 (queue 0 of the device is the
 * high-priority queue: FORGET and INTERRUPT), CPUs map to queues by the
 * device's interrupt affinity when it has one.
 *
 * Data path: a request is copied (mqfuse_dev_copy_req_out()) into a
 * buffer of ours that the device reads, and the device writes the reply
 * into another buffer of ours (zeroed: what the device does not write
 * is zeros, never old kernel memory), which mqfuse_dev_reply() takes as
 * it takes a daemon's write(2): every check of a reply (lengths, error
 * range, unique) applies to the device too, which is as untrusted as a
 * daemon.  The device never sees the core's pages or requests, only our
 * buffers, so a request may end (signal, abort, umount) while the device
 * still holds them; what the device returns late is dropped.  Buffers are
 * chunks of up to 64 KiB of contiguous pages, so that a chain (one
 * descriptor per chunk, through an indirect table) stays within the
 * queue size as the virtio spec requires: 8 MiB is 129 descriptors.
 *
 * Lifetimes and locking:
 * - mqv_lock (mutex) guards the device list and each device's binding to
 *   a session (dev->fc_owner, dev->removed, get/attach/detach/remove).
 * - fc->tpriv (RCU) points to the device while attached; the core's wake
 *   reads it under rcu_read_lock() and queues the virtqueue's work.
 *   Detach clears it, waits for RCU readers, then cancels the works.
 * - dev->fc (RCU) is the session the works serve; each buffer holds a
 *   reference on the session it was built for, and its reply is delivered
 *   only if that session is still the device's.
 * - vq->lock (mutex: both sides run in work items) serialises
 *   virtqueue_add_sgs, virtqueue_get_buf and the vq's overflow list; the
 *   interrupt callback only queues done_work.
 * - No MODULE_DEVICE_TABLE: loading this module must not take devices from
 *   virtiofs behind an administrator's back (admin-guide.rst).
 * - A device holds a kref: the driver's list one, a mount's get() one
 *   (passed to the session by a successful attach, dropped by detach; a
 *   failed attach leaves it to the core's put()).
 * - Between two sessions the device must have given back every buffer of
 *   the first (attach waits for that, then refuses with EBUSY), so no
 *   request of an old session reaches the back-end in a new one; at
 *   unbind what waited on the overflow lists is freed (the core failed
 *   those requests in its abort).
 * - The works run on a WQ_MEM_RECLAIM workqueue with fs reclaim off
 *   (memalloc_nofs_save): they are the daemon, and reclaim may wait for
 *   the WRITEs they carry.
 */
#include <linux/interrupt.h>
#include <linux/kref.h>
#include <linux/module.h>
#include <linux/ctype.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <linux/virtio_fs.h>
#include <linux/virtio_ids.h>
#include <linux/vmalloc.h>

#include "mqfuse_i.h"

#define MQV_NAME		"mqfuse_virtio_v" __stringify(MQFUSE_GEN)
#define MQV_TAG_MAX		36	/* virtio_fs_config.tag */
#define MQV_MAX_VQS		64	/* request queues used at most */
/* a unique no request has (even: not an INTERRUPT's): the DESTROY at umount */
#define MQV_DESTROY_UNIQUE	(1ULL << 62)
/* buffer chunks: up to 64 KiB of contiguous pages each */
#define MQV_CHUNK_ORDER		4
/* how long a new mount waits for the last session's buffers to come back */
#define MQV_DRAIN_MS		5000

static struct workqueue_struct *mqv_wq;

static unsigned int mqv_param_virtqueues;
module_param_named(virtqueues, mqv_param_virtqueues, uint, 0644);
MODULE_PARM_DESC(virtqueues,
		 "request virtqueues a mount uses without virtqueues= (0: all the device has)");

struct mqv_dev;

/* Pages for @len bytes: @nr chunks of 2^order[i] pages. */
struct mqv_pages {
	size_t len;
	unsigned int nr;
	struct bio_vec *bv;
	u8 *order;
};

/* One message on a virtqueue: the request (device reads) and reply room. */
struct mqv_buf {
	struct list_head list;		/* a vq's overflow list */
	struct mqfuse_conn *fc;		/* holds a reference; NULL: no reply wanted */
	u64 unique;			/* the reply must name it */
	struct mqv_pages in, out;
	struct scatterlist *sg;		/* in.nr then out.nr entries */
	unsigned int used;		/* bytes the device says it wrote */
};

struct mqv_vq {
	struct mqv_dev *dev;
	struct virtqueue *vq;
	unsigned int index;		/* in the device: 0 is hiprio */
	struct mutex lock;		/* vq add/get, overflow */
	struct list_head overflow;	/* built, waiting for room */
	atomic_t nr_overflow;		/* its length, read without the lock */
	struct work_struct send_work;	/* core queue -> virtqueue */
	struct work_struct done_work;	/* used buffers -> replies */
	atomic64_t sent, done, bad;	/* messages, and device errors */
	char name[24];
};

struct mqv_dev {
	struct kref ref;
	struct list_head entry;		/* mqv_devs, under mqv_lock */
	struct virtio_device *vdev;
	char tag[MQV_TAG_MAX + 1];
	unsigned int nr_req;		/* request virtqueues of the device */
	unsigned int nr_used;		/* those the session uses */
	struct mqv_vq *vqs;		/* [0] hiprio, [1..nr_req] requests */
	struct mqfuse_conn __rcu *fc;	/* the session served */
	struct mqfuse_conn *fc_owner;	/* the same, under mqv_lock */
	bool held;			/* a mount's get() not attached yet */
	bool removed;			/* the driver let go of it */
	wait_queue_head_t drained;	/* buffers came back (attach waits) */
};

static DEFINE_MUTEX(mqv_lock);
static LIST_HEAD(mqv_devs);
static const struct mqfuse_transport_ops mqv_transport;

static void mqv_dev_release(struct kref *ref)
{
	struct mqv_dev *d = container_of(ref, struct mqv_dev, ref);

	kfree(d->vqs);
	kfree(d);
}

static void mqv_dev_put(struct mqv_dev *d)
{
	kref_put(&d->ref, mqv_dev_release);
}

/* ---- buffers ---- */

static void mqv_pages_free(struct mqv_pages *pg)
{
	unsigned int i;

	for (i = 0; i < pg->nr; i++)
		__free_pages(pg->bv[i].bv_page, pg->order[i]);
	kfree(pg->bv);
	kfree(pg->order);
	pg->nr = 0;
	pg->bv = NULL;
	pg->order = NULL;
}

/*
 * Pages for @len bytes in at most @budget chunks (descriptors): big chunks
 * first, smaller ones when memory is fragmented, but never so small that
 * the rest could not fit the budget.  0 or -ENOMEM.
 */
static int mqv_pages_alloc(struct mqv_pages *pg, size_t len, bool zero,
			   unsigned int budget)
{
	unsigned int max = min_t(size_t, budget, DIV_ROUND_UP(len, PAGE_SIZE));
	gfp_t gfp = GFP_KERNEL | __GFP_NOWARN | (zero ? __GFP_ZERO : 0);
	size_t left = len;

	memset(pg, 0, sizeof(*pg));
	pg->len = len;
	if (!len)
		return 0;
	if (!max)
		return -E2BIG;
	pg->bv = kcalloc(max, sizeof(*pg->bv), GFP_KERNEL | __GFP_NOWARN);
	pg->order = kcalloc(max, sizeof(*pg->order), GFP_KERNEL | __GFP_NOWARN);
	if (!pg->bv || !pg->order)
		goto nomem;
	while (left) {
		unsigned int order = min_t(unsigned int, MQV_CHUNK_ORDER,
					   get_order(left));
		unsigned int chunks_left = max - pg->nr, min_order = 0;
		struct page *page = NULL;

		if (!chunks_left)
			goto nomem;
		/* the smallest chunk with which the rest still fits */
		while (min_order < order &&
		       DIV_ROUND_UP(left, PAGE_SIZE << min_order) > chunks_left)
			min_order++;
		for (;;) {
			page = alloc_pages(gfp | (order ? __GFP_NORETRY : 0), order);
			if (page || order <= min_order)
				break;
			order--;
		}
		if (!page)
			goto nomem;
		pg->order[pg->nr] = order;
		bvec_set_page(&pg->bv[pg->nr], page,
			      min_t(size_t, left, PAGE_SIZE << order), 0);
		left -= pg->bv[pg->nr].bv_len;
		pg->nr++;
	}
	return 0;
nomem:
	mqv_pages_free(pg);
	return -ENOMEM;
}

static void mqv_buf_free(struct mqv_buf *b)
{
	if (b->fc)
		mqfuse_conn_put(b->fc);
	mqv_pages_free(&b->in);
	mqv_pages_free(&b->out);
	kfree(b->sg);
	kfree(b);
}

/*
 * Buffers for @in_len request bytes and @out_len reply bytes (zeroed), in
 * at most @budget descriptors, with their scatterlists; NULL on failure.
 */
static struct mqv_buf *mqv_buf_alloc(size_t in_len, size_t out_len,
				     unsigned int budget)
{
	struct mqv_buf *b = kzalloc(sizeof(*b), GFP_KERNEL | __GFP_NOWARN);
	unsigned int i;

	if (!b)
		return NULL;
	if (budget < 2 || mqv_pages_alloc(&b->in, in_len, false, budget - 1) ||
	    mqv_pages_alloc(&b->out, out_len, true, budget - b->in.nr))
		goto fail;
	b->sg = kcalloc(b->in.nr + b->out.nr, sizeof(*b->sg),
			GFP_KERNEL | __GFP_NOWARN);
	if (!b->sg)
		goto fail;
	sg_init_table(b->sg, b->in.nr);
	for (i = 0; i < b->in.nr; i++)
		sg_set_page(&b->sg[i], b->in.bv[i].bv_page, b->in.bv[i].bv_len, 0);
	if (b->out.nr) {
		sg_init_table(b->sg + b->in.nr, b->out.nr);
		for (i = 0; i < b->out.nr; i++)
			sg_set_page(&b->sg[b->in.nr + i], b->out.bv[i].bv_page,
				    b->out.bv[i].bv_len, 0);
	}
	return b;
fail:
	mqv_buf_free(b);
	return NULL;
}

static void mqv_iter(struct iov_iter *it, unsigned int dir, struct mqv_pages *pg,
		     size_t len)
{
	iov_iter_bvec(it, dir, pg->bv, pg->nr, len);
}

/* The reply header, from the first chunk (a chunk is at least a page). */
static struct fuse_out_header *mqv_out_hdr(struct mqv_buf *b)
{
	return page_address(b->out.bv[0].bv_page);
}

/* @b will never reach the device: its request (if any) fails with EIO. */
static void mqv_fail(struct mqv_buf *b)
{
	if (b->fc) {
		struct fuse_out_header oh = {
			.len = sizeof(oh), .error = -EIO, .unique = b->unique,
		};
		struct kvec kv = { &oh, sizeof(oh) };
		struct iov_iter it;

		iov_iter_kvec(&it, WRITE, &kv, 1, sizeof(oh));
		mqfuse_dev_reply(b->fc, &it);
	}
	mqv_buf_free(b);
}

/* Under v->lock: hand @b to the device. */
static int mqv_add_locked(struct mqv_vq *v, struct mqv_buf *b)
{
	struct scatterlist *sgs[2] = { b->sg, b->sg + b->in.nr };
	int err;

	lockdep_assert_held(&v->lock);
	/* a chain never longer than the queue (virtio 1.1, 2.6.5.3.1) */
	if (b->in.nr + b->out.nr > virtqueue_get_vring_size(v->vq))
		return -E2BIG;
	err = virtqueue_add_sgs(v->vq, sgs, 1, b->out.nr ? 1 : 0, b,
				GFP_KERNEL | __GFP_NOWARN);
	if (!err)
		atomic64_inc(&v->sent);
	/* no room in an empty ring: it never fits (no indirect table) */
	if (err == -ENOSPC &&
	    v->vq->num_free == virtqueue_get_vring_size(v->vq))
		err = -E2BIG;
	return err;
}

/*
 * Queue @b on @v: at once if the ring has room and nothing waits before
 * it, else on the overflow list (sent when buffers come back).  Returns
 * true if the virtqueue needs a kick.
 */
static bool mqv_send(struct mqv_vq *v, struct mqv_buf *b)
{
	bool kick = false;
	int err = -ENOSPC;

	mutex_lock(&v->lock);
	if (list_empty(&v->overflow))
		err = mqv_add_locked(v, b);
	if (err == -ENOSPC) {
		list_add_tail(&b->list, &v->overflow);
		atomic_inc(&v->nr_overflow);
	} else if (!err) {
		kick = virtqueue_kick_prepare(v->vq);
	}
	mutex_unlock(&v->lock);
	if (err && err != -ENOSPC) {
		/* broken or too big for the ring: the request fails with EIO */
		pr_warn_ratelimited("virtio: virtqueue %u: add: %d\n", v->index, err);
		mqv_fail(b);
	}
	return kick;
}

/*
 * Under v->lock: move what waited on the overflow list into the ring;
 * what can never go is moved to @failed (failed by the caller, unlocked).
 */
static bool mqv_flush_overflow_locked(struct mqv_vq *v, struct list_head *failed)
{
	struct mqv_buf *b, *tmp;
	bool added = false;

	list_for_each_entry_safe(b, tmp, &v->overflow, list) {
		int err = mqv_add_locked(v, b);

		if (err == -ENOSPC)
			break;
		list_del(&b->list);
		atomic_dec(&v->nr_overflow);
		if (err) {
			pr_warn_ratelimited("virtio: virtqueue %u: add: %d\n",
					    v->index, err);
			list_add_tail(&b->list, failed);
			continue;
		}
		added = true;
	}
	return added && virtqueue_kick_prepare(v->vq);
}

static void mqv_fail_list(struct list_head *failed)
{
	struct mqv_buf *b, *tmp;

	list_for_each_entry_safe(b, tmp, failed, list) {
		list_del(&b->list);
		mqv_fail(b);
	}
}

/* ---- core -> device ---- */

static size_t mqv_reply_room(const struct mqfuse_args *args)
{
	size_t n = sizeof(struct fuse_out_header);
	unsigned int i;

	if (args->noreply)
		return 0;
	for (i = 0; i < args->out_numargs; i++)
		n += args->out_args[i].size;
	return n;
}

static unsigned int mqv_budget(struct mqv_vq *v)
{
	return virtqueue_get_vring_size(v->vq);
}

static void mqv_forgets_free(struct mqfuse_take *t)
{
	struct mqfuse_forget *f, *tmp;

	list_for_each_entry_safe(f, tmp, &t->forgets, list)
		kfree(f);
}

/*
 * A buffer for what @t took, to go on @v, or NULL (a request taken is then
 * failed; lost FORGETs only leak back-end nodes, as on the char device).
 */
static struct mqv_buf *mqv_build(struct mqfuse_conn *fc, struct mqv_vq *v,
				 struct mqfuse_take *t)
{
	struct mqv_buf *b;
	struct iov_iter it;
	ssize_t n;

	switch (t->kind) {
	case MQFUSE_TAKE_REQ: {
		struct mqfuse_req *req = t->req;
		int err = -ENOMEM;

		b = mqv_buf_alloc(req->in_h.len, mqv_reply_room(req->args),
				  mqv_budget(v));
		if (b) {
			mqv_iter(&it, READ, &b->in, b->in.len);
			err = mqfuse_dev_copy_req_out(req, &it);
			b->unique = req->in_h.unique;
		}
		/* the request waits for its reply from here on: not ours to touch */
		mqfuse_queue_read_done(req, err ? -EIO : 0);
		if (err) {
			if (b)
				mqv_buf_free(b);
			return NULL;
		}
		if (b->out.len) {
			mqfuse_conn_get(fc);
			b->fc = fc;
		}
		return b;
	}
	case MQFUSE_TAKE_INTERRUPT:
	case MQFUSE_TAKE_FORGETS: {
		size_t len = t->kind == MQFUSE_TAKE_INTERRUPT ?
			     sizeof(struct fuse_in_header) + sizeof(struct fuse_interrupt_in) :
			     sizeof(struct fuse_in_header) + sizeof(struct fuse_batch_forget_in) +
			     (size_t)t->nr_forgets * sizeof(struct fuse_forget_one);

		b = mqv_buf_alloc(len, 0, mqv_budget(v));
		if (!b) {
			if (t->kind == MQFUSE_TAKE_FORGETS)
				mqv_forgets_free(t);
			return NULL;
		}
		mqv_iter(&it, READ, &b->in, len);
		n = t->kind == MQFUSE_TAKE_FORGETS ?
		    mqfuse_dev_send_forgets(fc, t, &it) :
		    mqfuse_dev_send_interrupt(t, &it);
		if (n <= 0) {
			mqv_buf_free(b);
			return NULL;
		}
		/* the last chunk holds less than it may (a single FORGET) */
		b->in.bv[b->in.nr - 1].bv_len -= b->in.len - n;
		b->sg[b->in.nr - 1].length = b->in.bv[b->in.nr - 1].bv_len;
		b->in.len = n;
		return b;
	}
	default:
		return NULL;
	}
}

/* The session served through @d, referenced, or NULL. */
static struct mqfuse_conn *mqv_session_get(struct mqv_dev *d)
{
	struct mqfuse_conn *fc;

	rcu_read_lock();
	fc = rcu_dereference(d->fc);
	if (fc && !mqfuse_conn_tryget(fc))
		fc = NULL;
	rcu_read_unlock();
	return fc;
}

static void mqv_send_work(struct work_struct *work)
{
	struct mqv_vq *v = container_of(work, struct mqv_vq, send_work);
	struct mqv_dev *d = v->dev;
	struct mqv_vq *hi = &d->vqs[0];
	struct mqfuse_conn *fc = mqv_session_get(d);
	bool kick = false, kick_hi = false;
	struct mqfuse_queue *q;
	struct mqfuse_take t;
	unsigned int n = 0, nofs;
	LIST_HEAD(failed);

	if (!fc)
		return;
	nofs = memalloc_nofs_save();
	/* a work of the last session, run late: never past this one's queues */
	if (v->index < 1 || v->index > fc->nr_queues)
		goto out;
	q = &fc->queues[v->index - 1];
	mutex_lock(&v->lock);
	kick = mqv_flush_overflow_locked(v, &failed);
	mutex_unlock(&v->lock);
	mqv_fail_list(&failed);
	/* INIT first, alone on queue 0 (the core's rule for readers too) */
	if (mqfuse_conn_state(fc) == MQFUSE_CONN_INIT && v->index != 1)
		goto out;
	while (n++ < 256 && !atomic_read(&v->nr_overflow)) {
		/* FORGETs stay in the core while the hiprio queue is full */
		unsigned int max_forgets = atomic_read(&hi->nr_overflow) ? 0 :
			fc->minor < 16 ? 1 : MQFUSE_MAX_FORGET_BATCH;
		struct mqv_buf *b;

		if (!mqfuse_queue_take(q, &t, max_forgets, false))
			break;
		b = mqv_build(fc, t.kind == MQFUSE_TAKE_REQ ? v : hi, &t);
		if (!b)
			continue;
		if (t.kind == MQFUSE_TAKE_REQ)
			kick |= mqv_send(v, b);
		else
			kick_hi |= mqv_send(hi, b);
		/* the device may start while we build the next ones */
		if (kick && !(n % 16)) {
			virtqueue_notify(v->vq);
			kick = false;
		}
	}
	if (n > 256)	/* more may wait: let other work run first */
		queue_work(mqv_wq, &v->send_work);
out:
	if (kick)
		virtqueue_notify(v->vq);
	if (kick_hi)
		virtqueue_notify(hi->vq);
	memalloc_nofs_restore(nofs);
	mqfuse_conn_put(fc);
}

/* ---- device -> core ---- */

static void mqv_deliver(struct mqv_vq *v, struct mqfuse_conn *fc,
			struct mqv_buf *b, unsigned int len)
{
	const struct fuse_out_header *oh = mqv_out_hdr(b);
	struct fuse_out_header eio = {
		.len = sizeof(eio), .error = -EIO, .unique = b->unique,
	};
	struct kvec kv = { &eio, sizeof(eio) };
	struct iov_iter it;

	/*
	 * The device answers for the buffer it was given: its length must be
	 * the header's, within our room, and the header must name the
	 * request.  Anything else fails the request (EIO), as a daemon's
	 * malformed reply would.  The buffer was zeroed: bytes the device did
	 * not write are zeros, never old kernel memory.
	 */
	if (len < sizeof(*oh) || len > b->out.len || oh->len != len ||
	    oh->unique != b->unique) {
		atomic64_inc(&v->bad);
		pr_warn_ratelimited("virtio: virtqueue %u: bad reply for unique %llu (used %u of %zu bytes, header len %u unique %llu)\n",
				    v->index, b->unique, len, b->out.len,
				    len >= sizeof(*oh) ? oh->len : 0,
				    len >= sizeof(*oh) ? oh->unique : 0);
		iov_iter_kvec(&it, WRITE, &kv, 1, sizeof(eio));
	} else {
		mqv_iter(&it, WRITE, &b->out, len);
	}
	mqfuse_dev_reply(fc, &it);
}

static u64 mqv_outstanding(struct mqv_dev *d)
{
	u64 n = 0;
	unsigned int i;

	for (i = 0; i <= d->nr_req; i++)
		n += atomic64_read(&d->vqs[i].sent) - atomic64_read(&d->vqs[i].done);
	return n;
}

static void mqv_done_work(struct work_struct *work)
{
	struct mqv_vq *v = container_of(work, struct mqv_vq, done_work);
	struct mqv_dev *d = v->dev;
	struct mqfuse_conn *fc = mqv_session_get(d);
	struct mqv_buf *b, *tmp;
	bool kick = false, broken;
	unsigned int len, nofs = memalloc_nofs_save();
	LIST_HEAD(done);
	LIST_HEAD(failed);

	mutex_lock(&v->lock);
	do {
		virtqueue_disable_cb(v->vq);
		while ((b = virtqueue_get_buf(v->vq, &len))) {
			/* the length is the device's word: checked on delivery */
			b->used = len;
			list_add_tail(&b->list, &done);
			atomic64_inc(&v->done);
		}
	} while (!virtqueue_enable_cb(v->vq) && !virtqueue_is_broken(v->vq));
	broken = virtqueue_is_broken(v->vq);
	if (fc && !broken)
		kick = mqv_flush_overflow_locked(v, &failed);
	mutex_unlock(&v->lock);
	if (kick)
		virtqueue_notify(v->vq);
	mqv_fail_list(&failed);
	wake_up_all(&d->drained);

	list_for_each_entry_safe(b, tmp, &done, list) {
		list_del(&b->list);
		/* after an abort nobody waits: no "unknown unique" noise */
		if (b->fc && b->fc == fc && mqfuse_conn_usable(fc))
			mqv_deliver(v, fc, b, b->used);
		mqv_buf_free(b);
		cond_resched();
	}
	if (fc && broken) {
		/* what the ring held never comes back: its waiters must not hang */
		mqfuse_conn_abort(fc, "virtqueue broken by the device");
	} else if (fc) {
		unsigned int i, nr = min(d->nr_used, fc->nr_queues);

		/* room again, and INIT may have ended: every queue with work goes on */
		for (i = 1; i <= nr; i++)
			if (mqfuse_queue_has_work(&fc->queues[i - 1]) ||
			    atomic_read(&d->vqs[i].nr_overflow))
				queue_work(mqv_wq, &d->vqs[i].send_work);
	}
	memalloc_nofs_restore(nofs);
	if (fc)
		mqfuse_conn_put(fc);
}

static void mqv_vq_callback(struct virtqueue *vq)
{
	struct mqv_dev *d = vq->vdev->priv;

	queue_work(mqv_wq, &d->vqs[vq->index].done_work);
}

/* ---- transport ops (the core calls them) ---- */

static void mqv_wake(struct mqfuse_queue *q)
{
	struct mqfuse_conn *fc = q->fc;
	struct mqv_dev *d;

	rcu_read_lock();
	d = rcu_dereference(fc->tpriv);
	if (d) {
		unsigned int qi = q - fc->queues;

		if (qi < d->nr_used)
			queue_work(mqv_wq, &d->vqs[qi + 1].send_work);
	}
	rcu_read_unlock();
}

static void mqv_abort(struct mqfuse_conn *fc)
{
	/* the core failed every request; what the device returns is dropped */
}

/* Tell the device's back-end the session is over (its answer is not awaited). */
static void mqv_send_destroy(struct mqv_dev *d)
{
	struct mqv_vq *v = &d->vqs[1];
	struct fuse_in_header ih = {
		.len = sizeof(ih), .opcode = FUSE_DESTROY, .unique = MQV_DESTROY_UNIQUE,
	};
	struct kvec kv = { &ih, sizeof(ih) };
	struct iov_iter it;
	struct mqv_buf *b;

	b = mqv_buf_alloc(sizeof(ih), sizeof(struct fuse_out_header), mqv_budget(v));
	if (!b)
		return;
	mqv_iter(&it, READ, &b->in, sizeof(ih));
	if (copy_to_iter(kv.iov_base, kv.iov_len, &it) != sizeof(ih)) {
		mqv_buf_free(b);
		return;
	}
	if (mqv_send(v, b))
		virtqueue_notify(v->vq);
}

/* Under mqv_lock: end the binding of @d to its session. */
static void mqv_unbind_locked(struct mqv_dev *d, bool destroy)
{
	struct mqfuse_conn *fc = d->fc_owner;
	unsigned int i;

	lockdep_assert_held(&mqv_lock);
	if (!fc)
		return;
	rcu_assign_pointer(fc->tpriv, NULL);
	rcu_assign_pointer(d->fc, NULL);
	synchronize_rcu();
	/* completions first: they queue send works, which find no session */
	for (i = 0; i <= d->nr_req; i++)
		cancel_work_sync(&d->vqs[i].done_work);
	for (i = 0; i <= d->nr_req; i++)
		cancel_work_sync(&d->vqs[i].send_work);
	/* what never reached the ring: the core's abort failed those requests */
	for (i = 0; i <= d->nr_req; i++) {
		struct mqv_vq *v = &d->vqs[i];
		struct mqv_buf *b, *tmp;
		LIST_HEAD(drop);

		mutex_lock(&v->lock);
		list_splice_init(&v->overflow, &drop);
		atomic_set(&v->nr_overflow, 0);
		mutex_unlock(&v->lock);
		list_for_each_entry_safe(b, tmp, &drop, list) {
			list_del(&b->list);
			mqv_buf_free(b);
		}
	}
	d->fc_owner = NULL;
	if (destroy && !d->removed)
		mqv_send_destroy(d);
	mqfuse_conn_put(fc);
	mqv_dev_put(d);		/* the session's reference */
}

static void mqv_detach(struct mqfuse_conn *fc)
{
	struct mqv_dev *d;

	mutex_lock(&mqv_lock);
	d = rcu_dereference_protected(fc->tpriv, lockdep_is_held(&mqv_lock));
	if (d && d->fc_owner == fc)
		mqv_unbind_locked(d, true);
	mutex_unlock(&mqv_lock);
}

static const struct mqfuse_transport_ops mqv_transport = {
	.name	= "virtio",
	.wake	= mqv_wake,
	.abort	= mqv_abort,
	.detach	= mqv_detach,
};

/* ---- mount (the core's virtio context calls these) ---- */

static void *mqv_get(const char *tag, unsigned int *nr_vqs, unsigned int *dflt,
		     unsigned int *max_pages)
{
	struct mqv_dev *d, *found = NULL;
	bool busy = false;

	mutex_lock(&mqv_lock);
	list_for_each_entry(d, &mqv_devs, entry) {
		if (strcmp(d->tag, tag))
			continue;
		if (d->fc_owner || d->held) {
			busy = true;
			continue;
		}
		found = d;
		break;
	}
	if (found) {
		kref_get(&found->ref);
		found->held = true;
		*nr_vqs = min_t(unsigned int, found->nr_req, MQV_MAX_VQS);
		*dflt = READ_ONCE(mqv_param_virtqueues);
		/*
		 * The most pages a request may carry on its ring: one
		 * descriptor per 64 KiB chunk, the header's and the reply's.
		 */
		*max_pages = (virtqueue_get_vring_size(found->vqs[1].vq) - 2) <<
			     MQV_CHUNK_ORDER;
	}
	mutex_unlock(&mqv_lock);
	if (!found)	/* mount(8): "special device TAG does not exist" */
		return ERR_PTR(busy ? -EBUSY : -ENOENT);
	return found;
}

static void mqv_put(void *dev)
{
	struct mqv_dev *d = dev;

	mutex_lock(&mqv_lock);
	d->held = false;
	mutex_unlock(&mqv_lock);
	mqv_dev_put(d);
}

/*
 * CPUs to queues by the interrupt affinity of the request virtqueues, if
 * every one has one (else the core's even spread stays).
 */
static void mqv_map_cpus(struct mqv_dev *d, struct mqfuse_conn *fc,
			 unsigned int nr)
{
	unsigned int i, cpu;

	if (!d->vdev->config->get_vq_affinity)
		return;
	for (i = 0; i < nr; i++)
		if (!d->vdev->config->get_vq_affinity(d->vdev, i + 1))
			return;
	for (i = 0; i < nr; i++) {
		const struct cpumask *mask = d->vdev->config->get_vq_affinity(d->vdev, i + 1);

		for_each_cpu(cpu, mask)
			if (cpu < nr_cpu_ids)
				fc->cpu_to_queue[cpu] = i;
	}
}

/*
 * On failure the get()'s reference stays the caller's (the core's put()
 * drops it).  Before a new session, the device must have given back every
 * buffer of the last one: else a request of that session could reach the
 * back-end inside this one.
 */
static int mqv_attach(void *dev, struct mqfuse_conn *fc, unsigned int nr_vqs)
{
	struct mqv_dev *d = dev;
	long left;
	int err = 0;

	left = wait_event_killable_timeout(d->drained,
					   READ_ONCE(d->removed) || !mqv_outstanding(d),
					   msecs_to_jiffies(MQV_DRAIN_MS));
	mutex_lock(&mqv_lock);
	if (d->removed || d->fc_owner || !nr_vqs || nr_vqs > d->nr_req) {
		err = -ENODEV;
	} else if (left <= 0 && mqv_outstanding(d)) {
		dev_warn(&d->vdev->dev, "%s: the device still holds %llu buffers of its last session: mount refused\n",
			 d->tag, (unsigned long long)mqv_outstanding(d));
		err = left < 0 ? (int)left : -EBUSY;
	} else {
		d->held = false;
		d->nr_used = nr_vqs;
		mqv_map_cpus(d, fc, nr_vqs);
		mqfuse_conn_get(fc);
		d->fc_owner = fc;
		rcu_assign_pointer(d->fc, fc);
		rcu_assign_pointer(fc->tpriv, d);
	}
	mutex_unlock(&mqv_lock);
	return err;
}

static const struct mqfuse_virtio_ops mqv_vops = {
	.get	= mqv_get,
	.put	= mqv_put,
	.attach	= mqv_attach,
	.tops	= &mqv_transport,
};

static int mqv_init_fs_context(struct fs_context *fsc)
{
	return mqfuse_virtio_init_fs_context(fsc, &mqv_vops);
}

static struct file_system_type mqv_fs_type = {
	.owner			= THIS_MODULE,
	.name			= MQV_NAME,
	.init_fs_context	= mqv_init_fs_context,
	.kill_sb		= mqfuse_virtio_kill_sb,
};

/* ---- the virtio driver ---- */

static int mqv_find_vqs(struct mqv_dev *d, struct virtqueue **vqs,
			unsigned int nvqs)
{
	struct irq_affinity desc = { .pre_vectors = 1 };
	unsigned int i;
	int err;
#ifdef HAVE_VIRTQUEUE_INFO
	struct virtqueue_info *info = kcalloc(nvqs, sizeof(*info), GFP_KERNEL);

	if (!info)
		return -ENOMEM;
	for (i = 0; i < nvqs; i++) {
		info[i].name = d->vqs[i].name;
		info[i].callback = mqv_vq_callback;
	}
	err = virtio_find_vqs(d->vdev, nvqs, vqs, info, &desc);
	kfree(info);
#else
	vq_callback_t **cbs = kcalloc(nvqs, sizeof(*cbs), GFP_KERNEL);
	const char **names = kcalloc(nvqs, sizeof(*names), GFP_KERNEL);

	err = -ENOMEM;
	if (cbs && names) {
		for (i = 0; i < nvqs; i++) {
			cbs[i] = mqv_vq_callback;
			names[i] = d->vqs[i].name;
		}
		err = virtio_find_vqs(d->vdev, nvqs, vqs, cbs, names, &desc);
	}
	kfree(cbs);
	kfree(names);
#endif
	return err;
}

static int mqv_probe(struct virtio_device *vdev)
{
	struct virtqueue **vqs = NULL;
	struct mqv_dev *d, *o;
	unsigned int i, nvqs;
	u32 nr_req;
	int err = -ENOMEM;

	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (!d)
		return -ENOMEM;
	kref_init(&d->ref);
	d->vdev = vdev;
	virtio_cread_bytes(vdev, offsetof(struct virtio_fs_config, tag),
			   d->tag, MQV_TAG_MAX);
	d->tag[MQV_TAG_MAX] = '\0';
	virtio_cread_le(vdev, struct virtio_fs_config, num_request_queues, &nr_req);
	init_waitqueue_head(&d->drained);
	if (!d->tag[0] || !nr_req) {
		dev_err(&vdev->dev, "no tag or no request queue (%u): not served\n",
			nr_req);
		err = -EINVAL;
		goto fail;
	}
	for (i = 0; d->tag[i]; i++) {
		if (!isgraph(d->tag[i])) {
			dev_err(&vdev->dev, "tag with a character 0x%02x: not served\n",
				(u8)d->tag[i]);
			err = -EINVAL;
			goto fail;
		}
	}
	/* a device with more queues than we use: the rest stay unused */
	d->nr_req = min_t(u32, nr_req, MQV_MAX_VQS);
	nvqs = d->nr_req + 1;
	d->vqs = kcalloc(nvqs, sizeof(*d->vqs), GFP_KERNEL);
	vqs = kcalloc(nvqs, sizeof(*vqs), GFP_KERNEL);
	if (!d->vqs || !vqs)
		goto fail;
	for (i = 0; i < nvqs; i++) {
		struct mqv_vq *v = &d->vqs[i];

		v->dev = d;
		v->index = i;
		mutex_init(&v->lock);
		INIT_LIST_HEAD(&v->overflow);
		atomic_set(&v->nr_overflow, 0);
		INIT_WORK(&v->send_work, mqv_send_work);
		INIT_WORK(&v->done_work, mqv_done_work);
		if (i)
			snprintf(v->name, sizeof(v->name), "requests.%u", i - 1);
		else
			strscpy(v->name, "hiprio", sizeof(v->name));
	}
	vdev->priv = d;
	err = mqv_find_vqs(d, vqs, nvqs);
	if (err) {
		dev_err(&vdev->dev, "%u virtqueues: %d: not served\n", nvqs, err);
		goto fail;
	}
	for (i = 0; i < nvqs; i++)
		d->vqs[i].vq = vqs[i];
	kfree(vqs);
	mutex_lock(&mqv_lock);
	list_for_each_entry(o, &mqv_devs, entry) {
		if (!strcmp(o->tag, d->tag)) {
			mutex_unlock(&mqv_lock);
			dev_err(&vdev->dev, "tag '%s' already served by %s: not served\n",
				d->tag, dev_name(&o->vdev->dev));
			vdev->config->del_vqs(vdev);
			err = -EEXIST;
			goto fail;
		}
	}
	virtio_device_ready(vdev);
	list_add_tail(&d->entry, &mqv_devs);
	mutex_unlock(&mqv_lock);
	dev_info(&vdev->dev, "%s: tag '%s', %u request queue(s)%s\n", MQV_NAME,
		 d->tag, d->nr_req, nr_req > d->nr_req ? " (more unused)" : "");
	return 0;
fail:
	kfree(vqs);
	vdev->priv = NULL;
	mqv_dev_put(d);
	return err;
}

static void mqv_remove(struct virtio_device *vdev)
{
	struct mqv_dev *d = vdev->priv;
	struct mqfuse_conn *fc;
	unsigned int i;

	mutex_lock(&mqv_lock);
	list_del(&d->entry);
	WRITE_ONCE(d->removed, true);
	wake_up_all(&d->drained);
	fc = d->fc_owner;
	if (fc)
		mqfuse_conn_get(fc);
	mutex_unlock(&mqv_lock);
	if (fc) {
		/* its requests fail with ENOTCONN; umount still works */
		mqfuse_conn_abort(fc, "virtio device removed");
		mutex_lock(&mqv_lock);
		if (d->fc_owner == fc)
			mqv_unbind_locked(d, false);
		mutex_unlock(&mqv_lock);
		mqfuse_conn_put(fc);
	}
	virtio_reset_device(vdev);
	virtio_synchronize_cbs(vdev);
	for (i = 0; i <= d->nr_req; i++) {
		struct mqv_vq *v = &d->vqs[i];
		struct mqv_buf *b, *tmp;

		cancel_work_sync(&v->send_work);
		cancel_work_sync(&v->done_work);
		while ((b = virtqueue_detach_unused_buf(v->vq)))
			mqv_buf_free(b);
		list_for_each_entry_safe(b, tmp, &v->overflow, list) {
			list_del(&b->list);
			mqv_buf_free(b);
		}
		atomic_set(&v->nr_overflow, 0);
	}
	vdev->config->del_vqs(vdev);
	vdev->priv = NULL;
	mqv_dev_put(d);
}

/*
 * sysfs, per device (/sys/bus/virtio/devices/virtioN/): its tag, its
 * request queues, and per virtqueue the messages sent, the buffers the
 * device gave back and the replies it got wrong.
 */
static ssize_t tag_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct mqv_dev *d = dev_to_virtio(dev)->priv;

	return sysfs_emit(buf, "%s\n", d ? d->tag : "");
}
static DEVICE_ATTR_RO(tag);

static ssize_t request_queues_show(struct device *dev, struct device_attribute *attr,
				   char *buf)
{
	struct mqv_dev *d = dev_to_virtio(dev)->priv;

	return sysfs_emit(buf, "%u\n", d ? d->nr_req : 0);
}
static DEVICE_ATTR_RO(request_queues);

static ssize_t vq_stats_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct mqv_dev *d = dev_to_virtio(dev)->priv;
	unsigned int i;
	int n = 0;

	if (!d)
		return 0;
	for (i = 0; i <= d->nr_req; i++) {
		struct mqv_vq *v = &d->vqs[i];

		n += sysfs_emit_at(buf, n, "%s sent %lld done %lld bad %lld\n",
				   v->name, (long long)atomic64_read(&v->sent),
				   (long long)atomic64_read(&v->done),
				   (long long)atomic64_read(&v->bad));
	}
	return n;
}
static DEVICE_ATTR_RO(vq_stats);

static struct attribute *mqv_dev_attrs[] = {
	&dev_attr_tag.attr,
	&dev_attr_request_queues.attr,
	&dev_attr_vq_stats.attr,
	NULL,
};
ATTRIBUTE_GROUPS(mqv_dev);

static const struct virtio_device_id mqv_id_table[] = {
	{ VIRTIO_ID_FS, VIRTIO_DEV_ANY_ID },
	{}
};

#ifdef CONFIG_PM_SLEEP
/* what the device holds would not survive a reset: no suspend (as virtiofs) */
static int mqv_freeze(struct virtio_device *vdev)
{
	return -EOPNOTSUPP;
}

static int mqv_restore(struct virtio_device *vdev)
{
	return -EOPNOTSUPP;
}
#endif

static struct virtio_driver mqv_driver = {
	.driver.name	= MQV_NAME,
	.driver.owner	= THIS_MODULE,
	.driver.dev_groups = mqv_dev_groups,
	.id_table	= mqv_id_table,
	.probe		= mqv_probe,
	.remove		= mqv_remove,
#ifdef CONFIG_PM_SLEEP
	.freeze		= mqv_freeze,
	.restore	= mqv_restore,
#endif
};

static int __init mqv_init(void)
{
	int err;

	/* the works carry writeback: they must run under memory pressure */
	mqv_wq = alloc_workqueue("%s", WQ_UNBOUND | WQ_MEM_RECLAIM, 0, MQV_NAME);
	if (!mqv_wq)
		return -ENOMEM;
	err = register_virtio_driver(&mqv_driver);
	if (err)
		goto fail_wq;
	err = register_filesystem(&mqv_fs_type);
	if (err)
		goto fail_drv;
	return 0;
fail_drv:
	unregister_virtio_driver(&mqv_driver);
fail_wq:
	destroy_workqueue(mqv_wq);
	return err;
}

static void __exit mqv_exit(void)
{
	unregister_filesystem(&mqv_fs_type);
	unregister_virtio_driver(&mqv_driver);
	destroy_workqueue(mqv_wq);
}

module_init(mqv_init);
module_exit(mqv_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("mqfuse over virtio-fs devices (generation " __stringify(MQFUSE_GEN) ")");
