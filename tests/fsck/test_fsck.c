/*
 * test_fsck.c - fsck.pmfs, e2fsprogs style: each case starts from a good
 * image (mkfs.pmfs, then populated through the core's fs_* calls, so the
 * corpus follows every format change), damages it in one way, then runs
 *   fsck.pmfs -fn   the image must be byte-identical afterwards;
 *   fsck.pmfs -fy   output and exit code against cases/NAME/expect.1,
 *                   exit.1 (the repair);
 *   fsck.pmfs -fy   against expect.2, exit.2 (nothing left: exit 0).
 * The image path in the output reads IMAGE.  PMFS_FSCK_BLESS=1 writes the
 * expected files from the current output instead of comparing (review
 * the diff before committing it).  Plus the command-line contract: usage
 * errors, the clean fast path, --json, the refusal to repair a
 * filesystem whose device lock is held, and on a pseudo-terminal the
 * questions (y, n, a, Ctrl-D and Ctrl-C cancel: exit 32) and progress.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "format/fmt.h"
#include "fs/fs.h"
#include "log/log.h"
#include "pmemio/pmemio.h"
#include "differ.h"
#include "testutil.h"

#define IMG_SIZE (8u << 20)
#define CASES "tests/fsck/cases"
#define OUTSZ 65536
#define NMANY 18

/* Inode numbers of the populated image (deterministic). */
static struct {
	uint64_t dir, sub, file, f2, link, a, b, c, many;
} P;

static const struct fs_ctx ctx0 = { .uid = 0, .gid = 0 };

static void tool_env(void)
{
	if (!getenv("PMFS_BUILD"))
		setenv("PMFS_BUILD", "build", 1);
}

static uint64_t mk(struct fs *fs, uint64_t parent, const char *name,
		   uint32_t mode)
{
	struct fs_attr a;
	int r;

	if (S_ISDIR(mode))
		r = fs_mkdir(fs, &ctx0, parent, name, mode & 07777, &a);
	else
		r = fs_mknod(fs, &ctx0, parent, name, mode, 0, &a);
	cr_assert_eq(r, 0, "create %s: %d", name, r);
	return a.ino;
}

static void fill(struct fs *fs, uint64_t ino, size_t len, int seed)
{
	char *buf = malloc(len);

	cr_assert_not_null(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(seed + i * 7);
	cr_assert_eq(fs_pwrite(fs, ino, buf, len, 0), 0);
	free(buf);
}

/* A fresh good image: mkfs, then a small tree through the fs API. */
static char *good_image(void)
{
	char *img = tu_tmpimg(IMG_SIZE);
	char err[1024] = "", name[256];
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	struct pmio *p;
	struct fs *fs;
	struct fs_attr a;
	int r;

	tool_env();
	{
		char *av[] = { (char *)tu_tool("mkfs.pmfs"), "-q", "-f", "-U",
			       "6b1e5a3c-0d2f-4e8a-9b7c-1a2b3c4d5e6f", "-L",
			       "fscktest", img, NULL };

		r = tu_run(av, NULL, 0, err, sizeof(err));
		cr_assert_eq(r, 0, "mkfs: %s", err);
	}
	cr_assert_eq(pmio_open(img, &po, &p, err, sizeof(err)), 0, "%s", err);
	r = fs_mount_pmio(p, NULL, &fs, NULL, err, sizeof(err));
	cr_assert_eq(r, 0, "mount: %d %s", r, err);
	P.dir = mk(fs, PMFS_ROOT_INO, "dir", S_IFDIR | 0755);
	P.sub = mk(fs, P.dir, "sub", S_IFDIR | 0755);
	P.file = mk(fs, PMFS_ROOT_INO, "file", S_IFREG | 0644);
	fill(fs, P.file, 3 * PMFS_BLOCK_SIZE, 1);
	cr_assert_eq(fs_setxattr(fs, P.file, "user.a", "value", 5, 0), 0);
	P.f2 = mk(fs, P.dir, "f2", S_IFREG | 0600);
	fill(fs, P.f2, PMFS_BLOCK_SIZE, 2);
	cr_assert_eq(fs_link(fs, P.file, P.dir, "hl", &a), 0);
	cr_assert_eq(fs_symlink(fs, &ctx0, PMFS_ROOT_INO, "link", "file", &a),
		     0);
	P.link = a.ino;
	P.a = mk(fs, PMFS_ROOT_INO, "a", S_IFDIR | 0755);
	P.b = mk(fs, P.a, "b", S_IFDIR | 0755);
	P.c = mk(fs, P.b, "c", S_IFDIR | 0755);
	P.many = mk(fs, PMFS_ROOT_INO, "many", S_IFDIR | 0755);
	for (int i = 0; i < NMANY; i++) {
		memset(name, 'm', 200);
		snprintf(name + 200, sizeof(name) - 200, "%02d", i);
		mk(fs, P.many, name, S_IFREG | 0644);
	}
	cr_assert_eq(fs_unmount(fs), 0);
	pmio_close(p);
	return img;
}

/* ---- damage helpers (they use the core's walk to find things) ---------- */

static struct pmio *dmg_p;
static struct ilog_dev D;
static bool dmg_open_skip; /* the damage closed the image itself */

static void dmg_open(const char *img)
{
	struct pmio_opts po = { .flags = PMIO_O_QUIET };
	char why[160];

	cr_assert_eq(pmio_open(img, &po, &dmg_p, NULL, 0), 0);
	cr_assert_eq(ilog_dev_init(&D, dmg_p, why, sizeof(why)), 0, "%s", why);
}

static void dmg_close(void)
{
	pmio_persist(dmg_p, D.base, D.size);
	pmio_close(dmg_p);
}

struct find {
	unsigned type; /* 0 = any */
	int nth;       /* -1 = last */
	int seen;
	struct pmfs_lentry *e;
	uint64_t end;  /* end of the entry before the found one */
	uint64_t prev_end, last_end;
};

static int find_cb(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	struct find *fd = arg;

	if (!fd->type || e->type == fd->type) {
		if (fd->nth < 0 || fd->seen == fd->nth) {
			fd->e = (struct pmfs_lentry *)e;
			fd->end = fd->last_end;
		}
		fd->seen++;
	}
	fd->last_end = off + e->len;
	return 0;
}

/* The nth (or last, nth -1) entry of `type` in ino's log. */
static struct pmfs_lentry *entry_of(uint64_t ino, unsigned type, int nth,
				    uint64_t *before)
{
	struct pmfs_inode *s = ilog_slot(&D, ino);
	struct find fd = { type, nth, 0, NULL, 0, 0, 0 };

	cr_assert_not_null(s);
	cr_assert_eq(ilog_walk(&D, ino, s->head, s->tail, find_cb, NULL, &fd,
			       true, NULL),
		     0);
	cr_assert_not_null(fd.e, "inode %lu: no entry of type %u",
			   (unsigned long)ino, type);
	if (before)
		*before = fd.end;
	return fd.e;
}

static struct pmfs_le_dentry *dentry_of(uint64_t dir, const char *name)
{
	struct pmfs_le_dentry *found = NULL;

	for (int i = 0;; i++) {
		struct pmfs_inode *s = ilog_slot(&D, dir);
		struct find fd = { PMFS_LE_DENTRY_ADD, i, 0, NULL, 0, 0, 0 };
		struct pmfs_le_dentry *de;

		ilog_walk(&D, dir, s->head, s->tail, find_cb, NULL, &fd, true,
			  NULL);
		if (!fd.e)
			break;
		de = (void *)fd.e;
		if (de->name_len == strlen(name) &&
		    memcmp(de->name, name, de->name_len) == 0)
			found = de;
	}
	cr_assert_not_null(found, "no entry %s in %lu", name,
			   (unsigned long)dir);
	return found;
}

static void reseal(uint64_t ino, struct pmfs_lentry *e)
{
	fmt_entry_seal(ino, e);
}

/* ---- the cases ------------------------------------------------------- */

static void c_sb_zeroed(const char *img)
{
	(void)img;
	memset(D.base, 0, sizeof(struct pmfs_super));
}

static void c_sb_bitflip(const char *img)
{
	(void)img;
	D.base[40] ^= 0x10; /* a bit of the label: only the crc notices */
}

static void c_sb_copy_bad(const char *img)
{
	(void)img;
	D.base[PMFS_BLOCK_SIZE + 20] ^= 0x01; /* total_blocks of the copy */
}

static void c_torn_entry(const char *img)
{
	struct pmfs_lentry *e = entry_of(P.file, 0, -1, NULL);

	(void)img;
	((uint8_t *)e)[e->len - 1] ^= 0xff; /* half-written: crc fails */
}

static void c_log_cycle(const char *img)
{
	struct pmfs_inode *s = ilog_slot(&D, P.many);
	struct pmfs_logpage *pg = (void *)(D.base + s->head);

	(void)img;
	cr_assert_neq(pg->next, 0, "the test directory needs two pages");
	pg->next = s->head; /* first page links to itself */
}

static void c_log_outside(const char *img)
{
	struct pmfs_inode *s = ilog_slot(&D, P.many);
	struct pmfs_logpage *pg = (void *)(D.base + s->head);

	(void)img;
	cr_assert_neq(pg->next, 0);
	pg->next = fmt_blk_off(D.total_blocks + 5);
}

static void c_block_twice(const char *img)
{
	struct pmfs_le_write *w1 = (void *)entry_of(P.file, PMFS_LE_WRITE, 0,
						    NULL);
	struct pmfs_le_write *w2 = (void *)entry_of(P.f2, PMFS_LE_WRITE, 0,
						    NULL);

	(void)img;
	w2->blk = w1->blk + 1; /* f2's block is file's second block */
	reseal(P.f2, &w2->h);
}

static void c_orphan(const char *img)
{
	uint64_t before;

	(void)img;
	/* dir's log as it was before f2 and hl were added: a valid log,
	 * but f2 is now in no directory and file has one name too few */
	entry_of(P.dir, PMFS_LE_DENTRY_ADD, 1, &before); /* f2's entry */
	ilog_slot(&D, P.dir)->tail = before;
}

static void c_no_lost_found(const char *img)
{
	struct pmfs_le_dentry *lf = dentry_of(PMFS_ROOT_INO, "lost+found");

	lf->name[9] = 't'; /* "lost+fount": no /lost+found any more */
	reseal(PMFS_ROOT_INO, &lf->h);
	c_orphan(img);
}

static void c_dir_hard_link(const char *img)
{
	struct pmfs_le_dentry *rf = dentry_of(PMFS_ROOT_INO, "file");
	struct pmfs_le_dentry *rd = dentry_of(PMFS_ROOT_INO, "dir");

	(void)img;
	rf->ino = rd->ino; /* /file names /dir too */
	rf->gen = rd->gen;
	rf->ftype = DT_DIR;
	reseal(PMFS_ROOT_INO, &rf->h);
}

static void c_entry_type(const char *img)
{
	struct pmfs_le_dentry *rf = dentry_of(PMFS_ROOT_INO, "file");

	(void)img;
	rf->ftype = DT_LNK;
	reseal(PMFS_ROOT_INO, &rf->h);
}

static void c_xattr_name(const char *img)
{
	struct pmfs_le_xattr *x = (void *)entry_of(P.file, PMFS_LE_XATTR_SET,
						   0, NULL);

	(void)img;
	x->data[4] = 0; /* "user\0a" */
	reseal(P.file, &x->h);
}

static void c_unlinked(const char *img)
{
	struct pmfs_le_attr *a = (void *)entry_of(P.f2, PMFS_LE_ATTR, 0, NULL);

	a->nlink = 0; /* f2 was unlinked while open, then the crash */
	reseal(P.f2, &a->h);
	c_orphan(img);
}

static void c_link_count(const char *img)
{
	struct pmfs_le_attr *a = (void *)entry_of(P.f2, PMFS_LE_ATTR, 0, NULL);

	(void)img;
	a->nlink = 3;
	reseal(P.f2, &a->h);
}

static void c_dir_loop(const char *img)
{
	struct pmfs_le_dentry *bc = dentry_of(P.b, "c");
	struct pmfs_le_dentry *ra = dentry_of(PMFS_ROOT_INO, "a");
	uint32_t gen_a = ra->gen, gen_c = bc->gen;

	(void)img;
	bc->ino = P.a; /* b/c names a: a -> b -> a */
	bc->gen = gen_a;
	reseal(P.b, &bc->h);
	ra->ino = P.c; /* root's "a" names c instead */
	ra->gen = gen_c;
	reseal(PMFS_ROOT_INO, &ra->h);
}

static void c_dotdot(const char *img)
{
	struct pmfs_le_attr *a = (void *)entry_of(P.sub, PMFS_LE_ATTR, 0,
						  NULL);

	(void)img;
	a->parent = PMFS_ROOT_INO;
	reseal(P.sub, &a->h);
}

static void c_free_inode(const char *img)
{
	(void)img;
	ilog_slot(&D, P.link)->tail = 0; /* the symlink's slot is free */
}

static void c_size(const char *img)
{
	struct pmfs_le_write *w = (void *)entry_of(P.file, PMFS_LE_WRITE, -1,
						   NULL);

	(void)img;
	w->size = 100;
	reseal(P.file, &w->h);
}

static void c_xattr_len(const char *img)
{
	struct pmfs_le_xattr *x = (void *)entry_of(P.file, PMFS_LE_XATTR_SET,
						   0, NULL);

	(void)img;
	x->value_len = PMFS_XATTR_INLINE_MAX + 1;
	reseal(P.file, &x->h);
}

static void c_xattr_ns(const char *img)
{
	struct pmfs_le_xattr *x = (void *)entry_of(P.file, PMFS_LE_XATTR_SET,
						   0, NULL);

	(void)img;
	x->data[3] = 'x'; /* "usex.a": no such namespace */
	reseal(P.file, &x->h);
}

static void c_symlink_nul(const char *img)
{
	struct pmfs_le_symlink *sl = (void *)entry_of(P.link, PMFS_LE_SYMLINK,
						      0, NULL);

	(void)img;
	cr_assert(sl->flags & PMFS_SL_INLINE);
	sl->target[2] = 0; /* "fi\0e", length still 4 */
	reseal(P.link, &sl->h);
}

static void c_root_missing(const char *img)
{
	(void)img;
	ilog_slot(&D, PMFS_ROOT_INO)->tail = 0;
}

static void c_root_not_dir(const char *img)
{
	struct pmfs_le_attr *a = (void *)entry_of(PMFS_ROOT_INO, PMFS_LE_ATTR,
						  0, NULL);

	(void)img;
	a->mode = S_IFREG | 0644; /* its entries no longer fit: log cut */
	reseal(PMFS_ROOT_INO, &a->h);
}

static void c_lost_found_file(const char *img)
{
	struct pmfs_le_dentry *lf = dentry_of(PMFS_ROOT_INO, "lost+found");
	struct pmfs_le_dentry *rf = dentry_of(PMFS_ROOT_INO, "file");

	(void)img;
	lf->ino = rf->ino; /* /lost+found is /file; the real one is lost */
	lf->gen = rf->gen;
	lf->ftype = DT_REG;
	reseal(PMFS_ROOT_INO, &lf->h);
}

static void c_symlink_no_target(const char *img)
{
	uint64_t before;

	(void)img;
	entry_of(P.link, PMFS_LE_SYMLINK, 0, &before);
	ilog_slot(&D, P.link)->tail = before;
}

static void c_log_empty(const char *img)
{
	struct pmfs_inode *s = ilog_slot(&D, P.link);

	(void)img;
	s->tail = s->head + sizeof(struct pmfs_logpage); /* found by fuzzing */
}

static void c_bad_block(const char *img)
{
	struct pmfs_le_write *w = (void *)entry_of(P.f2, PMFS_LE_WRITE, 0,
						   NULL);
	struct pmfs_badblocks *bb =
		(void *)(D.base + fmt_blk_off(PMFS_BADBLK_BLOCK));

	(void)img;
	cr_assert_eq(bb->count, 0);
	bb->blk[0] = w->blk;
	bb->count = 1;
	bb->crc = fmt_badblocks_crc(bb);
}

/* Mark block blk bad in the table of block 2. */
static void add_bad(uint64_t blk)
{
	struct pmfs_badblocks *bb =
		(void *)(D.base + fmt_blk_off(PMFS_BADBLK_BLOCK));
	uint32_t i = bb->count;

	cr_assert_lt(i, PMFS_BADBLK_MAX);
	for (; i > 0 && bb->blk[i - 1] > blk; i--)
		bb->blk[i] = bb->blk[i - 1];
	bb->blk[i] = blk;
	bb->count++;
	bb->crc = fmt_badblocks_crc(bb);
}

static void c_log_badblock(const char *img)
{
	struct pmfs_inode *s = ilog_slot(&D, P.many);
	struct pmfs_logpage *pg = (void *)(D.base + s->head);

	(void)img;
	cr_assert_neq(pg->next, 0, "the test directory needs two pages");
	add_bad(fmt_off_blk(pg->next)); /* many's second log page */
}

static void c_log_badblock_first(const char *img)
{
	(void)img;
	add_bad(fmt_off_blk(ilog_slot(&D, P.f2)->head)); /* f2's only page */
}

static void c_symlink_badblock(const char *img)
{
	char target[PMFS_SYMLINK_MAX + 1];
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	struct pmfs_le_symlink *sl;
	struct fs_attr a;
	struct fs *fs;

	/* a target too long for the log entry lives in a block */
	dmg_close();
	memset(target, 't', sizeof(target) - 1);
	target[sizeof(target) - 1] = 0;
	cr_assert_eq(pmio_open(img, &po, &dmg_p, NULL, 0), 0);
	cr_assert_eq(fs_mount_pmio(dmg_p, NULL, &fs, NULL, NULL, 0), 0);
	cr_assert_eq(fs_symlink(fs, &ctx0, P.dir, "long", target, &a), 0);
	cr_assert_eq(fs_unmount(fs), 0);
	pmio_close(dmg_p);
	dmg_open(img);
	sl = (void *)entry_of(a.ino, PMFS_LE_SYMLINK, 0, NULL);
	cr_assert_eq(sl->flags & PMFS_SL_INLINE, 0);
	add_bad(sl->blk);
}

/* Give f2 (through the core) an xattr `name` of len bytes, in blocks
 * past the inline limit; the image is open for damage again after. */
static struct pmfs_le_xattr_blk *add_large_xattr(const char *img,
						 const char *name,
						 const void *val, size_t len)
{
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	struct pmfs_le_xattr_blk *x;
	uint8_t *v = malloc(len);
	struct fs *fs;

	cr_assert_gt(len, PMFS_XATTR_INLINE_MAX);
	for (size_t i = 0; i < len; i++)
		v[i] = (uint8_t)(i * 13 + 5);
	if (val)
		memcpy(v, val, len);
	dmg_close();
	cr_assert_eq(pmio_open(img, &po, &dmg_p, NULL, 0), 0);
	cr_assert_eq(fs_mount_pmio(dmg_p, NULL, &fs, NULL, NULL, 0), 0);
	cr_assert_eq(fs_setxattr(fs, P.f2, name, v, len, 0), 0);
	cr_assert_eq(fs_unmount(fs), 0);
	pmio_close(dmg_p);
	free(v);
	dmg_open(img);
	x = (void *)entry_of(P.f2, PMFS_LE_XATTR_BLK, -1, NULL);
	cr_assert_eq(x->value_len, len);
	return x;
}

/* A large xattr value whose second block is also file's first data
 * block: the value is copied whole to blocks of its own. */
static void c_xattr_block_shared(const char *img)
{
	struct pmfs_le_xattr_blk *x =
		add_large_xattr(img, "user.large", NULL, 10000);
	struct pmfs_le_write *w = (void *)entry_of(P.file, PMFS_LE_WRITE, 0,
						   NULL);

	x->blk = w->blk - 1;
	reseal(P.f2, &x->h);
}

/* A large xattr value whose first block is its own file's data block: the
 * value is copied, and the data block stays the file's. */
static void c_xattr_block_own(const char *img)
{
	struct pmfs_le_xattr_blk *x =
		add_large_xattr(img, "user.large", NULL, 10000);
	struct pmfs_le_write *w = (void *)entry_of(P.f2, PMFS_LE_WRITE, 0,
						   NULL);

	x->blk = w->blk;
	reseal(P.f2, &x->h);
}

/* A large xattr value on a bad block: the xattr is removed. */
static void c_xattr_block_bad(const char *img)
{
	struct pmfs_le_xattr_blk *x =
		add_large_xattr(img, "user.large", NULL, 10000);

	add_bad(x->blk + 2);
}

/* A large xattr value past the end of the namespace: the log is cut. */
static void c_xattr_block_outside(const char *img)
{
	struct pmfs_le_xattr_blk *x =
		add_large_xattr(img, "user.large", NULL, 10000);

	x->blk = D.total_blocks - 1;
	reseal(P.f2, &x->h);
}

/* An xattr value in blocks on a filesystem without large_xattr (both
 * superblocks say so): the log is cut before it. */
static void c_xattr_block_nofeature(const char *img)
{
	struct pmfs_super *sb;

	add_large_xattr(img, "user.large", NULL, 10000);
	for (unsigned i = 0; i < 2; i++) {
		sb = (void *)(D.base + fmt_blk_off(i));
		sb->feature_incompat &= ~PMFS_FEATURE_INCOMPAT_LARGE_XATTR;
		sb->crc = fmt_super_crc(sb);
	}
}

/* A valid-looking ACL too large to be one pmfs makes (stored as a plain
 * xattr through a mount without ACLs, so in blocks): removed, and its
 * blocks freed. */
static void c_xattr_acl_large(const char *img)
{
	size_t n = (PMFS_ACL_MAX - sizeof(struct pmfs_acl_header)) /
			   sizeof(struct pmfs_acl_entry) +
		   8;
	uint32_t (*e)[3] = calloc(n, sizeof(*e));
	uint8_t *acl = malloc(sizeof(struct pmfs_acl_header) +
			      n * sizeof(struct pmfs_acl_entry));
	size_t len;

	e[0][0] = PMFS_ACL_USER_OBJ;
	e[0][1] = 6;
	for (size_t i = 1; i < n - 3; i++) {
		e[i][0] = PMFS_ACL_USER;
		e[i][1] = 4;
		e[i][2] = (uint32_t)(1000 + i);
	}
	e[n - 3][0] = PMFS_ACL_GROUP_OBJ;
	e[n - 2][0] = PMFS_ACL_MASK;
	e[n - 2][1] = 7;
	e[n - 1][0] = PMFS_ACL_OTHER;
	len = tu_acl(acl, (const uint32_t(*)[3])e, n);
	cr_assert_gt(len, PMFS_ACL_MAX);
	add_large_xattr(img, PMFS_ACL_ACCESS, acl, len);
	free(e);
	free(acl);
}

static void c_journal(const char *img)
{
	struct pmfs_journal *j = &D.jnl[3];
	uint64_t before;
	struct pmfs_le_dentry *de =
		(void *)entry_of(P.many, PMFS_LE_DENTRY_ADD, -1, &before);
	struct pmfs_inode *sd = ilog_slot(&D, P.many);
	struct pmfs_inode *sf = ilog_slot(&D, de->ino);

	(void)img;
	/* the create of many's last file, interrupted after its journal
	 * commit: the records hold the new tails, the slots the old ones */
	j->rec[0].addr = (uint64_t)((uint8_t *)&sd->tail - D.base);
	j->rec[0].val = sd->tail;
	j->rec[1].addr = (uint64_t)((uint8_t *)&sf->tail - D.base);
	j->rec[1].val = sf->tail;
	j->state = PMFS_JNL_STATE(2, fmt_jnl_crc(j->rec, 2));
	sd->tail = before;
	sf->tail = 0;
}

static void c_journal_corrupt(const char *img)
{
	(void)img;
	D.jnl[0].state = PMFS_JNL_STATE(2, 0x12345678u);
}

static void c_clean_word(const char *img)
{
	(void)img;
	D.state->clean = 0x1234;
}

/* An access ACL that is no valid ACL (a named user but no mask), stored
 * through a mount without ACLs, where it is a plain xattr: mount.pmfs
 * would hand it to the kernel. */
static void c_xattr_acl(const char *img)
{
	static const uint32_t e[][3] = {
		{ PMFS_ACL_USER_OBJ, 6, 0 },
		{ PMFS_ACL_USER, 4, 7 },
		{ PMFS_ACL_GROUP_OBJ, 4, 0 },
		{ PMFS_ACL_OTHER, 0, 0 },
	};
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	char err[256] = "";
	uint8_t acl[64];
	struct pmio *p;
	struct fs *fs;

	dmg_close();
	dmg_open_skip = true;
	cr_assert_eq(pmio_open(img, &po, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fs_mount_pmio(p, NULL, &fs, NULL, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(fs_setxattr(fs, P.file, PMFS_ACL_ACCESS, acl,
				 tu_acl(acl, e, 4), 0), 0);
	cr_assert_eq(fs_unmount(fs), 0);
	pmio_close(p);
}

static void c_truncated(const char *img)
{
	dmg_close();
	cr_assert_eq(truncate(img, IMG_SIZE / 2), 0);
	dmg_open_skip = true;
}

/* A superblock field whose old range check wrapped (journal_start + nlanes
 * near 2^64), resealed: only the primary copy is damaged. */
static void c_sb_journal_wrap(const char *img)
{
	struct pmfs_super *sb = (void *)D.base;

	(void)img;
	sb->journal_start = UINT64_MAX - 2;
	sb->crc = fmt_super_crc(sb);
}

static void c_sb_itdir_wrap(const char *img)
{
	struct pmfs_super *sb = (void *)D.base;

	(void)img;
	sb->itdir_start = UINT64_MAX - 3;
	sb->crc = fmt_super_crc(sb);
}

/* A bad-block table entry in inode-table chunk 0 (its second block, with
 * no inode in use): the mount refuses the image, fsck moves the chunk
 * and nothing is lost. */
static void c_itable_badblock(const char *img)
{
	(void)img;
	add_bad(D.itdir[0] + 1);
}

/* The same in the chunk's first block (the root and every inode of the
 * test live there): fsck moves the chunk, those inodes are lost and the
 * root is made again. */
static void c_itable_badblock_root(const char *img)
{
	(void)img;
	add_bad(D.itdir[0]);
}

/* A directory entry named "." read from the image (checksum valid). */
static void c_dentry_dot(const char *img)
{
	struct pmfs_le_dentry *de = dentry_of(P.b, "c");

	(void)img;
	de->name[0] = '.';
	reseal(P.b, &de->h);
}

/* ---- running fsck ---------------------------------------------------- */

static int run_fsck(const char *img, const char *flags, char *out)
{
	char err[4096];
	char *av[] = { (char *)tu_tool("fsck.pmfs"), (char *)flags,
		       (char *)img, NULL };
	int r = tu_run(av, out, OUTSZ, err, sizeof(err));

	/* stderr joins stdout after it, for the expected files */
	strncat(out, err, OUTSZ - strlen(out) - 1);
	return r;
}

/* Mask the 8 hex digits after each "tag 0x" (checksums over times). */
static void mask_hex(char *out, const char *tag)
{
	for (char *p = strstr(out, tag); p; p = strstr(p + 1, tag)) {
		char *h = p + strlen(tag);

		for (int i = 0; i < 8 && h[i] && strchr("0123456789abcdef", h[i]);
		     i++)
			h[i] = 'X';
	}
}

/* Replace every occurrence of the image path with IMAGE; mask checksums
 * (they cover timestamps). */
static void normalize(char *out, const char *img)
{
	size_t n = strlen(img);
	char *p;

	while ((p = strstr(out, img))) {
		memcpy(p, "IMAGE", 5);
		memmove(p + 5, p + n, strlen(p + n) + 1);
	}
	mask_hex(out, "stored 0x");
	mask_hex(out, "computed 0x");
}

static char *read_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = 0;
	fclose(fp);
	if (len)
		*len = (size_t)n;
	return buf;
}

static void write_all(const char *path, const char *s)
{
	FILE *fp = fopen(path, "w");

	cr_assert_not_null(fp, "cannot write %s", path);
	fputs(s, fp);
	fclose(fp);
}

static void expect(const char *name, const char *which, const char *out,
		   int rc)
{
	char path[512], code[16];
	char *want;

	snprintf(code, sizeof(code), "%d\n", rc);
	if (getenv("PMFS_FSCK_BLESS")) {
		snprintf(path, sizeof(path), CASES "/%s", name);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), CASES "/%s/expect.%s", name, which);
		write_all(path, out);
		snprintf(path, sizeof(path), CASES "/%s/exit.%s", name, which);
		write_all(path, code);
		return;
	}
	snprintf(path, sizeof(path), CASES "/%s/expect.%s", name, which);
	want = read_all(path, NULL);
	cr_assert_not_null(want, "missing %s", path);
	cr_expect_str_eq(out, want, "%s run %s output:\n%s\n--- expected:\n%s",
			 name, which, out, want);
	free(want);
	snprintf(path, sizeof(path), CASES "/%s/exit.%s", name, which);
	want = read_all(path, NULL);
	cr_assert_not_null(want, "missing %s", path);
	cr_assert_str_eq(code, want, "%s run %s exit %d", name, which, rc);
	free(want);
}

/* The repaired image mounts, survives a change and a clean unmount, and
 * fsck still finds it clean afterwards. */
static void mount_and_recheck(const char *name, const char *img, char *out)
{
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	const struct fs_ctx c = { .uid = 0, .gid = 0 };
	char err[256] = "";
	struct fs_attr a;
	struct pmio *p;
	struct fs *fs;
	int r;

	cr_assert_eq(pmio_open(img, &po, &p, NULL, 0), 0);
	r = fs_mount_pmio(p, NULL, &fs, NULL, err, sizeof(err));
	cr_assert_eq(r, 0, "%s: repaired image does not mount: %s", name, err);
	cr_assert_eq(fs_mkdir(fs, &c, PMFS_ROOT_INO, "after-fsck", 0755, &a),
		     0, "%s", name);
	cr_assert_eq(fs_unmount(fs), 0);
	pmio_close(p);
	out[0] = 0;
	r = run_fsck(img, "-fn", out);
	cr_assert_eq(r, 0, "%s: after a mount: exit %d\n%s", name, r, out);
}

static void run_case(const char *name, void (*damage)(const char *img))
{
	char *img = good_image();
	char *out = calloc(1, OUTSZ);
	char *before, *after;
	struct differ_result dr;
	size_t nb, na;
	int rc, rc1;

	cr_assert_not_null(out);
	dmg_open_skip = false;
	dmg_open(img);
	damage(img);
	if (!dmg_open_skip)
		dmg_close();

	/* one reading of the media: the mount complains wherever fsck -n
	 * finds damage (but for what recovery does anyway, differ.h) */
	rc = differ_check(img, &dr);
	cr_assert_eq(rc, 0, "%s: mount and fsck disagree: %s", name, dr.why);

	/* -n: reports, changes nothing */
	before = read_all(img, &nb);
	rc = run_fsck(img, "-fn", out);
	after = read_all(img, &na);
	cr_assert_eq(nb, na);
	cr_assert(memcmp(before, after, nb) == 0,
		  "%s: fsck -n changed the image", name);
	cr_assert(rc & 4, "%s: fsck -n found nothing (exit %d):\n%s", name,
		  rc, out);
	free(before);
	free(after);

	out[0] = 0;
	rc1 = run_fsck(img, "-fy", out);
	normalize(out, img);
	expect(name, "1", out, rc1);
	out[0] = 0;
	rc = run_fsck(img, "-fy", out);
	normalize(out, img);
	/* the contract, whatever the expected files say */
	cr_assert(rc1 & 4 || rc == 0, "%s: second run exit %d:\n%s", name, rc,
		  out);
	expect(name, "2", out, rc);
	if (rc == 0)
		mount_and_recheck(name, img, out);
	free(out);
	tu_rmimg(img);
}

#define CASE(n, fn)                                                           \
	Test(fsck_cases, n, .timeout = 60)                                    \
	{                                                                     \
		run_case(#n, fn);                                             \
	}

CASE(sb_zeroed, c_sb_zeroed)
CASE(sb_bitflip, c_sb_bitflip)
CASE(sb_copy_bad, c_sb_copy_bad)
CASE(torn_entry, c_torn_entry)
CASE(log_cycle, c_log_cycle)
CASE(log_outside, c_log_outside)
CASE(block_twice, c_block_twice)
CASE(orphan, c_orphan)
CASE(link_count, c_link_count)
CASE(lost_found_created, c_no_lost_found)
CASE(dir_hard_link, c_dir_hard_link)
CASE(entry_type, c_entry_type)
CASE(xattr_name, c_xattr_name)
CASE(unlinked_not_freed, c_unlinked)
CASE(dir_loop, c_dir_loop)
CASE(dotdot, c_dotdot)
CASE(entry_free_inode, c_free_inode)
CASE(size_beyond_extents, c_size)
CASE(xattr_len, c_xattr_len)
CASE(symlink_no_target, c_symlink_no_target)
CASE(xattr_namespace, c_xattr_ns)
CASE(xattr_acl, c_xattr_acl)
CASE(symlink_nul, c_symlink_nul)
CASE(root_missing, c_root_missing)
CASE(root_not_dir, c_root_not_dir)
CASE(lost_found_file, c_lost_found_file)
CASE(log_empty, c_log_empty)
CASE(bad_block, c_bad_block)
CASE(log_badblock, c_log_badblock)
CASE(log_badblock_first_page, c_log_badblock_first)
CASE(symlink_badblock, c_symlink_badblock)
CASE(journal_active, c_journal)
CASE(journal_corrupt, c_journal_corrupt)
CASE(clean_word, c_clean_word)
CASE(truncated, c_truncated)
CASE(sb_journal_wrap, c_sb_journal_wrap)
CASE(sb_itdir_wrap, c_sb_itdir_wrap)
CASE(itable_badblock, c_itable_badblock)
CASE(itable_badblock_root, c_itable_badblock_root)
CASE(dentry_dot, c_dentry_dot)
CASE(xattr_block_shared, c_xattr_block_shared)
CASE(xattr_block_own, c_xattr_block_own)
CASE(xattr_block_bad, c_xattr_block_bad)
CASE(xattr_block_outside, c_xattr_block_outside)
CASE(xattr_block_nofeature, c_xattr_block_nofeature)
CASE(xattr_acl_large, c_xattr_acl_large)

/* ---- the command line -------------------------------------------------- */

Test(fsck_cli, usage_errors)
{
	char out[4096], err[4096];
	char *none[] = { NULL, NULL };
	char *both[] = { NULL, "-n", "-y", "x", NULL };
	char *bad[] = { NULL, "-q", "x", NULL };

	tool_env();
	none[0] = both[0] = bad[0] = (char *)tu_tool("fsck.pmfs");
	cr_assert_eq(tu_run(none, out, sizeof(out), err, sizeof(err)), 16);
	cr_assert_eq(tu_run(both, out, sizeof(out), err, sizeof(err)), 16);
	cr_assert_eq(tu_run(bad, out, sizeof(out), err, sizeof(err)), 16);
}

Test(fsck_cli, no_terminal_means_read_only)
{
	char *img = good_image();
	char *out = calloc(1, OUTSZ), err[4096];
	char *before, *after;
	size_t nb, na;

	dmg_open(img);
	c_link_count(img);
	dmg_close();
	before = read_all(img, &nb);
	{
		char *av[] = { (char *)tu_tool("fsck.pmfs"), "-f", img, NULL };

		/* stdin is /dev/null: nobody to ask */
		cr_assert_eq(tu_run(av, out, OUTSZ, err, sizeof(err)), 4,
			     "%s", out);
	}
	after = read_all(img, &na);
	cr_assert(nb == na && memcmp(before, after, nb) == 0);
	cr_assert(strstr(err, "read-only"), "%s", err);
	free(before);
	free(after);
	free(out);
	tu_rmimg(img);
}

Test(fsck_cli, missing_device_is_operational_error)
{
	char out[4096], err[4096];
	char *av[] = { NULL, "-n", "/dev/shm/no-such-pmfs-image", NULL };

	tool_env();
	av[0] = (char *)tu_tool("fsck.pmfs");
	cr_assert_eq(tu_run(av, out, sizeof(out), err, sizeof(err)), 8);
}

Test(fsck_cli, not_a_pmfs)
{
	char *img = tu_tmpimg(IMG_SIZE);
	char *out = calloc(1, OUTSZ);

	tool_env();
	cr_assert_eq(run_fsck(img, "-n", out) & 8, 8, "%s", out);
	cr_assert(strstr(out, "No pmfs superblock"), "%s", out);
	free(out);
	tu_rmimg(img);
}

Test(fsck_cli, clean_fast_path_and_force)
{
	char *img = good_image();
	char *out = calloc(1, OUTSZ);

	cr_assert_eq(run_fsck(img, "-n", out), 0, "%s", out);
	cr_assert(strstr(out, ": clean,"), "%s", out);
	out[0] = 0;
	cr_assert_eq(run_fsck(img, "-fn", out), 0, "%s", out);
	cr_assert(strstr(out, "0 problems found"), "%s", out);
	out[0] = 0;
	cr_assert_eq(run_fsck(img, "-fp", out), 0, "%s", out);
	free(out);
	tu_rmimg(img);
}

Test(fsck_cli, verbose_lists_every_pass)
{
	char *img = good_image();
	char *out = calloc(1, OUTSZ);
	char *p = out;
	int n = 0;

	cr_assert_eq(run_fsck(img, "-fnv", out), 0, "%s", out);
	while ((p = strstr(p, "\nPass ")) != NULL) {
		n++;
		p++;
	}
	cr_assert_eq(n, 6, "%s", out);
	cr_assert(strstr(out, "flush "), "the flush path is shown: %s", out);
	free(out);
	tu_rmimg(img);
}

Test(fsck_cli, json)
{
	char *img = good_image();
	char *out = calloc(1, OUTSZ);
	char av1[] = "--json";

	dmg_open(img);
	c_link_count(img);
	dmg_close();
	{
		char err[4096];
		char *av[] = { (char *)tu_tool("fsck.pmfs"), "-fn", av1, img,
			       NULL };

		cr_assert_eq(tu_run(av, out, OUTSZ, err, sizeof(err)), 4);
	}
	cr_assert(strstr(out, "\"code\": \"link-count\""), "%s", out);
	cr_assert(strstr(out, "\"counts\": {\"found\": 1, \"fixed\": 0, "
			      "\"left\": 1}"),
		  "%s", out);
	free(out);
	tu_rmimg(img);
}

/* -n checks the state a replay gives: only the replay is reported. */
Test(fsck_cli, check_sees_journal_as_replayed)
{
	char *img = good_image();
	char *out = calloc(1, OUTSZ);

	dmg_open(img);
	c_journal(img);
	dmg_close();
	cr_assert_eq(run_fsck(img, "-fn", out), 4, "%s", out);
	cr_assert(strstr(out, "1 problem found"), "%s", out);
	cr_assert(strstr(out, "interrupted operation.  Replay? no"), "%s",
		  out);
	free(out);
	tu_rmimg(img);
}

Test(fsck_cli, preen_fixes_only_safe_problems)
{
	char *img = good_image();
	char *out = calloc(1, OUTSZ);

	/* a replay is safe; a wrong link count needs a human */
	dmg_open(img);
	c_journal(img);
	c_link_count(img);
	dmg_close();
	cr_assert_eq(run_fsck(img, "-fp", out), 1 | 4, "%s", out);
	out[0] = 0;
	cr_assert_eq(run_fsck(img, "-fp", out), 4, "%s", out);
	cr_assert(strstr(out, "link count 3, should be 1"), "%s", out);
	out[0] = 0;
	cr_assert_eq(run_fsck(img, "-fy", out), 1, "%s", out);
	out[0] = 0;
	cr_assert_eq(run_fsck(img, "-fp", out), 0, "%s", out);
	free(out);
	tu_rmimg(img);
}

/* ---- the mount and fsck agree: states the core makes in normal use ---- */

static struct fs *mount_img(const char *img, struct pmio **p, unsigned flags)
{
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	struct fs_opts o = { .flags = flags };
	char err[256] = "";
	struct fs *fs;

	cr_assert_eq(pmio_open(img, &po, p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fs_mount_pmio(*p, &o, &fs, NULL, err, sizeof(err)), 0,
		     "%s", err);
	return fs;
}

static int next_cookie(void *arg, const char *name, uint64_t ino,
		       unsigned dt, uint64_t next)
{
	uint64_t *c = arg;

	(void)name, (void)ino, (void)dt;
	if (next > *c)
		*c = next;
	return 0;
}

/* The DENTRY_DEL entries of dir's log, in order: how many, the last one. */
static int last_del(uint64_t dir, struct pmfs_le_dentry **last)
{
	int n = 0;

	*last = NULL;
	for (;; n++) {
		struct pmfs_inode *sl = ilog_slot(&D, dir);
		struct find fd = { PMFS_LE_DENTRY_DEL, n, 0, NULL, 0, 0, 0 };

		ilog_walk(&D, dir, sl->head, sl->tail, find_cb, NULL, &fd, true,
			  NULL);
		if (!fd.e)
			return n;
		*last = (void *)fd.e;
	}
}

/* Compact a directory whose newest entry was removed; a new entry must
 * still get a cookie above every one used before. */
static uint64_t gc_dir_after_removal(const char *img, uint64_t *removed)
{
	struct pmio *p;
	struct fs *fs = mount_img(img, &p, 0);
	uint64_t c = 0;

	mk(fs, P.many, "newest", S_IFREG | 0644);
	cr_assert_eq(fs_readdir(fs, P.many, 0, next_cookie, &c), 0);
	*removed = c - 1; /* "newest" holds the highest cookie */
	cr_assert_eq(fs_unlink(fs, P.many, "newest"), 0);
	cr_assert_eq(fs_gc(fs, P.many), 0);
	cr_assert_eq(fs_unmount(fs), 0);
	pmio_close(p);
	return c;
}

/* After the compaction: fsck clean, the readers agree, cookies grow. */
static void check_after_gc(const char *img, uint64_t removed)
{
	char *out = calloc(1, OUTSZ);
	struct differ_result dr;
	struct pmio *p;
	struct fs *fs;
	uint64_t c = 0;

	cr_assert_eq(run_fsck(img, "-fn", out), 0, "%s", out);
	cr_assert_eq(differ_check(img, &dr), 0, "%s", dr.why);
	cr_assert(dr.compared);
	fs = mount_img(img, &p, 0);
	mk(fs, P.many, "after", S_IFREG | 0644);
	cr_assert_eq(fs_readdir(fs, P.many, 0, next_cookie, &c), 0);
	cr_assert_gt(c - 1, removed, "cookie %lu reused", (unsigned long)removed);
	cr_assert_eq(fs_gc(fs, P.many), 0);
	cr_assert_eq(fs_unmount(fs), 0);
	pmio_close(p);
	out[0] = 0;
	cr_assert_eq(run_fsck(img, "-fn", out), 0, "%s", out);
	free(out);
}

Test(fsck_agrees, gc_of_a_directory_whose_newest_entry_is_gone)
{
	char *img = good_image();
	struct pmfs_le_dentry *del;
	uint64_t removed;

	gc_dir_after_removal(img, &removed);
	/* the compacted log keeps the highest cookie with the removed
	 * entry's own DEL, a valid name */
	dmg_open(img);
	cr_assert_eq(last_del(P.many, &del), 1);
	cr_assert_eq(del->cookie, removed);
	cr_assert_eq(del->name_len, 6);
	cr_assert(memcmp(del->name, "newest", 6) == 0);
	dmg_close();
	check_after_gc(img, removed);
	tu_rmimg(img);
}

Test(fsck_agrees, legacy_cookie_marker_stays_valid)
{
	char *img = good_image();
	struct pmfs_le_dentry *del;
	uint64_t removed;

	gc_dir_after_removal(img, &removed);
	/* what compaction wrote before: a DEL named "." with inode 0 (both
	 * entries are 72 bytes long) */
	dmg_open(img);
	cr_assert_eq(last_del(P.many, &del), 1);
	cr_assert_eq(fmt_dentry_len(1), del->h.len);
	memset(del->name, 0, del->name_len);
	del->name[0] = '.';
	del->name_len = 1;
	del->ino = 0;
	del->gen = 0;
	del->ftype = 0;
	reseal(P.many, &del->h);
	dmg_close();
	check_after_gc(img, removed);
	tu_rmimg(img);
}

Test(fsck_agrees, rmdir_of_a_held_directory_then_a_crash)
{
	char *img = good_image();
	char *out = calloc(1, OUTSZ);
	struct differ_result dr;
	struct fs_attr a;
	struct pmio *p;
	struct fs *fs = mount_img(img, &p, FS_O_REFCOUNT);

	/* a process has it as its working directory: the kernel holds a
	 * lookup reference, the inode outlives the rmdir until FORGET */
	mk(fs, PMFS_ROOT_INO, "held", S_IFDIR | 0755);
	cr_assert_eq(fs_lookup(fs, PMFS_ROOT_INO, "held", &a), 0);
	cr_assert_eq(fs_rmdir(fs, PMFS_ROOT_INO, "held"), 0);
	fs_abandon(fs); /* the crash */
	pmio_close(p);
	cr_assert_eq(differ_check(img, &dr), 0, "%s", dr.why);
	cr_assert(dr.compared && dr.findings == 1, "%u findings",
		  dr.findings);
	/* preen frees it, as the mount does; nothing comes back */
	cr_assert_eq(run_fsck(img, "-p", out), 1, "%s", out);
	cr_assert(strstr(out, "(directory) has no links and no name"), "%s",
		  out);
	out[0] = 0;
	cr_assert_eq(run_fsck(img, "-fn", out), 0, "%s", out);
	fs = mount_img(img, &p, 0);
	cr_assert_eq(fs_lookup(fs, PMFS_ROOT_INO, "held", &a), -ENOENT);
	cr_assert_eq(fs_lookup(fs, PMFS_LOSTFOUND_INO, "held", &a), -ENOENT);
	cr_assert_eq(fs_unmount(fs), 0);
	pmio_close(p);
	free(out);
	tu_rmimg(img);
}

/* The lock held as mount.pmfs holds it: -y and -p refuse, -n warns on
 * its first line that the results are not reliable, then checks. */
Test(fsck_cli, refuses_to_repair_a_locked_device)
{
	char *img = good_image();
	char *out = calloc(1, OUTSZ);
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	struct pmio *p;

	/* hold the lock mount.pmfs holds while mounted */
	cr_assert_eq(pmio_open(img, &po, &p, NULL, 0), 0);
	cr_assert_eq(run_fsck(img, "-fy", out), 8, "%s", out);
	cr_assert(strstr(out, "refusing to repair"), "%s", out);
	out[0] = 0;
	cr_assert_eq(run_fsck(img, "-p", out), 8, "%s", out);
	cr_assert(strstr(out, "refusing to repair"), "%s", out);
	/* -n checks, after a warning on its first line */
	out[0] = 0;
	cr_assert_eq(run_fsck(img, "-fn", out), 0, "%s", out);
	cr_assert(!strncmp(out, "fsck.pmfs: WARNING: ", 20) &&
			  strstr(out, "in use (mounted") &&
			  strstr(out, "not reliable\n"),
		  "%s", out);
	pmio_close(p);
	out[0] = 0;
	cr_assert_eq(run_fsck(img, "-fn", out), 0, "%s", out);
	cr_assert(!strstr(out, "WARNING"), "%s", out);
	out[0] = 0;
	cr_assert_eq(run_fsck(img, "-fy", out), 0, "%s", out);
	free(out);
	tu_rmimg(img);
}

/* After repairs the filesystem mounts and the data that was reachable is
 * still there. */
Test(fsck_cli, data_survives_block_copy)
{
	char *img = good_image();
	char *out = calloc(1, OUTSZ);
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	char buf[PMFS_BLOCK_SIZE], err[256];
	struct pmio *p;
	struct fs *fs;
	size_t n;

	dmg_open(img);
	c_block_twice(img);
	dmg_close();
	cr_assert_eq(run_fsck(img, "-fy", out), 1, "%s", out);
	cr_assert_eq(pmio_open(img, &po, &p, NULL, 0), 0);
	cr_assert_eq(fs_mount_pmio(p, NULL, &fs, NULL, err, sizeof(err)), 0,
		     "%s", err);
	/* file keeps its second block: byte i of the file is 1 + 7 i */
	cr_assert_eq(fs_pread(fs, P.file, buf, sizeof(buf), PMFS_BLOCK_SIZE,
			      &n),
		     0);
	cr_assert_eq(n, sizeof(buf));
	for (size_t i = 0; i < n; i++)
		cr_assert_eq((uint8_t)buf[i],
			     (uint8_t)(1 + (PMFS_BLOCK_SIZE + i) * 7));
	/* f2 now reads the copy of that block, in a block of its own */
	cr_assert_eq(fs_pread(fs, P.f2, buf, sizeof(buf), 0, &n), 0);
	cr_assert_eq((uint8_t)buf[0], (uint8_t)(1 + PMFS_BLOCK_SIZE * 7));
	cr_assert_eq(fs_unmount(fs), 0);
	pmio_close(p);
	free(out);
	tu_rmimg(img);
}

/* ---- on a terminal: questions, cancel, progress ------------------------ */

/*
 * Run fsck.pmfs FLAGS IMG on a pseudo-terminal (stdin, stdout and stderr
 * are the terminal, as at a console).  Each time a question ("<y>? ")
 * appears, the next string of answers is typed ("\003" is Ctrl-C, "\004"
 * Ctrl-D); a question with no answer left gets Ctrl-D.  The terminal
 * output lands in out; returns the exit status.
 */
static int pty_fsck(const char *img, const char *flags,
		    const char *const *answers, char *out, size_t outsz)
{
	char tool[4096];
	size_t len = 0;
	int nprompt = 0, fd, st;
	pid_t pid;

	tool_env();
	snprintf(tool, sizeof(tool), "%s", tu_tool("fsck.pmfs"));
	pid = forkpty(&fd, NULL, NULL, NULL);
	cr_assert_neq(pid, -1, "forkpty: %s", strerror(errno));
	if (pid == 0) {
		char *av[] = { tool, (char *)flags, (char *)img, NULL };

		execv(tool, av);
		_exit(127);
	}
	out[0] = 0;
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t n;
		int seen = 0;

		/* a bound against a hang, not a timing assertion */
		if (poll(&pfd, 1, 30000) <= 0)
			break;
		n = read(fd, out + len, outsz - 1 - len);
		if (n <= 0)
			break; /* EIO: the child closed the terminal */
		len += (size_t)n;
		out[len] = 0;
		for (const char *p = out; (p = strstr(p, "<y>? ")); p++)
			seen++;
		while (nprompt < seen) {
			const char *a = answers && answers[nprompt]
						? answers[nprompt]
						: "\004";

			cr_assert_eq(write(fd, a, strlen(a)), (ssize_t)strlen(a));
			nprompt++;
		}
		if (len + 1 >= outsz)
			break;
	}
	close(fd);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "fsck died: %#x\n%s", st, out);
	return WEXITSTATUS(st);
}

/* Two problems, each with a question: a link count and a wrong '..'. */
static char *two_problem_image(void)
{
	char *img = good_image();

	dmg_open(img);
	c_link_count(img);
	c_dotdot(img);
	dmg_close();
	return img;
}

static int count_of(const char *s, const char *what)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, what)); p++)
		n++;
	return n;
}

static int fsck_n(const char *img)
{
	char *out = calloc(1, OUTSZ);
	int r;

	cr_assert_not_null(out);
	r = run_fsck(img, "-fn", out);
	free(out);
	return r;
}

Test(fsck_tty, answer_yes_repairs)
{
	char *img = two_problem_image();
	char *out = calloc(1, OUTSZ);
	const char *const ans[] = { "y\n", "y\n", NULL };

	cr_assert_eq(pty_fsck(img, "-f", ans, out, OUTSZ), 1, "%s", out);
	cr_assert_eq(count_of(out, "<y>? "), 2, "%s", out);
	cr_assert(strstr(out, "link count 3, should be 1.  Fix it<y>? "), "%s",
		  out);
	cr_assert(strstr(out, "FILE SYSTEM WAS MODIFIED"), "%s", out);
	cr_assert_eq(fsck_n(img), 0);
	free(out);
	tu_rmimg(img);
}

Test(fsck_tty, answer_no_changes_nothing)
{
	char *img = two_problem_image();
	char *out = calloc(1, OUTSZ);
	const char *const ans[] = { "n\n", "n\n", NULL };
	char *before, *after;
	size_t nb, na;

	before = read_all(img, &nb);
	cr_assert_eq(pty_fsck(img, "-f", ans, out, OUTSZ), 4, "%s", out);
	after = read_all(img, &na);
	cr_assert(nb == na && memcmp(before, after, nb) == 0,
		  "answering no changed the image");
	cr_assert_eq(count_of(out, "<y>? "), 2, "%s", out);
	cr_assert(strstr(out, "ERRORS LEFT UNCORRECTED"), "%s", out);
	free(before);
	free(after);
	free(out);
	tu_rmimg(img);
}

Test(fsck_tty, yes_then_no)
{
	char *img = two_problem_image();
	char *out = calloc(1, OUTSZ);
	const char *const ans[] = { "y\n", "n\n", NULL };

	cr_assert_eq(pty_fsck(img, "-f", ans, out, OUTSZ), 1 | 4, "%s", out);
	/* one of the two is still there */
	cr_assert_eq(fsck_n(img), 4);
	free(out);
	tu_rmimg(img);
}

Test(fsck_tty, answer_all)
{
	char *img = two_problem_image();
	char *out = calloc(1, OUTSZ);
	const char *const ans[] = { "what\n", "a\n", NULL };

	cr_assert_eq(pty_fsck(img, "-f", ans, out, OUTSZ), 1, "%s", out);
	/* asked again after a bad answer, then never again */
	cr_assert_eq(count_of(out, "<y>? "), 2, "%s", out);
	cr_assert(strstr(out, "Answer y (yes), n (no) or a"), "%s", out);
	cr_assert_eq(fsck_n(img), 0);
	free(out);
	tu_rmimg(img);
}

Test(fsck_tty, eof_cancels)
{
	char *img = two_problem_image();
	char *out = calloc(1, OUTSZ);
	const char *const ans[] = { "\004", NULL };
	int r = pty_fsck(img, "-f", ans, out, OUTSZ);

	cr_assert_eq(r, 4 | 32, "%s", out);
	cr_assert_eq(count_of(out, "<y>? "), 1, "no question after a "
						  "cancel:\n%s", out);
	cr_assert(strstr(out, "check cancelled"), "%s", out);
	free(out);
	tu_rmimg(img);
}

Test(fsck_tty, ctrl_c_cancels_after_a_repair)
{
	char *img = two_problem_image();
	char *out = calloc(1, OUTSZ);
	const char *const ans[] = { "y\n", "\003", NULL };
	int r = pty_fsck(img, "-f", ans, out, OUTSZ);

	/* the first repair is done, the second left, the run cancelled */
	cr_assert_eq(r, 1 | 4 | 32, "%s", out);
	cr_assert_eq(count_of(out, "<y>? "), 2, "%s", out);
	cr_assert(strstr(out, "check cancelled"), "%s", out);
	/* not marked clean: the next run checks (and finds the second) */
	cr_assert_eq(fsck_n(img), 4);
	free(out);
	tu_rmimg(img);
}

Test(fsck_tty, progress_on_a_terminal_only)
{
	char *img = good_image();
	char *out = calloc(1, OUTSZ);

	cr_assert_eq(pty_fsck(img, "-fn", NULL, out, OUTSZ), 0, "%s", out);
	for (int pass = 3; pass <= 6; pass++) {
		char want[32];

		snprintf(want, sizeof(want), "\rPass %d: ", pass);
		cr_assert(strstr(out, want), "no progress for pass %d:\n%s",
			  pass, out);
	}
	cr_assert(strstr(out, "\r\033[K"), "the progress line is cleared");
	/* never with -p (parallel checks at boot) */
	cr_assert_eq(pty_fsck(img, "-fp", NULL, out, OUTSZ), 0, "%s", out);
	cr_assert_null(strstr(out, "\rPass"), "%s", out);
	/* nor with --json (it checks every pass even when clean) */
	cr_assert_eq(pty_fsck(img, "--json", NULL, out, OUTSZ), 0, "%s", out);
	cr_assert(strstr(out, "\"found\": 0"), "%s", out);
	cr_assert_null(strstr(out, "\rPass"), "%s", out);
	/* never when stderr is not a terminal (run_fsck: pipes) */
	out[0] = 0;
	cr_assert_eq(run_fsck(img, "-fn", out), 0, "%s", out);
	cr_assert_null(strstr(out, "\rPass"), "%s", out);
	free(out);
	tu_rmimg(img);
}
