/* 6.3: inode, file and xattr operations take a struct mnt_idmap. */
#include <linux/fs.h>
static int probe_permission(struct mnt_idmap *idmap, struct inode *inode, int mask)
{
	return 0;
}
const struct inode_operations probe_iops = { .permission = probe_permission };
