// SPDX-License-Identifier: GPL-2.0
/*
 * Sandbox of the serving process (DESIGN.md §3, trust boundary 2).
 *
 * A client that finds a bug in the request handlers should get no further
 * than the backing directory.  Once the mount exists and the device fds are
 * open, the serving process:
 *
 *  0. enters a network namespace of its own (nothing to reach);
 *  1. enters a mount namespace of its own (mounts under the backing
 *     directory keep propagating in from the host: "slave", nothing
 *     propagates out), mounts a fresh procfs restricted to process
 *     directories (subset=pid, read-only), bind-mounts the backing
 *     directory on itself and pivot_roots into it, then detaches the old
 *     root.  The backing directory *is* "/": there is no other file tree
 *     left to reach by a path, and ".." at the root stays at the root.
 *     procfs is reachable only as the working directory (see
 *     mq_proc_prefix): /proc/self/fd/N reopens and the callers'
 *     /proc/PID/status become "self/fd/N" and "PID/status".
 *  2. re-opens its backing root fd on the new "/" (dup3 onto the same fd
 *     number, so the inode table stays valid): the fd opened before the
 *     sandbox belongs to the host's mount tree, where ".." climbs out of
 *     the backing directory;
 *  3. holds no descriptor it inherited, for the same reason and more
 *     (session.c closes everything but its own, mq_sandbox_close_fds());
 *  4. drops from the bounding set every capability creds.c does not keep,
 *     drops the permitted set to those, sets no_new_privs and marks itself
 *     not dumpable;
 *  5. loads a seccomp allow-list: the system calls below, with arguments
 *     restricted where that is cheap (ioctl numbers, prctl, unshare,
 *     clone flags, kill/tgkill targets).  Anything else kills the process
 *     (--sandbox=log: allowed and logged by the kernel's audit, to find
 *     a missing entry).
 *
 * Unmounting needs the host's mount namespace and CAP_SYS_ADMIN, which the
 * serving process no longer has a use for: session.c keeps a small
 * unsandboxed monitor process for that.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <seccomp.h>

#include <mqfuse.h>

#include "mqfused.h"

#ifndef FUSE_DEV_IOC_CLONE
#define FUSE_DEV_IOC_CLONE	_IOR(229, 0, uint32_t)
#endif

const char *mq_proc_prefix = "/proc/";

const char *mq_sandbox_mode_name(enum mq_sandbox_mode mode)
{
	switch (mode) {
	case MQ_SANDBOX_ON:	return "on";
	case MQ_SANDBOX_LOG:	return "log";
	case MQ_SANDBOX_NONE:	return "none";
	}
	return "?";
}

/*
 * System calls of the serving threads, the main thread's signal loop and
 * the libraries under them (glibc, liburing), without arguments checked.
 * Derived from the code and checked with strace under the POSIX suite.
 */
static const int mq_allowed_syscalls[] = {
	/* request I/O, backend file I/O */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv),
	SCMP_SYS(pwritev), SCMP_SYS(preadv2), SCMP_SYS(pwritev2),
	SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(dup), SCMP_SYS(dup2),
	SCMP_SYS(dup3), SCMP_SYS(fsync),
	SCMP_SYS(fdatasync), SCMP_SYS(syncfs), SCMP_SYS(ftruncate),
	SCMP_SYS(fallocate), SCMP_SYS(copy_file_range),
	SCMP_SYS(truncate),		/* SETATTR size on /proc/self/fd/N */
	SCMP_SYS(io_uring_enter),	/* rings made before (uring_io.c) */
	/* namespace operations, always relative to a backing fd */
	SCMP_SYS(openat), SCMP_SYS(openat2), SCMP_SYS(newfstatat),
	SCMP_SYS(fstat), SCMP_SYS(statx), SCMP_SYS(fstatfs),
	SCMP_SYS(getdents64), SCMP_SYS(readlinkat), SCMP_SYS(mkdirat),
	SCMP_SYS(mknodat), SCMP_SYS(symlinkat), SCMP_SYS(unlinkat),
	SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(linkat),
	/* recovery state: the file handle of each new inode (rstate.c) */
	SCMP_SYS(name_to_handle_at),
	SCMP_SYS(chmod),		/* glibc chmod(), on /proc/self/fd/N */
	SCMP_SYS(fchmod),
	SCMP_SYS(fchmodat), SCMP_SYS(fchown), SCMP_SYS(fchownat),
	SCMP_SYS(utimensat), SCMP_SYS(faccessat), SCMP_SYS(faccessat2),
	/* xattrs: path forms on /proc/self/fd/N, fd forms on handles */
	SCMP_SYS(setxattr), SCMP_SYS(getxattr), SCMP_SYS(listxattr),
	SCMP_SYS(removexattr), SCMP_SYS(fsetxattr), SCMP_SYS(fgetxattr),
	SCMP_SYS(flistxattr), SCMP_SYS(fremovexattr),
	/* acting as the caller (creds.c) */
	SCMP_SYS(setfsuid), SCMP_SYS(setfsgid), SCMP_SYS(setgroups),
	SCMP_SYS(capget), SCMP_SYS(capset), SCMP_SYS(umask),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid),
	/* memory, threads, scheduling */
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect),
	SCMP_SYS(madvise), SCMP_SYS(mremap), SCMP_SYS(brk),
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq),
	SCMP_SYS(sched_getaffinity),
	SCMP_SYS(sched_yield), SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(getppid), SCMP_SYS(getrandom),
	SCMP_SYS(sysinfo),		/* glibc qsort() sizes its buffer */
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday),
	/* a SETLKW waiter's periodic wake-up (locks.c) */
	SCMP_SYS(timer_create), SCMP_SYS(timer_settime),
	SCMP_SYS(timer_delete),
	/* flock on the backing files (locks.c) */
	SCMP_SYS(flock),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
	/* signals */
	SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction),
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigtimedwait),
	SCMP_SYS(restart_syscall),
	/* syslog on the socket connected before the sandbox */
	SCMP_SYS(sendto),
};

#define MQ_CLONE_NS_FLAGS	(CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | \
				 CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | \
				 CLONE_NEWCGROUP | CLONE_NEWTIME)
#define MQ_CLONE_THREAD_FLAGS	(CLONE_THREAD | CLONE_VM | CLONE_SIGHAND)

/* Where the value an argument is compared with comes from. */
enum mq_arg_value {
	MQ_VAL_CONST,		/* .value */
	MQ_VAL_SELF,		/* our own pid */
	MQ_VAL_MONITOR,		/* the monitor's socket; no rule without one */
};

/*
 * A system call allowed when one argument compares as given: argument
 * @arg @op @value (SCMP_CMP_MASKED_EQ: argument & @value == @masked).
 */
struct mq_arg_rule {
	int nr;
	unsigned int arg;
	enum scmp_compare op;
	scmp_datum_t value;
	scmp_datum_t masked;
	enum mq_arg_value from;
};

/* argument @a == @v; argument @a & @mask == @v; argument @a == @from's */
#define MQ_ARG_EQ(sys, a, v)	{ .nr = SCMP_SYS(sys), .arg = (a), \
				  .op = SCMP_CMP_EQ, .value = (v) }
#define MQ_ARG_MASKED_EQ(sys, a, mask, v) \
				{ .nr = SCMP_SYS(sys), .arg = (a), \
				  .op = SCMP_CMP_MASKED_EQ, .value = (mask), \
				  .masked = (v) }
#define MQ_ARG_IS(sys, a, src)	{ .nr = SCMP_SYS(sys), .arg = (a), \
				  .op = SCMP_CMP_EQ, .from = (src) }

static const struct mq_arg_rule mq_arg_rules[] = {
	/*
	 * Device ioctls: thread attach (CLONE), BIND_QUEUE, GET_INFO, and
	 * the ring's ENTER (its umem and ring are set up before: ring.c).
	 */
	MQ_ARG_EQ(ioctl, 1, MQFUSE_IOC_CLONE),
	MQ_ARG_EQ(ioctl, 1, FUSE_DEV_IOC_CLONE),
	MQ_ARG_EQ(ioctl, 1, MQFUSE_IOC_BIND_QUEUE),
	MQ_ARG_EQ(ioctl, 1, MQFUSE_IOC_GET_INFO),
	MQ_ARG_EQ(ioctl, 1, MQFUSE_IOC_RING_ENTER),
	/*
	 * fcntl: the flags and fd-flag commands glibc and ops_entry.c use.
	 * Not F_SETOWN/F_SETSIG/F_SETLEASE/F_NOTIFY, and F_SETFL without
	 * O_ASYNC (mq_seccomp_load): with those a signal (SIGKILL via
	 * F_SETSIG) would go to any process the kernel lets the owner be.
	 */
	MQ_ARG_EQ(fcntl, 1, F_GETFL),
	MQ_ARG_EQ(fcntl, 1, F_GETFD),
	MQ_ARG_EQ(fcntl, 1, F_SETFD),
	MQ_ARG_EQ(fcntl, 1, F_DUPFD_CLOEXEC),
	/* POSIX locks on the backing files, OFD only (locks.c) */
	MQ_ARG_EQ(fcntl, 1, F_OFD_GETLK),
	MQ_ARG_EQ(fcntl, 1, F_OFD_SETLK),
	MQ_ARG_EQ(fcntl, 1, F_OFD_SETLKW),
	/*
	 * io_uring: no new ring (io_uring_setup is off the list: a ring
	 * made in here would have no restrictions), and on the rings made
	 * before only IORING_REGISTER_ENABLE_RINGS (their restrictions
	 * refuse every other register operation once enabled anyway).
	 */
	MQ_ARG_EQ(io_uring_register, 1, IORING_REGISTER_ENABLE_RINGS),
	/* Pinning: the calling thread only (session.c). */
	MQ_ARG_EQ(sched_setaffinity, 0, 0),
	/* Thread names; the per-thread umask (creds.c). */
	MQ_ARG_EQ(prctl, 0, PR_SET_NAME),
	MQ_ARG_EQ(unshare, 0, CLONE_FS),
	/*
	 * Threads only: CLONE_THREAD|CLONE_VM|CLONE_SIGHAND set, no new
	 * namespace.  fork() would give a process that outlives the session
	 * (and the monitor's PR_SET_PDEATHSIG pairing).
	 */
	MQ_ARG_MASKED_EQ(clone, 0, MQ_CLONE_NS_FLAGS | MQ_CLONE_THREAD_FLAGS,
			 MQ_CLONE_THREAD_FLAGS),
	/* Signals to ourselves (SIGUSR2, abort; pthread_kill of a lock waiter). */
	MQ_ARG_IS(kill, 0, MQ_VAL_SELF),
	/* Answers of the monitor (groups, unmount), on its socket only. */
	MQ_ARG_IS(recvfrom, 0, MQ_VAL_MONITOR),
	MQ_ARG_IS(tgkill, 0, MQ_VAL_SELF),
};

/* Calls refused with an error instead of killing the process. */
static const struct {
	int nr;
	int err;
} mq_errno_rules[] = {
	/* clone3's flags are behind a pointer: glibc falls back to clone. */
	{ SCMP_SYS(clone3), ENOSYS },
	/*
	 * glibc's syslog() reconnects after a failed send: refuse quietly
	 * (there is no /dev/log to reach in here, and a socket file in the
	 * backing directory must not receive the log).
	 */
	{ SCMP_SYS(socket), EACCES },
	{ SCMP_SYS(connect), EACCES },
};

#define MQ_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static bool mq_in_allowed(int nr)
{
	unsigned int i;

	for (i = 0; i < MQ_ARRAY_SIZE(mq_allowed_syscalls); i++)
		if (mq_allowed_syscalls[i] == nr)
			return true;
	return false;
}

/*
 * mq_allowed_syscalls[] and each other call mq_arg_rules[] allows with
 * its arguments checked (fcntl's F_SETFL rule is a call already there).
 */
int mq_sandbox_nr_syscalls(void)
{
	int n = MQ_ARRAY_SIZE(mq_allowed_syscalls);
	unsigned int i, j;

	for (i = 0; i < MQ_ARRAY_SIZE(mq_arg_rules); i++) {
		for (j = 0; j < i; j++)
			if (mq_arg_rules[j].nr == mq_arg_rules[i].nr)
				break;
		if (j == i && !mq_in_allowed(mq_arg_rules[i].nr))
			n++;
	}
	return n;
}

/* The comparison of mq_arg_rules[@i]; false to leave the rule out. */
static bool mq_arg_rule_cmp(unsigned int i, pid_t self, int monitor_fd,
			    struct scmp_arg_cmp *cmp)
{
	const struct mq_arg_rule *r = &mq_arg_rules[i];

	cmp->arg = r->arg;
	cmp->op = r->op;
	cmp->datum_a = r->value;
	cmp->datum_b = r->masked;
	switch (r->from) {
	case MQ_VAL_CONST:
		break;
	case MQ_VAL_SELF:
		cmp->datum_a = self;
		break;
	case MQ_VAL_MONITOR:
		if (monitor_fd < 0)
			return false;
		cmp->datum_a = monitor_fd;
		break;
	}
	return true;
}

static int mq_seccomp_load(enum mq_sandbox_mode mode, int monitor_fd)
{
	struct scmp_arg_cmp cmp;
	scmp_filter_ctx ctx;
	pid_t self = getpid();
	unsigned int i;
	int ret = 0;

	ctx = seccomp_init(mode == MQ_SANDBOX_LOG ? SCMP_ACT_LOG :
			   SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	/* x32 and i386 calls are never ours: kill, also with --sandbox=log. */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			       SCMP_ACT_KILL_PROCESS);
	for (i = 0; !ret && i < MQ_ARRAY_SIZE(mq_allowed_syscalls); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,
				       mq_allowed_syscalls[i], 0);
	for (i = 0; !ret && i < MQ_ARRAY_SIZE(mq_arg_rules); i++) {
		if (mq_arg_rule_cmp(i, self, monitor_fd, &cmp))
			ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW,
						     mq_arg_rules[i].nr, 1, &cmp);
	}
	/* fcntl F_SETFL: two arguments checked (see mq_arg_rules[]). */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 2,
				       SCMP_A1(SCMP_CMP_EQ, F_SETFL, 0),
				       SCMP_A2(SCMP_CMP_MASKED_EQ, O_ASYNC, 0));
	for (i = 0; !ret && i < MQ_ARRAY_SIZE(mq_errno_rules); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(mq_errno_rules[i].err),
				       mq_errno_rules[i].nr, 0);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

/* Bounding set: only what creds.c keeps; then no_new_privs. */
static int mq_sandbox_caps(void)
{
	int cap;

	for (cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (mq_creds_cap_kept(cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			return -errno;
	}
	return 0;
}

static int mq_fd_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/*
 * /dev/null onto @fd (0, 1 or 2), not a close: the slot stays taken, so a
 * later open() cannot land there and be overwritten when mqfused detaches
 * (dup2 of /dev/null over 0-2, session.c).
 */
static int mq_null_onto(int fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null < 0)
		return -errno;
	if (null != fd) {
		if (dup2(null, fd) != fd) {
			int ret = -errno;

			close(null);
			return ret;
		}
		close(null);
	} else if (fcntl(fd, F_SETFD, 0)) {
		return -errno;
	}
	return 0;
}

/*
 * Fds 0-2 closed at start: /dev/null onto them, before anything else is
 * opened, so the backing root or the device fd cannot get one of these
 * numbers (a number that stays open through the sweep and is overwritten
 * by /dev/null when mqfused detaches).
 */
int mq_stdio_fill(void)
{
	int fd, ret;

	for (fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		ret = mq_null_onto(fd);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Fds 0-2 stay open through the sweep: keep what stdio can be (a
 * character device, a FIFO, a socket, a regular file), and put /dev/null
 * over anything else.  A directory there (mqfused ... 0</) would
 * otherwise give openat(0, "etc/...") the host's tree; an O_PATH fd (of
 * any type) is a handle on a path, not a stream.
 */
static int mq_sandbox_check_stdio(void)
{
	struct stat st;
	int fd, fl, ret;

	ret = mq_stdio_fill();
	for (fd = 0; !ret && fd < 3; fd++) {
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fstat(fd, &st))
			return -errno;
		if (!(fl & O_PATH) &&
		    (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) ||
		     S_ISSOCK(st.st_mode) || S_ISREG(st.st_mode)))
			continue;
		ret = mq_null_onto(fd);
	}
	return ret;
}

/* Where the fallback sweep lists the open descriptors (unit tests). */
const char *mq_sandbox_fd_dir = "/proc/self/fd";

static bool mq_fd_kept(int fd, const int *sorted, unsigned int nr)
{
	return fd < 3 || bsearch(&fd, sorted, nr, sizeof(*sorted), mq_fd_cmp);
}

/*
 * Without close_range() (ENOSYS before Linux 5.9, EPERM from a container's
 * seccomp filter): close what /proc/self/fd lists, or without procfs every
 * number below the RLIMIT_NOFILE soft limit, but 0-2 and @sorted.
 */
static int mq_close_fds_slow(const int *sorted, unsigned int nr)
{
	struct dirent *de;
	struct rlimit rl;
	DIR *d = opendir(mq_sandbox_fd_dir);
	int fd, dfd;

	if (d) {
		dfd = dirfd(d);
		while ((de = readdir(d))) {
			char *end;
			long n = strtol(de->d_name, &end, 10);

			if (de->d_name[0] < '0' || de->d_name[0] > '9' || *end ||
			    n > INT_MAX || n == dfd || mq_fd_kept(n, sorted, nr))
				continue;
			close(n);
		}
		closedir(d);
		return 0;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl))
		return -errno;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
		rl.rlim_cur = INT_MAX;
	for (fd = 3; fd < (int)rl.rlim_cur; fd++)
		if (!mq_fd_kept(fd, sorted, nr))
			close(fd);
	return 0;
}

/* close_range() over each gap between two kept descriptors. */
static int mq_close_fds_range(const int *sorted, unsigned int nr)
{
	unsigned int from = 3, i;

	for (i = 0; i < nr; i++) {
		if (sorted[i] < (int)from)	/* negative, 0-2 or repeated */
			continue;
		if ((unsigned int)sorted[i] > from &&
		    close_range(from, sorted[i] - 1, 0))
			return -errno;
		from = sorted[i] + 1;
	}
	return close_range(from, ~0u, 0) ? -errno : 0;
}

/*
 * Close every descriptor but 0, 1, 2 and the @nr in @keep (any order,
 * duplicates and negative entries allowed).  What the daemon inherited
 * from whoever started it (an open file, a socket, a directory whose ".."
 * reaches the host's tree) must not be reachable from the serving process.
 * 0-2 are kept only if they are what stdio can be (else /dev/null).
 */
int mq_sandbox_close_fds(const int *keep, unsigned int nr)
{
	int *sorted, ret;

	ret = mq_sandbox_check_stdio();
	if (ret) {
		mq_err("/dev/null onto fds 0-2: %s", strerror(-ret));
		return ret;
	}
	sorted = malloc((nr ?: 1) * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	if (nr)
		memcpy(sorted, keep, nr * sizeof(*sorted));
	qsort(sorted, nr, sizeof(*sorted), mq_fd_cmp);
	ret = mq_close_fds_range(sorted, nr);
	if (ret) {
		mq_info("close_range: %s: closing descriptors one by one",
			strerror(-ret));
		ret = mq_close_fds_slow(sorted, nr);
	}
	free(sorted);
	if (ret)
		mq_err("closing inherited descriptors: %s", strerror(-ret));
	return ret;
}

/*
 * The new root (and what is mounted under it) must not give a device:
 * with CAP_MKNOD kept for MKNOD requests, a device node created in the
 * backing directory would otherwise open the host's disks or kmsg.
 * Read-only stays read-only.
 */
static int mq_sandbox_root_flags(const char *dir)
{
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_NODEV | MS_NOSUID |
			      MS_NOEXEC;
	struct mount_attr {
		uint64_t attr_set, attr_clr, propagation, userns_fd;
	} attr = { .attr_set = 0x4 | 0x2 | 0x8 };	/* NODEV|NOSUID|NOEXEC */
	struct statvfs sv;
	int ret;

	if (statvfs(dir, &sv))
		return -errno;
	if (sv.f_flag & ST_RDONLY)
		flags |= MS_RDONLY;
	if (mount(NULL, dir, NULL, flags, NULL)) {
		ret = -errno;
		mq_err("sandbox: remounting %s nodev,nosuid,noexec: %s", dir,
		       strerror(-ret));
		return ret;
	}
#ifdef SYS_mount_setattr
	/* Mounts under it too (those mounted later keep their own flags). */
	if (syscall(SYS_mount_setattr, AT_FDCWD, dir, 0x8000 /* AT_RECURSIVE */,
		    &attr, sizeof(attr)) && errno != ENOSYS) {
		ret = -errno;
		mq_err("sandbox: nodev,nosuid,noexec under %s: %s", dir,
		       strerror(-ret));
		return ret;
	}
#else
	(void)attr;
#endif
	return 0;
}

/* Mount namespace, procfs, pivot_root into @dir; *@root_fd re-opened. */
static int mq_sandbox_fs(const char *dir, int root_fd)
{
	struct stat old_st, new_st;
	int proc_fd = -1, fd, ret;

	if (fstat(root_fd, &old_st))
		return -errno;
	if (unshare(CLONE_NEWNS)) {
		ret = -errno;
		mq_err("sandbox: unshare(CLONE_NEWNS): %s", strerror(-ret));
		return ret;
	}
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL)) {
		ret = -errno;
		mq_err("sandbox: making / a slave mount: %s", strerror(-ret));
		return ret;
	}
	/*
	 * A procfs of our own, on top of the host's /proc in this namespace
	 * only: process directories and nothing else (no /proc/sys).
	 */
	if (mount("proc", "/proc", "proc",
		  MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, "subset=pid")) {
		ret = -errno;
		mq_err("sandbox: mount proc: %s", strerror(-ret));
		return ret;
	}
	proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0) {
		ret = -errno;
		goto out;
	}
	if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL)) {
		ret = -errno;
		mq_err("sandbox: bind mount %s: %s", dir, strerror(-ret));
		goto out;
	}
	ret = mq_sandbox_root_flags(dir);
	if (ret)
		goto out;
	if (chdir(dir)) {
		ret = -errno;
		goto out;
	}
	/* Old root stacked under the new one, then detached with its mounts. */
	if (syscall(SYS_pivot_root, ".", ".")) {
		ret = -errno;
		mq_err("sandbox: pivot_root into %s: %s", dir, strerror(-ret));
		goto out;
	}
	if (umount2(".", MNT_DETACH)) {
		ret = -errno;
		mq_err("sandbox: detaching the old root: %s", strerror(-ret));
		goto out;
	}
	if (chdir("/")) {
		ret = -errno;
		goto out;
	}
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	if (fstat(fd, &new_st) || new_st.st_dev != old_st.st_dev ||
	    new_st.st_ino != old_st.st_ino) {
		close(fd);
		ret = -EXDEV;
		mq_err("sandbox: new root is not %s", dir);
		goto out;
	}
	if (dup3(fd, root_fd, O_CLOEXEC) < 0) {
		ret = -errno;
		close(fd);
		goto out;
	}
	close(fd);
	/* procfs is the working directory: "self/fd/N", "PID/status". */
	if (fchdir(proc_fd)) {
		ret = -errno;
		goto out;
	}
	mq_proc_prefix = "";
	ret = 0;
out:
	if (proc_fd >= 0)
		close(proc_fd);
	return ret;
}

/*
 * A network namespace of its own (only a loopback device, down): the
 * serving process talks to nobody but the kernel, its monitor (socket
 * pair) and syslog (connected before).  A kernel built without
 * CONFIG_NET_NS refuses with EINVAL: go on without one, loudly; any other
 * refusal fails the sandbox.
 */
static int mq_sandbox_net(void)
{
	int ret;

	if (!unshare(CLONE_NEWNET))
		return 0;
	ret = -errno;
	if (ret == -EINVAL) {
		mq_log_everywhere(MQ_LOG_WARN, "sandbox: no network namespace (kernel without CONFIG_NET_NS): the serving process stays in the host's");
		return 0;
	}
	mq_err("sandbox: unshare(CLONE_NEWNET): %s", strerror(-ret));
	return ret;
}

/*
 * The serving process as PID 1 of a PID namespace of its own: the procfs
 * it mounts (mq_sandbox_fs) then shows its own process only, not the
 * host's processes and their /proc/PID/root and cwd links.  The caller
 * must not fork again (pid_for_children stays the new namespace).
 */
pid_t mq_sandbox_fork(void)
{
	if (unshare(CLONE_NEWPID)) {
		mq_err("sandbox: unshare(CLONE_NEWPID): %s", strerror(errno));
		return -1;
	}
	return fork();
}

int mq_sandbox_enter(enum mq_sandbox_mode mode, const char *dir, int root_fd,
		     int monitor_fd)
{
	int ret;

	if (mode == MQ_SANDBOX_NONE)
		return mq_creds_drop_privileges();
	if (geteuid() != 0) {
		mq_err("sandbox: needs root (or run with --sandbox=none)");
		return -EPERM;
	}
	ret = mq_sandbox_net();
	if (!ret)
		ret = mq_sandbox_fs(dir, root_fd);
	if (ret)
		return ret;
	ret = mq_sandbox_caps();
	if (!ret)
		ret = mq_creds_drop_privileges();
	if (ret) {
		mq_err("sandbox: capabilities: %s", strerror(-ret));
		return ret;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) {
		ret = -errno;
		mq_err("sandbox: no_new_privs: %s", strerror(-ret));
		return ret;
	}
	ret = mq_seccomp_load(mode, monitor_fd);
	if (ret) {
		mq_err("sandbox: seccomp: %s", strerror(-ret));
		return ret;
	}
	mq_info("sandbox %s: root %s, %d system calls allowed",
		mq_sandbox_mode_name(mode), dir, mq_sandbox_nr_syscalls());
	/* Not the mode to run a service in: say so where it will be seen. */
	if (mode == MQ_SANDBOX_LOG)
		mq_log_everywhere(MQ_LOG_WARN, "sandbox in LOG mode (--sandbox=log): system calls outside the allow-list are NOT refused, only logged by the kernel (audit type=1326); use it only to find a missing entry");
	return 0;
}
