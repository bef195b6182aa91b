/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mqfuse user-space API.
 *
 * This header is the single place where the module generation is defined.
 * Every externally visible name (module, filesystem type, misc device,
 * generic-netlink family, sysfs directory, exported symbols, DKMS package)
 * derives from MQFUSE_GEN; bump it here and rebuild to get a module that
 * loads and mounts side by side with the previous generation.
 *
 * The header is self-contained: fixed-size types only, no kernel types.
 *
 * Changelog (one line per protocol or ABI change):
 *   gen 1, 0.1.0: initial generation; CLONE and BIND_QUEUE ioctls.
 *   gen 1, 0.1.0: mqfuse_session_info: max_write, state, balance, consistency
 *                 (from reserved space, size unchanged); MQFUSE_SUPER_MAGIC;
 *                 MQFUSE_IOC_BIND_QUEUE accepts ~0U to unbind.
 *   gen 1, 0.1.0: netlink MQFUSE_CMD_GET_SESSION (doit + dump), session and
 *                 queue attributes (commands/attributes appended only).
 *   gen 1, 0.1.0: recovery: MQFUSE_STATE_ORPHANED, MQFUSE_UNIQUE_REPLAY,
 *                 MQFUSE_IOC_ATTACH, MQFUSE_IOC_STORE_FD, MQFUSE_IOC_FETCH_FD;
 *                 mqfuse_session_info: init_flags, proto_minor, recovery_s
 *                 (from reserved space, size unchanged); netlink
 *                 MQFUSE_CMD_ABORT, multicast group "events" (MQFUSE_CMD_EVENT).
 *   gen 1, 0.1.0: sysfs recovery, replayed, recoveries, daemon_pid; state
 *                 "orphaned" (documentation of the recovery contract only).
 *   gen 1, 0.1.0: netlink MQFUSE_CMD_SET_SESSION (runtime tunables);
 *                 mqfuse_attach: flags MQFUSE_ATTACH_RESTART/TAKEOVER and
 *                 daemon_gen (from reserved[0], size unchanged); sysfs
 *                 daemon_gen.
 *   gen 1, 0.1.0: ring transport: MQFUSE_IOC_UMEM_REG, MQFUSE_IOC_UMEM_DEREG,
 *                 MQFUSE_IOC_RING_SETUP, MQFUSE_IOC_RING_ENTER, the ring
 *                 layout (struct mqfuse_ring_ctl, struct mqfuse_ring_desc);
 *                 sysfs transport "dev" or "ring" (was "chardev"); queue
 *                 stats and netlink queue attributes in_daemon_max,
 *                 ring_batches, ring_requests.
 */
#ifndef _UAPI_MQFUSE_H
#define _UAPI_MQFUSE_H

#include <linux/types.h>
#include <linux/ioctl.h>

/* Generation: an integer, bumped when a new module must coexist with the old. */
#define MQFUSE_GEN		1

/* Release version, independent of the generation. */
#define MQFUSE_VERSION_MAJOR	0
#define MQFUSE_VERSION_MINOR	1
#define MQFUSE_VERSION_PATCH	0

#define __MQFUSE_STR(x)		#x
#define MQFUSE_STR(x)		__MQFUSE_STR(x)

#define MQFUSE_VERSION		MQFUSE_STR(MQFUSE_VERSION_MAJOR) "." \
				MQFUSE_STR(MQFUSE_VERSION_MINOR) "." \
				MQFUSE_STR(MQFUSE_VERSION_PATCH)

/*
 * "mqfuse_v<GEN>": module name, filesystem type, misc device name
 * (/dev/mqfuse_v<GEN>), generic-netlink family, sysfs directory
 * (/sys/fs/mqfuse_v<GEN>).
 */
#define MQFUSE_NAME		"mqfuse_v" MQFUSE_STR(MQFUSE_GEN)
#define MQFUSE_DEV_PATH		"/dev/" MQFUSE_NAME
#define MQFUSE_SYSFS_PATH	"/sys/fs/" MQFUSE_NAME

/*
 * sysfs, one directory per session (mount), named by session_id:
 *   MQFUSE_SYSFS_PATH/<session_id>/{id,dev,state,queues,balance,consistency,
 *       max_write,max_read,max_pages,readdir_size,max_background,minor,
 *       daemons,waiting,transport,recovery,replayed,recoveries,daemon_pid}
 *                      ("transport" is "ring" while a daemon fd of the
 *                      session has a ring, else "dev")
 *                      read-only, one value each; "dev" is major:minor of
 *                      the mount (st_dev), "state" is
 *                      init|running|aborted|orphaned
 *   MQFUSE_SYSFS_PATH/<session_id>/abort             write 1: abort
 *   MQFUSE_SYSFS_PATH/<session_id>/queue<N>/stats    "key value" lines:
 *       requests forgets bytes_in bytes_out wait_ns stolen interrupts errors
 *       pending in_daemon background max_background bg_waits in_daemon_max
 *       ring_batches ring_requests
 *       (background: readahead/writeback requests not yet ended;
 *       max_background: this queue's share of the session's limit;
 *       bg_waits: submitters that had to wait for a slot)
 * The directory disappears at umount.
 */
#define MQFUSE_GENL_NAME	MQFUSE_NAME
#define MQFUSE_GENL_VERSION	1

/*
 * ioctls on an open /dev/mqfuse_vN file.
 *
 * MQFUSE_IOC_CLONE: attach this (fresh) fd to the session of the fd whose
 *   number is passed; afterwards both fds serve the same session.
 * MQFUSE_IOC_BIND_QUEUE: this fd reads requests from queue *arg only
 *   (0 <= q < queues; ~0U unbinds). With mount option balance=on an idle bound reader may
 *   still take work from other queues. An unbound fd reads every queue.
 * MQFUSE_IOC_GET_INFO: describe the session this fd serves.
 */
#define MQFUSE_IOC_MAGIC	0xB6

/* Session states reported in mqfuse_session_info.state and sysfs "state". */
#define MQFUSE_STATE_INIT	0	/* waiting for the daemon's INIT reply */
#define MQFUSE_STATE_RUNNING	1	/* serving requests */
#define MQFUSE_STATE_ABORTED	2	/* daemon gone or rejected; requests fail ENOTCONN */
#define MQFUSE_STATE_ORPHANED	3	/* recovery=: no daemon; requests wait for one to attach */

/*
 * Recovery (mount option recovery=SECONDS, 0: off). When the last daemon
 * fd of a session closes, the session becomes ORPHANED instead of ABORTED:
 * the requests the daemon had read and not answered go back to the front
 * of their queues, new requests queue up, waiting tasks stay killable, and
 * after SECONDS without a daemon the session aborts (ENOTCONN).
 *
 * A daemon attaches with MQFUSE_IOC_ATTACH on a fresh /dev/mqfuse_vN fd
 * (in any state but ABORTED: a hot upgrade attaches while the old daemon
 * still serves). It gets no INIT: MQFUSE_IOC_GET_INFO gives what INIT
 * negotiated. The first requests it reads are the replayed ones: their
 * fuse_in_header.unique has MQFUSE_UNIQUE_REPLAY set (a request is never
 * replayed twice under a different unique; a reply may carry the unique
 * with or without the bit). A daemon that must not apply a non-idempotent
 * request twice keeps a journal keyed by unique (without the bit).
 */
#define MQFUSE_UNIQUE_REPLAY	(1ULL << 63)

struct mqfuse_attach {
	__u64	session_id;	/* session to attach to; 0: the session of @fd */
	__s32	fd;		/* open file of the mount (O_PATH is fine), or -1 */
	__u32	flags;		/* MQFUSE_ATTACH_*, or 0: any state but ABORTED */
	__u64	daemon_gen;	/* MQFUSE_ATTACH_TAKEOVER: sysfs daemon_gen seen */
	__u64	reserved;	/* zero */
};

/*
 * Exclusive attach, so that two daemons never serve one state: with
 * MQFUSE_ATTACH_RESTART the session must be ORPHANED (a successor after a
 * crash: -EBUSY once another attached first); with MQFUSE_ATTACH_TAKEOVER
 * it must be RUNNING with @daemon_gen still its newest daemon generation
 * (a hot upgrade: -EBUSY after a crash, a restart or another takeover in
 * between). Not both.
 */
#define MQFUSE_ATTACH_RESTART	(1U << 0)
#define MQFUSE_ATTACH_TAKEOVER	(1U << 1)

struct mqfuse_session_info {
	__u64	session_id;	/* unique per loaded module, never reused */
	__u32	nr_queues;	/* queues=N in effect */
	__u32	max_pages;	/* negotiated pages per READ/WRITE request */
	__u32	readdir_size;	/* bytes per READDIR(PLUS) request */
	__u32	bound_queue;	/* queue this fd is bound to, or ~0U */
	__u32	max_write;	/* negotiated bytes per WRITE request */
	__u32	state;		/* MQFUSE_STATE_* */
	__u32	balance;	/* 1 if mounted with balance=on */
	__u32	consistency;	/* 0 strict, 1 cto, 2 cto-wb, 3 relaxed, 4 immutable */
	__u64	init_flags;	/* FUSE_* INIT flags in effect (kernel's offer & daemon's reply) */
	__u32	proto_minor;	/* negotiated FUSE protocol minor */
	__u32	recovery_s;	/* recovery=SECONDS, 0: off */
};

/* statfs(2) f_type of an mqfuse mount ("mqfs"). */
#define MQFUSE_SUPER_MAGIC	0x6d716673

#define MQFUSE_IOC_CLONE	_IOR(MQFUSE_IOC_MAGIC, 0, __u32)
#define MQFUSE_IOC_BIND_QUEUE	_IOW(MQFUSE_IOC_MAGIC, 1, __u32)
#define MQFUSE_IOC_GET_INFO	_IOR(MQFUSE_IOC_MAGIC, 2, struct mqfuse_session_info)
/* attach this fresh fd to a session as its (new) daemon: see above */
#define MQFUSE_IOC_ATTACH	_IOW(MQFUSE_IOC_MAGIC, 3, struct mqfuse_attach)
/*
 * The session keeps one file for its daemon (e.g. a memfd with its state,
 * like systemd's fd store): STORE_FD takes a reference to *arg (-1: drop
 * the one kept); FETCH_FD installs it in the caller and returns the new
 * fd number (O_CLOEXEC), -ENOENT if none is kept. Both on a daemon fd.
 */
#define MQFUSE_IOC_STORE_FD	_IOW(MQFUSE_IOC_MAGIC, 4, __s32)
#define MQFUSE_IOC_FETCH_FD	_IO(MQFUSE_IOC_MAGIC, 5)

/*
 * Ring transport and registered daemon memory (umem), per device fd.
 * Documentation/transport.rst has the rationale and a walk-through.
 *
 * 1. MQFUSE_IOC_UMEM_REG registers @len bytes of the daemon's memory at
 *    @addr (page aligned; anonymous memory, a memfd/shmem mapping or
 *    hugetlb pages, else -EINVAL) as umem: pinned for as long as it stays
 *    registered, charged to the user's locked memory against
 *    RLIMIT_MEMLOCK (CAP_IPC_LOCK exempts; VmPin of the registering
 *    process shows it),
 *    cut into len / buf_size buffers (buffer i at addr + i * buf_size;
 *    buf_size a multiple of 4096, MQFUSE_UMEM_MIN_BUF..MQFUSE_UMEM_MAX_BUF, and once
 *    the session runs at least 4096 + max(max_write, max_read), or
 *    ENTER fails with -ENOBUFS: every request and its reply, a READ of
 *    max_read bytes included, must fit a buffer). One
 *    umem per fd: -EBUSY if one is registered. MQFUSE_IOC_UMEM_DEREG
 *    unpins it: -EBUSY while the daemon holds a buffer of the ring; the
 *    ring stays, and ENTER fails with -ENXIO until a umem with at least
 *    @entries buffers is registered again. Closing the fd unregisters too.
 * 2. MQFUSE_IOC_RING_SETUP creates the fd's ring of @entries buffers (a
 *    power of two, at most MQFUSE_RING_MAX_ENTRIES and at most the
 *    number of umem buffers; buffer i of the ring is umem buffer i) and
 *    returns the size to mmap(2) at offset 0 of the fd (read-write,
 *    MAP_SHARED): a struct mqfuse_ring_ctl, then @entries request
 *    descriptors at ctl.req_off, then @entries reply descriptors at
 *    ctl.rep_off. One ring per fd (-EBUSY); it lives until the fd is
 *    released (closed and unmapped; the mapping is not inherited by fork).
 * 3. MQFUSE_IOC_RING_ENTER, one call per batch: the kernel first takes
 *    every reply descriptor the daemon published (rep_head..rep_tail),
 *    then hands out requests, each into a free buffer, publishing a
 *    request descriptor per request (req_tail), as many as it has
 *    requests and free buffers. With @min_req > 0 and nothing handed
 *    out, it sleeps (interruptibly) until a request comes, unless the
 *    daemon holds every buffer (poll(2) then reports no EPOLLIN either).
 *    The requests one ENTER hands out are reported to its caller only
 *    (@requests); a thread that only hands replies in while another
 *    serves the ring passes MQFUSE_RING_ENTER_REPLIES_ONLY.
 *    Replies are always taken, even when ENTER then fails. Returns 0 and
 *    the counts in the struct, -ENODEV once the session has ended (as
 *    read(2) does), -EINTR on a signal before anything was done, -ENXIO
 *    without a ring or umem.
 *
 * A request is written contiguously into its buffer at desc.off, desc.len
 * bytes (a fuse_in_header then the arguments, as read(2) returns it); a
 * request with a page payload (WRITE) is placed so that the payload
 * starts on a page boundary of the buffer. The daemon answers by writing
 * the reply (fuse_out_header + payload, as for write(2)) anywhere inside
 * the same buffer and publishing a reply descriptor {buf, off, len}; len
 * 0 gives the buffer back without a reply (FORGET, INTERRUPT, or a reply
 * sent by write(2)). write(2) keeps working on a ring fd (notifications,
 * replies from other threads). A buffer belongs to the daemon from the
 * request descriptor that names it to the reply descriptor that returns
 * it; a reply descriptor for a buffer the daemon does not hold, with an
 * offset or length outside the buffer, or a reply the kernel refuses (as
 * write(2) would) is counted in @bad and skipped; the request it was
 * meant for waits for a valid answer as it would on the char device.
 *
 * Memory ordering (the shared memory's whole contract): the producer of
 * a ring writes the descriptors, then stores the tail with release
 * semantics; the consumer loads the tail with acquire semantics, reads
 * the descriptors, then stores the head with release semantics. The
 * kernel produces request descriptors (req_tail) and consumes reply
 * descriptors (rep_head); the daemon produces reply descriptors
 * (rep_tail) and may keep req_head for itself (the kernel never reads
 * it: a buffer is reused only after its reply descriptor). The kernel
 * keeps its own copy of every index it owns and reads daemon-written
 * fields once; nothing the daemon writes can make it touch memory
 * outside the ring and the umem.
 */
#define MQFUSE_UMEM_MIN_BUF	(256 * 1024)
#define MQFUSE_UMEM_MAX_BUF	(16 * 1024 * 1024)
#define MQFUSE_UMEM_MAX_LEN	(4ULL << 30)	/* per fd */
#define MQFUSE_RING_MAX_ENTRIES	256

struct mqfuse_umem_reg {
	__u64	addr;		/* page aligned */
	__u64	len;		/* a multiple of buf_size */
	__u32	buf_size;	/* bytes per buffer, multiple of 4096 */
	__u32	flags;		/* zero */
	__u64	reserved;	/* zero */
};

struct mqfuse_ring_setup {
	__u32	entries;	/* in: buffers in the ring, power of two */
	__u32	flags;		/* in: zero */
	__u64	mmap_len;	/* out: bytes to mmap at offset 0 */
	__u64	reserved[2];	/* zero */
};

/*
 * RING_ENTER flags. MQFUSE_RING_ENTER_REPLIES_ONLY: take the replies and
 * return, handing out no request (min_req must be 0). For a thread that
 * only answers while another serves the ring: requests an ENTER hands out
 * are the caller's to serve (its @requests), and a thread asleep in its
 * own ENTER is not woken for them.
 */
#define MQFUSE_RING_ENTER_REPLIES_ONLY	(1U << 0)

struct mqfuse_ring_enter {
	__u32	min_req;	/* in: sleep until this many (0 or 1) were handed out */
	__u32	flags;		/* in: MQFUSE_RING_ENTER_* */
	__u32	replies;	/* out: reply descriptors taken */
	__u32	requests;	/* out: request descriptors published */
	__u32	bad;		/* out: reply descriptors refused */
	__u32	reserved;	/* zero */
};

/* One descriptor, either way. */
struct mqfuse_ring_desc {
	__u32	buf;		/* buffer index */
	__u32	off;		/* first byte in the buffer */
	__u32	len;		/* bytes; 0 in a reply: no reply, buffer returned */
	__u32	flags;		/* zero */
};

/* At offset 0 of the mapping; indices count up freely (mask with entries - 1). */
struct mqfuse_ring_ctl {
	/* written by the kernel */
	__u32	req_tail;	/* request descriptors published */
	__u32	rep_head;	/* reply descriptors taken */
	__u32	kflags;		/* zero (reserved) */
	__u32	entries;	/* constant */
	__u32	req_off;	/* constant: offset of the request descriptors */
	__u32	rep_off;	/* constant: offset of the reply descriptors */
	__u32	buf_size;	/* umem buffer size (set by each UMEM_REG) */
	__u32	kpad[9];
	/* written by the daemon */
	__u32	req_head;	/* the daemon's own (never read by the kernel) */
	__u32	rep_tail;	/* reply descriptors published */
	__u32	dflags;		/* zero (reserved) */
	__u32	dpad[13];
};

#define MQFUSE_IOC_UMEM_REG	_IOW(MQFUSE_IOC_MAGIC, 6, struct mqfuse_umem_reg)
#define MQFUSE_IOC_UMEM_DEREG	_IO(MQFUSE_IOC_MAGIC, 7)
#define MQFUSE_IOC_RING_SETUP	_IOWR(MQFUSE_IOC_MAGIC, 8, struct mqfuse_ring_setup)
#define MQFUSE_IOC_RING_ENTER	_IOWR(MQFUSE_IOC_MAGIC, 9, struct mqfuse_ring_enter)

/*
 * Generic-netlink family MQFUSE_GENL_NAME ("mqfuse_v<GEN>"): each loaded
 * generation has its own family and reports only its own sessions.
 *
 * MQFUSE_CMD_GET_VERSION   reply: GEN, VERSION.
 * MQFUSE_CMD_GET_SESSION   with NLM_F_DUMP: one message per session (the
 *     sessions /sys/fs/mqfuse_v<GEN>/ lists), by increasing SESSION_ID;
 *     without: SESSION_ID (required) selects one session, -ENOENT if there
 *     is none. A message holds the session attributes then one QUEUE nest
 *     per queue (MQFUSE_QUEUE_ATTR_*, the counters of queue<N>/stats). A
 *     dump whose session does not fit one message continues it in the
 *     next: same session attributes, the remaining QUEUE nests (merge by
 *     SESSION_ID and QUEUE_INDEX). Open to every user (the same data is
 *     world-readable in sysfs); commands that change state will need
 *     CAP_NET_ADMIN.
 * A GET_SESSION request carries SESSION_ID (without NLM_F_DUMP) or no
 * attribute at all (with NLM_F_DUMP: a dump lists every session and
 * refuses SESSION_ID); every other attribute, GEN and VERSION included,
 * is reply-only and refused (-EINVAL with an extended-ack message), as
 * are unknown attributes and wrong lengths. GET_VERSION, the oldest
 * command, accepts and ignores GEN and VERSION (validated: u32, string).
 * A dump changed by a mount or umount between two of its messages sets
 * NLM_F_DUMP_INTR (on a message or on NLMSG_DONE): start it over.
 *
 * MQFUSE_CMD_SET_SESSION   runtime tunables of one session; CAP_NET_ADMIN.
 *     SESSION_ID (required) and at least one of:
 *       SESSION_MAX_BACKGROUND  u32, 1..256: background requests with a
 *           page vector (readahead, writeback) in flight, all queues; it
 *           replaces what INIT negotiated, until the next INIT.
 *       SESSION_RECOVERY_S  u32, 1..86400: recovery= for the next daemon
 *           loss (an ORPHANED session keeps its deadline). Only on a
 *           session mounted with recovery= > 0 (its daemon keeps the
 *           state a successor needs); recovery cannot be turned on or off.
 *     All or nothing: every value is checked before any is applied. A
 *     value out of its range: -ERANGE; recovery on a session without it:
 *     -EOPNOTSUPP; during INIT: -EAGAIN; any other attribute: -EINVAL
 *     (each with an extended-ack message).
 */
enum {
	MQFUSE_CMD_UNSPEC,
	MQFUSE_CMD_GET_VERSION,	/* reply: GEN, VERSION */
	MQFUSE_CMD_GET_SESSION,	/* request: SESSION_ID or NLM_F_DUMP; reply: SESSION_*, QUEUE */
	MQFUSE_CMD_ABORT,	/* request: SESSION_ID; CAP_NET_ADMIN; aborts the session */
	MQFUSE_CMD_EVENT,	/* multicast on "events": EVENT, SESSION_ID, SESSION_STATE */
	MQFUSE_CMD_SET_SESSION,	/* request: SESSION_ID + tunables; CAP_NET_ADMIN */
	__MQFUSE_CMD_MAX,
};

/* Multicast group of MQFUSE_CMD_EVENT messages; open to every user. */
#define MQFUSE_GENL_MCGRP_EVENTS	"events"

/* MQFUSE_ATTR_EVENT values. */
enum {
	MQFUSE_EVENT_UNSPEC,
	MQFUSE_EVENT_MOUNTED,	/* session created (INIT not yet answered) */
	MQFUSE_EVENT_RUNNING,	/* INIT answered */
	MQFUSE_EVENT_ORPHANED,	/* last daemon fd closed, recovery= waits for one */
	MQFUSE_EVENT_RECOVERED,	/* a daemon attached to the orphaned session */
	MQFUSE_EVENT_ABORTED,	/* requests fail ENOTCONN from now */
	MQFUSE_EVENT_UNMOUNTED,	/* session gone */
};

enum {
	MQFUSE_ATTR_UNSPEC,
	MQFUSE_ATTR_GEN,		/* u32 */
	MQFUSE_ATTR_VERSION,		/* string, "x.y.z" */
	MQFUSE_ATTR_PAD,		/* padding for 64-bit attributes, ignore */
	MQFUSE_ATTR_SESSION_ID,		/* u64, sysfs directory name, never reused */
	MQFUSE_ATTR_SESSION_STATE,	/* u32, MQFUSE_STATE_* */
	MQFUSE_ATTR_SESSION_DEV_MAJOR,	/* u32, st_dev of the mount */
	MQFUSE_ATTR_SESSION_DEV_MINOR,	/* u32 */
	MQFUSE_ATTR_SESSION_QUEUES,	/* u32, number of queues */
	MQFUSE_ATTR_SESSION_MAX_WRITE,	/* u32, negotiated bytes per WRITE */
	MQFUSE_ATTR_SESSION_MAX_READ,	/* u32, bytes per READ */
	MQFUSE_ATTR_SESSION_MAX_PAGES,	/* u32, pages per request */
	MQFUSE_ATTR_SESSION_READDIR_SIZE, /* u32, bytes per READDIR(PLUS) */
	MQFUSE_ATTR_SESSION_MAX_BACKGROUND, /* u32, background requests, all queues */
	MQFUSE_ATTR_SESSION_MINOR,	/* u32, negotiated FUSE protocol minor */
	MQFUSE_ATTR_SESSION_BALANCE,	/* u8, 1 if balance=on */
	MQFUSE_ATTR_SESSION_CONSISTENCY, /* string, consistency mode name */
	MQFUSE_ATTR_SESSION_TRANSPORT,	/* string, transport name */
	MQFUSE_ATTR_SESSION_DAEMONS,	/* u32, device fds bound */
	MQFUSE_ATTR_SESSION_WAITING,	/* u32, live requests */
	MQFUSE_ATTR_QUEUE,		/* nest, MQFUSE_QUEUE_ATTR_*; repeated */
	MQFUSE_ATTR_EVENT,		/* u32, MQFUSE_EVENT_* (CMD_EVENT only) */
	MQFUSE_ATTR_SESSION_DAEMON_PID,	/* u32, tgid of the daemon (first reader of the newest daemon's fds; until then its mounter/attacher), 0 none */
	MQFUSE_ATTR_SESSION_RECOVERY_S,	/* u32, recovery=SECONDS, 0 off */
	MQFUSE_ATTR_SESSION_RECOVERIES,	/* u32, daemons attached to the orphaned session */
	MQFUSE_ATTR_SESSION_REPLAYED,	/* u64, requests re-delivered after a daemon loss */
	__MQFUSE_ATTR_MAX,
};
#define MQFUSE_ATTR_MAX		(__MQFUSE_ATTR_MAX - 1)

/* Inside MQFUSE_ATTR_QUEUE: counters as in sysfs queue<N>/stats. */
enum {
	MQFUSE_QUEUE_ATTR_UNSPEC,
	MQFUSE_QUEUE_ATTR_PAD,		/* padding, ignore */
	MQFUSE_QUEUE_ATTR_INDEX,	/* u32, N of queue<N> */
	MQFUSE_QUEUE_ATTR_REQUESTS,	/* u64, requests queued since mount */
	MQFUSE_QUEUE_ATTR_FORGETS,	/* u64 */
	MQFUSE_QUEUE_ATTR_BYTES_IN,	/* u64, request bytes to the daemon */
	MQFUSE_QUEUE_ATTR_BYTES_OUT,	/* u64, reply bytes from the daemon */
	MQFUSE_QUEUE_ATTR_WAIT_NS,	/* u64, sum of queued -> read by daemon */
	MQFUSE_QUEUE_ATTR_STOLEN,	/* u64 */
	MQFUSE_QUEUE_ATTR_INTERRUPTS,	/* u64 */
	MQFUSE_QUEUE_ATTR_ERRORS,	/* u64 */
	MQFUSE_QUEUE_ATTR_BG_WAITS,	/* u64 */
	MQFUSE_QUEUE_ATTR_PENDING,	/* u32, now */
	MQFUSE_QUEUE_ATTR_IN_DAEMON,	/* u32, now */
	MQFUSE_QUEUE_ATTR_BACKGROUND,	/* u32, now */
	MQFUSE_QUEUE_ATTR_MAX_BACKGROUND, /* u32 */
	MQFUSE_QUEUE_ATTR_IN_DAEMON_MAX, /* u32, high-water mark of IN_DAEMON */
	MQFUSE_QUEUE_ATTR_RING_BATCHES,	/* u64, RING_ENTER calls that handed out requests */
	MQFUSE_QUEUE_ATTR_RING_REQUESTS, /* u64, requests handed out through rings */
	__MQFUSE_QUEUE_ATTR_MAX,
};
#define MQFUSE_QUEUE_ATTR_MAX	(__MQFUSE_QUEUE_ATTR_MAX - 1)

#endif /* _UAPI_MQFUSE_H */
