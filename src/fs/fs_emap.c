/*
 * fs_emap.c - the extent map: a regular file's page -> block map in DRAM,
 * built by replaying its log (fs_apply calls fs_emap_set and
 * fs_emap_truncate for every WRITE and size change).
 *
 * The file offset -> block map is a radix tree of 64-way nodes over page
 * numbers, grown in height on demand: a leaf holds one word per page
 * (0: hole, else the block number, EMAP_UNWRITTEN set for fallocated
 * blocks).  find is O(height), a set or punch of n pages O(n + height),
 * empty subtrees are skipped (and freed by hole sets), so a huge sparse
 * file costs what it maps.  Extents are the maximal runs of consecutive
 * blocks with equal flags; m->next counts them, kept exact per change
 * (GC sizes a compacted log from it).
 */
#include "fs/fs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EMAP_SHIFT 6u
#define EMAP_FAN (1u << EMAP_SHIFT)
#define EMAP_MAXH 10u /* 60 bits of page number */
#define EMAP_UNWRITTEN (1ull << 63)

struct emap_node {
	uint32_t cnt; /* nonzero words (leaf) or non-NULL children */
	union {
		uint64_t v[EMAP_FAN];
		struct emap_node *c[EMAP_FAN];
	};
};

/* Index of page pg in a node of level l. */
static inline unsigned emap_idx(uint64_t pg, unsigned l)
{
	return (unsigned)(pg >> (EMAP_SHIFT * (l - 1))) & (EMAP_FAN - 1);
}

/* Does word b continue the run that word a ends? */
static inline bool emap_cont(uint64_t a, uint64_t b)
{
	return a && b && ((a ^ b) & EMAP_UNWRITTEN) == 0 &&
	       (b & ~EMAP_UNWRITTEN) == (a & ~EMAP_UNWRITTEN) + 1;
}

/* The word of page pg: 0 (hole) or block | EMAP_UNWRITTEN. */
static uint64_t emap_get(const struct fs_fmap *m, uint64_t pg)
{
	const struct emap_node *nd = m->root;

	if (!nd || (pg >> (EMAP_SHIFT * m->height)))
		return 0;
	for (unsigned l = m->height; l > 1; l--) {
		nd = nd->c[emap_idx(pg, l)];
		if (!nd)
			return 0;
	}
	return nd->v[pg & (EMAP_FAN - 1)];
}

/* An extent of n pages from pg, from the word of pg. */
static void emap_fill(struct fs_ext *out, uint64_t pg, uint64_t n,
		      uint64_t v)
{
	out->pgoff = pg;
	out->n = n;
	out->blk = v & ~EMAP_UNWRITTEN;
	out->flags = (v & EMAP_UNWRITTEN) ? PMFS_WR_UNWRITTEN : 0;
}

bool fs_emap_find(const struct fs_fmap *m, uint64_t pgoff,
		  struct fs_ext *out)
{
	uint64_t v = emap_get(m, pgoff);

	if (!v)
		return false;
	emap_fill(out, pgoff, 1, v);
	return true;
}

/* First mapped page >= pg below node nd (level l, first page base). */
static bool emap_next_in(const struct emap_node *nd, unsigned l,
			 uint64_t base, uint64_t pg, uint64_t *out)
{
	unsigned sh = EMAP_SHIFT * (l - 1);
	unsigned i = pg > base ? (unsigned)((pg - base) >> sh) : 0;

	for (; i < EMAP_FAN; i++) {
		if (l == 1) {
			if (nd->v[i]) {
				*out = base + i;
				return true;
			}
		} else if (nd->c[i] && nd->c[i]->cnt &&
			   emap_next_in(nd->c[i], l - 1,
					base + ((uint64_t)i << sh), pg, out)) {
			return true;
		}
	}
	return false;
}

bool fs_emap_next(const struct fs_fmap *m, uint64_t pgoff,
		  struct fs_ext *out)
{
	uint64_t x, v, n = 1;

	if (!m->root || (pgoff >> (EMAP_SHIFT * m->height)) ||
	    !emap_next_in(m->root, m->height, 0, pgoff, &x))
		return false;
	v = emap_get(m, x);
	while (emap_cont(emap_get(m, x + n - 1), emap_get(m, x + n)))
		n++;
	emap_fill(out, x, n, v);
	return true;
}

/* Leaf holding pg, created (and the tree grown) as needed; NULL: ENOMEM. */
static struct emap_node *emap_leaf(struct fs_fmap *m, uint64_t pg)
{
	struct emap_node *nd;

	if (!m->root) {
		m->root = calloc(1, sizeof(*m->root));
		if (!m->root)
			return NULL;
		m->height = 1;
	}
	while (pg >> (EMAP_SHIFT * m->height)) {
		nd = calloc(1, sizeof(*nd));
		if (!nd)
			return NULL;
		nd->c[0] = m->root;
		nd->cnt = 1;
		m->root = nd;
		m->height++;
	}
	nd = m->root;
	for (unsigned l = m->height; l > 1; l--) {
		unsigned i = emap_idx(pg, l);

		if (!nd->c[i]) {
			nd->c[i] = calloc(1, sizeof(*nd));
			if (!nd->c[i])
				return NULL;
			nd->cnt++;
		}
		nd = nd->c[i];
	}
	return nd;
}

/* State of one range clear: what it frees, the run bookkeeping. */
struct emap_clr {
	struct fs *fs;
	bool live, prune;
	uint64_t npg, nn, nblk;  /* new mapping: its blocks are kept */
	uint64_t lastpg, lastv;  /* last mapped page seen (run starts) */
	uint64_t starts, freed;  /* runs starting inside, pages cleared */
	uint64_t hi, oldlast;    /* end of range, old word of hi - 1 */
};

/* Clear one mapped page x (word v): run bookkeeping, block freed when live. */
static void emap_clr_page(struct emap_clr *c, uint64_t x, uint64_t v)
{
	uint64_t b = v & ~EMAP_UNWRITTEN;

	if (!(c->lastpg + 1 == x && emap_cont(c->lastv, v)))
		c->starts++;
	c->lastpg = x;
	c->lastv = v;
	if (x + 1 == c->hi)
		c->oldlast = v;
	c->freed++;
	if (!c->live || !c->fs)
		return;
	if (c->nblk && x >= c->npg && x - c->npg < c->nn &&
	    c->nblk + (x - c->npg) == b)
		return;
	alloc_free(c->fs->a, b, 1);
}

/* Clear the pages of [lo, c->hi) below node nd (level l, first page base). */
static void emap_clr_in(struct emap_node *nd, unsigned l, uint64_t base,
			uint64_t lo, struct emap_clr *c)
{
	unsigned sh = EMAP_SHIFT * (l - 1);
	uint64_t i0 = lo > base ? (lo - base) >> sh : 0;
	uint64_t i1 = (c->hi - 1 - base) >> sh;

	if (i1 >= EMAP_FAN)
		i1 = EMAP_FAN - 1;
	for (uint64_t i = i0; i <= i1; i++) {
		if (l == 1) {
			if (!nd->v[i])
				continue;
			emap_clr_page(c, base + i, nd->v[i]);
			nd->v[i] = 0;
			nd->cnt--;
			continue;
		}
		if (!nd->c[i])
			continue;
		emap_clr_in(nd->c[i], l - 1, base + (i << sh), lo, c);
		if (c->prune && nd->c[i]->cnt == 0) {
			free(nd->c[i]);
			nd->c[i] = NULL;
			nd->cnt--;
		}
	}
}

/* Unmap [lo, hi) (hi clipped to the tree), freeing displaced blocks. */
static void emap_clear(struct fs_fmap *m, uint64_t lo, uint64_t hi,
		       struct emap_clr *c)
{
	uint64_t top, vh;

	if (!m->root)
		return;
	top = 1ull << (EMAP_SHIFT * m->height);
	if (hi > top)
		hi = top;
	if (lo >= hi)
		return;
	c->hi = hi;
	c->lastpg = lo ? lo - 1 : UINT64_MAX;
	c->lastv = lo ? emap_get(m, lo - 1) : 0;
	c->starts = c->freed = c->oldlast = 0;
	emap_clr_in(m->root, m->height, 0, lo, c);
	m->nblocks -= c->freed;
	m->next -= c->starts;
	/* hi begins a run now if it continued the run cleared before it */
	vh = hi < top ? emap_get(m, hi) : 0;
	if (emap_cont(c->oldlast, vh))
		m->next++;
	if (c->prune && m->root->cnt == 0) {
		free(m->root);
		m->root = NULL;
		m->height = 0;
	}
}

/* fs_emap_set of data when pgoff - 1 .. pgoff + n share one leaf (most
 * writes): the same bookkeeping as emap_clear + set, in that leaf. */
static int emap_set_leaf(struct fs *fs, struct fs_fmap *m, uint64_t pgoff,
			 uint64_t n, uint64_t v0, bool live)
{
	struct emap_node *lf = emap_leaf(m, pgoff);
	unsigned i0 = (unsigned)(pgoff & (EMAP_FAN - 1));
	uint64_t prev, after, last, oldlast, starts = 0, freed = 0;

	if (!lf)
		return -ENOMEM;
	prev = lf->v[i0 - 1];
	after = lf->v[i0 + n];
	oldlast = lf->v[i0 + n - 1];
	last = prev;
	for (unsigned i = 0; i < n; i++) {
		uint64_t v = lf->v[i0 + i], nv = v0 + i;

		if (v) {
			if (!emap_cont(last, v))
				starts++;
			freed++;
			if (live && fs &&
			    (v & ~EMAP_UNWRITTEN) != (nv & ~EMAP_UNWRITTEN))
				alloc_free(fs->a, v & ~EMAP_UNWRITTEN, 1);
		}
		last = v;
		lf->v[i0 + i] = nv;
	}
	lf->cnt += (uint32_t)(n - freed);
	m->nblocks += n - freed;
	m->next -= starts;
	if (emap_cont(oldlast, after))
		m->next++; /* after began a run once the range was cleared */
	if (!emap_cont(prev, v0))
		m->next++;
	if (emap_cont(v0 + n - 1, after))
		m->next--;
	return 0;
}

int fs_emap_set(struct fs *fs, struct fs_fmap *m, uint64_t pgoff,
		uint64_t n, uint64_t blk, uint32_t flags, bool live)
{
	struct emap_clr c = { .fs = fs, .live = live };
	uint64_t end = pgoff + n, v0, prev, after;

	if (n == 0)
		return 0;
	if (end < pgoff || (end - 1) >> (EMAP_SHIFT * EMAP_MAXH))
		return -EFBIG;
	if (flags & PMFS_WR_HOLE) {
		c.prune = true;
		emap_clear(m, pgoff, end, &c);
		return 0;
	}
	if (!blk || (blk & EMAP_UNWRITTEN) || blk + n < blk ||
	    (blk + n) & EMAP_UNWRITTEN)
		return -EIO;
	v0 = blk | ((flags & PMFS_WR_UNWRITTEN) ? EMAP_UNWRITTEN : 0);
	if (pgoff > 0 && ((pgoff - 1) >> EMAP_SHIFT) == (end >> EMAP_SHIFT))
		return emap_set_leaf(fs, m, pgoff, n, v0, live);
	/* every leaf first, so that nothing changes if memory runs out */
	for (uint64_t x = pgoff; x < end; x = (x | (EMAP_FAN - 1)) + 1)
		if (!emap_leaf(m, x))
			return -ENOMEM;
	c.npg = pgoff;
	c.nn = n;
	c.nblk = blk;
	emap_clear(m, pgoff, end, &c);
	prev = pgoff ? emap_get(m, pgoff - 1) : 0;
	after = emap_get(m, end);
	for (uint64_t x = pgoff; x < end;) {
		struct emap_node *lf = emap_leaf(m, x);

		do {
			lf->v[x & (EMAP_FAN - 1)] = v0 + (x - pgoff);
			lf->cnt++;
			x++;
		} while (x < end && (x & (EMAP_FAN - 1)));
	}
	m->nblocks += n;
	if (!emap_cont(prev, v0))
		m->next++;
	if (emap_cont(v0 + n - 1, after))
		m->next--;
	return 0;
}

void fs_emap_truncate(struct fs *fs, struct fs_fmap *m, uint64_t from,
		      bool live)
{
	struct emap_clr c = { .fs = fs, .live = live, .prune = true };

	emap_clear(m, from, UINT64_MAX, &c);
}

/* Free node nd and everything below it (DRAM only). */
static void emap_free_in(struct emap_node *nd, unsigned l)
{
	if (l > 1)
		for (unsigned i = 0; i < EMAP_FAN; i++)
			if (nd->c[i])
				emap_free_in(nd->c[i], l - 1);
	free(nd);
}

void fs_emap_free(struct fs_fmap *m)
{
	if (m->root)
		emap_free_in(m->root, m->height);
	memset(m, 0, sizeof(*m));
}
