/*
 * fs_mount.c - mounting a namespace and unmounting it: the media checks
 * the mount makes (the format's validators, those fsck uses), journal
 * recovery (LOG(6)), the allocator from the saved state after a clean
 * unmount or rebuilt from every log after a crash (in parallel threads),
 * orphans reclaimed, the GC thread started; and the clean unmount that
 * saves the allocator state and sets the clean word.  Also statfs.
 */
#include "fs/fs_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/fmt.h"
#include "pmemio/pmemio.h"
#include "util/util.h"

struct mark_arg {
	struct fs *fs;
	int err;
};

/* Rebuild: a log page is used. */
static int mark_page(void *arg, uint64_t off)
{
	struct mark_arg *ma = arg;
	int err = alloc_mark_used(ma->fs->a, fmt_off_blk(off), 1);

	if (err && !ma->err)
		ma->err = err;
	return 0;
}

static int reclaim_orphan(struct fs *fs, struct fs_inode *ip);

/* The background work of a writable mount: the log GC and the mapping
 * made present ahead of the allocator (fs_ahead.c).  Neither is needed
 * for correctness: a thread that does not start is reported, not fatal. */
static void bg_start(struct fs *fs)
{
	if (gc_start(fs) != 0)
		fprintf(stderr, "pmfs: log GC thread did not start\n");
	if (fs_ahead_start(fs) != 0)
		fprintf(stderr, "pmfs: prefault thread did not start\n");
}

static void bg_stop(struct fs *fs)
{
	fs_ahead_stop(fs);
	gc_stop(fs);
}

/* Crash path: every block reachable from ino is used.  Only orphans
 * (nlink 0, reclaimed next) and poisoned inodes stay in DRAM: the others
 * are loaded again on first use, so the rebuild keeps no per-inode state
 * beyond the allocator's bits (and scans without directory indexes).
 * Runs in several threads at once (leaf locks only). */
static int rebuild_inode(struct fs *fs, uint64_t ino, struct fs_inode **out)
{
	struct mark_arg ma = { fs, 0 };
	struct fs_ext ext;
	struct fs_inode *ip;
	int err;

	err = fs_inode_load(fs, ino, mark_page, &ma, true, &ip);
	if (!ip)
		return err;
	for (uint64_t pg = 0; fs_emap_next(&ip->map, pg, &ext);
	     pg = ext.pgoff + ext.n) {
		int e2 = alloc_mark_used(fs->a, ext.blk, ext.n);

		if (e2 && !ma.err)
			ma.err = e2;
	}
	if (ip->linkblk) {
		int e2 = alloc_mark_used(fs->a, ip->linkblk, 1);

		if (e2 && !ma.err)
			ma.err = e2;
	}
	for (const struct fs_xattr *x = ip->xattrs; x; x = x->next) {
		int e2 = x->blk ? alloc_mark_used(fs->a, x->blk,
						  fmt_xattr_blocks(x->vlen))
				: 0;

		if (e2 && !ma.err)
			ma.err = e2;
	}
	if (ma.err)
		fs_media_error(fs,
			       "inode %" PRIu64 ": a block it uses is used "
			       "twice or lies outside the data area",
			       ino);
	if (!ip->err && ip->st.nlink != 0) {
		fs_inode_free(ip);
		*out = NULL;
		return err;
	}
	if (fs_icache_insert(fs, ip)) {
		fs_inode_free(ip);
		ip = NULL;
		err = -ENOMEM;
	}
	*out = ip;
	return err;
}

/* Parallel scan of the inode table (crash path). */
#define SCAN_UNIT 512 /* slots per work item */

struct scan {
	struct fs *fs;
	const uint64_t *chunks;
	uint64_t nunits;
	_Atomic uint64_t next;
	pthread_mutex_t mu;
	struct fs_inode **orphans;
	size_t norph, cap;
};

/* A rebuild thread: rebuild the inodes of work units until none is left. */
static void *scan_main(void *arg)
{
	struct scan *sc = arg;
	struct fs *fs = sc->fs;
	uint64_t u;

	while ((u = atomic_fetch_add(&sc->next, 1)) < sc->nunits) {
		uint64_t per = PMFS_INODES_PER_CHUNK / SCAN_UNIT;
		uint64_t c = sc->chunks[u / per];
		uint64_t first = c * PMFS_INODES_PER_CHUNK + (u % per) * SCAN_UNIT;

		for (uint64_t ino = first; ino < first + SCAN_UNIT; ino++) {
			struct pmfs_inode *slot;
			struct fs_inode *ip = NULL;

			if (ino == 0)
				continue;
			slot = ilog_slot(&fs->d, ino);
			if (!slot || !slot->tail)
				continue;
			alloc_ino_mark_used(fs->a, ino);
			if (rebuild_inode(fs, ino, &ip) != 0 || !ip ||
			    ip->st.nlink != 0)
				continue;
			pthread_mutex_lock(&sc->mu);
			/* no memory: it stays an orphan till unmount */
			if (!util_grow(&sc->orphans, &sc->cap, sc->norph,
				       sizeof(*sc->orphans), 16))
				sc->orphans[sc->norph++] = ip;
			pthread_mutex_unlock(&sc->mu);
		}
	}
	return NULL;
}

/* Rebuild free space and the inode cache from every log, with nthreads
 * threads; orphans (nlink 0) are reclaimed after, one journaled op each. */
static int rebuild_all(struct fs *fs, const uint64_t *chunks, uint64_t n,
		       unsigned nthreads, uint64_t *orphans_freed)
{
	struct scan sc;
	pthread_t th[16];
	unsigned started = 0;

	memset(&sc, 0, sizeof(sc));
	sc.fs = fs;
	sc.chunks = chunks;
	sc.nunits = n * (PMFS_INODES_PER_CHUNK / SCAN_UNIT);
	atomic_store(&sc.next, 0);
	pthread_mutex_init(&sc.mu, NULL);
	if (nthreads > 16)
		nthreads = 16;
	for (unsigned i = 1; i < nthreads; i++)
		if (util_thread_start(&th[started], scan_main, &sc) == 0)
			started++;
	scan_main(&sc);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&sc.mu);
	for (size_t i = 0; i < sc.norph && !fs_writable(fs); i++)
		if (reclaim_orphan(fs, sc.orphans[i]) == 0)
			(*orphans_freed)++;
	free(sc.orphans);
	return 0;
}

/* Free an inode whose nlink is 0 (journaled tail -> 0); no other thread
 * uses the mount (mount, unmount). */
static int reclaim_orphan(struct fs *fs, struct fs_inode *ip)
{
	struct fs_op op;
	int err;

	atomic_fetch_add(&ip->ref, 1);
	fs_ilock_w(ip);
	fs_op_init(&op, fs, ALLOC_F_RESERVE);
	fs_op_free_inode(&op, ip);
	err = fs_op_commit(&op);
	fs_iput_unlock(fs, ip);
	return err;
}

/* A mount warning: damage the mount goes on with, printed and counted. */
__attribute__((format(printf, 2, 3))) static void
mount_warn(struct fs_mount_info *mi, const char *fmt, ...)
{
	va_list ap;

	mi->warnings++;
	fputs("pmfs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; run fsck.pmfs\n", stderr);
}

/*
 * What the mount reads besides the journals and the logs, by the format's
 * validators (the ones fsck.pmfs applies): the superblock copy and the
 * clean word (damage there is only reported: the mount does not need
 * them), the bad-block table (*badtab: the table, or NULL when a
 * read-only mount goes on without it; a read-write mount refuses, since
 * it would hand out blocks the table keeps) and every inode-table
 * directory word (a chunk outside the data area or over another chunk is
 * refused).  0 or -EUCLEAN with the reason in errbuf.
 */
static int mount_check(struct fs *fs, struct fs_mount_info *mi,
		       const struct pmfs_badblocks **badtab, char *errbuf,
		       size_t errlen)
{
	const struct pmfs_super *sb = (const void *)fs->d.base;
	const struct pmfs_super *copy =
		ilog_ptr(&fs->d, fmt_blk_off(PMFS_SB_COPY_BLOCK));
	const struct pmfs_badblocks *bb =
		ilog_ptr(&fs->d, fmt_blk_off(PMFS_BADBLK_BLOCK));
	struct fmt_geometry g;
	char why[160];

	ilog_geometry(&fs->d, &g);
	if (fmt_super_check(copy, fs->d.size, why, sizeof(why)) != 0)
		mount_warn(mi, "superblock copy (block 1) is damaged: %s", why);
	else if (memcmp(sb, copy, sizeof(*sb)) != 0)
		mount_warn(mi, "superblock copy (block 1) differs from the "
			       "superblock");
	if (fmt_state_check(fs->d.state, why, sizeof(why)) != 0)
		mount_warn(mi, "%s (taken as not clean)", why);
	*badtab = bb;
	if (fmt_badblocks_check(bb, &g, why, sizeof(why)) != 0) {
		if (!fs->rdonly) {
			snprintf(errbuf, errlen,
				 "bad-block table is damaged (%s)", why);
			return -EUCLEAN;
		}
		mount_warn(mi, "bad-block table is damaged (%s); read-only "
			       "mount goes on without it", why);
		*badtab = NULL;
		fs->badtab_damaged = true;
	}
	for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES; c++) {
		if (ilog_chunk_check(&fs->d, fs->d.itdir, c, NULL, NULL, why,
				     sizeof(why)) != 0) {
			snprintf(errbuf, errlen, "%s", why);
			return -EUCLEAN;
		}
	}
	return 0;
}

/* A new mounted filesystem with its locks, nothing read yet. */
static struct fs *fs_new(const struct fs_opts *o)
{
	pthread_rwlockattr_t ra;
	struct fs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		return NULL;
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
				      PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fs->big, &ra);
	/* writers first: a waiting remount makes fs_bg_begin fail at once,
	 * so a stream of atime updates cannot hold it off */
	pthread_rwlock_init(&fs->remount_lk, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_rwlock_init(&fs->icache_lk, NULL);
	pthread_mutex_init(&fs->remount_mu, NULL);
	pthread_mutex_init(&fs->rename_mu, NULL);
	pthread_mutex_init(&fs->itable_mu, NULL);
	pthread_mutex_init(&fs->gc_mu, NULL);
	pthread_mutex_init(&fs->ahead_mu, NULL);
	pthread_cond_init(&fs->ahead_cv, NULL);
	if (o)
		fs->o = *o;
	fs->rdonly = fs->o.flags & FS_O_RDONLY;
	fs->atime_mode = fs->o.flags & FS_ATIME_FLAGS;
	fs->acl_on = fs->o.flags & FS_O_ACL;
	return fs;
}

/* LOG(6): re-apply the active journals; a read-only mount cannot, so
 * every journal must be idle for it.  0 or -EUCLEAN. */
static int recover_journals(struct fs *fs, struct fs_mount_info *mi,
			    char *errbuf, size_t errlen)
{
	int err;

	if (!fs->rdonly) {
		if (recov_journals(&fs->d, &mi->journals_replayed) == 0)
			return 0;
		snprintf(errbuf, errlen, "a journal is corrupt");
		return -EUCLEAN;
	}
	for (unsigned l = 0; l < fs->d.nlanes; l++) {
		err = jnl_check(&fs->d, l, errbuf, errlen);
		if (err > 0)
			snprintf(errbuf, errlen,
				 "journal %u needs replay; mount read-write or "
				 "run fsck.pmfs",
				 l);
		if (err)
			return -EUCLEAN;
	}
	return 0;
}

/* The allocator: from the saved state when the filesystem is clean (a
 * damaged one is a warning and a rebuild), else all free, for the
 * rebuild to mark.  *clean says which. */
static int load_allocator(struct fs *fs, struct fs_mount_info *mi,
			  const struct pmfs_badblocks *badtab, bool *clean)
{
	uint64_t head = fs->d.state->alloc_head;
	int err;

	*clean = fs->d.state->clean == PMFS_STATE_CLEAN && head;
	for (;;) {
		err = alloc_create(fs->d.p, badtab, fs->d.data_start,
				   fs->d.total_blocks, fs->d.nlanes, *clean,
				   &fs->a);
		if (err || !*clean || alloc_load(fs->a, fs->d.base, head) == 0)
			return err;
		mount_warn(mi, "the saved allocator state is damaged; "
			       "rebuilding it from the logs");
		alloc_destroy(fs->a);
		fs->a = NULL;
		*clean = false;
	}
}

/*
 * The inode table: every chunk's numbers known to the allocator (a chunk
 * holding a bad block is refused: fsck.pmfs moves it); then, clean, which
 * slots are in use, or after a crash the rebuild of the allocator from
 * every log, orphans reclaimed.  0, -ENOMEM or -EUCLEAN.
 */
static int load_inodes(struct fs *fs, struct fs_mount_info *mi, bool clean,
		       char *errbuf, size_t errlen)
{
	uint64_t *chunks = malloc(PMFS_ITDIR_ENTRIES * sizeof(*chunks));
	uint64_t nch = 0;
	int err = 0;

	if (!chunks)
		return -ENOMEM;
	for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES && !err; c++) {
		uint64_t b = fs->d.itdir[c];

		if (!b) /* mount_check: inside the data area, no overlap */
			continue;
		for (uint64_t k = 0; k < PMFS_CHUNK_BLOCKS && !err; k++) {
			if (!alloc_is_bad(fs->a, b + k))
				continue;
			snprintf(errbuf, errlen,
				 "inode-table chunk %" PRIu64 " at block %" PRIu64
				 " holds bad block %" PRIu64,
				 c, b, b + k);
			err = -EUCLEAN;
		}
		if (!err)
			err = alloc_ino_add_chunk(fs->a, c);
		if (!err && !clean)
			alloc_mark_used(fs->a, b, PMFS_CHUNK_BLOCKS);
		chunks[nch++] = c;
	}
	if (!err && clean) {
		/* fast path: only which slots are in use */
		for (uint64_t k = 0; k < nch; k++)
			for (uint64_t i = 0; i < PMFS_INODES_PER_CHUNK; i++) {
				uint64_t ino = chunks[k] * PMFS_INODES_PER_CHUNK + i;
				struct pmfs_inode *slot = ilog_slot(&fs->d, ino);

				if (ino && slot && slot->tail)
					alloc_ino_mark_used(fs->a, ino);
			}
	} else if (!err) {
		unsigned nt = fs->o.recovery_threads;

		if (nt == 0) {
			long n = sysconf(_SC_NPROCESSORS_ONLN);

			nt = n > 0 ? (unsigned)n : 1;
		}
		rebuild_all(fs, chunks, nch, nt, &mi->orphans_freed);
	}
	free(chunks);
	return err;
}

/* The mount's own commit: sb_state says mounted, not clean, durably,
 * before the first change (the saved allocator state is void from now). */
static void mark_mounted(struct fs *fs, bool remount)
{
	struct pmfs_sb_state *st = fs->d.state;
	struct timespec now;

	fs_now(&now);
	if (!remount) {
		pmio_store64(fs->d.p, &st->mount_count, st->mount_count + 1);
		pmio_store64(fs->d.p, &st->mount_time, (uint64_t)now.tv_sec);
	}
	pmio_store64(fs->d.p, &st->alloc_head, 0);
	pmio_commit64(fs->d.p, &st->clean, 0); /* the real commit */
	pmio_drain(fs->d.p); /* ORDER: not-clean durable before any change */
}

int fs_mount_pmio(struct pmio *p, const struct fs_opts *o, struct fs **out,
		  struct fs_mount_info *info, char *errbuf, size_t errlen)
{
	struct fs_mount_info mi = { 0 };
	const struct pmfs_badblocks *badtab;
	struct fs_inode *root;
	struct fs *fs;
	bool clean;
	char dummy[8];
	int err;

	if (!errbuf) {
		errbuf = dummy;
		errlen = sizeof(dummy);
	}
	/* step 1: the superblock, by fmt_super_check */
	fs = fs_new(o);
	if (!fs)
		return -ENOMEM;
	err = ilog_dev_init(&fs->d, p, errbuf, errlen);
	/* step 2: the journals (LOG(6)) */
	if (!err)
		err = recover_journals(fs, &mi, errbuf, errlen);
	/* step 3: everything else the mount reads besides the logs */
	if (!err)
		err = mount_check(fs, &mi, &badtab, errbuf, errlen);
	/* step 4: free space, saved or to rebuild */
	if (!err)
		err = load_allocator(fs, &mi, badtab, &clean);
	/* step 5: inode numbers; after a crash the rebuild from the logs */
	if (!err)
		err = load_inodes(fs, &mi, clean, errbuf, errlen);
	if (err)
		goto out_free;
	mi.was_clean = clean;
	/* step 6: mounted, not clean, before the first change */
	if (!fs->rdonly)
		mark_mounted(fs, false);
	/* step 7: the reserve for operations that free space, the root, the
	 * log GC */
	fs->reserve = 16 + 4ull * fs->d.nlanes;
	if (fs->reserve > alloc_total_blocks(fs->a) / 8)
		fs->reserve = alloc_total_blocks(fs->a) / 8;
	alloc_set_reserve(fs->a, fs->reserve);
	err = fs_iget(fs, PMFS_ROOT_INO, &root);
	if (!err) {
		if (!S_ISDIR(root->st.mode))
			err = -ENOTDIR;
		fs_iput(fs, root);
	}
	if (err) {
		snprintf(errbuf, errlen, "root directory is missing or corrupt");
		err = -EUCLEAN;
		goto out_free;
	}
	if (!fs->rdonly)
		bg_start(fs);
	mi.inodes = alloc_ino_used(fs->a);
	mi.free_blocks = alloc_free_blocks(fs->a);
	if (info)
		*info = mi;
	*out = fs;
	return 0;
out_free:
	fs_abandon(fs);
	return err;
}

int fs_mount(const char *path, const struct fs_opts *o, struct fs **out,
	     struct fs_mount_info *info, char *err, size_t errlen)
{
	struct pmio_opts po = { 0 };
	struct pmio *p;
	int r;

	po.flags = PMIO_O_EXCL;
	if (o && (o->flags & FS_O_QUIET))
		po.flags |= PMIO_O_QUIET;
	if (o && (o->flags & FS_O_RDONLY)) /* fs_remount can upgrade it */
		po.flags |= PMIO_O_RDONLY | PMIO_O_UPGRADE;
	po.min_size = PMFS_MIN_SIZE;
	r = pmio_open(path, &po, &p, err, errlen);
	if (r)
		return r;
	r = fs_mount_pmio(p, o, out, info, err, errlen);
	if (r) {
		pmio_close(p);
		return r;
	}
	(*out)->own_pmio = true;
	return 0;
}

/* Free the DRAM of a mount (media untouched). */
static void free_all(struct fs *fs)
{
	fs_icache_free_all(fs);
	alloc_destroy(fs->a);
	pthread_rwlock_destroy(&fs->big);
	pthread_rwlock_destroy(&fs->icache_lk);
	pthread_rwlock_destroy(&fs->remount_lk);
	pthread_mutex_destroy(&fs->remount_mu);
	pthread_mutex_destroy(&fs->rename_mu);
	pthread_mutex_destroy(&fs->itable_mu);
	pthread_mutex_destroy(&fs->gc_mu);
	pthread_mutex_destroy(&fs->ahead_mu);
	pthread_cond_destroy(&fs->ahead_cv);

	if (fs->own_pmio)
		pmio_close(fs->d.p);
	free(fs);
}

void fs_abandon(struct fs *fs)
{
	if (fs) {
		bg_stop(fs);
		free_all(fs);
	}
}

/*
 * The clean state (unmount, remount read-only): the allocator saved as a
 * chain, the counters, then the clean word.  0, or -errno with the
 * filesystem left not clean (the next mount rebuilds).  Nothing may change
 * the filesystem meanwhile.
 */
static int mark_clean(struct fs *fs)
{
	struct pmio *p = fs->d.p;
	struct timespec now;
	uint64_t head;
	int err;

	err = alloc_save(fs->a, p, fs->d.base, &head);
	if (err)
		return err;
	fs_now(&now);
	pmio_store64(p, &fs->d.state->alloc_head, head);
	pmio_store64(p, &fs->d.state->free_blocks, alloc_free_blocks(fs->a));
	pmio_store64(p, &fs->d.state->used_inodes, alloc_ino_used(fs->a));
	pmio_store64(p, &fs->d.state->umount_time, (uint64_t)now.tv_sec);
	pmio_flush(p, fs->d.state, sizeof(*fs->d.state));
	jnl_flush_retired(&fs->d);
	pmio_drain(p); /* ORDER: saved state durable before clean */
	pmio_commit64(p, &fs->d.state->clean, PMFS_STATE_CLEAN);
	pmio_drain(p); /* ORDER: clean durable before unmap or remount */
	return 0;
}

/* Is an unlinked inode still held by the kernel (a live orphan)? */
static bool live_orphans(struct fs *fs)
{
	bool found = false;

	pthread_rwlock_rdlock(&fs->icache_lk);
	for (size_t i = 0; i < fs->hcap && !found; i++)
		for (struct fs_inode *ip = fs->ht[i]; ip && !found;
		     ip = ip->hnext)
			found = !ip->err && !atomic_load(&ip->dead) &&
				ip->st.nlink == 0;
	pthread_rwlock_unlock(&fs->icache_lk);
	return found;
}

/* Read-only: no change from now on (the GC stopped, the changes pmfs
 * makes by itself shut out), then the clean state written unless a live
 * orphan needs the next mount's reclaim; the mapping read-only. */
static int remount_ro(struct fs *fs)
{
	bool was_writable;

	pthread_rwlock_wrlock(&fs->remount_lk);
	was_writable = !fs_writable(fs);
	__atomic_store_n(&fs->rdonly, true, __ATOMIC_RELEASE);
	bg_stop(fs); /* neither thread takes remount_lk */
	if (was_writable && !live_orphans(fs) && mark_clean(fs) == 0)
		fs->saved_head = fs->d.state->alloc_head;
	pmio_set_writable(fs->d.p, false); /* stray stores fault */
	pthread_rwlock_unlock(&fs->remount_lk);
	return 0;
}

/* Free every orphan no lookup holds: those a read-only mount after a
 * crash kept, as it could not write.  One left (no memory) is freed at
 * unmount. */
static void reclaim_unheld_orphans(struct fs *fs)
{
	struct fs_inode **v = NULL;
	size_t n = 0, cap = 0;

	pthread_rwlock_rdlock(&fs->icache_lk);
	for (size_t i = 0; i < fs->hcap; i++)
		for (struct fs_inode *ip = fs->ht[i]; ip; ip = ip->hnext)
			if (!ip->err && !atomic_load(&ip->dead) &&
			    ip->st.nlink == 0 &&
			    util_grow(&v, &cap, n, sizeof(*v), 16) == 0) {
				atomic_fetch_add(&ip->ref, 1);
				v[n++] = ip;
			}
	pthread_rwlock_unlock(&fs->icache_lk);
	for (size_t i = 0; i < n; i++) {
		struct fs_inode *ip = v[i];

		fs_ilock_w(ip);
		fs_free_orphan(fs, ip);
		fs_iput_unlock(fs, ip);
	}
	free(v);
}

/* Read-write: the mapping writable, not clean before the first change
 * (as a mount), the chain remount_ro saved given back, the GC started;
 * then orphans a read-only mount after a crash left are reclaimed. */
static int remount_rw(struct fs *fs, char *errbuf, size_t errlen)
{
	int err;

	if (__atomic_load_n(&fs->ro_err, __ATOMIC_ACQUIRE)) {
		snprintf(errbuf, errlen, "an error made the filesystem "
			 "read-only; unmount it and run fsck.pmfs");
		return -EROFS;
	}
	if (fs->badtab_damaged) {
		snprintf(errbuf, errlen, "the bad-block table is damaged; "
			 "unmount and run fsck.pmfs");
		return -EUCLEAN;
	}
	err = pmio_set_writable(fs->d.p, true);
	if (err) {
		snprintf(errbuf, errlen, "%s",
			 err == -EROFS ? "the device is open read-only (write-"
					 "protected, or no write permission)"
				       : strerror(-err));
		return err;
	}
	pthread_rwlock_wrlock(&fs->remount_lk);
	mark_mounted(fs, true);
	if (fs->saved_head)
		alloc_drop_saved(fs->a, fs->d.base, fs->saved_head);
	fs->saved_head = 0;
	__atomic_store_n(&fs->rdonly, false, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&fs->remount_lk);
	reclaim_unheld_orphans(fs);
	bg_start(fs);
	return 0;
}

int fs_remount(struct fs *fs, bool rdonly, char *errbuf, size_t errlen)
{
	char dummy[8];
	int err = 0;

	if (!errbuf) {
		errbuf = dummy;
		errlen = sizeof(dummy);
	}
	errbuf[0] = 0;
	pthread_mutex_lock(&fs->remount_mu); /* one remount at a time */
	if (rdonly != __atomic_load_n(&fs->rdonly, __ATOMIC_ACQUIRE))
		err = rdonly ? remount_ro(fs) : remount_rw(fs, errbuf, errlen);
	pthread_mutex_unlock(&fs->remount_mu);
	return err;
}

void fs_set_atime(struct fs *fs, unsigned flags)
{
	__atomic_store_n(&fs->atime_mode, flags & FS_ATIME_FLAGS,
			 __ATOMIC_RELAXED);
}

int fs_unmount(struct fs *fs)
{
	int err = 0;

	bg_stop(fs);
	pthread_rwlock_wrlock(&fs->big);
	if (fs_writable(fs))
		goto out;
	/* orphans kept alive by lookup references die now */
	for (size_t i = 0; i < fs->hcap; i++) {
		struct fs_inode *ip = fs->ht[i], *nx;

		for (; ip; ip = nx) {
			nx = ip->hnext;
			if (!ip->err && ip->st.nlink == 0)
				reclaim_orphan(fs, ip);
		}
	}
	err = mark_clean(fs);
out:
	pthread_rwlock_unlock(&fs->big);
	free_all(fs);
	return err;
}

bool fs_acl_on(const struct fs *fs)
{
	return __atomic_load_n(&fs->acl_on, __ATOMIC_RELAXED);
}

void fs_acl_off(struct fs *fs)
{
	__atomic_store_n(&fs->acl_on, false, __ATOMIC_RELAXED);
}

struct pmio *fs_pmio(struct fs *fs)
{
	return fs->d.p;
}

int fs_statfs(struct fs *fs, struct statvfs *st)
{
	uint64_t fr;

	memset(st, 0, sizeof(*st));
	fr = alloc_free_blocks(fs->a);
	st->f_bsize = PMFS_BLOCK_SIZE;
	st->f_frsize = PMFS_BLOCK_SIZE;
	st->f_blocks = alloc_total_blocks(fs->a);
	st->f_bfree = fr;
	st->f_bavail = fr > fs->reserve ? fr - fs->reserve : 0;
	st->f_files = PMFS_MAX_INODES;
	st->f_ffree = PMFS_MAX_INODES - alloc_ino_used(fs->a);
	st->f_favail = st->f_ffree;
	st->f_namemax = PMFS_NAME_MAX;
	if (__atomic_load_n(&fs->rdonly, __ATOMIC_ACQUIRE))
		st->f_flag |= ST_RDONLY;
	return 0;
}

uint64_t fs_media_errors(struct fs *fs)
{
	return atomic_load(&fs->media_errors);
}
