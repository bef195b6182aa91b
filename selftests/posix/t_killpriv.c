// SPDX-License-Identifier: GPL-2.0
/*
 * t_killpriv.c - who clears set-user-ID and set-group-ID bits, and file
 * capabilities, on write, truncate and O_TRUNC open (the Linux VFS rules;
 * on mqfuse with FUSE_HANDLE_KILLPRIV_V2 the daemon does it at the
 * kernel's request):
 *
 *  - a caller without CAP_FSETID clears S_ISUID, and S_ISGID if the group
 *    may execute, when it writes (buffered or O_DIRECT), truncates
 *    (truncate, ftruncate) or opens with O_TRUNC;
 *  - a caller with CAP_FSETID clears neither;
 *  - any write removes security.capability.
 *
 * "uid 0 without CAP_FSETID" is the case a passthrough daemon acting as
 * the caller cannot get right by itself (it runs as uid 0 with its own
 * capabilities), so these checks fail unless the kill request reaches it
 * (or the kernel clears the bits itself).
 */
#include "posix_test.h"

#include <limits.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <linux/capability.h>

#define KP_DIO_LEN	4096

/* Drop CAP_FSETID from the effective set of this (child) process. */
static int drop_cap_fsetid(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_FSETID / 32].effective &= ~(1U << (CAP_FSETID % 32));
	return syscall(SYS_capset, &hdr, data) ? -1 : 0;
}

/* A set-id test file: root-owned, @mode, a few bytes of data. */
static void setid_file(const char *name, mode_t mode)
{
	unlink(name);
	mkfile(name, 0644, "0123456789");
	chmod(name, mode);
}

static int write_at(const char *name, int flags)
{
	int fd = open(name, O_WRONLY | flags);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = pwrite(fd, "x", 1, 0);
	close(fd);
	return n == 1 ? 0 : -1;
}

static int write_direct(const char *name)
{
	void *buf;
	ssize_t n;
	int fd;

	if (posix_memalign(&buf, KP_DIO_LEN, KP_DIO_LEN))
		return -1;
	memset(buf, 'd', KP_DIO_LEN);
	fd = open(name, O_WRONLY | O_DIRECT);
	if (fd < 0) {
		free(buf);
		return -1;
	}
	n = pwrite(fd, buf, KP_DIO_LEN, 0);
	close(fd);
	free(buf);
	return n == KP_DIO_LEN ? 0 : -1;
}

static int ftruncate_at(const char *name, off_t size)
{
	int fd = open(name, O_WRONLY);
	int ret;

	if (fd < 0)
		return -1;
	ret = ftruncate(fd, size);
	close(fd);
	return ret;
}

static int open_trunc(const char *name)
{
	int fd = open(name, O_WRONLY | O_TRUNC);

	return fd < 0 ? -1 : close(fd);
}

/* uid 1000, not the owner, not in the group: write permission via "other". */
static void as_user(void *arg)
{
	int caps_set = *(int *)arg;

	tap_succ(open_trunc("u_otrunc"), "killpriv: non-owner opens a 06777 file O_TRUNC");
	tap_eq(mode_of("u_otrunc"), 0777, "killpriv: O_TRUNC open by non-root clears S_ISUID and S_ISGID");
	tap_succ(ftruncate_at("u_ftrunc", 3), "killpriv: non-owner ftruncates a 06777 file");
	tap_eq(mode_of("u_ftrunc"), 0777, "killpriv: ftruncate by non-root clears S_ISUID and S_ISGID");
	tap_succ(write_direct("u_direct"), "killpriv: non-owner writes a 06777 file with O_DIRECT");
	tap_eq(mode_of("u_direct"), 0777, "killpriv: O_DIRECT write by non-root clears S_ISUID and S_ISGID");
	/* S_ISGID without group execute: dropped for a writer outside the group */
	tap_succ(write_at("u_sgidnx", 0), "killpriv: non-member writes a 02666 file");
	if (posix_excluded("kill_nocap"))
		tap_skip("killpriv: a write by a non-member clears S_ISGID without group exec",
			 "excluded (-x)");
	else
		tap_eq(mode_of("u_sgidnx"), 0666,
		       "killpriv: a write by a non-member clears S_ISGID without group exec");
	tap_succ(ftruncate_at("u_sgidtr", 1), "killpriv: non-member ftruncates a 02666 file");
	tap_eq(mode_of("u_sgidtr"), 0666,
	       "killpriv: an ftruncate by a non-member clears S_ISGID without group exec");
	/* fallocate and copy_file_range change contents too (file_modified()) */
	{
		int fd = open("u_falloc", O_WRONLY), src;
		loff_t off = 0;

		tap_succ(fd < 0 ? -1 : fallocate(fd, 0, 0, 8192),
			 "killpriv: non-owner fallocates a 06777 file");
		if (fd >= 0)
			close(fd);
		tap_eq(mode_of("u_falloc"), 0777,
		       "killpriv: fallocate by non-root clears S_ISUID and S_ISGID");
		fd = open("u_cfr", O_WRONLY);
		src = open("u_cfr_src", O_RDONLY);
		tap_eq(fd < 0 || src < 0 ? -1 : copy_file_range(src, &off, fd, NULL, 5, 0), 5,
		       "killpriv: non-owner copy_file_range()s into a 06777 file");
		if (fd >= 0)
			close(fd);
		if (src >= 0)
			close(src);
		tap_eq(mode_of("u_cfr"), 0777,
		       "killpriv: copy_file_range by non-root clears S_ISUID and S_ISGID");
	}
	if (!caps_set)
		tap_succ(write_at("u_cap", 0),
			 "killpriv: non-owner writes a file with security.capability");
}

/* uid 0 without CAP_FSETID */
static void as_root_nofsetid(void *arg)
{
	(void)arg;
	if (!tap_succ(drop_cap_fsetid(), "killpriv: drop CAP_FSETID"))
		return;
	tap_succ(write_at("r_write", 0), "killpriv: uid 0 without CAP_FSETID writes a 06666 file");
	tap_eq(mode_of("r_write"), 02666,
	       "killpriv: its write clears S_ISUID, keeps S_ISGID without group exec");
	tap_succ(write_at("r_wgx", O_APPEND), "killpriv: uid 0 without CAP_FSETID appends to a 02775 file");
	tap_eq(mode_of("r_wgx"), 0775, "killpriv: its write clears group-exec S_ISGID");
	tap_succ(write_direct("r_direct"), "killpriv: uid 0 without CAP_FSETID writes a 06755 file O_DIRECT");
	tap_eq(mode_of("r_direct"), 0755, "killpriv: its O_DIRECT write clears S_ISUID and S_ISGID");
	tap_succ(truncate("r_trunc", 2), "killpriv: uid 0 without CAP_FSETID truncates a 06755 file");
	tap_eq(mode_of("r_trunc"), 0755, "killpriv: its truncate clears S_ISUID and S_ISGID");
	tap_eq(size_of("r_trunc"), 2, "killpriv: and truncates");
	tap_succ(open_trunc("r_otrunc"), "killpriv: uid 0 without CAP_FSETID opens a 04755 file O_TRUNC");
	if (posix_excluded("kill_nocap"))
		tap_skip("killpriv: its O_TRUNC open clears S_ISUID", "excluded (-x)");
	else
		tap_eq(mode_of("r_otrunc"), 0755, "killpriv: its O_TRUNC open clears S_ISUID");
	tap_eq(size_of("r_otrunc"), 0, "killpriv: and truncates");
}

/*
 * Set security.capability on @name: through the mount, or (a passthrough
 * daemon without CAP_SETFCAP refuses) on the backing file. Returns 0 or
 * -1 with errno.
 */
static int set_file_caps(const char *name)
{
	/* struct vfs_cap_data, revision 2: CAP_NET_BIND_SERVICE permitted */
	uint32_t caps[5] = { 0x02000000, 1U << CAP_NET_BIND_SERVICE, 0, 0, 0 };
	char cwd[PATH_MAX], path[PATH_MAX * 2];
	size_t dlen;

	if (!setxattr(name, "security.capability", caps, sizeof(caps), 0))
		return 0;
	if (!posix_opts.backing || !posix_opts.dir || (errno != EPERM && errno != EACCES))
		return -1;
	dlen = strlen(posix_opts.dir);
	if (!getcwd(cwd, sizeof(cwd)) || strncmp(cwd, posix_opts.dir, dlen)) {
		errno = EINVAL;
		return -1;
	}
	snprintf(path, sizeof(path), "%s%s/%s", posix_opts.backing, cwd + dlen, name);
	return setxattr(path, "security.capability", caps, sizeof(caps), 0);
}

void t_killpriv(void)
{
	char val[64];
	int caps_set;

	setid_file("u_otrunc", 06777);
	setid_file("u_ftrunc", 06777);
	setid_file("u_direct", 06777);
	setid_file("u_sgidnx", 02666);
	setid_file("u_sgidtr", 02666);
	setid_file("u_falloc", 06777);
	setid_file("u_cfr", 06777);
	unlink("u_cfr_src");
	mkfile("u_cfr_src", 0644, "12345");
	unlink("u_cap");
	mkfile("u_cap", 0666, "capable");
	chmod("u_cap", 0666);
	/*
	 * Stock FUSE (6.1, 6.12) removes the attribute with a REMOVEXATTR
	 * sent as the writer, which a daemon that keeps security.* for root
	 * refuses, failing the write: -x file_caps there.
	 */
	caps_set = posix_excluded("file_caps") ? -1 : set_file_caps("u_cap");
	if (caps_set && !posix_excluded("file_caps"))
		posix_skip("file_caps", "killpriv: a write removes security.capability",
			   "cannot set security.capability: %s", strerror(errno));
	run_as(UID_USER, GID_USER, 0, NULL, as_user, &caps_set);
	if (posix_excluded("file_caps"))
		tap_skip("killpriv: a write removes security.capability", "excluded (-x)");
	else if (!caps_set)
		tap_errno(getxattr("u_cap", "security.capability", val, sizeof(val)), ENODATA,
			  "killpriv: a write removes security.capability");

	setid_file("r_write", 06666);
	setid_file("r_wgx", 02775);
	setid_file("r_direct", 06755);
	setid_file("r_trunc", 06755);
	setid_file("r_otrunc", 04755);
	run_as(0, 0, 0, NULL, as_root_nofsetid, NULL);

	/* with CAP_FSETID (this process) nothing is cleared */
	setid_file("c_write", 06755);
	tap_succ(write_at("c_write", 0), "killpriv: root writes a 06755 file");
	tap_eq(mode_of("c_write"), 06755, "killpriv: a write with CAP_FSETID keeps S_ISUID and S_ISGID");
	setid_file("c_trunc", 06755);
	tap_succ(truncate("c_trunc", 1), "killpriv: root truncates a 06755 file");
	tap_eq(mode_of("c_trunc"), 06755, "killpriv: a truncate with CAP_FSETID keeps S_ISUID and S_ISGID");
	setid_file("c_otrunc", 06755);
	tap_succ(open_trunc("c_otrunc"), "killpriv: root opens a 06755 file O_TRUNC");
	tap_eq(mode_of("c_otrunc"), 06755, "killpriv: an O_TRUNC open with CAP_FSETID keeps S_ISUID and S_ISGID");
	setid_file("c_direct", 06755);
	tap_succ(write_direct("c_direct"), "killpriv: root writes a 06755 file O_DIRECT");
	tap_eq(mode_of("c_direct"), 06755, "killpriv: an O_DIRECT write with CAP_FSETID keeps S_ISUID and S_ISGID");
}
