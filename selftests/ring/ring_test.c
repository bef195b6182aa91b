// SPDX-License-Identifier: GPL-2.0
/*
 * ring_test: the ring transport and registered daemon memory (umem) of
 * fs/ring.c, uapi/mqfuse.h "Ring transport and registered daemon memory".
 *
 *   ring_test [-t FSTYPE] [-d DEV] [-m MNT] [SCENARIO...]   (default: all)
 *   ring_test list
 *
 * Each scenario mounts a fresh tinyfs (selftests/common), forks a server
 * that serves it over a ring (UMEM_REG, RING_SETUP, mmap, RING_ENTER) or
 * misuses the ring on purpose, runs client operations in this process or
 * in forked "applications" (anything that may block), unmounts and reaps
 * the server. The server reports what it saw through shared memory; every
 * TAP line is printed here, so a server that dies cannot lose a failure.
 *
 * A request descriptor {buf, off, len} names the request at umem +
 * buf * buf_size + off. The server answers with tinyfs's serve_normal(),
 * which write()s the reply to a memfd; the bytes are copied into the same
 * buffer (the reply payload on a page boundary, header just before it)
 * and a reply descriptor is published with a release store of rep_tail.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mqfuse.h"
#include "tap.h"
#include "tinyfs.h"

#define PG		4096u
#define KIB		1024u
#define MIB		(1024u * 1024u)
#define BUF_256K	(256u * KIB)

static const char *fstype = MQFUSE_NAME;
static const char *devpath = MQFUSE_DEV_PATH;
static const char *mnt = "/tmp/ring-mnt";
static char path_file[512], path_link[512];

/* ---- small helpers ---- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static uint32_t round_up_pg(uint64_t v)
{
	return (v + PG - 1) / PG * PG;
}

/* The byte at @pos of the test pattern (file offsets, not buffer offsets). */
static unsigned char pat(uint64_t pos)
{
	return (unsigned char)(pos * 7 + (pos >> 12) * 13 + 1);
}

static void fill_pat(void *p, uint64_t pos, size_t n)
{
	unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = pat(pos + i);
}

/* Index of the first byte that differs from the pattern, or -1. */
static long check_pat(const void *p, uint64_t pos, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != pat(pos + i))
			return i;
	return -1;
}

static int sysfs_read(uint64_t id, const char *attr, char *buf, size_t len)
{
	char p[256];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%llu/%s", MQFUSE_SYSFS_PATH, (unsigned long long)id, attr);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

static int sysfs_abort(uint64_t id)
{
	char p[256];
	int fd, err = 0;

	snprintf(p, sizeof(p), "%s/%llu/abort", MQFUSE_SYSFS_PATH, (unsigned long long)id);
	fd = open(p, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, "1\n", 2) != 2)
		err = -errno;
	close(fd);
	return err;
}

/* Sum of "@key N" over every queue<N>/stats of session @id; -1 if none. */
static long long queue_stat(uint64_t id, const char *key)
{
	char b[2048], a[32], k[64];
	long long total = -1;
	int q;

	snprintf(k, sizeof(k), "\n%s ", key);
	for (q = 0; q < 256; q++) {
		char *p;

		snprintf(a, sizeof(a), "queue%d/stats", q);
		if (sysfs_read(id, a, b + 1, sizeof(b) - 1))
			break;
		b[0] = '\n';
		p = strstr(b, k);
		if (p)
			total = (total < 0 ? 0 : total) + atoll(p + strlen(k));
	}
	return total;
}

/* Wait up to @ms until @pid sleeps in ioctl(2) (/proc/PID/syscall). */
static bool in_ioctl(pid_t pid, int ms)
{
	long long end = now_ms() + ms;
	char p[64], b[64];

	snprintf(p, sizeof(p), "/proc/%d/syscall", (int)pid);
	while (now_ms() < end) {
		int fd = open(p, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, b, sizeof(b) - 1) : -1;

		if (fd >= 0)
			close(fd);
		if (n > 0) {
			b[n] = 0;
			if (atol(b) == SYS_ioctl)
				return true;
		}
		usleep(20000);
	}
	return false;
}

/* VmPin of @pid in kB, -1 if unreadable. */
static long vmlck_kb(pid_t pid)
{
	char p[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/status", (int)pid);
	f = fopen(p, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/*
 * In a forked child: close every fd above stderr but @keep. The child's
 * alarm() kills it (the parent's SIGALRM handler is for the parent).
 */
static void close_fds_but(int keep)
{
	int i;

	signal(SIGALRM, SIG_DFL);
	for (i = 3; i < 1024; i++)
		if (i != keep)
			close(i);
}

static uint64_t session_of(int fd)
{
	struct mqfuse_session_info si;

	memset(&si, 0, sizeof(si));
	if (ioctl(fd, MQFUSE_IOC_GET_INFO, &si))
		return 0;
	return si.session_id;
}

/* Mount with a fresh device fd (INIT not answered); returns the fd or -1. */
static int do_mount(const char *extra, uint64_t *sid)
{
	char opts[256];
	int fd;

	fd = open(devpath, O_RDWR);
	if (fd < 0) {
		tap_diag("open %s: %s", devpath, strerror(errno));
		return -1;
	}
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other%s%s",
		 fd, extra ? "," : "", extra ? extra : "");
	if (mount("ringtest", mnt, fstype, MS_NOSUID | MS_NODEV, opts)) {
		tap_diag("mount -o %s: %s", opts, strerror(errno));
		close(fd);
		return -1;
	}
	*sid = session_of(fd);
	return fd;
}

static bool do_umount(const char *what)
{
	bool ok = umount2(mnt, 0) == 0;

	if (!ok) {
		tap_diag("umount: %s", strerror(errno));
		umount2(mnt, MNT_DETACH);
	}
	return tap_ok(ok, "%s: unmount works", what);
}

/* ---- state shared with the server (MAP_SHARED) ---- */

enum hostile {
	H_NONE,
	H_IDX,		/* buffer index >= entries */
	H_NOT_HELD,	/* a valid index the daemon does not hold */
	H_DOUBLE,	/* the same reply descriptor twice: double completion */
	H_OFF,		/* off inside, off + len past the buffer */
	H_LEN,		/* len larger than a buffer */
	H_OFF_WRAP,	/* off + len wraps 32 bits */
	H_FLAGS,	/* nonzero flags on a reply */
	H_FLAGS_LEN0,	/* nonzero flags on a buffer return (len 0) */
	H_TAIL_FAR,	/* rep_tail more than entries past rep_head */
	H_TAIL_BACK,	/* rep_tail behind rep_head */
	H_HDR_LEN,	/* fuse_out_header.len != descriptor len */
	H_UNIQUE,	/* unknown unique */
	H_ERR_POS,	/* positive error */
	H_ABORT,	/* bad descriptor, then the session is aborted */
	H_NR
};

static const char *const hostile_name[H_NR] = {
	[H_IDX] = "buffer index >= entries",
	[H_NOT_HELD] = "buffer not held by the daemon",
	[H_DOUBLE] = "double completion",
	[H_OFF] = "off + len past the buffer",
	[H_LEN] = "len larger than a buffer",
	[H_OFF_WRAP] = "off + len wrapping 32 bits",
	[H_FLAGS] = "nonzero flags",
	[H_FLAGS_LEN0] = "nonzero flags on a buffer return",
	[H_TAIL_FAR] = "rep_tail far beyond rep_head",
	[H_TAIL_BACK] = "rep_tail behind rep_head",
	[H_HDR_LEN] = "header len != descriptor len",
	[H_UNIQUE] = "unknown unique",
	[H_ERR_POS] = "positive error",
	[H_ABORT] = "bad descriptor, then abort",
};

/* What the server saw of one hostile case. */
struct hostile_res {
	int done;
	int e1_err;		/* the ENTER right after the hostile descriptor */
	unsigned int e1_bad, e1_replies;
	int rep_head_moved;	/* TAIL cases: the kernel advanced rep_head */
	int e2_err;		/* after a valid descriptor / buffer return */
	unsigned int e2_bad, e2_replies;
	long wr;		/* write(2) of the reply, -errno */
	long wr_len;		/* its length */
	int e3_err;		/* the buffer-return probe */
	unsigned int e3_bad, e3_replies;
};

/* Phases the parent sets; the server acts on a LOOKUP of "file". */
enum phase {
	P_NONE,
	P_HOSTILE,	/* shm->hostile says which */
	P_INTR,		/* hold it; answer EINTR when the INTERRUPT comes */
	P_HOLD,		/* hold it until P_RELEASE */
	P_RELEASE,	/* answer the held one through the ring */
	P_DEREG,	/* UMEM_DEREG dance */
	P_MUNMAP,	/* munmap the umem */
	P_STALL,	/* stop calling ENTER after this batch */
	P_KILLME,	/* hold it and wait to be killed */
	P_WORKER,	/* hand it to the worker thread, which answers it */
	P_THREADS,	/* the worker's ENTER and UMEM_DEREG while the main one sleeps */
	P_FUZZ,		/* misbehave at random (seeded) */
};

struct shared {
	volatile int phase;
	volatile int hostile;
	volatile int flag;		/* server -> parent: held / stalled / ... */
	volatile int stall_end;		/* parent -> server: call ENTER again */
	volatile int ready;		/* server set up its ring */
	int setup_err;
	int last_err;			/* the ENTER error that ended the loop */
	unsigned long long requests;	/* request descriptors seen */
	unsigned long long replies;	/* reply descriptors published */
	unsigned int opcodes[64];	/* request descriptors by opcode (< 64) */
	unsigned int violations;	/* descriptors breaking the contract */
	char violation[256];
	uint32_t max_held;		/* most buffers held at once */
	uint32_t req_tail;		/* last req_tail seen */

	struct hostile_res h[H_NR];

	/* alignment */
	unsigned int nr_writes;
	unsigned int write_len[8];
	int write_aligned[8];		/* payload on a page boundary of umem */
	long write_mismatch[8];		/* first differing byte, -1 none */
	unsigned int nr_reads;		/* READ replies built in umem */

	/* interrupt */
	int intr_seen;			/* INTERRUPT for the held request came */
	int intr_unique_ok;

	/* held request answered after its waiter was killed */
	int rel_done;
	int rel_err;
	unsigned int rel_bad, rel_replies;

	/* small buffers */
	int sb_init_seen;
	int sb_e2_err;
	unsigned int sb_e2_replies, sb_e2_requests;
	int sb_e3_err;
	unsigned int sb_held_after;	/* buffers still held after ENOBUFS */
	int sb_return_err;		/* ENTER giving them back */
	unsigned int sb_return_replies;
	int sb_dereg;
	int sb_enter_nxio;
	int sb_rereg;
	uint32_t sb_max_write;

	/* dereg */
	int dr_done;
	int dr_busy;
	int dr_drain_err;
	int dr_dereg;
	int dr_enter;
	long dr_write;
	int dr_rereg;
	uint32_t dr_ctl_buf_size;
	long dr_vmlck_before, dr_vmlck_held, dr_vmlck_after;
	unsigned int dr_rounds, dr_requests, dr_replies, dr_bad, dr_held;
	uint32_t dr_req_head, dr_req_tail, dr_rep_tail, dr_rep_head;

	/* munmap */
	int mu_done;
	unsigned int mu_after;		/* requests handed out after the munmap */
	unsigned int mu_written;	/* answered by write(2) after it */
	unsigned int mu_ring;		/* answered through the ring after it */
	unsigned int mu_new_mapping_dirty; /* anon: the kernel wrote into the new mapping */
	long mu_write_err;

	/* stall */
	unsigned int eintr;		/* RING_ENTERs that returned EINTR */

	/* threads */
	int th_done;
	int th_enter_err;
	unsigned int th_enter_replies;
	long long th_enter_ms;
	int th_dereg_err;
	long long th_dereg_ms;
	int th_rereg_err;
	int wk_done;
	int wk_err;
	unsigned int wk_replies;
	unsigned int wk_requests;
	long long wk_ms;

	/* fuzz */
	unsigned long long fuzz_seed;
	unsigned int fuzz_pct;		/* of requests answered with a misdeed */
	unsigned long long fuzzed;	/* misdeeds */
	unsigned long long fuzz_bad;	/* reported in ring_enter.bad meanwhile */
	unsigned int fuzz_kinds[8];
	unsigned long long fuzz_writes;	/* right answers by write(2) taken */
	volatile unsigned int kid_rounds[3]; /* client rounds done */
};

static struct shared *shm;

/* ---- the ring server ---- */

struct rsrv {
	int fd;				/* device fd */
	int capfd;			/* memfd serve_normal() writes replies to */
	char *umem;			/* where the daemon reads its buffers */
	char *umem_reg;			/* the registered mapping */
	size_t umem_len;
	int memfd;			/* umem's memfd, -1: anonymous */
	uint32_t buf_size, nr_bufs;
	struct mqfuse_ring_ctl *ctl;
	size_t map_len;
	struct mqfuse_ring_desc *rq, *rp;
	uint32_t entries, req_head, rep_tail;
	bool held[MQFUSE_RING_MAX_ENTRIES];
	uint32_t nr_held;
	pthread_mutex_t lock;		/* reply publishing and held[] (threads scenario) */
	bool blind;			/* umem unmapped: requests cannot be read */
	struct mqfuse_ring_enter last;	/* counts of the last ENTER */
	char *rbuf;			/* captured reply */
	/* a held request (P_INTR, P_HOLD) */
	bool hold;
	struct mqfuse_ring_desc hold_d;
	uint64_t hold_unique;
};

typedef bool (*hook_fn)(struct rsrv *s, const struct mqfuse_ring_desc *d, struct req *r);

static int srv_umem_reg(struct rsrv *s, uint32_t nr_bufs, uint32_t buf_size, bool memfd)
{
	struct mqfuse_umem_reg reg;
	size_t len = (size_t)nr_bufs * buf_size;
	char *m;

	s->memfd = -1;
	if (memfd) {
		s->memfd = memfd_create("ring-umem", 0);
		if (s->memfd < 0 || ftruncate(s->memfd, len))
			return -errno;
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, s->memfd, 0);
	} else {
		m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (m == MAP_FAILED)
		return -errno;
	memset(&reg, 0, sizeof(reg));
	reg.addr = (uintptr_t)m;
	reg.len = len;
	reg.buf_size = buf_size;
	if (ioctl(s->fd, MQFUSE_IOC_UMEM_REG, &reg)) {
		int err = -errno;

		munmap(m, len);
		return err;
	}
	s->umem = s->umem_reg = m;
	s->umem_len = len;
	s->buf_size = buf_size;
	s->nr_bufs = nr_bufs;
	return 0;
}

static int srv_ring_setup(struct rsrv *s, uint32_t entries)
{
	struct mqfuse_ring_setup rs;
	void *m;

	memset(&rs, 0, sizeof(rs));
	rs.entries = entries;
	if (ioctl(s->fd, MQFUSE_IOC_RING_SETUP, &rs))
		return -errno;
	m = mmap(NULL, rs.mmap_len, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	s->ctl = m;
	s->map_len = rs.mmap_len;
	s->entries = entries;
	s->rq = (void *)((char *)m + s->ctl->req_off);
	s->rp = (void *)((char *)m + s->ctl->rep_off);
	s->req_head = s->rep_tail = 0;
	return 0;
}

static int srv_enter(struct rsrv *s, uint32_t min_req)
{
	struct mqfuse_ring_enter e;

	memset(&e, 0, sizeof(e));
	e.min_req = min_req;
	if (ioctl(s->fd, MQFUSE_IOC_RING_ENTER, &e)) {
		memset(&s->last, 0, sizeof(s->last));
		return -errno;
	}
	s->last = e;
	return 0;
}

static char *srv_buf(struct rsrv *s, uint32_t buf)
{
	return s->umem + (size_t)buf * s->buf_size;
}

static void violation(const char *fmt, ...)
{
	va_list ap;

	shm->violations++;
	va_start(ap, fmt);
	vsnprintf(shm->violation, sizeof(shm->violation), fmt, ap);
	va_end(ap);
}

/* Publish a reply descriptor as is (hostile ones too); held state untouched. */
static void srv_publish_raw(struct rsrv *s, uint32_t buf, uint32_t off, uint32_t len,
			    uint32_t flags)
{
	struct mqfuse_ring_desc *d;

	pthread_mutex_lock(&s->lock);
	d = &s->rp[s->rep_tail & (s->entries - 1)];
	d->buf = buf;
	d->off = off;
	d->len = len;
	d->flags = flags;
	s->rep_tail++;
	/* the descriptor before the tail (uapi: release store of rep_tail) */
	__atomic_store_n(&s->ctl->rep_tail, s->rep_tail, __ATOMIC_RELEASE);
	shm->replies++;
	pthread_mutex_unlock(&s->lock);
}

static void srv_publish(struct rsrv *s, uint32_t buf, uint32_t off, uint32_t len)
{
	srv_publish_raw(s, buf, off, len, 0);
	pthread_mutex_lock(&s->lock);
	if (buf < s->entries && s->held[buf]) {
		s->held[buf] = false;
		s->nr_held--;
	}
	pthread_mutex_unlock(&s->lock);
}

/* Next request descriptor, checked against the contract; false if none. */
static bool srv_next(struct rsrv *s, struct mqfuse_ring_desc *d, struct req *r)
{
	uint32_t tail = __atomic_load_n(&s->ctl->req_tail, __ATOMIC_ACQUIRE);
	struct fuse_in_header *h;

	if (s->req_head == tail)
		return false;
	if (tail - s->req_head > s->entries)
		violation("req_tail %u is %u past req_head %u", tail, tail - s->req_head,
			  s->req_head);
	*d = s->rq[s->req_head & (s->entries - 1)];
	pthread_mutex_lock(&s->lock);
	s->req_head++;
	s->ctl->req_head = s->req_head;	/* ours; the kernel never reads it */
	shm->req_tail = tail;
	shm->requests++;
	if (d->buf >= s->entries) {
		pthread_mutex_unlock(&s->lock);
		violation("request descriptor for buffer %u of %u", d->buf, s->entries);
		return srv_next(s, d, r);
	}
	if (s->held[d->buf])
		violation("buffer %u handed out twice", d->buf);
	else
		s->nr_held++;
	s->held[d->buf] = true;
	if (s->nr_held > shm->max_held)
		shm->max_held = s->nr_held;
	pthread_mutex_unlock(&s->lock);
	if (d->flags || (uint64_t)d->off + d->len > s->buf_size ||
	    d->len < sizeof(struct fuse_in_header))
		violation("request descriptor {%u, %u, %u, %#x} (buffers of %u)",
			  d->buf, d->off, d->len, d->flags, s->buf_size);
	r->h = NULL;
	r->arg = NULL;
	r->len = d->len;
	if (s->blind)
		return true;
	h = (void *)(srv_buf(s, d->buf) + d->off);
	if (h->len != d->len)
		violation("request header len %u, descriptor len %u", h->len, d->len);
	if (h->opcode < 64)
		shm->opcodes[h->opcode]++;
	r->h = h;
	r->arg = h + 1;
	return true;
}

/*
 * Is buffer @b the daemon's: held, or named by a request descriptor not
 * read yet (the rest of the batch being served)?
 */
static bool srv_owns(struct rsrv *s, uint32_t b)
{
	uint32_t tail = __atomic_load_n(&s->ctl->req_tail, __ATOMIC_ACQUIRE), i;

	if (b < s->entries && s->held[b])
		return true;
	for (i = s->req_head; i != tail; i++)
		if (s->rq[i & (s->entries - 1)].buf == b)
			return true;
	return false;
}

/* serve_normal()'s reply to @r, in s->rbuf; returns its length (0: none). */
static size_t srv_capture(struct rsrv *s, struct req *r)
{
	off_t n;

	if (ftruncate(s->capfd, 0) || lseek(s->capfd, 0, SEEK_SET))
		return 0;
	serve_normal(s->capfd, r);
	n = lseek(s->capfd, 0, SEEK_CUR);
	if (n <= 0 || n > TINYFS_BUFSZ || pread(s->capfd, s->rbuf, n, 0) != n)
		return 0;
	return n;
}

/*
 * Where a reply of @len bytes goes in the buffer of @d: the payload on the
 * page boundary after the request, the header just before it; at 0 if
 * that does not fit (the request has been used up by then).
 */
static uint32_t srv_reply_off(struct rsrv *s, const struct mqfuse_ring_desc *d, size_t len)
{
	uint32_t off = round_up_pg((uint64_t)d->off + d->len + sizeof(struct fuse_out_header)) -
		       sizeof(struct fuse_out_header);

	if (off + len > s->buf_size)
		off = 0;
	return off;
}

/* Answer @r through the ring (len 0: just return the buffer). */
static void srv_answer(struct rsrv *s, const struct mqfuse_ring_desc *d, struct req *r)
{
	size_t n = srv_capture(s, r);
	uint32_t off;

	if (!n) {
		srv_publish(s, d->buf, 0, 0);
		return;
	}
	off = srv_reply_off(s, d, n);
	memcpy(srv_buf(s, d->buf) + off, s->rbuf, n);
	srv_publish(s, d->buf, off, n);
}

/* Answer @r by write(2) on the device fd and return its buffer. */
static long srv_answer_write(struct rsrv *s, const struct mqfuse_ring_desc *d, struct req *r)
{
	size_t n = r->h ? srv_capture(s, r) : 0;
	long ret = 0;

	if (n && write(s->fd, s->rbuf, n) != (ssize_t)n)
		ret = -errno;
	srv_publish(s, d->buf, 0, 0);
	return ret;
}

static bool is_lookup_file(const struct req *r)
{
	return r->h && r->h->opcode == FUSE_LOOKUP && r->h->nodeid == INO_ROOT &&
	       !strcmp(r->arg, "file");
}

/* Answer every request descriptor available now (hooks included). */
static void srv_drain(struct rsrv *s, hook_fn hook)
{
	struct mqfuse_ring_desc d;
	struct req r;

	while (srv_next(s, &d, &r)) {
		if (hook && hook(s, &d, &r))
			continue;
		if (s->blind) {
			srv_publish(s, d.buf, 0, 0);
			continue;
		}
		srv_answer(s, &d, &r);
	}
}

/* The held request (P_HOLD) is answered through the ring once released. */
static void srv_release_held(struct rsrv *s)
{
	struct req r;

	if (!s->hold || shm->phase != P_RELEASE)
		return;
	r.h = (void *)(srv_buf(s, s->hold_d.buf) + s->hold_d.off);
	r.arg = r.h + 1;
	r.len = s->hold_d.len;
	s->hold = false;
	srv_answer(s, &s->hold_d, &r);
	shm->rel_err = srv_enter(s, 0);
	shm->rel_bad = s->last.bad;
	shm->rel_replies = s->last.replies;
	shm->phase = P_NONE;
	shm->rel_done = 1;
}

/*
 * The main loop: ENTER(min_req 1), answer what came; 0 at the session's
 * end. P_STALL (the parent sends SIGUSR1 to get the server out of a
 * sleeping ENTER): hand the replies in, then stop calling ENTER.
 */
static int srv_loop(struct rsrv *s, hook_fn hook)
{
	for (;;) {
		int err;

		if (shm->phase == P_STALL) {
			while (!srv_enter(s, 0) && s->last.requests)
				srv_drain(s, hook);
			shm->flag = 1;
			while (!shm->stall_end)
				usleep(10000);
			shm->phase = P_NONE;
		}
		err = srv_enter(s, 1);
		if (err == -EINTR) {
			shm->eintr++;
			continue;
		}
		if (err) {
			shm->last_err = err;
			return err == -ENODEV ? 0 : err;
		}
		srv_drain(s, hook);
		srv_release_held(s);
	}
}

static void on_signal(int sig)
{
	(void)sig;
}

struct srv_cfg {
	uint32_t nr_bufs, buf_size, entries;
	bool memfd;
	hook_fn hook;
	int (*run)(struct rsrv *s);	/* instead of the generic setup + loop */
};

static void srv_init(struct rsrv *s, int fd)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->memfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->capfd = memfd_create("ring-reply", 0);
	s->rbuf = malloc(TINYFS_BUFSZ);
	if (s->capfd < 0 || !s->rbuf)
		_exit(4);
}

/* Seconds a server may live (a hung scenario must not leave it behind). */
static unsigned int server_alarm = 150;

static pid_t start_ring_server(int fd, const struct srv_cfg *c)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct rsrv s;
		int err;

		struct sigaction sa;

		close_fds_but(fd);
		alarm(server_alarm);
		/* no SA_RESTART: SIGUSR1 gets the server out of RING_ENTER */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGUSR1, &sa, NULL);
		srv_init(&s, fd);
		if (c->run)
			_exit(c->run(&s) ? 1 : 0);
		err = srv_umem_reg(&s, c->nr_bufs, c->buf_size, c->memfd);
		if (!err)
			err = srv_ring_setup(&s, c->entries);
		if (err) {
			shm->setup_err = err;
			_exit(3);
		}
		shm->ready = 1;
		_exit(srv_loop(&s, c->hook) ? 1 : 0);
	}
	return pid;
}

/* A plain read(2)/write(2) server, as every daemon before the ring. */
static pid_t start_plain_server(int fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		char *buf = malloc(TINYFS_BUFSZ);

		close_fds_but(fd);
		alarm(150);
		if (!buf)
			_exit(4);
		for (;;) {
			ssize_t n = read(fd, buf, TINYFS_BUFSZ);
			struct req r;

			if (n < 0) {
				if (errno == EINTR || errno == ENOENT)
					continue;
				_exit(errno == ENODEV ? 0 : 1);
			}
			if ((size_t)n < sizeof(struct fuse_in_header))
				_exit(2);
			r.h = (void *)buf;
			r.arg = buf + sizeof(struct fuse_in_header);
			r.len = n;
			serve_normal(fd, &r);
		}
	}
	return pid;
}

/* Reap @pid within @ms (else SIGKILL it); its exit status or -1 on timeout. */
static int reap(pid_t pid, int ms)
{
	long long end = now_ms() + ms;
	int status;

	if (pid <= 0)
		return -1;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() > end) {
			/* never block on a child the kernel cannot kill: report it */
			kill(pid, SIGKILL);
			end = now_ms() + 10000;
			while (waitpid(pid, &status, WNOHANG) == 0 && now_ms() < end)
				usleep(10000);
			return -1;
		}
		usleep(10000);
	}
	return status;
}

/* Wait up to @ms for *@f to reach @want. */
static bool wait_flag(volatile int *f, int want, int ms)
{
	long long end = now_ms() + ms;

	while (*f < want) {
		if (now_ms() > end)
			return false;
		usleep(5000);
	}
	return true;
}

/* Ends a ring server's scenario: unmount, reap, check no contract violation. */
static void finish(const char *what, pid_t srv, bool expect_exit0)
{
	int status;

	do_umount(what);
	status = reap(srv, 10000);
	if (expect_exit0) {
		tap_ok(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		       "%s: server ends with the session (ENTER: ENODEV)", what);
		if (!(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0))
			tap_diag("  status %#x, setup_err %d, last ENTER error %d", status,
				 shm->setup_err, shm->last_err);
	}
	tap_ok(!shm->violations, "%s: every request descriptor keeps the contract", what);
	if (shm->violations)
		tap_diag("  %u violations, last: %s", shm->violations, shm->violation);
}

/* ---- applications: one syscall each in a child, result through a pipe ---- */

enum app_op {
	APP_STAT,		/* stat "file" */
	APP_STAT_INTR,		/* the same with a SIGUSR1 handler (no SA_RESTART) */
};

struct app {
	pid_t pid;
	int pipe;
	bool done;
	int ret, err;
	long long t_end;	/* when it was reaped */
};

static void on_usr1(int sig)
{
	(void)sig;
}

static void app_start(struct app *a, enum app_op op)
{
	int p[2];

	memset(a, 0, sizeof(*a));
	a->pid = -1;
	if (pipe(p))
		return;
	a->pid = fork();
	if (a->pid == 0) {
		struct stat st;
		int res[2];

		/* no copy of a device fd: the daemon's death must end the session */
		close_fds_but(p[1]);
		alarm(120);
		if (op == APP_STAT_INTR) {
			struct sigaction sa;

			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_usr1;
			sigaction(SIGUSR1, &sa, NULL);
		}
		res[0] = stat(path_file, &st);
		res[1] = res[0] ? errno : 0;
		if (!res[0] && st.st_ino != INO_FILE)
			res[0] = -2;
		if (write(p[1], res, sizeof(res)) != sizeof(res))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	a->pipe = p[0];
}

/* Wait up to @ms for the application to finish; true if it did. */
static bool app_wait(struct app *a, int ms)
{
	struct pollfd p = { .fd = a->pipe, .events = POLLIN };
	int res[2];

	if (a->done)
		return true;
	if (a->pid <= 0)
		return false;
	if (poll(&p, 1, ms) <= 0)
		return false;
	if (read(a->pipe, res, sizeof(res)) == sizeof(res)) {
		a->ret = res[0];
		a->err = res[1];
	} else {
		a->ret = -3;	/* killed */
	}
	waitpid(a->pid, NULL, 0);
	close(a->pipe);
	a->t_end = now_ms();
	a->done = true;
	return true;
}

static void app_kill(struct app *a)
{
	if (a->pid > 0 && !a->done) {
		kill(a->pid, SIGKILL);
		app_wait(a, 10000);
	}
}

/* stat "file" in an application; 0 or the errno, ETIMEDOUT if it hangs. */
static int app_stat(int ms)
{
	struct app a;

	app_start(&a, APP_STAT);
	if (!app_wait(&a, ms)) {
		app_kill(&a);
		return ETIMEDOUT;
	}
	if (a.ret == -1)
		return a.err ? a.err : EIO;
	return a.ret ? EPROTO : 0;
}

/* ---- scenario: normal service ---- */

/* P_INTR: hold the LOOKUP, answer -EINTR once its INTERRUPT comes. */
static bool hook_normal(struct rsrv *s, const struct mqfuse_ring_desc *d, struct req *r)
{
	if (shm->phase == P_INTR && is_lookup_file(r) && !s->hold) {
		s->hold = true;
		s->hold_d = *d;
		s->hold_unique = r->h->unique;
		shm->flag = 1;
		return true;
	}
	if (r->h && r->h->opcode == FUSE_INTERRUPT && s->hold) {
		const struct fuse_interrupt_in *in = r->arg;
		struct fuse_out_header *oh;

		shm->intr_seen = 1;
		shm->intr_unique_ok = (in->unique & ~MQFUSE_UNIQUE_REPLAY) ==
				      (s->hold_unique & ~MQFUSE_UNIQUE_REPLAY);
		srv_publish(s, d->buf, 0, 0);	/* no reply to an INTERRUPT */
		oh = (void *)srv_buf(s, s->hold_d.buf);
		oh->len = sizeof(*oh);
		oh->error = -EINTR;
		oh->unique = s->hold_unique;
		srv_publish(s, s->hold_d.buf, 0, sizeof(*oh));
		s->hold = false;
		shm->phase = P_NONE;
		return true;
	}
	return false;
}

static int client_ops(const char *what, bool verbose)
{
	char buf[8192], lnk[64];
	struct stat st;
	int bad = 0, fd, names = 0;
	struct dirent *de;
	ssize_t n;
	DIR *dir;

	if (stat(mnt, &st) || !S_ISDIR(st.st_mode) || st.st_ino != INO_ROOT)
		bad |= 1;
	if (stat(path_file, &st) || !S_ISREG(st.st_mode) || st.st_size != TINYFS_FILE_SIZE)
		bad |= 2;
	fd = open(path_file, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
	if (n != TINYFS_FILE_SIZE || buf[0] != 'A' || buf[n - 1] != 'A' ||
	    memchr(buf, 0, n))
		bad |= 4;
	if (fd >= 0)
		close(fd);
	dir = opendir(mnt);
	while (dir && (de = readdir(dir)))
		if (!strcmp(de->d_name, "file") || !strcmp(de->d_name, "dir") ||
		    !strcmp(de->d_name, "link"))
			names++;
	if (dir)
		closedir(dir);
	if (names != 3)
		bad |= 8;
	n = readlink(path_link, lnk, sizeof(lnk));
	if (n != 4 || memcmp(lnk, "file", 4))
		bad |= 16;
	if (verbose) {
		tap_ok(!(bad & 1), "%s: stat of the root", what);
		tap_ok(!(bad & 2), "%s: stat of \"file\" (regular, 4096 bytes)", what);
		tap_ok(!(bad & 4), "%s: read of \"file\" gives 4096 'A's", what);
		tap_ok(!(bad & 8), "%s: readdir lists file, dir, link (%d of 3)", what, names);
		tap_ok(!(bad & 16), "%s: readlink of \"link\" is \"file\"", what);
	}
	return bad;
}

static void sc_normal(void)
{
	const char *w = "normal";
	struct srv_cfg c = { .nr_bufs = 8, .buf_size = BUF_256K, .entries = 8,
			     .hook = hook_normal };
	char t[64] = "";
	uint64_t sid;
	struct app a;
	pid_t srv, kids[4];
	int fd, i, okk = 0;
	long long rr, rb, rq;

	fd = do_mount("queues=2", &sid);
	if (fd < 0) {
		tap_ok(false, "%s: mount", w);
		return;
	}
	srv = start_ring_server(fd, &c);
	close(fd);
	alarm(120);
	client_ops(w, true);
	tap_ok(!sysfs_read(sid, "transport", t, sizeof(t)) && !strcmp(t, "ring"),
	       "%s: sysfs transport is \"ring\" (\"%s\")", w, t);
	rr = queue_stat(sid, "ring_requests");
	rb = queue_stat(sid, "ring_batches");
	rq = queue_stat(sid, "requests");
	tap_ok(rr > 0 && rb > 0 && rb <= rr,
	       "%s: queue stats ring_requests %lld > 0, ring_batches %lld in 1..requests",
	       w, rr, rb);
	tap_ok(rr <= rq, "%s: ring_requests %lld <= requests %lld", w, rr, rq);
	tap_ok(shm->opcodes[FUSE_INIT] == 1, "%s: INIT came through the ring (%u)", w,
	       shm->opcodes[FUSE_INIT]);

	/* INTERRUPT through the ring: the held LOOKUP is answered EINTR */
	shm->flag = 0;
	shm->phase = P_INTR;
	app_start(&a, APP_STAT_INTR);
	if (wait_flag(&shm->flag, 1, 10000)) {
		usleep(100000);
		kill(a.pid, SIGUSR1);
	}
	app_wait(&a, 10000);
	tap_ok(shm->intr_seen && shm->intr_unique_ok,
	       "%s: INTERRUPT handed out through the ring names the held request", w);
	tap_ok(a.done && a.ret == -1 && a.err == EINTR,
	       "%s: the interrupted stat gets the daemon's EINTR (ret %d, %s)", w, a.ret,
	       strerror(a.err));
	app_kill(&a);
	shm->phase = P_NONE;

	/* many clients at once through 8 buffers: indices wrap many times */
	for (i = 0; i < 4; i++) {
		kids[i] = fork();
		if (kids[i] == 0) {
			int k, bad = 0;

			signal(SIGALRM, SIG_DFL);
			alarm(100);
			for (k = 0; k < 150 && !bad; k++)
				bad = client_ops(w, false);
			_exit(bad ? 1 : 0);
		}
	}
	for (i = 0; i < 4; i++) {
		int st = reap(kids[i], 100000);

		okk += st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	tap_ok(okk == 4, "%s: 4 clients x 150 rounds of stat/read/readdir/readlink (%d ok)",
	       w, okk);
	tap_ok(shm->req_tail > 40 * 8, "%s: request indices went round the ring %u times",
	       w, shm->req_tail / 8);
	tap_ok(shm->max_held >= 1 && shm->max_held <= 8,
	       "%s: never more buffers held than entries (at most %u of 8)", w, shm->max_held);
	tap_ok(queue_stat(sid, "ring_requests") > rr, "%s: ring_requests grows (%lld)", w,
	       queue_stat(sid, "ring_requests"));
	finish(w, srv, true);
	alarm(0);
}

/* The same filesystem from a plain read(2)/write(2) server: transport "dev". */
static void sc_transport_dev(void)
{
	const char *w = "transport_dev";
	char t[64] = "";
	uint64_t sid;
	pid_t srv;
	int fd, st;

	fd = do_mount(NULL, &sid);
	if (fd < 0) {
		tap_ok(false, "%s: mount", w);
		return;
	}
	srv = start_plain_server(fd);
	close(fd);
	alarm(60);
	tap_ok(!client_ops(w, false), "%s: stat/read/readdir/readlink work", w);
	tap_ok(!sysfs_read(sid, "transport", t, sizeof(t)) && !strcmp(t, "dev"),
	       "%s: sysfs transport is \"dev\" (\"%s\")", w, t);
	tap_ok(queue_stat(sid, "ring_requests") == 0 && queue_stat(sid, "ring_batches") == 0,
	       "%s: ring_requests and ring_batches stay 0", w);
	do_umount(w);
	st = reap(srv, 10000);
	tap_ok(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st), "%s: server ends (read: ENODEV)", w);
	alarm(0);
}

/* ---- scenario: payload alignment and one copy ---- */

static bool hook_align(struct rsrv *s, const struct mqfuse_ring_desc *d, struct req *r)
{
	size_t hdr = sizeof(struct fuse_in_header);

	if (!r->h)
		return false;
	if (r->h->opcode == FUSE_WRITE) {
		const struct fuse_write_in *in = r->arg;
		uint32_t poff = d->off + hdr + sizeof(*in);
		unsigned int i = shm->nr_writes;

		if (i < 8) {
			shm->write_len[i] = in->size;
			shm->write_aligned[i] = poff % PG == 0 &&
						d->len == hdr + sizeof(*in) + in->size;
			shm->write_mismatch[i] = check_pat(srv_buf(s, d->buf) + poff,
							   in->offset, in->size);
		}
		shm->nr_writes++;
		return false;	/* serve_normal() says size written */
	}
	if (r->h->opcode == FUSE_READ && r->h->nodeid == INO_FILE) {
		const struct fuse_read_in *in = r->arg;
		uint64_t fsz = tinyfs_file_size(), n = 0;
		struct fuse_out_header *oh;
		uint32_t p;
		char *b = srv_buf(s, d->buf);

		if (in->offset < fsz)
			n = fsz - in->offset < in->size ? fsz - in->offset : in->size;
		/* the payload on a page boundary, written where it is sent from */
		p = round_up_pg((uint64_t)d->off + d->len + sizeof(*oh));
		if (p + n > s->buf_size)
			return false;
		fill_pat(b + p, in->offset, n);
		oh = (void *)(b + p - sizeof(*oh));
		oh->len = sizeof(*oh) + n;
		oh->error = 0;
		oh->unique = r->h->unique;
		srv_publish(s, d->buf, p - sizeof(*oh), sizeof(*oh) + n);
		shm->nr_reads++;
		return true;
	}
	return false;
}

static void sc_alignment(void)
{
	const char *w = "alignment";
	struct srv_cfg c = { .nr_bufs = 8, .buf_size = BUF_256K, .entries = 8,
			     .hook = hook_align };
	static const struct { uint32_t off, len, at; } wr[] = {
		{ 0, 65536, 0 },		/* page-aligned user buffer */
		{ 123, 100000, 8192 + 7 },	/* unaligned buffer and offset */
		{ 0, 131072, 0 },		/* max_write, one request */
	};
	static const struct { uint32_t off, len, at; } rd[] = {
		{ 0, 65536, 0 },
		{ 77, 70000, 12345 },
		{ 0, 131072, 131072 },
	};
	unsigned int i;
	uint64_t sid;
	char *ubuf;
	pid_t srv;
	int fd, ffd;

	tinyfs_cfg.file_size = MIB;
	ubuf = mmap(NULL, 2 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = do_mount(NULL, &sid);
	if (fd < 0 || ubuf == MAP_FAILED) {
		tap_ok(false, "%s: mount", w);
		goto out;
	}
	srv = start_ring_server(fd, &c);
	close(fd);
	alarm(60);
	ffd = open(path_file, O_RDWR);
	tap_ok(ffd >= 0, "%s: open \"file\" (direct I/O)", w);
	for (i = 0; i < 3; i++) {
		ssize_t n;

		fill_pat(ubuf + wr[i].off, wr[i].at, wr[i].len);
		n = pwrite(ffd, ubuf + wr[i].off, wr[i].len, wr[i].at);
		tap_ok(n == (ssize_t)wr[i].len, "%s: pwrite of %u bytes at %u from buffer+%u (%zd)",
		       w, wr[i].len, wr[i].at, wr[i].off, n);
	}
	tap_ok(shm->nr_writes == 3, "%s: the daemon saw 3 WRITEs (%u)", w, shm->nr_writes);
	for (i = 0; i < 3 && i < shm->nr_writes; i++) {
		tap_ok(shm->write_len[i] == wr[i].len && shm->write_aligned[i],
		       "%s: WRITE %u: %u bytes in one request, payload on a page boundary of umem",
		       w, i, shm->write_len[i]);
		tap_ok(shm->write_mismatch[i] == -1,
		       "%s: WRITE %u: payload in umem is what the client wrote (first bad byte %ld)",
		       w, i, shm->write_mismatch[i]);
	}
	for (i = 0; i < 3; i++) {
		ssize_t n;
		long bad;

		memset(ubuf, 0, 2 * MIB);
		n = pread(ffd, ubuf + rd[i].off, rd[i].len, rd[i].at);
		bad = n == (ssize_t)rd[i].len ? check_pat(ubuf + rd[i].off, rd[i].at, n) : -2;
		tap_ok(bad == -1,
		       "%s: pread of %u bytes at %u: the payload taken from umem arrives intact (%zd, bad byte %ld)",
		       w, rd[i].len, rd[i].at, n, bad);
	}
	tap_ok(shm->nr_reads >= 3, "%s: READ replies were built in umem (%u)", w, shm->nr_reads);
	if (ffd >= 0)
		close(ffd);
	finish(w, srv, true);
out:
	alarm(0);
	if (ubuf != MAP_FAILED)
		munmap(ubuf, 2 * MIB);
	memset(&tinyfs_cfg, 0, sizeof(tinyfs_cfg));
}

/* ---- scenario: ioctl argument validation ---- */

static int umem_reg(int fd, uint64_t addr, uint64_t len, uint32_t bs, uint32_t flags,
		    uint64_t reserved)
{
	struct mqfuse_umem_reg reg = { .addr = addr, .len = len, .buf_size = bs,
				       .flags = flags, .reserved = reserved };

	return ioctl(fd, MQFUSE_IOC_UMEM_REG, &reg);
}

static int ring_setup(int fd, uint32_t entries, uint32_t flags, uint64_t reserved,
		      uint64_t *mmap_len)
{
	struct mqfuse_ring_setup rs = { .entries = entries, .flags = flags,
					.reserved = { reserved, 0 } };
	int ret = ioctl(fd, MQFUSE_IOC_RING_SETUP, &rs);

	if (mmap_len)
		*mmap_len = rs.mmap_len;
	return ret;
}

static int ring_enter(int fd, uint32_t min_req, uint32_t flags, uint32_t reserved,
		      struct mqfuse_ring_enter *out)
{
	struct mqfuse_ring_enter e = { .min_req = min_req, .flags = flags,
				       .reserved = reserved };
	int ret = ioctl(fd, MQFUSE_IOC_RING_ENTER, &e);

	if (out)
		*out = e;
	return ret;
}

/* mmap(2) of the device that is expected to fail: -1 (errno set) or 0 (unmapped again). */
static int try_mmap(int fd, size_t len, int flags, off_t off)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, off);

	if (p == MAP_FAILED)
		return -1;
	munmap(p, len);
	return 0;
}

static void sc_ioctl_args(void)
{
	const char *w = "ioctl_args";
	size_t len = 4 * (size_t)BUF_256K;
	struct mqfuse_ring_enter e;
	struct mqfuse_ring_ctl *ctl;
	uint64_t sid, ml = 0;
	int fd, ufd, cfd;
	char *m, *hole;
	long lck0;
	void *p;

	m = mmap(NULL, len + PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	hole = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || hole == MAP_FAILED) {
		tap_ok(false, "%s: mmap", w);
		return;
	}
	munmap(hole, len);
	lck0 = vmlck_kb(getpid());

	/* an fd not bound to a session */
	ufd = open(devpath, O_RDWR);
	tap_errno(umem_reg(ufd, (uintptr_t)m, len, BUF_256K, 0, 0), EINVAL,
		  "%s: UMEM_REG on an unbound fd: EINVAL", w);
	tap_errno(ioctl(ufd, MQFUSE_IOC_UMEM_DEREG), EINVAL,
		  "%s: UMEM_DEREG on an unbound fd: EINVAL", w);
	tap_errno(ring_setup(ufd, 4, 0, 0, NULL), EINVAL,
		  "%s: RING_SETUP on an unbound fd: EINVAL", w);
	tap_errno(ring_enter(ufd, 0, 0, 0, NULL), EINVAL,
		  "%s: RING_ENTER on an unbound fd: EINVAL", w);
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, ufd, 0);
	tap_errno(p == MAP_FAILED ? -1 : 0, ENXIO, "%s: mmap of an unbound fd: ENXIO", w);
	if (p != MAP_FAILED)
		munmap(p, PG);

	fd = do_mount(NULL, &sid);
	if (fd < 0) {
		tap_ok(false, "%s: mount", w);
		goto out;
	}
	alarm(60);
	cfd = open(devpath, O_RDWR);
	tap_succ(ioctl(cfd, MQFUSE_IOC_CLONE, &(uint32_t){ fd }), "%s: CLONE a second fd", w);

	tap_errno(ring_setup(fd, 4, 0, 0, NULL), ENXIO, "%s: RING_SETUP before UMEM_REG: ENXIO", w);
	tap_errno(ring_enter(fd, 0, 0, 0, NULL), ENXIO, "%s: RING_ENTER before setup: ENXIO", w);
	tap_errno(ioctl(fd, MQFUSE_IOC_UMEM_DEREG), ENXIO, "%s: UMEM_DEREG without umem: ENXIO", w);
	p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tap_errno(p == MAP_FAILED ? -1 : 0, ENXIO, "%s: mmap before RING_SETUP: ENXIO", w);
	if (p != MAP_FAILED)
		munmap(p, PG);

	tap_errno(umem_reg(fd, (uintptr_t)m + 64, len, BUF_256K, 0, 0), EINVAL,
		  "%s: UMEM_REG unaligned addr: EINVAL", w);
	tap_errno(umem_reg(fd, (uintptr_t)m, len, MQFUSE_UMEM_MIN_BUF - PG, 0, 0), EINVAL,
		  "%s: UMEM_REG buf_size < MQFUSE_UMEM_MIN_BUF: EINVAL", w);
	tap_errno(umem_reg(fd, (uintptr_t)m, len, BUF_256K + 512, 0, 0), EINVAL,
		  "%s: UMEM_REG buf_size not a page multiple: EINVAL", w);
	tap_errno(umem_reg(fd, (uintptr_t)m, len + PG, BUF_256K, 0, 0), EINVAL,
		  "%s: UMEM_REG len not a multiple of buf_size: EINVAL", w);
	tap_errno(umem_reg(fd, (uintptr_t)m, 0, BUF_256K, 0, 0), EINVAL,
		  "%s: UMEM_REG len 0: EINVAL", w);
	tap_errno(umem_reg(fd, (uintptr_t)m, 0, 0, 0, 0), EINVAL,
		  "%s: UMEM_REG len 0, buf_size 0: EINVAL", w);
	tap_errno(umem_reg(fd, (uintptr_t)m, len, BUF_256K, 1, 0), EINVAL,
		  "%s: UMEM_REG nonzero flags: EINVAL", w);
	tap_errno(umem_reg(fd, (uintptr_t)m, len, BUF_256K, 0, 1), EINVAL,
		  "%s: UMEM_REG nonzero reserved: EINVAL", w);
	tap_errno(umem_reg(fd, (uintptr_t)m, MQFUSE_UMEM_MAX_LEN + BUF_256K, BUF_256K, 0, 0),
		  EINVAL, "%s: UMEM_REG len > MQFUSE_UMEM_MAX_LEN: EINVAL", w);
	tap_errno(umem_reg(fd, -(uint64_t)BUF_256K, 2 * (uint64_t)BUF_256K, BUF_256K, 0, 0),
		  EFAULT, "%s: UMEM_REG addr + len wrapping: EFAULT", w);
	tap_errno(umem_reg(fd, (uintptr_t)hole, len, BUF_256K, 0, 0), EFAULT,
		  "%s: UMEM_REG of unmapped memory: EFAULT", w);
	tap_eq(vmlck_kb(getpid()), lck0, "%s: nothing stays pinned after the refusals", w);

	tap_succ(umem_reg(fd, (uintptr_t)m, len, BUF_256K, 0, 0), "%s: UMEM_REG 4 x 256 KiB", w);
	tap_errno(umem_reg(fd, (uintptr_t)m, len, BUF_256K, 0, 0), EBUSY,
		  "%s: a second UMEM_REG: EBUSY", w);
	tap_errno(ring_setup(fd, 0, 0, 0, NULL), EINVAL, "%s: RING_SETUP entries 0: EINVAL", w);
	tap_errno(ring_setup(fd, 3, 0, 0, NULL), EINVAL, "%s: RING_SETUP entries 3: EINVAL", w);
	tap_errno(ring_setup(fd, 512, 0, 0, NULL), EINVAL, "%s: RING_SETUP entries 512: EINVAL", w);
	tap_errno(ring_setup(fd, 8, 0, 0, NULL), EINVAL,
		  "%s: RING_SETUP entries 8 > 4 buffers: EINVAL", w);
	tap_errno(ring_setup(fd, 4, 1, 0, NULL), EINVAL, "%s: RING_SETUP nonzero flags: EINVAL", w);
	tap_errno(ring_setup(fd, 4, 0, 1, NULL), EINVAL,
		  "%s: RING_SETUP nonzero reserved: EINVAL", w);
	tap_errno(ring_enter(fd, 0, 0, 0, NULL), ENXIO, "%s: RING_ENTER with umem, no ring: ENXIO",
		  w);
	tap_succ(ring_setup(fd, 4, 0, 0, &ml), "%s: RING_SETUP entries 4", w);
	tap_ok(ml && ml % PG == 0 && ml >= sizeof(*ctl) + 2 * 4 * sizeof(struct mqfuse_ring_desc),
	       "%s: mmap_len %llu is whole pages holding ctl and 2 x 4 descriptors", w,
	       (unsigned long long)ml);
	tap_errno(ring_setup(fd, 4, 0, 0, NULL), EBUSY, "%s: a second RING_SETUP: EBUSY", w);

	tap_errno(try_mmap(fd, ml, MAP_PRIVATE, 0), EINVAL, "%s: mmap MAP_PRIVATE: EINVAL", w);
	tap_errno(try_mmap(fd, ml + PG, MAP_SHARED, 0), EINVAL,
		  "%s: mmap larger than mmap_len: EINVAL", w);
	tap_errno(try_mmap(fd, PG, MAP_SHARED, PG), EINVAL, "%s: mmap at a nonzero offset: EINVAL",
		  w);
	p = mmap(NULL, ml, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tap_ok(p != MAP_FAILED, "%s: mmap MAP_SHARED of mmap_len at 0", w);
	if (p != MAP_FAILED) {
		ctl = p;
		tap_ok(ctl->entries == 4 && ctl->buf_size == BUF_256K && ctl->req_off >= sizeof(*ctl) &&
		       ctl->req_off % 64 == 0 &&
		       ctl->rep_off == ctl->req_off + 4 * sizeof(struct mqfuse_ring_desc) &&
		       ctl->rep_off + 4 * sizeof(struct mqfuse_ring_desc) <= ml &&
		       !ctl->req_tail && !ctl->rep_head,
		       "%s: ctl: entries %u, buf_size %u, req_off %u, rep_off %u, indices 0", w,
		       ctl->entries, ctl->buf_size, ctl->req_off, ctl->rep_off);
	}

	tap_errno(ring_enter(fd, 2, 0, 0, NULL), EINVAL, "%s: RING_ENTER min_req 2: EINVAL", w);
	tap_errno(ring_enter(fd, 0, 2, 0, NULL), EINVAL, "%s: RING_ENTER unknown flags: EINVAL", w);
	tap_errno(ring_enter(fd, 1, MQFUSE_RING_ENTER_REPLIES_ONLY, 0, NULL), EINVAL,
		  "%s: RING_ENTER REPLIES_ONLY with min_req 1: EINVAL", w);
	/* INIT is waiting: a replies-only ENTER leaves it there */
	memset(&e, 0, sizeof(e));
	tap_ok(!ring_enter(fd, 0, MQFUSE_RING_ENTER_REPLIES_ONLY, 0, &e) && !e.requests &&
	       !e.replies && !e.bad,
	       "%s: RING_ENTER REPLIES_ONLY hands out nothing (requests %u)", w, e.requests);
	tap_errno(ring_enter(fd, 0, 0, 1, NULL), EINVAL,
		  "%s: RING_ENTER nonzero reserved: EINVAL", w);
	/* the clone has its own (absent) umem and ring */
	tap_errno(ring_enter(cfd, 0, 0, 0, NULL), ENXIO, "%s: RING_ENTER on a clone without a ring: ENXIO", w);
	tap_errno(ioctl(cfd, MQFUSE_IOC_UMEM_DEREG), ENXIO, "%s: UMEM_DEREG on the clone: ENXIO", w);

	/* the ring works: INIT is handed out into buffer 0.. */
	memset(&e, 0, sizeof(e));
	tap_succ(ring_enter(fd, 0, 0, 0, &e), "%s: RING_ENTER min_req 0", w);
	tap_ok(e.requests == 1 && !e.replies && !e.bad,
	       "%s: it hands out INIT (requests %u, replies %u, bad %u)", w, e.requests,
	       e.replies, e.bad);
	if (p != MAP_FAILED) {
		struct mqfuse_ring_desc *rq;
		struct fuse_in_header *h;

		ctl = p;
		rq = (void *)((char *)p + ctl->req_off);
		h = (void *)(m + (size_t)rq[0].buf * BUF_256K + rq[0].off);
		tap_ok(__atomic_load_n(&ctl->req_tail, __ATOMIC_ACQUIRE) == 1 &&
		       rq[0].buf < 4 && rq[0].len == h->len && h->opcode == FUSE_INIT,
		       "%s: request descriptor 0 names INIT in umem", w);
		munmap(p, ml);
	}
	tap_errno(ioctl(fd, MQFUSE_IOC_UMEM_DEREG), EBUSY,
		  "%s: UMEM_DEREG while INIT's buffer is held: EBUSY", w);
	close(cfd);
	close(fd);
	do_umount(w);
out:
	alarm(0);
	close(ufd);
	munmap(m, len + PG);
}

/* RLIMIT_MEMLOCK: without CAP_IPC_LOCK the umem counts against it. */
static void sc_rlimit(void)
{
	const char *w = "rlimit";
	size_t len = 8 * (size_t)BUF_256K;
	uint64_t sid;
	int fd, i;

	fd = do_mount(NULL, &sid);
	if (fd < 0) {
		tap_ok(false, "%s: mount", w);
		return;
	}
	alarm(60);
	for (i = 0; i < 3; i++) {
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			rlim_t lim = i == 2 ? 4 * MIB : 64 * KIB;
			struct rlimit rl = { .rlim_cur = lim, .rlim_max = lim };
			struct __user_cap_header_struct ch = { _LINUX_CAPABILITY_VERSION_3, 0 };
			struct __user_cap_data_struct cd[2];
			int cfd = open(devpath, O_RDWR), err;
			long before;
			char *m;

			m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				 -1, 0);
			if (cfd < 0 || m == MAP_FAILED || ioctl(cfd, MQFUSE_IOC_CLONE, &(uint32_t){ fd }))
				_exit(10);
			if (setrlimit(RLIMIT_MEMLOCK, &rl))
				_exit(11);
			/* bound first, then nobody: no capability left at all */
			if (i >= 1 && setuid(65534))
				_exit(12);
			if (syscall(SYS_capget, &ch, cd))
				_exit(13);
			if (i >= 1 && (cd[0].effective & (1u << CAP_IPC_LOCK)))
				_exit(14);
			before = vmlck_kb(getpid());
			err = umem_reg(cfd, (uintptr_t)m, len, BUF_256K, 0, 0) ? errno : 0;
			if (vmlck_kb(getpid()) != before + (err ? 0 : (long)(len / KIB)))
				_exit(15);
			_exit(err == ENOMEM ? 20 : err == EPERM ? 21 : err == 0 ? 22 : 23);
		}
		st = reap(pid, 30000);
		st = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (i == 0)
			tap_ok(st == 22,
			       "%s: with CAP_IPC_LOCK, RLIMIT_MEMLOCK 64 KiB does not limit UMEM_REG of 2 MiB (child %d)",
			       w, st);
		else if (i == 1)
			tap_ok(st == 20,
			       "%s: without CAP_IPC_LOCK (uid nobody), RLIMIT_MEMLOCK 64 KiB: UMEM_REG of 2 MiB gets ENOMEM (child %d)",
			       w, st);
		else
			tap_ok(st == 22,
			       "%s: without CAP_IPC_LOCK, within RLIMIT_MEMLOCK 4 MiB: UMEM_REG of 2 MiB works, VmPin counts it (child %d)",
			       w, st);
	}
	close(fd);
	do_umount(w);
	alarm(0);
}

/* ---- scenario: hostile reply descriptors ---- */

static uint64_t hostile_sid;

static bool hook_hostile(struct rsrv *s, const struct mqfuse_ring_desc *d, struct req *r)
{
	int c = shm->hostile;
	struct hostile_res *h;
	struct fuse_out_header *oh;
	bool via_write = false, fix_tail = false;
	uint32_t off, fb;
	char *b;
	size_t n;

	if (shm->phase != P_HOSTILE || !is_lookup_file(r) || c <= H_NONE || c >= H_NR)
		return false;
	shm->phase = P_NONE;
	h = &shm->h[c];
	n = srv_capture(s, r);
	off = srv_reply_off(s, d, n);
	b = srv_buf(s, d->buf);
	memcpy(b + off, s->rbuf, n);
	oh = (void *)(b + off);
	switch (c) {
	case H_IDX:
		srv_publish_raw(s, s->entries + 3, off, n, 0);
		via_write = true;
		break;
	case H_NOT_HELD:
		for (fb = 0; fb < s->entries && srv_owns(s, fb); fb++)
			;
		if (fb < s->entries)
			memcpy(srv_buf(s, fb) + off, s->rbuf, n);
		srv_publish_raw(s, fb, off, n, 0);
		via_write = true;
		break;
	case H_DOUBLE:
		srv_publish_raw(s, d->buf, off, n, 0);
		srv_publish_raw(s, d->buf, off, n, 0);
		break;
	case H_OFF:
		srv_publish_raw(s, d->buf, s->buf_size - 8, 64, 0);
		via_write = true;
		break;
	case H_LEN:
		srv_publish_raw(s, d->buf, 0, s->buf_size + PG, 0);
		via_write = true;
		break;
	case H_OFF_WRAP:
		srv_publish_raw(s, d->buf, 0xfffff000u, 0x2000, 0);
		via_write = true;
		break;
	case H_FLAGS:
		srv_publish_raw(s, d->buf, off, n, 1);
		via_write = true;
		break;
	case H_FLAGS_LEN0:
		srv_publish_raw(s, d->buf, 0, 0, 0x80000000u);
		via_write = true;
		break;
	case H_TAIL_FAR:
	case H_TAIL_BACK:
		/* the right descriptor in its slot, a wrong tail */
		s->rp[s->rep_tail & (s->entries - 1)] =
			(struct mqfuse_ring_desc){ .buf = d->buf, .off = off, .len = n };
		__atomic_store_n(&s->ctl->rep_tail,
				 c == H_TAIL_FAR ? s->rep_tail + s->entries + 1 : s->rep_tail - 1,
				 __ATOMIC_RELEASE);
		fix_tail = true;
		break;
	case H_HDR_LEN:
		oh->len = n + 8;
		srv_publish_raw(s, d->buf, off, n, 0);
		via_write = true;
		break;
	case H_UNIQUE:
		oh->unique ^= 1ULL << 40;
		srv_publish_raw(s, d->buf, off, n, 0);
		via_write = true;
		break;
	case H_ERR_POS:
		oh->len = sizeof(*oh);
		oh->error = 5;
		srv_publish_raw(s, d->buf, off, sizeof(*oh), 0);
		break;
	case H_ABORT:
		srv_publish_raw(s, s->entries + 100, 0, 16, 0);
		break;
	}
	h->e1_err = srv_enter(s, 0);
	h->e1_bad = s->last.bad;
	h->e1_replies = s->last.replies;
	if (fix_tail) {
		h->rep_head_moved = __atomic_load_n(&s->ctl->rep_head, __ATOMIC_ACQUIRE) !=
				    s->rep_tail;
		/* now the honest tail: the same descriptor is taken */
		s->rep_tail++;
		__atomic_store_n(&s->ctl->rep_tail, s->rep_tail, __ATOMIC_RELEASE);
		h->e2_err = srv_enter(s, 0);
		h->e2_bad = s->last.bad;
		h->e2_replies = s->last.replies;
	}
	if (via_write) {
		h->wr_len = n;
		h->wr = write(s->fd, s->rbuf, n) == (ssize_t)n ? 0 : -errno;
	}
	if (c == H_ABORT) {
		h->wr = sysfs_abort(hostile_sid);
		h->done = 1;
		return true;	/* the loop ends with ENODEV */
	}
	/*
	 * Probe the kernel's view of the buffer: give it back with len 0. A
	 * buffer the kernel took back with the bad descriptor is not held
	 * any more, so the return is bad; one it did not take is returned.
	 */
	srv_publish_raw(s, d->buf, 0, 0, 0);
	h->e3_err = srv_enter(s, 0);
	h->e3_bad = s->last.bad;
	h->e3_replies = s->last.replies;
	s->held[d->buf] = false;
	s->nr_held--;
	h->done = 1;
	return true;
}

static bool hostile_returns(int c)
{
	return c != H_IDX && c != H_NOT_HELD;
}

static void sc_hostile(void)
{
	const char *w = "hostile_desc";
	struct srv_cfg cfg = { .nr_bufs = 8, .buf_size = BUF_256K, .entries = 8,
			       .hook = hook_hostile };
	uint64_t sid;
	pid_t srv;
	int fd, c;

	fd = do_mount("queues=1", &sid);
	if (fd < 0) {
		tap_ok(false, "%s: mount", w);
		return;
	}
	hostile_sid = sid;
	srv = start_ring_server(fd, &cfg);
	close(fd);
	alarm(120);
	tap_ok(!app_stat(10000), "%s: the ring serves before the hostility", w);
	for (c = H_IDX; c < H_NR; c++) {
		const char *n = hostile_name[c];
		struct hostile_res *h = &shm->h[c];
		int want = c == H_ERR_POS ? EIO : c == H_ABORT ? ENOTCONN : 0;
		int got;

		shm->hostile = c;
		shm->phase = P_HOSTILE;
		got = app_stat(15000);
		wait_flag(&h->done, 1, 5000);
		if (!tap_ok(h->done, "%s: %s: the server reached it", w, n))
			continue;
		tap_ok(!h->e1_err && h->e1_bad == 1,
		       "%s: %s: counted in ring_enter.bad (err %d, bad %u, replies %u)", w, n,
		       h->e1_err, h->e1_bad, h->e1_replies);
		if (c == H_DOUBLE)
			tap_ok(h->e1_replies >= 1, "%s: %s: the first one is taken (replies %u)",
			       w, n, h->e1_replies);
		if (c == H_TAIL_FAR || c == H_TAIL_BACK) {
			tap_ok(!h->rep_head_moved, "%s: %s: the kernel takes nothing (rep_head kept)",
			       w, n);
			tap_ok(!h->e2_err && h->e2_replies >= 1 && !h->e2_bad,
			       "%s: %s: with the tail fixed the same descriptor is taken (replies %u, bad %u)",
			       w, n, h->e2_replies, h->e2_bad);
		}
		if (h->wr_len)
			tap_ok(!h->wr, "%s: %s: the request waits and is answered by write(2) (%s)",
			       w, n, strerror(-h->wr));
		if (c == H_ABORT) {
			tap_ok(!h->wr, "%s: %s: sysfs abort (%s)", w, n, strerror(-h->wr));
		} else if (hostile_returns(c)) {
			tap_ok(!h->e3_err && h->e3_bad == 1 && !h->e3_replies,
			       "%s: %s: the buffer came back with it: returning it again is bad (bad %u, replies %u)",
			       w, n, h->e3_bad, h->e3_replies);
		} else {
			tap_ok(!h->e3_err && !h->e3_bad && h->e3_replies == 1,
			       "%s: %s: the buffer stays held until returned (bad %u, replies %u)",
			       w, n, h->e3_bad, h->e3_replies);
		}
		tap_ok(got == want, "%s: %s: the client's stat %s (%s)", w, n,
		       want ? strerror(want) : "succeeds", got ? strerror(got) : "ok");
		if (c != H_ABORT)
			tap_ok(!app_stat(10000), "%s: %s: the ring serves afterwards", w, n);
	}
	tap_ok(app_stat(10000) == ENOTCONN, "%s: the aborted mount fails with ENOTCONN", w);
	finish(w, srv, true);
	alarm(0);
}

/*
 * ---- scenario: buffers smaller than 4096 + max_write, or 4096 + max_read
 * (a READ of max_pages pages must fit its reply: small_buf_read) ----
 */

static int run_small_buf(struct rsrv *s)
{
	struct mqfuse_session_info si;
	struct mqfuse_ring_desc d;
	struct req r;
	int err;

	if (srv_umem_reg(s, 8, BUF_256K, false) || srv_ring_setup(s, 8)) {
		shm->setup_err = -errno;
		return 1;
	}
	shm->ready = 1;
	/* INIT itself goes through the ring */
	err = srv_enter(s, 1);
	if (err || !srv_next(s, &d, &r))
		return 2;
	shm->sb_init_seen = r.h->opcode == FUSE_INIT;
	srv_answer(s, &d, &r);
	/* the natural next call of a serving loop: take the reply, wait for work */
	shm->sb_e2_err = srv_enter(s, 1);
	shm->sb_e2_replies = s->last.replies;
	shm->sb_e2_requests = s->last.requests;
	memset(&si, 0, sizeof(si));
	ioctl(s->fd, MQFUSE_IOC_GET_INFO, &si);
	shm->sb_max_write = si.max_write;
	shm->sb_e3_err = srv_enter(s, 1);
	/* answer what is held through the ring: the kernel must take it back */
	shm->sb_held_after = s->nr_held +
		__atomic_load_n(&s->ctl->req_tail, __ATOMIC_ACQUIRE) - s->req_head;
	if (shm->sb_held_after) {
		srv_drain(s, NULL);
		shm->sb_return_err = srv_enter(s, 0);
		shm->sb_return_replies = s->last.replies;
	}
	shm->sb_dereg = ioctl(s->fd, MQFUSE_IOC_UMEM_DEREG) ? -errno : 0;
	shm->sb_enter_nxio = srv_enter(s, 0);
	munmap(s->umem_reg, s->umem_len);
	/* buffers for 4096 + max_write: service resumes */
	shm->sb_rereg = srv_umem_reg(s, 8, MIB + PG, false);
	if (shm->sb_rereg)
		return 3;
	return srv_loop(s, hook_align);	/* checks the 1 MiB WRITE */
}

static void sc_small_buf_any(bool rd)
{
	const char *w = rd ? "small_buf_read" : "small_buf";
	struct srv_cfg c = { .run = run_small_buf };
	uint64_t sid;
	struct app a;
	char *ubuf;
	pid_t srv;
	int fd, ffd;
	ssize_t n;

	/* small_buf_read: 128 KiB writes fit, 1 MiB READ replies do not */
	tinyfs_cfg.max_write = rd ? 128 * KIB : MIB;
	tinyfs_cfg.max_pages = 256;
	tinyfs_cfg.file_size = 2 * MIB;
	ubuf = mmap(NULL, MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = do_mount(NULL, &sid);
	if (fd < 0 || ubuf == MAP_FAILED) {
		tap_ok(false, "%s: mount", w);
		goto out;
	}
	/* a client waits for INIT before the server starts */
	app_start(&a, APP_STAT);
	usleep(200000);
	srv = start_ring_server(fd, &c);
	close(fd);
	alarm(60);
	app_wait(&a, 20000);
	tap_ok(a.done && !a.ret, "%s: the waiting client's stat succeeds in the end (%d, %s)", w,
	       a.ret, strerror(a.err));
	app_kill(&a);
	tap_ok(shm->sb_init_seen, "%s: INIT handed out through the ring", w);
	tap_ok(shm->sb_max_write == tinyfs_cfg.max_write, "%s: INIT negotiated max_write %u KiB (%u)",
	       w, tinyfs_cfg.max_write / KIB, shm->sb_max_write);
	tap_ok(!shm->sb_e2_err && shm->sb_e2_replies == 1,
	       "%s: the next ENTER takes INIT's reply (err %d, replies %u, requests %u)", w,
	       shm->sb_e2_err, shm->sb_e2_replies, shm->sb_e2_requests);
	tap_ok(shm->sb_e3_err == -ENOBUFS,
	       "%s: then RING_ENTER with 256 KiB buffers, max_write %u KiB, READs of 1 MiB: ENOBUFS (%s)",
	       w, tinyfs_cfg.max_write / KIB, strerror(-shm->sb_e3_err));
	if (shm->sb_held_after)
		tap_ok(!shm->sb_return_err && shm->sb_return_replies == shm->sb_held_after,
		       "%s: the %u buffer(s) held can still be given back (err %d, replies %u)", w,
		       shm->sb_held_after, shm->sb_return_err, shm->sb_return_replies);
	else
		tap_ok(true, "%s: no request was handed out into a buffer too small for the session",
		       w);
	tap_ok(!shm->sb_dereg, "%s: UMEM_DEREG: nothing stranded (%s)", w,
	       strerror(-shm->sb_dereg));
	tap_ok(shm->sb_enter_nxio == -ENXIO, "%s: RING_ENTER without umem: ENXIO (%s)", w,
	       strerror(-shm->sb_enter_nxio));
	tap_ok(!shm->sb_rereg, "%s: UMEM_REG of 8 x (1 MiB + 4 KiB) (%s)", w,
	       strerror(-shm->sb_rereg));
	if (rd) {
		long bad;

		/* one READ of 1 MiB (max_pages), its reply in one buffer */
		ffd = open(path_file, O_RDONLY | O_DIRECT);
		memset(ubuf, 0, MIB);
		n = ffd >= 0 ? pread(ffd, ubuf, MIB, 0) : -1;
		bad = n == MIB ? check_pat(ubuf, 0, MIB) : 0;
		tap_ok(n == MIB && bad == -1 && shm->nr_reads >= 1,
		       "%s: a 1 MiB O_DIRECT read returns the file's data (%zd, first bad byte %ld, %u READs)",
		       w, n, bad, shm->nr_reads);
	} else {
		ffd = open(path_file, O_RDWR);
		fill_pat(ubuf, 0, MIB);
		n = ffd >= 0 ? pwrite(ffd, ubuf, MIB, 0) : -1;
		tap_ok(n == MIB, "%s: a 1 MiB write succeeds (%zd)", w, n);
		tap_ok(shm->nr_writes == 1 && shm->write_len[0] == MIB && shm->write_aligned[0] &&
		       shm->write_mismatch[0] == -1,
		       "%s: in one WRITE of 1 MiB, payload page aligned and intact in umem (%u writes)",
		       w, shm->nr_writes);
	}
	if (ffd >= 0)
		close(ffd);
	finish(w, srv, true);
out:
	alarm(0);
	if (ubuf != MAP_FAILED)
		munmap(ubuf, MIB);
	memset(&tinyfs_cfg, 0, sizeof(tinyfs_cfg));
}

static void sc_small_buf(void)
{
	sc_small_buf_any(false);
}

static void sc_small_buf_read(void)
{
	sc_small_buf_any(true);
}

/* ---- scenario: UMEM_DEREG ---- */

static bool hook_dereg(struct rsrv *s, const struct mqfuse_ring_desc *d, struct req *r)
{
	struct mqfuse_ring_desc nd;
	struct req lr, nr;
	static char lreq[4096];
	int err;

	if (shm->phase != P_DEREG || !is_lookup_file(r) || d->len > sizeof(lreq))
		return false;
	shm->phase = P_NONE;
	memcpy(lreq, r->h, d->len);
	lr.h = (void *)lreq;
	lr.arg = lreq + sizeof(struct fuse_in_header);
	lr.len = d->len;
	shm->dr_vmlck_held = vmlck_kb(getpid());
	shm->dr_busy = ioctl(s->fd, MQFUSE_IOC_UMEM_DEREG) ? -errno : 0;
	/* give every buffer back; the LOOKUP itself waits for write(2) */
	srv_publish(s, d->buf, 0, 0);
	/*
	 * Answer what is pending (the rest of this batch too), then ENTER to
	 * hand the returns in, until an ENTER hands out nothing new.
	 */
	do {
		while (srv_next(s, &nd, &nr))
			srv_answer_write(s, &nd, &nr);
		err = srv_enter(s, 0);
		shm->dr_rounds++;
		shm->dr_requests += s->last.requests;
		shm->dr_replies += s->last.replies;
		shm->dr_bad += s->last.bad;
	} while (!err && s->last.requests);
	shm->dr_drain_err = err;
	shm->dr_held = s->nr_held;
	shm->dr_req_head = s->req_head;
	shm->dr_req_tail = __atomic_load_n(&s->ctl->req_tail, __ATOMIC_ACQUIRE);
	shm->dr_rep_tail = s->rep_tail;
	shm->dr_rep_head = __atomic_load_n(&s->ctl->rep_head, __ATOMIC_ACQUIRE);
	shm->dr_dereg = ioctl(s->fd, MQFUSE_IOC_UMEM_DEREG) ? -errno : 0;
	shm->dr_vmlck_after = vmlck_kb(getpid());
	shm->dr_enter = srv_enter(s, 0);
	shm->dr_write = srv_capture(s, &lr);
	if (write(s->fd, s->rbuf, shm->dr_write) != shm->dr_write)
		shm->dr_write = -errno;
	if (shm->dr_dereg) {
		shm->dr_rereg = shm->dr_dereg;	/* still registered: keep serving from it */
		shm->dr_done = 1;
		return true;
	}
	munmap(s->umem_reg, s->umem_len);
	shm->dr_rereg = srv_umem_reg(s, 8, 2 * BUF_256K, false);
	shm->dr_ctl_buf_size = s->ctl->buf_size;
	shm->dr_done = 1;
	return true;
}

static void sc_dereg(void)
{
	const char *w = "dereg";
	struct srv_cfg c = { .nr_bufs = 8, .buf_size = BUF_256K, .entries = 8,
			     .hook = hook_dereg };
	long long before;
	uint64_t sid;
	pid_t srv;
	int fd;

	fd = do_mount(NULL, &sid);
	if (fd < 0) {
		tap_ok(false, "%s: mount", w);
		return;
	}
	srv = start_ring_server(fd, &c);
	close(fd);
	alarm(60);
	tap_ok(!app_stat(10000), "%s: the ring serves", w);
	shm->phase = P_DEREG;
	tap_ok(!app_stat(10000), "%s: the LOOKUP answered by write(2) around the DEREG succeeds",
	       w);
	wait_flag(&shm->dr_done, 1, 5000);
	tap_ok(shm->dr_busy == -EBUSY, "%s: UMEM_DEREG while a buffer is held: EBUSY (%s)", w,
	       strerror(-shm->dr_busy));
	tap_ok(!shm->dr_drain_err, "%s: RING_ENTER takes the buffers back (%s)", w,
	       strerror(-shm->dr_drain_err));
	if (!tap_ok(!shm->dr_dereg, "%s: UMEM_DEREG with every buffer returned: 0 (%s)", w,
		    strerror(-shm->dr_dereg)))
		tap_diag("  %u ENTERs: requests %u, replies %u, bad %u; held %u; req %u/%u, rep %u/%u",
			 shm->dr_rounds, shm->dr_requests, shm->dr_replies, shm->dr_bad,
			 shm->dr_held, shm->dr_req_head, shm->dr_req_tail, shm->dr_rep_head,
			 shm->dr_rep_tail);
	tap_ok(shm->dr_vmlck_held - shm->dr_vmlck_after == 2048,
	       "%s: VmPin drops by 2 MiB at UMEM_DEREG (%ld -> %ld kB)", w, shm->dr_vmlck_held,
	       shm->dr_vmlck_after);
	tap_ok(shm->dr_enter == -ENXIO, "%s: RING_ENTER after UMEM_DEREG: ENXIO (%s)", w,
	       strerror(-shm->dr_enter));
	tap_ok(shm->dr_write > 0, "%s: write(2) still answers (%ld)", w, shm->dr_write);
	tap_ok(!shm->dr_rereg && shm->dr_ctl_buf_size == 2 * BUF_256K,
	       "%s: a new UMEM_REG (8 x 512 KiB) works, ctl->buf_size follows (%u)", w,
	       shm->dr_ctl_buf_size);
	before = queue_stat(sid, "ring_requests");
	tap_ok(!client_ops(w, false), "%s: service resumes over the new umem", w);
	tap_ok(queue_stat(sid, "ring_requests") > before, "%s: through the ring (%lld -> %lld)",
	       w, before, queue_stat(sid, "ring_requests"));
	finish(w, srv, true);
	alarm(0);
}

/* ---- scenario: the daemon munmaps its umem ---- */

static bool hook_munmap(struct rsrv *s, const struct mqfuse_ring_desc *d, struct req *r)
{
	if (shm->phase == P_MUNMAP && is_lookup_file(r)) {
		shm->phase = P_NONE;
		if (s->memfd >= 0) {
			/* a second mapping of the same pages: still readable */
			char *alias = mmap(NULL, s->umem_len, PROT_READ | PROT_WRITE, MAP_SHARED,
					   s->memfd, 0);

			if (alias == MAP_FAILED)
				return false;
			munmap(s->umem_reg, s->umem_len);
			s->umem = alias;
			r->h = (void *)(srv_buf(s, d->buf) + d->off);
			r->arg = r->h + 1;
		} else {
			static char copy[4096];

			if (d->len > sizeof(copy))
				return false;
			memcpy(copy, r->h, d->len);
			munmap(s->umem_reg, s->umem_len);
			/* fresh zeroed memory where the umem was */
			if (mmap(s->umem_reg, s->umem_len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
				_exit(5);
			r->h = (void *)copy;
			r->arg = copy + sizeof(struct fuse_in_header);
			s->blind = true;
		}
		shm->mu_write_err = srv_answer_write(s, d, r);
		shm->mu_written++;
		shm->mu_done = 1;
		return true;
	}
	if (!shm->mu_done)
		return false;
	shm->mu_after++;
	if (s->blind) {
		/* the kernel wrote the request into the pinned pages, not here */
		char *b = srv_buf(s, d->buf);
		uint32_t i;

		for (i = 0; i < s->buf_size; i++)
			if (b[i]) {
				shm->mu_new_mapping_dirty++;
				break;
			}
		srv_publish(s, d->buf, 0, 0);
		return true;
	}
	/* READs through the ring (pinned pages, seen through the alias), the rest by write(2) */
	if (r->h->opcode == FUSE_READ) {
		shm->mu_ring++;
		return false;
	}
	shm->mu_write_err = srv_answer_write(s, d, r);
	shm->mu_written++;
	return true;
}

static void sc_munmap(bool memfd)
{
	const char *w = memfd ? "munmap_umem_memfd" : "munmap_umem_anon";
	struct srv_cfg c = { .nr_bufs = 8, .buf_size = BUF_256K, .entries = 8, .memfd = memfd,
			     .hook = hook_munmap };
	struct app a;
	uint64_t sid;
	long lck;
	pid_t srv;
	int fd;

	fd = do_mount(NULL, &sid);
	if (fd < 0) {
		tap_ok(false, "%s: mount", w);
		return;
	}
	srv = start_ring_server(fd, &c);
	close(fd);
	alarm(60);
	tap_ok(!app_stat(10000), "%s: the ring serves", w);
	shm->phase = P_MUNMAP;
	if (memfd)
		tap_ok(!app_stat(10000),
		       "%s: munmap of the registered umem, requests answered by write(2)", w);
	else
		app_start(&a, APP_STAT);
	tap_ok(wait_flag(&shm->mu_done, 1, 10000), "%s: the server unmapped its umem", w);
	tap_ok(!shm->mu_write_err, "%s: the request in hand answered by write(2) (%s)", w,
	       strerror(-shm->mu_write_err));
	lck = vmlck_kb(srv);
	tap_ok(lck >= 2048, "%s: the pages stay pinned and counted (VmPin %ld kB)", w, lck);
	if (memfd) {
		tap_ok(!client_ops(w, false),
		       "%s: requests still come into the pinned pages, seen through another mapping",
		       w);
		tap_ok(shm->mu_after > 0 && shm->mu_written > 1,
		       "%s: %u requests after the munmap, %u answered by write(2)", w, shm->mu_after,
		       shm->mu_written);
		tap_ok(shm->mu_ring > 0, "%s: READ replies still taken from the pinned pages (%u)", w,
		       shm->mu_ring);
	} else {
		/* the stat's next request (GETATTR) comes blind */
		wait_flag((volatile int *)&shm->mu_after, 1, 10000);
		tap_ok(shm->mu_after >= 1, "%s: requests are still handed out (%u)", w,
		       shm->mu_after);
		tap_ok(!shm->mu_new_mapping_dirty,
		       "%s: the kernel writes them into the pinned pages, not the new mapping", w);
		tap_ok(!app_wait(&a, 500), "%s: the unanswerable stat waits", w);
		tap_ok(!sysfs_abort(sid), "%s: sysfs abort", w);
		app_wait(&a, 10000);
		tap_ok(a.done && a.ret == -1 && a.err == ENOTCONN,
		       "%s: the stat ends with ENOTCONN (%d, %s)", w, a.ret, strerror(a.err));
		app_kill(&a);
	}
	finish(w, srv, true);
	alarm(0);
}

/* ---- scenario: a daemon that stops calling ENTER ---- */

static bool hook_hold(struct rsrv *s, const struct mqfuse_ring_desc *d, struct req *r)
{
	if (shm->phase == P_HOLD && is_lookup_file(r) && !s->hold) {
		s->hold = true;
		s->hold_d = *d;
		shm->flag = 1;
		return true;
	}
	if (shm->phase == P_KILLME && is_lookup_file(r)) {
		shm->flag = 1;
		for (;;)
			pause();
	}
	return false;
}

static void sc_stalled(void)
{
	const char *w = "stalled";
	struct srv_cfg c = { .nr_bufs = 8, .buf_size = BUF_256K, .entries = 8,
			     .hook = hook_hold };
	long long t0;
	uint64_t sid;
	struct app a;
	pid_t srv;
	int fd, i;

	fd = do_mount(NULL, &sid);
	if (fd < 0) {
		tap_ok(false, "%s: mount", w);
		return;
	}
	srv = start_ring_server(fd, &c);
	close(fd);
	alarm(90);
	tap_ok(!app_stat(10000), "%s: the ring serves", w);

	/* a request held in a buffer: its waiter is killable, the late answer is no bad reply */
	shm->flag = 0;
	shm->phase = P_HOLD;
	app_start(&a, APP_STAT);
	wait_flag(&shm->flag, 1, 10000);
	tap_ok(!app_wait(&a, 500), "%s: stat waits while the daemon holds its LOOKUP", w);
	t0 = now_ms();
	kill(a.pid, SIGKILL);
	app_wait(&a, 5000);
	tap_ok(a.done && a.t_end - t0 < 5000, "%s: SIGKILL ends it (%lld ms)", w,
	       a.done ? a.t_end - t0 : -1);
	app_kill(&a);
	shm->phase = P_RELEASE;
	app_stat(10000);	/* wakes the server, which answers the held one first */
	wait_flag(&shm->rel_done, 1, 5000);
	tap_ok(shm->rel_done && !shm->rel_err && shm->rel_replies >= 1 && !shm->rel_bad,
	       "%s: the answer to the abandoned request is taken, not bad (replies %u, bad %u)", w,
	       shm->rel_replies, shm->rel_bad);

	/*
	 * A signal ends a sleeping ENTER that did nothing with EINTR; one
	 * that took replies before it slept returns 0 and their count, and
	 * the next one sleeps with nothing done.
	 */
	tap_ok(in_ioctl(srv, 5000), "%s: the idle daemon sleeps in RING_ENTER", w);
	for (i = 0; i < 10 && !shm->eintr && in_ioctl(srv, 5000); i++) {
		kill(srv, SIGUSR1);
		usleep(200000);
	}
	tap_ok(shm->eintr == 1, "%s: SIGUSR1 ends it with EINTR (%u, after %d signals)", w,
	       shm->eintr, i);

	/* the daemon stops calling ENTER */
	shm->flag = 0;
	shm->phase = P_STALL;
	for (i = 0; i < 50 && !wait_flag(&shm->flag, 1, 100); i++)
		kill(srv, SIGUSR1);
	tap_ok(shm->flag == 1, "%s: the daemon stopped calling RING_ENTER", w);
	app_start(&a, APP_STAT);
	tap_ok(!app_wait(&a, 1000), "%s: stat blocks", w);
	t0 = now_ms();
	kill(a.pid, SIGKILL);
	app_wait(&a, 5000);
	tap_ok(a.done && a.t_end - t0 < 5000, "%s: and is killable (%lld ms)", w,
	       a.done ? a.t_end - t0 : -1);
	app_kill(&a);
	app_start(&a, APP_STAT);
	tap_ok(!app_wait(&a, 500), "%s: another stat blocks", w);
	tap_ok(!sysfs_abort(sid), "%s: sysfs abort", w);
	app_wait(&a, 5000);
	tap_ok(a.done && a.ret == -1 && a.err == ENOTCONN, "%s: it ends with ENOTCONN (%d, %s)",
	       w, a.ret, strerror(a.err));
	app_kill(&a);
	shm->stall_end = 1;
	tap_ok(app_stat(5000) == ENOTCONN, "%s: new requests fail ENOTCONN", w);
	finish(w, srv, true);
	tap_ok(shm->last_err == -ENODEV, "%s: the daemon's next RING_ENTER: ENODEV (%s)", w,
	       strerror(-shm->last_err));
	alarm(0);
}

/* ---- scenario: a daemon with a worker thread ---- */

static struct {
	struct rsrv *s;
	struct mqfuse_ring_desc d;	/* P_WORKER: the request handed over */
	volatile int handed;
} worker;

/* P_WORKER: the main thread hands the LOOKUP over and goes back to ENTER. */
static bool hook_worker(struct rsrv *s, const struct mqfuse_ring_desc *d, struct req *r)
{
	if (shm->phase != P_WORKER || !is_lookup_file(r))
		return false;
	shm->phase = P_NONE;
	worker.d = *d;
	__atomic_store_n(&worker.handed, 1, __ATOMIC_RELEASE);
	(void)s;
	return true;
}

static void *worker_main(void *arg)
{
	struct rsrv *s = arg;
	struct mqfuse_ring_enter e;
	struct req r;
	long long t0;

	(void)arg;
	/* 1: answer what the main thread handed over, hand it in with our own ENTER */
	while (!__atomic_load_n(&worker.handed, __ATOMIC_ACQUIRE))
		usleep(5000);
	usleep(300000);	/* the main thread sleeps in RING_ENTER(min_req 1) by now */
	r.h = (void *)(srv_buf(s, worker.d.buf) + worker.d.off);
	r.arg = r.h + 1;
	r.len = worker.d.len;
	srv_answer(s, &worker.d, &r);
	/*
	 * Replies only: a request this ENTER handed out (the client's next,
	 * sent as soon as our reply wakes it) would be ours to serve, and the
	 * main thread, asleep in its own ENTER, would never see it.
	 */
	memset(&e, 0, sizeof(e));
	e.flags = MQFUSE_RING_ENTER_REPLIES_ONLY;
	t0 = now_ms();
	shm->wk_err = ioctl(s->fd, MQFUSE_IOC_RING_ENTER, &e) ? -errno : 0;
	shm->wk_ms = now_ms() - t0;
	shm->wk_replies = e.replies;
	shm->wk_requests = e.requests;
	shm->wk_done = 1;

	/* 2: ENTER and UMEM_DEREG/REG from here while the main thread sleeps */
	while (shm->phase != P_THREADS)
		usleep(5000);
	usleep(300000);
	memset(&e, 0, sizeof(e));
	t0 = now_ms();
	shm->th_enter_err = ioctl(s->fd, MQFUSE_IOC_RING_ENTER, &e) ? -errno : 0;
	shm->th_enter_ms = now_ms() - t0;
	shm->th_enter_replies = e.replies;
	t0 = now_ms();
	shm->th_dereg_err = ioctl(s->fd, MQFUSE_IOC_UMEM_DEREG) ? -errno : 0;
	shm->th_dereg_ms = now_ms() - t0;
	if (!shm->th_dereg_err) {
		munmap(s->umem_reg, s->umem_len);
		shm->th_rereg_err = srv_umem_reg(s, 8, 2 * BUF_256K, false);
	}
	shm->phase = P_NONE;
	shm->th_done = 1;
	return NULL;
}

static int run_threads(struct rsrv *s)
{
	pthread_t t;

	if (srv_umem_reg(s, 8, BUF_256K, false) || srv_ring_setup(s, 8)) {
		shm->setup_err = -errno;
		return 1;
	}
	worker.s = s;
	worker.handed = 0;
	if (pthread_create(&t, NULL, worker_main, s))
		return 2;
	shm->ready = 1;
	return srv_loop(s, hook_worker);
}

static void sc_threads(void)
{
	const char *w = "threads";
	struct srv_cfg c = { .run = run_threads };
	long long before;
	uint64_t sid;
	pid_t srv;
	int fd, err;

	fd = do_mount(NULL, &sid);
	if (fd < 0) {
		tap_ok(false, "%s: mount", w);
		return;
	}
	srv = start_ring_server(fd, &c);
	close(fd);
	alarm(90);
	tap_ok(!app_stat(10000), "%s: the ring serves", w);
	shm->phase = P_WORKER;
	err = app_stat(10000);
	tap_ok(wait_flag(&shm->wk_done, 1, 5000) && !shm->wk_err && shm->wk_replies >= 1 &&
	       !shm->wk_requests,
	       "%s: a worker hands its reply in with RING_ENTER (replies only) while the main thread sleeps in one (err %d, replies %u, requests %u, %lld ms)",
	       w, shm->wk_err, shm->wk_replies, shm->wk_requests, shm->wk_ms);
	tap_ok(!err, "%s: the client's stat, answered by the worker, succeeds (%s)", w,
	       strerror(err));
	shm->phase = P_THREADS;
	if (!wait_flag(&shm->th_done, 1, 5000))
		app_stat(10000);	/* wake the main thread: the worker's calls return */
	wait_flag(&shm->th_done, 1, 10000);
	tap_ok(shm->th_done && !shm->th_enter_err && shm->th_enter_ms < 2000,
	       "%s: the worker's RING_ENTER(min_req 0) returns at once (err %d, %lld ms)", w,
	       shm->th_enter_err, shm->th_enter_ms);
	tap_ok(shm->th_done && !shm->th_dereg_err && shm->th_dereg_ms < 2000,
	       "%s: the worker's UMEM_DEREG returns at once (err %d, %lld ms)", w,
	       shm->th_dereg_err, shm->th_dereg_ms);
	tap_ok(shm->th_done && !shm->th_rereg_err, "%s: and UMEM_REG of new buffers (err %d)", w,
	       shm->th_rereg_err);
	before = queue_stat(sid, "ring_requests");
	tap_ok(!client_ops(w, false),
	       "%s: the main thread's sleeping RING_ENTER serves from the new umem", w);
	tap_ok(queue_stat(sid, "ring_requests") > before, "%s: through the ring (%lld -> %lld)",
	       w, before, queue_stat(sid, "ring_requests"));
	finish(w, srv, true);
	alarm(0);
}

/* ---- scenario: random misdeeds ---- */

static uint64_t rng;

static uint32_t rnd(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (rng * 0x2545F4914F6CDD1DULL) >> 32;
}

/* A buffer index the daemon does not hold (or one past the ring). */
static uint32_t fuzz_foreign_buf(struct rsrv *s)
{
	uint32_t b = rnd() % (s->entries + 4);

	return srv_owns(s, b) ? s->entries + 1 : b;
}

static bool hook_fuzz(struct rsrv *s, const struct mqfuse_ring_desc *d, struct req *r)
{
	struct mqfuse_ring_ctl saved;
	uint32_t off, n2, scribbled_tail = 0;
	unsigned int kind;
	size_t n;
	char *b;

	if (shm->phase != P_FUZZ || !r->h || r->h->opcode == FUSE_INIT ||
	    rnd() % 100 >= shm->fuzz_pct)
		return false;
	shm->fuzzed++;
	n = srv_capture(s, r);
	off = srv_reply_off(s, d, n);
	b = srv_buf(s, d->buf);
	memcpy(b + off, s->rbuf, n);
	kind = rnd() % 8;
	shm->fuzz_kinds[kind]++;
	switch (kind) {
	case 0:	/* a random descriptor for this buffer */
		srv_publish_raw(s, d->buf, rnd() % (s->buf_size + 8192),
				rnd() % 4 ? rnd() % 512 : rnd() % (s->buf_size + 8192),
				rnd() % 8 ? 0 : rnd());
		break;
	case 1:	/* a random descriptor for a buffer not ours */
		srv_publish_raw(s, fuzz_foreign_buf(s), rnd() % s->buf_size, rnd() % 256, 0);
		break;
	case 2:	/* flipped bytes in the reply */
		for (n2 = rnd() % 4 + 1; n && n2; n2--)
			b[off + rnd() % n] ^= 1 << (rnd() % 8);
		srv_publish_raw(s, d->buf, off, n, 0);
		break;
	case 3:	/* a length that is not the reply's */
		srv_publish_raw(s, d->buf, off, n ? rnd() % (n + 64) : rnd() % 64, 0);
		break;
	case 4:	/* scribble over what the kernel owns in ctl, then answer */
		saved = *s->ctl;
		s->ctl->req_tail = scribbled_tail = rnd();
		s->ctl->rep_head = rnd();
		s->ctl->entries = rnd();
		s->ctl->buf_size = rnd();
		s->ctl->req_off = rnd();
		s->ctl->rep_off = rnd();
		s->ctl->kflags = rnd();
		srv_publish_raw(s, d->buf, off, n, 0);
		break;
	case 5:	/* a bogus tail for one ENTER */
		__atomic_store_n(&s->ctl->rep_tail, s->rep_tail + rnd() % 512 - 256,
				 __ATOMIC_RELEASE);
		srv_enter(s, 0);
		shm->fuzz_bad += s->last.bad;
		__atomic_store_n(&s->ctl->rep_tail, s->rep_tail, __ATOMIC_RELEASE);
		srv_publish_raw(s, d->buf, off, n, 0);
		break;
	case 6:	/* the same reply twice */
		srv_publish_raw(s, d->buf, off, n, 0);
		srv_publish_raw(s, d->buf, off, n, 0);
		break;
	case 7:	/* random garbage as the reply */
		for (n2 = 0; n2 < 64; n2++)
			b[off + n2] = rnd();
		srv_publish_raw(s, d->buf, off, rnd() % 64 + 16, 0);
		break;
	}
	/*
	 * Whatever the kernel made of it, this buffer is free after a len 0
	 * return right behind it (bad if the misdeed gave it back already):
	 * the daemon's view of what it holds stays the kernel's.
	 */
	srv_publish_raw(s, d->buf, 0, 0, 0);
	s->held[d->buf] = false;
	s->nr_held--;
	if (!srv_enter(s, 0))
		shm->fuzz_bad += s->last.bad;
	if (kind == 4) {
		/* the kernel's own copies decide; put back what the daemon reads */
		if (s->ctl->req_tail == scribbled_tail)
			s->ctl->req_tail = saved.req_tail;
		s->ctl->entries = saved.entries;
		s->ctl->buf_size = saved.buf_size;
		s->ctl->req_off = saved.req_off;
		s->ctl->rep_off = saved.rep_off;
		s->ctl->kflags = 0;
	}
	/*
	 * Mostly the request gets its right answer after all (or ENOENT).
	 * Always a FLUSH: close(2) waits for it uninterruptibly without
	 * recovery= (as on /dev/fuse), and a killed client would sit in D
	 * state until the abort, long enough for a hung-task report.
	 */
	if (n && (rnd() % 16 || r->h->opcode == FUSE_FLUSH))
		shm->fuzz_writes += write(s->fd, s->rbuf, n) == (ssize_t)n;
	return true;
}

static pid_t fuzz_client(unsigned int i, long long end)
{
	pid_t pid = fork();

	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm((end - now_ms()) / 1000 + 60);
		/* errors are fine; a request nobody answers waits for the abort */
		while (now_ms() < end) {
			client_ops("fuzz_desc", false);
			shm->kid_rounds[i]++;
		}
		_exit(0);
	}
	return pid;
}

static void sc_fuzz(void)
{
	const char *w = "fuzz_desc";
	struct srv_cfg c = { .nr_bufs = 8, .buf_size = BUF_256K, .entries = 8,
			     .hook = hook_fuzz };
	const char *e = getenv("MQ_FUZZ_SECONDS");
	unsigned int secs = e ? atoi(e) : 15, i, nkinds = 0;
	const char *se = getenv("MQ_FUZZ_SEED");
	long long end, t0, seen_at[3];
	unsigned int seen[3], respawned = 0;
	pid_t srv, kids[3];
	int fd, done = 0, st;
	uint64_t sid;

	rng = se ? strtoull(se, NULL, 0) : ((uint64_t)time(NULL) << 20) ^ getpid();
	if (!rng)
		rng = 1;
	shm->fuzz_seed = rng;
	shm->fuzz_pct = 30;
	server_alarm = secs + 120;
	tap_diag("%s: seed %llu (MQ_FUZZ_SEED), %u s (MQ_FUZZ_SECONDS)", w,
		 (unsigned long long)rng, secs);
	fd = do_mount("queues=2", &sid);
	if (fd < 0) {
		tap_ok(false, "%s: mount", w);
		return;
	}
	srv = start_ring_server(fd, &c);
	close(fd);
	alarm(secs + 90);
	tap_ok(!app_stat(10000), "%s: the ring serves", w);
	shm->phase = P_FUZZ;
	end = now_ms() + secs * 1000LL;
	for (i = 0; i < 3; i++) {
		kids[i] = fuzz_client(i, end);
		seen[i] = 0;
		seen_at[i] = now_ms();
	}
	while (now_ms() < end) {
		usleep(100000);
		/* a client stuck on a request nobody answers: kill it, start another */
		for (i = 0; i < 3; i++) {
			if (shm->kid_rounds[i] != seen[i]) {
				seen[i] = shm->kid_rounds[i];
				seen_at[i] = now_ms();
			} else if (now_ms() - seen_at[i] > 2000 && now_ms() < end - 1000) {
				kill(kids[i], SIGKILL);
				reap(kids[i], 10000);
				kids[i] = fuzz_client(i, end);
				seen_at[i] = now_ms();
				respawned++;
			}
		}
	}
	tap_ok(!sysfs_abort(sid), "%s: sysfs abort after %u s", w, secs);
	t0 = now_ms();
	for (i = 0; i < 3; i++) {
		st = reap(kids[i], 15000);
		done += st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st);
	}
	tap_ok(done == 3, "%s: every client ends after the abort (%d of 3, %lld ms)", w, done,
	       now_ms() - t0);
	for (i = 0; i < 8; i++)
		nkinds += shm->fuzz_kinds[i] > 0;
	tap_ok(shm->fuzzed > 20 && nkinds == 8,
	       "%s: %llu misdeeds of %u kinds among %llu requests (%u stuck clients replaced)",
	       w, shm->fuzzed, nkinds, shm->requests, respawned);
	tap_ok(shm->fuzz_bad > 0, "%s: %llu reported in ring_enter.bad, %llu late answers by write(2) taken",
	       w, shm->fuzz_bad, shm->fuzz_writes);
	do_umount(w);
	st = reap(srv, 10000);
	tap_ok(st >= 0 && WIFEXITED(st) && !WEXITSTATUS(st),
	       "%s: the server ends with the session (%#x, last ENTER %d)", w, st, shm->last_err);
	tap_ok(!shm->violations, "%s: every request descriptor keeps the contract", w);
	if (shm->violations)
		tap_diag("  %u violations, last: %s", shm->violations, shm->violation);
	server_alarm = 150;
	alarm(0);
}

/* ---- scenario: nothing stays pinned ---- */

static void sc_vmlck(void)
{
	const char *w = "vmlck";
	size_t len = 8 * (size_t)BUF_256K;
	struct mqfuse_ring_enter e;
	long l0, l1, l2, l3, l4, l5;
	uint64_t sid, ml;
	char *m;
	void *p;
	int fd;

	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fd = do_mount(NULL, &sid);
	if (fd < 0 || m == MAP_FAILED) {
		tap_ok(false, "%s: mount", w);
		return;
	}
	alarm(60);
	l0 = vmlck_kb(getpid());
	tap_succ(umem_reg(fd, (uintptr_t)m, len, BUF_256K, 0, 0), "%s: UMEM_REG 2 MiB", w);
	l1 = vmlck_kb(getpid());
	tap_ok(l1 - l0 == (long)(len / KIB), "%s: VmPin grows by 2048 kB (%ld -> %ld)", w, l0, l1);
	tap_succ(ioctl(fd, MQFUSE_IOC_UMEM_DEREG), "%s: UMEM_DEREG", w);
	l2 = vmlck_kb(getpid());
	tap_ok(l2 == l0, "%s: VmPin back after UMEM_DEREG (%ld)", w, l2);
	tap_succ(umem_reg(fd, (uintptr_t)m, len, BUF_256K, 0, 0), "%s: UMEM_REG again", w);
	tap_succ(ring_setup(fd, 8, 0, 0, &ml), "%s: RING_SETUP", w);
	p = mmap(NULL, ml, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memset(&e, 0, sizeof(e));
	tap_ok(!ring_enter(fd, 0, 0, 0, &e) && e.requests == 1,
	       "%s: INIT handed out: a buffer is held", w);
	tap_errno(ioctl(fd, MQFUSE_IOC_UMEM_DEREG), EBUSY, "%s: UMEM_DEREG: EBUSY", w);
	l3 = vmlck_kb(getpid());
	close(fd);
	l4 = vmlck_kb(getpid());
	tap_ok(l3 - l0 == (long)(len / KIB) && l4 == l3,
	       "%s: the ring mapping keeps the fd open: still pinned after close (%ld)", w, l4);
	if (p != MAP_FAILED)
		munmap(p, ml);
	l5 = vmlck_kb(getpid());
	tap_ok(l5 == l0, "%s: VmPin back after the last reference (munmap of the ring): %ld", w,
	       l5);
	do_umount(w);
	munmap(m, len);
	alarm(0);
}

/* ---- scenario: the server is killed holding requests ---- */

static int read_req(int fd, char *buf, struct req *r, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return -ETIMEDOUT;
	n = read(fd, buf, TINYFS_BUFSZ);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(struct fuse_in_header))
		return -EPROTO;
	r->h = (void *)buf;
	r->arg = buf + sizeof(struct fuse_in_header);
	r->len = n;
	return 0;
}

static void sc_kill(bool recovery)
{
	const char *w = recovery ? "kill_recovery" : "kill";
	struct srv_cfg c = { .nr_bufs = 8, .buf_size = BUF_256K, .entries = 8,
			     .hook = hook_hold };
	char st[64] = "", t[64] = "";
	long long t0;
	uint64_t sid;
	struct app a;
	pid_t srv, srv2 = -1;
	int fd;

	fd = do_mount(recovery ? "queues=1,recovery=5" : "queues=1", &sid);
	if (fd < 0) {
		tap_ok(false, "%s: mount", w);
		return;
	}
	srv = start_ring_server(fd, &c);
	close(fd);
	alarm(90);
	tap_ok(!app_stat(10000), "%s: the ring serves", w);
	shm->flag = 0;
	shm->phase = P_KILLME;
	app_start(&a, APP_STAT);
	tap_ok(wait_flag(&shm->flag, 1, 10000), "%s: the server holds the LOOKUP in a buffer", w);
	t0 = now_ms();
	kill(srv, SIGKILL);
	reap(srv, 10000);
	if (!recovery) {
		app_wait(&a, 5000);
		tap_ok(a.done && a.ret == -1 && a.err == ENOTCONN,
		       "%s: the client gets ENOTCONN (%d, %s)", w, a.ret, strerror(a.err));
		tap_ok(a.done && a.t_end - t0 < 5000, "%s: promptly (%lld ms)", w,
		       a.done ? a.t_end - t0 : -1);
		app_kill(&a);
		tap_ok(app_stat(5000) == ENOTCONN, "%s: the mount fails with ENOTCONN", w);
	} else {
		struct mqfuse_attach at = { .session_id = sid, .fd = -1,
					    .flags = MQFUSE_ATTACH_RESTART };
		char *buf = malloc(TINYFS_BUFSZ);
		bool replay = false;
		struct req r;
		int fd2, err = 0;

		usleep(200000);
		tap_ok(!sysfs_read(sid, "state", st, sizeof(st)) && !strcmp(st, "orphaned"),
		       "%s: the session is orphaned (%s)", w, st);
		tap_ok(!app_wait(&a, 300), "%s: the client keeps waiting", w);
		fd2 = open(devpath, O_RDWR);
		tap_succ(ioctl(fd2, MQFUSE_IOC_ATTACH, &at), "%s: a plain server attaches", w);
		while (!replay && buf && !(err = read_req(fd2, buf, &r, 5000))) {
			if (is_lookup_file(&r) && (r.h->unique & MQFUSE_UNIQUE_REPLAY))
				replay = true;
			serve_normal(fd2, &r);
		}
		tap_ok(replay, "%s: it reads the held LOOKUP again with MQFUSE_UNIQUE_REPLAY (%s)",
		       w, strerror(-err));
		srv2 = start_plain_server(fd2);
		close(fd2);
		app_wait(&a, 5000);
		tap_ok(a.done && !a.ret, "%s: and the client's stat succeeds (%d, %s)", w, a.ret,
		       strerror(a.err));
		app_kill(&a);
		tap_ok(!sysfs_read(sid, "replayed", st, sizeof(st)) && atoi(st) >= 1,
		       "%s: sysfs replayed %s", w, st);
		tap_ok(!sysfs_read(sid, "transport", t, sizeof(t)) && !strcmp(t, "dev"),
		       "%s: transport is \"dev\" again (%s)", w, t);
		free(buf);
		tap_ok(!client_ops(w, false), "%s: the plain server serves", w);
	}
	do_umount(w);
	reap(srv2, 10000);
	alarm(0);
}

/* ---- main ---- */

static void sc_munmap_memfd(void)
{
	sc_munmap(true);
}

static void sc_munmap_anon(void)
{
	sc_munmap(false);
}

static void sc_kill_plain(void)
{
	sc_kill(false);
}

static void sc_kill_recovery(void)
{
	sc_kill(true);
}

static const struct {
	const char *name;
	void (*fn)(void);
} scenarios[] = {
	{ "normal", sc_normal },
	{ "transport_dev", sc_transport_dev },
	{ "alignment", sc_alignment },
	{ "ioctl_args", sc_ioctl_args },
	{ "rlimit", sc_rlimit },
	{ "hostile_desc", sc_hostile },
	{ "small_buf", sc_small_buf },
	{ "small_buf_read", sc_small_buf_read },
	{ "dereg", sc_dereg },
	{ "munmap_umem_memfd", sc_munmap_memfd },
	{ "munmap_umem_anon", sc_munmap_anon },
	{ "stalled", sc_stalled },
	{ "threads", sc_threads },
	{ "fuzz_desc", sc_fuzz },
	{ "vmlck", sc_vmlck },
	{ "kill", sc_kill_plain },
	{ "kill_recovery", sc_kill_recovery },
};
#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static void on_alarm(int sig)
{
	(void)sig;
	printf("not ok - ring_test: a scenario hung (alarm)\n");
	fflush(stdout);
	umount2(mnt, MNT_DETACH);
	_exit(3);
}

int main(int argc, char **argv)
{
	unsigned int i;
	int opt, k;

	while ((opt = getopt(argc, argv, "t:d:m:")) != -1) {
		switch (opt) {
		case 't':
			fstype = optarg;
			break;
		case 'd':
			devpath = optarg;
			break;
		case 'm':
			mnt = optarg;
			break;
		default:
			fprintf(stderr, "usage: ring_test [-t FSTYPE] [-d DEV] [-m MNT] [SCENARIO...|list]\n");
			return 2;
		}
	}
	if (optind < argc && !strcmp(argv[optind], "list")) {
		for (i = 0; i < NR_SCENARIOS; i++)
			printf("%s\n", scenarios[i].name);
		return 0;
	}
	snprintf(path_file, sizeof(path_file), "%s/file", mnt);
	snprintf(path_link, sizeof(path_link), "%s/link", mnt);
	tap_init(0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		perror("ring_test: mmap");
		return 1;
	}
	for (k = optind; k < argc; k++) {
		for (i = 0; i < NR_SCENARIOS; i++)
			if (!strcmp(argv[k], scenarios[i].name))
				break;
		if (i == NR_SCENARIOS) {
			fprintf(stderr, "ring_test: unknown scenario %s\n", argv[k]);
			return 2;
		}
	}
	for (i = 0; i < NR_SCENARIOS; i++) {
		bool run = optind == argc;

		for (k = optind; k < argc; k++)
			run |= !strcmp(argv[k], scenarios[i].name);
		if (!run)
			continue;
		memset(shm, 0, sizeof(*shm));
		memset(&tinyfs_cfg, 0, sizeof(tinyfs_cfg));
		tap_diag("scenario %s", scenarios[i].name);
		scenarios[i].fn();
	}
	return tap_done();
}
