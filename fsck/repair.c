/*
 * repair.c - the changes fsck.pmfs makes, all through log.h and pmemio:
 * moving a log tail (a cut, or the commit of an appended entry), appending
 * entries (attribute, directory entry) to an inode's log, clearing an
 * inode, creating /lost+found, and finally storing the free space and the
 * clean flag.
 *
 * Repair invariants (fsck may itself be interrupted; a rerun must finish):
 *  R(1) the clean word is cleared, durably, before the first repair
 *       (fsck_begin_change), and set again only by fsck_mark_clean after
 *       the saved allocator state is durable;
 *  R(2) every repair of a log is a single-inode commit, LOG(4): the new
 *       entry (and page) is durable before the tail that makes it real;
 *  R(3) a repair that names a new inode commits that inode's log first
 *       and the directory entry naming it second: interrupted in between,
 *       it leaves an orphan, which the next run puts in lost+found.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc/alloc.h"
#include "format/fmt.h"
#include "fsck.h"
#include "pmemio/pmemio.h"
#include "util/util.h"


void fsck_begin_change(struct fsck *f)
{
	struct pmfs_sb_state *st =
		(struct pmfs_sb_state *)(f->base + PMFS_SB_STATE_OFF);

	f->changed = true;
	if (f->unclean_marked || f->rdonly)
		return;
	f->unclean_marked = true;
	if (st->clean == 0)
		return;
	pmio_store64(f->p, &st->alloc_head, 0);
	pmio_commit64(f->p, &st->clean, 0);
	pmio_drain(f->p); /* ORDER: R(1) not-clean durable before any repair */
}

void fsck_set_tail(struct fsck *f, uint64_t ino, uint64_t tail)
{
	struct pmfs_inode *slot = ilog_slot(&f->d, ino);

	if (!slot || f->rdonly)
		return;
	fsck_begin_change(f);
	pmio_drain(f->p); /* ORDER: R(2) entries and earlier repairs durable
			     before the tail moves */
	pmio_commit64(f->p, &slot->tail, tail); /* the real commit */
	pmio_drain(f->p); /* ORDER: the new tail durable before the next
			     repair relies on it */
}

/* Block blk, owned by ip, is free again (after pass 4 built the map). */
static void release(struct fsck *f, const struct fino *ip, uint64_t blk)
{
	if (!f->a || !f->owner || blk >= f->d.total_blocks ||
	    f->owner[blk] != ip->ino)
		return;
	f->owner[blk] = 0;
	alloc_free(f->a, blk, 1);
}

void fsck_clear_inode(struct fsck *f, struct fino *ip)
{
	fsck_set_tail(f, ip->ino, 0);
	if (!ip->cleared && f->ninodes)
		f->ninodes--;
	ip->cleared = true;
	/* its blocks are free once the tail 0 is durable (set_tail drained) */
	for (size_t i = 0; i < ip->npages; i++)
		release(f, ip, fmt_off_blk(ip->pages[i]));
	for (size_t i = 0; i < ip->next; i++)
		for (uint64_t k = 0; k < ip->ext[i].n; k++)
			release(f, ip, ip->ext[i].blk + k);
	if (ip->slblk)
		release(f, ip, ip->slblk);
	for (size_t i = 0; i < ip->nxa; i++)
		for (uint32_t k = 0;
		     ip->xa[i].blk && k < fmt_xattr_blocks(ip->xa[i].vlen); k++)
			release(f, ip, ip->xa[i].blk + k);
}

int fsck_xattr_del(struct fsck *f, struct fino *ip, size_t i,
		   uint32_t shared)
{
	uint64_t blk = ip->xa[i].blk;
	uint32_t n = blk ? fmt_xattr_blocks(ip->xa[i].vlen) : 0;
	struct timespec now;
	union lent_buf b;
	int err;

	clock_gettime(CLOCK_REALTIME, &now);
	err = fsck_append(f, ip,
			  lent_xattr(&b, PMFS_LE_XATTR_DEL, ip->xa[i].name,
				     ip->xa[i].nlen, NULL, 0, &now));
	/* the model removed it; the blocks are free once the DEL is
	 * durable (fsck_append's tail store drained) */
	for (uint32_t k = 0; !err && k < n; k++)
		if (!(shared & (1u << k)))
			release(f, ip, blk + k);
	return err;
}

int fsck_xattr_move(struct fsck *f, struct fino *ip, size_t i, uint64_t nb,
		    uint32_t shared)
{
	const struct fxattr *x = &ip->xa[i];
	uint64_t old = x->blk;
	uint32_t n = fmt_xattr_blocks(x->vlen);
	struct timespec now;
	union lent_buf b;
	int err;

	for (uint32_t k = 0; k < n; k++) {
		fsck_copy_block(f, old + k, nb + k); /* drained by the commit */
		if (f->owner)
			f->owner[nb + k] = ip->ino;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	err = fsck_append(f, ip,
			  lent_xattr_blk(&b, x->name, x->nlen, x->vlen, nb,
					 &now));
	for (uint32_t k = 0; !err && k < n; k++)
		if (!(shared & (1u << k)))
			release(f, ip, old + k);
	return err;
}

/* Note a log page a repair allocated for ip (owner map, model). */
static int note_page(struct fsck *f, struct fino *ip, uint64_t off)
{
	uint64_t blk = fmt_off_blk(off);

	if (util_grow(&ip->pages, &ip->pagecap, ip->npages, sizeof(*ip->pages),
		      4))
		return -ENOMEM;
	ip->pages[ip->npages++] = off;
	if (f->owner && blk < f->d.total_blocks)
		f->owner[blk] = ip->ino;
	f->log_pages++;
	return 0;
}

/* Note the log pages tx allocated for ip. */
static int note_pages(struct fsck *f, struct fino *ip,
		      const struct ilog_tx *tx)
{
	for (unsigned i = 0; i < tx->npages; i++)
		if (note_page(f, ip, tx->pages[i]))
			return -ENOMEM;
	return 0;
}

int fsck_append(struct fsck *f, struct fino *ip, struct pmfs_lentry *e)
{
	struct ilog_tx tx;
	struct ilog_pos pos = ip->end;
	int err;

	if (f->rdonly || !f->a)
		return -EROFS;
	fsck_begin_change(f);
	ilog_tx_init(&tx, &f->d, f->a, 0, ALLOC_F_RESERVE);
	err = ilog_append(&tx, ip->ino, &pos, e); /* flushed, not drained */
	if (err) {
		ilog_tx_abort(&tx);
		fsck_operr(f, "inode %" PRIu64 ": cannot append a repair: %s",
			   ip->ino, strerror(-err));
		return err;
	}
	fsck_set_tail(f, ip->ino, pos.tail); /* R(2) */
	ip->end = pos;
	err = note_pages(f, ip, &tx);
	if (!err)
		err = fsck_model_apply(f, ip, e);
	if (err)
		fsck_operr(f, "out of memory");
	return err;
}

/* Append a DENTRY_ADD or _DEL to dir; its link count follows a subdirectory
 * when count. */
static int dentry(struct fsck *f, struct fino *dir, uint16_t type,
		  uint64_t ino, uint32_t gen, uint8_t ftype, const char *name,
		  size_t nlen, uint64_t cookie, bool count);

int fsck_set_attr(struct fsck *f, struct fino *ip, uint32_t mask,
		  uint32_t nlink, uint64_t size, uint64_t parent)
{
	struct ilog_state st = ip->st;
	union lent_buf b;

	st.nlink = nlink;
	st.size = size;
	st.parent = parent;
	clock_gettime(CLOCK_REALTIME, &st.ctime);
	return fsck_append(f, ip, lent_attr(&b, mask | PMFS_AT_CTIME, &st));
}

int fsck_dentry(struct fsck *f, struct fino *dir, uint16_t type,
		uint64_t ino, uint32_t gen, uint8_t ftype, const char *name,
		size_t nlen, uint64_t cookie)
{
	return dentry(f, dir, type, ino, gen, ftype, name, nlen, cookie, true);
}

int fsck_unlink_extra(struct fsck *f, struct fino *dir, const struct fdent *x)
{
	char name[PMFS_NAME_MAX + 1];
	size_t nlen = x->nlen;

	memcpy(name, x->name, nlen);
	return dentry(f, dir, PMFS_LE_DENTRY_DEL, x->ino, x->gen, x->ftype,
		      name, nlen, x->cookie, false);
}

/* A DENTRY_ADD or _DEL; a directory's link count follows a subdirectory
 * entry when count is set. */
static int dentry(struct fsck *f, struct fino *dir, uint16_t type,
		  uint64_t ino, uint32_t gen, uint8_t ftype, const char *name,
		  size_t nlen, uint64_t cookie, bool count)
{
	uint32_t nl = dir->nlink;
	struct timespec now;
	union lent_buf b;

	if (nlen == 0 || nlen > PMFS_NAME_MAX)
		return -EINVAL;
	if (ftype == DT_DIR && count)
		nl = type == PMFS_LE_DENTRY_ADD ? nl + 1 : nl ? nl - 1 : 0;
	clock_gettime(CLOCK_REALTIME, &now);
	return fsck_append(f, dir,
			   lent_dentry(&b, type, ino, gen, cookie, ftype, name,
				       nlen, nl, &now));
}

int fsck_unlink(struct fsck *f, struct fino *dir, const struct fdent *x)
{
	char name[PMFS_NAME_MAX + 1];
	size_t nlen = x->nlen;

	memcpy(name, x->name, nlen);
	return fsck_dentry(f, dir, PMFS_LE_DENTRY_DEL, x->ino, x->gen,
			   x->ftype, name, nlen, x->cookie);
}

int fsck_link(struct fsck *f, struct fino *dir, struct fino *ip,
	      const char *name)
{
	return fsck_dentry(f, dir, PMFS_LE_DENTRY_ADD, ip->ino, ip->gen,
			   fsck_dtype(ip->mode), name, strlen(name),
			   dir->maxcookie + 1);
}

/* A free inode slot (tail 0) in an allocated chunk, or 0. */
static uint64_t free_slot(struct fsck *f)
{
	FOR_EACH_SLOT(f, c, i, ino)
	{
		struct pmfs_inode *slot;

		if (ino <= PMFS_ROOT_INO || f->chunk[c][i])
			continue;
		slot = ilog_slot(&f->d, ino);
		if (slot && slot->tail == 0)
			return ino;
	}
	return 0;
}

/* Make a new directory inode in free slot ino (not yet named anywhere,
 * '..' = parent) with the core's ilog_make_inode (LOG(5)); R(3) step 1.
 * A cleared model of the slot is reused. */
static struct fino *new_dir_at(struct fsck *f, uint64_t ino, uint64_t parent)
{
	struct fino **where, *ip;
	struct ilog_state a;
	struct ilog_pos pos;
	uint32_t gen;
	int err = -ENOSPC;

	if (!ino || !f->a || f->rdonly || !f->chunk[fmt_ino_chunk(ino)])
		goto out;
	if (f->nvirt) { /* a journal lane still holds an unreplayed op */
		err = -EBUSY;
		goto out;
	}
	where = &f->chunk[fmt_ino_chunk(ino)][ino % PMFS_INODES_PER_CHUNK];
	ip = *where;
	if (ip && !ip->cleared)
		goto out;
	memset(&a, 0, sizeof(a));
	a.mode = S_IFDIR | (ino == PMFS_ROOT_INO ? 0755 : 0700);
	a.nlink = 2;
	a.parent = parent;
	clock_gettime(CLOCK_REALTIME, &a.atime);
	a.mtime = a.ctime = a.btime = a.atime;
	fsck_begin_change(f);
	pmio_drain(f->p); /* ORDER: earlier repairs durable first */
	err = ilog_make_inode(&f->d, f->a, ino, &a, &gen, &pos);
	if (err)
		goto out;
	if (ip) {
		fsck_model_reset(ip);
		memset(ip, 0, sizeof(*ip));
	} else if (!(ip = calloc(1, sizeof(*ip)))) {
		fsck_operr(f, "out of memory");
		return NULL;
	}
	ip->ino = ino;
	ip->gen = gen;
	ip->end = pos;
	*where = ip;
	if (note_page(f, ip, pos.head) ||
	    fsck_model_apply(f, ip, ilog_ptr(&f->d, pos.head +
					     sizeof(struct pmfs_logpage))))
		fsck_operr(f, "out of memory");
	f->ninodes++;
	f->ndirs++;
	return ip;
out:
	fsck_operr(f, "cannot create a directory: %s", strerror(-err));
	return NULL;
}

struct fino *fsck_new_root(struct fsck *f)
{
	struct fino *root = fsck_ino(f, PMFS_ROOT_INO);

	if (root) /* not a directory: its log goes, its slot is reused */
		fsck_clear_inode(f, root);
	root = new_dir_at(f, PMFS_ROOT_INO, PMFS_ROOT_INO);
	if (root) {
		root->reachable = true;
		root->refs = 1;
	}
	return root;
}

/* Give the entry name of dir (naming ip) a free name PREFIX.N: link the
 * new name first, then unlink the old (R(3)); 0 when done. */
static int rename_aside(struct fsck *f, struct fino *dir, struct fino *ip,
			const char *name)
{
	char nn[PMFS_NAME_MAX + 1];
	struct fdent *x;
	unsigned k = 1;

	do
		snprintf(nn, sizeof(nn), "%s.%u", name, k);
	while (fsck_dir_find(dir, nn, strlen(nn)) && ++k < 1000);
	if (fsck_link(f, dir, ip, nn))
		return -1;
	x = fsck_dir_find(dir, name, strlen(name)); /* link may move it */
	return x ? fsck_unlink(f, dir, x) : -1;
}

/* A new empty /lost+found; R(3): its log first, then root's entry. */
static struct fino *make_lost_found(struct fsck *f, struct fino *root)
{
	struct fino *lf = new_dir_at(f, free_slot(f), PMFS_ROOT_INO);

	if (!lf)
		return NULL;
	if (fsck_link(f, root, lf, "lost+found")) /* R(3) step 2 */
		return NULL;
	lf->refs = 1;
	lf->referrer = PMFS_ROOT_INO;
	lf->reachable = true;
	root->subdirs++;
	f->lf_ino = lf->ino;
	return lf;
}

/* The lost+found mkfs.pmfs made (inode 2), when it is a directory that no
 * directory names (pass 5 has counted the entries), or NULL. */
static struct fino *lost_dir(struct fsck *f)
{
	struct fino *lf = fsck_ino(f, PMFS_LOSTFOUND_INO);

	return lf && S_ISDIR(lf->mode) && !lf->reachable && !lf->refs &&
			       !lf->referrer
		       ? lf
		       : NULL;
}

/* Name lf (mkfs's lost+found, see lost_dir) /lost+found again. */
static struct fino *relink_lost(struct fsck *f, struct fino *root,
				struct fino *lf)
{
	if (fsck_link(f, root, lf, "lost+found") ||
	    (lf->parent != PMFS_ROOT_INO &&
	     fsck_set_attr(f, lf, PMFS_AT_PARENT, 0, 0, PMFS_ROOT_INO)))
		return NULL;
	lf->refs = 1;
	lf->referrer = PMFS_ROOT_INO;
	root->subdirs++;
	f->lf_ino = lf->ino;
	fsck_mark_reachable(f, lf); /* what it holds is found again too */
	return lf;
}

struct fino *fsck_lost_found(struct fsck *f)
{
	struct fino *root = fsck_ino(f, PMFS_ROOT_INO), *lf;
	struct fdent *x;

	if (f->lf_ino && (lf = fsck_ino(f, f->lf_ino)) && S_ISDIR(lf->mode))
		return lf;
	if (!root)
		return NULL;
	x = fsck_dir_find(root, "lost+found", 10);
	if (x) {
		lf = fsck_ino(f, x->ino);
		if (lf && S_ISDIR(lf->mode) && lf->gen == x->gen) {
			f->lf_ino = lf->ino;
			return lf;
		}
		/* pass 5 removed entries naming free inodes: lf is in use */
		if (!lf || !fsck_problem(f, 0, "lost-found-not-dir",
					 PMFS_ROOT_INO,
					 "Rename it and make a directory",
					 "/lost+found is not a directory (inode "
					 "%" PRIu64 ")",
					 x->ino))
			return NULL;
		if (rename_aside(f, root, lf, "lost+found"))
			return NULL;
		lf = lost_dir(f);
		return lf ? relink_lost(f, root, lf)
			  : make_lost_found(f, root);
	}
	lf = lost_dir(f);
	if (lf) {
		if (!fsck_problem(f, 0, "no-lost-found", PMFS_ROOT_INO,
				  "Reconnect it as /lost+found",
				  "/lost+found not found; directory %" PRIu64
				  " (the one mkfs.pmfs made) is in no "
				  "directory",
				  lf->ino))
			return NULL;
		return relink_lost(f, root, lf);
	}
	if (!fsck_problem(f, 0, "no-lost-found", PMFS_ROOT_INO, "Create it",
			  "/lost+found not found"))
		return NULL;
	return make_lost_found(f, root);
}

void fsck_copy_super(struct fsck *f, unsigned from, unsigned to)
{
	fsck_begin_change(f);
	pmio_memcpy_nodrain(f->p, f->base + fmt_blk_off(to),
			    f->base + fmt_blk_off(from),
			    sizeof(struct pmfs_super));
	pmio_drain(f->p); /* ORDER: restored superblock durable before
			     anything that relies on it */
	f->changed = true;
}

void fsck_clear_journal(struct fsck *f, unsigned lane)
{
	fsck_begin_change(f);
	pmio_commit64(f->p, &f->d.jnl[lane].state, 0);
	pmio_drain(f->p); /* ORDER: cleared state durable before the replay
			     of the other lanes */
	f->changed = true;
}

int fsck_replay_journals(struct fsck *f, uint64_t *replayed)
{
	fsck_begin_change(f);
	f->changed = true;
	/* the mount's own recovery; it drains after applying each lane */
	return recov_journals(&f->d, replayed);
}

void fsck_copy_block(struct fsck *f, uint64_t from, uint64_t to)
{
	fsck_begin_change(f);
	/* flushed here; the caller's entry commit drains it (R(2)) */
	pmio_memcpy_nodrain(f->p, f->base + fmt_blk_off(to),
			    f->base + fmt_blk_off(from), PMFS_BLOCK_SIZE);
}

/* Cutting a log before a page: the end of the last entry before it. */
struct cutw {
	size_t k, seen;
	uint64_t end;
};

/* The cut: stop before page k. */
static int cut_page(void *arg, uint64_t off)
{
	struct cutw *c = arg;

	(void)off;
	return c->seen++ == c->k; /* page k: stop before its entries */
}

/* The cut: the end of the last entry before page k. */
static int cut_entry(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	struct cutw *c = arg;

	c->end = off + e->len;
	return 0;
}

int fsck_cut_before_page(struct fsck *f, struct fino *ip, size_t k, bool fix)
{
	struct cutw c = { k, 0, 0 };
	uint64_t head = ip->end.head; /* the log as the model has it (pass
					 3 may have cut it, maybe in DRAM) */
	struct fsck_walk w;
	int r;

	ilog_walk(&f->d, ip->ino, head, ip->end.tail, cut_entry, cut_page, &c,
		  true, NULL);
	if (!c.end)
		return 1;
	if (fix)
		fsck_set_tail(f, ip->ino, c.end);
	f->logs_cut++;
	r = fsck_model_walk(f, ip, head, c.end, &w); /* entries that walked before */
	if (r == -ENOMEM)
		return r;
	return r || ip->nentries == 0 ? 1 : 0;
}

/* Drop inode-table chunk c (its directory word to 0); durable on return. */
void fsck_drop_chunk(struct fsck *f, uint64_t c)
{
	fsck_begin_change(f);
	if (f->itdir_copy)
		f->itdir_copy[c] = 0;
	pmio_commit64(f->p, &f->itdir_media[c], 0);
	pmio_drain(f->p); /* ORDER: chunk dropped before its blocks are
			     reused */
	f->changed = true;
}

/* Move inode-table chunk c to blocks nb.. (bad blocks zeroed). */
void fsck_move_chunk(struct fsck *f, uint64_t c, uint64_t nb,
		     uint64_t badmask)
{
	uint64_t old = f->d.itdir[c];

	fsck_begin_change(f);
	for (uint64_t k = 0; k < PMFS_CHUNK_BLOCKS; k++) {
		uint8_t *dst = f->base + fmt_blk_off(nb + k);

		if (badmask & (1ull << k))
			pmio_memset_nodrain(f->p, dst, 0, PMFS_BLOCK_SIZE);
		else
			pmio_memcpy_nodrain(f->p, dst,
					    f->base + fmt_blk_off(old + k),
					    PMFS_BLOCK_SIZE);
	}
	pmio_drain(f->p); /* ORDER: the new chunk durable before its
			     directory word names it */
	if (f->itdir_copy)
		f->itdir_copy[c] = nb;
	pmio_commit64(f->p, &f->itdir_media[c], nb);
	pmio_drain(f->p); /* ORDER: the move durable before the old blocks
			     are reused */
	f->changed = true;
}

/* Rewrite the bad-block table with the n blocks blk (sorted, unique). */
void fsck_write_badblocks(struct fsck *f, const uint64_t *blk, uint32_t n)
{
	struct pmfs_badblocks *bb =
		(void *)(f->base + fmt_blk_off(PMFS_BADBLK_BLOCK));
	struct pmfs_badblocks tmp;

	fsck_begin_change(f);
	fmt_badblocks_init(&tmp, blk, n);
	pmio_memcpy_nodrain(f->p, bb, &tmp, sizeof(tmp));
	pmio_drain(f->p); /* ORDER: table durable before the allocator
			     trusts it */
	f->changed = true;
}

int fsck_mark_clean(struct fsck *f)
{
	struct pmfs_sb_state *st = f->d.state;
	uint64_t head;
	int err;

	if (!f->a || f->rdonly)
		return -EINVAL;
	fsck_begin_change(f);
	err = alloc_save(f->a, f->p, f->base, &head); /* flushed */
	if (err) {
		fsck_operr(f, "cannot save the free space: %s", strerror(-err));
		return err;
	}
	pmio_store64(f->p, &st->alloc_head, head);
	pmio_store64(f->p, &st->free_blocks, alloc_free_blocks(f->a));
	pmio_store64(f->p, &st->used_inodes, f->ninodes);
	pmio_flush(f->p, st, sizeof(*st));
	pmio_drain(f->p); /* ORDER: R(1) saved state durable before clean */
	pmio_commit64(f->p, &st->clean, PMFS_STATE_CLEAN); /* the real commit */
	pmio_drain(f->p); /* ORDER: clean durable before exit */
	return 0;
}
