/*
 * lentry.c - log entries: one builder and one validator per entry type.
 *
 * Every entry any program writes (the fs, its log GC, mkfs.pmfs, fsck's
 * repairs) is made by a lent_* builder here, and every entry any program
 * reads is judged by lent_check(), which ilog_apply() calls before it
 * applies the entry: the mount and fsck cannot disagree about what a
 * valid entry is.  ilog_walk (ilog.c) has already checked the header
 * (fmt_entry_check: type, length, checksum) and the sequence; lent_check
 * adds the fields of each type and what the inode's state so far allows
 * (LOG(3)): the first entry sets every attribute, the file type never
 * changes, extents only in regular files, directory entries only in
 * directories, a symlink target only in a symlink, an xattr value in data
 * blocks only on a filesystem with the large_xattr feature.
 */
#include "log/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

/* Largest file offset in blocks, and size in bytes, an entry may name. */
#define LENT_MAX_PAGES ((uint64_t)INT64_MAX >> PMFS_BLOCK_SHIFT)

/* ---- builders ----------------------------------------------------------- */

/* Zero the buffer's first len bytes and set the header (seq and crc are
 * ilog_append's). */
static struct pmfs_lentry *head(union lent_buf *b, uint16_t type, size_t len)
{
	memset(b, 0, len);
	b->h.type = type;
	b->h.len = (uint16_t)len;
	return &b->h;
}

void lent_time(struct pmfs_time *t, const struct timespec *ts)
{
	t->sec = (uint64_t)ts->tv_sec;
	t->nsec = (uint32_t)ts->tv_nsec;
	t->pad = 0;
}

struct pmfs_lentry *lent_attr(union lent_buf *b, uint32_t mask,
			      const struct ilog_state *st)
{
	struct pmfs_le_attr *a = (void *)head(b, PMFS_LE_ATTR, sizeof(*a));

	a->mask = mask;
	a->mode = st->mode;
	a->uid = st->uid;
	a->gid = st->gid;
	a->nlink = st->nlink;
	a->size = st->size;
	a->rdev = st->rdev;
	a->parent = st->parent;
	lent_time(&a->atime, &st->atime);
	lent_time(&a->mtime, &st->mtime);
	lent_time(&a->ctime, &st->ctime);
	lent_time(&a->btime, &st->btime);
	return &a->h;
}

struct pmfs_lentry *lent_write(union lent_buf *b, uint64_t pgoff,
			       uint32_t nblocks, uint32_t flags, uint64_t blk,
			       uint64_t size, const struct timespec *mtime,
			       const struct timespec *ctime)
{
	struct pmfs_le_write *w = (void *)head(b, PMFS_LE_WRITE, sizeof(*w));

	w->pgoff = pgoff;
	w->nblocks = nblocks;
	w->flags = flags;
	w->blk = flags & PMFS_WR_HOLE ? 0 : blk;
	w->size = size;
	lent_time(&w->mtime, mtime);
	lent_time(&w->ctime, ctime);
	return &w->h;
}

struct pmfs_lentry *lent_dentry(union lent_buf *b, uint16_t type,
				uint64_t ino, uint32_t gen, uint64_t cookie,
				unsigned ftype, const char *name, size_t nlen,
				uint32_t dir_nlink,
				const struct timespec *mtime)
{
	struct pmfs_le_dentry *d =
		(void *)head(b, type, fmt_dentry_len((unsigned)nlen));

	d->ino = ino;
	d->cookie = cookie;
	d->gen = gen;
	d->dir_nlink = dir_nlink;
	d->ftype = (uint8_t)ftype;
	d->name_len = (uint8_t)nlen;
	lent_time(&d->mtime, mtime);
	memcpy(d->name, name, nlen);
	return &d->h;
}

struct pmfs_lentry *lent_symlink(union lent_buf *b, const char *target,
				 uint32_t len, uint64_t blk)
{
	struct pmfs_le_symlink *s;

	if (blk) {
		s = (void *)head(b, PMFS_LE_SYMLINK, sizeof(*s));
		s->blk = blk;
	} else {
		s = (void *)head(b, PMFS_LE_SYMLINK,
				 (sizeof(*s) + len + 7) & ~(size_t)7);
		s->flags = PMFS_SL_INLINE;
		memcpy(s->target, target, len);
	}
	s->len = len;
	return &s->h;
}

struct pmfs_lentry *lent_xattr(union lent_buf *b, uint16_t type,
			       const char *name, size_t nlen, const void *val,
			       size_t vlen, const struct timespec *ctime)
{
	struct pmfs_le_xattr *x;

	if (type == PMFS_LE_XATTR_DEL)
		vlen = 0;
	x = (void *)head(b, type,
			 (sizeof(*x) + nlen + vlen + 7) & ~(size_t)7);
	x->name_len = (uint8_t)nlen;
	x->value_len = (uint16_t)vlen;
	lent_time(&x->ctime, ctime);
	memcpy(x->data, name, nlen);
	if (vlen)
		memcpy(x->data + nlen, val, vlen);
	return &x->h;
}

struct pmfs_lentry *lent_xattr_blk(union lent_buf *b, const char *name,
				   size_t nlen, uint32_t vlen, uint64_t blk,
				   const struct timespec *ctime)
{
	struct pmfs_le_xattr_blk *x =
		(void *)head(b, PMFS_LE_XATTR_BLK,
			     (sizeof(*x) + nlen + 7) & ~(size_t)7);

	x->name_len = (uint8_t)nlen;
	x->value_len = vlen;
	x->blk = blk;
	lent_time(&x->ctime, ctime);
	memcpy(x->name, name, nlen);
	return &x->h;
}

/* ---- the validator ------------------------------------------------------ */

bool lent_name_ok(const uint8_t *name, size_t n)
{
	if (n == 0 || n > PMFS_NAME_MAX || (n == 1 && name[0] == '.') ||
	    (n == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] == '/' || name[i] == 0)
			return false;
	return true;
}

/* A file type pmfs stores (mode & S_IFMT). */
static bool type_ok(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
	case S_IFLNK:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		return true;
	default:
		return false;
	}
}

/* A DT_* value of a type pmfs stores. */
static bool dtype_ok(unsigned dt)
{
	return dt == DT_REG || dt == DT_DIR || dt == DT_LNK || dt == DT_CHR ||
	       dt == DT_BLK || dt == DT_FIFO || dt == DT_SOCK;
}

/* ATTR: known mask bits, a valid file type that never changes, a possible
 * size. */
static const char *check_attr(const struct ilog_state *st,
			      const struct pmfs_le_attr *a)
{
	if (a->mask & ~PMFS_AT_ALL)
		return "attribute entry with unknown mask bits";
	if ((a->mask & PMFS_AT_MODE) && !type_ok(a->mode))
		return "attribute entry with an invalid file type";
	if (st->nentries && (a->mask & PMFS_AT_MODE) &&
	    (a->mode & S_IFMT) != (st->mode & S_IFMT))
		return "attribute entry changes the file type";
	if ((a->mask & PMFS_AT_SIZE) && a->size > INT64_MAX)
		return "attribute entry with an impossible size";
	return NULL;
}

/* WRITE: only in a file; blocks, flags, offsets and size in range. */
static const char *check_write(const struct ilog_dev *d,
			       const struct ilog_state *st,
			       const struct pmfs_le_write *w)
{
	if (!S_ISREG(st->mode))
		return "write entry in a log that is not a file's";
	if (w->nblocks == 0 ||
	    (w->flags & ~(uint32_t)(PMFS_WR_HOLE | PMFS_WR_UNWRITTEN)))
		return "write entry with no blocks or unknown flags";
	if (w->pgoff > LENT_MAX_PAGES || w->nblocks > LENT_MAX_PAGES - w->pgoff ||
	    w->size > INT64_MAX)
		return "write entry beyond the largest file";
	if (!(w->flags & PMFS_WR_HOLE) &&
	    !ilog_blocks_ok(d, w->blk, w->nblocks))
		return "write entry with blocks outside the data area";
	return NULL;
}

/*
 * The "." DENTRY_DEL with inode 0: log compaction wrote one to keep a
 * directory's highest cookie when the entry holding it was gone (images
 * made before compaction kept the removed entry's own DEL instead).  It
 * removes nothing and is valid for ever.
 */
static bool cookie_marker(const struct pmfs_le_dentry *de)
{
	return de->h.type == PMFS_LE_DENTRY_DEL && de->name_len == 1 &&
	       de->name[0] == '.' && de->ino == 0;
}

/* DENTRY: only in a directory; a valid name (or the old cookie marker),
 * inode and type. */
static const char *check_dentry(const struct ilog_state *st,
				const struct pmfs_le_dentry *de)
{
	if (!S_ISDIR(st->mode))
		return "directory entry in a log that is not a directory's";
	if (cookie_marker(de))
		return NULL;
	if (!lent_name_ok(de->name, de->name_len))
		return "directory entry with an invalid name";
	if (de->h.type == PMFS_LE_DENTRY_ADD &&
	    (de->ino == 0 || de->ino >= PMFS_MAX_INODES))
		return "directory entry naming an impossible inode";
	if (de->h.type == PMFS_LE_DENTRY_ADD && !dtype_ok(de->ftype))
		return "directory entry with an invalid file type";
	if (de->cookie == 0)
		return "directory entry without a cookie";
	return NULL;
}

/* SYMLINK: only in a symlink; its block in the data area, no NUL in the
 * target. */
static const char *check_symlink(const struct ilog_dev *d,
				 const struct ilog_state *st,
				 const struct pmfs_le_symlink *s)
{
	const uint8_t *t = s->target;

	if (!S_ISLNK(st->mode))
		return "symlink entry in a log that is not a symlink's";
	/* fmt_entry_check saw 1 <= len <= PMFS_SYMLINK_MAX and, inline, the
	 * bytes inside the entry */
	if (!(s->flags & PMFS_SL_INLINE)) {
		if (!ilog_blocks_ok(d, s->blk, 1) || s->len > PMFS_BLOCK_SIZE)
			return "symlink target block outside the data area";
		t = ilog_ptr(d, fmt_blk_off(s->blk));
	}
	if (memchr(t, 0, s->len))
		return "symlink target with a NUL byte";
	return NULL;
}

/* XATTR: a removal carries no value. */
static const char *check_xattr(const struct pmfs_le_xattr *x)
{
	/* fmt_entry_check saw the lengths fit the entry */
	if (x->h.type == PMFS_LE_XATTR_DEL && x->value_len)
		return "xattr removal with a value";
	return NULL;
}

/* XATTR_BLK: the feature on, the value's blocks in the data area. */
static const char *check_xattr_blk(const struct ilog_dev *d,
				   const struct pmfs_le_xattr_blk *x)
{
	/* fmt_entry_check saw 1 <= value_len <= PMFS_XATTR_VALUE_MAX */
	if (!(d->incompat & PMFS_FEATURE_INCOMPAT_LARGE_XATTR))
		return "xattr value in blocks without the large_xattr feature";
	if (!ilog_blocks_ok(d, x->blk, fmt_xattr_blocks(x->value_len)))
		return "xattr value blocks outside the data area";
	return NULL;
}

int lent_check(const struct ilog_dev *d, const struct ilog_state *st,
	       const struct pmfs_lentry *e, const char **why)
{
	const char *bad = NULL;

	if (st->nentries == 0 &&
	    (e->type != PMFS_LE_ATTR ||
	     ((const struct pmfs_le_attr *)e)->mask != PMFS_AT_ALL))
		bad = "first entry does not set every attribute";
	else
		switch (e->type) {
		case PMFS_LE_ATTR:
			bad = check_attr(st, (const void *)e);
			break;
		case PMFS_LE_WRITE:
			bad = check_write(d, st, (const void *)e);
			break;
		case PMFS_LE_DENTRY_ADD:
		case PMFS_LE_DENTRY_DEL:
			bad = check_dentry(st, (const void *)e);
			break;
		case PMFS_LE_SYMLINK:
			bad = check_symlink(d, st, (const void *)e);
			break;
		case PMFS_LE_XATTR_SET:
		case PMFS_LE_XATTR_DEL:
			bad = check_xattr((const void *)e);
			break;
		case PMFS_LE_XATTR_BLK:
			bad = check_xattr_blk(d, (const void *)e);
			break;
		default:
			bad = "unknown entry type";
			break;
		}
	if (why)
		*why = bad;
	return bad ? -EIO : 0;
}
