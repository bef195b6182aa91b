// SPDX-License-Identifier: GPL-2.0
/* t_dir.c - mkdir/rmdir, readdir contents, seekdir/telldir, mknod. */
#include "posix_test.h"

#include <dirent.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Count entries of @path other than . and ..; -1 on error. */
static int count_entries(const char *path, bool *dups_or_dots_bad)
{
	DIR *dp = opendir(path);
	struct dirent *de;
	int n = 0, dots = 0;

	if (!dp)
		return -1;
	while ((de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			dots++;
		else
			n++;
	}
	closedir(dp);
	if (dups_or_dots_bad)
		*dups_or_dots_bad = dots != 2;
	return n;
}

static void big_dir_checks(void)
{
	static unsigned char seen[1000];
	struct dirent *de;
	int i, bad = 0, extra = 0, dups = 0;
	DIR *dp;

	mkdir("big", 0755);
	for (i = 0; i < 1000; i++) {
		char name[64];

		snprintf(name, sizeof(name), "big/entry-%04d-with-a-longer-name", i);
		if (mkfile(name, 0644, NULL))
			bad++;
	}
	tap_eq(bad, 0, "dir: create 1000 entries");
	dp = opendir("big");
	while (dp && (de = readdir(dp))) {
		int idx;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (sscanf(de->d_name, "entry-%04d", &idx) != 1 || idx < 0 ||
		    idx >= 1000) {
			extra++;
			continue;
		}
		if (seen[idx]++)
			dups++;
	}
	if (dp)
		closedir(dp);
	for (i = 0, bad = 0; i < 1000; i++)
		bad += !seen[i];
	tap_eq(bad, 0, "dir: readdir of 1000 entries lists all of them");
	tap_eq(dups, 0, "dir: readdir of 1000 entries has no duplicates");
	tap_eq(extra, 0, "dir: readdir of 1000 entries has no strangers");

	/* remove every other entry while the stream is open */
	for (i = 0; i < 1000; i += 2) {
		char name[64];

		snprintf(name, sizeof(name), "big/entry-%04d-with-a-longer-name", i);
		unlink(name);
	}
	tap_eq(count_entries("big", NULL), 500,
	       "dir: 500 entries listed after removing half");
	for (i = 1; i < 1000; i += 2) {
		char name[64];

		snprintf(name, sizeof(name), "big/entry-%04d-with-a-longer-name", i);
		unlink(name);
	}
	tap_eq(count_entries("big", NULL), 0, "dir: empty after removing all");
	tap_succ(rmdir("big"), "dir: rmdir emptied big dir");
}

static void seekdir_checks(void)
{
	char names[40][NAME_MAX + 1];
	long pos[40];
	struct dirent *de;
	int i, n = 0, ok = 1;
	DIR *dp;

	mkdir("sk", 0755);
	for (i = 0; i < 40; i++) {
		char p[64];

		snprintf(p, sizeof(p), "sk/f%02d", i);
		mkfile(p, 0644, NULL);
	}
	dp = opendir("sk");
	if (!tap_ok(dp != NULL, "dir: opendir for seekdir"))
		return;
	for (;;) {
		long here = telldir(dp);

		de = readdir(dp);
		if (!de || n == 40)
			break;
		pos[n] = here;
		snprintf(names[n], sizeof(names[n]), "%s", de->d_name);
		n++;
	}
	tap_eq(n, 40, "dir: read 40 of 42 entries with telldir");
	for (i = n - 1; i >= 0; i -= 3) {
		seekdir(dp, pos[i]);
		de = readdir(dp);
		if (!de || strcmp(de->d_name, names[i]))
			ok = 0;
	}
	tap_ok(ok, "dir: seekdir to saved telldir positions returns "
	       "the same entries");
	rewinddir(dp);
	de = readdir(dp);
	tap_ok(de && !strcmp(de->d_name, names[0]),
	       "dir: rewinddir restarts the listing");
	closedir(dp);
}

static void mknod_checks(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int sfd;

	if (posix_excluded("fifo")) {
		tap_skip("dir: mkfifo", "excluded with -x fifo");
	} else {
		tap_succ(mkfifo("fifo", 0640), "dir: mkfifo");
		tap_ok(lstat("fifo", &st) == 0 && S_ISFIFO(st.st_mode),
		       "dir: fifo is S_IFIFO");
		tap_eq(st.st_mode & 07777, 0640, "dir: fifo mode");
		{
			int fd = open("fifo", O_RDWR);
			char c = 0;

			tap_ok(fd >= 0 && write(fd, "p", 1) == 1 &&
			       read(fd, &c, 1) == 1 && c == 'p',
			       "dir: data flows through the fifo");
			if (fd >= 0)
				close(fd);
		}
		tap_errno(mkfifo("fifo", 0640), EEXIST, "dir: mkfifo existing -> EEXIST");
	}
	if (posix_excluded("socket")) {
		tap_skip("dir: mknod socket", "excluded with -x socket");
	} else {
		tap_succ(mknod("sock", S_IFSOCK | 0600, 0), "dir: mknod S_IFSOCK");
		tap_ok(lstat("sock", &st) == 0 && S_ISSOCK(st.st_mode),
		       "dir: socket node is S_IFSOCK");
		sfd = socket(AF_UNIX, SOCK_STREAM, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "bound");
		tap_succ(bind(sfd, (struct sockaddr *)&sa, sizeof(sa)),
			 "dir: bind a unix socket");
		tap_ok(lstat("bound", &st) == 0 && S_ISSOCK(st.st_mode),
		       "dir: bound socket appears as S_IFSOCK");
		close(sfd);
	}
	tap_succ(mknod("regnode", S_IFREG | 0600, 0), "dir: mknod S_IFREG");
	tap_ok(lstat("regnode", &st) == 0 && S_ISREG(st.st_mode) &&
	       st.st_size == 0, "dir: mknod S_IFREG gives an empty file");
}

void t_dir(void)
{
	struct stat st;
	bool bad;

	tap_succ(mkdir("d", 0755), "dir: mkdir");
	tap_ok(lstat("d", &st) == 0 && S_ISDIR(st.st_mode), "dir: is S_IFDIR");
	tap_eq(st.st_nlink, 2, "dir: new dir has nlink 2");
	tap_errno(mkdir("d", 0755), EEXIST, "dir: mkdir existing -> EEXIST");
	tap_errno(mkdir("d/a/b", 0755), ENOENT, "dir: mkdir missing parent -> ENOENT");
	mkfile("file", 0644, NULL);
	tap_errno(mkdir("file", 0755), EEXIST, "dir: mkdir over file -> EEXIST");
	tap_errno(mkdir("file/x", 0755), ENOTDIR, "dir: mkdir under file -> ENOTDIR");
	tap_succ(mkdir("d/s1", 0755), "dir: mkdir subdir 1");
	tap_succ(mkdir("d/s2", 0755), "dir: mkdir subdir 2");
	tap_eq(nlink_of("d"), 4, "dir: parent nlink 4 with two subdirs");
	mkfile("d/f", 0644, NULL);
	tap_eq(nlink_of("d"), 4, "dir: a file does not change parent nlink");
	tap_eq(count_entries("d", &bad), 3, "dir: readdir lists 3 entries");
	tap_ok(!bad, "dir: readdir lists . and .. once each");
	tap_errno(rmdir("d"), ENOTEMPTY, "dir: rmdir non-empty -> ENOTEMPTY");
	tap_errno(rmdir("d/s1/."), EINVAL, "dir: rmdir \".\" -> EINVAL");
	{
		int ret = rmdir("d/s1/..");

		tap_ok(ret == -1 && (errno == ENOTEMPTY || errno == EEXIST),
		       "dir: rmdir \"..\" -> ENOTEMPTY");
	}
	tap_errno(rmdir("d/f"), ENOTDIR, "dir: rmdir a file -> ENOTDIR");
	tap_errno(rmdir("d/missing"), ENOENT, "dir: rmdir missing -> ENOENT");
	tap_succ(rmdir("d/s1"), "dir: rmdir empty subdir");
	tap_eq(nlink_of("d"), 3, "dir: parent nlink 3 after rmdir");
	tap_eq(count_entries("d", NULL), 2, "dir: readdir after rmdir lists 2");
	unlink("d/f");
	tap_eq(count_entries("d", NULL), 1, "dir: readdir after unlink lists 1");
	tap_ok(stat("d/s2/..", &st) == 0 && st.st_ino == (ino_t)(lstat("d", &st), st.st_ino),
	       "dir: .. of a subdir is its parent");
	tap_ok(stat("d/.", &st) == 0 && S_ISDIR(st.st_mode),
	       "dir: . resolves to the directory");
	{
		struct stat a, b;

		tap_ok(stat(".", &a) == 0 && stat("d/..", &b) == 0 &&
		       a.st_ino == b.st_ino, "dir: d/.. is the cwd");
	}
	{
		int fd = open("d", O_RDONLY | O_DIRECTORY);
		char c;

		tap_errno(read(fd, &c, 1), EISDIR, "dir: read() on a dir -> EISDIR");
		close(fd);
	}
	tap_succ(mkdir("d/m", 0700), "dir: mkdir mode 0700");
	tap_eq(mode_of("d/m"), 0700, "dir: mkdir mode honoured");
	tap_succ(rmdir("d/m"), "dir: rmdir");
	tap_succ(rmdir("d/s2"), "dir: rmdir second subdir");
	tap_succ(rmdir("d"), "dir: rmdir now-empty dir");
	tap_ok(!exists("d"), "dir: removed dir is gone");

	seekdir_checks();
	big_dir_checks();
	mknod_checks();
}
