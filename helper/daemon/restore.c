// SPDX-License-Identifier: GPL-2.0
/*
 * A successor daemon rebuilds the inode table and the open handles from
 * a recovery state (rstate.c) so that every nodeid and fh the kernel
 * holds means what it meant to the daemon that died.
 *
 * Inodes are re-opened by file handle (open_by_handle_at, which needs
 * CAP_DAC_READ_SEARCH and a non-O_PATH fd of the backing filesystem);
 * handles too, and each onto the very fd number its fh names (handles.c
 * encodes the fd in the fh).  Order: move our own fds off the numbers the
 * handles need, hold those numbers with placeholders, open the inodes
 * (they get other numbers), then replace each placeholder by its file.
 *
 * Objects that no longer exist (ESTALE: deleted while the daemon was
 * down, or an unlinked file only the dead daemon kept open) are left out:
 * the kernel then gets ESTALE/EBADF for them, as with any stale handle.
 * An object that opens but is not the one recorded (inode number or type
 * differs), or that lies on another filesystem than the backing
 * directory, or a directory that is not beneath it, means the state is
 * wrong: refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mqfused.h"
#include "restore.h"
#include "rstate.h"

static int mq_restore_cmp(const void *a, const void *b)
{
	const struct mq_rs_record *x = *(const struct mq_rs_record *const *)a;
	const struct mq_rs_record *y = *(const struct mq_rs_record *const *)b;

	return x->nodeid < y->nodeid ? -1 : x->nodeid > y->nodeid;
}

static const struct mq_rs_record *mq_restore_find(struct mq_rs_record **idx,
						  uint32_t n, uint64_t nodeid)
{
	struct mq_rs_record key = { .nodeid = nodeid }, *kp = &key, **hit;

	hit = bsearch(&kp, idx, n, sizeof(*idx), mq_restore_cmp);
	return hit ? *hit : NULL;
}

static int mq_open_by_record(int mount_fd, const struct mq_rs_record *r,
			     int flags)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[MQ_RS_HANDLE_MAX];
	} h;
	int fd;

	h.fh.handle_bytes = r->handle_bytes;
	h.fh.handle_type = r->handle_type;
	memcpy(h.fh.f_handle, r->handle, r->handle_bytes);
	fd = open_by_handle_at(mount_fd, &h.fh, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Is directory @fd beneath (or) the root (@root: its identity)? */
static bool mq_dir_beneath(int fd, const struct stat *root)
{
	struct stat st, up;
	int cur = dup(fd), next, depth;
	bool ok = false;

	if (cur < 0)
		return false;
	for (depth = 0; depth < 4096; depth++) {
		if (fstat(cur, &st))
			break;
		if (st.st_dev == root->st_dev && st.st_ino == root->st_ino) {
			ok = true;
			break;
		}
		next = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (next < 0 || fstat(next, &up) ||
		    (up.st_dev == st.st_dev && up.st_ino == st.st_ino)) {
			if (next >= 0)
				close(next);
			break;	/* reached the filesystem's root */
		}
		close(cur);
		cur = next;
	}
	close(cur);
	return ok;
}

#define MQ_RESTORE_FAIL(...)				\
	do {						\
		snprintf(err, errlen, __VA_ARGS__);	\
		ret = -EUCLEAN;				\
		goto out;				\
	} while (0)

int mq_restore_tables(const struct mq_rs_image *img, int *root_fdp,
		      int *const *movable, unsigned int nr_movable,
		      struct mq_restore_stats *stats, char *err, size_t errlen)
{
	int root_fd = *root_fdp;
	struct mq_rs_record **idx = NULL;
	uint32_t i, n = 0, top = 0;
	struct stat root, st;
	int mount_fd = -1, ret = 0, fd;
	unsigned int m;

	memset(stats, 0, sizeof(*stats));
	err[0] = '\0';
	if (fstat(root_fd, &root))
		return -errno;
	/* open_by_handle_at() wants a real (not O_PATH) fd of the fs. */
	mount_fd = openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mount_fd < 0)
		return -errno;
	idx = malloc(sizeof(*idx) * (img->nr_inodes + 1));
	if (!idx)
		MQ_RESTORE_FAIL("out of memory");
	for (i = 0; i < img->nr_recs; i++) {
		uint32_t kind = atomic_load(&img->recs[i].kind);

		if (kind == MQ_RS_INODE)
			idx[n++] = &img->recs[i];
		else if (kind != MQ_RS_FREE)
			top = i + 1;
	}
	qsort(idx, n, sizeof(*idx), mq_restore_cmp);
	if (top > mq_handles_max())
		MQ_RESTORE_FAIL("handle on fd %u, beyond our fd limit %u", top - 1,
				mq_handles_max());

	/* 1. Our own fds off the handles' numbers, placeholders on them. */
	for (i = 0; i < top; i++) {
		uint32_t kind = atomic_load(&img->recs[i].kind);

		if (kind != MQ_RS_FILE && kind != MQ_RS_DIR)
			continue;
		if ((int)i == *root_fdp) {
			fd = fcntl(i, F_DUPFD_CLOEXEC, top);
			if (fd < 0)
				MQ_RESTORE_FAIL("moving fd %u: %s", i,
						strerror(errno));
			close(i);
			*root_fdp = fd;
			mq_itable_set_root_fd(fd);
		}
		for (m = 0; m < nr_movable; m++) {
			if (*movable[m] != (int)i)
				continue;
			fd = fcntl(i, F_DUPFD_CLOEXEC, top);
			if (fd < 0)
				MQ_RESTORE_FAIL("moving fd %u: %s", i,
						strerror(errno));
			close(i);
			*movable[m] = fd;
		}
		if ((int)i == mount_fd) {
			fd = fcntl(i, F_DUPFD_CLOEXEC, top);
			if (fd < 0)
				MQ_RESTORE_FAIL("moving fd %u: %s", i,
						strerror(errno));
			close(i);
			mount_fd = fd;
		}
		if (fcntl(i, F_GETFD) >= 0)
			MQ_RESTORE_FAIL("fd %u, which a handle needs, is in use", i);
		if (dup3(mount_fd, i, O_CLOEXEC) < 0)
			MQ_RESTORE_FAIL("holding fd %u: %s", i, strerror(errno));
	}

	/* 2. Inodes. */
	for (i = 0; i < n; i++) {
		const struct mq_rs_record *r = idx[i];

		fd = mq_open_by_record(mount_fd, r, O_PATH);
		if (fd == -ESTALE || fd == -ENOENT) {
			stats->stale_inodes++;
			continue;
		}
		if (fd < 0)
			MQ_RESTORE_FAIL("nodeid %llu: open by handle: %s",
					(unsigned long long)r->nodeid,
					strerror(-fd));
		if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)) {
			close(fd);
			MQ_RESTORE_FAIL("nodeid %llu: fstat: %s",
					(unsigned long long)r->nodeid,
					strerror(errno));
		}
		if ((uint64_t)st.st_ino != r->ino ||
		    (st.st_mode & S_IFMT) != r->mode) {
			close(fd);
			MQ_RESTORE_FAIL("nodeid %llu: file handle opens inode %llu, recorded %llu",
					(unsigned long long)r->nodeid,
					(unsigned long long)st.st_ino,
					(unsigned long long)r->ino);
		}
		if (st.st_dev != root.st_dev ||
		    (S_ISDIR(st.st_mode) && !mq_dir_beneath(fd, &root))) {
			close(fd);
			MQ_RESTORE_FAIL("nodeid %llu: outside the backing directory",
					(unsigned long long)r->nodeid);
		}
		ret = mq_inode_restore(fd, &st, r->nodeid,
				       atomic_load(&r->nlookup));
		if (ret)
			MQ_RESTORE_FAIL("nodeid %llu: %s", (unsigned long long)r->nodeid,
					strerror(-ret));
		stats->inodes++;
	}
	mq_itable_set_next_nodeid(img->nodeid_reserved);

	/* 3. Handles, each onto its own number. */
	for (i = 0; i < top; i++) {
		const struct mq_rs_record *r = &img->recs[i];
		uint32_t kind = atomic_load(&r->kind);
		enum mq_handle_kind hk = kind == MQ_RS_DIR ? MQ_HANDLE_DIR :
					 MQ_HANDLE_FILE;
		const struct mq_rs_record *ir;
		struct mq_inode *inode;
		struct mq_dir *dir = NULL;
		int flags = r->mode;

		if (kind != MQ_RS_FILE && kind != MQ_RS_DIR)
			continue;
		if (hk == MQ_HANDLE_DIR)
			flags = O_RDONLY | O_DIRECTORY;
		inode = mq_inode_get(r->nodeid);
		ir = mq_restore_find(idx, n, r->nodeid);
		if (!inode) {
			/* its inode went stale */
			close(i);
			stats->stale_handles++;
			continue;
		}
		if (r->nodeid == FUSE_ROOT_ID)
			fd = openat(*root_fdp, ".", flags | O_CLOEXEC);
		else
			fd = ir ? mq_open_by_record(mount_fd, ir, flags) : -ESTALE;
		mq_inode_put(inode);
		if (fd < 0) {
			close(i);
			stats->stale_handles++;
			continue;
		}
		if (fd != (int)i) {
			if (dup3(fd, i, O_CLOEXEC) < 0) {
				close(fd);
				MQ_RESTORE_FAIL("fd %u: %s", i, strerror(errno));
			}
			close(fd);
		}
		if (hk == MQ_HANDLE_DIR) {
			dir = mq_dir_new(i);
			if (!dir)
				MQ_RESTORE_FAIL("out of memory");
		}
		ret = mq_handle_restore(i, hk, dir, r->nodeid, r->gen);
		if (ret) {
			free(dir);
			MQ_RESTORE_FAIL("handle on fd %u: %s", i, strerror(-ret));
		}
		stats->handles++;
	}
	ret = 0;
out:
	if (ret) {
		/* placeholders of the handles not restored */
		for (i = 0; i < top; i++) {
			uint64_t nodeid;

			if (atomic_load(&img->recs[i].kind) >= MQ_RS_FILE &&
			    mq_handle_peek(((uint64_t)img->recs[i].gen << 32) | i,
					   &nodeid) == MQ_HANDLE_NONE &&
			    (int)i != mount_fd)
				close(i);
		}
	}
	free(idx);
	if (mount_fd >= 0)
		close(mount_fd);
	return ret;
}
