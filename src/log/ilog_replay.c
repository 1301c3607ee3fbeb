/*
 * ilog_replay.c - the meaning of a log: how each entry changes an inode,
 * in one place for the fs (building its DRAM inode, fs_apply), fsck
 * (its inode model) and tools.  ilog_apply() decodes and checks one entry,
 * updates the scalar state (struct ilog_state) and hands what lives in
 * the caller's structures (extents, directory entries, xattrs, symlink
 * target) to callbacks; ilog_replay() walks a whole log through it.  Also
 * ilog_make_inode(), which makes a new inode outside the fs (fsck's
 * lost+found) by LOG(8), committing its tail through the journal.
 *
 * The override rules (log.h, "Replay"): entries apply in log order, a
 * later one wins; a size that shrinks drops the mapping past it; a
 * DENTRY_DEL of an absent name is allowed and, like an ADD, raises the
 * highest cookie seen (the "." DEL a compaction writes carries it).
 */
#include "log/log.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "alloc/alloc.h"
#include "format/fmt.h"
#include "pmemio/pmemio.h"

/* A media timestamp as a timespec (a bad nsec reads as 0). */
static void ts_from(struct timespec *ts, const struct pmfs_time *t)
{
	ts->tv_sec = (time_t)t->sec;
	ts->tv_nsec = t->nsec < 1000000000u ? (long)t->nsec : 0;
}

/* First page past byte size (the mapping at and after it is dropped). */
static uint64_t pages_of(uint64_t size)
{
	return (size >> PMFS_BLOCK_SHIFT) +
	       ((size & (PMFS_BLOCK_SIZE - 1)) != 0);
}

/* ATTR: the masked attributes; a size drops the mapping past it. */
static int apply_attr(struct ilog_state *st, const struct pmfs_le_attr *a,
		      const struct ilog_replay_ops *ops, void *arg)
{
	int err = 0;

	if (a->mask & PMFS_AT_MODE)
		st->mode = a->mode;
	if (a->mask & PMFS_AT_UID)
		st->uid = a->uid;
	if (a->mask & PMFS_AT_GID)
		st->gid = a->gid;
	if (a->mask & PMFS_AT_NLINK)
		st->nlink = a->nlink;
	if (a->mask & PMFS_AT_SIZE) {
		if (ops->truncate)
			err = ops->truncate(arg, pages_of(a->size));
		st->size = a->size;
	}
	if (a->mask & PMFS_AT_RDEV)
		st->rdev = a->rdev;
	if (a->mask & PMFS_AT_PARENT)
		st->parent = a->parent;
	if (a->mask & PMFS_AT_ATIME)
		ts_from(&st->atime, &a->atime);
	if (a->mask & PMFS_AT_MTIME)
		ts_from(&st->mtime, &a->mtime);
	if (a->mask & PMFS_AT_CTIME)
		ts_from(&st->ctime, &a->ctime);
	if (a->mask & PMFS_AT_BTIME)
		ts_from(&st->btime, &a->btime);
	return err;
}

/* WRITE: map (or punch) the extent, then size, mtime, ctime. */
static int apply_write(const struct ilog_dev *d, struct ilog_state *st,
		       const struct pmfs_le_write *w,
		       const struct ilog_replay_ops *ops, void *arg)
{
	uint32_t fl = w->flags;
	int err;

	if (ops->extent) {
		err = ops->extent(arg, w->pgoff, w->nblocks,
				  fl & PMFS_WR_HOLE ? 0 : w->blk, fl);
		if (err)
			return err;
	}
	if (w->size < st->size && ops->truncate) {
		err = ops->truncate(arg, pages_of(w->size));
		if (err)
			return err;
	}
	st->size = w->size;
	ts_from(&st->mtime, &w->mtime);
	ts_from(&st->ctime, &w->ctime);
	return 0;
}

/* DENTRY_ADD/DEL: the entry, the highest cookie, the directory's nlink and
 * times. */
static int apply_dentry(struct ilog_state *st,
			const struct pmfs_le_dentry *de,
			const struct ilog_replay_ops *ops, void *arg)
{
	int err = 0;

	if (de->h.type == PMFS_LE_DENTRY_ADD) {
		if (ops->dentry_add)
			err = ops->dentry_add(arg, de);
	} else if (ops->dentry_del) {
		err = ops->dentry_del(arg, de);
	}
	if (de->cookie > st->maxcookie)
		st->maxcookie = de->cookie;
	st->nlink = de->dir_nlink;
	ts_from(&st->mtime, &de->mtime);
	ts_from(&st->ctime, &de->mtime);
	return err;
}

/* SYMLINK: the target, inline or in its block. */
static int apply_symlink(const struct ilog_dev *d,
			 const struct pmfs_le_symlink *s,
			 const struct ilog_replay_ops *ops, void *arg)
{
	const char *src = (const char *)s->target;
	uint64_t blk = 0;

	if (!(s->flags & PMFS_SL_INLINE)) {
		blk = s->blk;
		src = ilog_ptr(d, fmt_blk_off(blk));
	}
	return ops->symlink ? ops->symlink(arg, src, s->len, blk) : 0;
}

/* XATTR_SET/DEL: the xattr and the ctime. */
static int apply_xattr(struct ilog_state *st, const struct pmfs_le_xattr *x,
		       const struct ilog_replay_ops *ops, void *arg)
{
	const char *name = (const char *)x->data;

	ts_from(&st->ctime, &x->ctime);
	if (x->h.type == PMFS_LE_XATTR_DEL)
		return ops->xattr_del ? ops->xattr_del(arg, name, x->name_len)
				      : 0;
	return ops->xattr_set ? ops->xattr_set(arg, name, x->name_len,
					       x->data + x->name_len,
					       x->value_len, 0)
			      : 0;
}

/* XATTR_BLK: the xattr, its value in its blocks, and the ctime. */
static int apply_xattr_blk(const struct ilog_dev *d, struct ilog_state *st,
			   const struct pmfs_le_xattr_blk *x,
			   const struct ilog_replay_ops *ops, void *arg)
{
	ts_from(&st->ctime, &x->ctime);
	return ops->xattr_set
		       ? ops->xattr_set(arg, (const char *)x->name,
					x->name_len,
					ilog_ptr(d, fmt_blk_off(x->blk)),
					x->value_len, x->blk)
		       : 0;
}

int ilog_apply(const struct ilog_dev *d, struct ilog_state *st,
	       const struct pmfs_lentry *e, const struct ilog_replay_ops *ops,
	       void *arg)
{
	int err = lent_check(d, st, e, &st->bad);

	if (err)
		return err;
	st->nentries++;
	switch (e->type) {
	case PMFS_LE_ATTR:
		return apply_attr(st, (const void *)e, ops, arg);
	case PMFS_LE_WRITE:
		return apply_write(d, st, (const void *)e, ops, arg);
	case PMFS_LE_DENTRY_ADD:
	case PMFS_LE_DENTRY_DEL:
		return apply_dentry(st, (const void *)e, ops, arg);
	case PMFS_LE_SYMLINK:
		return apply_symlink(d, (const void *)e, ops, arg);
	case PMFS_LE_XATTR_SET:
	case PMFS_LE_XATTR_DEL:
		return apply_xattr(st, (const void *)e, ops, arg);
	case PMFS_LE_XATTR_BLK:
		return apply_xattr_blk(d, st, (const void *)e, ops, arg);
	default:
		return -EIO;
	}
}

struct replay_arg {
	const struct ilog_dev *d;
	struct ilog_state *st;
	const struct ilog_replay_ops *ops;
	void *arg;
};

/* ilog_replay's walk: the caller's entry callback, then ilog_apply. */
static int replay_entry(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	struct replay_arg *ra = arg;
	int err;

	if (ra->ops->entry && (err = ra->ops->entry(ra->arg, e, off)))
		return err;
	return ilog_apply(ra->d, ra->st, e, ra->ops, ra->arg);
}

/* ilog_replay's walk: the caller's page callback. */
static int replay_page(void *arg, uint64_t off)
{
	struct replay_arg *ra = arg;

	return ra->ops->page(ra->arg, off);
}

int ilog_replay(const struct ilog_dev *d, uint64_t ino,
		const struct ilog_replay_ops *ops, void *arg,
		struct ilog_state *st, struct ilog_pos *end,
		struct ilog_err *ie)
{
	const struct pmfs_inode *slot = ilog_slot(d, ino);
	struct replay_arg ra = { d, st, ops, arg };

	memset(st, 0, sizeof(*st));
	if (ie) {
		ie->reason = ILOG_E_NONE;
		ie->off = 0;
		ie->msg[0] = 0;
	}
	if (!slot)
		return -EINVAL;
	if (slot->tail == 0)
		return -ENOENT;
	return ilog_walk2(d, ino, slot->head, slot->tail, replay_entry,
			  ops->page ? replay_page : NULL, &ra, true, end, ie);
}

int ilog_make_inode(struct ilog_dev *d, struct alloc *a, uint64_t ino,
		    const struct ilog_state *st, uint32_t *gen,
		    struct ilog_pos *pos)
{
	struct pmfs_inode *slot = ilog_slot(d, ino);
	union lent_buf b;
	struct ilog_tx tx;
	struct jnl_tx j;
	unsigned lane;
	int err;

	if (!slot || ino == 0)
		return -EINVAL;
	if (slot->tail != 0)
		return -EEXIST;
	ilog_tx_init(&tx, d, a, 0, ALLOC_F_RESERVE);
	err = ilog_new(&tx, ino, pos);
	if (!err)
		err = ilog_append(&tx, ino, pos, lent_attr(&b, PMFS_AT_ALL, st));
	jnl_tx_init(&j);
	if (!err)
		err = jnl_add(&j, d, &slot->tail, pos->tail);
	if (err) {
		ilog_tx_abort(&tx);
		return err;
	}
	*gen = ilog_next_gen(slot);
	ilog_slot_init(d, slot, pos->head, *gen); /* LOG(8) */
	lane = jnl_lane_hold(d, 0);
	jnl_commit(d, lane, &j); /* LOG(5): the tail, the inode exists */
	jnl_lane_release(d, lane);
	ilog_tx_done(&tx);
	return 0;
}
