/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mqfuse user-space API.
 *
 * This header is the single place where the module generation is defined.
 * Every externally visible name (module, filesystem type, misc device,
 * generic-netlink family, sysfs directory, exported symbols, DKMS package)
 * derives from MQFUSE_GEN; bump it here and rebuild to get a module that
 * loads and mounts side by side with the previous generation.
 *
 * The header is self-contained: fixed-size types only, no kernel types.
 *
 * Changelog (one line per protocol or ABI change):
 *   gen 1, 0.1.0: initial generation; CLONE and BIND_QUEUE ioctls.
 *   gen 1, 0.1.0: mqfuse_session_info: max_write, state, balance, consistency
 *                 (from reserved space, size unchanged); MQFUSE_SUPER_MAGIC;
 *                 MQFUSE_IOC_BIND_QUEUE accepts ~0U to unbind.
 */
#ifndef _UAPI_MQFUSE_H
#define _UAPI_MQFUSE_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* Generation: an integer, bumped when a new module must coexist with the old. */
#define MQFUSE_GEN		1

/* Release version, independent of the generation. */
#define MQFUSE_VERSION_MAJOR	0
#define MQFUSE_VERSION_MINOR	1
#define MQFUSE_VERSION_PATCH	0

#define __MQFUSE_STR(x)		#x
#define MQFUSE_STR(x)		__MQFUSE_STR(x)

#define MQFUSE_VERSION		MQFUSE_STR(MQFUSE_VERSION_MAJOR) "." \
				MQFUSE_STR(MQFUSE_VERSION_MINOR) "." \
				MQFUSE_STR(MQFUSE_VERSION_PATCH)

/*
 * "mqfuse_v<GEN>": module name, filesystem type, misc device name
 * (/dev/mqfuse_v<GEN>), generic-netlink family, sysfs directory
 * (/sys/fs/mqfuse_v<GEN>).
 */
#define MQFUSE_NAME		"mqfuse_v" MQFUSE_STR(MQFUSE_GEN)
#define MQFUSE_DEV_PATH		"/dev/" MQFUSE_NAME
#define MQFUSE_SYSFS_PATH	"/sys/fs/" MQFUSE_NAME

/*
 * sysfs, one directory per session (mount), named by session_id:
 *   MQFUSE_SYSFS_PATH/<session_id>/{id,dev,state,queues,balance,consistency,
 *       max_write,max_read,max_pages,readdir_size,max_background,minor,
 *       daemons,waiting,transport}
 *                      read-only, one value each; "dev" is major:minor of
 *                      the mount (st_dev), "state" is init|running|aborted
 *   MQFUSE_SYSFS_PATH/<session_id>/abort             write 1: abort
 *   MQFUSE_SYSFS_PATH/<session_id>/queue<N>/stats    "key value" lines:
 *       requests forgets bytes_in bytes_out wait_ns stolen interrupts errors
 *       pending in_daemon background max_background bg_waits
 *       (background: readahead/writeback requests not yet ended;
 *       max_background: this queue's share of the session's limit;
 *       bg_waits: submitters that had to wait for a slot)
 * The directory disappears at umount.
 */
#define MQFUSE_GENL_NAME	MQFUSE_NAME
#define MQFUSE_GENL_VERSION	1

/*
 * ioctls on an open /dev/mqfuse_vN file.
 *
 * MQFUSE_IOC_CLONE: attach this (fresh) fd to the session of the fd whose
 *   number is passed; afterwards both fds serve the same session.
 * MQFUSE_IOC_BIND_QUEUE: this fd reads requests from queue *arg only
 *   (0 <= q < queues; ~0U unbinds). With mount option balance=on an idle bound reader may
 *   still take work from other queues. An unbound fd reads every queue.
 * MQFUSE_IOC_GET_INFO: describe the session this fd serves.
 */
#define MQFUSE_IOC_MAGIC	0xB6

/* Session states reported in mqfuse_session_info.state and sysfs "state". */
#define MQFUSE_STATE_INIT	0	/* waiting for the daemon's INIT reply */
#define MQFUSE_STATE_RUNNING	1	/* serving requests */
#define MQFUSE_STATE_ABORTED	2	/* daemon gone or rejected; requests fail ENOTCONN */

struct mqfuse_session_info {
	__u64	session_id;	/* unique per loaded module, never reused */
	__u32	nr_queues;	/* queues=N in effect */
	__u32	max_pages;	/* negotiated pages per READ/WRITE request */
	__u32	readdir_size;	/* bytes per READDIR(PLUS) request */
	__u32	bound_queue;	/* queue this fd is bound to, or ~0U */
	__u32	max_write;	/* negotiated bytes per WRITE request */
	__u32	state;		/* MQFUSE_STATE_* */
	__u32	balance;	/* 1 if mounted with balance=on */
	__u32	consistency;	/* 0 strict, 1 cto, 2 cto-wb, 3 relaxed, 4 immutable */
	__u64	reserved[2];	/* zero */
};

/* statfs(2) f_type of an mqfuse mount ("mqfs"). */
#define MQFUSE_SUPER_MAGIC	0x6d716673

#define MQFUSE_IOC_CLONE	_IOR(MQFUSE_IOC_MAGIC, 0, __u32)
#define MQFUSE_IOC_BIND_QUEUE	_IOW(MQFUSE_IOC_MAGIC, 1, __u32)
#define MQFUSE_IOC_GET_INFO	_IOR(MQFUSE_IOC_MAGIC, 2, struct mqfuse_session_info)

/* Generic-netlink commands and attributes of family MQFUSE_GENL_NAME. */
enum {
	MQFUSE_CMD_UNSPEC,
	MQFUSE_CMD_GET_VERSION,	/* reply: GEN, VERSION */
	__MQFUSE_CMD_MAX,
};

enum {
	MQFUSE_ATTR_UNSPEC,
	MQFUSE_ATTR_GEN,	/* u32 */
	MQFUSE_ATTR_VERSION,	/* string, "x.y.z" */
	__MQFUSE_ATTR_MAX,
};
#define MQFUSE_ATTR_MAX		(__MQFUSE_ATTR_MAX - 1)

#endif /* _UAPI_MQFUSE_H */
