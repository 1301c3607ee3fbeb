/*
 * test_model.c - model-based random test: random operations run against
 * the filesystem and an in-memory reference model; results (error codes)
 * are compared after each step, and the whole tree (names, types, link
 * counts, sizes, contents) every few steps and after every clean remount
 * and simulated crash.
 */
#include "fsfix.h"

#include <linux/falloc.h>
#include <stdio.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif

#define NNAMES 6
#define MAXN 4096
#define MAXSZ (96 * 1024)

enum { M_FREE, M_FILE, M_DIR };

struct mnode {
	int type;
	uint64_t ino;
	int nlink;
	int parent; /* dirs */
	int ent[NNAMES]; /* dirs: child node or -1 */
	size_t size;
	uint8_t *data;
};

static struct mnode M[MAXN];
static const char *NAMES[NNAMES] = { "a", "bb", "c", "dd", "e", "f" };
static uint64_t rng;
static int n_ok, n_err, n_remount;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static int m_new(int type)
{
	for (int i = 1; i < MAXN; i++) {
		if (M[i].type == M_FREE) {
			memset(&M[i], 0, sizeof(M[i]));
			M[i].type = type;
			for (int k = 0; k < NNAMES; k++)
				M[i].ent[k] = -1;
			return i;
		}
	}
	return -1;
}

static void m_drop(int n)
{
	if (--M[n].nlink <= (M[n].type == M_DIR ? 1 : 0)) {
		free(M[n].data);
		M[n].data = NULL;
		M[n].type = M_FREE;
	}
}

static int m_empty(int d)
{
	for (int k = 0; k < NNAMES; k++)
		if (M[d].ent[k] >= 0)
			return 0;
	return 1;
}

static int pick(int type)
{
	int c[MAXN], n = 0;

	for (int i = 0; i < MAXN; i++)
		if (M[i].type == type)
			c[n++] = i;
	return n ? c[rnd((uint32_t)n)] : -1;
}

static int under(int d, int anc)
{
	for (int i = 0; i < 64; i++) {
		if (d == anc)
			return 1;
		if (d == 0)
			return 0;
		d = M[d].parent;
	}
	return 0;
}

static void check_tree(int d)
{
	for (int k = 0; k < NNAMES; k++) {
		struct fs_attr a;
		int r = fs_lookup(fx_fs, M[d].ino, NAMES[k], &a), c;

		if (M[d].ent[k] < 0) {
			cr_assert_eq(r, -ENOENT, "dir %lu name %s",
				     (unsigned long)M[d].ino, NAMES[k]);
			continue;
		}
		c = M[d].ent[k];
		cr_assert_eq(r, 0, "lookup %s", NAMES[k]);
		cr_assert_eq(a.ino, M[c].ino);
		cr_assert_eq(a.nlink, (uint32_t)M[c].nlink, "nlink of %lu",
			     (unsigned long)a.ino);
		if (M[c].type == M_DIR) {
			cr_assert(S_ISDIR(a.mode));
			cr_assert_eq(fs_lookup(fx_fs, a.ino, "..", &a), 0);
			cr_assert_eq(a.ino, M[d].ino);
			check_tree(c);
		} else {
			uint8_t *buf = malloc(M[c].size + 1);
			size_t n;

			cr_assert(S_ISREG(a.mode));
			cr_assert_eq(a.size, M[c].size);
			cr_assert_eq(fs_pread(fx_fs, a.ino, buf, M[c].size, 0,
					      &n), 0);
			cr_assert_eq(n, M[c].size);
			cr_assert(M[c].size == 0 ||
				  memcmp(buf, M[c].data, M[c].size) == 0,
				  "content of %lu", (unsigned long)a.ino);
			free(buf);
		}
	}
}

static void step(void)
{
	int op = (int)rnd(100), d = pick(M_DIR), k = (int)rnd(NNAMES), r, e;
	struct fs_attr a;

	if (op < 14) { /* create */
		e = M[d].ent[k] >= 0 ? -EEXIST : 0;
		r = fs_mknod(fx_fs, &fx_ctx, M[d].ino, NAMES[k], S_IFREG | 0644,
			     0, &a);
		cr_assert_eq(r, e, "create: %d want %d", r, e);
		if (!r) {
			int n = m_new(M_FILE);

			cr_assert_geq(n, 0);
			M[n].ino = a.ino;
			M[n].nlink = 1;
			M[d].ent[k] = n;
		}
	} else if (op < 22) { /* mkdir */
		e = M[d].ent[k] >= 0 ? -EEXIST : 0;
		r = fs_mkdir(fx_fs, &fx_ctx, M[d].ino, NAMES[k], 0755, &a);
		cr_assert_eq(r, e, "mkdir: %d want %d", r, e);
		if (!r) {
			int n = m_new(M_DIR);

			M[n].ino = a.ino;
			M[n].nlink = 2;
			M[n].parent = d;
			M[d].ent[k] = n;
			M[d].nlink++;
		}
	} else if (op < 32) { /* unlink */
		int c = M[d].ent[k];

		e = c < 0 ? -ENOENT : M[c].type == M_DIR ? -EISDIR : 0;
		r = fs_unlink(fx_fs, M[d].ino, NAMES[k]);
		cr_assert_eq(r, e, "unlink: %d want %d", r, e);
		if (!r) {
			M[d].ent[k] = -1;
			m_drop(c);
		}
	} else if (op < 38) { /* rmdir */
		int c = M[d].ent[k];

		e = c < 0 ? -ENOENT : M[c].type != M_DIR ? -ENOTDIR
				      : !m_empty(c)      ? -ENOTEMPTY
							 : 0;
		r = fs_rmdir(fx_fs, M[d].ino, NAMES[k]);
		cr_assert_eq(r, e, "rmdir: %d want %d", r, e);
		if (!r) {
			M[d].ent[k] = -1;
			M[d].nlink--;
			M[c].type = M_FREE;
		}
	} else if (op < 44) { /* link */
		int f = pick(M_FILE);

		if (f < 0)
			return;
		e = M[d].ent[k] >= 0 ? -EEXIST : 0;
		r = fs_link(fx_fs, M[f].ino, M[d].ino, NAMES[k], &a);
		cr_assert_eq(r, e, "link: %d want %d", r, e);
		if (!r) {
			M[d].ent[k] = f;
			M[f].nlink++;
		}
	} else if (op < 60) { /* rename */
		int d2 = pick(M_DIR), k2 = (int)rnd(NNAMES);
		unsigned fl = rnd(4) == 0 ? RENAME_NOREPLACE
			      : rnd(3) == 0 ? RENAME_EXCHANGE
					    : 0;
		int s = M[d].ent[k], t = M[d2].ent[k2];

		if (s < 0)
			e = -ENOENT;
		else if ((fl & RENAME_NOREPLACE) && t >= 0)
			e = -EEXIST;
		else if ((fl & RENAME_EXCHANGE) && t < 0)
			e = -ENOENT;
		else if (d == d2 && k == k2)
			e = 1; /* no-op */
		else if (M[s].type == M_DIR && d != d2 && under(d2, s))
			e = -EINVAL;
		else if ((fl & RENAME_EXCHANGE) && M[t].type == M_DIR &&
			 d != d2 && under(d, t))
			e = -EINVAL;
		else if (!(fl & RENAME_EXCHANGE) && t == s)
			e = 1;
		else if (!(fl & RENAME_EXCHANGE) && t >= 0 &&
			 M[s].type == M_DIR && M[t].type != M_DIR)
			e = -ENOTDIR;
		else if (!(fl & RENAME_EXCHANGE) && t >= 0 &&
			 M[s].type != M_DIR && M[t].type == M_DIR)
			e = -EISDIR;
		else if (!(fl & RENAME_EXCHANGE) && t >= 0 &&
			 M[t].type == M_DIR && !m_empty(t))
			e = -ENOTEMPTY;
		else
			e = 0;
		r = fs_rename(fx_fs, M[d].ino, NAMES[k], M[d2].ino, NAMES[k2],
			      fl);
		cr_assert_eq(r, e == 1 ? 0 : e, "rename %d: %d want %d", fl, r,
			     e);
		if (r)
			n_err++;
		else
			n_ok++;
		if (r || e == 1)
			return;
		if (fl & RENAME_EXCHANGE) {
			M[d].ent[k] = t;
			M[d2].ent[k2] = s;
			if (M[s].type == M_DIR) {
				M[s].parent = d2;
				M[d].nlink--;
				M[d2].nlink++;
			}
			if (M[t].type == M_DIR) {
				M[t].parent = d;
				M[d2].nlink--;
				M[d].nlink++;
			}
			return;
		}
		M[d].ent[k] = -1;
		if (t >= 0) {
			if (M[t].type == M_DIR) {
				M[d2].nlink--;
				M[t].type = M_FREE;
			} else {
				m_drop(t);
			}
		}
		M[d2].ent[k2] = s;
		if (M[s].type == M_DIR) {
			M[s].parent = d2;
			M[d].nlink--;
			M[d2].nlink++;
		}
	} else if (op < 85) { /* write */
		int f = pick(M_FILE);
		size_t off = rnd(MAXSZ / 2), len = 1 + rnd(op < 75 ? 9000 : 200);
		uint8_t *buf = malloc(len);

		if (f < 0) {
			free(buf);
			return;
		}
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rnd(256);
		r = fs_pwrite(fx_fs, M[f].ino, buf, len, off);
		cr_assert_eq(r, 0, "write %d", r);
		n_ok++;
		if (off + len > M[f].size) {
			M[f].data = realloc(M[f].data, off + len);
			memset(M[f].data + M[f].size, 0, off + len - M[f].size);
			M[f].size = off + len;
		}
		memcpy(M[f].data + off, buf, len);
		free(buf);
	} else if (op < 90) { /* punch a hole or zero a range */
		int f = pick(M_FILE);
		size_t off = rnd(MAXSZ / 2), len = 1 + rnd(12000);
		int zr = rnd(2);

		if (f < 0)
			return;
		r = fs_fallocate(fx_fs, M[f].ino,
				 zr ? FALLOC_FL_ZERO_RANGE
				    : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 off, len);
		cr_assert_eq(r, 0, "fallocate %d", r);
		if (zr && off + len > M[f].size) {
			M[f].data = realloc(M[f].data, off + len);
			memset(M[f].data + M[f].size, 0, off + len - M[f].size);
			M[f].size = off + len;
		}
		if (off < M[f].size)
			memset(M[f].data + off, 0,
			       (off + len < M[f].size ? off + len : M[f].size) -
				       off);
	} else if (op < 92) { /* compact a log */
		int n = rnd(2) ? pick(M_FILE) : pick(M_DIR);

		if (n >= 0)
			cr_assert_eq(fs_gc(fx_fs, M[n].ino), 0);
	} else if (op < 95) { /* truncate */
		int f = pick(M_FILE);
		struct fs_setattr sa = { .valid = FS_SET_SIZE };

		if (f < 0)
			return;
		sa.size = rnd(MAXSZ / 2);
		r = fs_setattr(fx_fs, &fx_ctx, M[f].ino, &sa, NULL);
		cr_assert_eq(r, 0);
		if (sa.size > M[f].size) {
			M[f].data = realloc(M[f].data, sa.size);
			memset(M[f].data + M[f].size, 0, sa.size - M[f].size);
		}
		M[f].size = sa.size;
	} else if (op < 97) {
		n_remount++;
		fx_remount();
		check_tree(0);
	} else if (op < 99) {
		fx_crash();
		check_tree(0);
	} else {
		check_tree(0);
	}
}

static void run(uint64_t seed, int steps)
{
	memset(M, 0, sizeof(M));
	M[0].type = M_DIR;
	M[0].ino = 1;
	M[0].nlink = 3; /* lost+found is not in the model's names */
	for (int k = 0; k < NNAMES; k++)
		M[0].ent[k] = -1;
	rng = seed * 0x9e3779b97f4a7c15ull + 1;
	n_ok = n_err = n_remount = 0;
	for (int i = 0; i < steps; i++) {
		step();
		if (i % 64 == 0)
			check_tree(0);
	}
	check_tree(0);
	cr_assert_gt(n_ok, steps / 4, "only %d operations succeeded", n_ok);
	cr_assert_gt(n_err, steps / 50, "only %d renames failed", n_err);
	cr_assert_gt(n_remount, 5);
	fx_remount();
	check_tree(0);
	fx_crash();
	check_tree(0);
	for (int i = 0; i < MAXN; i++)
		free(M[i].data);
}

TestSuite(model, .init = fx_setup, .fini = fx_teardown);

Test(model, seed1) { run(1, 2000); }
Test(model, seed2) { run(2, 2000); }
Test(model, seed3) { run(3, 2000); }
Test(model, seed4) { run(4, 2000); }

/*
 * The long run (make modeltest): PMFS_MODEL_SEEDS seeds of
 * PMFS_MODEL_OPS steps each, every seed on a fresh filesystem; skipped
 * when neither is set, so make check stays short.
 */
Test(model, long_run_from_env, .timeout = 7200)
{
	const char *o = getenv("PMFS_MODEL_OPS"), *sd = getenv("PMFS_MODEL_SEEDS");
	long ops = o ? atol(o) : 20000, seeds = sd ? atol(sd) : 16;

	if (!o && !sd)
		cr_skip_test("set PMFS_MODEL_OPS/PMFS_MODEL_SEEDS (make modeltest)");
	cr_assert_gt(ops, 100);
	cr_assert_gt(seeds, 0);
	for (long s = 0; s < seeds; s++) {
		fx_teardown(); /* a fresh, larger filesystem: the tree grows */
		fx_setup_size("256M");
		run(1000 + (uint64_t)s, (int)ops);
		fprintf(stderr, "model: seed %ld: %d ok, %d errors, %d remounts\n",
			1000 + s, n_ok, n_err, n_remount);
	}
}
