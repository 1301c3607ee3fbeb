/*
 * fs_gc.c - log garbage collection.  An inode's log keeps every entry ever
 * committed; once its chain has doubled since the last compaction and the
 * live entries (what the DRAM inode would need to be rebuilt) fill less
 * than half of it, a background thread writes a fresh chain holding only
 * the live state and swaps it in through the journal (head and tail in one
 * journaled commit, LOG(5)); the old chain's pages are freed after that
 * commit is durable.  A crash before the commit leaves the old chain in
 * place and the new pages unreachable (free after the rebuild).
 *
 * The compacted chain: ATTR (all), SYMLINK, WRITE per extent, XATTR_SET
 * per xattr, DENTRY_ADD per entry in cookie order, the DENTRY_DEL of the
 * entry that held the directory's largest cookie when that entry is gone
 * (so a cookie is never reused: cookie_keeper), and a last ATTR restoring
 * nlink and times
 * (not the size: an ATTR with SIZE drops blocks past EOF, which would
 * lose FALLOC_FL_KEEP_SIZE preallocation).
 */
#include "fs/fs_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/fmt.h"
#include "pmemio/pmemio.h"
#include "util/util.h"

#define GC_MIN_PAGES 4

/* Bytes a compacted log of ip would hold (an upper bound). */
static uint64_t live_bytes(const struct fs_inode *ip)
{
	uint64_t b = 2 * sizeof(struct pmfs_le_attr) + 64;

	b += ip->map.next * sizeof(struct pmfs_le_write);
	for (const struct fs_xattr *x = ip->xattrs; x; x = x->next)
		b += x->blk ? sizeof(struct pmfs_le_xattr_blk) + x->nlen + 8
			    : sizeof(struct pmfs_le_xattr) + x->nlen +
				      x->vlen + 8;
	for (size_t i = 0; ip->dir && i < ip->dir->nord; i++)
		if (ip->dir->ord[i])
			b += fmt_dentry_len(ip->dir->ord[i]->nlen);
	if (ip->link)
		b += sizeof(struct pmfs_le_symlink) + ip->linklen + 8;
	return b;
}

bool gc_wanted(struct fs *fs, struct fs_inode *ip)
{
	uint64_t base = ip->gc_base ? ip->gc_base : 1;

	if (ip->err || ip->st.nlink == 0 || ip->pos.npages < GC_MIN_PAGES ||
	    ip->pos.npages < 2 * base)
		return false;
	/* pages hold at most BLOCK_SIZE - 32 bytes of entries */
	if (live_bytes(ip) * 2 > ip->pos.npages * (PMFS_BLOCK_SIZE - 32)) {
		ip->gc_base = ip->pos.npages; /* mostly live: wait to double */
		return false;
	}
	return true;
}

bool gc_lagging(struct fs *fs, struct fs_inode *ip)
{
	uint64_t base = ip->gc_base > GC_MIN_PAGES ? ip->gc_base : GC_MIN_PAGES;

	return !__atomic_load_n(&fs->gc_running, __ATOMIC_ACQUIRE) ||
	       ip->pos.npages > 4 * base;
}

/* Blocks of one WRITE entry of a compacted log (nblocks is 32 bits). */
#define GC_EXTENT_MAX (1u << 31)

/*
 * The entry that keeps a directory's highest cookie when no live entry
 * holds it (a cookie is never reused): the DENTRY_DEL of the entry that
 * held it, as the directory index remembered it (fs_dir.topdel).  Only a
 * log loaded from an image whose compaction wrote the older "." marker
 * (lentry.c, cookie_marker) has no such name: the marker is kept then.
 */
static struct pmfs_lentry *cookie_keeper(const struct fs_inode *ip,
					 union lent_buf *b,
					 const struct timespec *mt)
{
	const struct fs_dent *t = ip->dir ? ip->dir->topdel : NULL;

	if (t && t->cookie == ip->st.maxcookie && t->ino &&
	    !fs_dir_find(ip->dir, t->name, t->nlen))
		return lent_dentry(b, PMFS_LE_DENTRY_DEL, t->ino, t->gen,
				   t->cookie, t->ftype, t->name, t->nlen,
				   ip->st.nlink, mt);
	return lent_dentry(b, PMFS_LE_DENTRY_DEL, 0, 0, ip->st.maxcookie, 0,
			   ".", 1, ip->st.nlink, mt);
}

int gc_compact(struct fs *fs, struct fs_inode *ip)
{
	struct ilog_tx tx;
	struct fs_ext ext;
	struct ilog_pos np, old = ip->pos;
	struct pmfs_inode *slot = ilog_slot(&fs->d, ip->ino);
	struct jnl_tx *j = NULL;
	union lent_buf b;
	uint64_t lastc = 0;
	struct timespec mt = ip->st.mtime;
	unsigned lane = fs_lane(fs);
	int err;

	/* the caller holds ip's write lock (lock order 2) */

	if (!slot)
		return -EIO;
	ilog_tx_init(&tx, &fs->d, fs->a, lane, 0);
	tx.unbounded = true;
	err = ilog_new(&tx, ip->ino, &np);
	if (err)
		return err;
	err = ilog_append(&tx, ip->ino, &np,
			  lent_attr(&b, PMFS_AT_ALL, &ip->st));
	if (err)
		goto out_free;
	if (ip->link) {
		err = ilog_append(&tx, ip->ino, &np,
				  lent_symlink(&b, ip->link, ip->linklen,
					       ip->linkblk));
		if (err)
			goto out_free;
	}
	for (uint64_t pg = 0; fs_emap_next(&ip->map, pg, &ext);
	     pg = ext.pgoff + ext.n) {
		for (uint64_t done = 0; done < ext.n;) {
			uint64_t n = ext.n - done;

			if (n > GC_EXTENT_MAX)
				n = GC_EXTENT_MAX;
			err = ilog_append(&tx, ip->ino, &np,
					  lent_write(&b, ext.pgoff + done,
						     (uint32_t)n, ext.flags,
						     ext.blk + done, ip->st.size,
						     &ip->st.mtime,
						     &ip->st.ctime));
			if (err)
				goto out_free;
			done += n;
		}
	}
	for (const struct fs_xattr *x = ip->xattrs; x; x = x->next) {
		/* a value in blocks keeps them: the new chain names them */
		err = ilog_append(&tx, ip->ino, &np,
				  x->blk ? lent_xattr_blk(&b, x->name, x->nlen,
							  x->vlen, x->blk,
							  &ip->st.ctime)
					 : lent_xattr(&b, PMFS_LE_XATTR_SET,
						      x->name, x->nlen, x->val,
						      x->vlen, &ip->st.ctime));
		if (err)
			goto out_free;
	}
	for (size_t i = 0; ip->dir && i < ip->dir->nord; i++) {
		const struct fs_dent *d = ip->dir->ord[i];

		if (!d)
			continue;
		err = ilog_append(&tx, ip->ino, &np,
				  lent_dentry(&b, PMFS_LE_DENTRY_ADD, d->ino,
					      d->gen, d->cookie, d->ftype,
					      d->name, d->nlen, ip->st.nlink,
					      &mt));
		if (err)
			goto out_free;
		lastc = d->cookie;
	}
	if (S_ISDIR(ip->st.mode) && ip->st.maxcookie > lastc) {
		err = ilog_append(&tx, ip->ino, &np, cookie_keeper(ip, &b, &mt));
		if (err)
			goto out_free;
	}
	err = ilog_append(&tx, ip->ino, &np,
			  lent_attr(&b,
				    PMFS_AT_NLINK | PMFS_AT_MTIME |
					    PMFS_AT_CTIME | PMFS_AT_ATIME,
				    &ip->st));
	if (err)
		goto out_free;
	j = malloc(sizeof(*j));
	if (!j) {
		err = -ENOMEM;
		goto out_free;
	}
	jnl_tx_init(j);
	jnl_add(j, &fs->d, &slot->head, np.head);
	jnl_add(j, &fs->d, &slot->tail, np.tail);
	lane = fs_lane_hold(fs);
	jnl_commit(&fs->d, lane, j); /* LOG(5): the chain swap */
	fs_lane_release(fs, lane);
	free(j);
	ip->pos = np;
	ip->gc_base = np.npages;
	__atomic_fetch_add(&fs->gc_runs, 1, __ATOMIC_RELAXED);
	/* FS(2): the old chain is unreachable now */
	ilog_free_chain(&fs->d, fs->a, ip->ino, old.head, old.tail);
	return 0;
out_free:
	ilog_free_chain(&fs->d, fs->a, ip->ino, np.head,
			np.tail > np.head + sizeof(struct pmfs_logpage)
				? np.tail
				: np.head + sizeof(struct pmfs_logpage));
	return err;
}

void gc_queue(struct fs *fs, struct fs_inode *ip)
{
	pthread_mutex_lock(&fs->gc_mu);
	if (!fs->gc_running || ip->gc_qepoch == fs->gc_epoch) {
		pthread_mutex_unlock(&fs->gc_mu);
		return;
	}
	if (util_grow(&fs->gc_q, &fs->gc_qcap, fs->gc_qn, sizeof(*fs->gc_q),
		      64)) {
		pthread_mutex_unlock(&fs->gc_mu);
		return; /* not queued: compacted inline when it lags */
	}
	fs->gc_q[fs->gc_qn++] = ip->ino;
	ip->gc_qepoch = fs->gc_epoch;
	pthread_cond_signal(&fs->gc_cv);
	pthread_mutex_unlock(&fs->gc_mu);
}

/* The GC thread: compact the queued logs until stopped. */
static void *gc_main(void *arg)
{
	struct fs *fs = arg;

	for (;;) {
		struct fs_inode *ip;
		uint64_t ino;

		pthread_mutex_lock(&fs->gc_mu);
		while (!fs->gc_stop && fs->gc_qn == 0)
			pthread_cond_wait(&fs->gc_cv, &fs->gc_mu);
		if (fs->gc_stop) {
			pthread_mutex_unlock(&fs->gc_mu);
			break;
		}
		ino = fs->gc_q[--fs->gc_qn];
		pthread_mutex_unlock(&fs->gc_mu);
		/* the inode lock of the log it compacts (lock order 2) */
		if (fs_iget_locked(fs, ino, true, &ip) == 0) {
			pthread_mutex_lock(&fs->gc_mu);
			ip->gc_qepoch = 0;
			pthread_mutex_unlock(&fs->gc_mu);
			if (gc_wanted(fs, ip) && gc_compact(fs, ip))
				ip->gc_base = ip->pos.npages; /* retry later */
			fs_iput_unlock(fs, ip);
		}
	}
	return NULL;
}

int gc_start(struct fs *fs)
{
	int err;

	pthread_cond_init(&fs->gc_cv, NULL);
	pthread_mutex_lock(&fs->gc_mu);
	fs->gc_stop = false;
	fs->gc_epoch++; /* marks of an earlier run (remount) are stale */
	if (fs->gc_epoch == 0)
		fs->gc_epoch = 1;
	pthread_mutex_unlock(&fs->gc_mu);
	err = util_thread_start(&fs->gc_thread, gc_main, fs);
	if (err) {
		pthread_cond_destroy(&fs->gc_cv);
		return -err;
	}
	__atomic_store_n(&fs->gc_running, true, __ATOMIC_RELEASE);
	return 0;
}

void gc_stop(struct fs *fs)
{
	if (!__atomic_load_n(&fs->gc_running, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&fs->gc_mu);
	fs->gc_stop = true;
	pthread_cond_signal(&fs->gc_cv);
	pthread_mutex_unlock(&fs->gc_mu);
	pthread_join(fs->gc_thread, NULL);
	/* the queue goes under gc_mu: gc_queue checks gc_running there */
	pthread_mutex_lock(&fs->gc_mu);
	__atomic_store_n(&fs->gc_running, false, __ATOMIC_RELEASE);
	free(fs->gc_q);
	fs->gc_q = NULL;
	fs->gc_qn = fs->gc_qcap = 0;
	pthread_mutex_unlock(&fs->gc_mu);
	pthread_cond_destroy(&fs->gc_cv);
}

int fs_gc(struct fs *fs, uint64_t ino)
{
	struct fs_inode *ip;
	int err;

	err = fs_iget_locked(fs, ino, true, &ip);
	if (err)
		return err;
	err = gc_compact(fs, ip);
	fs_iput_unlock(fs, ip);
	return err;
}

int fs_log_pages(struct fs *fs, uint64_t ino, uint64_t *pages)
{
	struct fs_inode *ip;
	int err;

	err = fs_iget_locked(fs, ino, false, &ip);
	if (err)
		return err;
	*pages = ip->pos.npages;
	fs_iput_unlock(fs, ip);
	return 0;
}
