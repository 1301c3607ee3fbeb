/*
 * test_emap.c - the file offset -> block map of src/fs/fs_emap.c (the radix
 * tree behind fs_emap_*), driven directly against a flat reference array:
 * random data, unwritten and hole sets and truncates; every page's
 * mapping, the block and extent counts, and the extent iteration must
 * match the reference after every step.  Also huge sparse offsets.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs_int.h"

#define NPG 5000u
#define UNW (1ull << 63)

/* reference: 0 hole, else blk | UNW for unwritten */
static uint64_t ref[NPG + 1];

static void ref_set(uint64_t pg, uint64_t n, uint64_t blk, uint32_t flags)
{
	for (uint64_t i = 0; i < n; i++)
		ref[pg + i] = (flags & PMFS_WR_HOLE)
				      ? 0
				      : (blk + i) | ((flags & PMFS_WR_UNWRITTEN)
							     ? UNW
							     : 0);
}

static bool cont(uint64_t a, uint64_t b)
{
	return a && b && ((a ^ b) & UNW) == 0 && (b & ~UNW) == (a & ~UNW) + 1;
}

static void check(const struct fs_fmap *m, int step)
{
	uint64_t nb = 0, runs = 0, pg = 0;
	struct fs_ext e;

	for (uint64_t i = 0; i < NPG; i++) {
		bool got = fs_emap_find(m, i, &e);

		cr_assert_eq(got, ref[i] != 0, "step %d page %lu", step,
			     (unsigned long)i);
		if (!got)
			continue;
		cr_assert_eq(e.blk, ref[i] & ~UNW, "step %d page %lu", step,
			     (unsigned long)i);
		cr_assert_eq(e.flags,
			     (ref[i] & UNW) ? PMFS_WR_UNWRITTEN : 0u);
		nb++;
		if (!(i > 0 && cont(ref[i - 1], ref[i])))
			runs++;
	}
	cr_assert_eq(m->nblocks, nb, "step %d", step);
	cr_assert_eq(m->next, runs, "step %d", step);
	/* iteration yields exactly the maximal runs */
	while (fs_emap_next(m, pg, &e)) {
		cr_assert_eq(ref[e.pgoff] & ~UNW, e.blk, "step %d", step);
		cr_assert(e.pgoff == 0 || !cont(ref[e.pgoff - 1], ref[e.pgoff]),
			  "step %d: run at %lu not maximal", step,
			  (unsigned long)e.pgoff);
		for (uint64_t i = pg; i < e.pgoff; i++)
			cr_assert_eq(ref[i], 0, "step %d", step);
		for (uint64_t i = 1; i < e.n; i++)
			cr_assert(cont(ref[e.pgoff + i - 1], ref[e.pgoff + i]));
		cr_assert(!cont(ref[e.pgoff + e.n - 1], ref[e.pgoff + e.n]));
		runs--;
		pg = e.pgoff + e.n;
	}
	cr_assert_eq(runs, 0, "step %d: iteration missed runs", step);
}

Test(emap, random_against_reference)
{
	struct fs_fmap m;
	unsigned seed = 12345;

	memset(&m, 0, sizeof(m));
	memset(ref, 0, sizeof(ref));
	for (int step = 0; step < 3000; step++) {
		uint64_t pg = (uint64_t)rand_r(&seed) % NPG;
		uint64_t n = 1 + (uint64_t)rand_r(&seed) % (step & 1 ? 6 : 200);
		unsigned k = (unsigned)rand_r(&seed) % 20;
		uint64_t blk = 1000 + (uint64_t)rand_r(&seed) % 100000;
		uint32_t flags = 0;

		if (pg + n > NPG)
			n = NPG - pg;
		if (k == 0) {
			fs_emap_truncate(NULL, &m, pg, false);
			for (uint64_t i = pg; i < NPG; i++)
				ref[i] = 0;
			check(&m, step);
			continue;
		}
		if (k < 4)
			flags = PMFS_WR_HOLE;
		else if (k < 7)
			flags = PMFS_WR_UNWRITTEN;
		else if (k < 12 && pg > 0 && ref[pg - 1] &&
			 !(ref[pg - 1] & UNW))
			blk = (ref[pg - 1] & ~UNW) + 1; /* continues a run */
		else if (k < 14 && ref[pg])
			blk = ref[pg] & ~UNW; /* same blocks again (replay) */
		cr_assert_eq(fs_emap_set(NULL, &m, pg, n,
					 flags & PMFS_WR_HOLE ? 0 : blk, flags,
					 false),
			     0);
		ref_set(pg, n, blk, flags);
		if (step % 7 == 0 || step > 2900)
			check(&m, step);
	}
	fs_emap_truncate(NULL, &m, 0, false);
	memset(ref, 0, sizeof(ref));
	check(&m, -1);
	cr_assert_null(m.root, "an empty map frees its nodes");
	fs_emap_free(&m);
}

Test(emap, huge_sparse_offsets)
{
	const uint64_t far = 1ull << 40, farther = (1ull << 50) + 5;
	struct fs_fmap m;
	struct fs_ext e;

	memset(&m, 0, sizeof(m));
	cr_assert_eq(fs_emap_set(NULL, &m, 0, 1, 500, 0, false), 0);
	cr_assert_eq(fs_emap_set(NULL, &m, far, 3, 600, 0, false), 0);
	cr_assert_eq(fs_emap_set(NULL, &m, farther, 1, 700,
				 PMFS_WR_UNWRITTEN, false),
		     0);
	cr_assert_eq(m.nblocks, 5);
	cr_assert_eq(m.next, 3);
	cr_assert(fs_emap_next(&m, 1, &e));
	cr_assert_eq(e.pgoff, far);
	cr_assert_eq(e.n, 3);
	cr_assert_eq(e.blk, 600);
	cr_assert(fs_emap_next(&m, far + 1, &e));
	cr_assert_eq(e.pgoff, far + 1, "a run seen from its middle");
	cr_assert_eq(e.n, 2);
	cr_assert(fs_emap_next(&m, far + 3, &e));
	cr_assert_eq(e.pgoff, farther);
	cr_assert_eq(e.flags, PMFS_WR_UNWRITTEN);
	cr_assert(!fs_emap_next(&m, farther + 1, &e));
	cr_assert(!fs_emap_find(&m, far - 1, &e));
	/* punch the middle of the far run: two runs */
	cr_assert_eq(fs_emap_set(NULL, &m, far + 1, 1, 0, PMFS_WR_HOLE,
				 false),
		     0);
	cr_assert_eq(m.next, 4);
	cr_assert_eq(m.nblocks, 4);
	/* a huge hole set costs what is mapped, not its length */
	cr_assert_eq(fs_emap_set(NULL, &m, 1, farther - 1, 0, PMFS_WR_HOLE,
				 false),
		     0);
	cr_assert_eq(m.nblocks, 2);
	cr_assert_eq(m.next, 2);
	cr_assert(fs_emap_find(&m, farther, &e));
	fs_emap_truncate(NULL, &m, 1, false);
	cr_assert(!fs_emap_find(&m, farther, &e));
	cr_assert_eq(m.nblocks, 1);
	cr_assert(fs_emap_find(&m, 0, &e));
	cr_assert_eq(e.blk, 500);
	cr_assert_eq(fs_emap_set(NULL, &m, 1ull << 61, 1, 9, 0, false),
		     -EFBIG);
	cr_assert_eq(fs_emap_set(NULL, &m, 3, 1, 0, 0, false), -EIO,
		     "block 0 is never data");
	fs_emap_free(&m);
	cr_assert_null(m.root);
}
