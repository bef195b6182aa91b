// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: directory entries — lookup and d_revalidate with the daemon's
 * entry TTLs, create/atomic open, mknod, mkdir, symlink, link, unlink,
 * rmdir, rename (RENAME2 flags), readlink, and reverse invalidation from
 * daemon notifications.
 *
 * Every entry reply is checked: non-zero nodeid that is not the root's,
 * sane attributes, and the file type the operation created. A reply that
 * fails the checks but named a node gives the lookup back (FORGET).
 */
#include "mqfuse_i.h"
#include <linux/jiffies.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/slab.h>

/*
 * d_time holds the jiffies64 deadline of a dentry, d_fsdata the
 * fc->attr_version read before the reply that set it was asked for
 * (compared with fc->epoch_version); 64-bit kernels only.
 */
static_assert(sizeof(unsigned long) == sizeof(u64));
static_assert(sizeof(void *) == sizeof(u64));

/*
 * Cache @dentry for the daemon's entry timeout, as the mount's mode
 * overrides it. @attr_version: fc->attr_version read before the request
 * whose reply this is; a FUSE_NOTIFY_INC_EPOCH after that read makes the
 * name stale (mqfuse_dentry_expired()).
 */
void mqfuse_dentry_set_ttl(struct dentry *dentry, u64 sec, u32 nsec, u64 attr_version)
{
	struct mqfuse_conn *fc = dentry->d_sb->s_fs_info;

	WRITE_ONCE(dentry->d_fsdata, (void *)(uintptr_t)attr_version);
	WRITE_ONCE(dentry->d_time, mqfuse_cons_timeout(fc, sec, nsec));
}

void mqfuse_invalidate_entry(struct dentry *dentry)
{
	WRITE_ONCE(dentry->d_time, 0);
}

/* Expired: past its deadline, or fetched before the daemon's last epoch. */
static bool mqfuse_dentry_expired(const struct dentry *dentry)
{
	struct mqfuse_conn *fc = dentry->d_sb->s_fs_info;

	return time_before_eq64((u64)READ_ONCE(dentry->d_time), get_jiffies_64()) ||
	       (u64)(uintptr_t)READ_ONCE(dentry->d_fsdata) <
	       (u64)atomic64_read(&fc->epoch_version);
}

/* Give back one lookup on @nodeid (a reply we could not use). */
static void mqfuse_forget_nodeid(struct mqfuse_conn *fc, u64 nodeid)
{
	struct mqfuse_forget *f;

	if (!nodeid || nodeid == FUSE_ROOT_ID)
		return;
	f = kzalloc(sizeof(*f), GFP_KERNEL | __GFP_NOFAIL);
	mqfuse_queue_forget(fc, f, nodeid, 1);
}

int mqfuse_entry_check(struct mqfuse_conn *fc, struct fuse_entry_out *e, bool may_be_root)
{
	if (!e->nodeid) {
		mqfuse_bad_reply(fc, "entry with nodeid 0\n");
		return -EIO;
	}
	if (e->nodeid == FUSE_ROOT_ID && !may_be_root) {
		mqfuse_bad_reply(fc, "new entry claims the root nodeid\n");
		return -EIO;
	}
	return mqfuse_attr_check(fc, &e->attr);
}

static void mqfuse_dir_changed(struct inode *dir)
{
	mqfuse_invalidate_attr(dir);
}

static int mqfuse_send_lookup(struct mqfuse_conn *fc, u64 parent, const struct qstr *name,
			      struct fuse_entry_out *out)
{
	struct mqfuse_args args = {};

	if (name->len > MQFUSE_NAME_MAX)
		return -ENAMETOOLONG;
	memset(out, 0, sizeof(*out));
	mqfuse_args_init(&args, FUSE_LOOKUP, parent);
	mqfuse_args_in(&args, 0, name->len + 1, name->name);
	mqfuse_args_out(&args, 0, sizeof(*out), out);
	return mqfuse_simple_request(fc, &args);
}

/*
 * LOOKUP @name in @dir. Returns 0 with *inode NULL for a negative entry
 * (nodeid 0 reply: negative entry cached for the TTL).
 */
static int mqfuse_lookup_name(struct inode *dir, const struct qstr *name,
			      struct fuse_entry_out *out, struct inode **inode,
			      u64 *versionp)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(dir);
	u64 attr_version = atomic64_read(&fc->attr_version);
	struct inode *in;
	int err;

	*inode = NULL;
	*versionp = attr_version;
	err = mqfuse_send_lookup(fc, mqfuse_nodeid(dir), name, out);
	if (err)
		return err;
	if (!out->nodeid)
		return 0;
	err = mqfuse_entry_check(fc, out, false);
	if (err) {
		mqfuse_forget_nodeid(fc, out->nodeid);
		return err;
	}
	in = mqfuse_iget(dir->i_sb, out->nodeid, out->generation, &out->attr,
			 out->attr_valid, out->attr_valid_nsec, attr_version);
	if (IS_ERR(in)) {
		mqfuse_forget_nodeid(fc, out->nodeid);
		return PTR_ERR(in);
	}
	*inode = in;
	return 0;
}

static struct dentry *mqfuse_lookup(struct inode *dir, struct dentry *entry,
				    unsigned int flags)
{
	struct fuse_entry_out out;
	struct inode *inode;
	struct dentry *newent;
	bool ttl_valid = true;
	u64 attr_version;
	int err;

	if (mqfuse_is_bad(dir))
		return ERR_PTR(-EIO);
	mqfuse_advise_readdirplus(dir);
	err = mqfuse_lookup_name(dir, &entry->d_name, &out, &inode, &attr_version);
	if (err == -ENOENT) {
		ttl_valid = false;
		err = 0;
	}
	if (err)
		return ERR_PTR(err);

	newent = d_splice_alias(inode, entry);
	if (IS_ERR(newent))
		return newent;
	if (ttl_valid)
		mqfuse_dentry_set_ttl(newent ? newent : entry, out.entry_valid,
				      out.entry_valid_nsec, attr_version);
	else
		mqfuse_invalidate_entry(newent ? newent : entry);
	return newent;
}

static int mqfuse_d_revalidate(struct dentry *entry, unsigned int flags)
{
	struct inode *inode = d_inode_rcu(entry);
	struct mqfuse_conn *fc;
	struct fuse_entry_out out;
	struct dentry *parent;
	struct mqfuse_inode *mi;
	u64 attr_version;
	int err;

	if (inode && mqfuse_is_bad(inode))
		return 0;
	/*
	 * An exclusive create (O_EXCL, mkdir, mknod, symlink, link) and a
	 * rename's target act on the name as the daemon sees it now: ask
	 * again even within the entry timeout, or a name another client of
	 * the store removed or renamed fails with EEXIST (and mv reports
	 * two names of one file as "the same file").
	 */
	if (!mqfuse_dentry_expired(entry) &&
	    !(flags & (LOOKUP_REVAL | LOOKUP_EXCL | LOOKUP_RENAME_TARGET)))
		return 1;
	if (!inode)
		return 0;	/* negative and stale: look it up again */
	if (flags & LOOKUP_RCU)
		return -ECHILD;

	fc = mqfuse_conn_of(inode);
	mi = MQFUSE_I(inode);
	attr_version = atomic64_read(&fc->attr_version);
	parent = dget_parent(entry);
	mqfuse_advise_readdirplus(d_inode(parent));
	err = mqfuse_send_lookup(fc, mqfuse_nodeid(d_inode(parent)), &entry->d_name, &out);
	dput(parent);
	/*
	 * A failure of our own side (a signal, memory, the daemon gone) says
	 * nothing about the name: fail this walk with it and keep the dentry.
	 * Any answer of the daemon, an error included, is about the name and
	 * invalidates it (the walk then looks it up afresh).
	 */
	if (err == -EINTR || err == -ENOMEM || err == -ENOTCONN)
		return err;
	if (err)
		return 0;
	if (out.nodeid != mi->nodeid || out.generation != mi->generation ||
	    mqfuse_entry_check(fc, &out, true) ||
	    ((out.attr.mode ^ inode->i_mode) & S_IFMT)) {
		mqfuse_forget_nodeid(fc, out.nodeid);
		return 0;
	}
	spin_lock(&mi->lock);
	mi->nlookup++;
	spin_unlock(&mi->lock);
	mqfuse_attr_apply(inode, &out.attr, out.attr_valid, out.attr_valid_nsec,
			  attr_version, 0);
	mqfuse_dentry_set_ttl(entry, out.entry_valid, out.entry_valid_nsec, attr_version);
	return 1;
}

static int mqfuse_d_delete(const struct dentry *dentry)
{
	return mqfuse_dentry_expired(dentry);
}

const struct dentry_operations mqfuse_dentry_ops = {
	.d_revalidate	= mqfuse_d_revalidate,
	.d_delete	= mqfuse_d_delete,
};

/* Common tail of MKNOD/MKDIR/SYMLINK/LINK: check the entry, bind the inode. */
static int mqfuse_create_new_entry(struct mqfuse_conn *fc, struct mqfuse_args *args,
				   struct inode *dir, struct dentry *entry, umode_t type)
{
	struct fuse_entry_out out = {};
	struct inode *inode;
	struct dentry *d;
	u64 attr_version;
	int err;

	if (mqfuse_is_bad(dir))
		return -EIO;
	args->nodeid = mqfuse_nodeid(dir);
	mqfuse_args_out(args, 0, sizeof(out), &out);
	attr_version = atomic64_read(&fc->attr_version);
	err = mqfuse_simple_request(fc, args);
	if (err)
		return err;
	err = mqfuse_entry_check(fc, &out, false);
	if (!err && (out.attr.mode & S_IFMT) != type) {
		mqfuse_bad_reply(fc, "created type %o, expected %o\n",
				 out.attr.mode & S_IFMT, type);
		err = -EIO;
	}
	if (err) {
		mqfuse_forget_nodeid(fc, out.nodeid);
		return err;
	}
	inode = mqfuse_iget(dir->i_sb, out.nodeid, out.generation, &out.attr,
			    out.attr_valid, out.attr_valid_nsec, attr_version);
	if (IS_ERR(inode)) {
		mqfuse_forget_nodeid(fc, out.nodeid);
		return PTR_ERR(inode);
	}
	d_drop(entry);
	d = d_splice_alias(inode, entry);
	if (IS_ERR(d))
		return PTR_ERR(d);
	if (d) {
		mqfuse_dentry_set_ttl(d, out.entry_valid, out.entry_valid_nsec, attr_version);
		dput(d);
	} else {
		mqfuse_dentry_set_ttl(entry, out.entry_valid, out.entry_valid_nsec,
				      attr_version);
	}
	mqfuse_dir_changed(dir);
	return 0;
}

static int mqfuse_mknod(struct mnt_idmap *idmap, struct inode *dir,
			struct dentry *entry, umode_t mode, dev_t rdev)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(dir);
	struct fuse_mknod_in in = {};
	struct mqfuse_args args = {};

	in.mode = mqfuse_create_mode(fc, mode);
	in.rdev = new_encode_dev(rdev);
	in.umask = current_umask();
	args.opcode = FUSE_MKNOD;
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	mqfuse_args_in(&args, 1, entry->d_name.len + 1, entry->d_name.name);
	return mqfuse_create_new_entry(fc, &args, dir, entry, mode & S_IFMT);
}

static int mqfuse_create(struct mnt_idmap *idmap, struct inode *dir,
			 struct dentry *entry, umode_t mode, bool excl)
{
	return mqfuse_mknod(idmap, dir, entry, mode | S_IFREG, 0);
}

static int mqfuse_mkdir(struct mnt_idmap *idmap, struct inode *dir,
			struct dentry *entry, umode_t mode)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(dir);
	struct fuse_mkdir_in in = {};
	struct mqfuse_args args = {};

	in.mode = mqfuse_create_mode(fc, mode);
	in.umask = current_umask();
	args.opcode = FUSE_MKDIR;
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	mqfuse_args_in(&args, 1, entry->d_name.len + 1, entry->d_name.name);
	return mqfuse_create_new_entry(fc, &args, dir, entry, S_IFDIR);
}

static int mqfuse_symlink(struct mnt_idmap *idmap, struct inode *dir,
			  struct dentry *entry, const char *link)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(dir);
	struct mqfuse_args args = {};
	size_t len = strlen(link) + 1;

	if (len > PAGE_SIZE)
		return -ENAMETOOLONG;
	args.opcode = FUSE_SYMLINK;
	mqfuse_args_in(&args, 0, entry->d_name.len + 1, entry->d_name.name);
	mqfuse_args_in(&args, 1, len, link);
	return mqfuse_create_new_entry(fc, &args, dir, entry, S_IFLNK);
}

static int mqfuse_link(struct dentry *old, struct inode *dir, struct dentry *entry)
{
	struct inode *inode = d_inode(old);
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct fuse_link_in in = {};
	struct mqfuse_args args = {};
	int err;

	in.oldnodeid = mqfuse_nodeid(inode);
	args.opcode = FUSE_LINK;
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	mqfuse_args_in(&args, 1, entry->d_name.len + 1, entry->d_name.name);
	err = mqfuse_create_new_entry(fc, &args, dir, entry, inode->i_mode & S_IFMT);
	if (err == -ENOSYS)
		err = -EPERM;
	mqfuse_invalidate_attr(inode);
	return err;
}

static int mqfuse_remove(struct inode *dir, struct dentry *entry, u32 opcode)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(dir);
	struct inode *inode = d_inode(entry);
	struct mqfuse_args args = {};
	int err;

	if (mqfuse_is_bad(dir))
		return -EIO;
	mqfuse_args_init(&args, opcode, mqfuse_nodeid(dir));
	mqfuse_args_in(&args, 0, entry->d_name.len + 1, entry->d_name.name);
	err = mqfuse_simple_request(fc, &args);
	if (err) {
		if (err == -EINTR)
			mqfuse_invalidate_entry(entry);
		return err;
	}
	spin_lock(&MQFUSE_I(inode)->lock);
	if (opcode == FUSE_RMDIR)
		clear_nlink(inode);
	else if (inode->i_nlink > 0)
		drop_nlink(inode);
	MQFUSE_I(inode)->attr_expire = 0;
	spin_unlock(&MQFUSE_I(inode)->lock);
	mqfuse_dir_changed(dir);
	mqfuse_invalidate_entry(entry);
	return 0;
}

static int mqfuse_unlink(struct inode *dir, struct dentry *entry)
{
	return mqfuse_remove(dir, entry, FUSE_UNLINK);
}

static int mqfuse_rmdir(struct inode *dir, struct dentry *entry)
{
	return mqfuse_remove(dir, entry, FUSE_RMDIR);
}

static int mqfuse_rename(struct mnt_idmap *idmap, struct inode *olddir,
			 struct dentry *oldent, struct inode *newdir,
			 struct dentry *newent, unsigned int flags)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(olddir);
	struct fuse_rename2_in in2 = {};
	struct fuse_rename_in in = {};
	struct mqfuse_args args = {};
	int err;

	if (mqfuse_is_bad(olddir) || mqfuse_is_bad(newdir))
		return -EIO;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (flags) {
		if (READ_ONCE(fc->no_rename2) || fc->minor < 23)
			return -EINVAL;
		in2.newdir = mqfuse_nodeid(newdir);
		in2.flags = flags;
		args.opcode = FUSE_RENAME2;
		mqfuse_args_in(&args, 0, sizeof(in2), &in2);
	} else {
		in.newdir = mqfuse_nodeid(newdir);
		args.opcode = FUSE_RENAME;
		mqfuse_args_in(&args, 0, sizeof(in), &in);
	}
	args.nodeid = mqfuse_nodeid(olddir);
	mqfuse_args_in(&args, 1, oldent->d_name.len + 1, oldent->d_name.name);
	mqfuse_args_in(&args, 2, newent->d_name.len + 1, newent->d_name.name);
	err = mqfuse_simple_request(fc, &args);
	if (err == -ENOSYS && flags) {
		WRITE_ONCE(fc->no_rename2, true);
		return -EINVAL;
	}
	if (err) {
		if (err == -EINTR) {
			mqfuse_invalidate_entry(oldent);
			if (d_really_is_positive(newent))
				mqfuse_invalidate_entry(newent);
		}
		return err;
	}
	mqfuse_invalidate_attr(d_inode(oldent));
	if (flags & RENAME_EXCHANGE) {
		mqfuse_invalidate_attr(d_inode(newent));
	} else if (d_really_is_positive(newent)) {
		struct inode *victim = d_inode(newent);

		spin_lock(&MQFUSE_I(victim)->lock);
		if (S_ISDIR(victim->i_mode))
			clear_nlink(victim);
		else if (victim->i_nlink > 0)
			drop_nlink(victim);
		MQFUSE_I(victim)->attr_expire = 0;
		spin_unlock(&MQFUSE_I(victim)->lock);
		mqfuse_invalidate_entry(newent);
	}
	mqfuse_dir_changed(olddir);
	if (olddir != newdir)
		mqfuse_dir_changed(newdir);
	return 0;
}

static int mqfuse_create_open(struct inode *dir, struct dentry *entry,
			      struct file *file, unsigned int flags, umode_t mode)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(dir);
	struct fuse_create_in in = {};
	struct fuse_entry_out outentry = {};
	struct fuse_open_out outopen = {};
	struct mqfuse_args args = {};
	struct mqfuse_file *ff;
	struct inode *inode;
	u64 attr_version;
	int err;

	ff = mqfuse_file_alloc(fc);
	if (!ff)
		return -ENOMEM;
	in.flags = mqfuse_cons_open_flags(fc, flags & ~O_NOCTTY);
	if (!fc->atomic_o_trunc)
		in.flags &= ~O_TRUNC;
	/* a CREATE without O_EXCL may open (and truncate) an existing file */
	if ((in.flags & O_TRUNC) && mqfuse_kill_suidgid_caller(fc))
		in.open_flags |= FUSE_OPEN_KILL_SUIDGID;
	in.mode = mqfuse_create_mode(fc, mode);
	in.umask = current_umask();
	mqfuse_args_init(&args, FUSE_CREATE, mqfuse_nodeid(dir));
	mqfuse_args_in(&args, 0, sizeof(in), &in);
	mqfuse_args_in(&args, 1, entry->d_name.len + 1, entry->d_name.name);
	mqfuse_args_out(&args, 0, sizeof(outentry), &outentry);
	mqfuse_args_out(&args, 1, sizeof(outopen), &outopen);
	args.release_flags = in.flags;	/* for a RELEASE if we are killed meanwhile */
	attr_version = atomic64_read(&fc->attr_version);
	err = mqfuse_simple_request(fc, &args);
	if (err) {
		mqfuse_file_free(ff);
		return err;
	}
	ff->fh = outopen.fh;
	ff->nodeid = outentry.nodeid;
	ff->open_flags = outopen.open_flags;
	ff->flags = in.flags;
	err = mqfuse_entry_check(fc, &outentry, false);
	if (!err && !S_ISREG(outentry.attr.mode)) {
		mqfuse_bad_reply(fc, "CREATE made type %o\n", outentry.attr.mode & S_IFMT);
		err = -EIO;
	}
	if (err)
		goto out_release;
	inode = mqfuse_iget(dir->i_sb, outentry.nodeid, outentry.generation,
			    &outentry.attr, outentry.attr_valid,
			    outentry.attr_valid_nsec, attr_version);
	if (IS_ERR(inode)) {
		err = PTR_ERR(inode);
		goto out_release;
	}
	d_instantiate(entry, inode);
	mqfuse_dentry_set_ttl(entry, outentry.entry_valid, outentry.entry_valid_nsec,
			      attr_version);
	mqfuse_dir_changed(dir);
	/* a RELEASE after a failed finish_open() also precedes the FORGET */
	ff->nref = mqfuse_node_ref_get(inode);
	err = finish_open(file, entry, generic_file_open);
	if (err) {
		mqfuse_file_put(ff);
		return err;
	}
	mqfuse_finish_open(inode, file, ff);
	return 0;

out_release:
	/* the FORGET of the refused node goes out after RELEASE of its handle */
	ff->nref = mqfuse_node_ref_orphan(fc, outentry.nodeid, 1,
					   GFP_KERNEL | __GFP_NOFAIL);
	mqfuse_file_put(ff);	/* sends RELEASE for the daemon's handle */
	return err;
}

static int mqfuse_atomic_open(struct inode *dir, struct dentry *entry,
			      struct file *file, unsigned int flags, umode_t mode)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(dir);
	struct dentry *res = NULL;
	int err;

	if (mqfuse_is_bad(dir))
		return -EIO;
	if (d_in_lookup(entry)) {
		res = mqfuse_lookup(dir, entry, 0);
		if (IS_ERR(res))
			return PTR_ERR(res);
		if (res)
			entry = res;
	}
	if (!(flags & O_CREAT) || d_really_is_positive(entry))
		goto no_open;

	/* Only creation from here on. */
	file->f_mode |= FMODE_CREATED;
	if (READ_ONCE(fc->no_create))
		goto mknod;
	err = mqfuse_create_open(dir, entry, file, flags, mode);
	if (err == -ENOSYS) {
		WRITE_ONCE(fc->no_create, true);
		goto mknod;
	}
	dput(res);
	return err;

mknod:
	err = mqfuse_mknod(&nop_mnt_idmap, dir, entry, mode, 0);
	if (err) {
		dput(res);
		return err;
	}
no_open:
	return finish_no_open(file, res);
}

static const char *mqfuse_get_link(struct dentry *dentry, struct inode *inode,
				   struct delayed_call *callback)
{
	struct mqfuse_conn *fc = mqfuse_conn_of(inode);
	struct mqfuse_args args = {};
	ssize_t len;
	char *buf;

	if (!dentry)
		return ERR_PTR(-ECHILD);
	if (mqfuse_is_bad(inode))
		return ERR_PTR(-EIO);
	buf = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	mqfuse_args_init(&args, FUSE_READLINK, mqfuse_nodeid(inode));
	args.out_argvar = true;
	mqfuse_args_out(&args, 0, PAGE_SIZE - 1, buf);
	len = mqfuse_simple_request(fc, &args);
	if (len < 0) {
		kfree(buf);
		return ERR_PTR(len);
	}
	buf[len] = '\0';
	if (strlen(buf) != len || !len) {
		mqfuse_bad_reply(fc, "READLINK: empty target or embedded NUL\n");
		kfree(buf);
		return ERR_PTR(-EIO);
	}
	set_delayed_call(callback, kfree_link, buf);
	return buf;
}

/*
 * Daemon notification: forget what we cached about @name in @parent_nodeid
 * (FUSE_NOTIFY_INVAL_ENTRY), or that @child_nodeid was deleted
 * (FUSE_NOTIFY_DELETE). Caller holds fc->killsb for read and fc->sb != NULL.
 */
/*
 * Without the parent's lock (a client holds it, possibly waiting for the
 * very daemon thread that sent this): no d_invalidate(), only what needs
 * no lock and is still correct. The entry and the child's attributes
 * expire, so the next walk or stat asks the daemon (d_revalidate drops
 * the entry if the daemon no longer has it).
 */
static void mqfuse_expire_entry(struct dentry *entry, u64 child_nodeid)
{
	struct inode *inode = d_inode(entry);

	if (child_nodeid && inode && mqfuse_nodeid(inode) == child_nodeid)
		mqfuse_invalidate_attr(inode);
	mqfuse_invalidate_entry(entry);
}

/*
 * dput() of @entry in a daemon thread. An unhashed or expired entry dies
 * at its last dput (mqfuse_d_delete) and drops its inode, whose eviction
 * may wait on pages locked for READs only this thread can answer: hold
 * the inode across the dput and hand the put to the worker. Its death
 * also drops its parent, normally one the caller holds a reference on;
 * without the parent's lock a rename may have moved @entry first, and
 * then the dput chain of its new ancestors runs here: directories only,
 * whose eviction queues a FORGET and waits for nothing.
 */
static void mqfuse_dput_async(struct dentry *entry)
{
	struct inode *inode = d_inode(entry);	/* stable: we hold @entry */

	if (inode)
		ihold(inode);
	dput(entry);
	if (inode)
		mqfuse_iput_async(inode);
}

/*
 * A dput(), or a d_invalidate() and dput(), deferred from a daemon thread
 * to the iput worker (fc->dput_list).
 */
struct mqfuse_deferred_dput {
	struct llist_node node;		/* in fc->dput_list */
	struct dentry *dentry;		/* the reference the worker drops */
	bool invalidate;		/* d_invalidate() @dentry first */
};

/*
 * Hand @dd, holding a reference on @dentry (the caller's), to the worker.
 * Callers run in a daemon thread, under fc->killsb held for read with
 * fc->sb set: umount clears fc->sb under killsb held for write, then
 * flushes the worker (mqfuse_iput_flush()), so no deferred dput outlives
 * the superblock.
 */
static void mqfuse_dput_defer(struct mqfuse_conn *fc, struct mqfuse_deferred_dput *dd,
			      struct dentry *dentry, bool invalidate)
{
	lockdep_assert_held_read(&fc->killsb);
	dd->dentry = dentry;
	dd->invalidate = invalidate;
	if (llist_add(&dd->node, &fc->dput_list))
		queue_work(system_unbound_wq, &fc->iput_work);
}

/*
 * d_invalidate() of a directory prunes its unused children
 * (shrink_dcache_parent()) and may evict them; of a mount point it
 * detaches mounts, whose last dput() may evict too. A daemon thread must
 * not (see mqfuse_dput_async()): queue it for the iput worker.
 * If nothing can be queued, @entry is expired already, so the next walk
 * asks the daemon either way.
 */
static void mqfuse_dinval_queue(struct mqfuse_conn *fc, struct dentry *entry)
{
	struct mqfuse_deferred_dput *dd;

	/*
	 * A daemon repeating notifications while the worker is held up must
	 * not grow the list (and the dentry's count) without bound.
	 */
	if (atomic_inc_return(&fc->dinval_pending) > MQFUSE_DINVAL_MAX)
		goto full;
	dd = kmalloc(sizeof(*dd), GFP_NOFS | __GFP_NOWARN | __GFP_ACCOUNT);
	if (dd) {
		mqfuse_dput_defer(fc, dd, dget(entry), true);
		return;
	}
full:
	atomic_dec(&fc->dinval_pending);
}

/*
 * The iput worker: the deferred d_invalidate()s, under each parent's lock,
 * and dput()s. llist_del_all() gives the newest first, so a parent's put
 * may come before its child's d_invalidate(): harmless, the child holds
 * its parent through d_parent.
 */
void mqfuse_dput_run(struct mqfuse_conn *fc)
{
	struct mqfuse_deferred_dput *dd, *next;
	struct llist_node *list;

	list = llist_del_all(&fc->dput_list);
	llist_for_each_entry_safe(dd, next, list, node) {
		if (dd->invalidate) {
			struct dentry *parent = dget_parent(dd->dentry);

			inode_lock_nested(d_inode(parent), I_MUTEX_PARENT);
			if (dd->dentry->d_parent == parent)	/* else renamed since */
				d_invalidate(dd->dentry);
			inode_unlock(d_inode(parent));
			dput(parent);
			atomic_dec(&fc->dinval_pending);
		}
		dput(dd->dentry);
		kfree(dd);
	}
}

/*
 * NOTIFY_INVAL_ENTRY (@expire_only: FUSE_EXPIRE_ONLY) and NOTIFY_DELETE
 * (@child_nodeid != 0). Runs in a daemon thread, so it never waits for
 * the parent's inode lock: a client holding it (CREATE, MKDIR, UNLINK in
 * that directory) may be waiting for this thread. If the lock is busy the
 * entry is expired instead (mqfuse_expire_entry) and 0 is returned;
 * -ENOENT: no such cached parent or entry, or DELETE named another child.
 * -ENOMEM: nothing was done.
 *
 * Nor does it drop the last reference of a dentry but through the worker:
 * the parent's dentry, expired and unused but for us, would die at our
 * dput and drop its reference on its own parent, and so on up, evicting
 * here every ancestor only its dentry kept (FORGET; eviction may wait for
 * the daemon). The child goes through mqfuse_dput_async(): its death
 * drops a reference on the parent, which we still hold; the parent's
 * dput goes to the worker, last.
 */
int mqfuse_reverse_inval_entry(struct mqfuse_conn *fc, u64 parent_nodeid,
			       u64 child_nodeid, struct qstr *name, bool expire_only)
{
	struct mqfuse_deferred_dput *parent_put;
	struct inode *dir;
	struct dentry *dirent, *entry;
	bool locked;
	int err = -ENOENT;

	/* before the parent's dentry is taken: its reference must be deferrable */
	parent_put = kmalloc(sizeof(*parent_put), GFP_NOFS | __GFP_NOWARN | __GFP_ACCOUNT);
	if (!parent_put)
		return -ENOMEM;
	dir = mqfuse_ilookup(fc->sb, parent_nodeid);
	if (!dir) {
		kfree(parent_put);
		return -ENOENT;
	}
	locked = inode_trylock(dir);
	mqfuse_dir_changed(dir);
	dirent = d_find_alias(dir);
	if (!dirent)
		goto unlock;
	name->hash = full_name_hash(dirent, name->name, name->len);
	entry = d_lookup(dirent, name);
	if (!entry)
		goto put_parent;
	err = 0;
	if (expire_only) {
		mqfuse_invalidate_entry(entry);
		mqfuse_dput_async(entry);
		goto put_parent;
	}
	if (!locked) {
		struct inode *inode = d_inode(entry);

		if (child_nodeid && (!inode || mqfuse_nodeid(inode) != child_nodeid))
			err = -ENOENT;
		mqfuse_expire_entry(entry, child_nodeid);
		mqfuse_dput_async(entry);
		goto put_parent;
	}
	if (child_nodeid) {
		struct inode *inode = d_inode(entry);

		if (!inode || mqfuse_nodeid(inode) != child_nodeid) {
			err = -ENOENT;
		} else {
			spin_lock(&MQFUSE_I(inode)->lock);
			if (S_ISDIR(inode->i_mode))
				clear_nlink(inode);
			else if (inode->i_nlink > 0)
				drop_nlink(inode);
			MQFUSE_I(inode)->attr_expire = 0;
			spin_unlock(&MQFUSE_I(inode)->lock);
		}
	}
	mqfuse_invalidate_entry(entry);
	if (!d_is_dir(entry) && !d_mountpoint(entry))
		d_invalidate(entry);	/* only unhashes: no children, no mounts */
	else
		mqfuse_dinval_queue(fc, entry);
	mqfuse_dput_async(entry);
put_parent:
	/*
	 * Only a last put is deferred: one pending item per dentry at most
	 * (the item's own reference makes later puts not the last).
	 */
	if (!lockref_put_not_zero(&dirent->d_lockref)) {
		mqfuse_dput_defer(fc, parent_put, dirent, false);
		parent_put = NULL;
	}
unlock:
	if (locked)
		inode_unlock(dir);
	mqfuse_iput_async(dir);
	kfree(parent_put);
	return err;
}

const struct inode_operations mqfuse_dir_iops = {
	.lookup		= mqfuse_lookup,
	.create		= mqfuse_create,
	.atomic_open	= mqfuse_atomic_open,
	.mknod		= mqfuse_mknod,
	.mkdir		= mqfuse_mkdir,
	.symlink	= mqfuse_symlink,
	.link		= mqfuse_link,
	.unlink		= mqfuse_unlink,
	.rmdir		= mqfuse_rmdir,
	.rename		= mqfuse_rename,
	.setattr	= mqfuse_setattr,
	.getattr	= mqfuse_getattr,
	.permission	= mqfuse_permission,
	.listxattr	= mqfuse_listxattr,
	MQFUSE_ACL_IOPS
};

const struct inode_operations mqfuse_symlink_iops = {
	.get_link	= mqfuse_get_link,
	.setattr	= mqfuse_setattr,
	.getattr	= mqfuse_getattr,
	.listxattr	= mqfuse_listxattr,
};
