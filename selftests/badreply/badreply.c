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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

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
	struct stat st;
	int i;

	for (i = 0; i < 200; i++) {
		int fd;

		stat(path_file, &st);
		fd = open(path_file, O_RDONLY);
		if (fd >= 0) {
			if (read(fd, buf, sizeof(buf)) < 0)
				(void)0;
			close(fd);
		}
		DIR *d = opendir(mnt);

		if (d) {
			while (readdir(d))
				;
			closedir(d);
		}
	}
	tap(true, "%s: 200 rounds of stat/open/read/readdir returned", s->name);
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
	{ "baseline", NULL, client_stat_file, EXP_OK },
};
#define NR_SCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static void serve(int fd, const struct scenario *s)
{
	static char buf[BUFSZ];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		struct req r;

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
	int fd, status;
	char opts[256];
	struct stat st;
	pid_t server;

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
		alarm(120);
		serve(fd, s);
	}
	close(fd);

	alarm(60);	/* a hang kills this process: the suite reports it */
	s->client(s);
	if (s->expect != EXP_FAIL && strcmp(s->name, "daemon_dies_mid_read")) {
		int err = stat(mnt, &st) ? errno : 0;

		/* After a bad reply the mount is usable, or cleanly refuses. */
		tap(err == 0 || err == ENOTCONN || err == EIO || err == ECONNREFUSED,
		    "%s: mount root afterwards is usable or cleanly failing", s->name);
		if (err)
			diag("stat(root): %s", strerror(err));
	}
	tap(umount2(mnt, 0) == 0 || umount2(mnt, MNT_DETACH) == 0,
	    "%s: unmount works", s->name);
	kill(server, SIGKILL);
	waitpid(server, &status, 0);
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

	for (i = 0; i < NR_SCENARIOS; i++) {
		if (strcmp(which, "all") && strcmp(which, scenarios[i].name))
			continue;
		found = true;
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
