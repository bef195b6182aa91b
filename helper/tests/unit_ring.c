// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the ring transport (ring.c) against a fake kernel in user
 * space: the test maps a struct mqfuse_ring_ctl with its descriptor
 * arrays and a umem region itself, writes requests into ring buffers and
 * publishes their descriptors as the kernel would (release store of
 * req_tail), lets ring.c serve the batch, then takes the reply
 * descriptors as RING_ENTER would and checks them.  The set-up ioctls and
 * RING_ENTER go through mq_ring_kops, which the fake replaces.
 *
 * Called from unit_test.c after the lock tests: the inode table serves
 * @dir, INIT is done and the lock waiters' signal is set up.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <liburing.h>
#include <mqfuse.h>

#include "mqfused.h"
#include "rstate.h"

static int *rg_failures;

#define RGCHECK(cond, name)						\
	do {								\
		if (cond) {						\
			printf("ok - %s\n", name);			\
		} else {						\
			printf("not ok - %s\n", name);			\
			printf("#   %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			(*rg_failures)++;				\
		}							\
	} while (0)

static struct mq_thread rg_thr;
static int rg_pipe[2];			/* rg_thr's "device": write(2) lands here */
static const char *rg_dir;
static uint64_t rg_unique = 70000;
static char rg_wbuf[64 << 10];		/* what came by write(2) */

/* ---- the fake kernel ------------------------------------------------ */

#define FK_ENTRIES	8
#define FK_CTL_SIZE	sizeof(struct mqfuse_ring_ctl)
#define FK_MAX_TAKEN	64

struct fk_ring {
	char *map;			/* ctl + descriptors */
	size_t map_len;
	struct mqfuse_ring_ctl *ctl;
	struct mqfuse_ring_desc *req, *rep;
	uint32_t entries, buf_size;
	char *region;			/* umem, then the private reply buffer */
	size_t umem_len, spare_len;
	uint32_t req_tail;		/* the kernel's own indices */
	uint32_t rep_head;
	bool held[FK_ENTRIES];		/* buffers the daemon holds */
	unsigned int bad;		/* reply descriptors for buffers not held */
	struct mqfuse_ring_desc taken[FK_MAX_TAKEN];	/* last fk_take() */
	unsigned int nr_taken;
};

/* A ring's shared mapping as RING_SETUP would lay it out. */
static char *fk_map_new(uint32_t entries, uint32_t buf_size, size_t *len)
{
	struct mqfuse_ring_ctl *ctl;
	char *map;

	*len = 4096;
	map = aligned_alloc(4096, *len);
	if (!map)
		abort();
	memset(map, 0, *len);
	ctl = (void *)map;
	ctl->entries = entries;
	ctl->req_off = FK_CTL_SIZE;
	ctl->rep_off = FK_CTL_SIZE + entries * sizeof(struct mqfuse_ring_desc);
	ctl->buf_size = buf_size;
	return map;
}

static void fk_init(struct fk_ring *k)
{
	memset(k, 0, sizeof(*k));
	k->entries = FK_ENTRIES;
	k->buf_size = mq_ring_buf_size();
	k->map = fk_map_new(k->entries, k->buf_size, &k->map_len);
	k->ctl = (void *)k->map;
	k->req = (void *)(k->map + k->ctl->req_off);
	k->rep = (void *)(k->map + k->ctl->rep_off);
	k->umem_len = (size_t)k->entries * k->buf_size;
	k->spare_len = mq_ring_spare_len();
	k->region = mmap(NULL, k->umem_len + k->spare_len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k->region == MAP_FAILED)
		abort();
}

static int fk_attach(struct fk_ring *k)
{
	int ret = mq_ring_attach(&rg_thr.ring, k->map, k->map_len, k->region,
				 k->umem_len, k->buf_size,
				 k->region + k->umem_len, k->spare_len);

	rg_thr.region = k->region;
	rg_thr.region_len = k->umem_len + k->spare_len;
	/* a real io_uring over the region when the host has one */
	rg_thr.uring = NULL;
	if (!mq_uring_create(&rg_thr.uring, rg_thr.region, rg_thr.region_len,
			     k->buf_size, k->entries) &&
	    mq_uring_enable(rg_thr.uring)) {
		mq_uring_teardown(rg_thr.uring);
		rg_thr.uring = NULL;
	}
	return ret;
}

static void fk_fini(struct fk_ring *k)
{
	mq_ring_free(rg_thr.ring);
	rg_thr.ring = NULL;
	mq_uring_teardown(rg_thr.uring);
	rg_thr.uring = NULL;
	munmap(k->region, k->umem_len + k->spare_len);
	free(k->map);
}

static char *fk_buf(struct fk_ring *k, uint32_t buf)
{
	return k->region + (size_t)buf * k->buf_size;
}

/* Publish request descriptor {buf, off, len}: release store of req_tail. */
static void fk_publish(struct fk_ring *k, uint32_t buf, uint32_t off,
		       uint32_t len)
{
	struct mqfuse_ring_desc *d = &k->req[k->req_tail & (k->entries - 1)];

	d->buf = buf;
	d->off = off;
	d->len = len;
	d->flags = 0;
	k->req_tail++;
	__atomic_store_n(&k->ctl->req_tail, k->req_tail, __ATOMIC_RELEASE);
	if (buf < FK_ENTRIES)
		k->held[buf] = true;
}

/*
 * Write a request into buffer @buf at @off: header, @arg, @payload, @name
 * (NUL-terminated); publish it.  Returns its unique.
 */
static uint64_t fk_request(struct fk_ring *k, uint32_t buf, uint32_t off,
			   uint32_t opcode, uint64_t nodeid, const void *arg,
			   size_t arg_len, const void *payload,
			   size_t payload_len, const char *name)
{
	char *p = fk_buf(k, buf) + off;
	struct fuse_in_header *in = (void *)p;
	size_t len = sizeof(*in);

	memset(in, 0, sizeof(*in));
	memcpy(p + len, arg, arg_len);
	len += arg_len;
	if (payload_len)
		memcpy(p + len, payload, payload_len);
	len += payload_len;
	if (name) {
		memcpy(p + len, name, strlen(name) + 1);
		len += strlen(name) + 1;
	}
	in->len = len;
	in->opcode = opcode;
	in->unique = rg_unique++;
	in->nodeid = nodeid;
	in->uid = getuid();
	in->gid = getgid();
	fk_publish(k, buf, off, len);
	return in->unique;
}

/* What RING_ENTER does first: take the reply descriptors published. */
static unsigned int fk_take(struct fk_ring *k)
{
	uint32_t tail = __atomic_load_n(&k->ctl->rep_tail, __ATOMIC_ACQUIRE);

	k->nr_taken = 0;
	for (; k->rep_head != tail; k->rep_head++) {
		struct mqfuse_ring_desc d = k->rep[k->rep_head & (k->entries - 1)];

		if (d.buf < FK_ENTRIES && k->held[d.buf])
			k->held[d.buf] = false;
		else
			k->bad++;
		if (k->nr_taken < FK_MAX_TAKEN)
			k->taken[k->nr_taken++] = d;
	}
	__atomic_store_n(&k->ctl->rep_head, k->rep_head, __ATOMIC_RELEASE);
	return k->nr_taken;
}

/* The reply descriptor of buffer @buf among those taken last; NULL if none. */
static const struct mqfuse_ring_desc *fk_taken(struct fk_ring *k, uint32_t buf)
{
	unsigned int i;

	for (i = 0; i < k->nr_taken; i++)
		if (k->taken[i].buf == buf)
			return &k->taken[i];
	return NULL;
}

static const struct fuse_out_header *fk_reply(struct fk_ring *k,
					      const struct mqfuse_ring_desc *d)
{
	return (const void *)(fk_buf(k, d->buf) + d->off);
}

/* Serve what is published and take the replies; how many were taken. */
static unsigned int fk_serve(struct fk_ring *k, int *ret)
{
	int r = mq_ring_serve_batch(&rg_thr);

	if (ret)
		*ret = r;
	return fk_take(k);
}

/* One request, served: its reply descriptor in *@d; 1 if there is one. */
static int fk_call(struct fk_ring *k, uint32_t buf, uint32_t off,
		   uint32_t opcode, uint64_t nodeid, const void *arg,
		   size_t arg_len, const void *payload, size_t payload_len,
		   const char *name, struct mqfuse_ring_desc *d,
		   uint64_t *unique)
{
	uint64_t u = fk_request(k, buf, off, opcode, nodeid, arg, arg_len,
				payload, payload_len, name);

	if (unique)
		*unique = u;
	memset(d, 0, sizeof(*d));
	if (fk_serve(k, NULL) != 1)
		return 0;
	*d = k->taken[0];
	return 1;
}

/* A reply that came by write(2) within @ms; its length, 0 if none. */
static ssize_t rg_written(int ms)
{
	struct pollfd p = { .fd = rg_pipe[0], .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return 0;
	n = read(rg_pipe[0], rg_wbuf, sizeof(rg_wbuf));
	return n < 0 ? 0 : n;
}

static const struct fuse_out_header *rg_woh(void)
{
	return (const void *)rg_wbuf;
}

static struct mq_transport_stats rg_stats(void)
{
	struct mq_transport_stats x;

	pthread_mutex_lock(&rg_thr.stats.lock);
	x = rg_thr.stats.xport;
	pthread_mutex_unlock(&rg_thr.stats.lock);
	return x;
}

static void rg_harness(void)
{
	if (pipe(rg_pipe))
		abort();
	fcntl(rg_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(rg_pipe[1], F_SETPIPE_SZ, 1 << 20);
	memset(&rg_thr, 0, sizeof(rg_thr));
	rg_thr.index = 7;
	rg_thr.devfd = rg_pipe[1];
	mq_stats_thread_init(&rg_thr.stats);
	mq_creds_thread_init(&rg_thr);
}

/* ---- layout ----------------------------------------------------------- */

static void test_ring_layout(void)
{
	uint32_t bs = mq_ring_buf_size();
	size_t map_len, reply;
	struct mq_ring *r = NULL;
	char *map, *umem = aligned_alloc(4096, 4 * 4096);
	struct mqfuse_ring_ctl *ctl;

	RGCHECK(bs % 4096 == 0 && bs >= MQFUSE_UMEM_MIN_BUF &&
		bs >= 4096 + mq_cfg.max_write,
		"ring: buffer size a page multiple, >= MQFUSE_UMEM_MIN_BUF and 4096 + max_write");
	/* a largest WRITE, payload page aligned after 4096 bytes */
	reply = ((size_t)4096 + mq_cfg.max_write + 4095) / 4096 * 4096 + 4096;
	RGCHECK(reply <= bs && bs - reply >= 4096,
		"ring: a largest WRITE leaves its reply header page and a page of reply room");
	RGCHECK(mq_ring_spare_len() >= 4096 + mq_payload_room() &&
		mq_ring_spare_len() % 4096 == 0,
		"ring: private reply buffer holds a header page and the payload room");

	map = fk_map_new(4, bs, &map_len);
	ctl = (void *)map;
	RGCHECK(mq_ring_attach(&r, map, map_len, umem, 4 * (size_t)bs, bs, umem,
			       8192) == 0 && mq_ring_depth(r) == 4,
		"ring: attach accepts a kernel layout of 4 buffers");
	mq_ring_free(r);
	r = NULL;
	ctl->entries = 3;
	RGCHECK(mq_ring_attach(&r, map, map_len, umem, 4 * (size_t)bs, bs, umem,
			       8192) == -EPROTO && !r,
		"ring: attach refuses entries not a power of two");
	ctl->entries = 4;
	ctl->buf_size = bs + 4096;
	RGCHECK(mq_ring_attach(&r, map, map_len, umem, 4 * (size_t)bs, bs, umem,
			       8192) == -EPROTO,
		"ring: attach refuses a buffer size other than the one registered");
	ctl->buf_size = bs;
	ctl->req_off = 8;
	RGCHECK(mq_ring_attach(&r, map, map_len, umem, 4 * (size_t)bs, bs, umem,
			       8192) == -EPROTO,
		"ring: attach refuses descriptors over the ctl");
	ctl->req_off = FK_CTL_SIZE;
	ctl->rep_off = FK_CTL_SIZE + 16;
	RGCHECK(mq_ring_attach(&r, map, map_len, umem, 4 * (size_t)bs, bs, umem,
			       8192) == -EPROTO,
		"ring: attach refuses overlapping descriptor arrays");
	ctl->rep_off = map_len - 16;
	RGCHECK(mq_ring_attach(&r, map, map_len, umem, 4 * (size_t)bs, bs, umem,
			       8192) == -EPROTO,
		"ring: attach refuses descriptors past the mapping");
	ctl->rep_off = FK_CTL_SIZE + 4 * 16;
	RGCHECK(mq_ring_attach(&r, map, map_len, umem, 3 * (size_t)bs, bs, umem,
			       8192) == -EPROTO,
		"ring: attach refuses umem smaller than entries * buf_size");
	free(map);
	free(umem);
}

/* io_uring's fixed buffers hold at most 1 GiB each: ring buffers whole */
static void test_ring_uring_split(void)
{
	struct iovec iov[8];
	char *base = (char *)(uintptr_t)0x100000;
	size_t unit = 3 * 4096, chunk = 0;
	unsigned int n;

	n = mq_uring_split(iov, 8, base, 10 * unit, unit, 4 * unit + 4096, &chunk);
	RGCHECK(n == 3 && chunk == 4 * unit && iov[0].iov_base == base &&
		iov[0].iov_len == 4 * unit && iov[1].iov_base == base + 4 * unit &&
		iov[1].iov_len == 4 * unit && iov[2].iov_len == 2 * unit,
		"uring: a region is registered in chunks of whole ring buffers under the limit");
	n = mq_uring_split(iov, 8, base, 10 * unit, 0, 1ul << 30, &chunk);
	RGCHECK(n == 1 && chunk == 10 * unit && iov[0].iov_len == 10 * unit,
		"uring: a region under the limit is one fixed buffer");
	RGCHECK(!mq_uring_split(iov, 8, base, 10 * unit, unit, unit - 4096, &chunk),
		"uring: a ring buffer above the limit cannot be registered");
	RGCHECK(!mq_uring_split(iov, 2, base, 10 * unit, unit, 4 * unit, &chunk),
		"uring: more chunks than registrable buffers: not registered");
}

/* ---- serving ---------------------------------------------------------- */

static void test_ring_serve(void)
{
	struct fk_ring k;
	struct mqfuse_ring_desc d;
	const struct fuse_out_header *oh;
	struct fuse_getattr_in gi = { 0 };
	struct fuse_open_in oi = { .flags = O_RDWR };
	struct fuse_write_in wi = { 0 };
	struct fuse_read_in ri = { 0 };
	struct fuse_forget_in fo = { .nlookup = 1 };
	struct mq_transport_stats x0, x;
	char path[4096], *payload, *back;
	uint64_t nodeid = 0, fh = 0, u, u2;
	size_t want, off;
	struct stat st;
	int fd, ret;

	fk_init(&k);
	RGCHECK(fk_attach(&k) == 0, "ring: fake kernel's ring attached");
	if (!rg_thr.ring)
		goto out;
	printf("# ring tests: io_uring %s\n", rg_thr.uring ? "with fixed buffers" : "unavailable: pread/pwrite");
	x0 = rg_stats();

	/* GETATTR of the root in buffer 2 at 0: reply at 8192 - 16 */
	stat(rg_dir, &st);
	RGCHECK(fk_call(&k, 2, 0, FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi),
			NULL, 0, NULL, &d, &u) && d.buf == 2 && d.off == 8192 - 16 &&
		d.len == 16 + sizeof(struct fuse_attr_out),
		"ring: GETATTR answered in its buffer, header at round_up(end) + 4096 - 16");
	oh = fk_reply(&k, &d);
	RGCHECK(oh->unique == u && !oh->error && oh->len == d.len &&
		((const struct fuse_attr_out *)(oh + 1))->attr.ino == st.st_ino,
		"ring: GETATTR reply is the root's attributes");
	RGCHECK(!rg_written(0), "ring: nothing written to the fd for a ring reply");

	/* LOOKUP + OPEN of a new file, then WRITE with a page-aligned payload */
	snprintf(path, sizeof(path), "%s/ringfile", rg_dir);
	close(open(path, O_CREAT | O_RDWR | O_TRUNC, 0644));
	if (fk_call(&k, 0, 0, FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, NULL, 0,
		    "ringfile", &d, NULL) && d.len == 16 + sizeof(struct fuse_entry_out))
		nodeid = ((const struct fuse_entry_out *)(fk_reply(&k, &d) + 1))->nodeid;
	if (nodeid && fk_call(&k, 1, 0, FUSE_OPEN, nodeid, &oi, sizeof(oi), NULL, 0,
			      NULL, &d, NULL) && d.len == 16 + sizeof(struct fuse_open_out))
		fh = ((const struct fuse_open_out *)(fk_reply(&k, &d) + 1))->fh;
	RGCHECK(nodeid && fh, "ring: LOOKUP and OPEN through the ring");

	want = 3 * 4096;
	payload = malloc(want);
	back = malloc(want);
	for (off = 0; off < want; off++)
		payload[off] = (char)(off * 7 + 3);
	wi.fh = fh;
	wi.size = want;
	wi.offset = 0;
	/* as the kernel places it: payload at offset 4096 of the buffer */
	ret = fk_call(&k, 3, 4096 - MQ_WRITE_HDR_LEN, FUSE_WRITE, nodeid, &wi,
		      sizeof(wi), payload, want, NULL, &d, &u);
	oh = fk_reply(&k, &d);
	RGCHECK(ret && d.buf == 3 && d.off == 4096 + want + 4096 - 16 &&
		d.len == 16 + sizeof(struct fuse_write_out) && oh->unique == u &&
		!oh->error && ((const struct fuse_write_out *)(oh + 1))->size == want,
		"ring: WRITE of 3 pages answered after its payload, size written");
	fd = open(path, O_RDONLY);
	RGCHECK(fd >= 0 && pread(fd, back, want, 0) == (ssize_t)want &&
		!memcmp(back, payload, want),
		"ring: WRITE payload went from umem to the backing file");
	if (fd >= 0)
		close(fd);

	/* READ: payload page aligned in the buffer */
	ri.fh = fh;
	ri.size = want;
	ret = fk_call(&k, 4, 0, FUSE_READ, nodeid, &ri, sizeof(ri), NULL, 0, NULL,
		      &d, &u);
	oh = fk_reply(&k, &d);
	RGCHECK(ret && d.buf == 4 && (d.off + 16) % 4096 == 0 && d.off == 8192 - 16 &&
		d.len == 16 + want && oh->unique == u && !oh->error &&
		!memcmp(oh + 1, payload, want),
		"ring: READ data lands page aligned in the request's buffer");
	ri.offset = UINT64_MAX;	/* io_uring's "the file position" (0 here) */
	ret = fk_call(&k, 4, 0, FUSE_READ, nodeid, &ri, sizeof(ri), NULL, 0, NULL,
		      &d, &u);
	oh = fk_reply(&k, &d);
	RGCHECK(ret && d.len == 16 && oh->unique == u && oh->error == -EINVAL,
		"ring: READ at offset 2^64-1 -> EINVAL, not the data at the fd's position");
	ri.offset = 0;

	/* FORGET: the buffer comes back with len 0, nothing written */
	RGCHECK(fk_call(&k, 5, 0, FUSE_FORGET, 9999, &fo, sizeof(fo), NULL, 0, NULL,
			&d, NULL) && d.buf == 5 && d.len == 0 && d.off == 0 &&
		!rg_written(0),
		"ring: FORGET returns its buffer with a len-0 descriptor, no reply");
	{
		struct fuse_interrupt_in ii = { .unique = 1 };

		RGCHECK(fk_call(&k, 6, 0, FUSE_INTERRUPT, 0, &ii, sizeof(ii), NULL,
				0, NULL, &d, NULL) && d.buf == 6 && d.len == 0,
			"ring: INTERRUPT returns its buffer with a len-0 descriptor");
	}

	x = rg_stats();
	RGCHECK(x.requests - x0.requests == 8 && x.replies - x0.replies == 8 &&
		x.umem_write_bytes - x0.umem_write_bytes == want &&
		x.umem_read_bytes - x0.umem_read_bytes == want &&
		x.copied_bytes == 0 && x.write_replies == x0.write_replies,
		"ring: stats count requests, replies, WRITE and READ bytes in umem, no copy");

	/* a batch of four: one descriptor each, in order */
	fk_request(&k, 7, 0, FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi), NULL, 0, NULL);
	fk_request(&k, 0, 0, FUSE_FORGET, 9999, &fo, sizeof(fo), NULL, 0, NULL);
	u = fk_request(&k, 1, 64, FUSE_READ, nodeid, &ri, sizeof(ri), NULL, 0, NULL);
	u2 = fk_request(&k, 2, 0, FUSE_GETATTR, nodeid, &gi, sizeof(gi), NULL, 0, NULL);
	RGCHECK(fk_serve(&k, &ret) == 4 && ret == 4 && !k.bad &&
		fk_taken(&k, 7) && fk_taken(&k, 7)->len &&
		fk_taken(&k, 0) && !fk_taken(&k, 0)->len &&
		fk_taken(&k, 1) && fk_taken(&k, 1)->off == 8192 - 16 &&
		fk_reply(&k, fk_taken(&k, 1))->unique == u &&
		fk_taken(&k, 2) && fk_reply(&k, fk_taken(&k, 2))->unique == u2,
		"ring: a batch of four gets four reply descriptors, one per buffer");
	RGCHECK(!rg_thr.uring || k.taken[3].buf == 1,
		"ring: the batch's READ is answered when its I/O completes, after the inline requests");
	RGCHECK(__atomic_load_n(&k.ctl->req_head, __ATOMIC_RELAXED) == k.req_tail,
		"ring: req_head follows what was served");

	/* bad descriptors from the kernel are skipped */
	x0 = rg_stats();
	fk_publish(&k, 99, 0, 64);				/* no such buffer */
	fk_publish(&k, FK_ENTRIES, 0, 64);			/* the first past the ring */
	fk_publish(&k, 0, k.buf_size - 8, 64);			/* past the end */
	fk_publish(&k, 1, 4, 56);				/* misaligned */
	u = fk_request(&k, 2, 0, FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi),
		       NULL, 0, NULL);
	fk_publish(&k, 2, 0, 56);				/* buffer 2 twice */
	fk_publish(&k, 3, 0, 8);				/* shorter than a header */
	RGCHECK(fk_serve(&k, &ret) == 4 && ret == 1 && !k.bad &&
		fk_taken(&k, 0) && !fk_taken(&k, 0)->len &&
		fk_taken(&k, 1) && !fk_taken(&k, 1)->len &&
		fk_taken(&k, 2) && fk_reply(&k, fk_taken(&k, 2))->unique == u &&
		fk_taken(&k, 3) && !fk_taken(&k, 3)->len,
		"ring: bad descriptors skipped, their buffers returned when named; the good one served");
	x = rg_stats();
	RGCHECK(x.bad_descriptors - x0.bad_descriptors == 6 &&
		x.requests - x0.requests == 1,
		"ring: bad descriptors counted, not served");

	/* reply room short after the request: the private buffer */
	x0 = rg_stats();
	ri.size = 8192;
	/* a page of room after it: not enough for 8192 bytes */
	ret = fk_call(&k, 4, k.buf_size - 12288, FUSE_READ, nodeid, &ri, sizeof(ri),
		      NULL, 0, NULL, &d, &u);
	RGCHECK(ret && d.buf == 4 && !d.len && rg_written(1000) == 16 + 8192 &&
		rg_woh()->unique == u && !memcmp(rg_woh() + 1, payload, 8192),
		"ring: a READ without room after it is built aside and written by write(2), whole");
	ri.size = 100;
	ret = fk_call(&k, 5, k.buf_size - 4096, FUSE_READ, nodeid, &ri, sizeof(ri),
		      NULL, 0, NULL, &d, &u);
	oh = fk_reply(&k, &d);
	RGCHECK(ret && d.buf == 5 && d.len == 116 &&
		d.off >= k.buf_size - 4096 + sizeof(struct fuse_in_header) + sizeof(ri) && d.off + d.len <= k.buf_size &&
		oh->unique == u && !memcmp(oh + 1, payload, 100) && !rg_written(0),
		"ring: a small one is copied into its buffer after the request");
	ret = fk_call(&k, 6, k.buf_size - 88, FUSE_READ, nodeid, &ri, sizeof(ri),
		      NULL, 0, NULL, &d, &u);
	oh = fk_reply(&k, &d);
	RGCHECK(ret && d.buf == 6 && d.len == 116 && d.off == 0 &&
		oh->unique == u && !memcmp(oh + 1, payload, 100) && !rg_written(0),
		"ring: one that does not fit after the request is copied before it");
	x = rg_stats();
	RGCHECK(x.spare_replies - x0.spare_replies == 3 &&
		x.write_replies - x0.write_replies == 1 &&
		x.copied_bytes - x0.copied_bytes == 200 &&
		x.umem_read_bytes == x0.umem_read_bytes,
		"ring: private-buffer replies counted, the copied READ payload too");

	/* what was published and not taken goes out by write(2) */
	fk_request(&k, 6, 0, FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi), NULL, 0, NULL);
	fk_request(&k, 7, 0, FUSE_FORGET, 9999, &fo, sizeof(fo), NULL, 0, NULL);
	u = fk_request(&k, 0, 0, FUSE_GETATTR, nodeid, &gi, sizeof(gi), NULL, 0, NULL);
	mq_ring_serve_batch(&rg_thr);
	/* the kernel took the first reply only */
	k.rep_head++;
	k.held[6] = false;
	__atomic_store_n(&k.ctl->rep_head, k.rep_head, __ATOMIC_RELEASE);
	mq_ring_flush(&rg_thr);
	RGCHECK(rg_written(0) == 16 + sizeof(struct fuse_attr_out) &&
		rg_woh()->unique == u && !rg_written(0),
		"ring: flush writes the replies the kernel has not taken, only those");
	fk_take(&k);
	{
		struct fuse_release_in rel = { .fh = fh };

		RGCHECK(fk_call(&k, 1, 0, FUSE_RELEASE, nodeid, &rel, sizeof(rel),
				NULL, 0, NULL, &d, NULL) && d.len == 16 &&
			!fk_reply(&k, &d)->error,
			"ring: RELEASE through the ring");
	}

	free(payload);
	free(back);
out:
	fk_fini(&k);
}

/* ---- replies of other threads, journaled requests --------------------- */

static uint64_t rg_hook_unique;

/* In the serving thread, during a SETLK: as if a lock waiter answered. */
static void rg_lock_hook(uint64_t unique)
{
	rg_hook_unique = unique;
	mq_reply_detached(&rg_thr, 4242, -EINTR);
}

static void test_ring_detached(void)
{
	struct fk_ring k;
	struct mqfuse_ring_desc d;
	struct fuse_open_in oi = { .flags = O_RDWR };
	struct fuse_lk_in li;
	const struct fuse_out_header *oh;
	uint64_t nodeid = 0, fh = 0, u;
	uint32_t saved_flags = mq_conn.flags, rep_tail;
	struct flock fl;
	char path[4096];
	int fd, ret;

	fk_init(&k);
	if (fk_attach(&k))
		goto out;
	mq_conn.flags |= FUSE_POSIX_LOCKS;
	snprintf(path, sizeof(path), "%s/ringlock", rg_dir);
	close(open(path, O_CREAT | O_RDWR | O_TRUNC, 0644));
	if (fk_call(&k, 0, 0, FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, NULL, 0,
		    "ringlock", &d, NULL) && d.len)
		nodeid = ((const struct fuse_entry_out *)(fk_reply(&k, &d) + 1))->nodeid;
	if (nodeid && fk_call(&k, 1, 0, FUSE_OPEN, nodeid, &oi, sizeof(oi), NULL, 0,
			      NULL, &d, NULL) && d.len)
		fh = ((const struct fuse_open_out *)(fk_reply(&k, &d) + 1))->fh;
	RGCHECK(nodeid && fh, "ring: lock file looked up and opened through the ring");

	/* a detached reply while a ring request is being served */
	memset(&li, 0, sizeof(li));
	li.fh = fh;
	li.owner = 77;
	li.lk.start = 0;
	li.lk.end = 99;
	li.lk.type = F_WRLCK;
	li.lk.pid = 1077;
	mq_locks_test_hook = rg_lock_hook;
	ret = fk_call(&k, 2, 0, FUSE_SETLK, nodeid, &li, sizeof(li), NULL, 0, NULL,
		      &d, &u);
	mq_locks_test_hook = NULL;
	oh = fk_reply(&k, &d);
	RGCHECK(rg_hook_unique == u && rg_written(0) == 16 &&
		rg_woh()->unique == 4242 && rg_woh()->error == -EINTR,
		"ring: a detached reply goes to write(2), also while a ring request is served");
	RGCHECK(ret && d.buf == 2 && d.len == 16 && oh->unique == u && !oh->error,
		"ring: the served request still gets its own reply descriptor");

	/* SETLKW that must wait: buffer back at once, answer by write(2) */
	fd = open(path, O_RDWR);
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 200;
	fl.l_len = 100;
	RGCHECK(fd >= 0 && !fcntl(fd, F_OFD_SETLK, &fl),
		"ring: a conflicting lock held outside the daemon");
	li.lk.start = 200;
	li.lk.end = 299;
	ret = fk_call(&k, 3, 0, FUSE_SETLKW, nodeid, &li, sizeof(li), NULL, 0, NULL,
		      &d, &u);
	RGCHECK(ret && d.buf == 3 && !d.len && !rg_written(100),
		"ring: a waiting SETLKW gives its buffer back with no reply yet");
	rep_tail = __atomic_load_n(&k.ctl->rep_tail, __ATOMIC_ACQUIRE);
	fl.l_type = F_UNLCK;
	if (fd >= 0)
		fcntl(fd, F_OFD_SETLK, &fl);
	RGCHECK(rg_written(5000) == 16 && rg_woh()->unique == u && !rg_woh()->error,
		"ring: the lock waiter's grant comes by write(2) on the thread's fd");
	RGCHECK(__atomic_load_n(&k.ctl->rep_tail, __ATOMIC_ACQUIRE) == rep_tail,
		"ring: the lock waiter never touched the ring");
	if (fd >= 0)
		close(fd);
	/* drop owner 77's locks */
	li.lk.start = 0;
	li.lk.end = INT64_MAX;
	li.lk.type = F_UNLCK;
	fk_call(&k, 4, 0, FUSE_SETLK, nodeid, &li, sizeof(li), NULL, 0, NULL, &d, NULL);
	{
		struct fuse_release_in rel = { .fh = fh };

		fk_call(&k, 4, 0, FUSE_RELEASE, nodeid, &rel, sizeof(rel), NULL, 0,
			NULL, &d, NULL);
	}
	mq_conn.flags = saved_flags;

	/* a journaled request (recovery state live): its reply by write(2) */
	{
		struct fuse_mkdir_in mi = { .mode = 0755 };
		struct stat root_st;
		int memfd;

		stat(rg_dir, &root_st);
		memfd = mq_rs_create(4096, MQ_RS_JOURNAL_MIN, &root_st, 1,
				     mq_itable_next_nodeid());
		RGCHECK(memfd >= 0 && mq_rs_active(), "ring: recovery state live");
		ret = fk_call(&k, 5, 0, FUSE_MKDIR, FUSE_ROOT_ID, &mi, sizeof(mi),
			      NULL, 0, "ringdir", &d, &u);
		RGCHECK(ret && d.buf == 5 && !d.len &&
			rg_written(0) == 16 + sizeof(struct fuse_entry_out) &&
			rg_woh()->unique == u && !rg_woh()->error &&
			!mq_rs_journal_find(u),
			"ring: a journaled MKDIR is answered by write(2), its entry retired, buffer back");
		mq_rs_close();
		if (memfd >= 0)
			close(memfd);
	}
out:
	fk_fini(&k);
}


/* ---- asynchronous READ and WRITE ------------------------------------ */

/* LOOKUP + OPEN of @name through the ring (buffers 0 and 1). */
static void fk_open(struct fk_ring *k, const char *name, uint64_t *nodeid,
		    uint64_t *fh)
{
	struct fuse_open_in oi = { .flags = O_RDWR };
	struct mqfuse_ring_desc d;

	*nodeid = *fh = 0;
	if (fk_call(k, 0, 0, FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, NULL, 0, name,
		    &d, NULL) && d.len == 16 + sizeof(struct fuse_entry_out))
		*nodeid = ((const struct fuse_entry_out *)(fk_reply(k, &d) + 1))->nodeid;
	if (*nodeid && fk_call(k, 1, 0, FUSE_OPEN, *nodeid, &oi, sizeof(oi), NULL,
			       0, NULL, &d, NULL) &&
	    d.len == 16 + sizeof(struct fuse_open_out))
		*fh = ((const struct fuse_open_out *)(fk_reply(k, &d) + 1))->fh;
}

static void fk_release(struct fk_ring *k, uint64_t nodeid, uint64_t fh)
{
	struct fuse_release_in rel = { .fh = fh };
	struct mqfuse_ring_desc d;

	fk_call(k, 0, 0, FUSE_RELEASE, nodeid, &rel, sizeof(rel), NULL, 0, NULL,
		&d, NULL);
}

static char rg_pattern(size_t off)
{
	return (char)(off * 13 + off / 4096 + 1);
}

static void test_ring_async(void)
{
	struct fk_ring k;
	struct mqfuse_ring_desc d;
	const struct mqfuse_ring_desc *t;
	const struct fuse_out_header *oh;
	struct fuse_read_in ri = { 0 };
	struct fuse_write_in wi = { 0 };
	struct fuse_getattr_in gi = { 0 };
	struct mq_transport_stats x0, x;
	uint64_t nodeid, fh, u[FK_ENTRIES];
	char path[4096], *data, *page;
	size_t flen = 6 * 4096 + 100, off;
	unsigned int i;
	bool ok;
	int fd, ret;

	fk_init(&k);
	if (fk_attach(&k) || !rg_thr.uring) {
		printf("ok - ring async # SKIP no io_uring on this host\n");
		goto out;
	}
	RGCHECK(mq_uring_sq_entries(rg_thr.uring) >= FK_ENTRIES &&
		mq_uring_sq_entries(rg_thr.uring) == mq_uring_entries(FK_ENTRIES),
		"ring async: the io_uring has an SQE for every ring buffer");
	RGCHECK(mq_uring_entries(8) == 8 && mq_uring_entries(1) == 8 &&
		mq_uring_entries(64) == 64 && mq_uring_entries(33) == 64,
		"ring async: io_uring sized to a power of two >= the depth, at least 8");
	printf("# io_uring setup flags 0x%x\n", mq_uring_setup_flags(rg_thr.uring));

	data = malloc(flen);
	for (off = 0; off < flen; off++)
		data[off] = rg_pattern(off);
	snprintf(path, sizeof(path), "%s/ringasync", rg_dir);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	RGCHECK(fd >= 0 && pwrite(fd, data, flen, 0) == (ssize_t)flen,
		"ring async: a file of 6 pages and 100 bytes");
	if (fd >= 0)
		close(fd);
	fk_open(&k, "ringasync", &nodeid, &fh);
	RGCHECK(nodeid && fh, "ring async: looked up and opened through the ring");

	/* a batch of eight READs: all in flight together, each its data */
	x0 = rg_stats();
	ri.fh = fh;
	for (i = 0; i < FK_ENTRIES; i++) {
		ri.offset = (uint64_t)i * 4096 + i;
		ri.size = 4096;
		u[i] = fk_request(&k, i, 0, FUSE_READ, nodeid, &ri, sizeof(ri),
				  NULL, 0, NULL);
	}
	ok = fk_serve(&k, &ret) == FK_ENTRIES && ret == FK_ENTRIES && !k.bad;
	for (i = 0; ok && i < FK_ENTRIES; i++) {
		size_t at = (size_t)i * 4096 + i;
		size_t want = at >= flen ? 0 : at + 4096 <= flen ? 4096 : flen - at;

		t = fk_taken(&k, i);
		oh = t ? fk_reply(&k, t) : NULL;
		ok = oh && t->off == 8192 - 16 && oh->unique == u[i] &&
		     !oh->error && oh->len == 16 + want && t->len == oh->len &&
		     !memcmp(oh + 1, data + at, want);
		if (!ok)
			printf("#   READ %u: %s\n", i, t ? "wrong reply" : "no descriptor");
	}
	RGCHECK(ok, "ring async: a batch of 8 READs, each answered in place with its bytes, short at EOF");
	x = rg_stats();
	RGCHECK(x.max_inflight == FK_ENTRIES && x.requests - x0.requests == FK_ENTRIES &&
		x.umem_read_bytes - x0.umem_read_bytes == 6 * 4096 + (flen - 6 * 4096 - 6) &&
		x.copied_bytes == x0.copied_bytes && !rg_written(0),
		"ring async: 8 io_uring reads in flight at once (max_inflight 8), nothing written, nothing copied");

	/* WRITEs, errors and an inline request in one batch */
	page = malloc(2 * 4096);
	for (off = 0; off < 2 * 4096; off++)
		page[off] = (char)~rg_pattern(off);
	wi.fh = fh;
	wi.size = 2 * 4096;
	wi.offset = flen + 4096;	/* past EOF: a hole before it */
	u[0] = fk_request(&k, 0, 4096 - MQ_WRITE_HDR_LEN, FUSE_WRITE, nodeid, &wi,
			  sizeof(wi), page, 2 * 4096, NULL);
	ri.offset = 1ull << 40;	/* far past EOF: 0 bytes */
	ri.size = 4096;
	u[1] = fk_request(&k, 1, 0, FUSE_READ, nodeid, &ri, sizeof(ri), NULL, 0, NULL);
	ri.fh = fh + 1;		/* no such handle */
	ri.offset = 0;
	u[2] = fk_request(&k, 2, 0, FUSE_READ, nodeid, &ri, sizeof(ri), NULL, 0, NULL);
	ri.fh = fh;
	u[3] = fk_request(&k, 3, 0, FUSE_GETATTR, nodeid, &gi, sizeof(gi), NULL, 0, NULL);
	wi.size = 3 * 4096;	/* more than the request carries */
	u[4] = fk_request(&k, 4, 4096 - MQ_WRITE_HDR_LEN, FUSE_WRITE, nodeid, &wi,
			  sizeof(wi), page, 4096, NULL);
	ok = fk_serve(&k, &ret) == 5 && ret == 5 && !k.bad;
	t = fk_taken(&k, 0);
	RGCHECK(ok && t && t->off == 4096 + 2 * 4096 + 4096 - 16 &&
		fk_reply(&k, t)->unique == u[0] && !fk_reply(&k, t)->error &&
		((const struct fuse_write_out *)(fk_reply(&k, t) + 1))->size == 2 * 4096,
		"ring async: WRITE of 2 pages past EOF answered in place, size written");
	t = fk_taken(&k, 1);
	RGCHECK(ok && t && t->len == 16 && fk_reply(&k, t)->unique == u[1] &&
		!fk_reply(&k, t)->error,
		"ring async: READ past EOF answered with no data");
	t = fk_taken(&k, 2);
	RGCHECK(ok && t && t->len == 16 && fk_reply(&k, t)->unique == u[2] &&
		fk_reply(&k, t)->error == -EBADF,
		"ring async: READ of an unknown handle answered -EBADF in place");
	t = fk_taken(&k, 3);
	RGCHECK(ok && t && fk_reply(&k, t)->unique == u[3] && !fk_reply(&k, t)->error &&
		((const struct fuse_attr_out *)(fk_reply(&k, t) + 1))->attr.size >= flen,
		"ring async: a GETATTR in the same batch served inline");
	t = fk_taken(&k, 4);
	RGCHECK(ok && t && fk_reply(&k, t)->unique == u[4] &&
		fk_reply(&k, t)->error == -EINVAL && !rg_written(0),
		"ring async: WRITE longer than its payload answered -EINVAL");
	fd = open(path, O_RDONLY);
	{
		char back[2 * 4096], hole[4096], zero[4096] = { 0 };

		RGCHECK(fd >= 0 && pread(fd, back, sizeof(back), flen + 4096) == (ssize_t)sizeof(back) &&
			!memcmp(back, page, sizeof(back)) &&
			pread(fd, hole, sizeof(hole), flen) == (ssize_t)sizeof(hole) &&
			!memcmp(hole, zero, sizeof(hole)),
			"ring async: the WRITE's bytes are in the file, the hole reads zeros");
	}
	if (fd >= 0)
		close(fd);

	/* journaled (O_APPEND, recovery state live): inline, by write(2) */
	fk_release(&k, nodeid, fh);
	fk_take(&k);
	{
		struct fuse_open_in oi = { .flags = O_WRONLY | O_APPEND };
		struct stat root_st;
		uint64_t afh = 0;
		int memfd;

		/* flags are kept for a handle opened with the state live */
		stat(rg_dir, &root_st);
		memfd = mq_rs_create(4096, MQ_RS_JOURNAL_MIN, &root_st, 1,
				     mq_itable_next_nodeid());
		if (fk_call(&k, 1, 0, FUSE_OPEN, nodeid, &oi, sizeof(oi), NULL, 0,
			    NULL, &d, NULL) && !d.len && rg_written(0) ==
			    16 + sizeof(struct fuse_open_out))
			afh = ((const struct fuse_open_out *)(rg_woh() + 1))->fh;
		wi.fh = afh;
		wi.size = 4096;
		wi.offset = 0;
		ret = fk_call(&k, 2, 4096 - MQ_WRITE_HDR_LEN, FUSE_WRITE, nodeid, &wi,
			      sizeof(wi), page, 4096, NULL, &d, &u[0]);
		RGCHECK(afh && memfd >= 0 && ret && d.buf == 2 && !d.len &&
			rg_written(0) == 16 + sizeof(struct fuse_write_out) &&
			rg_woh()->unique == u[0] && !rg_woh()->error,
			"ring async: a journaled O_APPEND WRITE is served inline, answered by write(2)");
		mq_rs_close();
		if (memfd >= 0)
			close(memfd);
		fk_release(&k, nodeid, afh);
		fk_take(&k);
	}
	x = rg_stats();
	RGCHECK(x.max_inflight == FK_ENTRIES,
		"ring async: max_inflight is a high-water mark, not a sum");
	{
		char *buf = NULL;
		size_t len = 0;

		RGCHECK(!mq_stats_render(&buf, &len) && buf &&
			strstr(buf, " max_inflight=") != NULL,
			"ring async: --stats transport lines show max_inflight");
		free(buf);
	}
	free(page);
	free(data);
out:
	fk_fini(&k);
}

/* The synchronous and the asynchronous use of one io_uring, interleaved. */
static uint64_t rg_done_tag;
static int rg_done_res, rg_done_nr;

static void rg_done(void *ctx, uint64_t tag, int res)
{
	(void)ctx;
	rg_done_tag = tag;
	rg_done_res = res;
	rg_done_nr++;
}

static void test_uring_async(void)
{
	static char buf[3 * 4096] __attribute__((aligned(4096)));
	struct mq_uring *u = NULL;
	struct mq_io io;
	char path[4096], small[10];
	ssize_t res = 0;
	int fd, ret, got;

	if (mq_uring_setup(&u, buf, sizeof(buf))) {
		printf("ok - uring async # SKIP no io_uring on this host\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/uringasync", rg_dir);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0 || pwrite(fd, "0123456789abcdef", 16, 0) != 16)
		printf("#   %s: %s\n", path, strerror(errno));

	/* a synchronous read while an asynchronous one is prepared */
	memset(&io, 0, sizeof(io));
	io.fd = fd;
	io.buf = buf;
	io.len = 4096;
	io.off = 4;
	ret = mq_io_start(u, &io, 5, &res);
	RGCHECK(ret == 0 && mq_uring_inflight(u) == 1,
		"uring async: a read prepared, one in flight");
	RGCHECK(mq_io_read(u, fd, small, 10, 0) == 10 && !memcmp(small, "0123456789", 10) &&
		mq_uring_inflight(u) == 1,
		"uring async: meanwhile a synchronous read goes by the system call, its CQE untouched");
	rg_done_nr = 0;
	got = mq_uring_reap(u, 1, rg_done, NULL);
	RGCHECK(got == 1 && rg_done_nr == 1 && rg_done_tag == 5 && rg_done_res == 12 &&
		!mq_uring_inflight(u),
		"uring async: the reap reports the prepared read, with its tag");
	/* 12 of 4096: short at EOF, resumed once, then 0 */
	ret = mq_io_complete(u, &io, rg_done_res, 5, &res);
	RGCHECK(ret == 0 && io.done == 12 && mq_uring_inflight(u) == 1,
		"uring async: a short read is resumed for the rest");
	got = mq_uring_reap(u, 1, rg_done, NULL);
	ret = got == 1 ? mq_io_complete(u, &io, rg_done_res, 5, &res) : -1;
	RGCHECK(ret == 1 && res == 12 && !memcmp(buf, "456789abcdef", 12),
		"uring async: ... and ends at EOF with what was read");

	/* completions made up: the rules of mq_io_rw() */
	memset(&io, 0, sizeof(io));
	io.fd = fd;
	io.write = true;
	io.buf = buf;
	io.len = 100;
	RGCHECK(mq_io_complete(u, &io, 0, 6, &res) == 1 && res == -EIO,
		"uring async: a write that makes no progress fails with -EIO");
	io.done = 40;
	RGCHECK(mq_io_complete(u, &io, -ENOSPC, 6, &res) == 1 && res == 40,
		"uring async: an error after a partial write reports the part");
	io.done = 0;
	RGCHECK(mq_io_complete(u, &io, -ENOSPC, 6, &res) == 1 && res == -ENOSPC,
		"uring async: an error before anything was written is the result");
	memcpy(buf, "XYZ", 3);
	io.len = 3;
	RGCHECK(mq_io_complete(u, &io, -EINTR, 6, &res) == 0 && mq_uring_inflight(u) == 1,
		"uring async: EINTR is retried");
	got = mq_uring_reap(u, 1, rg_done, NULL);
	RGCHECK(got == 1 && mq_io_complete(u, &io, rg_done_res, 6, &res) == 1 && res == 3 &&
		pread(fd, small, 3, 0) == 3 && !memcmp(small, "XYZ", 3),
		"uring async: ... and the retry writes");
	memset(&io, 0, sizeof(io));
	io.fd = fd;
	io.len = 0;
	RGCHECK(mq_io_start(u, &io, 7, &res) == 1 && res == 0 && !mq_uring_inflight(u),
		"uring async: nothing to move: finished at once");
	close(fd);
	mq_uring_teardown(u);
}

static void *rg_enable_thread(void *arg)
{
	return (void *)(intptr_t)mq_uring_enable(arg);
}

/* SINGLE_ISSUER: the thread that enables the ring is its only submitter. */
static void test_uring_single_issuer(void)
{
	static char buf[4096] __attribute__((aligned(4096)));
	struct mq_uring *u = NULL;
	pthread_t t;
	void *res = (void *)1;
	char path[4096];
	int fd, ret;

	if (mq_uring_create(&u, buf, sizeof(buf), 0, 4)) {
		printf("ok - uring single issuer # SKIP no io_uring on this host\n");
		return;
	}
	RGCHECK(mq_uring_sq_entries(u) == 8, "uring: a ring for depth 4 has 8 SQEs");
	if (!(mq_uring_setup_flags(u) & IORING_SETUP_SINGLE_ISSUER)) {
		printf("ok - uring single issuer # SKIP kernel without IORING_SETUP_SINGLE_ISSUER\n");
		mq_uring_teardown(u);
		return;
	}
	if (!pthread_create(&t, NULL, rg_enable_thread, u))
		pthread_join(t, &res);
	snprintf(path, sizeof(path), "%s/uringasync", rg_dir);
	fd = open(path, O_RDONLY);
	ret = mq_uring_prep_rw(u, false, fd, buf, 16, 0, 1);
	if (!ret)
		ret = mq_uring_submit(u);
	RGCHECK(!res && ret == -EEXIST,
		"uring: enabled by another thread, the ring refuses this one's submission (EEXIST)");
	if (fd >= 0)
		close(fd);
	mq_uring_teardown(u);
}

/* The ring's default depth: buffers within 128 MiB, 2..64. */
static void test_ring_default_depth(void)
{
	uint32_t saved = mq_cfg.max_write;

	mq_cfg.max_write = 8u << 20;
	RGCHECK(mq_ring_default_depth() == 8,
		"ring depth: default 8 with the 8 MiB max_write (16 would pass 128 MiB)");
	mq_cfg.max_write = 4u << 20;
	RGCHECK(mq_ring_default_depth() == 16, "ring depth: default 16 with a 4 MiB max_write");
	mq_cfg.max_write = 1u << 20;
	RGCHECK(mq_ring_default_depth() == 64, "ring depth: default 64 with a 1 MiB max_write");
	mq_cfg.max_write = 4096;
	RGCHECK(mq_ring_default_depth() == 64, "ring depth: at most 64 with small buffers");
	mq_cfg.max_write = saved;
}

/* ---- the loop, set-up: RING_ENTER and the set-up ioctls faked --------- */

static struct fk_ring *fk_cur;
static int fk_enters;
static int (*fk_enter_step)(struct fk_ring *k, int call,
			    struct mqfuse_ring_enter *e);
/* set-up */
static int fk_reg_err;			/* UMEM_REG's answer, 0: see fk_reg_max */
static uint64_t fk_reg_max;		/* UMEM_REG: -ENOMEM above this length */
static int fk_setup_err;
static unsigned int fk_regs, fk_setups, fk_deregs, fk_unmaps;
static uint64_t fk_reg_lens[16];
static struct mqfuse_umem_reg fk_reg;
static uint32_t fk_setup_entries;
static char *fk_setup_map;

static int fk_ioctl(int fd, unsigned long cmd, void *arg)
{
	(void)fd;
	if (cmd == MQFUSE_IOC_RING_ENTER) {
		struct mqfuse_ring_enter *e = arg;

		fk_enters++;
		return fk_enter_step(fk_cur, fk_enters, e);
	}
	if (cmd == MQFUSE_IOC_UMEM_REG) {
		fk_reg = *(struct mqfuse_umem_reg *)arg;
		if (fk_regs < 16)
			fk_reg_lens[fk_regs] = fk_reg.len;
		fk_regs++;
		if (fk_reg_err)
			return fk_reg_err;
		return fk_reg_max && fk_reg.len > fk_reg_max ? -ENOMEM : 0;
	}
	if (cmd == MQFUSE_IOC_RING_SETUP) {
		struct mqfuse_ring_setup *s = arg;
		size_t len;

		fk_setups++;
		if (fk_setup_err)
			return fk_setup_err;
		fk_setup_entries = s->entries;
		fk_setup_map = fk_map_new(s->entries, fk_reg.buf_size, &len);
		s->mmap_len = len;
		return 0;
	}
	if (cmd == MQFUSE_IOC_UMEM_DEREG) {
		fk_deregs++;
		return 0;
	}
	return -ENOTTY;
}

static void *fk_map(int fd, size_t len)
{
	(void)fd;
	(void)len;
	return fk_setup_map;
}

static void fk_unmap(void *addr, size_t len)
{
	(void)len;
	fk_unmaps++;
	if (addr == fk_setup_map) {
		free(fk_setup_map);
		fk_setup_map = NULL;
	}
}

static const struct mq_ring_kops fk_kops = {
	.ioctl = fk_ioctl,
	.map = fk_map,
	.unmap = fk_unmap,
};

static unsigned int fk_taken_at3;
static bool fk_taken_ok;
static uint64_t fk_u3;

/* EINTR; a batch of two; then one more and the hand-over flag; never a 4th */
static int fk_step_handover(struct fk_ring *k, int call, struct mqfuse_ring_enter *e)
{
	struct fuse_getattr_in gi = { 0 };
	struct fuse_forget_in fo = { .nlookup = 1 };

	switch (call) {
	case 1:
		return -EINTR;
	case 2:
		e->replies = fk_take(k);
		fk_request(k, 0, 0, FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi), NULL, 0, NULL);
		fk_request(k, 1, 0, FUSE_FORGET, 9999, &fo, sizeof(fo), NULL, 0, NULL);
		e->requests = 2;
		return 0;
	case 3:
		fk_taken_at3 = e->replies = fk_take(k);
		fk_taken_ok = fk_taken_at3 == 2 && k->taken[0].buf == 0 &&
			      k->taken[0].len && k->taken[1].buf == 1 &&
			      !k->taken[1].len && !k->bad;
		fk_u3 = fk_request(k, 2, 0, FUSE_GETATTR, FUSE_ROOT_ID, &gi,
				   sizeof(gi), NULL, 0, NULL);
		e->requests = 1;
		atomic_store(&mq_handover, true);
		return 0;
	}
	return -ENODEV;
}

static int fk_step_destroy(struct fk_ring *k, int call, struct mqfuse_ring_enter *e)
{
	if (call > 1)
		return -ENODEV;
	fk_u3 = fk_request(k, 3, 0, FUSE_DESTROY, 0, NULL, 0, NULL, 0, NULL);
	e->requests = 1;
	return 0;
}

static int fk_step_enodev(struct fk_ring *k, int call, struct mqfuse_ring_enter *e)
{
	(void)k;
	(void)call;
	(void)e;
	return -ENODEV;
}

static int fk_step_enxio(struct fk_ring *k, int call, struct mqfuse_ring_enter *e)
{
	struct fuse_getattr_in gi = { 0 };

	/* a loop that does not fall back ends with ENODEV: ret 0 */
	if (call > 4)
		return -ENODEV;
	if (call > 1)
		return -ENXIO;
	fk_take(k);
	fk_u3 = fk_request(k, 4, 0, FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi),
			   NULL, 0, NULL);
	e->requests = 1;
	return 0;
}

static void test_ring_loop(void)
{
	const struct mq_ring_kops *sys = mq_ring_kops;
	struct mq_transport_stats x0, x;
	struct fk_ring k;
	uint32_t head;
	int ret;

	mq_ring_kops = &fk_kops;
	fk_init(&k);
	fk_attach(&k);
	fk_cur = &k;

	x0 = rg_stats();
	fk_enters = 0;
	fk_enter_step = fk_step_handover;
	ret = mq_ring_serve(&rg_thr);
	head = k.rep_head;
	RGCHECK(ret == 0 && fk_enters == 3,
		"ring loop: EINTR retried, two batches, no ENTER after the hand-over flag");
	RGCHECK(fk_taken_ok,
		"ring loop: the next ENTER takes the batch's reply descriptors (len 0 for FORGET)");
	RGCHECK(rg_written(0) == 16 + sizeof(struct fuse_attr_out) &&
		rg_woh()->unique == fk_u3 && !rg_written(0) &&
		__atomic_load_n(&k.ctl->rep_tail, __ATOMIC_ACQUIRE) == head + 1,
		"ring loop: at hand-over the last batch's reply goes by write(2), published but not fetched again");
	x = rg_stats();
	RGCHECK(x.batches - x0.batches == 2 && x.requests - x0.requests == 3,
		"ring loop: batches and requests counted");
	atomic_store(&mq_handover, false);
	fk_take(&k);

	fk_enters = 0;
	fk_enter_step = fk_step_enodev;
	RGCHECK(mq_ring_serve(&rg_thr) == 0 && fk_enters == 1 && rg_thr.ring,
		"ring loop: ENODEV ends the thread");

	fk_enters = 0;
	fk_enter_step = fk_step_destroy;
	ret = mq_ring_serve(&rg_thr);
	RGCHECK(ret == 0 && fk_enters == 1 && rg_written(0) == 16 &&
		rg_woh()->unique == fk_u3 && !rg_woh()->error,
		"ring loop: DESTROY answered (by write(2)) and the thread ends");
	atomic_store(&mq_conn.destroyed, false);
	fk_take(&k);

	fk_enters = 0;
	fk_enter_step = fk_step_enxio;
	ret = mq_ring_serve(&rg_thr);
	RGCHECK(ret == -EOPNOTSUPP && fk_enters == 2 && !rg_thr.ring &&
		rg_written(0) == 16 + sizeof(struct fuse_attr_out) &&
		rg_woh()->unique == fk_u3,
		"ring loop: ENXIO falls back to read/write, the published reply written first");
	RGCHECK(rg_thr.inbuf >= k.region && rg_thr.inbuf + rg_thr.inbuf_len <= k.region + k.buf_size &&
		rg_thr.outbuf >= k.region + k.umem_len &&
		rg_thr.outbuf + rg_thr.outbuf_len <= k.region + k.umem_len + k.spare_len &&
		(uintptr_t)(rg_thr.inbuf + MQ_WRITE_HDR_LEN) % 4096 == 0 &&
		(uintptr_t)(rg_thr.outbuf + 16) % 4096 == 0 &&
		rg_thr.stats.ring_depth == 0,
		"ring loop: after the fallback, read/write buffers in the same registered region");
	fk_fini(&k);
	fk_cur = NULL;
	mq_ring_kops = sys;
}

static void test_ring_setup(void)
{
	const struct mq_ring_kops *sys = mq_ring_kops;
	struct mq_config saved = mq_cfg;
	uint32_t bs = mq_ring_buf_size();
	struct mq_thread t;

	memset(&t, 0, sizeof(t));
	t.devfd = rg_pipe[1];
	mq_ring_kops = &fk_kops;
	mq_cfg.fs = MQ_FS_MQFUSE;
	mq_cfg.transport = MQ_TRANSPORT_RING;
	mq_cfg.ring_depth = 8;

	fk_regs = fk_setups = fk_deregs = fk_unmaps = 0;
	fk_reg_err = -ENOTTY;
	mq_ring_prepare(&t);
	RGCHECK(!t.ring && !t.region && fk_regs == 1 && !fk_setups,
		"ring setup: UMEM_REG refused (ENOTTY): read/write, nothing else tried");

	fk_regs = 0;
	fk_reg_err = 0;
	fk_reg_max = 2 * (uint64_t)bs;
	mq_ring_prepare(&t);
	RGCHECK(t.ring && mq_ring_depth(t.ring) == 2 && fk_regs == 3 &&
		fk_reg_lens[0] == 8ull * bs && fk_reg_lens[1] == 4ull * bs &&
		fk_reg_lens[2] == 2ull * bs && fk_reg.buf_size == bs &&
		fk_setup_entries == 2,
		"ring setup: memory that cannot be pinned (ENOMEM) halves the depth: 8, 4, 2");
	RGCHECK(t.region && (uintptr_t)t.region % 4096 == 0 &&
		fk_reg.addr == (uintptr_t)t.region &&
		t.region_len == 2ull * bs + mq_ring_spare_len(),
		"ring setup: umem is the start of the thread's region, the private buffer after it");
	mq_ring_free(t.ring);
	RGCHECK(fk_unmaps == 1 && !fk_setup_map, "ring setup: freeing unmaps the ring");
	t.ring = NULL;
	t.region = NULL;

	fk_regs = fk_setups = fk_deregs = 0;
	fk_reg_max = 0;
	fk_setup_err = -EINVAL;
	mq_ring_prepare(&t);
	RGCHECK(!t.ring && fk_regs == 1 && fk_setups == 1 && fk_deregs == 1,
		"ring setup: RING_SETUP refused (EINVAL): umem unregistered, read/write");
	fk_setup_err = 0;

	fk_regs = 0;
	fk_reg_max = 1;	/* never fits: down to depth 1, then give up */
	mq_ring_prepare(&t);
	RGCHECK(!t.ring && fk_regs == 4 && fk_reg_lens[3] == bs,
		"ring setup: still ENOMEM at depth 1: read/write");
	fk_reg_max = 0;

	fk_regs = 0;
	mq_cfg.fs = MQ_FS_FUSE;
	mq_ring_prepare(&t);
	RGCHECK(!t.ring && !fk_regs, "ring setup: stock FUSE: no ioctl, read/write");
	mq_cfg.fs = MQ_FS_MQFUSE;
	mq_cfg.transport = MQ_TRANSPORT_DEV;
	mq_ring_prepare(&t);
	RGCHECK(!t.ring && !fk_regs, "ring setup: --transport=dev: no ioctl");
	mq_cfg.transport = MQ_TRANSPORT_RING;

	/* the real ioctls on something that is not the device */
	mq_ring_kops = sys;
	mq_ring_prepare(&t);
	RGCHECK(!t.ring && !t.region, "ring setup: real UMEM_REG on a pipe fails: read/write");

	mq_cfg = saved;
}

/*
 * io_uring_submit() as it fails after publishing the SQE: liburing moves
 * the SQ tail before io_uring_enter(), which can then fail (EAGAIN under
 * memory pressure) and leave the SQE queued for the next enter.  The unit
 * test is linked with --wrap=io_uring_submit (Makefile).
 */
static int rg_submit_fail;
int __real_io_uring_submit(struct io_uring *ring);
int __wrap_io_uring_submit(struct io_uring *ring);
int __wrap_io_uring_submit(struct io_uring *ring)
{
	struct io_uring_sq *sq = &ring->sq;

	if (rg_submit_fail <= 0)
		return __real_io_uring_submit(ring);
	rg_submit_fail--;
	sq->sqe_head = sq->sqe_tail;
	__atomic_store_n(sq->ktail, sq->sqe_tail, __ATOMIC_RELEASE);
	return -EAGAIN;
}

/*
 * A synchronous read whose io_uring_enter() failed must neither be
 * submitted twice nor leave its completion to the next operation.
 */
static void test_uring_enter_fails(void)
{
	char pa[4096], pb[100], path[4096];
	struct mq_uring *u = NULL;
	int fa = -1, fb = -1, ret;
	ssize_t na, nb;
	char *buf;

	buf = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ret = buf == MAP_FAILED ? -ENOMEM : mq_uring_setup(&u, buf, 65536);
	RGCHECK(!ret, "uring enter fails: an io_uring over a buffer");
	if (ret)
		goto out;
	memset(pa, 'a', sizeof(pa));
	memset(pb, 'b', sizeof(pb));
	snprintf(path, sizeof(path), "%s/uring-a", rg_dir);
	fa = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	snprintf(path, sizeof(path), "%s/uring-b", rg_dir);
	fb = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	RGCHECK(fa >= 0 && fb >= 0 && write(fa, pa, sizeof(pa)) == sizeof(pa) &&
		write(fb, pb, sizeof(pb)) == sizeof(pb), "uring enter fails: two files");
	rg_submit_fail = 1;
	memset(buf, 0, 65536);
	na = mq_io_read(u, fa, buf, sizeof(pa), 0);
	RGCHECK(na == sizeof(pa) && !memcmp(buf, pa, sizeof(pa)) && !rg_submit_fail,
		"uring enter fails: the read whose enter failed returns its data once");
	memset(buf, 0, 65536);
	nb = mq_io_read(u, fb, buf, 4096, 0);
	RGCHECK(nb == sizeof(pb) && !memcmp(buf, pb, sizeof(pb)) && buf[sizeof(pb)] == 0,
		"uring enter fails: the next read gets its own completion (100 bytes of b)");
	if (nb != sizeof(pb))
		printf("# next read returned %zd\n", nb);
	RGCHECK(io_uring_sq_ready(mq_uring_ring(u)) == 0,
		"uring enter fails: nothing left queued");
out:
	rg_submit_fail = 0;
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	mq_uring_teardown(u);
	if (buf != MAP_FAILED)
		munmap(buf, 65536);
}

static bool rg_wait_fail;	/* io_uring_submit_and_wait() fails with EBUSY */
int __real_io_uring_submit_and_wait(struct io_uring *ring, unsigned int wait_nr);
int __wrap_io_uring_submit_and_wait(struct io_uring *ring, unsigned int wait_nr);
int __wrap_io_uring_submit_and_wait(struct io_uring *ring, unsigned int wait_nr)
{
	if (rg_wait_fail)
		return -EBUSY;
	return __real_io_uring_submit_and_wait(ring, wait_nr);
}

/*
 * A ring batch's I/O in flight and io_uring_enter() failing for good: the
 * thread can neither finish nor withdraw it, and must not hand its buffer
 * back to the kernel (the I/O could still land in it): the process exits
 * (SIGABRT) after retrying for about 5 s, rather than spin for ever.
 */
static void test_uring_drain_stuck(void)
{
	static char buf[4096] __attribute__((aligned(4096)));
	int status = 0, i;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct mq_uring *u = NULL;
		struct mq_io io = { .len = sizeof(buf), .buf = buf };
		ssize_t res;
		int fd = open("/dev/zero", O_RDONLY);

		/* quiet: the child's "exiting" message is expected */
		if (freopen("/dev/null", "w", stderr) == NULL || fd < 0 ||
		    mq_uring_setup(&u, buf, sizeof(buf)))
			_exit(3);
		io.fd = fd;
		if (mq_io_start(u, &io, 9, &res) != 0)
			_exit(4);
		rg_wait_fail = true;
		mq_uring_drain(u, rg_done, NULL);
		_exit(0);	/* returned with the read in flight */
	}
	for (i = 0; i < 300 && pid > 0; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(100000);
	}
	if (pid > 0 && i == 300) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	RGCHECK(pid > 0 && i < 300 && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		"uring drain: io_uring_enter failing for good with a batch in flight exits (SIGABRT) within 30 s");
	if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT))
		printf("# child: %s %d after %d00 ms\n",
		       WIFSIGNALED(status) ? "signal" : "exit",
		       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), i);
}

void test_ring(int *failures, const char *dir)
{
	rg_failures = failures;
	rg_dir = dir;
	rg_harness();
	test_ring_layout();
	test_ring_uring_split();
	test_ring_serve();
	test_ring_detached();
	test_ring_async();
	test_uring_async();
	test_uring_single_issuer();
	test_uring_enter_fails();
	test_uring_drain_stuck();
	test_ring_default_depth();
	test_ring_loop();
	test_ring_setup();
	mq_stats_thread_free(&rg_thr.stats);
	close(rg_pipe[0]);
	close(rg_pipe[1]);
}
