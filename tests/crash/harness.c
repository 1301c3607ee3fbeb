/*
 * harness.c - the crash harness engine (harness.h): record a workload on
 * pmemio's recording backend, build the crash images of every fence, and
 * check each in the modes asked for: recovery by mount then fsck, or fsck
 * -y / -p on the raw image then mount; the tree against the workload's
 * snapshots (snap.c), the inodes in use, and a further operation.
 * Compiled once (crash.mk) and linked into the crash suites and the
 * crashtest tool.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "harness.h"
#include "log/log.h"
#include "pmemio/pmemio.h"
#include "differ.h"
#include "seed.h"
#include "snap.h"
#include "testutil.h"

#define CH_PROBE "__crash_probe"
#define CH_PROBE_LEN 5000
#define CH_MAX_SPECS (2 + 2 * 1024 + 64) /* subsets tried at one point */
#define CH_EOF_GROW 5000 /* ch_eof_check: past one block boundary */

const struct fs_ctx ch_ctx = { .uid = 1000, .gid = 1000 };

/* One recorded operation: its fence range and the state after it. */
struct ch_op {
	char what[96];
	unsigned track;  /* 0, or the thread's track */
	uint64_t fb, fe; /* fences before and after */
	char *snap;      /* the tree (track 0) or the track's subtree */
};

struct ch_run {
	const struct ch_workload *w;
	struct pmio *p;   /* recording mapping, NULL in setup */
	struct fs *fs;
	bool snap;        /* take snapshots (the recorded phase) */
	unsigned snapflags; /* CH_SNAP_* for the live tree */
	pthread_mutex_t mu; /* ops, error (tracks run in threads) */
	struct ch_op *ops;
	size_t nops, cap;
	uint64_t fb[CH_MAX_TRACKS + 1]; /* per track: fences at ch_begin */
	int error;
	char errmsg[256];
};

/* The calling thread's track (ch_track); 0 outside the workload's
 * threads. */
static __thread unsigned ch_cur_track;

/*
 * One part of the tree and the states it went through: the whole tree
 * for a workload without threads; else the part outside every track
 * (changed by track 0 only) and each track's subtree (track 0's states
 * cut to the subtree, then the track's own).
 */
struct ch_pstate {
	uint64_t fb, fe;
	size_t op;        /* its index among the recorded operations */
	const char *what;
	char *snap;
};

struct ch_part {
	const char *root; /* NULL: outside every track */
	struct ch_pstate *v;
	size_t n;
};

/* What an image at one crash point may show, part by part. */
struct ch_expect {
	const char *before[CH_MAX_TRACKS + 1];
	const char *after[CH_MAX_TRACKS + 1];
	char where[320];
};

/* ---- small helpers ------------------------------------------------------ */

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
		/* a linked inode: forgetting it never frees it */
		fs_forget(fs, a.ino, 1);
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

static unsigned ch_ntracks(const struct ch_workload *w)
{
	unsigned n = 0;

	if (w->flags & CH_W_THREADS)
		while (n < CH_MAX_TRACKS && w->tracks[n])
			n++;
	return n;
}

/* ---- recording hooks for workloads -------------------------------------- */

void ch_track(struct ch_run *r, unsigned t)
{
	if (t >= 1 && t <= ch_ntracks(r->w)) {
		ch_cur_track = t;
		return;
	}
	pthread_mutex_lock(&r->mu);
	if (!r->error) {
		r->error = -EINVAL;
		snprintf(r->errmsg, sizeof(r->errmsg),
			 "ch_track(%u): the workload has %u tracks", t,
			 ch_ntracks(r->w));
	}
	pthread_mutex_unlock(&r->mu);
}

void ch_begin(struct ch_run *r)
{
	if (r && r->p)
		r->fb[ch_cur_track] = pmio_rec_fences(r->p);
}

/* Note the workload's first error (any thread). */
static int ch_fail(struct ch_run *r, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int ch_fail(struct ch_run *r, int rc, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->mu);
	if (!r->error) {
		r->error = rc;
		va_start(ap, fmt);
		vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* Append op to the recorded operations (its snap is theirs now); 0 or
 * -ENOMEM (snap freed). */
static int ch_add_op(struct ch_run *r, struct ch_op *op)
{
	int err = 0;

	pthread_mutex_lock(&r->mu);
	if (r->nops == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 16;
		struct ch_op *nv = realloc(r->ops, nc * sizeof(*nv));

		if (nv) {
			r->ops = nv;
			r->cap = nc;
		} else {
			err = -ENOMEM;
		}
	}
	if (!err)
		r->ops[r->nops++] = *op;
	pthread_mutex_unlock(&r->mu);
	if (err) {
		free(op->snap);
		return ch_fail(r, err, "out of memory after '%.96s'", op->what);
	}
	return 0;
}

/* Snapshot of the calling thread's track; NULL with the workload failed.
 * *fenced: the fences the walk made (the calling thread's own on a
 * track, where other tracks fence meanwhile). */
static char *ch_op_snap(struct ch_run *r, const char *what, uint64_t *fenced)
{
	unsigned t = ch_cur_track;
	uint64_t f0 = t ? pmio_stats_thread().fences : pmio_rec_fences(r->p);
	char err[400], *snap;

	snap = ch_snapshot(r->fs, t ? r->w->tracks[t - 1] : "/",
			   r->snapflags, NULL, err, sizeof(err));
	if (!snap) {
		ch_fail(r, -EUCLEAN, "live tree after '%.60s' is wrong: %.160s",
			what, err);
		return NULL;
	}
	*fenced = (t ? pmio_stats_thread().fences : pmio_rec_fences(r->p)) -
		  f0;
	return snap;
}

/*
 * The states after an operation.  A walk must not change the media: it
 * would move the state under the snapshot.  With relatime it may: the
 * walk is a reader like any other, and its reads update the atime of an
 * inode the operation made due; then the first walk's lines (built from
 * the attributes looked up before each read) are the state after the
 * operation, the updates are an operation of their own, and a second
 * walk, which must not fence, is the state after them.  One inode at
 * most (2 fences): the model has no state with some updated and not
 * others.
 */
static int ch_op_states(struct ch_run *r, struct ch_op *op)
{
	struct ch_op reads = { .track = op->track };
	uint64_t fenced = 0;
	int err;

	op->snap = ch_op_snap(r, op->what, &fenced);
	if (!op->snap)
		return -EUCLEAN;
	if (fenced && (!(r->w->flags & CH_W_RELATIME) || op->track)) {
		free(op->snap);
		return ch_fail(r, -EPROTO, "walking the tree after '%.96s' "
			       "fenced", op->what);
	}
	if (fenced > 2) {
		free(op->snap);
		return ch_fail(r, -EPROTO, "the reads after '%.80s' updated "
			       "more than one atime (%" PRIu64 " fences)",
			       op->what, fenced);
	}
	err = ch_add_op(r, op);
	if (err || !fenced)
		return err;
	snprintf(reads.what, sizeof(reads.what), "reads after '%.70s' "
		 "(relatime)", op->what);
	reads.fb = op->fe;
	reads.fe = pmio_rec_fences(r->p);
	reads.snap = ch_op_snap(r, reads.what, &fenced);
	if (!reads.snap)
		return -EUCLEAN;
	if (fenced) {
		free(reads.snap);
		return ch_fail(r, -EPROTO, "walking the tree twice after "
			       "'%.80s' fenced twice", op->what);
	}
	return ch_add_op(r, &reads);
}

int ch_end(struct ch_run *r, const char *what, int rc)
{
	struct ch_op op = { .track = ch_cur_track };

	if (rc) {
		if (r)
			ch_fail(r, rc < 0 ? rc : -EIO,
				"operation '%.96s' failed: %d (%.60s)", what, rc,
				strerror(rc < 0 ? -rc : rc));
		return rc;
	}
	if (!r || !r->p)
		return 0;
	snprintf(op.what, sizeof(op.what), "%s", what);
	op.fb = r->fb[op.track];
	op.fe = pmio_rec_fences(r->p);
	if (r->snap && r->fs)
		return ch_op_states(r, &op);
	if (r->snap) { /* the unmount: the tree stays */
		pthread_mutex_lock(&r->mu);
		op.snap = strdup(r->nops ? r->ops[r->nops - 1].snap : "");
		pthread_mutex_unlock(&r->mu);
		if (!op.snap)
			return ch_fail(r, -ENOMEM, "out of memory");
	}
	return ch_add_op(r, &op);
}

static void ch_run_free_ops(struct ch_run *r)
{
	for (size_t i = 0; i < r->nops; i++)
		free(r->ops[i].snap);
	free(r->ops);
	r->ops = NULL;
	r->nops = r->cap = 0;
}

/* ---- parts: the expected states of each part of the tree ---------------- */

static void ch_parts_free(struct ch_part *parts, unsigned n)
{
	for (unsigned p = 0; p < n; p++) {
		for (size_t i = 0; i < parts[p].n; i++)
			free(parts[p].v[i].snap);
		free(parts[p].v);
		parts[p].v = NULL;
		parts[p].n = 0;
	}
}

/* Build parts[0 .. 1 + ntracks) from the recorded operations; 0 or
 * -errno with msg. */
static int ch_parts_build(const struct ch_run *r, struct ch_part *parts,
			  char *msg, size_t len)
{
	const struct ch_workload *w = r->w;
	unsigned nt = ch_ntracks(w);
	uint64_t end0 = 0;

	for (size_t i = 0; i < r->nops; i++)
		if (r->ops[i].track == 0 && r->ops[i].fe > end0)
			end0 = r->ops[i].fe;
	for (size_t i = 0; i < r->nops; i++) {
		if (r->ops[i].track && r->ops[i].fb < end0) {
			snprintf(msg, len, "'%s' (track %u) began before track "
				 "0 ended: track 0 works before the threads only",
				 r->ops[i].what, r->ops[i].track);
			return -EINVAL;
		}
	}
	for (unsigned p = 0; p <= nt; p++) {
		parts[p].root = p ? w->tracks[p - 1] : NULL;
		parts[p].n = 0;
		parts[p].v = calloc(r->nops ? r->nops : 1, sizeof(*parts[p].v));
		if (!parts[p].v)
			goto out_nomem;
		for (size_t i = 0; i < r->nops; i++) {
			const struct ch_op *op = &r->ops[i];
			struct ch_pstate *s = &parts[p].v[parts[p].n];

			if (op->track && op->track != p)
				continue;
			s->fb = op->fb;
			s->fe = op->fe;
			s->op = i;
			s->what = op->what;
			if (!nt || op->track)
				s->snap = strdup(op->snap);
			else
				s->snap = ch_snap_part(op->snap, parts[p].root,
						       w->tracks, nt);
			if (!s->snap)
				goto out_nomem;
			parts[p].n++;
		}
	}
	return 0;
out_nomem:
	ch_parts_free(parts, nt + 1);
	snprintf(msg, len, "out of memory");
	return -ENOMEM;
}

/* What each part may show at crash point k; false before the mount
 * completed anything (nothing to expect yet). */
static bool ch_expect_at(const struct ch_part *parts, unsigned nparts,
			 uint64_t k, struct ch_expect *e)
{
	size_t wl = 0;

	memset(e, 0, sizeof(*e));
	for (unsigned p = 0; p < nparts; p++) {
		const struct ch_part *pt = &parts[p];
		char where[160] = "";

		for (size_t i = 0; i < pt->n; i++) {
			if (pt->v[i].fb <= k && k < pt->v[i].fe) {
				e->after[p] = pt->v[i].snap;
				e->before[p] = i ? pt->v[i - 1].snap
						 : pt->v[i].snap;
				snprintf(where, sizeof(where),
					 "during op %zu '%s'", pt->v[i].op,
					 pt->v[i].what);
				break;
			}
			if (pt->v[i].fe <= k) {
				e->after[p] = pt->v[i].snap;
				e->before[p] = NULL;
				snprintf(where, sizeof(where),
					 "after op %zu '%s'", pt->v[i].op,
					 pt->v[i].what);
			}
		}
		if (!e->after[p])
			return false;
		if (nparts > 1 && p == 0)
			continue; /* the rest of the tree: mount only */
		if (wl < sizeof(e->where))
			wl += (size_t)snprintf(e->where + wl,
					       sizeof(e->where) - wl, "%s%s%s%s",
					       wl ? "; " : "",
					       pt->root ? pt->root : "",
					       pt->root ? ": " : "", where);
	}
	return true;
}

/* ---- options ------------------------------------------------------------ */

static const char *const ch_mode_names[CH_NMODES] = { "mount", "fsck-y",
						       "fsck-p" };

const char *ch_mode_name(enum ch_mode m)
{
	return m < CH_NMODES ? ch_mode_names[m] : "?";
}

int ch_mode_parse(const char *s)
{
	for (int m = 0; m < CH_NMODES; m++)
		if (!strcmp(s, ch_mode_names[m]))
			return m;
	return -1;
}

void ch_opts_bounded(struct ch_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->modes = CH_M(CH_MODE_MOUNT);
	o->max_each = 6;
	o->nrandom = 6;
	o->max_images = 1500;
	o->first_each = 3;
	o->first_max = 60;
	o->fsck = true;
	o->differ = 1;
	o->only_fence = -1;
	o->max_report = 3;
	o->seed = getenv("PMFS_SEED");
}

void ch_opts_exhaustive(struct ch_opts *o)
{
	unsigned modes;

	ch_opts_bounded(o);
	modes = o->modes;
	o->max_each = 1024;
	o->nrandom = 16;
	o->max_images = 0;
	o->first_each = 0;
	o->first_max = 0;
	o->max_report = 10;
	o->modes = modes;
}

/* ---- crash images ------------------------------------------------------- */

struct ch_ctl {
	const struct ch_workload *w;
	const struct ch_opts *o;
	struct ch_result *res;
	struct ch_run *r;
	struct ch_part parts[CH_MAX_TRACKS + 1];
	unsigned nparts;
	struct pmio *sp;       /* scratch image mapping */
	char *spath;
	const char *fsck;      /* fsck.pmfs path, or NULL */
	uint8_t *keep;
	size_t nkeep;
	/* fsck-first sampling: images per point, every stride-th point */
	unsigned first_per, first_stride;
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

/* Run fsck.pmfs f1 [f2] on the scratch image; its exit status, and its
 * first two lines of output (and stderr) as one line in out. */
static int ch_fsck(struct ch_ctl *x, const char *f1, const char *f2,
		   char *out, size_t len)
{
	char sout[2048] = "", eout[512] = "";
	char *av[] = { (char *)x->fsck, (char *)f1, (char *)f2, x->spath,
		       NULL };
	char *nl;
	int st;

	if (!f2) {
		av[2] = x->spath;
		av[3] = NULL;
	}
	st = tu_run(av, sout, sizeof(sout), eout, sizeof(eout));
	nl = strchr(sout, '\n');
	if (nl && nl[1])
		nl = strchr(nl + 1, '\n');
	snprintf(out, len, "%.*s%s", nl ? (int)(nl - sout) : (int)strlen(sout),
		 sout, eout);
	for (char *c = out; *c; c++)
		if (*c == '\n')
			*c = ' ';
	return st;
}

/* fsck -y or -p on the raw crash image, then fsck -f -n; 0 when both
 * said what they must, else 1 with msg. */
static int ch_fsck_first(struct ch_ctl *x, enum ch_mode mode, char *msg,
			 size_t len)
{
	const char *flag = mode == CH_MODE_FSCK_Y ? "-y" : "-p";
	char out[700];
	int st = ch_fsck(x, flag, NULL, out, sizeof(out));

	if (st != 0 && st != 1) {
		snprintf(msg, len, "fsck.pmfs %s on the crash image: exit %d "
			 "(a crash image is never uncorrectable): %s", flag, st,
			 out);
		return 1;
	}
	st = ch_fsck(x, "-f", "-n", out, sizeof(out));
	if (st != 0) {
		snprintf(msg, len, "after fsck.pmfs %s, fsck.pmfs -f -n exit "
			 "%d: %s", flag, st, out);
		return 1;
	}
	return 0;
}

/* Compare the recovered tree with what each part may show; 0 or 1 with
 * msg. */
static int ch_compare(struct ch_ctl *x, const struct ch_expect *e,
		      const char *snap, char *msg, size_t len)
{
	unsigned nt = x->nparts - 1;

	for (unsigned p = 0; p < x->nparts; p++) {
		const char *after = e->after[p], *before = e->before[p];
		char *part = NULL;
		const char *got = snap;
		char d[300], d2[300];
		int bad;

		if (nt) {
			part = ch_snap_part(snap, x->parts[p].root,
					    x->w->tracks, nt);
			if (!part) {
				snprintf(msg, len, "out of memory");
				return 1;
			}
			got = part;
		}
		bad = strcmp(got, after) && !(before && !strcmp(got, before));
		if (bad) {
			const char *pn = x->parts[p].root;

			ch_snap_diff(after, got, d, sizeof(d));
			if (before && before != after) {
				ch_snap_diff(before, got, d2, sizeof(d2));
				snprintf(msg, len, "%s%sstate is neither before "
					 "nor after the operation: vs after: "
					 "%s; vs before: %s", pn ? pn : "",
					 pn ? ": " : "", d, d2);
			} else {
				snprintf(msg, len, "%s%sstate differs: %s",
					 pn ? pn : "", pn ? ": " : "", d);
			}
		}
		free(part);
		if (bad)
			return 1;
	}
	return 0;
}

/*
 * Bytes past EOF stay invisible: every regular file of snap grown by
 * CH_EOF_GROW bytes reads zeros there (an append written in place past
 * EOF and cut before its size committed must not come back, nor must
 * the old data of a truncated block).  Changes the image: the last check.
 */
static int ch_eof_check(struct fs *fs, const char *snap, char *msg, size_t len)
{
	static uint8_t zero[CH_EOF_GROW], buf[CH_EOF_GROW];

	for (const char *s = snap; *s;) {
		const char *nl = strchr(s, '\n'), *sz = strstr(s, " size=");
		struct fs_setattr sa = { .valid = FS_SET_SIZE };
		unsigned long long ino, size;
		struct fs_attr a;
		unsigned mode;
		size_t nread = 0;
		int r;

		if (!nl)
			break;
		if (sscanf(strstr(s, " ino=") ? strstr(s, " ino=") : "",
			   " ino=%llu mode=%o", &ino, &mode) != 2 ||
		    !sz || sscanf(sz, " size=%llu", &size) != 1 ||
		    !S_ISREG(mode)) {
			s = nl + 1;
			continue;
		}
		sa.size = size + CH_EOF_GROW;
		r = fs_setattr(fs, &ch_ctx, ino, &sa, &a);
		if (!r)
			r = fs_pread(fs, ino, buf, CH_EOF_GROW, size, &nread);
		if (r || nread != CH_EOF_GROW || memcmp(buf, zero, nread)) {
			size_t i = 0;

			while (i < nread && !buf[i])
				i++;
			snprintf(msg, len, "%.*s: grown by %u bytes past its "
				 "size %llu, byte %llu reads %#x, not 0 (%d, %zu "
				 "bytes)", (int)strcspn(s, " "), s, CH_EOF_GROW,
				 size, size + i, i < nread ? buf[i] : 0, r,
				 nread);
			return 1;
		}
		s = nl + 1;
	}
	return 0;
}

/* A further operation on the recovered mount: create + write, clean
 * unmount, mount, read back, same tree as snap; then bytes past EOF. */
static int ch_further(struct ch_ctl *x, struct fs **fsp,
		      const struct fs_opts *fo, const char *snap,
		      unsigned snapflags, char *msg, size_t len)
{
	static const char *const drop[] = { "/", "/" CH_PROBE, NULL };
	struct fs_mount_info mi;
	struct fs_attr a;
	char buf[CH_PROBE_LEN], back[CH_PROBE_LEN], err[400] = "";
	char *snap2 = NULL, *f1 = NULL, *f2 = NULL;
	size_t nread = 0;
	int r, bad = 1;

	ch_pattern(buf, sizeof(buf), 77, 0);
	r = fs_mknod(*fsp, &ch_ctx, 1, CH_PROBE, S_IFREG | 0600, 0, &a);
	if (!r)
		r = fs_pwrite(*fsp, a.ino, buf, sizeof(buf), 0);
	if (r) {
		snprintf(msg, len, "further op (create+write) failed: %d", r);
		return 1;
	}
	r = fs_unmount(*fsp);
	*fsp = NULL;
	if (r) {
		snprintf(msg, len, "clean unmount after recovery: %d", r);
		return 1;
	}
	r = fs_mount_pmio(x->sp, fo, fsp, &mi, err, sizeof(err));
	if (r) {
		*fsp = NULL;
		snprintf(msg, len, "remount after recovery: %d %s", r, err);
		return 1;
	}
	if (!mi.was_clean) {
		snprintf(msg, len, "remount after a clean unmount was not "
			 "clean");
		return 1;
	}
	r = fs_lookup(*fsp, 1, CH_PROBE, &a);
	if (!r)
		r = fs_pread(*fsp, a.ino, back, sizeof(back), 0, &nread);
	if (r || nread != sizeof(back) || memcmp(buf, back, nread)) {
		snprintf(msg, len, "further op: probe file not read back "
			 "after remount (%d, %zu bytes)", r, nread);
		return 1;
	}
	snap2 = ch_snapshot(*fsp, "/", snapflags, NULL, err, sizeof(err));
	if (!snap2) {
		snprintf(msg, len, "after remount the tree is broken: %s", err);
		return 1;
	}
	f1 = ch_snap_drop(snap, drop);
	f2 = ch_snap_drop(snap2, drop);
	if (!f1 || !f2 || strcmp(f1, f2)) {
		char d[300] = "out of memory";

		if (f1 && f2)
			ch_snap_diff(f1, f2, d, sizeof(d));
		snprintf(msg, len, "tree changed across clean unmount+mount: "
			 "%s", d);
	} else {
		bad = ch_eof_check(*fsp, snap2, msg, len);
	}
	free(snap2);
	free(f1);
	free(f2);
	return bad;
}

/* Check the image in the scratch mapping in one mode; 0 good, else msg
 * says why.  Recovery runs on one thread at even crash points and on two
 * (the parallel log scan) at odd ones. */
static int ch_check_image(struct ch_ctl *x, enum ch_mode mode, uint64_t k,
			  const struct ch_expect *e, char *msg, size_t len)
{
	struct fs_opts fo = { .flags = FS_O_NOATIME | FS_O_ACL,
			      .recovery_threads = 1 + (unsigned)(k & 1) };
	unsigned snapflags = x->w->flags & CH_W_RELATIME ? CH_SNAP_ATIME : 0;
	struct fs_mount_info mi;
	struct statvfs sv;
	struct fs *fs = NULL;
	char err[400] = "", *snap = NULL;
	uint64_t ninodes = 0;
	int r, bad = 1;

	if (mode != CH_MODE_MOUNT && ch_fsck_first(x, mode, msg, len))
		return 1;
	if (mode == CH_MODE_MOUNT && x->o->differ &&
	    x->res->images_mode[mode] % x->o->differ == 0) {
		struct differ_result dr;

		/* the raw image, before any recovery: fsck -n and the mount
		 * (on a copy) must agree about it */
		x->res->differ_images++;
		if (differ_check(x->spath, &dr) == -1) {
			snprintf(msg, len, "mount and fsck disagree: %s",
				 dr.why);
			return 1;
		}
	}
	r = ch_quiet_mount(x->sp, &fo, &fs, &mi, err, sizeof(err));
	if (r) {
		snprintf(msg, len, "%s: mount failed: %d %s",
			 mode == CH_MODE_MOUNT ? "recovery" : "after fsck", r,
			 err);
		return 1;
	}
	snap = ch_snapshot(fs, "/", snapflags, &ninodes, err, sizeof(err));
	if (!snap) {
		snprintf(msg, len, "after recovery the tree is broken: %s", err);
		goto out;
	}
	if (ch_compare(x, e, snap, msg, len))
		goto out;
	/* no orphan left behind, no inode in use that no name reaches */
	r = fs_statfs(fs, &sv);
	if (r || sv.f_files - sv.f_ffree != ninodes) {
		snprintf(msg, len, "%" PRIu64 " inodes in use after %s, the "
			 "tree has %" PRIu64 " (statfs %d)",
			 (uint64_t)(sv.f_files - sv.f_ffree),
			 mode == CH_MODE_MOUNT ? "recovery" : "fsck and mount",
			 ninodes, r);
		goto out;
	}
	if (mode == CH_MODE_MOUNT && x->fsck) {
		char out[700];
		int st = ch_fsck(x, "-n", "-f", out, sizeof(out));

		if (st != 0) {
			snprintf(msg, len, "fsck.pmfs -n -f exit %d: %s", st,
				 out);
			goto out;
		}
	}
	bad = ch_further(x, &fs, &fo, snap, snapflags, msg, len);
out:
	if (fs)
		fs_abandon(fs);
	free(snap);
	return bad;
}

/* Save the failing image and print how to replay it. */
static void ch_report(struct ch_ctl *x, struct pmio_rec_cursor *c,
		      uint64_t k, const char *subset, enum ch_mode mode,
		      const char *where, const char *msg)
{
	struct ch_result *res = x->res;
	char path[512], sub[64], mopt[32] = "";
	const char *b = getenv("PMFS_BUILD");
	void *img;

	snprintf(mopt, sizeof(mopt), " --mode %s", ch_mode_name(mode));
	if (!res->failures)
		snprintf(res->first, sizeof(res->first),
			 "%s: fence %" PRIu64 " subset %s mode %s (%.120s): "
			 "%.300s", x->w->name, k, subset, ch_mode_name(mode),
			 where, msg);
	res->failures++;
	res->failures_mode[mode]++;
	if (x->o->quiet || res->failures > x->o->max_report)
		return;
	snprintf(sub, sizeof(sub), "%s", subset);
	for (char *s = sub; *s; s++)
		if (*s == ':')
			*s = '-';
	snprintf(path, sizeof(path), "/dev/shm/pmfs-crash-%s-f%" PRIu64
		 "-%s%s%s.img", x->w->name, k, sub,
		 mode == CH_MODE_MOUNT ? "" : "-", mode == CH_MODE_MOUNT
						       ? ""
						       : ch_mode_name(mode));
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
		"crash: FAIL %s: fence %" PRIu64 ", subset %s, mode %s (%s): "
		"%s\n"
		"  image (before recovery): %s\n"
		"  replay: PMFS_BUILD=%s %s/tests/crash/crashtest --only %s "
		"--fence %" PRIu64 " --subset %s%s%s%s%s\n",
		x->w->name, k, subset, ch_mode_name(mode), where, msg, path, b,
		b, x->w->name, k, subset, mopt, x->o->seed ? " --seed " : "",
		x->o->seed ? x->o->seed : "",
		x->w->flags & CH_W_THREADS
			? "\n  (threads: a replay records a new interleaving; "
			  "the saved image is the one that failed)"
			: "");
}

/* Test one subset at the cursor's point in one mode. */
static void ch_try(struct ch_ctl *x, struct pmio_rec_cursor *c, uint64_t k,
		   size_t n, const char *subset, enum ch_mode mode,
		   const struct ch_expect *e)
{
	char msg[1024];

	if (x->o->only_subset && strcmp(x->o->only_subset, subset))
		return;
	if (!ch_subset(subset, n, x->keep))
		return;
	pmio_rec_cursor_image(c, x->keep, pmio_base(x->sp));
	x->res->images++;
	x->res->images_mode[mode]++;
	if (ch_check_image(x, mode, k, e, msg, sizeof(msg)))
		ch_report(x, c, k, subset, mode, e->where, msg);
}

/*
 * The subsets of crash point k, in the order the fsck-first modes take
 * them: none, all, one random subset, then each word alone / all but it
 * (every index, or a sample), then the other random subsets; the mount
 * mode takes them all.  Returns how many were written to spec.
 */
static size_t ch_specs(struct ch_ctl *x, uint64_t k, size_t n,
		       unsigned budget, char (*spec)[32])
{
	uint64_t rng = ch_mix(ch_hash(x->w->name, strlen(x->w->name), 0) + k);
	unsigned each, used = 2, nrand = n > 2 ? x->o->nrandom : 0;
	size_t ns = 0, first_rand;

	snprintf(spec[ns++], 32, "none");
	if (!n)
		return ns;
	snprintf(spec[ns++], 32, "all");
	if (n == 1)
		return ns;
	each = x->o->max_each;
	if (budget && budget > used) {
		unsigned room = (budget - used) / 2;

		if (room < each)
			each = room ? room : 1;
	}
	first_rand = ns;
	if (nrand)
		ns++; /* its place; filled after the pairs (rng order) */
	for (size_t j = 0; j < (n < each ? n : each); j++) {
		size_t i = n <= each ? j : (size_t)((rng = ch_mix(rng)) % n);

		snprintf(spec[ns++], 32, "one:%zu", i);
		if (n > 2)
			snprintf(spec[ns++], 32, "allbut:%zu", i);
	}
	for (unsigned j = 0; j < nrand && ns < CH_MAX_SPECS; j++) {
		rng = ch_mix(rng);
		snprintf(spec[j ? ns++ : first_rand], 32, "rand:%" PRIx64, rng);
	}
	return ns;
}

/* Every image of crash point k, in every mode asked for. */
static void ch_point(struct ch_ctl *x, struct pmio_rec_cursor *c,
		     uint64_t k, unsigned budget, char (*spec)[32])
{
	const struct pmio_rec_word *words;
	size_t n = pmio_rec_cursor_inflight(c, &words);
	struct ch_expect e;
	size_t ns;

	if (!ch_expect_at(x->parts, x->nparts, k, &e))
		return; /* before the mount: nothing to expect yet */
	if (n > x->nkeep) {
		uint8_t *nk = realloc(x->keep, n);

		if (!nk)
			return;
		x->keep = nk;
		x->nkeep = n;
	}
	ns = ch_specs(x, k, n, budget, spec);
	if (x->o->modes & CH_M(CH_MODE_MOUNT))
		for (size_t i = 0; i < ns; i++)
			ch_try(x, c, k, n, spec[i], CH_MODE_MOUNT, &e);
	for (int m = CH_MODE_FSCK_Y; m < CH_NMODES; m++) {
		size_t ncand = ns, per = ns, start = 0;

		if (!(x->o->modes & CH_M(m)) || !x->fsck)
			continue;
		if (!x->o->only_subset) {
			/* the sample: first_per of the first first_each,
			 * rotating over the points it visits */
			if (k % x->first_stride)
				continue;
			if (x->o->first_each && ncand > x->o->first_each)
				ncand = x->o->first_each;
			if (x->first_per && per > x->first_per)
				per = x->first_per;
			if (per > ncand)
				per = ncand;
			start = (size_t)(k / x->first_stride) % ncand;
		}
		for (size_t i = 0; i < per; i++)
			ch_try(x, c, k, n, spec[(start + i) % ncand], m, &e);
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

/*
 * Open the recording.  With threads, every drain compares every page
 * (PMFS_REC_FULLSCAN) instead of tracking dirty pages by write
 * protection: record.c's fault handler marks a page dirty before it
 * opens it for writing, so a drain on another thread that collects and
 * re-protects the page between the two loses the store that faulted, and
 * every later store to that page.
 */
static int ch_open_record(const struct ch_workload *w, const char *path,
			  struct pmio **p, char *msg, size_t len)
{
	const char *old = getenv("PMFS_REC_FULLSCAN");
	char *saved = old ? strdup(old) : NULL;
	int r;

	if (w->flags & CH_W_THREADS)
		setenv("PMFS_REC_FULLSCAN", "1", 1);
	r = ch_open(path, PMIO_O_RECORD, p, msg, len);
	if (saved)
		setenv("PMFS_REC_FULLSCAN", saved, 1);
	else
		unsetenv("PMFS_REC_FULLSCAN");
	free(saved);
	return r;
}

/* Mount options of the workload's own mounts (setup, pre, recorded). */
static unsigned ch_fs_flags(const struct ch_workload *w)
{
	return (w->flags & CH_W_RELATIME ? 0 : FS_O_NOATIME) |
	       (w->flags & CH_W_REFCOUNT ? FS_O_REFCOUNT : 0) | FS_O_ACL;
}

static int ch_mount_info(const struct ch_workload *w, struct pmio *p,
			 struct fs **fs, struct fs_mount_info *mi, char *msg,
			 size_t len)
{
	struct fs_opts fo = { .flags = ch_fs_flags(w),
			      .recovery_threads = 1 };
	char err[256] = "";
	int r = fs_mount_pmio(p, &fo, fs, mi, err, sizeof(err));

	if (r) {
		*fs = NULL;
		snprintf(msg, len, "mount: %d %s", r, err);
	}
	return r;
}

static int ch_mount(const struct ch_workload *w, struct pmio *p,
		    struct fs **fs, char *msg, size_t len)
{
	struct fs_mount_info mi;

	return ch_mount_info(w, p, fs, &mi, msg, len);
}

/* The pre phase: record w->pre, cut its last op two fences in (after a
 * journal commit), and leave that durable image in path. */
static int ch_pre(struct ch_run *r, const char *path)
{
	struct pmio_rec_cursor *c = NULL;
	struct pmio *p = NULL;
	uint64_t k;
	int err;

	err = ch_open_record(r->w, path, &p, r->errmsg, sizeof(r->errmsg));
	if (err)
		return err;
	r->p = p;
	r->snap = false;
	err = ch_mount(r->w, p, &r->fs, r->errmsg, sizeof(r->errmsg));
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

/* The setup phase (unrecorded) on a clean mount; with relatime, a walk
 * at its end makes every atime newer than mtime and ctime, so that the
 * recorded phase's walks update none. */
static int ch_setup(struct ch_run *r, const char *path)
{
	struct pmio *p = NULL;
	char err[400];
	int e, e2;

	e = ch_open(path, 0, &p, r->errmsg, sizeof(r->errmsg));
	if (e)
		return e;
	e = ch_mount(r->w, p, &r->fs, r->errmsg, sizeof(r->errmsg));
	if (!e && r->w->setup) {
		e = r->w->setup(r, r->fs);
		if (e && !r->errmsg[0])
			snprintf(r->errmsg, sizeof(r->errmsg),
				 "setup failed: %d", e);
	}
	if (!e && (r->w->flags & CH_W_RELATIME)) {
		char *s = ch_snapshot(r->fs, "/", r->snapflags, NULL, err,
				      sizeof(err));

		if (!s) {
			e = -EUCLEAN;
			snprintf(r->errmsg, sizeof(r->errmsg),
				 "tree after setup: %.200s", err);
		}
		free(s);
	}
	if (r->fs) {
		e2 = fs_unmount(r->fs);
		if (!e && e2) {
			e = e2;
			snprintf(r->errmsg, sizeof(r->errmsg),
				 "unmount after setup: %d", e2);
		}
	}
	r->fs = NULL;
	pmio_close(p);
	return e;
}

/* Journal lanes' commit counts (pmfs_journal.seq) of the mapping; the
 * number of lanes, 0 if the image cannot be read. */
static unsigned ch_lane_seqs(struct pmio *p, uint64_t *seq)
{
	struct ilog_dev d;
	char why[200];

	if (ilog_dev_init(&d, p, why, sizeof(why)))
		return 0;
	for (unsigned l = 0; l < d.nlanes && l < PMFS_MAX_LANES; l++)
		seq[l] = d.jnl[l].seq;
	return d.nlanes < PMFS_MAX_LANES ? d.nlanes : PMFS_MAX_LANES;
}

/* Tracked operations whose fence ranges overlap one of another track. */
static uint64_t ch_overlaps(const struct ch_run *r)
{
	uint64_t n = 0;

	for (size_t i = 0; i < r->nops; i++) {
		const struct ch_op *a = &r->ops[i];

		if (!a->track)
			continue;
		for (size_t j = 0; j < r->nops; j++) {
			const struct ch_op *b = &r->ops[j];

			if (b->track && b->track != a->track &&
			    a->fb < b->fe && b->fb < a->fe) {
				n++;
				break;
			}
		}
	}
	return n;
}

/* Print the workload's line(s) on stderr. */
static void ch_print(const struct ch_workload *w, const struct ch_opts *o,
		     const struct ch_result *res, uint64_t first_off)
{
	fprintf(stderr,
		"crash: %s: fences %" PRIu64 ", images %" PRIu64
		", failures %" PRIu64,
		w->name, res->fences, res->images, res->failures);
	if (o->modes != CH_M(CH_MODE_MOUNT)) {
		const char *sep = " (";

		for (int m = 0; m < CH_NMODES; m++) {
			if (!(o->modes & CH_M(m)))
				continue;
			fprintf(stderr, "%s%s %" PRIu64 "/%" PRIu64, sep,
				ch_mode_name(m), res->images_mode[m],
				res->failures_mode[m]);
			sep = ", ";
		}
		fprintf(stderr, ")");
	}
	if (res->differ_images)
		fprintf(stderr, ", %" PRIu64 " raw images held to the "
			"differential check", res->differ_images);
	fprintf(stderr, "\n");
	if (w->flags & CH_W_THREADS)
		fprintf(stderr, "crash: %s: note: %" PRIu64 " operations "
			"overlapped one on another track; %u journal lanes "
			"committed\n", w->name, res->overlaps, res->lanes_used);
	if (res->unflushed && !(w->flags & CH_W_THREADS))
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
}

/* fsck-first sampling for a recording of `fences` fences. */
static void ch_first_sample(struct ch_ctl *x, uint64_t fences)
{
	const struct ch_opts *o = x->o;
	uint64_t npts = fences + 1;

	x->first_per = o->first_each;
	x->first_stride = 1;
	if (!o->first_max)
		return;
	if (!x->first_per || npts * x->first_per > o->first_max) {
		x->first_per = (unsigned)(o->first_max / npts);
		if (!x->first_per) {
			x->first_per = 1;
			x->first_stride = (unsigned)((npts + o->first_max - 1) /
						     o->first_max);
		}
	}
}

int ch_run_workload(const struct ch_workload *w, const struct ch_opts *o,
		    struct ch_result *res)
{
	struct ch_run run = { .w = w };
	struct fs_mount_info mi = { 0 };
	struct ch_ctl x = { .w = w, .o = o, .res = res, .r = &run };
	struct pmio_rec_cursor *c = NULL;
	struct pmio *p = NULL;
	char *path = NULL, (*spec)[32] = NULL;
	char fsckp[4096];
	uint64_t first_off = 0, seq0[PMFS_MAX_LANES], seq1[PMFS_MAX_LANES];
	unsigned nlanes = 0;
	int err;

	memset(res, 0, sizeof(*res));
	pthread_mutex_init(&run.mu, NULL);
	run.snapflags = (w->flags & CH_W_RELATIME ? CH_SNAP_ATIME : 0) |
			(w->flags & CH_W_REFCOUNT ? CH_SNAP_FORGET : 0);
	x.nparts = 1 + ch_ntracks(w);
	if ((w->flags & CH_W_THREADS) && (x.nparts == 1 || w->pre ||
					  (w->flags & CH_W_UNMOUNT))) {
		err = -EINVAL;
		snprintf(run.errmsg, sizeof(run.errmsg), "a workload with "
			 "threads needs tracks, and no pre phase or unmount");
		goto out;
	}
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
	if (!err)
		err = ch_setup(&run, path);
	if (!err && w->pre)
		err = ch_pre(&run, path);
	if (err)
		goto out;
	/* the recorded phase */
	err = ch_open_record(w, path, &p, run.errmsg, sizeof(run.errmsg));
	if (err)
		goto out;
	nlanes = ch_lane_seqs(p, seq0);
	run.p = p;
	run.snap = true;
	ch_cur_track = 0;
	ch_begin(&run);
	err = ch_mount_info(w, p, &run.fs, &mi, run.errmsg,
			    sizeof(run.errmsg));
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
	if (!err && run.error)
		err = run.error; /* a thread failed */
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
	if (nlanes && ch_lane_seqs(p, seq1) == nlanes)
		for (unsigned l = 0; l < nlanes; l++)
			res->lanes_used += seq1[l] != seq0[l];
	res->overlaps = ch_overlaps(&run);
	pmio_close(p);
	p = NULL;
	if (err)
		goto out;
	res->ops = run.nops;
	for (size_t i = 0; o->list_ops && i < run.nops; i++)
		fprintf(stderr, "crash: %s: op %zu, fences [%" PRIu64
			", %" PRIu64 "), track %u: %s\n", w->name, i,
			run.ops[i].fb, run.ops[i].fe, run.ops[i].track,
			run.ops[i].what);
	err = ch_parts_build(&run, x.parts, run.errmsg, sizeof(run.errmsg));
	if (err)
		goto out;
	/* the images */
	snprintf(fsckp, sizeof(fsckp), "%s", tu_tool("fsck.pmfs"));
	x.fsck = o->fsck && access(fsckp, X_OK) == 0 ? fsckp : NULL;
	res->fsck_used = x.fsck != NULL;
	ch_first_sample(&x, res->fences);
	spec = malloc(CH_MAX_SPECS * sizeof(*spec));
	{
		struct stat st;

		if (!spec || stat(path, &st) ||
		    !(x.spath = ch_tmpfile((uint64_t)st.st_size))) {
			err = spec ? -errno : -ENOMEM;
			snprintf(run.errmsg, sizeof(run.errmsg),
				 "scratch image: %s", strerror(-err));
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
		ch_point(&x, c, k, budget < 2 ? 2 : budget, spec);
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
	free(spec);
	ch_parts_free(x.parts, x.nparts);
	ch_run_free_ops(&run);
	pthread_mutex_destroy(&run.mu);
	ch_rmfile(path);
	res->error = err;
	if (err) {
		fprintf(stderr, "crash: %s: ERROR %s\n", w->name, run.errmsg);
		snprintf(res->first, sizeof(res->first), "%s: %s", w->name,
			 run.errmsg);
		return err;
	}
	ch_print(w, o, res, first_off);
	return 0;
}

const struct ch_workload *ch_find(const char *name)
{
	for (size_t i = 0; i < ch_nworkloads; i++)
		if (!strcmp(ch_workloads[i].name, name))
			return &ch_workloads[i];
	return NULL;
}
