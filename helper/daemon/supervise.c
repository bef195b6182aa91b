// SPDX-License-Identifier: GPL-2.0
/*
 * mqfused --supervise: keep a daemon serving the mount.
 *
 * The supervisor runs mqfused as a child (-f, same arguments), and when
 * that child dies abnormally while its session lives (mounted with
 * recovery=SECONDS, it waits ORPHANED and replays what the dead daemon
 * held), starts a successor with --attach=SESSION_ID --gen=N.  At the
 * first loss it learns which session that is (the mount on top at the
 * mountpoint, its device, the sysfs directory of that device) and from
 * then on asks sysfs about that session only, never the mount: while the
 * session is ORPHANED a STATFS or GETATTR there would wait for the very
 * successor it is about to start.
 *
 * Restarts: at once for the first loss, after a child that lived 10 s,
 * and for a child that served (the session's "recoveries" grew while it
 * lived) and was SIGKILLed from outside (the OOM killer, an operator),
 * up to 30 of those in any 10 s.  A child that died within 10 s of its
 * start before it attached, or by its own fault (a crash signal, an
 * error exit: perhaps a replayed request that kills every successor),
 * waits a delay of 100 ms doubling up to 5 s; after 10 such deaths in a
 * row the supervisor gives up and ends, leaving the session to its
 * recovery= deadline (a transient cause, say a backing store not mounted
 * yet, is no reason to fail the applications' requests early).  It ends when a child exits 0 (the
 * session ended), when the session is gone or aborted, and on SIGTERM or
 * SIGINT, which it passes to the child and follows with a lazy umount if
 * the mount is still there (a successor does not unmount: it did not
 * mount).  SIGHUP is passed on.
 *
 * SIGUSR2 is a hot upgrade: the binary on disk is started with
 * --takeover=SESSION_ID as the *heir*; it attaches while the current
 * daemon serves, asks it to hand over (SIGQUIT: it stops reading, answers
 * what it holds, exits 0 without unmounting) and serves on.  The current
 * child's exit is then expected whatever its status (the heir SIGKILLs an
 * old daemon that does not stop in time and takes over through replay),
 * and the heir is supervised from then on.  An heir that dies while the
 * old daemon is still there failed: the old one serves on, or, if it had
 * already stopped, is replaced by a successor as after a crash.  A child
 * that exits 0 while its session is ORPHANED stopped for a takeover that
 * did not come: a successor replaces it; one whose session is served by
 * somebody else's --takeover ends supervision.
 *
 * Signals are blocked but while waiting (ppoll()), so none arriving
 * between a look at the flags and the sleep is lost.
 *
 * The supervisor holds no /dev/mqfuse fd, ever: the session orphans only
 * when its last daemon fd closes, so a supervisor holding one would keep
 * a dead daemon's session looking served (requests would wait in its
 * queues with nobody to read them and nothing replayed) instead of
 * letting the kernel requeue them for the successor.  Nor does it keep
 * what it inherited (a successor restores handles onto the fd numbers the
 * dead daemon used).  It execs a fresh binary each time, so an upgraded
 * mqfused on disk is picked up by the next restart.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <mqfuse.h>

#include "mount_opts.h"
#include "mqfused.h"

#define MQ_SUP_DELAY_MIN_MS	100
#define MQ_SUP_DELAY_MAX_MS	5000
#define MQ_SUP_STABLE_S		10
#define MQ_SUP_BURST		30	/* immediate restarts in any MQ_SUP_STABLE_S */
#define MQ_SUP_MAX_FAULTS	10	/* quick deaths in a row before giving up */
#define MQ_SUP_MAX_STACK	16	/* mounts stacked on one mountpoint we look at */

static volatile sig_atomic_t mq_sup_stop;
static volatile sig_atomic_t mq_sup_upgrade;
static volatile pid_t mq_sup_child;
static volatile pid_t mq_sup_heir;	/* a --takeover child, 0 if none */

static void mq_sup_signal(int sig)
{
	if (sig != SIGHUP)
		mq_sup_stop = sig;
	if (mq_sup_child > 0)
		kill(mq_sup_child, sig);
	if (mq_sup_heir > 0)
		kill(mq_sup_heir, sig);
}

/* SIGUSR2: hot upgrade, a --takeover child from the binary on disk. */
static void mq_sup_upgrade_signal(int sig)
{
	(void)sig;
	mq_sup_upgrade = 1;
}

/* SIGCHLD only ends the wait in mq_sup_wait(). */
static void mq_sup_child_signal(int sig)
{
	(void)sig;
}

/* The session supervised, learnt at the first loss. */
struct mq_sup_session {
	char fstype[32];		/* mqfuse_vN */
	int gen;			/* N */
	unsigned long long id;		/* /sys/fs/<fstype>/<id>, 0: not known */
	char dev[32];			/* major:minor of the mount */
};

/* The first line of a small file (a sysfs attribute), newline dropped. */
static bool mq_sup_read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = 0;
	return ok;
}

struct mq_sup_mnt {
	unsigned long id, parent;
	char dev[32], fstype[32];
};

/*
 * The mount on top at @mountpoint: of the entries mounted there, the one
 * no other entry there is mounted on.  Its device and type into @top.
 */
static bool mq_sup_top_mount(const char *mountpoint, struct mq_sup_mnt *top)
{
	struct mq_sup_mnt stack[MQ_SUP_MAX_STACK];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *mnt = NULL, *path = NULL;
	size_t cap = 0, room = 0;
	unsigned int n = 0, i, j;

	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		struct mq_sup_mnt m;
		char *sep;

		if (cap > room) {	/* fields are never longer than the line */
			free(mnt);
			free(path);
			mnt = malloc(cap);
			path = malloc(cap);
			if (!mnt || !path)
				break;
			room = cap;
		}
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS...] - FSTYPE ... */
		sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%lu %lu %31s %*s %s", &m.id, &m.parent,
				   m.dev, mnt) != 4 ||
		    sscanf(sep + 3, "%31s", m.fstype) != 1)
			continue;
		mq_mountinfo_unescape(mnt, path, room);
		if (!strcmp(path, mountpoint) && n < MQ_SUP_MAX_STACK)
			stack[n++] = m;
	}
	free(line);
	free(mnt);
	free(path);
	fclose(f);
	for (i = 0; i < n; i++) {
		for (j = 0; j < n && stack[j].parent != stack[i].id; j++)
			;
		if (j == n) {
			*top = stack[i];
			return true;
		}
	}
	return false;
}

/*
 * Which session is mounted on top at @mountpoint: any generation's, the
 * newest (highest id) sysfs directory with that device (a device number
 * is free for reuse before the sysfs directory of the session that had it
 * goes).
 */
static bool mq_sup_learn(const char *mountpoint, struct mq_sup_session *s)
{
	char path[PATH_MAX], val[64];
	struct mq_sup_mnt top;
	struct dirent *de;
	DIR *dir;

	if (!mq_sup_top_mount(mountpoint, &top) ||
	    mq_type_generation(top.fstype, false) <= 0)
		return false;
	snprintf(path, sizeof(path), "/sys/fs/%s", top.fstype);
	dir = opendir(path);
	if (!dir) {
		mq_warn("supervisor: %s: %s", path, strerror(errno));
		return false;
	}
	s->id = 0;
	while ((de = readdir(dir))) {
		unsigned long long id;
		char *end;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;	/* module-wide attributes */
		id = strtoull(de->d_name, &end, 10);
		if (*end || id <= s->id)
			continue;
		snprintf(path, sizeof(path), "/sys/fs/%s/%s/dev", top.fstype, de->d_name);
		if (mq_sup_read_line(path, val, sizeof(val)) && !strcmp(val, top.dev))
			s->id = id;
	}
	closedir(dir);
	if (!s->id)
		return false;
	snprintf(s->fstype, sizeof(s->fstype), "%s", top.fstype);
	snprintf(s->dev, sizeof(s->dev), "%s", top.dev);
	s->gen = mq_type_generation(top.fstype, false);
	return true;
}

static bool mq_sup_attr(const struct mq_sup_session *s, const char *attr,
			char *buf, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/fs/%s/%llu/%s", s->fstype, s->id, attr);
	return mq_sup_read_line(path, buf, len);
}

bool mq_session_attr(const char *target, const char *attr, char *buf, size_t len)
{
	struct mq_sup_session sess = { .id = 0 };
	char dev[32];

	if (target[0] && strspn(target, "0123456789") == strlen(target)) {
		/* this daemon's generation (mq_select_fs()), else ours */
		snprintf(sess.fstype, sizeof(sess.fstype), "%s",
			 mq_cfg.fstype[0] ? mq_cfg.fstype : MQFUSE_NAME);
		sess.id = strtoull(target, NULL, 10);
		if (!sess.id || !mq_sup_attr(&sess, "dev", dev, sizeof(dev)))
			return false;
	} else if (!mq_sup_learn(target, &sess)) {
		return false;
	}
	if (!strcmp(attr, "id")) {
		snprintf(buf, len, "%llu", sess.id);
		return true;
	}
	return mq_sup_attr(&sess, attr, buf, len);
}

/* The session still exists and is not aborted: a successor can attach. */
static bool mq_sup_live(const struct mq_sup_session *s)
{
	char state[32];

	return mq_sup_attr(s, "state", state, sizeof(state)) &&
	       strcmp(state, "aborted");
}

/* Daemons attached to the orphaned session so far, into *@n. */
static bool mq_sup_recoveries(const struct mq_sup_session *s, unsigned long *n)
{
	char buf[32], *end;

	if (!s->id || !mq_sup_attr(s, "recoveries", buf, sizeof(buf)))
		return false;
	*n = strtoul(buf, &end, 10);
	return !*end && end != buf;
}

/* SIGTERM/SIGINT: the session's mount goes if it is still on top there. */
static void mq_sup_unmount(const char *mountpoint, struct mq_sup_session *s)
{
	struct mq_sup_mnt top;

	/* only the session we supervise: learnt now if it was not yet */
	if ((!s->id && !mq_sup_learn(mountpoint, s)) ||
	    !mq_sup_top_mount(mountpoint, &top) || strcmp(top.dev, s->dev))
		return;
	if (umount2(mountpoint, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
		mq_warn("supervisor: umount %s: %s", mountpoint, strerror(errno));
}

static double mq_sup_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * The program a child runs: our binary by its path, so that the child's
 * name (comm) is "mqfused", not "exe" as an exec of /proc/self/exe
 * gives, and so that a successor started after a package upgrade runs
 * the new binary. /proc/self/exe only if the path cannot be read.
 */
static char *mq_sup_self(void)
{
	static char path[PATH_MAX];
	ssize_t n;

	if (path[0])
		return path;
	n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0 || n >= (ssize_t)sizeof(path) - 1) {
		snprintf(path, sizeof(path), "/proc/self/exe");
		return path;
	}
	path[n] = 0;
	/* replaced on disk since we started: the path names the new one */
	if (n > 10 && !strcmp(path + n - 10, " (deleted)"))
		path[n - 10] = 0;
	return path;
}

/*
 * argv of a child: ours without --supervise, with -f; for a successor
 * @opt (--attach or --takeover) =ID and --gen=N of the session first;
 * for the first daemon --status-fd=N if @status_fd >= 0.  Returns NULL
 * on failure.
 */
static char **mq_sup_argv(int argc, char **argv, const struct mq_sup_session *s,
			  const char *opt, int status_fd)
{
	char **out = calloc(argc + 5, sizeof(*out));
	int i, n = 0;

	if (!out)
		return NULL;
	out[n++] = mq_sup_self();
	out[n++] = "-f";
	if (s && (asprintf(&out[n++], "%s=%llu", opt, s->id) < 0 ||
		  asprintf(&out[n++], "--gen=%d", s->gen) < 0))
		return NULL;
	if (status_fd >= 0 && asprintf(&out[n++], "--status-fd=%d", status_fd) < 0)
		return NULL;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--supervise") || !strcmp(argv[i], "-f") ||
		    !strcmp(argv[i], "--foreground"))
			continue;
		out[n++] = argv[i];
	}
	out[n] = NULL;
	return out;
}

/*
 * Killed by SIGKILL: the serving process itself (--sandbox none), or its
 * monitor reporting it (exit 128 + SIGKILL, session.c).
 */
static bool mq_sup_killed(int wstatus)
{
	return (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL) ||
	       (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 128 + SIGKILL);
}

static pid_t mq_sup_spawn(char **args)
{
	pid_t pid = fork();

	if (pid == 0) {
		sigset_t none;

		/* our handlers would forward a signal to our children: not here */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGUSR2, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execv(args[0], args);
		mq_err("supervisor: exec mqfused: %s", strerror(errno));
		_exit(127);
	}
	return pid;
}

/*
 * Reap a child: its pid, 0 when a signal came first (the caller looks at
 * the flags), -1 when there is no child left.  Our signals are blocked
 * but here, where ppoll() opens them atomically.
 */
static pid_t mq_sup_wait(int *wstatus, const sigset_t *waitmask)
{
	pid_t w;

	for (;;) {
		w = waitpid(-1, wstatus, WNOHANG);
		if (w != 0)
			return w < 0 && errno == EINTR ? 0 : w;
		if (mq_sup_upgrade)
			return 0;
		ppoll(NULL, 0, NULL, waitmask);
		if (mq_sup_upgrade)
			return 0;
	}
}

/* Sleep @ms unless a stop signal comes; true if one did. */
static bool mq_sup_sleep(unsigned int ms, const sigset_t *waitmask)
{
	double end = mq_sup_now() + ms / 1000.0, left;

	while (!mq_sup_stop && (left = end - mq_sup_now()) > 0) {
		struct timespec ts = { (time_t)left, (long)((left - (time_t)left) * 1e9) };

		ppoll(NULL, 0, &ts, waitmask);
	}
	return mq_sup_stop;
}

/*
 * The child exited 0: the session ended (unmounted), unless it is still
 * there, not aborted.  Orphaned: the child stopped for a takeover that
 * did not come (its SIGQUIT was not ours): a successor must serve it.
 * Running: somebody's mqfused --takeover serves it; ours ends.
 */
static bool mq_sup_handed_over(const char *mountpoint, struct mq_sup_session *s,
			       pid_t pid)
{
	char state[32];

	if ((!s->id && !mq_sup_learn(mountpoint, s)) ||
	    !mq_sup_attr(s, "state", state, sizeof(state)) ||
	    !strcmp(state, "aborted"))
		return false;
	if (!strcmp(state, "running")) {
		mq_warn("supervisor: daemon %d handed %s over to a daemon that is not ours (mqfused --takeover by hand?): supervision ends; send SIGUSR2 to the supervisor to upgrade a supervised mount",
			(int)pid, mountpoint);
		return false;
	}
	mq_warn("supervisor: daemon %d stopped for a hot upgrade and nobody took over: starting a successor",
		(int)pid);
	return true;
}

/* SIGUSR2: start the heir (--takeover) unless one runs; returns its pid or 0. */
static pid_t mq_sup_start_heir(int argc, char **argv, const char *mountpoint,
			       struct mq_sup_session *s, pid_t pid, bool served)
{
	char state[32];
	char **args;
	pid_t heir;

	if (!s->id && !mq_sup_learn(mountpoint, s)) {
		mq_warn("supervisor: hot upgrade: no mqfuse session mounted on %s", mountpoint);
		return 0;
	}
	/*
	 * Only from a daemon that serves: while a successor is still starting
	 * (it has not attached, or the session is orphaned) an heir could
	 * attach next to it, two daemons on one state.
	 */
	if (!served || !mq_sup_attr(s, "state", state, sizeof(state)) ||
	    strcmp(state, "running")) {
		mq_warn("supervisor: hot upgrade: daemon %d is not serving yet: send SIGUSR2 again once it is",
			(int)pid);
		return 0;
	}
	args = mq_sup_argv(argc, argv, s, "--takeover", -1);
	if (!args)
		return 0;
	heir = mq_sup_spawn(args);
	free(args[2]);
	free(args[3]);
	free(args);
	if (heir < 0) {
		mq_err("supervisor: fork: %s", strerror(errno));
		return 0;
	}
	mq_info("supervisor: hot upgrade: %d takes over from %d", (int)heir, (int)pid);
	return heir;
}

/*
 * @status_fd: the first daemon reports there (--status-fd) and keeps our
 * stdio until it is served; we detach ours once it runs. -1: -f, stdio
 * kept by all.
 */
int mq_supervise(int argc, char **argv, const char *mountpoint, int status_fd)
{
	char **first = mq_sup_argv(argc, argv, NULL, NULL, status_fd), **next = NULL;
	unsigned int delay = MQ_SUP_DELAY_MIN_MS, restarts = 0, faults = 0, b;
	double started, now, burst[MQ_SUP_BURST] = { 0 };
	struct mq_sup_session sess = { .id = 0 };
	unsigned long before = 0, after = 0;
	bool known_before = false, quick, assume_served = true;
	sigset_t set, waitmask;
	struct sigaction sa;
	pid_t pid, heir = 0, w;
	int wstatus;

	if (!first || !mountpoint) {
		mq_err("--supervise needs SOURCE and MOUNTPOINT");
		return 2;
	}
	/* "mqfused" is the serving process only (as "mqfused-monitor") */
	prctl(PR_SET_NAME, "mqfused-sup", 0, 0, 0);
	/* nothing inherited: a successor restores handles onto fixed numbers */
	if (mq_sandbox_close_fds(&status_fd, 1))
		return 1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGHUP);
	sigdelset(&waitmask, SIGUSR2);
	sigdelset(&waitmask, SIGCHLD);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mq_sup_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = mq_sup_upgrade_signal;
	sigaction(SIGUSR2, &sa, NULL);
	/* a handler, not SIG_DFL: a discarded SIGCHLD would not end ppoll() */
	sa.sa_handler = mq_sup_child_signal;
	sigaction(SIGCHLD, &sa, NULL);

	if (status_fd >= 0 && fcntl(status_fd, F_SETFD, 0))
		return 1;
	pid = mq_sup_spawn(first);
	if (status_fd >= 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		close(status_fd);	/* the first daemon's now: EOF if it dies */
		mq_log_detach_stdio(null);
		if (null >= 0)
			close(null);
	}
	for (;;) {
		if (pid < 0) {
			mq_err("supervisor: fork: %s", strerror(errno));
			return 1;
		}
		/* signals are blocked: the handler forwards to this one from now */
		mq_sup_child = pid;
		started = mq_sup_now();
		for (;;) {
			w = mq_sup_wait(&wstatus, &waitmask);
			if (w < 0)
				return 1;
			if (w == 0) {
				if (mq_sup_upgrade && !mq_sup_stop && !heir)
					heir = mq_sup_start_heir(argc, argv, mountpoint, &sess, pid,
								 assume_served ||
								 (known_before &&
								  mq_sup_recoveries(&sess, &after) &&
								  after > before));
				mq_sup_upgrade = 0;
				mq_sup_heir = heir;
				continue;
			}
			if (w == pid)
				break;
			if (w == heir) {
				heir = 0;
				mq_sup_heir = 0;
				mq_warn("supervisor: hot upgrade failed (takeover %d %s %d): %d serves on",
					(int)w, WIFSIGNALED(wstatus) ? "killed by signal" :
					"exited with", WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) :
					WEXITSTATUS(wstatus), (int)pid);
			}
		}
		mq_sup_child = 0;
		if (mq_sup_stop) {
			if (heir)
				while (waitpid(heir, NULL, 0) < 0 && errno == EINTR)
					;
			/* the first daemon unmounted; a successor may not have */
			mq_sup_unmount(mountpoint, &sess);
			return 0;
		}
		if (heir) {
			/* expected: the heir serves now (or falls back to replay) */
			mq_info("supervisor: daemon %d handed over to %d", (int)pid, (int)heir);
			pid = heir;
			heir = 0;
			mq_sup_heir = 0;
			assume_served = true;	/* it attached a running session */
			continue;
		}
		if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 &&
		    !mq_sup_handed_over(mountpoint, &sess, pid))
			return 0;	/* unmounted: the session ended */
		if (!sess.id && !mq_sup_learn(mountpoint, &sess)) {
			mq_warn("supervisor: daemon gone and no mqfuse session is mounted on %s: done",
				mountpoint);
			return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 1;
		}
		if (!mq_sup_live(&sess)) {
			mq_warn("supervisor: daemon gone and session %llu (%s) is gone or aborted: done",
				sess.id, sess.fstype);
			return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 1;
		}
		if (!next) {
			next = mq_sup_argv(argc, argv, &sess, "--attach", -1);
			if (!next)
				return 1;
		}
		now = mq_sup_now();
		quick = now - started < MQ_SUP_STABLE_S;
		if (!quick) {
			faults = 0;
			delay = MQ_SUP_DELAY_MIN_MS;
		}
		/*
		 * A quick death is the child's fault unless it served (the first
		 * daemon mounted, an heir attached a running session, a successor
		 * attached: "recoveries" grew) and was SIGKILLed from outside, and
		 * even then past MQ_SUP_BURST of them in MQ_SUP_STABLE_S: the
		 * oldest of the last MQ_SUP_BURST restarts at once is recent.
		 */
		b = restarts % MQ_SUP_BURST;
		if (quick && !(mq_sup_killed(wstatus) &&
			       (assume_served || (known_before && mq_sup_recoveries(&sess, &after) &&
						  after > before)) &&
			       (restarts < MQ_SUP_BURST || now - burst[b] >= MQ_SUP_STABLE_S))) {
			if (++faults >= MQ_SUP_MAX_FAULTS) {
				mq_err("supervisor: the daemon died %u times in a row within %d s of its start: giving up; session %llu waits for its recovery= deadline (mqfused --attach, or mqfusectl abort)",
				       faults, MQ_SUP_STABLE_S, sess.id);
				return 1;
			}
			if (mq_sup_sleep(delay, &waitmask)) {
				mq_sup_unmount(mountpoint, &sess);
				return 0;
			}
			delay = delay * 2 > MQ_SUP_DELAY_MAX_MS ?
				MQ_SUP_DELAY_MAX_MS : delay * 2;
		}
		burst[b] = mq_sup_now();
		restarts++;
		mq_warn("supervisor: daemon %d %s %d: starting a successor (restart %u)",
			(int)pid, WIFSIGNALED(wstatus) ? "killed by signal" :
			"exited with", WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) :
			WEXITSTATUS(wstatus), restarts);
		/* before it can attach: a successor that attaches adds one */
		known_before = mq_sup_recoveries(&sess, &before);
		assume_served = false;
		pid = mq_sup_spawn(next);
	}
}
