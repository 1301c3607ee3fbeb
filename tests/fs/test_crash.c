/*
 * test_crash.c - crash consistency of every protocol, with pmemio's
 * recording backend: an operation is recorded, and at every fence the
 * images a power cut could leave (durable state plus none, all, or a
 * random subset of the words in flight) are mounted (recovery) and must
 * show the state before the operation or after it, never a mix; the state
 * at the end of the recording must be the one after.
 */
#include "fsfix.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

enum { OLD = 0, NEW = 1, BAD = -1 };

struct scen {
	const char *name;
	void (*prep)(struct fs *fs);
	int (*op)(struct fs *fs);
	int (*check)(struct fs *fs); /* OLD, NEW or BAD */
};

static uint64_t ino_of(struct fs *fs, uint64_t dir, const char *name)
{
	struct fs_attr a;

	return fs_lookup(fs, dir, name, &a) == 0 ? a.ino : 0;
}

static int content(struct fs *fs, const char *name, size_t len, int c)
{
	static uint8_t buf[16384];
	uint64_t ino = ino_of(fs, 1, name);
	size_t n;
	struct fs_attr a;

	if (!ino || fs_getattr(fs, ino, &a) || a.size != len)
		return 0;
	if (fs_pread(fs, ino, buf, len, 0, &n) || n != len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != c)
			return 0;
	return 1;
}

static void fill(struct fs *fs, const char *name, size_t len, int c)
{
	static uint8_t buf[16384];
	struct fs_attr a;

	memset(buf, c, len);
	if (fs_lookup(fs, 1, name, &a))
		cr_assert_eq(fs_mknod(fs, &fx_ctx, 1, name, S_IFREG | 0644, 0,
				      &a), 0);
	cr_assert_eq(fs_pwrite(fs, a.ino, buf, len, 0), 0);
}

/* create */
static void p_none(struct fs *fs) { (void)fs; }
static int o_create(struct fs *fs)
{
	return fs_mknod(fs, &fx_ctx, 1, "new", S_IFREG | 0644, 0, NULL);
}
static int c_create(struct fs *fs)
{
	struct fs_attr a;

	if (fs_lookup(fs, 1, "new", &a))
		return OLD;
	return S_ISREG(a.mode) && a.nlink == 1 ? NEW : BAD;
}

/* mkdir */
static int o_mkdir(struct fs *fs)
{
	return fs_mkdir(fs, &fx_ctx, 1, "nd", 0755, NULL);
}
static int c_mkdir(struct fs *fs)
{
	struct fs_attr a, r;

	fs_getattr(fs, 1, &r);
	if (fs_lookup(fs, 1, "nd", &a))
		return r.nlink == 3 ? OLD : BAD;
	return S_ISDIR(a.mode) && a.nlink == 2 && r.nlink == 4 ? NEW : BAD;
}

/* unlink of a file with data */
static void p_f(struct fs *fs) { fill(fs, "f", 8192, 'a'); }
static int o_unlink(struct fs *fs) { return fs_unlink(fs, 1, "f"); }
static int c_unlink(struct fs *fs)
{
	if (content(fs, "f", 8192, 'a'))
		return OLD;
	return ino_of(fs, 1, "f") == 0 ? NEW : BAD;
}

/* rename over an existing file */
static void p_fg(struct fs *fs)
{
	fill(fs, "f", 8192, 'a');
	fill(fs, "g", 4096, 'g');
}
static int o_rename(struct fs *fs) { return fs_rename(fs, 1, "f", 1, "g", 0); }
static int c_rename(struct fs *fs)
{
	if (content(fs, "f", 8192, 'a') && content(fs, "g", 4096, 'g'))
		return OLD;
	if (!ino_of(fs, 1, "f") && content(fs, "g", 8192, 'a'))
		return NEW;
	return BAD;
}

/* exchange a file and a directory across parents */
static void p_xchg(struct fs *fs)
{
	struct fs_attr d;

	fill(fs, "f", 100, 'x');
	cr_assert_eq(fs_mkdir(fs, &fx_ctx, 1, "d", 0755, &d), 0);
	cr_assert_eq(fs_mkdir(fs, &fx_ctx, d.ino, "sub", 0755, NULL), 0);
}
static int o_xchg(struct fs *fs)
{
	return fs_rename(fs, 1, "f", ino_of(fs, 1, "d"), "sub",
			 RENAME_EXCHANGE);
}
static int c_xchg(struct fs *fs)
{
	uint64_t d = ino_of(fs, 1, "d");
	struct fs_attr a, b, r, dd;

	if (!d || fs_lookup(fs, 1, "f", &a) || fs_lookup(fs, d, "sub", &b))
		return BAD;
	fs_getattr(fs, 1, &r);
	fs_getattr(fs, d, &dd);
	if (S_ISREG(a.mode) && S_ISDIR(b.mode) && r.nlink == 4 &&
	    dd.nlink == 3)
		return OLD;
	if (S_ISDIR(a.mode) && S_ISREG(b.mode) && r.nlink == 5 &&
	    dd.nlink == 2 && fs_lookup(fs, a.ino, "..", &b) == 0 &&
	    b.ino == 1)
		return NEW;
	return BAD;
}

/* overwrite (COW) */
static int o_overwrite(struct fs *fs)
{
	static uint8_t buf[8192];

	memset(buf, 'b', sizeof(buf));
	return fs_pwrite(fs, ino_of(fs, 1, "f"), buf, sizeof(buf), 0);
}
static int c_overwrite(struct fs *fs)
{
	if (content(fs, "f", 8192, 'a'))
		return OLD;
	return content(fs, "f", 8192, 'b') ? NEW : BAD;
}

/* append in place into the EOF block */
static void p_small(struct fs *fs) { fill(fs, "f", 100, 'a'); }
static int o_append(struct fs *fs)
{
	static uint8_t buf[100];

	memset(buf, 'a', sizeof(buf));
	return fs_pwrite(fs, ino_of(fs, 1, "f"), buf, 100, 100);
}
static int c_append(struct fs *fs)
{
	if (content(fs, "f", 100, 'a'))
		return OLD;
	return content(fs, "f", 200, 'a') ? NEW : BAD;
}

/* truncate */
static int o_trunc(struct fs *fs)
{
	struct fs_setattr sa = { .valid = FS_SET_SIZE, .size = 100 };

	return fs_setattr(fs, &fx_ctx, ino_of(fs, 1, "f"), &sa, NULL);
}
static int c_trunc(struct fs *fs)
{
	if (content(fs, "f", 8192, 'a'))
		return OLD;
	return content(fs, "f", 100, 'a') ? NEW : BAD;
}

/* log compaction */
static void p_many(struct fs *fs)
{
	for (int i = 0; i < 200; i++)
		fill(fs, "f", 4096, 'a' + i % 20);
}
static int o_gc(struct fs *fs) { return fs_gc(fs, ino_of(fs, 1, "f")); }
static int c_gc(struct fs *fs)
{
	return content(fs, "f", 4096, 'a' + 199 % 20) ? NEW : BAD;
}

/* a journaled op, then a single-inode op on the same inode: LOG(7) */
static int o_create_write(struct fs *fs)
{
	struct fs_attr a;
	int r = fs_mknod(fs, &fx_ctx, 1, "new", S_IFREG | 0644, 0, &a);

	return r ? r : fs_pwrite(fs, a.ino, "0123456789", 10, 0);
}
static int c_create_write(struct fs *fs)
{
	struct fs_attr a;
	char buf[10];
	size_t n;

	if (fs_lookup(fs, 1, "new", &a))
		return OLD;
	if (a.size == 0)
		return 2; /* between the two operations */
	if (a.size != 10 || fs_pread(fs, a.ino, buf, 10, 0, &n) || n != 10 ||
	    memcmp(buf, "0123456789", 10))
		return BAD;
	return NEW;
}

static void write_img(const char *path, const void *img, uint64_t size)
{
	int fd = open(path, O_WRONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, img, size, 0), (ssize_t)size);
	close(fd);
}

static void run(const struct scen *s)
{
	struct pmio_opts ro = { .flags = PMIO_O_QUIET | PMIO_O_FORCE_CL |
					 PMIO_O_RECORD };
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_FORCE_CL };
	struct pmio_rec_cursor *cur;
	char *img_path;
	uint8_t *img, *keep;
	uint64_t size, points = 0, news = 0, rng = 12345;
	int last = BAD;

	fx_teardown();
	fx_setup_size("8M");
	s->prep(fx_fs);
	fs_unmount(fx_fs);
	fx_fs = NULL;
	pmio_close(fx_p);
	cr_assert_eq(pmio_open(fx_path, &ro, &fx_p, NULL, 0), 0);
	cr_assert_eq(fs_mount_pmio(fx_p, NULL, &fx_fs, NULL, NULL, 0), 0);
	cr_assert_eq(s->op(fx_fs), 0, "%s", s->name);
	fs_abandon(fx_fs);
	fx_fs = NULL;
	size = pmio_size(fx_p);
	img = malloc(size);
	img_path = tu_tmpimg(size);
	cr_assert_eq(pmio_rec_cursor_new(fx_p, &cur), 0);
	while (pmio_rec_cursor_next(cur)) {
		const struct pmio_rec_word *w;
		size_t nw = pmio_rec_cursor_inflight(cur, &w);

		keep = calloc(nw + 1, 1);
		for (int v = 0; v < 4; v++) {
			struct pmio *p;
			struct fs *fs;
			char err[256] = "";
			int r, st;

			if (v > 0 && nw == 0)
				break;
			for (size_t i = 0; i < nw; i++) {
				rng = rng * 6364136223846793005ull + 1;
				keep[i] = v == 0 ? 0 : v == 1 ? 1
						 : (rng >> 33) & 1;
			}
			pmio_rec_cursor_image(cur, keep, img);
			write_img(img_path, img, size);
			cr_assert_eq(pmio_open(img_path, &po, &p, NULL, 0), 0);
			r = fs_mount_pmio(p, NULL, &fs, NULL, err, sizeof(err));
			cr_assert_eq(r, 0, "%s: fence %lu v%d: mount %d %s",
				     s->name,
				     (unsigned long)pmio_rec_cursor_fence(cur),
				     v, r, err);
			st = s->check(fs);
			cr_assert_neq(st, BAD, "%s: fence %lu variant %d: mixed",
				      s->name,
				      (unsigned long)pmio_rec_cursor_fence(cur),
				      v);
			/* the recovered fs keeps working, and recovers again */
			cr_assert_eq(fs_mknod(fs, &fx_ctx, 1, "zz", S_IFREG, 0, NULL),
				     0, "%s: create after recovery", s->name);
			fs_abandon(fs);
			r = fs_mount_pmio(p, NULL, &fs, NULL, err, sizeof(err));
			cr_assert_eq(r, 0, "%s: second recovery: %s", s->name,
				     err);
			cr_assert_eq(s->check(fs), st, "%s: state changed",
				     s->name);
			cr_assert_neq(ino_of(fs, 1, "zz"), 0);
			cr_assert_eq(fs_unmount(fs), 0);
			pmio_close(p);
			points++;
			news += st == NEW;
			if (v == 0)
				last = st;
		}
		free(keep);
	}
	pmio_rec_cursor_free(cur);
	cr_assert_eq(last, NEW, "%s: op returned but is not durable", s->name);
	cr_assert_gt(points, 3);
	cr_assert_gt(news, 0);
	tu_rmimg(img_path);
	free(img);
}

TestSuite(crash, .init = fx_setup, .fini = fx_teardown);

Test(crash, create)
{
	run(&(struct scen){ "create", p_none, o_create, c_create });
}
Test(crash, mkdir)
{
	run(&(struct scen){ "mkdir", p_none, o_mkdir, c_mkdir });
}
Test(crash, unlink)
{
	run(&(struct scen){ "unlink", p_f, o_unlink, c_unlink });
}
Test(crash, rename_over)
{
	run(&(struct scen){ "rename", p_fg, o_rename, c_rename });
}
Test(crash, rename_exchange)
{
	run(&(struct scen){ "exchange", p_xchg, o_xchg, c_xchg });
}
Test(crash, overwrite)
{
	run(&(struct scen){ "overwrite", p_f, o_overwrite, c_overwrite });
}
Test(crash, append)
{
	run(&(struct scen){ "append", p_small, o_append, c_append });
}
Test(crash, truncate)
{
	run(&(struct scen){ "truncate", p_f, o_trunc, c_trunc });
}
Test(crash, create_then_write)
{
	run(&(struct scen){ "create+write", p_none, o_create_write,
			    c_create_write });
}
Test(crash, gc_compaction)
{
	run(&(struct scen){ "gc", p_many, o_gc, c_gc });
}
