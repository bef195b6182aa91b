// SPDX-License-Identifier: GPL-2.0
/*
 * Recovery state: what a successor daemon needs to serve a session whose
 * daemon died (or is being upgraded), kept in a sealed memfd the session
 * holds for us (MQFUSE_IOC_STORE_FD).  Layout and crash-consistency rules:
 * rstate.h.
 *
 * Why a memfd kept by the session rather than a file under /run: it lives
 * exactly as long as the session (no stale files after a reboot or an
 * abort, nothing to clean up, no confusion between two sessions), only a
 * process that may attach to the session can fetch it, it needs no path
 * (the serving process is pivot_root'ed into the backing directory and
 * cannot see /run), and updating it is a plain store into a MAP_SHARED
 * mapping: no system call on the request path.
 *
 * Cost per request: LOOKUP of a new object costs one name_to_handle_at()
 * and a 128-byte record; a lookup-count change one atomic add; OPEN and
 * RELEASE one record each (plus an F_GETFL at open); a journaled request
 * two 256-byte entry writes and a crc32c over them.  Everything else: none.
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

#include "mqfused.h"
#include "rstate.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif

/* Nodeids are reserved in the state in chunks of this many. */
#define MQ_RS_NODEID_CHUNK	4096u

static struct mq_rs_header *mq_rs_hdr;		/* NULL: no live state */
static struct mq_rs_record *mq_rs_recs;
static struct mq_rs_jentry *mq_rs_jrn;
static size_t mq_rs_map_len;
static atomic_bool mq_rs_incomplete_logged;

/* CRC-32C: mq_crc32c() of ../remote/mqcrypto.c */

uint32_t mq_rs_header_crc(const struct mq_rs_header *h)
{
	return mq_crc32c(0, h, offsetof(struct mq_rs_header, crc));
}

uint32_t mq_rs_record_crc(const struct mq_rs_record *r)
{
	uint32_t crc;

	crc = mq_crc32c(0, &r->mode, sizeof(r->mode) + sizeof(r->nodeid));
	crc = mq_crc32c(crc, &r->ino, offsetof(struct mq_rs_record, crc) -
			offsetof(struct mq_rs_record, ino));
	return mq_crc32c(crc, r->handle, sizeof(r->handle));
}

uint32_t mq_rs_jentry_crc(const struct mq_rs_jentry *e)
{
	return mq_crc32c(0, &e->opcode, offsetof(struct mq_rs_jentry, crc) -
			 offsetof(struct mq_rs_jentry, opcode));
}

uint32_t mq_rs_jresult_crc(const struct mq_rs_jentry *e)
{
	uint32_t crc, len = e->reply_len;

	crc = mq_crc32c(0, &e->error, sizeof(e->error) + sizeof(e->reply_len));
	if (len > MQ_RS_REPLY_MAX)
		len = MQ_RS_REPLY_MAX;
	return mq_crc32c(crc, e->reply, len);
}

uint32_t mq_rs_journal_size(unsigned int nr_threads)
{
	uint64_t n = (uint64_t)nr_threads * 8;

	if (n < MQ_RS_JOURNAL_MIN)
		n = MQ_RS_JOURNAL_MIN;
	return n > MQ_RS_JOURNAL_MAX ? MQ_RS_JOURNAL_MAX : (uint32_t)n;
}

/* ----------------------------------------------------------- create */

bool mq_rs_active(void)
{
	return __builtin_expect(mq_rs_hdr != NULL, 0);
}

struct mq_rs_header *mq_rs_live_header(void)
{
	return mq_rs_hdr;
}

struct mq_rs_record *mq_rs_live_record(uint32_t index)
{
	if (!mq_rs_hdr || index >= mq_rs_hdr->nr_recs)
		return NULL;
	return &mq_rs_recs[index];
}

int mq_rs_create(uint32_t nr_recs, uint32_t nr_jentries,
		 const struct stat *root, uint64_t epoch,
		 uint64_t nodeid_reserved)
{
	struct mq_rs_header *h;
	uint64_t rec_off = MQ_RS_HEADER_SIZE, jrn_off, total;
	void *map;
	int fd, err;

	if (!nr_recs || nr_recs > MQ_RS_RECS_MAX ||
	    nr_jentries < MQ_RS_JOURNAL_MIN || nr_jentries > MQ_RS_JOURNAL_MAX)
		return -EINVAL;
	jrn_off = rec_off + (uint64_t)nr_recs * sizeof(struct mq_rs_record);
	total = jrn_off + (uint64_t)nr_jentries * sizeof(struct mq_rs_jentry);
	fd = memfd_create("mqfused-state", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	/* tmpfs: pages are allocated as records are first written. */
	if (ftruncate(fd, total) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		err = -errno;
		close(fd);
		return err;
	}
	map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		err = -errno;
		close(fd);
		return err;
	}
	h = map;
	memcpy(h->magic, MQ_RS_MAGIC, sizeof(h->magic));
	h->version = MQ_RS_VERSION;
	h->header_size = MQ_RS_HEADER_SIZE;
	h->total_size = total;
	h->rec_off = rec_off;
	h->nr_recs = nr_recs;
	h->rec_size = sizeof(struct mq_rs_record);
	h->jrn_off = jrn_off;
	h->nr_jentries = nr_jentries;
	h->jentry_size = sizeof(struct mq_rs_jentry);
	h->root_dev = root->st_dev;
	h->root_ino = root->st_ino;
	h->crc = mq_rs_header_crc(h);
	atomic_store(&h->epoch, epoch ?: 1);
	atomic_store(&h->nodeid_reserved,
		     nodeid_reserved > FUSE_ROOT_ID ? nodeid_reserved :
		     FUSE_ROOT_ID + 1);
	atomic_store(&h->jhead, 0);
	atomic_store(&h->incomplete, MQ_RS_COMPLETE);

	mq_rs_close();
	mq_rs_map_len = total;
	mq_rs_recs = (void *)((char *)map + rec_off);
	mq_rs_jrn = (void *)((char *)map + jrn_off);
	atomic_store(&mq_rs_incomplete_logged, false);
	/* Published last: the hooks start writing once they see it. */
	__atomic_store_n(&mq_rs_hdr, h, __ATOMIC_RELEASE);
	return fd;
}

void mq_rs_close(void)
{
	if (!mq_rs_hdr)
		return;
	munmap(mq_rs_hdr, mq_rs_map_len);
	mq_rs_hdr = NULL;
	mq_rs_recs = NULL;
	mq_rs_jrn = NULL;
	mq_rs_map_len = 0;
}

/*
 * A successor could not rebuild what the kernel relies on: say so once
 * here, and mark the state so that the successor refuses it with that
 * reason instead of serving wrong or missing files.
 */
static void mq_rs_mark_incomplete(enum mq_rs_incomplete why, int fd)
{
	uint32_t none = MQ_RS_COMPLETE;

	atomic_compare_exchange_strong(&mq_rs_hdr->incomplete, &none, why);
	if (!atomic_exchange(&mq_rs_incomplete_logged, true))
		mq_err("recovery state incomplete (fd %d: %s): a restarted daemon will refuse to attach",
		       fd, why == MQ_RS_NO_HANDLE ?
		       "the backing filesystem gives no file handle" :
		       why == MQ_RS_HANDLE_BIG ? "file handle too long" :
		       "fd beyond the state's table");
}

static struct mq_rs_record *mq_rs_slot(int fd)
{
	uint32_t hwm;

	if (fd < 0 || (uint32_t)fd >= mq_rs_hdr->nr_recs) {
		mq_rs_mark_incomplete(MQ_RS_NO_SLOT, fd);
		return NULL;
	}
	/* raised before the record is published: a reader sees it covered */
	hwm = atomic_load(&mq_rs_hdr->rec_hwm);
	while (hwm <= (uint32_t)fd &&
	       !atomic_compare_exchange_weak(&mq_rs_hdr->rec_hwm, &hwm, (uint32_t)fd + 1))
		;
	return &mq_rs_recs[fd];
}

/* Publish a filled record: checksum, then the kind word (release). */
static void mq_rs_publish(struct mq_rs_record *r, enum mq_rs_kind kind)
{
	r->crc = mq_rs_record_crc(r);
	atomic_store_explicit(&r->kind, kind, memory_order_release);
}

/* --------------------------------------------------- inode table hooks */

void mq_rs_nodeid_used(uint64_t nodeid)
{
	uint64_t r;

	if (!mq_rs_active())
		return;
	r = atomic_load(&mq_rs_hdr->nodeid_reserved);
	while (nodeid >= r) {
		if (atomic_compare_exchange_weak(&mq_rs_hdr->nodeid_reserved,
						 &r, nodeid + MQ_RS_NODEID_CHUNK))
			break;
	}
}

/*
 * A new inode, before any reply names it.  Called under the inode
 * table's key shard lock, so no other thread can raise its lookup count
 * before the record holds it.
 */
void mq_rs_inode_new(struct mq_inode *inode)
{
	struct {
		struct file_handle fh;
		unsigned char bytes[MAX_HANDLE_SZ];
	} h;
	struct mq_rs_record *r;
	int mount_id;

	if (!mq_rs_active())
		return;
	mq_rs_nodeid_used(inode->nodeid);
	r = mq_rs_slot(inode->fd);
	if (!r)
		return;
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(inode->fd, "", &h.fh, &mount_id, AT_EMPTY_PATH)) {
		mq_rs_mark_incomplete(MQ_RS_NO_HANDLE, inode->fd);
		return;
	}
	if (h.fh.handle_bytes > MQ_RS_HANDLE_MAX) {
		mq_rs_mark_incomplete(MQ_RS_HANDLE_BIG, inode->fd);
		return;
	}
	atomic_store(&r->kind, MQ_RS_FREE);
	r->mode = inode->type;
	r->nodeid = inode->nodeid;
	atomic_store(&r->nlookup, atomic_load(&inode->nlookup));
	r->ino = inode->ino;
	r->dev = inode->dev;
	r->gen = 0;
	r->handle_type = h.fh.handle_type;
	r->handle_bytes = h.fh.handle_bytes;
	memset(r->handle, 0, sizeof(r->handle));
	memcpy(r->handle, h.fh.f_handle, h.fh.handle_bytes);
	r->reserved = 0;
	mq_rs_publish(r, MQ_RS_INODE);
}

/*
 * The kernel's lookup count changed by @delta.  The same additions as on
 * inode->nlookup, so the two agree once every thread is done; a crash in
 * between only ever leaves the record higher (the add precedes the reply
 * that hands the reference out), which leaks an inode, never loses one.
 */
void mq_rs_inode_lookups(struct mq_inode *inode, int64_t delta)
{
	struct mq_rs_record *r;

	if (!mq_rs_active() || inode->fd < 0 ||
	    (uint32_t)inode->fd >= mq_rs_hdr->nr_recs)
		return;
	r = &mq_rs_recs[inode->fd];
	if (atomic_load_explicit(&r->kind, memory_order_acquire) != MQ_RS_INODE ||
	    r->nodeid != inode->nodeid)
		return;
	atomic_fetch_add(&r->nlookup, (uint64_t)delta);
}

/* Before the inode's fd is closed (nobody else can own the slot yet). */
void mq_rs_inode_gone(struct mq_inode *inode)
{
	struct mq_rs_record *r;

	if (!mq_rs_active() || inode->fd < 0 ||
	    (uint32_t)inode->fd >= mq_rs_hdr->nr_recs)
		return;
	r = &mq_rs_recs[inode->fd];
	if (r->nodeid == inode->nodeid)
		atomic_store_explicit(&r->kind, MQ_RS_FREE,
				      memory_order_release);
}

/* ------------------------------------------------------- handle hooks */

void mq_rs_handle_new(int fd, enum mq_handle_kind kind, uint64_t nodeid,
		      uint32_t gen, int flags)
{
	struct mq_rs_record *r;

	if (!mq_rs_active())
		return;
	r = mq_rs_slot(fd);
	if (!r)
		return;
	atomic_store(&r->kind, MQ_RS_FREE);
	/* A successor must not create or truncate again. */
	r->mode = flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_TMPFILE);
	r->nodeid = nodeid;
	atomic_store(&r->nlookup, 0);
	r->ino = 0;
	r->dev = 0;
	r->gen = gen;
	r->handle_type = 0;
	r->handle_bytes = 0;
	memset(r->handle, 0, sizeof(r->handle));
	r->reserved = 0;
	mq_rs_publish(r, kind == MQ_HANDLE_DIR ? MQ_RS_DIR : MQ_RS_FILE);
}

void mq_rs_handle_gone(int fd)
{
	if (!mq_rs_active() || fd < 0 || (uint32_t)fd >= mq_rs_hdr->nr_recs)
		return;
	atomic_store_explicit(&mq_rs_recs[fd].kind, MQ_RS_FREE,
			      memory_order_release);
}

/* ------------------------------------------------------------ journal */

static int64_t mq_rs_now_coarse(void)
{
	struct timespec ts;

	/*
	 * The coarse clock is what the kernel stamps ctime with: an object
	 * created after this reading has ctime >= it (replay.c relies on it).
	 */
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Claim a journal slot and publish the intent to run @opcode.  Slots in
 * flight (WRITING, INTENT, DONE of the live epoch) are skipped: at most
 * one per serving thread exists, and the ring is at least 8 per thread,
 * so the claim ends within nr_threads + 1 probes.  DONE/INTENT entries of
 * an earlier epoch are kept as long as possible (a restarted daemon may
 * still be replaying them), then reused oldest first: after one full lap
 * without a free slot, anything not of the live epoch goes.
 */
struct mq_rs_jentry *mq_rs_journal_intent(uint64_t unique, uint32_t opcode,
					  uint64_t nodeid,
					  const uint64_t aux[MQ_RS_J_AUX])
{
	uint32_t n, probes, st;
	uint64_t epoch;
	struct mq_rs_jentry *e;

	if (!mq_rs_active())
		return NULL;
	n = mq_rs_hdr->nr_jentries;
	epoch = atomic_load(&mq_rs_hdr->epoch);
	for (probes = 0; probes < 3 * n; probes++) {
		e = &mq_rs_jrn[atomic_fetch_add(&mq_rs_hdr->jhead, 1) % n];
		st = atomic_load_explicit(&e->state, memory_order_acquire);
		if (st == MQ_RS_J_WRITING)
			continue;
		if ((st == MQ_RS_J_INTENT || st == MQ_RS_J_DONE) &&
		    (e->epoch == epoch || probes < n))
			continue;
		if (!atomic_compare_exchange_strong(&e->state, &st,
						    MQ_RS_J_WRITING))
			continue;
		e->opcode = opcode;
		e->unique = unique;
		e->nodeid = nodeid;
		e->epoch = epoch;
		e->stamp_ns = mq_rs_now_coarse();
		memcpy(e->aux, aux, sizeof(e->aux));
		e->crc = mq_rs_jentry_crc(e);
		e->error = 0;
		e->reply_len = 0;
		e->rcrc = 0;
		atomic_store_explicit(&e->state, MQ_RS_J_INTENT,
				      memory_order_release);
		return e;
	}
	/* More in flight than the ring holds: cannot happen, see above. */
	mq_warn("recovery journal full: unique %llu not journaled",
		(unsigned long long)unique);
	return NULL;
}

/*
 * Record the result; the reply may go out once this returns.  The entry
 * stays INTENT (whose checksum does not cover the result) until the
 * result and its own checksum are complete: a crash in between leaves an
 * intent, resolved by replay.c.
 */
void mq_rs_journal_done(struct mq_rs_jentry *e, int error, const void *reply,
			uint32_t len)
{
	if (!e)
		return;
	/* Too long to keep: a replay resolves it as an intent. */
	if (error == 0 && len > MQ_RS_REPLY_MAX)
		return;
	e->error = error;
	e->reply_len = error ? 0 : len;
	if (!error && len)
		memcpy(e->reply, reply, len);
	e->rcrc = mq_rs_jresult_crc(e);
	atomic_store_explicit(&e->state, MQ_RS_J_DONE, memory_order_release);
}

/* The reply was written: the kernel will never replay this unique. */
void mq_rs_journal_replied(struct mq_rs_jentry *e)
{
	if (e)
		atomic_store_explicit(&e->state, MQ_RS_J_REPLIED,
				      memory_order_release);
}

struct mq_rs_jentry *mq_rs_journal_find(uint64_t unique)
{
	struct mq_rs_jentry *e, *best = NULL;
	uint32_t i, st;

	if (!mq_rs_active())
		return NULL;
	for (i = 0; i < mq_rs_hdr->nr_jentries; i++) {
		e = &mq_rs_jrn[i];
		st = atomic_load_explicit(&e->state, memory_order_acquire);
		if ((st != MQ_RS_J_INTENT && st != MQ_RS_J_DONE) ||
		    e->unique != unique)
			continue;
		/* The newest epoch wins; within one, a result beats an intent. */
		if (!best || e->epoch > best->epoch ||
		    (e->epoch == best->epoch && st == MQ_RS_J_DONE))
			best = e;
	}
	return best;
}

void mq_rs_journal_adopt(const struct mq_rs_image *img)
{
	uint32_t i, j = 0, n;

	if (!mq_rs_active())
		return;
	n = mq_rs_hdr->nr_jentries;
	for (i = 0; i < img->nr_jentries && j < n; i++) {
		const struct mq_rs_jentry *src = &img->jrn[i];
		uint32_t st = atomic_load(&src->state);

		if (st != MQ_RS_J_INTENT && st != MQ_RS_J_DONE)
			continue;
		memcpy((char *)&mq_rs_jrn[j] + sizeof(src->state),
		       (const char *)src + sizeof(src->state),
		       sizeof(*src) - sizeof(src->state));
		atomic_store_explicit(&mq_rs_jrn[j].state, st,
				      memory_order_release);
		j++;
	}
	atomic_store(&mq_rs_hdr->jhead, j);
}

/* --------------------------------------------------------------- load */

#define MQ_RS_FAIL(...)				\
	do {					\
		snprintf(err, errlen, __VA_ARGS__);	\
		goto fail;			\
	} while (0)

static bool mq_rs_type_ok(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return (mode & ~S_IFMT) == 0;
	}
	return false;
}

static int mq_rs_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int mq_rs_check_records(struct mq_rs_image *img, char *err,
			       size_t errlen)
{
	uint64_t *ids;
	uint32_t i, j;

	for (i = 0; i < img->nr_recs; i++) {
		struct mq_rs_record *r = &img->recs[i];
		uint32_t kind = atomic_load(&r->kind);

		if (kind == MQ_RS_FREE)
			continue;
		if (kind > MQ_RS_DIR)
			MQ_RS_FAIL("record %u: unknown kind %u", i, kind);
		if (r->crc != mq_rs_record_crc(r))
			MQ_RS_FAIL("record %u: checksum mismatch", i);
		if (r->nodeid <= FUSE_ROOT_ID && kind == MQ_RS_INODE)
			MQ_RS_FAIL("record %u: nodeid %llu cannot be recorded", i,
				   (unsigned long long)r->nodeid);
		if (r->nodeid >= img->nodeid_reserved)
			MQ_RS_FAIL("record %u: nodeid %llu beyond the reserved %llu",
				   i, (unsigned long long)r->nodeid,
				   (unsigned long long)img->nodeid_reserved);
		if (kind == MQ_RS_INODE) {
			if (!mq_rs_type_ok(r->mode))
				MQ_RS_FAIL("record %u: bad file type %#o", i,
					   r->mode);
			if (!r->handle_bytes || r->handle_bytes > MQ_RS_HANDLE_MAX)
				MQ_RS_FAIL("record %u: file handle of %u bytes", i,
					   r->handle_bytes);
			if (!atomic_load(&r->nlookup))
				MQ_RS_FAIL("record %u: inode without lookups", i);
			img->nr_inodes++;
		} else {
			if (!r->gen)
				MQ_RS_FAIL("record %u: handle generation 0", i);
			if ((r->mode & O_ACCMODE) == O_ACCMODE)
				MQ_RS_FAIL("record %u: bad open flags %#x", i,
					   r->mode);
			img->nr_handles++;
		}
	}
	/* Nodeids unique; every handle names a recorded inode (or the root). */
	ids = malloc(sizeof(*ids) * (img->nr_inodes + 1));
	if (!ids)
		MQ_RS_FAIL("out of memory");
	for (i = 0, j = 0; i < img->nr_recs; i++)
		if (atomic_load(&img->recs[i].kind) == MQ_RS_INODE)
			ids[j++] = img->recs[i].nodeid;
	qsort(ids, j, sizeof(*ids), mq_rs_cmp_u64);
	for (i = 1; i < j; i++)
		if (ids[i] == ids[i - 1]) {
			free(ids);
			MQ_RS_FAIL("nodeid %llu recorded twice",
				   (unsigned long long)ids[i]);
		}
	for (i = 0; i < img->nr_recs; i++) {
		struct mq_rs_record *r = &img->recs[i];
		uint32_t kind = atomic_load(&r->kind);

		if ((kind != MQ_RS_FILE && kind != MQ_RS_DIR) ||
		    r->nodeid == FUSE_ROOT_ID ||
		    bsearch(&r->nodeid, ids, j, sizeof(*ids), mq_rs_cmp_u64))
			continue;
		free(ids);
		MQ_RS_FAIL("handle record %u: nodeid %llu has no inode record",
			   i, (unsigned long long)r->nodeid);
	}
	free(ids);
	return 0;
fail:
	return -EUCLEAN;
}

static int mq_rs_check_journal(struct mq_rs_image *img, char *err,
			       size_t errlen)
{
	uint32_t i;

	for (i = 0; i < img->nr_jentries; i++) {
		struct mq_rs_jentry *e = &img->jrn[i];
		uint32_t st = atomic_load(&e->state);

		if (st > MQ_RS_J_REPLIED)
			MQ_RS_FAIL("journal entry %u: unknown state %u", i, st);
		if (st != MQ_RS_J_INTENT && st != MQ_RS_J_DONE)
			continue;
		if (e->reply_len > MQ_RS_REPLY_MAX)
			MQ_RS_FAIL("journal entry %u: reply of %u bytes", i,
				   e->reply_len);
		if (e->crc != mq_rs_jentry_crc(e))
			MQ_RS_FAIL("journal entry %u: checksum mismatch", i);
		if (st == MQ_RS_J_DONE && e->rcrc != mq_rs_jresult_crc(e))
			MQ_RS_FAIL("journal entry %u: result checksum mismatch", i);
		if (e->epoch > img->epoch)
			MQ_RS_FAIL("journal entry %u: from epoch %llu, state at %llu",
				   i, (unsigned long long)e->epoch,
				   (unsigned long long)img->epoch);
		if (e->error > 0 || e->error < -4095)
			MQ_RS_FAIL("journal entry %u: error %d", i, e->error);
		img->nr_journal++;
	}
	return 0;
fail:
	return -EUCLEAN;
}

int mq_rs_load(int memfd, const struct stat *root, struct mq_rs_image *img,
	       char *err, size_t errlen)
{
	struct mq_rs_header *h = &img->hdr;
	uint64_t rec_bytes, jrn_bytes;
	uint32_t hwm;
	struct stat st;
	int seals, ret;

	memset(img, 0, sizeof(*img));
	err[0] = '\0';
	if (fstat(memfd, &st))
		MQ_RS_FAIL("fstat: %s", strerror(errno));
	seals = fcntl(memfd, F_GET_SEALS);
	/* Without these seals, the size could change under a reader. */
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
	    (F_SEAL_SHRINK | F_SEAL_GROW))
		MQ_RS_FAIL("not a sealed memfd of mqfused");
	if (st.st_size < (off_t)MQ_RS_HEADER_SIZE ||
	    pread(memfd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h))
		MQ_RS_FAIL("too short for a header (%lld bytes)",
			   (long long)st.st_size);
	if (memcmp(h->magic, MQ_RS_MAGIC, sizeof(h->magic)))
		MQ_RS_FAIL("bad magic");
	if (h->version != MQ_RS_VERSION)
		MQ_RS_FAIL("version %u, this mqfused reads %u", h->version,
			   MQ_RS_VERSION);
	if (h->crc != mq_rs_header_crc(h))
		MQ_RS_FAIL("header checksum mismatch");
	if (h->header_size != MQ_RS_HEADER_SIZE ||
	    h->rec_size != sizeof(struct mq_rs_record) ||
	    h->jentry_size != sizeof(struct mq_rs_jentry))
		MQ_RS_FAIL("header, record or entry size differs from this mqfused's");
	if (!h->nr_recs || h->nr_recs > MQ_RS_RECS_MAX ||
	    h->nr_jentries < MQ_RS_JOURNAL_MIN ||
	    h->nr_jentries > MQ_RS_JOURNAL_MAX)
		MQ_RS_FAIL("table sizes out of range (%u records, %u entries)",
			   h->nr_recs, h->nr_jentries);
	rec_bytes = (uint64_t)h->nr_recs * h->rec_size;
	jrn_bytes = (uint64_t)h->nr_jentries * h->jentry_size;
	if (h->rec_off != MQ_RS_HEADER_SIZE ||
	    h->jrn_off != h->rec_off + rec_bytes ||
	    h->total_size != h->jrn_off + jrn_bytes ||
	    (uint64_t)st.st_size < h->total_size)
		MQ_RS_FAIL("layout inconsistent with the file size (%lld bytes)",
			   (long long)st.st_size);
	if (root && (h->root_dev != (uint64_t)root->st_dev ||
		     h->root_ino != (uint64_t)root->st_ino))
		MQ_RS_FAIL("made for another backing directory (dev %llu ino %llu)",
			   (unsigned long long)h->root_dev,
			   (unsigned long long)h->root_ino);
	if (atomic_load(&h->incomplete) != MQ_RS_COMPLETE)
		MQ_RS_FAIL("marked incomplete by its writer (reason %u: %s)",
			   atomic_load(&h->incomplete),
			   atomic_load(&h->incomplete) == MQ_RS_NO_HANDLE ?
			   "no file handles on the backing filesystem" :
			   atomic_load(&h->incomplete) == MQ_RS_HANDLE_BIG ?
			   "file handles too long" : "too many fds");
	img->epoch = atomic_load(&h->epoch);
	img->nodeid_reserved = atomic_load(&h->nodeid_reserved);
	if (!img->epoch || img->nodeid_reserved <= FUSE_ROOT_ID)
		MQ_RS_FAIL("epoch or nodeid reservation unset");
	/* only the records ever written: the table has one per possible fd */
	img->nr_recs = h->nr_recs;
	hwm = atomic_load(&h->rec_hwm);	/* of our snapshot: the writer is gone */
	if (hwm && hwm < h->nr_recs)
		img->nr_recs = hwm;
	rec_bytes = (uint64_t)img->nr_recs * h->rec_size;
	img->nr_jentries = h->nr_jentries;
	img->recs = malloc(rec_bytes);
	img->jrn = malloc(jrn_bytes);
	if (!img->recs || !img->jrn)
		MQ_RS_FAIL("out of memory");
	if (pread(memfd, img->recs, rec_bytes, h->rec_off) != (ssize_t)rec_bytes ||
	    pread(memfd, img->jrn, jrn_bytes, h->jrn_off) != (ssize_t)jrn_bytes)
		MQ_RS_FAIL("short read");
	ret = mq_rs_check_records(img, err, errlen);
	if (!ret)
		ret = mq_rs_check_journal(img, err, errlen);
	if (ret) {
		mq_rs_image_free(img);
		return ret;
	}
	return 0;
fail:
	mq_rs_image_free(img);
	return -EUCLEAN;
}

void mq_rs_image_free(struct mq_rs_image *img)
{
	free(img->recs);
	free(img->jrn);
	img->recs = NULL;
	img->jrn = NULL;
}
