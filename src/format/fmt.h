/*
 * fmt.h - helpers over the on-media format (format.h) that every tool and
 * the daemon share: the CRC-32C checksum, the namespace geometry for a
 * size, building and checking the superblock, the checksums of every
 * checksummed structure, and byte-offset / block / inode-slot arithmetic.
 * Nothing here touches media: callers pass pointers (into a mapping or a
 * DRAM copy) and persist through pmemio themselves.
 *
 * Checksums (all CRC-32C, standard convention: start from 0, chain by
 * passing the previous result):
 *   superblock     crc32c(0, bytes 0..507)
 *   log page       crc32c(0, bytes 8..31 with next = 0)
 *   log entry      crc32c(crc32c(0, le64 owner inode number, 8),
 *                         whole entry of h.len bytes with h.crc = 0)
 *                  i.e. the 8 little-endian bytes of the owner's inode
 *                  number come first, then the entry: an entry copied into
 *                  another inode's log does not verify.
 *   bad blocks     crc32c(0, bytes 16 .. 16 + 8*count)
 *   allocsave      crc32c(0, bytes 8 .. 32 + 16*count)
 *   journal        crc32c(0, rec[0 .. nrec)), kept in the state word
 *
 * Layout (fmt_geometry): blocks 0, 1, 2 are the superblock, its copy and
 * the bad-block table; nlanes journal blocks from block 3; then the
 * PMFS_ITDIR_BLOCKS inode-table directory; data_start right after it.
 *
 * Conventions mkfs.pmfs establishes and the daemon and fsck rely on:
 *  (1) per-inode log entry seq starts at 1 and grows by exactly 1 per
 *      entry appended to that inode's log;
 *  (2) every inode's log starts with a PMFS_LE_ATTR entry whose mask is
 *      PMFS_AT_ALL (a full set of attributes);
 *  (3) directory entry cookies start at 1; each DENTRY_ADD takes the
 *      largest cookie the directory ever used + 1; a DENTRY_DEL carries the
 *      cookie of the entry it removes;
 *  (4) a log chain's first page has seq 0, each next page seq + 1;
 *  (5) a fresh filesystem has inode 1 (root, S_IFDIR|0755, nlink 3) and
 *      inode 2 (lost+found, S_IFDIR|0700, nlink 2, parent 1), both gen 1,
 *      inode-table chunk 0 allocated (itdir word 0 != 0), and a clean
 *      sb_state with a saved allocator state listing every other free
 *      block;
 *  (6) the superblock (block 0) and its copy (block 1) are written last:
 *      a namespace without a valid superblock is not a pmfs.
 */
#ifndef PMFS_FMT_H
#define PMFS_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/format.h"

/* ---- CRC-32C ------------------------------------------------------------ */

/* CRC-32C of buf, continuing from crc (0 to start); hardware if possible. */
uint32_t pmfs_crc32c(uint32_t crc, const void *buf, size_t len);
/* The table implementation, always available (tests compare against it). */
uint32_t fmt_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* The CPU instruction implementation; falls back to the table without it. */
uint32_t fmt_crc32c_hw(uint32_t crc, const void *buf, size_t len);
/* True when this CPU has a CRC-32C instruction pmfs uses. */
bool fmt_crc32c_hw_available(void);
/* Name of the implementation pmfs_crc32c uses: "sse4.2", "armv8-crc",
 * "table". */
const char *fmt_crc32c_impl(void);

/* ---- geometry ----------------------------------------------------------- */

struct fmt_geometry {
	uint64_t total_blocks;  /* whole blocks in the namespace */
	uint32_t nlanes;        /* journal lanes */
	uint64_t journal_start; /* block of lane 0's journal */
	uint64_t itdir_start;   /* first inode-table directory block */
	uint64_t data_start;    /* first allocator-managed block */
};

/*
 * Layout for a namespace of ns_bytes (a trailing partial block is unused).
 * Returns 0, or -EINVAL when ns_bytes < PMFS_MIN_SIZE.
 */
int fmt_geometry(uint64_t ns_bytes, struct fmt_geometry *g);

/* ---- superblock --------------------------------------------------------- */

/*
 * Fill *sb (zeroing it first) for geometry g, with uuid, label (NULL or at
 * most PMFS_LABEL_MAX bytes), mkfs_time and the incompat features (of
 * PMFS_FEATURE_INCOMPAT_SUPP), and seal its crc.  Returns 0, or
 * -ENAMETOOLONG for a label that is too long.
 */
int fmt_super_init(struct pmfs_super *sb, const struct fmt_geometry *g,
		   const uint8_t uuid[16], const char *label,
		   uint64_t mkfs_time, uint32_t incompat);
/* crc32c of bytes 0..507 of *sb. */
uint32_t fmt_super_crc(const struct pmfs_super *sb);
/*
 * Check *sb: magic (-EINVAL: not a pmfs), version and incompat features
 * (-EOPNOTSUPP), checksum and every field in range and the geometry
 * consistent with a namespace of ns_bytes (-EUCLEAN); ns_bytes 0 skips the
 * namespace-size check.  Returns 0 or the code above with a one-line
 * reason (no newline) in why.
 */
int fmt_super_check(const struct pmfs_super *sb, uint64_t ns_bytes,
		    char *why, size_t whylen);
/* Geometry recorded in a superblock (which must have passed the check). */
void fmt_super_geometry(const struct pmfs_super *sb, struct fmt_geometry *g);

/*
 * The mutable superblock state: its clean word is PMFS_STATE_CLEAN or 0.
 * 0 or -EUCLEAN with a reason in why.
 */
int fmt_state_check(const struct pmfs_sb_state *st, char *why,
		    size_t whylen);

/* ---- bad-block table ---------------------------------------------------- */

/*
 * Fill *bb with the n block numbers blk (sorted, unique, n at most
 * PMFS_BADBLK_MAX) and seal its crc.
 */
void fmt_badblocks_init(struct pmfs_badblocks *bb, const uint64_t *blk,
			uint32_t n);
/*
 * Check the bad-block table for geometry g: magic, count, checksum, and
 * every entry inside the data area (mkfs.pmfs refuses a namespace whose
 * fixed area has a bad block), strictly increasing.  0 or -EUCLEAN with a
 * reason in why.
 */
int fmt_badblocks_check(const struct pmfs_badblocks *bb,
			const struct fmt_geometry *g, char *why,
			size_t whylen);

/* ---- inode-table directory ---------------------------------------------- */

/*
 * Is blk, an inode-table directory word, a chunk that lies inside the data
 * area of geometry g?  (0, no chunk, is not: callers skip it first.)
 */
bool fmt_chunk_ok(const struct fmt_geometry *g, uint64_t blk);

/* ---- saved allocator state ---------------------------------------------- */

/*
 * Check block number seq (0 first) of a saved allocator chain: magic,
 * seq, count, checksum, every extent inside the data area of g and its
 * next link 0 or inside the data area.  0 or -EUCLEAN.
 */
int fmt_allocsave_check(const struct pmfs_allocsave *as, uint64_t seq,
			const struct fmt_geometry *g);
/* Fill *as (the whole block) as block seq of a chain: count extents from
 * ext (at most PMFS_ALLOCSAVE_MAX), next link, crc sealed. */
void fmt_allocsave_init(struct pmfs_allocsave *as, uint64_t seq,
			uint64_t next, const struct pmfs_extent *ext,
			uint64_t count);

/* ---- log pages and entries ---------------------------------------------- */

/* crc of a log page header (bytes 8..31 with next = 0). */
uint32_t fmt_logpage_crc(const struct pmfs_logpage *pg);
/* Fill a log page header (next = 0) and seal its crc. */
void fmt_logpage_init(struct pmfs_logpage *pg, uint64_t ino, uint64_t seq);
/* Check a log page header's magic and crc for owner ino; 0 or -EUCLEAN. */
int fmt_logpage_check(const struct pmfs_logpage *pg, uint64_t ino);

/*
 * crc of entry e owned by inode ino (see the top of this file).  e->len
 * must already be known to be sane (fmt_entry_check does that first).
 */
uint32_t fmt_entry_crc(uint64_t ino, const struct pmfs_lentry *e);
/* Set e->crc for owner ino; e->len must be final. */
void fmt_entry_seal(uint64_t ino, struct pmfs_lentry *e);
/*
 * Check an entry read at a place with `room` bytes before the end of its
 * page: type known, len a multiple of 8 in [16, room], type-specific
 * minimum length, crc for owner ino.  0 or -EUCLEAN with a reason in why
 * (why may be NULL).
 */
int fmt_entry_check(uint64_t ino, const struct pmfs_lentry *e, size_t room,
		    char *why, size_t whylen);
/* Length of a dentry entry for a name of name_len bytes (padded to 8). */
static inline uint16_t fmt_dentry_len(unsigned name_len)
{
	return (uint16_t)((sizeof(struct pmfs_le_dentry) + name_len + 7) &
			  ~(size_t)7);
}

/* ---- xattr values pmfs reads -------------------------------------------- */

/* 1 for the name PMFS_ACL_ACCESS, 2 for PMFS_ACL_DEFAULT (nlen bytes,
 * no NUL needed), else 0. */
int fmt_acl_name(const char *name, size_t nlen);
/*
 * Check an ACL value of n bytes (format.h): at most PMFS_ACL_MAX bytes
 * (pmfs keeps an ACL inline in its log entry), and the kernel's rules
 * (posix_acl_valid) - version, at least one entry, whole entries, known
 * tags in order, permissions rwx only, exactly one owner, owning group
 * and other entry, at most one mask and one when there are named entries
 * (named ids in any order, as the kernel accepts them).  0 or -EINVAL
 * with a reason in why (why may be NULL).
 */
int fmt_acl_check(const void *v, size_t n, char *why, size_t whylen);
/* Entry i of the ACL at v, copied out (a value may be unaligned). */
struct pmfs_acl_entry fmt_acl_entry(const void *v, size_t i);

/* Data blocks holding an xattr value of vlen bytes (PMFS_LE_XATTR_BLK). */
static inline uint32_t fmt_xattr_blocks(uint32_t vlen)
{
	return (vlen + PMFS_BLOCK_SIZE - 1) >> PMFS_BLOCK_SHIFT;
}

/* ---- other checksums ---------------------------------------------------- */

/* crc of a bad-block table (count clamped to PMFS_BADBLK_MAX). */
uint32_t fmt_badblocks_crc(const struct pmfs_badblocks *bb);
/* crc of one allocator save block (count clamped to PMFS_ALLOCSAVE_MAX). */
uint32_t fmt_allocsave_crc(const struct pmfs_allocsave *as);
/* crc of n journal records (n <= PMFS_JREC_MAX). */
uint32_t fmt_jnl_crc(const struct pmfs_jrec *rec, uint32_t n);

/* ---- addresses ---------------------------------------------------------- */

/* Byte offset of block blk. */
static inline uint64_t fmt_blk_off(uint64_t blk)
{
	return blk << PMFS_BLOCK_SHIFT;
}

/* Block holding byte offset off. */
static inline uint64_t fmt_off_blk(uint64_t off)
{
	return off >> PMFS_BLOCK_SHIFT;
}

/* Byte offset of off inside its block. */
static inline uint32_t fmt_off_in_blk(uint64_t off)
{
	return (uint32_t)(off & (PMFS_BLOCK_SIZE - 1));
}

/* Inode-table chunk index (itdir word) of inode ino. */
static inline uint64_t fmt_ino_chunk(uint64_t ino)
{
	return ino / PMFS_INODES_PER_CHUNK;
}

/*
 * Byte offset of inode ino's slot, given the inode-table directory words
 * (itdir, PMFS_ITDIR_ENTRIES of them) and the namespace size in blocks.
 * Returns 0 when ino is 0 or beyond PMFS_MAX_INODES, when its chunk is not
 * allocated, or when the chunk lies outside the namespace.
 */
uint64_t fmt_inode_off(const le64 *itdir, uint64_t total_blocks,
		       uint64_t ino);

#endif /* PMFS_FMT_H */
