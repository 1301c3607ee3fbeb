/*
 * test_alloc.c - the block and inode-number allocator: allocation, free,
 * reserve, ENOSPC, bad blocks, save and load.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "format/fmt.h"
#include "pmemio/pmemio.h"
#include "testutil.h"

#define DS 100u
#define TOT 1100u

Test(alloc, all_free_then_exhaust)
{
	struct alloc *a;
	uint64_t s, got, total = 0;

	cr_assert_eq(alloc_create(NULL, NULL, DS, TOT, 4, false, &a), 0);
	cr_assert_eq(alloc_free_blocks(a), TOT - DS);
	while (alloc_blocks(a, 1, 7, 0, &s, &got) == 0) {
		cr_assert(s >= DS && s + got <= TOT);
		for (uint64_t b = s; b < s + got; b++)
			cr_assert(!alloc_is_free(a, b));
		total += got;
	}
	cr_assert_eq(total, TOT - DS);
	cr_assert_eq(alloc_free_blocks(a), 0);
	cr_assert_eq(alloc_block(a, 0, 0, &s), -ENOSPC);
	cr_assert_eq(alloc_free(a, DS + 5, 3), 0);
	cr_assert_eq(alloc_free_blocks(a), 3);
	cr_assert_eq(alloc_blocks(a, 3, 10, 0, &s, &got), 0);
	cr_assert_eq(s, DS + 5);
	cr_assert_eq(got, 3);
	alloc_destroy(a);
}

Test(alloc, double_free_and_range_refused)
{
	struct alloc *a;
	uint64_t b;

	cr_assert_eq(alloc_create(NULL, NULL, DS, TOT, 2, false, &a), 0);
	cr_assert_eq(alloc_block(a, 0, 0, &b), 0);
	cr_assert_eq(alloc_free(a, b, 1), 0);
	cr_assert_eq(alloc_free(a, b, 1), -EINVAL);
	cr_assert_eq(alloc_free(a, 1, 1), -EINVAL);
	cr_assert_eq(alloc_refused_frees(a), 2);
	cr_assert_eq(alloc_mark_used(a, DS, 10), 0);
	cr_assert_eq(alloc_mark_used(a, DS + 5, 10), -EEXIST);
	cr_assert_eq(alloc_mark_used(a, TOT - 1, 2), -ERANGE);
	cr_assert_eq(alloc_free_blocks(a), TOT - DS - 10);
	alloc_destroy(a);
}

Test(alloc, reserve)
{
	struct alloc *a;
	uint64_t b, n = 0;

	cr_assert_eq(alloc_create(NULL, NULL, DS, TOT, 1, false, &a), 0);
	alloc_set_reserve(a, 10);
	while (alloc_block(a, 0, 0, &b) == 0)
		n++;
	cr_assert_eq(n, TOT - DS - 10);
	cr_assert_eq(alloc_free_blocks(a), 10);
	cr_assert_eq(alloc_block(a, 0, ALLOC_F_RESERVE, &b), 0);
	cr_assert_eq(alloc_free_blocks(a), 9);
	alloc_destroy(a);
}

Test(alloc, contig_and_lanes)
{
	struct alloc *a;
	uint64_t s;

	cr_assert_eq(alloc_create(NULL, NULL, DS, TOT, 4, false, &a), 0);
	cr_assert_eq(alloc_contig(a, 2, 64, 0, &s), 0);
	for (uint64_t b = s; b < s + 64; b++)
		cr_assert(!alloc_is_free(a, b));
	cr_assert_eq(alloc_contig(a, 2, 2000, 0, &s), -ENOSPC);
	alloc_destroy(a);
}

Test(alloc, bad_blocks_never_handed_out)
{
	struct pmfs_badblocks *bt = calloc(1, sizeof(*bt));
	struct alloc *a;
	uint64_t s, got;

	bt->magic = PMFS_BADBLK_MAGIC;
	bt->count = 3;
	bt->blk[0] = DS;
	bt->blk[1] = DS + 1;
	bt->blk[2] = TOT - 1;
	bt->crc = fmt_badblocks_crc(bt);
	cr_assert_eq(alloc_create(NULL, bt, DS, TOT, 3, false, &a), 0);
	cr_assert_eq(alloc_free_blocks(a), TOT - DS - 3);
	cr_assert(alloc_is_bad(a, DS + 1));
	while (alloc_blocks(a, 0, 5, 0, &s, &got) == 0)
		for (uint64_t b = s; b < s + got; b++)
			cr_assert(b != DS && b != DS + 1 && b != TOT - 1);
	cr_assert_eq(alloc_free(a, DS, 1), -EINVAL);
	alloc_destroy(a);
	free(bt);
}

Test(alloc, save_and_load)
{
	char *path = tu_tmpimg((uint64_t)TOT * PMFS_BLOCK_SIZE);
	struct pmio_opts o = { .flags = PMIO_O_QUIET };
	struct pmio *p;
	uint8_t *img;
	struct alloc *a, *b;
	uint64_t head, s, got, before;

	cr_assert_eq(pmio_open(path, &o, &p, NULL, 0), 0);
	img = pmio_base(p);

	cr_assert_eq(alloc_create(NULL, NULL, DS, TOT, 4, false, &a), 0);
	/* fragment the free space */
	for (int i = 0; i < 300; i++) {
		cr_assert_eq(alloc_blocks(a, (unsigned)i, 1, 0, &s, &got), 0);
		if (i % 3)
			cr_assert_eq(alloc_free(a, s, 1), 0);
	}
	before = alloc_free_blocks(a);
	cr_assert_eq(alloc_save(a, p, img, &head), 0);
	cr_assert_neq(head, 0);
	cr_assert_eq(alloc_create(NULL, NULL, DS, TOT, 4, true, &b), 0);
	cr_assert_eq(alloc_free_blocks(b), 0);
	cr_assert_eq(alloc_load(b, img, head), 0);
	cr_assert_eq(alloc_free_blocks(b), before);
	for (uint64_t k = DS; k < TOT; k++)
		cr_assert_eq(alloc_is_free(a, k) || k == head,
			     alloc_is_free(b, k), "block %lu", (unsigned long)k);
	/* corrupt: load refuses */
	img[fmt_blk_off(head) + 40] ^= 1;
	alloc_destroy(b);
	cr_assert_eq(alloc_create(NULL, NULL, DS, TOT, 4, true, &b), 0);
	cr_assert_eq(alloc_load(b, img, head), -EUCLEAN);
	alloc_destroy(b);
	alloc_destroy(a);
	pmio_close(p);
	tu_rmimg(path);
}

Test(alloc, inode_numbers)
{
	struct alloc *a;
	uint64_t ino;

	cr_assert_eq(alloc_create(NULL, NULL, DS, TOT, 1, false, &a), 0);
	cr_assert_eq(alloc_ino_get(a, &ino), -ENOSPC);
	cr_assert_eq(alloc_ino_add_chunk(a, 0), 0);
	cr_assert_eq(alloc_ino_mark_used(a, 1), 0);
	cr_assert_eq(alloc_ino_mark_used(a, 1), -EEXIST);
	cr_assert_eq(alloc_ino_mark_used(a, 2), 0);
	cr_assert_eq(alloc_ino_get(a, &ino), 0);
	cr_assert_eq(ino, 3);
	alloc_ino_put(a, 2);
	cr_assert_eq(alloc_ino_get(a, &ino), 0);
	cr_assert_eq(ino, 2);
	for (uint64_t i = 4; i < PMFS_INODES_PER_CHUNK; i++)
		cr_assert_eq(alloc_ino_get(a, &ino), 0);
	cr_assert_eq(alloc_ino_get(a, &ino), -ENOSPC);
	cr_assert_eq(alloc_ino_add_chunk(a, 1), 0);
	cr_assert_eq(alloc_ino_get(a, &ino), 0);
	cr_assert_eq(ino, PMFS_INODES_PER_CHUNK);
	cr_assert_eq(alloc_ino_used(a), PMFS_INODES_PER_CHUNK);
	alloc_destroy(a);
}

Test(alloc, saved_chain_blocks)
{
	char *path = tu_tmpimg((uint64_t)TOT * PMFS_BLOCK_SIZE);
	struct pmio_opts o = { .flags = PMIO_O_QUIET };
	struct pmio *p;
	uint8_t *img;
	struct alloc *a;
	uint64_t head, s, got, before, n = 99;

	cr_assert_eq(pmio_open(path, &o, &p, NULL, 0), 0);
	img = pmio_base(p);
	cr_assert_eq(alloc_saved_chain_blocks(img, DS, TOT, 0, &n), 0);
	cr_assert_eq(n, 0, "no chain, no blocks");
	cr_assert_eq(alloc_create(NULL, NULL, DS, TOT, 1, false, &a), 0);
	/* every other block free: ~500 extents, more than one chain page */
	for (uint64_t i = DS; i < TOT; i++)
		cr_assert_eq(alloc_blocks(a, 0, 1, 0, &s, &got), 0);
	for (uint64_t i = DS; i < TOT; i += 2)
		cr_assert_eq(alloc_free(a, i, 1), 0);
	before = alloc_free_blocks(a);
	cr_assert_eq(alloc_save(a, p, img, &head), 0);
	cr_assert_eq(alloc_saved_chain_blocks(img, DS, TOT, head, &n), 0);
	cr_assert_geq(n, 2);
	cr_assert_eq(n, before - alloc_free_blocks(a),
		     "the chain's own blocks are what save took");
	cr_assert_eq(alloc_saved_chain_blocks(img, DS, TOT, 5, &n), -EUCLEAN,
		     "head outside the data area");
	img[fmt_blk_off(head) + 40] ^= 1;
	cr_assert_eq(alloc_saved_chain_blocks(img, DS, TOT, head, &n),
		     -EUCLEAN);
	alloc_destroy(a);
	pmio_close(p);
	tu_rmimg(path);
}
