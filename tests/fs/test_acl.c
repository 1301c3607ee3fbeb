/*
 * test_acl.c - POSIX ACLs in the core (FS_O_ACL, fs_acl.c): validity, an
 * access ACL and the mode kept in step (set, chmod, an ACL the mode says
 * in full not stored), default ACLs only on directories, inheritance at
 * create and mkdir, the umask without a default ACL, and all of it across
 * a crash and a clean remount.
 */
#include "fsfix.h"

#include <stdio.h>

#include "fs/fs_int.h"

static void setup(void)
{
	fx_setup();
	cr_assert_eq(fs_unmount(fx_fs), 0);
	pmio_close(fx_p);
	fx_mount_flags(FS_O_ACL);
}

TestSuite(acl, .init = setup, .fini = fx_teardown);

#define U PMFS_ACL_USER_OBJ
#define UN PMFS_ACL_USER
#define G PMFS_ACL_GROUP_OBJ
#define GN PMFS_ACL_GROUP
#define M PMFS_ACL_MASK
#define O PMFS_ACL_OTHER

static const struct fs_ctx umask022 = { .uid = 1000, .gid = 1000, .umask = 022 };

/* user::rw- user:2000:rwx group::r-- mask::rwx other::--- */
static size_t named_acl(uint8_t *b)
{
	static const uint32_t e[][3] = {
		{ U, 6, 0 }, { UN, 7, 2000 }, { G, 4, 0 }, { M, 7, 0 }, { O, 0, 0 },
	};

	return tu_acl(b, e, 5);
}

static uint32_t mode_of(uint64_t ino)
{
	struct fs_attr a;

	cr_assert_eq(fs_getattr(fx_fs, ino, &a), 0);
	return a.mode & 07777;
}

/* The stored ACL called name of ino into b (NULL: must be absent). */
static size_t stored(uint64_t ino, const char *name, uint8_t *b)
{
	size_t len = 0;
	int r = fs_getxattr(fx_fs, ino, name, b, b ? 256 : 0, &len);

	if (!b) {
		cr_assert_eq(r, -ENODATA, "%s stored on inode %lu", name,
			     (unsigned long)ino);
		return 0;
	}
	cr_assert_eq(r, 0, "%s of inode %lu: %d", name, (unsigned long)ino, r);
	return len;
}

Test(acl, validity)
{
	uint8_t b[128];
	static const uint32_t no_mask[][3] = {
		{ U, 6, 0 }, { UN, 4, 5 }, { G, 4, 0 }, { O, 0, 0 },
	};
	static const uint32_t unsorted[][3] = {
		{ G, 4, 0 }, { U, 6, 0 }, { O, 0, 0 },
	};
	static const uint32_t dup_id[][3] = {
		{ U, 6, 0 }, { UN, 4, 5 }, { UN, 4, 5 }, { G, 4, 0 },
		{ M, 4, 0 }, { O, 0, 0 },
	};
	static const uint32_t no_other[][3] = { { U, 6, 0 }, { G, 4, 0 } };
	static const uint32_t bad_perm[][3] = {
		{ U, 8, 0 }, { G, 4, 0 }, { O, 0, 0 },
	};
	size_t n = named_acl(b);

	cr_assert_eq(fmt_acl_check(b, n, NULL, 0), 0);
	cr_assert_eq(fmt_acl_check(b, n - 1, NULL, 0), -EINVAL);
	cr_assert_eq(fmt_acl_check(b, 4, NULL, 0), -EINVAL);
	b[0] = 1; /* version */
	cr_assert_eq(fmt_acl_check(b, n, NULL, 0), -EINVAL);
	cr_assert_eq(fmt_acl_check(b, tu_acl(b, no_mask, 4), NULL, 0), -EINVAL);
	cr_assert_eq(fmt_acl_check(b, tu_acl(b, unsorted, 3), NULL, 0), -EINVAL);
	/* the kernel takes named ids in any order, repeats too */
	cr_assert_eq(fmt_acl_check(b, tu_acl(b, dup_id, 6), NULL, 0), 0);
	cr_assert_eq(fmt_acl_check(b, tu_acl(b, no_other, 2), NULL, 0), -EINVAL);
	cr_assert_eq(fmt_acl_check(b, tu_acl(b, bad_perm, 3), NULL, 0), -EINVAL);
}

/* An ACL is at most PMFS_ACL_MAX bytes (it stays inline): a larger one,
 * valid to the kernel, is E2BIG to setfacl and invalid on media. */
Test(acl, size_limit)
{
	size_t n = (PMFS_ACL_MAX - 4) / 8 + 1; /* one entry too many */
	uint32_t (*e)[3] = calloc(n, sizeof(*e));
	uint8_t *b = malloc(4 + 8 * n);
	struct fs_attr a;
	size_t len;
	uint64_t f;

	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "f", S_IFREG | 0644, 0, &a), 0);
	f = a.ino;
	e[0][0] = U;
	for (size_t i = 1; i < n - 3; i++) {
		e[i][0] = UN;
		e[i][2] = (uint32_t)(100 + i);
	}
	e[n - 3][0] = G;
	e[n - 2][0] = M;
	e[n - 1][0] = O;
	len = tu_acl(b, (const uint32_t(*)[3])e, n);
	cr_assert_eq(len, PMFS_ACL_MAX + 4);
	cr_assert_eq(fmt_acl_check(b, len, NULL, 0), -EINVAL);
	cr_assert_eq(fs_setxattr(fx_fs, f, FS_ACL_ACCESS, b, len, 0), -E2BIG);
	/* one entry fewer, named ids, mask and all: fits */
	e[n - 4][0] = G;
	e[n - 3][0] = M;
	e[n - 2][0] = O;
	len = tu_acl(b, (const uint32_t(*)[3])e, n - 1);
	cr_assert_eq(fs_setxattr(fx_fs, f, FS_ACL_ACCESS, b, len, 0), 0);
	free(e);
	free(b);
}

/* setfacl: the mode follows the ACL in the same commit; an ACL the mode
 * says in full is not stored (and removes one that was); chmod rewrites
 * the ACL; a default ACL only on a directory; a bad ACL is refused. */
Test(acl, access_acl_and_mode)
{
	uint8_t b[128], got[256];
	static const uint32_t plain[][3] = {
		{ U, 7, 0 }, { G, 5, 0 }, { O, 1, 0 },
	};
	struct fs_setattr sa = { .valid = FS_SET_MODE, .mode = 0751 };
	struct fs_attr a;
	size_t n = named_acl(b), gn;
	uint64_t f;

	cr_assert_eq(fs_mknod(fx_fs, &fx_ctx, 1, "f", S_IFREG | 0644, 0, &a), 0);
	f = a.ino;
	cr_assert_eq(fs_setxattr(fx_fs, f, FS_ACL_ACCESS, b, n, 0), 0);
	cr_assert_eq(mode_of(f), 0670, "mode %o", mode_of(f)); /* mask rwx */
	gn = stored(f, FS_ACL_ACCESS, got);
	cr_assert_eq(gn, n);
	cr_assert_eq(memcmp(got, b, n), 0);
	/* chmod: owner, mask, other entries take the new bits */
	cr_assert_eq(fs_setattr(fx_fs, &fx_ctx, f, &sa, &a), 0);
	stored(f, FS_ACL_ACCESS, got);
	{
		uint32_t m = 0;

		cr_assert(!fs_acl_to_mode(got, gn, &m));
		cr_assert_eq(m, 0751, "ACL after chmod says %o", m);
	}
	cr_assert_eq(got[4 + 2 * 8 + 2], 4, "group entry changed by chmod");
	/* across a crash and a clean remount */
	fx_crash();
	fs_unmount(fx_fs);
	pmio_close(fx_p);
	fx_mount_flags(FS_O_ACL);
	cr_assert_eq(mode_of(f), 0751);
	cr_assert_eq(stored(f, FS_ACL_ACCESS, got), n);
	/* an ACL of three entries is the mode: stored nowhere */
	cr_assert_eq(fs_setxattr(fx_fs, f, FS_ACL_ACCESS, b,
				 tu_acl(b, plain, 3), 0), 0);
	cr_assert_eq(mode_of(f), 0751);
	stored(f, FS_ACL_ACCESS, NULL);
	cr_assert_eq(fs_setxattr(fx_fs, f, FS_ACL_ACCESS, b, 6, 0), -EINVAL);
	cr_assert_eq(fs_setxattr(fx_fs, f, FS_ACL_DEFAULT, b,
				 tu_acl(b, plain, 3), 0), -EACCES);
	cr_assert_eq(fs_setxattr(fx_fs, 1, FS_ACL_DEFAULT, b, named_acl(b), 0),
		     0);
}

/* Inheritance: a directory's default ACL becomes a new file's access ACL
 * (masked by the create mode) and a new directory's access and default
 * ACLs; no umask then.  Without a default ACL the umask applies. */
Test(acl, inherit_or_umask)
{
	uint8_t b[128], got[256];
	struct fs_attr a;
	size_t n = named_acl(b);
	uint64_t d, f, sub;

	cr_assert_eq(fs_mkdir(fx_fs, &umask022, 1, "d", 0777, &a), 0);
	d = a.ino;
	cr_assert_eq(mode_of(d), 0755, "umask without a default ACL");
	stored(d, FS_ACL_ACCESS, NULL);
	cr_assert_eq(fs_mknod(fx_fs, &umask022, d, "plain", S_IFREG | 0666, 0,
			      &a), 0);
	cr_assert_eq(mode_of(a.ino), 0644);
	cr_assert_eq(fs_setxattr(fx_fs, d, FS_ACL_DEFAULT, b, n, 0), 0);
	cr_assert_eq(fs_mknod(fx_fs, &umask022, d, "f", S_IFREG | 0640, 0, &a),
		     0);
	f = a.ino;
	/* owner rw- & rw-, mask rwx & r-- (group bits of 0640), other 0 */
	cr_assert_eq(mode_of(f), 0640, "mode %o", mode_of(f));
	cr_assert_eq(stored(f, FS_ACL_ACCESS, got), n);
	{
		uint32_t m = 0;

		cr_assert(!fs_acl_to_mode(got, n, &m));
		cr_assert_eq(m, 0640);
	}
	stored(f, FS_ACL_DEFAULT, NULL);
	cr_assert_eq(fs_mkdir(fx_fs, &umask022, d, "sub", 0777, &a), 0);
	sub = a.ino;
	/* owner rwx & rw-, mask rwx & rwx, other rwx & ---; no umask */
	cr_assert_eq(mode_of(sub), 0670, "mode %o", mode_of(sub));
	cr_assert_eq(stored(sub, FS_ACL_DEFAULT, got), n);
	cr_assert_eq(memcmp(got, b, n), 0);
	cr_assert_eq(stored(sub, FS_ACL_ACCESS, got), n);
	/* symlinks take nothing */
	cr_assert_eq(fs_symlink(fx_fs, &umask022, d, "l", "f", &a), 0);
	stored(a.ino, FS_ACL_ACCESS, NULL);
	fx_crash();
	cr_assert_eq(stored(sub, FS_ACL_DEFAULT, got), n);
	cr_assert_eq(stored(f, FS_ACL_ACCESS, got), n);
	cr_assert_eq(mode_of(sub), 0670);
}

/* Without FS_O_ACL the names are plain xattrs: no mode change, no
 * inheritance, no umask (the kernel applied it). */
Test(acl, off_without_the_flag)
{
	uint8_t b[128];
	struct fs_attr a;
	size_t n = named_acl(b);

	fs_unmount(fx_fs);
	pmio_close(fx_p);
	fx_mount_flags(0);
	cr_assert_eq(fs_mknod(fx_fs, &umask022, 1, "f", S_IFREG | 0666, 0, &a),
		     0);
	cr_assert_eq(mode_of(a.ino), 0666);
	cr_assert_eq(fs_setxattr(fx_fs, a.ino, FS_ACL_ACCESS, b, n, 0), 0);
	cr_assert_eq(mode_of(a.ino), 0666);
}
