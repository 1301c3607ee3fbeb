/*
 * test_gc.c - log garbage collection: a file overwritten thousands of
 * times and a directory with thousands of create/unlink cycles keep logs
 * proportional to their live content; compaction preserves contents,
 * attributes, readdir cookies, and survives remount and crash.
 */
#include "fsfix.h"

#include <stdio.h>

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
