// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: extended attributes, passed through to the daemon by one
 * catch-all handler.
 *
 * The VFS already applies the namespace rules it knows (user.* needs
 * write permission, trusted.* CAP_SYS_ADMIN, security.* the LSM). It
 * leaves system.* to the filesystem: with default_permissions the kernel
 * is the permission authority, so it enforces what ext4 does before the
 * daemon sees the request: only the owner (or CAP_FOWNER) sets or removes
 * a POSIX ACL. The daemon applies changes with the caller's credentials
 * on top of that.
 */
#include "mqfuse_i.h"
#include <linux/slab.h>
#include <linux/xattr.h>

/*
 * GETXATTR and LISTXATTR answer the same way: with @size 0 the size needed
 * (capped at @max), else up to @size bytes into @buf. A daemon's ENOSYS is
 * remembered in *@no_op and reported as EOPNOTSUPP.
 */
static ssize_t mqfuse_xattr_fetch(struct mqfuse_conn *fc, struct mqfuse_args *args,
				  struct fuse_getxattr_in *in, void *buf, size_t size,
				  size_t max, bool *no_op)
{
	struct fuse_getxattr_out out = {};
	ssize_t ret;

	in->size = size;
	if (size) {
		args->out_argvar = true;
		mqfuse_args_out(args, 0, size, buf);
	} else {
		mqfuse_args_out(args, 0, sizeof(out), &out);
	}
	ret = mqfuse_simple_request(fc, args);
	if (!ret && !size)
		ret = min_t(u32, out.size, max);
	if (ret == -ENOSYS) {
		WRITE_ONCE(*no_op, true);
		ret = -EOPNOTSUPP;
	}
	return ret;
}

static int mqfuse_getxattr(struct inode *inode, const char *name, void *value, size_t size)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct fuse_getxattr_in in = {};
	struct mqfuse_args args = {};

	if (mqfuse_is_bad(inode))
		return -EIO;
	if (READ_ONCE(fc->no_getxattr))
		return -EOPNOTSUPP;
	mqfuse_args_init(&args, FUSE_GETXATTR, mqfuse_nodeid(inode));
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	mqfuse_args_in(&args, 1, strlen(name) + 1, name);
	return mqfuse_xattr_fetch(fc, &args, &in, value, size, XATTR_SIZE_MAX,
				  &fc->no_getxattr);
}

ssize_t mqfuse_listxattr(struct dentry *dentry, char *list, size_t size)
{
	struct inode *inode = d_inode(dentry);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct fuse_getxattr_in in = {};
	struct mqfuse_args args = {};
	ssize_t ret;

	if (mqfuse_is_bad(inode))
		return -EIO;
	if (!mqfuse_allow_current(fc))
		return -EACCES;
	if (READ_ONCE(fc->no_listxattr))
		return -EOPNOTSUPP;
	mqfuse_args_init(&args, FUSE_LISTXATTR, mqfuse_nodeid(inode));
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	ret = mqfuse_xattr_fetch(fc, &args, &in, list, size, XATTR_LIST_MAX,
				 &fc->no_listxattr);
	/* a list is NUL-terminated names */
	if (ret > 0 && size && list[ret - 1] != '\0') {
		mqfuse_bad_reply(fc, "LISTXATTR list not NUL terminated\n");
		ret = -EIO;
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
	mqfuse_args_init(&args, FUSE_SETXATTR, mqfuse_nodeid(inode));
	/* without FUSE_SETXATTR_EXT the daemon expects the 8-byte header */
	mqfuse_args_in(&args, 0, FUSE_COMPAT_SETXATTR_IN_SIZE, &in);
	mqfuse_args_in(&args, 1, strlen(name) + 1, name);
	mqfuse_args_in(&args, 2, size, value);
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
	mqfuse_args_init(&args, FUSE_REMOVEXATTR, mqfuse_nodeid(inode));
	mqfuse_args_in(&args, 0, strlen(name) + 1, name);
	err = mqfuse_simple_request(fc, &args);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_removexattr, true);
		err = -EOPNOTSUPP;
	}
	if (!err)
		mqfuse_invalidate_attr(inode);
	return err;
}

static bool mqfuse_xattr_is_acl(const char *name)
{
	return !strcmp(name, XATTR_NAME_POSIX_ACL_ACCESS) ||
	       !strcmp(name, XATTR_NAME_POSIX_ACL_DEFAULT);
}

/*
 * Names the VFS leaves to the filesystem: it checks no permission at all
 * for system.*. The only system.* names mqfuse knows are the POSIX ACLs,
 * and it forwards them only when whoever checks permissions applies
 * them too: without default_permissions the daemon checks access on the
 * backing store as the caller, which applies the ACLs there. With
 * default_permissions the kernel checks the mode bits alone (no
 * FUSE_POSIX_ACL yet), so an ACL would be set but not applied, and its
 * mask would widen the group bits of the mode: refuse, like FUSE without
 * FUSE_POSIX_ACL.
 */
static int mqfuse_xattr_name_ok(struct inode *inode, const char *name)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);

	if (strncmp(name, XATTR_SYSTEM_PREFIX, XATTR_SYSTEM_PREFIX_LEN))
		return 0;
	if (!mqfuse_xattr_is_acl(name) || fc->opts.default_permissions)
		return -EOPNOTSUPP;
	return 0;
}

/* Kernel-side rules for names the VFS does not check itself. */
static int mqfuse_xattr_may_change(struct inode *inode, const char *name)
{
	/* the VFS checked this already; a second look costs nothing */
	if (!strncmp(name, XATTR_TRUSTED_PREFIX, XATTR_TRUSTED_PREFIX_LEN) &&
	    !capable(CAP_SYS_ADMIN))
		return -EPERM;
	return mqfuse_xattr_name_ok(inode, name);
}

static int mqfuse_xattr_get(const struct xattr_handler *handler, struct dentry *dentry,
			    struct inode *inode, const char *name, void *value, size_t size)
{
	int err;

	if (!mqfuse_allow_current(mqfuse_conn_of(inode)))
		return -EACCES;
	err = mqfuse_xattr_name_ok(inode, name);
	if (err)
		return err;
	return mqfuse_getxattr(inode, name, value, size);
}

static int mqfuse_xattr_set(const struct xattr_handler *handler,
			    struct mnt_idmap *idmap, struct dentry *dentry,
			    struct inode *inode, const char *name, const void *value,
			    size_t size, int flags)
{
	int err;

	if (!mqfuse_allow_current(mqfuse_conn_of(inode)))
		return -EACCES;
	err = mqfuse_xattr_may_change(inode, name);
	if (err)
		return err;
	if (!value)
		err = mqfuse_removexattr(inode, name);
	else
		err = mqfuse_setxattr(inode, name, value, size, flags);
	/* an access ACL carries the group bits of the mode: refetch it */
	if (!err && mqfuse_xattr_is_acl(name))
		mqfuse_invalidate_attr(inode);
	return err;
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
