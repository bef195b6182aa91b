// SPDX-License-Identifier: GPL-2.0
/*
 * nodeid <-> backend inode table.
 *
 * Two sharded hash indexes point at the same struct mq_inode: one keyed by
 * nodeid (requests from the kernel), one keyed by backend (st_dev, st_ino)
 * so that an object reached twice (hard links, LOOKUP after READDIRPLUS)
 * gets the same nodeid.
 *
 * Lifetime (kref_get_unless_zero).  inode->refs is the sum of
 *
 *  (a) one reference per in-flight user: every successful mq_inode_get()
 *      and mq_inode_lookup_fd() until its mq_inode_put();
 *  (b) one "count reference" per 0 -> 1 transition of inode->nlookup
 *      (and the initial nlookup of 1 of a new inode) that has not yet been
 *      matched by the FORGET that took nlookup back to zero; that FORGET
 *      puts it;
 *  (c) transiently, one reference of a LOOKUP-style caller between its
 *      pre-increment and the moment it learns whether it raised nlookup
 *      from zero (kept as (b)) or not (dropped again).
 *
 * mq_inode_lookup_fd() takes the count reference *before* it raises
 * nlookup (refs++, then nlookup++; if nlookup was already non-zero it
 * drops the extra reference, which cannot bring refs to zero because the
 * caller's own (a) reference is held).  So at every instant the number of
 * "nlookup reached zero" transitions already made visible by a FORGET is
 * at most the number of count references added to refs, and a FORGET
 * (whose n is clamped to the current count with a CAS loop, so bogus
 * values are harmless) that takes nlookup to zero always puts a count
 * reference that exists.  Consequently refs >= number of (a) holders at
 * all times: the inode is never freed while a request uses it, whatever
 * the interleaving of LOOKUP, FORGET (bogus n included), get and put.
 *
 * A reference is taken from nothing only under a shard lock and only
 * while refs is non-zero (kref_get_unless_zero); an inode whose count is
 * zero is being freed and is treated as absent.  (The count reference of
 * (b) is added by a thread that already holds an (a) reference.)  The
 * thread that drops refs 1 -> 0 unlinks the inode from both indexes under
 * the shard locks and frees it; no thread touches the inode after its own
 * decrement.
 *
 * Lock order: key shard lock, then id shard lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "mqfused.h"

#define MQ_SHARDS	64
#define MQ_BUCKETS	1024	/* per shard, power of two */

struct mq_shard {
	pthread_mutex_t lock;
	struct mq_inode *buckets[MQ_BUCKETS];	/* protected by lock */
} __attribute__((aligned(64)));

static struct mq_shard *mq_id_shards;
static struct mq_shard *mq_key_shards;
static atomic_uint_fast64_t mq_next_nodeid = FUSE_ROOT_ID + 1;
static atomic_uint_fast64_t mq_nr_inodes;
static struct mq_inode *mq_root;

/* Unit tests only (see mqfused.h); NULL in the daemon. */
void (*mq_itable_test_hook)(enum mq_itable_hook_point point,
			    struct mq_inode *inode);

static inline void mq_itable_hook(enum mq_itable_hook_point point,
				  struct mq_inode *inode)
{
	if (__builtin_expect(mq_itable_test_hook != NULL, 0))
		mq_itable_test_hook(point, inode);
}

static uint64_t mq_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t mq_key_hash(dev_t dev, ino_t ino)
{
	return mq_mix((uint64_t)ino ^ mq_mix((uint64_t)dev));
}

static struct mq_shard *mq_shard_of(struct mq_shard *shards, uint64_t h,
				    struct mq_inode ***bucket)
{
	struct mq_shard *s = &shards[h % MQ_SHARDS];

	*bucket = &s->buckets[(h / MQ_SHARDS) & (MQ_BUCKETS - 1)];
	return s;
}

static void mq_id_insert(struct mq_inode *inode)
{
	struct mq_inode **bucket;
	struct mq_shard *s = mq_shard_of(mq_id_shards, mq_mix(inode->nodeid),
					 &bucket);

	pthread_mutex_lock(&s->lock);
	inode->id_next = *bucket;
	*bucket = inode;
	pthread_mutex_unlock(&s->lock);
}

static struct mq_shard *mq_shards_alloc(void)
{
	struct mq_shard *shards;
	int i;

	if (posix_memalign((void **)&shards, 64, sizeof(*shards) * MQ_SHARDS))
		return NULL;
	for (i = 0; i < MQ_SHARDS; i++) {
		pthread_mutex_init(&shards[i].lock, NULL);
		for (int b = 0; b < MQ_BUCKETS; b++)
			shards[i].buckets[b] = NULL;
	}
	return shards;
}

static struct mq_inode *mq_inode_alloc(int fd, const struct stat *st,
				       uint64_t nodeid)
{
	struct mq_inode *inode = calloc(1, sizeof(*inode));

	if (!inode)
		return NULL;
	inode->nodeid = nodeid;
	inode->dev = st->st_dev;
	inode->ino = st->st_ino;
	inode->type = st->st_mode & S_IFMT;
	inode->fd = fd;
	atomic_init(&inode->refs, 0);
	atomic_init(&inode->nlookup, 0);
	return inode;
}

/* Insert into the key index; caller holds the key shard lock. */
static void mq_key_link(struct mq_inode *inode, struct mq_inode **bucket)
{
	inode->key_next = *bucket;
	*bucket = inode;
}

/* The root's O_PATH fd (sandbox.c re-opens it in place). */
int mq_itable_root_fd(void)
{
	return mq_root ? mq_root->fd : -1;
}

/* restore.c moved the root's fd off a number a handle needs. */
void mq_itable_set_root_fd(int fd)
{
	if (mq_root)
		mq_root->fd = fd;
}

int mq_itable_init(int root_fd, const struct stat *root_st)
{
	struct mq_inode **bucket;
	struct mq_shard *s;

	/* A fresh table hands out nodeids from the start again. */
	atomic_store(&mq_next_nodeid, FUSE_ROOT_ID + 1);
	mq_id_shards = mq_shards_alloc();
	mq_key_shards = mq_shards_alloc();
	if (!mq_id_shards || !mq_key_shards)
		goto err_alloc;
	mq_root = mq_inode_alloc(root_fd, root_st, FUSE_ROOT_ID);
	if (!mq_root)
		goto err_alloc;
	atomic_store(&mq_root->nlookup, 1);	/* the kernel's, never forgotten */
	atomic_store(&mq_root->refs, 1);	/* held by nlookup, never dropped */
	s = mq_shard_of(mq_key_shards, mq_key_hash(root_st->st_dev,
						   root_st->st_ino), &bucket);
	pthread_mutex_lock(&s->lock);
	mq_key_link(mq_root, bucket);
	pthread_mutex_unlock(&s->lock);
	mq_id_insert(mq_root);
	atomic_fetch_add(&mq_nr_inodes, 1);
	return 0;

err_alloc:
	free(mq_id_shards);
	free(mq_key_shards);
	mq_id_shards = mq_key_shards = NULL;
	return -ENOMEM;
}

void mq_itable_destroy(void)
{
	int i, b;

	if (!mq_id_shards)
		return;
	for (i = 0; i < MQ_SHARDS; i++) {
		for (b = 0; b < MQ_BUCKETS; b++) {
			struct mq_inode *inode = mq_id_shards[i].buckets[b];

			while (inode) {
				struct mq_inode *next = inode->id_next;

				mq_locks_inode_gone(inode);
				if (inode->fd >= 0)
					close(inode->fd);
				free(inode);
				inode = next;
			}
		}
	}
	free(mq_id_shards);
	free(mq_key_shards);
	mq_id_shards = mq_key_shards = NULL;
	mq_root = NULL;
	atomic_store(&mq_nr_inodes, 0);
}

/*
 * kref_get_unless_zero: take a reference only if the count is not zero.
 * Called under a shard lock; a zero count means the inode is being freed
 * by the thread that dropped it to zero, so it counts as absent.
 */
static bool mq_ref_get_unless_zero(struct mq_inode *inode)
{
	uint_fast64_t r = atomic_load(&inode->refs);

	while (r) {
		if (atomic_compare_exchange_weak(&inode->refs, &r, r + 1))
			return true;
	}
	return false;
}

/* Take an in-flight reference on the inode with this nodeid; NULL if unknown. */
struct mq_inode *mq_inode_get(uint64_t nodeid)
{
	struct mq_inode **bucket, *inode;
	struct mq_shard *s = mq_shard_of(mq_id_shards, mq_mix(nodeid), &bucket);

	pthread_mutex_lock(&s->lock);
	for (inode = *bucket; inode; inode = inode->id_next) {
		if (inode->nodeid == nodeid && mq_ref_get_unless_zero(inode))
			break;
	}
	pthread_mutex_unlock(&s->lock);
	return inode;
}

/*
 * The last reference is gone (this thread dropped refs 1 -> 0): nobody can
 * find the inode any more (lookups skip a zero count), so unlink and free.
 */
static void mq_inode_free(struct mq_inode *inode)
{
	struct mq_inode **kbucket, **ibucket, **pp;
	struct mq_shard *ks, *is;

	ks = mq_shard_of(mq_key_shards, mq_key_hash(inode->dev, inode->ino),
			 &kbucket);
	is = mq_shard_of(mq_id_shards, mq_mix(inode->nodeid), &ibucket);
	pthread_mutex_lock(&ks->lock);
	pthread_mutex_lock(&is->lock);
	for (pp = kbucket; *pp; pp = &(*pp)->key_next) {
		if (*pp == inode) {
			*pp = inode->key_next;
			break;
		}
	}
	for (pp = ibucket; *pp; pp = &(*pp)->id_next) {
		if (*pp == inode) {
			*pp = inode->id_next;
			break;
		}
	}
	pthread_mutex_unlock(&is->lock);
	pthread_mutex_unlock(&ks->lock);

	mq_locks_inode_gone(inode);
	mq_rs_inode_gone(inode);	/* while the fd still owns its slot */
	close(inode->fd);
	free(inode);
	atomic_fetch_sub(&mq_nr_inodes, 1);
}

/* Drop a reference; the inode must not be touched afterwards. */
void mq_inode_put(struct mq_inode *inode)
{
	uint_fast64_t r = atomic_fetch_sub(&inode->refs, 1);

	if (r == 0) {
		/* Not reached for a valid reference; reading is unsafe now. */
		mq_err("inode %p: reference count underflow", (void *)inode);
		abort();
	}
	if (r == 1) {
		if (inode == mq_root) {
			mq_err("root inode: last reference dropped");
			abort();
		}
		mq_inode_free(inode);
	}
}

/*
 * Drop @n of the kernel's lookup references (FORGET, or an entry reply
 * that was not delivered).  More than the kernel holds is clamped (CAS
 * loop, so concurrent FORGETs never take more than there is).  The
 * thread that takes nlookup to zero puts the count reference, which the
 * LOOKUP that raised it from zero added beforehand.  The root's lookup
 * count is never dropped.
 */
void mq_inode_forget(uint64_t nodeid, uint64_t n)
{
	struct mq_inode *inode = mq_inode_get(nodeid);
	uint_fast64_t l;

	if (!inode) {
		mq_dbg("forget of unknown nodeid %llu",
		       (unsigned long long)nodeid);
		return;
	}
	if (inode == mq_root) {
		mq_inode_put(inode);
		return;
	}
	l = atomic_load(&inode->nlookup);
	do {
		if (n > l) {
			mq_dbg("nodeid %llu: forgetting %llu lookups, %llu held",
			       (unsigned long long)nodeid,
			       (unsigned long long)n, (unsigned long long)l);
			n = l;
		}
	} while (n && !atomic_compare_exchange_weak(&inode->nlookup, &l,
						     l - n));
	if (n)
		mq_rs_inode_lookups(inode, -(int64_t)n);
	if (n && l == n) {
		/* nlookup -> 0: the count reference, added before the raise. */
		mq_itable_hook(MQ_ITABLE_HOOK_FORGET_ZERO, inode);
		mq_inode_put(inode);
	}
	mq_inode_put(inode);
}

/*
 * Find or create the inode for backend object @fd (an O_PATH fd whose
 * attributes are @st); take one lookup reference (for the kernel) and one
 * in-flight reference (for the caller, dropped with mq_inode_put).
 * Consumes @fd: it is either stored in a new inode or closed.
 */
int mq_inode_lookup_fd(int fd, const struct stat *st, struct mq_inode **out)
{
	struct mq_inode **bucket, *inode;
	struct mq_shard *s = mq_shard_of(mq_key_shards,
					 mq_key_hash(st->st_dev, st->st_ino),
					 &bucket);
	uint_fast64_t prev;

	pthread_mutex_lock(&s->lock);
	for (inode = *bucket; inode; inode = inode->key_next) {
		if (inode->dev == st->st_dev && inode->ino == st->st_ino &&
		    inode->type == (st->st_mode & S_IFMT) &&
		    mq_ref_get_unless_zero(inode))
			break;
	}
	if (inode) {
		/* Our reference keeps it: the count needs no lock. */
		pthread_mutex_unlock(&s->lock);
		close(fd);
		/*
		 * The count reference is taken before nlookup can be seen
		 * non-zero (a FORGET may take it back to zero and put the
		 * count reference at once), and kept only on a 0 -> 1 raise.
		 * The decrement cannot reach zero: we hold our own.
		 */
		atomic_fetch_add(&inode->refs, 1);
		prev = atomic_fetch_add(&inode->nlookup, 1);
		mq_rs_inode_lookups(inode, 1);
		mq_itable_hook(MQ_ITABLE_HOOK_LOOKUP_RAISED, inode);
		if (prev)
			atomic_fetch_sub(&inode->refs, 1);
		*out = inode;
		return 0;
	}
	inode = mq_inode_alloc(fd, st, atomic_fetch_add(&mq_next_nodeid, 1));
	if (!inode) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return -ENOMEM;
	}
	atomic_store(&inode->nlookup, 1);
	atomic_store(&inode->refs, 2);	/* the lookup count's and the caller's */
	mq_key_link(inode, bucket);
	mq_id_insert(inode);
	/* Recorded before any lookup can find it and before any reply. */
	mq_rs_inode_new(inode);
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&mq_nr_inodes, 1);
	*out = inode;
	return 0;
}

int mq_inode_restore(int fd, const struct stat *st, uint64_t nodeid,
		     uint64_t nlookup)
{
	struct mq_inode **bucket, *inode, *known;
	struct mq_shard *s = mq_shard_of(mq_key_shards,
					 mq_key_hash(st->st_dev, st->st_ino),
					 &bucket);

	if (nodeid <= FUSE_ROOT_ID || !nlookup) {
		close(fd);
		return -EINVAL;
	}
	known = mq_inode_get(nodeid);
	if (known) {
		mq_inode_put(known);
		close(fd);
		return -EEXIST;
	}
	pthread_mutex_lock(&s->lock);
	for (known = *bucket; known; known = known->key_next) {
		if (known->dev == st->st_dev && known->ino == st->st_ino)
			break;
	}
	if (known) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return -EEXIST;
	}
	inode = mq_inode_alloc(fd, st, nodeid);
	if (!inode) {
		pthread_mutex_unlock(&s->lock);
		close(fd);
		return -ENOMEM;
	}
	atomic_store(&inode->nlookup, nlookup);
	atomic_store(&inode->refs, 1);	/* the lookup count's */
	mq_key_link(inode, bucket);
	mq_id_insert(inode);
	mq_rs_inode_new(inode);
	pthread_mutex_unlock(&s->lock);
	atomic_fetch_add(&mq_nr_inodes, 1);
	if (nodeid >= atomic_load(&mq_next_nodeid))
		atomic_store(&mq_next_nodeid, nodeid + 1);
	return 0;
}

void mq_itable_set_next_nodeid(uint64_t next)
{
	if (next > atomic_load(&mq_next_nodeid))
		atomic_store(&mq_next_nodeid, next);
}

uint64_t mq_itable_next_nodeid(void)
{
	return atomic_load(&mq_next_nodeid);
}

unsigned int mq_itable_fds(int *fds, unsigned int max)
{
	unsigned int n = 0;
	int i, b;

	if (!mq_id_shards)
		return 0;
	for (i = 0; i < MQ_SHARDS; i++) {
		pthread_mutex_lock(&mq_id_shards[i].lock);
		for (b = 0; b < MQ_BUCKETS; b++) {
			struct mq_inode *inode;

			for (inode = mq_id_shards[i].buckets[b]; inode;
			     inode = inode->id_next) {
				if (inode->fd < 0)
					continue;
				if (n < max)
					fds[n] = inode->fd;
				n++;
			}
		}
		pthread_mutex_unlock(&mq_id_shards[i].lock);
	}
	return n;
}

uint64_t mq_itable_count(void)
{
	return atomic_load(&mq_nr_inodes);
}
