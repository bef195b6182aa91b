// SPDX-License-Identifier: GPL-2.0
/*
 * Per-opcode request statistics.  Each serving thread counts into its own
 * struct mq_thread_stats (its lock is uncontended except while a dump
 * runs); mq_stats_write() merges all threads and writes the text file
 * atomically (temporary file + rename).
 *
 * File format, one record per line:
 *   op=NAME count=N bytes=N max=N
 *   size op=NAME bytes=SIZE count=N      (READ, WRITE, READDIR, READDIRPLUS)
 *   thread=I queue=Q requests=N
 *   transport thread=I kind=ring|dev depth=N buf_size=N COUNTERS
 *   transport total ring_threads=N dev_threads=N COUNTERS
 *   inodes=N handles=N
 * "bytes" is the payload size for WRITE, the requested size for READ and
 * READDIR(PLUS), and the request length for every other opcode.  COUNTERS
 * are struct mq_transport_stats's, as name=N: batches requests replies
 * umem_write_bytes umem_read_bytes copied_bytes spare_replies
 * write_replies bad_descriptors refused_replies, summed in the total
 * line, and max_inflight (the most io_uring operations a thread had in
 * flight at once; the total line: the most of any thread).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqfused.h"

static const char *const mq_op_names[MQ_NR_OPS] = {
	[FUSE_LOOKUP] = "LOOKUP",		[FUSE_FORGET] = "FORGET",
	[FUSE_GETATTR] = "GETATTR",		[FUSE_SETATTR] = "SETATTR",
	[FUSE_READLINK] = "READLINK",		[FUSE_SYMLINK] = "SYMLINK",
	[FUSE_MKNOD] = "MKNOD",			[FUSE_MKDIR] = "MKDIR",
	[FUSE_UNLINK] = "UNLINK",		[FUSE_RMDIR] = "RMDIR",
	[FUSE_RENAME] = "RENAME",		[FUSE_LINK] = "LINK",
	[FUSE_OPEN] = "OPEN",			[FUSE_READ] = "READ",
	[FUSE_WRITE] = "WRITE",			[FUSE_STATFS] = "STATFS",
	[FUSE_RELEASE] = "RELEASE",		[FUSE_FSYNC] = "FSYNC",
	[FUSE_SETXATTR] = "SETXATTR",		[FUSE_GETXATTR] = "GETXATTR",
	[FUSE_LISTXATTR] = "LISTXATTR",		[FUSE_REMOVEXATTR] = "REMOVEXATTR",
	[FUSE_FLUSH] = "FLUSH",			[FUSE_INIT] = "INIT",
	[FUSE_OPENDIR] = "OPENDIR",		[FUSE_READDIR] = "READDIR",
	[FUSE_RELEASEDIR] = "RELEASEDIR",	[FUSE_FSYNCDIR] = "FSYNCDIR",
	[FUSE_GETLK] = "GETLK",			[FUSE_SETLK] = "SETLK",
	[FUSE_SETLKW] = "SETLKW",		[FUSE_ACCESS] = "ACCESS",
	[FUSE_CREATE] = "CREATE",		[FUSE_INTERRUPT] = "INTERRUPT",
	[FUSE_BMAP] = "BMAP",			[FUSE_DESTROY] = "DESTROY",
	[FUSE_IOCTL] = "IOCTL",			[FUSE_POLL] = "POLL",
	[FUSE_NOTIFY_REPLY] = "NOTIFY_REPLY",	[FUSE_BATCH_FORGET] = "BATCH_FORGET",
	[FUSE_FALLOCATE] = "FALLOCATE",		[FUSE_READDIRPLUS] = "READDIRPLUS",
	[FUSE_RENAME2] = "RENAME2",		[FUSE_LSEEK] = "LSEEK",
	[FUSE_COPY_FILE_RANGE] = "COPY_FILE_RANGE",
	[FUSE_SETUPMAPPING] = "SETUPMAPPING",	[FUSE_REMOVEMAPPING] = "REMOVEMAPPING",
	[FUSE_SYNCFS] = "SYNCFS",		[FUSE_TMPFILE] = "TMPFILE",
};

static struct mq_thread *mq_stats_threads;
static unsigned int mq_stats_nr_threads;

const char *mq_opcode_name(uint32_t opcode)
{
	if (opcode < MQ_NR_OPS && mq_op_names[opcode])
		return mq_op_names[opcode];
	return NULL;
}

static bool mq_op_is_sized(uint32_t opcode)
{
	return opcode == FUSE_READ || opcode == FUSE_WRITE ||
	       opcode == FUSE_READDIR || opcode == FUSE_READDIRPLUS;
}

int mq_stats_thread_init(struct mq_thread_stats *ts)
{
	uint32_t op;

	memset(ts, 0, sizeof(*ts));
	pthread_mutex_init(&ts->lock, NULL);
	for (op = 0; op < MQ_NR_OPS; op++) {
		if (!mq_op_is_sized(op))
			continue;
		ts->ops[op].sizes = calloc(MQ_STATS_SIZES,
					   sizeof(*ts->ops[op].sizes));
		if (!ts->ops[op].sizes) {
			mq_stats_thread_free(ts);
			return -ENOMEM;
		}
	}
	return 0;
}

void mq_stats_thread_free(struct mq_thread_stats *ts)
{
	uint32_t op;

	for (op = 0; op < MQ_NR_OPS; op++) {
		free(ts->ops[op].sizes);
		ts->ops[op].sizes = NULL;
	}
}

void mq_stats_register_threads(struct mq_thread *threads, unsigned int nr)
{
	mq_stats_threads = threads;
	mq_stats_nr_threads = nr;
}

/* Count one size; when the table is full the rarest size is replaced. */
static void mq_size_account(struct mq_op_stats *os, uint32_t size)
{
	unsigned int i, victim = 0;

	for (i = 0; i < os->nr_sizes; i++) {
		if (os->sizes[i].size == size) {
			os->sizes[i].count++;
			return;
		}
		if (os->sizes[i].count < os->sizes[victim].count)
			victim = i;
	}
	if (os->nr_sizes < MQ_STATS_SIZES)
		victim = os->nr_sizes++;
	os->sizes[victim].size = size;
	os->sizes[victim].count = 1;
}

void mq_stats_account(struct mq_thread_stats *ts, uint32_t opcode,
		      uint64_t bytes)
{
	struct mq_op_stats *os;

	pthread_mutex_lock(&ts->lock);
	ts->requests++;
	if (opcode < MQ_NR_OPS) {
		os = &ts->ops[opcode];
		os->count++;
		os->bytes += bytes;
		if (bytes > os->max)
			os->max = bytes;
		if (os->sizes)
			mq_size_account(os, bytes);
	}
	pthread_mutex_unlock(&ts->lock);
}

void mq_stats_set_transport(struct mq_thread_stats *ts, unsigned int depth,
			    uint32_t buf_size)
{
	pthread_mutex_lock(&ts->lock);
	ts->ring_depth = depth;
	ts->ring_buf_size = depth ? buf_size : 0;
	pthread_mutex_unlock(&ts->lock);
}

static void mq_transport_add(struct mq_transport_stats *x,
			     const struct mq_transport_stats *d)
{
	x->batches += d->batches;
	x->requests += d->requests;
	x->replies += d->replies;
	x->umem_write_bytes += d->umem_write_bytes;
	x->umem_read_bytes += d->umem_read_bytes;
	x->copied_bytes += d->copied_bytes;
	x->spare_replies += d->spare_replies;
	x->write_replies += d->write_replies;
	x->bad_descriptors += d->bad_descriptors;
	x->refused_replies += d->refused_replies;
	if (d->max_inflight > x->max_inflight)
		x->max_inflight = d->max_inflight;
}

void mq_stats_transport(struct mq_thread_stats *ts,
			const struct mq_transport_stats *d)
{
	pthread_mutex_lock(&ts->lock);
	mq_transport_add(&ts->xport, d);
	pthread_mutex_unlock(&ts->lock);
}

static void mq_stats_print_transport(FILE *f, const struct mq_transport_stats *x)
{
	fprintf(f, " batches=%llu requests=%llu replies=%llu umem_write_bytes=%llu umem_read_bytes=%llu copied_bytes=%llu spare_replies=%llu write_replies=%llu bad_descriptors=%llu refused_replies=%llu max_inflight=%llu\n",
		(unsigned long long)x->batches,
		(unsigned long long)x->requests,
		(unsigned long long)x->replies,
		(unsigned long long)x->umem_write_bytes,
		(unsigned long long)x->umem_read_bytes,
		(unsigned long long)x->copied_bytes,
		(unsigned long long)x->spare_replies,
		(unsigned long long)x->write_replies,
		(unsigned long long)x->bad_descriptors,
		(unsigned long long)x->refused_replies,
		(unsigned long long)x->max_inflight);
}

/* Per thread, then the sum (the threads' stats locks held). */
static void mq_stats_write_transport(FILE *f)
{
	struct mq_transport_stats total = { 0 };
	unsigned int t, rings = 0;

	for (t = 0; t < mq_stats_nr_threads; t++) {
		const struct mq_thread_stats *ts = &mq_stats_threads[t].stats;
		const struct mq_transport_stats *x = &ts->xport;

		fprintf(f, "transport thread=%u kind=%s depth=%u buf_size=%u",
			mq_stats_threads[t].index, ts->ring_depth ? "ring" : "dev",
			ts->ring_depth, ts->ring_buf_size);
		mq_stats_print_transport(f, x);
		rings += ts->ring_depth != 0;
		mq_transport_add(&total, x);
	}
	fprintf(f, "transport total ring_threads=%u dev_threads=%u", rings,
		mq_stats_nr_threads - rings);
	mq_stats_print_transport(f, &total);
}

static int mq_size_cmp(const void *a, const void *b)
{
	const struct mq_size_count *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->size < y->size ? -1 : x->size > y->size;
}

/* Merge the size tables of all threads for @op and print the top ones. */
static void mq_stats_write_sizes(FILE *f, uint32_t op)
{
	struct mq_size_count *all;
	unsigned int n = 0, t, i, j;

	all = calloc((size_t)mq_stats_nr_threads * MQ_STATS_SIZES, sizeof(*all));
	if (!all)
		return;
	for (t = 0; t < mq_stats_nr_threads; t++) {
		struct mq_op_stats *os = &mq_stats_threads[t].stats.ops[op];

		for (i = 0; i < os->nr_sizes; i++) {
			for (j = 0; j < n; j++)
				if (all[j].size == os->sizes[i].size)
					break;
			if (j == n)
				all[n++].size = os->sizes[i].size;
			all[j].count += os->sizes[i].count;
		}
	}
	qsort(all, n, sizeof(*all), mq_size_cmp);
	for (i = 0; i < n && i < MQ_STATS_SIZES_OUT; i++)
		fprintf(f, "size op=%s bytes=%u count=%llu\n",
			mq_opcode_name(op), all[i].size,
			(unsigned long long)all[i].count);
	free(all);
}

static void mq_stats_lock_all(bool lock)
{
	unsigned int t;

	for (t = 0; t < mq_stats_nr_threads; t++) {
		if (lock)
			pthread_mutex_lock(&mq_stats_threads[t].stats.lock);
		else
			pthread_mutex_unlock(&mq_stats_threads[t].stats.lock);
	}
}

static void mq_stats_print(FILE *f)
{
	uint32_t op;
	unsigned int t;

	mq_stats_lock_all(true);
	for (op = 0; op < MQ_NR_OPS; op++) {
		uint64_t count = 0, bytes = 0, max = 0;

		for (t = 0; t < mq_stats_nr_threads; t++) {
			struct mq_op_stats *os = &mq_stats_threads[t].stats.ops[op];

			count += os->count;
			bytes += os->bytes;
			if (os->max > max)
				max = os->max;
		}
		if (!count)
			continue;
		if (mq_opcode_name(op))
			fprintf(f, "op=%s count=%llu bytes=%llu max=%llu\n",
				mq_opcode_name(op), (unsigned long long)count,
				(unsigned long long)bytes,
				(unsigned long long)max);
		else
			fprintf(f, "op=%u count=%llu bytes=%llu max=%llu\n", op,
				(unsigned long long)count,
				(unsigned long long)bytes,
				(unsigned long long)max);
	}
	for (op = 0; op < MQ_NR_OPS; op++)
		if (mq_op_is_sized(op))
			mq_stats_write_sizes(f, op);
	for (t = 0; t < mq_stats_nr_threads; t++)
		fprintf(f, "thread=%u queue=%u requests=%llu\n",
			mq_stats_threads[t].index, mq_stats_threads[t].queue,
			(unsigned long long)mq_stats_threads[t].stats.requests);
	mq_stats_write_transport(f);
	mq_stats_lock_all(false);
	fprintf(f, "inodes=%llu handles=%llu\n",
		(unsigned long long)mq_itable_count(),
		(unsigned long long)mq_handles_count());
}

/*
 * Sandboxed, the stats file's directory is out of reach: the serving
 * process renders the text (mq_stats_render()) and the monitor, outside,
 * writes it with mq_stats_write_text().  Either way the file is replaced
 * by a rename, so a reader never sees half of it and a path deleted by
 * the reader (rm, then SIGUSR1) comes back.
 */

/* The stats text in a malloc()ed buffer; -errno on failure. */
int mq_stats_render(char **bufp, size_t *lenp)
{
	FILE *f = open_memstream(bufp, lenp);

	if (!f)
		return -ENOMEM;
	mq_stats_print(f);
	if (fclose(f)) {
		free(*bufp);
		*bufp = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* Write @len bytes of @buf to @path through a temporary file and rename. */
int mq_stats_write_text(const char *path, const char *buf, size_t len)
{
	char tmp[4096];
	size_t done = 0;
	int fd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	while (!ret && done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0 && errno != EINTR)
			ret = -errno;
		else if (n > 0)
			done += n;
	}
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int mq_stats_write(const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	int ret;

	if (!path)
		return 0;
	ret = mq_stats_render(&buf, &len);
	if (ret)
		return ret;
	if (mq_monitor_active())
		ret = mq_monitor_stats(buf, len);
	else
		ret = mq_stats_write_text(path, buf, len);
	free(buf);
	return ret;
}
