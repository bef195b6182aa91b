// SPDX-License-Identifier: GPL-2.0
/*
 * Open file/directory handles.  The FUSE fh is the backend fd number; the
 * slot table remembers which fds we handed out and as what, so a stale or
 * bogus fh from the kernel fails with -EBADF instead of operating on (or
 * closing) the device fd or an O_PATH fd of the inode table.
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
#include <stdlib.h>
#include <unistd.h>

#include "mqfused.h"

#define MQ_HANDLE_LOCKS	64

struct mq_handle_slot {
	int kind;			/* enum mq_handle_kind */
	bool closing;			/* released; waiting for the last put */
	unsigned int refs;		/* table's (while open) + users' */
	struct mq_dir *dir;		/* directory state, MQ_HANDLE_DIR */
	uint64_t nodeid;		/* the inode it was opened on */
};

static struct mq_handle_slot *mq_slots;
static unsigned int mq_nr_slots;
static atomic_uint_fast64_t mq_nr_handles;
static pthread_mutex_t mq_handle_locks[MQ_HANDLE_LOCKS];

static pthread_mutex_t *mq_slot_lock(uint64_t fh)
{
	return &mq_handle_locks[fh % MQ_HANDLE_LOCKS];
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
		  uint64_t nodeid)
{
	struct mq_handle_slot *slot;
	pthread_mutex_t *lock;

	if (fd < 0 || (unsigned int)fd >= mq_nr_slots)
		return -EMFILE;
	slot = &mq_slots[fd];
	lock = mq_slot_lock(fd);
	pthread_mutex_lock(lock);
	if (slot->kind != MQ_HANDLE_NONE) {
		/* The fd is open, so its old handle must be gone. */
		pthread_mutex_unlock(lock);
		mq_err("fd %d: handle slot still in use", fd);
		abort();
	}
	slot->kind = kind;
	slot->closing = false;
	slot->refs = 1;
	slot->dir = dir;
	slot->nodeid = nodeid;
	pthread_mutex_unlock(lock);
	atomic_fetch_add(&mq_nr_handles, 1);
	return 0;
}

/* Take a reference on an open handle of @kind; NULL if there is none. */
static struct mq_handle_slot *mq_slot_get(uint64_t fh,
					  enum mq_handle_kind kind,
					  uint64_t nodeid)
{
	struct mq_handle_slot *slot;
	pthread_mutex_t *lock;

	if (fh >= mq_nr_slots)
		return NULL;
	slot = &mq_slots[fh];
	lock = mq_slot_lock(fh);
	pthread_mutex_lock(lock);
	if (slot->kind != (int)kind || slot->closing ||
	    slot->nodeid != nodeid) {
		pthread_mutex_unlock(lock);
		return NULL;
	}
	slot->refs++;
	pthread_mutex_unlock(lock);
	return slot;
}

int mq_handle_get_fd(uint64_t fh, uint64_t nodeid)
{
	return mq_slot_get(fh, MQ_HANDLE_FILE, nodeid) ? (int)fh : -EBADF;
}

struct mq_dir *mq_handle_get_dir(uint64_t fh, uint64_t nodeid)
{
	struct mq_handle_slot *slot = mq_slot_get(fh, MQ_HANDLE_DIR, nodeid);

	/* dir is fixed while the slot is referenced. */
	return slot ? slot->dir : NULL;
}

/* Drop a reference taken by mq_handle_get_*(); the last one closes. */
void mq_handle_put(uint64_t fh)
{
	struct mq_handle_slot *slot = &mq_slots[fh];
	pthread_mutex_t *lock = mq_slot_lock(fh);
	struct mq_dir *dir;

	pthread_mutex_lock(lock);
	if (!slot->refs || slot->kind == MQ_HANDLE_NONE) {
		pthread_mutex_unlock(lock);
		mq_err("fh %llu: handle reference underflow",
		       (unsigned long long)fh);
		abort();
	}
	if (--slot->refs) {
		pthread_mutex_unlock(lock);
		return;
	}
	dir = slot->dir;
	slot->kind = MQ_HANDLE_NONE;
	slot->closing = false;
	slot->dir = NULL;
	pthread_mutex_unlock(lock);
	/* The fd is still open here, so no new handle can take the slot. */
	if (dir)
		mq_dir_free(dir);
	close((int)fh);
	atomic_fetch_sub(&mq_nr_handles, 1);
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

	if (fh >= mq_nr_slots)
		return -EBADF;
	slot = &mq_slots[fh];
	lock = mq_slot_lock(fh);
	pthread_mutex_lock(lock);
	if (slot->kind != (int)kind || slot->closing ||
	    slot->nodeid != nodeid) {
		pthread_mutex_unlock(lock);
		return -EBADF;
	}
	slot->closing = true;
	pthread_mutex_unlock(lock);
	mq_handle_put(fh);
	return 0;
}

/* What is open at @fh (MQ_HANDLE_NONE: nothing), for tests and the fuzzer. */
enum mq_handle_kind mq_handle_peek(uint64_t fh, uint64_t *nodeid)
{
	enum mq_handle_kind kind = MQ_HANDLE_NONE;
	pthread_mutex_t *lock;

	if (fh >= mq_nr_slots)
		return MQ_HANDLE_NONE;
	lock = mq_slot_lock(fh);
	pthread_mutex_lock(lock);
	if (!mq_slots[fh].closing) {
		kind = mq_slots[fh].kind;
		*nodeid = mq_slots[fh].nodeid;
	}
	pthread_mutex_unlock(lock);
	return kind;
}

uint64_t mq_handles_count(void)
{
	return atomic_load(&mq_nr_handles);
}
