// SPDX-License-Identifier: GPL-2.0
/* t_misc.c - statfs and assorted error returns. */
#include "posix_test.h"

#include <limits.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

/* Free space in bytes as statvfs reports it. */
static long long free_bytes(const char *path)
{
	struct statvfs sv;

	return statvfs(path, &sv) ? -1 : (long long)(sv.f_bfree * sv.f_frsize);
}

/*
 * statfs: its invariants, that it follows the space a write allocates,
 * and (-b) that a passthrough mount reports its backing filesystem's.
 * (glibc's statvfs is statfs reformatted: comparing the two proves nothing.)
 */
static void statfs_checks(void)
{
	const long long big = 16 << 20;
	long long before, after;
	struct statvfs sv, bv;
	int fd;

	if (!tap_succ(statvfs(".", &sv), "misc: statvfs"))
		return;
	tap_ok(sv.f_bsize > 0 && sv.f_frsize > 0, "misc: statvfs block sizes > 0");
	tap_ok(sv.f_blocks > 0, "misc: statvfs total blocks > 0");
	tap_ok(sv.f_bfree <= sv.f_blocks && sv.f_bavail <= sv.f_bfree,
	       "misc: statvfs avail <= free <= total blocks");
	tap_ok(sv.f_ffree <= sv.f_files || sv.f_files == 0,
	       "misc: statvfs free <= total inodes");
	tap_ok(sv.f_namemax >= 255, "misc: statvfs namemax >= 255");
	fd = open(".", O_RDONLY | O_DIRECTORY);
	tap_ok(fstatvfs(fd, &bv) == 0 && bv.f_blocks == sv.f_blocks &&
	       bv.f_frsize == sv.f_frsize, "misc: fstatvfs agrees with statvfs");
	close(fd);

	/* 16 MiB written and synced must show up as used space. */
	before = free_bytes(".");
	if (mkfile_len("statfs_big", 0644, big) == 0 &&
	    (fd = open("statfs_big", O_RDONLY)) >= 0) {
		fsync(fd);
		close(fd);
	}
	after = free_bytes(".");
	tap_ok(before > 0 && after >= 0 && before - after >= big / 2,
	       "misc: statfs free space drops by a 16 MiB file");
	if (before - after < big / 2)
		tap_diag("  free bytes %lld before, %lld after", before, after);
	unlink("statfs_big");

	if (!posix_opts.backing)
		return;
	if (!tap_succ(statvfs(posix_opts.backing, &bv), "misc: statvfs of the backing directory"))
		return;
	tap_eq((long long)sv.f_blocks * sv.f_frsize,
	       (long long)bv.f_blocks * bv.f_frsize,
	       "misc: statfs size equals the backing filesystem's");
	tap_eq(sv.f_files, bv.f_files,
	       "misc: statfs inode count equals the backing filesystem's");
	tap_eq(sv.f_namemax, bv.f_namemax,
	       "misc: statfs namemax equals the backing filesystem's");
	/* Free space moves with writeback: equal within 64 MiB. */
	before = free_bytes(".");
	after = free_bytes(posix_opts.backing);
	tap_ok(llabs(before - after) <= (64LL << 20),
	       "misc: statfs free space equals the backing filesystem's (within 64 MiB)");
	if (llabs(before - after) > (64LL << 20))
		tap_diag("  free bytes %lld on the mount, %lld on the backing store",
			 before, after);
}

void t_misc(void)
{
	char name[300], buf[16];
	struct stat st;
	int fd;

	statfs_checks();

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
