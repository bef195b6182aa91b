// SPDX-License-Identifier: GPL-2.0
/*
 * Writes the seed corpus of fuzz_dispatch: one file per opcode (and a few
 * hostile LOOKUP names), each a short request sequence against the
 * backend fixture of fuzz_dispatch.c (file, dir/sub, link, null, fifo).
 * In a fresh inode table the first LOOKUP answers nodeid 2, the second 3.
 * Usage: gen_corpus DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fuse.h>

static char buf[8192];
static size_t used;
static uint64_t unique = 100;

/* Append one request: header, body, up to two NUL-terminated names. */
static void req(uint32_t opcode, uint64_t nodeid, const void *body,
		size_t blen, const char *n1, const char *n2)
{
	struct fuse_in_header in = {
		.opcode = opcode, .unique = unique++, .nodeid = nodeid,
	};
	size_t start = used;

	used += sizeof(in);
	memcpy(buf + used, body, blen);
	used += blen;
	if (n1) {
		memcpy(buf + used, n1, strlen(n1) + 1);
		used += strlen(n1) + 1;
	}
	if (n2) {
		memcpy(buf + used, n2, strlen(n2) + 1);
		used += strlen(n2) + 1;
	}
	in.len = used - start;
	memcpy(buf + start, &in, sizeof(in));
}

static void lookup(const char *name)
{
	req(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, name, NULL);
}

static void save(const char *dir, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, used, f) != used || fclose(f)) {
		perror(path);
		exit(1);
	}
	used = 0;
}

/*
 * fh of the first file/dir opened by an input: generation 1 in the high
 * 32 bits (handles.c), the fd number (guessed, mutated anyway) below.
 */
#define FH	((1ull << 32) | 8)

int main(int argc, char **argv)
{
	const char *d = argc > 1 ? argv[1] : "corpus";
	struct fuse_getattr_in ga = { 0 };
	struct fuse_setattr_in sa = { .valid = FATTR_MODE | FATTR_SIZE,
				      .mode = 0100600, .size = 3 };
	struct fuse_open_in oi = { .flags = 2 };
	struct fuse_read_in ri = { .fh = FH, .size = 4096 };
	struct { struct fuse_write_in wi; char data[5]; } wr = {
		.wi = { .fh = FH, .size = 5 }, .data = "abcde" };
	struct fuse_release_in rel = { .fh = FH };
	struct fuse_flush_in fl = { .fh = FH };
	struct fuse_fsync_in fs = { .fh = FH };
	struct fuse_forget_in fo = { .nlookup = 1 };
	struct { struct fuse_batch_forget_in b; struct fuse_forget_one o[2]; } bf = {
		.b = { .count = 2 }, .o = { { 2, 1 }, { 3, 5 } } };
	struct fuse_mknod_in mn = { .mode = 0010644 };
	struct fuse_mkdir_in md = { .mode = 0755 };
	struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };
	struct fuse_rename2_in rn2 = { .newdir = FUSE_ROOT_ID, .flags = 2 };
	struct fuse_link_in li = { .oldnodeid = 2 };
	struct fuse_create_in ci = { .flags = 0101, .mode = 0644, .umask = 022 };
	struct fuse_access_in ai = { .mask = 7 };
	struct { struct fuse_setxattr_in s; } sx = { .s = { .size = 3 } };
	struct fuse_getxattr_in gx = { .size = 256 };
	struct fuse_interrupt_in ii = { .unique = 1 };
	struct fuse_fallocate_in fa = { .fh = FH, .length = 8192 };
	struct fuse_lseek_in ls = { .fh = FH, .whence = 3 };
	struct fuse_copy_file_range_in cr = { .fh_in = FH, .nodeid_out = 2,
					      .fh_out = FH, .off_out = 100,
					      .len = 10 };
	struct fuse_init_in in = { .major = 7, .minor = 38 };
	struct fuse_syncfs_in sf = { 0 };
	char xbuf[64];

	lookup("file"); save(d, "lookup");
	lookup("/etc"); save(d, "lookup-absolute");
	lookup(".."); save(d, "lookup-dotdot");
	lookup("dir/../.."); save(d, "lookup-dotdot-path");
	lookup("dir/sub"); save(d, "lookup-slash");
	lookup("link"); req(FUSE_READLINK, 2, NULL, 0, NULL, NULL); save(d, "readlink");
	lookup("file"); req(FUSE_FORGET, 2, &fo, sizeof(fo), NULL, NULL);
	req(FUSE_GETATTR, 2, &ga, sizeof(ga), NULL, NULL); save(d, "forget");
	lookup("file"); lookup("dir");
	req(FUSE_BATCH_FORGET, 0, &bf, sizeof(bf), NULL, NULL); save(d, "batch_forget");
	lookup("file"); req(FUSE_GETATTR, 2, &ga, sizeof(ga), NULL, NULL); save(d, "getattr");
	lookup("file"); req(FUSE_SETATTR, 2, &sa, sizeof(sa), NULL, NULL); save(d, "setattr");
	lookup("file"); req(FUSE_ACCESS, 2, &ai, sizeof(ai), NULL, NULL); save(d, "access");
	req(FUSE_SYMLINK, FUSE_ROOT_ID, NULL, 0, "sl", "/etc/passwd"); save(d, "symlink");
	req(FUSE_MKNOD, FUSE_ROOT_ID, &mn, sizeof(mn), "p", NULL); save(d, "mknod");
	req(FUSE_MKDIR, FUSE_ROOT_ID, &md, sizeof(md), "d2", NULL); save(d, "mkdir");
	req(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, "file", NULL); save(d, "unlink");
	lookup("dir"); req(FUSE_UNLINK, 2, NULL, 0, "sub", NULL);
	req(FUSE_RMDIR, FUSE_ROOT_ID, NULL, 0, "dir", NULL); save(d, "rmdir");
	req(FUSE_RENAME, FUSE_ROOT_ID, &rn, sizeof(rn), "file", "moved"); save(d, "rename");
	req(FUSE_RENAME2, FUSE_ROOT_ID, &rn2, sizeof(rn2), "file", "dir"); save(d, "rename2");
	lookup("file"); req(FUSE_LINK, FUSE_ROOT_ID, &li, sizeof(li), "hard", NULL); save(d, "link");
	req(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "new", NULL); save(d, "create");
	req(FUSE_CREATE, FUSE_ROOT_ID, &ci, sizeof(ci), "null", NULL); save(d, "create-over-device");
	req(FUSE_TMPFILE, FUSE_ROOT_ID, &ci, sizeof(ci), NULL, NULL); save(d, "tmpfile");
	lookup("file"); req(FUSE_OPEN, 2, &oi, sizeof(oi), NULL, NULL);
	req(FUSE_READ, 2, &ri, sizeof(ri), NULL, NULL);
	req(FUSE_WRITE, 2, &wr, sizeof(wr), NULL, NULL);
	req(FUSE_FLUSH, 2, &fl, sizeof(fl), NULL, NULL);
	req(FUSE_FSYNC, 2, &fs, sizeof(fs), NULL, NULL);
	req(FUSE_FALLOCATE, 2, &fa, sizeof(fa), NULL, NULL);
	req(FUSE_LSEEK, 2, &ls, sizeof(ls), NULL, NULL);
	req(FUSE_COPY_FILE_RANGE, 2, &cr, sizeof(cr), NULL, NULL);
	req(FUSE_RELEASE, 2, &rel, sizeof(rel), NULL, NULL); save(d, "open-io-release");
	lookup("null"); req(FUSE_OPEN, 2, &oi, sizeof(oi), NULL, NULL); save(d, "open-device");
	lookup("fifo"); req(FUSE_OPEN, 2, &oi, sizeof(oi), NULL, NULL); save(d, "open-fifo");
	req(FUSE_OPENDIR, FUSE_ROOT_ID, &oi, sizeof(oi), NULL, NULL);
	ri.size = 32768;
	req(FUSE_READDIRPLUS, FUSE_ROOT_ID, &ri, sizeof(ri), NULL, NULL);
	req(FUSE_READDIR, FUSE_ROOT_ID, &ri, sizeof(ri), NULL, NULL);
	req(FUSE_FSYNCDIR, FUSE_ROOT_ID, &fs, sizeof(fs), NULL, NULL);
	req(FUSE_RELEASEDIR, FUSE_ROOT_ID, &rel, sizeof(rel), NULL, NULL); save(d, "dir");
	memcpy(xbuf, &sx, sizeof(sx));
	memcpy(xbuf + FUSE_COMPAT_SETXATTR_IN_SIZE, "user.k\0val", 10);
	lookup("file"); req(FUSE_SETXATTR, 2, xbuf, FUSE_COMPAT_SETXATTR_IN_SIZE + 10, NULL, NULL);
	req(FUSE_GETXATTR, 2, &gx, sizeof(gx), "user.k", NULL);
	req(FUSE_LISTXATTR, 2, &gx, sizeof(gx), NULL, NULL);
	req(FUSE_REMOVEXATTR, 2, NULL, 0, "user.k", NULL); save(d, "xattr");
	memcpy(xbuf + FUSE_COMPAT_SETXATTR_IN_SIZE, "system.posix_acl_access\0abc", 27);
	lookup("file"); req(FUSE_SETXATTR, 2, xbuf, FUSE_COMPAT_SETXATTR_IN_SIZE + 27, NULL, NULL);
	save(d, "setxattr-acl");
	req(FUSE_STATFS, FUSE_ROOT_ID, NULL, 0, NULL, NULL); save(d, "statfs");
	req(FUSE_SYNCFS, FUSE_ROOT_ID, &sf, sizeof(sf), NULL, NULL); save(d, "syncfs");
	req(FUSE_INTERRUPT, 0, &ii, sizeof(ii), NULL, NULL); save(d, "interrupt");
	req(FUSE_INIT, 0, &in, sizeof(in), NULL, NULL); save(d, "init-again");
	req(FUSE_GETLK, 2, NULL, 0, NULL, NULL);
	req(FUSE_IOCTL, 2, NULL, 0, NULL, NULL);
	req(FUSE_BMAP, 2, NULL, 0, NULL, NULL);
	req(4096, 2, NULL, 0, NULL, NULL); save(d, "enosys");
	req(FUSE_DESTROY, 0, NULL, 0, NULL, NULL); save(d, "destroy");
	return 0;
}
