/*
 * test_namei.c - names: create, lookup, unlink, rmdir, link, symlink,
 * rename in all forms, readdir cookies, and their POSIX error codes.
 */
#include "fsfix.h"

#include <stdio.h>
#include <time.h>

#include "seed.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif

TestSuite(namei, .init = fx_setup, .fini = fx_teardown);

static uint64_t mkf(uint64_t dir, const char *name)
{
	struct fs_attr a;

	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, dir, name, S_IFREG | 0644, 0,
			      &a), 0, "mknod %s", name);
	return a.ino;
}

static uint64_t mkd(uint64_t dir, const char *name)
{
	struct fs_attr a;

	cr_assert_eq(fs_mkdir(fx_fs, &fx_ctx, dir, name, 0755, &a), 0,
		     "mkdir %s", name);
	return a.ino;
}

static uint32_t nlink_of(uint64_t ino)
{
	struct fs_attr a;

	cr_assert_eq(fs_getattr(fx_fs, ino, &a), 0);
	return a.nlink;
}

Test(namei, create_errors)
{
	char longname[300];
	struct fs_attr a;

	memset(longname, 'a', 256);
	longname[256] = 0;
	mkf(1, "f");
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "f", S_IFREG, 0, &a), -EEXIST);
	cr_assert_eq(fs_mkdir(fx_fs, &fx_ctx, 1, "f", 0755, &a), -EEXIST);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, longname, S_IFREG, 0, &a),
		     -ENAMETOOLONG);
	longname[255] = 0;
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, longname, S_IFREG, 0, &a), 0);
	cr_assert_eq(fs_lookup(fx_fs, 1, longname, &a), 0);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, ".", S_IFREG, 0, &a), -EEXIST);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "a/b", S_IFREG, 0, &a),
		     -EINVAL);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, mkf(1, "g"), "x", S_IFREG, 0, &a),
		     -ENOTDIR);
	cr_assert_eq(fs_lookup(fx_fs, 1, "nope", &a), -ENOENT);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "fifo", S_IFIFO | 0600, 0, &a),
		     0);
	cr_assert(S_ISFIFO(a.mode));
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "chr", S_IFCHR | 0600, 0x0501,
			      &a), 0);
	cr_assert_eq(a.rdev, 0x0501);
	cr_assert_eq(a.uid, 1000);
}

Test(namei, unlink_rmdir_errors_and_nlink)
{
	uint64_t d = mkd(1, "d"), f = mkf(d, "f");

	cr_assert_eq(nlink_of(1), 4);
	cr_assert_eq(fs_unlink(fx_fs, 1, "d"), -EISDIR);
	cr_assert_eq(fs_rmdir(fx_fs, d, "f"), -ENOTDIR);
	cr_assert_eq(fs_rmdir(fx_fs, 1, "d"), -ENOTEMPTY);
	cr_assert_eq(fs_unlink(fx_fs, 1, "zz"), -ENOENT);
	cr_assert_eq(fs_rmdir(fx_fs, 1, "zz"), -ENOENT);
	cr_assert_eq(fs_unlink(fx_fs, d, "f"), 0);
	struct fs_attr a;
	cr_assert_eq(fs_getattr(fx_fs, f, &a), -ENOENT);
	cr_assert_eq(fs_rmdir(fx_fs, 1, "d"), 0);
	cr_assert_eq(nlink_of(1), 3);
	cr_assert_eq(fs_lookup(fx_fs, 1, "d", &a), -ENOENT);
}

/* By number, as the kernel asks for a file handle's inode: any type, the
 * slot's generation, ESTALE once the inode is gone or out of range. */
Test(namei, lookup_by_number)
{
	uint64_t d = mkd(1, "d"), f = mkf(d, "f");
	struct fs_attr a, b;

	cr_assert_eq(fs_lookup_ino(fx_fs, f, &a), 0);
	cr_assert_eq(a.ino, f);
	cr_assert(S_ISREG(a.mode));
	cr_assert_eq(fs_lookup(fx_fs, d, "f", &b), 0);
	cr_assert_eq(a.gen, b.gen);
	cr_assert_eq(fs_lookup_ino(fx_fs, d, &a), 0);
	cr_assert(S_ISDIR(a.mode));
	cr_assert_eq(fs_lookup(fx_fs, f, "..", &a), -ENOTDIR);
	cr_assert_eq(fs_lookup(fx_fs, d, "..", &a), 0);
	cr_assert_eq(a.ino, 1);
	cr_assert_eq(fs_lookup_ino(fx_fs, 1, &a), 0);
	cr_assert_eq(fs_unlink(fx_fs, d, "f"), 0);
	cr_assert_eq(fs_lookup_ino(fx_fs, f, &a), -ESTALE);
	cr_assert_eq(fs_lookup_ino(fx_fs, 0, &a), -ESTALE);
	cr_assert_eq(fs_lookup_ino(fx_fs, UINT64_MAX, &a), -ESTALE);
	cr_assert_eq(fs_lookup_ino(fx_fs, 1ull << 40, &a), -ESTALE);
}

Test(namei, link_and_symlink)
{
	uint64_t f = mkf(1, "f"), d = mkd(1, "d");
	struct fs_attr a;
	char buf[5000], tgt[4096];
	size_t n;

	cr_assert_eq(fs_link(fx_fs, f, d, "g", &a), 0);
	cr_assert_eq(a.nlink, 2);
	cr_assert_eq(fs_link(fx_fs, f, d, "g", &a), -EEXIST);
	cr_assert_eq(fs_link(fx_fs, d, 1, "dl", &a), -EPERM);
	cr_assert_eq(fs_unlink(fx_fs, 1, "f"), 0);
	cr_assert_eq(nlink_of(f), 1);
	cr_assert_eq(fs_symlink(fx_fs, &fx_ctx, 1, "s", "some/where", &a), 0);
	cr_assert(S_ISLNK(a.mode));
	cr_assert_eq(a.size, 10);
	cr_assert_eq(fs_readlink(fx_fs, a.ino, buf, sizeof(buf), &n), 0);
	cr_assert_eq(n, 10);
	cr_assert_eq(memcmp(buf, "some/where", 10), 0);
	cr_assert_eq(fs_readlink(fx_fs, f, buf, sizeof(buf), &n), -EINVAL);
	memset(tgt, 'q', 4095);
	tgt[4095] = 0;
	cr_assert_eq(fs_symlink(fx_fs, &fx_ctx, 1, "long", tgt, &a), 0);
	fx_crash();
	cr_assert_eq(fs_readlink(fx_fs, a.ino, buf, sizeof(buf), &n), 0);
	cr_assert_eq(n, 4095);
	cr_assert_eq(memcmp(buf, tgt, 4095), 0);
	cr_assert_eq(fs_lookup(fx_fs, d, "g", &a), 0);
	cr_assert_eq(a.ino, f);
	cr_assert_eq(a.nlink, 1);
}

Test(namei, rename_forms)
{
	uint64_t d1 = mkd(1, "d1"), d2 = mkd(1, "d2");
	uint64_t f = mkf(d1, "f"), g = mkf(d2, "g"), sub = mkd(d1, "sub");
	struct fs_attr a;

	cr_assert_eq(fs_rename(fx_fs, d1, "f", d2, "g", RENAME_NOREPLACE),
		     -EEXIST);
	cr_assert_eq(fs_rename(fx_fs, d1, "nope", d2, "x", 0), -ENOENT);
	cr_assert_eq(fs_rename(fx_fs, d1, "f", d2, "x", RENAME_EXCHANGE),
		     -ENOENT);
	/* over an existing target: g is freed */
	cr_assert_eq(fs_rename(fx_fs, d1, "f", d2, "g", 0), 0);
	cr_assert_eq(fs_lookup(fx_fs, d2, "g", &a), 0);
	cr_assert_eq(a.ino, f);
	cr_assert_eq(fs_getattr(fx_fs, g, &a), -ENOENT);
	/* directory into its own subtree */
	cr_assert_eq(fs_rename(fx_fs, 1, "d1", sub, "x", 0), -EINVAL);
	cr_assert_eq(fs_rename(fx_fs, 1, "d1", d1, "x", 0), -EINVAL);
	/* directory across parents: link counts and '..' */
	cr_assert_eq(nlink_of(d1), 3);
	cr_assert_eq(fs_rename(fx_fs, d1, "sub", d2, "sub2", 0), 0);
	cr_assert_eq(nlink_of(d1), 2);
	cr_assert_eq(nlink_of(d2), 3);
	cr_assert_eq(fs_lookup(fx_fs, sub, "..", &a), 0);
	cr_assert_eq(a.ino, d2);
	/* dir over file / file over dir */
	mkf(d1, "file");
	mkd(d1, "dir");
	cr_assert_eq(fs_rename(fx_fs, d1, "dir", d1, "file", 0), -ENOTDIR);
	cr_assert_eq(fs_rename(fx_fs, d1, "file", d1, "dir", 0), -EISDIR);
	cr_assert_eq(fs_rename(fx_fs, 1, "d2", 1, "d1", 0), -ENOTEMPTY);
	/* exchange a file and a directory across parents */
	cr_assert_eq(fs_rename(fx_fs, d2, "g", d1, "dir", RENAME_EXCHANGE), 0);
	cr_assert_eq(fs_lookup(fx_fs, d1, "dir", &a), 0);
	cr_assert_eq(a.ino, f);
	cr_assert_eq(fs_lookup(fx_fs, d2, "g", &a), 0);
	cr_assert(S_ISDIR(a.mode));
	cr_assert_eq(nlink_of(d1), 2);
	cr_assert_eq(nlink_of(d2), 4);
	fx_crash();
	cr_assert_eq(nlink_of(d1), 2);
	cr_assert_eq(nlink_of(d2), 4);
	cr_assert_eq(fs_lookup(fx_fs, d2, "g", &a), 0);
	cr_assert(S_ISDIR(a.mode));
	cr_assert_eq(fs_rename(fx_fs, d1, "dir", d1, "dir", 0), 0);
}

struct rd {
	int n;
	char names[64][32];
	uint64_t next[64];
};

static int rd_fill(void *arg, const char *name, uint64_t ino, unsigned dt,
		   uint64_t next)
{
	struct rd *r = arg;

	if (r->n >= 64)
		return 1;
	snprintf(r->names[r->n], 32, "%s", name);
	r->next[r->n++] = next;
	return 0;
}

Test(namei, readdir_cookies_stable)
{
	struct rd r = { 0 };
	char nm[32];

	for (int i = 0; i < 10; i++) {
		snprintf(nm, sizeof(nm), "e%d", i);
		mkf(1, nm);
	}
	cr_assert_eq(fs_readdir(fx_fs, 1, 0, rd_fill, &r), 0);
	cr_assert_eq(r.n, 11);
	cr_assert_str_eq(r.names[0], "lost+found");
	cr_assert_str_eq(r.names[1], "e0");
	/* remove one and resume after the 5th entry */
	cr_assert_eq(fs_unlink(fx_fs, 1, "e5"), 0);
	uint64_t c = r.next[4];
	memset(&r, 0, sizeof(r));
	cr_assert_eq(fs_readdir(fx_fs, 1, c, rd_fill, &r), 0);
	cr_assert_eq(r.n, 5);
	cr_assert_str_eq(r.names[0], "e4");
	cr_assert_str_eq(r.names[1], "e6");
	fx_remount();
	memset(&r, 0, sizeof(r));
	cr_assert_eq(fs_readdir(fx_fs, 1, c, rd_fill, &r), 0);
	cr_assert_eq(r.n, 5);
	cr_assert_str_eq(r.names[1], "e6");
	/* a new entry never reuses a cookie */
	mkf(1, "new");
	memset(&r, 0, sizeof(r));
	cr_assert_eq(fs_readdir(fx_fs, 1, 0, rd_fill, &r), 0);
	cr_assert_str_eq(r.names[r.n - 1], "new");
	cr_assert_gt(r.next[r.n - 1], 12);
}

/* RENAME_WHITEOUT: the old name names a new whiteout (char 0:0, mode 0,
 * the caller's) in the same commit; across directories, over a target,
 * refused with EXCHANGE, through plain fs_rename, and with NOREPLACE
 * onto an existing name; all of it after a crash. */
Test(namei, rename_whiteout)
{
	const struct fs_ctx other = { .uid = 2000, .gid = 3000 };
	uint64_t d1 = mkd(1, "d1"), d2 = mkd(1, "d2"), f, g;
	struct fs_attr a;

	f = mkf(d1, "f");
	g = mkf(d1, "g");
	mkf(d2, "h");
	cr_assert_eq(fs_rename_ctx(fx_fs, &other, d1, "f", d2, "f",
				   RENAME_WHITEOUT),
		     0);
	cr_assert_eq(fs_lookup(fx_fs, d2, "f", &a), 0);
	cr_assert_eq(a.ino, f);
	cr_assert_eq(fs_lookup(fx_fs, d1, "f", &a), 0);
	cr_assert_neq(a.ino, f);
	cr_assert_eq(a.mode, S_IFCHR);
	cr_assert_eq(a.rdev, 0);
	cr_assert_eq(a.uid, 2000);
	cr_assert_eq(a.gid, 3000);
	cr_assert_eq(a.nlink, 1);
	/* same directory, over an existing name */
	cr_assert_eq(fs_rename_ctx(fx_fs, &other, d1, "g", d1, "f",
				   RENAME_WHITEOUT),
		     0);
	cr_assert_eq(fs_lookup(fx_fs, d1, "f", &a), 0);
	cr_assert_eq(a.ino, g);
	cr_assert_eq(fs_lookup(fx_fs, d1, "g", &a), 0);
	cr_assert_eq(a.mode, S_IFCHR);
	cr_assert_eq(fs_rename_ctx(fx_fs, &other, d1, "f", d2, "h",
				   RENAME_WHITEOUT | RENAME_NOREPLACE),
		     -EEXIST);
	cr_assert_eq(fs_rename_ctx(fx_fs, &other, d1, "f", d2, "h",
				   RENAME_WHITEOUT | RENAME_EXCHANGE),
		     -EINVAL);
	cr_assert_eq(fs_rename(fx_fs, d1, "f", d2, "x", RENAME_WHITEOUT),
		     -EINVAL);
	cr_assert_eq(fs_lookup(fx_fs, d2, "x", &a), -ENOENT);
	fx_crash();
	cr_assert_eq(fs_lookup(fx_fs, d1, "f", &a), 0);
	cr_assert_eq(a.ino, g);
	cr_assert_eq(fs_lookup(fx_fs, d1, "g", &a), 0);
	cr_assert_eq(a.mode, S_IFCHR);
	cr_assert_eq(fs_lookup(fx_fs, d2, "f", &a), 0);
	cr_assert_eq(a.ino, f);
	cr_assert_eq(fs_unlink(fx_fs, d1, "g"), 0);
}

/* A listing bounded by the mark taken at its start lists a name renamed
 * away and back once, and nothing added after the mark survives a
 * remount unlisted either. */
Test(namei, readdir_mark_bounds_listing)
{
	struct rd r = { 0 };
	struct fs_attr a;
	uint64_t mark, c, d, f = 0;
	char nm[32];

	cr_assert_eq(fs_mkdir(fx_fs, &fx_ctx, 1, "o", 0755, &a), 0);
	d = a.ino;
	for (int i = 0; i < 10; i++) {
		snprintf(nm, sizeof(nm), "e%d", i);
		f = mkf(1, nm);
	}
	cr_assert_eq(fs_readdir_mark(fx_fs, 1, &mark), 0);
	cr_assert_eq(fs_readdir_upto(fx_fs, 1, 0, mark, rd_fill, &r), 0);
	cr_assert_eq(r.n, 12); /* lost+found, o, e0..e9 */
	c = r.next[4];
	/* e0 (listed) and e9 (not yet) move away and back */
	cr_assert_eq(fs_rename(fx_fs, 1, "e0", d, "e0", 0), 0);
	cr_assert_eq(fs_rename(fx_fs, d, "e0", 1, "e0", 0), 0);
	cr_assert_eq(fs_rename(fx_fs, 1, "e9", d, "e9", 0), 0);
	cr_assert_eq(fs_rename(fx_fs, d, "e9", 1, "e9", 0), 0);
	mkf(1, "late");
	memset(&r, 0, sizeof(r));
	cr_assert_eq(fs_readdir_upto(fx_fs, 1, c, mark, rd_fill, &r), 0);
	cr_assert_eq(r.n, 6, "e3..e8 and nothing after the mark (%d)", r.n);
	cr_assert_str_eq(r.names[0], "e3");
	cr_assert_str_eq(r.names[5], "e8");
	/* without a bound the moved names and the new one come last */
	memset(&r, 0, sizeof(r));
	cr_assert_eq(fs_readdir(fx_fs, 1, c, rd_fill, &r), 0);
	cr_assert_eq(r.n, 9);
	cr_assert_str_eq(r.names[8], "late");
	/* the mark survives a remount: cookies are never given out twice */
	fx_remount();
	cr_assert_eq(fs_readdir_mark(fx_fs, 1, &c), 0);
	cr_assert_gt(c, mark);
	cr_assert_eq(fs_readdir_mark(fx_fs, f, &c), -ENOTDIR);
}

Test(namei, many_entries_and_itable_growth)
{
	char nm[32];
	struct fs_attr a;

	fx_teardown();
	fx_setup_size("64M");
	for (int i = 0; i < 5000; i++) {
		snprintf(nm, sizeof(nm), "file-%d", i);
		mkf(1, nm);
	}
	cr_assert_eq(fs_lookup(fx_fs, 1, "file-4999", &a), 0);
	cr_assert_gt(a.ino, 4096);
	fx_crash();
	cr_assert_eq(fs_lookup(fx_fs, 1, "file-4321", &a), 0);
	for (int i = 0; i < 5000; i += 2) {
		snprintf(nm, sizeof(nm), "file-%d", i);
		cr_assert_eq(fs_unlink(fx_fs, 1, nm), 0);
	}
	fx_remount();
	cr_assert_eq(fs_lookup(fx_fs, 1, "file-4998", &a), -ENOENT);
	cr_assert_eq(fs_lookup(fx_fs, 1, "file-4999", &a), 0);
}

Test(namei, refcount_orphan_lives_until_forget)
{
	struct fs_attr a;

	fs_unmount(fx_fs);
	fx_fs = NULL;
	pmio_close(fx_p);
	fx_mount_flags(FS_O_REFCOUNT);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "f", S_IFREG | 0644, 0, &a), 0);
	cr_assert_eq(fs_pwrite(fx_fs, a.ino, "data", 4, 0), 0);
	cr_assert_eq(fs_unlink(fx_fs, 1, "f"), 0);
	cr_assert_eq(fs_getattr(fx_fs, a.ino, &a), 0);
	cr_assert_eq(a.nlink, 0);
	fs_forget(fx_fs, a.ino, 1);
	cr_assert_eq(fs_getattr(fx_fs, a.ino, &a), -ENOENT);
	/* an orphan at crash time is reclaimed by recovery */
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "g", S_IFREG | 0644, 0, &a), 0);
	cr_assert_eq(fs_unlink(fx_fs, 1, "g"), 0);
	fx_crash();
	cr_assert_eq(fx_mi.orphans_freed, 1);
	cr_assert_eq(fs_getattr(fx_fs, a.ino, &a), -ENOENT);
}

/* A directory of 100k entries: every name looks up to its own inode, in
 * the freshly built index and again after a crash (rebuilt lazily from
 * the log); absent names miss.  Time per lookup goes to stderr. */
Test(namei, directory_of_100k_entries, .timeout = 600)
{
	enum { N = 100000 };
	static uint64_t ino[N];
	struct fs_attr a, d;
	struct timespec t0, t1;
	char nm[32];

	fx_teardown();
	fx_setup_size("512M");
	d.ino = mkd(1, "big");
	for (int i = 0; i < N; i++) {
		snprintf(nm, sizeof(nm), "entry-%07d-%x", i, i * 2654435761u);
		ino[i] = mkf(d.ino, nm);
	}
	for (int round = 0; round < 2; round++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (int i = 0; i < N; i++) {
			snprintf(nm, sizeof(nm), "entry-%07d-%x", i,
				 i * 2654435761u);
			cr_assert_eq(fs_lookup(fx_fs, d.ino, nm, &a), 0, "%s",
				     nm);
			cr_assert_eq(a.ino, ino[i], "%s", nm);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		fprintf(stderr,
			"namei: 100k-entry directory, %s: %.2f us per lookup\n",
			round ? "after a crash (first lookup loads)" : "cached",
			((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
			 (double)(t1.tv_nsec - t0.tv_nsec)) /
				1e3 / N);
		cr_assert_eq(fs_lookup(fx_fs, d.ino, "entry-0000000", &a),
			     -ENOENT);
		cr_assert_eq(fs_getattr(fx_fs, d.ino, &a), 0);
		cr_assert_eq(a.nlink, 2);
		cr_assert_gt(a.size, (uint64_t)N * 16);
		if (!round)
			fx_crash();
	}
}

/* The crash harness's seeded bug (seed.h, dentry-in-place): the rename it
 * picks rewrites the old entry in place and logs no DEL; once it is all
 * written, a replay still sees the rename (only crashes expose it), and
 * without the seed nothing fires. */
Test(namei, seeded_dentry_in_place_rename)
{
	uint64_t d1 = mkd(1, "d1"), d2 = mkd(1, "d2"), f = mkf(d1, "f");
	uint64_t g = mkf(d1, "g");
	uint64_t p1, p2;
	struct fs_attr a;

	cr_assert_eq(fs_log_pages(fx_fs, d1, &p1), 0);
	cr_assert_eq(pmio_seed_arm("dentry-in-place:2"), 0);
	cr_assert_eq(fs_rename(fx_fs, d1, "f", d2, "f", 0), 0);
	cr_assert_eq(pmio_seed_hits(), 0, "the first rename is not the 2nd");
	cr_assert_eq(fs_rename(fx_fs, d1, "g", d1, "h", 0), 0);
	cr_assert_eq(pmio_seed_hits(), 1);
	pmio_seed_disarm();
	cr_assert_eq(fs_lookup(fx_fs, d1, "g", &a), -ENOENT);
	cr_assert_eq(fs_log_pages(fx_fs, d1, &p2), 0);
	cr_assert_eq(p1, p2);
	fx_crash();
	cr_assert_eq(fs_lookup(fx_fs, d1, "g", &a), -ENOENT,
		     "the in-place DEL replays");
	cr_assert_eq(fs_lookup(fx_fs, d1, "h", &a), 0);
	cr_assert_eq(a.ino, g);
	cr_assert_eq(fs_lookup(fx_fs, d2, "f", &a), 0);
	cr_assert_eq(a.ino, f);
	cr_assert_eq(fs_lookup(fx_fs, d1, "f", &a), -ENOENT);
	/* disarmed: renames log DEL/ADD again, nothing fires */
	cr_assert_eq(fs_rename(fx_fs, d1, "h", d2, "h", 0), 0);
	cr_assert_eq(pmio_seed_hits(), 1);
}
