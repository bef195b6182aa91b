// SPDX-License-Identifier: GPL-2.0
/*
 * Mount option handling shared by mqfused and mount.mqfuse: splits a
 * comma separated option string into generic VFS flags (MS_*), options
 * for the kernel filesystem (mount(2) data) and options that belong to
 * mount(8) only, validating the values of the mqfuse options; the values
 * of daemon options both take (the sandbox mode).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "mqfused.h"
#include "mount_opts.h"

struct mq_flag_opt {
	const char *name;
	unsigned long flag;
	bool set;		/* true: sets the flag, false: clears it */
};

static const struct mq_flag_opt mq_flag_opts[] = {
	{ "ro", MS_RDONLY, true },		{ "rw", MS_RDONLY, false },
	{ "nosuid", MS_NOSUID, true },		{ "suid", MS_NOSUID, false },
	{ "nodev", MS_NODEV, true },		{ "dev", MS_NODEV, false },
	{ "noexec", MS_NOEXEC, true },		{ "exec", MS_NOEXEC, false },
	{ "sync", MS_SYNCHRONOUS, true },	{ "async", MS_SYNCHRONOUS, false },
	{ "dirsync", MS_DIRSYNC, true },
	{ "noatime", MS_NOATIME, true },	{ "atime", MS_NOATIME, false },
	{ "nodiratime", MS_NODIRATIME, true },	{ "diratime", MS_NODIRATIME, false },
	{ "relatime", MS_RELATIME, true },	{ "norelatime", MS_RELATIME, false },
	{ "strictatime", MS_STRICTATIME, true },
	{ "lazytime", MS_LAZYTIME, true },	{ "nolazytime", MS_LAZYTIME, false },
	{ "silent", MS_SILENT, true },		{ "loud", MS_SILENT, false },
};

/* Interpreted by mount(8)/systemd, meaningless to the kernel. */
static const char *const mq_userspace_opts[] = {
	"defaults", "auto", "noauto", "nofail", "_netdev", "user", "nouser",
	"users", "owner", "group", "noowner", "nogroup", "nousers",
};

/* Set by the daemon itself. */
static const char *const mq_reserved_opts[] = {
	"fd", "rootmode", "user_id", "group_id",
};

/* Understood only by the mqfuse kernel module. */
static const char *const mq_mqfuse_opts[] = {
	"queues", "balance", "consistency", "recovery", "readdirplus",
};

/*
 * Options of the design the kernel module does not implement yet: refused
 * here with a clear message instead of an EINVAL from mount(2).
 */
static const char *const mq_unsupported_opts[] = {
	"virtqueues",
};

/* Options the FUSE and mqfuse kernel sides both take (fs/super.c). */
static const char *const mq_fuse_opts[] = {
	"allow_other", "max_read", "blksize", "subtype",
};

static const char *const mq_consistency_modes[] = {
	"strict", "cto", "cto-wb", "relaxed", "immutable",
};

static bool mq_in_list(const char *key, size_t keylen,
		       const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(list[i]) == keylen && !strncmp(list[i], key, keylen))
			return true;
	return false;
}

#define MQ_IN(key, len, list) mq_in_list(key, len, list, \
					 sizeof(list) / sizeof(list[0]))

static int mq_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Check the value of an mqfuse option; fills *queues for queues=. */
static int mq_check_mqfuse_opt(const char *key, size_t keylen,
			       const char *val, struct mq_mount_opts *mo)
{
	unsigned long v;

	if (keylen == 6 && !strncmp(key, "queues", 6)) {
		if (mq_parse_uint(val, 4096, &v) || !v)
			return -EINVAL;
		mo->queues = v;
	} else if (keylen == 7 && !strncmp(key, "balance", 7)) {
		if (!val || (strcmp(val, "on") && strcmp(val, "off")))
			return -EINVAL;
	} else if (keylen == 8 && !strncmp(key, "recovery", 8)) {
		/* seconds an orphaned session waits for a daemon; 0: off */
		if (mq_parse_uint(val, 86400, &v))
			return -EINVAL;
	} else if (keylen == 11 && !strncmp(key, "consistency", 11)) {
		if (!val || !MQ_IN(val, strlen(val), mq_consistency_modes))
			return -EINVAL;
	} else if (keylen == 11 && !strncmp(key, "readdirplus", 11)) {
		if (!val || (strcmp(val, "auto") && strcmp(val, "always") &&
			     strcmp(val, "never")))
			return -EINVAL;
	}
	return 0;
}

static int mq_append(char **buf, size_t *len, const char *opt, size_t optlen)
{
	size_t need = *len + optlen + 2;
	char *p = realloc(*buf, need);

	if (!p)
		return -ENOMEM;
	if (*len)
		p[(*len)++] = ',';
	memcpy(p + *len, opt, optlen);
	*len += optlen;
	p[*len] = '\0';
	*buf = p;
	return 0;
}

static int mq_handle_opt(const char *opt, size_t optlen,
			 struct mq_mount_opts *mo, size_t *klen)
{
	const char *eq = memchr(opt, '=', optlen);
	size_t keylen = eq ? (size_t)(eq - opt) : optlen;
	char val[256];
	size_t i;
	int ret;

	if (!optlen)
		return 0;
	for (i = 0; i < sizeof(mq_flag_opts) / sizeof(mq_flag_opts[0]); i++) {
		const struct mq_flag_opt *f = &mq_flag_opts[i];

		if (strlen(f->name) != optlen || strncmp(f->name, opt, optlen))
			continue;
		if (f->set)
			mo->flags |= f->flag;
		else
			mo->flags &= ~f->flag;
		return 0;
	}
	if (MQ_IN(opt, keylen, mq_userspace_opts) ||
	    (keylen >= 2 && !strncmp(opt, "x-", 2)) ||
	    (keylen == 7 && !strncmp(opt, "comment", 7)))
		return 0;
	if (keylen == 3 && !strncmp(opt, "gen", 3)) {
		snprintf(mo->error, sizeof(mo->error),
			 "option 'gen' belongs to mount.mqfuse (mqfused: --gen N)");
		return -EINVAL;
	}
	if (MQ_IN(opt, keylen, mq_reserved_opts)) {
		snprintf(mo->error, sizeof(mo->error),
			 "option '%.*s' is set by mqfused itself",
			 (int)keylen, opt);
		return -EINVAL;
	}
	if (keylen == optlen && optlen == 19 &&
	    !strncmp(opt, "default_permissions", 19)) {
		mo->default_permissions = true;
		return 0;
	}
	if (keylen == optlen && optlen == 21 &&
	    !strncmp(opt, "nodefault_permissions", 21)) {
		mo->default_permissions = false;
		return 0;
	}
	if (MQ_IN(opt, keylen, mq_mqfuse_opts)) {
		const char *v = NULL;

		if (eq) {
			size_t vlen = optlen - keylen - 1;

			if (vlen >= sizeof(val))
				vlen = sizeof(val) - 1;
			memcpy(val, eq + 1, vlen);
			val[vlen] = '\0';
			v = val;
		}
		ret = mq_check_mqfuse_opt(opt, keylen, v, mo);
		if (ret) {
			snprintf(mo->error, sizeof(mo->error),
				 "invalid value in option '%.*s'",
				 (int)optlen, opt);
			return ret;
		}
		if (mo->fs == MQ_FS_FUSE) {
			snprintf(mo->warning, sizeof(mo->warning),
				 "option '%.*s' ignored with --fs fuse",
				 (int)optlen, opt);
			return 0;
		}
	}
	if (MQ_IN(opt, keylen, mq_unsupported_opts)) {
		snprintf(mo->error, sizeof(mo->error),
			 "option '%.*s' is not supported by this mqfuse version",
			 (int)keylen, opt);
		return -EINVAL;
	}
	if (!MQ_IN(opt, keylen, mq_mqfuse_opts) &&
	    !MQ_IN(opt, keylen, mq_fuse_opts)) {
		snprintf(mo->error, sizeof(mo->error),
			 "unknown mount option '%.*s'", (int)keylen, opt);
		return -EINVAL;
	}
	return mq_append(&mo->kernel, klen, opt, optlen);
}

int mq_mount_opts_parse(const char *in, struct mq_mount_opts *mo)
{
	const char *p = in, *comma;
	size_t klen = mo->kernel ? strlen(mo->kernel) : 0;
	int ret;

	if (!in)
		return 0;
	for (;;) {
		comma = strchr(p, ',');
		ret = mq_handle_opt(p, comma ? (size_t)(comma - p) : strlen(p),
				    mo, &klen);
		if (ret)
			return ret;
		if (!comma)
			break;
		p = comma + 1;
	}
	return 0;
}

void mq_mount_opts_free(struct mq_mount_opts *mo)
{
	free(mo->kernel);
	mo->kernel = NULL;
}

/* --sandbox= of mqfused, sandbox= of mount.mqfuse. */
int mq_sandbox_parse_mode(const char *s, enum mq_sandbox_mode *mode)
{
	/* What --help and the manual pages list, nothing else. */
	if (!strcmp(s, "on"))
		*mode = MQ_SANDBOX_ON;
	else if (!strcmp(s, "log"))
		*mode = MQ_SANDBOX_LOG;
	else if (!strcmp(s, "none"))
		*mode = MQ_SANDBOX_NONE;
	else
		return -EINVAL;
	return 0;
}

/*
 * gen= of mount.mqfuse, --gen of mqfused: a generation number as the
 * module names carry it ("1", "2", ...): decimal digits, no sign, no
 * leading zero, no spaces, at most MQ_GEN_MAX.
 */
int mq_parse_generation(const char *s, int *gen)
{
	long v = 0;
	const char *p;

	if (!s || *s < '1' || *s > '9')
		return -EINVAL;
	for (p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (*p - '0');
		if (v > MQ_GEN_MAX)
			return -EINVAL;
	}
	*gen = v;
	return 0;
}

int mq_type_generation(const char *name, bool subtype)
{
	char base[32];
	size_t len = subtype ? strcspn(name, ".") : strlen(name);
	int gen;

	if (len == 6 && !strncmp(name, "mqfuse", 6))
		return 0;
	if (strncmp(name, "mqfuse_v", 8))
		return 0;
	/* the number, and with a subtype a non-empty one after the dot */
	if (len >= sizeof(base) || (name[len] == '.' && !name[len + 1]))
		return -EINVAL;
	memcpy(base, name + 8, len - 8);
	base[len - 8] = '\0';
	if (mq_parse_generation(base, &gen))
		return -EINVAL;
	return gen;
}

/* The generation of filesystem type @s ("mqfuse_v<N>"), or 0 if none. */
static int mq_fstype_generation(const char *s)
{
	int gen;

	if (strncmp(s, "mqfuse_v", 8) || mq_parse_generation(s + 8, &gen))
		return 0;
	return gen;
}

/* more than any machine loads; the rest are left out */
#define MQ_FIND_MAX_GENS	64

int mq_list_generations(const char *filesystems, int *gens, int max)
{
	char line[256];
	FILE *f = fopen(filesystems, "re");
	int n = 0, gen, i, j;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *tab = strrchr(line, '\t');
		char *s = tab ? tab + 1 : line;

		s[strcspn(s, "\n")] = '\0';
		gen = mq_fstype_generation(s);
		if (!gen || n == max)
			continue;
		/* insertion sort: a handful of generations at most */
		for (i = 0; i < n && gens[i] < gen; i++)
			;
		if (i < n && gens[i] == gen)
			continue;
		for (j = n; j > i; j--)
			gens[j] = gens[j - 1];
		gens[i] = gen;
		n++;
	}
	fclose(f);
	return n;
}

int mq_find_generation(const char *filesystems, int want, char *fstype,
		       size_t len, char *loaded, size_t loaded_len)
{
	int gens[MQ_FIND_MAX_GENS], n, i, best = 0;
	size_t used = 0;

	if (loaded && loaded_len)
		loaded[0] = '\0';
	n = mq_list_generations(filesystems, gens, MQ_FIND_MAX_GENS);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (loaded && used + 1 < loaded_len) {
			int w = snprintf(loaded + used, loaded_len - used, "%smqfuse_v%d",
					 used ? " " : "", gens[i]);

			if (w > 0)
				used += (size_t)w < loaded_len - used ?
					(size_t)w : loaded_len - used - 1;
		}
		if (!want || gens[i] == want)
			best = gens[i];	/* ascending: the last match is the newest */
	}
	if (!best)
		return want && n ? -ENOENT : -ENODEV;
	if (fstype)
		snprintf(fstype, len, "mqfuse_v%d", best);
	return best;
}

/* Newest loaded mqfuse generation from /proc/filesystems, or -ENODEV. */
int mq_pick_generation(char *fstype, size_t len)
{
	return mq_find_generation("/proc/filesystems", 0, fstype, len, NULL, 0);
}

void mq_mountinfo_unescape(const char *in, char *out, size_t len)
{
	size_t o = 0;

	if (!len)
		return;
	while (*in && o + 1 < len) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' &&
		    in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
			out[o++] = (char)((in[1] - '0') << 6 | (in[2] - '0') << 3 | (in[3] - '0'));
			in += 4;
		} else {
			out[o++] = *in++;
		}
	}
	out[o] = '\0';
}
