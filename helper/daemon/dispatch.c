// SPDX-License-Identifier: GPL-2.0
/*
 * Request validation, the opcode dispatch table and reply building.
 *
 * A handler returns a negative errno (sent as the reply error), a payload
 * length >= 0 (payload already in req->out) or MQ_NO_REPLY for requests the
 * kernel does not expect an answer to.  Handlers never write to the device.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include <mqfuse.h>

#include "mqfused.h"
#include "rstate.h"

#define MQ_OP(op, fn_, type)	[op] = { .fn = fn_, .arg_min = sizeof(type) }
#define MQ_OP0(op, fn_)		[op] = { .fn = fn_, .arg_min = 0 }
/* Operations whose permission checks the backend makes as the caller. */
#define MQ_OPC(op, fn_, type)	[op] = { .fn = fn_, .arg_min = sizeof(type), \
					 .as_caller = true }
#define MQ_OPC0(op, fn_)	[op] = { .fn = fn_, .arg_min = 0, \
					 .as_caller = true }

/* Requests whose body is a struct followed by names use the struct size. */
static const struct mq_op mq_ops[MQ_NR_OPS] = {
	MQ_OP(FUSE_INIT, mq_op_init, struct fuse_init_in),
	MQ_OP0(FUSE_DESTROY, mq_op_destroy),
	MQ_OP(FUSE_INTERRUPT, mq_op_interrupt, struct fuse_interrupt_in),
	MQ_OP0(FUSE_STATFS, mq_op_statfs),
	MQ_OP(FUSE_SYNCFS, mq_op_syncfs, struct fuse_syncfs_in),

	MQ_OPC0(FUSE_LOOKUP, mq_op_lookup),
	MQ_OP(FUSE_FORGET, mq_op_forget, struct fuse_forget_in),
	MQ_OP(FUSE_BATCH_FORGET, mq_op_batch_forget, struct fuse_batch_forget_in),
	MQ_OP(FUSE_GETATTR, mq_op_getattr, struct fuse_getattr_in),
	MQ_OPC(FUSE_SETATTR, mq_op_setattr, struct fuse_setattr_in),
	MQ_OP0(FUSE_READLINK, mq_op_readlink),
	MQ_OPC(FUSE_ACCESS, mq_op_access, struct fuse_access_in),

	MQ_OPC0(FUSE_SYMLINK, mq_op_symlink),
	MQ_OPC(FUSE_MKNOD, mq_op_mknod, struct fuse_mknod_in),
	MQ_OPC(FUSE_MKDIR, mq_op_mkdir, struct fuse_mkdir_in),
	MQ_OPC0(FUSE_UNLINK, mq_op_unlink),
	MQ_OPC0(FUSE_RMDIR, mq_op_rmdir),
	MQ_OPC(FUSE_RENAME, mq_op_rename, struct fuse_rename_in),
	MQ_OPC(FUSE_RENAME2, mq_op_rename2, struct fuse_rename2_in),
	MQ_OPC(FUSE_LINK, mq_op_link, struct fuse_link_in),
	MQ_OPC(FUSE_CREATE, mq_op_create, struct fuse_create_in),
	MQ_OPC(FUSE_TMPFILE, mq_op_tmpfile, struct fuse_create_in),

	MQ_OPC(FUSE_OPEN, mq_op_open, struct fuse_open_in),
	MQ_OP(FUSE_READ, mq_op_read, struct fuse_read_in),
	MQ_OP(FUSE_WRITE, mq_op_write, struct fuse_write_in),
	MQ_OP(FUSE_RELEASE, mq_op_release, struct fuse_release_in),
	MQ_OP(FUSE_FLUSH, mq_op_flush, struct fuse_flush_in),
	MQ_OP(FUSE_FSYNC, mq_op_fsync, struct fuse_fsync_in),
	MQ_OP(FUSE_FALLOCATE, mq_op_fallocate, struct fuse_fallocate_in),
	MQ_OP(FUSE_LSEEK, mq_op_lseek, struct fuse_lseek_in),
	MQ_OP(FUSE_COPY_FILE_RANGE, mq_op_copy_file_range,
	      struct fuse_copy_file_range_in),

	MQ_OPC(FUSE_OPENDIR, mq_op_opendir, struct fuse_open_in),
	MQ_OP(FUSE_READDIR, mq_op_readdir, struct fuse_read_in),
	MQ_OPC(FUSE_READDIRPLUS, mq_op_readdirplus, struct fuse_read_in),
	MQ_OP(FUSE_RELEASEDIR, mq_op_releasedir, struct fuse_release_in),
	MQ_OP(FUSE_FSYNCDIR, mq_op_fsyncdir, struct fuse_fsync_in),

	/* Compat size: FUSE_SETXATTR_EXT is not negotiated. */
	[FUSE_SETXATTR] = { .fn = mq_op_setxattr,
			    .arg_min = FUSE_COMPAT_SETXATTR_IN_SIZE,
			    .as_caller = true },
	MQ_OPC(FUSE_GETXATTR, mq_op_getxattr, struct fuse_getxattr_in),
	MQ_OPC(FUSE_LISTXATTR, mq_op_listxattr, struct fuse_getxattr_in),
	MQ_OPC0(FUSE_REMOVEXATTR, mq_op_removexattr),

	/* ENOSYS unless FUSE_POSIX_LOCKS/FLOCK_LOCKS were negotiated. */
	MQ_OP(FUSE_GETLK, mq_op_getlk, struct fuse_lk_in),
	MQ_OP(FUSE_SETLK, mq_op_setlk, struct fuse_lk_in),
	MQ_OP(FUSE_SETLKW, mq_op_setlkw, struct fuse_lk_in),
	MQ_OP0(FUSE_IOCTL, mq_op_enosys),
	MQ_OP0(FUSE_POLL, mq_op_enosys),
	MQ_OP0(FUSE_BMAP, mq_op_enosys),
};

const struct mq_op *mq_op_find(uint32_t opcode)
{
	if (opcode >= MQ_NR_OPS || !mq_ops[opcode].fn)
		return NULL;
	return &mq_ops[opcode];
}

/* Return the NUL-terminated string at body offset @off, or NULL. */
const char *mq_req_name(struct mq_req *req, size_t off, size_t *next)
{
	const char *s, *nul;

	if (off >= req->arg_len)
		return NULL;
	s = req->arg + off;
	nul = memchr(s, '\0', req->arg_len - off);
	if (!nul || nul == s)
		return NULL;
	if (next)
		*next = off + (nul - s) + 1;
	return s;
}

/*
 * One check for every name a client sends for a directory entry: present
 * and NUL-terminated within the request (mq_req_name), non-empty, one
 * component (no '/'), at most NAME_MAX bytes, and neither "." nor "..".
 * The kernel never sends dots (LOOKUP of ".." only comes with export
 * support, which is not negotiated); accepting ".." would walk above a
 * directory, and above the backend root.
 */
int mq_name_check(const char *name)
{
	size_t len;

	if (!name || !*name || strchr(name, '/'))
		return -EINVAL;
	len = strlen(name);
	if (len > NAME_MAX)
		return -ENAMETOOLONG;
	if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
		return -EINVAL;
	return 0;
}

/* Fill the out header in front of a @payload byte reply; returns length. */
int mq_build_reply(char *hdr, uint64_t unique, int err, size_t payload)
{
	struct fuse_out_header *oh = (struct fuse_out_header *)hdr;

	if (err > 0 || err < -4095)
		err = -EIO;
	if (err)
		payload = 0;
	oh->unique = unique;
	oh->error = err;
	oh->len = sizeof(*oh) + payload;
	return oh->len;
}

/* The size a request moves, as reported in the statistics. */
static uint64_t mq_req_stat_bytes(const struct mq_req *req)
{
	switch (req->in->opcode) {
	case FUSE_READ:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		if (req->arg_len >= sizeof(struct fuse_read_in))
			return ((const struct fuse_read_in *)req->arg)->size;
		break;
	case FUSE_WRITE:
		if (req->arg_len >= sizeof(struct fuse_write_in))
			return ((const struct fuse_write_in *)req->arg)->size;
		break;
	}
	return req->in->len;
}

/*
 * Where a reply goes.  On a ring thread a reply to the request it serves
 * becomes that buffer's reply descriptor (ring.c), which the kernel reads
 * at the thread's next MQFUSE_IOC_RING_ENTER: only a caller that does not
 * need to know the reply arrived may use it.  The others go by write(2),
 * which keeps working on a ring fd.
 */
enum mq_reply_route {
	MQ_REPLY_ANY,		/* the ring when serving from it, else write(2) */
	MQ_REPLY_WRITE,		/* write(2): the caller acts on its result */
	MQ_REPLY_DETACHED,	/* another thread than @thr's: write(2), never
				 * @thr's ring (its serving thread owns it) */
};

/* Returns 0 or the write error (-ENOENT: the request is gone). */
static int mq_write_reply(struct mq_thread *thr, uint64_t unique,
			  const char *hdr, int len, enum mq_reply_route route)
{
	ssize_t n;
	int err;

	if (route != MQ_REPLY_DETACHED && !thr->reply_sink && thr->ring &&
	    mq_ring_reply(thr, hdr, len, route == MQ_REPLY_ANY))
		return 0;
	do {
		n = thr->reply_sink ? thr->reply_sink(thr, hdr, len) :
				      write(thr->devfd, hdr, len);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return 0;
	err = -errno;
	/* ENOENT: the request was interrupted and is gone; not an error. */
	if (err != -ENOENT && err != -ENODEV)
		mq_warn("reply to unique %llu: %s", (unsigned long long)unique,
			strerror(-err));
	return err;
}

static int mq_send_reply(struct mq_thread *thr, uint64_t unique, int err,
			 size_t payload, enum mq_reply_route route)
{
	char *hdr = thr->outbuf;

	return mq_write_reply(thr, unique, hdr,
			      mq_build_reply(hdr, unique, err, payload), route);
}

/*
 * From a thread other than @thr (a lock waiter): not through @thr's reply
 * buffer or ring, which its serving thread uses, but through its device
 * fd (stock FUSE wants the reply on the fd the request was read from) or
 * its sink.
 */
int mq_reply_detached(struct mq_thread *thr, uint64_t unique, int err)
{
	char hdr[sizeof(struct fuse_out_header)];

	return mq_write_reply(thr, unique, hdr,
			      mq_build_reply(hdr, unique, err, 0),
			      MQ_REPLY_DETACHED);
}

/*
 * A successful reply that did not reach the kernel: the lookup references
 * it carried (and the handle CREATE/TMPFILE opened) would never be
 * forgotten or released.  Take them back.
 */
static void mq_reply_undo(struct mq_req *req, size_t payload)
{
	const struct fuse_entry_out *eo = (const void *)req->out;
	const struct fuse_open_out *oo = (const void *)(eo + 1);
	size_t off;

	switch (req->in->opcode) {
	case FUSE_CREATE:
	case FUSE_TMPFILE:
		if (payload >= sizeof(*eo) + sizeof(*oo))
			mq_handle_release(oo->fh, MQ_HANDLE_FILE, eo->nodeid);
		/* fall through */
	case FUSE_LOOKUP:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_LINK:
		if (payload >= sizeof(*eo) && eo->nodeid)
			mq_inode_forget(eo->nodeid, 1);
		break;
	case FUSE_READDIRPLUS:
		for (off = 0; off + FUSE_NAME_OFFSET_DIRENTPLUS <= payload;) {
			const struct fuse_direntplus *dp =
				(const void *)(req->out + off);

			if (dp->entry_out.nodeid)
				mq_inode_forget(dp->entry_out.nodeid, 1);
			off += FUSE_DIRENTPLUS_SIZE(dp);
		}
		break;
	}
}

static int mq_run_op(struct mq_req *req, const struct mq_op *op)
{
	int ret;

	if (!op->as_caller)
		return op->fn(req);
	ret = mq_creds_enter(req);
	if (!ret)
		ret = op->fn(req);
	mq_creds_leave(req);
	return ret;
}

/*
 * A non-idempotent request with a live recovery state (rstate.c): the
 * intent is journaled before it runs and its result before the reply,
 * so that a successor answers a replay of it without running it twice.
 * A replayed request (MQFUSE_UNIQUE_REPLAY) with a recorded result gets
 * that result; one with only an intent is resolved by replay.c.  Either
 * way the outcome is recorded again under the live epoch before the
 * reply (a second crash replays it once more), and the older entry is
 * retired once the reply is out.  "Out" is what write(2) returned, also on
 * a ring thread: a reply descriptor reaches the kernel only at the next
 * RING_ENTER, and an entry retired before that would leave a crash in
 * between to run the request a second time.
 */
static int mq_dispatch_journaled(struct mq_req *req, const struct mq_op *op)
{
	const struct fuse_in_header *in = req->in;
	uint64_t unique = in->unique & ~MQFUSE_UNIQUE_REPLAY;
	uint64_t aux[MQ_RS_J_AUX];
	struct mq_rs_jentry *old = NULL, *je;
	int ret = MQ_REPLAY_RUN, werr;

	if (in->unique & MQFUSE_UNIQUE_REPLAY)
		old = mq_rs_journal_find(unique);
	if (old && atomic_load(&old->state) == MQ_RS_J_DONE) {
		ret = old->error;
		if (!ret && old->reply_len <= req->out_max) {
			memcpy(req->out, old->reply, old->reply_len);
			ret = old->reply_len;
		}
		mq_dbg("unique %llu: replayed, answered from the journal (%d)",
		       (unsigned long long)unique, ret);
		memset(aux, 0, sizeof(aux));
		je = mq_rs_journal_intent(unique, in->opcode, in->nodeid, aux);
	} else {
		if (old) {
			ret = mq_replay_resolve(req, old);
			mq_dbg("unique %llu: replayed intent resolved: %s",
			       (unsigned long long)unique,
			       ret == MQ_REPLAY_RUN ? "run" : "done");
		}
		mq_journal_prestate(req, aux);
		je = mq_rs_journal_intent(unique, in->opcode, in->nodeid, aux);
		if (ret == MQ_REPLAY_RUN)
			ret = mq_run_op(req, op);
	}
	mq_rs_journal_done(je, ret < 0 ? ret : 0, req->out,
			   ret < 0 ? 0 : (uint32_t)ret);
	werr = mq_send_reply(req->thr, in->unique, ret < 0 ? ret : 0,
			     ret < 0 ? 0 : (size_t)ret, MQ_REPLY_WRITE);
	if (werr == -ENOENT && ret > 0)
		mq_reply_undo(req, ret);
	/* Written (or refused as gone): never replayed again. */
	if (werr != -ENODEV) {
		mq_rs_journal_replied(je);
		mq_rs_journal_replied(old);
	}
	return 0;
}

/* The request in thr->inbuf, its reply payload to go in thr->outbuf. */
static struct mq_req mq_req_of(struct mq_thread *thr)
{
	return (struct mq_req){
		.thr = thr,
		.in = (const void *)thr->inbuf,
		.out = thr->outbuf + sizeof(struct fuse_out_header),
		.out_max = thr->outbuf_len - sizeof(struct fuse_out_header),
	};
}

/*
 * Process the request of @len bytes in thr->inbuf and send its reply.
 * Returns 0, or -ENODEV after DESTROY.
 */
int mq_dispatch(struct mq_thread *thr, size_t len)
{
	const struct fuse_in_header *in = (const void *)thr->inbuf;
	struct mq_req req = mq_req_of(thr);
	const struct mq_op *op;
	int ret;

	if (len < sizeof(*in) || in->len != len) {
		static atomic_ulong nr_malformed;
		unsigned long n = atomic_fetch_add(&nr_malformed, 1) + 1;

		/* a client can send them at will (a guest, vhost.c): the first
		 * ten, then one per power of two */
		if (n <= 10 || !(n & (n - 1)))
			mq_warn("malformed request: read %zu bytes, header says %u (%lu so far)",
				len, len >= sizeof(*in) ? in->len : 0, n);
		if (len >= sizeof(*in))
			mq_send_reply(thr, in->unique, -EIO, 0, MQ_REPLY_ANY);
		return 0;
	}
	req.arg = (const char *)(in + 1);
	req.arg_len = len - sizeof(*in);
	mq_stats_account(&thr->stats, in->opcode, mq_req_stat_bytes(&req));
	mq_dbg("thread %u: %s (%u) unique %llu nodeid %llu len %u",
	       thr->index, mq_opcode_name(in->opcode) ?: "?", in->opcode,
	       (unsigned long long)in->unique,
	       (unsigned long long)in->nodeid, in->len);

	op = mq_op_find(in->opcode);
	if (!op) {
		ret = -ENOSYS;
	} else if (req.arg_len < op->arg_min) {
		ret = -EINVAL;
		if (in->opcode == FUSE_FORGET || in->opcode == FUSE_BATCH_FORGET ||
		    in->opcode == FUSE_INTERRUPT)
			ret = MQ_NO_REPLY;
	} else if (in->opcode != FUSE_INIT && !atomic_load(&mq_conn.proto_minor)) {
		ret = -EIO;	/* nothing but INIT before INIT */
	} else if (mq_rs_active() && mq_journal_wanted(&req)) {
		return mq_dispatch_journaled(&req, op);
	} else {
		ret = mq_run_op(&req, op);
	}
	if (ret == MQ_NO_REPLY)
		return 0;
	if (ret < 0)
		mq_dbg("  -> error %d", ret);
	/*
	 * A ring reply has no result of its own: what a reply to an
	 * abandoned request created is undone by the kernel (as for
	 * write(2): mqfuse_dev_abandoned_reply()); one to a unique the
	 * kernel no longer knows is only counted in ENTER's @bad.
	 */
	if (mq_send_reply(thr, in->unique, ret < 0 ? ret : 0,
			  ret < 0 ? 0 : (size_t)ret, MQ_REPLY_ANY) == -ENOENT &&
	    ret > 0)
		mq_reply_undo(&req, ret);
	if (in->opcode == FUSE_DESTROY)
		return -ENODEV;
	return 0;
}

/*
 * Asynchronous READ and WRITE (ring.c, a batch of a ring thread): the
 * request of @len bytes in thr->inbuf is started with its SQE tagged
 * @tag if it can be: READ or WRITE on a thread with an io_uring, well
 * formed, after INIT and not journaled (an O_APPEND WRITE with a live
 * recovery state is answered by write(2), mq_dispatch_journaled()).
 * Its reply goes where mq_dispatch() would put it (thr->outbuf, set by
 * the caller, and the ring) when it finishes, now or in
 * mq_dispatch_complete().
 */
static void mq_dispatch_finish(struct mq_thread *thr,
			       const struct mq_file_io *f, ssize_t ret);

enum mq_dispatch_async mq_dispatch_start(struct mq_thread *thr, size_t len,
					 struct mq_file_io *f, uint64_t tag)
{
	const struct fuse_in_header *in = (const void *)thr->inbuf;
	struct mq_req req = mq_req_of(thr);
	const struct mq_op *op;
	ssize_t ret;

	if (!thr->uring || len < sizeof(*in) || in->len != len ||
	    (in->opcode != FUSE_READ && in->opcode != FUSE_WRITE))
		return MQ_DISPATCH_INLINE;
	op = mq_op_find(in->opcode);
	req.arg = (const char *)(in + 1);
	req.arg_len = len - sizeof(*in);
	if (!op || req.arg_len < op->arg_min ||
	    !atomic_load(&mq_conn.proto_minor) ||
	    (mq_rs_active() && mq_journal_wanted(&req)))
		return MQ_DISPATCH_INLINE;
	mq_stats_account(&thr->stats, in->opcode, mq_req_stat_bytes(&req));
	mq_dbg("thread %u: %s (%u) unique %llu nodeid %llu len %u: async",
	       thr->index, mq_opcode_name(in->opcode) ?: "?", in->opcode,
	       (unsigned long long)in->unique,
	       (unsigned long long)in->nodeid, in->len);
	if (!mq_op_rw_start(&req, f, tag, &ret))
		return MQ_DISPATCH_IN_FLIGHT;
	mq_dispatch_finish(thr, f, ret);
	return MQ_DISPATCH_ANSWERED;
}

/* The reply of @f, which finished with @ret (payload length or -errno). */
static void mq_dispatch_finish(struct mq_thread *thr, const struct mq_file_io *f,
			ssize_t ret)
{
	if (ret < 0)
		mq_dbg("  unique %llu -> error %zd", (unsigned long long)f->unique,
		       ret);
	/* READ and WRITE create nothing: a reply that is gone needs no undo */
	mq_send_reply(thr, f->unique, ret < 0 ? ret : 0,
		      ret < 0 ? 0 : (size_t)ret, MQ_REPLY_ANY);
}

/*
 * A completion (@res) of the SQE of @f: true when @f finished and was
 * answered (thr->outbuf set by the caller as for its start).
 */
bool mq_dispatch_complete(struct mq_thread *thr, struct mq_file_io *f,
			  int res, uint64_t tag)
{
	ssize_t ret;

	if (!mq_op_rw_complete(thr, f, res, tag, &ret))
		return false;
	mq_dispatch_finish(thr, f, ret);
	return true;
}
