/*
 * log.h - per-inode logs, the per-lane redo journal, and journal recovery.
 *
 * Owns: the layout of an inode's log chain as it is appended (pages linked
 * through pmfs_logpage.next, entries never spanning pages), the commit of
 * a log tail, the validated read-only walk of a log (used by the fs to
 * build its DRAM indexes, by the crash rebuild, and by fsck and the crash
 * harness), the per-lane journal that makes multi-inode changes atomic,
 * and the re-application of active journals at mount.
 *
 * Read-only use (fsck, crash harness): ilog_dev_init() on any mapping,
 * then ilog_slot() / ilog_walk() (ilog_walk2: with why and where it
 * stopped) for every inode (they never store), ilog_replay() for what the
 * entries mean (one definition, shared with the fs);
 * jnl_check() reports whether a lane's journal is idle, active or corrupt
 * without applying it.  fs_mount_pmio() with FS_O_RDONLY mounts read-only.
 *
 * Lock order (see fs.h for the whole picture): a lane's journal is used
 * by one thread at a time: jnl_lane_hold() takes the lane's mutex (held
 * around jnl_commit, inside every fs lock but the allocator's; lane
 * mutexes are never nested, the LOG(7) bookkeeping only trylocks another
 * lane); ilog_* calls on one inode
 * must be serialised by the caller (the fs holds the inode's write lock);
 * the retired-lane mask is an atomic word (LOG(7) below); allocator calls
 * take the allocator's leaf mutexes.
 *
 * Crash invariants (code cites them as LOG(n)):
 *  (1) An inode's `tail` is its log's commit word: entries at or past it
 *      do not exist.  A tail is stored only after every entry before it,
 *      and every page header and `next` link leading to it, is durable
 *      (single-inode protocol below, step 2).
 *  (2) The tail lies in [page + 32, page + BLOCK_SIZE] of the page that
 *      holds the last entry; a walk stops at that page and never follows
 *      its `next`, so a `next` written for an append that never committed
 *      is harmless.
 *  (3) Entries never span pages; every entry carries a crc seeded with its
 *      owner's inode number, a per-inode seq that grows by 1, and is
 *      checked (type, length, crc, seq) before it is used.  A page must
 *      have the owner's ino, magic, crc and seq = previous + 1; a walk
 *      visits at most total_blocks pages, so a cycle is always detected.
 *      A page other than the tail's ends at its first entry header whose
 *      len is 0 (written when an entry did not fit), or when fewer than
 *      16 bytes are left.
 *  (4) Single-inode change (write, truncate, setattr, xattr):
 *        step 1  data blocks and new entries beyond the tail, flushed;
 *                state lines of retired-unfenced journals flushed (7);
 *        step 2  drain   ORDER: data+entries durable before tail moves
 *        step 3  pmio_commit64(tail)   -- the real commit
 *        step 4  drain   ORDER: commit durable before reply
 *      = 2 fences.  Blocks made unreachable are freed in DRAM only after
 *      step 4.
 *  (5) Multi-inode change (jnl_commit):
 *        step 1  entries beyond the old tails, new slot contents except
 *                tail, new zeroed inode-table chunk, flushed (caller);
 *                records written to this lane's journal and flushed;
 *                retired-unfenced state lines flushed (7)
 *        step 2  drain   ORDER: entries+records durable before commit
 *        step 3  pmio_commit64(state = ACTIVE|nrec|crc) -- the real commit
 *        step 4  drain   ORDER: journal commit durable before applying
 *        step 5  every record applied with pmio_commit64
 *        step 6  drain   ORDER: commit words durable before retire
 *        step 7  pmio_commit64(state = 0), no drain; lane marked in the
 *                retired-unfenced mask
 *      = 3 fences.  A journal re-applied twice gives the same words (the
 *      records hold absolute values), so recovery may crash and rerun.
 *  (8) A new inode: its slot's head, gen, flags and reserved words are
 *      written while its tail is 0 (the slot is free, nobody reads them:
 *      ilog_slot_init), with its first log page and entries; then its tail
 *      is committed - through the journal with the directory entry that
 *      names it (fs, fsck's lost+found), or, before a filesystem exists,
 *      before its superblock (mkfs).
 *  (6) Recovery (recov_journals): a journal whose state is ACTIVE with
 *      nrec <= PMFS_JREC_MAX and a matching crc, and whose every record
 *      addresses an inode tail/head in an allocated chunk or an itdir word,
 *      is re-applied, drained, then its state set to 0 and drained; any
 *      other nonzero state is corruption (-EUCLEAN, mount refused).
 *  (7) A retired journal whose state=0 is not yet durable could be
 *      re-applied by recovery over a later change of the same words.
 *      Every operation therefore flushes, before its first drain, the
 *      state line of every lane in the retired-unfenced mask (a flush from
 *      any CPU writes the line back); a lane leaves the mask after a drain
 *      that followed a flush of its line.  Also, recovery would call an
 *      ACTIVE state whose records were overwritten by the lane's next
 *      commit corrupt, hence (c).  With concurrent lanes:
 *      (a) a lane's retire count (rseq) grows and its bit is set (atomic
 *      OR, step 7) before jnl_commit returns, i.e. before the caller
 *      drops the inode locks of the words it changed, so whoever changes
 *      those words next takes the locks after and its atomic load of the
 *      mask sees the bit; (b) a bit is cleared only while holding that
 *      lane (its own holder, or a trylock by a thread that flushed the
 *      line and drained) and only if the lane's rseq is still the one
 *      seen when the line was flushed, so a cleared bit always means
 *      "the latest retire of that lane is durable"; (c) a lane's records
 *      are overwritten only when its bit is clear: jnl_lane_hold prefers
 *      such lanes, and jnl_commit drains first (one fence more) when it
 *      got a lane whose retire is still unfenced.
 */
#ifndef PMFS_LOG_H
#define PMFS_LOG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "format/fmt.h"
#include "format/format.h"

struct pmio;
struct alloc;

/* A mapped namespace as the log layer sees it (shared with fs, fsck). */
struct ilog_dev {
	struct pmio *p;
	uint8_t *base;
	uint64_t size;
	uint64_t total_blocks;
	uint64_t data_start;
	unsigned nlanes;
	le64 *itdir;              /* PMFS_ITDIR_ENTRIES words */
	struct pmfs_journal *jnl; /* lane 0; lane i at jnl + i */
	struct pmfs_sb_state *state;
	uint32_t incompat;        /* superblock feature_incompat */
	_Atomic uint64_t retired; /* LOG(7): lanes retired, not fenced */
	/* journal lanes in use (jnl_lane_hold), retires per lane */
	pthread_mutex_t lane_mu[PMFS_MAX_LANES];
	_Atomic uint64_t rseq[PMFS_MAX_LANES];
};

/* Fill d for the mapping p laid out as g (which the caller checked: a
 * superblock that passed fmt_super_check, or mkfs's own geometry); the
 * caller sets d->incompat from that superblock. */
void ilog_dev_view(struct ilog_dev *d, struct pmio *p,
		   const struct fmt_geometry *g);
/* Check the superblock of the mapping and fill d; 0, -EINVAL (not pmfs),
 * -EOPNOTSUPP or -EUCLEAN with a reason in why. */
int ilog_dev_init(struct ilog_dev *d, struct pmio *p, char *why,
		  size_t whylen);

/* The geometry of d, as fmt_super_geometry gave it. */
void ilog_geometry(const struct ilog_dev *d, struct fmt_geometry *g);

/*
 * Inode-table directory word c of itdir (the words on media, or fsck's
 * copy): 0 (no chunk) or a chunk inside the data area that overlaps no
 * earlier chunk k for which valid(arg, k) says it is kept (valid NULL:
 * every earlier nonzero word).  The one rule the mount and fsck apply;
 * 0 or -EUCLEAN with a reason in why.
 */
int ilog_chunk_check(const struct ilog_dev *d, const le64 *itdir, uint64_t c,
		     bool (*valid)(void *arg, uint64_t k), void *arg,
		     char *why, size_t whylen);

/* Inode slot of ino, or NULL if ino is out of range or its chunk is not
 * allocated (range-checked). */
struct pmfs_inode *ilog_slot(const struct ilog_dev *d, uint64_t ino);

/* LOG(8): write a free slot's head, gen, flags and reserved words (not its
 * tail), flushed, no drain. */
void ilog_slot_init(struct ilog_dev *d, struct pmfs_inode *slot, uint64_t head,
		    uint32_t gen);
/* The generation a slot's next inode gets (never 0). */
static inline uint32_t ilog_next_gen(const struct pmfs_inode *slot)
{
	return slot->gen + 1 ? slot->gen + 1 : 1;
}

/* Is off a valid log page offset (aligned, inside the data area)? */
bool ilog_page_ok(const struct ilog_dev *d, uint64_t off);
/* Is blk..blk+n inside the data area? */
bool ilog_blocks_ok(const struct ilog_dev *d, uint64_t blk, uint64_t n);

static inline void *ilog_ptr(const struct ilog_dev *d, uint64_t off)
{
	return d->base + off;
}
static inline uint64_t ilog_off(const struct ilog_dev *d, const void *p)
{
	return (uint64_t)((const uint8_t *)p - d->base);
}

/* Where a log ends: what appending needs. */
struct ilog_pos {
	uint64_t head;    /* first page (byte offset) */
	uint64_t tail;    /* end of the last entry (byte offset) */
	uint64_t pageseq; /* seq of the page holding tail */
	uint64_t seq;     /* seq of the last entry */
	uint64_t npages;  /* pages in the chain */
	uint64_t bytes;   /* entry bytes in the chain */
};

/* Pages allocated by one operation, freed again if it aborts: the first
 * ILOG_TX_PAGES in pages[], any further ones in a heap list (xpages), so
 * an operation is not limited in size; ilog_tx_done() or ilog_tx_abort()
 * ends every tx. */
#define ILOG_TX_PAGES 64
struct ilog_tx {
	struct ilog_dev *d;
	struct alloc *a;
	unsigned lane;
	unsigned aflags; /* ALLOC_F_* for page allocations */
	bool unbounded; /* GC: pages not recorded (abort: ilog_free_chain) */
	unsigned npages;
	uint64_t pages[ILOG_TX_PAGES];
	uint64_t *xpages; /* beyond ILOG_TX_PAGES; NULL if none */
	size_t nxpages, xcap;
};

void ilog_tx_init(struct ilog_tx *tx, struct ilog_dev *d, struct alloc *a,
		  unsigned lane, unsigned aflags);
/* Abort: free the pages this tx allocated (nothing was committed). */
void ilog_tx_abort(struct ilog_tx *tx);
/* Committed: the pages are the log's now; drop the tx's list of them. */
void ilog_tx_done(struct ilog_tx *tx);

/* Start a new chain for ino: one page (seq 0), flushed; pos describes it
 * (no entries yet). */
int ilog_new(struct ilog_tx *tx, uint64_t ino, struct ilog_pos *pos);
/*
 * Append entry e (e->type, e->len set; payload filled) to ino's log at
 * pos: sets e->seq, seals e->crc, copies it beyond pos->tail (a new page
 * when it does not fit, linked from the current one) and flushes; pos
 * moves past it.  Nothing is committed: LOG(4)/(5) do that.
 */
int ilog_append(struct ilog_tx *tx, uint64_t ino, struct ilog_pos *pos,
		struct pmfs_lentry *e);
/*
 * Single-inode commit, LOG(4) steps 2..4: drain, store the tail, drain.
 * The caller did step 1 (ilog_append flushes).
 */
void ilog_commit_tail(struct ilog_dev *d, uint64_t ino, uint64_t tail);

/* Walk callbacks: nonzero return stops the walk and is returned. */
typedef int (*ilog_entry_fn)(void *arg, const struct pmfs_lentry *e,
			     uint64_t off);
typedef int (*ilog_page_fn)(void *arg, uint64_t page_off);

/*
 * Walk ino's log from head to tail, checking LOG(2), LOG(3); calls page()
 * for every page (may be NULL) before reading it, and entry() for every
 * entry in order (e points into the mapping).  Every page offset is
 * range-checked before it is read and every entry is checked on a copy,
 * so even a bad chain (or one changed under the walk) is never read past
 * its page or the mapping.
 * Returns 0 with *end (may be NULL) describing the end, -EIO for a corrupt
 * log (a message naming the inode goes to stderr unless quiet), or the
 * callback's value.  Never stores to the mapping.
 */
int ilog_walk(const struct ilog_dev *d, uint64_t ino, uint64_t head,
	      uint64_t tail, ilog_entry_fn entry, ilog_page_fn page,
	      void *arg, bool quiet, struct ilog_pos *end);

/* Why a walk stopped (ilog_walk2): ILOG_E_NONE when it reached the
 * tail; off is the byte offset concerned (head, tail, page or entry); msg
 * the same text ilog_walk prints. */
enum ilog_err_reason {
	ILOG_E_NONE = 0,
	ILOG_E_HEAD,     /* head is not a valid page offset (off = head) */
	ILOG_E_TAIL,     /* tail out of range / misaligned (off = tail) */
	ILOG_E_CYCLE,    /* more pages than the device has (off = page) */
	ILOG_E_PAGE,     /* bad page header: magic/owner/crc (off = page) */
	ILOG_E_PAGESEQ,  /* page seq not previous + 1 (off = page) */
	ILOG_E_ENTRY,    /* bad entry: type/len/crc, msg says (off = entry) */
	ILOG_E_SEQ,      /* entry seq not previous + 1 (off = entry) */
	ILOG_E_NEXT,     /* bad next link (off = page holding it) */
	ILOG_E_CALLBACK, /* a callback returned nonzero (off = its page or
			  * entry); the walk returns that value */
};
struct ilog_err {
	int reason; /* enum ilog_err_reason */
	uint64_t off;
	char msg[128];
};
/* ilog_walk, and on return *ie (may be NULL) says why and where the walk
 * stopped (ILOG_E_NONE with 0). */
int ilog_walk2(const struct ilog_dev *d, uint64_t ino, uint64_t head,
	       uint64_t tail, ilog_entry_fn entry, ilog_page_fn page,
	       void *arg, bool quiet, struct ilog_pos *end,
	       struct ilog_err *ie);

/* ---- replay: what the entries mean (ilog_replay.c) ----------------------
 *
 * The one definition of an inode's state as its log describes it, shared
 * by the fs (fs_apply) and fsck.  Rules:
 *  - entries apply in log order; a later entry overrides an earlier one
 *    (attributes field by field as its mask says, extents page by page,
 *    a DENTRY_ADD of an existing name replaces it, an XATTR_SET replaces);
 *  - ATTR with PMFS_AT_SIZE, and a WRITE whose size is below the current
 *    size, drop the mapping at and past page ceil(size / BLOCK_SIZE)
 *    (truncate callback, after the WRITE's own extent);
 *  - a WRITE sets size, mtime, ctime; a dentry entry sets the directory's
 *    nlink, mtime and ctime;
 *  - a DENTRY_DEL of a name that is absent is allowed (no error); ADD and
 *    DEL both raise maxcookie to their cookie, so the "." DEL a log
 *    compaction writes carries the directory's highest cookie;
 *  - every entry passes lent_check before it applies (ilog_walk checked
 *    type/len/crc/seq): -EIO with st->bad saying why when it does not.
 */
struct ilog_state {
	uint32_t mode, uid, gid, nlink;
	uint64_t size, rdev, parent;
	struct timespec atime, mtime, ctime, btime;
	uint64_t maxcookie; /* highest dentry cookie seen (ADD or DEL) */
	uint64_t nentries;  /* entries applied */
	const char *bad;    /* why ilog_apply refused an entry (-EIO) */
};

/* Callbacks for what lives in the caller's structures; any may be NULL.
 * A nonzero return stops ilog_apply/ilog_replay and is returned. */
struct ilog_replay_ops {
	/* every raw entry before it is applied (ilog_replay only) */
	int (*entry)(void *arg, const struct pmfs_lentry *e, uint64_t off);
	/* every log page (ilog_replay only) */
	int (*page)(void *arg, uint64_t page_off);
	/* file pages [pgoff, pgoff+n) map to blocks blk.. (flags 0 or
	 * PMFS_WR_UNWRITTEN), or become a hole (PMFS_WR_HOLE, blk 0) */
	int (*extent)(void *arg, uint64_t pgoff, uint64_t n, uint64_t blk,
		      uint32_t flags);
	/* drop the mapping of every page >= from_pg */
	int (*truncate)(void *arg, uint64_t from_pg);
	int (*dentry_add)(void *arg, const struct pmfs_le_dentry *de);
	/* the name may be absent: not an error */
	int (*dentry_del)(void *arg, const struct pmfs_le_dentry *de);
	/* target (in the mapping, not NUL-terminated); blk 0 if inline */
	int (*symlink)(void *arg, const char *target, uint32_t len,
		       uint64_t blk);
	/* set replaces an existing name; the value (in the mapping) is
	 * inline (blk 0) or in fmt_xattr_blocks(vlen) blocks from blk */
	int (*xattr_set)(void *arg, const char *name, size_t nlen,
			 const void *val, size_t vlen, uint64_t blk);
	int (*xattr_del)(void *arg, const char *name, size_t nlen);
};

/* Apply one (walk-checked) entry e to st and through ops, after
 * lent_check.  0, -EIO (bad contents: st->bad says why) or a callback's
 * value.  Never stores to the mapping. */
int ilog_apply(const struct ilog_dev *d, struct ilog_state *st,
	       const struct pmfs_lentry *e, const struct ilog_replay_ops *ops,
	       void *arg);
/*
 * Replay ino's committed log (its slot's head..tail) from a zeroed *st:
 * ilog_walk2 (quiet) with ilog_apply on every entry.  0; -EINVAL (no such
 * slot), -ENOENT (slot free), -EIO (corrupt: *ie says where, may be NULL),
 * or a callback's value.  *end (may be NULL) as ilog_walk.  Read-only.
 */
int ilog_replay(const struct ilog_dev *d, uint64_t ino,
		const struct ilog_replay_ops *ops, void *arg,
		struct ilog_state *st, struct ilog_pos *end,
		struct ilog_err *ie);

/*
 * Make inode ino outside the fs (fsck's lost+found), by LOG(8): the slot
 * must be free (tail 0) in an allocated chunk.  A new one-page log from a
 * (lane 0, may use the reserve) holding one ATTR entry setting every
 * attribute from st, then the tail committed through the journal (LOG(5),
 * 3 fences).  On 0 the inode exists and is durable; *gen is its
 * generation and *pos its log (pos->head is its only page).  The inode
 * number is not taken in the allocator (the caller's business).
 * -EINVAL, -EEXIST, -ENOSPC.
 */
int ilog_make_inode(struct ilog_dev *d, struct alloc *a, uint64_t ino,
		    const struct ilog_state *st, uint32_t *gen,
		    struct ilog_pos *pos);

/* Free (in the allocator) every page of the chain head..tail; the chain
 * must be unreachable (its tail is not, or no longer, committed).  A page
 * is freed only after the walk has read all of it (entries, next link):
 * a freed page may at once be reused by another thread.  A corrupt chain
 * is freed as far as it is valid. */
void ilog_free_chain(struct ilog_dev *d, struct alloc *a, uint64_t ino,
		     uint64_t head, uint64_t tail);

/* ---- entries: one builder and one validator per type (lentry.c) -------
 *
 * Every entry written anywhere (fs, GC, mkfs, fsck repairs) is built by a
 * lent_* builder; every entry read anywhere passes lent_check (through
 * ilog_apply).  Builders fill a caller's buffer and return its header
 * with type and len set (seq and crc are ilog_append's).
 */
union lent_buf {
	struct pmfs_lentry h;
	uint64_t w[PMFS_LENTRY_MAX / 8];
};

/* An ATTR entry setting the fields of mask to st's values. */
struct pmfs_lentry *lent_attr(union lent_buf *b, uint32_t mask,
			      const struct ilog_state *st);
/* A WRITE entry: file pages [pgoff, pgoff+nblocks) to blocks blk.. (flags
 * 0 or PMFS_WR_UNWRITTEN) or a hole (PMFS_WR_HOLE, blk ignored); size,
 * mtime and ctime after it. */
struct pmfs_lentry *lent_write(union lent_buf *b, uint64_t pgoff,
			       uint32_t nblocks, uint32_t flags, uint64_t blk,
			       uint64_t size, const struct timespec *mtime,
			       const struct timespec *ctime);
/* A DENTRY_ADD or DENTRY_DEL (type) of name -> ino/gen/ftype with its
 * cookie, the directory's nlink after it and its new mtime = ctime. */
struct pmfs_lentry *lent_dentry(union lent_buf *b, uint16_t type,
				uint64_t ino, uint32_t gen, uint64_t cookie,
				unsigned ftype, const char *name, size_t nlen,
				uint32_t dir_nlink,
				const struct timespec *mtime);
/* A SYMLINK entry: the target inline (blk 0; len at most
 * PMFS_SYMLINK_INLINE_MAX) or in data block blk (written by the caller). */
struct pmfs_lentry *lent_symlink(union lent_buf *b, const char *target,
				 uint32_t len, uint64_t blk);
/* An XATTR_SET (name and value, vlen at most PMFS_XATTR_INLINE_MAX) or
 * XATTR_DEL (name; val ignored). */
struct pmfs_lentry *lent_xattr(union lent_buf *b, uint16_t type,
			       const char *name, size_t nlen, const void *val,
			       size_t vlen, const struct timespec *ctime);
/* An XATTR_BLK: name, and a value of vlen bytes the caller wrote (and
 * flushed) to fmt_xattr_blocks(vlen) fresh blocks from blk. */
struct pmfs_lentry *lent_xattr_blk(union lent_buf *b, const char *name,
				   size_t nlen, uint32_t vlen, uint64_t blk,
				   const struct timespec *ctime);
/* A timestamp on media. */
void lent_time(struct pmfs_time *t, const struct timespec *ts);

/*
 * The validator of every entry type: is e (whose header ilog_walk checked)
 * valid for an inode whose log so far gave st?  0, or -EIO with *why (may
 * be NULL) saying what is wrong.  See lentry.c for the rules.
 */
int lent_check(const struct ilog_dev *d, const struct ilog_state *st,
	       const struct pmfs_lentry *e, const char **why);
/* Is name (n bytes) a valid directory entry name?  (1..255 bytes, no '/'
 * or NUL, not "." or "..") */
bool lent_name_ok(const uint8_t *name, size_t n);

/* ---- journal ---------------------------------------------------------- */

struct jnl_tx {
	unsigned n;
	struct pmfs_jrec rec[PMFS_JREC_MAX];
};

static inline void jnl_tx_init(struct jnl_tx *t)
{
	t->n = 0;
}
/* Record "store v at word" (a pointer into the mapping); -E2BIG if full. */
int jnl_add(struct jnl_tx *t, const struct ilog_dev *d, const void *word,
	    uint64_t v);
/* Take a journal lane for exclusive use: a free lane whose last retire is
 * durable if there is one (from `pref` on), else any free lane, else wait
 * for `pref`. */
unsigned jnl_lane_hold(struct ilog_dev *d, unsigned pref);
void jnl_lane_release(struct ilog_dev *d, unsigned lane);
/*
 * LOG(5) steps 1 (records) .. 7 on lane `lane`; the caller holds the lane
 * (jnl_lane_hold) and did the rest of step 1.  When it returns every
 * record is applied and durable.
 */
void jnl_commit(struct ilog_dev *d, unsigned lane, const struct jnl_tx *t);
/* LOG(7): flush the state lines of retired-unfenced lanes (no drain). */
void jnl_flush_retired(struct ilog_dev *d);
/* LOG(7): lane's own retire is durable (its holder, after a drain that
 * followed a flush of its line). */
void jnl_lane_fenced(struct ilog_dev *d, unsigned lane);

/* LOG(7) with bookkeeping: jnl_rsnap_flush() flushes the retired lanes'
 * lines and notes which retires they were; after a drain,
 * jnl_rsnap_fenced() clears the bits of those still current (`own`: the
 * lane the caller holds, or ~0u). */
struct jnl_rsnap {
	uint64_t mask;
	uint64_t seq[PMFS_MAX_LANES];
};
void jnl_rsnap_flush(struct ilog_dev *d, struct jnl_rsnap *s);
void jnl_rsnap_fenced(struct ilog_dev *d, const struct jnl_rsnap *s,
		      unsigned own);

/* Journal state of a lane: 0 idle, 1 active and valid, -EUCLEAN corrupt
 * (reason in why). */
int jnl_check(const struct ilog_dev *d, unsigned lane, char *why,
	      size_t whylen);
/* LOG(6): re-apply every active journal; *replayed counts them.
 * -EUCLEAN (message on stderr) if a journal is corrupt. */
int recov_journals(struct ilog_dev *d, uint64_t *replayed);

#endif /* PMFS_LOG_H */
