/*
 * format.h - the pmfs on-media format, the only place a persistent layout
 * is defined.  Included by the daemon, mkfs.pmfs and fsck.pmfs alike.
 *
 * Rules: every field is fixed-width and little-endian (pmfs only builds for
 * little-endian targets: x86-64, aarch64, ppc64le); padding is explicit; no
 * pointers, enums, bitfields or bool on media.  A _Static_assert directly
 * under each struct pins its size and the offset and 8-byte alignment of
 * every commit word (a word whose single 8-byte store makes a change real).
 * Offsets in comments are byte offsets inside the struct.
 *
 * Namespace layout, in PMFS_BLOCK_SIZE blocks:
 *
 *   block 0            superblock (static part, checksummed) + pmfs_sb_state
 *   block 1            copy of the static superblock
 *   block 2            bad-block table (blocks never handed out)
 *   journal_start ..   one journal block per lane (nlanes blocks)
 *   itdir_start ..     inode-table directory: le64 block numbers of chunks
 *   data_start .. end  allocator-managed: inode-table chunks, log pages,
 *                      data blocks, the saved allocator state
 *
 * Addresses on media are either block numbers (le64, 0 = none; block 0 is
 * the superblock, so no allocatable block is 0) or byte offsets from the
 * start of the namespace (le64, "off"), as noted per field.
 *
 * Inodes: inode number N lives in slot N of the inode table; slot N is in
 * chunk N / PMFS_INODES_PER_CHUNK.  Slot 0 is never used; inode 1 is the
 * root directory (equal to FUSE_ROOT_ID).  A slot is in use iff its tail is
 * non-zero.  The inode table grows on demand: a new chunk is zeroed, made
 * durable, and its directory word set in the same journaled operation that
 * first uses it.
 *
 * Logs: each inode has a chain of log pages (one block each) holding typed,
 * checksummed, 8-byte-aligned entries.  The inode's tail is the commit word:
 * entries at or beyond it do not exist.  An entry never spans two pages.
 * The tail always lies in [page + sizeof(pmfs_logpage), page + BLOCK_SIZE]
 * of the page holding the last entry, so it names its page unambiguously.
 * Later entries override earlier ones (attributes, extents, names).
 */
#ifndef PMFS_FORMAT_H
#define PMFS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "pmfs media is little-endian; big-endian targets are not supported"
#endif

typedef uint16_t le16;
typedef uint32_t le32;
typedef uint64_t le64;

#define PMFS_COMMIT_WORD(type, field)                                         \
	_Static_assert(offsetof(type, field) % 8 == 0 &&                      \
			       sizeof(((type *)0)->field) == 8,               \
		       #type "." #field " is a commit word: 8 bytes, 8-aligned")

/* ---- geometry ---------------------------------------------------------- */

#define PMFS_BLOCK_SHIFT 12
#define PMFS_BLOCK_SIZE (1u << PMFS_BLOCK_SHIFT)
#define PMFS_FORMAT_VERSION 1u
#define PMFS_MAGIC "PMFSLOG\x01" /* 8 bytes, no terminator on media */
#define PMFS_MAGIC_LEN 8

#define PMFS_SB_BLOCK 0
#define PMFS_SB_COPY_BLOCK 1
#define PMFS_BADBLK_BLOCK 2
#define PMFS_JOURNAL_START 3
#define PMFS_MAX_LANES 64u
#define PMFS_ITDIR_BLOCKS 8u
#define PMFS_CHUNK_BLOCKS 64u /* 256 KiB per inode-table chunk */
#define PMFS_INODE_SIZE 64u
#define PMFS_INODES_PER_BLOCK (PMFS_BLOCK_SIZE / PMFS_INODE_SIZE)
#define PMFS_INODES_PER_CHUNK (PMFS_CHUNK_BLOCKS * PMFS_INODES_PER_BLOCK)
#define PMFS_ITDIR_ENTRIES (PMFS_ITDIR_BLOCKS * PMFS_BLOCK_SIZE / 8)
#define PMFS_MAX_INODES ((uint64_t)PMFS_ITDIR_ENTRIES * PMFS_INODES_PER_CHUNK)
#define PMFS_ROOT_INO 1u
#define PMFS_LOSTFOUND_INO 2u /* made by mkfs.pmfs */
#define PMFS_MIN_SIZE (8u << 20) /* smallest namespace mkfs accepts */
#define PMFS_LABEL_MAX 63        /* bytes, NUL-padded to 64 on media */
#define PMFS_NAME_MAX 255
#define PMFS_SYMLINK_MAX 4095 /* PATH_MAX - 1 */
#define PMFS_XATTR_NAME_MAX 255
#define PMFS_XATTR_INLINE_MAX 3072 /* a value inline in one log entry */
/* the largest value (XATTR_SIZE_MAX): in data blocks past INLINE_MAX, on
 * filesystems with PMFS_FEATURE_INCOMPAT_LARGE_XATTR */
#define PMFS_XATTR_VALUE_MAX 65536u

/* ---- superblock (block 0, copy in block 1) ----------------------------- */

/* incompat feature bits: a mount that does not know one must refuse */
#define PMFS_FEATURE_INCOMPAT_LARGE_XATTR 0x1u /* PMFS_LE_XATTR_BLK entries */
#define PMFS_FEATURE_INCOMPAT_SUPP PMFS_FEATURE_INCOMPAT_LARGE_XATTR

struct pmfs_super {
	uint8_t magic[PMFS_MAGIC_LEN]; /*   0 PMFS_MAGIC */
	le32 version;                  /*   8 PMFS_FORMAT_VERSION */
	le32 block_size;               /*  12 PMFS_BLOCK_SIZE */
	le64 total_blocks;             /*  16 namespace size / block_size */
	uint8_t uuid[16];              /*  24 */
	uint8_t label[PMFS_LABEL_MAX + 1]; /* 40 NUL-padded */
	le64 mkfs_time;                /* 104 seconds since the epoch */
	le32 nlanes;                   /* 112 journal lanes (<= MAX_LANES) */
	le32 inode_size;               /* 116 PMFS_INODE_SIZE */
	le64 journal_start;            /* 120 block of lane 0's journal */
	le64 itdir_start;              /* 128 first inode-table dir block */
	le32 itdir_blocks;             /* 136 PMFS_ITDIR_BLOCKS */
	le32 chunk_blocks;             /* 140 PMFS_CHUNK_BLOCKS */
	le64 data_start;               /* 144 first allocator-managed block */
	le64 root_ino;                 /* 152 PMFS_ROOT_INO */
	le32 feature_compat;           /* 160 */
	le32 feature_incompat;         /* 164 */
	le32 feature_ro_compat;        /* 168 */
	le32 pad0;                     /* 172 */
	le64 reserved[41];             /* 176 zero */
	le32 pad1;                     /* 504 */
	le32 crc;                      /* 508 crc32c of bytes 0..507 */
};
_Static_assert(sizeof(struct pmfs_super) == 512, "superblock is 512 bytes");
PMFS_COMMIT_WORD(struct pmfs_super, magic); /* mkfs: made or void */
_Static_assert(offsetof(struct pmfs_super, crc) == 508, "crc is last");

/*
 * Mutable superblock state, in block 0 at PMFS_SB_STATE_OFF; not covered by
 * the superblock checksum and not copied to block 1.  `clean` is the commit
 * word of a clean unmount: the saved allocator state (alloc_head and the
 * counters) is durable before clean is set, and clean is cleared (and that
 * made durable) before the first change after a mount.
 */
#define PMFS_SB_STATE_OFF 2048u
#define PMFS_STATE_CLEAN 0x4e41454c43534d50ull /* "PMSCLEAN" */

struct pmfs_sb_state {
	le64 clean;       /*  0 commit word: PMFS_STATE_CLEAN or 0 */
	le64 alloc_head;  /*  8 block of the first pmfs_allocsave, 0 = none */
	le64 free_blocks; /* 16 at the last clean unmount */
	le64 used_inodes; /* 24 at the last clean unmount */
	le64 mount_count; /* 32 */
	le64 mount_time;  /* 40 seconds since the epoch */
	le64 umount_time; /* 48 */
	le64 reserved;    /* 56 */
};
_Static_assert(sizeof(struct pmfs_sb_state) == 64, "sb state is 64 bytes");
PMFS_COMMIT_WORD(struct pmfs_sb_state, clean);
_Static_assert(PMFS_SB_STATE_OFF % 64 == 0 &&
		       PMFS_SB_STATE_OFF >= sizeof(struct pmfs_super),
	       "sb state has its own cache line after the superblock");

/* ---- bad-block table (block 2) ----------------------------------------- */

#define PMFS_BADBLK_MAGIC 0x4b4c4242u /* "BBLK" */
#define PMFS_BADBLK_MAX ((PMFS_BLOCK_SIZE - 16) / 8)

struct pmfs_badblocks {
	le32 magic;                 /*  0 PMFS_BADBLK_MAGIC */
	le32 count;                 /*  4 entries used */
	le32 pad;                   /*  8 */
	le32 crc;                   /* 12 crc32c of bytes 16..16+8*count */
	le64 blk[PMFS_BADBLK_MAX];  /* 16 sorted block numbers */
};
_Static_assert(sizeof(struct pmfs_badblocks) == PMFS_BLOCK_SIZE,
	       "bad-block table is one block");

/* ---- journal: one block per lane --------------------------------------- */

/*
 * A redo journal.  A multi-inode operation writes its log entries beyond
 * the old tails and its records (address, new value) here, makes both
 * durable, then stores `state` (the real commit), then applies the records
 * to their commit words.  Recovery re-applies the records of a journal whose
 * state is active; applying is idempotent.  The state word encodes
 *   bits  0..15  PMFS_JNL_ACTIVE
 *   bits 16..31  number of records
 *   bits 32..63  crc32c of rec[0 .. nrec)
 * so a state word never validates records that are not the ones written.
 * state == 0 means idle.  Every rec.addr must be the byte offset of an
 * inode's tail or head, or of an inode-table directory word.
 */
#define PMFS_JNL_ACTIVE 0x4a31u /* "1J" */
#define PMFS_JNL_STATE(nrec, crc)                                            \
	((uint64_t)PMFS_JNL_ACTIVE | (uint64_t)(nrec) << 16 |                 \
	 (uint64_t)(crc) << 32)
#define PMFS_JNL_STATE_MAGIC(s) ((uint16_t)((s)&0xffff))
#define PMFS_JNL_STATE_NREC(s) ((uint32_t)(((s) >> 16) & 0xffff))
#define PMFS_JNL_STATE_CRC(s) ((uint32_t)((s) >> 32))

struct pmfs_jrec {
	le64 addr; /* 0 byte offset of the target commit word */
	le64 val;  /* 8 value to store there */
};
_Static_assert(sizeof(struct pmfs_jrec) == 16, "journal record is 16 bytes");

#define PMFS_JREC_MAX ((PMFS_BLOCK_SIZE - 64) / sizeof(struct pmfs_jrec))

struct pmfs_journal {
	le64 state;     /*  0 commit word, see above */
	le64 seq;       /*  8 operations committed on this lane */
	le64 pad[6];    /* 16 */
	struct pmfs_jrec rec[PMFS_JREC_MAX]; /* 64 */
};
_Static_assert(sizeof(struct pmfs_journal) == PMFS_BLOCK_SIZE,
	       "journal is one block");
PMFS_COMMIT_WORD(struct pmfs_journal, state);

/* ---- inode table ------------------------------------------------------- */

/*
 * Inode-table directory: PMFS_ITDIR_ENTRIES le64 words starting at block
 * itdir_start; word i is the first block of chunk i (PMFS_CHUNK_BLOCKS
 * contiguous blocks), or 0.  Each word is a commit word.
 */

/* pmfs_inode.flags */
#define PMFS_IFL_ORPHAN 0x1u /* reserved: unlinked while open */

struct pmfs_inode {
	le64 tail;     /*  0 commit word: byte offset of log end; 0 = free */
	le64 head;     /*  8 byte offset of the first log page */
	le32 gen;      /* 16 generation, bumped on each reuse of the slot */
	le32 flags;    /* 20 PMFS_IFL_* */
	le64 reserved[5]; /* 24 zero */
};
_Static_assert(sizeof(struct pmfs_inode) == PMFS_INODE_SIZE,
	       "inode slot is 64 bytes");
PMFS_COMMIT_WORD(struct pmfs_inode, tail);
PMFS_COMMIT_WORD(struct pmfs_inode, head);

/* ---- log pages --------------------------------------------------------- */

#define PMFS_LOGPAGE_MAGIC 0x474f4c50u /* "PLOG" */

struct pmfs_logpage {
	le32 magic;    /*  0 PMFS_LOGPAGE_MAGIC */
	le32 crc;      /*  4 crc32c of bytes 8..31 with next = 0 */
	le64 ino;      /*  8 owner */
	le64 seq;      /* 16 0 for the chain's first page, +1 per page */
	le64 next;     /* 24 byte offset of the next page, 0 = last */
};
_Static_assert(sizeof(struct pmfs_logpage) == 32, "log page header");
PMFS_COMMIT_WORD(struct pmfs_logpage, next);

/* entry types */
#define PMFS_LE_ATTR 1       /* attribute change (incl. size, nlink) */
#define PMFS_LE_WRITE 2      /* extent: data, hole or unwritten range */
#define PMFS_LE_DENTRY_ADD 3 /* directory entry added */
#define PMFS_LE_DENTRY_DEL 4 /* directory entry removed */
#define PMFS_LE_SYMLINK 5    /* symlink target */
#define PMFS_LE_XATTR_SET 6
#define PMFS_LE_XATTR_DEL 7
#define PMFS_LE_XATTR_BLK 8  /* xattr set, value in data blocks */
#define PMFS_LE_MAX 8

/*
 * Common entry header.  len is the whole entry in bytes, a multiple of 8,
 * at least 16.  crc is crc32c, seeded with the owner's inode number, of the
 * whole entry with crc = 0: an entry copied into another inode's log does
 * not verify (the exact seed construction is in fmt.h).
 */
struct pmfs_lentry {
	le16 type; /*  0 PMFS_LE_* */
	le16 len;  /*  2 */
	le32 crc;  /*  4 */
	le64 seq;  /*  8 per-inode entry sequence, strictly increasing */
};
_Static_assert(sizeof(struct pmfs_lentry) == 16, "entry header");

#define PMFS_LENTRY_MAX (PMFS_BLOCK_SIZE - sizeof(struct pmfs_logpage))

struct pmfs_time {
	le64 sec;  /* 0 signed seconds since the epoch */
	le32 nsec; /* 8 0 .. 999999999 */
	le32 pad;  /* 12 */
};
_Static_assert(sizeof(struct pmfs_time) == 16, "timestamp");

/* pmfs_le_attr.mask: which fields this entry sets */
#define PMFS_AT_MODE 0x001u  /* full st_mode incl. type bits */
#define PMFS_AT_UID 0x002u
#define PMFS_AT_GID 0x004u
#define PMFS_AT_NLINK 0x008u
#define PMFS_AT_SIZE 0x010u  /* blocks past the new size are dropped */
#define PMFS_AT_RDEV 0x020u
#define PMFS_AT_ATIME 0x040u
#define PMFS_AT_MTIME 0x080u
#define PMFS_AT_CTIME 0x100u
#define PMFS_AT_PARENT 0x200u /* directories: inode of '..' */
#define PMFS_AT_BTIME 0x400u  /* creation time, set once */
#define PMFS_AT_ALL 0x7ffu

struct pmfs_le_attr {
	struct pmfs_lentry h; /*   0 */
	le32 mask;            /*  16 PMFS_AT_* */
	le32 mode;            /*  20 */
	le32 uid;             /*  24 */
	le32 gid;             /*  28 */
	le32 nlink;           /*  32 */
	le32 pad;             /*  36 */
	le64 size;            /*  40 */
	le64 rdev;            /*  48 */
	le64 parent;          /*  56 */
	struct pmfs_time atime; /*  64 */
	struct pmfs_time mtime; /*  80 */
	struct pmfs_time ctime; /*  96 */
	struct pmfs_time btime; /* 112 */
};
_Static_assert(sizeof(struct pmfs_le_attr) == 128, "attr entry");

/* pmfs_le_write.flags */
#define PMFS_WR_HOLE 0x1u      /* range is a hole (punched): blk = 0 */
#define PMFS_WR_UNWRITTEN 0x2u /* allocated, reads as zeros (fallocate) */

/*
 * Maps file blocks [pgoff, pgoff + nblocks) to device blocks
 * [blk, blk + nblocks), or marks them a hole; sets the file size to `size`
 * and mtime/ctime (a write always carries the size after it).
 */
struct pmfs_le_write {
	struct pmfs_lentry h;   /*  0 */
	le64 pgoff;             /* 16 first file block */
	le32 nblocks;           /* 24 */
	le32 flags;             /* 28 PMFS_WR_* */
	le64 blk;               /* 32 first device block, 0 for a hole */
	le64 size;              /* 40 file size after this entry */
	struct pmfs_time mtime; /* 48 */
	struct pmfs_time ctime; /* 64 */
};
_Static_assert(sizeof(struct pmfs_le_write) == 80, "write entry");

/*
 * Directory entry added or removed.  Also sets the directory's own mtime,
 * ctime and nlink (the values after the change).  cookie is the entry's
 * stable readdir position in this directory: unique, never reused, and
 * increasing in the order entries were added.  name is not NUL-terminated;
 * the entry is padded with zeros to a multiple of 8.
 */
struct pmfs_le_dentry {
	struct pmfs_lentry h;   /*  0 */
	le64 ino;               /* 16 target inode */
	le64 cookie;            /* 24 */
	le32 gen;               /* 32 target's generation */
	le32 dir_nlink;         /* 36 directory's nlink after the change */
	uint8_t ftype;          /* 40 DT_* of the target */
	uint8_t name_len;       /* 41 1 .. 255 */
	le16 pad0;              /* 42 */
	le32 pad1;              /* 44 */
	struct pmfs_time mtime; /* 48 directory mtime = ctime */
	uint8_t name[];         /* 64 */
};
_Static_assert(sizeof(struct pmfs_le_dentry) == 64, "dentry entry");

/* symlink target: inline, or in one data block when it does not fit */
#define PMFS_SL_INLINE 0x1u
#define PMFS_SYMLINK_INLINE_MAX                                               \
	(PMFS_LENTRY_MAX - sizeof(struct pmfs_le_symlink))

struct pmfs_le_symlink {
	struct pmfs_lentry h; /*  0 */
	le32 len;             /* 16 target length, 1 .. PMFS_SYMLINK_MAX */
	le32 flags;           /* 20 PMFS_SL_* */
	le64 blk;             /* 24 data block when not inline */
	uint8_t target[];     /* 32 when inline */
};
_Static_assert(sizeof(struct pmfs_le_symlink) == 32, "symlink entry");

/* xattr set (name and value inline) or removed (value_len = 0) */
struct pmfs_le_xattr {
	struct pmfs_lentry h;   /*  0 */
	uint8_t name_len;       /* 16 1 .. 255, full name with namespace */
	uint8_t pad0;           /* 17 */
	le16 value_len;         /* 18 0 .. PMFS_XATTR_INLINE_MAX */
	le32 pad1;              /* 20 */
	struct pmfs_time ctime; /* 24 inode ctime after the change */
	uint8_t data[];         /* 40 name then value, zero-padded */
};
_Static_assert(sizeof(struct pmfs_le_xattr) == 40, "xattr entry");

/*
 * xattr set with its value in fmt_xattr_blocks(value_len) consecutive
 * data blocks from blk (the last one zero-padded), on a filesystem with
 * PMFS_FEATURE_INCOMPAT_LARGE_XATTR.  The value is durable before the
 * entry that names it (it is written to fresh blocks, never in place);
 * the blocks are the xattr's until an entry of the same name replaces or
 * removes it, or the inode is freed.  name_len and ctime sit where
 * pmfs_le_xattr has them.
 */
struct pmfs_le_xattr_blk {
	struct pmfs_lentry h;   /*  0 */
	uint8_t name_len;       /* 16 1 .. 255, full name with namespace */
	uint8_t pad0;           /* 17 */
	le16 pad1;              /* 18 */
	le32 value_len;         /* 20 1 .. PMFS_XATTR_VALUE_MAX */
	struct pmfs_time ctime; /* 24 inode ctime after the change */
	le64 blk;               /* 40 first block of the value */
	uint8_t name[];         /* 48 zero-padded */
};
_Static_assert(sizeof(struct pmfs_le_xattr_blk) == 48, "xattr block entry");
_Static_assert(offsetof(struct pmfs_le_xattr_blk, name_len) ==
			       offsetof(struct pmfs_le_xattr, name_len) &&
		       offsetof(struct pmfs_le_xattr_blk, ctime) ==
			       offsetof(struct pmfs_le_xattr, ctime),
	       "xattr entries share name_len and ctime");

/*
 * POSIX ACLs: the values of the xattrs PMFS_ACL_ACCESS and PMFS_ACL_DEFAULT
 * are ACLs in the form the kernel hands them over (its posix_acl_xattr
 * layout): a header, then entries sorted by tag.  fmt_acl_check says which values are valid; mount.pmfs
 * hands only those to the kernel and fsck.pmfs removes the others.
 */
#define PMFS_ACL_ACCESS "system.posix_acl_access"
#define PMFS_ACL_DEFAULT "system.posix_acl_default"
#define PMFS_ACL_VERSION 2
#define PMFS_ACL_MAX PMFS_XATTR_INLINE_MAX /* bytes: an ACL is inline */

enum pmfs_acl_tag {
	PMFS_ACL_USER_OBJ = 0x01,  /* the owner */
	PMFS_ACL_USER = 0x02,      /* a named user (id) */
	PMFS_ACL_GROUP_OBJ = 0x04, /* the owning group */
	PMFS_ACL_GROUP = 0x08,     /* a named group (id) */
	PMFS_ACL_MASK = 0x10,      /* the most named entries and the group get */
	PMFS_ACL_OTHER = 0x20,     /* everyone else */
};

struct pmfs_acl_header {
	le32 version; /* 0 PMFS_ACL_VERSION */
};
_Static_assert(sizeof(struct pmfs_acl_header) == 4, "ACL header");

struct pmfs_acl_entry {
	le16 tag;  /* 0 enum pmfs_acl_tag */
	le16 perm; /* 2 rwx: 0 .. 7 */
	le32 id;   /* 4 uid or gid for USER and GROUP, else ignored */
};
_Static_assert(sizeof(struct pmfs_acl_entry) == 8, "ACL entry");

/* ---- saved allocator state (written at clean unmount) ------------------ */

#define PMFS_ALLOCSAVE_MAGIC 0x564c4641u /* "AFLV" */
#define PMFS_ALLOCSAVE_MAX ((PMFS_BLOCK_SIZE - 32) / 16)

struct pmfs_extent {
	le64 start; /* 0 first block */
	le64 len;   /* 8 blocks */
};

/*
 * A chain of blocks listing the free extents at clean unmount.  Valid only
 * while sb_state.clean is set; the blocks themselves are free again once
 * the mount has read them.
 */
struct pmfs_allocsave {
	le32 magic;   /*  0 PMFS_ALLOCSAVE_MAGIC */
	le32 crc;     /*  4 crc32c of bytes 8 .. 32 + 16*count */
	le64 next;    /*  8 block number of the next block, 0 = last */
	le64 count;   /* 16 extents in this block */
	le64 seq;     /* 24 0 for the first block, +1 per block */
	struct pmfs_extent ext[PMFS_ALLOCSAVE_MAX]; /* 32 */
};
_Static_assert(sizeof(struct pmfs_allocsave) == PMFS_BLOCK_SIZE,
	       "allocator save block");

#endif /* PMFS_FORMAT_H */
