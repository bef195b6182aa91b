// SPDX-License-Identifier: GPL-2.0
/* t_open.c - open(2)/creat flags, umask, basic I/O errors. */
#include "posix_test.h"

#include <limits.h>

static void umask_checks(void)
{
	static const struct {
		mode_t umask, mode, want;
		bool dir;
	} cases[] = {
		{ 022, 0777, 0755, false },
		{ 077, 0666, 0600, false },
		{ 000, 0666, 0666, false },
		{ 027, 0777, 0750, true },
		{ 002, 0775, 0775, true },
		{ 0777, 0777, 0000, false },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[32];
		int ret;

		snprintf(name, sizeof(name), "um%zu", i);
		umask(cases[i].umask & 0777);
		if (cases[i].dir) {
			ret = mkdir(name, cases[i].mode);
		} else {
			ret = open(name, O_CREAT | O_EXCL | O_WRONLY,
				   cases[i].mode);
			if (ret >= 0)
				close(ret);
		}
		umask(022);
		if (tap_succ(ret, "open: create %s mode %04o umask %03o",
			     cases[i].dir ? "dir" : "file", cases[i].mode,
			     cases[i].umask & 0777))
			tap_eq(mode_of(name), cases[i].want,
			       "open: %s mode %04o umask %03o gives %04o",
			       cases[i].dir ? "dir" : "file", cases[i].mode,
			       cases[i].umask & 0777, cases[i].want);
	}
}

static void tmpfile_checks(void)
{
	char path[64];
	struct stat st;
	int fd;

	if (posix_excluded("tmpfile")) {
		tap_skip("open: O_TMPFILE", "excluded with -x tmpfile");
		return;
	}
	fd = open(".", O_TMPFILE | O_RDWR, 0600);
	if (fd == -1 && (errno == EOPNOTSUPP || errno == EISDIR)) {
		posix_skip("tmpfile", "open: O_TMPFILE",
			   "not supported by this filesystem");
		return;
	}
	if (!tap_succ(fd, "open: O_TMPFILE creates an unnamed file"))
		return;
	tap_eq(write(fd, "tmp", 3), 3, "open: O_TMPFILE file is writable");
	tap_succ(fstat(fd, &st), "open: fstat O_TMPFILE file");
	tap_eq(st.st_nlink, 0, "open: O_TMPFILE file has nlink 0");
	tap_eq(st.st_mode & 07777, 0600, "open: O_TMPFILE file mode 0600");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (tap_succ(linkat(AT_FDCWD, path, AT_FDCWD, "tmpnamed",
			    AT_SYMLINK_FOLLOW),
		     "open: linkat gives O_TMPFILE file a name")) {
		tap_ok(file_is("tmpnamed", "tmp"),
		       "open: linked O_TMPFILE file has its data");
		tap_eq(nlink_of("tmpnamed"), 1,
		       "open: linked O_TMPFILE file has nlink 1");
	}
	close(fd);
}

void t_open(void)
{
	char buf[64], name[300];
	struct stat st;
	int fd, fd2;

	/* O_CREAT / O_EXCL */
	fd = open("f", O_CREAT | O_EXCL | O_RDWR, 0644);
	tap_succ(fd, "open: O_CREAT|O_EXCL creates a new file");
	tap_eq(write(fd, "hello", 5), 5, "open: write 5 bytes");
	tap_succ(fstat(fd, &st), "open: fstat new file");
	tap_eq(st.st_size, 5, "open: fstat size after write");
	tap_ok(S_ISREG(st.st_mode), "open: new file is S_IFREG");
	tap_eq(st.st_uid, 0, "open: new file owned by uid 0");
	tap_eq(pread(fd, buf, sizeof(buf), 0), 5, "open: pread back 5 bytes");
	tap_ok(!memcmp(buf, "hello", 5), "open: data read back matches");
	tap_succ(close(fd), "open: close");
	tap_errno(close(fd), EBADF, "open: second close -> EBADF");
	tap_errno(open("f", O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST,
		  "open: O_CREAT|O_EXCL on existing file -> EEXIST");
	tap_succ(symlink("nowhere", "dangling"), "open: make dangling symlink");
	tap_errno(open("dangling", O_CREAT | O_EXCL | O_RDWR, 0644), EEXIST,
		  "open: O_CREAT|O_EXCL on dangling symlink -> EEXIST");
	tap_ok(!exists("nowhere"),
	       "open: O_CREAT|O_EXCL did not create the symlink target");
	fd = open("dangling", O_CREAT | O_WRONLY, 0600);
	tap_succ(fd, "open: O_CREAT through dangling symlink");
	if (fd >= 0)
		close(fd);
	tap_ok(exists("nowhere"), "open: O_CREAT through dangling symlink "
	       "creates the target");
	fd = open("f", O_CREAT | O_RDWR, 0600);
	tap_succ(fd, "open: O_CREAT on existing file opens it");
	tap_succ(fstat(fd, &st), "open: fstat existing file");
	tap_eq(st.st_size, 5, "open: O_CREAT without O_TRUNC keeps data");
	tap_eq(st.st_mode & 07777, 0644, "open: O_CREAT keeps existing mode");
	close(fd);
	tap_errno(open("f", O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW, 0644),
		  EEXIST, "open: O_CREAT|O_EXCL|O_NOFOLLOW existing -> EEXIST");

	/* O_TRUNC */
	fd = open("f", O_RDWR | O_TRUNC);
	tap_succ(fd, "open: O_TRUNC");
	tap_succ(fstat(fd, &st), "open: fstat after O_TRUNC");
	tap_eq(st.st_size, 0, "open: O_TRUNC truncates to 0");
	tap_eq(read(fd, buf, sizeof(buf)), 0, "open: read after O_TRUNC is EOF");
	close(fd);
	tap_eq(size_of("f"), 0, "open: stat size 0 after O_TRUNC");

	/* O_APPEND */
	mkfile("ap", 0644, "abc");
	fd = open("ap", O_WRONLY | O_APPEND);
	tap_succ(fd, "open: O_APPEND");
	tap_eq(lseek(fd, 0, SEEK_SET), 0, "open: lseek to 0 on O_APPEND fd");
	tap_eq(write(fd, "de", 2), 2, "open: write on O_APPEND fd");
	tap_eq(lseek(fd, 0, SEEK_CUR), 5, "open: O_APPEND offset at end");
	/* Linux appends even with pwrite() on an O_APPEND fd */
	tap_eq(pwrite(fd, "f", 1, 0), 1, "open: pwrite on O_APPEND fd");
	close(fd);
	tap_ok(file_is("ap", "abcdef"), "open: O_APPEND data went to the end");
	fd = open("ap", O_RDONLY);
	tap_errno(write(fd, "x", 1), EBADF, "open: write on O_RDONLY -> EBADF");
	close(fd);
	fd = open("ap", O_WRONLY);
	tap_errno(read(fd, buf, 1), EBADF, "open: read on O_WRONLY -> EBADF");
	close(fd);
	fd = open("ap", O_RDONLY | O_CLOEXEC);
	tap_ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC),
	       "open: O_CLOEXEC sets FD_CLOEXEC");
	tap_ok(fd >= 0 && (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY,
	       "open: F_GETFL reports O_RDONLY");
	close(fd);
	fd = open("ap", O_WRONLY | O_APPEND);
	tap_ok(fd >= 0 && (fcntl(fd, F_GETFL) & O_APPEND),
	       "open: F_GETFL reports O_APPEND");
	close(fd);

	/* O_DIRECTORY, O_NOFOLLOW, directories */
	mkdir("d", 0755);
	fd = open("d", O_RDONLY | O_DIRECTORY);
	tap_succ(fd, "open: O_DIRECTORY on a directory");
	if (fd >= 0)
		close(fd);
	tap_errno(open("f", O_RDONLY | O_DIRECTORY), ENOTDIR,
		  "open: O_DIRECTORY on a file -> ENOTDIR");
	tap_errno(open("d", O_WRONLY), EISDIR,
		  "open: directory O_WRONLY -> EISDIR");
	tap_errno(open("d", O_RDWR), EISDIR, "open: directory O_RDWR -> EISDIR");
	tap_errno(open("d", O_CREAT | O_RDONLY, 0644), EISDIR,
		  "open: O_CREAT on a directory -> EISDIR");
	symlink("f", "lf");
	symlink("d", "ld");
	tap_errno(open("lf", O_RDONLY | O_NOFOLLOW), ELOOP,
		  "open: O_NOFOLLOW on symlink -> ELOOP");
	fd = open("f", O_RDONLY | O_NOFOLLOW);
	tap_succ(fd, "open: O_NOFOLLOW on a regular file");
	if (fd >= 0)
		close(fd);
	mkfile("d/inner", 0644, "in");
	fd = open("ld/inner", O_RDONLY | O_NOFOLLOW);
	tap_succ(fd, "open: O_NOFOLLOW follows symlinks in the middle");
	if (fd >= 0)
		close(fd);
	tap_ok(file_is("ld/inner", "in"), "open: read through dir symlink");
	tap_ok(file_is("lf", ""), "open: read through file symlink");
	fd = open("ld", O_RDONLY | O_DIRECTORY);
	tap_succ(fd, "open: O_DIRECTORY through symlink to dir");
	if (fd >= 0)
		close(fd);
	fd = open("ld", O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
	tap_ok(fd == -1 && (errno == ELOOP || errno == ENOTDIR),
	       "open: O_DIRECTORY|O_NOFOLLOW on symlink fails");
	if (fd >= 0)
		close(fd);
	fd = open("lf", O_PATH | O_NOFOLLOW);
	tap_succ(fd, "open: O_PATH|O_NOFOLLOW opens the symlink itself");
	if (fd >= 0) {
		tap_ok(fstat(fd, &st) == 0 && S_ISLNK(st.st_mode),
		       "open: fstat O_PATH symlink fd is S_IFLNK");
		close(fd);
	}

	/* lookup errors */
	tap_errno(open("missing", O_RDONLY), ENOENT,
		  "open: missing file -> ENOENT");
	tap_errno(open("nodir/x", O_CREAT | O_WRONLY, 0644), ENOENT,
		  "open: O_CREAT in missing dir -> ENOENT");
	tap_errno(open("f/x", O_RDONLY), ENOTDIR,
		  "open: file used as dir -> ENOTDIR");
	tap_errno(open("f/x", O_CREAT | O_WRONLY, 0644), ENOTDIR,
		  "open: O_CREAT under a file -> ENOTDIR");
	tap_errno(open("", O_RDONLY), ENOENT, "open: empty path -> ENOENT");
	memset(name, 'n', 255);
	name[255] = '\0';
	fd = open(name, O_CREAT | O_WRONLY, 0644);
	tap_succ(fd, "open: create a 255-byte name");
	if (fd >= 0)
		close(fd);
	tap_ok(exists(name), "open: 255-byte name exists");
	tap_succ(unlink(name), "open: unlink 255-byte name");
	name[255] = 'n';
	name[256] = '\0';
	tap_errno(open(name, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG,
		  "open: 256-byte name -> ENAMETOOLONG");

	/* two descriptors share the file */
	fd = open("two", O_CREAT | O_RDWR, 0644);
	fd2 = open("two", O_RDWR);
	tap_eq(write(fd, "12345", 5), 5, "open: write via first fd");
	tap_eq(pread(fd2, buf, 5, 0), 5, "open: read via second fd");
	tap_ok(!memcmp(buf, "12345", 5), "open: second fd sees the data");
	tap_eq(lseek(fd2, 0, SEEK_CUR), 0, "open: fds have separate offsets");
	tap_eq(lseek(fd2, 0, SEEK_END), 5, "open: SEEK_END gives size");
	tap_eq(lseek(fd2, -2, SEEK_END), 3, "open: negative SEEK_END");
	tap_errno(lseek(fd2, -10, SEEK_SET), EINVAL,
		  "open: lseek to negative offset -> EINVAL");
	close(fd);
	close(fd2);

	umask_checks();
	tmpfile_checks();
}
