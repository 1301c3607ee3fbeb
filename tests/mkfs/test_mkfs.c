/*
 * test_mkfs.c - mkfs.pmfs run as a tool: the image it makes is read back
 * with plain file I/O and checked structure by structure (superblock and
 * copy, bad-block table, chunk 0 and the root / lost+found slots, their
 * log pages and entries, the saved allocator state accounting for every
 * block); the refusals (existing pmfs, ext4, xfs, btrfs, bad sizes,
 * labels, uuids, paths, bad-block lists) each exit 1 with one line on
 * stderr; -n writes nothing; -q prints nothing; -l keeps blocks out of use.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/fmt.h"
#include "testutil.h"

#define MiB (1ull << 20)

static char out[16384], err[16384];

/* Run mkfs.pmfs with the given arguments (NULL-terminated). */
static int mkfs(const char *arg, ...)
{
	char *argv[32];
	int n = 0;
	va_list ap;

	argv[n++] = (char *)tu_tool("mkfs.pmfs");
	va_start(ap, arg);
	for (const char *a = arg; a && n < 31; a = va_arg(ap, const char *))
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	return tu_run(argv, out, sizeof(out), err, sizeof(err));
}

/* Read a whole file into a malloc'd buffer. */
static uint8_t *slurp(const char *path, uint64_t *size)
{
	struct stat st;
	uint8_t *buf;
	FILE *f;

	cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
	buf = malloc((size_t)st.st_size + 1);
	cr_assert_not_null(buf);
	f = fopen(path, "rb");
	cr_assert_not_null(f);
	cr_assert_eq(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
	fclose(f);
	*size = (uint64_t)st.st_size;
	return buf;
}

/* Write len bytes at off of an existing file. */
static void poke(const char *path, uint64_t off, const void *src, size_t len)
{
	int fd = open(path, O_WRONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, src, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* A path that does not exist yet, in a fresh directory. */
static char *newpath(char **dir)
{
	char *p = malloc(4096);

	*dir = tu_tmpdir();
	snprintf(p, 4096, "%s/img.pmfs", *dir);
	return p;
}

/* Walk inode ino's log; returns the number of entries, checks each. */
static int walk_log(const uint8_t *img, const struct pmfs_inode *slot,
		    uint64_t ino, const uint8_t **first, const uint8_t **second)
{
	const struct pmfs_logpage *pg;
	uint64_t off, seq = 1;
	int n = 0;
	char why[160];

	cr_assert_neq(slot->tail, 0u, "inode %lu in use", (unsigned long)ino);
	cr_assert_eq(slot->head % PMFS_BLOCK_SIZE, 0u);
	cr_assert_eq(slot->gen, 1u);
	cr_assert_geq(slot->tail, slot->head + sizeof(*pg));
	cr_assert_leq(slot->tail, slot->head + PMFS_BLOCK_SIZE);
	pg = (const void *)(img + slot->head);
	cr_assert_eq(fmt_logpage_check(pg, ino), 0, "log page of %lu",
		     (unsigned long)ino);
	cr_assert_eq(pg->seq, 0u);
	cr_assert_eq(pg->next, 0u);
	for (off = slot->head + sizeof(*pg); off < slot->tail;) {
		const struct pmfs_lentry *e = (const void *)(img + off);

		cr_assert_eq(fmt_entry_check(ino, e,
					     slot->head + PMFS_BLOCK_SIZE - off,
					     why, sizeof(why)),
			     0, "inode %lu entry %d: %s", (unsigned long)ino, n,
			     why);
		cr_assert_eq(e->crc, fmt_entry_crc(ino, e));
		cr_assert_eq(e->seq, seq++);
		if (n == 0 && first)
			*first = (const void *)e;
		if (n == 1 && second)
			*second = (const void *)e;
		n++;
		off += e->len;
	}
	cr_assert_eq(off, slot->tail, "tail on an entry boundary");
	return n;
}

/* Is blk inside [start, start+len)? */
static int in(uint64_t blk, uint64_t start, uint64_t len)
{
	return blk >= start && blk - start < len;
}

/* Check a made image completely; returns its superblock copy. */
static struct pmfs_super check_image(const char *path)
{
	uint64_t size, chunk, used, nsave = 0, free_sum = 0, prev_end = 0;
	uint8_t *img = slurp(path, &size);
	const struct pmfs_super *sb = (const void *)img;
	const struct pmfs_sb_state *st = (const void *)(img + PMFS_SB_STATE_OFF);
	const struct pmfs_badblocks *bb;
	const struct pmfs_inode *slots;
	const struct pmfs_le_attr *a;
	const struct pmfs_le_dentry *d;
	const le64 *itdir;
	uint64_t save_blk[8];
	struct pmfs_super ret;
	char why[160];

	cr_assert_eq(fmt_super_check(sb, size, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(memcmp(sb, img + PMFS_BLOCK_SIZE, sizeof(*sb)), 0,
		     "superblock copy identical");
	ret = *sb;

	bb = (const void *)(img + fmt_blk_off(PMFS_BADBLK_BLOCK));
	cr_assert_eq(bb->magic, PMFS_BADBLK_MAGIC);
	cr_assert_leq(bb->count, PMFS_BADBLK_MAX);
	cr_assert_eq(bb->crc, fmt_badblocks_crc(bb));
	for (uint32_t i = 1; i < bb->count; i++)
		cr_assert_lt(bb->blk[i - 1], bb->blk[i], "sorted");

	/* journals idle */
	for (uint64_t b = sb->journal_start; b < sb->journal_start + sb->nlanes;
	     b++)
		cr_assert_eq(((const struct pmfs_journal *)(img + fmt_blk_off(b)))
				     ->state,
			     0u);
	itdir = (const void *)(img + fmt_blk_off(sb->itdir_start));
	chunk = itdir[0];
	cr_assert_geq(chunk, sb->data_start);
	for (size_t i = 1; i < PMFS_ITDIR_ENTRIES; i++)
		cr_assert_eq(itdir[i], 0u, "itdir word %zu", i);
	cr_assert_eq(fmt_inode_off(itdir, sb->total_blocks, 1),
		     fmt_blk_off(chunk) + PMFS_INODE_SIZE);
	slots = (const void *)(img + fmt_blk_off(chunk));
	cr_assert_eq(slots[0].tail, 0u, "slot 0 unused");
	cr_assert_eq(slots[3].tail, 0u, "slot 3 unused");

	/* root: attr + dentry for lost+found */
	a = NULL;
	d = NULL;
	cr_assert_eq(walk_log(img, &slots[1], 1, (const uint8_t **)&a,
			      (const uint8_t **)&d),
		     2);
	cr_assert_eq(a->h.type, PMFS_LE_ATTR);
	cr_assert_eq(a->mask, PMFS_AT_ALL);
	cr_assert_eq(a->mode, S_IFDIR | 0755);
	cr_assert_eq(a->nlink, 3u);
	cr_assert_eq(a->parent, 1u);
	cr_assert_eq(a->uid, 0u);
	cr_assert_neq(a->mtime.sec, 0u);
	cr_assert_eq(d->h.type, PMFS_LE_DENTRY_ADD);
	cr_assert_eq(d->ino, 2u);
	cr_assert_eq(d->cookie, 1u);
	cr_assert_eq(d->gen, 1u);
	cr_assert_eq(d->dir_nlink, 3u);
	cr_assert_eq(d->ftype, DT_DIR);
	cr_assert_eq(d->name_len, 10);
	cr_assert_eq(memcmp(d->name, "lost+found", 10), 0);
	/* lost+found: one attr */
	a = NULL;
	cr_assert_eq(walk_log(img, &slots[2], 2, (const uint8_t **)&a, NULL),
		     1);
	cr_assert_eq(a->mode, S_IFDIR | 0700);
	cr_assert_eq(a->nlink, 2u);
	cr_assert_eq(a->parent, 1u);

	/* allocator state: accounts for every data block exactly once */
	cr_assert_eq(st->clean, PMFS_STATE_CLEAN);
	cr_assert_eq(st->used_inodes, 2u);
	cr_assert_eq(st->mount_count, 0u);
	for (uint64_t b = st->alloc_head; b; nsave++) {
		const struct pmfs_allocsave *as = (const void *)(img +
								 fmt_blk_off(b));

		cr_assert_lt(nsave, 8u);
		cr_assert_geq(b, sb->data_start);
		cr_assert_lt(b, sb->total_blocks);
		save_blk[nsave] = b;
		cr_assert_eq(as->magic, PMFS_ALLOCSAVE_MAGIC);
		cr_assert_eq(as->seq, nsave);
		cr_assert_leq(as->count, PMFS_ALLOCSAVE_MAX);
		cr_assert_eq(as->crc, fmt_allocsave_crc(as));
		b = as->next;
	}
	cr_assert_geq(nsave, 1u);
	for (uint64_t s = 0; s < nsave; s++) {
		const struct pmfs_allocsave *as =
			(const void *)(img + fmt_blk_off(save_blk[s]));

		for (uint64_t i = 0; i < as->count; i++) {
			const struct pmfs_extent *x = &as->ext[i];

			cr_assert_gt(x->len, 0u);
			cr_assert_geq(x->start, sb->data_start);
			cr_assert_geq(x->start, prev_end, "sorted, disjoint");
			cr_assert_leq(x->start + x->len, sb->total_blocks);
			prev_end = x->start + x->len;
			free_sum += x->len;
			for (uint32_t k = 0; k < bb->count; k++)
				cr_assert(!in(bb->blk[k], x->start, x->len),
					  "bad block %lu is free",
					  (unsigned long)bb->blk[k]);
			for (uint64_t k = 0; k < nsave; k++)
				cr_assert(!in(save_blk[k], x->start, x->len),
					  "save block is free");
			cr_assert(x->start + x->len <= chunk ||
					  x->start >= chunk + PMFS_CHUNK_BLOCKS,
				  "chunk 0 is free");
			cr_assert(!in(fmt_off_blk(slots[1].head), x->start,
				      x->len));
			cr_assert(!in(fmt_off_blk(slots[2].head), x->start,
				      x->len));
		}
	}
	cr_assert_eq(free_sum, st->free_blocks);
	used = PMFS_CHUNK_BLOCKS + 2 + nsave + bb->count;
	cr_assert_eq(free_sum + used, sb->total_blocks - sb->data_start,
		     "free %lu + used %lu == data blocks",
		     (unsigned long)free_sum, (unsigned long)used);
	free(img);
	return ret;
}

Test(mkfs, creates_64m_image)
{
	char *dir, *path = newpath(&dir);
	struct pmfs_super sb;
	struct stat st;
	int rc;

	rc = mkfs("--size", "64M", "-L", "mylabel", "-U",
		  "0123abcd-4567-89ef-0123-456789abcdef", path, NULL);
	cr_assert_eq(rc, 0, "rc %d: %s", rc, err);
	cr_expect_str_empty(err);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq((uint64_t)st.st_size, 64 * MiB);
	sb = check_image(path);
	cr_expect_eq(sb.total_blocks, 16384u);
	cr_expect_str_eq((char *)sb.label, "mylabel");
	cr_expect_eq(sb.uuid[0], 0x01);
	cr_expect_eq(sb.uuid[15], 0xef);
	cr_expect_neq(sb.mkfs_time, 0u);
	/* the summary */
	cr_expect_not_null(strstr(out, "64.0 MiB"), "%s", out);
	cr_expect_not_null(strstr(out, "0123abcd-4567-89ef-0123-456789abcdef"));
	cr_expect_not_null(strstr(out, "mylabel"));
	cr_expect_not_null(strstr(out, "flush path:"));
	cr_expect_not_null(strstr(out, "granularity:"));
	cr_expect_not_null(strstr(out, "lanes:"));
	cr_expect_not_null(strstr(out, "bad blocks:"));
	cr_expect_not_null(strstr(out, "features:     large_xattr"), "%s",
			   out);
	cr_expect_eq(sb.feature_incompat, PMFS_FEATURE_INCOMPAT_LARGE_XATTR);
	free(path);
	tu_rmtree(dir);
}

/* -O turns features off (^name) and on again; the last word wins. */
Test(mkfs, features_option)
{
	char *img = tu_tmpimg(16 * MiB);

	cr_assert_eq(mkfs("-f", "-O", "^large_xattr", img, NULL), 0, "%s",
		     err);
	cr_expect_eq(check_image(img).feature_incompat, 0u);
	cr_expect_not_null(strstr(out, "features:     (none)"), "%s", out);
	cr_assert_eq(mkfs("-q", "-f", "--features=^large_xattr,large_xattr",
			  img, NULL),
		     0, "%s", err);
	cr_expect_eq(check_image(img).feature_incompat,
		     PMFS_FEATURE_INCOMPAT_LARGE_XATTR);
	tu_rmimg(img);
}

Test(mkfs, random_uuids_differ)
{
	char *img = tu_tmpimg(16 * MiB);
	struct pmfs_super a, b;

	cr_assert_eq(mkfs("-q", img, NULL), 0, "%s", err);
	a = check_image(img);
	cr_assert_eq(mkfs("-q", "-f", img, NULL), 0, "%s", err);
	b = check_image(img);
	cr_expect_neq(memcmp(a.uuid, b.uuid, 16), 0);
	cr_expect_eq(b.uuid[6] >> 4, 4, "version 4 uuid");
	tu_rmimg(img);
}

Test(mkfs, minimum_size_and_odd_size)
{
	char *img = tu_tmpimg(8 * MiB);
	char *odd = tu_tmpimg(8 * MiB + 1000);

	cr_assert_eq(mkfs("-q", img, NULL), 0, "%s", err);
	cr_expect_eq(check_image(img).total_blocks, 2048u);
	cr_assert_eq(mkfs("-q", odd, NULL), 0, "%s", err);
	cr_expect_eq(check_image(odd).total_blocks, 2048u);
	tu_rmimg(img);
	tu_rmimg(odd);
}

Test(mkfs, refuses_existing_pmfs_without_force)
{
	char *img = tu_tmpimg(16 * MiB);
	uint64_t n1, n2;
	uint8_t *before, *after;

	cr_assert_eq(mkfs("-q", "-L", "first", img, NULL), 0, "%s", err);
	before = slurp(img, &n1);
	cr_assert_eq(mkfs(img, NULL), 1);
	cr_expect_eq(tu_lines(err), 1, "%s", err);
	cr_expect_not_null(strstr(err, "pmfs"), "%s", err);
	cr_expect_not_null(strstr(err, "first"), "%s", err);
	cr_expect_not_null(strstr(err, "-f"), "%s", err);
	after = slurp(img, &n2);
	cr_assert_eq(n1, n2);
	cr_expect_eq(memcmp(before, after, n1), 0, "image unchanged");
	/* only the copy left: still refused */
	memset(before, 0, 512);
	poke(img, 0, before, 512);
	cr_assert_eq(mkfs(img, NULL), 1);
	cr_expect_not_null(strstr(err, "pmfs"), "%s", err);
	/* a damaged one too */
	poke(img, PMFS_BLOCK_SIZE + 100, "garbage", 7);
	cr_assert_eq(mkfs(img, NULL), 1);
	cr_expect_not_null(strstr(err, "damaged pmfs"), "%s", err);
	cr_assert_eq(mkfs("-f", "-q", img, NULL), 0, "%s", err);
	check_image(img);
	free(before);
	free(after);
	tu_rmimg(img);
}

/* Expect mkfs to refuse img naming `name`, then to make it with -f. */
static void expect_foreign(char *img, const char *name)
{
	cr_assert_eq(mkfs(img, NULL), 1, "%s not refused", name);
	cr_expect_eq(tu_lines(err), 1, "%s", err);
	cr_expect_not_null(strstr(err, name), "want '%s' in: %s", name, err);
	cr_expect_not_null(strstr(err, "-f"), "%s", err);
	cr_assert_eq(mkfs("-q", "-f", img, NULL), 0, "%s", err);
	check_image(img);
}

Test(mkfs, refuses_ext4)
{
	char *img = tu_tmpimg(64 * MiB);
	char *argv[] = { "/sbin/mkfs.ext4", "-q", "-F", img, NULL };

	if (access(argv[0], X_OK) == 0) {
		cr_assert_eq(tu_run(argv, NULL, 0, NULL, 0), 0);
	} else {
		uint8_t magic[2] = { 0x53, 0xef };
		uint32_t incompat = 0x40;

		poke(img, 1080, magic, 2);
		poke(img, 1024 + 0x60, &incompat, 4);
	}
	expect_foreign(img, "ext4");
	tu_rmimg(img);
}

Test(mkfs, refuses_ext2_magic)
{
	char *img = tu_tmpimg(16 * MiB);
	uint8_t magic[2] = { 0x53, 0xef };

	poke(img, 1080, magic, 2);
	expect_foreign(img, "ext2");
	tu_rmimg(img);
}

Test(mkfs, refuses_xfs)
{
	char *img = tu_tmpimg(16 * MiB);

	poke(img, 0, "XFSB", 4);
	expect_foreign(img, "xfs");
	tu_rmimg(img);
}

Test(mkfs, refuses_btrfs)
{
	char *img = tu_tmpimg(16 * MiB);

	poke(img, 65600, "_BHRfS_M", 8);
	expect_foreign(img, "btrfs");
	tu_rmimg(img);
}

Test(mkfs, dry_run_writes_nothing)
{
	char *img = tu_tmpimg(16 * MiB);
	char *dir, *path = newpath(&dir);
	uint64_t n;
	uint8_t *buf;

	poke(img, 5 * PMFS_BLOCK_SIZE, "keep me", 7);
	cr_assert_eq(mkfs("-n", "-L", "x", img, NULL), 0, "%s", err);
	cr_expect_not_null(strstr(out, "dry run"), "%s", out);
	cr_expect_not_null(strstr(out, "16.0 MiB"), "%s", out);
	buf = slurp(img, &n);
	cr_assert_eq(n, 16 * MiB);
	cr_expect_eq(memcmp(buf + 5 * PMFS_BLOCK_SIZE, "keep me", 7), 0);
	for (uint64_t i = 0; i < n; i++)
		if (i < 5 * PMFS_BLOCK_SIZE || i >= 5 * PMFS_BLOCK_SIZE + 7)
			cr_assert_eq(buf[i], 0, "byte %lu written",
				     (unsigned long)i);
	free(buf);
	/* nor creates a file */
	cr_assert_eq(mkfs("-n", "--size", "32M", path, NULL), 0, "%s", err);
	cr_expect_not_null(strstr(out, "32.0 MiB"), "%s", out);
	cr_expect_neq(access(path, F_OK), 0, "dry run created the file");
	/* nor extends one */
	cr_assert_eq(mkfs("-n", "--size", "64M", img, NULL), 0, "%s", err);
	buf = slurp(img, &n);
	cr_expect_eq(n, 16 * MiB);
	free(buf);
	free(path);
	tu_rmtree(dir);
	tu_rmimg(img);
}

Test(mkfs, quiet_prints_nothing)
{
	char *img = tu_tmpimg(16 * MiB);

	cr_assert_eq(mkfs("-q", img, NULL), 0, "%s", err);
	cr_expect_str_empty(out);
	cr_expect_str_empty(err);
	tu_rmimg(img);
}

Test(mkfs, help_and_version)
{
	cr_assert_eq(mkfs("--help", NULL), 0);
	cr_expect_not_null(strstr(out, "Usage:"));
	cr_expect_str_empty(err);
	cr_assert_eq(mkfs("-V", NULL), 0);
	cr_expect_not_null(strstr(out, "mkfs.pmfs"));
	cr_expect_str_empty(err);
}

/* Expect a refusal: exit 1, exactly one line on stderr, no crash. */
static void expect_refusal(const char *what, int rc)
{
	cr_expect_eq(rc, 1, "%s: exit %d", what, rc);
	cr_expect_eq(tu_lines(err), 1, "%s: stderr '%s'", what, err);
	cr_expect_str_empty(out, "%s: stdout '%s'", what, out);
}

Test(mkfs, bad_input_one_line_each)
{
	char *img = tu_tmpimg(16 * MiB);
	char *small = tu_tmpimg(4 * MiB);
	char *dir, *path = newpath(&dir);
	char label[66], nodir[4200];

	memset(label, 'a', 64);
	label[64] = 0;
	snprintf(nodir, sizeof(nodir), "%s/no/such/dir/img", dir);

	expect_refusal("size 0", mkfs("--size", "0", path, NULL));
	expect_refusal("size 1M", mkfs("--size", "1M", path, NULL));
	expect_refusal("size abc", mkfs("--size", "abc", path, NULL));
	expect_refusal("size 12Q", mkfs("--size", "12Q", path, NULL));
	expect_refusal("size -64M", mkfs("--size", "-64M", path, NULL));
	expect_refusal("size overflow",
		       mkfs("--size", "99999999999999999999", path, NULL));
	expect_refusal("size 2^64", mkfs("--size", "16777216T", path, NULL));
	expect_refusal("label 64", mkfs("-L", label, img, NULL));
	expect_refusal("uuid short", mkfs("-U", "1234", img, NULL));
	expect_refusal("uuid nonhex",
		       mkfs("-U", "0123abcd-4567-89ef-0123-456789abcdeg", img,
			    NULL));
	expect_refusal("uuid dashes",
		       mkfs("-U", "0123abcd04567-89ef-0123-456789abcdef", img,
			    NULL));
	expect_refusal("unknown short", mkfs("-z", img, NULL));
	expect_refusal("unknown long", mkfs("--frobnicate", img, NULL));
	expect_refusal("missing arg", mkfs(img, "-L", NULL));
	expect_refusal("no device", mkfs("-q", NULL));
	expect_refusal("two devices", mkfs(img, img, NULL));
	expect_refusal("missing file", mkfs(path, NULL));
	expect_refusal("directory", mkfs(dir, NULL));
	expect_refusal("directory with size", mkfs("--size", "16M", dir, NULL));
	expect_refusal("no parent dir", mkfs("--size", "16M", nodir, NULL));
	expect_refusal("/proc/version", mkfs("/proc/version", NULL));
	expect_refusal("/dev/null", mkfs("/dev/null", NULL));
	expect_refusal("too small", mkfs(small, NULL));
	expect_refusal("unknown feature", mkfs("-O", "huge_files", img, NULL));
	expect_refusal("feature list", mkfs("-O", "large_xattr,,x", img, NULL));
	expect_refusal("missing -l file",
		       mkfs("-l", "/nonexistent/bb", img, NULL));
	cr_expect_neq(access(path, F_OK), 0, "a refused mkfs left a file");
	/* the images were not touched */
	cr_assert_eq(mkfs("-n", img, NULL), 0, "%s", err);
	free(path);
	tu_rmtree(dir);
	tu_rmimg(img);
	tu_rmimg(small);
}

Test(mkfs, size_extends_never_shrinks_without_force)
{
	char *img = tu_tmpimg(16 * MiB);
	struct stat st;

	cr_assert_eq(mkfs("-q", "--size", "32M", img, NULL), 0, "%s", err);
	cr_assert_eq(stat(img, &st), 0);
	cr_expect_eq((uint64_t)st.st_size, 32 * MiB);
	cr_expect_eq(check_image(img).total_blocks, 8192u);
	expect_refusal("shrink", mkfs("--size", "16M", img, NULL));
	cr_expect_not_null(strstr(err, "shrink"), "%s", err);
	cr_assert_eq(stat(img, &st), 0);
	cr_expect_eq((uint64_t)st.st_size, 32 * MiB);
	cr_assert_eq(mkfs("-q", "-f", "--size", "16M", img, NULL), 0, "%s",
		     err);
	cr_assert_eq(stat(img, &st), 0);
	cr_expect_eq((uint64_t)st.st_size, 16 * MiB);
	cr_expect_eq(check_image(img).total_blocks, 4096u);
	tu_rmimg(img);
}

/* Write a bad-block list file; returns its path. */
static char *bbfile(const char *text)
{
	char *p = tu_tmpimg(0);
	FILE *f = fopen(p, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

Test(mkfs, badblocks_list_kept_out_of_use)
{
	char *img = tu_tmpimg(16 * MiB);
	/* 80 lies inside where chunk 0 would go: the chunk moves past it */
	char *bb = bbfile("80\n\n  200\n4000\n200\n# comment\n4095\n");
	uint64_t n;
	uint8_t *buf;
	const struct pmfs_badblocks *t;
	const le64 *itdir;
	struct pmfs_super sb;

	cr_assert_eq(mkfs("-l", bb, img, NULL), 0, "%s", err);
	cr_expect_not_null(strstr(out, "4 kept out of use"), "%s", out);
	sb = check_image(img); /* no bad block is free */
	buf = slurp(img, &n);
	t = (const void *)(buf + fmt_blk_off(PMFS_BADBLK_BLOCK));
	cr_assert_eq(t->count, 4u);
	cr_expect_eq(t->blk[0], 80u);
	cr_expect_eq(t->blk[1], 200u);
	cr_expect_eq(t->blk[2], 4000u);
	cr_expect_eq(t->blk[3], 4095u);
	itdir = (const void *)(buf + fmt_blk_off(sb.itdir_start));
	cr_expect_eq(itdir[0], 81u, "chunk 0 after the bad block");
	free(buf);
	tu_rmimg(bb);
	tu_rmimg(img);
}

Test(mkfs, badblocks_many_chain_allocsave)
{
	char *img = tu_tmpimg(64 * MiB);
	char text[8192];
	size_t len = 0;
	char *bb;

	/* 500 isolated bad blocks: about 500 free extents, two save blocks */
	for (int i = 0; i < 500; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%d\n",
					1000 + 20 * i);
	bb = bbfile(text);
	cr_assert_eq(mkfs("-q", "-l", bb, img, NULL), 0, "%s", err);
	check_image(img);
	tu_rmimg(bb);
	tu_rmimg(img);
}

Test(mkfs, badblocks_refusals)
{
	char *img = tu_tmpimg(16 * MiB);
	char *meta = bbfile("10\n");
	char *beyond = bbfile("4096\n");
	char *junk = bbfile("12\nabc\n");
	char *neg = bbfile("-5\n");
	char text[8192];
	size_t len = 0;
	char *many;

	for (int i = 0; i < 600; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%d\n",
					100 + 2 * i);
	many = bbfile(text);

	expect_refusal("bad block in metadata", mkfs("-l", meta, img, NULL));
	cr_expect_not_null(strstr(err, "metadata"), "%s", err);
	expect_refusal("bad block beyond end", mkfs("-l", beyond, img, NULL));
	cr_expect_not_null(strstr(err, "beyond"), "%s", err);
	expect_refusal("junk line", mkfs("-l", junk, img, NULL));
	cr_expect_not_null(strstr(err, ":2:"), "%s", err);
	expect_refusal("negative", mkfs("-l", neg, img, NULL));
	expect_refusal("too many", mkfs("-l", many, img, NULL));
	/* nothing was written */
	cr_assert_eq(mkfs("-n", img, NULL), 0, "%s", err);
	tu_rmimg(meta);
	tu_rmimg(beyond);
	tu_rmimg(junk);
	tu_rmimg(neg);
	tu_rmimg(many);
	tu_rmimg(img);
}

Test(mkfs, refuses_namespace_in_use)
{
	char *img = tu_tmpimg(16 * MiB);
	int fd = open(img, O_RDWR);

	cr_assert_geq(fd, 0);
	/* what mount.pmfs holds while it serves the namespace */
	cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	expect_refusal("in use", mkfs(img, NULL));
	cr_expect_not_null(strstr(err, "in use"), "%s", err);
	close(fd);
	cr_assert_eq(mkfs("-q", img, NULL), 0, "%s", err);
	check_image(img);
	tu_rmimg(img);
}
