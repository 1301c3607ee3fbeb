/*
 * jnl.c - the per-lane redo journal (LOG(5), LOG(7)) and its recovery at
 * mount (LOG(6)).  See log.h.
 */
#include "log/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "format/fmt.h"
#include "pmemio/pmemio.h"

int jnl_add(struct jnl_tx *t, const struct ilog_dev *d, const void *word,
	    uint64_t v)
{
	uint64_t off = ilog_off(d, word);

	for (unsigned i = 0; i < t->n; i++) {
		if (t->rec[i].addr == off) {
			t->rec[i].val = v;
			return 0;
		}
	}
	if (t->n >= PMFS_JREC_MAX)
		return -E2BIG;
	t->rec[t->n].addr = off;
	t->rec[t->n].val = v;
	t->n++;
	return 0;
}

void jnl_flush_retired(struct ilog_dev *d)
{
	uint64_t m = atomic_load(&d->retired);

	while (m) {
		unsigned lane = (unsigned)__builtin_ctzll(m);

		m &= m - 1;
		pmio_flush(d->p, &d->jnl[lane].state, 8);
	}
}

void jnl_lane_fenced(struct ilog_dev *d, unsigned lane)
{
	atomic_fetch_and(&d->retired, ~(1ull << lane));
}

void jnl_rsnap_flush(struct ilog_dev *d, struct jnl_rsnap *s)
{
	uint64_t m = atomic_load(&d->retired);

	s->mask = m;
	while (m) {
		unsigned lane = (unsigned)__builtin_ctzll(m);

		m &= m - 1;
		/* rseq grew before the bit was set: this retire or a later */
		s->seq[lane] = atomic_load(&d->rseq[lane]);
		pmio_flush(d->p, &d->jnl[lane].state, 8);
	}
}

void jnl_rsnap_fenced(struct ilog_dev *d, const struct jnl_rsnap *s,
		      unsigned own)
{
	uint64_t m = s->mask;

	while (m) {
		unsigned lane = (unsigned)__builtin_ctzll(m);
		bool mine = lane == own;

		m &= m - 1;
		/* LOG(7)(b): only while holding the lane, only if no retire
		 * came after the one whose line was flushed */
		if (!mine && pthread_mutex_trylock(&d->lane_mu[lane]) != 0)
			continue;
		if (atomic_load(&d->rseq[lane]) == s->seq[lane])
			atomic_fetch_and(&d->retired, ~(1ull << lane));
		if (!mine)
			pthread_mutex_unlock(&d->lane_mu[lane]);
	}
}

unsigned jnl_lane_hold(struct ilog_dev *d, unsigned pref)
{
	unsigned n = d->nlanes;

	pref %= n;
	/* first a lane whose records may be reused at once (LOG(7)(c)) */
	for (unsigned k = 0; k < n; k++) {
		unsigned l = (pref + k) % n;

		if (!(atomic_load(&d->retired) & (1ull << l)) &&
		    pthread_mutex_trylock(&d->lane_mu[l]) == 0)
			return l;
	}
	for (unsigned k = 0; k < n; k++) {
		unsigned l = (pref + k) % n;

		if (pthread_mutex_trylock(&d->lane_mu[l]) == 0)
			return l;
	}
	pthread_mutex_lock(&d->lane_mu[pref]);
	return pref;
}

void jnl_lane_release(struct ilog_dev *d, unsigned lane)
{
	pthread_mutex_unlock(&d->lane_mu[lane]);
}

void jnl_commit(struct ilog_dev *d, unsigned lane, const struct jnl_tx *t)
{
	struct pmfs_journal *j = &d->jnl[lane];
	uint32_t crc = fmt_jnl_crc(t->rec, t->n);
	struct jnl_rsnap rs;

	if (atomic_load(&d->retired) & (1ull << lane)) {
		/* LOG(7)(c): this lane's last retire may not be durable; its
		 * records must not change under a still-ACTIVE state */
		jnl_rsnap_flush(d, &rs);
		pmio_drain(d->p); /* ORDER: old retire durable before records reused */
		jnl_rsnap_fenced(d, &rs, lane);
	}
	/* step 1: records (the caller flushed its entries), LOG(7) lines */
	pmio_memcpy_nodrain(d->p, j->rec, t->rec, t->n * sizeof(t->rec[0]));
	jnl_rsnap_flush(d, &rs);
	pmio_drain(d->p); /* step 2 ORDER: entries+records durable before commit */
	jnl_rsnap_fenced(d, &rs, lane);
	/* step 3: the real commit */
	pmio_commit64(d->p, &j->state, PMFS_JNL_STATE(t->n, crc));
	pmio_drain(d->p); /* step 4 ORDER: journal commit durable before apply */
	/* step 5 */
	for (unsigned i = 0; i < t->n; i++)
		pmio_commit64(d->p, (uint64_t *)ilog_ptr(d, t->rec[i].addr),
			      t->rec[i].val);
	pmio_drain(d->p); /* step 6 ORDER: commit words durable before retire */
	/* step 7: retire without a fence, LOG(7) */
	pmio_store64(d->p, &j->state, 0);
	pmio_store64(d->p, &j->seq, j->seq + 1);
	pmio_flush(d->p, &j->state, 16);
	atomic_fetch_add(&d->rseq[lane], 1); /* LOG(7)(a): count, then bit */
	atomic_fetch_or(&d->retired, 1ull << lane);
}

/* The itdir word for chunk c as it will be after the records apply. */
static uint64_t chunk_after(const struct ilog_dev *d,
			    const struct pmfs_journal *j, uint32_t n,
			    uint64_t c)
{
	uint64_t woff = ilog_off(d, &d->itdir[c]), v = d->itdir[c];

	for (uint32_t i = 0; i < n; i++)
		if (j->rec[i].addr == woff)
			v = j->rec[i].val;
	return v;
}

/* LOG(6): is addr an itdir word, or an inode's tail/head in a chunk that
 * is (or will be) allocated? */
static bool rec_addr_ok(const struct ilog_dev *d,
			const struct pmfs_journal *j, uint32_t n,
			uint64_t addr)
{
	uint64_t it0 = ilog_off(d, d->itdir);
	uint64_t it1 = it0 + (uint64_t)PMFS_ITDIR_ENTRIES * 8;

	if (addr % 8)
		return false;
	if (addr >= it0 && addr < it1) {
		uint64_t c = (addr - it0) / 8;
		uint64_t v = chunk_after(d, j, n, c);

		return v == 0 || (v >= d->data_start &&
				  v + PMFS_CHUNK_BLOCKS <= d->total_blocks);
	}
	for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES; c++) {
		uint64_t b = chunk_after(d, j, n, c), lo, in;

		if (b < d->data_start || b + PMFS_CHUNK_BLOCKS > d->total_blocks)
			continue;
		lo = fmt_blk_off(b);
		if (addr < lo || addr >= lo + fmt_blk_off(PMFS_CHUNK_BLOCKS))
			continue;
		in = (addr - lo) % PMFS_INODE_SIZE;
		return (in == offsetof(struct pmfs_inode, tail) ||
			in == offsetof(struct pmfs_inode, head)) &&
		       !(c == 0 && addr - lo < PMFS_INODE_SIZE);
	}
	return false;
}

int jnl_check(const struct ilog_dev *d, unsigned lane, char *why,
	      size_t whylen)
{
	const struct pmfs_journal *j = &d->jnl[lane];
	uint64_t s = j->state;
	uint32_t n;

	if (s == 0)
		return 0;
	n = PMFS_JNL_STATE_NREC(s);
	if (PMFS_JNL_STATE_MAGIC(s) != PMFS_JNL_ACTIVE || n > PMFS_JREC_MAX) {
		snprintf(why, whylen, "journal %u: bad state word %#" PRIx64,
			 lane, s);
		return -EUCLEAN;
	}
	if (fmt_jnl_crc(j->rec, n) != PMFS_JNL_STATE_CRC(s)) {
		snprintf(why, whylen, "journal %u: record checksum mismatch",
			 lane);
		return -EUCLEAN;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (!rec_addr_ok(d, j, n, j->rec[i].addr)) {
			snprintf(why, whylen,
				 "journal %u: record %u addresses %#" PRIx64
				 ", not a commit word",
				 lane, i, (uint64_t)j->rec[i].addr);
			return -EUCLEAN;
		}
	}
	return 1;
}

int recov_journals(struct ilog_dev *d, uint64_t *replayed)
{
	char why[160];
	uint64_t n = 0;
	int err;

	/* check every lane before changing anything */
	for (unsigned l = 0; l < d->nlanes; l++) {
		err = jnl_check(d, l, why, sizeof(why));
		if (err < 0) {
			fprintf(stderr, "pmfs: %s; run fsck.pmfs\n", why);
			return err;
		}
	}
	for (unsigned l = 0; l < d->nlanes; l++) {
		struct pmfs_journal *j = &d->jnl[l];
		uint32_t nrec;

		if (j->state == 0)
			continue;
		nrec = PMFS_JNL_STATE_NREC(j->state);
		for (uint32_t i = 0; i < nrec; i++)
			pmio_commit64(d->p,
				      (uint64_t *)ilog_ptr(d, j->rec[i].addr),
				      j->rec[i].val);
		pmio_drain(d->p); /* ORDER: re-applied words durable before retire */
		pmio_commit64(d->p, &j->state, 0);
		pmio_drain(d->p); /* ORDER: retire durable before new changes */
		n++;
	}
	if (replayed)
		*replayed = n;
	return 0;
}
