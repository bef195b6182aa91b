/* SPDX-License-Identifier: GPL-2.0 */
/* Mount option parsing shared by mqfused and mount.mqfuse. */
#ifndef MQ_MOUNT_OPTS_H
#define MQ_MOUNT_OPTS_H

#include <stdbool.h>

#include "mqfused.h"

struct mq_mount_opts {
	enum mq_fs_kind fs;		/* in: which kernel the options go to */
	unsigned long flags;		/* out: MS_* flags */
	char *kernel;			/* out: options for mount(2) data */
	unsigned int queues;		/* out: queues=N, 0 if absent */
	bool default_permissions;	/* in/out */
	char error[160];		/* out: message when parsing fails */
	char warning[160];		/* out: last non-fatal remark */
};

int mq_mount_opts_parse(const char *in, struct mq_mount_opts *mo);
void mq_mount_opts_free(struct mq_mount_opts *mo);
/* "on" (or "kill"), "log", "none" (or "off"); -EINVAL otherwise. */
int mq_sandbox_parse_mode(const char *s, enum mq_sandbox_mode *mode);

/*
 * Generations (uapi/mqfuse.h MQFUSE_GEN): each loaded one lists its
 * filesystem type mqfuse_v<N> in /proc/filesystems.
 */
#define MQ_GEN_MAX	99999
/* "1", "2", ...: decimal, no sign or leading zero, 1..MQ_GEN_MAX. */
int mq_parse_generation(const char *s, int *gen);
/*
 * The generation a filesystem type (mount -t, @subtype: a ".subtype"
 * suffix is allowed and ignored) or a helper's name after "mount."
 * (@subtype false) selects: N for "mqfuse_v<N>", 0 for exactly "mqfuse"
 * and for names that do not start with "mqfuse_v" (not ours to judge),
 * -EINVAL for a "mqfuse_v" name whose N does not parse ("mqfuse_v01",
 * "mqfuse_v0", "mqfuse_v", "mqfuse_v100000", "mqfuse_v2.x" as a name).
 */
int mq_type_generation(const char *name, bool subtype);
/*
 * From @filesystems (/proc/filesystems format): @want 0 picks the newest
 * loaded generation, else exactly generation @want. Returns the generation
 * and writes its filesystem type to @fstype (may be NULL); -ENOENT when
 * @want is not loaded but another generation is, -ENODEV when none is,
 * -errno when the file cannot be read. @loaded (may be NULL) receives the
 * loaded types, space separated, for messages.
 */
int mq_find_generation(const char *filesystems, int want, char *fstype,
		       size_t len, char *loaded, size_t loaded_len);
/*
 * Every generation loaded according to @filesystems, ascending, at most
 * @max of them into @gens: returns how many, or -errno.
 */
int mq_list_generations(const char *filesystems, int *gens, int max);

/*
 * A /proc/self/mountinfo field with its octal escapes (\040 for a space,
 * \134 for a backslash...) undone into @out (@len bytes, terminated).
 */
void mq_mountinfo_unescape(const char *in, char *out, size_t len);

#endif /* MQ_MOUNT_OPTS_H */
