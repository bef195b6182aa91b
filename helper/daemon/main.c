// SPDX-License-Identifier: GPL-2.0
/*
 * mqfused: FUSE-protocol passthrough daemon for mqfuse and stock FUSE.
 * Command line parsing and process setup; the work happens in session.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include <mqfuse.h>

#include "mqfused.h"
#include "mount_opts.h"

enum {
	OPT_FS = 256,
	OPT_THREADS,
	OPT_PIN,
	OPT_FD,
	OPT_LOG_LEVEL,
	OPT_SYSLOG,
	OPT_STATS,
	OPT_MAX_WRITE,
	OPT_WRITEBACK,
	OPT_NO_DEFPERM,
	OPT_ENTRY_TIMEOUT,
	OPT_ATTR_TIMEOUT,
	OPT_SANDBOX,
	OPT_NO_SANDBOX,
	OPT_GEN,
	OPT_NO_LOCKS,
	OPT_ATTACH,
	OPT_TAKEOVER,
	OPT_SUPERVISE,
	OPT_RECOVERY_DEFAULT,
	OPT_STATUS_FD,
	OPT_TRANSPORT,
	OPT_RING_DEPTH,
	OPT_SECRET_FILE,
	OPT_CHECKSUM,
	OPT_VHOST_USER,
};

static const struct option mq_long_opts[] = {
	{ "fs", required_argument, NULL, OPT_FS },
	{ "gen", required_argument, NULL, OPT_GEN },
	{ "options", required_argument, NULL, 'o' },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "pin", required_argument, NULL, OPT_PIN },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "foreground", no_argument, NULL, 'f' },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "stats", required_argument, NULL, OPT_STATS },
	{ "max-write", required_argument, NULL, OPT_MAX_WRITE },
	{ "writeback-cache", no_argument, NULL, OPT_WRITEBACK },
	{ "no-locks", no_argument, NULL, OPT_NO_LOCKS },
	{ "no-default-permissions", no_argument, NULL, OPT_NO_DEFPERM },
	{ "entry-timeout", required_argument, NULL, OPT_ENTRY_TIMEOUT },
	{ "attr-timeout", required_argument, NULL, OPT_ATTR_TIMEOUT },
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	{ "attach", required_argument, NULL, OPT_ATTACH },
	{ "takeover", required_argument, NULL, OPT_TAKEOVER },
	{ "supervise", no_argument, NULL, OPT_SUPERVISE },
	{ "recovery-default", required_argument, NULL, OPT_RECOVERY_DEFAULT },
	{ "status-fd", required_argument, NULL, OPT_STATUS_FD },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "ring-depth", required_argument, NULL, OPT_RING_DEPTH },
	{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
	{ "checksum", no_argument, NULL, OPT_CHECKSUM },
	{ "vhost-user", required_argument, NULL, OPT_VHOST_USER },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void mq_usage(FILE *f)
{
	fprintf(f,
"Usage: mqfused [options] SOURCE MOUNTPOINT\n"
"       mqfused [options] --fd N SOURCE [MOUNTPOINT]\n"
"       mqfused [options] --attach SESSION_ID|PATH SOURCE [MOUNTPOINT]\n"
"       mqfused [options] --takeover SESSION_ID|MOUNTPOINT SOURCE [MOUNTPOINT]\n"
"       mqfused --supervise [options] SOURCE MOUNTPOINT\n"
"       mqfused [options] --vhost-user SOCKET DIR\n"
"\n"
"Serve SOURCE (local:DIR or an absolute DIR) over the FUSE protocol on\n"
"MOUNTPOINT, through mqfuse (/dev/mqfuse_vN) or stock FUSE (/dev/fuse).\n"
"SOURCE tcp://HOST:PORT[,HOST:PORT...] forwards the requests to\n"
"mqfuse-server on HOST (needs --secret-file).\n"
"--vhost-user SOCKET serves DIR to a VM instead: QEMU's vhost-user-fs-pci\n"
"connects to SOCKET and the guest mounts with 'mount -t virtiofs TAG DIR'.\n"
"\n"
"Options:\n"
"  --fs fuse|mqfuse       kernel side (default mqfuse: newest mqfuse_vN\n"
"                         listed in /proc/filesystems)\n"
"  --gen N                mqfuse generation N (filesystem mqfuse_vN,\n"
"                         /dev/mqfuse_vN) instead of the newest loaded\n"
"  -o OPTS                mount options: generic (ro, nosuid, noatime...),\n"
"                         FUSE (allow_other, max_read=N, default_permissions),\n"
"                         mqfuse (queues=N, balance=on|off,\n"
"                         consistency=strict|cto|cto-wb|relaxed|immutable);\n"
"                         fd=, rootmode=, user_id= and group_id= are added\n"
"                         by mqfused; unknown options are refused\n"
"  --threads N            serving threads (default: mqfuse queue count,\n"
"                         else number of CPUs)\n"
"  --pin none|queue       pin each thread to the CPUs of its queue\n"
"                         (default queue)\n"
"  --fd N                 serve an already mounted device fd; no mount\n"
"  -f, --foreground       do not daemonize (default: daemonize once the\n"
"                         mount succeeded)\n"
"  --log-level LEVEL      err, warn (default), info or debug\n"
"  --syslog               log to syslog (always once daemonized)\n"
"  --stats FILE           write request statistics to FILE on exit and on\n"
"                         SIGUSR1\n"
"  --max-write BYTES      largest READ/WRITE payload (default 8388608; stock\n"
"                         FUSE caps it at max_pages_limit pages)\n"
"  --transport ring|dev   ring (default): each thread takes requests and\n"
"                         gives replies through a shared ring over its own\n"
"                         registered memory, one system call per batch;\n"
"                         dev: read/write on the device.  ring falls back\n"
"                         to dev on stock FUSE or a module without the\n"
"                         ring (with a warning if --transport=ring)\n"
"  --ring-depth N         ring buffers per thread, a power of two 1..%u\n"
"                         (default: the largest power of two 2..64 whose\n"
"                         buffers take at most 128 MiB: %u with this\n"
"                         max-write); each is max-write + 12 KiB (at\n"
"                         least 256 KiB), pinned; halved until it can be\n"
"                         (RLIMIT_MEMLOCK).  READ and WRITE of a batch\n"
"                         run on io_uring together\n"
"  --secret-file FILE     tcp:// source: the secret shared with\n"
"                         mqfuse-server (16-4096 bytes, mode 600)\n"
"  --checksum             tcp:// source: a CRC32C of every message both\n"
"                         ways; one that does not match ends the\n"
"                         connection (it is made again, nothing lost)\n"
"  --writeback-cache      let the kernel cache writes (FUSE_WRITEBACK_CACHE)\n"
"  --no-locks             leave POSIX locks and flock to the kernel: they\n"
"                         then hold within this mount only (default: taken\n"
"                         on the backing files, seen by every client)\n"
"  --no-default-permissions  do not ask the kernel to check permissions\n"
"  --entry-timeout SEC    dentry cache timeout (default 1.0)\n"
"  --attr-timeout SEC     attribute cache timeout (default 1.0)\n"
"  --sandbox on|log|none  confine the serving process (default on): own\n"
"                         mount namespace rooted at the backing directory,\n"
"                         reduced capabilities, seccomp allow-list (on: a\n"
"                         call outside it kills the daemon; log: the\n"
"                         kernel logs it and lets it run)\n"
"  --no-sandbox           same as --sandbox none (debugging)\n"
"  --attach ID|PATH       serve an existing mqfuse session as the successor\n"
"                         of its daemon (mounted with recovery=SECONDS):\n"
"                         by session id or by any file of the mount; the\n"
"                         tables come from the session's recovery state;\n"
"                         only while it has no daemon (else EBUSY)\n"
"  --recovery-default S   mount with recovery=S unless -o gives recovery=;\n"
"                         without it if the module does not know it\n"
"  --supervise            run the daemon as a child and restart it at once\n"
"                         (--attach) when it dies; doubling delay when it\n"
"                         keeps dying; SIGUSR2 upgrades (--takeover)\n"
"  -h, --help             this text\n"
"  -V, --version          version\n"
"\n"
"Signals: SIGTERM/SIGINT unmount and exit 0, SIGUSR1 writes --stats,\n"
"SIGQUIT hands over to a daemon that attached (--takeover): exit 0, the\n"
"mount stays,\n"
"SIGHUP tells the kernel every cached name and attribute is stale\n"
"(FUSE_NOTIFY_INC_EPOCH: the backing directory changed).  The daemon\n"
"exits by itself when unmounted.\n", MQFUSE_RING_MAX_ENTRIES, mq_ring_default_depth());
}

static int mq_parse_size(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	}
	if (*end || v > UINT32_MAX)
		return -EINVAL;
	*out = v;
	return 0;
}

static int mq_parse_count(const char *s, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int mq_select_fs(const char *fs_name, int want_gen)
{
	char loaded[128];
	int gen;

	if (!strcmp(fs_name, "fuse")) {
		if (want_gen) {
			mq_err("--gen selects an mqfuse generation: not with --fs fuse");
			return -EINVAL;
		}
		mq_cfg.fs = MQ_FS_FUSE;
		snprintf(mq_cfg.fstype, sizeof(mq_cfg.fstype), "fuse");
		snprintf(mq_cfg.devpath, sizeof(mq_cfg.devpath), "/dev/fuse");
		return 0;
	}
	if (strcmp(fs_name, "mqfuse")) {
		mq_err("--fs must be fuse or mqfuse, not '%s'", fs_name);
		return -EINVAL;
	}
	mq_cfg.fs = MQ_FS_MQFUSE;
	gen = mq_find_generation("/proc/filesystems", want_gen, mq_cfg.fstype,
				 sizeof(mq_cfg.fstype), loaded, sizeof(loaded));
	if (gen == -ENOENT && loaded[0]) {
		mq_err("--gen %d: mqfuse_v%d is not loaded (loaded: %s)",
		       want_gen, want_gen, loaded);
		return gen;
	}
	if (gen < 0 && want_gen) {
		mq_err("--gen %d: mqfuse_v%d is not loaded (no mqfuse_vN in /proc/filesystems)",
		       want_gen, want_gen);
		return gen;
	}
	if (gen < 0) {
		mq_err("no mqfuse_vN filesystem in /proc/filesystems (load the module, e.g. modprobe %s, or use --fs fuse)",
		       MQFUSE_NAME);
		return gen;
	}
	mq_cfg.generation = gen;
	snprintf(mq_cfg.devpath, sizeof(mq_cfg.devpath), "/dev/%s",
		 mq_cfg.fstype);
	return 0;
}

static int mq_parse_source(const char *src)
{
	const char *dir = src;
	char real[PATH_MAX];

	if (!strncmp(src, "tcp://", 6)) {
		mq_cfg.remote = true;
		mq_cfg.source = strdup(src);
		return mq_cfg.source ? mq_remote_parse(src) : -ENOMEM;
	}
	if (!strncmp(src, "local:", 6))
		dir = src + 6;
	else if (src[0] != '/') {
		mq_err("SOURCE must be local:DIR or an absolute directory, not '%s'",
		       src);
		return -EINVAL;
	}
	if (!realpath(dir, real)) {
		mq_err("backend directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	mq_cfg.backend_dir = strdup(real);
	mq_cfg.source = strdup(src);
	return mq_cfg.backend_dir && mq_cfg.source ? 0 : -ENOMEM;
}

static unsigned int mq_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return 1024;
	/*
	 * Every inode the kernel remembers holds an O_PATH fd here, and a
	 * READDIRPLUS of a big directory remembers one per entry: as root, lift
	 * the hard limit too (init often leaves it at 4096).
	 */
	if (rl.rlim_max < (1u << 20)) {
		struct rlimit want = { .rlim_cur = 1u << 20, .rlim_max = 1u << 20 };

		if (!setrlimit(RLIMIT_NOFILE, &want))
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (rl.rlim_cur > (1u << 20))
			rl.rlim_cur = 1u << 20;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur > (1u << 20) ? 1u << 20 : rl.rlim_cur;
}

/*
 * The kernel writes the mount's dirty pages back through us: our own
 * allocations must not wait for that writeback (reclaim recursing into
 * the mount), and writing to the backing filesystem must be throttled
 * against its dirty pages only, not the mount's (PR_SET_IO_FLUSHER, as
 * loop devices and stock FUSE servers do). Threads created later inherit
 * it. Needs CAP_SYS_RESOURCE: without it, say so and go on.
 */
static void mq_set_io_flusher(void)
{
#ifdef PR_SET_IO_FLUSHER
	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0))
		mq_warn("PR_SET_IO_FLUSHER: %s (writeback under memory pressure may stall)",
			strerror(errno));
#endif
}

static int mq_open_backend_root(void)
{
	struct stat st;
	int fd, ret;

	fd = open(mq_cfg.backend_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		mq_err("open %s: %s", mq_cfg.backend_dir, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st)) {
		close(fd);
		return -errno;
	}
	mq_resolve_probe(fd);
	ret = mq_itable_init(fd, &st);
	if (ret)
		close(fd);
	return ret;
}

/*
 * --vhost-user SOCKET DIR: a vhost-user-fs back-end for a VM (vhost.c).
 * No mount here: the guest mounts.  Always in the foreground, as the
 * process a VM manager starts beside QEMU.
 */
static int mq_vhost_main(const char *sock, int nargs, char **args,
			 bool other_mode)
{
	struct mq_thread t = { .index = 0 };
	int ret;

	if (other_mode || nargs != 1) {
		mq_err("--vhost-user SOCKET takes one directory and no -o, --fd, --attach or --supervise");
		return 2;
	}
	if (!strncmp(args[0], "tcp://", 6)) {
		mq_err("--vhost-user: serves a local directory, not %s", args[0]);
		return 2;
	}
	if (mq_parse_source(args[0]))
		return 1;
	/* the guest runs stock virtio-fs: FUSE's rules for INIT */
	mq_cfg.fs = MQ_FS_FUSE;
	mq_cfg.sandbox = MQ_SANDBOX_NONE;
	mq_cfg.caller_checked = true;
	ret = mq_handles_init(mq_raise_nofile());
	if (!ret && mq_cfg.locks)
		ret = mq_locks_init();
	if (!ret)
		ret = mq_open_backend_root();
	if (!ret)
		ret = mq_creds_drop_privileges();
	if (ret) {
		mq_err("setup: %s", strerror(-ret));
		return 1;
	}
	/* setgroups(0), once for the process, before the queue threads */
	if (mq_creds_thread_init(&t))
		mq_warn("dropping the supplementary groups failed");
	umask(0);
	return mq_vhost_run(sock);
}

/*
 * --supervise without -f: return to mount(8) once the mount is up (or
 * the first daemon failed), the supervisor going on in the background.
 */
static int mq_supervise_main(int argc, char **argv, const char *mountpoint)
{
	int i, wstatus;
	pid_t pid;

	char status = 1;
	int pfd[2];

	if (mq_cfg.foreground)
		return mq_supervise(argc, argv, mountpoint, -1);
	/*
	 * The first daemon reports on its stderr (ours: mount(8)'s) until
	 * the session is served, then detaches it and writes the status
	 * byte to pfd[1] (--status-fd): what it warned about at start-up
	 * reaches the caller, and nobody keeps the caller's stderr open.
	 */
	if (pipe2(pfd, O_CLOEXEC))
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		close(pfd[0]);
		setsid();
		_exit(mq_supervise(argc, argv, mountpoint, pfd[1]));
	}
	close(pfd[1]);
	if (read(pfd[0], &status, 1) == 1 && status == 0)
		return 0;
	/* failed or gone before serving: the supervisor says why it ended */
	close(pfd[0]);
	for (i = 0; i < 600; i++) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (waitpid(pid, &wstatus, WNOHANG) == pid)
			return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) ?: 1 : 1;
		nanosleep(&ts, NULL);
	}
	mq_err("--supervise: the supervisor did not end after its daemon failed");
	return 1;
}

int main(int argc, char **argv)
{
	struct mq_mount_opts mo = { .default_permissions = true };
	const char *fs_name = "mqfuse", *opts = NULL;
	enum mq_log_level level = MQ_LOG_WARN;
	char *optbuf = NULL;
	int c, ret, want_gen = 0;
	bool supervise = false;
	const char *vhost_sock = NULL;

	/* Closed 0-2: /dev/null there before the backing root or device. */
	if (mq_stdio_fill())
		return 1;
	mq_cfg.pin = true;
	mq_cfg.serve_fd = -1;
	mq_cfg.status_fd = -1;
	mq_cfg.max_write = MQ_DEFAULT_MAX_WRITE;
	mq_cfg.entry_timeout = 1.0;
	mq_cfg.attr_timeout = 1.0;
	mq_cfg.locks = true;
	mq_cfg.transport = MQ_TRANSPORT_RING;
	mq_cfg.ring_depth = 0;	/* mq_ring_default_depth() for max_write */

	while ((c = getopt_long(argc, argv, "o:fhV", mq_long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_FS:
			fs_name = optarg;
			break;
		case OPT_GEN:
			if (mq_parse_generation(optarg, &want_gen)) {
				mq_err("--gen: '%s' is not a generation number (1, 2, ...)",
				       optarg);
				return 2;
			}
			break;
		case 'o':
			/* Several -o accumulate. */
			if (optbuf) {
				char *n;

				if (asprintf(&n, "%s,%s", optbuf, optarg) < 0)
					return 1;
				free(optbuf);
				optbuf = n;
			} else {
				optbuf = strdup(optarg);
			}
			opts = optbuf;
			break;
		case OPT_THREADS:
			if (mq_parse_count(optarg, 4096, &mq_cfg.threads) ||
			    !mq_cfg.threads) {
				mq_err("--threads: invalid count '%s'", optarg);
				return 2;
			}
			break;
		case OPT_PIN:
			if (!strcmp(optarg, "none")) {
				mq_cfg.pin = false;
			} else if (!strcmp(optarg, "queue")) {
				mq_cfg.pin = true;
			} else {
				mq_err("--pin must be none or queue");
				return 2;
			}
			break;
		case OPT_FD: {
			unsigned int fd;

			if (mq_parse_count(optarg, INT_MAX, &fd)) {
				mq_err("--fd: invalid fd '%s'", optarg);
				return 2;
			}
			mq_cfg.serve_fd = fd;
			break;
		}
		case 'f':
			mq_cfg.foreground = true;
			break;
		case OPT_STATUS_FD: {
			unsigned int fd;

			if (mq_parse_count(optarg, INT_MAX, &fd) || fd <= 2 ||
			    fcntl(fd, F_SETFD, FD_CLOEXEC)) {
				mq_err("--status-fd: not an open fd above 2: '%s'", optarg);
				return 2;
			}
			mq_cfg.status_fd = fd;
			break;
		}
		case OPT_LOG_LEVEL:
			ret = mq_log_parse_level(optarg);
			if (ret < 0) {
				mq_err("--log-level: unknown level '%s'", optarg);
				return 2;
			}
			level = ret;
			break;
		case OPT_SYSLOG:
			mq_cfg.syslog = true;
			break;
		case OPT_STATS:
			mq_cfg.stats_path = optarg;
			break;
		case OPT_MAX_WRITE:
			if (mq_parse_size(optarg, &mq_cfg.max_write) ||
			    mq_cfg.max_write < MQ_MIN_MAX_WRITE ||
			    mq_cfg.max_write > MQ_MAX_MAX_WRITE ||
			    mq_cfg.max_write % 4096) {
				mq_err("--max-write: need a multiple of 4096 between %u and %u",
				       MQ_MIN_MAX_WRITE, MQ_MAX_MAX_WRITE);
				return 2;
			}
			break;
		case OPT_WRITEBACK:
			mq_cfg.writeback_cache = true;
			break;
		case OPT_NO_LOCKS:
			mq_cfg.locks = false;
			break;
		case OPT_NO_DEFPERM:
			mo.default_permissions = false;
			break;
		case OPT_ENTRY_TIMEOUT:
			mq_cfg.entry_timeout = strtod(optarg, NULL);
			break;
		case OPT_ATTR_TIMEOUT:
			mq_cfg.attr_timeout = strtod(optarg, NULL);
			break;
		case OPT_SANDBOX:
			if (mq_sandbox_parse_mode(optarg, &mq_cfg.sandbox)) {
				mq_err("--sandbox must be on, log or none");
				return 2;
			}
			break;
		case OPT_NO_SANDBOX:
			mq_cfg.sandbox = MQ_SANDBOX_NONE;
			break;
		case OPT_ATTACH:
		case OPT_TAKEOVER:
			if (mq_cfg.attach) {
				mq_err("--attach, --takeover: one, once");
				return 2;
			}
			mq_cfg.attach = optarg;
			mq_cfg.takeover = c == OPT_TAKEOVER;
			break;
		case OPT_SUPERVISE:
			supervise = true;
			break;
		case OPT_TRANSPORT:
			mq_cfg.transport_given = true;
			if (!strcmp(optarg, "ring")) {
				mq_cfg.transport = MQ_TRANSPORT_RING;
			} else if (!strcmp(optarg, "dev")) {
				mq_cfg.transport = MQ_TRANSPORT_DEV;
			} else {
				mq_err("--transport must be ring or dev");
				return 2;
			}
			break;
		case OPT_RING_DEPTH:
			if (mq_parse_count(optarg, MQFUSE_RING_MAX_ENTRIES,
					   &mq_cfg.ring_depth) ||
			    !mq_cfg.ring_depth ||
			    (mq_cfg.ring_depth & (mq_cfg.ring_depth - 1))) {
				mq_err("--ring-depth: a power of two from 1 to %u",
				       MQFUSE_RING_MAX_ENTRIES);
				return 2;
			}
			break;
		case OPT_RECOVERY_DEFAULT:
			if (mq_parse_count(optarg, 86400,
					   &mq_cfg.recovery_default)) {
				mq_err("--recovery-default: seconds, 0 to 86400");
				return 2;
			}
			break;
		case OPT_SECRET_FILE:
			mq_remote_set_secret_file(optarg);
			break;
		case OPT_CHECKSUM:
			mq_remote_set_checksum();
			break;
		case OPT_VHOST_USER:
			vhost_sock = optarg;
			break;
		case 'h':
			mq_usage(stdout);
			return 0;
		case 'V':
			printf("mqfused %s (mqfuse generation %d, FUSE protocol %d.%d)\n",
			       MQFUSED_VERSION, MQFUSE_GEN, FUSE_KERNEL_VERSION,
			       FUSE_KERNEL_MINOR_VERSION);
			return 0;
		default:
			mq_usage(stderr);
			return 2;
		}
	}
	/*
	 * --takeover: close what we inherited now, while the old daemon
	 * still serves.  A file of the mount among it (the shell's fd of a
	 * file held open there) closed later, by the fd sweep once the old
	 * daemon stopped and before our threads read, would send a FLUSH
	 * nobody reads: a deadlock (and its number may be one a restored
	 * handle needs).  0-2 stay (their writes would block the same way:
	 * do not point them into the mount).
	 */
	if (mq_cfg.takeover && mq_sandbox_close_fds(&mq_cfg.status_fd, 1))
		return 1;
	mq_log_init(level, mq_cfg.syslog);
	if (vhost_sock)
		return mq_vhost_main(vhost_sock, argc - optind, argv + optind,
				     supervise || opts || mq_cfg.attach ||
				     mq_cfg.serve_fd >= 0);

	if (argc - optind < 1 || argc - optind > 2 ||
	    (argc - optind == 1 && mq_cfg.serve_fd < 0 && !mq_cfg.attach) ||
	    (supervise && (argc - optind != 2 || mq_cfg.attach ||
			   mq_cfg.serve_fd >= 0))) {
		mq_usage(stderr);
		return 2;
	}
	if (mq_parse_source(argv[optind]))
		return 1;
	if (argc - optind == 2) {
		char real[PATH_MAX];

		if (!realpath(argv[optind + 1], real)) {
			mq_err("mountpoint %s: %s", argv[optind + 1],
			       strerror(errno));
			return 1;
		}
		mq_cfg.mountpoint = strdup(real);
	}
	if (supervise)
		return mq_supervise_main(argc, argv, mq_cfg.mountpoint);
	if (mq_cfg.serve_fd >= 0 && mq_cfg.attach) {
		mq_err("--attach/--takeover and --fd: one or the other");
		return 2;
	}
	if (mq_cfg.serve_fd >= 0 && want_gen) {
		mq_err("--gen: with --fd the device fd decides the generation");
		return 2;
	}
	if (mq_cfg.serve_fd < 0 && mq_select_fs(fs_name, want_gen))
		return 1;

	mo.fs = mq_cfg.fs;
	if (mq_mount_opts_parse(opts, &mo)) {
		mq_err("%s", mo.error);
		return 1;
	}
	if (mo.warning[0])
		mq_warn("%s", mo.warning);
	mq_cfg.kernel_opts = mo.kernel;
	mq_cfg.mount_flags = mo.flags;
	mq_cfg.queues_opt = mo.queues;
	mq_cfg.default_permissions = mo.default_permissions;

	umask(0);
	mq_set_io_flusher();
	if (mq_cfg.remote) {
		/*
		 * Nothing local to confine or journal: the server has the
		 * files.  read/write on the device: a reply goes back from
		 * the connection's receiver thread (remote.c).
		 */
		if (mq_cfg.attach || mq_cfg.serve_fd >= 0) {
			mq_err("a tcp:// source: no --attach, --takeover or --fd yet");
			return 2;
		}
		/* a successor could not attach: the session must end with us */
		if (mq_cfg.kernel_opts && (!strncmp(mq_cfg.kernel_opts, "recovery=", 9) ||
					   strstr(mq_cfg.kernel_opts, ",recovery="))) {
			mq_err("a tcp:// source: no recovery= yet (a successor cannot take the session over)");
			return 2;
		}
		if (mq_cfg.transport_given && mq_cfg.transport == MQ_TRANSPORT_RING)
			mq_warn("a tcp:// source is served by read/write on the device: --transport=ring ignored");
		mq_cfg.transport = MQ_TRANSPORT_DEV;
		mq_cfg.sandbox = MQ_SANDBOX_NONE;
		mq_cfg.recovery_default = 0;
		if (mq_remote_setup()) {
			mq_err("%s: no server took the session", mq_cfg.source);
			return 1;
		}
		return mq_session_run() ? 1 : 0;
	}
	ret = mq_handles_init(mq_raise_nofile());
	if (!ret && mq_cfg.locks)
		ret = mq_locks_init();
	if (!ret)
		ret = mq_open_backend_root();
	if (ret) {
		mq_err("setup: %s", strerror(-ret));
		return 1;
	}
	ret = mq_session_run();
	return ret ? 1 : 0;
}
