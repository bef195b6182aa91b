// SPDX-License-Identifier: GPL-2.0
/*
 * t_time.c - atime/mtime/ctime updates and utimensat(2).
 *
 * Before each update the times are set to an old value (or the clock
 * is let tick for ctime), so "changed" is observable with any
 * timestamp granularity.
 */
#include "posix_test.h"

#include <sys/statvfs.h>
#include <time.h>

#define OLD	1000000000	/* 2001-09-09 */

struct times {
	struct timespec a, m, c;
};

static struct times times_of(const char *path)
{
	struct times t;

	memset(&t, 0, sizeof(t));
	struct stat st;

	if (!lstat(path, &st)) {
		t.a = st.st_atim;
		t.m = st.st_mtim;
		t.c = st.st_ctim;
	}
	return t;
}

/* Age the times of @path and move the clock on for ctime. */
static struct times age(const char *path)
{
	set_times(path, OLD, OLD);
	tick();
	return times_of(path);
}

/* Compare the 'm' or 'c' time of @path with @old: want > 0 or == 0. */
static void time_check(const char *path, const struct times *old, char which,
		       bool changed, const char *what)
{
	struct times now = times_of(path);
	const struct timespec *a = which == 'm' ? &now.m : &now.c;
	const struct timespec *b = which == 'm' ? &old->m : &old->c;
	int cmp = ts_cmp(a, b);

	if (!tap_ok(changed ? cmp > 0 : cmp == 0, "time: %s %s %ctime of %s",
		    what, changed ? "updates" : "keeps", which, path))
		tap_diag("  old %lld.%09ld new %lld.%09ld", (long long)b->tv_sec,
			 b->tv_nsec, (long long)a->tv_sec, a->tv_nsec);
}

#define mtime_changed(path, old, what)	time_check(path, &(old), 'm', true, what)
#define ctime_changed(path, old, what)	time_check(path, &(old), 'c', true, what)
#define mtime_same(path, old, what)	time_check(path, &(old), 'm', false, what)
#define ctime_same(path, old, what)	time_check(path, &(old), 'c', false, what)

static void atime_checks(void)
{
	struct statvfs sv;
	struct times t;
	char buf[8];
	int fd;

	/*
	 * -x atime: a FUSE mount serves re-reads from the page cache
	 * without asking the daemon, so the backing atime never moves.
	 */
	if (posix_excluded("atime")) {
		tap_skip("time: read updates an old atime", "excluded with -x atime");
		return;
	}
	if (statvfs(".", &sv) == 0 && (sv.f_flag & ST_NOATIME)) {
		posix_skip("atime", "time: read updates an old atime", "noatime mount");
		return;
	}
	mkfile("at", 0644, "data");
	t = age("at");
	fd = open("at", O_RDONLY);
	tap_eq(read(fd, buf, sizeof(buf)), 4, "time: read for atime");
	close(fd);
	{
		struct times n = times_of("at");

		tap_ok(ts_cmp(&n.a, &t.a) > 0,
		       "time: read updates an old atime (relatime)");
	}
	mtime_same("at", t, "read");
	ctime_same("at", t, "read");
}

static void utimens_checks(void)
{
	struct timespec ts[2];
	struct times t;
	time_t now = time(NULL);
	int fd;

	mkfile("u", 0644, NULL);
	ts[0].tv_sec = 1234567890;
	ts[0].tv_nsec = 123456789;
	ts[1].tv_sec = 987654321;
	ts[1].tv_nsec = 987654321;
	tap_succ(utimensat(AT_FDCWD, "u", ts, 0), "time: utimensat explicit");
	t = times_of("u");
	tap_eq(t.a.tv_sec, 1234567890, "time: explicit atime seconds");
	tap_eq(t.m.tv_sec, 987654321, "time: explicit mtime seconds");
	tap_eq(t.a.tv_nsec, 123456789, "time: atime nanoseconds round trip");
	tap_eq(t.m.tv_nsec, 987654321, "time: mtime nanoseconds round trip");
	tap_ok(t.c.tv_sec >= now - 5, "time: utimensat sets ctime to now");

	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = 1111111111;
	ts[1].tv_nsec = 0;
	tap_succ(utimensat(AT_FDCWD, "u", ts, 0), "time: utimensat UTIME_OMIT atime");
	t = times_of("u");
	tap_eq(t.a.tv_sec, 1234567890, "time: UTIME_OMIT keeps atime");
	tap_eq(t.m.tv_sec, 1111111111, "time: mtime set beside UTIME_OMIT");
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_nsec = UTIME_OMIT;
	tap_succ(utimensat(AT_FDCWD, "u", ts, 0), "time: utimensat UTIME_NOW atime");
	t = times_of("u");
	tap_ok(t.a.tv_sec >= now - 5 && t.a.tv_sec <= time(NULL) + 5,
	       "time: UTIME_NOW sets atime to now");
	tap_eq(t.m.tv_sec, 1111111111, "time: UTIME_OMIT keeps mtime");
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_nsec = UTIME_OMIT;
	t = times_of("u");
	tick();
	tap_succ(utimensat(AT_FDCWD, "u", ts, 0), "time: utimensat both UTIME_OMIT");
	ctime_same("u", t, "utimensat(UTIME_OMIT, UTIME_OMIT)");
	set_times("u", OLD, OLD);
	tap_succ(utimensat(AT_FDCWD, "u", NULL, 0), "time: utimensat NULL");
	t = times_of("u");
	tap_ok(t.a.tv_sec >= now - 5 && t.m.tv_sec >= now - 5,
	       "time: utimensat NULL sets both to now");
	fd = open("u", O_RDONLY);
	ts[0].tv_sec = ts[1].tv_sec = 2000000000;
	ts[0].tv_nsec = ts[1].tv_nsec = 5;
	tap_succ(futimens(fd, ts), "time: futimens");
	close(fd);
	t = times_of("u");
	tap_ok(t.a.tv_sec == 2000000000 && t.m.tv_sec == 2000000000,
	       "time: futimens sets both times");
	symlink("u", "ul");
	ts[0].tv_sec = ts[1].tv_sec = 1500000000;
	tap_succ(utimensat(AT_FDCWD, "ul", ts, AT_SYMLINK_NOFOLLOW),
		 "time: utimensat AT_SYMLINK_NOFOLLOW");
	tap_eq(times_of("ul").m.tv_sec, 1500000000,
	       "time: AT_SYMLINK_NOFOLLOW sets the link's mtime");
	tap_eq(times_of("u").m.tv_sec, 2000000000,
	       "time: AT_SYMLINK_NOFOLLOW leaves the target alone");
	tap_succ(utimensat(AT_FDCWD, "ul", ts, 0), "time: utimensat through link");
	tap_eq(times_of("u").m.tv_sec, 1500000000,
	       "time: utimensat follows the symlink");
	tap_errno(utimensat(AT_FDCWD, "missing", NULL, 0), ENOENT,
		  "time: utimensat missing file -> ENOENT");
}

static void utime_perm_as_user(void *arg)
{
	struct timespec ts[2] = { { .tv_sec = OLD }, { .tv_sec = OLD } };

	(void)arg;
	/* "rw" is root's 0666, "ro" root's 0644 */
	tap_succ(utimensat(AT_FDCWD, "rw", NULL, 0),
		 "time: non-owner with write access may set times to now");
	tap_errno(utimensat(AT_FDCWD, "rw", ts, 0), EPERM,
		  "time: non-owner may not set explicit times -> EPERM");
	tap_errno(utimensat(AT_FDCWD, "ro", NULL, 0), EACCES,
		  "time: non-owner without write access -> EACCES");
}

void t_time(void)
{
	struct times t, d;
	time_t now = time(NULL);
	int fd;

	/* creation */
	mkdir("d", 0755);
	d = age("d");
	mkfile("d/f", 0644, NULL);
	t = times_of("d/f");
	tap_ok(t.m.tv_sec >= now - 5 && t.c.tv_sec >= now - 5,
	       "time: new file has current mtime and ctime");
	tap_eq(ts_cmp(&t.m, &t.c), 0, "time: new file has mtime == ctime");
	mtime_changed("d", d, "create");
	ctime_changed("d", d, "create");

	/* write */
	t = age("d/f");
	fd = open("d/f", O_WRONLY);
	tap_eq(write(fd, "abc", 3), 3, "time: write 3 bytes");
	close(fd);
	mtime_changed("d/f", t, "write");
	ctime_changed("d/f", t, "write");
	tap_eq(times_of("d/f").a.tv_sec, OLD, "time: write keeps atime");

	/* truncate, ftruncate, O_TRUNC */
	t = age("d/f");
	tap_succ(truncate("d/f", 100), "time: truncate grow");
	mtime_changed("d/f", t, "truncate");
	ctime_changed("d/f", t, "truncate");
	t = age("d/f");
	fd = open("d/f", O_WRONLY);
	tap_succ(ftruncate(fd, 10), "time: ftruncate shrink");
	close(fd);
	mtime_changed("d/f", t, "ftruncate");
	ctime_changed("d/f", t, "ftruncate");
	t = age("d/f");
	fd = open("d/f", O_WRONLY | O_TRUNC);
	close(fd);
	mtime_changed("d/f", t, "O_TRUNC");
	ctime_changed("d/f", t, "O_TRUNC");

	/* metadata changes touch only ctime */
	t = age("d/f");
	tap_succ(chmod("d/f", 0600), "time: chmod");
	ctime_changed("d/f", t, "chmod");
	mtime_same("d/f", t, "chmod");
	t = age("d/f");
	tap_succ(chown("d/f", UID_USER, GID_USER), "time: chown");
	ctime_changed("d/f", t, "chown");
	mtime_same("d/f", t, "chown");

	/* link, rename, unlink: the file's ctime, the dirs' mtime+ctime */
	mkdir("e", 0755);
	t = age("d/f");
	d = age("d");
	tap_succ(link("d/f", "d/f2"), "time: link");
	ctime_changed("d/f", t, "link");
	mtime_same("d/f", t, "link");
	mtime_changed("d", d, "link");
	t = age("d/f");
	d = age("d");
	{
		struct times e = age("e");

		tap_succ(rename("d/f2", "e/f2"), "time: rename across dirs");
		mtime_changed("d", d, "rename out");
		ctime_changed("d", d, "rename out");
		mtime_changed("e", e, "rename in");
		ctime_changed("e", e, "rename in");
		ctime_changed("d/f", t, "rename");
	}
	t = age("d/f");
	d = age("e");
	tap_succ(unlink("e/f2"), "time: unlink");
	ctime_changed("d/f", t, "unlink of another link");
	mtime_changed("e", d, "unlink");
	ctime_changed("e", d, "unlink");
	d = age("e");
	tap_succ(mkdir("e/sub", 0755), "time: mkdir");
	mtime_changed("e", d, "mkdir");
	d = age("e");
	tap_succ(rmdir("e/sub"), "time: rmdir");
	mtime_changed("e", d, "rmdir");
	ctime_changed("e", d, "rmdir");
	d = age("e");
	tap_succ(symlink("x", "e/sl"), "time: symlink");
	mtime_changed("e", d, "symlink");
	d = age("e");
	tap_succ(mknod("e/fifo", S_IFIFO | 0600, 0), "time: mknod fifo");
	mtime_changed("e", d, "mknod");

	/* reads and stats change nothing but atime */
	mkfile("r", 0644, "content");
	t = age("r");
	{
		char buf[16];

		fd = open("r", O_RDONLY);
		tap_eq(read(fd, buf, sizeof(buf)), 7, "time: read");
		close(fd);
	}
	mtime_same("r", t, "read");
	ctime_same("r", t, "read");

	atime_checks();
	utimens_checks();
	mkfile("rw", 0666, NULL);
	chmod("rw", 0666);
	mkfile("ro", 0644, NULL);
	run_as(UID_USER, GID_USER, 0, NULL, utime_perm_as_user, NULL);
}
