// SPDX-License-Identifier: GPL-2.0
/*
 * Ring transport: one ring per serving thread's device fd
 * (uapi/mqfuse.h, "Ring transport and registered daemon memory").
 *
 * Layout.  The thread's region is @depth ring buffers of mq_ring_buf_size()
 * bytes (registered with the kernel as umem, buffer i of the ring at
 * region + i * buf_size) followed by a private reply buffer (not umem),
 * all registered with the thread's io_uring as fixed buffers (uring_io.c).
 * The kernel writes a request contiguously into a free buffer b at
 * [off, off + len) (a WRITE with its payload page aligned); the reply is
 * built in the same buffer, its payload at
 *
 *	R = round_up(off + len, 4096) + 4096
 *
 * (page aligned: READ data lands there by io_uring from the backing file)
 * and its fuse_out_header at R - 16, so that no payload is ever copied by
 * the daemon.  When R leaves less room than the request may need (its
 * size argument, else MQ_RING_SMALL_REPLY), the reply is built in the
 * private buffer instead and either copied into b (at most
 * MQ_RING_COPY_MAX bytes) or written with write(2).
 *
 * Descriptors.  Every request descriptor gets exactly one reply
 * descriptor naming its buffer: {b, R - 16, len} for a reply built in
 * place, {b, 0, 0} when there is no reply (FORGET, INTERRUPT, a SETLKW
 * handed to a lock waiter) or it went by write(2).  A batch is what one
 * MQFUSE_IOC_RING_ENTER published; the next ENTER hands its reply
 * descriptors in before it fetches the next batch: one system call per
 * batch.
 *
 * Asynchronous I/O.  In a batch, every READ and WRITE whose reply fits
 * in place is started first (dispatch.c, mq_dispatch_start(): its SQE
 * on the thread's io_uring, tagged with its buffer, its state in the
 * buffer's slot); the other requests are then served inline, one after
 * the other, while that I/O runs; then one io_uring_enter submits (if
 * not done yet) and waits for every completion, and each reply
 * descriptor is written and published as its CQE arrives.  A batch ends
 * with nothing in flight, so that between two batches every request
 * fetched is answered (hand-over, ring fallback).  Replies that go by
 * write(2) (journaled requests, lock waiters, no room in place) are
 * served inline, as before.
 *
 * Memory ordering (the contract of uapi/mqfuse.h): the kernel writes
 * request descriptors, then req_tail with release; we load req_tail with
 * acquire before reading them.  We write reply descriptors, then rep_tail
 * with release; the kernel loads it with acquire.  rep_head (the kernel's)
 * is loaded with acquire before a reply slot is reused.  Everything the
 * kernel wrote (descriptors, ctl) is read once into a local copy and
 * checked before use; a wrong descriptor is skipped with a warning.
 *
 * Only the serving thread touches its ring.  A lock waiter answering a
 * SETLKW (locks.c) writes to the fd (dispatch.c, MQ_REPLY_DETACHED).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <mqfuse.h>

#include "mqfused.h"

#define MQ_PAGE_SIZE		4096u
/* Room a reply without a size argument may take (READLINK: PATH_MAX). */
#define MQ_RING_SMALL_REPLY	4096u
/* Slack in a ring buffer past the largest WRITE and its reply header page. */
#define MQ_RING_SLACK		4096u
/* Largest reply copied into its ring buffer from the private one. */
#define MQ_RING_COPY_MAX	4096u
/* Ring buffers are aligned to this when the region is large (THP). */
#define MQ_HUGE_PAGE_SIZE	(2ul << 20)
#define MQ_RING_NO_BUF		UINT32_MAX
/* Default depth: the ring's buffers take at most this much memory. */
#define MQ_RING_DEFAULT_BYTES	(128ul << 20)
#define MQ_RING_DEFAULT_MIN	2u
#define MQ_RING_DEFAULT_MAX	64u

/* A buffer's READ or WRITE in flight on the io_uring. */
struct mq_ring_slot {
	struct mq_file_io f;
	char *outbuf;			/* its reply: fuse_out_header, payload */
	size_t outbuf_len;
	uint32_t off;			/* its request in the buffer */
	uint32_t len;
	bool busy;			/* in flight */
};

struct mq_ring {
	/* the shared mapping: struct mqfuse_ring_ctl, then the descriptors */
	struct mqfuse_ring_ctl *ctl;
	const struct mqfuse_ring_desc *req;	/* written by the kernel */
	struct mqfuse_ring_desc *rep;		/* written by us */
	void *map;			/* ctl; map_len bytes */
	size_t map_len;
	char *umem;			/* buffer i at umem + i * buf_size */
	size_t umem_len;
	uint32_t entries;		/* power of two: ring buffers */
	uint32_t buf_size;
	char *spare;			/* private reply buffer, spare_len bytes */
	size_t spare_len;
	bool mapped;			/* map and umem are ours to unmap */

	/* fields below are the serving thread's only */
	uint32_t req_head;		/* next request descriptor to serve */
	uint32_t rep_tail;		/* reply descriptors written */
	uint32_t cur_buf;		/* buffer being served, MQ_RING_NO_BUF */
	uint32_t cur_off;		/* its request: first byte */
	uint32_t cur_len;		/* and length */
	uint32_t cur_opcode;
	bool cur_answered;		/* its reply descriptor is written */
	struct mq_ring_slot *slots;	/* per buffer: asynchronous I/O */
	unsigned long warnings;		/* rate limit of mq_ring_warn() */
	unsigned int index;		/* thread index, for the log */
	struct mq_transport_stats delta; /* not yet in the thread's stats */
};

static int mq_ring_sys_ioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static void *mq_ring_sys_map(int fd, size_t len)
{
	return mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
}

static void mq_ring_sys_unmap(void *addr, size_t len)
{
	munmap(addr, len);
}

static const struct mq_ring_kops mq_ring_sys_kops = {
	.ioctl = mq_ring_sys_ioctl,
	.map = mq_ring_sys_map,
	.unmap = mq_ring_sys_unmap,
};

const struct mq_ring_kops *mq_ring_kops = &mq_ring_sys_kops;

static size_t mq_round_up(size_t v, size_t to)
{
	return (v + to - 1) / to * to;
}

/* The kernel can make these happen: the first and then every 1000th. */
#define mq_ring_warn(r, fmt, ...)					\
	do {								\
		if ((r)->warnings++ % 1000 == 0)			\
			mq_warn("thread %u: ring: " fmt " (%lu warnings)", \
				(r)->index, ##__VA_ARGS__, (r)->warnings); \
	} while (0)

/*
 * A request in its buffer, the WRITE payload page aligned after 4096 bytes
 * of headroom, then a page for the reply header, a reply's payload room
 * and slack: every request fits (ENTER refuses buffers below 4096 +
 * max_write with -ENOBUFS) and the reply of a small one fits after it.
 */
uint32_t mq_ring_buf_size(void)
{
	size_t size = mq_round_up(MQ_REQ_HDR_ROOM + mq_payload_room() +
				  MQ_PAGE_SIZE + MQ_RING_SLACK, MQ_PAGE_SIZE);

	return size < MQFUSE_UMEM_MIN_BUF ? MQFUSE_UMEM_MIN_BUF : size;
}

/* Header page (the out header in its last 16 bytes) + payload room. */
size_t mq_ring_spare_len(void)
{
	return mq_round_up(MQ_REQ_HDR_ROOM + mq_payload_room(), MQ_PAGE_SIZE);
}

unsigned int mq_ring_depth(const struct mq_ring *r)
{
	return r ? r->entries : 0;
}

/*
 * --ring-depth's default: the largest power of two whose buffers take at
 * most 128 MiB, from 2 to 64 (8 with the 8 MiB max_write, 64 from 1 MiB
 * down).
 */
unsigned int mq_ring_default_depth(void)
{
	uint64_t buf = mq_ring_buf_size();
	unsigned int depth = MQ_RING_DEFAULT_MIN;

	while (depth < MQ_RING_DEFAULT_MAX &&
	       2 * depth * buf <= MQ_RING_DEFAULT_BYTES)
		depth *= 2;
	return depth;
}

int mq_ring_attach(struct mq_ring **out, void *map, size_t map_len,
		   char *umem, size_t umem_len, uint32_t buf_size,
		   char *spare, size_t spare_len)
{
	struct mqfuse_ring_ctl *ctl = map;
	size_t descs, ctl_end = sizeof(*ctl);
	uint32_t entries, req_off, rep_off, kbuf;
	struct mq_ring *r;

	if (map_len < sizeof(*ctl) || (uintptr_t)map % 8)
		return -EPROTO;
	/* written by the kernel: read once */
	entries = __atomic_load_n(&ctl->entries, __ATOMIC_ACQUIRE);
	req_off = __atomic_load_n(&ctl->req_off, __ATOMIC_RELAXED);
	rep_off = __atomic_load_n(&ctl->rep_off, __ATOMIC_RELAXED);
	kbuf = __atomic_load_n(&ctl->buf_size, __ATOMIC_RELAXED);
	if (!entries || (entries & (entries - 1)) ||
	    entries > MQFUSE_RING_MAX_ENTRIES || kbuf != buf_size ||
	    buf_size % MQ_PAGE_SIZE || (size_t)entries * buf_size > umem_len ||
	    spare_len < MQ_REQ_HDR_ROOM + MQ_PAGE_SIZE)
		return -EPROTO;
	descs = (size_t)entries * sizeof(struct mqfuse_ring_desc);
	if (req_off % 8 || rep_off % 8 || req_off < ctl_end || rep_off < ctl_end ||
	    req_off > map_len || map_len - req_off < descs ||
	    rep_off > map_len || map_len - rep_off < descs ||
	    (req_off < rep_off ? rep_off - req_off : req_off - rep_off) < descs)
		return -EPROTO;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->slots = calloc(entries, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return -ENOMEM;
	}
	r->ctl = ctl;
	r->req = (const void *)((char *)map + req_off);
	r->rep = (void *)((char *)map + rep_off);
	r->map = map;
	r->map_len = map_len;
	r->umem = umem;
	r->umem_len = umem_len;
	r->entries = entries;
	r->buf_size = buf_size;
	r->spare = spare;
	r->spare_len = spare_len;
	/* a new ring starts at 0; these are ours to carry on from anyway */
	r->req_head = __atomic_load_n(&ctl->req_head, __ATOMIC_RELAXED);
	r->rep_tail = __atomic_load_n(&ctl->rep_tail, __ATOMIC_RELAXED);
	r->cur_buf = MQ_RING_NO_BUF;
	*out = r;
	return 0;
}

void mq_ring_free(struct mq_ring *r)
{
	if (!r)
		return;
	if (r->mapped) {
		mq_ring_kops->unmap(r->map, r->map_len);
		munmap(r->umem, r->umem_len + r->spare_len);
	}
	free(r->slots);
	free(r);
}

/*
 * Hand-over: drop the ring's mapping, which holds the device file as an
 * fd does, so that the kernel sees the fd released when the caller
 * closes it (the successor waits for that). The umem stays mapped: pinned
 * pages hold no file. Only for a thread that stopped serving.
 */
void mq_ring_unmap(struct mq_ring *r)
{
	if (!r || !r->mapped)
		return;
	mq_ring_kops->unmap(r->map, r->map_len);
	munmap(r->umem, r->umem_len + r->spare_len);
	r->mapped = false;
}

static void mq_ring_stats_flush(struct mq_thread *thr, struct mq_ring *r)
{
	r->delta.max_inflight = mq_uring_max_inflight(thr->uring);
	mq_stats_transport(&thr->stats, &r->delta);
	memset(&r->delta, 0, sizeof(r->delta));
}

/* Write reply descriptor {buf, off, len}; false if the reply ring is full. */
static bool mq_ring_put_reply(struct mq_ring *r, uint32_t buf, uint32_t off,
			      uint32_t len)
{
	uint32_t head = __atomic_load_n(&r->ctl->rep_head, __ATOMIC_ACQUIRE);
	struct mqfuse_ring_desc *d;

	/*
	 * Never while the kernel keeps to the contract: it hands out a
	 * buffer only after taking its reply descriptor, and each buffer
	 * gets one.
	 */
	if (r->rep_tail - head >= r->entries) {
		mq_ring_warn(r, "reply ring full (head %u, tail %u): buffer %u not returned",
			     head, r->rep_tail, buf);
		return false;
	}
	d = &r->rep[r->rep_tail & (r->entries - 1)];
	d->buf = buf;
	d->off = off;
	d->len = len;
	d->flags = 0;
	r->rep_tail++;
	r->delta.replies++;
	return true;
}

/* Make the reply descriptors written so far visible to the kernel. */
static void mq_ring_publish(struct mq_ring *r)
{
	__atomic_store_n(&r->ctl->rep_tail, r->rep_tail, __ATOMIC_RELEASE);
}

/* Where a copied reply of @len bytes fits in the buffer served; or -1. */
static long mq_ring_copy_place(const struct mq_ring *r, size_t len)
{
	size_t after = mq_round_up((size_t)r->cur_off + r->cur_len, 8);

	if (len > MQ_RING_COPY_MAX)
		return -1;
	if (after <= r->buf_size && r->buf_size - after >= len)
		return after;
	if (len <= r->cur_off)		/* before the request */
		return 0;
	return -1;
}

bool mq_ring_reply(struct mq_thread *thr, const char *hdr, size_t len,
		   bool may_record)
{
	struct mq_ring *r = thr->ring;
	const struct fuse_out_header *oh = (const void *)hdr;
	bool read_ok = r->cur_opcode == FUSE_READ && len >= sizeof(*oh) &&
		       !oh->error;
	char *b;
	long off;

	/* not a reply to the request being served, or its second one */
	if (r->cur_buf == MQ_RING_NO_BUF || r->cur_answered)
		return false;
	if (!may_record)
		goto by_write;
	b = r->umem + (size_t)r->cur_buf * r->buf_size;
	if (hdr >= b && len <= r->buf_size &&
	    (size_t)(hdr - b) <= r->buf_size - len) {
		off = hdr - b;
		if (read_ok)
			r->delta.umem_read_bytes += len - sizeof(*oh);
	} else {
		/* built in the private buffer */
		off = mq_ring_copy_place(r, len);
		if (off < 0)
			goto by_write;
		memcpy(b + off, hdr, len);
		if (read_ok)
			r->delta.copied_bytes += len - sizeof(*oh);
	}
	if (!mq_ring_put_reply(r, r->cur_buf, off, len))
		goto by_write;
	r->cur_answered = true;
	return true;

by_write:
	r->delta.write_replies++;
	return false;
}

/* The reply room a request may need (READ and the like: what it asks). */
static size_t mq_ring_reply_need(const char *req, uint32_t len)
{
	const struct fuse_in_header *in = (const void *)req;
	size_t need = MQ_RING_SMALL_REPLY, arg_len = len - sizeof(*in);
	const void *arg = in + 1;

	switch (in->opcode) {
	case FUSE_READ:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		if (arg_len >= sizeof(struct fuse_read_in))
			need = ((const struct fuse_read_in *)arg)->size;
		break;
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
		if (arg_len >= sizeof(struct fuse_getxattr_in))
			need = ((const struct fuse_getxattr_in *)arg)->size;
		break;
	}
	if (need < MQ_RING_SMALL_REPLY)
		need = MQ_RING_SMALL_REPLY;
	/* the handlers clamp to what the dev transport offers, too */
	return need < mq_payload_room() ? need : mq_payload_room();
}

/* Count the (checked) request of descriptor @d. */
static void mq_ring_account(struct mq_ring *r, const struct mqfuse_ring_desc *d)
{
	const struct fuse_in_header *in =
		(const void *)(r->umem + (size_t)d->buf * r->buf_size + d->off);

	if (in->opcode == FUSE_WRITE && d->len >= MQ_WRITE_HDR_LEN) {
		const struct fuse_write_in *wi = (const void *)(in + 1);
		size_t room = d->len - MQ_WRITE_HDR_LEN;

		r->delta.umem_write_bytes += wi->size < room ? wi->size : room;
	}
	r->delta.requests++;
}

/*
 * Make the request of descriptor @d the one being served: its request
 * and reply buffers.  False if its reply is built in the private buffer
 * (no room in place).
 */
static bool mq_ring_select(struct mq_thread *thr, struct mq_ring *r,
			   const struct mqfuse_ring_desc *d)
{
	char *b = r->umem + (size_t)d->buf * r->buf_size;
	const struct fuse_in_header *in = (const void *)(b + d->off);
	size_t reply = mq_round_up((size_t)d->off + d->len, MQ_PAGE_SIZE) +
		       MQ_PAGE_SIZE;
	size_t need = mq_ring_reply_need(b + d->off, d->len);

	r->cur_buf = d->buf;
	r->cur_off = d->off;
	r->cur_len = d->len;
	r->cur_opcode = in->opcode;
	r->cur_answered = false;
	thr->inbuf = b + d->off;
	thr->inbuf_len = d->len;
	if (reply <= r->buf_size && r->buf_size - reply >= need) {
		thr->outbuf = b + reply - sizeof(struct fuse_out_header);
		thr->outbuf_len = r->buf_size - reply +
				  sizeof(struct fuse_out_header);
		return true;
	}
	thr->outbuf = r->spare + MQ_REQ_HDR_ROOM - sizeof(struct fuse_out_header);
	thr->outbuf_len = r->spare_len - MQ_REQ_HDR_ROOM +
			  sizeof(struct fuse_out_header);
	return false;
}

/* The request being served is done: no reply, or it went by write(2)? */
static void mq_ring_deselect(struct mq_ring *r)
{
	if (!r->cur_answered)
		mq_ring_put_reply(r, r->cur_buf, 0, 0);
	r->cur_buf = MQ_RING_NO_BUF;
}

/* Serve the (checked) request of descriptor @d inline. */
static int mq_ring_serve_one(struct mq_thread *thr, struct mq_ring *r,
			     const struct mqfuse_ring_desc *d)
{
	int ret;

	if (!mq_ring_select(thr, r, d))
		r->delta.spare_replies++;
	ret = mq_dispatch(thr, d->len);
	mq_ring_deselect(r);
	return ret;
}

/*
 * Start the (checked) request of descriptor @d asynchronously if it is a
 * READ or WRITE whose reply fits in place; MQ_DISPATCH_INLINE if it must
 * be served inline (nothing done).
 */
static enum mq_dispatch_async mq_ring_start_one(struct mq_thread *thr,
						struct mq_ring *r,
						const struct mqfuse_ring_desc *d)
{
	const struct fuse_in_header *in =
		(const void *)(r->umem + (size_t)d->buf * r->buf_size + d->off);
	struct mq_ring_slot *slot = &r->slots[d->buf];
	enum mq_dispatch_async ret;

	if (!thr->uring || (in->opcode != FUSE_READ && in->opcode != FUSE_WRITE))
		return MQ_DISPATCH_INLINE;
	if (!mq_ring_select(thr, r, d)) {
		r->cur_buf = MQ_RING_NO_BUF;
		return MQ_DISPATCH_INLINE;
	}
	ret = mq_dispatch_start(thr, d->len, &slot->f, d->buf);
	switch (ret) {
	case MQ_DISPATCH_IN_FLIGHT:
		slot->outbuf = thr->outbuf;
		slot->outbuf_len = thr->outbuf_len;
		slot->off = d->off;
		slot->len = d->len;
		slot->busy = true;
		r->cur_buf = MQ_RING_NO_BUF;
		break;
	case MQ_DISPATCH_ANSWERED:
		mq_ring_deselect(r);
		break;
	case MQ_DISPATCH_INLINE:
		r->cur_buf = MQ_RING_NO_BUF;
		break;
	}
	return ret;
}

/* mq_uring_reap()'s callback: a completion of buffer @tag's I/O. */
static void mq_ring_io_done(void *ctx, uint64_t tag, int res)
{
	struct mq_thread *thr = ctx;
	struct mq_ring *r = thr->ring;
	struct mq_ring_slot *slot;

	if (tag >= r->entries || !r->slots[tag].busy) {
		mq_ring_warn(r, "io_uring completion for buffer %llu, not in flight",
			     (unsigned long long)tag);
		return;
	}
	slot = &r->slots[tag];
	r->cur_buf = tag;
	r->cur_off = slot->off;
	r->cur_len = slot->len;
	r->cur_opcode = slot->f.opcode;
	r->cur_answered = false;
	thr->outbuf = slot->outbuf;
	thr->outbuf_len = slot->outbuf_len;
	if (!mq_dispatch_complete(thr, &slot->f, res, tag)) {
		/* resumed after a short transfer: another SQE prepared */
		r->cur_buf = MQ_RING_NO_BUF;
		return;
	}
	slot->busy = false;
	mq_ring_deselect(r);
	/* the kernel takes it at the next ENTER; visible from now on */
	mq_ring_publish(r);
}

/*
 * A request descriptor as the kernel wrote it, checked: a buffer of the
 * ring not handed out twice in one batch (@seen), the request inside it,
 * 8-byte aligned, at least a fuse_in_header.  A bad one whose buffer is
 * known is given back ({buf, 0, 0}).
 */
static bool mq_ring_desc_ok(struct mq_ring *r, const struct mqfuse_ring_desc *d,
			    uint64_t *seen)
{
	if (d->buf >= r->entries) {
		mq_ring_warn(r, "request descriptor names buffer %u of %u: skipped",
			     d->buf, r->entries);
		goto bad;
	}
	if (seen[d->buf / 64] & (1ull << (d->buf % 64))) {
		mq_ring_warn(r, "buffer %u handed out twice in one batch: skipped",
			     d->buf);
		goto bad;
	}
	seen[d->buf / 64] |= 1ull << (d->buf % 64);
	if (d->len > r->buf_size || d->off > r->buf_size - d->len ||
	    d->off % 8 || d->len < sizeof(struct fuse_in_header)) {
		mq_ring_warn(r, "request at %u, %u bytes, in a buffer of %u: buffer returned",
			     d->off, d->len, r->buf_size);
		mq_ring_put_reply(r, d->buf, 0, 0);
		goto bad;
	}
	return true;

bad:
	r->delta.bad_descriptors++;
	return false;
}

int mq_ring_serve_batch(struct mq_thread *thr)
{
	struct mq_ring *r = thr->ring;
	uint64_t seen[MQFUSE_RING_MAX_ENTRIES / 64] = { 0 };
	struct mqfuse_ring_desc inline_reqs[MQFUSE_RING_MAX_ENTRIES];
	uint32_t tail, head = r->req_head, mask = r->entries - 1;
	unsigned int i, nr_inline = 0;
	bool destroyed = false;
	int served = 0;

	/* pairs with the kernel's release store: descriptors before tail */
	tail = __atomic_load_n(&r->ctl->req_tail, __ATOMIC_ACQUIRE);
	if (tail - head > r->entries) {
		mq_ring_warn(r, "%u request descriptors published for %u buffers: serving the last %u",
			     tail - head, r->entries, r->entries);
		r->delta.bad_descriptors += tail - head - r->entries;
		head = tail - r->entries;
	}
	/* READ and WRITE started, the others kept for after */
	for (; head != tail; head++) {
		const struct mqfuse_ring_desc *k = &r->req[head & mask];
		struct mqfuse_ring_desc d = {
			.buf = __atomic_load_n(&k->buf, __ATOMIC_RELAXED),
			.off = __atomic_load_n(&k->off, __ATOMIC_RELAXED),
			.len = __atomic_load_n(&k->len, __ATOMIC_RELAXED),
		};

		if (!mq_ring_desc_ok(r, &d, seen))
			continue;
		mq_ring_account(r, &d);
		served++;
		if (mq_ring_start_one(thr, r, &d) == MQ_DISPATCH_INLINE)
			inline_reqs[nr_inline++] = d;
	}
	/* the I/O runs while the others are served */
	if (nr_inline && mq_uring_inflight(thr->uring))
		mq_uring_submit(thr->uring);
	for (i = 0; i < nr_inline; i++) {
		/* after DESTROY too: what the kernel handed out is answered */
		if (mq_ring_serve_one(thr, r, &inline_reqs[i]) == -ENODEV)
			destroyed = true;
	}
	mq_uring_drain(thr->uring, mq_ring_io_done, thr);
	r->req_head = tail;
	/* the daemon's own field (the kernel never reads it): for a debugger */
	__atomic_store_n(&r->ctl->req_head, tail, __ATOMIC_RELAXED);
	mq_ring_publish(r);
	mq_ring_stats_flush(thr, r);
	return destroyed ? -ENODEV : served;
}

void mq_ring_flush(struct mq_thread *thr)
{
	struct mq_ring *r = thr->ring;
	uint32_t head = __atomic_load_n(&r->ctl->rep_head, __ATOMIC_ACQUIRE);
	ssize_t n;

	if (r->rep_tail - head > r->entries)
		head = r->rep_tail - r->entries;
	for (; head != r->rep_tail; head++) {
		const struct mqfuse_ring_desc *d = &r->rep[head & (r->entries - 1)];
		const char *reply = r->umem + (size_t)d->buf * r->buf_size + d->off;

		if (!d->len)
			continue;
		do {
			n = write(thr->devfd, reply, d->len);
		} while (n < 0 && errno == EINTR);
		if (n < 0 && errno != ENOENT && errno != ENODEV)
			mq_warn("thread %u: reply of ring buffer %u: %s", thr->index,
				d->buf, strerror(errno));
		r->delta.write_replies++;
	}
	mq_ring_stats_flush(thr, r);
}

/*
 * The ring is unusable (ENTER: -ENXIO, -ENOBUFS): hand in by write(2)
 * what was published, then serve by read(2)/write(2) from the same
 * region: the request read into buffer 0 (WRITE payload page aligned, as
 * mq_thread_buffers() does), the reply built in the private buffer.
 */
static void mq_ring_fallback(struct mq_thread *thr)
{
	struct mq_ring *r = thr->ring;

	mq_ring_flush(thr);
	thr->inbuf = r->umem + MQ_REQ_HDR_ROOM - MQ_WRITE_HDR_LEN;
	thr->inbuf_len = MQ_WRITE_HDR_LEN + mq_payload_room() + MQ_PAGE_SIZE;
	thr->outbuf = r->spare + MQ_REQ_HDR_ROOM - sizeof(struct fuse_out_header);
	thr->outbuf_len = r->spare_len - MQ_REQ_HDR_ROOM +
			  sizeof(struct fuse_out_header);
	mq_stats_set_transport(&thr->stats, 0, 0);
	/* the region stays: io_uring has it registered */
	r->mapped = false;
	mq_ring_kops->unmap(r->map, r->map_len);
	thr->ring = NULL;
	mq_ring_free(r);
}

int mq_ring_serve(struct mq_thread *thr)
{
	struct mq_ring *r = thr->ring;
	struct mqfuse_ring_enter e;
	unsigned long errors = 0;
	int ret;

	r->index = thr->index;
	for (;;) {
		/*
		 * Between two batches: every request fetched is answered,
		 * and what the last batch published is handed in by
		 * write(2): an ENTER would fetch requests we would then
		 * have to serve too.
		 */
		if (atomic_load_explicit(&mq_handover, memory_order_acquire)) {
			mq_info("thread %u: handing over", thr->index);
			mq_ring_flush(thr);
			return 0;
		}
		memset(&e, 0, sizeof(e));
		e.min_req = 1;
		ret = mq_ring_kops->ioctl(thr->devfd, MQFUSE_IOC_RING_ENTER, &e);
		if (ret == -ENODEV) {
			mq_info("thread %u: session ended", thr->index);
			return 0;
		}
		/* EINTR: a signal before anything was done (the wake-up) */
		if (ret == -EINTR || ret == -EAGAIN || ret == -ENOENT)
			continue;
		if (ret == -ENXIO || ret == -ENOBUFS) {
			mq_err("thread %u: ring enter: %s: serving by read/write",
			       thr->index, strerror(-ret));
			mq_ring_fallback(thr);
			return -EOPNOTSUPP;
		}
		if (ret) {
			/* Log the first and then every 1000th; do not spin. */
			if (errors++ % 1000 == 0)
				mq_err("thread %u: ring enter: %s (%lu errors)",
				       thr->index, strerror(-ret), errors);
			usleep(errors > 10 ? 10000 : 100);
			continue;
		}
		errors = 0;
		r->delta.batches++;
		if (e.bad) {
			r->delta.refused_replies += e.bad;
			mq_ring_warn(r, "the kernel refused %u reply descriptor(s)",
				     e.bad);
		}
		if (mq_ring_serve_batch(thr) == -ENODEV) {
			mq_info("thread %u: DESTROY received", thr->index);
			mq_ring_flush(thr);
			return 0;
		}
	}
}

/* Anonymous, page aligned, huge-page aligned and advised when large. */
static char *mq_ring_map_region(size_t len)
{
	size_t align = len >= MQ_HUGE_PAGE_SIZE ? MQ_HUGE_PAGE_SIZE : MQ_PAGE_SIZE;
	size_t map_len = len + align - MQ_PAGE_SIZE;
	char *p, *a;

	p = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = (char *)mq_round_up((uintptr_t)p, align);
	if (a > p)
		munmap(p, a - p);
	if (p + map_len > a + len)
		munmap(a + len, p + map_len - (a + len));
	/* optional: fewer TLB misses on the data path */
	madvise(a, len, MADV_HUGEPAGE);
	/*
	 * Pinned by the kernel (umem) and io_uring: a child's copy-on-write
	 * must not leave us writing to pages other than the pinned ones.
	 */
	madvise(a, len, MADV_DONTFORK);
	return a;
}

/*
 * UMEM_REG, RING_SETUP and the mapping for a ring of @depth buffers; on
 * failure *@step names what failed and nothing is left but, after a
 * RING_SETUP, the kernel's ring (it lives as long as the fd).
 */
static int mq_ring_try(struct mq_thread *thr, unsigned int depth,
		       const char **step)
{
	uint32_t buf_size = mq_ring_buf_size();
	size_t umem_len = (size_t)depth * buf_size, spare_len = mq_ring_spare_len();
	struct mqfuse_umem_reg reg;
	struct mqfuse_ring_setup setup;
	struct mq_ring *r;
	char *region;
	void *map;
	int ret;

	*step = "mapping the buffers";
	region = mq_ring_map_region(umem_len + spare_len);
	if (!region)
		return -ENOMEM;
	memset(&reg, 0, sizeof(reg));
	reg.addr = (uintptr_t)region;
	reg.len = umem_len;
	reg.buf_size = buf_size;
	*step = "MQFUSE_IOC_UMEM_REG";
	ret = mq_ring_kops->ioctl(thr->devfd, MQFUSE_IOC_UMEM_REG, &reg);
	if (ret)
		goto err_unmap;
	memset(&setup, 0, sizeof(setup));
	setup.entries = depth;
	*step = "MQFUSE_IOC_RING_SETUP";
	ret = mq_ring_kops->ioctl(thr->devfd, MQFUSE_IOC_RING_SETUP, &setup);
	if (ret)
		goto err_dereg;
	*step = "mapping the ring";
	if (!setup.mmap_len || setup.mmap_len != (size_t)setup.mmap_len) {
		ret = -EPROTO;
		goto err_dereg;
	}
	map = mq_ring_kops->map(thr->devfd, setup.mmap_len);
	if (map == MAP_FAILED) {
		ret = -errno;
		goto err_dereg;
	}
	*step = "the ring's layout";
	ret = mq_ring_attach(&r, map, setup.mmap_len, region, umem_len,
			     buf_size, region + umem_len, spare_len);
	if (!ret && r->entries != depth) {
		mq_ring_free(r);
		ret = -EPROTO;
	}
	if (ret)
		goto err_unmap_ring;
	r->mapped = true;
	r->index = thr->index;
	thr->ring = r;
	thr->region = region;
	thr->region_len = umem_len + spare_len;
	return 0;

err_unmap_ring:
	mq_ring_kops->unmap(map, setup.mmap_len);
err_dereg:
	mq_ring_kops->ioctl(thr->devfd, MQFUSE_IOC_UMEM_DEREG, NULL);
err_unmap:
	munmap(region, umem_len + spare_len);
	return ret;
}

/* Said once per process: the threads prepare one after the other. */
static bool mq_ring_fallback_warned;
static bool mq_ring_depth_warned;

void mq_ring_prepare(struct mq_thread *thr)
{
	unsigned int depth = mq_cfg.ring_depth ?: mq_ring_default_depth();
	const char *step = "";
	int ret;

	thr->ring = NULL;
	if (mq_cfg.transport != MQ_TRANSPORT_RING)
		return;
	if (mq_cfg.fs != MQ_FS_MQFUSE) {
		/* the default: stock FUSE is served by read/write, quietly */
		if (!mq_ring_fallback_warned && mq_cfg.transport_given)
			mq_warn("--transport=ring: %s is stock FUSE, which has no ring: serving by read/write",
				mq_cfg.devpath);
		mq_ring_fallback_warned = true;
		return;
	}
	for (;;) {
		ret = mq_ring_try(thr, depth, &step);
		/* memory that cannot be pinned (RLIMIT_MEMLOCK): fewer buffers */
		if ((ret == -ENOMEM || ret == -EPERM) && depth > 1) {
			depth /= 2;
			continue;
		}
		break;
	}
	if (!ret) {
		if (depth < (mq_cfg.ring_depth ?: mq_ring_default_depth()) &&
		    !mq_ring_depth_warned) {
			mq_warn("ring: thread %u: only %u buffer(s) of %u bytes could be pinned (RLIMIT_MEMLOCK?): ring depth %u",
				thr->index, depth, mq_ring_buf_size(), depth);
			mq_ring_depth_warned = true;
		}
		return;
	}
	if (!mq_ring_fallback_warned)
		mq_warn("--transport=ring: thread %u: %s: %s%s: serving by read/write",
			thr->index, step, strerror(-ret),
			ret == -ENOTTY || ret == -EINVAL ?
			" (a module without the ring transport)" : "");
	mq_ring_fallback_warned = true;
}
