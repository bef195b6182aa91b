/*
 * 6.3 (6.2 with a user_namespace): POSIX ACL xattrs go through
 * ->get_acl/->set_acl, which take a dentry, instead of the xattr handlers.
 */
#include <linux/fs.h>
#include <linux/posix_acl.h>
static int probe_set_acl(struct mnt_idmap *idmap, struct dentry *dentry,
			 struct posix_acl *acl, int type)
{
	return 0;
}
const struct inode_operations probe_iops = { .set_acl = probe_set_acl };
