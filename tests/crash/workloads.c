/*
 * workloads.c - the crash harness's workloads (harness.h): every mutating
 * operation alone, on a common starting tree (with setuid/setgid cleared
 * by a write and by a truncation); operations at their limits
 * (in-place appends past EOF, ZERO_RANGE, long symlinks, near-limit
 * xattrs); and sequences: atomic replace, many files, log GC of a file
 * and of a directory, allocator reuse, journal reuse, deep renames and
 * directory exchanges, a crash during recovery, a crash during clean
 * unmount, open files and directories removed under lookup reference
 * counting, relatime, and two threads committing at once.  Linked, with
 * harness.c, into the crash suites and crashtest (crash.mk).
 *
 * Starting tree (base_setup):
 *   /d1/f      6000 bytes, xattr user.a = "va"
 *   /d1/g      100 bytes
 *   /d1/ld     200 bytes, second name /d2/ld2
 *   /d1/sparse size 64 KiB, no data
 *   /d1/sub/   with /d1/sub/x (100 bytes)
 *   /d2/h      3000 bytes
 *   /e/        empty
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>

#include "format/format.h"
#include "harness.h"
#include "pmemio/inject.h"
#include "testutil.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* Run a setup step; return its error with a message. */
#define WL_TRY(call)                                                           \
	do {                                                                   \
		int wl_e_ = (call);                                            \
		if (wl_e_) {                                                   \
			fprintf(stderr, "crash: setup: %s: %d\n", #call,       \
				wl_e_);                                        \
			return wl_e_;                                          \
		}                                                              \
	} while (0)

/* Inode of path or return -ENOENT from the workload. */
#define WL_INO(var, fs, path)                                                  \
	uint64_t var = ch_ino((fs), (path));                                   \
	if (!(var))                                                            \
		return -ENOENT

static int base_setup(struct ch_run *r, struct fs *fs)
{
	struct fs_setattr sa = { .valid = FS_SET_SIZE, .size = 65536 };
	struct fs_attr a;

	(void)r;
	WL_TRY(ch_mkdir(fs, "/d1"));
	WL_TRY(ch_mkdir(fs, "/d2"));
	WL_TRY(ch_mkdir(fs, "/e"));
	WL_TRY(ch_mkdir(fs, "/d1/sub"));
	WL_TRY(ch_mkfile(fs, "/d1/sub/x", 100, 9));
	WL_TRY(ch_mkfile(fs, "/d1/f", 6000, 1));
	WL_TRY(fs_setxattr(fs, ch_ino(fs, "/d1/f"), "user.a", "va", 2, 0));
	WL_TRY(ch_mkfile(fs, "/d1/g", 100, 2));
	WL_TRY(ch_mkfile(fs, "/d1/ld", 200, 3));
	WL_TRY(fs_link(fs, ch_ino(fs, "/d1/ld"), ch_ino(fs, "/d2"), "ld2", &a));
	WL_TRY(ch_mkfile(fs, "/d1/sparse", 0, 0));
	WL_TRY(fs_setattr(fs, &ch_ctx, ch_ino(fs, "/d1/sparse"), &sa, &a));
	WL_TRY(ch_mkfile(fs, "/d2/h", 3000, 4));
	return 0;
}

/* A write of len pattern bytes at off. */
static int wl_write(struct fs *fs, uint64_t ino, size_t len, uint64_t off,
		    unsigned seed)
{
	void *buf = malloc(len);
	int err;

	if (!buf)
		return -ENOMEM;
	ch_pattern(buf, len, seed, off);
	err = fs_pwrite(fs, ino, buf, len, off);
	free(buf);
	return err;
}

static int wl_setattr(struct fs *fs, uint64_t ino, struct fs_setattr *sa)
{
	struct fs_attr a;

	return fs_setattr(fs, &ch_ctx, ino, sa, &a);
}

/* ---- single operations -------------------------------------------------- */

static int w_create(struct ch_run *r, struct fs *fs)
{
	struct fs_attr a;
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "create /d1/new",
	      fs_mknod(fs, &ch_ctx, d1, "new", S_IFREG | 0644, 0, &a));
	return 0;
}

static int w_mknod(struct ch_run *r, struct fs *fs)
{
	struct fs_attr a;
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "mkfifo /d1/fifo",
	      fs_mknod(fs, &ch_ctx, d1, "fifo", S_IFIFO | 0600, 0, &a));
	CH_OP(r, "mknod /d1/chr",
	      fs_mknod(fs, &ch_ctx, d1, "chr", S_IFCHR | 0600,
		       makedev(1, 3), &a));
	return 0;
}

static int w_mkdir(struct ch_run *r, struct fs *fs)
{
	struct fs_attr a;
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "mkdir /d1/nd", fs_mkdir(fs, &ch_ctx, d1, "nd", 0755, &a));
	return 0;
}

static int w_symlink(struct ch_run *r, struct fs *fs)
{
	struct fs_attr a;
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "symlink /d1/sl",
	      fs_symlink(fs, &ch_ctx, d1, "sl", "../d2/h/some/target", &a));
	return 0;
}

static int w_link(struct ch_run *r, struct fs *fs)
{
	struct fs_attr a;
	WL_INO(f, fs, "/d1/f");
	WL_INO(d2, fs, "/d2");

	CH_OP(r, "link /d1/f /d2/f2", fs_link(fs, f, d2, "f2", &a));
	return 0;
}

static int w_unlink_last(struct ch_run *r, struct fs *fs)
{
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "unlink /d1/f (last link)", fs_unlink(fs, d1, "f"));
	return 0;
}

static int w_unlink_linked(struct ch_run *r, struct fs *fs)
{
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "unlink /d1/ld (other link left)", fs_unlink(fs, d1, "ld"));
	return 0;
}

static int w_rmdir(struct ch_run *r, struct fs *fs)
{
	CH_OP(r, "rmdir /e", fs_rmdir(fs, 1, "e"));
	return 0;
}

static int w_rename_same(struct ch_run *r, struct fs *fs)
{
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "rename /d1/f /d1/f.new",
	      fs_rename(fs, d1, "f", d1, "f.new", 0));
	return 0;
}

static int w_rename_across(struct ch_run *r, struct fs *fs)
{
	WL_INO(d1, fs, "/d1");
	WL_INO(d2, fs, "/d2");

	CH_OP(r, "rename /d1/f /d2/f", fs_rename(fs, d1, "f", d2, "f", 0));
	return 0;
}

static int w_rename_over_file(struct ch_run *r, struct fs *fs)
{
	WL_INO(d1, fs, "/d1");
	WL_INO(d2, fs, "/d2");

	CH_OP(r, "rename /d1/f over /d2/h", fs_rename(fs, d1, "f", d2, "h", 0));
	return 0;
}

static int w_rename_over_dir(struct ch_run *r, struct fs *fs)
{
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "rename /d1/sub over empty /e",
	      fs_rename(fs, d1, "sub", 1, "e", 0));
	return 0;
}

static int w_rename_noreplace(struct ch_run *r, struct fs *fs)
{
	WL_INO(d1, fs, "/d1");
	WL_INO(d2, fs, "/d2");

	CH_OP(r, "rename NOREPLACE /d1/g /d2/g",
	      fs_rename(fs, d1, "g", d2, "g", RENAME_NOREPLACE));
	return 0;
}

static int w_rename_exchange(struct ch_run *r, struct fs *fs)
{
	WL_INO(d1, fs, "/d1");
	WL_INO(d2, fs, "/d2");

	CH_OP(r, "rename EXCHANGE /d1/f /d2/h",
	      fs_rename(fs, d1, "f", d2, "h", RENAME_EXCHANGE));
	return 0;
}

/* overlayfs's upper layer: the old name becomes a whiteout (a new inode
 * in the rename's commit); then a rename over that whiteout frees it and
 * makes another. */
static int w_rename_whiteout(struct ch_run *r, struct fs *fs)
{
	WL_INO(d1, fs, "/d1");
	WL_INO(d2, fs, "/d2");

	CH_OP(r, "rename WHITEOUT /d1/f /d2/f",
	      fs_rename_ctx(fs, &ch_ctx, d1, "f", d2, "f", RENAME_WHITEOUT));
	CH_OP(r, "rename WHITEOUT /d1/g over whiteout /d1/f",
	      fs_rename_ctx(fs, &ch_ctx, d1, "g", d1, "f", RENAME_WHITEOUT));
	return 0;
}

static int w_rename_exchange_dir(struct ch_run *r, struct fs *fs)
{
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "rename EXCHANGE dir /d1/sub with file /d2/h",
	      fs_rename(fs, d1, "sub", ch_ino(fs, "/d2"), "h",
			RENAME_EXCHANGE));
	return 0;
}

static int w_rename_dir(struct ch_run *r, struct fs *fs)
{
	WL_INO(d1, fs, "/d1");
	WL_INO(d2, fs, "/d2");

	CH_OP(r, "rename dir /d1/sub /d2/sub",
	      fs_rename(fs, d1, "sub", d2, "sub", 0));
	return 0;
}

static int w_write_overwrite(struct ch_run *r, struct fs *fs)
{
	WL_INO(f, fs, "/d1/f");

	CH_OP(r, "overwrite 4096 at 1000 of /d1/f",
	      wl_write(fs, f, 4096, 1000, 21));
	return 0;
}

static int w_write_append(struct ch_run *r, struct fs *fs)
{
	WL_INO(f, fs, "/d1/f");

	CH_OP(r, "append 5000 to /d1/f", wl_write(fs, f, 5000, 6000, 22));
	return 0;
}

static int w_write_hole(struct ch_run *r, struct fs *fs)
{
	WL_INO(s, fs, "/d1/sparse");

	CH_OP(r, "write 4096 into the hole at 16384 of /d1/sparse",
	      wl_write(fs, s, 4096, 16384, 23));
	return 0;
}

static int w_truncate_down(struct ch_run *r, struct fs *fs)
{
	struct fs_setattr sa = { .valid = FS_SET_SIZE, .size = 1000 };
	WL_INO(f, fs, "/d1/f");

	CH_OP(r, "truncate /d1/f to 1000", wl_setattr(fs, f, &sa));
	return 0;
}

static int w_truncate_up(struct ch_run *r, struct fs *fs)
{
	struct fs_setattr sa = { .valid = FS_SET_SIZE, .size = 20000 };
	WL_INO(f, fs, "/d1/f");

	CH_OP(r, "truncate /d1/f up to 20000", wl_setattr(fs, f, &sa));
	return 0;
}

static int w_fallocate(struct ch_run *r, struct fs *fs)
{
	WL_INO(g, fs, "/d1/g");
	WL_INO(f, fs, "/d1/f");

	CH_OP(r, "fallocate /d1/g 0..16384", fs_fallocate(fs, g, 0, 0, 16384));
	CH_OP(r, "fallocate KEEP_SIZE /d1/f 8192..16384",
	      fs_fallocate(fs, f, FALLOC_FL_KEEP_SIZE, 8192, 8192));
	return 0;
}

static int w_punch_hole(struct ch_run *r, struct fs *fs)
{
	WL_INO(f, fs, "/d1/f");

	CH_OP(r, "punch hole /d1/f 0..4096",
	      fs_fallocate(fs, f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			   0, 4096));
	return 0;
}

static int w_chmod(struct ch_run *r, struct fs *fs)
{
	struct fs_setattr sa = { .valid = FS_SET_MODE, .mode = 0600 };
	WL_INO(f, fs, "/d1/f");

	CH_OP(r, "chmod 600 /d1/f", wl_setattr(fs, f, &sa));
	return 0;
}

static int w_chown(struct ch_run *r, struct fs *fs)
{
	struct fs_setattr sa = { .valid = FS_SET_UID | FS_SET_GID,
				 .uid = 4321, .gid = 8765 };
	WL_INO(f, fs, "/d1/f");

	CH_OP(r, "chown 4321:8765 /d1/f", wl_setattr(fs, f, &sa));
	return 0;
}

/* A write of len pattern bytes at off that also clears setuid/setgid
 * (FS_W_KILL_SUID: one commit for mode and data). */
/* fs_write of len pattern bytes at off with fs_write flags. */
static int wl_write_flags(struct fs *fs, uint64_t ino, size_t len,
			  uint64_t off, unsigned seed, unsigned flags)
{
	struct iovec v;
	size_t w;
	int err;

	v.iov_base = malloc(len);
	v.iov_len = len;
	if (!v.iov_base)
		return -ENOMEM;
	ch_pattern(v.iov_base, len, seed, off);
	err = fs_write(fs, &ch_ctx, ino, &v, 1, off, flags, &w);
	free(v.iov_base);
	return err;
}

static int wl_write_kill(struct fs *fs, uint64_t ino, size_t len,
			 uint64_t off, unsigned seed)
{
	return wl_write_flags(fs, ino, len, off, seed, FS_W_KILL_SUID);
}

/* Writes of the kernel's writeback cache (mount.pmfs -o writeback): the
 * times stay as they were, the data and size change. */
static int w_write_keep_times(struct ch_run *r, struct fs *fs)
{
	WL_INO(f, fs, "/d1/f");

	CH_OP(r, "overwrite 4096 at 1000 of /d1/f keeping the times",
	      wl_write_flags(fs, f, 4096, 1000, 26, FS_W_KEEP_TIMES));
	CH_OP(r, "append 3000 to /d1/f keeping the times",
	      wl_write_flags(fs, f, 3000, 6000, 27, FS_W_KEEP_TIMES));
	return 0;
}

/* Clearing setuid/setgid with a write (overwrite and append) and with a
 * truncation, as the FUSE glue does under HANDLE_KILLPRIV_V2. */
static int w_kill_suid(struct ch_run *r, struct fs *fs)
{
	struct fs_setattr sx = { .valid = FS_SET_MODE, .mode = 06775 };
	struct fs_setattr tr = { .valid = FS_SET_SIZE | FS_SET_KILL_SUID,
				 .size = 3000 };
	WL_INO(f, fs, "/d1/f");
	WL_INO(h, fs, "/d2/h");

	CH_OP(r, "chmod 6775 /d1/f", wl_setattr(fs, f, &sx));
	CH_OP(r, "overwrite 4096 at 1000 of /d1/f, clearing setuid/setgid",
	      wl_write_kill(fs, f, 4096, 1000, 24));
	CH_OP(r, "chmod 6775 /d1/f again", wl_setattr(fs, f, &sx));
	CH_OP(r, "append 3000 to /d1/f, clearing setuid/setgid",
	      wl_write_kill(fs, f, 3000, 6000, 25));
	CH_OP(r, "chmod 6775 /d2/h", wl_setattr(fs, h, &sx));
	CH_OP(r, "truncate /d2/h to 3000, clearing setuid/setgid",
	      wl_setattr(fs, h, &tr));
	return 0;
}

static int w_utimens(struct ch_run *r, struct fs *fs)
{
	struct fs_setattr sa = { .valid = FS_SET_ATIME | FS_SET_MTIME,
				 .atime = { 1000000, 5 },
				 .mtime = { 2000000, 7 } };
	WL_INO(f, fs, "/d1/f");

	CH_OP(r, "utimens /d1/f", wl_setattr(fs, f, &sa));
	return 0;
}

static int w_setxattr(struct ch_run *r, struct fs *fs)
{
	WL_INO(f, fs, "/d1/f");

	CH_OP(r, "setxattr user.b /d1/f",
	      fs_setxattr(fs, f, "user.b", "a value of some length", 22, 0));
	CH_OP(r, "setxattr REPLACE user.a /d1/f",
	      fs_setxattr(fs, f, "user.a", "replaced", 8, XATTR_REPLACE));
	return 0;
}

static int w_removexattr(struct ch_run *r, struct fs *fs)
{
	WL_INO(f, fs, "/d1/f");

	CH_OP(r, "removexattr user.a /d1/f", fs_removexattr(fs, f, "user.a"));
	return 0;
}

/* ---- sequences ---------------------------------------------------------- */

/* Editors and databases: write a temp file, fsync, rename over. */
static int w_atomic_replace(struct ch_run *r, struct fs *fs)
{
	struct fs_attr a;
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "create /d1/f.tmp",
	      fs_mknod(fs, &ch_ctx, d1, "f.tmp", S_IFREG | 0644, 0, &a));
	CH_OP(r, "write 8192 to /d1/f.tmp", wl_write(fs, a.ino, 8192, 0, 31));
	/* fsync: nothing to do, every call is synchronous */
	CH_OP(r, "rename /d1/f.tmp over /d1/f",
	      fs_rename(fs, d1, "f.tmp", d1, "f", 0));
	return 0;
}

static int w_many_files(struct ch_run *r, struct fs *fs)
{
	struct fs_attr a;
	char name[32], what[64];
	WL_INO(d2, fs, "/d2");

	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "file-%02d", i);
		snprintf(what, sizeof(what), "create /d2/%s", name);
		CH_OP(r, what,
		      fs_mknod(fs, &ch_ctx, d2, name, S_IFREG | 0644, 0, &a));
		if (i % 8 == 7) {
			snprintf(what, sizeof(what), "unlink /d2/file-%02d",
				 i - 4);
			snprintf(name, sizeof(name), "file-%02d", i - 4);
			CH_OP(r, what, fs_unlink(fs, d2, name));
		}
	}
	return 0;
}

/* Grow one file's log with small changes, then compact it. */
static int gc_setup(struct ch_run *r, struct fs *fs)
{
	struct fs_setattr sa = { .valid = FS_SET_MODE };
	uint64_t f;

	WL_TRY(base_setup(r, fs));
	f = ch_ino(fs, "/d1/g");
	for (int i = 0; i < 600; i++) {
		sa.mode = (i & 1) ? 0600 : 0644;
		WL_TRY(wl_setattr(fs, f, &sa));
	}
	return 0;
}

static int w_gc(struct ch_run *r, struct fs *fs)
{
	struct fs_setattr sa = { .valid = FS_SET_MODE, .mode = 0640 };
	WL_INO(g, fs, "/d1/g");

	CH_OP(r, "log gc of /d1/g", fs_gc(fs, g));
	CH_OP(r, "chmod 640 /d1/g after gc", wl_setattr(fs, g, &sa));
	CH_OP(r, "append to /d1/g after gc", wl_write(fs, g, 3000, 100, 41));
	return 0;
}

/* Delete a file with data, then new data reuses its blocks. */
static int w_alloc_reuse(struct ch_run *r, struct fs *fs)
{
	struct fs_attr a;
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "unlink /d1/f", fs_unlink(fs, d1, "f"));
	CH_OP(r, "create /d1/n",
	      fs_mknod(fs, &ch_ctx, d1, "n", S_IFREG | 0644, 0, &a));
	CH_OP(r, "write 12288 to /d1/n", wl_write(fs, a.ino, 12288, 0, 51));
	CH_OP(r, "truncate /d2/h to 0",
	      wl_setattr(fs, ch_ino(fs, "/d2/h"),
			 &(struct fs_setattr){ .valid = FS_SET_SIZE }));
	CH_OP(r, "write 8192 to /d1/g", wl_write(fs, ch_ino(fs, "/d1/g"),
						 8192, 0, 52));
	return 0;
}

/* Many journaled operations in a row: each lane's journal is reused. */
static int w_journal_wrap(struct ch_run *r, struct fs *fs)
{
	WL_INO(d1, fs, "/d1");
	WL_INO(d2, fs, "/d2");

	for (int i = 0; i < 24; i++) {
		if (i & 1)
			CH_OP(r, "rename /d2/g /d1/g",
			      fs_rename(fs, d2, "g", d1, "g", 0));
		else
			CH_OP(r, "rename /d1/g /d2/g",
			      fs_rename(fs, d1, "g", d2, "g", 0));
	}
	return 0;
}

/* Pre: an exchange cut after its journal commit; the recorded mount
 * replays it; a crash during that recovery must give the same result. */
static int pre_exchange(struct ch_run *r, struct fs *fs)
{
	return w_rename_exchange(r, fs);
}

static int w_recovery(struct ch_run *r, struct fs *fs)
{
	WL_INO(g, fs, "/d1/g");

	CH_OP(r, "write to /d1/g after recovery", wl_write(fs, g, 100, 0, 61));
	return 0;
}

static int pre_mkdir_write(struct ch_run *r, struct fs *fs)
{
	struct fs_attr a;
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "write /d1/f", wl_write(fs, ch_ino(fs, "/d1/f"), 4096, 0, 62));
	CH_OP(r, "mkdir /d1/m", fs_mkdir(fs, &ch_ctx, d1, "m", 0755, &a));
	return 0;
}

static int w_unmount(struct ch_run *r, struct fs *fs)
{
	struct fs_attr a;
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "create /d1/u",
	      fs_mknod(fs, &ch_ctx, d1, "u", S_IFREG | 0644, 0, &a));
	CH_OP(r, "unlink /d1/g", fs_unlink(fs, d1, "g"));
	return 0; /* the harness then unmounts (CH_W_UNMOUNT) */
}

/* ---- POSIX ACLs (FS_O_ACL: every workload's mounts have it) ---------- */

/* user::rw- user:2000:rwx group::r-- mask::rwx other::--- */
static size_t wl_acl(uint8_t *b)
{
	static const uint32_t e[][3] = {
		{ PMFS_ACL_USER_OBJ, 6, 0 },  { PMFS_ACL_USER, 7, 2000 },
		{ PMFS_ACL_GROUP_OBJ, 4, 0 }, { PMFS_ACL_MASK, 7, 0 },
		{ PMFS_ACL_OTHER, 0, 0 },
	};

	return tu_acl(b, e, 5);
}

/* /d2 with a default ACL, for inheritance. */
static int acl_setup(struct ch_run *r, struct fs *fs)
{
	uint8_t b[64];

	WL_TRY(base_setup(r, fs));
	return fs_setxattr(fs, ch_ino(fs, "/d2"), "system.posix_acl_default",
			   b, wl_acl(b), 0);
}

/*
 * setfacl and chmod keep the access ACL and the mode in one commit; an
 * ACL the mode says in full removes the stored one; new inodes in a
 * directory with a default ACL take their ACLs in the create's commit.
 */
static int w_acl(struct ch_run *r, struct fs *fs)
{
	static const uint32_t plain[][3] = {
		{ PMFS_ACL_USER_OBJ, 7, 0 },
		{ PMFS_ACL_GROUP_OBJ, 5, 0 },
		{ PMFS_ACL_OTHER, 0, 0 },
	};
	struct fs_setattr sa = { .valid = FS_SET_MODE, .mode = 0604 };
	struct fs_attr a;
	uint8_t b[64];
	WL_INO(f, fs, "/d1/f");
	WL_INO(d2, fs, "/d2");

	CH_OP(r, "setfacl access /d1/f (mode 0670)",
	      fs_setxattr(fs, f, "system.posix_acl_access", b, wl_acl(b), 0));
	CH_OP(r, "chmod 0604 /d1/f (ACL rewritten)",
	      fs_setattr(fs, &ch_ctx, f, &sa, &a));
	CH_OP(r, "setfacl a plain ACL on /d1/f (stored one removed)",
	      fs_setxattr(fs, f, "system.posix_acl_access", b,
			  tu_acl(b, plain, 3), 0));
	CH_OP(r, "mkdir /d2/acl (inherits access and default ACLs)",
	      fs_mkdir(fs, &ch_ctx, d2, "acl", 0777, &a));
	CH_OP(r, "create /d2/acl/f (inherits the access ACL)",
	      fs_mknod(fs, &ch_ctx, a.ino, "f", S_IFREG | 0666, 0, &a));
	return 0;
}

/*
 * mount -o remount,ro and back: the clean state written (allocator chain,
 * counters, clean word) with changes before and after; a crash anywhere
 * leaves an image that is clean with a valid chain, or recovers, and
 * every change before the switch is there.
 */
static int w_remount(struct ch_run *r, struct fs *fs)
{
	struct fs_attr a;
	WL_INO(d1, fs, "/d1");

	CH_OP(r, "create /d1/r",
	      fs_mknod(fs, &ch_ctx, d1, "r", S_IFREG | 0644, 0, &a));
	CH_OP(r, "remount read-only", fs_remount(fs, true, NULL, 0));
	CH_OP(r, "remount read-write", fs_remount(fs, false, NULL, 0));
	CH_OP(r, "write 4096 at 0 of /d1/r", wl_write(fs, a.ino, 4096, 0, 31));
	CH_OP(r, "unlink /d1/g", fs_unlink(fs, d1, "g"));
	CH_OP(r, "remount read-only again", fs_remount(fs, true, NULL, 0));
	return 0;
}

/* ---- log GC of dead writes ---------------------------------------------- */

/* A file log full of WRITE entries (overwrites), then compacted. */
static int gc_writes_setup(struct ch_run *r, struct fs *fs)
{
	uint64_t w;

	WL_TRY(base_setup(r, fs));
	WL_TRY(ch_mkfile(fs, "/d1/w", 4096, 70));
	w = ch_ino(fs, "/d1/w");
	for (unsigned i = 0; i < 120; i++)
		WL_TRY(wl_write(fs, w, 4096, 0, 71 + i % 20));
	return 0;
}

static int w_gc_writes(struct ch_run *r, struct fs *fs)
{
	WL_INO(w, fs, "/d1/w");

	CH_OP(r, "log gc of /d1/w (dead WRITE entries)", fs_gc(fs, w));
	CH_OP(r, "overwrite /d1/w after gc", wl_write(fs, w, 4096, 0, 91));
	CH_OP(r, "append to /d1/w after gc", wl_write(fs, w, 5000, 4096, 92));
	return 0;
}

/* ---- the in-place append past EOF --------------------------------------- */

/* Fail unless [off, off+len) of ino reads the pattern of seed (or zeros
 * when seed is 0): the live file, not a crash image. */
static int wl_expect(struct fs *fs, uint64_t ino, uint64_t off, size_t len,
		     unsigned seed)
{
	uint8_t *want = calloc(1, len), *got = malloc(len);
	size_t nread = 0;
	int err = want && got ? 0 : -ENOMEM;

	if (!err && seed)
		ch_pattern(want, len, seed, off);
	if (!err)
		err = fs_pread(fs, ino, got, len, off, &nread);
	if (!err && (nread != len || memcmp(want, got, len))) {
		fprintf(stderr, "crash: live file %" PRIu64 " [%" PRIu64
			", +%zu) does not read back\n", ino, off, len);
		err = -EIO;
	}
	free(want);
	free(got);
	return err;
}

/* Appends that go in place into the EOF block (bytes past the committed
 * size are invisible until the entry that grows it commits), to its end,
 * past it, and into a block whose tail holds old data after a truncate. */
static int w_append_in_place(struct ch_run *r, struct fs *fs)
{
	struct fs_setattr sa = { .valid = FS_SET_SIZE, .size = 100 };
	WL_INO(g, fs, "/d1/g");
	WL_INO(f, fs, "/d1/f");

	CH_OP(r, "append 100 at 100 of /d1/g (in the EOF block)",
	      wl_write(fs, g, 100, 100, 101));
	CH_OP(r, "append 3896 at 200 of /d1/g (to the block's end)",
	      wl_write(fs, g, 3896, 200, 102));
	CH_OP(r, "append 1 at 4096 of /d1/g (a new block)",
	      wl_write(fs, g, 1, 4096, 103));
	CH_OP(r, "write 300 at 4000 of /d1/g (overwrite and append)",
	      wl_write(fs, g, 300, 4000, 104));
	CH_OP(r, "truncate /d1/f to 100", wl_setattr(fs, f, &sa));
	CH_OP(r, "append 50 at 200 of /d1/f (gap over old data)",
	      wl_write(fs, f, 50, 200, 105));
	CH_OP(r, "/d1/f: the gap reads zeros", wl_expect(fs, f, 100, 100, 0));
	CH_OP(r, "append 4000 at 250 of /d1/f",
	      wl_write(fs, f, 4000, 250, 106));
	return 0;
}

/* ---- fallocate ZERO_RANGE ----------------------------------------------- */

static int w_zero_range(struct ch_run *r, struct fs *fs)
{
	WL_INO(f, fs, "/d1/f");
	WL_INO(h, fs, "/d2/h");

	CH_OP(r, "ZERO_RANGE /d1/f 1000..5000 (partial blocks)",
	      fs_fallocate(fs, f, FALLOC_FL_ZERO_RANGE, 1000, 4000));
	CH_OP(r, "ZERO_RANGE /d1/f 0..4096 (a whole block)",
	      fs_fallocate(fs, f, FALLOC_FL_ZERO_RANGE, 0, 4096));
	CH_OP(r, "ZERO_RANGE /d1/f 5000..16384 (past EOF: grows)",
	      fs_fallocate(fs, f, FALLOC_FL_ZERO_RANGE, 5000, 11384));
	CH_OP(r, "ZERO_RANGE|KEEP_SIZE /d2/h 2000..12288",
	      fs_fallocate(fs, h, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
			   2000, 10288));
	CH_OP(r, "write 100 at 6000 of /d2/h (into the kept blocks)",
	      wl_write(fs, h, 100, 6000, 111));
	return 0;
}

/* ---- GC of a directory log ---------------------------------------------- */

/* /gd: 60 names created, then all but the first ten removed in order, so
 * the newest entry is gone; the log stays under the size at which the
 * background GC would compact it during setup. */
static int gc_dir_setup(struct ch_run *r, struct fs *fs)
{
	char path[32];
	uint64_t gd, pages = 0;

	WL_TRY(base_setup(r, fs));
	WL_TRY(ch_mkdir(fs, "/gd"));
	WL_TRY(ch_mkdir(fs, "/gd/sub"));
	for (int i = 0; i < 60; i++) {
		snprintf(path, sizeof(path), "/gd/n%02d", i);
		WL_TRY(ch_mkfile(fs, path, (size_t)i * 10, 120 + i));
	}
	gd = ch_ino(fs, "/gd");
	for (int i = 10; i < 60; i++) {
		snprintf(path, sizeof(path), "n%02d", i);
		WL_TRY(fs_unlink(fs, gd, path));
	}
	WL_TRY(fs_log_pages(fs, gd, &pages));
	if (pages >= 4) {
		fprintf(stderr, "crash: setup: /gd has %" PRIu64 " log pages: "
			"the background GC may have run\n", pages);
		return -EFBIG;
	}
	return 0;
}

static int w_gc_dir(struct ch_run *r, struct fs *fs)
{
	struct fs_attr a;
	WL_INO(gd, fs, "/gd");

	CH_OP(r, "log gc of /gd (its newest entry removed)", fs_gc(fs, gd));
	CH_OP(r, "create /gd/after-gc",
	      fs_mknod(fs, &ch_ctx, gd, "after-gc", S_IFREG | 0644, 0, &a));
	CH_OP(r, "unlink /gd/n00", fs_unlink(fs, gd, "n00"));
	CH_OP(r, "rmdir /gd/sub", fs_rmdir(fs, gd, "sub"));
	CH_OP(r, "log gc of /gd again", fs_gc(fs, gd));
	return 0;
}

/* ---- long symlinks ------------------------------------------------------ */

/* A symlink whose target is len bytes of a path-like pattern. */
static int wl_symlink(struct fs *fs, uint64_t dir, const char *name,
		      size_t len)
{
	struct fs_attr a;
	char *t = malloc(len + 1);
	int err;

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		t[i] = i % 16 == 15 ? '/' : (char)('a' + (i * 7 + len) % 26);
	t[len] = 0;
	err = fs_symlink(fs, &ch_ctx, dir, name, t, &a);
	free(t);
	return err;
}

/* Targets around the largest that fits in the log entry and up to
 * PMFS_SYMLINK_MAX (out of line, in a block of their own). */
static int w_symlink_long(struct ch_run *r, struct fs *fs)
{
	const size_t inl = PMFS_SYMLINK_INLINE_MAX;
	WL_INO(d1, fs, "/d1");
	WL_INO(d2, fs, "/d2");

	CH_OP(r, "symlink /d1/s-inline (largest inline target)",
	      wl_symlink(fs, d1, "s-inline", inl));
	CH_OP(r, "symlink /d1/s-block (smallest out-of-line target)",
	      wl_symlink(fs, d1, "s-block", inl + 1));
	CH_OP(r, "symlink /d2/s-max (PMFS_SYMLINK_MAX)",
	      wl_symlink(fs, d2, "s-max", PMFS_SYMLINK_MAX));
	CH_OP(r, "symlink of PMFS_SYMLINK_MAX + 1 refused",
	      wl_symlink(fs, d2, "s-over", PMFS_SYMLINK_MAX + 1) ==
			      -ENAMETOOLONG
		      ? 0
		      : -EIO);
	CH_OP(r, "log gc of /d2/s-max", fs_gc(fs, ch_ino(fs, "/d2/s-max")));
	CH_OP(r, "rename /d1/s-block over /d2/s-max",
	      fs_rename(fs, d1, "s-block", d2, "s-max", 0));
	CH_OP(r, "unlink /d1/s-inline", fs_unlink(fs, d1, "s-inline"));
	CH_OP(r, "link /d2/s-max /d1/s-link",
	      fs_link(fs, ch_ino(fs, "/d2/s-max"), d1, "s-link",
		      &(struct fs_attr){ 0 }));
	CH_OP(r, "unlink /d2/s-max (one link left)",
	      fs_unlink(fs, d2, "s-max"));
	return 0;
}

/* ---- near-limit xattrs -------------------------------------------------- */

/* "user." and a pattern up to len bytes in all, NUL-terminated. */
static void wl_xname(char *buf, size_t len, char tag)
{
	memcpy(buf, "user.", 5);
	for (size_t i = 5; i < len; i++)
		buf[i] = i == 5 ? tag : (char)('a' + i % 26);
	buf[len] = 0;
}

static int wl_setxattr(struct fs *fs, uint64_t ino, const char *name,
		       size_t vlen, unsigned seed, int flags)
{
	void *v = malloc(vlen ? vlen : 1);
	int err;

	if (!v)
		return -ENOMEM;
	ch_pattern(v, vlen, seed, 0);
	err = fs_setxattr(fs, ino, name, v, vlen, flags);
	free(v);
	return err;
}

/* Names of PMFS_XATTR_NAME_MAX bytes with values of
 * PMFS_XATTR_INLINE_MAX and just under (one log entry each, about a page),
 * replaced, removed, on a file and on a directory. */
static int w_xattr_limits(struct ch_run *r, struct fs *fs)
{
	char a[PMFS_XATTR_NAME_MAX + 2], b[PMFS_XATTR_NAME_MAX + 2];
	char c[PMFS_XATTR_NAME_MAX + 2];
	WL_INO(f, fs, "/d1/f");
	WL_INO(d2, fs, "/d2");

	wl_xname(a, PMFS_XATTR_NAME_MAX, 'A');
	wl_xname(b, PMFS_XATTR_NAME_MAX, 'B');
	wl_xname(c, PMFS_XATTR_NAME_MAX + 1, 'C');
	CH_OP(r, "setxattr /d1/f name 255, value PMFS_XATTR_INLINE_MAX",
	      wl_setxattr(fs, f, a, PMFS_XATTR_INLINE_MAX, 131, XATTR_CREATE));
	CH_OP(r, "setxattr /d1/f name 255, value PMFS_XATTR_INLINE_MAX - 1",
	      wl_setxattr(fs, f, b, PMFS_XATTR_INLINE_MAX - 1, 132, 0));
	CH_OP(r, "setxattr value PMFS_XATTR_VALUE_MAX + 1 refused",
	      wl_setxattr(fs, f, a, PMFS_XATTR_VALUE_MAX + 1, 133, 0) == -E2BIG
		      ? 0
		      : -EIO);
	CH_OP(r, "setxattr name of 256 bytes refused",
	      wl_setxattr(fs, f, c, 10, 134, 0) == -ERANGE ? 0 : -EIO);
	CH_OP(r, "setxattr REPLACE /d1/f name 255, value 3000",
	      wl_setxattr(fs, f, a, 3000, 135, XATTR_REPLACE));
	CH_OP(r, "setxattr /d2 (a directory) name 255, value inline max",
	      wl_setxattr(fs, d2, a, PMFS_XATTR_INLINE_MAX, 136, 0));
	CH_OP(r, "setxattr /d1/f name 255, empty value",
	      wl_setxattr(fs, f, b, 0, 137, XATTR_REPLACE));
	CH_OP(r, "removexattr /d1/f name 255", fs_removexattr(fs, f, a));
	CH_OP(r, "log gc of /d1/f", fs_gc(fs, f));
	return 0;
}

/*
 * Values past PMFS_XATTR_INLINE_MAX live in data blocks (XATTR_BLK): set
 * at the largest size and just past inline, replaced big by big, big by
 * inline and inline by big, removed, on a directory, carried over by log
 * compaction, and freed with their inode.
 */
static int w_xattr_large(struct ch_run *r, struct fs *fs)
{
	char a[PMFS_XATTR_NAME_MAX + 2];
	WL_INO(f, fs, "/d1/f");
	WL_INO(d2, fs, "/d2");
	WL_INO(d1, fs, "/d1");

	wl_xname(a, PMFS_XATTR_NAME_MAX, 'L');
	CH_OP(r, "setxattr /d1/f user.big, 64 KiB",
	      wl_setxattr(fs, f, "user.big", PMFS_XATTR_VALUE_MAX, 141,
			  XATTR_CREATE));
	CH_OP(r, "setxattr /d1/f name 255, value PMFS_XATTR_INLINE_MAX + 1",
	      wl_setxattr(fs, f, a, PMFS_XATTR_INLINE_MAX + 1, 142, 0));
	CH_OP(r, "setxattr value PMFS_XATTR_VALUE_MAX + 1 refused",
	      wl_setxattr(fs, f, a, PMFS_XATTR_VALUE_MAX + 1, 143, 0) == -E2BIG
		      ? 0
		      : -EIO);
	CH_OP(r, "setxattr REPLACE user.big by 40000 bytes",
	      wl_setxattr(fs, f, "user.big", 40000, 144, XATTR_REPLACE));
	CH_OP(r, "setxattr REPLACE name 255 by 100 bytes (inline)",
	      wl_setxattr(fs, f, a, 100, 145, XATTR_REPLACE));
	CH_OP(r, "setxattr REPLACE name 255 by 9000 bytes (blocks)",
	      wl_setxattr(fs, f, a, 9000, 146, XATTR_REPLACE));
	CH_OP(r, "removexattr /d1/f user.big", fs_removexattr(fs, f, "user.big"));
	CH_OP(r, "setxattr /d2 (a directory) user.big, 64 KiB",
	      wl_setxattr(fs, d2, "user.big", PMFS_XATTR_VALUE_MAX, 147, 0));
	CH_OP(r, "log gc of /d1/f", fs_gc(fs, f));
	CH_OP(r, "setxattr /d1/f user.big again, 20000 bytes",
	      wl_setxattr(fs, f, "user.big", 20000, 148, 0));
	CH_OP(r, "unlink /d1/f (its values freed)", fs_unlink(fs, d1, "f"));
	return 0;
}

/* ---- deep rename chains with directory exchange ------------------------- */

/* Two chains of directories, a file at every level:
 *   /a/b/c/d/e with /a/fa, /a/b/fb, /a/b/c/fc, /a/b/c/d/fd, /a/b/c/d/e/fe
 *   /x/y/z     with /x/y/z/fz */
static int deep_setup(struct ch_run *r, struct fs *fs)
{
	static const char *const dirs[] = { "/a", "/a/b", "/a/b/c",
					    "/a/b/c/d", "/a/b/c/d/e", "/x",
					    "/x/y", "/x/y/z" };
	static const char *const files[] = { "/a/fa", "/a/b/fb", "/a/b/c/fc",
					     "/a/b/c/d/fd", "/a/b/c/d/e/fe",
					     "/x/y/z/fz" };

	WL_TRY(base_setup(r, fs));
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		WL_TRY(ch_mkdir(fs, dirs[i]));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		WL_TRY(ch_mkfile(fs, files[i], 100 + i * 50,
				 140 + (unsigned)i));
	return 0;
}

/* A rename of absolute paths. */
static int wl_rename(struct fs *fs, const char *from, const char *to,
		     unsigned flags)
{
	uint64_t fp, tp;
	const char *fn, *tn;
	int err = ch_parent(fs, from, &fp, &fn);

	if (!err)
		err = ch_parent(fs, to, &tp, &tn);
	return err ? err : fs_rename(fs, fp, fn, tp, tn, flags);
}

/* An operation that must be refused, leaving everything as it was. */
static int wl_refused(int rc)
{
	return rc < 0 ? 0 : -EIO;
}

/* Subtrees moved up and down and exchanged across depths, and back
 * (the comments give the tree after each step; capitals are the
 * directories first named so). */
static int w_rename_deep(struct ch_run *r, struct fs *fs)
{
	CH_OP(r, "EXCHANGE dirs /a/b/c (depth 3) and /x/y (depth 2)",
	      wl_rename(fs, "/a/b/c", "/x/y", RENAME_EXCHANGE));
	/* /a/b/c = Y{z}, /x/y = C{fc, d{fd, e{fe}}} */
	CH_OP(r, "rename /x/y/d to /a/d (a subtree one level up)",
	      wl_rename(fs, "/x/y/d", "/a/d", 0));
	/* /a/d = D{fd, e}, /x/y = C{fc} */
	CH_OP(r, "EXCHANGE dirs /a/d/e (depth 3) and /a/b (depth 2)",
	      wl_rename(fs, "/a/d/e", "/a/b", RENAME_EXCHANGE));
	/* /a/b = E{fe}, /a/d/e = B{fb, c=Y{z}} */
	CH_OP(r, "EXCHANGE dirs /a/d/e/c/z (depth 5) and /x (depth 1)",
	      wl_rename(fs, "/a/d/e/c/z", "/x", RENAME_EXCHANGE));
	/* /x = Z{fz}, /a/d/e/c/z = X{y=C{fc}} */
	CH_OP(r, "rename /a/d into its own subtree refused",
	      wl_refused(wl_rename(fs, "/a/d", "/a/d/e/c/d2", 0)));
	CH_OP(r, "EXCHANGE /a/d/e with its descendant refused",
	      wl_refused(wl_rename(fs, "/a/d/e", "/a/d/e/c/z",
				   RENAME_EXCHANGE)));
	CH_OP(r, "EXCHANGE back /x and /a/d/e/c/z",
	      wl_rename(fs, "/x", "/a/d/e/c/z", RENAME_EXCHANGE));
	CH_OP(r, "EXCHANGE back /a/b and /a/d/e",
	      wl_rename(fs, "/a/b", "/a/d/e", RENAME_EXCHANGE));
	CH_OP(r, "rename /a/d back to /x/y/d",
	      wl_rename(fs, "/a/d", "/x/y/d", 0));
	CH_OP(r, "EXCHANGE back /x/y and /a/b/c",
	      wl_rename(fs, "/x/y", "/a/b/c", RENAME_EXCHANGE));
	/* as set up */
	CH_OP(r, "rename dir /a/b/c/d over empty /e (depth 4 to 1)",
	      wl_rename(fs, "/a/b/c/d", "/e", 0));
	return 0;
}

/* ---- lookup reference counting (FS_O_REFCOUNT) -------------------------- */

/* Take a lookup reference on path, as the kernel does for an open file. */
static int wl_hold(struct fs *fs, const char *path, uint64_t *ino)
{
	struct fs_attr a;
	uint64_t dir;
	const char *name;
	int err = ch_parent(fs, path, &dir, &name);

	if (!err)
		err = fs_lookup(fs, dir, name, &a);
	*ino = err ? 0 : a.ino;
	return err;
}

/* The inode is gone (freed): getattr fails. */
static int wl_gone(struct fs *fs, uint64_t ino)
{
	struct fs_attr a;

	return fs_getattr(fs, ino, &a) ? 0 : -EEXIST;
}

/* Unlink and rename-over of open files: orphans that live while held,
 * one reclaimed at fs_forget, one left for the mount to reclaim. */
static int w_refcount_unlink(struct ch_run *r, struct fs *fs)
{
	uint64_t f, h;
	char buf[64];
	size_t n = 0;
	WL_INO(d1, fs, "/d1");
	WL_INO(d2, fs, "/d2");
	WL_INO(sparse, fs, "/d1/sparse");

	WL_TRY(wl_hold(fs, "/d1/f", &f));
	WL_TRY(wl_hold(fs, "/d2/h", &h));
	CH_OP(r, "unlink /d1/f (open: an orphan)", fs_unlink(fs, d1, "f"));
	CH_OP(r, "write to the orphan", wl_write(fs, f, 8192, 100, 151));
	CH_OP(r, "the orphan reads back", wl_expect(fs, f, 100, 8192, 151));
	CH_OP(r, "rename /d1/g over /d2/h (open: an orphan)",
	      fs_rename(fs, d1, "g", d2, "h", 0));
	CH_OP(r, "the replaced file still reads",
	      fs_pread(fs, h, buf, sizeof(buf), 0, &n) || n != sizeof(buf)
		      ? -EIO
		      : 0);
	CH_OP(r, "forget the unlinked /d1/f (reclaimed now)",
	      (fs_forget(fs, f, 1), 0));
	CH_OP(r, "the forgotten orphan is gone", wl_gone(fs, f));
	CH_OP(r, "unlink /d1/sparse (not open: freed at once)",
	      fs_unlink(fs, d1, "sparse"));
	CH_OP(r, "the unlinked /d1/sparse is gone", wl_gone(fs, sparse));
	return 0; /* /d2/h's old inode stays held: the mount reclaims it */
}

/* rmdir of open directories: one forgotten (reclaimed at fs_forget), one
 * held to the end (reclaimed at mount); a removed directory takes no
 * new entry. */
static int w_refcount_rmdir(struct ch_run *r, struct fs *fs)
{
	struct fs_attr a;
	uint64_t e, sub;
	WL_INO(d1, fs, "/d1");
	WL_INO(d2, fs, "/d2");

	WL_TRY(wl_hold(fs, "/e", &e));
	WL_TRY(wl_hold(fs, "/d1/sub", &sub));
	CH_OP(r, "rmdir /e (open: an orphan directory)", fs_rmdir(fs, 1, "e"));
	CH_OP(r, "create in the removed /e refused",
	      fs_mknod(fs, &ch_ctx, e, "x", S_IFREG | 0644, 0, &a) == -ENOENT
		      ? 0
		      : -EIO);
	CH_OP(r, "rename /d1/sub/x /d2/x", fs_rename(fs, sub, "x", d2, "x", 0));
	CH_OP(r, "rmdir /d1/sub (open: an orphan directory)",
	      fs_rmdir(fs, d1, "sub"));
	CH_OP(r, "forget the removed /e (reclaimed now)",
	      (fs_forget(fs, e, 1), 0));
	CH_OP(r, "the forgotten directory is gone", wl_gone(fs, e));
	CH_OP(r, "mkdir /d1/sub again", fs_mkdir(fs, &ch_ctx, d1, "sub", 0755,
						 &a));
	return 0; /* the old /d1/sub stays held: the mount reclaims it */
}

/* ---- relatime ----------------------------------------------------------- */

/* Each operation makes one inode due for an atime update, which the
 * harness's next walk (a reader) makes; and reads that relatime
 * declines. */
static int w_relatime(struct ch_run *r, struct fs *fs)
{
	struct fs_setattr mode = { .valid = FS_SET_MODE, .mode = 0600 };
	struct fs_setattr times = { .valid = FS_SET_ATIME | FS_SET_MTIME,
				    .atime = { 1000000, 1 },
				    .mtime = { 2000000, 2 } };
	char buf[100];
	size_t n;
	WL_INO(f, fs, "/d1/f");
	WL_INO(g, fs, "/d1/g");
	WL_INO(h, fs, "/d2/h");
	WL_INO(x, fs, "/d1/sub/x");

	CH_OP(r, "read /d1/g (atime newer than mtime: no update)",
	      fs_pread(fs, g, buf, sizeof(buf), 0, &n));
	CH_OP(r, "write /d1/g (mtime moves past atime)",
	      wl_write(fs, g, 100, 0, 161));
	CH_OP(r, "chmod /d1/f (ctime moves past atime)",
	      wl_setattr(fs, f, &mode));
	CH_OP(r, "utimens /d2/h to 1970 (atime old)",
	      wl_setattr(fs, h, &times));
	CH_OP(r, "setxattr /d1/sub/x (ctime moves past atime)",
	      fs_setxattr(fs, x, "user.t", "t", 1, 0));
	CH_OP(r, "read /d1/f again (no update)",
	      fs_pread(fs, f, buf, sizeof(buf), 0, &n));
	CH_OP(r, "chmod /e (a directory: readdir updates its atime)",
	      wl_setattr(fs, ch_ino(fs, "/e"), &mode));
	return 0;
}

/* ---- two threads committing on two journal lanes at once ---------------- */

#define LANES_ROUNDS 4

static int lanes_setup(struct ch_run *r, struct fs *fs)
{
	WL_TRY(base_setup(r, fs));
	WL_TRY(ch_mkdir(fs, "/t1"));
	WL_TRY(ch_mkdir(fs, "/t2"));
	WL_TRY(ch_mkfile(fs, "/t1/keep", 3000, 170));
	WL_TRY(ch_mkfile(fs, "/t2/keep", 3000, 171));
	return 0;
}

/*
 * The overlap of the two tracks is made, not hoped for: in round 0 track 1
 * stops at the first drain of its create (the inject hook, before the
 * drain) and waits there until track 2, which starts its create only then,
 * has finished it.  Track 2's create thus begins and ends inside track
 * 1's, on every machine and under any load.  The tracks share no lock a
 * create holds at a drain (each has its own directory and journal lane);
 * if one ever did, the waits time out and the workload fails saying so
 * rather than hanging.  With a seeded bug armed, the seed owns the inject
 * table and the tracks overlap only by chance.
 */
enum { LH_IDLE, LH_INSIDE, LH_DONE, LH_TIMEOUT };

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;
} lanes_hs = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
	       LH_IDLE };
static __thread bool lanes_hold; /* stop at this thread's next drain */

/* Wait (lanes_hs.mu held) until the handshake reaches state; false after
 * LANES_WAIT seconds, the handshake then marked LH_TIMEOUT. */
#define LANES_WAIT 300
static bool lanes_wait_for(int state)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += LANES_WAIT;
	while (lanes_hs.state != state && lanes_hs.state != LH_TIMEOUT)
		if (pthread_cond_timedwait(&lanes_hs.cv, &lanes_hs.mu,
					   &until) == ETIMEDOUT)
			lanes_hs.state = LH_TIMEOUT;
	pthread_cond_broadcast(&lanes_hs.cv);
	return lanes_hs.state == state;
}

/* Set the handshake's state and wake the other track. */
static void lanes_set(int state)
{
	pthread_mutex_lock(&lanes_hs.mu);
	if (lanes_hs.state != LH_TIMEOUT)
		lanes_hs.state = state;
	pthread_cond_broadcast(&lanes_hs.cv);
	pthread_mutex_unlock(&lanes_hs.mu);
}

/* Before a drain: the holding thread (inside its create, which maps only
 * the recorded image) announces it is inside and waits for the other
 * track's create.  Never skips the drain. */
static bool lanes_drain(struct pmio *p)
{
	(void)p;
	if (!lanes_hold)
		return false;
	lanes_hold = false;
	pthread_mutex_lock(&lanes_hs.mu);
	lanes_hs.state = LH_INSIDE;
	pthread_cond_broadcast(&lanes_hs.cv);
	lanes_wait_for(LH_DONE);
	pthread_mutex_unlock(&lanes_hs.mu);
	return false;
}

/* The other points: nothing to do. */
static bool lanes_no_skip(struct pmio *p)
{
	(void)p;
	return false;
}

/* A store or commit point: nothing to do. */
static void lanes_none(struct pmio *p)
{
	(void)p;
}

static const struct pmio_inject lanes_inject = {
	.drain = lanes_drain, .flush = lanes_no_skip,
	.commit = lanes_none, .store = lanes_none,
};

/* Track t's part of the handshake before its round-0 create; false if
 * the handshake is off (a seed is armed). */
static bool lanes_before_create(unsigned t)
{
	if (pmio_inject != &lanes_inject)
		return false;
	if (t == 1) {
		lanes_hold = true;
		return true;
	}
	pthread_mutex_lock(&lanes_hs.mu);
	lanes_wait_for(LH_INSIDE);
	pthread_mutex_unlock(&lanes_hs.mu);
	return true;
}

/* After the round-0 create: track 2 releases track 1; track 1 checks it
 * was released by track 2's finished create, not by the timeout. */
static int lanes_after_create(unsigned t)
{
	int state;

	if (t == 2)
		lanes_set(LH_DONE);
	pthread_mutex_lock(&lanes_hs.mu);
	state = lanes_hs.state;
	pthread_mutex_unlock(&lanes_hs.mu);
	lanes_hold = false;
	if (state == LH_TIMEOUT) {
		fprintf(stderr, "crash: lanes: track %u waited %d s for the "
			"other track's create: a lock shared between them\n",
			t, LANES_WAIT);
		return -EDEADLK;
	}
	return 0;
}

struct lanes_arg {
	struct ch_run *r;
	struct fs *fs;
	pthread_barrier_t *round;
	unsigned track;
	int waited; /* rounds begun: each thread waits LANES_ROUNDS times */
	int err;
};

/* One thread's rounds in /tN: create nI, write it, rename it over cur,
 * link cur as lI, unlink l(I-1), the last name of the previous cur, whose
 * inode the other thread may take next.  Both threads wait at the barrier
 * before each round, so their journaled commits race. */
static int lanes_track(struct lanes_arg *la)
{
	struct ch_run *r = la->r;
	struct fs *fs = la->fs;
	unsigned t = la->track;
	char dir[8], name[16], what[64];
	struct fs_attr a;
	uint64_t d;
	bool hs;

	snprintf(dir, sizeof(dir), "/t%u", t);
	d = ch_ino(fs, dir);
	if (!d)
		return -ENOENT;
	ch_track(r, t);
	for (int i = 0; i < LANES_ROUNDS; i++) {
		pthread_barrier_wait(la->round);
		la->waited++;
		snprintf(name, sizeof(name), "n%d", i);
		snprintf(what, sizeof(what), "create %s/%s", dir, name);
		hs = i == 0 && lanes_before_create(t);
		CH_OP(r, what,
		      fs_mknod(fs, &ch_ctx, d, name, S_IFREG | 0644, 0, &a));
		if (hs)
			WL_TRY(lanes_after_create(t));
		snprintf(what, sizeof(what), "write %s/%s", dir, name);
		CH_OP(r, what, wl_write(fs, a.ino, 600 + 100 * i, 0, 172 + t));
		snprintf(what, sizeof(what), "rename %s/%s over %s/cur", dir,
			 name, dir);
		CH_OP(r, what, fs_rename(fs, d, name, d, "cur", 0));
		snprintf(name, sizeof(name), "l%d", i);
		snprintf(what, sizeof(what), "link %s/cur %s/%s", dir, dir,
			 name);
		CH_OP(r, what, fs_link(fs, a.ino, d, name, &a));
		if (i) { /* the previous cur's last name: its inode is freed */
			snprintf(name, sizeof(name), "l%d", i - 1);
			snprintf(what, sizeof(what), "unlink %s/%s", dir, name);
			CH_OP(r, what, fs_unlink(fs, d, name));
		}
	}
	return 0;
}

static void *lanes_main(void *arg)
{
	struct lanes_arg *la = arg;

	la->err = lanes_track(la);
	while (la->waited < LANES_ROUNDS) { /* let the other one finish */
		pthread_barrier_wait(la->round);
		la->waited++;
	}
	return NULL;
}

static int w_lanes(struct ch_run *r, struct fs *fs)
{
	pthread_barrier_t round;
	struct lanes_arg la[2];
	pthread_t th[2];
	int err = 0, started = 0;

	if (pthread_barrier_init(&round, NULL, 2))
		return -ENOMEM;
	lanes_hs.state = LH_IDLE;
	if (!pmio_inject)
		pmio_inject = &lanes_inject;
	for (unsigned i = 0; i < 2; i++) {
		la[i] = (struct lanes_arg){ r, fs, &round, i + 1, 0, 0 };
		if (pthread_create(&th[i], NULL, lanes_main, &la[i]))
			break;
		started++;
	}
	if (started < 2) { /* the one started waits at its first round */
		for (int i = 0; started && i < LANES_ROUNDS; i++)
			pthread_barrier_wait(&round);
		err = -EAGAIN;
	}
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
		if (!err)
			err = la[i].err;
	}
	pthread_barrier_destroy(&round);
	if (pmio_inject == &lanes_inject)
		pmio_inject = NULL;
	return err;
}

/* A workload on the base tree (base_setup). */
#define BASE(n, fn) { .name = (n), .setup = base_setup, .run = (fn) }

const struct ch_workload ch_workloads[] = {
	BASE("create", w_create),
	BASE("mknod", w_mknod),
	BASE("mkdir", w_mkdir),
	BASE("symlink", w_symlink),
	BASE("link", w_link),
	BASE("unlink-last", w_unlink_last),
	BASE("unlink-linked", w_unlink_linked),
	BASE("rmdir", w_rmdir),
	BASE("rename-same-dir", w_rename_same),
	BASE("rename-across", w_rename_across),
	BASE("rename-over-file", w_rename_over_file),
	BASE("rename-over-dir", w_rename_over_dir),
	BASE("rename-noreplace", w_rename_noreplace),
	BASE("rename-exchange", w_rename_exchange),
	BASE("rename-exchange-dir", w_rename_exchange_dir),
	BASE("rename-whiteout", w_rename_whiteout),
	BASE("rename-dir", w_rename_dir),
	BASE("write-overwrite", w_write_overwrite),
	BASE("write-append", w_write_append),
	BASE("write-keep-times", w_write_keep_times),
	BASE("write-hole", w_write_hole),
	BASE("truncate-down", w_truncate_down),
	BASE("truncate-up", w_truncate_up),
	BASE("fallocate", w_fallocate),
	BASE("punch-hole", w_punch_hole),
	BASE("chmod", w_chmod),
	BASE("chown", w_chown),
	BASE("utimens", w_utimens),
	BASE("kill-suid", w_kill_suid),
	BASE("setxattr", w_setxattr),
	BASE("removexattr", w_removexattr),
	BASE("atomic-replace", w_atomic_replace),
	BASE("many-files", w_many_files),
	{ .name = "log-gc", .setup = gc_setup, .run = w_gc },
	BASE("alloc-reuse", w_alloc_reuse),
	BASE("journal-wrap", w_journal_wrap),
	{ .name = "recovery-crash", .setup = base_setup, .pre = pre_exchange,
	  .run = w_recovery },
	{ .name = "recovery-crash-2", .setup = base_setup,
	  .pre = pre_mkdir_write, .run = w_recovery },
	{ .name = "unmount-crash", .flags = CH_W_UNMOUNT, .setup = base_setup,
	  .run = w_unmount },
	BASE("remount", w_remount),
	{ .name = "acl", .setup = acl_setup, .run = w_acl },
	{ .name = "log-gc-writes", .setup = gc_writes_setup,
	  .run = w_gc_writes },
	BASE("append-in-place", w_append_in_place),
	BASE("zero-range", w_zero_range),
	{ .name = "gc-dir", .setup = gc_dir_setup, .run = w_gc_dir },
	BASE("symlink-long", w_symlink_long),
	BASE("xattr-limits", w_xattr_limits),
	BASE("xattr-large", w_xattr_large),
	{ .name = "rename-deep", .setup = deep_setup, .run = w_rename_deep },
	{ .name = "refcount-unlink", .flags = CH_W_REFCOUNT,
	  .setup = base_setup, .run = w_refcount_unlink },
	{ .name = "refcount-rmdir", .flags = CH_W_REFCOUNT,
	  .setup = base_setup, .run = w_refcount_rmdir },
	{ .name = "relatime", .flags = CH_W_RELATIME, .setup = base_setup,
	  .run = w_relatime },
	{ .name = "lanes", .flags = CH_W_THREADS, .setup = lanes_setup,
	  .run = w_lanes, .tracks = { "/t1", "/t2" } },
};
const size_t ch_nworkloads = sizeof(ch_workloads) / sizeof(ch_workloads[0]);
