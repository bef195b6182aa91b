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

#endif /* MQ_MOUNT_OPTS_H */
