// SPDX-License-Identifier: GPL-2.0
/*
 * mount.mqfuse: mount(8) helper.
 *
 *   mount.mqfuse SOURCE MOUNTPOINT [-sfnv] [-N NS] [-o OPTIONS]
 *
 * Splits OPTIONS into daemon options (threads=, pin=, stats=, log=,
 * syslog, fs=, gen=, max_write=, writeback_cache, sandbox=), options for mount(8) only
 * (dropped) and kernel/VFS options (validated, passed to mqfused -o), then
 * execs mqfused, which daemonizes only after the mount succeeded: when this
 * helper's process exits 0 the filesystem is mounted and served; on error
 * it exits non-zero and nothing is left mounted or running.
 *
 * Installed as mount.mqfuse and linked as mount.mqfuse_v<N>, so that
 * mount -t mqfuse_v<N> (and fstab type mqfuse_v<N>) works: called under
 * that name, or with -t mqfuse_v<N>, the helper mounts generation N as if
 * gen=N were given (a different gen= is refused).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mqfuse.h>

#include "mount_opts.h"

#define MQ_MAX_ARGS	32

struct mq_helper {
	const char *source;
	const char *mountpoint;
	char *options;			/* -o, joined */
	bool fake;			/* -f: do everything but mount */
	bool sloppy;			/* -s: tolerate unknown options */
	bool verbose;			/* -v */
	const char *fs;			/* fs= daemon option */
	const char *gen;		/* gen= daemon option, as given */
	int type_gen;			/* N of mount.mqfuse_vN / -t mqfuse_vN, or 0 */
	const char *type_name;		/* where type_gen came from, for messages */
	char *daemon_args[MQ_MAX_ARGS];	/* long options for mqfused */
	int nr_daemon_args;
	char *kernel_opts;		/* what mqfused gets as -o */
	size_t kernel_len;
};

static void mq_die(const char *fmt, const char *arg)
{
	fprintf(stderr, "mount.mqfuse: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(32);	/* mount(8): mount failure */
}

static void mq_usage(void)
{
	fprintf(stderr,
"Usage: mount.mqfuse SOURCE MOUNTPOINT [-sfnv] [-o OPTIONS]\n"
"SOURCE: local:DIR or an absolute DIR.  Daemon options inside -o:\n"
"  threads=N pin=none|queue stats=FILE log=err|warn|info|debug syslog\n"
"  fs=mqfuse|fuse max_write=BYTES writeback_cache sandbox=on|log|none\n"
"  gen=N (mqfuse generation N; default: the newest loaded)\n"
"Everything else goes to the kernel (queues=N, balance=on|off,\n"
"consistency=..., allow_other, max_read=N, ro, noatime, ...).\n");
	exit(1);
}

static void mq_add_daemon_arg(struct mq_helper *h, const char *name,
			      const char *val)
{
	char *arg;

	if (h->nr_daemon_args + 1 >= MQ_MAX_ARGS)
		mq_die("too many daemon options%s", "");
	if (asprintf(&arg, val ? "--%s=%s" : "--%s", name, val) < 0)
		mq_die("out of memory%s", "");
	h->daemon_args[h->nr_daemon_args++] = arg;
}

static void mq_add_kernel_opt(struct mq_helper *h, const char *opt)
{
	size_t len = strlen(opt);
	char *p = realloc(h->kernel_opts, h->kernel_len + len + 2);

	if (!p)
		mq_die("out of memory%s", "");
	if (h->kernel_len)
		p[h->kernel_len++] = ',';
	memcpy(p + h->kernel_len, opt, len + 1);
	h->kernel_len += len;
	h->kernel_opts = p;
}

/* key=value daemon options and their mqfused long option. */
static const struct {
	const char *key;
	const char *long_opt;
	bool has_value;
} mq_daemon_opts[] = {
	{ "threads", "threads", true },
	{ "pin", "pin", true },
	{ "stats", "stats", true },
	{ "log", "log-level", true },
	{ "syslog", "syslog", false },
	{ "max_write", "max-write", true },
	{ "writeback_cache", "writeback-cache", false },
	{ "fs", "fs", true },
	{ "sandbox", "sandbox", true },
	{ "gen", "gen", true },
};

static void mq_split_options(struct mq_helper *h)
{
	char *opts = h->options ? strdup(h->options) : NULL;
	enum mq_sandbox_mode sandbox;
	char *save = NULL, *opt;
	size_t i;

	if (!opts)
		return;
	for (opt = strtok_r(opts, ",", &save); opt;
	     opt = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(opt, '=');
		size_t keylen = eq ? (size_t)(eq - opt) : strlen(opt);
		bool daemon = false;

		for (i = 0; i < sizeof(mq_daemon_opts) / sizeof(mq_daemon_opts[0]);
		     i++) {
			if (strlen(mq_daemon_opts[i].key) != keylen ||
			    strncmp(mq_daemon_opts[i].key, opt, keylen))
				continue;
			if (mq_daemon_opts[i].has_value != !!eq ||
			    (eq && !eq[1]))
				mq_die("option '%s' needs the form key=value (or no value)",
				       opt);
			/* refused here, before mqfused runs (mount(8)'s status) */
			if (!strcmp(mq_daemon_opts[i].key, "sandbox") &&
			    mq_sandbox_parse_mode(eq + 1, &sandbox))
				mq_die("sandbox= must be on, log or none, not '%s'",
				       eq + 1);
			if (!strcmp(mq_daemon_opts[i].key, "fs"))
				h->fs = strdup(eq + 1);
			else if (!strcmp(mq_daemon_opts[i].key, "gen"))
				h->gen = strdup(eq + 1);
			else
				mq_add_daemon_arg(h, mq_daemon_opts[i].long_opt,
						  eq ? eq + 1 : NULL);
			daemon = true;
			break;
		}
		if (!daemon)
			mq_add_kernel_opt(h, opt);
	}
	free(opts);
}

/* Default recovery= of a mount made by mount.mqfuse, in seconds. */
#define MQ_RECOVERY_DEFAULT	"30"

/*
 * Crash recovery is on unless the options say recovery=0: the kernel
 * keeps the session for recovery=SECONDS after the daemon dies, and
 * mqfused runs supervised (--supervise) so that a successor attaches at
 * once.  The default goes to mqfused as --recovery-default, which adds
 * recovery= to the mount and mounts without it (with a warning) on a
 * module that does not know the option.  Stock FUSE has no recovery.
 */
static void mq_recovery_default(struct mq_helper *h)
{
	const char *p = h->kernel_opts;
	const char *val = NULL;

	if (h->fs && !strcmp(h->fs, "fuse"))
		return;
	while (p && *p) {
		if (!strncmp(p, "recovery=", 9))
			val = p + 9;	/* the last one wins */
		p = strchr(p, ',');
		if (p)
			p++;
	}
	if (!val) {
		mq_add_daemon_arg(h, "recovery-default", MQ_RECOVERY_DEFAULT);
		val = MQ_RECOVERY_DEFAULT;
	}
	if (strtoul(val, NULL, 10) > 0)
		mq_add_daemon_arg(h, "supervise", NULL);
}

/* Validate kernel options the same way mqfused will. */
static void mq_validate(struct mq_helper *h)
{
	struct mq_mount_opts mo = { .default_permissions = true };
	char loaded[128];
	int want = 0, gen;

	mo.fs = h->fs && !strcmp(h->fs, "fuse") ? MQ_FS_FUSE : MQ_FS_MQFUSE;
	if (h->fs && strcmp(h->fs, "fuse") && strcmp(h->fs, "mqfuse"))
		mq_die("fs= must be fuse or mqfuse, not '%s'", h->fs);
	if (mq_mount_opts_parse(h->kernel_opts, &mo))
		mq_die("%s", mo.error);
	mq_mount_opts_free(&mo);
	if (h->gen) {
		if (mq_parse_generation(h->gen, &want))
			mq_die("gen= needs a generation number (1, 2, ...), not '%s'",
			       h->gen);
		if (h->type_gen && want != h->type_gen) {
			fprintf(stderr, "mount.mqfuse: gen=%s contradicts %s (generation %d)\n",
				h->gen, h->type_name, h->type_gen);
			exit(32);
		}
		if (mo.fs != MQ_FS_MQFUSE)
			mq_die("gen= selects an mqfuse generation: not with fs=%s",
			       h->fs);
	}
	if (mo.fs != MQ_FS_MQFUSE)
		return;
	gen = mq_find_generation("/proc/filesystems", want, NULL, 0,
				 loaded, sizeof(loaded));
	if (gen == -ENOENT && loaded[0]) {
		fprintf(stderr, "mount.mqfuse: gen=%d: mqfuse_v%d is not loaded (loaded: %s)\n",
			want, want, loaded);
		exit(32);
	}
	if (gen < 0 && want) {
		fprintf(stderr, "mount.mqfuse: gen=%d: mqfuse_v%d is not loaded (no mqfuse filesystem is)\n",
			want, want);
		exit(32);
	}
	if (gen < 0)
		mq_die("no mqfuse filesystem is loaded (modprobe %s?)",
		       MQFUSE_NAME);
}

/*
 * The generation named by the program name ("mount.mqfuse_v<N>", @prog
 * true) or -t ("mqfuse_v<N>[.subtype]"), as gen= would; a malformed
 * mqfuse_v name is an error, never the newest generation.
 */
static void mq_set_type_generation(struct mq_helper *h, const char *name, bool prog)
{
	int gen;

	if (prog && strncmp(name, "mount.", 6))
		return;	/* a copy, a test: no generation */
	gen = mq_type_generation(prog ? name + 6 : name, !prog);
	if (gen < 0) {
		fprintf(stderr, "mount.mqfuse: %s%s: not a generation (mqfuse_v1, mqfuse_v2, ...)\n",
			prog ? "" : "-t ", name);
		exit(32);
	}
	if (!gen)
		return;	/* mqfuse, or another name: no generation */
	if (h->type_gen && h->type_gen != gen) {
		fprintf(stderr, "mount.mqfuse: %s contradicts %s\n", name, h->type_name);
		exit(32);
	}
	h->type_gen = gen;
	h->type_name = name;
}

/* mqfused next to this helper, then the usual sbin directories. */
static const char *mq_find_daemon(const char *argv0)
{
	static char path[PATH_MAX + 16];
	static const char *const dirs[] = {
		"/usr/sbin", "/sbin", "/usr/local/sbin",
	};
	const char *env = getenv("MQFUSED");
	char self[PATH_MAX];
	ssize_t n;
	size_t i;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		char *slash;

		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/mqfused", self);
			if (!access(path, X_OK))
				return path;
		}
	}
	(void)argv0;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/mqfused", dirs[i]);
		if (!access(path, X_OK))
			return path;
	}
	return NULL;
}

static void mq_append_opt(struct mq_helper *h, const char *o)
{
	char *joined;

	if (!h->options) {
		h->options = strdup(o);
		return;
	}
	if (asprintf(&joined, "%s,%s", h->options, o) < 0)
		mq_die("out of memory%s", "");
	free(h->options);
	h->options = joined;
}

int main(int argc, char **argv)
{
	struct mq_helper h = { 0 };
	char *args[MQ_MAX_ARGS + 16];
	const char *daemon, *prog;
	char gen_buf[16];
	int c, n = 0, i;

	prog = strrchr(argv[0], '/');
	mq_set_type_generation(&h, prog ? prog + 1 : argv[0], true);

	/* mount(8) passes SOURCE and MOUNTPOINT first, options after. */
	while ((c = getopt(argc, argv, "sfnvo:t:N:h")) != -1) {
		switch (c) {
		case 's':
			h.sloppy = true;
			break;
		case 'f':
			h.fake = true;
			break;
		case 'n':
			break;	/* no mtab: there is none to write */
		case 'v':
			h.verbose = true;
			break;
		case 'o':
			mq_append_opt(&h, optarg);
			break;
		case 't': {	/* mqfuse or mqfuse_vN, [.subtype] */
			char *type = strdup(optarg);

			if (!type)
				mq_die("out of memory%s", "");
			mq_set_type_generation(&h, type, false);
			break;
		}
		case 'N':
			mq_die("-N (mount namespace) is not supported%s", "");
			break;
		default:
			mq_usage();
		}
	}
	if (argc - optind != 2)
		mq_usage();
	h.source = argv[optind];
	h.mountpoint = argv[optind + 1];
	if (strncmp(h.source, "local:", 6) && h.source[0] != '/')
		mq_die("source '%s' must be local:DIR or an absolute directory",
		       h.source);

	mq_split_options(&h);
	if (h.type_gen && !h.gen) {
		snprintf(gen_buf, sizeof(gen_buf), "%d", h.type_gen);
		h.gen = gen_buf;
	}
	mq_recovery_default(&h);
	mq_validate(&h);
	daemon = mq_find_daemon(argv[0]);
	if (!daemon)
		mq_die("cannot find mqfused (set MQFUSED=/path/to/mqfused)%s", "");

	args[n++] = (char *)daemon;
	if (h.fs)
		mq_add_daemon_arg(&h, "fs", h.fs);
	if (h.gen)
		mq_add_daemon_arg(&h, "gen", h.gen);
	for (i = 0; i < h.nr_daemon_args; i++)
		args[n++] = h.daemon_args[i];
	if (h.verbose && n < MQ_MAX_ARGS)
		args[n++] = "--log-level=info";
	if (h.kernel_opts) {
		args[n++] = "-o";
		args[n++] = h.kernel_opts;
	}
	args[n++] = "--";
	args[n++] = (char *)h.source;
	args[n++] = (char *)h.mountpoint;
	args[n] = NULL;

	if (h.verbose || h.fake) {
		fprintf(stderr, "mount.mqfuse:");
		for (i = 0; i < n; i++)
			fprintf(stderr, " %s", args[i]);
		fputc('\n', stderr);
	}
	if (h.fake)
		return 0;
	execv(daemon, args);
	mq_die("exec mqfused: %s", strerror(errno));
	return 32;
}
