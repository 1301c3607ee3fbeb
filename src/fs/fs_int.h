/*
 * fs_int.h - private to src/fs: the DRAM inode, directory index, extent
 * map, the mounted filesystem, and the helpers by which fs.c (mount,
 * inode cache, replay, operation staging), fs_namei.c and fs_file.c meet.
 *
 * Lock order (outermost first; every path takes a prefix of it):
 *   1. fs->rename_mu: held by a rename between two different directories
 *      for the whole call, so that the ancestor check (a directory is not
 *      moved below itself) sees a tree no other rename changes (the
 *      parent of a directory changes only under it; like Linux's
 *      s_vfs_rename_mutex).
 *   2. inode rwlocks (fs_inode.lock), write-locked in increasing inode
 *      number (fs_ls_lock) after the names were resolved under short read
 *      locks and re-validated after locking; readers (lookup, getattr,
 *      read, readdir, readlink, xattr reads, lseek, log_pages) hold one
 *      inode's read lock at a time, never two.  A new inode is locked
 *      before it enters the cache, when nobody can hold it, so out of
 *      order is safe.  The GC thread takes the write lock of the log it
 *      compacts; an inline compaction (fs_op_commit) runs under the
 *      operation's locks.
 *   3. fs->itable_mu (growing the inode table, fs_op_new_inode)
 *   4. fs->icache_lk, a rwlock: the inode cache hash and loading an inode
 *      from its log (fs_iget: shared to find, exclusive to insert/load).
 *      Inode references (fs_inode.ref, atomic) keep a DRAM inode alive
 *      while a thread waits for its lock; a freed inode is unhashed and
 *      marked dead, and its memory goes with the last fs_iput.
 *   5. a journal lane's mutex (fs->d.lane_mu, log.h), held only around
 *      jnl_commit (fs_lane_hold / fs_lane_release); LOG(7) bookkeeping
 *      may trylock another lane, never waits for one.
 *   6. fs->gc_mu (the GC queue)
 *   7. alloc lane mutexes, inode-number mutex (leaves, alloc.h)
 *   fs->big is taken only by fs_unmount (exclusive; callers must have
 *   stopped calling by then).
 *
 * Crash invariants of the fs layer, on top of LOG(1)..(7):
 *  FS(1) every change goes through LOG(4) (one inode) or LOG(5) (several);
 *        DRAM is changed only after the commit, by applying the very
 *        entries that were written (fs_apply), so DRAM equals a replay.
 *  FS(2) blocks and pages a change makes unreachable are freed in DRAM only
 *        after its commit is durable; a failed op frees only what it
 *        allocated itself.
 *  FS(3) a new inode's slot head/gen are written (flushed) while its tail
 *        is 0, i.e. while the slot is free; the tail comes from the journal.
 *  FS(4) after any failure between the first flush and the commit's last
 *        drain the mount turns read-only (fs->ro_err), never guesses.
 */
#ifndef PMFS_FS_INT_H
#define PMFS_FS_INT_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "alloc.h"
#include "format.h"
#include "fs.h"
#include "log.h"

struct fs_dent {
	struct fs_dent *hnext;
	uint64_t ino;
	uint64_t cookie;
	uint64_t hash;
	uint32_t gen;
	uint8_t ftype;
	uint8_t nlen;
	char name[];
};

struct fs_dir {
	struct fs_dent **ht; /* chained hash, full-name compare */
	size_t hcap, n;
	uint64_t bytes;       /* sum of live entry sizes (st_size) */
	struct fs_dent **ord; /* in cookie order; NULL = removed */
	uint64_t *ordc;       /* cookie of ord[i] (kept when removed) */
	size_t nord, ordcap, ndead;
	/* the removed entry that held the directory's highest cookie, while
	 * no live entry holds it (log GC keeps its DEL: fs_gc.c); NULL */
	struct fs_dent *topdel;
};

struct fs_ext {
	uint64_t pgoff, n, blk; /* blk 0 with UNWRITTEN never */
	uint32_t flags;         /* PMFS_WR_UNWRITTEN or 0 */
};

/* file page -> block: a radix tree (fs.c, "extent map") */
struct emap_node;
struct fs_fmap {
	struct emap_node *root;
	unsigned height;  /* levels below root; 0: empty */
	uint64_t nblocks; /* mapped pages */
	uint64_t next;    /* extents: maximal runs of consecutive blocks */
};

struct fs_xattr {
	struct fs_xattr *next;
	uint8_t nlen;
	uint16_t vlen;
	char *name; /* nlen bytes + NUL */
	uint8_t *val;
};

struct fs_inode {
	struct fs_inode *hnext;
	pthread_rwlock_t lock; /* lock order 2 */
	_Atomic int ref;       /* threads using it (fs_iget .. fs_iput) */
	_Atomic bool dead;     /* freed: unhashed, gone at the last iput */
	uint64_t ino;
	uint32_t gen;
	int err; /* -EIO: corrupt log */
	struct ilog_pos pos;
	/* attributes, highest dentry cookie (directories), entries: what
	 * ilog_apply makes of the log (fs_apply) */
	struct ilog_state st;
	struct fs_dir *dir; /* directory index, made by the first entry added;
			     * NULL: no entries ever (fs_dir_find takes it) */
	struct fs_fmap map;
	char *link;
	uint32_t linklen;
	uint64_t linkblk;
	struct fs_xattr *xattrs;
	uint64_t nlookup;
	uint64_t gc_base; /* chain pages after the last compaction/load */
	bool gc_queued;
};

struct fs {
	pthread_rwlock_t big;      /* fs_unmount only */
	pthread_mutex_t rename_mu; /* cross-directory renames (order 1) */
	pthread_mutex_t itable_mu; /* inode-table growth (order 3) */
	pthread_rwlock_t icache_lk; /* the inode cache, loading (order 4) */
	struct ilog_dev d;
	struct alloc *a;
	struct fs_opts o;
	bool own_pmio;
	bool rdonly;
	int ro_err; /* FS(4): sticky (atomic access) */
	_Atomic uint64_t media_errors; /* fs_media_errors() */
	struct fs_inode **ht;
	size_t hcap, n;
	uint64_t reserve;
	/* log GC (fs_gc.c) */
	pthread_t gc_thread;
	pthread_mutex_t gc_mu; /* the queue below (leaf) */
	pthread_cond_t gc_cv;
	bool gc_running, gc_stop;
	uint64_t *gc_q;
	size_t gc_qn, gc_qcap;
	uint64_t gc_runs;
};

#define FS_OP_INODES 6
#define FS_OP_ENTRIES (1 << 20) /* sanity bound; the list grows */

/* One operation being staged: entries per inode, journal records. */
struct fs_op {
	struct fs *fs;
	struct ilog_tx tx;
	struct jnl_tx j;
	unsigned lane;
	int nt, ne;
	struct {
		struct fs_inode *ip;
		struct ilog_pos pos;
		bool fresh;  /* new inode: slot head/gen written */
		bool freed;  /* tail -> 0 */
	} t[FS_OP_INODES];
	struct fs_op_ent {
		int ti;
		struct pmfs_lentry *e;
	} *ent; /* heap, grows; freed by commit/abort */
	int entcap;
};

/* Damage found in the media: print it (once per call) with the advice to
 * run fsck.pmfs and count it; returns -EIO. */
int fs_media_error(struct fs *fs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* May the mount change media?  0 or -EROFS. */
static inline int fs_writable(struct fs *fs)
{
	if (fs->rdonly || __atomic_load_n(&fs->ro_err, __ATOMIC_ACQUIRE))
		return -EROFS;
	return 0;
}
static inline void fs_set_ro(struct fs *fs, int err)
{
	__atomic_store_n(&fs->ro_err, err, __ATOMIC_RELEASE);
}

static inline void fs_ilock_r(struct fs_inode *ip)
{
	pthread_rwlock_rdlock(&ip->lock);
}
static inline void fs_ilock_w(struct fs_inode *ip)
{
	pthread_rwlock_wrlock(&ip->lock);
}
static inline void fs_iunlock(struct fs_inode *ip)
{
	pthread_rwlock_unlock(&ip->lock);
}

/* The thread's preferred lane (allocator preference, not exclusive). */
unsigned fs_lane(struct fs *fs);
/* Take a journal lane for exclusive use (a free one if possible). */
unsigned fs_lane_hold(struct fs *fs);
void fs_lane_release(struct fs *fs, unsigned lane);
void fs_now(struct timespec *ts);

/* Inode ino with a reference taken (loaded from its log on first use);
 * every successful fs_iget is paired with one fs_iput. */
int fs_iget(struct fs *fs, uint64_t ino, struct fs_inode **out);
void fs_iput(struct fs *fs, struct fs_inode *ip);
/* fs_iget + read or write lock; -ENOENT if the inode died meanwhile,
 * -EROFS (write) on a read-only mount.  Undo with fs_iput_unlock. */
int fs_iget_locked(struct fs *fs, uint64_t ino, bool write,
		   struct fs_inode **out);
void fs_iput_unlock(struct fs *fs, struct fs_inode *ip);

/* Inodes to write-lock together, in increasing inode number. */
#define FS_LS_MAX 4
struct fs_lockset {
	struct fs_inode *ip[FS_LS_MAX];
	int n;
};
/* Add a referenced inode (the reference moves into the set; a duplicate
 * is dropped with fs_iput). */
void fs_ls_add(struct fs *fs, struct fs_lockset *ls, struct fs_inode *ip);
void fs_ls_lock(struct fs_lockset *ls);
/* Unlock (if locked) and put every inode; the set is empty after. */
void fs_ls_release(struct fs *fs, struct fs_lockset *ls, bool locked);

/* relatime/strictatime/noatime: should a read of ip update its atime?
 * (read or write lock held) */
bool fs_atime_due(struct fs *fs, const struct fs_inode *ip);
/* Update ip's atime (write lock held): LOG(4), 2 fences; best effort. */
void fs_touch_atime(struct fs *fs, struct fs_inode *ip);
void fs_fill_attr(const struct fs_inode *ip, struct fs_attr *out);
int fs_check_name(const char *name);
/* d may be NULL (no entries) */
struct fs_dent *fs_dir_find(struct fs_dir *d, const char *name, size_t nlen);
static inline size_t fs_dir_count(const struct fs_inode *ip)
{
	return ip->dir ? ip->dir->n : 0;
}

/* apply entry e (already durable) to ip; live: free displaced blocks */
int fs_apply(struct fs *fs, struct fs_inode *ip, const struct pmfs_lentry *e,
	     bool live);

void fs_op_init(struct fs_op *op, struct fs *fs, unsigned aflags);
int fs_op_inode(struct fs_op *op, struct fs_inode *ip);
/* append a copy of e (type/len/payload set) for ip */
int fs_op_add(struct fs_op *op, struct fs_inode *ip,
	      const struct pmfs_lentry *e);
void fs_op_free_inode(struct fs_op *op, struct fs_inode *ip);
/* new inode: number, slot head/gen, first page; attr entry added by
 * the caller */
int fs_op_new_inode(struct fs_op *op, struct fs_inode **out);
/* commit: LOG(4) if one inode and no records, else LOG(5); then apply */
int fs_op_commit(struct fs_op *op);
void fs_op_abort(struct fs_op *op);

/* free everything the inode owns (after its tail went to 0); the inode
 * is unhashed and dead, its memory goes with the last fs_iput */
void fs_inode_release(struct fs *fs, struct fs_inode *ip);
void fs_icache_drop(struct fs *fs, struct fs_inode *ip);
/*
 * Extent map (fs.c): map file pages [pgoff, pgoff+n) to blocks blk.. (flags
 * 0 or PMFS_WR_UNWRITTEN) or unmap them (PMFS_WR_HOLE, blk 0); truncate
 * unmaps every page >= from.  live (with fs): blocks displaced are freed
 * in the allocator, except those the new mapping keeps.  O(n + height);
 * set: -ENOMEM (nothing changed), -EFBIG, -EIO (block 0 / out of range).
 */
int fs_emap_set(struct fs *fs, struct fs_fmap *m, uint64_t pgoff,
		uint64_t n, uint64_t blk, uint32_t flags, bool live);
void fs_emap_truncate(struct fs *fs, struct fs_fmap *m, uint64_t from,
		      bool live);
/* Page pgoff mapped?  *out = that one page (n = 1). */
bool fs_emap_find(const struct fs_fmap *m, uint64_t pgoff,
		  struct fs_ext *out);
/* First extent (maximal run) holding a mapped page >= pgoff, starting at
 * that page; false if none. */
bool fs_emap_next(const struct fs_fmap *m, uint64_t pgoff,
		  struct fs_ext *out);
void fs_emap_free(struct fs_fmap *m); /* DRAM only, blocks not freed */

/* ---- log garbage collection (fs_gc.c) ---- */

/* Does ip's log deserve compaction (live share below half)? */
bool gc_wanted(struct fs *fs, struct fs_inode *ip);
/* The GC thread is far behind on ip: compact inline (backpressure). */
bool gc_lagging(struct fs *fs, struct fs_inode *ip);
/* Queue ip for the GC thread (ip write-locked). */
void gc_queue(struct fs *fs, struct fs_inode *ip);
/* Compact ip's log now: new chain, head+tail swapped through the journal
 * (LOG(5), 3 fences), old chain freed after. */
int gc_compact(struct fs *fs, struct fs_inode *ip);
int gc_start(struct fs *fs);
void gc_stop(struct fs *fs); /* called with no inode lock held */

#endif /* PMFS_FS_INT_H */
