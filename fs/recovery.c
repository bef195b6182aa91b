// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: crash recovery and daemon hot upgrade (mount option recovery=).
 *
 * A session with recovery=SECONDS outlives its daemon. When a device fd
 * goes away, what it read and did not answer goes back to the front of
 * the queues for replay (mqfuse_queues_requeue()); when it was the last
 * one, the session becomes ORPHANED instead of ABORTED: requests keep
 * queueing, their waiters stay killable, and recovery_work aborts the
 * session if no daemon attaches within SECONDS. MQFUSE_IOC_ATTACH binds a
 * fresh fd to the session (by id or through a file of the mount), in
 * RUNNING (hot upgrade) or ORPHANED (restart) state. The session can also
 * keep one file for its daemon (MQFUSE_IOC_STORE_FD/FETCH_FD).
 *
 * State transitions (all under fc->lock):
 *   RUNNING  -> ORPHANED  last device fd released, recovery=N > 0, not
 *                         unmounting (mqfuse_recovery_orphan_locked())
 *   ORPHANED -> RUNNING   MQFUSE_IOC_ATTACH (mqfuse_dev_attach())
 *   ORPHANED -> ABORTED   recovery_work past the deadline, umount, sysfs
 *                         or netlink abort
 * A session still in INIT when its last fd goes is aborted as without
 * recovery: there is no negotiated state to hand to a successor.
 *
 * See Documentation/recovery.rst for the guarantees and the replay rule.
 */
#include "mqfuse_i.h"
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/file.h>
#include <linux/jiffies.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <linux/uaccess.h>

static void mqfuse_recovery_timeout(struct work_struct *work)
{
	struct mqfuse_conn *fc = container_of(to_delayed_work(work), struct mqfuse_conn,
					      recovery_work);

	unsigned long left = 0;
	bool rearm;

	if (mqfuse_conn_abort_orphaned(fc, "no daemon attached within recovery=")) {
		pr_warn_ratelimited("session %llu: no daemon attached in time (recovery=%u)\n",
				    fc->id, READ_ONCE(fc->opts.recovery_s));
		goto out;
	}
	/*
	 * Not aborted: a daemon attached, or the session was orphaned again
	 * after this work was queued, with a later deadline. Then wait for
	 * that one (mqfuse_recovery_orphaned() has normally re-timed this
	 * work already; this covers the work firing before it could).
	 */
	spin_lock(&fc->lock);
	rearm = fc->state == MQFUSE_CONN_ORPHANED;
	if (rearm && time_before(jiffies, fc->orphan_deadline))
		left = fc->orphan_deadline - jiffies;
	spin_unlock(&fc->lock);
	if (rearm) {
		mqfuse_conn_get(fc);
		if (mod_delayed_work(system_wq, &fc->recovery_work, left))
			mqfuse_conn_put(fc);
	}
out:
	mqfuse_conn_put(fc);	/* the reference of the queued work */
}

void mqfuse_recovery_init_conn(struct mqfuse_conn *fc)
{
	INIT_DELAYED_WORK(&fc->recovery_work, mqfuse_recovery_timeout);
	atomic64_set(&fc->nr_replayed, 0);
	atomic_set(&fc->nr_recoveries, 0);
}

/* Last put: nothing can reach the session; the queued work held a reference. */
void mqfuse_recovery_free_conn(struct mqfuse_conn *fc)
{
	WARN_ON_ONCE(delayed_work_pending(&fc->recovery_work));
	if (fc->stored_file)
		fput(fc->stored_file);
	fc->stored_file = NULL;
}

/*
 * The session left ORPHANED (attach or abort): stop the timer. A handler
 * already running finds the state changed and does nothing but drop its
 * reference. Also drops the stored file on abort: nobody can attach any
 * more, and a file that (against the rules STORE_FD enforces) pins the
 * session would otherwise never be released.
 */
void mqfuse_recovery_cancel(struct mqfuse_conn *fc)
{
	struct file *stored = NULL;

	if (cancel_delayed_work(&fc->recovery_work))
		mqfuse_conn_put(fc);	/* never the last: the caller holds one */
	spin_lock(&fc->lock);
	if (fc->state == MQFUSE_CONN_ABORTED) {
		stored = fc->stored_file;
		fc->stored_file = NULL;
	}
	spin_unlock(&fc->lock);
	if (stored)
		fput(stored);
}

/*
 * Device fd @dev is being released: re-queue what it holds for replay.
 * Only for a serving session with recovery= (INIT has nothing to replay:
 * its one request is INIT itself, which is never replayed; without
 * recovery= they end with -ECONNABORTED, see mqfuse_dev_release(), or
 * with the session when the fd was the last one).
 */
void mqfuse_recovery_dev_gone(struct mqfuse_conn *fc, const void *dev)
{
	enum mqfuse_conn_state state = mqfuse_conn_state(fc);
	unsigned int nr;

	if (!READ_ONCE(fc->opts.recovery_s) ||
	    (state != MQFUSE_CONN_RUNNING && state != MQFUSE_CONN_ORPHANED))
		return;
	nr = mqfuse_queues_requeue(fc, dev);
	if (nr) {
		atomic64_add(nr, &fc->nr_replayed);
		pr_info_ratelimited("session %llu: %u request(s) queued for replay\n",
				    fc->id, nr);
	}
}

/*
 * The last device fd is going: become ORPHANED if recovery= allows.
 * Returns true if so; the caller then calls mqfuse_recovery_orphaned()
 * once unlocked, else aborts the session as without recovery.
 */
bool mqfuse_recovery_orphan_locked(struct mqfuse_conn *fc)
{
	lockdep_assert_held(&fc->lock);
	if (!fc->opts.recovery_s || fc->state != MQFUSE_CONN_RUNNING || fc->unmounting)
		return false;
	fc->orphan_deadline = jiffies + (unsigned long)fc->opts.recovery_s * HZ;
	smp_store_release(&fc->state, MQFUSE_CONN_ORPHANED);
	return true;
}

/* Arm the timer of a session that just became ORPHANED; fc->event_lock held. */
void mqfuse_recovery_orphaned(struct mqfuse_conn *fc)
{
	unsigned long deadline, left;

	lockdep_assert_held(&fc->event_lock);
	/* the deadline mqfuse_recovery_orphan_locked() set, whatever recovery_s is now */
	spin_lock(&fc->lock);
	deadline = fc->orphan_deadline;
	spin_unlock(&fc->lock);
	left = time_before(jiffies, deadline) ? deadline - jiffies : 0;
	pr_info_ratelimited("session %llu orphaned: waiting %u s for a daemon\n",
			    fc->id, DIV_ROUND_UP(jiffies_to_msecs(left), 1000));
	/* for the queued work; it may run (and put) as soon as it is queued */
	mqfuse_conn_get(fc);
	if (mod_delayed_work(system_wq, &fc->recovery_work, left))
		mqfuse_conn_put(fc);	/* was pending: it holds a reference already */
	/*
	 * An attach or abort (umount) between the unlock that published
	 * ORPHANED and the line above found no work to cancel: cancel it
	 * here, or it would pin the session (and the module) for up to
	 * recovery= seconds. Store-buffer pattern: the PENDING bit is set by
	 * a fully ordered RMW above and read by one in their
	 * cancel_delayed_work(), after their state store.
	 */
	if (mqfuse_conn_state(fc) != MQFUSE_CONN_ORPHANED &&
	    cancel_delayed_work(&fc->recovery_work))
		mqfuse_conn_put(fc);
	mqfuse_nl_event(fc, MQFUSE_EVENT_ORPHANED);
}

/*
 * A new recovery= for the next daemon loss (netlink SET_SESSION). Only
 * between non-zero values: the checks of recovery_s against zero (replay
 * or ECONNABORTED at a fd's release, orphan or abort at the last one)
 * then never change their answer, and the daemon of a session mounted
 * without recovery keeps no state a successor could use. Written under
 * fc->lock, where mqfuse_recovery_orphan_locked() reads it for the
 * deadline; an ORPHANED session keeps the deadline it has.
 */
int mqfuse_recovery_set_timeout(struct mqfuse_conn *fc, unsigned int seconds)
{
	int err = 0;

	if (!seconds || seconds > MQFUSE_RECOVERY_MAX)
		return -ERANGE;
	spin_lock(&fc->lock);
	if (!fc->opts.recovery_s)
		err = -EOPNOTSUPP;
	else
		WRITE_ONCE(fc->opts.recovery_s, seconds);
	spin_unlock(&fc->lock);
	return err;
}

/* A device fd was bound by mount or ATTACH; @recovered: it ended ORPHANED. */
void mqfuse_recovery_attached(struct mqfuse_conn *fc, bool recovered)
{
	spin_lock(&fc->lock);
	WRITE_ONCE(fc->daemon_tgid, task_tgid_nr(current));
	/*
	 * the mounter's or attacher's tgid until a reader of this daemon's
	 * fds replaces it (mqfuse_conn_note_daemon(): a sandboxed mqfused
	 * attaches, then serves from a child)
	 */
	WRITE_ONCE(fc->daemon_tgid_final, false);
	spin_unlock(&fc->lock);
	if (!recovered)
		return;
	atomic_inc(&fc->nr_recoveries);
	mqfuse_recovery_cancel(fc);
	pr_info_ratelimited("session %llu recovered by pid %d\n", fc->id,
			    task_tgid_nr(current));
	mqfuse_nl_event(fc, MQFUSE_EVENT_RECOVERED);
}

/* kill_sb: from now on a lost daemon aborts, and an ORPHANED session now. */
void mqfuse_recovery_umount(struct mqfuse_conn *fc)
{
	bool orphaned;

	spin_lock(&fc->lock);
	fc->unmounting = true;
	orphaned = fc->state == MQFUSE_CONN_ORPHANED;
	spin_unlock(&fc->lock);
	/* no ABORTED event: kill_sb sends UNMOUNTED */
	if (orphaned)
		mqfuse_conn_abort_umount(fc, "unmounted while orphaned");
}

/* ---- MQFUSE_IOC_ATTACH ---- */

static struct mqfuse_conn *mqfuse_recovery_conn_by_id(u64 id)
{
	struct mqfuse_conn *fc;

	mutex_lock(&mqfuse_sessions_lock);
	fc = mqfuse_session_find(id);
	if (fc && (fc->id != id || !refcount_inc_not_zero(&fc->ref)))
		fc = NULL;
	mutex_unlock(&mqfuse_sessions_lock);
	return fc ? fc : ERR_PTR(-ENOENT);
}

/* The session of a file of one of this generation's mounts (O_PATH too). */
static struct mqfuse_conn *mqfuse_recovery_conn_by_fd(int fd)
{
	struct mqfuse_conn *fc;
	struct file *file;

	if (fd < 0)
		return ERR_PTR(-EBADF);
	file = fget_raw(fd);
	if (!file)
		return ERR_PTR(-EBADF);
	/* the file pins the superblock, which holds a session reference */
	fc = mqfuse_sb_conn(file->f_path.dentry->d_sb);
	if (fc)
		mqfuse_conn_get(fc);
	fput(file);
	return fc ? fc : ERR_PTR(-EINVAL);
}

/*
 * Who may serve a mount. Serving it means answering every request of
 * every user of the mount, and FETCH_FD hands out the daemon's stored
 * state, so the rule is strict:
 *
 *  - by session id (no proof of access to the mount at all): only a
 *    caller with CAP_SYS_ADMIN in the user namespace the mount belongs to;
 *  - by an fd of a file of the mount: the same, or a caller with the
 *    mounter's effective uid in the mount's user namespace, unless the
 *    mount was made by global root. An fd of a file of the mount proves
 *    only access to one file, which any user may have; the uid then says
 *    it is the mounter. A root mount needs the capability: a euid 0
 *    process without CAP_SYS_ADMIN (a container handed the device node)
 *    must not take over a root-mounted session.
 *
 * The mount's user_id= owner does not qualify by itself: a root-mounted
 * filesystem with user_id=1000 must not be served by uid 1000.
 */
static bool mqfuse_recovery_may_attach(struct mqfuse_conn *fc, bool by_fd)
{
	if (ns_capable(fc->user_ns, CAP_SYS_ADMIN))
		return true;
	return by_fd && current_user_ns() == fc->user_ns &&
	       !uid_eq(fc->mounter_uid, GLOBAL_ROOT_UID) &&
	       uid_eq(current_euid(), fc->mounter_uid);
}

long mqfuse_recovery_ioctl_attach(struct file *file, struct mqfuse_attach __user *argp)
{
	struct mqfuse_attach a;
	struct mqfuse_conn *fc;
	int err;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	if ((a.flags & ~(MQFUSE_ATTACH_RESTART | MQFUSE_ATTACH_TAKEOVER)) ||
	    a.flags == (MQFUSE_ATTACH_RESTART | MQFUSE_ATTACH_TAKEOVER) ||
	    a.reserved || (a.daemon_gen && !(a.flags & MQFUSE_ATTACH_TAKEOVER)))
		return -EINVAL;
	/* one way to name the session, not two that might disagree */
	if (a.session_id && a.fd != -1)
		return -EINVAL;
	if (READ_ONCE(file->private_data))
		return -EBUSY;
	fc = a.session_id ? mqfuse_recovery_conn_by_id(a.session_id) :
			    mqfuse_recovery_conn_by_fd(a.fd);
	if (IS_ERR(fc))
		return PTR_ERR(fc);
	/* a virtio session's daemon is its device: nobody attaches there */
	if (fc->tops != &mqfuse_chardev_transport)
		err = -EINVAL;
	else if (!mqfuse_recovery_may_attach(fc, !a.session_id))
		err = -EPERM;
	else
		err = mqfuse_dev_attach_daemon(file, fc, a.flags, a.daemon_gen);
	mqfuse_conn_put(fc);
	return err;
}

/* ---- the stored file ---- */

/*
 * Accepted: what the feature is for, the daemon's state in memory, that
 * is a regular file on tmpfs/shmem (a memfd) or hugetlbfs. Such a file
 * cannot pin anything but itself. Everything else is refused: a block
 * list cannot be complete, and the session holds the file until it is
 * freed, so anything that pins the session (a device fd of any
 * generation, a file of the mount, an overlayfs or loop device on top of
 * it, the mount namespace's nsfs file, an io_uring or AF_UNIX socket
 * with such an fd in flight) would keep it alive for ever.
 */
static bool mqfuse_recovery_may_store(struct file *file)
{
	struct inode *inode = file_inode(file);
	unsigned long magic = inode->i_sb->s_magic;

	return S_ISREG(inode->i_mode) &&
	       (magic == TMPFS_MAGIC || magic == HUGETLBFS_MAGIC);
}

long mqfuse_recovery_ioctl_store_fd(struct mqfuse_conn *fc, __s32 __user *argp)
{
	struct file *file = NULL, *old;
	__s32 fd;

	if (get_user(fd, argp))
		return -EFAULT;
	if (fd != -1) {
		if (fd < 0)
			return -EBADF;
		file = fget(fd);
		if (!file)
			return -EBADF;
		if (!mqfuse_recovery_may_store(file)) {
			fput(file);
			return -EINVAL;
		}
	}
	spin_lock(&fc->lock);
	if (fc->state == MQFUSE_CONN_ABORTED && file) {
		spin_unlock(&fc->lock);
		fput(file);
		return -ENOTCONN;
	}
	old = fc->stored_file;
	fc->stored_file = file;
	spin_unlock(&fc->lock);
	if (old)
		fput(old);
	return 0;
}

long mqfuse_recovery_ioctl_fetch_fd(struct mqfuse_conn *fc)
{
	struct file *file;
	int fd;

	spin_lock(&fc->lock);
	file = fc->stored_file;
	if (file)
		get_file(file);
	spin_unlock(&fc->lock);
	if (!file)
		return -ENOENT;
	/* through security_file_receive(), like an fd passed over a socket */
	fd = mqfuse_receive_fd(file, O_CLOEXEC);
	fput(file);	/* the new fd holds its own reference */
	return fd;
}
