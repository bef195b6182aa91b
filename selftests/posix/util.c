// SPDX-License-Identifier: GPL-2.0
/* util.c - small file helpers and the run-as-another-user harness. */
#include "posix_test.h"

#include <ftw.h>
#include <grp.h>
#include <sys/wait.h>
#include <time.h>

int mkfile(const char *path, mode_t mode, const char *data)
{
	size_t len = data ? strlen(data) : 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd == -1)
		return -1;
	if (len && write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* Create @path with @len bytes of a recognisable pattern. */
int mkfile_len(const char *path, mode_t mode, size_t len)
{
	char buf[4096];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	size_t i;

	if (fd == -1)
		return -1;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = 'a' + i % 26;
	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		if (write(fd, buf, n) != (ssize_t)n) {
			close(fd);
			return -1;
		}
		len -= n;
	}
	return close(fd);
}

int lst(const char *path, struct stat *st)
{
	return lstat(path, st);
}

long mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? -1 : (long)(st.st_mode & 07777);
}

long nlink_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? -1 : (long)st.st_nlink;
}

long long size_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? -1 : (long long)st.st_size;
}

long uid_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? -1 : (long)st.st_uid;
}

long gid_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? -1 : (long)st.st_gid;
}

bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Read a whole (small) file; NUL-terminated, caller frees. */
char *read_all(const char *path, size_t *lenp)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd == -1 || !buf)
		goto fail;
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += n;
		if (len == cap) {
			char *nb = realloc(buf, 2 * cap + 1);

			if (!nb)
				goto fail;
			buf = nb;
			cap *= 2;
		}
	}
	if (n < 0)
		goto fail;
	close(fd);
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
fail:
	if (fd != -1)
		close(fd);
	free(buf);
	return NULL;
}

bool file_is(const char *path, const char *data)
{
	size_t len;
	char *buf = read_all(path, &len);
	bool same = buf && len == strlen(data) && !memcmp(buf, data, len);

	free(buf);
	return same;
}

int set_times(const char *path, time_t atime, time_t mtime)
{
	struct timespec ts[2] = {
		{ .tv_sec = atime }, { .tv_sec = mtime },
	};

	return utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW);
}

int ts_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

/*
 * Let the clock move past the timestamp granularity so a ctime update
 * is observable (coarse kernel clocks tick every 1-10 ms).
 */
/*
 * Move the clock that stamps files on: file times come from the kernel's
 * coarse clock (CLOCK_REALTIME_COARSE), which a starved guest under TCG
 * can leave unchanged across a fixed 20 ms sleep. Wait until it moved
 * (at most ~2 s).
 */
void tick(void)
{
	struct timespec ts = { .tv_nsec = 20 * 1000 * 1000 }, start, now;
	int i;

	clock_gettime(CLOCK_REALTIME_COARSE, &start);
	for (i = 0; i < 100; i++) {
		nanosleep(&ts, NULL);
		clock_gettime(CLOCK_REALTIME_COARSE, &now);
		if (ts_cmp(&now, &start) > 0)
			break;
	}
}

static int rm_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) && errno != ENOENT ? -1 : 0;
	return unlink(path) && errno != ENOENT ? -1 : 0;
}

int rm_rf(const char *path)
{
	return nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

/*
 * Run @fn in a child with the given credentials.  The child's TAP
 * counters travel back over a pipe and are added to ours.  Returns the
 * child's exit status, or -1 if it could not be run (reported as a
 * failed check).
 */
int run_as(uid_t uid, gid_t gid, int ngroups, const gid_t *groups,
	   void (*fn)(void *arg), void *arg)
{
	struct tap_state child;
	int pfd[2], status;
	pid_t pid;

	fflush(stdout);
	if (pipe(pfd)) {
		tap_ok(0, "run_as: pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == -1) {
		tap_ok(0, "run_as: fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		memset(&tap_state.passed, 0, sizeof(unsigned int) * 3);
		if (setgroups(ngroups, groups) || setresgid(gid, gid, gid) ||
		    setresuid(uid, uid, uid)) {
			tap_ok(0, "run_as(%u/%u): %s", uid, gid,
			       strerror(errno));
		} else {
			fn(arg);
		}
		fflush(stdout);
		if (write(pfd[1], &tap_state, sizeof(tap_state)) < 0)
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	memset(&child, 0, sizeof(child));
	if (read(pfd[0], &child, sizeof(child)) != sizeof(child))
		tap_ok(0, "run_as(%u/%u): child died", uid, gid);
	else
		tap_absorb(&child);
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}
