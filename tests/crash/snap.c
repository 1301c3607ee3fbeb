/*
 * snap.c - snapshots of a mounted tree for the crash harness (snap.h):
 * the walk that reads every name, inode, file, symlink and xattr through
 * the fs API and checks what it can on the way (lookup agrees with
 * readdir, '..', link counts), the sorted text it makes of them, and the
 * text operations the harness compares with (parts, drops, diffs).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/fs.h"
#include "snap.h"

#define CH_MAX_FILE (64u << 20)
#define CH_TARGET_SHOWN 128 /* longer symlink targets are hashed */

uint64_t ch_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

uint64_t ch_hash(const void *buf, size_t len, uint64_t h)
{
	const uint8_t *b = buf;

	if (!h)
		h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

/* ---- the walk ------------------------------------------------------------ */

struct ch_lines {
	char **v;
	size_t n, cap;
};

struct ch_names {
	uint64_t ino;
	uint32_t nlink;
	uint32_t names;
};

struct ch_walk {
	struct fs *fs;
	unsigned flags;
	struct ch_lines lines;
	struct ch_names *inos; /* non-directories, with their names */
	size_t nino, capino;
	uint64_t ndirs;
	char err[400];
	bool failed;
};

static void ch_walk_fail(struct ch_walk *wk, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void ch_walk_fail(struct ch_walk *wk, const char *fmt, ...)
{
	va_list ap;

	if (wk->failed)
		return;
	wk->failed = true;
	va_start(ap, fmt);
	vsnprintf(wk->err, sizeof(wk->err), fmt, ap);
	va_end(ap);
}

/* fs_lookup that keeps no reference with CH_SNAP_FORGET: the inode stays
 * reachable through the name just read. */
static int ch_walk_lookup(struct ch_walk *wk, uint64_t dir, const char *name,
			  struct fs_attr *a)
{
	int err = fs_lookup(wk->fs, dir, name, a);

	if (!err && (wk->flags & CH_SNAP_FORGET))
		fs_forget(wk->fs, a->ino, 1);
	return err;
}

static void ch_lines_add(struct ch_walk *wk, char *s)
{
	if (!s) {
		ch_walk_fail(wk, "out of memory");
		return;
	}
	if (wk->lines.n == wk->lines.cap) {
		size_t nc = wk->lines.cap ? wk->lines.cap * 2 : 64;
		char **nv = realloc(wk->lines.v, nc * sizeof(*nv));

		if (!nv) {
			free(s);
			ch_walk_fail(wk, "out of memory");
			return;
		}
		wk->lines.v = nv;
		wk->lines.cap = nc;
	}
	wk->lines.v[wk->lines.n++] = s;
}

/* Count one more name of a non-directory inode. */
static void ch_count_name(struct ch_walk *wk, uint64_t ino, uint32_t nlink)
{
	for (size_t i = 0; i < wk->nino; i++) {
		if (wk->inos[i].ino == ino) {
			wk->inos[i].names++;
			return;
		}
	}
	if (wk->nino == wk->capino) {
		size_t nc = wk->capino ? wk->capino * 2 : 64;
		struct ch_names *nv = realloc(wk->inos, nc * sizeof(*nv));

		if (!nv) {
			ch_walk_fail(wk, "out of memory");
			return;
		}
		wk->inos = nv;
		wk->capino = nc;
	}
	wk->inos[wk->nino++] = (struct ch_names){ ino, nlink, 1 };
}

struct ch_dent {
	char name[256];
	uint64_t ino;
	unsigned dtype;
};

struct ch_dents {
	struct ch_dent *v;
	size_t n, cap;
	bool oom;
};

static int ch_fill(void *arg, const char *name, uint64_t ino, unsigned dtype,
		   uint64_t next)
{
	struct ch_dents *d = arg;

	(void)next;
	if (d->n == d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 16;
		struct ch_dent *nv = realloc(d->v, nc * sizeof(*nv));

		if (!nv) {
			d->oom = true;
			return 1;
		}
		d->v = nv;
		d->cap = nc;
	}
	snprintf(d->v[d->n].name, sizeof(d->v[d->n].name), "%s", name);
	d->v[d->n].ino = ino;
	d->v[d->n].dtype = dtype;
	d->n++;
	return 0;
}

/* Hash of every xattr name and value, in name order; written to out. */
static int ch_xattrs(struct ch_walk *wk, const char *path, uint64_t ino,
		     char *out, size_t outsz)
{
	char *names = NULL, *val = NULL;
	size_t len = 0, vlen, got;
	uint64_t h = 0;
	unsigned n = 0;
	int err = fs_listxattr(wk->fs, ino, NULL, 0, &len);

	out[0] = 0;
	if (err == -ENOTSUP || err == -ENOSYS)
		return 0;
	if (!err && len) {
		names = malloc(len);
		err = names ? fs_listxattr(wk->fs, ino, names, len, &got)
			    : -ENOMEM;
		if (!err && got != len)
			err = -ERANGE;
	}
	if (err) {
		ch_walk_fail(wk, "%s: listxattr: %d", path, err);
		goto out;
	}
	/* names come in log order; sort-free: hash each pair, xor-sum */
	for (size_t i = 0; i < len; i += strlen(names + i) + 1) {
		err = fs_getxattr(wk->fs, ino, names + i, NULL, 0, &vlen);
		if (!err) {
			free(val);
			val = malloc(vlen ? vlen : 1);
			err = val ? fs_getxattr(wk->fs, ino, names + i, val,
						vlen, &got)
				  : -ENOMEM;
			if (!err && got != vlen)
				err = -ERANGE;
		}
		if (err) {
			ch_walk_fail(wk, "%s: getxattr %.40s: %d", path,
				     names + i, err);
			goto out;
		}
		h ^= ch_hash(val, vlen, ch_hash(names + i, strlen(names + i),
						0));
		n++;
	}
	if (n)
		snprintf(out, outsz, " xattrs=%u:%016" PRIx64, n, h);
out:
	free(names);
	free(val);
	return err;
}

static void ch_walk_dir(struct ch_walk *wk, uint64_t ino, const char *path,
			int depth);

/* The line of a regular file's contents or a symlink's target. */
static void ch_walk_body(struct ch_walk *wk, const struct fs_attr *a,
			 const char *path, char *extra, size_t len)
{
	if (S_ISREG(a->mode)) {
		size_t nread = 0;
		char *buf;
		int err;

		if (a->size > CH_MAX_FILE) {
			ch_walk_fail(wk, "%s: size %" PRIu64 " too large", path,
				     a->size);
			return;
		}
		buf = malloc(a->size ? a->size : 1);
		if (!buf) {
			ch_walk_fail(wk, "out of memory");
			return;
		}
		err = fs_pread(wk->fs, a->ino, buf, a->size, 0, &nread);
		if (err || nread != a->size)
			ch_walk_fail(wk, "%s: read %" PRIu64 " bytes: %d, got %zu",
				     path, a->size, err, nread);
		snprintf(extra, len, " data=%016" PRIx64,
			 ch_hash(buf, nread, 0));
		free(buf);
	} else if (S_ISLNK(a->mode)) {
		char t[4097];
		size_t tl = 0;
		int err = fs_readlink(wk->fs, a->ino, t, sizeof(t) - 1, &tl);

		if (err) {
			ch_walk_fail(wk, "%s: readlink: %d", path, err);
			return;
		}
		if (tl != a->size)
			ch_walk_fail(wk, "%s: target of %zu bytes, size %" PRIu64,
				     path, tl, a->size);
		t[tl] = 0;
		if (tl <= CH_TARGET_SHOWN)
			snprintf(extra, len, " target=%.*s", (int)tl, t);
		else
			snprintf(extra, len, " target=%zu:%016" PRIx64, tl,
				 ch_hash(t, tl, 0));
	}
}

/* One inode's line; recurse into directories. */
static void ch_walk_ino(struct ch_walk *wk, const struct fs_attr *a,
			const char *path, int depth)
{
	char extra[200] = "", xa[64], at[48] = "";
	char *line = NULL;

	ch_walk_body(wk, a, path, extra, sizeof(extra));
	if (wk->failed || ch_xattrs(wk, path, a->ino, xa, sizeof(xa)))
		return;
	if (wk->flags & CH_SNAP_ATIME)
		snprintf(at, sizeof(at), " atime=%lld.%09ld",
			 (long long)a->atime.tv_sec, a->atime.tv_nsec);
	if (asprintf(&line,
		     "%s ino=%" PRIu64 " mode=%o uid=%u gid=%u nlink=%u "
		     "size=%" PRIu64 " blocks=%" PRIu64 " rdev=%" PRIu64
		     " mtime=%lld.%09ld ctime=%lld.%09ld%s%s%s",
		     path, a->ino, a->mode, a->uid, a->gid, a->nlink, a->size,
		     a->blocks, a->rdev, (long long)a->mtime.tv_sec,
		     a->mtime.tv_nsec, (long long)a->ctime.tv_sec,
		     a->ctime.tv_nsec, at, extra, xa) < 0)
		line = NULL;
	ch_lines_add(wk, line);
	if (S_ISDIR(a->mode)) {
		wk->ndirs++;
		ch_walk_dir(wk, a->ino, path, depth + 1);
	} else {
		ch_count_name(wk, a->ino, a->nlink);
	}
}

static void ch_walk_dir(struct ch_walk *wk, uint64_t ino, const char *path,
			int depth)
{
	struct ch_dents d = { 0 };
	struct fs_attr self, a, dd;
	unsigned subdirs = 0;
	int err;

	if (depth > 64) {
		ch_walk_fail(wk, "%s: directory tree deeper than 64 (a cycle?)",
			     path);
		return;
	}
	err = fs_getattr(wk->fs, ino, &self);
	if (err) {
		ch_walk_fail(wk, "%s: getattr: %d", path, err);
		return;
	}
	err = fs_readdir(wk->fs, ino, 0, ch_fill, &d);
	if (err || d.oom) {
		ch_walk_fail(wk, "%s: readdir: %d", path, err);
		goto out;
	}
	for (size_t i = 0; i < d.n && !wk->failed; i++) {
		char *cp = NULL;

		if (asprintf(&cp, "%s%s%s", path, path[1] ? "/" : "",
			     d.v[i].name) < 0) {
			ch_walk_fail(wk, "out of memory");
			break;
		}
		err = ch_walk_lookup(wk, ino, d.v[i].name, &a);
		if (err) {
			ch_walk_fail(wk, "%s: listed but lookup fails: %d", cp,
				     err);
		} else if (a.ino != d.v[i].ino) {
			ch_walk_fail(wk, "%s: readdir ino %" PRIu64
				     ", lookup ino %" PRIu64, cp, d.v[i].ino,
				     a.ino);
		} else if (d.v[i].dtype && d.v[i].dtype != ((a.mode >> 12) & 15)) {
			ch_walk_fail(wk, "%s: readdir type %u, mode %o", cp,
				     d.v[i].dtype, a.mode);
		} else {
			if (S_ISDIR(a.mode)) {
				subdirs++;
				err = ch_walk_lookup(wk, a.ino, "..", &dd);
				if (err || dd.ino != ino)
					ch_walk_fail(wk, "%s: '..' is %" PRIu64
						     " (%d), not %" PRIu64, cp,
						     err ? 0 : dd.ino, err, ino);
			}
			ch_walk_ino(wk, &a, cp, depth);
		}
		free(cp);
	}
	if (!wk->failed && self.nlink != 2 + subdirs)
		ch_walk_fail(wk, "%s: nlink %u, expected 2 + %u subdirectories",
			     path, self.nlink, subdirs);
out:
	free(d.v);
}

static int ch_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Inode of path, looked up as the walk does; 0 and err set if none. */
static uint64_t ch_walk_resolve(struct ch_walk *wk, const char *path)
{
	uint64_t ino = 1;
	char buf[1024], *save = NULL, *tok;
	struct fs_attr a;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		int err = ch_walk_lookup(wk, ino, tok, &a);

		if (err) {
			ch_walk_fail(wk, "%s: lookup of %s: %d", path, tok, err);
			return 0;
		}
		ino = a.ino;
	}
	return ino;
}

char *ch_snapshot(struct fs *fs, const char *path, unsigned flags,
		  uint64_t *ninodes, char *err, size_t errlen)
{
	struct ch_walk wk = { .fs = fs, .flags = flags };
	struct fs_attr top;
	char *out = NULL;
	size_t total = 1;
	uint64_t ino = ch_walk_resolve(&wk, path);
	int r;

	if (ino) {
		r = fs_getattr(fs, ino, &top);
		if (r)
			ch_walk_fail(&wk, "getattr of %s: %d", path, r);
		else
			ch_walk_ino(&wk, &top, path, 0);
	}
	for (size_t i = 0; i < wk.nino && !wk.failed; i++)
		if (wk.inos[i].names != wk.inos[i].nlink)
			ch_walk_fail(&wk, "inode %" PRIu64 ": nlink %u but %u "
				     "names", wk.inos[i].ino, wk.inos[i].nlink,
				     wk.inos[i].names);
	if (!wk.failed) {
		qsort(wk.lines.v, wk.lines.n, sizeof(char *), ch_cmp_str);
		for (size_t i = 0; i < wk.lines.n; i++)
			total += strlen(wk.lines.v[i]) + 1;
		out = malloc(total);
		if (out) {
			char *q = out;

			for (size_t i = 0; i < wk.lines.n; i++) {
				size_t l = strlen(wk.lines.v[i]);

				memcpy(q, wk.lines.v[i], l);
				q[l] = '\n';
				q += l + 1;
			}
			*q = 0;
		} else {
			ch_walk_fail(&wk, "out of memory");
		}
	}
	if (wk.failed)
		snprintf(err, errlen, "%s", wk.err);
	if (ninodes)
		*ninodes = wk.ndirs + wk.nino;
	for (size_t i = 0; i < wk.lines.n; i++)
		free(wk.lines.v[i]);
	free(wk.lines.v);
	free(wk.inos);
	if (wk.failed) {
		free(out);
		return NULL;
	}
	return out;
}

/* ---- text operations ----------------------------------------------------- */

int ch_snap_under(const char *line, const char *root)
{
	size_t l = strlen(root);

	if (!strcmp(root, "/"))
		return line[0] == '/';
	return !strncmp(line, root, l) && (line[l] == ' ' || line[l] == '/');
}

/* Lines of s for which keep(line, arg) holds; malloc'd. */
static char *ch_snap_select(const char *s,
			    int (*keep)(const char *line, const void *arg),
			    const void *arg)
{
	char *out = malloc(strlen(s) + 1), *q = out;

	if (!out)
		return NULL;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t l = nl ? (size_t)(nl - s) + 1 : strlen(s);

		if (keep(s, arg)) {
			memcpy(q, s, l);
			q += l;
		}
		s += l;
	}
	*q = 0;
	return out;
}

struct ch_part_sel {
	const char *root;
	const char *const *roots;
	size_t nroots;
};

static int ch_part_keep(const char *line, const void *arg)
{
	const struct ch_part_sel *ps = arg;

	if (ps->root)
		return ch_snap_under(line, ps->root);
	for (size_t i = 0; i < ps->nroots; i++)
		if (ch_snap_under(line, ps->roots[i]))
			return 0;
	return 1;
}

char *ch_snap_part(const char *snap, const char *root,
		   const char *const *roots, size_t nroots)
{
	struct ch_part_sel ps = { root, roots, nroots };

	return ch_snap_select(snap, ch_part_keep, &ps);
}

static int ch_drop_keep(const char *line, const void *arg)
{
	const char *const *drop = arg;

	for (; *drop; drop++) {
		size_t l = strlen(*drop);

		if (!strncmp(line, *drop, l) && line[l] == ' ')
			return 0;
	}
	return 1;
}

char *ch_snap_drop(const char *snap, const char *const *drop)
{
	return ch_snap_select(snap, ch_drop_keep, drop);
}

void ch_snap_diff(const char *want, const char *got, char *msg, size_t len)
{
	while (*want && *got) {
		size_t lw = strcspn(want, "\n"), lg = strcspn(got, "\n");

		if (lw != lg || memcmp(want, got, lw))
			break;
		want += lw + (want[lw] != 0);
		got += lg + (got[lg] != 0);
	}
	snprintf(msg, len, "expected [%.*s] got [%.*s]",
		 (int)(*want ? strcspn(want, "\n") : 5), *want ? want : "(end)",
		 (int)(*got ? strcspn(got, "\n") : 5), *got ? got : "(end)");
}
