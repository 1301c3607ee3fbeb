/*
 * fs_file.c - data and attributes: read, write (copy-on-write overwrites,
 * in-place appends into the invisible part of the last block), setattr
 * incl. truncate, fallocate, SEEK_DATA/SEEK_HOLE and xattrs.  Every change
 * is one inode's: LOG(4), 2 fences.
 */
#include "fs/fs_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "format/fmt.h"
#include "pmemio/pmemio.h"

#define BS PMFS_BLOCK_SIZE
#define FS_FILE_MAX (1ull << 52) /* largest file offset + 1 */

static const uint8_t zero_page[PMFS_BLOCK_SIZE];

/* Pointer to the data of file block pg, or NULL for a hole/unwritten. */
static uint8_t *block_ptr(struct fs *fs, struct fs_inode *ip, uint64_t pg)
{
	struct fs_ext e;

	if (!fs_emap_find(&ip->map, pg, &e) || (e.flags & PMFS_WR_UNWRITTEN))
		return NULL;
	return ilog_ptr(&fs->d, fmt_blk_off(e.blk));
}

/* Gather up to 64 iovecs of [off, off+len) of ip (read lock held) and
 * hand them to sink; *got = bytes. */
static int read_locked(struct fs *fs, struct fs_inode *ip, uint64_t off,
		       size_t len, fs_sink_fn sink, void *arg, size_t *got)
{
	struct iovec iov[64];
	int n = 0;
	size_t total = 0;

	if (off >= ip->st.size)
		len = 0;
	else if (len > ip->st.size - off)
		len = ip->st.size - off;
	while (len > 0 && n < 64) {
		uint64_t pg = off >> PMFS_BLOCK_SHIFT;
		size_t in = off & (BS - 1), chunk = BS - in;
		uint8_t *p = block_ptr(fs, ip, pg);
		const uint8_t *src = p ? p + in : zero_page + in;

		if (chunk > len)
			chunk = len;
		if (n && (const uint8_t *)iov[n - 1].iov_base +
					 iov[n - 1].iov_len == src &&
		    p)
			iov[n - 1].iov_len += chunk;
		else {
			iov[n].iov_base = (void *)src;
			iov[n].iov_len = chunk;
			n++;
		}
		total += chunk;
		off += chunk;
		len -= chunk;
	}
	*got = total;
	return sink(arg, iov, n, total);
}

/* Before a read (read lock held): relatime/strictatime, off the hot
 * path when it says no; else the lock becomes a write lock and the atime
 * update commits before the data reaches the sink (nothing is answered
 * before its commit).  ip stays referenced and locked either way. */
static int read_atime(struct fs *fs, struct fs_inode *ip)
{
	if (!fs_atime_due(fs, ip))
		return 0;
	fs_iunlock(ip);
	fs_ilock_w(ip);
	if (atomic_load(&ip->dead)) /* freed while unlocked */
		return -ENOENT;
	if (fs_atime_due(fs, ip)) /* another reader may have done it */
		fs_touch_atime(fs, ip);
	return 0;
}

/* Reference and read-lock ino for a read of its data: not a directory,
 * atime updated first when due (read_atime).  Undo with fs_iput_unlock. */
static int read_open(struct fs *fs, uint64_t ino, struct fs_inode **out)
{
	struct fs_inode *ip;
	int err = fs_iget_locked(fs, ino, false, &ip);

	if (err)
		return err;
	err = S_ISDIR(ip->st.mode) ? -EISDIR : read_atime(fs, ip);
	if (err) {
		fs_iput_unlock(fs, ip);
		return err;
	}
	*out = ip;
	return 0;
}

int fs_read(struct fs *fs, uint64_t ino, uint64_t off, size_t len,
	    fs_sink_fn sink, void *arg)
{
	struct fs_inode *ip;
	size_t got;
	int err = read_open(fs, ino, &ip);

	if (err)
		return err;
	err = read_locked(fs, ip, off, len, sink, arg, &got);
	fs_iput_unlock(fs, ip);
	return err;
}

struct copy_sink {
	uint8_t *buf;
	size_t n;
};

/* fs_pread's sink: copy the iovecs out. */
static int copy_out(void *arg, const struct iovec *iov, int iovcnt,
		    size_t total)
{
	struct copy_sink *cs = arg;

	for (int i = 0; i < iovcnt; i++) {
		memcpy(cs->buf + cs->n, iov[i].iov_base, iov[i].iov_len);
		cs->n += iov[i].iov_len;
	}
	return 0;
}

int fs_pread(struct fs *fs, uint64_t ino, void *buf, size_t len,
	     uint64_t off, size_t *nread)
{
	struct copy_sink cs = { buf, 0 };
	struct fs_inode *ip;
	size_t got;
	int err = read_open(fs, ino, &ip);

	if (err)
		return err;
	/* 64 iovecs per gather: loop under one lock, one atime update */
	do
		err = read_locked(fs, ip, off + cs.n, len - cs.n, copy_out, &cs,
				  &got);
	while (!err && got && cs.n < len);
	if (!err)
		*nread = cs.n;
	fs_iput_unlock(fs, ip);
	return err;
}

/* Reference and write-lock ino for a change of its data: -EISDIR for a
 * directory, notreg for another file that is not a regular one.  Undo
 * with fs_iput_unlock. */
static int write_open(struct fs *fs, uint64_t ino, int notreg,
		      struct fs_inode **out)
{
	struct fs_inode *ip;
	int err = fs_iget_locked(fs, ino, true, &ip);

	if (err)
		return err;
	err = S_ISDIR(ip->st.mode) ? -EISDIR
	      : !S_ISREG(ip->st.mode) ? notreg
				      : 0;
	if (err) {
		fs_iput_unlock(fs, ip);
		return err;
	}
	*out = ip;
	return 0;
}

/* Zero the invisible bytes [size, end of its block) of the last block, in
 * place, before the size grows (flushed, no drain). */
static void zero_eof_tail(struct fs *fs, struct fs_inode *ip)
{
	size_t in = ip->st.size & (BS - 1);
	uint8_t *p;

	if (!in)
		return;
	p = block_ptr(fs, ip, ip->st.size >> PMFS_BLOCK_SHIFT);
	if (p)
		pmio_memset_nodrain(fs->d.p, p + in, 0, BS - in);
}

/* Allocated runs of one write: a growing list (no cap on fragmentation). */
struct run {
	uint64_t pg, blk, n;
};

struct runs {
	struct run *r;
	int n, cap;
};

/* Append a run (file page, block, count); 0 or -ENOMEM. */
static int runs_push(struct runs *rs, uint64_t pg, uint64_t blk, uint64_t n)
{
	if (rs->n == rs->cap) {
		int nc = rs->cap ? rs->cap * 2 : 16;
		struct run *nr = realloc(rs->r, (size_t)nc * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		rs->r = nr;
		rs->cap = nc;
	}
	rs->r[rs->n].pg = pg;
	rs->r[rs->n].blk = blk;
	rs->r[rs->n].n = n;
	rs->n++;
	return 0;
}

/* Allocate runs covering file blocks [b0, b1], appended to rs; 0 or
 * -errno (the runs this call added are freed again on failure). */
static int alloc_runs(struct fs *fs, unsigned lane, uint64_t b0, uint64_t b1,
		      struct runs *rs)
{
	int first = rs->n, err;

	for (uint64_t pg = b0; pg <= b1;) {
		uint64_t s, got;

		err = alloc_blocks(fs->a, lane, b1 - pg + 1, 0, &s, &got);
		if (err)
			goto out_free;
		err = runs_push(rs, pg, s, got);
		if (err) {
			alloc_free(fs->a, s, got);
			goto out_free;
		}
		pg += got;
	}
	return 0;
out_free:
	for (int r = first; r < rs->n; r++)
		alloc_free(fs->a, rs->r[r].blk, rs->r[r].n);
	rs->n = first;
	return err;
}

/* ip's mode after FS_SET_KILL_SUID / FS_W_KILL_SUID (fs.h). */
static uint32_t killed_mode(uint32_t mode)
{
	mode &= ~(uint32_t)S_ISUID;
	if (mode & S_IXGRP)
		mode &= ~(uint32_t)S_ISGID;
	return mode;
}

/* Write len bytes at off (ip write-locked): copy-on-write blocks, in place
 * past EOF; flags FS_W_KILL_SUID, FS_W_KEEP_TIMES (fs.h); LOG(4). */
static int do_write(struct fs *fs, struct fs_inode *ip, const uint8_t *src,
		    size_t len, uint64_t off, unsigned flags)
{
	uint64_t end = off + len, newsize = end > ip->st.size ? end : ip->st.size;
	uint64_t b0 = off >> PMFS_BLOCK_SHIFT, b1 = (end - 1) >> PMFS_BLOCK_SHIFT;
	uint64_t eob = ip->st.size >> PMFS_BLOCK_SHIFT, pg;
	struct runs rs = { NULL, 0, 0 };
	struct run *runs;
	int nr = 0, err;
	bool inplace = false;
	struct fs_op op;
	struct timespec now, mtime, ctime;
	bool kill = flags & FS_W_KILL_SUID;
	union lent_buf w;

	if (end < off || end > FS_FILE_MAX)
		return -EFBIG;
	/* the block holding EOF may be written in place past EOF */
	if (off >= ip->st.size && (ip->st.size & (BS - 1)) && eob == b0 &&
	    block_ptr(fs, ip, eob))
		inplace = true;
	fs_op_init(&op, fs, 0);
	pg = b0 + (inplace ? 1 : 0);
	if (pg <= b1 && (err = alloc_runs(fs, op.lane, pg, b1, &rs)))
		goto out_free;
	nr = rs.n;
	runs = rs.r;
	if (newsize > ip->st.size)
		zero_eof_tail(fs, ip); /* invisible bytes: in place */
	if (inplace) {
		uint8_t *p = block_ptr(fs, ip, eob);
		size_t in = off & (BS - 1), c = BS - in;

		if (c > len)
			c = len;
		pmio_memcpy_nodrain(fs->d.p, p + in, src, c);
	}
	/* fill the new blocks: old bytes below the old size, zeros, data */
	for (int r = 0; r < nr; r++) {
		for (uint64_t k = 0; k < runs[r].n; k++) {
			uint64_t bp = runs[r].pg + k, bstart = bp << PMFS_BLOCK_SHIFT;
			uint8_t *dst = ilog_ptr(&fs->d,
						fmt_blk_off(runs[r].blk + k));
			uint64_t ws = off > bstart ? off : bstart;
			uint64_t we = end < bstart + BS ? end : bstart + BS;

			if (ws > bstart || we < bstart + BS) {
				uint8_t *old = block_ptr(fs, ip, bp);
				size_t keep = 0;

				if (old && ip->st.size > bstart)
					keep = ip->st.size - bstart < BS
						       ? ip->st.size - bstart
						       : BS;
				if (keep)
					pmio_memcpy_noflush(fs->d.p, dst, old,
							    keep);
				if (keep < BS)
					pmio_memset_noflush(fs->d.p, dst + keep,
							    0, BS - keep);
				pmio_memcpy_noflush(fs->d.p, dst + (ws - bstart),
						    src + (ws - off), we - ws);
				pmio_flush(fs->d.p, dst, BS);
			} else {
				pmio_memcpy_nodrain(fs->d.p, dst,
						    src + (ws - off), BS);
			}
		}
	}
	fs_now(&now);
	mtime = flags & FS_W_KEEP_TIMES ? ip->st.mtime : now;
	ctime = flags & FS_W_KEEP_TIMES ? ip->st.ctime : now;
	if (kill && killed_mode(ip->st.mode) != ip->st.mode) {
		/* the mode change commits with the data, never after it */
		struct ilog_state st = ip->st;

		st.mode = killed_mode(st.mode);
		st.ctime = now;
		ctime = now; /* the mode changed: the write keeps that ctime */
		err = fs_op_add(&op, ip,
				lent_attr(&w, PMFS_AT_MODE | PMFS_AT_CTIME,
					  &st));
		if (err)
			goto out_free;
	}
	if (inplace) {
		struct fs_ext e;

		fs_emap_find(&ip->map, eob, &e);
		err = fs_op_add(&op, ip,
				lent_write(&w, eob, 1, 0, e.blk, newsize, &mtime,
					   &ctime));
		if (err)
			goto out_free;
	}
	for (int r = 0; r < nr; r++) {
		err = fs_op_add(&op, ip,
				lent_write(&w, runs[r].pg, (uint32_t)runs[r].n,
					   0, runs[r].blk, newsize, &mtime,
					   &ctime));
		if (err)
			goto out_free;
	}
	free(rs.r);
	return fs_op_commit(&op); /* LOG(4): 2 fences */
out_free:
	for (int r = 0; r < rs.n; r++)
		alloc_free(fs->a, rs.r[r].blk, rs.r[r].n);
	free(rs.r);
	fs_op_abort(&op);
	return err;
}

int fs_write(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino,
	     const struct iovec *iov, int iovcnt, uint64_t off,
	     unsigned flags, size_t *written)
{
	struct fs_inode *ip;
	uint8_t *flat = NULL;
	const uint8_t *src;
	size_t len = 0;
	int err;

	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	err = write_open(fs, ino, -EINVAL, &ip);
	if (err)
		return err;
	if (flags & FS_W_APPEND)
		off = ip->st.size;
	*written = 0;
	if (len == 0)
		goto out;
	if (iovcnt == 1) {
		src = iov[0].iov_base;
	} else {
		size_t k = 0;

		flat = malloc(len);
		if (!flat) {
			err = -ENOMEM;
			goto out;
		}
		for (int i = 0; i < iovcnt; i++) {
			memcpy(flat + k, iov[i].iov_base, iov[i].iov_len);
			k += iov[i].iov_len;
		}
		src = flat;
	}
	err = do_write(fs, ip, src, len, off, flags);
	if (!err)
		*written = len;
out:
	free(flat);
	fs_iput_unlock(fs, ip);
	return err;
}

int fs_pwrite(struct fs *fs, uint64_t ino, const void *buf, size_t len,
	      uint64_t off)
{
	struct iovec v = { (void *)buf, len };
	size_t w;

	return fs_write(fs, NULL, ino, &v, 1, off, 0, &w);
}

/* chmod of an inode with an access ACL (FS_O_ACL): the ACL rewritten in
 * the same commit as the mode. */
static int acl_chmod_stage(struct fs *fs, struct fs_op *op,
			   struct fs_inode *ip, uint32_t mode,
			   const struct timespec *now)
{
	struct fs_xattr *x = fs_acl_on(fs)
				     ? fs_xattr_find(ip, FS_ACL_ACCESS)
				     : NULL;
	uint8_t acl[PMFS_ACL_MAX];
	union lent_buf b;

	if (!x)
		return 0;
	if (fmt_acl_check(x->val, x->vlen, NULL, 0))
		return fs_media_error(fs, "inode %" PRIu64 ": its access ACL "
				      "is not valid", ip->ino);
	memcpy(acl, x->val, x->vlen);
	fs_acl_chmod(acl, x->vlen, mode);
	return fs_op_add(op, ip,
			 lent_xattr(&b, PMFS_LE_XATTR_SET, FS_ACL_ACCESS,
				    strlen(FS_ACL_ACCESS), acl, x->vlen, now));
}

int fs_setattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino,
	       const struct fs_setattr *sa, struct fs_attr *out)
{
	struct fs_inode *ip;
	struct ilog_state st;
	union lent_buf b;
	struct fs_op op;
	struct timespec now;
	uint32_t mask = PMFS_AT_CTIME;
	int err;

	err = fs_iget_locked(fs, ino, true, &ip);
	if (err)
		return err;
	fs_now(&now);
	st = ip->st;
	st.ctime = now;
	if (sa->valid & FS_SET_MODE) {
		st.mode = (ip->st.mode & S_IFMT) | (sa->mode & 07777);
		mask |= PMFS_AT_MODE;
	}
	if (sa->valid & FS_SET_UID) {
		st.uid = sa->uid;
		mask |= PMFS_AT_UID;
	}
	if (sa->valid & FS_SET_GID) {
		st.gid = sa->gid;
		mask |= PMFS_AT_GID;
	}
	if ((sa->valid & FS_SET_KILL_SUID) &&
	    killed_mode(st.mode) != st.mode) {
		st.mode = killed_mode(st.mode);
		mask |= PMFS_AT_MODE;
	}
	if (sa->valid & (FS_SET_ATIME | FS_SET_ATIME_NOW)) {
		st.atime = sa->valid & FS_SET_ATIME_NOW ? now : sa->atime;
		mask |= PMFS_AT_ATIME;
	}
	if (sa->valid & (FS_SET_MTIME | FS_SET_MTIME_NOW)) {
		st.mtime = sa->valid & FS_SET_MTIME_NOW ? now : sa->mtime;
		mask |= PMFS_AT_MTIME;
	}
	if (sa->valid & FS_SET_CTIME)
		st.ctime = sa->ctime;
	if (sa->valid & FS_SET_SIZE) {
		if (S_ISDIR(ip->st.mode)) {
			err = -EISDIR;
			goto out;
		}
		if (!S_ISREG(ip->st.mode)) {
			err = -EINVAL;
			goto out;
		}
		if (sa->size > FS_FILE_MAX) {
			err = -EFBIG;
			goto out;
		}
		st.size = sa->size;
		mask |= PMFS_AT_SIZE;
		if (!(sa->valid & (FS_SET_MTIME | FS_SET_MTIME_NOW))) {
			st.mtime = now;
			mask |= PMFS_AT_MTIME;
		}
	}
	/* shrinking frees space: may use the reserve */
	fs_op_init(&op, fs,
		   (mask & PMFS_AT_SIZE) && sa->size <= ip->st.size ? ALLOC_F_RESERVE
								   : 0);
	if ((mask & PMFS_AT_SIZE) && sa->size > ip->st.size)
		zero_eof_tail(fs, ip);
	err = fs_op_add(&op, ip, lent_attr(&b, mask, &st));
	if (!err && (sa->valid & FS_SET_MODE))
		err = acl_chmod_stage(fs, &op, ip, st.mode, &now);
	if (err) {
		fs_op_abort(&op);
		goto out;
	}
	err = fs_op_commit(&op); /* LOG(4): 2 fences */
	if (!err && out)
		fs_fill_attr(ip, out);
out:
	fs_iput_unlock(fs, ip);
	return err;
}

/* Copy-on-write of one partial block with [from, to) zeroed: stages the
 * WRITE entry; *blk receives the new block (freed by the caller on abort). */
static int cow_zero(struct fs *fs, struct fs_op *op, struct fs_inode *ip,
		    uint64_t pg, size_t from, size_t to, uint64_t newsize,
		    const struct timespec *now, uint64_t *blk)
{
	uint8_t *old = block_ptr(fs, ip, pg), *dst;
	union lent_buf w;
	uint64_t bstart = pg << PMFS_BLOCK_SHIFT;
	size_t keep = 0;
	int err;

	*blk = 0;
	if (!old || bstart >= ip->st.size)
		return 0; /* reads as zeros already */
	err = alloc_block(fs->a, op->lane, 0, blk);
	if (err)
		return err;
	dst = ilog_ptr(&fs->d, fmt_blk_off(*blk));
	keep = ip->st.size - bstart < BS ? ip->st.size - bstart : BS;
	pmio_memcpy_noflush(fs->d.p, dst, old, keep);
	if (keep < BS)
		pmio_memset_noflush(fs->d.p, dst + keep, 0, BS - keep);
	pmio_memset_noflush(fs->d.p, dst + from, 0, to - from);
	pmio_flush(fs->d.p, dst, BS);
	return fs_op_add(op, ip,
			 lent_write(&w, pg, 1, 0, *blk, newsize, now, now));
}

/* Stage the runs rs as fallocated (unwritten: reads as zeros) extents. */
static int add_unwritten(struct fs_op *op, struct fs_inode *ip,
			 const struct runs *rs, uint64_t newsize,
			 const struct timespec *now)
{
	union lent_buf w;
	int err = 0;

	for (int r = 0; r < rs->n && !err; r++)
		err = fs_op_add(op, ip,
				lent_write(&w, rs->r[r].pg, (uint32_t)rs->r[r].n,
					   PMFS_WR_UNWRITTEN, rs->r[r].blk,
					   newsize, now, now));
	return err;
}

int fs_fallocate(struct fs *fs, uint64_t ino, int mode, uint64_t off,
		 uint64_t len)
{
	int kinds = mode & ~FALLOC_FL_KEEP_SIZE;
	bool keep = mode & FALLOC_FL_KEEP_SIZE;
	struct fs_inode *ip;
	struct fs_op op;
	struct timespec now;
	uint64_t end = off + len, newsize, b0, b1, eblk[2] = { 0, 0 };
	struct runs rs = { NULL, 0, 0 };
	int err;

	if (kinds != 0 && kinds != FALLOC_FL_PUNCH_HOLE &&
	    kinds != FALLOC_FL_ZERO_RANGE)
		return -EOPNOTSUPP;
	if (kinds == FALLOC_FL_PUNCH_HOLE && !keep)
		return -EOPNOTSUPP;
	if (len == 0 || end < off)
		return -EINVAL;
	if (end > FS_FILE_MAX)
		return -EFBIG;
	err = write_open(fs, ino, -ENODEV, &ip);
	if (err)
		return err;
	newsize = !keep && end > ip->st.size ? end : ip->st.size;
	fs_now(&now);
	fs_op_init(&op, fs, kinds == FALLOC_FL_PUNCH_HOLE ? ALLOC_F_RESERVE : 0);
	if (newsize > ip->st.size)
		zero_eof_tail(fs, ip);
	/* whole blocks inside [off, end) */
	b0 = (off + BS - 1) >> PMFS_BLOCK_SHIFT;
	b1 = end >> PMFS_BLOCK_SHIFT; /* exclusive */
	if (kinds == 0) {
		/* allocate what is unmapped, as unwritten (reads as zeros) */
		uint64_t p0 = off >> PMFS_BLOCK_SHIFT;
		uint64_t p1 = (end + BS - 1) >> PMFS_BLOCK_SHIFT;

		for (uint64_t pg = p0; pg < p1;) {
			struct fs_ext e;
			uint64_t stop = p1;

			if (fs_emap_find(&ip->map, pg, &e)) {
				/* mapped: skip its whole run */
				fs_emap_next(&ip->map, pg, &e);
				pg = e.pgoff + e.n;
				continue;
			}
			if (fs_emap_next(&ip->map, pg, &e) && e.pgoff < p1)
				stop = e.pgoff;
			err = alloc_runs(fs, op.lane, pg, stop - 1, &rs);
			if (err)
				goto out_abort;
			pg = stop;
		}
		err = add_unwritten(&op, ip, &rs, newsize, &now);
		if (err)
			goto out_abort;
	} else {
		uint64_t pa = off >> PMFS_BLOCK_SHIFT;
		uint64_t pz = (end - 1) >> PMFS_BLOCK_SHIFT;

		/* partial edge blocks: copy-on-write with the range zeroed */
		if (off & (BS - 1) || (pa == pz && end & (BS - 1))) {
			size_t to = pa == pz && (end & (BS - 1)) ? end & (BS - 1)
								 : BS;

			err = cow_zero(fs, &op, ip, pa, off & (BS - 1), to,
				       newsize, &now, &eblk[0]);
			if (err)
				goto out_abort;
		}
		if ((end & (BS - 1)) && pz != pa) {
			err = cow_zero(fs, &op, ip, pz, 0, end & (BS - 1),
				       newsize, &now, &eblk[1]);
			if (err)
				goto out_abort;
		}
		if (b1 > b0 && kinds == FALLOC_FL_PUNCH_HOLE) {
			union lent_buf w;

			err = fs_op_add(&op, ip,
					lent_write(&w, b0, (uint32_t)(b1 - b0),
						   PMFS_WR_HOLE, 0, newsize,
						   &now, &now));
			if (err)
				goto out_abort;
		} else if (b1 > b0) {
			err = alloc_runs(fs, op.lane, b0, b1 - 1, &rs);
			if (!err)
				err = add_unwritten(&op, ip, &rs, newsize, &now);
			if (err)
				goto out_abort;
		}
	}
	if (op.ne == 0 && newsize == ip->st.size)
		goto out; /* nothing to change */
	if (op.ne == 0 || newsize != ip->st.size) {
		struct ilog_state st = ip->st;
		union lent_buf b;

		st.size = newsize;
		st.ctime = now;
		/* size only grows here: an ATTR with SIZE drops blocks past
		 * it, so it goes first */
		if (op.ne == 0) {
			err = fs_op_add(&op, ip,
					lent_attr(&b, PMFS_AT_SIZE | PMFS_AT_CTIME,
						  &st));
			if (err)
				goto out_abort;
		}
	}
	err = fs_op_commit(&op); /* LOG(4): 2 fences */
	goto out;
out_abort:
	for (int r = 0; r < rs.n; r++)
		alloc_free(fs->a, rs.r[r].blk, rs.r[r].n);
	for (int k = 0; k < 2; k++)
		if (eblk[k])
			alloc_free(fs->a, eblk[k], 1);
	fs_op_abort(&op);
out:
	free(rs.r);
	fs_iput_unlock(fs, ip);
	return err;
}

int fs_lseek(struct fs *fs, uint64_t ino, uint64_t off, int whence,
	     uint64_t *result)
{
	struct fs_inode *ip;
	int err;

	err = fs_iget_locked(fs, ino, false, &ip);
	if (err)
		return err;
	if (off >= ip->st.size) {
		err = -ENXIO;
		goto out;
	}
	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		err = -EINVAL;
		goto out;
	}
	for (uint64_t pg = off >> PMFS_BLOCK_SHIFT;; pg++) {
		uint64_t at = pg << PMFS_BLOCK_SHIFT;
		bool data = block_ptr(fs, ip, pg) != NULL;

		if (at < off)
			at = off;
		if (at >= ip->st.size) {
			if (whence == SEEK_DATA)
				err = -ENXIO;
			else
				*result = ip->st.size;
			break;
		}
		if (data == (whence == SEEK_DATA)) {
			*result = at;
			break;
		}
		if (!data && whence == SEEK_DATA) {
			/* skip to the next extent quickly */
			struct fs_ext e;

			if (!fs_emap_next(&ip->map, pg + 1, &e)) {
				err = -ENXIO;
				break;
			}
			pg = e.pgoff - 1;
		}
	}
out:
	fs_iput_unlock(fs, ip);
	return err;
}

/* ---- xattrs ----------------------------------------------------------- */

struct fs_xattr *fs_xattr_find(struct fs_inode *ip, const char *name)
{
	size_t n = strlen(name);

	for (struct fs_xattr *x = ip->xattrs; x; x = x->next)
		if (x->nlen == n && memcmp(x->name, name, n) == 0)
			return x;
	return NULL;
}

uint64_t fs_xattr_blocks(const struct fs_inode *ip)
{
	uint64_t n = 0;

	for (const struct fs_xattr *x = ip->xattrs; x; x = x->next)
		if (x->blk)
			n += fmt_xattr_blocks(x->vlen);
	return n;
}

/*
 * Stage the setting of a plain xattr: inline in its entry, or past
 * PMFS_XATTR_INLINE_MAX in fresh data blocks (*blk, *nblk: the caller
 * frees them if the operation is not committed) named by an XATTR_BLK.
 */
static int xattr_stage(struct fs_op *op, struct fs_inode *ip,
		       const char *name, size_t nl, const void *value,
		       size_t size, const struct timespec *now, uint64_t *blk,
		       uint32_t *nblk)
{
	struct fs *fs = op->fs;
	union lent_buf b;
	uint8_t *dst;
	int err;

	if (size <= PMFS_XATTR_INLINE_MAX)
		return fs_op_add(op, ip,
				 lent_xattr(&b, PMFS_LE_XATTR_SET, name, nl,
					    value, size, now));
	*nblk = fmt_xattr_blocks((uint32_t)size);
	err = alloc_contig(fs->a, op->lane, *nblk, 0, blk);
	if (err) {
		*blk = 0;
		return err;
	}
	/* the value, and the zeros after it in its last block, flushed; the
	 * commit's first fence orders them before the tail store that makes
	 * the XATTR_BLK naming them real (LOG(4)) */
	dst = ilog_ptr(&fs->d, fmt_blk_off(*blk));
	pmio_memcpy_nodrain(fs->d.p, dst, value, size);
	pmio_memset_nodrain(fs->d.p, dst + size, 0,
			    fmt_blk_off(*nblk) - size);
	return fs_op_add(op, ip,
			 lent_xattr_blk(&b, name, nl, (uint32_t)size, *blk,
					now));
}

/*
 * Stage the setting of an ACL (FS_O_ACL): a default ACL only on a
 * directory; an access ACL sets the mode's rwx bits in the same commit
 * (ATTR before XATTR) and is not stored (an old one removed) when the
 * mode says it all.  0, -EINVAL (not a valid ACL), -EACCES or -errno.
 */
static int acl_stage(struct fs_op *op, struct fs_inode *ip, const char *name,
		     const void *value, size_t size, const struct timespec *now)
{
	struct ilog_state st = ip->st;
	size_t nl = strlen(name);
	union lent_buf b;
	bool equiv;
	int err = size > PMFS_ACL_MAX ? -E2BIG
				       : fmt_acl_check(value, size, NULL, 0);

	if (err)
		return err;
	if (fs_acl_name(name) == FS_ACL_T_DEFAULT) {
		if (!S_ISDIR(ip->st.mode))
			return -EACCES;
		return fs_op_add(op, ip,
				 lent_xattr(&b, PMFS_LE_XATTR_SET, name, nl,
					    value, size, now));
	}
	equiv = fs_acl_to_mode(value, size, &st.mode);
	st.ctime = *now;
	err = fs_op_add(op, ip,
			lent_attr(&b, PMFS_AT_MODE | PMFS_AT_CTIME, &st));
	if (err || (equiv && !fs_xattr_find(ip, name)))
		return err;
	return fs_op_add(op, ip,
			 lent_xattr(&b,
				    equiv ? PMFS_LE_XATTR_DEL : PMFS_LE_XATTR_SET,
				    name, nl, value, size, now));
}

/* Set or remove an xattr: one XATTR entry (a large value's blocks written
 * first), LOG(4). */
static int xattr_change(struct fs *fs, uint64_t ino, const char *name,
			const void *value, size_t size, int flags, bool del)
{
	struct fs_inode *ip;
	struct fs_op op;
	struct timespec now;
	size_t nl = strlen(name);
	union lent_buf b;
	uint64_t blk = 0;
	uint32_t nblk = 0;
	int err;

	if (nl == 0)
		return -EINVAL;
	if (nl > PMFS_XATTR_NAME_MAX)
		return -ERANGE;
	if (size > PMFS_XATTR_VALUE_MAX ||
	    (size > PMFS_XATTR_INLINE_MAX &&
	     !(fs->d.incompat & PMFS_FEATURE_INCOMPAT_LARGE_XATTR)))
		return -E2BIG;
	err = fs_iget_locked(fs, ino, true, &ip);
	if (err)
		return err;
	if (del && !fs_xattr_find(ip, name)) {
		err = -ENODATA;
		goto out;
	}
	if (!del && (flags & XATTR_CREATE) && fs_xattr_find(ip, name)) {
		err = -EEXIST;
		goto out;
	}
	if (!del && (flags & XATTR_REPLACE) && !fs_xattr_find(ip, name)) {
		err = -ENODATA;
		goto out;
	}
	fs_now(&now);
	fs_op_init(&op, fs, del ? ALLOC_F_RESERVE : 0);
	if (fs_acl_on(fs) && !del && fs_acl_name(name))
		err = acl_stage(&op, ip, name, value, size, &now);
	else if (del)
		err = fs_op_add(&op, ip,
				lent_xattr(&b, PMFS_LE_XATTR_DEL, name, nl,
					   NULL, 0, &now));
	else
		err = xattr_stage(&op, ip, name, nl, value, size, &now, &blk,
				  &nblk);
	if (err) {
		fs_op_abort(&op);
		if (blk)
			alloc_free(fs->a, blk, nblk);
		goto out;
	}
	err = fs_op_commit(&op); /* LOG(4): 2 fences */
	if (err && blk)
		alloc_free(fs->a, blk, nblk); /* refused before the commit */
out:
	fs_iput_unlock(fs, ip);
	return err;
}

int fs_setxattr(struct fs *fs, uint64_t ino, const char *name,
		const void *value, size_t size, int flags)
{
	return xattr_change(fs, ino, name, value, size, flags, false);
}

int fs_removexattr(struct fs *fs, uint64_t ino, const char *name)
{
	return xattr_change(fs, ino, name, NULL, 0, 0, true);
}

int fs_getxattr(struct fs *fs, uint64_t ino, const char *name, void *buf,
		size_t size, size_t *len)
{
	struct fs_inode *ip;
	struct fs_xattr *x;
	int err;

	err = fs_iget_locked(fs, ino, false, &ip);
	if (err)
		return err;
	x = fs_xattr_find(ip, name);
	if (!x) {
		err = -ENODATA;
		goto out;
	}
	/* an ACL the kernel would refuse is damage */
	if (fs_acl_on(fs) && fs_acl_name(name) &&
	    fmt_acl_check(x->val, x->vlen, NULL, 0)) {
		err = fs_media_error(fs, "inode %" PRIu64 ": its %s is not a "
				     "valid ACL", ino, name);
		goto out;
	}
	*len = x->vlen;
	if (size == 0)
		goto out;
	if (size < x->vlen) {
		err = -ERANGE;
		goto out;
	}
	memcpy(buf, x->val, x->vlen);
out:
	fs_iput_unlock(fs, ip);
	return err;
}

int fs_listxattr(struct fs *fs, uint64_t ino, char *buf, size_t size,
		 size_t *len)
{
	struct fs_inode *ip;
	size_t need = 0;
	int err;

	err = fs_iget_locked(fs, ino, false, &ip);
	if (err)
		return err;
	for (struct fs_xattr *x = ip->xattrs; x; x = x->next)
		need += x->nlen + 1u;
	*len = need;
	if (size == 0)
		goto out;
	if (size < need) {
		err = -ERANGE;
		goto out;
	}
	for (struct fs_xattr *x = ip->xattrs; x; x = x->next) {
		memcpy(buf, x->name, x->nlen + 1u);
		buf += x->nlen + 1u;
	}
out:
	fs_iput_unlock(fs, ip);
	return err;
}
