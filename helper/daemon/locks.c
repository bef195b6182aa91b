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
 * of another client of the store, a local process - conflicts.  The OFD is
 * opened O_RDWR (an F_WRLCK needs a writable description, an F_RDLCK a
 * readable one, and one owner locks through read-only and writable files
 * alike); the client's handle decides what may be locked (EBADF, as
 * fcntl(2) on a file not open for that access).
 *
 * An owner is made by its first lock and closed (dropping whatever it
 * still holds) when
 *  - it holds nothing: an unlock of the whole file;
 *  - FLUSH carries it as lock_owner: close(2) of any fd of the file by that
 *    process drops all its locks on the file (the POSIX rule), as does
 *    RELEASE with FUSE_RELEASE_FLUSH;
 *  - the last open handle of the inode is closed: no process of the client
 *    has the file open, so none can hold a lock on it (a safety net: see
 *    "abandoned waits" below);
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
 * SETLKW.  The serving thread first tries without blocking.  On a conflict
 * the wait moves to a waiter thread of its own (at most MQ_LOCK_MAX_WAITERS
 * at a time, else ENOLCK), which blocks in F_OFD_SETLKW or flock(2) and
 * answers the request itself through the device fd of the thread that read
 * it (stock FUSE wants the reply on that fd).  Serving threads never block
 * on a lock, so the unlock that ends a wait is always served.  A wait ends
 * early on
 *  - FUSE_INTERRUPT of the request: answered EINTR, which the kernel turns
 *    into a restart or EINTR like a local fcntl(F_SETLKW) (a grant that
 *    wins the race is answered 0 and kept);
 *  - RELEASE of the handle the request came through: its caller cannot be
 *    in fcntl(2) or flock(2) any more, so the request was abandoned (a
 *    fatal signal); a grant that wins that race is undone.
 * The waiter is woken by MQ_LOCK_WAKE_SIGNAL (no SA_RESTART, so the wait
 * returns EINTR and the thread looks at why).  A signal sent just before
 * the thread enters the wait would be lost, so each waiter also has a
 * timer that sends it every MQ_LOCK_TICK_NS: a late cancellation costs at
 * most one tick.  An INTERRUPT can be read by another serving thread before
 * the waiter is registered; the last MQ_LOCK_EARLY_INTR interrupts not
 * matched by a waiter are kept and checked at registration.
 *
 * Abandoned waits.  A waiter whose caller died may still be granted the
 * lock before the INTERRUPT or RELEASE reaches it.  FLUSH of its owner
 * through its own handle (the dying process closing the file) marks it, and
 * a marked waiter undoes its grant, as fcntl(2) does when the fd was closed
 * during the wait (EBADF).  What lands in the few instructions before a
 * waiter is registered is dropped with the inode's last open handle.
 *
 * Not provided: deadlock detection (EDEADLK).  OFD locks have none, so two
 * owners waiting for each other wait until a signal ends one of the waits.
 *
 * GETLK: F_OFD_GETLK on the owner's OFD (its own locks never conflict) or,
 * for an owner with no locks, on the handle's.  The pid reported is the one
 * of the owner of this client holding the conflicting lock (found in
 * /proc/self/fdinfo of each other owner's OFD), else 0: a lock of another
 * client or of a process on the server has no pid the caller could use.
 *
 * Lock order: mq_locks_lock, then a handle slot lock (mq_handle_peek).
 * Inode and handle references are never dropped under mq_locks_lock (their
 * last put calls back in here).
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

#include "mqfused.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id	_sigev_un._tid
#endif

#define MQ_OFFSET_MAX		INT64_MAX	/* the kernel's "to EOF" end */
#define MQ_LOCK_MAX_OWNERS	8192	/* backing fds for POSIX owners */
#define MQ_LOCK_MAX_WAITERS	256	/* SETLKW waiting at a time */
#define MQ_LOCK_EARLY_INTR	64	/* interrupts kept for late waiters */
#define MQ_LOCK_TICK_NS		(250 * 1000 * 1000)
#define MQ_LOCK_WAITER_STACK	(256u << 10)

_Static_assert(sizeof(off_t) == 8, "file offsets are 64-bit");

/* One POSIX lock owner on one inode: its backing open file description. */
struct mq_lock_owner {
	struct mq_lock_owner *next;	/* in inode->lock_owners (not if dead) */
	struct mq_inode *inode;		/* not referenced: owners go first */
	uint64_t owner;			/* fuse_lk_in.owner */
	int fd;				/* the OFD its locks are taken on */
	int accmode;			/* fd's O_ACCMODE */
	/* fields below are protected by mq_locks_lock */
	uint32_t pid;			/* of its latest granted lock (GETLK) */
	unsigned int users;		/* requests and waiters using fd */
	uint64_t grants;		/* locks granted so far */
	bool may_hold;			/* granted a lock since it last held none */
	bool dead;			/* unlinked: the last user closes fd */
};

enum mq_waiter_state {
	MQ_WAITER_NEW,		/* registered; its thread is not waiting yet */
	MQ_WAITER_WAITING,	/* tid is set: wake-ups go to it */
	MQ_WAITER_DONE,		/* off the list, answering */
};

/* A SETLKW whose lock was taken: the waiter thread's state. */
struct mq_lock_waiter {
	struct mq_lock_waiter *next;	/* in mq_waiters */
	struct mq_thread *thr;		/* the reply goes through its device fd */
	uint64_t unique;		/* the request */
	uint64_t fh;			/* a handle reference is held */
	struct mq_inode *inode;		/* a reference is held */
	struct mq_lock_owner *owner;	/* POSIX: a user of it; NULL: flock */
	int fd;				/* waits on this fd */
	struct flock fl;		/* POSIX: the lock */
	int flock_op;			/* flock: LOCK_SH or LOCK_EX */
	uint32_t pid;			/* requester, for the owner's pid */
	/* fields below are protected by mq_locks_lock */
	enum mq_waiter_state state;
	pthread_t tid;			/* MQ_WAITER_WAITING: the thread */
	int cancel;			/* 0, -EINTR (interrupt) or -EBADF (abandoned) */
	bool flushed;			/* FLUSH of its owner through its fh */
};

static pthread_mutex_t mq_locks_lock = PTHREAD_MUTEX_INITIALIZER;
/* fields below and every inode->lock_owners list: protected by mq_locks_lock */
static unsigned int mq_nr_owners;
static struct mq_lock_waiter *mq_waiters;
static unsigned int mq_nr_waiters;
static uint64_t mq_early_intr[MQ_LOCK_EARLY_INTR];
static unsigned int mq_early_next;

static int mq_lock_wake_signal;	/* 0 until mq_locks_init() */

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

/* ------------------------------------------------------------ owners */

static struct mq_lock_owner *mq_owner_find(struct mq_inode *inode,
					   uint64_t owner)
{
	struct mq_lock_owner *o;

	for (o = inode->lock_owners; o; o = o->next)
		if (o->owner == owner)
			return o;
	return NULL;
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
 * The backing OFD of a new owner: O_RDWR, else (the daemon may not have
 * both) the access of the client's handle, @acc.
 */
static int mq_owner_open(struct mq_inode *inode, int acc, int *fd_acc)
{
	const int flags = O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	char path[64];
	int fd;

	/* O_NONBLOCK: a lease on the backing file fails the open, not waits. */
	mq_proc_path(path, sizeof(path), inode->fd);
	*fd_acc = O_RDWR;
	fd = open(path, O_RDWR | flags);
	if (fd < 0 && acc != O_RDWR) {
		*fd_acc = acc;
		fd = open(path, acc | flags);
	}
	if (fd < 0) {
		if (mq_locks_ratelimit())
			mq_warn("locks: cannot open a backing file for a lock owner: %s",
				strerror(errno));
		return -ENOLCK;
	}
	return fd;
}

/*
 * Take a user reference on the owner @owner of @inode; with @create, make
 * it if there is none (@acc: the access of the handle it comes through).
 * *@out is NULL if there is none and !@create.
 */
static int mq_owner_get(struct mq_inode *inode, uint64_t owner, int acc,
			bool create, struct mq_lock_owner **out)
{
	struct mq_lock_owner *o, *fresh;
	int fd, fd_acc;

	pthread_mutex_lock(&mq_locks_lock);
	o = mq_owner_find(inode, owner);
	if (o)
		o->users++;
	pthread_mutex_unlock(&mq_locks_lock);
	*out = o;
	if (o || !create)
		return 0;

	fd = mq_owner_open(inode, acc, &fd_acc);
	if (fd < 0)
		return fd;
	fresh = calloc(1, sizeof(*fresh));
	if (!fresh) {
		close(fd);
		return -ENOLCK;
	}
	pthread_mutex_lock(&mq_locks_lock);
	o = mq_owner_find(inode, owner);	/* made meanwhile? */
	if (!o && mq_nr_owners >= MQ_LOCK_MAX_OWNERS) {
		pthread_mutex_unlock(&mq_locks_lock);
		close(fd);
		free(fresh);
		if (mq_locks_ratelimit())
			mq_warn("locks: %u lock owners hold backing files: ENOLCK",
				MQ_LOCK_MAX_OWNERS);
		return -ENOLCK;
	}
	if (!o) {
		fresh->inode = inode;
		fresh->owner = owner;
		fresh->fd = fd;
		fresh->accmode = fd_acc;
		fresh->next = inode->lock_owners;
		inode->lock_owners = fresh;
		mq_nr_owners++;
		o = fresh;
		fd = -1;
		fresh = NULL;
	}
	o->users++;
	pthread_mutex_unlock(&mq_locks_lock);
	if (fd >= 0)
		close(fd);
	free(fresh);
	*out = o;
	return 0;
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
		mq_nr_owners--;
		gone = true;
	}
	pthread_mutex_unlock(&mq_locks_lock);
	if (gone) {
		close(o->fd);	/* releases whatever it still held */
		free(o);
	}
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
			mq_nr_owners--;
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

/* Does an fdinfo "lock:" line describe an OFD lock equal to @want? */
static bool mq_fdinfo_line_is(const char *line, const struct flock *want)
{
	char kind[16], rw[16], endtok[32];
	long long start, end;
	int type;

	if (strncmp(line, "lock:", 5))
		return false;
	/* "lock:\t2: OFDLCK ADVISORY  WRITE -1 fe:00:1234 5 14" (or "EOF") */
	if (sscanf(line + 5, " %*d: %15s %*s %15s %*d %*s %lld %31s", kind, rw,
		   &start, endtok) != 4 || strcmp(kind, "OFDLCK"))
		return false;
	if (!strcmp(rw, "WRITE"))
		type = F_WRLCK;
	else if (!strcmp(rw, "READ"))
		type = F_RDLCK;
	else
		return false;
	if (!strcmp(endtok, "EOF")) {
		end = -1;
	} else {
		char *e;

		end = strtoll(endtok, &e, 10);
		if (*e)
			return false;
	}
	return type == want->l_type && start == want->l_start &&
	       end == (want->l_len ? want->l_start + want->l_len - 1 : -1);
}

/* Is @want (as F_OFD_GETLK reported it) one of the locks of OFD @fd? */
static bool mq_fd_holds(int fd, const struct flock *want)
{
	char path[64], buf[4096], *line, *nl;
	size_t have = 0;
	bool found = false;
	ssize_t n;
	int pfd;

	snprintf(path, sizeof(path), "%sself/fdinfo/%d", mq_proc_prefix, fd);
	pfd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd < 0)
		return false;
	while (!found) {
		n = read(pfd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			break;
		have += n;
		buf[have] = '\0';
		for (line = buf; (nl = strchr(line, '\n')); line = nl + 1) {
			*nl = '\0';
			if (mq_fdinfo_line_is(line, want)) {
				found = true;
				break;
			}
		}
		have -= line - buf;
		memmove(buf, line, have);
		if (have == sizeof(buf) - 1)
			have = 0;	/* no line is that long: skip it */
	}
	close(pfd);
	return found;
}

/* pid of the owner of @inode other than @self that holds @found, or 0. */
static uint32_t mq_lock_holder_pid(struct mq_inode *inode,
				   struct mq_lock_owner *self,
				   const struct flock *found)
{
	struct mq_lock_owner *o;
	uint32_t pid = 0;

	/* Under the lock: a linked owner's fd stays open while we read. */
	pthread_mutex_lock(&mq_locks_lock);
	for (o = inode->lock_owners; o; o = o->next) {
		if (o == self || !o->may_hold || !o->pid)
			continue;
		if (mq_fd_holds(o->fd, found)) {
			pid = o->pid;
			break;
		}
	}
	pthread_mutex_unlock(&mq_locks_lock);
	return pid;
}

/* ----------------------------------------------------------- waiters */

static void mq_lock_wake(int sig)
{
	(void)sig;	/* only ends the wait with EINTR */
}

/* Under mq_locks_lock: an INTERRUPT for @unique came before its waiter? */
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

/* Under mq_locks_lock: end @w's wait with @why (-EBADF outranks -EINTR). */
static void mq_waiter_cancel(struct mq_lock_waiter *w, int why)
{
	if (w->state == MQ_WAITER_DONE)
		return;
	if (!w->cancel || why == -EBADF)
		w->cancel = why;
	if (w->state == MQ_WAITER_WAITING)
		pthread_kill(w->tid, mq_lock_wake_signal);
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

/* The wait is over with @ret: bookkeeping, the answer, the references. */
static void mq_waiter_finish(struct mq_lock_waiter *w, int ret)
{
	struct mq_lock_waiter **pp;
	bool undo = false;

	pthread_mutex_lock(&mq_locks_lock);
	for (pp = &mq_waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	w->state = MQ_WAITER_DONE;
	if (!ret && (w->cancel == -EBADF || w->flushed))
		undo = true;	/* granted to a caller that is gone */
	else if (!ret && w->owner)
		mq_owner_granted(w->owner, w->pid);
	pthread_mutex_unlock(&mq_locks_lock);
	if (undo) {
		if (w->owner) {
			struct flock un = w->fl;

			un.l_type = F_UNLCK;
			fcntl(w->fd, F_OFD_SETLK, &un);
		} else {
			flock(w->fd, LOCK_UN);
		}
		ret = -EBADF;
	}
	mq_reply_detached(w->thr, w->unique, ret);
	mq_owner_put(w->owner);
	mq_handle_put(w->fh);
	mq_inode_put(w->inode);
	free(w);
	/* counted until here: the bound is on threads, not on the list */
	pthread_mutex_lock(&mq_locks_lock);
	mq_nr_waiters--;
	pthread_mutex_unlock(&mq_locks_lock);
}

static void *mq_waiter_main(void *arg)
{
	struct mq_lock_waiter *w = arg;
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
	w->tid = pthread_self();
	w->state = MQ_WAITER_WAITING;
	pthread_mutex_unlock(&mq_locks_lock);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;) {
		pthread_mutex_lock(&mq_locks_lock);
		why = w->cancel;
		pthread_mutex_unlock(&mq_locks_lock);
		if (why) {
			ret = why;
			break;
		}
		ret = w->owner ? fcntl(w->fd, F_OFD_SETLKW, &w->fl) :
				 flock(w->fd, w->flock_op);
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
	mq_waiter_finish(w, ret);
	return NULL;
}

/*
 * Hand a SETLKW that conflicts to a waiter thread, which takes over the
 * references on @inode, @fh and @owner and answers the request.  Returns
 * MQ_NO_REPLY, or an error with the references still the caller's.
 */
static int mq_waiter_start(struct mq_req *req, struct mq_inode *inode,
			   uint64_t fh, int fd, struct mq_lock_owner *owner,
			   const struct flock *fl, int flock_op, uint32_t pid)
{
	struct mq_lock_waiter *w;
	pthread_attr_t attr;
	pthread_t tid;
	uint64_t nodeid;
	int ret;

	if (!mq_lock_wake_signal)
		return -ENOLCK;		/* mq_locks_init() not called */
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOLCK;
	w->thr = req->thr;
	w->unique = req->in->unique;
	w->fh = fh;
	w->inode = inode;
	w->owner = owner;
	w->fd = fd;
	if (fl)
		w->fl = *fl;
	w->flock_op = flock_op;
	w->pid = pid;
	w->state = MQ_WAITER_NEW;

	pthread_mutex_lock(&mq_locks_lock);
	if (mq_early_intr_take(w->unique)) {
		ret = -EINTR;
	} else if (mq_handle_peek(fh, &nodeid) != MQ_HANDLE_FILE) {
		/* RELEASE came first: its caller is gone */
		ret = -EBADF;
	} else if (mq_nr_waiters >= MQ_LOCK_MAX_WAITERS) {
		ret = -ENOLCK;
		if (mq_locks_ratelimit())
			mq_warn("locks: %u SETLKW already waiting: ENOLCK",
				MQ_LOCK_MAX_WAITERS);
	} else {
		w->next = mq_waiters;
		mq_waiters = w;
		mq_nr_waiters++;
		ret = 0;
	}
	pthread_mutex_unlock(&mq_locks_lock);
	if (ret) {
		free(w);
		return ret;
	}

	/* Inherits the serving thread's mask: every signal blocked. */
	ret = pthread_attr_init(&attr);
	if (!ret) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, MQ_LOCK_WAITER_STACK);
		ret = pthread_create(&tid, &attr, mq_waiter_main, w);
		pthread_attr_destroy(&attr);
	}
	if (!ret)
		return MQ_NO_REPLY;
	if (mq_locks_ratelimit())
		mq_warn("locks: cannot start a thread for SETLKW: %s",
			strerror(ret));
	pthread_mutex_lock(&mq_locks_lock);
	for (struct mq_lock_waiter **pp = &mq_waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	mq_nr_waiters--;
	pthread_mutex_unlock(&mq_locks_lock);
	free(w);
	return -ENOLCK;
}

/* ------------------------------------------------------------ requests */

static int mq_posix_setlk(struct mq_req *req, const struct fuse_lk_in *li,
			  bool wait)
{
	struct mq_lock_owner *o = NULL;
	struct mq_inode *inode;
	struct flock fl;
	uint64_t grants;
	int hfd, acc, ret;

	ret = mq_lock_from_fuse(&li->lk, false, &fl);
	if (ret)
		return ret;
	inode = mq_inode_get(req->in->nodeid);
	if (!inode)
		return -ESTALE;
	hfd = mq_handle_get_fd(li->fh, req->in->nodeid);
	if (hfd < 0) {
		ret = hfd;
		goto out_inode;
	}
	acc = mq_fd_accmode(hfd);
	ret = acc < 0 ? acc : mq_lock_access(acc, fl.l_type);
	if (ret)
		goto out_handle;

	if (fl.l_type == F_UNLCK) {
		/* an owner without an OFD holds nothing to unlock */
		mq_owner_get(inode, li->owner, acc, false, &o);
		if (!o)
			goto out_handle;
		pthread_mutex_lock(&mq_locks_lock);
		grants = o->grants;
		pthread_mutex_unlock(&mq_locks_lock);
		ret = fcntl(o->fd, F_OFD_SETLK, &fl) ? -errno : 0;
		if (!ret && !fl.l_start && !fl.l_len) {
			pthread_mutex_lock(&mq_locks_lock);
			mq_owner_emptied(o, grants);
			pthread_mutex_unlock(&mq_locks_lock);
		}
		goto out_owner;
	}

	ret = mq_owner_get(inode, li->owner, acc, true, &o);
	if (ret)
		goto out_handle;
	if (mq_lock_access(o->accmode, fl.l_type)) {
		/* the daemon could not open the backing file for this access */
		ret = -ENOLCK;
		goto out_owner;
	}
	if (!fcntl(o->fd, F_OFD_SETLK, &fl)) {
		pthread_mutex_lock(&mq_locks_lock);
		mq_owner_granted(o, li->lk.pid);
		pthread_mutex_unlock(&mq_locks_lock);
		ret = 0;
		goto out_owner;
	}
	ret = errno == EACCES ? -EAGAIN : -errno;
	if (ret == -EAGAIN && wait) {
		ret = mq_waiter_start(req, inode, li->fh, o->fd, o, &fl, 0,
				      li->lk.pid);
		if (ret == MQ_NO_REPLY)
			return ret;	/* the waiter has the references */
	}
out_owner:
	mq_owner_put(o);
out_handle:
	mq_handle_put(li->fh);
out_inode:
	mq_inode_put(inode);
	return ret;
}

static int mq_flock_setlk(struct mq_req *req, const struct fuse_lk_in *li,
			  bool wait)
{
	struct mq_inode *inode;
	struct flock fl;
	int hfd, op, ret;

	/* The kernel sends the whole file; check it all the same. */
	ret = mq_lock_from_fuse(&li->lk, false, &fl);
	if (ret)
		return ret;
	op = fl.l_type == F_RDLCK ? LOCK_SH :
	     fl.l_type == F_WRLCK ? LOCK_EX : LOCK_UN;
	inode = mq_inode_get(req->in->nodeid);
	if (!inode)
		return -ESTALE;
	hfd = mq_handle_get_fd(li->fh, req->in->nodeid);
	if (hfd < 0) {
		mq_inode_put(inode);
		return hfd;
	}
	ret = flock(hfd, op | (op == LOCK_UN ? 0 : LOCK_NB)) ? -errno : 0;
	if (ret == -EWOULDBLOCK && wait) {
		ret = mq_waiter_start(req, inode, li->fh, hfd, NULL, NULL, op,
				      li->lk.pid);
		if (ret == MQ_NO_REPLY)
			return ret;
	}
	mq_handle_put(li->fh);
	mq_inode_put(inode);
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
	mq_owner_get(inode, li->owner, 0, false, &o);
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
	struct mq_lock_waiter *w;
	struct mq_inode *inode;

	if (!mq_locks_on(false))
		return;
	inode = mq_inode_get(nodeid);
	if (!inode)
		return;
	pthread_mutex_lock(&mq_locks_lock);
	/* A wait through the file being closed loses a late grant. */
	for (w = mq_waiters; w; w = w->next)
		if (w->inode == inode && w->owner &&
		    w->owner->owner == lock_owner && w->fh == fh)
			w->flushed = true;
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
	struct mq_lock_waiter *w;

	if (!mq_locks_on(false) && !mq_locks_on(true))
		return;
	pthread_mutex_lock(&mq_locks_lock);
	for (w = mq_waiters; w; w = w->next)
		if (w->fh == fh && w->inode->nodeid == nodeid)
			mq_waiter_cancel(w, -EBADF);
	pthread_mutex_unlock(&mq_locks_lock);
}

void mq_locks_interrupt(uint64_t unique)
{
	struct mq_lock_waiter *w;

	if (!mq_locks_on(false) && !mq_locks_on(true))
		return;
	pthread_mutex_lock(&mq_locks_lock);
	for (w = mq_waiters; w; w = w->next)
		if (w->unique == unique)
			break;
	if (w) {
		mq_waiter_cancel(w, -EINTR);
	} else {
		/* not registered yet, or not a lock request at all */
		mq_early_intr[mq_early_next++ % MQ_LOCK_EARLY_INTR] = unique;
	}
	pthread_mutex_unlock(&mq_locks_lock);
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

int mq_locks_init(void)
{
	int sig = SIGRTMIN + 1;
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = mq_lock_wake;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: the wake-up must end the wait */
	if (sig > SIGRTMAX || sigaction(sig, &sa, NULL))
		return -ENOSYS;
	mq_lock_wake_signal = sig;
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
