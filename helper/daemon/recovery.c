// SPDX-License-Identifier: GPL-2.0
/*
 * Recovery at the session level: give a new session its recovery state,
 * and start as the successor of a daemon that died (--attach), or that is
 * being replaced (--takeover).
 *
 * The kernel contract (uapi/mqfuse.h, "Recovery"): a session mounted with
 * recovery=SECONDS outlives its daemon for that long; a new daemon
 * attaches with MQFUSE_IOC_ATTACH, gets no INIT (MQFUSE_IOC_GET_INFO has
 * what INIT negotiated), reads the replayed requests first, and fetches
 * the one file the session keeps for it (MQFUSE_IOC_FETCH_FD): our state.
 *
 * A successor never writes the state it fetched.  It rebuilds its tables
 * from a private copy, writes a new state (its own fd numbers), copies
 * the journal entries still in flight into it, and only then swaps it in
 * with MQFUSE_IOC_STORE_FD: if it dies half way, the next successor still
 * finds the old, complete state.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#include <mqfuse.h>

#include "mqfused.h"
#include "restore.h"
#include "rstate.h"

static int mq_root_stat(struct stat *st)
{
	int root_fd = mq_itable_root_fd();

	return fstat(root_fd, st) ? -errno : 0;
}

/* Journal ring size for the threads this daemon will run. */
static uint32_t mq_recovery_journal_size(void)
{
	return mq_rs_journal_size(mq_cfg.threads ?: 256);
}

int mq_recovery_new_session(int devfd)
{
	struct mqfuse_session_info info;
	struct stat root;
	int memfd, ret;

	memset(&info, 0, sizeof(info));
	if (ioctl(devfd, MQFUSE_IOC_GET_INFO, &info) || !info.recovery_s)
		return 0;	/* recovery off: nothing to keep */
	ret = mq_root_stat(&root);
	if (ret)
		return ret;
	memfd = mq_rs_create(mq_handles_max(), mq_recovery_journal_size(),
			     &root, 1, 0);
	if (memfd < 0) {
		mq_warn("recovery state: %s: a restarted daemon cannot attach",
			strerror(-memfd));
		return 0;
	}
	if (ioctl(devfd, MQFUSE_IOC_STORE_FD, &memfd)) {
		mq_warn("recovery state: MQFUSE_IOC_STORE_FD: %s: a restarted daemon cannot attach",
			strerror(errno));
		mq_rs_close();
		close(memfd);
		return 0;
	}
	close(memfd);	/* the session holds it; the mapping stays */
	mq_info("recovery=%u s: state kept by session %llu", info.recovery_s,
		(unsigned long long)info.session_id);
	return 1;
}

/*
 * How long the old daemon has to stop reading, answer what it holds and
 * exit before it is SIGKILLed (and its requests replayed to us).
 */
#define MQ_TAKEOVER_WAIT_MS	5000

static uint64_t mq_attached_id;		/* session we attached to */

/* The daemon --takeover replaces: a pidfd, so that no recycled pid is hit. */
struct mq_takeover {
	pid_t pid;
	int pidfd;		/* -1: nobody to take over from */
	unsigned long long gen;	/* sysfs daemon_gen of the daemon we replace */
	bool asked;		/* SIGQUIT sent: it stops serving */
	bool killed;		/* it did not stop in time */
	double t0;		/* when it was asked, ms */
};

static double mq_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static pid_t mq_takeover_daemon_pid(const char *target)
{
	char buf[32];

	return mq_session_attr(target, "daemon_pid", buf, sizeof(buf)) ?
	       (pid_t)strtol(buf, NULL, 10) : 0;
}

/*
 * Before attaching: who serves @target's session now (sysfs daemon_pid:
 * the serving process, the first reader of the newest daemon's fds).
 * Read before our attach makes us daemon_pid.  A session that is not
 * running has no daemon to ask: refused, as a successor may be attaching
 * to it right now (a supervisor's --attach), and two daemons serving one
 * state would hand out the same nodeids.
 */
static int mq_takeover_find(const char *target, struct mq_takeover *to)
{
	char state[32], buf[32], comm[32], path[64];
	FILE *f;
	pid_t pid;
	int fd;

	to->pid = 0;
	to->pidfd = -1;
	if (!mq_session_attr(target, "state", state, sizeof(state))) {
		mq_err("--takeover %s: no %s session there (give the mountpoint or the session id)",
		       target, MQFUSE_NAME);
		return -ENOENT;
	}
	if (!mq_session_attr(target, "recovery", buf, sizeof(buf)) ||
	    !strcmp(buf, "0")) {
		mq_err("--takeover %s: mounted without recovery=: its daemon keeps no state to take over",
		       target);
		return -EINVAL;
	}
	if (strcmp(state, "running")) {
		mq_err("--takeover %s: the session is %s, no daemon to take over from (mqfused --attach restarts an orphaned session)",
		       target, state);
		return -EBUSY;
	}
	/* read before daemon_pid: the attach fails if a daemon came since */
	if (!mq_session_attr(target, "daemon_gen", buf, sizeof(buf))) {
		mq_err("--takeover %s: no daemon_gen in sysfs (a module without exclusive attach)",
		       target);
		return -ENOTSUP;
	}
	to->gen = strtoull(buf, NULL, 10);
	/*
	 * Running, so some process serves it: refuse rather than guess if
	 * daemon_pid does not name a live mqfused (a daemon started by an
	 * mqfused that attached before it detached, then exited): reading
	 * the state of a daemon that goes on serving would be wrong.
	 */
	pid = mq_takeover_daemon_pid(target);
	fd = pid > 0 ? syscall(SYS_pidfd_open, pid, 0) : -1;
	if (fd < 0) {
		mq_err("--takeover %s: daemon_pid %d: %s: cannot tell which process serves the session (stop it, then mqfused --attach)",
		       target, (int)pid, pid > 0 ? strerror(errno) : "none");
		return -ESRCH;
	}
	/* Still that session's daemon, and an mqfused (not a recycled pid). */
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	comm[0] = 0;
	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
	}
	comm[strcspn(comm, "\n")] = 0;
	if (mq_takeover_daemon_pid(target) != pid ||
	    strncmp(comm, "mqfused", 7)) {
		close(fd);
		mq_err("--takeover %s: daemon_pid %d is %s: another takeover at the same time? (else stop the daemon, then mqfused --attach)",
		       target, (int)pid, comm[0] ? comm : "gone");
		return -EBUSY;
	}
	to->pid = pid;
	to->pidfd = fd;
	return 0;
}

/* Device fds of the session (sysfs "daemons"), -1 if unknown. */
static long mq_takeover_daemons(void)
{
	char id[32], buf[32];

	snprintf(id, sizeof(id), "%llu", (unsigned long long)mq_attached_id);
	return mq_session_attr(id, "daemons", buf, sizeof(buf)) ?
	       strtol(buf, NULL, 10) : -1;
}

static bool mq_takeover_exited(struct mq_takeover *to, int ms)
{
	struct pollfd pfd = { .fd = to->pidfd, .events = POLLIN };
	double end = mq_now_ms() + ms;
	int ret;

	do {
		ret = poll(&pfd, 1, (int)(end - mq_now_ms()) > 0 ?
			   (int)(end - mq_now_ms()) : 0);
	} while (ret < 0 && errno == EINTR && mq_now_ms() < end);
	return ret > 0;
}

/*
 * Attached: ask the old daemon to hand over (SIGQUIT: stop reading,
 * answer what it holds, release its device fds, keep its backing fds
 * until told) and wait until its device fds are gone (sysfs "daemons":
 * ours alone) or it is, so that the state we read next is the one it
 * left.  One that does not stop in time is SIGKILLed: what it still held
 * is replayed to us, and the journal answers what it had applied.
 */
static int mq_takeover_stop(const char *target, struct mq_takeover *to)
{
	bool stopped = false;
	double end;
	int ret;

	to->t0 = mq_now_ms();
	if (syscall(SYS_pidfd_send_signal, to->pidfd, SIGQUIT, NULL, 0) &&
	    errno != ESRCH) {
		ret = -errno;
		mq_err("--takeover %s: SIGQUIT to %d: %s", target, (int)to->pid,
		       strerror(-ret));
		return ret;
	}
	to->asked = true;
	/* ours is 1 (our threads clone theirs later) */
	for (end = to->t0 + MQ_TAKEOVER_WAIT_MS; mq_now_ms() < end;) {
		long daemons = mq_takeover_daemons();	/* -1: unknown, not "stopped" */

		if ((daemons >= 0 && daemons <= 1) || mq_takeover_exited(to, 2)) {
			stopped = true;
			break;
		}
	}
	if (!stopped) {
		mq_warn("--takeover %s: daemon %d did not hand over within %d ms: SIGKILL (its requests are replayed to us)",
			target, (int)to->pid, MQ_TAKEOVER_WAIT_MS);
		syscall(SYS_pidfd_send_signal, to->pidfd, SIGKILL, NULL, 0);
		to->killed = true;
		if (!mq_takeover_exited(to, MQ_TAKEOVER_WAIT_MS)) {
			mq_err("--takeover %s: daemon %d still there after SIGKILL",
			       target, (int)to->pid);
			return -ETIMEDOUT;
		}
		/* a SIGKILLed monitor only signals its serving child */
		for (end = mq_now_ms() + 2000; mq_takeover_daemons() > 1 &&
		     mq_now_ms() < end;)
			mq_takeover_exited(to, 2);
	}
	if (mq_takeover_daemons() != 1) {
		/* a state read while another daemon serves would be wrong */
		mq_err("--takeover %s: another daemon fd is still attached (or the count is unknown): giving up",
		       target);
		return -EBUSY;
	}
	mq_info("daemon %d stopped serving in %.1f ms%s", (int)to->pid,
		mq_now_ms() - to->t0, to->killed ? " (killed)" : "");
	return 0;
}

/*
 * Our tables are rebuilt (or we failed): the old daemon may let its
 * backing fds go and exit (SIGQUIT again); SIGKILL if it does not.
 */
static void mq_takeover_release(const char *target, struct mq_takeover *to)
{
	if (to->pidfd < 0)
		return;
	if (!to->asked) {	/* it serves on: we failed before asking */
		close(to->pidfd);
		to->pidfd = -1;
		return;
	}
	if (!mq_takeover_exited(to, 0)) {
		syscall(SYS_pidfd_send_signal, to->pidfd, SIGQUIT, NULL, 0);
		if (!mq_takeover_exited(to, 2000)) {
			mq_warn("--takeover %s: daemon %d did not exit: SIGKILL",
				target, (int)to->pid);
			syscall(SYS_pidfd_send_signal, to->pidfd, SIGKILL, NULL, 0);
			mq_takeover_exited(to, 2000);
		}
	}
	mq_info("took over from daemon %d in %.1f ms", (int)to->pid,
		mq_now_ms() - to->t0);
	close(to->pidfd);
	to->pidfd = -1;
}

/*
 * --attach=ID or --attach=PATH (a file of the mount), exclusive: a
 * successor only to an ORPHANED session, a takeover (@to) only from the
 * daemon generation it saw; -EBUSY when another daemon came first.
 */
static int mq_attach_ioctl(int devfd, const char *target, const struct mq_takeover *to)
{
	struct mqfuse_attach a;
	char *end;
	int ret;

	memset(&a, 0, sizeof(a));
	a.fd = -1;
	a.flags = to ? MQFUSE_ATTACH_TAKEOVER : MQFUSE_ATTACH_RESTART;
	a.daemon_gen = to ? to->gen : 0;
	errno = 0;
	a.session_id = strtoull(target, &end, 10);
	if (errno || end == target || *end) {
		a.session_id = 0;
		a.fd = open(target, O_PATH | O_CLOEXEC);
		if (a.fd < 0) {
			ret = -errno;
			mq_err("--attach %s: %s", target, strerror(-ret));
			return ret;
		}
	}
	ret = ioctl(devfd, MQFUSE_IOC_ATTACH, &a) ? -errno : 0;
	if (a.fd >= 0)
		close(a.fd);
	if (ret)
		mq_err("--%s %s: MQFUSE_IOC_ATTACH: %s%s", to ? "takeover" : "attach",
		       target, strerror(-ret), ret == -ENOTTY ?
		       " (this mqfuse has no recovery)" : ret != -EBUSY ? "" : to ?
		       " (the daemon changed since we looked: a crash, a restart or another takeover)" :
		       " (the session is served: --takeover replaces a serving daemon)");
	return ret;
}

int mq_recovery_attach(const char *target, int *devfdp, int *const *extra,
		       unsigned int nr_extra)
{
	struct mqfuse_session_info info;
	struct mq_restore_stats rs;
	struct mq_rs_image img;
	struct mq_takeover to = { .pidfd = -1 };
	struct stat root;
	char err[512];
	int devfd, memfd = -1, newfd = -1, root_fd, ret;
	int *movable[4 + MQ_ATTACH_MAX_EXTRA];
	unsigned int m;

	if (mq_cfg.takeover) {
		ret = mq_takeover_find(target, &to);
		if (ret)
			return ret;
	}
	devfd = open(mq_cfg.devpath, O_RDWR | O_CLOEXEC);
	if (devfd < 0) {
		ret = -errno;
		mq_err("open %s: %s", mq_cfg.devpath, strerror(-ret));
		goto err_pidfd;
	}
	ret = mq_attach_ioctl(devfd, target, mq_cfg.takeover ? &to : NULL);
	if (ret)
		goto err_close;
	memset(&info, 0, sizeof(info));
	if (ioctl(devfd, MQFUSE_IOC_GET_INFO, &info)) {
		ret = -errno;
		mq_err("attached, but MQFUSE_IOC_GET_INFO: %s", strerror(-ret));
		goto err_close;
	}
	if (!info.proto_minor) {
		ret = -EPROTO;
		mq_err("session %llu never finished INIT: nothing to take over",
		       (unsigned long long)info.session_id);
		goto err_close;
	}
	memfd = ioctl(devfd, MQFUSE_IOC_FETCH_FD);
	if (memfd < 0) {
		ret = -errno;
		mq_err("session %llu keeps no recovery state (%s): refusing to serve nodeids we cannot know",
		       (unsigned long long)info.session_id, strerror(-ret));
		goto err_close;
	}
	mq_attached_id = info.session_id;
	/*
	 * Until here the old daemon serves as if we were not there (our fd
	 * reads nothing yet, so the kernel gives it nothing).  From here on
	 * it stops: read the state only once it is gone.
	 */
	if (to.pidfd >= 0) {
		ret = mq_takeover_stop(target, &to);
		if (ret)
			goto err_close;
	}
	ret = mq_root_stat(&root);
	if (!ret)
		ret = mq_rs_load(memfd, &root, &img, err, sizeof(err));
	if (ret) {
		mq_err("session %llu: recovery state refused: %s",
		       (unsigned long long)info.session_id, err);
		goto err_close;
	}
	if (!mq_init_flags_served(info.init_flags)) {
		mq_err("session %llu: negotiated INIT flags 0x%llx this mqfused cannot serve (a newer one set it up)",
		       (unsigned long long)info.session_id,
		       (unsigned long long)info.init_flags);
		ret = -EPROTO;
		goto err_image;
	}
	/* What INIT negotiated with the first daemon. */
	mq_conn.max_write = info.max_write;
	mq_conn.flags = (uint32_t)info.init_flags;
	if (info.max_write > mq_cfg.max_write)
		mq_cfg.max_write = info.max_write;
	newfd = mq_rs_create(mq_handles_max(), mq_recovery_journal_size(),
			     &root, img.epoch + 1, img.nodeid_reserved);
	if (newfd < 0) {
		ret = newfd;
		mq_err("new recovery state: %s", strerror(-ret));
		goto err_image;
	}
	root_fd = mq_itable_root_fd();
	movable[0] = &devfd;
	movable[1] = &memfd;
	movable[2] = &newfd;
	movable[3] = &to.pidfd;
	for (m = 0; m < nr_extra && m < MQ_ATTACH_MAX_EXTRA; m++)
		movable[4 + m] = extra[m];
	ret = mq_restore_tables(&img, &root_fd, movable, 4 + m, &rs, err,
				sizeof(err));
	if (ret) {
		mq_err("session %llu: recovery state refused: %s",
		       (unsigned long long)info.session_id, err);
		goto err_image;
	}
	mq_rs_journal_adopt(&img);
	if (ioctl(devfd, MQFUSE_IOC_STORE_FD, &newfd)) {
		ret = -errno;
		mq_err("MQFUSE_IOC_STORE_FD: %s", strerror(-ret));
		goto err_image;
	}
	mq_info("attached to session %llu (epoch %llu): %u inodes, %u handles, %u journal entries in flight; %u inodes and %u handles gone from the backing fs",
		(unsigned long long)info.session_id,
		(unsigned long long)img.epoch + 1, rs.inodes, rs.handles,
		img.nr_journal, rs.stale_inodes, rs.stale_handles);
	mq_rs_image_free(&img);
	close(newfd);
	close(memfd);
	mq_takeover_release(target, &to);
	/* Published last: requests are served from here on. */
	atomic_store(&mq_conn.proto_minor, info.proto_minor);
	*devfdp = devfd;
	return 0;

err_image:
	mq_rs_image_free(&img);
err_close:
	mq_rs_close();
	if (newfd >= 0)
		close(newfd);
	if (memfd >= 0)
		close(memfd);
	close(devfd);
err_pidfd:
	/* a failed successor lets the old daemon go: a restart attaches */
	mq_takeover_release(target, &to);
	return ret;
}

bool mq_recovery_owns_mountpoint(void)
{
	char id[32];

	return mq_attached_id && mq_cfg.mountpoint &&
	       mq_session_attr(mq_cfg.mountpoint, "id", id, sizeof(id)) &&
	       strtoull(id, NULL, 10) == mq_attached_id;
}
