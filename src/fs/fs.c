/*
 * fs.c - mount and unmount, the DRAM inode cache built from the logs
 * (fs_iget replays an inode's log through fs_apply; references keep a
 * DRAM inode alive while it is waited for; fs_lockset orders the inode
 * locks), atime policy, the directory index and the extent map, and the
 * staging of an operation's entries and journal records (fs_op_*) that
 * every mutating call uses.  See fs_int.h for the lock order.
 */
#include "fs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fmt.h"
#include "pmemio.h"

/* ---- small helpers ---------------------------------------------------- */

unsigned fs_lane(struct fs *fs)
{
	static _Atomic unsigned next;
	static __thread unsigned lane = ~0u;

	if (lane == ~0u)
		lane = atomic_fetch_add(&next, 1);
	return lane % fs->d.nlanes;
}

unsigned fs_lane_hold(struct fs *fs)
{
	return jnl_lane_hold(&fs->d, fs_lane(fs));
}

void fs_lane_release(struct fs *fs, unsigned lane)
{
	jnl_lane_release(&fs->d, lane);
}

int fs_media_error(struct fs *fs, const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&fs->media_errors, 1);
	fputs("pmfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; run fsck.pmfs\n", stderr);
	return -EIO;
}

uint64_t fs_media_errors(struct fs *fs)
{
	return atomic_load(&fs->media_errors);
}

void fs_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

static uint64_t name_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

int fs_check_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return -ENOENT;
	if (n > PMFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (strchr(name, '/'))
		return -EINVAL;
	return 0;
}

/* ---- directory index -------------------------------------------------- */

struct fs_dent *fs_dir_find(struct fs_dir *d, const char *name, size_t nlen)
{
	uint64_t h;

	if (!d || !d->hcap)
		return NULL;
	h = name_hash(name, nlen);
	for (struct fs_dent *e = d->ht[h & (d->hcap - 1)]; e; e = e->hnext)
		if (e->hash == h && e->nlen == nlen &&
		    memcmp(e->name, name, nlen) == 0)
			return e;
	return NULL;
}

static int dir_grow(struct fs_dir *d)
{
	size_t nc = d->hcap ? d->hcap * 2 : 16;
	struct fs_dent **nt = calloc(nc, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < d->hcap; i++) {
		struct fs_dent *e = d->ht[i], *nx;

		for (; e; e = nx) {
			nx = e->hnext;
			e->hnext = nt[e->hash & (nc - 1)];
			nt[e->hash & (nc - 1)] = e;
		}
	}
	free(d->ht);
	d->ht = nt;
	d->hcap = nc;
	return 0;
}

static void dir_unlink(struct fs_dir *d, struct fs_dent *e)
{
	struct fs_dent **pp = &d->ht[e->hash & (d->hcap - 1)];
	size_t lo = 0, hi = d->nord;

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	d->n--;
	d->bytes -= fmt_dentry_len(e->nlen);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (d->ordc[mid] < e->cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < d->nord && d->ord[lo] == e) {
		d->ord[lo] = NULL;
		d->ndead++;
	}
	free(e);
}

/* A DRAM directory entry for de (not in any index yet); NULL: ENOMEM. */
static struct fs_dent *dent_new(const struct pmfs_le_dentry *de)
{
	struct fs_dent *e = malloc(sizeof(*e) + de->name_len + 1);

	if (!e)
		return NULL;
	e->hnext = NULL;
	e->ino = de->ino;
	e->cookie = de->cookie;
	e->gen = de->gen;
	e->ftype = de->ftype;
	e->nlen = de->name_len;
	memcpy(e->name, de->name, de->name_len);
	e->name[de->name_len] = 0;
	e->hash = name_hash(e->name, e->nlen);
	return e;
}

static int dir_add(struct fs_dir *d, const struct pmfs_le_dentry *de)
{
	struct fs_dent *e, *old;
	int err;

	old = fs_dir_find(d, (const char *)de->name, de->name_len);
	if (old)
		dir_unlink(d, old);
	if (d->n + 1 > d->hcap && (err = dir_grow(d)))
		return err;
	if (d->nord == d->ordcap) {
		size_t nc = d->ordcap ? d->ordcap * 2 : 16;
		struct fs_dent **no;
		uint64_t *nco;

		if (d->ndead > d->nord / 2) { /* compact instead */
			size_t k = 0;

			for (size_t i = 0; i < d->nord; i++)
				if (d->ord[i]) {
					d->ord[k] = d->ord[i];
					d->ordc[k++] = d->ordc[i];
				}
			d->nord = k;
			d->ndead = 0;
		} else {
			no = realloc(d->ord, nc * sizeof(*no));
			if (!no)
				return -ENOMEM;
			d->ord = no;
			nco = realloc(d->ordc, nc * sizeof(*nco));
			if (!nco)
				return -ENOMEM;
			d->ordc = nco;
			d->ordcap = nc;
		}
	}
	e = dent_new(de);
	if (!e)
		return -ENOMEM;
	e->hnext = d->ht[e->hash & (d->hcap - 1)];
	d->ht[e->hash & (d->hcap - 1)] = e;
	d->n++;
	d->bytes += fmt_dentry_len(e->nlen);
	if (d->nord && d->ordc[d->nord - 1] >= e->cookie) {
		/* out-of-order cookie (only from a damaged log): keep sorted */
		size_t i = d->nord;

		while (i > 0 && d->ordc[i - 1] > e->cookie) {
			d->ord[i] = d->ord[i - 1];
			d->ordc[i] = d->ordc[i - 1];
			i--;
		}
		d->ord[i] = e;
		d->ordc[i] = e->cookie;
		d->nord++;
		return 0;
	}
	d->ord[d->nord] = e;
	d->ordc[d->nord++] = e->cookie;
	return 0;
}

static void dir_free(struct fs_dir *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->hcap; i++) {
		struct fs_dent *e = d->ht[i], *nx;

		for (; e; e = nx) {
			nx = e->hnext;
			free(e);
		}
	}
	free(d->ht);
	free(d->ord);
	free(d->ordc);
	free(d->topdel);
	memset(d, 0, sizeof(*d));
}

/* ---- extent map ------------------------------------------------------- */

/*
 * The file offset -> block map is a radix tree of 64-way nodes over page
 * numbers, grown in height on demand: a leaf holds one word per page
 * (0: hole, else the block number, EMAP_UNWRITTEN set for fallocated
 * blocks).  find is O(height), a set or punch of n pages O(n + height),
 * empty subtrees are skipped (and freed by hole sets), so a huge sparse
 * file costs what it maps.  Extents are the maximal runs of consecutive
 * blocks with equal flags; m->next counts them, kept exact per change
 * (GC sizes a compacted log from it).
 */
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

/* ---- replay ----------------------------------------------------------- */

static void xattr_del(struct fs_inode *ip, const char *name, size_t nlen)
{
	for (struct fs_xattr **pp = &ip->xattrs; *pp; pp = &(*pp)->next) {
		struct fs_xattr *x = *pp;

		if (x->nlen == nlen && memcmp(x->name, name, nlen) == 0) {
			*pp = x->next;
			free(x->name);
			free(x->val);
			free(x);
			return;
		}
	}
}

/* fs_apply's callbacks (log.h, ilog_replay_ops): DRAM indexes of ip. */
struct apply_arg {
	struct fs *fs;
	struct fs_inode *ip;
	bool live;
};

static int ap_extent(void *arg, uint64_t pgoff, uint64_t n, uint64_t blk,
		     uint32_t flags)
{
	struct apply_arg *aa = arg;

	return fs_emap_set(aa->fs, &aa->ip->map, pgoff, n, blk, flags,
			   aa->live);
}

static int ap_truncate(void *arg, uint64_t from_pg)
{
	struct apply_arg *aa = arg;

	fs_emap_truncate(aa->fs, &aa->ip->map, from_pg, aa->live);
	return 0;
}

/* ilog_apply calls these before it raises st.maxcookie to de->cookie. */
static int ap_dentry_add(void *arg, const struct pmfs_le_dentry *de)
{
	struct apply_arg *aa = arg;
	struct fs_dir *d = aa->ip->dir;

	if (!d && !(d = aa->ip->dir = calloc(1, sizeof(struct fs_dir))))
		return -ENOMEM;
	if (de->cookie > aa->ip->st.maxcookie) { /* a live entry holds it */
		free(d->topdel);
		d->topdel = NULL;
	}
	return dir_add(d, de);
}

static int ap_dentry_del(void *arg, const struct pmfs_le_dentry *de)
{
	struct apply_arg *aa = arg;
	struct fs_dir *d = aa->ip->dir;
	struct fs_dent *x;

	if (de->cookie >= aa->ip->st.maxcookie) {
		/* the entry holding the highest cookie goes (fs_dir.topdel) */
		if (!d && !(d = aa->ip->dir = calloc(1, sizeof(struct fs_dir))))
			return -ENOMEM;
		x = dent_new(de);
		if (!x)
			return -ENOMEM;
		free(d->topdel);
		d->topdel = x;
	}
	x = fs_dir_find(d, (const char *)de->name, de->name_len);
	if (x)
		dir_unlink(d, x);
	return 0;
}

static int ap_symlink(void *arg, const char *target, uint32_t len,
		      uint64_t blk)
{
	struct fs_inode *ip = ((struct apply_arg *)arg)->ip;
	char *t = malloc(len + 1u);

	if (!t)
		return -ENOMEM;
	memcpy(t, target, len);
	t[len] = 0;
	free(ip->link);
	ip->link = t;
	ip->linklen = len;
	ip->linkblk = blk;
	return 0;
}

static int ap_xattr_del(void *arg, const char *name, size_t nlen)
{
	xattr_del(((struct apply_arg *)arg)->ip, name, nlen);
	return 0;
}

static int ap_xattr_set(void *arg, const char *name, size_t nlen,
			const void *val, size_t vlen)
{
	struct fs_inode *ip = ((struct apply_arg *)arg)->ip;
	struct fs_xattr *n;

	xattr_del(ip, name, nlen);
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->nlen = (uint8_t)nlen;
	n->vlen = (uint16_t)vlen;
	n->name = malloc(nlen + 1u);
	n->val = malloc(vlen ? vlen : 1u);
	if (!n->name || !n->val) {
		free(n->name);
		free(n->val);
		free(n);
		return -ENOMEM;
	}
	memcpy(n->name, name, nlen);
	n->name[nlen] = 0;
	memcpy(n->val, val, vlen);
	n->next = ip->xattrs;
	ip->xattrs = n;
	return 0;
}

static const struct ilog_replay_ops apply_ops = {
	.extent = ap_extent,
	.truncate = ap_truncate,
	.dentry_add = ap_dentry_add,
	.dentry_del = ap_dentry_del,
	.symlink = ap_symlink,
	.xattr_set = ap_xattr_set,
	.xattr_del = ap_xattr_del,
};

int fs_apply(struct fs *fs, struct fs_inode *ip, const struct pmfs_lentry *e,
	     bool live)
{
	struct apply_arg aa = { fs, ip, live };

	return ilog_apply(&fs->d, &ip->st, e, &apply_ops, &aa);
}

/* ---- inode cache ------------------------------------------------------ */

static struct fs_inode *icache_find(struct fs *fs, uint64_t ino)
{
	if (!fs->hcap)
		return NULL;
	for (struct fs_inode *ip = fs->ht[ino & (fs->hcap - 1)]; ip;
	     ip = ip->hnext)
		if (ip->ino == ino)
			return ip;
	return NULL;
}

static int icache_insert(struct fs *fs, struct fs_inode *ip)
{
	if (fs->n + 1 > fs->hcap) {
		size_t nc = fs->hcap ? fs->hcap * 2 : 64;
		struct fs_inode **nt = calloc(nc, sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		for (size_t i = 0; i < fs->hcap; i++) {
			struct fs_inode *x = fs->ht[i], *nx;

			for (; x; x = nx) {
				nx = x->hnext;
				x->hnext = nt[x->ino & (nc - 1)];
				nt[x->ino & (nc - 1)] = x;
			}
		}
		free(fs->ht);
		fs->ht = nt;
		fs->hcap = nc;
	}
	ip->hnext = fs->ht[ip->ino & (fs->hcap - 1)];
	fs->ht[ip->ino & (fs->hcap - 1)] = ip;
	fs->n++;
	return 0;
}

static struct fs_inode *inode_alloc(void)
{
	struct fs_inode *ip = calloc(1, sizeof(*ip));

	if (ip)
		pthread_rwlock_init(&ip->lock, NULL);
	return ip;
}

static void inode_free_dram(struct fs_inode *ip)
{
	dir_free(ip->dir);
	free(ip->dir);
	ip->dir = NULL;
	fs_emap_free(&ip->map);
	free(ip->link);
	while (ip->xattrs) {
		struct fs_xattr *x = ip->xattrs;

		ip->xattrs = x->next;
		free(x->name);
		free(x->val);
		free(x);
	}
	pthread_rwlock_destroy(&ip->lock);
	free(ip);
}

/* Unhash ip and mark it dead (its memory goes with the last fs_iput). */
void fs_icache_drop(struct fs *fs, struct fs_inode *ip)
{
	struct fs_inode **pp;

	pthread_rwlock_wrlock(&fs->icache_lk);
	pp = &fs->ht[ip->ino & (fs->hcap - 1)];
	while (*pp && *pp != ip)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = ip->hnext;
		fs->n--;
	}
	atomic_store(&ip->dead, true);
	pthread_rwlock_unlock(&fs->icache_lk);
}

struct replay_arg {
	struct apply_arg aa;
	ilog_page_fn page; /* may be NULL */
	void *parg;
	const struct ilog_replay_ops *ops;
	const char *why; /* what made the load fail (-EIO) */
};

/* The crash rebuild's replay: no directory index (fs_apply's callbacks
 * but the directory entries, which ilog_apply still checks and counts). */
static const struct ilog_replay_ops scan_ops = {
	.extent = ap_extent,
	.truncate = ap_truncate,
	.symlink = ap_symlink,
	.xattr_set = ap_xattr_set,
	.xattr_del = ap_xattr_del,
};

static int replay_page(void *arg, uint64_t off)
{
	struct replay_arg *ra = arg;
	struct fs *fs = ra->aa.fs;

	if (alloc_bad_blocks(fs->a) && alloc_is_bad(fs->a, fmt_off_blk(off))) {
		ra->why = "a log page is on a bad block";
		return -EIO;
	}
	return ra->page ? ra->page(ra->parg, off) : 0;
}

static int replay_entry(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	struct replay_arg *ra = arg;
	struct fs_inode *ip = ra->aa.ip;
	int err = ilog_apply(&ra->aa.fs->d, &ip->st, e, ra->ops, &ra->aa);

	if (err == -EIO)
		ra->why = ip->st.bad ? ip->st.bad : "invalid entry";
	return err;
}

/*
 * What a replayed inode must be besides a valid log (the rules fsck's
 * pass 4 and 6 apply): no block on the bad-block list, no written data
 * block past the size (fallocated blocks may lie there), a symlink's size
 * equal to its target's length.  A reason, or NULL.
 */
static const char *load_check(struct fs *fs, const struct fs_inode *ip)
{
	bool bad = alloc_bad_blocks(fs->a) != 0;
	uint64_t pages = (ip->st.size + PMFS_BLOCK_SIZE - 1) >> PMFS_BLOCK_SHIFT;
	struct fs_ext ext;

	if (S_ISLNK(ip->st.mode) && !ip->link)
		return "symlink without a target";
	if (S_ISLNK(ip->st.mode) && ip->st.size != ip->linklen)
		return "symlink size is not its target's length";
	if (bad && ip->linkblk && alloc_is_bad(fs->a, ip->linkblk))
		return "the symlink target is on a bad block";
	for (uint64_t pg = 0; fs_emap_next(&ip->map, pg, &ext);
	     pg = ext.pgoff + ext.n) {
		if (!(ext.flags & PMFS_WR_UNWRITTEN) &&
		    ext.pgoff + ext.n > pages)
			return "data blocks past the file size";
		for (uint64_t k = 0; bad && k < ext.n; k++)
			if (alloc_is_bad(fs->a, ext.blk + k))
				return "a data block is on a bad block";
	}
	return NULL;
}

/*
 * Build the DRAM inode of ino by replaying its log (page() sees every page,
 * may be NULL; scan: leave the directory index empty, for the crash
 * rebuild).  The log passes the validators fsck applies (ilog_walk2,
 * lent_check through ilog_apply), no page of it on the bad-block list,
 * and the inode passes load_check; otherwise the damage is reported
 * (fs_media_error).  Returns 0, -ENOENT, -ENOMEM, or -EIO with
 * *out set to a poisoned inode (later calls give -EIO at once).  Not in
 * the cache yet.
 */
static int inode_load(struct fs *fs, uint64_t ino, ilog_page_fn page,
		      void *parg, bool scan, struct fs_inode **out)
{
	struct pmfs_inode *slot = ilog_slot(&fs->d, ino);
	struct replay_arg ra;
	struct ilog_err ie;
	struct fs_inode *ip;
	int err;

	*out = NULL;
	if (!slot || slot->tail == 0)
		return -ENOENT;
	ip = inode_alloc();
	if (!ip)
		return -ENOMEM;
	ip->ino = ino;
	ip->gen = slot->gen;
	memset(&ra, 0, sizeof(ra));
	ra.aa.fs = fs;
	ra.aa.ip = ip;
	ra.page = page;
	ra.parg = parg;
	ra.ops = scan ? &scan_ops : &apply_ops;
	err = ilog_walk2(&fs->d, ino, slot->head, slot->tail, replay_entry,
			 replay_page, &ra, true, &ip->pos, &ie);
	if (err == -EIO && !ra.why)
		ra.why = ie.msg;
	if (err == 0 && ip->st.nentries == 0) {
		err = -EIO;
		ra.why = "log has no entry";
	}
	if (err == 0 && (ra.why = load_check(fs, ip)) != NULL)
		err = -EIO;
	if (err == -ENOMEM) {
		inode_free_dram(ip);
		return err;
	}
	if (err) {
		fs_media_error(fs, "inode %" PRIu64 ": corrupt log: %s", ino,
			       ra.why);
		dir_free(ip->dir);
		free(ip->dir);
		ip->dir = NULL;
		fs_emap_free(&ip->map);
		ip->err = -EIO;
		*out = ip;
		return -EIO;
	}
	ip->gc_base = ip->pos.npages;
	*out = ip;
	return 0;
}

/* Inode ino from the cache, loaded from its log on first use; a
 * reference is taken on success. */
int fs_iget(struct fs *fs, uint64_t ino, struct fs_inode **out)
{
	struct fs_inode *ip;
	int err;

	pthread_rwlock_rdlock(&fs->icache_lk);
	ip = icache_find(fs, ino);
	if (ip) {
		err = ip->err;
		if (!err)
			atomic_fetch_add(&ip->ref, 1);
		pthread_rwlock_unlock(&fs->icache_lk);
		if (!err)
			*out = ip;
		return err;
	}
	pthread_rwlock_unlock(&fs->icache_lk);
	pthread_rwlock_wrlock(&fs->icache_lk);
	ip = icache_find(fs, ino); /* loaded meanwhile? */
	if (ip) {
		err = ip->err;
		goto out;
	}
	err = inode_load(fs, ino, NULL, NULL, false, &ip);
	if (ip && icache_insert(fs, ip)) {
		inode_free_dram(ip);
		ip = NULL;
		err = -ENOMEM;
	}
out:
	if (!err) {
		atomic_fetch_add(&ip->ref, 1);
		*out = ip;
	}
	pthread_rwlock_unlock(&fs->icache_lk);
	return err;
}

void fs_iput(struct fs *fs, struct fs_inode *ip)
{
	/* the last reference to a dead inode frees it; a live inode stays
	 * cached */
	if (atomic_fetch_sub(&ip->ref, 1) == 1 && atomic_load(&ip->dead))
		inode_free_dram(ip);
}

int fs_iget_locked(struct fs *fs, uint64_t ino, bool write,
		   struct fs_inode **out)
{
	struct fs_inode *ip;
	int err;

	if (write && (err = fs_writable(fs)))
		return err;
	err = fs_iget(fs, ino, &ip);
	if (err)
		return err;
	if (write)
		fs_ilock_w(ip);
	else
		fs_ilock_r(ip);
	if (atomic_load(&ip->dead))
		err = -ENOENT;
	else if (write)
		err = fs_writable(fs);
	if (err) {
		fs_iput_unlock(fs, ip);
		return err;
	}
	*out = ip;
	return 0;
}

void fs_iput_unlock(struct fs *fs, struct fs_inode *ip)
{
	fs_iunlock(ip);
	fs_iput(fs, ip);
}

void fs_ls_add(struct fs *fs, struct fs_lockset *ls, struct fs_inode *ip)
{
	for (int i = 0; i < ls->n; i++) {
		if (ls->ip[i] == ip) {
			fs_iput(fs, ip);
			return;
		}
	}
	ls->ip[ls->n++] = ip;
}

void fs_ls_lock(struct fs_lockset *ls)
{
	/* lock order 2: increasing inode number */
	for (int i = 1; i < ls->n; i++) {
		struct fs_inode *x = ls->ip[i];
		int k = i;

		while (k > 0 && ls->ip[k - 1]->ino > x->ino) {
			ls->ip[k] = ls->ip[k - 1];
			k--;
		}
		ls->ip[k] = x;
	}
	for (int i = 0; i < ls->n; i++)
		fs_ilock_w(ls->ip[i]);
}

void fs_ls_release(struct fs *fs, struct fs_lockset *ls, bool locked)
{
	for (int i = ls->n - 1; i >= 0; i--) {
		if (locked)
			fs_iunlock(ls->ip[i]);
		fs_iput(fs, ls->ip[i]);
	}
	ls->n = 0;
}

/* ---- atime ------------------------------------------------------------ */

static bool ts_le(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

bool fs_atime_due(struct fs *fs, const struct fs_inode *ip)
{
	struct timespec now;

	if (fs->o.flags & FS_O_NOATIME || fs_writable(fs))
		return false;
	if (fs->o.flags & FS_O_STRICTATIME)
		return true;
	/* relatime: atime not newer than the last change, or a day old */
	if (ts_le(&ip->st.atime, &ip->st.mtime) || ts_le(&ip->st.atime, &ip->st.ctime))
		return true;
	fs_now(&now);
	return now.tv_sec - ip->st.atime.tv_sec >= 24 * 3600;
}

void fs_touch_atime(struct fs *fs, struct fs_inode *ip)
{
	struct ilog_state st = ip->st;
	union lent_buf b;
	struct fs_op op;

	if (fs_writable(fs) || atomic_load(&ip->dead))
		return;
	fs_now(&st.atime);
	fs_op_init(&op, fs, 0);
	if (fs_op_add(&op, ip, lent_attr(&b, PMFS_AT_ATIME, &st))) {
		fs_op_abort(&op); /* best effort: no space for the entry */
		return;
	}
	fs_op_commit(&op); /* LOG(4): 2 fences */
}

void fs_fill_attr(const struct fs_inode *ip, struct fs_attr *out)
{
	memset(out, 0, sizeof(*out));
	out->ino = ip->ino;
	out->gen = ip->gen;
	out->mode = ip->st.mode;
	out->nlink = ip->st.nlink;
	out->uid = ip->st.uid;
	out->gid = ip->st.gid;
	out->size = ip->st.size;
	out->blocks = ip->map.nblocks * (PMFS_BLOCK_SIZE / 512) +
		      (ip->linkblk ? PMFS_BLOCK_SIZE / 512 : 0);
	if (S_ISDIR(ip->st.mode)) {
		/* entry bytes as in the log, plus "." and ".."; a directory
		 * occupies its log pages */
		out->size = (ip->dir ? ip->dir->bytes : 0) +
			    2 * fmt_dentry_len(1);
		out->blocks = ip->pos.npages * (PMFS_BLOCK_SIZE / 512);
	}
	out->rdev = ip->st.rdev;
	out->atime = ip->st.atime;
	out->mtime = ip->st.mtime;
	out->ctime = ip->st.ctime;
	out->btime = ip->st.btime;
}

/* ---- operation staging ------------------------------------------------ */

void fs_op_init(struct fs_op *op, struct fs *fs, unsigned aflags)
{
	memset(op, 0, offsetof(struct fs_op, j));
	op->ent = NULL;
	op->entcap = 0;
	op->fs = fs;
	op->lane = fs_lane(fs);
	ilog_tx_init(&op->tx, &fs->d, fs->a, op->lane, aflags);
	jnl_tx_init(&op->j);
	op->nt = 0;
	op->ne = 0;
}

int fs_op_inode(struct fs_op *op, struct fs_inode *ip)
{
	for (int i = 0; i < op->nt; i++)
		if (op->t[i].ip == ip)
			return i;
	if (op->nt >= FS_OP_INODES)
		return -E2BIG;
	op->t[op->nt].ip = ip;
	op->t[op->nt].pos = ip->pos;
	op->t[op->nt].fresh = false;
	op->t[op->nt].freed = false;
	return op->nt++;
}

int fs_op_add(struct fs_op *op, struct fs_inode *ip,
	      const struct pmfs_lentry *e)
{
	int ti = fs_op_inode(op, ip), err;
	struct pmfs_lentry *c;

	if (ti < 0)
		return ti;
	if (op->ne >= FS_OP_ENTRIES)
		return -E2BIG;
	if (op->ne == op->entcap) {
		int nc = op->entcap ? op->entcap * 2 : 8;
		struct fs_op_ent *ne = realloc(op->ent, (size_t)nc * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		op->ent = ne;
		op->entcap = nc;
	}
	c = malloc(e->len);
	if (!c)
		return -ENOMEM;
	memcpy(c, e, e->len);
	err = ilog_append(&op->tx, ip->ino, &op->t[ti].pos, c);
	if (err) {
		free(c);
		return err;
	}
	op->ent[op->ne].ti = ti;
	op->ent[op->ne].e = c;
	op->ne++;
	return 0;
}

void fs_op_free_inode(struct fs_op *op, struct fs_inode *ip)
{
	int ti = fs_op_inode(op, ip);

	if (ti >= 0)
		op->t[ti].freed = true;
}

/* Grow the inode table by one chunk: its own journaled op (under
 * itable_mu). */
static int grow_itable(struct fs *fs, unsigned lane)
{
	uint64_t c, blk;
	struct jnl_tx *j;
	int err;

	for (c = 0; c < PMFS_ITDIR_ENTRIES; c++)
		if (fs->d.itdir[c] == 0)
			break;
	if (c == PMFS_ITDIR_ENTRIES)
		return -ENOSPC;
	err = alloc_contig(fs->a, lane, PMFS_CHUNK_BLOCKS, 0, &blk);
	if (err)
		return err;
	j = malloc(sizeof(*j));
	if (!j) {
		alloc_free(fs->a, blk, PMFS_CHUNK_BLOCKS);
		return -ENOMEM;
	}
	jnl_tx_init(j);
	pmio_memset_nodrain(fs->d.p, ilog_ptr(&fs->d, fmt_blk_off(blk)), 0,
			    fmt_blk_off(PMFS_CHUNK_BLOCKS));
	jnl_add(j, &fs->d, &fs->d.itdir[c], blk);
	lane = fs_lane_hold(fs);
	jnl_commit(&fs->d, lane, j); /* LOG(5): the chunk exists */
	fs_lane_release(fs, lane);
	free(j);
	return alloc_ino_add_chunk(fs->a, c);
}

int fs_op_new_inode(struct fs_op *op, struct fs_inode **out)
{
	struct fs *fs = op->fs;
	struct fs_inode *ip;
	struct pmfs_inode *slot, img;
	uint64_t ino;
	int ti, err;

	err = alloc_ino_get(fs->a, &ino);
	if (err == -ENOSPC) {
		pthread_mutex_lock(&fs->itable_mu);
		err = alloc_ino_get(fs->a, &ino); /* grown meanwhile? */
		if (err == -ENOSPC) {
			err = grow_itable(fs, op->lane);
			if (!err)
				err = alloc_ino_get(fs->a, &ino);
		}
		pthread_mutex_unlock(&fs->itable_mu);
	}
	if (err)
		return err;
	slot = ilog_slot(&fs->d, ino);
	if (!slot || slot->tail != 0) {
		alloc_ino_put(fs->a, ino);
		return -EIO;
	}
	ip = inode_alloc();
	if (!ip) {
		alloc_ino_put(fs->a, ino);
		return -ENOMEM;
	}
	/* the creator's reference and write lock, taken before it enters
	 * the cache (below): nobody can hold it, so the lock order does
	 * not apply; whoever finds it by number waits for the commit */
	ip->ref = 1;
	fs_ilock_w(ip);
	ip->ino = ino;
	ip->gen = slot->gen + 1;
	if (ip->gen == 0)
		ip->gen = 1;
	err = ilog_new(&op->tx, ino, &ip->pos);
	if (err)
		goto out_free;
	ti = fs_op_inode(op, ip);
	if (ti < 0) {
		err = ti;
		goto out_free;
	}
	/* in the cache from now on, so that nobody loads the slot's log
	 * once the commit makes it valid (a stale number, the GC queue);
	 * an abort unhashes it again */
	pthread_rwlock_wrlock(&fs->icache_lk);
	err = icache_insert(fs, ip);
	pthread_rwlock_unlock(&fs->icache_lk);
	if (err) {
		op->nt--;
		goto out_free;
	}
	op->t[ti].fresh = true;
	/* FS(3): slot is free (tail 0); head/gen written, not committed */
	memset(&img, 0, sizeof(img));
	img.head = ip->pos.head;
	img.gen = ip->gen;
	pmio_memcpy_nodrain(fs->d.p, &slot->head, &img.head,
			    sizeof(img) - offsetof(struct pmfs_inode, head));
	*out = ip;
	return 0;
out_free:
	alloc_ino_put(fs->a, ino);
	fs_iunlock(ip);
	inode_free_dram(ip);
	return err;
}

void fs_op_abort(struct fs_op *op)
{
	ilog_tx_abort(&op->tx);
	for (int i = 0; i < op->nt; i++) {
		if (op->t[i].fresh) {
			struct fs_inode *ip = op->t[i].ip;

			fs_icache_drop(op->fs, ip); /* unhashed, dead */
			alloc_ino_put(op->fs->a, ip->ino);
			fs_iput_unlock(op->fs, ip); /* freed with the last ref */
		}
	}
	for (int i = 0; i < op->ne; i++)
		free(op->ent[i].e);
	free(op->ent);
	op->ent = NULL;
	op->entcap = 0;
	op->ne = op->nt = 0;
}

int fs_op_commit(struct fs_op *op)
{
	struct fs *fs = op->fs;
	bool journal = op->nt > 1 || op->j.n > 0;
	int err = 0;

	for (int i = 0; i < op->nt; i++) {
		struct pmfs_inode *slot = ilog_slot(&fs->d, op->t[i].ip->ino);

		if (op->t[i].freed)
			err = jnl_add(&op->j, &fs->d, &slot->tail, 0);
		else
			err = jnl_add(&op->j, &fs->d, &slot->tail,
				      op->t[i].pos.tail);
		if (op->t[i].fresh || op->t[i].freed)
			journal = true;
		if (err) {
			fs_op_abort(op);
			return err;
		}
	}
	if (journal) {
		unsigned lane = fs_lane_hold(fs);

		jnl_commit(&fs->d, lane, &op->j); /* LOG(5) */
		fs_lane_release(fs, lane);
	} else {
		ilog_commit_tail(&fs->d, op->t[0].ip->ino, op->t[0].pos.tail);
	}
	/* FS(1): DRAM follows the durable log */
	for (int i = 0; i < op->nt; i++) {
		struct fs_inode *ip = op->t[i].ip;

		ip->pos = op->t[i].pos; /* fresh ones are cached already */
	}
	for (int i = 0; i < op->ne; i++) {
		struct fs_inode *ip = op->t[op->ent[i].ti].ip;
		int e2 = fs_apply(fs, ip, op->ent[i].e, true);

		if (e2 && !err)
			err = e2;
		free(op->ent[i].e);
	}
	free(op->ent);
	op->ent = NULL;
	op->entcap = 0;
	op->ne = 0;
	ilog_tx_done(&op->tx); /* the pages belong to the logs now */
	for (int i = 0; i < op->nt; i++) {
		if (op->t[i].freed)
			fs_inode_release(fs, op->t[i].ip);
		else if (gc_wanted(fs, op->t[i].ip))
			gc_lagging(fs, op->t[i].ip)
				? (void)gc_compact(fs, op->t[i].ip)
				: gc_queue(fs, op->t[i].ip);
	}
	if (err)
		fs_set_ro(fs, err); /* FS(4): durable but DRAM is unsure */
	return 0;
}

/* ---- freeing an inode ------------------------------------------------- */

void fs_inode_release(struct fs *fs, struct fs_inode *ip)
{
	struct fs_ext ext;

	/* FS(2): the tail is 0 and durable; pages and blocks are unreachable
	 * (each log page is freed only after the walk has read it) */
	ilog_free_chain(&fs->d, fs->a, ip->ino, ip->pos.head, ip->pos.tail);
	for (uint64_t pg = 0; fs_emap_next(&ip->map, pg, &ext);
	     pg = ext.pgoff + ext.n)
		alloc_free(fs->a, ext.blk, ext.n);
	if (ip->linkblk)
		alloc_free(fs->a, ip->linkblk, 1);
	/* unhashed before its number can be taken again */
	fs_icache_drop(fs, ip);
	alloc_ino_put(fs->a, ip->ino);
}

/* ---- mount / unmount -------------------------------------------------- */

struct mark_arg {
	struct fs *fs;
	int err;
};

static int mark_page(void *arg, uint64_t off)
{
	struct mark_arg *ma = arg;
	int err = alloc_mark_used(ma->fs->a, fmt_off_blk(off), 1);

	if (err && !ma->err)
		ma->err = err;
	return 0;
}

static int reclaim_orphan(struct fs *fs, struct fs_inode *ip);

/* Crash path: every block reachable from ino is used.  Only orphans
 * (nlink 0, reclaimed next) and poisoned inodes stay in DRAM: the others
 * are loaded again on first use, so the rebuild keeps no per-inode state
 * beyond the allocator's bits (and scans without directory indexes).
 * Runs in several threads at once (leaf locks only). */
static int rebuild_inode(struct fs *fs, uint64_t ino, struct fs_inode **out)
{
	struct mark_arg ma = { fs, 0 };
	struct fs_ext ext;
	struct fs_inode *ip;
	int err;

	err = inode_load(fs, ino, mark_page, &ma, true, &ip);
	if (!ip)
		return err;
	for (uint64_t pg = 0; fs_emap_next(&ip->map, pg, &ext);
	     pg = ext.pgoff + ext.n) {
		int e2 = alloc_mark_used(fs->a, ext.blk, ext.n);

		if (e2 && !ma.err)
			ma.err = e2;
	}
	if (ip->linkblk) {
		int e2 = alloc_mark_used(fs->a, ip->linkblk, 1);

		if (e2 && !ma.err)
			ma.err = e2;
	}
	if (ma.err)
		fs_media_error(fs,
			       "inode %" PRIu64 ": a block it uses is used "
			       "twice or lies outside the data area",
			       ino);
	if (!ip->err && ip->st.nlink != 0) {
		inode_free_dram(ip);
		*out = NULL;
		return err;
	}
	pthread_rwlock_wrlock(&fs->icache_lk);
	if (icache_insert(fs, ip)) {
		inode_free_dram(ip);
		ip = NULL;
		err = -ENOMEM;
	}
	pthread_rwlock_unlock(&fs->icache_lk);
	*out = ip;
	return err;
}

/* Parallel scan of the inode table (crash path). */
#define SCAN_UNIT 512 /* slots per work item */

struct scan {
	struct fs *fs;
	const uint64_t *chunks;
	uint64_t nunits;
	_Atomic uint64_t next;
	pthread_mutex_t mu;
	struct fs_inode **orphans;
	size_t norph, cap;
};

static void *scan_main(void *arg)
{
	struct scan *sc = arg;
	struct fs *fs = sc->fs;
	uint64_t u;

	while ((u = atomic_fetch_add(&sc->next, 1)) < sc->nunits) {
		uint64_t per = PMFS_INODES_PER_CHUNK / SCAN_UNIT;
		uint64_t c = sc->chunks[u / per];
		uint64_t first = c * PMFS_INODES_PER_CHUNK + (u % per) * SCAN_UNIT;

		for (uint64_t ino = first; ino < first + SCAN_UNIT; ino++) {
			struct pmfs_inode *slot;
			struct fs_inode *ip = NULL;

			if (ino == 0)
				continue;
			slot = ilog_slot(&fs->d, ino);
			if (!slot || !slot->tail)
				continue;
			alloc_ino_mark_used(fs->a, ino);
			if (rebuild_inode(fs, ino, &ip) != 0 || !ip ||
			    ip->st.nlink != 0)
				continue;
			pthread_mutex_lock(&sc->mu);
			if (sc->norph == sc->cap) {
				size_t nc = sc->cap ? sc->cap * 2 : 16;
				struct fs_inode **no = realloc(
					sc->orphans, nc * sizeof(*no));

				if (no) {
					sc->orphans = no;
					sc->cap = nc;
				}
			}
			if (sc->norph < sc->cap)
				sc->orphans[sc->norph++] = ip;
			pthread_mutex_unlock(&sc->mu);
		}
	}
	return NULL;
}

/* Rebuild free space and the inode cache from every log, with nthreads
 * threads; orphans (nlink 0) are reclaimed after, one journaled op each. */
static int rebuild_all(struct fs *fs, const uint64_t *chunks, uint64_t n,
		       unsigned nthreads, uint64_t *orphans_freed)
{
	struct scan sc;
	pthread_t th[16];
	unsigned started = 0;

	memset(&sc, 0, sizeof(sc));
	sc.fs = fs;
	sc.chunks = chunks;
	sc.nunits = n * (PMFS_INODES_PER_CHUNK / SCAN_UNIT);
	atomic_store(&sc.next, 0);
	pthread_mutex_init(&sc.mu, NULL);
	if (nthreads > 16)
		nthreads = 16;
	for (unsigned i = 1; i < nthreads; i++)
		if (pthread_create(&th[started], NULL, scan_main, &sc) == 0)
			started++;
	scan_main(&sc);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&sc.mu);
	for (size_t i = 0; i < sc.norph && !fs->rdonly; i++)
		if (reclaim_orphan(fs, sc.orphans[i]) == 0)
			(*orphans_freed)++;
	free(sc.orphans);
	return 0;
}

/* Free an inode whose nlink is 0 (journaled tail -> 0); no other thread
 * uses the mount (mount, unmount). */
static int reclaim_orphan(struct fs *fs, struct fs_inode *ip)
{
	struct fs_op op;
	int err;

	atomic_fetch_add(&ip->ref, 1);
	fs_ilock_w(ip);
	fs_op_init(&op, fs, ALLOC_F_RESERVE);
	fs_op_free_inode(&op, ip);
	err = fs_op_commit(&op);
	fs_iput_unlock(fs, ip);
	return err;
}

/* A mount warning: damage the mount goes on with, printed and counted. */
__attribute__((format(printf, 2, 3))) static void
mount_warn(struct fs_mount_info *mi, const char *fmt, ...)
{
	va_list ap;

	mi->warnings++;
	fputs("pmfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; run fsck.pmfs\n", stderr);
}

/*
 * What the mount reads besides the journals and the logs, by the format's
 * validators (the ones fsck.pmfs applies): the superblock copy and the
 * clean word (damage there is only reported: the mount does not need
 * them), the bad-block table (*badtab: the table, or NULL when a
 * read-only mount goes on without it; a read-write mount refuses, since
 * it would hand out blocks the table keeps) and every inode-table
 * directory word (a chunk outside the data area or over another chunk is
 * refused).  0 or -EUCLEAN with the reason in errbuf.
 */
static int mount_check(struct fs *fs, struct fs_mount_info *mi,
		       const struct pmfs_badblocks **badtab, char *errbuf,
		       size_t errlen)
{
	const struct pmfs_super *sb = (const void *)fs->d.base;
	const struct pmfs_super *copy =
		ilog_ptr(&fs->d, fmt_blk_off(PMFS_SB_COPY_BLOCK));
	const struct pmfs_badblocks *bb =
		ilog_ptr(&fs->d, fmt_blk_off(PMFS_BADBLK_BLOCK));
	struct fmt_geometry g;
	char why[160];

	ilog_geometry(&fs->d, &g);
	if (fmt_super_check(copy, fs->d.size, why, sizeof(why)) != 0)
		mount_warn(mi, "superblock copy (block 1) is damaged: %s", why);
	else if (memcmp(sb, copy, sizeof(*sb)) != 0)
		mount_warn(mi, "superblock copy (block 1) differs from the "
			       "superblock");
	if (fmt_state_check(fs->d.state, why, sizeof(why)) != 0)
		mount_warn(mi, "%s (taken as not clean)", why);
	*badtab = bb;
	if (fmt_badblocks_check(bb, &g, why, sizeof(why)) != 0) {
		if (!fs->rdonly) {
			snprintf(errbuf, errlen,
				 "bad-block table is damaged (%s); run "
				 "fsck.pmfs",
				 why);
			return -EUCLEAN;
		}
		mount_warn(mi, "bad-block table is damaged (%s); read-only "
			       "mount goes on without it", why);
		*badtab = NULL;
	}
	for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES; c++) {
		if (ilog_chunk_check(&fs->d, fs->d.itdir, c, NULL, NULL, why,
				     sizeof(why)) != 0) {
			snprintf(errbuf, errlen, "%s; run fsck.pmfs", why);
			return -EUCLEAN;
		}
	}
	return 0;
}

int fs_mount_pmio(struct pmio *p, const struct fs_opts *o, struct fs **out,
		  struct fs_mount_info *info, char *errbuf, size_t errlen)
{
	struct fs_mount_info mi;
	const struct pmfs_badblocks *badtab;
	struct fs *fs;
	bool clean;
	uint64_t head;
	int err;
	char dummy[8];

	if (!errbuf) {
		errbuf = dummy;
		errlen = sizeof(dummy);
	}
	memset(&mi, 0, sizeof(mi));
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	{
		pthread_rwlockattr_t ra;

		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(
			&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&fs->big, &ra);
		pthread_rwlockattr_destroy(&ra);
	}
	pthread_rwlock_init(&fs->icache_lk, NULL);
	pthread_mutex_init(&fs->rename_mu, NULL);
	pthread_mutex_init(&fs->itable_mu, NULL);
	pthread_mutex_init(&fs->gc_mu, NULL);
	if (o)
		fs->o = *o;
	fs->rdonly = fs->o.flags & FS_O_RDONLY;
	err = ilog_dev_init(&fs->d, p, errbuf, errlen);
	if (err)
		goto out_free;

	if (fs->rdonly) {
		for (unsigned l = 0; l < fs->d.nlanes; l++) {
			err = jnl_check(&fs->d, l, errbuf, errlen);
			if (err) {
				if (err > 0)
					snprintf(errbuf, errlen,
						 "journal %u needs replay; "
						 "mount read-write or run "
						 "fsck.pmfs",
						 l);
				err = -EUCLEAN;
				goto out_free;
			}
		}
	} else {
		err = recov_journals(&fs->d, &mi.journals_replayed);
		if (err) {
			snprintf(errbuf, errlen,
				 "a journal is corrupt; run fsck.pmfs");
			goto out_free;
		}
	}
	err = mount_check(fs, &mi, &badtab, errbuf, errlen);
	if (err)
		goto out_free;
	head = fs->d.state->alloc_head;
	clean = fs->d.state->clean == PMFS_STATE_CLEAN && head;
again:
	err = alloc_create(p, badtab, fs->d.data_start, fs->d.total_blocks,
			   fs->d.nlanes, clean, &fs->a);
	if (err)
		goto out_free;
	if (clean && alloc_load(fs->a, fs->d.base, head) != 0) {
		fprintf(stderr, "pmfs: saved allocator state is damaged; "
				"rebuilding from the logs\n");
		alloc_destroy(fs->a);
		fs->a = NULL;
		clean = false;
		goto again;
	}
	mi.was_clean = clean;
	{
		uint64_t *chunks = malloc(PMFS_ITDIR_ENTRIES * sizeof(*chunks));
		uint64_t nch = 0;

		if (!chunks) {
			err = -ENOMEM;
			goto out_free;
		}
		for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES; c++) {
			uint64_t b = fs->d.itdir[c];

			if (!b)
				continue;
			/* mount_check: inside the data area, no overlap */
			for (uint64_t k = 0; k < PMFS_CHUNK_BLOCKS; k++) {
				if (!alloc_is_bad(fs->a, b + k))
					continue;
				snprintf(errbuf, errlen,
					 "inode-table chunk %" PRIu64
					 " at block %" PRIu64
					 " holds bad block %" PRIu64
					 "; run fsck.pmfs",
					 c, b, b + k);
				free(chunks);
				err = -EUCLEAN;
				goto out_free;
			}
			err = alloc_ino_add_chunk(fs->a, c);
			if (err) {
				free(chunks);
				goto out_free;
			}
			if (!clean)
				alloc_mark_used(fs->a, b, PMFS_CHUNK_BLOCKS);
			chunks[nch++] = c;
		}
		if (clean) {
			/* fast path: only which slots are in use */
			for (uint64_t k = 0; k < nch; k++)
				for (uint64_t i = 0; i < PMFS_INODES_PER_CHUNK;
				     i++) {
					uint64_t ino = chunks[k] *
							       PMFS_INODES_PER_CHUNK +
						       i;
					struct pmfs_inode *slot;

					if (ino == 0)
						continue;
					slot = ilog_slot(&fs->d, ino);
					if (slot && slot->tail)
						alloc_ino_mark_used(fs->a, ino);
				}
		} else {
			unsigned nt = fs->o.recovery_threads;

			if (nt == 0) {
				long n = sysconf(_SC_NPROCESSORS_ONLN);

				nt = n > 0 ? (unsigned)n : 1;
			}
			rebuild_all(fs, chunks, nch, nt, &mi.orphans_freed);
		}
		free(chunks);
	}
	if (!fs->rdonly) {
		struct timespec now;

		/* clear clean before the first change (sb_state) */
		fs_now(&now);
		pmio_store64(p, &fs->d.state->mount_count,
			     fs->d.state->mount_count + 1);
		pmio_store64(p, &fs->d.state->mount_time,
			     (uint64_t)now.tv_sec);
		pmio_store64(p, &fs->d.state->alloc_head, 0);
		pmio_commit64(p, &fs->d.state->clean, 0);
		pmio_drain(p); /* ORDER: not-clean durable before any change */
	}
	fs->reserve = 16 + 4ull * fs->d.nlanes;
	if (fs->reserve > alloc_total_blocks(fs->a) / 8)
		fs->reserve = alloc_total_blocks(fs->a) / 8;
	alloc_set_reserve(fs->a, fs->reserve);
	{
		struct fs_inode *root;

		err = fs_iget(fs, PMFS_ROOT_INO, &root);
		if (!err)
			fs_iput(fs, root);
		if (err || !S_ISDIR(root->st.mode)) {
			snprintf(errbuf, errlen,
				 "root directory is missing or corrupt");
			err = -EUCLEAN;
			goto out_free;
		}
	}
	if (!fs->rdonly && gc_start(fs) != 0)
		fprintf(stderr, "pmfs: log GC thread did not start\n");
	mi.inodes = alloc_ino_used(fs->a);
	mi.free_blocks = alloc_free_blocks(fs->a);
	if (info)
		*info = mi;
	*out = fs;
	return 0;
out_free:
	fs_abandon(fs);
	return err;
}

int fs_mount(const char *path, const struct fs_opts *o, struct fs **out,
	     struct fs_mount_info *info, char *err, size_t errlen)
{
	struct pmio_opts po = { 0 };
	struct pmio *p;
	int r;

	po.flags = PMIO_O_EXCL;
	if (o && (o->flags & FS_O_QUIET))
		po.flags |= PMIO_O_QUIET;
	if (o && (o->flags & FS_O_RDONLY))
		po.flags |= PMIO_O_RDONLY;
	po.min_size = PMFS_MIN_SIZE;
	r = pmio_open(path, &po, &p, err, errlen);
	if (r)
		return r;
	r = fs_mount_pmio(p, o, out, info, err, errlen);
	if (r) {
		pmio_close(p);
		return r;
	}
	(*out)->own_pmio = true;
	return 0;
}

static void free_all(struct fs *fs)
{
	for (size_t i = 0; i < fs->hcap; i++) {
		struct fs_inode *ip = fs->ht[i], *nx;

		for (; ip; ip = nx) {
			nx = ip->hnext;
			inode_free_dram(ip);
		}
	}
	free(fs->ht);
	alloc_destroy(fs->a);
	pthread_rwlock_destroy(&fs->big);
	pthread_rwlock_destroy(&fs->icache_lk);
	pthread_mutex_destroy(&fs->rename_mu);
	pthread_mutex_destroy(&fs->itable_mu);
	pthread_mutex_destroy(&fs->gc_mu);

	if (fs->own_pmio)
		pmio_close(fs->d.p);
	free(fs);
}

void fs_abandon(struct fs *fs)
{
	if (fs) {
		gc_stop(fs);
		free_all(fs);
	}
}

int fs_unmount(struct fs *fs)
{
	struct pmio *p = fs->d.p;
	uint64_t head;
	int err = 0;

	gc_stop(fs);
	pthread_rwlock_wrlock(&fs->big);
	if (fs_writable(fs))
		goto out;
	/* orphans kept alive by lookup references die now */
	for (size_t i = 0; i < fs->hcap; i++) {
		struct fs_inode *ip = fs->ht[i], *nx;

		for (; ip; ip = nx) {
			nx = ip->hnext;
			if (!ip->err && ip->st.nlink == 0)
				reclaim_orphan(fs, ip);
		}
	}
	err = alloc_save(fs->a, p, fs->d.base, &head);
	if (err)
		goto out; /* not clean: the next mount rebuilds */
	{
		struct timespec now;

		fs_now(&now);
		pmio_store64(p, &fs->d.state->alloc_head, head);
		pmio_store64(p, &fs->d.state->free_blocks,
			     alloc_free_blocks(fs->a));
		pmio_store64(p, &fs->d.state->used_inodes,
			     alloc_ino_used(fs->a));
		pmio_store64(p, &fs->d.state->umount_time,
			     (uint64_t)now.tv_sec);
		pmio_flush(p, fs->d.state, sizeof(*fs->d.state));
		jnl_flush_retired(&fs->d);
		pmio_drain(p); /* ORDER: saved state durable before clean */
		pmio_commit64(p, &fs->d.state->clean, PMFS_STATE_CLEAN);
		pmio_drain(p); /* ORDER: clean durable before unmap */
	}
out:
	pthread_rwlock_unlock(&fs->big);
	free_all(fs);
	return err;
}

struct pmio *fs_pmio(struct fs *fs)
{
	return fs->d.p;
}

int fs_statfs(struct fs *fs, struct statvfs *st)
{
	uint64_t fr;

	memset(st, 0, sizeof(*st));
	fr = alloc_free_blocks(fs->a);
	st->f_bsize = PMFS_BLOCK_SIZE;
	st->f_frsize = PMFS_BLOCK_SIZE;
	st->f_blocks = alloc_total_blocks(fs->a);
	st->f_bfree = fr;
	st->f_bavail = fr > fs->reserve ? fr - fs->reserve : 0;
	st->f_files = PMFS_MAX_INODES;
	st->f_ffree = PMFS_MAX_INODES - alloc_ino_used(fs->a);
	st->f_favail = st->f_ffree;
	st->f_namemax = PMFS_NAME_MAX;
	if (fs->rdonly)
		st->f_flag |= ST_RDONLY;
	return 0;
}
