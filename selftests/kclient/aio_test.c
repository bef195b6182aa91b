// SPDX-License-Identifier: GPL-2.0
/*
 * aio_test - asynchronous O_DIRECT (AIO and io_uring) on a mount served
 * by a real daemon.
 *
 *   aio_test MNT SRC
 *
 * MNT is the mount, SRC the daemon's backing directory (sizes are checked
 * there too, past any attribute cache). Prints TAP lines; exit status 1
 * if any failed. Covers: QD16 4 KiB random reads and writes checked
 * against a pattern; multi-chunk 12 MiB reads and writes; reads crossing
 * and past EOF; an extending write; RWF_DSYNC; RWF_NOWAIT through
 * preadv2, io_submit and io_uring, and io_uring reads that 6.1 first tries
 * with IOCB_NOWAIT; close() of a flock'ed file with AIO in flight; a
 * truncate while AIO reads stream (bounded time); open(O_TRUNC) while AIO
 * writes are in flight (size 0 after the reap).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KB		1024ULL
#define MB		(1024 * KB)
#define BLK		4096
#define FILE_SIZE	(16 * MB)
#define QD		16

static int failures;
static const char *mnt, *src;

static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - aio: ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		failures++;
}

static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* ---- libaio by raw syscalls ---- */

static long io_setup(unsigned int nr, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, nr, ctx);
}

static long io_destroy(aio_context_t ctx)
{
	return syscall(SYS_io_destroy, ctx);
}

static long io_submit(aio_context_t ctx, long nr, struct iocb **iocbs)
{
	return syscall(SYS_io_submit, ctx, nr, iocbs);
}

static long io_getevents(aio_context_t ctx, long min, long max, struct io_event *ev,
			 struct timespec *tmo)
{
	return syscall(SYS_io_getevents, ctx, min, max, ev, tmo);
}

static void iocb_prep(struct iocb *cb, int fd, bool write, void *buf, size_t len,
		      uint64_t off, int rw_flags, uint64_t data)
{
	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = fd;
	cb->aio_lio_opcode = write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
	cb->aio_buf = (uintptr_t)buf;
	cb->aio_nbytes = len;
	cb->aio_offset = off;
	cb->aio_rw_flags = rw_flags;
	cb->aio_data = data;
}

/* Reap exactly @nr events within @sec seconds; returns how many came. */
static long reap(aio_context_t ctx, long nr, struct io_event *ev, int sec)
{
	struct timespec end, now, tmo;
	long got = 0, n;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += sec;
	while (got < nr) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec)
			break;
		tmo.tv_sec = 1;
		tmo.tv_nsec = 0;
		n = io_getevents(ctx, 1, nr - got, ev + got, &tmo);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0)
			got += n;
	}
	return got;
}

/* One AIO, submitted and reaped; returns res (bytes or -errno), or LONG_MIN on a hang. */
static long aio_one(aio_context_t ctx, int fd, bool write, void *buf, size_t len,
		    uint64_t off, int rw_flags)
{
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;

	iocb_prep(&cb, fd, write, buf, len, off, rw_flags, 0);
	if (io_submit(ctx, 1, cbs) != 1)
		return -errno;
	if (reap(ctx, 1, &ev, 60) != 1)
		return LONG_MIN;
	return ev.res;
}

/* ---- data ---- */

static uint8_t pat(uint64_t off, unsigned int gen)
{
	return (uint8_t)((off >> 12) * 131 + (off & 0xfff) * 7 + gen * 57 + (off >> 20));
}

static void fill(uint8_t *b, uint64_t off, size_t len, unsigned int gen)
{
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = pat(off + i, gen);
}

/* Returns the index of the first mismatch, or -1. */
static long check(const uint8_t *b, uint64_t off, size_t len, unsigned int gen)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != pat(off + i, gen))
			return i;
	return -1;
}

static void *abuf(size_t len)
{
	void *p;

	if (posix_memalign(&p, BLK, len))
		return NULL;
	memset(p, 0, len);
	return p;
}

static uint64_t rnd_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static char *path(const char *dir, const char *name)
{
	static char p[2][4096];
	static int i;

	i ^= 1;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Write @len bytes of generation @gen at 0 with plain write(2). */
static int make_file(const char *name, uint64_t len, unsigned int gen)
{
	uint8_t *b = abuf(MB);
	uint64_t off;
	int fd;

	fd = open(path(mnt, name), O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || !b) {
		free(b);
		return -1;
	}
	for (off = 0; off < len; off += MB) {
		size_t n = len - off < MB ? len - off : MB;

		fill(b, off, n, gen);
		if (pwrite(fd, b, n, off) != (ssize_t)n) {
			close(fd);
			free(b);
			return -1;
		}
	}
	free(b);
	return fd;
}

static off_t backing_size(const char *name)
{
	struct stat st;

	return stat(path(src, name), &st) ? -1 : st.st_size;
}

/* ---- checks ---- */

/* QD16 4 KiB random reads, then writes of a new generation, then a full re-read. */
static void t_random(aio_context_t ctx)
{
	const unsigned int nblk = FILE_SIZE / BLK, rounds = 96;
	uint8_t *bufs = abuf(QD * BLK), *big = abuf(FILE_SIZE);
	unsigned char *gen = calloc(nblk, 1);
	unsigned int r, i, bad = 0, errs = 0;
	struct iocb cbs[QD], *cbp[QD];
	struct io_event ev[QD];
	int fd = make_file("aio_rand", FILE_SIZE, 1), dfd;

	if (fd < 0 || !bufs || !big || !gen) {
		tap(false, "random: set up the 16 MiB file");
		goto out;
	}
	close(fd);
	fd = -1;
	dfd = open(path(mnt, "aio_rand"), O_RDWR | O_DIRECT);
	if (dfd < 0) {
		tap(false, "random: open O_DIRECT: %s", strerror(errno));
		goto out;
	}
	memset(gen, 1, nblk);
	for (r = 0; r < rounds; r++) {
		uint64_t offs[QD];

		for (i = 0; i < QD; i++) {
			offs[i] = (rnd() % nblk) * BLK;
			iocb_prep(&cbs[i], dfd, false, bufs + i * BLK, BLK, offs[i], 0, i);
			cbp[i] = &cbs[i];
		}
		if (io_submit(ctx, QD, cbp) != QD || reap(ctx, QD, ev, 60) != QD) {
			errs++;
			break;
		}
		for (i = 0; i < QD; i++) {
			unsigned int k = ev[i].data;

			if (ev[i].res != BLK || check(bufs + k * BLK, offs[k], BLK, 1) >= 0)
				bad++;
		}
	}
	tap(!errs && !bad, "random: %u QD16 4 KiB O_DIRECT reads match the pattern (%u bad, %u failed batches)",
	    rounds * QD, bad, errs);

	bad = errs = 0;
	for (r = 0; r < rounds; r++) {
		uint64_t offs[QD];

		/* distinct blocks within a batch: no two writes in flight overlap */
		for (i = 0; i < QD; i++) {
			unsigned int j;

			do {
				offs[i] = (rnd() % nblk) * BLK;
				for (j = 0; j < i && offs[j] != offs[i]; j++)
					;
			} while (j < i);
			fill(bufs + i * BLK, offs[i], BLK, 2);
			gen[offs[i] / BLK] = 2;
			iocb_prep(&cbs[i], dfd, true, bufs + i * BLK, BLK, offs[i], 0, i);
			cbp[i] = &cbs[i];
		}
		if (io_submit(ctx, QD, cbp) != QD || reap(ctx, QD, ev, 60) != QD) {
			errs++;
			break;
		}
		for (i = 0; i < QD; i++)
			if (ev[i].res != BLK)
				bad++;
	}
	tap(!errs && !bad, "random: %u QD16 4 KiB O_DIRECT writes complete in full (%u short, %u failed batches)",
	    rounds * QD, bad, errs);

	bad = 0;
	if (pread(dfd, big, FILE_SIZE, 0) != (ssize_t)FILE_SIZE) {
		bad = 1;
	} else {
		for (i = 0; i < nblk && bad < 5; i++)
			if (check(big + (uint64_t)i * BLK, (uint64_t)i * BLK, BLK, gen[i]) >= 0) {
				diag("block %u: not generation %u", i, gen[i]);
				bad++;
			}
	}
	tap(!bad, "random: the file holds exactly what the AIO writes wrote");
	/* buffered reads see it too (the writes dropped the cache they covered) */
	fd = open(path(mnt, "aio_rand"), O_RDONLY);
	bad = fd < 0 || pread(fd, big, FILE_SIZE, 0) != (ssize_t)FILE_SIZE;
	for (i = 0; !bad && i < nblk; i++)
		if (check(big + (uint64_t)i * BLK, (uint64_t)i * BLK, BLK, gen[i]) >= 0)
			bad = 1;
	tap(!bad, "random: a buffered read afterwards sees the same data");
	if (fd >= 0)
		close(fd);
	fd = -1;
	close(dfd);
out:
	if (fd >= 0)
		close(fd);
	free(bufs);
	free(big);
	free(gen);
}

/* One 12 MiB AIO write and read: more than one request (max 8 MiB each). */
static void t_large(aio_context_t ctx)
{
	const size_t len = 12 * MB;
	const uint64_t off = 2 * MB;
	uint8_t *b = abuf(len);
	long res, m;
	int fd = make_file("aio_large", FILE_SIZE, 1);

	if (fd < 0 || !b) {
		tap(false, "large: set up");
		goto out;
	}
	close(fd);
	fd = open(path(mnt, "aio_large"), O_RDWR | O_DIRECT);
	fill(b, off, len, 3);
	res = aio_one(ctx, fd, true, b, len, off, 0);
	tap(res == (long)len, "large: one 12 MiB AIO O_DIRECT write completes in full (%ld)", res);
	memset(b, 0, len);
	res = aio_one(ctx, fd, false, b, len, off, 0);
	m = check(b, off, len, 3);
	tap(res == (long)len && m < 0, "large: one 12 MiB AIO O_DIRECT read returns it (%ld, mismatch at %ld)",
	    res, m);
	memset(b, 0, len);
	res = aio_one(ctx, fd, false, b, len, 0, 0);
	m = check(b, 0, 2 * MB, 1);
	if (m < 0)
		m = check(b + 2 * MB, 2 * MB, len - 2 * MB, 3);
	tap(res == (long)len && m < 0, "large: around the written range too (%ld, mismatch at %ld)", res, m);
	/* an unaligned user buffer: one page more per request */
	res = aio_one(ctx, fd, false, b + 512, 8 * MB, 4 * MB, 0);
	/* mqfuse, like fuse, has no O_DIRECT alignment rule: the data, never EINVAL */
	tap(res == (long)(8 * MB) && check(b + 512, 4 * MB, 8 * MB, 3) < 0,
	    "large: a buffer unaligned for O_DIRECT gives the data (%ld)", res);
out:
	if (fd >= 0)
		close(fd);
	free(b);
}

/* Reads crossing and past EOF; an extending write; RWF_DSYNC. */
static void t_eof(aio_context_t ctx)
{
	const uint64_t size = 10000;
	uint8_t *b = abuf(64 * KB);
	struct stat st;
	long res;
	int fd = make_file("aio_eof", size, 4);

	if (fd < 0 || !b) {
		tap(false, "eof: set up");
		goto out;
	}
	close(fd);
	fd = open(path(mnt, "aio_eof"), O_RDWR | O_DIRECT);
	res = aio_one(ctx, fd, false, b, 16 * KB, 0, 0);
	tap(res == (long)size && check(b, 0, size, 4) < 0,
	    "eof: a 16 KiB read of a 10000-byte file returns 10000 bytes (%ld)", res);
	memset(b, 0, 64 * KB);
	res = aio_one(ctx, fd, false, b, 8 * KB, 8 * KB, 0);
	tap(res == (long)(size - 8 * KB) && check(b, 8 * KB, size - 8 * KB, 4) < 0,
	    "eof: a read crossing EOF is short (%ld)", res);
	res = aio_one(ctx, fd, false, b, 4 * KB, 12 * KB, 0);
	tap(res == 0, "eof: a read past EOF returns 0 (%ld)", res);
	res = aio_one(ctx, fd, false, b, 4 * KB, 1 * MB, 0);
	tap(res == 0, "eof: a read far past EOF returns 0 (%ld)", res);

	/* extend: 12 KiB at 12 KiB over a 10000-byte file */
	fill(b, 12 * KB, 12 * KB, 5);
	res = aio_one(ctx, fd, true, b, 12 * KB, 12 * KB, 0);
	if (fstat(fd, &st))
		st.st_size = -1;
	tap(res == (long)(12 * KB) && st.st_size == (off_t)(24 * KB) &&
	    backing_size("aio_eof") == (off_t)(24 * KB),
	    "eof: an extending AIO write sets the size (res %ld, size %lld, backing %lld)",
	    res, (long long)st.st_size, (long long)backing_size("aio_eof"));
	memset(b, 0, 64 * KB);
	res = aio_one(ctx, fd, false, b, 32 * KB, 0, 0);
	tap(res == (long)(24 * KB) && check(b, 0, size, 4) < 0 && check(b + 12 * KB, 12 * KB, 12 * KB, 5) < 0,
	    "eof: after it a read returns the old bytes and the new ones (%ld)", res);

	fill(b, 4 * KB, 4 * KB, 6);
	res = aio_one(ctx, fd, true, b, 4 * KB, 4 * KB, RWF_DSYNC);
	tap(res == (long)(4 * KB), "eof: an RWF_DSYNC AIO write completes (%ld)", res);
	memset(b, 0, 64 * KB);
	res = pread(fd, b, 4 * KB, 4 * KB);
	tap(res == (long)(4 * KB) && check(b, 4 * KB, 4 * KB, 6) < 0, "eof: and its data is in the file");
out:
	if (fd >= 0)
		close(fd);
	free(b);
}

/*
 * Buffered io_uring reads of pages not in the cache (dropped with
 * POSIX_FADV_DONTNEED): 6.1 tries them inline with IOCB_NOWAIT, where
 * mqfuse reads only from the cache, then from its worker, where they
 * must be read from the daemon. In a child: a retry loop would hang.
 */
static void t_uring_buffered(uint8_t *b)
{
	pid_t pid = fork();
	int status = -1;

	if (pid == 0) {
		struct io_uring ring;
		struct io_uring_cqe *cqe;
		int fd = open(path(mnt, "aio_nowait"), O_RDONLY), i, bad = 0;

		alarm(60);
		if (fd < 0 || io_uring_queue_init(QD, &ring, 0))
			_exit(10);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		memset(b, 0, QD * BLK);
		for (i = 0; i < QD; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			/* every 8th block: readahead brings the rest in */
			io_uring_prep_read(sqe, fd, b + i * BLK, BLK, (uint64_t)i * 8 * BLK);
			sqe->user_data = i;
		}
		if (io_uring_submit(&ring) != QD)
			_exit(11);
		for (i = 0; i < QD; i++) {
			if (io_uring_wait_cqe(&ring, &cqe))
				_exit(12);
			if (cqe->res != BLK ||
			    check(b + cqe->user_data * BLK, cqe->user_data * 8 * BLK, BLK, 7) >= 0)
				bad++;
			io_uring_cqe_seen(&ring, cqe);
		}
		_exit(bad ? 13 : 0);
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	tap(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "nowait: %d buffered io_uring reads of uncached pages return the data (status 0x%x)",
	    QD, status);
}

/*
 * RWF_NOWAIT: mqfuse does not claim FMODE_NOWAIT, so the VFS refuses it
 * with EOPNOTSUPP (kiocb_set_rw_flags()) before mqfuse sees it, for
 * preadv2, pwritev2, io_submit and io_uring alike. io_uring reads without
 * RWF_NOWAIT are first tried with IOCB_NOWAIT on 6.1 and must still
 * return the data.
 */
static void t_nowait(aio_context_t ctx)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	struct iovec iov;
	uint8_t *b = abuf(QD * BLK);
	unsigned int i, bad = 0, got = 0;
	double t0;
	long res;
	int fd = make_file("aio_nowait", 1 * MB, 7), err;

	if (fd < 0 || !b) {
		tap(false, "nowait: set up");
		goto out;
	}
	close(fd);
	fd = open(path(mnt, "aio_nowait"), O_RDWR | O_DIRECT);

	iov.iov_base = b;
	iov.iov_len = BLK;
	t0 = now_s();
	res = preadv2(fd, &iov, 1, 0, RWF_NOWAIT);
	err = res < 0 ? errno : 0;
	tap(res < 0 && err == EOPNOTSUPP, "nowait: preadv2(RWF_NOWAIT) gives EOPNOTSUPP (%ld, %s)",
	    res, err ? strerror(err) : "-");
	fill(b, 0, BLK, 7);	/* what block 0 holds already */
	res = pwritev2(fd, &iov, 1, 0, RWF_NOWAIT);
	err = res < 0 ? errno : 0;
	tap(res < 0 && err == EOPNOTSUPP, "nowait: pwritev2(RWF_NOWAIT) gives EOPNOTSUPP (%ld, %s)",
	    res, err ? strerror(err) : "-");

	iocb_prep(&cb, fd, false, b, BLK, BLK, RWF_NOWAIT, 0);
	res = io_submit(ctx, 1, cbs);
	err = res < 0 ? errno : 0;
	if (res == 1)	/* not expected: do not leave the iocb behind */
		reap(ctx, 1, &ev, 10);
	tap(res < 0 && err == EOPNOTSUPP, "nowait: io_submit(RWF_NOWAIT) refused with EOPNOTSUPP (%ld, %s)",
	    res, err ? strerror(err) : "-");
	tap(now_s() - t0 < 5, "nowait: the NOWAIT calls took under 5 s (%.2f s)", now_s() - t0);

	if (io_uring_queue_init(QD * 2, &ring, 0)) {
		tap(false, "nowait: io_uring_queue_init");
		goto out;
	}
	memset(b, 0, QD * BLK);
	for (i = 0; i < QD; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		io_uring_prep_read(sqe, fd, b + i * BLK, BLK, (uint64_t)i * BLK);
		sqe->user_data = i;
	}
	res = io_uring_submit(&ring);
	for (i = 0; res == QD && i < QD; i++) {
		if (io_uring_wait_cqe(&ring, &cqe))
			break;
		got++;
		if (cqe->res != BLK || check(b + cqe->user_data * BLK, cqe->user_data * BLK, BLK, 7) >= 0) {
			diag("io_uring read %llu: res %d", (unsigned long long)cqe->user_data, cqe->res);
			bad++;
		}
		io_uring_cqe_seen(&ring, cqe);
	}
	tap(res == QD && got == QD && !bad, "nowait: %d io_uring O_DIRECT reads return the data (%u bad)",
	    QD, bad);

	{
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		io_uring_prep_read(sqe, fd, b, BLK, 0);
		sqe->rw_flags = RWF_NOWAIT;
		io_uring_submit(&ring);
		res = io_uring_wait_cqe(&ring, &cqe) ? LONG_MIN : cqe->res;
		if (res != LONG_MIN)
			io_uring_cqe_seen(&ring, cqe);
		tap(res == -EOPNOTSUPP, "nowait: io_uring read with RWF_NOWAIT gives EOPNOTSUPP (%ld)",
		    res);
	}
	io_uring_queue_exit(&ring);
	close(fd);
	fd = -1;
	t_uring_buffered(b);
out:
	if (fd >= 0)
		close(fd);
	free(b);
}

/*
 * close() with AIO in flight on a flock'ed file: the completion drops the
 * last reference; the file's release (flock unlock) must not deadlock
 * whoever completes it. In a child, so a hang is reported, not inherited.
 */
static void t_close_inflight(void)
{
	pid_t pid = fork();
	int status;
	double t0 = now_s();

	if (pid == 0) {
		aio_context_t ctx = 0;
		struct iocb cbs[QD], *cbp[QD];
		struct io_event ev[QD];
		uint8_t *b = abuf(QD * MB);
		unsigned int i, bad = 0;
		int fd, fd2;

		alarm(120);
		if (io_setup(QD, &ctx) || !b)
			_exit(10);
		fd = open(path(mnt, "aio_rand"), O_RDONLY | O_DIRECT);
		if (fd < 0 || flock(fd, LOCK_EX))
			_exit(11);
		for (i = 0; i < QD; i++) {
			iocb_prep(&cbs[i], fd, false, b + i * MB, MB, i * MB, 0, i);
			cbp[i] = &cbs[i];
		}
		if (io_submit(ctx, QD, cbp) != QD)
			_exit(12);
		close(fd);
		if (reap(ctx, QD, ev, 60) != QD)
			_exit(13);
		for (i = 0; i < QD; i++)
			if (ev[i].res != (long)MB)
				bad++;
		if (bad)
			_exit(14);
		/* the flock went with the last reference */
		fd2 = open(path(mnt, "aio_rand"), O_RDONLY);
		for (i = 0; i < 100; i++) {
			if (!flock(fd2, LOCK_EX | LOCK_NB))
				break;
			usleep(50000);
		}
		if (i == 100)
			_exit(15);
		close(fd2);
		if (io_destroy(ctx))
			_exit(16);
		_exit(0);
	}
	status = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	tap(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "close: close() of a flock'ed file with 16 AIO reads in flight, then reap: all complete, lock released (status 0x%x, %.1f s)",
	    status, now_s() - t0);
}

/*
 * A stream of AIO reads (QD16, a child) while the parent truncates the
 * file to its own size, three times: each truncate must finish in
 * bounded time (reads are not counted by inode_dio_begin()).
 */
static void t_truncate_vs_reads(void)
{
	volatile int *stop;
	int pipefd[2], status, i;
	double worst = 0;
	pid_t pid;

	stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (stop == MAP_FAILED || pipe(pipefd)) {
		tap(false, "truncate: set up");
		return;
	}
	*stop = 0;
	pid = fork();
	if (pid == 0) {
		aio_context_t ctx = 0;
		struct iocb cbs[QD], *cbp[QD];
		struct io_event ev[QD];
		uint8_t *b = abuf(QD * BLK);
		unsigned int i, inflight = 0;
		int fd;
		char c = 1;

		alarm(120);
		close(pipefd[0]);
		fd = open(path(mnt, "aio_rand"), O_RDONLY | O_DIRECT);
		if (fd < 0 || io_setup(QD, &ctx) || !b)
			_exit(10);
		for (i = 0; i < QD; i++) {
			iocb_prep(&cbs[i], fd, false, b + i * BLK, BLK, (rnd() % 4096) * BLK, 0, i);
			cbp[i] = &cbs[i];
		}
		if (io_submit(ctx, QD, cbp) != QD)
			_exit(11);
		inflight = QD;
		if (write(pipefd[1], &c, 1) != 1)
			_exit(12);
		/* keep QD16 in flight: resubmit each completion at once */
		while (!*stop) {
			struct timespec tmo = { 1, 0 };
			long n = io_getevents(ctx, 1, QD, ev, &tmo), k;

			if (n < 0 && errno != EINTR)
				_exit(13);
			for (k = 0; k < n; k++) {
				struct iocb *cb = &cbs[ev[k].data];

				cb->aio_offset = (rnd() % 4096) * BLK;
				cbp[0] = cb;
				if (io_submit(ctx, 1, cbp) != 1)
					_exit(14);
			}
		}
		if (reap(ctx, inflight, ev, 60) != inflight)
			_exit(15);
		io_destroy(ctx);
		_exit(0);
	}
	close(pipefd[1]);
	{
		char c;

		if (read(pipefd[0], &c, 1) != 1)
			diag("truncate: reader child did not start");
	}
	close(pipefd[0]);
	usleep(200000);
	for (i = 0; i < 3; i++) {
		double t0 = now_s(), dt;

		if (truncate(path(mnt, "aio_rand"), FILE_SIZE))
			diag("truncate: %s", strerror(errno));
		dt = now_s() - t0;
		if (dt > worst)
			worst = dt;
		usleep(100000);
	}
	*stop = 1;
	waitpid(pid, &status, 0);
	tap(worst < 10, "truncate: truncate(2) during a QD16 AIO read stream returns within 10 s (worst %.2f s)",
	    worst);
	tap(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "truncate: the AIO read stream ran and was reaped (status 0x%x)", status);
	munmap((void *)stop, 4096);
}

/* open(O_TRUNC) while AIO writes are in flight: size 0 once they are reaped. */
static void t_otrunc(aio_context_t ctx)
{
	struct iocb cbs[QD], *cbp[QD];
	struct io_event ev[QD];
	uint8_t *b = abuf(QD * 256 * KB);
	unsigned int i;
	struct stat st;
	long got = 0;
	int fd = make_file("aio_otrunc", 4 * MB, 8), tfd = -1;

	if (fd < 0 || !b) {
		tap(false, "otrunc: set up");
		goto out;
	}
	close(fd);
	fd = open(path(mnt, "aio_otrunc"), O_RDWR | O_DIRECT);
	for (i = 0; i < QD; i++) {
		fill(b + i * 256 * KB, i * 256 * KB, 256 * KB, 9);
		iocb_prep(&cbs[i], fd, true, b + i * 256 * KB, 256 * KB, i * 256 * KB, 0, i);
		cbp[i] = &cbs[i];
	}
	if (io_submit(ctx, QD, cbp) != QD) {
		tap(false, "otrunc: io_submit: %s", strerror(errno));
		goto out;
	}
	tfd = open(path(mnt, "aio_otrunc"), O_WRONLY | O_TRUNC);
	got = reap(ctx, QD, ev, 60);
	tap(tfd >= 0 && got == QD, "otrunc: open(O_TRUNC) with 16 AIO writes in flight, all reaped (%ld)",
	    got);
	sleep(1);	/* past the attribute timeout: stat asks the daemon */
	if (stat(path(mnt, "aio_otrunc"), &st))
		st.st_size = -1;
	tap(st.st_size == 0 &&
	    backing_size("aio_otrunc") == 0,
	    "otrunc: the file is empty afterwards (size %lld, backing %lld)",
	    (long long)st.st_size, (long long)backing_size("aio_otrunc"));
out:
	if (tfd >= 0)
		close(tfd);
	if (fd >= 0)
		close(fd);
	free(b);
}

int main(int argc, char **argv)
{
	aio_context_t ctx = 0;
	const char *names[] = { "aio_rand", "aio_large", "aio_eof", "aio_nowait", "aio_otrunc" };
	unsigned int i;

	if (argc != 3) {
		fprintf(stderr, "usage: aio_test MNT SRC\n");
		return 2;
	}
	mnt = argv[1];
	src = argv[2];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (io_setup(QD * 2, &ctx)) {
		tap(false, "io_setup: %s", strerror(errno));
		return 1;
	}
	t_random(ctx);
	t_large(ctx);
	t_eof(ctx);
	t_nowait(ctx);
	t_close_inflight();
	t_truncate_vs_reads();
	t_otrunc(ctx);
	tap(io_destroy(ctx) == 0, "io_destroy");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(path(mnt, names[i]));
	return failures ? 1 : 0;
}
