// SPDX-License-Identifier: GPL-2.0
/* tinyfs: see tinyfs.h. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "tinyfs.h"

#define BUFSZ TINYFS_BUFSZ

struct tinyfs_cfg tinyfs_cfg;

/* The request serve_normal() is answering (for tinyfs_cfg.mutate). */
static const struct fuse_in_header *tinyfs_cur;

uint64_t tinyfs_file_size(void)
{
	return tinyfs_cfg.file_size ? tinyfs_cfg.file_size : TINYFS_FILE_SIZE;
}

ssize_t send_raw(int fd, const void *buf, size_t len)
{
	ssize_t n = write(fd, buf, len);

	return n < 0 ? -errno : n;
}

/* Reply with header + body; returns the write(2) result (-errno on failure). */
ssize_t reply(int fd, uint64_t unique, int error, const void *body, size_t blen)
{
	static char mbuf[BUFSZ + 65536];
	struct fuse_out_header oh;
	struct iovec iov[2];
	ssize_t n;

	if (tinyfs_cfg.mutate && tinyfs_cur && tinyfs_cur->unique == unique &&
	    tinyfs_cur->opcode != FUSE_INIT && blen <= BUFSZ) {
		if (blen)
			memcpy(mbuf, body, blen);
		tinyfs_cfg.mutate(tinyfs_cur, &error, mbuf, &blen);
		body = mbuf;
	}
	oh = (struct fuse_out_header){
		.len = sizeof(oh) + blen, .error = error, .unique = unique,
	};
	iov[0] = (struct iovec){ &oh, sizeof(oh) };
	iov[1] = (struct iovec){ (void *)body, blen };
	n = writev(fd, iov, blen ? 2 : 1);
	return n < 0 ? -errno : n;
}

void fill_attr(struct fuse_attr *a, uint64_t ino)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->nlink = 1;
	a->blksize = 4096;
	switch (ino) {
	case INO_ROOT:
	case INO_DIR:
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
		a->size = 4096;
		break;
	case INO_FILE:
		a->mode = S_IFREG | 0644;
		a->size = tinyfs_file_size();
		a->blocks = a->size / 512;
		break;
	case INO_LINK:
		a->mode = S_IFLNK | 0777;
		a->size = 4;
		break;
	}
}

void fill_entry(struct fuse_entry_out *e, uint64_t ino)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = ino;
	e->generation = 1;
	fill_attr(&e->attr, ino);	/* entry and attr TTLs stay 0: no caching */
}

static uint64_t name_to_ino(const char *name)
{
	if (!strcmp(name, "file"))
		return INO_FILE;
	if (!strcmp(name, "dir"))
		return INO_DIR;
	if (!strcmp(name, "link"))
		return INO_LINK;
	return 0;
}

size_t put_dirent(char *buf, size_t off, size_t max, uint64_t ino,
			 const char *name, uint32_t type, uint64_t doff, bool plus)
{
	size_t nlen = strlen(name);
	size_t rec = plus ? FUSE_DIRENTPLUS_SIZE(&(struct fuse_direntplus){
					.dirent.namelen = nlen })
			  : FUSE_DIRENT_SIZE(&(struct fuse_dirent){ .namelen = nlen });
	struct fuse_dirent *d;

	if (off + rec > max)
		return 0;
	memset(buf + off, 0, rec);
	if (plus) {
		struct fuse_direntplus *dp = (void *)(buf + off);

		if (strcmp(name, ".") && strcmp(name, ".."))
			fill_entry(&dp->entry_out, ino);
		d = &dp->dirent;
	} else {
		d = (void *)(buf + off);
	}
	d->ino = ino;
	d->off = doff;
	d->namelen = nlen;
	d->type = type;
	memcpy(d->name, name, nlen);
	return rec;
}

static void do_readdir(int fd, struct req *r, bool plus)
{
	static const struct { const char *n; uint64_t ino; uint32_t t; } ents[] = {
		{ ".", INO_ROOT, DT_DIR }, { "..", INO_ROOT, DT_DIR },
		{ "file", INO_FILE, DT_REG }, { "dir", INO_DIR, DT_DIR },
		{ "link", INO_LINK, DT_LNK },
	};
	struct fuse_read_in *in = r->arg;
	static char buf[65536];
	size_t off = 0, max = in->size < sizeof(buf) ? in->size : sizeof(buf);

	if (r->h->nodeid == INO_ROOT) {
		for (uint64_t i = in->offset; i < 5; i++) {
			size_t n = put_dirent(buf, off, max, ents[i].ino, ents[i].n,
					      ents[i].t, i + 1, plus);
			if (!n)
				break;
			off += n;
		}
	}
	reply(fd, r->h->unique, 0, buf, off);
}

/* The well-behaved part of the server. */
void serve_normal(int fd, struct req *r)
{
	struct fuse_in_header *h = r->h;
	union {
		struct fuse_entry_out e;
		struct fuse_attr_out a;
		struct fuse_open_out o;
		struct fuse_statfs_out s;
		struct fuse_write_out w;
		struct fuse_getxattr_out x;
	} u;
	static char data[BUFSZ];

	memset(&u, 0, sizeof(u));
	tinyfs_cur = h;
	switch (h->opcode) {
	case FUSE_INIT: {
		struct fuse_init_in *in = r->arg;
		struct fuse_init_out out = {
			.major = FUSE_KERNEL_VERSION,
			.minor = FUSE_KERNEL_MINOR_VERSION,
			.max_readahead = in->max_readahead,
			.max_write = tinyfs_cfg.max_write ?: 128 * 1024,
			.max_background = tinyfs_cfg.max_background ?: 16,
			.congestion_threshold = 12,
			.flags = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS,
		};
		out.flags |= tinyfs_cfg.init_flags;
		if (tinyfs_cfg.max_pages) {
			out.flags |= FUSE_MAX_PAGES;
			out.max_pages = tinyfs_cfg.max_pages;
		}
		reply(fd, h->unique, 0, &out, sizeof(out));
		break;
	}
	case FUSE_LOOKUP: {
		uint64_t ino = h->nodeid == INO_ROOT ? name_to_ino(r->arg) : 0;

		if (!ino) {
			reply(fd, h->unique, -ENOENT, NULL, 0);
			break;
		}
		fill_entry(&u.e, ino);
		reply(fd, h->unique, 0, &u.e, sizeof(u.e));
		break;
	}
	case FUSE_GETATTR:
		fill_attr(&u.a.attr, h->nodeid);
		reply(fd, h->unique, 0, &u.a, sizeof(u.a));
		break;
	case FUSE_SETATTR:
		fill_attr(&u.a.attr, h->nodeid);
		reply(fd, h->unique, 0, &u.a, sizeof(u.a));
		break;
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		u.o.fh = 7;
		u.o.open_flags = FOPEN_DIRECT_IO * (h->opcode == FUSE_OPEN && !tinyfs_cfg.cache);
		reply(fd, h->unique, 0, &u.o, sizeof(u.o));
		break;
	case FUSE_READ: {
		struct fuse_read_in *in = r->arg;
		size_t n = 0;

		if (in->offset < tinyfs_file_size()) {
			n = tinyfs_file_size() - in->offset;
			if (n > in->size)
				n = in->size;
		}
		memset(data, 'A', n);
		reply(fd, h->unique, 0, data, n);
		break;
	}
	case FUSE_WRITE: {
		struct fuse_write_in *in = r->arg;

		u.w.size = in->size;
		reply(fd, h->unique, 0, &u.w, sizeof(u.w));
		break;
	}
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		do_readdir(fd, r, h->opcode == FUSE_READDIRPLUS);
		break;
	case FUSE_READLINK:
		reply(fd, h->unique, 0, "file", 4);
		break;
	case FUSE_STATFS:
		u.s.st.blocks = 1000;
		u.s.st.bfree = 500;
		u.s.st.bavail = 500;
		u.s.st.files = 10;
		u.s.st.bsize = 4096;
		u.s.st.frsize = 4096;
		u.s.st.namelen = 255;
		reply(fd, h->unique, 0, &u.s, sizeof(u.s));
		break;
	case FUSE_GETXATTR: {
		struct fuse_getxattr_in *in = r->arg;

		if (in->size == 0) {
			u.x.size = 5;
			reply(fd, h->unique, 0, &u.x, sizeof(u.x));
		} else {
			reply(fd, h->unique, 0, "hello", 5);
		}
		break;
	}
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		break;	/* no reply */
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_FLUSH:
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_ACCESS:
	case FUSE_DESTROY:
		reply(fd, h->unique, 0, NULL, 0);
		break;
	default:
		reply(fd, h->unique, -ENOSYS, NULL, 0);
		break;
	}
	tinyfs_cur = NULL;
}

