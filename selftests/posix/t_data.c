// SPDX-License-Identifier: GPL-2.0
/*
 * t_data.c - file data: truncate, sparse files and SEEK_DATA/SEEK_HOLE,
 * fallocate, offsets above 4 GiB, fsync, shared mmap, pread/pwrite and
 * O_APPEND with concurrent writers.
 */
#include "posix_test.h"

#include <pthread.h>
#include <sys/mman.h>

static bool all_zero(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i])
			return false;
	return true;
}

static void truncate_checks(void)
{
	char buf[8192];
	int fd;

	mkfile_len("t", 0644, 10000);
	tap_succ(truncate("t", 4000), "data: truncate shrink");
	tap_eq(size_of("t"), 4000, "data: size after shrink");
	tap_succ(truncate("t", 20000), "data: truncate grow");
	tap_eq(size_of("t"), 20000, "data: size after grow");
	fd = open("t", O_RDWR);
	tap_eq(pread(fd, buf, 4000, 0), 4000, "data: read kept part");
	tap_ok(buf[0] == 'a' && buf[3999] == 'a' + 3999 % 4096 % 26,
	       "data: kept part unchanged");
	tap_eq(pread(fd, buf, 8192, 4000), 8192, "data: read grown part");
	tap_ok(all_zero(buf, 8192), "data: grown part reads as zeros "
	       "(no stale data from before the shrink)");
	tap_succ(ftruncate(fd, 0), "data: ftruncate to 0");
	tap_eq(pread(fd, buf, 10, 0), 0, "data: read at 0 of empty file is EOF");
	tap_succ(ftruncate(fd, 1), "data: ftruncate to 1");
	tap_eq(pread(fd, buf, 10, 0), 1, "data: 1-byte file reads 1 byte");
	tap_eq(buf[0], 0, "data: that byte is zero");
	tap_errno(ftruncate(fd, -1), EINVAL, "data: ftruncate negative -> EINVAL");
	close(fd);
	fd = open("t", O_RDONLY);
	tap_errno(ftruncate(fd, 0), EINVAL,
		  "data: ftruncate on O_RDONLY fd -> EINVAL");
	close(fd);
	mkdir("tdir", 0755);
	tap_errno(truncate("tdir", 0), EISDIR, "data: truncate a dir -> EISDIR");
	tap_errno(truncate("missing", 0), ENOENT, "data: truncate missing -> ENOENT");
}

static void sparse_checks(void)
{
	off_t data, hole;
	char buf[4096];
	int fd;

	fd = open("sp", O_CREAT | O_RDWR | O_TRUNC, 0644);
	tap_eq(pwrite(fd, "X", 1, 1 << 20), 1, "data: write at 1 MiB into new file");
	tap_eq(size_of("sp"), (1 << 20) + 1, "data: sparse size 1 MiB + 1");
	tap_eq(pread(fd, buf, sizeof(buf), 4096), sizeof(buf),
	       "data: read inside the hole");
	tap_ok(all_zero(buf, sizeof(buf)), "data: hole reads as zeros");
	tap_eq(pread(fd, buf, 2, (1 << 20) - 1), 2, "data: read across hole end");
	tap_ok(buf[0] == 0 && buf[1] == 'X', "data: zeros then data");

	/* POSIX allows reporting everything as data */
	data = lseek(fd, 0, SEEK_DATA);
	if (data == -1 && errno == EINVAL) {
		posix_skip("seek_data", "data: SEEK_DATA/SEEK_HOLE", "not supported");
	} else {
		tap_ok(data == 0 || (data > 0 && data <= (1 << 20)),
		       "data: SEEK_DATA from 0 finds data at or before 1 MiB");
		hole = lseek(fd, 0, SEEK_HOLE);
		tap_ok(hole == 0 || hole == (1 << 20) + 1 ||
		       (hole > 0 && hole <= (1 << 20)),
		       "data: SEEK_HOLE from 0 is in range");
		tap_ok(data != 0 || hole != 0,
		       "data: offset 0 is not both data and hole");
		tap_eq(lseek(fd, (1 << 20), SEEK_DATA), 1 << 20,
		       "data: SEEK_DATA at the data byte returns it");
		hole = lseek(fd, (1 << 20), SEEK_HOLE);
		tap_eq(hole, (1 << 20) + 1, "data: SEEK_HOLE after last data is EOF");
		tap_errno(lseek(fd, (1 << 20) + 1, SEEK_DATA), ENXIO,
			  "data: SEEK_DATA at EOF -> ENXIO");
		tap_errno(lseek(fd, (1 << 20) + 100, SEEK_HOLE), ENXIO,
			  "data: SEEK_HOLE beyond EOF -> ENXIO");
	}
	close(fd);

	/* above 4 GiB */
	fd = open("big", O_CREAT | O_RDWR | O_TRUNC, 0644);
	{
		const off_t off = (5LL << 30) + 12345;
		ssize_t n = pwrite(fd, "beyond4G", 8, off);

		if (n == -1 && (errno == EFBIG || errno == ENOSPC)) {
			posix_skip("large_file", "data: write above 4 GiB",
				   "filesystem limit");
		} else {
			tap_eq(n, 8, "data: pwrite at 5 GiB + 12345");
			tap_eq(size_of("big"), off + 8, "data: size above 4 GiB");
			memset(buf, 1, 16);
			tap_eq(pread(fd, buf, 16, off - 8), 16,
			       "data: pread around the 5 GiB write");
			tap_ok(all_zero(buf, 8) && !memcmp(buf + 8, "beyond4G", 8),
			       "data: data above 4 GiB round trips");
			tap_eq(pread(fd, buf, 16, 4LL << 30), 16,
			       "data: pread at exactly 4 GiB");
			tap_ok(all_zero(buf, 16), "data: hole at 4 GiB is zero");
			tap_succ(ftruncate(fd, 3LL << 30),
				 "data: ftruncate from 5 GiB to 3 GiB");
			tap_eq(pread(fd, buf, 16, off), 0,
			       "data: old 5 GiB data is gone after shrink");
		}
	}
	close(fd);
	unlink("big");
}

static void fallocate_checks(void)
{
	char buf[16384];
	int fd, ret;

	fd = open("fa", O_CREAT | O_RDWR | O_TRUNC, 0644);
	ret = fallocate(fd, 0, 0, 65536);
	if (ret == -1 && errno == EOPNOTSUPP) {
		posix_skip("fallocate", "data: fallocate", "not supported");
		close(fd);
		return;
	}
	tap_succ(ret, "data: fallocate 64 KiB");
	tap_eq(size_of("fa"), 65536, "data: fallocate extends the size");
	tap_eq(pread(fd, buf, 8192, 0), 8192, "data: read allocated range");
	tap_ok(all_zero(buf, 8192), "data: allocated range reads zeros");
	tap_succ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 65536, 65536),
		 "data: fallocate KEEP_SIZE beyond EOF");
	tap_eq(size_of("fa"), 65536, "data: KEEP_SIZE keeps the size");
	memset(buf, 'q', sizeof(buf));
	pwrite(fd, buf, 8192, 0);
	pwrite(fd, buf, 8192, 8192);
	ret = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192);
	if (ret == -1 && errno == EOPNOTSUPP) {
		posix_skip("punch_hole", "data: fallocate PUNCH_HOLE", "not supported");
	} else {
		tap_succ(ret, "data: fallocate PUNCH_HOLE");
		tap_eq(size_of("fa"), 65536, "data: PUNCH_HOLE keeps the size");
		tap_eq(pread(fd, buf, 16384, 0), 16384, "data: read punched area");
		tap_ok(buf[4095] == 'q' && all_zero(buf + 4096, 8192) &&
		       buf[12288] == 'q', "data: punched range is zero, "
		       "neighbours intact");
		tap_errno(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), EOPNOTSUPP,
			  "data: PUNCH_HOLE without KEEP_SIZE -> EOPNOTSUPP");
	}
	ret = fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 100);
	if (ret == -1 && errno == EOPNOTSUPP) {
		posix_skip("zero_range", "data: fallocate ZERO_RANGE", "not supported");
	} else {
		tap_succ(ret, "data: fallocate ZERO_RANGE");
		tap_eq(pread(fd, buf, 200, 0), 200, "data: read zeroed range");
		tap_ok(all_zero(buf, 100) && buf[100] == 'q',
		       "data: ZERO_RANGE zeroed exactly the range");
	}
	tap_errno(fallocate(fd, 0, 0, 0), EINVAL, "data: fallocate len 0 -> EINVAL");
	close(fd);
}

/*
 * A shared mapping of a file opened O_APPEND: the page written through it
 * goes back to its own offset (O_APPEND is about write(2) only). A FUSE
 * daemon whose backend fd has O_APPEND would append the written-back page
 * at the end of the file instead (pwrite on an O_APPEND fd appends).
 */
static void mmap_append_checks(void)
{
	static char page[4096] __attribute__((aligned(4096)));
	struct stat st;
	char *map;
	int fd;

	mkfile_len("mma", 0644, 8192);
	fd = open("mma", O_RDWR | O_APPEND);
	map = fd < 0 ? MAP_FAILED :
	      mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!tap_ok(map != MAP_FAILED, "data: mmap MAP_SHARED of an O_APPEND fd")) {
		if (fd >= 0)
			close(fd);
		return;
	}
	memcpy(map, "append-mapped", 13);
	tap_succ(msync(map, 4096, MS_SYNC), "data: msync of an O_APPEND fd's mapping");
	munmap(map, 4096);
	close(fd);
	/* from the filesystem, not this client's page cache where it can */
	fd = open("mma", O_RDONLY | O_DIRECT);
	if (fd < 0)
		fd = open("mma", O_RDONLY);
	tap_ok(fd >= 0 && !fstat(fd, &st) && st.st_size == 8192,
	       "data: ... the file keeps its size (the page was not appended)");
	tap_ok(fd >= 0 && pread(fd, page, 4096, 0) == 4096 &&
	       !memcmp(page, "append-mapped", 13) && page[13] == 'a' + 13,
	       "data: ... and the page is at its offset");
	if (fd >= 0)
		close(fd);
}

static void mmap_checks(void)
{
	char buf[16];
	char *map;
	int fd;

	mkfile_len("mm", 0644, 8192);
	fd = open("mm", O_RDWR);
	map = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!tap_ok(map != MAP_FAILED, "data: mmap MAP_SHARED read/write")) {
		close(fd);
		return;
	}
	tap_ok(map[0] == 'a' && map[4097] == 'b', "data: mmap sees file data");
	memcpy(map + 100, "mapped!", 7);
	tap_succ(msync(map, 8192, MS_SYNC), "data: msync");
	tap_eq(pread(fd, buf, 7, 100), 7, "data: read after mmap write");
	tap_ok(!memcmp(buf, "mapped!", 7), "data: mmap write visible to read()");
	tap_eq(pwrite(fd, "written", 7, 5000), 7, "data: pwrite under mapping");
	tap_ok(!memcmp(map + 5000, "written", 7), "data: write() visible in mmap");
	munmap(map, 8192);
	close(fd);
	fd = open("mm", O_RDONLY);
	tap_eq(pread(fd, buf, 7, 100), 7, "data: read after munmap and reopen");
	tap_ok(!memcmp(buf, "mapped!", 7), "data: mmap write persisted");
	map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tap_ok(map == MAP_FAILED && errno == EACCES,
	       "data: writable MAP_SHARED of O_RDONLY fd -> EACCES");
	close(fd);
	mmap_append_checks();
}

struct appender {
	int fd;
	char tag;
};

static void *append_thread(void *arg)
{
	struct appender *a = arg;
	char rec[64];
	int i;

	memset(rec, a->tag, sizeof(rec));
	rec[63] = '\n';
	for (i = 0; i < 200; i++)
		if (write(a->fd, rec, sizeof(rec)) != sizeof(rec))
			break;
	return NULL;
}

static void append_checks(void)
{
	struct appender a[4];
	pthread_t th[4];
	size_t len, i;
	char *data;
	int bad = 0, counts[4] = { 0 };

	close(open("ap", O_CREAT | O_TRUNC | O_WRONLY, 0644));
	for (i = 0; i < 4; i++) {
		a[i].fd = open("ap", O_WRONLY | O_APPEND);
		a[i].tag = 'A' + i;
		pthread_create(&th[i], NULL, append_thread, &a[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		close(a[i].fd);
	}
	data = read_all("ap", &len);
	tap_eq(len, 4 * 200 * 64, "data: O_APPEND from 4 threads loses nothing");
	for (i = 0; data && i + 64 <= len; i += 64) {
		char t = data[i];

		if (t < 'A' || t > 'D' || data[i + 63] != '\n' || data[i + 62] != t) {
			bad++;
			continue;
		}
		counts[t - 'A']++;
	}
	tap_eq(bad, 0, "data: O_APPEND records are not interleaved");
	tap_ok(counts[0] == 200 && counts[1] == 200 && counts[2] == 200 &&
	       counts[3] == 200, "data: each appender's 200 records present");
	free(data);
}

void t_data(void)
{
	char buf[64];
	int fd;

	fd = open("pp", O_CREAT | O_RDWR, 0644);
	tap_eq(pwrite(fd, "0123456789", 10, 0), 10, "data: pwrite at 0");
	tap_eq(pwrite(fd, "abc", 3, 4), 3, "data: pwrite at 4");
	tap_eq(lseek(fd, 0, SEEK_CUR), 0, "data: pwrite leaves the offset alone");
	tap_eq(pread(fd, buf, 64, 0), 10, "data: pread whole file");
	tap_ok(!memcmp(buf, "0123abc789", 10), "data: pwrite overwrote in place");
	tap_eq(pread(fd, buf, 64, 8), 2, "data: short pread at the end");
	tap_eq(pread(fd, buf, 64, 100), 0, "data: pread beyond EOF returns 0");
	tap_errno(pread(fd, buf, 1, -1), EINVAL, "data: pread negative -> EINVAL");
	tap_eq(pwrite(fd, "Z", 1, 20), 1, "data: pwrite beyond EOF");
	tap_eq(pread(fd, buf, 64, 0), 21, "data: size grew to 21");
	tap_ok(all_zero(buf + 10, 10) && buf[20] == 'Z', "data: gap is zero-filled");
	tap_succ(fsync(fd), "data: fsync");
	tap_succ(fdatasync(fd), "data: fdatasync");
	{
		int dfd = open(".", O_RDONLY | O_DIRECTORY);

		tap_succ(fsync(dfd), "data: fsync a directory");
		close(dfd);
	}
	tap_succ(syncfs(fd), "data: syncfs");
	close(fd);

	truncate_checks();
	sparse_checks();
	fallocate_checks();
	mmap_checks();
	append_checks();
}
