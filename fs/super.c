// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: filesystem type, mount options, superblock.
 */
#include "mqfuse_i.h"
#include <linux/fs_context.h>

static int mqfuse_get_tree(struct fs_context *fc)
{
	return invalfc(fc, "mounting is not implemented yet");
}

static const struct fs_context_operations mqfuse_context_ops = {
	.get_tree	= mqfuse_get_tree,
};

static int mqfuse_init_fs_context(struct fs_context *fc)
{
	fc->ops = &mqfuse_context_ops;
	return 0;
}

static struct file_system_type mqfuse_fs_type = {
	.owner			= THIS_MODULE,
	.name			= MQFUSE_NAME,
	.init_fs_context	= mqfuse_init_fs_context,
	.kill_sb		= kill_anon_super,
};

int mqfuse_fs_init(void)
{
	return register_filesystem(&mqfuse_fs_type);
}

void mqfuse_fs_exit(void)
{
	unregister_filesystem(&mqfuse_fs_type);
}
