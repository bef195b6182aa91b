// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: request lifecycle — allocation, credentials, synchronous wait
 * with interrupt/kill handling, asynchronous completion.
 *
 * Ownership: a request has one reference held by "the queue" from
 * submission until it reaches DONE or ABORTED (whoever moves it there
 * calls mqfuse_req_end(), which drops that reference), plus one held by
 * a synchronous submitter until it has read the result.
 */
#include "mqfuse_i.h"
#include <linux/pid_namespace.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

static struct kmem_cache *mqfuse_req_cachep;

/* Allowed transitions: bit (1 << to) set in mqfuse_req_next[from]. */
static const unsigned int mqfuse_req_next[] = {
	[MQFUSE_REQ_NEW]	= BIT(MQFUSE_REQ_QUEUED) | BIT(MQFUSE_REQ_ABORTED),
	[MQFUSE_REQ_QUEUED]	= BIT(MQFUSE_REQ_READING) | BIT(MQFUSE_REQ_ABORTED),
	[MQFUSE_REQ_READING]	= BIT(MQFUSE_REQ_IN_DAEMON) | BIT(MQFUSE_REQ_QUEUED) |
				  BIT(MQFUSE_REQ_ABORTED) | BIT(MQFUSE_REQ_DONE),
	/* back to QUEUED: re-queued for replay after a daemon loss (recovery) */
	[MQFUSE_REQ_IN_DAEMON]	= BIT(MQFUSE_REQ_REPLYING) | BIT(MQFUSE_REQ_ABORTED) |
				  BIT(MQFUSE_REQ_QUEUED),
	[MQFUSE_REQ_REPLYING]	= BIT(MQFUSE_REQ_DONE) | BIT(MQFUSE_REQ_ABORTED),
	[MQFUSE_REQ_DONE]	= 0,
	[MQFUSE_REQ_ABORTED]	= 0,
};

void mqfuse_req_set_state(struct mqfuse_req *req, enum mqfuse_req_state state)
{
	if (req->q)
		lockdep_assert_held(&req->q->lock);
	WARN_ON_ONCE(!(mqfuse_req_next[req->state] & BIT(state)));
	if (state == MQFUSE_REQ_DONE || state == MQFUSE_REQ_ABORTED)
		/* result first; pairs with smp_load_acquire() in mqfuse_req_finished() */
		smp_store_release(&req->state, state);
	else
		req->state = state;
}

void mqfuse_args_creds_fill(struct mqfuse_conn *fc, struct fuse_in_header *ih)
{
	ih->uid = from_kuid_munged(fc->user_ns, current_fsuid());
	ih->gid = from_kgid_munged(fc->user_ns, current_fsgid());
	ih->pid = pid_nr_ns(task_pid(current), fc->pid_ns);
}

/*
 * Allocate a request for @args. Waits (killable) for the INIT reply unless
 * the caller forces; fails with -ENOTCONN once the session is aborted.
 */
struct mqfuse_req *mqfuse_req_alloc(struct mqfuse_conn *fc, struct mqfuse_args *args,
				    gfp_t gfp)
{
	struct mqfuse_req *req;
	unsigned int i;
	int err;

	if (mqfuse_conn_state(fc) == MQFUSE_CONN_INIT && args->opcode != FUSE_INIT) {
		if (args->force)
			wait_event(fc->init_waitq,
				   mqfuse_conn_state(fc) != MQFUSE_CONN_INIT);
		else {
			err = wait_event_killable(fc->init_waitq,
						  mqfuse_conn_state(fc) != MQFUSE_CONN_INIT);
			if (err)
				return ERR_PTR(-EINTR);
		}
	}
	if (!mqfuse_conn_usable(fc))
		return ERR_PTR(-ENOTCONN);

	req = kmem_cache_zalloc(mqfuse_req_cachep, gfp);
	if (!req)
		return ERR_PTR(-ENOMEM);
	refcount_set(&req->ref, 1);
	req->fc = fc;
	INIT_LIST_HEAD(&req->list);
	INIT_HLIST_NODE(&req->hash);
	INIT_LIST_HEAD(&req->intr_entry);
	init_waitqueue_head(&req->waitq);
	req->state = MQFUSE_REQ_NEW;
	req->args = args;
	req->in_h.opcode = args->opcode;
	req->in_h.nodeid = args->nodeid;
	if (!args->nocreds)
		mqfuse_args_creds_fill(fc, &req->in_h);
	/* what an abandoned reply needs once @args is gone (struct mqfuse_req) */
	req->nref = mqfuse_node_ref_dup(args->nref);
	req->release_flags = args->release_flags;
	for (i = 0; i < args->out_numargs; i++)
		req->out_size += args->out_args[i].size;
	req->out_argvar = args->out_argvar;
	/*
	 * Everything the daemon answers can be delivered again to a new
	 * daemon: the arguments stay with the request until it ends. Not
	 * INIT (a session is never initialized twice) and not what has no
	 * reply (the kernel cannot know whether it was applied).
	 */
	if (args->opcode != FUSE_INIT && !args->noreply)
		set_bit(MQFUSE_REQ_REPLAYABLE, &req->flags);
	atomic_inc(&fc->nr_reqs);
	return req;
}

void mqfuse_req_put(struct mqfuse_req *req)
{
	if (refcount_dec_and_test(&req->ref)) {
		/* may queue the node's FORGET: never under a queue lock */
		mqfuse_node_ref_put(req->nref);
		atomic_dec(&req->fc->nr_reqs);
		kmem_cache_free(mqfuse_req_cachep, req);
	}
}

/*
 * The request reached DONE or ABORTED and is on no list: notify the
 * submitter and drop the queue's reference. Never called under q->lock.
 */
void mqfuse_req_end(struct mqfuse_req *req)
{
	struct mqfuse_args *args = req->args;

	/*
	 * The result was written before the final state (a sync waiter may
	 * already be reading it): nothing here may change it.
	 */
	WARN_ON_ONCE(req->state == MQFUSE_REQ_ABORTED && !req->out_h.error);
	if (test_bit(MQFUSE_REQ_BACKGROUND, &req->flags)) {
		/*
		 * Free the slot first: ->end may submit (e.g. RELEASE on the
		 * last file reference) and runs in a daemon thread here. Its
		 * allocations (GFP_KERNEL | __GFP_NOFAIL for RELEASE) must not
		 * enter fs reclaim: evicting an inode there may wait for pages
		 * only this thread can unlock.
		 */
		mqfuse_queue_bg_release(req);
		if (args->end) {
			unsigned int nofs = memalloc_nofs_save();

			args->end(req->fc, args, req->out_h.error);
			memalloc_nofs_restore(nofs);
		}
	} else {
		wake_up(&req->waitq);
	}
	mqfuse_req_put(req);
}

static bool mqfuse_req_finished(struct mqfuse_req *req)
{
	/* pairs with smp_store_release() in mqfuse_req_set_state() */
	enum mqfuse_req_state s = smp_load_acquire(&req->state);

	return s == MQFUSE_REQ_DONE || s == MQFUSE_REQ_ABORTED;
}

/*
 * A forced request (FLUSH at close) of a task that is exiting, typically
 * killed, on a recovery= mount: it must not wait for a daemon that may
 * come back only after recovery= seconds, or never. Its SIGKILL has been
 * consumed, so check the session instead, every 100 ms: while ORPHANED
 * the request is withdrawn like a killed waiter's (it is queued: there is
 * no daemon to hold it). The FLUSH is then not delivered; the POSIX locks
 * it would have released belonged to the daemon that is gone.
 */
static int mqfuse_req_wait_exiting(struct mqfuse_req *req)
{
	struct mqfuse_conn *fc = req->fc;

	while (!wait_event_timeout(req->waitq, mqfuse_req_finished(req), HZ / 10)) {
		if (mqfuse_conn_state(fc) == MQFUSE_CONN_ORPHANED &&
		    mqfuse_queue_abandon(req, true))
			return -EINTR;
	}
	return 0;
}

/* A killed waiter may try mqfuse_queue_abandon() again. */
static bool mqfuse_req_may_abandon(struct mqfuse_req *req, bool queued_only)
{
	enum mqfuse_req_state s = READ_ONCE(req->state);

	return s == MQFUSE_REQ_QUEUED || (!queued_only && s == MQFUSE_REQ_IN_DAEMON);
}

/*
 * The waiter has a fatal signal pending: leave as soon as the request can
 * be abandoned. While it is being copied (READING, REPLYING) or, for a
 * forced request (@queued_only), while a daemon holds it, wait without
 * being woken by the signal: the reader wakes us when the copy is done
 * (MQFUSE_REQ_KILLED), mqfuse_queues_requeue() when a lost daemon's
 * request is back in the queue, and the end of the request in any case.
 */
static int mqfuse_req_wait_killed(struct mqfuse_req *req, bool queued_only)
{
	for (;;) {
		if (mqfuse_queue_abandon(req, queued_only))
			return -EINTR;
		wait_event(req->waitq, mqfuse_req_finished(req) ||
				       mqfuse_req_may_abandon(req, queued_only));
		if (mqfuse_req_finished(req))
			return 0;
	}
}

/*
 * Wait for the reply. A signal sends FUSE_INTERRUPT (if the daemon has the
 * request); a fatal signal abandons the request: if still queued it is
 * withdrawn, if the daemon has it the reply will be discarded.
 *
 * A forced request (FLUSH at close, writeback) is delivered once the
 * daemon has it; without recovery= it waits for the reply (the daemon
 * leaving aborts it). With recovery= a daemon may be gone for recovery=
 * seconds, so a killed waiter withdraws a forced request that is queued,
 * also when it comes back to the queue from a lost daemon.
 * Returns 0 when finished, -EINTR when abandoned.
 */
static int mqfuse_req_wait(struct mqfuse_req *req)
{
	struct mqfuse_conn *fc = req->fc;
	bool force = req->args->force;

	if (!force && !READ_ONCE(fc->no_interrupt)) {
		if (!wait_event_interruptible(req->waitq, mqfuse_req_finished(req)))
			return 0;
		set_bit(MQFUSE_REQ_INTERRUPTED, &req->flags);
		/* pairs with the reader's test after moving to IN_DAEMON */
		smp_mb__after_atomic();
		mqfuse_queue_interrupt(req);
	}
	/* its SIGKILL is consumed: the session state decides instead */
	if (force && (current->flags & PF_EXITING) && READ_ONCE(fc->opts.recovery_s))
		return mqfuse_req_wait_exiting(req);
	if (!force || READ_ONCE(fc->opts.recovery_s)) {
		if (!wait_event_killable(req->waitq, mqfuse_req_finished(req)))
			return 0;
		return mqfuse_req_wait_killed(req, force);
	}
	wait_event(req->waitq, mqfuse_req_finished(req));
	return 0;
}

/*
 * Send @args and wait for the reply. Returns a negative errno, or for
 * a variable-size last out arg its actual size, else 0.
 */
ssize_t mqfuse_simple_request(struct mqfuse_conn *fc, struct mqfuse_args *args)
{
	struct mqfuse_req *req;
	ssize_t ret;

	req = mqfuse_req_alloc(fc, args, GFP_KERNEL | (args->force ? __GFP_NOFAIL : 0));
	if (IS_ERR(req))
		return PTR_ERR(req);
	refcount_inc(&req->ref);	/* the queue's reference */
	ret = mqfuse_queue_submit(req);
	if (ret) {
		mqfuse_req_put(req);
		mqfuse_req_put(req);
		return ret;
	}
	ret = mqfuse_req_wait(req);
	if (!ret) {
		ret = req->out_h.error;
		if (!ret && args->out_argvar && args->out_numargs)
			ret = args->out_args[args->out_numargs - 1].size;
	}
	mqfuse_req_put(req);
	return ret;
}

/*
 * Queue @args without waiting; args->end runs exactly once, also when
 * queueing fails (with the error), so callers have one cleanup path.
 */
int mqfuse_simple_background(struct mqfuse_conn *fc, struct mqfuse_args *args,
			     gfp_t gfp)
{
	struct mqfuse_req *req;
	int err;

	req = mqfuse_req_alloc(fc, args, gfp);
	if (IS_ERR(req)) {
		err = PTR_ERR(req);
		goto fail;
	}
	set_bit(MQFUSE_REQ_BACKGROUND, &req->flags);
	if (!gfpflags_allow_blocking(gfp))
		set_bit(MQFUSE_REQ_BG_NOWAIT, &req->flags);
	err = mqfuse_queue_submit(req);
	if (err) {
		mqfuse_req_put(req);
		goto fail;
	}
	return 0;
fail:
	if (args->end)
		args->end(fc, args, err);
	return err;
}

int mqfuse_req_init_module(void)
{
	mqfuse_req_cachep = kmem_cache_create("mqfuse_v" MQFUSE_STR(MQFUSE_GEN) "_req",
					      sizeof(struct mqfuse_req), 0,
					      SLAB_HWCACHE_ALIGN, NULL);
	return mqfuse_req_cachep ? 0 : -ENOMEM;
}

void mqfuse_req_exit_module(void)
{
	kmem_cache_destroy(mqfuse_req_cachep);
}
