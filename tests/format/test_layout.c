/*
 * test_layout.c - pins the on-media layout of format.h (every struct size
 * and every field offset its comments list, the derived constants) and the
 * helpers of fmt.c: geometry for several namespace sizes, the superblock
 * round trip and each reason fmt_super_check rejects one, the entry, log
 * page, bad-block, allocsave and journal checksums, and inode addressing.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "format/fmt.h"

#define OFF(type, field, want)                                                \
	cr_expect_eq(offsetof(struct type, field), (size_t)(want),            \
		     #type "." #field " at %zu, want %d",                     \
		     offsetof(struct type, field), (want))

Test(layout, constants)
{
	cr_expect_eq(PMFS_BLOCK_SIZE, 4096u);
	cr_expect_eq(PMFS_INODES_PER_BLOCK, 64u);
	cr_expect_eq(PMFS_INODES_PER_CHUNK, 4096u);
	cr_expect_eq(PMFS_ITDIR_ENTRIES, 4096u);
	cr_expect_eq(PMFS_MAX_INODES, 4096ull * 4096ull);
	cr_expect_eq(PMFS_JREC_MAX, 252u);
	cr_expect_eq(PMFS_BADBLK_MAX, 510u);
	cr_expect_eq(PMFS_ALLOCSAVE_MAX, 254u);
	cr_expect_eq(PMFS_LENTRY_MAX, 4064u);
	cr_expect_eq(PMFS_SYMLINK_INLINE_MAX, 4032u);
	cr_expect_eq(PMFS_MAGIC_LEN, 8);
	cr_expect_eq(memcmp(PMFS_MAGIC, "PMFSLOG\x01", 8), 0);
	cr_expect_eq(PMFS_STATE_CLEAN, 0x4e41454c43534d50ull);
	cr_expect_eq(memcmp(&(uint64_t){ PMFS_STATE_CLEAN }, "PMSCLEAN", 8), 0);
	cr_expect_eq(PMFS_JNL_STATE_MAGIC(PMFS_JNL_STATE(5, 0xdeadbeef)),
		     PMFS_JNL_ACTIVE);
	cr_expect_eq(PMFS_JNL_STATE_NREC(PMFS_JNL_STATE(5, 0xdeadbeef)), 5u);
	cr_expect_eq(PMFS_JNL_STATE_CRC(PMFS_JNL_STATE(5, 0xdeadbeef)),
		     0xdeadbeefu);
}

Test(layout, superblock)
{
	cr_expect_eq(sizeof(struct pmfs_super), 512u);
	OFF(pmfs_super, magic, 0);
	OFF(pmfs_super, version, 8);
	OFF(pmfs_super, block_size, 12);
	OFF(pmfs_super, total_blocks, 16);
	OFF(pmfs_super, uuid, 24);
	OFF(pmfs_super, label, 40);
	OFF(pmfs_super, mkfs_time, 104);
	OFF(pmfs_super, nlanes, 112);
	OFF(pmfs_super, inode_size, 116);
	OFF(pmfs_super, journal_start, 120);
	OFF(pmfs_super, itdir_start, 128);
	OFF(pmfs_super, itdir_blocks, 136);
	OFF(pmfs_super, chunk_blocks, 140);
	OFF(pmfs_super, data_start, 144);
	OFF(pmfs_super, root_ino, 152);
	OFF(pmfs_super, feature_compat, 160);
	OFF(pmfs_super, feature_incompat, 164);
	OFF(pmfs_super, feature_ro_compat, 168);
	OFF(pmfs_super, pad0, 172);
	OFF(pmfs_super, reserved, 176);
	OFF(pmfs_super, pad1, 504);
	OFF(pmfs_super, crc, 508);

	cr_expect_eq(sizeof(struct pmfs_sb_state), 64u);
	cr_expect_eq(PMFS_SB_STATE_OFF, 2048u);
	OFF(pmfs_sb_state, clean, 0);
	OFF(pmfs_sb_state, alloc_head, 8);
	OFF(pmfs_sb_state, free_blocks, 16);
	OFF(pmfs_sb_state, used_inodes, 24);
	OFF(pmfs_sb_state, mount_count, 32);
	OFF(pmfs_sb_state, mount_time, 40);
	OFF(pmfs_sb_state, umount_time, 48);
	OFF(pmfs_sb_state, reserved, 56);
}

Test(layout, badblocks_journal_inode_logpage)
{
	cr_expect_eq(sizeof(struct pmfs_badblocks), 4096u);
	OFF(pmfs_badblocks, magic, 0);
	OFF(pmfs_badblocks, count, 4);
	OFF(pmfs_badblocks, pad, 8);
	OFF(pmfs_badblocks, crc, 12);
	OFF(pmfs_badblocks, blk, 16);

	cr_expect_eq(sizeof(struct pmfs_jrec), 16u);
	OFF(pmfs_jrec, addr, 0);
	OFF(pmfs_jrec, val, 8);
	cr_expect_eq(sizeof(struct pmfs_journal), 4096u);
	OFF(pmfs_journal, state, 0);
	OFF(pmfs_journal, seq, 8);
	OFF(pmfs_journal, pad, 16);
	OFF(pmfs_journal, rec, 64);

	cr_expect_eq(sizeof(struct pmfs_inode), 64u);
	OFF(pmfs_inode, tail, 0);
	OFF(pmfs_inode, head, 8);
	OFF(pmfs_inode, gen, 16);
	OFF(pmfs_inode, flags, 20);
	OFF(pmfs_inode, reserved, 24);

	cr_expect_eq(sizeof(struct pmfs_logpage), 32u);
	OFF(pmfs_logpage, magic, 0);
	OFF(pmfs_logpage, crc, 4);
	OFF(pmfs_logpage, ino, 8);
	OFF(pmfs_logpage, seq, 16);
	OFF(pmfs_logpage, next, 24);
}

Test(layout, log_entries)
{
	cr_expect_eq(sizeof(struct pmfs_lentry), 16u);
	OFF(pmfs_lentry, type, 0);
	OFF(pmfs_lentry, len, 2);
	OFF(pmfs_lentry, crc, 4);
	OFF(pmfs_lentry, seq, 8);

	cr_expect_eq(sizeof(struct pmfs_time), 16u);
	OFF(pmfs_time, sec, 0);
	OFF(pmfs_time, nsec, 8);
	OFF(pmfs_time, pad, 12);

	cr_expect_eq(sizeof(struct pmfs_le_attr), 128u);
	OFF(pmfs_le_attr, h, 0);
	OFF(pmfs_le_attr, mask, 16);
	OFF(pmfs_le_attr, mode, 20);
	OFF(pmfs_le_attr, uid, 24);
	OFF(pmfs_le_attr, gid, 28);
	OFF(pmfs_le_attr, nlink, 32);
	OFF(pmfs_le_attr, pad, 36);
	OFF(pmfs_le_attr, size, 40);
	OFF(pmfs_le_attr, rdev, 48);
	OFF(pmfs_le_attr, parent, 56);
	OFF(pmfs_le_attr, atime, 64);
	OFF(pmfs_le_attr, mtime, 80);
	OFF(pmfs_le_attr, ctime, 96);
	OFF(pmfs_le_attr, btime, 112);

	cr_expect_eq(sizeof(struct pmfs_le_write), 80u);
	OFF(pmfs_le_write, h, 0);
	OFF(pmfs_le_write, pgoff, 16);
	OFF(pmfs_le_write, nblocks, 24);
	OFF(pmfs_le_write, flags, 28);
	OFF(pmfs_le_write, blk, 32);
	OFF(pmfs_le_write, size, 40);
	OFF(pmfs_le_write, mtime, 48);
	OFF(pmfs_le_write, ctime, 64);

	cr_expect_eq(sizeof(struct pmfs_le_dentry), 64u);
	OFF(pmfs_le_dentry, h, 0);
	OFF(pmfs_le_dentry, ino, 16);
	OFF(pmfs_le_dentry, cookie, 24);
	OFF(pmfs_le_dentry, gen, 32);
	OFF(pmfs_le_dentry, dir_nlink, 36);
	OFF(pmfs_le_dentry, ftype, 40);
	OFF(pmfs_le_dentry, name_len, 41);
	OFF(pmfs_le_dentry, pad0, 42);
	OFF(pmfs_le_dentry, pad1, 44);
	OFF(pmfs_le_dentry, mtime, 48);
	OFF(pmfs_le_dentry, name, 64);

	cr_expect_eq(sizeof(struct pmfs_le_symlink), 32u);
	OFF(pmfs_le_symlink, h, 0);
	OFF(pmfs_le_symlink, len, 16);
	OFF(pmfs_le_symlink, flags, 20);
	OFF(pmfs_le_symlink, blk, 24);
	OFF(pmfs_le_symlink, target, 32);

	cr_expect_eq(sizeof(struct pmfs_le_xattr), 40u);
	OFF(pmfs_le_xattr, h, 0);
	OFF(pmfs_le_xattr, name_len, 16);
	OFF(pmfs_le_xattr, pad0, 17);
	OFF(pmfs_le_xattr, value_len, 18);
	OFF(pmfs_le_xattr, pad1, 20);
	OFF(pmfs_le_xattr, ctime, 24);
	OFF(pmfs_le_xattr, data, 40);

	cr_expect_eq(sizeof(struct pmfs_le_xattr_blk), 48u);
	OFF(pmfs_le_xattr_blk, h, 0);
	OFF(pmfs_le_xattr_blk, name_len, 16);
	OFF(pmfs_le_xattr_blk, value_len, 20);
	OFF(pmfs_le_xattr_blk, ctime, 24);
	OFF(pmfs_le_xattr_blk, blk, 40);
	OFF(pmfs_le_xattr_blk, name, 48);
	cr_expect_eq(PMFS_FEATURE_INCOMPAT_LARGE_XATTR, 0x1u);
	cr_expect_eq(PMFS_LE_XATTR_BLK, 8);
	cr_expect_eq(fmt_xattr_blocks(PMFS_XATTR_INLINE_MAX + 1), 1u);
	cr_expect_eq(fmt_xattr_blocks(PMFS_BLOCK_SIZE + 1), 2u);
	cr_expect_eq(fmt_xattr_blocks(PMFS_XATTR_VALUE_MAX), 16u);

	cr_expect_eq(fmt_dentry_len(1), 72);
	cr_expect_eq(fmt_dentry_len(8), 72);
	cr_expect_eq(fmt_dentry_len(9), 80);
	cr_expect_eq(fmt_dentry_len(10), 80);
	cr_expect_eq(fmt_dentry_len(255), 320);
}

Test(layout, allocsave)
{
	cr_expect_eq(sizeof(struct pmfs_extent), 16u);
	OFF(pmfs_extent, start, 0);
	OFF(pmfs_extent, len, 8);
	cr_expect_eq(sizeof(struct pmfs_allocsave), 4096u);
	OFF(pmfs_allocsave, magic, 0);
	OFF(pmfs_allocsave, crc, 4);
	OFF(pmfs_allocsave, next, 8);
	OFF(pmfs_allocsave, count, 16);
	OFF(pmfs_allocsave, seq, 24);
	OFF(pmfs_allocsave, ext, 32);
}

/* Check the invariants every geometry must satisfy. */
static void check_geometry(uint64_t bytes, const struct fmt_geometry *g)
{
	cr_expect_eq(g->total_blocks, bytes / PMFS_BLOCK_SIZE);
	cr_expect_eq(g->nlanes, PMFS_MAX_LANES);
	cr_expect_eq(g->journal_start, PMFS_JOURNAL_START);
	cr_expect_eq(g->itdir_start, g->journal_start + g->nlanes);
	cr_expect_eq(g->data_start, g->itdir_start + PMFS_ITDIR_BLOCKS);
	cr_expect_lt(g->data_start + PMFS_CHUNK_BLOCKS, g->total_blocks);
}

Test(layout, geometry)
{
	static const uint64_t sizes[] = { 8ull << 20, 64ull << 20, 1ull << 30,
					  16ull << 40 };
	struct fmt_geometry g;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		cr_assert_eq(fmt_geometry(sizes[i], &g), 0);
		check_geometry(sizes[i], &g);
	}
	/* pinned numbers: 3 fixed blocks + 64 lanes + 8 itdir blocks */
	cr_assert_eq(fmt_geometry(8ull << 20, &g), 0);
	cr_expect_eq(g.total_blocks, 2048u);
	cr_expect_eq(g.itdir_start, 67u);
	cr_expect_eq(g.data_start, 75u);
	cr_assert_eq(fmt_geometry(16ull << 40, &g), 0);
	cr_expect_eq(g.total_blocks, 1ull << 32);
	cr_expect_eq(g.data_start, 75u);
	/* a trailing partial block is unused */
	cr_assert_eq(fmt_geometry((64ull << 20) + 4095, &g), 0);
	cr_expect_eq(g.total_blocks, 16384u);
	/* too small */
	cr_expect_eq(fmt_geometry(PMFS_MIN_SIZE - 1, &g), -EINVAL);
	cr_expect_eq(fmt_geometry(0, &g), -EINVAL);
}

/* A valid superblock for a 64 MiB namespace. */
static void make_sb(struct pmfs_super *sb)
{
	static const uint8_t uuid[16] = { 1, 2,  3,  4,  5,  6,  7,  8,
					  9, 10, 11, 12, 13, 14, 15, 16 };
	struct fmt_geometry g;

	cr_assert_eq(fmt_geometry(64ull << 20, &g), 0);
	cr_assert_eq(fmt_super_init(sb, &g, uuid, "test-label", 1700000000, 0),
		     0);
}

Test(layout, super_round_trip)
{
	struct pmfs_super sb;
	struct fmt_geometry g;
	char why[256] = "";

	make_sb(&sb);
	cr_assert_eq(fmt_super_check(&sb, 64ull << 20, why, sizeof(why)), 0,
		     "%s", why);
	cr_assert_eq(fmt_super_check(&sb, 0, why, sizeof(why)), 0, "%s", why);
	sb.feature_incompat = PMFS_FEATURE_INCOMPAT_LARGE_XATTR; /* known */
	sb.crc = fmt_super_crc(&sb);
	cr_assert_eq(fmt_super_check(&sb, 0, why, sizeof(why)), 0, "%s", why);
	cr_expect_eq(memcmp(sb.magic, PMFS_MAGIC, 8), 0);
	cr_expect_eq(sb.version, PMFS_FORMAT_VERSION);
	cr_expect_eq(sb.block_size, PMFS_BLOCK_SIZE);
	cr_expect_eq(sb.total_blocks, 16384u);
	cr_expect_eq(sb.uuid[15], 16);
	cr_expect_str_eq((char *)sb.label, "test-label");
	cr_expect_eq(sb.mkfs_time, 1700000000u);
	cr_expect_eq(sb.root_ino, PMFS_ROOT_INO);
	cr_expect_eq(sb.crc, pmfs_crc32c(0, &sb, 508));
	fmt_super_geometry(&sb, &g);
	cr_expect_eq(g.data_start, sb.data_start);
	cr_expect_eq(g.nlanes, sb.nlanes);
	/* a larger namespace than the filesystem is fine */
	cr_expect_eq(fmt_super_check(&sb, 1ull << 30, why, sizeof(why)), 0);
}

Test(layout, super_label_limits)
{
	struct pmfs_super sb;
	struct fmt_geometry g;
	uint8_t uuid[16] = { 0 };
	char label[PMFS_LABEL_MAX + 2];

	cr_assert_eq(fmt_geometry(64ull << 20, &g), 0);
	memset(label, 'x', sizeof(label));
	label[PMFS_LABEL_MAX] = 0;
	cr_expect_eq(fmt_super_init(&sb, &g, uuid, label, 0, 0), 0);
	cr_expect_eq(sb.label[PMFS_LABEL_MAX], 0);
	label[PMFS_LABEL_MAX] = 'x';
	label[PMFS_LABEL_MAX + 1] = 0;
	cr_expect_eq(fmt_super_init(&sb, &g, uuid, label, 0, 0), -ENAMETOOLONG);
	cr_expect_eq(fmt_super_init(&sb, &g, uuid, NULL, 0, 0), 0);
	cr_expect_eq(sb.label[0], 0);
}

/* Corrupt a copy with `mutate`, optionally reseal, and expect `code`. */
#define REJECT(mutate, reseal, code, text)                                    \
	do {                                                                  \
		struct pmfs_super s;                                          \
		char why[256] = "";                                           \
		make_sb(&s);                                                  \
		mutate;                                                       \
		if (reseal)                                                   \
			s.crc = fmt_super_crc(&s);                            \
		cr_expect_eq(fmt_super_check(&s, 64ull << 20, why,            \
					     sizeof(why)),                    \
			     (code), "%s: got '%s'", #mutate, why);           \
		cr_expect_not_null(strstr(why, text), "%s: reason '%s'",      \
				   #mutate, why);                             \
		cr_expect_null(strchr(why, '\n'));                            \
	} while (0)

Test(layout, super_rejections)
{
	REJECT(s.magic[0] = 'X', 1, -EINVAL, "magic");
	REJECT(s.version = 2, 1, -EOPNOTSUPP, "version");
	REJECT(s.mkfs_time++, 0, -EUCLEAN, "checksum");
	REJECT(s.crc ^= 1, 0, -EUCLEAN, "checksum");
	REJECT(s.reserved[3] = 1, 0, -EUCLEAN, "checksum");
	REJECT(s.feature_incompat = 0x80, 1, -EOPNOTSUPP, "incompatible");
	REJECT(s.feature_incompat = PMFS_FEATURE_INCOMPAT_LARGE_XATTR | 0x2, 1,
	       -EOPNOTSUPP, "incompatible features 0x2");
	REJECT(s.block_size = 8192, 1, -EUCLEAN, "block size");
	REJECT(s.inode_size = 128, 1, -EUCLEAN, "inode size");
	REJECT(s.itdir_blocks = 4, 1, -EUCLEAN, "directory");
	REJECT(s.chunk_blocks = 32, 1, -EUCLEAN, "chunk");
	REJECT(s.root_ino = 2, 1, -EUCLEAN, "root");
	REJECT(memset(s.label, 'a', sizeof(s.label)), 1, -EUCLEAN, "label");
	REJECT(s.nlanes = 0, 1, -EUCLEAN, "lanes");
	REJECT(s.nlanes = PMFS_MAX_LANES + 1, 1, -EUCLEAN, "lanes");
	REJECT(s.total_blocks = 16385, 1, -EUCLEAN, "larger than the namespace");
	REJECT(s.total_blocks = 100, 1, -EUCLEAN, "out of range");
	REJECT(s.journal_start = 2, 1, -EUCLEAN, "journal");
	REJECT(s.itdir_start = s.journal_start + 10, 1, -EUCLEAN, "overlaps");
	REJECT(s.data_start = s.itdir_start + 1, 1, -EUCLEAN, "overlaps");
	REJECT(s.data_start = s.total_blocks - 10, 1, -EUCLEAN, "no room");
	REJECT(s.data_start = s.total_blocks + 10, 1, -EUCLEAN, "no room");
}

Test(layout, super_check_why_optional)
{
	struct pmfs_super sb;

	make_sb(&sb);
	sb.crc ^= 0xff;
	cr_expect_eq(fmt_super_check(&sb, 0, NULL, 0), -EUCLEAN);
}

Test(layout, logpage_crc)
{
	struct pmfs_logpage pg;

	fmt_logpage_init(&pg, 42, 3);
	cr_expect_eq(pg.magic, PMFS_LOGPAGE_MAGIC);
	cr_expect_eq(pg.next, 0u);
	cr_expect_eq(fmt_logpage_check(&pg, 42), 0);
	cr_expect_eq(fmt_logpage_check(&pg, 43), -EUCLEAN);
	/* next is not covered: linking a page does not break its crc */
	pg.next = 8192;
	cr_expect_eq(fmt_logpage_check(&pg, 42), 0);
	pg.seq = 4;
	cr_expect_eq(fmt_logpage_check(&pg, 42), -EUCLEAN);
	pg.seq = 3;
	pg.magic = 0;
	cr_expect_eq(fmt_logpage_check(&pg, 42), -EUCLEAN);
}

Test(layout, entry_crc_seeded_with_owner)
{
	struct pmfs_le_attr a;
	uint64_t ino = 7;
	uint32_t c;
	char why[128];

	memset(&a, 0, sizeof(a));
	a.h.type = PMFS_LE_ATTR;
	a.h.len = sizeof(a);
	a.h.seq = 1;
	a.mask = PMFS_AT_ALL;
	a.mode = 040755;
	fmt_entry_seal(ino, &a.h);
	/* documented construction: crc32c(crc32c(0, le64 ino), entry, crc=0) */
	{
		struct pmfs_le_attr z = a;

		z.h.crc = 0;
		c = pmfs_crc32c(pmfs_crc32c(0, &ino, 8), &z, sizeof(z));
	}
	cr_expect_eq(a.h.crc, c);
	cr_expect_eq(fmt_entry_crc(ino, &a.h), a.h.crc);
	cr_expect_eq(fmt_entry_check(ino, &a.h, 4064, why, sizeof(why)), 0,
		     "%s", why);
	/* another owner does not verify */
	cr_expect_eq(fmt_entry_check(8, &a.h, 4064, why, sizeof(why)),
		     -EUCLEAN);
	cr_expect_not_null(strstr(why, "checksum"));
	/* a flipped field does not verify */
	a.nlink = 2;
	cr_expect_eq(fmt_entry_check(ino, &a.h, 4064, NULL, 0), -EUCLEAN);
	a.nlink = 0;
	cr_expect_eq(fmt_entry_check(ino, &a.h, 4064, NULL, 0), 0);
	/* no room for it */
	cr_expect_eq(fmt_entry_check(ino, &a.h, 120, why, sizeof(why)),
		     -EUCLEAN);
	cr_expect_eq(fmt_entry_check(ino, &a.h, 8, why, sizeof(why)),
		     -EUCLEAN);
	/* bad type, bad length */
	a.h.type = 0;
	fmt_entry_seal(ino, &a.h);
	cr_expect_eq(fmt_entry_check(ino, &a.h, 4064, why, sizeof(why)),
		     -EUCLEAN);
	cr_expect_not_null(strstr(why, "type"));
	a.h.type = PMFS_LE_ATTR;
	a.h.len = 124;
	cr_expect_eq(fmt_entry_check(ino, &a.h, 4064, why, sizeof(why)),
		     -EUCLEAN);
	cr_expect_not_null(strstr(why, "length"));
}

Test(layout, dentry_check)
{
	union {
		struct pmfs_le_dentry d;
		uint8_t raw[128];
	} u;
	char why[128];

	memset(&u, 0, sizeof(u));
	u.d.h.type = PMFS_LE_DENTRY_ADD;
	u.d.h.len = fmt_dentry_len(10);
	u.d.h.seq = 2;
	u.d.ino = 2;
	u.d.cookie = 1;
	u.d.name_len = 10;
	memcpy(u.d.name, "lost+found", 10);
	fmt_entry_seal(1, &u.d.h);
	cr_expect_eq(fmt_entry_check(1, &u.d.h, 4064, why, sizeof(why)), 0,
		     "%s", why);
	u.d.name_len = 20; /* len no longer matches the name */
	fmt_entry_seal(1, &u.d.h);
	cr_expect_eq(fmt_entry_check(1, &u.d.h, 4064, why, sizeof(why)),
		     -EUCLEAN);
	cr_expect_not_null(strstr(why, "name length"));
}

Test(layout, badblocks_allocsave_journal_crc)
{
	static struct pmfs_badblocks bb;
	static struct pmfs_allocsave as;
	struct pmfs_jrec rec[3] = { { 8192, 1 }, { 16384, 2 }, { 24576, 3 } };
	uint32_t c;

	bb.magic = PMFS_BADBLK_MAGIC;
	bb.count = 2;
	bb.blk[0] = 100;
	bb.blk[1] = 200;
	c = fmt_badblocks_crc(&bb);
	cr_expect_eq(c, pmfs_crc32c(0, bb.blk, 16));
	bb.blk[2] = 300; /* beyond count: not covered */
	cr_expect_eq(fmt_badblocks_crc(&bb), c);
	bb.blk[1] = 201;
	cr_expect_neq(fmt_badblocks_crc(&bb), c);
	bb.count = 0xffffffffu; /* clamped, must not overrun */
	(void)fmt_badblocks_crc(&bb);

	as.magic = PMFS_ALLOCSAVE_MAGIC;
	as.count = 1;
	as.ext[0].start = 80;
	as.ext[0].len = 1000;
	c = fmt_allocsave_crc(&as);
	cr_expect_eq(c, pmfs_crc32c(0, (uint8_t *)&as + 8, 24 + 16));
	as.next = 99;
	cr_expect_neq(fmt_allocsave_crc(&as), c);
	as.count = UINT64_MAX;
	(void)fmt_allocsave_crc(&as);

	c = fmt_jnl_crc(rec, 3);
	cr_expect_eq(c, pmfs_crc32c(0, rec, 48));
	cr_expect_neq(fmt_jnl_crc(rec, 2), c);
	cr_expect_eq(fmt_jnl_crc(rec, 0), 0u);
}

Test(layout, addresses)
{
	static le64 itdir[PMFS_ITDIR_ENTRIES];
	uint64_t total = 16384;

	cr_expect_eq(fmt_blk_off(75), 75u * 4096);
	cr_expect_eq(fmt_off_blk(75u * 4096 + 4095), 75u);
	cr_expect_eq(fmt_off_in_blk(75u * 4096 + 100), 100u);
	cr_expect_eq(fmt_ino_chunk(4095), 0u);
	cr_expect_eq(fmt_ino_chunk(4096), 1u);

	itdir[0] = 75;
	itdir[1] = 1000;
	cr_expect_eq(fmt_inode_off(itdir, total, 1), 75u * 4096 + 64);
	cr_expect_eq(fmt_inode_off(itdir, total, 2), 75u * 4096 + 128);
	cr_expect_eq(fmt_inode_off(itdir, total, 4095),
		     75u * 4096 + 4095u * 64);
	cr_expect_eq(fmt_inode_off(itdir, total, 4096), 1000u * 4096);
	cr_expect_eq(fmt_inode_off(itdir, total, 4097), 1000u * 4096 + 64);
	cr_expect_eq(fmt_inode_off(itdir, total, 0), 0u);
	cr_expect_eq(fmt_inode_off(itdir, total, 3 * 4096), 0u); /* no chunk */
	cr_expect_eq(fmt_inode_off(itdir, total, PMFS_MAX_INODES), 0u);
	itdir[2] = total - 10; /* chunk would run off the end */
	cr_expect_eq(fmt_inode_off(itdir, total, 2 * 4096 + 1), 0u);
}
