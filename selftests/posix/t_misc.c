// SPDX-License-Identifier: GPL-2.0
/* t_misc.c - statfs and assorted error returns. */
#include "posix_test.h"

#include <limits.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

void t_misc(void)
{
	char name[300], buf[16];
	struct statvfs sv;
	struct statfs sf;
	struct stat st;
	int fd;

	tap_succ(statvfs(".", &sv), "misc: statvfs");
	tap_ok(sv.f_bsize > 0 && sv.f_frsize > 0, "misc: statvfs block sizes > 0");
	tap_ok(sv.f_bfree <= sv.f_blocks && sv.f_bavail <= sv.f_blocks,
	       "misc: statvfs free <= total blocks");
	tap_ok(sv.f_ffree <= sv.f_files || sv.f_files == 0,
	       "misc: statvfs free <= total inodes");
	tap_ok(sv.f_namemax >= 255, "misc: statvfs namemax >= 255");
	tap_succ(statfs(".", &sf), "misc: statfs");
	tap_eq(sf.f_blocks, sv.f_blocks, "misc: statfs and statvfs agree");
	fd = open(".", O_RDONLY | O_DIRECTORY);
	tap_ok(fstatvfs(fd, &sv) == 0 && sv.f_bsize > 0, "misc: fstatvfs");
	close(fd);

	mkfile("f", 0644, "x");
	tap_errno(stat("missing", &st), ENOENT, "misc: stat missing -> ENOENT");
	tap_errno(stat("f/x", &st), ENOTDIR, "misc: stat f/x -> ENOTDIR");
	tap_errno(unlink("missing"), ENOENT, "misc: unlink missing -> ENOENT");
	tap_errno(chmod("missing", 0644), ENOENT, "misc: chmod missing -> ENOENT");
	tap_errno(chown("missing", 0, 0), ENOENT, "misc: chown missing -> ENOENT");
	memset(name, 'z', 256);
	name[256] = '\0';
	tap_errno(stat(name, &st), ENAMETOOLONG, "misc: stat 256-byte name -> ENAMETOOLONG");
	tap_errno(mkdir(name, 0755), ENAMETOOLONG, "misc: mkdir 256-byte name -> ENAMETOOLONG");
	tap_errno(symlink("f", name), ENAMETOOLONG, "misc: symlink 256-byte name -> ENAMETOOLONG");
	tap_errno(rename("f", name), ENAMETOOLONG, "misc: rename to 256-byte name -> ENAMETOOLONG");
	tap_errno(link("f", name), ENAMETOOLONG, "misc: link 256-byte name -> ENAMETOOLONG");
	tap_errno(mkfile("f", 0644, NULL) == 0 ? mkdir("f", 0755) : 0, EEXIST,
		  "misc: mkdir over a file -> EEXIST");
	tap_errno(link("f", "f"), EEXIST, "misc: link onto itself -> EEXIST");
	tap_errno(read(-1, buf, 1), EBADF, "misc: read(-1) -> EBADF");
	tap_errno(fstat(9999, &st), EBADF, "misc: fstat on closed fd -> EBADF");
	tap_errno(write(9999, buf, 1), EBADF, "misc: write on closed fd -> EBADF");
	tap_errno(fsync(9999), EBADF, "misc: fsync on closed fd -> EBADF");
	mkdir("d", 0755);
	fd = open("d", O_RDONLY | O_DIRECTORY);
	tap_errno(write(fd, "x", 1), EBADF, "misc: write on a dir fd -> EBADF");
	tap_errno(ftruncate(fd, 0), EINVAL, "misc: ftruncate a dir fd -> EINVAL");
	close(fd);
	tap_errno(open("d", O_WRONLY | O_TRUNC), EISDIR,
		  "misc: open dir for writing -> EISDIR");
	tap_errno(unlinkat(AT_FDCWD, "f", AT_REMOVEDIR), ENOTDIR,
		  "misc: unlinkat AT_REMOVEDIR on a file -> ENOTDIR");
	tap_succ(unlinkat(AT_FDCWD, "d", AT_REMOVEDIR), "misc: unlinkat AT_REMOVEDIR");
	fd = open(".", O_RDONLY | O_DIRECTORY);
	tap_succ(mkdirat(fd, "at", 0755), "misc: mkdirat");
	tap_succ(mknodat(fd, "at/node", S_IFREG | 0644, 0), "misc: mknodat");
	tap_succ(fstatat(fd, "at/node", &st, AT_SYMLINK_NOFOLLOW), "misc: fstatat");
	tap_succ(renameat(fd, "at/node", fd, "at/node2"), "misc: renameat");
	tap_succ(fchmodat(fd, "at/node2", 0600, 0), "misc: fchmodat");
	tap_eq(mode_of("at/node2"), 0600, "misc: fchmodat applied");
	tap_succ(fchownat(fd, "at/node2", UID_USER, -1, 0), "misc: fchownat");
	tap_eq(uid_of("at/node2"), UID_USER, "misc: fchownat applied");
	tap_succ(unlinkat(fd, "at/node2", 0), "misc: unlinkat");
	close(fd);
	tap_eq(nlink_of("f"), 1, "misc: stat nlink of plain file");
	tap_ok(lstat("f", &st) == 0 && st.st_blksize > 0, "misc: st_blksize > 0");
}
