// SPDX-License-Identifier: GPL-2.0
/*
 * Open file/directory handles.  The FUSE fh is the backend fd number in
 * the low 32 bits and a per-fd generation in the high 32 bits; the slot
 * table remembers which fds we handed out, as what and with which
 * generation, so a stale or bogus fh from the kernel fails with -EBADF
 * instead of operating on (or closing) the device fd, an O_PATH fd of the
 * inode table, or a file opened later that got the same fd number after
 * a RELEASE (the generation changes on every mq_handle_add; 0 is never
 * used, so a bare fd number is never a valid fh).  The generation is 32
 * bits: a stale fh could only match again after 2^32 - 1 further opens
 * on the same fd.
 *
 * RELEASE/RELEASEDIR can run while another request on the same fh is
 * still being served: the kernel lets a SIGKILLed caller return (and the
 * file be released) while the daemon still holds its request, and the
 * RELEASE can be served first on another queue/thread.  Slots are
 * therefore reference counted: the table holds one reference while the
 * handle is open, every user takes one under the slot's lock
 * (mq_handle_get_fd/mq_handle_get_dir) and drops it with mq_handle_put.
 * RELEASE marks the slot closing (no new references) and drops the
 * table's; the last put closes the fd and frees the directory state.
 *
 * Each slot also records the nodeid it was opened on; every op taking an
 * fh must name that nodeid, else -EBADF, so a client cannot use (or
 * release) a handle through another inode.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "mqfused.h"

#define MQ_HANDLE_LOCKS	64

struct mq_handle_slot {
	int kind;			/* enum mq_handle_kind */
	bool closing;			/* released; waiting for the last put */
	uint32_t gen;			/* generation of the current/last handle */
	unsigned int refs;		/* table's (while open) + users', capped */
	struct mq_dir *dir;		/* directory state, MQ_HANDLE_DIR */
	uint64_t nodeid;		/* the inode it was opened on */
	int flags;			/* backend open flags (F_GETFL) */
};

static uint64_t mq_fh_make(int fd, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint32_t)fd;
}

static uint32_t mq_fh_fd(uint64_t fh)
{
	return (uint32_t)fh;
}

static uint32_t mq_fh_gen(uint64_t fh)
{
	return (uint32_t)(fh >> 32);
}

static struct mq_handle_slot *mq_slots;
static unsigned int mq_nr_slots;
static atomic_uint_fast64_t mq_nr_handles;
static pthread_mutex_t mq_handle_locks[MQ_HANDLE_LOCKS];

static pthread_mutex_t *mq_slot_lock(uint32_t fd)
{
	return &mq_handle_locks[fd % MQ_HANDLE_LOCKS];
}

int mq_handles_init(unsigned int max_fds)
{
	int i;

	mq_slots = calloc(max_fds, sizeof(*mq_slots));
	if (!mq_slots)
		return -ENOMEM;
	mq_nr_slots = max_fds;
	for (i = 0; i < MQ_HANDLE_LOCKS; i++)
		pthread_mutex_init(&mq_handle_locks[i], NULL);
	return 0;
}

int mq_handle_add(int fd, enum mq_handle_kind kind, struct mq_dir *dir,
		  uint64_t nodeid, uint64_t *fh)
{
	struct mq_handle_slot *slot;
	pthread_mutex_t *lock;
	int flags;

	if (fd < 0 || (unsigned int)fd >= mq_nr_slots)
		return -EMFILE;
	/* O_APPEND decides whether a WRITE is journaled (dispatch.c). */
	flags = mq_rs_active() ? fcntl(fd, F_GETFL) : 0;
	slot = &mq_slots[fd];
	lock = mq_slot_lock(fd);
	pthread_mutex_lock(lock);
	if (slot->kind != MQ_HANDLE_NONE) {
		/* The fd is open, so its old handle must be gone. */
		pthread_mutex_unlock(lock);
		mq_err("fd %d: handle slot still in use", fd);
		abort();
	}
	if (++slot->gen == 0)
		slot->gen = 1;
	slot->kind = kind;
	slot->closing = false;
	slot->refs = 1;
	slot->dir = dir;
	slot->nodeid = nodeid;
	slot->flags = flags;
	*fh = mq_fh_make(fd, slot->gen);
	/* Before the reply hands the fh out (rstate.c). */
	mq_rs_handle_new(fd, kind, nodeid, slot->gen, slot->flags);
	pthread_mutex_unlock(lock);
	atomic_fetch_add(&mq_nr_handles, 1);
	if (kind == MQ_HANDLE_FILE)
		mq_locks_file_opened(nodeid);
	return 0;
}

/*
 * The slot @fh names if its fd is in range and its generation is the
 * slot's current one (the caller then checks kind and state under *lock).
 */
static struct mq_handle_slot *mq_slot_of(uint64_t fh, pthread_mutex_t **lock)
{
	uint32_t fd = mq_fh_fd(fh);

	if (fd >= mq_nr_slots || !mq_fh_gen(fh))
		return NULL;
	*lock = mq_slot_lock(fd);
	return &mq_slots[fd];
}

/* Take a reference on an open handle of @kind; NULL if there is none. */
static struct mq_handle_slot *mq_slot_get(uint64_t fh,
					  enum mq_handle_kind kind,
					  uint64_t nodeid)
{
	struct mq_handle_slot *slot;
	pthread_mutex_t *lock;

	slot = mq_slot_of(fh, &lock);
	if (!slot)
		return NULL;
	pthread_mutex_lock(lock);
	if (slot->kind != (int)kind || slot->closing ||
	    slot->gen != mq_fh_gen(fh) || slot->nodeid != nodeid) {
		pthread_mutex_unlock(lock);
		return NULL;
	}
	if (slot->refs >= MQ_HANDLE_MAX_REFS) {
		/* Cannot happen with bounded serving threads: refuse. */
		pthread_mutex_unlock(lock);
		mq_warn("fh %#llx: too many references",
			(unsigned long long)fh);
		return NULL;
	}
	slot->refs++;
	pthread_mutex_unlock(lock);
	return slot;
}

int mq_handle_get_fd(uint64_t fh, uint64_t nodeid)
{
	return mq_slot_get(fh, MQ_HANDLE_FILE, nodeid) ? (int)mq_fh_fd(fh) :
							 -EBADF;
}

struct mq_dir *mq_handle_get_dir(uint64_t fh, uint64_t nodeid)
{
	struct mq_handle_slot *slot = mq_slot_get(fh, MQ_HANDLE_DIR, nodeid);

	/* dir is fixed while the slot is referenced. */
	return slot ? slot->dir : NULL;
}

/*
 * Drop a reference taken by mq_handle_get_*() (or the table's, from
 * mq_handle_release); the last one closes.  @fh must be the one the
 * reference was taken with: anything else is a daemon bug.
 */
void mq_handle_put(uint64_t fh)
{
	struct mq_handle_slot *slot;
	pthread_mutex_t *lock;
	struct mq_dir *dir;
	uint64_t nodeid;
	int kind;

	slot = mq_slot_of(fh, &lock);
	if (!slot) {
		mq_err("fh %#llx: put of a handle that cannot exist",
		       (unsigned long long)fh);
		abort();
	}
	pthread_mutex_lock(lock);
	if (!slot->refs || slot->kind == MQ_HANDLE_NONE ||
	    slot->gen != mq_fh_gen(fh)) {
		pthread_mutex_unlock(lock);
		mq_err("fh %#llx: handle reference underflow",
		       (unsigned long long)fh);
		abort();
	}
	if (--slot->refs) {
		pthread_mutex_unlock(lock);
		return;
	}
	dir = slot->dir;
	kind = slot->kind;
	nodeid = slot->nodeid;
	slot->kind = MQ_HANDLE_NONE;
	slot->closing = false;
	slot->dir = NULL;
	pthread_mutex_unlock(lock);
	mq_rs_handle_gone((int)mq_fh_fd(fh));
	/* The fd is still open here, so no new handle can take the slot. */
	if (dir)
		mq_dir_free(dir);
	close((int)mq_fh_fd(fh));	/* and its flock, if it held one */
	atomic_fetch_sub(&mq_nr_handles, 1);
	if (kind == MQ_HANDLE_FILE)
		mq_locks_file_closed(nodeid);
}

/*
 * RELEASE/RELEASEDIR: no new references from now on; drop the table's.
 * The fd is closed (and dir state freed) when the last user is done.
 */
int mq_handle_release(uint64_t fh, enum mq_handle_kind kind,
		      uint64_t nodeid)
{
	struct mq_handle_slot *slot;
	pthread_mutex_t *lock;

	slot = mq_slot_of(fh, &lock);
	if (!slot)
		return -EBADF;
	pthread_mutex_lock(lock);
	if (slot->kind != (int)kind || slot->closing ||
	    slot->gen != mq_fh_gen(fh) || slot->nodeid != nodeid) {
		pthread_mutex_unlock(lock);
		return -EBADF;
	}
	slot->closing = true;
	pthread_mutex_unlock(lock);
	mq_handle_put(fh);
	return 0;
}

/*
 * The session ends for a new one (vhost.c): every open handle is released
 * as by its RELEASE.  The caller keeps requests out, so the table's
 * reference is the last and each fd closes here.
 */
void mq_handles_release_all(void)
{
	unsigned int i;

	for (i = 0; i < mq_nr_slots; i++) {
		struct mq_handle_slot *slot = &mq_slots[i];
		pthread_mutex_t *lock = mq_slot_lock(i);
		uint64_t fh = 0;

		pthread_mutex_lock(lock);
		if (slot->kind != MQ_HANDLE_NONE && !slot->closing) {
			slot->closing = true;
			fh = mq_fh_make((int)i, slot->gen);
		}
		pthread_mutex_unlock(lock);
		if (fh)
			mq_handle_put(fh);
	}
}

/* What is open as @fh (MQ_HANDLE_NONE: nothing), for tests and the fuzzer. */
enum mq_handle_kind mq_handle_peek(uint64_t fh, uint64_t *nodeid)
{
	enum mq_handle_kind kind = MQ_HANDLE_NONE;
	struct mq_handle_slot *slot;
	pthread_mutex_t *lock;

	slot = mq_slot_of(fh, &lock);
	if (!slot)
		return MQ_HANDLE_NONE;
	pthread_mutex_lock(lock);
	if (!slot->closing && slot->gen == mq_fh_gen(fh) &&
	    slot->kind != MQ_HANDLE_NONE) {
		kind = slot->kind;
		*nodeid = slot->nodeid;
	}
	pthread_mutex_unlock(lock);
	return kind;
}

/* The fh of the open, not released handle on @fd; 0 if there is none. */
uint64_t mq_handle_fh_of_fd(int fd)
{
	uint64_t fh = 0;
	pthread_mutex_t *lock;

	if (fd < 0 || (unsigned int)fd >= mq_nr_slots)
		return 0;
	lock = mq_slot_lock(fd);
	pthread_mutex_lock(lock);
	if (mq_slots[fd].kind != MQ_HANDLE_NONE && !mq_slots[fd].closing)
		fh = mq_fh_make(fd, mq_slots[fd].gen);
	pthread_mutex_unlock(lock);
	return fh;
}

/*
 * Fuzzer only: with no handle left, start every generation again so that
 * each input sees the same fh values.  Stale fhs from before would become
 * valid again, which is why the daemon never calls this.
 */
int mq_handles_reset_generations(void)
{
	unsigned int i;

	if (atomic_load(&mq_nr_handles))
		return -EBUSY;
	for (i = 0; i < mq_nr_slots; i++)
		mq_slots[i].gen = 0;
	return 0;
}

uint64_t mq_handles_count(void)
{
	return atomic_load(&mq_nr_handles);
}

int mq_handle_flags(uint64_t fh)
{
	struct mq_handle_slot *slot;
	pthread_mutex_t *lock;
	int flags = -EBADF;

	slot = mq_slot_of(fh, &lock);
	if (!slot)
		return -EBADF;
	pthread_mutex_lock(lock);
	if (slot->kind == MQ_HANDLE_FILE && !slot->closing &&
	    slot->gen == mq_fh_gen(fh))
		flags = slot->flags;
	pthread_mutex_unlock(lock);
	return flags;
}

/*
 * A successor puts back the handle the kernel knows as @gen << 32 | @fd
 * (the fd was re-opened onto that number by restore.c).
 */
int mq_handle_restore(int fd, enum mq_handle_kind kind, struct mq_dir *dir,
		      uint64_t nodeid, uint32_t gen)
{
	struct mq_handle_slot *slot;
	pthread_mutex_t *lock;

	if (fd < 0 || (unsigned int)fd >= mq_nr_slots || !gen ||
	    kind == MQ_HANDLE_NONE)
		return -EINVAL;
	slot = &mq_slots[fd];
	lock = mq_slot_lock(fd);
	pthread_mutex_lock(lock);
	if (slot->kind != MQ_HANDLE_NONE) {
		pthread_mutex_unlock(lock);
		return -EBUSY;
	}
	slot->gen = gen;
	slot->kind = kind;
	slot->closing = false;
	slot->refs = 1;
	slot->dir = dir;
	slot->nodeid = nodeid;
	slot->flags = fcntl(fd, F_GETFL);	/* a restore, not a request */
	mq_rs_handle_new(fd, kind, nodeid, gen, slot->flags);
	pthread_mutex_unlock(lock);
	atomic_fetch_add(&mq_nr_handles, 1);
	if (kind == MQ_HANDLE_FILE)
		mq_locks_file_opened(nodeid);
	return 0;
}

unsigned int mq_handles_fds(int *fds, unsigned int max)
{
	uint64_t open_handles = atomic_load(&mq_nr_handles);
	unsigned int fd, n = 0;

	/* single-threaded here (start-up): the count says when all are found */
	for (fd = 0; fd < mq_nr_slots && n < open_handles; fd++) {
		pthread_mutex_t *lock = mq_slot_lock(fd);
		bool open;

		pthread_mutex_lock(lock);
		open = mq_slots[fd].kind != MQ_HANDLE_NONE;
		pthread_mutex_unlock(lock);
		if (!open)
			continue;
		if (n < max)
			fds[n] = (int)fd;
		n++;
	}
	return n;
}

unsigned int mq_handles_max(void)
{
	return mq_nr_slots;
}
