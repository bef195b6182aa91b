// SPDX-License-Identifier: GPL-2.0
/*
 * mqfused --supervise: keep a daemon serving the mount.
 *
 * The supervisor runs mqfused as a child (-f, same arguments), and when
 * that child dies abnormally while the mount is still an mqfuse mount,
 * starts a successor at once with --attach=MOUNTPOINT: the session,
 * mounted with recovery=SECONDS, waits ORPHANED for it and replays what
 * the dead daemon held.  A child that keeps dying soon after its start is
 * restarted with a doubling delay (100 ms up to 5 s, back to 100 ms once
 * a child lived 10 s); the session's own recovery timeout bounds the
 * whole: once it aborted, the mountpoint is no longer mqfuse and the
 * supervisor ends.
 *
 * The supervisor holds no /dev/mqfuse fd, ever: the session orphans only
 * when its last daemon fd closes, so a supervisor holding one would keep
 * a dead daemon's session looking served (requests would wait in its
 * queues with nobody to read them and nothing replayed) instead of
 * letting the kernel requeue them for the successor.  It execs a fresh
 * binary each time, so an upgraded mqfused on disk is picked up by the
 * next restart.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

static volatile sig_atomic_t mq_sup_stop;
static volatile pid_t mq_sup_child;

static void mq_sup_signal(int sig)
{
	mq_sup_stop = sig;
	if (mq_sup_child > 0)
		kill(mq_sup_child, sig);
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
 * Can a successor attach to the session mounted at @mountpoint?  Decided
 * without a single request to the mount: the session is ORPHANED, so a
 * STATFS or GETATTR there would wait for the very successor we are about
 * to start (until recovery= runs out and fails it).  mountinfo names the
 * mount on top at @mountpoint and its device, sysfs the session of that
 * device and its state: any but "aborted" takes a successor.
 */
bool mq_supervise_attachable(const char *mountpoint)
{
	char dev[32], path[PATH_MAX], buf[64];
	struct dirent *de;
	bool live = false;
	DIR *dir;

	if (!mq_sup_mount_dev(mountpoint, dev, sizeof(dev)))
		return false;
	dir = opendir("/sys/fs/" MQFUSE_NAME);
	if (!dir)
		return false;
	while ((de = readdir(dir))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;	/* module-wide attributes */
		snprintf(path, sizeof(path), "/sys/fs/%s/%s/dev", MQFUSE_NAME, de->d_name);
		if (!mq_sup_read_line(path, buf, sizeof(buf)) || strcmp(buf, dev))
			continue;
		snprintf(path, sizeof(path), "/sys/fs/%s/%s/state", MQFUSE_NAME, de->d_name);
		live = mq_sup_read_line(path, buf, sizeof(buf)) && strcmp(buf, "aborted");
		break;
	}
	closedir(dir);
	return live;
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
 * argv of a child: ours without --supervise, with -f, for a successor
 * --attach=MOUNTPOINT first, for the first daemon --status-fd=N if
 * @status_fd >= 0.  Returns NULL on failure.
 */
static char **mq_sup_argv(int argc, char **argv, const char *attach, int status_fd)
{
	char **out = calloc(argc + 4, sizeof(*out));
	int i, n = 0;

	if (!out)
		return NULL;
	out[n++] = mq_sup_self();
	out[n++] = "-f";
	if (attach && asprintf(&out[n++], "--attach=%s", attach) < 0)
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
 * @status_fd: the first daemon reports there (--status-fd) and keeps our
 * stdio until it is served; we detach ours once it runs. -1: -f, stdio
 * kept by all.
 */
int mq_supervise(int argc, char **argv, const char *mountpoint, int status_fd)
{
	char **first = mq_sup_argv(argc, argv, NULL, status_fd);
	char **next = mq_sup_argv(argc, argv, mountpoint, -1);
	unsigned int delay = MQ_SUP_DELAY_MIN_MS, restarts = 0;
	struct sigaction sa;
	double started;
	int wstatus;
	pid_t pid;

	if (!first || !next || !mountpoint) {
		mq_err("--supervise needs SOURCE and MOUNTPOINT");
		return 2;
	}
	/* "mqfused" is the serving process only (as "mqfused-monitor") */
	prctl(PR_SET_NAME, "mqfused-sup", 0, 0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mq_sup_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGCHLD, SIG_DFL);

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
		while (waitpid(pid, &wstatus, 0) < 0) {
			if (errno != EINTR)
				return 1;
		}
		mq_sup_child = 0;
		if (mq_sup_stop) {
			/* Our SIGTERM: the child unmounted if it mounted. */
			return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 0;
		}
		if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
			return 0;	/* unmounted: the session ended */
		if (!mq_supervise_attachable(mountpoint)) {
			mq_warn("supervisor: daemon gone and %s is no longer a live %s session: done",
				mountpoint, MQFUSE_NAME);
			return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 1;
		}
		if (mq_sup_now() - started >= MQ_SUP_STABLE_S) {
			delay = MQ_SUP_DELAY_MIN_MS;
		} else if (restarts) {
			struct timespec ts = { delay / 1000,
					       (delay % 1000) * 1000000L };

			nanosleep(&ts, NULL);
			delay = delay * 2 > MQ_SUP_DELAY_MAX_MS ?
				MQ_SUP_DELAY_MAX_MS : delay * 2;
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
