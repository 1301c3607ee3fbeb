/*
 * fs_int.h - private to src/fs (and its white-box tests): the DRAM inode,
 * directory index, extent map and mounted filesystem, and the functions
 * by which the files of src/fs meet.  Calls run one way:
 *
 *   fs_namei.c, fs_file.c, fs_mount.c   the fs.h API
 *     -> fs_op.c      staging and committing an operation
 *     -> fs_ahead.c   the mapping made present ahead of the allocator
 *     -> fs_gc.c      log compaction
 *     -> fs_inode.c   the inode cache, replay (fs_apply), locks
 *     -> fs_dir.c, fs_emap.c   the DRAM indexes
 *
 * The lock order and the crash invariants FS(1)..(4) are in fs.h.
 */
#ifndef PMFS_FS_INT_H
#define PMFS_FS_INT_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "alloc/alloc.h"
#include "format/format.h"
#include "fs/fs.h"
#include "log/log.h"

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

/* file page -> block: a radix tree (fs_emap.c) */
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
	uint32_t vlen;
	uint64_t blk; /* first block of the value (XATTR_BLK), 0: inline */
	char *name;   /* nlen bytes + NUL */
	uint8_t *val; /* a DRAM copy of the value */
};

struct fs_inode {
	struct fs_inode *hnext;
	pthread_rwlock_t lock; /* lock order (2), fs.h */
	_Atomic int ref;       /* threads using it (fs_iget .. fs_iput), and
				* the cache while it is hashed */
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
	uint32_t gc_qepoch; /* == fs->gc_epoch: in the GC queue (gc_mu) */
};

struct fs {
	pthread_rwlock_t big;      /* fs_unmount only */
	pthread_mutex_t rename_mu; /* cross-directory renames, order (1) */
	pthread_mutex_t itable_mu; /* inode-table growth, order (3) */
	pthread_rwlock_t icache_lk; /* the inode cache, loading, order (4) */
	struct ilog_dev d;
	struct alloc *a;
	struct fs_opts o;
	bool own_pmio;
	bool rdonly; /* atomic access: fs_remount changes it */
	/* fs_remount holds it exclusively; the changes pmfs makes by itself
	 * (atime on read, the reclaim at the last forget) try it shared and
	 * are skipped while a remount runs (order: after the inode locks) */
	pthread_rwlock_t remount_lk;
	pthread_mutex_t remount_mu; /* fs_remount: one at a time */
	bool badtab_damaged; /* read-only mount went on without the table */
	uint64_t saved_head; /* the chain a remount read-only saved, or 0 */
	unsigned atime_mode; /* FS_ATIME_FLAGS of o.flags, fs_set_atime
			      * (atomic access) */
	bool acl_on;         /* FS_O_ACL until fs_acl_off (atomic access) */
	int ro_err; /* FS(4): sticky (atomic access) */
	_Atomic uint64_t media_errors; /* fs_media_errors() */
	struct fs_inode **ht;
	size_t hcap, n;
	uint64_t reserve;
	/* log GC (fs_gc.c) */
	pthread_t gc_thread;
	pthread_mutex_t gc_mu; /* the queue below, order (6) */
	pthread_cond_t gc_cv;
	bool gc_running, gc_stop; /* gc_running: atomic access */
	uint32_t gc_epoch; /* bumped by each gc_start: older queue marks
			    * are stale (gc_mu) */
	uint64_t *gc_q;
	size_t gc_qn, gc_qcap;
	uint64_t gc_runs;
	/* the mapping made present ahead of the allocator (fs_ahead.c) */
	pthread_t ahead_thread;
	pthread_mutex_t ahead_mu; /* the two below; a leaf lock */
	pthread_cond_t ahead_cv;
	bool ahead_stop;
	uint64_t ahead_want;                  /* lanes to populate: bits */
	bool ahead_running;                   /* atomic access */
	uint64_t ahead_mark[PMFS_MAX_LANES]; /* populated up to (atomic) */
	uint64_t ahead_blocks;                /* populated so far (atomic) */
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

/* ---- small helpers ---------------------------------------------------- */

/* May the mount change media?  0 or -EROFS. */
static inline int fs_writable(struct fs *fs)
{
	if (__atomic_load_n(&fs->rdonly, __ATOMIC_ACQUIRE) ||
	    __atomic_load_n(&fs->ro_err, __ATOMIC_ACQUIRE))
		return -EROFS;
	return 0;
}
/*
 * For a change pmfs makes by itself, not asked for by a request: 0 with
 * fs->remount_lk held shared (fs_bg_done releases it), or -EROFS when the
 * mount is read-only or a remount is running (the change is skipped).
 */
static inline int fs_bg_begin(struct fs *fs)
{
	if (pthread_rwlock_tryrdlock(&fs->remount_lk) != 0)
		return -EROFS;
	if (fs_writable(fs)) {
		pthread_rwlock_unlock(&fs->remount_lk);
		return -EROFS;
	}
	return 0;
}
static inline void fs_bg_done(struct fs *fs)
{
	pthread_rwlock_unlock(&fs->remount_lk);
}
/* FS(4): a failure after a partial persist; sticky. */
static inline void fs_set_ro(struct fs *fs, int err)
{
	__atomic_store_n(&fs->ro_err, err, __ATOMIC_RELEASE);
}

static inline void fs_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

/* The calling thread's preferred lane (allocator and journal preference,
 * not exclusive): threads take lanes in turn as they first call
 * (fs_inode.c), so a single-threaded run is deterministic. */
unsigned fs_lane(struct fs *fs);
/* Take a journal lane for exclusive use (a free one if possible). */
unsigned fs_lane_hold(struct fs *fs);
void fs_lane_release(struct fs *fs, unsigned lane);

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

/* ---- the directory index (fs_dir.c) ------------------------------------ */

/* The entry called name (nlen bytes) in d (may be NULL: no entries). */
struct fs_dent *fs_dir_find(struct fs_dir *d, const char *name, size_t nlen);
/* Replay of a DENTRY_ADD / DENTRY_DEL into *dp (made on first use), with
 * the directory's highest cookie before it (fs_dir.topdel); 0 or
 * -ENOMEM.  A DEL of an absent name is allowed (log.h, "replay"). */
int fs_dir_add(struct fs_dir **dp, const struct pmfs_le_dentry *de,
	       uint64_t maxcookie);
int fs_dir_del(struct fs_dir **dp, const struct pmfs_le_dentry *de,
	       uint64_t maxcookie);
void fs_dir_free(struct fs_dir *d); /* d and its entries; NULL ok */
static inline size_t fs_dir_count(const struct fs_inode *ip)
{
	return ip->dir ? ip->dir->n : 0;
}

/* ---- the extent map (fs_emap.c) ---------------------------------------- */

/*
 * Map file pages [pgoff, pgoff+n) to blocks blk.. (flags 0 or
 * PMFS_WR_UNWRITTEN) or unmap them (PMFS_WR_HOLE, blk 0); truncate unmaps
 * every page >= from.  live (with fs): blocks displaced are freed in the
 * allocator, except those the new mapping keeps.  O(n + height); set:
 * -ENOMEM (nothing changed), -EFBIG, -EIO (block 0 / out of range).
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

/* ---- inodes (fs_inode.c) ----------------------------------------------- */

/* Damage found in the media: print it (once per call) with the advice to
 * run fsck.pmfs and count it (fs_media_errors); returns -EIO. */
int fs_media_error(struct fs *fs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Apply entry e (durable already) to ip; live: free displaced blocks. */
int fs_apply(struct fs *fs, struct fs_inode *ip, const struct pmfs_lentry *e,
	     bool live);

/* A zeroed DRAM inode with its lock made; NULL: ENOMEM. */
struct fs_inode *fs_inode_alloc(void);
/* Free a DRAM inode that no thread can reach (not in the cache). */
void fs_inode_free(struct fs_inode *ip);
/*
 * Build the DRAM inode of ino from its log (not cached; page() sees every
 * log page, may be NULL; scan: the crash rebuild, no directory index).
 * 0, -ENOENT (free slot), -ENOMEM, or -EIO with *out a poisoned inode
 * (damage reported with fs_media_error).
 */
int fs_inode_load(struct fs *fs, uint64_t ino, ilog_page_fn page, void *parg,
		  bool scan, struct fs_inode **out);
/* Put ip in the cache; 0 or -ENOMEM. */
int fs_icache_insert(struct fs *fs, struct fs_inode *ip);
/* Unhash ip and mark it dead (its memory goes with the last fs_iput). */
void fs_icache_drop(struct fs *fs, struct fs_inode *ip);
/* Free every cached inode (unmount: no thread uses the mount). */
void fs_icache_free_all(struct fs *fs);

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
void fs_fill_attr(const struct fs_inode *ip, struct fs_attr *out);
/* Free everything the inode owns (after its tail went to 0); the inode
 * is unhashed and dead, its memory goes with the last fs_iput. */
void fs_inode_release(struct fs *fs, struct fs_inode *ip);

/* ---- log garbage collection (fs_gc.c) ---------------------------------- */

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

/* ---- the mapping ahead of the allocator (fs_ahead.c) -------------------- */

/* Start or stop the thread (with the log GC: writable mounts). */
int fs_ahead_start(struct fs *fs);
void fs_ahead_stop(struct fs *fs);
/* After an operation's commit: lane's window may want a refill. */
void fs_ahead_note(struct fs *fs, unsigned lane);

/* ---- fault injection for the tests ------------------------------------ */

/*
 * The crash harness's seeded bugs inside the core (tests/lib/seed.c) set
 * this while one is armed; no product program does.  dentry_del removes
 * a directory entry of dp by rewriting its DENTRY_ADD in place into the
 * DENTRY_DEL in b, outside the journal: 0 when it did (b then holds the
 * entry as written; the caller applies it to DRAM), else the rename logs
 * the DEL as it should.
 */
struct fs_inject {
	int (*dentry_del)(struct fs *fs, struct fs_inode *dp, union lent_buf *b);
};
extern const struct fs_inject *fs_inject; /* fs_namei.c; NULL */

/* ---- operations (fs_op.c) ---------------------------------------------- */

void fs_op_init(struct fs_op *op, struct fs *fs, unsigned aflags);
/* The index of ip in op (added on first use); -E2BIG past FS_OP_INODES. */
int fs_op_inode(struct fs_op *op, struct fs_inode *ip);
/* Append a copy of e (type/len/payload set) to ip's log, flushed. */
int fs_op_add(struct fs_op *op, struct fs_inode *ip,
	      const struct pmfs_lentry *e);
/* ip's tail goes to 0 at the commit (its blocks are freed after). */
void fs_op_free_inode(struct fs_op *op, struct fs_inode *ip);
/* A new inode: number, slot head/gen (LOG(8)), first page; it is locked,
 * referenced and cached; its first entry (ATTR, all) is the caller's. */
int fs_op_new_inode(struct fs_op *op, struct fs_inode **out);
/* Commit: LOG(4) if one inode and no records, else LOG(5); then apply,
 * free, queue for GC.  Durable when it returns 0. */
int fs_op_commit(struct fs_op *op);
void fs_op_abort(struct fs_op *op);
/* Update ip's atime (write lock held): LOG(4), 2 fences; best effort. */
void fs_touch_atime(struct fs *fs, struct fs_inode *ip);
/* Free ip (write lock held) if it is an orphan nothing holds: unlinked
 * (nlink 0), no lookup reference left; skipped while the mount is
 * read-only or a remount runs (then unmount or the next mount frees it). */
void fs_free_orphan(struct fs *fs, struct fs_inode *ip);

/* ---- POSIX ACLs (fs_acl.c) ---------------------------------------------- */

#define FS_ACL_ACCESS PMFS_ACL_ACCESS
#define FS_ACL_DEFAULT PMFS_ACL_DEFAULT
#define FS_ACL_T_ACCESS 1
#define FS_ACL_T_DEFAULT 2

/* The xattr called name of ip (any lock held), or NULL. */
struct fs_xattr *fs_xattr_find(struct fs_inode *ip, const char *name);
/* Data blocks the xattr values of ip hold. */
uint64_t fs_xattr_blocks(const struct fs_inode *ip);
/* FS_ACL_T_ACCESS or FS_ACL_T_DEFAULT for an ACL's xattr name, else 0. */
int fs_acl_name(const char *name);
/* The functions below take valid ACLs only (fmt_acl_check). */
/* *mode's rwx bits as the access ACL gives them (the mask stands for the
 * group bits); true when the mode says all the ACL says (not stored). */
bool fs_acl_to_mode(const void *v, size_t n, uint32_t *mode);
/* chmod: the owner, group (the mask if there is one) and other entries
 * take mode's rwx bits. */
void fs_acl_chmod(void *v, size_t n, uint32_t mode);
/* A new inode's access ACL from its directory's default ACL (a copy, in
 * place) and the mode it is created with: each reduces the other; true
 * when the result says no more than *mode (not stored). */
bool fs_acl_create_masq(void *v, size_t n, uint32_t *mode);

#endif /* PMFS_FS_INT_H */
