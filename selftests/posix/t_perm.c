// SPDX-License-Identifier: GPL-2.0
/*
 * t_perm.c - permission checks on files and directories, sticky
 * directories, access(2)/faccessat(2), chmod/chown rules for non-root.
 */
#include "posix_test.h"

#include <sys/wait.h>

static const gid_t grp_other[] = { GID_OTHER };

static bool can_open(const char *path, int flags)
{
	int fd = open(path, flags);

	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

/* open() must fail with @err (or succeed when err == 0). */
static void open_is(const char *path, int flags, int err, const char *what)
{
	int fd = open(path, flags);

	if (!err) {
		tap_succ(fd, "perm: %s", what);
	} else {
		tap_errno(fd, err, "perm: %s", what);
	}
	if (fd >= 0)
		close(fd);
}

static void as_owner(void *arg)
{
	(void)arg;
	chmod("own", 0400);
	open_is("own", O_RDONLY, 0, "owner reads 0400 file");
	open_is("own", O_WRONLY, EACCES, "owner cannot write 0400 file");
	chmod("own", 0200);
	open_is("own", O_WRONLY, 0, "owner writes 0200 file");
	open_is("own", O_RDONLY, EACCES, "owner cannot read 0200 file");
	chmod("own", 0000);
	open_is("own", O_RDONLY, EACCES, "owner cannot read 0000 file");
	open_is("own", O_RDWR, EACCES, "owner cannot open 0000 file O_RDWR");
	/* owner class wins even if group/other would allow */
	chmod("own", 0077);
	open_is("own", O_RDONLY, EACCES, "owner bits apply before other bits");
	tap_eq(mode_of("own"), 0077, "owner may chmod own file");
	tap_succ(chmod("own", 0644), "owner chmod back to 0644");
	tap_errno(chmod("rootfile", 0777), EPERM,
		  "non-owner chmod -> EPERM");
	tap_errno(chown("own", UID_NOBODY, -1), EPERM,
		  "non-root chown to another uid -> EPERM");
	tap_errno(chown("own", -1, GID_NOBODY), EPERM,
		  "owner chown to a group it is not in -> EPERM");
	tap_succ(chown("own", UID_USER, -1),
		 "owner chown to its own uid is allowed");
	tap_errno(chown("rootfile", -1, GID_USER), EPERM,
		  "non-owner chgrp -> EPERM");
	tap_errno(truncate("rootfile", 0), EACCES,
		  "truncate without write permission -> EACCES");
	tap_errno(unlink("ro_dir/victim"), EACCES,
		  "unlink in non-writable dir -> EACCES");
	tap_errno(mkfile("ro_dir/new", 0644, NULL), EACCES,
		  "create in non-writable dir -> EACCES");
	tap_errno(mkdir("ro_dir/newdir", 0755), EACCES,
		  "mkdir in non-writable dir -> EACCES");
	tap_errno(rename("own", "ro_dir/own"), EACCES,
		  "rename into non-writable dir -> EACCES");
	tap_errno(symlink("x", "ro_dir/sym"), EACCES,
		  "symlink in non-writable dir -> EACCES");
	tap_errno(link("own", "ro_dir/hard"), EACCES,
		  "link into non-writable dir -> EACCES");
	tap_ok(exists("ro_dir/victim"), "victim in non-writable dir survives");
}

static void as_group_member(void *arg)
{
	(void)arg;
	/* "grp" is root:GID_OTHER 0040 */
	open_is("grp", O_RDONLY, 0, "group member reads 0040 file");
	open_is("grp", O_WRONLY, EACCES, "group member cannot write 0040 file");
	open_is("oth", O_RDONLY, EACCES,
		"group member denied by group bits of 0704 file");
}

static void as_nobody(void *arg)
{
	(void)arg;
	open_is("grp", O_RDONLY, EACCES, "non-member cannot read 0040 file");
	open_is("oth", O_RDONLY, 0, "other reads 0704 file");
	open_is("oth", O_WRONLY, EACCES, "other cannot write 0704 file");
	open_is("rootfile", O_RDONLY, 0, "other reads 0644 root file");
	open_is("rootfile", O_WRONLY, EACCES, "other cannot write 0644 file");
}

/* Search and read permission on directories. */
static void as_owner_dirs(void *arg)
{
	struct stat st;
	int fd;

	(void)arg;
	chmod("sd", 0600);
	tap_errno(stat("sd/f", &st), EACCES,
		  "perm: stat under dir without x -> EACCES");
	open_is("sd/f", O_RDONLY, EACCES, "open under dir without x -> EACCES");
	fd = open("sd", O_RDONLY | O_DIRECTORY);
	tap_succ(fd, "perm: opendir of 0600 dir (read only)");
	if (fd >= 0)
		close(fd);
	chmod("sd", 0100);
	tap_succ(stat("sd/f", &st), "perm: stat under 0100 (search only) dir");
	open_is("sd/f", O_RDONLY, 0, "open under 0100 dir");
	open_is("sd", O_RDONLY | O_DIRECTORY, EACCES,
		"opendir of 0100 dir -> EACCES");
	tap_errno(mkfile("sd/g", 0644, NULL), EACCES,
		  "perm: create in 0100 dir -> EACCES");
	chmod("sd", 0300);
	tap_succ(mkfile("sd/g", 0644, NULL), "perm: create in 0300 dir");
	tap_succ(unlink("sd/g"), "perm: unlink in 0300 dir");
	open_is("sd", O_RDONLY | O_DIRECTORY, EACCES,
		"opendir of 0300 dir -> EACCES");
	chmod("sd", 0500);
	tap_errno(unlink("sd/f"), EACCES, "perm: unlink in 0500 dir -> EACCES");
	tap_errno(rmdir("sd/sub"), EACCES, "perm: rmdir in 0500 dir -> EACCES");
	chmod("sd", 0700);
	tap_succ(access("sd/f", F_OK), "perm: access F_OK after restoring dir");
}

static void as_user_access(void *arg)
{
	(void)arg;
	/* "acc" is UID_USER's 0750 file, "acc2" is root's 0604 */
	tap_succ(access("acc", R_OK | W_OK | X_OK), "perm: access rwx as owner");
	tap_succ(access("acc2", R_OK), "perm: access R_OK via other bits");
	tap_errno(access("acc2", W_OK), EACCES, "perm: access W_OK denied");
	tap_errno(access("acc2", X_OK), EACCES, "perm: access X_OK denied");
	tap_errno(access("nothere", F_OK), ENOENT, "perm: access F_OK missing");
	tap_succ(faccessat(AT_FDCWD, "acc", R_OK, 0), "perm: faccessat R_OK");
	tap_errno(faccessat(AT_FDCWD, "acc2", W_OK, AT_EACCESS), EACCES,
		  "perm: faccessat AT_EACCESS W_OK denied");
}

/* real uid 65534, effective uid 1000: access() uses the real ids */
static void as_mixed_ids(void *arg)
{
	(void)arg;
	if (setresgid(GID_NOBODY, GID_USER, GID_USER) ||
	    setresuid(UID_NOBODY, UID_USER, UID_USER)) {
		tap_ok(0, "perm: set mixed real/effective ids: %s",
		       strerror(errno));
		return;
	}
	tap_errno(access("acc", R_OK), EACCES,
		  "perm: access() checks the real uid");
	tap_succ(faccessat(AT_FDCWD, "acc", R_OK, AT_EACCESS),
		 "perm: faccessat(AT_EACCESS) checks the effective uid");
	open_is("acc", O_RDONLY, 0, "open() checks the effective uid");
}

/* Sticky directory: "st" is root 01777, with files of UID_USER. */
static void as_nobody_sticky(void *arg)
{
	(void)arg;
	tap_errno(unlink("st/user"), EPERM,
		  "perm: unlink other's file in sticky dir -> EPERM");
	tap_errno(rename("st/user", "st/moved"), EPERM,
		  "perm: rename other's file in sticky dir -> EPERM");
	tap_succ(mkfile("st/mine", 0644, NULL),
		 "perm: create own file in sticky dir");
	tap_errno(rename("st/mine", "st/user"), EPERM,
		  "perm: rename over other's file in sticky dir -> EPERM");
	tap_errno(rmdir("st/userdir"), EPERM,
		  "perm: rmdir other's dir in sticky dir -> EPERM");
	tap_succ(rename("st/mine", "st/mine2"),
		 "perm: rename own file in sticky dir");
	tap_succ(unlink("st/mine2"), "perm: unlink own file in sticky dir");
	tap_ok(exists("st/user"), "perm: other's file survives in sticky dir");
}

static void as_user_sticky(void *arg)
{
	(void)arg;
	tap_succ(rename("st/user", "st/user2"),
		 "perm: owner renames own file in sticky dir");
	tap_succ(unlink("st/user2"), "perm: owner unlinks own file in sticky dir");
}

static void exec_checks(void)
{
	static char *const argv[] = { "./prog", NULL };
	int status, ret;
	pid_t pid;

	if (mkfile("prog", 0755, "#!/bin/sh\nexit 7\n")) {
		tap_ok(0, "perm: create script: %s", strerror(errno));
		return;
	}
	pid = fork();
	if (pid == 0) {
		setresgid(GID_USER, GID_USER, GID_USER);
		setresuid(UID_USER, UID_USER, UID_USER);
		execv("./prog", argv);
		_exit(errno == EACCES ? 13 : 99);
	}
	ret = waitpid(pid, &status, 0);
	tap_ok(ret == pid && WIFEXITED(status) && WEXITSTATUS(status) == 7,
	       "perm: execute 0755 script as other user");
	chmod("prog", 0644);
	pid = fork();
	if (pid == 0) {
		execv("./prog", argv);
		_exit(errno == EACCES ? 13 : 99);
	}
	ret = waitpid(pid, &status, 0);
	tap_ok(ret == pid && WIFEXITED(status) && WEXITSTATUS(status) == 13,
	       "perm: even root cannot execute a 0644 file (EACCES)");
	tap_errno(access("prog", X_OK), EACCES,
		  "perm: access X_OK as root on 0644 file -> EACCES");
	chmod("prog", 0100);
	tap_succ(access("prog", X_OK),
		 "perm: access X_OK as root on 0100 file");
	tap_succ(access("prog", R_OK | W_OK),
		 "perm: access R_OK|W_OK as root on 0100 file");
	chmod("prog", 0000);
	tap_ok(can_open("prog", O_RDWR), "perm: root opens 0000 file O_RDWR");
}

void t_perm(void)
{
	mkfile("own", 0644, "own");
	chown("own", UID_USER, GID_USER);
	mkfile("rootfile", 0644, "root");
	mkdir("ro_dir", 0755);
	mkfile("ro_dir/victim", 0644, NULL);
	run_as(UID_USER, GID_USER, 0, NULL, as_owner, NULL);

	mkfile("grp", 0040, "g");
	chown("grp", 0, GID_OTHER);
	mkfile("oth", 0704, "o");
	chown("oth", 0, GID_OTHER);
	run_as(UID_NOBODY, GID_NOBODY, 1, grp_other, as_group_member, NULL);
	run_as(UID_NOBODY, GID_NOBODY, 0, NULL, as_nobody, NULL);

	mkdir("sd", 0700);
	mkfile("sd/f", 0644, NULL);
	mkdir("sd/sub", 0755);
	chown("sd", UID_USER, GID_USER);
	chown("sd/f", UID_USER, GID_USER);
	run_as(UID_USER, GID_USER, 0, NULL, as_owner_dirs, NULL);

	mkfile("acc", 0750, NULL);
	chown("acc", UID_USER, GID_USER);
	mkfile("acc2", 0604, NULL);
	run_as(UID_USER, GID_USER, 0, NULL, as_user_access, NULL);
	run_as(0, 0, 0, NULL, as_mixed_ids, NULL);

	mkdir("st", 0777);
	chmod("st", 01777);
	tap_eq(mode_of("st"), 01777, "perm: chmod sets the sticky bit on a dir");
	mkfile("st/user", 0666, NULL);
	chown("st/user", UID_USER, GID_USER);
	mkdir("st/userdir", 0777);
	chown("st/userdir", UID_USER, GID_USER);
	run_as(UID_NOBODY, GID_NOBODY, 0, NULL, as_nobody_sticky, NULL);
	run_as(UID_USER, GID_USER, 0, NULL, as_user_sticky, NULL);
	tap_succ(rmdir("st/userdir"), "perm: root removes other's dir in sticky dir");

	exec_checks();
}
