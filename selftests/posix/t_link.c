// SPDX-License-Identifier: GPL-2.0
/* t_link.c - hard links, symbolic links and unlink of open files. */
#include "posix_test.h"

#include <limits.h>

static void symlink_checks(void)
{
	char buf[PATH_MAX], target[300];
	struct stat st;
	int i;

	mkfile("t", 0644, "target");
	tap_succ(symlink("t", "s"), "link: symlink");
	tap_eq(readlink("s", buf, sizeof(buf)), 1, "link: readlink length");
	tap_ok(buf[0] == 't', "link: readlink content");
	tap_ok(lstat("s", &st) == 0 && S_ISLNK(st.st_mode),
	       "link: lstat sees S_IFLNK");
	tap_eq(st.st_size, 1, "link: symlink st_size is the target length");
	tap_ok(stat("s", &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 6,
	       "link: stat follows the symlink");
	tap_ok(file_is("s", "target"), "link: open follows the symlink");
	tap_eq(readlink("s", buf, 0) == -1 ? errno : 0, EINVAL,
	       "link: readlink with size 0 -> EINVAL");
	tap_eq(readlink("s", buf, 0), -1, "link: readlink size 0 fails");
	tap_errno(readlink("t", buf, sizeof(buf)), EINVAL,
		  "link: readlink of a regular file -> EINVAL");
	tap_eq(readlink("s", buf, 1), 1, "link: readlink truncates to bufsize");

	memset(target, 'x', 255);
	target[255] = '\0';
	snprintf(buf, sizeof(buf), "%s/%s/%s", target, target, target);
	tap_succ(symlink(buf, "long"), "link: symlink with a 767-byte target");
	{
		char rb[PATH_MAX];

		tap_eq(readlink("long", rb, sizeof(rb)), strlen(buf),
		       "link: long symlink target length round trip");
		tap_ok(!memcmp(rb, buf, strlen(buf)),
		       "link: long symlink target content round trip");
		tap_eq(size_of("long"), strlen(buf), "link: long symlink st_size");
	}

	tap_succ(symlink("dangling_target", "dang"), "link: dangling symlink");
	tap_errno(stat("dang", &st), ENOENT, "link: stat dangling -> ENOENT");
	tap_succ(lstat("dang", &st), "link: lstat dangling works");
	tap_errno(open("dang", O_RDONLY), ENOENT, "link: open dangling -> ENOENT");

	tap_succ(symlink("loop2", "loop1"), "link: symlink loop part 1");
	tap_succ(symlink("loop1", "loop2"), "link: symlink loop part 2");
	tap_errno(open("loop1", O_RDONLY), ELOOP, "link: open symlink loop -> ELOOP");
	tap_errno(stat("loop1", &st), ELOOP, "link: stat symlink loop -> ELOOP");
	tap_succ(symlink("self", "self"), "link: self-referencing symlink");
	tap_errno(open("self", O_RDONLY), ELOOP, "link: open self-loop -> ELOOP");
	tap_errno(symlink("t", "t"), EEXIST, "link: symlink over a file -> EEXIST");
	tap_errno(symlink("", "empty"), ENOENT,
		  "link: symlink with empty target -> ENOENT");

	/* chain of 8 symlinks resolves */
	for (i = 0; i < 8; i++) {
		char from[16], to[16];

		snprintf(from, sizeof(from), "c%d", i);
		snprintf(to, sizeof(to), i ? "c%d" : "t", i - 1);
		symlink(to, from);
	}
	tap_ok(file_is("c7", "target"), "link: chain of 8 symlinks resolves");
	tap_succ(unlink("s"), "link: unlink a symlink");
	tap_ok(exists("t"), "link: unlinking a symlink keeps the target");
	mkdir("sd", 0755);
	tap_succ(symlink("sd", "sdl"), "link: symlink to a dir");
	tap_errno(rmdir("sdl"), ENOTDIR, "link: rmdir on dir symlink -> ENOTDIR");
	tap_succ(mkfile("sdl/via", 0644, "v"), "link: create through dir symlink");
	tap_ok(exists("sd/via"), "link: file created in the real dir");
}

static void unlink_open_checks(void)
{
	char buf[16] = "";
	struct stat st;
	int fd;

	mkfile("uo", 0644, "still here");
	fd = open("uo", O_RDWR);
	tap_succ(unlink("uo"), "link: unlink an open file");
	tap_ok(!exists("uo"), "link: unlinked name is gone");
	tap_eq(pread(fd, buf, 10, 0), 10, "link: read unlinked open file");
	tap_ok(!memcmp(buf, "still here", 10), "link: unlinked file keeps data");
	tap_eq(pwrite(fd, "more", 4, 10), 4, "link: write unlinked open file");
	tap_succ(fstat(fd, &st), "link: fstat unlinked open file");
	tap_eq(st.st_nlink, 0, "link: unlinked open file has nlink 0");
	tap_eq(st.st_size, 14, "link: unlinked open file size after write");
	tap_succ(ftruncate(fd, 4), "link: ftruncate unlinked open file");
	tap_eq(pread(fd, buf, 16, 0), 4, "link: read after ftruncate");
	tap_succ(fchmod(fd, 0600), "link: fchmod unlinked open file");
	tap_succ(close(fd), "link: close unlinked open file");
	tap_succ(mkfile("uo", 0644, "new"), "link: name reusable after unlink");
	tap_ok(file_is("uo", "new"), "link: new file under the old name");

	/* open dir removed */
	mkdir("od", 0755);
	fd = open("od", O_RDONLY | O_DIRECTORY);
	tap_succ(rmdir("od"), "link: rmdir an open directory");
	tap_succ(fstat(fd, &st), "link: fstat removed open dir");
	tap_eq(st.st_nlink, 0, "link: removed dir has nlink 0");
	tap_errno(openat(fd, "newfile", O_CREAT | O_WRONLY, 0644), ENOENT,
		  "link: create in removed dir -> ENOENT");
	close(fd);
}

void t_link(void)
{
	struct stat st1, st2;

	mkfile("f", 0644, "data");
	tap_eq(nlink_of("f"), 1, "link: new file has nlink 1");
	tap_succ(link("f", "g"), "link: hard link");
	tap_eq(nlink_of("f"), 2, "link: nlink 2 after link");
	tap_ok(lstat("f", &st1) == 0 && lstat("g", &st2) == 0 &&
	       st1.st_ino == st2.st_ino && st1.st_dev == st2.st_dev,
	       "link: both names share the inode");
	tap_ok(file_is("g", "data"), "link: new name reads the same data");
	mkfile("g", 0644, "changed");
	tap_ok(file_is("f", "changed"), "link: write via one name seen by other");
	tap_succ(link("g", "h"), "link: third link");
	tap_eq(nlink_of("f"), 3, "link: nlink 3");
	tap_succ(unlink("f"), "link: unlink one name");
	tap_eq(nlink_of("g"), 2, "link: nlink 2 after unlink");
	tap_ok(file_is("h", "changed"), "link: remaining names keep the data");
	tap_errno(link("g", "h"), EEXIST, "link: onto existing name -> EEXIST");
	tap_errno(link("missing", "x"), ENOENT, "link: missing source -> ENOENT");
	tap_errno(link("g", "nodir/x"), ENOENT, "link: into missing dir -> ENOENT");
	mkdir("dir", 0755);
	tap_errno(link("dir", "dirlink"), EPERM, "link: hard link to dir -> EPERM");
	tap_succ(chmod("g", 0600), "link: chmod via one name");
	tap_eq(mode_of("h"), 0600, "link: mode shared by all names");

	/* link() does not follow a symlink source (Linux default) */
	symlink("g", "sym");
	tap_succ(link("sym", "symlink2"), "link: hard link to a symlink");
	tap_ok(lstat("symlink2", &st1) == 0 && S_ISLNK(st1.st_mode),
	       "link: link() of a symlink links the symlink itself");
	tap_succ(linkat(AT_FDCWD, "sym", AT_FDCWD, "followed", AT_SYMLINK_FOLLOW),
		 "link: linkat AT_SYMLINK_FOLLOW");
	tap_ok(lstat("followed", &st1) == 0 && S_ISREG(st1.st_mode),
	       "link: AT_SYMLINK_FOLLOW links the target");
	tap_eq(nlink_of("g"), 3, "link: target nlink after AT_SYMLINK_FOLLOW");
	tap_errno(unlink("dir"), EISDIR, "link: unlink a directory -> EISDIR");

	symlink_checks();
	unlink_open_checks();
}
