/*
 * treewalk.c - walk a mounted filesystem through the fs API and check what
 * a reader of the tree can see (treewalk.h).
 */
#include "treewalk.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/format.h"
#include "log/log.h"

#define TW_READ (1u << 20)

__attribute__((format(printf, 2, 3))) static void
problem(struct tw_result *r, const char *fmt, ...)
{
	va_list ap;

	if (!r->problems++) {
		va_start(ap, fmt);
		vsnprintf(r->first, sizeof(r->first), fmt, ap);
		va_end(ap);
	}
}

/* ---- inode number -> node index (open addressing) ----------------------- */

struct idx {
	uint64_t *key; /* ino, 0 = free */
	size_t *val;
	size_t cap, n;
};

static size_t idx_slot(const struct idx *x, uint64_t ino)
{
	size_t s = (size_t)(ino * 0x9e3779b97f4a7c15ull) & (x->cap - 1);

	while (x->key[s] && x->key[s] != ino)
		s = (s + 1) & (x->cap - 1);
	return s;
}

static bool idx_get(const struct idx *x, uint64_t ino, size_t *v)
{
	size_t s;

	if (!x->cap)
		return false;
	s = idx_slot(x, ino);
	if (!x->key[s])
		return false;
	*v = x->val[s];
	return true;
}

static int idx_put(struct idx *x, uint64_t ino, size_t v)
{
	size_t s;

	if (2 * (x->n + 1) > x->cap) {
		struct idx y = { NULL, NULL, x->cap ? 2 * x->cap : 256, 0 };

		y.key = calloc(y.cap, sizeof(*y.key));
		y.val = calloc(y.cap, sizeof(*y.val));
		if (!y.key || !y.val) {
			free(y.key);
			free(y.val);
			return -ENOMEM;
		}
		for (size_t i = 0; i < x->cap; i++)
			if (x->key[i]) {
				s = idx_slot(&y, x->key[i]);
				y.key[s] = x->key[i];
				y.val[s] = x->val[i];
				y.n++;
			}
		free(x->key);
		free(x->val);
		*x = y;
	}
	s = idx_slot(x, ino);
	x->key[s] = ino;
	x->val[s] = v;
	x->n++;
	return 0;
}

/* ---- directory listings ------------------------------------------------- */

struct ent {
	char name[PMFS_NAME_MAX + 1];
	uint64_t ino;
	unsigned dt;
};

struct list {
	struct ent *e;
	size_t n, cap;
	bool nomem;
};

static int fill(void *arg, const char *name, uint64_t ino, unsigned dt,
		uint64_t next)
{
	struct list *l = arg;

	(void)next;
	if (l->n == l->cap) {
		size_t nc = l->cap ? 2 * l->cap : 64;
		struct ent *ne = realloc(l->e, nc * sizeof(*ne));

		if (!ne) {
			l->nomem = true;
			return 1;
		}
		l->e = ne;
		l->cap = nc;
	}
	snprintf(l->e[l->n].name, sizeof(l->e[l->n].name), "%s", name);
	l->e[l->n].ino = ino;
	l->e[l->n].dt = dt;
	l->n++;
	return 0;
}

/* ---- per inode ---------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ns_ok(const char *name)
{
	static const char *const ns[] = { "user.", "trusted.", "security.",
					  "system." };

	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		if (strncmp(name, ns[i], strlen(ns[i])) == 0 &&
		    name[strlen(ns[i])])
			return true;
	return false;
}

/* xattr names of n, sorted, into n->xattrs; each must read back. */
static void read_xattrs(struct fs *fs, struct tw_result *r,
			struct tw_node *n)
{
	char *buf = NULL, **v = NULL, val[PMFS_XATTR_VALUE_MAX];
	size_t len = 0, k = 0, vl;
	int err;

	n->xattrs = calloc(1, 1);
	n->xlen = 0;
	err = fs_listxattr(fs, n->ino, NULL, 0, &len);
	if (err) {
		problem(r, "%s: listxattr: %s", n->path, strerror(-err));
		return;
	}
	if (!len)
		return;
	buf = malloc(len);
	if (!buf || fs_listxattr(fs, n->ino, buf, len, &len)) {
		problem(r, "%s: listxattr failed", n->path);
		free(buf);
		return;
	}
	v = calloc(len, sizeof(*v));
	for (size_t i = 0; v && i < len; i += strlen(buf + i) + 1)
		v[k++] = buf + i;
	if (!v) {
		free(buf);
		return;
	}
	qsort(v, k, sizeof(*v), cmp_str);
	free(n->xattrs);
	n->xattrs = malloc(len);
	for (size_t i = 0; n->xattrs && i < k; i++) {
		if (!ns_ok(v[i]))
			problem(r, "%s: xattr '%s' outside the known namespaces",
				n->path, v[i]);
		err = fs_getxattr(fs, n->ino, v[i], val, sizeof(val), &vl);
		if (err)
			problem(r, "%s: getxattr '%s': %s", n->path, v[i],
				strerror(-err));
		memcpy(n->xattrs + n->xlen, v[i], strlen(v[i]) + 1);
		n->xlen += strlen(v[i]) + 1;
	}
	free(v);
	free(buf);
}

/* Read n's contents (files) or target (symlinks). */
static void read_data(struct fs *fs, struct tw_result *r,
		      const struct tw_node *n, uint8_t *buf)
{
	size_t got = 0;
	int err;

	if (S_ISREG(n->mode)) {
		uint64_t off = 0;

		for (;;) {
			err = fs_pread(fs, n->ino, buf, TW_READ, off, &got);
			if (err) {
				problem(r, "%s: read at %" PRIu64 ": %s",
					n->path, off, strerror(-err));
				return;
			}
			off += got;
			if (got < TW_READ)
				break;
		}
		if (off != n->size)
			problem(r, "%s: read %" PRIu64 " bytes of %" PRIu64,
				n->path, off, n->size);
	} else if (S_ISLNK(n->mode)) {
		err = fs_readlink(fs, n->ino, (char *)buf, PMFS_SYMLINK_MAX + 1,
				  &got);
		if (err)
			problem(r, "%s: readlink: %s", n->path, strerror(-err));
		else if (got != n->size)
			problem(r, "%s: symlink size %" PRIu64
				   " but a %zu-byte target",
				n->path, n->size, got);
	}
}

static const struct tw_result *sort_r; /* cmp_byino's array (one walk
					 * sorts at a time) */

static int cmp_byino(const void *a, const void *b)
{
	uint64_t x = sort_r->n[*(const size_t *)a].ino;
	uint64_t y = sort_r->n[*(const size_t *)b].ino;

	return x < y ? -1 : x > y;
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const struct tw_node *)a)->path,
		      ((const struct tw_node *)b)->path);
}

/* Add a node for ino reached as path; its index in *at. */
static int add_node(struct tw_result *r, struct idx *x, const char *path,
		    uint64_t parent, const struct fs_attr *a, size_t *at)
{
	struct tw_node *n;

	if (r->nn == r->cap) {
		size_t nc = r->cap ? 2 * r->cap : 64;
		struct tw_node *nv = realloc(r->n, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		r->n = nv;
		r->cap = nc;
	}
	n = &r->n[r->nn];
	memset(n, 0, sizeof(*n));
	n->path = strdup(path);
	if (!n->path || idx_put(x, a->ino, r->nn)) {
		free(n->path);
		return -ENOMEM;
	}
	n->ino = a->ino;
	n->parent = parent;
	n->mode = a->mode;
	n->nlink = a->nlink;
	n->size = S_ISDIR(a->mode) ? 0 : a->size;
	*at = r->nn++;
	return 0;
}

/* Every inode in use on the media must have been reached. */
static void check_unreached(struct fs *fs, struct tw_result *r,
			    const struct idx *x)
{
	struct ilog_dev d;
	char why[160];
	size_t v;

	if (ilog_dev_init(&d, fs_pmio(fs), why, sizeof(why)) != 0) {
		problem(r, "superblock: %s", why);
		return;
	}
	for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES; c++) {
		if (!d.itdir[c] ||
		    ilog_chunk_check(&d, d.itdir, c, NULL, NULL, why,
				     sizeof(why)) != 0)
			continue;
		for (uint64_t i = 0; i < PMFS_INODES_PER_CHUNK; i++) {
			uint64_t ino = c * PMFS_INODES_PER_CHUNK + i;
			const struct pmfs_inode *slot = ilog_slot(&d, ino);
			struct fs_attr a;

			if (!ino || !slot || !slot->tail || idx_get(x, ino, &v))
				continue;
			/* unlinked while open (lookup references) */
			if (fs_getattr(fs, ino, &a) == 0 && a.nlink == 0)
				continue;
			problem(r, "inode %" PRIu64
				   " is in use but not reachable from the root",
				ino);
		}
	}
}

uint64_t tw_walk(struct fs *fs, struct tw_result *r)
{
	uint64_t media0 = fs_media_errors(fs), media;
	struct list l = { NULL, 0, 0, false };
	struct idx x = { NULL, NULL, 0, 0 };
	uint8_t *buf = malloc(TW_READ > PMFS_SYMLINK_MAX + 1 ? TW_READ
							      : PMFS_SYMLINK_MAX + 1);
	struct fs_attr a;
	size_t at;
	int err;

	memset(r, 0, sizeof(*r));
	if (!buf) {
		problem(r, "out of memory");
		return r->problems;
	}
	err = fs_getattr(fs, PMFS_ROOT_INO, &a);
	if (err || !S_ISDIR(a.mode) || add_node(r, &x, "/", PMFS_ROOT_INO, &a, &at)) {
		problem(r, "root: %s", err ? strerror(-err) : "not a directory");
		goto out;
	}
	/* r->n grows while it is walked: directories in the order reached */
	for (size_t k = 0; k < r->nn; k++) {
		uint64_t dino = r->n[k].ino, parent = r->n[k].parent;
		struct fs_attr dot;

		if (!S_ISDIR(r->n[k].mode))
			continue;
		if (fs_lookup(fs, dino, ".", &dot) || dot.ino != dino)
			problem(r, "%s: '.' is not the directory", r->n[k].path);
		if (fs_lookup(fs, dino, "..", &dot) || dot.ino != parent)
			problem(r, "%s: '..' is %" PRIu64 ", not %" PRIu64,
				r->n[k].path, dot.ino, parent);
		l.n = 0;
		err = fs_readdir(fs, dino, 0, fill, &l);
		if (err || l.nomem) {
			problem(r, "%s: readdir: %s", r->n[k].path,
				err ? strerror(-err) : "out of memory");
			continue;
		}
		r->n[k].ents = calloc(l.n + 1, sizeof(struct tw_ent));
		for (size_t i = 0; r->n[k].ents && i < l.n; i++) {
			r->n[k].ents[i].name = strdup(l.e[i].name);
			r->n[k].ents[i].ino = l.e[i].ino;
		}
		r->n[k].nents = r->n[k].ents ? l.n : 0;
		if (r->n[k].nents)
			qsort(r->n[k].ents, r->n[k].nents,
			      sizeof(struct tw_ent), cmp_str);
		for (size_t i = 0; i < l.n; i++) {
			char path[4096];
			size_t v;

			snprintf(path, sizeof(path), "%s/%s",
				 k ? r->n[k].path : "", l.e[i].name);
			err = fs_lookup(fs, dino, l.e[i].name, &a);
			if (err) {
				problem(r, "%s: lookup: %s", path,
					strerror(-err));
				continue;
			}
			if (a.ino != l.e[i].ino ||
			    l.e[i].dt != ((a.mode & S_IFMT) >> 12))
				problem(r, "%s: readdir says inode %" PRIu64
					   " type %u, lookup inode %" PRIu64
					   " mode %o",
					path, l.e[i].ino, l.e[i].dt, a.ino,
					a.mode);
			if (S_ISDIR(a.mode))
				r->n[k].subdirs++;
			if (idx_get(&x, a.ino, &v)) {
				r->n[v].names++;
				if (S_ISDIR(a.mode))
					problem(r, "%s: directory %" PRIu64
						   " reached a second time",
						path, a.ino);
				continue;
			}
			if (add_node(r, &x, path, dino, &a, &v)) {
				problem(r, "out of memory");
				goto out;
			}
			r->n[v].names = 1;
		}
	}
	for (size_t k = 0; k < r->nn; k++) {
		struct tw_node *n = &r->n[k];
		uint32_t want = S_ISDIR(n->mode) ? 2 + n->subdirs : n->names;

		if (n->nlink != want)
			problem(r, "%s: link count %u, %u names found", n->path,
				n->nlink, want);
		read_data(fs, r, n, buf);
		read_xattrs(fs, r, n);
	}
	check_unreached(fs, r, &x);
	qsort(r->n, r->nn, sizeof(*r->n), cmp_node);
	r->byino = malloc((r->nn + 1) * sizeof(*r->byino));
	for (size_t k = 0; r->byino && k < r->nn; k++)
		r->byino[k] = k;
	if (r->byino) {
		sort_r = r;
		qsort(r->byino, r->nn, sizeof(*r->byino), cmp_byino);
	}
out:
	media = fs_media_errors(fs) - media0;
	if (media)
		problem(r, "the mount reported %" PRIu64 " damaged structures",
			media);
	free(buf);
	free(l.e);
	free(x.key);
	free(x.val);
	return r->problems;
}

const struct tw_node *tw_find(const struct tw_result *r, const char *path)
{
	size_t lo = 0, hi = r->nn;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(r->n[mid].path, path);

		if (!c)
			return &r->n[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

const struct tw_node *tw_find_ino(const struct tw_result *r, uint64_t ino)
{
	size_t lo = 0, hi = r->byino ? r->nn : 0;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint64_t x = r->n[r->byino[mid]].ino;

		if (x == ino)
			return &r->n[r->byino[mid]];
		if (x < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void tw_free(struct tw_result *r)
{
	for (size_t i = 0; i < r->nn; i++) {
		free(r->n[i].path);
		free(r->n[i].xattrs);
		for (size_t k = 0; k < r->n[i].nents; k++)
			free(r->n[i].ents[k].name);
		free(r->n[i].ents);
	}
	free(r->n);
	free(r->byino);
	memset(r, 0, sizeof(*r));
}
