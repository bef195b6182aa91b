// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: per-CPU request queues.
 *
 * A session has nr_queues queues; a submitter uses the queue its CPU maps
 * to (cpu_to_queue). Each queue has its own lock, pending FIFO, forget
 * list, interrupt list and processing hash (requests the daemon holds,
 * keyed by unique id). A unique id encodes its queue index, so a reply
 * locks only the queue that owns the request.
 *
 * Reader priority inside a queue: INTERRUPTs first (they unblock
 * sleeping tasks), then normal requests, with a forget batch forced
 * every MQFUSE_FORGET_EVERY requests so neither kind starves the other.
 */
#include "mqfuse_i.h"
#include <linux/hash.h>
#include <linux/hashtable.h>
#include <linux/list_sort.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#define MQFUSE_FORGET_EVERY	8

static unsigned int mqfuse_hash_unique(u64 unique)
{
	return hash_64(unique, MQFUSE_PQ_HASH_BITS);
}

int mqfuse_queues_init(struct mqfuse_conn *fc, unsigned int nr)
{
	unsigned int i, cpu;

	/* up to MQFUSE_MAX_QUEUES of a few KiB each: not one high-order page run */
	fc->queues = kvcalloc(nr, sizeof(*fc->queues), GFP_KERNEL);
	if (!fc->queues)
		return -ENOMEM;
	fc->cpu_to_queue = kcalloc(nr_cpu_ids, sizeof(*fc->cpu_to_queue), GFP_KERNEL);
	if (!fc->cpu_to_queue) {
		kvfree(fc->queues);
		fc->queues = NULL;
		return -ENOMEM;
	}
	fc->nr_queues = nr;
	for (i = 0; i < nr; i++) {
		struct mqfuse_queue *q = &fc->queues[i];

		spin_lock_init(&q->lock);
		q->connected = true;
		INIT_LIST_HEAD(&q->pending);
		INIT_LIST_HEAD(&q->interrupts);
		INIT_LIST_HEAD(&q->forgets);
		__hash_init(q->processing, ARRAY_SIZE(q->processing));
		init_waitqueue_head(&q->waitq);
		init_waitqueue_head(&q->bg_waitq);
		q->max_background = MQFUSE_DEFAULT_MAX_BACKGROUND;
		q->fc = fc;
		q->index = i;
		q->next_seq = 1;
	}
	/* Spread CPUs evenly; consecutive CPU ids (often SMT siblings) share. */
	for_each_possible_cpu(cpu)
		fc->cpu_to_queue[cpu] = (u64)cpu * nr / nr_cpu_ids;
	return 0;
}

void mqfuse_queues_free(struct mqfuse_conn *fc)
{
	kfree(fc->cpu_to_queue);
	kvfree(fc->queues);
	fc->queues = NULL;
	fc->cpu_to_queue = NULL;
}

struct mqfuse_queue *mqfuse_queue_of_cpu(struct mqfuse_conn *fc)
{
	unsigned int cpu = raw_smp_processor_id();

	return &fc->queues[fc->cpu_to_queue[cpu]];
}

static u64 mqfuse_queue_next_unique(struct mqfuse_queue *q)
{
	lockdep_assert_held(&q->lock);
	return (q->next_seq++ << MQFUSE_UNIQUE_SEQSHIFT) |
	       ((u64)q->index << MQFUSE_UNIQUE_QSHIFT);
}

static size_t mqfuse_args_in_size(const struct mqfuse_args *args)
{
	size_t len = sizeof(struct fuse_in_header);
	unsigned int i;

	for (i = 0; i < args->in_numargs; i++)
		len += args->in_args[i].size;
	return len;
}

/*
 * Move @req to a final state and off the interrupt list. The result
 * (@error, and any reply payload copied before) is written first: the
 * state store is a release (mqfuse_req_set_state()), paired with the
 * acquire in mqfuse_req_finished(), so a waiter that sees DONE/ABORTED
 * without the lock also sees the error and the filled output.
 * An ABORTED request always carries an error (-ENOTCONN by default).
 */
static void mqfuse_req_finish_locked(struct mqfuse_req *req,
				     enum mqfuse_req_state state, int error)
{
	lockdep_assert_held(&req->q->lock);
	if (state == MQFUSE_REQ_ABORTED && !error)
		error = -ENOTCONN;
	if (error)
		req->out_h.error = error;
	list_del_init(&req->intr_entry);
	mqfuse_req_set_state(req, state);
}

/* Room for one more background request on @q (lockless hint). */
static bool mqfuse_queue_bg_room(struct mqfuse_queue *q)
{
	return READ_ONCE(q->nr_background) < READ_ONCE(q->max_background) ||
	       !READ_ONCE(q->connected);
}

/*
 * Take a background slot on @q for @req (a page-vector request) before it
 * is queued.
 *
 * A background request pins its pages (readahead, writeback) until the
 * daemon answers; the limit bounds what a slow daemon can pin. A caller
 * whose gfp cannot block (no __GFP_DIRECT_RECLAIM: atomic context) goes
 * over the limit rather than sleep or fail; today's readahead and
 * writeback callers all may sleep. Writeback (args->force) waits in
 * TASK_IDLE: only a reply or the abort frees it, and neither a signal nor
 * the hung-task detector may cut it; readahead waits killable.
 */
static int mqfuse_queue_bg_reserve(struct mqfuse_queue *q, struct mqfuse_req *req)
{
	int err = 0;

	spin_lock(&q->lock);
	for (;;) {
		if (!q->connected) {
			err = -ENOTCONN;
			break;
		}
		if (q->nr_background < q->max_background ||
		    test_bit(MQFUSE_REQ_BG_NOWAIT, &req->flags)) {
			q->nr_background++;
			set_bit(MQFUSE_REQ_BG_SLOT, &req->flags);
			break;
		}
		q->stats.bg_waits++;
		spin_unlock(&q->lock);
		if (req->args->force)
			wait_event_idle(q->bg_waitq, mqfuse_queue_bg_room(q));
		else if (wait_event_killable(q->bg_waitq, mqfuse_queue_bg_room(q)))
			return -EINTR;
		spin_lock(&q->lock);
	}
	spin_unlock(&q->lock);
	return err;
}

/* A background request ended: give its slot back. */
void mqfuse_queue_bg_release(struct mqfuse_req *req)
{
	struct mqfuse_queue *q = req->q;

	if (!test_and_clear_bit(MQFUSE_REQ_BG_SLOT, &req->flags))
		return;
	spin_lock(&q->lock);
	q->nr_background--;
	spin_unlock(&q->lock);
	/* the barrier in wq_has_sleeper() orders the decrement before the check */
	if (wq_has_sleeper(&q->bg_waitq))
		wake_up(&q->bg_waitq);
}

/*
 * Set the session's background limit from the INIT reply (FUSE semantics:
 * 0 means the default). Each queue gets its share, at least one.
 */
void mqfuse_queues_set_max_background(struct mqfuse_conn *fc, unsigned int max_bg)
{
	unsigned int i, per_queue;

	if (!max_bg)
		max_bg = MQFUSE_DEFAULT_MAX_BACKGROUND;
	max_bg = min_t(unsigned int, max_bg, MQFUSE_MAX_BACKGROUND_LIMIT);
	WRITE_ONCE(fc->max_background, max_bg);
	per_queue = max(1U, DIV_ROUND_UP(max_bg, fc->nr_queues));
	for (i = 0; i < fc->nr_queues; i++) {
		struct mqfuse_queue *q = &fc->queues[i];

		spin_lock(&q->lock);
		WRITE_ONCE(q->max_background, per_queue);
		spin_unlock(&q->lock);
		wake_up_all(&q->bg_waitq);
	}
}

int mqfuse_queue_submit(struct mqfuse_req *req)
{
	struct mqfuse_conn *fc = req->fc;
	struct mqfuse_queue *q;

	/* INIT must be visible to any reader, bound or not: always queue 0. */
	q = req->in_h.opcode == FUSE_INIT ? &fc->queues[0] : mqfuse_queue_of_cpu(fc);
	req->q = q;
	req->in_h.len = mqfuse_args_in_size(req->args);

	/*
	 * Only requests carrying a page vector (readahead, writeback) pin
	 * memory and take a slot. The others (INIT, RELEASE) must not wait:
	 * RELEASE is also sent from the completion of another request, that
	 * is from a daemon thread's write(), which must never sleep on the
	 * daemon.
	 */
	if (test_bit(MQFUSE_REQ_BACKGROUND, &req->flags) &&
	    (req->args->in_pages || req->args->out_pages)) {
		int err = mqfuse_queue_bg_reserve(q, req);

		if (err)
			return err;
	}
	spin_lock(&q->lock);
	if (!q->connected) {
		spin_unlock(&q->lock);
		mqfuse_queue_bg_release(req);
		return -ENOTCONN;
	}
	req->in_h.unique = mqfuse_queue_next_unique(q);
	mqfuse_req_set_state(req, MQFUSE_REQ_QUEUED);
	req->queued_ns = ktime_get_ns();
	list_add_tail(&req->list, &q->pending);
	q->nr_pending++;
	q->stats.requests++;
	spin_unlock(&q->lock);

	fc->tops->wake(q);
	return 0;
}

/* The waiter got a signal: tell the daemon, if it holds the request. */
void mqfuse_queue_interrupt(struct mqfuse_req *req)
{
	struct mqfuse_queue *q = req->q;
	bool queued = false;

	spin_lock(&q->lock);
	if (req->state == MQFUSE_REQ_IN_DAEMON && list_empty(&req->intr_entry) &&
	    !test_bit(MQFUSE_REQ_INTR_SENT, &req->flags)) {
		list_add_tail(&req->intr_entry, &q->interrupts);
		queued = true;
	}
	spin_unlock(&q->lock);
	if (queued)
		req->fc->tops->wake(q);
}

/*
 * The waiter was killed. Returns true if it may return now: the request
 * was withdrawn before the daemon saw it, or (not @queued_only) the
 * daemon has it and its reply will be discarded. Returns false while a
 * reader/writer copies it, or (@queued_only: a forced request, which the
 * daemon must see once it has it) while a daemon holds it; the request is
 * then marked MQFUSE_REQ_KILLED so that the waiter is woken to try again
 * when it becomes IN_DAEMON or is re-queued.
 */
bool mqfuse_queue_abandon(struct mqfuse_req *req, bool queued_only)
{
	struct mqfuse_queue *q = req->q;
	bool ret = false, end = false;

	spin_lock(&q->lock);
	switch (req->state) {
	case MQFUSE_REQ_QUEUED:
		list_del_init(&req->list);
		q->nr_pending--;
		mqfuse_req_finish_locked(req, MQFUSE_REQ_ABORTED, -EINTR);
		end = true;
		ret = true;
		break;
	case MQFUSE_REQ_IN_DAEMON:
		if (queued_only) {
			set_bit(MQFUSE_REQ_KILLED, &req->flags);
			break;
		}
		/* The queue keeps its reference until the reply or an abort. */
		set_bit(MQFUSE_REQ_ABANDONED, &req->flags);
		ret = true;
		break;
	case MQFUSE_REQ_READING:
		set_bit(MQFUSE_REQ_KILLED, &req->flags);
		break;
	default:
		break;
	}
	spin_unlock(&q->lock);
	if (end)
		mqfuse_req_end(req);
	return ret;
}

/* Queue a FORGET for @nodeid; takes ownership of @forget. */
void mqfuse_queue_forget(struct mqfuse_conn *fc, struct mqfuse_forget *forget,
			 u64 nodeid, u64 nlookup)
{
	struct mqfuse_queue *q = mqfuse_queue_of_cpu(fc);

	forget->nodeid = nodeid;
	forget->nlookup = nlookup;
	spin_lock(&q->lock);
	if (!q->connected) {
		spin_unlock(&q->lock);
		kfree(forget);
		return;
	}
	list_add_tail(&forget->list, &q->forgets);
	q->nr_forgets++;
	spin_unlock(&q->lock);
	fc->tops->wake(q);
}

/*
 * Lockless hint for wait conditions, poll and mqfuse_queue_take();
 * confirmed under the lock. A false "empty" is harmless: readers recheck
 * after prepare_to_wait(), and submitters wake them after queueing
 * (mqfuse_chardev_wake()).
 */
bool mqfuse_queue_has_work(struct mqfuse_queue *q)
{
	return !list_empty_careful(&q->pending) || READ_ONCE(q->nr_forgets) ||
	       !list_empty_careful(&q->interrupts);
}
EXPORT_SYMBOL_GPL(mqfuse_queue_has_work);

/*
 * Take the next message for a reader. Returns false if the queue is
 * empty. A request comes back in READING state; the reader must call
 * mqfuse_queue_read_done() for it.
 */
bool mqfuse_queue_take(struct mqfuse_queue *q, struct mqfuse_take *t,
		       unsigned int max_forgets, bool steal)
{
	struct mqfuse_req *req;

	t->kind = MQFUSE_TAKE_NONE;
	t->q = q;
	/* most queues of a balanced or unbound scan are empty: skip the lock */
	if (!mqfuse_queue_has_work(q))
		return false;
	spin_lock(&q->lock);
	if (!list_empty(&q->interrupts)) {
		req = list_first_entry(&q->interrupts, struct mqfuse_req, intr_entry);
		list_del_init(&req->intr_entry);
		set_bit(MQFUSE_REQ_INTR_SENT, &req->flags);
		t->kind = MQFUSE_TAKE_INTERRUPT;
		/* the unique the daemon saw the request under */
		t->intr_unique = req->in_h.unique;
		if (test_bit(MQFUSE_REQ_REPLAY, &req->flags))
			t->intr_unique |= MQFUSE_UNIQUE_REPLAY;
		t->unique = t->intr_unique | MQFUSE_INT_REQ_BIT;
		q->stats.interrupts++;
	} else if (q->nr_forgets && max_forgets &&
		   (list_empty(&q->pending) || q->forget_credit >= MQFUSE_FORGET_EVERY)) {
		struct mqfuse_forget *f, *tmp;

		INIT_LIST_HEAD(&t->forgets);
		t->nr_forgets = 0;
		list_for_each_entry_safe(f, tmp, &q->forgets, list) {
			if (t->nr_forgets == max_forgets)
				break;
			list_move_tail(&f->list, &t->forgets);
			t->nr_forgets++;
		}
		q->nr_forgets -= t->nr_forgets;
		q->stats.forgets += t->nr_forgets;
		q->forget_credit = 0;
		t->unique = mqfuse_queue_next_unique(q);
		t->kind = MQFUSE_TAKE_FORGETS;
	} else if (!list_empty(&q->pending)) {
		req = list_first_entry(&q->pending, struct mqfuse_req, list);
		list_del_init(&req->list);
		q->nr_pending--;
		q->forget_credit++;
		mqfuse_req_set_state(req, MQFUSE_REQ_READING);
		q->stats.wait_ns += ktime_get_ns() - req->queued_ns;
		t->kind = MQFUSE_TAKE_REQ;
		t->req = req;
		if (steal)
			q->stats.stolen++;
	}
	spin_unlock(&q->lock);
	return t->kind != MQFUSE_TAKE_NONE;
}
EXPORT_SYMBOL_GPL(mqfuse_queue_take);

/*
 * The reader finished copying @req out. @err: the copy failed, fail the
 * request with it. Otherwise the request now waits for its reply.
 */
void mqfuse_queue_read_done(struct mqfuse_req *req, int err)
{
	struct mqfuse_queue *q = req->q;
	bool end = false, wake = false;

	spin_lock(&q->lock);
	if (err || !q->connected || req->args->noreply) {
		mqfuse_req_finish_locked(req, err || !q->connected ?
					 MQFUSE_REQ_ABORTED : MQFUSE_REQ_DONE, err);
		if (err)
			q->stats.errors++;
		end = true;
	} else {
		q->stats.bytes_in += req->in_h.len;
		mqfuse_req_set_state(req, MQFUSE_REQ_IN_DAEMON);
		hlist_add_head(&req->hash,
			       &q->processing[mqfuse_hash_unique(req->in_h.unique)]);
		q->nr_in_daemon++;
		if (q->nr_in_daemon > q->stats.in_daemon_max)
			q->stats.in_daemon_max = q->nr_in_daemon;
		/* pairs with smp_mb__after_atomic() in mqfuse_req_wait() */
		smp_mb();
		if (test_bit(MQFUSE_REQ_INTERRUPTED, &req->flags) &&
		    list_empty(&req->intr_entry)) {
			list_add_tail(&req->intr_entry, &q->interrupts);
			wake = true;
		}
		/*
		 * A waiter killed during the copy may abandon it now. Under
		 * the lock: once unlocked the request may be answered and
		 * freed.
		 */
		if (test_bit(MQFUSE_REQ_KILLED, &req->flags))
			wake_up(&req->waitq);
	}
	spin_unlock(&q->lock);
	/*
	 * Once unlocked, an IN_DAEMON request may be answered and freed by
	 * another daemon thread at any moment: do not touch @req again.
	 */
	if (end)
		mqfuse_req_end(req);
	else if (wake)
		q->fc->tops->wake(q);
}
EXPORT_SYMBOL_GPL(mqfuse_queue_read_done);

static struct mqfuse_queue *mqfuse_queue_of_unique(struct mqfuse_conn *fc, u64 unique)
{
	unsigned int idx = (unique >> MQFUSE_UNIQUE_QSHIFT) &
			   ((1U << MQFUSE_UNIQUE_QBITS) - 1);

	if (idx >= fc->nr_queues)
		return NULL;
	return &fc->queues[idx];
}

static struct mqfuse_req *mqfuse_queue_lookup(struct mqfuse_queue *q, u64 unique)
{
	struct mqfuse_req *req;

	lockdep_assert_held(&q->lock);
	/* a replayed request may be answered with or without the replay bit */
	unique &= ~MQFUSE_UNIQUE_REPLAY;
	hlist_for_each_entry(req, &q->processing[mqfuse_hash_unique(unique)], hash)
		if (req->in_h.unique == unique)
			return req;
	return NULL;
}

/*
 * Find the request a reply is for and move it to REPLYING; the caller
 * then owns the queue's reference and must call mqfuse_queue_reply_done().
 */
struct mqfuse_req *mqfuse_queue_find_reply(struct mqfuse_conn *fc, u64 unique)
{
	struct mqfuse_queue *q = mqfuse_queue_of_unique(fc, unique);
	struct mqfuse_req *req;

	if (!q)
		return NULL;
	spin_lock(&q->lock);
	req = mqfuse_queue_lookup(q, unique);
	if (req) {
		hlist_del_init(&req->hash);
		q->nr_in_daemon--;
		mqfuse_req_set_state(req, MQFUSE_REQ_REPLYING);
	}
	spin_unlock(&q->lock);
	return req;
}

/* The writer finished with @req (@err: the reply was bad). */
void mqfuse_queue_reply_done(struct mqfuse_req *req, int err, size_t bytes)
{
	struct mqfuse_queue *q = req->q;

	spin_lock(&q->lock);
	if (err)
		q->stats.errors++;
	q->stats.bytes_out += bytes;
	mqfuse_req_finish_locked(req, MQFUSE_REQ_DONE, err);
	spin_unlock(&q->lock);
	mqfuse_req_end(req);
}

/* The daemon answered an INTERRUPT with EAGAIN: send it again. */
void mqfuse_queue_requeue_interrupt(struct mqfuse_conn *fc, u64 unique)
{
	struct mqfuse_queue *q = mqfuse_queue_of_unique(fc, unique);
	struct mqfuse_req *req;
	bool queued = false;

	if (!q)
		return;
	spin_lock(&q->lock);
	req = mqfuse_queue_lookup(q, unique);
	if (req && list_empty(&req->intr_entry)) {
		list_add_tail(&req->intr_entry, &q->interrupts);
		queued = true;
	}
	spin_unlock(&q->lock);
	if (queued)
		fc->tops->wake(q);
}

/* Fail everything queued or in the daemon with -ENOTCONN; refuse new work. */
void mqfuse_queues_abort(struct mqfuse_conn *fc)
{
	unsigned int i, b;

	for (i = 0; i < fc->nr_queues; i++) {
		struct mqfuse_queue *q = &fc->queues[i];
		struct mqfuse_forget *f, *ftmp;
		struct mqfuse_req *req, *tmp;
		struct hlist_node *htmp;
		LIST_HEAD(dead);
		LIST_HEAD(forgets);

		spin_lock(&q->lock);
		q->connected = false;
		list_for_each_entry_safe(req, tmp, &q->pending, list) {
			list_move_tail(&req->list, &dead);
			mqfuse_req_finish_locked(req, MQFUSE_REQ_ABORTED, -ENOTCONN);
		}
		q->nr_pending = 0;
		for (b = 0; b < ARRAY_SIZE(q->processing); b++) {
			hlist_for_each_entry_safe(req, htmp, &q->processing[b], hash) {
				hlist_del_init(&req->hash);
				list_add_tail(&req->list, &dead);
				mqfuse_req_finish_locked(req, MQFUSE_REQ_ABORTED, -ENOTCONN);
			}
		}
		q->nr_in_daemon = 0;
		list_splice_init(&q->forgets, &forgets);
		q->nr_forgets = 0;
		spin_unlock(&q->lock);
		/* background submitters waiting for a slot see !connected */
		wake_up_all(&q->bg_waitq);

		list_for_each_entry_safe(f, ftmp, &forgets, list)
			kfree(f);
		/* already finished (error set) under the lock; only notify now */
		list_for_each_entry_safe(req, tmp, &dead, list) {
			list_del_init(&req->list);
			mqfuse_req_end(req);
		}
	}
}

static int mqfuse_req_cmp_unique(void *priv, const struct list_head *a,
				 const struct list_head *b)
{
	u64 ua = list_entry(a, struct mqfuse_req, list)->in_h.unique;
	u64 ub = list_entry(b, struct mqfuse_req, list)->in_h.unique;

	return ua < ub ? -1 : ua > ub;
}

/*
 * The device fd @reader went away: take every request it read and did not
 * answer (IN_DAEMON; a REPLYING one belongs to the writer copying its
 * reply in, on another fd: this one is being released, so it has no
 * write in progress). @err 0: re-queue it for replay (see
 * mqfuse_queues_requeue()); else end it with @err. Returns the number of
 * requests re-queued.
 */
static unsigned int mqfuse_queues_release_reader(struct mqfuse_conn *fc,
						 const void *reader, int err)
{
	unsigned int i, b, total = 0;

	for (i = 0; i < fc->nr_queues; i++) {
		struct mqfuse_queue *q = &fc->queues[i];
		struct mqfuse_req *req, *tmp;
		struct hlist_node *htmp;
		unsigned int nr = 0;
		LIST_HEAD(replay);
		LIST_HEAD(dead);

		spin_lock(&q->lock);
		if (!q->nr_in_daemon) {
			spin_unlock(&q->lock);
			continue;
		}
		for (b = 0; b < ARRAY_SIZE(q->processing); b++) {
			hlist_for_each_entry_safe(req, htmp, &q->processing[b], hash) {
				if (req->reader != reader)
					continue;
				hlist_del_init(&req->hash);
				q->nr_in_daemon--;
				req->reader = NULL;
				if (err || test_bit(MQFUSE_REQ_ABANDONED, &req->flags) ||
				    !test_bit(MQFUSE_REQ_REPLAYABLE, &req->flags)) {
					list_add_tail(&req->list, &dead);
					mqfuse_req_finish_locked(req, MQFUSE_REQ_ABORTED,
								 err ?: -ENOTCONN);
					q->stats.errors++;
					continue;
				}
				/* an INTERRUPT is sent again once it is read again */
				list_del_init(&req->intr_entry);
				clear_bit(MQFUSE_REQ_INTR_SENT, &req->flags);
				set_bit(MQFUSE_REQ_REPLAY, &req->flags);
				mqfuse_req_set_state(req, MQFUSE_REQ_QUEUED);
				req->queued_ns = ktime_get_ns();
				/*
				 * A killed waiter of a forced request (FLUSH) could
				 * not withdraw it from the daemon; it can now. Under
				 * the lock: once queued, it may be read and answered.
				 */
				if (test_bit(MQFUSE_REQ_KILLED, &req->flags))
					wake_up(&req->waitq);
				list_add_tail(&req->list, &replay);
				nr++;
			}
		}
		list_sort(NULL, &replay, mqfuse_req_cmp_unique);
		list_splice(&replay, &q->pending);
		q->nr_pending += nr;
		spin_unlock(&q->lock);

		list_for_each_entry_safe(req, tmp, &dead, list) {
			list_del_init(&req->list);
			mqfuse_req_end(req);
		}
		if (nr)
			fc->tops->wake(q);
		total += nr;
	}
	return total;
}

/*
 * recovery=: every request the gone fd @reader read and did not answer
 * goes back to the front of its queue, in submission order, marked
 * MQFUSE_REQ_REPLAY, for the next reader (another fd of the session, or
 * the daemon that attaches). What cannot be replayed ends now: abandoned
 * requests (the waiter is gone and so may be @args, which a replay would
 * read) and requests not marked REPLAYABLE. Returns the number of
 * requests re-queued.
 */
unsigned int mqfuse_queues_requeue(struct mqfuse_conn *fc, const void *reader)
{
	return mqfuse_queues_release_reader(fc, reader, 0);
}

/*
 * Without recovery=, the device fd @reader went away while other fds of
 * the session stay: nothing would ever answer what it read, so it ends
 * with @err (-ECONNABORTED, as FUSE ends a cloned device's processing
 * list) instead of waiting for an abort that may never come while the
 * session serves (forced FLUSH and writeback waiters, umount's sync).
 */
void mqfuse_queues_end_reader(struct mqfuse_conn *fc, const void *reader, int err)
{
	mqfuse_queues_release_reader(fc, reader, err);
}

void mqfuse_queue_fill_stats(struct mqfuse_queue *q, struct mqfuse_queue_snap *snap)
{
	spin_lock(&q->lock);
	snap->stats = q->stats;
	snap->pending = q->nr_pending;
	snap->in_daemon = q->nr_in_daemon;
	snap->background = q->nr_background;
	snap->max_background = q->max_background;
	spin_unlock(&q->lock);
}

/* A ring handed out @nr requests of @q in one RING_ENTER (ring.c). */
void mqfuse_queue_ring_batch(struct mqfuse_queue *q, unsigned int nr)
{
	spin_lock(&q->lock);
	q->stats.ring_batches++;
	q->stats.ring_requests += nr;
	spin_unlock(&q->lock);
}
