// SPDX-License-Identifier: GPL-2.0
/*
 * Open file/directory handles.  The FUSE fh is the backend fd number; the
 * slot table remembers which fds we handed out and as what, so a stale or
 * bogus fh from the kernel fails with -EBADF instead of operating on (or
 * closing) the device fd or an O_PATH fd of the inode table.
 *
 * The kernel never issues RELEASE concurrently with I/O on the same fh, so
 * readers of a slot need no lock; slots change with atomic stores only.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "mqfused.h"

struct mq_handle_slot {
	_Atomic int kind;		/* enum mq_handle_kind */
	struct mq_dir *_Atomic dir;	/* directory state, MQ_HANDLE_DIR */
};

static struct mq_handle_slot *mq_slots;
static unsigned int mq_nr_slots;
static atomic_uint_fast64_t mq_nr_handles;

int mq_handles_init(unsigned int max_fds)
{
	mq_slots = calloc(max_fds, sizeof(*mq_slots));
	if (!mq_slots)
		return -ENOMEM;
	mq_nr_slots = max_fds;
	return 0;
}

int mq_handle_add(int fd, enum mq_handle_kind kind, struct mq_dir *dir)
{
	if (fd < 0 || (unsigned int)fd >= mq_nr_slots)
		return -EMFILE;
	atomic_store(&mq_slots[fd].dir, dir);
	atomic_store(&mq_slots[fd].kind, kind);
	atomic_fetch_add(&mq_nr_handles, 1);
	return 0;
}

static struct mq_handle_slot *mq_slot(uint64_t fh, enum mq_handle_kind kind)
{
	if (fh >= mq_nr_slots)
		return NULL;
	if (atomic_load(&mq_slots[fh].kind) != (int)kind)
		return NULL;
	return &mq_slots[fh];
}

int mq_handle_file_fd(uint64_t fh)
{
	return mq_slot(fh, MQ_HANDLE_FILE) ? (int)fh : -EBADF;
}

struct mq_dir *mq_handle_dir(uint64_t fh)
{
	struct mq_handle_slot *slot = mq_slot(fh, MQ_HANDLE_DIR);

	return slot ? atomic_load(&slot->dir) : NULL;
}

/* Forget the slot; the caller closes the fd (and frees dir state). */
int mq_handle_close(uint64_t fh, enum mq_handle_kind kind)
{
	struct mq_handle_slot *slot = mq_slot(fh, kind);
	int expected = kind;

	if (!slot)
		return -EBADF;
	if (!atomic_compare_exchange_strong(&slot->kind, &expected,
					    MQ_HANDLE_NONE))
		return -EBADF;
	atomic_store(&slot->dir, NULL);
	atomic_fetch_sub(&mq_nr_handles, 1);
	return 0;
}

uint64_t mq_handles_count(void)
{
	return atomic_load(&mq_nr_handles);
}
