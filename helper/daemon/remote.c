// SPDX-License-Identifier: GPL-2.0
/*
 * A tcp:// source: mqfused forwards the kernel's requests to
 * mqfuse-server (remote protocol, ../remote/proto.h) instead of serving
 * them on a local directory.
 *
 * Each serving thread has its own connection, and its own receiver
 * thread: the serving thread sends every request it reads at once (many
 * in flight per thread: the server answers them in the order they
 * finish), the receiver writes each reply to the kernel on the serving
 * thread's device fd (a FUSE reply must go back on the fd its request
 * came from).  INIT is answered here (the session with the kernel is
 * ours) and then sent to the server with the flags we negotiated, so
 * that both ends serve the same protocol.
 *
 * A request stays in its connection's pending table until its reply has
 * come: when a connection breaks, the receiver reconnects (same session
 * id: the server's worker keeps the session's state) with a doubling
 * delay, and sends the pending requests again.  The server answers a
 * request it has answered before from its results cache, so a retried
 * CREATE or RENAME does not run twice.
 *
 * Locking: conn->send_lock serialises writes to conn->fd and changes of
 * conn->fd (the serving thread and the resender send; only the receiver
 * changes the fd, when it reconnects, so it reads conn->fd without the
 * lock, and never waits for send_lock: a sender may be blocked until
 * the server reads, and the server until we read).  conn->lock protects
 * the pending table, the deferred list and the internal reply slot.
 * Order: send_lock, then lock; nobody sleeps on conn->cond with
 * send_lock held.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "mqfused.h"
#include "mqcrypto.h"
#include "wire.h"

#define MQR_MAX_ADDRS		8
#define MQR_PENDING_BUCKETS	256
#define MQR_CONNECT_MS		5000
#define MQR_INTERNAL_MS		10000	/* the server's INIT reply */
/* Bytes of requests one connection may have in flight before its
 * serving thread waits. */
#define MQR_PENDING_MAX		(256u << 20)
/* The INIT reply, at most (an INTERNAL reply longer is refused). */
#define MQR_INTERNAL_MAX	(sizeof(struct fuse_out_header) + \
				 sizeof(struct fuse_init_out))

struct mqr_pending {
	struct mqr_pending *next;
	uint64_t unique;
	uint32_t opcode;
	uint32_t len;		/* of frame */
	char frame[];		/* mqr_hdr, mqr_req, groups, the request */
};

struct mqr_cconn {
	unsigned int index;
	int fd;				/* -1 while down; send_lock */
	int devfd;			/* the serving thread's */
	pthread_t rx;
	pthread_mutex_t send_lock;
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* pending room, internal reply */
	struct mqr_pending *pending[MQR_PENDING_BUCKETS];	/* lock */
	size_t pending_bytes;		/* lock: table + reserved by senders */
	unsigned int nr_pending;	/* lock */
	/*
	 * lock: frames that expect no reply (FORGET, INTERRUPT, the undoing
	 * of a reply the kernel refused) and could not be sent yet; sent by
	 * whoever next holds send_lock, oldest first.
	 */
	struct mqr_pending *deferred, **deferred_tail;
	bool flusher;			/* lock: a flusher thread runs */
	unsigned long gen;		/* send_lock: connections made */
	/* the internal request's reply (INIT), under lock */
	bool internal_waiting, internal_done;
	char *internal_buf;
	size_t internal_len;
	char *rxbuf;
};

static struct {
	bool on;
	uint32_t features;		/* MQR_FEAT_*: --checksum */
	const char *secret_path;
	struct mqr_secret secret;
	struct sockaddr_storage addr[MQR_MAX_ADDRS];
	socklen_t addr_len[MQR_MAX_ADDRS];
	unsigned int nr_addrs;
	uint8_t session[MQR_SESSION_LEN];
	struct mqr_cconn *conns[4096];
} mqr;

bool mq_remote_active(void)
{
	return mqr.on;
}

void mq_remote_set_secret_file(const char *path)
{
	mqr.secret_path = path;
}

void mq_remote_set_checksum(void)
{
	mqr.features |= MQR_FEAT_CRC32C;
}

int mq_remote_parse(const char *src)
{
	char *list, *tok, *save = NULL;
	int ret = 0;

	if (strncmp(src, "tcp://", 6))
		return -EINVAL;
	list = strdup(src + 6);
	if (!list)
		return -ENOMEM;
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (mqr.nr_addrs == MQR_MAX_ADDRS) {
			mq_err("%s: at most %d servers", src, MQR_MAX_ADDRS);
			ret = -E2BIG;
			break;
		}
		ret = mqr_resolve(tok, false, &mqr.addr[mqr.nr_addrs],
				  &mqr.addr_len[mqr.nr_addrs]);
		if (ret) {
			mq_err("%s: cannot resolve '%s'", src, tok);
			break;
		}
		mqr.nr_addrs++;
	}
	free(list);
	if (!ret && !mqr.nr_addrs) {
		mq_err("%s: no server", src);
		ret = -EINVAL;
	}
	mqr.on = !ret;
	return ret;
}

/* Connect connection @index to the first server that answers. */
static int mqr_connect(unsigned int index, struct mqr_welcome *w)
{
	int ret = -EHOSTUNREACH;
	unsigned int i;
	char a[80];

	for (i = 0; i < mqr.nr_addrs; i++) {
		ret = mqr_client_connect(&mqr.addr[i], mqr.addr_len[i],
					 &mqr.secret, mqr.session, index,
					 mqr.features, MQR_CONNECT_MS, w);
		if (ret >= 0)
			return ret;
		mqr_addr_str(&mqr.addr[i], a, sizeof(a));
		if (ret == -EACCES)
			mq_err("server %s refused our secret", a);
		else if (ret == -EPERM)
			mq_err("server %s does not know the secret: not trusted", a);
		else if (ret == -EPROTONOSUPPORT)
			mq_err("server %s does not checksum messages (--checksum)", a);
		else
			mq_warn("server %s: %s", a, strerror(-ret));
	}
	return ret;
}

int mq_remote_setup(void)
{
	struct mqr_welcome w;
	char why[256];
	int ret;

	if (!mqr.secret_path) {
		mq_err("a tcp:// source needs --secret-file FILE");
		return -EINVAL;
	}
	ret = mqr_secret_load(mqr.secret_path, &mqr.secret, why, sizeof(why));
	if (ret) {
		mq_err("--secret-file %s", why);
		return ret;
	}
	ret = mq_random_bytes(mqr.session, sizeof(mqr.session));
	if (ret)
		return ret;
	/*
	 * Fail before mounting when no server takes us.  The fd sweep
	 * before serving closes what is open now: the serving threads
	 * connect again (the server keeps the session meanwhile).
	 */
	ret = mqr_connect(0, &w);
	if (ret < 0)
		return ret;
	close(ret);
	return 0;
}

static struct mqr_pending **mqr_bucket(struct mqr_cconn *c, uint64_t unique)
{
	return &c->pending[(unique ^ (unique >> 17)) % MQR_PENDING_BUCKETS];
}

static struct mqr_pending *mqr_pending_take(struct mqr_cconn *c,
					    uint64_t unique)
{
	struct mqr_pending **pp, *p;

	for (pp = mqr_bucket(c, unique); (p = *pp); pp = &p->next)
		if (p->unique == unique) {
			*pp = p->next;
			c->pending_bytes -= p->len;
			c->nr_pending--;
			pthread_cond_broadcast(&c->cond);
			return p;
		}
	return NULL;
}

/*
 * A successful reply the kernel did not take (the request was
 * interrupted or aborted): what it gave us on the server (a lookup
 * reference, an open handle) would never be returned.  Give it back.
 */
static void mqr_send_internal_noreply(struct mqr_cconn *c, uint32_t opcode,
				      uint64_t nodeid, const void *arg,
				      size_t arg_len);

static void mqr_undo(struct mqr_cconn *c, const struct mqr_pending *p,
		     const char *reply, size_t len)
{
	const struct fuse_out_header *oh = (const void *)reply;
	const struct fuse_entry_out *eo = (const void *)(oh + 1);
	const struct fuse_open_out *oo;
	struct fuse_forget_in fi = { .nlookup = 1 };
	struct fuse_release_in ri = { 0 };
	size_t body = len - sizeof(*oh);

	if (oh->error)
		return;
	switch (p->opcode) {
	case FUSE_CREATE:
	case FUSE_TMPFILE:
		if (body < sizeof(*eo) + sizeof(*oo))
			return;
		oo = (const void *)(eo + 1);
		ri.fh = oo->fh;
		mqr_send_internal_noreply(c, FUSE_RELEASE, eo->nodeid, &ri,
					  sizeof(ri));
		/* fall through */
	case FUSE_LOOKUP:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_LINK:
		if (body >= sizeof(*eo) && eo->nodeid)
			mqr_send_internal_noreply(c, FUSE_FORGET, eo->nodeid,
						  &fi, sizeof(fi));
		break;
	case FUSE_READDIRPLUS: {
		/* each entry with a node id carries a lookup reference */
		size_t off = 0;

		while (body - off >= sizeof(struct fuse_direntplus)) {
			const struct fuse_direntplus *d =
				(const void *)((const char *)(oh + 1) + off);
			size_t rec = FUSE_DIRENTPLUS_SIZE(d);

			if (d->dirent.namelen > 1024 || rec > body - off)
				break;
			if (d->entry_out.nodeid)
				mqr_send_internal_noreply(c, FUSE_FORGET,
							  d->entry_out.nodeid,
							  &fi, sizeof(fi));
			off += rec;
		}
		break;
	}
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		if (body < sizeof(*oo))
			return;
		oo = (const void *)(oh + 1);
		ri.fh = oo->fh;
		mqr_send_internal_noreply(c, p->opcode == FUSE_OPEN ?
					  FUSE_RELEASE : FUSE_RELEASEDIR,
					  ((const struct fuse_in_header *)
					   (p->frame + sizeof(struct mqr_hdr) +
					    sizeof(struct mqr_req)))->nodeid,
					  &ri, sizeof(ri));
		break;
	}
}

/* Send @frame (whole) on c->fd; caller holds send_lock. */
static int mqr_send_frame_locked(struct mqr_cconn *c, const char *frame,
				 size_t len)
{
	struct iovec iov = { (void *)frame, len };
	int ret;

	if (c->fd < 0)
		return -ENOTCONN;
	ret = mqr_writev_full(c->fd, &iov, 1);
	if (ret)	/* the receiver sees it too and reconnects */
		shutdown(c->fd, SHUT_RDWR);
	return ret;
}

static void mqr_flush_deferred_locked(struct mqr_cconn *c);

/*
 * A thread that sends the deferred frames: it may wait for send_lock and
 * for the socket, which the receiver must never do.  Frames still there
 * when the connection is down go first on the next one (mqr_reconnect).
 */
static void *mqr_flusher_main(void *arg)
{
	struct mqr_cconn *c = arg;
	bool more;

	do {
		pthread_mutex_lock(&c->send_lock);
		mqr_flush_deferred_locked(c);
		pthread_mutex_lock(&c->lock);
		more = c->deferred && c->fd >= 0;
		if (!more)
			c->flusher = false;
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_unlock(&c->send_lock);
	} while (more);
	return NULL;
}

/* Queue @p (a frame that expects no reply) and have it sent. */
static void mqr_defer(struct mqr_cconn *c, struct mqr_pending *p)
{
	pthread_t t;
	bool start;

	pthread_mutex_lock(&c->lock);
	p->next = NULL;
	*c->deferred_tail = p;
	c->deferred_tail = &p->next;
	start = !c->flusher;
	c->flusher = true;
	pthread_mutex_unlock(&c->lock);
	if (!start)
		return;
	if (pthread_create(&t, NULL, mqr_flusher_main, c)) {
		/* the next sender or reconnect sends it */
		pthread_mutex_lock(&c->lock);
		c->flusher = false;
		pthread_mutex_unlock(&c->lock);
		return;
	}
	pthread_detach(t);
}

/* Send what was deferred; caller holds send_lock. */
static void mqr_flush_deferred_locked(struct mqr_cconn *c)
{
	struct mqr_pending *p;

	for (;;) {
		pthread_mutex_lock(&c->lock);
		p = c->deferred;
		if (p) {
			c->deferred = p->next;
			if (!c->deferred)
				c->deferred_tail = &c->deferred;
		}
		pthread_mutex_unlock(&c->lock);
		if (!p)
			return;
		if (mqr_send_frame_locked(c, p->frame, p->len)) {
			/* back at the head: the next connection sends it */
			pthread_mutex_lock(&c->lock);
			p->next = c->deferred;
			c->deferred = p;
			if (!p->next)
				c->deferred_tail = &p->next;
			pthread_mutex_unlock(&c->lock);
			return;
		}
		free(p);
	}
}

/* Build a frame: header, mqr_req, @ngroups groups, request of @len. */
static struct mqr_pending *mqr_frame(uint16_t flags, const void *req,
				     size_t len, const gid_t *groups,
				     unsigned int ngroups)
{
	const struct fuse_in_header *in = req;
	size_t glen = ngroups * sizeof(gid_t);
	size_t flen = sizeof(struct mqr_hdr) + sizeof(struct mqr_req) + glen +
		      len;
	struct mqr_pending *p = malloc(sizeof(*p) + flen);
	struct mqr_hdr *h;
	struct mqr_req *r;

	if (!p)
		return NULL;
	p->next = NULL;
	p->unique = in->unique;
	p->opcode = in->opcode;
	p->len = flen;
	h = (void *)p->frame;
	*h = (struct mqr_hdr){ .magic = MQR_MAGIC, .type = MQR_REQ,
			       .flags = flags, .len = flen,
			       .seq = in->unique };
	r = (void *)(h + 1);
	*r = (struct mqr_req){ .ngroups = ngroups };
	memcpy(r + 1, groups, glen);
	memcpy((char *)(r + 1) + glen, req, len);
	if (mqr.features & MQR_FEAT_CRC32C)
		h->crc = mqr_body_crc(0, r, flen - sizeof(*h));
	return p;
}

static void mqr_send_internal_noreply(struct mqr_cconn *c, uint32_t opcode,
				      uint64_t nodeid, const void *arg,
				      size_t arg_len)
{
	struct {
		struct fuse_in_header in;
		char arg[64];
	} req = { .in = {
		.len = sizeof(struct fuse_in_header) + arg_len,
		.opcode = opcode, .nodeid = nodeid,
		/* never a kernel unique: those count up from 1 */
		.unique = (uint64_t)-2 - opcode,
	} };
	struct mqr_pending *p;

	memcpy(req.arg, arg, arg_len);
	p = mqr_frame(0, &req, req.in.len, NULL, 0);
	if (!p)
		return;
	/* the receiver calls us, which must never wait to send */
	mqr_defer(c, p);
}

/* Requests the server never answers. */
static bool mqr_no_reply(uint32_t opcode)
{
	return opcode == FUSE_FORGET || opcode == FUSE_BATCH_FORGET ||
	       opcode == FUSE_INTERRUPT;
}

int mq_remote_forward(struct mq_thread *thr, size_t len)
{
	const struct fuse_in_header *in = (const void *)thr->inbuf;
	struct mqr_cconn *c = mqr.conns[thr->index];
	gid_t groups[MQR_MAX_GROUPS];
	const struct mq_op *op;
	struct mqr_pending *p;
	int ngroups = 0, ret;
	bool track;

	if (len < sizeof(*in) || in->len != len) {
		mq_warn("malformed request: read %zu bytes", len);
		return 0;
	}
	op = mq_op_find(in->opcode);
	if (in->uid && op && op->as_caller)
		ngroups = mq_creds_caller_groups(thr, in, groups,
						 MQR_MAX_GROUPS);
	p = mqr_frame(0, in, len, groups, ngroups > 0 ? ngroups : 0);
	if (!p) {
		if (!mqr_no_reply(in->opcode))
			mq_reply_detached(thr, in->unique, -ENOMEM);
		return 0;
	}
	mq_stats_account(&thr->stats, in->opcode, len);
	track = !mqr_no_reply(in->opcode);
	if (track) {
		/* room first, without send_lock (the receiver frees it) */
		pthread_mutex_lock(&c->lock);
		while (c->pending_bytes > MQR_PENDING_MAX)
			pthread_cond_wait(&c->cond, &c->lock);
		c->pending_bytes += p->len;	/* reserved */
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_lock(&c->send_lock);
	mqr_flush_deferred_locked(c);
	if (track) {
		/* in the table before it is sent: a reconnect sends it again */
		pthread_mutex_lock(&c->lock);
		p->next = *mqr_bucket(c, p->unique);
		*mqr_bucket(c, p->unique) = p;
		c->nr_pending++;
		pthread_mutex_unlock(&c->lock);
	}
	/* not connected: the pending ones are sent again when it is */
	ret = mqr_send_frame_locked(c, p->frame, p->len);
	pthread_mutex_unlock(&c->send_lock);
	if (!track && ret)
		mqr_defer(c, p);	/* FORGET & co: not lost */
	else if (!track)
		free(p);
	return in->opcode == FUSE_DESTROY ? -ENODEV : 0;
}

/* Read one REPLY into c->rxbuf: its length, or a negative errno. */
static ssize_t mqr_read_reply(struct mqr_cconn *c, int fd, uint16_t *flags)
{
	const struct fuse_out_header *oh = (const void *)c->rxbuf;
	struct mqr_hdr h;
	size_t len;
	int ret;

	ret = mqr_read_full(fd, &h, sizeof(h));
	if (ret)
		return ret;
	if (!mqr_hdr_ok(&h, MQR_MAX_MSG) || h.type != MQR_REPLY ||
	    h.len < sizeof(h) + sizeof(*oh))
		return -EPROTO;
	len = h.len - sizeof(h);
	ret = mqr_read_full(fd, c->rxbuf, len);
	if (ret)
		return ret;
	if (oh->len != len || oh->unique != h.seq)
		return -EPROTO;
	if ((mqr.features & MQR_FEAT_CRC32C) &&
	    mqr_body_crc(0, c->rxbuf, len) != h.crc) {
		mq_err("connection %u: a reply from the server fails its checksum",
		       c->index);
		return -EBADMSG;
	}
	*flags = h.flags;
	return len;
}

/*
 * The server has no state for our session (it restarted, or we were
 * away longer than its --linger).  Before INIT that is fine; after it,
 * the node ids and file handles the kernel holds name nothing there, or
 * worse, other files once the server hands the same numbers out again:
 * the session ends (as if the daemon died: ENOTCONN), it cannot go on.
 */
static void mqr_session_lost(struct mqr_cconn *c)
{
	if (!atomic_load(&mq_conn.proto_minor))
		return;	/* INIT not answered yet: nothing the kernel holds */
	mq_log_everywhere(MQ_LOG_ERR, "connection %u: the server lost this session (restarted, or away longer than its --linger): node ids are stale; ending the session (ENOTCONN until unmounted)",
			  c->index);
	_exit(1);
}

struct mqr_resend {
	struct mqr_cconn *c;
	unsigned long gen;	/* the connection it sends on */
	unsigned int nr;
	uint64_t *uniques;
};

/* Send the requests pending at a reconnect again, one by one. */
static void *mqr_resend_main(void *arg)
{
	struct mqr_resend *rs = arg;
	struct mqr_cconn *c = rs->c;
	unsigned int i;

	for (i = 0; i < rs->nr; i++) {
		struct mqr_pending *p, *copy = NULL;

		/* a copy: the receiver frees the entry when its reply comes */
		pthread_mutex_lock(&c->lock);
		for (p = *mqr_bucket(c, rs->uniques[i]); p; p = p->next)
			if (p->unique == rs->uniques[i])
				break;
		if (p) {
			copy = malloc(sizeof(*p) + p->len);
			if (copy)
				memcpy(copy, p, sizeof(*p) + p->len);
		}
		pthread_mutex_unlock(&c->lock);
		if (p && !copy) {
			/* no memory: a new connection sends them all again */
			pthread_mutex_lock(&c->send_lock);
			if (c->gen == rs->gen && c->fd >= 0)
				shutdown(c->fd, SHUT_RDWR);
			pthread_mutex_unlock(&c->send_lock);
			break;
		}
		if (!copy)
			continue;	/* answered meanwhile */
		pthread_mutex_lock(&c->send_lock);
		if (c->gen == rs->gen && c->fd >= 0)
			mqr_send_frame_locked(c, copy->frame, copy->len);
		pthread_mutex_unlock(&c->send_lock);
		free(copy);
		if (c->gen != rs->gen)
			break;	/* a newer connection sends them all */
	}
	free(rs->uniques);
	free(rs);
	return NULL;
}

/*
 * Connection @c is down: connect again (doubling delay, up to 5 s), and
 * send what is pending again.
 */
static void mqr_reconnect(struct mqr_cconn *c)
{
	unsigned int delay_ms = 100, b, sent = 0;
	struct mqr_resend *rs;
	struct mqr_welcome w;
	struct timespec t0, t1;
	int fd;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/*
	 * Senders may hold send_lock, blocked on the dead socket: shutdown
	 * (not close: the number must not be reused under them) ends their
	 * write; the fd is closed once it is theirs no more.
	 */
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_lock(&c->send_lock);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	pthread_mutex_unlock(&c->send_lock);
	mq_warn("connection %u: lost: reconnecting", c->index);
	for (;;) {
		fd = mqr_connect(c->index, &w);
		if (fd >= 0 && (w.flags & MQR_W_NEW_SESSION))
			mqr_session_lost(c);
		if (fd >= 0)
			break;
		usleep(delay_ms * 1000);
		if (delay_ms < 5000)
			delay_ms *= 2;
	}
	/*
	 * What is in the table now was sent on a connection that is gone,
	 * or never: all of it goes again.  What is added later is sent by
	 * its own thread on the new connection.  A resender thread sends
	 * it, so that this thread reads the replies meanwhile (the server
	 * stops reading when we stop reading).
	 */
	rs = calloc(1, sizeof(*rs));
	pthread_mutex_lock(&c->send_lock);
	c->fd = fd;
	c->gen++;
	pthread_mutex_lock(&c->lock);
	if (rs) {
		rs->uniques = malloc((c->nr_pending + 1) * sizeof(uint64_t));
		if (rs->uniques)
			for (b = 0; b < MQR_PENDING_BUCKETS; b++) {
				struct mqr_pending *p;

				for (p = c->pending[b]; p; p = p->next)
					rs->uniques[sent++] = p->unique;
			}
	}
	pthread_mutex_unlock(&c->lock);
	if (rs && !rs->uniques) {
		free(rs);
		rs = NULL;
		shutdown(fd, SHUT_RDWR);	/* no memory: try again */
	} else if (rs) {
		pthread_t t;

		rs->c = c;
		rs->gen = c->gen;
		rs->nr = sent;
		if (!pthread_create(&t, NULL, mqr_resend_main, rs)) {
			pthread_detach(t);
			rs = NULL;
		}
	}
	if (rs) {
		/* no thread: connect again */
		free(rs->uniques);
		free(rs);
		mq_warn("connection %u: no resender thread: reconnecting again",
			c->index);
		shutdown(fd, SHUT_RDWR);
	}
	mqr_flush_deferred_locked(c);
	pthread_mutex_unlock(&c->send_lock);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	mq_warn("connection %u: back after %ld ms, %u request(s) sent again",
		c->index, (t1.tv_sec - t0.tv_sec) * 1000 +
		(t1.tv_nsec - t0.tv_nsec) / 1000000, sent);
}

static void *mqr_rx_main(void *arg)
{
	struct mqr_cconn *c = arg;
	char name[16];

	snprintf(name, sizeof(name), "mqfused-rx/%u", c->index);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		const struct fuse_out_header *oh = (const void *)c->rxbuf;
		struct mqr_pending *p;
		uint16_t flags = 0;
		ssize_t n;
		int fd;

		fd = c->fd;	/* only this thread changes it */
		n = fd < 0 ? -ENOTCONN : mqr_read_reply(c, fd, &flags);
		if (n < 0) {
			if (n == -EPROTO)
				mq_err("connection %u: malformed reply from the server",
				       c->index);
			mqr_reconnect(c);
			continue;
		}
		if (flags & MQR_F_INTERNAL) {
			if ((size_t)n > MQR_INTERNAL_MAX) {
				mq_err("connection %u: the server's INIT reply is %zd bytes",
				       c->index, n);
				mqr_reconnect(c);
				continue;
			}
			pthread_mutex_lock(&c->lock);
			if (c->internal_waiting && !c->internal_done) {
				memcpy(c->internal_buf, c->rxbuf, n);
				c->internal_len = n;
				c->internal_done = true;
				pthread_cond_broadcast(&c->cond);
			}
			pthread_mutex_unlock(&c->lock);
			continue;
		}
		pthread_mutex_lock(&c->lock);
		p = mqr_pending_take(c, oh->unique);
		pthread_mutex_unlock(&c->lock);
		if (!p) {
			/* a second answer to a request sent twice */
			mq_dbg("connection %u: reply to unknown unique %llu",
			       c->index, (unsigned long long)oh->unique);
			continue;
		}
		if (write(c->devfd, c->rxbuf, n) < 0) {
			int err = errno;

			if (err == ENOENT) {
				mqr_undo(c, p, c->rxbuf, n);
			} else if (err != ENODEV) {
				/*
				 * The kernel refused the server's reply (a
				 * wrong length for the request...): the
				 * caller gets EIO, not a wait forever.
				 */
				struct fuse_out_header eh = {
					.len = sizeof(eh), .error = -EIO,
					.unique = p->unique,
				};

				mq_warn("reply to unique %llu refused by the kernel: %s; answered EIO",
					(unsigned long long)p->unique,
					strerror(err));
				if (write(c->devfd, &eh, sizeof(eh)) < 0 &&
				    errno == ENOENT)
					mqr_undo(c, p, c->rxbuf, n);
			}
		}
		free(p);
	}
	return NULL;
}

int mq_remote_thread_start(struct mq_thread *thr)
{
	struct mqr_cconn *c;
	struct mqr_welcome w;
	int ret;

	if (thr->index >= sizeof(mqr.conns) / sizeof(mqr.conns[0]))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->index = thr->index;
	c->devfd = thr->devfd;
	c->rxbuf = malloc(MQR_MAX_MSG);
	c->internal_buf = malloc(MQR_INTERNAL_MAX);
	c->deferred_tail = &c->deferred;
	if (!c->rxbuf || !c->internal_buf)
		return -ENOMEM;
	pthread_mutex_init(&c->send_lock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	c->fd = mqr_connect(thr->index, &w);
	if (c->fd < 0)
		return c->fd;
	mqr.conns[thr->index] = c;
	ret = -pthread_create(&c->rx, NULL, mqr_rx_main, c);
	if (!ret)
		pthread_detach(c->rx);
	return ret;
}

/*
 * INIT (ops_misc.c): we answered the kernel with @io; the server must
 * serve the same protocol (@ii's version, @io's flags).  Sent on
 * connection 0 (a server that loses the session later ends it: mqr_session_lost).
 */
int mq_remote_init(const struct fuse_in_header *kin,
		   const struct fuse_init_in *ii, const struct fuse_init_out *io)
{
	struct mqr_cconn *c = mqr.conns[0];
	struct {
		struct fuse_in_header in;
		struct fuse_init_in ii;
	} req = {
		.in = { .len = sizeof(req), .opcode = FUSE_INIT,
			.unique = kin->unique },
		.ii = { .major = FUSE_KERNEL_VERSION, .minor = io->minor,
			.max_readahead = ii->max_readahead,
			.flags = io->flags },
	};
	const struct fuse_out_header *oh;
	const struct fuse_init_out *so;
	struct mqr_pending *p;
	struct timespec dl;
	int ret = 0;

	if (!c)
		return -ENOTCONN;
	p = mqr_frame(MQR_F_INTERNAL, &req, sizeof(req), NULL, 0);
	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&c->lock);
	c->internal_waiting = true;
	c->internal_done = false;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&c->send_lock);
	ret = mqr_send_frame_locked(c, p->frame, p->len);
	pthread_mutex_unlock(&c->send_lock);
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += MQR_INTERNAL_MS / 1000;
	pthread_mutex_lock(&c->lock);
	while (!ret && !c->internal_done)
		ret = -pthread_cond_timedwait(&c->cond, &c->lock, &dl);
	c->internal_waiting = false;
	oh = (const void *)c->internal_buf;
	so = (const void *)(oh + 1);
	if (!ret && (c->internal_len < sizeof(*oh) + FUSE_COMPAT_22_INIT_OUT_SIZE ||
		     oh->error))
		ret = c->internal_len >= sizeof(*oh) && oh->error ? oh->error :
		      -EPROTO;
	if (!ret && (so->minor != io->minor || so->flags != io->flags)) {
		mq_err("the server serves protocol 7.%u flags 0x%x, we need 7.%u flags 0x%x",
		       so->minor, so->flags, io->minor, io->flags);
		ret = -EPROTO;
	}
	pthread_mutex_unlock(&c->lock);
	if (ret) {
		mq_err("INIT with the server: %s", strerror(-ret));
		free(p);
		return -EPROTO;
	}
	free(p);
	return 0;
}
