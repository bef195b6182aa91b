// SPDX-License-Identifier: GPL-2.0
/*
 * posix_test - POSIX semantics checks for a mounted filesystem.
 *
 *   posix_test [-v] [-k] [-x FEATURE]... [-r FEATURE[,FEATURE]]...
 *              [-b BACKING] [-g GROUP]... DIR
 *
 * Creates DIR/posix_test.PID, runs every group in its own subdirectory,
 * removes everything (unless -k) and exits 0 iff no check failed.
 * Must run as root: permission checks fork children that drop to
 * unprivileged uids and gids.  -r lists features the filesystem claims:
 * their SKIP becomes a failure.  -b names the directory a passthrough
 * mount serves, so statfs can be compared with it.
 */
#include "posix_test.h"

#include <getopt.h>
#include <limits.h>
#include <sys/stat.h>

struct posix_opts posix_opts;

static const struct posix_group posix_groups[] = {
	{ "open",   t_open },
	{ "perm",   t_perm },
	{ "owner",  t_owner },
	{ "time",   t_time },
	{ "rename", t_rename },
	{ "link",   t_link },
	{ "dir",    t_dir },
	{ "data",   t_data },
	{ "xattr",  t_xattr },
	{ "lock",   t_lock },
	{ "misc",   t_misc },
	{ "killpriv", t_killpriv },
};

#define NGROUPS (sizeof(posix_groups) / sizeof(posix_groups[0]))

/* Every optional feature that has a SKIP somewhere in the groups. */
static const char *const posix_features[] = {
	"atime",	/* time: read updates atime */
	"tmpfile",	/* open: O_TMPFILE */
	"xattr",	/* xattr: user.* attributes */
	"fifo",		/* dir: mkfifo */
	"socket",	/* dir: mknod S_IFSOCK */
	"rename_flags",	/* rename: RENAME_NOREPLACE, RENAME_EXCHANGE */
	"fallocate",	/* data: fallocate mode 0 and KEEP_SIZE */
	"punch_hole",	/* data: FALLOC_FL_PUNCH_HOLE */
	"zero_range",	/* data: FALLOC_FL_ZERO_RANGE */
	"seek_data",	/* data: SEEK_DATA/SEEK_HOLE */
	"large_file",	/* data: offsets above 4 GiB */
	"file_caps",	/* killpriv: a write by non-root removes security.capability */
	/*
	 * killpriv: kills only the kernel can judge (S_ISGID without group
	 * exec for a writer outside the group; O_TRUNC by uid 0 without
	 * CAP_FSETID), which stock FUSE without FUSE_HANDLE_KILLPRIV_V2 drops
	 */
	"kill_nocap",
	/*
	 * lock: a flock is free once its holder closed it (or exited); on
	 * stock FUSE the unlock rides on the asynchronous RELEASE, so with a
	 * slow daemon a flock taken right after can still conflict
	 */
	"flock_close",
};

#define NFEATURES (sizeof(posix_features) / sizeof(posix_features[0]))

static bool listed(const char *const *list, int n, const char *feature)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(list[i], feature))
			return true;
	return false;
}

bool posix_excluded(const char *feature)
{
	return listed(posix_opts.excludes, posix_opts.nexcludes, feature);
}

bool posix_required(const char *feature)
{
	return listed(posix_opts.requires, posix_opts.nrequires, feature);
}

/* A misspelt feature would make -x or -r silently do nothing. */
static bool known_feature(const char *feature)
{
	return listed(posix_features, NFEATURES, feature);
}

/* -r A,B,C: add each name; false on an unknown one. */
static bool add_required(char *arg)
{
	char *name, *save = NULL;

	for (name = strtok_r(arg, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		if (!known_feature(name) || posix_opts.nrequires >= 32)
			return false;
		posix_opts.requires[posix_opts.nrequires++] = name;
	}
	return true;
}

static bool known_group(const char *name)
{
	size_t i;

	for (i = 0; i < NGROUPS; i++)
		if (!strcmp(posix_groups[i].name, name))
			return true;
	return false;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: posix_test [-v] [-k] [-x FEATURE]... [-r FEATURE[,FEATURE]]...\n"
		   "                  [-b BACKING] [-g GROUP]... DIR\n"
		   "  -v  verbose   -k  keep scratch directory\n"
		   "  -x  report FEATURE's checks as SKIP\n"
		   "  -r  FEATURE is claimed: its SKIP is a failure\n"
		   "  -b  DIR is served from BACKING (statfs compared)\n"
		   "  FEATURE:");
	for (i = 0; i < NFEATURES; i++)
		fprintf(f, " %s", posix_features[i]);
	fprintf(f, "\n  -g  run only GROUP:");
	for (i = 0; i < NGROUPS; i++)
		fprintf(f, " %s", posix_groups[i].name);
	fputc('\n', f);
}

int main(int argc, char **argv)
{
	const char *only[NGROUPS];
	char top[PATH_MAX];
	int nonly = 0, opt;
	size_t i;

	while ((opt = getopt(argc, argv, "vkx:r:b:g:h")) != -1) {
		switch (opt) {
		case 'v':
			posix_opts.verbose = 1;
			break;
		case 'k':
			posix_opts.keep = 1;
			break;
		case 'x':
			if (!known_feature(optarg) || posix_opts.nexcludes >= 32) {
				fprintf(stderr, "posix_test: -x %s: unknown feature\n",
					optarg);
				usage(stderr);
				return 2;
			}
			posix_opts.excludes[posix_opts.nexcludes++] = optarg;
			break;
		case 'r':
			if (!add_required(optarg)) {
				fprintf(stderr, "posix_test: -r: unknown feature in %s\n",
					optarg);
				usage(stderr);
				return 2;
			}
			break;
		case 'b':
			posix_opts.backing = optarg;
			break;
		case 'g':
			if (!known_group(optarg)) {
				fprintf(stderr, "posix_test: -g %s: unknown group\n",
					optarg);
				usage(stderr);
				return 2;
			}
			if (nonly < (int)NGROUPS)
				only[nonly++] = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	for (i = 0; i < (size_t)posix_opts.nexcludes; i++) {
		if (posix_required(posix_opts.excludes[i])) {
			fprintf(stderr, "posix_test: %s both excluded and required\n",
				posix_opts.excludes[i]);
			return 2;
		}
	}
	tap_init(posix_opts.verbose);
	if (geteuid() != 0) {
		printf("1..0 # SKIP posix_test must run as root\n");
		return 4;	/* kselftest "skip" */
	}

	posix_opts.dir = argv[optind];
	snprintf(top, sizeof(top), "%s/posix_test.%d", argv[optind], getpid());
	umask(022);
	if (mkdir(top, 0777) || chmod(top, 0777) || chdir(top)) {
		printf("Bail out! cannot set up %s: %s\n", top, strerror(errno));
		return 1;
	}

	for (i = 0; i < NGROUPS; i++) {
		const struct posix_group *g = &posix_groups[i];
		int j, run = !nonly;

		for (j = 0; j < nonly; j++)
			run |= !strcmp(only[j], g->name);
		if (!run)
			continue;
		tap_diag("group %s", g->name);
		if (mkdir(g->name, 0777) || chmod(g->name, 0777) ||
		    chdir(g->name)) {
			tap_ok(0, "%s: set up group directory: %s", g->name,
			       strerror(errno));
			continue;
		}
		umask(022);
		g->run();
		umask(022);
		if (chdir(top))
			tap_ok(0, "%s: back to scratch dir: %s", g->name,
			       strerror(errno));
	}

	if (chdir("/") == 0 && !posix_opts.keep)
		tap_succ(rm_rf(top), "cleanup: remove scratch directory");
	return tap_done();
}
