// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: generic-netlink family "mqfuse_vN" (control plane).
 *
 * GET_VERSION answers the generation and release. GET_SESSION describes
 * the sessions of this generation (uapi/mqfuse.h lists the attributes):
 * a dump walks mqfuse_sessions (sysfs.c) under mqfuse_sessions_lock and
 * resumes by session id kept in cb->args, never by pointer, so sessions
 * mounted or unmounted between two dump calls are simply found or not.
 *
 * ABORT aborts a session as its sysfs "abort" file does (the same
 * mqfuse_conn_abort()); SET_SESSION changes its tunables (background
 * limit, recovery=). Both need CAP_NET_ADMIN. Everything else is
 * read-only and open to every user, like the sysfs files it mirrors.
 *
 * The multicast group "events" carries MQFUSE_CMD_EVENT: a session was
 * mounted, answered INIT, was aborted, unmounted (and, with recovery,
 * orphaned and recovered). Any user may listen. Events of one session are
 * sent in the order of its state changes (fc->event_lock); a listener
 * that lost some (its socket buffer overran, or an allocation failed
 * here, reported as ENOBUFS on its socket) lists the sessions again.
 *
 * The family is not netns-aware (init_net only), as the sessions are
 * global; pids are reported as the caller's pid namespace sees them.
 */
#include "mqfuse_i.h"
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <net/genetlink.h>

static struct genl_family mqfuse_genl_family;

/* Multicast groups, in mqfuse_genl_mcgrps order. */
enum {
	MQFUSE_NL_GRP_EVENTS,
};

static const struct genl_multicast_group mqfuse_genl_mcgrps[] = {
	[MQFUSE_NL_GRP_EVENTS] = { .name = MQFUSE_GENL_MCGRP_EVENTS },
};

/* Dump position in netlink_callback.args. */
enum {
	MQFUSE_DUMP_NEXT_ID,	/* first session id not yet dumped completely */
	MQFUSE_DUMP_NEXT_QUEUE,	/* first queue to report of that session */
};

#define MQFUSE_NL_REPLY_ONLY(name)	\
	{ .type = NLA_REJECT, .reject_message = name " is a reply attribute" }

static const struct nla_policy mqfuse_genl_policy[MQFUSE_ATTR_MAX + 1] = {
	[MQFUSE_ATTR_GEN]	= { .type = NLA_U32 },
	[MQFUSE_ATTR_VERSION]	= { .type = NLA_NUL_STRING },
	[MQFUSE_ATTR_PAD]	= MQFUSE_NL_REPLY_ONLY("PAD"),
	[MQFUSE_ATTR_SESSION_ID] = { .type = NLA_U64 },
	[MQFUSE_ATTR_SESSION_STATE] = MQFUSE_NL_REPLY_ONLY("SESSION_STATE"),
	[MQFUSE_ATTR_SESSION_DEV_MAJOR] = MQFUSE_NL_REPLY_ONLY("SESSION_DEV_MAJOR"),
	[MQFUSE_ATTR_SESSION_DEV_MINOR] = MQFUSE_NL_REPLY_ONLY("SESSION_DEV_MINOR"),
	[MQFUSE_ATTR_SESSION_QUEUES] = MQFUSE_NL_REPLY_ONLY("SESSION_QUEUES"),
	[MQFUSE_ATTR_SESSION_MAX_WRITE] = MQFUSE_NL_REPLY_ONLY("SESSION_MAX_WRITE"),
	[MQFUSE_ATTR_SESSION_MAX_READ] = MQFUSE_NL_REPLY_ONLY("SESSION_MAX_READ"),
	[MQFUSE_ATTR_SESSION_MAX_PAGES] = MQFUSE_NL_REPLY_ONLY("SESSION_MAX_PAGES"),
	[MQFUSE_ATTR_SESSION_READDIR_SIZE] = MQFUSE_NL_REPLY_ONLY("SESSION_READDIR_SIZE"),
	[MQFUSE_ATTR_SESSION_MAX_BACKGROUND] = MQFUSE_NL_REPLY_ONLY("SESSION_MAX_BACKGROUND"),
	[MQFUSE_ATTR_SESSION_MINOR] = MQFUSE_NL_REPLY_ONLY("SESSION_MINOR"),
	[MQFUSE_ATTR_SESSION_BALANCE] = MQFUSE_NL_REPLY_ONLY("SESSION_BALANCE"),
	[MQFUSE_ATTR_SESSION_CONSISTENCY] = MQFUSE_NL_REPLY_ONLY("SESSION_CONSISTENCY"),
	[MQFUSE_ATTR_SESSION_TRANSPORT] = MQFUSE_NL_REPLY_ONLY("SESSION_TRANSPORT"),
	[MQFUSE_ATTR_SESSION_DAEMONS] = MQFUSE_NL_REPLY_ONLY("SESSION_DAEMONS"),
	[MQFUSE_ATTR_SESSION_WAITING] = MQFUSE_NL_REPLY_ONLY("SESSION_WAITING"),
	[MQFUSE_ATTR_QUEUE]	= MQFUSE_NL_REPLY_ONLY("QUEUE"),
	[MQFUSE_ATTR_EVENT]	= MQFUSE_NL_REPLY_ONLY("EVENT"),
	[MQFUSE_ATTR_SESSION_DAEMON_PID] = MQFUSE_NL_REPLY_ONLY("SESSION_DAEMON_PID"),
	[MQFUSE_ATTR_SESSION_RECOVERY_S] = MQFUSE_NL_REPLY_ONLY("SESSION_RECOVERY_S"),
	[MQFUSE_ATTR_SESSION_RECOVERIES] = MQFUSE_NL_REPLY_ONLY("SESSION_RECOVERIES"),
	[MQFUSE_ATTR_SESSION_REPLAYED] = MQFUSE_NL_REPLY_ONLY("SESSION_REPLAYED"),
};

static int mqfuse_nl_get_version(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &mqfuse_genl_family, 0,
				MQFUSE_CMD_GET_VERSION);
	if (!hdr)
		goto nospace;
	if (nla_put_u32(msg, MQFUSE_ATTR_GEN, MQFUSE_GEN) ||
	    nla_put_string(msg, MQFUSE_ATTR_VERSION, MQFUSE_VERSION))
		goto nospace;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

nospace:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

/* ---- GET_SESSION ---- */

static size_t mqfuse_nl_queue_size(void)
{
	return nla_total_size(0) +				/* QUEUE nest */
		nla_total_size(sizeof(u32)) +			/* INDEX */
		11 * nla_total_size_64bit(sizeof(u64)) +	/* counters */
		5 * nla_total_size(sizeof(u32));		/* gauges */
}

/* Everything but the queues; the strings are bounded by their tables. */
static size_t mqfuse_nl_session_size(void)
{
	return 2 * nla_total_size_64bit(sizeof(u64)) +		/* ID, REPLAYED */
		13 * nla_total_size(sizeof(u32)) +		/* STATE .. WAITING */
		3 * nla_total_size(sizeof(u32)) +		/* DAEMON_PID .. RECOVERIES */
		nla_total_size(sizeof(u8)) +			/* BALANCE */
		2 * nla_total_size(32);				/* CONSISTENCY, TRANSPORT */
}

static int mqfuse_nl_put_queue(struct sk_buff *skb, struct mqfuse_queue *q)
{
	struct mqfuse_queue_snap sn;
	struct nlattr *nest;

	mqfuse_queue_fill_stats(q, &sn);
	nest = nla_nest_start(skb, MQFUSE_ATTR_QUEUE);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(skb, MQFUSE_QUEUE_ATTR_INDEX, q->index) ||
	    nla_put_u64_64bit(skb, MQFUSE_QUEUE_ATTR_REQUESTS, sn.stats.requests,
			      MQFUSE_QUEUE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, MQFUSE_QUEUE_ATTR_FORGETS, sn.stats.forgets,
			      MQFUSE_QUEUE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, MQFUSE_QUEUE_ATTR_BYTES_IN, sn.stats.bytes_in,
			      MQFUSE_QUEUE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, MQFUSE_QUEUE_ATTR_BYTES_OUT, sn.stats.bytes_out,
			      MQFUSE_QUEUE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, MQFUSE_QUEUE_ATTR_WAIT_NS, sn.stats.wait_ns,
			      MQFUSE_QUEUE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, MQFUSE_QUEUE_ATTR_STOLEN, sn.stats.stolen,
			      MQFUSE_QUEUE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, MQFUSE_QUEUE_ATTR_INTERRUPTS, sn.stats.interrupts,
			      MQFUSE_QUEUE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, MQFUSE_QUEUE_ATTR_ERRORS, sn.stats.errors,
			      MQFUSE_QUEUE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, MQFUSE_QUEUE_ATTR_BG_WAITS, sn.stats.bg_waits,
			      MQFUSE_QUEUE_ATTR_PAD) ||
	    nla_put_u32(skb, MQFUSE_QUEUE_ATTR_PENDING, sn.pending) ||
	    nla_put_u32(skb, MQFUSE_QUEUE_ATTR_IN_DAEMON, sn.in_daemon) ||
	    nla_put_u32(skb, MQFUSE_QUEUE_ATTR_BACKGROUND, sn.background) ||
	    nla_put_u32(skb, MQFUSE_QUEUE_ATTR_MAX_BACKGROUND, sn.max_background) ||
	    nla_put_u32(skb, MQFUSE_QUEUE_ATTR_IN_DAEMON_MAX, sn.stats.in_daemon_max) ||
	    nla_put_u64_64bit(skb, MQFUSE_QUEUE_ATTR_RING_BATCHES, sn.stats.ring_batches,
			      MQFUSE_QUEUE_ATTR_PAD) ||
	    nla_put_u64_64bit(skb, MQFUSE_QUEUE_ATTR_RING_REQUESTS, sn.stats.ring_requests,
			      MQFUSE_QUEUE_ATTR_PAD)) {
		nla_nest_cancel(skb, nest);
		return -EMSGSIZE;
	}
	nla_nest_end(skb, nest);
	return 0;
}

/*
 * The daemon's tgid as the caller sees it: doit and dump callbacks run in
 * the requesting task (a dump also in the one reading its socket, the
 * same process). 0 when there is none, it exited, or it is outside the
 * caller's pid namespace. A number the daemon left behind may have been
 * reused, as for any pid.
 */
static u32 mqfuse_nl_daemon_pid(struct mqfuse_conn *fc)
{
	pid_t nr = READ_ONCE(fc->daemon_tgid);
	struct pid *pid;
	pid_t vnr = 0;

	if (!nr)
		return 0;
	rcu_read_lock();
	pid = find_pid_ns(nr, &init_pid_ns);
	if (pid)
		vnr = pid_vnr(pid);
	rcu_read_unlock();
	return vnr;
}

/*
 * One message for @fc: its attributes, then its queues from @first_queue
 * on, as many as fit; *@next_queue is the first queue left out
 * (fc->nr_queues when all fit). -EMSGSIZE, and nothing added, when not
 * even one queue fits. The caller holds mqfuse_sessions_lock, which keeps
 * @fc and its queues alive.
 */
static int mqfuse_nl_fill_session(struct sk_buff *skb, struct mqfuse_conn *fc,
				  u32 portid, u32 seq, int flags,
				  unsigned int first_queue, unsigned int *next_queue)
{
	unsigned int i;
	void *hdr;

	lockdep_assert_held(&mqfuse_sessions_lock);
	hdr = genlmsg_put(skb, portid, seq, &mqfuse_genl_family, flags,
			  MQFUSE_CMD_GET_SESSION);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u64_64bit(skb, MQFUSE_ATTR_SESSION_ID, fc->id, MQFUSE_ATTR_PAD) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_STATE, mqfuse_conn_state(fc)) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_DEV_MAJOR, MAJOR(fc->dev)) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_DEV_MINOR, MINOR(fc->dev)) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_QUEUES, fc->nr_queues) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_MAX_WRITE, READ_ONCE(fc->max_write)) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_MAX_READ, READ_ONCE(fc->max_read)) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_MAX_PAGES, READ_ONCE(fc->max_pages)) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_READDIR_SIZE, READ_ONCE(fc->readdir_size)) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_MAX_BACKGROUND,
			READ_ONCE(fc->max_background)) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_MINOR, READ_ONCE(fc->minor)) ||
	    nla_put_u8(skb, MQFUSE_ATTR_SESSION_BALANCE, fc->opts.balance) ||
	    nla_put_string(skb, MQFUSE_ATTR_SESSION_CONSISTENCY,
			   mqfuse_consistency_names[fc->opts.consistency]) ||
	    nla_put_string(skb, MQFUSE_ATTR_SESSION_TRANSPORT, mqfuse_conn_transport(fc)) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_DAEMONS, READ_ONCE(fc->nr_devs)) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_WAITING, atomic_read(&fc->nr_reqs)) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_DAEMON_PID, mqfuse_nl_daemon_pid(fc)) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_RECOVERY_S, READ_ONCE(fc->opts.recovery_s)) ||
	    nla_put_u32(skb, MQFUSE_ATTR_SESSION_RECOVERIES, atomic_read(&fc->nr_recoveries)) ||
	    nla_put_u64_64bit(skb, MQFUSE_ATTR_SESSION_REPLAYED,
			      atomic64_read(&fc->nr_replayed), MQFUSE_ATTR_PAD))
		goto cancel;

	for (i = first_queue; i < fc->nr_queues; i++)
		if (mqfuse_nl_put_queue(skb, &fc->queues[i]))
			break;
	if (i == first_queue && i < fc->nr_queues)
		goto cancel;
	*next_queue = i;
	genlmsg_end(skb, hdr);
	return 0;

cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/* GEN and VERSION are reply attributes of GET_VERSION: not in a request. */
static int mqfuse_nl_reject_reply_attrs(struct nlattr **attrs,
					struct netlink_ext_ack *extack)
{
	if (attrs[MQFUSE_ATTR_GEN]) {
		NL_SET_ERR_MSG_ATTR(extack, attrs[MQFUSE_ATTR_GEN], "GEN is a reply attribute");
		return -EINVAL;
	}
	if (attrs[MQFUSE_ATTR_VERSION]) {
		NL_SET_ERR_MSG_ATTR(extack, attrs[MQFUSE_ATTR_VERSION],
				    "VERSION is a reply attribute");
		return -EINVAL;
	}
	return 0;
}

static int mqfuse_nl_get_session(struct sk_buff *skb, struct genl_info *info)
{
	struct mqfuse_conn *fc;
	unsigned int next, nr;
	struct sk_buff *msg;
	u64 id;
	int err;

	err = mqfuse_nl_reject_reply_attrs(info->attrs, info->extack);
	if (err)
		return err;
	if (GENL_REQ_ATTR_CHECK(info, MQFUSE_ATTR_SESSION_ID)) {
		NL_SET_ERR_MSG(info->extack, "SESSION_ID is required (or NLM_F_DUMP for all)");
		return -EINVAL;
	}
	id = nla_get_u64(info->attrs[MQFUSE_ATTR_SESSION_ID]);

	/*
	 * The reply is sized for this session's queues (fixed at mount) and
	 * allocated without the lock: umount takes mqfuse_sessions_lock with
	 * s_umount held, so no allocation that may reclaim under it. Ids are
	 * never reused, so the session found again by id is the same one.
	 */
	mutex_lock(&mqfuse_sessions_lock);
	fc = mqfuse_session_find(id);
	nr = fc && fc->id == id ? fc->nr_queues : 0;
	mutex_unlock(&mqfuse_sessions_lock);
	if (!nr)
		goto no_session;
	msg = genlmsg_new(mqfuse_nl_session_size() + nr * mqfuse_nl_queue_size(), GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	mutex_lock(&mqfuse_sessions_lock);
	fc = mqfuse_session_find(id);
	if (!fc || fc->id != id) {
		mutex_unlock(&mqfuse_sessions_lock);
		nlmsg_free(msg);
		goto no_session;
	}
	err = mqfuse_nl_fill_session(msg, fc, info->snd_portid, info->snd_seq, 0,
				     0, &next);
	if (WARN_ON_ONCE(!err && next != fc->nr_queues))
		err = -EMSGSIZE;	/* the size estimate is wrong */
	mutex_unlock(&mqfuse_sessions_lock);
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	return genlmsg_reply(msg, info);

no_session:
	NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[MQFUSE_ATTR_SESSION_ID],
			    "no such session");
	return -ENOENT;
}

static struct nlattr **mqfuse_nl_dump_attrs(struct netlink_callback *cb)
{
#ifdef HAVE_GENL_DUMPIT_INFO_INFO
	return genl_dumpit_info(cb)->info.attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

/*
 * cb->seq is the list generation: a message put after a session joined
 * or left between two dump calls carries NLM_F_DUMP_INTR (so does the
 * final NLMSG_DONE), and the client starts over.
 */
static int mqfuse_nl_dump_sessions(struct sk_buff *skb, struct netlink_callback *cb)
{
	u64 next_id = cb->args[MQFUSE_DUMP_NEXT_ID];
	struct nlattr **attrs = mqfuse_nl_dump_attrs(cb);
	unsigned int first, next;
	struct mqfuse_conn *fc;
	int err;

	err = mqfuse_nl_reject_reply_attrs(attrs, cb->extack);
	if (err)
		return err;
	if (attrs[MQFUSE_ATTR_SESSION_ID]) {
		NL_SET_ERR_MSG_ATTR(cb->extack, attrs[MQFUSE_ATTR_SESSION_ID],
				    "a dump lists every session: no SESSION_ID");
		return -EINVAL;
	}

	mutex_lock(&mqfuse_sessions_lock);
	cb->seq = mqfuse_sessions_gen;
	/* one walk: the list is sorted by id, resume at the first id >= next_id */
	for (fc = mqfuse_session_find(next_id); fc; fc = mqfuse_session_next(fc)) {
		void *hdr;

		/* a session cut short resumes at its queue; a new one at 0 */
		first = fc->id == next_id ? cb->args[MQFUSE_DUMP_NEXT_QUEUE] : 0;
		hdr = skb_tail_pointer(skb);
		err = mqfuse_nl_fill_session(skb, fc, NETLINK_CB(cb->skb).portid,
					     cb->nlh->nlmsg_seq, NLM_F_MULTI,
					     first, &next);
		if (err)
			break;
		nl_dump_check_consistent(cb, hdr);
		if (next < fc->nr_queues) {
			cb->args[MQFUSE_DUMP_NEXT_ID] = fc->id;
			cb->args[MQFUSE_DUMP_NEXT_QUEUE] = next;
			break;
		}
		next_id = fc->id + 1;
		cb->args[MQFUSE_DUMP_NEXT_ID] = next_id;
		cb->args[MQFUSE_DUMP_NEXT_QUEUE] = 0;
	}
	mutex_unlock(&mqfuse_sessions_lock);
	/* a message that fits no buffer would end the dump silently */
	if (err && !skb->len)
		return err;
	return skb->len;
}

/* ---- ABORT, SET_SESSION ---- */

/*
 * The session a state-changing request names (SESSION_ID, required), with
 * a reference; NULL with the error in *@err and the extended ack set.
 * Not used under mqfuse_sessions_lock: what the caller does to the
 * session may allocate and take fc->killsb (failing requests runs their
 * completions), and umount takes that lock with s_umount held.
 */
static struct mqfuse_conn *mqfuse_nl_session_get(struct genl_info *info, int *err)
{
	struct mqfuse_conn *fc;
	u64 id;

	if (GENL_REQ_ATTR_CHECK(info, MQFUSE_ATTR_SESSION_ID)) {
		/* the missing type goes along (NLMSGERR_ATTR_MISS_TYPE) */
		NL_SET_ERR_MSG(info->extack, "SESSION_ID is required");
		*err = -EINVAL;
		return NULL;
	}
	id = nla_get_u64(info->attrs[MQFUSE_ATTR_SESSION_ID]);
	mutex_lock(&mqfuse_sessions_lock);
	fc = mqfuse_session_find(id);
	if (fc && (fc->id != id || !mqfuse_conn_tryget(fc)))
		fc = NULL;
	mutex_unlock(&mqfuse_sessions_lock);
	if (!fc) {
		NL_SET_ERR_MSG_ATTR(info->extack, info->attrs[MQFUSE_ATTR_SESSION_ID],
				    "no such session");
		*err = -ENOENT;
	}
	return fc;
}

static int mqfuse_nl_abort(struct sk_buff *skb, struct genl_info *info)
{
	struct mqfuse_conn *fc;
	int err;

	err = mqfuse_nl_reject_reply_attrs(info->attrs, info->extack);
	if (err)
		return err;
	fc = mqfuse_nl_session_get(info, &err);
	if (!fc)
		return err;
	/* what writing 1 to /sys/fs/mqfuse_vN/<id>/abort does; idempotent */
	mqfuse_conn_abort(fc, "aborted through netlink");
	mqfuse_conn_put(fc);
	return 0;
}

/*
 * SET_SESSION's own policy: the tunables are request attributes here and
 * reply attributes everywhere else (mqfuse_genl_policy refuses them).
 */
static struct netlink_range_validation mqfuse_nl_recovery_range __ro_after_init = {
	.min = 1,
	.max = MQFUSE_RECOVERY_MAX,	/* beyond NLA_POLICY_RANGE's s16 */
};

static const struct nla_policy mqfuse_genl_set_policy[MQFUSE_ATTR_MAX + 1] = {
	[MQFUSE_ATTR_SESSION_ID] = { .type = NLA_U64 },
	[MQFUSE_ATTR_SESSION_MAX_BACKGROUND] =
		NLA_POLICY_RANGE(NLA_U32, 1, MQFUSE_MAX_BACKGROUND_LIMIT),
	[MQFUSE_ATTR_SESSION_RECOVERY_S] =
		NLA_POLICY_FULL_RANGE(NLA_U32, &mqfuse_nl_recovery_range),
};

static int mqfuse_nl_set_session(struct sk_buff *skb, struct genl_info *info)
{
	struct nlattr *max_bg = info->attrs[MQFUSE_ATTR_SESSION_MAX_BACKGROUND];
	struct nlattr *rec = info->attrs[MQFUSE_ATTR_SESSION_RECOVERY_S];
	struct mqfuse_conn *fc;
	int err = 0;

	/* strict parsing refused what the policy leaves NLA_UNSPEC */
	if (!max_bg && !rec) {
		NL_SET_ERR_MSG(info->extack,
			       "nothing to set: SESSION_MAX_BACKGROUND or SESSION_RECOVERY_S");
		return -EINVAL;
	}
	fc = mqfuse_nl_session_get(info, &err);
	if (!fc)
		return err;
	err = 0;
	/* INIT would overwrite the background limit with its own */
	if (mqfuse_conn_state(fc) == MQFUSE_CONN_INIT) {
		NL_SET_ERR_MSG(info->extack, "the session is still in INIT: try again");
		err = -EAGAIN;
		goto out_put;
	}
	/*
	 * One setter at a time (doits run under genl_mutex, the family not
	 * being parallel_ops): no queue left with another caller's share.
	 * All or nothing: recovery= is the one that can be refused.
	 */
	if (rec) {
		err = mqfuse_recovery_set_timeout(fc, nla_get_u32(rec));
		if (err) {
			NL_SET_ERR_MSG_ATTR(info->extack, rec,
					    "recovery is off on this session (mounted with recovery=0): it cannot be turned on");
			err = -EOPNOTSUPP;
			goto out_put;
		}
	}
	if (max_bg)
		mqfuse_queues_set_max_background(fc, nla_get_u32(max_bg));
out_put:
	mqfuse_conn_put(fc);
	return err;
}

/* ---- events ---- */

static size_t mqfuse_nl_event_size(void)
{
	return nla_total_size(sizeof(u32)) +			/* EVENT */
		nla_total_size_64bit(sizeof(u64)) +		/* SESSION_ID */
		nla_total_size(sizeof(u32));			/* SESSION_STATE */
}

void mqfuse_nl_event(struct mqfuse_conn *fc, u32 event)
{
	struct sk_buff *msg;
	void *hdr;

	might_sleep();
	lockdep_assert_held(&fc->event_lock);
	if (!genl_has_listeners(&mqfuse_genl_family, &init_net, MQFUSE_NL_GRP_EVENTS))
		return;
	msg = genlmsg_new(mqfuse_nl_event_size(), GFP_KERNEL);
	if (!msg)
		goto lost;
	hdr = genlmsg_put(msg, 0, 0, &mqfuse_genl_family, 0, MQFUSE_CMD_EVENT);
	if (!hdr ||
	    nla_put_u32(msg, MQFUSE_ATTR_EVENT, event) ||
	    nla_put_u64_64bit(msg, MQFUSE_ATTR_SESSION_ID, fc->id, MQFUSE_ATTR_PAD) ||
	    nla_put_u32(msg, MQFUSE_ATTR_SESSION_STATE, mqfuse_conn_state(fc))) {
		WARN_ON_ONCE(1);	/* mqfuse_nl_event_size() is wrong */
		nlmsg_free(msg);
		goto lost;
	}
	genlmsg_end(msg, hdr);
	/* -ESRCH: the last listener left since the check; nothing lost */
	genlmsg_multicast(&mqfuse_genl_family, msg, 0, MQFUSE_NL_GRP_EVENTS, GFP_KERNEL);
	return;

lost:
	/* the listeners' next recvmsg() fails ENOBUFS: they must resync */
	genl_set_err(&mqfuse_genl_family, &init_net, 0, MQFUSE_NL_GRP_EVENTS, -ENOBUFS);
}

/* SET_SESSION needs its own policy: a full genl_ops (small ops have none). */
static const struct genl_ops mqfuse_genl_full_ops[] = {
	{
		.cmd	= MQFUSE_CMD_SET_SESSION,
		.doit	= mqfuse_nl_set_session,
		.policy	= mqfuse_genl_set_policy,
		.maxattr = MQFUSE_ATTR_MAX,
		.flags	= GENL_ADMIN_PERM,	/* CAP_NET_ADMIN */
	},
};

static const struct genl_small_ops mqfuse_genl_ops[] = {
	{
		.cmd	= MQFUSE_CMD_GET_VERSION,
		.doit	= mqfuse_nl_get_version,
	},
	{
		.cmd	= MQFUSE_CMD_GET_SESSION,
		.doit	= mqfuse_nl_get_session,
		.dumpit	= mqfuse_nl_dump_sessions,
	},
	{
		.cmd	= MQFUSE_CMD_ABORT,
		.doit	= mqfuse_nl_abort,
		.flags	= GENL_ADMIN_PERM,	/* CAP_NET_ADMIN */
	},
};

static struct genl_family mqfuse_genl_family __ro_after_init = {
	.name		= MQFUSE_GENL_NAME,
	.version	= MQFUSE_GENL_VERSION,
	.maxattr	= MQFUSE_ATTR_MAX,
	.policy		= mqfuse_genl_policy,
	.module		= THIS_MODULE,
	.small_ops	= mqfuse_genl_ops,
	.n_small_ops	= ARRAY_SIZE(mqfuse_genl_ops),
	.ops		= mqfuse_genl_full_ops,
	.n_ops		= ARRAY_SIZE(mqfuse_genl_full_ops),
	.mcgrps		= mqfuse_genl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(mqfuse_genl_mcgrps),
	/*
	 * Every command parses strictly (no .validate flags): unknown
	 * attributes, wrong lengths and trailing data are refused.
	 * resv_start_op only spares GET_VERSION, the older command, the
	 * check that genlmsghdr.reserved is 0.
	 */
	.resv_start_op	= MQFUSE_CMD_GET_SESSION,
};

int mqfuse_netlink_init(void)
{
	/* cb->args holds a session id */
	BUILD_BUG_ON(sizeof(((struct netlink_callback *)NULL)->args[0]) < sizeof(u64));
	return genl_register_family(&mqfuse_genl_family);
}

void mqfuse_netlink_exit(void)
{
	genl_unregister_family(&mqfuse_genl_family);
}
