/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tinyfs: a minimal, well-behaved FUSE server for kernel tests that speak
 * the raw protocol: root (1) holding "file" (2, 4096 bytes of 'A'), "dir" (3)
 * and "link" (4 -> "file"). No caching: every TTL is 0, so each path walk
 * reaches the daemon.
 */
#ifndef TINYFS_H
#define TINYFS_H
#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TINYFS_FILE_SIZE	4096
#define INO_ROOT	1
#define INO_FILE	2
#define INO_DIR		3
#define INO_LINK	4
#define TINYFS_BUFSZ	(8 * 1024 * 1024 + 4096)

struct req {
	struct fuse_in_header *h;
	void *arg;		/* after the header */
	size_t len;		/* total bytes read */
};

/*
 * Knobs for tests of the page-cache path; the defaults (all zero) give the
 * behaviour described above. Set before the server forks.
 */
struct tinyfs_cfg {
	bool cache;		/* OPEN without FOPEN_DIRECT_IO: page-cache I/O */
	uint32_t max_write;	/* INIT max_write; 0: 128 KiB */
	uint16_t max_pages;	/* INIT max_pages with FUSE_MAX_PAGES; 0: not offered */
	uint16_t max_background; /* INIT max_background; 0: 16 */
	uint64_t file_size;	/* size of "file"; 0: TINYFS_FILE_SIZE */
	uint32_t init_flags;	/* FUSE_* flags added to INIT's (e.g. FUSE_ATOMIC_O_TRUNC) */
	/*
	 * Called for every reply to the request being served (never for
	 * INIT); may change the error, the body and its length (the body
	 * buffer has room for *blen + 65536 bytes).
	 */
	void (*mutate)(const struct fuse_in_header *in, int *error, char *body,
		       size_t *blen);
};
extern struct tinyfs_cfg tinyfs_cfg;
uint64_t tinyfs_file_size(void);

ssize_t send_raw(int fd, const void *buf, size_t len);
ssize_t reply(int fd, uint64_t unique, int error, const void *body, size_t blen);
void fill_attr(struct fuse_attr *a, uint64_t ino);
void fill_entry(struct fuse_entry_out *e, uint64_t ino);
size_t put_dirent(char *buf, size_t off, size_t max, uint64_t ino,
		  const char *name, uint32_t type, uint64_t doff, bool plus);
/* Answer @r correctly (no reply for FORGET, BATCH_FORGET, INTERRUPT). */
void serve_normal(int fd, struct req *r);

#endif
