// SPDX-License-Identifier: GPL-2.0
/*
 * kpage_test - page-cache regression checks on an mqfuse mount served by
 * mqfused, compared with the backing directory.
 *
 *   kpage_test MNT SRC
 *
 * MNT is the mqfuse mount (consistency=cto), SRC its backing directory.
 * Prints TAP lines; exit status 1 if any check failed.
 *
 *  copy_file_range into unaligned ranges of a cached destination: the
 *    copied bytes read back (through the cache and in SRC), the bytes
 *    around them are unchanged, i_size follows a copy past EOF.
 *  cto: pages cached before our own write+close are dropped at the next
 *    open when another writer changed the file after our close.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../common/tap.h"

#define FSIZE	(64 * 1024)


#define tap(cond, ...)	tap_ok(cond, __VA_ARGS__)

static void fill_random(unsigned char *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = seed >> 16;
	}
}

static int write_all(int fd, const void *p, size_t n, off_t off)
{
	return pwrite(fd, p, n, off) == (ssize_t)n ? 0 : -1;
}

/* First differing offset of @a and @b, or -1. */
static long first_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

static int read_file(const char *path, unsigned char *p, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t r;

	if (fd < 0)
		return -1;
	r = pread(fd, p, n, 0);
	close(fd);
	return r == (ssize_t)n ? 0 : -1;
}

/* Copy @len bytes, looping on short copies; returns 0 on success. */
static int copy_range(int in, off_t off_in, int out, off_t off_out, size_t len)
{
	while (len) {
		ssize_t n = copy_file_range(in, &off_in, out, &off_out, len, 0);

		if (n <= 0)
			return -1;
		len -= n;
	}
	return 0;
}

static void test_copy_unaligned(const char *mnt, const char *src)
{
	static const struct { off_t in, out; size_t len; } cases[] = {
		{ 0, 1000, 3000 },	/* the reported case: inside one page */
		{ 5, 4095, 2 },		/* straddles a page boundary */
		{ 4096, 6000, 5000 },	/* partial, whole-page crossing, partial */
		{ 777, 12345, 8192 },
		{ 100, 40000, 1 },
		{ 8192, 20480, 4096 },	/* aligned, for contrast */
	};
	char sp[512], dp[512], bp[512];
	unsigned char *srcd, *model, *got;
	int in, out;
	unsigned int i;
	struct stat st;

	srcd = malloc(FSIZE);
	model = malloc(FSIZE + 8192);
	got = malloc(FSIZE + 8192);
	snprintf(sp, sizeof(sp), "%s/kp_copy_src", mnt);
	snprintf(dp, sizeof(dp), "%s/kp_copy_dst", mnt);
	snprintf(bp, sizeof(bp), "%s/kp_copy_dst", src);
	fill_random(srcd, FSIZE, 1);
	fill_random(model, FSIZE, 2);
	in = open(sp, O_RDWR | O_CREAT | O_TRUNC, 0644);
	out = open(dp, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || out < 0 || write_all(in, srcd, FSIZE, 0) || write_all(out, model, FSIZE, 0)) {
		tap(0, "copy_file_range: set up files (%s)", strerror(errno));
		goto out;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long d;

		/* cache the whole destination first */
		if (pread(out, got, FSIZE, 0) != FSIZE) {
			tap(0, "copy_file_range: cache the destination");
			continue;
		}
		if (copy_range(in, cases[i].in, out, cases[i].out, cases[i].len)) {
			tap(0, "copy_file_range %zu bytes %lld -> %lld (%s)", cases[i].len,
			    (long long)cases[i].in, (long long)cases[i].out, strerror(errno));
			continue;
		}
		memcpy(model + cases[i].out, srcd + cases[i].in, cases[i].len);
		memset(got, 0, FSIZE);
		d = pread(out, got, FSIZE, 0) == FSIZE ? first_diff(model, got, FSIZE) : 0;
		tap(d < 0, "copy_file_range %zu bytes %lld -> %lld of a cached file reads back%s",
		    cases[i].len, (long long)cases[i].in, (long long)cases[i].out,
		    d < 0 ? "" : " (first difference below)");
		if (d >= 0)
			printf("# offset %ld: expected 0x%02x got 0x%02x\n", d, model[d], got[d]);
	}
	/* a copy across EOF extends the file */
	if (copy_range(in, 1000, out, FSIZE - 100, 3000) == 0) {
		memcpy(model + FSIZE - 100, srcd + 1000, 3000);
		if (fstat(out, &st))
			st.st_size = -1;
		tap(st.st_size == FSIZE + 2900,
		    "copy_file_range past EOF: size %lld (expected %d)",
		    (long long)st.st_size, FSIZE + 2900);
		tap(pread(out, got, FSIZE + 2900, 0) == FSIZE + 2900 &&
		    first_diff(model, got, FSIZE + 2900) < 0,
		    "copy_file_range past EOF reads back");
	} else {
		tap(0, "copy_file_range past EOF (%s)", strerror(errno));
	}
	close(out);
	tap(read_file(bp, got, FSIZE + 2900) == 0 && first_diff(model, got, FSIZE + 2900) < 0,
	    "copy_file_range: backing file equals the model");
out:
	if (in >= 0)
		close(in);
	unlink(sp);
	unlink(dp);
	free(srcd);
	free(model);
	free(got);
}

static void test_cto_other_writer(const char *mnt, const char *src)
{
	char mp[512], bp[512];
	unsigned char buf[16384], got[4096];
	int fd, bfd;

	snprintf(mp, sizeof(mp), "%s/kp_cto", mnt);
	snprintf(bp, sizeof(bp), "%s/kp_cto", src);
	memset(buf, 'a', sizeof(buf));
	fd = open(mp, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write_all(fd, buf, sizeof(buf), 0) || close(fd)) {
		tap(0, "cto: set up (%s)", strerror(errno));
		return;
	}
	/* open, cache every page, write one byte ourselves, close */
	fd = open(mp, O_RDWR);
	if (fd < 0 || pread(fd, buf, sizeof(buf), 0) != sizeof(buf) ||
	    write_all(fd, "b", 1, 0) || close(fd)) {
		tap(0, "cto: read and own write (%s)", strerror(errno));
		return;
	}
	/* another client changes page 2 after our close (new mtime) */
	usleep(20000);
	bfd = open(bp, O_WRONLY);
	memset(buf, 'X', 4096);
	if (bfd < 0 || write_all(bfd, buf, 4096, 8192) || close(bfd)) {
		tap(0, "cto: write to the backing file (%s)", strerror(errno));
		return;
	}
	fd = open(mp, O_RDONLY);
	if (fd < 0 || pread(fd, got, sizeof(got), 8192) != sizeof(got)) {
		tap(0, "cto: reopen and read (%s)", strerror(errno));
		return;
	}
	tap(got[0] == 'X' && got[4095] == 'X',
	    "cto: open after our own write sees another writer's later change (got '%c')",
	    got[0]);
	if (pread(fd, got, 1, 0) == 1)
		tap(got[0] == 'b', "cto: our own write is still there");
	close(fd);
	unlink(mp);
}

int main(int argc, char **argv)
{
	tap_init(0);	/* line buffered: children fork with nothing pending */
	if (argc != 3) {
		fprintf(stderr, "usage: %s MNT SRC\n", argv[0]);
		return 2;
	}
	test_copy_unaligned(argv[1], argv[2]);
	test_cto_other_writer(argv[1], argv[2]);
	printf("# %d failed\n", tap_state.failed);
	return tap_state.failed ? 1 : 0;
}
