/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mqfuse internal header: one section per .c file.
 *
 * Object model (see Documentation/ and DESIGN.md §3):
 *
 *   struct mqfuse_conn   one per mount ("session"); outlives daemon fds.
 *   struct mqfuse_queue  nr_queues per session, one per CPU group.
 *   struct mqfuse_req    one FUSE request; lives on exactly one queue.
 *   struct mqfuse_dev    one per open /dev/mqfuse_vN bound to a session.
 *   struct mqfuse_inode  per inode state (nodeid, lookup count, TTLs).
 *   struct mqfuse_file   per open file handle (fh from the daemon).
 *
 * Lock order: inode_lock > mqfuse_inode.lock > mqfuse_queue.lock;
 * mqfuse_conn.lock is a leaf, never held together with a queue lock;
 * genl_mutex > mqfuse_sessions_lock; sb->s_umount > mqfuse_sessions_lock
 * (both taken in that order only) and mqfuse_sessions_lock > queue and
 * conn locks (sysfs.c); mqfuse_conn.event_lock > mqfuse_sessions_lock,
 * mqfuse_conn.lock; mqfuse_conn.event_lock > mqfuse_dev_bind_mutex (dev.c)
 * > mqfuse_conn.lock.
 */
#ifndef _MQFUSE_I_H
#define _MQFUSE_I_H

/* Must be the first include of every .c file so pr_fmt applies everywhere. */
#include "mqfuse.h"

#undef pr_fmt
#define pr_fmt(fmt) MQFUSE_NAME ": " fmt

#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fuse.h>
#include <linux/kernel.h>
#include <linux/kobject.h>
#include <linux/llist.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/rwsem.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uio.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xattr.h>

#include "compat.h"

/*
 * Exported symbols carry the generation so two generations load side by
 * side: MQFUSE_SYM(foo) is mqfuse_v<GEN>_foo. Declare an exported function
 * once as "#define mqfuse_foo MQFUSE_SYM(foo)" and use the short name.
 */
#define __MQFUSE_PASTE(a, b, c)	a##b##c
#define MQFUSE_PASTE(a, b, c)	__MQFUSE_PASTE(a, b, c)
#define MQFUSE_SYM(name)	MQFUSE_PASTE(mqfuse_v, MQFUSE_GEN, _##name)

/* What mqfuse_virtio_v<GEN> (fs/virtio.c) uses of the core. */
#define mqfuse_queue_take		MQFUSE_SYM(queue_take)
#define mqfuse_queue_read_done		MQFUSE_SYM(queue_read_done)
#define mqfuse_queue_has_work		MQFUSE_SYM(queue_has_work)
#define mqfuse_dev_copy_req_out		MQFUSE_SYM(dev_copy_req_out)
#define mqfuse_dev_send_forgets		MQFUSE_SYM(dev_send_forgets)
#define mqfuse_dev_send_interrupt	MQFUSE_SYM(dev_send_interrupt)
#define mqfuse_dev_reply		MQFUSE_SYM(dev_reply)
#define mqfuse_conn_get			MQFUSE_SYM(conn_get)
#define mqfuse_conn_put			MQFUSE_SYM(conn_put)
#define mqfuse_conn_tryget		MQFUSE_SYM(conn_tryget)
#define mqfuse_conn_abort		MQFUSE_SYM(conn_abort)
#define mqfuse_virtio_init_fs_context	MQFUSE_SYM(virtio_init_fs_context)
#define mqfuse_virtio_kill_sb		MQFUSE_SYM(virtio_kill_sb)

/* Rate-limited warning about something a (possibly hostile) daemon did. */
#define mqfuse_bad_reply(fc, fmt, ...)						\
	pr_warn_ratelimited("session %llu: bad reply: " fmt,			\
			    (fc)->id, ##__VA_ARGS__)

/* ------------------------------------------------------------------ */
/* main.c */
/* Module parameters: defaults for new mounts, validated at load. */
extern unsigned int mqfuse_param_queues;
extern unsigned int mqfuse_param_max_pages;
extern unsigned int mqfuse_param_readdir_size;
extern unsigned int mqfuse_param_consistency;
extern unsigned int mqfuse_param_recovery;

#define MQFUSE_MAX_PAGES_LIMIT	2048		/* 8 MiB per request */
#define MQFUSE_MAX_QUEUES	256
#define MQFUSE_READDIR_MIN	4096
#define MQFUSE_READDIR_MAX	(128 * 1024)
#define MQFUSE_DEFAULT_MAX_PAGES 32		/* daemon without FUSE_MAX_PAGES */
#define MQFUSE_MIN_MAX_WRITE	4096		/* smaller max_write: reject daemon */
#define MQFUSE_NAME_MAX		1024		/* FUSE_NAME_MAX of the protocol */
#define MQFUSE_DINVAL_MAX	1024		/* deferred d_invalidate()s per connection */
#define MQFUSE_RECOVERY_MAX	86400		/* recovery=SECONDS upper bound (one day) */

/* Consistency modes; see Documentation/consistency.rst. */
enum mqfuse_consistency {
	MQFUSE_CONS_STRICT,
	MQFUSE_CONS_CTO,
	MQFUSE_CONS_CTO_WB,
	MQFUSE_CONS_RELAXED,
	MQFUSE_CONS_IMMUTABLE,
	MQFUSE_CONS_NR,
};
extern const char *const mqfuse_consistency_names[MQFUSE_CONS_NR];
int mqfuse_consistency_parse(const char *s);

/* ------------------------------------------------------------------ */
/* req.c: request lifecycle */

/*
 * Low bit of a unique id marks an INTERRUPT for the request with the
 * same id (wire convention shared with /dev/fuse). Bits 1..8 carry the
 * queue index so a reply finds its queue without a global lookup.
 */
#define MQFUSE_INT_REQ_BIT	1ULL
#define MQFUSE_UNIQUE_QSHIFT	1
#define MQFUSE_UNIQUE_QBITS	8
#define MQFUSE_UNIQUE_SEQSHIFT	(MQFUSE_UNIQUE_QSHIFT + MQFUSE_UNIQUE_QBITS)

/* One argument buffer of a request. */
struct mqfuse_arg {
	unsigned int size;	/* bytes; for a variable out arg: capacity, then actual */
	void *value;		/* kernel buffer (ignored for a page-vector arg) */
};

/* Where inside one page a page-vector argument starts and how long it is. */
struct mqfuse_page_desc {
	unsigned int offset;	/* byte offset inside the page */
	unsigned int length;	/* bytes in this page */
};

struct mqfuse_conn;
struct mqfuse_node_ref;

/*
 * What a caller asks for: opcode, nodeid, arguments. Embedded in a larger
 * caller structure for asynchronous requests (container_of in ->end).
 */
struct mqfuse_args {
	u64 nodeid;			/* target node */
	u32 opcode;			/* FUSE_* opcode */
	u8 in_numargs;			/* used entries of in_args */
	u8 out_numargs;			/* used entries of out_args */
	bool force:1;			/* must reach the daemon: no signals, no INIT wait errors */
	bool noreply:1;			/* daemon sends no reply (FORGET-like) */
	bool nocreds:1;			/* send uid/gid/pid 0 (RELEASE from any context) */
	bool out_argvar:1;		/* last out arg may be shorter than its size */
	bool in_pages:1;		/* last in arg is the page vector */
	bool out_pages:1;		/* last out arg is the page vector */
	bool user_pages:1;		/* pages are pinned user pages (direct I/O) */
	struct mqfuse_arg in_args[3];	/* request payload after fuse_in_header */
	struct mqfuse_arg out_args[2];	/* reply payload after fuse_out_header */
	struct page **pages;		/* page vector, or NULL */
	struct mqfuse_page_desc *descs;	/* one per page */
	unsigned int num_pages;		/* used entries of pages/descs */
	/* completion for background requests; @error is 0 or -errno */
	void (*end)(struct mqfuse_conn *fc, struct mqfuse_args *args, int error);
	/*
	 * OPEN/OPENDIR/CREATE: what a RELEASE needs if the waiter is killed
	 * and the daemon's handle arrives for nobody (see struct mqfuse_req).
	 */
	struct mqfuse_node_ref *nref;	/* node opened or NULL; the request takes its own ref */
	u32 release_flags;		/* O_* flags the RELEASE would carry */
};

/*
 * Argument setup helpers. mqfuse_args_in/out() fill entry @idx and set the
 * count to @idx + 1, so call them in increasing @idx order. Special fields
 * (out_argvar, page vectors, flags) are set explicitly by the caller.
 */
static inline void mqfuse_args_init(struct mqfuse_args *args, u32 opcode, u64 nodeid)
{
	args->opcode = opcode;
	args->nodeid = nodeid;
}

static inline void mqfuse_args_in(struct mqfuse_args *args, unsigned int idx,
				  unsigned int size, const void *value)
{
	args->in_numargs = idx + 1;
	args->in_args[idx].size = size;
	args->in_args[idx].value = (void *)value;
}

static inline void mqfuse_args_out(struct mqfuse_args *args, unsigned int idx,
				   unsigned int size, void *value)
{
	args->out_numargs = idx + 1;
	args->out_args[idx].size = size;
	args->out_args[idx].value = value;
}

/*
 * Request states. Every transition happens under the owning queue's lock;
 * mqfuse_req_set_state() warns once on a transition not listed here.
 * The move to DONE/ABORTED is a release store (out_h and the reply
 * payload are written before it); lockless readers use
 * smp_load_acquire() (mqfuse_req_finished()).
 */
enum mqfuse_req_state {
	MQFUSE_REQ_NEW,		/* allocated, not yet visible to the daemon */
	MQFUSE_REQ_QUEUED,	/* on queue->pending, waiting for a reader */
	MQFUSE_REQ_READING,	/* a reader is copying it out (on no list) */
	MQFUSE_REQ_IN_DAEMON,	/* in queue->processing, waiting for the reply */
	MQFUSE_REQ_REPLYING,	/* a writer is copying the reply in (on no list) */
	MQFUSE_REQ_DONE,	/* reply received (out_h.error may be an error) */
	MQFUSE_REQ_ABORTED,	/* failed without a reply (connection gone, killed) */
};

/* Bits of mqfuse_req.flags. */
enum {
	MQFUSE_REQ_BACKGROUND,	/* async: args->end runs on completion */
	MQFUSE_REQ_INTERRUPTED,	/* the waiter got a signal */
	MQFUSE_REQ_INTR_SENT,	/* an INTERRUPT was handed to the daemon */
	MQFUSE_REQ_ABANDONED,	/* waiter was killed: discard the reply */
	/*
	 * May be re-queued when the daemon that read it goes away (set at
	 * allocation: every request with a reply except INIT; see
	 * Documentation/recovery.rst, "What is replayed").
	 */
	MQFUSE_REQ_REPLAYABLE,
	MQFUSE_REQ_BG_NOWAIT,	/* background submitter cannot sleep for a slot */
	MQFUSE_REQ_BG_SLOT,	/* holds one of q->max_background slots */
	MQFUSE_REQ_REPLAY,	/* re-queued after a daemon loss: read with MQFUSE_UNIQUE_REPLAY */
	/*
	 * The waiter was killed and could not abandon the request yet (being
	 * copied, or forced and at a daemon): whoever moves it to a state it
	 * may be abandoned in (mqfuse_queue_read_done(), mqfuse_queues_requeue())
	 * wakes the waiter to try again.
	 */
	MQFUSE_REQ_KILLED,
};

struct mqfuse_queue;

/* One FUSE request. */
struct mqfuse_req {
	refcount_t ref;			/* submitter (sync) + queue ownership */
	struct mqfuse_conn *fc;		/* session */
	struct mqfuse_queue *q;		/* queue it was submitted to */
	struct list_head list;		/* entry in q->pending; protected by q->lock */
	struct hlist_node hash;		/* entry in q->processing; protected by q->lock */
	struct list_head intr_entry;	/* entry in q->interrupts; protected by q->lock */
	enum mqfuse_req_state state;	/* written under q->lock; see enum */
	unsigned long flags;		/* MQFUSE_REQ_* bits, atomic bitops */
	struct fuse_in_header in_h;	/* header sent to the daemon */
	struct fuse_out_header out_h;	/* header of the reply (error) */
	struct mqfuse_args *args;	/* caller's arguments; gone once ABANDONED */
	wait_queue_head_t waitq;	/* sync waiter sleeps here */
	u64 queued_ns;			/* ktime when queued, for wait-time stats */
	/*
	 * The device fd (struct mqfuse_dev) that read the request, set by
	 * the reader while READING and read under q->lock while IN_DAEMON:
	 * its release re-queues what it still holds (recovery). An identity
	 * only, never dereferenced.
	 */
	const void *reader;
	/*
	 * What an ABANDONED request's reply needs to give back what the
	 * daemon created (handles, lookup counts) without touching @args,
	 * which may live on the killed waiter's stack. Copied from @args by
	 * mqfuse_req_alloc(), constant afterwards, except @nref: the thread
	 * that owns the reply (REPLYING) may take it; else it is dropped when
	 * the request is freed.
	 */
	struct mqfuse_node_ref *nref;	/* own reference on the opened node, or NULL */
	u32 release_flags;		/* args->release_flags */
	u32 out_size;			/* reply payload asked for: sum of out arg sizes */
	bool out_argvar;		/* args->out_argvar: a shorter reply is valid */
};

struct mqfuse_req *mqfuse_req_alloc(struct mqfuse_conn *fc, struct mqfuse_args *args,
				    gfp_t gfp);
void mqfuse_req_put(struct mqfuse_req *req);
void mqfuse_req_set_state(struct mqfuse_req *req, enum mqfuse_req_state state);
void mqfuse_req_end(struct mqfuse_req *req);
ssize_t mqfuse_simple_request(struct mqfuse_conn *fc, struct mqfuse_args *args);
int mqfuse_simple_background(struct mqfuse_conn *fc, struct mqfuse_args *args,
			     gfp_t gfp);
void mqfuse_args_creds_fill(struct mqfuse_conn *fc, struct fuse_in_header *ih);
int mqfuse_req_init_module(void);
void mqfuse_req_exit_module(void);

/* ------------------------------------------------------------------ */
/* queue.c: per-CPU queues */

#define MQFUSE_PQ_HASH_BITS	6	/* processing hash buckets per queue */

/* A node whose lookup count must be returned to the daemon. */
struct mqfuse_forget {
	struct list_head list;		/* entry in q->forgets */
	u64 nodeid;			/* node to forget */
	u64 nlookup;			/* lookups to drop */
};

/* Per-queue statistics, exported in sysfs. Protected by q->lock. */
struct mqfuse_queue_stats {
	u64 requests;		/* requests queued */
	u64 forgets;		/* nodes forgotten (FORGET/BATCH_FORGET entries) */
	u64 bytes_in;		/* request bytes handed to the daemon */
	u64 bytes_out;		/* reply bytes accepted from the daemon */
	u64 wait_ns;		/* sum of queued -> read by daemon */
	u64 stolen;		/* requests taken by a reader bound elsewhere */
	u64 interrupts;		/* INTERRUPTs sent */
	u64 errors;		/* requests failed: bad reply, abort */
	u64 bg_waits;		/* background submitters that waited for a slot */
	u64 ring_batches;	/* RING_ENTER calls that handed out requests of this queue */
	u64 ring_requests;	/* requests handed out through rings */
	unsigned int in_daemon_max; /* high-water mark of nr_in_daemon */
};

/* A consistent copy of a queue's counters (sysfs). */
struct mqfuse_queue_snap {
	struct mqfuse_queue_stats stats;
	unsigned int pending;		/* nr_pending */
	unsigned int in_daemon;		/* nr_in_daemon */
	unsigned int background;	/* nr_background */
	unsigned int max_background;	/* max_background */
};

/*
 * Background requests with a page vector (readahead, writeback) in flight
 * per session: FUSE's fuse_init_out.max_background, 0 meaning the
 * default, capped so a daemon cannot ask for unbounded pinned memory (up
 * to max_pages each). Split evenly over the queues, at least one each.
 */
#define MQFUSE_DEFAULT_MAX_BACKGROUND	12
#define MQFUSE_MAX_BACKGROUND_LIMIT	256

/*
 * One request queue. Submitters on the CPUs mapped to it add to pending;
 * daemon readers take from it; replies find requests in processing.
 */
struct mqfuse_queue {
	spinlock_t lock;		/* protects every field marked below */
	/* fields below are protected by lock */
	bool connected;			/* false after abort: no new requests */
	u64 next_seq;			/* sequence part of the next unique id */
	struct list_head pending;	/* QUEUED requests, FIFO */
	struct list_head interrupts;	/* requests with an INTERRUPT to send */
	struct list_head forgets;	/* struct mqfuse_forget to send */
	unsigned int nr_forgets;	/* entries on forgets */
	unsigned int forget_credit;	/* normal requests sent since last forget batch */
	unsigned int nr_pending;	/* entries on pending */
	unsigned int nr_in_daemon;	/* entries in processing */
	unsigned int nr_background;	/* background requests not yet ended (lockless reads: hint) */
	unsigned int max_background;	/* this queue's share of fc->max_background */
	struct hlist_head processing[1 << MQFUSE_PQ_HASH_BITS]; /* IN_DAEMON by unique */
	struct mqfuse_queue_stats stats; /* counters */
	/* fields below are constant after setup */
	wait_queue_head_t waitq;	/* readers bound to this queue */
	wait_queue_head_t bg_waitq;	/* background submitters waiting for a slot */
	struct mqfuse_conn *fc;		/* owning session */
	unsigned int index;		/* position in fc->queues */
	struct kobject kobj;		/* /sys/fs/mqfuse_vN/<id>/queue<index>; holds a fc->kobj ref */
	bool kobj_added;		/* kobj is in sysfs (mount path only) */
} ____cacheline_aligned_in_smp;

/* What a reader took from a queue. */
enum mqfuse_take_kind {
	MQFUSE_TAKE_NONE,
	MQFUSE_TAKE_REQ,		/* one request, now READING */
	MQFUSE_TAKE_INTERRUPT,		/* an INTERRUPT for a request */
	MQFUSE_TAKE_FORGETS,		/* a batch of forgets */
};

struct mqfuse_take {
	enum mqfuse_take_kind kind;	/* what was taken */
	struct mqfuse_queue *q;		/* from which queue */
	struct mqfuse_req *req;		/* REQ */
	u64 unique;			/* unique for INTERRUPT / FORGETS message */
	u64 intr_unique;		/* INTERRUPT: unique of the interrupted request */
	struct list_head forgets;	/* FORGETS: taken entries */
	unsigned int nr_forgets;	/* FORGETS: number of entries */
};

int mqfuse_queues_init(struct mqfuse_conn *fc, unsigned int nr);
void mqfuse_queues_free(struct mqfuse_conn *fc);
struct mqfuse_queue *mqfuse_queue_of_cpu(struct mqfuse_conn *fc);
int mqfuse_queue_submit(struct mqfuse_req *req);
void mqfuse_queue_interrupt(struct mqfuse_req *req);
bool mqfuse_queue_abandon(struct mqfuse_req *req, bool queued_only);
void mqfuse_queue_forget(struct mqfuse_conn *fc, struct mqfuse_forget *forget,
			 u64 nodeid, u64 nlookup);
bool mqfuse_queue_has_work(struct mqfuse_queue *q);
bool mqfuse_queue_take(struct mqfuse_queue *q, struct mqfuse_take *t,
		       unsigned int max_forgets, bool steal);
void mqfuse_queue_read_done(struct mqfuse_req *req, int err);
struct mqfuse_req *mqfuse_queue_find_reply(struct mqfuse_conn *fc, u64 unique);
void mqfuse_queue_reply_done(struct mqfuse_req *req, int err, size_t bytes);
void mqfuse_queue_requeue_interrupt(struct mqfuse_conn *fc, u64 unique);
void mqfuse_queues_abort(struct mqfuse_conn *fc);
unsigned int mqfuse_queues_requeue(struct mqfuse_conn *fc, const void *reader);
void mqfuse_queues_end_reader(struct mqfuse_conn *fc, const void *reader, int err);
void mqfuse_queue_bg_release(struct mqfuse_req *req);
void mqfuse_queues_set_max_background(struct mqfuse_conn *fc, unsigned int max_bg);
void mqfuse_queue_fill_stats(struct mqfuse_queue *q, struct mqfuse_queue_snap *snap);
void mqfuse_queue_ring_batch(struct mqfuse_queue *q, unsigned int nr);

/* ------------------------------------------------------------------ */
/* conn: session (super.c owns its lifetime) */

/*
 * Session states; written under fc->lock with smp_store_release() (INIT
 * publishes the negotiated fields with it), read locklessly with
 * smp_load_acquire() (mqfuse_conn_state()).
 */
enum mqfuse_conn_state {
	MQFUSE_CONN_INIT = MQFUSE_STATE_INIT,	/* mounted, waiting for the INIT reply */
	MQFUSE_CONN_RUNNING = MQFUSE_STATE_RUNNING, /* INIT done, serving */
	MQFUSE_CONN_ABORTED = MQFUSE_STATE_ABORTED, /* daemon gone/rejected: ENOTCONN */
	/* recovery=: no daemon fd; requests queue up until one attaches or the timer aborts */
	MQFUSE_CONN_ORPHANED = MQFUSE_STATE_ORPHANED,
};

/* Transport: how the queues reach the daemon (char device now; ring, virtio later). */
struct mqfuse_transport_ops {
	const char *name;				/* shown in sysfs */
	void (*wake)(struct mqfuse_queue *q);		/* work was queued on q */
	void (*abort)(struct mqfuse_conn *fc);		/* session aborted: wake everyone */
	/*
	 * Optional: the session is over (kill_sb, after its abort); the
	 * transport lets go of it (fs/virtio.c). Process context.
	 */
	void (*detach)(struct mqfuse_conn *fc);
};

/*
 * A transport that finds its own peer at mount (fs/virtio.c): the source
 * names a device instead of fd= naming a daemon's file.
 */
struct mqfuse_virtio_ops {
	/*
	 * The unmounted device tagged @tag, held: a handle or ERR_PTR
	 * (-ENODEV none, -EBUSY mounted); *@nr_vqs: its request queues,
	 * *@dflt: how many a mount uses without virtqueues= (0: all),
	 * *@max_pages: the most pages a request may carry on it.
	 */
	void *(*get)(const char *tag, unsigned int *nr_vqs, unsigned int *dflt,
		     unsigned int *max_pages);
	void (*put)(void *dev);		/* a get() that was not attached */
	/*
	 * Serve @fc through @dev with @nr_vqs request queues: on success the
	 * get()'s reference passes to the session (sets fc->tpriv); on
	 * failure it stays the caller's, who drops it with put().
	 */
	int (*attach)(void *dev, struct mqfuse_conn *fc, unsigned int nr_vqs);
	const struct mqfuse_transport_ops *tops;	/* the session's */
};
extern const struct mqfuse_transport_ops mqfuse_detached_transport;

/*
 * readdirplus= mount option: when READDIR asks for READDIRPLUS, provided
 * the daemon granted FUSE_DO_READDIRPLUS (readdir.c).
 */
enum mqfuse_readdirplus {
	MQFUSE_RDPLUS_AUTO,	/* adaptive, if the daemon granted FUSE_READDIRPLUS_AUTO */
	MQFUSE_RDPLUS_ALWAYS,	/* every request (the behaviour before auto) */
	MQFUSE_RDPLUS_NEVER,	/* plain READDIR only */
};

/* Mount options after parsing (struct fs_context private). */
struct mqfuse_mount_opts {
	int fd;				/* daemon's device fd */
	umode_t rootmode;		/* root inode mode */
	kuid_t user_id;			/* mount owner */
	kgid_t group_id;		/* mount owner's group */
	unsigned int max_read;		/* READ size cap (bytes) */
	unsigned int blksize;		/* st_blksize reported, 0 = PAGE_SIZE */
	unsigned int nr_queues;		/* queues=N, 0 = default */
	unsigned int consistency;	/* enum mqfuse_consistency */
	unsigned int readdirplus;	/* enum mqfuse_readdirplus */
	bool fd_present:1;		/* fd= given */
	bool rootmode_present:1;	/* rootmode= given */
	bool user_id_present:1;		/* user_id= given */
	bool group_id_present:1;	/* group_id= given */
	bool default_permissions:1;	/* kernel checks permissions */
	bool allow_other:1;		/* other users may access */
	bool balance:1;			/* idle bound readers steal work */
	/*
	 * recovery=SECONDS, 0: abort when the daemon goes. After mount only
	 * netlink SET_SESSION changes it, under fc->lock and never to or
	 * from 0 (mqfuse_recovery_set_timeout()): a zero test needs no lock.
	 */
	unsigned int recovery_s;
	unsigned int virtqueues;	/* virtqueues=N (virtio mounts), 0: all */
};

struct mqfuse_cons_ops;

/* One session (FUSE "connection"): one per mount. */
struct mqfuse_conn {
	refcount_t ref;			/* sb + each bound device fd */
	u64 id;				/* session id, sysfs directory name */
	spinlock_t lock;		/* protects the fields below up to minor */
	/* fields below are protected by lock */
	enum mqfuse_conn_state state;	/* see enum */
	unsigned int nr_devs;		/* bound device fds */
	struct list_head devs;		/* struct mqfuse_dev.entry */
	bool unmounting;		/* kill_sb started: no ORPHANED any more, abort */
	unsigned long orphan_deadline;	/* ORPHANED: jiffies when recovery_work aborts */
	/*
	 * The one file the session keeps for its daemon (MQFUSE_IOC_STORE_FD),
	 * or NULL. Never a /dev/mqfuse fd nor a file of an mqfuse mount: either
	 * would pin the session it is stored in (recovery.c). Dropped at
	 * mqfuse_conn_free() or on replacement.
	 */
	struct file *stored_file;
	/*
	 * Recovery counters and identity, for netlink and sysfs: written
	 * locklessly, read as snapshots.
	 */
	atomic64_t nr_replayed;		/* requests re-queued after a daemon fd went away */
	atomic_t nr_recoveries;		/* daemons attached to an ORPHANED session */
	pid_t daemon_tgid;		/* tgid (init pid ns) of the last daemon to
					 * mount or attach, WRITE_ONCE/READ_ONCE */
	/*
	 * ORPHANED timeout (recovery.c): holds a session reference while
	 * queued; the handler aborts only if the session is still ORPHANED
	 * past orphan_deadline (an attach in between wins).
	 */
	struct delayed_work recovery_work;
	/* fields below are written once by INIT, then read-only */
	u32 minor;			/* negotiated protocol minor */
	u32 max_write;			/* bytes per WRITE */
	u32 max_read;			/* bytes per READ */
	u32 max_pages;			/* pages per request */
	u32 readdir_size;		/* bytes per READDIR(PLUS) */
	u32 max_background;		/* background requests (all queues) */
	u64 init_flags;			/* FUSE_* flags granted by the daemon */
	bool async_read:1;		/* FUSE_ASYNC_READ */
	bool posix_locks:1;		/* daemon does POSIX locks */
	bool flock_locks:1;		/* daemon does flock */
	bool atomic_o_trunc:1;		/* O_TRUNC in OPEN */
	bool readdirplus:1;		/* FUSE_DO_READDIRPLUS */
	bool readdirplus_auto:1;	/* FUSE_READDIRPLUS_AUTO, and readdirplus=auto */
	bool parallel_dirops:1;		/* FUSE_PARALLEL_DIROPS */
	bool dont_mask:1;		/* FUSE_DONT_MASK: the daemon applies the umask */
	bool cache_symlinks:1;		/* FUSE_CACHE_SYMLINKS (unused yet) */
	bool async_dio:1;		/* FUSE_ASYNC_DIO: AIO direct I/O in parallel chunks */
	/*
	 * FUSE_HANDLE_KILLPRIV_V2: the daemon clears suid/sgid (and
	 * security.capability) on WRITE, truncate and chown; the kernel only
	 * says when the caller lacks CAP_FSETID (file.c, inode.c).
	 */
	bool handle_killpriv_v2:1;
	/* "not implemented" answers learned at run time (racy writes are benign) */
	bool no_open, no_opendir, no_flush, no_fsync, no_fsyncdir, no_access,
	     no_create, no_interrupt, no_rename2, no_xattr, no_setxattr,
	     no_getxattr, no_listxattr, no_removexattr, no_lock, no_fallocate,
	     no_lseek, no_copy_file_range, no_link;
	/* fields below are constant after mount */
	struct mqfuse_mount_opts opts;	/* mount options */
	const struct mqfuse_cons_ops *cons; /* consistency mode */
	const struct mqfuse_transport_ops *tops; /* transport */
	void __rcu *tpriv;		/* the transport's (fs/virtio.c: its device) */
	unsigned int max_pages_limit;	/* the transport's cap at INIT, 0: none */
	struct user_namespace *user_ns;	/* ids are translated in this namespace */
	struct pid_namespace *pid_ns;	/* pids are translated in this namespace */
	u64 lock_owner_key;		/* scrambles fl_owner pointers for the daemon */
	unsigned int nr_queues;		/* entries in queues */
	struct mqfuse_queue *queues;	/* per-CPU group queues */
	u16 *cpu_to_queue;		/* nr_cpu_ids entries */
	wait_queue_head_t waitq;	/* unbound and balancing readers */
	wait_queue_head_t init_waitq;	/* requests waiting for INIT */
	atomic64_t attr_version;	/* orders attribute updates */
	/*
	 * attr_version taken by the last FUSE_NOTIFY_INC_EPOCH (0: none):
	 * attributes and names fetched before it are stale, whatever their
	 * timeout (mqfuse_attr_stale(), mqfuse_dentry_expired()). Only grows.
	 */
	atomic64_t epoch_version;
	atomic_t nr_reqs;		/* live requests, for umount debugging */
	atomic_t nr_rings;		/* daemon fds with a ring (sysfs transport) */
	struct rw_semaphore killsb;	/* notifications vs umount: protects sb */
	struct super_block *sb;		/* protected by killsb; NULL after umount */
	struct llist_head iput_list;	/* mqfuse_inode.iput_node: deferred final iputs */
	struct work_struct iput_work;	/* runs them (mqfuse_iput_async) */
	/*
	 * Lockless (llist). Notifications add to it holding killsb for
	 * read while sb is set; iput_work empties it; umount flushes
	 * iput_work after clearing sb (mqfuse_kill_sb()).
	 */
	struct llist_head dput_list;	/* dentries to d_invalidate() and/or dput() in iput_work */
	struct llist_head wbrel_list;	/* mqfuse_wbrel: releases' write back, in iput_work */
	atomic_t dinval_pending;	/* deferred d_invalidate()s in dput_list (bounded) */
	dev_t dev;			/* sb->s_dev, shown in sysfs */
	struct kobject kobj;		/* /sys/fs/mqfuse_vN/<id> */
	bool kobj_added;		/* kobj is in sysfs */
	/* protected by mqfuse_sessions_lock (sysfs.c) */
	struct list_head session_entry;	/* on mqfuse_sessions while in sysfs, else empty */
	/*
	 * Orders this session's netlink events (mqfuse_nl_event()) as its
	 * states: a state change and its event are made under it, so a
	 * listener never sees RUNNING after ABORTED or ABORTED after
	 * UNMOUNTED. Outside it: failing requests (their completions may
	 * abort again). Lock order: event_lock > mqfuse_sessions_lock, fc->lock.
	 */
	struct mutex event_lock;
	/*
	 * daemon_tgid was set by a reader: until then the mounter's or the
	 * attacher's tgid stands, and the first reader of an fd of the
	 * latest daemon generation (see daemon_gen) replaces it (with
	 * fusermount-like or mount.mqfuse set-ups the mounter is a helper that
	 * exits; a sandboxed mqfused attaches, then serves from a child).
	 * Cleared by mount and attach. Protected by lock; readers test it
	 * locklessly as a hint.
	 */
	bool daemon_tgid_final;
	/*
	 * Bumped by every MQFUSE_IOC_ATTACH: fds bound then (and their
	 * CLONEs) belong to the newest daemon, whose first reader becomes
	 * daemon_tgid; the readers of an old daemon still running (hot
	 * upgrade) do not. Protected by lock. daemon_gen_seq numbers the
	 * attaches (never reused); daemon_gen falls back to an older live
	 * generation when the newest one's last fd goes.
	 */
	u64 daemon_gen;
	u64 daemon_gen_seq;
	kuid_t mounter_uid;		/* euid of the mount(2) caller, for MQFUSE_IOC_ATTACH */
};

static inline enum mqfuse_conn_state mqfuse_conn_state(struct mqfuse_conn *fc)
{
	/* pairs with smp_store_release() in INIT and abort */
	return smp_load_acquire(&fc->state);
}

/* "ring" while a daemon fd of the session has a ring, else the transport's name */
static inline const char *mqfuse_conn_transport(struct mqfuse_conn *fc)
{
	return atomic_read(&fc->nr_rings) ? "ring" : fc->tops->name;
}

static inline bool mqfuse_conn_usable(struct mqfuse_conn *fc)
{
	return mqfuse_conn_state(fc) != MQFUSE_CONN_ABORTED;
}

/* ------------------------------------------------------------------ */
/* super.c */
extern struct kmem_cache *mqfuse_inode_cachep;
int mqfuse_fs_init(void);
void mqfuse_fs_exit(void);
void mqfuse_conn_get(struct mqfuse_conn *fc);
void mqfuse_conn_put(struct mqfuse_conn *fc);
void mqfuse_conn_free(struct mqfuse_conn *fc);
bool mqfuse_allow_current(struct mqfuse_conn *fc);
bool mqfuse_conn_tryget(struct mqfuse_conn *fc);
void mqfuse_conn_abort(struct mqfuse_conn *fc, const char *why);
void mqfuse_conn_abort_umount(struct mqfuse_conn *fc, const char *why);
struct mqfuse_dev;
void mqfuse_conn_note_daemon(struct mqfuse_conn *fc, const struct mqfuse_dev *dev);
void mqfuse_conn_daemon_gen_gone_locked(struct mqfuse_conn *fc);
bool mqfuse_conn_abort_orphaned(struct mqfuse_conn *fc, const char *why);
struct mqfuse_conn *mqfuse_sb_conn(struct super_block *sb);
/* fs/virtio.c's filesystem type: its context set up with @vops */
int mqfuse_virtio_init_fs_context(struct fs_context *fsc,
				  const struct mqfuse_virtio_ops *vops);
void mqfuse_virtio_kill_sb(struct super_block *sb);
void mqfuse_send_init(struct mqfuse_conn *fc);
u64 mqfuse_lock_owner_id(struct mqfuse_conn *fc, fl_owner_t owner);

/* ------------------------------------------------------------------ */
/* consistency.c */

/* How long attributes and names from the daemon stay cached. */
enum mqfuse_cons_ttl {
	MQFUSE_TTL_NONE,	/* not at all: every use asks the daemon (strict) */
	MQFUSE_TTL_DAEMON,	/* the daemon's attr_valid / entry_valid */
	MQFUSE_TTL_FOREVER,	/* until the daemon invalidates them (immutable) */
};

/*
 * FUSE_NOTIFY_INC_EPOCH of protocol 7.44 (Linux 6.16): no payload; every
 * cached name (and here attribute) from before it is stale. Not in the
 * 6.1 and 6.12 headers.
 */
#define MQFUSE_NOTIFY_INC_EPOCH	8

/* Per consistency mode behaviour; NULL entries in the table: "not supported yet". */
struct mqfuse_cons_ops {
	const char *name;				/* mode name */
	bool page_cache;				/* cache file data for read(2)/write(2) */
	bool read_stales_attr;				/* a read makes the attributes stale (atime) */
	enum mqfuse_cons_ttl ttl;			/* attribute and entry cache lifetime */
	bool writeback;					/* write(2) dirties pages (cto-wb) */
	int (*open)(struct inode *inode, struct file *file);	/* after OPEN */
	int (*flush)(struct inode *inode, struct file *file);	/* on close */
	int (*mmap)(struct inode *inode, struct file *file,
		    struct vm_area_struct *vma);	/* before a mapping is set up */
};
const struct mqfuse_cons_ops *mqfuse_cons_lookup(unsigned int mode);
u64 mqfuse_cons_timeout(struct mqfuse_conn *fc, u64 sec, u32 nsec);
u32 mqfuse_cons_open_flags(struct mqfuse_conn *fc, u32 flags);

/* ------------------------------------------------------------------ */
/* inode.c */

/* Bits of mqfuse_inode.state. */
enum {
	MQFUSE_I_BAD,		/* daemon changed the type or sent garbage: every op fails EIO */
	MQFUSE_I_SIZE_UNSTABLE,	/* a write/truncate is changing i_size: ignore daemon sizes */
	MQFUSE_I_SELF_CHANGED,	/* we modified data since the stamp was taken */
	MQFUSE_I_DATA_STALE,	/* the daemon invalidated data (notify) or may have
				 * (failed OPEN with O_TRUNC): next open drops pages */
	/*
	 * Directory: a child was looked up or stat'ed since the last
	 * getdents call on it, so the next one uses READDIRPLUS
	 * (readdirplus=auto; set by mqfuse_advise_readdirplus(), tested and
	 * cleared by mqfuse_readdir()).
	 */
	MQFUSE_I_ADVISE_RDPLUS,
};

/* What the page cache contents were validated against (cto). */
struct mqfuse_data_stamp {
	struct timespec64 mtime;	/* file mtime */
	struct timespec64 ctime;	/* file ctime */
	loff_t size;			/* file size */
	bool valid;			/* stamp holds a value */
};

struct mqfuse_inode {
	struct inode vfs_inode;		/* VFS inode */
	u64 nodeid;			/* daemon's node id, constant */
	u64 generation;			/* daemon's generation, constant */
	unsigned long state;		/* MQFUSE_I_* bits, atomic bitops */
	struct mqfuse_forget *forget;	/* preallocated forget for evict */
	spinlock_t lock;		/* protects the fields below */
	/* fields below are protected by lock */
	u64 nlookup;			/* lookups the daemon counted for this node */
	u64 attr_version;		/* version of the cached attributes */
	u64 attr_expire;		/* jiffies64 when cached attributes go stale */
	u64 attr_asked;			/* fc->attr_version before they were asked for */
	u32 blksize;			/* st_blksize from the daemon, 0 = default */
	struct timespec64 daemon_ctime;	/* ctime of the last reply applied (S_NOSEC) */
	struct list_head write_files;	/* writable mqfuse_file, for writeback */
	struct mqfuse_data_stamp stamp;	/* cto: page cache validated against */
	unsigned int writes;		/* writeback/launder WRITEs in flight */
	bool nowrite;			/* size change in progress: no new WRITEs */
	/* fields below are constant */
	struct mqfuse_node_ref *nref;	/* shared with open handles, see below */
	/* fields below belong to mqfuse_iput_async() */
	struct llist_node iput_node;	/* in fc->iput_list while a put is deferred */
};

/*
 * What a node owes the daemon once the inode and all its handles are gone.
 * Each open handle holds a reference until its RELEASE is answered, the
 * inode one until evict. Evict leaves its FORGET here; the last put
 * queues it, so a FORGET never overtakes a RELEASE of the same node on
 * another queue, and evict never waits for the daemon (reclaim may evict
 * from the daemon's own allocations).
 */
struct mqfuse_node_ref {
	refcount_t ref;			/* inode + open handles */
	struct mqfuse_conn *fc;		/* session, alive while a reference is */
	struct mqfuse_forget *forget;	/* FORGET to queue at the last put, or NULL */
	u64 nodeid;			/* for the FORGET */
	u64 nlookup;			/* for the FORGET */
};

static inline struct mqfuse_inode *MQFUSE_I(struct inode *inode)
{
	return container_of(inode, struct mqfuse_inode, vfs_inode);
}

static inline struct mqfuse_conn *mqfuse_conn_of(struct inode *inode)
{
	return inode->i_sb->s_fs_info;
}

static inline u64 mqfuse_nodeid(struct inode *inode)
{
	return MQFUSE_I(inode)->nodeid;
}

static inline bool mqfuse_is_bad(struct inode *inode)
{
	return unlikely(test_bit(MQFUSE_I_BAD, &MQFUSE_I(inode)->state));
}

struct inode *mqfuse_alloc_inode(struct super_block *sb);
void mqfuse_free_inode(struct inode *inode);
void mqfuse_evict_inode(struct inode *inode);
struct inode *mqfuse_iget(struct super_block *sb, u64 nodeid, u64 generation,
			  struct fuse_attr *attr, u64 attr_valid, u32 attr_valid_nsec,
			  u64 attr_version);
struct inode *mqfuse_ilookup(struct super_block *sb, u64 nodeid);
void mqfuse_iput_async(struct inode *inode);
void mqfuse_iput_flush(struct mqfuse_conn *fc);
void mqfuse_iput_init(struct mqfuse_conn *fc);
int mqfuse_attr_check(struct mqfuse_conn *fc, const struct fuse_attr *attr);
#define MQFUSE_MAX_DIRTY_RATIO	20	/* % of the dirty threshold one mount may hold */
#define MQFUSE_ATTR_AUTH	1	/* size and times are the daemon's also in cto-wb */
int mqfuse_attr_apply(struct inode *inode, struct fuse_attr *attr, u64 attr_valid,
		      u32 attr_valid_nsec, u64 attr_version, unsigned int flags);
void mqfuse_make_bad(struct inode *inode);
void mqfuse_invalidate_attr(struct inode *inode);
void mqfuse_attr_outdated(struct inode *inode);
void mqfuse_size_changed(struct inode *inode, loff_t size);
void mqfuse_suidgid_killed(struct inode *inode);
void mqfuse_wb_modified(struct inode *inode);
bool mqfuse_write_begin(struct inode *inode, bool nested);
void mqfuse_write_end(struct inode *inode);
void mqfuse_nowrite_begin(struct inode *inode);
void mqfuse_nowrite_end(struct inode *inode);
struct mqfuse_node_ref *mqfuse_node_ref_get(struct inode *inode);
struct mqfuse_node_ref *mqfuse_node_ref_dup(struct mqfuse_node_ref *nref);
void mqfuse_node_ref_put(struct mqfuse_node_ref *nref);
struct mqfuse_node_ref *mqfuse_node_ref_orphan(struct mqfuse_conn *fc, u64 nodeid,
					       u64 nlookup, gfp_t gfp);
u64 mqfuse_timeout(u64 sec, u32 nsec);
int mqfuse_do_getattr(struct inode *inode, struct file *file);
int mqfuse_do_getattr_flags(struct inode *inode, struct file *file, unsigned int flags);
int mqfuse_update_attr_if_stale(struct inode *inode, struct file *file);
int mqfuse_getattr(struct mnt_idmap *idmap, const struct path *path,
		   struct kstat *stat, u32 request_mask, unsigned int flags);
int mqfuse_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
		   struct iattr *attr);
int mqfuse_permission(struct mnt_idmap *idmap, struct inode *inode, int mask);
int mqfuse_valid_type(u32 mode);
void mqfuse_init_inode_ops(struct inode *inode, u32 rdev);

/* ------------------------------------------------------------------ */
/* dir.c */
extern const struct inode_operations mqfuse_dir_iops;
extern const struct inode_operations mqfuse_symlink_iops;
extern const struct dentry_operations mqfuse_dentry_ops;
int mqfuse_entry_check(struct mqfuse_conn *fc, struct fuse_entry_out *e, bool may_be_root);
void mqfuse_dentry_set_ttl(struct dentry *dentry, u64 sec, u32 nsec, u64 attr_version);
void mqfuse_invalidate_entry(struct dentry *dentry);
int mqfuse_reverse_inval_entry(struct mqfuse_conn *fc, u64 parent_nodeid,
			       u64 child_nodeid, struct qstr *name, bool delete);
void mqfuse_dput_run(struct mqfuse_conn *fc);

/* ------------------------------------------------------------------ */
/* readdir.c */
int mqfuse_readdir(struct file *file, struct dir_context *ctx);
void mqfuse_advise_readdirplus(struct inode *dir);
int mqfuse_dirent_check(const char *name, u32 namelen);
void mqfuse_readdirplus_forget_all(struct mqfuse_conn *fc, const void *buf, size_t nbytes);

/* ------------------------------------------------------------------ */
/* file.c */

/* One open file handle. */
struct mqfuse_file {
	refcount_t ref;			/* open file + in-flight writeback */
	struct mqfuse_conn *fc;		/* session */
	u64 fh;				/* daemon's handle */
	u64 nodeid;			/* node it was opened on */
	u32 open_flags;			/* FOPEN_* from the daemon */
	u32 flags;			/* O_* flags sent with OPEN */
	bool isdir:1;			/* OPENDIR handle */
	bool no_release:1;		/* daemon has no OPEN: nothing to release */
	bool flock_used:1;		/* flock() went to the daemon */
	bool open_truncated:1;		/* an OPEN with O_TRUNC succeeded; set before
					 * the file is installed, read-only after */
	bool open_kill_suidgid:1;	/* the OPEN carried FUSE_OPEN_KILL_SUIDGID; set
					 * before the file is installed, read-only after */
	bool wb_deferred:1;		/* released by a kthread with dirty pages: stays
					 * in write_files until mqfuse_wbrel_run() */
	struct list_head write_entry;	/* in mqfuse_inode.write_files; protected by its lock */
	struct mqfuse_release_args *ra;	/* preallocated RELEASE, sent on last put */
	struct mqfuse_node_ref *nref;	/* node reference, dropped when RELEASE is answered */
};

extern const struct file_operations mqfuse_file_fops;
extern const struct file_operations mqfuse_dir_fops;
extern const struct inode_operations mqfuse_file_iops;
struct mqfuse_file *mqfuse_file_alloc(struct mqfuse_conn *fc);
void mqfuse_file_free(struct mqfuse_file *ff);
void mqfuse_file_put(struct mqfuse_file *ff);
void mqfuse_release_abandoned(struct mqfuse_conn *fc, u64 nodeid, u64 fh, u32 flags,
			      bool isdir, struct mqfuse_node_ref *nref);
struct mqfuse_file *mqfuse_file_get(struct mqfuse_file *ff);
int mqfuse_open_common(struct inode *inode, struct file *file, bool isdir);
int mqfuse_send_open(struct mqfuse_conn *fc, u64 nodeid, struct file *file,
		     bool isdir, struct mqfuse_file *ff);
void mqfuse_finish_open(struct inode *inode, struct file *file, struct mqfuse_file *ff);
int mqfuse_release_common(struct inode *inode, struct file *file, bool isdir);
void mqfuse_wbrel_run(struct mqfuse_conn *fc);
int mqfuse_fsync_common(struct file *file, loff_t start, loff_t end, int datasync,
			bool isdir);
struct mqfuse_file *mqfuse_write_file_get(struct inode *inode);
u32 mqfuse_write_kill_flag(struct inode *inode);

/*
 * @mode after a FUSE_HANDLE_KILLPRIV_V2 kill: S_ISUID off, S_ISGID off if
 * the group may execute (what the daemon is asked to do; S_ISGID without
 * group execute is the VFS's business, see mqfuse_file_write_iter()).
 */
static inline umode_t mqfuse_mode_suidgid_killed(umode_t mode)
{
	mode &= ~S_ISUID;
	if ((mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP))
		mode &= ~S_ISGID;
	return mode;
}
bool mqfuse_kill_suidgid_caller(struct mqfuse_conn *fc);

/* ------------------------------------------------------------------ */
/* aops.c */
struct mqfuse_dio;

/*
 * One READ or WRITE with a page vector. Owned by one submitter or one
 * completion at a time, never shared: no lock.
 */
struct mqfuse_io {
	struct mqfuse_args args;	/* the request */
	union {
		struct fuse_read_in read;	/* READ header */
		struct fuse_write_in write;	/* WRITE header */
	} in;
	struct fuse_write_out wout;	/* WRITE reply */
	struct inode *inode;		/* file (pinned by its locked/writeback pages) */
	struct mqfuse_file *ff;		/* handle used, referenced */
	unsigned int max_pages;		/* capacity of pages/descs */
	unsigned int nr;		/* pages in use */
	size_t bytes;			/* payload bytes */
	struct page **pages;		/* page vector (points into this allocation) */
	struct mqfuse_page_desc *descs;	/* one per page */
	/* direct I/O only (dio.c) */
	enum mqfuse_page_hold hold;	/* how the pages are held, hence released */
	struct mqfuse_dio *dio;		/* async direct I/O this chunk belongs to */
	loff_t dio_off;			/* chunk's offset from the start of @dio */
	size_t dio_done;		/* bytes the daemon transferred (set by ->end) */
	int dio_error;			/* chunk's error (set by ->end) */
	struct work_struct dio_work;	/* the chunk's completion on the dio workqueue */
};

extern const struct address_space_operations mqfuse_aops;
extern const struct vm_operations_struct mqfuse_vm_ops;
int mqfuse_read_page_sync(struct file *file, struct page *page);
ssize_t mqfuse_perform_write(struct kiocb *iocb, struct iov_iter *from);
ssize_t mqfuse_perform_write_wb(struct kiocb *iocb, struct iov_iter *from);
struct mqfuse_io *mqfuse_io_alloc(unsigned int npages, gfp_t gfp);
struct mqfuse_io *mqfuse_io_alloc_best(unsigned int npages, gfp_t gfp);
void mqfuse_io_free(struct mqfuse_io *io);
void mqfuse_io_read_args(struct mqfuse_io *io, struct mqfuse_file *ff,
			 loff_t pos, size_t count, u32 flags);
void mqfuse_io_write_args(struct mqfuse_io *io, struct mqfuse_file *ff,
			  loff_t pos, size_t count, u32 write_flags, u32 flags);

/* ------------------------------------------------------------------ */
/* dio.c: direct I/O */
ssize_t mqfuse_direct_io(struct kiocb *iocb, struct iov_iter *iter, bool write);
int mqfuse_dio_init(void);
void mqfuse_dio_exit(void);

/* ------------------------------------------------------------------ */
/* xattr.c */
void mqfuse_xattr_init_sb(struct super_block *sb);
ssize_t mqfuse_listxattr(struct dentry *dentry, char *list, size_t size);
#ifdef HAVE_SET_ACL_DENTRY_IDMAP
struct posix_acl *mqfuse_get_acl(struct mnt_idmap *idmap, struct dentry *dentry, int type);
struct posix_acl *mqfuse_get_inode_acl(struct inode *inode, int type, bool rcu);
int mqfuse_set_acl(struct mnt_idmap *idmap, struct dentry *dentry,
		   struct posix_acl *acl, int type);
/* The ACL operations of regular files and directories (not symlinks). */
#define MQFUSE_ACL_IOPS					\
	.get_inode_acl	= mqfuse_get_inode_acl,		\
	.get_acl	= mqfuse_get_acl,		\
	.set_acl	= mqfuse_set_acl,
#else
/*
 * Up to 6.1 ACLs go through the xattr handler; ->get_acl there is the
 * permission-check hook (today's ->get_inode_acl), which mqfuse leaves
 * alone as before.
 */
#define MQFUSE_ACL_IOPS
#endif

/*
 * The mode sent in MKNOD/MKDIR/CREATE (the umask always goes beside it).
 * With SB_POSIXACL (mounts without default_permissions, see
 * mqfuse_xattr_init_sb()) the VFS leaves the umask to the filesystem: a
 * daemon that agreed to FUSE_DONT_MASK gets the mode unmasked and applies
 * the umask itself, where the backing filesystem lets a default ACL of
 * the parent take its place (POSIX.1e); for any other daemon mqfuse
 * applies it here. Without SB_POSIXACL the VFS has applied it already and
 * applying it again changes nothing.
 */
static inline umode_t mqfuse_create_mode(struct mqfuse_conn *fc, umode_t mode)
{
	/*
	 * INIT's answer is in: every create is preceded by a LOOKUP of its
	 * name, which waited for INIT (acquire of fc->state).
	 */
	return fc->dont_mask ? mode : mode & ~current_umask();
}

/* ------------------------------------------------------------------ */
/* dev.c: character-device transport */

/* One open /dev/mqfuse_vN bound to a session. */
struct mqfuse_dev {
	struct mqfuse_conn *fc;		/* session served */
	u64 daemon_gen;			/* fc->daemon_gen at bind, a CLONE's source's; constant */
	struct list_head entry;		/* in fc->devs; protected by fc->lock */
	int bound_queue;		/* queue served, -1: all (round robin) */
	unsigned int rr_cursor;		/* next queue to look at when unbound */
	/*
	 * Ring transport (ring.c). ring_mutex serialises UMEM_REG/DEREG,
	 * RING_SETUP and RING_ENTER; it is never taken under mmap_lock
	 * (mmap reads @ring without it). @umem is protected by ring_mutex.
	 * @ring is published once under it with smp_store_release() and read
	 * locklessly by mmap and poll with smp_load_acquire(). Both are freed
	 * at release, which comes after the last mapping went (a mapping
	 * holds the file; VM_DONTCOPY keeps it from forked children).
	 */
	struct mutex ring_mutex;
	struct mqfuse_umem *umem;
	struct mqfuse_ring *ring;
};

extern const struct mqfuse_transport_ops mqfuse_chardev_transport;
int mqfuse_dev_init(void);
void mqfuse_dev_exit(void);
int mqfuse_dev_bind_mount(struct file *file, struct mqfuse_conn *fc);
struct file *mqfuse_dev_fget(int fd);
bool mqfuse_is_dev_file(struct file *file);
int mqfuse_dev_attach_daemon(struct file *file, struct mqfuse_conn *fc, u32 flags,
			      u64 daemon_gen);
#define MQFUSE_MAX_FORGET_BATCH	256
bool mqfuse_dev_take(struct mqfuse_dev *dev, struct mqfuse_take *t,
		     unsigned int max_forgets);
int mqfuse_dev_wait(struct mqfuse_dev *dev);
int mqfuse_dev_copy_req_out(struct mqfuse_req *req, struct iov_iter *to);
ssize_t mqfuse_dev_send_interrupt(struct mqfuse_take *t, struct iov_iter *to);
ssize_t mqfuse_dev_send_forgets(struct mqfuse_conn *fc, struct mqfuse_take *t,
				struct iov_iter *to);
ssize_t mqfuse_dev_reply(struct mqfuse_conn *fc, struct iov_iter *from);

/* ------------------------------------------------------------------ */
/* ring.c: ring transport and umem */
struct mqfuse_umem;
struct mqfuse_ring;
long mqfuse_ring_ioctl(struct mqfuse_dev *dev, unsigned int cmd, void __user *argp);
int mqfuse_ring_mmap(struct mqfuse_dev *dev, struct vm_area_struct *vma);
void mqfuse_ring_dev_release(struct mqfuse_dev *dev);
bool mqfuse_ring_full(struct mqfuse_dev *dev);

/* ------------------------------------------------------------------ */
/* notify.c: daemon notifications (unique 0) */
int mqfuse_notify(struct mqfuse_conn *fc, int code, struct iov_iter *from, size_t size);

/* ------------------------------------------------------------------ */
/* sysfs.c */
int mqfuse_sysfs_init(void);
void mqfuse_sysfs_exit(void);
void mqfuse_sysfs_init_conn(struct mqfuse_conn *fc);
int mqfuse_sysfs_add_conn(struct mqfuse_conn *fc);
bool mqfuse_sysfs_unlist_conn(struct mqfuse_conn *fc);
void mqfuse_sysfs_del_conn(struct mqfuse_conn *fc);
void mqfuse_sysfs_release_conn(struct mqfuse_conn *fc);
/*
 * The sessions /sys/fs/mqfuse_vN lists (netlink dumps the same set).
 * While a session is on the list and mqfuse_sessions_lock is held, its
 * memory, queues included, stays valid: removal precedes the free.
 * Lock order: genl_mutex > mqfuse_sessions_lock (netlink handlers);
 * sb->s_umount > mqfuse_sessions_lock (kill_sb unlinks);
 * mqfuse_sessions_lock > mqfuse_queue.lock, fc->lock.
 * No allocation that may wait for writeback under mqfuse_sessions_lock.
 */
extern struct mutex mqfuse_sessions_lock;
extern unsigned int mqfuse_sessions_gen;
struct mqfuse_conn *mqfuse_session_find(u64 from_id);
struct mqfuse_conn *mqfuse_session_next(struct mqfuse_conn *fc);

/* ------------------------------------------------------------------ */
/* netlink.c */
int mqfuse_netlink_init(void);
void mqfuse_netlink_exit(void);
/*
 * Multicast MQFUSE_CMD_EVENT @event (MQFUSE_EVENT_*) for @fc on the
 * "events" group: process context only, may sleep (it allocates with
 * GFP_KERNEL, which a caller's memalloc_nofs/noio scope narrows); no
 * spinlock may be held. fc->event_lock must be, taken before the state
 * change the event reports (see struct mqfuse_conn). A caller in atomic
 * context defers to a work item. The session need not be listed
 * (UNMOUNTED is sent after it left the list).
 */
void mqfuse_nl_event(struct mqfuse_conn *fc, u32 event);

/* ------------------------------------------------------------------ */
/* recovery.c: ORPHANED sessions, MQFUSE_IOC_ATTACH, the stored fd */
void mqfuse_recovery_init_conn(struct mqfuse_conn *fc);
void mqfuse_recovery_free_conn(struct mqfuse_conn *fc);
void mqfuse_recovery_cancel(struct mqfuse_conn *fc);
void mqfuse_recovery_dev_gone(struct mqfuse_conn *fc, const void *dev);
bool mqfuse_recovery_orphan_locked(struct mqfuse_conn *fc);
int mqfuse_recovery_set_timeout(struct mqfuse_conn *fc, unsigned int seconds);
void mqfuse_recovery_orphaned(struct mqfuse_conn *fc);
void mqfuse_recovery_umount(struct mqfuse_conn *fc);
void mqfuse_recovery_attached(struct mqfuse_conn *fc, bool recovered);
long mqfuse_recovery_ioctl_attach(struct file *file, struct mqfuse_attach __user *argp);
long mqfuse_recovery_ioctl_store_fd(struct mqfuse_conn *fc, __s32 __user *argp);
long mqfuse_recovery_ioctl_fetch_fd(struct mqfuse_conn *fc);

#endif /* _MQFUSE_I_H */
