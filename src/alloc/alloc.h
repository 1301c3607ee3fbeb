/*
 * alloc.h - free space and free inode numbers, in DRAM.
 *
 * Owns: which blocks of [data_start, total_blocks) are free, and which
 * inode numbers inside the allocated inode-table chunks are free.  Blocks
 * are split into one contiguous range per lane, each with its own bitmap
 * and mutex, so threads on different lanes do not contend; a lane that
 * runs dry takes blocks from the others.  Bad blocks (the table in block 2
 * and pmio_badblocks()) are marked used when the allocator is created and
 * are never freed, so they are never handed out.  The state reaches media
 * only at clean unmount (alloc_save, a chain of pmfs_allocsave blocks);
 * after a crash the fs rebuilds it by marking every reachable block used
 * (alloc_mark_used) on an allocator that starts all free.
 *
 * ENOSPC: the last `reserve` free blocks are kept for operations that free
 * space (unlink, rmdir, truncate): they allocate with ALLOC_F_RESERVE.
 *
 * Lock order (leaf module, innermost in the whole program: callers may
 * hold any fs lock, see fs.h): lane mutexes are taken one at a time,
 * except by a contiguous allocation no single lane can satisfy, which
 * takes all of them in increasing lane order; the inode-number mutex is
 * never held with a lane mutex.
 * Free counters are atomics.  A thread passes its preferred lane; when
 * that lane has no run, take() steals from the next lanes in turn.
 *
 * Crash invariants:
 *  (1) nothing here is persistent except the save chain, which is valid
 *      only while sb_state.clean is set (the caller persists the chain
 *      before it commits clean, and clears clean before the first change);
 *  (2) a block is handed out at most once until it is freed; freeing a
 *      block that is free, or a bad block, is refused (-EINVAL) and
 *      counted, never silently accepted.
 */
#ifndef PMFS_ALLOC_H
#define PMFS_ALLOC_H

#include <stdbool.h>
#include <stdint.h>

struct pmio;
struct alloc;

#define ALLOC_F_RESERVE 0x1 /* may dip into the reserve */

/*
 * Create an allocator for blocks [data_start, total_blocks) with nlanes
 * lanes, all free except bad blocks (from the table at `badtab`, which
 * the caller checked with fmt_badblocks_check, or NULL; and from
 * pmio_badblocks(p) if p is not NULL) and, if all_used, every block (the
 * clean-mount path then frees the saved extents).
 */
int alloc_create(struct pmio *p, const void *badtab, uint64_t data_start,
		 uint64_t total_blocks, unsigned nlanes, bool all_used,
		 struct alloc **out);
void alloc_destroy(struct alloc *a);

/* Blocks kept for ALLOC_F_RESERVE callers. */
void alloc_set_reserve(struct alloc *a, uint64_t blocks);

/*
 * Allocate a contiguous run of 1..want blocks, preferring lane `lane`.
 * Returns 0 with *start, *got set, or -ENOSPC.
 */
int alloc_blocks(struct alloc *a, unsigned lane, uint64_t want,
		 unsigned flags, uint64_t *start, uint64_t *got);
/* Allocate exactly one block. */
int alloc_block(struct alloc *a, unsigned lane, unsigned flags,
		uint64_t *blk);
/* Allocate exactly n contiguous blocks (inode-table chunks), across lane
 * boundaries when no lane has them. */
int alloc_contig(struct alloc *a, unsigned lane, uint64_t n, unsigned flags,
		 uint64_t *start);
/* Free [blk, blk+n); -EINVAL (nothing changed) if any is free or bad. */
int alloc_free(struct alloc *a, uint64_t blk, uint64_t n);
/* Rebuild: mark [blk, blk+n) used; -ERANGE outside the data area,
 * -EEXIST if some block is already used (nothing changed then). */
int alloc_mark_used(struct alloc *a, uint64_t blk, uint64_t n);
bool alloc_is_free(struct alloc *a, uint64_t blk);
bool alloc_is_bad(struct alloc *a, uint64_t blk);

unsigned alloc_nlanes(const struct alloc *a);
/* Where lane `lane` looks for its next free block (*hint; it moves as
 * blocks are taken and freed, read without the lane's mutex) and the end
 * of its range (*end): what it will hand out next lies from *hint on. */
void alloc_lane_hint(struct alloc *a, unsigned lane, uint64_t *hint,
		     uint64_t *end);
uint64_t alloc_free_blocks(struct alloc *a);
uint64_t alloc_total_blocks(struct alloc *a); /* data area, less bad */
uint64_t alloc_refused_frees(struct alloc *a);
uint64_t alloc_bad_blocks(struct alloc *a); /* inside the data area */

/*
 * Saved state.  alloc_load frees the extents listed by the chain at block
 * head (every block checked first with fmt_allocsave_check, as
 * alloc_saved_chain_blocks does; -EUCLEAN on any error), then frees
 * the chain's own blocks.  alloc_save allocates a chain, fills it with the
 * free extents (the chain's own blocks are not listed) and flushes it (no
 * drain); *head receives its first block.
 */
int alloc_load(struct alloc *a, const void *base, uint64_t head);
int alloc_save(struct alloc *a, struct pmio *p, void *base, uint64_t *head);
/*
 * Give back the blocks of the chain at head that alloc_save took, once the
 * chain is no longer the saved state (the filesystem is written again
 * after a remount read-only saved it): its listed extents are untouched.
 * 0 or -EUCLEAN (a chain that does not check, as alloc_load).
 */
int alloc_drop_saved(struct alloc *a, const void *base, uint64_t head);
/* Blocks alloc_save would take for its chain now (0 on ENOMEM). */
uint64_t alloc_save_size(struct alloc *a);
/*
 * Read-only (fsck): *nblocks = the blocks of the saved chain at block head
 * (its own pages; 0 for head 0), every block checked with
 * fmt_allocsave_check and inside [data_start, total_blocks), no more pages
 * than alloc_load accepts; -EUCLEAN if it is corrupt.
 */
int alloc_saved_chain_blocks(const void *base, uint64_t data_start,
			     uint64_t total_blocks, uint64_t head,
			     uint64_t *nblocks);

/* ---- inode numbers ---------------------------------------------------- */

/* A new inode-table chunk (index c) exists: its numbers become free
 * (except 0 and those below first_ino in chunk 0). */
int alloc_ino_add_chunk(struct alloc *a, uint64_t c);
/* Rebuild/load: ino is in use. */
int alloc_ino_mark_used(struct alloc *a, uint64_t ino);
/* Take the lowest free inode number; -ENOSPC when every chunk is full
 * (the caller adds a chunk and retries). */
int alloc_ino_get(struct alloc *a, uint64_t *ino);
/* Return an inode number taken by alloc_ino_get or marked used. */
void alloc_ino_put(struct alloc *a, uint64_t ino);
uint64_t alloc_ino_used(struct alloc *a);

#endif /* PMFS_ALLOC_H */
