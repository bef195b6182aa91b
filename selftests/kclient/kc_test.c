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
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "mqfuse.h"

#define BUFSZ (8 * 1024 * 1024 + 8192)

static int failures;
static char *buf;

static void tap(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%s - ", ok ? "ok" : "not ok");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		failures++;
}

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
	return failures ? 1 : 0;
}
