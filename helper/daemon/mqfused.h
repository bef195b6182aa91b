/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mqfused private header: one section per .c file.
 *
 * Conventions: functions return 0 / a byte count on success and a negative
 * errno on failure; nothing here touches errno-style globals across calls.
 */
#ifndef MQFUSED_H
#define MQFUSED_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <linux/fuse.h>

#define MQFUSED_VERSION		"0.1.0"

/* Default and maximum payload of one READ/WRITE request. */
/* FUSE_NOTIFY_INC_EPOCH (protocol 7.44), not in the 6.1 headers */
#define MQ_NOTIFY_INC_EPOCH	8

#define MQ_DEFAULT_MAX_WRITE	(8u << 20)
#define MQ_MIN_MAX_WRITE	4096u
#define MQ_MAX_MAX_WRITE	(8u << 20)

/*
 * Request/reply buffers: a request is read at offset MQ_REQ_HDR_ROOM -
 * (in_header + write_in) so that WRITE payload starts page aligned; a
 * reply header is placed right before offset MQ_REQ_HDR_ROOM of the reply
 * buffer so that READ payload is page aligned too.
 */
#define MQ_REQ_HDR_ROOM		4096u
#define MQ_WRITE_HDR_LEN	(sizeof(struct fuse_in_header) + \
				 sizeof(struct fuse_write_in))

/* Returned by an op handler that must not be answered (FORGET...). */
#define MQ_NO_REPLY		(-0x7fffffff - 1)	/* outside errno and length range */

/* ------------------------------------------------------------- remote.c */

struct fuse_init_in;
struct fuse_init_out;
struct mq_thread;
/* A tcp:// source (mqfuse-server): parse it, before the mount connect. */
bool mq_remote_active(void);
void mq_remote_set_secret_file(const char *path);
/* --checksum: CRC32C of every message, both ways */
void mq_remote_set_checksum(void);
int mq_remote_parse(const char *src);
int mq_remote_setup(void);
/* A serving thread's connection and its receiver (after its device fd). */
int mq_remote_thread_start(struct mq_thread *thr);
/* Send the request of @len in thr->inbuf; -ENODEV after DESTROY. */
int mq_remote_forward(struct mq_thread *thr, size_t len);
int mq_remote_init(const struct fuse_in_header *kin,
		   const struct fuse_init_in *ii,
		   const struct fuse_init_out *io);

/* ---------------------------------------------------------------- log.c */

enum mq_log_level {
	MQ_LOG_ERR,
	MQ_LOG_WARN,
	MQ_LOG_INFO,
	MQ_LOG_DEBUG,
};

extern const char *mq_log_ident;
void mq_log_init(enum mq_log_level level, bool use_syslog);
void mq_log_to_syslog(void);
/*
 * Detached from the caller: log to syslog, fds 0-2 onto @null_fd (an open
 * /dev/null; none if < 0; the caller closes it).
 */
void mq_log_detach_stdio(int null_fd);
void mq_log_open_syslog(void);
bool mq_log_close_syslog(void);
int mq_log_parse_level(const char *s);
bool mq_log_enabled(enum mq_log_level level);
void mq_log(enum mq_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* stderr and, when its socket is open, syslog too (log.c) */
void mq_log_everywhere(enum mq_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define mq_err(...)	mq_log(MQ_LOG_ERR, __VA_ARGS__)
#define mq_warn(...)	mq_log(MQ_LOG_WARN, __VA_ARGS__)
#define mq_info(...)	mq_log(MQ_LOG_INFO, __VA_ARGS__)
#define mq_dbg(...)						\
	do {							\
		if (mq_log_enabled(MQ_LOG_DEBUG))		\
			mq_log(MQ_LOG_DEBUG, __VA_ARGS__);	\
	} while (0)

/* ------------------------------------------------------- inode_table.c */

/*
 * One backend object known to the kernel.  Lives as long as the kernel
 * holds lookup references or an operation is using it.
 *
 * Invariant (inode_table.c has the interleaving argument): refs = the
 * in-flight users (each mq_inode_get / mq_inode_lookup_fd until its
 * mq_inode_put) + one "count reference" while nlookup is non-zero
 * (taken by the LOOKUP that raises nlookup from 0 *before* raising it,
 * put by the FORGET that takes it to 0) + transient pre-increments of
 * LOOKUPs that have not yet seen whether they raised it from 0.  Hence
 * refs >= in-flight users at every instant: a FORGET, even with a bogus
 * count, never frees an inode a request holds.
 */
struct mq_inode {
	uint64_t nodeid;		/* FUSE nodeid, never reused */
	dev_t dev;			/* backend st_dev (identity) */
	ino_t ino;			/* backend st_ino (identity) */
	mode_t type;			/* S_IFMT bits, fixed for life */
	int fd;				/* O_PATH fd of the backend object */
	atomic_uint_fast64_t nlookup;	/* the kernel's lookup count */
	atomic_uint_fast64_t refs;	/* users + count reference, above */
	struct mq_inode *id_next;	/* chain in the nodeid hash */
	struct mq_inode *key_next;	/* chain in the dev/ino hash */
	atomic_uint open_files;		/* FILE handles open on it (locks.c) */
	/* POSIX lock owners and their backing fds (locks.c, under its lock) */
	struct mq_lock_owner *lock_owners;
};

int mq_itable_init(int root_fd, const struct stat *root_st);
int mq_itable_root_fd(void);
void mq_itable_set_root_fd(int fd);
void mq_itable_destroy(void);
struct mq_inode *mq_inode_get(uint64_t nodeid);
void mq_inode_put(struct mq_inode *inode);
void mq_inode_forget(uint64_t nodeid, uint64_t n);
int mq_inode_lookup_fd(int fd, const struct stat *st, struct mq_inode **out);
uint64_t mq_itable_count(void);
/*
 * The fds of the table's inodes (root included) into @fds, at most @max;
 * returns how many there are (call with @max 0 to size the array).
 */
unsigned int mq_itable_fds(int *fds, unsigned int max);
/*
 * A successor rebuilding the table (restore.c): insert backend object
 * @fd (consumed) as @nodeid with the kernel's @nlookup; -EEXIST if the
 * nodeid or the object is known already.  Then hand out nodeids from
 * @next on.
 */
int mq_inode_restore(int fd, const struct stat *st, uint64_t nodeid,
		     uint64_t nlookup);
void mq_itable_set_next_nodeid(uint64_t next);
uint64_t mq_itable_next_nodeid(void);

/*
 * Unit-test hook (NULL in the daemon): called inside the two windows of
 * the lookup-count protocol so a test can interleave other operations.
 *  LOOKUP_RAISED: mq_inode_lookup_fd has raised nlookup, before it settles
 *                 the count reference (no lock held, caller ref held);
 *  FORGET_ZERO:   mq_inode_forget has taken nlookup to 0, before it puts
 *                 the count reference (no lock held).
 */
enum mq_itable_hook_point {
	MQ_ITABLE_HOOK_LOOKUP_RAISED,
	MQ_ITABLE_HOOK_FORGET_ZERO,
};
extern void (*mq_itable_test_hook)(enum mq_itable_hook_point point,
				   struct mq_inode *inode);

/* ----------------------------------------------------------- handles.c */

/*
 * Open files and directories: the FUSE fh is the backend fd number in the
 * low 32 bits and a per-fd generation (never 0) in the high 32 bits, and
 * a slot per fd records what we opened there, so that a bogus or stale fh
 * from the kernel (one released since, whose fd was reused) is rejected
 * instead of touching an unrelated descriptor.
 */
enum mq_handle_kind {
	MQ_HANDLE_NONE,		/* slot unused */
	MQ_HANDLE_FILE,		/* regular file opened by OPEN/CREATE */
	MQ_HANDLE_DIR,		/* directory opened by OPENDIR */
};

/* References one handle can hold (table + in-flight users); more refused. */
#define MQ_HANDLE_MAX_REFS	(1u << 20)

struct mq_dir;

int mq_handles_init(unsigned int max_fds);
/*
 * @nodeid: the inode opened; every later use must name the same one.
 * On success *@fh is the handle to give the kernel.
 */
int mq_handle_add(int fd, enum mq_handle_kind kind, struct mq_dir *dir,
		  uint64_t nodeid, uint64_t *fh);
/*
 * Take a reference on a handle open on @nodeid (NULL/-EBADF if none, if
 * opened on another nodeid, or if @fh is stale); drop it with
 * mq_handle_put(@fh).  mq_handle_get_fd returns the fd.
 */
int mq_handle_get_fd(uint64_t fh, uint64_t nodeid);
struct mq_dir *mq_handle_get_dir(uint64_t fh, uint64_t nodeid);
void mq_handle_put(uint64_t fh);
/* RELEASE: close once the last reference is put. */
int mq_handle_release(uint64_t fh, enum mq_handle_kind kind,
		      uint64_t nodeid);
enum mq_handle_kind mq_handle_peek(uint64_t fh, uint64_t *nodeid);
uint64_t mq_handle_fh_of_fd(int fd);
int mq_handles_reset_generations(void);
/* ops_dir.c: free directory state (the fd is closed by handles.c). */
void mq_dir_free(struct mq_dir *dir);
uint64_t mq_handles_count(void);
void mq_handles_release_all(void);
/* Backend open flags of an open FILE handle (O_APPEND...), -EBADF if none. */
int mq_handle_flags(uint64_t fh);
/* A successor re-creating handle @gen on @fd (restore.c); -EBUSY if taken. */
int mq_handle_restore(int fd, enum mq_handle_kind kind, struct mq_dir *dir,
		      uint64_t nodeid, uint32_t gen);
/* ops_dir.c: directory state for a restored directory handle on @fd. */
struct mq_dir *mq_dir_new(int fd);
unsigned int mq_handles_max(void);
/* The fds of the open handles, like mq_itable_fds(). */
unsigned int mq_handles_fds(int *fds, unsigned int max);

/* ------------------------------------------------ rstate.c state hooks */

/* No-ops while no recovery state is live (rstate.h has the format). */
bool mq_rs_active(void);
void mq_rs_nodeid_used(uint64_t nodeid);
void mq_rs_inode_new(struct mq_inode *inode);
void mq_rs_inode_lookups(struct mq_inode *inode, int64_t delta);
void mq_rs_inode_gone(struct mq_inode *inode);
void mq_rs_handle_new(int fd, enum mq_handle_kind kind, uint64_t nodeid,
		      uint32_t gen, int flags);
void mq_rs_handle_gone(int fd);

/* -------------------------------------------------------------- stats.c */

#define MQ_STATS_SIZES		128	/* distinct sizes tracked per op/thread */
#define MQ_STATS_SIZES_OUT	64	/* distinct sizes reported per op */
#define MQ_NR_OPS		64	/* opcodes below this are tracked */

struct mq_size_count {
	uint32_t size;
	uint64_t count;
};

/* Per-op counters of one thread; only that thread writes them. */
struct mq_op_stats {
	uint64_t count;
	uint64_t bytes;
	uint64_t max;
	unsigned int nr_sizes;
	struct mq_size_count *sizes;	/* NULL unless the op is sized */
};

/*
 * How the requests of one thread travelled (ring.c counts them, per batch).
 * copied_bytes is the daemon's own memcpy of READ/WRITE payload: 0 on the
 * ring path unless a reply had to be copied from the private reply buffer.
 */
struct mq_transport_stats {
	uint64_t batches;		/* MQFUSE_IOC_RING_ENTER calls that returned 0 */
	uint64_t requests;		/* requests served from a ring buffer */
	uint64_t replies;		/* reply descriptors published (len 0 included) */
	uint64_t umem_write_bytes;	/* WRITE payload received in umem */
	uint64_t umem_read_bytes;	/* READ payload replied from umem */
	uint64_t copied_bytes;		/* READ/WRITE payload memcpy'd by the daemon */
	uint64_t spare_replies;		/* replies built in the private reply buffer */
	uint64_t write_replies;		/* ring requests answered by write(2) */
	uint64_t bad_descriptors;	/* request descriptors skipped as invalid */
	uint64_t refused_replies;	/* reply descriptors the kernel refused */
	/* not a sum: the most, io_uring operations in flight at once */
	uint64_t max_inflight;
};

struct mq_thread_stats {
	pthread_mutex_t lock;		/* held while updating / dumping */
	uint64_t requests;
	struct mq_op_stats ops[MQ_NR_OPS];
	/* fields below are protected by lock too */
	unsigned int ring_depth;	/* ring buffers, 0: read(2)/write(2) */
	uint32_t ring_buf_size;		/* bytes per ring buffer, 0: no ring */
	struct mq_transport_stats xport;
};

int mq_stats_thread_init(struct mq_thread_stats *ts);
void mq_stats_thread_free(struct mq_thread_stats *ts);
void mq_stats_account(struct mq_thread_stats *ts, uint32_t opcode,
		      uint64_t bytes);
/* The thread's transport: ring of @depth buffers of @buf_size bytes, or dev (0). */
void mq_stats_set_transport(struct mq_thread_stats *ts, unsigned int depth,
			    uint32_t buf_size);
/* Add @delta to the thread's transport counters. */
void mq_stats_transport(struct mq_thread_stats *ts,
			const struct mq_transport_stats *delta);
int mq_stats_write(const char *path);
int mq_stats_render(char **bufp, size_t *lenp);
int mq_stats_write_text(const char *path, const char *buf, size_t len);
bool mq_monitor_active(void);
int mq_monitor_stats(const char *buf, size_t len);
struct mq_thread;
void mq_stats_register_threads(struct mq_thread *threads, unsigned int nr);
const char *mq_opcode_name(uint32_t opcode);

/* ---------------------------------------------------------- uring_io.c */

struct mq_uring;

int mq_uring_setup(struct mq_uring **out, void *buf, size_t len);
/*
 * @buf is registered as fixed buffers of whole @unit multiples (the ring's
 * buffer size; 0: @len), at most 1 GiB each (io_uring's limit).
 */
int mq_uring_create(struct mq_uring **out, void *buf, size_t len,
		    size_t unit, unsigned int depth);
struct iovec;
/*
 * @buf cut for registration: chunks of whole @units (0: @len), each at
 * most @max_fixed bytes, so that no unit straddles two; at most @max_iov.
 * Returns the number of chunks (*@chunkp bytes each, the last one less),
 * 0 if it cannot be done.
 */
unsigned int mq_uring_split(struct iovec *iov, unsigned int max_iov, char *buf,
			    size_t len, size_t unit, size_t max_fixed,
			    size_t *chunkp);
int mq_uring_enable(struct mq_uring *u);
struct io_uring;
struct io_uring *mq_uring_ring(struct mq_uring *u);
void mq_uring_teardown(struct mq_uring *u);
int mq_uring_fd(const struct mq_uring *u);
ssize_t mq_io_read(struct mq_uring *u, int fd, void *buf, size_t len,
		   off_t off);
/*
 * Asynchronous use (ring.c): one thread prepares tagged SQEs, then
 * mq_uring_reap() submits and waits for them with one system call.
 * Synchronous calls (mq_io_read...) meanwhile use the system calls.
 */
unsigned int mq_uring_entries(unsigned int depth);
unsigned int mq_uring_setup_flags(const struct mq_uring *u);
unsigned int mq_uring_sq_entries(const struct mq_uring *u);
int mq_uring_prep_rw(struct mq_uring *u, bool write, int fd, void *buf,
		     size_t len, off_t off, uint64_t tag);
int mq_uring_submit(struct mq_uring *u);
int mq_uring_reap(struct mq_uring *u, unsigned int wait_nr,
		  void (*done)(void *ctx, uint64_t tag, int res), void *ctx);
void mq_uring_drain(struct mq_uring *u,
		    void (*done)(void *ctx, uint64_t tag, int res), void *ctx);
unsigned int mq_uring_inflight(const struct mq_uring *u);
unsigned int mq_uring_max_inflight(const struct mq_uring *u);

/* A read or write moved asynchronously, resumed after short transfers. */
struct mq_io {
	int fd;
	bool write;
	char *buf;			/* data: read into, written from */
	size_t len;			/* bytes wanted */
	off_t off;			/* file offset of buf[0] */
	size_t done;			/* bytes moved so far */
	unsigned int eagain;		/* EAGAIN answers in a row */
};

/*
 * 0: an SQE tagged @tag is prepared (mq_io_complete() with its result);
 * 1: finished, *@result as mq_io_read/mq_io_write would return.
 */
int mq_io_start(struct mq_uring *u, struct mq_io *io, uint64_t tag,
		ssize_t *result);
int mq_io_complete(struct mq_uring *u, struct mq_io *io, int res,
		   uint64_t tag, ssize_t *result);
/* Segments of a payload in guest memory (vhost.c): 8 MiB of 4 KiB pages. */
#define MQ_IOV_MAX	4096u
struct iovec;
ssize_t mq_io_rwv(bool write, int fd, const struct iovec *iov,
		  unsigned int niov, size_t len, off_t off);
ssize_t mq_io_write(struct mq_uring *u, int fd, const void *buf, size_t len,
		    off_t off);
int mq_io_fsync(struct mq_uring *u, int fd, bool datasync);

/* ------------------------------------------------------------ session.c */

/* --sandbox: what confines the serving process (sandbox.c). */
enum mq_sandbox_mode {
	MQ_SANDBOX_ON,		/* default: namespace, caps, seccomp kills */
	MQ_SANDBOX_LOG,		/* as ON, but seccomp only logs */
	MQ_SANDBOX_NONE,	/* no sandbox (debugging) */
};

enum mq_fs_kind {
	MQ_FS_FUSE,		/* stock /dev/fuse */
	MQ_FS_MQFUSE,		/* /dev/mqfuse_vN */
};

/* --transport: how a serving thread takes requests and gives replies. */
enum mq_transport {
	MQ_TRANSPORT_RING,	/* default: MQFUSE_IOC_RING_ENTER on umem (ring.c) */
	MQ_TRANSPORT_DEV,	/* read(2) and write(2) on the device fd */
};

/* Parsed command line and negotiated connection state. */
struct mq_config {
	enum mq_fs_kind fs;
	int generation;			/* mqfuse_vN generation, 0 for fuse */
	char fstype[32];		/* filesystem type passed to mount(2) */
	char devpath[64];		/* device node */
	char *source;			/* as given on the command line */
	char *backend_dir;		/* local: directory */
	char *mountpoint;		/* NULL with --fd and no mountpoint */
	char *kernel_opts;		/* options for mount(2) data */
	unsigned long mount_flags;	/* MS_* from generic options */
	unsigned int threads;		/* 0 = automatic */
	unsigned int queues_opt;	/* queues= from -o, 0 if absent */
	bool pin;			/* --pin queue */
	int serve_fd;			/* --fd N, -1 if absent */
	bool foreground;
	/*
	 * --status-fd N (internal, set by --supervise for its first daemon):
	 * with -f, once the session is served, detach stdio as a daemonized
	 * mqfused does and write the status byte to N (0: served); -1: none.
	 */
	int status_fd;
	bool syslog;
	bool writeback_cache;
	bool remote;			/* tcp://: requests go to mqfuse-server */
	bool locks;			/* POSIX/flock locks on the backing files
					 * (cleared by --no-locks) */
	bool default_permissions;	/* kernel checks permissions */
	/*
	 * --vhost-user: the guest kernel checked each request's permissions
	 * (virtio-fs has default_permissions) knowing the caller's groups,
	 * which we are not told; creds.c trusts that check.
	 */
	bool caller_checked;
	char *stats_path;
	uint32_t max_write;
	double entry_timeout;
	double attr_timeout;
	enum mq_sandbox_mode sandbox;	/* --sandbox */
	const char *attach;		/* --attach ID|PATH: successor */
	bool takeover;			/* --takeover: attach while the old
					 * daemon serves, have it hand over */
	unsigned int recovery_default;	/* --recovery-default SECONDS, 0: none */
	enum mq_transport transport;	/* --transport (default ring) */
	bool transport_given;		/* --transport on the command line */
	unsigned int ring_depth;	/* --ring-depth: buffers per thread's ring,
					 * 0: mq_ring_default_depth() */
};

/* Connection state fixed by INIT. */
struct mq_conn {
	atomic_uint proto_minor;	/* 0 until INIT answered */
	uint32_t max_write;		/* what we told the kernel */
	uint32_t flags;			/* init flags we enabled */
	atomic_bool destroyed;		/* DESTROY seen */
};

extern struct mq_config mq_cfg;
extern struct mq_conn mq_conn;

/* One serving thread: its device fd, buffers and ring. */
struct mq_thread {
	unsigned int index;		/* 0..nr_threads-1 */
	unsigned int queue;		/* mqfuse queue bound, or index */
	int cpu;			/* pinned cpu, -1 if none */
	int devfd;			/* device fd owned by this thread */
	/* Replies go here instead of write(devfd) (unit tests, fuzzer). */
	ssize_t (*reply_sink)(struct mq_thread *thr, const void *buf,
			      size_t len);
	pthread_t tid;
	/*
	 * mmap'ed request + reply buffers; with a ring, the umem (ring
	 * buffers) and then the private reply buffer (ring.c)
	 */
	char *region;
	size_t region_len;
	char *inbuf;			/* request buffer (ring: the request) */
	size_t inbuf_len;
	char *outbuf;			/* reply buffer: fuse_out_header, payload */
	size_t outbuf_len;
	/* Ring transport of this thread's fd; NULL: read(2)/write(2). */
	struct mq_ring *ring;
	struct mq_uring *uring;		/* NULL: synchronous fallback */
	int uring_err;			/* why uring is NULL */
	uid_t saved_fsuid;		/* daemon's own fsuid */
	gid_t saved_fsgid;
	bool private_umask;		/* unshare(CLONE_FS) succeeded */
	bool creds_switched;		/* acting as a caller (creds.c) */
	/*
	 * mqfuse-server: the caller's supplementary groups as the client sent
	 * them (caller_ngroups of caller_groups), instead of /proc's.
	 */
	bool caller_groups_given;
	unsigned int caller_ngroups;
	const gid_t *caller_groups;
	struct mq_thread_stats stats;
	int setup_err;			/* result of thread setup */
	/*
	 * vhost.c: the payload of the request being served is not in inbuf
	 * (WRITE) or does not go to outbuf (READ) but lies in these guest
	 * memory segments, payload_len bytes in all; NULL: in the buffers.
	 */
	const struct iovec *payload_iov;
	unsigned int payload_niov;
	size_t payload_len;
};

int mq_session_run(void);
/* Payload room of a request or reply buffer: max_write, at least 128 KiB. */
size_t mq_payload_room(void);
/* SIGQUIT (hot upgrade): serving threads stop between two requests. */
extern atomic_bool mq_handover;

/* --------------------------------------------------------------- ring.c */

struct mq_ring;

/*
 * Where ring.c meets the kernel; tests put a user-space fake here.
 * ioctl: 0 or -errno. map: the ring's mapping at offset 0 of @fd, or
 * MAP_FAILED with errno set.
 */
struct mq_ring_kops {
	int (*ioctl)(int fd, unsigned long cmd, void *arg);
	void *(*map)(int fd, size_t len);
	void (*unmap)(void *addr, size_t len);
};
extern const struct mq_ring_kops *mq_ring_kops;

/* Bytes per ring buffer for the configured max_write. */
uint32_t mq_ring_buf_size(void);
/* --ring-depth's default for the configured max_write. */
unsigned int mq_ring_default_depth(void);
/* Bytes of the private reply buffer that follows the umem in the region. */
size_t mq_ring_spare_len(void);
/*
 * Before the sandbox: umem, ring and mapping for @thr (thr->ring and
 * thr->region set), or nothing (thr->ring NULL: the caller sets up the
 * read(2)/write(2) buffers; said once with a warning).
 */
void mq_ring_prepare(struct mq_thread *thr);
/*
 * A ring over memory that is already mapped: @map (mqfuse_ring_ctl and
 * descriptors, @map_len bytes), @umem (the buffers), @spare (private
 * reply buffer). Checks the layout the kernel wrote; -EPROTO if wrong.
 */
int mq_ring_attach(struct mq_ring **out, void *map, size_t map_len,
		   char *umem, size_t umem_len, uint32_t buf_size,
		   char *spare, size_t spare_len);
void mq_ring_free(struct mq_ring *r);
void mq_ring_unmap(struct mq_ring *r);
unsigned int mq_ring_depth(const struct mq_ring *r);
/*
 * Serve the request descriptors the kernel published since the last call
 * and publish one reply descriptor per buffer. Returns the number served,
 * or -ENODEV if one was DESTROY.
 */
int mq_ring_serve_batch(struct mq_thread *thr);
/*
 * From mq_write_reply(): record the reply of the request being served as
 * its reply descriptor.  False: not a ring reply (nothing being served,
 * @may_record false, no room), to be written with write(2).
 */
bool mq_ring_reply(struct mq_thread *thr, const char *hdr, size_t len,
		   bool may_record);
/* write(2) the replies published and not yet taken by the kernel. */
void mq_ring_flush(struct mq_thread *thr);
/*
 * The serving loop. 0: the thread is done (session ended, DESTROY, hand-
 * over); -EOPNOTSUPP: the ring failed, go on with read(2)/write(2)
 * (thr->ring is NULL then, thr->inbuf and thr->outbuf set for it).
 */
int mq_ring_serve(struct mq_thread *thr);

/* ----------------------------------------------------------- recovery.c */

/* A session we mounted: keep a recovery state if recovery= is on (1). */
int mq_recovery_new_session(int devfd);
/*
 * --attach: attach, fetch and rebuild; *@devfdp is the new daemon fd.
 * --takeover (mq_cfg.takeover): the same, but the session's serving
 * daemon is asked to hand over (SIGQUIT) after the attach, and the state
 * is read once it is gone.
 */
#define MQ_ATTACH_MAX_EXTRA	4
/* @extra: fds of the caller the rebuild may move (to free a handle's number) */
int mq_recovery_attach(const char *target, int *devfdp, int *const *extra,
		       unsigned int nr_extra);
/* The attached session is the one mounted at MOUNTPOINT (SIGTERM unmounts). */
bool mq_recovery_owns_mountpoint(void);

/* ---------------------------------------------------------- supervise.c */

int mq_supervise(int argc, char **argv, const char *mountpoint, int status_fd);
/*
 * A sysfs attribute of session @target (its id, read in this daemon's
 * generation, or a mountpoint: the session on top there, any generation)
 * into @buf; "id" gives the session id.  Never a request to the mount.
 */
bool mq_session_attr(const char *target, const char *attr, char *buf,
		     size_t len);

/* ---------------------------------------------------------- mount_opts.c */

int mq_pick_generation(char *fstype, size_t len);

/* ----------------------------------------------------------- dispatch.c */

/* One request being processed; lives on the serving thread's stack. */
struct mq_req {
	struct mq_thread *thr;
	const struct fuse_in_header *in;
	const char *arg;		/* body after the in header */
	size_t arg_len;
	char *out;			/* reply payload area */
	size_t out_max;
	/*
	 * Replay of a CREATE the dead daemon had applied (replay.c): open
	 * the file it made instead of failing with EEXIST.
	 */
	bool replay_applied;
};

typedef int (*mq_op_fn)(struct mq_req *req);

struct mq_op {
	mq_op_fn fn;
	size_t arg_min;		/* minimum body length */
	bool as_caller;		/* run with the caller's credentials */
};

int mq_dispatch(struct mq_thread *thr, size_t len);
struct mq_file_io;
enum mq_dispatch_async {
	MQ_DISPATCH_IN_FLIGHT,	/* its SQE is prepared: mq_dispatch_complete() */
	MQ_DISPATCH_ANSWERED,	/* finished at once (an error...), answered */
	MQ_DISPATCH_INLINE,	/* not asynchronous: serve it with mq_dispatch() */
};
enum mq_dispatch_async mq_dispatch_start(struct mq_thread *thr, size_t len,
					 struct mq_file_io *f, uint64_t tag);
bool mq_dispatch_complete(struct mq_thread *thr, struct mq_file_io *f,
			  int res, uint64_t tag);
const struct mq_op *mq_op_find(uint32_t opcode);
int mq_build_reply(char *hdr, uint64_t unique, int err, size_t payload);
/* Answer @unique with @err alone, from a thread that is not @thr (locks.c). */
int mq_reply_detached(struct mq_thread *thr, uint64_t unique, int err);
const char *mq_req_name(struct mq_req *req, size_t off, size_t *next);
int mq_name_check(const char *name);

/* ------------------------------------------------------------- vhost.c */

/* --vhost-user SOCKET: serve one vhost-user-fs front-end; exit status. */
int mq_vhost_run(const char *sock_path);

/* ------------------------------------------------------------ replay.c */

/* mq_replay_resolve(): no recorded effect, run the request normally. */
#define MQ_REPLAY_RUN		(-0x7fffffff)

struct mq_rs_jentry;

bool mq_journal_wanted(const struct mq_req *req);
void mq_journal_prestate(struct mq_req *req, uint64_t *aux);
int mq_replay_resolve(struct mq_req *req, const struct mq_rs_jentry *e);

/* --------------------------------------------------- ops_*.c handlers */

int mq_op_init(struct mq_req *req);
bool mq_init_flags_served(uint64_t flags);
int mq_op_destroy(struct mq_req *req);
int mq_op_interrupt(struct mq_req *req);
int mq_op_enosys(struct mq_req *req);
int mq_op_statfs(struct mq_req *req);
int mq_op_syncfs(struct mq_req *req);

int mq_op_lookup(struct mq_req *req);
int mq_op_forget(struct mq_req *req);
int mq_op_batch_forget(struct mq_req *req);
int mq_op_getattr(struct mq_req *req);
int mq_op_setattr(struct mq_req *req);
int mq_op_readlink(struct mq_req *req);
int mq_op_access(struct mq_req *req);

int mq_op_symlink(struct mq_req *req);
int mq_op_mknod(struct mq_req *req);
int mq_op_mkdir(struct mq_req *req);
int mq_op_unlink(struct mq_req *req);
int mq_op_rmdir(struct mq_req *req);
int mq_op_rename(struct mq_req *req);
int mq_op_rename2(struct mq_req *req);
int mq_op_link(struct mq_req *req);
int mq_op_create(struct mq_req *req);
int mq_op_tmpfile(struct mq_req *req);

int mq_op_open(struct mq_req *req);
int mq_op_read(struct mq_req *req);
int mq_op_write(struct mq_req *req);
int mq_op_release(struct mq_req *req);
int mq_op_flush(struct mq_req *req);
int mq_op_fsync(struct mq_req *req);
int mq_op_fallocate(struct mq_req *req);
int mq_op_lseek(struct mq_req *req);
int mq_op_copy_file_range(struct mq_req *req);

int mq_op_opendir(struct mq_req *req);
int mq_op_readdir(struct mq_req *req);
int mq_op_readdirplus(struct mq_req *req);
int mq_op_releasedir(struct mq_req *req);
int mq_op_fsyncdir(struct mq_req *req);

int mq_op_setxattr(struct mq_req *req);
int mq_op_getxattr(struct mq_req *req);
int mq_op_listxattr(struct mq_req *req);
int mq_op_removexattr(struct mq_req *req);

int mq_op_getlk(struct mq_req *req);
int mq_op_setlk(struct mq_req *req);
int mq_op_setlkw(struct mq_req *req);

/* ops_entry.c helpers shared with ops_dir.c */
void mq_fill_attr(struct fuse_attr *attr, const struct stat *st,
		  uint64_t nodeid);
int mq_do_lookup(int dirfd, const char *name, struct fuse_entry_out *eo);
int mq_entry_from_fd(int fd, struct fuse_entry_out *eo);
void mq_resolve_probe(int root_fd);
int mq_openat_beneath(int dirfd, const char *name, int flags, mode_t mode);
void mq_fill_entry_timeouts(struct fuse_entry_out *eo);
void mq_proc_path(char *buf, size_t len, int fd);

/* ops_file.c */
int mq_open_type_check(mode_t type);
int mq_kill_suidgid(struct mq_req *req, int fd, int inode_fd);

/* A READ or WRITE in flight on a ring thread (ring.c keeps one per buffer). */
struct mq_file_io {
	struct mq_io io;
	uint64_t unique;		/* of the request */
	uint64_t fh;			/* handle referenced until finished */
	int own_fd;			/* closed when finished, or -1 (ops_file.c) */
	uint32_t opcode;		/* FUSE_READ or FUSE_WRITE */
	char *out;			/* reply payload: READ data, write_out */
};

int mq_op_rw_start(struct mq_req *req, struct mq_file_io *f, uint64_t tag,
		   ssize_t *result);
int mq_op_rw_complete(struct mq_thread *thr, struct mq_file_io *f, int res,
		      uint64_t tag, ssize_t *result);

/* ops_namespace.c helpers shared with ops_file.c */
int mq_backend_open_flags(uint32_t flags);
uint32_t mq_open_reply_flags(void);

/* creds.c */
#define MQ_MAX_CALLER_GROUPS	256	/* more are ignored (fewer rights) */

int mq_creds_drop_privileges(void);
bool mq_creds_cap_kept(int cap);
int mq_creds_thread_init(struct mq_thread *thr);
int mq_creds_enter(struct mq_req *req);
/* The caller's supplementary groups (at most @max), as mq_creds_enter uses. */
int mq_creds_caller_groups(const struct mq_thread *thr,
			   const struct fuse_in_header *in, gid_t *groups,
			   int max);
void mq_creds_leave(struct mq_req *req);
mode_t mq_umask_enter(struct mq_req *req, mode_t mode, uint32_t umask_bits);
void mq_umask_leave(struct mq_req *req);

/* -------------------------------------------------------------- locks.c */

struct mq_lock_owner;

/* The waiters' wake-up signal handler; before any thread starts. */
int mq_locks_init(void);
/* Add the wake-up signal to @set (blocked in every thread but waiters). */
void mq_locks_block_signal(sigset_t *set);
/* FLUSH: drop the POSIX locks of @lock_owner on @nodeid. */
void mq_locks_flush(uint64_t nodeid, uint64_t lock_owner, uint64_t fh);
/* RELEASE, before the handle goes: its FLUSH and FLOCK_UNLOCK flags. */
void mq_locks_release(uint64_t nodeid, const struct fuse_release_in *ri);
/* RELEASE done: waits through @fh were abandoned. */
void mq_locks_released(uint64_t nodeid, uint64_t fh);
void mq_locks_interrupt(uint64_t unique);
void mq_locks_thread_gone(struct mq_thread *thr);
int mq_locks_drain(unsigned int ms);
/* handles.c: a FILE handle on @nodeid was opened / closed for good. */
void mq_locks_file_opened(uint64_t nodeid);
void mq_locks_file_closed(uint64_t nodeid);
/* inode_table.c: @inode is being freed. */
void mq_locks_inode_gone(struct mq_inode *inode);
/* Unit tests. */
unsigned int mq_locks_nr_owners(void);
unsigned int mq_locks_nr_waiters(void);
/* Limits (mq_locks_init() sets them from RLIMIT_NOFILE). */
void mq_locks_set_limits(unsigned int owners, unsigned int uid_owners,
			 unsigned int waiters, unsigned int uid_waiters);
/* Unit-test hook (NULL in the daemon): a SETLK/SETLKW @unique registered. */
extern void (*mq_locks_test_hook)(uint64_t unique);

/* ------------------------------------------------------------ sandbox.c */

/*
 * Where procfs is: "/proc/" outside the sandbox, "" inside it (procfs is
 * then the working directory, reachable by no absolute path).
 */
extern const char *mq_proc_prefix;

const char *mq_sandbox_mode_name(enum mq_sandbox_mode mode);
int mq_sandbox_nr_syscalls(void);
int mq_sandbox_close_fds(const int *keep, unsigned int nr);
int mq_stdio_fill(void);
/* "/proc/self/fd": where the sweep without close_range() looks (tests). */
extern const char *mq_sandbox_fd_dir;
/*
 * Confine the calling process (before any thread is started): pivot_root
 * into @dir, re-open @root_fd (same fd number) on the new root, reduce
 * the capabilities, load the seccomp filter.  @monitor_fd: socket to the
 * monitor the process may receive from (-1: none).  MQ_SANDBOX_NONE only
 * drops capabilities.
 */
int mq_sandbox_enter(enum mq_sandbox_mode mode, const char *dir, int root_fd,
		     int monitor_fd);
/* fork(), the child as PID 1 of a new PID namespace (sandbox.c). */
pid_t mq_sandbox_fork(void);
/* Caller's groups from /proc (creds.c), through the monitor (session.c). */
int mq_proc_groups(const char *proc, uint32_t pid, uint32_t uid,
		   uint32_t gid, gid_t *groups, int max);
int mq_monitor_groups(uint32_t pid, uint32_t uid, uint32_t gid,
		      gid_t *groups, int max);

#endif /* MQFUSED_H */
