// SPDX-License-Identifier: GPL-2.0
/* t_lock.c - POSIX record locks and flock(2) between processes. */
#include "posix_test.h"

#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>

static int setlk(int fd, short type, off_t start, off_t len)
{
	struct flock fl = {
		.l_type = type, .l_whence = SEEK_SET,
		.l_start = start, .l_len = len,
	};

	return fcntl(fd, F_SETLK, &fl);
}

/*
 * Fork a child that takes a lock on "lk" and waits for a byte on a pipe
 * before exiting; returns its pid, or -1.
 */
static pid_t lock_holder(int kind, short type, off_t start, off_t len,
			 int *release_fd)
{
	int ready[2], release[2];
	pid_t pid;
	char c;

	if (pipe(ready) || pipe(release))
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int fd, ret;

		close(ready[0]);
		close(release[1]);
		fd = open("lk", O_RDWR);
		ret = kind == 'f' ? flock(fd, type) :
					setlk(fd, type, start, len);

		c = ret ? 'n' : 'y';
		if (write(ready[1], &c, 1) != 1 || read(release[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(release[0]);
	if (read(ready[0], &c, 1) != 1 || c != 'y') {
		close(ready[0]);
		close(release[1]);
		return -1;
	}
	close(ready[0]);
	*release_fd = release[1];
	return pid;
}

static void release_holder(pid_t pid, int release_fd)
{
	close(release_fd);
	waitpid(pid, NULL, 0);
}

static void posix_lock_checks(void)
{
	struct flock fl;
	int fd, rel;
	pid_t pid;

	mkfile_len("lk", 0644, 1000);
	pid = lock_holder('p', F_WRLCK, 0, 100, &rel);
	if (!tap_ok(pid > 0, "lock: child takes F_WRLCK on bytes 0-99"))
		return;
	fd = open("lk", O_RDWR);
	tap_errno(setlk(fd, F_WRLCK, 50, 10), EAGAIN,
		  "lock: conflicting F_WRLCK -> EAGAIN");
	tap_errno(setlk(fd, F_RDLCK, 0, 1), EAGAIN,
		  "lock: F_RDLCK over a write lock -> EAGAIN");
	tap_succ(setlk(fd, F_WRLCK, 100, 10), "lock: adjacent range is free");
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 10;
	fl.l_len = 5;
	tap_succ(fcntl(fd, F_GETLK, &fl), "lock: F_GETLK");
	tap_eq(fl.l_type, F_WRLCK, "lock: F_GETLK reports the conflicting type");
	tap_eq(fl.l_pid, pid, "lock: F_GETLK reports the owner pid");
	tap_ok(fl.l_start == 0 && fl.l_len == 100,
	       "lock: F_GETLK reports the conflicting range");
	fl.l_type = F_WRLCK;
	fl.l_start = 500;
	fl.l_len = 10;
	tap_ok(fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type == F_UNLCK,
	       "lock: F_GETLK on a free range reports F_UNLCK");
	release_holder(pid, rel);
	tap_succ(setlk(fd, F_WRLCK, 0, 100),
		 "lock: range free after the holder exits");
	close(fd);

	/* shared locks coexist; closing any fd drops the process's locks */
	pid = lock_holder('p', F_RDLCK, 0, 0, &rel);
	tap_ok(pid > 0, "lock: child takes F_RDLCK on the whole file");
	fd = open("lk", O_RDONLY);
	tap_succ(setlk(fd, F_RDLCK, 0, 0), "lock: second F_RDLCK coexists");
	close(fd);
	fd = open("lk", O_RDWR);
	tap_errno(setlk(fd, F_WRLCK, 0, 0), EAGAIN,
		  "lock: F_WRLCK against a read lock -> EAGAIN");
	close(fd);
	if (pid > 0)
		release_holder(pid, rel);

	/* unlock on close: hold, close another fd of the file, retry */
	fd = open("lk", O_RDWR);
	setlk(fd, F_WRLCK, 0, 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int cfd = open("lk", O_RDWR);

		_exit(setlk(cfd, F_WRLCK, 0, 0) == -1 ? 0 : 1);
	}
	{
		int st, other = open("lk", O_RDONLY);

		waitpid(pid, &st, 0);
		tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		       "lock: whole-file F_WRLCK blocks another process");
		close(other);	/* drops all of our locks on the file */
	}
	pid = fork();
	if (pid == 0) {
		int cfd = open("lk", O_RDWR);

		_exit(setlk(cfd, F_WRLCK, 0, 0) == 0 ? 0 : 1);
	}
	{
		int st;

		waitpid(pid, &st, 0);
		tap_ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		       "lock: closing any fd of the file releases the locks");
	}
	close(fd);
}

/*
 * -x flock_close: the flock of a closed file is freed by an asynchronous
 * RELEASE; take it on @fd waiting up to 5 s, and SKIP @name.  Otherwise
 * it must be free at once.
 */
static void flock_after_close(int fd, const char *name)
{
	int i;

	if (!posix_excluded("flock_close")) {
		tap_succ(flock(fd, LOCK_EX | LOCK_NB), "%s", name);
		return;
	}
	for (i = 0; i < 500 && flock(fd, LOCK_EX | LOCK_NB); i++)
		usleep(10000);
	tap_skip(name, "excluded (-x flock_close): %s", i < 500 ?
		 "free after the asynchronous RELEASE" : "still taken after 5 s");
}

static void flock_checks(void)
{
	int fd, fd2, rel;
	pid_t pid;

	pid = lock_holder('f', LOCK_EX, 0, 0, &rel);
	if (!tap_ok(pid > 0, "lock: child takes flock LOCK_EX"))
		return;
	fd = open("lk", O_RDONLY);
	tap_errno(flock(fd, LOCK_EX | LOCK_NB), EWOULDBLOCK,
		  "lock: flock LOCK_EX|LOCK_NB conflict -> EWOULDBLOCK");
	tap_errno(flock(fd, LOCK_SH | LOCK_NB), EWOULDBLOCK,
		  "lock: flock LOCK_SH|LOCK_NB conflict -> EWOULDBLOCK");
	release_holder(pid, rel);
	flock_after_close(fd, "lock: flock free after exit");
	fd2 = open("lk", O_RDONLY);
	tap_errno(flock(fd2, LOCK_EX | LOCK_NB), EWOULDBLOCK,
		  "lock: flock conflicts between two opens of one process");
	tap_succ(flock(fd, LOCK_UN), "lock: flock LOCK_UN");
	tap_succ(flock(fd2, LOCK_SH | LOCK_NB), "lock: flock LOCK_SH after unlock");
	tap_succ(flock(fd, LOCK_SH | LOCK_NB), "lock: two LOCK_SH coexist");
	close(fd);
	close(fd2);
	fd = open("lk", O_RDONLY);
	flock_after_close(fd, "lock: flock released on close");
	close(fd);
}

void t_lock(void)
{
	posix_lock_checks();
	flock_checks();
}
