/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bdi.h - the backing device of an mqfuse mount, for the selftests.
 *
 * An mqfuse mount's dirty limit is strict (BDI_CAP_STRICTLIMIT, like
 * stock FUSE): a fresh backing device has no share of the writeout yet,
 * so a writer dirtying pages is throttled in balance_dirty_pages() until
 * writeback completes. A test whose daemon holds WRITEs while the client
 * dirties pages gives the mount a guaranteed share (min_ratio) first.
 */
#ifndef MQFUSE_SELFTEST_BDI_H
#define MQFUSE_SELFTEST_BDI_H

#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* Write @val to /sys/class/bdi/<dev of @path>/@knob: 0, or -1. */
static inline int mq_bdi_set_ratio(const char *path, const char *knob, int val)
{
	char p[128];
	struct stat st;
	FILE *f;
	int r;

	if (stat(path, &st))
		return -1;
	snprintf(p, sizeof(p), "/sys/class/bdi/%u:%u/%s", major(st.st_dev), minor(st.st_dev),
		 knob);
	f = fopen(p, "w");
	if (!f)
		return -1;
	r = fprintf(f, "%d\n", val) > 0 ? 0 : -1;
	if (fclose(f))
		r = -1;
	return r;
}

#endif
