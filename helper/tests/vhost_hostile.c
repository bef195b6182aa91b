// SPDX-License-Identifier: GPL-2.0
/*
 * vhost_hostile SOCKET DIR
 * vhost_hostile --case NAME SOCKET DIR
 * vhost_hostile --list
 *
 * A fake vhost-user front-end (the part QEMU's vhost-user-fs-pci plays)
 * for "mqfused --vhost-user SOCKET -f DIR" (../vhost/vhost_user.h): guest
 * memory in a memfd, shared as two regions (guest physical 0 and 1 GiB),
 * split virtqueues in it, FUSE requests in descriptor chains.
 *
 * Without --case: one connection.  Feature negotiation, the memory table,
 * queues 0 (hiprio), 1 and 2 (request queues; queue 2's rings in the
 * second region, its indices starting near 65535 so that they wrap).
 * Then FUSE requests that must work (INIT, LOOKUP, OPEN, READ, CREATE, a
 * 1 MiB WRITE through an indirect table, FORGET on the hiprio queue, names
 * that would leave DIR, many requests at once, NO_INTERRUPT, a disabled
 * queue...), then malformed descriptor chains and requests on queue 1,
 * each followed by a good GETATTR on queue 1, then a head index out of
 * range (queue 1 stops, queue 2 goes on), GET_VRING_BASE and restarts, a
 * new memory table while the queues run.  The front-end closes the socket
 * at the end: mqfused is to exit 0.
 *
 * With --case NAME: a fresh connection (vhost-e2e.sh starts mqfused for
 * each) for one malformed or refused socket message, memory tables and
 * ring fds mqfused must not trust, lock waiters (SETLKW) across a queue
 * stop, a new memory table, a new INIT and the front-end's end.  --list prints the
 * cases, one a line: NAME and the exit status expected of mqfused after
 * the front-end is gone ("1": the message made it exit; "0": it refused
 * the message and went on serving; "01": either, what matters is that it
 * does not crash).
 *
 * Prints "ok - ..." / "not ok - ..." lines (unnumbered) and "# ..." lines
 * with the details of a failure; exits 1 if anything failed.  Every wait
 * has a timeout (10 s for an answer).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/fuse.h>

#include "vhost_user.h"

#define MiB		(1ull << 20)
#define REG_SIZE	(32 * MiB)		/* each of the two regions */
#define GPA1		(1ull << 30)		/* guest physical of region 1 */
#define QSIZE		256u
#define TMO		10000			/* ms: an answer, a reply */
#define SHORT_TMO	1500			/* ms: what must NOT come */
/* buffers are taken from here in each region; rings lie below */
#define ARENA_START	(1 * MiB)
#define ARENA_END	(REG_SIZE - 1 * MiB)
/* ring placement (guest physical) */
#define Q0_GPA		0x10000ull
#define Q1_GPA		0x20000ull
#define Q2_GPA		(GPA1 + 0x10000ull)
#define Q2_BASE		65530u		/* wraps after 6 requests */
#define MAXD		4200u		/* descriptors a test chain may have */
#define OUT_HDR		sizeof(struct fuse_out_header)
#define IN_HDR		sizeof(struct fuse_in_header)

#define FEATURES	((1ull << VU_F_VERSION_1) | \
			 (1ull << VU_F_PROTOCOL_FEATURES) | \
			 (1ull << VU_F_INDIRECT_DESC))
#define PROTO_FEATURES	((1ull << VU_PF_MQ) | (1ull << VU_PF_REPLY_ACK))

static int npass, nfail;
static char detail[1024];		/* why the next check may fail */
static const char *dir;			/* the directory mqfused serves */
static const char *sock_path;
static int sock = -1;

/* ---------------------------------------------------------- reporting */

static void why(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void why(const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(detail);

	if (n && n < sizeof(detail) - 3) {
		memcpy(detail + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(detail + n, sizeof(detail) - n, fmt, ap);
	va_end(ap);
}

static bool check(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool check(bool cond, const char *fmt, ...)
{
	va_list ap;

	printf("%sok - ", cond ? "" : "not ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond && detail[0])
		printf("# %s\n", detail);
	detail[0] = 0;
	if (cond)
		npass++;
	else
		nfail++;
	fflush(stdout);
	return cond;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Give up: what cannot go on (a test bug, the connection gone). */
static void bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void bail(const char *fmt, ...)
{
	va_list ap;

	printf("not ok - ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (detail[0])
		printf("# %s\n", detail);
	printf("# vhost_hostile: %d passed, %d failed, the rest not run\n",
	       npass, nfail + 1);
	fflush(stdout);
	exit(1);
}

static void on_alarm(int sig)
{
	static const char msg[] = "not ok - vhost_hostile timed out as a whole\n";

	(void)sig;
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ------------------------------------------------------- guest memory */

struct greg {
	uint64_t gpa, size, off;	/* off: in the memfd and in gmem */
};

static int memfd = -1;
static char *gmem;			/* our mapping: user_addr = pointer */
static const struct greg greg[2] = {
	{ 0, REG_SIZE, 0 },
	{ GPA1, REG_SIZE, REG_SIZE },
};
static uint64_t apos[2];
static unsigned int aturn;
static int arena_only = -1;		/* >= 0: take buffers from that region only */

static void *g2h(uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < 2; i++) {
		const struct greg *r = &greg[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size &&
		    len <= r->size - (gpa - r->gpa))
			return gmem + r->off + (gpa - r->gpa);
	}
	bail("test bug: guest physical 0x%llx+%llu is not guest memory",
	     (unsigned long long)gpa, (unsigned long long)len);
}

static uint64_t uaddr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* Last guest physical byte + 1 of region @i. */
static uint64_t gend(unsigned int i)
{
	return greg[i].gpa + greg[i].size;
}

static void arena_reset(void)
{
	apos[0] = apos[1] = ARENA_START;
}

/* @len bytes of guest memory, alternately from each region. */
static uint64_t galloc(uint64_t len)
{
	unsigned int r = arena_only >= 0 ? (unsigned int)arena_only : aturn++ & 1, k;

	for (k = 0; k < (arena_only >= 0 ? 1u : 2u); k++, r ^= 1) {
		uint64_t at = (apos[r] + 63) & ~63ull;

		if (at + len <= ARENA_END) {
			apos[r] = at + len;
			return greg[r].gpa + at;
		}
	}
	bail("test bug: guest memory arena exhausted (%llu bytes)",
	     (unsigned long long)len);
}

static void guest_memory_init(void)
{
	memfd = memfd_create("vhost_hostile-guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, 2 * REG_SIZE))
		bail("memfd_create/ftruncate: %s", strerror(errno));
	gmem = mmap(NULL, 2 * REG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		    memfd, 0);
	if (gmem == MAP_FAILED)
		bail("mmap guest memory: %s", strerror(errno));
	arena_reset();
}

/* ------------------------------------------------------------ socket */

static void connect_backend(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec t0;

	if (strlen(sock_path) >= sizeof(sa.sun_path))
		bail("socket path too long: %s", sock_path);
	strcpy(sa.sun_path, sock_path);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (sock < 0)
			bail("socket: %s", strerror(errno));
		if (!connect(sock, (struct sockaddr *)&sa, sizeof(sa)))
			return;
		why("connect %s: %s", sock_path, strerror(errno));
		close(sock);
		sock = -1;
		if (ms_since(&t0) > 5000)
			bail("connect to the back-end");
		detail[0] = 0;
		usleep(50000);
	}
}

/* CPU time (user + system, ms) of the back-end at the other end of sock. */
static long backend_cpu_ms(void)
{
	struct ucred uc;
	socklen_t l = sizeof(uc);
	unsigned long ut, st;
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &uc, &l))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)uc.pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	/* after the name: state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return -1;
	return (long)((ut + st) * 1000 / sysconf(_SC_CLK_TCK));
}

/* The back-end uses little CPU over @ms while nothing is asked of it. */
static bool backend_idle(int ms)
{
	long a = backend_cpu_ms(), b;

	usleep(ms * 1000);
	b = backend_cpu_ms();
	if (a < 0 || b < 0) {
		why("cannot read the back-end's CPU time");
		return false;
	}
	if (b - a > ms / 5)
		why("%ld ms of CPU in %d ms", b - a, ms);
	return b - a <= ms / 5;
}

/* Entries of /proc/PID/fd (@what "fd") or lines of /proc/PID/@what of the back-end, or -1. */
static long backend_count(const char *what)
{
	struct ucred uc;
	socklen_t l = sizeof(uc);
	char path[64], buf[4096];
	long n = 0;
	ssize_t r, i;
	int fd;

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &uc, &l))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)uc.pid, what);
	if (!strcmp(what, "fd")) {
		DIR *d = opendir(path);
		struct dirent *de;

		if (!d)
			return -1;
		while ((de = readdir(d)))
			n += de->d_name[0] != '.';
		closedir(d);
		return n;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < r; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

/* Send a header and @plen payload bytes (whatever hdr->size says), @fds. */
static int vu_send_raw(const struct vu_hdr *h, const void *payload, size_t plen,
		       const int *fds, unsigned int nfds)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 16)];
	struct iovec iov[2] = {
		{ (void *)h, sizeof(*h) }, { (void *)payload, plen },
	};
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = plen ? 2 : 1 };
	size_t left = sizeof(*h) + plen;

	if (nfds > 16)
		bail("test bug: %u fds", nfds);
	if (nfds) {
		struct cmsghdr *c;

		memset(cbuf, 0, sizeof(cbuf));
		m.msg_control = cbuf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	while (left) {
		struct pollfd p = { sock, POLLOUT, 0 };
		ssize_t n;

		if (poll(&p, 1, TMO) <= 0) {
			why("send: the back-end does not read its socket");
			return -ETIMEDOUT;
		}
		n = sendmsg(sock, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n < 0) {
			why("send: %s", strerror(errno));
			return -errno;
		}
		left -= n;
		m.msg_control = NULL;
		m.msg_controllen = 0;
		while (n > 0 && m.msg_iovlen) {
			if ((size_t)n >= m.msg_iov[0].iov_len) {
				n -= m.msg_iov[0].iov_len;
				m.msg_iov++;
				m.msg_iovlen--;
			} else {
				m.msg_iov[0].iov_base = (char *)m.msg_iov[0].iov_base + n;
				m.msg_iov[0].iov_len -= n;
				n = 0;
			}
		}
	}
	return 0;
}

static int vu_send(uint32_t request, uint32_t flags, const void *payload,
		   uint32_t size, const int *fds, unsigned int nfds)
{
	struct vu_hdr h = { request, flags, size };

	return vu_send_raw(&h, payload, size, fds, nfds);
}

/* Read exactly @len bytes within @ms: 0, -ETIMEDOUT, -EPIPE (closed). */
static int read_full(void *buf, size_t len, int ms)
{
	struct timespec t0;
	size_t got = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < len) {
		struct pollfd p = { sock, POLLIN, 0 };
		long left = ms - ms_since(&t0);
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -ETIMEDOUT;
		n = recv(sock, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return -EPIPE;
		if (n < 0)
			return -errno;
		got += n;
	}
	return 0;
}

/* One message of the back-end: 0, -ETIMEDOUT, -EPIPE, -EPROTO (too big). */
static int vu_recv(struct vu_hdr *h, void *payload, size_t max, int ms)
{
	int ret = read_full(h, sizeof(*h), ms);

	if (ret)
		return ret;
	if (h->size > max) {
		why("reply to %u with a payload of %u bytes", h->request, h->size);
		return -EPROTO;
	}
	return h->size ? read_full(payload, h->size, ms) : 0;
}

static const char *err_name(int ret)
{
	switch (ret) {
	case -ETIMEDOUT:
		return "no reply within 10 s";
	case -EPIPE:
		return "the back-end closed the connection";
	default:
		return strerror(-ret);
	}
}

/* The reply to @request, @size payload bytes into @out. */
static int vu_reply(uint32_t request, void *out, uint32_t size)
{
	union vu_payload p;
	struct vu_hdr h;
	int ret = vu_recv(&h, &p, sizeof(p), TMO);

	if (ret) {
		why("request %u: %s", request, err_name(ret));
		return ret;
	}
	if (h.request != request || h.flags != (VU_VERSION | VU_FLAG_REPLY) ||
	    h.size != size) {
		why("request %u: reply has request %u flags 0x%x size %u (want %u, 0x%x, %u)",
		    request, h.request, h.flags, h.size, request,
		    VU_VERSION | VU_FLAG_REPLY, size);
		return -EPROTO;
	}
	memcpy(out, &p, size);
	return 0;
}

static int vu_get_u64(uint32_t request, uint32_t flags, uint64_t *val)
{
	int ret = vu_send(request, VU_VERSION | flags, NULL, 0, NULL, 0);

	return ret ?: vu_reply(request, val, sizeof(*val));
}

/* Send @request with NEED_REPLY; the ack in *@ack.  0 or -errno. */
static int vu_set(uint32_t request, const void *payload, uint32_t size,
		  const int *fds, unsigned int nfds, uint64_t *ack)
{
	int ret = vu_send(request, VU_VERSION | VU_FLAG_NEED_REPLY, payload,
			  size, fds, nfds);

	return ret ?: vu_reply(request, ack, sizeof(*ack));
}

/* vu_set() that must succeed with ack 0. */
static bool vu_set_ok(uint32_t request, const void *payload, uint32_t size,
		      const int *fds, unsigned int nfds, const char *what)
{
	uint64_t ack = ~0ull;

	if (vu_set(request, payload, size, fds, nfds, &ack)) {
		why("%s", what);
		return false;
	}
	if (ack) {
		why("%s: ack %llu", what, (unsigned long long)ack);
		return false;
	}
	return true;
}

/*
 * The back-end ends the connection within @ms: 1 (closed), 0 (still
 * open).  What it sent before is described in detail.
 */
static int vu_wait_close(int ms)
{
	struct timespec t0;
	char buf[512];
	size_t total = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { sock, POLLIN, 0 };
		long left = ms - ms_since(&t0);
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0) {
			why("the connection is still open after %d ms", ms);
			return 0;
		}
		n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			if (total)
				why("%zu bytes came before the close", total);
			return 1;
		}
		if (!total && n >= (ssize_t)sizeof(struct vu_hdr)) {
			const struct vu_hdr *h = (const void *)buf;

			why("the back-end sent request %u flags 0x%x size %u",
			    h->request, h->flags, h->size);
		}
		total += n;
	}
}

/* --------------------------------------------------- handshake, memory */

/* Features, protocol features, queue count, owner.  @report: TAP lines. */
static bool handshake(bool report)
{
	uint64_t v = 0;
	bool good = true, r;

	r = !vu_get_u64(VU_GET_FEATURES, 0, &v);
	if (r && v != FEATURES)
		why("GET_FEATURES 0x%llx, want 0x%llx", (unsigned long long)v,
		    (unsigned long long)FEATURES);
	r = r && v == FEATURES;
	if (report)
		check(r, "GET_FEATURES: VERSION_1 | PROTOCOL_FEATURES | INDIRECT_DESC");
	good &= r;
	if (!r && !report)
		return false;

	r = !vu_get_u64(VU_GET_PROTOCOL_FEATURES, 0, &v);
	if (r && v != PROTO_FEATURES)
		why("GET_PROTOCOL_FEATURES 0x%llx, want 0x%llx",
		    (unsigned long long)v, (unsigned long long)PROTO_FEATURES);
	r = r && v == PROTO_FEATURES;
	if (report)
		check(r, "GET_PROTOCOL_FEATURES: MQ | REPLY_ACK");
	good &= r;

	v = PROTO_FEATURES;
	if (vu_send(VU_SET_PROTOCOL_FEATURES, VU_VERSION, &v, 8, NULL, 0))
		return false;
	/* NEED_REPLY on a request with a reply of its own: one reply */
	r = !vu_get_u64(VU_GET_QUEUE_NUM, VU_FLAG_NEED_REPLY, &v);
	if (r && v != VU_FS_MAX_QUEUES)
		why("GET_QUEUE_NUM %llu", (unsigned long long)v);
	r = r && v == VU_FS_MAX_QUEUES;
	if (report)
		check(r, "GET_QUEUE_NUM (with NEED_REPLY): 65");
	good &= r;

	r = vu_set_ok(VU_SET_OWNER, NULL, 0, NULL, 0, "SET_OWNER");
	if (report)
		check(r, "SET_OWNER with NEED_REPLY: ack 0 (and no second reply to GET_QUEUE_NUM)");
	good &= r;

	v = FEATURES;
	r = vu_set_ok(VU_SET_FEATURES, &v, 8, NULL, 0, "SET_FEATURES");
	if (report)
		check(r, "SET_FEATURES VERSION_1 | PROTOCOL_FEATURES | INDIRECT_DESC: ack 0");
	good &= r;
	return good;
}

static bool set_mem_table(void)
{
	struct vu_mem_table mt = { .nregions = 2 };
	int fds[2] = { memfd, memfd };
	unsigned int i;

	for (i = 0; i < 2; i++) {
		mt.regions[i].guest_addr = greg[i].gpa;
		mt.regions[i].size = greg[i].size;
		mt.regions[i].user_addr = uaddr(gmem + greg[i].off);
		mt.regions[i].mmap_offset = greg[i].off;
	}
	return vu_set_ok(VU_SET_MEM_TABLE, &mt, 8 + 2 * sizeof(mt.regions[0]),
			 fds, 2, "SET_MEM_TABLE");
}

/* ------------------------------------------------------ virtqueues */

struct vq {
	unsigned int idx, num;
	struct vq_desc *desc;
	struct vq_avail *avail;
	struct vq_used *used;
	uint16_t avail_idx, used_idx;	/* ours: next to publish / to see */
	uint16_t next_desc;
	int kick, call;
	unsigned long calls;		/* call eventfd count seen */
};

static struct vq vqs[3] = {
	{ .kick = -1, .call = -1 }, { .kick = -1, .call = -1 },
	{ .kick = -1, .call = -1 },
};

/* Rings at @host (our pointer), indices starting at @start. */
static void vq_layout(struct vq *q, unsigned int idx, void *host,
		      unsigned int num, uint16_t start)
{
	size_t dsz = 16ul * num, asz = 6 + 2ul * num, usz = 6 + 8ul * num;
	size_t uoff = (dsz + asz + 4095) & ~4095ul;

	q->idx = idx;
	q->num = num;
	q->desc = host;
	q->avail = (void *)((char *)host + dsz);
	q->used = (void *)((char *)host + uoff);
	memset(host, 0, uoff + usz);
	q->avail->idx = start;
	q->used->idx = start;
	q->avail_idx = q->used_idx = start;
	q->next_desc = 0;
	q->calls = 0;
	if (q->kick >= 0)
		close(q->kick);
	if (q->call >= 0)
		close(q->call);
	q->kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->kick < 0 || q->call < 0)
		bail("eventfd: %s", strerror(errno));
}

/* Configure and enable the ring; @order: 0 QEMU's order, 1 another. */
static bool vq_start(struct vq *q, int order)
{
	struct vu_vring_state num = { q->idx, q->num };
	struct vu_vring_state base = { q->idx, q->avail_idx };
	struct vu_vring_state en = { q->idx, 1 };
	struct vu_vring_addr a = {
		.index = q->idx, .desc = uaddr(q->desc),
		.used = uaddr(q->used), .avail = uaddr(q->avail),
	};
	uint64_t idx = q->idx;

	if (!vu_set_ok(VU_SET_VRING_NUM, &num, sizeof(num), NULL, 0, "SET_VRING_NUM"))
		return false;
	if (order == 0) {
		return vu_set_ok(VU_SET_VRING_BASE, &base, sizeof(base), NULL, 0, "SET_VRING_BASE") &&
		       vu_set_ok(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, "SET_VRING_ADDR") &&
		       vu_set_ok(VU_SET_VRING_CALL, &idx, 8, &q->call, 1, "SET_VRING_CALL") &&
		       vu_set_ok(VU_SET_VRING_KICK, &idx, 8, &q->kick, 1, "SET_VRING_KICK") &&
		       vu_set_ok(VU_SET_VRING_ENABLE, &en, sizeof(en), NULL, 0, "SET_VRING_ENABLE");
	}
	return vu_set_ok(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, "SET_VRING_ADDR") &&
	       vu_set_ok(VU_SET_VRING_BASE, &base, sizeof(base), NULL, 0, "SET_VRING_BASE") &&
	       vu_set_ok(VU_SET_VRING_ENABLE, &en, sizeof(en), NULL, 0, "SET_VRING_ENABLE") &&
	       vu_set_ok(VU_SET_VRING_KICK, &idx, 8, &q->kick, 1, "SET_VRING_KICK") &&
	       vu_set_ok(VU_SET_VRING_CALL, &idx, 8, &q->call, 1, "SET_VRING_CALL");
}

/* GET_VRING_BASE: the ring stops; its next available index in *@next. */
static bool vq_get_base(struct vq *q, uint32_t *next)
{
	struct vu_vring_state st = { q->idx, 0 };

	if (vu_send(VU_GET_VRING_BASE, VU_VERSION, &st, sizeof(st), NULL, 0) ||
	    vu_reply(VU_GET_VRING_BASE, &st, sizeof(st)))
		return false;
	if (st.index != q->idx) {
		why("GET_VRING_BASE %u: reply for index %u", q->idx, st.index);
		return false;
	}
	*next = st.num;
	return true;
}

static void vq_publish(struct vq *q, uint16_t head)
{
	q->avail->ring[q->avail_idx & (q->num - 1)] = head;
	q->avail_idx++;
	__atomic_store_n(&q->avail->idx, q->avail_idx, __ATOMIC_RELEASE);
}

static void vq_kick(struct vq *q)
{
	uint64_t one = 1;

	if (write(q->kick, &one, sizeof(one)) != sizeof(one))
		bail("kick queue %u: %s", q->idx, strerror(errno));
}

static void vq_drain_call(struct vq *q)
{
	uint64_t v;

	if (read(q->call, &v, sizeof(v)) == sizeof(v))
		q->calls += v;
}

/* The call eventfd of @q was (or is within @ms) signalled. */
static bool vq_called(struct vq *q, int ms)
{
	struct pollfd p = { q->call, POLLIN, 0 };

	if (!q->calls && poll(&p, 1, ms) > 0)
		vq_drain_call(q);
	return q->calls > 0;
}

/* Waiting for a used entry: give up at once if the back-end is gone. */
static bool bail_on_close = true;

static void check_connection(void)
{
	char c;
	ssize_t n = recv(sock, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno == ECONNRESET))
		bail("the back-end closed the connection (did mqfused die?)");
}

/* The next used entry within @ms: 0 or -ETIMEDOUT. */
static int vq_wait(struct vq *q, struct vq_used_elem *e, int ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		uint16_t idx = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
		struct pollfd p[2] = { { q->call, POLLIN, 0 }, { sock, POLLIN, 0 } };
		long left;

		if (idx != q->used_idx) {
			const struct vq_used_elem *u =
				&q->used->ring[q->used_idx & (q->num - 1)];

			e->id = u->id;
			e->len = u->len;
			q->used_idx++;
			return 0;
		}
		left = ms - ms_since(&t0);
		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(p, bail_on_close ? 2 : 1, left < 50 ? left : 50) > 0) {
			if (p[0].revents)
				vq_drain_call(q);
			if (p[1].revents)
				check_connection();
		}
	}
}

/* The used entry of chain @head, skipping others (described in detail). */
static int vq_wait_head(struct vq *q, uint16_t head, struct vq_used_elem *e,
			int ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long left = ms - ms_since(&t0);

		if (left <= 0 || vq_wait(q, e, left)) {
			why("queue %u: no used entry for head %u within %d s",
			    q->idx, head, ms / 1000);
			return -ETIMEDOUT;
		}
		if (e->id == head)
			return 0;
		why("queue %u: used entry {id %u, len %u} while waiting for head %u",
		    q->idx, e->id, e->len, head);
	}
}

/* --------------------------------------------------- descriptor chains */

struct chain {
	unsigned int n;
	struct vq_desc d[MAXD];
};

/* How a part is cut into descriptors: piece sizes, the last repeats, 0 = the rest. */
struct split {
	unsigned int n;
	uint32_t p[4];
};

static const struct split SP_ONE = { 1, { 0 } };
static const struct split SP_HDR = { 2, { IN_HDR, 0 } };
static const struct split SP_OUTHDR = { 2, { OUT_HDR, 0 } };
static const struct split SP_ODD_RD = { 4, { 7, 13, 1, 0 } };
static const struct split SP_ODD_WR = { 3, { 5, 11, 0 } };
static const struct split SP_WRITE4K = { 2, { IN_HDR + sizeof(struct fuse_write_in), 4096 } };
static const struct split SP_READ4K = { 2, { OUT_HDR, 4096 } };

enum { M_DIRECT, M_INDIRECT };

struct layout {
	int mode;
	const struct split *rd, *wr;
};

static const struct layout L_SIMPLE = { M_DIRECT, &SP_ONE, &SP_ONE };
static const struct layout L_SPLIT = { M_DIRECT, &SP_HDR, &SP_OUTHDR };
static const struct layout L_ODD = { M_DIRECT, &SP_ODD_RD, &SP_ODD_WR };
static const struct layout L_IND = { M_INDIRECT, &SP_HDR, &SP_OUTHDR };
static const struct layout L_IND_ODD = { M_INDIRECT, &SP_ODD_RD, &SP_ODD_WR };
static const struct layout L_IND_WRITE = { M_INDIRECT, &SP_WRITE4K, &SP_ONE };
static const struct layout L_IND_READ = { M_INDIRECT, &SP_ONE, &SP_READ4K };

static struct chain *ch_new(void)
{
	struct chain *c = calloc(1, sizeof(*c));

	if (!c)
		bail("out of memory");
	return c;
}

static void ch_add(struct chain *c, uint64_t addr, uint32_t len, uint16_t flags)
{
	if (c->n == MAXD)
		bail("test bug: chain of more than %u descriptors", MAXD);
	c->d[c->n].addr = addr;
	c->d[c->n].len = len;
	c->d[c->n].flags = flags;
	c->d[c->n].next = 0;
	c->n++;
}

static uint32_t piece(const struct split *sp, unsigned int i, size_t left)
{
	uint32_t p = sp->p[i < sp->n ? i : sp->n - 1];

	return !p || p > left ? left : p;
}

static void ch_readable(struct chain *c, const void *data, size_t len,
			const struct split *sp)
{
	size_t off = 0;
	unsigned int i;

	for (i = 0; off < len; i++) {
		uint32_t p = piece(sp, i, len - off);
		uint64_t gpa = galloc(p);

		memcpy(g2h(gpa, p), (const char *)data + off, p);
		ch_add(c, gpa, p, 0);
		off += p;
	}
}

static void ch_writable(struct chain *c, size_t room, const struct split *sp)
{
	size_t off = 0;
	unsigned int i;

	for (i = 0; off < room; i++) {
		uint32_t p = piece(sp, i, room - off);
		uint64_t gpa = galloc(p);

		memset(g2h(gpa, p), 0xee, p);
		ch_add(c, gpa, p, VQ_DESC_F_WRITE);
		off += p;
	}
}

/* The first @len bytes written into the writable part of @c. */
static size_t ch_gather(const struct chain *c, size_t len, void *out, size_t max)
{
	size_t got = 0;
	unsigned int i;

	if (len > max)
		len = max;
	for (i = 0; i < c->n && got < len; i++) {
		size_t n = c->d[i].len;

		if (!(c->d[i].flags & VQ_DESC_F_WRITE))
			continue;
		if (n > len - got)
			n = len - got;
		memcpy((char *)out + got, g2h(c->d[i].addr, n), n);
		got += n;
	}
	return got;
}

static void ch_link(struct vq_desc *dst, const struct vq_desc *src,
		    unsigned int n, unsigned int base)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		dst[i] = src[i];
		if (i + 1 < n) {
			dst[i].flags |= VQ_DESC_F_NEXT;
			dst[i].next = base + i + 1;
		} else {
			dst[i].flags &= ~VQ_DESC_F_NEXT;
		}
	}
}

/* Put @c in @q's descriptor table (linked); returns its head. */
static uint16_t vq_place(struct vq *q, const struct chain *c, int mode)
{
	unsigned int n = mode == M_INDIRECT ? 1 : c->n;
	uint16_t base;

	if (!c->n || n > q->num)
		bail("test bug: %u descriptors for a queue of %u", n, q->num);
	if (q->next_desc + n > q->num)
		q->next_desc = 0;
	base = q->next_desc;
	q->next_desc += n;
	if (mode == M_INDIRECT) {
		uint64_t t = galloc(16ull * c->n);

		ch_link(g2h(t, 16ull * c->n), c->d, c->n, 0);
		q->desc[base].addr = t;
		q->desc[base].len = 16 * c->n;
		q->desc[base].flags = VQ_DESC_F_INDIRECT;
		q->desc[base].next = 0;
	} else {
		ch_link(q->desc + base, c->d, c->n, base);
	}
	return base;
}

/* Raw descriptors, as they are, at index 0 of the table; head 0. */
static uint16_t vq_place_raw(struct vq *q, const struct vq_desc *d, unsigned int n)
{
	if (n > q->num)
		bail("test bug: raw chain of %u", n);
	memcpy(q->desc, d, n * sizeof(*d));
	q->next_desc = n;
	return 0;
}

/*
 * Guest memory for the hostile chains, apart from the arena (which every
 * good request after an attack takes again): region 0 from ARENA_END.
 */
#define HOSTILE_START	ARENA_END
#define HOSTILE_END	(REG_SIZE - 128 * 1024)
static uint64_t hpos = HOSTILE_START;

static uint64_t halloc(uint64_t len)
{
	uint64_t at = (hpos + 63) & ~63ull;

	if (at + len > HOSTILE_END)
		bail("test bug: hostile area exhausted");
	hpos = at + len;
	return at;
}

/* An indirect table with these entries, in guest memory. */
static uint64_t put_table(const struct vq_desc *d, unsigned int n)
{
	uint64_t t = halloc(16ull * n);

	memcpy(g2h(t, 16ull * n), d, 16ull * n);
	return t;
}

/* ------------------------------------------------------- FUSE layer */

static char reqbuf[2 * MiB];
static char replybuf[2 * MiB];
static uint64_t next_unique = 1;
static int xfer_tmo = TMO;		/* how long fuse_xfer() waits */

/* A request in reqbuf: header and two argument parts; its length. */
static size_t fuse_in(uint32_t opcode, uint64_t nodeid, const void *a, size_t al,
		      const void *b, size_t bl)
{
	struct fuse_in_header *h = (void *)reqbuf;
	size_t len = IN_HDR + al + bl;

	if (len > sizeof(reqbuf))
		bail("test bug: request of %zu bytes", len);
	memset(h, 0, sizeof(*h));
	h->len = len;
	h->opcode = opcode;
	h->unique = next_unique++;
	h->nodeid = nodeid;
	if (al)
		memcpy(reqbuf + IN_HDR, a, al);
	if (bl)
		memcpy(reqbuf + IN_HDR + al, b, bl);
	return len;
}

struct fres {
	int rc;				/* 0: a used entry came */
	uint16_t head;
	struct vq_used_elem u;
	uint64_t unique;
	struct fuse_out_header oh;
	size_t plen;			/* payload in replybuf */
};

static void fres_fill(struct fres *r, const struct chain *c, size_t room)
{
	size_t got;

	r->plen = 0;
	memset(&r->oh, 0, sizeof(r->oh));
	if (r->rc || r->u.len < OUT_HDR)
		return;
	got = ch_gather(c, r->u.len < room ? r->u.len : room, replybuf,
			sizeof(replybuf));
	if (got < OUT_HDR)
		return;
	memcpy(&r->oh, replybuf, OUT_HDR);
	r->plen = got - OUT_HDR;
	memmove(replybuf, replybuf + OUT_HDR, r->plen);
}

/* The request in reqbuf (@len bytes) with @room writable bytes, on @q. */
static struct fres fuse_xfer(struct vq *q, const struct layout *l, size_t len,
			     size_t room)
{
	struct chain *c = ch_new();
	struct fres r = { 0 };

	arena_reset();
	ch_readable(c, reqbuf, len, l->rd);
	ch_writable(c, room, l->wr);
	r.unique = ((struct fuse_in_header *)reqbuf)->unique;
	r.head = vq_place(q, c, l->mode);
	vq_publish(q, r.head);
	vq_kick(q);
	r.rc = vq_wait_head(q, r.head, &r.u, xfer_tmo);
	fres_fill(&r, c, room);
	free(c);
	return r;
}

/*
 * A well-formed answer: its used entry, as long as the out header says,
 * for its unique, with a valid error.  The FUSE error (<= 0), or 1.
 */
static int fres_check(const struct fres *r)
{
	if (r->rc)
		return 1;
	if (r->u.len < OUT_HDR) {
		why("used len %u: no out header", r->u.len);
		return 1;
	}
	if (r->oh.len != r->u.len) {
		why("used len %u, out header len %u", r->u.len, r->oh.len);
		return 1;
	}
	if (r->oh.unique != r->unique) {
		why("out header unique %llu, request %llu",
		    (unsigned long long)r->oh.unique, (unsigned long long)r->unique);
		return 1;
	}
	if (r->oh.error > 0 || r->oh.error < -4095 ||
	    (r->oh.error && r->oh.len != OUT_HDR)) {
		why("out header error %d len %u", r->oh.error, r->oh.len);
		return 1;
	}
	return r->oh.error;
}

/* A request; its payload (at most @out_size) in @out.  FUSE error or 1. */
static int fuse_op(struct vq *q, const struct layout *l, uint32_t opcode,
		   uint64_t nodeid, const void *a, size_t al, const void *b,
		   size_t bl, size_t out_size, void *out, size_t *plen)
{
	size_t len = fuse_in(opcode, nodeid, a, al, b, bl);
	struct fres r = fuse_xfer(q, l, len, OUT_HDR + out_size);
	int ret = fres_check(&r);

	if (plen)
		*plen = r.plen;
	if (!ret && out)
		memcpy(out, replybuf, r.plen < out_size ? r.plen : out_size);
	return ret;
}

static int fuse_getattr(struct vq *q, const struct layout *l, uint64_t nodeid,
			struct fuse_attr_out *ao)
{
	struct fuse_getattr_in gi = { 0 };
	size_t plen = 0;
	int ret = fuse_op(q, l, FUSE_GETATTR, nodeid, &gi, sizeof(gi), NULL, 0,
			  sizeof(*ao), ao, &plen);

	if (!ret && plen != sizeof(*ao)) {
		why("GETATTR payload %zu bytes, want %zu", plen, sizeof(*ao));
		return 1;
	}
	return ret;
}

static int fuse_lookup(struct vq *q, const struct layout *l, uint64_t parent,
		       const char *name, struct fuse_entry_out *eo)
{
	size_t plen = 0;
	int ret = fuse_op(q, l, FUSE_LOOKUP, parent, name, strlen(name) + 1,
			  NULL, 0, sizeof(*eo), eo, &plen);

	if (!ret && plen != sizeof(*eo)) {
		why("LOOKUP payload %zu bytes, want %zu", plen, sizeof(*eo));
		return 1;
	}
	return ret;
}

static int fuse_init_flags(struct vq *q, struct fuse_init_out *io, uint32_t flags)
{
	struct fuse_init_in ii = {
		.major = 7, .minor = 31, .max_readahead = 128 * 1024,
		.flags = flags,
	};
	size_t plen = 0;
	int ret = fuse_op(q, &L_SIMPLE, FUSE_INIT, 0, &ii, sizeof(ii), NULL, 0,
			  sizeof(*io), io, &plen);

	if (!ret && plen != sizeof(*io)) {
		why("INIT payload %zu bytes, want %zu", plen, sizeof(*io));
		return 1;
	}
	return ret;
}

static int fuse_init(struct vq *q, struct fuse_init_out *io)
{
	return fuse_init_flags(q, io, 0);
}

/* A GETATTR of the root on @q answers, a directory. */
static bool root_ok(struct vq *q)
{
	struct fuse_attr_out ao;
	int ret = fuse_getattr(q, &L_SIMPLE, FUSE_ROOT_ID, &ao);

	if (ret < 0)
		why("GETATTR error %d", ret);
	if (!ret && !S_ISDIR(ao.attr.mode)) {
		why("GETATTR of the root: mode 0%o", ao.attr.mode);
		ret = 1;
	}
	return ret == 0;
}

/* ----------------------------------------------------- functional part */

static uint64_t hello_node, big_node;

static void fill_pattern(char *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = seed >> 16;
	}
}

static void functional(void)
{
	struct vq *q0 = &vqs[0], *q1 = &vqs[1], *q2 = &vqs[2];
	struct fuse_init_out io;
	struct fuse_attr_out ao;
	struct fuse_entry_out eo;
	struct fuse_open_out oo;
	char want[4096], path[4096];
	size_t plen = 0;
	ssize_t wlen;
	int fd, ret;

	ret = fuse_init(q1, &io);
	check(!ret && io.major == 7 && io.minor == 31,
	      "FUSE_INIT 7.31 on queue 1: answered 7.%u (major %u, error %d)",
	      io.minor, io.major, ret);
	check(vq_called(q1, TMO), "the back-end signals queue 1's call eventfd");

	check(root_ok(q1), "GETATTR of the root on queue 1");

	/* hello: written by the script; what DIR says is the truth */
	snprintf(path, sizeof(path), "%s/hello", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	wlen = fd >= 0 ? read(fd, want, sizeof(want)) : -1;
	if (fd >= 0)
		close(fd);
	if (wlen <= 0)
		bail("%s: cannot read it (the script creates it)", path);

	memset(&eo, 0, sizeof(eo));
	ret = fuse_lookup(q1, &L_SPLIT, FUSE_ROOT_ID, "hello", &eo);
	check(!ret && eo.nodeid && eo.attr.size == (uint64_t)wlen &&
	      S_ISREG(eo.attr.mode),
	      "LOOKUP hello (header and name in separate descriptors): node %llu, size %llu",
	      (unsigned long long)eo.nodeid, (unsigned long long)eo.attr.size);
	hello_node = eo.nodeid;

	ret = fuse_getattr(q1, &L_ODD, hello_node, &ao);
	check(!ret && ao.attr.size == (uint64_t)wlen && ao.attr.ino == eo.attr.ino,
	      "GETATTR hello, request and reply cut in 1..13-byte descriptors");

	{
		struct fuse_open_in oi = { .flags = O_RDONLY };
		struct fuse_read_in ri = { .size = 4096 };
		struct fuse_release_in rl = { 0 };

		memset(&oo, 0, sizeof(oo));
		ret = fuse_op(q1, &L_IND, FUSE_OPEN, hello_node, &oi, sizeof(oi),
			      NULL, 0, sizeof(oo), &oo, &plen);
		check(!ret && plen == sizeof(oo), "OPEN hello (indirect table)");
		ri.fh = oo.fh;
		ret = fuse_op(q1, &L_IND_ODD, FUSE_READ, hello_node, &ri,
			      sizeof(ri), NULL, 0, 4096, NULL, &plen);
		if (!ret && (plen != (size_t)wlen || memcmp(replybuf, want, wlen)))
			why("READ %zu bytes, file has %zd; content %s", plen, wlen,
			    plen == (size_t)wlen ? "differs" : "-");
		check(!ret && plen == (size_t)wlen && !memcmp(replybuf, want, wlen),
		      "READ hello (indirect, odd pieces): its content");
		ret = fuse_op(q1, &L_SIMPLE, FUSE_READ, hello_node, &ri,
			      sizeof(ri), NULL, 0, 10, NULL, &plen);
		{
			size_t w = wlen < 10 ? (size_t)wlen : 10;

			check((ret == -EIO && !plen) ||
			      (!ret && plen == w && !memcmp(replybuf, want, w)),
			      "READ of 4096 with room for 10 bytes: EIO or the first %zu bytes (error %d, %zu bytes)",
			      w, ret, plen);
		}
		rl.fh = oo.fh;
		ret = fuse_op(q1, &L_SIMPLE, FUSE_RELEASE, hello_node, &rl,
			      sizeof(rl), NULL, 0, 0, NULL, &plen);
		check(!ret && !plen, "RELEASE hello");
	}

	/* CREATE, 1 MiB WRITE in 256 4-KiB descriptors of an indirect table */
	{
		struct fuse_create_in ci = {
			.flags = O_RDWR | O_CREAT | O_EXCL, .mode = S_IFREG | 0644,
		};
		struct {
			struct fuse_entry_out e;
			struct fuse_open_out o;
		} co;
		struct fuse_write_in wi = { .size = MiB };
		struct fuse_write_out wo;
		struct fuse_read_in ri = { .size = MiB };
		struct fuse_release_in rl = { 0 };
		static char data[MiB], back[MiB];
		size_t len;
		struct fres r;

		memset(&co, 0, sizeof(co));
		ret = fuse_op(q1, &L_SPLIT, FUSE_CREATE, FUSE_ROOT_ID, &ci,
			      sizeof(ci), "vhost-big", 10, sizeof(co), &co, &plen);
		check(!ret && plen == sizeof(co) && co.e.nodeid,
		      "CREATE vhost-big (error %d)", ret);
		big_node = co.e.nodeid;

		fill_pattern(data, sizeof(data), 42);
		wi.fh = co.o.fh;
		len = fuse_in(FUSE_WRITE, big_node, &wi, sizeof(wi), data, MiB);
		r = fuse_xfer(q1, &L_IND_WRITE, len, OUT_HDR + sizeof(wo));
		ret = fres_check(&r);
		memcpy(&wo, replybuf, sizeof(wo));
		check(!ret && r.plen == sizeof(wo) && wo.size == MiB,
		      "WRITE 1 MiB in 256 4-KiB descriptors of an indirect table (258 entries): %u written",
		      !ret ? wo.size : 0);

		ri.fh = co.o.fh;
		len = fuse_in(FUSE_READ, big_node, &ri, sizeof(ri), NULL, 0);
		r = fuse_xfer(q1, &L_IND_READ, len, OUT_HDR + MiB);
		ret = fres_check(&r);
		check(!ret && r.plen == MiB && !memcmp(replybuf, data, MiB),
		      "READ 1 MiB back into 256 4-KiB writable descriptors: same bytes");

		snprintf(path, sizeof(path), "%s/vhost-big", dir);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		wlen = fd >= 0 ? pread(fd, back, sizeof(back), 0) : -1;
		if (fd >= 0)
			close(fd);
		check(wlen == MiB && !memcmp(back, data, MiB),
		      "the file in DIR has the 1 MiB written (read directly: %zd bytes)",
		      wlen);

		ret = fuse_getattr(q1, &L_IND, big_node, &ao);
		check(!ret && ao.attr.size == MiB && S_ISREG(ao.attr.mode),
		      "GETATTR vhost-big: size %llu", !ret ? (unsigned long long)ao.attr.size : 0);

		rl.fh = co.o.fh;
		ret = fuse_op(q1, &L_SIMPLE, FUSE_RELEASE, big_node, &rl,
			      sizeof(rl), NULL, 0, 0, NULL, &plen);
		check(!ret, "RELEASE vhost-big");
	}

	/* queue 2: rings in region 1, indices wrapping past 65535 */
	{
		struct chain *c[16];
		struct vq_used_elem e;
		uint64_t uniq[16];
		uint16_t head[16];
		bool seen[16] = { false }, good = true;
		unsigned int i, j, n = 0;

		arena_reset();
		q2->next_desc = 0;
		for (i = 0; i < 16; i++) {
			struct fuse_getattr_in gi = { 0 };
			size_t len = fuse_in(FUSE_GETATTR, FUSE_ROOT_ID, &gi,
					     sizeof(gi), NULL, 0);

			c[i] = ch_new();
			uniq[i] = ((struct fuse_in_header *)reqbuf)->unique;
			ch_readable(c[i], reqbuf, len, &SP_ONE);
			ch_writable(c[i], OUT_HDR + sizeof(ao), &SP_ONE);
			head[i] = vq_place(q2, c[i], M_DIRECT);
			vq_publish(q2, head[i]);
		}
		vq_kick(q2);
		while (n < 16 && !vq_wait(q2, &e, TMO)) {
			for (j = 0; j < 16 && head[j] != e.id; j++)
				;
			n++;
			if (j == 16 || seen[j]) {
				why("used entry for head %u: %s", e.id,
				    j == 16 ? "no such chain" : "twice");
				good = false;
				continue;
			}
			seen[j] = true;
			{
				struct fres r = { .head = head[j], .u = e,
						  .unique = uniq[j] };

				fres_fill(&r, c[j], OUT_HDR + sizeof(ao));
				if (fres_check(&r) || r.plen != sizeof(ao)) {
					why("head %u: bad reply", head[j]);
					good = false;
				}
			}
		}
		if (n < 16)
			why("%u of 16 answered", n);
		for (i = 0; i < 16; i++)
			free(c[i]);
		check(good && n == 16,
		      "16 GETATTRs at once on queue 2 (rings in region 1, indices wrap at 65535): all answered");
	}

	/* NO_INTERRUPT: used entries without a call */
	{
		struct fuse_getattr_in gi = { 0 };
		struct vq_used_elem e;
		struct chain *c = ch_new();
		struct timespec t0;
		uint16_t head, idx;
		uint64_t v;
		bool done = false;

		arena_reset();
		usleep(100000);		/* the calls of the requests before */
		vq_drain_call(q2);
		q2->avail->flags = VQ_AVAIL_F_NO_INTERRUPT;
		ch_readable(c, reqbuf, fuse_in(FUSE_GETATTR, FUSE_ROOT_ID, &gi,
					       sizeof(gi), NULL, 0), &SP_ONE);
		ch_writable(c, OUT_HDR + sizeof(ao), &SP_ONE);
		head = vq_place(q2, c, M_DIRECT);
		vq_publish(q2, head);
		vq_kick(q2);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (ms_since(&t0) < TMO) {
			idx = __atomic_load_n(&q2->used->idx, __ATOMIC_ACQUIRE);
			if (idx != q2->used_idx) {
				done = true;
				break;
			}
			usleep(1000);
		}
		usleep(100000);
		v = 0;
		done = done && read(q2->call, &v, sizeof(v)) < 0 && errno == EAGAIN;
		check(done, "avail.flags NO_INTERRUPT: answered without a call (eventfd count %llu)",
		      (unsigned long long)v);
		if (__atomic_load_n(&q2->used->idx, __ATOMIC_ACQUIRE) != q2->used_idx)
			done = true;
		if (done)
			vq_wait(q2, &e, 0);
		q2->avail->flags = 0;
		free(c);
	}

	/* names that would leave DIR */
	{
		static const char *const bad[] = {
			"..", ".", "../outside", "a/b", "/etc", "../", "..//..",
		};
		struct fuse_create_in ci = {
			.flags = O_RDWR | O_CREAT | O_EXCL, .mode = S_IFREG | 0644,
		};
		char parent[4000], *slash;
		struct stat st;
		unsigned int i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(&eo, 0, sizeof(eo));
			ret = fuse_lookup(q1, &L_SIMPLE, FUSE_ROOT_ID, bad[i], &eo);
			check(ret < 0, "LOOKUP \"%s\" from the root: refused (error %d)",
			      bad[i], ret);
		}
		/* a name without its NUL */
		ret = fuse_op(q1, &L_SIMPLE, FUSE_LOOKUP, FUSE_ROOT_ID, "hello",
			      5, NULL, 0, sizeof(eo), &eo, &plen);
		check(ret < 0, "LOOKUP of a name without its NUL: refused (error %d)",
		      ret);
		ret = fuse_op(q1, &L_SIMPLE, FUSE_CREATE, FUSE_ROOT_ID, &ci,
			      sizeof(ci), "../vhost-escape", 16,
			      sizeof(eo) + sizeof(oo), NULL, &plen);
		snprintf(parent, sizeof(parent), "%s", dir);
		slash = strrchr(parent, '/');
		if (slash && slash != parent)
			*slash = 0;
		snprintf(path, sizeof(path), "%s/vhost-escape", parent);
		check(ret < 0 && lstat(path, &st) && errno == ENOENT,
		      "CREATE \"../vhost-escape\": refused (error %d), nothing created beside DIR",
		      ret);
	}

	/* FORGET and BATCH_FORGET on the hiprio queue: used len 0 */
	{
		struct fuse_forget_in fi = { .nlookup = 1 };
		struct {
			struct fuse_batch_forget_in b;
			struct fuse_forget_one one;
		} bf = { { .count = 1 }, { .nodeid = big_node, .nlookup = 1 } };
		struct fres r;

		r = fuse_xfer(q0, &L_SIMPLE, fuse_in(FUSE_FORGET, hello_node, &fi,
						     sizeof(fi), NULL, 0), 0);
		check(!r.rc && r.u.len == 0,
		      "FORGET on queue 0 (hiprio): given back, used len 0 (%s %u)",
		      r.rc ? "none," : "len", r.u.len);
		r = fuse_xfer(q0, &L_SIMPLE, fuse_in(FUSE_BATCH_FORGET, 0, &bf,
						     sizeof(bf), NULL, 0), 0);
		check(!r.rc && r.u.len == 0,
		      "BATCH_FORGET on queue 0: given back, used len 0 (%s %u)",
		      r.rc ? "none," : "len", r.u.len);
	}
}

/* ------------------------------------------------------- hostile part */

static void q1_restart(void);
static void enable_toggle(void);

/* After each attack: a good GETATTR on queue 1 still answers. */
static void still_alive(const char *after)
{
	bool good = root_ok(&vqs[1]);

	check(good, "after %s: a GETATTR on queue 1 answers", after);
	if (!good)
		q1_restart();
}

/* Queue 1 lost: stop it and set it up again, to go on testing. */
static void q1_restart(void)
{
	struct vq *q = &vqs[1];
	uint32_t next;

	note("restarting queue 1");
	if (!vq_get_base(q, &next))
		bail("GET_VRING_BASE of queue 1 (restart after a failure)");
	vq_layout(q, 1, g2h(Q1_GPA, 3 * 4096), QSIZE, 0);
	if (!vq_start(q, 0))
		bail("restart queue 1");
}

/* Chain @d (raw, head 0) on queue 1 must come back {0, len 0}. */
static void expect_empty(const struct vq_desc *d, unsigned int n, const char *what)
{
	struct vq *q = &vqs[1];
	struct vq_used_elem e = { 0, 0 };
	uint16_t head = vq_place_raw(q, d, n);
	int rc;

	vq_publish(q, head);
	vq_kick(q);
	rc = vq_wait_head(q, head, &e, TMO);
	if (!rc && e.len)
		why("used len %u", e.len);
	check(!rc && !e.len, "%s: given back with used len 0", what);
	still_alive(what);
}

#define REAL_LEN	(~0ull)

/*
 * A GETATTR request of the root at guest physical @gpa, saying it is
 * @in_len bytes long (REAL_LEN: its length); its length.
 */
static uint32_t getattr_at(uint64_t gpa, uint64_t in_len)
{
	struct fuse_getattr_in gi = { 0 };
	size_t len = fuse_in(FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi), NULL, 0);

	((struct fuse_in_header *)reqbuf)->len = in_len == REAL_LEN ? len : in_len;
	memcpy(g2h(gpa, len), reqbuf, len);
	return len;
}

#define D(a, l, f, nx) ((struct vq_desc){ .addr = (a), .len = (l), .flags = (f), .next = (nx) })
#define RD		0
#define WR		VQ_DESC_F_WRITE
#define NX		VQ_DESC_F_NEXT
#define IND		VQ_DESC_F_INDIRECT
#define ROOM		(OUT_HDR + sizeof(struct fuse_attr_out))

static void hostile_chains(void)
{
	struct vq_desc d[8], t[8];
	uint64_t req, room, tab;
	uint32_t len;

	hpos = HOSTILE_START;
	req = halloc(256);
	room = halloc(4096);
	len = getattr_at(req, REAL_LEN);

	d[0] = D(req, len, RD | NX, 300);
	expect_empty(d, 1, "descriptor next index 300 >= queue size 256");
	d[0] = D(req, len, RD | NX, 256);
	expect_empty(d, 1, "descriptor next index 256 == queue size");

	getattr_at(req, REAL_LEN);
	d[0] = D(req, len, RD | NX, 1);
	d[1] = D(req, 8, RD | NX, 0);
	expect_empty(d, 2, "a loop of two readable descriptors (0 -> 1 -> 0)");
	d[0] = D(req, len, RD | NX, 0);
	expect_empty(d, 1, "a descriptor that is its own next (chain longer than the queue)");

	getattr_at(req, REAL_LEN);
	d[0] = D(40 * MiB, len, RD | NX, 1);
	d[1] = D(room, ROOM, WR, 0);
	expect_empty(d, 2, "readable descriptor in the hole between the regions (40 MiB)");
	d[0] = D(gend(1), len, RD | NX, 1);
	expect_empty(d, 2, "readable descriptor just past the end of guest memory");
	d[0] = D(~0ull - 7, 16, RD | NX, 1);
	expect_empty(d, 2, "readable descriptor at 2^64-8, len 16 (addr+len wraps)");
	d[0] = D(req, len, RD | NX, 1);
	d[1] = D(gend(0) - 8, ROOM, WR, 0);
	expect_empty(d, 2, "writable descriptor crossing the end of region 0 into the hole");
	d[1] = D(~0ull - 15, ROOM, WR, 0);
	expect_empty(d, 2, "writable descriptor at 2^64-16 (addr+len wraps)");

	d[0] = D(gend(1) - 1, len, RD | NX, 1);
	d[1] = D(room, ROOM, WR, 0);
	expect_empty(d, 2, "readable descriptor at the last byte of guest memory, len 56 crossing the end");
	d[0] = D(gend(0) - 1, 2, RD | NX, 1);
	expect_empty(d, 2, "readable descriptor at the last byte of region 0, len 2");
	d[0] = D(req, len, RD | NX, 1);
	d[1] = D(gend(1) - 1, ROOM, WR, 0);
	expect_empty(d, 2, "writable descriptor at the last byte of guest memory, len 120");

	d[0] = D(0x1000, 0xffffffffu, RD | NX, 1);
	d[1] = D(room, ROOM, WR, 0);
	expect_empty(d, 2, "readable descriptor of len 2^32-1");
	getattr_at(req, REAL_LEN);
	d[0] = D(req, len, RD | NX, 1);
	d[1] = D(room, 0xffffffffu, WR, 0);
	expect_empty(d, 2, "writable descriptor of len 2^32-1");

	d[0] = D(req, len, RD | NX, 1);
	d[1] = D(room, ROOM, WR | NX, 2);
	d[2] = D(req, 8, RD, 0);
	expect_empty(d, 3, "readable descriptor after a writable one");

	/* indirect tables */
	t[0] = D(req, len, RD | NX, 1);
	t[1] = D(room, ROOM, WR, 0);
	tab = put_table(t, 2);
	d[0] = D(tab, 32, IND | NX, 1);
	d[1] = D(room, ROOM, WR, 0);
	expect_empty(d, 2, "INDIRECT descriptor with NEXT");

	tab = put_table(t, 2);
	t[2] = D(tab, 32, IND, 0);
	d[0] = D(put_table(t + 2, 1), 16, IND, 0);
	expect_empty(d, 1, "an indirect table whose only entry is INDIRECT");
	t[2] = D(req, len, RD | NX, 1);
	t[3] = D(tab, 32, IND, 0);
	d[0] = D(put_table(t + 2, 2), 32, IND, 0);
	expect_empty(d, 1, "an INDIRECT entry after a good one in an indirect table");

	tab = put_table(t, 2);
	d[0] = D(tab, 0, IND, 0);
	expect_empty(d, 1, "indirect table of len 0");
	d[0] = D(tab, 24, IND, 0);
	expect_empty(d, 1, "indirect table of len 24 (not a multiple of 16)");
	d[0] = D(tab, 15, IND, 0);
	expect_empty(d, 1, "indirect table of len 15");
	d[0] = D(48 * MiB, 32, IND, 0);
	expect_empty(d, 1, "indirect table outside guest memory");
	d[0] = D(gend(1) - 16, 32, IND, 0);
	expect_empty(d, 1, "indirect table crossing the end of guest memory");
	d[0] = D(tab, 0xfffffff0u, IND, 0);
	expect_empty(d, 1, "indirect table of len 0xfffffff0");

	t[0] = D(req, len, RD | NX, 1);
	t[1] = D(req, 8, RD | NX, 0);
	d[0] = D(put_table(t, 2), 32, IND, 0);
	expect_empty(d, 1, "a loop of two readable entries in an indirect table (0 -> 1 -> 0)");
	t[1] = D(room, ROOM, WR | NX, 2);
	d[0] = D(put_table(t, 2), 32, IND, 0);
	expect_empty(d, 1, "indirect entry next index 2 in a table of 2");
	t[1] = D(room, ROOM, WR | NX, 65535);
	d[0] = D(put_table(t, 2), 32, IND, 0);
	expect_empty(d, 1, "indirect entry next index 65535");
	t[0] = D(req, len, RD | NX, 1);
	t[1] = D(room, ROOM, WR, 0);
	t[2] = D(req, 8, RD, 0);
	t[1].flags |= NX;
	t[1].next = 2;
	d[0] = D(put_table(t, 3), 48, IND, 0);
	expect_empty(d, 1, "indirect table: readable entry after a writable one");
	t[0] = D(~0ull - 7, 16, RD | NX, 1);
	t[1] = D(room, ROOM, WR, 0);
	d[0] = D(put_table(t, 2), 32, IND, 0);
	expect_empty(d, 1, "indirect table entry at 2^64-8 (wraps)");
}

/* A request that must be answered with an out header of error @err. */
static void expect_error(struct vq *q, const struct vq_desc *d, unsigned int n,
			 uint64_t unique, int err, const char *what)
{
	struct vq_used_elem e = { 0, 0 };
	struct fuse_out_header oh = { 0 };
	uint16_t head = vq_place_raw(q, d, n);
	int rc;
	unsigned int i;

	vq_publish(q, head);
	vq_kick(q);
	rc = vq_wait_head(q, head, &e, TMO);
	for (i = 0; i < n; i++)
		if (d[i].flags & WR) {
			memcpy(&oh, g2h(d[i].addr, OUT_HDR), OUT_HDR);
			break;
		}
	if (!rc && (e.len != OUT_HDR || oh.len != OUT_HDR || oh.error != err ||
		    oh.unique != unique))
		why("used len %u, out header {len %u, error %d, unique %llu}, want {16, %d, %llu}",
		    e.len, oh.len, oh.error, (unsigned long long)oh.unique, err,
		    (unsigned long long)unique);
	check(!rc && e.len == OUT_HDR && oh.len == OUT_HDR && oh.error == err &&
	      oh.unique == unique, "%s: an out header with error %d (used len 16)",
	      what, err);
	still_alive(what);
}

static uint64_t last_unique(void)
{
	return ((struct fuse_in_header *)reqbuf)->unique;
}

static void hostile_requests(void)
{
	struct vq *q0 = &vqs[0], *q1 = &vqs[1];
	struct vq_desc d[8];
	uint64_t req, room, room2;
	uint32_t len;
	struct vq_used_elem e;

	hpos = HOSTILE_START;
	req = halloc(256);
	room = halloc(4096);

	/* too little room for the out header */
	len = getattr_at(req, REAL_LEN);
	d[0] = D(req, len, RD | NX, 1);
	d[1] = D(room, 8, WR, 0);
	expect_empty(d, 2, "GETATTR with 8 writable bytes");
	len = getattr_at(req, REAL_LEN);
	d[1] = D(room, 15, WR, 0);
	expect_empty(d, 2, "GETATTR with 15 writable bytes");
	len = getattr_at(req, REAL_LEN);
	d[0] = D(req, len, RD, 0);
	expect_empty(d, 1, "GETATTR without writable descriptors");

	/* a reply that does not fit */
	len = getattr_at(req, REAL_LEN);
	d[0] = D(req, len, RD | NX, 1);
	d[1] = D(room, OUT_HDR, WR, 0);
	expect_error(q1, d, 2, last_unique(), -EIO,
		     "GETATTR with room for the out header only");
	len = getattr_at(req, REAL_LEN);
	d[1] = D(room, ROOM - 1, WR, 0);
	expect_error(q1, d, 2, last_unique(), -EIO,
		     "GETATTR with room for all but one byte of its reply");

	/* in.len lies */
	len = getattr_at(req, IN_HDR + sizeof(struct fuse_getattr_in) + 8);
	d[0] = D(req, len, RD | NX, 1);
	d[1] = D(room, ROOM, WR, 0);
	expect_error(q1, d, 2, last_unique(), -EIO, "in.len 8 more than the readable bytes");
	getattr_at(req, IN_HDR + sizeof(struct fuse_getattr_in) - 8);
	expect_error(q1, d, 2, last_unique(), -EIO, "in.len 8 less than the readable bytes");
	getattr_at(req, 0xffffffffu);
	expect_error(q1, d, 2, last_unique(), -EIO, "in.len 2^32-1");
	getattr_at(req, 0);
	expect_error(q1, d, 2, last_unique(), -EIO, "in.len 0");
	getattr_at(req, IN_HDR - 1);
	expect_error(q1, d, 2, last_unique(), -EIO, "in.len 39 (less than an in header)");

	/* readable part shorter than an in header, or none at all */
	getattr_at(req, REAL_LEN);
	d[0] = D(req, 20, RD | NX, 1);
	d[1] = D(room, ROOM, WR, 0);
	{
		uint16_t head = vq_place_raw(q1, d, 2);
		bool good;

		vq_publish(q1, head);
		vq_kick(q1);
		good = !vq_wait_head(q1, head, &e, TMO) &&
		       (e.len == 0 || e.len == OUT_HDR);
		check(good, "readable part of 20 bytes (less than an in header): given back (used len %u)",
		      e.len);
		still_alive("a 20-byte request");
	}
	d[0] = D(room, ROOM, WR, 0);
	{
		uint16_t head = vq_place_raw(q1, d, 1);
		bool good;

		vq_publish(q1, head);
		vq_kick(q1);
		good = !vq_wait_head(q1, head, &e, TMO) && e.len == 0;
		check(good, "a chain with no readable descriptor: given back, used len 0 (%u)",
		      e.len);
		still_alive("a chain with no readable descriptor");
	}

	/* a request ending at the last byte of guest memory: good */
	len = getattr_at(gend(1) - (IN_HDR + sizeof(struct fuse_getattr_in)), REAL_LEN);
	room2 = gend(0) - ROOM;
	d[0] = D(gend(1) - len, len, RD | NX, 1);
	d[1] = D(room2, ROOM, WR, 0);
	{
		struct fuse_out_header oh;
		uint16_t head = vq_place_raw(q1, d, 2);
		int rc;

		vq_publish(q1, head);
		vq_kick(q1);
		rc = vq_wait_head(q1, head, &e, TMO);
		memcpy(&oh, g2h(room2, OUT_HDR), OUT_HDR);
		check(!rc && e.len == ROOM && oh.error == 0 && oh.unique == last_unique(),
		      "GETATTR in the last bytes of region 1, its reply in the last bytes of region 0: answered (len %u, error %d)",
		      e.len, oh.error);
	}

	/* len 0 descriptors among good ones */
	len = getattr_at(req, REAL_LEN);
	d[0] = D(req, len, RD | NX, 1);
	d[1] = D(0x1000, 0, RD | NX, 2);
	d[2] = D(room, 0, WR | NX, 3);
	d[3] = D(room, ROOM, WR, 0);
	{
		struct fuse_out_header oh;
		uint16_t head = vq_place_raw(q1, d, 4);
		int rc;

		memset(g2h(room, ROOM), 0xee, ROOM);
		vq_publish(q1, head);
		vq_kick(q1);
		rc = vq_wait_head(q1, head, &e, TMO);
		memcpy(&oh, g2h(room, OUT_HDR), OUT_HDR);
		check(!rc && ((e.len == ROOM && !oh.error) || e.len == 0),
		      "len 0 descriptors (one readable, one writable) in a GETATTR: given back (used len %u%s)",
		      e.len, e.len ? ", answered" : ", refused");
		still_alive("len 0 descriptors");
	}
	d[0] = D(~0ull, 0, RD, 0);
	{
		uint16_t head = vq_place_raw(q1, d, 1);
		bool good;

		vq_publish(q1, head);
		vq_kick(q1);
		good = !vq_wait_head(q1, head, &e, TMO) && e.len == 0;
		check(good, "a single len 0 descriptor at 2^64-1: given back, used len 0 (%u)", e.len);
		still_alive("a len 0 descriptor at 2^64-1");
	}

	/* far more readable bytes than any request: 4096 x 64 KiB = 256 MiB */
	{
		struct vq_desc *t = calloc(4096, sizeof(*t));
		uint64_t buf, tab;
		unsigned int i;

		if (!t)
			bail("out of memory");
		arena_reset();
		buf = galloc(64 * 1024);
		len = getattr_at(buf, 4095u * 64 * 1024);
		for (i = 0; i < 4095; i++)
			t[i] = D(buf, 64 * 1024, RD | NX, i + 1);
		t[4095] = D(galloc(ROOM), ROOM, WR, 0);
		tab = galloc(4096 * 16);
		memcpy(g2h(tab, 4096 * 16), t, 4096 * 16);
		d[0] = D(tab, 4096 * 16, IND, 0);
		{
			uint16_t head = vq_place_raw(q1, d, 1);
			bool good;

			vq_publish(q1, head);
			vq_kick(q1);
			good = !vq_wait_head(q1, head, &e, TMO) && e.len <= OUT_HDR;
			check(good,
			      "4095 readable descriptors of 64 KiB (256 MiB, in.len says so): refused (used len %u)",
			      e.len);
		}
		free(t);
		still_alive("a 256 MiB request");

		arena_reset();
		buf = galloc(16 * MiB);
		len = getattr_at(buf, 16 * MiB);
		d[0] = D(buf, 16 * MiB, RD | NX, 1);
		d[1] = D(galloc(ROOM), ROOM, WR, 0);
		{
			uint16_t head = vq_place_raw(q1, d, 2);
			bool good;

			vq_publish(q1, head);
			vq_kick(q1);
			good = !vq_wait_head(q1, head, &e, TMO) && e.len <= OUT_HDR;
			check(good,
			      "one readable descriptor of 16 MiB (in.len says so): refused (used len %u)",
			      e.len);
		}
		still_alive("a 16 MiB request");
	}

	/* requests without a reply, on a request queue; one on hiprio */
	{
		struct fuse_forget_in fi = { .nlookup = 0 };
		struct fuse_interrupt_in ii = { .unique = 999999 };
		struct fres r;

		r = fuse_xfer(q1, &L_SIMPLE, fuse_in(FUSE_FORGET, 123456, &fi,
						     sizeof(fi), NULL, 0), ROOM);
		check(!r.rc && r.u.len == 0,
		      "FORGET of an unknown node on request queue 1: given back, used len 0 (%u)",
		      r.u.len);
		r = fuse_xfer(q1, &L_SIMPLE, fuse_in(FUSE_INTERRUPT, 0, &ii,
						     sizeof(ii), NULL, 0), ROOM);
		check(!r.rc && r.u.len == 0,
		      "INTERRUPT of no request on queue 1: given back, used len 0 (%u)",
		      r.u.len);
		r = fuse_xfer(q1, &L_SIMPLE, fuse_in(FUSE_FORGET, 123456, &fi,
						     4, NULL, 0), ROOM);
		check(!r.rc && r.u.len == 0,
		      "FORGET with a short argument on queue 1: given back, used len 0 (%u)",
		      r.u.len);
		struct fuse_getattr_in gi = { 0 };

		r = fuse_xfer(q0, &L_SIMPLE, fuse_in(FUSE_GETATTR, FUSE_ROOT_ID,
						     &gi, sizeof(gi), NULL, 0),
			      ROOM);
		check(!r.rc && (r.u.len == 0 || fres_check(&r) <= 0),
		      "GETATTR on the hiprio queue: given back (used len %u)", r.u.len);
		still_alive("no-reply requests");
	}

	/* protocol-level FUSE oddities */
	{
		struct fuse_init_out io;
		size_t plen;
		int ret;

		ret = fuse_op(q1, &L_SIMPLE, 9999, FUSE_ROOT_ID, NULL, 0, NULL, 0,
			      64, NULL, &plen);
		check(ret == -ENOSYS, "FUSE opcode 9999: ENOSYS (%d)", ret);
		/* the guest's driver starting over: refused, or a new session */
		memset(&io, 0, sizeof(io));
		ret = fuse_init(q1, &io);
		check(ret < 0 || (!ret && io.major == 7 && io.minor == 31),
		      "a second FUSE_INIT: %s (%d)",
		      ret ? "an error" : "answered 7.31, a new session", ret);
		check(root_ok(q1), "after the second FUSE_INIT: the root answers");
		ret = fuse_op(q1, &L_SIMPLE, FUSE_GETATTR, 0xdeadbeefull, "x", 1,
			      NULL, 0, sizeof(struct fuse_attr_out), NULL, &plen);
		check(ret < 0 && ret != 1, "GETATTR with a short argument of an unknown node: an error (%d)",
		      ret);
	}

	/* a full ring: 256 GETATTRs at once, one indirect descriptor each */
	{
		static struct chain *c[QSIZE];
		static uint64_t uniq[QSIZE];
		static bool seen[QSIZE];
		unsigned int i, n = 0, bad = 0;

		arena_reset();
		q1->next_desc = 0;
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < QSIZE; i++) {
			struct fuse_getattr_in gi = { 0 };
			size_t l = fuse_in(FUSE_GETATTR, FUSE_ROOT_ID, &gi,
					   sizeof(gi), NULL, 0);

			c[i] = ch_new();
			uniq[i] = last_unique();
			ch_readable(c[i], reqbuf, l, &SP_ONE);
			ch_writable(c[i], ROOM, &SP_ONE);
			if (vq_place(q1, c[i], M_INDIRECT) != i)
				bail("test bug: full ring placement");
			vq_publish(q1, i);
		}
		vq_kick(q1);
		while (n < QSIZE && !vq_wait(q1, &e, TMO)) {
			struct fres r = { .head = e.id, .u = e };

			n++;
			if (e.id >= QSIZE || seen[e.id]) {
				why("used id %u", e.id);
				bad++;
				continue;
			}
			seen[e.id] = true;
			r.unique = uniq[e.id];
			fres_fill(&r, c[e.id], ROOM);
			if (fres_check(&r)) {
				bad++;
			}
		}
		for (i = 0; i < QSIZE; i++)
			free(c[i]);
		check(n == QSIZE && !bad,
		      "a full ring: 256 GETATTRs published at once, all answered (%u, %u bad)",
		      n, bad);
	}
}

/* head >= num: queue 1 stops, queue 2 goes on; GET_VRING_BASE, restarts */
static void hostile_heads(void)
{
	struct vq *q1 = &vqs[1], *q2 = &vqs[2];
	struct vq_used_elem e;
	struct fres r;
	struct fuse_getattr_in gi = { 0 };
	uint32_t next = 0;
	uint16_t want;
	bool good;

	vq_publish(q1, QSIZE);		/* head 256 of a queue of 256 */
	vq_kick(q1);
	good = vq_wait(q1, &e, SHORT_TMO) == -ETIMEDOUT;
	check(good, "head index 256 in queue 1's avail ring: no used entry for it");
	xfer_tmo = SHORT_TMO;
	r = fuse_xfer(q1, &L_SIMPLE, fuse_in(FUSE_GETATTR, FUSE_ROOT_ID, &gi,
					     sizeof(gi), NULL, 0), ROOM);
	xfer_tmo = TMO;
	if (!r.rc)
		why("queue 1 still answered after head 256");
	check(r.rc == -ETIMEDOUT, "after head 256: queue 1 has stopped");
	detail[0] = 0;
	check(root_ok(q2), "after head 256 on queue 1: queue 2 still answers");
	check(root_ok(q2), "and again (queue 2)");

	want = q2->avail_idx;
	good = vq_get_base(q2, &next);
	check(good && next == want,
	      "GET_VRING_BASE 2: index 2, next avail index %u (want %u, wrapped past 65535)",
	      next, want);
	vq_layout(q2, 2, g2h(Q2_GPA, 3 * 4096), QSIZE, (uint16_t)next);
	check(vq_start(q2, 1) && root_ok(q2),
	      "queue 2 restarted (SET_VRING_BASE %u): answers", next);

	good = vq_get_base(q1, &next);
	check(good, "GET_VRING_BASE 1 (the stopped queue): replies (next avail %u)", next);
	vq_layout(q1, 1, g2h(Q1_GPA, 3 * 4096), QSIZE, 0);
	check(vq_start(q1, 0) && root_ok(q1), "queue 1 set up again after it stopped: answers");

	/* the avail index running ahead by more than the queue size */
	q1->avail_idx += QSIZE + 1;
	__atomic_store_n(&q1->avail->idx, q1->avail_idx, __ATOMIC_RELEASE);
	vq_kick(q1);
	good = vq_wait(q1, &e, SHORT_TMO) == -ETIMEDOUT;
	check(good, "avail index 257 ahead of used on queue 1: nothing served from it (used {%u, %u})",
	      good ? 0 : e.id, good ? 0 : e.len);
	check(root_ok(q2), "after that: queue 2 still answers");
	{
		struct fuse_forget_in fi = { .nlookup = 0 };

		r = fuse_xfer(&vqs[0], &L_SIMPLE, fuse_in(FUSE_FORGET, 123456, &fi,
							  sizeof(fi), NULL, 0), 0);
		check(!r.rc && !r.u.len, "and queue 0 (hiprio) still gives FORGETs back (len %u)",
		      r.u.len);
	}
}

/* SET_VRING_ENABLE 0 holds a queue's requests, 1 serves them. */
static void enable_toggle(void)
{
	struct vq *q = &vqs[2];
	struct vu_vring_state off = { 2, 0 }, on = { 2, 1 };
	struct fuse_getattr_in gi = { 0 };
	struct vq_used_elem e;
	struct chain *c = ch_new();
	uint16_t head;
	bool good;
	int rc;

	good = vu_set_ok(VU_SET_VRING_ENABLE, &off, 8, NULL, 0, "SET_VRING_ENABLE 0");
	check(good, "SET_VRING_ENABLE 2 off: ack 0");
	arena_reset();
	ch_readable(c, reqbuf, fuse_in(FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi),
				       NULL, 0), &SP_ONE);
	ch_writable(c, ROOM, &SP_ONE);
	head = vq_place(q, c, M_DIRECT);
	free(c);
	vq_publish(q, head);
	vq_kick(q);
	rc = vq_wait(q, &e, SHORT_TMO);
	check(rc == -ETIMEDOUT, "a request on disabled queue 2 is not served");
	good = vu_set_ok(VU_SET_VRING_ENABLE, &on, 8, NULL, 0, "SET_VRING_ENABLE 1");
	rc = rc ? vq_wait_head(q, head, &e, TMO) : 0;
	check(good && !rc && e.len == ROOM,
	      "SET_VRING_ENABLE 2 on: the waiting request is served (used len %u)",
	      rc ? 0 : e.len);
}

static void main_run(void)
{
	struct vq *q0 = &vqs[0], *q1 = &vqs[1], *q2 = &vqs[2];
	bool good;

	connect_backend();
	if (!handshake(true))
		bail("handshake failed: nothing else can be tested");
	check(set_mem_table(), "SET_MEM_TABLE: two regions of 32 MiB (guest 0 and 1 GiB, one memfd at offsets 0 and 32 MiB): ack 0");
	vq_layout(q0, 0, g2h(Q0_GPA, 3 * 4096), QSIZE, 0);
	vq_layout(q1, 1, g2h(Q1_GPA, 3 * 4096), QSIZE, 0);
	vq_layout(q2, 2, g2h(Q2_GPA, 3 * 4096), QSIZE, Q2_BASE);
	good = vq_start(q0, 0);
	good = check(good && vq_start(q1, 0),
		     "queues 0 and 1 set up: NUM 256, BASE, ADDR, CALL, KICK, ENABLE, each ack 0");
	if (!good)
		bail("queues not set up");
	good = check(vq_start(q2, 1),
		     "queue 2 set up in another order (ADDR, BASE %u, ENABLE, KICK, CALL), rings in region 1",
		     Q2_BASE);
	if (!good)
		bail("queue 2 not set up");

	check(backend_idle(1000), "with three idle queues mqfused does not spin (CPU over 1 s)");
	functional();
	enable_toggle();
	hostile_chains();
	hostile_requests();
	hostile_heads();
	q1_restart();
	check(backend_idle(1000), "after all that, idle mqfused does not spin (CPU over 1 s)");

	/* as QEMU does when the guest's memory changes: the queues go on */
	check(set_mem_table(), "SET_MEM_TABLE again while queues run: ack 0");
	check(root_ok(q1) && root_ok(q2),
	      "after the new memory table: queues 1 and 2 answer without being set up again");
}

/* --------------------------------------------------- protocol cases */

/* After a refused message: the back-end still serves (memory, queue 1). */
static void serve_check(const char *name, bool mem)
{
	struct fuse_init_out io;
	struct vq *q1 = &vqs[1];
	bool good = true;

	if (mem)
		good = set_mem_table();
	vq_layout(q1, 1, g2h(Q1_GPA, 3 * 4096), QSIZE, 0);
	good = good && vq_start(q1, 0);
	good = good && !fuse_init(q1, &io) && root_ok(q1);
	check(good, "%s: the back-end still serves (memory table, queue 1, INIT, GETATTR)",
	      name);
}

/* The message was sent: the back-end must end the connection. */
static void expect_close(const char *name, const char *what)
{
	check(vu_wait_close(5000) == 1, "%s: %s: the back-end closes the connection", name, what);
}

/*
 * A message sent with NEED_REPLY that is to be refused: a nonzero ack and
 * the back-end goes on, or (@may_close) the connection closed.  Returns
 * 1 refused, 0 closed, -1 accepted (ack 0), -2 other.
 */
static int refused(const char *name, const char *what, bool may_close)
{
	struct vu_hdr h;
	union vu_payload p;
	int ret = vu_recv(&h, &p, sizeof(p), 5000);

	if (ret == -EPIPE && may_close) {
		check(true, "%s: %s: the back-end closes the connection", name, what);
		return 0;
	}
	if (ret) {
		why("%s", err_name(ret));
		check(false, "%s: %s: refused with a nonzero ack", name, what);
		return -2;
	}
	if (h.flags != (VU_VERSION | VU_FLAG_REPLY) || h.size != 8) {
		why("reply request %u flags 0x%x size %u", h.request, h.flags, h.size);
		check(false, "%s: %s: refused with a nonzero ack", name, what);
		return -2;
	}
	if (!p.u64)
		why("ack 0: accepted");
	check(p.u64 != 0, "%s: %s: refused with a nonzero ack (%llu)", name, what,
	      (unsigned long long)p.u64);
	return p.u64 ? 1 : -1;
}

static void start_case(void)
{
	connect_backend();
	if (!handshake(false))
		bail("handshake");
}

static void start_case_mem(void)
{
	start_case();
	if (!set_mem_table())
		bail("SET_MEM_TABLE");
}

static void c_close_at_once(const char *name)
{
	connect_backend();
	check(true, "%s: connected; closing without a message", name);
}

static void c_unknown(const char *name)
{
	start_case();
	vu_send(9999, VU_VERSION, NULL, 0, NULL, 0);
	expect_close(name, "request code 9999");
}

static void c_short_num(const char *name)
{
	struct vu_vring_state st = { 1, 256 };

	start_case();
	vu_send(VU_SET_VRING_NUM, VU_VERSION | VU_FLAG_NEED_REPLY, &st, 6, NULL, 0);
	expect_close(name, "SET_VRING_NUM with a 6-byte payload");
}

static void c_long_num(const char *name)
{
	char buf[16] = { 1 };

	start_case();
	vu_send(VU_SET_VRING_NUM, VU_VERSION | VU_FLAG_NEED_REPLY, buf, 16, NULL, 0);
	expect_close(name, "SET_VRING_NUM with a 16-byte payload");
}

static void c_get_features_payload(const char *name)
{
	uint64_t v = 0;

	start_case();
	vu_send(VU_GET_FEATURES, VU_VERSION, &v, 4, NULL, 0);
	expect_close(name, "GET_FEATURES with a 4-byte payload");
}

static void c_huge_size(const char *name)
{
	static char buf[sizeof(union vu_payload) + 8];

	start_case();
	vu_send(VU_SET_MEM_TABLE, VU_VERSION, buf, sizeof(buf), NULL, 0);
	expect_close(name, "SET_MEM_TABLE of sizeof(union vu_payload) + 8 bytes");
}

static void c_size_4g(const char *name)
{
	struct vu_hdr h = { VU_SET_FEATURES, VU_VERSION, 0xffffffffu };

	start_case();
	vu_send_raw(&h, NULL, 0, NULL, 0);
	expect_close(name, "a header with size 2^32-1 (no payload follows)");
}

static void c_version(const char *name, uint32_t flags)
{
	connect_backend();
	vu_send(VU_GET_FEATURES, flags, NULL, 0, NULL, 0);
	if (vu_wait_close(5000) == 1) {
		check(true, "%s: GET_FEATURES with flags 0x%x: the back-end closes the connection",
		      name, flags);
		return;
	}
	check(false, "%s: GET_FEATURES with flags 0x%x: the back-end closes the connection",
	      name, flags);
}

static void c_version0(const char *name)
{
	c_version(name, 0);
}

static void c_version2(const char *name)
{
	c_version(name, 2);
}

/* A memory table message with @nregions (claimed), @size, @nfds fds. */
static void send_mem(uint32_t nregions, uint32_t size, const int *fds,
		     unsigned int nfds, bool need_reply)
{
	static char buf[8 + 9 * sizeof(struct vu_mem_region)];
	struct vu_mem_region *r = (void *)(buf + 8);
	unsigned int i;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, &nregions, 4);
	for (i = 0; i < 9; i++) {
		r[i].guest_addr = i * 4 * MiB;
		r[i].size = 4 * MiB;
		r[i].user_addr = uaddr(gmem) + i * 4 * MiB;
		r[i].mmap_offset = i * 4 * MiB;
	}
	vu_send(VU_SET_MEM_TABLE, VU_VERSION | (need_reply ? VU_FLAG_NEED_REPLY : 0),
		buf, size, fds, nfds);
}

static void c_mem9(const char *name)
{
	int fds[8] = { memfd, memfd, memfd, memfd, memfd, memfd, memfd, memfd };

	start_case();
	send_mem(9, 8 + 9 * sizeof(struct vu_mem_region), fds, 8, true);
	expect_close(name, "SET_MEM_TABLE nregions 9 (296 bytes, more than the payload union)");
}

/* An invalid memory table: refused (then serves) or connection closed. */
static void mem_refused(const char *name, const char *what, uint32_t nregions,
			uint32_t size, const int *fds, unsigned int nfds)
{
	start_case();
	send_mem(nregions, size, fds, nfds, true);
	if (refused(name, what, true) == 1)
		serve_check(name, true);
}

static void c_mem9_fit(const char *name)
{
	int fds[8] = { memfd, memfd, memfd, memfd, memfd, memfd, memfd, memfd };

	mem_refused(name, "SET_MEM_TABLE nregions 9 in a payload of 8 regions", 9,
		    sizeof(struct vu_mem_table), fds, 8);
}

static void c_mem0(const char *name)
{
	mem_refused(name, "SET_MEM_TABLE nregions 0", 0, 8, NULL, 0);
}

static void c_mem_fewer(const char *name)
{
	int fds[1] = { memfd };

	mem_refused(name, "SET_MEM_TABLE 2 regions, 1 fd", 2,
		    8 + 2 * sizeof(struct vu_mem_region), fds, 1);
}

static void c_mem_more(const char *name)
{
	int fds[2] = { memfd, memfd };

	mem_refused(name, "SET_MEM_TABLE 1 region, 2 fds", 1,
		    8 + sizeof(struct vu_mem_region), fds, 2);
}

static void c_mem_nofd(const char *name)
{
	mem_refused(name, "SET_MEM_TABLE 1 region, no fd", 1,
		    8 + sizeof(struct vu_mem_region), NULL, 0);
}

static void c_mem_pipe(const char *name)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		bail("pipe: %s", strerror(errno));
	mem_refused(name, "SET_MEM_TABLE with a pipe for the region's fd", 1,
		    8 + sizeof(struct vu_mem_region), p, 1);
}

/*
 * A region the fd cannot back: the memory table says 32 MiB of a 64 KiB
 * memfd (or an mmap_offset that wraps size + offset).  Refused, or if
 * accepted, a chain that points past the file's end must not kill the
 * back-end (SIGBUS).
 */
static void mem_unbacked(const char *name, uint64_t size, uint64_t offset)
{
	struct vu_mem_table mt = { .nregions = 1 };
	int fd = memfd_create("vhost_hostile-small", MFD_CLOEXEC);
	char *small;
	struct vq q = { .kick = -1, .call = -1 };
	struct vu_hdr h;
	union vu_payload p;
	struct vq_used_elem e;
	uint64_t v;
	int r;

	if (fd < 0 || ftruncate(fd, 64 * 1024))
		bail("memfd: %s", strerror(errno));
	small = mmap(NULL, 64 * 1024, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (small == MAP_FAILED)
		bail("mmap: %s", strerror(errno));
	mt.regions[0].guest_addr = 0;
	mt.regions[0].size = size;
	mt.regions[0].user_addr = uaddr(small);
	mt.regions[0].mmap_offset = offset;
	start_case();
	vu_send(VU_SET_MEM_TABLE, VU_VERSION | VU_FLAG_NEED_REPLY, &mt,
		8 + sizeof(mt.regions[0]), &fd, 1);
	r = vu_recv(&h, &p, sizeof(p), 5000);
	if (r == -EPIPE) {
		check(true, "%s: the back-end closes the connection", name);
		return;
	}
	if (!r && h.size == 8 && p.u64) {
		check(true, "%s: refused (ack %llu)", name, (unsigned long long)p.u64);
		serve_check(name, true);
		return;
	}
	if (r || h.size != 8) {
		why("%s", r ? err_name(r) : "bad reply");
		check(false, "%s: SET_MEM_TABLE answered", name);
		return;
	}
	note("%s: SET_MEM_TABLE accepted (ack 0); using it", name);
	bail_on_close = false;
	/* rings in the first 12 KiB; a request past the file's end */
	vq_layout(&q, 1, small, QSIZE, 0);
	if (!vq_start(&q, 0)) {
		check(true, "%s: a ring in the region refused (%s)", name, detail);
		detail[0] = 0;
		return;
	}
	q.desc[0] = D(1 * MiB, 56, RD | NX, 1);
	q.desc[1] = D(16 * 1024, ROOM, WR, 0);
	vq_publish(&q, 0);
	vq_kick(&q);
	r = vq_wait(&q, &e, 3000);
	/* still there? */
	if (vu_get_u64(VU_GET_FEATURES, 0, &v)) {
		detail[0] = 0;
		why("the connection is gone: mqfused died (its exit status follows)");
		check(false, "%s: a chain past the end of the region's file: the back-end survives",
		      name);
	}
	else
		check(true, "%s: a chain past the end of the region's file: the back-end survives (%s)",
		      name, r ? "no used entry" : "given back");
}

static void c_mem_short_fd(const char *name)
{
	mem_unbacked(name, 32 * MiB, 0);
}

static void c_mem_offset_wrap(const char *name)
{
	mem_unbacked(name, 64 * 1024, (uint64_t)-4096);
}

static void c_num3(const char *name)
{
	struct vu_vring_state st = { 1, 3 };

	start_case_mem();
	vu_send(VU_SET_VRING_NUM, VU_VERSION | VU_FLAG_NEED_REPLY, &st, 8, NULL, 0);
	if (refused(name, "SET_VRING_NUM 3 (not a power of 2)", false) == 1)
		serve_check(name, false);
}

static void c_num_bad(const char *name)
{
	static const uint32_t nums[] = { 0, 65536, 32769, 0xffffffffu, 48 };
	unsigned int i;
	bool all = true;

	start_case_mem();
	for (i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		struct vu_vring_state st = { 1, nums[i] };
		char what[64];

		snprintf(what, sizeof(what), "SET_VRING_NUM %u", nums[i]);
		vu_send(VU_SET_VRING_NUM, VU_VERSION | VU_FLAG_NEED_REPLY, &st, 8,
			NULL, 0);
		all &= refused(name, what, false) == 1;
	}
	if (all)
		serve_check(name, false);
}

static void c_addr_outside(const char *name)
{
	struct vu_vring_state st = { 1, QSIZE };
	char *q1 = g2h(Q1_GPA, 3 * 4096);
	struct vu_vring_addr good = {
		.index = 1, .desc = uaddr(q1), .avail = uaddr(q1 + 4096),
		.used = uaddr(q1 + 8192),
	}, a;
	char *end = gmem + 2 * REG_SIZE;
	bool all = true;

	start_case_mem();
	vu_set_ok(VU_SET_VRING_NUM, &st, 8, NULL, 0, "SET_VRING_NUM");
	detail[0] = 0;

	a = good;
	a.desc = 0x1000;
	vu_send(VU_SET_VRING_ADDR, VU_VERSION | VU_FLAG_NEED_REPLY, &a, sizeof(a), NULL, 0);
	all &= refused(name, "SET_VRING_ADDR desc at 0x1000 (no region)", false) == 1;
	a = good;
	a.used = uaddr(end + 4096);
	vu_send(VU_SET_VRING_ADDR, VU_VERSION | VU_FLAG_NEED_REPLY, &a, sizeof(a), NULL, 0);
	all &= refused(name, "SET_VRING_ADDR used past the last region", false) == 1;
	a = good;
	a.avail = uaddr(end - 100);
	vu_send(VU_SET_VRING_ADDR, VU_VERSION | VU_FLAG_NEED_REPLY, &a, sizeof(a), NULL, 0);
	all &= refused(name, "SET_VRING_ADDR avail ring (518 bytes) crossing the end of memory", false) == 1;
	a = good;
	a.desc = uaddr(end - 2048);
	vu_send(VU_SET_VRING_ADDR, VU_VERSION | VU_FLAG_NEED_REPLY, &a, sizeof(a), NULL, 0);
	all &= refused(name, "SET_VRING_ADDR descriptor table (4 KiB) crossing the end of memory", false) == 1;
	a = good;
	a.used = ~0ull - 15;
	vu_send(VU_SET_VRING_ADDR, VU_VERSION | VU_FLAG_NEED_REPLY, &a, sizeof(a), NULL, 0);
	all &= refused(name, "SET_VRING_ADDR used at 2^64-16", false) == 1;
	if (all)
		serve_check(name, false);
}

/*
 * A ring that is inside the table but straddles two regions that are
 * contiguous in the front-end's address space (not in the back-end's):
 * refused, or if taken it must work.
 */
static void c_addr_straddle(const char *name)
{
	struct vq *q = &vqs[1];
	char *mid = gmem + REG_SIZE;
	struct vu_vring_state st = { 1, QSIZE };
	struct vu_vring_addr a;
	struct fuse_init_out io;
	uint64_t ack = 0;
	unsigned int i;
	bool good = true;

	start_case_mem();
	/* desc and used in region 0; avail from 100 bytes before its end */
	vq_layout(q, 1, g2h(Q1_GPA, 3 * 4096), QSIZE, 0);
	a = (struct vu_vring_addr){ .index = 1, .desc = uaddr(q->desc),
				    .used = uaddr(q->used), .avail = uaddr(mid - 100) };
	vu_set_ok(VU_SET_VRING_NUM, &st, 8, NULL, 0, "SET_VRING_NUM");
	detail[0] = 0;
	if (vu_set(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, &ack)) {
		check(false, "%s: SET_VRING_ADDR answered", name);
		return;
	}
	if (ack) {
		check(true, "%s: avail ring across the two regions: refused (ack %llu)",
		      name, (unsigned long long)ack);
		serve_check(name, false);
		return;
	}
	note("%s: avail ring across two regions accepted; it must work", name);
	q->avail = (void *)(mid - 100);
	memset(q->avail, 0, 6 + 2 * QSIZE);
	{
		uint64_t idx = 1;
		struct vu_vring_state base = { 1, 0 }, en = { 1, 1 };

		good = vu_set_ok(VU_SET_VRING_BASE, &base, 8, NULL, 0, "BASE") &&
		       vu_set_ok(VU_SET_VRING_CALL, &idx, 8, &q->call, 1, "CALL") &&
		       vu_set_ok(VU_SET_VRING_KICK, &idx, 8, &q->kick, 1, "KICK") &&
		       vu_set_ok(VU_SET_VRING_ENABLE, &en, 8, NULL, 0, "ENABLE");
	}
	good = good && !fuse_init(q, &io);
	/* ring entries from 47 on lie in region 1 */
	for (i = 0; good && i < 64; i++)
		good = root_ok(q);
	check(good, "%s: 64 requests through an avail ring across two regions", name);
}

static void c_index200(const char *name)
{
	struct vu_vring_state st = { 200, QSIZE };
	char *q1 = g2h(Q1_GPA, 3 * 4096);
	struct vu_vring_addr a = {
		.index = 200, .desc = uaddr(q1), .avail = uaddr(q1 + 4096),
		.used = uaddr(q1 + 8192),
	};
	int efd = eventfd(0, EFD_CLOEXEC);
	uint64_t idx;
	bool all = true;

	start_case_mem();
	vu_send(VU_SET_VRING_NUM, VU_VERSION | VU_FLAG_NEED_REPLY, &st, 8, NULL, 0);
	all &= refused(name, "SET_VRING_NUM index 200", false) == 1;
	vu_send(VU_SET_VRING_ADDR, VU_VERSION | VU_FLAG_NEED_REPLY, &a, sizeof(a), NULL, 0);
	all &= refused(name, "SET_VRING_ADDR index 200", false) == 1;
	st.num = 0;
	vu_send(VU_SET_VRING_BASE, VU_VERSION | VU_FLAG_NEED_REPLY, &st, 8, NULL, 0);
	all &= refused(name, "SET_VRING_BASE index 200", false) == 1;
	idx = 200;
	vu_send(VU_SET_VRING_KICK, VU_VERSION | VU_FLAG_NEED_REPLY, &idx, 8, &efd, 1);
	all &= refused(name, "SET_VRING_KICK index 200", false) == 1;
	vu_send(VU_SET_VRING_CALL, VU_VERSION | VU_FLAG_NEED_REPLY, &idx, 8, &efd, 1);
	all &= refused(name, "SET_VRING_CALL index 200", false) == 1;
	st.num = 1;
	vu_send(VU_SET_VRING_ENABLE, VU_VERSION | VU_FLAG_NEED_REPLY, &st, 8, NULL, 0);
	all &= refused(name, "SET_VRING_ENABLE index 200", false) == 1;
	st.index = VU_FS_MAX_QUEUES;
	st.num = QSIZE;
	vu_send(VU_SET_VRING_NUM, VU_VERSION | VU_FLAG_NEED_REPLY, &st, 8, NULL, 0);
	all &= refused(name, "SET_VRING_NUM index 65 (one past the last queue)", false) == 1;
	idx = VU_FS_MAX_QUEUES;
	vu_send(VU_SET_VRING_KICK, VU_VERSION | VU_FLAG_NEED_REPLY, &idx, 8, &efd, 1);
	all &= refused(name, "SET_VRING_KICK index 65", false) == 1;
	close(efd);
	st.index = VU_FS_MAX_QUEUES - 1;
	check(vu_set_ok(VU_SET_VRING_NUM, &st, 8, NULL, 0, "SET_VRING_NUM index 64"),
	      "%s: SET_VRING_NUM index 64 (the last queue): ack 0", name);
	if (all)
		serve_check(name, false);
}

/*
 * Running queues, then a memory table without their rings (region 1 only,
 * the rings are in region 0): whatever the ack, nothing is served from
 * memory the back-end no longer has, and it goes on.
 */
static void c_mem_shrink(const char *name)
{
	struct vu_mem_table mt = { .nregions = 1 };
	struct vq *q = &vqs[1];
	struct fuse_init_out io;
	struct vq_used_elem e;
	uint64_t ack = 0, v;
	bool good;

	start_case_mem();
	vq_layout(q, 1, g2h(Q1_GPA, 3 * 4096), QSIZE, 0);
	good = vq_start(q, 0) && !fuse_init(q, &io) && root_ok(q);
	check(good, "%s: queue 1 (rings in region 0) serves", name);
	mt.regions[0].guest_addr = greg[1].gpa;
	mt.regions[0].size = greg[1].size;
	mt.regions[0].user_addr = uaddr(gmem + greg[1].off);
	mt.regions[0].mmap_offset = greg[1].off;
	if (vu_set(VU_SET_MEM_TABLE, &mt, 8 + sizeof(mt.regions[0]), &memfd, 1, &ack)) {
		check(false, "%s: SET_MEM_TABLE without region 0 answered", name);
		return;
	}
	note("%s: SET_MEM_TABLE without region 0 while queue 1 runs there: ack %llu",
	     name, (unsigned long long)ack);
	{
		struct fuse_getattr_in gi = { 0 };
		struct chain *c = ch_new();
		uint16_t head;

		/* the request in region 1, the ring in region 0 */
		ch_add(c, GPA1 + ARENA_START, fuse_in(FUSE_GETATTR, FUSE_ROOT_ID, &gi,
						      sizeof(gi), NULL, 0), 0);
		memcpy(g2h(GPA1 + ARENA_START, 56), reqbuf, 56);
		ch_add(c, GPA1 + ARENA_START + 4096, ROOM, VQ_DESC_F_WRITE);
		head = vq_place(q, c, M_DIRECT);
		vq_publish(q, head);
		vq_kick(q);
		free(c);
	}
	good = vq_wait(q, &e, SHORT_TMO) == -ETIMEDOUT || ack;
	check(good && !vu_get_u64(VU_GET_FEATURES, 0, &v),
	      "%s: a ring outside the new table is not served, the back-end goes on", name);
	{
		uint32_t next;

		check(vq_get_base(q, &next), "%s: GET_VRING_BASE 1 answers", name);
	}
	serve_check(name, true);
}

/*
 * SET_VRING_ADDR checked with size 256, then SET_VRING_NUM 32768: the avail
 * ring (near the end of region 1) no longer fits.  The ring must not start.
 */
static void c_num_grow(const char *name)
{
	struct vq *q = &vqs[1];
	struct vu_vring_state small = { 1, QSIZE }, big = { 1, VQ_MAX_SIZE }, en = { 1, 1 };
	char *base = g2h(Q1_GPA, 1);
	struct vu_vring_addr a = {
		.index = 1, .desc = uaddr(base), .used = uaddr(base + 0x80000),
		.avail = uaddr(gmem + 2 * REG_SIZE - 600),
	};
	uint64_t acks[4] = { 0, 0, 0, 0 }, idx = 1;
	uint32_t next;
	bool good;

	start_case_mem();
	vq_layout(q, 1, base, QSIZE, 0);
	good = vu_set_ok(VU_SET_VRING_NUM, &small, 8, NULL, 0, "SET_VRING_NUM 256") &&
	       vu_set_ok(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, "SET_VRING_ADDR") &&
	       !vu_set(VU_SET_VRING_NUM, &big, 8, NULL, 0, &acks[0]) &&
	       !vu_set(VU_SET_VRING_CALL, &idx, 8, &q->call, 1, &acks[1]) &&
	       !vu_set(VU_SET_VRING_KICK, &idx, 8, &q->kick, 1, &acks[2]) &&
	       !vu_set(VU_SET_VRING_ENABLE, &en, 8, NULL, 0, &acks[3]);
	check(good && (acks[0] || acks[2] || acks[3]),
	      "%s: the ring refused (NUM 32768 ack %llu, KICK ack %llu, ENABLE ack %llu)",
	      name, (unsigned long long)acks[0], (unsigned long long)acks[2],
	      (unsigned long long)acks[3]);
	good = vq_get_base(q, &next);
	check(good, "%s: GET_VRING_BASE 1 answers", name);
	serve_check(name, false);
}

/* A descriptor table 8 bytes off its 16-byte alignment. */
static void c_addr_misaligned(const char *name)
{
	struct vq *q = &vqs[1];
	struct vu_vring_state st = { 1, QSIZE }, en = { 1, 1 };
	struct vu_vring_addr a;
	uint64_t acks[3] = { 0, 0, 0 }, idx = 1;
	uint32_t next;
	bool good;

	start_case_mem();
	vq_layout(q, 1, g2h(Q1_GPA, 3 * 4096), QSIZE, 0);
	a = (struct vu_vring_addr){ .index = 1, .desc = uaddr(q->desc) + 8,
				    .used = uaddr(q->used), .avail = uaddr(q->avail) };
	good = vu_set_ok(VU_SET_VRING_NUM, &st, 8, NULL, 0, "SET_VRING_NUM") &&
	       !vu_set(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, &acks[0]) &&
	       vu_set_ok(VU_SET_VRING_CALL, &idx, 8, &q->call, 1, "SET_VRING_CALL") &&
	       !vu_set(VU_SET_VRING_KICK, &idx, 8, &q->kick, 1, &acks[1]) &&
	       !vu_set(VU_SET_VRING_ENABLE, &en, 8, NULL, 0, &acks[2]);
	check(good && (acks[0] || acks[1] || acks[2]),
	      "%s: descriptor table at 16n+8: refused (ADDR ack %llu, KICK ack %llu, ENABLE ack %llu)",
	      name, (unsigned long long)acks[0], (unsigned long long)acks[1],
	      (unsigned long long)acks[2]);
	check(vq_get_base(q, &next), "%s: GET_VRING_BASE 1 answers", name);
	serve_check(name, false);
}

/*
 * A kick fd that is always readable and never has a kick: the read end
 * of a pipe whose writer is gone (POLLHUP, read 0), /dev/null.  The
 * queue's thread must not spin on it.
 */
static void kick_dead(const char *name, int kfd, const char *what)
{
	struct vq *q = &vqs[1];
	uint32_t next = 0;
	bool good;

	start_case_mem();
	vq_layout(q, 1, g2h(Q1_GPA, 3 * 4096), QSIZE, 0);
	close(q->kick);
	q->kick = kfd;
	good = vq_start(q, 0);
	if (!good) {
		check(true, "%s: a kick fd that is %s: refused (%s)", name, what, detail);
		detail[0] = 0;
		serve_check(name, false);
		return;
	}
	check(backend_idle(1000), "%s: a kick fd that is %s: mqfused does not spin on it (CPU over 1 s)",
	      name, what);
	good = vq_get_base(q, &next);
	check(good, "%s: GET_VRING_BASE 1 answers", name);
	q->kick = -1;
	serve_check(name, false);
}

static void c_kick_pipe_hup(const char *name)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		bail("pipe: %s", strerror(errno));
	close(p[1]);
	kick_dead(name, p[0], "a pipe without a writer");
}

static void c_kick_devnull(const char *name)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		bail("/dev/null: %s", strerror(errno));
	kick_dead(name, fd, "/dev/null");
}

/* A call fd that is a pipe without a reader: EPIPE, no SIGPIPE death. */
static void c_call_pipe(const char *name)
{
	struct vq *q = &vqs[1];
	struct fuse_init_out io;
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		bail("pipe: %s", strerror(errno));
	close(p[0]);
	start_case_mem();
	vq_layout(q, 1, g2h(Q1_GPA, 3 * 4096), QSIZE, 0);
	close(q->call);
	q->call = p[1];
	check(vq_start(q, 0) && !fuse_init(q, &io) && root_ok(q),
	      "%s: a call fd that is a pipe without a reader: requests still answered", name);
}

/* RESET_OWNER while a queue runs: it stops; set up again, it serves. */
static void c_reset_owner(const char *name)
{
	struct vq *q = &vqs[1];
	struct fuse_init_out io;
	struct fuse_getattr_in gi = { 0 };
	struct vq_used_elem e;
	struct chain *c;
	uint16_t head;
	bool good;

	start_case_mem();
	vq_layout(q, 1, g2h(Q1_GPA, 3 * 4096), QSIZE, 0);
	good = vq_start(q, 0) && !fuse_init(q, &io) && root_ok(q);
	check(good, "%s: queue 1 serves", name);
	check(vu_set_ok(VU_RESET_OWNER, NULL, 0, NULL, 0, "RESET_OWNER"),
	      "%s: RESET_OWNER: ack 0", name);
	c = ch_new();
	arena_reset();
	ch_readable(c, reqbuf, fuse_in(FUSE_GETATTR, FUSE_ROOT_ID, &gi, sizeof(gi),
				       NULL, 0), &SP_ONE);
	ch_writable(c, ROOM, &SP_ONE);
	head = vq_place(q, c, M_DIRECT);
	free(c);
	vq_publish(q, head);
	vq_kick(q);
	check(vq_wait(q, &e, SHORT_TMO) == -ETIMEDOUT,
	      "%s: after it the old ring is not served", name);
	if (!handshake(false))
		bail("%s: handshake again", name);
	serve_check(name, true);
}

/* A full memory table: 8 regions (the most), 4 MiB each. */
static void c_mem8(const char *name)
{
	int fds[8] = { memfd, memfd, memfd, memfd, memfd, memfd, memfd, memfd };
	uint64_t ack = 1;

	start_case();
	send_mem(8, sizeof(struct vu_mem_table), fds, 8, true);
	check(!vu_reply(VU_SET_MEM_TABLE, &ack, 8) && !ack,
	      "%s: SET_MEM_TABLE of 8 regions (264 bytes, the whole payload union): ack 0", name);
	serve_check(name, true);
}

/*
 * Many messages with fds, refused or replacing others, and memory tables
 * replacing each other: the back-end's fds and mappings do not grow.
 */
static void c_fd_leak(const char *name)
{
	struct vq *q = &vqs[1];
	long fd0, fd1, map0, map1;
	uint64_t idx, ack;
	unsigned int i;
	bool good = true;

	start_case_mem();
	vq_layout(q, 1, g2h(Q1_GPA, 3 * 4096), QSIZE, 0);
	good = vq_start(q, 0);
	fd0 = backend_count("fd");
	map0 = backend_count("maps");
	for (i = 0; good && i < 100; i++) {
		int efd = eventfd(0, EFD_CLOEXEC), fds[2] = { memfd, memfd };

		idx = 200;
		good = !vu_set(VU_SET_VRING_KICK, &idx, 8, &efd, 1, &ack) && ack;
		idx = 1;
		good = good && vu_set_ok(VU_SET_VRING_CALL, &idx, 8, &efd, 1, "CALL");
		idx = 1 | (1ull << 9);		/* an unknown bit */
		good = good && !vu_set(VU_SET_VRING_KICK, &idx, 8, &efd, 1, &ack) && ack;
		send_mem(2, 8 + 1 * sizeof(struct vu_mem_region), fds, 2, true);
		good = good && !vu_reply(VU_SET_MEM_TABLE, &ack, 8) && ack;
		close(efd);
		if (i % 10 == 0)
			good = good && set_mem_table();
	}
	idx = 1;
	good = good && vu_set_ok(VU_SET_VRING_CALL, &idx, 8, &q->call, 1, "CALL");
	check(good, "%s: 100 rounds of refused KICKs, replaced CALLs, refused and accepted memory tables",
	      name);
	fd1 = backend_count("fd");
	map1 = backend_count("maps");
	if (fd0 < 0 || fd1 < 0 || map0 < 0 || map1 < 0)
		why("cannot read the back-end's /proc");
	check(fd0 >= 0 && fd1 >= 0 && fd1 <= fd0 + 2,
	      "%s: the back-end's open fds do not grow (%ld before, %ld after)", name, fd0, fd1);
	check(map0 >= 0 && map1 >= 0 && map1 <= map0 + 4,
	      "%s: nor its mappings (%ld before, %ld after)", name, map0, map1);
	{
		uint32_t next;

		check(vq_get_base(q, &next), "%s: GET_VRING_BASE 1 answers", name);
	}
	serve_check(name, false);
}

/*
 * 1024 requests whose in.len lies (EIO each): the script checks that
 * they do not flood mqfused's log.
 */
static void c_log_flood(const char *name)
{
	struct vq *q = &vqs[1];
	struct fuse_init_out io;
	struct vq_used_elem e;
	unsigned int round, i, n = 0, eio = 0;

	start_case_mem();
	vq_layout(q, 1, g2h(Q1_GPA, 3 * 4096), QSIZE, 0);
	if (!vq_start(q, 0) || fuse_init(q, &io))
		bail("%s: queue 1", name);
	for (round = 0; round < 4; round++) {
		static struct chain *c[QSIZE];

		arena_reset();
		q->next_desc = 0;
		for (i = 0; i < QSIZE; i++) {
			struct fuse_getattr_in gi = { 0 };
			size_t l = fuse_in(FUSE_GETATTR, FUSE_ROOT_ID, &gi,
					   sizeof(gi), NULL, 0);

			((struct fuse_in_header *)reqbuf)->len = l + 8;
			c[i] = ch_new();
			ch_readable(c[i], reqbuf, l, &SP_ONE);
			ch_writable(c[i], ROOM, &SP_ONE);
			vq_publish(q, vq_place(q, c[i], M_INDIRECT));
		}
		vq_kick(q);
		for (i = 0; i < QSIZE && !vq_wait(q, &e, TMO); i++) {
			struct fuse_out_header oh;

			n++;
			if (e.id < QSIZE && e.len == OUT_HDR) {
				ch_gather(c[e.id], OUT_HDR, &oh, sizeof(oh));
				eio += oh.error == -EIO;
			}
		}
		for (i = 0; i < QSIZE; i++)
			free(c[i]);
	}
	check(n == 4 * QSIZE && eio == n,
	      "%s: 1024 requests with a lying in.len: all answered EIO (%u, %u EIO)",
	      name, n, eio);
	check(root_ok(q), "%s: then a good GETATTR answers", name);
}

static void c_kick_nofd(const char *name)
{
	uint64_t v = 1 | VU_VRING_NOFD;

	start_case_mem();
	vu_send(VU_SET_VRING_KICK, VU_VERSION | VU_FLAG_NEED_REPLY, &v, 8, NULL, 0);
	if (refused(name, "SET_VRING_KICK with NOFD (polling)", false) == 1)
		serve_check(name, false);
}

static void c_kick_missing_fd(const char *name)
{
	uint64_t v = 1;

	start_case_mem();
	vu_send(VU_SET_VRING_KICK, VU_VERSION | VU_FLAG_NEED_REPLY, &v, 8, NULL, 0);
	if (refused(name, "SET_VRING_KICK without NOFD and without an fd", true) == 1)
		serve_check(name, false);
}

static void c_ring_before_mem(const char *name)
{
	struct vu_vring_state st = { 1, QSIZE };
	char *q1 = g2h(Q1_GPA, 3 * 4096);
	struct vu_vring_addr a = {
		.index = 1, .desc = uaddr(q1), .avail = uaddr(q1 + 4096),
		.used = uaddr(q1 + 8192),
	};

	struct vu_mem_table mt = { .nregions = 1 };
	struct vq *q = &vqs[1];
	struct vq_used_elem e;
	uint64_t ack = 0, ack2 = 0, idx = 1, v;
	struct vu_vring_state base = { 1, 0 }, en = { 1, 1 };
	bool good;

	start_case();
	vu_set_ok(VU_SET_VRING_NUM, &st, 8, NULL, 0, "SET_VRING_NUM");
	detail[0] = 0;
	if (vu_set(VU_SET_VRING_ADDR, &a, sizeof(a), NULL, 0, &ack)) {
		check(false, "%s: SET_VRING_ADDR answered", name);
		return;
	}
	if (ack) {
		check(true, "%s: SET_VRING_ADDR before any SET_MEM_TABLE: refused (ack %llu)",
		      name, (unsigned long long)ack);
		serve_check(name, true);
		return;
	}
	note("%s: SET_VRING_ADDR before any SET_MEM_TABLE: ack 0 (checked later?)", name);
	/* a table without the ring (region 1 only): the ring must not run */
	mt.regions[0].guest_addr = greg[1].gpa;
	mt.regions[0].size = greg[1].size;
	mt.regions[0].user_addr = uaddr(gmem + greg[1].off);
	mt.regions[0].mmap_offset = greg[1].off;
	vq_layout(q, 1, q1, QSIZE, 0);
	good = vu_set_ok(VU_SET_MEM_TABLE, &mt, 8 + sizeof(mt.regions[0]), &memfd, 1,
			 "SET_MEM_TABLE (region 1 only)") &&
	       vu_set_ok(VU_SET_VRING_BASE, &base, 8, NULL, 0, "SET_VRING_BASE") &&
	       vu_set_ok(VU_SET_VRING_CALL, &idx, 8, &q->call, 1, "SET_VRING_CALL") &&
	       !vu_set(VU_SET_VRING_KICK, &idx, 8, &q->kick, 1, &ack) &&
	       !vu_set(VU_SET_VRING_ENABLE, &en, 8, NULL, 0, &ack2);
	check(good && (ack || ack2),
	      "%s: then a table without the ring: the ring is refused when it would start (KICK ack %llu, ENABLE ack %llu)",
	      name, (unsigned long long)ack, (unsigned long long)ack2);
	q->desc[0] = D(Q1_GPA + 0x8000, 56, RD, 0);
	vq_publish(q, 0);
	vq_kick(q);
	good = vq_wait(q, &e, SHORT_TMO) == -ETIMEDOUT;
	check(good && !vu_get_u64(VU_GET_FEATURES, 0, &v),
	      "%s: nothing served from that ring, the back-end goes on", name);
}

static void c_eof_header(const char *name)
{
	struct vu_hdr h = { VU_GET_FEATURES, VU_VERSION, 0 };

	connect_backend();
	if (write(sock, &h, 6) != 6)
		bail("write: %s", strerror(errno));
	check(true, "%s: 6 bytes of a header sent; closing", name);
}

static void c_eof_payload(const char *name)
{
	struct vu_hdr h = { VU_SET_FEATURES, VU_VERSION, 8 };
	char buf[sizeof(h) + 4] = { 0 };

	start_case();
	memcpy(buf, &h, sizeof(h));
	if (write(sock, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		bail("write: %s", strerror(errno));
	check(true, "%s: SET_FEATURES with 4 of its 8 payload bytes sent; closing", name);
}

static void c_fd_on_get(const char *name)
{
	int efd = eventfd(0, EFD_CLOEXEC);
	uint64_t v;
	int r;

	start_case();
	vu_send(VU_GET_FEATURES, VU_VERSION, NULL, 0, &efd, 1);
	r = vu_reply(VU_GET_FEATURES, &v, 8);
	close(efd);
	if (r == -EPIPE) {
		detail[0] = 0;
		check(true, "%s: GET_FEATURES with an fd: the back-end closes the connection", name);
		return;
	}
	check(!r, "%s: GET_FEATURES with an fd: answered", name);
	if (!r)
		serve_check(name, true);
}

/* ---------------------------------------------- lock waiters (SETLKW) */

static uint64_t lk_node, lk_fh;

/* A write lock on DIR/hello held by this process (an OFD lock): its fd. */
static int hold_lock(void)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/hello", dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl))
		bail("lock %s: %s", path, strerror(errno));
	return fd;
}

/* Queue 1 at @ring_gpa, INIT with locks, hello opened read-write. */
static void lock_prelude(const char *name, uint64_t ring_gpa)
{
	struct vq *q = &vqs[1];
	struct fuse_init_out io;
	struct fuse_entry_out eo;
	struct fuse_open_in oi = { .flags = O_RDWR };
	struct fuse_open_out oo;
	size_t plen;

	start_case_mem();
	vq_layout(q, 1, g2h(ring_gpa, 3 * 4096), QSIZE, 0);
	if (!vq_start(q, 0))
		bail("%s: queue 1", name);
	if (fuse_init_flags(q, &io, FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS) ||
	    !(io.flags & FUSE_POSIX_LOCKS))
		bail("%s: INIT with FUSE_POSIX_LOCKS (flags 0x%x)", name, io.flags);
	if (fuse_lookup(q, &L_SIMPLE, FUSE_ROOT_ID, "hello", &eo))
		bail("%s: LOOKUP hello", name);
	lk_node = eo.nodeid;
	if (fuse_op(q, &L_SIMPLE, FUSE_OPEN, lk_node, &oi, sizeof(oi), NULL, 0,
		    sizeof(oo), &oo, &plen))
		bail("%s: OPEN hello", name);
	lk_fh = oo.fh;
}

struct pending {
	uint16_t head;
	uint64_t unique, wr;		/* wr: its writable buffer */
};

/*
 * A SETLKW (write lock on all of hello) on @q; request at @rd, reply
 * buffer at @wr (guest physical), in the hostile area by default.
 */
static struct pending setlkw_start(struct vq *q, uint64_t rd, uint64_t wr)
{
	struct fuse_lk_in li = {
		.fh = lk_fh, .owner = 0x1234,
		.lk = { .start = 0, .end = INT64_MAX, .type = F_WRLCK, .pid = 4242 },
	};
	size_t len = fuse_in(FUSE_SETLKW, lk_node, &li, sizeof(li), NULL, 0);
	struct pending p;
	struct chain *c = ch_new();

	if (!rd)
		rd = halloc(len);
	if (!wr)
		wr = halloc(OUT_HDR);
	memcpy(g2h(rd, len), reqbuf, len);
	memset(g2h(wr, OUT_HDR), 0xee, OUT_HDR);
	ch_add(c, rd, len, 0);
	ch_add(c, wr, OUT_HDR, VQ_DESC_F_WRITE);
	p.head = vq_place(q, c, M_DIRECT);
	p.unique = last_unique();
	p.wr = wr;
	free(c);
	vq_publish(q, p.head);
	vq_kick(q);
	return p;
}

/* The SETLKW waits: no used entry for a while. */
static bool setlkw_waits(const char *name, struct vq *q)
{
	struct vq_used_elem e;
	bool good = vq_wait(q, &e, SHORT_TMO) == -ETIMEDOUT;

	if (!good)
		why("used entry {%u, %u} came", e.id, e.len);
	return check(good, "%s: SETLKW on a file locked by another process waits", name);
}

static void c_setlkw_answer(const char *name)
{
	struct vq *q = &vqs[1];
	struct fuse_out_header oh;
	struct vq_used_elem e;
	struct pending p;
	int lfd, rc;

	lock_prelude(name, Q1_GPA);
	lfd = hold_lock();
	p = setlkw_start(q, 0, 0);
	setlkw_waits(name, q);
	check(root_ok(q), "%s: meanwhile a GETATTR on the same queue answers", name);
	close(lfd);
	rc = vq_wait_head(q, p.head, &e, TMO);
	memcpy(&oh, g2h(p.wr, OUT_HDR), OUT_HDR);
	check(!rc && e.len == OUT_HDR && oh.error == 0 && oh.unique == p.unique,
	      "%s: the lock released: SETLKW answered 0 (used len %u, error %d)",
	      name, e.len, oh.error);
}

/* While the SETLKW waits: GET_VRING_BASE; its answer must not touch the ring. */
static void c_setlkw_stop(const char *name)
{
	struct vq *q = &vqs[1];
	uint16_t used;
	uint32_t next = 0;
	bool good;
	int lfd;

	lock_prelude(name, Q1_GPA);
	lfd = hold_lock();
	setlkw_start(q, 0, 0);
	setlkw_waits(name, q);
	good = vq_get_base(q, &next);
	check(good, "%s: GET_VRING_BASE 1 while it waits (next %u)", name, next);
	used = __atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE);
	close(lfd);
	usleep(SHORT_TMO * 1000);
	check(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE) == used,
	      "%s: the lock released: nothing written to the stopped ring (used idx %u)",
	      name, used);
	vq_layout(q, 1, g2h(Q1_GPA, 3 * 4096), QSIZE, 0);
	check(vq_start(q, 0) && root_ok(q), "%s: queue 1 restarted: answers", name);
}

/*
 * While the SETLKW waits: a memory table without the region of its reply
 * buffer (the ring and the request are in region 1).
 */
static void c_setlkw_memtable(const char *name)
{
	struct vu_mem_table mt = { .nregions = 1 };
	struct vq *q = &vqs[1];
	struct vq_used_elem e;
	uint64_t v;
	int lfd, rc;

	lock_prelude(name, Q2_GPA);
	lfd = hold_lock();
	setlkw_start(q, GPA1 + ARENA_END, halloc(OUT_HDR));	/* reply: region 0 */
	setlkw_waits(name, q);
	mt.regions[0].guest_addr = greg[1].gpa;
	mt.regions[0].size = greg[1].size;
	mt.regions[0].user_addr = uaddr(gmem + greg[1].off);
	mt.regions[0].mmap_offset = greg[1].off;
	check(vu_set_ok(VU_SET_MEM_TABLE, &mt, 8 + sizeof(mt.regions[0]), &memfd, 1,
			"SET_MEM_TABLE (region 1 only)"),
	      "%s: a memory table without region 0 (where the reply goes) while it waits: ack 0",
	      name);
	close(lfd);
	rc = vq_wait(q, &e, 3000);
	check(rc || e.len == 0,
	      "%s: the lock released: the reply is not written (%s, used len %u)",
	      name, rc ? "no used entry" : "given back", rc ? 0 : e.len);
	arena_only = 1;
	check(!vu_get_u64(VU_GET_FEATURES, 0, &v) && root_ok(q),
	      "%s: the back-end goes on: GETATTR on queue 1 (buffers in region 1)", name);
	arena_only = -1;
}

/* While the SETLKW waits: a new INIT (the guest starting over) on queue 2. */
static void c_setlkw_init(const char *name)
{
	struct vq *q = &vqs[1], *q2 = &vqs[2];
	struct fuse_init_out io;
	struct vq_used_elem e;
	struct pending p;
	int lfd, rc;

	lock_prelude(name, Q1_GPA);
	vq_layout(q2, 2, g2h(Q2_GPA, 3 * 4096), QSIZE, 0);
	if (!vq_start(q2, 0))
		bail("%s: queue 2", name);
	lfd = hold_lock();
	p = setlkw_start(q, 0, 0);
	setlkw_waits(name, q);
	rc = fuse_init(q2, &io);
	check(!rc, "%s: a new INIT on queue 2 while it waits: answered (%d)", name, rc);
	rc = vq_wait_head(q, p.head, &e, TMO);
	check(!rc, "%s: the waiting SETLKW is given back (used len %u)", name, rc ? 0 : e.len);
	close(lfd);
	check(root_ok(q) && root_ok(q2), "%s: queues 1 and 2 answer", name);
}

/*
 * While the SETLKW waits (the lock held by a child for 8 s more): the
 * front-end closes the socket.  mqfused is to exit 0 at once (the script
 * gives it 5 s).
 */
static void c_setlkw_close(const char *name)
{
	struct vq *q = &vqs[1];
	int pfd[2];
	pid_t pid;
	char c;

	lock_prelude(name, Q1_GPA);
	if (pipe2(pfd, O_CLOEXEC))
		bail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail("fork: %s", strerror(errno));
	if (!pid) {
		int null = open("/dev/null", O_RDWR);

		close(sock);		/* the front-end's end is the parent's alone */
		hold_lock();
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (write(pfd[1], "l", 1) != 1)
			_exit(1);
		sleep(8);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &c, 1) != 1)
		bail("the lock holder did not start");
	setlkw_start(q, 0, 0);
	setlkw_waits(name, q);
	check(true, "%s: closing the socket while the SETLKW waits", name);
}

struct pcase {
	const char *name, *status;
	void (*fn)(const char *name);
};

static const struct pcase cases[] = {
	{ "close-at-once", "0", c_close_at_once },
	{ "unknown-code", "1", c_unknown },
	{ "short-num", "1", c_short_num },
	{ "long-num", "1", c_long_num },
	{ "get-features-payload", "1", c_get_features_payload },
	{ "huge-size", "1", c_huge_size },
	{ "size-4g", "1", c_size_4g },
	{ "version-0", "1", c_version0 },
	{ "version-2", "1", c_version2 },
	{ "memtable-9", "1", c_mem9 },
	{ "memtable-9-fit", "01", c_mem9_fit },
	{ "memtable-0", "01", c_mem0 },
	{ "memtable-fewer-fds", "01", c_mem_fewer },
	{ "memtable-more-fds", "01", c_mem_more },
	{ "memtable-no-fd", "01", c_mem_nofd },
	{ "memtable-pipe", "01", c_mem_pipe },
	{ "memtable-short-fd", "01", c_mem_short_fd },
	{ "memtable-offset-wrap", "01", c_mem_offset_wrap },
	{ "num-3", "0", c_num3 },
	{ "num-bad", "0", c_num_bad },
	{ "addr-outside", "0", c_addr_outside },
	{ "addr-straddle", "01", c_addr_straddle },
	{ "addr-misaligned", "0", c_addr_misaligned },
	{ "num-grow-after-addr", "0", c_num_grow },
	{ "memtable-shrink", "0", c_mem_shrink },
	{ "index-200", "0", c_index200 },
	{ "kick-nofd", "0", c_kick_nofd },
	{ "memtable-8", "0", c_mem8 },
	{ "fd-leak", "0", c_fd_leak },
	{ "log-flood", "0", c_log_flood },
	{ "kick-pipe-hup", "0", c_kick_pipe_hup },
	{ "kick-devnull", "0", c_kick_devnull },
	{ "call-pipe", "0", c_call_pipe },
	{ "reset-owner", "0", c_reset_owner },
	{ "setlkw-answer", "0", c_setlkw_answer },
	{ "setlkw-stop", "0", c_setlkw_stop },
	{ "setlkw-memtable", "0", c_setlkw_memtable },
	{ "setlkw-init", "0", c_setlkw_init },
	{ "setlkw-close", "0", c_setlkw_close },
	{ "kick-missing-fd", "01", c_kick_missing_fd },
	{ "ring-before-memtable", "0", c_ring_before_mem },
	{ "eof-mid-header", "01", c_eof_header },
	{ "eof-mid-payload", "01", c_eof_payload },
	{ "fd-on-get", "01", c_fd_on_get },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void usage(void)
{
	fprintf(stderr, "usage: vhost_hostile [--case NAME] SOCKET DIR\n"
			"       vhost_hostile --list\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const struct pcase *pc = NULL;
	unsigned int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (i = 0; i < NCASES; i++)
			printf("%s %s\n", cases[i].name, cases[i].status);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "--case")) {
		for (i = 0; i < NCASES; i++)
			if (!strcmp(cases[i].name, argv[2]))
				pc = &cases[i];
		if (!pc) {
			fprintf(stderr, "vhost_hostile: no case %s\n", argv[2]);
			return 2;
		}
		argv += 2;
		argc -= 2;
	}
	if (argc != 3)
		usage();
	sock_path = argv[1];
	dir = argv[2];
	signal(SIGALRM, on_alarm);
	alarm(pc ? 60 : 300);
	guest_memory_init();

	if (pc)
		pc->fn(pc->name);
	else
		main_run();

	if (sock >= 0)
		close(sock);
	printf("# vhost_hostile%s%s: %d passed, %d failed\n", pc ? " " : "",
	       pc ? pc->name : "", npass, nfail);
	return nfail ? 1 : 0;
}
