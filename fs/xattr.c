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
 *
 * POSIX ACLs take two routes, chosen by feature probe: up to 6.1 their
 * names reach the catch-all handler like any other; since 6.2 the VFS
 * keeps them from the handlers and calls ->get_acl/->set_acl instead
 * (HAVE_SET_ACL_DENTRY_IDMAP, at the end of this file), which convert
 * between struct posix_acl and the xattr value and forward the same
 * GETXATTR/SETXATTR/REMOVEXATTR requests under the same rules.
 */
#include "mqfuse_i.h"
#include <linux/mm.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
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

static const struct xattr_handler *mqfuse_xattr_handlers[] = {
	&mqfuse_xattr_handler,
	NULL,
};

#ifdef HAVE_SET_ACL_DENTRY_IDMAP
/*
 * POSIX ACLs through inode operations (6.2+).
 *
 * The VFS refuses ACL names outright unless the superblock has
 * SB_POSIXACL, and then checks what it can itself before ->set_acl:
 * owner or CAP_FOWNER (the rule the backing store applies too, so only
 * where the EPERM comes from changes), no default ACL on a non-directory,
 * a well-formed ACL. mqfuse sets SB_POSIXACL exactly on the mounts that
 * forward ACLs (no default_permissions, see mqfuse_xattr_init_sb()), so a
 * default_permissions mount gets EOPNOTSUPP from the VFS as it does from
 * mqfuse_xattr_name_ok() on 6.1; the ops check again all the same.
 *
 * Nothing is cached. Without default_permissions the kernel never uses
 * an ACL itself (mqfuse_permission() does not call generic_permission()),
 * so a cache would only save getfacl a round trip, at the price of
 * invalidation nobody sends: the backing store, another client of it or
 * a chmod (which rewrites the ACL mask there) can change an ACL behind
 * our back. The VFS caches what ->get_acl returns unless the filesystem
 * forgets it during the call, which both getters do.
 */

/* An ACL reply that changed size under us this often is a daemon's game. */
#define MQFUSE_ACL_FETCH_TRIES	3

/* The rules of mqfuse_xattr_name_ok(), for an ACL type from the VFS. */
static const char *mqfuse_acl_name(struct inode *inode, int type, int *err)
{
	const char *name = posix_acl_xattr_name(type);

	if (!mqfuse_allow_current(mqfuse_conn_of(inode)))
		*err = -EACCES;
	else if (!mqfuse_xattr_is_acl(name))
		*err = -EOPNOTSUPP;
	else
		*err = mqfuse_xattr_name_ok(inode, name);
	return name;
}

/*
 * Read the ACL xattr into a buffer of the size the daemon reports (at
 * most XATTR_SIZE_MAX), again if it grew meanwhile. Returns its length
 * with *@bufp set, or -errno.
 */
static ssize_t mqfuse_acl_read(struct inode *inode, const char *name, void **bufp)
{
	int tries;

	for (tries = 0; tries < MQFUSE_ACL_FETCH_TRIES; tries++) {
		ssize_t size, ret;
		void *buf;

		size = mqfuse_getxattr(inode, name, NULL, 0);
		if (size <= 0)
			return size ?: -EIO;	/* an empty ACL value is garbage */
		buf = kvmalloc(size, GFP_KERNEL);
		if (!buf)
			return -ENOMEM;
		ret = mqfuse_getxattr(inode, name, buf, size);
		if (ret > 0) {
			*bufp = buf;
			return ret;
		}
		kvfree(buf);
		if (ret != -ERANGE)
			return ret ?: -EIO;
	}
	mqfuse_bad_reply(mqfuse_conn_of(inode), "GETXATTR %s: size keeps changing\n", name);
	return -EIO;
}

static struct posix_acl *mqfuse_acl_fetch(struct inode *inode, int type)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct posix_acl *acl;
	const char *name;
	void *buf = NULL;
	ssize_t size;
	int err;

	name = mqfuse_acl_name(inode, type, &err);
	if (err)
		return ERR_PTR(err);
	/* the VFS caches what we return unless we forget it now */
	forget_cached_acl(inode, type);
	size = mqfuse_acl_read(inode, name, &buf);
	if (size == -ENODATA)
		return NULL;
	if (size < 0)
		return ERR_PTR(size);
	/* checks the header, the entry tags and that every id maps */
	acl = posix_acl_from_xattr(fc->user_ns, buf, size);
	kvfree(buf);
	if (IS_ERR(acl)) {
		if (PTR_ERR(acl) == -ENOMEM)
			return acl;
		mqfuse_bad_reply(fc, "GETXATTR %s: malformed ACL (%ld)\n", name, PTR_ERR(acl));
		return ERR_PTR(-EIO);
	}
	/* and that the entries make an ACL: order, no duplicates, a mask */
	if (acl && posix_acl_valid(fc->user_ns, acl)) {
		posix_acl_release(acl);
		mqfuse_bad_reply(fc, "GETXATTR %s: invalid ACL\n", name);
		return ERR_PTR(-EIO);
	}
	return acl;
}

struct posix_acl *mqfuse_get_acl(struct mnt_idmap *idmap, struct dentry *dentry, int type)
{
	return mqfuse_acl_fetch(d_inode(dentry), type);
}

/*
 * For callers without a dentry (get_inode_acl(): the permission check
 * of generic_permission(), which mqfuse runs on no mount that forwards
 * ACLs, nfsd, posix_acl_create()). Without it the VFS would cache "no
 * ACL" for the inode on such a call and getfacl would then show none.
 */
struct posix_acl *mqfuse_get_inode_acl(struct inode *inode, int type, bool rcu)
{
	if (rcu)
		return ERR_PTR(-ECHILD);
	return mqfuse_acl_fetch(inode, type);
}

int mqfuse_set_acl(struct mnt_idmap *idmap, struct dentry *dentry,
		   struct posix_acl *acl, int type)
{
	struct inode *inode = d_inode(dentry);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	const char *name;
	size_t size;
	void *value;
	int err;

	name = mqfuse_acl_name(inode, type, &err);
	if (err)
		return err;
	if (!acl) {
		err = mqfuse_removexattr(inode, name);
	} else {
		size = posix_acl_xattr_size(acl->a_count);
		if (size > XATTR_SIZE_MAX)
			return -E2BIG;
		value = kvmalloc(size, GFP_KERNEL);
		if (!value)
			return -ENOMEM;
		/* the ids as the daemon sees them in every request header */
		err = posix_acl_to_xattr(fc->user_ns, acl, value, size);
		if (err >= 0)
			err = mqfuse_setxattr(inode, name, value, size, 0);
		kvfree(value);
	}
	forget_cached_acl(inode, type);
	/* an access ACL carries the group bits of the mode: refetch it */
	if (!err && type == ACL_TYPE_ACCESS)
		mqfuse_invalidate_attr(inode);
	return err;
}

#endif

/*
 * Called by fill_super. SB_POSIXACL goes on exactly the mounts that forward
 * ACLs (no default_permissions), and off the others even if mount(2) asked
 * for MS_POSIXACL: on 6.2+ the VFS needs it to send ACL names to the inode
 * operations above, and on every line it makes the VFS leave the umask to
 * the filesystem, so a default ACL of the parent can take its place (see
 * mqfuse_create_mode()). Up to 6.1 ACL names reach mqfuse_xattr_handler
 * either way; what else reads the flag there (get_acl() for overlayfs,
 * ksmbd or ecryptfs stacked on mqfuse) finds no ->get_acl and caches "no
 * ACL", the answer it got without the flag too. These mounts never call
 * generic_permission().
 */
void mqfuse_xattr_init_sb(struct super_block *sb)
{
	struct mqfuse_conn *fc = sb->s_fs_info;

	sb->s_xattr = mqfuse_xattr_handlers;
	if (!fc->opts.default_permissions)
		sb->s_flags |= SB_POSIXACL;
	else
		sb->s_flags &= ~SB_POSIXACL;
}
