// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: character-device transport, /dev/mqfuse_vN.
 *
 * read() returns exactly one message (request, INTERRUPT or FORGET
 * batch); write() takes exactly one reply or notification. Same
 * semantics as /dev/fuse, so an unmodified libfuse daemon works when
 * handed the fd. An fd bound to a queue (MQFUSE_IOC_BIND_QUEUE) reads
 * only that queue, or with balance=on falls back to the others when its
 * own queue is empty. An unbound fd reads all queues round robin.
 */
#include "mqfuse_i.h"
#include <linux/file.h>
#include <linux/miscdevice.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/splice.h>
#include <linux/uaccess.h>

/* Serializes binding fds to sessions (mount and CLONE). */
static DEFINE_MUTEX(mqfuse_dev_bind_mutex);

static const struct file_operations mqfuse_dev_fops;

static struct mqfuse_dev *mqfuse_dev_of(struct file *file)
{
	/* pairs with smp_store_release() in mqfuse_dev_attach() */
	return smp_load_acquire((struct mqfuse_dev **)&file->private_data);
}

/* fget() @fd and check that it is one of our device files. */
struct file *mqfuse_dev_fget(int fd)
{
	struct file *file = fget(fd);

	if (!file)
		return ERR_PTR(-EBADF);
	if (file->f_op != &mqfuse_dev_fops) {
		fput(file);
		return ERR_PTR(-EINVAL);
	}
	return file;
}

/* Is @file an open /dev/mqfuse_vN (of this generation)? */
bool mqfuse_is_dev_file(struct file *file)
{
	return file->f_op == &mqfuse_dev_fops;
}

/*
 * Bind @file to @fc. @daemon: MQFUSE_IOC_ATTACH (NULL: mount, CLONE),
 * refused for a session that is not serving (INIT: -EAGAIN, ABORTED:
 * -ENOTCONN) or, with an exclusive mode, in the wrong state or daemon
 * generation (-EBUSY), and the end of an ORPHANED one (*@recovered is
 * set), decided under fc->lock together
 * with the nr_devs increment so that neither the last release
 * (mqfuse_dev_release()) nor the recovery timer can slip in between.
 */
struct mqfuse_attach_mode {
	u32 flags;		/* MQFUSE_ATTACH_* */
	u64 daemon_gen;		/* with MQFUSE_ATTACH_TAKEOVER */
};

static int mqfuse_dev_attach(struct file *file, struct mqfuse_conn *fc,
			     const struct mqfuse_attach_mode *daemon, bool *recovered,
			     const struct mqfuse_dev *src)
{
	struct mqfuse_dev *dev;

	lockdep_assert_held(&mqfuse_dev_bind_mutex);
	if (file->private_data)
		return -EBUSY;
	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	dev->fc = fc;
	dev->bound_queue = -1;
	mutex_init(&dev->ring_mutex);
	spin_lock(&fc->lock);
	if (daemon) {
		switch (fc->state) {
		case MQFUSE_CONN_INIT:
			spin_unlock(&fc->lock);
			kfree(dev);
			return -EAGAIN;
		case MQFUSE_CONN_ABORTED:
			spin_unlock(&fc->lock);
			kfree(dev);
			return -ENOTCONN;
		case MQFUSE_CONN_ORPHANED:
			if (daemon->flags & MQFUSE_ATTACH_TAKEOVER) {
				spin_unlock(&fc->lock);
				kfree(dev);
				return -EBUSY;	/* nobody to take over from */
			}
			/* replayed requests wait at the front of the queues */
			smp_store_release(&fc->state, MQFUSE_CONN_RUNNING);
			*recovered = true;
			break;
		case MQFUSE_CONN_RUNNING:
			if ((daemon->flags & MQFUSE_ATTACH_RESTART) ||
			    ((daemon->flags & MQFUSE_ATTACH_TAKEOVER) &&
			     daemon->daemon_gen != fc->daemon_gen)) {
				spin_unlock(&fc->lock);
				kfree(dev);
				return -EBUSY;	/* another daemon came first */
			}
			break;
		}
	}
	if (daemon)	/* a new daemon: its readers name it; numbers never reused */
		fc->daemon_gen = ++fc->daemon_gen_seq;
	dev->daemon_gen = src ? src->daemon_gen : fc->daemon_gen;
	mqfuse_conn_get(fc);
	list_add_tail(&dev->entry, &fc->devs);
	fc->nr_devs++;
	spin_unlock(&fc->lock);
	smp_store_release((struct mqfuse_dev **)&file->private_data, dev);
	return 0;
}

/* Bind the mount's fd=N to @fc; fails if it serves a session already. */
int mqfuse_dev_bind_mount(struct file *file, struct mqfuse_conn *fc)
{
	int err;

	mutex_lock(&mqfuse_dev_bind_mutex);
	err = mqfuse_dev_attach(file, fc, NULL, NULL, NULL);
	mutex_unlock(&mqfuse_dev_bind_mutex);
	if (!err)
		mqfuse_recovery_attached(fc, false);
	return err;
}

/* MQFUSE_IOC_ATTACH: @file becomes a daemon fd of @fc (recovery.c checked the rest). */
int mqfuse_dev_attach_daemon(struct file *file, struct mqfuse_conn *fc, u32 flags,
			      u64 daemon_gen)
{
	struct mqfuse_attach_mode mode = { .flags = flags, .daemon_gen = daemon_gen };
	bool recovered = false;
	int err;

	/* the end of ORPHANED and the RECOVERED event together (struct mqfuse_conn) */
	mutex_lock(&fc->event_lock);
	mutex_lock(&mqfuse_dev_bind_mutex);
	err = mqfuse_dev_attach(file, fc, &mode, &recovered, NULL);
	mutex_unlock(&mqfuse_dev_bind_mutex);
	if (!err)
		mqfuse_recovery_attached(fc, recovered);
	mutex_unlock(&fc->event_lock);
	return err;
}

static int mqfuse_dev_open(struct inode *inode, struct file *file)
{
	/* Not attached to a session until it is passed to mount (fd=N). */
	file->private_data = NULL;
	stream_open(inode, file);
	return 0;
}

static int mqfuse_dev_release(struct inode *inode, struct file *file)
{
	struct mqfuse_dev *dev = file->private_data;
	struct mqfuse_conn *fc;
	bool last, orphan = false;

	if (!dev)
		return 0;
	fc = dev->fc;
	/*
	 * recovery=: what this fd read and did not answer goes back to the
	 * queues first, so that it precedes anything queued later, for the
	 * other fds or for the daemon that attaches.
	 */
	mqfuse_recovery_dev_gone(fc, dev);
	/* ORPHANED and its netlink event together (struct mqfuse_conn) */
	mutex_lock(&fc->event_lock);
	spin_lock(&fc->lock);
	list_del(&dev->entry);
	last = --fc->nr_devs == 0;
	if (last)
		orphan = mqfuse_recovery_orphan_locked(fc);
	else if (dev->daemon_gen == fc->daemon_gen)
		mqfuse_conn_daemon_gen_gone_locked(fc);
	spin_unlock(&fc->lock);
	if (orphan)
		mqfuse_recovery_orphaned(fc);
	mutex_unlock(&fc->event_lock);
	if (last && !orphan)
		mqfuse_conn_abort(fc, "daemon closed its last device fd");
	else if (!last && !READ_ONCE(fc->opts.recovery_s))
		/* what it read cannot be answered any more: not replayed without recovery= */
		mqfuse_queues_end_reader(fc, dev, -ECONNABORTED);
	/* what the fd held is re-queued or ended: its umem is not needed */
	mqfuse_ring_dev_release(dev);
	kfree(dev);
	mqfuse_conn_put(fc);
	return 0;
}

/* ---- reading: kernel -> daemon ---- */

static bool mqfuse_dev_balance(struct mqfuse_dev *dev)
{
	return dev->fc->opts.balance;
}

static bool mqfuse_dev_has_work(struct mqfuse_dev *dev)
{
	struct mqfuse_conn *fc = dev->fc;
	int bound = READ_ONCE(dev->bound_queue);
	unsigned int i;

	if (!mqfuse_conn_usable(fc))
		return true;
	if (mqfuse_conn_state(fc) == MQFUSE_CONN_INIT)
		return mqfuse_queue_has_work(&fc->queues[0]);
	if (bound >= 0) {
		if (mqfuse_queue_has_work(&fc->queues[bound]))
			return true;
		if (!mqfuse_dev_balance(dev))
			return false;
	}
	for (i = 0; i < fc->nr_queues; i++)
		if (mqfuse_queue_has_work(&fc->queues[i]))
			return true;
	return false;
}

bool mqfuse_dev_take(struct mqfuse_dev *dev, struct mqfuse_take *t,
		     unsigned int max_forgets)
{
	struct mqfuse_conn *fc = dev->fc;
	int bound = READ_ONCE(dev->bound_queue);
	unsigned int i, start, nr = fc->nr_queues;

	if (mqfuse_conn_state(fc) == MQFUSE_CONN_INIT)
		return mqfuse_queue_take(&fc->queues[0], t, 0, false);
	if (bound >= 0) {
		if (mqfuse_queue_take(&fc->queues[bound], t, max_forgets, false))
			return true;
		if (!mqfuse_dev_balance(dev))
			return false;
		start = bound + 1;
	} else {
		start = READ_ONCE(dev->rr_cursor);
		WRITE_ONCE(dev->rr_cursor, start + 1);
	}
	for (i = 0; i < nr; i++) {
		unsigned int qi = (start + i) % nr;

		if ((int)qi == bound)
			continue;
		if (mqfuse_queue_take(&fc->queues[qi], t, max_forgets, bound >= 0))
			return true;
	}
	return false;
}

/* Sleep until there is work for @dev; bound readers also listen on fc->waitq when balancing. */
int mqfuse_dev_wait(struct mqfuse_dev *dev)
{
	struct mqfuse_conn *fc = dev->fc;
	int bound = READ_ONCE(dev->bound_queue);
	bool on_q = bound >= 0;
	bool on_fc = bound < 0 || mqfuse_dev_balance(dev);
	DEFINE_WAIT(wq);
	DEFINE_WAIT(wfc);
	int err = 0;

	for (;;) {
		if (on_q)
			prepare_to_wait_exclusive(&fc->queues[bound].waitq, &wq,
						  TASK_INTERRUPTIBLE);
		if (on_fc)
			prepare_to_wait_exclusive(&fc->waitq, &wfc, TASK_INTERRUPTIBLE);
		if (mqfuse_dev_has_work(dev))
			break;
		if (signal_pending(current)) {
			err = -ERESTARTSYS;
			break;
		}
		schedule();
	}
	if (on_q)
		finish_wait(&fc->queues[bound].waitq, &wq);
	if (on_fc)
		finish_wait(&fc->waitq, &wfc);
	return err;
}

/* Copy a request (header + in args) to the daemon's buffer. */
int mqfuse_dev_copy_req_out(struct mqfuse_req *req, struct iov_iter *to)
{
	struct mqfuse_args *args = req->args;
	struct fuse_in_header ih = req->in_h;
	unsigned int i, p;

	if (test_bit(MQFUSE_REQ_REPLAY, &req->flags))
		ih.unique |= MQFUSE_UNIQUE_REPLAY;
	if (copy_to_iter(&ih, sizeof(ih), to) != sizeof(ih))
		return -EFAULT;
	for (i = 0; i < args->in_numargs; i++) {
		const struct mqfuse_arg *arg = &args->in_args[i];

		if (i == args->in_numargs - 1 && args->in_pages) {
			size_t left = arg->size;

			for (p = 0; p < args->num_pages && left; p++) {
				size_t n = min_t(size_t, left, args->descs[p].length);

				if (copy_page_to_iter(args->pages[p], args->descs[p].offset,
						      n, to) != n)
					return -EFAULT;
				left -= n;
			}
			if (left)
				return -EIO;
		} else if (arg->size &&
			   copy_to_iter(arg->value, arg->size, to) != arg->size) {
			return -EFAULT;
		}
	}
	return 0;
}
EXPORT_SYMBOL_GPL(mqfuse_dev_copy_req_out);

ssize_t mqfuse_dev_send_interrupt(struct mqfuse_take *t, struct iov_iter *to)
{
	struct {
		struct fuse_in_header h;
		struct fuse_interrupt_in in;
	} msg = {};

	msg.h.len = sizeof(msg);
	msg.h.opcode = FUSE_INTERRUPT;
	msg.h.unique = t->unique;
	msg.in.unique = t->intr_unique;
	if (copy_to_iter(&msg, sizeof(msg), to) != sizeof(msg))
		return -EFAULT;
	return sizeof(msg);
}
EXPORT_SYMBOL_GPL(mqfuse_dev_send_interrupt);

ssize_t mqfuse_dev_send_forgets(struct mqfuse_conn *fc, struct mqfuse_take *t,
				struct iov_iter *to)
{
	struct mqfuse_forget *f, *tmp;
	struct fuse_in_header h = {};
	ssize_t ret;

	h.unique = t->unique;
	if (t->nr_forgets == 1) {
		struct fuse_forget_in in = {};

		f = list_first_entry(&t->forgets, struct mqfuse_forget, list);
		h.opcode = FUSE_FORGET;
		h.nodeid = f->nodeid;
		h.len = sizeof(h) + sizeof(in);
		in.nlookup = f->nlookup;
		ret = h.len;
		if (copy_to_iter(&h, sizeof(h), to) != sizeof(h) ||
		    copy_to_iter(&in, sizeof(in), to) != sizeof(in))
			ret = -EFAULT;
	} else {
		struct fuse_batch_forget_in in = { .count = t->nr_forgets };

		h.opcode = FUSE_BATCH_FORGET;
		h.len = sizeof(h) + sizeof(in) +
			t->nr_forgets * sizeof(struct fuse_forget_one);
		ret = h.len;
		if (copy_to_iter(&h, sizeof(h), to) != sizeof(h) ||
		    copy_to_iter(&in, sizeof(in), to) != sizeof(in))
			ret = -EFAULT;
		list_for_each_entry(f, &t->forgets, list) {
			struct fuse_forget_one one = {
				.nodeid = f->nodeid,
				.nlookup = f->nlookup,
			};

			if (ret > 0 && copy_to_iter(&one, sizeof(one), to) != sizeof(one))
				ret = -EFAULT;
		}
	}
	/* A lost forget only leaks a daemon-side node; nothing to retry. */
	list_for_each_entry_safe(f, tmp, &t->forgets, list)
		kfree(f);
	return ret;
}
EXPORT_SYMBOL_GPL(mqfuse_dev_send_forgets);

static size_t mqfuse_dev_min_read(struct mqfuse_conn *fc)
{
	return max_t(size_t, FUSE_MIN_READ_BUFFER,
		     sizeof(struct fuse_in_header) + sizeof(struct fuse_write_in) +
		     READ_ONCE(fc->max_write));
}

static ssize_t mqfuse_dev_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	struct file *file = iocb->ki_filp;
	struct mqfuse_dev *dev = mqfuse_dev_of(file);
	size_t nbytes = iov_iter_count(to);
	unsigned int max_forgets;
	struct mqfuse_conn *fc;
	struct mqfuse_take t;
	struct mqfuse_req *req;
	ssize_t len;
	int err;

	if (!dev)
		return -EPERM;
	fc = dev->fc;
	if (nbytes < mqfuse_dev_min_read(fc))
		return -EINVAL;
	if (unlikely(!READ_ONCE(fc->daemon_tgid_final)))
		mqfuse_conn_note_daemon(fc, dev);
	max_forgets = (nbytes - sizeof(struct fuse_in_header) -
		       sizeof(struct fuse_batch_forget_in)) / sizeof(struct fuse_forget_one);
	max_forgets = min(max_forgets, MQFUSE_MAX_FORGET_BATCH);
	if (fc->minor < 16)
		max_forgets = 1;

restart:
	for (;;) {
		if (!mqfuse_conn_usable(fc))
			return -ENODEV;
		if (mqfuse_dev_take(dev, &t, max_forgets))
			break;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		err = mqfuse_dev_wait(dev);
		if (err)
			return err;
	}

	switch (t.kind) {
	case MQFUSE_TAKE_INTERRUPT:
		return mqfuse_dev_send_interrupt(&t, to);
	case MQFUSE_TAKE_FORGETS:
		return mqfuse_dev_send_forgets(fc, &t, to);
	case MQFUSE_TAKE_REQ:
		break;
	default:
		goto restart;
	}

	req = t.req;
	req->reader = dev;	/* READING: ours alone; published by read_done's lock */
	if (req->in_h.len > nbytes) {
		/* This request can never fit: fail it, serve the next one. */
		mqfuse_queue_read_done(req, -E2BIG);
		goto restart;
	}
	len = req->in_h.len;	/* req may be gone after read_done() */
	err = mqfuse_dev_copy_req_out(req, to);
	mqfuse_queue_read_done(req, err ? -EIO : 0);
	return err ? err : len;
}

/* ---- writing: daemon -> kernel ---- */

/* Copy the reply payload into the out args; -EIO means the sizes are wrong. */
static int mqfuse_copy_reply_in(struct mqfuse_conn *fc, struct mqfuse_req *req,
				struct iov_iter *from, size_t size)
{
	struct mqfuse_args *args = req->args;
	unsigned int n = args->out_numargs, i, p;
	size_t expected = 0;

	for (i = 0; i < n; i++)
		expected += args->out_args[i].size;
	if (size > expected || (size < expected && !args->out_argvar)) {
		mqfuse_bad_reply(fc, "opcode %u: %zu payload bytes, expected %s%zu\n",
				 req->in_h.opcode, size,
				 args->out_argvar ? "at most " : "", expected);
		return -EIO;
	}
	if (n && size < expected) {
		struct mqfuse_arg *last = &args->out_args[n - 1];
		size_t shrink = expected - size;

		if (shrink > last->size) {
			mqfuse_bad_reply(fc, "opcode %u: reply of %zu bytes too short\n",
					 req->in_h.opcode, size);
			return -EIO;
		}
		last->size -= shrink;
	}
	for (i = 0; i < n; i++) {
		struct mqfuse_arg *arg = &args->out_args[i];

		if (i == n - 1 && args->out_pages) {
			size_t left = arg->size;

			for (p = 0; p < args->num_pages && left; p++) {
				size_t c = min_t(size_t, left, args->descs[p].length);

				if (copy_page_from_iter(args->pages[p], args->descs[p].offset,
							c, from) != c)
					return -EFAULT;
				left -= c;
			}
			if (left)
				return -EIO;
		} else if (arg->size &&
			   copy_from_iter(arg->value, arg->size, from) != arg->size) {
			return -EFAULT;
		}
	}
	return 0;
}

static bool mqfuse_op_makes_entry(u32 opcode)
{
	switch (opcode) {
	case FUSE_LOOKUP:
	case FUSE_MKNOD:
	case FUSE_MKDIR:
	case FUSE_SYMLINK:
	case FUSE_LINK:
		return true;
	}
	return false;
}

/*
 * Would the normal path have taken a reply payload of @size bytes
 * (mqfuse_copy_reply_in())? Checked against what the request asked for,
 * recorded at allocation: req->args may be gone.
 */
static bool mqfuse_abandoned_size_ok(struct mqfuse_conn *fc, struct mqfuse_req *req,
				     size_t size)
{
	if (size == req->out_size || (size < req->out_size && req->out_argvar))
		return true;
	mqfuse_bad_reply(fc, "opcode %u (waiter gone): %zu payload bytes, expected %s%u\n",
			 req->in_h.opcode, size, req->out_argvar ? "at most " : "",
			 req->out_size);
	return false;
}

/* Return one lookup of a node an entry reply counted. */
static void mqfuse_abandoned_forget(struct mqfuse_conn *fc, u64 nodeid)
{
	struct mqfuse_forget *f;

	if (!nodeid || nodeid == FUSE_ROOT_ID)
		return;
	f = kzalloc(sizeof(*f), GFP_KERNEL | __GFP_NOWARN);
	if (!f) {
		pr_warn_ratelimited("session %llu: no memory to forget node %llu\n",
				    fc->id, nodeid);
		return;
	}
	mqfuse_queue_forget(fc, f, nodeid, 1);
}

/* OPEN/OPENDIR: the daemon opened a handle nobody will use; release it. */
static void mqfuse_abandoned_open(struct mqfuse_conn *fc, struct mqfuse_req *req,
				  struct iov_iter *from)
{
	struct fuse_open_out out;
	struct mqfuse_node_ref *nref;

	if (copy_from_iter(&out, sizeof(out), from) != sizeof(out))
		return;
	/* the reply's owner may take it; mqfuse_req_put() drops what is left */
	nref = req->nref;
	req->nref = NULL;
	mqfuse_release_abandoned(fc, req->in_h.nodeid, out.fh, req->release_flags,
				 req->in_h.opcode == FUSE_OPENDIR, nref);
}

/*
 * CREATE: a new entry with a lookup counted and an open handle. As on a
 * refused CREATE reply (mqfuse_create_open()), the FORGET waits in an
 * orphan node reference until the RELEASE of the handle is answered.
 */
static void mqfuse_abandoned_create(struct mqfuse_conn *fc, struct mqfuse_req *req,
				    struct iov_iter *from)
{
	struct {
		struct fuse_entry_out e;
		struct fuse_open_out o;
	} out;
	struct mqfuse_node_ref *nref;

	if (copy_from_iter(&out.e, sizeof(out.e), from) != sizeof(out.e) ||
	    copy_from_iter(&out.o, sizeof(out.o), from) != sizeof(out.o))
		return;
	nref = mqfuse_node_ref_orphan(fc, out.e.nodeid, 1, GFP_KERNEL | __GFP_NOWARN);
	if (!nref)
		/* RELEASE without the FORGET: never the FORGET first */
		pr_warn_ratelimited("session %llu: no memory to forget node %llu\n",
				    fc->id, out.e.nodeid);
	mqfuse_release_abandoned(fc, out.e.nodeid, out.o.fh, req->release_flags, false, nref);
}

/*
 * READDIRPLUS: every entry the normal path would have counted gets its
 * FORGET. The reply is parsed from a copy bounded by the size the request
 * asked for, never from the waiter's buffer, which is gone.
 */
static void mqfuse_abandoned_readdirplus(struct mqfuse_conn *fc, struct iov_iter *from,
					 size_t size)
{
	void *buf;

	if (!size)
		return;
	buf = kvmalloc(size, GFP_KERNEL | __GFP_NOWARN);
	if (!buf) {
		pr_warn_ratelimited("session %llu: no memory to forget the entries of an abandoned READDIRPLUS\n",
				    fc->id);
		return;
	}
	if (copy_from_iter(buf, size, from) == size)
		mqfuse_readdirplus_forget_all(fc, buf, size);
	kvfree(buf);
}

/*
 * The waiter was killed; the daemon still answered. Give back what the
 * answer created so the daemon's state stays exact: lookup counts
 * (FORGET) and open handles (RELEASE, ahead of the node's FORGET). A reply
 * the normal path would refuse for its size is ignored here too, and the
 * write fails with -EINVAL as there. Never touches
 * req->args: only what mqfuse_req_alloc() copied into @req.
 *
 * Runs in the daemon's write(): nothing here waits for the daemon, and
 * allocations are NOFS, so reclaim cannot recurse into a filesystem (ours
 * included) that may wait for this very thread.
 */
static int mqfuse_dev_abandoned_reply(struct mqfuse_conn *fc, struct mqfuse_req *req,
				      int error, struct iov_iter *from, size_t size)
{
	u32 opcode = req->in_h.opcode;
	unsigned int nofs;

	if (error)
		return 0;	/* nothing was created */
	if (opcode != FUSE_OPEN && opcode != FUSE_OPENDIR && opcode != FUSE_CREATE &&
	    opcode != FUSE_READDIRPLUS && !mqfuse_op_makes_entry(opcode))
		return 0;
	if (!mqfuse_abandoned_size_ok(fc, req, size))
		return -EINVAL;	/* as on the normal path */

	nofs = memalloc_nofs_save();
	switch (opcode) {
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		mqfuse_abandoned_open(fc, req, from);
		break;
	case FUSE_CREATE:
		mqfuse_abandoned_create(fc, req, from);
		break;
	case FUSE_READDIRPLUS:
		mqfuse_abandoned_readdirplus(fc, from, size);
		break;
	default: {
		struct fuse_entry_out e;

		if (copy_from_iter(&e, sizeof(e), from) == sizeof(e))
			mqfuse_abandoned_forget(fc, e.nodeid);
		break;
	}
	}
	memalloc_nofs_restore(nofs);
	return 0;
}

/*
 * A reply may carry 0 or a user-visible errno. Kernel-internal codes
 * (-ERESTARTSYS = -512 and below, e.g. -EIOCBQUEUED) have meanings to the
 * VFS and the AIO paths that no daemon may trigger: refuse them, and
 * positive values, like any other malformed reply.
 */
static bool mqfuse_reply_error_valid(int error)
{
	return error <= 0 && error > -ERESTARTSYS;
}

/*
 * Take one reply or notification, all of @from: write(2) on the device
 * and each reply descriptor of a ring (ring.c). Returns the bytes taken or
 * a negative errno (the reply was refused; a request it named that could
 * be identified is failed or left waiting as the code below says).
 */
ssize_t mqfuse_dev_reply(struct mqfuse_conn *fc, struct iov_iter *from)
{
	size_t nbytes = iov_iter_count(from);
	struct fuse_out_header oh;
	struct mqfuse_req *req;
	size_t size;
	int err;

	if (nbytes < sizeof(oh))
		return -EINVAL;
	if (copy_from_iter(&oh, sizeof(oh), from) != sizeof(oh))
		return -EFAULT;
	if (oh.len != nbytes) {
		mqfuse_bad_reply(fc, "header len %u, write of %zu bytes\n", oh.len, nbytes);
		return -EINVAL;
	}
	size = nbytes - sizeof(oh);

	if (!oh.unique) {
		unsigned int nofs;

		/*
		 * No fs reclaim from a daemon thread handling a notification
		 * (its allocations and the faults of copying from its buffer):
		 * reclaim could evict an inode of this mount whose pages wait
		 * for READs only this thread can answer.
		 */
		nofs = memalloc_nofs_save();
		err = mqfuse_notify(fc, oh.error, from, size);
		memalloc_nofs_restore(nofs);
		return err ? err : nbytes;
	}
	if (oh.unique & MQFUSE_INT_REQ_BIT) {
		/* Answer to an INTERRUPT: only ENOSYS and EAGAIN mean something. */
		if (oh.error == -ENOSYS)
			WRITE_ONCE(fc->no_interrupt, true);
		else if (oh.error == -EAGAIN)
			mqfuse_queue_requeue_interrupt(fc, oh.unique & ~MQFUSE_INT_REQ_BIT);
		return nbytes;
	}

	req = mqfuse_queue_find_reply(fc, oh.unique);
	if (!req) {
		mqfuse_bad_reply(fc, "reply to unknown unique %llu (error %d, %zu bytes)\n",
				 oh.unique, oh.error, size);
		return -ENOENT;
	}

	if (!mqfuse_reply_error_valid(oh.error)) {
		mqfuse_bad_reply(fc, "opcode %u: error %d out of range\n",
				 req->in_h.opcode, oh.error);
		mqfuse_queue_reply_done(req, -EIO, nbytes);
		return -EINVAL;
	}
	if (test_bit(MQFUSE_REQ_ABANDONED, &req->flags)) {
		err = mqfuse_dev_abandoned_reply(fc, req, oh.error, from, size);
		mqfuse_queue_reply_done(req, 0, nbytes);
		return err ? err : nbytes;
	}
	if (oh.error) {
		if (size) {
			mqfuse_bad_reply(fc, "opcode %u: error reply with %zu payload bytes\n",
					 req->in_h.opcode, size);
			mqfuse_queue_reply_done(req, -EIO, nbytes);
			return -EINVAL;
		}
		req->out_h.error = oh.error;
		mqfuse_queue_reply_done(req, 0, nbytes);
		return nbytes;
	}
	err = mqfuse_copy_reply_in(fc, req, from, size);
	mqfuse_queue_reply_done(req, err ? -EIO : 0, nbytes);
	if (err)
		return err == -EFAULT ? -EFAULT : -EINVAL;
	return nbytes;
}
EXPORT_SYMBOL_GPL(mqfuse_dev_reply);

static ssize_t mqfuse_dev_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct mqfuse_dev *dev = mqfuse_dev_of(iocb->ki_filp);

	if (!dev)
		return -EPERM;
	return mqfuse_dev_reply(dev->fc, from);
}

static __poll_t mqfuse_dev_poll(struct file *file, poll_table *wait)
{
	struct mqfuse_dev *dev = mqfuse_dev_of(file);
	__poll_t mask = EPOLLOUT | EPOLLWRNORM;
	struct mqfuse_conn *fc;
	int bound;

	if (!dev)
		return EPOLLERR;
	fc = dev->fc;
	bound = READ_ONCE(dev->bound_queue);
	if (bound >= 0)
		poll_wait(file, &fc->queues[bound].waitq, wait);
	if (bound < 0 || mqfuse_dev_balance(dev))
		poll_wait(file, &fc->waitq, wait);
	/*
	 * add_wait_queue() is no full barrier: order it before the lockless
	 * work check, pairing with the smp_mb() in mqfuse_chardev_wake(), or
	 * a submitter may see no sleeper while this poller sees no work.
	 */
	smp_mb();
	if (!mqfuse_conn_usable(fc))
		return mask | EPOLLERR;
	if (mqfuse_dev_has_work(dev) && !mqfuse_ring_full(dev))
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

/* ---- ioctls ---- */

static long mqfuse_dev_ioctl_clone(struct file *file, u32 __user *argp)
{
	struct mqfuse_dev *old;
	struct file *oldf;
	u32 oldfd;
	int err;

	if (get_user(oldfd, argp))
		return -EFAULT;
	oldf = mqfuse_dev_fget(oldfd);
	if (IS_ERR(oldf))
		return PTR_ERR(oldf);
	mutex_lock(&mqfuse_dev_bind_mutex);
	old = oldf->private_data;
	err = old ? mqfuse_dev_attach(file, old->fc, NULL, NULL, old) : -EINVAL;
	mutex_unlock(&mqfuse_dev_bind_mutex);
	fput(oldf);
	return err;
}

static long mqfuse_dev_ioctl_bind(struct mqfuse_dev *dev, u32 __user *argp)
{
	u32 q;

	if (!dev)
		return -EINVAL;
	if (get_user(q, argp))
		return -EFAULT;
	if (q == ~0U) {
		WRITE_ONCE(dev->bound_queue, -1);
		return 0;
	}
	if (q >= dev->fc->nr_queues)
		return -EINVAL;
	WRITE_ONCE(dev->bound_queue, q);
	return 0;
}

static long mqfuse_dev_ioctl_info(struct mqfuse_dev *dev,
				  struct mqfuse_session_info __user *argp)
{
	struct mqfuse_session_info info = {};
	struct mqfuse_conn *fc;
	int bound;

	if (!dev)
		return -EINVAL;
	fc = dev->fc;
	bound = READ_ONCE(dev->bound_queue);
	info.session_id = fc->id;
	info.nr_queues = fc->nr_queues;
	info.max_pages = READ_ONCE(fc->max_pages);
	info.readdir_size = READ_ONCE(fc->readdir_size);
	info.bound_queue = bound < 0 ? ~0U : bound;
	info.max_write = READ_ONCE(fc->max_write);
	info.state = mqfuse_conn_state(fc);
	info.balance = fc->opts.balance;
	info.consistency = fc->opts.consistency;
	/* written by INIT before the state left INIT (release/acquire) */
	if (info.state != MQFUSE_STATE_INIT) {
		info.init_flags = fc->init_flags;
		info.proto_minor = fc->minor;
	}
	info.recovery_s = READ_ONCE(fc->opts.recovery_s);
	if (copy_to_user(argp, &info, sizeof(info)))
		return -EFAULT;
	return 0;
}

static int mqfuse_dev_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct mqfuse_dev *dev = mqfuse_dev_of(file);

	return dev ? mqfuse_ring_mmap(dev, vma) : -ENXIO;
}

static long mqfuse_dev_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct mqfuse_dev *dev = mqfuse_dev_of(file);
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case MQFUSE_IOC_CLONE:
	case FUSE_DEV_IOC_CLONE:	/* same ABI: libfuse's clone_fd */
		return mqfuse_dev_ioctl_clone(file, argp);
	case MQFUSE_IOC_BIND_QUEUE:
		return mqfuse_dev_ioctl_bind(dev, argp);
	case MQFUSE_IOC_GET_INFO:
		return mqfuse_dev_ioctl_info(dev, argp);
	case MQFUSE_IOC_ATTACH:
		return mqfuse_recovery_ioctl_attach(file, argp);
	case MQFUSE_IOC_STORE_FD:
		return dev ? mqfuse_recovery_ioctl_store_fd(dev->fc, argp) : -EINVAL;
	case MQFUSE_IOC_FETCH_FD:
		return dev ? mqfuse_recovery_ioctl_fetch_fd(dev->fc) : -EINVAL;
	case MQFUSE_IOC_UMEM_REG:
	case MQFUSE_IOC_UMEM_DEREG:
	case MQFUSE_IOC_RING_SETUP:
	case MQFUSE_IOC_RING_ENTER:
		return dev ? mqfuse_ring_ioctl(dev, cmd, argp) : -EINVAL;
	}
	return -ENOTTY;
}

static const struct file_operations mqfuse_dev_fops = {
	.owner		= THIS_MODULE,
	.open		= mqfuse_dev_open,
	.release	= mqfuse_dev_release,
	.read_iter	= mqfuse_dev_read_iter,
	.write_iter	= mqfuse_dev_write_iter,
	.splice_read	= copy_splice_read,
	.splice_write	= iter_file_splice_write,
	.poll		= mqfuse_dev_poll,
	.mmap		= mqfuse_dev_mmap,
	.unlocked_ioctl	= mqfuse_dev_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static void mqfuse_chardev_wake(struct mqfuse_queue *q)
{
	struct mqfuse_conn *fc = q->fc;
	bool q_sleeper;

	/*
	 * Only take a waitqueue lock when someone sleeps there: a busy
	 * daemon is usually reading already. The full barrier orders the
	 * submitter's list_add (under q->lock, released before this call)
	 * before the waitqueue_active() reads; it pairs with the barrier in
	 * prepare_to_wait*() (set_current_state()) of mqfuse_dev_wait(),
	 * which a reader executes before rechecking for work. It is the
	 * barrier wq_has_sleeper() would take, once for both queues.
	 */
	smp_mb();
	q_sleeper = waitqueue_active(&q->waitq);
	if (q_sleeper)
		wake_up(&q->waitq);
	/*
	 * With balancing, prefer the queue's own reader; wake a stealer only
	 * if nobody sleeps on the queue. Without, bound readers never take
	 * foreign work, so unbound sleepers must hear about it too.
	 */
	if (fc->opts.balance && q_sleeper)
		return;
	if (waitqueue_active(&fc->waitq))
		wake_up(&fc->waitq);
}

static void mqfuse_chardev_abort(struct mqfuse_conn *fc)
{
	unsigned int i;

	for (i = 0; i < fc->nr_queues; i++)
		wake_up_all(&fc->queues[i].waitq);
	wake_up_all(&fc->waitq);
}

const struct mqfuse_transport_ops mqfuse_chardev_transport = {
	.name	= "dev",
	.wake	= mqfuse_chardev_wake,
	.abort	= mqfuse_chardev_abort,
};

static struct miscdevice mqfuse_miscdev = {
	.minor		= MISC_DYNAMIC_MINOR,
	.name		= MQFUSE_NAME,
	.fops		= &mqfuse_dev_fops,
	.mode		= 0666,
};

int mqfuse_dev_init(void)
{
	return misc_register(&mqfuse_miscdev);
}

void mqfuse_dev_exit(void)
{
	misc_deregister(&mqfuse_miscdev);
}
