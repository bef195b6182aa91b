/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Recovery state of mqfused (rstate.c, journal.c, replay.c, restore.c):
 * the on-"disk" layout of the state memfd the session keeps for its
 * daemon (MQFUSE_IOC_STORE_FD / FETCH_FD).  Shared by the daemon, the unit
 * tests and nothing else: the format is private to mqfused, versioned by
 * MQ_RS_VERSION, and a successor refuses any state it does not fully
 * understand.
 *
 * Layout (offsets in the header, everything naturally aligned):
 *
 *   [0, 4096)                      struct mq_rs_header
 *   [rec_off, + nr_recs * 128)     struct mq_rs_record, indexed by the fd
 *                                  number that holds the object in the
 *                                  daemon that wrote it
 *   [jrn_off, + nr_jentries * 256) struct mq_rs_jentry, the journal ring
 *
 * Crash consistency.  The daemon writes the memfd through a MAP_SHARED
 * mapping: a store is in the file the moment it retires, so a kill -9
 * leaves every completed store and none of the later ones.  Each record
 * and journal entry is published by one final release store of its kind/
 * state word, after its body and checksum; it is retracted by clearing
 * that word first.  A record is written before the reply that makes the
 * kernel rely on it, and cleared before the fd it describes is closed (so
 * no other thread can get the same fd number, hence the same slot, while
 * it is cleared).  A torn record therefore always has kind == FREE; a
 * published record with a bad checksum is corruption, never a crash
 * artefact, and a successor refuses it.
 */
#ifndef MQFUSED_RSTATE_H
#define MQFUSED_RSTATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#define MQ_RS_MAGIC		"MQFDST01"
#define MQ_RS_VERSION		1u
#define MQ_RS_HEADER_SIZE	4096u
#define MQ_RS_HANDLE_MAX	64u	/* file handle bytes we can keep */
#define MQ_RS_REPLY_MAX		160u	/* entry_out + open_out = 144 */
/*
 * Journal entries: at least this many, and at least 8 per serving thread
 * (mq_rs_journal_size()): a serving thread holds one request at a time,
 * so at most nr_threads entries are ever in flight.
 */
#define MQ_RS_JOURNAL_MIN	1024u
#define MQ_RS_JOURNAL_MAX	(1u << 20)
#define MQ_RS_RECS_MAX		(1u << 22)

/* What a record describes; also its publication word (FREE: nothing). */
enum mq_rs_kind {
	MQ_RS_FREE = 0,
	MQ_RS_INODE = 1,	/* an inode the kernel holds lookups on */
	MQ_RS_FILE = 2,		/* an open file handle (OPEN/CREATE) */
	MQ_RS_DIR = 3,		/* an open directory handle (OPENDIR) */
};

/* Why a state is unusable although well formed (header.incomplete). */
enum mq_rs_incomplete {
	MQ_RS_COMPLETE = 0,
	MQ_RS_NO_HANDLE = 1,	/* name_to_handle_at failed for an inode */
	MQ_RS_HANDLE_BIG = 2,	/* a file handle longer than MQ_RS_HANDLE_MAX */
	MQ_RS_NO_SLOT = 3,	/* an fd beyond nr_recs */
};

struct mq_rs_header {
	char magic[8];			/* MQ_RS_MAGIC */
	uint32_t version;		/* MQ_RS_VERSION */
	uint32_t header_size;		/* MQ_RS_HEADER_SIZE */
	uint64_t total_size;		/* bytes of the whole state */
	uint64_t rec_off;		/* first struct mq_rs_record */
	uint32_t nr_recs;		/* records (fd numbers) */
	uint32_t rec_size;		/* sizeof(struct mq_rs_record) */
	uint64_t jrn_off;		/* first struct mq_rs_jentry */
	uint32_t nr_jentries;		/* journal ring size */
	uint32_t jentry_size;		/* sizeof(struct mq_rs_jentry) */
	uint64_t root_dev;		/* backing directory identity: a */
	uint64_t root_ino;		/* successor must serve the same one */
	uint32_t crc;			/* crc32c of the fields above */
	uint32_t reserved0;
	/* Mutable, each its own word; not covered by crc. */
	_Atomic uint64_t epoch;		/* daemons that served this state: 1, 2... */
	_Atomic uint64_t nodeid_reserved; /* nodeids below were maybe handed out */
	_Atomic uint64_t jhead;		/* journal claims so far */
	_Atomic uint32_t incomplete;	/* enum mq_rs_incomplete, sticky */
	/*
	 * Records at and above this index were never written (0: unknown,
	 * a reader takes them all): a successor reads this many, not the
	 * whole table of one record per possible fd.
	 */
	_Atomic uint32_t rec_hwm;
};

/*
 * One fd of the daemon that wrote it.  INODE: @nodeid, @nlookup (the
 * kernel's lookup count), @ino/@dev/@mode the identity, @handle the file
 * handle that re-opens it.  FILE/DIR: the handle the kernel knows as
 * fh = @gen << 32 | index, open on @nodeid with backend flags @mode.
 */
struct mq_rs_record {
	_Atomic uint32_t kind;		/* enum mq_rs_kind; written last */
	uint32_t mode;			/* INODE: S_IFMT; FILE/DIR: open flags */
	uint64_t nodeid;
	_Atomic uint64_t nlookup;	/* INODE; not covered by crc */
	uint64_t ino;
	uint64_t dev;
	uint32_t gen;			/* FILE/DIR: fh generation (never 0) */
	int32_t handle_type;		/* INODE: struct file_handle */
	uint32_t handle_bytes;
	uint32_t crc;			/* crc32c of all but kind, nlookup, crc */
	unsigned char handle[MQ_RS_HANDLE_MAX];
	uint64_t reserved;
};

/* Journal entry states (@state is the publication word). */
enum mq_rs_jstate {
	MQ_RS_J_FREE = 0,	/* never used */
	MQ_RS_J_WRITING = 1,	/* claimed, body being written: ignore */
	MQ_RS_J_INTENT = 2,	/* about to run: effect unknown after a crash */
	MQ_RS_J_DONE = 3,	/* result recorded, reply maybe not sent */
	MQ_RS_J_REPLIED = 4,	/* reply written: reusable */
};

#define MQ_RS_J_AUX	4

struct mq_rs_jentry {
	_Atomic uint32_t state;		/* enum mq_rs_jstate; written last */
	uint32_t opcode;
	uint64_t unique;		/* without MQFUSE_UNIQUE_REPLAY */
	uint64_t nodeid;
	uint64_t epoch;			/* header.epoch of the writer */
	int64_t stamp_ns;		/* CLOCK_REALTIME_COARSE at INTENT */
	uint64_t aux[MQ_RS_J_AUX];	/* pre-state, per opcode (replay.c) */
	uint32_t crc;			/* crc32c of opcode..aux (the intent) */
	int32_t error;			/* DONE: 0 or -errno */
	uint32_t reply_len;		/* DONE: payload bytes in reply */
	uint32_t rcrc;			/* DONE: crc32c of error, reply_len and
					 * reply[0, reply_len) */
	unsigned char reply[MQ_RS_REPLY_MAX];
	uint64_t reserved;
};

_Static_assert(sizeof(struct mq_rs_header) <= MQ_RS_HEADER_SIZE, "header");
_Static_assert(sizeof(struct mq_rs_record) == 128, "record size");
_Static_assert(sizeof(struct mq_rs_jentry) == 256, "journal entry size");

/* A state read and validated by mq_rs_load() (private copies). */
struct mq_rs_image {
	struct mq_rs_header hdr;	/* mutable words copied as plain values */
	uint64_t epoch, nodeid_reserved;
	uint32_t nr_recs, nr_jentries;
	struct mq_rs_record *recs;	/* nr_recs, malloc'd */
	struct mq_rs_jentry *jrn;	/* nr_jentries, malloc'd */
	uint32_t nr_inodes, nr_handles, nr_journal;	/* published ones */
};

/* CRC-32C (mqcrypto.h) */
#include "mqcrypto.h"
uint32_t mq_rs_record_crc(const struct mq_rs_record *r);
uint32_t mq_rs_jentry_crc(const struct mq_rs_jentry *e);
uint32_t mq_rs_jresult_crc(const struct mq_rs_jentry *e);
uint32_t mq_rs_header_crc(const struct mq_rs_header *h);
uint32_t mq_rs_journal_size(unsigned int nr_threads);

/*
 * Create the state in a new sealed memfd, map it and make it the live
 * state (the hooks below write to it).  Returns the memfd (the caller
 * stores it with MQFUSE_IOC_STORE_FD and may close it) or -errno.
 */
int mq_rs_create(uint32_t nr_recs, uint32_t nr_jentries,
		 const struct stat *root, uint64_t epoch,
		 uint64_t nodeid_reserved);
/* Unmap the live state (the memfd lives on in the session). */
void mq_rs_close(void);
bool mq_rs_active(void);
struct mq_rs_header *mq_rs_live_header(void);
struct mq_rs_record *mq_rs_live_record(uint32_t index);

/*
 * Read and validate a state: any inconsistency is refused with a
 * message in @err.  @root: the backing directory we serve.
 */
int mq_rs_load(int memfd, const struct stat *root, struct mq_rs_image *img,
	       char *err, size_t errlen);
void mq_rs_image_free(struct mq_rs_image *img);
/* Copy the in-flight journal entries of @img into the live journal. */
void mq_rs_journal_adopt(const struct mq_rs_image *img);

/* ------------------------------------------------ journal (rstate.c) */

/* NULL when no state is live (the callers then just do the work). */
struct mq_rs_jentry *mq_rs_journal_intent(uint64_t unique, uint32_t opcode,
					  uint64_t nodeid,
					  const uint64_t aux[MQ_RS_J_AUX]);
void mq_rs_journal_done(struct mq_rs_jentry *e, int error,
			const void *reply, uint32_t len);
void mq_rs_journal_replied(struct mq_rs_jentry *e);
/*
 * The newest published (INTENT/DONE) entry for @unique, NULL if none.
 * Linear scan: only replayed requests look (a handful per restart).
 */
struct mq_rs_jentry *mq_rs_journal_find(uint64_t unique);

#endif /* MQFUSED_RSTATE_H */
