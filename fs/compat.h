/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mqfuse: kernel API compatibility (Debian 12's 6.1 and 6.12 lines).
 *
 * By feature probe, not by LINUX_VERSION_CODE: Debian's stable kernels
 * carry backports (6.1.0-57 already has the 6.6 ctime accessors), so a
 * version number does not say which API a kernel has. Each API has one
 * compile test in fs/probes/NAME.c; Kbuild runs them against the target
 * kernel's headers and writes HAVE_NAME into compat_probes.h (as OpenZFS
 * and nvidia-fs do with their configure steps).
 *
 * The code is written against the newer API; where the older kernel lacks
 * it, a shim below provides the new name on top of the old one, so the
 * old kernel's build compiles to what it compiled to before. Removed APIs
 * with no successor are stubbed under their old name with what the newer
 * kernel does instead.
 */
#ifndef _MQFUSE_COMPAT_H
#define _MQFUSE_COMPAT_H

#include "compat_probes.h"

#include <linux/fcntl.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/page-flags.h>
#include <linux/splice.h>
#include <linux/uio.h>
#include <linux/writeback.h>
#ifdef HAVE_LINUX_FILELOCK_H
#include <linux/filelock.h>
#endif

/*
 * Idmapped mounts (6.3): operations take a struct mnt_idmap where they
 * took a struct user_namespace; nop_mnt_idmap is init_user_ns's successor
 * (no idmapping; mqfuse does not set FS_ALLOW_IDMAP).
 */
#ifndef HAVE_MNT_IDMAP
#define mnt_idmap	user_namespace
#define nop_mnt_idmap	init_user_ns
#endif

/*
 * generic_fillattr() gained the statx request mask (6.6), for the change
 * cookie; older kernels ignore it.
 */
#ifndef HAVE_GENERIC_FILLATTR_REQUEST_MASK
#define generic_fillattr(idmap, request_mask, inode, stat) \
	generic_fillattr(idmap, inode, stat)
#endif

/* Inode timestamp accessors (ctime 6.6, atime and mtime 6.7). */
#ifndef HAVE_INODE_GET_CTIME
static inline struct timespec64 inode_get_ctime(const struct inode *inode)
{
	return inode->i_ctime;
}

static inline struct timespec64 inode_set_ctime_to_ts(struct inode *inode,
						      struct timespec64 ts)
{
	inode->i_ctime = ts;
	return ts;
}

static inline struct timespec64 inode_set_ctime(struct inode *inode, time64_t sec, long nsec)
{
	return inode_set_ctime_to_ts(inode, (struct timespec64){ .tv_sec = sec, .tv_nsec = nsec });
}
#endif

#ifndef HAVE_INODE_GET_MTIME
static inline struct timespec64 inode_get_atime(const struct inode *inode)
{
	return inode->i_atime;
}

static inline struct timespec64 inode_set_atime(struct inode *inode, time64_t sec, long nsec)
{
	inode->i_atime.tv_sec = sec;
	inode->i_atime.tv_nsec = nsec;
	return inode->i_atime;
}

static inline struct timespec64 inode_get_mtime(const struct inode *inode)
{
	return inode->i_mtime;
}

static inline struct timespec64 inode_set_mtime(struct inode *inode, time64_t sec, long nsec)
{
	inode->i_mtime.tv_sec = sec;
	inode->i_mtime.tv_nsec = nsec;
	return inode->i_mtime;
}
#endif

/*
 * struct file_lock's common fields moved into struct file_lock_core (6.9).
 * Accessors usable as lvalues; fl_start/fl_end stay in struct file_lock.
 */
#ifdef HAVE_FILE_LOCK_CORE
#define mqfuse_fl_flags(fl)	((fl)->c.flc_flags)
#define mqfuse_fl_type(fl)	((fl)->c.flc_type)
#define mqfuse_fl_owner(fl)	((fl)->c.flc_owner)
#define mqfuse_fl_pid(fl)	((fl)->c.flc_pid)
#else
#define mqfuse_fl_flags(fl)	((fl)->fl_flags)
#define mqfuse_fl_type(fl)	((fl)->fl_type)
#define mqfuse_fl_owner(fl)	((fl)->fl_owner)
#define mqfuse_fl_pid(fl)	((fl)->fl_pid)
#endif

/*
 * ->splice_read through ->read_iter (6.5 name). The old
 * generic_file_splice_read() did the same through a pipe iterator (so
 * page cache pages went into the pipe without a copy); copy_splice_read()
 * reads into freshly allocated pages. filemap_splice_read() would skip
 * ->read_iter, and with it direct I/O in strict mode and the EOF refresh.
 */
#ifndef HAVE_COPY_SPLICE_READ
#define copy_splice_read	generic_file_splice_read
#endif

/*
 * The splice fallback of ->copy_file_range (6.8 name). Both expect the
 * caller (vfs_copy_file_range) to hold file_start_write() on the output,
 * and copy at most MAX_RW_COUNT bytes; the old one ignored its flags.
 */
#ifndef HAVE_SPLICE_COPY_FILE_RANGE
static inline long splice_copy_file_range(struct file *in, loff_t pos_in,
					  struct file *out, loff_t pos_out, size_t len)
{
	return generic_copy_file_range(in, pos_in, out, pos_out, len, 0);
}
#endif

/*
 * write_cache_pages() callbacks take a folio (6.3). mqfuse's page cache
 * holds order-0 folios only (no mapping_set_large_folios()), so a folio is
 * its first page. MQFUSE_WRITEPAGE_T(name, fn) defines a writepage_t
 * 'name' calling int fn(struct page *, struct writeback_control *, void *).
 */
#ifdef HAVE_WRITEPAGE_T_FOLIO
#define MQFUSE_WRITEPAGE_T(name, fn)						\
static int name(struct folio *folio, struct writeback_control *wbc, void *data)	\
{										\
	return fn(&folio->page, wbc, data);					\
}
#else
#define MQFUSE_WRITEPAGE_T(name, fn)						\
static int name(struct page *page, struct writeback_control *wbc, void *data)	\
{										\
	return fn(page, wbc, data);						\
}
#endif

/*
 * PG_error is gone (6.12); nothing read it after writeback, errors travel
 * through mapping_set_error().
 */
#ifndef HAVE_SET_PAGE_ERROR
static inline void SetPageError(struct page *page)
{
}
#endif

/*
 * Pages of a direct I/O buffer. iov_iter_extract_pages() (6.3) pins user
 * memory (FOLL_PIN: fork() then copies a page under I/O instead of
 * sharing it, and the pin is dropped with unpin_user_page()) and only
 * borrows the pages of kernel iterators (bvec), whose owner keeps them
 * for the duration of the I/O. iov_iter_get_pages2() takes a plain page
 * reference for every kind. mqfuse_iter_extract_pages() returns how the
 * pages it took are held; struct mqfuse_io remembers it for the release.
 */
enum mqfuse_page_hold {
	MQFUSE_PAGES_REF,	/* a page reference each: put_page() */
	MQFUSE_PAGES_PIN,	/* FOLL_PIN each: unpin_user_page() */
	MQFUSE_PAGES_BORROWED,	/* nothing taken: the iterator's owner holds them */
	MQFUSE_PAGES_BOUNCE,	/* allocated by mqfuse: __free_page() */
};

#ifdef HAVE_IOV_ITER_EXTRACT_PAGES
static inline ssize_t mqfuse_iter_extract_pages(struct iov_iter *i, struct page **pages,
						size_t maxsize, unsigned int maxpages,
						size_t *offset0, enum mqfuse_page_hold *hold)
{
	*hold = iov_iter_extract_will_pin(i) ? MQFUSE_PAGES_PIN : MQFUSE_PAGES_BORROWED;
	return iov_iter_extract_pages(i, &pages, maxsize, maxpages, 0, offset0);
}
#else
static inline ssize_t mqfuse_iter_extract_pages(struct iov_iter *i, struct page **pages,
						size_t maxsize, unsigned int maxpages,
						size_t *offset0, enum mqfuse_page_hold *hold)
{
	*hold = MQFUSE_PAGES_REF;
	return iov_iter_get_pages2(i, pages, maxsize, maxpages, offset0);
}
#endif

/*
 * Install @file in a new fd of the current task, through
 * security_file_receive() like an fd passed over a socket; the new fd
 * takes its own reference. 6.8 gave receive_fd() the user pointer of
 * receive_fd_user() (NULL: none); before, receive_fd(file, o_flags) was
 * that call with NULL (and the pointer variant is not exported).
 */
static inline int mqfuse_receive_fd(struct file *file, unsigned int o_flags)
{
#ifdef HAVE_RECEIVE_FD_UFD
	return receive_fd(file, NULL, o_flags);
#else
	return receive_fd(file, o_flags);
#endif
}

/* pin_user_pages() lost its vmas argument (6.5). */
#ifdef HAVE_PIN_USER_PAGES_VMAS
#define mqfuse_pin_user_pages(start, nr, flags, pages) \
	pin_user_pages(start, nr, flags, pages, NULL)
#else
#define mqfuse_pin_user_pages(start, nr, flags, pages) \
	pin_user_pages(start, nr, flags, pages)
#endif

/* vm_flags_set() (6.3): before it, vma->vm_flags was written directly. */
#ifndef HAVE_VM_FLAGS_SET
#include <linux/mm.h>
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

#endif /* _MQFUSE_COMPAT_H */
