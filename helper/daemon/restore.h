/* SPDX-License-Identifier: GPL-2.0 */
/* restore.c: a successor rebuilds its tables from a recovery state. */
#ifndef MQFUSED_RESTORE_H
#define MQFUSED_RESTORE_H

struct mq_rs_image;

struct mq_restore_stats {
	unsigned int inodes;		/* re-opened and back in the table */
	unsigned int stale_inodes;	/* gone from the backing fs (ESTALE) */
	unsigned int handles;		/* re-opened onto their fd numbers */
	unsigned int stale_handles;	/* their object is gone */
};

/*
 * Rebuild the inode table (initialised with the root) and the handles of
 * @img.  *@root_fdp, and each *@movable[i] (fds of ours that a restored
 * handle may need the number of), are moved elsewhere if in the way and
 * updated.  0, or -EUCLEAN with the reason in @err (refuse to serve).
 */
int mq_restore_tables(const struct mq_rs_image *img, int *root_fdp,
		      int *const *movable, unsigned int nr_movable,
		      struct mq_restore_stats *stats, char *err, size_t errlen);

#endif /* MQFUSED_RESTORE_H */
