// SPDX-License-Identifier: GPL-2.0
/*
 * mqfused --vhost-user SOCKET DIR: a vhost-user-fs back-end.  QEMU (the
 * front-end) connects to SOCKET, shares the guest's memory, and hands us
 * the virtqueues of a vhost-user-fs-pci device; the guest's virtio-fs
 * driver puts FUSE requests in them.  Each virtqueue has its own serving
 * thread (run to completion: take a chain, serve it, put it in the used
 * ring, call the guest), which runs mqfused's own request code
 * (mq_dispatch) on DIR: the same checks and path confinement as for any
 * client.
 *
 * The guest is untrusted.  Everything it controls is read once into our
 * own memory before it is used: a descriptor is copied before its fields
 * are checked, the request bytes are copied into the thread's request
 * buffer before mq_dispatch() looks at them.  Every guest address is
 * translated through the memory table with its whole length checked
 * against the region that holds it.  A malformed chain is given back with
 * nothing written (used length 0); a ring that cannot be trusted any more
 * (a head index out of range, an available index that ran ahead by more
 * than the queue size) stops that queue until the front-end restarts it.
 *
 * Threads and locks:
 * - The control thread (mq_vhost_run) reads the socket.  It alone changes
 *   the memory table and a queue's configuration, and only while the
 *   queue's thread is stopped (vu_queue_stop() joins it), so a serving
 *   thread reads the table and its rings without a lock.
 * - vu_lock serialises the used rings and call fds with the answers of
 *   lock waiters (locks.c), which come from other threads; it is taken
 *   by the control thread around every change to the memory table or to a
 *   queue's state, so a waiter's answer sees either the old or the new.
 * - Ordering with the guest: avail->idx is read with acquire before the
 *   ring entry it publishes; used entries are written before used->idx is
 *   stored with release; a full fence separates that store from reading
 *   avail->flags (whether the guest wants to be called).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "mqfused.h"
#include "vhost_user.h"
#include "wire.h"

/* Descriptors a chain may have in all (8 MiB of 4 KiB pages and headers). */
#define VU_CHAIN_MAX	4096u
/* SETLKW requests of one queue waiting for their lock at once. */
#define VU_WAIT_MAX	1024u

struct vu_region {
	uint64_t gpa, size, uva;
	void *map;
	size_t map_len;
	char *host;		/* the region's first byte */
};

/* A chain answered later (SETLKW): where its reply goes, in guest terms. */
struct vu_wait {
	struct vu_wait *next;
	uint64_t unique;
	uint16_t head;
	unsigned int nseg;
	struct { uint64_t gpa; uint32_t len; } seg[];
};

struct vu_seg {
	char *p;
	uint32_t len;
	uint64_t gpa;
};

struct vu_queue {
	struct mq_thread thr;	/* first: the reply sink's argument */
	unsigned int index;
	/* configuration: the control thread, with the queue stopped */
	uint32_t num;
	uint64_t desc_uva, avail_uva, used_uva;
	bool addr_set;
	bool enabled;
	int kick_fd, call_fd, err_fd;
	uint16_t last_avail;	/* next available entry to take */
	/* running state */
	bool running;		/* a thread serves it (control thread only) */
	int stop_fd;		/* eventfd: the thread returns */
	pthread_t tid;
	struct vq_desc *desc;
	struct vq_avail *avail;
	struct vq_used *used;	/* under vu_lock: used, used_idx, live */
	uint16_t used_idx;
	bool live;		/* used and call_fd may be written */
	struct vu_wait *waits;	/* under vu_lock */
	unsigned int nwaits;
	/* the chain being served (serving thread only) */
	struct vu_seg *rd, *wr;
	unsigned int nrd, nwr;
	uint64_t wr_len;
	uint16_t head;
	uint64_t unique;
	bool answered;
	bool deferred;		/* its answer goes through waits */
	bool direct_read;	/* a READ's data goes straight to q->wr */
	struct iovec *iov;	/* payload segments (mq_thread.payload_iov) */
	unsigned long served, bad;
	uint64_t largest;	/* bytes of the largest request or reply room */
};

static struct {
	int sock;
	uint64_t features, protocol_features;
	bool owner;
	unsigned int nregions;
	struct vu_region regions[VU_MAX_MEM_REGIONS];
	struct vu_queue *queues[VU_FS_MAX_QUEUES];
} vu = { .sock = -1 };

static pthread_mutex_t vu_lock = PTHREAD_MUTEX_INITIALIZER;
/*
 * Held for reading by a serving thread while it runs a request, for
 * writing while the session is reset (vu_session_reset()).
 */
static pthread_rwlock_t vu_session_lock = PTHREAD_RWLOCK_INITIALIZER;
static const char *vu_sock_path;

#define VU_FEATURES	((1ull << VU_F_VERSION_1) | \
			 (1ull << VU_F_PROTOCOL_FEATURES) | \
			 (1ull << VU_F_INDIRECT_DESC))
#define VU_PROTOCOL_FEATURES	((1ull << VU_PF_MQ) | (1ull << VU_PF_REPLY_ACK))

/* ------------------------------------------------------ guest memory */

/*
 * Host address of [addr, addr + len) in one region, or NULL: @addr is a
 * guest physical address (@guest) or the front-end's virtual one.
 */
static char *vu_translate(uint64_t addr, uint64_t len, bool guest)
{
	unsigned int i;

	for (i = 0; i < vu.nregions; i++) {
		const struct vu_region *r = &vu.regions[i];
		uint64_t base = guest ? r->gpa : r->uva;

		if (addr >= base && addr - base < r->size &&
		    len <= r->size - (addr - base))
			return r->host + (addr - base);
	}
	return NULL;
}

static char *vu_gpa(uint64_t gpa, uint64_t len)
{
	return vu_translate(gpa, len, true);
}

static char *vu_uva(uint64_t uva, uint64_t len)
{
	return vu_translate(uva, len, false);
}

static void vu_unmap_all(void)
{
	unsigned int i;

	for (i = 0; i < vu.nregions; i++)
		munmap(vu.regions[i].map, vu.regions[i].map_len);
	vu.nregions = 0;
}

/* ----------------------------------------------------- the used ring */

static void vu_call(struct vu_queue *q)
{
	uint64_t one = 1;

	/* the used index is out before we look at what the guest asked */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&q->avail->flags, __ATOMIC_RELAXED) &
	    VQ_AVAIL_F_NO_INTERRUPT)
		return;
	if (q->call_fd >= 0 && write(q->call_fd, &one, sizeof(one)) < 0 &&
	    errno != EAGAIN)
		mq_warn("virtqueue %u: call: %s", q->index, strerror(errno));
}

/* Under vu_lock: chain @head is done with @len bytes written. */
static void vu_push_locked(struct vu_queue *q, uint16_t head, uint32_t len)
{
	struct vq_used_elem *e;

	if (!q->live)
		return;
	e = &q->used->ring[q->used_idx & (q->num - 1)];
	__atomic_store_n(&e->id, head, __ATOMIC_RELAXED);
	__atomic_store_n(&e->len, len, __ATOMIC_RELAXED);
	q->used_idx++;
	__atomic_store_n(&q->used->idx, q->used_idx, __ATOMIC_RELEASE);
	vu_call(q);
}

static void vu_push(struct vu_queue *q, uint16_t head, uint32_t len)
{
	pthread_mutex_lock(&vu_lock);
	vu_push_locked(q, head, len);
	pthread_mutex_unlock(&vu_lock);
}

/*
 * Copy @len bytes of @buf into @nseg segments of room @room.  Returns the
 * bytes written: @len, or with too little room the 16 bytes of an EIO
 * header for the same unique (the caller is told -ENOENT: what the reply
 * carried is undone), or 0 when not even that fits.
 */
static uint32_t vu_scatter(struct vu_seg *seg, unsigned int nseg,
			   uint64_t room, const void *buf, size_t len,
			   bool *whole)
{
	struct fuse_out_header eio;
	const char *p = buf;
	size_t left;
	unsigned int i;

	*whole = len <= room;
	if (!*whole) {
		if (room < sizeof(eio))
			return 0;
		memcpy(&eio, buf, sizeof(eio));
		eio.len = sizeof(eio);
		eio.error = -EIO;
		p = (const char *)&eio;
		len = sizeof(eio);
	}
	left = len;
	for (i = 0; i < nseg && left; i++) {
		size_t n = seg[i].len < left ? seg[i].len : left;

		memcpy(seg[i].p, p, n);
		p += n;
		left -= n;
	}
	return (uint32_t)len;
}

#ifdef MQ_VHOST_EVIL
/* The reply header as written into the chain's writable part. */
static void vu_copy_out_hdr(struct vu_queue *q, struct fuse_out_header *oh)
{
	char *p = (char *)oh;
	size_t left = sizeof(*oh);
	unsigned int i;

	for (i = 0; i < q->nwr && left; i++) {
		size_t n = q->wr[i].len < left ? q->wr[i].len : left;

		memcpy(p, q->wr[i].p, n);
		p += n;
		left -= n;
	}
}

static void vu_put_hdr(struct vu_queue *q, const struct fuse_out_header *oh)
{
	bool whole;

	vu_scatter(q->wr, q->nwr, q->wr_len, oh, sizeof(*oh), &whole);
}
#endif

/* ------------------------------------------------------- the replies */

/* Under vu_lock: the waiting chain of @q answering @unique, unlinked. */
static struct vu_wait *vu_wait_take(struct vu_queue *q, uint64_t unique)
{
	struct vu_wait **pp, *w;

	for (pp = &q->waits; (w = *pp); pp = &w->next) {
		if (w->unique == unique) {
			*pp = w->next;
			q->nwaits--;
			return w;
		}
	}
	return NULL;
}

static ssize_t vu_answer_wait(struct vu_queue *q, const void *buf, size_t len)
{
	const struct fuse_out_header *oh = buf;
	struct vu_seg seg[16];
	struct vu_wait *w;
	uint64_t room = 0;
	uint32_t done = 0;
	unsigned int i;
	bool whole = false;

	pthread_mutex_lock(&vu_lock);
	w = vu_wait_take(q, oh->unique);
	if (w && q->live) {
		for (i = 0; i < w->nseg; i++) {
			seg[i].p = vu_gpa(w->seg[i].gpa, w->seg[i].len);
			seg[i].len = w->seg[i].len;
			if (!seg[i].p)
				break;
			room += seg[i].len;
		}
		/* memory that went away since: give it back empty */
		if (i == w->nseg)
			done = vu_scatter(seg, w->nseg, room, buf, len, &whole);
		vu_push_locked(q, w->head, done);
	}
	pthread_mutex_unlock(&vu_lock);
	free(w);
	if (!w || !whole) {
		errno = ENOENT;
		return -1;
	}
	return len;
}

#ifdef MQ_VHOST_EVIL
/*
 * tests/mqfused_evil only (this file built with -DMQ_VHOST_EVIL): a
 * hostile back-end for the guest's virtio transport.  After INIT, most
 * replies are damaged in one of the ways below, chosen by the request's
 * number and MQ_VHOST_EVIL_SEED; the guest kernel must fail those requests
 * (or take them as they come), never crash or hang.  Returns the used
 * length to report.
 */
static bool vu_evil_break(struct vu_queue *q)
{
	const struct fuse_in_header *in = (const void *)q->thr.inbuf;
	static const char name[] = "break-ring";

	return in->opcode == FUSE_LOOKUP &&
	       in->len == sizeof(*in) + sizeof(name) &&
	       !memcmp(in + 1, name, sizeof(name));
}

static uint32_t vu_evil(struct vu_queue *q, uint32_t done)
{
	static unsigned int seed = ~0u;
	struct fuse_out_header oh;
	unsigned int k;

	if (seed == ~0u) {
		const char *e = getenv("MQ_VHOST_EVIL_SEED");

		seed = e ? (unsigned int)strtoul(e, NULL, 0) : 1;
	}
	if (done < sizeof(oh) || q->wr_len < sizeof(oh) ||
	    !atomic_load(&mq_conn.proto_minor) || q->served < 8)
		return done;	/* INIT and the mount's first steps go through */
	k = (unsigned int)(q->served * 7 + seed) % 10;
	vu_copy_out_hdr(q, &oh);
	switch (k) {
	case 0:
	case 1:
		return done;				/* as it should be */
	case 2:
		return done + 100;			/* more than written */
	case 3:
		return 0;				/* nothing */
	case 4:
		return 8;				/* half a header */
	case 5:
		oh.unique += 1;				/* another request's */
		break;
	case 6:
		oh.len += 4096;				/* a lying header */
		break;
	case 7:
		oh.error = (q->served & 1) ? -9999 : 5;	/* out of range */
		break;
	case 8: {					/* payload too long */
		uint32_t extra = done + 64 <= q->wr_len ? 64 : 0;

		oh.len += extra;
		vu_put_hdr(q, &oh);
		return done + extra;
	}
	default: {					/* garbage */
		unsigned int i;

		for (i = 0; i < q->nwr; i++)
			memset(q->wr[i].p, 0xa5, q->wr[i].len);
		return done;
	}
	}
	vu_put_hdr(q, &oh);
	return done;
}
#endif

static ssize_t vu_reply_sink(struct mq_thread *thr, const void *buf,
			     size_t len)
{
	struct vu_queue *q = (struct vu_queue *)thr;
	const struct fuse_out_header *oh = buf;
	uint32_t done;
	bool whole;

	if (len < sizeof(*oh)) {
		errno = EINVAL;
		return -1;
	}
	if (!oh->unique) {
		/* a notification: virtio-fs on these kernels has no queue for them */
		errno = ENOSYS;
		return -1;
	}
	if (!pthread_equal(pthread_self(), q->tid) || q->deferred ||
	    q->answered || oh->unique != q->unique)
		return vu_answer_wait(q, buf, len);
	if (q->direct_read && !oh->error && len >= sizeof(*oh) &&
	    len - sizeof(*oh) <= q->thr.payload_len) {
		/* the data is in the guest's pages already: the header only */
		vu_scatter(q->wr, q->nwr, q->wr_len, buf, sizeof(*oh), &whole);
		done = len;
	} else {
		done = vu_scatter(q->wr, q->nwr, q->wr_len, buf, len, &whole);
	}
	q->answered = true;
#ifdef MQ_VHOST_EVIL
	done = vu_evil(q, done);
	/* LOOKUP "break-ring": a used entry naming no chain breaks the ring */
	if (vu_evil_break(q)) {
		vu_push(q, (uint16_t)(q->num + 7), done);
		return len;
	}
#endif
	vu_push(q, q->head, done);
	if (!whole) {
		errno = ENOENT;
		return -1;
	}
	return len;
}

/* ---------------------------------------------------------- a chain */

static bool vu_bad(struct vu_queue *q, const char *why, uint16_t head)
{
	q->bad++;
	if (q->bad <= 10 || !(q->bad & (q->bad - 1)))
		mq_warn("virtqueue %u: chain %u: %s: given back empty (%lu so far)",
			q->index, head, why, q->bad);
	return false;
}

static bool vu_add_seg(struct vu_queue *q, const struct vq_desc *d,
		       uint16_t head)
{
	struct vu_seg *s;
	char *p;

	if (d->flags & VQ_DESC_F_WRITE) {
		s = &q->wr[q->nwr];
		q->wr_len += d->len;
	} else {
		if (q->nwr)
			return vu_bad(q, "a readable descriptor after a writable one", head);
		s = &q->rd[q->nrd];
	}
	if (!d->len)
		return true;
	p = vu_gpa(d->addr, d->len);
	if (!p)
		return vu_bad(q, "descriptor outside guest memory", head);
	if (q->nrd + q->nwr >= VU_CHAIN_MAX)
		return vu_bad(q, "too many descriptors", head);
	s->p = p;
	s->len = d->len;
	s->gpa = d->addr;
	if (d->flags & VQ_DESC_F_WRITE)
		q->nwr++;
	else
		q->nrd++;
	return true;
}

/* Walk chain @head into q->rd and q->wr.  False: malformed (logged). */
static bool vu_walk(struct vu_queue *q, uint16_t head)
{
	const struct vq_desc *table = q->desc;
	uint32_t size = q->num, idx = head, count = 0;
	bool indirect = false;
	struct vq_desc d;

	q->nrd = q->nwr = 0;
	q->wr_len = 0;
	for (;;) {
		if (idx >= size)
			return vu_bad(q, "descriptor index out of range", head);
		if (++count > size)
			return vu_bad(q, "descriptor loop", head);
		memcpy(&d, (const void *)&table[idx], sizeof(d));
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (d.flags & VQ_DESC_F_INDIRECT) {
			if (indirect)
				return vu_bad(q, "indirect descriptor in an indirect table", head);
			if (d.flags & VQ_DESC_F_NEXT)
				return vu_bad(q, "indirect descriptor with NEXT", head);
			if (!(vu.features & (1ull << VU_F_INDIRECT_DESC)))
				return vu_bad(q, "indirect descriptor not negotiated", head);
			if (!d.len || d.len % sizeof(d) ||
			    d.len / sizeof(d) > VU_CHAIN_MAX)
				return vu_bad(q, "indirect table size", head);
			table = (const void *)vu_gpa(d.addr, d.len);
			if (!table)
				return vu_bad(q, "indirect table outside guest memory", head);
			if ((uintptr_t)table % _Alignof(struct vq_desc))
				return vu_bad(q, "indirect table misaligned", head);
			size = d.len / sizeof(d);
			idx = 0;
			count = 0;
			indirect = true;
			continue;
		}
		if (!vu_add_seg(q, &d, head))
			return false;
		if (!(d.flags & VQ_DESC_F_NEXT))
			return true;
		idx = d.next;
	}
}

static bool vu_no_reply_op(uint32_t opcode)
{
	return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET ||
	       opcode == FUSE_INTERRUPT;
}

/* SETLKW: its answer may come from a lock waiter, later. */
static bool vu_wait_register(struct vu_queue *q, uint64_t unique)
{
	struct vu_wait *w;
	unsigned int i;

	if (q->nwaits >= VU_WAIT_MAX)
		return false;
	w = malloc(sizeof(*w) + q->nwr * sizeof(w->seg[0]));
	if (!w)
		return false;
	w->unique = unique;
	w->head = q->head;
	w->nseg = q->nwr < 16 ? q->nwr : 16;	/* a lock reply is a header */
	for (i = 0; i < w->nseg; i++) {
		w->seg[i].gpa = q->wr[i].gpa;
		w->seg[i].len = q->wr[i].len;
	}
	pthread_mutex_lock(&vu_lock);
	w->next = q->waits;
	q->waits = w;
	q->nwaits++;
	pthread_mutex_unlock(&vu_lock);
	return true;
}

/* Per queue: requests served, malformed chains, the largest request. */
static void vu_log_stats(const char *why)
{
	unsigned int i;

	mq_info("%s", why);
	for (i = 0; i < VU_FS_MAX_QUEUES; i++) {
		struct vu_queue *q = vu.queues[i];

		if (q && (q->served || q->bad))
			mq_info("virtqueue %u: %lu requests, %lu malformed chains, largest %llu bytes",
				i, q->served, q->bad,
				(unsigned long long)q->largest);
	}
}

/*
 * An INIT while a session exists: the guest's driver started over (a
 * mount after an umount, a reboot, a reset).  The old session's inodes,
 * handles and locks mean nothing to it: forget them all and start from the
 * root again.  Called with vu_session_lock held for writing, so no request
 * runs meanwhile.  0 or -errno (the INIT then fails).
 */
static int vu_session_reset(void)
{
	struct stat st;
	unsigned int i;
	int fd, ret;

	errno = 0;
	if (!atomic_load(&mq_conn.proto_minor))
		return 0;		/* another thread reset it first */
	mq_info("INIT again: the guest started a new session; the old one (%llu inodes, %llu handles) is forgotten",
		(unsigned long long)mq_itable_count(),
		(unsigned long long)mq_handles_count());
	ret = mq_locks_drain(5000);
	if (ret) {
		mq_err("new session: lock waiters did not end: %s", strerror(-ret));
		return ret;
	}
	pthread_mutex_lock(&vu_lock);
	for (i = 0; i < VU_FS_MAX_QUEUES; i++) {
		struct vu_queue *q = vu.queues[i];
		struct vu_wait *w;

		while (q && (w = q->waits)) {
			/* answered EINTR by the drain unless the queue stopped */
			q->waits = w->next;
			q->nwaits--;
			vu_push_locked(q, w->head, 0);
			free(w);
		}
	}
	pthread_mutex_unlock(&vu_lock);
	mq_handles_release_all();
	mq_itable_destroy();
	/* with the table gone, nothing could be served: a failure here ends us */
	fd = open(mq_cfg.backend_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || (errno = -mq_itable_init(fd, &st))) {
		mq_err("new session: %s: %s: exiting", mq_cfg.backend_dir,
		       strerror(errno));
		_exit(1);
	}
	mq_conn.max_write = 0;
	mq_conn.flags = 0;
	atomic_store(&mq_conn.destroyed, false);
	atomic_store(&mq_conn.proto_minor, 0);
	return 0;
}

/* The first @len bytes of the readable part of the chain into @dst. */
static void vu_copy_in(struct vu_queue *q, char *dst, size_t len)
{
	unsigned int i;
	size_t off = 0;

	for (i = 0; i < q->nrd && off < len; i++) {
		size_t n = q->rd[i].len < len - off ? q->rd[i].len : len - off;

		memcpy(dst + off, q->rd[i].p, n);
		off += n;
	}
}

/* @segs from byte @skip on as iovecs in @iov; returns how many. */
static unsigned int vu_seg_iov(const struct vu_seg *segs, unsigned int nseg,
			       size_t skip, struct iovec *iov)
{
	unsigned int i, n = 0;

	for (i = 0; i < nseg; i++) {
		if (skip >= segs[i].len) {
			skip -= segs[i].len;
			continue;
		}
		iov[n].iov_base = segs[i].p + skip;
		iov[n].iov_len = segs[i].len - skip;
		skip = 0;
		n++;
	}
	return n;
}

/* Answer the chain being served with @err alone. */
static void vu_answer_error(struct vu_queue *q, uint64_t unique, int err)
{
	char hdr[sizeof(struct fuse_out_header)];
	bool whole;

	q->answered = true;
	vu_push(q, q->head, vu_scatter(q->wr, q->nwr, q->wr_len, hdr,
				       mq_build_reply(hdr, unique, err, 0),
				       &whole));
}

static void vu_serve_chain_in(struct vu_queue *q, uint16_t head)
{
	struct fuse_in_header *in = (void *)q->thr.inbuf;
	uint64_t rd_len = 0;
	unsigned int i;
	size_t copy;

	q->head = head;
	q->answered = false;
	q->deferred = false;
	q->unique = 0;
	if (!vu_walk(q, head)) {
		vu_push(q, head, 0);
		return;
	}
	for (i = 0; i < q->nrd; i++)
		rd_len += q->rd[i].len;
	if (rd_len < sizeof(*in)) {
		vu_bad(q, "no room for a request header", head);
		vu_push(q, head, 0);
		return;
	}
	/*
	 * One copy out of guest memory: the guest cannot change it under us.
	 * A WRITE's payload stays where it is (written to the file from
	 * there), only its headers are copied.
	 */
	copy = rd_len < q->thr.inbuf_len ? rd_len : q->thr.inbuf_len;
	vu_copy_in(q, q->thr.inbuf, copy < MQ_WRITE_HDR_LEN ? copy : MQ_WRITE_HDR_LEN);
	if (in->opcode == FUSE_WRITE && rd_len > MQ_WRITE_HDR_LEN &&
	    in->len == rd_len) {
		q->thr.payload_niov = vu_seg_iov(q->rd, q->nrd, MQ_WRITE_HDR_LEN,
						 q->iov);
		q->thr.payload_len = rd_len - MQ_WRITE_HDR_LEN;
		q->thr.payload_iov = q->iov;
	} else if (copy > MQ_WRITE_HDR_LEN) {
		vu_copy_in(q, q->thr.inbuf, copy);
	}
	q->unique = in->unique;
	q->served++;
	if (rd_len > q->largest)
		q->largest = rd_len;
	if (q->wr_len > q->largest)
		q->largest = q->wr_len;
	if (rd_len > q->thr.inbuf_len) {
		q->bad++;
		if (q->bad <= 10 || !(q->bad & (q->bad - 1)))
			mq_warn("virtqueue %u: request of %llu bytes (room %zu): EIO (%lu malformed so far)",
				q->index, (unsigned long long)rd_len,
				q->thr.inbuf_len, q->bad);
		vu_answer_error(q, in->unique, -EIO);
		return;
	}
	/* a READ's data goes straight to the guest's pages after the header */
	if (in->opcode == FUSE_READ && q->wr_len > sizeof(struct fuse_out_header)) {
		q->thr.payload_niov = vu_seg_iov(q->wr, q->nwr,
						 sizeof(struct fuse_out_header),
						 q->iov);
		q->thr.payload_len = q->wr_len - sizeof(struct fuse_out_header);
		q->thr.payload_iov = q->iov;
		q->direct_read = true;
	}
	if (in->opcode == FUSE_SETLKW) {
		if (!vu_wait_register(q, in->unique)) {
			vu_answer_error(q, in->unique, -ENOLCK);
			return;
		}
		q->deferred = true;
	}
	if (in->opcode == FUSE_INIT && atomic_load(&mq_conn.proto_minor)) {
		int ret;

		pthread_rwlock_wrlock(&vu_session_lock);
		ret = vu_session_reset();
		pthread_rwlock_unlock(&vu_session_lock);
		if (ret) {
			vu_answer_error(q, in->unique, ret);
			return;
		}
	}
	pthread_rwlock_rdlock(&vu_session_lock);
	mq_dispatch(&q->thr, rd_len);
	pthread_rwlock_unlock(&vu_session_lock);
	if (in->opcode == FUSE_DESTROY)
		vu_log_stats("the guest ended the session (DESTROY)");
	if (q->answered || q->deferred)
		return;
	/* FORGET and the like have no reply; the chain still goes back */
	if (!vu_no_reply_op(in->opcode))
		mq_dbg("virtqueue %u: %u unanswered", q->index, in->opcode);
	vu_push(q, head, 0);
}

static void vu_serve_chain(struct vu_queue *q, uint16_t head)
{
	vu_serve_chain_in(q, head);
	/* the payload segments were this request's only */
	q->thr.payload_iov = NULL;
	q->thr.payload_niov = 0;
	q->thr.payload_len = 0;
	q->direct_read = false;
}

/* --------------------------------------------------- serving thread */

/* A queue that cannot go on: its thread waits to be stopped (joined). */
static void vu_wait_stop(struct vu_queue *q)
{
	struct pollfd s = { .fd = q->stop_fd, .events = POLLIN };

	while (poll(&s, 1, -1) < 0 && errno == EINTR)
		;
}

static void *vu_queue_main(void *arg)
{
	struct vu_queue *q = arg;
	char name[16];

	snprintf(name, sizeof(name), "mqfuse-vq/%u", q->index);
	pthread_setname_np(pthread_self(), name);
	if (mq_creds_thread_init(&q->thr))
		mq_warn("virtqueue %u: thread credentials not set up", q->index);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = q->stop_fd, .events = POLLIN },
			{ .fd = q->kick_fd, .events = POLLIN },
		};
		uint64_t v;
		uint16_t avail_idx;
		bool broken = false;
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			mq_err("virtqueue %u: poll: %s", q->index, strerror(errno));
			break;
		}
		if (p[0].revents)
			break;
		if (p[1].revents & (POLLERR | POLLNVAL | POLLHUP)) {
			mq_err("virtqueue %u: kick fd failed: queue stopped", q->index);
			vu_wait_stop(q);
			break;
		}
		n = read(q->kick_fd, &v, sizeof(v));
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			/* not an eventfd that works: it would spin */
			mq_err("virtqueue %u: kick fd %s: queue stopped", q->index,
			       n ? strerror(errno) : "at end of file");
			vu_wait_stop(q);
			break;
		}
		for (;;) {
			uint16_t head;

			avail_idx = __atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE);
			if (avail_idx == q->last_avail)
				break;
			if ((uint16_t)(avail_idx - q->last_avail) > q->num) {
				mq_err("virtqueue %u: available index %u ran %u ahead of %u (size %u): queue stopped",
				       q->index, avail_idx,
				       (uint16_t)(avail_idx - q->last_avail),
				       q->last_avail, q->num);
				broken = true;
				break;
			}
			head = __atomic_load_n(&q->avail->ring[q->last_avail & (q->num - 1)],
					       __ATOMIC_RELAXED);
			if (head >= q->num) {
				mq_err("virtqueue %u: head %u out of range (size %u): queue stopped",
				       q->index, head, q->num);
				broken = true;
				break;
			}
			q->last_avail++;
			vu_serve_chain(q, head);
		}
		if (broken) {
			/* nothing of this ring is trusted any more */
			vu_wait_stop(q);
			break;
		}
	}
	return NULL;
}

static struct vu_queue *vu_queue_get(uint32_t index)
{
	struct vu_queue *q;
	size_t room = mq_payload_room() + MQ_REQ_HDR_ROOM;

	if (index >= VU_FS_MAX_QUEUES)
		return NULL;
	if (vu.queues[index])
		return vu.queues[index];
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->index = index;
	q->kick_fd = q->call_fd = q->err_fd = -1;
	q->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->thr.index = index;
	q->thr.queue = index;
	q->thr.cpu = -1;
	q->thr.devfd = -1;
	q->thr.reply_sink = vu_reply_sink;
	/* the guest's callers' groups are not known: none */
	q->thr.caller_groups_given = true;
	q->thr.caller_ngroups = 0;
	q->thr.inbuf = aligned_alloc(4096, room);
	q->thr.inbuf_len = room;
	q->thr.outbuf = aligned_alloc(4096, room);
	q->thr.outbuf_len = room;
	q->rd = calloc(VU_CHAIN_MAX, sizeof(*q->rd));
	q->wr = calloc(VU_CHAIN_MAX, sizeof(*q->wr));
	q->iov = calloc(VU_CHAIN_MAX, sizeof(*q->iov));
	if (q->stop_fd < 0 || !q->thr.inbuf || !q->thr.outbuf || !q->rd ||
	    !q->wr || !q->iov || mq_stats_thread_init(&q->thr.stats)) {
		if (q->stop_fd >= 0)
			close(q->stop_fd);
		free(q->thr.inbuf);
		free(q->thr.outbuf);
		free(q->rd);
		free(q->wr);
		free(q->iov);
		free(q);
		return NULL;
	}
	vu.queues[index] = q;
	return q;
}

static void vu_queue_stop(struct vu_queue *q)
{
	uint64_t one = 1;

	if (!q || !q->running)
		return;
	if (write(q->stop_fd, &one, sizeof(one)) < 0)
		mq_warn("virtqueue %u: stop: %s", q->index, strerror(errno));
	pthread_join(q->tid, NULL);
	if (read(q->stop_fd, &one, sizeof(one)) < 0)
		mq_warn("virtqueue %u: stop: %s", q->index, strerror(errno));
	pthread_mutex_lock(&vu_lock);
	q->live = false;
	q->running = false;
	pthread_mutex_unlock(&vu_lock);
}

/* The ring is given back (GET_VRING_BASE, a reset): waiters end too. */
static void vu_queue_drop_waits(struct vu_queue *q)
{
	struct vu_wait *w, *next;

	pthread_mutex_lock(&vu_lock);
	w = q->waits;
	q->waits = NULL;
	q->nwaits = 0;
	pthread_mutex_unlock(&vu_lock);
	for (; w; w = next) {
		next = w->next;
		free(w);
	}
	mq_locks_thread_gone(&q->thr);
}

static void vu_stop_all(bool *was)
{
	unsigned int i;

	for (i = 0; i < VU_FS_MAX_QUEUES; i++) {
		was[i] = vu.queues[i] && vu.queues[i]->running;
		vu_queue_stop(vu.queues[i]);
	}
}

/* Start @q if it has all it needs.  Returns 0, or -errno if it cannot. */
static int vu_queue_maybe_start(struct vu_queue *q)
{
	size_t dsz, asz, usz;
	int ret;

	if (q->running || !q->num || !q->addr_set || q->kick_fd < 0 ||
	    !q->enabled || !vu.nregions)
		return 0;
	dsz = (size_t)q->num * sizeof(struct vq_desc);
	asz = sizeof(struct vq_avail) + (size_t)q->num * sizeof(uint16_t);
	usz = sizeof(struct vq_used) + (size_t)q->num * sizeof(struct vq_used_elem);
	q->desc = (void *)vu_uva(q->desc_uva, dsz);
	q->avail = (void *)vu_uva(q->avail_uva, asz);
	q->used = (void *)vu_uva(q->used_uva, usz);
	if (!q->desc || !q->avail || !q->used) {
		mq_err("virtqueue %u: ring outside the shared memory", q->index);
		return -EFAULT;
	}
	if ((uintptr_t)q->desc % 16 || (uintptr_t)q->avail % 2 ||
	    (uintptr_t)q->used % 4) {
		mq_err("virtqueue %u: ring misaligned", q->index);
		return -EINVAL;
	}
	pthread_mutex_lock(&vu_lock);
	q->used_idx = __atomic_load_n(&q->used->idx, __ATOMIC_RELAXED);
	q->live = true;
	pthread_mutex_unlock(&vu_lock);
	q->running = true;
	ret = -pthread_create(&q->tid, NULL, vu_queue_main, q);
	if (ret) {
		pthread_mutex_lock(&vu_lock);
		q->live = false;
		q->running = false;
		pthread_mutex_unlock(&vu_lock);
		mq_err("virtqueue %u: thread: %s", q->index, strerror(-ret));
		return ret;
	}
	mq_info("virtqueue %u: serving (size %u, from entry %u)", q->index,
		q->num, q->last_avail);
	return 0;
}

/* ---------------------------------------------------- control socket */

static int vu_send_reply(const struct vu_hdr *req, const void *payload,
			 uint32_t size)
{
	char buf[sizeof(struct vu_hdr) + sizeof(union vu_payload)];
	struct vu_hdr h = {
		.request = req->request,
		.flags = VU_VERSION | VU_FLAG_REPLY,
		.size = size,
	};
	size_t len = sizeof(h) + size, done = 0;

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, size);
	while (done < len) {
		ssize_t n = send(vu.sock, buf + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		done += n;
	}
	return 0;
}

static void vu_close_fds(int *fds, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/*
 * Read one message: 1, 0 at end of file, -errno.  Fds that came with it
 * are in @fds (@nfds); a message larger than any we know is an error.
 */
static int vu_read_msg(struct vu_hdr *h, union vu_payload *p, int *fds,
		       unsigned int *nfds)
{
	char cbuf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
	struct iovec iov = { h, sizeof(*h) };
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	size_t got = 0;
	ssize_t n;

	*nfds = 0;
	do {
		n = recvmsg(vu.sock, &m, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n < 0)
		return -errno;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		unsigned int k, cnt;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (k = 0; k < cnt; k++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(fd));
			if (*nfds < VU_MAX_FDS)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
	if (m.msg_flags & MSG_CTRUNC) {
		vu_close_fds(fds, *nfds);
		return -EPROTO;
	}
	got = n;
	/* the rest of the header, then the payload (wire.c's full read) */
	n = mqr_read_full(vu.sock, (char *)h + got, sizeof(*h) - got);
	if (!n && ((h->flags & VU_VERSION_MASK) != VU_VERSION ||
		   h->size > sizeof(*p)))
		n = -EPROTO;
	if (!n)
		n = mqr_read_full(vu.sock, p, h->size);
	if (n) {
		vu_close_fds(fds, *nfds);
		return n == -EPIPE ? -EPROTO : (int)n;
	}
	return 1;
}

static int vu_set_mem_table(const union vu_payload *p, uint32_t size,
			    int *fds, unsigned int nfds)
{
	const struct vu_mem_table *t = &p->mem;
	struct vu_region nr[VU_MAX_MEM_REGIONS];
	bool was[VU_FS_MAX_QUEUES];
	struct stat st;
	unsigned int i, n;
	int ret = 0;

	if (size < offsetof(struct vu_mem_table, regions)) {
		vu_close_fds(fds, nfds);
		return -EPROTO;
	}
	n = t->nregions;
	if (!n || n > VU_MAX_MEM_REGIONS ||
	    size != offsetof(struct vu_mem_table, regions) + n * sizeof(t->regions[0])) {
		mq_err("SET_MEM_TABLE: %u regions in %u bytes", n, size);
		vu_close_fds(fds, nfds);
		return -EINVAL;
	}
	if (nfds != n) {
		mq_err("SET_MEM_TABLE: %u regions, %u fds", n, nfds);
		vu_close_fds(fds, nfds);
		return -EINVAL;
	}
	memset(nr, 0, sizeof(nr));
	for (i = 0; i < n && !ret; i++) {
		const struct vu_mem_region *r = &t->regions[i];
		uint64_t len = r->size + r->mmap_offset;

		if (!r->size || len < r->size || len > SIZE_MAX ||
		    r->guest_addr + r->size < r->guest_addr ||
		    r->user_addr + r->size < r->user_addr) {
			mq_err("SET_MEM_TABLE: region %u: bad size or address", i);
			ret = -EINVAL;
			break;
		}
		/*
		 * A mapping past the end of its file faults with SIGBUS when
		 * touched: the whole region must be in the file.
		 */
		if (fstat(fds[i], &st) || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) ||
		    (S_ISREG(st.st_mode) && (uint64_t)st.st_size < len)) {
			mq_err("SET_MEM_TABLE: region %u: fd is not a file of %llu bytes",
			       i, (unsigned long long)len);
			ret = -EINVAL;
			break;
		}
		nr[i].map = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_NORESERVE, fds[i], 0);
		if (nr[i].map == MAP_FAILED) {
			ret = -errno;
			mq_err("SET_MEM_TABLE: region %u: mmap %llu bytes: %s", i,
			       (unsigned long long)len, strerror(errno));
			nr[i].map = NULL;
			break;
		}
		nr[i].map_len = len;
		nr[i].host = (char *)nr[i].map + r->mmap_offset;
		nr[i].gpa = r->guest_addr;
		nr[i].size = r->size;
		nr[i].uva = r->user_addr;
	}
	vu_close_fds(fds, nfds);
	if (ret) {
		for (i = 0; i < n; i++)
			if (nr[i].map)
				munmap(nr[i].map, nr[i].map_len);
		return ret;
	}
	/* the serving threads read the table without a lock: stop them */
	vu_stop_all(was);
	pthread_mutex_lock(&vu_lock);
	vu_unmap_all();
	memcpy(vu.regions, nr, sizeof(nr));
	vu.nregions = n;
	pthread_mutex_unlock(&vu_lock);
	mq_info("memory table: %u region(s)", n);
	for (i = 0; i < VU_FS_MAX_QUEUES; i++)
		if (was[i])
			vu_queue_maybe_start(vu.queues[i]);
	return 0;
}

/* Replace *@slot by @fd (or -1 with VU_VRING_NOFD). */
static int vu_vring_fd(const union vu_payload *p, int *fds, unsigned int nfds,
		       struct vu_queue **qp, int **slot_of_q, int which)
{
	uint32_t index = p->u64 & VU_VRING_IDX_MASK;
	bool nofd = p->u64 & VU_VRING_NOFD;
	struct vu_queue *q;

	if ((p->u64 & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD)) ||
	    nfds != (nofd ? 0u : 1u)) {
		vu_close_fds(fds, nfds);
		return -EINVAL;
	}
	q = vu_queue_get(index);
	if (!q) {
		vu_close_fds(fds, nfds);
		return index >= VU_FS_MAX_QUEUES ? -EINVAL : -ENOMEM;
	}
	*qp = q;
	*slot_of_q = which == VU_SET_VRING_KICK ? &q->kick_fd :
		     which == VU_SET_VRING_CALL ? &q->call_fd : &q->err_fd;
	return nofd ? -1 : fds[0];
}

/* Returns 0, a positive error (acked, the connection goes on) or -errno (fatal). */
static int vu_handle(const struct vu_hdr *h, union vu_payload *p, int *fds,
		     unsigned int nfds, bool *replied)
{
	struct vu_queue *q = NULL;
	int ret, fd, *slot;
	uint64_t v;

	*replied = false;
	if (nfds && h->request != VU_SET_MEM_TABLE &&
	    h->request != VU_SET_VRING_KICK && h->request != VU_SET_VRING_CALL &&
	    h->request != VU_SET_VRING_ERR) {
		mq_err("vhost-user request %u: came with %u fd(s)", h->request, nfds);
		vu_close_fds(fds, nfds);
		return -EPROTO;
	}
	switch (h->request) {
	case VU_GET_FEATURES:
	case VU_GET_PROTOCOL_FEATURES:
	case VU_GET_QUEUE_NUM:
		if (h->size != 0 && h->size != sizeof(uint64_t))
			return -EPROTO;
		v = h->request == VU_GET_FEATURES ? VU_FEATURES :
		    h->request == VU_GET_PROTOCOL_FEATURES ? VU_PROTOCOL_FEATURES :
		    VU_FS_MAX_QUEUES;
		*replied = true;
		return vu_send_reply(h, &v, sizeof(v));
	case VU_SET_FEATURES:
	case VU_SET_PROTOCOL_FEATURES:
		if (h->size != sizeof(uint64_t))
			return -EPROTO;
		if (h->request == VU_SET_FEATURES) {
			if (p->u64 & ~VU_FEATURES) {
				mq_err("SET_FEATURES 0x%llx: not offered",
				       (unsigned long long)p->u64);
				return EINVAL;
			}
			vu.features = p->u64;
			/* without protocol features, rings start enabled */
			if (!(p->u64 & (1ull << VU_F_PROTOCOL_FEATURES))) {
				unsigned int i;

				for (i = 0; i < VU_FS_MAX_QUEUES; i++)
					if (vu.queues[i])
						vu.queues[i]->enabled = true;
			}
		} else {
			if (p->u64 & ~VU_PROTOCOL_FEATURES) {
				mq_err("SET_PROTOCOL_FEATURES 0x%llx: not offered",
				       (unsigned long long)p->u64);
				return EINVAL;
			}
			vu.protocol_features = p->u64;
		}
		return 0;
	case VU_SET_OWNER:
		if (h->size)
			return -EPROTO;
		vu.owner = true;
		return 0;
	case VU_RESET_OWNER:
	case VU_RESET_DEVICE:
		if (h->size)
			return -EPROTO;
		{
			bool was[VU_FS_MAX_QUEUES];
			unsigned int i;

			vu_stop_all(was);
			for (i = 0; i < VU_FS_MAX_QUEUES; i++) {
				if (!vu.queues[i])
					continue;
				vu_queue_drop_waits(vu.queues[i]);
				vu.queues[i]->enabled = false;
				vu.queues[i]->addr_set = false;
				vu.queues[i]->last_avail = 0;
			}
			vu.features = 0;
		}
		return 0;
	case VU_SET_MEM_TABLE:
		ret = vu_set_mem_table(p, h->size, fds, nfds);
		return ret == -EPROTO ? ret : -ret;
	case VU_SET_VRING_NUM:
	case VU_SET_VRING_BASE:
	case VU_GET_VRING_BASE:
	case VU_SET_VRING_ENABLE:
		if (h->size != sizeof(p->state))
			return -EPROTO;
		q = vu_queue_get(p->state.index);
		if (!q) {
			mq_err("vring %u: no such queue", p->state.index);
			if (h->request == VU_GET_VRING_BASE) {
				*replied = true;
				return vu_send_reply(h, &p->state, sizeof(p->state));
			}
			return EINVAL;
		}
		if (h->request == VU_GET_VRING_BASE) {
			vu_queue_stop(q);
			vu_queue_drop_waits(q);
			if (q->kick_fd >= 0)
				close(q->kick_fd);
			q->kick_fd = -1;
			p->state.num = q->last_avail;
			mq_info("virtqueue %u: stopped at entry %u (%lu served, %lu malformed)",
				q->index, q->last_avail, q->served, q->bad);
			*replied = true;
			return vu_send_reply(h, &p->state, sizeof(p->state));
		}
		if (h->request == VU_SET_VRING_ENABLE) {
			if (p->state.num > 1)
				return EINVAL;
			if (!p->state.num)
				vu_queue_stop(q);
			q->enabled = p->state.num;
			return vu_queue_maybe_start(q) ? EINVAL : 0;
		}
		if (q->running) {
			mq_err("virtqueue %u: changed while running", q->index);
			return EBUSY;
		}
		if (h->request == VU_SET_VRING_NUM) {
			if (!p->state.num || p->state.num > VQ_MAX_SIZE ||
			    (p->state.num & (p->state.num - 1))) {
				mq_err("virtqueue %u: size %u", q->index, p->state.num);
				return EINVAL;
			}
			q->num = p->state.num;
		} else {
			if (p->state.num > 0xffff)
				return EINVAL;
			q->last_avail = p->state.num;
		}
		return 0;
	case VU_SET_VRING_ADDR:
		if (h->size != sizeof(p->addr))
			return -EPROTO;
		q = vu_queue_get(p->addr.index);
		if (!q)
			return EINVAL;
		if (q->running) {
			mq_err("virtqueue %u: moved while running", q->index);
			return EBUSY;
		}
		if (p->addr.flags) {
			mq_err("virtqueue %u: logging asked, not offered", q->index);
			return EINVAL;
		}
		q->desc_uva = p->addr.desc;
		q->avail_uva = p->addr.avail;
		q->used_uva = p->addr.used;
		q->addr_set = true;
		if (q->num && vu.nregions &&
		    (!vu_uva(q->desc_uva, (size_t)q->num * sizeof(struct vq_desc)) ||
		     !vu_uva(q->avail_uva, sizeof(struct vq_avail) + q->num * 2u) ||
		     !vu_uva(q->used_uva, sizeof(struct vq_used) + q->num * 8u))) {
			mq_err("virtqueue %u: ring outside the shared memory", q->index);
			q->addr_set = false;
			return EFAULT;
		}
		return 0;
	case VU_SET_VRING_KICK:
	case VU_SET_VRING_CALL:
	case VU_SET_VRING_ERR:
		if (h->size != sizeof(uint64_t)) {
			vu_close_fds(fds, nfds);
			return -EPROTO;
		}
		fd = vu_vring_fd(p, fds, nfds, &q, &slot, h->request);
		if (fd == -EINVAL || fd == -ENOMEM)
			return -fd;
		if (h->request == VU_SET_VRING_KICK) {
			if (fd < 0) {
				mq_err("virtqueue %u: polling mode not offered", q->index);
				return EINVAL;
			}
			vu_queue_stop(q);
		}
		pthread_mutex_lock(&vu_lock);
		if (*slot >= 0)
			close(*slot);
		*slot = fd;
		pthread_mutex_unlock(&vu_lock);
		if (h->request == VU_SET_VRING_KICK && vu_queue_maybe_start(q))
			return EINVAL;
		return 0;
	default:
		mq_err("vhost-user request %u: not known", h->request);
		vu_close_fds(fds, nfds);
		return -EPROTO;
	}
}

static int vu_listen(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(a.sun_path)) {
		mq_err("--vhost-user %s: path too long", path);
		return -ENAMETOOLONG;
	}
	if (!lstat(path, &st)) {
		if (!S_ISSOCK(st.st_mode)) {
			mq_err("--vhost-user %s: exists and is not a socket", path);
			return -EEXIST;
		}
		unlink(path);
	}
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1)) {
		int err = -errno;

		umask(old);
		mq_err("--vhost-user %s: %s", path, strerror(errno));
		close(fd);
		return err;
	}
	umask(old);
	return fd;
}

static void vu_shutdown(void)
{
	bool was[VU_FS_MAX_QUEUES];
	unsigned int i;

	vu_stop_all(was);
	for (i = 0; i < VU_FS_MAX_QUEUES; i++)
		if (vu.queues[i])
			vu_queue_drop_waits(vu.queues[i]);
	vu_log_stats("front-end gone");
	if (vu_sock_path)
		unlink(vu_sock_path);
}

int mq_vhost_run(const char *path)
{
	int lfd, ret;

	signal(SIGPIPE, SIG_IGN);
	lfd = vu_listen(path);
	if (lfd < 0)
		return 1;
	vu_sock_path = path;
	mq_info("vhost-user-fs: serving %s on %s", mq_cfg.backend_dir, path);
	do {
		vu.sock = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	} while (vu.sock < 0 && errno == EINTR);
	close(lfd);
	if (vu.sock < 0) {
		mq_err("--vhost-user %s: accept: %s", path, strerror(errno));
		unlink(path);
		return 1;
	}
	mq_info("vhost-user-fs: front-end connected");
	for (;;) {
		struct vu_hdr h;
		union vu_payload p;
		int fds[VU_MAX_FDS];
		unsigned int nfds;
		bool replied;

		memset(&p, 0, sizeof(p));
		ret = vu_read_msg(&h, &p, fds, &nfds);
		if (ret == 0) {
			ret = 0;
			break;
		}
		if (ret < 0) {
			mq_err("vhost-user: %s: connection closed",
			       ret == -EPROTO ? "malformed message" : strerror(-ret));
			ret = 1;
			break;
		}
		mq_dbg("vhost-user: request %u size %u fds %u", h.request,
		       h.size, nfds);
		ret = vu_handle(&h, &p, fds, nfds, &replied);
		if (ret < 0) {
			mq_err("vhost-user request %u: %s: connection closed",
			       h.request, ret == -EPROTO ? "malformed" : strerror(-ret));
			ret = 1;
			break;
		}
		if (ret > 0)
			mq_warn("vhost-user request %u: %s", h.request, strerror(ret));
		if (!replied && (h.flags & VU_FLAG_NEED_REPLY) &&
		    (vu.protocol_features & (1ull << VU_PF_REPLY_ACK))) {
			uint64_t status = ret ? 1 : 0;

			if (vu_send_reply(&h, &status, sizeof(status))) {
				ret = 1;
				break;
			}
		}
	}
	vu_shutdown();
	close(vu.sock);
	return ret;
}
