// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: module init/exit and module parameters.
 */
#include "mqfuse_i.h"
#include <linux/moduleparam.h>
#include <linux/string.h>

unsigned int mqfuse_param_queues;		/* 0: one queue per possible CPU */
unsigned int mqfuse_param_max_pages = MQFUSE_MAX_PAGES_LIMIT;
unsigned int mqfuse_param_readdir_size = 32 * 1024;
unsigned int mqfuse_param_consistency = MQFUSE_CONS_CTO;
unsigned int mqfuse_param_recovery;		/* 0: no recovery unless recovery= */

const char *const mqfuse_consistency_names[MQFUSE_CONS_NR] = {
	[MQFUSE_CONS_STRICT]	= "strict",
	[MQFUSE_CONS_CTO]	= "cto",
	[MQFUSE_CONS_CTO_WB]	= "cto-wb",
	[MQFUSE_CONS_RELAXED]	= "relaxed",
	[MQFUSE_CONS_IMMUTABLE]	= "immutable",
};

/* Returns the mode for @s, or -EINVAL. */
int mqfuse_consistency_parse(const char *s)
{
	int i = sysfs_match_string(mqfuse_consistency_names, s);

	return i < 0 ? -EINVAL : i;
}

/*
 * Unsigned parameters with a range: a bad value makes the module load fail
 * with -EINVAL instead of silently clamping.
 */
struct mqfuse_uint_range {
	unsigned int min;
	unsigned int max;
};

static int mqfuse_param_set_range(const char *val, const struct kernel_param *kp,
				  unsigned int min, unsigned int max)
{
	unsigned int v;
	int err;

	err = kstrtouint(val, 0, &v);
	if (err)
		return err;
	if (v < min || v > max) {
		pr_err("parameter %s=%u out of range [%u, %u]\n",
		       kp->name, v, min, max);
		return -EINVAL;
	}
	*(unsigned int *)kp->arg = v;
	return 0;
}

#define MQFUSE_UINT_PARAM(pname, var, lo, hi, desc)				\
	static int mqfuse_set_##pname(const char *val,				\
				      const struct kernel_param *kp)		\
	{									\
		return mqfuse_param_set_range(val, kp, lo, hi);			\
	}									\
	static const struct kernel_param_ops mqfuse_ops_##pname = {		\
		.set = mqfuse_set_##pname,					\
		.get = param_get_uint,						\
	};									\
	module_param_cb(pname, &mqfuse_ops_##pname, &var, 0644);		\
	MODULE_PARM_DESC(pname, desc)

MQFUSE_UINT_PARAM(queues, mqfuse_param_queues, 0, MQFUSE_MAX_QUEUES,
		  "default number of request queues per mount (0 = one per CPU; max 256)");
MQFUSE_UINT_PARAM(max_pages, mqfuse_param_max_pages, 1, MQFUSE_MAX_PAGES_LIMIT,
		  "upper bound on pages per READ/WRITE request (1..2048, default 2048 = 8 MiB)");
MQFUSE_UINT_PARAM(readdir_size, mqfuse_param_readdir_size,
		  MQFUSE_READDIR_MIN, MQFUSE_READDIR_MAX,
		  "bytes per READDIR/READDIRPLUS request (4096..131072, default 32768)");
MQFUSE_UINT_PARAM(recovery, mqfuse_param_recovery, 0, MQFUSE_RECOVERY_MAX,
		  "default recovery=SECONDS of new mounts (0 = off, max 86400)");

static int mqfuse_set_consistency(const char *val, const struct kernel_param *kp)
{
	int mode = mqfuse_consistency_parse(val);
	/* "echo mode > .../consistency" ends in a newline: not in the log */
	int len = strcspn(val, "\n");

	if (mode < 0) {
		pr_err("parameter consistency=%.*s: unknown mode\n", len, val);
		return -EINVAL;
	}
	if (!mqfuse_cons_lookup(mode)) {
		pr_err("parameter consistency=%.*s: not supported yet\n", len, val);
		return -EINVAL;
	}
	/* read locklessly by mqfuse_init_fs_context() */
	WRITE_ONCE(*(unsigned int *)kp->arg, mode);
	return 0;
}

static int mqfuse_get_consistency(char *buf, const struct kernel_param *kp)
{
	return scnprintf(buf, PAGE_SIZE, "%s\n",
			  mqfuse_consistency_names[*(unsigned int *)kp->arg]);
}

static const struct kernel_param_ops mqfuse_ops_consistency = {
	.set = mqfuse_set_consistency,
	.get = mqfuse_get_consistency,
};
module_param_cb(consistency, &mqfuse_ops_consistency, &mqfuse_param_consistency, 0644);
MODULE_PARM_DESC(consistency,
		 "default consistency mode: strict, cto (default), cto-wb, relaxed, immutable");

static int __init mqfuse_init(void)
{
	int err;

	err = mqfuse_sysfs_init();
	if (err)
		goto out;
	err = mqfuse_dev_init();
	if (err)
		goto out_sysfs;
	err = mqfuse_netlink_init();
	if (err)
		goto out_dev;
	/* before the filesystem: a mount's first AIO completes on it */
	err = mqfuse_dio_init();
	if (err)
		goto out_netlink;
	/* last: a mount can come in as soon as the filesystem is registered */
	err = mqfuse_fs_init();
	if (err)
		goto out_dio;

	pr_info("generation %d, version %s loaded\n", MQFUSE_GEN, MQFUSE_VERSION);
	return 0;

out_dio:
	mqfuse_dio_exit();
out_netlink:
	mqfuse_netlink_exit();
out_dev:
	mqfuse_dev_exit();
out_sysfs:
	mqfuse_sysfs_exit();
out:
	return err;
}

static void __exit mqfuse_exit(void)
{
	mqfuse_fs_exit();	/* waits until every session is freed */
	mqfuse_dio_exit();	/* after the sessions: no AIO is left to complete */
	mqfuse_netlink_exit();
	mqfuse_dev_exit();
	mqfuse_sysfs_exit();
}

module_init(mqfuse_init);
module_exit(mqfuse_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("mqfuse: multi-queue FUSE-protocol filesystem");
MODULE_AUTHOR("The mqfuse developers");
MODULE_VERSION(MQFUSE_VERSION "-gen" MQFUSE_STR(MQFUSE_GEN));
MODULE_INFO(generation, MQFUSE_STR(MQFUSE_GEN));
MODULE_ALIAS_FS(MQFUSE_NAME);
