// SPDX-License-Identifier: GPL-2.0
/*
 * Backend data I/O through a per-thread io_uring.
 *
 * Each serving thread registers its whole request+reply region (with the
 * ring transport: its umem and private reply buffer) as fixed buffers, so
 * READ lands directly in the reply buffer and WRITE payload is sent
 * straight from the request buffer without page pinning per call.
 *
 * Two ways to use it, never mixed at one time:
 *  - synchronous (mq_io_read/write/fsync): one SQE, wait for its CQE;
 *    while asynchronous operations are prepared or in flight these use
 *    the plain system calls instead, so that no CQE of one is taken by
 *    the other;
 *  - asynchronous (the ring transport, ring.c): mq_uring_prep_rw() for
 *    each READ/WRITE of a batch, each tagged, then mq_uring_reap() submits
 *    them and waits for their completions with one io_uring_enter.
 *
 * Only the serving thread that enabled the ring submits to it or reaps it
 * (IORING_SETUP_SINGLE_ISSUER where the kernel has it: the ring is
 * created disabled and its submitter is the task that enables it; with
 * IORING_SETUP_DEFER_TASKRUN completions are posted only when that task
 * waits for them), so there is no locking and no barrier beyond
 * liburing's own.  Without a ring every call falls back to the plain
 * syscall.
 */
#include <errno.h>
#include <limits.h>
#include <sys/uio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <liburing.h>

#include "mqfused.h"

/* Older uapi headers: the values are the kernel's (6.0, 6.1). */
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER	(1U << 12)
#endif
#ifndef IORING_SETUP_DEFER_TASKRUN
#define IORING_SETUP_DEFER_TASKRUN	(1U << 13)
#endif

struct mq_uring {
	struct io_uring ring;
	char *fixed;		/* start of registered buffer 0, or NULL */
	size_t fixed_len;	/* bytes registered from fixed on */
	size_t chunk;		/* bytes per registered buffer (the last: less) */
	unsigned int setup_flags; /* IORING_SETUP_* the kernel accepted */
	/* fields below are the submitting thread's only */
	unsigned int inflight;	/* asynchronous SQEs prepared, CQE not reaped */
	unsigned int max_inflight; /* high-water mark of inflight */
};

/* The tag of a synchronous operation's SQE (asynchronous tags are below). */
#define MQ_URING_SYNC_TAG	UINT64_MAX

/* io_uring refuses a fixed buffer above 1 GiB (io_buffer_validate()). */
#define MQ_URING_MAX_FIXED	(1ul << 30)
#define MQ_URING_MAX_CHUNKS	64

/*
 * What a ring may do once enabled: the SQE opcodes below (mq_io_*), no
 * SQE flags, no io_uring_register() operation.  Registered while the ring
 * is disabled (IORING_SETUP_R_DISABLED), before the sandbox: io_uring
 * runs its work outside the system call layer, so seccomp does not see
 * an IORING_OP_OPENAT or IORING_OP_SOCKET; the restrictions do.
 */
static const uint8_t mq_uring_ops[] = {
	IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READ_FIXED,
	IORING_OP_WRITE_FIXED, IORING_OP_FSYNC,
};

static int mq_uring_restrict(struct io_uring *ring)
{
	struct io_uring_restriction res[sizeof(mq_uring_ops)];
	unsigned int i;

	memset(res, 0, sizeof(res));
	for (i = 0; i < sizeof(mq_uring_ops); i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = mq_uring_ops[i];
	}
	/* Raw calls: not every liburing build exports the wrappers. */
	if (syscall(__NR_io_uring_register, ring->ring_fd,
		    IORING_REGISTER_RESTRICTIONS, res, i) < 0)
		return -errno;
	return 0;
}

unsigned int mq_uring_split(struct iovec *iov, unsigned int max_iov, char *buf,
			    size_t len, size_t unit, size_t max_fixed,
			    size_t *chunkp)
{
	size_t chunk, off;
	unsigned int n = 0;

	if (!unit || unit > len)
		unit = len;
	if (!unit || unit > max_fixed)
		return 0;
	chunk = max_fixed / unit * unit;
	if (chunk > len)
		chunk = len;
	for (off = 0; off < len && n < max_iov; off += chunk, n++) {
		iov[n].iov_base = buf + off;
		iov[n].iov_len = len - off < chunk ? len - off : chunk;
	}
	*chunkp = chunk;
	return off < len ? 0 : n;
}

/*
 * The setups tried, best first: one submitter whose completions run when
 * it waits for them (6.1), else one that is not interrupted for them
 * (5.19), else a plain ring.  Each is created disabled: the submitter is
 * the thread that enables it.
 */
static const unsigned int mq_uring_setup_ladder[] = {
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN,
	0,
};

/* SQ entries for @depth operations in flight: a power of two, at least 8. */
unsigned int mq_uring_entries(unsigned int depth)
{
	unsigned int n = 8;

	while (n < depth && n < 4096)
		n *= 2;
	return n;
}

/*
 * A disabled ring with @buf registered as fixed buffers and the
 * restrictions above, with room for @depth asynchronous operations in
 * flight (its CQ twice that: never overflows); mq_uring_enable() in the
 * thread that will use it.  Fails rather than give an unrestricted ring.
 */
int mq_uring_create(struct mq_uring **out, void *buf, size_t len, size_t unit,
		    unsigned int depth)
{
	struct io_uring_params p;
	struct iovec iov[MQ_URING_MAX_CHUNKS];
	struct mq_uring *u;
	unsigned int nr, i;
	size_t chunk = 0;
	int ret = -EINVAL;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	for (i = 0; i < sizeof(mq_uring_setup_ladder) /
			sizeof(mq_uring_setup_ladder[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_R_DISABLED | mq_uring_setup_ladder[i];
		ret = io_uring_queue_init_params(mq_uring_entries(depth),
						 &u->ring, &p);
		/* EINVAL: a flag this kernel does not know; try fewer */
		if (ret != -EINVAL)
			break;
	}
	if (ret < 0)
		goto err_free;
	u->setup_flags = p.flags;
	nr = mq_uring_split(iov, MQ_URING_MAX_CHUNKS, buf, len, unit,
			    MQ_URING_MAX_FIXED, &chunk);
	ret = nr ? io_uring_register_buffers(&u->ring, iov, nr) : -E2BIG;
	if (ret < 0) {
		mq_warn("io_uring_register_buffers: %s; using unregistered buffers",
			strerror(-ret));
	} else {
		u->fixed = buf;
		u->fixed_len = len;
		u->chunk = chunk;
	}
	ret = mq_uring_restrict(&u->ring);
	if (ret < 0) {
		io_uring_queue_exit(&u->ring);
		goto err_free;
	}
	*out = u;
	return 0;

err_free:
	free(u);
	return ret;
}

/* Enable the ring in the thread that submits to it. */
int mq_uring_enable(struct mq_uring *u)
{
	if (syscall(__NR_io_uring_register, u->ring.ring_fd,
		    IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0)
		return -errno;
	return 0;
}

/* The ring's descriptor (kept by the fd sweep, session.c); -1 without one. */
int mq_uring_fd(const struct mq_uring *u)
{
	return u ? u->ring.ring_fd : -1;
}

/* The ring, for the tests. */
struct io_uring *mq_uring_ring(struct mq_uring *u)
{
	return &u->ring;
}

unsigned int mq_uring_setup_flags(const struct mq_uring *u)
{
	return u ? u->setup_flags : 0;
}

unsigned int mq_uring_sq_entries(const struct mq_uring *u)
{
	return u ? u->ring.sq.ring_entries : 0;
}

int mq_uring_setup(struct mq_uring **out, void *buf, size_t len)
{
	int ret = mq_uring_create(out, buf, len, 0, 0);

	if (!ret) {
		ret = mq_uring_enable(*out);
		if (ret) {
			mq_uring_teardown(*out);
			*out = NULL;
		}
	}
	return ret;
}

void mq_uring_teardown(struct mq_uring *u)
{
	if (!u)
		return;
	io_uring_queue_exit(&u->ring);
	free(u);
}

/* The fixed buffer holding all of [@buf, @buf + @len), or -1. */
static int mq_uring_fixed_index(struct mq_uring *u, const void *buf, size_t len)
{
	const char *p = buf;
	size_t off, idx;

	if (!u->fixed || p < u->fixed || p + len > u->fixed + u->fixed_len)
		return -1;
	off = p - u->fixed;
	idx = off / u->chunk;
	if (off + len > (idx + 1) * u->chunk)
		return -1;	/* straddles two registered buffers */
	return idx;
}

/* A read or write SQE, on fixed buffer @idx if >= 0. */
static void mq_uring_prep(struct io_uring_sqe *sqe, bool write, int fd,
			  void *buf, size_t len, off_t off, int idx)
{
	if (idx >= 0) {
		if (write)
			io_uring_prep_write_fixed(sqe, fd, buf, len, off, idx);
		else
			io_uring_prep_read_fixed(sqe, fd, buf, len, off, idx);
	} else {
		if (write)
			io_uring_prep_write(sqe, fd, buf, len, off);
		else
			io_uring_prep_read(sqe, fd, buf, len, off);
	}
}

/* Failed io_uring_enter()s tolerated in a row, 1 ms apart (see below). */
#define MQ_URING_ENTER_RETRIES	5000

static void mq_uring_stuck(const char *what, int err)
{
	/*
	 * The SQE may still run into its buffer, which the caller would
	 * reuse for another request: exit rather than risk a read landing
	 * in another request's WRITE payload (the kernel replays what we
	 * held to the supervisor's successor, or fails it).
	 */
	mq_err("io_uring: %s keeps failing (%s): a prepared I/O can neither be completed nor withdrawn, exiting",
	       what, strerror(-err));
	abort();
}

/*
 * Submit the prepared SQE and wait for its completion.  Nothing else is
 * in flight (mq_uring_busy()): the only CQE due is its own.  Never returns
 * while the SQE is queued or running: io_uring_submit() makes it visible
 * to the kernel before io_uring_enter(), so an enter that fails (EAGAIN,
 * EBUSY, EINTR) leaves it queued for the next one; returning then would
 * let the I/O run later into a buffer reused meanwhile, and its CQE be
 * taken by the next operation.  Only the op's own result is returned.
 */
static int mq_uring_wait(struct mq_uring *u)
{
	struct io_uring_cqe *cqe;
	unsigned int tries = 0;
	int ret;

	while (io_uring_sq_ready(&u->ring)) {
		ret = io_uring_submit(&u->ring);
		if (ret >= 0)
			continue;
		if (++tries > MQ_URING_ENTER_RETRIES)
			mq_uring_stuck("submitting", ret);
		if (ret != -EINTR)
			usleep(1000);
	}
	for (tries = 0;;) {
		uint64_t tag;

		ret = io_uring_wait_cqe(&u->ring, &cqe);
		if (ret < 0) {
			if (++tries > MQ_URING_ENTER_RETRIES)
				mq_uring_stuck("waiting for a completion", ret);
			if (ret != -EINTR)
				usleep(1000);
			continue;
		}
		tag = io_uring_cqe_get_data64(cqe);
		ret = cqe->res;
		io_uring_cqe_seen(&u->ring, cqe);
		if (tag == MQ_URING_SYNC_TAG)
			return ret;
		/* not ours, and nothing else was in flight: cannot happen */
		mq_warn("io_uring: a completion nobody waits for (tag %llu, res %d): dropped",
			(unsigned long long)tag, ret);
	}
}

static ssize_t mq_uring_rw(struct mq_uring *u, bool write, int fd, void *buf,
			   size_t len, off_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	int idx = mq_uring_fixed_index(u, buf, len);

	if (!sqe)
		return -EBUSY;
	mq_uring_prep(sqe, write, fd, buf, len, off, idx);
	io_uring_sqe_set_data64(sqe, MQ_URING_SYNC_TAG);
	return mq_uring_wait(u);
}

/*
 * Asynchronous operations prepared or in flight: a synchronous one now
 * would submit them and could take one of their CQEs for its own.
 */
static bool mq_uring_busy(const struct mq_uring *u)
{
	return u->inflight != 0;
}

/*
 * Prepare (not submit) a read or write of [@buf, @buf + @len) at @off of
 * @fd, its completion reported to mq_uring_reap()'s callback with @tag
 * (below MQ_URING_SYNC_TAG).  -EBUSY if no SQE is free even after
 * submitting what is prepared.
 */
int mq_uring_prep_rw(struct mq_uring *u, bool write, int fd, void *buf,
		     size_t len, off_t off, uint64_t tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		/* the SQ is sized for the ring's depth: should not happen */
		if (io_uring_submit(&u->ring) < 0)
			return -EBUSY;
		sqe = io_uring_get_sqe(&u->ring);
		if (!sqe)
			return -EBUSY;
	}
	mq_uring_prep(sqe, write, fd, buf, len, off,
		      mq_uring_fixed_index(u, buf, len));
	io_uring_sqe_set_data64(sqe, tag);
	if (++u->inflight > u->max_inflight)
		u->max_inflight = u->inflight;
	return 0;
}

/* Start what is prepared without waiting (0 or -errno). */
int mq_uring_submit(struct mq_uring *u)
{
	int ret;

	do {
		ret = io_uring_submit(&u->ring);
	} while (ret == -EINTR);
	return ret < 0 ? ret : 0;
}

/*
 * Submit what is prepared, wait until @wait_nr completions are ready
 * (fewer if a signal comes: -EINTR after the ones ready are reported)
 * and hand each ready one to @done(@ctx, tag, res), which may prepare
 * more.  Returns the number reported or -errno.
 */
int mq_uring_reap(struct mq_uring *u, unsigned int wait_nr,
		  void (*done)(void *ctx, uint64_t tag, int res), void *ctx)
{
	struct io_uring_cqe *cqe;
	unsigned int head, seen = 0;
	int ret, err;

	if (wait_nr > u->inflight)
		wait_nr = u->inflight;
	ret = io_uring_submit_and_wait(&u->ring, wait_nr);
	err = ret < 0 ? ret : 0;
	for (;;) {
		uint64_t tag;
		int res;

		/* one at a time: @done may prepare SQEs, never reap */
		cqe = NULL;
		io_uring_for_each_cqe(&u->ring, head, cqe)
			break;
		if (!cqe)
			break;
		tag = io_uring_cqe_get_data64(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&u->ring, cqe);
		if (tag == MQ_URING_SYNC_TAG || !u->inflight) {
			/* not ours: cannot happen (mq_uring_wait()) */
			mq_warn("io_uring: a completion nobody waits for (tag %llu, res %d): dropped",
				(unsigned long long)tag, res);
			continue;
		}
		u->inflight--;
		seen++;
		done(ctx, tag, res);
	}
	if (err && !seen)
		return err;
	return seen;
}

/*
 * Reap until nothing is in flight: the batch's buffers go back to the
 * kernel only after their I/O finished.  A failing io_uring_enter() is
 * retried (EINTR at once, others 1 ms apart, logged now and then); if it
 * keeps failing for MQ_URING_ENTER_RETRIES tries in a row, the I/O can
 * neither be completed nor withdrawn: exit (mq_uring_stuck()).
 */
void mq_uring_drain(struct mq_uring *u,
		    void (*done)(void *ctx, uint64_t tag, int res), void *ctx)
{
	unsigned int n, tries = 0;
	int ret;

	while ((n = mq_uring_inflight(u))) {
		ret = mq_uring_reap(u, n, done, ctx);
		if (ret >= 0) {
			tries = 0;
			continue;
		}
		if (++tries > MQ_URING_ENTER_RETRIES)
			mq_uring_stuck("waiting for a batch's completions", ret);
		if (ret == -EINTR)
			continue;
		if (tries % 1000 == 1)
			mq_err("io_uring: waiting for a batch: %s (%u in a row, %u in flight)",
			       strerror(-ret), tries, n);
		usleep(1000);
	}
}

unsigned int mq_uring_inflight(const struct mq_uring *u)
{
	return u ? u->inflight : 0;
}

unsigned int mq_uring_max_inflight(const struct mq_uring *u)
{
	return u ? u->max_inflight : 0;
}

/*
 * -EAGAIN answers tolerated in a row before giving up.  Backend files are
 * opened without O_NONBLOCK (ops_namespace.c), so -EAGAIN should not
 * happen; if a backend produces it anyway, a serving thread must not spin
 * on it: the client gets EAGAIN (or the short count) instead.
 */
#define MQ_IO_EAGAIN_RETRIES	8

/*
 * Move @len bytes, resuming after short transfers. A read is short only at
 * end of file; a write that makes no progress fails with -EIO. After a
 * partial transfer an error reports what was done.
 */
static ssize_t mq_io_rw(struct mq_uring *u, bool write, int fd, char *buf,
			size_t len, off_t off)
{
	unsigned int eagain = 0;
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		if (u && !mq_uring_busy(u)) {
			n = mq_uring_rw(u, write, fd, buf + done, len - done,
					off + done);
		} else {
			n = write ? pwrite(fd, buf + done, len - done, off + done) :
				    pread(fd, buf + done, len - done, off + done);
			if (n < 0)
				n = -errno;
		}
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN && ++eagain <= MQ_IO_EAGAIN_RETRIES)
			continue;
		if (n < 0)
			return done ? (ssize_t)done : n;
		if (n == 0) {
			if (write && !done)
				return -EIO;
			break;
		}
		eagain = 0;
		done += n;
	}
	return done;
}

/*
 * preadv/pwritev of @iov (@niov segments, at most MQ_IOV_MAX, in all @len
 * bytes) at @off, until done, end of file or an error, as mq_io_rw() does
 * for one buffer.  The segments are guest memory (vhost.c): payload moves
 * between it and the backing file with no copy of ours.
 */
ssize_t mq_io_rwv(bool write, int fd, const struct iovec *iov,
		  unsigned int niov, size_t len, off_t off)
{
	struct iovec v[MQ_IOV_MAX];
	unsigned int first = 0, eagain = 0;
	size_t done = 0;
	ssize_t n;

	if (niov > MQ_IOV_MAX)
		return -EINVAL;
	memcpy(v, iov, niov * sizeof(*v));
	while (done < len && first < niov) {
		unsigned int cnt = niov - first;

		if (cnt > IOV_MAX)
			cnt = IOV_MAX;
		n = write ? pwritev(fd, v + first, cnt, off + done) :
			    preadv(fd, v + first, cnt, off + done);
		if (n < 0)
			n = -errno;
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN && ++eagain <= MQ_IO_EAGAIN_RETRIES)
			continue;
		if (n < 0)
			return done ? (ssize_t)done : n;
		if (n == 0) {
			if (write && !done)
				return -EIO;
			break;
		}
		eagain = 0;
		done += n;
		/* step over what moved */
		while (n > 0 && first < niov) {
			if ((size_t)n >= v[first].iov_len) {
				n -= v[first].iov_len;
				first++;
			} else {
				v[first].iov_base = (char *)v[first].iov_base + n;
				v[first].iov_len -= n;
				n = 0;
			}
		}
	}
	return done;
}

ssize_t mq_io_read(struct mq_uring *u, int fd, void *buf, size_t len,
		   off_t off)
{
	return mq_io_rw(u, false, fd, buf, len, off);
}

ssize_t mq_io_write(struct mq_uring *u, int fd, const void *buf, size_t len,
		    off_t off)
{
	return mq_io_rw(u, true, fd, (char *)buf, len, off);
}

int mq_io_fsync(struct mq_uring *u, int fd, bool datasync)
{
	struct io_uring_sqe *sqe;

	if (!u || mq_uring_busy(u)) {
		if (datasync ? fdatasync(fd) : fsync(fd))
			return -errno;
		return 0;
	}
	sqe = io_uring_get_sqe(&u->ring);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
	io_uring_sqe_set_data64(sqe, MQ_URING_SYNC_TAG);
	return mq_uring_wait(u);
}

/*
 * Prepare the SQE for what is left of @io, tagged @tag; 1 with *@result
 * if it ended at once: nothing to move, or no SQE to be had (then the
 * rest is moved synchronously, with the system calls).
 */
static int mq_io_next(struct mq_uring *u, struct mq_io *io, uint64_t tag,
		      ssize_t *result)
{
	ssize_t n;

	if (io->done >= io->len) {
		*result = io->done;
		return 1;
	}
	if (!mq_uring_prep_rw(u, io->write, io->fd, io->buf + io->done,
			      io->len - io->done, io->off + io->done, tag))
		return 0;
	n = mq_io_rw(NULL, io->write, io->fd, io->buf + io->done,
		     io->len - io->done, io->off + io->done);
	if (n < 0)
		*result = io->done ? (ssize_t)io->done : n;
	else
		*result = io->done + n;
	return 1;
}

int mq_io_start(struct mq_uring *u, struct mq_io *io, uint64_t tag,
		ssize_t *result)
{
	io->done = 0;
	io->eagain = 0;
	return mq_io_next(u, io, tag, result);
}

/*
 * The completion @res of @io's SQE, with mq_io_rw()'s rules: resumed after
 * a short transfer, EINTR and (a few) EAGAIN; a read ends short at end of
 * file; a write that makes no progress fails with -EIO; an error after a
 * partial transfer reports what was done.
 */
int mq_io_complete(struct mq_uring *u, struct mq_io *io, int res,
		   uint64_t tag, ssize_t *result)
{
	if (res == -EINTR ||
	    (res == -EAGAIN && ++io->eagain <= MQ_IO_EAGAIN_RETRIES))
		return mq_io_next(u, io, tag, result);
	if (res < 0) {
		*result = io->done ? (ssize_t)io->done : res;
		return 1;
	}
	if (res == 0) {
		*result = io->write && !io->done ? -EIO : (ssize_t)io->done;
		return 1;
	}
	io->eagain = 0;
	io->done += res;
	return mq_io_next(u, io, tag, result);
}
