// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: notifications from the daemon (a write with unique 0, the code
 * in the error field): INVAL_INODE, INVAL_ENTRY, DELETE, POLL (ignored).
 * STORE and RETRIEVE are not supported (-EINVAL, like an unknown code).
 *
 * A notification runs in a daemon thread, which may be the only one able
 * to answer the requests in flight: nothing here may wait for a reply,
 * a page lock or page writeback.
 */
#include "mqfuse_i.h"
#include <linux/pagemap.h>
#include <linux/slab.h>

static int mqfuse_notify_inval_inode(struct mqfuse_conn *fc, struct iov_iter *from,
				     size_t size)
{
	struct fuse_notify_inval_inode_out out;
	struct inode *inode;
	int err = -ENOENT;

	if (size != sizeof(out))
		return -EINVAL;
	if (copy_from_iter(&out, sizeof(out), from) != sizeof(out))
		return -EFAULT;
	down_read(&fc->killsb);
	if (!fc->sb)
		goto out;
	inode = mqfuse_ilookup(fc->sb, out.ino);
	if (!inode)
		goto out;
	/*
	 * Like stock FUSE's reverse invalidation, also bump the inode's
	 * attr_version: a GETATTR or LOOKUP reply in flight carries
	 * attributes from before the change notified and must not be
	 * applied (mqfuse_attr_apply compares the versions).
	 */
	mqfuse_attr_outdated(inode);
	err = 0;
	if (out.off >= 0 && S_ISREG(inode->i_mode)) {
		struct address_space *mapping = inode->i_mapping;
		pgoff_t start = out.off >> PAGE_SHIFT;
		pgoff_t end = -1;

		if (out.len > 0 && out.len <= LLONG_MAX - out.off)
			end = (out.off + out.len - 1) >> PAGE_SHIFT;
		/*
		 * Never wait here: the daemon may send this from the thread
		 * that must answer the WRITE a locked or writeback page waits
		 * for. Unmap (takes no page lock), then drop what is clean
		 * and idle; locked, dirty and writeback pages stay: they hold
		 * this client's newer data or are being read right now.
		 */
		unmap_mapping_pages(mapping, start,
				    end == (pgoff_t)-1 ? 0 : end - start + 1, false);
		invalidate_mapping_pages(mapping, start, end);
		/*
		 * The daemon changed data: pages left above are stale too,
		 * the next open drops them whatever the attributes say.
		 */
		set_bit(MQFUSE_I_DATA_STALE, &MQFUSE_I(inode)->state);
	}
	mqfuse_iput_async(inode);	/* never evict in a daemon thread */
out:
	up_read(&fc->killsb);
	return err;
}

/* Read "name\0" of @namelen bytes following a notification header. */
static char *mqfuse_notify_name(struct iov_iter *from, size_t left, u32 namelen)
{
	char *name;

	if (namelen > MQFUSE_NAME_MAX || left != (size_t)namelen + 1)
		return ERR_PTR(-EINVAL);
	name = kmalloc(namelen + 1, GFP_KERNEL);
	if (!name)
		return ERR_PTR(-ENOMEM);
	if (copy_from_iter(name, namelen + 1, from) != namelen + 1) {
		kfree(name);
		return ERR_PTR(-EFAULT);
	}
	if (name[namelen] != '\0' || mqfuse_dirent_check(name, namelen)) {
		kfree(name);
		return ERR_PTR(-EINVAL);
	}
	return name;
}

static int mqfuse_notify_entry(struct mqfuse_conn *fc, u64 parent, u64 child,
			       u32 namelen, bool expire_only, struct iov_iter *from,
			       size_t left)
{
	struct qstr qname;
	char *name;
	int err;

	name = mqfuse_notify_name(from, left, namelen);
	if (IS_ERR(name))
		return PTR_ERR(name);
	qname = (struct qstr)QSTR_INIT(name, namelen);
	down_read(&fc->killsb);
	err = -ENOENT;
	if (fc->sb)
		err = mqfuse_reverse_inval_entry(fc, parent, child, &qname, expire_only);
	up_read(&fc->killsb);
	kfree(name);
	return err;
}

/*
 * The daemon says its store changed under us (a dataset replaced, a
 * restore): every name and attribute fetched before now is stale, in
 * every consistency mode, and with them the page cache, which the next
 * open checks against the fresh attributes (mqfuse_cto_revalidate_data).
 * O(1): nothing is walked, the epoch is compared where a name or the
 * attributes are used (mqfuse_dentry_expired(), mqfuse_attr_stale()).
 * Concurrent epochs: epoch_version only grows.
 */
static void mqfuse_notify_inc_epoch(struct mqfuse_conn *fc)
{
	s64 v = atomic64_inc_return(&fc->attr_version);
	s64 old = atomic64_read(&fc->epoch_version);

	while (old < v && !atomic64_try_cmpxchg(&fc->epoch_version, &old, v))
		;
}

int mqfuse_notify(struct mqfuse_conn *fc, int code, struct iov_iter *from, size_t size)
{
	switch (code) {
	case FUSE_NOTIFY_POLL:
		return 0;
	case FUSE_NOTIFY_INVAL_INODE:
		return mqfuse_notify_inval_inode(fc, from, size);
	case FUSE_NOTIFY_INVAL_ENTRY: {
		struct fuse_notify_inval_entry_out out;

		if (size < sizeof(out))
			return -EINVAL;
		if (copy_from_iter(&out, sizeof(out), from) != sizeof(out))
			return -EFAULT;
		return mqfuse_notify_entry(fc, out.parent, 0, out.namelen,
					   out.flags & FUSE_EXPIRE_ONLY, from,
					   size - sizeof(out));
	}
	case FUSE_NOTIFY_DELETE: {
		struct fuse_notify_delete_out out;

		if (size < sizeof(out))
			return -EINVAL;
		if (copy_from_iter(&out, sizeof(out), from) != sizeof(out))
			return -EFAULT;
		return mqfuse_notify_entry(fc, out.parent, out.child, out.namelen,
					   false, from, size - sizeof(out));
	}
	case MQFUSE_NOTIFY_INC_EPOCH:
		if (size)
			return -EINVAL;
		mqfuse_notify_inc_epoch(fc);
		return 0;
	}
	pr_warn_ratelimited("session %llu: unsupported notification %d\n", fc->id, code);
	return -EINVAL;
}
