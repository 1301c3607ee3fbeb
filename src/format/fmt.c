/*
 * fmt.c - format helpers shared by the daemon, mkfs.pmfs and fsck.pmfs:
 * the namespace geometry, the superblock (build and check), the checksums
 * of log pages, log entries, the bad-block table, the allocator save
 * blocks and journal records, inode-slot addressing, and the xattr values
 * pmfs interprets (POSIX ACLs).  Pure functions
 * over caller-provided memory: nothing here flushes or fences (pmemio
 * does), so the same code checks a mapping, a DRAM copy or a test buffer.
 */
#include "format/fmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Format a one-line reason into why (if given); returns code. */
__attribute__((format(printf, 4, 5))) static int
fmt_fail(int code, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* ---- geometry ----------------------------------------------------------- */

/* Layout for a namespace of ns_bytes; 0 or -EINVAL if too small. */
int fmt_geometry(uint64_t ns_bytes, struct fmt_geometry *g)
{
	memset(g, 0, sizeof(*g));
	if (ns_bytes < PMFS_MIN_SIZE)
		return -EINVAL;
	g->total_blocks = ns_bytes >> PMFS_BLOCK_SHIFT;
	g->nlanes = PMFS_MAX_LANES;
	g->journal_start = PMFS_JOURNAL_START;
	g->itdir_start = g->journal_start + g->nlanes;
	g->data_start = g->itdir_start + PMFS_ITDIR_BLOCKS;
	return 0;
}

/* ---- superblock --------------------------------------------------------- */

/* crc32c of the checksummed part of the superblock. */
uint32_t fmt_super_crc(const struct pmfs_super *sb)
{
	return pmfs_crc32c(0, sb, offsetof(struct pmfs_super, crc));
}

/* Fill and seal a superblock for geometry g; 0 or -ENAMETOOLONG. */
int fmt_super_init(struct pmfs_super *sb, const struct fmt_geometry *g,
		   const uint8_t uuid[16], const char *label,
		   uint64_t mkfs_time, uint32_t incompat)
{
	size_t llen = label ? strlen(label) : 0;

	if (llen > PMFS_LABEL_MAX)
		return -ENAMETOOLONG;
	memset(sb, 0, sizeof(*sb));
	memcpy(sb->magic, PMFS_MAGIC, PMFS_MAGIC_LEN);
	sb->version = PMFS_FORMAT_VERSION;
	sb->block_size = PMFS_BLOCK_SIZE;
	sb->total_blocks = g->total_blocks;
	memcpy(sb->uuid, uuid, sizeof(sb->uuid));
	if (llen)
		memcpy(sb->label, label, llen);
	sb->mkfs_time = mkfs_time;
	sb->nlanes = g->nlanes;
	sb->inode_size = PMFS_INODE_SIZE;
	sb->journal_start = g->journal_start;
	sb->itdir_start = g->itdir_start;
	sb->itdir_blocks = PMFS_ITDIR_BLOCKS;
	sb->chunk_blocks = PMFS_CHUNK_BLOCKS;
	sb->data_start = g->data_start;
	sb->root_ino = PMFS_ROOT_INO;
	sb->feature_incompat = incompat;
	sb->crc = fmt_super_crc(sb);
	return 0;
}

/* Validate a superblock against a namespace size; 0 or -errno + why. */
int fmt_super_check(const struct pmfs_super *sb, uint64_t ns_bytes,
		    char *why, size_t whylen)
{
	uint64_t min_blocks = PMFS_MIN_SIZE / PMFS_BLOCK_SIZE;
	uint32_t crc;

	if (memcmp(sb->magic, PMFS_MAGIC, PMFS_MAGIC_LEN) != 0)
		return fmt_fail(-EINVAL, why, whylen,
				"bad magic: not a pmfs superblock");
	if (sb->version != PMFS_FORMAT_VERSION)
		return fmt_fail(-EOPNOTSUPP, why, whylen,
				"unsupported format version %u (this pmfs "
				"knows version %u)",
				sb->version, PMFS_FORMAT_VERSION);
	crc = fmt_super_crc(sb);
	if (crc != sb->crc)
		return fmt_fail(-EUCLEAN, why, whylen,
				"superblock checksum mismatch (stored 0x%08x, "
				"computed 0x%08x)",
				sb->crc, crc);
	if (sb->feature_incompat & ~PMFS_FEATURE_INCOMPAT_SUPP)
		return fmt_fail(-EOPNOTSUPP, why, whylen,
				"unknown incompatible features 0x%x",
				sb->feature_incompat &
					~PMFS_FEATURE_INCOMPAT_SUPP);
	if (sb->block_size != PMFS_BLOCK_SIZE)
		return fmt_fail(-EUCLEAN, why, whylen,
				"block size %u, expected %u", sb->block_size,
				PMFS_BLOCK_SIZE);
	if (sb->inode_size != PMFS_INODE_SIZE)
		return fmt_fail(-EUCLEAN, why, whylen,
				"inode size %u, expected %u", sb->inode_size,
				PMFS_INODE_SIZE);
	if (sb->itdir_blocks != PMFS_ITDIR_BLOCKS)
		return fmt_fail(-EUCLEAN, why, whylen,
				"inode-table directory of %u blocks, expected "
				"%u",
				sb->itdir_blocks, PMFS_ITDIR_BLOCKS);
	if (sb->chunk_blocks != PMFS_CHUNK_BLOCKS)
		return fmt_fail(-EUCLEAN, why, whylen,
				"inode-table chunk of %u blocks, expected %u",
				sb->chunk_blocks, PMFS_CHUNK_BLOCKS);
	if (sb->root_ino != PMFS_ROOT_INO)
		return fmt_fail(-EUCLEAN, why, whylen,
				"root inode %llu, expected %u",
				(unsigned long long)sb->root_ino,
				PMFS_ROOT_INO);
	if (sb->label[PMFS_LABEL_MAX] != 0)
		return fmt_fail(-EUCLEAN, why, whylen,
				"label is not NUL-terminated");
	if (sb->nlanes < 1 || sb->nlanes > PMFS_MAX_LANES)
		return fmt_fail(-EUCLEAN, why, whylen,
				"%u journal lanes, expected 1..%u", sb->nlanes,
				PMFS_MAX_LANES);
	if (sb->total_blocks < min_blocks ||
	    sb->total_blocks > (UINT64_MAX >> PMFS_BLOCK_SHIFT))
		return fmt_fail(-EUCLEAN, why, whylen,
				"total_blocks %llu out of range (minimum "
				"%llu)",
				(unsigned long long)sb->total_blocks,
				(unsigned long long)min_blocks);
	if (ns_bytes && sb->total_blocks > (ns_bytes >> PMFS_BLOCK_SHIFT))
		return fmt_fail(-EUCLEAN, why, whylen,
				"total_blocks %llu larger than the namespace "
				"(%llu blocks)",
				(unsigned long long)sb->total_blocks,
				(unsigned long long)(ns_bytes >>
						     PMFS_BLOCK_SHIFT));
	/*
	 * The regions follow each other inside [0, total_blocks): each start
	 * is compared with the end of the region before it and each length
	 * with the room left before total_blocks, so that no sum of two
	 * values read from media is ever formed before it is known not to
	 * wrap.
	 */
	if (sb->journal_start <= PMFS_BADBLK_BLOCK)
		return fmt_fail(-EUCLEAN, why, whylen,
				"journal at block %llu overlaps the "
				"superblocks or bad-block table",
				(unsigned long long)sb->journal_start);
	if (sb->journal_start >= sb->total_blocks ||
	    sb->total_blocks - sb->journal_start < sb->nlanes)
		return fmt_fail(-EUCLEAN, why, whylen,
				"journal at block %llu (%u blocks) ends past "
				"the last block %llu",
				(unsigned long long)sb->journal_start,
				sb->nlanes,
				(unsigned long long)(sb->total_blocks - 1));
	/* journal_start + nlanes <= total_blocks from here on */
	if (sb->itdir_start < sb->journal_start + sb->nlanes)
		return fmt_fail(-EUCLEAN, why, whylen,
				"inode-table directory at block %llu overlaps "
				"the journal (blocks %llu..%llu)",
				(unsigned long long)sb->itdir_start,
				(unsigned long long)sb->journal_start,
				(unsigned long long)(sb->journal_start +
						     sb->nlanes - 1));
	if (sb->itdir_start >= sb->total_blocks ||
	    sb->total_blocks - sb->itdir_start < sb->itdir_blocks)
		return fmt_fail(-EUCLEAN, why, whylen,
				"inode-table directory at block %llu ends "
				"past the last block %llu",
				(unsigned long long)sb->itdir_start,
				(unsigned long long)(sb->total_blocks - 1));
	/* itdir_start + itdir_blocks <= total_blocks from here on */
	if (sb->data_start < sb->itdir_start + sb->itdir_blocks)
		return fmt_fail(-EUCLEAN, why, whylen,
				"data area at block %llu overlaps the "
				"inode-table directory",
				(unsigned long long)sb->data_start);
	if (sb->data_start >= sb->total_blocks ||
	    sb->total_blocks - sb->data_start < PMFS_CHUNK_BLOCKS + 3)
		return fmt_fail(-EUCLEAN, why, whylen,
				"data area at block %llu leaves no room in "
				"%llu blocks",
				(unsigned long long)sb->data_start,
				(unsigned long long)sb->total_blocks);
	return 0;
}

/* Copy the geometry recorded in a checked superblock. */
void fmt_super_geometry(const struct pmfs_super *sb, struct fmt_geometry *g)
{
	g->total_blocks = sb->total_blocks;
	g->nlanes = sb->nlanes;
	g->journal_start = sb->journal_start;
	g->itdir_start = sb->itdir_start;
	g->data_start = sb->data_start;
}

/* The clean word of sb_state: PMFS_STATE_CLEAN or 0. */
int fmt_state_check(const struct pmfs_sb_state *st, char *why,
		    size_t whylen)
{
	if (st->clean != 0 && st->clean != PMFS_STATE_CLEAN)
		return fmt_fail(-EUCLEAN, why, whylen,
				"clean flag holds %#llx, neither clean nor 0",
				(unsigned long long)st->clean);
	return 0;
}

/* ---- bad-block table ---------------------------------------------------- */

/* Build a bad-block table from n sorted unique block numbers. */
void fmt_badblocks_init(struct pmfs_badblocks *bb, const uint64_t *blk,
			uint32_t n)
{
	memset(bb, 0, sizeof(*bb));
	bb->magic = PMFS_BADBLK_MAGIC;
	if (n > PMFS_BADBLK_MAX)
		n = PMFS_BADBLK_MAX;
	bb->count = n;
	for (uint32_t i = 0; i < n; i++)
		bb->blk[i] = blk[i];
	bb->crc = fmt_badblocks_crc(bb);
}

/* Validate the bad-block table against the geometry. */
int fmt_badblocks_check(const struct pmfs_badblocks *bb,
			const struct fmt_geometry *g, char *why,
			size_t whylen)
{
	if (bb->magic != PMFS_BADBLK_MAGIC)
		return fmt_fail(-EUCLEAN, why, whylen, "bad magic");
	if (bb->count > PMFS_BADBLK_MAX)
		return fmt_fail(-EUCLEAN, why, whylen,
				"entry count %u out of range", bb->count);
	if (bb->crc != fmt_badblocks_crc(bb))
		return fmt_fail(-EUCLEAN, why, whylen, "checksum mismatch");
	for (uint32_t i = 0; i < bb->count; i++)
		if (bb->blk[i] < g->data_start ||
		    bb->blk[i] >= g->total_blocks ||
		    (i && bb->blk[i] <= bb->blk[i - 1]))
			return fmt_fail(-EUCLEAN, why, whylen,
					"entry %u (block %llu) unsorted or "
					"outside the data area",
					i, (unsigned long long)bb->blk[i]);
	return 0;
}

/* ---- inode-table directory ---------------------------------------------- */

/* A chunk at blk lies inside the data area. */
bool fmt_chunk_ok(const struct fmt_geometry *g, uint64_t blk)
{
	return blk >= g->data_start && blk < g->total_blocks &&
	       g->total_blocks - blk >= PMFS_CHUNK_BLOCKS;
}

/* ---- saved allocator state ---------------------------------------------- */

/* Build block seq of a saved allocator chain. */
void fmt_allocsave_init(struct pmfs_allocsave *as, uint64_t seq,
			uint64_t next, const struct pmfs_extent *ext,
			uint64_t count)
{
	memset(as, 0, sizeof(*as));
	as->magic = PMFS_ALLOCSAVE_MAGIC;
	if (count > PMFS_ALLOCSAVE_MAX)
		count = PMFS_ALLOCSAVE_MAX;
	as->next = next;
	as->count = count;
	as->seq = seq;
	memcpy(as->ext, ext, count * sizeof(*ext));
	as->crc = fmt_allocsave_crc(as);
}

/* Validate block number seq of a saved allocator chain. */
int fmt_allocsave_check(const struct pmfs_allocsave *as, uint64_t seq,
			const struct fmt_geometry *g)
{
	if (as->magic != PMFS_ALLOCSAVE_MAGIC || as->seq != seq ||
	    as->count > PMFS_ALLOCSAVE_MAX ||
	    as->crc != fmt_allocsave_crc(as))
		return -EUCLEAN;
	if (as->next && (as->next < g->data_start ||
			 as->next >= g->total_blocks))
		return -EUCLEAN;
	for (uint64_t i = 0; i < as->count; i++)
		if (as->ext[i].start < g->data_start ||
		    as->ext[i].len > g->total_blocks ||
		    as->ext[i].start > g->total_blocks - as->ext[i].len)
			return -EUCLEAN;
	return 0;
}

/* ---- log pages and entries ---------------------------------------------- */

/* crc of a log page header, next taken as 0. */
uint32_t fmt_logpage_crc(const struct pmfs_logpage *pg)
{
	static const uint8_t zero[8];
	uint32_t c;

	c = pmfs_crc32c(0, &pg->ino, sizeof(pg->ino) + sizeof(pg->seq));
	return pmfs_crc32c(c, zero, sizeof(zero)); /* next taken as 0 */
}

/* Fill a log page header for (ino, seq) and seal it. */
void fmt_logpage_init(struct pmfs_logpage *pg, uint64_t ino, uint64_t seq)
{
	memset(pg, 0, sizeof(*pg));
	pg->magic = PMFS_LOGPAGE_MAGIC;
	pg->ino = ino;
	pg->seq = seq;
	pg->crc = fmt_logpage_crc(pg);
}

/* Magic, owner and crc of a log page header; 0 or -EUCLEAN. */
int fmt_logpage_check(const struct pmfs_logpage *pg, uint64_t ino)
{
	if (pg->magic != PMFS_LOGPAGE_MAGIC || pg->ino != ino ||
	    pg->crc != fmt_logpage_crc(pg))
		return -EUCLEAN;
	return 0;
}

/* crc of an entry: le64 owner ino, then the entry with crc = 0. */
uint32_t fmt_entry_crc(uint64_t ino, const struct pmfs_lentry *e)
{
	static const uint8_t zero[4];
	const uint8_t *p = (const uint8_t *)e;
	le64 owner = ino;
	uint32_t c;

	c = pmfs_crc32c(0, &owner, sizeof(owner));
	c = pmfs_crc32c(c, p, offsetof(struct pmfs_lentry, crc));
	c = pmfs_crc32c(c, zero, sizeof(zero)); /* crc field taken as 0 */
	return pmfs_crc32c(c, p + offsetof(struct pmfs_lentry, seq),
			   (size_t)e->len - offsetof(struct pmfs_lentry, seq));
}

/* Store the entry crc for owner ino. */
void fmt_entry_seal(uint64_t ino, struct pmfs_lentry *e)
{
	e->crc = fmt_entry_crc(ino, e);
}

/* Smallest legal length of an entry of type t (t already in range). */
static size_t entry_min_len(unsigned t)
{
	switch (t) {
	case PMFS_LE_ATTR:
		return sizeof(struct pmfs_le_attr);
	case PMFS_LE_WRITE:
		return sizeof(struct pmfs_le_write);
	case PMFS_LE_DENTRY_ADD:
	case PMFS_LE_DENTRY_DEL:
		return fmt_dentry_len(1);
	case PMFS_LE_SYMLINK:
		return sizeof(struct pmfs_le_symlink);
	case PMFS_LE_XATTR_BLK:
		return sizeof(struct pmfs_le_xattr_blk) + 8;
	default:
		return sizeof(struct pmfs_le_xattr) + 8;
	}
}

/* Type-specific consistency of an entry whose crc already matched. */
static int entry_fields_ok(const struct pmfs_lentry *e, char *why,
			   size_t whylen)
{
	const struct pmfs_le_dentry *d = (const void *)e;
	const struct pmfs_le_symlink *s = (const void *)e;
	const struct pmfs_le_xattr *x = (const void *)e;
	const struct pmfs_le_xattr_blk *xb = (const void *)e;

	switch (e->type) {
	case PMFS_LE_DENTRY_ADD:
	case PMFS_LE_DENTRY_DEL:
		if (d->name_len == 0 || e->len != fmt_dentry_len(d->name_len))
			return fmt_fail(-EUCLEAN, why, whylen,
					"dentry name length %u does not match "
					"entry length %u",
					d->name_len, e->len);
		break;
	case PMFS_LE_SYMLINK:
		if (s->len == 0 || s->len > PMFS_SYMLINK_MAX ||
		    ((s->flags & PMFS_SL_INLINE) &&
		     sizeof(*s) + s->len > e->len))
			return fmt_fail(-EUCLEAN, why, whylen,
					"symlink target length %u invalid",
					s->len);
		break;
	case PMFS_LE_XATTR_SET:
	case PMFS_LE_XATTR_DEL:
		if (x->name_len == 0 || x->value_len > PMFS_XATTR_INLINE_MAX ||
		    sizeof(*x) + x->name_len + x->value_len > e->len)
			return fmt_fail(-EUCLEAN, why, whylen,
					"xattr name/value lengths %u/%u "
					"invalid",
					x->name_len, x->value_len);
		break;
	case PMFS_LE_XATTR_BLK:
		if (xb->name_len == 0 || xb->value_len == 0 ||
		    xb->value_len > PMFS_XATTR_VALUE_MAX ||
		    sizeof(*xb) + xb->name_len > e->len)
			return fmt_fail(-EUCLEAN, why, whylen,
					"xattr name/value lengths %u/%u "
					"invalid",
					xb->name_len, (unsigned)xb->value_len);
		break;
	default:
		break;
	}
	return 0;
}

/* Validate an entry in `room` bytes for owner ino; 0 or -EUCLEAN. */
int fmt_entry_check(uint64_t ino, const struct pmfs_lentry *e, size_t room,
		    char *why, size_t whylen)
{
	uint32_t crc;

	if (room < sizeof(*e))
		return fmt_fail(-EUCLEAN, why, whylen,
				"no room for an entry header (%zu bytes)",
				room);
	if (e->type < 1 || e->type > PMFS_LE_MAX)
		return fmt_fail(-EUCLEAN, why, whylen,
				"unknown entry type %u", e->type);
	if (e->len % 8 || e->len < entry_min_len(e->type) || e->len > room)
		return fmt_fail(-EUCLEAN, why, whylen,
				"entry length %u invalid for type %u (room "
				"%zu)",
				e->len, e->type, room);
	crc = fmt_entry_crc(ino, e);
	if (crc != e->crc)
		return fmt_fail(-EUCLEAN, why, whylen,
				"entry checksum mismatch (stored 0x%08x, "
				"computed 0x%08x)",
				e->crc, crc);
	return entry_fields_ok(e, why, whylen);
}

/* ---- other checksums ---------------------------------------------------- */

/* crc of the used part of the bad-block table. */
uint32_t fmt_badblocks_crc(const struct pmfs_badblocks *bb)
{
	uint32_t n = bb->count > PMFS_BADBLK_MAX ? PMFS_BADBLK_MAX : bb->count;

	return pmfs_crc32c(0, bb->blk, (size_t)n * sizeof(bb->blk[0]));
}

/* crc of one allocator save block (bytes 8 .. 32 + 16*count). */
uint32_t fmt_allocsave_crc(const struct pmfs_allocsave *as)
{
	uint64_t n = as->count > PMFS_ALLOCSAVE_MAX ? PMFS_ALLOCSAVE_MAX
						    : as->count;

	return pmfs_crc32c(0, &as->next,
			   offsetof(struct pmfs_allocsave, ext) -
				   offsetof(struct pmfs_allocsave, next) +
				   (size_t)n * sizeof(as->ext[0]));
}

/* crc of the first n journal records. */
uint32_t fmt_jnl_crc(const struct pmfs_jrec *rec, uint32_t n)
{
	if (n > PMFS_JREC_MAX)
		n = PMFS_JREC_MAX;
	return pmfs_crc32c(0, rec, (size_t)n * sizeof(*rec));
}

/* ---- addresses ---------------------------------------------------------- */

/* Byte offset of inode ino's slot, 0 when it has none. */
uint64_t fmt_inode_off(const le64 *itdir, uint64_t total_blocks,
		       uint64_t ino)
{
	uint64_t chunk, blk;

	if (ino == 0 || ino >= PMFS_MAX_INODES)
		return 0;
	chunk = fmt_ino_chunk(ino);
	blk = __atomic_load_n(&itdir[chunk], __ATOMIC_ACQUIRE);
	if (blk == 0 || blk >= total_blocks ||
	    total_blocks - blk < PMFS_CHUNK_BLOCKS)
		return 0;
	return fmt_blk_off(blk) +
	       (ino % PMFS_INODES_PER_CHUNK) * (uint64_t)PMFS_INODE_SIZE;
}

/* ---- xattr values pmfs reads -------------------------------------------- */

int fmt_acl_name(const char *name, size_t nlen)
{
	if (nlen == strlen(PMFS_ACL_ACCESS) &&
	    !memcmp(name, PMFS_ACL_ACCESS, nlen))
		return 1;
	if (nlen == strlen(PMFS_ACL_DEFAULT) &&
	    !memcmp(name, PMFS_ACL_DEFAULT, nlen))
		return 2;
	return 0;
}

struct pmfs_acl_entry fmt_acl_entry(const void *v, size_t i)
{
	struct pmfs_acl_entry e;

	memcpy(&e,
	       (const uint8_t *)v + sizeof(struct pmfs_acl_header) +
		       i * sizeof(e),
	       sizeof(e));
	return e;
}

int fmt_acl_check(const void *v, size_t n, char *why, size_t whylen)
{
	struct pmfs_acl_header h;
	unsigned seen = 0, named = 0, prev_tag = 0;
	size_t cnt;

	if (n > PMFS_ACL_MAX)
		return fmt_fail(-EINVAL, why, whylen,
				"%zu bytes, more than the %u an ACL may have",
				n, (unsigned)PMFS_ACL_MAX);
	if (n < sizeof(h) + sizeof(struct pmfs_acl_entry) ||
	    (n - sizeof(h)) % sizeof(struct pmfs_acl_entry))
		return fmt_fail(-EINVAL, why, whylen,
				"%zu bytes are no whole number of entries", n);
	memcpy(&h, v, sizeof(h));
	if (h.version != PMFS_ACL_VERSION)
		return fmt_fail(-EINVAL, why, whylen, "version %u",
				(unsigned)h.version);
	cnt = (n - sizeof(h)) / sizeof(struct pmfs_acl_entry);
	for (size_t i = 0; i < cnt; i++) {
		struct pmfs_acl_entry e = fmt_acl_entry(v, i);
		unsigned tag = e.tag;

		if (e.perm & ~7u)
			return fmt_fail(-EINVAL, why, whylen,
					"entry %zu: permission %#x", i,
					(unsigned)e.perm);
		if (tag < prev_tag)
			return fmt_fail(-EINVAL, why, whylen,
					"entry %zu: out of order", i);
		switch (tag) {
		case PMFS_ACL_USER_OBJ:
		case PMFS_ACL_GROUP_OBJ:
		case PMFS_ACL_MASK:
		case PMFS_ACL_OTHER:
			if (seen & tag)
				return fmt_fail(-EINVAL, why, whylen,
						"entry %zu: tag %#x twice", i,
						tag);
			break;
		case PMFS_ACL_USER:
		case PMFS_ACL_GROUP:
			named = 1; /* ids in any order, as the kernel takes */
			break;
		default:
			return fmt_fail(-EINVAL, why, whylen,
					"entry %zu: unknown tag %#x", i, tag);
		}
		prev_tag = tag;
		seen |= tag;
	}
	if ((~seen & (PMFS_ACL_USER_OBJ | PMFS_ACL_GROUP_OBJ |
		      PMFS_ACL_OTHER)) ||
	    (named && !(seen & PMFS_ACL_MASK)))
		return fmt_fail(-EINVAL, why, whylen,
				"an owner, group, other entry, or the mask "
				"named entries need, is missing");
	return 0;
}
