/*
 * test_gc.c - log garbage collection: a file overwritten thousands of
 * times and a directory with thousands of create/unlink cycles keep logs
 * proportional to their live content; compaction preserves contents,
 * attributes, readdir cookies, and survives remount and crash.
 */
#include "fsfix.h"

#include <linux/falloc.h>
#include <pthread.h>
#include <stdio.h>

#include "fswalk.h"

TestSuite(gc, .init = fx_setup, .fini = fx_teardown);

static int last_cookie(void *arg, const char *name, uint64_t ino,
		       unsigned dt, uint64_t next)
{
	*(uint64_t *)arg = next;
	return 0;
}

Test(gc, overwritten_file_log_stays_small)
{
	struct fs_attr a, b;
	uint64_t pages;
	struct statvfs s0, s1;
	char buf[4096], rd[4096];
	size_t n;

	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "f", S_IFREG | 0644, 0, &a), 0);
	cr_assert_eq(fs_setxattr(fx_fs, a.ino, "user.k", "v", 1, 0), 0);
	cr_assert_eq(fs_statfs(fx_fs, &s0), 0);
	for (int i = 0; i < 3000; i++) {
		memset(buf, 'a' + i % 26, sizeof(buf));
		cr_assert_eq(fs_pwrite(fx_fs, a.ino, buf, sizeof(buf), 0), 0);
	}
	cr_assert_eq(fs_log_pages(fx_fs, a.ino, &pages), 0);
	cr_assert_leq(pages, 20, "log has %lu pages", (unsigned long)pages);
	cr_assert_eq(fs_gc(fx_fs, a.ino), 0);
	cr_assert_eq(fs_log_pages(fx_fs, a.ino, &pages), 0);
	cr_assert_eq(pages, 1);
	cr_assert_eq(fs_statfs(fx_fs, &s1), 0);
	cr_assert_leq(s0.f_bfree - s1.f_bfree, 2);
	cr_assert_eq(fs_getattr(fx_fs, a.ino, &b), 0);
	fx_crash();
	cr_assert_eq(fs_pread(fx_fs, a.ino, rd, sizeof(rd), 0, &n), 0);
	cr_assert_eq(memcmp(rd, buf, sizeof(buf)), 0);
	cr_assert_eq(fs_getattr(fx_fs, a.ino, &a), 0);
	cr_assert_eq(a.size, b.size);
	cr_assert_eq(a.mtime.tv_nsec, b.mtime.tv_nsec);
	cr_assert_eq(fs_getxattr(fx_fs, a.ino, "user.k", rd, 10, &n), 0);
	cr_assert_eq(n, 1);
}

Test(gc, directory_churn_log_stays_small_cookies_unique)
{
	uint64_t pages, c1 = 0, c2 = 0;
	struct fs_attr a;
	char nm[32];

	cr_assert_eq(fs_mkdir(fx_fs, &fx_ctx, 1, "d", 0755, &a), 0);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, a.ino, "keep", S_IFREG, 0, NULL),
		     0);
	for (int i = 0; i < 3000; i++) {
		snprintf(nm, sizeof(nm), "tmp-%d", i);
		cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, a.ino, nm, S_IFREG, 0,
				      NULL), 0);
		cr_assert_eq(fs_unlink(fx_fs, a.ino, nm), 0);
	}
	cr_assert_eq(fs_log_pages(fx_fs, a.ino, &pages), 0);
	cr_assert_leq(pages, 20, "log has %lu pages", (unsigned long)pages);
	cr_assert_eq(fs_gc(fx_fs, a.ino), 0);
	cr_assert_eq(fs_readdir(fx_fs, a.ino, 0, last_cookie, &c1), 0);
	cr_assert_eq(c1, 2); /* "keep" has cookie 1 */
	fx_crash();
	cr_assert_eq(fs_lookup(fx_fs, a.ino, "keep", &a),
		     0);
	cr_assert_eq(fs_lookup(fx_fs, 1, "d", &a), 0);
	cr_assert_eq(a.nlink, 2);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, a.ino, "new", S_IFREG, 0, NULL),
		     0);
	cr_assert_eq(fs_readdir(fx_fs, a.ino, 2, last_cookie, &c2), 0);
	cr_assert_gt(c2, 3001, "cookie reused: %lu", (unsigned long)c2);
	fx_remount();
	c2 = 0;
	cr_assert_eq(fs_readdir(fx_fs, a.ino, 2, last_cookie, &c2), 0);
	cr_assert_gt(c2, 3001);
}

/* A file overwritten 100k times keeps a bounded log (sampled all along,
 * with the background GC and the inline backpressure compaction), and
 * its space does not leak. */
Test(gc, overwritten_100k_times_log_bounded, .timeout = 600)
{
	struct fs_attr a;
	struct statvfs s0, s1;
	uint64_t pages, maxp = 0;
	char buf[512], rd[512];
	size_t n;

	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "f", S_IFREG | 0644, 0, &a), 0);
	cr_assert_eq(fs_pwrite(fx_fs, a.ino, buf, sizeof(buf), 0), 0);
	cr_assert_eq(fs_statfs(fx_fs, &s0), 0);
	for (int i = 0; i < 100000; i++) {
		memset(buf, 'a' + i % 26, sizeof(buf));
		cr_assert_eq(fs_pwrite(fx_fs, a.ino, buf, sizeof(buf), 0), 0);
		if (i % 500 == 0) {
			cr_assert_eq(fs_log_pages(fx_fs, a.ino, &pages), 0);
			if (pages > maxp)
				maxp = pages;
		}
	}
	cr_assert_leq(maxp, 24, "log reached %lu pages", (unsigned long)maxp);
	cr_assert_eq(fs_log_pages(fx_fs, a.ino, &pages), 0);
	cr_assert_leq(pages, 24);
	cr_assert_eq(fs_statfs(fx_fs, &s1), 0);
	cr_assert_leq(s0.f_bfree - s1.f_bfree, 24);
	fx_crash();
	cr_assert_eq(fs_pread(fx_fs, a.ino, rd, sizeof(rd), 0, &n), 0);
	cr_assert_eq(n, sizeof(rd));
	cr_assert_eq(memcmp(rd, buf, sizeof(buf)), 0);
	cr_assert_eq(fs_log_pages(fx_fs, a.ino, &pages), 0);
	cr_assert_leq(pages, 24);
}

/* ---- GC racing writers of other files ---------------------------------
 *
 * The GC thread frees an old chain while threads working on other files
 * allocate log pages and data blocks: a page freed before the walk over
 * the chain has read it (its entries, its next link) can be reused and
 * overwritten under the walk, which then reads garbage (past the mapping,
 * or stops early and leaks the rest of the chain).  Two threads do random
 * writes, truncates, punches and zero-ranges on two files, mirrored in a
 * DRAM model, on a small image while the GC runs.  Each thread works on
 * both files (one at a time, under the file's test mutex), so a chain's
 * pages sit in both threads' allocator lanes and the thread not blocked
 * by the compaction allocates from the lane the freed pages go back to.
 */

#define RG_MAX (96 * 1024) /* file size bound */
#define RG_OPS 100000

struct rgfile {
	pthread_mutex_t mu; /* the model, and one operation at a time */
	uint64_t ino;
	uint64_t size;
	uint8_t model[RG_MAX];
	uint8_t buf[RG_MAX];
};

struct rgarg {
	struct rgfile *f; /* both files */
	uint64_t rng;
	int errs;
};

static uint64_t rg_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void rg_one(struct rgarg *ga, struct rgfile *g)
{
	uint64_t r = rg_next(&ga->rng), off = rg_next(&ga->rng) % RG_MAX;
	uint64_t len = 1 + rg_next(&ga->rng) % (RG_MAX - off);
	int err;

	if (len > 16384)
		len = 1 + len % 16384;
	switch (r % 8) {
	default: /* write */
		for (uint64_t i = 0; i < len; i++)
			g->buf[i] = (uint8_t)(r >> 8) + (uint8_t)i;
		err = fs_pwrite(fx_fs, g->ino, g->buf, len, off);
		if (!err) {
			memcpy(g->model + off, g->buf, len);
			if (off + len > g->size)
				g->size = off + len;
		}
		break;
	case 5: { /* truncate */
		struct fs_setattr sa = { .valid = FS_SET_SIZE, .size = off };

		err = fs_setattr(fx_fs, &fx_ctx, g->ino, &sa, NULL);
		if (!err) {
			if (off < g->size)
				memset(g->model + off, 0, g->size - off);
			g->size = off;
		}
		break;
	}
	case 6: /* punch */
	case 7: /* zero */
		err = fs_fallocate(fx_fs, g->ino,
				   (r % 8 == 6 ? FALLOC_FL_PUNCH_HOLE
					       : FALLOC_FL_ZERO_RANGE) |
					   FALLOC_FL_KEEP_SIZE,
				   off, len);
		if (!err && off < g->size)
			memset(g->model + off, 0,
			       (off + len < g->size ? off + len : g->size) -
				       off);
		break;
	}
	if (err && err != -ENOSPC)
		ga->errs++;
}

static void *rg_worker(void *arg)
{
	struct rgarg *ga = arg;

	for (int i = 0; i < RG_OPS && ga->errs == 0; i++) {
		struct rgfile *g = &ga->f[rg_next(&ga->rng) % 2];

		pthread_mutex_lock(&g->mu);
		rg_one(ga, g);
		pthread_mutex_unlock(&g->mu);
	}
	return NULL;
}

static void rg_verify(struct rgfile *g)
{
	struct fs_attr a;
	size_t n;

	cr_assert_eq(fs_getattr(fx_fs, g->ino, &a), 0);
	cr_assert_eq(a.size, g->size);
	cr_assert_eq(fs_pread(fx_fs, g->ino, g->buf, RG_MAX, 0, &n), 0);
	cr_assert_eq(n, g->size);
	cr_assert_eq(memcmp(g->buf, g->model, n), 0, "inode %lu differs",
		     (unsigned long)g->ino);
}

Test(gc, old_chain_freed_while_other_files_allocate, .timeout = 300)
{
	static struct rgfile g[2];
	struct rgarg ga[2];
	pthread_t th[2];
	struct fs_attr a;
	char nm[8];

	for (int i = 0; i < 2; i++) {
		memset(&g[i], 0, sizeof(g[i]));
		pthread_mutex_init(&g[i].mu, NULL);
		snprintf(nm, sizeof(nm), "f%d", i);
		cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, nm, S_IFREG | 0644, 0,
				      &a),
			     0);
		g[i].ino = a.ino;
		ga[i].f = g;
		ga[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 3);
		ga[i].errs = 0;
	}
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, rg_worker, &ga[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(ga[i].errs, 0);
		rg_verify(&g[i]);
	}
	fw_check(fx_fs, false);
	fx_remount();
	fw_check(fx_fs, true);
	for (int i = 0; i < 2; i++)
		rg_verify(&g[i]);
	for (int i = 0; i < 2; i++)
		pthread_mutex_destroy(&g[i].mu);
}
