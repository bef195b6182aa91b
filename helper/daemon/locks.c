// SPDX-License-Identifier: GPL-2.0
/*
 * POSIX record locks and flock(2) on the backing files: GETLK, SETLK and
 * SETLKW (negotiated with FUSE_POSIX_LOCKS and FUSE_FLOCK_LOCKS), and the
 * unlocks FLUSH and RELEASE imply.  Taking them on the backing file is what
 * makes two clients of one store (two mounts, each with its own mqfused)
 * exclude each other, and processes on the server too.
 *
 * POSIX locks.  A FUSE lock owner (fuse_lk_in.owner, the kernel's scrambled
 * files_struct) gets an open file description of its own on the backing
 * file per inode (struct mq_lock_owner), and its locks are OFD locks on
 * it: the backing kernel merges and splits one owner's locks and never lets
 * them conflict with each other, while any other owner - of this client,
 * of another client of the store, a local process - conflicts.
 *
 * The OFD is opened as the caller (creds.c, as OPEN does), so the backend
 * applies the caller's rights and not the daemon's, and with the access of
 * the handle the first lock comes through: a read-only handle makes a
 * read-only OFD, so locking never adds a write open of the backing file
 * (which would make an exec of it on the server fail with ETXTBSY and
 * break read leases).  A write-only handle asks for O_RDWR first (a
 * writable handle already is a write open; read access is checked as the
 * caller), else O_WRONLY.  The handle decides what may be locked (EBADF
 * for F_WRLCK through a read-only one, F_RDLCK through a write-only one,
 * as fcntl(2)).  When an owner with a read-only OFD asks for a write lock
 * through a writable handle, its OFD is widened: an O_RDWR one is opened as
 * the caller, the read locks the old one holds (its /proc fdinfo lines) are
 * taken on it - read locks do not conflict, so there is no moment the
 * owner holds less - and the old one is closed.  That needs the owner to
 * be idle (no other request of it in flight, no SETLKW of it waiting):
 * else ENOLCK.
 *
 * An owner is made by its first lock and closed (dropping whatever it
 * still holds) when
 *  - it holds nothing: an unlock of the whole file;
 *  - FLUSH carries it as lock_owner: close(2) of any fd of the file by that
 *    process drops all its locks on the file (the POSIX rule), as does
 *    RELEASE with FUSE_RELEASE_FLUSH;
 *  - the last open handle of the inode is closed: no process of the client
 *    has the file open, so none can hold a lock on it (a safety net);
 *  - the inode is freed.
 * An owner some request is using (users) is unlinked at once and closed by
 * its last user, so a new lock by the same owner id (a files_struct is
 * reused after its process exited) starts from nothing.
 *
 * flock.  The owner is the open file, which is exactly what one fh names:
 * flock(2) on the handle's own backing open file description has the right
 * identity and lifetime.  RELEASE with FUSE_RELEASE_FLOCK_UNLOCK unlocks it
 * at once (the fd itself may close later, when its last user is done).
 *
 * Requests in flight.  Every SETLK and SETLKW that may take a lock is
 * registered (struct mq_lkreq) before anything is locked, and stays so
 * until its answer is settled.  The serving threads are per queue, so a
 * FLUSH can be served while a SETLK of its owner, sent earlier, is still
 * being served on another thread: FLUSH marks the registered requests of
 * its owner through its handle, and a grant to a marked request is undone
 * and answered EBADF (as fcntl(2) does when the fd was closed during the
 * call).  RELEASE of the handle a request came through does the same.  (A
 * FLUSH served before the SETLK was even registered is the kernel's to
 * fix: fcntl_setlk() sees the fd closed and sends the unlock.)
 *
 * SETLKW.  The serving thread first tries without blocking.  On a conflict
 * the wait moves to a waiter thread of its own, which blocks in
 * F_OFD_SETLKW or flock(2) and answers the request itself through the
 * device fd of the thread that read it (stock FUSE wants the reply on that
 * fd).  Serving threads never block on a lock, so the unlock that ends a
 * wait is always served.  A wait ends early on
 *  - FUSE_INTERRUPT of the request: answered EINTR, which the kernel turns
 *    into a restart or EINTR like a local fcntl(F_SETLKW) (a grant that
 *    wins the race is answered 0 and kept);
 *  - RELEASE of the handle the request came through, or FLUSH of its owner
 *    through it: the grant is undone (see above).
 * The waiter is woken by MQ_LOCK_WAKE_SIGNAL (no SA_RESTART, so the wait
 * returns EINTR and the thread looks at why).  A signal sent just before
 * the thread enters the wait would be lost, so each waiter also has a
 * timer that sends it every MQ_LOCK_TICK_NS: a late cancellation costs at
 * most one tick.  An INTERRUPT can be read by another serving thread before
 * the request is registered; the last MQ_LOCK_EARLY_INTR interrupts not
 * matched by a request are kept and checked at registration.
 *
 * Limits (mqfused(8), LOCKS).  Waiter threads: at most MQ_LOCK_MAX_WAITERS,
 * and at most 1/MQ_LOCK_UID_SHARE of them for one uid (the caller of the
 * SETLKW), so one user cannot take every slot; past either, SETLKW fails
 * with ENOLCK at once.  Owner OFDs: at most MQ_LOCK_MAX_OWNERS, and never
 * more than half of what RLIMIT_NOFILE leaves after MQ_LOCK_FD_RESERVE
 * (handles and inodes need fds too); one uid (the caller that made the
 * owner) may hold 1/MQ_LOCK_UID_SHARE of them.  Past either, ENOLCK, and
 * no fd is opened: the slot is taken before the open.
 *
 * Not provided: deadlock detection (EDEADLK).  OFD locks have none, so two
 * owners waiting for each other wait until a signal ends one of the waits.
 *
 * GETLK: F_OFD_GETLK on the owner's OFD (its own locks never conflict) or,
 * for an owner with no locks, on the handle's.  The pid reported is the one
 * of the owner of this client holding the conflicting lock (found in
 * /proc/self/fdinfo of each other owner's OFD, read without mq_locks_lock:
 * the owners looked at are pinned by a user reference), else 0: a lock of
 * another client or of a process on the server has no pid the caller
 * could use.  The pid is in the daemon's pid namespace, as the kernel sent
 * it; the kernel translates it for the caller.
 *
 * Lock order: mq_locks_lock, then a handle slot lock (mq_handle_peek).
 * Inode and handle references are never dropped under mq_locks_lock (their
 * last put calls back in here), nor is /proc read under it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/resource.h>

#include "mqfused.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id	_sigev_un._tid
#endif

#define MQ_OFFSET_MAX		INT64_MAX	/* the kernel's "to EOF" end */
#define MQ_LOCK_MAX_OWNERS	8192	/* backing fds for POSIX owners, at most */
#define MQ_LOCK_FD_RESERVE	256	/* of RLIMIT_NOFILE, never for owners */
#define MQ_LOCK_MAX_WAITERS	256	/* SETLKW waiting at a time */
#define MQ_LOCK_UID_SHARE	4	/* one uid: 1/4 of the owners, waiters */
#define MQ_LOCK_EARLY_INTR	64	/* interrupts kept for late requests */
#define MQ_LOCK_TICK_NS		(250 * 1000 * 1000)
#define MQ_LOCK_WAITER_STACK	(256u << 10)

_Static_assert(sizeof(off_t) == 8, "file offsets are 64-bit");

/* One POSIX lock owner on one inode: its backing open file description. */
struct mq_lock_owner {
	struct mq_lock_owner *next;	/* in inode->lock_owners (not if dead) */
	struct mq_inode *inode;		/* not referenced: owners go first */
	uint64_t owner;			/* fuse_lk_in.owner */
	uint32_t uid;			/* charged for it (mq_lock_uid) */
	/*
	 * fd and accmode change only while swapping, which needs users == 1:
	 * a user reads them without the lock.
	 */
	int fd;				/* the OFD its locks are taken on */
	int accmode;			/* fd's O_ACCMODE */
	/* fields below are protected by mq_locks_lock */
	uint32_t pid;			/* of its latest granted lock (GETLK) */
	unsigned int users;		/* requests and waiters using fd */
	uint64_t grants;		/* locks granted so far */
	bool may_hold;			/* granted a lock since it last held none */
	bool dead;			/* unlinked: the last user closes fd */
	bool swapping;			/* fd being widened: others wait */
};

/* What one uid uses of the shared limits. */
struct mq_lock_uid {
	struct mq_lock_uid *next;	/* in mq_lock_uids */
	uint32_t uid;
	unsigned int owners;		/* owner OFDs charged to it */
	unsigned int waiters;		/* waiter threads charged to it */
};

enum mq_lkreq_state {
	MQ_LKREQ_TRYING,	/* its serving thread locks without blocking */
	MQ_LKREQ_QUEUED,	/* handed to a waiter thread, not waiting yet */
	MQ_LKREQ_WAITING,	/* tid is set: wake-ups go to it */
	MQ_LKREQ_DONE,		/* off the list, answering */
};

/* A SETLK or SETLKW from registration to its answer. */
struct mq_lkreq {
	struct mq_lkreq *next;		/* in mq_lkreqs */
	struct mq_thread *thr;		/* the reply goes through its device fd */
	uint64_t unique;		/* the request */
	uint64_t fh;			/* a handle reference is held */
	struct mq_inode *inode;		/* a reference is held */
	uint64_t lock_owner;		/* fuse_lk_in.owner (POSIX) */
	bool is_flock;			/* flock: fd is the handle's */
	uint32_t uid;			/* the caller: charged for a waiter */
	uint32_t pid;			/* requester, for the owner's pid */
	struct mq_lock_owner *owner;	/* POSIX: a user of it, once made */
	int fd;				/* locks (waits) on this fd */
	struct flock fl;		/* POSIX: the lock */
	int flock_op;			/* flock: LOCK_SH or LOCK_EX */
	/* fields below are protected by mq_locks_lock */
	enum mq_lkreq_state state;
	pthread_t tid;			/* MQ_LKREQ_WAITING: the thread */
	int cancel;			/* 0, -EINTR (interrupt) or -EBADF (released) */
	bool flushed;			/* FLUSH of its owner through its fh */
	bool waiter;			/* holds a waiter slot */
};

static pthread_mutex_t mq_locks_lock = PTHREAD_MUTEX_INITIALIZER;
/* an owner's swapping ended (mq_locks_lock) */
static pthread_cond_t mq_owner_swapped = PTHREAD_COND_INITIALIZER;
/* fields below and every inode->lock_owners list: protected by mq_locks_lock */
static unsigned int mq_nr_owners;
static struct mq_lkreq *mq_lkreqs;
/* Registered lock requests not yet freed (mq_locks_drain()). */
static atomic_uint mq_lkreqs_live;
static unsigned int mq_nr_waiters;
static struct mq_lock_uid *mq_lock_uids;
static uint64_t mq_early_intr[MQ_LOCK_EARLY_INTR];
static unsigned int mq_early_next;
/* limits: set by mq_locks_init() (or a unit test) before any request */
static unsigned int mq_max_owners = MQ_LOCK_MAX_OWNERS;
static unsigned int mq_uid_max_owners = MQ_LOCK_MAX_OWNERS / MQ_LOCK_UID_SHARE;
static unsigned int mq_max_waiters = MQ_LOCK_MAX_WAITERS;
static unsigned int mq_uid_max_waiters = MQ_LOCK_MAX_WAITERS / MQ_LOCK_UID_SHARE;

static int mq_lock_wake_signal;	/* 0 until mq_locks_init() */

void (*mq_locks_test_hook)(uint64_t unique);

/* Warnings a client can trigger: at most one every 10 seconds. */
static bool mq_locks_ratelimit(void)
{
	static _Atomic time_t last;
	time_t now = time(NULL), prev = atomic_load(&last);

	return now - prev >= 10 && atomic_compare_exchange_strong(&last, &prev, now);
}

static bool mq_locks_on(bool flock)
{
	return mq_conn.flags & (flock ? FUSE_FLOCK_LOCKS : FUSE_POSIX_LOCKS);
}

/*
 * The lock of a request as a struct flock: a type the request may carry
 * (GETLK asks about F_RDLCK or F_WRLCK only) and a range within [0,
 * OFFSET_MAX], end >= start, end OFFSET_MAX meaning "to EOF" (l_len 0).
 */
static int mq_lock_from_fuse(const struct fuse_file_lock *lk, bool getlk,
			     struct flock *fl)
{
	switch (lk->type) {
	case F_RDLCK:
	case F_WRLCK:
		break;
	case F_UNLCK:
		if (!getlk)
			break;
		/* fall through */
	default:
		return -EINVAL;
	}
	if (lk->start > MQ_OFFSET_MAX || lk->end > MQ_OFFSET_MAX ||
	    lk->start > lk->end)
		return -EINVAL;
	memset(fl, 0, sizeof(*fl));
	fl->l_type = lk->type;
	fl->l_whence = SEEK_SET;
	fl->l_start = lk->start;
	/* end < OFFSET_MAX here, so the length fits */
	fl->l_len = lk->end == MQ_OFFSET_MAX ? 0 : lk->end - lk->start + 1;
	return 0;
}

/* A lock the backing kernel reported, in FUSE terms (pid left to the caller). */
static int mq_lock_to_fuse(const struct flock *fl, struct fuse_file_lock *lk)
{
	int64_t end;

	if (fl->l_start < 0 || fl->l_len < 0 ||
	    (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK))
		return -EIO;
	if (!fl->l_len)
		end = MQ_OFFSET_MAX;
	else if (__builtin_add_overflow(fl->l_start, fl->l_len - 1, &end))
		return -EIO;
	lk->start = fl->l_start;
	lk->end = end;
	lk->type = fl->l_type;
	lk->pid = 0;
	return 0;
}

/* EBADF for a lock type the access mode @acc does not allow (fcntl(2)). */
static int mq_lock_access(int acc, short type)
{
	if (type == F_RDLCK && acc == O_WRONLY)
		return -EBADF;
	if (type == F_WRLCK && acc == O_RDONLY)
		return -EBADF;
	return 0;
}

static int mq_fd_accmode(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	return flags < 0 ? -errno : flags & O_ACCMODE;
}

/* ------------------------------------------------------ per-uid limits */

/* Under mq_locks_lock: @uid's usage; made (zero) if @create. */
static struct mq_lock_uid *mq_uid_find(uint32_t uid, bool create)
{
	struct mq_lock_uid *u;

	for (u = mq_lock_uids; u; u = u->next)
		if (u->uid == uid)
			return u;
	if (!create)
		return NULL;
	u = calloc(1, sizeof(*u));
	if (u) {
		u->uid = uid;
		u->next = mq_lock_uids;
		mq_lock_uids = u;
	}
	return u;
}

/* Under mq_locks_lock: forget @u once it uses nothing. */
static void mq_uid_trim(struct mq_lock_uid *u)
{
	struct mq_lock_uid **pp;

	if (u->owners || u->waiters)
		return;
	for (pp = &mq_lock_uids; *pp; pp = &(*pp)->next) {
		if (*pp == u) {
			*pp = u->next;
			free(u);
			return;
		}
	}
}

/*
 * Under mq_locks_lock: take a slot for @uid, or -ENOLCK: a lock owner (an
 * fd on a backing file) or, with @waiter, a blocked SETLKW. Each kind has a
 * global limit and a per-uid share of it.
 */
static int mq_quota_charge(uint32_t uid, bool waiter)
{
	unsigned int *nr = waiter ? &mq_nr_waiters : &mq_nr_owners;
	unsigned int max = waiter ? mq_max_waiters : mq_max_owners;
	unsigned int share = waiter ? mq_uid_max_waiters : mq_uid_max_owners;
	const char *what = waiter ? "SETLKW waiting" : "lock owners";
	struct mq_lock_uid *u;
	unsigned int *mine;

	if (*nr >= max) {
		if (mq_locks_ratelimit())
			mq_warn("locks: %u %s in all: ENOLCK", max, what);
		return -ENOLCK;
	}
	u = mq_uid_find(uid, true);
	if (!u)
		return -ENOLCK;
	mine = waiter ? &u->waiters : &u->owners;
	if (*mine >= share) {
		if (mq_locks_ratelimit())
			mq_warn("locks: uid %u has %u %s, its share: ENOLCK", uid, *mine, what);
		mq_uid_trim(u);
		return -ENOLCK;
	}
	(*mine)++;
	(*nr)++;
	return 0;
}

static void mq_quota_uncharge(uint32_t uid, bool waiter)
{
	struct mq_lock_uid *u = mq_uid_find(uid, false);

	if (waiter)
		mq_nr_waiters--;
	else
		mq_nr_owners--;
	if (u) {
		if (waiter)
			u->waiters--;
		else
			u->owners--;
		mq_uid_trim(u);
	}
}

/* ------------------------------------------------ the fdinfo lock lines */

/* An fdinfo "lock:" line of an OFD lock, as a struct flock. */
static bool mq_fdinfo_parse(const char *line, struct flock *fl)
{
	char kind[16], rw[16], endtok[32];
	long long start, end;

	if (strncmp(line, "lock:", 5))
		return false;
	/* "lock:\t2: OFDLCK ADVISORY  WRITE -1 fe:00:1234 5 14" (or "EOF") */
	if (sscanf(line + 5, " %*d: %15s %*s %15s %*d %*s %lld %31s", kind, rw,
		   &start, endtok) != 4 || strcmp(kind, "OFDLCK") || start < 0)
		return false;
	memset(fl, 0, sizeof(*fl));
	fl->l_whence = SEEK_SET;
	fl->l_start = start;
	if (!strcmp(rw, "WRITE"))
		fl->l_type = F_WRLCK;
	else if (!strcmp(rw, "READ"))
		fl->l_type = F_RDLCK;
	else
		return false;
	if (!strcmp(endtok, "EOF"))
		return true;	/* l_len 0 */
	{
		char *e;

		end = strtoll(endtok, &e, 10);
		if (*e || end < start)
			return false;
	}
	fl->l_len = end - start + 1;
	return true;
}

/*
 * Call @fn on each lock the OFD @fd holds (its /proc/self/fdinfo lines)
 * until it returns non-zero; returns that, 0, or -errno.  Never under
 * mq_locks_lock: procfs is slow next to a lock request.
 */
static int mq_fd_for_each_lock(int fd, int (*fn)(const struct flock *fl,
						  void *arg), void *arg)
{
	char path[64], buf[4096], *line, *nl;
	struct flock fl;
	size_t have = 0;
	int pfd, ret = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%sself/fdinfo/%d", mq_proc_prefix, fd);
	pfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	while (!ret) {
		n = read(pfd, buf + have, sizeof(buf) - 1 - have);
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		have += n;
		buf[have] = '\0';
		for (line = buf; !ret && (nl = strchr(line, '\n')); line = nl + 1) {
			*nl = '\0';
			if (mq_fdinfo_parse(line, &fl))
				ret = fn(&fl, arg);
		}
		have -= line - buf;
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0;	/* no line is that long: skip it */
	}
	close(pfd);
	return ret;
}

static int mq_lock_is(const struct flock *fl, void *arg)
{
	const struct flock *want = arg;

	return fl->l_type == want->l_type && fl->l_start == want->l_start &&
	       fl->l_len == want->l_len;
}

/* Is @want (as F_OFD_GETLK reported it) one of the locks of OFD @fd? */
static bool mq_fd_holds(int fd, const struct flock *want)
{
	return mq_fd_for_each_lock(fd, mq_lock_is, (void *)want) == 1;
}

static int mq_lock_copy(const struct flock *fl, void *arg)
{
	struct flock copy = *fl;

	return fcntl(*(int *)arg, F_OFD_SETLK, &copy) ? -ENOLCK : 0;
}

/* ------------------------------------------------------------ owners */

/* Under mq_locks_lock: the live owner @owner of @inode, once not swapping. */
static struct mq_lock_owner *mq_owner_find(struct mq_inode *inode,
					   uint64_t owner)
{
	struct mq_lock_owner *o;

	for (;;) {
		for (o = inode->lock_owners; o; o = o->next)
			if (o->owner == owner)
				break;
		if (!o || !o->swapping)
			return o;
		/* its swapper holds a user: o lives until woken, maybe not after */
		pthread_cond_wait(&mq_owner_swapped, &mq_locks_lock);
	}
}

static void mq_owner_unlink(struct mq_lock_owner *o)
{
	struct mq_lock_owner **pp;

	for (pp = &o->inode->lock_owners; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	o->next = NULL;
	o->dead = true;
}

/*
 * The backing OFD of an owner of @inode for a handle of access @acc (see
 * the top), opened as the caller of @req; *@fd_acc is its access.
 */
static int mq_owner_open(struct mq_req *req, struct mq_inode *inode, int acc,
			 int *fd_acc)
{
	const int flags = O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	char path[64];
	int fd = -1, ret;

	/* O_NONBLOCK: a lease on the backing file fails the open, not waits. */
	mq_proc_path(path, sizeof(path), inode->fd);
	ret = mq_creds_enter(req);
	if (!ret) {
		*fd_acc = acc == O_WRONLY ? O_RDWR : acc;
		fd = open(path, *fd_acc | flags);
		if (fd < 0 && *fd_acc != acc) {
			*fd_acc = acc;
			fd = open(path, acc | flags);
		}
		ret = fd < 0 ? -errno : 0;
	}
	mq_creds_leave(req);
	if (ret) {
		if (mq_locks_ratelimit())
			mq_warn("locks: cannot open a backing file for a lock owner (uid %u): %s",
				req->in->uid, strerror(-ret));
		return -ENOLCK;
	}
	return fd;
}

/*
 * Take a user reference on the owner @owner of @inode; with @create, make
 * it if there is none (@acc: the access of the handle it comes through),
 * charged to the caller of @req.  *@out is NULL if there is none and
 * !@create.
 */
static int mq_owner_get(struct mq_req *req, struct mq_inode *inode,
			uint64_t owner, int acc, bool create,
			struct mq_lock_owner **out)
{
	struct mq_lock_owner *o, *fresh;
	uint32_t uid = req->in->uid;
	int fd, fd_acc, ret;

	pthread_mutex_lock(&mq_locks_lock);
	o = mq_owner_find(inode, owner);
	if (o)
		o->users++;
	/* the slot before the fd: past a limit, nothing is opened */
	ret = o || !create ? 0 : mq_quota_charge(uid, false);
	pthread_mutex_unlock(&mq_locks_lock);
	*out = o;
	if (o || !create || ret)
		return ret;

	fresh = calloc(1, sizeof(*fresh));
	fd = fresh ? mq_owner_open(req, inode, acc, &fd_acc) : -ENOLCK;
	pthread_mutex_lock(&mq_locks_lock);
	o = mq_owner_find(inode, owner);	/* made meanwhile? */
	if (o || fd < 0) {
		mq_quota_uncharge(uid, false);
	} else {
		fresh->inode = inode;
		fresh->owner = owner;
		fresh->uid = uid;
		fresh->fd = fd;
		fresh->accmode = fd_acc;
		fresh->next = inode->lock_owners;
		inode->lock_owners = fresh;
		o = fresh;
		fd = -1;
		fresh = NULL;
	}
	if (o)
		o->users++;
	pthread_mutex_unlock(&mq_locks_lock);
	if (fd >= 0)
		close(fd);
	free(fresh);
	*out = o;
	return o ? 0 : fd;
}

/* Under mq_locks_lock: the owner is off every list and unused: free it. */
static void mq_owner_free(struct mq_lock_owner *o)
{
	mq_quota_uncharge(o->uid, false);
}

/* Drop a user reference; the last one closes an owner that holds nothing. */
static void mq_owner_put(struct mq_lock_owner *o)
{
	bool gone = false;

	if (!o)
		return;
	pthread_mutex_lock(&mq_locks_lock);
	if (!--o->users && (o->dead || !o->may_hold)) {
		if (!o->dead)
			mq_owner_unlink(o);
		mq_owner_free(o);
		gone = true;
	}
	pthread_mutex_unlock(&mq_locks_lock);
	if (gone) {
		close(o->fd);	/* releases whatever it still held */
		free(o);
	}
}

/*
 * @o (a user of it is the caller) needs access to lock through a handle
 * of access @acc that its OFD lacks: widen it to O_RDWR, keeping its
 * locks (see the top).
 */
static int mq_owner_widen(struct mq_req *req, struct mq_lock_owner *o)
{
	int fd, fd_acc, old = -1, ret = 0;

	fd = mq_owner_open(req, o->inode, O_RDWR, &fd_acc);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&mq_locks_lock);
	if (o->users != 1) {
		ret = -ENOLCK;
	} else {
		o->swapping = true;
		if (!o->may_hold)
			old = o->fd;	/* nothing to carry over */
	}
	pthread_mutex_unlock(&mq_locks_lock);
	if (ret) {
		close(fd);
		if (mq_locks_ratelimit())
			mq_warn("locks: a lock owner in use needs a writable backing file: ENOLCK");
		return ret;
	}
	/*
	 * A read-only OFD's read locks: taking them again cannot conflict
	 * (nobody else holds a write lock over them).  A write-only OFD's
	 * write locks would conflict with themselves: that fails, ENOLCK.
	 */
	if (old < 0)
		ret = mq_fd_for_each_lock(o->fd, mq_lock_copy, &fd);
	pthread_mutex_lock(&mq_locks_lock);
	if (!ret) {
		old = o->fd;
		o->fd = fd;
		o->accmode = O_RDWR;
		fd = -1;
	}
	o->swapping = false;
	pthread_cond_broadcast(&mq_owner_swapped);
	pthread_mutex_unlock(&mq_locks_lock);
	close(ret ? fd : old);	/* the new OFD and what it took, or the old */
	return ret ? -ENOLCK : 0;
}

/* Under mq_locks_lock: @o was granted a lock for @pid. */
static void mq_owner_granted(struct mq_lock_owner *o, uint32_t pid)
{
	o->grants++;
	o->may_hold = true;
	if (pid)
		o->pid = pid;
}

/*
 * Under mq_locks_lock: an unlock of the whole file through @o succeeded;
 * it started when o->grants was @grants.  A lock granted meanwhile (another
 * thread of the owner's process) may have come after the unlock: then @o
 * may still hold it.
 */
static void mq_owner_emptied(struct mq_lock_owner *o, uint64_t grants)
{
	if (o->grants == grants)
		o->may_hold = false;
}

/* Unlock everything @o holds (FLUSH), with the bookkeeping. */
static void mq_owner_unlock_all(struct mq_lock_owner *o)
{
	struct flock all = { .l_type = F_UNLCK, .l_whence = SEEK_SET };
	uint64_t grants;

	pthread_mutex_lock(&mq_locks_lock);
	grants = o->grants;
	pthread_mutex_unlock(&mq_locks_lock);
	if (fcntl(o->fd, F_OFD_SETLK, &all)) {
		if (mq_locks_ratelimit())
			mq_warn("locks: unlock of a lock owner's file: %s",
				strerror(errno));
		return;
	}
	pthread_mutex_lock(&mq_locks_lock);
	mq_owner_emptied(o, grants);
	pthread_mutex_unlock(&mq_locks_lock);
}

/*
 * Unlink every owner of @inode; those in use are closed by their last
 * user.  @only_if_idle: not if a file of the inode was opened meanwhile.
 */
static void mq_owners_drop(struct mq_inode *inode, bool only_if_idle)
{
	struct mq_lock_owner *o, *next, *gone = NULL;

	pthread_mutex_lock(&mq_locks_lock);
	if (only_if_idle && atomic_load(&inode->open_files)) {
		pthread_mutex_unlock(&mq_locks_lock);
		return;
	}
	for (o = inode->lock_owners; o; o = next) {
		next = o->next;
		o->next = NULL;
		o->dead = true;
		if (!o->users) {
			o->next = gone;
			gone = o;
			mq_owner_free(o);
		}
	}
	inode->lock_owners = NULL;
	pthread_mutex_unlock(&mq_locks_lock);
	for (o = gone; o; o = next) {
		next = o->next;
		close(o->fd);
		free(o);
	}
}

/* ------------------------------------------------------ GETLK's pid */

/* pid of the owner of @inode other than @self that holds @found, or 0. */
static uint32_t mq_lock_holder_pid(struct mq_inode *inode,
				   struct mq_lock_owner *self,
				   const struct flock *found)
{
	struct mq_lock_owner *o, **pinned = NULL;
	unsigned int n = 0, max = 0, i;
	uint32_t pid = 0;

	/* Pin the candidates under the lock; read their fdinfo without it. */
	pthread_mutex_lock(&mq_locks_lock);
	for (o = inode->lock_owners; o; o = o->next)
		max++;
	if (max)
		pinned = malloc(max * sizeof(*pinned));
	for (o = inode->lock_owners; pinned && o; o = o->next) {
		if (o == self || !o->may_hold || !o->pid || o->swapping)
			continue;
		o->users++;	/* its fd stays open and unswapped */
		pinned[n++] = o;
	}
	pthread_mutex_unlock(&mq_locks_lock);
	for (i = 0; i < n && !pid; i++) {
		if (!mq_fd_holds(pinned[i]->fd, found))
			continue;
		pthread_mutex_lock(&mq_locks_lock);
		pid = pinned[i]->pid;
		pthread_mutex_unlock(&mq_locks_lock);
	}
	for (i = 0; i < n; i++)
		mq_owner_put(pinned[i]);
	free(pinned);
	return pid;
}

/* ---------------------------------------------- requests in flight */

static void mq_lock_wake(int sig)
{
	(void)sig;	/* only ends the wait with EINTR */
}

/* Under mq_locks_lock: an INTERRUPT for @unique came before its request? */
static bool mq_early_intr_take(uint64_t unique)
{
	unsigned int i;

	for (i = 0; i < MQ_LOCK_EARLY_INTR; i++) {
		if (mq_early_intr[i] == unique) {
			mq_early_intr[i] = 0;
			return true;
		}
	}
	return false;
}

/* Under mq_locks_lock: end @r's wait with @why (-EBADF outranks -EINTR). */
static void mq_lkreq_cancel(struct mq_lkreq *r, int why)
{
	if (r->state == MQ_LKREQ_DONE)
		return;
	if (!r->cancel || why == -EBADF)
		r->cancel = why;
	if (r->state == MQ_LKREQ_WAITING)
		pthread_kill(r->tid, mq_lock_wake_signal);
}

/*
 * Register a lock request of @req (@li) on @inode through the handle
 * @li->fh; on success *@out takes over the references on @inode and on
 * the handle (both the caller's until then).
 */
static int mq_lkreq_register(struct mq_req *req, const struct fuse_lk_in *li,
			     struct mq_inode *inode, int fd, bool wait,
			     struct mq_lkreq **out)
{
	struct mq_lkreq *r = calloc(1, sizeof(*r));
	uint64_t nodeid;
	int ret = 0;

	if (!r)
		return -ENOLCK;
	r->thr = req->thr;
	r->unique = req->in->unique;
	r->fh = li->fh;
	r->inode = inode;
	r->lock_owner = li->owner;
	r->is_flock = li->lk_flags & FUSE_LK_FLOCK;
	r->uid = req->in->uid;
	r->pid = li->lk.pid;
	r->fd = fd;
	r->state = MQ_LKREQ_TRYING;

	pthread_mutex_lock(&mq_locks_lock);
	if (wait && mq_early_intr_take(r->unique)) {
		ret = -EINTR;
	} else if (mq_handle_peek(r->fh, &nodeid) != MQ_HANDLE_FILE) {
		/* RELEASE came first: its caller is gone */
		ret = -EBADF;
	} else {
		r->next = mq_lkreqs;
		mq_lkreqs = r;
		atomic_fetch_add(&mq_lkreqs_live, 1);
	}
	pthread_mutex_unlock(&mq_locks_lock);
	if (ret) {
		free(r);
		return ret;
	}
	*out = r;
	if (mq_locks_test_hook)
		mq_locks_test_hook(r->unique);
	return 0;
}

/*
 * The lock call of @r returned @ret: unregister @r and settle the answer.
 * A grant to a request its handle's RELEASE or its owner's FLUSH through
 * that handle overtook is undone: EBADF.
 */
static int mq_lkreq_settle(struct mq_lkreq *r, int ret)
{
	struct mq_lkreq **pp;
	bool undo = false;

	pthread_mutex_lock(&mq_locks_lock);
	for (pp = &mq_lkreqs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	r->state = MQ_LKREQ_DONE;
	if (!ret && (r->cancel == -EBADF || r->flushed))
		undo = true;
	else if (!ret && r->owner)
		mq_owner_granted(r->owner, r->pid);
	pthread_mutex_unlock(&mq_locks_lock);
	if (undo) {
		if (r->owner) {
			struct flock un = r->fl;

			un.l_type = F_UNLCK;
			fcntl(r->fd, F_OFD_SETLK, &un);
		} else {
			flock(r->fd, LOCK_UN);
		}
		ret = -EBADF;
	}
	return ret;
}

/* Settled: drop @r's references. */
static void mq_lkreq_free(struct mq_lkreq *r)
{
	mq_owner_put(r->owner);
	mq_handle_put(r->fh);
	mq_inode_put(r->inode);
	free(r);
	atomic_fetch_sub(&mq_lkreqs_live, 1);
}

/* The periodic wake-up of the calling waiter thread (see the top). */
static bool mq_waiter_timer(timer_t *timer)
{
	struct itimerspec its = {
		.it_interval = { .tv_nsec = MQ_LOCK_TICK_NS },
		.it_value = { .tv_nsec = MQ_LOCK_TICK_NS },
	};
	struct sigevent sev;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = mq_lock_wake_signal;
	sev.sigev_notify_thread_id = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, timer))
		return false;
	if (timer_settime(*timer, 0, &its, NULL)) {
		timer_delete(*timer);
		return false;
	}
	return true;
}

static void *mq_waiter_main(void *arg)
{
	struct mq_lkreq *r = arg;
	uint32_t uid = r->uid;
	bool have_timer;
	timer_t timer;
	sigset_t set;
	int ret, why;

	pthread_setname_np(pthread_self(), "mqfused/lock");
	have_timer = mq_waiter_timer(&timer);
	if (!have_timer && mq_locks_ratelimit())
		mq_warn("locks: no wake-up timer for a waiting lock (%s): an interrupt may come late",
			strerror(errno));
	sigemptyset(&set);
	sigaddset(&set, mq_lock_wake_signal);
	pthread_mutex_lock(&mq_locks_lock);
	r->tid = pthread_self();
	r->state = MQ_LKREQ_WAITING;
	pthread_mutex_unlock(&mq_locks_lock);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;) {
		pthread_mutex_lock(&mq_locks_lock);
		why = r->cancel;
		pthread_mutex_unlock(&mq_locks_lock);
		if (why) {
			ret = why;
			break;
		}
		ret = r->owner ? fcntl(r->fd, F_OFD_SETLKW, &r->fl) :
				 flock(r->fd, r->flock_op);
		if (!ret)
			break;
		if (errno != EINTR) {
			ret = -errno;
			break;
		}
	}
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (have_timer)
		timer_delete(timer);
	ret = mq_lkreq_settle(r, ret);
	mq_reply_detached(r->thr, r->unique, ret);
	mq_lkreq_free(r);
	/* counted until here: the bound is on threads, not on the list */
	pthread_mutex_lock(&mq_locks_lock);
	mq_quota_uncharge(uid, true);
	pthread_mutex_unlock(&mq_locks_lock);
	return NULL;
}

/*
 * Hand a SETLKW that conflicts to a waiter thread, which answers it and
 * drops @r.  Returns MQ_NO_REPLY, or an error with @r still the caller's.
 */
static int mq_lkreq_wait(struct mq_lkreq *r)
{
	pthread_attr_t attr;
	pthread_t tid;
	int ret;

	if (!mq_lock_wake_signal)
		return -ENOLCK;		/* mq_locks_init() not called */
	pthread_mutex_lock(&mq_locks_lock);
	/* A flushed request waits: its grant is undone (the fd may be a dup). */
	ret = r->cancel ?: mq_quota_charge(r->uid, true);
	if (!ret) {
		r->waiter = true;
		r->state = MQ_LKREQ_QUEUED;
	}
	pthread_mutex_unlock(&mq_locks_lock);
	if (ret)
		return ret;

	/* Inherits the serving thread's mask: every signal blocked. */
	ret = pthread_attr_init(&attr);
	if (!ret) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, MQ_LOCK_WAITER_STACK);
		ret = pthread_create(&tid, &attr, mq_waiter_main, r);
		pthread_attr_destroy(&attr);
	}
	if (!ret)
		return MQ_NO_REPLY;
	if (mq_locks_ratelimit())
		mq_warn("locks: cannot start a thread for SETLKW: %s",
			strerror(ret));
	pthread_mutex_lock(&mq_locks_lock);
	r->waiter = false;
	r->state = MQ_LKREQ_TRYING;
	mq_quota_uncharge(r->uid, true);
	pthread_mutex_unlock(&mq_locks_lock);
	return -ENOLCK;
}

/* ------------------------------------------------------------ requests */

/* An unlock: no owner is made, nothing registered. */
static int mq_posix_unlock(struct mq_req *req, const struct fuse_lk_in *li,
			   struct mq_inode *inode, struct flock *fl)
{
	struct mq_lock_owner *o;
	uint64_t grants;
	int ret;

	/* an owner without an OFD holds nothing to unlock */
	mq_owner_get(req, inode, li->owner, 0, false, &o);
	if (!o)
		return 0;
	pthread_mutex_lock(&mq_locks_lock);
	grants = o->grants;
	pthread_mutex_unlock(&mq_locks_lock);
	ret = fcntl(o->fd, F_OFD_SETLK, fl) ? -errno : 0;
	if (!ret && !fl->l_start && !fl->l_len) {
		pthread_mutex_lock(&mq_locks_lock);
		mq_owner_emptied(o, grants);
		pthread_mutex_unlock(&mq_locks_lock);
	}
	mq_owner_put(o);
	return ret;
}

/*
 * The node and the open handle a SETLK(W) names: *inodep referenced, the
 * handle's fd returned with the handle referenced (the caller puts both),
 * or a negative errno with nothing held.
 */
static int mq_lk_target(struct mq_req *req, const struct fuse_lk_in *li,
			struct mq_inode **inodep)
{
	int hfd;

	*inodep = mq_inode_get(req->in->nodeid);
	if (!*inodep)
		return -ESTALE;
	hfd = mq_handle_get_fd(li->fh, req->in->nodeid);
	if (hfd < 0)
		mq_inode_put(*inodep);
	return hfd;
}

/* Drop what mq_lk_target() took; returns @ret. */
static int mq_lk_target_put(const struct fuse_lk_in *li, struct mq_inode *inode, int ret)
{
	mq_handle_put(li->fh);
	mq_inode_put(inode);
	return ret;
}

static int mq_posix_setlk(struct mq_req *req, const struct fuse_lk_in *li,
			  bool wait)
{
	struct mq_lkreq *r = NULL;
	struct mq_inode *inode;
	struct flock fl;
	int hfd, acc, ret;

	ret = mq_lock_from_fuse(&li->lk, false, &fl);
	if (ret)
		return ret;
	hfd = mq_lk_target(req, li, &inode);
	if (hfd < 0)
		return hfd;
	acc = mq_fd_accmode(hfd);
	ret = acc < 0 ? acc : mq_lock_access(acc, fl.l_type);
	if (!ret && fl.l_type == F_UNLCK)
		ret = mq_posix_unlock(req, li, inode, &fl);
	else if (!ret)
		ret = mq_lkreq_register(req, li, inode, hfd, wait, &r);
	if (ret || fl.l_type == F_UNLCK)
		return mq_lk_target_put(li, inode, ret);

	/* from here on the references are r's */
	r->fl = fl;
	ret = mq_owner_get(req, inode, li->owner, acc, true, &r->owner);
	if (!ret && mq_lock_access(r->owner->accmode, fl.l_type))
		ret = mq_owner_widen(req, r->owner);
	if (!ret) {
		r->fd = r->owner->fd;
		ret = fcntl(r->fd, F_OFD_SETLK, &fl) ? -errno : 0;
		if (ret == -EACCES)
			ret = -EAGAIN;
	}
	if (ret == -EAGAIN && wait) {
		ret = mq_lkreq_wait(r);
		if (ret == MQ_NO_REPLY)
			return ret;	/* the waiter has r */
	}
	ret = mq_lkreq_settle(r, ret);
	mq_lkreq_free(r);
	return ret;
}

static int mq_flock_setlk(struct mq_req *req, const struct fuse_lk_in *li,
			  bool wait)
{
	struct mq_lkreq *r = NULL;
	struct mq_inode *inode;
	struct flock fl;
	int hfd, op, ret;

	/* The kernel sends the whole file; check it all the same. */
	ret = mq_lock_from_fuse(&li->lk, false, &fl);
	if (ret)
		return ret;
	op = fl.l_type == F_RDLCK ? LOCK_SH :
	     fl.l_type == F_WRLCK ? LOCK_EX : LOCK_UN;
	hfd = mq_lk_target(req, li, &inode);
	if (hfd < 0)
		return hfd;
	if (op == LOCK_UN)
		return mq_lk_target_put(li, inode, flock(hfd, LOCK_UN) ? -errno : 0);
	ret = mq_lkreq_register(req, li, inode, hfd, wait, &r);
	if (ret)
		return mq_lk_target_put(li, inode, ret);
	r->flock_op = op;
	ret = flock(hfd, op | LOCK_NB) ? -errno : 0;
	if (ret == -EWOULDBLOCK && wait) {
		ret = mq_lkreq_wait(r);
		if (ret == MQ_NO_REPLY)
			return ret;
	}
	ret = mq_lkreq_settle(r, ret);
	mq_lkreq_free(r);
	return ret;
}

static int mq_setlk(struct mq_req *req, bool wait)
{
	const struct fuse_lk_in *li = (const void *)req->arg;
	bool flock = li->lk_flags & FUSE_LK_FLOCK;

	if (!mq_locks_on(flock))
		return -ENOSYS;
	if (li->lk_flags & ~FUSE_LK_FLOCK)
		return -EINVAL;
	return flock ? mq_flock_setlk(req, li, wait) :
		       mq_posix_setlk(req, li, wait);
}

int mq_op_setlk(struct mq_req *req)
{
	return mq_setlk(req, false);
}

int mq_op_setlkw(struct mq_req *req)
{
	return mq_setlk(req, true);
}

int mq_op_getlk(struct mq_req *req)
{
	const struct fuse_lk_in *li = (const void *)req->arg;
	struct fuse_lk_out *lo = (void *)req->out;
	struct mq_lock_owner *o;
	struct mq_inode *inode;
	struct flock fl;
	int hfd, ret;

	if (!mq_locks_on(false))
		return -ENOSYS;
	if (li->lk_flags)	/* flock has no GETLK */
		return -EINVAL;
	ret = mq_lock_from_fuse(&li->lk, true, &fl);
	if (ret)
		return ret;
	inode = mq_inode_get(req->in->nodeid);
	if (!inode)
		return -ESTALE;
	hfd = mq_handle_get_fd(li->fh, req->in->nodeid);
	if (hfd < 0) {
		mq_inode_put(inode);
		return hfd;
	}
	/* The owner's own locks must not show: ask through its OFD. */
	mq_owner_get(req, inode, li->owner, 0, false, &o);
	ret = fcntl(o ? o->fd : hfd, F_OFD_GETLK, &fl) ? -errno : 0;
	memset(lo, 0, sizeof(*lo));
	if (!ret && fl.l_type == F_UNLCK) {
		lo->lk.type = F_UNLCK;
	} else if (!ret) {
		ret = mq_lock_to_fuse(&fl, &lo->lk);
		if (!ret)
			lo->lk.pid = mq_lock_holder_pid(inode, o, &fl);
	}
	mq_owner_put(o);
	mq_handle_put(li->fh);
	mq_inode_put(inode);
	return ret ? ret : (int)sizeof(*lo);
}

/* ------------------------------------------ FLUSH, RELEASE, INTERRUPT */

void mq_locks_flush(uint64_t nodeid, uint64_t lock_owner, uint64_t fh)
{
	struct mq_lock_owner *o;
	struct mq_inode *inode;
	struct mq_lkreq *r;

	if (!mq_locks_on(false))
		return;
	inode = mq_inode_get(nodeid);
	if (!inode)
		return;
	pthread_mutex_lock(&mq_locks_lock);
	/* A lock through the file being closed that is not granted yet loses. */
	for (r = mq_lkreqs; r; r = r->next)
		if (!r->is_flock && r->inode == inode &&
		    r->lock_owner == lock_owner && r->fh == fh)
			r->flushed = true;
	o = mq_owner_find(inode, lock_owner);
	if (o)
		o->users++;
	pthread_mutex_unlock(&mq_locks_lock);
	if (o) {
		mq_owner_unlock_all(o);
		mq_owner_put(o);
	}
	mq_inode_put(inode);
}

void mq_locks_release(uint64_t nodeid, const struct fuse_release_in *ri)
{
	int fd;

	if ((ri->release_flags & FUSE_RELEASE_FLUSH) && mq_locks_on(false))
		mq_locks_flush(nodeid, ri->lock_owner, ri->fh);
	if (!(ri->release_flags & FUSE_RELEASE_FLOCK_UNLOCK) || !mq_locks_on(true))
		return;
	fd = mq_handle_get_fd(ri->fh, nodeid);
	if (fd < 0)
		return;
	flock(fd, LOCK_UN);
	mq_handle_put(ri->fh);
}

void mq_locks_released(uint64_t nodeid, uint64_t fh)
{
	struct mq_lkreq *r;

	if (!mq_locks_on(false) && !mq_locks_on(true))
		return;
	pthread_mutex_lock(&mq_locks_lock);
	for (r = mq_lkreqs; r; r = r->next)
		if (r->fh == fh && r->inode->nodeid == nodeid)
			mq_lkreq_cancel(r, -EBADF);
	pthread_mutex_unlock(&mq_locks_lock);
}

void mq_locks_interrupt(uint64_t unique)
{
	struct mq_lkreq *r;

	if (!mq_locks_on(false) && !mq_locks_on(true))
		return;
	pthread_mutex_lock(&mq_locks_lock);
	for (r = mq_lkreqs; r; r = r->next)
		if (r->unique == unique)
			break;
	if (r) {
		mq_lkreq_cancel(r, -EINTR);
	} else {
		/* not registered yet, or not a lock request at all */
		mq_early_intr[mq_early_next++ % MQ_LOCK_EARLY_INTR] = unique;
	}
	pthread_mutex_unlock(&mq_locks_lock);
}

/*
 * The connection of @thr is gone (mqfuse-server): its waiting lock
 * requests end.  The client sends them again on its next connection; an
 * orphan left waiting would take the lock for an application that was
 * told EINTR meanwhile (an INTERRUPT cancels one waiter of a unique).
 */
void mq_locks_thread_gone(struct mq_thread *thr)
{
	struct mq_lkreq *r;

	if (!mq_locks_on(false) && !mq_locks_on(true))
		return;
	pthread_mutex_lock(&mq_locks_lock);
	for (r = mq_lkreqs; r; r = r->next)
		if (r->thr == thr)
			mq_lkreq_cancel(r, -EINTR);
	pthread_mutex_unlock(&mq_locks_lock);
}

/*
 * The session ends for a new one (vhost.c: the guest mounts again): every
 * lock request is cancelled, and we wait (at most @ms) until each has
 * answered and dropped its references on handles and inodes.  The caller
 * keeps new requests out.  0, or -ETIMEDOUT.
 */
int mq_locks_drain(unsigned int ms)
{
	struct mq_lkreq *r;
	unsigned int waited = 0;

	if (!mq_locks_on(false) && !mq_locks_on(true))
		return 0;
	for (;;) {
		pthread_mutex_lock(&mq_locks_lock);
		for (r = mq_lkreqs; r; r = r->next)
			mq_lkreq_cancel(r, -EINTR);
		pthread_mutex_unlock(&mq_locks_lock);
		if (!atomic_load(&mq_lkreqs_live))
			return 0;
		if (waited >= ms)
			return -ETIMEDOUT;
		usleep(5000);
		waited += 5;
	}
}

/* ------------------------------------------------- inode and handles */

void mq_locks_file_opened(uint64_t nodeid)
{
	struct mq_inode *inode = mq_inode_get(nodeid);

	if (!inode)
		return;
	atomic_fetch_add(&inode->open_files, 1);
	mq_inode_put(inode);
}

void mq_locks_file_closed(uint64_t nodeid)
{
	struct mq_inode *inode = mq_inode_get(nodeid);
	unsigned int n;

	if (!inode)
		return;
	n = atomic_load(&inode->open_files);
	/* never below 0, whatever a file opened before the count did */
	while (n && !atomic_compare_exchange_weak(&inode->open_files, &n, n - 1))
		;
	if (n == 1)
		mq_owners_drop(inode, true);
	mq_inode_put(inode);
}

void mq_locks_inode_gone(struct mq_inode *inode)
{
	if (inode->lock_owners)
		mq_owners_drop(inode, false);
}

/* -------------------------------------------------------------- setup */

/* Owner OFDs a process with @nofile descriptors may give lock owners. */
static unsigned int mq_locks_owner_limit(rlim_t nofile)
{
	rlim_t n = nofile > MQ_LOCK_FD_RESERVE ?
		   (nofile - MQ_LOCK_FD_RESERVE) / 2 : 0;

	return n < MQ_LOCK_MAX_OWNERS ? (unsigned int)n : MQ_LOCK_MAX_OWNERS;
}

void mq_locks_set_limits(unsigned int owners, unsigned int uid_owners,
			 unsigned int waiters, unsigned int uid_waiters)
{
	pthread_mutex_lock(&mq_locks_lock);
	mq_max_owners = owners;
	mq_uid_max_owners = uid_owners;
	mq_max_waiters = waiters;
	mq_uid_max_waiters = uid_waiters;
	pthread_mutex_unlock(&mq_locks_lock);
}

int mq_locks_init(void)
{
	int sig = SIGRTMIN + 1;
	struct sigaction sa;
	struct rlimit rl;
	unsigned int owners = MQ_LOCK_MAX_OWNERS;

	/* after the RLIMIT_NOFILE raise (main.c) */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		owners = mq_locks_owner_limit(rl.rlim_cur);
	mq_locks_set_limits(owners, owners / MQ_LOCK_UID_SHARE ?: 1,
			    MQ_LOCK_MAX_WAITERS,
			    MQ_LOCK_MAX_WAITERS / MQ_LOCK_UID_SHARE);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mq_lock_wake;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: the wake-up must end the wait */
	if (sig > SIGRTMAX || sigaction(sig, &sa, NULL))
		return -ENOSYS;
	mq_lock_wake_signal = sig;
	mq_info("locks: at most %u lock owner fds (%u per uid), %u waiting SETLKW (%u per uid)",
		mq_max_owners, mq_uid_max_owners, mq_max_waiters,
		mq_uid_max_waiters);
	return 0;
}

void mq_locks_block_signal(sigset_t *set)
{
	if (mq_lock_wake_signal)
		sigaddset(set, mq_lock_wake_signal);
}

unsigned int mq_locks_nr_owners(void)
{
	unsigned int n;

	pthread_mutex_lock(&mq_locks_lock);
	n = mq_nr_owners;
	pthread_mutex_unlock(&mq_locks_lock);
	return n;
}

unsigned int mq_locks_nr_waiters(void)
{
	unsigned int n;

	pthread_mutex_lock(&mq_locks_lock);
	n = mq_nr_waiters;
	pthread_mutex_unlock(&mq_locks_lock);
	return n;
}
