/*
 * pass1.c - pass 1: the superblock and its copy.
 *
 * Checks the superblock in block 0 and its copy in block 1 with
 * fmt_super_check (magic, version, features, checksum, geometry against
 * the size of the namespace); repairs a damaged primary from a good copy
 * and a damaged or stale copy from a good primary.  Then the mutable
 * sb_state (the clean word must be 0 or PMFS_STATE_CLEAN) and the
 * bad-block table in block 2 (magic, count, checksum, entries sorted and
 * inside the namespace).  Without one good superblock nothing else can be
 * checked: the run stops with the errors left uncorrected.
 */
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "format/fmt.h"
#include "fsck.h"
#include "pmemio/pmemio.h"

/* The device view from superblock sb (valid): block 0's, or the copy's
 * when only the copy is good and -n keeps block 0. */
static void dev_from(struct fsck *f, const struct pmfs_super *sb)
{
	struct fmt_geometry g;

	fmt_super_geometry(sb, &g);
	ilog_dev_view(&f->d, f->p, &g);
	f->d.incompat = sb->feature_incompat; /* as ilog_dev_init */
	f->itdir_media = f->d.itdir;
}

/* -v: the blocks the table keeps out of use, and how many blocks the
 * namespace itself reports bad now. */
static void report_badblocks(struct fsck *f, const struct pmfs_badblocks *bb)
{
	const struct pmio_badblock *dev;
	size_t n = pmio_badblocks(f->p, &dev);
	uint64_t now = 0;

	for (size_t i = 0; i < n; i++)
		if (dev[i].len)
			now += fmt_off_blk(dev[i].off + dev[i].len - 1) -
			       fmt_off_blk(dev[i].off) + 1;
	if (bb->count)
		fsck_info(f, "  %u bad blocks kept out of use, the first is "
			  "block %" PRIu64 "; %" PRIu64 " reported by the "
			  "namespace now",
			  bb->count, bb->blk[0], now);
	else
		fsck_info(f, "  0 bad blocks kept out of use; %" PRIu64
			  " reported by the namespace now",
			  now);
}

/* The bad-block table by fmt_badblocks_check; rewritten with its valid
 * entries when damaged. */
static void check_badblocks(struct fsck *f)
{
	struct pmfs_badblocks *bb = (void *)(f->base +
					      fmt_blk_off(PMFS_BADBLK_BLOCK));
	struct fmt_geometry g;
	uint64_t keep[PMFS_BADBLK_MAX];
	char why[128];
	uint32_t n = 0;

	ilog_geometry(&f->d, &g);
	if (fmt_badblocks_check(bb, &g, why, sizeof(why)) == 0) {
		report_badblocks(f, bb);
		return;
	}
	if (!fsck_problem(f, 0, "badblocks-table", 0,
			  "Rewrite it with the valid entries",
			  "Bad-block table (block %u): %s", PMFS_BADBLK_BLOCK,
			  why))
		return;
	fsck_begin_change(f);
	/* keep entries that are usable when the magic and count are */
	if (bb->magic == PMFS_BADBLK_MAGIC && bb->count <= PMFS_BADBLK_MAX) {
		for (uint32_t i = 0; i < bb->count; i++) {
			uint64_t b = bb->blk[i];

			if (b < g.data_start || b >= g.total_blocks ||
			    (n && b <= keep[n - 1]))
				continue;
			keep[n++] = b;
		}
	}
	fsck_write_badblocks(f, keep, n);
}

int fsck_pass1(struct fsck *f)
{
	const struct pmfs_super *sb0 = (const void *)f->base;
	const struct pmfs_super *sb1 =
		(const void *)(f->base + fmt_blk_off(PMFS_SB_COPY_BLOCK));
	char why0[160] = "", why1[160] = "";
	int r0, r1;
	uint64_t clean;

	fsck_pass(f, 1, "Checking the superblock and its copy");
	if (f->size < 3 * (uint64_t)PMFS_BLOCK_SIZE) {
		fsck_problem(f, PR_NOFIX, "too-small", 0, "",
			     "%" PRIu64 " bytes is too small to hold a pmfs "
			     "superblock",
			     f->size);
		return -1;
	}
	r0 = fmt_super_check(sb0, f->size, why0, sizeof(why0));
	r1 = fmt_super_check(sb1, f->size, why1, sizeof(why1));
	if (r0 && r1) {
		if (r0 == -EINVAL && r1 == -EINVAL) {
			fsck_problem(f, PR_NOFIX, "no-superblock", 0, "",
				     "No pmfs superblock in block 0 or 1 "
				     "(not a pmfs filesystem?)");
			f->operr = true; /* nothing to check: exit 8 */
		} else
			fsck_problem(f, PR_NOFIX, "superblocks-bad", 0, "",
				     "Superblock: %s; its copy: %s", why0,
				     why1);
		return -1;
	}
	if (r0) {
		if (fsck_problem(f, PR_PREEN_OK, "superblock", 0,
				 "Restore it from the copy",
				 "Superblock (block 0) is damaged: %s", why0))
			fsck_copy_super(f, PMFS_SB_COPY_BLOCK, PMFS_SB_BLOCK);
	} else if (r1) {
		if (fsck_problem(f, PR_PREEN_OK, "superblock-copy", 0,
				 "Rewrite the copy",
				 "Superblock copy (block 1) is damaged: %s",
				 why1))
			fsck_copy_super(f, PMFS_SB_BLOCK, PMFS_SB_COPY_BLOCK);
	} else if (memcmp(sb0, sb1, sizeof(*sb0)) != 0) {
		if (fsck_problem(f, PR_PREEN_OK, "superblock-copy", 0,
				 "Rewrite the copy",
				 "Superblock copy (block 1) differs from the "
				 "superblock"))
			fsck_copy_super(f, PMFS_SB_BLOCK, PMFS_SB_COPY_BLOCK);
	}
	dev_from(f, fmt_super_check(sb0, f->size, NULL, 0) == 0 ? sb0 : sb1);
	f->dev_ok = true;
	fsck_info(f, "  %" PRIu64 " blocks, %u lanes, data from block %" PRIu64,
		  f->d.total_blocks, f->d.nlanes, f->d.data_start);

	clean = f->d.state->clean;
	if (clean != 0 && clean != PMFS_STATE_CLEAN) {
		if (fsck_problem(f, PR_PREEN_OK, "clean-word", 0, "Clear it",
				 "Clean flag holds %#" PRIx64
				 ", neither clean nor 0",
				 clean))
			fsck_begin_change(f); /* clears it */
	}
	f->was_clean = f->d.state->clean == PMFS_STATE_CLEAN &&
		       f->d.state->alloc_head != 0;
	check_badblocks(f);
	return 0;
}
