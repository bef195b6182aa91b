// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse-server: serves a directory to mqfused clients (tcp:// sources)
 * over the remote protocol (proto.h, Documentation/protocol.rst).
 *
 * Processes:
 *  - the listener (single-threaded, poll loop): accepts connections and
 *    runs their handshakes side by side (a slow or silent peer holds only
 *    its own slot, for at most MQS_HANDSHAKE_MS); an authenticated
 *    connection goes to the worker of its client session, forked for the
 *    session's first connection;
 *  - one worker per client session: mqfused's request code over the
 *    directory (inode table, handles, locks, credentials, path
 *    confinement), one thread per connection.  A session's state (node
 *    ids, open files, locks) lives in its worker: a client that loses a
 *    connection and comes back with the same session id finds it again;
 *    a worker whose last connection has been gone for --linger seconds
 *    exits, and the kernel releases what it held (its files, its locks).
 *    Sessions are isolated from one another: one client's bad request
 *    cannot touch another's state.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "mqfused.h"
#include "mqcrypto.h"
#include "wire.h"

#define MQS_MAX_PENDING		64	/* handshakes at once */
#define MQS_HANDSHAKE_MS	3000
#define MQS_MAX_SESSIONS	256
/* what the listener tells a worker with a connection's fd */
#define MQS_FD_CRC		0x1	/* MQR_FEAT_CRC32C agreed */

static struct {
	const char *listen;
	const char *dir;
	struct mqr_secret secret;
	unsigned int linger_s;
	unsigned int max_sessions;
	const char *ready_file;
} mqs_cfg = {
	.listen = "127.0.0.1",
	.linger_s = 60,
	.max_sessions = MQS_MAX_SESSIONS,
};

/* ------------------------------------------------------------ worker */

/*
 * Results cache: a client whose connection broke sends its unanswered
 * requests again, some of which we may have run (the reply was lost on
 * the way).  A request that changes something is answered from here the
 * second time, so that it does not run twice: a retried CREATE does not
 * fail with EEXIST, a retried UNLINK does not remove a new file of the
 * same name, a retried LOOKUP or OPEN takes no second reference.  Keyed
 * by the FUSE unique, which the kernel never reuses within a session;
 * the newest MQS_RESULTS answers are kept.  A retry of a request still
 * running waits for it.
 */
#define MQS_RESULTS		8192
#define MQS_RESULT_BYTES	(64u << 20)	/* replies kept, at most */
#define MQS_RESULT_MAX		(128u << 10)	/* one reply; larger: not kept */
#define MQS_RESULT_BUCKETS	4096

struct mqs_result {
	struct mqs_result *hnext;	/* hash chain */
	struct mqs_result *fnext;	/* oldest first */
	uint64_t unique;
	bool done;
	unsigned int waiters;		/* retries waiting: not evicted */
	uint32_t len;			/* 0: no reply kept (too long) */
	char *reply;			/* malloc'd, len bytes */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t done;		/* some result finished */
	struct mqs_result *hash[MQS_RESULT_BUCKETS];
	struct mqs_result *oldest, *newest;
	unsigned int nr;
	size_t bytes;
} mqs_res = {
	.lock = PTHREAD_MUTEX_INITIALIZER, .done = PTHREAD_COND_INITIALIZER,
};

static bool mqs_result_wanted(const struct fuse_in_header *in)
{
	/* the client's own compensations count down from 2^64 - 2 */
	if (in->unique >= (1ull << 62))
		return false;
	switch (in->opcode) {
	case FUSE_LOOKUP: case FUSE_MKNOD: case FUSE_MKDIR: case FUSE_SYMLINK:
	case FUSE_LINK: case FUSE_CREATE: case FUSE_TMPFILE: case FUSE_UNLINK:
	case FUSE_RMDIR: case FUSE_RENAME: case FUSE_RENAME2: case FUSE_OPEN:
	case FUSE_OPENDIR: case FUSE_RELEASE: case FUSE_RELEASEDIR:
	case FUSE_SETATTR: case FUSE_WRITE: case FUSE_FALLOCATE:
	case FUSE_SETXATTR: case FUSE_REMOVEXATTR: case FUSE_COPY_FILE_RANGE:
	case FUSE_READDIRPLUS:	/* each entry is a lookup reference */
		return true;
	}
	return false;
}

static struct mqs_result **mqs_result_slot(uint64_t unique)
{
	struct mqs_result **pp;

	for (pp = &mqs_res.hash[(unique ^ (unique >> 13)) % MQS_RESULT_BUCKETS];
	     *pp; pp = &(*pp)->hnext)
		if ((*pp)->unique == unique)
			break;
	return pp;
}

/* Under the lock: drop the oldest finished results beyond the bound. */
static void mqs_result_trim(void)
{
	while ((mqs_res.nr > MQS_RESULTS || mqs_res.bytes > MQS_RESULT_BYTES) &&
	       mqs_res.oldest && mqs_res.oldest->done &&
	       !mqs_res.oldest->waiters) {
		struct mqs_result *r = mqs_res.oldest;

		*mqs_result_slot(r->unique) = r->hnext;
		mqs_res.oldest = r->fnext;
		if (!mqs_res.oldest)
			mqs_res.newest = NULL;
		mqs_res.nr--;
		mqs_res.bytes -= r->len;
		free(r->reply);
		free(r);
	}
}

/*
 * Before running request @in: false to run it (*@mine, if set, is the
 * entry to complete with mqs_result_done), or true with a copy of the
 * finished result to send instead of running it (*@copy, malloc'd, of
 * *@len bytes).  A result too long to keep runs again.
 */
static bool mqs_result_begin(const struct fuse_in_header *in,
			     struct mqs_result **mine, char **copy,
			     uint32_t *len)
{
	struct mqs_result *r;

	*mine = NULL;
	if (!mqs_result_wanted(in))
		return false;
	pthread_mutex_lock(&mqs_res.lock);
	r = *mqs_result_slot(in->unique);
	if (r && !r->done) {
		r->waiters++;
		while (!r->done)
			pthread_cond_wait(&mqs_res.done, &mqs_res.lock);
		r->waiters--;
	}
	if (r && r->len) {
		/* NULL (no memory): the caller drops the connection, the
		 * client asks again; never run it a second time */
		*copy = malloc(r->len);
		if (*copy)
			memcpy(*copy, r->reply, r->len);
		*len = r->len;
		pthread_mutex_unlock(&mqs_res.lock);
		return true;
	}
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (r) {
			r->unique = in->unique;
			*mqs_result_slot(in->unique) = r;
			if (mqs_res.newest)
				mqs_res.newest->fnext = r;
			else
				mqs_res.oldest = r;
			mqs_res.newest = r;
			mqs_res.nr++;
		}
	} else {
		r->done = false;	/* runs again: nothing was kept */
	}
	*mine = r;
	pthread_mutex_unlock(&mqs_res.lock);
	return false;
}

/* @r's request finished; its reply is @buf of @len (NULL: none). */
static void mqs_result_done(struct mqs_result *r, const void *buf,
			    size_t len)
{
	if (!r)
		return;
	pthread_mutex_lock(&mqs_res.lock);
	if (buf && len <= MQS_RESULT_MAX && !r->len) {
		r->reply = malloc(len);
		if (r->reply) {
			memcpy(r->reply, buf, len);
			r->len = len;
			mqs_res.bytes += len;
		}
	}
	r->done = true;
	mqs_result_trim();
	pthread_cond_broadcast(&mqs_res.done);
	pthread_mutex_unlock(&mqs_res.lock);
}

/* One connection of a session: a serving thread of the worker. */
struct mqs_conn {
	struct mq_thread thr;		/* first: the reply sink finds us */
	int fd;
	pthread_t tid;
	/* serialises messages on fd: the serving thread, lock waiters */
	pthread_mutex_t send_lock;
	uint16_t cur_flags;		/* the request being served (thread only) */
	bool crc;			/* MQR_FEAT_CRC32C agreed */
	struct mqs_result *cur_result;	/* its results cache entry, or NULL */
	bool dead;			/* a send failed: send_lock */
	gid_t groups[MQR_MAX_GROUPS];
};

static atomic_uint mqs_conns;		/* live connections of this worker */

/*
 * A reply on @c's connection.  A send that fails may have sent part of
 * the message: nothing more may follow it on the stream, so the
 * connection is shut down (the client reconnects and asks again).
 */
static int mqs_send_reply(struct mqs_conn *c, uint16_t flags, uint64_t unique,
			  const void *buf, size_t len)
{
	int ret;

	pthread_mutex_lock(&c->send_lock);
	if (c->fd < 0 || c->dead) {
		ret = -EPIPE;
	} else {
		struct mqr_hdr h = {
			.magic = MQR_MAGIC, .type = MQR_REPLY, .flags = flags,
			.len = sizeof(h) + len, .seq = unique,
			.crc = c->crc ? mqr_body_crc(0, buf, len) : 0,
		};
		struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)buf, len } };

		ret = mqr_writev_full(c->fd, iov, 2);
	}
	if (ret && c->fd >= 0 && !c->dead) {
		c->dead = true;
		shutdown(c->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&c->send_lock);
	return ret;
}

static ssize_t mqs_reply_sink(struct mq_thread *thr, const void *buf,
			      size_t len)
{
	struct mqs_conn *c = (struct mqs_conn *)thr;
	const struct fuse_out_header *oh = buf;
	uint16_t flags = 0;
	int ret;

	if (len < sizeof(*oh) || len > MQR_MAX_MSG - sizeof(struct mqr_hdr)) {
		errno = EINVAL;
		return -1;
	}
	/* only the serving thread answers the request it reads */
	if (pthread_equal(pthread_self(), c->tid)) {
		flags = c->cur_flags & MQR_F_INTERNAL;
		if (c->cur_result && c->cur_result->unique == oh->unique) {
			mqs_result_done(c->cur_result, buf, len);
			c->cur_result = NULL;
		}
	}
	ret = mqs_send_reply(c, flags, oh->unique, buf, len);
	if (ret) {
		errno = -ret;
		return -1;
	}
	return len;
}

/*
 * Read one REQ into c->thr.inbuf: returns the FUSE request's length, 0 at
 * a clean end, or a negative errno for a connection to drop (a message
 * that breaks the protocol's rules ends it: we cannot resynchronise).
 */
static ssize_t mqs_read_req(struct mqs_conn *c)
{
	struct mqr_hdr h;
	struct mqr_req r;
	size_t rest;
	int ret;

	ret = mqr_read_full(c->fd, &h, sizeof(h));
	if (ret)
		return ret == -EPIPE ? 0 : ret;
	if (!mqr_hdr_ok(&h, MQR_MAX_MSG) || h.type != MQR_REQ ||
	    h.len < sizeof(h) + sizeof(r) + sizeof(struct fuse_in_header))
		return -EPROTO;
	ret = mqr_read_full(c->fd, &r, sizeof(r));
	if (ret)
		return ret;
	if (r.ngroups > MQR_MAX_GROUPS || r.reserved)
		return -EPROTO;
	rest = h.len - sizeof(h) - sizeof(r);
	if (rest < r.ngroups * sizeof(gid_t) + sizeof(struct fuse_in_header))
		return -EPROTO;
	rest -= r.ngroups * sizeof(gid_t);
	if (rest > c->thr.inbuf_len)
		return -EPROTO;
	ret = mqr_read_full(c->fd, c->groups, r.ngroups * sizeof(gid_t));
	if (!ret)
		ret = mqr_read_full(c->fd, c->thr.inbuf, rest);
	if (ret)
		return ret;
	if (c->crc) {
		uint32_t crc = mqr_body_crc(0, &r, sizeof(r));

		crc = mqr_body_crc(crc, c->groups, r.ngroups * sizeof(gid_t));
		if (mqr_body_crc(crc, c->thr.inbuf, rest) != h.crc)
			return -EBADMSG;
	}
	if (((const struct fuse_in_header *)c->thr.inbuf)->unique != h.seq)
		return -EPROTO;
	c->thr.caller_ngroups = r.ngroups;
	c->cur_flags = h.flags;
	return rest;
}

static void *mqs_conn_main(void *arg)
{
	struct mqs_conn *c = arg;
	uint32_t cached_len;
	char name[16], *cached;
	ssize_t n;
	int ret;

	snprintf(name, sizeof(name), "mqfuse-srv/%u", c->thr.index);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		n = mqs_read_req(c);
		if (n <= 0) {
			if (n < 0)
				mq_warn("connection %u: %s: dropped",
					c->thr.index, strerror((int)-n));
			break;
		}
		if (mqs_result_begin((const void *)c->thr.inbuf, &c->cur_result,
				     &cached, &cached_len)) {
			const struct fuse_out_header *oh = (const void *)cached;

			if (!cached) {
				mq_err("connection %u: no memory to answer a retry: dropped",
				       c->thr.index);
				break;
			}
			mq_info("connection %u: unique %llu sent again: answered as the first time",
				c->thr.index, (unsigned long long)oh->unique);
			mqs_send_reply(c, 0, oh->unique, cached, cached_len);
			free(cached);
			continue;
		}
		ret = mq_dispatch(&c->thr, n);
		/* no reply (or a failed one): a retry runs it again */
		mqs_result_done(c->cur_result, NULL, 0);
		c->cur_result = NULL;
		if (ret == -ENODEV) {
			mq_info("connection %u: DESTROY: session over",
				c->thr.index);
			break;
		}
	}
	/*
	 * Lock waiters may still answer through the sink: the mutex makes
	 * them see fd -1; the structure itself stays (they hold &c->thr).
	 */
	pthread_mutex_lock(&c->send_lock);
	close(c->fd);
	c->fd = -1;
	pthread_mutex_unlock(&c->send_lock);
	mq_locks_thread_gone(&c->thr);
	/*
	 * The buffers go (16 MiB); the small rest stays, since a lock
	 * waiter of this connection may still answer through &c->thr.
	 */
	free(c->thr.inbuf);
	free(c->thr.outbuf);
	c->thr.inbuf = c->thr.outbuf = NULL;
	atomic_fetch_sub(&mqs_conns, 1);
	return NULL;
}

static int mqs_conn_start(int fd, unsigned int index, bool crc)
{
	size_t room = mq_payload_room() + MQ_REQ_HDR_ROOM;
	struct mqs_conn *c = calloc(1, sizeof(*c));
	pthread_attr_t at;
	int ret;

	if (!c)
		return -ENOMEM;
	c->fd = fd;
	c->crc = crc;
	pthread_mutex_init(&c->send_lock, NULL);
	c->thr.index = index;
	c->thr.cpu = -1;
	c->thr.devfd = -1;
	c->thr.reply_sink = mqs_reply_sink;
	c->thr.caller_groups = c->groups;
	c->thr.caller_groups_given = true;
	c->thr.inbuf = aligned_alloc(4096, room);
	c->thr.inbuf_len = room;
	c->thr.outbuf = aligned_alloc(4096, room);
	c->thr.outbuf_len = room;
	if (!c->thr.inbuf || !c->thr.outbuf)
		return -ENOMEM;		/* the worker exits: nothing to free */
	ret = mq_stats_thread_init(&c->thr.stats);
	if (ret)
		return ret;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	atomic_fetch_add(&mqs_conns, 1);
	/* c->tid is read by the sink; the thread sets its creds itself */
	ret = -pthread_create(&c->tid, &at, mqs_conn_main, c);
	pthread_attr_destroy(&at);
	if (ret)
		atomic_fetch_sub(&mqs_conns, 1);
	return ret;
}

/* Receive one connection fd from the listener: fd, -EAGAIN, or -EPIPE at EOF. */
static int mqs_recv_fd(int ctl, uint32_t *index)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { index, sizeof(*index) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;
	ssize_t n;
	int fd;

	n = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	if (n == 0)
		return -EPIPE;
	cm = CMSG_FIRSTHDR(&mh);
	if (n != sizeof(*index) || !cm || cm->cmsg_level != SOL_SOCKET ||
	    cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return -EPROTO;
	memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
	return fd;
}

static void mqs_worker_thread_creds(void)
{
	struct mq_thread t = { .index = 0 };

	/* setgroups(0) and the process-wide creds switch flag */
	if (mq_creds_thread_init(&t))
		mq_warn("worker: dropping the supplementary groups failed");
}

static int __attribute__((noreturn)) mqs_worker(int ctl)
{
	struct stat st;
	unsigned int next = 0;
	time_t idle_since = 0;
	int root, ret;

	signal(SIGPIPE, SIG_IGN);
	mq_cfg.max_write = MQ_MAX_MAX_WRITE;
	mq_cfg.writeback_cache = true;	/* served if the client negotiated it */
	mq_cfg.locks = true;
	mq_cfg.fs = MQ_FS_MQFUSE;
	ret = mq_handles_init(1u << 16);
	if (!ret)
		ret = mq_locks_init();
	root = open(mqs_cfg.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (!ret && (root < 0 || fstat(root, &st)))
		ret = -errno;
	if (!ret) {
		mq_resolve_probe(root);
		ret = mq_itable_init(root, &st);
	}
	if (!ret)
		ret = mq_creds_drop_privileges();
	if (ret) {
		mq_err("worker: setup: %s", strerror(-ret));
		_exit(1);
	}
	mqs_worker_thread_creds();
	for (;;) {
		struct pollfd p = { .fd = ctl, .events = POLLIN };
		uint32_t index;
		int fd, n;

		n = poll(&p, 1, 1000);
		if (n > 0) {
			fd = mqs_recv_fd(ctl, &index);
			if (fd == -EPIPE) {
				/* the listener is gone: finish with what we have */
				ctl = -1;
			} else if (fd >= 0) {
				ret = mqs_conn_start(fd, next++,
						     index & MQS_FD_CRC);
				if (ret) {
					mq_err("worker: connection: %s", strerror(-ret));
					close(fd);
				}
			}
		}
		if (atomic_load(&mqs_conns)) {
			idle_since = 0;
		} else {
			time_t now = time(NULL);

			if (!idle_since)
				idle_since = now;
			if (ctl < 0 || now - idle_since >= (time_t)mqs_cfg.linger_s)
				break;
		}
		if (ctl < 0)
			sleep(1);
	}
	mq_info("worker: no connection for %u s: session closed",
		mqs_cfg.linger_s);
	_exit(0);
}

/* ---------------------------------------------------------- listener */

enum mqs_stage { MQS_FREE, MQS_HELLO, MQS_AUTH };

struct mqs_pending {
	enum mqs_stage stage;
	int fd;
	struct sockaddr_storage peer;
	struct timespec deadline;
	size_t got;
	union {
		struct { struct mqr_hdr h; struct mqr_hello b; } hello;
		struct { struct mqr_hdr h; struct mqr_auth b; } auth;
	} in;
	struct mqr_hello hello;
	uint8_t snonce[MQR_NONCE_LEN];
};

struct mqs_session {
	uint8_t id[MQR_SESSION_LEN];
	pid_t pid;
	int ctl;		/* -1: slot free */
};

static struct mqs_pending mqs_pend[MQS_MAX_PENDING];
static struct mqs_session mqs_sess[MQS_MAX_SESSIONS];
static int mqs_listen_fd = -1;
static volatile sig_atomic_t mqs_stop;
static unsigned long mqs_evict_logged;

static void mqs_on_term(int sig)
{
	(void)sig;
	mqs_stop = 1;
}

static long mqs_ms_left(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (t->tv_sec - now.tv_sec) * 1000 +
	       (t->tv_nsec - now.tv_nsec) / 1000000;
}

static void mqs_pend_close(struct mqs_pending *p, const char *why)
{
	char a[80];

	if (why)
		mq_warn("client %s: %s", mqr_addr_str(&p->peer, a, sizeof(a)),
			why);
	close(p->fd);
	memset(p, 0, sizeof(*p));
	p->stage = MQS_FREE;
	p->fd = -1;
}

static void mqs_refuse(struct mqs_pending *p, int err, const char *why)
{
	struct mqr_error e = { .error = err };

	/* best effort, non-blocking: the peer may not read it */
	mqr_send(p->fd, MQR_ERROR, 0, 0, &e, sizeof(e));
	mqs_pend_close(p, why);
}

static struct mqs_session *mqs_session_find(const uint8_t *id)
{
	unsigned int i;

	for (i = 0; i < mqs_cfg.max_sessions; i++)
		if (mqs_sess[i].ctl >= 0 &&
		    !memcmp(mqs_sess[i].id, id, MQR_SESSION_LEN))
			return &mqs_sess[i];
	return NULL;
}

static struct mqs_session *mqs_session_new(const uint8_t *id)
{
	struct mqs_session *s = NULL;
	unsigned int i;
	int sv[2];
	pid_t pid;

	for (i = 0; i < mqs_cfg.max_sessions && !s; i++)
		if (mqs_sess[i].ctl < 0)
			s = &mqs_sess[i];
	if (!s)
		return NULL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return NULL;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		/* nothing of the other sessions or handshakes comes along */
		close(sv[0]);
		close(mqs_listen_fd);
		for (i = 0; i < MQS_MAX_PENDING; i++)
			if (mqs_pend[i].fd >= 0)
				close(mqs_pend[i].fd);
		for (i = 0; i < mqs_cfg.max_sessions; i++)
			if (mqs_sess[i].ctl >= 0)
				close(mqs_sess[i].ctl);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		/* a worker has no use for the secret */
		explicit_bzero(&mqs_cfg.secret, sizeof(mqs_cfg.secret));
		mqs_worker(sv[1]);
	}
	close(sv[1]);
	memcpy(s->id, id, MQR_SESSION_LEN);
	s->pid = pid;
	s->ctl = sv[0];
	return s;
}

static int mqs_send_fd(int ctl, int fd, uint32_t index)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &index, sizeof(index) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	return sendmsg(ctl, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static void mqs_hello_done(struct mqs_pending *p)
{
	const struct mqr_hdr *h = &p->in.hello.h;
	struct mqr_challenge ch = { .version = MQR_VERSION };

	if (!mqr_hdr_ok(h, MQR_MAX_MSG) || h->type != MQR_HELLO ||
	    h->len != sizeof(p->in.hello) || h->flags || h->seq) {
		mqs_pend_close(p, "not a HELLO: closed");
		return;
	}
	p->hello = p->in.hello.b;
	if (p->hello.version_min > MQR_VERSION ||
	    p->hello.version_max < MQR_VERSION) {
		mqs_refuse(p, -EPROTONOSUPPORT, "protocol version not served");
		return;
	}
	if (mq_random_bytes(p->snonce, sizeof(p->snonce))) {
		mqs_pend_close(p, "no random bytes");
		return;
	}
	ch.features = p->hello.features & MQR_FEAT_KNOWN;
	memcpy(ch.nonce, p->snonce, sizeof(ch.nonce));
	mqr_server_proof(&mqs_cfg.secret, ch.version, ch.features,
			 p->hello.nonce, p->snonce, p->hello.session, ch.proof);
	if (mqr_send(p->fd, MQR_CHALLENGE, 0, 0, &ch, sizeof(ch))) {
		mqs_pend_close(p, "sending the challenge failed");
		return;
	}
	p->stage = MQS_AUTH;
	p->got = 0;
}

static void mqs_auth_done(struct mqs_pending *p)
{
	const struct mqr_hdr *h = &p->in.auth.h;
	struct mqr_welcome w = { .max_msg = MQR_MAX_MSG };
	struct timeval no_tmo = { 0, 0 };
	uint8_t want[MQR_MAC_LEN];
	struct mqs_session *s;
	char a[80];
	int fl;

	if (!mqr_hdr_ok(h, MQR_MAX_MSG) || h->type != MQR_AUTH ||
	    h->len != sizeof(p->in.auth) || h->flags || h->seq) {
		mqs_pend_close(p, "not an AUTH: closed");
		return;
	}
	mqr_client_proof(&mqs_cfg.secret, p->snonce, p->hello.nonce,
			 p->hello.session, p->hello.conn_index, want);
	if (mq_ct_memcmp(want, p->in.auth.b.proof, sizeof(want))) {
		mqs_refuse(p, -EACCES, "wrong secret: refused");
		return;
	}
	s = mqs_session_find(p->hello.session);
	if (!s) {
		s = mqs_session_new(p->hello.session);
		if (!s) {
			mqs_refuse(p, -EAGAIN, "no session slot or fork failed: refused");
			return;
		}
		w.flags |= MQR_W_NEW_SESSION;
		mq_info("client %s: new session (worker %d)",
			mqr_addr_str(&p->peer, a, sizeof(a)), s->pid);
	}
	/*
	 * The worker's thread reads and writes it blocking, with no send
	 * timeout: a send cut short by one would leave half a reply in the
	 * stream.  A peer that is gone is noticed by TCP (keepalive, user
	 * timeout: mqr_tcp_liveness).
	 */
	fl = fcntl(p->fd, F_GETFL);
	if (fl < 0 || fcntl(p->fd, F_SETFL, fl & ~O_NONBLOCK) ||
	    mqr_send(p->fd, MQR_WELCOME, 0, 0, &w, sizeof(w)) ||
	    setsockopt(p->fd, SOL_SOCKET, SO_SNDTIMEO, &no_tmo, sizeof(no_tmo)) ||
	    mqs_send_fd(s->ctl, p->fd, (p->hello.features & MQR_FEAT_CRC32C) ?
			MQS_FD_CRC : 0)) {
		mqs_pend_close(p, "handing the connection over failed");
		return;
	}
	mqs_pend_close(p, NULL);
}

static void mqs_pend_input(struct mqs_pending *p)
{
	size_t want = p->stage == MQS_HELLO ? sizeof(p->in.hello) :
					      sizeof(p->in.auth);
	ssize_t n = recv(p->fd, (char *)&p->in + p->got, want - p->got, 0);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		mqs_pend_close(p, p->stage == MQS_AUTH ?
			       "closed during the handshake" : NULL);
		return;
	}
	if (n < 0)
		return;
	p->got += n;
	/* a header that is already wrong ends it at once */
	if (p->got >= sizeof(struct mqr_hdr) &&
	    ((struct mqr_hdr *)&p->in)->magic != MQR_MAGIC) {
		mqs_pend_close(p, "not the mqfuse protocol: closed");
		return;
	}
	if (p->got < want)
		return;
	if (p->stage == MQS_HELLO)
		mqs_hello_done(p);
	else
		mqs_auth_done(p);
}

static void mqs_accept(void)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct timeval tv = { 1, 0 };
	unsigned int i;
	int fd;

	fd = accept4(mqs_listen_fd, (struct sockaddr *)&ss, &sl,
		     SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (i = 0; i < MQS_MAX_PENDING; i++)
		if (mqs_pend[i].stage == MQS_FREE)
			break;
	if (i == MQS_MAX_PENDING) {
		/*
		 * Every slot taken: the handshake that started first goes,
		 * so that idle peers cannot keep real clients out.
		 */
		unsigned int j, old = 0;

		for (j = 1; j < MQS_MAX_PENDING; j++)
			if (mqs_ms_left(&mqs_pend[j].deadline) <
			    mqs_ms_left(&mqs_pend[old].deadline))
				old = j;
		if (mqs_evict_logged++ % 1000 == 0)
			mq_warn("%u handshakes at once: the oldest are dropped",
				MQS_MAX_PENDING);
		mqs_pend_close(&mqs_pend[old], NULL);
		i = old;
	}
	mqr_tcp_liveness(fd);
	/* a non-blocking WELCOME or ERROR never waits long */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	mqs_pend[i].stage = MQS_HELLO;
	mqs_pend[i].fd = fd;
	mqs_pend[i].peer = ss;
	mqs_pend[i].got = 0;
	clock_gettime(CLOCK_MONOTONIC, &mqs_pend[i].deadline);
	mqs_pend[i].deadline.tv_sec += MQS_HANDSHAKE_MS / 1000;
}

static void mqs_reap(void)
{
	unsigned int i;
	pid_t pid;
	int st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		for (i = 0; i < mqs_cfg.max_sessions; i++)
			if (mqs_sess[i].ctl >= 0 && mqs_sess[i].pid == pid) {
				close(mqs_sess[i].ctl);
				mqs_sess[i].ctl = -1;
				if (!WIFEXITED(st) || WEXITSTATUS(st))
					mq_warn("worker %d ended with status 0x%x",
						pid, st);
			}
}

static int mqs_listen(void)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, ret;
	char a[80];

	ret = mqr_resolve(mqs_cfg.listen, true, &ss, &sl);
	if (ret) {
		mq_err("--listen %s: cannot resolve", mqs_cfg.listen);
		return ret;
	}
	mqs_listen_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
			       SOCK_NONBLOCK, 0);
	if (mqs_listen_fd < 0)
		return -errno;
	setsockopt(mqs_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(mqs_listen_fd, (struct sockaddr *)&ss, sl) ||
	    listen(mqs_listen_fd, 128)) {
		ret = -errno;
		mq_err("listen on %s: %s", mqr_addr_str(&ss, a, sizeof(a)),
		       strerror(-ret));
		return ret;
	}
	sl = sizeof(ss);
	getsockname(mqs_listen_fd, (struct sockaddr *)&ss, &sl);
	mq_info("listening on %s, serving %s", mqr_addr_str(&ss, a, sizeof(a)),
		mqs_cfg.dir);
	if (mqs_cfg.ready_file) {
		FILE *f = fopen(mqs_cfg.ready_file, "w");

		if (!f || fprintf(f, "%s\n", a) < 0 || fclose(f)) {
			mq_err("--ready-file %s: %s", mqs_cfg.ready_file,
			       strerror(errno));
			return -EIO;
		}
	}
	return 0;
}

static void mqs_loop(void)
{
	struct pollfd pf[1 + MQS_MAX_PENDING];
	struct mqs_pending *who[1 + MQS_MAX_PENDING];
	unsigned int i, n;

	while (!mqs_stop) {
		long wait = 1000;

		mqs_reap();
		n = 0;
		pf[n].fd = mqs_listen_fd;
		pf[n].events = POLLIN;
		who[n++] = NULL;
		for (i = 0; i < MQS_MAX_PENDING; i++) {
			struct mqs_pending *p = &mqs_pend[i];
			long left;

			if (p->stage == MQS_FREE)
				continue;
			left = mqs_ms_left(&p->deadline);
			if (left <= 0) {
				mqs_pend_close(p, "handshake timed out");
				continue;
			}
			if (left < wait)
				wait = left;
			pf[n].fd = p->fd;
			pf[n].events = POLLIN;
			who[n++] = p;
		}
		if (poll(pf, n, wait) <= 0)
			continue;
		for (i = 1; i < n; i++)
			if (pf[i].revents)
				mqs_pend_input(who[i]);
		if (pf[0].revents & POLLIN)
			mqs_accept();
	}
}

static void mqs_usage(FILE *f)
{
	fprintf(f,
"Usage: mqfuse-server [OPTIONS] --secret-file FILE DIR\n"
"Serve DIR to mqfused clients (mqfused tcp://HOST:PORT MOUNTPOINT) over\n"
"the mqfuse remote protocol (Documentation/protocol.rst).  Runs in the\n"
"foreground; needs root to act as each caller.\n"
"\n"
"  --listen ADDR[:PORT]  where to listen (default 127.0.0.1:%u; * for all)\n"
"  --secret-file FILE    the shared secret (16-4096 bytes, mode 600)\n"
"  --linger SECONDS      keep a session whose connections are gone (default 60)\n"
"  --max-sessions N      client sessions at once (default %u)\n"
"  --ready-file FILE     write the address listened on to FILE once listening\n"
"  --log-level LEVEL     err, warn (default), info or debug\n"
"  -h, --help, -V, --version\n", MQR_DEFAULT_PORT, MQS_MAX_SESSIONS);
}

int main(int argc, char **argv)
{
	enum { OPT_LISTEN = 256, OPT_SECRET, OPT_LINGER, OPT_MAX_SESS,
	       OPT_READY, OPT_LOG };
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "secret-file", required_argument, NULL, OPT_SECRET },
		{ "linger", required_argument, NULL, OPT_LINGER },
		{ "max-sessions", required_argument, NULL, OPT_MAX_SESS },
		{ "ready-file", required_argument, NULL, OPT_READY },
		{ "log-level", required_argument, NULL, OPT_LOG },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	enum mq_log_level level = MQ_LOG_WARN;
	const char *secret = NULL;
	char real[PATH_MAX], why[256];
	struct sigaction sa = { .sa_handler = mqs_on_term };
	unsigned int i;
	int c, ret;

	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (c) {
		case OPT_LISTEN:
			mqs_cfg.listen = optarg;
			break;
		case OPT_SECRET:
			secret = optarg;
			break;
		case OPT_LINGER:
		case OPT_MAX_SESS:
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v > 86400 ||
			    (c == OPT_MAX_SESS && (!v || v > MQS_MAX_SESSIONS))) {
				fprintf(stderr, "mqfuse-server: bad value '%s'\n", optarg);
				return 2;
			}
			if (c == OPT_LINGER)
				mqs_cfg.linger_s = v;
			else
				mqs_cfg.max_sessions = v;
			break;
		case OPT_READY:
			mqs_cfg.ready_file = optarg;
			break;
		case OPT_LOG:
			ret = mq_log_parse_level(optarg);
			if (ret < 0) {
				fprintf(stderr, "mqfuse-server: unknown log level '%s'\n",
					optarg);
				return 2;
			}
			level = ret;
			break;
		case 'h':
			mqs_usage(stdout);
			return 0;
		case 'V':
			printf("mqfuse-server %s (remote protocol %u, FUSE protocol %d.%d)\n",
			       MQFUSED_VERSION, MQR_VERSION, FUSE_KERNEL_VERSION,
			       FUSE_KERNEL_MINOR_VERSION);
			return 0;
		default:
			mqs_usage(stderr);
			return 2;
		}
	}
	mq_log_ident = "mqfuse-server";
	mq_log_init(level, false);
	if (argc - optind != 1 || !secret) {
		mqs_usage(stderr);
		return 2;
	}
	if (mqr_secret_load(secret, &mqs_cfg.secret, why, sizeof(why))) {
		mq_err("--secret-file %s", why);
		return 1;
	}
	if (!realpath(argv[optind], real)) {
		mq_err("%s: %s", argv[optind], strerror(errno));
		return 1;
	}
	mqs_cfg.dir = strdup(real);
	if (geteuid() != 0)
		mq_warn("not root: every request runs as uid %u", geteuid());
	for (i = 0; i < MQS_MAX_PENDING; i++)
		mqs_pend[i].fd = -1;
	for (i = 0; i < MQS_MAX_SESSIONS; i++)
		mqs_sess[i].ctl = -1;
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	ret = mqs_listen();
	if (ret)
		return 1;
	mqs_loop();
	mq_info("stopping: the sessions' workers end with their connections");
	return 0;
}
