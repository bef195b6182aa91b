// SPDX-License-Identifier: GPL-2.0
/*
 * badreply: a deliberately misbehaving FUSE daemon.
 *
 *   badreply [-t FSTYPE] [-d DEVICE] SCENARIO|all|list MOUNTPOINT
 *
 * For each scenario it mounts a tiny filesystem (root, "file", "dir",
 * "link"), forks a server that answers one kind of request wrongly (short,
 * long, lying lengths, impossible nodeids or modes, bad errors, bad dirents,
 * unknown uniques, random garbage, dying mid-request...), runs client
 * operations against the mount, and checks the kernel failed them cleanly
 * (the expected errno, the mount still usable or cleanly refusing), that
 * unmount works and nothing hangs. One TAP line per check. The kernel must
 * survive all of it without an oops or a warning; the VM runner checks dmesg.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/aio_abi.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "bdi.h"
#include "tap.h"
#include "tinyfs.h"

#define BUFSZ		TINYFS_BUFSZ
#define FILE_SIZE	TINYFS_FILE_SIZE

static const char *fstype = "fuse";
static const char *devpath = "/dev/fuse";
static const char *mnt;

/* ---- TAP (selftests/common/tap.h) ---- */

#define tap(cond, ...)	tap_ok(cond, __VA_ARGS__)
#define diag(...)	tap_diag(__VA_ARGS__)

/* ---- server side ---- */

struct scenario;
typedef bool (*bad_fn)(int fd, struct req *r);


/* ---- scenarios: the misbehaviours ---- */

static bool is_lookup(struct req *r, const char *name)
{
	return r->h->opcode == FUSE_LOOKUP && !strcmp(r->arg, name);
}

static bool bad_init_major(int fd, struct req *r)
{
	struct fuse_init_out out = { .major = 5, .minor = 99, .max_write = 4096 };

	if (r->h->opcode != FUSE_INIT)
		return false;
	reply(fd, r->h->unique, 0, &out, sizeof(out));
	return true;
}

static bool bad_init_short(int fd, struct req *r)
{
	struct fuse_init_out out = { .major = FUSE_KERNEL_VERSION };

	if (r->h->opcode != FUSE_INIT)
		return false;
	reply(fd, r->h->unique, 0, &out, 4);
	return true;
}

static bool bad_init_limits(int fd, struct req *r)
{
	struct fuse_init_out out = {
		.major = FUSE_KERNEL_VERSION, .minor = FUSE_KERNEL_MINOR_VERSION,
		.max_write = 0, .max_pages = 65535, .max_background = 0,
		.congestion_threshold = 65535, .flags = ~0u, .flags2 = ~0u,
		.time_gran = 3, .map_alignment = 63,
	};

	if (r->h->opcode != FUSE_INIT)
		return false;
	reply(fd, r->h->unique, 0, &out, sizeof(out));
	return true;
}

static bool bad_init_error(int fd, struct req *r)
{
	if (r->h->opcode != FUSE_INIT)
		return false;
	reply(fd, r->h->unique, -EPROTO, NULL, 0);
	return true;
}

static bool bad_lookup_short(int fd, struct req *r)
{
	struct fuse_entry_out e;

	if (!is_lookup(r, "file"))
		return false;
	fill_entry(&e, INO_FILE);
	reply(fd, r->h->unique, 0, &e, sizeof(e) / 2);
	return true;
}

static bool bad_lookup_long(int fd, struct req *r)
{
	char buf[sizeof(struct fuse_entry_out) + 64];

	if (!is_lookup(r, "file"))
		return false;
	memset(buf, 0x5a, sizeof(buf));
	fill_entry((void *)buf, INO_FILE);
	reply(fd, r->h->unique, 0, buf, sizeof(buf));
	return true;
}

static bool bad_lookup_root_nodeid(int fd, struct req *r)
{
	struct fuse_entry_out e;

	if (!is_lookup(r, "file"))
		return false;
	fill_entry(&e, INO_FILE);
	e.nodeid = INO_ROOT;
	reply(fd, r->h->unique, 0, &e, sizeof(e));
	return true;
}

static bool bad_lookup_mode(int fd, struct req *r)
{
	struct fuse_entry_out e;

	if (!is_lookup(r, "file"))
		return false;
	fill_entry(&e, INO_FILE);
	e.attr.mode = 0644;	/* no file type at all */
	reply(fd, r->h->unique, 0, &e, sizeof(e));
	return true;
}

static bool bad_lookup_huge_attrs(int fd, struct req *r)
{
	struct fuse_entry_out e;

	if (!is_lookup(r, "file"))
		return false;
	fill_entry(&e, INO_FILE);
	e.attr.size = ~0ULL;
	e.attr.blocks = ~0ULL;
	e.attr.blksize = 3;
	e.attr.atimensec = 2000000000u;
	e.attr.mtimensec = ~0u;
	e.attr.nlink = ~0u;
	e.entry_valid = ~0ULL;
	e.attr_valid = ~0ULL;
	e.entry_valid_nsec = ~0u;
	reply(fd, r->h->unique, 0, &e, sizeof(e));
	return true;
}

/* First lookup says regular file; every later GETATTR says directory. */
static bool bad_type_change(int fd, struct req *r)
{
	struct fuse_attr_out a;

	if (r->h->opcode != FUSE_GETATTR || r->h->nodeid != INO_FILE)
		return false;
	memset(&a, 0, sizeof(a));
	fill_attr(&a.attr, INO_DIR);
	a.attr.ino = INO_FILE;
	reply(fd, r->h->unique, 0, &a, sizeof(a));
	return true;
}

static bool bad_error_positive(int fd, struct req *r)
{
	if (!is_lookup(r, "file"))
		return false;
	reply(fd, r->h->unique, 5, NULL, 0);
	return true;
}

static bool bad_error_huge(int fd, struct req *r)
{
	if (!is_lookup(r, "file"))
		return false;
	reply(fd, r->h->unique, -5000, NULL, 0);
	return true;
}

static bool bad_error_with_body(int fd, struct req *r)
{
	struct fuse_entry_out e;

	if (!is_lookup(r, "file"))
		return false;
	fill_entry(&e, INO_FILE);
	reply(fd, r->h->unique, -ENOENT, &e, sizeof(e));
	return true;
}

/* A reply for a unique that was never issued, then the right reply. */
static bool bad_unknown_unique(int fd, struct req *r)
{
	struct fuse_entry_out e;
	ssize_t n;

	if (!is_lookup(r, "file"))
		return false;
	fill_entry(&e, INO_FILE);
	n = reply(fd, r->h->unique + 1000001, 0, &e, sizeof(e));
	if (n >= 0)
		fprintf(stderr, "badreply: reply to an unknown unique was accepted\n");
	reply(fd, r->h->unique, 0, &e, sizeof(e));
	return true;
}

/* Header length disagrees with the bytes written, then the right reply. */
static bool bad_len_mismatch(int fd, struct req *r)
{
	char buf[sizeof(struct fuse_out_header) + sizeof(struct fuse_entry_out)];
	struct fuse_out_header *oh = (void *)buf;
	ssize_t n;

	if (!is_lookup(r, "file"))
		return false;
	fill_entry((void *)(oh + 1), INO_FILE);
	oh->unique = r->h->unique;
	oh->error = 0;
	oh->len = sizeof(buf) + 100;
	n = send_raw(fd, buf, sizeof(buf));
	oh->len = sizeof(buf) - 8;
	if (n < 0)
		n = send_raw(fd, buf, sizeof(buf));
	oh->len = 4;
	if (n < 0)
		n = send_raw(fd, buf, sizeof(buf));
	if (n < 0) {
		oh->len = sizeof(buf);
		send_raw(fd, buf, sizeof(buf));
	}
	return true;
}

static bool bad_read_too_long(int fd, struct req *r)
{
	static char data[FILE_SIZE * 4];
	struct fuse_read_in *in = r->arg;

	if (r->h->opcode != FUSE_READ)
		return false;
	memset(data, 'B', sizeof(data));
	reply(fd, r->h->unique, 0, data,
	      in->size + 4096 < sizeof(data) ? in->size + 4096 : sizeof(data));
	return true;
}

static bool bad_write_size(int fd, struct req *r)
{
	struct fuse_write_out w = { 0 };
	struct fuse_write_in *in = r->arg;

	if (r->h->opcode != FUSE_WRITE)
		return false;
	w.size = in->size + 12345;
	reply(fd, r->h->unique, 0, &w, sizeof(w));
	return true;
}

/* Dirent records that lie: filled per variant below. */
enum dirent_lie { LIE_NAMELEN, LIE_SLASH, LIE_ZERO, LIE_NUL, LIE_PLUS_NODEID0,
		  LIE_PLUS_ROOT, LIE_PLUS_MODE, LIE_PLUS_DOTDOT_ENTRY };

static bool bad_dirents(int fd, struct req *r, enum dirent_lie lie)
{
	bool plus = r->h->opcode == FUSE_READDIRPLUS;
	struct fuse_read_in *in = r->arg;
	static char buf[8192];
	struct fuse_dirent *d;
	size_t off = 0, n;

	if (r->h->opcode != FUSE_READDIR && r->h->opcode != FUSE_READDIRPLUS)
		return false;
	if (in->offset) {
		reply(fd, r->h->unique, 0, NULL, 0);	/* end of directory */
		return true;
	}
	memset(buf, 0, sizeof(buf));
	off += put_dirent(buf, off, sizeof(buf), INO_FILE, "file", DT_REG, 1, plus);
	n = put_dirent(buf, off, sizeof(buf), INO_DIR, "xxxx", DT_DIR, 2, plus);
	d = plus ? &((struct fuse_direntplus *)(buf + off))->dirent
		 : (struct fuse_dirent *)(buf + off);
	switch (lie) {
	case LIE_NAMELEN:
		d->namelen = 4000;
		break;
	case LIE_SLASH:
		d->name[1] = '/';
		break;
	case LIE_ZERO:
		d->namelen = 0;
		break;
	case LIE_NUL:
		d->name[2] = '\0';
		break;
	case LIE_PLUS_NODEID0:
		((struct fuse_direntplus *)(buf + off))->entry_out.nodeid = 0;
		break;
	case LIE_PLUS_ROOT:
		((struct fuse_direntplus *)(buf + off))->entry_out.nodeid = INO_ROOT;
		break;
	case LIE_PLUS_MODE:
		((struct fuse_direntplus *)(buf + off))->entry_out.attr.mode = S_IFREG | 0644;
		break;
	case LIE_PLUS_DOTDOT_ENTRY:
		memcpy(d->name, "..", 2);
		d->namelen = 2;
		((struct fuse_direntplus *)(buf + off))->entry_out.nodeid = INO_FILE;
		break;
	}
	off += n;
	reply(fd, r->h->unique, 0, buf, off);
	return true;
}

static bool bad_readdir_namelen(int fd, struct req *r) { return bad_dirents(fd, r, LIE_NAMELEN); }
static bool bad_readdir_slash(int fd, struct req *r) { return bad_dirents(fd, r, LIE_SLASH); }
static bool bad_readdir_zero(int fd, struct req *r) { return bad_dirents(fd, r, LIE_ZERO); }
static bool bad_readdir_nul(int fd, struct req *r) { return bad_dirents(fd, r, LIE_NUL); }
static bool bad_plus_nodeid0(int fd, struct req *r) { return bad_dirents(fd, r, LIE_PLUS_NODEID0); }
static bool bad_plus_root(int fd, struct req *r) { return bad_dirents(fd, r, LIE_PLUS_ROOT); }
static bool bad_plus_mode(int fd, struct req *r) { return bad_dirents(fd, r, LIE_PLUS_MODE); }
static bool bad_plus_dotdot(int fd, struct req *r) { return bad_dirents(fd, r, LIE_PLUS_DOTDOT_ENTRY); }

static bool bad_readdir_overflow(int fd, struct req *r)
{
	struct fuse_read_in *in = r->arg;
	static char buf[256 * 1024];

	if (r->h->opcode != FUSE_READDIR && r->h->opcode != FUSE_READDIRPLUS)
		return false;
	memset(buf, 0, sizeof(buf));
	/* More bytes than the kernel asked for. */
	reply(fd, r->h->unique, 0, buf, in->size + 4096 < sizeof(buf) ? in->size + 4096 : sizeof(buf));
	return true;
}

static bool bad_readlink_long(int fd, struct req *r)
{
	static char target[8192];

	if (r->h->opcode != FUSE_READLINK)
		return false;
	memset(target, 'x', sizeof(target));
	if (reply(fd, r->h->unique, 0, target, sizeof(target)) < 0)
		reply(fd, r->h->unique, 0, target, 4096);
	return true;
}

static bool bad_readlink_nul(int fd, struct req *r)
{
	if (r->h->opcode != FUSE_READLINK)
		return false;
	reply(fd, r->h->unique, 0, "fi\0le", 5);
	return true;
}

static bool bad_readlink_empty(int fd, struct req *r)
{
	if (r->h->opcode != FUSE_READLINK)
		return false;
	reply(fd, r->h->unique, 0, NULL, 0);
	return true;
}

static bool bad_xattr_size(int fd, struct req *r)
{
	struct fuse_getxattr_in *in = r->arg;
	static char big[8192];

	if (r->h->opcode != FUSE_GETXATTR)
		return false;
	memset(big, 'v', sizeof(big));
	if (in->size == 0) {
		struct fuse_getxattr_out x = { .size = 5 };

		reply(fd, r->h->unique, 0, &x, sizeof(x));
	} else if (reply(fd, r->h->unique, 0, big, in->size + 100) < 0) {
		reply(fd, r->h->unique, 0, big, in->size);
	}
	return true;
}

static bool bad_statfs_short(int fd, struct req *r)
{
	struct fuse_statfs_out s = { 0 };

	if (r->h->opcode != FUSE_STATFS)
		return false;
	reply(fd, r->h->unique, 0, &s, 12);
	return true;
}

static bool bad_getattr_short(int fd, struct req *r)
{
	struct fuse_attr_out a;

	if (r->h->opcode != FUSE_GETATTR || r->h->nodeid != INO_FILE)
		return false;
	memset(&a, 0, sizeof(a));
	fill_attr(&a.attr, INO_FILE);
	reply(fd, r->h->unique, 0, &a, sizeof(a) - 20);
	return true;
}

static bool bad_open_error_range(int fd, struct req *r)
{
	if (r->h->opcode != FUSE_OPEN)
		return false;
	reply(fd, r->h->unique, -4096, NULL, 0);
	return true;
}

/* Random garbage: headers with random lengths/uniques/errors and bodies. */
static bool bad_garbage(int fd, struct req *r)
{
	static char buf[70000];
	unsigned int i, k;

	srand(r->h->unique * 2654435761u);
	for (i = 0; i < 16; i++) {
		struct fuse_out_header *oh = (void *)buf;
		size_t len = rand() % sizeof(buf);

		for (k = 0; k < len; k++)
			buf[k] = rand();
		if (len >= sizeof(*oh)) {
			switch (rand() % 4) {
			case 0:
				oh->unique = r->h->unique;
				oh->len = len;
				break;
			case 1:
				oh->unique = 0;	/* a notification */
				oh->error = rand() % 10;
				oh->len = len;
				break;
			case 2:
				oh->len = len;
				break;
			default:
				break;
			}
		}
		send_raw(fd, buf, len);
	}
	/* Half the time also answer properly (if the request is still there). */
	return rand() % 2;
}

static bool bad_notify(int fd, struct req *r)
{
	static char buf[8192];
	struct fuse_out_header *oh = (void *)buf;
	int code;

	for (code = -2; code <= FUSE_NOTIFY_CODE_MAX + 2; code++) {
		size_t lens[] = { sizeof(*oh), sizeof(*oh) + 8, sizeof(*oh) + 16,
				  sizeof(*oh) + 40, sizeof(buf) };

		for (unsigned int i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			memset(buf, 0xff, sizeof(buf));
			if (i == 2) {
				/* inval_entry/delete with a name length past the end */
				struct fuse_notify_inval_entry_out *e = (void *)(oh + 1);

				e->parent = INO_ROOT;
				e->namelen = 60000;
			}
			if (i == 3) {
				struct fuse_notify_inval_inode_out *e = (void *)(oh + 1);

				e->ino = INO_FILE;
				e->off = -1;
				e->len = -5;
			}
			oh->unique = 0;
			oh->error = code;
			oh->len = lens[i];
			send_raw(fd, buf, lens[i]);
		}
	}
	(void)r;
	return false;
}

/* ---- state shared by the client and the server (MAP_SHARED) ---- */

#define ERR_SHORT_BODY	0x40000000	/* "error 0 with a short body" */
#define MAX_HELD	1024

struct shared {
	volatile int armed;		/* errno_classes: answer with err */
	volatile int err;		/* error to answer with, or ERR_SHORT_BODY */
	volatile int clone_ret;		/* ioctl_clone: 0 or errno of FUSE_DEV_IOC_CLONE */
	volatile int held;		/* requests the server holds now */
	volatile int peak_held;		/* most held at once */
	volatile int release;		/* client asks the server to answer what it holds */
	volatile int notify_ret;	/* notify_inval: result of the notification write */
	volatile int notify_sent;	/* notify_inval: notifications sent */
	volatile uint64_t held_unique;	/* interrupt: unique of the held request */
	volatile uint64_t intr_unique;	/* interrupt: unique named by FUSE_INTERRUPT */
	volatile int late_sent;		/* late_reply: late replies written */
	volatile int late_ret;		/* late_reply: result of the last late reply */
	volatile int die;		/* server must exit now */
	volatile int race_reads;	/* race: READs answered by the second process */
	volatile int aborting;		/* abort_signal: the session abort is being written */
	volatile int notify_ret2;	/* notify_entry: result of the second notification */
	volatile uint64_t file_size;	/* shrink: size of "file" the server reports, 0: default */
	volatile int write_past_eof;	/* shrink: WRITEs at or past that size */
	volatile int otrunc_opens;	/* otrunc: OPENs with O_TRUNC seen */
	volatile int otrunc_overtook;	/* otrunc: an O_TRUNC OPEN came while a WRITE was held */
	volatile int write_after_otrunc; /* otrunc: WRITEs after an O_TRUNC OPEN */
	volatile int copy_held;		/* copy: COPY_FILE_RANGE held */
	volatile int copied;		/* copy: answered; READs of [0, 4096) give 'C' */
	volatile int stale_write;	/* copy: a later WRITE put pre-copy bytes in the range */
	volatile int stored;		/* copy: the client's mmap store is done */
	volatile int store_exit;	/* copy: the storing client may exit */
	volatile int setattr_size0;	/* otrunc_no_open: SETATTRs of size 0 on "file" */
	volatile int open_enosys;	/* otrunc_no_open: OPENs answered ENOSYS */
	volatile int worker_blocked;	/* notify_ancestor: the iput worker waits for held READs */
	volatile int otrunc_failed;	/* otrunc_eio: OPEN(O_TRUNC) answered EIO, "file" is empty */
	volatile uint64_t lk_holder;	/* flock: owner of the daemon's exclusive flock, 0: none */
	volatile uint64_t lk_owner1;	/* flock: owner of the first lock granted */
	volatile uint64_t lk_fh1;	/* flock: handle the first lock was taken on */
	volatile int lk_seq;		/* flock: requests seen, numbers the ones below */
	volatile int lk_unlock_seq;	/* flock: first SETLK F_UNLCK FLOCK of lk_owner1 */
	volatile int lk_release_seq;	/* flock: RELEASE of lk_fh1 (held) */
	volatile int lk_release_unlocks; /* flock: that RELEASE asks to unlock lk_owner1 */
	volatile int lk_refused;	/* flock: SETLKs refused for a conflict */
	volatile int adio_die_at;	/* adio_*: the server exits once it holds this many */
	volatile int adio_submitted;	/* adio_nowait: io_uring_submit() returned */
	volatile int adio_unlock_silent; /* adio_kthread_release: SETLK unlocks never answered */
	volatile int adio_unlocks_dropped; /* adio_kthread_release: SETLK unlocks left unanswered */
	volatile int adio_releases;	/* adio_kthread_release: RELEASEs of "file" seen */
	volatile int adio_eagains;	/* adio_eagain: READs answered EAGAIN */
	volatile int wbe_seen;		/* wb_evict: the writeback WRITE was read */
	volatile int wbe_replying;	/* wb_evict: its reply is being written */
	volatile uint64_t wbe_reply0;	/* wb_evict: reply written from (ns) ... */
	volatile uint64_t wbe_reply1;	/* ... to (ns) */
	volatile int wbe_reply_ret;	/* wb_evict: result of that reply */
	volatile uint64_t wbe_forget;	/* wb_evict: FORGET of "file" read at (ns), 0: none */
	volatile int wbe_forget_in_reply; /* wb_evict: that reply still slept then */
	volatile int wbe_slept0;	/* wb_evict: mq_kdelay's "slept" before that reply */
	volatile int wbe_lookups;	/* wb_evict: LOOKUPs of new names answered */
	volatile int wbe_getattrs;	/* wb_evict: GETATTRs of those (new) nodes */
	volatile uint64_t wbe_drop0;	/* wb_evict: first drop_caches at (ns) */
	volatile int wbe_drops;		/* wb_evict: drop_caches written */
	volatile int wbe_go;		/* wb_evict: 1: evict now, -1: give up */
	volatile uint32_t ab_opcode;	/* abandoned_*: the opcode held while armed */
	volatile uint32_t mk_mode[3];	/* create_mode_*: mode of CREATE, MKDIR, MKNOD */
	volatile uint32_t mk_umask[3];	/* create_mode_*: umask sent beside it */
	volatile int mk_seen;		/* create_mode_*: bit i: mk_mode[i] was filled */
	volatile int nev;		/* abandoned_*: entries of ev[] written */
	struct ab_event {		/* abandoned_*: what the server saw, in order */
		uint32_t opcode;	/* FUSE_RELEASE(DIR), FUSE_FORGET or AB_EV_ANSWER */
		int32_t ret;		/* AB_EV_ANSWER: result of the late reply's write */
		uint64_t nodeid;	/* node of the RELEASE or FORGET */
		uint64_t val;		/* RELEASE: fh; FORGET: nlookup */
	} ev[512];
};
static struct shared *shm;

/* A request the server answers later: header and the start of its argument. */
struct held_req {
	struct fuse_in_header h;
	char arg[256];
};
static struct held_req held[MAX_HELD];
static int nheld;

static void hold(struct req *r)
{
	struct held_req *hr = &held[nheld++];
	size_t n = r->len - sizeof(*r->h);

	hr->h = *r->h;
	memcpy(hr->arg, r->arg, n < sizeof(hr->arg) ? n : sizeof(hr->arg));
	shm->held = nheld;
	if (nheld > shm->peak_held)
		shm->peak_held = nheld;
}

static void answer_held(int fd)
{
	int i;

	for (i = 0; i < nheld; i++) {
		struct req r = { .h = &held[i].h, .arg = held[i].arg,
				 .len = sizeof(held[i].h) + sizeof(held[i].arg) };

		serve_normal(fd, &r);
	}
	nheld = 0;
	shm->held = 0;
}

/* Answers READ (any) and GETATTR of "file" with shm->err while armed. */
static bool bad_errno_table(int fd, struct req *r)
{
	struct fuse_in_header *h = r->h;
	static char data[8192];

	if (!shm->armed)
		return false;
	if (h->opcode != FUSE_READ && !(h->opcode == FUSE_GETATTR && h->nodeid == INO_FILE))
		return false;
	if (shm->err != ERR_SHORT_BODY) {
		reply(fd, h->unique, shm->err, NULL, 0);
		return true;
	}
	if (h->opcode == FUSE_READ) {
		memset(data, 'A', 100);
		reply(fd, h->unique, 0, data, 100);	/* a short read: EOF at 100 */
	} else {
		struct fuse_attr_out a = { 0 };

		fill_attr(&a.attr, INO_FILE);
		reply(fd, h->unique, 0, &a, sizeof(a) - 8);
	}
	return true;
}

/* READ replies carry half of what was asked (at least one byte). */
static bool bad_short_read(int fd, struct req *r)
{
	struct fuse_read_in *in = r->arg;
	static char data[BUFSZ];
	size_t n;

	if (r->h->opcode != FUSE_READ)
		return false;
	n = in->size / 2 ? in->size / 2 : 1;
	if (in->offset + n > tinyfs_file_size())
		n = in->offset < tinyfs_file_size() ? tinyfs_file_size() - in->offset : 0;
	memset(data, 'A', n);
	reply(fd, r->h->unique, 0, data, n);
	return true;
}

/* WRITE replies say half of the bytes were written. */
static bool bad_short_write(int fd, struct req *r)
{
	struct fuse_write_in *in = r->arg;
	struct fuse_write_out w = { .size = in->size / 2 };

	if (r->h->opcode != FUSE_WRITE)
		return false;
	reply(fd, r->h->unique, 0, &w, sizeof(w));
	return true;
}

/* While armed: holds every READ (and GETATTR of "file" if shm->err) until released. */
static bool bad_hold_reads(int fd, struct req *r)
{
	(void)fd;
	if (!shm->armed)
		return false;
	if (r->h->opcode != FUSE_READ &&
	    !(r->h->opcode == FUSE_GETATTR && r->h->nodeid == INO_FILE && shm->err))
		return false;
	hold(r);
	return true;
}

/* Idle hook: answer the held requests once the client asks (late replies). */
static void idle_late_reply(int fd)
{
	int i;

	if (!shm->release || !nheld)
		return;
	for (i = 0; i < nheld; i++) {
		struct req rr = { .h = &held[i].h, .arg = held[i].arg,
				  .len = sizeof(held[i].h) + sizeof(held[i].arg) };
		struct fuse_in_header *h = rr.h;

		if (h->opcode == FUSE_READ) {
			struct fuse_read_in *in = rr.arg;
			static char data[BUFSZ];
			size_t n = in->size < 65536 ? in->size : 65536;

			memset(data, 'L', n);
			shm->late_ret = reply(fd, h->unique, 0, data, n);
		} else {
			serve_normal(fd, &rr);
			shm->late_ret = 0;
		}
		shm->late_sent++;
	}
	nheld = 0;
	shm->held = 0;
	shm->release = 0;
}

/* INTERRUPT: hold GETATTR of "file"; answer it -EINTR once interrupted. */
static bool bad_interrupt(int fd, struct req *r)
{
	if (r->h->opcode == FUSE_INTERRUPT) {
		struct fuse_interrupt_in *in = r->arg;
		int i;

		shm->intr_unique = in->unique;
		for (i = 0; i < nheld; i++)
			if (held[i].h.unique == in->unique)
				reply(fd, in->unique, -EINTR, NULL, 0);
		nheld = 0;
		shm->held = 0;
		return true;
	}
	if (!shm->armed || r->h->nodeid != INO_FILE ||
	    (r->h->opcode != FUSE_GETATTR && r->h->opcode != FUSE_READ))
		return false;
	shm->held_unique = r->h->unique;
	hold(r);
	return true;
}

/* Background limit: hold every WRITE; answer them all once idle. */
static bool bad_hold_writes(int fd, struct req *r)
{
	(void)fd;
	if (r->h->opcode != FUSE_WRITE)
		return false;
	hold(r);
	return true;
}

static void idle_answer_held(int fd)
{
	if (shm->release)
		answer_held(fd);
}

/* From the only server thread: NOTIFY_INVAL_INODE on "file", then answer the WRITE. */
static bool bad_notify_before_write(int fd, struct req *r)
{
	struct {
		struct fuse_out_header oh;
		struct fuse_notify_inval_inode_out in;
	} msg = {
		.oh = { .len = sizeof(msg), .error = FUSE_NOTIFY_INVAL_INODE },
		.in = { .ino = INO_FILE, .off = 0, .len = 0 },
	};

	if (r->h->opcode != FUSE_WRITE)
		return false;
	shm->notify_ret = send_raw(fd, &msg, sizeof(msg));
	shm->notify_sent++;
	return false;	/* then the normal answer */
}

/*
 * Eviction waiting for this, the only, server thread: READs (readahead,
 * pages locked) are held, UNLINK succeeds; once the client asks, send
 * NOTIFY_INVAL_INODE for "file" (being evicted), then answer the READs.
 */
static bool bad_hold_reads_unlink(int fd, struct req *r)
{
	if (r->h->opcode == FUSE_UNLINK) {
		reply(fd, r->h->unique, 0, NULL, 0);
		return true;
	}
	if (!shm->armed || r->h->opcode != FUSE_READ)
		return false;
	hold(r);
	return true;
}

static void idle_notify_then_answer(int fd)
{
	struct {
		struct fuse_out_header oh;
		struct fuse_notify_inval_inode_out in;
	} msg = {
		.oh = { .len = sizeof(msg), .error = FUSE_NOTIFY_INVAL_INODE },
		.in = { .ino = INO_FILE, .off = 0, .len = 0 },
	};

	if (!shm->release)
		return;
	shm->release = 0;
	shm->notify_ret = send_raw(fd, &msg, sizeof(msg));
	shm->notify_sent++;
	answer_held(fd);
}

/* Send NOTIFY_INVAL_ENTRY or NOTIFY_DELETE (@child != 0) for @name in @parent. */
static ssize_t notify_entry_in(int fd, uint64_t parent, uint64_t child, const char *name)
{
	struct {
		struct fuse_out_header oh;
		union {
			struct fuse_notify_inval_entry_out e;
			struct fuse_notify_delete_out d;
		};
		char name[64];
	} msg;
	size_t hdr = child ? sizeof(msg.d) : sizeof(msg.e);
	size_t nlen = strlen(name);
	char *p = (char *)&msg.oh + sizeof(msg.oh) + hdr;

	memset(&msg, 0, sizeof(msg));
	msg.oh.len = sizeof(msg.oh) + hdr + nlen + 1;
	msg.oh.error = child ? FUSE_NOTIFY_DELETE : FUSE_NOTIFY_INVAL_ENTRY;
	if (child) {
		msg.d.parent = parent;
		msg.d.child = child;
		msg.d.namelen = nlen;
	} else {
		msg.e.parent = parent;
		msg.e.namelen = nlen;
	}
	memcpy(p, name, nlen + 1);
	return send_raw(fd, &msg, msg.oh.len);
}

/* The same for @name in the root. */
static ssize_t notify_entry(int fd, uint64_t child, const char *name)
{
	return notify_entry_in(fd, INO_ROOT, child, name);
}

/* Send NOTIFY_INVAL_INODE for all of @ino's data. */
static ssize_t notify_inval_inode(int fd, uint64_t ino)
{
	struct {
		struct fuse_out_header oh;
		struct fuse_notify_inval_inode_out in;
	} msg = {
		.oh = { .len = sizeof(msg), .error = FUSE_NOTIFY_INVAL_INODE },
		.in = { .ino = ino, .off = 0, .len = 0 },
	};

	return send_raw(fd, &msg, sizeof(msg));
}

/*
 * MKDIR in the root: the client holds the root's inode lock and waits for
 * this, the only, server thread, which first sends NOTIFY_INVAL_ENTRY for
 * the new name and NOTIFY_DELETE for "dir" in that very directory.
 */
static bool bad_notify_entry_in_mkdir(int fd, struct req *r)
{
	if (r->h->opcode != FUSE_MKDIR || r->h->nodeid != INO_ROOT)
		return false;
	shm->notify_ret = notify_entry(fd, 0, "newdir");
	shm->notify_ret2 = notify_entry(fd, INO_DIR, "dir");
	shm->notify_sent++;
	reply(fd, r->h->unique, -EEXIST, NULL, 0);
	return true;
}

/*
 * create_mode_*: record the mode and umask of CREATE, MKDIR and MKNOD in
 * the root and refuse them (EDQUOT), so nothing is created.
 */
static bool bad_record_create_mode(int fd, struct req *r)
{
	const struct fuse_create_in *c = r->arg;
	const struct fuse_mkdir_in *d = r->arg;
	const struct fuse_mknod_in *n = r->arg;
	uint32_t mode, umask_bits;
	int i;

	if (r->h->nodeid != INO_ROOT)
		return false;
	switch (r->h->opcode) {
	case FUSE_CREATE: i = 0; mode = c->mode; umask_bits = c->umask; break;
	case FUSE_MKDIR:  i = 1; mode = d->mode; umask_bits = d->umask; break;
	case FUSE_MKNOD:  i = 2; mode = n->mode; umask_bits = n->umask; break;
	default:
		return false;
	}
	shm->mk_mode[i] = mode;
	shm->mk_umask[i] = umask_bits;
	__sync_fetch_and_or(&shm->mk_seen, 1 << i);
	reply(fd, r->h->unique, -EDQUOT, NULL, 0);
	return true;
}

/* Another client truncated "file" to shm->file_size: report that size. */
static bool bad_shrunk_file(int fd, struct req *r)
{
	(void)fd;
	if (shm->file_size) {
		tinyfs_cfg.file_size = shm->file_size;
		if (r->h->opcode == FUSE_WRITE &&
		    ((struct fuse_write_in *)r->arg)->offset >= shm->file_size)
			shm->write_past_eof++;
	}
	return false;
}

/*
 * Another client shrank "file" to shm->file_size (100): reported from then
 * on; a SETATTR size extends it with zeros, which later READs return.
 */
static bool bad_shrink_extend(int fd, struct req *r)
{
	static char data[BUFSZ];

	if (!shm->file_size)
		return false;
	tinyfs_cfg.file_size = shm->file_size;
	if (r->h->opcode == FUSE_SETATTR && r->h->nodeid == INO_FILE &&
	    (((struct fuse_setattr_in *)r->arg)->valid & FATTR_SIZE)) {
		shm->file_size = ((struct fuse_setattr_in *)r->arg)->size;
		tinyfs_cfg.file_size = shm->file_size;
		return false;	/* answered with the new size */
	}
	if (r->h->opcode == FUSE_READ) {
		struct fuse_read_in *in = r->arg;
		size_t n = 0;

		if (in->offset < tinyfs_file_size())
			n = tinyfs_file_size() - in->offset;
		if (n > in->size)
			n = in->size;
		for (size_t i = 0; i < n; i++)
			data[i] = in->offset + i < 100 ? 'A' : 0;
		reply(fd, r->h->unique, 0, data, n);
		return true;
	}
	return false;
}

/* O_TRUNC OPEN vs writeback: hold WRITEs while armed, note the order. */
static bool bad_otrunc_order(int fd, struct req *r)
{
	(void)fd;
	if (r->h->opcode == FUSE_OPEN && (((struct fuse_open_in *)r->arg)->flags & O_TRUNC)) {
		shm->otrunc_opens++;
		if (nheld)
			shm->otrunc_overtook++;
		return false;
	}
	if (r->h->opcode != FUSE_WRITE)
		return false;
	if (shm->otrunc_opens)
		shm->write_after_otrunc++;
	if (!shm->armed)
		return false;
	hold(r);
	return true;
}

/*
 * atomic_o_trunc without OPEN (answered ENOSYS: stateless opens): an
 * open(O_TRUNC) sends no OPEN, so it must send SETATTR size 0.
 */
static bool bad_otrunc_no_open(int fd, struct req *r)
{
	if (r->h->opcode == FUSE_OPEN) {
		shm->open_enosys++;
		reply(fd, r->h->unique, -ENOSYS, NULL, 0);
		return true;
	}
	if (r->h->opcode == FUSE_SETATTR && r->h->nodeid == INO_FILE) {
		struct fuse_setattr_in *in = r->arg;
		struct fuse_attr_out a = { 0 };

		if (!(in->valid & FATTR_SIZE))
			return false;
		if (!in->size)
			shm->setattr_size0++;
		fill_attr(&a.attr, INO_FILE);
		a.attr.size = in->size;
		a.attr.blocks = 0;
		reply(fd, r->h->unique, 0, &a, sizeof(a));
		return true;
	}
	return false;
}

/*
 * OPEN(O_TRUNC) fails after the daemon truncated: "file" (8192 bytes,
 * entry and attributes valid for 60 s) answers the first OPEN with O_TRUNC
 * with EIO and is empty from then on (size 0, no data). With
 * otrunc_refill, another client wrote it again at once: the same size and
 * times (within their granularity), but 'B's.
 */
static bool otrunc_refill;	/* set in setup */

static bool bad_otrunc_eio(int fd, struct req *r)
{
	uint64_t size = shm->otrunc_failed && !otrunc_refill ? 0 : tinyfs_file_size();
	uint32_t op = r->h->opcode;

	if (op == FUSE_OPEN && (((struct fuse_open_in *)r->arg)->flags & O_TRUNC)) {
		shm->otrunc_opens++;
		shm->otrunc_failed = 1;
		reply(fd, r->h->unique, -EIO, NULL, 0);
		return true;
	}
	if (is_lookup(r, "file")) {
		struct fuse_entry_out e;

		fill_entry(&e, INO_FILE);
		e.entry_valid = e.attr_valid = 60;
		e.attr.size = size;
		e.attr.blocks = size / 512;
		reply(fd, r->h->unique, 0, &e, sizeof(e));
		return true;
	}
	if (op == FUSE_GETATTR && r->h->nodeid == INO_FILE) {
		struct fuse_attr_out a = { .attr_valid = 60 };

		fill_attr(&a.attr, INO_FILE);
		a.attr.size = size;
		a.attr.blocks = size / 512;
		reply(fd, r->h->unique, 0, &a, sizeof(a));
		return true;
	}
	if (op == FUSE_READ && shm->otrunc_failed) {
		struct fuse_read_in *in = r->arg;
		static char data[BUFSZ];
		size_t n = 0;

		if (in->offset < size)
			n = size - in->offset < in->size ? size - in->offset : in->size;
		memset(data, 'B', n);
		reply(fd, r->h->unique, 0, data, n);
		return true;
	}
	return false;
}

/*
 * copy_file_range into "file" [0, 4096): held while armed, answered once
 * the client asks; the range then reads 'C', and a WRITE putting 'A'
 * (the bytes before the copy) in it but at the client's store (offset
 * 100) overwrote copied bytes with a stale page.
 */
static bool bad_copy_race(int fd, struct req *r)
{
	static char data[BUFSZ];

	if (r->h->opcode == FUSE_COPY_FILE_RANGE && shm->armed) {
		hold(r);
		shm->copy_held = 1;
		return true;
	}
	if (r->h->opcode == FUSE_READ && shm->copied) {
		struct fuse_read_in *in = r->arg;
		size_t n = 0;

		if (in->offset < tinyfs_file_size())
			n = tinyfs_file_size() - in->offset;
		if (n > in->size)
			n = in->size;
		for (size_t i = 0; i < n; i++)
			data[i] = in->offset + i < 4096 ? 'C' : 'A';
		reply(fd, r->h->unique, 0, data, n);
		return true;
	}
	if (r->h->opcode == FUSE_WRITE && shm->copied) {
		struct fuse_write_in *in = r->arg;
		const char *d = (const char *)(in + 1);

		for (uint64_t i = 0; i < in->size; i++) {
			uint64_t off = in->offset + i;

			if (off < 4096 && off != 100 && d[i] == 'A')
				shm->stale_write = 1;
		}
	}
	return false;
}

static void idle_answer_copy(int fd)
{
	int i;

	if (!shm->release || !nheld)
		return;
	for (i = 0; i < nheld; i++) {
		struct fuse_copy_file_range_in *in = (void *)held[i].arg;
		struct fuse_write_out w = { .size = in->len };

		shm->copied = 1;
		reply(fd, held[i].h.unique, 0, &w, sizeof(w));
	}
	nheld = 0;
	shm->held = 0;
	shm->release = 0;
}

/*
 * abandoned_*: the waiter of an OPEN, OPENDIR, CREATE or READDIRPLUS is
 * SIGKILLed while the server holds the request; the server then answers it
 * successfully. The kernel must give back what that answer created: a
 * RELEASE(DIR) of the handle (before any FORGET of its node) and a FORGET
 * for every lookup the answer counted. The server logs every RELEASE and
 * FORGET it sees, and the moment it answered, in shm->ev.
 */
#define AB_EV_ANSWER	0		/* ev[].opcode: the held request was answered */
#define AB_FH_BASE	0xab0000	/* fh of an abandoned open: AB_FH_BASE + opcode */
#define AB_NODE_NEW	10		/* node the late CREATE answer makes */

static void ab_log(uint32_t opcode, uint64_t nodeid, uint64_t val, int ret)
{
	int i = shm->nev;

	if (i >= (int)(sizeof(shm->ev) / sizeof(shm->ev[0])))
		return;
	shm->ev[i] = (struct ab_event){ .opcode = opcode, .nodeid = nodeid, .val = val,
					.ret = ret };
	__atomic_store_n(&shm->nev, i + 1, __ATOMIC_RELEASE);
}

/* Log a FORGET or each node of a BATCH_FORGET in shm->ev; false for other requests. */
static bool log_forget(struct req *r)
{
	uint32_t op = r->h->opcode;

	if (op == FUSE_FORGET) {
		ab_log(op, r->h->nodeid, ((struct fuse_forget_in *)r->arg)->nlookup, 0);
	} else if (op == FUSE_BATCH_FORGET) {
		struct fuse_batch_forget_in *b = r->arg;
		struct fuse_forget_one *one = (void *)(b + 1);
		uint32_t i;

		for (i = 0; i < b->count && (char *)(one + i + 1) <= (char *)r->h + r->len; i++)
			ab_log(FUSE_FORGET, one[i].nodeid, one[i].nlookup, 0);
	} else {
		return false;
	}
	return true;
}

static bool bad_abandon(int fd, struct req *r)
{
	uint32_t op = r->h->opcode;

	(void)fd;
	if (op == FUSE_RELEASE || op == FUSE_RELEASEDIR) {
		ab_log(op, r->h->nodeid, ((struct fuse_release_in *)r->arg)->fh, 0);
	} else if (log_forget(r)) {
		;
	} else if (shm->armed && op == shm->ab_opcode) {
		shm->held_unique = r->h->unique;
		hold(r);
		return true;
	}
	return false;	/* RELEASE answered, FORGET not, the rest served normally */
}

/*
 * A READDIRPLUS answer whose counted lookups are file, dir and link, one
 * each. Not counted, as on the normal path: ".", ".." (even with a node),
 * an entry naming the root, one with nodeid 0, and everything from the
 * first malformed record on (a name with '/', on node dir).
 */
static ssize_t ab_readdirplus_reply(int fd, uint64_t unique)
{
	static const struct { const char *n; uint64_t ino, nodeid; uint32_t t; } ents[] = {
		{ ".", INO_ROOT, 0, DT_DIR }, { "..", INO_ROOT, INO_LINK, DT_DIR },
		{ "file", INO_FILE, INO_FILE, DT_REG }, { "dir", INO_DIR, INO_DIR, DT_DIR },
		{ "link", INO_LINK, INO_LINK, DT_LNK }, { "rootalias", INO_ROOT, INO_ROOT, DT_DIR },
		{ "nolookup", INO_FILE, 0, DT_REG }, { "bad/name", INO_DIR, INO_DIR, DT_DIR },
		{ "after", INO_FILE, INO_FILE, DT_REG },
	};
	static char buf[8192];
	size_t off = 0, i, n;

	memset(buf, 0, sizeof(buf));
	for (i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		struct fuse_direntplus *dp = (void *)(buf + off);

		n = put_dirent(buf, off, sizeof(buf), ents[i].ino, ents[i].n, ents[i].t, i + 1,
			       true);
		dp->entry_out.nodeid = ents[i].nodeid;
		off += n;
	}
	return reply(fd, unique, 0, buf, off);
}

/* Idle hook: once the client killed the waiter, answer the held request with success. */
static void idle_abandon(int fd)
{
	int i;

	if (!shm->release || !nheld)
		return;
	for (i = 0; i < nheld; i++) {
		struct req rr = { .h = &held[i].h, .arg = held[i].arg,
				  .len = sizeof(held[i].h) + sizeof(held[i].arg) };
		struct fuse_in_header *h = rr.h;
		struct {
			struct fuse_entry_out e;
			struct fuse_open_out o;
		} c;
		ssize_t ret = 0;

		memset(&c, 0, sizeof(c));
		c.o.fh = AB_FH_BASE + h->opcode;
		switch (h->opcode) {
		case FUSE_OPEN:
		case FUSE_OPENDIR:
			ret = reply(fd, h->unique, 0, &c.o, sizeof(c.o));
			break;
		case FUSE_CREATE:
			fill_entry(&c.e, INO_FILE);
			c.e.nodeid = AB_NODE_NEW;
			c.e.attr.ino = AB_NODE_NEW;
			c.e.attr.size = 0;
			c.e.attr.blocks = 0;
			ret = reply(fd, h->unique, 0, &c, sizeof(c));
			break;
		default:	/* READDIRPLUS */
			ret = ab_readdirplus_reply(fd, h->unique);
			break;
		}
		ab_log(AB_EV_ANSWER, h->nodeid, h->opcode, ret < 0 ? (int)ret : 0);
	}
	nheld = 0;
	shm->held = 0;
	shm->release = 0;
}

/*
 * flock held by the daemon (FUSE_FLOCK_LOCKS): one exclusive flock per
 * file, kept by its owner until a SETLK F_UNLCK of that owner or a
 * RELEASE with FUSE_RELEASE_FLOCK_UNLOCK is answered. A conflicting
 * SETLK(W) is refused with EAGAIN (never waits). While armed, RELEASE is
 * held: what it would unlock stays locked until the client lets it go.
 * Each OPEN gets its own handle (LK_FH_BASE + n).
 */
#define LK_FH_BASE	0x10c0

static void lk_release_answer(int fd, struct fuse_in_header *h, void *arg)
{
	struct fuse_release_in *in = arg;

	if ((in->release_flags & FUSE_RELEASE_FLOCK_UNLOCK) && in->lock_owner == shm->lk_holder)
		shm->lk_holder = 0;
	reply(fd, h->unique, 0, NULL, 0);
}

static bool bad_flock_release(int fd, struct req *r)
{
	static uint64_t opens;
	uint32_t op = r->h->opcode;
	int seq = ++shm->lk_seq;

	if (op == FUSE_OPEN) {
		struct fuse_open_out o = { .fh = LK_FH_BASE + opens++ };

		reply(fd, r->h->unique, 0, &o, sizeof(o));
		return true;
	}
	if (op == FUSE_SETLK || op == FUSE_SETLKW) {
		struct fuse_lk_in *in = r->arg;

		if (!(in->lk_flags & FUSE_LK_FLOCK)) {
			reply(fd, r->h->unique, -EINVAL, NULL, 0);
			return true;
		}
		if (in->lk.type == F_UNLCK) {
			if (in->owner == shm->lk_owner1 && !shm->lk_unlock_seq)
				shm->lk_unlock_seq = seq;
			if (in->owner == shm->lk_holder)
				shm->lk_holder = 0;
		} else if (shm->lk_holder && shm->lk_holder != in->owner) {
			shm->lk_refused++;
			reply(fd, r->h->unique, -EAGAIN, NULL, 0);
			return true;
		} else {
			shm->lk_holder = in->owner;
			if (!shm->lk_owner1) {
				shm->lk_owner1 = in->owner;
				shm->lk_fh1 = in->fh;
			}
		}
		reply(fd, r->h->unique, 0, NULL, 0);
		return true;
	}
	if (op == FUSE_RELEASE) {
		struct fuse_release_in *in = r->arg;

		if (in->fh == shm->lk_fh1 && shm->lk_owner1 && !shm->lk_release_seq) {
			shm->lk_release_seq = seq;
			shm->lk_release_unlocks = (in->release_flags & FUSE_RELEASE_FLOCK_UNLOCK) &&
						  in->lock_owner == shm->lk_owner1;
		}
		if (shm->armed) {
			hold(r);
			return true;
		}
		lk_release_answer(fd, r->h, r->arg);
		return true;
	}
	return false;
}

/* Idle hook: once the client lets go, answer the held RELEASEs (and unlock). */
static void idle_flock_release(int fd)
{
	int i;

	if (!shm->release || !nheld)
		return;
	for (i = 0; i < nheld; i++)
		lk_release_answer(fd, &held[i].h, held[i].arg);
	nheld = 0;
	shm->held = 0;
	shm->release = 0;
}

static void setup_flock(void)
{
	tinyfs_cfg.init_flags = FUSE_FLOCK_LOCKS;
}

/*
 * An ancestor evicted by a notification's dput: "dir/sub" are cached for
 * NA_TTL seconds, "dir/sub/x" and "file" for 60 s. Once the client asks,
 * the only server thread sends INVAL_ENTRY for "file" (the worker then
 * evicts it and waits for the readahead READs held here), waits until the
 * worker is at it (INVAL_INODE for "file" finds no inode any more), then
 * sends INVAL_ENTRY for "x" in "sub". "sub" and "dir", expired and unused,
 * die at their last dput and "dir" is evicted: that must happen in the
 * worker, after the READs are answered, not in this write(). What that
 * write queued is read before anything is answered (EV_NOTIFY_DONE marks
 * the point in shm->ev, where every FORGET is logged).
 */
#define INO_SUB		5		/* "dir/sub" */
#define INO_SUB_X	6		/* "dir/sub/x" */
#define NA_TTL		2		/* entry TTL of "dir" and "dir/sub" */
#define EV_NOTIFY_DONE	0xffff		/* ev[].opcode: the notification returned */

static bool bad_notify_ancestor(int fd, struct req *r)
{
	uint32_t op = r->h->opcode;
	uint64_t node = r->h->nodeid;

	if (log_forget(r))
		return true;
	if (op == FUSE_LOOKUP) {
		static const struct { uint64_t parent; const char *name; uint64_t ino, like, ttl; }
		names[] = {
			{ INO_ROOT, "file", INO_FILE, INO_FILE, 60 },
			{ INO_ROOT, "dir", INO_DIR, INO_DIR, NA_TTL },
			{ INO_DIR, "sub", INO_SUB, INO_DIR, NA_TTL },
			{ INO_SUB, "x", INO_SUB_X, INO_FILE, 60 },
		};
		struct fuse_entry_out e;
		unsigned int i;

		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (node != names[i].parent || strcmp(r->arg, names[i].name))
				continue;
			fill_entry(&e, names[i].like);
			e.nodeid = e.attr.ino = names[i].ino;
			e.entry_valid = names[i].ttl;
			reply(fd, r->h->unique, 0, &e, sizeof(e));
			return true;
		}
		return false;
	}
	if (op == FUSE_GETATTR && (node == INO_SUB || node == INO_SUB_X)) {
		struct fuse_attr_out a = { 0 };

		fill_attr(&a.attr, node == INO_SUB ? INO_DIR : INO_FILE);
		a.attr.ino = node;
		reply(fd, r->h->unique, 0, &a, sizeof(a));
		return true;
	}
	if (shm->armed && op == FUSE_READ) {
		hold(r);
		return true;
	}
	return false;
}

/* Serve what is queued now, without waiting for more. */
static void serve_queued(int fd, bad_fn bad)
{
	static char buf[BUFSZ];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN)) {
		ssize_t n = read(fd, buf, sizeof(buf));
		struct req r = { .h = (void *)buf, .arg = buf + sizeof(struct fuse_in_header),
				 .len = n };

		if (n < (ssize_t)sizeof(struct fuse_in_header))
			return;
		if (!bad(fd, &r))
			serve_normal(fd, &r);
	}
}

static void idle_notify_ancestor(int fd)
{
	int i;

	if (!shm->release)
		return;
	shm->release = 0;
	shm->notify_ret = notify_entry(fd, 0, "file");
	for (i = 0; i < 500 && notify_inval_inode(fd, INO_FILE) != -ENOENT; i++)
		usleep(10000);
	shm->worker_blocked = i < 500;
	shm->notify_ret2 = notify_entry_in(fd, INO_SUB, 0, "x");
	serve_queued(fd, bad_notify_ancestor);
	ab_log(EV_NOTIFY_DONE, 0, 0, 0);
	shm->notify_sent++;
	answer_held(fd);
}

static void setup_cache(void)
{
	tinyfs_cfg.cache = true;
	tinyfs_cfg.max_write = 8 << 20;
	tinyfs_cfg.max_pages = 2048;
	tinyfs_cfg.file_size = 256 * 1024;
}

/*
 * NOTIFY_INVAL_ENTRY/DELETE of a cached, unused "file" whose readahead
 * READs (pages locked) the only server thread holds: dropping the entry
 * drops the last reference of the inode, and its eviction waits on those
 * pages. It must not run in this thread. "file" is looked up with an
 * entry TTL of 60 s so that its dentry outlives the client's close.
 */
static bool entry_notify_delete;	/* set in setup: DELETE, else INVAL_ENTRY */

static bool bad_hold_reads_cached_entry(int fd, struct req *r)
{
	if (is_lookup(r, "file")) {
		struct fuse_entry_out e;

		fill_entry(&e, INO_FILE);
		e.entry_valid = 60;
		reply(fd, r->h->unique, 0, &e, sizeof(e));
		return true;
	}
	if (!shm->armed || r->h->opcode != FUSE_READ)
		return false;
	hold(r);
	return true;
}

static ssize_t notify_entry(int fd, uint64_t child, const char *name);

static void idle_entry_notify_then_answer(int fd)
{
	if (!shm->release)
		return;
	shm->release = 0;
	shm->notify_ret = notify_entry(fd, entry_notify_delete ? INO_FILE : 0, "file");
	shm->notify_sent++;
	answer_held(fd);
}

static void setup_entry_inval(void) { setup_cache(); entry_notify_delete = false; }
static void setup_entry_delete(void) { setup_cache(); entry_notify_delete = true; }

static void setup_otrunc(void)
{
	setup_cache();
	tinyfs_cfg.init_flags = FUSE_ATOMIC_O_TRUNC;
}

static void setup_otrunc_eio(void)
{
	setup_otrunc();
	tinyfs_cfg.file_size = 8192;
	otrunc_refill = false;
}

static void setup_otrunc_eio_refill(void)
{
	setup_otrunc_eio();
	otrunc_refill = true;
}

static void setup_big_file(void)
{
	setup_cache();
	tinyfs_cfg.file_size = 8 << 20;
}

static void setup_bg_limit(void)
{
	setup_cache();
	tinyfs_cfg.max_write = 4096;	/* one page per WRITE */
	tinyfs_cfg.max_background = 4;
	tinyfs_cfg.file_size = 512 * 1024;
}

/* Bad lengths: the first reply to each opcode is one byte short or long. */
static bool badlen_seen[64];
static int badlen_delta;

static void mutate_badlen(const struct fuse_in_header *in, int *error, char *body,
			  size_t *blen)
{
	if (*error || in->opcode >= 64 || badlen_seen[in->opcode])
		return;
	badlen_seen[in->opcode] = true;
	if (badlen_delta > 0) {
		memset(body + *blen, 0x5a, badlen_delta);
		*blen += badlen_delta;
	} else if (*blen) {
		*blen -= 1;
	} else {
		body[0] = 0x5a;	/* empty answers get a stray byte */
		*blen = 1;
	}
}

static void setup_badlen_long(void)
{
	setup_cache();
	badlen_delta = 1;
	tinyfs_cfg.mutate = mutate_badlen;
}

static void setup_badlen_short(void)
{
	setup_cache();
	badlen_delta = -1;
	tinyfs_cfg.mutate = mutate_badlen;
}

/* ---- fuzzer: every reply may be mutated (seeded, reproducible) ---- */

/*
 * A fuzz run is rounds of FUZZ_ROUND_SECONDS, each on a fresh mount (a
 * node the daemon broke early stays broken for the rest of a mount),
 * seeds MQ_FUZZ_SEED, +1, +2... until MQ_FUZZ_SECONDS have passed.
 */
#define FUZZ_ROUND_SECONDS	5
static uint64_t fuzz_state;
static uint64_t fuzz_seed;
static unsigned long fuzz_seconds = 20;
static unsigned long fuzz_mutated;

static uint32_t fuzz_rand(void)
{
	/* xorshift64* */
	fuzz_state ^= fuzz_state >> 12;
	fuzz_state ^= fuzz_state << 25;
	fuzz_state ^= fuzz_state >> 27;
	return (fuzz_state * 2685821657736338717ULL) >> 32;
}

static int fuzz_errno(void)
{
	static const int odd[] = { 1, 5, 511, 512, -512, -513, -514, -515, -516, -517,
				   -518, -521, -522, -523, -524, -525, -526, -527,
				   -528, -529, -530, -1000, -4095, -4096, -5000,
				   INT_MIN, INT_MAX };

	if (fuzz_rand() % 2)
		return -(int)(1 + fuzz_rand() % 133);
	return odd[fuzz_rand() % (sizeof(odd) / sizeof(odd[0]))];
}

static void mutate_fuzz(const struct fuse_in_header *in, int *error, char *body,
			size_t *blen)
{
	size_t i, n;

	(void)in;
	if (fuzz_rand() % 3)
		return;		/* two thirds of the replies stay correct */
	fuzz_mutated++;
	switch (fuzz_rand() % 6) {
	case 0:
		*error = fuzz_errno();
		if (fuzz_rand() % 4)
			*blen = 0;
		break;
	case 1:		/* truncate */
		*blen = *blen ? fuzz_rand() % *blen : 0;
		break;
	case 2:		/* extend with garbage */
		n = 1 + fuzz_rand() % (fuzz_rand() % 2 ? 16 : 65536);
		for (i = 0; i < n; i++)
			body[*blen + i] = fuzz_rand();
		*blen += n;
		break;
	case 3:		/* flip bytes */
		for (i = 0; *blen && i < 1 + fuzz_rand() % 8; i++)
			body[fuzz_rand() % *blen] ^= 1u << (fuzz_rand() % 8);
		break;
	case 4:		/* random 64-bit fields (sizes, nodeids, offsets) */
		for (i = 0; *blen >= 8 && i < 1 + fuzz_rand() % 4; i++) {
			uint64_t v = ((uint64_t)fuzz_rand() << 32) | fuzz_rand();

			memcpy(body + (fuzz_rand() % (*blen / 8)) * 8, &v, 8);
		}
		break;
	default:	/* all garbage, random length */
		n = fuzz_rand() % 4096;
		for (i = 0; i < n; i++)
			body[i] = fuzz_rand();
		*blen = n;
		break;
	}
}

/* Extra hostile messages now and then: stray uniques, notifications. */
static bool bad_fuzz(int fd, struct req *r)
{
	char buf[512];
	struct fuse_out_header *oh = (void *)buf;
	size_t len, i;

	if (fuzz_rand() % 16)
		return false;
	len = sizeof(*oh) + fuzz_rand() % (sizeof(buf) - sizeof(*oh));
	for (i = 0; i < len; i++)
		buf[i] = fuzz_rand();
	oh->len = len;
	if (fuzz_rand() % 2) {
		oh->unique = 0;
		oh->error = fuzz_rand() % (FUSE_NOTIFY_CODE_MAX + 2);
		/*
		 * INVAL_ENTRY/DELETE included: they never wait for the parent's
		 * lock, which a client may hold while it waits for this very
		 * thread (scenario notify_entry_while_mkdir_held).
		 */
		if (oh->error == FUSE_NOTIFY_INVAL_INODE)
			*(uint64_t *)(oh + 1) = 1 + fuzz_rand() % 4;
		if ((oh->error == FUSE_NOTIFY_INVAL_ENTRY || oh->error == FUSE_NOTIFY_DELETE) &&
		    fuzz_rand() % 2) {
			static const char *const names[] = { "file", "dir", "link", "new" };
			const char *name = names[fuzz_rand() % 4];
			bool del = oh->error == FUSE_NOTIFY_DELETE;
			struct fuse_notify_delete_out *d = (void *)(oh + 1);
			size_t hdr = del ? sizeof(*d) : sizeof(struct fuse_notify_inval_entry_out);

			/* a well-formed one on a real name (same layout up to namelen) */
			d->parent = INO_ROOT;
			if (del)
				d->child = 1 + fuzz_rand() % 4;
			else
				((struct fuse_notify_inval_entry_out *)d)->flags = fuzz_rand() % 2;
			d->namelen = strlen(name);
			if (!del)
				((struct fuse_notify_inval_entry_out *)d)->namelen = strlen(name);
			memcpy((char *)(oh + 1) + hdr, name, strlen(name) + 1);
			len = oh->len = sizeof(*oh) + hdr + strlen(name) + 1;
		}
	} else {
		oh->unique = r->h->unique + 2 * (1 + fuzz_rand() % 8);
		oh->error = fuzz_errno();
	}
	send_raw(fd, buf, len);
	return false;
}

static void setup_fuzz(bool cache)
{
	const char *e = getenv("MQ_FUZZ_SEED");

	if (cache)
		setup_cache();
	if (!fuzz_seed)
		fuzz_seed = e ? strtoull(e, NULL, 0) :
				(uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	else
		fuzz_seed++;
	fuzz_state = fuzz_seed | 1;
	e = getenv("MQ_FUZZ_SECONDS");
	if (e)
		fuzz_seconds = strtoul(e, NULL, 0);
	diag("fuzz: round seed %llu (MQ_FUZZ_SEED), run of %lu seconds (MQ_FUZZ_SECONDS)",
	     (unsigned long long)fuzz_seed, fuzz_seconds);
	tinyfs_cfg.mutate = mutate_fuzz;
}

static void setup_fuzz_cache(void) { setup_fuzz(true); }
static void setup_fuzz_direct(void) { setup_fuzz(false); }

/* Takes a READ and dies without answering. */
static bool bad_die_in_read(int fd, struct req *r)
{
	(void)fd;
	if (r->h->opcode != FUSE_READ)
		return false;
	_exit(0);
}

/* Never answers LOOKUP of "file": the client must stay killable. */
static bool bad_never_reply(int fd, struct req *r)
{
	(void)fd;
	return is_lookup(r, "file");
}

/* ---- client checks ---- */

enum expect { EXP_OK, EXP_EIO, EXP_ENOENT, EXP_FAIL, EXP_ANY, EXP_OK_OR_EIO };

struct scenario {
	const char *name;
	bad_fn bad;
	void (*client)(const struct scenario *s);
	enum expect expect;	/* for the scenario's main operation */
	void (*setup)(void);	/* before mounting: tinyfs_cfg */
	void (*idle)(int fd);	/* server: no request for a while */
	int (*serve_fd)(int fd); /* server: the fd to serve from */
};

static char path_file[4096], path_dir[4096], path_link[4096];

static bool errno_matches(int err, enum expect ex)
{
	switch (ex) {
	case EXP_OK:
		return err == 0;
	case EXP_EIO:
		return err == EIO;
	case EXP_ENOENT:
		return err == ENOENT;
	case EXP_FAIL:
		return err != 0;
	case EXP_OK_OR_EIO:
		return err == 0 || err == EIO;
	case EXP_ANY:
		return true;
	}
	return false;
}

static const char *exp_name(enum expect ex)
{
	static const char *const n[] = { "success", "EIO", "ENOENT", "an error",
					 "anything but a hang", "success or EIO" };
	return (unsigned int)ex < sizeof(n) / sizeof(n[0]) ? n[ex] : "?";
}

static void expect_result(const struct scenario *s, const char *what, int err)
{
	bool ok = errno_matches(err, s->expect);

	tap(ok, "%s: %s gives %s", s->name, what, exp_name(s->expect));
	if (!ok)
		diag("got %s", err ? strerror(err) : "success");
}

static void client_stat_file(const struct scenario *s)
{
	struct stat st;
	int err = stat(path_file, &st) ? errno : 0;

	expect_result(s, "stat(file)", err);
	if (!err && s->expect != EXP_ANY)
		tap(S_ISREG(st.st_mode) && st.st_size >= 0,
		    "%s: attributes are sane", s->name);
}

static void client_stat_twice(const struct scenario *s)
{
	struct stat st;
	int err;

	/* The first stat creates the inode; the second sees the type change. */
	if (stat(path_file, &st))
		diag("first stat: %s", strerror(errno));
	err = stat(path_file, &st) ? errno : 0;
	expect_result(s, "stat(file) after the type changed", err);
	if (!err)
		tap(S_ISREG(st.st_mode), "%s: cached inode type did not change", s->name);
}

static void client_read(const struct scenario *s)
{
	char buf[FILE_SIZE];
	int fd = open(path_file, O_RDONLY), err;
	ssize_t n;

	if (fd < 0) {
		err = errno;
		/* A daemon whose INIT was refused leaves a cleanly failing mount. */
		tap(s->expect == EXP_ANY || s->expect == EXP_FAIL,
		    "%s: open(file) fails cleanly: %s", s->name, strerror(err));
		return;
	}
	n = read(fd, buf, sizeof(buf));
	err = n < 0 ? errno : 0;
	expect_result(s, "read(file)", err);
	if (n > 0)
		tap(n <= FILE_SIZE, "%s: read returned at most what was asked", s->name);
	close(fd);
}

static void client_write(const struct scenario *s)
{
	char buf[4096];
	int fd = open(path_file, O_WRONLY), err;
	ssize_t n;

	if (fd < 0) {
		tap(false, "%s: open(file, O_WRONLY): %s", s->name, strerror(errno));
		return;
	}
	memset(buf, 'w', sizeof(buf));
	n = write(fd, buf, sizeof(buf));
	err = n < 0 ? errno : 0;
	expect_result(s, "write(file)", err);
	if (n > 0)
		tap(n <= (ssize_t)sizeof(buf), "%s: write returned at most what was given", s->name);
	close(fd);
}

static void client_readdir(const struct scenario *s)
{
	bool bogus = false;
	int err = 0, count = 0;
	struct dirent *de;
	DIR *d = opendir(mnt);

	if (!d) {
		tap(false, "%s: opendir: %s", s->name, strerror(errno));
		return;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			err = errno;
			break;
		}
		count++;
		/*
		 * The malformed record is the one named "xxxx" (for the plain
		 * READDIR lies its name itself is broken; READDIRPLUS lies keep a
		 * valid name and break the entry, so the name may show).
		 */
		if (!de->d_name[0] || strchr(de->d_name, '/') ||
		    strlen(de->d_name) > 255 ||
		    (!strncmp(de->d_name, "xx", 2) && strncmp(s->name, "readdirplus_", 12)))
			bogus = true;
		if (count > 1000)
			break;
	}
	closedir(d);
	expect_result(s, "readdir", err);
	tap(!bogus, "%s: no malformed name reached user space", s->name);
	tap(count <= 1000, "%s: listing terminates", s->name);
}

static void client_readlink(const struct scenario *s)
{
	char buf[8192];
	ssize_t n = readlink(path_link, buf, sizeof(buf));
	int err = n < 0 ? errno : 0;

	expect_result(s, "readlink(link)", err);
	if (n >= 0)
		tap(n <= 4096 && !memchr(buf, '\0', n),
		    "%s: target has no NUL and fits PATH_MAX", s->name);
}

static void client_xattr(const struct scenario *s)
{
	char buf[64];
	ssize_t n = getxattr(path_file, "user.x", buf, sizeof(buf));
	int err = n < 0 ? errno : 0;

	tap(err == 0 ? n <= (ssize_t)sizeof(buf) : (err == EIO || err == ERANGE),
	    "%s: getxattr gives a fitting value, ERANGE or EIO", s->name);
	if (err)
		diag("getxattr: %s", strerror(err));
}

static void client_statfs(const struct scenario *s)
{
	struct statfs sf;

	expect_result(s, "statfs", statfs(mnt, &sf) ? errno : 0);
}

static void client_open(const struct scenario *s)
{
	int fd = open(path_file, O_RDONLY);

	expect_result(s, "open(file)", fd < 0 ? errno : 0);
	if (fd >= 0)
		close(fd);
}

/* Many operations while the server writes garbage. */
static void client_storm(const struct scenario *s)
{
	char buf[FILE_SIZE];
	struct timespec t0, t1;
	unsigned int too_long = 0;
	struct stat st;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 200; i++) {
		int fd;

		stat(path_file, &st);
		fd = open(path_file, O_RDONLY);
		if (fd >= 0) {
			if (read(fd, buf, sizeof(buf)) > (ssize_t)sizeof(buf))
				too_long++;
			close(fd);
		}
		DIR *d = opendir(mnt);

		if (d) {
			while (readdir(d))
				;
			closedir(d);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* a hang is caught by alarm(); here: every round ran, nothing overflowed */
	tap(i == 200 && !too_long && t1.tv_sec - t0.tv_sec < 50,
	    "%s: 200 rounds of stat/open/read/readdir returned within 50 s, no read past its buffer",
	    s->name);
	if (too_long)
		diag("%u reads returned more than asked", too_long);
}

static void client_die(const struct scenario *s)
{
	char buf[FILE_SIZE];
	struct stat st;
	int fd = open(path_file, O_RDONLY), err;
	ssize_t n;

	if (fd < 0) {
		tap(false, "%s: open(file): %s", s->name, strerror(errno));
		return;
	}
	n = read(fd, buf, sizeof(buf));
	err = n < 0 ? errno : 0;
	tap(err == ENOTCONN || err == ECONNABORTED || err == EIO,
	    "%s: read in flight when the daemon died fails with ENOTCONN", s->name);
	if (err != ENOTCONN)
		diag("got %s", err ? strerror(err) : "success");
	err = stat(path_dir, &st) ? errno : 0;
	tap(err == ENOTCONN, "%s: new requests fail with ENOTCONN", s->name);
	close(fd);
}

static void client_killable(const struct scenario *s)
{
	struct timespec t0, t1;
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct stat st;

		stat(path_file, &st);
		_exit(0);
	}
	sleep(1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tap(WIFSIGNALED(status) && t1.tv_sec - t0.tv_sec < 10,
	    "%s: a task blocked in a request dies on SIGKILL", s->name);
}

/* ---- client checks for the scenarios above ---- */

static pid_t server_pid;

/* Read "key value" @key from every /sys/fs/FSTYPE/<session of mnt>/queue* /stats. */
static char sess_dir[512];

static bool find_session(void)
{
	char path[700], buf[64];
	struct dirent *de;
	struct stat st;
	DIR *d;
	bool found = false;
	int tries = 0;

	/* a hostile daemon may fail this GETATTR (race test): try again */
	while (stat(mnt, &st))
		if (errno != EIO || ++tries == 50)
			return false;
	snprintf(path, sizeof(path), "/sys/fs/%s", fstype);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		unsigned int maj, min;
		FILE *f;

		snprintf(path, sizeof(path), "/sys/fs/%s/%s/dev", fstype, de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f) && sscanf(buf, "%u:%u", &maj, &min) == 2 &&
		    makedev(maj, min) == st.st_dev) {
			snprintf(sess_dir, sizeof(sess_dir), "/sys/fs/%s/%s", fstype, de->d_name);
			found = true;
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

static long sess_read(const char *name)
{
	char path[700], buf[64];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", sess_dir, name);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f))
		v = strtol(buf, NULL, 0);
	if (f)
		fclose(f);
	return v;
}

/* Sum of @key over the queues; *max_one: largest single value. */
static long queue_stat_sum(const char *key, long *max_one)
{
	char path[800], line[128];
	long sum = 0, v;
	int i;

	*max_one = 0;
	for (i = 0;; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/queue%d/stats", sess_dir, i);
		f = fopen(path, "r");
		if (!f)
			break;
		while (fgets(line, sizeof(line), f)) {
			char k[64];

			if (sscanf(line, "%63s %ld", k, &v) == 2 && !strcmp(k, key)) {
				sum += v;
				if (v > *max_one)
					*max_one = v;
			}
		}
		fclose(f);
	}
	return i ? sum : -1;
}

/* Write "1" to a sysfs file (a missing file is left alone). */
static void sysfs_write_one(const char *path)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "1", 1) != 1)
			diag("%s: %s", path, strerror(errno));
		close(fd);
	}
}

static void sess_abort(void)
{
	char path[700];

	snprintf(path, sizeof(path), "%s/abort", sess_dir);
	sysfs_write_one(path);
}

static void msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait until @cond or @ms pass; returns cond (evaluated once more: no side effects). */
#define wait_for(cond, ms) ({						\
	unsigned int __i;						\
	for (__i = 0; __i < (ms) / 10 && !(cond); __i++)		\
		msleep(10);						\
	(cond);								\
})

enum errop { OP_PAGECACHE, OP_DIRECT, OP_GETATTR };

static int errno_op(enum errop op, int fd_pc, int fd_dio, char *buf)
{
	struct stat st;
	ssize_t n;

	switch (op) {
	case OP_PAGECACHE:
		posix_fadvise(fd_pc, 0, 0, POSIX_FADV_DONTNEED);
		n = pread(fd_pc, buf, 4096, 0);
		return n < 0 ? errno : 0;
	case OP_DIRECT:
		n = pread(fd_dio, buf, 4096, 0);
		return n < 0 ? errno : 0;
	case OP_GETATTR:
		return fstat(fd_pc, &st) ? errno : 0;
	}
	return -1;
}

/* Every errno class on READ (page cache, O_DIRECT) and GETATTR. */
static void client_errno_classes(const struct scenario *s)
{
	static const int bad[] = { 1, 5, 511, 512, 4095, INT_MAX, -512, -513, -514,
				   -516, -517, -521, -529, -530, -1000, -4095, -4096,
				   -5000, INT_MIN };
	static const char *const opname[] = { "page-cache read", "O_DIRECT read",
					      "fstat (GETATTR)" };
	static char dbuf[4096] __attribute__((aligned(4096)));
	int fd_pc = open(path_file, O_RDONLY), fd_dio = open(path_file, O_RDONLY | O_DIRECT);
	enum errop op;

	if (fd_pc < 0 || fd_dio < 0) {
		tap(false, "%s: open(file) (page cache and O_DIRECT): %s", s->name,
		    strerror(errno));
		return;
	}
	posix_fadvise(fd_pc, 0, 0, POSIX_FADV_RANDOM);
	for (op = OP_PAGECACHE; op <= OP_GETATTR; op++) {
		unsigned int good_bad = 0, bad_bad = 0, i;
		int e, got;

		for (e = 1; e <= 133; e++) {
			shm->err = -e;
			shm->armed = 1;
			got = errno_op(op, fd_pc, fd_dio, dbuf);
			shm->armed = 0;
			if (got != e && good_bad++ < 8)
				diag("%s: daemon error %d, app got %d (%s)", opname[op], -e,
				     got, strerror(got));
		}
		tap(!good_bad, "%s: %s: daemon errors -1..-133 reach the app exactly",
		    s->name, opname[op]);
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			shm->err = bad[i];
			shm->armed = 1;
			got = errno_op(op, fd_pc, fd_dio, dbuf);
			shm->armed = 0;
			if (got != EIO && bad_bad++ < 8)
				diag("%s: daemon error %d, app got %d (%s)", opname[op],
				     bad[i], got, strerror(got));
		}
		tap(!bad_bad, "%s: %s: positive, kernel-internal (<= -512) and out-of-range errors give EIO",
		    s->name, opname[op]);

		shm->err = ERR_SHORT_BODY;
		shm->armed = 1;
		memset(dbuf, 0x5a, sizeof(dbuf));
		if (op == OP_GETATTR) {
			got = errno_op(op, fd_pc, fd_dio, dbuf);
			tap(got == EIO, "%s: %s: error 0 with a short body gives EIO", s->name,
			    opname[op]);
		} else {
			ssize_t n;

			if (op == OP_PAGECACHE)
				posix_fadvise(fd_pc, 0, 0, POSIX_FADV_DONTNEED);
			n = pread(op == OP_PAGECACHE ? fd_pc : fd_dio, dbuf, 4096, 0);
			got = n < 0 ? errno : 0;
			for (i = 0; n > 0 && i < (size_t)n; i++)
				if (dbuf[i] != (i < 100 ? 'A' : 0))
					break;
			tap(n >= 0 && (n == 100 || (op == OP_PAGECACHE && n == 4096)) &&
			    i == (size_t)n,
			    "%s: %s: a 100-byte answer gives 100 bytes (then zeros)", s->name,
			    opname[op]);
			if (n < 0 || i != (size_t)n)
				diag("read %zd (%s), first bad byte at %u: 0x%02x", n,
				     n < 0 ? strerror(got) : "-", i, n > 0 ? (unsigned char)dbuf[i] : 0);
		}
		shm->armed = 0;
	}
	close(fd_pc);
	close(fd_dio);
}

/* FUSE_DEV_IOC_CLONE on a fresh device fd attaches it; the server serves only from it. */
static int serve_clone(int fd)
{
	int nfd = open(devpath, O_RDWR);
	uint32_t master = fd;

	if (nfd < 0 || ioctl(nfd, FUSE_DEV_IOC_CLONE, &master)) {
		shm->clone_ret = errno;
		if (nfd >= 0)
			close(nfd);
		return fd;
	}
	shm->clone_ret = 0;
	return nfd;
}

static void setup_clone(void)
{
	shm->clone_ret = -1;	/* "not run"; the server sets it before serving */
}

static void client_clone(const struct scenario *s)
{
	struct stat st;
	int err;

	err = stat(path_file, &st) ? errno : 0;
	tap(shm->clone_ret == 0, "%s: ioctl(FUSE_DEV_IOC_CLONE) attaches a new device fd",
	    s->name);
	if (shm->clone_ret)
		diag("ioctl: %s", shm->clone_ret > 0 ? strerror(shm->clone_ret) : "not run");
	tap(!err && S_ISREG(st.st_mode), "%s: requests are served through the cloned fd",
	    s->name);
}

/* Bytes of @buf[0..n) are 'A' up to @valid, then zeros. */
static bool data_ok(const char *buf, size_t n, char c)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (buf[i] != c && buf[i] != 0)
			return false;
	return true;
}

static void client_short_read(const struct scenario *s)
{
	size_t size = tinyfs_file_size();
	char *buf = malloc(size + 4096), *m;
	ssize_t n;
	int fd = open(path_file, O_RDONLY);

	if (fd < 0 || !buf) {
		tap(false, "%s: open(file): %s", s->name, strerror(errno));
		free(buf);
		return;
	}
	memset(buf, 0x5a, size + 4096);
	n = read(fd, buf, size + 4096);
	tap(n >= 0 && (size_t)n <= size, "%s: read(2) returns at most the file size", s->name);
	tap(n > 0 && data_ok(buf, n, 'A'),
	    "%s: read(2) returns the daemon's bytes and zeros only (no uninitialised memory)",
	    s->name);
	if (n < 0)
		diag("read: %s", strerror(errno));
	m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (m != MAP_FAILED) {
		size_t pages = 0, i;

		/* only touch what read(2) said exists: past EOF is SIGBUS */
		struct stat st;

		if (!fstat(fd, &st))
			pages = ((size_t)st.st_size < size ? (size_t)st.st_size : size);
		for (i = 0; i < pages && (m[i] == 'A' || m[i] == 0); i++)
			;
		tap(i == pages, "%s: mmap shows the daemon's bytes and zeros only", s->name);
		munmap(m, size);
	} else {
		tap(false, "%s: mmap: %s", s->name, strerror(errno));
	}
	close(fd);
	free(buf);
}

static void client_short_write(const struct scenario *s)
{
	static char buf[65536];
	struct timespec t0, t1;
	ssize_t n;
	char *m;
	int fd = open(path_file, O_RDWR), err;

	if (fd < 0) {
		tap(false, "%s: open(file, O_RDWR): %s", s->name, strerror(errno));
		return;
	}
	memset(buf, 'w', sizeof(buf));
	n = write(fd, buf, sizeof(buf));
	tap((n > 0 && n < (ssize_t)sizeof(buf)) || (n < 0 && errno == EIO),
	    "%s: write(2) of 64 KiB answered with half reports a short count or EIO", s->name);
	if (!(n > 0 && n < (ssize_t)sizeof(buf)))
		diag("write: %zd %s", n, n < 0 ? strerror(errno) : "");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m != MAP_FAILED) {
		memset(m, 'm', 65536);
		err = msync(m, 65536, MS_SYNC) ? errno : 0;
		munmap(m, 65536);
		err = fsync(fd) ? errno : err;
		tap(err == EIO || err == 0, "%s: writeback answered short: msync/fsync return (EIO or 0)",
		    s->name);
		if (err)
			diag("msync/fsync: %s", strerror(err));
	} else {
		tap(false, "%s: mmap: %s", s->name, strerror(errno));
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(fd);
}

/* A waiter killed while the daemon holds its request; the daemon answers later. */
static void client_late_reply(const struct scenario *s)
{
	static const char *const what[] = { "O_DIRECT read", "page-cache read", "fstat" };
	static char dbuf[65536] __attribute__((aligned(4096)));
	/*
	 * Keep the inode referenced: otherwise the killed child's exit may
	 * evict it, which waits (as in FUSE) for the pages of the held READ.
	 */
	int pin = open(path_file, O_RDONLY), k;

	for (k = 0; k < 3; k++) {
		struct timespec t0, t1;
		int status, fd;
		pid_t pid;

		shm->err = k == 2;	/* GETATTR is held only for the fstat case */
		shm->late_sent = 0;
		pid = fork();
		if (pid == 0) {
			struct stat st;

			fd = open(path_file, k == 0 ? O_RDONLY | O_DIRECT : O_RDONLY);
			if (fd < 0)
				_exit(3);
			if (k == 2) {
				shm->armed = 1;
				fstat(fd, &st);
			} else {
				shm->armed = 1;
				if (pread(fd, dbuf, sizeof(dbuf), 0) < 0)
					_exit(4);
			}
			_exit(0);
		}
		if (!wait_for(shm->held > 0, 5000))
			diag("%s: the server never got the request", what[k]);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		tap(WIFSIGNALED(status) && t1.tv_sec - t0.tv_sec < 10,
		    "%s: %s: the waiter dies on SIGKILL while the daemon holds its request",
		    s->name, what[k]);
		shm->armed = 0;
		shm->release = 1;
		wait_for(shm->late_sent > 0, 5000);
		tap(shm->late_sent > 0 && (shm->late_ret >= 0 || shm->late_ret == -ENOENT),
		    "%s: %s: the late reply is taken or refused cleanly", s->name, what[k]);
		/* the page cache holds no late bytes: data read now is the daemon's 'A's */
		fd = open(path_file, O_RDONLY);
		if (fd >= 0) {
			ssize_t n;

			posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
			n = pread(fd, dbuf, 4096, 0);
			/*
			 * An abandoned sync request's late bytes ('L') are discarded; a
			 * background readahead is not abandoned, its late answer is data.
			 */
			tap(n == 4096 && (dbuf[0] == 'A' || (k == 1 && dbuf[0] == 'L')) &&
			    data_ok(dbuf, n, dbuf[0]),
			    "%s: %s: the file reads back correctly afterwards", s->name, what[k]);
			close(fd);
		}
	}
	if (pin >= 0)
		close(pin);
}

static void sigusr1(int sig)
{
	(void)sig;
}

static void client_interrupt(const struct scenario *s)
{
	static const char *const what[] = { "fstat (GETATTR)", "O_DIRECT read" };
	static char dbuf[4096] __attribute__((aligned(4096)));
	struct sigaction sa = { .sa_handler = sigusr1 };
	int k;

	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
	for (k = 0; k < 2; k++) {
		int fd = open(path_file, k ? O_RDONLY | O_DIRECT : O_RDONLY), err;
		pid_t me = getpid(), pid;
		struct stat st;

		if (fd < 0) {
			tap(false, "%s: open: %s", s->name, strerror(errno));
			continue;
		}
		shm->intr_unique = 0;
		shm->held_unique = 0;
		pid = fork();
		if (pid == 0) {
			wait_for(shm->held > 0, 5000);
			kill(me, SIGUSR1);
			_exit(0);
		}
		shm->armed = 1;
		if (k == 0)
			err = fstat(fd, &st) ? errno : 0;
		else
			err = pread(fd, dbuf, sizeof(dbuf), 0) < 0 ? errno : 0;
		shm->armed = 0;
		waitpid(pid, NULL, 0);
		tap(err == EINTR, "%s: %s: answered -EINTR after INTERRUPT gives EINTR",
		    s->name, what[k]);
		if (err != EINTR)
			diag("got %s", err ? strerror(err) : "success");
		tap(shm->intr_unique && shm->intr_unique == shm->held_unique,
		    "%s: %s: FUSE_INTERRUPT names the held request", s->name, what[k]);
		close(fd);
	}
	signal(SIGUSR1, SIG_DFL);
}

/* A slow daemon: background WRITEs outstanding stay within max_background. */
static void client_bg_limit(const struct scenario *s)
{
	size_t size = tinyfs_file_size(), i;
	long limit, bg, bg_one, sysfs_peak = 0, waits;
	int fd = open(path_file, O_RDWR), status;
	pid_t pid;
	char *m;

	if (fd < 0 || !find_session()) {
		tap(false, "%s: open(file) and its sysfs session: %s", s->name, strerror(errno));
		return;
	}
	limit = sess_read("max_background");
	tap(limit == 4, "%s: sysfs max_background is the daemon's 4", s->name);
	/*
	 * The daemon holds every WRITE: without a guaranteed share of the
	 * dirty limit (strict for a FUSE mount) the stores below would be
	 * throttled until writeback completes, which is never.
	 */
	tap(mq_bdi_set_ratio(mnt, "min_ratio", 5) == 0,
	    "%s: min_ratio of the mount's bdi set", s->name);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		tap(false, "%s: mmap: %s", s->name, strerror(errno));
		close(fd);
		return;
	}
	for (i = 0; i < size; i += 4096)
		m[i] = 'd';	/* every page dirty: one WRITE each (max_write 4096) */
	pid = fork();
	if (pid == 0)
		_exit(msync(m, size, MS_SYNC) ? 1 : 0);
	/* the server holds every WRITE; watch the kernel's counters meanwhile */
	for (i = 0; i < 150; i++) {
		bg = queue_stat_sum("background", &bg_one);
		if (bg > sysfs_peak)
			sysfs_peak = bg;
		msleep(20);
	}
	tap(shm->peak_held > 0 && shm->peak_held <= 4,
	    "%s: the stalled daemon holds at most max_background WRITEs (held %d of %zu dirty pages)",
	    s->name, shm->peak_held, size / 4096);
	tap(sysfs_peak > 0 && sysfs_peak <= 4,
	    "%s: sysfs background count stays within the limit (peak %ld)", s->name, sysfs_peak);
	waits = queue_stat_sum("bg_waits", &bg_one);
	shm->release = 1;
	/* answer in rounds until writeback is done */
	for (i = 0; i < 4000 && waitpid(pid, &status, WNOHANG) == 0; i++) {
		shm->release = 1;
		msleep(10);
	}
	tap(i < 4000 && WIFEXITED(status) && !WEXITSTATUS(status),
	    "%s: writeback completes once the daemon answers", s->name);
	tap(waits > 0, "%s: submitters waited for a slot (bg_waits %ld)", s->name, waits);
	bg = queue_stat_sum("background", &bg_one);
	tap(bg == 0, "%s: no background request left over (%ld)", s->name, bg);
	munmap(m, size);
	close(fd);
}

/*
 * The client could not finish: show who is blocked, abort the session to
 * recover, and reap @pid, the blocked child (0: none).
 */
static void deadlock_recover(pid_t pid)
{
	int t = open("/proc/sysrq-trigger", O_WRONLY), status;

	diag("deadlocked: blocked tasks to dmesg, aborting the session to recover");
	if (t >= 0) {
		if (write(t, "w", 1) != 1)
			diag("sysrq: %s", strerror(errno));
		close(t);
	}
	sess_abort();
	if (pid > 0)
		waitpid(pid, &status, 0);
}

/* Wait up to @ms for @pid; true if it exited (status in *status). */
static bool reap_within(pid_t pid, int *status, unsigned int ms)
{
	pid_t reaped = 0;

	return wait_for(reaped == pid || (reaped = waitpid(pid, status, WNOHANG)) == pid, ms);
}

/*
 * Open "file" read-write and map its first @size bytes shared and
 * writable (*fdp: the open file). On failure: one "not ok" line, nothing
 * left open, NULL.
 */
static char *scenario_map_file(const struct scenario *s, size_t size, int *fdp)
{
	int fd = open(path_file, O_RDWR);
	char *m;

	if (fd < 0) {
		tap(false, "%s: open: %s", s->name, strerror(errno));
		return NULL;
	}
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		tap(false, "%s: mmap: %s", s->name, strerror(errno));
		close(fd);
		return NULL;
	}
	*fdp = fd;
	return m;
}

/* NOTIFY_INVAL_INODE from the only server thread while a WRITE waits on it. */
static void client_notify_inval(const struct scenario *s)
{
	static const char *const what[] = { "write(2) (pages locked)", "msync (pages under writeback)" };
	static char buf[16384];
	int k;

	if (!find_session()) {
		tap(false, "%s: no sysfs session", s->name);
		return;
	}
	for (k = 0; k < 2; k++) {
		int fd, status;
		bool done;
		pid_t pid;
		char *m;

		m = scenario_map_file(s, sizeof(buf), &fd);
		if (!m)
			return;
		if (k == 1)
			memset(m, 'x', sizeof(buf));
		shm->notify_sent = 0;
		pid = fork();
		if (pid == 0) {
			if (k == 0) {
				memset(buf, 'y', sizeof(buf));
				_exit(write(fd, buf, sizeof(buf)) < 0 ? 1 : 0);
			}
			_exit(msync(m, sizeof(buf), MS_SYNC) ? 1 : 0);
		}
		done = reap_within(pid, &status, 10000);
		tap(done && shm->notify_sent > 0,
		    "%s: %s: the daemon's notification does not wait for its own WRITE",
		    s->name, what[k]);
		if (!done) {
			deadlock_recover(pid);
			munmap(m, sizeof(buf));
			close(fd);
			return;
		}
		tap(shm->notify_ret >= 0, "%s: %s: the notification succeeded (%d)", s->name,
		    what[k], shm->notify_ret);
		munmap(m, sizeof(buf));
		close(fd);
	}
}

/*
 * NOTIFY_INVAL_INODE for a node being evicted whose eviction waits for
 * the sending thread: readahead READs (pages locked) are held by the only
 * server thread, the file is closed and unlinked, so unlink's last iput
 * evicts it and truncate_inode_pages_final() waits on those pages.
 */
static void client_notify_evicting(const struct scenario *s)
{
	int fd, status;
	pid_t pid;
	bool done;

	if (!find_session()) {
		tap(false, "%s: no sysfs session", s->name);
		return;
	}
	fd = open(path_file, O_RDONLY);
	if (fd < 0) {
		tap(false, "%s: open: %s", s->name, strerror(errno));
		return;
	}
	shm->armed = 1;
	errno = posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
	tap(wait_for(shm->held > 0, 5000), "%s: readahead READs held by the daemon (%s)",
	    s->name, strerror(errno));
	/* the last close evicts (entry TTL 0: the dentry dies with its last use) */
	pid = fork();
	if (pid == 0) {
		msleep(300);	/* after the parent's close: this one is the last */
		_exit(close(fd) ? 1 : 0);
	}
	close(fd);
	msleep(1000);	/* the child's close is evicting now, waiting on the pages */
	shm->release = 1;
	done = reap_within(pid, &status, 15000);
	tap(done && shm->notify_sent > 0,
	    "%s: INVAL_INODE for a node being evicted does not wait for the eviction", s->name);
	if (!done) {
		deadlock_recover(pid);
		return;
	}
	tap(shm->notify_ret >= 0 || shm->notify_ret == -ENOENT,
	    "%s: the notification succeeded or found no node (%d)", s->name, shm->notify_ret);
	tap(WIFEXITED(status) && !WEXITSTATUS(status), "%s: close succeeded", s->name);
}

/*
 * INVAL_ENTRY (or DELETE) of a closed file whose readahead READs the only
 * server thread holds: the notification must return before the READs are
 * answered (the eviction it causes waits for them in a worker).
 */
static void client_notify_entry_evicting(const struct scenario *s)
{
	int fd;

	if (!find_session()) {
		tap(false, "%s: no sysfs session", s->name);
		return;
	}
	fd = open(path_file, O_RDONLY);
	if (fd < 0) {
		tap(false, "%s: open: %s", s->name, strerror(errno));
		return;
	}
	shm->armed = 1;
	errno = posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
	tap(wait_for(shm->held > 0, 5000), "%s: readahead READs held by the daemon (%s)",
	    s->name, strerror(errno));
	close(fd);	/* the dentry stays cached (TTL 60 s), unused */
	shm->release = 1;
	if (!tap(wait_for(shm->notify_sent > 0 && !shm->held, 15000),
		 "%s: the notification does not wait for the eviction it causes", s->name)) {
		deadlock_recover(0);
		wait_for(shm->notify_sent > 0, 10000);
		return;
	}
	tap(shm->notify_ret >= 0, "%s: the notification succeeded (%d)", s->name,
	    shm->notify_ret);
}

static void client_otrunc_no_open(const struct scenario *s)
{
	int fd;

	fd = open(path_file, O_RDWR);	/* the daemon answers ENOSYS: no_open */
	if (fd >= 0)
		close(fd);
	tap(fd >= 0 && shm->open_enosys == 1, "%s: first open (OPEN answered ENOSYS)",
	    s->name);
	fd = open(path_file, O_RDWR | O_TRUNC);
	tap(fd >= 0, "%s: open(O_TRUNC) (%s)", s->name, fd < 0 ? strerror(errno) : "ok");
	if (fd >= 0)
		close(fd);
	tap(shm->open_enosys == 1, "%s: no OPEN sent after ENOSYS (%d)", s->name,
	    shm->open_enosys);
	tap(shm->setattr_size0 == 1, "%s: open(O_TRUNC) sent SETATTR size 0 (%d)", s->name,
	    shm->setattr_size0);
}

/*
 * NOTIFY_INVAL_ENTRY and NOTIFY_DELETE for a directory whose inode lock a
 * client holds (mkdir) while it waits for the sending thread.
 */
static void client_notify_entry_mkdir(const struct scenario *s)
{
	char path[4200];
	struct stat st;
	int status;
	pid_t pid;
	bool done;

	if (!find_session()) {
		tap(false, "%s: no sysfs session", s->name);
		return;
	}
	if (stat(path_dir, &st))	/* "dir" cached: DELETE finds it */
		diag("stat(dir): %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/newdir", mnt);
	pid = fork();
	if (pid == 0)
		_exit(mkdir(path, 0755) && errno == EEXIST ? 0 : 1);
	done = reap_within(pid, &status, 10000);
	tap(done && shm->notify_sent > 0,
	    "%s: INVAL_ENTRY/DELETE do not wait for the parent's lock held by mkdir", s->name);
	if (!done) {
		deadlock_recover(pid);
		return;
	}
	tap(WIFEXITED(status) && !WEXITSTATUS(status), "%s: mkdir got the daemon's EEXIST",
	    s->name);
	tap(shm->notify_ret >= 0 || shm->notify_ret == -ENOENT,
	    "%s: INVAL_ENTRY succeeded or found no entry (%d)", s->name, shm->notify_ret);
	tap(shm->notify_ret2 >= 0 || shm->notify_ret2 == -ENOENT,
	    "%s: DELETE succeeded or found no entry (%d)", s->name, shm->notify_ret2);
	tap(stat(path_dir, &st) == 0 && S_ISDIR(st.st_mode),
	    "%s: \"dir\" is looked up again afterwards", s->name);
}

/*
 * flock(LOCK_EX) on one open file, then close() it while the daemon holds
 * the RELEASE (asynchronous): close must have unlocked by itself (SETLK
 * F_UNLCK, FUSE_LK_FLOCK, same owner) before that RELEASE, so that a
 * flock(LOCK_EX|LOCK_NB) right after close() returns succeeds. The second
 * open file is opened before the close: a new struct file at the address
 * of the closed one would have the same lock owner, and the daemon would
 * grant the lock whatever close did.
 */
static void client_flock_close(const struct scenario *s)
{
	int fd1, fd2, err;

	fd1 = open(path_file, O_RDWR);
	fd2 = open(path_file, O_RDWR);
	if (fd1 < 0 || fd2 < 0) {
		tap(false, "%s: open: %s", s->name, strerror(errno));
		goto out;
	}
	err = flock(fd1, LOCK_EX) ? errno : 0;
	tap(!err && shm->lk_holder && shm->lk_holder == shm->lk_owner1,
	    "%s: flock(LOCK_EX) granted by the daemon (%s)", s->name, strerror(err));
	shm->armed = 1;
	close(fd1);
	fd1 = -1;
	tap(wait_for(shm->lk_release_seq > 0, 5000),
	    "%s: close() sent the RELEASE, the daemon holds it", s->name);
	tap(shm->lk_release_unlocks, "%s: the RELEASE carries FUSE_RELEASE_FLOCK_UNLOCK and the owner",
	    s->name);
	tap(shm->lk_unlock_seq > 0 && shm->lk_unlock_seq < shm->lk_release_seq,
	    "%s: SETLK F_UNLCK (flock) of the owner came before the RELEASE (requests #%d, #%d)",
	    s->name, shm->lk_unlock_seq, shm->lk_release_seq);
	err = flock(fd2, LOCK_EX | LOCK_NB) ? errno : 0;
	tap(!err, "%s: flock(LOCK_EX|LOCK_NB) on another open file right after close() succeeds (%s)",
	    s->name, err ? strerror(err) : "granted");
	shm->armed = 0;
	shm->release = 1;
	tap(wait_for(!shm->held, 5000), "%s: the held RELEASE is answered", s->name);
out:
	if (fd1 >= 0)
		close(fd1);
	if (fd2 >= 0)
		close(fd2);
}

static sigjmp_buf sigbus_env;
static volatile sig_atomic_t got_sigbus;

static void on_sigbus(int sig)
{
	(void)sig;
	got_sigbus = 1;
	siglongjmp(sigbus_env, 1);
}

static long meminfo_kb(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = strtol(line + strlen(key) + 1, NULL, 10);
	fclose(f);
	return v;
}

/*
 * Another client truncates "file" from 8 MiB to 4 KiB while we hold it
 * mmapped with every page dirty: once the daemon reports the size, pages
 * past the new EOF are gone (a touch gets SIGBUS), not redirtied forever.
 */
static void client_shrink_dirty(const struct scenario *s)
{
	size_t size = 8 << 20;
	long dirty_before, dirty_after;
	struct stat st;
	int fd;
	char *m;

	m = scenario_map_file(s, size, &fd);
	if (!m)
		return;
	sync();
	dirty_before = meminfo_kb("Dirty");
	memset(m, 'x', size);
	shm->file_size = 4096;
	if (stat(path_file, &st))
		st.st_size = -errno;
	tap(st.st_size == 4096, "%s: stat shows the daemon's new size (%lld)", s->name,
	    (long long)st.st_size);
	tap(fsync(fd) == 0, "%s: fsync", s->name);
	sync();
	dirty_after = meminfo_kb("Dirty");
	tap(dirty_after - dirty_before < 4096,
	    "%s: the 8 MiB past the new EOF are not left dirty (Dirty %ld -> %ld kB)",
	    s->name, dirty_before, dirty_after);
	tap(shm->write_past_eof == 0, "%s: no WRITE past the new EOF (%d)", s->name,
	    shm->write_past_eof);
	/* in this process: a child would not inherit the mapped pages */
	signal(SIGBUS, on_sigbus);
	got_sigbus = 0;
	if (!sigsetjmp(sigbus_env, 1)) {
		volatile char c = m[size / 2];

		(void)c;
	}
	signal(SIGBUS, SIG_DFL);
	tap(got_sigbus, "%s: a page past the new EOF is gone (touching it: SIGBUS)", s->name);
	munmap(m, size);
	close(fd);
}

/*
 * The daemon reports "file" shrunk to 100 bytes while its first page is
 * cached, then a local ftruncate extends it to 4096: bytes 100-4095 read
 * back as zeros, not the old cached bytes.
 */
static void client_shrink_extend(const struct scenario *s)
{
	static char buf[8192];
	struct stat st;
	size_t i;
	int fd;

	fd = open(path_file, O_RDWR);
	if (fd < 0) {
		tap(false, "%s: open: %s", s->name, strerror(errno));
		return;
	}
	tap(pread(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf), "%s: first page cached",
	    s->name);
	shm->file_size = 100;
	if (stat(path_file, &st))
		st.st_size = -errno;
	tap(st.st_size == 100, "%s: stat shows the daemon's new size (%lld)", s->name,
	    (long long)st.st_size);
	tap(ftruncate(fd, 4096) == 0, "%s: ftruncate up to 4096", s->name);
	memset(buf, 'x', sizeof(buf));
	tap(pread(fd, buf, 4096, 0) == 4096, "%s: read 4096 bytes back", s->name);
	for (i = 100; i < 4096 && !buf[i]; i++)
		;
	tap(buf[0] == 'A' && buf[99] == 'A' && i == 4096,
	    "%s: bytes 100-4095 read as zeros (first non-zero at %zu: 0x%02x)", s->name, i,
	    i < 4096 ? (unsigned char)buf[i] : 0);
	close(fd);
}

/*
 * open(O_TRUNC) with atomic_o_trunc while writeback's WRITE is in the
 * daemon: the OPEN (the daemon's truncate) must wait for it, and no WRITE
 * of the old pages may follow.
 */
static void client_otrunc_writeback(const struct scenario *s)
{
	pid_t wb, op;
	int fd, status;
	bool done;
	char *m;

	m = scenario_map_file(s, 16384, &fd);
	if (!m)
		return;
	memset(m, 'x', 16384);
	shm->armed = 1;
	wb = fork();
	if (wb == 0)
		_exit(fsync(fd) ? 1 : 0);
	tap(wait_for(shm->held > 0, 5000), "%s: writeback's WRITE held by the daemon", s->name);
	op = fork();
	if (op == 0) {
		int t = open(path_file, O_RDWR | O_TRUNC);

		_exit(t < 0 ? 1 : 0);
	}
	msleep(500);
	shm->armed = 0;
	shm->release = 1;
	done = reap_within(op, &status, 10000);
	tap(done && WIFEXITED(status) && !WEXITSTATUS(status), "%s: open(O_TRUNC) succeeded",
	    s->name);
	if (!done)
		deadlock_recover(op);
	done = reap_within(wb, &status, 10000);
	if (!done)
		deadlock_recover(wb);
	munmap(m, 16384);
	close(fd);
	tap(shm->otrunc_opens > 0, "%s: the OPEN carried O_TRUNC", s->name);
	tap(!shm->otrunc_overtook, "%s: OPEN(O_TRUNC) waited for the WRITE in flight",
	    s->name);
	tap(!shm->write_after_otrunc, "%s: no WRITE after OPEN(O_TRUNC) (%d)", s->name,
	    shm->write_after_otrunc);
}

/*
 * open(O_TRUNC) with atomic_o_trunc whose OPEN fails (EIO) after the
 * daemon truncated: the 8192 cached bytes and the cached size (valid
 * for 60 s) must not be served any more. With otrunc_refill the daemon's
 * attributes look as before: the next open must drop the pages anyway.
 */
static void client_otrunc_eio(const struct scenario *s)
{
	static char buf[8192];
	struct stat st;
	ssize_t n;
	int fd, t;

	fd = open(path_file, O_RDONLY);
	if (fd < 0) {
		tap(false, "%s: open: %s", s->name, strerror(errno));
		return;
	}
	n = pread(fd, buf, sizeof(buf), 0);
	tap(n == (ssize_t)sizeof(buf) && buf[0] == 'A' && data_ok(buf, n, 'A'),
	    "%s: 8192 bytes of 'A' read and cached (%zd)", s->name, n);
	/* a read expires the attributes (atime): cache them again */
	if (stat(path_file, &st))
		st.st_size = -errno;
	tap(st.st_size == 8192, "%s: stat caches size 8192 (%lld)", s->name,
	    (long long)st.st_size);
	t = open(path_file, O_WRONLY | O_TRUNC);
	tap(t < 0 && errno == EIO, "%s: open(O_TRUNC) fails with the daemon's EIO (%s)",
	    s->name, t < 0 ? strerror(errno) : "opened");
	if (t >= 0)
		close(t);
	tap(shm->otrunc_opens == 1, "%s: the OPEN carried O_TRUNC", s->name);
	if (otrunc_refill) {
		close(fd);
		fd = open(path_file, O_RDONLY);
		memset(buf, 0, sizeof(buf));
		n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf), 0);
		tap(n == (ssize_t)sizeof(buf) && buf[0] == 'B' && data_ok(buf, n, 'B'),
		    "%s: a new open file reads the daemon's 'B's, not the cached 'A's (%zd, '%c')",
		    s->name, n, n > 0 ? buf[0] : '-');
		if (fd >= 0)
			close(fd);
		return;
	}
	if (stat(path_file, &st))
		st.st_size = -errno;
	tap(st.st_size == 0, "%s: stat shows the daemon's size 0, not the cached 8192 (%lld)",
	    s->name, (long long)st.st_size);
	memset(buf, 0, sizeof(buf));
	n = pread(fd, buf, sizeof(buf), 0);
	tap(n == 0, "%s: read on the open file returns 0 bytes, not the cached ones (%zd, '%c')",
	    s->name, n, n > 0 ? buf[0] : '-');
	close(fd);
	fd = open(path_file, O_RDONLY);
	n = fd < 0 ? -1 : pread(fd, buf, sizeof(buf), 0);
	tap(n == 0, "%s: read on a new open file returns 0 bytes (%zd)", s->name, n);
	if (fd >= 0)
		close(fd);
}

/*
 * An mmap store into the destination of a copy_file_range in progress
 * waits for it; the page is not written back over the copied bytes.
 */
static void client_copy_mmap_race(const struct scenario *s)
{
	pid_t cp, st;
	int fd, status;
	bool early;
	char *m;

	m = scenario_map_file(s, 16384, &fd);
	if (!m)
		return;
	tap(m[100] == 'A', "%s: destination page cached", s->name);
	shm->armed = 1;
	cp = fork();
	if (cp == 0) {
		loff_t in = 8192, out = 0;

		_exit(copy_file_range(fd, &in, fd, &out, 4096, 0) == 4096 ? 0 : 1);
	}
	if (!wait_for(shm->copy_held, 5000)) {
		tap(false, "%s: COPY_FILE_RANGE reached the daemon", s->name);
		shm->release = 1;
		waitpid(cp, &status, 0);
		goto out;
	}
	st = fork();
	if (st == 0) {
		/* keep the mapping until the copy is done: exit writes it back */
		m[100] = 'x';
		shm->stored = 1;
		while (!shm->store_exit)
			msleep(10);
		_exit(0);
	}
	early = wait_for(shm->stored, 1000);
	tap(!early, "%s: the mmap store waits for the copy", s->name);
	shm->release = 1;
	if (!reap_within(cp, &status, 10000))
		deadlock_recover(cp);
	tap(WIFEXITED(status) && !WEXITSTATUS(status), "%s: copy_file_range copied", s->name);
	tap(wait_for(shm->stored, 10000), "%s: the store is done after the copy", s->name);
	shm->store_exit = 1;
	if (!reap_within(st, &status, 10000))
		deadlock_recover(st);
	tap(fsync(fd) == 0, "%s: fsync", s->name);
	tap(m[100] == 'x' && m[101] == 'C', "%s: the page holds the copy and the store",
	    s->name);
	tap(!shm->stale_write, "%s: no WRITE put pre-copy bytes over the copied range",
	    s->name);
out:
	munmap(m, 16384);
	close(fd);
}

/* Bad lengths on the first reply to each opcode: each operation twice. */
static void client_badlen(const struct scenario *s)
{
	static char buf[65536];
	unsigned int odd = 0, round;

	for (round = 0; round < 2; round++) {
		struct statfs sf;
		struct stat st;
		DIR *d;
		ssize_t n;
		int fd, e;

#define CHECK_OP(name, expr) do {					\
		errno = 0;						\
		e = (expr) ? errno : 0;					\
		if (e && e != EIO && e != ENOENT && e != ENOSYS &&	\
		    e != EOPNOTSUPP && e != ENODATA && e != ERANGE &&	\
		    e != EPERM && e != ENOTSUP) {			\
			odd++;						\
			diag("round %u: %s: %s", round, name, strerror(e)); \
		}							\
	} while (0)
		CHECK_OP("stat", stat(path_file, &st));
		CHECK_OP("statfs", statfs(mnt, &sf));
		CHECK_OP("readlink", readlink(path_link, buf, sizeof(buf)) < 0);
		CHECK_OP("getxattr", getxattr(path_file, "user.x", buf, 64) < 0);
		CHECK_OP("listxattr", listxattr(path_file, buf, sizeof(buf)) < 0);
		CHECK_OP("chmod", chmod(path_file, 0644));
		CHECK_OP("truncate", truncate(path_file, tinyfs_file_size()));
		CHECK_OP("mkdir", mkdir(path_dir, 0755) && errno == EEXIST ? (errno = 0, 0) : 0);
		d = opendir(mnt);
		if (d) {
			while (readdir(d))
				;
			closedir(d);
		}
		fd = open(path_file, O_RDWR);
		CHECK_OP("open", fd < 0);
		if (fd >= 0) {
			n = pread(fd, buf, sizeof(buf), 0);
			CHECK_OP("read", n < 0);
			if (n > 0 && !data_ok(buf, n, 'A')) {
				odd++;
				diag("round %u: read returned bytes that are not the daemon's", round);
			}
			CHECK_OP("write", pwrite(fd, buf, 4096, 0) < 0);
			CHECK_OP("fsync", fsync(fd));
			close(fd);
		}
#undef CHECK_OP
	}
	tap(!odd, "%s: every operation succeeds or fails with a plain errno (EIO...)", s->name);
}

/* The daemon dies with dirty and mmapped pages. */
static void client_die_dirty(const struct scenario *s)
{
	size_t size = tinyfs_file_size();
	struct timespec t0, t1;
	int fd, err, status;
	pid_t pid;
	char *m;

	m = scenario_map_file(s, size, &fd);
	if (!m)
		return;
	memset(m, 'z', size);		/* dirty every page */
	kill(server_pid, SIGKILL);
	waitpid(server_pid, &status, 0);
	server_pid = 0;
	err = fsync(fd) ? errno : 0;
	tap(err == EIO || err == ENOTCONN, "%s: fsync after the daemon died reports EIO or ENOTCONN",
	    s->name);
	if (err != EIO && err != ENOTCONN)
		diag("fsync: %s", err ? strerror(err) : "success");
	m[0] = 'q';			/* dirty again after the abort */
	munmap(m, size);
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid == 0) {
		sync();
		_exit(0);
	}
	waitpid(pid, &status, 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tap(WIFEXITED(status) && t1.tv_sec - t0.tv_sec < 20, "%s: sync(2) finishes", s->name);
}

/*
 * Fuzz workload: random operations, each must return (alarm catches hangs).
 * Opens are non-blocking: a fuzzed attribute may turn the file into a FIFO
 * (a new inode after "node changed type"), and open(2) of a FIFO without a
 * writer waits, as POSIX says, which is not a hang of the filesystem.
 */
static volatile sig_atomic_t fuzz_op = -1;

/* A hung operation: say which before dying of the alarm. */
static void fuzz_alarm(int sig)
{
	char msg[96];
	int n;

	n = snprintf(msg, sizeof(msg), "# fuzz: operation %d did not return in 30 s\n",
		     (int)fuzz_op);
	if (write(1, msg, n) < 0)
		n = 0;
	signal(sig, SIG_DFL);
	raise(sig);
}

static void client_fuzz(const struct scenario *s)
{
	static char buf[1 << 20] __attribute__((aligned(4096)));
	size_t fsz = tinyfs_cfg.file_size ? tinyfs_cfg.file_size : TINYFS_FILE_SIZE;
	struct timespec t0, t1;
	unsigned long iters = 0, too_long = 0;
	uint64_t st_ = fuzz_seed * 7 + 1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct statfs sf;
		struct stat st;
		ssize_t n;
		size_t len;
		off_t off;
		DIR *d;
		char *m;
		int fd;

		st_ ^= st_ << 13;
		st_ ^= st_ >> 7;
		st_ ^= st_ << 17;
		off = st_ % (fsz + 8192);
		len = 1 + (st_ >> 20) % sizeof(buf);
		fuzz_op = (st_ >> 40) % 12;
		signal(SIGALRM, fuzz_alarm);
		alarm(30);
		switch (fuzz_op) {
		case 0:
			stat(path_file, &st);
			break;
		case 1:
			statfs(mnt, &sf);
			break;
		case 2:
			d = opendir(mnt);
			if (d) {
				while (readdir(d))
					;
				closedir(d);
			}
			break;
		case 3:
			n = readlink(path_link, buf, 4096);
			if (n > 4096)
				too_long++;
			break;
		case 4:
			n = getxattr(path_file, "user.x", buf, 64);
			if (n > 64)
				too_long++;
			listxattr(path_file, buf, 256);
			break;
		case 5:
		case 6:
			fd = open(path_file, O_RDONLY | O_NONBLOCK);
			if (fd >= 0) {
				n = pread(fd, buf, len, off);
				if (n > (ssize_t)len)
					too_long++;
				close(fd);
			}
			break;
		case 7:
			fd = open(path_file, O_RDONLY | O_DIRECT | O_NONBLOCK);
			if (fd >= 0) {
				n = pread(fd, buf, (len + 4095) & ~4095UL, off & ~4095L);
				if (n > (ssize_t)((len + 4095) & ~4095UL))
					too_long++;
				close(fd);
			}
			break;
		case 8:
			fd = open(path_file, O_RDWR | O_NONBLOCK);
			if (fd >= 0) {
				if (pwrite(fd, buf, len, off) > (ssize_t)len)
					too_long++;
				fsync(fd);
				close(fd);
			}
			break;
		case 9:
			fd = open(path_file, O_RDWR | O_NONBLOCK);
			if (fd >= 0 && !fstat(fd, &st) && st.st_size > 0 &&
			    st.st_size <= (off_t)sizeof(buf)) {
				m = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
				if (m != MAP_FAILED) {
					/* pages past a shrunk EOF would SIGBUS: only msync */
					msync(m, st.st_size, MS_SYNC);
					munmap(m, st.st_size);
				}
			}
			if (fd >= 0)
				close(fd);
			break;
		case 10:
			chmod(path_file, 0644);
			truncate(path_file, fsz);
			break;
		default:
			mkdir(path_dir, 0755);
			unlink(path_link);
			rename(path_link, path_dir);
			break;
		}
		alarm(0);
		signal(SIGALRM, SIG_DFL);
		iters++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((unsigned long)(t1.tv_sec - t0.tv_sec) < FUZZ_ROUND_SECONDS);
	alarm(60);
	diag("fuzz: %lu operations in %d s", iters, FUZZ_ROUND_SECONDS);
	tap(iters > 0 && !too_long, "%s: %lu operations returned, none with more bytes than asked (seed %llu)",
	    s->name, iters, (unsigned long long)fuzz_seed);
}

/*
 * Races of the request path under a hostile daemon: a second daemon
 * process answers guessed uniques (the next ones per queue) while the
 * first reads and batches its answers, readers are interrupted without
 * pause, and the session is aborted in the middle. A reader must never
 * get success with a buffer the daemon did not fill (abort ordering) and
 * the kernel must not touch a request after another thread answered it.
 */
#define RACE_READERS	6
#define RACE_IO		65536

static bool bad_race_batch(int fd, struct req *r)
{
	if (r->h->opcode != FUSE_READ)
		return false;
	shm->held_unique = r->h->unique;
	hold(r);
	if (nheld >= 8)
		answer_held(fd);
	return true;
}

static void idle_race(int fd)
{
	answer_held(fd);
}

/*
 * With two CPUs or more the reading daemon runs alone on CPU 0 and
 * everything else on CPU 1: a window widened on CPU 0 (mq_kdelay placed
 * after a call runs its wait with interrupts off) must not hold up the
 * answer, nor the waiter's wakeup, that has to land inside it. No race
 * scenario loads mq_kdelay at such a point today (selftests/badreply/
 * guest.sh); the pinning keeps the two sides on different CPUs anyway.
 */
static void race_pin(bool reader)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(reader ? 0 : 1, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		diag("sched_setaffinity: %s", strerror(errno));
}

/* The second daemon process: answers uniques before the first one reads them. */
static int serve_race(int fd)
{
	static char data[RACE_IO];
	pid_t pid = fork();

	race_pin(pid != 0);
	if (pid)
		return fd;
	memset(data, 'A', sizeof(data));
	alarm(60);
	for (;;) {
		uint64_t u = shm->held_unique, seq = u >> 9;
		int k, q;

		if (shm->die)
			_exit(0);
		if (!u) {
			/* not before the first READ: a guess could answer INIT */
			usleep(1000);
			continue;
		}
		for (k = 1; k <= 3; k++)
			for (q = 0; q < 2; q++)
				if (reply(fd, ((seq + k) << 9) | ((uint64_t)q << 1), 0, data,
					  4096) == -ENODEV)
					_exit(0);
	}
}

static volatile sig_atomic_t race_sigs;

static void race_sig(int sig)
{
	(void)sig;
	race_sigs++;
}

static void race_reader(unsigned int id)
{
	static char buf[RACE_IO] __attribute__((aligned(4096)));
	unsigned int i;
	int fd = -1;

	/* guessed answers may hit OPEN too: EIO, try again */
	for (i = 0; i < 1000 && fd < 0; i++) {
		fd = open(path_file, O_RDONLY | O_DIRECT);
		if (fd < 0 && errno != EIO && errno != EINTR)
			_exit(errno == ENOTCONN ? 0 : 3);
	}
	if (fd < 0)
		_exit(3);
	for (i = 0;; i++) {
		off_t off = (((off_t)i * 7 + id) % 4) * RACE_IO;
		ssize_t n, j;

		memset(buf, 0x5a, sizeof(buf));
		n = pread(fd, buf, sizeof(buf), off);
		if (n < 0) {
			if (errno == EINTR || errno == EIO)
				continue;
			_exit(errno == ENOTCONN || errno == ENODEV ? 0 : 4);
		}
		for (j = 0; j < n; j++)
			if (buf[j] != 'A' && buf[j] != 0)
				_exit(1);	/* success with bytes nobody wrote */
	}
}

static void client_race(const struct scenario *s)
{
	struct sigaction sa = { .sa_handler = race_sig };
	pid_t readers[RACE_READERS], sig;
	unsigned int i, bad = 0, odd = 0;
	cpu_set_t all_cpus;
	int status;

	if (!find_session()) {
		tap(false, "%s: no sysfs session", s->name);
		return;
	}
	/* readers inherit it before the first signal can arrive; no SA_RESTART */
	sigaction(SIGUSR1, &sa, NULL);
	sched_getaffinity(0, sizeof(all_cpus), &all_cpus);
	race_pin(false);	/* readers and signaller inherit it */
	for (i = 0; i < RACE_READERS; i++) {
		readers[i] = fork();
		if (readers[i] == 0)
			race_reader(i);
	}
	sig = fork();
	if (sig == 0) {
		for (;;) {
			for (i = 0; i < RACE_READERS; i++)
				kill(readers[i], SIGUSR1);
			usleep(200);
		}
	}
	msleep(1500);
	sess_abort();
	msleep(200);
	kill(sig, SIGKILL);
	waitpid(sig, NULL, 0);
	shm->die = 1;
	for (i = 0; i < RACE_READERS; i++) {
		waitpid(readers[i], &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
			bad++;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			odd++;
			diag("reader %u: %s %d", i, WIFEXITED(status) ? "exit" : "signal",
			     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		}
	}
	sched_setaffinity(0, sizeof(all_cpus), &all_cpus);
	signal(SIGUSR1, SIG_DFL);
	tap(!bad, "%s: no read succeeded with bytes the daemon never sent (%u readers did)",
	    s->name, bad);
	tap(!odd, "%s: every reader ended with ENOTCONN after the abort (%u did not)",
	    s->name, odd);
}

/*
 * A reply racing the end of the daemon's read(): once the kernel has put
 * a request where replies find it and dropped the queue lock, a second
 * daemon thread may answer it and its waiter may free it while the first
 * thread is still inside read(). The kernel must not touch the request
 * after that point. Readers wait on small O_DIRECT READs the reading
 * daemon never answers; a second daemon process answers the next unique
 * of each queue as fast as it can; a touch of a freed request reads
 * slub_debug poison and oopses. A stress test: with mq_kdelay after the
 * unlock in mqfuse_queue_read_done() (20 ms) it did not fail on
 * 7114f35, where that function reads the request after unlocking, and
 * today's function has no instruction after the unlock to delay (it
 * tail-calls it), so the suite runs it without a widened window.
 */
#define EARLY_READERS	4
#define EARLY_ANSWERS	20

static bool bad_early_reads(int fd, struct req *r)
{
	(void)fd;
	if (!shm->armed)
		return false;
	shm->held_unique = r->h->unique;	/* the second process answers the next */
	return r->h->opcode == FUSE_READ;	/* left to the second process */
}

static int serve_early(int fd)
{
	static char data[4096];
	pid_t pid = fork();

	race_pin(pid != 0);
	if (pid)
		return fd;
	memset(data, 'A', sizeof(data));
	alarm(120);
	for (;;) {
		uint64_t seq = shm->held_unique >> 9;
		int k, q;

		if (shm->die)
			_exit(0);
		if (!seq || !shm->armed) {
			usleep(1000);
			continue;
		}
		for (k = 0; k <= 2; k++)
			for (q = 0; q < 2; q++) {
				ssize_t n = reply(fd, ((seq + k) << 9) | ((uint64_t)q << 1), 0,
						  data, sizeof(data));

				if (n == -ENODEV)
					_exit(0);
				if (n > 0)
					__atomic_add_fetch(&shm->race_reads, 1, __ATOMIC_SEQ_CST);
			}
	}
}

static void client_early_reply(const struct scenario *s)
{
	static char buf[4096] __attribute__((aligned(4096)));
	pid_t readers[EARLY_READERS];
	unsigned int i, odd = 0;
	cpu_set_t all_cpus;
	int status;

	if (!find_session()) {
		tap(false, "%s: no sysfs session", s->name);
		return;
	}
	sched_getaffinity(0, sizeof(all_cpus), &all_cpus);
	race_pin(false);
	for (i = 0; i < EARLY_READERS; i++) {
		readers[i] = fork();
		if (readers[i] == 0) {
			int fd = open(path_file, O_RDONLY | O_DIRECT);

			if (fd < 0)
				_exit(3);
			__atomic_add_fetch(&shm->held, 1, __ATOMIC_SEQ_CST);
			while (!shm->armed)
				usleep(1000);
			for (;;) {
				ssize_t n = pread(fd, buf, sizeof(buf), 0);

				if (n < 0)
					_exit(errno == ENOTCONN || errno == ENODEV ? 0 : 4);
				if (n != (ssize_t)sizeof(buf) || buf[0] != 'A')
					_exit(1);
			}
		}
	}
	tap(wait_for(shm->held >= EARLY_READERS, 10000), "%s: %d of %d readers opened the file",
	    s->name, shm->held, EARLY_READERS);
	/* the unique of the last request before the readers' READs */
	shm->held_unique = 0;
	shm->armed = 1;
	if (!wait_for(shm->race_reads >= EARLY_ANSWERS, 30000))
		diag("%d READs answered by the second daemon process in 30 s", shm->race_reads);
	sess_abort();
	shm->die = 1;
	for (i = 0; i < EARLY_READERS; i++) {
		waitpid(readers[i], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			odd++;
			diag("reader %u: %s %d", i, WIFEXITED(status) ? "exit" : "signal",
			     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		}
	}
	sched_setaffinity(0, sizeof(all_cpus), &all_cpus);
	tap(shm->race_reads >= EARLY_ANSWERS, "%s: the second daemon process answered %d READs (%d wanted)",
	    s->name, shm->race_reads, EARLY_ANSWERS);
	tap(!odd, "%s: every reader read the answers and ended with ENOTCONN (%u did not)",
	    s->name, odd);
}

/*
 * Abort ordering: the abort must fill in a request's error before anyone
 * can see it finished. N readers wait (interruptible, never signalled
 * before) on READs the daemon holds; the session is aborted, and while
 * the abort ends the requests one by one each reader gets one signal. A
 * reader woken then must see ENOTCONN (or EINTR/EIO), never success with
 * a buffer nobody filled. The suite loads mq_kdelay on mqfuse_req_end
 * around this scenario so that the abort's loop takes milliseconds per
 * request (without it the window is a few instructions wide).
 */
#define ABSIG_READERS	6

/* mq_kdelay's parameter @name, or -1 when it is not loaded. */
static long kdelay_param(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/mq_kdelay/parameters/%s", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* mq_kdelay's hit count, or -1 when it is not loaded. */
static int kdelay_hits(void)
{
	return (int)kdelay_param("hits");
}
#define ABSIG_SPACING	(2 << 20)	/* beyond any readahead window: one READ each */

static void absig_reader(unsigned int id)
{
	static char buf[RACE_IO] __attribute__((aligned(4096)));
	bool direct = !(id & 1);
	int fd = open(path_file, O_RDONLY | (direct ? O_DIRECT : 0));
	ssize_t n;

	if (fd < 0)
		_exit(3);
	memset(buf, 0x5a, sizeof(buf));
	n = pread(fd, buf, sizeof(buf), (off_t)id * ABSIG_SPACING);
	if (n >= 0) {
		diag("reader %u (%s): pread returned %zd, first byte 0x%02x; the daemon never answered",
		     id, direct ? "O_DIRECT" : "page cache", n, n > 0 ? (unsigned char)buf[0] : 0);
		_exit(1);
	}
	if (errno == ENOTCONN)
		_exit(0);
	if (errno == EINTR)
		_exit(5);
	if (errno == EIO)
		_exit(6);
	diag("reader %u: pread: %s", id, strerror(errno));
	_exit(4);
}

static void client_abort_signal(const struct scenario *s)
{
	struct sigaction sa = { .sa_handler = race_sig };
	pid_t readers[ABSIG_READERS], ab;
	unsigned int i, bad = 0, odd = 0, eintr = 0, eio = 0;
	int hits0, hits1;
	int status;

	if (!find_session()) {
		tap(false, "%s: no sysfs session", s->name);
		return;
	}
	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
	shm->armed = 1;
	for (i = 0; i < ABSIG_READERS; i++) {
		readers[i] = fork();
		if (readers[i] == 0)
			absig_reader(i);
	}
	tap(wait_for(shm->held >= ABSIG_READERS, 10000), "%s: %d of %d READs held by the daemon",
	    s->name, shm->held, ABSIG_READERS);
	hits0 = kdelay_hits();
	msleep(100);	/* the last readers are asleep in the wait, not on the way */
	ab = fork();
	if (ab == 0) {
		shm->aborting = 1;
		sess_abort();
		_exit(0);
	}
	wait_for(shm->aborting, 2000);
	/* one signal each, spread over the abort (mq_kdelay: 20 ms per request) */
	for (i = 0; i < ABSIG_READERS; i++) {
		msleep(i ? 15 : 3);
		kill(readers[i], SIGUSR1);
	}
	waitpid(ab, NULL, 0);
	hits1 = kdelay_hits();
	for (i = 0; i < ABSIG_READERS; i++) {
		waitpid(readers[i], &status, 0);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 1) {
			bad++;
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 5) {
			eintr++;
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 6) {
			eio++;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			odd++;
			diag("reader %u: %s %d", i, WIFEXITED(status) ? "exit" : "signal",
			     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		}
	}
	signal(SIGUSR1, SIG_DFL);
	diag("%s: readers ended with EINTR %u, EIO %u, ENOTCONN %u", s->name, eintr, eio,
	     ABSIG_READERS - bad - odd - eintr - eio);
	if (hits0 >= 0)
		tap(hits1 - hits0 >= ABSIG_READERS,
		    "%s: the abort went through the widened window for each READ (%d hits)",
		    s->name, hits1 - hits0);
	tap(!bad, "%s: no reader got success for a READ the daemon never answered (%u did)",
	    s->name, bad);
	tap(!odd, "%s: every reader ended with ENOTCONN, EINTR or EIO (%u did not)", s->name, odd);
}

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd < 0 || write(fd, "2", 1) != 1)
		diag("drop_caches: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Index of the first logged event at or after @from matching, or -1. */
static int ab_find(int from, uint32_t opcode, uint64_t nodeid, uint64_t val, bool any_val)
{
	int i, n = __atomic_load_n(&shm->nev, __ATOMIC_ACQUIRE);

	for (i = from; i < n; i++)
		if (shm->ev[i].opcode == opcode && (opcode == AB_EV_ANSWER ||
		    shm->ev[i].nodeid == nodeid) && (any_val || shm->ev[i].val == val))
			return i;
	return -1;
}

/* Events matching in [from, to); to < 0: up to the end. Adds their val to *sum. */
static int ab_count(int from, int to, uint32_t opcode, uint64_t nodeid, uint64_t *sum)
{
	int i, c = 0, n = __atomic_load_n(&shm->nev, __ATOMIC_ACQUIRE);

	if (to >= 0 && to < n)
		n = to;
	for (i = from; i < n; i++) {
		if (shm->ev[i].opcode != opcode || shm->ev[i].nodeid != nodeid)
			continue;
		c++;
		if (sum)
			*sum += shm->ev[i].val;
	}
	return c;
}

static const char *ab_opname(uint32_t op)
{
	switch (op) {
	case FUSE_OPEN: return "OPEN";
	case FUSE_OPENDIR: return "OPENDIR";
	case FUSE_CREATE: return "CREATE";
	case FUSE_READDIRPLUS: return "READDIRPLUS";
	}
	return "?";
}

/* OPEN/OPENDIR: one RELEASE(DIR) of the late handle; the node's FORGET only after it. */
static void ab_check_open(const struct scenario *s, uint32_t op)
{
	uint32_t rel_op = op == FUSE_OPEN ? FUSE_RELEASE : FUSE_RELEASEDIR;
	uint64_t node = op == FUSE_OPEN ? INO_FILE : INO_DIR, fh = AB_FH_BASE + op;
	int rel, nrel, before, after, i;

	wait_for(ab_find(0, rel_op, node, fh, false) >= 0, 5000);
	rel = ab_find(0, rel_op, node, fh, false);
	/* the opener's inode was evicted meanwhile; if not, evict it now */
	for (i = 0; i < 50 && rel >= 0 && ab_find(rel, FUSE_FORGET, node, 0, true) < 0; i++) {
		drop_caches();
		msleep(100);
	}
	nrel = ab_count(0, -1, rel_op, node, NULL);
	tap(rel >= 0 && nrel == 1,
	    "%s: %s of the abandoned handle (fh %#llx, node %llu): %d received (expected 1)",
	    s->name, rel_op == FUSE_RELEASE ? "RELEASE" : "RELEASEDIR",
	    (unsigned long long)fh, (unsigned long long)node, nrel);
	before = ab_count(0, rel < 0 ? -1 : rel, FUSE_FORGET, node, NULL);
	after = rel < 0 ? 0 : ab_count(rel, -1, FUSE_FORGET, node, NULL);
	tap(rel >= 0 && before == 0 && after >= 1,
	    "%s: FORGETs of node %llu before the RELEASE: %d (expected 0), after it: %d (expected at least 1)",
	    s->name, (unsigned long long)node, before, after);
}

/* CREATE: RELEASE of the late handle, then one FORGET of the new node. */
static void ab_check_create(const struct scenario *s)
{
	uint64_t fh = AB_FH_BASE + FUSE_CREATE, lookups = 0;
	int rel, fg, nrel, nfg;

	wait_for(ab_find(0, FUSE_FORGET, AB_NODE_NEW, 0, true) >= 0, 5000);
	msleep(200);	/* room for a second, wrong FORGET or RELEASE */
	rel = ab_find(0, FUSE_RELEASE, AB_NODE_NEW, fh, false);
	fg = ab_find(0, FUSE_FORGET, AB_NODE_NEW, 0, true);
	nrel = ab_count(0, -1, FUSE_RELEASE, AB_NODE_NEW, NULL);
	nfg = ab_count(0, -1, FUSE_FORGET, AB_NODE_NEW, &lookups);
	tap(rel >= 0 && nrel == 1,
	    "%s: RELEASE of the created handle (fh %#llx, node %d): %d received (expected 1)",
	    s->name, (unsigned long long)fh, AB_NODE_NEW, nrel);
	tap(nfg >= 1 && lookups == 1,
	    "%s: FORGET of node %d: %d messages, %llu lookups given back (expected 1)",
	    s->name, AB_NODE_NEW, nfg, (unsigned long long)lookups);
	tap(rel >= 0 && fg > rel,
	    "%s: the RELEASE of node %d came before its FORGET", s->name, AB_NODE_NEW);
}

/* READDIRPLUS: one FORGET per entry with a lookup; none for ".", ".." or the root. */
static void ab_check_readdirplus(const struct scenario *s)
{
	uint64_t lk[5] = { 0 };
	int other = 0, i, n;

	wait_for(ab_count(0, -1, FUSE_FORGET, INO_FILE, NULL) +
		 ab_count(0, -1, FUSE_FORGET, INO_DIR, NULL) +
		 ab_count(0, -1, FUSE_FORGET, INO_LINK, NULL) >= 3, 5000);
	msleep(300);	/* room for FORGETs that should not come */
	n = __atomic_load_n(&shm->nev, __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++) {
		if (shm->ev[i].opcode != FUSE_FORGET)
			continue;
		if (shm->ev[i].nodeid >= INO_FILE && shm->ev[i].nodeid <= INO_LINK)
			lk[shm->ev[i].nodeid] += shm->ev[i].val;
		else
			other++;
	}
	tap(lk[INO_FILE] == 1 && lk[INO_DIR] == 1 && lk[INO_LINK] == 1,
	    "%s: lookups given back for the listed entries: file %llu, dir %llu, link %llu (expected 1 each)",
	    s->name, (unsigned long long)lk[INO_FILE], (unsigned long long)lk[INO_DIR],
	    (unsigned long long)lk[INO_LINK]);
	tap(other == 0,
	    "%s: FORGETs of other nodes (\"..\" with a node, the root, nodeid 0): %d (expected 0)",
	    s->name, other);
}

/* See bad_notify_ancestor(). */
static void client_notify_ancestor(const struct scenario *s)
{
	char path[4200];
	struct stat st;
	int fd, done, fg;

	if (!find_session()) {
		tap(false, "%s: no sysfs session", s->name);
		return;
	}
	snprintf(path, sizeof(path), "%s/dir/sub/x", mnt);
	if (!tap(!stat(path, &st) && S_ISREG(st.st_mode), "%s: dir/sub/x looked up", s->name))
		diag("stat: %s", strerror(errno));
	fd = open(path_file, O_RDONLY);
	if (fd < 0) {
		tap(false, "%s: open: %s", s->name, strerror(errno));
		return;
	}
	shm->armed = 1;
	errno = posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
	tap(wait_for(shm->held > 0, 5000), "%s: readahead READs held by the daemon (%s)",
	    s->name, strerror(errno));
	close(fd);	/* the dentry stays cached (TTL 60 s), unused */
	msleep(NA_TTL * 1000 + 500);	/* "dir" and "sub" expire, unused */
	tap(ab_find(0, FUSE_FORGET, INO_DIR, 0, true) < 0 &&
	    ab_find(0, FUSE_FORGET, INO_SUB, 0, true) < 0,
	    "%s: \"dir\" and \"dir/sub\" are still cached", s->name);
	shm->release = 1;
	if (!tap(wait_for(shm->notify_sent > 0, 15000),
		 "%s: the notifications return while the daemon holds READs", s->name)) {
		deadlock_recover(0);
		wait_for(shm->notify_sent > 0, 10000);
		return;
	}
	tap(shm->worker_blocked, "%s: the worker evicts \"file\", waiting for the READs", s->name);
	tap(shm->notify_ret >= 0 && shm->notify_ret2 >= 0,
	    "%s: INVAL_ENTRY of \"file\" and of \"dir/sub/x\" succeeded (%d, %d)", s->name,
	    shm->notify_ret, shm->notify_ret2);
	done = ab_find(0, EV_NOTIFY_DONE, 0, 0, true);
	fg = ab_find(0, FUSE_FORGET, INO_DIR, 0, true);
	tap(done >= 0 && (fg < 0 || fg > done),
	    "%s: no FORGET of the ancestor \"dir\" queued by the notification's write (event %d, returned at %d)",
	    s->name, fg, done);
	tap(done >= 0 && wait_for(ab_find(done + 1, FUSE_FORGET, INO_DIR, 0, true) >= 0, 10000),
	    "%s: the worker evicts \"dir\" once the READs are answered", s->name);
}

static void client_abandoned(const struct scenario *s)
{
	uint32_t op = shm->ab_opcode;
	char path_new[4200];
	int status, ans;
	pid_t pid;

	snprintf(path_new, sizeof(path_new), "%s/new", mnt);
	shm->armed = 1;
	pid = fork();
	if (pid == 0) {
		DIR *d;

		switch (op) {
		case FUSE_OPEN:
			open(path_file, O_RDONLY);
			break;
		case FUSE_OPENDIR:
			open(path_dir, O_RDONLY | O_DIRECTORY);
			break;
		case FUSE_CREATE:
			open(path_new, O_CREAT | O_EXCL | O_RDWR, 0644);
			break;
		default:
			d = opendir(mnt);
			if (d)
				readdir(d);
			break;
		}
		_exit(0);
	}
	if (!wait_for(shm->held > 0, 5000)) {
		tap(false, "%s: the server got the %s", s->name, ab_opname(op));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return;
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	tap(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "%s: the waiter dies on SIGKILL while the daemon holds its %s", s->name,
	    ab_opname(op));
	shm->armed = 0;
	/* evict the dead opener's inode while its handle is held */
	drop_caches();
	msleep(200);
	shm->release = 1;
	wait_for(ab_find(0, AB_EV_ANSWER, 0, 0, true) >= 0, 5000);
	ans = ab_find(0, AB_EV_ANSWER, 0, 0, true);
	tap(ans >= 0 && shm->ev[ans].ret == 0,
	    "%s: the daemon's late successful %s answer is taken (write: %d)", s->name,
	    ab_opname(op), ans >= 0 ? shm->ev[ans].ret : -1);
	switch (op) {
	case FUSE_OPEN:
	case FUSE_OPENDIR:
		ab_check_open(s, op);
		break;
	case FUSE_CREATE:
		ab_check_create(s);
		break;
	default:
		ab_check_readdirplus(s);
		break;
	}
}

static void setup_ab_open(void) { shm->ab_opcode = FUSE_OPEN; }
static void setup_ab_opendir(void) { shm->ab_opcode = FUSE_OPENDIR; }
static void setup_ab_create(void) { shm->ab_opcode = FUSE_CREATE; }
static void setup_ab_readdirplus(void) { shm->ab_opcode = FUSE_READDIRPLUS; }

/*
 * umask 022, then create a file (0666), a directory (0777) and a FIFO
 * (0666) in the root. The mount has no default_permissions, so the VFS
 * leaves the umask to mqfuse: a daemon that agreed to FUSE_DONT_MASK gets
 * the modes as asked (it applies the umask, or a default ACL in its
 * place); any other daemon gets them masked by the kernel. Either way the
 * umask travels beside the mode.
 */
static void client_create_modes(const struct scenario *s)
{
	static const char *const what[3] = { "CREATE", "MKDIR", "MKNOD" };
	bool dont_mask = !strcmp(s->name, "create_mode_dont_mask");
	const uint32_t asked[3] = { S_IFREG | 0666, S_IFDIR | 0777, S_IFIFO | 0666 };
	char path[4200];
	int i, fd, err[3];

	umask(022);
	snprintf(path, sizeof(path), "%s/mk-file", mnt);
	fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0666);
	err[0] = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	snprintf(path, sizeof(path), "%s/mk-dir", mnt);
	err[1] = mkdir(path, 0777) ? errno : 0;
	snprintf(path, sizeof(path), "%s/mk-fifo", mnt);
	err[2] = mknod(path, S_IFIFO | 0666, 0) ? errno : 0;
	umask(0);
	for (i = 0; i < 3; i++) {
		uint32_t want = dont_mask ? asked[i] : asked[i] & ~022;
		uint32_t mode = S_IFDIR == (asked[i] & S_IFMT) ? shm->mk_mode[i] | S_IFDIR :
				shm->mk_mode[i];

		tap(err[i] == EDQUOT, "%s: %s answered EDQUOT reaches the caller (%s)", s->name,
		    what[i], strerror(err[i]));
		if (!(shm->mk_seen & (1 << i))) {
			tap(false, "%s: the daemon got %s", s->name, what[i]);
			continue;
		}
		tap(mode == want, "%s: %s mode %o (want %o)", s->name, what[i], mode, want);
		tap(shm->mk_umask[i] == 022, "%s: %s umask %03o (want 022)", s->name, what[i],
		    shm->mk_umask[i]);
	}
}

static void setup_dont_mask(void) { tinyfs_cfg.init_flags = FUSE_DONT_MASK; }

/*
 * Writeback reply vs eviction (issue 8): at 7114f35 the reply path of a
 * writeback WRITE (mqfuse_writeback_end, in the daemon's write(2)) touched
 * the inode after its last end_page_writeback(), which was the only thing
 * keeping the inode alive: set_bit(), then mqfuse_invalidate_attr() takes
 * the inode's spinlock and writes attr_expire (today the same happens in
 * mqfuse_attr_outdated()). The suite loads mq_kdelay with sleep_us= so
 * that this reply SLEEPS (a busy wait would hold off the RCU grace period
 * the inode's free waits for) right before mqfuse_attr_outdated() is
 * called from mqfuse_writeback_end().
 *
 * Two server processes serve the mount, so one can sleep in that reply
 * while the other answers the client. The client dirties "file" through
 * a shared mmap, starts its writeback (sync_file_range WRITE, no wait),
 * and once the daemon writes the WRITE's reply it unmaps, closes and
 * drops caches until "file"'s FORGET arrives (its inode evicted). If that
 * happens while the reply still sleeps (the old code: the pages are no
 * longer under writeback), it waits for the RCU free, then fills every
 * free slot of mqfuse's inode cache with new inodes (lookups of new names,
 * cached for an hour), so that the freed inode's memory is a live inode
 * again when the reply wakes. The cache has a constructor, so slub_debug
 * does not poison its free objects: a write there would go unnoticed;
 * written into a live inode it is seen: that inode's attributes expire
 * and the next stat() of its name sends a GETATTR the daemon counts. With
 * the fix the pages stay under writeback until the reply is done: the
 * FORGET comes only after it, and no GETATTR.
 */
#define WBE_NODE0	1000		/* nodes of the new names "n<i>": WBE_NODE0 + i */
#define WBE_MAX_NEW	4000
#define WBE_ENTRY_TTL	3600

static uint64_t wbe_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * "While the reply slept": mq_kdelay counts a sleep when it ends, so the
 * count is still the one from before the reply (not just "the daemon's
 * write(2) has not returned": with the fix the inode goes right after
 * its pages, while that write(2) is still finishing).
 */
static void wbe_forget_seen(uint64_t nodeid)
{
	if (nodeid != INO_FILE || shm->wbe_forget)
		return;
	if (shm->wbe_slept0 >= 0)
		shm->wbe_forget_in_reply = shm->wbe_replying &&
					   kdelay_param("slept") == shm->wbe_slept0;
	else
		shm->wbe_forget_in_reply = shm->wbe_replying;
	shm->wbe_forget = wbe_now();
}

static bool bad_wb_evict(int fd, struct req *r)
{
	uint64_t node = r->h->nodeid;

	switch (r->h->opcode) {
	case FUSE_WRITE: {
		struct fuse_write_in *in = r->arg;
		struct fuse_write_out w = { .size = in->size };

		if (!shm->armed || node != INO_FILE || !(in->write_flags & FUSE_WRITE_CACHE) ||
		    __atomic_exchange_n(&shm->wbe_seen, 1, __ATOMIC_SEQ_CST))
			return false;
		shm->wbe_slept0 = kdelay_param("slept");
		shm->wbe_reply0 = wbe_now();
		shm->wbe_replying = 1;
		shm->wbe_reply_ret = reply(fd, r->h->unique, 0, &w, sizeof(w));
		shm->wbe_reply1 = wbe_now();
		shm->wbe_replying = 0;
		return true;
	}
	case FUSE_FORGET:
		wbe_forget_seen(node);
		return true;
	case FUSE_BATCH_FORGET: {
		struct fuse_batch_forget_in *b = r->arg;
		struct fuse_forget_one *one = (void *)(b + 1);
		size_t i, max = (r->len - sizeof(*r->h) - sizeof(*b)) / sizeof(*one);

		for (i = 0; i < b->count && i < max; i++)
			wbe_forget_seen(one[i].nodeid);
		return true;
	}
	case FUSE_LOOKUP: {
		struct fuse_entry_out e;
		unsigned int i;

		if (node != INO_ROOT || sscanf(r->arg, "n%u", &i) != 1 || i >= WBE_MAX_NEW)
			return false;
		memset(&e, 0, sizeof(e));
		e.nodeid = WBE_NODE0 + i;
		e.generation = 1;
		e.entry_valid = e.attr_valid = WBE_ENTRY_TTL;
		e.attr.ino = e.nodeid;
		e.attr.mode = S_IFREG | 0644;
		e.attr.nlink = 1;
		e.attr.blksize = 4096;
		__atomic_add_fetch(&shm->wbe_lookups, 1, __ATOMIC_SEQ_CST);
		reply(fd, r->h->unique, 0, &e, sizeof(e));
		return true;
	}
	case FUSE_GETATTR: {
		struct fuse_attr_out a;

		if (node < WBE_NODE0 || node >= WBE_NODE0 + WBE_MAX_NEW)
			return false;
		memset(&a, 0, sizeof(a));
		a.attr_valid = WBE_ENTRY_TTL;
		a.attr.ino = node;
		a.attr.mode = S_IFREG | 0644;
		a.attr.nlink = 1;
		a.attr.blksize = 4096;
		__atomic_add_fetch(&shm->wbe_getattrs, 1, __ATOMIC_SEQ_CST);
		reply(fd, r->h->unique, 0, &a, sizeof(a));
		return true;
	}
	}
	return false;
}

/* A second server process: either may sleep in the WRITE's reply. */
static int serve_wb_evict(int fd)
{
	if (fork() == 0)
		alarm(150);
	return fd;
}

/* First number in /sys/kernel/slab/<fstype>_inode/@what, or -1. */
static long wbe_slab_read(const char *what)
{
	char path[300];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s_inode/%s", fstype, what);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void wbe_slab_validate(void)
{
	char path[300];

	snprintf(path, sizeof(path), "/sys/kernel/slab/%s_inode/validate", fstype);
	sysfs_write_one(path);
}

/*
 * drop_caches 3: 1 drains the per-CPU LRU caches first, which may hold
 * the last page's extra reference (its folio then cannot be dropped,
 * nor the inode evicted) for seconds; 2 then evicts the inode.
 */
static void wbe_drop_all(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	if (fd < 0 || write(fd, "3", 1) != 1)
		diag("drop_caches: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void client_wb_evict(const struct scenario *s)
{
	long sleep_ms = (kdelay_param("sleep_us") > 0 ? kdelay_param("sleep_us") : 0) / 1000, nfree = -1, nnew = 0, i;
	uint64_t t, alloc1 = 0;
	bool in_window, forget;
	int fd, missing = 0;
	pid_t dropper;
	char path[4096];
	struct stat st;
	char *p;

	/*
	 * The evicting child: forked before the file is opened or mapped,
	 * or its copies would keep the inode. It drops caches until the
	 * FORGET, from the moment the daemon writes the WRITE's reply on
	 * (close() may wait for the writeback meanwhile).
	 */
	dropper = fork();
	if (dropper == 0) {
		uint64_t t0;

		alarm(60);
		while (!shm->wbe_go)
			msleep(1);
		if (shm->wbe_go < 0)
			_exit(0);
		t0 = wbe_now();
		shm->wbe_drop0 = t0;
		do {
			wbe_drop_all();
			shm->wbe_drops++;
			msleep(20);
		} while (!shm->wbe_forget &&
			 wbe_now() - t0 < (uint64_t)(sleep_ms + 10000) * 1000000);
		_exit(0);
	}
	fd = open(path_file, O_RDWR);
	p = fd < 0 ? MAP_FAILED : mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		tap(false, "%s: open and mmap: %s", s->name, strerror(errno));
		goto out_dropper;
	}
	p[0] = 'W';
	shm->armed = 1;
	if (sync_file_range(fd, 0, FILE_SIZE, SYNC_FILE_RANGE_WRITE))
		diag("sync_file_range: %s", strerror(errno));
	if (!tap(wait_for(shm->wbe_replying || shm->wbe_reply1, 10000),
		 "%s: the writeback WRITE of the mmap store reached the daemon", s->name)) {
		munmap(p, FILE_SIZE);
		goto out_dropper;
	}
	/* evict it while every reference goes */
	shm->wbe_go = 1;
	munmap(p, FILE_SIZE);
	close(fd);
	fd = -1;
	if (dropper > 0)
		waitpid(dropper, NULL, 0);
	forget = shm->wbe_forget != 0;
	in_window = forget && shm->wbe_forget_in_reply;
	if (in_window) {
		/*
		 * The inode is freed after an RCU grace period; then every
		 * free slot of the cache becomes a live inode of a new name.
		 */
		msleep(200);
		nfree = wbe_slab_read("total_objects") - wbe_slab_read("objects");
		nnew = nfree < 0 ? 64 : nfree + 32;
		if (nnew > WBE_MAX_NEW)
			nnew = WBE_MAX_NEW;
		for (i = 0; i < nnew; i++) {
			snprintf(path, sizeof(path), "%s/n%ld", mnt, i);
			if (stat(path, &st))
				missing++;
		}
		alloc1 = wbe_now();
	}
	wait_for(!shm->wbe_replying, (sleep_ms + 10000));
	wbe_slab_validate();
	tap(shm->wbe_reply1 && shm->wbe_reply_ret == sizeof(struct fuse_out_header) +
	    sizeof(struct fuse_write_out), "%s: the WRITE's reply was taken (write: %d)",
	    s->name, shm->wbe_reply_ret);
	t = shm->wbe_reply1 - shm->wbe_reply0;
	tap(!sleep_ms || t >= (uint64_t)sleep_ms * 900000,
	    "%s: that reply slept in the kernel (%llu ms; mq_kdelay sleeps %ld ms)", s->name,
	    (unsigned long long)(t / 1000000), sleep_ms);
	tap(!sleep_ms || (shm->wbe_drop0 && shm->wbe_drop0 < shm->wbe_reply1),
	    "%s: the eviction of \"file\" was tried while that reply slept", s->name);
	tap(forget, "%s: \"file\" was evicted: its FORGET came %s (%u drop_caches)", s->name,
	    !forget ? "never" : in_window ? "while the reply slept (the window)" :
	    "after the reply (its pages were under writeback until then)", shm->wbe_drops);
	if (in_window) {
		tap(!missing, "%s: %ld new inodes made after the FORGET (the cache had %ld free; %d failed)",
		    s->name, nnew, nfree, missing);
		/*
		 * Widened, the refill must land inside the sleep, or the round
		 * tested nothing. Unwidened (no ftrace: the debug kernel), a
		 * FORGET "in the window" is one that came in the reply's last
		 * instructions after its end_page_writeback() (or before the
		 * daemon ran again), which a refill cannot beat: said, not failed.
		 */
		if (sleep_ms)
			tap(alloc1 < shm->wbe_reply1, "%s: the new inodes were made in the window",
			    s->name);
		else if (alloc1 >= shm->wbe_reply1)
			diag("%s: unwidened: the reply returned before the refill ended", s->name);
		for (i = 0; i < nnew; i++) {
			snprintf(path, sizeof(path), "%s/n%ld", mnt, i);
			stat(path, &st);
		}
	}
	tap(!shm->wbe_getattrs,
	    "%s: no live inode's attributes were expired by the reply that woke after its inode's eviction (GETATTRs of fresh nodes: %d)",
	    s->name, shm->wbe_getattrs);
	return;

out_dropper:
	if (fd >= 0)
		close(fd);
	shm->wbe_go = -1;
	if (dropper > 0)
		waitpid(dropper, NULL, 0);
}

static void setup_wb_evict(void)
{
	setup_cache();
	tinyfs_cfg.file_size = FILE_SIZE;
}

static void setup_race(void)
{
	setup_cache();
	tinyfs_cfg.file_size = 4 * RACE_IO;
}

static void setup_abort_signal(void)
{
	setup_cache();
	tinyfs_cfg.file_size = ABSIG_READERS * ABSIG_SPACING;
}

/* ---- asynchronous direct I/O (adio_*): AIO and io_uring on O_DIRECT ---- */

/*
 * "file" is ADIO_SIZE bytes the server keeps in memory (READ and WRITE
 * go to adio_data), and the kernel cuts direct I/O into requests of
 * ADIO_CHUNK bytes (max_write, max_pages): a 1 MiB AIO is 8 chunks.
 */
#define ADIO_SIZE	(1 << 20)
#define ADIO_CHUNK	(128 * 1024)

static unsigned char adio_data[ADIO_SIZE];	/* server: contents of "file" */
static bool adio_data_init;			/* server: adio_data filled with 'A' */

static void setup_adio(void)
{
	setup_cache();
	tinyfs_cfg.max_write = ADIO_CHUNK;
	tinyfs_cfg.max_pages = ADIO_CHUNK / 4096;
	tinyfs_cfg.file_size = ADIO_SIZE;
	tinyfs_cfg.init_flags |= FUSE_ASYNC_DIO;
}

static void setup_adio_flock(void)
{
	setup_adio();
	tinyfs_cfg.init_flags |= FUSE_FLOCK_LOCKS;
}

static void setup_adio_otrunc(void)
{
	setup_adio();
	tinyfs_cfg.init_flags |= FUSE_ATOMIC_O_TRUNC;
}

/* Server: READ/WRITE of "file" from/to adio_data; false for anything else. */
static bool adio_serve_rw(int fd, struct req *r)
{
	if (!adio_data_init) {
		memset(adio_data, 'A', sizeof(adio_data));
		adio_data_init = true;
	}
	if (r->h->opcode == FUSE_READ && r->h->nodeid == INO_FILE) {
		struct fuse_read_in *in = r->arg;
		size_t n = 0;

		if (in->offset < ADIO_SIZE)
			n = ADIO_SIZE - in->offset < in->size ? ADIO_SIZE - in->offset : in->size;
		reply(fd, r->h->unique, 0, adio_data + (n ? in->offset : 0), n);
		return true;
	}
	if (r->h->opcode == FUSE_WRITE && r->h->nodeid == INO_FILE) {
		struct fuse_write_in *in = r->arg;
		struct fuse_write_out w = { .size = in->size };

		if (in->offset < ADIO_SIZE && in->size <= ADIO_SIZE - in->offset &&
		    r->len >= sizeof(*r->h) + sizeof(*in) + in->size)
			memcpy(adio_data + in->offset, (char *)(in + 1), in->size);
		reply(fd, r->h->unique, 0, &w, sizeof(w));
		return true;
	}
	return false;
}

/* The 4th WRITE chunk (offset 384 KiB) fails with EIO while armed; the rest is stored. */
static bool bad_adio_write_error(int fd, struct req *r)
{
	if (r->h->opcode == FUSE_WRITE && shm->armed &&
	    ((struct fuse_write_in *)r->arg)->offset == 3 * ADIO_CHUNK) {
		reply(fd, r->h->unique, -EIO, NULL, 0);
		return true;
	}
	return adio_serve_rw(fd, r);
}

/*
 * While armed, the WRITE at 384 KiB is stored, then answered EIO: it
 * reached the file although it failed (a daemon whose backend failed
 * after a partial write).
 */
static bool bad_dio_write_stored_eio(int fd, struct req *r)
{
	struct fuse_write_in *in = r->arg;

	if (r->h->opcode == FUSE_WRITE && shm->armed && in->offset == 3 * ADIO_CHUNK) {
		adio_serve_rw(-1, r);	/* stores; its reply to fd -1 goes nowhere */
		reply(fd, r->h->unique, -EIO, NULL, 0);
		return true;
	}
	return adio_serve_rw(fd, r);
}

/* The READ chunk at 256 KiB gets only 4096 bytes. */
static bool bad_adio_short(int fd, struct req *r)
{
	struct fuse_read_in *in = r->arg;

	if (r->h->opcode == FUSE_READ && in->offset == 2 * ADIO_CHUNK) {
		reply(fd, r->h->unique, 0, adio_data, 4096);
		return true;
	}
	return adio_serve_rw(fd, r);
}

/* The chunk at 256 KiB gets more than it asked for: 4096 more READ bytes, one more WRITE byte. */
static bool bad_adio_too_long(int fd, struct req *r)
{
	static char body[ADIO_CHUNK + 4096];

	if (r->h->opcode == FUSE_READ && ((struct fuse_read_in *)r->arg)->offset == 2 * ADIO_CHUNK) {
		struct fuse_read_in *in = r->arg;
		size_t n = in->size + 4096 <= sizeof(body) ? in->size + 4096 : sizeof(body);

		memset(body, 'Z', n);
		reply(fd, r->h->unique, 0, body, n);
		return true;
	}
	if (r->h->opcode == FUSE_WRITE && ((struct fuse_write_in *)r->arg)->offset == 2 * ADIO_CHUNK) {
		struct fuse_write_out w = { .size = ((struct fuse_write_in *)r->arg)->size + 1 };

		reply(fd, r->h->unique, 0, &w, sizeof(w));
		return true;
	}
	return adio_serve_rw(fd, r);
}

/* While armed: hold READs; exit (the session aborts) once adio_die_at are held. */
static bool bad_adio_hold_die(int fd, struct req *r)
{
	(void)fd;
	if (!shm->armed || r->h->opcode != FUSE_READ)
		return false;
	hold(r);
	if (shm->adio_die_at && nheld >= shm->adio_die_at)
		_exit(0);
	return true;
}

/* While armed: hold WRITEs of "file". */
static bool bad_adio_hold_writes(int fd, struct req *r)
{
	(void)fd;
	if (!shm->armed || r->h->opcode != FUSE_WRITE)
		return false;
	hold(r);
	return true;
}

/* flock scenario plus: READs held while armed. */
static bool bad_adio_flock(int fd, struct req *r)
{
	if (r->h->opcode == FUSE_READ && shm->armed) {
		hold(r);
		return true;
	}
	return bad_flock_release(fd, r);
}


/* While armed, READ of "file" fails with EAGAIN (a daemon passing its backend's errno on). */
static bool bad_adio_eagain(int fd, struct req *r)
{
	if (shm->armed && r->h->opcode == FUSE_READ && r->h->nodeid == INO_FILE) {
		shm->adio_eagains++;
		reply(fd, r->h->unique, -EAGAIN, NULL, 0);
		return true;
	}
	return adio_serve_rw(fd, r);
}

/* procfs-like: "file" has size 0 in every LOOKUP and GETATTR, but READ returns data. */
static void adio_size0_mutate(const struct fuse_in_header *in, int *error, char *body,
			      size_t *blen)
{
	if (*error)
		return;
	if (in->opcode == FUSE_LOOKUP && *blen >= sizeof(struct fuse_entry_out)) {
		struct fuse_entry_out *e = (void *)body;

		if (e->nodeid == INO_FILE)
			e->attr.size = e->attr.blocks = 0;
	} else if (in->opcode == FUSE_GETATTR && in->nodeid == INO_FILE &&
		   *blen >= sizeof(struct fuse_attr_out)) {
		struct fuse_attr_out *a = (void *)body;

		a->attr.size = a->attr.blocks = 0;
	}
}

static void setup_adio_size0(void)
{
	tinyfs_cfg.max_write = ADIO_CHUNK;
	tinyfs_cfg.max_pages = ADIO_CHUNK / 4096;
	tinyfs_cfg.file_size = 8192;	/* what READ returns; the size reported is 0 */
	tinyfs_cfg.init_flags |= FUSE_ASYNC_DIO;
	tinyfs_cfg.mutate = adio_size0_mutate;	/* no setup_cache(): FOPEN_DIRECT_IO */
}

/*
 * flock scenario plus: READs held while armed; with adio_unlock_silent,
 * a SETLK unlock is read and never answered (a daemon that stopped
 * answering locks); RELEASEs of "file" are counted.
 */
static bool bad_adio_kthread_release(int fd, struct req *r)
{
	if (r->h->opcode == FUSE_READ && shm->armed) {
		hold(r);
		return true;
	}
	if (r->h->opcode == FUSE_SETLK && shm->adio_unlock_silent &&
	    ((struct fuse_lk_in *)r->arg)->lk.type == F_UNLCK) {
		shm->adio_unlocks_dropped++;
		return true;
	}
	if (r->h->opcode == FUSE_RELEASE && r->h->nodeid == INO_FILE)
		shm->adio_releases++;
	return bad_flock_release(fd, r);
}

/* ---- client side ---- */

static long adio_setup(unsigned int nr, aio_context_t *ctx)
{
	return syscall(SYS_io_setup, nr, ctx);
}

static long adio_destroy(aio_context_t ctx)
{
	return syscall(SYS_io_destroy, ctx);
}

/* Submit one PREAD/PWRITE; returns io_submit's result (1, or -1 with errno). */
static long adio_submit(aio_context_t ctx, struct iocb *cb, int fd, bool write, void *buf,
			size_t len, uint64_t off, int rw_flags)
{
	struct iocb *cbs[1] = { cb };

	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = fd;
	cb->aio_lio_opcode = write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
	cb->aio_buf = (uintptr_t)buf;
	cb->aio_nbytes = len;
	cb->aio_offset = off;
	cb->aio_rw_flags = rw_flags;
	return syscall(SYS_io_submit, ctx, 1, cbs);
}

/* Reap @nr events within @ms; returns how many came. */
static long adio_reap(aio_context_t ctx, long nr, struct io_event *ev, unsigned int ms)
{
	long got = 0, n;
	unsigned int waited = 0;

	while (got < nr && waited < ms) {
		struct timespec tmo = { 0, 100 * 1000000L };

		n = syscall(SYS_io_getevents, ctx, 1, nr - got, ev + got, &tmo);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0)
			got += n;
		waited += 100;
	}
	return got;
}

/* One AIO, submitted and reaped within 10 s: its res, or LONG_MIN. */
static long adio_one(aio_context_t ctx, int fd, bool write, void *buf, size_t len, uint64_t off)
{
	struct iocb cb;
	struct io_event ev;

	if (adio_submit(ctx, &cb, fd, write, buf, len, off, 0) != 1)
		return -errno;
	return adio_reap(ctx, 1, &ev, 10000) == 1 ? (long)ev.res : LONG_MIN;
}

static void *adio_buf(size_t len, int c)
{
	void *p;

	if (posix_memalign(&p, 4096, len))
		return NULL;
	memset(p, c, len);
	return p;
}

/* Index of the first byte of @b[@from, @to) that is not @c, or -1. */
static long adio_first_not(const unsigned char *b, size_t from, size_t to, int c)
{
	size_t i;

	for (i = from; i < to; i++)
		if (b[i] != c)
			return i;
	return -1;
}

/*
 * One chunk of a 1 MiB AIO write fails: the write reports the bytes
 * before it, and the page cache over every chunk sent is dropped, so a
 * buffered read sees what the daemon stored ('B' around the hole, 'A' in
 * it), not the 'A's cached before the write.
 */
static void client_adio_write_error(const struct scenario *s)
{
	unsigned char *cache = adio_buf(ADIO_SIZE, 0), *wbuf = adio_buf(ADIO_SIZE, 'B');
	aio_context_t ctx = 0;
	int fdb = open(path_file, O_RDONLY), fdd = open(path_file, O_RDWR | O_DIRECT);
	long res, m1, m2, m3;

	if (fdb < 0 || fdd < 0 || !cache || !wbuf || adio_setup(4, &ctx)) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	res = pread(fdb, cache, ADIO_SIZE, 0);
	tap(res == ADIO_SIZE && adio_first_not(cache, 0, ADIO_SIZE, 'A') < 0,
	    "%s: a buffered read fills the page cache with 'A' (%ld)", s->name, res);
	shm->armed = 1;
	res = adio_one(ctx, fdd, true, wbuf, ADIO_SIZE, 0);
	shm->armed = 0;
	tap(res == 3 * ADIO_CHUNK, "%s: the AIO write reports the %d bytes before the failed chunk (%ld)",
	    s->name, 3 * ADIO_CHUNK, res);
	memset(cache, 0, ADIO_SIZE);
	res = pread(fdb, cache, ADIO_SIZE, 0);
	m1 = adio_first_not(cache, 0, 3 * ADIO_CHUNK, 'B');
	m2 = adio_first_not(cache, 3 * ADIO_CHUNK, 4 * ADIO_CHUNK, 'A');
	m3 = adio_first_not(cache, 4 * ADIO_CHUNK, ADIO_SIZE, 'B');
	tap(res == ADIO_SIZE && m1 < 0 && m2 < 0 && m3 < 0,
	    "%s: a buffered read afterwards sees the daemon's data, no stale cache (%ld; mismatch at %ld %ld %ld)",
	    s->name, res, m1, m2, m3);
	adio_destroy(ctx);
out:
	if (fdb >= 0)
		close(fdb);
	if (fdd >= 0)
		close(fdd);
	free(cache);
	free(wbuf);
}

/*
 * Synchronous O_DIRECT write(2) whose 4th request fails after the daemon
 * stored it: the page cache is dropped through the end of that request,
 * also when it is the first one (nothing reported written).
 */
static void client_dio_write_error(const struct scenario *s)
{
	unsigned char *cache = adio_buf(ADIO_SIZE, 0), *wbuf = adio_buf(ADIO_SIZE, 'B');
	int fdb = open(path_file, O_RDONLY), fdd = open(path_file, O_RDWR | O_DIRECT);
	long res, m1, m2;

	if (fdb < 0 || fdd < 0 || !cache || !wbuf) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	res = pread(fdb, cache, ADIO_SIZE, 0);
	tap(res == ADIO_SIZE && adio_first_not(cache, 0, ADIO_SIZE, 'A') < 0,
	    "%s: a buffered read fills the page cache with 'A' (%ld)", s->name, res);
	shm->armed = 1;
	res = pwrite(fdd, wbuf, ADIO_SIZE, 0);
	tap(res == 3 * ADIO_CHUNK, "%s: O_DIRECT write(2) reports the %d bytes before the failed request (%ld)",
	    s->name, 3 * ADIO_CHUNK, res);
	res = pread(fdb, cache, ADIO_SIZE, 0);
	m1 = adio_first_not(cache, 0, 4 * ADIO_CHUNK, 'B');
	m2 = adio_first_not(cache, 4 * ADIO_CHUNK, ADIO_SIZE, 'A');
	tap(res == ADIO_SIZE && m1 < 0 && m2 < 0,
	    "%s: a buffered read sees what the failed request stored, no stale cache (%ld; mismatch at %ld %ld)",
	    s->name, res, m1, m2);
	memset(wbuf, 'C', ADIO_CHUNK);
	errno = 0;
	res = pwrite(fdd, wbuf, ADIO_CHUNK, 3 * ADIO_CHUNK);
	tap(res == -1 && errno == EIO, "%s: O_DIRECT write(2) of the failing request alone: EIO (%ld, %s)",
	    s->name, res, strerror(errno));
	res = pread(fdb, cache, ADIO_SIZE, 0);
	m1 = adio_first_not(cache, 3 * ADIO_CHUNK, 4 * ADIO_CHUNK, 'C');
	tap(res == ADIO_SIZE && m1 < 0,
	    "%s: ... and the cache over it is dropped all the same (%ld; mismatch at %ld)",
	    s->name, res, m1);
	shm->armed = 0;
out:
	if (fdb >= 0)
		close(fdb);
	if (fdd >= 0)
		close(fdd);
	free(cache);
	free(wbuf);
}

/* A short chunk ends the read there; chunks after it do not count. */
static void client_adio_short(const struct scenario *s)
{
	unsigned char *b = adio_buf(ADIO_SIZE, 0);
	aio_context_t ctx = 0;
	int fd = open(path_file, O_RDONLY | O_DIRECT);
	long res;

	if (fd < 0 || !b || adio_setup(4, &ctx)) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	res = adio_one(ctx, fd, false, b, ADIO_SIZE, 0);
	tap(res == 2 * ADIO_CHUNK + 4096 && adio_first_not(b, 0, res, 'A') < 0,
	    "%s: a 1 MiB AIO read with a short third chunk returns %d bytes (%ld)",
	    s->name, 2 * ADIO_CHUNK + 4096, res);
	adio_destroy(ctx);
out:
	if (fd >= 0)
		close(fd);
	free(b);
}

/* A chunk answered with more than it asked for is a bad reply: the I/O ends before it. */
static void client_adio_too_long(const struct scenario *s)
{
	unsigned char *b = adio_buf(ADIO_SIZE, 0);
	aio_context_t ctx = 0;
	int fd = open(path_file, O_RDWR | O_DIRECT);
	long res;

	if (fd < 0 || !b || adio_setup(4, &ctx)) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	res = adio_one(ctx, fd, false, b, ADIO_SIZE, 0);
	tap(res == 2 * ADIO_CHUNK && adio_first_not(b, 0, res, 'A') < 0,
	    "%s: READ chunk answered 4 KiB too long: the AIO read stops before it (%ld)", s->name, res);
	res = adio_one(ctx, fd, true, b, ADIO_SIZE, 0);
	tap(res == 2 * ADIO_CHUNK,
	    "%s: WRITE chunk answered one byte too many: the AIO write stops before it (%ld)",
	    s->name, res);
	adio_destroy(ctx);
out:
	if (fd >= 0)
		close(fd);
	free(b);
}

/*
 * AIO reads the daemon never answers, then the daemon dies: every iocb
 * completes with an error and io_destroy() returns.
 */
static void client_adio_daemon_dies(const struct scenario *s)
{
	unsigned char *b = adio_buf(2 * 256 * 1024, 0);
	struct iocb cb[2];
	struct io_event ev[2];
	aio_context_t ctx = 0;
	int fd = open(path_file, O_RDONLY | O_DIRECT);
	long got, i, bad = 0;
	struct timespec t0, t1;

	if (fd < 0 || !b || adio_setup(4, &ctx)) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	shm->adio_die_at = 4;
	shm->armed = 1;
	for (i = 0; i < 2; i++)
		if (adio_submit(ctx, &cb[i], fd, false, b + i * 256 * 1024, 256 * 1024,
				i * 512 * 1024, 0) != 1)
			bad++;
	tap(!bad, "%s: two 2-chunk AIO reads submitted", s->name);
	got = adio_reap(ctx, 2, ev, 10000);
	for (i = 0; i < got; i++)
		if (ev[i].res != -ENOTCONN && ev[i].res != -EIO) {
			diag("res %lld", (long long)ev[i].res);
			bad++;
		}
	tap(got == 2 && !bad, "%s: both complete with ENOTCONN or EIO once the daemon died (%ld)",
	    s->name, got);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tap(adio_destroy(ctx) == 0, "%s: io_destroy() returns", s->name);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tap(t1.tv_sec - t0.tv_sec < 5, "%s: ... at once", s->name);
	ctx = 0;
out:
	if (fd >= 0)
		close(fd);
	free(b);
}

/*
 * AIO the daemon holds (alive): a process exiting with them in flight
 * waits for them (exit_aio) as long as the session lives; aborting the
 * session completes them with an error, and the exit finishes.
 */
static void client_adio_abort(const struct scenario *s)
{
	unsigned char *b = adio_buf(256 * 1024, 0);
	aio_context_t ctx = 0;
	struct io_event ev;
	struct iocb cb;
	int fd = open(path_file, O_RDONLY | O_DIRECT), status;
	bool done;
	pid_t pid;

	if (fd < 0 || !b || adio_setup(4, &ctx) || !find_session()) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	shm->armed = 1;
	pid = fork();
	if (pid == 0) {
		aio_context_t c = 0;
		struct iocb cc;
		int f = open(path_file, O_RDONLY | O_DIRECT);

		if (f < 0 || adio_setup(4, &c) ||
		    adio_submit(c, &cc, f, false, b, 256 * 1024, 0, 0) != 1)
			_exit(1);
		_exit(0);	/* with the AIO in flight: exit_aio() waits for it */
	}
	tap(adio_submit(ctx, &cb, fd, false, b, 256 * 1024, 512 * 1024, 0) == 1,
	    "%s: AIO read submitted", s->name);
	tap(wait_for(shm->held >= 4, 5000), "%s: the daemon holds both AIO reads (%d requests)",
	    s->name, shm->held);
	msleep(300);
	tap(!reap_within(pid, &status, 200), "%s: an exiting process waits for its AIO in flight",
	    s->name);
	sess_abort();
	tap(adio_reap(ctx, 1, &ev, 10000) == 1 && (ev.res == -ENOTCONN || ev.res == -EIO),
	    "%s: the abort completes the AIO with ENOTCONN or EIO", s->name);
	done = reap_within(pid, &status, 10000);
	tap(done && WIFEXITED(status) && !WEXITSTATUS(status),
	    "%s: the exiting process finishes after the abort", s->name);
	if (!done) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	tap(adio_destroy(ctx) == 0, "%s: io_destroy() returns", s->name);
out:
	if (fd >= 0)
		close(fd);
	free(b);
}

/*
 * The last reference to a flock'ed file goes with an AIO completion (the
 * file was closed in flight): the release (SETLK unlock, RELEASE) must
 * reach the daemon, so the completion ran outside the daemon thread that
 * answered the READ.
 */
static void client_adio_fput(const struct scenario *s)
{
	unsigned char *b = adio_buf(4096, 0);
	aio_context_t ctx = 0;
	struct io_event ev;
	struct iocb cb;
	int fd = open(path_file, O_RDONLY | O_DIRECT);
	bool ok;

	if (fd < 0 || !b || adio_setup(4, &ctx) || !find_session()) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	tap(!flock(fd, LOCK_EX) && shm->lk_holder, "%s: flock(LOCK_EX) granted by the daemon",
	    s->name);
	shm->armed = 1;
	tap(adio_submit(ctx, &cb, fd, false, b, 4096, 0, 0) == 1 && wait_for(shm->held == 1, 5000),
	    "%s: AIO read submitted, held by the daemon", s->name);
	close(fd);
	fd = -1;
	shm->armed = 0;
	shm->release = 1;
	ev.res = LONG_MIN;
	adio_reap(ctx, 1, &ev, 10000);
	tap(ev.res == 4096, "%s: the AIO completes after close() (%lld)", s->name, (long long)ev.res);
	/*
	 * The last fput runs in delayed_fput (a kthread): no SETLK there,
	 * the RELEASE carries the unlock (adio_kthread_release).
	 */
	ok = wait_for(shm->lk_release_seq > 0, 5000);
	tap(ok && (shm->lk_unlock_seq > 0 || shm->lk_release_unlocks),
	    "%s: the file's last release (RELEASE, flock unlocked by it or a SETLK) reached the daemon: no deadlock",
	    s->name);
	if (!ok)
		deadlock_recover(0);
	adio_destroy(ctx);
out:
	if (fd >= 0)
		close(fd);
	free(b);
}

/* Idle hook: answer the held requests once the client asks, once. */
static void idle_adio_answer(int fd)
{
	if (shm->release && nheld) {
		answer_held(fd);
		shm->release = 0;
	}
}

/*
 * NOWAIT: io_submit(RWF_NOWAIT) is refused (no FMODE_NOWAIT); io_uring
 * submissions, which 6.1 tries inline with IOCB_NOWAIT first, never block
 * the submitter, even with every background slot held by the daemon.
 */
static void client_adio_nowait(const struct scenario *s)
{
	enum { NR = 48 };
	unsigned char *b = adio_buf(NR * 4096, 0);
	aio_context_t ctx = 0;
	struct iocb cb;
	int fd = open(path_file, O_RDONLY | O_DIRECT), status;
	long res;
	bool done;
	pid_t pid;

	if (fd < 0 || !b || adio_setup(4, &ctx)) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	shm->armed = 1;
	errno = 0;
	res = adio_submit(ctx, &cb, fd, false, b, 4096, 0, RWF_NOWAIT);
	tap(res == -1 && errno == EOPNOTSUPP,
	    "%s: io_submit(RWF_NOWAIT) refused with EOPNOTSUPP (no FMODE_NOWAIT) (%ld, %s)",
	    s->name, res, strerror(errno));
	pid = fork();
	if (pid == 0) {
		struct io_uring ring;
		struct io_uring_cqe *cqe;
		int i, bad = 0;

		alarm(60);
		if (io_uring_queue_init(NR, &ring, 0))
			_exit(10);
		for (i = 0; i < NR; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

			io_uring_prep_read(sqe, fd, b + i * 4096, 4096, (uint64_t)i * 4096);
		}
		if (io_uring_submit(&ring) != NR)
			_exit(11);
		shm->adio_submitted = 1;
		for (i = 0; i < NR; i++) {
			if (io_uring_wait_cqe(&ring, &cqe))
				_exit(12);
			if (cqe->res != 4096)
				bad++;
			io_uring_cqe_seen(&ring, &*cqe);
		}
		_exit(bad ? 13 : adio_first_not(b, 0, NR * 4096, 'A') < 0 ? 0 : 14);
	}
	tap(wait_for(shm->adio_submitted, 5000),
	    "%s: io_uring_submit() of %d O_DIRECT reads returns while the daemon holds them",
	    s->name, NR);
	shm->armed = 0;
	shm->release = 1;
	done = reap_within(pid, &status, 20000);
	tap(done && WIFEXITED(status) && !WEXITSTATUS(status),
	    "%s: all %d complete with the data once answered (status 0x%x)", s->name, NR, status);
	if (!done)
		deadlock_recover(pid);
	adio_destroy(ctx);
out:
	if (fd >= 0)
		close(fd);
	free(b);
}

/*
 * open(O_TRUNC) with AIO writes in flight: the OPEN that truncates must
 * wait until the daemon answered them (a WRITE after it would extend the
 * file again).
 */
static void client_adio_otrunc(const struct scenario *s)
{
	unsigned char *b = adio_buf(4 * 4096, 'w');
	struct io_event ev[4];
	aio_context_t ctx = 0;
	struct iocb cb[4];
	int fd = open(path_file, O_RDWR | O_DIRECT), i, status, bad = 0;
	long got;
	bool done;
	pid_t op;

	if (fd < 0 || !b || adio_setup(4, &ctx)) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	shm->armed = 1;
	for (i = 0; i < 4; i++)
		if (adio_submit(ctx, &cb[i], fd, true, b + i * 4096, 4096, i * 4096, 0) != 1)
			bad++;
	tap(!bad && wait_for(shm->held == 4, 5000), "%s: 4 AIO writes held by the daemon", s->name);
	op = fork();
	if (op == 0) {
		int t = open(path_file, O_RDWR | O_TRUNC);

		_exit(t < 0 ? 1 : 0);
	}
	msleep(500);
	shm->armed = 0;
	shm->release = 1;
	done = reap_within(op, &status, 10000);
	tap(done && WIFEXITED(status) && !WEXITSTATUS(status), "%s: open(O_TRUNC) succeeded", s->name);
	if (!done)
		deadlock_recover(op);
	got = adio_reap(ctx, 4, ev, 10000);
	for (i = 0; i < got; i++)
		if (ev[i].res != 4096)
			bad++;
	tap(got == 4 && !bad, "%s: the AIO writes complete (%ld)", s->name, got);
	tap(shm->otrunc_opens > 0, "%s: the OPEN carried O_TRUNC", s->name);
	tap(!shm->otrunc_overtook, "%s: OPEN(O_TRUNC) waited for the AIO writes in flight", s->name);
	adio_destroy(ctx);
out:
	if (fd >= 0)
		close(fd);
	free(b);
}

/*
 * truncate() while AIO reads are held: reads are not counted by
 * inode_dio_begin(), so the truncate does not wait for them.
 */
static void client_adio_truncate(const struct scenario *s)
{
	unsigned char *b = adio_buf(2 * 4096, 0);
	struct io_event ev[2];
	aio_context_t ctx = 0;
	struct iocb cb[2];
	int fd = open(path_file, O_RDONLY | O_DIRECT), i, status, bad = 0;
	bool done;
	pid_t tr;

	if (fd < 0 || !b || adio_setup(4, &ctx)) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	shm->armed = 1;
	for (i = 0; i < 2; i++)
		if (adio_submit(ctx, &cb[i], fd, false, b + i * 4096, 4096, i * 4096, 0) != 1)
			bad++;
	tap(!bad && wait_for(shm->held == 2, 5000), "%s: 2 AIO reads held by the daemon", s->name);
	tr = fork();
	if (tr == 0)
		_exit(truncate(path_file, ADIO_SIZE) ? 1 : 0);
	done = reap_within(tr, &status, 3000);
	tap(done && WIFEXITED(status) && !WEXITSTATUS(status),
	    "%s: truncate() returns while AIO reads are in flight", s->name);
	shm->armed = 0;
	shm->release = 1;
	if (!done)
		reap_within(tr, &status, 10000);
	tap(adio_reap(ctx, 2, ev, 10000) == 2, "%s: the AIO reads complete once answered", s->name);
	adio_destroy(ctx);
out:
	if (fd >= 0)
		close(fd);
	free(b);
}


/* A daemon that does not offer FUSE_ASYNC_DIO: direct I/O stays synchronous. */
static void setup_adio_sync_only(void)
{
	setup_adio();
	tinyfs_cfg.init_flags &= ~FUSE_ASYNC_DIO;
}

/*
 * An RWF_DSYNC AIO O_DIRECT write stays synchronous: io_submit() does not
 * return before the daemon answered the WRITE (the data must be stable
 * when the submitter learns it was queued). A plain one returns at once.
 */
static void client_adio_dsync(const struct scenario *s)
{
	static const char *const what[] = { "RWF_DSYNC", "plain" };
	unsigned char *b = adio_buf(4096, 'D');
	int fd = open(path_file, O_RDWR | O_DIRECT), status, i;
	bool done;
	pid_t pid;

	if (fd < 0 || !b) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	for (i = 0; i < 2; i++) {
		shm->adio_submitted = 0;
		shm->armed = 1;
		pid = fork();
		if (pid == 0) {
			aio_context_t c = 0;
			struct io_event ev;
			struct iocb cb;

			alarm(30);
			if (adio_setup(4, &c) ||
			    adio_submit(c, &cb, fd, true, b, 4096, 0, i ? 0 : RWF_DSYNC) != 1)
				_exit(2);
			shm->adio_submitted = 1;
			_exit(adio_reap(c, 1, &ev, 10000) == 1 && ev.res == 4096 ? 0 : 1);
		}
		tap(wait_for(shm->held == 1, 5000), "%s: %s AIO write held by the daemon", s->name,
		    what[i]);
		msleep(300);
		if (!(tinyfs_cfg.init_flags & FUSE_ASYNC_DIO))
			tap(!shm->adio_submitted,
			    "%s: without FUSE_ASYNC_DIO, io_submit(%s) waits for the WRITE's reply",
			    s->name, what[i]);
		else if (i == 0)
			tap(!shm->adio_submitted, "%s: io_submit(RWF_DSYNC) waits for the WRITE's reply",
			    s->name);
		else
			tap(shm->adio_submitted, "%s: a plain io_submit() returned with the WRITE held",
			    s->name);
		shm->armed = 0;
		shm->release = 1;
		done = reap_within(pid, &status, 10000);
		tap(done && WIFEXITED(status) && !WEXITSTATUS(status),
		    "%s: %s AIO write completes once answered (status 0x%x)", s->name, what[i], status);
		if (!done)
			deadlock_recover(pid);
	}
out:
	if (fd >= 0)
		close(fd);
	free(b);
}

/* One io_uring read; its CQE res, or LONG_MIN if none came within @ms. */
static long adio_uring_read(int fd, void *buf, size_t len, uint64_t off, unsigned int ms)
{
	struct __kernel_timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	struct io_uring_cqe *cqe;
	struct io_uring ring;
	long res = LONG_MIN;

	if (io_uring_queue_init(4, &ring, 0))
		return LONG_MIN + 1;
	io_uring_prep_read(io_uring_get_sqe(&ring), fd, buf, len, off);
	if (io_uring_submit(&ring) == 1 && !io_uring_wait_cqe_timeout(&ring, &cqe, &ts)) {
		res = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
	return res;
}

/*
 * FOPEN_DIRECT_IO "file" reported with size 0 whose READ returns 8 KiB
 * (procfs-like): io_uring and AIO, with and without O_DIRECT, return the
 * data as read(2) does; the size is not the daemon's EOF.
 */
static void client_adio_size0(const struct scenario *s)
{
	static const char *const how[] = { "read(2)", "io_uring read", "AIO read",
					   "io_uring O_DIRECT read", "AIO O_DIRECT read" };
	unsigned char *b = adio_buf(8192, 0);
	aio_context_t ctx = 0;
	struct stat st;
	int fd = open(path_file, O_RDONLY), fdd = open(path_file, O_RDONLY | O_DIRECT);
	unsigned int i;

	if (fd < 0 || fdd < 0 || !b || adio_setup(4, &ctx)) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st))
		st.st_size = -1;
	tap(st.st_size == 0, "%s: the file's size is 0 (%lld)", s->name, (long long)st.st_size);
	for (i = 0; i < 5; i++) {
		int f = i < 3 ? fd : fdd;
		long res;

		memset(b, 0, 8192);
		switch (i) {
		case 0:
			res = pread(f, b, 8192, 0);
			break;
		case 1:
		case 3:
			res = adio_uring_read(f, b, 8192, 0, 10000);
			break;
		default:
			res = adio_one(ctx, f, false, b, 8192, 0);
			break;
		}
		tap(res == 8192 && adio_first_not(b, 0, 8192, 'A') < 0,
		    "%s: %s returns the daemon's 8192 bytes, not EOF (%ld)", s->name, how[i], res);
	}
	adio_destroy(ctx);
out:
	if (fd >= 0)
		close(fd);
	if (fdd >= 0)
		close(fdd);
	free(b);
}

/*
 * A daemon answers async READ chunks with EAGAIN: the I/O fails with EIO,
 * at once. EAGAIN would let io_uring reissue it (6.12), and reissue again
 * on every answer.
 */
static void client_adio_eagain(const struct scenario *s)
{
	unsigned char *b = adio_buf(2 * ADIO_CHUNK, 0);
	int fd = open(path_file, O_RDONLY | O_DIRECT);
	aio_context_t ctx = 0;
	struct timespec t0, t1;
	long res;

	if (fd < 0 || !b || adio_setup(4, &ctx)) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	shm->armed = 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	res = adio_uring_read(fd, b, 2 * ADIO_CHUNK, 0, 10000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	tap(res == -EIO, "%s: io_uring O_DIRECT read answered EAGAIN completes with EIO (%ld)",
	    s->name, res);
	tap(t1.tv_sec - t0.tv_sec < 5 && shm->adio_eagains <= 8,
	    "%s: ... at once, no reissue loop (%d READs answered EAGAIN)", s->name,
	    shm->adio_eagains);
	res = adio_one(ctx, fd, false, b, 2 * ADIO_CHUNK, 0);
	tap(res == -EIO, "%s: AIO O_DIRECT read answered EAGAIN completes with EIO (%ld)",
	    s->name, res);
	shm->armed = 0;
	res = adio_uring_read(fd, b, 2 * ADIO_CHUNK, 0, 10000);
	tap(res == 2 * ADIO_CHUNK, "%s: once the daemon answers, the read works (%ld)", s->name,
	    res);
	adio_destroy(ctx);
out:
	if (fd >= 0)
		close(fd);
	free(b);
}

/* AIO read on a new O_DIRECT fd of "file", closed in flight, answered, reaped: its res. */
static long adio_close_in_flight(aio_context_t ctx, unsigned char *b, bool lock)
{
	int fd = open(path_file, O_RDONLY | O_DIRECT);
	struct io_event ev = { .res = LONG_MIN };
	struct iocb cb;

	if (fd < 0)
		return LONG_MIN + 1;
	if (lock && flock(fd, LOCK_EX)) {
		close(fd);
		return LONG_MIN + 2;
	}
	shm->armed = 1;
	if (adio_submit(ctx, &cb, fd, false, b, 4096, 0, 0) != 1 || !wait_for(shm->held == 1, 5000)) {
		shm->armed = 0;
		close(fd);
		return LONG_MIN + 3;
	}
	close(fd);
	shm->armed = 0;
	shm->release = 1;
	adio_reap(ctx, 1, &ev, 10000);
	return ev.res;
}

/*
 * The last fput of a flock'ed file runs in delayed_fput (a kthread, after
 * an AIO completion), and the daemon stopped answering lock requests:
 * the release must not wait for it. The RELEASE (with the flock unlock)
 * reaches the daemon, and so does the next file's, released the same way.
 */
static void client_adio_kthread_release(const struct scenario *s)
{
	unsigned char *b = adio_buf(4096, 0);
	aio_context_t ctx = 0;
	long res;
	bool ok;

	if (!b || adio_setup(4, &ctx) || !find_session()) {
		tap(false, "%s: set up: %s", s->name, strerror(errno));
		goto out;
	}
	shm->adio_unlock_silent = 1;
	res = adio_close_in_flight(ctx, b, true);
	tap(res == 4096, "%s: flock'ed file closed with an AIO in flight: it completes (%ld)",
	    s->name, res);
	ok = wait_for(shm->adio_releases >= 1, 5000);
	tap(ok && shm->lk_release_unlocks,
	    "%s: its RELEASE, with FUSE_RELEASE_FLOCK_UNLOCK, reaches the daemon (%d releases, %d SETLK unlocks left unanswered)",
	    s->name, shm->adio_releases, shm->adio_unlocks_dropped);
	res = adio_close_in_flight(ctx, b, false);
	ok = res == 4096 && wait_for(shm->adio_releases >= 2, 5000);
	tap(ok, "%s: delayed_fput is not wedged: a second file released the same way gets its RELEASE (%ld, %d)",
	    s->name, res, shm->adio_releases);
	if (shm->adio_unlocks_dropped || !ok) {
		/* the release waits for a SETLK nobody answers: free the system's fput worker */
		diag("%d SETLK unlocks unanswered: aborting the session", shm->adio_unlocks_dropped);
		sess_abort();
	}
	adio_destroy(ctx);
out:
	free(b);
}

static const struct scenario scenarios[] = {
	{ "init_bad_major", bad_init_major, client_stat_file, EXP_FAIL },
	{ "init_short", bad_init_short, client_stat_file, EXP_FAIL },
	{ "init_error", bad_init_error, client_stat_file, EXP_FAIL },
	{ "init_absurd_limits", bad_init_limits, client_read, EXP_ANY },
	{ "lookup_short", bad_lookup_short, client_stat_file, EXP_EIO },
	{ "lookup_long", bad_lookup_long, client_stat_file, EXP_EIO },
	{ "lookup_root_nodeid", bad_lookup_root_nodeid, client_stat_file, EXP_EIO },
	{ "lookup_no_file_type", bad_lookup_mode, client_stat_file, EXP_EIO },
	{ "lookup_huge_attrs", bad_lookup_huge_attrs, client_stat_file, EXP_ANY },
	{ "getattr_type_change", bad_type_change, client_stat_twice, EXP_EIO },
	{ "getattr_short", bad_getattr_short, client_stat_twice, EXP_EIO },
	{ "error_positive", bad_error_positive, client_stat_file, EXP_EIO },
	{ "error_out_of_range", bad_error_huge, client_stat_file, EXP_EIO },
	{ "error_with_body", bad_error_with_body, client_stat_file, EXP_FAIL },
	{ "open_error_out_of_range", bad_open_error_range, client_open, EXP_EIO },
	{ "unknown_unique", bad_unknown_unique, client_stat_file, EXP_OK },
	{ "length_mismatch", bad_len_mismatch, client_stat_file, EXP_OK_OR_EIO },
	{ "read_too_long", bad_read_too_long, client_read, EXP_EIO },
	{ "write_size_lie", bad_write_size, client_write, EXP_EIO },
	{ "readdir_namelen_past_end", bad_readdir_namelen, client_readdir, EXP_OK_OR_EIO },
	{ "readdir_slash_in_name", bad_readdir_slash, client_readdir, EXP_OK_OR_EIO },
	{ "readdir_empty_name", bad_readdir_zero, client_readdir, EXP_OK_OR_EIO },
	{ "readdir_nul_in_name", bad_readdir_nul, client_readdir, EXP_OK_OR_EIO },
	{ "readdir_overflow", bad_readdir_overflow, client_readdir, EXP_OK_OR_EIO },
	{ "readdirplus_nodeid0", bad_plus_nodeid0, client_readdir, EXP_OK_OR_EIO },
	{ "readdirplus_root_nodeid", bad_plus_root, client_readdir, EXP_OK_OR_EIO },
	{ "readdirplus_mode_mismatch", bad_plus_mode, client_readdir, EXP_OK_OR_EIO },
	{ "readdirplus_dotdot_entry", bad_plus_dotdot, client_readdir, EXP_OK_OR_EIO },
	{ "readlink_too_long", bad_readlink_long, client_readlink, EXP_ANY },
	{ "readlink_nul", bad_readlink_nul, client_readlink, EXP_OK_OR_EIO },
	{ "readlink_empty", bad_readlink_empty, client_readlink, EXP_FAIL },
	{ "getxattr_size_lie", bad_xattr_size, client_xattr, EXP_ANY },
	{ "statfs_short", bad_statfs_short, client_statfs, EXP_EIO },
	{ "garbage", bad_garbage, client_storm, EXP_ANY },
	{ "notify_garbage", bad_notify, client_storm, EXP_ANY },
	{ "daemon_dies_mid_read", bad_die_in_read, client_die, EXP_ANY },
	{ "never_reply_killable", bad_never_reply, client_killable, EXP_ANY },
	{ "errno_classes", bad_errno_table, client_errno_classes, EXP_ANY,
	  .setup = setup_cache },
	{ "ioctl_fuse_dev_clone", NULL, client_clone, EXP_OK, .setup = setup_clone,
	  .serve_fd = serve_clone },
	{ "pagecache_short_read", bad_short_read, client_short_read, EXP_ANY,
	  .setup = setup_cache },
	{ "pagecache_short_write", bad_short_write, client_short_write, EXP_ANY,
	  .setup = setup_cache },
	{ "late_reply_after_kill", bad_hold_reads, client_late_reply, EXP_ANY,
	  .setup = setup_cache, .idle = idle_late_reply },
	{ "abandoned_open_release", bad_abandon, client_abandoned, EXP_ANY,
	  .setup = setup_ab_open, .idle = idle_abandon },
	{ "abandoned_opendir_releasedir", bad_abandon, client_abandoned, EXP_ANY,
	  .setup = setup_ab_opendir, .idle = idle_abandon },
	{ "abandoned_create_release_forget", bad_abandon, client_abandoned, EXP_ANY,
	  .setup = setup_ab_create, .idle = idle_abandon },
	{ "abandoned_readdirplus_forgets", bad_abandon, client_abandoned, EXP_ANY,
	  .setup = setup_ab_readdirplus, .idle = idle_abandon },
	{ "interrupt", bad_interrupt, client_interrupt, EXP_ANY, .setup = setup_cache },
	{ "bad_length_long_each_opcode", NULL, client_badlen, EXP_ANY,
	  .setup = setup_badlen_long },
	{ "bad_length_short_each_opcode", NULL, client_badlen, EXP_ANY,
	  .setup = setup_badlen_short },
	{ "background_limit", bad_hold_writes, client_bg_limit, EXP_ANY,
	  .setup = setup_bg_limit, .idle = idle_answer_held },
	{ "notify_inval_from_serving_thread", bad_notify_before_write, client_notify_inval,
	  EXP_ANY, .setup = setup_cache },
	{ "notify_inval_inode_while_evicting", bad_hold_reads_unlink, client_notify_evicting,
	  EXP_ANY, .setup = setup_cache, .idle = idle_notify_then_answer },
	{ "notify_entry_evicts_unused_file", bad_hold_reads_cached_entry,
	  client_notify_entry_evicting, EXP_ANY, .setup = setup_entry_inval,
	  .idle = idle_entry_notify_then_answer },
	{ "notify_delete_evicts_unused_file", bad_hold_reads_cached_entry,
	  client_notify_entry_evicting, EXP_ANY, .setup = setup_entry_delete,
	  .idle = idle_entry_notify_then_answer },
	{ "notify_entry_while_mkdir_held", bad_notify_entry_in_mkdir, client_notify_entry_mkdir,
	  EXP_ANY },
	{ "notify_entry_ancestor_evicted_in_worker", bad_notify_ancestor, client_notify_ancestor,
	  EXP_ANY, .setup = setup_cache, .idle = idle_notify_ancestor },
	{ "shrink_drops_dirty_pages_past_eof", bad_shrunk_file, client_shrink_dirty, EXP_ANY,
	  .setup = setup_big_file },
	{ "shrink_then_extend_zeroes_tail", bad_shrink_extend, client_shrink_extend, EXP_ANY,
	  .setup = setup_cache },
	{ "otrunc_open_waits_for_writeback", bad_otrunc_order, client_otrunc_writeback,
	  EXP_ANY, .setup = setup_otrunc, .idle = idle_answer_held },
	{ "otrunc_no_open_sends_setattr", bad_otrunc_no_open, client_otrunc_no_open,
	  EXP_ANY, .setup = setup_otrunc },
	{ "otrunc_open_error_drops_cache", bad_otrunc_eio, client_otrunc_eio, EXP_ANY,
	  .setup = setup_otrunc_eio },
	{ "otrunc_open_error_pages_stale", bad_otrunc_eio, client_otrunc_eio, EXP_ANY,
	  .setup = setup_otrunc_eio_refill },
	{ "flock_unlocked_before_release", bad_flock_release, client_flock_close, EXP_ANY,
	  .setup = setup_flock, .idle = idle_flock_release },
	{ "copy_range_vs_mmap_store", bad_copy_race, client_copy_mmap_race, EXP_ANY,
	  .setup = setup_cache, .idle = idle_answer_copy },
	{ "daemon_dies_dirty_mmap", NULL, client_die_dirty, EXP_FAIL, .setup = setup_cache },
	{ "race_reply_interrupt_abort", bad_race_batch, client_race, EXP_FAIL,
	  .setup = setup_race, .idle = idle_race, .serve_fd = serve_race },
	{ "race_reply_before_read_done", bad_early_reads, client_early_reply, EXP_FAIL,
	  .setup = setup_race, .serve_fd = serve_early },
	{ "create_mode_masked", bad_record_create_mode, client_create_modes, EXP_ANY },
	{ "create_mode_dont_mask", bad_record_create_mode, client_create_modes, EXP_ANY,
	  .setup = setup_dont_mask },
	{ "race_abort_signal", bad_hold_reads, client_abort_signal, EXP_FAIL,
	  .setup = setup_abort_signal },
	{ "race_writeback_end_evict", bad_wb_evict, client_wb_evict, EXP_ANY,
	  .setup = setup_wb_evict, .serve_fd = serve_wb_evict },
	{ "fuzz_pagecache", bad_fuzz, client_fuzz, EXP_ANY, .setup = setup_fuzz_cache },
	{ "fuzz_direct", bad_fuzz, client_fuzz, EXP_ANY, .setup = setup_fuzz_direct },
	{ "adio_write_chunk_error_drops_cache", bad_adio_write_error, client_adio_write_error,
	  EXP_ANY, .setup = setup_adio },
	{ "adio_read_short_chunk", bad_adio_short, client_adio_short, EXP_ANY,
	  .setup = setup_adio },
	{ "adio_reply_longer_than_asked", bad_adio_too_long, client_adio_too_long, EXP_ANY,
	  .setup = setup_adio },
	{ "adio_never_reply_daemon_dies", bad_adio_hold_die, client_adio_daemon_dies, EXP_FAIL,
	  .setup = setup_adio },
	{ "adio_never_reply_session_abort", bad_hold_reads, client_adio_abort, EXP_FAIL,
	  .setup = setup_adio },
	{ "adio_last_fput_in_completion", bad_adio_flock, client_adio_fput, EXP_ANY,
	  .setup = setup_adio_flock, .idle = idle_adio_answer },
	{ "adio_nowait_never_blocks", bad_hold_reads, client_adio_nowait, EXP_ANY,
	  .setup = setup_adio, .idle = idle_adio_answer },
	{ "adio_otrunc_waits_for_writes", bad_otrunc_order, client_adio_otrunc, EXP_ANY,
	  .setup = setup_adio_otrunc, .idle = idle_answer_held },
	{ "adio_truncate_ignores_reads", bad_hold_reads, client_adio_truncate, EXP_ANY,
	  .setup = setup_adio, .idle = idle_adio_answer },
	{ "dio_sync_write_error_drops_cache", bad_dio_write_stored_eio, client_dio_write_error,
	  EXP_ANY, .setup = setup_adio },
	{ "adio_dsync_stays_sync", bad_adio_hold_writes, client_adio_dsync, EXP_ANY,
	  .setup = setup_adio, .idle = idle_adio_answer },
	{ "adio_no_async_dio_stays_sync", bad_adio_hold_writes, client_adio_dsync, EXP_ANY,
	  .setup = setup_adio_sync_only, .idle = idle_adio_answer },
	{ "adio_direct_io_size0_reads_data", NULL, client_adio_size0, EXP_ANY,
	  .setup = setup_adio_size0 },
	{ "adio_read_eagain_is_eio", bad_adio_eagain, client_adio_eagain, EXP_ANY,
	  .setup = setup_adio },
	{ "adio_kthread_release_never_waits", bad_adio_kthread_release,
	  client_adio_kthread_release, EXP_ANY, .setup = setup_adio_flock,
	  .idle = idle_adio_answer },
	{ "baseline", NULL, client_stat_file, EXP_OK },
};
#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static void serve(int fd, const struct scenario *s)
{
	static char buf[BUFSZ];

	if (s->serve_fd)
		fd = s->serve_fd(fd);
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct req r;
		ssize_t n;

		if (s->idle && poll(&pfd, 1, 100) == 0) {
			s->idle(fd);
			continue;
		}
		n = read(fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR || errno == ENOENT || errno == EAGAIN)
				continue;
			_exit(errno == ENODEV ? 0 : 1);
		}
		if ((size_t)n < sizeof(struct fuse_in_header))
			_exit(2);
		r.h = (void *)buf;
		r.arg = buf + sizeof(struct fuse_in_header);
		r.len = n;
		if (s->bad && s->bad(fd, &r))
			continue;
		serve_normal(fd, &r);
	}
}

static int run_scenario(const struct scenario *s)
{
	unsigned int before = tap_failed();
	int fd, status = 0;
	char opts[256];
	struct stat st;
	pid_t server;

	memset(&tinyfs_cfg, 0, sizeof(tinyfs_cfg));
	memset(shm, 0, sizeof(*shm));
	if (s->setup)
		s->setup();
	fd = open(devpath, O_RDWR);
	if (fd < 0) {
		tap(false, "%s: open %s: %s", s->name, devpath, strerror(errno));
		return 1;
	}
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fd);
	if (mount("badreply", mnt, fstype, MS_NOSUID | MS_NODEV, opts)) {
		tap(false, "%s: mount: %s", s->name, strerror(errno));
		close(fd);
		return 1;
	}
	server = fork();
	if (server == 0) {
		alarm(120 + fuzz_seconds);
		serve(fd, s);
	}
	server_pid = server;
	close(fd);

	alarm(60);	/* a hang kills this process: the suite reports it */
	s->client(s);
	alarm(60);
	if (s->expect != EXP_FAIL && strcmp(s->name, "daemon_dies_mid_read")) {
		int err = stat(mnt, &st) ? errno : 0;

		/*
		 * After a bad reply the mount is usable, or cleanly refuses.
		 * A fuzzing daemon may answer this very GETATTR with any
		 * errno it likes (EACCES...): a user-visible errno is clean.
		 */
		bool fuzz = s->bad == bad_fuzz;

		tap(err == 0 || err == ENOTCONN || err == EIO || err == ECONNREFUSED ||
		    (fuzz && err > 0 && err < 512),
		    "%s: mount root afterwards is usable or cleanly failing", s->name);
		if (err)
			diag("stat(root): %s", strerror(err));
	}
	tap(umount2(mnt, 0) == 0 || umount2(mnt, MNT_DETACH) == 0,
	    "%s: unmount works", s->name);
	if (server_pid) {
		kill(server, SIGKILL);
		waitpid(server, &status, 0);
	}
	alarm(0);
	return tap_failed() != before;
}

int main(int argc, char **argv)
{
	const char *which;
	unsigned int i;
	int opt;
	bool found = false;

	while ((opt = getopt(argc, argv, "t:d:")) != -1) {
		switch (opt) {
		case 't':
			fstype = optarg;
			break;
		case 'd':
			devpath = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (argc - optind == 1 && !strcmp(argv[optind], "list")) {
		for (i = 0; i < NR_SCENARIOS; i++)
			printf("%s\n", scenarios[i].name);
		return 0;
	}
	if (argc - optind != 2)
		goto usage;
	which = argv[optind];
	mnt = argv[optind + 1];
	snprintf(path_file, sizeof(path_file), "%s/file", mnt);
	snprintf(path_dir, sizeof(path_dir), "%s/dir", mnt);
	snprintf(path_link, sizeof(path_link), "%s/link", mnt);
	tap_init(0);
	signal(SIGPIPE, SIG_IGN);
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		   -1, 0);
	if (shm == MAP_FAILED) {
		perror("badreply: mmap");
		return 1;
	}

	for (i = 0; i < NR_SCENARIOS; i++) {
		if (strcmp(which, "all") && strcmp(which, scenarios[i].name))
			continue;
		found = true;
		if (!strncmp(scenarios[i].name, "race_", 5)) {
			const char *e = getenv("MQ_RACE_ROUNDS");
			unsigned int r, rounds = e ? strtoul(e, NULL, 0) : 8;

			for (r = 0; r < rounds; r++)
				run_scenario(&scenarios[i]);
			continue;
		}
		if (!strncmp(scenarios[i].name, "fuzz_", 5)) {
			struct timespec t0, t1;
			unsigned int rounds = 0;

			fuzz_seed = 0;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			do {
				run_scenario(&scenarios[i]);
				rounds++;
				clock_gettime(CLOCK_MONOTONIC, &t1);
			} while ((unsigned long)(t1.tv_sec - t0.tv_sec) < fuzz_seconds);
			diag("%s: %u rounds of %d s", scenarios[i].name, rounds,
			     FUZZ_ROUND_SECONDS);
			continue;
		}
		run_scenario(&scenarios[i]);
	}
	if (!found) {
		fprintf(stderr, "badreply: unknown scenario %s\n", which);
		return 2;
	}
	return tap_done();

usage:
	fprintf(stderr, "usage: badreply [-t FSTYPE] [-d DEVICE] SCENARIO|all|list MOUNTPOINT\n");
	return 2;
}
