/*
 * test_file.c - data and attributes: COW overwrites, appends, holes,
 * truncate, large offsets, setattr, xattrs (inline and in blocks, on
 * images with and without large_xattr), SEEK_DATA/SEEK_HOLE, ENOSPC
 * and recovery of space, and a checksum failure giving EIO for one inode.
 */
#include "fsfix.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include "format/format.h"
#include <stdio.h>
#include <sys/xattr.h>
#include <unistd.h>

TestSuite(file, .init = fx_setup, .fini = fx_teardown);

static uint64_t mkf(const char *name)
{
	struct fs_attr a;

	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, name, S_IFREG | 0644, 0, &a), 0);
	return a.ino;
}

static void expect(uint64_t ino, uint64_t off, const void *want, size_t len)
{
	uint8_t *buf = malloc(len + 1);
	size_t n;

	cr_assert_eq(fs_pread(fx_fs, ino, buf, len, off, &n), 0);
	cr_assert_eq(n, len, "read %zu want %zu", n, len);
	cr_assert_eq(memcmp(buf, want, len), 0, "content at %lu",
		     (unsigned long)off);
	free(buf);
}

Test(file, overwrite_append_holes)
{
	uint64_t f = mkf("f");
	uint8_t a[10000], z[10000] = { 0 };
	struct fs_attr at;
	size_t n;

	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)(i * 7);
	cr_assert_eq(fs_pwrite(fx_fs, f, a, 5000, 0), 0);
	expect(f, 0, a, 5000);
	cr_assert_eq(fs_pwrite(fx_fs, f, a + 5000, 5000, 5000), 0); /* append */
	expect(f, 0, a, 10000);
	cr_assert_eq(fs_pwrite(fx_fs, f, "XYZ", 3, 4095), 0); /* overwrite */
	a[4095] = 'X';
	a[4096] = 'Y';
	a[4097] = 'Z';
	expect(f, 0, a, 10000);
	/* hole */
	cr_assert_eq(fs_pwrite(fx_fs, f, "end", 3, 100000), 0);
	expect(f, 10000, z, 10000);
	cr_assert_eq(fs_getattr(fx_fs, f, &at), 0);
	cr_assert_eq(at.size, 100003);
	cr_assert_lt(at.blocks, 8 * 8); /* holes take no space */
	/* read past EOF */
	cr_assert_eq(fs_pread(fx_fs, f, a, 10, 100003, &n), 0);
	cr_assert_eq(n, 0);
	fx_crash();
	expect(f, 100000, "end", 3);
	expect(f, 4095, "XYZ", 3);
}

Test(file, truncate_down_up_zeroes)
{
	uint64_t f = mkf("f");
	uint8_t a[8192], z[8192] = { 0 };
	struct fs_setattr sa = { .valid = FS_SET_SIZE };
	struct statvfs s0, s1;

	memset(a, 'a', sizeof(a));
	cr_assert_eq(fs_statfs(fx_fs, &s0), 0);
	cr_assert_eq(fs_pwrite(fx_fs, f, a, 8192, 0), 0);
	sa.size = 100;
	cr_assert_eq(fs_setattr(fx_fs, &fx_ctx, f, &sa, NULL), 0);
	sa.size = 8192;
	cr_assert_eq(fs_setattr(fx_fs, &fx_ctx, f, &sa, NULL), 0);
	expect(f, 0, a, 100);
	expect(f, 100, z, 8092);
	/* append after truncate: stale bytes stay hidden */
	sa.size = 50;
	cr_assert_eq(fs_setattr(fx_fs, &fx_ctx, f, &sa, NULL), 0);
	cr_assert_eq(fs_pwrite(fx_fs, f, "b", 1, 60), 0);
	expect(f, 0, a, 50);
	expect(f, 50, z, 10);
	expect(f, 60, "b", 1);
	sa.size = 0;
	cr_assert_eq(fs_setattr(fx_fs, &fx_ctx, f, &sa, NULL), 0);
	cr_assert_eq(fs_statfs(fx_fs, &s1), 0);
	/* only the log page remains */
	cr_assert_leq(s0.f_bfree - s1.f_bfree, 1);
	fx_remount();
	struct fs_attr at;
	cr_assert_eq(fs_getattr(fx_fs, f, &at), 0);
	cr_assert_eq(at.size, 0);
}

Test(file, large_offsets)
{
	uint64_t f = mkf("big");
	uint64_t off = (5ull << 30) + 123;
	struct fs_attr at;
	uint64_t r;

	cr_assert_eq(fs_pwrite(fx_fs, f, "far", 3, off), 0);
	cr_assert_eq(fs_getattr(fx_fs, f, &at), 0);
	cr_assert_eq(at.size, off + 3);
	expect(f, off, "far", 3);
	cr_assert_eq(fs_lseek(fx_fs, f, 0, SEEK_DATA, &r), 0);
	cr_assert_eq(r, off & ~4095ull);
	cr_assert_eq(fs_lseek(fx_fs, f, 0, SEEK_HOLE, &r), 0);
	cr_assert_eq(r, 0);
	cr_assert_eq(fs_lseek(fx_fs, f, off, SEEK_HOLE, &r), 0);
	cr_assert_eq(r, off + 3);
	cr_assert_eq(fs_lseek(fx_fs, f, off + 3, SEEK_DATA, &r), -ENXIO);
	fx_crash();
	expect(f, off, "far", 3);
}

Test(file, setattr_and_dir_errors)
{
	uint64_t f = mkf("f");
	struct fs_setattr sa = { .valid = FS_SET_MODE | FS_SET_UID |
					  FS_SET_GID | FS_SET_MTIME,
				 .mode = 0600, .uid = 5, .gid = 6,
				 .mtime = { 12345, 678 } };
	struct fs_attr at;
	size_t w;
	struct iovec v = { "x", 1 };

	cr_assert_eq(fs_setattr(fx_fs, &fx_ctx, f, &sa, &at), 0);
	cr_assert_eq(at.mode, S_IFREG | 0600);
	fx_crash();
	cr_assert_eq(fs_getattr(fx_fs, f, &at), 0);
	cr_assert_eq(at.uid, 5);
	cr_assert_eq(at.gid, 6);
	cr_assert_eq(at.mtime.tv_sec, 12345);
	cr_assert_eq(at.mtime.tv_nsec, 678);
	cr_assert_eq(fs_write(fx_fs, &fx_ctx, 1, &v, 1, 0, 0, &w), -EISDIR);
	sa.valid = FS_SET_SIZE;
	cr_assert_eq(fs_setattr(fx_fs, &fx_ctx, 1, &sa, &at), -EISDIR);
	cr_assert_eq(fs_write(fx_fs, &fx_ctx, f, &v, 1, 0, FS_W_APPEND, &w), 0);
	cr_assert_eq(fs_write(fx_fs, &fx_ctx, f, &v, 1, 0, FS_W_APPEND, &w), 0);
	cr_assert_eq(fs_getattr(fx_fs, f, &at), 0);
	cr_assert_eq(at.size, 2);
}

/* FS_W_KEEP_TIMES (the kernel's writeback cache owns the times): the data
 * and size change, mtime and ctime stay, across a crash too; a write that
 * clears setuid still moves ctime. */
Test(file, write_keeping_the_times)
{
	uint64_t f = mkf("f");
	struct fs_setattr sa = { .valid = FS_SET_MTIME | FS_SET_MODE,
				 .mode = S_IFREG | 04755 };
	struct fs_attr a, b;
	struct iovec v = { "0123456789", 10 };
	size_t w;

	sa.mtime.tv_sec = 946684800;
	sa.mtime.tv_nsec = 7;
	cr_assert_eq(fs_setattr(fx_fs, &fx_ctx, f, &sa, &a), 0);
	cr_assert_eq(fs_write(fx_fs, &fx_ctx, f, &v, 1, 4090, FS_W_KEEP_TIMES,
			      &w),
		     0);
	cr_assert_eq(fs_write(fx_fs, &fx_ctx, f, &v, 1, 0, FS_W_KEEP_TIMES,
			      &w),
		     0);
	fx_crash();
	cr_assert_eq(fs_getattr(fx_fs, f, &b), 0);
	cr_assert_eq(b.size, 4100);
	expect(f, 0, "0123456789", 10);
	expect(f, 4090, "0123456789", 10);
	cr_assert_eq(b.mtime.tv_sec, 946684800);
	cr_assert_eq(b.mtime.tv_nsec, 7);
	cr_assert_eq(b.ctime.tv_sec, a.ctime.tv_sec);
	cr_assert_eq(b.ctime.tv_nsec, a.ctime.tv_nsec);
	cr_assert_eq(fs_write(fx_fs, &fx_ctx, f, &v, 1, 0,
			      FS_W_KEEP_TIMES | FS_W_KILL_SUID, &w),
		     0);
	cr_assert_eq(fs_getattr(fx_fs, f, &b), 0);
	cr_assert_eq(b.mode & S_ISUID, 0);
	cr_assert_eq(b.mtime.tv_nsec, 7);
	cr_assert(b.ctime.tv_sec > a.ctime.tv_sec ||
		  (b.ctime.tv_sec == a.ctime.tv_sec &&
		   b.ctime.tv_nsec > a.ctime.tv_nsec),
		  "ctime did not move with the mode");
	/* without the flag the times move */
	cr_assert_eq(fs_write(fx_fs, &fx_ctx, f, &v, 1, 0, 0, &w), 0);
	cr_assert_eq(fs_getattr(fx_fs, f, &b), 0);
	cr_assert_gt(b.mtime.tv_sec, 946684800);
}

Test(file, xattrs)
{
	uint64_t f = mkf("f");
	char buf[4096];
	size_t n;

	cr_assert_eq(fs_setxattr(fx_fs, f, "user.a", "1", 1, XATTR_REPLACE),
		     -ENODATA);
	cr_assert_eq(fs_setxattr(fx_fs, f, "user.a", "1", 1, 0), 0);
	cr_assert_eq(fs_setxattr(fx_fs, f, "user.a", "1", 1, XATTR_CREATE),
		     -EEXIST);
	cr_assert_eq(fs_setxattr(fx_fs, f, "trusted.b", "22", 2, 0), 0);
	cr_assert_eq(fs_getxattr(fx_fs, f, "user.a", buf, 0, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(fs_getxattr(fx_fs, f, "trusted.b", buf, 1, &n), -ERANGE);
	cr_assert_eq(fs_listxattr(fx_fs, f, buf, sizeof(buf), &n), 0);
	cr_assert_eq(n, strlen("user.a") + strlen("trusted.b") + 2);
	cr_assert_eq(fs_setxattr(fx_fs, f, "user.big", buf,
				 PMFS_XATTR_VALUE_MAX + 1, 0),
		     -E2BIG);
	fx_crash();
	cr_assert_eq(fs_getxattr(fx_fs, f, "trusted.b", buf, 10, &n), 0);
	cr_assert_eq(memcmp(buf, "22", 2), 0);
	cr_assert_eq(fs_removexattr(fx_fs, f, "user.a"), 0);
	cr_assert_eq(fs_removexattr(fx_fs, f, "user.a"), -ENODATA);
	cr_assert_eq(fs_getxattr(fx_fs, f, "user.a", buf, 10, &n), -ENODATA);
}

/* fsck.pmfs -n -f on the unmounted image: clean (block accounting too). */
static void fsck_clean(void)
{
	char out[4096];
	char *av[] = { (char *)tu_tool("fsck.pmfs"), "-n", "-f", fx_path,
		       NULL };

	cr_assert_eq(fs_unmount(fx_fs), 0);
	fx_fs = NULL;
	pmio_close(fx_p);
	fx_p = NULL;
	cr_assert_eq(tu_run(av, out, sizeof(out), NULL, 0), 0, "%s", out);
}

/* Value n of a large xattr: len bytes of a pattern seeded by seed. */
static uint8_t *xval(size_t len, unsigned seed)
{
	uint8_t *v = malloc(len);

	for (size_t i = 0; i < len; i++)
		v[i] = (uint8_t)(seed + i * 31 + (i >> 12));
	return v;
}

static void xexpect(uint64_t ino, const char *name, const uint8_t *want,
		    size_t len)
{
	uint8_t *buf = malloc(PMFS_XATTR_VALUE_MAX);
	size_t n = 0;

	cr_assert_eq(fs_getxattr(fx_fs, ino, name, buf, 0, &n), 0);
	cr_assert_eq(n, len);
	cr_assert_eq(fs_getxattr(fx_fs, ino, name, buf, PMFS_XATTR_VALUE_MAX,
				 &n),
		     0);
	cr_assert_eq(n, len);
	cr_assert_eq(memcmp(buf, want, len), 0, "%s differs", name);
	free(buf);
}

static uint64_t blocks_of(uint64_t ino)
{
	struct fs_attr at;

	cr_assert_eq(fs_getattr(fx_fs, ino, &at), 0);
	return at.blocks / (PMFS_BLOCK_SIZE / 512);
}

/* Values up to 64 KiB: in data blocks past the inline limit, through
 * replace, remount, crash, log compaction and unlink; fsck clean after. */
Test(file, xattr_large_values)
{
	uint64_t f = mkf("f"), g = mkf("g");
	uint8_t *big = xval(PMFS_XATTR_VALUE_MAX, 1);
	uint8_t *mid = xval(PMFS_XATTR_INLINE_MAX + 1, 2);
	uint8_t *b2 = xval(40000, 3);

	cr_assert_eq(blocks_of(f), 0);
	cr_assert_eq(fs_setxattr(fx_fs, f, "user.big", big,
				 PMFS_XATTR_VALUE_MAX, XATTR_CREATE),
		     0);
	cr_assert_eq(blocks_of(f), PMFS_XATTR_VALUE_MAX / PMFS_BLOCK_SIZE);
	cr_assert_eq(fs_setxattr(fx_fs, f, "user.mid", mid,
				 PMFS_XATTR_INLINE_MAX + 1, 0),
		     0);
	cr_assert_eq(blocks_of(f), 16 + 1);
	cr_assert_eq(fs_setxattr(fx_fs, f, "user.in", mid,
				 PMFS_XATTR_INLINE_MAX, 0),
		     0);
	cr_assert_eq(blocks_of(f), 16 + 1, "an inline value takes no block");
	xexpect(f, "user.big", big, PMFS_XATTR_VALUE_MAX);
	xexpect(f, "user.mid", mid, PMFS_XATTR_INLINE_MAX + 1);
	xexpect(f, "user.in", mid, PMFS_XATTR_INLINE_MAX);
	fx_remount();
	xexpect(f, "user.big", big, PMFS_XATTR_VALUE_MAX);
	cr_assert_eq(blocks_of(f), 17);
	/* big by big, big by inline, inline by big */
	cr_assert_eq(fs_setxattr(fx_fs, f, "user.big", b2, 40000,
				 XATTR_REPLACE),
		     0);
	cr_assert_eq(blocks_of(f), 10 + 1);
	cr_assert_eq(fs_setxattr(fx_fs, f, "user.mid", "x", 1, 0), 0);
	cr_assert_eq(blocks_of(f), 10);
	cr_assert_eq(fs_setxattr(fx_fs, f, "user.in", big, 9000, 0), 0);
	cr_assert_eq(blocks_of(f), 10 + 3);
	fx_crash(); /* the rebuild marks the values' blocks used */
	xexpect(f, "user.big", b2, 40000);
	xexpect(f, "user.in", big, 9000);
	xexpect(f, "user.mid", (const uint8_t *)"x", 1);
	cr_assert_eq(fs_gc(fx_fs, f), 0);
	xexpect(f, "user.big", b2, 40000);
	cr_assert_eq(fs_removexattr(fx_fs, f, "user.big"), 0);
	cr_assert_eq(blocks_of(f), 3);
	cr_assert_eq(fs_setxattr(fx_fs, g, "user.big", big,
				 PMFS_XATTR_VALUE_MAX, 0),
		     0);
	cr_assert_eq(fs_unlink(fx_fs, 1, "g"), 0);
	fx_remount();
	xexpect(f, "user.in", big, 9000);
	fsck_clean();
	free(big);
	free(mid);
	free(b2);
}

/* An image made without large_xattr (as earlier pmfs made them) mounts
 * and keeps its limit of PMFS_XATTR_INLINE_MAX bytes. */
Test(file, xattr_without_large_xattr_feature)
{
	char err[1024];
	char *av[] = { (char *)tu_tool("mkfs.pmfs"), "-q", "-f", "-O",
		       "^large_xattr", "--size", "16M", fx_path, NULL };
	uint8_t *v = xval(PMFS_XATTR_INLINE_MAX + 1, 4);
	uint64_t f;

	cr_assert_eq(fs_unmount(fx_fs), 0);
	fx_fs = NULL;
	pmio_close(fx_p);
	fx_p = NULL;
	cr_assert_eq(tu_run(av, NULL, 0, err, sizeof(err)), 0, "%s", err);
	fx_mount_flags(0);
	f = mkf("f");
	cr_assert_eq(fs_setxattr(fx_fs, f, "user.a", v,
				 PMFS_XATTR_INLINE_MAX + 1, 0),
		     -E2BIG);
	cr_assert_eq(fs_setxattr(fx_fs, f, "user.a", v, PMFS_XATTR_INLINE_MAX,
				 0),
		     0);
	fx_remount();
	xexpect(f, "user.a", v, PMFS_XATTR_INLINE_MAX);
	fsck_clean();
	free(v);
}

Test(file, enospc_then_unlink_frees)
{
	uint64_t f = mkf("fill"), g = mkf("g");
	static uint8_t chunk[1 << 20];
	uint64_t off = 0;
	int r;

	while ((r = fs_pwrite(fx_fs, f, chunk, sizeof(chunk), off)) == 0)
		off += sizeof(chunk);
	cr_assert_eq(r, -ENOSPC);
	while ((r = fs_pwrite(fx_fs, f, chunk, 4096, off)) == 0)
		off += 4096;
	cr_assert_eq(r, -ENOSPC);
	cr_assert_eq(fs_pwrite(fx_fs, g, chunk, 4096, 0), -ENOSPC);
	/* still consistent and removable */
	cr_assert_eq(fs_unlink(fx_fs, 1, "fill"), 0);
	cr_assert_eq(fs_pwrite(fx_fs, g, chunk, 4096, 0), 0);
	fx_crash();
	cr_assert_eq(fs_pwrite(fx_fs, g, chunk, sizeof(chunk), 4096), 0);
}

Test(file, corrupt_entry_gives_eio_for_that_inode_only)
{
	uint64_t f = mkf("f"), g = mkf("g");
	struct fs_attr at;
	uint8_t *base;
	const uint64_t *itdir;

	cr_assert_eq(fs_pwrite(fx_fs, f, "abc", 3, 0), 0);
	cr_assert_eq(fs_pwrite(fx_fs, g, "def", 3, 0), 0);
	fs_unmount(fx_fs);
	fx_fs = NULL;
	/* flip a byte in f's first entry (past the page header) */
	base = pmio_base(fx_p);
	{
		const struct pmfs_super *sb = (const void *)base;

		itdir = (const void *)(base + sb->itdir_start * 4096);
		const struct pmfs_inode *slot =
			(const void *)(base + itdir[0] * 4096 + f * 64);
		base[slot->head + 32 + 40] ^= 0x55;
	}
	pmio_close(fx_p);
	fx_p = NULL;
	fx_mount_flags(0);
	cr_assert_eq(fs_getattr(fx_fs, f, &at), -EIO);
	cr_assert_eq(fs_getattr(fx_fs, g, &at), 0);
	expect(g, 0, "def", 3);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "h", S_IFREG, 0, &at), 0);
}

Test(file, fallocate_modes)
{
	uint64_t f = mkf("f");
	uint8_t a[16384], z[16384] = { 0 };
	struct fs_attr at;
	struct statvfs s0, s1;
	uint64_t r;

	memset(a, 'a', sizeof(a));
	cr_assert_eq(fs_fallocate(fx_fs, f, FALLOC_FL_COLLAPSE_RANGE, 0, 4096),
		     -EOPNOTSUPP);
	cr_assert_eq(fs_fallocate(fx_fs, f, FALLOC_FL_PUNCH_HOLE, 0, 4096),
		     -EOPNOTSUPP);
	/* mode 0: size grows, space allocated, reads zeros */
	cr_assert_eq(fs_statfs(fx_fs, &s0), 0);
	cr_assert_eq(fs_fallocate(fx_fs, f, 0, 0, 16384), 0);
	cr_assert_eq(fs_statfs(fx_fs, &s1), 0);
	cr_assert_geq(s0.f_bfree - s1.f_bfree, 4);
	cr_assert_eq(fs_getattr(fx_fs, f, &at), 0);
	cr_assert_eq(at.size, 16384);
	expect(f, 0, z, 16384);
	/* KEEP_SIZE past EOF: size unchanged */
	cr_assert_eq(fs_fallocate(fx_fs, f, FALLOC_FL_KEEP_SIZE, 16384, 8192),
		     0);
	cr_assert_eq(fs_getattr(fx_fs, f, &at), 0);
	cr_assert_eq(at.size, 16384);
	/* punch a hole in data, unaligned edges */
	cr_assert_eq(fs_pwrite(fx_fs, f, a, 16384, 0), 0);
	cr_assert_eq(fs_fallocate(fx_fs, f,
				  FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  100, 9000), 0);
	expect(f, 0, a, 100);
	expect(f, 100, z, 9000);
	expect(f, 9100, a, 16384 - 9100);
	cr_assert_eq(fs_lseek(fx_fs, f, 4096, SEEK_HOLE, &r), 0);
	cr_assert_eq(r, 4096);
	cr_assert_eq(fs_lseek(fx_fs, f, 4096, SEEK_DATA, &r), 0);
	cr_assert_eq(r, 8192);
	/* zero range extending the size */
	cr_assert_eq(fs_fallocate(fx_fs, f, FALLOC_FL_ZERO_RANGE, 12000, 8000),
		     0);
	cr_assert_eq(fs_getattr(fx_fs, f, &at), 0);
	cr_assert_eq(at.size, 20000);
	expect(f, 9100, a, 12000 - 9100);
	expect(f, 12000, z, 8000);
	fx_crash();
	expect(f, 0, a, 100);
	expect(f, 100, z, 9000);
	expect(f, 9100, a, 12000 - 9100);
	expect(f, 12000, z, 8000);
	fx_remount();
	expect(f, 9100, a, 12000 - 9100);
}

Test(file, read_only_mount)
{
	struct fs_attr a;
	uint64_t f = mkf("f");

	cr_assert_eq(fs_pwrite(fx_fs, f, "ro", 2, 0), 0);
	fs_unmount(fx_fs);
	fx_fs = NULL;
	pmio_close(fx_p);
	fx_mount_flags(FS_O_RDONLY);
	expect(f, 0, "ro", 2);
	cr_assert_eq(fs_pwrite(fx_fs, f, "x", 1, 0), -EROFS);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "g", S_IFREG, 0, &a), -EROFS);
	cr_assert_eq(fs_unlink(fx_fs, 1, "f"), -EROFS);
}

/* Fill to the last block, check the error, delete, write again; the space
 * freed by the delete is exactly what the fill took (no leaked blocks). */
Test(file, enospc_fill_to_last_block_no_leak)
{
	static uint8_t chunk[1 << 20];
	uint64_t f, g = mkf("g"), off = 0, rp0, rp1;
	struct statvfs s0, s1, s2;
	int r;

	memset(chunk, 0x5a, sizeof(chunk));
	cr_assert_eq(fs_pwrite(fx_fs, g, chunk, 4096, 0), 0);
	cr_assert_eq(fs_log_pages(fx_fs, 1, &rp0), 0);
	cr_assert_eq(fs_statfs(fx_fs, &s0), 0);
	f = mkf("fill");
	while ((r = fs_pwrite(fx_fs, f, chunk, sizeof(chunk), off)) == 0)
		off += sizeof(chunk);
	cr_assert_eq(r, -ENOSPC);
	while ((r = fs_pwrite(fx_fs, f, chunk, 4096, off)) == 0)
		off += 4096;
	cr_assert_eq(r, -ENOSPC);
	/* only the reserve (for unlink/truncate) is left */
	cr_assert_eq(fs_statfs(fx_fs, &s1), 0);
	cr_assert_eq(s1.f_bavail, 0);
	cr_assert_leq(s1.f_bfree, s0.f_blocks / 8, "%lu blocks left",
		      (unsigned long)s1.f_bfree);
	cr_assert_eq(fs_pwrite(fx_fs, g, chunk, 4096, 0), -ENOSPC);
	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "h", S_IFREG | 0644, 0, NULL),
		     -ENOSPC);
	expect(f, off - 4096, chunk, 4096);
	cr_assert_eq(fs_unlink(fx_fs, 1, "fill"), 0);
	cr_assert_eq(fs_statfs(fx_fs, &s2), 0);
	cr_assert_eq(fs_log_pages(fx_fs, 1, &rp1), 0);
	/* the root's log may have grown by the two entries, nothing else */
	cr_assert_eq(s0.f_bfree - s2.f_bfree, rp1 - rp0,
		     "before %lu after %lu (root log %lu -> %lu pages)",
		     (unsigned long)s0.f_bfree, (unsigned long)s2.f_bfree,
		     (unsigned long)rp0, (unsigned long)rp1);
	cr_assert_eq(fs_pwrite(fx_fs, g, chunk, sizeof(chunk), 0), 0);
	expect(g, 0, chunk, sizeof(chunk));
	fx_crash();
	cr_assert_eq(fs_statfs(fx_fs, &s1), 0);
	/* 256 blocks written over 1 (freed), maybe a log page more */
	cr_assert_geq(s2.f_bfree - s1.f_bfree, 254);
	cr_assert_leq(s2.f_bfree - s1.f_bfree, 255);
	expect(g, 0, chunk, sizeof(chunk));
}

static int last_cookie(void *arg, const char *name, uint64_t ino,
		       unsigned dt, uint64_t next)
{
	*(uint64_t *)arg = next;
	return 0;
}

static bool ts_eq(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool ts_ge(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec >= b->tv_nsec);
}

static void remount_flags(unsigned flags)
{
	cr_assert_eq(fs_unmount(fx_fs), 0);
	fx_fs = NULL;
	pmio_close(fx_p);
	fx_p = NULL;
	fx_mount_flags(flags);
}

/* relatime (default): a read updates atime only when it is not newer than
 * mtime/ctime; a read that need not costs no fence. */
Test(file, atime_relatime)
{
	uint64_t f = mkf("f"), fe, ck;
	struct fs_attr a0, a1, a2, d0, d1;
	char buf[64];
	size_t n;

	cr_assert_eq(fs_pwrite(fx_fs, f, "hello", 5, 0), 0);
	cr_assert_eq(fs_getattr(fx_fs, f, &a0), 0);
	cr_assert(ts_ge(&a0.mtime, &a0.atime));
	fe = fx_fences();
	cr_assert_eq(fs_pread(fx_fs, f, buf, sizeof(buf), 0, &n), 0);
	cr_assert_eq(fx_fences() - fe, 2, "atime update: one ATTR, 2 fences");
	cr_assert_eq(fs_getattr(fx_fs, f, &a1), 0);
	cr_assert(!ts_ge(&a1.mtime, &a1.atime), "atime moved past mtime");
	fe = fx_fences();
	cr_assert_eq(fs_pread(fx_fs, f, buf, sizeof(buf), 0, &n), 0);
	cr_assert_eq(fx_fences() - fe, 0, "relatime: no update, no fence");
	cr_assert_eq(fs_getattr(fx_fs, f, &a2), 0);
	cr_assert(ts_eq(&a2.atime, &a1.atime));
	/* a write makes the next read update again */
	cr_assert_eq(fs_pwrite(fx_fs, f, "x", 1, 0), 0);
	cr_assert_eq(fs_pread(fx_fs, f, buf, sizeof(buf), 0, &n), 0);
	cr_assert_eq(fs_getattr(fx_fs, f, &a2), 0);
	cr_assert(!ts_ge(&a2.mtime, &a2.atime));
	/* readdir of a changed directory updates its atime */
	cr_assert_eq(fs_getattr(fx_fs, 1, &d0), 0);
	cr_assert_eq(fs_readdir(fx_fs, 1, 0, last_cookie, &ck), 0);
	cr_assert_eq(fs_getattr(fx_fs, 1, &d1), 0);
	cr_assert(!ts_ge(&d1.mtime, &d1.atime));
	/* durable */
	fx_crash();
	cr_assert_eq(fs_getattr(fx_fs, f, &a0), 0);
	cr_assert(ts_eq(&a0.atime, &a2.atime));
}

Test(file, atime_noatime_and_strictatime)
{
	uint64_t f = mkf("f"), fe, ck;
	struct fs_attr a0, a1;
	char buf[64];
	size_t n;

	cr_assert_eq(fs_pwrite(fx_fs, f, "hello", 5, 0), 0);
	remount_flags(FS_O_NOATIME);
	cr_assert_eq(fs_getattr(fx_fs, f, &a0), 0);
	fe = fx_fences();
	cr_assert_eq(fs_pread(fx_fs, f, buf, sizeof(buf), 0, &n), 0);
	cr_assert_eq(fs_readdir(fx_fs, 1, 0, last_cookie, &ck), 0);
	cr_assert_eq(fx_fences() - fe, 0);
	cr_assert_eq(fs_getattr(fx_fs, f, &a1), 0);
	cr_assert(ts_eq(&a0.atime, &a1.atime));
	remount_flags(FS_O_STRICTATIME);
	for (int i = 0; i < 3; i++) {
		fe = fx_fences();
		cr_assert_eq(fs_pread(fx_fs, f, buf, sizeof(buf), 0, &n), 0);
		cr_assert_eq(fx_fences() - fe, 2, "strictatime: every read");
		cr_assert_eq(fs_getattr(fx_fs, f, &a1), 0);
		cr_assert(ts_ge(&a1.atime, &a0.atime));
		a0 = a1;
	}
	remount_flags(FS_O_RDONLY);
	fe = fx_fences();
	cr_assert_eq(fs_pread(fx_fs, f, buf, sizeof(buf), 0, &n), 0);
	cr_assert_eq(fx_fences() - fe, 0, "read-only: never");
}

/* Directories report their entry bytes as st_size and their log pages as
 * st_blocks; symlinks the block holding a long target. */
Test(file, directory_and_symlink_sizes)
{
	struct fs_attr d, a, l;
	char nm[32], target[PMFS_SYMLINK_MAX + 1];
	uint64_t s0;

	cr_assert_eq(fs_mkdir(fx_fs, &fx_ctx, 1, "d", 0755, &d), 0);
	cr_assert_gt(d.size, 0);
	cr_assert_gt(d.blocks, 0);
	s0 = d.size;
	for (int i = 0; i < 10; i++) {
		snprintf(nm, sizeof(nm), "entry-%d", i);
		cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, d.ino, nm, S_IFREG | 0644,
				      0, NULL),
			     0);
	}
	cr_assert_eq(fs_getattr(fx_fs, d.ino, &a), 0);
	cr_assert_gt(a.size, s0 + 10 * 7);
	cr_assert_eq(fs_unlink(fx_fs, d.ino, "entry-3"), 0);
	cr_assert_eq(fs_getattr(fx_fs, d.ino, &d), 0);
	cr_assert_lt(d.size, a.size);
	fx_crash();
	cr_assert_eq(fs_getattr(fx_fs, d.ino, &a), 0);
	cr_assert_eq(a.size, d.size);
	cr_assert_eq(fs_symlink(fx_fs, &fx_ctx, 1, "s", "short", &l), 0);
	cr_assert_eq(l.size, 5);
	cr_assert_eq(l.blocks, 0); /* inline in the log */
	memset(target, 't', sizeof(target) - 1);
	target[sizeof(target) - 1] = 0;
	cr_assert_eq(fs_symlink(fx_fs, &fx_ctx, 1, "l", target, &l), 0);
	cr_assert_eq(l.blocks, PMFS_BLOCK_SIZE / 512);
}

/* One write over free space fragmented into single blocks needs far more
 * than 256 allocator runs: it still commits atomically (no -EFBIG). */
Test(file, write_over_fragmented_space_many_runs)
{
	static uint8_t chunk[600 * 4096];
	uint64_t f = mkf("fill"), g = mkf("g"), off = 0;
	struct fs_attr a;
	int r;

	memset(chunk, 0x11, 4096);
	while ((r = fs_pwrite(fx_fs, f, chunk, 4096, off)) == 0)
		off += 4096;
	cr_assert_eq(r, -ENOSPC);
	cr_assert_gt(off, 1500 * 4096ull);
	for (uint64_t b = 0; b < 1400; b += 2)
		cr_assert_eq(fs_fallocate(fx_fs, f,
					  FALLOC_FL_PUNCH_HOLE |
						  FALLOC_FL_KEEP_SIZE,
					  b * 4096, 4096),
			     0);
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)(i * 7 + i / 4096);
	cr_assert_eq(fs_pwrite(fx_fs, g, chunk, sizeof(chunk), 0), 0);
	cr_assert_eq(fs_getattr(fx_fs, g, &a), 0);
	cr_assert_eq(a.blocks, 600 * 8);
	expect(g, 0, chunk, sizeof(chunk));
	fx_crash();
	expect(g, 0, chunk, sizeof(chunk));
}

/* Mode of ino now. */
static uint32_t mode_now(uint64_t ino)
{
	struct fs_attr at;

	cr_assert_eq(fs_getattr(fx_fs, ino, &at), 0);
	return at.mode & 07777;
}

/* FS_W_KILL_SUID / FS_SET_KILL_SUID: setuid goes, setgid only where the
 * group may execute; the mode change commits with the write (2 fences,
 * as a plain write) and survives a crash; without the flag nothing goes. */
Test(file, kill_suid_on_write_and_truncate)
{
	static const struct {
		uint32_t before, after;
	} cases[] = {
		{ 06775, 0775 }, { 06765, 02765 }, { 04755, 0755 },
		{ 02775, 0775 }, { 0755, 0755 },
	};
	struct fs_setattr sa = { .valid = FS_SET_MODE };
	struct fs_setattr tr = { .valid = FS_SET_SIZE | FS_SET_KILL_SUID };
	struct iovec v = { "data", 4 };
	struct fs_attr at;
	uint64_t f = mkf("f"), fences;
	size_t w;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sa.mode = cases[i].before;
		cr_assert_eq(fs_setattr(fx_fs, &fx_ctx, f, &sa, &at), 0);
		cr_assert_eq(fs_write(fx_fs, &fx_ctx, f, &v, 1, 0, 0, &w), 0);
		cr_expect_eq(mode_now(f), cases[i].before, "no flag, no change");
		fences = fx_fences();
		cr_assert_eq(fs_write(fx_fs, &fx_ctx, f, &v, 1, 4 * i,
				      FS_W_KILL_SUID, &w), 0);
		cr_expect_eq(fx_fences() - fences, 2, "one commit");
		cr_expect_eq(mode_now(f), cases[i].after, "write: %o -> %o",
			     cases[i].before, mode_now(f));
		cr_assert_eq(fs_setattr(fx_fs, &fx_ctx, f, &sa, &at), 0);
		tr.size = 4 * i + 4;
		cr_assert_eq(fs_setattr(fx_fs, &fx_ctx, f, &tr, &at), 0);
		cr_expect_eq(at.mode & 07777, cases[i].after,
			     "truncate: %o -> %o", cases[i].before,
			     at.mode & 07777);
	}
	sa.mode = 06775;
	cr_assert_eq(fs_setattr(fx_fs, &fx_ctx, f, &sa, &at), 0);
	cr_assert_eq(fs_write(fx_fs, &fx_ctx, f, &v, 1, 100, FS_W_KILL_SUID,
			      &w), 0);
	fx_crash();
	cr_expect_eq(mode_now(f), 0775, "after recovery: %o", mode_now(f));
	expect(f, 100, "data", 4);
}
