/*
 * test_fs.c - mount, clean unmount and remount, crash (abandon) and
 * recovery, statfs, fence budgets of every operation, the mapping made
 * present ahead of the allocator.
 */
#include "fsfix.h"

#include <pthread.h>
#include <sys/mman.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "format/fmt.h"
#include "fs/fs_int.h"

TestSuite(fs, .init = fx_setup, .fini = fx_teardown);

Test(fs, fresh_mount_has_root_and_lost_found)
{
	struct fs_attr a;

	cr_assert(fx_mi.was_clean);
	cr_assert_eq(fs_getattr(fx_fs, 1, &a), 0);
	cr_assert(S_ISDIR(a.mode));
	cr_assert_eq(a.nlink, 3);
	cr_assert_eq(fs_lookup(fx_fs, 1, "lost+found", &a), 0);
	cr_assert_eq(a.ino, 2);
	cr_assert(S_ISDIR(a.mode));
	cr_assert_eq(fx_mi.inodes, 2);
}

Test(fs, remount_clean_preserves)
{
	struct fs_attr a, b;
	struct statvfs s1, s2;

	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "f", S_IFREG | 0644, 0, &a), 0);
	cr_assert_eq(fs_pwrite(fx_fs, a.ino, "hello", 5, 0), 0);
	cr_assert_eq(fs_statfs(fx_fs, &s1), 0);
	fx_remount();
	cr_assert_eq(fs_lookup(fx_fs, 1, "f", &b), 0);
	cr_assert_eq(b.ino, a.ino);
	cr_assert_eq(b.size, 5);
	cr_assert_eq(fs_statfs(fx_fs, &s2), 0);
	cr_assert_eq(s1.f_bfree, s2.f_bfree);
}

Test(fs, crash_recovery_preserves_and_rebuilds_free_space)
{
	struct fs_attr a, b;
	struct statvfs s1, s2;
	char buf[16];
	size_t n;

	cr_assert_eq(fs_mkdir(fx_fs, &fx_ctx, 1, "d", 0755, &a), 0);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, a.ino, "f", S_IFREG | 0644, 0,
			      &b), 0);
	cr_assert_eq(fs_pwrite(fx_fs, b.ino, "abcdefgh", 8, 8192), 0);
	cr_assert_eq(fs_statfs(fx_fs, &s1), 0);
	fx_crash();
	cr_assert_eq(fs_statfs(fx_fs, &s2), 0);
	cr_assert_eq(s1.f_bfree, s2.f_bfree);
	cr_assert_eq(fs_lookup(fx_fs, a.ino, "f", &b), 0);
	cr_assert_eq(b.size, 8200);
	cr_assert_eq(fs_pread(fx_fs, b.ino, buf, 8, 8192, &n), 0);
	cr_assert_eq(n, 8);
	cr_assert_eq(memcmp(buf, "abcdefgh", 8), 0);
	cr_assert_eq(fs_pread(fx_fs, b.ino, buf, 8, 0, &n), 0);
	cr_assert_eq(buf[0], 0);
}

/* The state fs_remount leaves, as the next mount sees it: crash there. */
static bool clean_after_crash(unsigned flags)
{
	fs_abandon(fx_fs);
	fx_fs = NULL;
	pmio_close(fx_p);
	fx_p = NULL;
	fx_mount_flags(flags);
	return fx_mi.was_clean;
}

/*
 * Read-only and back: every change refused (EROFS) and statfs says so;
 * the clean state written at the switch (a crash there finds it clean)
 * and withdrawn at the switch back (a crash then recovers); the saved
 * allocator chain given back, so free space is what it was.
 */
Test(fs, remount_read_only_and_back)
{
	struct fs_attr a;
	struct statvfs s1, s2;
	char err[256];

	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "f", S_IFREG | 0644, 0, &a), 0);
	cr_assert_eq(fs_pwrite(fx_fs, a.ino, "hello", 5, 0), 0);
	cr_assert_eq(fs_statfs(fx_fs, &s1), 0);
	cr_assert_eq(fs_remount(fx_fs, true, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fs_remount(fx_fs, true, err, sizeof(err)), 0);
	cr_assert_eq(fs_statfs(fx_fs, &s2), 0);
	cr_assert(s2.f_flag & ST_RDONLY);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "g", S_IFREG | 0644, 0, &a),
		     -EROFS);
	cr_assert_eq(fs_pwrite(fx_fs, a.ino, "x", 1, 0), -EROFS);
	cr_assert_eq(fs_unlink(fx_fs, 1, "f"), -EROFS);
	cr_assert_eq(fs_lookup(fx_fs, 1, "f", &a), 0);
	cr_assert(clean_after_crash(0), "remount read-only left it not clean");
	cr_assert_eq(fs_remount(fx_fs, true, err, sizeof(err)), 0);
	cr_assert_eq(fs_remount(fx_fs, false, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fs_statfs(fx_fs, &s2), 0);
	cr_assert(!(s2.f_flag & ST_RDONLY));
	cr_assert_eq(s2.f_bfree, s1.f_bfree, "the saved chain was not given "
		     "back: %lu free, %lu before", (unsigned long)s2.f_bfree,
		     (unsigned long)s1.f_bfree);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "g", S_IFREG | 0644, 0, &a), 0);
	cr_assert(!clean_after_crash(0), "remount read-write left it clean");
	cr_assert_eq(fs_lookup(fx_fs, 1, "g", &a), 0);
	cr_assert_eq(fs_statfs(fx_fs, &s2), 0);
	fx_remount(); /* clean unmount after the switches; free space kept */
	cr_assert_eq(fs_statfs(fx_fs, &s1), 0);
	cr_assert_eq(s1.f_bfree, s2.f_bfree);
}

/* A mount made read-only goes read-write when its device allows it; its
 * device opened read-only refuses, with the reason. */
Test(fs, read_only_mount_goes_read_write)
{
	struct pmio_opts o = { .flags = PMIO_O_QUIET | PMIO_O_FORCE_CL |
					PMIO_O_RDONLY | PMIO_O_UPGRADE };
	struct fs_opts fo = { .flags = FS_O_RDONLY };
	struct fs_attr a;
	char err[256] = "";

	cr_assert_eq(fs_unmount(fx_fs), 0);
	pmio_close(fx_p);
	for (int upgrade = 1; upgrade >= 0; upgrade--) {
		if (!upgrade)
			o.flags &= ~(unsigned)PMIO_O_UPGRADE;
		cr_assert_eq(pmio_open(fx_path, &o, &fx_p, NULL, 0), 0);
		cr_assert_eq(fs_mount_pmio(fx_p, &fo, &fx_fs, &fx_mi, err,
					   sizeof(err)), 0, "%s", err);
		cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "g", S_IFREG | 0644, 0,
				      &a), -EROFS);
		if (!upgrade) {
			cr_assert_eq(fs_remount(fx_fs, false, err, sizeof(err)),
				     -EROFS);
			cr_assert(strstr(err, "open read-only"), "%s", err);
			break;
		}
		cr_assert_eq(fs_remount(fx_fs, false, err, sizeof(err)), 0,
			     "%s", err);
		cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "g", S_IFREG | 0644, 0,
				      &a), 0);
		cr_assert_eq(fs_unmount(fx_fs), 0);
		pmio_close(fx_p);
	}
	fs_unmount(fx_fs);
	pmio_close(fx_p);
	fx_p = NULL;
	fx_mount_flags(0);
	cr_assert(fx_mi.was_clean);
	cr_assert_eq(fs_lookup(fx_fs, 1, "g", &a), 0);
}

/*
 * An unlinked file still held (a lookup reference) keeps the remount
 * read-only from writing the clean state: the next mount must reclaim it.
 * An orphan a read-only mount after a crash kept is reclaimed by the
 * switch to read-write.
 */
Test(fs, remount_and_orphans)
{
	struct fs_attr a;
	struct statvfs s1, s2;
	char err[256];

	fs_unmount(fx_fs);
	pmio_close(fx_p);
	fx_mount_flags(FS_O_REFCOUNT);
	cr_assert_eq(fs_statfs(fx_fs, &s1), 0);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "f", S_IFREG | 0644, 0, &a), 0);
	cr_assert_eq(fs_pwrite(fx_fs, a.ino, "hello", 5, 0), 0);
	cr_assert_eq(fs_unlink(fx_fs, 1, "f"), 0); /* held: nlookup 1 */
	cr_assert_eq(fs_remount(fx_fs, true, err, sizeof(err)), 0);
	cr_assert(!clean_after_crash(FS_O_RDONLY | FS_O_REFCOUNT),
		  "clean with a held orphan");
	cr_assert_eq(fx_mi.orphans_freed, 0); /* read-only: kept */
	cr_assert_eq(fs_getattr(fx_fs, a.ino, &a), 0);
	cr_assert_eq(a.nlink, 0);
	cr_assert_eq(fs_remount(fx_fs, false, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fs_getattr(fx_fs, a.ino, &a), -ENOENT,
		     "the orphan was not reclaimed");
	cr_assert_eq(fs_statfs(fx_fs, &s2), 0);
	cr_assert_eq(s2.f_bfree, s1.f_bfree);
	cr_assert_eq(s2.f_ffree, s1.f_ffree);
}

struct flipper {
	bool rdonly_first;
	int bad;
};

/* Remount read-only and read-write in turn, 40 times. */
static void *flip(void *arg)
{
	struct flipper *f = arg;

	for (int i = 0; i < 40; i++)
		if (fs_remount(fx_fs, (i & 1) != f->rdonly_first, NULL, 0))
			f->bad++;
	return NULL;
}

static int count_entry(void *arg, const char *name, uint64_t ino,
		       unsigned dtype, uint64_t next)
{
	(void)name;
	(void)ino;
	(void)dtype;
	(void)next;
	(*(unsigned *)arg)++;
	return 0;
}

/* Read a file over and over (strictatime: every read is an atime commit,
 * and a big directory's log queued for GC), until told to stop. */
static void *reader(void *arg)
{
	_Atomic bool *stop = arg;
	char buf[64];
	struct fs_attr a;
	unsigned seen = 0;
	size_t n;

	if (fs_lookup(fx_fs, 1, "f", &a) != 0)
		return NULL;
	while (!atomic_load(stop)) {
		fs_pread(fx_fs, a.ino, buf, sizeof(buf), 0, &n);
		fs_readdir(fx_fs, 1, 0, count_entry, &seen);
	}
	return NULL;
}

/*
 * Remounts from two threads at once, while reads make atime commits: one
 * remount at a time, the GC stopped and started in turn (ASan and UBSan
 * builds see any use of a freed queue), and the filesystem whole after.
 */
Test(fs, remounts_race_with_reads)
{
	struct flipper f1 = { true, 0 }, f2 = { false, 0 };
	_Atomic bool stop = false;
	pthread_t t1, t2, r;
	struct fs_attr a;
	char name[32];

	fs_unmount(fx_fs);
	pmio_close(fx_p);
	fx_mount_flags(FS_O_STRICTATIME);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "f", S_IFREG | 0644, 0, &a), 0);
	cr_assert_eq(fs_pwrite(fx_fs, a.ino, "hello", 5, 0), 0);
	for (int i = 0; i < 300; i++) { /* a root log the GC wants */
		snprintf(name, sizeof(name), "n%03d", i);
		cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, name, S_IFREG | 0644,
				      0, &a), 0);
		cr_assert_eq(fs_unlink(fx_fs, 1, name), 0);
	}
	cr_assert_eq(pthread_create(&r, NULL, reader, &stop), 0);
	cr_assert_eq(pthread_create(&t1, NULL, flip, &f1), 0);
	cr_assert_eq(pthread_create(&t2, NULL, flip, &f2), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	atomic_store(&stop, true);
	pthread_join(r, NULL);
	cr_assert_eq(f1.bad + f2.bad, 0);
	cr_assert_eq(fs_remount(fx_fs, false, NULL, 0), 0);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "g", S_IFREG | 0644, 0, &a), 0);
	fx_remount(); /* clean */
	cr_assert_eq(fs_lookup(fx_fs, 1, "g", &a), 0);
	fx_crash();
	cr_assert_eq(fs_lookup(fx_fs, 1, "f", &a), 0);
	cr_assert_eq(a.size, 5);
}

Test(fs, fence_budgets)
{
	struct fs_attr a, d;
	struct fs_setattr sa = { .valid = FS_SET_MODE, .mode = 0600 };
	uint64_t f;
	char blk[8192];

	memset(blk, 'x', sizeof(blk));
#define BUDGET(max, call)                                                    \
	do {                                                                 \
		f = fx_fences();                                             \
		cr_assert_eq((call), 0, #call);                              \
		cr_assert_leq(fx_fences() - f, (max), #call ": %lu fences", \
			      (unsigned long)(fx_fences() - f));             \
	} while (0)
	BUDGET(3, fs_mknod(fx_fs, &fx_ctx, 1, "f", S_IFREG | 0644, 0, &a));
	BUDGET(3, fs_mkdir(fx_fs, &fx_ctx, 1, "d", 0755, &d));
	BUDGET(2, fs_pwrite(fx_fs, a.ino, blk, sizeof(blk), 0));
	BUDGET(2, fs_pwrite(fx_fs, a.ino, blk, 100, 10));
	BUDGET(2, fs_pwrite(fx_fs, a.ino, blk, 100, 8192));
	BUDGET(2, fs_setattr(fx_fs, &fx_ctx, a.ino, &sa, NULL));
	sa.valid = FS_SET_SIZE;
	sa.size = 100;
	BUDGET(2, fs_setattr(fx_fs, &fx_ctx, a.ino, &sa, NULL));
	BUDGET(2, fs_setxattr(fx_fs, a.ino, "user.x", "v", 1, 0));
	BUDGET(3, fs_link(fx_fs, a.ino, d.ino, "g", NULL));
	BUDGET(3, fs_symlink(fx_fs, &fx_ctx, 1, "s", "/target", NULL));
	BUDGET(4, fs_rename(fx_fs, 1, "f", d.ino, "h", 0));
	BUDGET(4, fs_rename(fx_fs, d.ino, "h", d.ino, "g", 0));
	BUDGET(3, fs_mknod(fx_fs, &fx_ctx, 1, "o", S_IFREG | 0644, 0, NULL));
	BUDGET(4, fs_rename(fx_fs, 1, "o", d.ino, "g", 0)); /* over, frees */
	BUDGET(4, fs_rename(fx_fs, 1, "s", d.ino, "g", 2 /* EXCHANGE */));
	BUDGET(2, fs_fallocate(fx_fs, a.ino, 0, 0, 65536));
	BUDGET(3, fs_unlink(fx_fs, d.ino, "g"));
	BUDGET(3, fs_mkdir(fx_fs, &fx_ctx, d.ino, "e", 0755, NULL));
	BUDGET(3, fs_rmdir(fx_fs, d.ino, "e"));
#undef BUDGET
}

/* Mount fx_path with fs_mount(flags) and unmount; what went to stderr. */
static size_t mount_stderr(unsigned flags, char *buf, size_t len)
{
	struct fs_opts fo = { .flags = flags };
	char tmpl[] = "/tmp/pmfs-stderr-XXXXXX", err[256] = "";
	int fd = mkstemp(tmpl), saved = dup(2);
	struct fs *fs;
	ssize_t n;

	cr_assert(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	cr_assert_eq(fs_mount(fx_path, &fo, &fs, NULL, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(fs_unmount(fs), 0);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, len - 1, 0);
	close(fd);
	unlink(tmpl);
	buf[n > 0 ? n : 0] = 0;
	return n > 0 ? (size_t)n : 0;
}

Test(fs, quiet_mount_has_no_storage_warning)
{
	char out[1024];

	cr_assert_eq(fs_unmount(fx_fs), 0);
	fx_fs = NULL;
	pmio_close(fx_p);
	fx_p = NULL;
	/* the image is a plain file on tmpfs: pmemio warns unless quiet */
	cr_assert_gt(mount_stderr(0, out, sizeof(out)), 0,
		     "control: a plain file draws a warning");
	cr_assert_eq(mount_stderr(FS_O_QUIET, out, sizeof(out)), 0,
		     "FS_O_QUIET mount wrote: %s", out);
	fx_mount_flags(0);
}

/* ---- the mapping made present ahead of the allocator (fs_ahead.c) ------ */

/* Pages of [from, to) (blocks) resident in the mapping of the mount. */
static uint64_t resident(uint64_t from, uint64_t to)
{
	uint8_t *base = pmio_base(fs_pmio(fx_fs));
	size_t n = (size_t)(to - from);
	unsigned char *vec = malloc(n);
	uint64_t r = 0;

	cr_assert_eq(PMFS_BLOCK_SIZE % sysconf(_SC_PAGESIZE), 0);
	cr_assert_eq(mincore(base + fmt_blk_off(from), fmt_blk_off(n), vec), 0);
	for (size_t i = 0; i < n; i++)
		r += vec[i * (PMFS_BLOCK_SIZE / sysconf(_SC_PAGESIZE))] & 1;
	free(vec);
	return r;
}

static void big_setup(void)
{
	fx_setup_size("256M");
}

/* On a sparse image, the blocks a lane hands out next are made present
 * by the mount's thread once operations use the lane; nothing waits for
 * it (the wait here is bounded, and only for the assertion). */
Test(fs, pages_made_present_ahead_of_the_allocator, .init = big_setup,
     .fini = fx_teardown)
{
	struct fs_attr a;
	unsigned lane = fs_lane(fx_fs) % alloc_nlanes(fx_fs->a);
	uint64_t hint, end, to, got = 0;
	char name[32];

	alloc_lane_hint(fx_fs->a, lane, &hint, &end);
	to = hint + 512 < end ? hint + 512 : end;
	cr_assert_gt(to, hint + 256, "lane %u too small", lane);
	cr_assert_lt(resident(hint + 64, to), to - hint - 64,
		     "the fresh image is not sparse: the test shows nothing");
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, name, S_IFREG | 0644,
				      0, &a),
			     0);
	}
	alloc_lane_hint(fx_fs->a, lane, &hint, &end);
	for (int i = 0; i < 6000; i++) { /* at most a minute */
		got = resident(hint, to);
		if (got == to - hint)
			break;
		usleep(10000);
	}
	cr_assert_eq(got, to - hint, "%lu of %lu blocks after the hint present",
		     (unsigned long)got, (unsigned long)(to - hint));
	cr_assert_geq(fs_ahead_blocks(fx_fs), to - hint);
}
