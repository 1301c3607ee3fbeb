/*
 * fs_op.c - staging and committing an operation: every mutating call
 * collects its log entries per inode (fs_op_add appends them beyond the
 * old tails, flushed), the journal records of the commit words it moves,
 * the inodes it makes (fs_op_new_inode, growing the inode table when
 * needed) and frees; fs_op_commit then makes the change real in one
 * commit - LOG(4) for one inode, the journal LOG(5) for several - and
 * only then applies the very entries it wrote to DRAM (FS(1)), frees
 * what the change made unreachable (FS(2)) and hands long logs to the
 * GC.  Also the atime update, a one-entry operation.
 */
#include "fs/fs_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format/fmt.h"
#include "pmemio/pmemio.h"

void fs_op_init(struct fs_op *op, struct fs *fs, unsigned aflags)
{
	memset(op, 0, offsetof(struct fs_op, j));
	op->ent = NULL;
	op->entcap = 0;
	op->fs = fs;
	op->lane = fs_lane(fs);
	ilog_tx_init(&op->tx, &fs->d, fs->a, op->lane, aflags);
	jnl_tx_init(&op->j);
	op->nt = 0;
	op->ne = 0;
}

int fs_op_inode(struct fs_op *op, struct fs_inode *ip)
{
	for (int i = 0; i < op->nt; i++)
		if (op->t[i].ip == ip)
			return i;
	if (op->nt >= FS_OP_INODES)
		return -E2BIG;
	op->t[op->nt].ip = ip;
	op->t[op->nt].pos = ip->pos;
	op->t[op->nt].fresh = false;
	op->t[op->nt].freed = false;
	return op->nt++;
}

int fs_op_add(struct fs_op *op, struct fs_inode *ip,
	      const struct pmfs_lentry *e)
{
	int ti = fs_op_inode(op, ip), err;
	struct pmfs_lentry *c;

	if (ti < 0)
		return ti;
	if (op->ne >= FS_OP_ENTRIES)
		return -E2BIG;
	if (op->ne == op->entcap) {
		int nc = op->entcap ? op->entcap * 2 : 8;
		struct fs_op_ent *ne = realloc(op->ent, (size_t)nc * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		op->ent = ne;
		op->entcap = nc;
	}
	c = malloc(e->len);
	if (!c)
		return -ENOMEM;
	memcpy(c, e, e->len);
	err = ilog_append(&op->tx, ip->ino, &op->t[ti].pos, c);
	if (err) {
		free(c);
		return err;
	}
	op->ent[op->ne].ti = ti;
	op->ent[op->ne].e = c;
	op->ne++;
	return 0;
}

void fs_op_free_inode(struct fs_op *op, struct fs_inode *ip)
{
	int ti = fs_op_inode(op, ip);

	if (ti >= 0)
		op->t[ti].freed = true;
}

/* Grow the inode table by one chunk: its own journaled op (under
 * itable_mu). */
static int grow_itable(struct fs *fs, unsigned lane)
{
	uint64_t c, blk;
	struct jnl_tx *j;
	int err;

	for (c = 0; c < PMFS_ITDIR_ENTRIES; c++)
		if (fs->d.itdir[c] == 0)
			break;
	if (c == PMFS_ITDIR_ENTRIES)
		return -ENOSPC;
	err = alloc_contig(fs->a, lane, PMFS_CHUNK_BLOCKS, 0, &blk);
	if (err)
		return err;
	j = malloc(sizeof(*j));
	if (!j) {
		alloc_free(fs->a, blk, PMFS_CHUNK_BLOCKS);
		return -ENOMEM;
	}
	jnl_tx_init(j);
	pmio_memset_nodrain(fs->d.p, ilog_ptr(&fs->d, fmt_blk_off(blk)), 0,
			    fmt_blk_off(PMFS_CHUNK_BLOCKS));
	jnl_add(j, &fs->d, &fs->d.itdir[c], blk);
	lane = fs_lane_hold(fs);
	jnl_commit(&fs->d, lane, j); /* LOG(5): the chunk exists */
	fs_lane_release(fs, lane);
	free(j);
	return alloc_ino_add_chunk(fs->a, c);
}

int fs_op_new_inode(struct fs_op *op, struct fs_inode **out)
{
	struct fs *fs = op->fs;
	struct fs_inode *ip;
	struct pmfs_inode *slot;
	uint64_t ino;
	int ti, err;

	err = alloc_ino_get(fs->a, &ino);
	if (err == -ENOSPC) {
		pthread_mutex_lock(&fs->itable_mu);
		err = alloc_ino_get(fs->a, &ino); /* grown meanwhile? */
		if (err == -ENOSPC) {
			err = grow_itable(fs, op->lane);
			if (!err)
				err = alloc_ino_get(fs->a, &ino);
		}
		pthread_mutex_unlock(&fs->itable_mu);
	}
	if (err)
		return err;
	slot = ilog_slot(&fs->d, ino);
	if (!slot || slot->tail != 0) {
		alloc_ino_put(fs->a, ino);
		return -EIO;
	}
	ip = fs_inode_alloc();
	if (!ip) {
		alloc_ino_put(fs->a, ino);
		return -ENOMEM;
	}
	/* the creator's reference and write lock, taken before it enters
	 * the cache (below): nobody can hold it, so the lock order does
	 * not apply; whoever finds it by number waits for the commit */
	ip->ref = 1;
	fs_ilock_w(ip);
	ip->ino = ino;
	ip->gen = ilog_next_gen(slot);
	err = ilog_new(&op->tx, ino, &ip->pos);
	if (err)
		goto out_free;
	ti = fs_op_inode(op, ip);
	if (ti < 0) {
		err = ti;
		goto out_free;
	}
	/* in the cache from now on, so that nobody loads the slot's log
	 * once the commit makes it valid (a stale number, the GC queue);
	 * an abort unhashes it again */
	err = fs_icache_insert(fs, ip);
	if (err) {
		op->nt--;
		goto out_free;
	}
	op->t[ti].fresh = true;
	/* FS(3), LOG(8): head/gen while the tail is 0; the tail comes with
	 * the commit */
	ilog_slot_init(&fs->d, slot, ip->pos.head, ip->gen);
	*out = ip;
	return 0;
out_free:
	alloc_ino_put(fs->a, ino);
	fs_iunlock(ip);
	fs_inode_free(ip);
	return err;
}

void fs_op_abort(struct fs_op *op)
{
	ilog_tx_abort(&op->tx);
	for (int i = 0; i < op->nt; i++) {
		if (op->t[i].fresh) {
			struct fs_inode *ip = op->t[i].ip;

			fs_icache_drop(op->fs, ip); /* unhashed, dead */
			alloc_ino_put(op->fs->a, ip->ino);
			fs_iput_unlock(op->fs, ip); /* freed with the last ref */
		}
	}
	for (int i = 0; i < op->ne; i++)
		free(op->ent[i].e);
	free(op->ent);
	op->ent = NULL;
	op->entcap = 0;
	op->ne = op->nt = 0;
}

int fs_op_commit(struct fs_op *op)
{
	struct fs *fs = op->fs;
	bool journal = op->nt > 1 || op->j.n > 0;
	int err = 0;

	for (int i = 0; i < op->nt; i++) {
		struct pmfs_inode *slot = ilog_slot(&fs->d, op->t[i].ip->ino);

		if (op->t[i].freed)
			err = jnl_add(&op->j, &fs->d, &slot->tail, 0);
		else
			err = jnl_add(&op->j, &fs->d, &slot->tail,
				      op->t[i].pos.tail);
		if (op->t[i].fresh || op->t[i].freed)
			journal = true;
		if (err) {
			fs_op_abort(op);
			return err;
		}
	}
	if (journal) {
		unsigned lane = fs_lane_hold(fs);

		jnl_commit(&fs->d, lane, &op->j); /* LOG(5) */
		fs_lane_release(fs, lane);
	} else {
		ilog_commit_tail(&fs->d, op->t[0].ip->ino, op->t[0].pos.tail);
	}
	/* FS(1): DRAM follows the durable log */
	for (int i = 0; i < op->nt; i++) {
		struct fs_inode *ip = op->t[i].ip;

		ip->pos = op->t[i].pos; /* fresh ones are cached already */
	}
	for (int i = 0; i < op->ne; i++) {
		struct fs_inode *ip = op->t[op->ent[i].ti].ip;
		int e2 = fs_apply(fs, ip, op->ent[i].e, true);

		if (e2 && !err)
			err = e2;
		free(op->ent[i].e);
	}
	free(op->ent);
	op->ent = NULL;
	op->entcap = 0;
	op->ne = 0;
	ilog_tx_done(&op->tx); /* the pages belong to the logs now */
	for (int i = 0; i < op->nt; i++) {
		if (op->t[i].freed)
			fs_inode_release(fs, op->t[i].ip);
		else if (gc_wanted(fs, op->t[i].ip))
			gc_lagging(fs, op->t[i].ip)
				? (void)gc_compact(fs, op->t[i].ip)
				: gc_queue(fs, op->t[i].ip);
	}
	if (err)
		fs_set_ro(fs, err); /* FS(4): durable but DRAM is unsure */
	fs_ahead_note(fs, op->lane);
	return 0;
}

void fs_free_orphan(struct fs *fs, struct fs_inode *ip)
{
	struct fs_op op;

	if (atomic_load(&ip->dead) || ip->st.nlink != 0 || ip->nlookup != 0 ||
	    fs_bg_begin(fs))
		return;
	fs_op_init(&op, fs, ALLOC_F_RESERVE);
	fs_op_free_inode(&op, ip);
	fs_op_commit(&op); /* LOG(5): the journal frees it */
	fs_bg_done(fs);
}

void fs_touch_atime(struct fs *fs, struct fs_inode *ip)
{
	struct ilog_state st = ip->st;
	union lent_buf b;
	struct fs_op op;

	if (atomic_load(&ip->dead) || fs_bg_begin(fs))
		return;
	fs_now(&st.atime);
	fs_op_init(&op, fs, 0);
	if (fs_op_add(&op, ip, lent_attr(&b, PMFS_AT_ATIME, &st)))
		fs_op_abort(&op); /* best effort: no space for the entry */
	else
		fs_op_commit(&op); /* LOG(4): 2 fences */
	fs_bg_done(fs);
}
