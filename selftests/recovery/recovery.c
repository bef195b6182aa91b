// SPDX-License-Identifier: GPL-2.0
/*
 * recovery: kernel side of crash recovery and hot upgrade (mount option
 * recovery=, MQFUSE_IOC_ATTACH, MQFUSE_UNIQUE_REPLAY, STORE_FD/FETCH_FD).
 *
 * This process is the daemon, speaking the raw protocol with tinyfs
 * (selftests/common) so that it decides exactly which request it reads,
 * leaves unanswered, or answers wrongly; the "application" is a forked
 * child that does one syscall and reports its result through a pipe.
 *
 * Mounts use queues=1: "replayed requests first" is a per-queue promise,
 * and an unbound reader takes the queues round robin.
 *
 *   recovery [-t FSTYPE] [-d DEV] [-m MNT] [SCENARIO...]   (default: all)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include "mqfuse.h"
#include "tap.h"
#include "tinyfs.h"

static const char *fstype = MQFUSE_NAME;
static const char *devpath = MQFUSE_DEV_PATH;
static const char *mnt = "/tmp/recovery-mnt";
static char fpath[512];
static char *rbuf;		/* TINYFS_BUFSZ: one request */

/* ---- small helpers ---- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
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

static long long sysfs_num(uint64_t id, const char *attr)
{
	char b[64];

	return sysfs_read(id, attr, b, sizeof(b)) ? -1 : atoll(b);
}

static bool state_is(uint64_t id, const char *want)
{
	char b[64];

	if (sysfs_read(id, "state", b, sizeof(b)))
		return false;
	if (strcmp(b, want))
		tap_diag("  state is \"%s\", expected \"%s\"", b, want);
	return !strcmp(b, want);
}

/* Requests queued and not yet read, all queues (queue<N>/stats "pending"). */
static long pending(uint64_t id)
{
	char b[1024], a[32];
	long total = 0;
	int q;

	for (q = 0; q < 256; q++) {
		char *p;

		snprintf(a, sizeof(a), "queue%d/stats", q);
		if (sysfs_read(id, a, b, sizeof(b)))
			break;
		p = strstr(b, "\npending ");
		if (p)
			total += atol(p + 9);
	}
	return total;
}

static bool wait_pending(uint64_t id, long n, int ms)
{
	long long end = now_ms() + ms;

	while (now_ms() < end) {
		if (pending(id) >= n)
			return true;
		usleep(20000);
	}
	return false;
}

/* Read one request from @fd, waiting up to @ms; 0 or -errno (-ETIMEDOUT). */
static int read_req(int fd, struct req *r, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return -ETIMEDOUT;
	n = read(fd, rbuf, TINYFS_BUFSZ);
	if (n < 0)
		return -errno;
	if ((size_t)n < sizeof(struct fuse_in_header))
		return -EPROTO;
	r->h = (struct fuse_in_header *)rbuf;
	r->arg = rbuf + sizeof(struct fuse_in_header);
	r->len = n;
	return 0;
}

/*
 * Serve requests normally until one with @opcode arrives (returned in @r,
 * unanswered). 0 or -errno.
 */
static int serve_until(int fd, uint32_t opcode, struct req *r, int ms)
{
	long long end = now_ms() + ms;
	int err;

	for (;;) {
		long long left = end - now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		err = read_req(fd, r, left);
		if (err)
			return err;
		if (r->h->opcode == opcode)
			return 0;
		serve_normal(fd, r);
	}
}

static uint64_t session_of(int fd)
{
	struct mqfuse_session_info si;

	memset(&si, 0, sizeof(si));
	if (ioctl(fd, MQFUSE_IOC_GET_INFO, &si))
		return 0;
	return si.session_id;
}

/* Mount with a fresh device fd; INIT answered unless !@init. Returns the fd. */
static int do_mount(unsigned int recovery, bool init)
{
	char opts[256];
	struct req r;
	int fd;

	fd = open(devpath, O_RDWR);
	if (fd < 0) {
		tap_diag("open %s: %s", devpath, strerror(errno));
		return -1;
	}
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,queues=1,recovery=%u",
		 fd, recovery);
	if (mount("recovery", mnt, fstype, MS_NOSUID | MS_NODEV, opts)) {
		tap_diag("mount -o %s: %s", opts, strerror(errno));
		close(fd);
		return -1;
	}
	if (!init)
		return fd;
	if (read_req(fd, &r, 10000) || r.h->opcode != FUSE_INIT) {
		tap_diag("no INIT request");
		close(fd);
		umount2(mnt, MNT_DETACH);
		return -1;
	}
	serve_normal(fd, &r);
	return fd;
}

/*
 * In a forked child: close every fd above stderr but @keep. A child that
 * kept a copy of a device fd would keep the daemon "alive" when the
 * parent closes its own.
 */
static void close_fds_but(int keep)
{
	int i;

	for (i = 3; i < 1024; i++)
		if (i != keep)
			close(i);
}

/* A server child answering everything on @fd until the session ends. */
static pid_t spawn_server(int fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct req r;
		int err;

		close_fds_but(fd);
		alarm(120);
		for (;;) {
			err = read_req(fd, &r, 60000);
			if (err == -ETIMEDOUT)
				continue;
			if (err)
				_exit(0);
			serve_normal(fd, &r);
		}
	}
	return pid;
}

/*
 * Applications started and not yet reaped: an application that exits
 * with a file of the mount open sends FLUSH from exit(), which needs a
 * daemon; finish() reaps them once one serves.
 */
static pid_t apps[32];
static unsigned int nr_apps;

static void reap_apps(void)
{
	long long end = now_ms() + 10000;
	unsigned int i;

	for (i = 0; i < nr_apps; i++) {
		while (waitpid(apps[i], NULL, WNOHANG) == 0) {
			if (now_ms() > end) {
				tap_diag("application %d does not exit: killing it", apps[i]);
				kill(apps[i], SIGKILL);
				waitpid(apps[i], NULL, 0);
				break;
			}
			usleep(20000);
		}
	}
	nr_apps = 0;
}

/* Unmount with a server for the requests umount sends; @fd is closed. */
static bool finish(int fd, const char *what)
{
	pid_t srv = fd >= 0 ? spawn_server(fd) : -1;
	bool ok;

	if (fd >= 0)
		close(fd);
	reap_apps();
	ok = umount2(mnt, 0) == 0;
	if (!ok) {
		tap_diag("umount: %s", strerror(errno));
		umount2(mnt, MNT_DETACH);
	}
	if (srv > 0) {
		kill(srv, SIGKILL);
		waitpid(srv, NULL, 0);
	}
	return tap_ok(ok, "%s: unmount works", what);
}

/* ---- the application ---- */

struct app_result {
	ssize_t ret;		/* syscall result */
	int err;		/* its errno */
	char data[64];		/* what a read returned */
};

struct app {
	pid_t pid;
	int pipe;		/* read end */
	bool done;
	struct app_result res;
};

enum app_op {
	APP_READ,		/* open "file", pread 100 bytes at 0 */
	APP_STAT,		/* stat "file" (LOOKUP/GETATTR) */
	APP_READ_SIGNAL,	/* APP_READ with a SIGUSR1 handler (no SA_RESTART) */
	APP_CLOSE,		/* open "file", close it (FLUSH) */
	APP_CLOSE_LATER,	/* open "file", close it on SIGUSR1 */
};

static void on_usr1(int sig)
{
	(void)sig;
}

static void app_start(struct app *a, enum app_op op)
{
	int p[2];

	memset(a, 0, sizeof(*a));
	if (pipe(p)) {
		a->pid = -1;
		return;
	}
	a->pid = fork();
	if (a->pid == 0) {
		struct app_result res = { 0 };
		struct stat st;
		int fd;

		close_fds_but(p[1]);
		alarm(120);
		if (op == APP_READ_SIGNAL || op == APP_CLOSE_LATER) {
			struct sigaction sa = { .sa_handler = on_usr1 };

			sigaction(SIGUSR1, &sa, NULL);
		}
		if (op == APP_CLOSE || op == APP_CLOSE_LATER) {
			sigset_t usr1, old;

			sigemptyset(&usr1);
			sigaddset(&usr1, SIGUSR1);
			sigprocmask(SIG_BLOCK, &usr1, &old);
			fd = open(fpath, O_RDONLY);
			if (fd < 0) {
				res.ret = -2;
				res.err = errno;
			} else {
				sigdelset(&old, SIGUSR1);
				if (op == APP_CLOSE_LATER)
					sigsuspend(&old);
				res.ret = close(fd);
				res.err = res.ret < 0 ? errno : 0;
			}
		} else if (op == APP_READ || op == APP_READ_SIGNAL) {
			fd = open(fpath, O_RDONLY);
			if (fd < 0) {
				res.ret = -2;
				res.err = errno;
			} else {
				res.ret = pread(fd, res.data, 100 < sizeof(res.data) ?
						100 : sizeof(res.data), 0);
				res.err = res.ret < 0 ? errno : 0;
			}
		} else {
			res.ret = stat(fpath, &st);
			res.err = res.ret < 0 ? errno : 0;
			if (!res.ret)
				res.ret = st.st_size;
		}
		if (write(p[1], &res, sizeof(res)) != sizeof(res))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	a->pipe = p[0];
	if (a->pid > 0 && nr_apps < sizeof(apps) / sizeof(apps[0]))
		apps[nr_apps++] = a->pid;
}

/* Has the app finished (within @ms)? Collects its result. */
static bool app_poll(struct app *a, int ms)
{
	struct pollfd p = { .fd = a->pipe, .events = POLLIN };

	if (a->done)
		return true;
	if (poll(&p, 1, ms) <= 0)
		return false;
	if (read(a->pipe, &a->res, sizeof(a->res)) != sizeof(a->res))
		a->res.ret = -3;
	a->done = true;
	close(a->pipe);
	return true;
}

/* Serve @fd normally until @a finished (or @ms passed). */
static bool app_serve(struct app *a, int fd, int ms)
{
	long long end = now_ms() + ms;
	struct req r;

	while (!app_poll(a, 0)) {
		if (now_ms() > end)
			return false;
		if (!read_req(fd, &r, 50))
			serve_normal(fd, &r);
	}
	return true;
}

/* Forget an app whose result never came (finish() reaps the process). */
static void app_reap(struct app *a)
{
	if (a->pid > 0 && !a->done) {
		close(a->pipe);
		a->done = true;
	}
}

/* Drop every capability of this process, keeping its uids (euid 0 stays 0). */
static int drop_caps(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	return syscall(SYS_capset, &h, d);
}

static int attach_id(int fd, uint64_t id)
{
	struct mqfuse_attach at = { .session_id = id, .fd = -1 };

	return ioctl(fd, MQFUSE_IOC_ATTACH, &at);
}

static int attach_fd(int fd, int mfd)
{
	struct mqfuse_attach at = { .session_id = 0, .fd = mfd };

	return ioctl(fd, MQFUSE_IOC_ATTACH, &at);
}

/* A saved copy of a request: header and payload. */
struct saved {
	struct fuse_in_header h;
	char arg[256];
	size_t alen;
};

static void save(struct saved *s, const struct req *r)
{
	s->h = *r->h;
	s->alen = r->len - sizeof(*r->h);
	if (s->alen > sizeof(s->arg))
		s->alen = sizeof(s->arg);
	memcpy(s->arg, r->arg, s->alen);
}

/* @r is @s delivered again: same everything, unique with the replay bit. */
static bool same_replayed(const struct saved *s, const struct req *r, const char *what)
{
	bool ok = true;

	ok &= tap_ok(r->h->unique == (s->h.unique | MQFUSE_UNIQUE_REPLAY),
		     "%s: replayed unique is the old one with MQFUSE_UNIQUE_REPLAY", what);
	if (r->h->unique != (s->h.unique | MQFUSE_UNIQUE_REPLAY))
		tap_diag("  old %#llx new %#llx", (unsigned long long)s->h.unique,
			 (unsigned long long)r->h->unique);
	ok &= tap_ok(r->h->opcode == s->h.opcode && r->h->nodeid == s->h.nodeid &&
		     r->h->len == s->h.len && r->h->uid == s->h.uid &&
		     r->h->gid == s->h.gid && r->h->pid == s->h.pid,
		     "%s: replayed header has the same opcode, nodeid, length, creds", what);
	ok &= tap_ok(r->len - sizeof(*r->h) == s->alen &&
		     !memcmp(r->arg, s->arg, s->alen),
		     "%s: replayed payload is identical", what);
	return ok;
}

/* ---- scenarios ---- */

/* (a) recovery=0: the last close aborts, as before. */
static void t_norecovery(void)
{
	struct app a;
	struct req r;
	uint64_t id;
	int fd;

	fd = do_mount(0, true);
	if (!tap_ok(fd >= 0, "norecovery: mount"))
		return;
	id = session_of(fd);
	tap_eq(sysfs_num(id, "recovery"), 0, "norecovery: sysfs recovery is 0");
	app_start(&a, APP_READ);
	tap_ok(!serve_until(fd, FUSE_READ, &r, 10000), "norecovery: daemon got the READ");
	close(fd);
	tap_ok(app_poll(&a, 5000), "norecovery: the app returns when the daemon closes");
	tap_ok(a.res.ret == -1 && a.res.err == ENOTCONN, "norecovery: with ENOTCONN");
	if (a.done && a.res.ret != -1)
		tap_diag("  ret %zd errno %d", a.res.ret, a.res.err);
	tap_ok(state_is(id, "aborted"), "norecovery: session aborted");
	app_reap(&a);
	finish(-1, "norecovery");
}

/*
 * recovery=0, two fds: the one that read a READ and a FLUSH closes
 * without answering, the other keeps serving. Nothing will answer them:
 * both fail with ECONNABORTED at once instead of waiting for an abort.
 */
static void t_clonelost(void)
{
	struct app a, b;
	struct req r;
	uint32_t master;
	uint64_t id;
	int fd, fd2;

	fd = do_mount(0, true);
	if (!tap_ok(fd >= 0, "clonelost: mount with recovery=0"))
		return;
	id = session_of(fd);
	fd2 = open(devpath, O_RDWR);
	master = fd;
	if (!tap_succ(ioctl(fd2, MQFUSE_IOC_CLONE, &master), "clonelost: CLONE a second fd")) {
		close(fd2);
		finish(fd, "clonelost");
		return;
	}
	app_start(&a, APP_READ);
	tap_ok(!serve_until(fd2, FUSE_READ, &r, 10000), "clonelost: the clone got the READ");
	app_start(&b, APP_CLOSE);
	tap_ok(!serve_until(fd2, FUSE_FLUSH, &r, 10000), "clonelost: the clone got the FLUSH");
	close(fd2);	/* leaves without answering */
	app_serve(&a, fd, 3000);
	tap_ok(a.done && a.res.ret == -1 && a.res.err == ECONNABORTED,
	       "clonelost: the read fails with ECONNABORTED (done %d, ret %zd, errno %d)",
	       a.done, a.res.ret, a.res.err);
	app_serve(&b, fd, 3000);
	tap_ok(b.done, "clonelost: the close (forced FLUSH) returns (ret %zd, errno %d)",
	       b.res.ret, b.res.err);
	tap_ok(state_is(id, "running"), "clonelost: the session keeps running");
	tap_eq(sysfs_num(id, "daemons"), 1, "clonelost: one daemon fd left");
	app_reap(&a);
	app_reap(&b);
	finish(fd, "clonelost");
}

/*
 * (b)+(c)+(h): orphan with a READ in the daemon, a new request queued
 * while orphaned, the stored memfd survives; attach by id, replay first.
 */
static void t_replay(void)
{
	struct mqfuse_session_info si;
	struct app a, b;
	struct saved s;
	struct req r;
	char buf[32];
	uint64_t id;
	int fd, fd2, mfd, got;

	fd = do_mount(30, true);
	if (!tap_ok(fd >= 0, "replay: mount with recovery=30"))
		return;
	id = session_of(fd);
	tap_eq(sysfs_num(id, "recovery"), 30, "replay: sysfs recovery is 30");

	/* the state the next daemon needs, kept by the session */
	mfd = memfd_create("state", MFD_CLOEXEC);
	tap_ok(mfd >= 0 && write(mfd, "state-123", 9) == 9, "replay: memfd with state");
	tap_succ(ioctl(fd, MQFUSE_IOC_STORE_FD, &mfd), "replay: STORE_FD of a memfd");
	close(mfd);

	app_start(&a, APP_READ);
	if (!tap_ok(!serve_until(fd, FUSE_READ, &r, 10000), "replay: daemon got the READ")) {
		app_reap(&a);
		finish(fd, "replay");
		return;
	}
	save(&s, &r);
	tap_ok(!(s.h.unique & MQFUSE_UNIQUE_REPLAY), "replay: first delivery has no replay bit");
	close(fd);	/* the daemon "crashes" holding the READ */

	tap_ok(state_is(id, "orphaned"), "replay: session orphaned after the last close");
	tap_ok(!app_poll(&a, 500), "replay: the app still waits");
	app_start(&b, APP_STAT);
	tap_ok(wait_pending(id, 2, 5000), "replay: a new request queues up while orphaned");
	tap_ok(!app_poll(&b, 200), "replay: the new request's app waits too");

	fd2 = open(devpath, O_RDWR);
	tap_succ(attach_id(fd2, id), "replay: ATTACH by session id");
	tap_ok(state_is(id, "running"), "replay: session running again");
	tap_eq(sysfs_num(id, "recoveries"), 1, "replay: sysfs recoveries is 1");
	tap_eq(sysfs_num(id, "replayed"), 1, "replay: sysfs replayed is 1");
	tap_eq(sysfs_num(id, "daemon_pid"), getpid(), "replay: sysfs daemon_pid is ours");
	memset(&si, 0, sizeof(si));
	tap_succ(ioctl(fd2, MQFUSE_IOC_GET_INFO, &si), "replay: GET_INFO on the new fd");
	tap_ok(si.session_id == id && si.state == MQFUSE_STATE_RUNNING &&
	       si.recovery_s == 30 && si.proto_minor == sysfs_num(id, "minor") &&
	       si.proto_minor >= 31 &&
	       (si.init_flags & FUSE_ASYNC_READ) && (si.init_flags & FUSE_DO_READDIRPLUS),
	       "replay: GET_INFO gives the INIT results (flags %#llx, minor %u)",
	       (unsigned long long)si.init_flags, si.proto_minor);

	got = ioctl(fd2, MQFUSE_IOC_FETCH_FD);
	if (tap_succ(got, "replay: FETCH_FD on the new daemon's fd")) {
		tap_ok(fcntl(got, F_GETFD) & FD_CLOEXEC, "replay: fetched fd is O_CLOEXEC");
		memset(buf, 0, sizeof(buf));
		tap_ok(pread(got, buf, sizeof(buf) - 1, 0) == 9 && !strcmp(buf, "state-123"),
		       "replay: fetched fd holds the stored state");
		close(got);
	}

	/* no INIT: the first thing read is the replayed READ */
	if (tap_ok(!read_req(fd2, &r, 5000), "replay: the new daemon reads a request")) {
		same_replayed(&s, &r, "replay");
		/* the answer, with the replay bit in the unique */
		tap_eq(reply(fd2, r.h->unique, 0, "ZZZZ", 4), (ssize_t)sizeof(struct fuse_out_header) + 4,
		       "replay: reply with the replay bit accepted");
	}
	tap_ok(app_poll(&a, 5000), "replay: the app's read completes");
	tap_ok(a.res.ret == 4 && !memcmp(a.res.data, "ZZZZ", 4),
	       "replay: with the new daemon's answer (ret %zd, errno %d)", a.res.ret, a.res.err);
	/* then what was queued while orphaned, not marked */
	/* (the first app's FLUSH from its exit may come on another queue first) */
	if (tap_ok(!serve_until(fd2, FUSE_LOOKUP, &r, 5000),
		   "replay: then the request queued while orphaned")) {
		tap_ok(!(r.h->unique & MQFUSE_UNIQUE_REPLAY),
		       "replay: it comes without the replay bit");
		serve_normal(fd2, &r);
	}
	app_serve(&b, fd2, 10000);
	tap_ok(b.done && b.res.ret == TINYFS_FILE_SIZE,
	       "replay: the app that waited while orphaned gets its answer");
	app_reap(&a);
	app_reap(&b);
	finish(fd2, "replay");
}

/* (d) no daemon attaches: ENOTCONN after recovery= seconds, umount works. */
static void t_timeout(void)
{
	long long t0, dt;
	struct app a;
	struct req r;
	uint64_t id;
	int fd;

	fd = do_mount(2, true);
	if (!tap_ok(fd >= 0, "timeout: mount with recovery=2"))
		return;
	id = session_of(fd);
	app_start(&a, APP_READ);
	tap_ok(!serve_until(fd, FUSE_READ, &r, 10000), "timeout: daemon got the READ");
	close(fd);
	t0 = now_ms();
	tap_ok(state_is(id, "orphaned"), "timeout: orphaned");
	tap_ok(app_poll(&a, 20000), "timeout: the app returns");
	dt = now_ms() - t0;
	tap_ok(dt >= 1500, "timeout: not before the timeout (%lld ms)", dt);
	tap_ok(a.res.ret == -1 && a.res.err == ENOTCONN, "timeout: with ENOTCONN (ret %zd, errno %d)",
	       a.res.ret, a.res.err);
	tap_ok(state_is(id, "aborted"), "timeout: session aborted");
	fd = open(devpath, O_RDWR);
	tap_errno(attach_id(fd, id), ENOTCONN, "timeout: ATTACH to the aborted session refused");
	close(fd);
	app_reap(&a);
	finish(-1, "timeout");
}

/* (d') umount of an orphaned session does not wait for the timer. */
static void t_umount_orphaned(void)
{
	long long t0;
	uint64_t id;
	int fd;

	fd = do_mount(600, true);
	if (!tap_ok(fd >= 0, "umount-orphaned: mount with recovery=600"))
		return;
	id = session_of(fd);
	close(fd);
	tap_ok(state_is(id, "orphaned"), "umount-orphaned: orphaned");
	t0 = now_ms();
	tap_succ(umount2(mnt, 0), "umount-orphaned: umount");
	tap_ok(now_ms() - t0 < 5000, "umount-orphaned: without waiting for recovery= (%lld ms)",
	       now_ms() - t0);
	fd = open(devpath, O_RDWR);
	tap_errno(attach_id(fd, id), ENOENT, "umount-orphaned: the session is gone");
	close(fd);
}

/* (e) SIGKILL of apps waiting while orphaned; the killed requests are not replayed. */
static void t_kill(void)
{
	struct app a, b;
	struct saved s;
	struct req r;
	long long t0;
	bool seen = false;
	uint64_t id;
	int fd, i;

	fd = do_mount(30, true);
	if (!tap_ok(fd >= 0, "kill: mount with recovery=30"))
		return;
	id = session_of(fd);
	app_start(&a, APP_READ);
	tap_ok(!serve_until(fd, FUSE_READ, &r, 10000), "kill: daemon got the READ");
	save(&s, &r);
	close(fd);
	tap_ok(state_is(id, "orphaned"), "kill: orphaned");
	app_start(&b, APP_STAT);
	tap_ok(wait_pending(id, 2, 5000), "kill: a second request queued while orphaned");
	t0 = now_ms();
	kill(a.pid, SIGKILL);
	kill(b.pid, SIGKILL);
	tap_ok(waitpid(a.pid, NULL, 0) == a.pid && waitpid(b.pid, NULL, 0) == b.pid &&
	       now_ms() - t0 < 5000, "kill: both killed apps exit at once (%lld ms)",
	       now_ms() - t0);
	a.done = b.done = true;
	close(a.pipe);
	close(b.pipe);
	fd = open(devpath, O_RDWR);
	tap_succ(attach_id(fd, id), "kill: ATTACH");
	/* what comes is the killed app's FLUSH/RELEASE, never its READ or LOOKUP */
	for (i = 0; i < 20 && !read_req(fd, &r, 500); i++) {
		if ((r.h->unique & ~MQFUSE_UNIQUE_REPLAY) == s.h.unique ||
		    r.h->opcode == FUSE_READ || r.h->opcode == FUSE_LOOKUP)
			seen = true;
		serve_normal(fd, &r);
	}
	tap_ok(!seen, "kill: the killed apps' requests are not delivered");
	tap_ok(state_is(id, "running"), "kill: session running");
	finish(fd, "kill");
}

/* Reap @a, killed, within @ms; false if it is still there then. */
static bool app_wait_killed(struct app *a, long long deadline)
{
	while (waitpid(a->pid, NULL, WNOHANG) != a->pid) {
		if (now_ms() > deadline)
			return false;
		usleep(20000);
	}
	if (!a->done) {
		close(a->pipe);
		a->done = true;
	}
	return true;
}

/*
 * SIGKILL of tasks waiting while orphaned, in every way they can wait: a
 * read() whose READ a lost daemon held (back in the queue), a close()
 * whose FLUSH (forced: not interruptible) a lost daemon held, a close()
 * whose FLUSH was queued while orphaned. All end at once; the session
 * leaks nothing and a daemon can attach.
 */
static void t_killclose(void)
{
	struct app a, b, c;
	struct saved s;
	struct req r;
	long long t0;
	bool ra, rb, rc, seen = false;
	uint64_t id;
	int fd, i;

	fd = do_mount(30, true);
	if (!tap_ok(fd >= 0, "killclose: mount with recovery=30"))
		return;
	id = session_of(fd);
	app_start(&c, APP_CLOSE_LATER);
	tap_ok(!serve_until(fd, FUSE_OPEN, &r, 10000), "killclose: third app opens");
	serve_normal(fd, &r);
	app_start(&a, APP_READ);
	tap_ok(!serve_until(fd, FUSE_READ, &r, 10000), "killclose: daemon got the READ");
	app_start(&b, APP_CLOSE);
	tap_ok(!serve_until(fd, FUSE_FLUSH, &r, 10000), "killclose: daemon got the FLUSH");
	save(&s, &r);
	close(fd);	/* the daemon dies holding both */
	tap_ok(state_is(id, "orphaned"), "killclose: orphaned");
	kill(c.pid, SIGUSR1);
	tap_ok(wait_pending(id, 3, 5000), "killclose: READ, FLUSH replayed and a new FLUSH queued");
	tap_ok(!app_poll(&b, 200) && !app_poll(&c, 0), "killclose: both closes wait");
	t0 = now_ms();
	kill(a.pid, SIGKILL);
	kill(b.pid, SIGKILL);
	kill(c.pid, SIGKILL);
	ra = app_wait_killed(&a, t0 + 3000);
	rb = app_wait_killed(&b, t0 + 3000);
	rc = app_wait_killed(&c, t0 + 3000);
	tap_ok(ra, "killclose: killed in read() exits at once");
	tap_ok(rb, "killclose: killed in close() with a replayed FLUSH exits at once");
	tap_ok(rc, "killclose: killed in close() with a FLUSH queued while orphaned exits at once");
	tap_ok(ra && rb && rc, "killclose: all three within %lld ms", now_ms() - t0);
	fd = open(devpath, O_RDWR);
	tap_succ(attach_id(fd, id), "killclose: ATTACH");
	/* RELEASEs come; no READ or FLUSH of a killed app */
	for (i = 0; i < 20 && !read_req(fd, &r, 300); i++) {
		if ((r.h->unique & ~MQFUSE_UNIQUE_REPLAY) == s.h.unique ||
		    r.h->opcode == FUSE_READ || r.h->opcode == FUSE_FLUSH)
			seen = true;
		serve_normal(fd, &r);
	}
	tap_ok(!seen, "killclose: the killed apps' READ and FLUSHes are not delivered");
	for (i = 0; i < 50 && sysfs_num(id, "waiting") > 0; i++)
		usleep(20000);
	tap_eq(sysfs_num(id, "waiting"), 0, "killclose: no request left in the session");
	finish(fd, "killclose");
}

/*
 * A request interrupted while orphaned: delivered again, then its
 * INTERRUPT, both under the replayed unique.
 */
static void t_interrupt(void)
{
	struct app a;
	struct saved s;
	struct req r;
	uint64_t id, u;
	int fd;

	fd = do_mount(30, true);
	if (!tap_ok(fd >= 0, "interrupt: mount with recovery=30"))
		return;
	id = session_of(fd);
	app_start(&a, APP_READ_SIGNAL);
	tap_ok(!serve_until(fd, FUSE_READ, &r, 10000), "interrupt: daemon got the READ");
	save(&s, &r);
	close(fd);
	tap_ok(state_is(id, "orphaned"), "interrupt: orphaned");
	kill(a.pid, SIGUSR1);
	tap_ok(!app_poll(&a, 500), "interrupt: the interrupted app still waits while orphaned");
	fd = open(devpath, O_RDWR);
	tap_succ(attach_id(fd, id), "interrupt: ATTACH");
	if (tap_ok(!read_req(fd, &r, 5000), "interrupt: the new daemon reads"))
		same_replayed(&s, &r, "interrupt");
	u = s.h.unique | MQFUSE_UNIQUE_REPLAY;
	if (tap_ok(!read_req(fd, &r, 5000) && r.h->opcode == FUSE_INTERRUPT,
		   "interrupt: then an INTERRUPT")) {
		struct fuse_interrupt_in *in = r.arg;

		tap_ok(in->unique == u && r.h->unique == (u | 1),
		       "interrupt: for the replayed unique (%#llx, header %#llx)",
		       (unsigned long long)in->unique, (unsigned long long)r.h->unique);
	}
	tap_eq(reply(fd, u, -EINTR, NULL, 0), (ssize_t)sizeof(struct fuse_out_header),
	       "interrupt: READ answered EINTR");
	app_poll(&a, 5000);
	tap_ok(a.done && a.res.ret == -1 && a.res.err == EINTR,
	       "interrupt: the app's read fails with EINTR (ret %zd, errno %d)",
	       a.res.ret, a.res.err);
	finish(fd, "interrupt");
}

/*
 * The timer against an attach at about the deadline (recovery=1, attach
 * after 0.9..1.1 s): exactly one wins, and the state says which.
 */
static void t_race(void)
{
	unsigned int i, won = 0, lost = 0, bad = 0;

	for (i = 0; i < 12; i++) {
		struct app a;
		uint64_t id;
		int fd, err;
		bool running;

		fd = do_mount(1, true);
		if (fd < 0) {
			bad++;
			continue;
		}
		id = session_of(fd);
		close(fd);
		usleep(900000 + i * 200000 / 12);
		fd = open(devpath, O_RDWR);
		err = attach_id(fd, id) ? errno : 0;
		running = state_is(id, "running");
		if (!err && running) {
			/* the winner serves: a stat gets its answer */
			app_start(&a, APP_STAT);
			app_serve(&a, fd, 10000);
			if (a.done && a.res.ret == TINYFS_FILE_SIZE)
				won++;
			else
				bad++;
		} else if (err == ENOTCONN && !running) {
			lost++;
		} else {
			tap_diag("  attach: %s, state running: %d", strerror(err), running);
			bad++;
		}
		finish(err ? -1 : fd, "race");
		if (err)
			close(fd);
	}
	tap_ok(!bad, "race: attach vs timeout: %u attached, %u too late, %u inconsistent",
	       won, lost, bad);
}

/* (f) ATTACH refusals. */
static void t_refusals(void)
{
	struct mqfuse_attach at;
	uint64_t id;
	int fd, fd2, root;
	pid_t pid;
	int st;

	/* in INIT: no INIT reply yet */
	fd = do_mount(30, false);
	if (!tap_ok(fd >= 0, "refusals: mount"))
		return;
	id = session_of(fd);
	fd2 = open(devpath, O_RDWR);
	tap_errno(attach_id(fd2, id), EAGAIN, "refusals: ATTACH during INIT: EAGAIN");
	{
		struct req r;

		tap_ok(!read_req(fd, &r, 10000) && r.h->opcode == FUSE_INIT,
		       "refusals: INIT after the refused ATTACH");
		serve_normal(fd, &r);
	}
	tap_errno(attach_id(fd2, 0xfffffffffffULL), ENOENT, "refusals: unknown session id: ENOENT");
	at = (struct mqfuse_attach){ .session_id = id, .fd = -1, .flags = 4 };
	tap_errno(ioctl(fd2, MQFUSE_IOC_ATTACH, &at), EINVAL, "refusals: unknown flag: EINVAL");
	at = (struct mqfuse_attach){ .session_id = id, .fd = -1,
				     .flags = MQFUSE_ATTACH_RESTART | MQFUSE_ATTACH_TAKEOVER };
	tap_errno(ioctl(fd2, MQFUSE_IOC_ATTACH, &at), EINVAL, "refusals: RESTART and TAKEOVER: EINVAL");
	at = (struct mqfuse_attach){ .session_id = id, .fd = -1, .daemon_gen = 1 };
	tap_errno(ioctl(fd2, MQFUSE_IOC_ATTACH, &at), EINVAL,
		  "refusals: daemon_gen without TAKEOVER: EINVAL");
	at = (struct mqfuse_attach){ .session_id = id, .fd = -1, .reserved = 1 };
	tap_errno(ioctl(fd2, MQFUSE_IOC_ATTACH, &at), EINVAL, "refusals: reserved: EINVAL");
	/* exclusive modes on a RUNNING session */
	at = (struct mqfuse_attach){ .session_id = id, .fd = -1, .flags = MQFUSE_ATTACH_RESTART };
	tap_errno(ioctl(fd2, MQFUSE_IOC_ATTACH, &at), EBUSY,
		  "refusals: RESTART of a running session: EBUSY");
	at = (struct mqfuse_attach){ .session_id = id, .fd = -1, .flags = MQFUSE_ATTACH_TAKEOVER,
				     .daemon_gen = 1000 };
	tap_errno(ioctl(fd2, MQFUSE_IOC_ATTACH, &at), EBUSY,
		  "refusals: TAKEOVER from a daemon generation that is not the newest: EBUSY");
	root = open("/", O_PATH);
	at = (struct mqfuse_attach){ .session_id = id, .fd = root };
	tap_errno(ioctl(fd2, MQFUSE_IOC_ATTACH, &at), EINVAL,
		  "refusals: both a session id and an fd: EINVAL");
	tap_errno(attach_fd(fd2, root), EINVAL, "refusals: fd of another filesystem: EINVAL");
	close(root);
	tap_errno(attach_fd(fd2, -5), EBADF, "refusals: negative fd: EBADF");
	tap_errno(attach_fd(fd2, 1000), EBADF, "refusals: closed fd: EBADF");
	tap_errno(attach_id(fd, id), EBUSY, "refusals: an fd already attached: EBUSY");
	tap_errno(ioctl(fd2, MQFUSE_IOC_FETCH_FD), EINVAL,
		  "refusals: FETCH_FD on an unattached fd: EINVAL");

	/* unprivileged: another uid without capabilities */
	pid = fork();
	if (pid == 0) {
		int dfd;

		close_fds_but(-1);
		dfd = open(devpath, O_RDWR);

		if (dfd < 0 || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(3);
		_exit(attach_id(dfd, id) == -1 && errno == EPERM ? 0 : 1);
	}
	tap_ok(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "refusals: ATTACH by another uid without CAP_SYS_ADMIN: EPERM (status %d)", st);

	/* another uid holding an fd of the mount: not the mounter */
	pid = fork();
	if (pid == 0) {
		int dfd, mfd;

		close_fds_but(-1);
		dfd = open(devpath, O_RDWR);
		mfd = open(mnt, O_PATH);
		if (dfd < 0 || mfd < 0 || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(3);
		_exit(attach_fd(dfd, mfd) == -1 && errno == EPERM ? 0 : 1);
	}
	tap_ok(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "refusals: ATTACH by an fd of the mount, another uid: EPERM (status %d)", st);

	/* euid 0 without any capability (a container given the device node) */
	pid = fork();
	if (pid == 0) {
		int dfd, mfd;

		close_fds_but(-1);
		dfd = open(devpath, O_RDWR);
		mfd = open(mnt, O_PATH);
		if (dfd < 0 || mfd < 0 || drop_caps())
			_exit(3);
		if (attach_id(dfd, id) != -1 || errno != EPERM)
			_exit(1);
		/* the mounter's uid, but a root mount needs CAP_SYS_ADMIN */
		_exit(attach_fd(dfd, mfd) == -1 && errno == EPERM ? 0 : 2);
	}
	tap_ok(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	       "refusals: ATTACH as root without capabilities, by id and by fd: EPERM (status %d)",
	       st);
	tap_ok(state_is(id, "running"), "refusals: the refused attaches changed nothing");
	tap_eq(sysfs_num(id, "daemons"), 1, "refusals: still one daemon fd");

	/* STORE_FD: no device fd, no file of an mqfuse mount */
	tap_errno(ioctl(fd, MQFUSE_IOC_STORE_FD, &fd2), EINVAL,
		  "refusals: STORE_FD of a /dev/mqfuse fd: EINVAL");
	{
		int self = -1, bad = 1000;

		tap_errno(ioctl(fd, MQFUSE_IOC_STORE_FD, &bad), EBADF,
			  "refusals: STORE_FD of a closed fd: EBADF");
		tap_succ(ioctl(fd, MQFUSE_IOC_STORE_FD, &self), "refusals: STORE_FD -1 (nothing kept)");
		tap_errno(ioctl(fd, MQFUSE_IOC_FETCH_FD), ENOENT,
			  "refusals: FETCH_FD with nothing kept: ENOENT");
	}
	/* only a regular file on tmpfs/shmem (hugetlbfs) is kept */
	{
		int mfd = memfd_create("state", MFD_CLOEXEC);
		int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
		int nfd = open("/proc/self/ns/mnt", O_RDONLY);
		int xfd = open("/proc/self/exe", O_RDONLY);
		int dfd = open("/dev/shm", O_RDONLY | O_DIRECTORY);

		tap_succ(ioctl(fd, MQFUSE_IOC_STORE_FD, &mfd), "refusals: STORE_FD of a memfd");
		tap_errno(ioctl(fd, MQFUSE_IOC_STORE_FD, &sfd), EINVAL,
			  "refusals: STORE_FD of a socket: EINVAL");
		tap_errno(ioctl(fd, MQFUSE_IOC_STORE_FD, &nfd), EINVAL,
			  "refusals: STORE_FD of /proc/self/ns/mnt: EINVAL");
		tap_errno(ioctl(fd, MQFUSE_IOC_STORE_FD, &xfd), EINVAL,
			  "refusals: STORE_FD of a regular file on another filesystem: EINVAL");
		if (dfd >= 0)
			tap_errno(ioctl(fd, MQFUSE_IOC_STORE_FD, &dfd), EINVAL,
				  "refusals: STORE_FD of a tmpfs directory: EINVAL");
		{
			int got = ioctl(fd, MQFUSE_IOC_FETCH_FD);
			struct stat a, b;

			tap_ok(got >= 0 && !fstat(got, &a) && !fstat(mfd, &b) &&
			       a.st_ino == b.st_ino && a.st_dev == b.st_dev,
			       "refusals: the refused ones left the memfd stored");
			if (got >= 0)
				close(got);
		}
		close(mfd);
		close(sfd);
		close(nfd);
		close(xfd);
		if (dfd >= 0)
			close(dfd);
	}
	{
		pid_t srv = spawn_server(fd);
		int mf = open(fpath, O_RDONLY);

		tap_succ(mf, "refusals: open a file of the mount");
		if (mf >= 0) {
			tap_errno(ioctl(fd, MQFUSE_IOC_STORE_FD, &mf), EINVAL,
				  "refusals: STORE_FD of a file of the mount: EINVAL");
			close(mf);
		}
		tap_succ(umount2(mnt, MNT_DETACH) == 0 ? 0 : -1, "refusals: lazy umount");
		kill(srv, SIGKILL);
		waitpid(srv, NULL, 0);
	}
	close(fd2);
	close(fd);

	/* aborted through sysfs while still mounted */
	fd = do_mount(30, true);
	if (!tap_ok(fd >= 0, "refusals: mount again"))
		return;
	id = session_of(fd);
	{
		char p[256];
		int afd;

		snprintf(p, sizeof(p), "%s/%llu/abort", MQFUSE_SYSFS_PATH, (unsigned long long)id);
		afd = open(p, O_WRONLY);
		tap_ok(afd >= 0 && write(afd, "1", 1) == 1, "refusals: abort through sysfs");
		if (afd >= 0)
			close(afd);
	}
	fd2 = open(devpath, O_RDWR);
	tap_errno(attach_id(fd2, id), ENOTCONN, "refusals: ATTACH to an aborted session: ENOTCONN");
	close(fd2);
	finish(fd, "refusals");
}

/* (g) hot upgrade: attach while running; the old fd closes holding a request. */
static void t_upgrade(void)
{
	struct app a, b;
	struct saved s;
	struct req r;
	uint64_t id;
	int fd, fd2, root;

	fd = do_mount(30, true);
	if (!tap_ok(fd >= 0, "upgrade: mount with recovery=30"))
		return;
	id = session_of(fd);
	app_start(&a, APP_READ);
	tap_ok(!serve_until(fd, FUSE_READ, &r, 10000), "upgrade: old daemon got the READ");
	save(&s, &r);
	/* the new daemon attaches through an O_PATH fd of the mount root */
	root = open(mnt, O_PATH);
	fd2 = open(devpath, O_RDWR);
	tap_succ(attach_fd(fd2, root), "upgrade: ATTACH by an O_PATH fd of the mount while running");
	close(root);
	tap_eq(sysfs_num(id, "daemons"), 2, "upgrade: two daemon fds");
	app_start(&b, APP_STAT);
	tap_ok(wait_pending(id, 1, 5000), "upgrade: a request waits in the queue");
	close(fd);	/* the old daemon leaves holding the READ */
	tap_ok(state_is(id, "running"), "upgrade: the session stays running");
	tap_eq(sysfs_num(id, "recoveries"), 0, "upgrade: no recovery counted");
	tap_eq(sysfs_num(id, "replayed"), 1, "upgrade: one request replayed");
	if (tap_ok(!read_req(fd2, &r, 5000), "upgrade: new daemon reads")) {
		same_replayed(&s, &r, "upgrade");
		/* answered without the replay bit: accepted too */
		tap_eq(reply(fd2, s.h.unique, 0, "YYYYYY", 6),
		       (ssize_t)sizeof(struct fuse_out_header) + 6,
		       "upgrade: reply without the replay bit accepted");
	}
	app_poll(&a, 5000);
	tap_ok(a.done && a.res.ret == 6 && !memcmp(a.res.data, "YYYYYY", 6),
	       "upgrade: the app gets the new daemon's answer (ret %zd)", a.res.ret);
	app_serve(&b, fd2, 10000);
	tap_ok(b.done && b.res.ret == TINYFS_FILE_SIZE,
	       "upgrade: the queued request is served by the new daemon");
	app_reap(&a);
	app_reap(&b);
	finish(fd2, "upgrade");
}

/* (i) a hostile attaching daemon: a bad reply to a replayed request is EIO. */
static void t_hostile(void)
{
	static char big[1 << 20];
	struct app a;
	struct req r;
	uint64_t id;
	int fd;

	fd = do_mount(30, true);
	if (!tap_ok(fd >= 0, "hostile: mount with recovery=30"))
		return;
	id = session_of(fd);
	app_start(&a, APP_READ);
	tap_ok(!serve_until(fd, FUSE_READ, &r, 10000), "hostile: daemon got the READ");
	close(fd);
	fd = open(devpath, O_RDWR);
	tap_succ(attach_id(fd, id), "hostile: ATTACH");
	if (tap_ok(!read_req(fd, &r, 5000) && r.h->opcode == FUSE_READ &&
		   (r.h->unique & MQFUSE_UNIQUE_REPLAY), "hostile: replayed READ read")) {
		uint64_t u = r.h->unique;
		struct fuse_read_in *in = r.arg;
		size_t n = in->size + 1;

		memset(big, 'X', sizeof(big));
		/* one byte more than the READ asked for */
		tap_ok(n <= sizeof(big), "hostile: READ of %u bytes", in->size);
		tap_eq(reply(fd, u, 0, big, n < sizeof(big) ? n : sizeof(big)), -EINVAL,
		       "hostile: oversized reply refused (EINVAL)");
		tap_eq(reply(fd, u, 0, big, 4), -ENOENT,
		       "hostile: a second reply finds no request (ENOENT)");
		tap_eq(reply(fd, u & ~MQFUSE_UNIQUE_REPLAY, 5, NULL, 0), -ENOENT,
		       "hostile: positive error to a finished request: ENOENT");
	}
	app_poll(&a, 5000);
	tap_ok(a.done && a.res.ret == -1 && a.res.err == EIO,
	       "hostile: the app gets EIO (ret %zd, errno %d)", a.res.ret, a.res.err);
	tap_ok(state_is(id, "running"), "hostile: session still running");
	app_reap(&a);
	finish(fd, "hostile");
}

/* recovery= bounds and /proc/mounts. */
static void t_option(void)
{
	char opts[256], line[1024];
	bool shown = false;
	FILE *f;
	int fd;

	fd = open(devpath, O_RDWR);
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,recovery=86401", fd);
	tap_errno(mount("recovery", mnt, fstype, 0, opts), EINVAL,
		  "option: recovery=86401 refused");
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,recovery=-1", fd);
	tap_errno(mount("recovery", mnt, fstype, 0, opts), EINVAL, "option: recovery=-1 refused");
	close(fd);
	fd = do_mount(86400, true);
	if (!tap_ok(fd >= 0, "option: recovery=86400 accepted"))
		return;
	f = fopen("/proc/mounts", "r");
	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, mnt) && strstr(line, ",recovery=86400"))
			shown = true;
	if (f)
		fclose(f);
	tap_ok(shown, "option: recovery=86400 shown in /proc/mounts");
	finish(fd, "option");
}

static const struct {
	const char *name;
	void (*fn)(void);
} scenarios[] = {
	{ "option", t_option },
	{ "norecovery", t_norecovery },
	{ "clonelost", t_clonelost },
	{ "replay", t_replay },
	{ "timeout", t_timeout },
	{ "umount_orphaned", t_umount_orphaned },
	{ "kill", t_kill },
	{ "killclose", t_killclose },
	{ "interrupt", t_interrupt },
	{ "race", t_race },
	{ "refusals", t_refusals },
	{ "upgrade", t_upgrade },
	{ "hostile", t_hostile },
};

int main(int argc, char **argv)
{
	unsigned int i;
	int c, j;

	while ((c = getopt(argc, argv, "t:d:m:")) != -1) {
		switch (c) {
		case 't': fstype = optarg; break;
		case 'd': devpath = optarg; break;
		case 'm': mnt = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-t fstype] [-d dev] [-m mnt] [scenario...]\n",
				argv[0]);
			return 2;
		}
	}
	tap_init(0);
	signal(SIGPIPE, SIG_IGN);
	rbuf = malloc(TINYFS_BUFSZ);
	if (!rbuf)
		return 1;
	snprintf(fpath, sizeof(fpath), "%s/file", mnt);
	mkdir(mnt, 0755);
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++) {
		bool run = optind == argc;

		for (j = optind; j < argc; j++)
			if (!strcmp(argv[j], scenarios[i].name))
				run = true;
		if (!run)
			continue;
		tap_diag("scenario %s", scenarios[i].name);
		alarm(120);
		scenarios[i].fn();
		alarm(0);
	}
	return tap_done();
}
