// SPDX-License-Identifier: GPL-2.0
/*
 * t_owner.c - ownership of new objects (fsuid/fsgid, setgid directories)
 * and chown/write clearing of set-user-ID and set-group-ID bits.
 */
#include "posix_test.h"

#include <sys/fsuid.h>

static const gid_t grp_other[] = { GID_OTHER };

static void create_as_user(void *arg)
{
	(void)arg;
	tap_succ(mkfile("ufile", 0644, NULL), "owner: create file as uid 1000");
	tap_eq(uid_of("ufile"), UID_USER, "owner: new file has creator's uid");
	tap_eq(gid_of("ufile"), GID_USER, "owner: new file has creator's gid");
	tap_succ(mkdir("udir", 0755), "owner: mkdir as uid 1000");
	tap_eq(uid_of("udir"), UID_USER, "owner: new dir has creator's uid");
	tap_eq(gid_of("udir"), GID_USER, "owner: new dir has creator's gid");
	tap_succ(symlink("ufile", "ulink"), "owner: symlink as uid 1000");
	tap_eq(uid_of("ulink"), UID_USER, "owner: new symlink has creator's uid");
	tap_succ(mknod("ufifo", S_IFIFO | 0644, 0), "owner: mkfifo as uid 1000");
	tap_eq(gid_of("ufifo"), GID_USER, "owner: new fifo has creator's gid");

	/* in a setgid directory the group comes from the directory */
	tap_succ(mkfile("sgid/ufile", 0644, NULL),
		 "owner: create in setgid dir as non-member");
	tap_eq(gid_of("sgid/ufile"), GID_OTHER,
	       "owner: file in setgid dir inherits the dir's gid");
	tap_eq(uid_of("sgid/ufile"), UID_USER,
	       "owner: file in setgid dir keeps creator's uid");
	tap_succ(mkdir("sgid/udir", 0755), "owner: mkdir in setgid dir");
	tap_eq(gid_of("sgid/udir"), GID_OTHER,
	       "owner: dir in setgid dir inherits the dir's gid");
	tap_eq(mode_of("sgid/udir") & S_ISGID, S_ISGID,
	       "owner: dir in setgid dir inherits S_ISGID");

	/* chmod g+s on a file of a group we are not in drops S_ISGID */
	chown("ufile", -1, GID_USER);
	tap_succ(chmod("sgid/ufile", 02755),
		 "owner: chmod 02755 as non-member of the file's group");
	tap_eq(mode_of("sgid/ufile"), 0755,
	       "owner: chmod by non-member silently clears S_ISGID");
	tap_succ(chmod("ufile", 02755), "owner: chmod 02755 as group member");
	tap_eq(mode_of("ufile"), 02755, "owner: group member may set S_ISGID");
}

static void fsuid_create(void *arg)
{
	(void)arg;
	/* still euid 0, only the filesystem ids change */
	setfsgid(GID_OTHER);
	setfsuid(UID_USER);
	tap_succ(mkfile("fsfile", 0644, NULL), "owner: create with fsuid 1000");
	setfsuid(0);
	setfsgid(0);
	tap_eq(uid_of("fsfile"), UID_USER, "owner: new file owned by fsuid");
	tap_eq(gid_of("fsfile"), GID_OTHER, "owner: new file group is fsgid");
}

/* Unprivileged writes and chowns strip the set-id bits. */
static void kill_suid_as_user(void *arg)
{
	int fd;

	(void)arg;
	fd = open("suid_w", O_WRONLY);
	tap_eq(write(fd, "x", 1), 1, "owner: non-owner writes a 06777 file");
	close(fd);
	tap_eq(mode_of("suid_w"), 0777,
	       "owner: write by non-root clears S_ISUID and S_ISGID");
	tap_succ(truncate("suid_t", 1), "owner: non-owner truncates 06777 file");
	tap_eq(mode_of("suid_t"), 0777,
	       "owner: truncate by non-root clears S_ISUID and S_ISGID");
	tap_succ(chown("suid_c", -1, GID_OTHER),
		 "owner: owner chgrp of its 06755 file to its group");
	tap_eq(mode_of("suid_c"), 0755,
	       "owner: chown by non-root clears S_ISUID and S_ISGID");
	/*
	 * No check of a 02644 file: whether a write by a non-member
	 * clears S_ISGID without group exec changed in Linux 6.2.
	 */
}

void t_owner(void)
{
	struct stat st;

	mkdir("sgid", 0777);
	chown("sgid", 0, GID_OTHER);
	chmod("sgid", 02777);
	tap_eq(mode_of("sgid"), 02777, "owner: root sets S_ISGID on a dir");
	run_as(UID_USER, GID_USER, 0, NULL, create_as_user, NULL);
	run_as(0, 0, 0, NULL, fsuid_create, NULL);

	/* root creating in a setgid dir */
	tap_succ(mkfile("sgid/rootfile", 0644, NULL),
		 "owner: root creates in setgid dir");
	tap_eq(gid_of("sgid/rootfile"), GID_OTHER,
	       "owner: root's file in setgid dir gets the dir's gid");
	tap_eq(gid_of("sgid"), GID_OTHER, "owner: setgid dir keeps its gid");

	/* chown by root */
	mkfile("c", 0644, NULL);
	tap_succ(chown("c", UID_USER, GID_OTHER), "owner: root chown");
	tap_ok(lstat("c", &st) == 0 && st.st_uid == UID_USER &&
	       st.st_gid == GID_OTHER, "owner: chown sets uid and gid");
	tap_succ(chown("c", -1, -1), "owner: chown -1 -1 is a no-op");
	tap_ok(uid_of("c") == UID_USER && gid_of("c") == GID_OTHER,
	       "owner: chown -1 -1 changes nothing");
	tap_succ(chown("c", -1, GID_USER), "owner: chown group only");
	tap_ok(uid_of("c") == UID_USER && gid_of("c") == GID_USER,
	       "owner: chown group only keeps the uid");
	symlink("c", "cl");
	tap_succ(lchown("cl", UID_NOBODY, GID_NOBODY), "owner: lchown symlink");
	tap_eq(uid_of("cl"), UID_NOBODY, "owner: lchown changes the link");
	tap_eq(uid_of("c"), UID_USER, "owner: lchown leaves the target alone");
	tap_succ(chown("cl", 0, 0), "owner: chown through symlink");
	tap_eq(uid_of("c"), 0, "owner: chown follows the symlink");
	tap_eq(uid_of("cl"), UID_NOBODY, "owner: chown leaves the link alone");

	mkfile("s", 0644, NULL);
	chmod("s", 06755);
	tap_eq(mode_of("s"), 06755, "owner: root sets S_ISUID|S_ISGID");
	tap_succ(chown("s", UID_USER, -1), "owner: root chowns a 06755 file");
	tap_eq(mode_of("s") & S_ISUID, 0, "owner: chown by root clears S_ISUID");
	tap_eq(mode_of("s") & S_ISGID, 0,
	       "owner: chown by root clears group-exec S_ISGID");
	mkdir("sd", 0755);
	chmod("sd", 02755);
	chown("sd", UID_USER, GID_USER);
	tap_eq(mode_of("sd"), 02755, "owner: chown of a dir keeps S_ISGID");

	mkfile("suid_w", 0666, NULL);
	chmod("suid_w", 06777);
	mkfile("suid_t", 0666, NULL);
	chmod("suid_t", 06777);
	mkfile("suid_c", 0644, NULL);
	chown("suid_c", UID_USER, GID_USER);
	chmod("suid_c", 06755);
	run_as(UID_USER, GID_USER, 1, grp_other, kill_suid_as_user, NULL);

	/* root writing does not need to clear the bits (CAP_FSETID) */
	mkfile("s2", 0644, NULL);
	chmod("s2", 04755);
	mkfile("s2", 0644, "root writes");
	tap_eq(mode_of("s2"), 04755, "owner: write by root keeps S_ISUID");
}
