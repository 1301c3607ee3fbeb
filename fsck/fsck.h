/*
 * fsck.h - fsck.pmfs internals: the check context shared by the passes,
 * the problem reporter, the DRAM model of every inode built from the logs
 * by the core's readers (ilog_walk2 finds the entries, ilog_apply says
 * what each means and lent_check, the validator the mount uses too,
 * judges it: fsck has no parser and no replay rules of its own), and the
 * repairs, which append entries built by the core's lent_* builders.
 *
 * Files, and which calls which (one way: the passes call model.c,
 * repair.c and problem.c, never each other; repair.c calls model.c):
 *   main.c    options; check.c  one run: open, the passes, the report
 *   problem.c reporting and the -n/-y/-p decision
 *   model.c   the model: inodes, extents, entries, xattrs; the walk of a
 *             log into it; fsck_word; reachability
 *   repair.c  every store fsck makes: log tails and appended entries,
 *             cleared inodes, lost+found, superblock and journal repairs,
 *             moved chunks, the bad-block table, the clean flag
 * Passes (e2fsck style; each file opens with what it checks):
 *   pass1.c  superblock and its copy, bad-block table, sb_state
 *   pass2.c  journals: replay an interrupted multi-inode operation
 *   pass3.c  inode table and every log chain; builds the model
 *   pass4.c  block ownership, bad blocks, free space
 *   pass5.c  directory tree: reachability, '..', hard-linked directories
 *   pass6.c  link counts, sizes, xattrs, symlink sizes
 *
 * Safety rules for every pass (the tool must survive any image):
 *  (1) every offset or block number read from media is range-checked
 *      before it is dereferenced (ilog_page_ok, ilog_blocks_ok, ilog_slot);
 *  (2) every loop over media structures is bounded by a count derived from
 *      the geometry, never by a value read from media alone;
 *  (3) every length read from media is validated (fmt_entry_check does it
 *      for log entries) before it is used;
 *  (4) in -n mode the mapping is read-only (PMIO_O_RDONLY): any store is a
 *      crash, so a bug cannot change the image.
 */
#ifndef PMFS_FSCK_H
#define PMFS_FSCK_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/format.h"
#include "log/log.h"

/* fsck(8) exit codes */
#define FSCK_EXIT_OK 0
#define FSCK_EXIT_FIXED 1
#define FSCK_EXIT_UNCORRECTED 4
#define FSCK_EXIT_ERROR 8
#define FSCK_EXIT_USAGE 16
#define FSCK_EXIT_CANCELLED 32

enum fsck_mode {
	FSCK_MODE_ASK = 0, /* interactive, on a terminal */
	FSCK_MODE_NO,      /* -n */
	FSCK_MODE_YES,     /* -y */
	FSCK_MODE_PREEN,   /* -p */
};

struct fsck_opts {
	enum fsck_mode mode;
	bool force;
	bool verbose;
	bool json;
	bool quiet; /* no output at all (in-process checks): findings only */
	const char *dev;
};

/* problem flags */
#define PR_PREEN_OK 0x1 /* safe to repair without a human (-p) */
#define PR_NOFIX 0x2    /* reported; fsck cannot repair it */

struct fsck_finding {
	int pass;
	char code[32];
	uint64_t ino;
	char msg[200];
	bool fixed;
};

/* A mapped extent of a file (final state after replaying the log). */
struct fext {
	uint64_t pgoff, n, blk;
	uint32_t flags; /* PMFS_WR_UNWRITTEN or 0 */
};

/* A live directory entry. */
struct fdent {
	uint64_t ino, cookie;
	uint32_t gen;
	uint8_t ftype, nlen;
	char *name; /* nlen bytes + NUL */
};

struct fxattr {
	uint8_t nlen;
	uint32_t vlen;
	uint64_t blk; /* first block of the value (XATTR_BLK), 0: inline */
	bool bad_acl; /* an ACL's name, a value fmt_acl_check refuses */
	char *name;   /* nlen bytes + NUL */
};

/* An inode in use, as fsck sees it after walking its log. */
struct fino {
	uint64_t ino;
	uint32_t gen;
	bool cleared; /* freed by a repair (tail 0) */
	struct ilog_pos end;
	struct ilog_state st; /* what ilog_apply made of the log so far */
	/* copies of st the passes read (fsck_model_apply keeps them) */
	uint64_t nentries;
	/* attributes */
	uint32_t mode, nlink;
	uint64_t size, parent;
	struct pmfs_time mtime;
	/* regular files */
	struct fext *ext;
	size_t next, extcap;
	/* directories */
	struct fdent *de;
	size_t nde, decap;
	uint64_t maxcookie;
	uint32_t *ht;  /* big directories: name hash, de index + 1 (0 free) */
	size_t htcap;  /* 0 or a power of two, at least 2 nde */
	/* symlinks */
	bool has_target;
	uint32_t sllen;
	uint64_t slblk;
	/* xattrs */
	struct fxattr *xa;
	size_t nxa, xacap;
	/* log pages, in chain order */
	uint64_t *pages;
	size_t npages, pagecap;
	/* pass 5 */
	uint32_t refs;     /* entries naming it */
	uint64_t referrer; /* first directory naming it */
	uint32_t subdirs;  /* directories: live entries that are dirs */
	bool reachable;
};

struct fsck {
	struct fsck_opts o;
	struct pmio *p;
	uint8_t *base;
	uint64_t size;
	bool rdonly;
	struct ilog_dev d; /* valid once pass 1 found a good superblock */
	bool dev_ok;
	bool was_clean;     /* sb_state.clean at start */
	bool unclean_marked; /* clean cleared for repairs */
	struct alloc *a;    /* pass 4 on: free space as fsck computed it */
	uint64_t *owner;    /* pass 4: per block, see pass4.c */
	/* -n: active journals applied in DRAM only (pass 2) */
	struct pmfs_jrec *virt;
	size_t nvirt;
	le64 *itdir_copy;
	le64 *itdir_media; /* the words on media (d.itdir may be the copy) */
	/* model */
	struct fino **chunk[PMFS_ITDIR_ENTRIES]; /* NULL or per-slot array */
	/* per chunk: its blocks on the bad-block list (bit k: block k),
	 * whose slots pass 3 does not read; pass 4 moves the chunk */
	uint64_t chunk_bad[PMFS_ITDIR_ENTRIES];
_Static_assert(PMFS_CHUNK_BLOCKS <= 64, "chunk_bad: one bit per block");
	uint64_t ninodes;
	uint64_t lf_ino; /* lost+found, 0 = none */
	/* findings */
	struct fsck_finding *f;
	size_t nf, fcap;
	unsigned nfound, nfixed, nleft;
	bool changed;
	bool operr;
	int cur_pass;
	bool yes_all;  /* interactive: answered a (yes to all) */
	int tty;       /* stderr is a terminal: -1 unknown, 0, 1 */
	int prog_pct;  /* progress shown: last percentage, -1 none */
	/* figures */
	uint64_t used_blocks, free_blocks, log_pages, data_blocks;
	uint64_t nfiles, ndirs, nsymlinks, nother, journals_replayed;
	uint64_t logs_cut, inodes_cleared;
};

extern volatile sig_atomic_t fsck_cancel;

/* check.c: one whole run over o->dev; returns the fsck(8) exit status. */
int fsck_check(const struct fsck_opts *o);
/* The same run, keeping *f (the model of every inode, the findings) for
 * the caller until fsck_release(f). */
int fsck_run(struct fsck *f, const struct fsck_opts *o);
void fsck_release(struct fsck *f);

/* problem.c */
/*
 * Report a problem found in the current pass and decide whether to fix
 * it: -n never, -y always, -p only with PR_PREEN_OK, interactive asks.
 * Returns true when the caller must repair it now (and the count of fixed
 * problems is incremented); false leaves it counted as uncorrected.
 */
bool fsck_problem(struct fsck *f, unsigned flags, const char *code,
		  uint64_t ino, const char *question, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
/* Informational line (not a problem), printed only with -v. */
void fsck_info(struct fsck *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Start of a pass: remembered for findings, printed with -v. */
void fsck_pass(struct fsck *f, int n, const char *what);
/* Operational failure (out of memory, ...): counted, exit 8. */
void fsck_operr(struct fsck *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Progress of the current pass on a terminal: done of total; done >=
 * total ends it (problem.c says when it shows). */
void fsck_progress(struct fsck *f, uint64_t done, uint64_t total);

/* passes: 0 to go on, <0 to stop checking (fatal for this image) */
int fsck_pass1(struct fsck *f);
int fsck_pass2(struct fsck *f);
int fsck_pass3(struct fsck *f);
int fsck_pass4(struct fsck *f);
int fsck_pass5(struct fsck *f);
int fsck_pass6(struct fsck *f);

/* ---- model.c ---------------------------------------------------------- */

/* One walk of an inode's log into its model (fsck_model_walk). */
struct fsck_walk {
	struct fsck *f;
	struct fino *ip;
	uint64_t last_end; /* end of the last good entry, 0 = none */
	uint64_t last_seq;
	uint64_t bad_off;
	char why[128];     /* what stopped it, when it stopped early */
	int err;
};
/* Walk ino's log from head to tail into ip (its model rebuilt from
 * scratch); 0, -EIO (stopped at a bad page or entry: *w says where and
 * why; ip holds the good prefix) or -ENOMEM. */
int fsck_model_walk(struct fsck *f, struct fino *ip, uint64_t head,
		    uint64_t tail, struct fsck_walk *w);
/* The model of inode ino, NULL if it has none (free, cleared). */
struct fino *fsck_ino(const struct fsck *f, uint64_t ino);
/* Every inode of the model, in inode-number order: the statement after
 * it runs with ip set (chunks pass 3 dropped are skipped whole). */
#define FOR_EACH_INO(f, ip, ino)                                              \
	for (uint64_t ino = 1; ino < PMFS_MAX_INODES; ino++)                 \
		if (!(f)->chunk[fmt_ino_chunk(ino)])                         \
			ino += PMFS_INODES_PER_CHUNK - 1 -                   \
			       ino % PMFS_INODES_PER_CHUNK;                  \
		else if (((ip) = fsck_ino((f), ino)) != NULL)
/* Every slot number of the chunks pass 3 kept, in order: the statement
 * after it runs with c (chunk), i (slot in it) and ino set. */
#define FOR_EACH_SLOT(f, c, i, ino)                                           \
	for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES; c++)                    \
		if ((f)->chunk[c])                                           \
			for (uint64_t i = 0, ino = c * PMFS_INODES_PER_CHUNK; \
			     i < PMFS_INODES_PER_CHUNK; i++, ino++)
/* Apply one valid entry to the model of ip; 0, -EIO (lent_check refused
 * it: ip->st.bad says why) or -ENOMEM. */
int fsck_model_apply(struct fsck *f, struct fino *ip,
		     const struct pmfs_lentry *e);
/* Free what the model of ip holds (ip itself stays). */
void fsck_model_reset(struct fino *ip);
void fsck_model_free(struct fsck *f);
struct fdent *fsck_dir_find(struct fino *dir, const char *name, size_t nlen);
/* A commit word (slot tail/head) as the checks see it: with -n, the value
 * an unreplayed journal would store there (pass 2 keeps them). */
uint64_t fsck_word(const struct fsck *f, const le64 *w);
/* Mark top and everything below it reachable; 0 or -1 (no memory). */
int fsck_mark_reachable(struct fsck *f, struct fino *top);
/* The DT_* type of a mode. */
uint8_t fsck_dtype(uint32_t mode);

/* ---- repair.c: every store fsck makes ----------------------------------- */

/* Clear sb_state.clean before the first change (durable on return). */
void fsck_begin_change(struct fsck *f);
/* Store a log tail (cut or commit); durable on return. */
void fsck_set_tail(struct fsck *f, uint64_t ino, uint64_t tail);
/* Append entry e to ip's log, commit it and apply it to the model. */
int fsck_append(struct fsck *f, struct fino *ip, struct pmfs_lentry *e);
/* Cut ip's log before its page k (chain order): the tail moves back to
 * the end of the last entry of an earlier page (stored only when fix),
 * the model is rebuilt from what is left.  1 when nothing is left (the
 * caller clears the inode), 0, or -ENOMEM. */
int fsck_cut_before_page(struct fsck *f, struct fino *ip, size_t k,
			 bool fix);
/* Free inode ip (tail 0); durable on return. */
void fsck_clear_inode(struct fsck *f, struct fino *ip);
/* Remove xattr i of ip (an XATTR_DEL); its value's blocks are free after,
 * but those whose bit k is set in `shared` (block k of the value is also
 * another's, or ip's for something else).  0 or -errno (reported). */
int fsck_xattr_del(struct fsck *f, struct fino *ip, size_t i,
		   uint32_t shared);
/* Give xattr i of ip (its value in blocks) a copy of the value in
 * fresh consecutive blocks from nb (an XATTR_BLK naming them); the old
 * blocks are free after, but the `shared` ones (as fsck_xattr_del).
 * 0 or -errno (reported). */
int fsck_xattr_move(struct fsck *f, struct fino *ip, size_t i, uint64_t nb,
		    uint32_t shared);
int fsck_set_attr(struct fsck *f, struct fino *ip, uint32_t mask,
		  uint32_t nlink, uint64_t size, uint64_t parent);
int fsck_dentry(struct fsck *f, struct fino *dir, uint16_t type,
		uint64_t ino, uint32_t gen, uint8_t ftype, const char *name,
		size_t nlen, uint64_t cookie);
/* Remove entry de from dir (a DENTRY_DEL). */
int fsck_unlink(struct fsck *f, struct fino *dir, const struct fdent *de);
/* Remove an extra entry naming a directory (not counted in dir's nlink). */
int fsck_unlink_extra(struct fsck *f, struct fino *dir,
		      const struct fdent *de);
/* Name ip in dir under name; updates the model. */
int fsck_link(struct fsck *f, struct fino *dir, struct fino *ip,
	      const char *name);
/* Clear a root that is not a directory, make an empty root directory in
 * inode 1; returns it or NULL (reported). */
struct fino *fsck_new_root(struct fsck *f);
/* Find or create /lost+found (a non-directory in its place is renamed
 * aside); returns it or NULL. */
struct fino *fsck_lost_found(struct fsck *f);
/* Copy superblock block `from` over block `to`; durable on return. */
void fsck_copy_super(struct fsck *f, unsigned from, unsigned to);
/* Clear a corrupt journal lane's state; durable on return. */
void fsck_clear_journal(struct fsck *f, unsigned lane);
/* Re-apply every active journal (the mount's recov_journals); 0 or
 * -EUCLEAN. */
int fsck_replay_journals(struct fsck *f, uint64_t *replayed);
/* Copy data block from to block to, flushed (drained by the commit of
 * the entry that makes the copy reachable). */
void fsck_copy_block(struct fsck *f, uint64_t from, uint64_t to);
/* Drop inode-table chunk c (its directory word to 0); durable on return. */
void fsck_drop_chunk(struct fsck *f, uint64_t c);
/* Move inode-table chunk c to the PMFS_CHUNK_BLOCKS blocks at nb: its
 * blocks are copied but those in badmask (zeroed), then its directory
 * word stored; durable on return. */
void fsck_move_chunk(struct fsck *f, uint64_t c, uint64_t nb,
		     uint64_t badmask);
/* Rewrite the bad-block table with the n blocks blk (sorted, unique). */
void fsck_write_badblocks(struct fsck *f, const uint64_t *blk, uint32_t n);
/* Save the allocator state and set the clean flag. */
int fsck_mark_clean(struct fsck *f);

#endif /* PMFS_FSCK_H */
