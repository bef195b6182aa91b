// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: extended attributes, passed through to the daemon by one
 * catch-all handler (every namespace, the daemon decides).
 */
#include "mqfuse_i.h"
#include <linux/slab.h>
#include <linux/xattr.h>

static int mqfuse_getxattr(struct inode *inode, const char *name, void *value, size_t size)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct fuse_getxattr_in in = {};
	struct fuse_getxattr_out out = {};
	struct mqfuse_args args = {};
	ssize_t ret;

	if (mqfuse_is_bad(inode))
		return -EIO;
	if (READ_ONCE(fc->no_getxattr))
		return -EOPNOTSUPP;
	in.size = size;
	args.opcode = FUSE_GETXATTR;
	args.nodeid = mqfuse_nodeid(inode);
	args.in_numargs = 2;
	args.in_args[0].size = sizeof(in);
	args.in_args[0].value = &in;
	args.in_args[1].size = strlen(name) + 1;
	args.in_args[1].value = (void *)name;
	args.out_numargs = 1;
	if (size) {
		args.out_argvar = true;
		args.out_args[0].size = size;
		args.out_args[0].value = value;
	} else {
		args.out_args[0].size = sizeof(out);
		args.out_args[0].value = &out;
	}
	ret = mqfuse_simple_request(fc, &args);
	if (!ret && !size)
		ret = min_t(u32, out.size, XATTR_SIZE_MAX);
	if (ret == -ENOSYS) {
		WRITE_ONCE(fc->no_getxattr, true);
		ret = -EOPNOTSUPP;
	}
	return ret;
}

ssize_t mqfuse_listxattr(struct dentry *dentry, char *list, size_t size)
{
	struct inode *inode = d_inode(dentry);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct fuse_getxattr_in in = {};
	struct fuse_getxattr_out out = {};
	struct mqfuse_args args = {};
	ssize_t ret;

	if (mqfuse_is_bad(inode))
		return -EIO;
	if (!mqfuse_allow_current(fc))
		return -EACCES;
	if (READ_ONCE(fc->no_listxattr))
		return -EOPNOTSUPP;
	in.size = size;
	args.opcode = FUSE_LISTXATTR;
	args.nodeid = mqfuse_nodeid(inode);
	args.in_numargs = 1;
	args.in_args[0].size = sizeof(in);
	args.in_args[0].value = &in;
	args.out_numargs = 1;
	if (size) {
		args.out_argvar = true;
		args.out_args[0].size = size;
		args.out_args[0].value = list;
	} else {
		args.out_args[0].size = sizeof(out);
		args.out_args[0].value = &out;
	}
	ret = mqfuse_simple_request(fc, &args);
	if (!ret && !size)
		ret = min_t(u32, out.size, XATTR_LIST_MAX);
	if (ret > 0 && size) {
		/* a list is NUL-terminated names */
		if (list[ret - 1] != '\0') {
			mqfuse_bad_reply(fc, "LISTXATTR list not NUL terminated\n");
			ret = -EIO;
		}
	}
	if (ret == -ENOSYS) {
		WRITE_ONCE(fc->no_listxattr, true);
		ret = -EOPNOTSUPP;
	}
	return ret;
}

static int mqfuse_setxattr(struct inode *inode, const char *name, const void *value,
			   size_t size, int flags)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct fuse_setxattr_in in = {};
	struct mqfuse_args args = {};
	int err;

	if (mqfuse_is_bad(inode))
		return -EIO;
	if (READ_ONCE(fc->no_setxattr))
		return -EOPNOTSUPP;
	in.size = size;
	in.flags = flags;
	args.opcode = FUSE_SETXATTR;
	args.nodeid = mqfuse_nodeid(inode);
	args.in_numargs = 3;
	/* without FUSE_SETXATTR_EXT the daemon expects the 8-byte header */
	args.in_args[0].size = FUSE_COMPAT_SETXATTR_IN_SIZE;
	args.in_args[0].value = &in;
	args.in_args[1].size = strlen(name) + 1;
	args.in_args[1].value = (void *)name;
	args.in_args[2].size = size;
	args.in_args[2].value = (void *)value;
	err = mqfuse_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_setxattr, true);
		err = -EOPNOTSUPP;
	}
	if (!err)
		mqfuse_invalidate_attr(inode);	/* ctime */
	return err;
}

static int mqfuse_removexattr(struct inode *inode, const char *name)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_args args = {};
	int err;

	if (mqfuse_is_bad(inode))
		return -EIO;
	if (READ_ONCE(fc->no_removexattr))
		return -EOPNOTSUPP;
	args.opcode = FUSE_REMOVEXATTR;
	args.nodeid = mqfuse_nodeid(inode);
	args.in_numargs = 1;
	args.in_args[0].size = strlen(name) + 1;
	args.in_args[0].value = (void *)name;
	err = mqfuse_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_removexattr, true);
		err = -EOPNOTSUPP;
	}
	if (!err)
		mqfuse_invalidate_attr(inode);
	return err;
}

static int mqfuse_xattr_get(const struct xattr_handler *handler, struct dentry *dentry,
			    struct inode *inode, const char *name, void *value, size_t size)
{
	if (!mqfuse_allow_current(mqfuse_conn_of(inode)))
		return -EACCES;
	return mqfuse_getxattr(inode, name, value, size);
}

static int mqfuse_xattr_set(const struct xattr_handler *handler,
			    struct user_namespace *ns, struct dentry *dentry,
			    struct inode *inode, const char *name, const void *value,
			    size_t size, int flags)
{
	if (!mqfuse_allow_current(mqfuse_conn_of(inode)))
		return -EACCES;
	if (!value)
		return mqfuse_removexattr(inode, name);
	return mqfuse_setxattr(inode, name, value, size, flags);
}

static const struct xattr_handler mqfuse_xattr_handler = {
	.prefix	= "",
	.get	= mqfuse_xattr_get,
	.set	= mqfuse_xattr_set,
};

const struct xattr_handler *mqfuse_xattr_handlers[] = {
	&mqfuse_xattr_handler,
	NULL,
};
