// SPDX-License-Identifier: GPL-2.0
/*
 * lock_test - POSIX record locks and flock(2) between two clients of one
 * store: two mqfuse mounts of one backing directory, each served by its
 * own mqfused.
 *
 *   lock_test FILE_A FILE_B          the checks, TAP lines on stdout
 *   lock_test FILE_A FILE_B churn N  N processes lock FILE_B and exit
 *
 * FILE_A and FILE_B name the same backing file through mount A and mount
 * B.  Every lock is taken by an "agent": a child process (its own POSIX
 * lock owner) that runs the commands the parent sends over a pipe, so a
 * blocked F_SETLKW or flock(2) can be watched, signalled and killed.
 * Exit status 1 if any check failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../common/tap.h"

/* How long a request that must block is watched; how long a wake-up may take. */
#define BLOCK_MS	1500
#define WAKE_MS		30000


#define tap(cond, ...)	tap_ok(cond, __VA_ARGS__)

enum agent_op {
	OP_OPEN = 1,	/* open(path, arg) */
	OP_FCNTL,	/* fcntl(fd, arg, {type, start, len}) */
	OP_FLOCK,	/* flock(fd, arg) */
	OP_CLOSE,	/* close(fd) */
	OP_SIGNAL,	/* SIGUSR1 handler, sa_flags = arg */
	OP_EXIT,
};

struct cmd {
	int op;
	int fd;
	int arg;
	int type;
	long long start;
	long long len;
	char path[256];
};

struct res {
	int ret;
	int err;
	int type;		/* F_GETLK: the lock found */
	long long start;
	long long len;
	int pid;
};

struct agent {
	pid_t pid;
	int to;			/* commands */
	int from;		/* results */
	const char *name;
};

static void on_sigusr1(int sig)
{
	(void)sig;
}

static void agent_loop(int in, int out)
{
	struct sigaction sa;
	struct flock fl;
	struct cmd c;
	struct res r;
	ssize_t n;

	alarm(600);	/* never outlive a stuck parent for long */
	for (;;) {
		/* a SIGUSR1 handler without SA_RESTART interrupts this read too */
		n = read(in, &c, sizeof(c));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != sizeof(c))
			break;
		memset(&r, 0, sizeof(r));
		switch (c.op) {
		case OP_OPEN:
			r.ret = open(c.path, c.arg);
			break;
		case OP_FCNTL:
			memset(&fl, 0, sizeof(fl));
			fl.l_type = c.type;
			fl.l_whence = SEEK_SET;
			fl.l_start = c.start;
			fl.l_len = c.len;
			r.ret = fcntl(c.fd, c.arg, &fl);
			r.type = fl.l_type;
			r.start = fl.l_start;
			r.len = fl.l_len;
			r.pid = fl.l_pid;
			break;
		case OP_FLOCK:
			r.ret = flock(c.fd, c.arg);
			break;
		case OP_CLOSE:
			r.ret = close(c.fd);
			break;
		case OP_SIGNAL:
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_sigusr1;
			sa.sa_flags = c.arg;
			sigemptyset(&sa.sa_mask);
			r.ret = sigaction(SIGUSR1, &sa, NULL);
			break;
		case OP_EXIT:
		default:
			_exit(0);
		}
		r.err = r.ret < 0 ? errno : 0;
		if (write(out, &r, sizeof(r)) != sizeof(r))
			_exit(1);
	}
	_exit(0);
}

static void agent_start(struct agent *a, const char *name)
{
	int to[2], from[2];

	a->name = name;
	if (pipe(to) || pipe(from)) {
		perror("pipe");
		exit(1);
	}
	fflush(stdout);
	a->pid = fork();
	if (a->pid < 0) {
		perror("fork");
		exit(1);
	}
	if (a->pid == 0) {
		close(to[1]);
		close(from[0]);
		agent_loop(to[0], from[1]);
	}
	close(to[0]);
	close(from[1]);
	a->to = to[1];
	a->from = from[0];
}

static void agent_send(struct agent *a, const struct cmd *c)
{
	if (write(a->to, c, sizeof(*c)) != sizeof(*c)) {
		fprintf(stderr, "agent %s: cannot send a command\n", a->name);
		exit(1);
	}
}

/* The result of the last command within @ms; 0 if none came (still blocked). */
static int agent_wait(struct agent *a, struct res *r, int ms)
{
	struct pollfd p = { .fd = a->from, .events = POLLIN };

	if (poll(&p, 1, ms) != 1)
		return 0;
	if (read(a->from, r, sizeof(*r)) != sizeof(*r)) {
		/* the agent died: report it as a failed call */
		r->ret = -1;
		r->err = EPIPE;
	}
	return 1;
}

static struct res agent_call(struct agent *a, const struct cmd *c)
{
	struct res r = { .ret = -1, .err = ETIMEDOUT };

	agent_send(a, c);
	agent_wait(a, &r, WAKE_MS);
	return r;
}

static void agent_stop(struct agent *a)
{
	struct cmd c = { .op = OP_EXIT };

	if (a->pid <= 0)
		return;
	if (write(a->to, &c, sizeof(c)) != sizeof(c))
		kill(a->pid, SIGKILL);
	close(a->to);
	close(a->from);
	waitpid(a->pid, NULL, 0);
	a->pid = 0;
}

static void agent_kill(struct agent *a)
{
	kill(a->pid, SIGKILL);
	close(a->to);
	close(a->from);
	waitpid(a->pid, NULL, 0);
	a->pid = 0;
}

static int a_open(struct agent *a, const char *path, int flags)
{
	struct cmd c = { .op = OP_OPEN, .arg = flags };
	struct res r;

	snprintf(c.path, sizeof(c.path), "%s", path);
	r = agent_call(a, &c);
	if (r.ret < 0)
		fprintf(stderr, "# agent %s: open %s: %s\n", a->name, path,
			strerror(r.err));
	return r.ret;
}

static struct cmd lk_cmd(int fd, int cmd, int type, long long start,
			 long long len)
{
	struct cmd c = { .op = OP_FCNTL, .fd = fd, .arg = cmd, .type = type,
			 .start = start, .len = len };

	return c;
}

/* fcntl lock command: 0 or the errno. */
static int a_lk(struct agent *a, int fd, int cmd, int type, long long start,
		long long len)
{
	struct cmd c = lk_cmd(fd, cmd, type, start, len);
	struct res r = agent_call(a, &c);

	return r.ret ? r.err : 0;
}

static struct res a_getlk(struct agent *a, int fd, int type, long long start,
			  long long len)
{
	struct cmd c = lk_cmd(fd, F_GETLK, type, start, len);

	return agent_call(a, &c);
}

static int a_flock(struct agent *a, int fd, int op)
{
	struct cmd c = { .op = OP_FLOCK, .fd = fd, .arg = op };
	struct res r = agent_call(a, &c);

	return r.ret ? r.err : 0;
}

static int a_close(struct agent *a, int fd)
{
	struct cmd c = { .op = OP_CLOSE, .fd = fd };
	struct res r = agent_call(a, &c);

	return r.ret ? r.err : 0;
}

static int a_sig(struct agent *a, int sa_flags)
{
	struct cmd c = { .op = OP_SIGNAL, .arg = sa_flags };
	struct res r = agent_call(a, &c);

	return r.ret ? r.err : 0;
}

/* Send a request that must block; true if no result came within BLOCK_MS. */
static int a_send_blocks(struct agent *a, const struct cmd *c, struct res *r)
{
	agent_send(a, c);
	return !agent_wait(a, r, BLOCK_MS);
}

/* Whole-file F_SETLK by a fresh process on @path, retried for up to @ms. */
static int fresh_lock_within(const char *path, int ms)
{
	struct agent x;
	int fd, err = -1, waited = 0;

	agent_start(&x, "fresh");
	fd = a_open(&x, path, O_RDWR);
	while (fd >= 0) {
		err = a_lk(&x, fd, F_SETLK, F_WRLCK, 0, 0);
		if (!err || waited >= ms)
			break;
		usleep(100 * 1000);
		waited += 100;
	}
	agent_stop(&x);
	return err;
}

/*
 * Lock waiter threads ("mqfused/lock") of the daemon LOCK_TEST_DAEMON_B
 * names, within @ms for them to go to 0; -1 if the pid is not given.
 */
static int daemon_waiters(int ms)
{
	const char *pid = getenv("LOCK_TEST_DAEMON_B");
	char comm[64];
	int n = -1;

	if (!pid || !*pid)
		return -1;
	for (;;) {
		char cmd[256];
		FILE *p;

		snprintf(cmd, sizeof(cmd),
			 "cat /proc/%s/task/*/comm 2>/dev/null", pid);
		p = popen(cmd, "r");
		n = 0;
		while (p && fgets(comm, sizeof(comm), p))
			n += !strncmp(comm, "mqfused/lock", 12);
		if (p)
			pclose(p);
		if (!n || ms <= 0)
			break;
		usleep(100 * 1000);
		ms -= 100;
	}
	return n;
}

static const char *fa, *fb;	/* the file through mount A and mount B */

static void test_posix_cross(void)
{
	struct agent a, b;
	struct res r;
	int fda, fdb;

	agent_start(&a, "A");
	agent_start(&b, "B");
	fda = a_open(&a, fa, O_RDWR);
	fdb = a_open(&b, fb, O_RDWR);
	if (fda < 0 || fdb < 0) {
		tap(0, "posix: open the file through both mounts");
		goto out;
	}
	tap(!a_lk(&a, fda, F_SETLK, F_WRLCK, 0, 100),
	    "posix: A takes F_WRLCK on bytes 0-99");
	tap(a_lk(&b, fdb, F_SETLK, F_WRLCK, 0, 100) == EAGAIN,
	    "posix: F_SETLK F_WRLCK on the same range from B -> EAGAIN");
	tap(a_lk(&b, fdb, F_SETLK, F_RDLCK, 99, 1) == EAGAIN,
	    "posix: F_SETLK F_RDLCK on A's last byte from B -> EAGAIN");
	r = a_getlk(&b, fdb, F_WRLCK, 10, 5);
	tap(r.ret == 0 && r.type == F_WRLCK && r.start == 0 && r.len == 100,
	    "posix: F_GETLK on B reports A's lock (type %d, start %lld, len %lld, ret %d %s)",
	    r.type, r.start, r.len, r.ret, strerror(r.err));
	tap(r.ret == 0 && r.pid == 0,
	    "posix: F_GETLK on B reports pid 0 for the other client's lock (got %d)", r.pid);
	r = a_getlk(&b, fdb, F_WRLCK, 100, 0);
	tap(r.ret == 0 && r.type == F_UNLCK,
	    "posix: F_GETLK on B past A's range reports F_UNLCK");
	tap(!a_lk(&b, fdb, F_SETLK, F_WRLCK, 100, 10) &&
	    !a_lk(&b, fdb, F_SETLK, F_UNLCK, 100, 10),
	    "posix: B locks and unlocks the adjacent range");
	tap(!a_lk(&a, fda, F_SETLK, F_UNLCK, 0, 100), "posix: A unlocks");
	tap(!a_lk(&b, fdb, F_SETLK, F_WRLCK, 0, 100),
	    "posix: after A unlocks, B gets the range");
	tap(a_lk(&a, fda, F_SETLK, F_WRLCK, 50, 1) == EAGAIN,
	    "posix: and now A is refused (EAGAIN)");
	tap(!a_lk(&b, fdb, F_SETLK, F_UNLCK, 0, 0) &&
	    !a_lk(&a, fda, F_SETLK, F_WRLCK, 0, 0),
	    "posix: B unlocks everything, A locks the whole file");
	tap(a_lk(&b, fdb, F_SETLK, F_RDLCK, 1 << 20, 1) == EAGAIN,
	    "posix: A's lock to EOF covers bytes past the end of the file for B");
	tap(!a_close(&a, fda), "posix: A closes its file");
	tap(!a_lk(&b, fdb, F_SETLK, F_WRLCK, 0, 0),
	    "posix: after A's close, B gets the whole file");
out:
	agent_stop(&a);
	agent_stop(&b);
}

static void test_ranges(void)
{
	struct agent a, b;
	struct res r;
	int fda, fdb;

	agent_start(&a, "A");
	agent_start(&b, "B");
	fda = a_open(&a, fa, O_RDWR);
	fdb = a_open(&b, fb, O_RDWR);
	if (fda < 0 || fdb < 0) {
		tap(0, "ranges: open the file through both mounts");
		goto out;
	}
	tap(!a_lk(&a, fda, F_SETLK, F_WRLCK, 200, 10) &&
	    !a_lk(&b, fdb, F_SETLK, F_WRLCK, 210, 10),
	    "ranges: non-overlapping write locks of A (200-209) and B (210-219) coexist");
	tap(a_lk(&b, fdb, F_SETLK, F_WRLCK, 209, 2) == EAGAIN,
	    "ranges: B's write lock over A's last byte -> EAGAIN");
	tap(!a_lk(&a, fda, F_SETLK, F_RDLCK, 0, 50) &&
	    !a_lk(&b, fdb, F_SETLK, F_RDLCK, 0, 50),
	    "ranges: read locks of A and B on bytes 0-49 are shared");
	r = a_getlk(&b, fdb, F_RDLCK, 0, 50);
	tap(r.ret == 0 && r.type == F_UNLCK,
	    "ranges: F_GETLK F_RDLCK on B next to A's read lock reports F_UNLCK");
	r = a_getlk(&b, fdb, F_WRLCK, 10, 1);
	tap(r.ret == 0 && r.type == F_RDLCK && r.start == 0 && r.len == 50,
	    "ranges: F_GETLK F_WRLCK on B reports A's read lock 0-49 (type %d, %lld+%lld)",
	    r.type, r.start, r.len);
	tap(a_lk(&b, fdb, F_SETLK, F_WRLCK, 10, 1) == EAGAIN,
	    "ranges: B cannot upgrade to a write lock under A's read lock");
	tap(a_lk(&a, fda, F_SETLK, F_WRLCK, 10, 1) == EAGAIN,
	    "ranges: nor can A under B's");
	/* One owner's locks merge and split and never conflict with each other. */
	tap(!a_lk(&a, fda, F_SETLK, F_UNLCK, 0, 0) &&
	    !a_lk(&b, fdb, F_SETLK, F_UNLCK, 0, 0),
	    "ranges: A and B unlock everything");
	tap(!a_lk(&a, fda, F_SETLK, F_WRLCK, 0, 100) &&
	    !a_lk(&a, fda, F_SETLK, F_WRLCK, 50, 100) &&
	    !a_lk(&a, fda, F_SETLK, F_UNLCK, 40, 20),
	    "ranges: A locks 0-99 and 50-149 (merged) and unlocks 40-59 (split)");
	tap(!a_lk(&b, fdb, F_SETLK, F_WRLCK, 45, 10),
	    "ranges: B gets the hole A unlocked (45-54)");
	tap(a_lk(&b, fdb, F_SETLK, F_WRLCK, 39, 1) == EAGAIN &&
	    a_lk(&b, fdb, F_SETLK, F_WRLCK, 60, 1) == EAGAIN &&
	    a_lk(&b, fdb, F_SETLK, F_WRLCK, 149, 1) == EAGAIN,
	    "ranges: A keeps 0-39 and 60-149");
	tap(!a_lk(&b, fdb, F_SETLK, F_WRLCK, 150, 1),
	    "ranges: byte 150 is free");
	tap(!a_lk(&a, fda, F_SETLK, F_RDLCK, 60, 90),
	    "ranges: A downgrades 60-149 to a read lock");
	tap(!a_lk(&b, fdb, F_SETLK, F_RDLCK, 100, 1) &&
	    a_lk(&b, fdb, F_SETLK, F_RDLCK, 20, 1) == EAGAIN,
	    "ranges: B shares the downgraded range, not A's write-locked 0-39");
out:
	agent_stop(&a);
	agent_stop(&b);
}

static void test_setlkw(void)
{
	struct agent a, b, k;
	struct cmd c;
	struct res r;
	int fda, fdb, fdk, got;

	agent_start(&a, "A");
	agent_start(&b, "B");
	fda = a_open(&a, fa, O_RDWR);
	fdb = a_open(&b, fb, O_RDWR);
	if (fda < 0 || fdb < 0) {
		tap(0, "setlkw: open the file through both mounts");
		goto out;
	}
	/* woken by an unlock */
	tap(!a_lk(&a, fda, F_SETLK, F_WRLCK, 0, 0), "setlkw: A locks the whole file");
	c = lk_cmd(fdb, F_SETLKW, F_WRLCK, 0, 10);
	tap(a_send_blocks(&b, &c, &r), "setlkw: B's F_SETLKW blocks while A holds the lock");
	tap(!a_lk(&a, fda, F_SETLK, F_UNLCK, 0, 0), "setlkw: A unlocks");
	tap(agent_wait(&b, &r, WAKE_MS) && r.ret == 0,
	    "setlkw: B's blocked F_SETLKW is granted when A unlocks");
	tap(a_lk(&a, fda, F_SETLK, F_WRLCK, 0, 1) == EAGAIN,
	    "setlkw: and B holds it: A is refused");
	/* woken by a close */
	tap(!a_lk(&b, fdb, F_SETLK, F_UNLCK, 0, 0) &&
	    !a_lk(&a, fda, F_SETLK, F_WRLCK, 0, 0), "setlkw: A locks again");
	c = lk_cmd(fdb, F_SETLKW, F_RDLCK, 5, 1);
	tap(a_send_blocks(&b, &c, &r), "setlkw: B's F_SETLKW F_RDLCK blocks");
	tap(!a_close(&a, fda), "setlkw: A closes its file");
	tap(agent_wait(&b, &r, WAKE_MS) && r.ret == 0,
	    "setlkw: B's blocked F_SETLKW is granted when A closes");
	tap(!a_lk(&b, fdb, F_SETLK, F_UNLCK, 0, 0), "setlkw: B unlocks");

	/* interrupted by a signal: EINTR, nothing left behind */
	fda = a_open(&a, fa, O_RDWR);
	tap(fda >= 0 && !a_lk(&a, fda, F_SETLK, F_WRLCK, 0, 0),
	    "setlkw: A locks the whole file again");
	tap(!a_sig(&b, 0), "setlkw: B has a SIGUSR1 handler without SA_RESTART");
	c = lk_cmd(fdb, F_SETLKW, F_WRLCK, 0, 0);
	tap(a_send_blocks(&b, &c, &r), "setlkw: B's F_SETLKW blocks");
	kill(b.pid, SIGUSR1);
	memset(&r, 0, sizeof(r));
	got = agent_wait(&b, &r, WAKE_MS);
	tap(got && r.ret == -1 && r.err == EINTR,
	    "setlkw: SIGUSR1 ends B's F_SETLKW with EINTR (%s: ret %d, %s)",
	    got ? "answered" : "no answer", r.ret, strerror(r.err));
	tap(a_lk(&b, fdb, F_SETLK, F_WRLCK, 0, 0) == EAGAIN,
	    "setlkw: the daemon still answers B (F_SETLK -> EAGAIN, A holds it)");
	tap(!a_lk(&a, fda, F_SETLK, F_UNLCK, 0, 0), "setlkw: A unlocks");
	tap(fresh_lock_within(fb, 3000) == 0,
	    "setlkw: the interrupted F_SETLKW left no lock behind (another process on B locks)");

	/* SA_RESTART: the kernel asks again and the wait goes on */
	tap(!a_lk(&a, fda, F_SETLK, F_WRLCK, 0, 0), "setlkw: A locks the whole file");
	tap(!a_sig(&b, SA_RESTART), "setlkw: B's SIGUSR1 handler now has SA_RESTART");
	c = lk_cmd(fdb, F_SETLKW, F_WRLCK, 0, 0);
	tap(a_send_blocks(&b, &c, &r), "setlkw: B's F_SETLKW blocks");
	kill(b.pid, SIGUSR1);
	tap(!agent_wait(&b, &r, BLOCK_MS),
	    "setlkw: after SIGUSR1 with SA_RESTART B's F_SETLKW is restarted and waits");
	tap(!a_lk(&a, fda, F_SETLK, F_UNLCK, 0, 0), "setlkw: A unlocks");
	tap(agent_wait(&b, &r, WAKE_MS) && r.ret == 0,
	    "setlkw: the restarted F_SETLKW is granted");
	tap(!a_lk(&b, fdb, F_SETLK, F_UNLCK, 0, 0), "setlkw: B unlocks");

	/* SIGKILL: the waiter goes, and its request must not take the lock later */
	tap(!a_lk(&a, fda, F_SETLK, F_WRLCK, 0, 0), "setlkw: A locks the whole file");
	agent_start(&k, "K");
	fdk = a_open(&k, fb, O_RDWR);
	c = lk_cmd(fdk, F_SETLKW, F_WRLCK, 0, 0);
	tap(fdk >= 0 && a_send_blocks(&k, &c, &r),
	    "setlkw: another process on B blocks in F_SETLKW");
	agent_kill(&k);
	tap(!a_lk(&a, fda, F_SETLK, F_UNLCK, 0, 0), "setlkw: the waiter is killed, A unlocks");
	usleep(500 * 1000);
	tap(fresh_lock_within(fb, 10000) == 0 && fresh_lock_within(fa, 10000) == 0,
	    "setlkw: the killed waiter left no lock behind (fresh processes on B and A lock)");
	got = daemon_waiters(10000);
	if (got < 0)
		tap(1, "setlkw: waiter threads of B's daemon # SKIP LOCK_TEST_DAEMON_B not given");
	else
		tap(got == 0, "setlkw: the killed waiter's slot is free: B's daemon has %d waiter threads",
		    got);
out:
	agent_stop(&a);
	agent_stop(&b);
}

static void test_flock(void)
{
	struct agent a, b;
	struct cmd c;
	struct res r;
	int fda, fdb, got;

	agent_start(&a, "A");
	agent_start(&b, "B");
	fda = a_open(&a, fa, O_RDONLY);
	fdb = a_open(&b, fb, O_RDONLY);
	if (fda < 0 || fdb < 0) {
		tap(0, "flock: open the file through both mounts");
		goto out;
	}
	tap(!a_flock(&a, fda, LOCK_EX), "flock: A takes LOCK_EX");
	tap(a_flock(&b, fdb, LOCK_EX | LOCK_NB) == EWOULDBLOCK,
	    "flock: LOCK_EX|LOCK_NB on B -> EWOULDBLOCK");
	tap(a_flock(&b, fdb, LOCK_SH | LOCK_NB) == EWOULDBLOCK,
	    "flock: LOCK_SH|LOCK_NB on B -> EWOULDBLOCK");
	tap(!a_close(&a, fda), "flock: A closes its file");
	tap(!a_flock(&b, fdb, LOCK_EX | LOCK_NB),
	    "flock: released at A's close: B's LOCK_EX|LOCK_NB succeeds");
	fda = a_open(&a, fa, O_RDONLY);
	c = (struct cmd){ .op = OP_FLOCK, .fd = fda, .arg = LOCK_EX };
	tap(fda >= 0 && a_send_blocks(&a, &c, &r),
	    "flock: A's blocking LOCK_EX waits while B holds LOCK_EX");
	tap(!a_flock(&b, fdb, LOCK_UN), "flock: B unlocks (LOCK_UN)");
	tap(agent_wait(&a, &r, WAKE_MS) && r.ret == 0,
	    "flock: A's blocked LOCK_EX is granted");
	tap(!a_flock(&a, fda, LOCK_SH) && !a_flock(&b, fdb, LOCK_SH | LOCK_NB),
	    "flock: LOCK_SH of A and B are shared");
	/* a signal ends a blocked flock with EINTR, nothing taken */
	tap(!a_flock(&b, fdb, LOCK_UN) && !a_flock(&a, fda, LOCK_EX) &&
	    !a_sig(&b, 0), "flock: A takes LOCK_EX again, B has a SIGUSR1 handler");
	c = (struct cmd){ .op = OP_FLOCK, .fd = fdb, .arg = LOCK_SH };
	tap(a_send_blocks(&b, &c, &r), "flock: B's blocking LOCK_SH waits");
	kill(b.pid, SIGUSR1);
	memset(&r, 0, sizeof(r));
	got = agent_wait(&b, &r, WAKE_MS);
	tap(got && r.ret == -1 && r.err == EINTR,
	    "flock: SIGUSR1 ends B's blocked flock with EINTR (%s: ret %d, %s)",
	    got ? "answered" : "no answer", r.ret, strerror(r.err));
	tap(!a_flock(&a, fda, LOCK_UN) && !a_flock(&a, fda, LOCK_EX | LOCK_NB),
	    "flock: the interrupted flock left nothing: A unlocks and relocks at once");
out:
	agent_stop(&a);
	agent_stop(&b);
}

/* The access of the fd gates the lock type, on the daemon's side too. */
static void test_access(void)
{
	struct agent a, b;
	int fdro, fdwo, fda, e1, e2, e3, e4, e5;

	agent_start(&a, "A");
	agent_start(&b, "B");
	fdro = a_open(&b, fb, O_RDONLY);
	fdwo = a_open(&b, fb, O_WRONLY);
	fda = a_open(&a, fa, O_RDWR);
	if (fdro < 0 || fdwo < 0 || fda < 0) {
		tap(0, "access: open the file read-only and write-only on B, read-write on A");
		goto out;
	}
	e1 = a_lk(&b, fdro, F_SETLK, F_WRLCK, 0, 10);
	tap(e1 == EBADF, "access: F_WRLCK through an O_RDONLY fd -> EBADF (%s)",
	    strerror(e1));
	e2 = a_lk(&b, fdwo, F_SETLK, F_RDLCK, 0, 10);
	tap(e2 == EBADF, "access: F_RDLCK through an O_WRONLY fd -> EBADF (%s)",
	    strerror(e2));
	e3 = a_lk(&b, fdro, F_SETLK, F_RDLCK, 0, 10);
	e4 = a_lk(&a, fda, F_SETLK, F_WRLCK, 5, 1);
	tap(!e3 && e4 == EAGAIN,
	    "access: a read lock through B's O_RDONLY fd holds A's F_WRLCK off (%s, %s)",
	    strerror(e3), strerror(e4));
	/* the same owner then writes through its O_WRONLY fd: one owner */
	e5 = a_lk(&b, fdwo, F_SETLK, F_WRLCK, 0, 10);
	e4 = a_lk(&a, fda, F_SETLK, F_RDLCK, 5, 1);
	tap(!e5 && e4 == EAGAIN,
	    "access: B upgrades to F_WRLCK through its O_WRONLY fd, A's F_RDLCK is refused (%s, %s)",
	    strerror(e5), strerror(e4));
	e3 = a_lk(&b, fdro, F_SETLK, F_UNLCK, 0, 0);
	e4 = a_lk(&a, fda, F_SETLK, F_WRLCK, 0, 10);
	tap(!e3 && !e4, "access: B unlocks, A locks");
out:
	agent_stop(&a);
	agent_stop(&b);
}

static void test_close_rule(void)
{
	struct agent a, b;
	int fd1, fd2, fdb;

	agent_start(&a, "A");
	agent_start(&b, "B");
	fd1 = a_open(&a, fa, O_RDWR);
	fd2 = a_open(&a, fa, O_RDONLY);
	fdb = a_open(&b, fb, O_RDWR);
	if (fd1 < 0 || fd2 < 0 || fdb < 0) {
		tap(0, "close rule: open the file");
		goto out;
	}
	tap(!a_lk(&a, fd1, F_SETLK, F_WRLCK, 0, 0),
	    "close rule: A locks through its first fd");
	tap(a_lk(&b, fdb, F_SETLK, F_WRLCK, 0, 1) == EAGAIN,
	    "close rule: B is refused");
	tap(!a_close(&a, fd2), "close rule: A closes its other fd of the file");
	tap(!a_lk(&b, fdb, F_SETLK, F_WRLCK, 0, 1),
	    "close rule: closing any fd dropped A's locks: B locks");
	tap(a_lk(&a, fd1, F_SETLK, F_WRLCK, 0, 1) == EAGAIN &&
	    !a_lk(&a, fd1, F_SETLK, F_WRLCK, 1, 10),
	    "close rule: A locks again through its first fd, beside B's lock");
out:
	agent_stop(&a);
	agent_stop(&b);
}

static void test_same_mount(void)
{
	struct agent a1, a2, b;
	struct res r;
	int fd1, fd2, fdb;

	agent_start(&a1, "A1");
	agent_start(&a2, "A2");
	agent_start(&b, "B");
	fd1 = a_open(&a1, fa, O_RDWR);
	fd2 = a_open(&a2, fa, O_RDWR);
	fdb = a_open(&b, fb, O_RDWR);
	if (fd1 < 0 || fd2 < 0 || fdb < 0) {
		tap(0, "same mount: open the file");
		goto out;
	}
	tap(!a_lk(&a1, fd1, F_SETLK, F_WRLCK, 0, 10),
	    "same mount: process 1 on A locks 0-9");
	tap(a_lk(&a2, fd2, F_SETLK, F_WRLCK, 5, 1) == EAGAIN,
	    "same mount: process 2 on A is refused (EAGAIN)");
	r = a_getlk(&a2, fd2, F_WRLCK, 0, 0);
	tap(r.ret == 0 && r.type == F_WRLCK && r.start == 0 && r.len == 10 &&
	    r.pid == a1.pid,
	    "same mount: F_GETLK of process 2 names process 1 (pid %d, want %d; %lld+%lld)",
	    r.pid, a1.pid, r.start, r.len);
	tap(!a_lk(&a2, fd2, F_SETLK, F_WRLCK, 10, 10),
	    "same mount: process 2 locks 10-19");
	tap(a_lk(&b, fdb, F_SETLK, F_WRLCK, 0, 20) == EAGAIN &&
	    a_lk(&b, fdb, F_SETLK, F_WRLCK, 15, 1) == EAGAIN,
	    "same mount: both processes' locks hold against B");
	tap(!a_lk(&a1, fd1, F_SETLK, F_UNLCK, 0, 0) &&
	    !a_lk(&b, fdb, F_SETLK, F_WRLCK, 0, 10),
	    "same mount: process 1 unlocks, B takes 0-9, process 2 keeps 10-19");
	tap(a_lk(&b, fdb, F_SETLK, F_WRLCK, 10, 1) == EAGAIN,
	    "same mount: ... and B is still refused on 10-19");
out:
	agent_stop(&a1);
	agent_stop(&a2);
	agent_stop(&b);
}

/*
 * @n processes lock ranges of @path (half unlock first) and exit.  They
 * are alive together: a process that exits frees its files_struct, the
 * next one may get it again - and with it the same FUSE lock owner id, so
 * one after another they would reuse a single leaked owner in the daemon.
 */
static int churn(const char *path, int n)
{
	struct agent *x = calloc(n, sizeof(*x));
	int i, fd, bad = 0;

	if (!x)
		return 1;
	for (i = 0; i < n; i++) {
		agent_start(&x[i], "churn");
		fd = a_open(&x[i], path, O_RDWR);
		if (fd < 0 || a_lk(&x[i], fd, F_SETLK, F_WRLCK, i, 1) ||
		    a_lk(&x[i], fd, F_SETLK, F_RDLCK, 1000 + i, 5))
			bad++;
		if (i % 2 && a_lk(&x[i], fd, F_SETLK, F_UNLCK, 0, 0))
			bad++;
		if (i % 3 == 0 && a_flock(&x[i], fd, LOCK_SH))
			bad++;
	}
	for (i = 0; i < n; i++)
		agent_stop(&x[i]);
	free(x);
	return bad;
}

int main(int argc, char **argv)
{
	tap_init(0);	/* line buffered: children fork with nothing pending */
	if (argc == 5 && !strcmp(argv[3], "churn"))
		return churn(argv[2], atoi(argv[4])) ? 1 : 0;
	if (argc != 3) {
		fprintf(stderr, "usage: lock_test FILE_A FILE_B [churn N]\n");
		return 2;
	}
	fa = argv[1];
	fb = argv[2];
	signal(SIGPIPE, SIG_IGN);
	test_posix_cross();
	test_ranges();
	test_setlkw();
	test_flock();
	test_close_rule();
	test_same_mount();
	test_access();
	return tap_state.failed ? 1 : 0;
}
