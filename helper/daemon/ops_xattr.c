// SPDX-License-Identifier: GPL-2.0
/*
 * Extended attributes: SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR.
 *
 * The f*xattr() calls reject O_PATH fds, so the path calls are used on
 * /proc/self/fd/N.  For a symlink that path would resolve to the link's
 * target, so symlinks report no attributes and refuse changes (user.*
 * xattrs are not allowed on symlinks anyway).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/xattr.h>
#include <linux/limits.h>

#define MQ_XATTR_TRUSTED	"trusted."
#define MQ_XATTR_SECURITY	"security."

#include "mqfused.h"

/* A name the backend may be asked about: 1..XATTR_NAME_MAX bytes. */
static int mq_xattr_name_check(const char *name)
{
	if (!name)
		return -EINVAL;
	if (strlen(name) > XATTR_NAME_MAX)
		return -ERANGE;
	return 0;
}

/*
 * trusted.* and security.* are changed only for uid 0, whatever the
 * backend would allow (security.* includes file capabilities and LSM
 * labels).  system.posix_acl_* and user.* are left to the backend, which
 * applies the owner rules because the thread runs as the caller without
 * capabilities (creds.c).
 */
static int mq_xattr_may_change(struct mq_req *req, const char *name)
{
	if (req->in->uid != 0 &&
	    (!strncmp(name, MQ_XATTR_TRUSTED, strlen(MQ_XATTR_TRUSTED)) ||
	     !strncmp(name, MQ_XATTR_SECURITY, strlen(MQ_XATTR_SECURITY))))
		return -EPERM;
	return 0;
}

/* Resolve the request's inode to a path usable by the xattr calls. */
static int mq_xattr_path(struct mq_req *req, char *path, size_t len,
			 struct mq_inode **out)
{
	struct mq_inode *inode = mq_inode_get(req->in->nodeid);

	if (!inode)
		return -ESTALE;
	if (S_ISLNK(inode->type)) {
		*out = inode;
		return 1;
	}
	mq_proc_path(path, len, inode->fd);
	*out = inode;
	return 0;
}

int mq_op_setxattr(struct mq_req *req)
{
	const struct fuse_setxattr_in *si = (const void *)req->arg;
	size_t next, off = FUSE_COMPAT_SETXATTR_IN_SIZE;
	const char *name = mq_req_name(req, off, &next);
	struct mq_inode *inode;
	char path[64];
	int ret;

	ret = mq_xattr_name_check(name);
	if (ret)
		return ret;
	if (req->arg_len - next < si->size)
		return -EINVAL;
	if (si->size > XATTR_SIZE_MAX)
		return -E2BIG;
	ret = mq_xattr_may_change(req, name);
	if (ret)
		return ret;
	ret = mq_xattr_path(req, path, sizeof(path), &inode);
	if (ret < 0)
		return ret;
	if (ret)
		ret = -EPERM;
	else if (setxattr(path, name, req->arg + next, si->size, si->flags))
		ret = -errno;
	mq_inode_put(inode);
	return ret;
}

int mq_op_getxattr(struct mq_req *req)
{
	const struct fuse_getxattr_in *gi = (const void *)req->arg;
	const char *name = mq_req_name(req, sizeof(*gi), NULL);
	struct fuse_getxattr_out *go = (void *)req->out;
	struct mq_inode *inode;
	size_t size = gi->size;
	char path[64];
	ssize_t n;
	int ret;

	ret = mq_xattr_name_check(name);
	if (ret)
		return ret;
	ret = mq_xattr_path(req, path, sizeof(path), &inode);
	if (ret < 0)
		return ret;
	if (size > req->out_max)
		size = req->out_max;
	if (ret)
		n = -ENODATA;
	else if ((n = getxattr(path, name, size ? req->out : NULL, size)) < 0)
		n = -errno;
	mq_inode_put(inode);
	if (n < 0 || size)
		return n;
	memset(go, 0, sizeof(*go));
	go->size = n;
	return sizeof(*go);
}

int mq_op_listxattr(struct mq_req *req)
{
	const struct fuse_getxattr_in *gi = (const void *)req->arg;
	struct fuse_getxattr_out *go = (void *)req->out;
	struct mq_inode *inode;
	size_t size = gi->size;
	char path[64];
	ssize_t n;
	int ret;

	ret = mq_xattr_path(req, path, sizeof(path), &inode);
	if (ret < 0)
		return ret;
	if (size > req->out_max)
		size = req->out_max;
	if (ret)
		n = 0;
	else if ((n = listxattr(path, size ? req->out : NULL, size)) < 0)
		n = -errno;
	mq_inode_put(inode);
	if (n < 0 || size)
		return n;
	memset(go, 0, sizeof(*go));
	go->size = n;
	return sizeof(*go);
}

int mq_op_removexattr(struct mq_req *req)
{
	const char *name = mq_req_name(req, 0, NULL);
	struct mq_inode *inode;
	char path[64];
	int ret;

	ret = mq_xattr_name_check(name);
	if (!ret)
		ret = mq_xattr_may_change(req, name);
	if (ret)
		return ret;
	ret = mq_xattr_path(req, path, sizeof(path), &inode);
	if (ret < 0)
		return ret;
	if (ret)
		ret = -EPERM;
	else if (removexattr(path, name))
		ret = -errno;
	mq_inode_put(inode);
	return ret;
}
