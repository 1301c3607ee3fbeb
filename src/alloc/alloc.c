/*
 * alloc.c - the block and inode-number allocator (see alloc.h): one bitmap
 * per lane over a contiguous block range (bit set = used), a free counter
 * per lane, and one bitmap of inode numbers over the known chunks.
 */
#include "alloc/alloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "format/fmt.h"
#include "pmemio/pmemio.h"

struct alloc_lane {
	pthread_mutex_t mu;
	uint64_t lo, hi;   /* blocks [lo, hi) */
	uint64_t *bits;    /* bit (b - lo) set = used */
	uint64_t nfree;
	uint64_t hint;     /* next block to try (atomic stores: read by
			    * alloc_lane_hint without the mutex) */
	char pad[64];
};

struct alloc {
	uint64_t data_start, total_blocks;
	unsigned nlanes;
	struct alloc_lane *lanes;
	uint64_t *bad;     /* bitmap over the whole data area: bad blocks */
	uint64_t nbad;
	_Atomic uint64_t nfree;
	_Atomic uint64_t refused;
	uint64_t reserve;
	pthread_mutex_t ino_mu;
	uint64_t *ino_bits; /* bit set = used (or not available) */
	uint64_t ino_nchunks;
	uint64_t ino_used;
	uint64_t ino_hint;
};

/* Bit i of bitmap b. */
static inline bool bit_get(const uint64_t *b, uint64_t i)
{
	return (b[i >> 6] >> (i & 63)) & 1;
}
/* Set bit i of bitmap b. */
static inline void bit_set(uint64_t *b, uint64_t i)
{
	b[i >> 6] |= 1ull << (i & 63);
}
/* Clear bit i of bitmap b. */
static inline void bit_clr(uint64_t *b, uint64_t i)
{
	b[i >> 6] &= ~(1ull << (i & 63));
}

/* The lane whose range holds block blk. */
static struct alloc_lane *lane_of(struct alloc *a, uint64_t blk)
{
	uint64_t per = (a->total_blocks - a->data_start + a->nlanes - 1) /
		       a->nlanes;
	uint64_t i = (blk - a->data_start) / per;

	if (i >= a->nlanes)
		i = a->nlanes - 1;
	return &a->lanes[i];
}

/* Keep block blk out of use for ever (bad): used, counted. */
static void mark_bad(struct alloc *a, uint64_t blk)
{
	struct alloc_lane *l;

	if (blk < a->data_start || blk >= a->total_blocks)
		return;
	if (bit_get(a->bad, blk - a->data_start))
		return;
	bit_set(a->bad, blk - a->data_start);
	a->nbad++;
	l = lane_of(a, blk);
	if (!bit_get(l->bits, blk - l->lo)) {
		bit_set(l->bits, blk - l->lo);
		l->nfree--;
		a->nfree--;
	}
}

int alloc_create(struct pmio *p, const void *badtab, uint64_t data_start,
		 uint64_t total_blocks, unsigned nlanes, bool all_used,
		 struct alloc **out)
{
	struct alloc *a;
	uint64_t per, n = total_blocks - data_start;
	unsigned i;

	if (data_start == 0 || total_blocks <= data_start || nlanes == 0)
		return -EINVAL;
	if (nlanes > n)
		nlanes = 1;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->data_start = data_start;
	a->total_blocks = total_blocks;
	a->nlanes = nlanes;
	pthread_mutex_init(&a->ino_mu, NULL);
	a->lanes = calloc(nlanes, sizeof(*a->lanes));
	a->bad = calloc((n + 63) / 64, 8);
	if (!a->lanes || !a->bad)
		goto out_nomem;
	per = (n + nlanes - 1) / nlanes;
	for (i = 0; i < nlanes; i++) {
		struct alloc_lane *l = &a->lanes[i];
		uint64_t nb, j;

		pthread_mutex_init(&l->mu, NULL);
		l->lo = data_start + per * i;
		l->hi = i == nlanes - 1 ? total_blocks : l->lo + per;
		if (l->lo > total_blocks)
			l->lo = total_blocks;
		if (l->hi > total_blocks)
			l->hi = total_blocks;
		nb = l->hi - l->lo;
		l->bits = calloc((nb + 64) / 64, 8);
		if (!l->bits)
			goto out_nomem;
		l->hint = l->lo;
		if (all_used) {
			for (j = 0; j < nb; j++)
				bit_set(l->bits, j);
			l->nfree = 0;
		} else {
			l->nfree = nb;
		}
		a->nfree += l->nfree;
	}
	if (badtab) {
		const struct pmfs_badblocks *bt = badtab;

		for (uint32_t k = 0; k < bt->count && k < PMFS_BADBLK_MAX; k++)
			mark_bad(a, bt->blk[k]);
	}
	if (p) {
		const struct pmio_badblock *bb;
		size_t nbb = pmio_badblocks(p, &bb);

		for (size_t k = 0; k < nbb; k++) {
			uint64_t b0 = bb[k].off >> PMFS_BLOCK_SHIFT;
			uint64_t b1 = (bb[k].off + bb[k].len +
				       PMFS_BLOCK_SIZE - 1) >> PMFS_BLOCK_SHIFT;

			for (uint64_t b = b0; b < b1 && b < total_blocks; b++)
				mark_bad(a, b);
		}
	}
	*out = a;
	return 0;
out_nomem:
	alloc_destroy(a);
	return -ENOMEM;
}

void alloc_destroy(struct alloc *a)
{
	if (!a)
		return;
	if (a->lanes) {
		for (unsigned i = 0; i < a->nlanes; i++) {
			free(a->lanes[i].bits);
			pthread_mutex_destroy(&a->lanes[i].mu);
		}
	}
	free(a->lanes);
	free(a->bad);
	free(a->ino_bits);
	pthread_mutex_destroy(&a->ino_mu);
	free(a);
}

void alloc_set_reserve(struct alloc *a, uint64_t blocks)
{
	a->reserve = blocks;
}

/* Find and take a free run of 1..want blocks (exactly want if exact) in
 * lane l, under its mutex.  Returns the run length, 0 if none. */
static uint64_t lane_take(struct alloc_lane *l, uint64_t want, bool exact,
			  uint64_t *start)
{
	uint64_t nb = l->hi - l->lo, pos, scanned = 0, i;

	if (l->nfree == 0 || (exact && l->nfree < want))
		return 0;
	pos = l->hint - l->lo;
	if (pos >= nb)
		pos = 0;
	while (scanned < nb) {
		uint64_t run;

		/* skip full words quickly */
		if ((pos & 63) == 0 && pos + 64 <= nb &&
		    l->bits[pos >> 6] == ~0ull) {
			pos += 64;
			scanned += 64;
			if (pos >= nb)
				pos = 0;
			continue;
		}
		if (bit_get(l->bits, pos)) {
			pos++;
			scanned++;
			if (pos >= nb)
				pos = 0;
			continue;
		}
		run = 0;
		while (pos + run < nb && run < want &&
		       !bit_get(l->bits, pos + run))
			run++;
		if (!exact || run == want) {
			for (i = 0; i < run; i++)
				bit_set(l->bits, pos + i);
			l->nfree -= run;
			__atomic_store_n(&l->hint, l->lo + pos + run,
					 __ATOMIC_RELAXED);
			*start = l->lo + pos;
			return run;
		}
		pos += run;
		scanned += run;
		if (pos >= nb)
			pos = 0;
	}
	return 0;
}

/*
 * A run of exactly want blocks that no single lane holds (an inode-table
 * chunk on a namespace whose lanes are smaller than a chunk): every lane
 * mutex is taken, in increasing lane order (the only place that holds
 * more than one, see alloc.h), and the whole data area searched.  Returns
 * true with the run taken.
 */
static bool take_across(struct alloc *a, uint64_t want, uint64_t *start)
{
	uint64_t run = 0, b;
	bool found = false;

	for (unsigned i = 0; i < a->nlanes; i++)
		pthread_mutex_lock(&a->lanes[i].mu);
	for (b = a->data_start; b < a->total_blocks && !found; b++) {
		struct alloc_lane *l = lane_of(a, b);

		run = bit_get(l->bits, b - l->lo) ? 0 : run + 1;
		found = run == want;
	}
	if (found) {
		*start = b - want;
		for (b = *start; b < *start + want; b++) {
			struct alloc_lane *l = lane_of(a, b);

			bit_set(l->bits, b - l->lo);
			l->nfree--;
		}
		atomic_fetch_sub(&a->nfree, want);
	}
	for (unsigned i = a->nlanes; i-- > 0;)
		pthread_mutex_unlock(&a->lanes[i].mu);
	return found;
}

/* Take a run of 1..want blocks (exactly want if exact), from lane on; 0 or
 * -ENOSPC. */
static int take(struct alloc *a, unsigned lane, uint64_t want, bool exact,
		unsigned flags, uint64_t *start, uint64_t *got)
{
	uint64_t free_now = atomic_load(&a->nfree);

	if (want == 0)
		return -EINVAL;
	if (!(flags & ALLOC_F_RESERVE) &&
	    (free_now < a->reserve || free_now - a->reserve < (exact ? want : 1)))
		return -ENOSPC;
	for (unsigned k = 0; k < a->nlanes; k++) {
		struct alloc_lane *l = &a->lanes[(lane + k) % a->nlanes];
		uint64_t n;

		pthread_mutex_lock(&l->mu);
		n = lane_take(l, want, exact, start);
		pthread_mutex_unlock(&l->mu);
		if (n) {
			atomic_fetch_sub(&a->nfree, n);
			*got = n;
			return 0;
		}
	}
	if (exact && want > 1 && a->nlanes > 1 && take_across(a, want, start)) {
		*got = want;
		return 0;
	}
	return -ENOSPC;
}

int alloc_blocks(struct alloc *a, unsigned lane, uint64_t want,
		 unsigned flags, uint64_t *start, uint64_t *got)
{
	return take(a, lane, want, false, flags, start, got);
}

int alloc_block(struct alloc *a, unsigned lane, unsigned flags,
		uint64_t *blk)
{
	uint64_t got;

	return take(a, lane, 1, true, flags, blk, &got);
}

int alloc_contig(struct alloc *a, unsigned lane, uint64_t n, unsigned flags,
		 uint64_t *start)
{
	uint64_t got;

	return take(a, lane, n, true, flags, start, &got);
}

/* Apply set (used=true) or clear to [blk, blk+n), all or nothing. */
static int change(struct alloc *a, uint64_t blk, uint64_t n, bool used)
{
	uint64_t b, end = blk + n;

	if (n == 0)
		return 0;
	if (blk < a->data_start || end > a->total_blocks || end < blk)
		return -ERANGE;
	/* check first, lane by lane, then apply */
	for (b = blk; b < end;) {
		struct alloc_lane *l = lane_of(a, b);
		uint64_t stop = end < l->hi ? end : l->hi, c;
		int bad = 0;

		pthread_mutex_lock(&l->mu);
		for (c = b; c < stop; c++) {
			if (bit_get(l->bits, c - l->lo) != !used ||
			    (!used && bit_get(a->bad, c - a->data_start))) {
				bad = 1;
				break;
			}
		}
		pthread_mutex_unlock(&l->mu);
		if (bad)
			return used ? -EEXIST : -EINVAL;
		b = stop;
	}
	for (b = blk; b < end;) {
		struct alloc_lane *l = lane_of(a, b);
		uint64_t stop = end < l->hi ? end : l->hi, c;

		pthread_mutex_lock(&l->mu);
		for (c = b; c < stop; c++) {
			if (used)
				bit_set(l->bits, c - l->lo);
			else
				bit_clr(l->bits, c - l->lo);
		}
		if (used) {
			l->nfree -= stop - b;
		} else {
			l->nfree += stop - b;
			if (b < l->hint)
				__atomic_store_n(&l->hint, b,
						 __ATOMIC_RELAXED);
		}
		pthread_mutex_unlock(&l->mu);
		if (used)
			atomic_fetch_sub(&a->nfree, stop - b);
		else
			atomic_fetch_add(&a->nfree, stop - b);
		b = stop;
	}
	return 0;
}

int alloc_free(struct alloc *a, uint64_t blk, uint64_t n)
{
	int err = change(a, blk, n, false);

	if (err) {
		atomic_fetch_add(&a->refused, 1);
		return -EINVAL;
	}
	return 0;
}

int alloc_mark_used(struct alloc *a, uint64_t blk, uint64_t n)
{
	return change(a, blk, n, true);
}

bool alloc_is_free(struct alloc *a, uint64_t blk)
{
	struct alloc_lane *l;
	bool r;

	if (blk < a->data_start || blk >= a->total_blocks)
		return false;
	l = lane_of(a, blk);
	pthread_mutex_lock(&l->mu);
	r = !bit_get(l->bits, blk - l->lo);
	pthread_mutex_unlock(&l->mu);
	return r;
}

bool alloc_is_bad(struct alloc *a, uint64_t blk)
{
	if (blk < a->data_start || blk >= a->total_blocks)
		return false;
	return bit_get(a->bad, blk - a->data_start);
}

unsigned alloc_nlanes(const struct alloc *a)
{
	return a->nlanes;
}

void alloc_lane_hint(struct alloc *a, unsigned lane, uint64_t *hint,
		     uint64_t *end)
{
	struct alloc_lane *l = &a->lanes[lane % a->nlanes];

	*hint = __atomic_load_n(&l->hint, __ATOMIC_RELAXED);
	*end = l->hi;
}

uint64_t alloc_free_blocks(struct alloc *a)
{
	return atomic_load(&a->nfree);
}

uint64_t alloc_total_blocks(struct alloc *a)
{
	return a->total_blocks - a->data_start - a->nbad;
}

uint64_t alloc_bad_blocks(struct alloc *a)
{
	return a->nbad;
}

uint64_t alloc_refused_frees(struct alloc *a)
{
	return atomic_load(&a->refused);
}

/* ---- saved state ------------------------------------------------------ */

#define ALLOC_CHAIN_MAX 4096 /* pages of a saved chain alloc_load accepts */

int alloc_saved_chain_blocks(const void *base, uint64_t data_start,
			     uint64_t total_blocks, uint64_t head,
			     uint64_t *nblocks)
{
	const struct fmt_geometry g = { .total_blocks = total_blocks,
					.data_start = data_start };
	const uint8_t *b = base;
	uint64_t blk = head, n = 0;

	*nblocks = 0;
	while (blk) {
		if (blk < data_start || blk >= total_blocks ||
		    n >= ALLOC_CHAIN_MAX ||
		    fmt_allocsave_check((const void *)(b + fmt_blk_off(blk)),
					n, &g) != 0)
			return -EUCLEAN;
		n++;
		blk = ((const struct pmfs_allocsave *)(b + fmt_blk_off(blk)))
			      ->next;
	}
	*nblocks = n;
	return 0;
}

/*
 * Walk the chain at head, checked whole first (alloc_saved_chain_blocks):
 * with listed, free the extents it lists (a load); then give back the
 * chain's own blocks, which a chain may also list.  0 or -EUCLEAN.
 */
static int chain_release(struct alloc *a, const void *base, uint64_t head,
			 bool listed)
{
	const uint8_t *b = base;
	uint64_t blk = head, nchain;
	int err;

	err = alloc_saved_chain_blocks(base, a->data_start, a->total_blocks,
				       head, &nchain);
	if (err)
		return err;
	for (uint64_t n = 0; listed && n < nchain; n++) {
		const struct pmfs_allocsave *as =
			(const void *)(b + fmt_blk_off(blk));

		for (uint64_t i = 0; i < as->count; i++)
			if (alloc_free(a, as->ext[i].start, as->ext[i].len))
				return -EUCLEAN;
		blk = as->next;
	}
	blk = head;
	for (uint64_t n = 0; n < nchain; n++) {
		const struct pmfs_allocsave *as =
			(const void *)(b + fmt_blk_off(blk));
		uint64_t next = as->next;

		if (!alloc_is_free(a, blk))
			alloc_free(a, blk, 1);
		blk = next;
	}
	return 0;
}

int alloc_load(struct alloc *a, const void *base, uint64_t head)
{
	return chain_release(a, base, head, true);
}

int alloc_drop_saved(struct alloc *a, const void *base, uint64_t head)
{
	return chain_release(a, base, head, false);
}

/* Collect free extents into exts (grows); returns count or -ENOMEM. */
static long collect_free(struct alloc *a, struct pmfs_extent **exts)
{
	size_t n = 0, cap = 64;
	struct pmfs_extent *e = malloc(cap * sizeof(*e));

	if (!e)
		return -ENOMEM;
	for (unsigned i = 0; i < a->nlanes; i++) {
		struct alloc_lane *l = &a->lanes[i];

		pthread_mutex_lock(&l->mu);
		for (uint64_t j = 0; j < l->hi - l->lo;) {
			uint64_t s;

			if (bit_get(l->bits, j)) {
				j++;
				continue;
			}
			s = j;
			while (j < l->hi - l->lo && !bit_get(l->bits, j))
				j++;
			if (n && e[n - 1].start + e[n - 1].len == l->lo + s) {
				e[n - 1].len += j - s;
				continue;
			}
			if (n == cap) {
				struct pmfs_extent *ne;

				cap *= 2;
				ne = realloc(e, cap * sizeof(*e));
				if (!ne) {
					pthread_mutex_unlock(&l->mu);
					free(e);
					return -ENOMEM;
				}
				e = ne;
			}
			e[n].start = l->lo + s;
			e[n].len = j - s;
			n++;
		}
		pthread_mutex_unlock(&l->mu);
	}
	*exts = e;
	return (long)n;
}

/* Blocks a save of the current free extents takes: the chain's own
 * blocks leave the free list first, and each one taken can split one
 * extent, so size for n + nblk extents.  0 on ENOMEM. */
uint64_t alloc_save_size(struct alloc *a)
{
	struct pmfs_extent *e = NULL;
	long n = collect_free(a, &e);
	uint64_t nblk;

	if (n < 0)
		return 0;
	free(e);
	nblk = ((uint64_t)n + PMFS_ALLOCSAVE_MAX - 2) / (PMFS_ALLOCSAVE_MAX - 1);
	return nblk ? nblk : 1;
}

int alloc_save(struct alloc *a, struct pmio *p, void *base, uint64_t *head)
{
	struct pmfs_extent *e = NULL;
	struct pmfs_allocsave *as = NULL;
	uint64_t nblk = alloc_save_size(a), *chain = NULL, i = 0;
	long n;
	int err = -ENOMEM;

	if (!nblk)
		return -ENOMEM;
	chain = calloc(nblk, sizeof(*chain));
	as = malloc(sizeof(*as));
	if (!chain || !as)
		goto out_free;
	if (!chain)
		return -ENOMEM;
	for (i = 0; i < nblk; i++) {
		err = alloc_block(a, 0, ALLOC_F_RESERVE, &chain[i]);
		if (err)
			goto out_free;
	}
	n = collect_free(a, &e);
	if (n < 0) {
		err = (int)n;
		goto out_free;
	}
	for (uint64_t k = 0; k < nblk; k++) {
		uint64_t first = k * PMFS_ALLOCSAVE_MAX, cnt = 0;

		if (first < (uint64_t)n)
			cnt = (uint64_t)n - first;
		if (cnt > PMFS_ALLOCSAVE_MAX)
			cnt = PMFS_ALLOCSAVE_MAX;
		fmt_allocsave_init(as, k, k + 1 < nblk ? chain[k + 1] : 0,
				   e + first, cnt);
		pmio_memcpy_nodrain(p, (uint8_t *)base + fmt_blk_off(chain[k]),
				    as, PMFS_BLOCK_SIZE);
	}
	*head = chain[0];
	free(e);
	free(as);
	free(chain);
	return 0;
out_free:
	for (uint64_t k = 0; k < i; k++)
		alloc_free(a, chain[k], 1);
	free(as);
	free(chain);
	return err;
}

/* ---- inode numbers ---------------------------------------------------- */

int alloc_ino_add_chunk(struct alloc *a, uint64_t c)
{
	uint64_t need = c + 1, words = PMFS_INODES_PER_CHUNK / 64;

	pthread_mutex_lock(&a->ino_mu);
	if (need > a->ino_nchunks) {
		uint64_t *nb = realloc(a->ino_bits, need * words * 8);

		if (!nb) {
			pthread_mutex_unlock(&a->ino_mu);
			return -ENOMEM;
		}
		/* chunks not (yet) added are all "used" */
		memset(nb + a->ino_nchunks * words, 0xff,
		       (need - a->ino_nchunks) * words * 8);
		a->ino_bits = nb;
		a->ino_nchunks = need;
	}
	memset(a->ino_bits + c * words, 0, words * 8);
	if (c == 0)
		bit_set(a->ino_bits, 0);
	if (c * PMFS_INODES_PER_CHUNK < a->ino_hint)
		a->ino_hint = c * PMFS_INODES_PER_CHUNK;
	pthread_mutex_unlock(&a->ino_mu);
	return 0;
}

int alloc_ino_mark_used(struct alloc *a, uint64_t ino)
{
	int err = 0;

	pthread_mutex_lock(&a->ino_mu);
	if (ino == 0 || ino >= a->ino_nchunks * PMFS_INODES_PER_CHUNK)
		err = -ERANGE;
	else if (bit_get(a->ino_bits, ino))
		err = -EEXIST;
	else {
		bit_set(a->ino_bits, ino);
		a->ino_used++;
	}
	pthread_mutex_unlock(&a->ino_mu);
	return err;
}

int alloc_ino_get(struct alloc *a, uint64_t *ino)
{
	uint64_t n, i;
	int err = -ENOSPC;

	pthread_mutex_lock(&a->ino_mu);
	n = a->ino_nchunks * PMFS_INODES_PER_CHUNK;
	for (i = a->ino_hint; i < n; i++) {
		if ((i & 63) == 0 && a->ino_bits[i >> 6] == ~0ull) {
			i += 63;
			continue;
		}
		if (!bit_get(a->ino_bits, i)) {
			bit_set(a->ino_bits, i);
			a->ino_used++;
			a->ino_hint = i + 1;
			*ino = i;
			err = 0;
			break;
		}
	}
	if (err)
		a->ino_hint = n;
	pthread_mutex_unlock(&a->ino_mu);
	return err;
}

void alloc_ino_put(struct alloc *a, uint64_t ino)
{
	pthread_mutex_lock(&a->ino_mu);
	if (ino && ino < a->ino_nchunks * PMFS_INODES_PER_CHUNK &&
	    bit_get(a->ino_bits, ino)) {
		bit_clr(a->ino_bits, ino);
		a->ino_used--;
		if (ino < a->ino_hint)
			a->ino_hint = ino;
	}
	pthread_mutex_unlock(&a->ino_mu);
}

uint64_t alloc_ino_used(struct alloc *a)
{
	uint64_t r;

	pthread_mutex_lock(&a->ino_mu);
	r = a->ino_used;
	pthread_mutex_unlock(&a->ino_mu);
	return r;
}
