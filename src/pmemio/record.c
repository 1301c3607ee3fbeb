/*
 * record.c - the recording backend of pmemio (PMIO_O_RECORD, tests only):
 * it sees every store to a mapping, every flush and every drain, and from
 * the recording rebuilds the images a power cut could leave (pmemio.h,
 * "Crash model").  It sits beside pmemio.c, which calls its hooks
 * (pmio_int.h); it calls nothing above pmemio.
 *
 * How stores are seen.  Nothing instruments the code under test: attach
 * keeps three copies of the mapping, all 8-byte-word granular:
 *   init   - the mapping at attach, the durable image of fence 0;
 *   shadow - the mapping as it was at the last fence;
 *   dur    - the durable image as of the last fence.
 * pmio_rec_flush(): every word of the flushed lines (rounded out to the
 * architecture's line) whose value differs from `dur`, or that was already
 * flushed in this interval, is noted in `pend` with its value now: it will
 * be durable with that value at the next drain.
 * pmio_rec_drain(): every word that differs from `shadow` changed in this
 * interval; its value now is "latest" for the crash point before this
 * fence.  If it was not flushed after its last change (no `pend` entry, or
 * the `pend` value differs), it is a store without a flush: counted for
 * pmio_rec_unflushed().  Then the `pend` words enter `dur` and the interval
 * closes.  A word flushed and re-stored keeps its flushed value durable and
 * its new value in flight.
 *
 * Dirty tracking.  Comparing a whole image at every drain would cost
 * fences x image size, so the mapping is kept write-protected and a
 * SIGSEGV handler marks the faulting page dirty and unprotects it; a drain
 * compares only dirty pages and protects them again (bit cleared, page
 * protected, then compared: a racing store faults again).  Faults the
 * handler does not own go to the handler installed before it.  If
 * mprotect cannot split the mapping (devdax), the mapping is read-only, or
 * env PMFS_REC_FULLSCAN=1 is set, every drain compares every page instead.
 * Stores made by the kernel (read(2) into the mapping) would fail with
 * EFAULT under tracking: code under test must not do that.
 *
 * What is kept.  Per interval j (between fence j and fence j+1) two lists
 * of (offset, value): `lat`, the words whose value at fence j+1 differs
 * from the one at fence j, and `durl`, the words that became durable at
 * fence j+1.  Memory grows with the words changed, not with fences x size.
 *
 * Crash points.  Point k (0 .. nfences) is a crash after fence k: durable
 * image D_k plus any subset of the words whose latest value L_k (the
 * mapping just before fence k+1, or at pmio_rec_cursor_new() for the last
 * point) differs from D_k.  The cursor copies the recording (so it outlives
 * pmio_close) and walks k upwards, applying durl(k-1) to D and lat(k) to L
 * and keeping the in-flight set (L != D) as a dense array with a per-word
 * position index, so each step costs only the words it touches.  It starts
 * before point 0: `while (pmio_rec_cursor_next(c))` visits every point.
 *
 * Locking: one mutex per recording around every hook; a process-wide
 * mutex around installing the signal handler and its table of recordings.
 * The handler itself takes no lock (atomic loads and bit sets only).
 * A failed allocation in a hook marks the recording broken; cursor_new then
 * returns -ENOMEM.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pmemio/pmio_int.h"
#include "util/util.h"

#define REC_SLOTS 16 /* recordings tracked at once per process */

/* A growable array of words. */
struct rec_wvec {
	struct pmio_rec_word *w;
	size_t n, cap;
};

/* A growable array of interval start indexes. */
struct rec_ivec {
	uint64_t *v;
	size_t n, cap;
};

struct pmio_rec {
	pthread_mutex_t lock;
	uint8_t *base;        /* the mapping */
	uint64_t size;        /* bytes, a multiple of 8 is used */
	uint64_t nwords;
	unsigned line;        /* flush granule */
	uint64_t pgsz, npages;
	int track;            /* 1: mprotect dirty tracking is on */
	uint64_t *dirty;      /* bitmap of pages stored to since the fence */
	uint8_t *init, *shadow, *dur;
	uint32_t *pend_pos;   /* per word: 1 + index in pend, 0 if none */
	struct rec_wvec pend; /* flushed in this interval, value at flush */
	struct rec_wvec lat, durl;
	struct rec_ivec lat_idx, dur_idx; /* start of interval j: [j] */
	uint64_t nfences;
	uint64_t unflushed, first_unflushed;
	int broken;           /* an allocation failed: recording incomplete */
};

struct pmio_rec_cursor {
	uint64_t size, nwords, nfences;
	uint64_t k;
	int started;
	uint8_t *d, *l;   /* durable and latest images at point k */
	uint32_t *pos;    /* per word: 1 + index in `in`, 0 if not in flight */
	struct rec_wvec in;
	struct rec_wvec lat, durl;    /* copies; lat has the tail interval */
	uint64_t *lat_idx, *dur_idx;  /* nfences + 2, nfences + 1 entries */
};

static pthread_mutex_t rec_glock = PTHREAD_MUTEX_INITIALIZER;
static struct pmio_rec *rec_slots[REC_SLOTS];
static unsigned rec_nslots;
static struct sigaction rec_old_segv;

/* Append a word; 0 or -ENOMEM. */
static int rec_wvec_push(struct rec_wvec *v, uint64_t off, uint64_t val)
{
	if (util_grow(&v->w, &v->cap, v->n, sizeof(*v->w), 256))
		return -ENOMEM;
	v->w[v->n].off = off;
	v->w[v->n].val = val;
	v->n++;
	return 0;
}

/* Append an index; 0 or -ENOMEM. */
static int rec_ivec_push(struct rec_ivec *v, uint64_t x)
{
	if (util_grow(&v->v, &v->cap, v->n, sizeof(*v->v), 256))
		return -ENOMEM;
	v->v[v->n++] = x;
	return 0;
}

/* The 8-byte word at byte offset off of img. */
static inline uint64_t rec_word(const uint8_t *img, uint64_t off)
{
	uint64_t v;

	memcpy(&v, img + off, sizeof(v));
	return v;
}

/* Set the 8-byte word at byte offset off of img. */
static inline void rec_set_word(uint8_t *img, uint64_t off, uint64_t v)
{
	memcpy(img + off, &v, sizeof(v));
}

/* SIGSEGV: mark a write-protected page of a recording dirty and open it. */
static void rec_segv(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	int saved = errno;
	unsigned i;

	for (i = 0; i < REC_SLOTS && si->si_code == SEGV_ACCERR; i++) {
		struct pmio_rec *r = __atomic_load_n(&rec_slots[i],
						     __ATOMIC_ACQUIRE);
		uint64_t pg;

		if (!r || a < (uintptr_t)r->base ||
		    a >= (uintptr_t)r->base + r->size)
			continue;
		pg = (a - (uintptr_t)r->base) / r->pgsz;
		/* open first, mark second: a drain on another thread between
		 * the two would otherwise clear the mark and close the page
		 * again under this store, which would go unrecorded */
		mprotect(r->base + pg * r->pgsz, r->pgsz,
			 PROT_READ | PROT_WRITE);
		__atomic_fetch_or(&r->dirty[pg / 64], 1ULL << (pg % 64),
				  __ATOMIC_SEQ_CST);
		errno = saved;
		return;
	}
	/* Not ours: hand over to whoever was there before. */
	if (rec_old_segv.sa_flags & SA_SIGINFO) {
		rec_old_segv.sa_sigaction(sig, si, uc);
	} else if (rec_old_segv.sa_handler == SIG_DFL ||
		   rec_old_segv.sa_handler == SIG_IGN) {
		signal(SIGSEGV, SIG_DFL); /* the store faults again, fatally */
	} else {
		rec_old_segv.sa_handler(sig);
	}
	errno = saved;
}

/* Register r with the signal handler (installing it first); 0 or -errno. */
static int rec_track_start(struct pmio_rec *r)
{
	struct sigaction sa;
	unsigned i;
	int rc = -ENOSPC;

	pthread_mutex_lock(&rec_glock);
	for (i = 0; i < REC_SLOTS; i++)
		if (!rec_slots[i])
			break;
	if (i == REC_SLOTS)
		goto out_unlock;
	if (rec_nslots == 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = rec_segv;
		sa.sa_flags = SA_SIGINFO | SA_RESTART;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSEGV, &sa, &rec_old_segv) != 0) {
			rc = -errno;
			goto out_unlock;
		}
	}
	__atomic_store_n(&rec_slots[i], r, __ATOMIC_RELEASE);
	rec_nslots++;
	rc = 0;
out_unlock:
	pthread_mutex_unlock(&rec_glock);
	return rc;
}

/* Unregister r; the handler goes away with the last recording. */
static void rec_track_stop(struct pmio_rec *r)
{
	unsigned i;

	pthread_mutex_lock(&rec_glock);
	for (i = 0; i < REC_SLOTS; i++) {
		if (rec_slots[i] != r)
			continue;
		__atomic_store_n(&rec_slots[i], NULL, __ATOMIC_RELEASE);
		if (--rec_nslots == 0) {
			struct sigaction cur;

			/* Leave a handler installed after ours alone. */
			if (sigaction(SIGSEGV, NULL, &cur) == 0 &&
			    (cur.sa_flags & SA_SIGINFO) &&
			    cur.sa_sigaction == rec_segv)
				sigaction(SIGSEGV, &rec_old_segv, NULL);
		}
		break;
	}
	pthread_mutex_unlock(&rec_glock);
}

/* Whether mprotect can protect and reopen one page of the mapping alone. */
static int rec_can_split(struct pmio_rec *r)
{
	if (r->npages < 2)
		return mprotect(r->base, r->pgsz, PROT_READ) == 0 &&
		       mprotect(r->base, r->pgsz,
				PROT_READ | PROT_WRITE) == 0;
	if (mprotect(r->base + r->pgsz, r->pgsz, PROT_READ) != 0)
		return 0;
	return mprotect(r->base + r->pgsz, r->pgsz,
			PROT_READ | PROT_WRITE) == 0;
}

/* Free everything a recording holds. */
static void rec_free(struct pmio_rec *r)
{
	free(r->dirty);
	free(r->init);
	free(r->shadow);
	free(r->dur);
	free(r->pend_pos);
	free(r->pend.w);
	free(r->lat.w);
	free(r->durl.w);
	free(r->lat_idx.v);
	free(r->dur_idx.v);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Start recording p's mapping: fence 0 is its content now. */
int pmio_rec_attach(struct pmio *p)
{
	struct pmio_rec *r;
	const char *env = getenv("PMFS_REC_FULLSCAN");
	long pg = sysconf(_SC_PAGESIZE);
	int rc = -ENOMEM;

	if (!p || !p->base || p->size < 8)
		return -EINVAL;
	if (p->size / 8 >= UINT32_MAX)
		return -EFBIG;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->base = p->base;
	r->size = p->size & ~7ULL;
	r->nwords = r->size / 8;
	r->line = p->arch && p->arch->line ? p->arch->line : 64;
	r->pgsz = pg > 0 ? (uint64_t)pg : 4096;
	r->npages = (p->size + r->pgsz - 1) / r->pgsz;
	r->dirty = calloc((r->npages + 63) / 64, sizeof(uint64_t));
	r->init = malloc(r->size);
	r->shadow = malloc(r->size);
	r->dur = malloc(r->size);
	r->pend_pos = calloc(r->nwords, sizeof(uint32_t));
	if (!r->dirty || !r->init || !r->shadow || !r->dur || !r->pend_pos)
		goto out_free;
	memcpy(r->init, r->base, r->size);
	memcpy(r->shadow, r->init, r->size);
	memcpy(r->dur, r->init, r->size);
	if (rec_ivec_push(&r->lat_idx, 0) || rec_ivec_push(&r->dur_idx, 0))
		goto out_free;

	r->track = !(p->flags & PMIO_O_RDONLY) && !(env && *env == '1') &&
		   ((uintptr_t)r->base % r->pgsz) == 0 && rec_can_split(r);
	if (r->track) {
		rc = rec_track_start(r);
		if (rc)
			goto out_free;
		if (mprotect(r->base, r->npages * r->pgsz, PROT_READ) != 0) {
			rc = -errno;
			rec_track_stop(r);
			goto out_free;
		}
	}
	p->rec = r;
	return 0;

out_free:
	rec_free(r);
	return rc;
}

/* Stop recording: open the mapping again and free the recording. */
void pmio_rec_detach(struct pmio *p)
{
	struct pmio_rec *r = p ? p->rec : NULL;

	if (!r)
		return;
	if (r->track) {
		mprotect(r->base, r->npages * r->pgsz, PROT_READ | PROT_WRITE);
		rec_track_stop(r);
	}
	p->rec = NULL;
	rec_free(r);
}

/* Note the words of the lines covering [addr, addr+len) as flushed. */
void pmio_rec_flush(struct pmio *p, const void *addr, size_t len)
{
	struct pmio_rec *r = p ? p->rec : NULL;
	uintptr_t lo, hi, b;
	uint64_t off, end;

	if (!r || len == 0)
		return;
	b = (uintptr_t)r->base;
	lo = (uintptr_t)addr;
	hi = lo + len;
	if (hi <= b || lo >= b + r->size)
		return;
	off = lo < b ? 0 : lo - b;
	end = hi - b > r->size ? r->size : hi - b;
	off -= off % r->line;
	end = (end + r->line - 1) / r->line * r->line;
	if (end > r->size)
		end = r->size;

	pthread_mutex_lock(&r->lock);
	for (; off < end; off += 8) {
		uint64_t cur = rec_word(r->base, off);
		uint32_t pos = r->pend_pos[off / 8];

		if (pos) {
			r->pend.w[pos - 1].val = cur;
		} else if (cur != rec_word(r->dur, off)) {
			if (rec_wvec_push(&r->pend, off, cur)) {
				r->broken = 1;
				break;
			}
			r->pend_pos[off / 8] = (uint32_t)r->pend.n;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

/*
 * Words of pages [pg, pg+n) that differ from the shadow: append them to
 * `out`; when `fence`, also update the shadow and count unflushed words.
 */
static int rec_diff_pages(struct pmio_rec *r, uint64_t pg, uint64_t n,
			  struct rec_wvec *out, int fence)
{
	uint64_t off = pg * r->pgsz;
	uint64_t end = (pg + n) * r->pgsz;

	if (end > r->size)
		end = r->size;
	for (; off < end; off += r->pgsz) {
		uint64_t pend = off + r->pgsz < end ? off + r->pgsz : end;
		uint64_t o;

		if (memcmp(r->base + off, r->shadow + off, pend - off) == 0)
			continue;
		for (o = off; o < pend; o += 8) {
			uint64_t cur = rec_word(r->base, o);
			uint32_t pos;

			if (cur == rec_word(r->shadow, o))
				continue;
			if (rec_wvec_push(out, o, cur))
				return -ENOMEM;
			if (!fence)
				continue;
			rec_set_word(r->shadow, o, cur);
			pos = r->pend_pos[o / 8];
			if (!pos || r->pend.w[pos - 1].val != cur) {
				if (r->unflushed++ == 0)
					r->first_unflushed = o;
			}
		}
	}
	return 0;
}

/*
 * Diff every page stored to since the last fence (all pages without
 * tracking) into `out`.  With `fence`, the pages are protected again first
 * and the shadow follows the mapping.
 */
static int rec_diff_dirty(struct pmio_rec *r, struct rec_wvec *out, int fence)
{
	uint64_t i, nw = (r->npages + 63) / 64;

	if (!r->track)
		return rec_diff_pages(r, 0, r->npages, out, fence);
	for (i = 0; i < nw; i++) {
		uint64_t bits;

		if (fence)
			bits = __atomic_exchange_n(&r->dirty[i], 0,
						   __ATOMIC_SEQ_CST);
		else
			bits = __atomic_load_n(&r->dirty[i],
					       __ATOMIC_SEQ_CST);
		while (bits) {
			unsigned s = (unsigned)__builtin_ctzll(bits);
			unsigned e = s;
			uint64_t pg = i * 64 + s;

			while (e < 64 && (bits >> e & 1))
				e++;
			bits = e < 64 ? bits & ~((1ULL << e) - 1) : 0;
			if (fence)
				mprotect(r->base + pg * r->pgsz,
					 (e - s) * r->pgsz, PROT_READ);
			if (rec_diff_pages(r, pg, e - s, out, fence))
				return -ENOMEM;
		}
	}
	return 0;
}

/* Close the current fence interval: record what changed and what is durable. */
void pmio_rec_drain(struct pmio *p)
{
	struct pmio_rec *r = p ? p->rec : NULL;
	size_t i;

	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	if (rec_diff_dirty(r, &r->lat, 1))
		r->broken = 1;
	for (i = 0; i < r->pend.n; i++) {
		const struct pmio_rec_word *w = &r->pend.w[i];

		r->pend_pos[w->off / 8] = 0;
		if (w->val == rec_word(r->dur, w->off))
			continue;
		rec_set_word(r->dur, w->off, w->val);
		if (rec_wvec_push(&r->durl, w->off, w->val))
			r->broken = 1;
	}
	r->pend.n = 0;
	if (rec_ivec_push(&r->lat_idx, r->lat.n) ||
	    rec_ivec_push(&r->dur_idx, r->durl.n))
		r->broken = 1;
	r->nfences++;
	pthread_mutex_unlock(&r->lock);
}

/* Number of fences recorded so far. */
uint64_t pmio_rec_fences(const struct pmio *p)
{
	struct pmio_rec *r = p ? p->rec : NULL;
	uint64_t n;

	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	n = r->nfences;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* Words found stored but not flushed at a drain, and the first offset. */
uint64_t pmio_rec_unflushed(const struct pmio *p, uint64_t *first_off)
{
	struct pmio_rec *r = p ? p->rec : NULL;
	uint64_t n;

	if (!r) {
		if (first_off)
			*first_off = 0;
		return 0;
	}
	pthread_mutex_lock(&r->lock);
	n = r->unflushed;
	if (first_off)
		*first_off = r->first_unflushed;
	pthread_mutex_unlock(&r->lock);
	return n;
}

/* Copy n words of src into a fresh vector; 0 or -ENOMEM. */
static int rec_wvec_copy(struct rec_wvec *dst, const struct pmio_rec_word *src,
			 size_t n, size_t extra)
{
	dst->cap = n + extra ? n + extra : 1;
	dst->w = malloc(dst->cap * sizeof(*dst->w));
	if (!dst->w)
		return -ENOMEM;
	if (n)
		memcpy(dst->w, src, n * sizeof(*src));
	dst->n = n;
	return 0;
}

/* Free a cursor and everything it copied. */
void pmio_rec_cursor_free(struct pmio_rec_cursor *c)
{
	if (!c)
		return;
	free(c->d);
	free(c->l);
	free(c->pos);
	free(c->in.w);
	free(c->lat.w);
	free(c->durl.w);
	free(c->lat_idx);
	free(c->dur_idx);
	free(c);
}

/* A cursor over a copy of p's recording, positioned before crash point 0. */
int pmio_rec_cursor_new(struct pmio *p, struct pmio_rec_cursor **out)
{
	struct pmio_rec *r = p ? p->rec : NULL;
	struct pmio_rec_cursor *c;
	size_t nidx;
	int rc = -ENOMEM;

	*out = NULL;
	if (!r)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	pthread_mutex_lock(&r->lock);
	if (r->broken)
		goto out_unlock;
	c->size = r->size;
	c->nwords = r->nwords;
	c->nfences = r->nfences;
	nidx = r->nfences + 1;
	c->d = malloc(r->size);
	c->l = malloc(r->size);
	c->pos = calloc(r->nwords, sizeof(uint32_t));
	c->lat_idx = malloc((nidx + 1) * sizeof(uint64_t));
	c->dur_idx = malloc(nidx * sizeof(uint64_t));
	if (!c->d || !c->l || !c->pos || !c->lat_idx || !c->dur_idx)
		goto out_unlock;
	if (rec_wvec_copy(&c->lat, r->lat.w, r->lat.n, 64) ||
	    rec_wvec_copy(&c->durl, r->durl.w, r->durl.n, 0))
		goto out_unlock;
	memcpy(c->lat_idx, r->lat_idx.v, nidx * sizeof(uint64_t));
	memcpy(c->dur_idx, r->dur_idx.v, nidx * sizeof(uint64_t));
	/* The tail interval: stores since the last fence, never fenced. */
	if (rec_diff_dirty(r, &c->lat, 0))
		goto out_unlock;
	c->lat_idx[nidx] = c->lat.n;
	memcpy(c->d, r->init, r->size);
	memcpy(c->l, r->init, r->size);
	rc = 0;
out_unlock:
	pthread_mutex_unlock(&r->lock);
	if (rc) {
		pmio_rec_cursor_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* Put word off in or out of the in-flight set after D or L changed. */
static int rec_cursor_touch(struct pmio_rec_cursor *c, uint64_t off)
{
	uint64_t lv = rec_word(c->l, off);
	uint32_t pos = c->pos[off / 8];

	if (lv != rec_word(c->d, off)) {
		if (pos) {
			c->in.w[pos - 1].val = lv;
			return 0;
		}
		if (rec_wvec_push(&c->in, off, lv))
			return -ENOMEM;
		c->pos[off / 8] = (uint32_t)c->in.n;
		return 0;
	}
	if (pos) { /* swap the last word into its place */
		struct pmio_rec_word *last = &c->in.w[c->in.n - 1];

		c->in.w[pos - 1] = *last;
		c->pos[last->off / 8] = pos;
		c->pos[off / 8] = 0;
		c->in.n--;
	}
	return 0;
}

/* Apply interval j's words of log (indexes idx) to img, updating the set. */
static int rec_cursor_apply(struct pmio_rec_cursor *c, uint8_t *img,
			    const struct rec_wvec *log, const uint64_t *idx,
			    uint64_t j)
{
	uint64_t i;

	for (i = idx[j]; i < idx[j + 1]; i++) {
		rec_set_word(img, log->w[i].off, log->w[i].val);
		if (rec_cursor_touch(c, log->w[i].off))
			return -ENOMEM;
	}
	return 0;
}

/* Move to the next crash point; false after the last one (or on ENOMEM). */
bool pmio_rec_cursor_next(struct pmio_rec_cursor *c)
{
	if (!c->started) {
		c->started = 1;
		c->k = 0;
		return rec_cursor_apply(c, c->l, &c->lat, c->lat_idx, 0) == 0;
	}
	if (c->k >= c->nfences)
		return false;
	if (rec_cursor_apply(c, c->d, &c->durl, c->dur_idx, c->k))
		return false;
	c->k++;
	return rec_cursor_apply(c, c->l, &c->lat, c->lat_idx, c->k) == 0;
}

/* Index of the current crash point. */
uint64_t pmio_rec_cursor_fence(const struct pmio_rec_cursor *c)
{
	return c->k;
}

/* Durable image at the current crash point. */
const void *pmio_rec_cursor_durable(const struct pmio_rec_cursor *c)
{
	return c->d;
}

/* The words in flight at the current crash point. */
size_t pmio_rec_cursor_inflight(const struct pmio_rec_cursor *c,
				const struct pmio_rec_word **words)
{
	if (words)
		*words = c->in.w;
	return c->in.n;
}

/* Durable image plus the kept in-flight words into out. */
void pmio_rec_cursor_image(const struct pmio_rec_cursor *c,
			   const uint8_t *keep, void *out)
{
	size_t i;

	memcpy(out, c->d, c->size);
	for (i = 0; keep && i < c->in.n; i++)
		if (keep[i])
			rec_set_word(out, c->in.w[i].off, c->in.w[i].val);
}
