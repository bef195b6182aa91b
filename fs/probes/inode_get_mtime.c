/* 6.7: atime and mtime accessors (the fields themselves go away). */
#include <linux/fs.h>
struct timespec64 probe(struct inode *inode);
struct timespec64 probe(struct inode *inode)
{
	inode_set_atime_to_ts(inode, inode_get_atime(inode));
	return inode_set_mtime_to_ts(inode, inode_get_mtime(inode));
}
