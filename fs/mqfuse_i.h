/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mqfuse internal header: one section per .c file.
 */
#ifndef _MQFUSE_I_H
#define _MQFUSE_I_H

/* Must be the first include of every .c file so pr_fmt applies everywhere. */
#include "mqfuse.h"

#undef pr_fmt
#define pr_fmt(fmt) MQFUSE_NAME ": " fmt

#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/module.h>

/*
 * Exported symbols carry the generation so two generations load side by
 * side: MQFUSE_SYM(foo) is mqfuse_v<GEN>_foo. Declare an exported function
 * once as "#define mqfuse_foo MQFUSE_SYM(foo)" and use the short name.
 */
#define __MQFUSE_PASTE(a, b, c)	a##b##c
#define MQFUSE_PASTE(a, b, c)	__MQFUSE_PASTE(a, b, c)
#define MQFUSE_SYM(name)	MQFUSE_PASTE(mqfuse_v, MQFUSE_GEN, _##name)

/* main.c */
/* Module parameters: defaults for new mounts, validated at load. */
extern unsigned int mqfuse_param_queues;
extern unsigned int mqfuse_param_max_pages;
extern unsigned int mqfuse_param_readdir_size;
extern unsigned int mqfuse_param_consistency;

#define MQFUSE_MAX_PAGES_LIMIT	2048		/* 8 MiB per request */
#define MQFUSE_MAX_QUEUES	256
#define MQFUSE_READDIR_MIN	4096
#define MQFUSE_READDIR_MAX	(128 * 1024)

/* Consistency modes; see Documentation/consistency.rst. */
enum mqfuse_consistency {
	MQFUSE_CONS_STRICT,
	MQFUSE_CONS_CTO,
	MQFUSE_CONS_CTO_WB,
	MQFUSE_CONS_RELAXED,
	MQFUSE_CONS_IMMUTABLE,
	MQFUSE_CONS_NR,
};
extern const char *const mqfuse_consistency_names[MQFUSE_CONS_NR];
int mqfuse_consistency_parse(const char *s);

/* sysfs.c */
int mqfuse_sysfs_init(void);
void mqfuse_sysfs_exit(void);

/* netlink.c */
int mqfuse_netlink_init(void);
void mqfuse_netlink_exit(void);

/* dev.c */
int mqfuse_dev_init(void);
void mqfuse_dev_exit(void);

/* super.c */
int mqfuse_fs_init(void);
void mqfuse_fs_exit(void);

#endif /* _MQFUSE_I_H */
