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

void fs_now(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

void fs_time_to(struct pmfs_time *t, const struct timespec *ts)
{
	t->sec = (uint64_t)ts->tv_sec;
	t->nsec = (uint32_t)ts->tv_nsec;
	t->pad = 0;
}

static void time_from(struct timespec *ts, const struct pmfs_time *t)
{
	ts->tv_sec = (time_t)t->sec;
	ts->tv_nsec = t->nsec < 1000000000u ? (long)t->nsec : 0;
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

	if (!d->hcap)
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
	e = malloc(sizeof(*e) + de->name_len + 1);
	if (!e)
		return -ENOMEM;
	e->ino = de->ino;
	e->cookie = de->cookie;
	e->gen = de->gen;
	e->ftype = de->ftype;
	e->nlen = de->name_len;
	memcpy(e->name, de->name, de->name_len);
	e->name[de->name_len] = 0;
	e->hash = name_hash(e->name, e->nlen);
	e->hnext = d->ht[e->hash & (d->hcap - 1)];
	d->ht[e->hash & (d->hcap - 1)] = e;
	d->n++;
	d->bytes += fmt_dentry_len(e->nlen);
	if (de->cookie > d->maxcookie)
		d->maxcookie = de->cookie;
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
	memset(d, 0, sizeof(*d));
}

/* ---- extent map ------------------------------------------------------- */

const struct fs_ext *fs_emap_find(const struct fs_fmap *m, uint64_t pgoff)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (m->e[mid].pgoff + m->e[mid].n <= pgoff)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < m->n && m->e[lo].pgoff <= pgoff)
		return &m->e[lo];
	return NULL;
}

static int emap_reserve(struct fs_fmap *m, size_t extra)
{
	if (m->n + extra > m->cap) {
		size_t nc = (m->cap ? m->cap * 2 : 8) + extra;
		struct fs_ext *ne = realloc(m->e, nc * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		m->e = ne;
		m->cap = nc;
	}
	return 0;
}

/* Free displaced [blk, blk+n) except blocks the new mapping keeps. */
static void emap_displace(struct fs *fs, const struct fs_ext *old,
			  uint64_t x0, uint64_t x1, uint64_t npg,
			  uint64_t nn, uint64_t nblk, bool live)
{
	if (!live || !fs)
		return;
	for (uint64_t x = x0; x < x1; x++) {
		uint64_t b = old->blk + (x - old->pgoff);

		if (nblk && x >= npg && x < npg + nn && nblk + (x - npg) == b)
			continue;
		alloc_free(fs->a, b, 1);
	}
}

int fs_emap_set(struct fs *fs, struct fs_fmap *m, uint64_t pgoff,
		uint64_t n, uint64_t blk, uint32_t flags, bool live)
{
	uint64_t end = pgoff + n;
	size_t i, k;
	int err;

	if (n == 0)
		return 0;
	err = emap_reserve(m, 3);
	if (err)
		return err;
	/* find first extent ending after pgoff */
	i = 0;
	{
		size_t lo = 0, hi = m->n;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (m->e[mid].pgoff + m->e[mid].n <= pgoff)
				lo = mid + 1;
			else
				hi = mid;
		}
		i = lo;
	}
	k = i;
	/* split or trim overlapping extents */
	while (k < m->n && m->e[k].pgoff < end) {
		struct fs_ext *e = &m->e[k];
		uint64_t e0 = e->pgoff, e1 = e->pgoff + e->n;
		uint64_t x0 = e0 > pgoff ? e0 : pgoff, x1 = e1 < end ? e1 : end;

		emap_displace(fs, e, x0, x1, pgoff, n,
			      flags & PMFS_WR_HOLE ? 0 : blk, live);
		m->nblocks -= x1 - x0;
		if (e0 < pgoff && e1 > end) {
			/* split in two */
			memmove(&m->e[k + 2], &m->e[k + 1],
				(m->n - k - 1) * sizeof(*e));
			m->e[k + 1] = *e;
			m->e[k + 1].pgoff = end;
			m->e[k + 1].n = e1 - end;
			m->e[k + 1].blk = e->blk + (end - e0);
			e->n = pgoff - e0;
			m->n++;
			k++; /* new extent goes between */
			break;
		} else if (e0 < pgoff) {
			e->n = pgoff - e0;
			k++;
		} else if (e1 > end) {
			e->blk += end - e0;
			e->n = e1 - end;
			e->pgoff = end;
			break;
		} else {
			memmove(&m->e[k], &m->e[k + 1],
				(m->n - k - 1) * sizeof(*e));
			m->n--;
		}
	}
	if (flags & PMFS_WR_HOLE)
		return 0;
	/* insert at position k (first extent with pgoff >= end or after) */
	k = i;
	while (k < m->n && m->e[k].pgoff < pgoff)
		k++;
	if (k > 0 && m->e[k - 1].pgoff + m->e[k - 1].n == pgoff &&
	    m->e[k - 1].blk + m->e[k - 1].n == blk &&
	    m->e[k - 1].flags == flags) {
		m->e[k - 1].n += n;
	} else {
		memmove(&m->e[k + 1], &m->e[k], (m->n - k) * sizeof(m->e[0]));
		m->e[k].pgoff = pgoff;
		m->e[k].n = n;
		m->e[k].blk = blk;
		m->e[k].flags = flags;
		m->n++;
	}
	m->nblocks += n;
	return 0;
}

void fs_emap_truncate(struct fs *fs, struct fs_fmap *m, uint64_t from,
		      bool live)
{
	uint64_t last;

	if (!m->n)
		return;
	last = m->e[m->n - 1].pgoff + m->e[m->n - 1].n;
	if (last > from)
		fs_emap_set(fs, m, from, last - from, 0, PMFS_WR_HOLE, live);
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

int fs_apply(struct fs *fs, struct fs_inode *ip, const struct pmfs_lentry *e,
	     bool live)
{
	ip->nentries++;
	switch (e->type) {
	case PMFS_LE_ATTR: {
		const struct pmfs_le_attr *a = (const void *)e;

		if (a->mask & PMFS_AT_MODE)
			ip->mode = a->mode;
		if (a->mask & PMFS_AT_UID)
			ip->uid = a->uid;
		if (a->mask & PMFS_AT_GID)
			ip->gid = a->gid;
		if (a->mask & PMFS_AT_NLINK)
			ip->nlink = a->nlink;
		if (a->mask & PMFS_AT_SIZE) {
			/* format: blocks past the new size are dropped */
			fs_emap_truncate(fs, &ip->map,
						 (a->size + PMFS_BLOCK_SIZE - 1) >>
							 PMFS_BLOCK_SHIFT,
						 live);
			ip->size = a->size;
		}
		if (a->mask & PMFS_AT_RDEV)
			ip->rdev = a->rdev;
		if (a->mask & PMFS_AT_PARENT)
			ip->parent = a->parent;
		if (a->mask & PMFS_AT_ATIME)
			time_from(&ip->atime, &a->atime);
		if (a->mask & PMFS_AT_MTIME)
			time_from(&ip->mtime, &a->mtime);
		if (a->mask & PMFS_AT_CTIME)
			time_from(&ip->ctime, &a->ctime);
		if (a->mask & PMFS_AT_BTIME)
			time_from(&ip->btime, &a->btime);
		return 0;
	}
	case PMFS_LE_WRITE: {
		const struct pmfs_le_write *w = (const void *)e;
		int err;

		if (!(w->flags & PMFS_WR_HOLE) &&
		    !ilog_blocks_ok(&fs->d, w->blk, w->nblocks))
			return -EIO;
		err = fs_emap_set(fs, &ip->map, w->pgoff, w->nblocks,
				  w->flags & PMFS_WR_HOLE ? 0 : w->blk,
				  w->flags & (PMFS_WR_HOLE | PMFS_WR_UNWRITTEN),
				  live);
		if (err)
			return err;
		if (w->size < ip->size)
			fs_emap_truncate(fs, &ip->map,
					 (w->size + PMFS_BLOCK_SIZE - 1) >>
						 PMFS_BLOCK_SHIFT,
					 live);
		ip->size = w->size;
		time_from(&ip->mtime, &w->mtime);
		time_from(&ip->ctime, &w->ctime);
		return 0;
	}
	case PMFS_LE_DENTRY_ADD:
	case PMFS_LE_DENTRY_DEL: {
		const struct pmfs_le_dentry *de = (const void *)e;
		int err = 0;

		if (e->type == PMFS_LE_DENTRY_ADD) {
			err = dir_add(&ip->dir, de);
		} else {
			struct fs_dent *x = fs_dir_find(
				&ip->dir, (const char *)de->name, de->name_len);

			if (x)
				dir_unlink(&ip->dir, x);
			if (de->cookie > ip->dir.maxcookie)
				ip->dir.maxcookie = de->cookie;
		}
		ip->nlink = de->dir_nlink;
		time_from(&ip->mtime, &de->mtime);
		time_from(&ip->ctime, &de->mtime);
		return err;
	}
	case PMFS_LE_SYMLINK: {
		const struct pmfs_le_symlink *s = (const void *)e;
		const void *src;
		char *t;

		if (s->len == 0 || s->len > PMFS_SYMLINK_MAX)
			return -EIO;
		if (s->flags & PMFS_SL_INLINE) {
			if (sizeof(*s) + s->len > e->len)
				return -EIO;
			src = s->target;
			ip->linkblk = 0;
		} else {
			if (!ilog_blocks_ok(&fs->d, s->blk, 1) ||
			    s->len > PMFS_BLOCK_SIZE)
				return -EIO;
			src = ilog_ptr(&fs->d, fmt_blk_off(s->blk));
			ip->linkblk = s->blk;
		}
		t = malloc(s->len + 1);
		if (!t)
			return -ENOMEM;
		memcpy(t, src, s->len);
		t[s->len] = 0;
		free(ip->link);
		ip->link = t;
		ip->linklen = s->len;
		return 0;
	}
	case PMFS_LE_XATTR_SET:
	case PMFS_LE_XATTR_DEL: {
		const struct pmfs_le_xattr *x = (const void *)e;
		struct fs_xattr *n;

		if (sizeof(*x) + x->name_len + x->value_len > e->len ||
		    x->name_len == 0)
			return -EIO;
		xattr_del(ip, (const char *)x->data, x->name_len);
		time_from(&ip->ctime, &x->ctime);
		if (e->type == PMFS_LE_XATTR_DEL)
			return 0;
		n = calloc(1, sizeof(*n));
		if (!n)
			return -ENOMEM;
		n->nlen = x->name_len;
		n->vlen = x->value_len;
		n->name = malloc(n->nlen + 1u);
		n->val = malloc(n->vlen ? n->vlen : 1u);
		if (!n->name || !n->val) {
			free(n->name);
			free(n->val);
			free(n);
			return -ENOMEM;
		}
		memcpy(n->name, x->data, n->nlen);
		n->name[n->nlen] = 0;
		memcpy(n->val, x->data + n->nlen, n->vlen);
		n->next = ip->xattrs;
		ip->xattrs = n;
		return 0;
	}
	default:
		return -EIO;
	}
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
	dir_free(&ip->dir);
	free(ip->map.e);
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
	struct fs *fs;
	struct fs_inode *ip;
	ilog_page_fn page; /* may be NULL */
	void *parg;
	bool scan; /* crash rebuild: no directory index */
};

static int replay_page(void *arg, uint64_t off)
{
	struct replay_arg *ra = arg;

	return ra->page ? ra->page(ra->parg, off) : 0;
}

static int replay_entry(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	struct replay_arg *ra = arg;
	int err;

	if (ra->scan && (e->type == PMFS_LE_DENTRY_ADD ||
			 e->type == PMFS_LE_DENTRY_DEL)) {
		/* what the rebuild needs of a directory entry: nlink */
		ra->ip->nentries++;
		ra->ip->nlink = ((const struct pmfs_le_dentry *)e)->dir_nlink;
		return 0;
	}
	err = fs_apply(ra->fs, ra->ip, e, false);

	if (err == -EIO)
		fprintf(stderr,
			"pmfs: inode %" PRIu64 ": bad entry at offset %" PRIu64
			"\n",
			ra->ip->ino, off);
	return err;
}

/*
 * Build the DRAM inode of ino by replaying its log (page() sees every page,
 * may be NULL; scan: leave the directory index empty, for the crash
 * rebuild).  Returns 0, -ENOENT, -ENOMEM, or -EIO with *out set to a
 * poisoned inode (later calls give -EIO at once).  Not in the cache yet.
 */
static int inode_load(struct fs *fs, uint64_t ino, ilog_page_fn page,
		      void *parg, bool scan, struct fs_inode **out)
{
	struct pmfs_inode *slot = ilog_slot(&fs->d, ino);
	struct replay_arg ra;
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
	ra.fs = fs;
	ra.ip = ip;
	ra.page = page;
	ra.parg = parg;
	ra.scan = scan;
	err = ilog_walk(&fs->d, ino, slot->head, slot->tail, replay_entry,
			replay_page, &ra, false, &ip->pos);
	if (err == 0 && ip->nentries == 0)
		err = -EIO;
	if (err == -ENOMEM) {
		inode_free_dram(ip);
		return err;
	}
	if (err) {
		dir_free(&ip->dir);
		ip->map.n = 0;
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
	if (ts_le(&ip->atime, &ip->mtime) || ts_le(&ip->atime, &ip->ctime))
		return true;
	fs_now(&now);
	return now.tv_sec - ip->atime.tv_sec >= 24 * 3600;
}

void fs_touch_atime(struct fs *fs, struct fs_inode *ip)
{
	struct fs_inode tmp;
	struct fs_op op;

	if (fs_writable(fs) || atomic_load(&ip->dead))
		return;
	tmp = *ip;
	fs_now(&tmp.atime);
	fs_op_init(&op, fs, 0);
	if (fs_op_add(&op, ip, &fs_attr_entry(&tmp, PMFS_AT_ATIME)->h)) {
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
	out->mode = ip->mode;
	out->nlink = ip->nlink;
	out->uid = ip->uid;
	out->gid = ip->gid;
	out->size = ip->size;
	out->blocks = ip->map.nblocks * (PMFS_BLOCK_SIZE / 512) +
		      (ip->linkblk ? PMFS_BLOCK_SIZE / 512 : 0);
	if (S_ISDIR(ip->mode)) {
		/* entry bytes as in the log, plus "." and ".."; a directory
		 * occupies its log pages */
		out->size = ip->dir.bytes + 2 * fmt_dentry_len(1);
		out->blocks = ip->pos.npages * (PMFS_BLOCK_SIZE / 512);
	}
	out->rdev = ip->rdev;
	out->atime = ip->atime;
	out->mtime = ip->mtime;
	out->ctime = ip->ctime;
	out->btime = ip->btime;
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

struct pmfs_le_attr *fs_attr_entry(struct fs_inode *ip, uint32_t mask)
{
	static __thread struct pmfs_le_attr a;

	memset(&a, 0, sizeof(a));
	a.h.type = PMFS_LE_ATTR;
	a.h.len = sizeof(a);
	a.mask = mask;
	a.mode = ip->mode;
	a.uid = ip->uid;
	a.gid = ip->gid;
	a.nlink = ip->nlink;
	a.size = ip->size;
	a.rdev = ip->rdev;
	a.parent = ip->parent;
	fs_time_to(&a.atime, &ip->atime);
	fs_time_to(&a.mtime, &ip->mtime);
	fs_time_to(&a.ctime, &ip->ctime);
	fs_time_to(&a.btime, &ip->btime);
	return &a;
}

struct pmfs_le_dentry *fs_dentry_entry(uint16_t type, uint64_t ino,
				       uint32_t gen, uint64_t cookie,
				       unsigned ftype, const char *name,
				       size_t nlen, uint32_t dir_nlink)
{
	static __thread uint64_t buf[(sizeof(struct pmfs_le_dentry) + 256 + 7) /
				     8];
	struct pmfs_le_dentry *d = (void *)buf;
	struct timespec now;

	memset(buf, 0, sizeof(buf));
	d->h.type = type;
	d->h.len = fmt_dentry_len((unsigned)nlen);
	d->ino = ino;
	d->cookie = cookie;
	d->gen = gen;
	d->dir_nlink = dir_nlink;
	d->ftype = (uint8_t)ftype;
	d->name_len = (uint8_t)nlen;
	fs_now(&now);
	fs_time_to(&d->mtime, &now);
	memcpy(d->name, name, nlen);
	return d;
}

/* ---- freeing an inode ------------------------------------------------- */

static int free_page(void *arg, uint64_t off)
{
	struct fs *fs = arg;

	alloc_free(fs->a, fmt_off_blk(off), 1);
	return 0;
}

void fs_inode_release(struct fs *fs, struct fs_inode *ip)
{
	/* FS(2): the tail is 0 and durable; pages and blocks are unreachable */
	ilog_walk(&fs->d, ip->ino, ip->pos.head, ip->pos.tail, NULL,
		  free_page, fs, true, NULL);
	for (size_t i = 0; i < ip->map.n; i++)
		alloc_free(fs->a, ip->map.e[i].blk, ip->map.e[i].n);
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
	struct fs_inode *ip;
	int err;

	err = inode_load(fs, ino, mark_page, &ma, true, &ip);
	if (!ip)
		return err;
	for (size_t i = 0; i < ip->map.n; i++) {
		int e2 = alloc_mark_used(fs->a, ip->map.e[i].blk,
					 ip->map.e[i].n);

		if (e2 && !ma.err)
			ma.err = e2;
	}
	if (ip->linkblk) {
		int e2 = alloc_mark_used(fs->a, ip->linkblk, 1);

		if (e2 && !ma.err)
			ma.err = e2;
	}
	if (ma.err)
		fprintf(stderr,
			"pmfs: inode %" PRIu64
			": block shared with another inode or out of range\n",
			ino);
	if (!ip->err && ip->nlink != 0) {
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
			    ip->nlink != 0)
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

int fs_mount_pmio(struct pmio *p, const struct fs_opts *o, struct fs **out,
		  struct fs_mount_info *info, char *errbuf, size_t errlen)
{
	struct fs_mount_info mi;
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
	head = fs->d.state->alloc_head;
	clean = fs->d.state->clean == PMFS_STATE_CLEAN && head;
again:
	err = alloc_create(p, ilog_ptr(&fs->d, fmt_blk_off(PMFS_BADBLK_BLOCK)),
			   fs->d.data_start, fs->d.total_blocks, fs->d.nlanes,
			   clean, &fs->a);
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
			if (b < fs->d.data_start ||
			    b + PMFS_CHUNK_BLOCKS > fs->d.total_blocks) {
				fprintf(stderr,
					"pmfs: inode-table chunk %" PRIu64
					" out of range; skipped\n",
					c);
				continue;
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
		if (err || !S_ISDIR(root->mode)) {
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
			if (!ip->err && ip->nlink == 0)
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
