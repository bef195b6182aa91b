// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: filesystem type, mount options (fs_context), session lifetime,
 * INIT negotiation, superblock operations, statfs.
 */
#include "mqfuse_i.h"
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/file.h>
#include <linux/pid_namespace.h>
#include <linux/random.h>
#include <linux/seq_file.h>
#include <linux/siphash.h>
#include <linux/slab.h>
#include <linux/statfs.h>
#include <linux/backing-dev.h>
#include <linux/blkdev.h>
#include <linux/user_namespace.h>

struct kmem_cache *mqfuse_inode_cachep;

static atomic64_t mqfuse_next_session_id = ATOMIC64_INIT(0);
/*
 * Sessions not yet freed. A session is freed by the release of its sysfs
 * kobject, which can run after the last umount and after the last
 * /dev/mqfuse_vN fd closed, i.e. when nothing pins the module any more
 * (CONFIG_DEBUG_KOBJECT_RELEASE delays every release by 1-4 s, and a
 * session's release waits for its queues' releases): module exit waits for
 * this to reach 0 so that no release runs in unloaded code, then for a
 * Tasks RCU grace period: a kworker woken out of a release's last
 * instructions (the returns after wake_up_var(), a queue's release after
 * its put) has left them once it has been scheduled voluntarily.
 */
static atomic_t mqfuse_live_conns = ATOMIC_INIT(0);

/* Key for scrambling lock owner pointers (one per module load). */
static siphash_key_t mqfuse_owner_key;

/* ---- session lifetime ---- */

void mqfuse_conn_get(struct mqfuse_conn *fc)
{
	refcount_inc(&fc->ref);
}
EXPORT_SYMBOL_GPL(mqfuse_conn_get);

/*
 * A reference on a session found on the session list (netlink), where its
 * memory is valid but its last reference may be on its way out.
 */
bool mqfuse_conn_tryget(struct mqfuse_conn *fc)
{
	return refcount_inc_not_zero(&fc->ref);
}
EXPORT_SYMBOL_GPL(mqfuse_conn_tryget);

/* Called by the sysfs kobject release once nobody can reach the session. */
void mqfuse_conn_free(struct mqfuse_conn *fc)
{
	mqfuse_recovery_free_conn(fc);
	mqfuse_queues_free(fc);
	if (fc->pid_ns)
		put_pid_ns(fc->pid_ns);
	if (fc->user_ns)
		put_user_ns(fc->user_ns);
	kfree(fc);
	if (atomic_dec_and_test(&mqfuse_live_conns))
		wake_up_var(&mqfuse_live_conns);
}

void mqfuse_conn_put(struct mqfuse_conn *fc)
{
	if (refcount_dec_and_test(&fc->ref)) {
		WARN_ON_ONCE(atomic_read(&fc->nr_reqs));
		mqfuse_sysfs_release_conn(fc);	/* ends in mqfuse_conn_free() */
	}
}
EXPORT_SYMBOL_GPL(mqfuse_conn_put);

/*
 * Fail every request, refuse new ones, wake every reader. Idempotent: only
 * the call that aborts sends @event (MQFUSE_EVENT_*, 0: none) to the
 * netlink listeners, with the state change. @orphan_timeout: only if the
 * session is still ORPHANED and its recovery deadline has passed (the
 * recovery timer: an attach or a new orphaning in between wins). Process
 * context. Returns true if this call aborted.
 */
static bool __mqfuse_conn_abort(struct mqfuse_conn *fc, const char *why, u32 event,
				bool orphan_timeout)
{
	/*
	 * The event goes before the requests fail, with the state change:
	 * their completions may abort again (a failed INIT does).
	 */
	mutex_lock(&fc->event_lock);
	spin_lock(&fc->lock);
	if (fc->state == MQFUSE_CONN_ABORTED ||
	    (orphan_timeout && (fc->state != MQFUSE_CONN_ORPHANED ||
				time_before(jiffies, fc->orphan_deadline)))) {
		spin_unlock(&fc->lock);
		mutex_unlock(&fc->event_lock);
		return false;
	}
	smp_store_release(&fc->state, MQFUSE_CONN_ABORTED);
	spin_unlock(&fc->lock);
	if (event)
		mqfuse_nl_event(fc, event);
	mutex_unlock(&fc->event_lock);
	pr_info_ratelimited("session %llu aborted: %s\n", fc->id, why);

	mqfuse_recovery_cancel(fc);
	mqfuse_queues_abort(fc);
	fc->tops->abort(fc);
	wake_up_all(&fc->init_waitq);
	return true;
}

/*
 * Every abort but umount's: the daemon closed its last fd or failed INIT,
 * an administrator wrote sysfs "abort" or sent netlink ABORT.
 */
void mqfuse_conn_abort(struct mqfuse_conn *fc, const char *why)
{
	__mqfuse_conn_abort(fc, why, MQFUSE_EVENT_ABORTED, false);
}
EXPORT_SYMBOL_GPL(mqfuse_conn_abort);

/* umount: listeners learn the end from UNMOUNTED (kill_sb), not ABORTED. */
void mqfuse_conn_abort_umount(struct mqfuse_conn *fc, const char *why)
{
	__mqfuse_conn_abort(fc, why, 0, false);
}

/* The recovery timer: abort if nobody attached in time. */
bool mqfuse_conn_abort_orphaned(struct mqfuse_conn *fc, const char *why)
{
	return __mqfuse_conn_abort(fc, why, MQFUSE_EVENT_ABORTED, true);
}

/*
 * The first process to read a request on an fd of the newest daemon is
 * that daemon: it replaces the mounter or attacher as daemon_tgid (see
 * struct mqfuse_conn). Called by readers until then.
 */
/*
 * A fd of the newest daemon generation went, others remain: if it was the
 * generation's last (an heir that attached and died before it served),
 * the newest generation still bound is the daemon again, and its next
 * reader is daemon_tgid.  Without this, no reader would ever match, and
 * every read would come here for the lock.
 */
void mqfuse_conn_daemon_gen_gone_locked(struct mqfuse_conn *fc)
{
	struct mqfuse_dev *d;
	u64 newest = 0;

	lockdep_assert_held(&fc->lock);
	list_for_each_entry(d, &fc->devs, entry) {
		if (d->daemon_gen == fc->daemon_gen)
			return;
		newest = max(newest, d->daemon_gen);
	}
	fc->daemon_gen = newest;
	WRITE_ONCE(fc->daemon_tgid_final, false);
}

void mqfuse_conn_note_daemon(struct mqfuse_conn *fc, const struct mqfuse_dev *dev)
{
	spin_lock(&fc->lock);
	if (!fc->daemon_tgid_final && dev->daemon_gen == fc->daemon_gen) {
		WRITE_ONCE(fc->daemon_tgid, task_tgid_nr(current));
		/* readers test it locklessly, as a hint */
		WRITE_ONCE(fc->daemon_tgid_final, true);
	}
	spin_unlock(&fc->lock);
}

static struct mqfuse_conn *mqfuse_conn_alloc(struct fs_context *fsc,
					     const struct mqfuse_mount_opts *opts)
{
	unsigned int nr = opts->nr_queues;
	struct mqfuse_conn *fc;

	fc = kzalloc(sizeof(*fc), GFP_KERNEL);
	if (!fc)
		return NULL;
	if (!nr)
		nr = mqfuse_param_queues;
	if (!nr)
		nr = min_t(unsigned int, nr_cpu_ids, MQFUSE_MAX_QUEUES);
	if (mqfuse_queues_init(fc, nr)) {
		kfree(fc);
		return NULL;
	}
	atomic_inc(&mqfuse_live_conns);	/* until mqfuse_conn_free() */
	refcount_set(&fc->ref, 1);
	fc->id = atomic64_inc_return(&mqfuse_next_session_id);
	spin_lock_init(&fc->lock);
	mutex_init(&fc->event_lock);
	INIT_LIST_HEAD(&fc->devs);
	fc->state = MQFUSE_CONN_INIT;
	fc->opts = *opts;
	fc->cons = mqfuse_cons_lookup(opts->consistency);
	fc->tops = &mqfuse_chardev_transport;
	fc->user_ns = get_user_ns(fsc->user_ns);
	fc->pid_ns = get_pid_ns(task_active_pid_ns(current));
	fc->mounter_uid = fsc->cred->euid;
	mqfuse_recovery_init_conn(fc);
	init_waitqueue_head(&fc->waitq);
	init_waitqueue_head(&fc->init_waitq);
	init_rwsem(&fc->killsb);
	mqfuse_iput_init(fc);
	/* Conservative until INIT says otherwise. */
	fc->minor = FUSE_KERNEL_MINOR_VERSION;
	fc->max_write = MQFUSE_MIN_MAX_WRITE;
	fc->max_read = MQFUSE_MIN_MAX_WRITE;
	fc->max_pages = 1;
	fc->readdir_size = mqfuse_param_readdir_size;
	mqfuse_sysfs_init_conn(fc);
	return fc;
}

u64 mqfuse_lock_owner_id(struct mqfuse_conn *fc, fl_owner_t owner)
{
	return siphash_1u64((u64)(unsigned long)owner, &mqfuse_owner_key);
}

bool mqfuse_allow_current(struct mqfuse_conn *fc)
{
	const struct cred *cred = current_cred();

	if (fc->opts.allow_other)
		return true;
	return uid_eq(cred->euid, fc->opts.user_id) &&
	       uid_eq(cred->suid, fc->opts.user_id) &&
	       uid_eq(cred->uid, fc->opts.user_id) &&
	       gid_eq(cred->egid, fc->opts.group_id) &&
	       gid_eq(cred->sgid, fc->opts.group_id) &&
	       gid_eq(cred->gid, fc->opts.group_id);
}

/* ---- INIT ---- */

struct mqfuse_init_args {
	struct mqfuse_args args;	/* request */
	struct fuse_init_in in;		/* what we offer */
	struct fuse_init_out out;	/* what the daemon grants */
};

static void mqfuse_init_reject(struct mqfuse_conn *fc, const char *why)
{
	pr_warn_ratelimited("session %llu: daemon rejected: %s\n", fc->id, why);
	mqfuse_conn_abort(fc, why);
}

static void mqfuse_init_reply(struct mqfuse_conn *fc, struct mqfuse_args *args, int error)
{
	struct mqfuse_init_args *ia = container_of(args, struct mqfuse_init_args, args);
	struct fuse_init_out *out = &ia->out;
	unsigned int max_pages, ra_pages;
	bool running;
	u64 flags;

	if (error) {
		mqfuse_init_reject(fc, error == -ENOTCONN ? "no INIT reply" : "INIT failed");
		goto out;
	}
	if (args->out_args[0].size < FUSE_COMPAT_22_INIT_OUT_SIZE) {
		mqfuse_init_reject(fc, "INIT reply too short");
		goto out;
	}
	if (out->major != FUSE_KERNEL_VERSION) {
		pr_warn_ratelimited("session %llu: daemon speaks protocol %u.%u, need 7.x\n",
				    fc->id, out->major, out->minor);
		mqfuse_init_reject(fc, "unsupported protocol major version");
		goto out;
	}
	if (out->minor < 12) {
		mqfuse_init_reject(fc, "protocol minor older than 7.12");
		goto out;
	}
	if (out->max_write < MQFUSE_MIN_MAX_WRITE) {
		pr_warn_ratelimited("session %llu: max_write %u below %u\n",
				    fc->id, out->max_write, MQFUSE_MIN_MAX_WRITE);
		mqfuse_init_reject(fc, "max_write too small");
		goto out;
	}

	flags = out->flags;
	if (flags & FUSE_INIT_EXT)
		flags |= (u64)out->flags2 << 32;
	flags &= (u64)ia->in.flags | ((u64)ia->in.flags2 << 32);

	max_pages = min_t(unsigned int, MQFUSE_DEFAULT_MAX_PAGES, mqfuse_param_max_pages);
	if ((flags & FUSE_MAX_PAGES) && out->max_pages)
		max_pages = min_t(unsigned int, out->max_pages,
				  min_t(unsigned int, MQFUSE_MAX_PAGES_LIMIT,
					mqfuse_param_max_pages));

	fc->minor = min_t(u32, out->minor, FUSE_KERNEL_MINOR_VERSION);
	fc->init_flags = flags;
	/* a transport that cannot carry more (fs/virtio.c: ring size) */
	if (fc->max_pages_limit && max_pages > fc->max_pages_limit)
		max_pages = fc->max_pages_limit;
	fc->max_pages = max_pages;
	fc->max_write = min_t(u32, out->max_write, max_pages << PAGE_SHIFT);
	fc->max_read = min_t(u32, fc->opts.max_read, max_pages << PAGE_SHIFT);
	fc->max_read = max_t(u32, fc->max_read, PAGE_SIZE);
	fc->async_read = flags & FUSE_ASYNC_READ;
	fc->posix_locks = flags & FUSE_POSIX_LOCKS;
	fc->flock_locks = flags & FUSE_FLOCK_LOCKS;
	fc->atomic_o_trunc = flags & FUSE_ATOMIC_O_TRUNC;
	fc->readdirplus = flags & FUSE_DO_READDIRPLUS;
	/* only offered with readdirplus=auto (mqfuse_send_init()) */
	fc->readdirplus_auto = fc->readdirplus && (flags & FUSE_READDIRPLUS_AUTO);
	fc->parallel_dirops = flags & FUSE_PARALLEL_DIROPS;
	fc->dont_mask = flags & FUSE_DONT_MASK;
	fc->async_dio = flags & FUSE_ASYNC_DIO;
	fc->handle_killpriv_v2 = flags & FUSE_HANDLE_KILLPRIV_V2;
	mqfuse_queues_set_max_background(fc, out->max_background);

	ra_pages = fc->max_read >> PAGE_SHIFT;
	if (out->max_readahead)
		ra_pages = min_t(unsigned int, ra_pages,
				 max_t(unsigned int, out->max_readahead >> PAGE_SHIFT, 1));
	down_read(&fc->killsb);
	if (fc->sb) {
		fc->sb->s_bdi->ra_pages = ra_pages;
		fc->sb->s_bdi->io_pages = max_pages;
		if (fc->minor >= 23 && out->time_gran && out->time_gran <= NSEC_PER_SEC)
			fc->sb->s_time_gran = out->time_gran;
	}
	up_read(&fc->killsb);

	/* a daemon thread, in process context (mqfuse_req_end()) */
	mutex_lock(&fc->event_lock);
	spin_lock(&fc->lock);
	running = fc->state == MQFUSE_CONN_INIT;
	if (running)
		/* pairs with READ_ONCE in mqfuse_conn_state(): fields above first */
		smp_store_release(&fc->state, MQFUSE_CONN_RUNNING);
	spin_unlock(&fc->lock);
	if (running)
		mqfuse_nl_event(fc, MQFUSE_EVENT_RUNNING);
	mutex_unlock(&fc->event_lock);
	wake_up_all(&fc->init_waitq);
out:
	kfree(ia);
}

void mqfuse_send_init(struct mqfuse_conn *fc)
{
	struct mqfuse_init_args *ia;
	u64 flags;

	ia = kzalloc(sizeof(*ia), GFP_KERNEL | __GFP_NOFAIL);
	flags = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS | FUSE_ATOMIC_O_TRUNC |
		FUSE_BIG_WRITES | FUSE_FLOCK_LOCKS |
		FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_NO_OPEN_SUPPORT |
		FUSE_NO_OPENDIR_SUPPORT | FUSE_INIT_EXT | FUSE_DONT_MASK |
		FUSE_ASYNC_DIO | FUSE_HANDLE_KILLPRIV_V2;
	/*
	 * readdirplus=auto offers FUSE_READDIRPLUS_AUTO too: a daemon that
	 * declines it asked for READDIRPLUS on every request, as FUSE does.
	 */
	if (fc->opts.readdirplus != MQFUSE_RDPLUS_NEVER)
		flags |= FUSE_DO_READDIRPLUS;
	if (fc->opts.readdirplus == MQFUSE_RDPLUS_AUTO)
		flags |= FUSE_READDIRPLUS_AUTO;
	ia->in.major = FUSE_KERNEL_VERSION;
	ia->in.minor = FUSE_KERNEL_MINOR_VERSION;
	ia->in.max_readahead = mqfuse_param_max_pages << PAGE_SHIFT;
	ia->in.flags = lower_32_bits(flags);
	ia->in.flags2 = upper_32_bits(flags);

	ia->args.opcode = FUSE_INIT;
	ia->args.force = true;
	ia->args.nocreds = true;
	mqfuse_args_in(&ia->args, 0, sizeof(ia->in), &ia->in);
	ia->args.out_argvar = true;
	mqfuse_args_out(&ia->args, 0, sizeof(ia->out), &ia->out);
	ia->args.end = mqfuse_init_reply;
	mqfuse_simple_background(fc, &ia->args, GFP_KERNEL | __GFP_NOFAIL);
}

/* ---- superblock operations ---- */

static void mqfuse_convert_statfs(struct kstatfs *st, const struct fuse_kstatfs *attr)
{
	st->f_type = MQFUSE_SUPER_MAGIC;
	st->f_bsize = attr->bsize;
	st->f_frsize = attr->frsize;
	st->f_blocks = attr->blocks;
	st->f_bfree = attr->bfree;
	st->f_bavail = attr->bavail;
	st->f_files = attr->files;
	st->f_ffree = attr->ffree;
	st->f_namelen = attr->namelen;
}

static int mqfuse_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct mqfuse_conn *fc = dentry->d_sb->s_fs_info;
	struct fuse_statfs_out out = {};
	struct mqfuse_args args = {};
	int err;

	if (!mqfuse_allow_current(fc)) {
		buf->f_type = MQFUSE_SUPER_MAGIC;
		return 0;
	}
	mqfuse_args_init(&args, FUSE_STATFS, mqfuse_nodeid(d_inode(dentry)));
	mqfuse_args_out(&args, 0, sizeof(out), &out);
	err = mqfuse_simple_request(fc, &args);
	if (!err)
		mqfuse_convert_statfs(buf, &out.st);
	return err;
}

/* Indexed by enum mqfuse_readdirplus (show_options prints .name). */
static const struct constant_table mqfuse_readdirplus_names[] = {
	{ "auto",	MQFUSE_RDPLUS_AUTO },
	{ "always",	MQFUSE_RDPLUS_ALWAYS },
	{ "never",	MQFUSE_RDPLUS_NEVER },
	{}
};

static int mqfuse_show_options(struct seq_file *m, struct dentry *root)
{
	struct mqfuse_conn *fc = root->d_sb->s_fs_info;
	const struct mqfuse_mount_opts *o = &fc->opts;

	seq_printf(m, ",user_id=%u", from_kuid_munged(fc->user_ns, o->user_id));
	seq_printf(m, ",group_id=%u", from_kgid_munged(fc->user_ns, o->group_id));
	if (o->default_permissions)
		seq_puts(m, ",default_permissions");
	if (o->allow_other)
		seq_puts(m, ",allow_other");
	if (o->max_read != ~0U)
		seq_printf(m, ",max_read=%u", o->max_read);
	if (o->blksize)
		seq_printf(m, ",blksize=%u", o->blksize);
	seq_printf(m, ",queues=%u", fc->nr_queues);
	if (o->virtqueues)
		seq_printf(m, ",virtqueues=%u", o->virtqueues);
	seq_printf(m, ",balance=%s", o->balance ? "on" : "off");
	seq_printf(m, ",consistency=%s", mqfuse_consistency_names[o->consistency]);
	if (READ_ONCE(o->recovery_s))
		seq_printf(m, ",recovery=%u", READ_ONCE(o->recovery_s));
	seq_printf(m, ",readdirplus=%s", mqfuse_readdirplus_names[o->readdirplus].name);
	return 0;
}

static const struct super_operations mqfuse_super_ops = {
	.alloc_inode	= mqfuse_alloc_inode,
	.free_inode	= mqfuse_free_inode,
	.evict_inode	= mqfuse_evict_inode,
	.drop_inode	= generic_delete_inode,
	.statfs		= mqfuse_statfs,
	.show_options	= mqfuse_show_options,
};

/* ---- mount options ---- */

enum {
	Opt_fd, Opt_rootmode, Opt_user_id, Opt_group_id, Opt_default_permissions,
	Opt_allow_other, Opt_max_read, Opt_blksize, Opt_queues, Opt_balance,
	Opt_consistency, Opt_subtype, Opt_recovery, Opt_readdirplus,
	Opt_virtqueues,
};

static const struct constant_table mqfuse_onoff[] = {
	{ "on",		1 },
	{ "off",	0 },
	{}
};

static const struct fs_parameter_spec mqfuse_fs_parameters[] = {
	fsparam_u32	("fd",			Opt_fd),
	fsparam_u32oct	("rootmode",		Opt_rootmode),
	fsparam_u32	("user_id",		Opt_user_id),
	fsparam_u32	("group_id",		Opt_group_id),
	fsparam_flag	("default_permissions",	Opt_default_permissions),
	fsparam_flag	("allow_other",		Opt_allow_other),
	fsparam_u32	("max_read",		Opt_max_read),
	fsparam_u32	("blksize",		Opt_blksize),
	fsparam_u32	("queues",		Opt_queues),
	fsparam_enum	("balance",		Opt_balance, mqfuse_onoff),
	fsparam_string	("consistency",		Opt_consistency),
	fsparam_string	("subtype",		Opt_subtype),
	fsparam_u32	("recovery",		Opt_recovery),
	fsparam_enum	("readdirplus",		Opt_readdirplus, mqfuse_readdirplus_names),
	fsparam_u32	("virtqueues",		Opt_virtqueues),
	{}
};

/* fs_context private: options plus the daemon's device file. */
struct mqfuse_fs_context {
	struct mqfuse_mount_opts opts;	/* parsed options */
	struct file *dev_file;		/* fd=N, held from get_tree until free */
	/* a virtio mount (fs/virtio.c): its ops and the device it got */
	const struct mqfuse_virtio_ops *vops;
	void *vdev;			/* held from get_tree until attached or free */
	bool virtqueues_present;	/* virtqueues= given */
	bool recovery_present;		/* recovery= given */
};

static int mqfuse_parse_param(struct fs_context *fsc, struct fs_parameter *param)
{
	struct mqfuse_fs_context *ctx = fsc->fs_private;
	struct mqfuse_mount_opts *o = &ctx->opts;
	struct fs_parse_result result;
	kuid_t uid;
	kgid_t gid;
	int opt, mode;

	if (fsc->purpose == FS_CONTEXT_FOR_RECONFIGURE)
		return invalfc(fsc, "remount is not supported");
	opt = fs_parse(fsc, mqfuse_fs_parameters, param, &result);
	if (opt < 0)
		return opt;

	switch (opt) {
	case Opt_fd:
		if (result.uint_32 > INT_MAX)
			return invalfc(fsc, "fd=%u: invalid", result.uint_32);
		o->fd = result.uint_32;
		o->fd_present = true;
		break;
	case Opt_rootmode:
		if (!mqfuse_valid_type(result.uint_32))
			return invalfc(fsc, "rootmode=%o: not a valid file type",
				       result.uint_32);
		o->rootmode = result.uint_32;
		o->rootmode_present = true;
		break;
	case Opt_user_id:
		uid = make_kuid(fsc->user_ns, result.uint_32);
		if (!uid_valid(uid))
			return invalfc(fsc, "user_id=%u: not mapped", result.uint_32);
		o->user_id = uid;
		o->user_id_present = true;
		break;
	case Opt_group_id:
		gid = make_kgid(fsc->user_ns, result.uint_32);
		if (!gid_valid(gid))
			return invalfc(fsc, "group_id=%u: not mapped", result.uint_32);
		o->group_id = gid;
		o->group_id_present = true;
		break;
	case Opt_default_permissions:
		o->default_permissions = true;
		break;
	case Opt_allow_other:
		o->allow_other = true;
		break;
	case Opt_max_read:
		if (!result.uint_32)
			return invalfc(fsc, "max_read=0: must be positive");
		o->max_read = result.uint_32;
		break;
	case Opt_blksize:
		if (result.uint_32 < 512 || result.uint_32 > PAGE_SIZE ||
		    !is_power_of_2(result.uint_32))
			return invalfc(fsc, "blksize=%u: need a power of 2 in [512, %lu]",
				       result.uint_32, PAGE_SIZE);
		o->blksize = result.uint_32;
		break;
	case Opt_queues:
		if (!result.uint_32 || result.uint_32 > MQFUSE_MAX_QUEUES)
			return invalfc(fsc, "queues=%u: need 1..%u", result.uint_32,
				       MQFUSE_MAX_QUEUES);
		o->nr_queues = result.uint_32;
		break;
	case Opt_balance:
		o->balance = result.uint_32;
		break;
	case Opt_consistency:
		mode = mqfuse_consistency_parse(param->string);
		if (mode < 0)
			return invalfc(fsc, "consistency=%s: unknown mode", param->string);
		if (!mqfuse_cons_lookup(mode))
			return invalfc(fsc, "consistency=%s: not supported yet",
				       param->string);
		o->consistency = mode;
		break;
	case Opt_subtype:
		/* informational only (mount helpers pass it) */
		break;
	case Opt_recovery:
		if (result.uint_32 > MQFUSE_RECOVERY_MAX)
			return invalfc(fsc, "recovery=%u: need 0..%u seconds", result.uint_32,
				       MQFUSE_RECOVERY_MAX);
		o->recovery_s = result.uint_32;
		ctx->recovery_present = true;
		break;
	case Opt_readdirplus:
		o->readdirplus = result.uint_32;
		break;
	case Opt_virtqueues:
		if (!result.uint_32 || result.uint_32 > MQFUSE_MAX_QUEUES)
			return invalfc(fsc, "virtqueues=%u: need 1..%u", result.uint_32,
				       MQFUSE_MAX_QUEUES);
		o->virtqueues = result.uint_32;
		ctx->virtqueues_present = true;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static int mqfuse_fill_super(struct super_block *sb, struct fs_context *fsc)
{
	struct mqfuse_fs_context *ctx = fsc->fs_private;
	struct mqfuse_conn *fc = sb->s_fs_info;
	struct fuse_attr root_attr = {};
	struct inode *root;
	int err;

	sb->s_magic = MQFUSE_SUPER_MAGIC;
	sb->s_op = &mqfuse_super_ops;
	sb->s_d_op = &mqfuse_dentry_ops;
	mqfuse_xattr_init_sb(sb);
	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_time_gran = 1;
	sb->s_blocksize = ctx->opts.blksize ? ctx->opts.blksize : PAGE_SIZE;
	sb->s_blocksize_bits = blksize_bits(sb->s_blocksize);

	/* named after the device, as stock FUSE's: /sys/class/bdi/MAJ:MIN */
	err = super_setup_bdi_name(sb, "%u:%u", MAJOR(sb->s_dev), MINOR(sb->s_dev));
	if (err)
		{ errorfc(fsc, "cannot set up backing device: %d", err); return err; }
	/*
	 * Dirty pages of this mount are written by the daemon, which needs
	 * memory (and dirties pages of its backing filesystem) to do it: this
	 * mount may hold at most MQFUSE_MAX_DIRTY_RATIO % of the dirty
	 * threshold, enforced even while the system is below it. Room for
	 * cto-wb's 8 MiB WRITEs on small machines; root can change it in
	 * /sys/class/bdi/<bdi>/max_ratio.
	 */
	sb->s_bdi->capabilities |= BDI_CAP_STRICTLIMIT;
	bdi_set_max_ratio(sb->s_bdi, MQFUSE_MAX_DIRTY_RATIO);
	/*
	 * A regular file's suid/sgid and security.capability are looked
	 * for at its first write only (S_NOSEC): refreshed attributes clear
	 * it (mqfuse_attr_apply()), so a change by another client counts
	 * from the next refresh on. Not in strict mode, which refreshes at
	 * no fixed point before a write.
	 */
	if (fc->cons->page_cache)
		sb->s_flags |= SB_NOSEC;

	root_attr.ino = FUSE_ROOT_ID;
	root_attr.mode = ctx->opts.rootmode;
	root_attr.nlink = 1;
	root = mqfuse_iget(sb, FUSE_ROOT_ID, 0, &root_attr, 0, 0, 0);
	if (IS_ERR(root))
		{ errorfc(fsc, "cannot allocate the root inode"); return -ENOMEM; }
	sb->s_root = d_make_root(root);
	if (!sb->s_root)
		return -ENOMEM;

	down_write(&fc->killsb);
	fc->sb = sb;
	fc->dev = sb->s_dev;
	up_write(&fc->killsb);
	/* until a reader replaces it: mqfuse_conn_note_daemon() */
	fc->daemon_tgid = task_tgid_nr(current);

	/* listed, then MOUNTED before an ABORT found on the list can send ABORTED */
	mutex_lock(&fc->event_lock);
	err = mqfuse_sysfs_add_conn(fc);
	if (!err)
		mqfuse_nl_event(fc, MQFUSE_EVENT_MOUNTED);	/* kill_sb sends UNMOUNTED */
	mutex_unlock(&fc->event_lock);
	if (err)
		{ errorfc(fsc, "cannot create the sysfs directory: %d", err); return err; }

	/* Last step that can fail: afterwards the daemon may see requests. */
	if (ctx->vops) {
		err = ctx->vops->attach(ctx->vdev, fc, fc->nr_queues);
		if (err)
			{ errorfc(fsc, "%s: the virtio device went away or is busy", fsc->source); return err; }
		ctx->vdev = NULL;	/* the session's now */
	} else {
		err = mqfuse_dev_bind_mount(ctx->dev_file, fc);
		if (err)
			{ errorfc(fsc, "fd=%d already serves a session", ctx->opts.fd); return err; }
	}

	mqfuse_send_init(fc);
	return 0;
}

/*
 * A virtio mount: the source is the device's tag; the device's guest
 * side is all there is (no daemon fd, no recovery: the back-end is the
 * host's), so the owner options default as for a system mount.
 */
static int mqfuse_virtio_get_tree(struct fs_context *fsc)
{
	struct mqfuse_fs_context *ctx = fsc->fs_private;
	struct mqfuse_mount_opts *o = &ctx->opts;
	unsigned int nr_vqs = 0, dflt = 0, want, max_pages = 0;
	struct mqfuse_conn *fc;
	void *dev;

	if (o->fd_present)
		return invalfc(fsc, "fd=: a virtio mount has no daemon fd");
	if (ctx->recovery_present && o->recovery_s)
		return invalfc(fsc, "recovery=: not on a virtio mount");
	o->recovery_s = 0;
	if (!fsc->source || !*fsc->source)
		return invalfc(fsc, "a virtio mount needs the device's tag as its source");
	if (!o->rootmode_present)
		o->rootmode = S_IFDIR;
	if (!o->user_id_present)
		o->user_id = GLOBAL_ROOT_UID;
	if (!o->group_id_present)
		o->group_id = GLOBAL_ROOT_GID;
	/* every user of the guest, the host's permissions checked here */
	o->default_permissions = true;
	o->allow_other = true;

	dev = ctx->vops->get(fsc->source, &nr_vqs, &dflt, &max_pages);
	if (IS_ERR(dev)) {
		errorfc(fsc, "%s: %s", fsc->source,
			PTR_ERR(dev) == -EBUSY ? "already mounted" :
			"no virtio-fs device with this tag");
		return PTR_ERR(dev);
	}
	ctx->vdev = dev;
	want = o->virtqueues ?: (o->nr_queues ?: dflt);
	if (!want || want > nr_vqs)
		want = nr_vqs;
	o->nr_queues = min_t(unsigned int, want, MQFUSE_MAX_QUEUES);
	o->virtqueues = o->nr_queues;

	fc = mqfuse_conn_alloc(fsc, o);
	if (!fc)
		return -ENOMEM;
	/* before fill_super publishes the session (sysfs transport) */
	fc->tops = ctx->vops->tops;
	fc->max_pages_limit = max_pages;
	fsc->s_fs_info = fc;
	return get_tree_nodev(fsc, mqfuse_fill_super);
}

static int mqfuse_get_tree(struct fs_context *fsc)
{
	struct mqfuse_fs_context *ctx = fsc->fs_private;
	struct mqfuse_mount_opts *o = &ctx->opts;
	struct mqfuse_conn *fc;
	struct file *file;

	if (ctx->vops)
		return mqfuse_virtio_get_tree(fsc);
	if (ctx->virtqueues_present)
		return invalfc(fsc, "virtqueues=: only on a virtio mount");

	if (!o->fd_present)
		return invalfc(fsc, "missing option fd=N");
	if (!o->rootmode_present)
		return invalfc(fsc, "missing option rootmode=M");
	if (!o->user_id_present)
		return invalfc(fsc, "missing option user_id=U");
	if (!o->group_id_present)
		return invalfc(fsc, "missing option group_id=G");

	/* option parsing and the parameter admit implemented modes only */
	if (WARN_ON_ONCE(!mqfuse_cons_lookup(o->consistency)))
		return -EINVAL;

	file = mqfuse_dev_fget(o->fd);
	if (IS_ERR(file))
		return invalfc(fsc, "fd=%d: not an open %s", o->fd, MQFUSE_DEV_PATH);
	if (READ_ONCE(file->private_data)) {
		fput(file);
		return invalfc(fsc, "fd=%d already serves a session", o->fd);
	}
	ctx->dev_file = file;

	fc = mqfuse_conn_alloc(fsc, o);
	if (!fc)
		return -ENOMEM;
	fsc->s_fs_info = fc;	/* moves to sb->s_fs_info in sget_fc() */
	return get_tree_nodev(fsc, mqfuse_fill_super);
}

static void mqfuse_free_fc(struct fs_context *fsc)
{
	struct mqfuse_fs_context *ctx = fsc->fs_private;

	if (fsc->s_fs_info)
		mqfuse_conn_put(fsc->s_fs_info);
	if (ctx) {
		if (ctx->dev_file)
			fput(ctx->dev_file);
		if (ctx->vdev)
			ctx->vops->put(ctx->vdev);
		kfree(ctx);
	}
}

static int mqfuse_reconfigure(struct fs_context *fsc)
{
	/* mount -o remount with only sb flags (ro/rw...) is fine */
	sync_filesystem(fsc->root->d_sb);
	return 0;
}

static const struct fs_context_operations mqfuse_context_ops = {
	.free		= mqfuse_free_fc,
	.parse_param	= mqfuse_parse_param,
	.get_tree	= mqfuse_get_tree,
	.reconfigure	= mqfuse_reconfigure,
};

static int mqfuse_init_fs_context(struct fs_context *fsc)
{
	struct mqfuse_fs_context *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->opts.max_read = ~0U;
	/* the parameter holds implemented modes only (mqfuse_set_consistency()) */
	ctx->opts.consistency = READ_ONCE(mqfuse_param_consistency);
	ctx->opts.recovery_s = READ_ONCE(mqfuse_param_recovery);
	fsc->fs_private = ctx;
	fsc->ops = &mqfuse_context_ops;
	return 0;
}

static void mqfuse_kill_sb(struct super_block *sb)
{
	struct mqfuse_conn *fc = sb->s_fs_info;
	bool listed = false;

	/*
	 * Off the session list before kill_anon_super() frees the anon dev:
	 * a concurrent mount may reuse the minor at once, and listings must
	 * not show one device for two sessions.
	 */
	if (fc) {
		/*
		 * No waiting for a daemon that may never come: an ORPHANED
		 * session aborts now (its dirty pages are lost, as on any
		 * abort), and one that loses its daemon from here on too.
		 */
		mqfuse_recovery_umount(fc);
		listed = mqfuse_sysfs_unlist_conn(fc);
		down_write(&fc->killsb);
		fc->sb = NULL;
		up_write(&fc->killsb);
		/* notifications are done with the sb: their deferred iputs now */
		mqfuse_iput_flush(fc);
	}
	kill_anon_super(sb);
	if (fc) {
		/*
		 * No ABORTED event for a umount: listeners learn the end
		 * from UNMOUNTED, sent only for a session they saw MOUNTED.
		 */
		mqfuse_conn_abort_umount(fc, "unmounted");
		if (fc->tops->detach) {
			fc->tops->detach(fc);
			/* the transport's module may go once the sb is gone */
			fc->tops = &mqfuse_detached_transport;
		}
		if (listed) {
			mutex_lock(&fc->event_lock);
			mqfuse_nl_event(fc, MQFUSE_EVENT_UNMOUNTED);
			mutex_unlock(&fc->event_lock);
		}
		mqfuse_sysfs_del_conn(fc);
		mqfuse_conn_put(fc);
	}
}

static struct file_system_type mqfuse_fs_type = {
	.owner			= THIS_MODULE,
	.name			= MQFUSE_NAME,
	.init_fs_context	= mqfuse_init_fs_context,
	.parameters		= mqfuse_fs_parameters,
	.kill_sb		= mqfuse_kill_sb,
};

/* The session of @sb if it is a mount of this generation, else NULL. */
struct mqfuse_conn *mqfuse_sb_conn(struct super_block *sb)
{
	/* not a virtio mount's: its daemon is its device (no ATTACH there) */
	return sb->s_type == &mqfuse_fs_type ? sb->s_fs_info : NULL;
}

static void mqfuse_detached_wake(struct mqfuse_queue *q)
{
}

static void mqfuse_detached_abort(struct mqfuse_conn *fc)
{
}

/* A session whose transport let go of it (kill_sb after tops->detach). */
const struct mqfuse_transport_ops mqfuse_detached_transport = {
	.name	= "detached",
	.wake	= mqfuse_detached_wake,
	.abort	= mqfuse_detached_abort,
};

/*
 * mqfuse_virtio_v<GEN>'s filesystem type (fs/virtio.c): the same
 * context with its device ops; the module owns the type, so it stays
 * loaded while mounted.
 */
int mqfuse_virtio_init_fs_context(struct fs_context *fsc,
				  const struct mqfuse_virtio_ops *vops)
{
	int err = mqfuse_init_fs_context(fsc);

	if (!err)
		((struct mqfuse_fs_context *)fsc->fs_private)->vops = vops;
	return err;
}
EXPORT_SYMBOL_GPL(mqfuse_virtio_init_fs_context);

void mqfuse_virtio_kill_sb(struct super_block *sb)
{
	mqfuse_kill_sb(sb);
}
EXPORT_SYMBOL_GPL(mqfuse_virtio_kill_sb);

static void mqfuse_inode_init_once(void *p)
{
	struct mqfuse_inode *mi = p;

	inode_init_once(&mi->vfs_inode);
}

int mqfuse_fs_init(void)
{
	int err;

	get_random_bytes(&mqfuse_owner_key, sizeof(mqfuse_owner_key));
	mqfuse_inode_cachep = kmem_cache_create("mqfuse_v" MQFUSE_STR(MQFUSE_GEN) "_inode",
						sizeof(struct mqfuse_inode), 0,
						SLAB_HWCACHE_ALIGN | SLAB_ACCOUNT |
						SLAB_RECLAIM_ACCOUNT,
						mqfuse_inode_init_once);
	if (!mqfuse_inode_cachep)
		return -ENOMEM;
	err = mqfuse_req_init_module();
	if (err)
		goto out_inode;
	err = register_filesystem(&mqfuse_fs_type);
	if (err)
		goto out_req;
	return 0;

out_req:
	mqfuse_req_exit_module();
out_inode:
	kmem_cache_destroy(mqfuse_inode_cachep);
	return err;
}

void mqfuse_fs_exit(void)
{
	unregister_filesystem(&mqfuse_fs_type);
	/* no session can start now; wait for the releases still to run */
	while (!wait_var_event_timeout(&mqfuse_live_conns, !atomic_read(&mqfuse_live_conns),
				       30 * HZ))
		pr_warn("unload: waiting for %d session(s) to be freed\n",
			atomic_read(&mqfuse_live_conns));
	/* and for their releasing kworkers to leave this module's code */
	synchronize_rcu_tasks();
	rcu_barrier();	/* inodes are freed by RCU */
	mqfuse_req_exit_module();
	kmem_cache_destroy(mqfuse_inode_cachep);
}
