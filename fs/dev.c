// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: character-device transport, /dev/mqfuse_vN.
 */
#include "mqfuse_i.h"
#include <linux/miscdevice.h>

static int mqfuse_dev_open(struct inode *inode, struct file *file)
{
	/* Not attached to a session until it is passed to mount (fd=N). */
	file->private_data = NULL;
	return 0;
}

static int mqfuse_dev_release(struct inode *inode, struct file *file)
{
	return 0;
}

static const struct file_operations mqfuse_dev_fops = {
	.owner		= THIS_MODULE,
	.open		= mqfuse_dev_open,
	.release	= mqfuse_dev_release,
	.llseek		= no_llseek,
};

static struct miscdevice mqfuse_miscdev = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= MQFUSE_NAME,
	.fops		= &mqfuse_dev_fops,
	.mode		= 0666,
};

int mqfuse_dev_init(void)
{
	return misc_register(&mqfuse_miscdev);
}

void mqfuse_dev_exit(void)
{
	misc_deregister(&mqfuse_miscdev);
}
