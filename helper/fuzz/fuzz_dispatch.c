// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: mqfused's request dispatch with a local:DIR backend.
 *
 * An input is a sequence of FUSE requests (fuse_in_header + body), each as
 * long as its header says (clamped to what is left; the last one may be
 * truncated, which exercises the malformed-request path).  They go through
 * mq_dispatch() exactly as if read from the device, as any uid/gid/pid the
 * input names, after one INIT done here.  Replies are captured and checked.
 *
 * Fails (abort, so libFuzzer records a crash) on a sanitizer report and on:
 *  - a reply whose header is inconsistent (length, error out of range,
 *    wrong unique) or longer than the reply buffer;
 *  - a request that leaves the thread with another fsuid/fsgid or without
 *    its capabilities (creds.c must always restore them);
 *  - any change to a sentinel file next to the backend directory, or a new
 *    entry beside it (nothing outside the root may be touched).
 *
 * Each input starts from a fresh inode table and handle set (every handle
 * the input opened is released afterwards, and handle generations start
 * again, so the fh of a first open is the same in every input); the
 * backend directory is rebuilt every 512 inputs.  RLIMIT_FSIZE bounds what WRITE/FALLOCATE can
 * allocate (run with -handle_xfsz=0: EFBIG is an answer, not a crash).
 * The backend lives under $FUZZ_DIR (default /dev/shm) and is removed at
 * exit.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/capability.h>

#include "mqfused.h"

#define FUZZ_HANDLES	1024

static struct mq_thread thr;
static char parent[256];
static char root[256], sentinel[300];
static struct stat sentinel_st;
static unsigned int parent_entries;
static uint64_t cur_unique;
static unsigned long inputs;

static ssize_t fuzz_sink(struct mq_thread *t, const void *buf, size_t len)
{
	const struct fuse_out_header *oh = buf;

	(void)t;
	if (len < sizeof(*oh) || oh->len != len ||
	    len > t->outbuf_len || oh->unique != cur_unique ||
	    oh->error > 0 || oh->error < -4095 ||
	    (oh->error && len != sizeof(*oh))) {
		fprintf(stderr, "fuzz: bad reply: len %zu hdr.len %u error %d unique %llu/%llu\n",
			len, oh->len, oh->error,
			(unsigned long long)oh->unique,
			(unsigned long long)cur_unique);
		abort();
	}
	return len;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level == 0)
		return 0;
	if (remove(path) && errno != ENOENT)
		fprintf(stderr, "fuzz: cannot remove %s: %s\n", path,
			strerror(errno));
	return 0;
}

static void backend_build(void)
{
	char p[512];
	int fd;

	nftw(root, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
	chmod(root, 0755);
	snprintf(p, sizeof(p), "%s/file", root);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd >= 0) {
		if (write(fd, "hello fuzz\n", 11) != 11)
			abort();
		close(fd);
	}
	snprintf(p, sizeof(p), "%s/dir", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dir/sub", root);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	snprintf(p, sizeof(p), "%s/link", root);
	symlink("../outside", p);
	snprintf(p, sizeof(p), "%s/null", root);
	mknod(p, S_IFCHR | 0666, makedev(1, 3));
	snprintf(p, sizeof(p), "%s/fifo", root);
	mkfifo(p, 0666);
}

static unsigned int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	unsigned int n = 0;

	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void table_init(void)
{
	struct stat st;
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) || mq_itable_init(fd, &st))
		abort();
}

static void send_one(const void *req, size_t len)
{
	const struct fuse_in_header *in = (const void *)thr.inbuf;

	memcpy(thr.inbuf, req, len);
	cur_unique = len >= sizeof(*in) ? in->unique : 0;
	mq_dispatch(&thr, len);
}

static void cleanup(void)
{
	nftw(parent, rm_entry, 32, FTW_DEPTH | FTW_PHYS);
	rmdir(parent);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct rlimit fsize = { 1 << 20, 1 << 20 };
	struct {
		struct fuse_in_header in;
		struct fuse_init_in ii;
	} init = {
		.in = { .len = sizeof(init), .opcode = FUSE_INIT, .unique = 1 },
		.ii = { .major = 7, .minor = 38, .max_readahead = 65536,
			.flags = 0xffffffff },
	};
	size_t room = 256 << 10;
	int fd;

	(void)argc;
	(void)argv;
	mq_log_init(getenv("FUZZ_VERBOSE") ? MQ_LOG_DEBUG : MQ_LOG_ERR, false);
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &fsize);
	/* tmpfs by default: fsync and syncfs cost nothing there. */
	snprintf(parent, sizeof(parent), "%s/mqfused-fuzz.XXXXXX",
		 getenv("FUZZ_DIR") ?: (access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm"));
	if (!mkdtemp(parent))
		abort();
	chmod(parent, 0755);
	snprintf(root, sizeof(root), "%s/root", parent);
	snprintf(sentinel, sizeof(sentinel), "%s/outside", parent);
	if (mkdir(root, 0755))
		abort();
	atexit(cleanup);
	fd = open(sentinel, O_CREAT | O_WRONLY, 0644);
	if (fd < 0 || write(fd, "sentinel\n", 9) != 9)
		abort();
	close(fd);
	stat(sentinel, &sentinel_st);
	parent_entries = count_entries(parent);
	backend_build();

	thr.devfd = -1;
	thr.reply_sink = fuzz_sink;
	thr.inbuf = aligned_alloc(4096, room);
	thr.inbuf_len = room;
	thr.outbuf = aligned_alloc(4096, room);
	thr.outbuf_len = room;
	if (!thr.inbuf || !thr.outbuf || mq_stats_thread_init(&thr.stats) ||
	    mq_creds_thread_init(&thr) || mq_handles_init(FUZZ_HANDLES))
		abort();
	mq_stats_register_threads(&thr, 1);
	mq_cfg.max_write = 128 << 10;
	mq_cfg.entry_timeout = 1;
	mq_cfg.attr_timeout = 1;
	fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	mq_resolve_probe(fd);
	close(fd);
	table_init();
	send_one(&init, sizeof(init));
	if (!atomic_load(&mq_conn.proto_minor))
		abort();
	return 0;
}

/* The thread is itself again: fsuid/fsgid and effective capabilities. */
static void check_creds(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if ((uid_t)syscall(SYS_setfsuid, -1) != thr.saved_fsuid ||
	    (gid_t)syscall(SYS_setfsgid, -1) != thr.saved_fsgid) {
		fprintf(stderr, "fuzz: fsuid/fsgid not restored\n");
		abort();
	}
	if (syscall(SYS_capget, &hdr, data) ||
	    data[0].effective != data[0].permitted ||
	    data[1].effective != data[1].permitted) {
		fprintf(stderr, "fuzz: capabilities not restored\n");
		abort();
	}
	if (thr.creds_switched) {
		fprintf(stderr, "fuzz: still acting as a caller\n");
		abort();
	}
}

static void check_outside(void)
{
	struct stat st;

	if (stat(sentinel, &st) || st.st_ino != sentinel_st.st_ino ||
	    st.st_size != sentinel_st.st_size ||
	    st.st_mode != sentinel_st.st_mode ||
	    st.st_uid != sentinel_st.st_uid ||
	    st.st_mtim.tv_nsec != sentinel_st.st_mtim.tv_nsec ||
	    st.st_mtim.tv_sec != sentinel_st.st_mtim.tv_sec) {
		fprintf(stderr, "fuzz: sentinel outside the root changed\n");
		abort();
	}
	if (count_entries(parent) != parent_entries) {
		fprintf(stderr, "fuzz: entries appeared next to the root\n");
		abort();
	}
}

/* Release every handle the input left open; start a fresh inode table. */
static void reset_state(void)
{
	struct {
		struct fuse_in_header in;
		struct fuse_release_in rel;
	} r;
	int fd;

	for (fd = 0; fd < FUZZ_HANDLES; fd++) {
		uint64_t nodeid = 0, fh = mq_handle_fh_of_fd(fd);
		enum mq_handle_kind kind = fh ? mq_handle_peek(fh, &nodeid) :
						MQ_HANDLE_NONE;
		bool file = kind == MQ_HANDLE_FILE;

		if (kind == MQ_HANDLE_NONE)
			continue;
		memset(&r, 0, sizeof(r));
		r.in.len = sizeof(r);
		r.in.opcode = file ? FUSE_RELEASE : FUSE_RELEASEDIR;
		r.in.unique = ~0ull;
		r.in.nodeid = nodeid;
		r.rel.fh = fh;
		send_one(&r, sizeof(r));
	}
	if (mq_handles_count()) {
		fprintf(stderr, "fuzz: %llu handles survive RELEASE\n",
			(unsigned long long)mq_handles_count());
		abort();
	}
	/* Same fh values for every input (seeds name generation 1). */
	if (mq_handles_reset_generations())
		abort();
	mq_itable_destroy();
	if (++inputs % 512 == 0)
		backend_build();
	table_init();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (size - off >= sizeof(struct fuse_in_header)) {
		struct fuse_in_header in;
		size_t len = size - off;

		memcpy(&in, data + off, sizeof(in));	/* input is unaligned */
		if (in.len >= sizeof(in) && in.len <= len)
			len = in.len;
		if (len > thr.inbuf_len)
			len = thr.inbuf_len;
		send_one(data + off, len);
		check_creds();
		off += len;
	}
	check_outside();
	reset_state();
	return 0;
}
