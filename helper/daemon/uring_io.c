// SPDX-License-Identifier: GPL-2.0
/*
 * Backend data I/O through a per-thread io_uring.
 *
 * Each serving thread registers its whole request+reply region (with the
 * ring transport: its umem and private reply buffer) as fixed buffers, so
 * READ lands directly in the reply buffer and WRITE payload is sent
 * straight from the request buffer without page pinning per call.
 * The thread submits one SQE and waits for its CQE (run to completion: no
 * other thread ever touches this ring, so no locking and no barriers beyond
 * liburing's own).  Without a ring every call falls back to the plain
 * syscall.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <liburing.h>

#include "mqfused.h"

struct mq_uring {
	struct io_uring ring;
	char *fixed;		/* start of registered buffer 0, or NULL */
	size_t fixed_len;	/* bytes registered from fixed on */
	size_t chunk;		/* bytes per registered buffer (the last: less) */
};

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
 * A disabled ring with @buf registered as fixed buffers and the
 * restrictions above; mq_uring_enable() in the thread that will use it.
 * Fails rather than give an unrestricted ring.
 */
int mq_uring_create(struct mq_uring **out, void *buf, size_t len, size_t unit)
{
	struct io_uring_params p = { 0 };
	struct iovec iov[MQ_URING_MAX_CHUNKS];
	struct mq_uring *u;
	unsigned int nr;
	size_t chunk = 0;
	int ret;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	p.flags = IORING_SETUP_R_DISABLED;
#if defined(IORING_SETUP_SINGLE_ISSUER) && defined(IORING_SETUP_COOP_TASKRUN)
	/* The submitter is the task that enables the ring. */
	p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN;
#endif
	ret = io_uring_queue_init_params(8, &u->ring, &p);
	if (ret == -EINVAL && p.flags != IORING_SETUP_R_DISABLED) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_R_DISABLED;
		ret = io_uring_queue_init_params(8, &u->ring, &p);
	}
	if (ret < 0)
		goto err_free;
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

int mq_uring_setup(struct mq_uring **out, void *buf, size_t len)
{
	int ret = mq_uring_create(out, buf, len, 0);

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

/* Submit the prepared SQE and wait for its completion. */
static int mq_uring_wait(struct mq_uring *u)
{
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_submit(&u->ring);
	if (ret < 0)
		return ret;
	do {
		ret = io_uring_wait_cqe(&u->ring, &cqe);
	} while (ret == -EINTR);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(&u->ring, cqe);
	return ret;
}

static ssize_t mq_uring_rw(struct mq_uring *u, bool write, int fd, void *buf,
			   size_t len, off_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
	int idx = mq_uring_fixed_index(u, buf, len);

	if (!sqe)
		return -EBUSY;
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
	return mq_uring_wait(u);
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
		if (u)
			n = mq_uring_rw(u, write, fd, buf + done, len - done, off + done);
		else if (write)
			n = pwrite(fd, buf + done, len - done, off + done);
		else
			n = pread(fd, buf + done, len - done, off + done);
		if (!u && n < 0)
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

	if (!u) {
		if (datasync ? fdatasync(fd) : fsync(fd))
			return -errno;
		return 0;
	}
	sqe = io_uring_get_sqe(&u->ring);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
	return mq_uring_wait(u);
}
