/*
 * harness.c - the crash harness engine (harness.h): record a workload on
 * pmemio's recording backend, build the crash images of every fence, and
 * check recovery, fsck, the tree against the workload's snapshots, and a
 * further operation on each.  Compiled once (crash.mk) and linked into the
 * crash suites and the crashtest tool.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "harness.h"
#include "pmemio/pmemio.h"
#include "seed.h"
#include "testutil.h"

#define CH_PROBE "__crash_probe"
#define CH_PROBE_LEN 5000
#define CH_MAX_FILE (64u << 20)

const struct fs_ctx ch_ctx = { 1000, 1000 };

struct ch_op {
	char what[96];
	uint64_t fb, fe; /* fences before and after */
	char *snap;      /* tree after the op */
};

struct ch_run {
	const struct ch_workload *w;
	struct pmio *p;   /* recording mapping, NULL in setup */
	struct fs *fs;
	bool snap;        /* take snapshots (the recorded phase) */
	struct ch_op *ops;
	size_t nops, cap;
	uint64_t fb;
	int error;
	char errmsg[256];
};

/* ---- small helpers ------------------------------------------------------ */

static uint64_t ch_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t ch_hash(const void *buf, size_t len, uint64_t h)
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

void ch_pattern(void *buf, size_t len, unsigned seed, uint64_t off)
{
	uint8_t *b = buf;

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)(ch_mix(seed * 0x10001ull + (off + i) / 8) >>
				 (((off + i) % 8) * 8));
}

uint64_t ch_ino(struct fs *fs, const char *path)
{
	uint64_t ino = 1;
	char buf[1024], *save = NULL, *tok;
	struct fs_attr a;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		if (fs_lookup(fs, ino, tok, &a))
			return 0;
		ino = a.ino;
	}
	return ino;
}

int ch_parent(struct fs *fs, const char *path, uint64_t *parent,
	      const char **name)
{
	const char *slash = strrchr(path, '/');
	char dir[1024];

	if (!slash)
		return -EINVAL;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	*parent = ch_ino(fs, dir[0] ? dir : "/");
	*name = slash + 1;
	return *parent ? 0 : -ENOENT;
}

int ch_mkfile(struct fs *fs, const char *path, size_t len, unsigned seed)
{
	struct fs_attr a;
	uint64_t dir;
	const char *name;
	int err = ch_parent(fs, path, &dir, &name);
	void *buf;

	if (err)
		return err;
	err = fs_mknod(fs, &ch_ctx, dir, name, S_IFREG | 0644, 0, &a);
	if (err || !len)
		return err;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	ch_pattern(buf, len, seed, 0);
	err = fs_pwrite(fs, a.ino, buf, len, 0);
	free(buf);
	return err;
}

int ch_mkdir(struct fs *fs, const char *path)
{
	struct fs_attr a;
	uint64_t dir;
	const char *name;
	int err = ch_parent(fs, path, &dir, &name);

	return err ? err : fs_mkdir(fs, &ch_ctx, dir, name, 0755, &a);
}

/* ---- snapshots: the whole tree as sorted text lines ---------------------- */

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
	struct ch_lines lines;
	struct ch_names *inos;
	size_t nino, capino;
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

/* Hash of every xattr name and value, in name order; appended to line. */
static int ch_xattrs(struct ch_walk *wk, const char *path, uint64_t ino,
		     char *out, size_t outsz)
{
	char names[4096], val[4096];
	size_t len = 0, vlen;
	int err = fs_listxattr(wk->fs, ino, names, sizeof(names), &len);
	uint64_t h = 0;
	unsigned n = 0;

	out[0] = 0;
	if (err == -ENOTSUP || err == -ENOSYS)
		return 0;
	if (err) {
		ch_walk_fail(wk, "%s: listxattr: %d", path, err);
		return err;
	}
	/* names come in log order; sort-free: hash each pair, xor-sum */
	for (size_t i = 0; i < len; i += strlen(names + i) + 1) {
		err = fs_getxattr(wk->fs, ino, names + i, val, sizeof(val),
				  &vlen);
		if (err) {
			ch_walk_fail(wk, "%s: getxattr %s: %d", path,
				     names + i, err);
			return err;
		}
		h ^= ch_hash(val, vlen, ch_hash(names + i, strlen(names + i),
						0));
		n++;
	}
	if (n)
		snprintf(out, outsz, " xattrs=%u:%016" PRIx64, n, h);
	return 0;
}

static void ch_walk_dir(struct ch_walk *wk, uint64_t ino, const char *path,
			int depth);

/* One inode's line; recurse into directories. */
static void ch_walk_ino(struct ch_walk *wk, const struct fs_attr *a,
			const char *path, int depth)
{
	char extra[600] = "", xa[64];
	char *line = NULL;

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
		snprintf(extra, sizeof(extra), " data=%016" PRIx64,
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
		t[tl] = 0;
		snprintf(extra, sizeof(extra), " target=%.500s", t);
	}
	if (ch_xattrs(wk, path, a->ino, xa, sizeof(xa)))
		return;
	if (asprintf(&line,
		     "%s ino=%" PRIu64 " mode=%o uid=%u gid=%u nlink=%u "
		     "size=%" PRIu64 " blocks=%" PRIu64 " rdev=%" PRIu64
		     " mtime=%lld.%09ld ctime=%lld.%09ld%s%s",
		     path, a->ino, a->mode, a->uid, a->gid, a->nlink, a->size,
		     a->blocks, a->rdev, (long long)a->mtime.tv_sec,
		     a->mtime.tv_nsec, (long long)a->ctime.tv_sec,
		     a->ctime.tv_nsec, extra, xa) < 0)
		line = NULL;
	ch_lines_add(wk, line);
	if (S_ISDIR(a->mode))
		ch_walk_dir(wk, a->ino, path, depth + 1);
	else
		ch_count_name(wk, a->ino, a->nlink);
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
		err = fs_lookup(wk->fs, ino, d.v[i].name, &a);
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
				err = fs_lookup(wk->fs, a.ino, "..", &dd);
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

/* Snapshot of fs: malloc'd sorted lines; NULL with err set on failure. */
static char *ch_snapshot(struct fs *fs, char *err, size_t errlen)
{
	struct ch_walk wk = { .fs = fs };
	struct fs_attr root;
	char *out = NULL;
	size_t total = 1;
	int r = fs_getattr(fs, 1, &root);

	if (r) {
		snprintf(err, errlen, "getattr of the root: %d", r);
		return NULL;
	}
	ch_walk_ino(&wk, &root, "/", 0);
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
	for (size_t i = 0; i < wk.lines.n; i++)
		free(wk.lines.v[i]);
	free(wk.lines.v);
	free(wk.inos);
	return wk.failed ? NULL : out;
}

/* Drop the lines of "/" and "/__crash_probe" (they change with the
 * further operation). */
static char *ch_snap_filter(const char *s)
{
	char *out = malloc(strlen(s) + 1), *q = out;

	if (!out)
		return NULL;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t l = nl ? (size_t)(nl - s) + 1 : strlen(s);

		if (strncmp(s, "/ ", 2) && strncmp(s, "/" CH_PROBE " ",
						   strlen(CH_PROBE) + 2)) {
			memcpy(q, s, l);
			q += l;
		}
		s += l;
	}
	*q = 0;
	return out;
}

/* First line where a and b differ, described in msg. */
static void ch_diff(const char *want, const char *got, char *msg, size_t len)
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

/* ---- recording hooks for workloads -------------------------------------- */

void ch_begin(struct ch_run *r)
{
	if (r && r->p)
		r->fb = pmio_rec_fences(r->p);
}

int ch_end(struct ch_run *r, const char *what, int rc)
{
	struct ch_op *op;
	char err[400];

	if (rc) {
		if (r && !r->error) {
			r->error = rc < 0 ? rc : -EIO;
			snprintf(r->errmsg, sizeof(r->errmsg),
				 "operation '%.96s' failed: %d (%.60s)", what, rc,
				 strerror(rc < 0 ? -rc : rc));
		}
		return rc;
	}
	if (!r || !r->p)
		return 0;
	if (r->nops == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 16;
		struct ch_op *nv = realloc(r->ops, nc * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		r->ops = nv;
		r->cap = nc;
	}
	op = &r->ops[r->nops];
	memset(op, 0, sizeof(*op));
	snprintf(op->what, sizeof(op->what), "%s", what);
	op->fb = r->fb;
	op->fe = pmio_rec_fences(r->p);
	if (r->snap) {
		if (r->fs) {
			op->snap = ch_snapshot(r->fs, err, sizeof(err));
			if (!op->snap) {
				r->error = -EUCLEAN;
				snprintf(r->errmsg, sizeof(r->errmsg),
					 "live tree after '%.60s' is wrong: %.160s",
					 what, err);
				return -EUCLEAN;
			}
		} else {
			op->snap = strdup(r->nops ? r->ops[r->nops - 1].snap
						  : "");
		}
		if (pmio_rec_fences(r->p) != op->fe) {
			r->error = -EPROTO;
			snprintf(r->errmsg, sizeof(r->errmsg),
				 "walking the tree after '%.96s' fenced", what);
			return -EPROTO;
		}
	}
	r->nops++;
	return 0;
}

static void ch_run_free_ops(struct ch_run *r)
{
	for (size_t i = 0; i < r->nops; i++)
		free(r->ops[i].snap);
	free(r->ops);
	r->ops = NULL;
	r->nops = r->cap = 0;
}

/* ---- options ------------------------------------------------------------ */

void ch_opts_bounded(struct ch_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_each = 6;
	o->nrandom = 6;
	o->max_images = 1500;
	o->fsck = true;
	o->only_fence = -1;
	o->max_report = 3;
	o->seed = getenv("PMFS_SEED");
}

void ch_opts_exhaustive(struct ch_opts *o)
{
	ch_opts_bounded(o);
	o->max_each = 1024;
	o->nrandom = 16;
	o->max_images = 0;
	o->max_report = 10;
}

/* ---- crash images ------------------------------------------------------- */

struct ch_ctl {
	const struct ch_workload *w;
	const struct ch_opts *o;
	struct ch_result *res;
	struct ch_run *r;
	struct pmio *sp;       /* scratch image mapping */
	char *spath;
	const char *fsck;      /* fsck.pmfs path, or NULL */
	uint8_t *keep;
	size_t nkeep;
};

/* Fill keep[] for subset spec s over n words; false if s is malformed. */
static bool ch_subset(const char *s, size_t n, uint8_t *keep)
{
	unsigned long long v;

	if (!strcmp(s, "none") || !strcmp(s, "all")) {
		memset(keep, s[0] == 'a', n);
		return true;
	}
	if (sscanf(s, "one:%llu", &v) == 1 && v < n) {
		memset(keep, 0, n);
		keep[v] = 1;
		return true;
	}
	if (sscanf(s, "allbut:%llu", &v) == 1 && v < n) {
		memset(keep, 1, n);
		keep[v] = 0;
		return true;
	}
	if (sscanf(s, "rand:%llx", &v) == 1) {
		for (size_t i = 0; i < n; i++)
			keep[i] = ch_mix(v + i) & 1;
		return true;
	}
	return false;
}

/* fs_mount_pmio with the core's own complaints on stderr silenced (the
 * reason is in err; a failing image would print one line per try). */
static int ch_quiet_mount(struct pmio *p, const struct fs_opts *fo,
			  struct fs **fs, struct fs_mount_info *mi, char *err,
			  size_t errlen)
{
	int saved = dup(2), null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int r;

	fflush(stderr);
	if (saved >= 0 && null >= 0)
		dup2(null, 2);
	r = fs_mount_pmio(p, fo, fs, mi, err, errlen);
	fflush(stderr);
	if (saved >= 0 && null >= 0)
		dup2(saved, 2);
	if (saved >= 0)
		close(saved);
	if (null >= 0)
		close(null);
	return r;
}

/* Check the image in the scratch mapping; 0 good, else msg says why. */
static int ch_check_image(struct ch_ctl *x, const char *before,
			  const char *after, char *msg, size_t len)
{
	struct fs_opts fo = { .flags = FS_O_NOATIME, .recovery_threads = 1 };
	struct fs_mount_info mi;
	struct fs *fs = NULL;
	char err[400] = "", *snap = NULL, *f1 = NULL, *f2 = NULL;
	const char *match = NULL;
	int r, bad = 1;

	r = ch_quiet_mount(x->sp, &fo, &fs, &mi, err, sizeof(err));
	if (r) {
		snprintf(msg, len, "recovery: mount failed: %d %s", r, err);
		return 1;
	}
	snap = ch_snapshot(fs, err, sizeof(err));
	if (!snap) {
		snprintf(msg, len, "after recovery the tree is broken: %s", err);
		goto out;
	}
	if (!strcmp(snap, after))
		match = after;
	else if (before && !strcmp(snap, before))
		match = before;
	if (!match) {
		char d[300];

		ch_diff(after, snap, d, sizeof(d));
		if (before && before != after) {
			char d2[300];

			ch_diff(before, snap, d2, sizeof(d2));
			snprintf(msg, len, "state is neither before nor after "
				 "the operation: vs after: %s; vs before: %s",
				 d, d2);
		} else {
			snprintf(msg, len, "state differs: %s", d);
		}
		goto out;
	}
	if (x->fsck) {
		char out[2048] = "", eout[512] = "";
		char *av[] = { (char *)x->fsck, "-n", "-f", x->spath, NULL };
		int st = tu_run(av, out, sizeof(out), eout, sizeof(eout));

		if (st != 0) {
			char *nl = strchr(out, '\n');

			if (nl && nl[1])
				nl = strchr(nl + 1, '\n');
			snprintf(msg, len, "fsck.pmfs -n -f exit %d: %.*s%s", st,
				 nl ? (int)(nl - out) : (int)strlen(out), out,
				 eout);
			for (char *c = msg; *c; c++)
				if (*c == '\n')
					*c = ' ';
			goto out;
		}
	}
	/* a further operation: create + write, clean unmount, mount, read */
	{
		struct fs_attr a;
		char buf[CH_PROBE_LEN], back[CH_PROBE_LEN];
		size_t nread = 0;

		ch_pattern(buf, sizeof(buf), 77, 0);
		r = fs_mknod(fs, &ch_ctx, 1, CH_PROBE, S_IFREG | 0600, 0, &a);
		if (!r)
			r = fs_pwrite(fs, a.ino, buf, sizeof(buf), 0);
		if (r) {
			snprintf(msg, len, "further op (create+write) failed: %d",
				 r);
			goto out;
		}
		r = fs_unmount(fs);
		fs = NULL;
		if (r) {
			snprintf(msg, len, "clean unmount after recovery: %d", r);
			goto out;
		}
		r = fs_mount_pmio(x->sp, &fo, &fs, &mi, err, sizeof(err));
		if (r) {
			fs = NULL;
			snprintf(msg, len, "remount after recovery: %d %s", r,
				 err);
			goto out;
		}
		if (!mi.was_clean) {
			snprintf(msg, len, "remount after a clean unmount was "
				 "not clean");
			goto out;
		}
		r = fs_lookup(fs, 1, CH_PROBE, &a);
		if (!r)
			r = fs_pread(fs, a.ino, back, sizeof(back), 0, &nread);
		if (r || nread != sizeof(back) || memcmp(buf, back, nread)) {
			snprintf(msg, len, "further op: probe file not read "
				 "back after remount (%d, %zu bytes)", r, nread);
			goto out;
		}
		free(snap);
		snap = ch_snapshot(fs, err, sizeof(err));
		if (!snap) {
			snprintf(msg, len, "after remount the tree is broken: %s",
				 err);
			goto out;
		}
		f1 = ch_snap_filter(match);
		f2 = ch_snap_filter(snap);
		if (!f1 || !f2 || strcmp(f1, f2)) {
			char d[300] = "out of memory";

			if (f1 && f2)
				ch_diff(f1, f2, d, sizeof(d));
			snprintf(msg, len, "tree changed across clean "
				 "unmount+mount: %s", d);
			goto out;
		}
	}
	bad = 0;
out:
	if (fs)
		fs_abandon(fs);
	free(snap);
	free(f1);
	free(f2);
	return bad;
}

/* Save the failing image and print how to replay it. */
static void ch_report(struct ch_ctl *x, struct pmio_rec_cursor *c,
		      uint64_t k, const char *subset, const char *where,
		      const char *msg)
{
	struct ch_result *res = x->res;
	char path[512], sub[64];
	const char *b = getenv("PMFS_BUILD");
	void *img;

	if (!res->failures)
		snprintf(res->first, sizeof(res->first),
			 "%s: fence %" PRIu64 " subset %s (%.120s): %.300s",
			 x->w->name,
			 k, subset, where, msg);
	res->failures++;
	if (x->o->quiet || res->failures > x->o->max_report)
		return;
	snprintf(sub, sizeof(sub), "%s", subset);
	for (char *s = sub; *s; s++)
		if (*s == ':')
			*s = '-';
	snprintf(path, sizeof(path), "/dev/shm/pmfs-crash-%s-f%" PRIu64
		 "-%s.img", x->w->name, k, sub);
	img = malloc(pmio_size(x->sp));
	if (img) {
		FILE *f = fopen(path, "w");

		pmio_rec_cursor_image(c, x->keep, img);
		if (!f || fwrite(img, 1, pmio_size(x->sp), f) !=
				  pmio_size(x->sp))
			snprintf(path, sizeof(path), "(not saved)");
		if (f)
			fclose(f);
		free(img);
	}
	b = b && *b ? b : "build";
	fprintf(stderr,
		"crash: FAIL %s: fence %" PRIu64 ", subset %s (%s): %s\n"
		"  image (before recovery): %s\n"
		"  replay: PMFS_BUILD=%s %s/tests/crash/crashtest --only %s "
		"--fence %" PRIu64 " --subset %s%s%s\n",
		x->w->name, k, subset, where, msg, path, b, b, x->w->name, k,
		subset, x->o->seed ? " --seed " : "",
		x->o->seed ? x->o->seed : "");
}

/* Test one subset at the cursor's point. */
static void ch_try(struct ch_ctl *x, struct pmio_rec_cursor *c, uint64_t k,
		   size_t n, const char *subset, const char *before,
		   const char *after, const char *where)
{
	char msg[1024];

	if (x->o->only_subset && strcmp(x->o->only_subset, subset))
		return;
	if (!ch_subset(subset, n, x->keep))
		return;
	pmio_rec_cursor_image(c, x->keep, pmio_base(x->sp));
	x->res->images++;
	if (ch_check_image(x, before, after, msg, sizeof(msg)))
		ch_report(x, c, k, subset, where, msg);
}

/* Every image of crash point k. */
static void ch_point(struct ch_ctl *x, struct pmio_rec_cursor *c,
		     uint64_t k, unsigned budget)
{
	const struct pmio_rec_word *words;
	size_t n = pmio_rec_cursor_inflight(c, &words);
	struct ch_run *r = x->r;
	const char *before = NULL, *after = NULL;
	char where[160], sub[64];
	uint64_t rng = ch_mix(ch_hash(x->w->name, strlen(x->w->name), 0) + k);
	unsigned each, used = 0;

	/* which op was in progress at point k, or the last one done */
	for (size_t i = 0; i < r->nops; i++) {
		if (r->ops[i].fb <= k && k < r->ops[i].fe) {
			after = r->ops[i].snap;
			before = i ? r->ops[i - 1].snap : after;
			snprintf(where, sizeof(where), "during op %zu '%s'", i,
				 r->ops[i].what);
			break;
		}
		if (r->ops[i].fe <= k) {
			after = r->ops[i].snap;
			snprintf(where, sizeof(where), "after op %zu '%s'", i,
				 r->ops[i].what);
		}
	}
	if (!after)
		return; /* before the mount: nothing to expect yet */
	if (n > x->nkeep) {
		uint8_t *nk = realloc(x->keep, n);

		if (!nk)
			return;
		x->keep = nk;
		x->nkeep = n;
	}
	ch_try(x, c, k, n, "none", before, after, where);
	used++;
	if (!n)
		return;
	ch_try(x, c, k, n, "all", before, after, where);
	used++;
	if (n == 1)
		return;
	each = x->o->max_each;
	if (budget && budget > used) {
		unsigned room = (budget - used) / 2;

		if (room < each)
			each = room ? room : 1;
	}
	/* one alone and all but one: every index, or a sample */
	for (size_t j = 0; j < (n < each ? n : each); j++) {
		size_t i = n <= each ? j : (size_t)((rng = ch_mix(rng)) % n);

		snprintf(sub, sizeof(sub), "one:%zu", i);
		ch_try(x, c, k, n, sub, before, after, where);
		if (n > 2) {
			snprintf(sub, sizeof(sub), "allbut:%zu", i);
			ch_try(x, c, k, n, sub, before, after, where);
		}
	}
	for (unsigned j = 0; j < x->o->nrandom && n > 2; j++) {
		rng = ch_mix(rng);
		snprintf(sub, sizeof(sub), "rand:%" PRIx64, rng);
		ch_try(x, c, k, n, sub, before, after, where);
	}
}

/* A new empty file /dev/shm/pmfs-crash-XXXXXX of `size` bytes (own
 * prefix: nothing else cleans it up under a running harness); malloc'd
 * path or NULL. */
static char *ch_tmpfile(uint64_t size)
{
	char *path = strdup("/dev/shm/pmfs-crash-XXXXXX");
	int fd = path ? mkstemp(path) : -1;

	if (fd < 0 || ftruncate(fd, (off_t)size)) {
		if (fd >= 0) {
			close(fd);
			unlink(path);
		}
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

static void ch_rmfile(char *path)
{
	if (path)
		unlink(path);
	free(path);
}

/* Make a fresh image file with mkfs.pmfs; 0 or -errno. */
static int ch_mkfs(const char *path, const char *size, char *msg, size_t len)
{
	char err[1024] = "";
	char *av[] = { (char *)tu_tool("mkfs.pmfs"), "-q", "-f", "--size",
		       (char *)size, (char *)path, NULL };
	int st = tu_run(av, NULL, 0, err, sizeof(err));

	if (st) {
		snprintf(msg, len, "mkfs.pmfs failed (%d): %s", st, err);
		return -EIO;
	}
	return 0;
}

static int ch_open(const char *path, unsigned flags, struct pmio **p,
		   char *msg, size_t len)
{
	struct pmio_opts o = { .flags = flags | PMIO_O_QUIET |
					PMIO_O_FORCE_CL };
	char err[256] = "";
	int r = pmio_open(path, &o, p, err, sizeof(err));

	if (r)
		snprintf(msg, len, "pmio_open %s: %d %s", path, r, err);
	return r;
}

static int ch_mount_info(struct pmio *p, struct fs **fs,
			 struct fs_mount_info *mi, char *msg, size_t len)
{
	struct fs_opts fo = { .flags = FS_O_NOATIME, .recovery_threads = 1 };
	char err[256] = "";
	int r = fs_mount_pmio(p, &fo, fs, mi, err, sizeof(err));

	if (r) {
		*fs = NULL;
		snprintf(msg, len, "mount: %d %s", r, err);
	}
	return r;
}

static int ch_mount(struct pmio *p, struct fs **fs, char *msg, size_t len)
{
	struct fs_mount_info mi;

	return ch_mount_info(p, fs, &mi, msg, len);
}

/* The pre phase: record w->pre, cut its last op two fences in (after a
 * journal commit), and leave that durable image in path. */
static int ch_pre(struct ch_run *r, const char *path)
{
	struct pmio_rec_cursor *c = NULL;
	struct pmio *p = NULL;
	uint64_t k;
	int err;

	err = ch_open(path, PMIO_O_RECORD, &p, r->errmsg, sizeof(r->errmsg));
	if (err)
		return err;
	r->p = p;
	r->snap = false;
	err = ch_mount(p, &r->fs, r->errmsg, sizeof(r->errmsg));
	if (!err)
		err = r->w->pre(r, r->fs);
	if (!err && !r->nops)
		err = -EINVAL;
	if (!err)
		err = pmio_rec_cursor_new(p, &c);
	if (r->fs)
		fs_abandon(r->fs);
	r->fs = NULL;
	r->p = NULL;
	pmio_close(p);
	if (err)
		goto out;
	k = r->ops[r->nops - 1].fb + 2;
	if (k >= r->ops[r->nops - 1].fe)
		k = r->ops[r->nops - 1].fe - 1;
	while (pmio_rec_cursor_next(c) && pmio_rec_cursor_fence(c) < k)
		;
	err = ch_open(path, 0, &p, r->errmsg, sizeof(r->errmsg));
	if (!err) {
		const struct pmio_rec_word *words;
		size_t n = pmio_rec_cursor_inflight(c, &words);
		uint8_t *zero = calloc(n + 1, 1);

		if (zero)
			pmio_rec_cursor_image(c, zero, pmio_base(p));
		else
			err = -ENOMEM;
		free(zero);
		pmio_close(p);
	}
out:
	pmio_rec_cursor_free(c);
	ch_run_free_ops(r);
	return err;
}

int ch_run_workload(const struct ch_workload *w, const struct ch_opts *o,
		    struct ch_result *res)
{
	struct ch_run run = { .w = w };
	struct fs_mount_info mi = { 0 };
	struct ch_ctl x = { .w = w, .o = o, .res = res, .r = &run };
	struct pmio_rec_cursor *c = NULL;
	struct pmio *p = NULL;
	char *path = NULL;
	char fsckp[4096];
	uint64_t first_off = 0;
	int err;

	memset(res, 0, sizeof(*res));
	path = ch_tmpfile(0);
	if (!path) {
		err = -errno;
		snprintf(run.errmsg, sizeof(run.errmsg),
			 "cannot create an image under /dev/shm: %s",
			 strerror(errno));
		goto out;
	}
	err = ch_mkfs(path, w->size ? w->size : "8M", run.errmsg,
		      sizeof(run.errmsg));
	if (err)
		goto out;
	/* setup: unrecorded */
	err = ch_open(path, 0, &p, run.errmsg, sizeof(run.errmsg));
	if (err)
		goto out;
	err = ch_mount(p, &run.fs, run.errmsg, sizeof(run.errmsg));
	if (!err && w->setup) {
		err = w->setup(&run, run.fs);
		if (err && !run.errmsg[0])
			snprintf(run.errmsg, sizeof(run.errmsg),
				 "setup failed: %d", err);
	}
	if (run.fs) {
		int e2 = fs_unmount(run.fs);

		if (!err && e2) {
			err = e2;
			snprintf(run.errmsg, sizeof(run.errmsg),
				 "unmount after setup: %d", e2);
		}
	}
	run.fs = NULL;
	pmio_close(p);
	p = NULL;
	if (err)
		goto out;
	if (w->pre) {
		err = ch_pre(&run, path);
		if (err)
			goto out;
	}
	/* the recorded phase */
	err = ch_open(path, PMIO_O_RECORD, &p, run.errmsg, sizeof(run.errmsg));
	if (err)
		goto out;
	run.p = p;
	run.snap = true;
	ch_begin(&run);
	err = ch_mount_info(p, &run.fs, &mi, run.errmsg, sizeof(run.errmsg));
	if (!err)
		err = ch_end(&run, "mount", 0);
	res->journals_replayed = mi.journals_replayed;
	res->was_clean = mi.was_clean;
	/* a seed counts from the first operation after the mount */
	if (!err && o->seed && pmio_seed_arm(o->seed)) {
		snprintf(run.errmsg, sizeof(run.errmsg), "bad seed spec '%s'",
			 o->seed);
		err = -EINVAL;
	}
	if (!err)
		err = w->run(&run, run.fs);
	if (!err && (w->flags & CH_W_UNMOUNT)) {
		struct fs *fs = run.fs;

		ch_begin(&run);
		run.fs = NULL;
		err = ch_end(&run, "unmount", fs_unmount(fs));
	}
	pmio_seed_disarm();
	res->seed_hits = pmio_seed_hits();
	if (!err)
		err = pmio_rec_cursor_new(p, &c);
	res->unflushed = pmio_rec_unflushed(p, &first_off);
	if (run.fs)
		fs_abandon(run.fs);
	run.fs = NULL;
	run.p = NULL;
	res->fences = pmio_rec_fences(p);
	pmio_close(p);
	p = NULL;
	if (err) {
		if (!run.errmsg[0])
			snprintf(run.errmsg, sizeof(run.errmsg),
				 "workload failed: %d", err);
		goto out;
	}
	res->ops = run.nops;
	/* the images */
	snprintf(fsckp, sizeof(fsckp), "%s", tu_tool("fsck.pmfs"));
	x.fsck = o->fsck && access(fsckp, X_OK) == 0 ? fsckp : NULL;
	res->fsck_used = x.fsck != NULL;
	{
		struct stat st;

		if (stat(path, &st) ||
		    !(x.spath = ch_tmpfile((uint64_t)st.st_size))) {
			err = -errno;
			snprintf(run.errmsg, sizeof(run.errmsg),
				 "scratch image: %s", strerror(errno));
		}
	}
	if (!err)
		err = ch_open(x.spath, 0, &x.sp, run.errmsg,
			      sizeof(run.errmsg));
	if (err)
		goto out_scratch;
	while (pmio_rec_cursor_next(c)) {
		uint64_t k = pmio_rec_cursor_fence(c);
		unsigned budget = 0;

		if (o->only_fence >= 0 && (uint64_t)o->only_fence != k)
			continue;
		if (o->max_images)
			budget = (unsigned)(o->max_images /
					    (res->fences + 1));
		res->points++;
		ch_point(&x, c, k, budget < 2 ? 2 : budget);
	}
	pmio_close(x.sp);
out_scratch:
	ch_rmfile(x.spath);
out:
	if (p) {
		if (run.fs)
			fs_abandon(run.fs);
		pmio_close(p);
	}
	pmio_seed_disarm();
	pmio_rec_cursor_free(c);
	free(x.keep);
	ch_run_free_ops(&run);
	ch_rmfile(path);
	res->error = err;
	if (err) {
		fprintf(stderr, "crash: %s: ERROR %s\n", w->name, run.errmsg);
		snprintf(res->first, sizeof(res->first), "%s: %s", w->name,
			 run.errmsg);
		return err;
	}
	fprintf(stderr,
		"crash: %s: fences %" PRIu64 ", images %" PRIu64
		", failures %" PRIu64 "\n",
		w->name, res->fences, res->images, res->failures);
	if (res->unflushed)
		fprintf(stderr,
			"crash: %s: note: %" PRIu64 " stores never flushed "
			"before a drain (first at offset %" PRIu64 ")\n",
			w->name, res->unflushed, first_off);
	if (w->pre)
		fprintf(stderr, "crash: %s: note: the recorded mount found the "
			"image %s and replayed %" PRIu64 " journals\n", w->name,
			res->was_clean ? "clean" : "not clean",
			res->journals_replayed);
	if (!res->fsck_used && o->fsck)
		fprintf(stderr, "crash: %s: note: fsck.pmfs not built, "
			"images checked by recovery + tree walk only\n",
			w->name);
	return 0;
}

const struct ch_workload *ch_find(const char *name)
{
	for (size_t i = 0; i < ch_nworkloads; i++)
		if (!strcmp(ch_workloads[i].name, name))
			return &ch_workloads[i];
	return NULL;
}
