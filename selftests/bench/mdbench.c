// SPDX-License-Identifier: GPL-2.0
/*
 * mdbench - metadata rates for the mqfuse benchmark (selftests/bench).
 *
 *   mdbench meta [-t THREADS] [-n FILES] [-D] DIR
 *	Each thread creates FILES empty files in its own directory DIR/tN
 *	(open O_CREAT|O_EXCL, close), then every thread stats its files,
 *	then unlinks them.  Prints one line per phase: "create OPS/S",
 *	"stat OPS/S", "unlink OPS/S" (all threads together, wall time from
 *	the start barrier to the last thread's end).  -D drops the page,
 *	dentry and inode caches before the stat phase, so that stat costs a
 *	LOOKUP on a FUSE mount instead of hitting the dentry cache.
 *
 *   mdbench mkfiles DIR N
 *	Create N empty files DIR/fNNNNNNN (setup for "list"; not timed).
 *
 *   mdbench list [-s] DIR
 *	Read the whole directory with getdents64 (and fstatat() every entry
 *	with -s, like "ls -l").  Prints "list SECONDS ENTRIES".
 *
 *   mdbench write [-n] [-b BS] -s BYTES FILE
 *	Create or truncate FILE, write BYTES to it sequentially in BS-byte
 *	write(2)s (default 4096), fsync it (not with -n) and close it.
 *	Prints "write MIB/S SECONDS BYTES".  The time runs from before the
 *	open to after the close: a writeback cache is credited only for data
 *	the daemon has (with fsync: that the store has fsync'ed; with -n:
 *	that close handed to the daemon, which the FUSE modes all wait for).
 *
 *   mdbench reread [-b BS] [-T SECONDS] FILE
 *	Read FILE whole once (open, read(2)s of BS bytes, default 128 KiB,
 *	close; not timed), then again, each pass opening and closing it,
 *	until SECONDS (default 1) have passed, at least once.  Nothing is
 *	dropped in between: this measures rereading a cached file, open's
 *	revalidation included.  Every pass must read as many bytes as the
 *	first.  Prints "reread MIB/S PASSES BYTES" (BYTES: one pass).
 *
 *   mdbench storm [-T SECONDS] stat|open DIR N
 *	Over the N files made by "mkfiles DIR N", one pass (not timed), then
 *	passes until SECONDS (default 1) have passed, at least one:
 *	fstatat() every file ("stat"), or openat(O_RDONLY) and close it
 *	("open"), relative to an fd of DIR.  Prints "stat|open OPS/S OPS".
 *
 * Exit status 0 on success, 1 on any error (with a message on stderr).
 * No figure is ever judged here: the caller only reports ratios.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum md_phase { PHASE_CREATE, PHASE_STAT, PHASE_UNLINK, PHASE_COUNT };

static const char *const phase_name[PHASE_COUNT] = { "create", "stat", "unlink" };

struct md_thread {
	pthread_t thread;
	int index;
	int dirfd;		/* DIR/tN, opened O_DIRECTORY */
	long errors;
};

static pthread_barrier_t start_barrier, end_barrier;
static enum md_phase current_phase;
static long files_per_thread = 1000;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void drop_caches(void)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "3\n", 2) != 2)
		fprintf(stderr, "mdbench: cannot drop caches: %s\n", strerror(errno));
	if (fd >= 0)
		close(fd);
}

static int run_phase(struct md_thread *t, enum md_phase phase)
{
	char name[32];
	struct stat st;
	long i;
	int fd;

	for (i = 0; i < files_per_thread; i++) {
		snprintf(name, sizeof(name), "f%07ld", i);
		switch (phase) {
		case PHASE_CREATE:
			fd = openat(t->dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
			if (fd < 0)
				goto fail;
			close(fd);
			break;
		case PHASE_STAT:
			if (fstatat(t->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				goto fail;
			break;
		case PHASE_UNLINK:
			if (unlinkat(t->dirfd, name, 0) < 0)
				goto fail;
			break;
		default:
			return -EINVAL;
		}
	}
	return 0;
fail:
	fprintf(stderr, "mdbench: thread %d: %s %s: %s\n", t->index,
		phase_name[phase], name, strerror(errno));
	t->errors++;
	return -errno;
}

static void *thread_main(void *arg)
{
	struct md_thread *t = arg;
	int p;

	for (p = 0; p < PHASE_COUNT; p++) {
		pthread_barrier_wait(&start_barrier);
		run_phase(t, current_phase);
		pthread_barrier_wait(&end_barrier);
	}
	return NULL;
}

static int cmd_meta(int argc, char **argv)
{
	struct md_thread *threads;
	bool drop = false;
	int nthreads = 1, opt, i, p, rc = 0;
	char path[PATH_MAX];
	const char *dir;

	while ((opt = getopt(argc, argv, "t:n:D")) != -1) {
		switch (opt) {
		case 't': nthreads = atoi(optarg); break;
		case 'n': files_per_thread = atol(optarg); break;
		case 'D': drop = true; break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || nthreads < 1 || files_per_thread < 1) {
		fprintf(stderr, "usage: mdbench meta [-t THREADS] [-n FILES] [-D] DIR\n");
		return 2;
	}
	dir = argv[optind];
	threads = calloc(nthreads, sizeof(*threads));
	if (!threads)
		return 1;
	for (i = 0; i < nthreads; i++) {
		threads[i].index = i;
		snprintf(path, sizeof(path), "%s/t%d", dir, i);
		if (mkdir(path, 0755) < 0 && errno != EEXIST) {
			fprintf(stderr, "mdbench: mkdir %s: %s\n", path, strerror(errno));
			return 1;
		}
		threads[i].dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (threads[i].dirfd < 0) {
			fprintf(stderr, "mdbench: open %s: %s\n", path, strerror(errno));
			return 1;
		}
	}
	pthread_barrier_init(&start_barrier, NULL, nthreads + 1);
	pthread_barrier_init(&end_barrier, NULL, nthreads + 1);
	current_phase = PHASE_CREATE;
	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&threads[i].thread, NULL, thread_main, &threads[i])) {
			fprintf(stderr, "mdbench: pthread_create failed\n");
			return 1;
		}
	}
	for (p = 0; p < PHASE_COUNT; p++) {
		double t0;

		current_phase = p;
		if (p == PHASE_STAT && drop)
			drop_caches();
		t0 = now();
		pthread_barrier_wait(&start_barrier);
		pthread_barrier_wait(&end_barrier);
		printf("%s %.1f\n", phase_name[p],
		       (double)nthreads * files_per_thread / (now() - t0));
		fflush(stdout);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(threads[i].thread, NULL);
		if (threads[i].errors)
			rc = 1;
		close(threads[i].dirfd);
		snprintf(path, sizeof(path), "%s/t%d", dir, i);
		rmdir(path);
	}
	free(threads);
	return rc;
}

static int cmd_mkfiles(int argc, char **argv)
{
	char name[32];
	long i, n;
	int dfd, fd;

	if (argc != 3) {
		fprintf(stderr, "usage: mdbench mkfiles DIR N\n");
		return 2;
	}
	n = atol(argv[2]);
	if (mkdir(argv[1], 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "mdbench: mkdir %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "mdbench: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%07ld", i);
		fd = openat(dfd, name, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "mdbench: create %s: %s\n", name, strerror(errno));
			return 1;
		}
		close(fd);
	}
	close(dfd);
	return 0;
}

struct linux_dirent64 {
	unsigned long long d_ino;
	long long d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int cmd_list(int argc, char **argv)
{
	static char buf[65536] __attribute__((aligned(8)));
	bool with_stat = false;
	long entries = 0;
	struct stat st;
	double t0;
	long n, off;
	int opt, dfd;

	while ((opt = getopt(argc, argv, "s")) != -1) {
		if (opt != 's')
			return 2;
		with_stat = true;
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: mdbench list [-s] DIR\n");
		return 2;
	}
	t0 = now();
	dfd = open(argv[optind], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "mdbench: open %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (off = 0; off < n;) {
			struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);

			off += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			entries++;
			if (with_stat && fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				fprintf(stderr, "mdbench: stat %s: %s\n", d->d_name, strerror(errno));
				return 1;
			}
		}
	}
	if (n < 0) {
		fprintf(stderr, "mdbench: getdents64: %s\n", strerror(errno));
		return 1;
	}
	close(dfd);
	printf("list %.4f %ld\n", now() - t0, entries);
	return 0;
}

/* Seconds from a -T argument: a positive number. */
static int parse_seconds(const char *s, double *out)
{
	char *end;

	*out = strtod(s, &end);
	if (end == s || *end || !(*out > 0)) {
		fprintf(stderr, "mdbench: -T %s: not a positive number of seconds\n", s);
		return -EINVAL;
	}
	return 0;
}

/* A size argument: a positive integer; 0 on error. */
static long parse_size(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v <= 0)
		return 0;
	return v;
}

static int cmd_write(int argc, char **argv)
{
	long bs = 4096, total = 0, done = 0;
	double t0, secs;
	int opt, fd, sync = 1;
	ssize_t n;
	char *buf;

	while ((opt = getopt(argc, argv, "nb:s:")) != -1) {
		switch (opt) {
		case 'n': sync = 0; break;
		case 'b': bs = parse_size(optarg); break;
		case 's': total = parse_size(optarg); break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || bs <= 0 || total <= 0) {
		fprintf(stderr, "usage: mdbench write [-n] [-b BS] -s BYTES FILE\n");
		return 2;
	}
	buf = malloc(bs);
	if (!buf)
		return 1;
	memset(buf, 0xa5, bs);
	t0 = now();
	fd = open(argv[optind], O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "mdbench: open %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	while (done < total) {
		size_t len = total - done < bs ? total - done : bs;

		n = write(fd, buf, len);
		if (n <= 0) {
			fprintf(stderr, "mdbench: write %s at %ld: %s\n", argv[optind], done,
				n < 0 ? strerror(errno) : "wrote nothing");
			return 1;
		}
		done += n;
	}
	if (sync && fsync(fd) < 0) {
		fprintf(stderr, "mdbench: fsync %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	if (close(fd) < 0) {
		fprintf(stderr, "mdbench: close %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	secs = now() - t0;
	free(buf);
	printf("write %.2f %.4f %ld\n", done / 1048576.0 / secs, secs, done);
	return 0;
}

/* Open @path, read(2) it to the end in @bs-byte reads, close it. */
static long read_whole(const char *path, char *buf, long bs)
{
	long total = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "mdbench: open %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, buf, bs)) > 0)
		total += n;
	if (n < 0) {
		fprintf(stderr, "mdbench: read %s at %ld: %s\n", path, total, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		fprintf(stderr, "mdbench: close %s: %s\n", path, strerror(errno));
		return -1;
	}
	return total;
}

static int cmd_reread(int argc, char **argv)
{
	long bs = 128 * 1024, size, got, passes = 0;
	double secs = 1, t0, el;
	const char *path;
	char *buf;
	int opt;

	while ((opt = getopt(argc, argv, "b:T:")) != -1) {
		switch (opt) {
		case 'b': bs = parse_size(optarg); break;
		case 'T':
			if (parse_seconds(optarg, &secs))
				return 2;
			break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || bs <= 0) {
		fprintf(stderr, "usage: mdbench reread [-b BS] [-T SECONDS] FILE\n");
		return 2;
	}
	path = argv[optind];
	buf = malloc(bs);
	if (!buf)
		return 1;
	size = read_whole(path, buf, bs);	/* the warm-up: not timed */
	if (size < 0)
		return 1;
	if (size == 0) {
		fprintf(stderr, "mdbench: %s is empty\n", path);
		return 1;
	}
	t0 = now();
	do {
		got = read_whole(path, buf, bs);
		if (got < 0)
			return 1;
		if (got != size) {
			fprintf(stderr, "mdbench: pass %ld read %ld bytes of %s, the first %ld\n",
				passes + 1, got, path, size);
			return 1;
		}
		passes++;
		el = now() - t0;
	} while (el < secs);
	free(buf);
	printf("reread %.2f %ld %ld\n", (double)passes * size / 1048576.0 / el, passes, size);
	return 0;
}

/* One storm pass over f0000000 .. f<n-1>: 0, or -1 after a message. */
static int storm_pass(int dfd, bool open_close, long n)
{
	char name[32];
	struct stat st;
	long i;
	int fd;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%07ld", i);
		if (!open_close) {
			if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				goto fail;
			continue;
		}
		fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			goto fail;
		if (close(fd) < 0)
			goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "mdbench: %s %s: %s\n", open_close ? "open/close" : "stat", name,
		strerror(errno));
	return -1;
}

static int cmd_storm(int argc, char **argv)
{
	double secs = 1, t0, el;
	long n, passes = 0;
	bool open_close;
	int opt, dfd;

	while ((opt = getopt(argc, argv, "T:")) != -1) {
		if (opt != 'T' || parse_seconds(optarg, &secs))
			return 2;
	}
	if (optind != argc - 3 || (strcmp(argv[optind], "stat") && strcmp(argv[optind], "open")) ||
	    (n = parse_size(argv[optind + 2])) <= 0) {
		fprintf(stderr, "usage: mdbench storm [-T SECONDS] stat|open DIR N\n");
		return 2;
	}
	open_close = !strcmp(argv[optind], "open");
	dfd = open(argv[optind + 1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		fprintf(stderr, "mdbench: open %s: %s\n", argv[optind + 1], strerror(errno));
		return 1;
	}
	if (storm_pass(dfd, open_close, n))	/* the warm-up: not timed */
		return 1;
	t0 = now();
	do {
		if (storm_pass(dfd, open_close, n))
			return 1;
		passes++;
		el = now() - t0;
	} while (el < secs);
	close(dfd);
	printf("%s %.1f %ld\n", argv[optind], (double)passes * n / el, passes * n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "meta"))
		return cmd_meta(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "mkfiles"))
		return cmd_mkfiles(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return cmd_list(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "write"))
		return cmd_write(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "reread"))
		return cmd_reread(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "storm"))
		return cmd_storm(argc - 1, argv + 1);
	fprintf(stderr, "usage: mdbench meta|mkfiles|list|write|reread|storm ... (see the source header)\n");
	return 2;
}
