/*
 * fs_dir.c - the directory index: a directory's entries in DRAM, built by
 * replaying its log (fs_apply calls fs_dir_add and fs_dir_del for every
 * DENTRY_ADD and DENTRY_DEL).  A chained hash of the names (full-name
 * compare, so hash collisions are harmless) finds an entry in O(1); an
 * array in cookie order serves readdir, which resumes at any cookie by
 * binary search (removed entries leave a hole until the array is
 * compacted).  The index also remembers the removed entry that held the
 * directory's highest cookie (topdel), which log compaction keeps.
 */
#include "fs/fs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format/fmt.h"

/* FNV-1a of a name. */
static uint64_t name_hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (uint8_t)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

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

/* Double the hash of d (rehashing every entry); 0 or -ENOMEM. */
static int grow(struct fs_dir *d)
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

/* Remove e from d's hash and cookie order, and free it. */
static void unlink_dent(struct fs_dir *d, struct fs_dent *e)
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

/* Index de in d (an entry of the same name is replaced). */
static int add(struct fs_dir *d, const struct pmfs_le_dentry *de)
{
	struct fs_dent *e, *old;
	int err;

	old = fs_dir_find(d, (const char *)de->name, de->name_len);
	if (old)
		unlink_dent(d, old);
	if (d->n + 1 > d->hcap && (err = grow(d)))
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

void fs_dir_free(struct fs_dir *d)
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
	free(d);
}

int fs_dir_add(struct fs_dir **dp, const struct pmfs_le_dentry *de,
	       uint64_t maxcookie)
{
	struct fs_dir *d = *dp;

	if (!d && !(d = *dp = calloc(1, sizeof(*d))))
		return -ENOMEM;
	if (de->cookie > maxcookie) { /* a live entry holds it now */
		free(d->topdel);
		d->topdel = NULL;
	}
	return add(d, de);
}

int fs_dir_del(struct fs_dir **dp, const struct pmfs_le_dentry *de,
	       uint64_t maxcookie)
{
	struct fs_dir *d = *dp;
	struct fs_dent *x;

	if (de->cookie >= maxcookie) {
		/* the entry holding the highest cookie goes (topdel) */
		if (!d && !(d = *dp = calloc(1, sizeof(*d))))
			return -ENOMEM;
		x = dent_new(de);
		if (!x)
			return -ENOMEM;
		free(d->topdel);
		d->topdel = x;
	}
	x = fs_dir_find(d, (const char *)de->name, de->name_len);
	if (x)
		unlink_dent(d, x);
	return 0;
}
