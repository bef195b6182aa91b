// SPDX-License-Identifier: GPL-2.0
/*
 * kc_test - kernel-client checks that need a hand-written daemon.
 *
 *   kc_test MNT
 *
 * Prints TAP lines. Covers: device ioctls (GET_INFO, CLONE, BIND_QUEUE),
 * read semantics (EINVAL on a short buffer, EAGAIN with O_NONBLOCK,
 * EPERM on an unbound fd), INIT negotiation (granted max_pages, rejection
 * of a wrong major or a tiny max_write), ENOTCONN after the daemon exits,
 * per-CPU queue routing and balance=on work stealing (needs 2 CPUs).
 * A toy daemon thread then drives exact interleavings: FORGET never
 * before the RELEASE reply of the same node, transient LOOKUP errors in
 * d_revalidate, FLUSH for a daemon without OPEN, a short READ, a stale
 * GETATTR racing a size extension plus mmap writeback, and a page
 * redirtied through mmap while the daemon truncates. Consistency modes:
 * a GETATTR error at a relaxed/immutable open, a failed page drop at a
 * cto open, FUSE_NOTIFY_INC_EPOCH (payload refused, names and attributes
 * stale, also a SETATTR reply in flight), asynchronous O_DIRECT reads and
 * read_stales_attr, the strict mmap hook's range.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../common/tap.h"
#include "mqfuse.h"
#include "../common/bdi.h"

#define BUFSZ (8 * 1024 * 1024 + 8192)

static char *buf;

#define tap(cond, ...)	tap_ok(cond, __VA_ARGS__)

static int do_mount(const char *mnt, int fd, const char *extra)
{
	char data[512];

	snprintf(data, sizeof(data), "fd=%d,rootmode=40000,user_id=0,group_id=0%s%s",
		 fd, extra ? "," : "", extra ? extra : "");
	return mount("mqfuse", mnt, MQFUSE_NAME, 0, data);
}

/* Answer the INIT request waiting on @fd with the given parameters. */
static int answer_init(int fd, unsigned int major, unsigned int max_write,
		       unsigned int max_pages)
{
	struct fuse_in_header *ih = (void *)buf;
	struct {
		struct fuse_out_header h;
		struct fuse_init_out o;
	} rep;
	ssize_t n = read(fd, buf, BUFSZ);

	if (n < (ssize_t)sizeof(*ih) || ih->opcode != FUSE_INIT)
		return -1;
	memset(&rep, 0, sizeof(rep));
	rep.h.len = sizeof(rep);
	rep.h.unique = ih->unique;
	rep.o.major = major;
	rep.o.minor = FUSE_KERNEL_MINOR_VERSION;
	rep.o.max_readahead = 1 << 20;
	rep.o.flags = FUSE_MAX_PAGES | FUSE_BIG_WRITES | FUSE_ASYNC_READ;
	rep.o.max_write = max_write;
	rep.o.max_pages = max_pages;
	return write(fd, &rep, sizeof(rep)) == sizeof(rep) ? 0 : -1;
}

static void test_session(const char *mnt)
{
	struct mqfuse_session_info info, info2;
	int fd, fd2, fd3, q, r;
	struct stat st;
	__u32 arg;
	char small[100];

	fd = open(MQFUSE_DEV_PATH, O_RDWR);
	tap(fd >= 0, "open %s", MQFUSE_DEV_PATH);
	if (fd < 0)
		return;
	errno = 0;
	tap(read(fd, buf, BUFSZ) < 0 && errno == EPERM, "read on an unbound fd fails EPERM");
	tap(ioctl(fd, MQFUSE_IOC_GET_INFO, &info) < 0 && errno == EINVAL,
	    "GET_INFO on an unbound fd fails EINVAL");
	r = do_mount(mnt, fd, "queues=4,balance=on");
	tap(r == 0, "mount with queues=4,balance=on");
	if (r)
		return;
	errno = 0;
	tap(do_mount(mnt, fd, NULL) < 0 && errno == EINVAL,
	    "second mount with an already bound fd fails EINVAL");
	tap(ioctl(fd, MQFUSE_IOC_GET_INFO, &info) == 0 && info.state == MQFUSE_STATE_INIT &&
	    info.nr_queues == 4 && info.bound_queue == ~0U && info.balance == 1,
	    "GET_INFO before INIT: state init, 4 queues, unbound, balance");
	errno = 0;
	tap(read(fd, small, sizeof(small)) < 0 && errno == EINVAL,
	    "read with a buffer smaller than the minimum fails EINVAL");
	tap(answer_init(fd, 7, 1 << 20, 256) == 0, "INIT read and answered");
	tap(ioctl(fd, MQFUSE_IOC_GET_INFO, &info) == 0 && info.state == MQFUSE_STATE_RUNNING &&
	    info.max_pages == 256 && info.max_write == (1 << 20) && info.readdir_size == 32768,
	    "INIT negotiated: running, max_pages 256, max_write 1 MiB, readdir 32 KiB");

	fd2 = open(MQFUSE_DEV_PATH, O_RDWR | O_NONBLOCK);
	arg = fd;
	tap(ioctl(fd2, MQFUSE_IOC_CLONE, &arg) == 0, "CLONE attaches a second fd");
	tap(ioctl(fd2, MQFUSE_IOC_GET_INFO, &info2) == 0 &&
	    info2.session_id == info.session_id, "clone serves the same session");
	errno = 0;
	tap(ioctl(fd2, MQFUSE_IOC_CLONE, &arg) < 0 && errno == EBUSY,
	    "CLONE on an already attached fd fails EBUSY");
	q = 2;
	arg = q;
	tap(ioctl(fd2, MQFUSE_IOC_BIND_QUEUE, &arg) == 0, "BIND_QUEUE 2");
	arg = 4;
	errno = 0;
	tap(ioctl(fd2, MQFUSE_IOC_BIND_QUEUE, &arg) < 0 && errno == EINVAL,
	    "BIND_QUEUE 4 of 4 queues fails EINVAL");
	tap(ioctl(fd2, MQFUSE_IOC_GET_INFO, &info2) == 0 && info2.bound_queue == 2,
	    "GET_INFO shows the bound queue");
	errno = 0;
	tap(read(fd2, buf, BUFSZ) < 0 && errno == EAGAIN, "O_NONBLOCK read with no work: EAGAIN");
	fd3 = open(MQFUSE_DEV_PATH, O_RDWR);
	arg = 12345;
	errno = 0;
	tap(ioctl(fd3, MQFUSE_IOC_CLONE, &arg) < 0 && errno == EBADF,
	    "CLONE from a bad fd number fails EBADF");
	close(fd3);

	close(fd2);
	close(fd);
	errno = 0;
	tap(stat(mnt, &st) < 0 && errno == ENOTCONN, "after the daemon closes its fds: ENOTCONN");
	tap(umount(mnt) == 0, "umount after daemon exit");
}

static void test_bad_init(const char *mnt, unsigned int major, unsigned int max_write,
			  const char *what)
{
	struct mqfuse_session_info info;
	struct stat st;
	int fd = open(MQFUSE_DEV_PATH, O_RDWR);

	if (fd < 0 || do_mount(mnt, fd, NULL)) {
		tap(0, "%s: mount", what);
		return;
	}
	answer_init(fd, major, max_write, 32);
	tap(ioctl(fd, MQFUSE_IOC_GET_INFO, &info) == 0 && info.state == MQFUSE_STATE_ABORTED,
	    "%s: session aborted", what);
	errno = 0;
	tap(stat(mnt, &st) < 0 && errno == ENOTCONN, "%s: access fails ENOTCONN", what);
	errno = 0;
	tap(read(fd, buf, BUFSZ) < 0 && errno == ENODEV, "%s: daemon read fails ENODEV", what);
	tap(umount(mnt) == 0, "%s: umount", what);
	close(fd);
}

static void reply_root_getattr(int fd, const struct fuse_in_header *ih)
{
	struct {
		struct fuse_out_header h;
		struct fuse_attr_out a;
	} rep;

	memset(&rep, 0, sizeof(rep));
	rep.h.len = sizeof(rep);
	rep.h.unique = ih->unique;
	rep.a.attr.ino = 1;
	rep.a.attr.mode = S_IFDIR | 0755;
	rep.a.attr.nlink = 2;
	if (write(fd, &rep, sizeof(rep)) != sizeof(rep))
		perror("reply");
}

static int clone_bound(int fd, unsigned int q)
{
	int nfd = open(MQFUSE_DEV_PATH, O_RDWR | O_NONBLOCK);
	__u32 arg = fd;

	if (nfd < 0 || ioctl(nfd, MQFUSE_IOC_CLONE, &arg))
		return -1;
	arg = q;
	if (ioctl(nfd, MQFUSE_IOC_BIND_QUEUE, &arg))
		return -1;
	return nfd;
}

static long long queue_stat(unsigned long long id, int q, const char *key)
{
	char path[256], k[64];
	long long v, ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), MQFUSE_SYSFS_PATH "/%llu/queue%d/stats", id, q);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", k, &v) == 2)
		if (!strcmp(k, key))
			ret = v;
	fclose(f);
	return ret;
}

/*
 * A GETATTR from a task pinned to CPU 0 lands on queue 0. A reader bound
 * to queue 1 takes it only with balance=on; without, the queue-0 reader does.
 */
static void test_queues(const char *mnt, int balance)
{
	const char *tag = balance ? "balance=on" : "balance=off";
	struct mqfuse_session_info info;
	int fd, fd0, fd1, got0 = 0, got1 = 0, i, status;
	struct stat st;
	cpu_set_t set;
	pid_t pid;

	fd = open(MQFUSE_DEV_PATH, O_RDWR);
	if (fd < 0 || do_mount(mnt, fd, balance ? "queues=2,balance=on" : "queues=2")) {
		tap(0, "%s: mount with queues=2", tag);
		return;
	}
	answer_init(fd, 7, 1 << 20, 32);
	ioctl(fd, MQFUSE_IOC_GET_INFO, &info);
	fd0 = clone_bound(fd, 0);
	fd1 = clone_bound(fd, 1);
	tap(fd0 >= 0 && fd1 >= 0, "%s: two clones bound to queues 0 and 1", tag);

	pid = fork();
	if (pid == 0) {
		CPU_ZERO(&set);
		CPU_SET(0, &set);
		sched_setaffinity(0, sizeof(set), &set);
		_exit(stat(mnt, &st) == 0 ? 0 : 1);
	}
	for (i = 0; i < 300 && !got0 && !got1; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		ssize_t n = read(fd1, buf, BUFSZ);

		if (n > 0) {
			got1 = 1;
			reply_root_getattr(fd1, (void *)buf);
			break;
		}
		/* give a stealer a full second before the owner may take it */
		if (i >= 100 || balance == 0) {
			n = read(fd0, buf, BUFSZ);
			if (n > 0 && i >= 100) {
				got0 = 1;
				reply_root_getattr(fd0, (void *)buf);
				break;
			} else if (n > 0) {
				/* balance=off: take it from queue 0 right away */
				got0 = 1;
				reply_root_getattr(fd0, (void *)buf);
				break;
			}
		}
		nanosleep(&ts, NULL);
	}
	waitpid(pid, &status, 0);
	tap(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: pinned stat() answered", tag);
	if (balance) {
		tap(got1, "balance=on: reader bound to queue 1 stole the request queued on queue 0");
		tap(queue_stat(info.session_id, 0, "stolen") == 1,
		    "balance=on: sysfs queue0 stats count one stolen request");
	} else {
		tap(got0 && !got1, "balance=off: only the queue-0 reader saw the request");
		tap(queue_stat(info.session_id, 0, "requests") >= 1 &&
		    queue_stat(info.session_id, 1, "requests") == 0,
		    "balance=off: sysfs counts the request on queue 0 only");
	}
	close(fd0);
	close(fd1);
	close(fd);
	umount(mnt);
}

/* ------------------------------------------------------------------ */
/*
 * Toy daemon: one regular file "f" (node 2) in the root, served from a
 * thread with knobs for hostile or slow answers, so the page-cache and
 * dentry paths can be driven into exact interleavings.
 */
#define TOY_NODE	2
#define TOY_FH		7
#define TOY_MAX		(256 * 1024)
#define TOY_LOG		4096
#define TOY_HELD	(16 * 1024)

struct toy_ev {
	uint32_t opcode;
	uint64_t nodeid;
	uint64_t arg;		/* SETATTR: size; FLUSH: lock owner; WRITE: offset */
};

struct toy {
	int fd;
	pthread_t thr;
	pthread_mutex_t lock;		/* protects everything below */
	unsigned char data[TOY_MAX];	/* file contents */
	uint64_t size;			/* file size */
	int lookup_err;			/* one shot: answer the next LOOKUP of f with it */
	unsigned int lookups;		/* LOOKUPs of f */
	int no_open;			/* OPEN answers ENOSYS */
	unsigned int short_read;	/* READ answers at most this many bytes (0: off) */
	int hold_release;		/* do not answer RELEASE, keep it in held */
	int hold_getattr;		/* one shot: keep the next GETATTR of f in held;
					 * 2: the first one after the next OPEN */
	int hold_setattr;		/* one shot: keep the next SETATTR of f in held */
	int hold_write;			/* one shot: keep the next WRITE's reply in held */
	int write_err;			/* one shot: answer the next WRITE with it */
	int hold_read;			/* one shot: keep the next READ's reply in held */
	uint64_t attr_valid;		/* attribute timeout of GETATTR replies, seconds */
	int getattr_err;		/* one shot: answer the next GETATTR of f with it */
	unsigned int getattrs;		/* GETATTRs of f */
	char held[TOY_HELD];		/* reply kept back */
	size_t held_len;		/* its length, 0: none */
	struct toy_ev ev[TOY_LOG];	/* opcodes seen, in order */
	unsigned int nev;
};

/* INIT flags the next toy_start()s offer besides the usual ones. */
static uint32_t toy_init_extra;

static void toy_log(struct toy *t, uint32_t op, uint64_t nodeid, uint64_t arg)
{
	if (t->nev < TOY_LOG)
		t->ev[t->nev++] = (struct toy_ev){ op, nodeid, arg };
}

/* Index of the first event with @op on @nodeid at or after @from, or -1. */
static int toy_find(struct toy *t, uint32_t op, uint64_t nodeid, unsigned int from)
{
	int r = -1;
	unsigned int i;

	pthread_mutex_lock(&t->lock);
	for (i = from; i < t->nev; i++)
		if (t->ev[i].opcode == op && t->ev[i].nodeid == nodeid) {
			r = i;
			break;
		}
	pthread_mutex_unlock(&t->lock);
	return r;
}

static int toy_wait_for(struct toy *t, uint32_t op, uint64_t nodeid, unsigned int from,
			int ms)
{
	int r;

	while ((r = toy_find(t, op, nodeid, from)) < 0 && ms > 0) {
		usleep(10000);
		ms -= 10;
	}
	return r;
}

static unsigned int toy_nev(struct toy *t)
{
	unsigned int n;

	pthread_mutex_lock(&t->lock);
	n = t->nev;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* GETATTRs of f answered so far. */
static unsigned int toy_getattrs(struct toy *t)
{
	unsigned int n;

	pthread_mutex_lock(&t->lock);
	n = t->getattrs;
	pthread_mutex_unlock(&t->lock);
	return n;
}

static unsigned int toy_lookups(struct toy *t)
{
	unsigned int n;

	pthread_mutex_lock(&t->lock);
	n = t->lookups;
	pthread_mutex_unlock(&t->lock);
	return n;
}

/* The daemon changes f's contents to @len bytes of @fill (another client wrote). */
static void toy_set_data(struct toy *t, int fill, uint64_t len)
{
	pthread_mutex_lock(&t->lock);
	memset(t->data, fill, len);
	t->size = len;
	pthread_mutex_unlock(&t->lock);
}

/* Send notification @code with @n bytes of payload: write(2)'s result, or -errno. */
static ssize_t toy_notify(struct toy *t, int code, const void *payload, size_t n)
{
	char msg[sizeof(struct fuse_out_header) + 256];
	struct fuse_out_header *oh = (void *)msg;
	ssize_t r;

	oh->len = sizeof(*oh) + n;
	oh->error = code;
	oh->unique = 0;
	memcpy(msg + sizeof(*oh), payload, n);
	r = write(t->fd, msg, oh->len);
	return r < 0 ? -errno : r;
}

static void toy_attr(struct toy *t, uint64_t nodeid, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = nodeid;
	if (nodeid == TOY_NODE) {
		a->mode = S_IFREG | 0644;
		a->nlink = 1;
		a->size = t->size;
		a->blocks = (t->size + 511) / 512;
	} else {
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
	}
	a->blksize = 4096;
}

/* Build a reply in @out; returns its length. */
static size_t toy_reply(char *out, uint64_t unique, int error, const void *p, size_t n)
{
	struct fuse_out_header *oh = (void *)out;

	oh->len = sizeof(*oh) + n;
	oh->error = error;
	oh->unique = unique;
	if (n)
		memcpy(out + sizeof(*oh), p, n);
	return oh->len;
}

static void *toy_serve(void *arg)
{
	struct toy *t = arg;
	char *in = malloc(TOY_MAX + 8192), *out = malloc(TOY_MAX + 8192);

	for (;;) {
		ssize_t n = read(t->fd, in, TOY_MAX + 8192);
		struct fuse_in_header *ih = (void *)in;
		void *body = in + sizeof(*ih);
		size_t len = 0;
		int hold = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < (ssize_t)sizeof(*ih))
			break;
		pthread_mutex_lock(&t->lock);
		switch (ih->opcode) {
		case FUSE_INIT: {
			struct fuse_init_out o = { .major = FUSE_KERNEL_VERSION,
				.minor = FUSE_KERNEL_MINOR_VERSION, .max_readahead = 1 << 20,
				.flags = FUSE_MAX_PAGES | FUSE_BIG_WRITES | FUSE_ASYNC_READ |
					 FUSE_POSIX_LOCKS | toy_init_extra,
				.max_write = 128 * 1024, .max_pages = 32 };

			len = toy_reply(out, ih->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_LOOKUP: {
			struct fuse_entry_out e = { .nodeid = TOY_NODE, .generation = 1 };

			if (strcmp(body, "f")) {
				len = toy_reply(out, ih->unique, -ENOENT, NULL, 0);
				break;
			}
			t->lookups++;
			toy_log(t, ih->opcode, TOY_NODE, 0);
			if (t->lookup_err) {
				len = toy_reply(out, ih->unique, t->lookup_err, NULL, 0);
				t->lookup_err = 0;
				break;
			}
			toy_attr(t, TOY_NODE, &e.attr);
			len = toy_reply(out, ih->unique, 0, &e, sizeof(e));
			break;
		}
		case FUSE_GETATTR: {
			struct fuse_attr_out a = { .attr_valid = t->attr_valid };

			if (ih->nodeid == TOY_NODE)
				t->getattrs++;
			if (ih->nodeid == TOY_NODE && t->getattr_err) {
				len = toy_reply(out, ih->unique, t->getattr_err, NULL, 0);
				t->getattr_err = 0;
				break;
			}
			toy_attr(t, ih->nodeid, &a.attr);
			len = toy_reply(out, ih->unique, 0, &a, sizeof(a));
			if (ih->nodeid == TOY_NODE && t->hold_getattr == 1) {
				t->hold_getattr = 0;
				hold = 1;
				toy_log(t, ih->opcode, ih->nodeid, 1);
			}
			break;
		}
		case FUSE_SETATTR: {
			struct fuse_setattr_in *si = body;
			struct fuse_attr_out a = {};

			toy_log(t, ih->opcode, ih->nodeid, si->size);
			if ((si->valid & FATTR_SIZE) && si->size <= TOY_MAX) {
				if (si->size > t->size)
					memset(t->data + t->size, 0, si->size - t->size);
				t->size = si->size;
			}
			toy_attr(t, ih->nodeid, &a.attr);
			len = toy_reply(out, ih->unique, 0, &a, sizeof(a));
			if (t->hold_setattr) {
				t->hold_setattr = 0;
				hold = 1;
			}
			break;
		}
		case FUSE_OPEN: {
			struct fuse_open_out o = { .fh = TOY_FH };

			toy_log(t, ih->opcode, ih->nodeid, 0);
			if (t->no_open) {
				len = toy_reply(out, ih->unique, -ENOSYS, NULL, 0);
				break;
			}
			if (t->hold_getattr == 2)
				t->hold_getattr = 1;
			if (toy_init_extra & FUSE_ATOMIC_O_TRUNC &&
			    (((struct fuse_open_in *)body)->flags & O_TRUNC))
				t->size = 0;
			len = toy_reply(out, ih->unique, 0, &o, sizeof(o));
			break;
		}
		case FUSE_READ: {
			struct fuse_read_in *ri = body;
			uint64_t cnt = 0;

			if (ri->offset < t->size)
				cnt = t->size - ri->offset;
			if (cnt > ri->size)
				cnt = ri->size;
			if (t->short_read && cnt > t->short_read)
				cnt = t->short_read;
			toy_log(t, ih->opcode, ih->nodeid, ri->offset);
			len = toy_reply(out, ih->unique, 0, t->data + ri->offset, cnt);
			if (t->hold_read) {
				t->hold_read = 0;
				hold = 1;
			}
			break;
		}
		case FUSE_WRITE: {
			struct fuse_write_in *wi = body;
			struct fuse_write_out wo = { .size = wi->size };

			toy_log(t, ih->opcode, ih->nodeid, wi->offset);
			if (wi->offset + wi->size > TOY_MAX) {
				len = toy_reply(out, ih->unique, -EFBIG, NULL, 0);
				break;
			}
			if (t->write_err) {
				len = toy_reply(out, ih->unique, t->write_err, NULL, 0);
				t->write_err = 0;
				break;
			}
			if (t->hold_write) {
				t->hold_write = 0;
				hold = 1;
			}
			memcpy(t->data + wi->offset, (char *)(wi + 1), wi->size);
			if (wi->offset + wi->size > t->size)
				t->size = wi->offset + wi->size;
			len = toy_reply(out, ih->unique, 0, &wo, sizeof(wo));
			break;
		}
		case FUSE_FLUSH:
			toy_log(t, ih->opcode, ih->nodeid, ((struct fuse_flush_in *)body)->lock_owner);
			len = toy_reply(out, ih->unique, 0, NULL, 0);
			break;
		case FUSE_RELEASE:
			toy_log(t, ih->opcode, ih->nodeid, 0);
			len = toy_reply(out, ih->unique, 0, NULL, 0);
			hold = t->hold_release;
			break;
		case FUSE_FORGET:
			toy_log(t, ih->opcode, ih->nodeid, 0);
			break;
		case FUSE_BATCH_FORGET: {
			struct fuse_batch_forget_in *bi = body;
			struct fuse_forget_one *one = (void *)(bi + 1);
			unsigned int i;

			for (i = 0; i < bi->count; i++)
				toy_log(t, FUSE_FORGET, one[i].nodeid, 0);
			break;
		}
		case FUSE_SETLK:
		case FUSE_SETLKW:
			toy_log(t, ih->opcode, ih->nodeid, 0);
			len = toy_reply(out, ih->unique, 0, NULL, 0);
			break;
		case FUSE_INTERRUPT:
			break;
		case FUSE_STATFS: {
			struct fuse_statfs_out so = { .st = { .bsize = 4096, .namelen = 255 } };

			len = toy_reply(out, ih->unique, 0, &so, sizeof(so));
			break;
		}
		default:
			len = toy_reply(out, ih->unique, -ENOSYS, NULL, 0);
			break;
		}
		if (hold && len <= sizeof(t->held)) {
			memcpy(t->held, out, len);
			t->held_len = len;
			len = 0;
		}
		pthread_mutex_unlock(&t->lock);
		if (len && write(t->fd, out, len) != (ssize_t)len && errno != ENOENT)
			perror("toy reply");
	}
	free(in);
	free(out);
	return NULL;
}

/* Send the reply kept back (if any). */
static int toy_release_held(struct toy *t)
{
	static char rep[TOY_HELD];	/* one test at a time */
	size_t len;

	pthread_mutex_lock(&t->lock);
	len = t->held_len;
	memcpy(rep, t->held, len);
	t->held_len = 0;
	pthread_mutex_unlock(&t->lock);
	return len && write(t->fd, rep, len) == (ssize_t)len ? 0 : -1;
}

static int toy_held(struct toy *t, int ms)
{
	size_t len;

	for (;;) {
		pthread_mutex_lock(&t->lock);
		len = t->held_len;
		pthread_mutex_unlock(&t->lock);
		if (len || ms <= 0)
			return len != 0;
		usleep(10000);
		ms -= 10;
	}
}

static struct toy *toy_start(const char *mnt, const char *opts, uint64_t size, int fill)
{
	struct toy *t = calloc(1, sizeof(*t));

	pthread_mutex_init(&t->lock, NULL);
	t->size = size;
	memset(t->data, fill, size);
	t->fd = open(MQFUSE_DEV_PATH, O_RDWR);
	if (t->fd < 0 || do_mount(mnt, t->fd, opts)) {
		if (t->fd >= 0)
			close(t->fd);
		free(t);
		return NULL;
	}
	pthread_create(&t->thr, NULL, toy_serve, t);
	return t;
}

static void toy_stop(struct toy *t, const char *mnt)
{
	toy_release_held(t);
	if (umount(mnt))
		umount2(mnt, MNT_DETACH);
	pthread_join(t->thr, NULL);
	close(t->fd);
	free(t);
}

static void path_f(char *p, size_t n, const char *mnt)
{
	snprintf(p, n, "%s/f", mnt);
}

/* RELEASE and FORGET of one node: FORGET only after RELEASE was answered. */
static void test_release_forget_order(const char *mnt)
{
	struct toy *t = toy_start(mnt, NULL, 4096, 'a');
	char p[256];
	pid_t child;
	int fd, rel, fgt, status;

	if (!t) {
		tap(0, "release/forget: mount toy daemon");
		return;
	}
	path_f(p, sizeof(p), mnt);
	t->hold_release = 1;
	fd = open(p, O_RDONLY);
	tap(fd >= 0, "release/forget: open f");
	close(fd);
	rel = toy_wait_for(t, FUSE_RELEASE, TOY_NODE, 0, 3000);
	tap(rel >= 0 && toy_held(t, 1000), "release/forget: RELEASE reached the daemon, not answered");
	/* evict the inode: its dentry is gone with TTL 0, drop_caches frees it */
	child = fork();
	if (child == 0) {
		int dfd = open("/proc/sys/vm/drop_caches", O_WRONLY);

		_exit(dfd >= 0 && write(dfd, "2", 1) == 1 ? 0 : 1);
	}
	fgt = toy_wait_for(t, FUSE_FORGET, TOY_NODE, 0, 1500);
	tap(fgt < 0, "release/forget: no FORGET while the RELEASE is unanswered");
	pthread_mutex_lock(&t->lock);
	t->hold_release = 0;
	pthread_mutex_unlock(&t->lock);
	toy_release_held(t);
	fgt = toy_wait_for(t, FUSE_FORGET, TOY_NODE, 0, 5000);
	tap(fgt > rel, "release/forget: FORGET follows the RELEASE reply (events %d, %d)",
	    rel, fgt);
	tap(waitpid(child, &status, 0) == child && WIFEXITED(status) &&
	    !WEXITSTATUS(status), "release/forget: drop_caches finished");
	toy_stop(t, mnt);
}

/*
 * A transient LOOKUP error in d_revalidate (one the kernel side can cause:
 * memory, a signal) fails the walk and keeps the dentry; any other answer
 * of the daemon is an answer about the name and invalidates it.
 */
static void test_revalidate_transient(const char *mnt)
{
	static const int errs[] = { -ENOMEM, -EINTR };
	static const int inval_errs[] = { -ENOENT, -EIO, -ESTALE };
	struct toy *t = toy_start(mnt, NULL, 100, 'a');
	struct stat st;
	unsigned int i, before;
	char p[256];
	int fd, r, e;

	if (!t) {
		tap(0, "revalidate: mount toy daemon");
		return;
	}
	path_f(p, sizeof(p), mnt);
	fd = -1;
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		/*
		 * A fresh open per case: its dentry is hashed and held, so the
		 * next walk revalidates it (TTL 0) whatever the case before did.
		 */
		if (fd >= 0)
			close(fd);
		fd = open(p, O_RDONLY);
		tap(fd >= 0, "revalidate: open f");
		pthread_mutex_lock(&t->lock);
		t->lookup_err = errs[i];
		before = t->lookups;
		pthread_mutex_unlock(&t->lock);
		errno = 0;
		r = stat(p, &st);
		e = errno;
		tap(r < 0 && e == -errs[i] && t->lookups == before + 1,
		    "revalidate: LOOKUP answered %s fails stat with it, no fresh lookup (stat %d %s, %u lookups)",
		    strerror(-errs[i]), r, strerror(e), t->lookups - before);
		tap(stat(p, &st) == 0 && st.st_ino == TOY_NODE,
		    "revalidate: the next stat works");
	}
	for (i = 0; i < sizeof(inval_errs) / sizeof(inval_errs[0]); i++) {
		close(fd);
		fd = open(p, O_RDONLY);
		pthread_mutex_lock(&t->lock);
		t->lookup_err = inval_errs[i];
		before = t->lookups;
		pthread_mutex_unlock(&t->lock);
		/* the toy answers the error once: the walk looks the name up afresh */
		r = stat(p, &st);
		tap(r == 0 && t->lookups == before + 2,
		    "revalidate: %s invalidates, a fresh LOOKUP follows (%u lookups)",
		    strerror(-inval_errs[i]), t->lookups - before);
	}
	close(fd);
	toy_stop(t, mnt);
}

/* A daemon without OPEN that does POSIX locks gets FLUSH (lock owner) on close. */
static void test_flush_no_open(const char *mnt)
{
	struct toy *t = toy_start(mnt, NULL, 100, 'a');
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10 };
	unsigned int from;
	char p[256];
	int fd;

	if (!t) {
		tap(0, "flush without OPEN: mount toy daemon");
		return;
	}
	t->no_open = 1;
	path_f(p, sizeof(p), mnt);
	fd = open(p, O_RDWR);
	tap(fd >= 0 && fcntl(fd, F_SETLK, &fl) == 0 &&
	    toy_find(t, FUSE_SETLK, TOY_NODE, 0) >= 0,
	    "flush without OPEN: POSIX lock went to the daemon");
	from = toy_nev(t);
	close(fd);
	tap(toy_wait_for(t, FUSE_FLUSH, TOY_NODE, from, 2000) >= 0,
	    "flush without OPEN: close sends FLUSH, which releases the owner's locks");
	toy_stop(t, mnt);
}

/* A short READ reply: the rest of the page reads as zeros. */
static void test_short_read(const char *mnt)
{
	struct toy *t = toy_start(mnt, NULL, 16384, 'A');
	unsigned char b[16384];
	char p[256];
	int fd, i, bad = -1;
	ssize_t n;

	if (!t) {
		tap(0, "short READ: mount toy daemon");
		return;
	}
	t->short_read = 100;
	path_f(p, sizeof(p), mnt);
	fd = open(p, O_RDONLY);
	n = fd >= 0 ? pread(fd, b, sizeof(b), 0) : -1;
	/*
	 * Each READ gets at most 100 bytes, so every page holds a prefix of
	 * at most 100 received bytes and zeros after it, whatever way the
	 * kernel split the reads.
	 */
	for (i = 0; n == (ssize_t)sizeof(b) && i < (int)sizeof(b) && bad < 0; i++) {
		int in_page = i % 4096;
		int prefix = in_page == 0 ? (b[i] == 'A') : (b[i - 1] == 'A' && b[i] == 'A');

		if (b[i] != 'A' && b[i] != 0)
			bad = i;
		else if (b[i] == 'A' && (in_page >= 100 || (in_page && !prefix)))
			bad = i;
	}
	tap(n == (ssize_t)sizeof(b) && bad < 0 && b[0] == 'A',
	    "short READ (100 bytes per reply): only received bytes, zeros after (n %zd, first bad %d)",
	    n, bad);
	if (fd >= 0)
		close(fd);
	toy_stop(t, mnt);
}

struct statx_arg {
	const char *path;
	int ret;
};

static void *toy_stat_thread(void *arg)
{
	struct statx_arg *a = arg;
	struct statx stx;

	a->ret = statx(AT_FDCWD, a->path, AT_STATX_FORCE_SYNC, STATX_SIZE, &stx);
	return NULL;
}

/*
 * A GETATTR answered before our write extended the file must not shrink
 * i_size; if it did, writeback dropped mmap-dirtied pages "past EOF".
 */
static void test_stale_size(const char *mnt)
{
	struct toy *t = toy_start(mnt, NULL, 0, 0);
	struct statx_arg sa;
	pthread_t thr;
	unsigned char b[8192];
	struct stat st;
	char p[256], *map;
	int fd;

	if (!t) {
		tap(0, "stale size: mount toy daemon");
		return;
	}
	path_f(p, sizeof(p), mnt);
	fd = open(p, O_RDWR);
	t->hold_getattr = 1;
	sa.path = p;
	pthread_create(&thr, NULL, toy_stat_thread, &sa);
	tap(toy_held(t, 3000), "stale size: GETATTR answered with size 0 and held back");
	memset(b, 'B', sizeof(b));
	tap(pwrite(fd, b, sizeof(b), 0) == sizeof(b), "stale size: write 8 KiB (size 0 -> 8192)");
	map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		tap(0, "stale size: mmap");
		toy_release_held(t);
		pthread_join(thr, NULL);
		close(fd);
		toy_stop(t, mnt);
		return;
	}
	memset(map + 4096, 'C', 4096);	/* dirty page 1 through the map */
	toy_release_held(t);		/* the old size 0 arrives now */
	pthread_join(thr, NULL);
	tap(msync(map, 8192, MS_SYNC) == 0, "stale size: msync");
	munmap(map, 8192);
	if (fstat(fd, &st))
		st.st_size = -1;
	tap(st.st_size == 8192, "stale size: size stays 8192 (%lld)", (long long)st.st_size);
	pthread_mutex_lock(&t->lock);
	tap(t->size == 8192 && t->data[4096] == 'C' && t->data[8191] == 'C',
	    "stale size: mmap-written page reached the daemon (size %llu, byte 0x%02x)",
	    (unsigned long long)t->size, t->data[4096]);
	pthread_mutex_unlock(&t->lock);
	close(fd);
	toy_stop(t, mnt);
}

struct open_arg {
	const char *path;
	int fd;
};

static void *toy_open_thread(void *arg)
{
	struct open_arg *a = arg;

	a->fd = open(a->path, O_RDONLY);
	return NULL;
}

/*
 * cto open fetches the attributes to check its cache. If the daemon
 * invalidates the inode (NOTIFY_INVAL_INODE) while that GETATTR is in
 * flight, the reply holds attributes from before the change and is
 * discarded; the open must ask again, not check the cache against the
 * old attributes (which kept the old pages).
 */
static void test_inval_during_open_getattr(const char *mnt)
{
	struct toy *t = toy_start(mnt, NULL, 4096, 'a');
	struct {
		struct fuse_out_header h;
		struct fuse_notify_inval_inode_out in;
	} msg = {
		.h = { .len = sizeof(msg), .error = FUSE_NOTIFY_INVAL_INODE },
		.in = { .ino = TOY_NODE, .off = -1 },
	};
	struct open_arg oa;
	pthread_t thr;
	char p[256], b[4096];
	struct stat st;
	ssize_t n;
	int fd;

	if (!t) {
		tap(0, "inval during open: mount toy daemon");
		return;
	}
	path_f(p, sizeof(p), mnt);
	fd = open(p, O_RDONLY);
	/* fd stays open: it keeps the inode, and its pages, cached (TTL 0) */
	tap(fd >= 0 && pread(fd, b, sizeof(b), 0) == sizeof(b) && b[0] == 'a',
	    "inval during open: first open caches the old data");
	t->hold_getattr = 1;
	oa.path = p;
	pthread_create(&thr, NULL, toy_open_thread, &oa);
	tap(toy_held(t, 3000), "inval during open: the open's GETATTR held (old size)");
	pthread_mutex_lock(&t->lock);
	memset(t->data, 'b', 8192);
	t->size = 8192;
	pthread_mutex_unlock(&t->lock);
	tap(write(t->fd, &msg, sizeof(msg)) == sizeof(msg),
	    "inval during open: NOTIFY_INVAL_INODE (attributes) accepted");
	toy_release_held(t);		/* the attributes from before the change */
	pthread_join(thr, NULL);
	tap(oa.fd >= 0, "inval during open: open succeeds");
	if (oa.fd < 0) {
		if (fd >= 0)
			close(fd);
		toy_stop(t, mnt);
		return;
	}
	n = pread(oa.fd, b, sizeof(b), 0);
	tap(n == sizeof(b) && b[0] == 'b',
	    "inval during open: the new data, not the cached page (%zd bytes, byte 0x%02x)",
	    n, (unsigned char)b[0]);
	if (fstat(oa.fd, &st))
		st.st_size = -1;
	tap(st.st_size == 8192, "inval during open: the new size (%lld)", (long long)st.st_size);
	close(oa.fd);
	if (fd >= 0)
		close(fd);
	toy_stop(t, mnt);
}

struct dio_arg {
	int fd;
	ssize_t ret;
};

static void *toy_dio_thread(void *arg)
{
	struct dio_arg *a = arg;
	void *b;

	if (posix_memalign(&b, 4096, 4096)) {
		a->ret = -1;
		return NULL;
	}
	memset(b, 'Z', 4096);
	a->ret = pwrite(a->fd, b, 4096, 0);
	free(b);
	return NULL;
}

/*
 * launder_folio: a page dirtied through mmap while an O_DIRECT write is at
 * the daemon is written when the write invalidates it; if that WRITE
 * fails, the page must stay dirty, so fsync sends it again.
 */
static void test_launder_failure(const char *mnt)
{
	struct toy *t = toy_start(mnt, NULL, 8192, 'a');
	struct dio_arg da;
	pthread_t dt;
	char p[256], *map;
	volatile char c;
	int fd;

	if (!t) {
		tap(0, "launder: mount toy daemon");
		return;
	}
	path_f(p, sizeof(p), mnt);
	fd = open(p, O_RDWR);
	da.fd = open(p, O_RDWR | O_DIRECT);
	map = fd >= 0 ? mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (da.fd < 0 || map == MAP_FAILED) {
		tap(0, "launder: open and mmap");
		toy_stop(t, mnt);
		return;
	}
	c = map[0];
	(void)c;
	/*
	 * The mount's dirty limit is strict (BDI_CAP_STRICTLIMIT): a fresh
	 * backing device has no share of the writeout yet, so its first
	 * dirty page would start background writeback at once, and the
	 * store could reach the daemon (or fail there) before the launder
	 * this test is about. A guaranteed share keeps one page below it.
	 */
	tap(mq_bdi_set_ratio(mnt, "min_ratio", 5) == 0, "launder: min_ratio of the mount's bdi set");
	t->hold_write = 1;
	pthread_create(&dt, NULL, toy_dio_thread, &da);
	tap(toy_held(t, 3000), "launder: O_DIRECT WRITE at the daemon, reply held");
	map[10] = 'M';			/* dirty page 0 through the map meanwhile */
	pthread_mutex_lock(&t->lock);
	t->write_err = -EIO;		/* the launder WRITE fails */
	pthread_mutex_unlock(&t->lock);
	toy_release_held(t);
	pthread_join(dt, NULL);
	tap(da.ret == 4096, "launder: O_DIRECT write done (%zd)", da.ret);
	fsync(fd);
	pthread_mutex_lock(&t->lock);
	tap(t->data[10] == 'M', "launder: the mmap store survives a failed launder WRITE (byte 0x%02x)",
	    t->data[10]);
	pthread_mutex_unlock(&t->lock);
	munmap(map, 8192);
	close(da.fd);
	close(fd);
	toy_stop(t, mnt);
}

struct store_arg {
	char *map;
	int done;			/* set once the store went through */
};

static void *toy_store_thread(void *arg)
{
	struct store_arg *a = arg;

	a->map[10] = 'M';
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * consistency=strict: write(2) goes to the daemon, not the page cache,
 * while mmap goes through it. A store through a shared map racing a
 * write(2) of the same page must not write the page's bytes from before
 * the write back over it: the store waits for the write, and lands on
 * the written data.
 */
static void test_strict_write_vs_map(const char *mnt)
{
	struct toy *t = toy_start(mnt, "consistency=strict", 8192, 'a');
	struct store_arg sa = { 0 };
	struct dio_arg da;
	pthread_t dt, st;
	char p[256], *map;
	volatile char c;
	int fd, stored;

	if (!t) {
		tap(0, "strict write vs map: mount toy daemon with consistency=strict");
		return;
	}
	path_f(p, sizeof(p), mnt);
	fd = open(p, O_RDWR);
	da.fd = open(p, O_RDWR);
	map = fd >= 0 ? mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (da.fd < 0 || map == MAP_FAILED) {
		tap(0, "strict write vs map: open and mmap");
		toy_stop(t, mnt);
		return;
	}
	c = map[0];
	(void)c;
	t->hold_write = 1;
	pthread_create(&dt, NULL, toy_dio_thread, &da);
	tap(toy_held(t, 3000), "strict write vs map: write(2)'s WRITE at the daemon, reply held");
	sa.map = map;
	pthread_create(&st, NULL, toy_store_thread, &sa);
	usleep(300 * 1000);
	stored = __atomic_load_n(&sa.done, __ATOMIC_ACQUIRE);
	tap(!stored, "strict write vs map: a store to the page waits for the write in flight");
	toy_release_held(t);
	pthread_join(dt, NULL);
	pthread_join(st, NULL);
	tap(da.ret == 4096, "strict write vs map: write(2) done (%zd)", da.ret);
	tap(fsync(fd) == 0, "strict write vs map: fsync");
	pthread_mutex_lock(&t->lock);
	tap(t->data[0] == 'Z' && t->data[10] == 'M' && t->data[4095] == 'Z',
	    "strict write vs map: the store landed on the written data (bytes 0x%02x 0x%02x 0x%02x)",
	    t->data[0], t->data[10], t->data[4095]);
	pthread_mutex_unlock(&t->lock);
	munmap(map, 8192);
	close(da.fd);
	close(fd);
	toy_stop(t, mnt);
}

static void *toy_truncate_thread(void *arg)
{
	int *fdp = arg;

	fdp[1] = ftruncate(fdp[0], 0);
	return NULL;
}

struct msync_arg {
	char *map;
	int ret;
};

static void *toy_msync_thread(void *arg)
{
	struct msync_arg *a = arg;

	a->ret = msync(a->map, 8192, MS_SYNC);
	return NULL;
}

/* A page redirtied through mmap during a truncate must not re-extend the file. */
static void test_truncate_vs_writeback(const char *mnt)
{
	struct toy *t = toy_start(mnt, NULL, 8192, 'D');
	pthread_t tt, mt;
	struct msync_arg ma;
	int fds[2], set, w;
	char p[256], *map;
	volatile char c;

	if (!t) {
		tap(0, "truncate vs writeback: mount toy daemon");
		return;
	}
	path_f(p, sizeof(p), mnt);
	fds[0] = open(p, O_RDWR);
	map = fds[0] >= 0 ? mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0) :
			    MAP_FAILED;
	if (map == MAP_FAILED) {
		tap(0, "truncate vs writeback: open and mmap");
		toy_stop(t, mnt);
		return;
	}
	c = map[4096];			/* fault the page in, clean */
	(void)c;
	t->hold_setattr = 1;
	pthread_create(&tt, NULL, toy_truncate_thread, fds);
	set = toy_wait_for(t, FUSE_SETATTR, TOY_NODE, 0, 3000);
	tap(set >= 0 && toy_held(t, 1000), "truncate vs writeback: SETATTR(size 0) at the daemon");
	map[4096] = 'E';		/* redirty while the daemon truncates */
	ma.map = map;
	pthread_create(&mt, NULL, toy_msync_thread, &ma);
	w = toy_wait_for(t, FUSE_WRITE, TOY_NODE, set, 1500);
	tap(w < 0, "truncate vs writeback: no WRITE reaches the daemon during its truncate");
	toy_release_held(t);
	pthread_join(tt, NULL);
	pthread_join(mt, NULL);
	tap(fds[1] == 0, "truncate vs writeback: ftruncate succeeded");
	usleep(200000);
	pthread_mutex_lock(&t->lock);
	tap(t->size == 0, "truncate vs writeback: the daemon's file stays truncated (size %llu)",
	    (unsigned long long)t->size);
	pthread_mutex_unlock(&t->lock);
	munmap(map, 8192);
	close(fds[0]);
	toy_stop(t, mnt);
}

/*
 * consistency=cto-wb: a failed writeback is reported at close to every
 * open file of the inode that was open when it failed, once each (errseq,
 * as fsync), not only to the first to close; not to one opened after.
 */
static void test_ctowb_close_errseq(const char *mnt)
{
	struct toy *t = toy_start(mnt, "consistency=cto-wb", 8192, 'a');
	char p[256];
	int fd1, fd2, fd3, r1, e1, r2, e2, r3;
	ssize_t w;

	if (!t) {
		tap(0, "cto-wb close errseq: mount toy daemon with consistency=cto-wb");
		return;
	}
	path_f(p, sizeof(p), mnt);
	fd1 = open(p, O_RDWR);
	fd2 = open(p, O_RDWR);
	/*
	 * The next WRITE fails: the writeback may start as soon as the
	 * page is dirty (the mount's strict dirty limit, a fresh bdi), and it
	 * is done by the first close at the latest.
	 */
	pthread_mutex_lock(&t->lock);
	t->write_err = -EIO;
	pthread_mutex_unlock(&t->lock);
	w = pwrite(fd1, "xyz", 3, 0);
	tap(fd1 >= 0 && fd2 >= 0 && w == 3, "cto-wb close errseq: two opens, a write (%zd)", w);
	r1 = close(fd1);
	e1 = errno;
	fd3 = open(p, O_RDWR);
	r2 = close(fd2);
	e2 = errno;
	r3 = fd3 >= 0 ? close(fd3) : -2;
	tap(r1 == -1 && e1 == EIO, "cto-wb close errseq: the first close reports EIO (%d, %s)",
	    r1, strerror(e1));
	tap(r2 == -1 && e2 == EIO, "cto-wb close errseq: the second open file's close reports it too (%d, %s)",
	    r2, strerror(e2));
	tap(r3 == 0, "cto-wb close errseq: a file opened after the failure closes cleanly (%d)", r3);
	toy_stop(t, mnt);
}

struct wr_arg {
	int fd;
	ssize_t ret;
};

static void *toy_pwrite_thread(void *arg)
{
	struct wr_arg *a = arg;

	a->ret = pwrite(a->fd, "WRITTEN", 7, 5);
	return NULL;
}

/*
 * consistency=cto-wb: a write(2) of another thread still running when
 * the file is closed dirties its page after close's flush; the last
 * reference then goes in that thread without a flush. The release must
 * write the page back, or it is left without a writable handle and lost.
 */
static void test_ctowb_write_after_close(const char *mnt)
{
	struct toy *t = toy_start(mnt, "consistency=cto-wb", 8192, 'a');
	struct wr_arg wa;
	pthread_t wt;
	char p[256];
	unsigned int from;
	int rd, cr, w, ok_data;

	if (!t) {
		tap(0, "cto-wb write after close: mount toy daemon with consistency=cto-wb");
		return;
	}
	path_f(p, sizeof(p), mnt);
	wa.fd = open(p, O_RDWR);
	if (wa.fd < 0) {
		tap(0, "cto-wb write after close: open");
		toy_stop(t, mnt);
		return;
	}
	from = toy_nev(t);
	pthread_mutex_lock(&t->lock);
	t->hold_read = 1;		/* the write's read of its partial page waits */
	pthread_mutex_unlock(&t->lock);
	pthread_create(&wt, NULL, toy_pwrite_thread, &wa);
	rd = toy_held(t, 3000);
	tap(rd, "cto-wb write after close: the write reads its page, reply held");
	cr = close(wa.fd);		/* flush: nothing dirty yet; the writer holds the file */
	tap(cr == 0, "cto-wb write after close: close returns 0 (%d)", cr);
	toy_release_held(t);
	pthread_join(wt, NULL);
	tap(wa.ret == 7, "cto-wb write after close: the write completes (%zd)", wa.ret);
	w = toy_wait_for(t, FUSE_WRITE, TOY_NODE, from, 3000);
	tap(w >= 0, "cto-wb write after close: its page is written back at the release");
	usleep(100000);
	pthread_mutex_lock(&t->lock);
	ok_data = !memcmp(t->data + 5, "WRITTEN", 7) && t->data[4] == 'a' && t->data[12] == 'a';
	pthread_mutex_unlock(&t->lock);
	tap(ok_data, "cto-wb write after close: the daemon has the written bytes");
	toy_stop(t, mnt);
}

/*
 * consistency=cto-wb: our EOF may lie past the daemon's (dirty pages past
 * it). An O_DIRECT read of the bytes between must return zeros, not the
 * daemon's EOF: it writes back up to our EOF first.
 */
static void test_ctowb_direct_read_past_daemon_eof(const char *mnt)
{
	struct toy *t = toy_start(mnt, "consistency=cto-wb", 8192, 'a');
	static char rbuf[4096] __attribute__((aligned(4096)));
	char p[256], zero[4096] = {};
	int fd, dfd, same;
	ssize_t w, r;

	if (!t) {
		tap(0, "cto-wb direct read: mount toy daemon with consistency=cto-wb");
		return;
	}
	path_f(p, sizeof(p), mnt);
	fd = open(p, O_RDWR);
	dfd = open(p, O_RDONLY | O_DIRECT);	/* before the write: open writes back */
	w = fd >= 0 ? pwrite(fd, "tail", 4, 65536) : -1;
	tap(dfd >= 0 && w == 4, "cto-wb direct read: a write past the daemon's EOF (%zd)", w);
	memset(rbuf, 'x', sizeof(rbuf));
	r = dfd >= 0 ? pread(dfd, rbuf, 4096, 16384) : -1;
	same = r == 4096 && !memcmp(rbuf, zero, 4096);
	tap(same, "cto-wb direct read: 4096 zeros between the daemon's EOF and ours (%zd)", r);
	if (dfd >= 0)
		close(dfd);
	if (fd >= 0)
		close(fd);
	toy_stop(t, mnt);
}

struct open_flags_arg {
	const char *path;
	int flags;
	int fd;
};

static void *toy_open_flags_thread(void *arg)
{
	struct open_flags_arg *a = arg;

	a->fd = open(a->path, a->flags);
	return NULL;
}

/*
 * consistency=cto-wb: open takes the daemon's size from its GETATTR
 * (another client appended). A stat answered while that GETATTR is at
 * the daemon applies attributes without the size (the kernel owns it
 * between opens); the open's reply, older than that stat's, must still be
 * applied, not discarded as outdated.
 */
static void test_ctowb_auth_getattr_not_discarded(const char *mnt)
{
	struct toy *t = toy_start(mnt, "consistency=cto-wb", 8192, 'a');
	struct open_flags_arg oa;
	struct stat st;
	pthread_t ot;
	char p[256], rb[16384];
	int fd, held, sr;
	ssize_t r = -1;
	off_t sz = -1;

	if (!t) {
		tap(0, "cto-wb open GETATTR: mount toy daemon with consistency=cto-wb");
		return;
	}
	path_f(p, sizeof(p), mnt);
	fd = open(p, O_RDONLY);		/* kept open: the inode stays cached */
	if (fd >= 0)
		r = pread(fd, rb, sizeof(rb), 0);
	tap(r == 8192, "cto-wb open GETATTR: first open reads 8192 bytes (%zd)", r);
	pthread_mutex_lock(&t->lock);
	memset(t->data + 8192, 'b', 4096);	/* another client appends */
	t->size = 12288;
	t->attr_valid = 60;			/* a stat's reply stays fresh */
	t->hold_getattr = 2;			/* the open's GETATTR (after OPEN) waits */
	pthread_mutex_unlock(&t->lock);
	oa.path = p;
	oa.flags = O_RDONLY;
	oa.fd = -1;
	pthread_create(&ot, NULL, toy_open_flags_thread, &oa);
	held = toy_held(t, 3000);
	tap(held, "cto-wb open GETATTR: the open's GETATTR at the daemon, reply held");
	sr = stat(p, &st);			/* answered and applied meanwhile */
	toy_release_held(t);
	pthread_join(ot, NULL);
	r = -1;
	if (oa.fd >= 0) {
		if (!fstat(oa.fd, &st))
			sz = st.st_size;
		r = read(oa.fd, rb, sizeof(rb));
		close(oa.fd);
	}
	tap(sr == 0 && sz == 12288, "cto-wb open GETATTR: the open took the daemon's size (%lld)",
	    (long long)sz);
	tap(r == 12288 && rb[12287] == 'b', "cto-wb open GETATTR: it reads the appended bytes (%zd)", r);
	if (fd >= 0)
		close(fd);
	toy_stop(t, mnt);
}

/* FUSE_NOTIFY_INC_EPOCH (protocol 7.44), not in the 6.1 headers */
#define TOY_NOTIFY_INC_EPOCH	8

/* pread of one byte at @off of @fd, or -1. */
static int byte_at(int fd, off_t off)
{
	unsigned char c;

	return pread(fd, &c, 1, off) == 1 ? c : -1;
}

/*
 * relaxed and immutable open: a GETATTR error does not fail the open (a
 * procfs-like file, as in stock FUSE), but the cache checked against no
 * fresh attributes is not trusted: the next open drops it even though
 * size and times look the same as when it was filled.
 */
static void test_relaxed_open_getattr_error(const char *mnt, const char *mode)
{
	char opts[64], p[256];
	struct fuse_notify_inval_inode_out inval = { .ino = TOY_NODE, .off = -1 };
	struct toy *t;
	unsigned int g;
	int fd, fd2, fd3, e2, c0, c2, c3;
	ssize_t nr;

	snprintf(opts, sizeof(opts), "consistency=%s", mode);
	t = toy_start(mnt, opts, 4096, 'a');
	if (!t) {
		tap(0, "%s open GETATTR error: mount toy daemon", mode);
		return;
	}
	path_f(p, sizeof(p), mnt);
	fd = open(p, O_RDONLY);		/* kept open: the inode and its pages stay cached */
	c0 = fd >= 0 ? byte_at(fd, 0) : -1;
	tap(c0 == 'a', "%s open GETATTR error: first open caches the data (0x%02x)", mode, c0);
	toy_set_data(t, 'b', 4096);	/* another client rewrites it: same size and times */
	/* immutable: only an invalidation makes the next open ask for attributes */
	nr = strcmp(mode, "immutable") ? 0 : toy_notify(t, FUSE_NOTIFY_INVAL_INODE, &inval,
							sizeof(inval));
	pthread_mutex_lock(&t->lock);
	t->getattr_err = -EIO;
	pthread_mutex_unlock(&t->lock);
	g = toy_getattrs(t);
	errno = 0;
	fd2 = open(p, O_RDONLY);
	e2 = errno;
	g = toy_getattrs(t) - g;
	tap(nr >= 0 && fd2 >= 0 && g == 1,
	    "%s open GETATTR error: open succeeds although its GETATTR failed (fd %d, %s, %u GETATTRs)",
	    mode, fd2, strerror(e2), g);
	c2 = fd2 >= 0 ? byte_at(fd2, 0) : -1;
	if (fd2 >= 0)
		close(fd2);
	/* inval once more (immutable), so this open asks and gets the same attributes */
	if (strcmp(mode, "immutable") == 0)
		toy_notify(t, FUSE_NOTIFY_INVAL_INODE, &inval, sizeof(inval));
	g = toy_getattrs(t);
	fd3 = open(p, O_RDONLY);
	g = toy_getattrs(t) - g;
	c3 = fd3 >= 0 ? byte_at(fd3, 0) : -1;
	tap(fd3 >= 0 && g == 1 && c3 == 'b',
	    "%s open GETATTR error: the next open drops the untrusted cache (0x%02x, then 0x%02x; %u GETATTRs)",
	    mode, c2, c3, g);
	if (fd3 >= 0)
		close(fd3);
	if (fd >= 0)
		close(fd);
	toy_stop(t, mnt);
}

struct store_byte_arg {
	char *p;
	char c;
	int done;			/* set once the store went through */
};

static void *toy_store_byte_thread(void *arg)
{
	struct store_byte_arg *a = arg;

	*a->p = a->c;
	__atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * cto open: the daemon's file changed, so the open drops the cache. If
 * that fails (a page dirtied again through a shared map while its write
 * back was at the daemon, whose launder WRITE then fails, stays), the
 * failure is remembered: the attributes are stamped all the same, so
 * without it the next open, finding them unchanged, kept the page.
 */
static void test_cto_failed_drop_remembered(const char *mnt)
{
	struct toy *t = toy_start(mnt, "consistency=cto", 8192, 'a');
	struct store_byte_arg sa = { 0 };
	struct open_arg oa;
	pthread_t ot, st;
	char p[256], *map;
	volatile char c;
	int fd, fd3, held, stored, cl, got_n, c100;

	if (!t) {
		tap(0, "cto failed drop: mount toy daemon with consistency=cto");
		return;
	}
	path_f(p, sizeof(p), mnt);
	fd = open(p, O_RDWR);
	map = fd >= 0 ? mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (map == MAP_FAILED) {
		tap(0, "cto failed drop: open and mmap");
		if (fd >= 0)
			close(fd);
		toy_stop(t, mnt);
		return;
	}
	c = map[0];
	c = map[4096];
	(void)c;
	/* no background writeback of the dirty page before the open (see launder test) */
	tap(mq_bdi_set_ratio(mnt, "min_ratio", 5) == 0, "cto failed drop: min_ratio of the mount's bdi set");
	map[0] = 'M';			/* page 0 dirty */
	pthread_mutex_lock(&t->lock);
	memset(t->data + 8192, 'b', 4096);	/* another client appends: the open drops */
	t->size = 12288;
	t->hold_write = 1;		/* the drop's write back of page 0 waits at the daemon */
	pthread_mutex_unlock(&t->lock);
	oa.path = p;
	oa.fd = -1;
	pthread_create(&ot, NULL, toy_open_thread, &oa);
	held = toy_held(t, 3000);
	tap(held, "cto failed drop: the open's write back of page 0 at the daemon, reply held");
	pthread_mutex_lock(&t->lock);
	t->write_err = -EIO;		/* the launder WRITE of the redirtied page fails */
	pthread_mutex_unlock(&t->lock);
	sa.p = map + 1;
	sa.c = 'N';
	pthread_create(&st, NULL, toy_store_byte_thread, &sa);
	usleep(300 * 1000);
	stored = __atomic_load_n(&sa.done, __ATOMIC_ACQUIRE);
	tap(!stored, "cto failed drop: a store to page 0 waits for its write back (dirty again)");
	toy_release_held(t);
	pthread_join(st, NULL);
	pthread_join(ot, NULL);
	tap(oa.fd >= 0, "cto failed drop: the open succeeds although its drop failed");
	/* its close writes page 0 back and stamps the cache with the daemon's attributes */
	cl = oa.fd >= 0 ? close(oa.fd) : -1;
	pthread_mutex_lock(&t->lock);
	got_n = t->data[1] == 'N';
	t->data[100] = 'c';		/* another client changes page 0: same size and times */
	pthread_mutex_unlock(&t->lock);
	tap(cl == 0 && got_n, "cto failed drop: close wrote the page back (close %d, stored byte %s)",
	    cl, got_n ? "there" : "missing");
	fd3 = open(p, O_RDONLY);
	c100 = fd3 >= 0 ? byte_at(fd3, 100) : -1;
	tap(c100 == 'c', "cto failed drop: the next open drops the page the failed drop left (0x%02x)",
	    c100);
	if (fd3 >= 0)
		close(fd3);
	munmap(map, 8192);
	close(fd);
	toy_stop(t, mnt);
}

/*
 * FUSE_NOTIFY_INC_EPOCH has no payload: one is refused (EINVAL). Without
 * one, every name and attribute cached before it is stale, also in
 * immutable mode, which otherwise keeps them until an invalidation.
 */
static void test_inc_epoch(const char *mnt)
{
	struct toy *t = toy_start(mnt, "consistency=immutable", 4096, 'a');
	struct stat st;
	unsigned int g, l;
	char p[256];
	uint32_t junk = 0;
	ssize_t r;
	int fd, fd2, c;
	off_t sz;

	if (!t) {
		tap(0, "INC_EPOCH: mount toy daemon with consistency=immutable");
		return;
	}
	path_f(p, sizeof(p), mnt);
	fd = open(p, O_RDONLY);		/* kept open: the inode and its pages stay cached */
	c = fd >= 0 ? byte_at(fd, 0) : -1;
	g = toy_getattrs(t);
	l = toy_lookups(t);
	fstat(fd, &st);
	stat(p, &st);
	g = toy_getattrs(t) - g;
	l = toy_lookups(t) - l;
	tap(c == 'a' && g == 0 && l == 0,
	    "INC_EPOCH: immutable caches attributes and the name (%u GETATTRs, %u LOOKUPs)", g, l);
	r = toy_notify(t, TOY_NOTIFY_INC_EPOCH, &junk, sizeof(junk));
	tap(r == -EINVAL, "INC_EPOCH: with a payload it is refused with EINVAL (%zd)", r);
	g = toy_getattrs(t);
	fstat(fd, &st);
	g = toy_getattrs(t) - g;
	tap(g == 0, "INC_EPOCH: a refused one leaves the attributes cached (%u GETATTRs)", g);
	toy_set_data(t, 'b', 8192);	/* the dataset is replaced */
	r = toy_notify(t, TOY_NOTIFY_INC_EPOCH, NULL, 0);
	tap(r == (ssize_t)sizeof(struct fuse_out_header),
	    "INC_EPOCH: without a payload it is accepted (%zd)", r);
	g = toy_getattrs(t);
	sz = fstat(fd, &st) ? -1 : st.st_size;
	g = toy_getattrs(t) - g;
	tap(g == 1 && sz == 8192, "INC_EPOCH: fstat asks the daemon again (%u GETATTRs, size %lld)",
	    g, (long long)sz);
	l = toy_lookups(t);
	stat(p, &st);
	l = toy_lookups(t) - l;
	tap(l == 1, "INC_EPOCH: the name is looked up again (%u LOOKUPs)", l);
	fd2 = open(p, O_RDONLY);
	c = fd2 >= 0 ? byte_at(fd2, 0) : -1;
	tap(c == 'b', "INC_EPOCH: the next open serves the new data (0x%02x)", c);
	if (fd2 >= 0)
		close(fd2);
	if (fd >= 0)
		close(fd);
	toy_stop(t, mnt);
}

static void *toy_fchmod_thread(void *arg)
{
	int *fdp = arg;

	fdp[1] = fchmod(fdp[0], 0600);
	return NULL;
}

/*
 * A SETATTR reply is applied whatever was applied meanwhile, but its
 * attributes were asked for before an INC_EPOCH that came meanwhile:
 * they are stale all the same (immutable mode would keep them forever).
 */
static void test_inc_epoch_during_setattr(const char *mnt)
{
	struct toy *t = toy_start(mnt, "consistency=immutable", 4096, 'a');
	struct stat st;
	pthread_t ct;
	unsigned int g;
	char p[256];
	int fds[2] = { -1, -1 }, held;
	ssize_t r;

	if (!t) {
		tap(0, "INC_EPOCH during SETATTR: mount toy daemon with consistency=immutable");
		return;
	}
	path_f(p, sizeof(p), mnt);
	fds[0] = open(p, O_RDWR);
	t->hold_setattr = 1;
	pthread_create(&ct, NULL, toy_fchmod_thread, fds);
	held = toy_wait_for(t, FUSE_SETATTR, TOY_NODE, 0, 3000) >= 0 && toy_held(t, 1000);
	tap(fds[0] >= 0 && held, "INC_EPOCH during SETATTR: fchmod's SETATTR at the daemon, reply held");
	r = toy_notify(t, TOY_NOTIFY_INC_EPOCH, NULL, 0);
	toy_release_held(t);
	pthread_join(ct, NULL);
	tap(r == (ssize_t)sizeof(struct fuse_out_header) && fds[1] == 0,
	    "INC_EPOCH during SETATTR: epoch accepted (%zd), fchmod done (%d)", r, fds[1]);
	g = toy_getattrs(t);
	fstat(fds[0], &st);
	g = toy_getattrs(t) - g;
	tap(g == 1, "INC_EPOCH during SETATTR: its reply's attributes are stale (%u GETATTRs)", g);
	if (fds[0] >= 0)
		close(fds[0]);
	toy_stop(t, mnt);
}

/*
 * An asynchronous O_DIRECT read (io_submit, FUSE_ASYNC_DIO) makes the
 * attributes stale (the daemon's atime moved) where a synchronous one
 * does: in cto, not in relaxed, which keeps them for their TTL.
 */
static void test_async_read_stales_attr(const char *mnt, const char *mode, int stales)
{
	char opts[64], p[256];
	struct iocb cb, *cbs[1] = { &cb };
	struct io_event ev;
	aio_context_t ctx = 0;
	struct stat st;
	struct toy *t;
	unsigned int g0, g1;
	void *b = NULL;
	long sub = -1, got = -1;
	int fd;

	snprintf(opts, sizeof(opts), "consistency=%s", mode);
	toy_init_extra = FUSE_ASYNC_DIO;	/* read by the toy when INIT comes */
	t = toy_start(mnt, opts, 8192, 'a');
	if (!t) {
		toy_init_extra = 0;
		tap(0, "%s async read: mount toy daemon", mode);
		return;
	}
	t->attr_valid = 60;
	path_f(p, sizeof(p), mnt);
	fd = open(p, O_RDONLY | O_DIRECT);
	if (fd < 0 || posix_memalign(&b, 4096, 4096) ||
	    syscall(__NR_io_setup, 1, &ctx)) {
		tap(0, "%s async read: open O_DIRECT, buffer, io_setup", mode);
		goto out;
	}
	g0 = toy_getattrs(t);
	fstat(fd, &st);
	g0 = toy_getattrs(t) - g0;
	memset(&cb, 0, sizeof(cb));
	cb.aio_lio_opcode = IOCB_CMD_PREAD;
	cb.aio_fildes = fd;
	cb.aio_buf = (uintptr_t)b;
	cb.aio_nbytes = 4096;
	cb.aio_offset = 0;
	sub = syscall(__NR_io_submit, ctx, 1, cbs);
	if (sub == 1)
		got = syscall(__NR_io_getevents, ctx, 1, 1, &ev, NULL);
	tap(g0 == 0 && got == 1 && ev.res == 4096 && ((char *)b)[0] == 'a',
	    "%s async read: io_submit O_DIRECT read of 4096 bytes (%u GETATTRs before, res %lld)",
	    mode, g0, got == 1 ? (long long)ev.res : -1LL);
	g1 = toy_getattrs(t);
	fstat(fd, &st);
	g1 = toy_getattrs(t) - g1;
	tap(g1 == (unsigned int)stales,
	    "%s async read: fstat after it %s the daemon (%u GETATTRs)", mode,
	    stales ? "asks" : "does not ask", g1);
	syscall(__NR_io_destroy, ctx);
out:
	free(b);
	if (fd >= 0)
		close(fd);
	toy_stop(t, mnt);
	toy_init_extra = 0;
}

/*
 * strict mmap drops the clean idle pages of the range mapped, not of the
 * whole file: pages outside it stay cached (mincore of an older map of
 * the whole file, whose pages were unmapped with MADV_DONTNEED).
 */
static void test_strict_mmap_range(const char *mnt)
{
	struct toy *t = toy_start(mnt, "consistency=strict", 3 * 4096, 'a');
	unsigned char vec[3] = { 0 }, vec0[3] = { 0 };
	char p[256], *a, *b;
	volatile char c;
	int fd, i;

	if (!t) {
		tap(0, "strict mmap range: mount toy daemon with consistency=strict");
		return;
	}
	path_f(p, sizeof(p), mnt);
	fd = open(p, O_RDONLY);
	a = fd >= 0 ? mmap(NULL, 3 * 4096, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (a == MAP_FAILED) {
		tap(0, "strict mmap range: open and mmap");
		if (fd >= 0)
			close(fd);
		toy_stop(t, mnt);
		return;
	}
	for (i = 0; i < 3; i++)
		c = a[i * 4096];
	(void)c;
	madvise(a, 3 * 4096, MADV_DONTNEED);	/* unmapped, still cached, clean */
	mincore(a, 3 * 4096, vec0);
	b = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 4096);	/* page 1 only */
	mincore(a, 3 * 4096, vec);
	tap((vec0[0] & vec0[1] & vec0[2] & 1) && b != MAP_FAILED,
	    "strict mmap range: three pages cached, a map of page 1 set up");
	tap(!(vec[1] & 1), "strict mmap range: the mapped page 1 was dropped");
	tap((vec[0] & 1) && (vec[2] & 1),
	    "strict mmap range: pages 0 and 2, outside the map, stay cached (%d %d)",
	    vec[0] & 1, vec[2] & 1);
	if (b != MAP_FAILED)
		munmap(b, 4096);
	munmap(a, 3 * 4096);
	close(fd);
	toy_stop(t, mnt);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: kc_test MNT\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	buf = malloc(BUFSZ);
	test_session(argv[1]);
	test_bad_init(argv[1], 8, 1 << 20, "INIT with major 8");
	test_bad_init(argv[1], 7, 512, "INIT with max_write 512");
	if (sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
		test_queues(argv[1], 0);
		test_queues(argv[1], 1);
	} else {
		printf("ok - queue routing # SKIP needs 2 CPUs\n");
	}
	test_release_forget_order(argv[1]);
	test_revalidate_transient(argv[1]);
	test_flush_no_open(argv[1]);
	test_short_read(argv[1]);
	test_stale_size(argv[1]);
	test_truncate_vs_writeback(argv[1]);
	test_launder_failure(argv[1]);
	test_strict_write_vs_map(argv[1]);
	test_inval_during_open_getattr(argv[1]);
	test_ctowb_close_errseq(argv[1]);
	test_ctowb_write_after_close(argv[1]);
	test_ctowb_direct_read_past_daemon_eof(argv[1]);
	test_ctowb_auth_getattr_not_discarded(argv[1]);
	test_relaxed_open_getattr_error(argv[1], "relaxed");
	test_relaxed_open_getattr_error(argv[1], "immutable");
	test_cto_failed_drop_remembered(argv[1]);
	test_inc_epoch(argv[1]);
	test_inc_epoch_during_setattr(argv[1]);
	test_async_read_stales_attr(argv[1], "cto", 1);
	test_async_read_stales_attr(argv[1], "relaxed", 0);
	test_strict_mmap_range(argv[1]);
	return tap_state.failed ? 1 : 0;
}
