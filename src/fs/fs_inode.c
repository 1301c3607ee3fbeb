/*
 * fs_inode.c - the DRAM inodes of a mounted filesystem: an inode is built
 * by replaying its log (fs_inode_load: ilog_walk2 and ilog_apply, the
 * readers fsck uses too, with callbacks that fill the directory index and
 * the extent map), checked as fsck checks one inode, and cached; threads
 * take references (fs_iget/fs_iput) and the inode's rwlock, several in
 * inode order (fs_lockset).  Also the atime policy and what getattr
 * reports.  Lock order: fs.h.
 */
#include "fs/fs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/fmt.h"

unsigned fs_lane(struct fs *fs)
{
	static _Atomic unsigned next;
	static __thread unsigned lane = ~0u;

	if (lane == ~0u)
		lane = atomic_fetch_add(&next, 1);
	return lane % fs->d.nlanes;
}

unsigned fs_lane_hold(struct fs *fs)
{
	return jnl_lane_hold(&fs->d, fs_lane(fs));
}

void fs_lane_release(struct fs *fs, unsigned lane)
{
	jnl_lane_release(&fs->d, lane);
}

int fs_media_error(struct fs *fs, const char *fmt, ...)
{
	va_list ap;

	atomic_fetch_add(&fs->media_errors, 1);
	fputs("pmfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; run fsck.pmfs\n", stderr);
	return -EIO;
}


/* ---- replay: fs_apply ------------------------------------------------ */

/* Forget the xattr called name of ip (DRAM); with fs (a live change,
 * FS(2)) its value's blocks are freed unless keep (the new value's). */
static void xattr_del(struct fs *fs, struct fs_inode *ip, const char *name,
		      size_t nlen, uint64_t keep)
{
	for (struct fs_xattr **pp = &ip->xattrs; *pp; pp = &(*pp)->next) {
		struct fs_xattr *x = *pp;

		if (x->nlen == nlen && memcmp(x->name, name, nlen) == 0) {
			*pp = x->next;
			if (fs && x->blk && x->blk != keep)
				alloc_free(fs->a, x->blk,
					   fmt_xattr_blocks(x->vlen));
			free(x->name);
			free(x->val);
			free(x);
			return;
		}
	}
}

/* fs_apply's callbacks (log.h, ilog_replay_ops): DRAM indexes of ip. */
struct apply_arg {
	struct fs *fs;
	struct fs_inode *ip;
	bool live;
};

/* fs_apply: pages mapped in the extent map. */
static int ap_extent(void *arg, uint64_t pgoff, uint64_t n, uint64_t blk,
		     uint32_t flags)
{
	struct apply_arg *aa = arg;

	return fs_emap_set(aa->fs, &aa->ip->map, pgoff, n, blk, flags,
			   aa->live);
}

/* fs_apply: the mapping past from_pg dropped. */
static int ap_truncate(void *arg, uint64_t from_pg)
{
	struct apply_arg *aa = arg;

	fs_emap_truncate(aa->fs, &aa->ip->map, from_pg, aa->live);
	return 0;
}

/* ilog_apply calls these before it raises st.maxcookie to de->cookie. */
static int ap_dentry_add(void *arg, const struct pmfs_le_dentry *de)
{
	struct apply_arg *aa = arg;

	return fs_dir_add(&aa->ip->dir, de, aa->ip->st.maxcookie);
}

/* fs_apply: a directory entry removed from the index. */
static int ap_dentry_del(void *arg, const struct pmfs_le_dentry *de)
{
	struct apply_arg *aa = arg;

	return fs_dir_del(&aa->ip->dir, de, aa->ip->st.maxcookie);
}

/* fs_apply: the symlink target kept in DRAM. */
static int ap_symlink(void *arg, const char *target, uint32_t len,
		      uint64_t blk)
{
	struct fs_inode *ip = ((struct apply_arg *)arg)->ip;
	char *t = malloc(len + 1u);

	if (!t)
		return -ENOMEM;
	memcpy(t, target, len);
	t[len] = 0;
	free(ip->link);
	ip->link = t;
	ip->linklen = len;
	ip->linkblk = blk;
	return 0;
}

/* fs_apply: an xattr removed. */
static int ap_xattr_del(void *arg, const char *name, size_t nlen)
{
	struct apply_arg *aa = arg;

	xattr_del(aa->live ? aa->fs : NULL, aa->ip, name, nlen, 0);
	return 0;
}

/* fs_apply: an xattr set (replacing one of that name). */
static int ap_xattr_set(void *arg, const char *name, size_t nlen,
			const void *val, size_t vlen, uint64_t blk)
{
	struct apply_arg *aa = arg;
	struct fs_inode *ip = aa->ip;
	struct fs_xattr *n;

	xattr_del(aa->live ? aa->fs : NULL, ip, name, nlen, blk);
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->nlen = (uint8_t)nlen;
	n->vlen = (uint32_t)vlen;
	n->blk = blk;
	n->name = malloc(nlen + 1u);
	n->val = malloc(vlen ? vlen : 1u);
	if (!n->name || !n->val) {
		free(n->name);
		free(n->val);
		free(n);
		return -ENOMEM;
	}
	memcpy(n->name, name, nlen);
	n->name[nlen] = 0;
	memcpy(n->val, val, vlen);
	n->next = ip->xattrs;
	ip->xattrs = n;
	return 0;
}

static const struct ilog_replay_ops apply_ops = {
	.extent = ap_extent,
	.truncate = ap_truncate,
	.dentry_add = ap_dentry_add,
	.dentry_del = ap_dentry_del,
	.symlink = ap_symlink,
	.xattr_set = ap_xattr_set,
	.xattr_del = ap_xattr_del,
};

int fs_apply(struct fs *fs, struct fs_inode *ip, const struct pmfs_lentry *e,
	     bool live)
{
	struct apply_arg aa = { fs, ip, live };

	return ilog_apply(&fs->d, &ip->st, e, &apply_ops, &aa);
}

/* ---- the inode cache ------------------------------------------------- */

/* The cached inode ino, or NULL (icache_lk held). */
static struct fs_inode *icache_find(struct fs *fs, uint64_t ino)
{
	if (!fs->hcap)
		return NULL;
	for (struct fs_inode *ip = fs->ht[ino & (fs->hcap - 1)]; ip;
	     ip = ip->hnext)
		if (ip->ino == ino)
			return ip;
	return NULL;
}

/* Insert ip in the cache hash, growing it (icache_lk held for write);
 * the cache holds a reference while ip is in it. */
static int icache_insert(struct fs *fs, struct fs_inode *ip)
{
	if (fs->n + 1 > fs->hcap) {
		size_t nc = fs->hcap ? fs->hcap * 2 : 64;
		struct fs_inode **nt = calloc(nc, sizeof(*nt));

		if (!nt)
			return -ENOMEM;
		for (size_t i = 0; i < fs->hcap; i++) {
			struct fs_inode *x = fs->ht[i], *nx;

			for (; x; x = nx) {
				nx = x->hnext;
				x->hnext = nt[x->ino & (nc - 1)];
				nt[x->ino & (nc - 1)] = x;
			}
		}
		free(fs->ht);
		fs->ht = nt;
		fs->hcap = nc;
	}
	ip->hnext = fs->ht[ip->ino & (fs->hcap - 1)];
	fs->ht[ip->ino & (fs->hcap - 1)] = ip;
	fs->n++;
	atomic_fetch_add(&ip->ref, 1); /* the cache's */
	return 0;
}

struct fs_inode *fs_inode_alloc(void)
{
	struct fs_inode *ip = calloc(1, sizeof(*ip));

	if (ip)
		pthread_rwlock_init(&ip->lock, NULL);
	return ip;
}

void fs_inode_free(struct fs_inode *ip)
{
	fs_dir_free(ip->dir);
	fs_emap_free(&ip->map);
	free(ip->link);
	while (ip->xattrs) {
		struct fs_xattr *x = ip->xattrs;

		ip->xattrs = x->next;
		free(x->name);
		free(x->val);
		free(x);
	}
	pthread_rwlock_destroy(&ip->lock);
	free(ip);
}

int fs_icache_insert(struct fs *fs, struct fs_inode *ip)
{
	int err;

	pthread_rwlock_wrlock(&fs->icache_lk);
	err = icache_insert(fs, ip);
	pthread_rwlock_unlock(&fs->icache_lk);
	return err;
}

void fs_icache_free_all(struct fs *fs)
{
	for (size_t i = 0; i < fs->hcap; i++) {
		struct fs_inode *ip = fs->ht[i], *nx;

		for (; ip; ip = nx) {
			nx = ip->hnext;
			fs_inode_free(ip);
		}
	}
	free(fs->ht);
	fs->ht = NULL;
	fs->hcap = fs->n = 0;
}

/* Unhash ip and mark it dead; the cache's reference goes, and the memory
 * with the last fs_iput (the caller holds a reference). */
void fs_icache_drop(struct fs *fs, struct fs_inode *ip)
{
	struct fs_inode **pp;
	bool hashed = false;

	pthread_rwlock_wrlock(&fs->icache_lk);
	pp = &fs->ht[ip->ino & (fs->hcap - 1)];
	while (*pp && *pp != ip)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = ip->hnext;
		fs->n--;
		hashed = true;
	}
	atomic_store(&ip->dead, true);
	pthread_rwlock_unlock(&fs->icache_lk);
	if (hashed)
		fs_iput(fs, ip);
}

struct replay_arg {
	struct apply_arg aa;
	ilog_page_fn page; /* may be NULL */
	void *parg;
	const struct ilog_replay_ops *ops;
	const char *why; /* what made the load fail (-EIO) */
};

/* The crash rebuild's replay: no directory index (fs_apply's callbacks
 * but the directory entries, which ilog_apply still checks and counts). */
static const struct ilog_replay_ops scan_ops = {
	.extent = ap_extent,
	.truncate = ap_truncate,
	.symlink = ap_symlink,
	.xattr_set = ap_xattr_set,
	.xattr_del = ap_xattr_del,
};

/* fs_inode_load: a log page (none may be bad), then the caller's callback. */
static int replay_page(void *arg, uint64_t off)
{
	struct replay_arg *ra = arg;
	struct fs *fs = ra->aa.fs;

	if (alloc_bad_blocks(fs->a) && alloc_is_bad(fs->a, fmt_off_blk(off))) {
		ra->why = "a log page is on a bad block";
		return -EIO;
	}
	return ra->page ? ra->page(ra->parg, off) : 0;
}

/* fs_inode_load: apply an entry (lent_check first); a refusal says why. */
static int replay_entry(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	struct replay_arg *ra = arg;
	struct fs_inode *ip = ra->aa.ip;
	int err = ilog_apply(&ra->aa.fs->d, &ip->st, e, ra->ops, &ra->aa);

	if (err == -EIO)
		ra->why = ip->st.bad ? ip->st.bad : "invalid entry";
	return err;
}

/*
 * What a replayed inode must be besides a valid log (the rules fsck's
 * pass 4 and 6 apply): no block on the bad-block list, no written data
 * block past the size (fallocated blocks may lie there), a symlink's size
 * equal to its target's length.  A reason, or NULL.
 */
static const char *load_check(struct fs *fs, const struct fs_inode *ip)
{
	bool bad = alloc_bad_blocks(fs->a) != 0;
	uint64_t pages = (ip->st.size + PMFS_BLOCK_SIZE - 1) >> PMFS_BLOCK_SHIFT;
	struct fs_ext ext;

	if (S_ISLNK(ip->st.mode) && !ip->link)
		return "symlink without a target";
	if (S_ISLNK(ip->st.mode) && ip->st.size != ip->linklen)
		return "symlink size is not its target's length";
	if (bad && ip->linkblk && alloc_is_bad(fs->a, ip->linkblk))
		return "the symlink target is on a bad block";
	for (const struct fs_xattr *x = ip->xattrs; bad && x; x = x->next)
		for (uint32_t k = 0; x->blk && k < fmt_xattr_blocks(x->vlen);
		     k++)
			if (alloc_is_bad(fs->a, x->blk + k))
				return "an xattr value is on a bad block";
	for (uint64_t pg = 0; fs_emap_next(&ip->map, pg, &ext);
	     pg = ext.pgoff + ext.n) {
		if (!(ext.flags & PMFS_WR_UNWRITTEN) &&
		    ext.pgoff + ext.n > pages)
			return "data blocks past the file size";
		for (uint64_t k = 0; bad && k < ext.n; k++)
			if (alloc_is_bad(fs->a, ext.blk + k))
				return "a data block is on a bad block";
	}
	return NULL;
}

/*
 * Build the DRAM inode of ino by replaying its log (page() sees every page,
 * may be NULL; scan: leave the directory index empty, for the crash
 * rebuild).  The log passes the validators fsck applies (ilog_walk2,
 * lent_check through ilog_apply), no page of it on the bad-block list,
 * and the inode passes load_check; otherwise the damage is reported
 * (fs_media_error).  Returns 0, -ENOENT, -ENOMEM, or -EIO with
 * *out set to a poisoned inode (later calls give -EIO at once).  Not in
 * the cache yet.
 */
int fs_inode_load(struct fs *fs, uint64_t ino, ilog_page_fn page, void *parg,
		  bool scan, struct fs_inode **out)
{
	struct pmfs_inode *slot = ilog_slot(&fs->d, ino);
	struct replay_arg ra;
	struct ilog_err ie;
	struct fs_inode *ip;
	int err;

	*out = NULL;
	if (!slot || slot->tail == 0)
		return -ENOENT;
	ip = fs_inode_alloc();
	if (!ip)
		return -ENOMEM;
	ip->ino = ino;
	ip->gen = slot->gen;
	memset(&ra, 0, sizeof(ra));
	ra.aa.fs = fs;
	ra.aa.ip = ip;
	ra.page = page;
	ra.parg = parg;
	ra.ops = scan ? &scan_ops : &apply_ops;
	err = ilog_walk2(&fs->d, ino, slot->head, slot->tail, replay_entry,
			 replay_page, &ra, true, &ip->pos, &ie);
	if (err == -EIO && !ra.why)
		ra.why = ie.msg;
	if (err == 0 && ip->st.nentries == 0) {
		err = -EIO;
		ra.why = "log has no entry";
	}
	if (err == 0 && (ra.why = load_check(fs, ip)) != NULL)
		err = -EIO;
	if (err == -ENOMEM) {
		fs_inode_free(ip);
		return err;
	}
	if (err) {
		fs_media_error(fs, "inode %" PRIu64 ": corrupt log: %s", ino,
			       ra.why);
		fs_dir_free(ip->dir);
		ip->dir = NULL;
		fs_emap_free(&ip->map);
		ip->err = -EIO;
		*out = ip;
		return -EIO;
	}
	ip->gc_base = ip->pos.npages;
	*out = ip;
	return 0;
}

/* Inode ino from the cache, loaded from its log on first use; a
 * reference is taken on success. */
int fs_iget(struct fs *fs, uint64_t ino, struct fs_inode **out)
{
	struct fs_inode *ip;
	int err;

	pthread_rwlock_rdlock(&fs->icache_lk);
	ip = icache_find(fs, ino);
	if (ip) {
		err = ip->err;
		if (!err)
			atomic_fetch_add(&ip->ref, 1);
		pthread_rwlock_unlock(&fs->icache_lk);
		if (!err)
			*out = ip;
		return err;
	}
	pthread_rwlock_unlock(&fs->icache_lk);
	pthread_rwlock_wrlock(&fs->icache_lk);
	ip = icache_find(fs, ino); /* loaded meanwhile? */
	if (ip) {
		err = ip->err;
		goto out;
	}
	err = fs_inode_load(fs, ino, NULL, NULL, false, &ip);
	if (ip && icache_insert(fs, ip)) {
		fs_inode_free(ip);
		ip = NULL;
		err = -ENOMEM;
	}
out:
	if (!err) {
		atomic_fetch_add(&ip->ref, 1);
		*out = ip;
	}
	pthread_rwlock_unlock(&fs->icache_lk);
	return err;
}

void fs_iput(struct fs *fs, struct fs_inode *ip)
{
	/* A cached inode keeps the cache's reference, so the count reaches
	 * 0 only once it is unhashed (dead) and nobody uses it: the last
	 * reference frees it.  Nothing of ip is read after the decrement:
	 * another thread may free it from then on. */
	if (atomic_fetch_sub(&ip->ref, 1) == 1)
		fs_inode_free(ip);
}

int fs_iget_locked(struct fs *fs, uint64_t ino, bool write,
		   struct fs_inode **out)
{
	struct fs_inode *ip;
	int err;

	if (write && (err = fs_writable(fs)))
		return err;
	err = fs_iget(fs, ino, &ip);
	if (err)
		return err;
	if (write)
		fs_ilock_w(ip);
	else
		fs_ilock_r(ip);
	if (atomic_load(&ip->dead))
		err = -ENOENT;
	else if (write)
		err = fs_writable(fs);
	if (err) {
		fs_iput_unlock(fs, ip);
		return err;
	}
	*out = ip;
	return 0;
}

void fs_iput_unlock(struct fs *fs, struct fs_inode *ip)
{
	fs_iunlock(ip);
	fs_iput(fs, ip);
}

void fs_ls_add(struct fs *fs, struct fs_lockset *ls, struct fs_inode *ip)
{
	for (int i = 0; i < ls->n; i++) {
		if (ls->ip[i] == ip) {
			fs_iput(fs, ip);
			return;
		}
	}
	ls->ip[ls->n++] = ip;
}

void fs_ls_lock(struct fs_lockset *ls)
{
	/* lock order 2: increasing inode number */
	for (int i = 1; i < ls->n; i++) {
		struct fs_inode *x = ls->ip[i];
		int k = i;

		while (k > 0 && ls->ip[k - 1]->ino > x->ino) {
			ls->ip[k] = ls->ip[k - 1];
			k--;
		}
		ls->ip[k] = x;
	}
	for (int i = 0; i < ls->n; i++)
		fs_ilock_w(ls->ip[i]);
}

void fs_ls_release(struct fs *fs, struct fs_lockset *ls, bool locked)
{
	for (int i = ls->n - 1; i >= 0; i--) {
		if (locked)
			fs_iunlock(ls->ip[i]);
		fs_iput(fs, ls->ip[i]);
	}
	ls->n = 0;
}

/* ---- attributes -------------------------------------------------------- */

/* a <= b. */
static bool ts_le(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec <= b->tv_nsec);
}

bool fs_atime_due(struct fs *fs, const struct fs_inode *ip)
{
	unsigned mode = __atomic_load_n(&fs->atime_mode, __ATOMIC_RELAXED);
	struct timespec now;

	if (mode & FS_O_NOATIME || fs_writable(fs))
		return false;
	if (mode & FS_O_NODIRATIME && S_ISDIR(ip->st.mode))
		return false;
	if (mode & FS_O_STRICTATIME)
		return true;
	/* relatime: atime not newer than the last change, or a day old */
	if (ts_le(&ip->st.atime, &ip->st.mtime) || ts_le(&ip->st.atime, &ip->st.ctime))
		return true;
	fs_now(&now);
	return now.tv_sec - ip->st.atime.tv_sec >= 24 * 3600;
}

void fs_fill_attr(const struct fs_inode *ip, struct fs_attr *out)
{
	memset(out, 0, sizeof(*out));
	out->ino = ip->ino;
	out->gen = ip->gen;
	out->mode = ip->st.mode;
	out->nlink = ip->st.nlink;
	out->uid = ip->st.uid;
	out->gid = ip->st.gid;
	out->size = ip->st.size;
	out->blocks = (ip->map.nblocks + (ip->linkblk ? 1 : 0) +
		       fs_xattr_blocks(ip)) *
		      (PMFS_BLOCK_SIZE / 512);
	if (S_ISDIR(ip->st.mode)) {
		/* entry bytes as in the log, plus "." and ".."; a directory
		 * occupies its log pages */
		out->size = (ip->dir ? ip->dir->bytes : 0) +
			    2 * fmt_dentry_len(1);
		out->blocks = (ip->pos.npages + fs_xattr_blocks(ip)) *
			      (PMFS_BLOCK_SIZE / 512);
	}
	out->rdev = ip->st.rdev;
	out->atime = ip->st.atime;
	out->mtime = ip->st.mtime;
	out->ctime = ip->st.ctime;
	out->btime = ip->st.btime;
}

/* ---- freeing an inode ------------------------------------------------- */

void fs_inode_release(struct fs *fs, struct fs_inode *ip)
{
	struct fs_ext ext;

	/* FS(2): the tail is 0 and durable; pages and blocks are unreachable
	 * (each log page is freed only after the walk has read it) */
	ilog_free_chain(&fs->d, fs->a, ip->ino, ip->pos.head, ip->pos.tail);
	for (uint64_t pg = 0; fs_emap_next(&ip->map, pg, &ext);
	     pg = ext.pgoff + ext.n)
		alloc_free(fs->a, ext.blk, ext.n);
	if (ip->linkblk)
		alloc_free(fs->a, ip->linkblk, 1);
	for (const struct fs_xattr *x = ip->xattrs; x; x = x->next)
		if (x->blk)
			alloc_free(fs->a, x->blk, fmt_xattr_blocks(x->vlen));
	/* unhashed before its number can be taken again */
	fs_icache_drop(fs, ip);
	alloc_ino_put(fs->a, ip->ino);
}
