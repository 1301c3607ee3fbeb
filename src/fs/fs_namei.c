/*
 * fs_namei.c - names: lookup, getattr, create (mknod, mkdir, symlink),
 * readlink, unlink, rmdir, link, rename (all forms) and readdir.  Every
 * change is staged with fs_op_* and committed through the journal
 * (LOG(5), 3 fences).  Locking (fs_int.h): names are resolved under a
 * directory's read lock, the inodes involved are then write-locked in
 * inode order (fs_lockset) and the names re-checked; if anything moved
 * meanwhile the call starts over.  Renames across directories hold the
 * rename mutex first, so the ancestor check sees a stable tree.
 */
#include "fs/fs_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/fmt.h"
#include "pmemio/pmemio.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif

/* A name a new entry may have: 0, -ENOENT (empty), -ENAMETOOLONG or
 * -EINVAL ('/'). */
static int check_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return -ENOENT;
	if (n > PMFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (strchr(name, '/'))
		return -EINVAL;
	return 0;
}

/* The DT_* type of a mode. */
static unsigned dtype_of(uint32_t mode)
{
	return (mode & S_IFMT) >> 12;
}

/* Directory ino, referenced (not locked). */
static int get_dir(struct fs *fs, uint64_t ino, struct fs_inode **out)
{
	int err = fs_iget(fs, ino, out);

	if (err)
		return err;
	if (!S_ISDIR((*out)->st.mode)) { /* the type never changes */
		fs_iput(fs, *out);
		return -ENOTDIR;
	}
	return 0;
}

/* What a directory entry names: its target as the entry recorded it. */
struct target {
	uint64_t ino; /* 0: no such name */
	uint32_t gen;
	uint8_t ftype;
};

/* Resolve name in dp under a short read lock ("." and ".." too). */
static void peek_name(struct fs_inode *dp, const char *name, size_t n,
		      struct target *t)
{
	struct fs_dent *de;

	memset(t, 0, sizeof(*t));
	fs_ilock_r(dp);
	if (n == 1 && name[0] == '.') {
		t->ino = dp->ino;
		t->gen = dp->gen;
		t->ftype = DT_DIR;
	} else if (n == 2 && name[0] == '.' && name[1] == '.') {
		t->ino = dp->st.parent ? dp->st.parent : dp->ino;
	} else if ((de = fs_dir_find(dp->dir, name, n)) != NULL) {
		t->ino = de->ino;
		t->gen = de->gen;
		t->ftype = de->ftype;
	}
	fs_iunlock(dp);
}

/* After locking: does name in dp still name ino (0: absent)? */
static bool name_is(struct fs_inode *dp, const char *name, size_t n,
		    uint64_t ino)
{
	struct fs_dent *de = fs_dir_find(dp->dir, name, n);

	return de ? de->ino == ino : ino == 0;
}

/*
 * Reference the inode that name in dp named when peek_name read *t.  If
 * it is not that inode (freed, or its slot reused since: generation or
 * type differ) and the name has changed meanwhile: -EAGAIN (the caller
 * resolves the name again); if the name still says so, the entry is
 * damaged: -EIO, reported (fsck.pmfs removes such an entry).  ".." has no
 * recorded generation: only its inode must be a directory.
 */
static int get_named(struct fs *fs, struct fs_inode *dp, const char *name,
		     size_t n, const struct target *t, struct fs_inode **out)
{
	bool dotdot = n == 2 && name[0] == '.' && name[1] == '.';
	struct fs_inode *ip = NULL;
	struct target now;
	int err = fs_iget(fs, t->ino, &ip);

	if (err && err != -ENOENT)
		return err;
	if (!err && (dotdot ? S_ISDIR(ip->st.mode)
			    : ip->gen == t->gen &&
				      dtype_of(ip->st.mode) == t->ftype)) {
		*out = ip;
		return 0;
	}
	if (ip)
		fs_iput(fs, ip);
	peek_name(dp, name, n, &now);
	if (now.ino != t->ino || now.gen != t->gen)
		return -EAGAIN;
	return fs_media_error(fs,
			      "directory %" PRIu64 ": entry '%.*s' names inode "
			      "%" PRIu64 ", which %s",
			      dp->ino, (int)n, name, t->ino,
			      !ip ? "is not in use"
				  : dotdot ? "is not a directory"
					   : "is another file (generation or "
					     "type differ)");
}

int fs_lookup(struct fs *fs, uint64_t parent, const char *name,
	      struct fs_attr *out)
{
	struct fs_inode *dp, *ip;
	size_t n = strlen(name);
	struct target t;
	int err;

	if (n > PMFS_NAME_MAX)
		return -ENAMETOOLONG;
	err = get_dir(fs, parent, &dp);
	if (err)
		return err;
again:
	/* the directory's read lock only to resolve the name: never hold
	 * two inode locks as a reader (lock order 2) */
	peek_name(dp, name, n, &t);
	if (!t.ino) {
		fs_iput(fs, dp);
		return -ENOENT;
	}
	err = get_named(fs, dp, name, n, &t, &ip);
	if (err == -EAGAIN)
		goto again;
	fs_iput(fs, dp);
	if (err)
		return err;
	fs_ilock_r(ip);
	if (atomic_load(&ip->dead)) { /* freed since the name was read */
		fs_iput_unlock(fs, ip);
		return -ENOENT;
	}
	if (fs->o.flags & FS_O_REFCOUNT) /* read lock: atomic */
		__atomic_fetch_add(&ip->nlookup, 1, __ATOMIC_RELAXED);
	fs_fill_attr(ip, out);
	fs_iput_unlock(fs, ip);
	return 0;
}

int fs_lookup_ino(struct fs *fs, uint64_t ino, struct fs_attr *out)
{
	struct fs_inode *ip;
	int err = fs_iget(fs, ino, &ip);

	if (err)
		return err == -ENOENT ? -ESTALE : err;
	fs_ilock_r(ip);
	if (atomic_load(&ip->dead) || ip->st.nlink == 0) {
		fs_iput_unlock(fs, ip);
		return -ESTALE;
	}
	if (fs->o.flags & FS_O_REFCOUNT) /* read lock: atomic */
		__atomic_fetch_add(&ip->nlookup, 1, __ATOMIC_RELAXED);
	fs_fill_attr(ip, out);
	fs_iput_unlock(fs, ip);
	return 0;
}

void fs_forget(struct fs *fs, uint64_t ino, uint64_t nlookup)
{
	struct fs_inode *ip;

	if (fs_iget(fs, ino, &ip) != 0)
		return;
	fs_ilock_w(ip);
	if (!atomic_load(&ip->dead)) {
		ip->nlookup = ip->nlookup > nlookup ? ip->nlookup - nlookup : 0;
		fs_free_orphan(fs, ip);
	}
	fs_iput_unlock(fs, ip);
}

int fs_getattr(struct fs *fs, uint64_t ino, struct fs_attr *out)
{
	struct fs_inode *ip;
	int err;

	err = fs_iget_locked(fs, ino, false, &ip);
	if (err)
		return err;
	fs_fill_attr(ip, out);
	fs_iput_unlock(fs, ip);
	return 0;
}

/* What a new inode takes of its directory's default ACL (FS_O_ACL). */
struct new_acl {
	bool access;  /* an access ACL to store: val */
	bool dflt;    /* a directory: the default ACL to store too */
	uint16_t len; /* of val and of the default ACL */
	uint8_t val[PMFS_ACL_MAX];
};

/*
 * FS_O_ACL: with a default ACL on dp (write-locked), *mode and the access
 * ACL reduce each other and a directory keeps the default ACL; without
 * one, the umask applies.  Symlinks take neither.  0 or -EIO (dp's
 * default ACL is damaged).
 */
static int acl_inherit(struct fs *fs, const struct fs_ctx *ctx,
		       struct fs_inode *dp, uint32_t *mode, struct new_acl *a)
{
	struct fs_xattr *x;

	a->access = a->dflt = false;
	if (!fs_acl_on(fs) || S_ISLNK(*mode))
		return 0;
	x = fs_xattr_find(dp, FS_ACL_DEFAULT);
	if (!x) {
		*mode &= ~(ctx ? ctx->umask : 0);
		return 0;
	}
	if (fmt_acl_check(x->val, x->vlen, NULL, 0))
		return fs_media_error(fs, "directory %" PRIu64 ": its default "
				      "ACL is not valid", dp->ino);
	a->len = x->vlen;
	memcpy(a->val, x->val, x->vlen);
	a->access = !fs_acl_create_masq(a->val, a->len, mode);
	a->dflt = S_ISDIR(*mode);
	return 0;
}

/* Stage the ACLs acl_inherit gave a new inode, after its first ATTR. */
static int acl_stage_new(struct fs_op *op, struct fs_inode *ip,
			 struct fs_inode *dp, const struct new_acl *a,
			 const struct timespec *now)
{
	union lent_buf b;
	int err = 0;

	if (a->access)
		err = fs_op_add(op, ip,
				lent_xattr(&b, PMFS_LE_XATTR_SET, FS_ACL_ACCESS,
					   strlen(FS_ACL_ACCESS), a->val,
					   a->len, now));
	if (!err && a->dflt) {
		struct fs_xattr *x = fs_xattr_find(dp, FS_ACL_DEFAULT);

		err = fs_op_add(op, ip,
				lent_xattr(&b, PMFS_LE_XATTR_SET,
					   FS_ACL_DEFAULT,
					   strlen(FS_ACL_DEFAULT), x->val,
					   x->vlen, now));
	}
	return err;
}

/* Common create: new inode of `mode` named `name` in parent. */
static int do_create(struct fs *fs, const struct fs_ctx *ctx,
		     uint64_t parent, const char *name, uint32_t mode,
		     uint64_t rdev, const char *target, struct fs_attr *out)
{
	struct fs_inode *dp, *ip;
	struct fs_op op;
	union lent_buf b;
	struct timespec now;
	struct new_acl acl;
	size_t n = strlen(name);
	uint64_t linkblk = 0;
	int err;

	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EEXIST;
	err = check_name(name);
	if (err)
		return err;
	err = fs_writable(fs);
	if (!err)
		err = get_dir(fs, parent, &dp);
	if (err)
		return err;
	fs_ilock_w(dp); /* the new inode is unreachable: only dp to order */
	if ((err = fs_writable(fs)))
		goto out;
	if (dp->st.nlink == 0 || atomic_load(&dp->dead)) {
		err = -ENOENT;
		goto out;
	}
	if (fs_dir_find(dp->dir, name, n)) {
		err = -EEXIST;
		goto out;
	}
	err = acl_inherit(fs, ctx, dp, &mode, &acl);
	if (err)
		goto out;
	fs_op_init(&op, fs, 0);
	err = fs_op_new_inode(&op, &ip);
	if (err)
		goto out;
	fs_now(&now);
	ip->st.mode = mode;
	ip->st.uid = ctx ? ctx->uid : 0;
	ip->st.gid = ctx ? ctx->gid : 0;
	if ((dp->st.mode & S_ISGID)) {
		ip->st.gid = dp->st.gid;
		if (S_ISDIR(mode))
			ip->st.mode |= S_ISGID;
	}
	ip->st.nlink = S_ISDIR(mode) ? 2 : 1;
	ip->st.rdev = rdev;
	ip->st.parent = S_ISDIR(mode) ? parent : 0;
	ip->st.size = target ? strlen(target) : 0;
	ip->st.atime = ip->st.mtime = ip->st.ctime = ip->st.btime = now;
	err = fs_op_add(&op, ip, lent_attr(&b, PMFS_AT_ALL, &ip->st));
	if (!err)
		err = acl_stage_new(&op, ip, dp, &acl, &now);
	if (err)
		goto out_abort;
	if (target) {
		size_t tl = strlen(target);

		if (tl > PMFS_SYMLINK_INLINE_MAX) {
			err = alloc_block(fs->a, op.lane, 0, &linkblk);
			if (err)
				goto out_abort;
			pmio_memcpy_nodrain(fs->d.p,
					    ilog_ptr(&fs->d,
						     fmt_blk_off(linkblk)),
					    target, tl);
		}
		err = fs_op_add(&op, ip,
				lent_symlink(&b, target, (uint32_t)tl, linkblk));
		if (err)
			goto out_abort;
	}
	err = fs_op_add(&op, dp,
			lent_dentry(&b, PMFS_LE_DENTRY_ADD, ip->ino, ip->gen,
				    dp->st.maxcookie + 1, dtype_of(mode), name,
				    n, dp->st.nlink + (S_ISDIR(mode) ? 1 : 0),
				    &now));
	if (err)
		goto out_abort;
	err = fs_op_commit(&op);
	if (err)
		goto out;
	if (fs->o.flags & FS_O_REFCOUNT)
		ip->nlookup++;
	if (out)
		fs_fill_attr(ip, out);
	fs_iput_unlock(fs, ip);
	goto out;
out_abort:
	if (linkblk)
		alloc_free(fs->a, linkblk, 1);
	fs_op_abort(&op);
out:
	fs_iput_unlock(fs, dp);
	return err;
}

int fs_mknod(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent,
	     const char *name, uint32_t mode, uint64_t rdev,
	     struct fs_attr *out)
{
	uint32_t t = mode & S_IFMT;

	if (t == 0)
		mode |= S_IFREG;
	else if (t != S_IFREG && t != S_IFIFO && t != S_IFSOCK &&
		 t != S_IFCHR && t != S_IFBLK)
		return -EINVAL;
	return do_create(fs, ctx, parent, name, mode, rdev, NULL, out);
}

int fs_mkdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent,
	     const char *name, uint32_t mode, struct fs_attr *out)
{
	return do_create(fs, ctx, parent, name, S_IFDIR | (mode & 07777), 0,
			 NULL, out);
}

int fs_symlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent,
	       const char *name, const char *target, struct fs_attr *out)
{
	size_t tl = strlen(target);

	if (tl == 0)
		return -ENOENT;
	if (tl > PMFS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	return do_create(fs, ctx, parent, name, S_IFLNK | 0777, 0, target,
			 out);
}

int fs_readlink(struct fs *fs, uint64_t ino, char *buf, size_t bufsz,
		size_t *len)
{
	struct fs_inode *ip;
	int err;

	err = fs_iget_locked(fs, ino, false, &ip);
	if (err)
		return err;
	if (!S_ISLNK(ip->st.mode) || !ip->link) {
		err = -EINVAL;
		goto out;
	}
	*len = ip->linklen < bufsz ? ip->linklen : bufsz;
	memcpy(buf, ip->link, *len);
out:
	fs_iput_unlock(fs, ip);
	return err;
}

/* Stage "ip loses one link": ATTR nlink-1, or free it (tail -> 0). */
static int drop_link(struct fs_op *op, struct fs_inode *ip, uint32_t by,
		     const struct timespec *now)
{
	struct fs *fs = op->fs;
	uint32_t nl = ip->st.nlink > by ? ip->st.nlink - by : 0;
	struct ilog_state st = ip->st;
	union lent_buf b;

	if (nl == 0 && !((fs->o.flags & FS_O_REFCOUNT) && ip->nlookup)) {
		fs_op_free_inode(op, ip);
		return 0;
	}
	st.nlink = nl;
	st.ctime = *now;
	return fs_op_add(op, ip,
			 lent_attr(&b, PMFS_AT_NLINK | PMFS_AT_CTIME, &st));
}

/* unlink or rmdir of name in parent: one journaled op (LOG(5)). */
static int do_remove(struct fs *fs, uint64_t parent, const char *name,
		     bool dir)
{
	struct fs_inode *dp, *ip;
	struct fs_lockset ls = { .n = 0 };
	struct fs_dent *de;
	struct fs_op op;
	union lent_buf b;
	struct timespec now;
	size_t n = strlen(name);
	struct target t;
	uint64_t cino;
	int err;

	if (n > PMFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (strcmp(name, ".") == 0)
		return dir ? -EINVAL : -EISDIR;
	if (strcmp(name, "..") == 0)
		return dir ? -ENOTEMPTY : -EISDIR;
again:
	err = fs_writable(fs);
	if (!err)
		err = get_dir(fs, parent, &dp);
	if (err)
		return err;
	peek_name(dp, name, n, &t);
	cino = t.ino;
	if (!cino) {
		fs_iput(fs, dp);
		return -ENOENT;
	}
	err = get_named(fs, dp, name, n, &t, &ip);
	if (err) {
		fs_iput(fs, dp);
		if (err == -EAGAIN)
			goto again;
		return err;
	}
	fs_ls_add(fs, &ls, dp);
	fs_ls_add(fs, &ls, ip);
	fs_ls_lock(&ls);
	/* re-validate: the name may have moved while nothing was locked */
	if (atomic_load(&dp->dead) || atomic_load(&ip->dead) ||
	    !name_is(dp, name, n, cino)) {
		fs_ls_release(fs, &ls, true);
		goto again;
	}
	if ((err = fs_writable(fs)))
		goto out;
	de = fs_dir_find(dp->dir, name, n);
	if (dir && !S_ISDIR(ip->st.mode)) {
		err = -ENOTDIR;
		goto out;
	}
	if (!dir && S_ISDIR(ip->st.mode)) {
		err = -EISDIR;
		goto out;
	}
	if (dir && fs_dir_count(ip)) {
		err = -ENOTEMPTY;
		goto out;
	}
	fs_op_init(&op, fs, ALLOC_F_RESERVE);
	fs_now(&now);
	err = fs_op_add(&op, dp,
			lent_dentry(&b, PMFS_LE_DENTRY_DEL, ip->ino, ip->gen,
				    de->cookie, de->ftype, name, n,
				    dp->st.nlink - (dir ? 1 : 0), &now));
	if (!err)
		err = drop_link(&op, ip, dir ? 2 : 1, &now);
	if (err) {
		fs_op_abort(&op);
		goto out;
	}
	err = fs_op_commit(&op);
out:
	fs_ls_release(fs, &ls, true);
	return err;
}

int fs_unlink(struct fs *fs, uint64_t parent, const char *name)
{
	return do_remove(fs, parent, name, false);
}

int fs_rmdir(struct fs *fs, uint64_t parent, const char *name)
{
	return do_remove(fs, parent, name, true);
}

int fs_link(struct fs *fs, uint64_t ino, uint64_t newparent,
	    const char *newname, struct fs_attr *out)
{
	struct fs_inode *dp, *ip;
	struct fs_op op;
	struct ilog_state st;
	union lent_buf b;
	struct timespec now;
	size_t n = strlen(newname);
	int err;

	struct fs_lockset ls = { .n = 0 };

	err = fs_writable(fs);
	if (!err)
		err = fs_iget(fs, ino, &ip);
	if (err)
		return err;
	fs_ls_add(fs, &ls, ip);
	if (S_ISDIR(ip->st.mode)) {
		err = -EPERM;
		goto out_put;
	}
	err = get_dir(fs, newparent, &dp);
	if (err)
		goto out_put;
	fs_ls_add(fs, &ls, dp);
	if (strcmp(newname, ".") == 0 || strcmp(newname, "..") == 0) {
		err = -EEXIST;
		goto out_put;
	}
	err = check_name(newname);
	if (err)
		goto out_put;
	fs_ls_lock(&ls);
	if ((err = fs_writable(fs)))
		goto out;
	if (atomic_load(&ip->dead) || atomic_load(&dp->dead)) {
		err = -ENOENT;
		goto out;
	}
	if (fs_dir_find(dp->dir, newname, n)) {
		err = -EEXIST;
		goto out;
	}
	if (ip->st.nlink == 0 || dp->st.nlink == 0) {
		err = -ENOENT;
		goto out;
	}
	if (ip->st.nlink >= 65000) {
		err = -EMLINK;
		goto out;
	}
	fs_op_init(&op, fs, 0);
	fs_now(&now);
	st = ip->st;
	st.nlink++;
	st.ctime = now;
	err = fs_op_add(&op, ip,
			lent_attr(&b, PMFS_AT_NLINK | PMFS_AT_CTIME, &st));
	if (!err)
		err = fs_op_add(&op, dp,
				lent_dentry(&b, PMFS_LE_DENTRY_ADD, ip->ino,
					    ip->gen, dp->st.maxcookie + 1,
					    dtype_of(ip->st.mode), newname, n,
					    dp->st.nlink, &now));
	if (err) {
		fs_op_abort(&op);
		goto out;
	}
	err = fs_op_commit(&op);
	if (!err) {
		if (fs->o.flags & FS_O_REFCOUNT)
			ip->nlookup++;
		if (out)
			fs_fill_attr(ip, out);
	}
out:
	fs_ls_release(fs, &ls, true);
	return err;
out_put:
	fs_ls_release(fs, &ls, false);
	return err;
}

/* Is `anc` an ancestor of (or equal to) directory `ino`? */
static int is_ancestor(struct fs *fs, uint64_t anc, uint64_t ino)
{
	uint64_t limit = 1ull << 20;

	while (limit--) {
		struct fs_inode *ip;
		uint64_t next;
		int err;

		if (ino == anc)
			return 1;
		if (ino == PMFS_ROOT_INO)
			return 0;
		/* parent pointers of directories change only under
		 * rename_mu, which the caller holds */
		err = fs_iget(fs, ino, &ip);
		if (err)
			return err;
		next = ip->st.parent;
		fs_iput(fs, ip);
		if (!next || next == ino)
			return 0;
		ino = next;
	}
	return -ELOOP;
}

/* Stage "ip moved into directory to": its ctime, and its '..' when it is
 * a directory moving across directories (which happens only under
 * rename_mu, lock order (1)). */
static int moved(struct fs_op *op, struct fs_inode *ip, uint64_t to,
		 bool cross, const struct timespec *now)
{
	struct ilog_state st = ip->st;
	bool dotdot = S_ISDIR(st.mode) && cross;
	union lent_buf b;

	st.ctime = *now;
	if (dotdot)
		st.parent = to;
	return fs_op_add(op, ip,
			 lent_attr(&b, PMFS_AT_CTIME |
					       (dotdot ? PMFS_AT_PARENT : 0),
				   &st));
}

/* Running nlink of a directory inside one op. */
struct nlk {
	struct fs_inode *ip;
	uint32_t nlink;
};

/* The running link count of directory ip in this op. */
static uint32_t *nlk_of(struct nlk *v, int *nv, struct fs_inode *ip)
{
	for (int i = 0; i < *nv; i++)
		if (v[i].ip == ip)
			return &v[i].nlink;
	v[*nv].ip = ip;
	v[*nv].nlink = ip->st.nlink;
	return &v[(*nv)++].nlink;
}

/* Fault injection for the tests (fs_int.h): NULL in product programs. */
const struct fs_inject *fs_inject;

/* One rename as it goes: the two names, their directories and inodes. */
struct ren {
	struct fs *fs;
	const struct fs_ctx *ctx; /* owner of a whiteout; may be NULL */
	uint64_t parent, newparent;
	const char *name, *newname;
	size_t sn, tn;
	unsigned flags;
	bool xchg, cross, sdir, tdir, wout;
	struct fs_inode *sp, *dp, *si, *ti; /* ti: NULL when no target */
	struct fs_dent *sde, *tde;
	struct fs_lockset ls;
};

/*
 * Steps 1-2: resolve both names under short read locks, write-lock the
 * (up to four) inodes in inode order, order (2), and re-validate.  0 with
 * everything locked; -EAGAIN when something moved meanwhile (start over);
 * else -errno, nothing held.
 */
static int ren_lock(struct ren *r)
{
	struct fs *fs = r->fs;
	struct target sw, tw; /* what the two names named */
	int err;

	r->ti = NULL;
	r->ls.n = 0;
	err = fs_writable(fs);
	if (!err)
		err = get_dir(fs, r->parent, &r->sp);
	if (err)
		return err;
	fs_ls_add(fs, &r->ls, r->sp);
	err = get_dir(fs, r->newparent, &r->dp);
	if (err)
		goto out_put;
	fs_ls_add(fs, &r->ls, r->dp);
	peek_name(r->sp, r->name, r->sn, &sw);
	peek_name(r->dp, r->newname, r->tn, &tw);
	err = sw.ino ? get_named(fs, r->sp, r->name, r->sn, &sw, &r->si)
		     : -ENOENT;
	if (err)
		goto out_put;
	fs_ls_add(fs, &r->ls, r->si);
	if (tw.ino) {
		err = get_named(fs, r->dp, r->newname, r->tn, &tw, &r->ti);
		if (err)
			goto out_put;
		fs_ls_add(fs, &r->ls, r->ti);
	}
	fs_ls_lock(&r->ls);
	if (atomic_load(&r->sp->dead) || atomic_load(&r->dp->dead) ||
	    atomic_load(&r->si->dead) || (r->ti && atomic_load(&r->ti->dead)) ||
	    !name_is(r->sp, r->name, r->sn, sw.ino) ||
	    !name_is(r->dp, r->newname, r->tn, tw.ino)) {
		fs_ls_release(fs, &r->ls, true);
		return -EAGAIN;
	}
	r->sdir = S_ISDIR(r->si->st.mode);
	r->tdir = r->ti && S_ISDIR(r->ti->st.mode);
	r->sde = fs_dir_find(r->sp->dir, r->name, r->sn);
	r->tde = fs_dir_find(r->dp->dir, r->newname, r->tn);
	return 0;
out_put:
	fs_ls_release(fs, &r->ls, false);
	return err;
}

/* Step 3: what the rename may not do (-errno), nothing to do (1), or go
 * (0).  The ancestor checks read parent pointers, which only change under
 * rename_mu, held for a rename across directories. */
static int ren_check(const struct ren *r)
{
	int err = fs_writable(r->fs);

	if (err)
		return err;
	if ((r->flags & RENAME_NOREPLACE) && r->tde)
		return -EEXIST;
	if (r->xchg && !r->tde)
		return -ENOENT;
	if (r->sde == r->tde || (r->ti == r->si && !r->xchg))
		return 1; /* the same entry, or two links to one inode */
	if (r->dp->st.nlink == 0)
		return -ENOENT;
	if (r->sdir && r->cross &&
	    (err = is_ancestor(r->fs, r->si->ino, r->newparent)))
		return err > 0 ? -EINVAL : err;
	if (r->xchg && r->tdir && r->cross &&
	    (err = is_ancestor(r->fs, r->ti->ino, r->parent)))
		return err > 0 ? -EINVAL : err;
	if (r->ti && !r->xchg) {
		if (r->sdir && !r->tdir)
			return -ENOTDIR;
		if (!r->sdir && r->tdir)
			return -EISDIR;
		if (r->tdir && fs_dir_count(r->ti))
			return -ENOTEMPTY;
	}
	return 0;
}

/* Step 4 for RENAME_WHITEOUT: a new whiteout inode (its ATTR) and its
 * ADD under the old name, with cookie `cookie` and the source directory's
 * link count snl.  *wi: the new inode, locked, once made. */
static int ren_stage_whiteout(const struct ren *r, struct fs_op *op,
			      uint64_t cookie, uint32_t snl,
			      const struct timespec *now,
			      struct fs_inode **wi)
{
	struct fs_inode *ip;
	union lent_buf b;
	int err = fs_op_new_inode(op, &ip);

	if (err)
		return err;
	*wi = ip;
	ip->st.mode = S_IFCHR; /* the kernel's WHITEOUT_MODE, WHITEOUT_DEV */
	ip->st.rdev = 0;
	ip->st.uid = r->ctx ? r->ctx->uid : 0;
	ip->st.gid = (r->sp->st.mode & S_ISGID) ? r->sp->st.gid
			 : r->ctx ? r->ctx->gid : 0;
	ip->st.nlink = 1;
	ip->st.parent = 0;
	ip->st.size = 0;
	ip->st.atime = ip->st.mtime = ip->st.ctime = ip->st.btime = *now;
	err = fs_op_add(op, ip, lent_attr(&b, PMFS_AT_ALL, &ip->st));
	if (!err)
		err = fs_op_add(op, r->sp,
				lent_dentry(&b, PMFS_LE_DENTRY_ADD, ip->ino,
					    ip->gen, cookie, dtype_of(S_IFCHR),
					    r->name, r->sn, snl, now));
	return err;
}

/* Step 4: stage the entries: the source's DEL, the target's DEL, the
 * new name's ADD, for an exchange the old name's ADD, for a whiteout a
 * new inode and its ADD under the old name; the directories' link counts
 * as subdirectories move; the moved inodes' ctime and '..'; a replaced
 * target loses a link.  *wi: the whiteout made, locked (or NULL). */
static int ren_stage(const struct ren *r, struct fs_op *op,
		     const struct timespec *now, struct fs_inode **wi)
{
	struct nlk nv[4];
	int nnv = 0, err = 0;
	struct fs_inode *sp = r->sp, *dp = r->dp;
	uint32_t *snl = nlk_of(nv, &nnv, sp), *dnl = nlk_of(nv, &nnv, dp);
	bool moves_dir = r->sdir && sp != dp && !(r->xchg && r->tdir);
	/* copies: the injected fault below changes the index at once */
	struct fs_dent s = *r->sde, t = r->tde ? *r->tde : s;
	const struct fs_dent *sde = &s, *tde = r->tde ? &t : NULL;
	uint64_t cookie = dp->st.maxcookie;
	union lent_buf b;

	/* the source entry leaves the old directory */
	if (moves_dir)
		(*snl)--;
	lent_dentry(&b, PMFS_LE_DENTRY_DEL, sde->ino, sde->gen, sde->cookie,
		    sde->ftype, r->name, r->sn, *snl, now);
	if (__builtin_expect(fs_inject != NULL, 0) && !r->xchg &&
	    fs_inject->dentry_del(r->fs, sp, &b) == 0)
		/* the log has changed already: DRAM follows it now, so a
		 * compaction in the commit keeps the DEL */
		fs_apply(r->fs, sp, &b.h, false);
	else
		err = fs_op_add(op, sp, &b.h);
	if (!err && tde) {
		if (!r->xchg && r->tdir)
			(*dnl)--; /* the replaced directory's '..' is gone */
		if (r->xchg && r->tdir && sp != dp && !r->sdir)
			(*dnl)--;
		err = fs_op_add(op, dp,
				lent_dentry(&b, PMFS_LE_DENTRY_DEL, tde->ino,
					    tde->gen, tde->cookie, tde->ftype,
					    r->newname, r->tn, *dnl, now));
	}
	if (moves_dir)
		(*dnl)++;
	if (!err)
		err = fs_op_add(op, dp,
				lent_dentry(&b, PMFS_LE_DENTRY_ADD, sde->ino,
					    sde->gen, cookie + 1, sde->ftype,
					    r->newname, r->tn, *dnl, now));
	if (!err && r->xchg) {
		if (r->tdir && sp != dp && !r->sdir)
			(*snl)++;
		err = fs_op_add(op, sp,
				lent_dentry(&b, PMFS_LE_DENTRY_ADD, tde->ino,
					    tde->gen,
					    sp == dp ? cookie + 2
						     : sp->st.maxcookie + 1,
					    tde->ftype, r->name, r->sn, *snl,
					    now));
	}
	if (!err && r->wout)
		err = ren_stage_whiteout(r, op,
					 sp == dp ? cookie + 2
						  : sp->st.maxcookie + 1,
					 *snl, now, wi);
	/* the moved inode(s): ctime, and '..' for directories */
	if (!err)
		err = moved(op, r->si, r->newparent, r->cross, now);
	if (!err && r->xchg)
		err = moved(op, r->ti, r->parent, r->cross, now);
	else if (!err && r->ti)
		err = drop_link(op, r->ti, r->tdir ? 2 : 1, now);
	return err;
}

int fs_rename(struct fs *fs, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned flags)
{
	if (flags & RENAME_WHITEOUT)
		return -EINVAL;
	return fs_rename_ctx(fs, NULL, parent, name, newparent, newname,
			     flags);
}

int fs_rename_ctx(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent,
		  const char *name, uint64_t newparent, const char *newname,
		  unsigned flags)
{
	struct ren r = {
		.fs = fs, .ctx = ctx, .parent = parent, .newparent = newparent,
		.name = name, .newname = newname, .sn = strlen(name),
		.tn = strlen(newname), .flags = flags,
		.xchg = flags & RENAME_EXCHANGE, .cross = parent != newparent,
		.wout = flags & RENAME_WHITEOUT,
	};
	struct fs_inode *wi = NULL;
	struct timespec now;
	struct fs_op op;
	int err;

	/* step 0: the arguments */
	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE |
				RENAME_WHITEOUT) ||
	    (r.xchg && (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT))))
		return -EINVAL;
	if (r.sn > PMFS_NAME_MAX || r.tn > PMFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (!strcmp(name, ".") || !strcmp(name, "..") || !strcmp(newname, ".") ||
	    !strcmp(newname, ".."))
		return -EINVAL;
	err = check_name(newname);
	if (err)
		return err;
	if (r.cross) /* order (1): the tree's shape is ours */
		pthread_mutex_lock(&fs->rename_mu);
	/* steps 1-2: the names resolved, the inodes locked */
	while ((err = ren_lock(&r)) == -EAGAIN)
		;
	if (!err) {
		/* step 3 */
		err = ren_check(&r);
		if (err == 0) {
			/* step 4: staged; step 5: one journaled commit,
			 * LOG(5) - the real commit */
			fs_op_init(&op, fs, ALLOC_F_RESERVE);
			fs_now(&now);
			err = ren_stage(&r, &op, &now, &wi);
			if (err)
				fs_op_abort(&op);
			else
				err = fs_op_commit(&op);
			if (wi && !err)
				fs_iput_unlock(fs, wi);
		}
		fs_ls_release(fs, &r.ls, true);
	}
	if (r.cross)
		pthread_mutex_unlock(&fs->rename_mu);
	return err > 0 ? 0 : err;
}

int fs_readdir_mark(struct fs *fs, uint64_t ino, uint64_t *mark)
{
	struct fs_inode *dp;
	int err;

	err = fs_iget_locked(fs, ino, false, &dp);
	if (err)
		return err;
	if (S_ISDIR(dp->st.mode))
		*mark = dp->st.maxcookie;
	else
		err = -ENOTDIR;
	fs_iput_unlock(fs, dp);
	return err;
}

int fs_readdir(struct fs *fs, uint64_t ino, uint64_t cookie, fs_fill_fn fill,
	       void *arg)
{
	return fs_readdir_upto(fs, ino, cookie, UINT64_MAX, fill, arg);
}

int fs_readdir_upto(struct fs *fs, uint64_t ino, uint64_t cookie,
		    uint64_t end, fs_fill_fn fill, void *arg)
{
	static const struct fs_dir empty;
	const struct fs_dir *dir;
	struct fs_inode *dp;
	size_t lo, hi;
	int err;

	err = fs_iget_locked(fs, ino, false, &dp);
	if (err)
		return err;
	if (!S_ISDIR(dp->st.mode)) {
		err = -ENOTDIR;
		goto out;
	}
	dir = dp->dir ? dp->dir : &empty;
	lo = 0;
	hi = dir->nord;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (dir->ordc[mid] < cookie)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < dir->nord; lo++) {
		struct fs_dent *e = dir->ord[lo];

		if (dir->ordc[lo] > end)
			break;
		if (!e)
			continue;
		if (fill(arg, e->name, e->ino, e->ftype, e->cookie + 1))
			break;
	}
	if (fs_atime_due(fs, dp)) {
		/* relatime said yes: the write lock for one ATTR entry */
		fs_iunlock(dp);
		fs_ilock_w(dp);
		if (fs_atime_due(fs, dp))
			fs_touch_atime(fs, dp);
	}
out:
	fs_iput_unlock(fs, dp);
	return err;
}
