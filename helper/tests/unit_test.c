// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for mqfused without a mount: mount option parsing, reply
 * building, the inode table, and whole requests pushed through
 * mq_dispatch() with the replies captured from a pipe.
 *
 * Output: "ok - name" / "not ok - name" lines (run-checks.sh numbers them).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/sysmacros.h>
#include <dirent.h>
#include <limits.h>
#include <sys/xattr.h>
#include <signal.h>
#include <time.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <liburing.h>
#include <seccomp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>

#include "mqfused.h"
#include "mount_opts.h"

static int failures;

void test_recovery(int *failures);	/* unit_recovery.c */
void test_ring(int *failures, const char *dir);	/* unit_ring.c */

#define CHECK(cond, name)						\
	do {								\
		if (cond) {						\
			printf("ok - %s\n", name);			\
		} else {						\
			printf("not ok - %s\n", name);			\
			printf("#   %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			failures++;					\
		}							\
	} while (0)

static void test_mount_opts(void)
{
	struct mq_mount_opts mo = { .fs = MQ_FS_MQFUSE };
	int ret;

	ret = mq_mount_opts_parse("ro,nosuid,noatime,defaults,nofail,_netdev,"
				  "queues=4,consistency=cto,balance=on,"
				  "allow_other,max_read=131072,x-systemd.foo=1",
				  &mo);
	CHECK(ret == 0, "opts: mixed option string parses");
	CHECK(mo.flags == (MS_RDONLY | MS_NOSUID | MS_NOATIME),
	      "opts: generic options become MS_ flags");
	CHECK(mo.kernel && !strcmp(mo.kernel, "queues=4,consistency=cto,"
				   "balance=on,allow_other,max_read=131072"),
	      "opts: kernel options kept in order, mount(8) options dropped");
	CHECK(mo.queues == 4, "opts: queues= recorded for the thread count");
	mq_mount_opts_free(&mo);

	memset(&mo, 0, sizeof(mo));
	mo.fs = MQ_FS_MQFUSE;
	CHECK(mq_mount_opts_parse("ro,rw", &mo) == 0 && !(mo.flags & MS_RDONLY),
	      "opts: later rw overrides ro");
	mq_mount_opts_free(&mo);

	memset(&mo, 0, sizeof(mo));
	CHECK(mq_mount_opts_parse("consistency=bogus", &mo) == -EINVAL,
	      "opts: bad consistency rejected");
	mq_mount_opts_free(&mo);
	memset(&mo, 0, sizeof(mo));
	CHECK(mq_mount_opts_parse("readdirplus=sometimes", &mo) == -EINVAL,
	      "opts: bad readdirplus rejected");
	mq_mount_opts_free(&mo);
	memset(&mo, 0, sizeof(mo));
	mo.fs = MQ_FS_MQFUSE;
	CHECK(mq_mount_opts_parse("readdirplus=never", &mo) == 0 && mo.kernel &&
	      !strcmp(mo.kernel, "readdirplus=never"),
	      "opts: readdirplus= goes to the kernel");
	mq_mount_opts_free(&mo);
	memset(&mo, 0, sizeof(mo));
	CHECK(mq_mount_opts_parse("queues=0", &mo) == -EINVAL,
	      "opts: queues=0 rejected");
	mq_mount_opts_free(&mo);
	memset(&mo, 0, sizeof(mo));
	CHECK(mq_mount_opts_parse("balance=maybe", &mo) == -EINVAL,
	      "opts: bad balance rejected");
	mq_mount_opts_free(&mo);
	memset(&mo, 0, sizeof(mo));
	CHECK(mq_mount_opts_parse("fd=3", &mo) == -EINVAL && mo.error[0],
	      "opts: fd= is reserved for the daemon");
	mq_mount_opts_free(&mo);

	memset(&mo, 0, sizeof(mo));
	mo.fs = MQ_FS_FUSE;
	CHECK(mq_mount_opts_parse("queues=2,allow_other", &mo) == 0 &&
	      mo.kernel && !strcmp(mo.kernel, "allow_other") && mo.warning[0],
	      "opts: mqfuse-only options dropped with a warning on fuse");
	mq_mount_opts_free(&mo);

	{
		static const char *const refused[] = {
			"recovery=soon", "virtqueues=2", "nosuchoption=1",
			"allow_other,bogus",
		};

		for (unsigned int i = 0; i < 4; i++) {
			memset(&mo, 0, sizeof(mo));
			mo.fs = MQ_FS_MQFUSE;
			ret = mq_mount_opts_parse(refused[i], &mo);
			if (ret != -EINVAL || !mo.error[0])
				printf("#   '%s' -> %d '%s'\n", refused[i], ret,
				       mo.error);
			CHECK(ret == -EINVAL && mo.error[0],
			      "opts: unsupported/unknown option refused up front");
			mq_mount_opts_free(&mo);
		}
	}

	memset(&mo, 0, sizeof(mo));
	mo.default_permissions = true;
	CHECK(mq_mount_opts_parse("nodefault_permissions", &mo) == 0 &&
	      !mo.default_permissions && !mo.kernel,
	      "opts: nodefault_permissions turns kernel checks off");
	mq_mount_opts_free(&mo);

	{
		enum mq_sandbox_mode m1 = -1, m2 = -1, m3 = -1, bad = -1;

		CHECK(!mq_sandbox_parse_mode("on", &m1) &&
		      !mq_sandbox_parse_mode("log", &m2) &&
		      !mq_sandbox_parse_mode("none", &m3) &&
		      m1 == MQ_SANDBOX_ON && m2 == MQ_SANDBOX_LOG &&
		      m3 == MQ_SANDBOX_NONE,
		      "opts: sandbox modes on, log, none (--sandbox=, mount.mqfuse sandbox=)");
		CHECK(mq_sandbox_parse_mode("bogus", &bad) == -EINVAL &&
		      mq_sandbox_parse_mode("", &bad) == -EINVAL &&
		      mq_sandbox_parse_mode("LOG", &bad) == -EINVAL &&
		      bad == (enum mq_sandbox_mode)-1,
		      "opts: a bad sandbox mode is refused, nothing set");
		CHECK(mq_sandbox_parse_mode("kill", &bad) == -EINVAL &&
		      mq_sandbox_parse_mode("off", &bad) == -EINVAL &&
		      bad == (enum mq_sandbox_mode)-1,
		      "opts: undocumented sandbox modes kill, off refused (--help, mqfused.8: on|log|none)");
	}
}

/* gen= / --gen parsing and picking a generation from /proc/filesystems. */
static int write_fs_list(char *path, const char *text)
{
	int fd = mkstemp(path);
	ssize_t n = (ssize_t)strlen(text);

	if (fd < 0)
		return -1;
	if (write(fd, text, n) != n) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static void test_generations(void)
{
	static const char *const bad[] = {
		"", "0", "-1", "+1", " 1", "1 ", "1x", "x1", "abc", "01",
		"1.0", "0x2", "100000", "99999999999999999999",
	};
	char two[] = "/tmp/mq-unit-fs.XXXXXX", none[] = "/tmp/mq-unit-fs.XXXXXX";
	char ten[] = "/tmp/mq-unit-fs.XXXXXX";
	char fstype[32], loaded[128];
	unsigned int i, nbad = 0;
	int gen = -7, a = 0, b = 0, c = 0;

	CHECK(!mq_parse_generation("1", &a) && !mq_parse_generation("2", &b) &&
	      !mq_parse_generation("99999", &c) && a == 1 && b == 2 && c == 99999,
	      "gen: 1, 2, 99999 parse");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (mq_parse_generation(bad[i], &gen) != -EINVAL) {
			printf("#   '%s' accepted as %d\n", bad[i], gen);
			nbad++;
		}
	}
	CHECK(!nbad && gen == -7,
	      "gen: not a number, 0, signs, spaces, leading zero, hex, too big refused; nothing set");

	/* mount.mqfuse_vN and -t mqfuse_vN[.subtype] */
	{
		static const struct { const char *name; bool sub; int gen; } tn[] = {
			{ "mqfuse", false, 0 }, { "mqfuse", true, 0 },
			{ "mqfuse.sshfs", true, 0 }, { "mqfuse.sshfs", false, 0 },
			{ "fuse", false, 0 }, { "mqfuse2", false, 0 }, { "", false, 0 },
			{ "mqfuse_v1", false, 1 }, { "mqfuse_v2", true, 2 },
			{ "mqfuse_v2.sub", true, 2 }, { "mqfuse_v99999", false, 99999 },
			{ "mqfuse_v01", false, -EINVAL }, { "mqfuse_v01", true, -EINVAL },
			{ "mqfuse_v0", false, -EINVAL }, { "mqfuse_v0", true, -EINVAL },
			{ "mqfuse_v100000", false, -EINVAL },
			{ "mqfuse_v99999999999999999999999999999999", true, -EINVAL },
			{ "mqfuse_v", false, -EINVAL }, { "mqfuse_v", true, -EINVAL },
			{ "mqfuse_v.sub", true, -EINVAL }, { "mqfuse_v2.", true, -EINVAL },
			{ "mqfuse_v2.x", false, -EINVAL }, { "mqfuse_v01.sub", true, -EINVAL },
			{ "mqfuse_v2x", true, -EINVAL }, { "mqfuse_v-1", false, -EINVAL },
			{ "mqfuse_v 2", false, -EINVAL },
		};
		unsigned int nt = 0;

		for (i = 0; i < sizeof(tn) / sizeof(tn[0]); i++) {
			int g = mq_type_generation(tn[i].name, tn[i].sub);

			if (g != tn[i].gen) {
				printf("#   type '%s' (subtype %d): %d, expected %d\n",
				       tn[i].name, tn[i].sub, g, tn[i].gen);
				nt++;
			}
		}
		CHECK(!nt, "gen: type names: mqfuse and others 0, mqfuse_vN[.sub] N, "
		      "mqfuse_v01/_v0/_v/huge/_v2.x(name)/empty subtype refused");
	}

	if (write_fs_list(two, "nodev\tsysfs\nnodev\tmqfuse_v1\n\text4\n"
			  "nodev\tmqfuse_v2\nnodev\tmqfuse_vx\nnodev\tmqfuse_v3x\n"
			  "nodev\tmqfuse_v0\nnodev\tfuse\n") ||
	    write_fs_list(none, "nodev\tsysfs\n\text4\nnodev\tfuse\nnodev\tfuseblk\n") ||
	    write_fs_list(ten, "nodev\tmqfuse_v9\nnodev\tmqfuse_v10\nnodev\tmqfuse_v2\n")) {
		CHECK(0, "gen: temporary /proc/filesystems copies written");
		return;
	}
	memset(fstype, 0, sizeof(fstype));
	CHECK(mq_find_generation(two, 0, fstype, sizeof(fstype), loaded,
				 sizeof(loaded)) == 2 &&
	      !strcmp(fstype, "mqfuse_v2") &&
	      !strcmp(loaded, "mqfuse_v1 mqfuse_v2"),
	      "gen: newest of mqfuse_v1, mqfuse_v2 is 2 (mqfuse_vx, mqfuse_v3x, mqfuse_v0 ignored)");
	CHECK(mq_find_generation(two, 1, fstype, sizeof(fstype), NULL, 0) == 1 &&
	      !strcmp(fstype, "mqfuse_v1"),
	      "gen: asking for 1 gets mqfuse_v1 although 2 is newer");
	strcpy(fstype, "untouched");
	CHECK(mq_find_generation(two, 3, fstype, sizeof(fstype), loaded,
				 sizeof(loaded)) == -ENOENT &&
	      !strcmp(fstype, "untouched") &&
	      !strcmp(loaded, "mqfuse_v1 mqfuse_v2"),
	      "gen: asking for 3 (not loaded) is -ENOENT, lists the loaded ones");
	CHECK(mq_find_generation(none, 0, NULL, 0, loaded, sizeof(loaded)) == -ENODEV &&
	      !loaded[0] &&
	      mq_find_generation(none, 1, NULL, 0, NULL, 0) == -ENODEV,
	      "gen: none loaded is -ENODEV, with or without a wanted generation");
	CHECK(mq_find_generation(ten, 0, fstype, sizeof(fstype), NULL, 0) == 10 &&
	      !strcmp(fstype, "mqfuse_v10"),
	      "gen: newest is compared as a number (10 > 9 > 2)");
	CHECK(mq_find_generation("/nonexistent/filesystems", 0, NULL, 0, loaded,
				 sizeof(loaded)) == -ENOENT && !loaded[0],
	      "gen: an unreadable list is its errno");
	{
		int gens[4] = { 0 };

		CHECK(mq_list_generations(ten, gens, 4) == 3 && gens[0] == 2 &&
		      gens[1] == 9 && gens[2] == 10 &&
		      mq_list_generations(two, gens, 4) == 2 && gens[0] == 1 &&
		      gens[1] == 2 && mq_list_generations(none, gens, 4) == 0 &&
		      mq_list_generations(ten, gens, 1) == 1 &&
		      mq_list_generations("/nonexistent/filesystems", gens, 4) == -ENOENT,
		      "gen: list of loaded generations is ascending by number, bounded, errno");
	}
	{
		char small[12];

		CHECK(mq_find_generation(ten, 0, NULL, 0, small, sizeof(small)) == 10 &&
		      strlen(small) < sizeof(small),
		      "gen: the loaded list is truncated to its buffer");
	}
	{
		struct mq_mount_opts mo = { .fs = MQ_FS_MQFUSE };

		CHECK(mq_mount_opts_parse("gen=2", &mo) == -EINVAL &&
		      strstr(mo.error, "--gen"),
		      "gen: -o gen=N to mqfused is refused, pointing at --gen");
		mq_mount_opts_free(&mo);
	}
	unlink(two);
	unlink(none);
	unlink(ten);
}

static void test_reply_building(void)
{
	char buf[64];
	struct fuse_out_header *oh = (void *)buf;

	CHECK(mq_build_reply(buf, 42, 0, 24) == 40 && oh->unique == 42 &&
	      oh->error == 0 && oh->len == 40, "reply: success header");
	CHECK(mq_build_reply(buf, 7, -ENOENT, 100) == 16 &&
	      oh->error == -ENOENT, "reply: error drops payload");
	CHECK(mq_build_reply(buf, 7, 5, 0) == 16 && oh->error == -EIO,
	      "reply: positive error becomes -EIO");
	CHECK(mq_build_reply(buf, 7, -100000, 0) == 16 && oh->error == -EIO,
	      "reply: out-of-range errno becomes -EIO");
}

/* ---- dispatch harness ------------------------------------------------ */

static struct mq_thread thr;
static int reply_pipe[2];
static char tmpdir[] = "/tmp/mqfused-unit.XXXXXX";
static uint64_t next_unique = 1;
static char path_buf[1024];
static int thr_root_fd;
static pid_t req_pid;		/* pid in the next requests' header */
static uid_t req_uid;		/* caller of the next requests */
static gid_t req_gid;

static void harness_init(void)
{
	size_t room = 256 << 10;

	if (pipe(reply_pipe))
		abort();
	fcntl(reply_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(reply_pipe[1], F_SETPIPE_SZ, 1 << 20);
	memset(&thr, 0, sizeof(thr));
	thr.devfd = reply_pipe[1];
	thr.inbuf = aligned_alloc(4096, room);
	thr.inbuf_len = room;
	thr.outbuf = aligned_alloc(4096, room);
	thr.outbuf_len = room;
	mq_stats_thread_init(&thr.stats);
	mq_stats_register_threads(&thr, 1);
	mq_creds_thread_init(&thr);
	mq_cfg.max_write = 1 << 20;
	mq_cfg.entry_timeout = 1;
	mq_cfg.attr_timeout = 1;
}

/* Build and dispatch a request; returns the reply length (0: none). */
static ssize_t request(uint32_t opcode, uint64_t nodeid, const void *arg,
		       size_t arg_len, const char *n1, const char *n2,
		       char *reply, size_t reply_max)
{
	struct fuse_in_header *in = (void *)thr.inbuf;
	size_t len = sizeof(*in) + arg_len;
	ssize_t n;

	memset(in, 0, sizeof(*in));
	memcpy(in + 1, arg, arg_len);
	if (n1) {
		memcpy(thr.inbuf + len, n1, strlen(n1) + 1);
		len += strlen(n1) + 1;
	}
	if (n2) {
		memcpy(thr.inbuf + len, n2, strlen(n2) + 1);
		len += strlen(n2) + 1;
	}
	in->len = len;
	in->opcode = opcode;
	in->unique = next_unique++;
	in->nodeid = nodeid;
	in->uid = req_uid;
	in->gid = req_gid;
	in->pid = req_pid;
	mq_dispatch(&thr, len);
	n = read(reply_pipe[0], reply, reply_max);
	return n < 0 ? 0 : n;
}

static int reply_error(const char *reply)
{
	return ((const struct fuse_out_header *)reply)->error;
}

/* The backend fd an fh names (low 32 bits; the generation is above). */
static int fh_fd(uint64_t fh)
{
	return (int)(uint32_t)fh;
}

static void test_dispatch(void)
{
	static char reply[256 << 10];
	struct fuse_init_in ii = { .major = 7, .minor = 38,
				   .max_readahead = 65536,
				   .flags = 0xffffffff };
	struct fuse_init_out *io = (void *)(reply + 16);
	struct fuse_entry_out *eo = (void *)(reply + 16);
	struct fuse_getattr_in gi = { 0 };
	struct fuse_forget_in fi = { .nlookup = 1 };
	struct fuse_open_in oi = { .flags = O_RDWR };
	struct fuse_open_out *oo = (void *)(reply + 16);
	struct fuse_read_in ri = { 0 };
	struct stat st;
	uint64_t nodeid, nodeid2, fh;
	char path[256];
	ssize_t n;
	int fd;

	if (!mkdtemp(tmpdir)) {
		CHECK(0, "dispatch: temporary directory");
		return;
	}
	fd = open(tmpdir, O_PATH | O_DIRECTORY);
	fstat(fd, &st);
	mq_resolve_probe(fd);
	thr_root_fd = fd;
	CHECK(mq_itable_init(fd, &st) == 0 && mq_handles_init(4096) == 0,
	      "dispatch: inode table and handles initialise");
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	{
		char src[256];

		snprintf(src, sizeof(src), "%s/file", tmpdir);
		snprintf(path, sizeof(path), "%s/hardlink", tmpdir);
		CHECK(link(src, path) == 0, "dispatch: hard link fixture");
	}

	n = request(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "file", NULL, reply,
		    sizeof(reply));
	CHECK(n == 16 && reply_error(reply) == -EIO,
	      "dispatch: requests before INIT fail with EIO");

	n = request(FUSE_INIT, 0, &ii, sizeof(ii), NULL, NULL, reply,
		    sizeof(reply));
	CHECK(n == 16 + (ssize_t)sizeof(*io) && reply_error(reply) == 0,
	      "dispatch: INIT answered with a full init_out");
	CHECK(io->major == 7 && io->minor == 38, "dispatch: INIT version 7.38");
	CHECK(io->max_write == (1 << 20) && io->max_pages == 256 &&
	      (io->flags & FUSE_MAX_PAGES), "dispatch: INIT max_write/max_pages");
	CHECK(!(io->flags & (FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS |
			     FUSE_WRITEBACK_CACHE | FUSE_POSIX_ACL)),
	      "dispatch: INIT leaves locks, writeback and ACLs to the kernel");
	CHECK((io->flags & FUSE_DO_READDIRPLUS) && (io->flags & FUSE_DONT_MASK) &&
	      (io->flags & FUSE_PARALLEL_DIROPS) && (io->flags & FUSE_ASYNC_DIO),
	      "dispatch: INIT enables readdirplus, dont_mask, parallel dirops");
	CHECK(io->max_readahead == 65536, "dispatch: INIT keeps max_readahead");
	CHECK(mq_init_flags_served(io->flags) &&
	      mq_init_flags_served(FUSE_HANDLE_KILLPRIV_V2 | FUSE_POSIX_LOCKS) &&
	      !mq_init_flags_served(io->flags | FUSE_POSIX_ACL) &&
	      !mq_init_flags_served(1ULL << 40),
	      "attach: a session is served only with INIT flags this daemon asks for");

	n = request(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "file", NULL, reply,
		    sizeof(reply));
	CHECK(n == 16 + (ssize_t)sizeof(*eo) && reply_error(reply) == 0 &&
	      eo->nodeid > FUSE_ROOT_ID && S_ISREG(eo->attr.mode),
	      "dispatch: LOOKUP of a file");
	nodeid = eo->nodeid;
	n = request(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "hardlink", NULL, reply,
		    sizeof(reply));
	nodeid2 = eo->nodeid;
	CHECK(reply_error(reply) == 0 && nodeid2 == nodeid,
	      "dispatch: hard link resolves to the same nodeid");
	CHECK(mq_itable_count() == 2, "dispatch: one table entry per inode");

	n = request(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "missing", NULL, reply,
		    sizeof(reply));
	CHECK(n == 16 && reply_error(reply) == -ENOENT,
	      "dispatch: LOOKUP of a missing name -> ENOENT");
	n = request(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, NULL, NULL, reply,
		    sizeof(reply));
	CHECK(n == 16 && reply_error(reply) == -EINVAL,
	      "dispatch: LOOKUP without a name -> EINVAL");

	n = request(FUSE_GETATTR, 9999, &gi, sizeof(gi), NULL, NULL, reply,
		    sizeof(reply));
	CHECK(n == 16 && reply_error(reply) == -ESTALE,
	      "dispatch: GETATTR of an unknown nodeid -> ESTALE");
	n = request(FUSE_GETATTR, nodeid, &gi, 4, NULL, NULL, reply,
		    sizeof(reply));
	CHECK(n == 16 && reply_error(reply) == -EINVAL,
	      "dispatch: short GETATTR body -> EINVAL");
	n = request(4000, nodeid, NULL, 0, NULL, NULL, reply, sizeof(reply));
	CHECK(n == 16 && reply_error(reply) == -ENOSYS,
	      "dispatch: unknown opcode -> ENOSYS");
	n = request(FUSE_IOCTL, nodeid, NULL, 0, NULL, NULL, reply,
		    sizeof(reply));
	CHECK(n == 16 && reply_error(reply) == -ENOSYS,
	      "dispatch: IOCTL -> ENOSYS");

	/* OPEN + WRITE + READ through the fh. */
	n = request(FUSE_OPEN, nodeid, &oi, sizeof(oi), NULL, NULL, reply,
		    sizeof(reply));
	fh = oo->fh;
	CHECK(n == 16 + (ssize_t)sizeof(*oo) && reply_error(reply) == 0,
	      "dispatch: OPEN");
	{
		char wbuf[sizeof(struct fuse_write_in) + 5];
		struct fuse_write_in *wi = (void *)wbuf;
		struct fuse_write_out *wo = (void *)(reply + 16);

		memset(wi, 0, sizeof(*wi));
		wi->fh = fh;
		wi->size = 5;
		memcpy(wi + 1, "hello", 5);
		n = request(FUSE_WRITE, nodeid, wbuf, sizeof(wbuf), NULL, NULL,
			    reply, sizeof(reply));
		CHECK(reply_error(reply) == 0 && wo->size == 5,
		      "dispatch: WRITE 5 bytes");
		wi->size = 500;
		n = request(FUSE_WRITE, nodeid, wbuf, sizeof(wbuf), NULL, NULL,
			    reply, sizeof(reply));
		CHECK(reply_error(reply) == -EINVAL,
		      "dispatch: WRITE claiming more payload than sent -> EINVAL");
		wi->size = 5;
		wi->offset = UINT64_MAX;
		n = request(FUSE_WRITE, nodeid, wbuf, sizeof(wbuf), NULL, NULL,
			    reply, sizeof(reply));
		CHECK(reply_error(reply) == -EINVAL,
		      "dispatch: WRITE at offset 2^64-1 (io_uring's \"current position\") -> EINVAL");
		wi->offset = INT64_MAX - 2;
		n = request(FUSE_WRITE, nodeid, wbuf, sizeof(wbuf), NULL, NULL,
			    reply, sizeof(reply));
		CHECK(reply_error(reply) == -EFBIG,
		      "dispatch: WRITE ending past 2^63-1 -> EFBIG");
		/* FUSE_HANDLE_KILLPRIV_V2: suid, and sgid with group exec, go */
		snprintf(path, sizeof(path), "%s/file", tmpdir);
		CHECK(chmod(path, 06775) == 0, "dispatch: suid/sgid fixture");
		wi->offset = 0;
		wi->write_flags = FUSE_WRITE_KILL_SUIDGID;
		n = request(FUSE_WRITE, nodeid, wbuf, sizeof(wbuf), NULL, NULL,
			    reply, sizeof(reply));
		CHECK(reply_error(reply) == 0 && wo->size == 5 && !stat(path, &st) &&
		      (st.st_mode & 07777) == 0775,
		      "dispatch: WRITE with FUSE_WRITE_KILL_SUIDGID clears suid and sgid");
		CHECK(chmod(path, 06765) == 0, "dispatch: suid/sgid without g+x fixture");
		n = request(FUSE_WRITE, nodeid, wbuf, sizeof(wbuf), NULL, NULL,
			    reply, sizeof(reply));
		CHECK(reply_error(reply) == 0 && !stat(path, &st) &&
		      (st.st_mode & 07777) == 02765,
		      "dispatch: ... keeps sgid without group exec (mandatory locking bit)");
		wi->write_flags = 0;
		CHECK(chmod(path, 04755) == 0 && request(FUSE_WRITE, nodeid, wbuf,
		      sizeof(wbuf), NULL, NULL, reply, sizeof(reply)) > 0 &&
		      reply_error(reply) == 0 && !stat(path, &st) &&
		      (st.st_mode & 07777) == 04755,
		      "dispatch: WRITE without the flag keeps suid (the daemon has CAP_FSETID)");
		CHECK(chmod(path, 0644) == 0, "dispatch: mode restored");
	}
	ri.offset = UINT64_MAX;
	ri.fh = fh;
	ri.size = 4096;
	n = request(FUSE_READ, nodeid, &ri, sizeof(ri), NULL, NULL, reply,
		    sizeof(reply));
	CHECK(n == 16 && reply_error(reply) == -EINVAL,
	      "dispatch: READ at offset 2^64-1 -> EINVAL, not the fd's position");
	ri.offset = 0;
	ri.fh = fh;
	ri.size = 4096;
	n = request(FUSE_READ, nodeid, &ri, sizeof(ri), NULL, NULL, reply,
		    sizeof(reply));
	CHECK(n == 21 && !memcmp(reply + 16, "hello", 5),
	      "dispatch: READ returns the data");
	ri.fh = thr.devfd;	/* not a handle we gave out */
	n = request(FUSE_READ, nodeid, &ri, sizeof(ri), NULL, NULL, reply,
		    sizeof(reply));
	CHECK(reply_error(reply) == -EBADF, "dispatch: READ with a bogus fh -> EBADF");
	{
		struct fuse_release_in rel = { .fh = fh };

		n = request(FUSE_RELEASE, nodeid, &rel, sizeof(rel), NULL, NULL,
			    reply, sizeof(reply));
		CHECK(reply_error(reply) == 0 && mq_handles_count() == 0,
		      "dispatch: RELEASE frees the handle");
		n = request(FUSE_RELEASE, nodeid, &rel, sizeof(rel), NULL, NULL,
			    reply, sizeof(reply));
		CHECK(reply_error(reply) == -EBADF,
		      "dispatch: double RELEASE -> EBADF");
	}

	/* READDIRPLUS takes lookup references like LOOKUP. */
	n = request(FUSE_OPENDIR, FUSE_ROOT_ID, &oi, sizeof(oi), NULL, NULL,
		    reply, sizeof(reply));
	fh = oo->fh;
	CHECK(reply_error(reply) == 0, "dispatch: OPENDIR");
	ri.fh = fh;
	ri.offset = 0;
	ri.size = 32768;
	n = request(FUSE_READDIRPLUS, FUSE_ROOT_ID, &ri, sizeof(ri), NULL, NULL,
		    reply, sizeof(reply));
	{
		size_t off = 16, entries = 0, real = 0;

		while (off < (size_t)n) {
			struct fuse_direntplus *dp = (void *)(reply + off);

			entries++;
			if (dp->entry_out.nodeid)
				real++;
			off += FUSE_DIRENTPLUS_SIZE(dp);
		}
		CHECK(entries == 4 && real == 2,
		      "dispatch: READDIRPLUS lists . .. file hardlink");
	}
	ri.offset = 0;
	ri.size = 80;	/* room for about two plain entries */
	n = request(FUSE_READDIR, FUSE_ROOT_ID, &ri, sizeof(ri), NULL, NULL,
		    reply, sizeof(reply));
	{
		struct fuse_dirent *d = (void *)(reply + 16);
		size_t got = 0, off = 16;
		uint64_t last_off = 0;

		while (off < (size_t)n) {
			d = (void *)(reply + off);
			got++;
			last_off = d->off;
			off += FUSE_DIRENT_SIZE(d);
		}
		CHECK(got >= 1 && got < 4 && n <= 16 + 80,
		      "dispatch: READDIR honours the requested size");
		ri.offset = last_off;
		ri.size = 32768;
		n = request(FUSE_READDIR, FUSE_ROOT_ID, &ri, sizeof(ri), NULL,
			    NULL, reply, sizeof(reply));
		off = 16;
		while (off < (size_t)n) {
			d = (void *)(reply + off);
			got++;
			off += FUSE_DIRENT_SIZE(d);
		}
		CHECK(got == 4, "dispatch: READDIR resumes at the returned offset");
	}
	{
		struct fuse_release_in rel = { .fh = fh };

		request(FUSE_RELEASEDIR, FUSE_ROOT_ID, &rel, sizeof(rel), NULL,
			NULL, reply, sizeof(reply));
		CHECK(reply_error(reply) == 0, "dispatch: RELEASEDIR");
	}

	/* 2 LOOKUPs + 2 READDIRPLUS entries reference the same inode. */
	fi.nlookup = 3;
	n = request(FUSE_FORGET, nodeid, &fi, sizeof(fi), NULL, NULL, reply,
		    sizeof(reply));
	CHECK(n == 0, "dispatch: FORGET is not answered");
	CHECK(mq_itable_count() == 2, "dispatch: partial FORGET keeps the inode");
	{
		char bbuf[sizeof(struct fuse_batch_forget_in) +
			  sizeof(struct fuse_forget_one)];
		struct fuse_batch_forget_in *bi = (void *)bbuf;
		struct fuse_forget_one *one = (void *)(bi + 1);

		bi->count = 1;
		bi->dummy = 0;
		one->nodeid = nodeid;
		one->nlookup = 1;
		n = request(FUSE_BATCH_FORGET, 0, bbuf, sizeof(bbuf), NULL,
			    NULL, reply, sizeof(reply));
		CHECK(n == 0 && mq_itable_count() == 1,
		      "dispatch: BATCH_FORGET frees the inode at zero");
	}
	n = request(FUSE_GETATTR, nodeid, &gi, sizeof(gi), NULL, NULL, reply,
		    sizeof(reply));
	CHECK(reply_error(reply) == -ESTALE,
	      "dispatch: forgotten nodeid is no longer valid");

	/* Statistics file. */
	snprintf(path, sizeof(path), "%s/stats", tmpdir);
	CHECK(mq_stats_write(path) == 0, "stats: file written");
	{
		FILE *f = fopen(path, "r");
		char line[256];
		bool op_line = false, size_line = false, thr_line = false;

		while (f && fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "op=READ count=3 ", 16))
				op_line = true;
			if (!strcmp(line, "size op=READDIR bytes=32768 count=1\n"))
				size_line = true;
			if (!strncmp(line, "thread=0 queue=0 requests=", 26))
				thr_line = true;
		}
		if (f)
			fclose(f);
		CHECK(op_line, "stats: per-op line");
		CHECK(size_line, "stats: exact size line");
		CHECK(thr_line, "stats: per-thread line");
	}
}


/* ---- locks: GETLK/SETLK/SETLKW on the backing file (locks.c) ---------- */

static uint64_t lookup_nodeid(uint64_t parent, const char *name, char *reply,
			      size_t max);

static struct mq_thread lk_thr;	/* SETLKW goes through it: waiters answer on lk_pipe */
static int lk_pipe[2];

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n - 1;	/* the directory's own fd */
}

static void lk_fill(struct fuse_lk_in *li, uint64_t fh, uint64_t owner,
		    uint32_t type, uint64_t start, uint64_t end, uint32_t flags)
{
	memset(li, 0, sizeof(*li));
	li->fh = fh;
	li->owner = owner;
	li->lk.start = start;
	li->lk.end = end;
	li->lk.type = type;
	li->lk.pid = type == F_UNLCK ? 0 : 1000 + (uint32_t)owner;
	li->lk_flags = flags;
}

/* A lock request through the main harness thread; the reply's error. */
static int lk_call(uint32_t opcode, uint64_t nodeid, uint64_t fh,
		   uint64_t owner, uint32_t type, uint64_t start, uint64_t end,
		   uint32_t flags, char *reply, size_t max)
{
	struct fuse_lk_in li;

	lk_fill(&li, fh, owner, type, start, end, flags);
	if (request(opcode, nodeid, &li, sizeof(li), NULL, NULL, reply, max) <
	    16)
		return 1;	/* no answer */
	return reply_error(reply);
}

/* A SETLK(W) through lk_thr; returns its unique (answers come on lk_pipe). */
static uint64_t lk_send(uint32_t opcode, uint64_t nodeid, uint64_t fh,
			uint64_t owner, uint32_t type, uint64_t start,
			uint64_t end, uint32_t flags)
{
	struct fuse_in_header *in = (void *)lk_thr.inbuf;
	uint64_t unique = next_unique++;

	memset(in, 0, sizeof(*in));
	in->len = sizeof(*in) + sizeof(struct fuse_lk_in);
	in->opcode = opcode;
	in->unique = unique;
	in->nodeid = nodeid;
	in->uid = req_uid;
	in->gid = req_gid;
	lk_fill((void *)(in + 1), fh, owner, type, start, end, flags);
	mq_dispatch(&lk_thr, in->len);
	return unique;
}

static uint64_t lk_setlkw(uint64_t nodeid, uint64_t fh, uint64_t owner,
			  uint32_t type, uint64_t start, uint64_t end,
			  uint32_t flags)
{
	return lk_send(FUSE_SETLKW, nodeid, fh, owner, type, start, end, flags);
}

/* The next answer on lk_pipe within @ms: its error; 1 if none came. */
static int lk_answer(int ms, uint64_t *unique)
{
	struct pollfd p = { .fd = lk_pipe[0], .events = POLLIN };
	struct fuse_out_header oh;

	*unique = 0;
	if (poll(&p, 1, ms) != 1 || read(lk_pipe[0], &oh, sizeof(oh)) != sizeof(oh))
		return 1;
	*unique = oh.unique;
	return oh.error;
}

/* Up to @ms for the waiters to be gone (they answer, then put and exit). */
static bool lk_waiters_gone(int ms)
{
	for (; ms > 0 && mq_locks_nr_waiters(); ms -= 10)
		usleep(10000);
	return !mq_locks_nr_waiters();
}

static uint64_t lk_open(uint64_t nodeid, uint32_t flags, char *reply, size_t max)
{
	struct fuse_open_in oi = { .flags = flags };
	struct fuse_open_out *oo = (void *)(reply + 16);

	if (request(FUSE_OPEN, nodeid, &oi, sizeof(oi), NULL, NULL, reply, max) !=
	    16 + (ssize_t)sizeof(*oo) || reply_error(reply))
		return 0;
	return oo->fh;
}

static int lk_release(uint64_t nodeid, uint64_t fh, uint32_t flags,
		      uint64_t owner, char *reply, size_t max)
{
	struct fuse_release_in rel = { .fh = fh, .release_flags = flags,
				       .lock_owner = owner };

	request(FUSE_RELEASE, nodeid, &rel, sizeof(rel), NULL, NULL, reply, max);
	return reply_error(reply);
}

static int lk_flush(uint64_t nodeid, uint64_t fh, uint64_t owner, char *reply,
		    size_t max)
{
	struct fuse_flush_in fi = { .fh = fh, .lock_owner = owner };

	request(FUSE_FLUSH, nodeid, &fi, sizeof(fi), NULL, NULL, reply, max);
	return reply_error(reply);
}

/* fds of this process open on @path with access @acc (O_ACCMODE). */
static int lk_fds_on(const char *path, int acc)
{
	DIR *d = opendir("/proc/self/fd");
	char link[320], target[512], info[320], line[128];
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d))) {
		unsigned int flags = 0;
		ssize_t len;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strcmp(target, path))
			continue;
		snprintf(info, sizeof(info), "/proc/self/fdinfo/%s", e->d_name);
		f = fopen(info, "re");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "flags: %o", &flags) == 1)
				break;
		if (f)
			fclose(f);
		n += (int)(flags & O_ACCMODE) == acc;
	}
	if (d)
		closedir(d);
	return n;
}

/* The hook of test_locks_review: FLUSH lk_hook_owner right after registration. */
static uint64_t lk_hook_unique, lk_hook_nodeid, lk_hook_fh, lk_hook_owner;
static int lk_hook_flushes;

static void lk_flush_hook(uint64_t unique)
{
	static char reply[256];

	if (unique != lk_hook_unique)
		return;
	lk_flush(lk_hook_nodeid, lk_hook_fh, lk_hook_owner, reply, sizeof(reply));
	lk_hook_flushes++;
}

/*
 * The review of issue 11: owner fds opened as the caller with the handle's
 * access, FLUSH overtaking a SETLK in flight, per-uid limits.
 */
static void test_locks_review(uint64_t nodeid, const char *path)
{
	static char reply[4096];
	const uint64_t max = INT64_MAX;
	uint64_t fhrw, fhro, fhro2, u, u1, u2, u3, got;
	int fds_before, rw_before, ro_before, n, err, err2, err3;
	uid_t saved_uid = req_uid;
	gid_t saved_gid = req_gid;
	bool ok;

	fds_before = count_fds();
	fhrw = lk_open(nodeid, O_RDWR, reply, sizeof(reply));
	fhro = lk_open(nodeid, O_RDONLY, reply, sizeof(reply));
	fhro2 = lk_open(nodeid, O_RDONLY, reply, sizeof(reply));
	CHECK(fhrw && fhro && fhro2 && !mq_locks_nr_owners(),
	      "locks review: three OPENs, no owner yet");
	rw_before = lk_fds_on(path, O_RDWR);
	ro_before = lk_fds_on(path, O_RDONLY);

	/* 1: a lock through a read-only handle opens no writable fd */
	err = lk_call(FUSE_SETLK, nodeid, fhro, 20, F_RDLCK, 0, 9, 0, reply,
		      sizeof(reply));
	n = lk_fds_on(path, O_RDWR);
	CHECK(!err && n == rw_before && lk_fds_on(path, O_RDONLY) == ro_before + 1,
	      "locks review: a read lock through a read-only handle: a read-only owner fd");
	if (err || n != rw_before)
		printf("#   err %d, %d writable fds (%d before)\n", err, n, rw_before);
	err = lk_call(FUSE_SETLK, nodeid, fhro, 20, F_WRLCK, 20, 29, 0, reply,
		      sizeof(reply));
	CHECK(err == -EBADF, "locks review: F_WRLCK through the read-only handle -> EBADF");
	/* the same owner, a write lock through a writable handle: widened */
	err = lk_call(FUSE_SETLK, nodeid, fhrw, 20, F_WRLCK, 20, 29, 0, reply,
		      sizeof(reply));
	CHECK(!err && mq_locks_nr_owners() == 1 &&
	      lk_fds_on(path, O_RDWR) == rw_before + 1 &&
	      lk_fds_on(path, O_RDONLY) == ro_before,
	      "locks review: its F_WRLCK through a writable handle widens the owner fd to O_RDWR");
	err = lk_call(FUSE_SETLK, nodeid, fhrw, 21, F_WRLCK, 5, 5, 0, reply,
		      sizeof(reply));
	err2 = lk_call(FUSE_SETLK, nodeid, fhrw, 21, F_WRLCK, 25, 25, 0, reply,
		       sizeof(reply));
	err3 = lk_call(FUSE_SETLK, nodeid, fhro2, 21, F_RDLCK, 0, 9, 0, reply,
		       sizeof(reply));
	CHECK(err == -EAGAIN && err2 == -EAGAIN && !err3,
	      "locks review: the read lock was carried over, the write lock taken");
	CHECK(!lk_call(FUSE_SETLK, nodeid, fhrw, 20, F_UNLCK, 0, max, 0, reply,
		       sizeof(reply)) &&
	      !lk_call(FUSE_SETLK, nodeid, fhrw, 21, F_UNLCK, 0, max, 0, reply,
		       sizeof(reply)) && !mq_locks_nr_owners(),
	      "locks review: both owners unlock, no owner fd left");

	/* 1: the owner fd is opened as the caller */
	if (chmod(path, 0600))
		abort();
	req_uid = 1234;
	req_gid = 1234;
	err = lk_call(FUSE_SETLK, nodeid, fhro, 22, F_RDLCK, 0, 0, 0, reply,
		      sizeof(reply));
	req_uid = saved_uid;
	req_gid = saved_gid;
	if (chmod(path, 0644))
		abort();
	CHECK(err == -ENOLCK && !mq_locks_nr_owners(),
	      "locks review: uid 1234 cannot lock a 0600 root file it cannot open (ENOLCK)");

	/* 2: FLUSH of the owner after the grant, then between entry and grant */
	CHECK(!lk_call(FUSE_SETLK, nodeid, fhrw, 23, F_WRLCK, 0, 0, 0, reply,
		       sizeof(reply)) &&
	      !lk_flush(nodeid, fhrw, 23, reply, sizeof(reply)) &&
	      !lk_call(FUSE_SETLK, nodeid, fhrw, 24, F_WRLCK, 0, 0, 0, reply,
		       sizeof(reply)) &&
	      !lk_call(FUSE_SETLK, nodeid, fhrw, 24, F_UNLCK, 0, max, 0, reply,
		       sizeof(reply)),
	      "locks review: SETLK granted, then FLUSH of its owner: the lock is gone");
	lk_hook_nodeid = nodeid;
	lk_hook_fh = fhrw;
	lk_hook_owner = 23;
	lk_hook_unique = next_unique;	/* the next request's */
	lk_hook_flushes = 0;
	mq_locks_test_hook = lk_flush_hook;
	u = lk_send(FUSE_SETLK, nodeid, fhrw, 23, F_WRLCK, 0, 0, 0);
	mq_locks_test_hook = NULL;
	err = lk_answer(1000, &got);
	err2 = lk_call(FUSE_SETLK, nodeid, fhrw, 24, F_WRLCK, 0, 0, 0, reply,
		       sizeof(reply));
	n = mq_locks_nr_owners();
	CHECK(lk_hook_flushes == 1 && got == u && err == -EBADF && !err2 && n == 1,
	      "locks review: FLUSH of its owner served while the SETLK is in flight: its grant is undone (EBADF)");
	if (err != -EBADF || err2)
		printf("#   flushes %d, SETLK answered %d, another owner got %d, %d owners\n",
		       lk_hook_flushes, err, err2, n);
	lk_call(FUSE_SETLK, nodeid, fhrw, 24, F_UNLCK, 0, max, 0, reply,
		sizeof(reply));
	/* the same for a SETLKW that then has to wait */
	CHECK(!lk_call(FUSE_SETLK, nodeid, fhrw, 25, F_WRLCK, 0, 0, 0, reply,
		       sizeof(reply)), "locks review: owner 25 locks byte 0");
	lk_hook_unique = next_unique;
	lk_hook_flushes = 0;
	mq_locks_test_hook = lk_flush_hook;
	u = lk_setlkw(nodeid, fhrw, 23, F_WRLCK, 0, 0, 0);
	mq_locks_test_hook = NULL;
	err = lk_answer(300, &got);
	CHECK(lk_hook_flushes == 1 && err == 1,
	      "locks review: a SETLKW whose owner was flushed in flight waits");
	lk_call(FUSE_SETLK, nodeid, fhrw, 25, F_UNLCK, 0, max, 0, reply,
		sizeof(reply));
	err = lk_answer(10000, &got);
	err2 = lk_call(FUSE_SETLK, nodeid, fhrw, 24, F_WRLCK, 0, 0, 0, reply,
		       sizeof(reply));
	CHECK(err == -EBADF && got == u && !err2 && lk_waiters_gone(5000),
	      "locks review: ... and its grant is undone (EBADF), nothing stays locked");
	lk_call(FUSE_SETLK, nodeid, fhrw, 24, F_UNLCK, 0, max, 0, reply,
		sizeof(reply));

	/* 3: waiter slots per uid (limits 4 in all, 2 per uid here) */
	mq_locks_set_limits(8192, 2048, 4, 2);
	CHECK(!lk_call(FUSE_SETLK, nodeid, fhrw, 30, F_WRLCK, 0, 9, 0, reply,
		       sizeof(reply)), "locks review: owner 30 write-locks 0-9");
	u1 = lk_setlkw(nodeid, fhrw, 31, F_WRLCK, 0, 0, 0);
	u2 = lk_setlkw(nodeid, fhrw, 32, F_WRLCK, 1, 1, 0);
	err = lk_answer(300, &got);
	CHECK(err == 1 && mq_locks_nr_waiters() == 2,
	      "locks review: uid 0's two SETLKW wait (its share)");
	u3 = lk_setlkw(nodeid, fhrw, 33, F_WRLCK, 2, 2, 0);
	err = lk_answer(300, &got);
	CHECK(err == -ENOLCK && got == u3 && mq_locks_nr_waiters() == 2,
	      "locks review: its third SETLKW fails at once with ENOLCK");
	req_uid = 1234;
	req_gid = 1234;
	u3 = lk_setlkw(nodeid, fhro, 34, F_RDLCK, 3, 3, 0);
	req_uid = saved_uid;
	req_gid = saved_gid;
	err = lk_answer(300, &got);
	CHECK(err == 1 && mq_locks_nr_waiters() == 3,
	      "locks review: another uid still gets a waiter slot");
	lk_call(FUSE_SETLK, nodeid, fhrw, 30, F_UNLCK, 0, max, 0, reply,
		sizeof(reply));
	ok = true;
	for (n = 0; n < 3; n++) {
		err = lk_answer(10000, &got);
		ok = ok && !err && (got == u1 || got == u2 || got == u3);
	}
	CHECK(ok && lk_waiters_gone(5000),
	      "locks review: the three waits are granted when owner 30 unlocks");
	for (n = 31; n <= 34; n++)
		lk_call(FUSE_SETLK, nodeid, fhrw, n, F_UNLCK, 0, max, 0, reply,
			sizeof(reply));

	/* 4: owner fds: 3 in all, 2 per uid here; nothing opened past them */
	mq_locks_set_limits(3, 2, 256, 64);
	rw_before = lk_fds_on(path, O_RDWR);
	err = lk_call(FUSE_SETLK, nodeid, fhrw, 40, F_WRLCK, 0, 0, 0, reply,
		      sizeof(reply));
	err2 = lk_call(FUSE_SETLK, nodeid, fhrw, 41, F_WRLCK, 1, 1, 0, reply,
		       sizeof(reply));
	err3 = lk_call(FUSE_SETLK, nodeid, fhrw, 42, F_WRLCK, 2, 2, 0, reply,
		       sizeof(reply));
	n = lk_fds_on(path, O_RDWR);
	CHECK(!err && !err2 && err3 == -ENOLCK && n == rw_before + 2,
	      "locks review: a uid's third owner fd -> ENOLCK, no fd opened for it");
	req_uid = 1234;
	req_gid = 1234;
	err = lk_call(FUSE_SETLK, nodeid, fhro, 43, F_RDLCK, 3, 3, 0, reply,
		      sizeof(reply));
	err2 = lk_call(FUSE_SETLK, nodeid, fhro, 44, F_RDLCK, 4, 4, 0, reply,
		       sizeof(reply));
	req_uid = saved_uid;
	req_gid = saved_gid;
	CHECK(!err && err2 == -ENOLCK && mq_locks_nr_owners() == 3,
	      "locks review: another uid gets one, then the total (3) -> ENOLCK");
	for (n = 40; n <= 44; n++)
		lk_call(FUSE_SETLK, nodeid, fhrw, n, F_UNLCK, 0, max, 0, reply,
			sizeof(reply));
	CHECK(!mq_locks_nr_owners(), "locks review: unlocked, every owner fd closed");
	mq_locks_set_limits(8192, 2048, 256, 64);

	lk_release(nodeid, fhrw, 0, 0, reply, sizeof(reply));
	lk_release(nodeid, fhro, 0, 0, reply, sizeof(reply));
	lk_release(nodeid, fhro2, 0, 0, reply, sizeof(reply));
	n = count_fds();
	CHECK(n == fds_before && !mq_locks_nr_owners() && !mq_locks_nr_waiters(),
	      "locks review: no fd left behind");
	if (n != fds_before)
		printf("#   %d fds, %d before\n", n, fds_before);
}

static void test_locks(void)
{
	static char reply[4096];
	struct fuse_lk_out *lo = (void *)(reply + 16);
	const uint64_t max = INT64_MAX, lkf = FUSE_LK_FLOCK;
	uint64_t nodeid, fh1, fh2, fhro, fh4, fh5, u, got;
	uint32_t saved_flags = mq_conn.flags;
	size_t room = 64 << 10;
	char path[512];
	int fds_before, fd, err;
	sigset_t set;

	CHECK(mq_locks_init() == 0, "locks: wake-up signal handler installed");
	/* as in the daemon: only a waiter thread takes the wake-up signal */
	sigemptyset(&set);
	mq_locks_block_signal(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pipe(lk_pipe))
		abort();
	memset(&lk_thr, 0, sizeof(lk_thr));
	lk_thr.devfd = lk_pipe[1];
	lk_thr.inbuf = aligned_alloc(4096, room);
	lk_thr.inbuf_len = room;
	lk_thr.outbuf = aligned_alloc(4096, room);
	lk_thr.outbuf_len = room;
	mq_stats_thread_init(&lk_thr.stats);
	mq_creds_thread_init(&lk_thr);

	CHECK(lk_call(FUSE_GETLK, FUSE_ROOT_ID, 0, 1, F_WRLCK, 0, max, 0, reply,
		      sizeof(reply)) == -ENOSYS,
	      "locks: GETLK without FUSE_POSIX_LOCKS -> ENOSYS");
	{
		struct fuse_init_in ii = { .major = 7, .minor = 38,
					   .max_readahead = 65536,
					   .flags = 0xffffffff };
		struct fuse_init_out *io = (void *)(reply + 16);

		/* INIT again, as a daemon without --no-locks */
		atomic_store(&mq_conn.proto_minor, 0);
		mq_cfg.locks = true;
		request(FUSE_INIT, 0, &ii, sizeof(ii), NULL, NULL, reply,
			sizeof(reply));
		CHECK(reply_error(reply) == 0 && (io->flags & FUSE_POSIX_LOCKS) &&
		      (io->flags & FUSE_FLOCK_LOCKS),
		      "locks: INIT negotiates FUSE_POSIX_LOCKS and FUSE_FLOCK_LOCKS");
	}

	snprintf(path, sizeof(path), "%s/lockf", tmpdir);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, 4096))
		abort();
	close(fd);
	nodeid = lookup_nodeid(FUSE_ROOT_ID, "lockf", reply, sizeof(reply));
	fds_before = count_fds();	/* the inode's O_PATH fd is counted */
	fh1 = lk_open(nodeid, O_RDWR, reply, sizeof(reply));
	fh2 = lk_open(nodeid, O_RDWR, reply, sizeof(reply));
	fhro = lk_open(nodeid, O_RDONLY, reply, sizeof(reply));
	fh4 = lk_open(nodeid, O_RDWR, reply, sizeof(reply));
	fh5 = lk_open(nodeid, O_RDWR, reply, sizeof(reply));
	CHECK(nodeid && fh1 && fh2 && fhro && fh4 && fh5,
	      "locks: LOOKUP and five OPENs of one file");

	/* owners: one process's locks never conflict, two processes' do */
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh1, 1, F_WRLCK, 0, 99, 0, reply,
		       sizeof(reply)) && mq_locks_nr_owners() == 1,
	      "locks: owner 1 write-locks 0-99 (one backing fd)");
	CHECK(lk_call(FUSE_SETLK, nodeid, fh2, 2, F_WRLCK, 50, 50, 0, reply,
		      sizeof(reply)) == -EAGAIN && mq_locks_nr_owners() == 1,
	      "locks: owner 2 is refused (EAGAIN) and keeps no fd");
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh2, 1, F_WRLCK, 50, 200, 0, reply,
		       sizeof(reply)),
	      "locks: owner 1 locks 50-200 through another handle (no self-conflict)");
	err = lk_call(FUSE_GETLK, nodeid, fh2, 2, F_RDLCK, 150, max, 0, reply,
		      sizeof(reply));
	CHECK(!err && lo->lk.type == F_WRLCK && lo->lk.start == 0 &&
	      lo->lk.end == 200 && lo->lk.pid == 1001,
	      "locks: GETLK of owner 2 reports owner 1's merged 0-200 and its pid");
	if (err || lo->lk.pid != 1001)
		printf("#   err %d type %u %llu-%llu pid %u\n", err, lo->lk.type,
		       (unsigned long long)lo->lk.start,
		       (unsigned long long)lo->lk.end, lo->lk.pid);
	CHECK(!lk_call(FUSE_GETLK, nodeid, fh1, 1, F_WRLCK, 0, max, 0, reply,
		       sizeof(reply)) && lo->lk.type == F_UNLCK,
	      "locks: GETLK of owner 1 does not see its own locks");
	CHECK(!lk_call(FUSE_GETLK, nodeid, fh2, 2, F_WRLCK, 201, max, 0, reply,
		       sizeof(reply)) && lo->lk.type == F_UNLCK,
	      "locks: GETLK past the locked range: F_UNLCK");

	/* untrusted input */
	CHECK(lk_call(FUSE_SETLK, nodeid, fh2, 2, 7, 0, 0, 0, reply,
		      sizeof(reply)) == -EINVAL,
	      "locks: a bad lock type -> EINVAL");
	CHECK(lk_call(FUSE_SETLK, nodeid, fh2, 2, F_RDLCK, 10, 9, 0, reply,
		      sizeof(reply)) == -EINVAL,
	      "locks: start > end -> EINVAL");
	CHECK(lk_call(FUSE_SETLK, nodeid, fh2, 2, F_RDLCK, 0, max + 1, 0, reply,
		      sizeof(reply)) == -EINVAL &&
	      lk_call(FUSE_SETLK, nodeid, fh2, 2, F_RDLCK, max + 1, ~0ull, 0,
		      reply, sizeof(reply)) == -EINVAL,
	      "locks: a range past OFFSET_MAX -> EINVAL");
	CHECK(lk_call(FUSE_GETLK, nodeid, fh2, 2, F_UNLCK, 0, max, 0, reply,
		      sizeof(reply)) == -EINVAL &&
	      lk_call(FUSE_GETLK, nodeid, fh2, 2, F_RDLCK, 0, max, lkf, reply,
		      sizeof(reply)) == -EINVAL,
	      "locks: GETLK of F_UNLCK or of a flock -> EINVAL");
	CHECK(lk_call(FUSE_SETLK, nodeid, fh2, 2, F_RDLCK, 0, 0, 0x80, reply,
		      sizeof(reply)) == -EINVAL,
	      "locks: unknown lk_flags -> EINVAL");
	CHECK(lk_call(FUSE_SETLK, nodeid, fh2 ^ (1ull << 32), 2, F_RDLCK, 0, 0,
		      0, reply, sizeof(reply)) == -EBADF &&
	      lk_call(FUSE_SETLK, 999999, fh2, 2, F_RDLCK, 0, 0, 0, reply,
		      sizeof(reply)) == -ESTALE,
	      "locks: a stale fh -> EBADF, an unknown nodeid -> ESTALE");
	{
		char shortbuf[20] = { 0 };

		request(FUSE_SETLK, nodeid, shortbuf, sizeof(shortbuf), NULL,
			NULL, reply, sizeof(reply));
		CHECK(reply_error(reply) == -EINVAL, "locks: short body -> EINVAL");
	}
	CHECK(lk_call(FUSE_SETLK, nodeid, fhro, 3, F_WRLCK, 1000, 1000, 0, reply,
		      sizeof(reply)) == -EBADF &&
	      !lk_call(FUSE_SETLK, nodeid, fhro, 3, F_RDLCK, 1000, 1000, 0, reply,
		       sizeof(reply)),
	      "locks: a write lock through a read-only handle -> EBADF, a read lock works");
	CHECK(!lk_call(FUSE_SETLK, nodeid, fhro, 3, F_UNLCK, 0, max, 0, reply,
		       sizeof(reply)), "locks: owner 3 unlocks");
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh2, 2, F_RDLCK, max - 1, max - 1, 0,
		       reply, sizeof(reply)) &&
	      !lk_call(FUSE_SETLK, nodeid, fh2, 2, F_UNLCK, max - 1, max, 0,
		       reply, sizeof(reply)),
	      "locks: the last byte before OFFSET_MAX locks and unlocks");

	/* FLUSH drops the owner's locks and its fd; a full unlock too */
	CHECK(!lk_flush(nodeid, fhro, 1, reply, sizeof(reply)) &&
	      !lk_call(FUSE_SETLK, nodeid, fh2, 2, F_WRLCK, 0, 200, 0, reply,
		       sizeof(reply)),
	      "locks: FLUSH with owner 1 (another fd closed) frees 0-200");
	CHECK(mq_locks_nr_owners() == 1, "locks: owner 1's fd is gone, owner 2's remains");
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh2, 2, F_UNLCK, 0, max, 0, reply,
		       sizeof(reply)) && mq_locks_nr_owners() == 0,
	      "locks: owner 2 unlocks everything: its fd is gone");
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh1, 9, F_UNLCK, 0, 10, 0, reply,
		       sizeof(reply)) && mq_locks_nr_owners() == 0,
	      "locks: unlock by an owner that holds nothing succeeds, makes no fd");

	/* SETLKW: a waiter thread, answered when the holder unlocks */
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh1, 2, F_WRLCK, 0, 9, 0, reply,
		       sizeof(reply)), "locks: owner 2 locks 0-9");
	u = lk_setlkw(nodeid, fh1, 4, F_WRLCK, 5, 5, 0);
	CHECK(lk_answer(300, &got) == 1 && mq_locks_nr_waiters() == 1,
	      "locks: SETLKW of owner 4 waits (no answer, one waiter)");
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh1, 2, F_UNLCK, 0, 9, 0, reply,
		       sizeof(reply)), "locks: owner 2 unlocks");
	err = lk_answer(10000, &got);
	CHECK(!err && got == u && lk_waiters_gone(5000),
	      "locks: the waiting SETLKW is answered 0 and its thread is gone");
	CHECK(lk_call(FUSE_SETLK, nodeid, fh2, 2, F_WRLCK, 5, 5, 0, reply,
		      sizeof(reply)) == -EAGAIN,
	      "locks: and owner 4 holds the lock");
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh1, 4, F_UNLCK, 0, max, 0, reply,
		       sizeof(reply)), "locks: owner 4 unlocks");

	/* FUSE_INTERRUPT: EINTR, and nothing left locked */
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh1, 2, F_WRLCK, 0, 9, 0, reply,
		       sizeof(reply)), "locks: owner 2 locks 0-9 again");
	u = lk_setlkw(nodeid, fh1, 4, F_WRLCK, 0, max, 0);
	CHECK(lk_answer(300, &got) == 1, "locks: SETLKW of owner 4 on the whole file waits");
	{
		struct fuse_interrupt_in ii = { .unique = u };

		CHECK(request(FUSE_INTERRUPT, 0, &ii, sizeof(ii), NULL, NULL,
			      reply, sizeof(reply)) == 0,
		      "locks: INTERRUPT is not answered itself");
	}
	err = lk_answer(10000, &got);
	CHECK(err == -EINTR && got == u && lk_waiters_gone(5000),
	      "locks: the interrupted SETLKW is answered EINTR");
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh1, 2, F_UNLCK, 0, max, 0, reply,
		       sizeof(reply)) &&
	      !lk_call(FUSE_SETLK, nodeid, fh2, 5, F_WRLCK, 0, max, 0, reply,
		       sizeof(reply)) &&
	      !lk_call(FUSE_SETLK, nodeid, fh2, 5, F_UNLCK, 0, max, 0, reply,
		       sizeof(reply)),
	      "locks: the interrupted owner 4 holds nothing");
	/* an INTERRUPT read before its SETLKW was registered */
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh1, 2, F_WRLCK, 0, 9, 0, reply,
		       sizeof(reply)), "locks: owner 2 locks 0-9");
	{
		struct fuse_interrupt_in ii = { .unique = next_unique + 1 };

		request(FUSE_INTERRUPT, 0, &ii, sizeof(ii), NULL, NULL, reply,
			sizeof(reply));
	}
	u = lk_setlkw(nodeid, fh1, 4, F_WRLCK, 0, 0, 0);
	err = lk_answer(1000, &got);
	CHECK(err == -EINTR && got == u && !mq_locks_nr_waiters(),
	      "locks: an INTERRUPT that came first ends its SETLKW with EINTR");

	/* RELEASE of the waiter's handle: abandoned */
	u = lk_setlkw(nodeid, fh4, 6, F_WRLCK, 0, 0, 0);
	CHECK(lk_answer(300, &got) == 1, "locks: SETLKW of owner 6 through a 4th handle waits");
	CHECK(!lk_release(nodeid, fh4, 0, 0, reply, sizeof(reply)),
	      "locks: RELEASE of that handle");
	err = lk_answer(10000, &got);
	CHECK(err == -EBADF && got == u && lk_waiters_gone(5000),
	      "locks: the SETLKW through the released handle is ended");
	/* FLUSH through the waiter's handle: a late grant is undone */
	u = lk_setlkw(nodeid, fh5, 7, F_WRLCK, 0, 0, 0);
	CHECK(lk_answer(300, &got) == 1, "locks: SETLKW of owner 7 through a 5th handle waits");
	CHECK(!lk_flush(nodeid, fh5, 7, reply, sizeof(reply)) &&
	      !lk_call(FUSE_SETLK, nodeid, fh1, 2, F_UNLCK, 0, max, 0, reply,
		       sizeof(reply)),
	      "locks: FLUSH of owner 7 through that handle, owner 2 unlocks");
	err = lk_answer(10000, &got);
	CHECK(err == -EBADF && got == u && lk_waiters_gone(5000) &&
	      !lk_call(FUSE_SETLK, nodeid, fh2, 8, F_WRLCK, 0, max, 0, reply,
		       sizeof(reply)) &&
	      !lk_call(FUSE_SETLK, nodeid, fh2, 8, F_UNLCK, 0, max, 0, reply,
		       sizeof(reply)),
	      "locks: the grant after FLUSH is undone (EBADF), nothing stays locked");

	/* flock: per open file, on the handle's own backing file */
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh1, 11, F_WRLCK, 0, max, lkf, reply,
		       sizeof(reply)) &&
	      lk_call(FUSE_SETLK, nodeid, fh2, 12, F_RDLCK, 0, max, lkf, reply,
		      sizeof(reply)) == -EAGAIN,
	      "locks: flock LOCK_EX on one open file, LOCK_SH|LOCK_NB on another -> EAGAIN");
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh2, 2, F_WRLCK, 0, max, 0, reply,
		       sizeof(reply)) &&
	      !lk_call(FUSE_SETLK, nodeid, fh2, 2, F_UNLCK, 0, max, 0, reply,
		       sizeof(reply)),
	      "locks: flock and POSIX locks are independent");
	u = lk_setlkw(nodeid, fh2, 12, F_WRLCK, 0, max, lkf);
	CHECK(lk_answer(300, &got) == 1, "locks: a blocking flock LOCK_EX waits");
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh1, 11, F_UNLCK, 0, max, lkf, reply,
		       sizeof(reply)), "locks: flock LOCK_UN of the holder");
	err = lk_answer(10000, &got);
	CHECK(!err && got == u && lk_waiters_gone(5000),
	      "locks: the blocking flock is granted");
	CHECK(lk_call(FUSE_SETLK, nodeid, fh1, 11, F_RDLCK, 0, max, lkf, reply,
		      sizeof(reply)) == -EAGAIN &&
	      !lk_release(nodeid, fh2, FUSE_RELEASE_FLOCK_UNLOCK, 12, reply,
			  sizeof(reply)) &&
	      !lk_call(FUSE_SETLK, nodeid, fh1, 11, F_WRLCK, 0, max, lkf, reply,
		       sizeof(reply)),
	      "locks: RELEASE with FUSE_RELEASE_FLOCK_UNLOCK frees the flock");

	/* the last handle of the inode takes every owner with it */
	CHECK(!lk_call(FUSE_SETLK, nodeid, fh1, 13, F_WRLCK, 100, 100, 0, reply,
		       sizeof(reply)) && mq_locks_nr_owners() == 1,
	      "locks: owner 13 locks and never unlocks nor closes");
	CHECK(!lk_release(nodeid, fh1, 0, 0, reply, sizeof(reply)) &&
	      !lk_release(nodeid, fhro, 0, 0, reply, sizeof(reply)) &&
	      !lk_release(nodeid, fh5, 0, 0, reply, sizeof(reply)) &&
	      mq_handles_count() == 0,
	      "locks: RELEASE of the remaining handles");
	CHECK(mq_locks_nr_owners() == 0 && !mq_locks_nr_waiters(),
	      "locks: no lock owner survives the inode's last handle");
	err = count_fds();
	CHECK(err == fds_before,
	      "locks: no fd left behind (handles, owners, waiters)");
	if (err != fds_before)
		printf("#   %d fds, %d before\n", err, fds_before);

	test_locks_review(nodeid, path);

	mq_conn.flags = saved_flags;
	mq_cfg.locks = false;
	CHECK(lk_call(FUSE_SETLK, nodeid, 1, 1, F_WRLCK, 0, 0, 0, reply,
		      sizeof(reply)) == -ENOSYS,
	      "locks: SETLK without the flags negotiated -> ENOSYS");
}

/* ---- trust: a client acting through the daemon ----------------------- */

static uint64_t lookup_nodeid(uint64_t parent, const char *name, char *reply,
			      size_t max)
{
	struct fuse_entry_out *eo = (void *)(reply + 16);

	if (request(FUSE_LOOKUP, parent, NULL, 0, name, NULL, reply, max) !=
	    16 + (ssize_t)sizeof(*eo) || reply_error(reply))
		return 0;
	return eo->nodeid;
}

/* A valid system.posix_acl_access value granting uid 1000 rw. */
static size_t acl_blob(char *buf)
{
	struct { uint16_t tag, perm; uint32_t id; } e[] = {
		{ 0x01, 6, ~0u }, { 0x02, 6, 1000 }, { 0x04, 0, ~0u },
		{ 0x10, 6, ~0u }, { 0x20, 0, ~0u },
	};
	uint32_t version = 2;

	memcpy(buf, &version, 4);
	memcpy(buf + 4, e, sizeof(e));
	return 4 + sizeof(e);
}

/*
 * Item 3 of issue 8 and the daemon's missing permission checks: requests
 * from uid 1000 on a root-owned 0600 file must fail as on a local fs and
 * leave the backend file unchanged.  Needs root (the daemon switches
 * fsuid only when it runs as root).
 */
static void test_trust_creds(void)
{
	static char reply[64 << 10];
	char path[512], buf[256], val[256];
	struct fuse_setattr_in sa;
	struct fuse_open_in oi = { .flags = O_WRONLY };
	struct fuse_create_in ci = { .flags = O_WRONLY | O_CREAT, .mode = 0644 };
	struct fuse_setxattr_in *sx = (void *)buf;
	uint64_t secret, mine;
	struct stat st;
	size_t blen;

	if (geteuid() != 0) {
		printf("ok - trust: caller credentials # SKIP not root\n");
		return;
	}
	chmod(tmpdir, 0755);
	snprintf(path, sizeof(path), "%s/secret", tmpdir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	if (chown(path, 0, 0) || chmod(path, 0600))
		CHECK(0, "trust: fixture");
	snprintf(path, sizeof(path), "%s/mine", tmpdir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	if (chown(path, 1000, 1000))
		CHECK(0, "trust: fixture");

	req_uid = 1000;
	req_gid = 1000;
	secret = lookup_nodeid(FUSE_ROOT_ID, "secret", reply, sizeof(reply));
	mine = lookup_nodeid(FUSE_ROOT_ID, "mine", reply, sizeof(reply));
	CHECK(secret && mine, "trust: uid 1000 looks up files in a 0755 dir");

	/* setfacl -m u:1000:rw secret */
	memset(buf, 0, sizeof(buf));
	blen = acl_blob(val);
	sx->size = blen;
	memcpy(buf + FUSE_COMPAT_SETXATTR_IN_SIZE, "system.posix_acl_access",
	       24);
	memcpy(buf + FUSE_COMPAT_SETXATTR_IN_SIZE + 24, val, blen);
	request(FUSE_SETXATTR, secret, buf,
		FUSE_COMPAT_SETXATTR_IN_SIZE + 24 + blen, NULL, NULL, reply,
		sizeof(reply));
	snprintf(path, sizeof(path), "%s/secret", tmpdir);
	CHECK(reply_error(reply) == -EPERM,
	      "trust: uid 1000 setting an ACL on root's 0600 file -> EPERM");
	CHECK(getxattr(path, "system.posix_acl_access", val, sizeof(val)) < 0 &&
	      !stat(path, &st) && (st.st_mode & 07777) == 0600,
	      "trust: backend ACL and mode unchanged");
	request(FUSE_SETXATTR, mine, buf,
		FUSE_COMPAT_SETXATTR_IN_SIZE + 24 + blen, NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == 0 || reply_error(reply) == -EOPNOTSUPP,
	      "trust: uid 1000 may set an ACL on its own file");

	memcpy(buf + FUSE_COMPAT_SETXATTR_IN_SIZE, "trusted.mq\0x", 12);
	sx->size = 1;
	request(FUSE_SETXATTR, mine, buf, FUSE_COMPAT_SETXATTR_IN_SIZE + 12,
		NULL, NULL, reply, sizeof(reply));
	CHECK(reply_error(reply) == -EPERM,
	      "trust: uid 1000 setting trusted.* -> EPERM");
	memcpy(buf + FUSE_COMPAT_SETXATTR_IN_SIZE, "security.m\0x", 12);
	request(FUSE_SETXATTR, mine, buf, FUSE_COMPAT_SETXATTR_IN_SIZE + 12,
		NULL, NULL, reply, sizeof(reply));
	CHECK(reply_error(reply) == -EPERM,
	      "trust: uid 1000 setting security.* -> EPERM");
	request(FUSE_REMOVEXATTR, mine, NULL, 0, "security.m", NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EPERM,
	      "trust: uid 1000 removing security.* -> EPERM");

	memset(&sa, 0, sizeof(sa));
	sa.valid = FATTR_MODE;
	sa.mode = S_IFREG | 0666;
	request(FUSE_SETATTR, secret, &sa, sizeof(sa), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EPERM, "trust: uid 1000 chmod of root's file -> EPERM");
	sa.valid = FATTR_UID;
	sa.uid = 1000;
	request(FUSE_SETATTR, secret, &sa, sizeof(sa), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EPERM, "trust: uid 1000 chown of root's file -> EPERM");
	sa.valid = FATTR_SIZE;
	sa.size = 0;
	request(FUSE_SETATTR, secret, &sa, sizeof(sa), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EACCES,
	      "trust: uid 1000 truncate of root's 0600 file -> EACCES");
	sa.valid = FATTR_MTIME;
	sa.mtime = 12345;
	request(FUSE_SETATTR, secret, &sa, sizeof(sa), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EPERM,
	      "trust: uid 1000 utimens of root's file -> EPERM");
	request(FUSE_OPEN, secret, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EACCES,
	      "trust: uid 1000 opening root's 0600 file for writing -> EACCES");
	request(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, "secret", NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EACCES,
	      "trust: uid 1000 unlink in root's 0755 dir -> EACCES");
	request(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "new", NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EACCES,
	      "trust: uid 1000 create in root's 0755 dir -> EACCES");
	CHECK(!stat(path, &st) && st.st_uid == 0 && st.st_size == 0 &&
	      (st.st_mode & 07777) == 0600 && st.st_mtime != 12345,
	      "trust: root's file untouched");

	/* The owner still can. */
	sa.valid = FATTR_MODE;
	sa.mode = S_IFREG | 0640;
	request(FUSE_SETATTR, mine, &sa, sizeof(sa), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == 0, "trust: uid 1000 chmod of its own file");

	/*
	 * The kernel's set-id clear on write (kill_suid) is applied for a
	 * non-owner only if that caller may write the file.
	 */
	if (chmod(path, 04755))
		CHECK(0, "trust: fixture");
	sa.mode = S_IFREG | 0755;
	request(FUSE_SETATTR, secret, &sa, sizeof(sa), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EPERM && !stat(path, &st) &&
	      (st.st_mode & 07777) == 04755,
	      "trust: uid 1000 without write access cannot clear set-user-ID of root's file");
	if (chmod(path, 04757))
		CHECK(0, "trust: fixture");
	sa.mode = S_IFREG | 0777;
	request(FUSE_SETATTR, secret, &sa, sizeof(sa), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EPERM && !stat(path, &st) &&
	      (st.st_mode & 07777) == 04757,
	      "trust: a writer clearing set-user-ID may not add bits while doing so");
	sa.mode = S_IFREG | 0757;
	request(FUSE_SETATTR, secret, &sa, sizeof(sa), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == 0 && !stat(path, &st) &&
	      (st.st_mode & 07777) == 0757,
	      "trust: a non-owner who may write can clear set-user-ID (kill_suid)");
	{
		struct fuse_open_in woi = { .flags = O_RDWR };
		struct fuse_open_out *oo = (void *)(reply + 16);
		struct fuse_release_in rel = { 0 };

		if (chmod(path, 02755))
			CHECK(0, "trust: fixture");
		req_uid = 0;
		req_gid = 0;
		request(FUSE_OPEN, secret, &woi, sizeof(woi), NULL, NULL, reply,
			sizeof(reply));
		rel.fh = oo->fh;
		CHECK(reply_error(reply) == 0, "trust: fixture (uid 0 OPEN)");
		req_uid = 1000;
		req_gid = 1000;
		sa.valid = FATTR_MODE | FATTR_FH;
		sa.fh = rel.fh;
		sa.mode = S_IFREG | 0755;
		request(FUSE_SETATTR, secret, &sa, sizeof(sa), NULL, NULL,
			reply, sizeof(reply));
		CHECK(reply_error(reply) == 0 && !stat(path, &st) &&
		      (st.st_mode & 07777) == 0755,
		      "trust: ...or one writing through a handle open for writing");
		request(FUSE_RELEASE, secret, &rel, sizeof(rel), NULL, NULL,
			reply, sizeof(reply));
		sa.fh = 0;
	}

	/* uid 0 callers keep root's rights. */
	req_uid = 0;
	req_gid = 0;
	memcpy(buf + FUSE_COMPAT_SETXATTR_IN_SIZE, "trusted.mq\0x", 12);
	request(FUSE_SETXATTR, secret, buf, FUSE_COMPAT_SETXATTR_IN_SIZE + 12,
		NULL, NULL, reply, sizeof(reply));
	CHECK(reply_error(reply) == 0 || reply_error(reply) == -EOPNOTSUPP,
	      "trust: uid 0 sets trusted.*");
	sa.valid = FATTR_UID;
	sa.uid = 1000;
	request(FUSE_SETATTR, secret, &sa, sizeof(sa), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == 0, "trust: uid 0 chown");
	req_uid = getuid();
	req_gid = getgid();
}


/*
 * Supplementary groups: a FUSE request carries only uid/gid/pid; the
 * daemon takes the groups from /proc/PID/status when that process has the
 * request's fsuid/fsgid, and none otherwise.
 */
/* The calling thread's supplementary groups are empty. */
static bool thread_groups_empty(void)
{
	FILE *f = fopen("/proc/thread-self/status", "r");
	char line[4096];
	bool empty = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Groups:", 7)) {
			empty = strspn(line + 7, " \t\n") == strlen(line + 7);
			break;
		}
	}
	fclose(f);
	return empty;
}

static void test_trust_groups(void)
{
	static char reply[64 << 10];
	struct fuse_open_in oi = { .flags = O_RDONLY };
	struct fuse_open_out *oo = (void *)(reply + 16);
	struct fuse_release_in rel;
	int ready[2], done[2];
	uint64_t shared;
	gid_t g = 2000;
	pid_t child;
	char c;

	if (geteuid() != 0) {
		printf("ok - groups # SKIP not root\n");
		return;
	}
	snprintf(path_buf, sizeof(path_buf), "%s/group-shared", tmpdir);
	close(open(path_buf, O_CREAT | O_WRONLY, 0640));
	if (chown(path_buf, 0, 2000) || chmod(path_buf, 0640) ||
	    pipe(ready) || pipe(done)) {
		CHECK(0, "groups: fixture");
		return;
	}
	child = fork();
	if (child == 0) {
		/* A process of uid 1000, gid 1000, in group 2000. */
		if (setgroups(1, &g) || setresgid(1000, 1000, 1000) ||
		    setresuid(1000, 1000, 1000))
			_exit(1);
		if (write(ready[1], "r", 1) != 1 || read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	if (child < 0 || read(ready[0], &c, 1) != 1) {
		CHECK(0, "groups: fixture (child)");
		return;
	}
	req_uid = 1000;
	req_gid = 1000;
	req_pid = child;
	shared = lookup_nodeid(FUSE_ROOT_ID, "group-shared", reply,
			       sizeof(reply));
	request(FUSE_OPEN, shared, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	CHECK(shared && reply_error(reply) == 0,
	      "groups: a member of the file's group (supplementary) may open it");
	CHECK(thread_groups_empty(),
	      "groups: the caller's groups are dropped after the request");
	if (!reply_error(reply)) {
		rel.fh = oo->fh;
		request(FUSE_RELEASE, shared, &rel, sizeof(rel), NULL, NULL,
			reply, sizeof(reply));
	}
	req_pid = getpid();	/* uid 0: does not match the request */
	request(FUSE_OPEN, shared, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EACCES,
	      "groups: groups of a process with other ids are not used");
	req_pid = 0;
	request(FUSE_OPEN, shared, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EACCES, "groups: no pid, no groups");
	if (write(done[1], "d", 1) != 1)
		CHECK(0, "groups: child release");
	waitpid(child, NULL, 0);
	close(ready[0]);
	close(ready[1]);
	close(done[0]);
	close(done[1]);
	req_uid = getuid();
	req_gid = getgid();
}

/* ---- trust: names, device nodes, inode lifetime ----------------------- */

static int sink_errno;	/* non-zero: replies "fail" with this errno */

static ssize_t failing_sink(struct mq_thread *t, const void *buf, size_t len)
{
	(void)t;
	(void)buf;
	(void)len;
	errno = sink_errno;
	return -1;
}

static bool exists_outside(const char *name)
{
	char path[600];
	struct stat st;

	snprintf(path, sizeof(path), "%s/../%s", tmpdir, name);
	return !lstat(path, &st);
}

/*
 * LOOKUP and every op taking a name, fed crafted names straight into
 * mq_dispatch: all fail, nothing outside the backend root is touched.
 */
static void test_trust_names(void)
{
	static char reply[64 << 10];
	static const char *const bad[] = {
		"/etc", "..", ".", "sub/../..", "a/b", "sub/", "/",
	};
	struct fuse_mkdir_in mi = { .mode = 0755 };
	struct fuse_create_in ci = { .flags = O_WRONLY | O_CREAT, .mode = 0644 };
	struct fuse_mknod_in mn = { .mode = S_IFREG | 0644 };
	struct fuse_rename2_in rn = { .newdir = FUSE_ROOT_ID };
	struct fuse_link_in li;
	char longname[300], name[128], outside[32];
	unsigned int i;
	bool all = true;
	int fd, err;
	uint64_t file;

	snprintf(path_buf, sizeof(path_buf), "%s/sub", tmpdir);
	mkdir(path_buf, 0755);
	/* A sentinel next to the backend root: must stay unreachable. */
	snprintf(outside, sizeof(outside), "mq-outside-%d", getpid());
	snprintf(path_buf, sizeof(path_buf), "%s/../%s", tmpdir, outside);
	close(open(path_buf, O_CREAT | O_WRONLY, 0644));

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		request(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, bad[i], NULL, reply,
			sizeof(reply));
		err = reply_error(reply);
		if (err != -EINVAL) {
			printf("#   LOOKUP '%s' -> %d\n", bad[i], err);
			all = false;
		}
	}
	CHECK(all, "names: LOOKUP of /etc .. . sub/../.. a/b sub/ / -> EINVAL");
	snprintf(name, sizeof(name), "../%s", outside);
	request(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, name, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EINVAL,
	      "names: LOOKUP of ../sentinel outside the root fails");
	memset(longname, 'x', sizeof(longname) - 1);
	longname[NAME_MAX + 1] = '\0';
	request(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, longname, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -ENAMETOOLONG,
	      "names: LOOKUP of a NAME_MAX+1 name -> ENAMETOOLONG");
	{
		/* A name running to the end of the request, no NUL. */
		struct fuse_in_header *in = (void *)thr.inbuf;

		memset(in, 0, sizeof(*in));
		memcpy(in + 1, "abc", 3);
		in->len = sizeof(*in) + 3;
		in->opcode = FUSE_LOOKUP;
		in->unique = next_unique++;
		in->nodeid = FUSE_ROOT_ID;
		mq_dispatch(&thr, in->len);
		CHECK(read(reply_pipe[0], reply, sizeof(reply)) == 16 &&
		      reply_error(reply) == -EINVAL,
		      "names: name without NUL in the request -> EINVAL");
	}

	snprintf(name, sizeof(name), "../%s-new", outside);
	request(FUSE_MKDIR, FUSE_ROOT_ID, &mi, sizeof(mi), name, NULL, reply,
		sizeof(reply));
	err = reply_error(reply);
	request(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), name, NULL, reply,
		sizeof(reply));
	err = err ?: 1;
	CHECK(err == -EINVAL && reply_error(reply) == -EINVAL,
	      "names: MKDIR and CREATE of ../x -> EINVAL");
	request(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "sub/../../x", NULL,
		reply, sizeof(reply));
	CHECK(reply_error(reply) == -EINVAL, "names: MKNOD of sub/../../x -> EINVAL");
	request(FUSE_SYMLINK, FUSE_ROOT_ID, NULL, 0, "..", "/etc", reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EINVAL, "names: SYMLINK named .. -> EINVAL");
	request(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, name + 3 - 3, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EINVAL, "names: UNLINK of ../x -> EINVAL");
	request(FUSE_RMDIR, FUSE_ROOT_ID, NULL, 0, "sub/..", NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EINVAL, "names: RMDIR of sub/.. -> EINVAL");
	request(FUSE_RENAME2, FUSE_ROOT_ID, &rn, sizeof(rn), "file", name,
		reply, sizeof(reply));
	CHECK(reply_error(reply) == -EINVAL,
	      "names: RENAME2 to ../x -> EINVAL");
	file = lookup_nodeid(FUSE_ROOT_ID, "file", reply, sizeof(reply));
	li.oldnodeid = file;
	request(FUSE_LINK, FUSE_ROOT_ID, &li, sizeof(li), name, NULL, reply,
		sizeof(reply));
	CHECK(file && reply_error(reply) == -EINVAL,
	      "names: LINK to ../x -> EINVAL");
	snprintf(name, sizeof(name), "%s-new", outside);
	CHECK(!exists_outside(name), "names: nothing created outside the root");
	snprintf(path_buf, sizeof(path_buf), "%s/file", tmpdir);
	CHECK(!access(path_buf, F_OK) && exists_outside(outside),
	      "names: nothing renamed or removed");

	/* Resolution stays beneath the directory even through symlinks. */
	snprintf(path_buf, sizeof(path_buf), "%s/esc", tmpdir);
	if (symlink("/etc", path_buf))
		CHECK(0, "names: fixture");
	fd = mq_openat_beneath(thr_root_fd, "esc/passwd", O_PATH, 0);
	CHECK(fd == -EXDEV || fd == -ELOOP,
	      "names: openat beneath refuses to follow esc -> /etc");
	if (fd >= 0)
		close(fd);
	fd = mq_openat_beneath(thr_root_fd, "../", O_PATH, 0);
	CHECK(fd == -EXDEV, "names: openat beneath refuses ..");
	if (fd >= 0)
		close(fd);
	snprintf(path_buf, sizeof(path_buf), "%s/../%s", tmpdir, outside);
	unlink(path_buf);
}

/*
 * A device node or FIFO in the backend directory is never opened for a
 * client (the virtiofsd CVE-2020-35517 class).
 */
static void test_trust_devnodes(void)
{
	static char reply[64 << 10];
	struct fuse_open_in oi = { .flags = O_RDWR };
	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT, .mode = 0666 };
	struct fuse_open_out *oo = (void *)(reply + 16);
	struct fuse_release_in rel;
	uint64_t null_id, fifo_id, file;

	if (geteuid() != 0) {
		printf("ok - devnodes # SKIP not root\n");
		return;
	}
	snprintf(path_buf, sizeof(path_buf), "%s/null", tmpdir);
	if (mknod(path_buf, S_IFCHR | 0666, makedev(1, 3)) || chmod(path_buf, 0666))
		CHECK(0, "devnodes: fixture (mknod)");
	snprintf(path_buf, sizeof(path_buf), "%s/fifo", tmpdir);
	if (mkfifo(path_buf, 0666) || chmod(path_buf, 0666))
		CHECK(0, "devnodes: fixture (mkfifo)");

	req_uid = 1000;
	req_gid = 1000;
	null_id = lookup_nodeid(FUSE_ROOT_ID, "null", reply, sizeof(reply));
	fifo_id = lookup_nodeid(FUSE_ROOT_ID, "fifo", reply, sizeof(reply));
	CHECK(null_id && fifo_id, "devnodes: LOOKUP of a device node and a FIFO");
	request(FUSE_OPEN, null_id, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EACCES,
	      "devnodes: OPEN of a 0666 char device -> EACCES");
	if (!reply_error(reply)) {
		rel.fh = oo->fh;
		request(FUSE_RELEASE, null_id, &rel, sizeof(rel), NULL, NULL,
			reply, sizeof(reply));
	}
	request(FUSE_OPEN, fifo_id, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -ENXIO, "devnodes: OPEN of a FIFO -> ENXIO");
	if (!reply_error(reply)) {
		rel.fh = oo->fh;
		request(FUSE_RELEASE, fifo_id, &rel, sizeof(rel), NULL, NULL,
			reply, sizeof(reply));
	}
	request(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "null", NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EACCES,
	      "devnodes: CREATE (no O_EXCL) over a char device -> EACCES");
	if (!reply_error(reply)) {
		struct fuse_open_out *coo = (void *)(reply + 16 +
					sizeof(struct fuse_entry_out));

		rel.fh = coo->fh;
		request(FUSE_RELEASE, null_id, &rel, sizeof(rel), NULL, NULL,
			reply, sizeof(reply));
	}
	req_uid = 0;
	req_gid = 0;
	request(FUSE_OPEN, null_id, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EACCES,
	      "devnodes: ...not for uid 0 callers either");
	file = lookup_nodeid(FUSE_ROOT_ID, "file", reply, sizeof(reply));
	request(FUSE_OPEN, file, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	rel.fh = oo->fh;
	CHECK(reply_error(reply) == 0, "devnodes: regular files still open");
	request(FUSE_RELEASE, file, &rel, sizeof(rel), NULL, NULL, reply,
		sizeof(reply));
	CHECK(mq_handles_count() == 0, "devnodes: no handle left open");
	req_uid = getuid();
	req_gid = getgid();
}

/*
 * The kernel's lookup count is kept apart from in-flight references: a
 * FORGET with a huge nlookup does not free an inode a request still uses,
 * and an entry reply the kernel never received takes its lookup back.
 */
static void test_inode_lifetime(void)
{
	static char reply[64 << 10];
	struct fuse_forget_in fi = { .nlookup = 1ull << 40 };
	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT, .mode = 0644 };
	struct mq_inode *inode;
	uint64_t nodeid, before;
	struct stat st;

	snprintf(path_buf, sizeof(path_buf), "%s/busy", tmpdir);
	close(open(path_buf, O_CREAT | O_WRONLY, 0644));
	nodeid = lookup_nodeid(FUSE_ROOT_ID, "busy", reply, sizeof(reply));
	before = mq_itable_count();
	inode = mq_inode_get(nodeid);	/* a request in flight */
	request(FUSE_FORGET, nodeid, &fi, sizeof(fi), NULL, NULL, reply,
		sizeof(reply));
	CHECK(inode && mq_itable_count() == before &&
	      !fstat(inode->fd, &st),
	      "lifetime: FORGET(2^40) keeps an inode in use");
	if (inode)
		mq_inode_put(inode);
	CHECK(mq_itable_count() == before - 1 && !mq_inode_get(nodeid),
	      "lifetime: ...and frees it when the request ends");

	/* Replies the kernel refuses with ENOENT (request interrupted). */
	before = mq_itable_count();
	sink_errno = ENOENT;
	thr.reply_sink = failing_sink;
	request(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "file", NULL, reply,
		sizeof(reply));
	request(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "undelivered",
		NULL, reply, sizeof(reply));
	thr.reply_sink = NULL;
	CHECK(mq_itable_count() == before && mq_handles_count() == 0,
	      "lifetime: undelivered LOOKUP/CREATE replies take their lookups and handle back");
}

/*
 * LOOKUP / get / put / FORGET racing on one backend object: the in-flight
 * count dropping to zero must free the inode exactly once, and a get that
 * races with the free must see the inode as absent.
 */
#define RACE_THREADS	4
#define RACE_ITERS	20000

static atomic_uint_fast64_t race_nodeid;
static atomic_int race_errors;

static void *race_thread(void *arg)
{
	const char *path = arg;
	int i;

	for (i = 0; i < RACE_ITERS; i++) {
		struct mq_inode *inode, *g;
		struct stat st;
		uint64_t nodeid;
		int fd = open(path, O_PATH);

		if (fd < 0 || fstat(fd, &st) ||
		    mq_inode_lookup_fd(fd, &st, &inode)) {
			atomic_fetch_add(&race_errors, 1);
			break;
		}
		nodeid = inode->nodeid;
		atomic_store(&race_nodeid, nodeid);
		mq_inode_put(inode);
		/* Another thread's nodeid, possibly being forgotten now. */
		g = mq_inode_get(atomic_load(&race_nodeid));
		if (g) {
			if (g->ino != st.st_ino || fstat(g->fd, &st))
				atomic_fetch_add(&race_errors, 1);
			mq_inode_put(g);
		}
		mq_inode_forget(nodeid, 1);
	}
	return NULL;
}

/* Only get/put on whatever nodeid the LOOKUP threads published last. */
static atomic_int race_done;

static void *race_getter(void *arg)
{
	(void)arg;
	while (!atomic_load(&race_done)) {
		struct mq_inode *g = mq_inode_get(atomic_load(&race_nodeid));

		if (g)
			mq_inode_put(g);
	}
	return NULL;
}

/* FORGETs with a bogus count (clamped) of whatever was published last. */
static void *race_bogus_forgetter(void *arg)
{
	(void)arg;
	while (!atomic_load(&race_done))
		mq_inode_forget(atomic_load(&race_nodeid), ~0ull >> 1);
	return NULL;
}

static void test_inode_race(void)
{
	pthread_t t[RACE_THREADS], getter[2], bogus[2];
	uint64_t before;
	int i;

	snprintf(path_buf, sizeof(path_buf), "%s/race", tmpdir);
	close(open(path_buf, O_CREAT | O_WRONLY, 0644));
	before = mq_itable_count();
	for (i = 0; i < 2; i++) {
		pthread_create(&getter[i], NULL, race_getter, NULL);
		pthread_create(&bogus[i], NULL, race_bogus_forgetter, NULL);
	}
	for (i = 0; i < RACE_THREADS; i++)
		pthread_create(&t[i], NULL, race_thread, path_buf);
	for (i = 0; i < RACE_THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&race_done, 1);
	for (i = 0; i < 2; i++) {
		pthread_join(getter[i], NULL);
		pthread_join(bogus[i], NULL);
	}
	CHECK(atomic_load(&race_errors) == 0 && mq_itable_count() == before &&
	      !mq_inode_get(atomic_load(&race_nodeid)),
	      "lifetime: concurrent LOOKUP/get/put/FORGET (bogus counts too) free each inode once");
}

/*
 * The interleaving of the review, made deterministic with the inode
 * table's test hook: X has nlookup 1.  Thread A: FORGET(X, 1) takes
 * nlookup to 0 and stops before putting the count reference.  Then a
 * LOOKUP of X raises nlookup 0 -> 1 and, in its window, a FORGET(X, 2^63)
 * (clamped to 1) takes it to 0 again and puts a count reference, then A
 * finishes.  The LOOKUP still holds X: it must not have been freed.  (With
 * the count reference added after the raise, the two FORGETs put two
 * count references while only one existed and A frees X under the
 * LOOKUP.)
 */
static pthread_mutex_t hk_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hk_cond = PTHREAD_COND_INITIALIZER;
static int hk_stage;		/* 1: A dropped nlookup, 2: A may go, 3: A done */
static __thread int hk_role;	/* 1: thread A, 2: the LOOKUP thread */
static uint64_t hk_nodeid;
static bool hk_lookup_window;	/* the LOOKUP's window was reached */
static uint64_t hk_count_in_window;

static void hk_set(int stage)
{
	pthread_mutex_lock(&hk_lock);
	hk_stage = stage;
	pthread_cond_broadcast(&hk_cond);
	pthread_mutex_unlock(&hk_lock);
}

/* Wait (at most @secs) for hk_stage >= @stage. */
static bool hk_wait(int stage, int secs)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	pthread_mutex_lock(&hk_lock);
	while (hk_stage < stage &&
	       pthread_cond_timedwait(&hk_cond, &hk_lock, &ts) == 0)
		;
	ok = hk_stage >= stage;
	pthread_mutex_unlock(&hk_lock);
	return ok;
}

static void hk_hook(enum mq_itable_hook_point point, struct mq_inode *inode)
{
	if (inode->nodeid != hk_nodeid)
		return;
	if (point == MQ_ITABLE_HOOK_FORGET_ZERO && hk_role == 1) {
		hk_set(1);
		hk_wait(2, 10);
	} else if (point == MQ_ITABLE_HOOK_LOOKUP_RAISED && hk_role == 2 &&
		   !hk_lookup_window) {
		hk_lookup_window = true;
		mq_inode_forget(hk_nodeid, ~0ull >> 1);
		hk_set(2);
		hk_wait(3, 5);
		hk_count_in_window = mq_itable_count();
	}
}

static void *hk_forget_thread(void *arg)
{
	(void)arg;
	hk_role = 1;
	mq_inode_forget(hk_nodeid, 1);
	hk_set(3);
	return NULL;
}

static void test_inode_forget_window(void)
{
	static char reply[64 << 10];
	struct mq_inode *inode = NULL, *g;
	uint64_t before;
	struct stat st;
	pthread_t a;
	bool a_dropped;
	int fd, ret = -1;

	snprintf(path_buf, sizeof(path_buf), "%s/window", tmpdir);
	close(open(path_buf, O_CREAT | O_WRONLY, 0644));
	hk_nodeid = lookup_nodeid(FUSE_ROOT_ID, "window", reply,
				  sizeof(reply));
	before = mq_itable_count();
	mq_itable_test_hook = hk_hook;
	pthread_create(&a, NULL, hk_forget_thread, NULL);
	a_dropped = hk_wait(1, 10);
	hk_role = 2;
	fd = open(path_buf, O_PATH | O_CLOEXEC);
	if (a_dropped && fd >= 0 && !fstat(fd, &st))
		ret = mq_inode_lookup_fd(fd, &st, &inode);
	else if (fd >= 0)
		close(fd);
	hk_role = 0;
	if (!hk_lookup_window && hk_stage < 2)
		hk_set(2);	/* let A finish if the window was never reached */
	pthread_join(a, NULL);
	mq_itable_test_hook = NULL;
	CHECK(a_dropped && hk_lookup_window && ret == 0 && inode &&
	      hk_count_in_window == before,
	      "lifetime: bogus FORGET in a LOOKUP's count window does not free the inode");
	g = ret == 0 ? mq_inode_get(hk_nodeid) : NULL;
	CHECK(g && g == inode && mq_itable_count() == before &&
	      !fstat(inode->fd, &st),
	      "lifetime: ...which the LOOKUP still holds when A's FORGET is done");
	if (g)
		mq_inode_put(g);
	if (ret == 0 && inode)
		mq_inode_put(inode);
	CHECK(mq_itable_count() == before - 1 && !mq_inode_get(hk_nodeid),
	      "lifetime: ...and the last put frees it (all lookups forgotten)");
}

/*
 * RELEASE/RELEASEDIR overtaking a request still using the fh: the fd stays
 * open (and the dir state allocated) until that request puts its handle,
 * and no new request can take the released handle.
 */
static void test_handle_release_race(void)
{
	static char reply[64 << 10];
	struct fuse_open_in oi = { .flags = O_RDWR };
	struct fuse_open_out *oo = (void *)(reply + 16);
	struct fuse_read_in ri = { .size = 16 };
	struct fuse_release_in rel = { 0 };
	struct mq_dir *dir;
	uint64_t nodeid, fh;
	int fd;

	snprintf(path_buf, sizeof(path_buf), "%s/relrace", tmpdir);
	close(open(path_buf, O_CREAT | O_WRONLY, 0644));
	nodeid = lookup_nodeid(FUSE_ROOT_ID, "relrace", reply, sizeof(reply));
	request(FUSE_OPEN, nodeid, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	fh = oo->fh;
	fd = mq_handle_get_fd(fh, nodeid);	/* a READ in flight */
	rel.fh = fh;
	request(FUSE_RELEASE, nodeid, &rel, sizeof(rel), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == 0 && fd == fh_fd(fh) &&
	      fcntl(fd, F_GETFD) >= 0 && mq_handles_count() == 1,
	      "handles: RELEASE while a request holds the fh keeps the fd open");
	ri.fh = fh;
	request(FUSE_READ, nodeid, &ri, sizeof(ri), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EBADF && mq_handle_get_fd(fh, nodeid) == -EBADF,
	      "handles: ...a released fh takes no new references");
	request(FUSE_RELEASE, nodeid, &rel, sizeof(rel), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EBADF,
	      "handles: ...a second RELEASE -> EBADF");
	if (fd >= 0)
		mq_handle_put(fh);
	CHECK(fcntl(fh_fd(fh), F_GETFD) < 0 && errno == EBADF &&
	      mq_handles_count() == 0,
	      "handles: ...the last put closes the fd");

	request(FUSE_OPENDIR, FUSE_ROOT_ID, &oi, sizeof(oi), NULL, NULL,
		reply, sizeof(reply));
	fh = oo->fh;
	dir = mq_handle_get_dir(fh, FUSE_ROOT_ID);	/* a READDIR in flight */
	rel.fh = fh;
	request(FUSE_RELEASEDIR, FUSE_ROOT_ID, &rel, sizeof(rel), NULL, NULL,
		reply, sizeof(reply));
	CHECK(reply_error(reply) == 0 && dir && fcntl(fh_fd(fh), F_GETFD) >= 0 &&
	      !mq_handle_get_dir(fh, FUSE_ROOT_ID) && mq_handles_count() == 1,
	      "handles: RELEASEDIR while READDIR holds the fh keeps the dir open");
	if (dir)
		mq_handle_put(fh);
	CHECK(fcntl(fh_fd(fh), F_GETFD) < 0 && mq_handles_count() == 0,
	      "handles: ...the last put closes the directory");
}

/*
 * Open flags: CREATE without O_EXCL opens an existing file (the reopen
 * through /proc/self/fd must not carry O_NOFOLLOW), and client flags that
 * change what gets opened are dropped.
 */
static void test_open_flags(void)
{
	static char reply[64 << 10];
	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT, .mode = 0644 };
	struct fuse_open_in oi = { 0 };
	struct fuse_entry_out *eo = (void *)(reply + 16);
	struct fuse_open_out *oo = (void *)(eo + 1);
	struct fuse_open_out *ooo = (void *)(reply + 16);
	struct fuse_release_in rel = { 0 };
	struct fuse_forget_in fo = { .nlookup = 1 };
	uint64_t nodeid;
	int flags, open_err;

	snprintf(path_buf, sizeof(path_buf), "%s/existing", tmpdir);
	close(open(path_buf, O_CREAT | O_WRONLY, 0644));
	request(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "existing", NULL,
		reply, sizeof(reply));
	CHECK(reply_error(reply) == 0,
	      "open flags: CREATE without O_EXCL opens an existing file");
	if (!reply_error(reply)) {
		rel.fh = oo->fh;
		request(FUSE_RELEASE, eo->nodeid, &rel, sizeof(rel), NULL,
			NULL, reply, sizeof(reply));
		request(FUSE_FORGET, eo->nodeid, &fo, sizeof(fo), NULL, NULL,
			reply, sizeof(reply));
	}
	ci.flags = O_RDWR | O_CREAT | O_EXCL;
	request(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "existing", NULL,
		reply, sizeof(reply));
	CHECK(reply_error(reply) == -EEXIST,
	      "open flags: CREATE with O_EXCL of an existing file -> EEXIST");

	flags = mq_backend_open_flags(O_RDONLY | O_PATH | O_DIRECTORY |
				      O_NOFOLLOW | O_NOATIME | O_CREAT |
				      O_EXCL | O_DIRECT | O_NOCTTY | O_ASYNC);
	CHECK(flags == (O_RDONLY | O_CLOEXEC) && !(flags & O_PATH),
	      "open flags: O_PATH, O_DIRECTORY, O_NOATIME... are dropped");
	flags = mq_backend_open_flags(O_WRONLY | __O_TMPFILE);
	CHECK(!(flags & __O_TMPFILE) && (flags & O_ACCMODE) != O_RDONLY,
	      "open flags: O_TMPFILE is dropped");
	flags = mq_backend_open_flags(O_RDWR | O_TRUNC | O_NONBLOCK | O_SYNC |
				      O_DSYNC);
	CHECK((flags & (O_TRUNC | O_NONBLOCK | O_SYNC | O_DSYNC)) ==
	      (O_TRUNC | O_SYNC | O_DSYNC),
	      "open flags: O_TRUNC, O_SYNC, O_DSYNC are kept, O_NONBLOCK dropped");
	CHECK(mq_backend_open_flags(O_ACCMODE) == -EINVAL &&
	      mq_backend_open_flags(O_ACCMODE | O_TRUNC) == -EINVAL,
	      "open flags: access mode 3 (O_ACCMODE) -> EINVAL");

	nodeid = lookup_nodeid(FUSE_ROOT_ID, "existing", reply, sizeof(reply));
	oi.flags = O_RDWR | O_PATH;
	request(FUSE_OPEN, nodeid, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == 0 &&
	      (fcntl(fh_fd(ooo->fh), F_GETFL) & (O_PATH | O_ACCMODE)) == O_RDWR,
	      "open flags: OPEN with O_PATH opens a real read-write fd");
	if (!reply_error(reply)) {
		rel.fh = ooo->fh;
		request(FUSE_RELEASE, nodeid, &rel, sizeof(rel), NULL, NULL,
			reply, sizeof(reply));
	}

	oi.flags = O_RDWR | O_NONBLOCK;
	request(FUSE_OPEN, nodeid, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == 0 &&
	      !(fcntl(fh_fd(ooo->fh), F_GETFL) & O_NONBLOCK),
	      "open flags: OPEN with O_NONBLOCK opens a blocking backend fd");
	if (!reply_error(reply)) {
		rel.fh = ooo->fh;
		request(FUSE_RELEASE, nodeid, &rel, sizeof(rel), NULL, NULL,
			reply, sizeof(reply));
	}
	oi.flags = O_ACCMODE;
	request(FUSE_OPEN, nodeid, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	open_err = reply_error(reply);
	if (!open_err) {
		rel.fh = ooo->fh;
		request(FUSE_RELEASE, nodeid, &rel, sizeof(rel), NULL, NULL,
			reply, sizeof(reply));
	}
	ci.flags = O_ACCMODE | O_CREAT;
	request(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "accmode3", NULL,
		reply, sizeof(reply));
	snprintf(path_buf, sizeof(path_buf), "%s/accmode3", tmpdir);
	CHECK(open_err == -EINVAL && reply_error(reply) == -EINVAL &&
	      access(path_buf, F_OK) && mq_handles_count() == 0,
	      "open flags: OPEN/CREATE with access mode 3 -> EINVAL");
	request(FUSE_FORGET, nodeid, &fo, sizeof(fo), NULL, NULL, reply,
		sizeof(reply));
}

/* Every op taking an fh requires the nodeid the fh was opened on. */
static void test_handle_nodeid(void)
{
	static char reply[64 << 10];
	struct fuse_open_in oi = { .flags = O_RDWR };
	struct fuse_open_out *oo = (void *)(reply + 16);
	struct fuse_release_in rel = { 0 };
	struct fuse_read_in ri = { .size = 16 };
	struct fuse_flush_in fl = { 0 };
	struct fuse_fsync_in fs = { 0 };
	struct fuse_fallocate_in fa = { .length = 4096 };
	struct fuse_lseek_in ls = { .whence = SEEK_SET };
	struct fuse_getattr_in gi = { .getattr_flags = FUSE_GETATTR_FH };
	struct fuse_setattr_in si = { .valid = FATTR_FH | FATTR_SIZE };
	struct fuse_copy_file_range_in cr = { .len = 1 };
	char wbuf[sizeof(struct fuse_write_in) + 1];
	struct fuse_write_in *wi = (void *)wbuf;
	uint64_t a, b, fha, fhb, fhd, kn;
	unsigned int i, bad = 0;

	snprintf(path_buf, sizeof(path_buf), "%s/fh-a", tmpdir);
	close(open(path_buf, O_CREAT | O_WRONLY, 0644));
	snprintf(path_buf, sizeof(path_buf), "%s/fh-b", tmpdir);
	close(open(path_buf, O_CREAT | O_WRONLY, 0644));
	a = lookup_nodeid(FUSE_ROOT_ID, "fh-a", reply, sizeof(reply));
	b = lookup_nodeid(FUSE_ROOT_ID, "fh-b", reply, sizeof(reply));
	request(FUSE_OPEN, a, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	fha = oo->fh;
	request(FUSE_OPEN, b, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	fhb = oo->fh;
	request(FUSE_OPENDIR, FUSE_ROOT_ID, &oi, sizeof(oi), NULL, NULL,
		reply, sizeof(reply));
	fhd = oo->fh;
	CHECK(mq_handle_peek(fha, &kn) == MQ_HANDLE_FILE && kn == a &&
	      mq_handle_peek(fhd, &kn) == MQ_HANDLE_DIR && kn == FUSE_ROOT_ID,
	      "fh nodeid: handles record the nodeid they were opened on");

	memset(wi, 0, sizeof(*wi));
	wi->size = 1;
	ri.fh = fl.fh = fs.fh = fa.fh = ls.fh = gi.fh = si.fh = wi->fh = fha;
	rel.fh = fha;
	cr.fh_in = fha;
	cr.fh_out = fhb;
	cr.nodeid_out = b;
	{
		const struct { uint32_t op; uint64_t nodeid; const void *arg;
			       size_t len; } bad_ops[] = {
			{ FUSE_READ, b, &ri, sizeof(ri) },
			{ FUSE_WRITE, b, wbuf, sizeof(wbuf) },
			{ FUSE_FLUSH, b, &fl, sizeof(fl) },
			{ FUSE_FSYNC, b, &fs, sizeof(fs) },
			{ FUSE_FALLOCATE, b, &fa, sizeof(fa) },
			{ FUSE_LSEEK, b, &ls, sizeof(ls) },
			{ FUSE_GETATTR, b, &gi, sizeof(gi) },
			{ FUSE_SETATTR, b, &si, sizeof(si) },
			{ FUSE_COPY_FILE_RANGE, b, &cr, sizeof(cr) },
			{ FUSE_RELEASE, b, &rel, sizeof(rel) },
			{ FUSE_READ, FUSE_ROOT_ID, &ri, sizeof(ri) },
		};

		for (i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++) {
			request(bad_ops[i].op, bad_ops[i].nodeid, bad_ops[i].arg,
				bad_ops[i].len, NULL, NULL, reply,
				sizeof(reply));
			if (reply_error(reply) != -EBADF) {
				printf("# fh nodeid: op %u -> %d\n",
				       bad_ops[i].op, reply_error(reply));
				bad++;
			}
		}
	}
	CHECK(bad == 0,
	      "fh nodeid: READ/WRITE/FLUSH/FSYNC/FALLOCATE/LSEEK/GETATTR/SETATTR/COPY_FILE_RANGE/RELEASE on another nodeid -> EBADF");
	cr.nodeid_out = a;	/* the out end named with the wrong nodeid */
	request(FUSE_COPY_FILE_RANGE, a, &cr, sizeof(cr), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == -EBADF,
	      "fh nodeid: COPY_FILE_RANGE checks the out end's nodeid too");
	cr.nodeid_out = b;
	request(FUSE_COPY_FILE_RANGE, a, &cr, sizeof(cr), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == 0,
	      "fh nodeid: COPY_FILE_RANGE with both nodeids right works");
	request(FUSE_READ, a, &ri, sizeof(ri), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == 0 && mq_handles_count() == 3,
	      "fh nodeid: ...the right nodeid works and nothing was released");

	ri.fh = fs.fh = rel.fh = fhd;
	request(FUSE_READDIR, a, &ri, sizeof(ri), NULL, NULL, reply,
		sizeof(reply));
	bad = reply_error(reply) != -EBADF;
	request(FUSE_FSYNCDIR, a, &fs, sizeof(fs), NULL, NULL, reply,
		sizeof(reply));
	bad += reply_error(reply) != -EBADF;
	request(FUSE_RELEASEDIR, a, &rel, sizeof(rel), NULL, NULL, reply,
		sizeof(reply));
	bad += reply_error(reply) != -EBADF;
	CHECK(bad == 0 && mq_handles_count() == 3,
	      "fh nodeid: READDIR/FSYNCDIR/RELEASEDIR on another nodeid -> EBADF");

	request(FUSE_RELEASEDIR, FUSE_ROOT_ID, &rel, sizeof(rel), NULL, NULL,
		reply, sizeof(reply));
	bad = reply_error(reply) != 0;
	rel.fh = fha;
	request(FUSE_RELEASE, a, &rel, sizeof(rel), NULL, NULL, reply,
		sizeof(reply));
	bad += reply_error(reply) != 0;
	rel.fh = fhb;
	request(FUSE_RELEASE, b, &rel, sizeof(rel), NULL, NULL, reply,
		sizeof(reply));
	bad += reply_error(reply) != 0;
	CHECK(bad == 0 && mq_handles_count() == 0,
	      "fh nodeid: RELEASE/RELEASEDIR on the right nodeid close");
}

/*
 * A stale fh (released; its fd reused by a newer open) is refused: the fh
 * carries the generation of the handle it named.
 */
static void test_handle_generation(void)
{
	static char reply[64 << 10];
	struct fuse_open_in oi = { .flags = O_RDWR };
	struct fuse_open_out *oo = (void *)(reply + 16);
	struct fuse_release_in rel = { 0 };
	struct fuse_read_in ri = { .size = 16 };
	struct fuse_getattr_in gi = { .getattr_flags = FUSE_GETATTR_FH };
	struct fuse_forget_in fo = { .nlookup = 1 };
	uint64_t nodeid, kn, old_fh, new_fh;
	unsigned int i, bad = 0;
	int fd, status;
	pid_t child;

	snprintf(path_buf, sizeof(path_buf), "%s/gen", tmpdir);
	close(open(path_buf, O_CREAT | O_WRONLY, 0644));
	nodeid = lookup_nodeid(FUSE_ROOT_ID, "gen", reply, sizeof(reply));
	request(FUSE_OPEN, nodeid, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	old_fh = oo->fh;
	rel.fh = old_fh;
	request(FUSE_RELEASE, nodeid, &rel, sizeof(rel), NULL, NULL, reply,
		sizeof(reply));
	request(FUSE_OPEN, nodeid, &oi, sizeof(oi), NULL, NULL, reply,
		sizeof(reply));
	new_fh = oo->fh;
	CHECK(nodeid && reply_error(reply) == 0 &&
	      fh_fd(new_fh) == fh_fd(old_fh) && (old_fh >> 32),
	      "fh generation: the reopened file gets the released fd again");
	CHECK(new_fh != old_fh, "fh generation: ...but another fh");

	ri.fh = gi.fh = rel.fh = old_fh;
	request(FUSE_READ, nodeid, &ri, sizeof(ri), NULL, NULL, reply,
		sizeof(reply));
	bad += reply_error(reply) != -EBADF;
	request(FUSE_GETATTR, nodeid, &gi, sizeof(gi), NULL, NULL, reply,
		sizeof(reply));
	bad += reply_error(reply) != -EBADF;
	request(FUSE_RELEASE, nodeid, &rel, sizeof(rel), NULL, NULL, reply,
		sizeof(reply));
	bad += reply_error(reply) != -EBADF;
	ri.fh = (uint32_t)new_fh;	/* the bare fd number */
	request(FUSE_READ, nodeid, &ri, sizeof(ri), NULL, NULL, reply,
		sizeof(reply));
	bad += reply_error(reply) != -EBADF;
	CHECK(bad == 0 && mq_handle_get_fd(old_fh, nodeid) == -EBADF &&
	      mq_handle_peek(old_fh, &kn) == MQ_HANDLE_NONE &&
	      mq_handles_count() == 1,
	      "fh generation: READ/GETATTR/RELEASE with the stale fh or the bare fd -> EBADF");
	ri.fh = new_fh;
	request(FUSE_READ, nodeid, &ri, sizeof(ri), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == 0 &&
	      mq_handle_peek(new_fh, &kn) == MQ_HANDLE_FILE && kn == nodeid,
	      "fh generation: the new fh works");

	/* Reference cap: refused, not wrapped. */
	for (i = 1; i < MQ_HANDLE_MAX_REFS; i++)
		if (mq_handle_get_fd(new_fh, nodeid) < 0)
			break;
	fd = mq_handle_get_fd(new_fh, nodeid);
	CHECK(i == MQ_HANDLE_MAX_REFS && fd == -EBADF,
	      "handles: references beyond MQ_HANDLE_MAX_REFS are refused");
	if (fd >= 0)
		mq_handle_put(new_fh);
	while (--i)
		mq_handle_put(new_fh);
	CHECK(mq_handle_get_fd(new_fh, nodeid) == fh_fd(new_fh),
	      "handles: ...and taken again once put");
	mq_handle_put(new_fh);
	rel.fh = new_fh;
	request(FUSE_RELEASE, nodeid, &rel, sizeof(rel), NULL, NULL, reply,
		sizeof(reply));
	CHECK(reply_error(reply) == 0 && mq_handles_count() == 0,
	      "handles: ...and the handle closes on RELEASE");
	request(FUSE_FORGET, nodeid, &fo, sizeof(fo), NULL, NULL, reply,
		sizeof(reply));

	/* A put of an fh out of the table's range is a bug: abort, no access. */
	fflush(stdout);
	child = fork();
	if (child == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		if (devnull >= 0)
			dup2(devnull, 2);
		signal(SIGABRT, SIG_DFL);
		mq_handle_put((1ull << 32) | 0x7ffffff0u);
		_exit(0);
	}
	status = 0;
	if (child > 0)
		waitpid(child, &status, 0);
	CHECK(child > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
	      "handles: put of an out-of-range fh aborts instead of indexing past the table");
}

/*
 * mq_sandbox_close_fds(): in a child, descriptors at 10, 11, 12, 20, 40
 * and near the top of the table; keep 40, 11 (twice), 2 and -1.  With
 * @inject_err, close_range() fails with it (a seccomp filter of the
 * test's own) and the sweep falls back to @fd_dir (NULL: /proc/self/fd),
 * or without it to the RLIMIT_NOFILE loop.
 */
static void test_close_fds_one(int inject_err, const char *fd_dir,
			       const char *name)
{
	static const int open_at[] = { 10, 11, 12, 20, 40 };
	const int keep[] = { 40, -1, 11, 2, 11 };
	struct rlimit rl;
	int status, high = -1;
	unsigned int i;
	pid_t child;

	fflush(stdout);
	child = fork();
	if (child == 0) {
		int bad = 0;

		if (inject_err) {
			scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

			if (!ctx ||
			    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(inject_err),
					     SCMP_SYS(close_range), 0) ||
			    seccomp_load(ctx))
				_exit(4);
			/* the filter works: close_range() itself fails */
			if (!close_range(100, 100, 0) || errno != inject_err)
				_exit(5);
			/* the RLIMIT_NOFILE loop: a small table */
			if (fd_dir && !getrlimit(RLIMIT_NOFILE, &rl) &&
			    rl.rlim_cur > 1024) {
				rl.rlim_cur = 1024;
				setrlimit(RLIMIT_NOFILE, &rl);
			}
		}
		if (fd_dir)
			mq_sandbox_fd_dir = fd_dir;
		for (i = 0; i < sizeof(open_at) / sizeof(open_at[0]); i++)
			if (dup2(1, open_at[i]) != open_at[i])
				_exit(2);
		if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur > 64)
			high = dup2(1, rl.rlim_cur - 1);
		if (mq_sandbox_close_fds(keep, sizeof(keep) / sizeof(keep[0])))
			_exit(3);
		for (i = 0; i < 3; i++)
			bad |= fcntl(i, F_GETFD) < 0;		/* stdio kept */
		bad |= fcntl(11, F_GETFD) < 0 || fcntl(40, F_GETFD) < 0;
		bad |= fcntl(10, F_GETFD) >= 0 || fcntl(12, F_GETFD) >= 0 ||
		       fcntl(20, F_GETFD) >= 0;
		bad |= high >= 0 && fcntl(high, F_GETFD) >= 0;
		_exit(bad ? 1 : 0);
	}
	status = -1;
	if (child > 0)
		waitpid(child, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		printf("#   close_fds child status 0x%x\n", status);
	CHECK(child > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0, name);
}

static void test_close_fds(void)
{
	test_close_fds_one(0, NULL,
			   "fds: close_range keep-list keeps 0-2 and the listed fds, closes the rest");
	test_close_fds_one(ENOSYS, NULL,
			   "fds: close_range ENOSYS (kernel < 5.9): /proc/self/fd walk, same result");
	test_close_fds_one(EPERM, NULL,
			   "fds: close_range EPERM (container seccomp): /proc/self/fd walk, same result");
	test_close_fds_one(ENOSYS, "/nonexistent-proc/self/fd",
			   "fds: close_range ENOSYS and no procfs: loop up to RLIMIT_NOFILE, same result");
}

/* @fd is an open /dev/null (not O_PATH). */
static bool fd_is_devnull(int fd)
{
	struct stat st, null;
	int fl = fcntl(fd, F_GETFL);

	return fl >= 0 && !(fl & O_PATH) && !fstat(fd, &st) &&
	       !stat("/dev/null", &null) && S_ISCHR(st.st_mode) &&
	       st.st_rdev == null.st_rdev;
}

/*
 * Fds 0-2 through mq_sandbox_close_fds(): a directory on 0 and an O_PATH
 * fd on 1 become /dev/null (not closed), a pipe on 2 stays; closed 0-2
 * get /dev/null from mq_stdio_fill(), so the next open() lands above 2.
 */
static void test_close_fds_stdio(void)
{
	int status, pfd[2];
	pid_t child;

	fflush(stdout);
	child = fork();
	if (child == 0) {
		int dir = open("/", O_RDONLY | O_DIRECTORY), opath;
		struct stat before, after;
		int bad = 0;

		opath = open("/dev/null", O_PATH);
		if (dir < 0 || opath < 0 || pipe(pfd) ||
		    dup2(dir, 0) != 0 || dup2(opath, 1) != 1 ||
		    dup2(pfd[1], 2) != 2 || fstat(2, &before))
			_exit(2);
		if (mq_sandbox_close_fds(NULL, 0))
			_exit(3);
		bad |= !fd_is_devnull(0) << 0;
		bad |= !fd_is_devnull(1) << 1;
		bad |= (fstat(2, &after) || after.st_ino != before.st_ino) << 2;
		bad |= (openat(0, "etc", O_RDONLY | O_DIRECTORY) >= 0) << 3;
		close(0);
		close(2);
		if (mq_stdio_fill())
			_exit(4);
		bad |= !fd_is_devnull(0) << 4;
		bad |= !fd_is_devnull(2) << 5;
		dir = open("/", O_RDONLY | O_DIRECTORY);
		bad |= (dir < 3) << 6;
		_exit(bad);
	}
	status = -1;
	if (child > 0)
		waitpid(child, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		printf("#   stdio child status 0x%x\n", status);
	CHECK(child > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "fds: a directory / O_PATH fd on 0-2 becomes /dev/null, a pipe stays; closed 0-2 get /dev/null");
}

/* One "Name:\tvalue" line of the sandboxed child's own status ("" if absent). */
static void sbx_status_field(const char *name, char *out, size_t len)
{
	char path[64], line[256];
	size_t n = strlen(name);
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%sself/status", mq_proc_prefix);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, n) && line[n] == ':') {
			char *v = line + n + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			snprintf(out, len, "%s", v);
			break;
		}
	}
	fclose(f);
}

static unsigned long long sbx_kept_mask(void)
{
	unsigned long long mask = 0;
	int cap;

	for (cap = 0; cap < 64; cap++)
		if (mq_creds_cap_kept(cap))
			mask |= 1ull << cap;
	return mask;
}

/*
 * In a child: enter the daemon's sandbox on a scratch backing directory,
 * check what it can see and do, then make a forbidden call.  Returns the
 * child's wait status.
 */
static int sbx_run_child(enum mq_sandbox_mode mode, const char *dir,
			 bool *reached_end)
{
	char path[512], val[64], c = 0;
	struct stat st, st2, want;
	pid_t child;
	int status, fd, root_fd, pfd[2];

	*reached_end = false;
	if (pipe(pfd))
		return -1;
	fflush(stdout);
	child = fork();
	if (child < 0)
		return -1;
	if (child > 0) {
		close(pfd[1]);
		*reached_end = read(pfd[0], &c, 1) == 1;
		close(pfd[0]);
		waitpid(child, &status, 0);
		return status;
	}
	close(pfd[0]);
	failures = 0;	/* this child's own checks */
	root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0 || fstat(root_fd, &want) ||
	    mq_sandbox_enter(mode, dir, root_fd, -1)) {
		printf("not ok - sandbox: enter (%s)\n", strerror(errno));
		_exit(3);
	}
	if (mode == MQ_SANDBOX_ON) {
		/* Directories only: overlayfs gives files another st_dev. */
		CHECK(!stat("/sandbox-marker", &st2) && !stat("/", &st) &&
		      st.st_dev == want.st_dev && st.st_ino == want.st_ino &&
		      !fstat(root_fd, &st2) && st2.st_dev == want.st_dev &&
		      st2.st_ino == want.st_ino,
		      "sandbox: the backing directory is / and the root fd is on it");
		fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
		CHECK(fd < 0 && errno == ENOENT,
		      "sandbox: a host path (/etc/passwd) is out of reach");
		if (fd >= 0)
			close(fd);
		/* ".." of the root fd and of "/" stays at the root. */
		fd = openat(root_fd, "..", O_PATH | O_CLOEXEC);
		CHECK(fd >= 0 && !fstat(fd, &st) && st.st_ino == st2.st_ino &&
		      !stat("/../..", &st) && st.st_ino == st2.st_ino,
		      "sandbox: .. of the root fd and of / is the root");
		if (fd >= 0)
			close(fd);
		mq_proc_path(path, sizeof(path), root_fd);
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(fd >= 0 && !fstat(fd, &st) && st.st_ino == st2.st_ino,
		      "sandbox: /proc/self/fd reopen works (procfs as cwd)");
		if (fd >= 0)
			close(fd);
		snprintf(path, sizeof(path), "%s1/status", mq_proc_prefix);
		CHECK(!stat(path, &st),
		      "sandbox: callers' /proc/PID/status readable");
		snprintf(path, sizeof(path), "%ssys/kernel", mq_proc_prefix);
		CHECK(stat(path, &st) && stat("/proc/sys/kernel", &st),
		      "sandbox: no /proc/sys (procfs subset=pid)");
		sbx_status_field("CapBnd", val, sizeof(val));
		CHECK(val[0] && strtoull(val, NULL, 16) == sbx_kept_mask(),
		      "sandbox: bounding set is exactly the kept capabilities");
		sbx_status_field("NoNewPrivs", val, sizeof(val));
		CHECK(!strcmp(val, "1"), "sandbox: NoNewPrivs is 1");
		sbx_status_field("Seccomp", val, sizeof(val));
		CHECK(!strcmp(val, "2"), "sandbox: Seccomp is 2 (filter)");
		CHECK(!syscall(SYS_unshare, CLONE_FS),
		      "sandbox: unshare(CLONE_FS) allowed (per-thread umask)");
		fflush(stdout);
		if (failures)
			_exit(1);	/* and the SIGSYS check fails too */
		/* Every check ran (an earlier SIGSYS would be a missing call). */
		if (write(pfd[1], &c, 1) != 1)
			_exit(1);
		/* Not on the list: the kernel kills the process. */
		syscall(SYS_kexec_load, 0, 0, NULL, 0);
		_exit(0);
	}
	/* MQ_SANDBOX_LOG: the call runs (and fails for lack of CAP_SYS_BOOT). */
	errno = 0;
	CHECK(syscall(SYS_kexec_load, 0, 0, NULL, 0) < 0 &&
	      (errno == EPERM || errno == ENOSYS),
	      "sandbox=log: a call off the list runs (EPERM without CAP_SYS_BOOT)");
	fflush(stdout);
	if (write(pfd[1], &c, 1) != 1)
		_exit(1);
	_exit(failures ? 1 : 0);
}

/*
 * In a child: enter the sandbox (on) on @dir, then run @attack, which
 * returns 0 when the attack failed.  True when the child got that far and
 * the attack failed or the kernel killed the child for it (SIGSYS).
 */
static bool sbx_attack(const char *dir, int (*attack)(int root_fd))
{
	int status, root_fd, pfd[2];
	bool reached;
	pid_t child;
	char c = 0;

	if (pipe(pfd))
		return false;
	fflush(stdout);
	child = fork();
	if (child < 0)
		return false;
	if (child == 0) {
		close(pfd[0]);
		root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0 ||
		    mq_sandbox_enter(MQ_SANDBOX_ON, dir, root_fd, -1))
			_exit(3);
		if (write(pfd[1], &c, 1) != 1)
			_exit(3);
		_exit(attack(root_fd) ? 1 : 0);
	}
	close(pfd[1]);
	reached = read(pfd[0], &c, 1) == 1;
	close(pfd[0]);
	waitpid(child, &status, 0);
	return reached && ((WIFEXITED(status) && !WEXITSTATUS(status)) ||
			   (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS));
}

/*
 * As sbx_attack(), with the sandboxed process forked the way session.c
 * forks the serving process (mq_sandbox_fork(): PID 1 of a new PID
 * namespace), from a helper child (the namespace dies with its PID 1).
 */

static bool sbx_attack_pidns(const char *dir, int (*attack)(int root_fd))
{
	int status;
	pid_t helper;

	fflush(stdout);
	helper = fork();
	if (helper < 0)
		return false;
	if (helper == 0) {
		pid_t child = mq_sandbox_fork();
		int root_fd;

		if (child < 0)
			_exit(3);
		if (child > 0) {
			waitpid(child, &status, 0);
			_exit((WIFEXITED(status) && !WEXITSTATUS(status)) ||
			      (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) ?
			      0 : 1);
		}
		root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0 ||
		    mq_sandbox_enter(MQ_SANDBOX_ON, dir, root_fd, -1))
			_exit(3);
		_exit(attack(root_fd) ? 1 : 0);
	}
	waitpid(helper, &status, 0);
	return WIFEXITED(status) && !WEXITSTATUS(status);
}

/*
 * The reviewer's escape: act as the uid of a dumpable process with no
 * capabilities (setfsuid, raise the kept capabilities), then follow its
 * <pid>/root and <pid>/cwd to the host's tree.
 */
static pid_t sbx_victim_pid;

static int sbx_attack_proc_root(int root_fd)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];
	char path[64];
	int fd;

	(void)root_fd;
	syscall(SYS_setfsgid, 65534);
	syscall(SYS_setfsuid, 65534);
	if (!syscall(SYS_capget, &h, d)) {
		d[0].effective = d[0].permitted;
		d[1].effective = d[1].permitted;
		syscall(SYS_capset, &h, d);
	}
	snprintf(path, sizeof(path), "%s%d/root/etc/passwd", mq_proc_prefix,
		 (int)sbx_victim_pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return 1;
	snprintf(path, sizeof(path), "%s%d/cwd", mq_proc_prefix,
		 (int)sbx_victim_pid);
	fd = open(path, O_PATH | O_CLOEXEC);
	return fd >= 0;
}

/* A dumpable uid-65534 process without capabilities, until killed. */
static pid_t sbx_start_victim(void)
{
	pid_t p = fork();

	if (p == 0) {
		if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
		    setresuid(65534, 65534, 65534))
			_exit(1);
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		for (;;)
			pause();
	}
	usleep(100000);
	return p;
}

/* procfs lists the sandboxed process only (PID 1), and self/fd works. */
static int sbx_attack_proc_list(int root_fd)
{
	char path[64];
	struct dirent *de;
	int nr = 0, others = 0, fd;
	DIR *d;

	d = opendir(".");	/* procfs is the working directory */
	if (!d)
		return 1;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		nr++;
		if (strcmp(de->d_name, "1"))
			others++;
	}
	closedir(d);
	if (nr != 1 || others) {
		printf("#   procfs lists %d pids, %d of them not 1\n", nr, others);
		return 1;
	}
	mq_proc_path(path, sizeof(path), root_fd);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0;
}

/* A device node made in the sandbox root does not open (nodev). */
static int sbx_attack_devnode(int root_fd)
{
	int fd;

	unlinkat(root_fd, "null-dev", 0);
	if (mknodat(root_fd, "null-dev", S_IFCHR | 0600, makedev(1, 3)))
		return 1;	/* CAP_MKNOD is kept: this must work */
	fd = openat(root_fd, "null-dev", O_RDWR | O_CLOEXEC);
	unlinkat(root_fd, "null-dev", 0);
	return fd >= 0;
}

/* fcntl F_SETOWN (then F_SETSIG SIGKILL) would signal any process. */
static int sbx_attack_setown(int root_fd)
{
	int fd = openat(root_fd, "sandbox-marker", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 1;
	return fcntl(fd, F_SETOWN, getppid()) == 0;
}

/* F_SETFL with O_ASYNC: SIGIO to the owner; the other flags still work. */
static int sbx_attack_setfl_async(int root_fd)
{
	int fd = openat(root_fd, "sandbox-marker", O_RDONLY | O_CLOEXEC);
	int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) ||
	    fcntl(fd, F_GETFD) != FD_CLOEXEC)
		return 1;	/* allowed commands must keep working */
	return fcntl(fd, F_SETFL, fl | O_ASYNC) == 0;
}

/* fork(): a process of its own that outlives the session. */
static int sbx_attack_fork(int root_fd)
{
	pid_t p = fork();

	(void)root_fd;
	if (p == 0)
		_exit(0);
	return p >= 0;	/* (wait4 is off the list) */
}

/* Threads still start (clone with CLONE_THREAD|CLONE_VM|CLONE_SIGHAND). */
static void *sbx_thread_fn(void *arg)
{
	return arg;
}

static int sbx_attack_thread_ok(int root_fd)
{
	pthread_t t;
	void *res = NULL;

	(void)root_fd;
	if (pthread_create(&t, NULL, sbx_thread_fn, &res) ||
	    pthread_join(t, &res))
		return 1;
	return res == NULL;
}

/* An x32 call from another thread must take the whole process down. */
static void *sbx_x32_fn(void *arg)
{
	syscall(0x40000000 | SYS_getpid);
	return arg;
}

static int sbx_attack_x32(int root_fd)
{
	pthread_t t;

	(void)root_fd;
	if (pthread_create(&t, NULL, sbx_x32_fn, NULL) ||
	    pthread_join(t, NULL))
		return 1;
	return 1;	/* still alive: only the thread was killed, or it ran */
}

/* sched_setaffinity on another task than the caller. */
static int sbx_attack_affinity(int root_fd)
{
	cpu_set_t set;

	(void)root_fd;
	if (sched_getaffinity(0, sizeof(set), &set) ||
	    sched_setaffinity(0, sizeof(set), &set))
		return 1;	/* the calling thread: must work */
	/* Any pid but 0, even our own, is refused. */
	return !sched_setaffinity(getpid(), sizeof(set), &set);
}

/* A ring made before the sandbox, as session.c does (uring_io.c). */
static struct mq_uring *sbx_ring;
static int sbx_ring_fd = -1;
static char sbx_ring_buf[8192] __attribute__((aligned(4096)));

static int sbx_ring_op(struct io_uring_sqe *sqe_init(struct io_uring_sqe *))
{
	struct io_uring *ring = mq_uring_ring(sbx_ring);
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int res;

	if (!sqe)
		return -ENOSPC;
	sqe_init(sqe);
	if (io_uring_submit(ring) < 0 || io_uring_wait_cqe(ring, &cqe))
		return -EIO;
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

static struct io_uring_sqe *sbx_prep_socket(struct io_uring_sqe *sqe)
{
	io_uring_prep_socket(sqe, AF_INET, SOCK_STREAM, 0, 0);
	return sqe;
}

static struct io_uring_sqe *sbx_prep_openat(struct io_uring_sqe *sqe)
{
	io_uring_prep_openat(sqe, AT_FDCWD, "self/status", O_RDONLY, 0);
	return sqe;
}

static struct io_uring_sqe *sbx_prep_read(struct io_uring_sqe *sqe)
{
	io_uring_prep_read_fixed(sqe, sbx_ring_fd, sbx_ring_buf, 4, 0, 0);
	return sqe;
}

/* SOCKET/OPENAT SQEs refused (-EACCES), READ_FIXED still works. */
static int sbx_attack_uring_ops(int root_fd)
{
	int r;

	sbx_ring_fd = openat(root_fd, "sandbox-marker", O_RDONLY | O_CLOEXEC);
	if (sbx_ring_fd < 0 || mq_uring_enable(sbx_ring))
		return 1;
	r = sbx_ring_op(sbx_prep_read);
	if (r < 0) {
		printf("#   READ_FIXED on the sandbox's ring: %d\n", r);
		return 1;
	}
	r = sbx_ring_op(sbx_prep_socket);
	if (r != -EACCES) {
		printf("#   IORING_OP_SOCKET: %d\n", r);
		return 1;
	}
	r = sbx_ring_op(sbx_prep_openat);
	if (r != -EACCES) {
		printf("#   IORING_OP_OPENAT: %d\n", r);
		return 1;
	}
	return 0;
}

/* No new (unrestricted) ring inside. */
static int sbx_attack_uring_setup(int root_fd)
{
	struct io_uring ring;

	(void)root_fd;
	return io_uring_queue_init(4, &ring, 0) == 0;
}
/* --log-level of the sandbox children below (warn unless a test says). */
static enum mq_log_level sbx_child_log_level = MQ_LOG_WARN;

/*
 * In a child: make unshare(CLONE_NEWNET) fail with @inject_err (a seccomp
 * filter of the test's own; 0: leave it alone), enter the sandbox on @dir
 * with warnings logged into @log.  Returns 0 when the sandbox was entered
 * in a network namespace of its own, 2 when entered in the parent's, 1
 * when entering failed, anything else for a broken test.
 */
static int sbx_netns_child(const char *dir, int inject_err, char *log,
			   size_t len)
{
	struct stat host, st;
	int status, pfd[2], root_fd;
	size_t got = 0;
	ssize_t n;
	pid_t child;

	log[0] = '\0';
	if (stat("/proc/self/ns/net", &host) || pipe(pfd))
		return -1;
	fflush(stdout);
	child = fork();
	if (child < 0)
		return -1;
	if (child == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);

		close(pfd[0]);
		dup2(pfd[1], 2);
		mq_log_init(sbx_child_log_level, false);
		if (!ctx || (inject_err &&
			     (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(inject_err),
					       SCMP_SYS(unshare), 1,
					       SCMP_A0(SCMP_CMP_EQ, CLONE_NEWNET)) ||
			      seccomp_load(ctx))))
			_exit(3);
		seccomp_release(ctx);
		root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (root_fd < 0)
			_exit(3);
		if (mq_sandbox_enter(MQ_SANDBOX_ON, dir, root_fd, -1))
			_exit(1);
		/* procfs is the working directory in there */
		if (stat("self/ns/net", &st))
			_exit(4);
		_exit(st.st_ino == host.st_ino ? 2 : 0);
	}
	close(pfd[1]);
	while (got + 1 < len && (n = read(pfd[0], log + got, len - 1 - got)) > 0)
		got += n;
	log[got] = '\0';
	close(pfd[0]);
	waitpid(child, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * What entering the sandbox in @mode logs at warning level, on stderr and
 * in syslog.  In a child with a /dev/log of its own (a tmpfs on /dev in a
 * private mount namespace, a datagram socket bound there), a grandchild
 * connects syslog the way mqfused does (@syslog_flag: --syslog, everything
 * goes there; otherwise only opened, as before daemonizing), enters the
 * sandbox and exits.  Returns 1 | 2 for "sandbox in LOG mode" seen as a
 * warning on stderr | in syslog, or 8 and up when the test itself failed.
 */
static int sbx_log_mode_warning(const char *dir, enum mq_sandbox_mode mode,
				bool syslog_flag)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	char err[2048], msg[1024];
	int status, ls, errp[2], root_fd, seen = 0;
	size_t got = 0;
	ssize_t n;
	pid_t child, b;

	fflush(stdout);
	child = fork();
	if (child < 0)
		return 8;
	if (child > 0) {
		waitpid(child, &status, 0);
		return WIFEXITED(status) ? WEXITSTATUS(status) : 9;
	}
	if (unshare(CLONE_NEWNS) ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=0755"))
		_exit(10);
	ls = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || pipe(errp))
		_exit(11);
	b = fork();
	if (b < 0)
		_exit(12);
	if (b == 0) {
		close(errp[0]);
		dup2(errp[1], 2);
		mq_log_init(sbx_child_log_level, syslog_flag);
		if (!syslog_flag)
			mq_log_open_syslog();
		root_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		_exit(root_fd < 0 || mq_sandbox_enter(mode, dir, root_fd, -1));
	}
	close(errp[1]);
	while (got + 1 < sizeof(err) &&
	       (n = read(errp[0], err + got, sizeof(err) - 1 - got)) > 0)
		got += n;
	err[got] = '\0';
	waitpid(b, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		_exit(13);
	if (strstr(err, "mqfused: warn: sandbox in LOG mode"))
		seen |= 1;
	/* "<28>": LOG_DAEMON | LOG_WARNING */
	while ((n = recv(ls, msg, sizeof(msg) - 1, MSG_DONTWAIT)) > 0) {
		msg[n] = '\0';
		if (!strncmp(msg, "<28>", 4) && strstr(msg, "sandbox in LOG mode"))
			seen |= 2;
	}
	_exit(seen);
}

/*ATTACKS*/
static void test_sandbox(void)
{
	char dir[256], path[300];
	bool reached;
	int status, fd;

	if (geteuid() != 0) {
		printf("ok - sandbox # SKIP not root\n");
		return;
	}
	if (fork() == 0) {
		/* Probe: can this host make mount namespaces at all? */
		_exit(unshare(CLONE_NEWNS) ? 1 : 0);
	}
	wait(&status);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("ok - sandbox # SKIP unshare(CLONE_NEWNS) refused here\n");
		return;
	}
	snprintf(dir, sizeof(dir), "%s/sandbox-root", tmpdir);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/sandbox-marker", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	status = sbx_run_child(MQ_SANDBOX_ON, dir, &reached);
	CHECK(reached && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
	      "sandbox: a call off the allow-list (kexec_load) kills with SIGSYS");
	status = sbx_run_child(MQ_SANDBOX_LOG, dir, &reached);
	CHECK(reached && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "sandbox=log: the process survives a call off the list, all checks passed");
	CHECK(sbx_attack(dir, sbx_attack_devnode),
	      "sandbox: a device node made in the root does not open (nodev)");
	CHECK(sbx_attack(dir, sbx_attack_setown),
	      "sandbox: fcntl F_SETOWN is refused");
	CHECK(sbx_attack(dir, sbx_attack_setfl_async),
	      "sandbox: fcntl F_SETFL O_ASYNC is refused, GETFL/SETFL/GETFD work");
	CHECK(sbx_attack(dir, sbx_attack_fork),
	      "sandbox: fork() is refused");
	CHECK(sbx_attack(dir, sbx_attack_thread_ok),
	      "sandbox: pthread_create still works");
	CHECK(sbx_attack(dir, sbx_attack_x32),
	      "sandbox: an x32 call kills the whole process (BADARCH)");
	CHECK(sbx_attack(dir, sbx_attack_affinity),
	      "sandbox: sched_setaffinity only on the calling thread");
	if (mq_uring_create(&sbx_ring, sbx_ring_buf, sizeof(sbx_ring_buf), 0, 0)) {
		printf("ok - sandbox: io_uring restrictions # SKIP no io_uring\n");
	} else {
		CHECK(sbx_attack(dir, sbx_attack_uring_ops),
		      "sandbox: io_uring SOCKET/OPENAT SQEs refused (-EACCES), READ_FIXED works");
		mq_uring_teardown(sbx_ring);
	}
	CHECK(sbx_attack(dir, sbx_attack_uring_setup),
	      "sandbox: io_uring_setup is refused");
	sbx_victim_pid = sbx_start_victim();
	CHECK(sbx_victim_pid > 0 && sbx_attack_pidns(dir, sbx_attack_proc_root),
	      "sandbox: /proc/<pid>/root and cwd of a same-fsuid process are out of reach (own PID namespace)");
	if (sbx_victim_pid > 0) {
		kill(sbx_victim_pid, SIGKILL);
		waitpid(sbx_victim_pid, NULL, 0);
	}
	CHECK(sbx_attack_pidns(dir, sbx_attack_proc_list),
	      "sandbox: procfs lists only the sandbox's own pid; self/fd reopen works");
	{
		char log[1024];
		int r;

		r = sbx_netns_child(dir, 0, log, sizeof(log));
		CHECK(r == 0, "sandbox: a network namespace of its own");
		r = sbx_netns_child(dir, EINVAL, log, sizeof(log));
		if (r != 2 || !strstr(log, "warn: sandbox: no network namespace"))
			printf("#   unshare(CLONE_NEWNET) EINVAL: %d, log '%s'\n", r, log);
		CHECK(r == 2 && strstr(log, "warn: sandbox: no network namespace (kernel without CONFIG_NET_NS)"),
		      "sandbox: unshare(CLONE_NEWNET) EINVAL (no CONFIG_NET_NS): entered without one, with a warning");
		sbx_child_log_level = MQ_LOG_ERR;
		r = sbx_netns_child(dir, EINVAL, log, sizeof(log));
		sbx_child_log_level = MQ_LOG_WARN;
		CHECK(r == 2 && strstr(log, "warn: sandbox: no network namespace (kernel without CONFIG_NET_NS)"),
		      "sandbox: the no-network-namespace warning also with --log-level=err");
		r = sbx_netns_child(dir, EPERM, log, sizeof(log));
		CHECK(r == 1, "sandbox: unshare(CLONE_NEWNET) failing otherwise (EPERM) fails the sandbox");
	}
	CHECK(sbx_log_mode_warning(dir, MQ_SANDBOX_LOG, false) == 3,
	      "sandbox=log: a warning that violations are only logged, on stderr and in syslog (opened to daemonize)");
	CHECK(sbx_log_mode_warning(dir, MQ_SANDBOX_LOG, true) == 3,
	      "sandbox=log: the warning on stderr and in syslog with --syslog");
	sbx_child_log_level = MQ_LOG_ERR;
	CHECK(sbx_log_mode_warning(dir, MQ_SANDBOX_LOG, false) == 3,
	      "sandbox=log: the warning on stderr and in syslog also with --log-level=err");
	sbx_child_log_level = MQ_LOG_WARN;
	CHECK(sbx_log_mode_warning(dir, MQ_SANDBOX_ON, true) == 0,
	      "sandbox=on: no log-mode warning");
	/*ATTACK_CHECKS*/
	CHECK(!access("/proc/sys/kernel", F_OK) && !strcmp(mq_proc_prefix, "/proc/"),
	      "sandbox: the parent's namespace and proc prefix untouched");
}

int main(void)
{
	char cmd[512];

	/* Keep every result line even if a later test crashes. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	mq_log_init(MQ_LOG_ERR, false);
	test_mount_opts();
	test_generations();
	test_reply_building();
	harness_init();
	req_uid = getuid();
	req_gid = getgid();
	test_dispatch();
	test_trust_creds();
	test_trust_groups();
	test_trust_names();
	test_trust_devnodes();
	test_inode_lifetime();
	test_inode_race();
	test_inode_forget_window();
	test_handle_release_race();
	test_open_flags();
	test_handle_nodeid();
	test_handle_generation();
	test_locks();
	/* after the locks: INIT done, the waiters' signal set up */
	test_ring(&failures, tmpdir);
	test_close_fds();
	test_close_fds_stdio();
	test_sandbox();
	/* Last: it re-initialises the inode and handle tables. */
	test_recovery(&failures);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd))
		fprintf(stderr, "cleanup of %s failed\n", tmpdir);
	return failures ? 1 : 0;
}
