/*
 * ilog.c - per-inode logs: the device view, appending entries to a page
 * chain, the single-inode tail commit (LOG(4)) and the validated walk
 * (LOG(2), LOG(3)).  See log.h.
 */
#include "log/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "format/fmt.h"
#include "pmemio/pmemio.h"
#include "util/util.h"

void ilog_dev_view(struct ilog_dev *d, struct pmio *p,
		   const struct fmt_geometry *g)
{
	memset(d, 0, sizeof(*d));
	d->p = p;
	d->base = pmio_base(p);
	d->size = pmio_size(p);
	d->total_blocks = g->total_blocks;
	d->data_start = g->data_start;
	d->nlanes = g->nlanes;
	d->itdir = (le64 *)(d->base + fmt_blk_off(g->itdir_start));
	d->jnl = (struct pmfs_journal *)(d->base + fmt_blk_off(g->journal_start));
	d->state = (struct pmfs_sb_state *)(d->base + PMFS_SB_STATE_OFF);
	atomic_store(&d->retired, 0);
	for (unsigned l = 0; l < PMFS_MAX_LANES; l++) {
		pthread_mutex_init(&d->lane_mu[l], NULL);
		atomic_store(&d->rseq[l], 0);
	}
}

int ilog_dev_init(struct ilog_dev *d, struct pmio *p, char *why,
		  size_t whylen)
{
	const struct pmfs_super *sb = pmio_base(p);
	struct fmt_geometry g;
	int err;

	memset(d, 0, sizeof(*d));
	if (pmio_size(p) < PMFS_MIN_SIZE) {
		snprintf(why, whylen, "namespace too small for pmfs");
		return -EINVAL;
	}
	err = fmt_super_check(sb, pmio_size(p), why, whylen);
	if (err)
		return err;
	fmt_super_geometry(sb, &g);
	ilog_dev_view(d, p, &g);
	d->incompat = sb->feature_incompat;
	return 0;
}

void ilog_geometry(const struct ilog_dev *d, struct fmt_geometry *g)
{
	memset(g, 0, sizeof(*g));
	g->total_blocks = d->total_blocks;
	g->journal_start = fmt_off_blk(ilog_off(d, d->jnl));
	g->itdir_start = fmt_off_blk(ilog_off(d, d->itdir));
	g->data_start = d->data_start;
	g->nlanes = d->nlanes;
}

int ilog_chunk_check(const struct ilog_dev *d, const le64 *itdir, uint64_t c,
		     bool (*valid)(void *arg, uint64_t k), void *arg,
		     char *why, size_t whylen)
{
	struct fmt_geometry g;
	uint64_t b = itdir[c];

	if (!b)
		return 0;
	ilog_geometry(d, &g);
	if (!fmt_chunk_ok(&g, b)) {
		snprintf(why, whylen,
			 "inode-table chunk %" PRIu64 " at block %" PRIu64
			 " lies outside the data area",
			 c, b);
		return -EUCLEAN;
	}
	/* both chunks lie inside the data area: the sums cannot wrap */
	for (uint64_t k = 0; k < c; k++) {
		uint64_t o = itdir[k];

		if (!o || (valid && !valid(arg, k)) || !fmt_chunk_ok(&g, o))
			continue;
		if (b < o + PMFS_CHUNK_BLOCKS && o < b + PMFS_CHUNK_BLOCKS) {
			snprintf(why, whylen,
				 "inode-table chunk %" PRIu64 " at block %" PRIu64
				 " overlaps chunk %" PRIu64 " at block %" PRIu64,
				 c, b, k, o);
			return -EUCLEAN;
		}
	}
	return 0;
}

struct pmfs_inode *ilog_slot(const struct ilog_dev *d, uint64_t ino)
{
	uint64_t off = fmt_inode_off(d->itdir, d->total_blocks, ino);
	uint64_t c;

	if (!off)
		return NULL;
	c = fmt_ino_chunk(ino);
	if (d->itdir[c] < d->data_start ||
	    d->itdir[c] + PMFS_CHUNK_BLOCKS > d->total_blocks)
		return NULL;
	return (struct pmfs_inode *)(d->base + off);
}

void ilog_slot_init(struct ilog_dev *d, struct pmfs_inode *slot, uint64_t head,
		    uint32_t gen)
{
	struct pmfs_inode img;

	/* LOG(8): the slot is free (tail 0): nothing reads these words */
	memset(&img, 0, sizeof(img));
	img.head = head;
	img.gen = gen;
	pmio_memcpy_nodrain(d->p, &slot->head, &img.head,
			    sizeof(img) - offsetof(struct pmfs_inode, head));
}

bool ilog_page_ok(const struct ilog_dev *d, uint64_t off)
{
	return off && fmt_off_in_blk(off) == 0 &&
	       fmt_off_blk(off) >= d->data_start &&
	       fmt_off_blk(off) < d->total_blocks &&
	       off <= d->size - PMFS_BLOCK_SIZE; /* inside the mapping */
}

bool ilog_blocks_ok(const struct ilog_dev *d, uint64_t blk, uint64_t n)
{
	return blk >= d->data_start && n <= d->total_blocks &&
	       blk + n <= d->total_blocks && blk + n >= blk;
}

void ilog_tx_init(struct ilog_tx *tx, struct ilog_dev *d, struct alloc *a,
		  unsigned lane, unsigned aflags)
{
	tx->d = d;
	tx->a = a;
	tx->lane = lane;
	tx->aflags = aflags;
	tx->unbounded = false;
	tx->npages = 0;
	tx->xpages = NULL;
	tx->nxpages = tx->xcap = 0;
}

void ilog_tx_done(struct ilog_tx *tx)
{
	free(tx->xpages);
	tx->xpages = NULL;
	tx->npages = tx->nxpages = tx->xcap = 0;
}

/* Freeing a chain: a page goes back to the allocator only once the walk
 * has read all of it (entries and next link), i.e. when the walk reaches
 * the next page, and the last one after the walk.  A page freed earlier
 * can be taken and overwritten by another thread (another inode's append
 * or write) under the walk, which would then read garbage. */
struct free_arg {
	struct alloc *a;
	uint64_t prev; /* page visited, not yet freed; 0 if none */
};

/* ilog_free_chain's walk: free the page before this one. */
static int free_prev(void *arg, uint64_t off)
{
	struct free_arg *fa = arg;

	if (fa->prev)
		alloc_free(fa->a, fmt_off_blk(fa->prev), 1);
	fa->prev = off;
	return 0;
}

void ilog_free_chain(struct ilog_dev *d, struct alloc *a, uint64_t ino,
		     uint64_t head, uint64_t tail)
{
	struct free_arg fa = { a, 0 };

	/* a corrupt chain (-EIO) is freed as far as it was valid */
	ilog_walk(d, ino, head, tail, NULL, free_prev, &fa, true, NULL);
	if (fa.prev)
		alloc_free(a, fmt_off_blk(fa.prev), 1);
}

void ilog_tx_abort(struct ilog_tx *tx)
{
	for (unsigned i = 0; i < tx->npages; i++)
		alloc_free(tx->a, fmt_off_blk(tx->pages[i]), 1);
	for (size_t i = 0; i < tx->nxpages; i++)
		alloc_free(tx->a, fmt_off_blk(tx->xpages[i]), 1);
	ilog_tx_done(tx);
}

/* Allocate and initialise a log page (header flushed, no drain). */
static int new_page(struct ilog_tx *tx, uint64_t ino, uint64_t seq,
		    uint64_t *off)
{
	struct pmfs_logpage hdr;
	uint64_t blk;
	int err;

	if (!tx->unbounded && tx->npages >= ILOG_TX_PAGES &&
	    util_grow(&tx->xpages, &tx->xcap, tx->nxpages,
		      sizeof(*tx->xpages), 64))
		return -ENOMEM;
	err = alloc_block(tx->a, tx->lane, tx->aflags, &blk);
	if (err)
		return err;
	*off = fmt_blk_off(blk);
	if (!tx->unbounded && tx->npages < ILOG_TX_PAGES)
		tx->pages[tx->npages++] = *off;
	else if (!tx->unbounded)
		tx->xpages[tx->nxpages++] = *off;
	fmt_logpage_init(&hdr, ino, seq);
	pmio_memcpy_nodrain(tx->d->p, ilog_ptr(tx->d, *off), &hdr,
			    sizeof(hdr));
	return 0;
}

int ilog_new(struct ilog_tx *tx, uint64_t ino, struct ilog_pos *pos)
{
	uint64_t off;
	int err = new_page(tx, ino, 0, &off);

	if (err)
		return err;
	memset(pos, 0, sizeof(*pos));
	pos->head = off;
	pos->tail = off + sizeof(struct pmfs_logpage);
	pos->npages = 1;
	return 0;
}

int ilog_append(struct ilog_tx *tx, uint64_t ino, struct ilog_pos *pos,
		struct pmfs_lentry *e)
{
	uint64_t page = pos->tail - 1 - ((pos->tail - 1) % PMFS_BLOCK_SIZE);
	int err;

	if (e->len < sizeof(*e) || e->len % 8 || e->len > PMFS_LENTRY_MAX)
		return -EINVAL;
	if (pos->tail + e->len > page + PMFS_BLOCK_SIZE) {
		struct pmfs_logpage *cur = ilog_ptr(tx->d, page);
		uint64_t np;

		err = new_page(tx, ino, pos->pageseq + 1, &np);
		if (err)
			return err;
		/* LOG(3): slack at a page's end starts with a zero header */
		if (page + PMFS_BLOCK_SIZE - pos->tail >= sizeof(*e))
			pmio_memset_nodrain(tx->d->p,
					    ilog_ptr(tx->d, pos->tail), 0,
					    sizeof(*e));
		/* LOG(2): the link is harmless until a tail in np commits */
		pmio_commit64(tx->d->p, &cur->next, np);
		pos->pageseq++;
		pos->npages++;
		pos->tail = np + sizeof(struct pmfs_logpage);
	}
	e->seq = pos->seq + 1;
	fmt_entry_seal(ino, e);
	pmio_memcpy_nodrain(tx->d->p, ilog_ptr(tx->d, pos->tail), e, e->len);
	pos->tail += e->len;
	pos->seq++;
	pos->bytes += e->len;
	return 0;
}

void ilog_commit_tail(struct ilog_dev *d, uint64_t ino, uint64_t tail)
{
	struct pmfs_inode *slot = ilog_slot(d, ino);
	struct jnl_rsnap rs;

	jnl_rsnap_flush(d, &rs); /* LOG(7) */
	pmio_drain(d->p); /* ORDER: data+entries durable before tail moves */
	jnl_rsnap_fenced(d, &rs, ~0u);
	pmio_commit64(d->p, &slot->tail, tail); /* the real commit */
	pmio_drain(d->p); /* ORDER: commit durable before reply */
}

/* Report a corrupt log: stderr unless quiet, *ie if given; -EIO. */
static int corrupt(uint64_t ino, bool quiet, struct ilog_err *ie, int reason,
		   const char *fmt_, uint64_t v, const char *why)
{
	if (!quiet)
		fprintf(stderr,
			"pmfs: inode %" PRIu64 ": corrupt log: %s %" PRIu64
			"%s%s\n",
			ino, fmt_, v, why ? ": " : "", why ? why : "");
	if (ie) {
		ie->reason = reason;
		ie->off = v;
		snprintf(ie->msg, sizeof(ie->msg), "%.32s %" PRIu64 "%s%.64s",
			 fmt_, v, why ? ": " : "", why ? why : "");
	}
	return -EIO;
}

/* A callback stopped the walk at off with err. */
static int stopped(struct ilog_err *ie, uint64_t off, int err)
{
	if (ie) {
		ie->reason = ILOG_E_CALLBACK;
		ie->off = off;
		snprintf(ie->msg, sizeof(ie->msg),
			 "stopped by the caller at %" PRIu64 " (%d)", off, err);
	}
	return err;
}

int ilog_walk(const struct ilog_dev *d, uint64_t ino, uint64_t head,
	      uint64_t tail, ilog_entry_fn entry, ilog_page_fn page,
	      void *arg, bool quiet, struct ilog_pos *end)
{
	return ilog_walk2(d, ino, head, tail, entry, page, arg, quiet, end,
			  NULL);
}

int ilog_walk2(const struct ilog_dev *d, uint64_t ino, uint64_t head,
	       uint64_t tail, ilog_entry_fn entry, ilog_page_fn page,
	       void *arg, bool quiet, struct ilog_pos *end,
	       struct ilog_err *ie)
{
	uint64_t pg = head, pseq = 0, seq = 0, bytes = 0, visited = 0;
	/* each entry is checked on a private copy (a length read twice from
	 * the mapping could change in between: the check and the crc then
	 * never read past the page); entry() gets it in the mapping */
	uint64_t ebuf[PMFS_LENTRY_MAX / 8];
	char why[128];
	int err;

	if (ie) {
		ie->reason = ILOG_E_NONE;
		ie->off = 0;
		ie->msg[0] = 0;
	}
	if (!ilog_page_ok(d, head))
		return corrupt(ino, quiet, ie, ILOG_E_HEAD, "bad head", head,
			       NULL);
	if (tail < sizeof(struct pmfs_logpage) || fmt_off_blk(tail - 1) <
						   d->data_start ||
	    fmt_off_blk(tail - 1) >= d->total_blocks ||
	    tail % 8 != 0 ||
	    fmt_off_in_blk(tail - 1) < sizeof(struct pmfs_logpage) - 1)
		return corrupt(ino, quiet, ie, ILOG_E_TAIL, "bad tail", tail,
			       NULL);
	for (;;) {
		const struct pmfs_logpage *lp = ilog_ptr(d, pg);
		uint64_t off, stop;
		bool last;

		if (++visited > d->total_blocks)
			return corrupt(ino, quiet, ie, ILOG_E_CYCLE,
				       "cycle at page", pg, NULL);
		if (fmt_logpage_check(lp, ino) != 0)
			return corrupt(ino, quiet, ie, ILOG_E_PAGE,
				       "bad page header at", pg, NULL);
		if (lp->seq != pseq)
			return corrupt(ino, quiet, ie, ILOG_E_PAGESEQ,
				       "page seq out of order at", pg, NULL);
		if (page) {
			err = page(arg, pg);
			if (err)
				return stopped(ie, pg, err);
		}
		last = tail > pg && tail <= pg + PMFS_BLOCK_SIZE;
		stop = last ? tail : pg + PMFS_BLOCK_SIZE;
		off = pg + sizeof(*lp);
		while (off < stop) {
			const struct pmfs_lentry *e = (const void *)ebuf;
			size_t room = stop - off, len;

			if (room > sizeof(ebuf))
				room = sizeof(ebuf);
			len = room < sizeof(*e) ? room : sizeof(*e);
			memcpy(ebuf, ilog_ptr(d, off), len);
			/* a page not ending the log may have slack: an entry
			 * header of zero marks its end */
			if (!last && (len < sizeof(*e) || e->len == 0))
				break;
			if (len == sizeof(*e) && e->len > len &&
			    e->len <= room)
				memcpy((uint8_t *)ebuf + len,
				       ilog_ptr(d, off + len), e->len - len);
			if (fmt_entry_check(ino, e, room, why,
					    sizeof(why)) != 0)
				return corrupt(ino, quiet, ie, ILOG_E_ENTRY,
					       "bad entry at", off, why);
			if (e->seq != seq + 1)
				return corrupt(ino, quiet, ie, ILOG_E_SEQ,
					       "entry seq out of order at", off,
					       NULL);
			seq = e->seq;
			if (entry) {
				err = entry(arg, ilog_ptr(d, off), off);
				if (err)
					return stopped(ie, off, err);
			}
			bytes += e->len;
			off += e->len;
		}
		if (last)
			break;
		if (!ilog_page_ok(d, lp->next))
			return corrupt(ino, quiet, ie, ILOG_E_NEXT,
				       "bad next link at", pg, NULL);
		pg = lp->next;
		pseq++;
	}
	if (end) {
		end->head = head;
		end->tail = tail;
		end->pageseq = pseq;
		end->seq = seq;
		end->npages = pseq + 1;
		end->bytes = bytes;
	}
	return 0;
}
