// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: /sys/fs/mqfuse_vN — module-wide attributes and one directory
 * per session:
 *
 *   /sys/fs/mqfuse_vN/<session-id>/
 *       dev           major:minor of the mount (matches st_dev)
 *       state         init | running | aborted | orphaned
 *       queues        number of queues
 *       balance       0 | 1
 *       consistency   mode name
 *       max_write max_read max_pages readdir_size   negotiated sizes
 *       minor         negotiated protocol minor
 *       daemons       device fds bound to the session
 *       waiting       live requests
 *       abort         write 1 to abort the session
 *       recovery      recovery=SECONDS in effect (0: off)
 *       replayed      requests re-queued after a daemon fd went away
 *       recoveries    daemons attached to the session while ORPHANED
 *       daemon_pid    tgid of the daemon: the first reader of the newest
 *                     daemon's fds, until then its mounter or attacher
 *       daemon_gen    attaches so far (MQFUSE_ATTACH_TAKEOVER names it)
 *       max_background   background requests allowed (all queues)
 *       queue<N>/stats   "key value" lines: requests forgets bytes_in
 *                        bytes_out wait_ns stolen interrupts errors
 *                        pending in_daemon background max_background
 *                        bg_waits in_daemon_max ring_batches ring_requests
 *
 * The same sessions, sorted by id, are on mqfuse_sessions for the netlink
 * family (netlink.c) to walk.
 *
 * Lifetimes: the session's memory (queues included) is freed by the
 * release of fc->kobj. Each queue kobject holds a reference on fc->kobj
 * from init to its own release, so the queue array outlives every queue
 * kobject however late their releases run.
 */
#include "mqfuse_i.h"
#include <linux/kobject.h>
#include <linux/sysfs.h>

static struct kobject *mqfuse_kobj;

/*
 * Sessions in sysfs, by increasing id: a session joins when its directory
 * is added and leaves when it is deleted, always before its memory is
 * freed (mqfuse_sysfs_release_conn()), so a walker holding the lock may
 * read any session on the list. Sleeping lock: walkers fill netlink
 * messages under it.
 */
DEFINE_MUTEX(mqfuse_sessions_lock);
static LIST_HEAD(mqfuse_sessions);	/* mqfuse_conn.session_entry; protected by mqfuse_sessions_lock */
/*
 * Bumped by every link and unlink, never 0 (a dump's cb->seq: netlink
 * flags NLM_F_DUMP_INTR when it changes between two dump calls).
 * Protected by mqfuse_sessions_lock.
 */
unsigned int mqfuse_sessions_gen = 1;

static void mqfuse_sessions_changed(void)
{
	lockdep_assert_held(&mqfuse_sessions_lock);
	if (!++mqfuse_sessions_gen)
		mqfuse_sessions_gen = 1;
}

/*
 * Ids come from a counter at allocation; mounts finishing out of order
 * join out of order, so keep the list sorted (usually an append).
 */
static void mqfuse_session_link(struct mqfuse_conn *fc)
{
	struct mqfuse_conn *pos;

	mutex_lock(&mqfuse_sessions_lock);
	list_for_each_entry_reverse(pos, &mqfuse_sessions, session_entry)
		if (pos->id < fc->id)
			break;
	/* after pos, or first when the loop ran off the head */
	list_add(&fc->session_entry, &pos->session_entry);
	mqfuse_sessions_changed();
	mutex_unlock(&mqfuse_sessions_lock);
}

/* Returns whether @fc was on the list. */
static bool mqfuse_session_unlink(struct mqfuse_conn *fc)
{
	bool listed;

	mutex_lock(&mqfuse_sessions_lock);
	listed = !list_empty(&fc->session_entry);
	if (listed) {
		list_del_init(&fc->session_entry);
		mqfuse_sessions_changed();
	}
	mutex_unlock(&mqfuse_sessions_lock);
	return listed;
}

/*
 * First session with id >= @from_id, or NULL. Walkers resume by id, never
 * by pointer: a session may go between two calls, and the next call just
 * finds its successor.
 */
struct mqfuse_conn *mqfuse_session_find(u64 from_id)
{
	struct mqfuse_conn *fc;

	lockdep_assert_held(&mqfuse_sessions_lock);
	list_for_each_entry(fc, &mqfuse_sessions, session_entry)
		if (fc->id >= from_id)
			return fc;
	return NULL;
}

/* The session after @fc on the list, or NULL. */
struct mqfuse_conn *mqfuse_session_next(struct mqfuse_conn *fc)
{
	lockdep_assert_held(&mqfuse_sessions_lock);
	if (list_is_last(&fc->session_entry, &mqfuse_sessions))
		return NULL;
	return list_next_entry(fc, session_entry);
}

static ssize_t generation_show(struct kobject *kobj, struct kobj_attribute *attr,
			       char *buf)
{
	return sysfs_emit(buf, "%d\n", MQFUSE_GEN);
}
static struct kobj_attribute generation_attr = __ATTR_RO(generation);

static ssize_t version_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%s\n", MQFUSE_VERSION);
}
static struct kobj_attribute version_attr = __ATTR_RO(version);

static struct attribute *mqfuse_attrs[] = {
	&generation_attr.attr,
	&version_attr.attr,
	NULL,
};

static const struct attribute_group mqfuse_attr_group = {
	.attrs = mqfuse_attrs,
};

/* ---- per session ---- */

#define MQFUSE_CONN_ATTR_RO(_name, fmt, expr)					\
static ssize_t conn_##_name##_show(struct kobject *kobj,			\
				   struct kobj_attribute *attr, char *buf)	\
{										\
	struct mqfuse_conn *fc = container_of(kobj, struct mqfuse_conn, kobj);	\
										\
	return sysfs_emit(buf, fmt "\n", expr);				\
}										\
static struct kobj_attribute conn_##_name##_attr =				\
	__ATTR(_name, 0444, conn_##_name##_show, NULL)

static const char *const mqfuse_state_names[] = {
	[MQFUSE_CONN_INIT]	= "init",
	[MQFUSE_CONN_RUNNING]	= "running",
	[MQFUSE_CONN_ABORTED]	= "aborted",
	[MQFUSE_CONN_ORPHANED]	= "orphaned",
};

MQFUSE_CONN_ATTR_RO(id, "%llu", fc->id);
static ssize_t conn_dev_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	struct mqfuse_conn *fc = container_of(kobj, struct mqfuse_conn, kobj);

	return sysfs_emit(buf, "%u:%u\n", MAJOR(fc->dev), MINOR(fc->dev));
}
static struct kobj_attribute conn_dev_attr = __ATTR(dev, 0444, conn_dev_show, NULL);
MQFUSE_CONN_ATTR_RO(state, "%s", mqfuse_state_names[mqfuse_conn_state(fc)]);
MQFUSE_CONN_ATTR_RO(queues, "%u", fc->nr_queues);
MQFUSE_CONN_ATTR_RO(balance, "%d", fc->opts.balance);
MQFUSE_CONN_ATTR_RO(consistency, "%s", mqfuse_consistency_names[fc->opts.consistency]);
MQFUSE_CONN_ATTR_RO(max_write, "%u", READ_ONCE(fc->max_write));
MQFUSE_CONN_ATTR_RO(max_read, "%u", READ_ONCE(fc->max_read));
MQFUSE_CONN_ATTR_RO(max_pages, "%u", READ_ONCE(fc->max_pages));
MQFUSE_CONN_ATTR_RO(readdir_size, "%u", READ_ONCE(fc->readdir_size));
MQFUSE_CONN_ATTR_RO(max_background, "%u", READ_ONCE(fc->max_background));
MQFUSE_CONN_ATTR_RO(minor, "%u", READ_ONCE(fc->minor));
MQFUSE_CONN_ATTR_RO(daemons, "%u", READ_ONCE(fc->nr_devs));
MQFUSE_CONN_ATTR_RO(waiting, "%d", atomic_read(&fc->nr_reqs));
MQFUSE_CONN_ATTR_RO(transport, "%s", mqfuse_conn_transport(fc));
MQFUSE_CONN_ATTR_RO(recovery, "%u", READ_ONCE(fc->opts.recovery_s));
MQFUSE_CONN_ATTR_RO(replayed, "%lld", (long long)atomic64_read(&fc->nr_replayed));
MQFUSE_CONN_ATTR_RO(recoveries, "%d", atomic_read(&fc->nr_recoveries));
MQFUSE_CONN_ATTR_RO(daemon_pid, "%d", READ_ONCE(fc->daemon_tgid));
MQFUSE_CONN_ATTR_RO(daemon_gen, "%llu", (unsigned long long)READ_ONCE(fc->daemon_gen));

static ssize_t conn_abort_store(struct kobject *kobj, struct kobj_attribute *attr,
				const char *buf, size_t count)
{
	struct mqfuse_conn *fc = container_of(kobj, struct mqfuse_conn, kobj);
	bool v;
	int err;

	err = kstrtobool(buf, &v);
	if (err)
		return err;
	if (v)
		mqfuse_conn_abort(fc, "aborted through sysfs");
	return count;
}
static struct kobj_attribute conn_abort_attr = __ATTR(abort, 0200, NULL, conn_abort_store);

static struct attribute *mqfuse_conn_attrs[] = {
	&conn_id_attr.attr,
	&conn_dev_attr.attr,
	&conn_state_attr.attr,
	&conn_queues_attr.attr,
	&conn_balance_attr.attr,
	&conn_consistency_attr.attr,
	&conn_max_write_attr.attr,
	&conn_max_read_attr.attr,
	&conn_max_pages_attr.attr,
	&conn_readdir_size_attr.attr,
	&conn_max_background_attr.attr,
	&conn_minor_attr.attr,
	&conn_daemons_attr.attr,
	&conn_waiting_attr.attr,
	&conn_transport_attr.attr,
	&conn_recovery_attr.attr,
	&conn_replayed_attr.attr,
	&conn_recoveries_attr.attr,
	&conn_daemon_pid_attr.attr,
	&conn_daemon_gen_attr.attr,
	&conn_abort_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(mqfuse_conn);

static void mqfuse_conn_kobj_release(struct kobject *kobj)
{
	mqfuse_conn_free(container_of(kobj, struct mqfuse_conn, kobj));
}

static const struct kobj_type mqfuse_conn_ktype = {
	.release	= mqfuse_conn_kobj_release,
	.sysfs_ops	= &kobj_sysfs_ops,
	.default_groups	= mqfuse_conn_groups,
};

static ssize_t queue_stats_show(struct kobject *kobj, struct kobj_attribute *attr,
				char *buf)
{
	struct mqfuse_queue *q = container_of(kobj, struct mqfuse_queue, kobj);
	struct mqfuse_queue_snap sn;

	mqfuse_queue_fill_stats(q, &sn);
	return sysfs_emit(buf,
			  "requests %llu\nforgets %llu\nbytes_in %llu\nbytes_out %llu\n"
			  "wait_ns %llu\nstolen %llu\ninterrupts %llu\nerrors %llu\n"
			  "pending %u\nin_daemon %u\nbackground %u\nmax_background %u\n"
			  "bg_waits %llu\nin_daemon_max %u\nring_batches %llu\n"
			  "ring_requests %llu\n",
			  sn.stats.requests, sn.stats.forgets, sn.stats.bytes_in,
			  sn.stats.bytes_out, sn.stats.wait_ns, sn.stats.stolen,
			  sn.stats.interrupts, sn.stats.errors, sn.pending, sn.in_daemon,
			  sn.background, sn.max_background, sn.stats.bg_waits,
			  sn.stats.in_daemon_max, sn.stats.ring_batches,
			  sn.stats.ring_requests);
}
static struct kobj_attribute queue_stats_attr = __ATTR(stats, 0444, queue_stats_show, NULL);

static struct attribute *mqfuse_queue_attrs[] = {
	&queue_stats_attr.attr,
	NULL,
};
ATTRIBUTE_GROUPS(mqfuse_queue);

/* Queue memory belongs to the session: drop the reference init took. */
static void mqfuse_queue_kobj_release(struct kobject *kobj)
{
	struct mqfuse_queue *q = container_of(kobj, struct mqfuse_queue, kobj);

	kobject_put(&q->fc->kobj);
}

static const struct kobj_type mqfuse_queue_ktype = {
	.release	= mqfuse_queue_kobj_release,
	.sysfs_ops	= &kobj_sysfs_ops,
	.default_groups	= mqfuse_queue_groups,
};

/* The session's memory is freed by its kobject's release from now on. */
void mqfuse_sysfs_init_conn(struct mqfuse_conn *fc)
{
	unsigned int i;

	INIT_LIST_HEAD(&fc->session_entry);
	kobject_init(&fc->kobj, &mqfuse_conn_ktype);
	for (i = 0; i < fc->nr_queues; i++) {
		kobject_init(&fc->queues[i].kobj, &mqfuse_queue_ktype);
		kobject_get(&fc->kobj);	/* dropped by the queue's release */
	}
}

int mqfuse_sysfs_add_conn(struct mqfuse_conn *fc)
{
	unsigned int i;
	int err;

	err = kobject_add(&fc->kobj, mqfuse_kobj, "%llu", fc->id);
	if (err)
		return err;
	fc->kobj_added = true;
	for (i = 0; i < fc->nr_queues; i++) {
		struct mqfuse_queue *q = &fc->queues[i];

		err = kobject_add(&q->kobj, &fc->kobj, "queue%u", i);
		if (err)
			return err;	/* mqfuse_sysfs_del_conn() removes what was added */
		q->kobj_added = true;
	}
	mqfuse_session_link(fc);
	return 0;
}

/*
 * Off the session list (netlink), sysfs directory kept; idempotent.
 * Returns whether it was listed (mqfuse_sysfs_add_conn() succeeded).
 */
bool mqfuse_sysfs_unlist_conn(struct mqfuse_conn *fc)
{
	return mqfuse_session_unlink(fc);
}

/* Remove the directory (umount); the memory stays until the last put. */
void mqfuse_sysfs_del_conn(struct mqfuse_conn *fc)
{
	unsigned int i;

	if (!fc->kobj_added)
		return;
	mqfuse_session_unlink(fc);
	fc->kobj_added = false;
	for (i = 0; i < fc->nr_queues; i++) {
		struct mqfuse_queue *q = &fc->queues[i];

		if (q->kobj_added)
			kobject_del(&q->kobj);
		q->kobj_added = false;
	}
	kobject_del(&fc->kobj);
}

void mqfuse_sysfs_release_conn(struct mqfuse_conn *fc)
{
	unsigned int i;

	mqfuse_sysfs_del_conn(fc);
	for (i = 0; i < fc->nr_queues; i++)
		kobject_put(&fc->queues[i].kobj);
	kobject_put(&fc->kobj);
}

int mqfuse_sysfs_init(void)
{
	int err;

	mqfuse_kobj = kobject_create_and_add(MQFUSE_NAME, fs_kobj);
	if (!mqfuse_kobj)
		return -ENOMEM;
	err = sysfs_create_group(mqfuse_kobj, &mqfuse_attr_group);
	if (err)
		mqfuse_sysfs_exit();
	return err;
}

/*
 * The directory goes now, not at the release of its kobject (which
 * CONFIG_DEBUG_KOBJECT_RELEASE delays past the unload): its attributes'
 * show() is module code, and a reload would find the name taken.
 */
void mqfuse_sysfs_exit(void)
{
	kobject_del(mqfuse_kobj);
	kobject_put(mqfuse_kobj);
	mqfuse_kobj = NULL;
}
