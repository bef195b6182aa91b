/* SPDX-License-Identifier: GPL-2.0 */
/*
 * posix_test.h - shared declarations of the POSIX semantics suite.
 *
 * Every check is one TAP line (see ../common/tap.h).  Each test group
 * lives in its own t_*.c file, runs in its own subdirectory of the
 * suite's scratch directory (the process cwd) and is listed in
 * posix_groups[] in main.c.
 */
#ifndef MQFUSE_POSIX_TEST_H
#define MQFUSE_POSIX_TEST_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "../common/tap.h"

/* Unprivileged identities used by the permission checks. */
#define UID_NOBODY	65534
#define GID_NOBODY	65534
#define GID_OTHER	65533
#define UID_USER	1000
#define GID_USER	1000

/* Suite-wide settings from the command line. */
struct posix_opts {
	int verbose;		/* -v: extra diagnostics */
	int keep;		/* -k: keep the scratch directory */
	const char *excludes[32]; /* -x NAME: features reported as SKIP */
	int nexcludes;
	const char *requires[32]; /* -r NAME: features whose SKIP is a failure */
	int nrequires;
	const char *backing;	/* -b DIR: the directory the mount passes through to */
	const char *dir;	/* DIR: the directory under test (BACKING's view) */
};

extern struct posix_opts posix_opts;

/* A test group: one t_*.c file. */
struct posix_group {
	const char *name;	/* also the name of its subdirectory */
	void (*run)(void);
};

/*
 * Optional features, each reported as one SKIP when the filesystem does
 * not provide it (see the comment at each use).  -x NAME makes NAME's
 * checks SKIP; -r NAME (for a filesystem that claims NAME) makes NAME's
 * SKIP a failure.  Names: see posix_features[] in main.c.
 */
bool posix_excluded(const char *feature);
bool posix_required(const char *feature);

/*
 * posix_skip(FEATURE, NAME, FMT...): FEATURE is unavailable.  "ok - NAME #
 * SKIP reason", or "not ok - NAME: ..." when FEATURE is required (-r).
 */
#define posix_skip(feature, name, ...)					\
do {									\
	if (posix_required(feature)) {					\
		tap_ok(0, "%s: required feature '%s' unavailable", name, feature); \
		tap_diag("  " __VA_ARGS__);				\
	} else {							\
		tap_skip(name, __VA_ARGS__);				\
	}								\
} while (0)

/* util.c */
int mkfile(const char *path, mode_t mode, const char *data);
int mkfile_len(const char *path, mode_t mode, size_t len);
int lst(const char *path, struct stat *st);
long mode_of(const char *path);
long nlink_of(const char *path);
long long size_of(const char *path);
long uid_of(const char *path);
long gid_of(const char *path);
bool exists(const char *path);
char *read_all(const char *path, size_t *len);
bool file_is(const char *path, const char *data);
int set_times(const char *path, time_t atime, time_t mtime);
int ts_cmp(const struct timespec *a, const struct timespec *b);
void tick(void);
int rm_rf(const char *path);
int run_as(uid_t uid, gid_t gid, int ngroups, const gid_t *groups,
	   void (*fn)(void *arg), void *arg);
bool fs_supports_errno(int ret, int err);

/* Groups, one per file. */
void t_open(void);
void t_perm(void);
void t_owner(void);
void t_time(void);
void t_rename(void);
void t_link(void);
void t_dir(void);
void t_data(void);
void t_xattr(void);
void t_lock(void);
void t_misc(void);
void t_killpriv(void);

#endif /* MQFUSE_POSIX_TEST_H */
