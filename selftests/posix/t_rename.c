// SPDX-License-Identifier: GPL-2.0
/* t_rename.c - rename(2) and renameat2(2) semantics. */
#include "posix_test.h"

#include <linux/fs.h>
#include <stdio.h>

static bool ino_is(const char *path, ino_t ino)
{
	struct stat st;

	return lstat(path, &st) == 0 && st.st_ino == ino;
}

static ino_t ino_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) ? 0 : st.st_ino;
}

static void flag_checks(void)
{
	ino_t fi, di;
	int ret;

	mkfile("n1", 0644, "one");
	mkfile("n2", 0644, "two");
	ret = renameat2(AT_FDCWD, "n1", AT_FDCWD, "n2", RENAME_NOREPLACE);
	if (ret == -1 && errno == EINVAL) {
		posix_skip("rename_flags", "rename: RENAME_NOREPLACE/EXCHANGE",
			   "renameat2 flags not supported");
		return;
	}
	tap_errno(ret, EEXIST, "rename: RENAME_NOREPLACE onto existing -> EEXIST");
	tap_ok(file_is("n1", "one") && file_is("n2", "two"),
	       "rename: failed RENAME_NOREPLACE changes nothing");
	tap_succ(renameat2(AT_FDCWD, "n1", AT_FDCWD, "n3", RENAME_NOREPLACE),
		 "rename: RENAME_NOREPLACE to a free name");
	tap_ok(!exists("n1") && file_is("n3", "one"),
	       "rename: RENAME_NOREPLACE moved the file");

	mkdir("xd", 0755);
	mkfile("xd/inside", 0644, NULL);
	fi = ino_of("n2");
	di = ino_of("xd");
	tap_succ(renameat2(AT_FDCWD, "n2", AT_FDCWD, "xd", RENAME_EXCHANGE),
		 "rename: RENAME_EXCHANGE file and dir");
	tap_ok(ino_is("xd", fi) && file_is("xd", "two"),
	       "rename: exchanged file now under the dir's name");
	tap_ok(ino_is("n2", di) && exists("n2/inside"),
	       "rename: exchanged dir now under the file's name");
	tap_errno(renameat2(AT_FDCWD, "n2", AT_FDCWD, "nothere", RENAME_EXCHANGE),
		  ENOENT, "rename: RENAME_EXCHANGE with missing target -> ENOENT");
	tap_errno(renameat2(AT_FDCWD, "n2", AT_FDCWD, "n3",
			    RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL,
		  "rename: RENAME_EXCHANGE|RENAME_NOREPLACE -> EINVAL");
	tap_succ(renameat2(AT_FDCWD, "n3", AT_FDCWD, "xd", RENAME_EXCHANGE),
		 "rename: RENAME_EXCHANGE two files");
	tap_ok(file_is("n3", "two") && file_is("xd", "one"),
	       "rename: RENAME_EXCHANGE swapped contents");
}

void t_rename(void)
{
	struct stat st;
	ino_t ino;

	/* file over file */
	mkfile("a", 0644, "A");
	mkfile("b", 0644, "B");
	ino = ino_of("a");
	tap_succ(rename("a", "b"), "rename: file over file");
	tap_ok(!exists("a"), "rename: source name is gone");
	tap_ok(ino_is("b", ino) && file_is("b", "A"),
	       "rename: target is the source inode");
	tap_succ(rename("b", "b"), "rename: onto itself is a no-op");
	tap_ok(file_is("b", "A"), "rename: self rename keeps the file");

	/* hard links to the same inode: no-op, both names stay */
	tap_succ(link("b", "b2"), "rename: make hardlink");
	tap_succ(rename("b", "b2"), "rename: between links of one inode");
	tap_ok(exists("b") && exists("b2"),
	       "rename: same-inode rename leaves both names");
	tap_eq(nlink_of("b"), 2, "rename: same-inode rename keeps nlink 2");
	unlink("b2");

	/* directories */
	mkdir("d1", 0755);
	mkdir("d2", 0755);
	mkdir("full", 0755);
	mkfile("full/x", 0644, NULL);
	ino = ino_of("d1");
	tap_succ(rename("d1", "d2"), "rename: dir over empty dir");
	tap_ok(ino_is("d2", ino) && !exists("d1"),
	       "rename: dir replaced the empty dir");
	{
		int ret = rename("d2", "full");

		tap_ok(ret == -1 && (errno == ENOTEMPTY || errno == EEXIST),
		       "rename: dir over non-empty dir -> ENOTEMPTY/EEXIST");
	}
	tap_ok(exists("full/x"), "rename: non-empty target dir untouched");
	tap_errno(rename("b", "d2"), EISDIR, "rename: file over dir -> EISDIR");
	tap_errno(rename("d2", "b"), ENOTDIR, "rename: dir over file -> ENOTDIR");
	mkdir("d2/sub", 0755);
	tap_errno(rename("d2", "d2/sub/inner"), EINVAL,
		  "rename: dir into its own subdir -> EINVAL");
	tap_errno(rename("d2", "d2/inner"), EINVAL,
		  "rename: dir into itself -> EINVAL");
	tap_errno(rename("nothere", "x"), ENOENT,
		  "rename: missing source -> ENOENT");
	tap_errno(rename("b", "nodir/x"), ENOENT,
		  "rename: into missing dir -> ENOENT");
	tap_errno(rename("b", "b/x"), ENOTDIR,
		  "rename: under a file -> ENOTDIR");
	{
		int ret = rename("d2/.", "d3");

		tap_ok(ret == -1 && (errno == EBUSY || errno == EINVAL),
		       "rename: \".\" as source -> EBUSY/EINVAL");
	}

	/* across directories: nlink of the parents follows the subdir */
	mkdir("p1", 0755);
	mkdir("p2", 0755);
	mkdir("p1/child", 0755);
	mkfile("p1/file", 0644, "moved");
	tap_eq(nlink_of("p1"), 3, "rename: parent with one subdir has nlink 3");
	tap_succ(rename("p1/child", "p2/child"), "rename: dir across parents");
	tap_eq(nlink_of("p1"), 2, "rename: old parent nlink drops to 2");
	tap_eq(nlink_of("p2"), 3, "rename: new parent nlink grows to 3");
	tap_ok(stat("p2/child/..", &st) == 0 && st.st_ino == ino_of("p2"),
	       "rename: moved dir's .. is the new parent");
	tap_succ(rename("p1/file", "p2/file"), "rename: file across parents");
	tap_ok(file_is("p2/file", "moved") && !exists("p1/file"),
	       "rename: file moved with its data");
	tap_eq(nlink_of("p2"), 3, "rename: moving a file keeps parent nlink");
	mkdir("p1/victim", 0755);
	tap_eq(nlink_of("p1"), 3, "rename: nlink with victim dir");
	tap_succ(rename("p2/child", "p1/victim"),
		 "rename: dir over empty dir across parents");
	tap_eq(nlink_of("p1"), 3, "rename: target parent nlink unchanged");
	tap_eq(nlink_of("p2"), 2, "rename: source parent nlink decremented");

	/* symlinks are renamed, not followed */
	symlink("p2/file", "sl");
	tap_succ(rename("sl", "sl2"), "rename: symlink");
	{
		char buf[64];
		ssize_t n = readlink("sl2", buf, sizeof(buf));

		tap_ok(n == 7 && !memcmp(buf, "p2/file", 7),
		       "rename: renamed symlink keeps its target");
	}
	tap_ok(file_is("p2/file", "moved"), "rename: symlink target untouched");

	/* open file descriptors survive rename */
	{
		int fd = open("p2/file", O_RDWR);
		char buf[8] = "";

		tap_succ(rename("p2/file", "p1/file2"), "rename: an open file");
		tap_eq(pread(fd, buf, 5, 0), 5, "rename: read via old fd");
		tap_ok(!memcmp(buf, "moved", 5), "rename: old fd sees the data");
		tap_eq(pwrite(fd, "M", 1, 0), 1, "rename: write via old fd");
		close(fd);
		tap_ok(file_is("p1/file2", "Moved"),
		       "rename: write via old fd visible at new name");
	}

	flag_checks();
}
