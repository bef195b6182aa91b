// SPDX-License-Identifier: GPL-2.0
/*
 * posix_test - POSIX semantics checks for a mounted filesystem.
 *
 *   posix_test [-v] [-k] [-x FEATURE]... [-g GROUP]... DIR
 *
 * Creates DIR/posix_test.PID, runs every group in its own subdirectory,
 * removes everything (unless -k) and exits 0 iff no check failed.
 * Must run as root: permission checks fork children that drop to
 * unprivileged uids and gids.
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
};

#define NGROUPS (sizeof(posix_groups) / sizeof(posix_groups[0]))

bool posix_excluded(const char *feature)
{
	int i;

	for (i = 0; i < posix_opts.nexcludes; i++)
		if (!strcmp(posix_opts.excludes[i], feature))
			return true;
	return false;
}

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: posix_test [-v] [-k] [-x FEATURE]... [-g GROUP]... DIR\n"
		   "  -v  verbose   -k  keep scratch directory\n"
		   "  -x  report FEATURE's checks as SKIP "
		   "(atime, tmpfile, xattr, fifo, socket)\n"
		   "  -g  run only GROUP:");
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

	while ((opt = getopt(argc, argv, "vkx:g:h")) != -1) {
		switch (opt) {
		case 'v':
			posix_opts.verbose = 1;
			break;
		case 'k':
			posix_opts.keep = 1;
			break;
		case 'x':
			if (posix_opts.nexcludes < 32)
				posix_opts.excludes[posix_opts.nexcludes++] = optarg;
			break;
		case 'g':
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
	tap_init(posix_opts.verbose);
	if (geteuid() != 0) {
		printf("1..0 # SKIP posix_test must run as root\n");
		return 4;	/* kselftest "skip" */
	}

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
