// SPDX-License-Identifier: GPL-2.0
/*
 * mqverify - fsx-style data-integrity verifier.
 *
 *   mqverify [-s SEED] [-n OPS] [-f FILES] [-l MAXSIZE] [-d] [-N] [-v] DIR
 *
 * One thread per file runs random operations against the file and an
 * in-memory model of its contents and size, and compares every read
 * (pread and mmap) with the model.  Operations: write (mostly small,
 * occasionally up to 8 MiB), read, truncate (grow/shrink), fallocate
 * (allocate, keep-size, punch hole, zero range), mmap read, mmap write
 * (MAP_SHARED + msync), fsync/fdatasync, close+reopen (sometimes after
 * dropping the page cache with POSIX_FADV_DONTNEED).
 *
 *   -s SEED     PRNG seed (default 1); a run is reproducible per file
 *   -n OPS      total operations over all files (default 100000)
 *   -f FILES    number of files/threads (default 4)
 *   -l MAXSIZE  maximum file size in bytes (default 16 MiB)
 *   -d          O_DIRECT: offsets and lengths aligned to 4 KiB
 *   -N          no mmap operations (for mounts without shared mmap,
 *               e.g. FUSE direct_io or mqfuse consistency=strict)
 *   -v          print every operation
 *
 *   mqverify -S [-t THREADS] [-B BACKING_DIR] ... DIR
 *
 * Shared-file mode: THREADS threads (default 4) on ONE file mixing
 * buffered, O_DIRECT and O_APPEND descriptors, mmap held across truncate,
 * copy_file_range at unaligned offsets and hole punching; operations are
 * serialised under one lock so the in-memory model is exact. MAXSIZE
 * defaults to 4 MiB. With -B the file is also compared with its copy in
 * the backing directory of the mount at the end.
 *
 * A fallocate mode the filesystem rejects with EOPNOTSUPP is reported
 * once as a TAP SKIP and not used again.  On a mismatch the last 20
 * operations of that file, the offset and expected/got bytes are printed
 * and the exit status is 1; the files are then left in DIR for a look.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/tap.h"

#define LOG_DEPTH	20		/* ops printed on a mismatch */
#define DIO_ALIGN	4096u
#define BIG_WRITE	(8u << 20)	/* largest single write */
#define MAX_FILES	64

enum op_type {
	OP_WRITE,
	OP_READ,
	OP_MAPREAD,
	OP_MAPWRITE,
	OP_TRUNCATE,
	OP_FALLOC,		/* plain allocation, may extend */
	OP_FALLOC_KEEP,		/* FALLOC_FL_KEEP_SIZE */
	OP_PUNCH,		/* FALLOC_FL_PUNCH_HOLE | KEEP_SIZE */
	OP_ZERO,		/* FALLOC_FL_ZERO_RANGE, may extend */
	OP_FSYNC,
	OP_FDATASYNC,
	OP_REOPEN,
	OP_REOPEN_DROP,		/* fdatasync + DONTNEED before reopening */
	OP_NR,
};

static const char *const op_names[OP_NR] = {
	[OP_WRITE] = "write", [OP_READ] = "read",
	[OP_MAPREAD] = "mapread", [OP_MAPWRITE] = "mapwrite",
	[OP_TRUNCATE] = "truncate", [OP_FALLOC] = "fallocate",
	[OP_FALLOC_KEEP] = "falloc_keep_size", [OP_PUNCH] = "punch_hole",
	[OP_ZERO] = "zero_range", [OP_FSYNC] = "fsync",
	[OP_FDATASYNC] = "fdatasync", [OP_REOPEN] = "reopen",
	[OP_REOPEN_DROP] = "reopen+dropcache",
};

/* Relative frequency of each operation. */
static const unsigned int op_weight[OP_NR] = {
	[OP_WRITE] = 300, [OP_READ] = 300, [OP_MAPREAD] = 40,
	[OP_MAPWRITE] = 40, [OP_TRUNCATE] = 50, [OP_FALLOC] = 15,
	[OP_FALLOC_KEEP] = 15, [OP_PUNCH] = 25, [OP_ZERO] = 25,
	[OP_FSYNC] = 4, [OP_FDATASYNC] = 4, [OP_REOPEN] = 15,
	[OP_REOPEN_DROP] = 5,
};

/* One logged operation. */
struct op_rec {
	uint64_t n;		/* operation number within the file */
	enum op_type type;
	uint64_t off, len;
	uint64_t size;		/* model size before the op */
};

/* Per-file worker. */
struct worker {
	pthread_t thread;
	int idx;
	char path[4096];
	int fd;
	uint64_t rng;		/* xorshift64* state */
	uint64_t ops;		/* operations to run */
	uint64_t done;		/* operations run */
	unsigned char *model;	/* expected contents, zero beyond size */
	uint64_t size;		/* expected size */
	unsigned char *buf;	/* I/O buffer, DIO_ALIGN aligned */
	struct op_rec log[LOG_DEPTH];
	unsigned int nlog;	/* total ops logged */
	bool finished;		/* ran all its ops and the final comparison */
};

static struct {
	uint64_t seed;
	uint64_t ops;
	int files;
	uint64_t maxsize;
	bool direct;
	bool no_mmap;
	bool verbose;
	long pagesize;
	/* fallocate kinds found unsupported; each reported once */
	atomic_bool unsupported[OP_NR];
	pthread_mutex_t report_lock;	/* serialises failure output */
} cfg = {
	.seed = 1,
	.ops = 100000,
	.files = 4,
	.maxsize = 16u << 20,
	.report_lock = PTHREAD_MUTEX_INITIALIZER,
};

static uint64_t rnd(struct worker *w)
{
	uint64_t x = w->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	w->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static uint64_t rnd_below(struct worker *w, uint64_t n)
{
	return n ? rnd(w) % n : 0;
}

/* Fill @len bytes with fresh pseudo-random data. */
static void fill(struct worker *w, unsigned char *p, size_t len)
{
	uint64_t x = rnd(w) | 1;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
	for (; i < len; i++)
		p[i] = (unsigned char)(x >> (8 * (i & 7)));
}

static uint64_t align_down(uint64_t v)
{
	return cfg.direct ? v & ~(uint64_t)(DIO_ALIGN - 1) : v;
}

/* A length: mostly small, sometimes large, rarely up to 8 MiB. */
static uint64_t pick_len(struct worker *w, bool allow_big)
{
	uint64_t r = rnd_below(w, 1000), len;

	if (allow_big && r < 3)
		len = 1 + rnd_below(w, BIG_WRITE);
	else if (r < 40)
		len = 1 + rnd_below(w, 1u << 20);
	else if (r < 250)
		len = 1 + rnd_below(w, 128u << 10);
	else
		len = 1 + rnd_below(w, 8192);
	if (cfg.direct) {
		len = (len + DIO_ALIGN - 1) & ~(uint64_t)(DIO_ALIGN - 1);
	}
	return len;
}

/* An offset: mostly inside the file, sometimes past EOF. */
static uint64_t pick_off(struct worker *w, uint64_t len)
{
	uint64_t limit = w->size + (w->size >> 2) + 65536;

	if (rnd_below(w, 10) == 0)
		limit = cfg.maxsize;
	if (limit > cfg.maxsize)
		limit = cfg.maxsize;
	if (len >= limit)
		return 0;
	return align_down(rnd_below(w, limit - len + 1));
}

static void log_op(struct worker *w, enum op_type type, uint64_t off,
		   uint64_t len)
{
	struct op_rec *r = &w->log[w->nlog++ % LOG_DEPTH];

	r->n = w->done;
	r->type = type;
	r->off = off;
	r->len = len;
	r->size = w->size;
	if (cfg.verbose)
		printf("# file %d op %" PRIu64 " %s off %#" PRIx64 " len %#"
		       PRIx64 " size %#" PRIx64 "\n", w->idx, w->done,
		       op_names[type], off, len, w->size);
}

static void dump_log(struct worker *w)
{
	unsigned int i, start = w->nlog > LOG_DEPTH ? w->nlog - LOG_DEPTH : 0;

	tap_diag("last %u operations on %s:", w->nlog - start, w->path);
	for (i = start; i < w->nlog; i++) {
		struct op_rec *r = &w->log[i % LOG_DEPTH];

		tap_diag("  #%-7" PRIu64 " %-16s off %#10" PRIx64 " len %#9"
			 PRIx64 " -> size %#" PRIx64, r->n, op_names[r->type],
			 r->off, r->len, r->size);
	}
}

/* Report a failure and end the whole run. */
static void __attribute__((noreturn, format(printf, 2, 3)))
fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&cfg.report_lock);
	printf("not ok - mqverify: file %d: ", w->idx);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	tap_diag("seed %" PRIu64 ", op %" PRIu64 " of %" PRIu64 ", errno %d (%s)",
		 cfg.seed, w->done, w->ops, errno, strerror(errno));
	dump_log(w);
	fflush(stdout);
	exit(1);
}

static void compare(struct worker *w, const unsigned char *got, uint64_t off,
		    uint64_t len, const char *how)
{
	const unsigned char *exp = w->model + off;
	uint64_t i, j;

	if (!memcmp(got, exp, len))
		return;
	for (i = 0; i < len && got[i] == exp[i]; i++)
		;
	pthread_mutex_lock(&cfg.report_lock);
	printf("not ok - mqverify: file %d: %s mismatch at offset %#" PRIx64
	       " (op range %#" PRIx64 "+%#" PRIx64 ", size %#" PRIx64 ")\n",
	       w->idx, how, off + i, off, len, w->size);
	printf("# expected:");
	for (j = i; j < len && j < i + 16; j++)
		printf(" %02x", exp[j]);
	printf("\n# got:     ");
	for (j = i; j < len && j < i + 16; j++)
		printf(" %02x", got[j]);
	putchar('\n');
	for (j = i; j < len && got[j] != exp[j]; j++)
		;
	tap_diag("bad run of %" PRIu64 " bytes from %#" PRIx64, j - i, off + i);
	tap_diag("seed %" PRIu64 ", op %" PRIu64, cfg.seed, w->done);
	dump_log(w);
	fflush(stdout);
	exit(1);
}

static void check_size(struct worker *w, const char *after)
{
	struct stat st;

	if (fstat(w->fd, &st))
		fail(w, "fstat after %s", after);
	if ((uint64_t)st.st_size != w->size)
		fail(w, "size %#" PRIx64 " after %s, expected %#" PRIx64,
		     (uint64_t)st.st_size, after, w->size);
}

static void do_open(struct worker *w, int extra)
{
	w->fd = open(w->path, O_RDWR | O_CREAT | extra |
		     (cfg.direct ? O_DIRECT : 0), 0644);
	if (w->fd == -1)
		fail(w, "open %s", w->path);
}

static void set_size(struct worker *w, uint64_t size)
{
	if (size < w->size)
		memset(w->model + size, 0, w->size - size);
	w->size = size;
}

static void op_write(struct worker *w)
{
	uint64_t len = pick_len(w, true), off, done = 0;

	if (len > cfg.maxsize)
		len = align_down(cfg.maxsize);
	off = pick_off(w, len);
	log_op(w, OP_WRITE, off, len);
	fill(w, w->buf, len);
	while (done < len) {
		ssize_t n = pwrite(w->fd, w->buf + done, len - done, off + done);

		if (n <= 0)
			fail(w, "pwrite %#" PRIx64 "+%#" PRIx64 " returned %zd",
			     off + done, len - done, n);
		done += n;
	}
	memcpy(w->model + off, w->buf, len);
	if (off + len > w->size)
		w->size = off + len;
}

static void op_read(struct worker *w)
{
	uint64_t len = pick_len(w, true), off, exp, done = 0;

	if (len > cfg.maxsize)
		len = align_down(cfg.maxsize);
	off = rnd_below(w, 8) ? align_down(rnd_below(w, w->size + 1)) : 0;
	if (off + len > cfg.maxsize)
		len = cfg.maxsize - off;
	log_op(w, OP_READ, off, len);
	exp = off >= w->size ? 0 : (off + len > w->size ? w->size - off : len);
	while (done < len) {
		ssize_t n = pread(w->fd, w->buf + done, len - done, off + done);

		if (n < 0)
			fail(w, "pread %#" PRIx64 "+%#" PRIx64, off + done,
			     len - done);
		if (n == 0)
			break;
		done += n;
	}
	if (done != exp)
		fail(w, "pread %#" PRIx64 "+%#" PRIx64 " returned %" PRIu64
		     " bytes, expected %" PRIu64, off, len, done, exp);
	compare(w, w->buf, off, done, "read");
}

/* Map [off, off+len) of the file, which must lie within its size. */
static void op_mmap(struct worker *w, bool write)
{
	uint64_t off, len, moff, mlen;
	unsigned char *map;

	if (!w->size)
		return;
	off = rnd_below(w, w->size);
	len = 1 + rnd_below(w, w->size - off < (256u << 10) ?
				w->size - off : (256u << 10));
	log_op(w, write ? OP_MAPWRITE : OP_MAPREAD, off, len);
	moff = off & ~(uint64_t)(cfg.pagesize - 1);
	mlen = off + len - moff;
	map = mmap(NULL, mlen, write ? PROT_READ | PROT_WRITE : PROT_READ,
		   MAP_SHARED, w->fd, moff);
	if (map == MAP_FAILED)
		fail(w, "mmap %#" PRIx64 "+%#" PRIx64, moff, mlen);
	if (write) {
		fill(w, w->buf, len);
		memcpy(map + (off - moff), w->buf, len);
		memcpy(w->model + off, w->buf, len);
		if (msync(map, mlen, MS_SYNC))
			fail(w, "msync");
	} else {
		compare(w, map + (off - moff), off, len, "mmap read");
	}
	munmap(map, mlen);
}

static void op_truncate(struct worker *w)
{
	uint64_t size;

	if (rnd_below(w, 2) && w->size)
		size = rnd_below(w, w->size);
	else
		size = w->size + rnd_below(w, cfg.maxsize - w->size + 1);
	if (rnd_below(w, 4) == 0)
		size = align_down(size);
	log_op(w, OP_TRUNCATE, size, 0);
	if (ftruncate(w->fd, size))
		fail(w, "ftruncate to %#" PRIx64, size);
	set_size(w, size);
	check_size(w, "ftruncate");
}

static void op_fallocate(struct worker *w, enum op_type type)
{
	static const int modes[OP_NR] = {
		[OP_FALLOC] = 0,
		[OP_FALLOC_KEEP] = FALLOC_FL_KEEP_SIZE,
		[OP_PUNCH] = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		[OP_ZERO] = FALLOC_FL_ZERO_RANGE,
	};
	uint64_t len = pick_len(w, false), off, end;

	if (atomic_load(&cfg.unsupported[type]))
		return;
	off = pick_off(w, len);
	end = off + len;
	log_op(w, type, off, len);
	if (fallocate(w->fd, modes[type], off, len)) {
		if (errno == EOPNOTSUPP) {
			if (!atomic_exchange(&cfg.unsupported[type], true))
				tap_skip("mqverify: fallocate",
					 "%s not supported (EOPNOTSUPP)",
					 op_names[type]);
			return;
		}
		fail(w, "fallocate %s %#" PRIx64 "+%#" PRIx64,
		     op_names[type], off, len);
	}
	switch (type) {
	case OP_PUNCH:
		if (off < w->size)
			memset(w->model + off, 0,
			       (end < w->size ? end : w->size) - off);
		break;
	case OP_ZERO:
		if (off < w->size)
			memset(w->model + off, 0,
			       (end < w->size ? end : w->size) - off);
		/* fallthrough */
	case OP_FALLOC:
		if (end > w->size)
			w->size = end;
		break;
	default:
		break;
	}
	check_size(w, op_names[type]);
}

static void op_sync(struct worker *w, enum op_type type)
{
	log_op(w, type, 0, 0);
	if (type == OP_FSYNC ? fsync(w->fd) : fdatasync(w->fd))
		fail(w, "%s", op_names[type]);
}

static void op_reopen(struct worker *w, enum op_type type)
{
	log_op(w, type, 0, 0);
	if (type == OP_REOPEN_DROP) {
		if (fdatasync(w->fd))
			fail(w, "fdatasync before DONTNEED");
		/* advisory: a filesystem may ignore it */
		posix_fadvise(w->fd, 0, 0, POSIX_FADV_DONTNEED);
	}
	if (close(w->fd))
		fail(w, "close");
	do_open(w, 0);
	check_size(w, "reopen");
}

static enum op_type pick_op(struct worker *w)
{
	static unsigned int total;
	unsigned int r, i;

	if (!total)
		for (i = 0; i < OP_NR; i++)
			total += op_weight[i];
	for (;;) {
		r = rnd_below(w, total);
		for (i = 0; r >= op_weight[i]; i++)
			r -= op_weight[i];
		if (cfg.no_mmap && (i == OP_MAPREAD || i == OP_MAPWRITE))
			continue;
		return i;
	}
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	do_open(w, O_TRUNC);
	for (w->done = 0; w->done < w->ops; w->done++) {
		enum op_type type = pick_op(w);

		switch (type) {
		case OP_WRITE:
			op_write(w);
			break;
		case OP_READ:
			op_read(w);
			break;
		case OP_MAPREAD:
		case OP_MAPWRITE:
			op_mmap(w, type == OP_MAPWRITE);
			break;
		case OP_TRUNCATE:
			op_truncate(w);
			break;
		case OP_FALLOC:
		case OP_FALLOC_KEEP:
		case OP_PUNCH:
		case OP_ZERO:
			op_fallocate(w, type);
			break;
		case OP_FSYNC:
		case OP_FDATASYNC:
			op_sync(w, type);
			break;
		case OP_REOPEN:
		case OP_REOPEN_DROP:
			op_reopen(w, type);
			break;
		case OP_NR:
			break;
		}
	}
	/* final full comparison after dropping the cache */
	op_reopen(w, OP_REOPEN_DROP);
	{
		uint64_t off = 0;

		while (off < w->size) {
			uint64_t len = w->size - off;
			ssize_t n;

			if (len > BIG_WRITE)
				len = BIG_WRITE;
			n = pread(w->fd, w->buf, cfg.direct ?
				  (len + DIO_ALIGN - 1) & ~(uint64_t)(DIO_ALIGN - 1) :
				  len, off);
			if (n != (ssize_t)len)
				fail(w, "final read at %#" PRIx64 " returned %zd",
				     off, n);
			compare(w, w->buf, off, len, "final read");
			off += len;
		}
	}
	close(w->fd);
	w->finished = true;
	return NULL;
}

/* ------------------------------------------------------------------ */
/*
 * Shared-file mode (-S): cfg.threads threads on ONE file, each with its own
 * buffered, O_DIRECT and O_APPEND descriptors and its own MAP_SHARED
 * mapping that it keeps across truncates. Every operation runs under
 * shared.lock so the model stays exact; what is concurrent is everything
 * the kernel does behind the operations (writeback of mmap-dirtied pages,
 * readahead, attribute refreshes, RELEASE of closed descriptors) and the
 * mix of descriptors and paths on the same pages. At the end the file is
 * read back through a fresh descriptor and, with -B DIR, the backing file
 * is compared too.
 */
enum sop_type {
	SOP_WRITE,		/* buffered pwrite */
	SOP_DWRITE,		/* O_DIRECT pwrite, 4 KiB aligned */
	SOP_APPEND,		/* write on an O_APPEND descriptor */
	SOP_READ,		/* buffered pread */
	SOP_DREAD,		/* O_DIRECT pread */
	SOP_MAPWRITE,		/* store through the held mapping, msync sometimes */
	SOP_MAPREAD,		/* load through the held mapping */
	SOP_TRUNCATE,		/* grow or shrink, mappings stay */
	SOP_COPY,		/* copy_file_range inside the file, unaligned */
	SOP_PUNCH,		/* fallocate punch hole */
	SOP_REMAP,		/* drop and recreate this thread's mapping */
	SOP_REOPEN,		/* close and reopen this thread's descriptors */
	SOP_NR,
};

static const char *const sop_names[SOP_NR] = {
	[SOP_WRITE] = "write", [SOP_DWRITE] = "dio_write", [SOP_APPEND] = "append",
	[SOP_READ] = "read", [SOP_DREAD] = "dio_read", [SOP_MAPWRITE] = "mapwrite",
	[SOP_MAPREAD] = "mapread", [SOP_TRUNCATE] = "truncate", [SOP_COPY] = "copy_range",
	[SOP_PUNCH] = "punch_hole", [SOP_REMAP] = "remap", [SOP_REOPEN] = "reopen",
};

static const unsigned int sop_weight[SOP_NR] = {
	[SOP_WRITE] = 200, [SOP_DWRITE] = 60, [SOP_APPEND] = 40, [SOP_READ] = 200,
	[SOP_DREAD] = 60, [SOP_MAPWRITE] = 120, [SOP_MAPREAD] = 80,
	[SOP_TRUNCATE] = 60, [SOP_COPY] = 80, [SOP_PUNCH] = 20, [SOP_REMAP] = 10,
	[SOP_REOPEN] = 10,
};

#define SHARED_MAX_LEN	(256u << 10)

static struct {
	pthread_mutex_t lock;		/* serialises operations and the model */
	char path[4096];		/* the file */
	unsigned char *model;		/* expected contents, zero beyond size */
	uint64_t size;			/* expected size */
	uint64_t ops;			/* operations run, all threads */
	bool punch_unsupported;		/* fallocate punch hole refused */
	struct op_rec log[LOG_DEPTH];	/* last operations, all threads */
	unsigned int nlog;
} shared = { .lock = PTHREAD_MUTEX_INITIALIZER };

struct sworker {
	struct worker w;		/* rng, buffer, index for the common helpers */
	int fd, dfd, afd;		/* buffered, O_DIRECT, O_APPEND */
	unsigned char *map;		/* MAP_SHARED of cfg.maxsize bytes */
	bool finished;			/* ran all its operations */
};

static void shared_log(struct sworker *s, enum sop_type t, uint64_t off, uint64_t len)
{
	struct op_rec *r = &shared.log[shared.nlog++ % LOG_DEPTH];

	r->n = shared.ops;
	r->type = (enum op_type)t;	/* shared records hold an enum sop_type */
	r->off = off;
	r->len = len | ((uint64_t)s->w.idx << 56);
	r->size = shared.size;
	if (cfg.verbose)
		printf("# thread %d op %" PRIu64 " %s off %#" PRIx64 " len %#" PRIx64
		       " size %#" PRIx64 "\n", s->w.idx, shared.ops, sop_names[t], off,
		       len, shared.size);
}

static void __attribute__((noreturn, format(printf, 2, 3)))
shared_fail(struct sworker *s, const char *fmt, ...)
{
	unsigned int i, start = shared.nlog > LOG_DEPTH ? shared.nlog - LOG_DEPTH : 0;
	va_list ap;

	printf("not ok - mqverify shared: thread %d: ", s->w.idx);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	tap_diag("seed %" PRIu64 ", op %" PRIu64 ", errno %d (%s)", cfg.seed, shared.ops,
		 errno, strerror(errno));
	for (i = start; i < shared.nlog; i++) {
		struct op_rec *r = &shared.log[i % LOG_DEPTH];

		tap_diag("  #%-7" PRIu64 " t%d %-11s off %#9" PRIx64 " len %#8" PRIx64
			 " size before %#" PRIx64, r->n, (int)(r->len >> 56),
			 sop_names[r->type], r->off, (uint64_t)(r->len & ((1ull << 56) - 1)),
			 r->size);
	}
	fflush(stdout);
	exit(1);
}

static void shared_compare(struct sworker *s, const unsigned char *got, uint64_t off,
			   uint64_t len, const char *how)
{
	uint64_t i;

	if (!memcmp(got, shared.model + off, len))
		return;
	for (i = 0; got[i] == shared.model[off + i]; i++)
		;
	shared_fail(s, "%s %#" PRIx64 "+%#" PRIx64 ": first difference at %#" PRIx64
		    " (expected %02x, got %02x)", how, off, len, off + i,
		    shared.model[off + i], got[i]);
}

static void shared_set_size(uint64_t size)
{
	if (size < shared.size)
		memset(shared.model + size, 0, shared.size - size);
	shared.size = size;
}

static void shared_check_size(struct sworker *s, const char *after)
{
	struct stat st;

	if (fstat(s->fd, &st))
		shared_fail(s, "fstat after %s", after);
	if ((uint64_t)st.st_size != shared.size)
		shared_fail(s, "size %#" PRIx64 " after %s, expected %#" PRIx64,
			    (uint64_t)st.st_size, after, shared.size);
}

static void shared_open(struct sworker *s)
{
	s->fd = open(shared.path, O_RDWR | O_CREAT, 0644);
	s->dfd = open(shared.path, O_RDWR | O_DIRECT);
	s->afd = open(shared.path, O_WRONLY | O_APPEND);
	if (s->fd < 0 || s->dfd < 0 || s->afd < 0)
		shared_fail(s, "open %s", shared.path);
}

static void shared_close(struct sworker *s)
{
	if (close(s->fd) || close(s->dfd) || close(s->afd))
		shared_fail(s, "close");
}

static void shared_map(struct sworker *s)
{
	s->map = mmap(NULL, cfg.maxsize, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (s->map == MAP_FAILED)
		shared_fail(s, "mmap");
}

static uint64_t shared_len(struct sworker *s, bool aligned)
{
	uint64_t len = rnd_below(&s->w, 10) ? 1 + rnd_below(&s->w, 9000) :
					       1 + rnd_below(&s->w, SHARED_MAX_LEN);

	if (aligned)
		len = (len + DIO_ALIGN - 1) & ~(uint64_t)(DIO_ALIGN - 1);
	return len;
}

/* An offset for @len bytes: mostly inside the file, sometimes past EOF. */
static uint64_t shared_off(struct sworker *s, uint64_t len, bool aligned)
{
	uint64_t limit = shared.size + 3 * 4096, off;

	if (limit + len > cfg.maxsize)
		limit = cfg.maxsize - len;
	off = rnd_below(&s->w, limit + 1);
	return aligned ? off & ~(uint64_t)(DIO_ALIGN - 1) : off;
}

static void shared_pwrite(struct sworker *s, int fd, uint64_t off, uint64_t len)
{
	uint64_t done = 0;

	fill(&s->w, s->w.buf, len);
	while (done < len) {
		ssize_t n = pwrite(fd, s->w.buf + done, len - done, off + done);

		if (n <= 0)
			shared_fail(s, "pwrite %#" PRIx64 "+%#" PRIx64 " returned %zd",
				    off + done, len - done, n);
		done += n;
	}
	memcpy(shared.model + off, s->w.buf, len);
	if (off + len > shared.size)
		shared.size = off + len;
}

static void shared_pread(struct sworker *s, int fd, uint64_t off, uint64_t len,
			 const char *how)
{
	uint64_t done = 0, exp;

	exp = off >= shared.size ? 0 : (off + len > shared.size ? shared.size - off : len);
	while (done < len) {
		ssize_t n = pread(fd, s->w.buf + done, len - done, off + done);

		if (n < 0)
			shared_fail(s, "%s %#" PRIx64 "+%#" PRIx64, how, off, len);
		if (n == 0)
			break;
		done += n;
		if (fd == s->dfd && done < len && (done & (DIO_ALIGN - 1)))
			break;	/* O_DIRECT stops at an unaligned EOF */
	}
	if (done != exp)
		shared_fail(s, "%s %#" PRIx64 "+%#" PRIx64 " returned %" PRIu64
			    " bytes, expected %" PRIu64, how, off, len, done, exp);
	shared_compare(s, s->w.buf, off, done, how);
}

static void shared_op(struct sworker *s, enum sop_type t)
{
	uint64_t off, len, src;

	switch (t) {
	case SOP_WRITE:
		len = shared_len(s, false);
		off = shared_off(s, len, false);
		shared_log(s, t, off, len);
		shared_pwrite(s, s->fd, off, len);
		break;
	case SOP_DWRITE:
		len = shared_len(s, true);
		off = shared_off(s, len, true);
		shared_log(s, t, off, len);
		shared_pwrite(s, s->dfd, off, len);
		break;
	case SOP_APPEND: {
		uint64_t old = shared.size;
		off_t pos;

		len = shared_len(s, false);
		if (old + len > cfg.maxsize)
			return;
		shared_log(s, t, old, len);
		fill(&s->w, s->w.buf, len);
		if (write(s->afd, s->w.buf, len) != (ssize_t)len)
			shared_fail(s, "O_APPEND write of %#" PRIx64, len);
		pos = lseek(s->afd, 0, SEEK_CUR);
		if (pos != (off_t)(old + len))
			shared_fail(s, "O_APPEND write ended at %lld, expected %#" PRIx64,
				    (long long)pos, old + len);
		memcpy(shared.model + old, s->w.buf, len);
		shared.size = old + len;
		break;
	}
	case SOP_READ:
		len = shared_len(s, false);
		off = shared_off(s, len, false);
		shared_log(s, t, off, len);
		shared_pread(s, s->fd, off, len, "read");
		break;
	case SOP_DREAD:
		len = shared_len(s, true);
		off = shared_off(s, len, true);
		shared_log(s, t, off, len);
		shared_pread(s, s->dfd, off, len, "O_DIRECT read");
		break;
	case SOP_MAPWRITE:
	case SOP_MAPREAD:
		if (!shared.size)
			return;
		off = rnd_below(&s->w, shared.size);
		len = 1 + rnd_below(&s->w, shared.size - off < 65536 ? shared.size - off : 65536);
		shared_log(s, t, off, len);
		if (t == SOP_MAPREAD) {
			shared_compare(s, s->map + off, off, len, "mmap read");
			break;
		}
		fill(&s->w, s->w.buf, len);
		memcpy(s->map + off, s->w.buf, len);
		memcpy(shared.model + off, s->w.buf, len);
		/* mostly left dirty for writeback to race the next truncate */
		if (!rnd_below(&s->w, 4) && msync(s->map, cfg.maxsize, MS_SYNC))
			shared_fail(s, "msync");
		break;
	case SOP_TRUNCATE:
		off = rnd_below(&s->w, 2) ? rnd_below(&s->w, shared.size + 1) :
					    shared.size + rnd_below(&s->w, 65536);
		if (off > cfg.maxsize)
			off = cfg.maxsize;
		shared_log(s, t, off, 0);
		if (ftruncate(s->fd, off))
			shared_fail(s, "ftruncate to %#" PRIx64, off);
		shared_set_size(off);
		shared_check_size(s, "ftruncate");
		break;
	case SOP_COPY: {
		uint64_t done = 0;
		loff_t in, out;

		if (shared.size < 2)
			return;
		/* two ranges that do not overlap, at unaligned offsets */
		src = rnd_below(&s->w, shared.size - 1);
		len = 1 + rnd_below(&s->w, (shared.size - src) < 65536 ? shared.size - src - 1 : 65535);
		off = rnd_below(&s->w, 2) && src >= len ? rnd_below(&s->w, src - len + 1) :
			src + len + rnd_below(&s->w, 8192);
		if (off + len > cfg.maxsize)
			return;
		shared_log(s, t, off, len | (src << 24));
		in = src;
		out = off;
		while (done < len) {
			ssize_t n = copy_file_range(s->fd, &in, s->fd, &out, len - done, 0);

			if (n <= 0)
				shared_fail(s, "copy_file_range %#" PRIx64 " -> %#" PRIx64
					    " +%#" PRIx64 " returned %zd", src, off, len, n);
			done += n;
		}
		memcpy(shared.model + off, shared.model + src, len);
		if (off + len > shared.size)
			shared.size = off + len;
		shared_check_size(s, "copy_file_range");
		break;
	}
	case SOP_PUNCH:
		if (shared.punch_unsupported)
			return;
		len = shared_len(s, false);
		off = shared_off(s, len, false);
		shared_log(s, t, off, len);
		if (fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len)) {
			if (errno != EOPNOTSUPP)
				shared_fail(s, "punch hole %#" PRIx64 "+%#" PRIx64, off, len);
			shared.punch_unsupported = true;
			tap_skip("mqverify shared: punch hole", "not supported (EOPNOTSUPP)");
			return;
		}
		if (off < shared.size)
			memset(shared.model + off, 0,
			       (off + len < shared.size ? off + len : shared.size) - off);
		break;
	case SOP_REMAP:
		shared_log(s, t, 0, 0);
		munmap(s->map, cfg.maxsize);
		shared_map(s);
		break;
	case SOP_REOPEN:
		shared_log(s, t, 0, 0);
		munmap(s->map, cfg.maxsize);
		shared_close(s);
		shared_open(s);
		shared_check_size(s, "reopen");
		shared_map(s);
		break;
	case SOP_NR:
		break;
	}
}

static enum sop_type shared_pick(struct sworker *s)
{
	unsigned int total = 0, r, i;

	for (i = 0; i < SOP_NR; i++)
		total += sop_weight[i];
	r = rnd_below(&s->w, total);
	for (i = 0; r >= sop_weight[i]; i++)
		r -= sop_weight[i];
	return i;
}

static void *shared_run(void *arg)
{
	struct sworker *s = arg;

	pthread_mutex_lock(&shared.lock);
	shared_open(s);
	shared_map(s);
	pthread_mutex_unlock(&shared.lock);
	for (s->w.done = 0; s->w.done < s->w.ops; s->w.done++) {
		pthread_mutex_lock(&shared.lock);
		shared_op(s, shared_pick(s));
		shared.ops++;
		pthread_mutex_unlock(&shared.lock);
	}
	pthread_mutex_lock(&shared.lock);
	munmap(s->map, cfg.maxsize);
	shared_close(s);
	s->finished = true;
	pthread_mutex_unlock(&shared.lock);
	return NULL;
}

/* Read @path whole and compare with the model; returns 0 if equal. */
static int shared_verify_file(struct sworker *s, const char *path, const char *what)
{
	unsigned char *b = malloc(cfg.maxsize + 1);
	struct stat st;
	ssize_t n, got = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || !b || fstat(fd, &st)) {
		tap_ok(0, "mqverify shared: open %s (%s)", path, strerror(errno));
		free(b);
		return -1;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	while ((n = pread(fd, b + got, cfg.maxsize + 1 - got, got)) > 0)
		got += n;
	close(fd);
	if ((uint64_t)st.st_size != shared.size || (uint64_t)got != shared.size) {
		tap_ok(0, "mqverify shared: %s: size %lld, read %zd, expected %" PRIu64,
		       what, (long long)st.st_size, got, shared.size);
		free(b);
		return -1;
	}
	if (memcmp(b, shared.model, got)) {
		ssize_t i;

		for (i = 0; b[i] == shared.model[i]; i++)
			;
		tap_ok(0, "mqverify shared: %s differs from the model at %#zx", what, i);
		free(b);
		return -1;
	}
	(void)s;
	free(b);
	return 0;
}

static int shared_main(const char *dir, const char *backing)
{
	static struct sworker sw[MAX_FILES];
	bool all = true;
	int i;

	snprintf(shared.path, sizeof(shared.path), "%s/mqverify.shared.%d", dir, getpid());
	shared.model = calloc(1, cfg.maxsize + SHARED_MAX_LEN);
	if (!shared.model) {
		printf("Bail out! out of memory\n");
		return 1;
	}
	unlink(shared.path);
	tap_diag("shared-file mode: %d threads, %" PRIu64 " ops, seed %" PRIu64
		 ", max size %" PRIu64, cfg.files, cfg.ops, cfg.seed, cfg.maxsize);
	for (i = 0; i < cfg.files; i++) {
		struct sworker *s = &sw[i];

		s->w.idx = i;
		s->w.rng = ((cfg.seed + 1) * 0x9e3779b97f4a7c15ull + i * 0x632be59bd9b4e019ull) | 1;
		s->w.ops = cfg.ops / cfg.files + (i < (int)(cfg.ops % cfg.files));
		if (posix_memalign((void **)&s->w.buf, DIO_ALIGN, SHARED_MAX_LEN + DIO_ALIGN)) {
			printf("Bail out! out of memory\n");
			return 1;
		}
		if (pthread_create(&s->w.thread, NULL, shared_run, s)) {
			printf("Bail out! pthread_create failed\n");
			return 1;
		}
	}
	for (i = 0; i < cfg.files; i++) {
		pthread_join(sw[i].w.thread, NULL);
		tap_ok(sw[i].finished && sw[i].w.done == sw[i].w.ops,
		       "mqverify shared: thread %d: %" PRIu64 " of %" PRIu64 " ops", i,
		       sw[i].w.done, sw[i].w.ops);
		all &= sw[i].finished;
	}
	tap_ok(all && shared.ops == cfg.ops, "mqverify shared: %" PRIu64 " ops in total",
	       shared.ops);
	tap_ok(!shared_verify_file(&sw[0], shared.path, "file read back"),
	       "mqverify shared: file equals the model (size %" PRIu64 ")", shared.size);
	if (backing) {
		char bp[4096 + 64];

		snprintf(bp, sizeof(bp), "%s/%s", backing, strrchr(shared.path, '/') + 1);
		tap_ok(!shared_verify_file(&sw[0], bp, "backing file"),
		       "mqverify shared: backing file equals the model");
	}
	unlink(shared.path);
	tap_diag("seed %" PRIu64, cfg.seed);
	return tap_done();
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mqverify [-s SEED] [-n OPS] [-f FILES] [-l MAXSIZE] "
		   "[-d] [-N] [-v] DIR\n"
		   "       mqverify -S [-t THREADS] [-B BACKING_DIR] [-s SEED] [-n OPS] "
		   "[-l MAXSIZE] [-v] DIR\n");
}

int main(int argc, char **argv)
{
	static struct worker workers[MAX_FILES];
	struct timespec t0, t1;
	const char *backing = NULL;
	bool shared_mode = false;
	uint64_t total = 0;
	int opt, i;

	while ((opt = getopt(argc, argv, "s:n:f:t:l:B:dNSvh")) != -1) {
		switch (opt) {
		case 's':
			cfg.seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			cfg.ops = strtoull(optarg, NULL, 0);
			break;
		case 'f':
		case 't':
			cfg.files = atoi(optarg);
			break;
		case 'S':
			shared_mode = true;
			break;
		case 'B':
			backing = optarg;
			break;
		case 'l':
			cfg.maxsize = strtoull(optarg, NULL, 0);
			break;
		case 'd':
			cfg.direct = true;
			break;
		case 'N':
			cfg.no_mmap = true;
			break;
		case 'v':
			cfg.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (shared_mode && optind == argc - 1 && cfg.files >= 1 && cfg.files <= MAX_FILES) {
		if (cfg.maxsize == 16u << 20)
			cfg.maxsize = 4u << 20;	/* default for one shared file */
		if (cfg.maxsize < 2 * SHARED_MAX_LEN) {
			fprintf(stderr, "MAXSIZE must be at least %u\n", 2 * SHARED_MAX_LEN);
			return 2;
		}
		tap_init(0);
		cfg.pagesize = sysconf(_SC_PAGESIZE);
		cfg.maxsize &= ~(uint64_t)(DIO_ALIGN - 1);
		return shared_main(argv[optind], backing);
	}
	if (optind != argc - 1 || cfg.files < 1 || cfg.files > MAX_FILES ||
	    cfg.maxsize < 2 * BIG_WRITE) {
		usage(stderr);
		if (cfg.maxsize < 2 * BIG_WRITE)
			fprintf(stderr, "MAXSIZE must be at least %u\n",
				2 * BIG_WRITE);
		return 2;
	}
	tap_init(0);
	cfg.pagesize = sysconf(_SC_PAGESIZE);
	cfg.maxsize = cfg.maxsize & ~(uint64_t)(DIO_ALIGN - 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (i = 0; i < cfg.files; i++) {
		struct worker *w = &workers[i];

		w->idx = i;
		snprintf(w->path, sizeof(w->path), "%s/mqverify.%d.%d",
			 argv[optind], getpid(), i);
		w->rng = (cfg.seed + 1) * 0x9e3779b97f4a7c15ull + i * 0x632be59bd9b4e019ull;
		w->rng |= 1;
		w->ops = cfg.ops / cfg.files + (i < (int)(cfg.ops % cfg.files));
		w->model = calloc(1, cfg.maxsize + BIG_WRITE);
		if (!w->model ||
		    posix_memalign((void **)&w->buf, DIO_ALIGN,
				   BIG_WRITE + DIO_ALIGN)) {
			printf("Bail out! out of memory\n");
			return 1;
		}
		if (pthread_create(&w->thread, NULL, worker_run, w)) {
			printf("Bail out! pthread_create failed\n");
			return 1;
		}
	}
	for (i = 0; i < cfg.files; i++) {
		struct worker *w = &workers[i];

		pthread_join(w->thread, NULL);
		tap_ok(w->finished && w->done == w->ops,
		       "mqverify: file %d: %" PRIu64 " of %" PRIu64 " ops, final size %"
		       PRIu64, i, w->done, w->ops, w->size);
		total += w->done;
		unlink(w->path);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tap_ok(total == cfg.ops, "mqverify: %d files, %" PRIu64 " of %" PRIu64
	       " ops, seed %" PRIu64 "%s%s", cfg.files, total, cfg.ops,
	       cfg.seed, cfg.direct ? ", O_DIRECT" : "",
	       cfg.no_mmap ? ", no mmap" : "");
	tap_diag("%" PRIu64 " ops in %.2f s", total,
		 (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return tap_done();
}
