// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the recovery state (rstate.c), the journal and replay
 * resolution (dispatch.c, replay.c) and the rebuild of the tables by a
 * successor (restore.c).  Called last from unit_test.c: it re-initialises
 * the inode table and the handle table on a directory of its own.
 *
 * A "crash" is simulated by recording an intent the way dispatch.c does
 * and then applying (or not) the effect directly on the backing
 * directory, as a daemon killed after (or before) its system call would
 * have; the replayed request must then neither fail nor apply twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <mqfuse.h>

#include "mqfused.h"
#include "restore.h"
#include "rstate.h"

static int *rc_failures;

#define RCHECK(cond, name)						\
	do {								\
		if (cond) {						\
			printf("ok - %s\n", name);			\
		} else {						\
			printf("not ok - %s\n", name);			\
			printf("#   %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			(*rc_failures)++;				\
		}							\
	} while (0)

static struct mq_thread rthr;
static int rpipe[2];
/* $TMPDIR (or /tmp)/mqfused-recov.XXXXXX: on a filesystem with file handles */
static char rdir[4096];
static int rroot_fd = -1;
static struct stat rroot_st;
static int rmemfd = -1;
static uint64_t runique = 1000;
static char rreply[64 << 10];

static void rc_harness(void)
{
	size_t room = 256 << 10;

	if (pipe(rpipe))
		abort();
	fcntl(rpipe[0], F_SETFL, O_NONBLOCK);
	memset(&rthr, 0, sizeof(rthr));
	rthr.devfd = rpipe[1];
	rthr.inbuf = aligned_alloc(4096, room);
	rthr.inbuf_len = room;
	rthr.outbuf = aligned_alloc(4096, room);
	rthr.outbuf_len = room;
	mq_stats_thread_init(&rthr.stats);
	mq_creds_thread_init(&rthr);
}

/* Build a request in rthr.inbuf (not dispatched); returns its length. */
static size_t rc_build(uint32_t opcode, uint64_t nodeid, uint64_t unique,
		       const void *arg, size_t arg_len, const char *n1,
		       const char *n2)
{
	struct fuse_in_header *in = (void *)rthr.inbuf;
	size_t len = sizeof(*in) + arg_len;

	memset(in, 0, sizeof(*in));
	memcpy(in + 1, arg, arg_len);
	if (n1) {
		memcpy(rthr.inbuf + len, n1, strlen(n1) + 1);
		len += strlen(n1) + 1;
	}
	if (n2) {
		memcpy(rthr.inbuf + len, n2, strlen(n2) + 1);
		len += strlen(n2) + 1;
	}
	in->len = len;
	in->opcode = opcode;
	in->unique = unique;
	in->nodeid = nodeid;
	in->uid = getuid();
	in->gid = getgid();
	return len;
}

/* Dispatch what rc_build made; the reply error (1: no reply). */
static int rc_send(size_t len, ssize_t *rlen)
{
	ssize_t n;

	mq_dispatch(&rthr, len);
	n = read(rpipe[0], rreply, sizeof(rreply));
	if (rlen)
		*rlen = n;
	if (n < (ssize_t)sizeof(struct fuse_out_header))
		return 1;
	return ((struct fuse_out_header *)rreply)->error;
}

static int rc_req(uint32_t opcode, uint64_t nodeid, uint64_t unique,
		  const void *arg, size_t arg_len, const char *n1,
		  const char *n2)
{
	return rc_send(rc_build(opcode, nodeid, unique, arg, arg_len, n1, n2),
		       NULL);
}

/*
 * What dispatch.c records before running a request, without running it:
 * the daemon "dies" right after the intent.
 */
static void rc_intent_only(uint32_t opcode, uint64_t nodeid, uint64_t unique,
			   const void *arg, size_t arg_len, const char *n1,
			   const char *n2)
{
	struct mq_req req = { .thr = &rthr };
	uint64_t aux[MQ_RS_J_AUX];

	rc_build(opcode, nodeid, unique, arg, arg_len, n1, n2);
	req.in = (const void *)rthr.inbuf;
	req.arg = rthr.inbuf + sizeof(struct fuse_in_header);
	req.arg_len = req.in->len - sizeof(struct fuse_in_header);
	mq_journal_prestate(&req, aux);
	mq_rs_journal_intent(unique, opcode, nodeid, aux);
}

static const struct fuse_entry_out *rc_entry(void)
{
	return (const void *)(rreply + sizeof(struct fuse_out_header));
}

static bool rc_exists(const char *name)
{
	struct stat st;

	return !fstatat(rroot_fd, name, &st, AT_SYMLINK_NOFOLLOW);
}

static void rc_write_file(const char *name, const char *text)
{
	int fd = openat(rroot_fd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
}

static off_t rc_size(const char *name)
{
	struct stat st;

	return fstatat(rroot_fd, name, &st, 0) ? -1 : st.st_size;
}

/* Sleep past one tick of the coarse clock (ctime granularity). */
static void rc_tick(void)
{
	struct timespec ts = { 0, 30 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

static void rc_fresh_state(void)
{
	if (rmemfd >= 0)
		close(rmemfd);
	rmemfd = mq_rs_create(4096, MQ_RS_JOURNAL_MIN, &rroot_st, 1, 0);
	if (rmemfd < 0)
		abort();
}

/* ---- journal ring ---------------------------------------------------- */

static void test_rc_journal(void)
{
	uint64_t aux[MQ_RS_J_AUX] = { 0 };
	struct mq_rs_jentry *e, *held, *f;
	uint32_t i;
	bool overwritten = false;
	char payload[8] = "result!";

	rc_fresh_state();
	e = mq_rs_journal_intent(7, FUSE_MKDIR, 1, aux);
	RCHECK(e && atomic_load(&e->state) == MQ_RS_J_INTENT && e->unique == 7,
	       "journal: intent recorded");
	RCHECK(mq_rs_journal_find(7) == e, "journal: intent found by unique");
	mq_rs_journal_done(e, 0, payload, sizeof(payload));
	f = mq_rs_journal_find(7);
	RCHECK(f == e && atomic_load(&f->state) == MQ_RS_J_DONE &&
	       f->reply_len == sizeof(payload) &&
	       !memcmp(f->reply, payload, sizeof(payload)),
	       "journal: result recorded with its reply");
	mq_rs_journal_replied(e);
	RCHECK(mq_rs_journal_find(7) == NULL,
	       "journal: a replied unique is never looked up again");
	RCHECK(mq_rs_journal_find(8) == NULL, "journal: unknown unique not found");

	/* An entry in flight survives any number of laps of the ring. */
	held = mq_rs_journal_intent(99, FUSE_UNLINK, 1, aux);
	for (i = 0; i < 5 * MQ_RS_JOURNAL_MIN; i++) {
		e = mq_rs_journal_intent(100000 + i, FUSE_UNLINK, 1, aux);
		if (!e || e == held) {
			overwritten = true;
			break;
		}
		mq_rs_journal_done(e, -ENOENT, NULL, 0);
		mq_rs_journal_replied(e);
	}
	RCHECK(!overwritten && held->unique == 99 &&
	       atomic_load(&held->state) == MQ_RS_J_INTENT,
	       "journal: wrapping five times never reuses an entry in flight");
	RCHECK(mq_rs_journal_find(99) == held,
	       "journal: the held entry is still found after the wrap");
	RCHECK(mq_rs_journal_find(100000) == NULL,
	       "journal: old replied entries are trimmed by the ring");
	mq_rs_journal_replied(held);

	/* A result too long to keep stays an intent (resolved on replay). */
	e = mq_rs_journal_intent(200, FUSE_OPEN, 1, aux);
	mq_rs_journal_done(e, 0, rreply, MQ_RS_REPLY_MAX + 1);
	RCHECK(atomic_load(&e->state) == MQ_RS_J_INTENT,
	       "journal: an oversized result leaves the intent");
	mq_rs_journal_replied(e);
}

/* ---- state round trip and corruption ---------------------------------- */

static int rc_load(char *err, size_t len, struct mq_rs_image *img)
{
	return mq_rs_load(rmemfd, &rroot_st, img, err, len);
}

static bool rc_refused(const char *why_part, off_t off, const void *bytes,
		       size_t n)
{
	struct mq_rs_image img;
	char err[256], save[64];
	bool ok;

	if (n > sizeof(save) || pread(rmemfd, save, n, off) != (ssize_t)n ||
	    pwrite(rmemfd, bytes, n, off) != (ssize_t)n)
		return false;
	ok = rc_load(err, sizeof(err), &img) == -EUCLEAN &&
	     strstr(err, why_part) != NULL;
	if (!ok)
		printf("#   load said: '%s'\n", err);
	if (pwrite(rmemfd, save, n, off) != (ssize_t)n)
		return false;
	return ok;
}

static void test_rc_state(void)
{
	struct mq_rs_header *h;
	struct mq_rs_image img;
	struct fuse_open_in oi = { .flags = O_RDWR };
	uint64_t aux[MQ_RS_J_AUX] = { 0 }, nodeid;
	struct mq_rs_jentry *e;
	uint32_t bad = 0xdeadbeef, i, rec_of = 0;
	char err[256];
	off_t off;
	int ret;
	struct stat other = rroot_st;

	rc_fresh_state();
	h = mq_rs_live_header();
	rc_write_file("sfile", "state");
	RCHECK(rc_req(FUSE_LOOKUP, FUSE_ROOT_ID, runique++, NULL, 0, "sfile",
		      NULL) == 0, "state: lookup of a file");
	nodeid = rc_entry()->nodeid;
	RCHECK(rc_req(FUSE_OPEN, nodeid, runique++, &oi, sizeof(oi), NULL,
		      NULL) == 0, "state: open of the file");
	e = mq_rs_journal_intent(4242, FUSE_RMDIR, 1, aux);
	ret = rc_load(err, sizeof(err), &img);
	RCHECK(ret == 0, "state: a live state loads");
	if (ret)
		printf("#   %s\n", err);
	RCHECK(img.nr_inodes == 1 && img.nr_handles == 1 && img.nr_journal >= 1,
	       "state: round trip keeps the inode, the handle and the journal");
	/* read up to the highest record written, not the whole fd table */
	RCHECK(h->rec_hwm > 0 && img.nr_recs == h->rec_hwm && h->rec_hwm < h->nr_recs,
	       "state: a successor reads the records below the high-water mark only");
	if (ret || !img.nr_recs) {
		RCHECK(0, "state: the checks of the loaded state (not run: nothing loaded)");
		mq_rs_image_free(&img);
		mq_rs_journal_replied(e);
		return;
	}
	for (i = 0; i < img.nr_recs; i++)
		if (atomic_load(&img.recs[i].kind) == MQ_RS_INODE)
			rec_of = i;
	RCHECK(img.recs[rec_of].nodeid == nodeid &&
	       atomic_load(&img.recs[rec_of].nlookup) == 1 &&
	       img.recs[rec_of].handle_bytes > 0,
	       "state: inode record has nodeid, lookup count and file handle");
	mq_rs_image_free(&img);
	mq_rs_journal_replied(e);

	/* Lookup counts follow LOOKUP and FORGET. */
	rc_req(FUSE_LOOKUP, FUSE_ROOT_ID, runique++, NULL, 0, "sfile", NULL);
	RCHECK(atomic_load(&mq_rs_live_record(rec_of)->nlookup) == 2,
	       "state: a second lookup raises the recorded count");
	{
		struct fuse_forget_in fi = { .nlookup = 1 };

		rc_req(FUSE_FORGET, nodeid, runique++, &fi, sizeof(fi), NULL,
		       NULL);
	}
	RCHECK(atomic_load(&mq_rs_live_record(rec_of)->nlookup) == 1,
	       "state: a forget lowers the recorded count");

	off = h->rec_off + (off_t)rec_of * sizeof(struct mq_rs_record) +
	      offsetof(struct mq_rs_record, ino);
	RCHECK(rc_refused("checksum mismatch", off, &bad, sizeof(bad)),
	       "corrupt: a flipped inode number is refused");
	off = h->rec_off + (off_t)rec_of * sizeof(struct mq_rs_record) +
	      offsetof(struct mq_rs_record, handle);
	RCHECK(rc_refused("checksum mismatch", off, &bad, sizeof(bad)),
	       "corrupt: a flipped file handle is refused");
	RCHECK(rc_refused("header checksum", offsetof(struct mq_rs_header,
						     nr_jentries), &bad, 2),
	       "corrupt: a changed header field is refused");
	RCHECK(rc_refused("bad magic", 0, "XXXX", 4),
	       "corrupt: a wrong magic is refused");
	{
		uint32_t kind = 9;

		off = h->rec_off + (off_t)rec_of * sizeof(struct mq_rs_record);
		RCHECK(rc_refused("unknown kind", off, &kind, sizeof(kind)),
		       "corrupt: an unknown record kind is refused");
	}
	e = mq_rs_journal_intent(5151, FUSE_RMDIR, 1, aux);
	mq_rs_journal_done(e, -ENOENT, NULL, 0);
	off = h->jrn_off + (off_t)(e - (struct mq_rs_jentry *)
		((char *)h + h->jrn_off)) * sizeof(*e) +
	      offsetof(struct mq_rs_jentry, error);
	{
		int32_t other_err = -EPERM;

		RCHECK(rc_refused("result checksum", off, &other_err,
				  sizeof(other_err)),
		       "corrupt: a changed journal result is refused");
	}
	mq_rs_journal_replied(e);
	other.st_ino++;
	RCHECK(mq_rs_load(rmemfd, &other, &img, err, sizeof(err)) == -EUCLEAN &&
	       strstr(err, "another backing directory"),
	       "corrupt: a state of another directory is refused");
	atomic_store(&h->incomplete, MQ_RS_NO_HANDLE);
	RCHECK(rc_load(err, sizeof(err), &img) == -EUCLEAN &&
	       strstr(err, "incomplete"),
	       "corrupt: a state its writer marked incomplete is refused");
	atomic_store(&h->incomplete, MQ_RS_COMPLETE);
	{
		int fd = memfd_create("plain", MFD_CLOEXEC);

		RCHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0 &&
		       mq_rs_load(fd, &rroot_st, &img, err, sizeof(err)) ==
		       -EUCLEAN && strstr(err, "sealed"),
		       "corrupt: an unsealed file is refused");
		close(fd);
	}
	RCHECK(rc_load(err, sizeof(err), &img) == 0,
	       "corrupt: the restored bytes load again");
	mq_rs_image_free(&img);
}

/* ---- replay: recorded results ----------------------------------------- */

/* The device is gone before the reply: the daemon died right after DONE. */
static ssize_t rc_dead_sink(struct mq_thread *t, const void *buf, size_t len)
{
	(void)t;
	(void)buf;
	(void)len;
	errno = ENODEV;
	return -1;
}

/* Run a request whose reply is lost; the journal keeps its result. */
static int rc_req_lost(uint32_t opcode, uint64_t nodeid, uint64_t unique,
		       const void *arg, size_t arg_len, const char *n1,
		       const char *n2)
{
	struct mq_rs_jentry *e;

	rthr.reply_sink = rc_dead_sink;
	rc_req(opcode, nodeid, unique, arg, arg_len, n1, n2);
	rthr.reply_sink = NULL;
	e = mq_rs_journal_find(unique);
	if (!e || atomic_load(&e->state) != MQ_RS_J_DONE)
		return 1;
	return e->error;
}

static void test_rc_replay_done(void)
{
	struct fuse_mkdir_in mi = { .mode = 0755 };
	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT | O_EXCL,
				     .mode = 0644 };
	struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };
	struct fuse_link_in li;
	uint64_t u, nodeid, fh;
	const struct fuse_open_out *oo;

	rc_fresh_state();
	u = runique++;
	RCHECK(rc_req_lost(FUSE_MKDIR, FUSE_ROOT_ID, u, &mi, sizeof(mi), "d1",
			   NULL) == 0, "replay: mkdir runs, its reply is lost");
	nodeid = ((const struct fuse_entry_out *)mq_rs_journal_find(u)->reply)->nodeid;
	/* The kernel replays it (reply lost with the daemon). */
	RCHECK(rc_req(FUSE_MKDIR, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, &mi,
		      sizeof(mi), "d1", NULL) == 0 &&
	       rc_entry()->nodeid == nodeid,
	       "replay: a replayed mkdir gets the recorded entry, not EEXIST");

	u = runique++;
	RCHECK(rc_req_lost(FUSE_CREATE, FUSE_ROOT_ID, u, &ci, sizeof(ci), "c1",
			   NULL) == 0, "replay: create runs, its reply is lost");
	nodeid = ((const struct fuse_entry_out *)mq_rs_journal_find(u)->reply)->nodeid;
	oo = (const void *)(mq_rs_journal_find(u)->reply +
			    sizeof(struct fuse_entry_out));
	fh = oo->fh;
	RCHECK(rc_req(FUSE_CREATE, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, &ci,
		      sizeof(ci), "c1", NULL) == 0 &&
	       rc_entry()->nodeid == nodeid &&
	       ((const struct fuse_open_out *)(rc_entry() + 1))->fh == fh,
	       "replay: a replayed O_EXCL create gets the same nodeid and fh");

	rc_write_file("victim", "x");
	u = runique++;
	RCHECK(rc_req_lost(FUSE_UNLINK, FUSE_ROOT_ID, u, NULL, 0, "victim",
			   NULL) == 0, "replay: unlink runs, its reply is lost");
	rc_write_file("victim", "recreated by someone else");
	RCHECK(rc_req(FUSE_UNLINK, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, NULL,
		      0, "victim", NULL) == 0 && rc_exists("victim"),
	       "replay: a replayed unlink answers 0 and removes nothing again");

	rc_write_file("r-src", "r");
	u = runique++;
	RCHECK(rc_req_lost(FUSE_RENAME, FUSE_ROOT_ID, u, &rn, sizeof(rn),
			   "r-src", "r-dst") == 0,
	       "replay: rename runs, its reply is lost");
	RCHECK(rc_req(FUSE_RENAME, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, &rn,
		      sizeof(rn), "r-src", "r-dst") == 0 && rc_exists("r-dst"),
	       "replay: a replayed rename answers 0, not ENOENT");

	li.oldnodeid = nodeid;
	u = runique++;
	RCHECK(rc_req_lost(FUSE_LINK, FUSE_ROOT_ID, u, &li, sizeof(li),
			   "c1-link", NULL) == 0,
	       "replay: link runs, its reply is lost");
	RCHECK(rc_req(FUSE_LINK, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, &li,
		      sizeof(li), "c1-link", NULL) == 0 &&
	       rc_entry()->nodeid == nodeid,
	       "replay: a replayed link gets the recorded entry, not EEXIST");

	u = runique++;
	RCHECK(rc_req_lost(FUSE_RMDIR, FUSE_ROOT_ID, u, NULL, 0, "no-such-dir",
			   NULL) == -ENOENT,
	       "replay: a failing rmdir fails, its reply is lost");
	RCHECK(rc_req(FUSE_RMDIR, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, NULL,
		      0, "no-such-dir", NULL) == -ENOENT,
	       "replay: its replay gets the recorded error");

	/* Answered: the kernel never replays it; nothing is looked up. */
	u = runique++;
	RCHECK(rc_req(FUSE_MKDIR, FUSE_ROOT_ID, u, &mi, sizeof(mi), "d2",
		      NULL) == 0 && mq_rs_journal_find(u) == NULL,
	       "replay: an answered request leaves no live journal entry");

	/* Not journaled (idempotent): a replayed LOOKUP just runs. */
	RCHECK(rc_req(FUSE_LOOKUP, FUSE_ROOT_ID, runique++ | MQFUSE_UNIQUE_REPLAY,
		      NULL, 0, "d1", NULL) == 0,
	       "replay: a replayed idempotent request runs");
}

/* ---- replay: intent without result, per opcode ------------------------- */

static void test_rc_replay_intent(void)
{
	struct fuse_mkdir_in mi = { .mode = 0755 };
	struct fuse_mknod_in mn = { .mode = S_IFIFO | 0644 };
	struct fuse_create_in ci = { .flags = O_RDWR | O_CREAT | O_EXCL,
				     .mode = 0644 };
	struct fuse_rename_in rn = { .newdir = FUSE_ROOT_ID };
	struct fuse_link_in li;
	struct fuse_open_in oi = { .flags = O_WRONLY | O_APPEND };
	struct fuse_write_in wi = { 0 };
	char buf[64];
	uint64_t u, nodeid, fh;
	size_t len;
	int fd;

	rc_fresh_state();

	/* MKDIR: applied before the crash / not applied / someone else's. */
	u = runique++;
	rc_intent_only(FUSE_MKDIR, FUSE_ROOT_ID, u, &mi, sizeof(mi), "im1", NULL);
	mkdirat(rroot_fd, "im1", 0755);
	RCHECK(rc_req(FUSE_MKDIR, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, &mi,
		      sizeof(mi), "im1", NULL) == 0 && rc_entry()->nodeid,
	       "intent: mkdir applied before the crash answers its entry");
	u = runique++;
	rc_intent_only(FUSE_MKDIR, FUSE_ROOT_ID, u, &mi, sizeof(mi), "im2", NULL);
	RCHECK(rc_req(FUSE_MKDIR, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, &mi,
		      sizeof(mi), "im2", NULL) == 0 && rc_exists("im2"),
	       "intent: mkdir not applied runs on replay");
	mkdirat(rroot_fd, "im3", 0755);
	rc_tick();
	u = runique++;
	rc_intent_only(FUSE_MKDIR, FUSE_ROOT_ID, u, &mi, sizeof(mi), "im3", NULL);
	RCHECK(rc_req(FUSE_MKDIR, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, &mi,
		      sizeof(mi), "im3", NULL) == -EEXIST,
	       "intent: mkdir over an older directory still fails EEXIST");

	/* MKNOD, SYMLINK applied. */
	u = runique++;
	rc_intent_only(FUSE_MKNOD, FUSE_ROOT_ID, u, &mn, sizeof(mn), "ififo", NULL);
	mkfifoat(rroot_fd, "ififo", 0644);
	RCHECK(rc_req(FUSE_MKNOD, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, &mn,
		      sizeof(mn), "ififo", NULL) == 0,
	       "intent: mknod applied before the crash answers its entry");
	u = runique++;
	rc_intent_only(FUSE_SYMLINK, FUSE_ROOT_ID, u, NULL, 0, "isym", "target");
	symlinkat("target", rroot_fd, "isym");
	RCHECK(rc_req(FUSE_SYMLINK, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, NULL,
		      0, "isym", "target") == 0,
	       "intent: symlink applied before the crash answers its entry");

	/* CREATE O_EXCL applied: the file is opened, not truncated. */
	u = runique++;
	rc_intent_only(FUSE_CREATE, FUSE_ROOT_ID, u, &ci, sizeof(ci), "icr", NULL);
	rc_write_file("icr", "data written after create");
	RCHECK(rc_req(FUSE_CREATE, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, &ci,
		      sizeof(ci), "icr", NULL) == 0 &&
	       ((const struct fuse_open_out *)(rc_entry() + 1))->fh &&
	       rc_size("icr") == (off_t)strlen("data written after create"),
	       "intent: O_EXCL create applied answers an open handle, no EEXIST, no truncation");

	/* UNLINK: applied, applied then recreated, not applied. */
	rc_write_file("iu1", "1");
	u = runique++;
	rc_intent_only(FUSE_UNLINK, FUSE_ROOT_ID, u, NULL, 0, "iu1", NULL);
	unlinkat(rroot_fd, "iu1", 0);
	RCHECK(rc_req(FUSE_UNLINK, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, NULL,
		      0, "iu1", NULL) == 0,
	       "intent: unlink applied before the crash answers 0, not ENOENT");
	rc_write_file("iu2", "1");
	u = runique++;
	rc_intent_only(FUSE_UNLINK, FUSE_ROOT_ID, u, NULL, 0, "iu2", NULL);
	unlinkat(rroot_fd, "iu2", 0);
	rc_write_file("iu2", "someone else's new file");
	RCHECK(rc_req(FUSE_UNLINK, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, NULL,
		      0, "iu2", NULL) == 0 && rc_exists("iu2"),
	       "intent: unlink applied, name reused since: the new file survives");
	rc_write_file("iu3", "1");
	u = runique++;
	rc_intent_only(FUSE_UNLINK, FUSE_ROOT_ID, u, NULL, 0, "iu3", NULL);
	RCHECK(rc_req(FUSE_UNLINK, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, NULL,
		      0, "iu3", NULL) == 0 && !rc_exists("iu3"),
	       "intent: unlink not applied runs on replay");
	mkdirat(rroot_fd, "ird", 0755);
	u = runique++;
	rc_intent_only(FUSE_RMDIR, FUSE_ROOT_ID, u, NULL, 0, "ird", NULL);
	unlinkat(rroot_fd, "ird", AT_REMOVEDIR);
	RCHECK(rc_req(FUSE_RMDIR, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, NULL,
		      0, "ird", NULL) == 0,
	       "intent: rmdir applied before the crash answers 0");

	/* RENAME applied / not applied. */
	rc_write_file("irs", "r");
	u = runique++;
	rc_intent_only(FUSE_RENAME, FUSE_ROOT_ID, u, &rn, sizeof(rn), "irs", "ird2");
	renameat(rroot_fd, "irs", rroot_fd, "ird2");
	RCHECK(rc_req(FUSE_RENAME, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, &rn,
		      sizeof(rn), "irs", "ird2") == 0 && rc_exists("ird2"),
	       "intent: rename applied before the crash answers 0, not ENOENT");
	rc_write_file("irs3", "r");
	u = runique++;
	rc_intent_only(FUSE_RENAME, FUSE_ROOT_ID, u, &rn, sizeof(rn), "irs3", "ird3");
	RCHECK(rc_req(FUSE_RENAME, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, &rn,
		      sizeof(rn), "irs3", "ird3") == 0 && rc_exists("ird3") &&
	       !rc_exists("irs3"),
	       "intent: rename not applied runs on replay");

	/* LINK applied. */
	rc_write_file("ilsrc", "l");
	rc_req(FUSE_LOOKUP, FUSE_ROOT_ID, runique++, NULL, 0, "ilsrc", NULL);
	li.oldnodeid = rc_entry()->nodeid;
	u = runique++;
	rc_intent_only(FUSE_LINK, FUSE_ROOT_ID, u, &li, sizeof(li), "ilnk", NULL);
	linkat(rroot_fd, "ilsrc", rroot_fd, "ilnk", 0);
	RCHECK(rc_req(FUSE_LINK, FUSE_ROOT_ID, u | MQFUSE_UNIQUE_REPLAY, &li,
		      sizeof(li), "ilnk", NULL) == 0 &&
	       rc_entry()->nodeid == li.oldnodeid,
	       "intent: link applied before the crash answers the entry");

	/* WRITE to an O_APPEND handle: applied once, never twice. */
	rc_write_file("iapp", "head:");
	rc_req(FUSE_LOOKUP, FUSE_ROOT_ID, runique++, NULL, 0, "iapp", NULL);
	nodeid = rc_entry()->nodeid;
	RCHECK(rc_req(FUSE_OPEN, nodeid, runique++, &oi, sizeof(oi), NULL,
		      NULL) == 0, "intent: open O_APPEND");
	fh = ((const struct fuse_open_out *)(rreply + 16))->fh;
	wi.fh = fh;
	wi.size = 6;
	memcpy(buf, &wi, sizeof(wi));
	memcpy(buf + sizeof(wi), "tail-1", 6);
	len = sizeof(wi) + 6;
	u = runique++;
	rc_intent_only(FUSE_WRITE, nodeid, u, buf, len, NULL, NULL);
	fd = openat(rroot_fd, "iapp", O_WRONLY | O_APPEND);
	RCHECK(fd >= 0 && write(fd, "tail-1", 6) == 6, "intent: append applied");
	close(fd);
	RCHECK(rc_req(FUSE_WRITE, nodeid, u | MQFUSE_UNIQUE_REPLAY, buf, len,
		      NULL, NULL) == 0 && rc_size("iapp") == 11,
	       "intent: an applied append is not appended again");
	memcpy(buf + sizeof(wi), "tail-2", 6);
	u = runique++;
	rc_intent_only(FUSE_WRITE, nodeid, u, buf, len, NULL, NULL);
	RCHECK(rc_req(FUSE_WRITE, nodeid, u | MQFUSE_UNIQUE_REPLAY, buf, len,
		      NULL, NULL) == 0 && rc_size("iapp") == 17,
	       "intent: an append not applied is appended on replay");
}

/* ---- a successor rebuilds the tables --------------------------------- */

static void test_rc_restore(void)
{
	struct fuse_open_in oi = { .flags = O_RDWR };
	struct fuse_read_in ri = { .size = 5 };
	struct mq_restore_stats rs;
	struct mq_rs_image img;
	uint64_t fnode, dnode, gnode, fh, dfh, next;
	struct mq_inode *inode;
	struct stat st;
	char err[256];
	int ret, root_fd, dummy = -1, *movable[] = { &dummy };
	ssize_t n;

	rc_fresh_state();
	rc_write_file("rfile", "hello world");
	mkdirat(rroot_fd, "rdir", 0755);
	rc_write_file("rgone", "gone");
	rc_req(FUSE_LOOKUP, FUSE_ROOT_ID, runique++, NULL, 0, "rfile", NULL);
	fnode = rc_entry()->nodeid;
	rc_req(FUSE_LOOKUP, FUSE_ROOT_ID, runique++, NULL, 0, "rfile", NULL);
	rc_req(FUSE_LOOKUP, FUSE_ROOT_ID, runique++, NULL, 0, "rdir", NULL);
	dnode = rc_entry()->nodeid;
	rc_req(FUSE_LOOKUP, FUSE_ROOT_ID, runique++, NULL, 0, "rgone", NULL);
	gnode = rc_entry()->nodeid;
	rc_req(FUSE_OPEN, fnode, runique++, &oi, sizeof(oi), NULL, NULL);
	fh = ((const struct fuse_open_out *)(rreply + 16))->fh;
	rc_req(FUSE_OPENDIR, dnode, runique++, &oi, sizeof(oi) , NULL, NULL);
	dfh = ((const struct fuse_open_out *)(rreply + 16))->fh;
	next = mq_itable_next_nodeid();

	ret = mq_rs_load(rmemfd, &rroot_st, &img, err, sizeof(err));
	RCHECK(ret == 0, "restore: the state loads");
	if (ret) {
		printf("#   %s\n", err);
		return;
	}
	/* The daemon dies: its tables and fds are gone. */
	mq_rs_close();
	close((int)(uint32_t)fh);
	close((int)(uint32_t)dfh);
	mq_itable_destroy();
	unlinkat(rroot_fd, "rgone", 0);
	root_fd = open(rdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	fstat(root_fd, &st);
	mq_itable_init(root_fd, &st);
	mq_handles_init(4096);
	close(rmemfd);
	rmemfd = mq_rs_create(4096, MQ_RS_JOURNAL_MIN, &rroot_st, img.epoch + 1,
			      img.nodeid_reserved);
	ret = mq_restore_tables(&img, &root_fd, movable, 1, &rs, err,
				sizeof(err));
	RCHECK(ret == 0, "restore: the successor rebuilds its tables");
	if (ret)
		printf("#   %s\n", err);
	RCHECK(rs.inodes == 2 && rs.stale_inodes == 1 && rs.handles == 2,
	       "restore: live inodes and handles back, the deleted one left out");
	inode = mq_inode_get(fnode);
	RCHECK(inode && !fstatat(inode->fd, "", &st, AT_EMPTY_PATH) &&
	       st.st_size == 11 && atomic_load(&inode->nlookup) == 2,
	       "restore: a nodeid names the same file with its lookup count");
	if (inode)
		mq_inode_put(inode);
	RCHECK(mq_inode_get(gnode) == NULL,
	       "restore: the deleted file's nodeid is stale");
	RCHECK(mq_handle_get_fd(fh, fnode) == (int)(uint32_t)fh,
	       "restore: the open handle is back on its fd with its generation");
	mq_handle_put(fh);
	ri.fh = fh;
	n = rc_req(FUSE_READ, fnode, runique++, &ri, sizeof(ri), NULL, NULL);
	RCHECK(n == 0 && !memcmp(rreply + 16, "hello", 5),
	       "restore: READ through the old fh reads the file");
	RCHECK(mq_handle_get_dir(dfh, dnode) != NULL,
	       "restore: the directory handle is back");
	mq_handle_put(dfh);
	RCHECK(mq_itable_next_nodeid() >= next,
	       "restore: nodeids are never handed out twice");
	mq_rs_journal_adopt(&img);
	RCHECK(mq_rs_load(rmemfd, &rroot_st, &img, err, sizeof(err)) == 0 &&
	       img.nr_inodes == 2 && img.nr_handles == 2,
	       "restore: the successor's own state records what it rebuilt");
	mq_rs_image_free(&img);
}

void test_recovery(int *failures)
{
	const char *tmp = getenv("TMPDIR");
	struct file_handle *fh;
	char cmd[4200];
	int mnt_id, ok, err;

	rc_failures = failures;
	snprintf(rdir, sizeof(rdir), "%s/mqfused-recov.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(rdir)) {
		RCHECK(0, "recovery: temporary directory");
		return;
	}
	/*
	 * The recovery state names objects by file handle: a directory
	 * without them (overlayfs without index, 9p) cannot hold the tests.
	 * A failure, not a skip: run with TMPDIR on ext4, XFS, tmpfs...
	 */
	fh = calloc(1, sizeof(*fh) + MAX_HANDLE_SZ);
	if (fh)
		fh->handle_bytes = MAX_HANDLE_SZ;
	ok = fh && name_to_handle_at(AT_FDCWD, rdir, fh, &mnt_id, 0) == 0;
	err = errno;
	free(fh);
	RCHECK(ok, "recovery: the temporary directory gives file handles (TMPDIR)");
	if (!ok) {
		printf("#   %s: %s\n", rdir, strerror(err));
		rmdir(rdir);
		return;
	}
	rc_harness();
	mq_itable_destroy();
	rroot_fd = open(rdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	fstat(rroot_fd, &rroot_st);
	RCHECK(mq_itable_init(dup(rroot_fd), &rroot_st) == 0 &&
	       mq_handles_init(4096) == 0, "recovery: tables on a new directory");
	if (!atomic_load(&mq_conn.proto_minor))
		atomic_store(&mq_conn.proto_minor, 38);
	test_rc_journal();
	test_rc_state();
	test_rc_replay_done();
	test_rc_replay_intent();
	test_rc_restore();
	mq_rs_close();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", rdir);
	if (system(cmd))
		fprintf(stderr, "cleanup of %s failed\n", rdir);
}
