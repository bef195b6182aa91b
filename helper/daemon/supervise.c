// SPDX-License-Identifier: GPL-2.0
/*
 * mqfused --supervise: keep a daemon serving the mount.
 *
 * The supervisor runs mqfused as a child (-f, same arguments), and when
 * that child dies abnormally while the mount is still an mqfuse mount,
 * starts a successor at once with --attach=MOUNTPOINT: the session,
 * mounted with recovery=SECONDS, waits ORPHANED for it and replays what
 * the dead daemon held.  A child that keeps dying soon after its start,
 * before it attached or by its own fault, is restarted with a doubling
 * delay (100 ms up to 5 s, back to 100 ms once a child lived 10 s); one
 * that served and was SIGKILLed is replaced at once (up to 30 times in
 * 10 s).  The session's own recovery timeout bounds the whole: once it
 * aborted, or the mount is gone, the supervisor ends.
 *
 * The supervisor holds no /dev/mqfuse fd, ever: the session orphans only
 * when its last daemon fd closes, so a supervisor holding one would keep
 * a dead daemon's session looking served (requests would wait in its
 * queues with nobody to read them and nothing replayed) instead of
 * letting the kernel requeue them for the successor.  It execs a fresh
 * binary each time, so an upgraded mqfused on disk is picked up by the
 * next restart.
 *
 * SIGUSR2 is a hot upgrade: a --takeover child from the binary on disk
 * replaces the serving one (mq_supervise(), below).
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
#include <sys/prctl.h>
#include <sys/wait.h>

#include <mqfuse.h>

#include "mount_opts.h"
#include "mqfused.h"

#define MQ_SUP_DELAY_MIN_MS	100
#define MQ_SUP_DELAY_MAX_MS	5000
#define MQ_SUP_STABLE_S		10
#define MQ_SUP_BURST		30	/* immediate restarts per MQ_SUP_STABLE_S */

static volatile sig_atomic_t mq_sup_stop;
static volatile sig_atomic_t mq_sup_upgrade;
static volatile pid_t mq_sup_child;
static volatile pid_t mq_sup_heir;	/* a --takeover child, 0 if none */

static void mq_sup_signal(int sig)
{
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

/*
 * The device (major:minor, as mountinfo and sysfs write it) of the mount
 * on top at @mountpoint if it is one of this generation's, else false.
 */
static bool mq_sup_mount_dev(const char *mountpoint, char *dev, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *mnt = NULL, *path = NULL;
	size_t cap = 0, room = 0;
	bool found = false;

	if (!f)
		return false;
	while (getline(&line, &cap, f) > 0) {
		char d[32], fstype[64], *sep;

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
		if (!sep || sscanf(line, "%*s %*s %31s %*s %s", d, mnt) != 2 ||
		    sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		mq_mountinfo_unescape(mnt, path, cap);
		if (strcmp(path, mountpoint))
			continue;
		/* later lines are mounted later: the last one is on top */
		found = !strcmp(fstype, MQFUSE_NAME);
		if (found)
			snprintf(dev, len, "%s", d);
	}
	free(line);
	free(mnt);
	free(path);
	fclose(f);
	return found;
}

/*
 * Attribute @attr of a session, from sysfs, into @buf; false if there is
 * no such session of this generation.  @target is a session id (digits
 * only, as --attach takes it) or a mountpoint.  Never a request to the
 * mount: while the session is ORPHANED a STATFS or GETATTR there would
 * wait for the very successor we are about to start (until recovery=
 * runs out and fails it).  mountinfo names the mount on top at the
 * mountpoint and its device, sysfs the session of that device.
 */
bool mq_session_attr(const char *target, const char *attr, char *buf,
		     size_t len)
{
	char dev[32], path[PATH_MAX], val[64];
	struct dirent *de;
	bool found = false;
	DIR *dir;

	if (target[0] && strspn(target, "0123456789") == strlen(target)) {
		snprintf(path, sizeof(path), "/sys/fs/%s/%s/%s", MQFUSE_NAME,
			 target, strcmp(attr, "id") ? attr : "dev");
		if (!mq_sup_read_line(path, buf, len))
			return false;
		if (!strcmp(attr, "id"))
			snprintf(buf, len, "%s", target);
		return true;
	}
	if (!mq_sup_mount_dev(target, dev, sizeof(dev)))
		return false;
	dir = opendir("/sys/fs/" MQFUSE_NAME);
	if (!dir)
		return false;
	while ((de = readdir(dir))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;	/* module-wide attributes */
		snprintf(path, sizeof(path), "/sys/fs/%s/%s/dev", MQFUSE_NAME, de->d_name);
		if (!mq_sup_read_line(path, val, sizeof(val)) || strcmp(val, dev))
			continue;
		/* "id": the directory's name */
		if (!strcmp(attr, "id")) {
			snprintf(buf, len, "%s", de->d_name);
			found = true;
			break;
		}
		snprintf(path, sizeof(path), "/sys/fs/%s/%s/%s", MQFUSE_NAME,
			 de->d_name, attr);
		found = mq_sup_read_line(path, buf, len);
		break;
	}
	closedir(dir);
	return found;
}

/* Can a successor attach to @mountpoint's session?  Any state but aborted. */
bool mq_supervise_attachable(const char *mountpoint)
{
	char state[32];

	return mq_session_attr(mountpoint, "state", state, sizeof(state)) &&
	       strcmp(state, "aborted");
}

/* Daemons attached to @mountpoint's session after a loss so far; 0 if unknown. */
static unsigned long mq_sup_recoveries(const char *mountpoint)
{
	char buf[32];

	return mq_session_attr(mountpoint, "recoveries", buf, sizeof(buf)) ?
	       strtoul(buf, NULL, 10) : 0;
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
 * @opt=MOUNTPOINT first (--attach or --takeover), for the first daemon
 * --status-fd=N if @status_fd >= 0.  Returns NULL on failure.
 */
static char **mq_sup_argv(int argc, char **argv, const char *opt,
			  const char *mountpoint, int status_fd)
{
	char **out = calloc(argc + 4, sizeof(*out));
	int i, n = 0;

	if (!out)
		return NULL;
	out[n++] = mq_sup_self();
	out[n++] = "-f";
	if (opt && asprintf(&out[n++], "%s=%s", opt, mountpoint) < 0)
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
 * the flags), -1 when there is no child left.  The signals we act on are
 * blocked but here, where ppoll() opens them atomically: one arriving
 * between the look at the flags and the sleep is not lost (a SIGUSR2
 * would otherwise wait for the next child to die).
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

/*
 * The child exited 0 and the mount is there still, not aborted: it was
 * stopped for a hot upgrade (SIGQUIT) that was not ours.  Served
 * (running): somebody's mqfused --takeover holds it, ours ends.
 * Orphaned: nobody took over, start a successor.
 */
static bool mq_sup_handed_over(const char *mountpoint, pid_t pid)
{
	char state[32];

	if (!mq_session_attr(mountpoint, "state", state, sizeof(state)) ||
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

/*
 * @status_fd: the first daemon reports there (--status-fd) and keeps our
 * stdio until it is served; we detach ours once it runs. -1: -f, stdio
 * kept by all.
 *
 * Hot upgrade (SIGUSR2): start the binary on disk with --takeover as the
 * *heir*; it attaches while the current daemon serves, asks it to hand
 * over (SIGQUIT: it stops reading, answers what it holds, exits 0
 * without unmounting) and serves on.  The current child's exit is then
 * expected whatever its status (the heir SIGKILLs an old daemon that
 * does not stop in time and takes over through replay), and the heir
 * is supervised from then on.  An heir that dies while the old daemon
 * is still there failed: the old one serves on, or, if it had already
 * stopped, is replaced by a successor as after a crash.
 */
int mq_supervise(int argc, char **argv, const char *mountpoint, int status_fd)
{
	char **first = mq_sup_argv(argc, argv, NULL, NULL, status_fd);
	char **next = mq_sup_argv(argc, argv, "--attach", mountpoint, -1);
	char **upgrade = mq_sup_argv(argc, argv, "--takeover", mountpoint, -1);
	unsigned int delay = MQ_SUP_DELAY_MIN_MS, restarts = 0, burst = 0;
	unsigned long recoveries;
	double started, now, window = 0;
	sigset_t set, waitmask;
	struct sigaction sa;
	pid_t heir = 0, w;
	bool served;
	int wstatus;
	pid_t pid;

	if (!first || !next || !upgrade || !mountpoint) {
		mq_err("--supervise needs SOURCE and MOUNTPOINT");
		return 2;
	}
	/* "mqfused" is the serving process only (as "mqfused-monitor") */
	prctl(PR_SET_NAME, "mqfused-sup", 0, 0, 0);
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
		if (!mq_cfg.syslog)
			mq_log_to_syslog();
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
			close(null);
		}
	}
	for (;;) {
		if (pid < 0) {
			mq_err("supervisor: fork: %s", strerror(errno));
			return 1;
		}
		mq_sup_child = pid;
		started = mq_sup_now();
		/* a successor that attaches adds one (sysfs "recoveries") */
		recoveries = mq_sup_recoveries(mountpoint);
		for (;;) {
			w = mq_sup_wait(&wstatus, &waitmask);
			if (w < 0)
				return 1;
			if (w == 0) {
				mq_sup_upgrade = 0;
				if (heir || mq_sup_stop)
					continue;	/* one at a time */
				heir = mq_sup_spawn(upgrade);
				if (heir < 0) {
					mq_err("supervisor: fork: %s", strerror(errno));
					heir = 0;
					continue;
				}
				mq_sup_heir = heir;
				mq_info("supervisor: hot upgrade: %d takes over from %d",
					(int)heir, (int)pid);
				continue;
			}
			if (w == pid)
				break;
			if (w == heir) {
				heir = 0;
				mq_sup_heir = 0;
				mq_warn("supervisor: hot upgrade failed (takeover %d %s %d): %d serves on",
					(int)w, WIFSIGNALED(wstatus) ?
					"killed by signal" : "exited with",
					WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) :
					WEXITSTATUS(wstatus), (int)pid);
			}
		}
		mq_sup_child = 0;
		if (mq_sup_stop) {
			/* Our SIGTERM: the child unmounted if it mounted. */
			if (heir)
				while (waitpid(heir, NULL, 0) < 0 && errno == EINTR)
					;
			return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 0;
		}
		if (heir) {
			/* expected: the heir serves now (or falls back to replay) */
			mq_info("supervisor: daemon %d handed over to %d",
				(int)pid, (int)heir);
			pid = heir;
			heir = 0;
			mq_sup_heir = 0;
			continue;
		}
		if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0 &&
		    !mq_sup_handed_over(mountpoint, pid))
			return 0;	/* unmounted: the session ended */
		if (!mq_supervise_attachable(mountpoint)) {
			mq_warn("supervisor: daemon gone and %s is no longer a live %s session: done",
				mountpoint, MQFUSE_NAME);
			return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 1;
		}
		now = mq_sup_now();
		if (now - started >= MQ_SUP_STABLE_S)
			delay = MQ_SUP_DELAY_MIN_MS;
		if (now - window >= MQ_SUP_STABLE_S) {
			window = now;
			burst = 0;
		}
		/*
		 * At once: the first loss, one after a stable run, and a daemon
		 * that served (attached) and was then SIGKILLed from outside (OOM
		 * killer, an operator, a test), up to MQ_SUP_BURST times per
		 * window.  A child that died before it attached, or by its own
		 * fault (a crash signal, an error exit: maybe a replayed request
		 * that kills every successor), waits a doubling delay.
		 */
		served = !restarts || mq_sup_recoveries(mountpoint) > recoveries;
		if (restarts && now - started < MQ_SUP_STABLE_S &&
		    !(served && mq_sup_killed(wstatus) && burst < MQ_SUP_BURST)) {
			struct timespec ts = { delay / 1000,
					       (delay % 1000) * 1000000L };

			nanosleep(&ts, NULL);
			delay = delay * 2 > MQ_SUP_DELAY_MAX_MS ?
				MQ_SUP_DELAY_MAX_MS : delay * 2;
		} else {
			burst++;
		}
		restarts++;
		mq_warn("supervisor: daemon %d %s %d: starting a successor (restart %u)",
			(int)pid, WIFSIGNALED(wstatus) ? "killed by signal" :
			"exited with", WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) :
			WEXITSTATUS(wstatus), restarts);
		if (mq_sup_stop)
			return 0;
		pid = mq_sup_spawn(next);
	}
}
