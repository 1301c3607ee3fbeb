/*
 * pass4.c - pass 4: block ownership and free space.
 *
 * Every block of the namespace gets at most one owner: the fixed area
 * (superblocks, bad-block table, journals, inode-table directory), an
 * inode-table chunk, one inode's log page, one inode's data or symlink
 * block.  Bad blocks (the table in block 2 and the device's list) must
 * hold nothing.  A data block claimed a second time is copied for the
 * later claimant (its file keeps its data, the first owner keeps the
 * block), and so is a large xattr value (all its blocks, to fresh
 * consecutive ones); a data block on a bad block is punched out of its
 * file, an xattr value on one is removed.  A log
 * page owned twice or on a bad block cuts its log before it.  A symlink
 * whose target block is bad loses the target: the inode is cleared and
 * pass 5 removes the name.  The
 * free space is then what no one owns; when the filesystem is clean its
 * saved allocator state must agree with it, and the figures in sb_state
 * too.  The allocator built here (alloc.h) serves every later repair and
 * is what fsck stores when it marks the filesystem clean.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc/alloc.h"
#include "format/fmt.h"
#include "fsck.h"
#include "util/util.h"
#include "pmemio/pmemio.h"

/* owner[] values besides inode numbers */
#define OWN_FIXED UINT64_MAX
#define OWN_ITABLE (UINT64_MAX - 1)
#define OWN_BAD (UINT64_MAX - 2)

/* what a block holds for its claimant */
enum claim_kind { CL_DATA, CL_SYMLINK, CL_XATTR };

struct claim {
	uint64_t ino, pgoff, blk, other; /* CL_XATTR: pgoff = value's first
					  * block, naming the xattr */
	uint32_t flags; /* extent flags */
	enum claim_kind kind;
};

struct claims {
	struct claim *c;
	size_t n, cap;
};

/* Note a conflicting claim, resolved after every block has an owner. */
static int claim_add(struct claims *cl, const struct claim *c)
{
	if (util_grow(&cl->c, &cl->cap, cl->n, sizeof(*cl->c), 16))
		return -ENOMEM;
	cl->c[cl->n++] = *c;
	return 0;
}

/* Who owns a block, in words. */
static void owner_name(uint64_t o, char *buf, size_t len)
{
	if (o == OWN_FIXED)
		snprintf(buf, len, "the fixed area");
	else if (o == OWN_ITABLE)
		snprintf(buf, len, "the inode table");
	else
		snprintf(buf, len, "inode %" PRIu64, o);
}

/* Claim one data, symlink or xattr block for ip; conflicts and bad blocks
 * go to cl. */
static int claim(struct fsck *f, struct claims *cl, struct fino *ip,
		 uint64_t blk, uint64_t pgoff, uint32_t flags,
		 enum claim_kind kind)
{
	struct claim c = { ip->ino, pgoff, blk, 0, flags, kind };

	if (f->owner[blk] == 0) {
		f->owner[blk] = ip->ino;
		f->data_blocks++;
		return 0;
	}
	c.other = f->owner[blk];
	return claim_add(cl, &c);
}

/*
 * Claim ip's log pages.  A page already owned (by the fixed area, the
 * inode table or another log) or on a bad block cannot be copied the way
 * a data block can: ip's log is cut before it, the single-inode commit
 * of LOG(4) moving the tail back, and what the lost entries named is
 * found again by pass 5.  Returns 0 or -ENOMEM.
 */
static int claim_pages(struct fsck *f, struct fino *ip)
{
	char who[48];

	for (size_t i = 0; i < ip->npages; i++) {
		uint64_t b = fmt_off_blk(ip->pages[i]);
		uint64_t o = f->owner[b];
		bool fix;
		int r;

		if (o == 0) {
			f->owner[b] = ip->ino;
			continue;
		}
		if (o == OWN_BAD) {
			fix = fsck_problem(f, 0, "log-badblock", ip->ino,
					   "Cut the log before that page",
					   "Inode %" PRIu64
					   ": log page at block %" PRIu64
					   " is on a bad block",
					   ip->ino, b);
		} else {
			owner_name(o, who, sizeof(who));
			fix = fsck_problem(f, 0, "log-shared", ip->ino,
					   "Cut the log before that page",
					   "Inode %" PRIu64
					   ": log page at block %" PRIu64
					   " is also used by %s",
					   ip->ino, b, who);
		}
		/* pages [0, i) were claimed: the cut keeps a prefix */
		for (size_t k = 0; k < i; k++)
			f->owner[fmt_off_blk(ip->pages[k])] = 0;
		r = fsck_cut_before_page(f, ip, i, fix);
		if (r < 0)
			return r;
		for (size_t k = 0; !r && k < ip->npages; k++)
			f->owner[fmt_off_blk(ip->pages[k])] = ip->ino;
		if (r) { /* no entry before that page */
			if (fix)
				fsck_clear_inode(f, ip);
			else if (f->ninodes)
				f->ninodes--;
			ip->cleared = true;
			f->inodes_cleared++;
		}
		return 0;
	}
	return 0;
}

/* Give ip its own copy of the block in claim c; 0 or -errno. */
static int copy_block(struct fsck *f, struct fino *ip, const struct claim *c)
{
	struct timespec ts;
	union lent_buf b;
	uint64_t nb;
	int err;

	err = alloc_block(f->a, 0, ALLOC_F_RESERVE, &nb);
	if (err) {
		fsck_operr(f, "no free block to copy block %" PRIu64 " into",
			   c->blk);
		return err;
	}
	f->owner[nb] = ip->ino;
	fsck_copy_block(f, c->blk, nb); /* drained by the entry's commit */
	clock_gettime(CLOCK_REALTIME, &ts);
	if (c->kind == CL_SYMLINK)
		return fsck_append(f, ip, lent_symlink(&b, NULL, ip->sllen, nb));
	return fsck_append(f, ip,
			   lent_write(&b, c->pgoff, 1, c->flags, nb, ip->size,
				      &ip->st.mtime, &ts));
}

/* Punch the block of claim c out of ip's file (a hole, same size). */
static int punch(struct fsck *f, struct fino *ip, const struct claim *c)
{
	union lent_buf b;

	return fsck_append(f, ip,
			   lent_write(&b, c->pgoff, 1, PMFS_WR_HOLE, 0, ip->size,
				      &ip->st.mtime, &ip->st.mtime));
}

/*
 * A conflicting claim on a block of a large xattr value: on a bad block
 * the value is lost (the xattr removed), shared it is copied whole to
 * fresh blocks.  The first claim of a value settles it; later ones find
 * no xattr with those blocks any more.  The blocks of the value that had
 * a conflict (all of cl's claims for it) are not the value's to free: the
 * other owner may even be ip itself (a data block, another xattr).
 */
static void resolve_xattr(struct fsck *f, struct fino *ip,
			  const struct claims *cl, const struct claim *c)
{
	uint32_t shared = 0;
	char who[48];
	size_t i;
	uint64_t nb;

	for (i = 0; i < ip->nxa && ip->xa[i].blk != c->pgoff; i++)
		;
	if (i == ip->nxa || ip->cleared)
		return;
	for (size_t j = 0; j < cl->n; j++)
		if (cl->c[j].kind == CL_XATTR && cl->c[j].ino == c->ino &&
		    cl->c[j].pgoff == c->pgoff)
			shared |= 1u << (cl->c[j].blk - c->pgoff);
	if (c->other == OWN_BAD) {
		if (fsck_problem(f, 0, "xattr-badblock", c->ino,
				 "Remove the xattr",
				 "Inode %" PRIu64 ": the value of xattr %s is "
				 "on bad block %" PRIu64,
				 c->ino, ip->xa[i].name, c->blk))
			fsck_xattr_del(f, ip, i, shared);
		return;
	}
	owner_name(c->other, who, sizeof(who));
	if (!fsck_problem(f, 0, "block-shared", c->ino,
			  "Give the inode its own copy",
			  "Inode %" PRIu64 ": block %" PRIu64 " of xattr %s "
			  "is also used by %s",
			  c->ino, c->blk, ip->xa[i].name, who))
		return;
	if (alloc_contig(f->a, 0, fmt_xattr_blocks(ip->xa[i].vlen),
			 ALLOC_F_RESERVE, &nb)) {
		fsck_operr(f, "no %u free contiguous blocks to copy the value "
			      "of xattr %s of inode %" PRIu64 " into",
			   fmt_xattr_blocks(ip->xa[i].vlen), ip->xa[i].name,
			   c->ino);
		return;
	}
	fsck_xattr_move(f, ip, i, nb, shared);
}

/* Resolve the conflicting claims: copy shared blocks, punch bad ones. */
static void resolve(struct fsck *f, struct claims *cl)
{
	char who[48];

	for (size_t i = 0; i < cl->n && !f->operr; i++) {
		const struct claim *c = &cl->c[i];
		struct fino *ip = fsck_ino(f, c->ino);

		if (!ip)
			continue;
		if (c->kind == CL_XATTR) {
			resolve_xattr(f, ip, cl, c);
			continue;
		}
		if (c->other == OWN_BAD) {
			if (c->kind == CL_SYMLINK) { /* the target is lost */
				if (fsck_problem(f, 0, "symlink-badblock",
						 c->ino, "Clear the inode",
						 "Inode %" PRIu64
						 ": symlink target on bad "
						 "block %" PRIu64,
						 c->ino, c->blk))
					fsck_clear_inode(f, ip);
				else if (f->ninodes)
					f->ninodes--;
				ip->cleared = true; /* pass 5: its names go */
				f->inodes_cleared++;
				continue;
			}
			if (fsck_problem(f, 0, "data-badblock", c->ino,
					 "Punch it out of the file",
					 "Inode %" PRIu64 ": file block %" PRIu64
					 " is on bad block %" PRIu64,
					 c->ino, c->pgoff, c->blk))
				punch(f, ip, c);
			continue;
		}
		owner_name(c->other, who, sizeof(who));
		if (fsck_problem(f, 0, "block-shared", c->ino,
				 "Give the inode its own copy",
				 "Inode %" PRIu64 ": %s block %" PRIu64
				 " is also used by %s",
				 c->ino,
				 c->kind == CL_SYMLINK ? "symlink" : "data",
				 c->blk, who))
			copy_block(f, ip, c);
	}
}

/*
 * Inode-table chunk c holds bad blocks (pass 3 did not read the slots in
 * them: those inodes are gone, and pass 5 removes their names).  The
 * chunk moves to 64 good free blocks: the slots of its good blocks are
 * copied, those of its bad blocks zeroed, then its directory word is
 * stored (fsck_move_chunk); its old good blocks become free.
 */
static void move_chunk(struct fsck *f, uint64_t c)
{
	uint64_t old = f->d.itdir[c], nb;

	if (!fsck_problem(f, 0, "itable-badblock", 0,
			  "Move the chunk to good blocks",
			  "Inode-table chunk %" PRIu64 " at block %" PRIu64
			  " holds bad blocks (mask %#" PRIx64
			  "); the inodes in them are lost",
			  c, old, f->chunk_bad[c]))
		return;
	if (alloc_contig(f->a, 0, PMFS_CHUNK_BLOCKS, ALLOC_F_RESERVE, &nb)) {
		fsck_operr(f, "no %u free contiguous blocks to move "
			      "inode-table chunk %" PRIu64 " into",
			   PMFS_CHUNK_BLOCKS, c);
		return;
	}
	fsck_move_chunk(f, c, nb, f->chunk_bad[c]);
	for (uint64_t k = 0; k < PMFS_CHUNK_BLOCKS; k++) {
		f->owner[nb + k] = OWN_ITABLE;
		if (f->chunk_bad[c] & (1ull << k))
			continue;
		f->owner[old + k] = 0;
		alloc_free(f->a, old + k, 1);
	}
	f->chunk_bad[c] = 0;
}

/* Blocks in the saved allocator chain (alloc_load accepted it): they
 * count as used in sb_state.free_blocks. */
static uint64_t chain_len(const struct fsck *f)
{
	uint64_t n = 0;

	if (alloc_saved_chain_blocks(f->base, f->d.data_start,
				     f->d.total_blocks, f->d.state->alloc_head,
				     &n))
		return 0;
	return n;
}

/* Clean filesystem: does the saved allocator state match? */
static void check_saved(struct fsck *f)
{
	struct pmfs_sb_state *st = f->d.state;
	struct alloc *saved;
	uint64_t diff = 0, first = 0;
	int err;

	if (!f->was_clean || f->unclean_marked)
		return;
	err = alloc_create(NULL, NULL, f->d.data_start, f->d.total_blocks,
			   f->d.nlanes, true, &saved);
	if (err) {
		fsck_operr(f, "out of memory");
		return;
	}
	err = alloc_load(saved, f->base, st->alloc_head);
	if (err == 0) {
		for (uint64_t b = f->d.data_start; b < f->d.total_blocks; b++) {
			bool want = f->owner[b] == 0;

			if (alloc_is_free(saved, b) != want && !alloc_is_bad(f->a, b)) {
				if (!diff++)
					first = b;
			}
		}
	}
	alloc_destroy(saved);
	if (err) {
		if (fsck_problem(f, PR_PREEN_OK, "saved-free-space", 0,
				 "Store the computed free space",
				 "Saved free-space map is damaged"))
			fsck_begin_change(f);
	} else if (diff) {
		if (fsck_problem(f, PR_PREEN_OK, "saved-free-space", 0,
				 "Store the computed free space",
				 "Saved free-space map differs from the "
				 "computed one in %" PRIu64
				 " blocks (first %" PRIu64 ")",
				 diff, first))
			fsck_begin_change(f);
	} else if (st->free_blocks + chain_len(f) != alloc_free_blocks(f->a) ||
		   st->used_inodes != f->ninodes) {
		if (fsck_problem(f, PR_PREEN_OK, "saved-counts", 0,
				 "Store the computed counts",
				 "Saved counts (%" PRIu64 " free blocks, %" PRIu64
				 " inodes) differ from the computed ones (%" PRIu64
				 ", %" PRIu64 ")",
				 (uint64_t)st->free_blocks,
				 (uint64_t)st->used_inodes,
				 alloc_free_blocks(f->a), f->ninodes))
			fsck_begin_change(f);
	}
}

int fsck_pass4(struct fsck *f)
{
	uint64_t total = f->d.total_blocks;
	struct claims cl = { NULL, 0, 0 };
	uint64_t done = 0;
	int err = 0;

	fsck_pass(f, 4, "Checking block ownership and free space");
	for (uint64_t b = 0; b < f->d.data_start; b++)
		f->owner[b] = OWN_FIXED;
	for (uint64_t b = f->d.data_start; b < total; b++)
		if (alloc_is_bad(f->a, b))
			f->owner[b] = OWN_BAD;
	for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES; c++) {
		if (!f->chunk[c])
			continue;
		for (uint64_t b = f->d.itdir[c]; b < f->d.itdir[c] + PMFS_CHUNK_BLOCKS;
		     b++)
			if (f->owner[b] != OWN_BAD)
				f->owner[b] = OWN_ITABLE;
	}
	/* log pages first: a page is never copied, a data block may be */
	for (uint64_t ino = 1; ino < PMFS_MAX_INODES; ino++) {
		struct fino *ip;

		if (!f->chunk[fmt_ino_chunk(ino)]) {
			ino += PMFS_INODES_PER_CHUNK - 1 - ino % PMFS_INODES_PER_CHUNK;
			continue;
		}
		if ((ip = fsck_ino(f, ino)) && claim_pages(f, ip)) {
			fsck_operr(f, "out of memory");
			return -1;
		}
	}
	for (uint64_t ino = 1; ino < PMFS_MAX_INODES && !err; ino++) {
		struct fino *ip;

		if (!f->chunk[fmt_ino_chunk(ino)]) {
			ino += PMFS_INODES_PER_CHUNK - 1 - ino % PMFS_INODES_PER_CHUNK;
			continue;
		}
		if (!(ip = fsck_ino(f, ino)))
			continue;
		fsck_progress(f, done++, f->ninodes);
		for (size_t i = 0; i < ip->next && !err; i++)
			for (uint64_t k = 0; k < ip->ext[i].n && !err; k++)
				err = claim(f, &cl, ip, ip->ext[i].blk + k,
					    ip->ext[i].pgoff + k,
					    ip->ext[i].flags, CL_DATA);
		if (ip->slblk && !err)
			err = claim(f, &cl, ip, ip->slblk, 0, 0, CL_SYMLINK);
		for (size_t i = 0; i < ip->nxa && !err; i++)
			for (uint32_t k = 0; ip->xa[i].blk && !err &&
					     k < fmt_xattr_blocks(ip->xa[i].vlen);
			     k++)
				err = claim(f, &cl, ip, ip->xa[i].blk + k,
					    ip->xa[i].blk, 0, CL_XATTR);
	}
	fsck_progress(f, 1, 1);
	if (err) {
		free(cl.c);
		fsck_operr(f, "out of memory");
		return -1;
	}
	/* the allocator: every owned block is used */
	for (uint64_t b = f->d.data_start; b < total; b++) {
		uint64_t o = f->owner[b], n = 1;

		if (o == 0 || o == OWN_BAD)
			continue;
		while (b + n < total && f->owner[b + n] != 0 &&
		       f->owner[b + n] != OWN_BAD)
			n++;
		alloc_mark_used(f->a, b, n);
		b += n - 1;
	}
	check_saved(f);
	for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES && !f->operr; c++)
		if (f->chunk[c] && f->chunk_bad[c])
			move_chunk(f, c);
	resolve(f, &cl);
	free(cl.c);
	f->free_blocks = alloc_free_blocks(f->a);
	f->used_blocks = alloc_total_blocks(f->a) - f->free_blocks;
	fsck_info(f, "  %" PRIu64 " data blocks, %" PRIu64 " log pages, %" PRIu64
		     " used, %" PRIu64 " free",
		  f->data_blocks, f->log_pages, f->used_blocks, f->free_blocks);
	return f->operr ? -1 : 0;
}
