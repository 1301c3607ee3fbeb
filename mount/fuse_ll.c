/*
 * fuse_ll.c - the FUSE low-level glue: every struct fuse_lowlevel_ops
 * handler of mount.pmfs, each calling the fs_* API of fs.h.
 *
 * Role: with transport.c (the raw requests and replies, transport.h), the
 * only file in pmfs that includes fuse_lowlevel.h.  As in libfuse's
 * example/passthrough_ll.c, each handler (pm_*) only replies; the work is
 * done by a helper (do_*) that returns 0 or -errno, and only this file
 * flips the sign for fuse_reply_err().
 *
 * Rules that follow from DESIGN.md ("Through FUSE"):
 *  (1) A reply is sent only after the fs_* call serving it returned, so an
 *      answered request is durable.  fsync and fsyncdir have nothing left
 *      to do: the first one is answered ENOSYS and the kernel then treats
 *      every later one as done without a round trip.
 *  (2) pmfs is the only writer of its files: entries (also negative ones)
 *      and attributes are cached by the kernel for PM_TIMEOUT seconds, the
 *      page cache is kept across opens, directory listings are cached
 *      too (cache_readdir), readdirplus fills the dentry cache when the
 *      reader also wants attributes (READDIRPLUS_AUTO: ls -l, not ls).
 *  (3) Reads are answered with fuse_reply_iov() straight from the mapping
 *      inside fs_read()'s sink: the daemon does not copy file data.  Writes
 *      come in requests of up to PM_MAX_WRITE bytes.
 *  (4) Lookup counts: the fs is mounted with FS_O_REFCOUNT, so every fs_*
 *      call that returns an entry takes one reference.  When the kernel
 *      does not receive an entry (reply failed, readdirplus entry dropped)
 *      the reference is given back at once with fs_forget().
 *  (5) Directory offsets: 0 is the start, 1 is after ".", 2 after "..";
 *      an fs_readdir cookie c (>= 1) is offset c + PM_DOT_OFFSETS, so the
 *      offsets stay valid while the directory changes.  A listing ends at
 *      the directory's cookie mark taken at OPENDIR and again at each
 *      read from offset 0 (rewinddir), kept in fi->fh: a name renamed
 *      away and back meanwhile is not listed a second time, and a
 *      listing ends however fast names move (fs_readdir_upto).
 *  (6) The kernel checks permissions (default_permissions is always on).
 *      Under FUSE_HANDLE_KILLPRIV_V2 (transport.h (2)) pmfs clears
 *      setuid/setgid itself when the request is marked for it, in the same
 *      commit as the write, truncation or chown; without it the kernel
 *      clears them with a SETATTR of its own (FUSE_CAP_HANDLE_KILLPRIV,
 *      the older form, is turned off).
 *  (7) pmfs keeps no state per open file: the first OPEN and CREATE are
 *      answered ENOSYS where the kernel supports it, and it then opens and
 *      closes files without asking (no OPEN, RELEASE round trips) and
 *      creates a file with MKNOD (a create is LOOKUP + MKNOD); FLUSH is
 *      not sent (noflush on OPEN and CREATE, and the first FLUSH anyway is
 *      answered ENOSYS).  An open directory keeps its listing's end (rule
 *      (5)), so OPENDIR and RELEASEDIR are answered.
 *  (8) A write through a file opened O_DIRECT drops the written range
 *      from the kernel's page cache before it is answered.  The kernel
 *      drops the range itself before sending the write, but not after an
 *      asynchronous one (AIO, io_uring) completes, so a buffered read that
 *      ran in between would leave the old bytes cached for every later
 *      reader.  The invalidation waits for pages that readers have locked
 *      while their READ is served, so it is not done by a loop worker: the
 *      write is committed by the worker, then handed to one invalidation
 *      thread (pm_inval) that invalidates and answers.  Buffered writes,
 *      mmap writes and copy_file_range go through (or are dropped from)
 *      the page cache by the kernel itself.  The loop's end waits for that
 *      thread; a SIGTERM that stops the workers while it waits for such a
 *      READ leaves it waiting until the reader is killed.
 *  (9) File handles (name_to_handle_at, open_by_handle_at, NFS export):
 *      the kernel's handle is the node id (the inode number) and the
 *      generation of the inode's slot, both on media, so a handle outlives
 *      the kernel's caches and a remount.  With FUSE_CAP_EXPORT_SUPPORT
 *      the kernel finds an inode it has dropped by a LOOKUP of "." in it
 *      (any type: fs_lookup_ino) and a directory's parent by a LOOKUP of
 *      "..".  A handle of a removed file, or of a slot used again since,
 *      gets ESTALE.  The root is reported with generation 0, the one the
 *      kernel gives the root inode it makes itself.
 * (10) POSIX ACLs (FUSE_CAP_POSIX_ACL, unless -o noacl): the kernel checks
 *      permissions against system.posix_acl_access/default, which pmfs
 *      stores and keeps in step with the mode (fs_acl.c); the kernel
 *      then leaves the umask to pmfs (FUSE_CAP_DONT_MASK), which applies
 *      it when the new inode's directory has no default ACL.  Without
 *      ACLs those names are refused (EOPNOTSUPP) and the kernel applies
 *      the umask.
 * (11) -o writeback (opt-in; never the default, DESIGN.md): the kernel's
 *      writeback cache (FUSE_CAP_WRITEBACK_CACHE).  Buffered and mmap
 *      writes then stay in the page cache and come as WRITEs when the
 *      kernel writes them back; the kernel owns the size and mtime of
 *      cached files and hands them over in those WRITEs and in SETATTRs
 *      (mtime, ctime) of its own.  Rule (1) still holds request by
 *      request, and fsync keeps nothing to do: the kernel writes the dirty
 *      pages back and waits for their WRITE answers, and sends the times,
 *      before it would send FSYNC (also for fdatasync, msync, O_SYNC and
 *      O_DSYNC writes, and the -o sync mount flag, which makes every write
 *      such a write).  sync(2), syncfs(2) and the kernel's read-only
 *      remount start the writeback of a FUSE filesystem but do not wait
 *      for its answers (Linux 6.18), so they promise nothing; mount.pmfs
 *      fsyncs every file before it tells the daemon to go read-only.  The
 *      kernel may READ a file opened O_WRONLY (to fill a partial page) and
 *      does O_APPEND itself (the WRITE carries the offset): pmfs keeps no
 *      state per open file, so neither needs anything here.  A WRITE
 *      of the writeback (FUSE_WRITE_CACHE) keeps the stored times
 *      (FS_W_KEEP_TIMES): the kernel's SETATTR may come before it.  LSEEK
 *      is answered ENOSYS, as the kernel does not write dirty pages back
 *      before it: SEEK_DATA/SEEK_HOLE then come from the kernel's size,
 *      and data not yet written back is never taken for a hole.  Every other
 *      request (create, rename, truncate, chmod, ...) stays durable when
 *      answered.  The kernel takes the cache at INIT only, so a remount
 *      cannot change it (PMFS_IOC_MODE tells mount.pmfs which it is).
 */
#define FUSE_USE_VERSION 312

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <fuse_lowlevel.h>

#include "format/format.h"
#include "fs/fs.h"
#include "fuse_ll.h"
#include "util/util.h"
#include "transport.h"

#define PM_TIMEOUT 3600.0          /* entry, negative entry, attr cache */
#define PM_MAX_WRITE (1u << 20)    /* largest WRITE request we ask for */
#define PM_COPY_CHUNK (1u << 20)   /* copy_file_range bounce buffer */
#define PM_DOT_OFFSETS 2           /* directory offsets of "." and ".." */
#define PM_XATTR_MAX PMFS_XATTR_VALUE_MAX /* XATTR_SIZE_MAX */
#define PM_MAX_THREADS 8           /* loop workers: see loop_threads() */

_Static_assert(PMFS_ROOT_INO == FUSE_ROOT_ID,
	       "fs inode numbers are used as FUSE node ids unchanged");

struct fuse_ll {
	struct fuse_session *se;
	struct fs *fs;
	bool singlethread;
	bool mounted;
	bool signals;
};

static struct fs *req_fs(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The caller of this request, for new files and setuid clearing. */
static struct fs_ctx req_ctx(fuse_req_t req)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	/* the umask counts only under POSIX ACLs: rule (10) */
	struct fs_ctx ctx = { .uid = c->uid, .gid = c->gid, .umask = c->umask };

	return ctx;
}

static int check_name(const char *name)
{
	return strlen(name) > PMFS_NAME_MAX ? -ENAMETOOLONG : 0;
}

static void attr_to_stat(const struct fs_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_blksize = 4096;
	st->st_rdev = a->rdev;
	st->st_atim = a->atime;
	st->st_mtim = a->mtime;
	st->st_ctim = a->ctime;
}

static void attr_to_entry(const struct fs_attr *a, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	e->generation = a->ino == FUSE_ROOT_ID ? 0 : a->gen; /* rule (9) */
	attr_to_stat(a, &e->attr);
	e->attr_timeout = PM_TIMEOUT;
	e->entry_timeout = PM_TIMEOUT;
}

/* Reply with an entry (or err); give the reference back if it is lost. */
static void reply_entry(fuse_req_t req, int err,
			const struct fuse_entry_param *e)
{
	struct fs *fs = req_fs(req);

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	if (fuse_reply_entry(req, e) != 0 && e->ino != 0)
		fs_forget(fs, e->ino, 1); /* rule (4) */
}

static void reply_attr(fuse_req_t req, int err, const struct fs_attr *a)
{
	struct stat st;

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	attr_to_stat(a, &st);
	fuse_reply_attr(req, &st, PM_TIMEOUT);
}

/* ---- init / destroy ----------------------------------------------------- */

/*
 * Set by pm_init when the kernel takes ENOSYS from OPEN as "no need to
 * ever send this" (FUSE_CAP_NO_OPEN_SUPPORT): pmfs keeps no per-open state
 * for files, so opening and closing them then costs no round trip.
 * One session per process: a plain static is enough.
 */
static bool pm_no_open;
/* POSIX ACLs are on (rule (10)): the fs was mounted with FS_O_ACL and
 * the kernel took FUSE_CAP_POSIX_ACL. */
static bool pm_acl;
/* The mountpoint (absolute), for PMFS_IOC_REMOUNT's check. */
static char pm_mountpoint[PATH_MAX];
/* -o writeback asked for, and granted by the kernel at INIT: rule (11). */
static bool pm_want_writeback;
static bool pm_writeback;
static bool pm_io_uring; /* -o io_uring: PMFS_IOC_MODE */

static void pm_init(void *userdata, struct fuse_conn_info *conn)
{
	/* libfuse derives max_pages from max_write and clamps it to its
	 * buffer (FUSE_MAX_MAX_PAGES pages); writes are always "big" in the
	 * FUSE 3 protocol. */
	conn->max_write = PM_MAX_WRITE;
	conn->time_gran = 1;
	conn->want &= ~(unsigned)(FUSE_CAP_WRITEBACK_CACHE |
				  FUSE_CAP_HANDLE_KILLPRIV |
				  FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				  FUSE_CAP_SPLICE_MOVE | FUSE_CAP_POSIX_ACL |
				  FUSE_CAP_ATOMIC_O_TRUNC);
	/* rule (11): only when asked for */
	pm_writeback = pm_want_writeback &&
		       (conn->capable & FUSE_CAP_WRITEBACK_CACHE);
	if (pm_writeback)
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else if (pm_want_writeback)
		fuse_log(FUSE_LOG_WARNING, "mount.pmfs: the kernel offers no "
			 "writeback cache: every write is durable on return\n");
	pm_acl = fs_acl_on(userdata) && (conn->capable & FUSE_CAP_POSIX_ACL);
	if (pm_acl && (conn->capable & FUSE_CAP_DONT_MASK)) /* rule (10) */
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
	else
		pm_acl = false;
	if (!pm_acl) /* no inheritance the kernel would not enforce */
		fs_acl_off(userdata);
	/* readdirplus for the first batch of a listing and then only while
	 * the reader also looks entries up (ls -l), plain readdir otherwise
	 * (ls): rule (2) */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO)
		conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT) /* rule (9) */
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	/* Rule (7): no OPEN round trip.  The kernel then sends O_TRUNC as a
	 * SETATTR of size 0 (it would skip that SETATTR under ATOMIC_O_TRUNC,
	 * which is therefore only asked for when OPEN is still sent). */
	pm_no_open = conn->capable & FUSE_CAP_NO_OPEN_SUPPORT;
	if (pm_no_open)
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
	else if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* OPENDIR is answered: rule (5) */
	conn->want &= ~(unsigned)FUSE_CAP_NO_OPENDIR_SUPPORT;
}

/* ---- names -------------------------------------------------------------- */

static int do_lookup(struct fs *fs, fuse_ino_t parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct fs_attr a;
	int err = check_name(name);

	if (!err && !strcmp(name, "."))
		err = fs_lookup_ino(fs, parent, &a); /* rule (9) */
	else if (!err)
		err = fs_lookup(fs, parent, name, &a);
	if (err == -ENOENT) {
		/* a negative entry, cached like a positive one: rule (2) */
		memset(e, 0, sizeof(*e));
		e->entry_timeout = PM_TIMEOUT;
		return 0;
	}
	if (!err)
		attr_to_entry(&a, e);
	return err;
}

static void pm_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	int err = do_lookup(req_fs(req), parent, name, &e);

	reply_entry(req, err, &e);
}

static void pm_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget(req_fs(req), ino, nlookup);
	fuse_reply_none(req);
}

static void pm_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct fs *fs = req_fs(req);

	for (size_t i = 0; i < count; i++)
		fs_forget(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void pm_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs_attr a;
	int err = fs_getattr(req_fs(req), ino, &a);

	(void)fi;
	reply_attr(req, err, &a);
}

static int do_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *st,
		      int to_set, struct fs_attr *out)
{
	struct fs_ctx ctx = req_ctx(req);
	struct fs_setattr sa;

	memset(&sa, 0, sizeof(sa));
	if (to_set & FUSE_SET_ATTR_MODE) {
		sa.valid |= FS_SET_MODE;
		sa.mode = st->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		sa.valid |= FS_SET_UID;
		sa.uid = st->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		sa.valid |= FS_SET_GID;
		sa.gid = st->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (st->st_size < 0)
			return -EINVAL;
		sa.valid |= FS_SET_SIZE;
		sa.size = (uint64_t)st->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		sa.valid |= FS_SET_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		sa.valid |= FS_SET_ATIME;
		sa.atime = st->st_atim;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		sa.valid |= FS_SET_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		sa.valid |= FS_SET_MTIME;
		sa.mtime = st->st_mtim;
	}
	if (to_set & FUSE_SET_ATTR_CTIME) {
		sa.valid |= FS_SET_CTIME;
		sa.ctime = st->st_ctim;
	}
	if ((to_set & (FUSE_SET_ATTR_KILL_SUID | FUSE_SET_ATTR_KILL_SGID |
		       FUSE_SET_ATTR_KILL_PRIV)) ||
	    transport_kill_suidgid())
		sa.valid |= FS_SET_KILL_SUID; /* rule (6) */
	if (!sa.valid)
		return fs_getattr(req_fs(req), ino, out);
	return fs_setattr(req_fs(req), &ctx, ino, &sa, out);
}

static void pm_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct fs_attr a;
	int err = do_setattr(req, ino, attr, to_set, &a);

	(void)fi;
	reply_attr(req, err, &a);
}

/*
 * Owner of a new inode: the caller, except that a setgid directory gives
 * its group to new entries and its setgid bit to new subdirectories.
 */
static int new_owner(fuse_req_t req, fuse_ino_t parent, uint32_t *mode,
		     struct fs_ctx *ctx)
{
	struct fs_attr pa;
	int err = fs_getattr(req_fs(req), parent, &pa);

	*ctx = req_ctx(req);
	if (err)
		return err;
	if (!S_ISDIR(pa.mode))
		return -ENOTDIR;
	if (pa.mode & S_ISGID) {
		ctx->gid = pa.gid;
		if (S_ISDIR(*mode))
			*mode |= S_ISGID;
	}
	return 0;
}

static int do_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		    uint32_t mode, dev_t rdev, struct fuse_entry_param *e)
{
	struct fs_ctx ctx;
	struct fs_attr a;
	int err = check_name(name);

	if (!err)
		err = new_owner(req, parent, &mode, &ctx);
	if (!err && S_ISDIR(mode))
		err = fs_mkdir(req_fs(req), &ctx, parent, name, mode, &a);
	else if (!err)
		err = fs_mknod(req_fs(req), &ctx, parent, name, mode, rdev, &a);
	if (!err)
		attr_to_entry(&a, e);
	return err;
}

static void pm_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct fuse_entry_param e;
	int err = S_ISDIR(mode) ? -EINVAL
				: do_mknod(req, parent, name, mode, rdev, &e);

	reply_entry(req, err, &e);
}

static void pm_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct fuse_entry_param e;
	int err = do_mknod(req, parent, name, S_IFDIR | (mode & 07777), 0, &e);

	reply_entry(req, err, &e);
}

static int do_symlink(fuse_req_t req, const char *target, fuse_ino_t parent,
		      const char *name, struct fuse_entry_param *e)
{
	uint32_t mode = S_IFLNK | 0777;
	struct fs_ctx ctx;
	struct fs_attr a;
	int err = check_name(name);

	if (!err)
		err = new_owner(req, parent, &mode, &ctx);
	if (!err)
		err = fs_symlink(req_fs(req), &ctx, parent, name, target, &a);
	if (!err)
		attr_to_entry(&a, e);
	return err;
}

static void pm_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct fuse_entry_param e;
	int err = do_symlink(req, link, parent, name, &e);

	reply_entry(req, err, &e);
}

static int do_readlink(struct fs *fs, fuse_ino_t ino, char *buf, size_t size)
{
	size_t len = 0;
	int err = fs_readlink(fs, ino, buf, size - 1, &len);

	if (!err)
		buf[len < size ? len : size - 1] = 0;
	return err;
}

static void pm_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	int err = do_readlink(req_fs(req), ino, buf, sizeof(buf));

	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_readlink(req, buf);
}

static void pm_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int err = fs_unlink(req_fs(req), parent, name);

	fuse_reply_err(req, -err);
}

static void pm_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int err = fs_rmdir(req_fs(req), parent, name);

	fuse_reply_err(req, -err);
}

/* RENAME_WHITEOUT (overlayfs's upper layer) leaves a whiteout owned by
 * the caller under the old name. */
static int do_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		     fuse_ino_t newparent, const char *newname,
		     unsigned int flags)
{
	struct fs_ctx ctx = req_ctx(req);
	int err = check_name(newname);

	if (err)
		return err;
	return fs_rename_ctx(req_fs(req), &ctx, parent, name, newparent,
			     newname, flags);
}

static void pm_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	int err = do_rename(req, parent, name, newparent, newname, flags);

	fuse_reply_err(req, -err);
}

static int do_link(struct fs *fs, fuse_ino_t ino, fuse_ino_t newparent,
		   const char *newname, struct fuse_entry_param *e)
{
	struct fs_attr a;
	int err = check_name(newname);

	if (!err)
		err = fs_link(fs, ino, newparent, newname, &a);
	if (!err)
		attr_to_entry(&a, e);
	return err;
}

static void pm_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct fuse_entry_param e;
	int err = do_link(req_fs(req), ino, newparent, newname, &e);

	reply_entry(req, err, &e);
}

/* ---- files -------------------------------------------------------------- */

/* Open flags the glue acts on; the kernel handles the others. */
static int do_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_ctx ctx = req_ctx(req);
	struct fs_setattr sa;
	struct fs_attr a;
	bool kill;

	fi->fh = 0;
	fi->keep_cache = 1; /* rule (2): the kernel's pages stay valid */
	fi->noflush = 1;    /* nothing to do at close: rule (1) */
	if (!(fi->flags & O_TRUNC))
		return 0;
	/* FUSE_CAP_ATOMIC_O_TRUNC: the truncation comes with the open (the
	 * kernel checked write permission); a caller without CAP_FSETID
	 * loses the setuid/setgid bits as with truncate(2): the kernel says
	 * so under HANDLE_KILLPRIV_V2, else an unprivileged uid stands in */
	memset(&sa, 0, sizeof(sa));
	kill = transport_killpriv_v2() ? transport_kill_suidgid() : ctx.uid != 0;
	sa.valid = FS_SET_SIZE | (kill ? FS_SET_KILL_SUID : 0);
	sa.size = 0;
	return fs_setattr(req_fs(req), &ctx, ino, &sa, &a);
}

static void pm_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int err = pm_no_open ? -ENOSYS : do_open(req, ino, fi); /* rule (7) */

	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_open(req, fi);
}

/* Rule (7): under no-open support the first CREATE is answered ENOSYS;
 * the kernel then creates with MKNOD and opens without asking. */
static void pm_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int err = pm_no_open ? -ENOSYS
			     : do_mknod(req, parent, name,
					S_IFREG | (mode & 07777), 0, &e);

	if (err) {
		fuse_reply_err(req, -err);
		return;
	}
	fi->fh = 0;
	fi->keep_cache = 1;
	fi->noflush = 1;
	if (fuse_reply_create(req, &e, fi) != 0)
		fs_forget(req_fs(req), e.ino, 1); /* rule (4) */
}

struct read_sink {
	fuse_req_t req;
	bool replied;
};

/* fs_read's sink: reply with iovecs pointing into the mapping: rule (3). */
static int read_reply_sink(void *arg, const struct iovec *iov, int iovcnt,
			   size_t total)
{
	struct read_sink *s = arg;

	(void)total;
	s->replied = true;
	fuse_reply_iov(s->req, iov, iovcnt);
	return 0;
}

static void pm_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct read_sink s = { .req = req, .replied = false };
	int err = off < 0 ? -EINVAL
			  : fs_read(req_fs(req), ino, (uint64_t)off, size,
				    read_reply_sink, &s);

	(void)fi;
	if (s.replied)
		return;
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_buf(req, NULL, 0);
}

/*
 * fs_write, clearing setuid/setgid in the same commit when the kernel
 * marked the WRITE for it (rule (6)).  The reply carries no attributes,
 * so the kernel is told to drop the mode it has cached.
 */
static int write_kill(struct fs *fs, const struct fs_ctx *ctx, fuse_ino_t ino,
		      const struct iovec *iov, int n, off_t off,
		      unsigned flags, size_t *written)
{
	bool kill = transport_kill_suidgid();
	struct fs_attr a;
	int err;

	if (kill && (fs_getattr(fs, ino, &a) != 0 ||
		     !(a.mode & (S_ISUID | S_ISGID))))
		kill = false; /* nothing to clear */
	err = fs_write(fs, ctx, ino, iov, n, (uint64_t)off,
		       flags | (kill ? FS_W_KILL_SUID : 0), written);
	if (!err && kill)
		transport_inval_attr(ino);
	return err;
}

static int do_write_buf(fuse_req_t req, fuse_ino_t ino,
			struct fuse_bufvec *in, off_t off, unsigned flags,
			size_t *written)
{
	struct fs_ctx ctx = req_ctx(req);
	size_t total = fuse_buf_size(in);
	struct iovec iov[8];
	void *bounce = NULL;
	int n = 0, err;
	bool direct = in->count - in->idx <= 8;

	if (off < 0)
		return -EINVAL;
	for (size_t i = in->idx; direct && i < in->count; i++)
		if (in->buf[i].flags & FUSE_BUF_IS_FD)
			direct = false;
	if (direct) {
		/* the usual case: the request's own memory, no copy */
		for (size_t i = in->idx; i < in->count; i++) {
			size_t skip = i == in->idx ? in->off : 0;

			if (in->buf[i].size <= skip)
				continue;
			iov[n].iov_base = (char *)in->buf[i].mem + skip;
			iov[n].iov_len = in->buf[i].size - skip;
			n++;
		}
	} else {
		struct fuse_bufvec dst = FUSE_BUFVEC_INIT(total);
		ssize_t got;

		bounce = malloc(total ? total : 1);
		if (!bounce)
			return -ENOMEM;
		dst.buf[0].mem = bounce;
		got = fuse_buf_copy(&dst, in, 0);
		if (got < 0) {
			free(bounce);
			return (int)got;
		}
		iov[0].iov_base = bounce;
		iov[0].iov_len = (size_t)got;
		n = 1;
	}
	err = write_kill(req_fs(req), &ctx, ino, iov, n, off, flags, written);
	free(bounce);
	return err;
}

/*
 * The invalidation thread of rule (8): a queue of committed direct writes
 * it drops from the page cache and then answers.  One session per
 * process: a plain static is enough.
 */
struct pm_inval_job {
	struct pm_inval_job *next;
	fuse_req_t req;
	fuse_ino_t ino;
	off_t off;
	size_t written;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pm_inval_job *head, **tail;
	struct fuse_session *se;
	pthread_t th;
	bool running, stop;
} pm_inval = {
	.mu = PTHREAD_MUTEX_INITIALIZER,
	.cv = PTHREAD_COND_INITIALIZER,
	.tail = &pm_inval.head,
};

/* Drop a committed write's range from the page cache, then answer it. */
static void inval_answer(struct pm_inval_job *j)
{
	/* -ENOENT: the kernel caches nothing of the inode; nothing to drop */
	fuse_lowlevel_notify_inval_inode(pm_inval.se, j->ino, j->off,
					 (off_t)j->written);
	fuse_reply_write(j->req, j->written);
	free(j);
}

/* The invalidation thread: answers queued writes until told to stop and
 * the queue is empty. */
static void *inval_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pm_inval.mu);
	for (;;) {
		struct pm_inval_job *j = pm_inval.head;

		if (!j) {
			if (pm_inval.stop)
				break;
			pthread_cond_wait(&pm_inval.cv, &pm_inval.mu);
			continue;
		}
		pm_inval.head = j->next;
		if (!pm_inval.head)
			pm_inval.tail = &pm_inval.head;
		pthread_mutex_unlock(&pm_inval.mu);
		inval_answer(j);
		pthread_mutex_lock(&pm_inval.mu);
	}
	pthread_mutex_unlock(&pm_inval.mu);
	return NULL;
}

/* Start the invalidation thread for se; 0 or -errno.  It blocks every
 * signal, as libfuse's workers do: SIGTERM must reach the thread that
 * waits for the loop's end, else the loop never ends. */
static int inval_start(struct fuse_session *se)
{
	int r;

	pm_inval.se = se;
	pm_inval.stop = false;
	r = util_thread_start(&pm_inval.th, inval_main, NULL);
	if (r)
		return -r;
	pm_inval.running = true;
	return 0;
}

/* Answer what is queued, then end the invalidation thread.  A write
 * committed after this is answered at once (reply_written). */
static void inval_stop(void)
{
	bool running;

	pthread_mutex_lock(&pm_inval.mu);
	running = pm_inval.running;
	pm_inval.stop = true;
	pthread_cond_signal(&pm_inval.cv);
	pthread_mutex_unlock(&pm_inval.mu);
	if (!running)
		return;
	pthread_join(pm_inval.th, NULL);
	pthread_mutex_lock(&pm_inval.mu);
	pm_inval.running = false;
	pthread_mutex_unlock(&pm_inval.mu);
}

/* Answer a committed write of `written` bytes at off: rule (8). */
static void reply_written(fuse_req_t req, fuse_ino_t ino, off_t off,
			  size_t written, const struct fuse_file_info *fi)
{
	struct pm_inval_job *j;

	if (!(fi->flags & O_DIRECT) || written == 0) {
		fuse_reply_write(req, written);
		return;
	}
	j = malloc(sizeof(*j));
	if (!j) {
		/* the write is committed: it cannot fail now */
		fuse_reply_write(req, written);
		return;
	}
	*j = (struct pm_inval_job){ .req = req, .ino = ino, .off = off,
				    .written = written };
	pthread_mutex_lock(&pm_inval.mu);
	if (!pm_inval.running || pm_inval.stop) {
		/* no thread takes it any more (inval_stop): answer here */
		pthread_mutex_unlock(&pm_inval.mu);
		inval_answer(j);
		return;
	}
	*pm_inval.tail = j;
	pm_inval.tail = &j->next;
	pthread_cond_signal(&pm_inval.cv);
	pthread_mutex_unlock(&pm_inval.mu);
}

static void pm_write_buf(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_bufvec *in_buf, off_t off,
			 struct fuse_file_info *fi)
{
	size_t written = 0;
	/* rule (11): the kernel's writeback of cached pages; the times are
	 * the kernel's, sent in a SETATTR that may come before this */
	unsigned flags = pm_writeback && fi->writepage ? FS_W_KEEP_TIMES : 0;
	int err = do_write_buf(req, ino, in_buf, off, flags, &written);

	if (err)
		fuse_reply_err(req, -err);
	else
		reply_written(req, ino, off, written, fi);
}

/* Rule (7): files opened without OPEN have no noflush flag; the kernel
 * stops sending FLUSH after one ENOSYS (and takes it as success). */
static void pm_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

static void pm_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

/* Rule (1): the kernel stops sending fsync after one ENOSYS; under the
 * writeback cache it still writes back and waits first: rule (11). */
static void pm_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

static void pm_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	int err = offset < 0 || length <= 0
			  ? -EINVAL
			  : fs_fallocate(req_fs(req), ino, mode,
					 (uint64_t)offset, (uint64_t)length);

	(void)fi;
	fuse_reply_err(req, -err);
}

static int do_lseek(struct fs *fs, fuse_ino_t ino, off_t off, int whence,
		    off_t *res)
{
	uint64_t r = 0;
	int err;

	if (off < 0)
		return -ENXIO;
	if (whence != SEEK_DATA && whence != SEEK_HOLE)
		return -EINVAL; /* the kernel serves SEEK_SET/CUR/END itself */
	err = fs_lseek(fs, ino, (uint64_t)off, whence, &r);
	if (!err && r > (uint64_t)LLONG_MAX)
		err = -EOVERFLOW;
	*res = (off_t)r;
	return err;
}

static void pm_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	off_t res = 0;
	int err;

	(void)fi;
	/* rule (11): under the writeback cache the kernel does not write
	 * dirty pages back before LSEEK, so what pmfs stores may lack data
	 * the caller wrote; ENOSYS (never sent again) makes the kernel answer
	 * from its own size, every byte data */
	if (pm_writeback) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	err = do_lseek(req_fs(req), ino, off, whence, &res);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_lseek(req, res);
}

/*
 * copy_file_range: fs_read (through fs_pread) into a bounce buffer, then
 * fs_write.  Writing from inside fs_read's sink would hold the source's
 * read lock while taking the target's write lock, which two crossing
 * copies (A->B, B->A) could deadlock on, and which self-deadlocks when
 * source and target are the same file.
 */
static int do_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
			      off_t off_in, fuse_ino_t ino_out, off_t off_out,
			      size_t len, int flags, size_t *copied)
{
	struct fs *fs = req_fs(req);
	struct fs_ctx ctx = req_ctx(req);
	size_t chunk = len < PM_COPY_CHUNK ? len : PM_COPY_CHUNK;
	char *buf;
	int err = 0;

	*copied = 0;
	if (flags != 0 || off_in < 0 || off_out < 0)
		return -EINVAL;
	if (len == 0)
		return 0;
	buf = malloc(chunk);
	if (!buf)
		return -ENOMEM;
	while (*copied < len) {
		size_t want = len - *copied < chunk ? len - *copied : chunk;
		size_t got = 0, put = 0;
		struct iovec iov;

		err = fs_pread(fs, ino_in, buf, want,
			       (uint64_t)off_in + *copied, &got);
		if (err || got == 0)
			break;
		iov.iov_base = buf;
		iov.iov_len = got;
		err = fs_write(fs, &ctx, ino_out, &iov, 1,
			       (uint64_t)off_out + *copied, 0, &put);
		if (err)
			break;
		*copied += put;
		if (put < got || got < want)
			break;
	}
	free(buf);
	return *copied > 0 ? 0 : err;
}

static void pm_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
			       off_t off_in, struct fuse_file_info *fi_in,
			       fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len,
			       int flags)
{
	size_t copied = 0;
	int err = do_copy_file_range(req, ino_in, off_in, ino_out, off_out,
				     len, flags, &copied);

	(void)fi_in;
	(void)fi_out;
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_write(req, copied);
}

/* ---- directories -------------------------------------------------------- */

/* An open directory: where its listing ends (rule (5)).  Every one is on
 * pm_dirs until its RELEASEDIR; the kernel does not send the RELEASEDIRs
 * of directories still open when the filesystem goes away, so the ones
 * left are freed after the loop (dirs_free). */
struct pm_dir {
	uint64_t end; /* the directory's cookie mark when listing began */
	struct pm_dir *prev, *next;
};

static struct {
	pthread_mutex_t mu;
	struct pm_dir head; /* circular list of open directories */
} pm_dirs = { PTHREAD_MUTEX_INITIALIZER, { 0, &pm_dirs.head, &pm_dirs.head } };

/* Put d on (on) or take it off (!on) the list of open directories. */
static void dirs_link(struct pm_dir *d, bool on)
{
	pthread_mutex_lock(&pm_dirs.mu);
	if (on) {
		d->next = pm_dirs.head.next;
		d->prev = &pm_dirs.head;
		d->next->prev = d;
		pm_dirs.head.next = d;
	} else {
		d->prev->next = d->next;
		d->next->prev = d->prev;
	}
	pthread_mutex_unlock(&pm_dirs.mu);
}

/* Free the open directories no RELEASEDIR came for (after the loop). */
static void dirs_free(void)
{
	pthread_mutex_lock(&pm_dirs.mu);
	while (pm_dirs.head.next != &pm_dirs.head) {
		struct pm_dir *d = pm_dirs.head.next;

		pm_dirs.head.next = d->next;
		free(d);
	}
	pm_dirs.head.prev = &pm_dirs.head;
	pthread_mutex_unlock(&pm_dirs.mu);
}

static void pm_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct pm_dir *d = malloc(sizeof(*d));
	int err = d ? fs_readdir_mark(req_fs(req), ino, &d->end) : -ENOMEM;

	if (err) {
		free(d);
		fuse_reply_err(req, -err);
		return;
	}
	dirs_link(d, true);
	fi->fh = (uintptr_t)d;
	/* rule (2): the kernel keeps listings in its page cache and drops
	 * them itself when the directory changes through it */
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) != 0) {
		/* the open was interrupted: no RELEASEDIR follows */
		dirs_link(d, false);
		free(d);
	}
}

static void pm_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct pm_dir *d = (struct pm_dir *)(uintptr_t)fi->fh;

	(void)ino;
	if (d) {
		dirs_link(d, false);
		free(d);
	}
	fuse_reply_err(req, 0);
}

/* One entry listed by fs_readdir, kept until the reply is built. */
struct dir_ent {
	char *name;
	uint64_t ino;
	unsigned dtype;
	off_t off;    /* offset to resume after this entry: rule (5) */
	uint64_t ref; /* readdirplus: the reference taken for the reply */
};

struct dir_walk {
	fuse_req_t req;
	bool plus;
	size_t size;  /* reply buffer size */
	size_t used;  /* bytes the listed entries will take */
	size_t n, cap;
	struct dir_ent *ents;
	int err;
};

static size_t dirent_size(struct dir_walk *w, const char *name)
{
	if (w->plus)
		return fuse_add_direntry_plus(w->req, NULL, 0, name, NULL, 0);
	return fuse_add_direntry(w->req, NULL, 0, name, NULL, 0);
}

/* Record an entry; stop the walk when the next one would not fit. */
static int dir_add(struct dir_walk *w, const char *name, uint64_t ino,
		   unsigned dtype, off_t off)
{
	size_t need = dirent_size(w, name);
	struct dir_ent *e;

	if (w->used + need > w->size)
		return 1;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 32;
		struct dir_ent *ne = realloc(w->ents, cap * sizeof(*ne));

		if (!ne) {
			w->err = -ENOMEM;
			return 1;
		}
		w->ents = ne;
		w->cap = cap;
	}
	e = &w->ents[w->n];
	e->name = strdup(name);
	if (!e->name) {
		w->err = -ENOMEM;
		return 1;
	}
	e->ino = ino;
	e->dtype = dtype;
	e->off = off;
	e->ref = 0;
	w->n++;
	w->used += need;
	return 0;
}

static int dir_fill(void *arg, const char *name, uint64_t ino, unsigned dtype,
		    uint64_t next_cookie)
{
	struct dir_walk *w = arg;

	if (next_cookie > (uint64_t)LLONG_MAX - PM_DOT_OFFSETS) {
		w->err = -EOVERFLOW;
		return 1;
	}
	return dir_add(w, name, ino, dtype,
		       (off_t)(next_cookie + PM_DOT_OFFSETS));
}

/* Inode number to show for "..": the parent if the fs resolves it. */
static uint64_t dotdot_ino(struct fs *fs, fuse_ino_t ino)
{
	struct fs_attr a;

	if (ino == FUSE_ROOT_ID || fs_lookup(fs, ino, "..", &a) != 0)
		return ino;
	fs_forget(fs, a.ino, 1); /* only the number is used */
	return a.ino;
}

/* List from `off` into w->ents (names only, no lookups yet), up to the
 * listing's end in d (taken anew at offset 0: rule (5)). */
static int dir_list(struct fs *fs, fuse_ino_t ino, off_t off,
		    struct pm_dir *d, struct dir_walk *w)
{
	struct fs_attr a;
	int err;

	if (off < 0)
		return -EINVAL;
	err = fs_getattr(fs, ino, &a);
	if (err)
		return err;
	if (!S_ISDIR(a.mode))
		return -ENOTDIR;
	if (off == 0 && (err = fs_readdir_mark(fs, ino, &d->end)))
		return err;
	if (off == 0 && dir_add(w, ".", ino, DT_DIR, 1))
		return w->err;
	if (off <= 1 && dir_add(w, "..", dotdot_ino(fs, ino), DT_DIR, 2))
		return w->err;
	off = off < PM_DOT_OFFSETS ? 0 : off - PM_DOT_OFFSETS;
	err = fs_readdir_upto(fs, ino, (uint64_t)off, d->end, dir_fill, w);
	return err ? err : w->err;
}

static bool is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

/* Build the reply buffer; for readdirplus look each entry up (ref'd). */
static size_t dir_build(fuse_req_t req, fuse_ino_t ino, struct dir_walk *w,
			char *buf)
{
	struct fs *fs = req_fs(req);
	size_t pos = 0;

	for (size_t i = 0; i < w->n; i++) {
		struct dir_ent *d = &w->ents[i];
		struct fuse_entry_param e;
		struct fs_attr a;
		size_t n;

		memset(&e, 0, sizeof(e));
		e.attr.st_ino = d->ino;
		e.attr.st_mode = (mode_t)(d->dtype << 12);
		if (!w->plus) {
			n = fuse_add_direntry(req, buf + pos, w->size - pos,
					      d->name, &e.attr, d->off);
		} else {
			if (!is_dot(d->name)) {
				/* removed since listed: skip it */
				if (fs_lookup(fs, ino, d->name, &a) != 0)
					continue;
				attr_to_entry(&a, &e);
			}
			n = fuse_add_direntry_plus(req, buf + pos,
						   w->size - pos, d->name, &e,
						   d->off);
			if (n > w->size - pos && e.ino)
				fs_forget(fs, e.ino, 1);
			else
				d->ref = e.ino;
		}
		if (n > w->size - pos)
			break;
		pos += n;
	}
	return pos;
}

static void dir_walk_free(struct dir_walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->ents[i].name);
	free(w->ents);
}

/* Forget the references readdirplus took if its reply did not arrive. */
static void dir_unref(struct fs *fs, struct dir_walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->ents[i].ref)
			fs_forget(fs, w->ents[i].ref, 1); /* rule (4) */
}

/* READDIR and READDIRPLUS: list from `off` for the open directory fi. */
static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = req_fs(req);
	struct dir_walk w = { .req = req, .plus = plus, .size = size };
	struct pm_dir unbounded = { .end = UINT64_MAX };
	struct pm_dir *d = fi->fh ? (struct pm_dir *)(uintptr_t)fi->fh
				  : &unbounded;
	char *buf = NULL;
	size_t len = 0;
	int err = dir_list(fs, ino, off, d, &w);

	if (!err || w.n > 0) {
		buf = malloc(size ? size : 1);
		err = buf ? 0 : -ENOMEM;
	}
	if (!err)
		len = dir_build(req, ino, &w, buf);
	if (err)
		fuse_reply_err(req, -err);
	else if (fuse_reply_buf(req, buf, len) != 0)
		dir_unref(fs, &w);
	dir_walk_free(&w);
	free(buf);
}

static void pm_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, false);
}

static void pm_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, true);
}

static void pm_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, ENOSYS);
}

/* ---- whole filesystem, xattrs ------------------------------------------- */

static void pm_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;
	int err;

	(void)ino;
	memset(&st, 0, sizeof(st));
	err = fs_statfs(req_fs(req), &st);
	if (err)
		fuse_reply_err(req, -err);
	else
		fuse_reply_statfs(req, &st);
}

/* POSIX ACLs are not supported: storing them as plain xattrs would show
 * ACLs that the kernel does not enforce. */
static int check_xattr_name(const char *name)
{
	if (!strncmp(name, "system.posix_acl_", 17) && !pm_acl)
		return -EOPNOTSUPP; /* rule (10) */
	if (strlen(name) > PMFS_XATTR_NAME_MAX)
		return -ERANGE;
	return 0;
}

static void pm_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	int err = check_xattr_name(name);

	if (!err)
		err = fs_setxattr(req_fs(req), ino, name, value, size, flags);
	fuse_reply_err(req, -err);
}

/*
 * Does the calling process have CAP_SYS_ADMIN in the daemon's user
 * namespace (the kernel's capable())?  The daemon learns only the pid:
 * /proc/PID/status gives the effective set, which counts only when PID
 * is in our own user namespace.  No pid (the caller is in a pid namespace
 * the daemon cannot see) or anything unreadable: no.
 */
static bool caller_sys_admin(fuse_req_t req)
{
	const struct fuse_ctx *c = fuse_req_ctx(req);
	char p[64], ns[64], own[64], line[256];
	unsigned long long eff = 0;
	bool found = false;
	ssize_t n, m;
	FILE *f;

	if (!c || c->pid <= 0)
		return false;
	snprintf(p, sizeof(p), "/proc/%d/ns/user", (int)c->pid);
	n = readlink(p, ns, sizeof(ns));
	m = readlink("/proc/self/ns/user", own, sizeof(own));
	if (n <= 0 || n != m || memcmp(ns, own, (size_t)n) != 0)
		return false;
	snprintf(p, sizeof(p), "/proc/%d/status", (int)c->pid);
	f = fopen(p, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "CapEff: %llx", &eff) == 1;
	fclose(f);
	return found && (eff >> 21 & 1); /* CAP_SYS_ADMIN */
}

/* Drop the names starting with prefix from a NUL-separated list of len
 * bytes; the new length. */
static size_t drop_names(char *list, size_t len, const char *prefix)
{
	size_t in = 0, out = 0, pl = strlen(prefix);

	while (in < len) {
		size_t n = strnlen(list + in, len - in) + 1;

		if (strncmp(list + in, prefix, pl) != 0) {
			memmove(list + out, list + in, n);
			out += n;
		}
		in += n;
	}
	return out;
}

/*
 * listxattr: the names of ino, without trusted.* unless the caller has
 * CAP_SYS_ADMIN (as ext4 and xfs list them), and without the ACL names
 * when ACLs are off (their values are refused then: rule (10)); size 0
 * asks for the length only.  The whole list is read first, so that the
 * length is that of the names the caller sees.
 */
static int do_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size,
			char **buf, size_t *len)
{
	struct fs *fs = req_fs(req);
	bool all = caller_sys_admin(req);
	size_t need = 0;
	int err;

	*buf = NULL;
	for (;;) {
		err = fs_listxattr(fs, ino, NULL, 0, &need);
		if (err)
			return err;
		free(*buf);
		*buf = malloc(need ? need : 1);
		if (!*buf)
			return -ENOMEM;
		err = fs_listxattr(fs, ino, *buf, need, len);
		if (err != -ERANGE) /* -ERANGE: names added meanwhile */
			break;
	}
	if (err)
		return err;
	if (!all)
		*len = drop_names(*buf, *len, "trusted.");
	if (!pm_acl)
		*len = drop_names(*buf, *len, "system.posix_acl_");
	if (size && size < *len)
		return -ERANGE;
	return 0;
}

/* getxattr: size 0 asks for the length only. */
static int do_getxattr(struct fs *fs, fuse_ino_t ino, const char *name,
		       size_t size, char **buf, size_t *len)
{
	int err;

	*buf = NULL;
	if (size > PM_XATTR_MAX)
		size = PM_XATTR_MAX;
	if (size) {
		*buf = malloc(size);
		if (!*buf)
			return -ENOMEM;
	}
	err = check_xattr_name(name);
	if (err == -EOPNOTSUPP)
		err = -ENODATA;
	if (!err)
		err = fs_getxattr(fs, ino, name, *buf, size, len);
	return err;
}

static void reply_xattr(fuse_req_t req, int err, size_t size, const char *buf,
			size_t len)
{
	if (err)
		fuse_reply_err(req, -err);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
}

static void pm_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	char *buf;
	size_t len = 0;
	int err = do_getxattr(req_fs(req), ino, name, size, &buf, &len);

	reply_xattr(req, err, size, buf, len);
	free(buf);
}

static void pm_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf;
	size_t len = 0;
	int err = do_listxattr(req, ino, size, &buf, &len);

	reply_xattr(req, err, size, buf, len);
	free(buf);
}

static void pm_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	int err = check_xattr_name(name);

	if (err == -EOPNOTSUPP)
		err = -ENODATA;
	if (!err)
		err = fs_removexattr(req_fs(req), ino, name);
	fuse_reply_err(req, -err);
}

/* PMFS_IOC_REMOUNT (fuse_ll.h): fs_remount for mount -o remount, asked
 * by mount.pmfs; the outcome and its reason go back in the reply. */
static void do_remount_ioctl(fuse_req_t req, const void *in_buf,
			     size_t in_bufsz, size_t out_bufsz)
{
	struct pmfs_remount rm;
	int err;

	if (in_bufsz < sizeof(rm) || out_bufsz < sizeof(rm)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!caller_sys_admin(req)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	memcpy(&rm, in_buf, sizeof(rm));
	memset(rm.msg, 0, sizeof(rm.msg));
	if (rm.rdonly) {
		/* the kernel first: only then can no request that writes be
		 * in flight (mount.pmfs's order) */
		char type[64];
		bool ro = false;

		if (!fuse_ll_mountinfo(pm_mountpoint, type, sizeof(type),
				       &ro) ||
		    !ro) {
			snprintf(rm.msg, sizeof(rm.msg),
				 "the kernel's mount is still read-write "
				 "(use mount -o remount,ro)");
			rm.err = EBUSY;
			fuse_reply_ioctl(req, 0, &rm, sizeof(rm));
			return;
		}
	}
	err = fs_remount(req_fs(req), rm.rdonly != 0, rm.msg, sizeof(rm.msg));
	if (!err)
		fs_set_atime(req_fs(req), rm.atime);
	rm.err = (uint32_t)-err;
	fuse_reply_ioctl(req, 0, &rm, sizeof(rm));
}

/* PMFS_IOC_MODE (rule (11)): whether the writeback cache is on, and
 * whether the mount asked for io_uring. */
static void do_mode_ioctl(fuse_req_t req, size_t out_bufsz)
{
	struct pmfs_mode m;

	if (out_bufsz < sizeof(m)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.writeback = pm_writeback;
	m.io_uring = pm_io_uring;
	fuse_reply_ioctl(req, 0, &m, sizeof(m));
}

/* PMFS_IOC_REQ_COUNTS: the requests read so far (transport.h (3));
 * PMFS_IOC_REMOUNT; PMFS_IOC_MODE; other commands are not pmfs's. */
static void pm_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned cmd, void *arg,
		     struct fuse_file_info *fi, unsigned flags,
		     const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	struct pmfs_req_counts c;

	(void)ino;
	(void)arg;
	(void)fi;
	if (cmd == PMFS_IOC_REMOUNT && !(flags & FUSE_IOCTL_COMPAT)) {
		do_remount_ioctl(req, in_buf, in_bufsz, out_bufsz);
		return;
	}
	if (cmd == PMFS_IOC_MODE && !(flags & FUSE_IOCTL_COMPAT)) {
		do_mode_ioctl(req, out_bufsz);
		return;
	}
	if (cmd != PMFS_IOC_REQ_COUNTS || (flags & FUSE_IOCTL_COMPAT)) {
		fuse_reply_err(req, ENOTTY);
		return;
	}
	if (out_bufsz < sizeof(c)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	transport_counts(&c);
	fuse_reply_ioctl(req, 0, &c, sizeof(c));
}

static const struct fuse_lowlevel_ops pm_ops = {
	.init = pm_init,
	.lookup = pm_lookup,
	.forget = pm_forget,
	.forget_multi = pm_forget_multi,
	.getattr = pm_getattr,
	.setattr = pm_setattr,
	.readlink = pm_readlink,
	.mknod = pm_mknod,
	.mkdir = pm_mkdir,
	.unlink = pm_unlink,
	.rmdir = pm_rmdir,
	.symlink = pm_symlink,
	.rename = pm_rename,
	.link = pm_link,
	.open = pm_open,
	.create = pm_create,
	.read = pm_read,
	.write_buf = pm_write_buf,
	.flush = pm_flush,
	.release = pm_release,
	.fsync = pm_fsync,
	.opendir = pm_opendir,
	.readdir = pm_readdir,
	.readdirplus = pm_readdirplus,
	.releasedir = pm_releasedir,
	.fsyncdir = pm_fsyncdir,
	.statfs = pm_statfs,
	.setxattr = pm_setxattr,
	.getxattr = pm_getxattr,
	.listxattr = pm_listxattr,
	.removexattr = pm_removexattr,
	.fallocate = pm_fallocate,
	.lseek = pm_lseek,
	.copy_file_range = pm_copy_file_range,
	.ioctl = pm_ioctl,
};

/* ---- session ------------------------------------------------------------ */

/* Undo mountinfo's octal escapes (\040 for a space...) in place. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++, o++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				    (s[3] - '0'));
			s += 3;
		} else {
			*o = *s;
		}
	}
	*o = 0;
}

bool fuse_ll_mountinfo(const char *dir, char *type, size_t n, bool *rdonly)
{
	char line[3 * PATH_MAX];
	bool found = false;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		char *mp, *sep, *save = NULL, *t;
		int i = 0;

		char *opts;

		for (mp = strtok_r(line, " ", &save); mp && i < 4; i++)
			mp = strtok_r(NULL, " ", &save);
		opts = mp ? strtok_r(NULL, " ", &save) : NULL;
		if (!mp || !opts || !save)
			continue;
		/* optional fields, then "- TYPE SOURCE SUPEROPTS" */
		sep = !strncmp(save, "- ", 2) ? save : strstr(save, " - ");
		if (!sep)
			continue;
		unescape(mp);
		t = strtok_r(sep + (*sep == '-' ? 2 : 3), " ", &save);
		if (t && !strcmp(mp, dir)) {
			snprintf(type, n, "%s", t);
			if (rdonly) /* per-mount options: "ro" or "rw" first */
				*rdonly = !strncmp(opts, "ro", 2) &&
					  (opts[2] == ',' || !opts[2]);
			found = true;
		}
	}
	fclose(f);
	return found;
}


/* Kernel mount options from the parsed mount.pmfs options. */
static int build_mount_opts(const struct pmfs_mount_opts *o, char **opts)
{
	char *fsname = NULL;
	int r;

	*opts = NULL;
	if (asprintf(&fsname, "fsname=%s", o->device) < 0)
		return -ENOMEM;
	r = fuse_opt_add_opt_escaped(opts, fsname);
	free(fsname);
	if (!r)
		r = fuse_opt_add_opt(opts, "subtype=pmfs,default_permissions");
	if (!r)
		r = fuse_opt_add_opt(opts, o->rdonly ? "ro" : "rw");
	if (!r && o->allow_other)
		r = fuse_opt_add_opt(opts, "allow_other");
	if (!r)
		r = fuse_opt_add_opt(opts, o->dev ? "dev" : "nodev");
	if (!r)
		r = fuse_opt_add_opt(opts, o->suid ? "suid" : "nosuid");
	if (!r)
		r = fuse_opt_add_opt(opts, o->noexec ? "noexec" : "exec");
	if (!r && o->sync)
		r = fuse_opt_add_opt(opts, "sync");
	if (!r && o->dirsync)
		r = fuse_opt_add_opt(opts, "dirsync");
	/* The kernel never updates a FUSE inode's atime (S_NOATIME): pmfs
	 * keeps atime itself and the kernel flag only shows the mode in
	 * /proc/mounts.  libfuse 3.14 passes noatime on and refuses
	 * strictatime, nodiratime and lazytime, so only noatime is shown. */
	if (!r && o->atime == PMFS_ATIME_NOATIME)
		r = fuse_opt_add_opt(opts, "noatime");
	return r ? -ENOMEM : 0;
}

int fuse_ll_mount(struct fs *fs, const struct pmfs_mount_opts *o,
		  struct fuse_ll **out)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct transport_opts tr = { 0 };
	struct fuse_ll *ll = calloc(1, sizeof(*ll));
	char *opts = NULL;
	int err = ll ? build_mount_opts(o, &opts) : -ENOMEM;

	if (!err && (fuse_opt_add_arg(&args, "mount.pmfs") ||
		     (o->debug && fuse_opt_add_arg(&args, "-d")) ||
		     fuse_opt_add_arg(&args, "-o") ||
		     fuse_opt_add_arg(&args, opts)))
		err = -ENOMEM;
	if (err) {
		fprintf(stderr, "mount.pmfs: %s\n", strerror(-err));
		goto out_free;
	}
	ll->fs = fs;
	ll->singlethread = o->singlethread;
	snprintf(pm_mountpoint, sizeof(pm_mountpoint), "%s", o->mountpoint);
	pm_want_writeback = o->writeback;
	pm_io_uring = o->io_uring;
	ll->se = fuse_session_new(&args, &pm_ops, sizeof(pm_ops), fs);
	if (!ll->se) {
		err = -EINVAL; /* libfuse printed why */
		goto out_free;
	}
	if (fuse_set_signal_handlers(ll->se) != 0) {
		fprintf(stderr, "mount.pmfs: cannot install signal handlers\n");
		err = -EIO;
		goto out_session;
	}
	ll->signals = true;
	if (fuse_session_mount(ll->se, o->mountpoint) != 0) {
		err = -EIO; /* libfuse printed why */
		goto out_session;
	}
	ll->mounted = true;
	tr.killpriv_v2 = !o->no_killpriv_v2;
	tr.io_uring = o->io_uring;
	err = transport_install(ll->se, &tr); /* printed why */
	if (err) {
		fuse_session_unmount(ll->se);
		goto out_session;
	}
	fuse_opt_free_args(&args);
	free(opts);
	*out = ll;
	return 0;

out_session:
	if (ll->signals)
		fuse_remove_signal_handlers(ll->se);
	fuse_session_destroy(ll->se);
out_free:
	fuse_opt_free_args(&args);
	free(opts);
	free(ll);
	return err;
}

/*
 * Worker threads of the multi-threaded loop: one per CPU, at least 2 and
 * at most PM_MAX_THREADS.  The kernel hands requests to waiting readers in
 * turn, so with libfuse's default of 10 workers a single client's
 * requests are served by a different, cache-cold thread each time; on 2
 * CPUs that cost 1.7-1.9 times the daemon CPU time of one thread for
 * metadata work (bench/meta), and one worker per CPU brought it back to
 * within 15 %.  Threads are never retired (libfuse's default
 * max_idle_threads): with max_idle_threads 1, creating a thread per burst
 * made small requests 3-5 times slower.
 */
static unsigned loop_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 2)
		return 2;
	return n > PM_MAX_THREADS ? PM_MAX_THREADS : (unsigned)n;
}

/*
 * After libfuse's loop: 1. the rings serve no more requests, so none can
 * queue a deferred reply; 2. the invalidation thread answers what it
 * holds (rule (8)), through the rings' threads; 3. the rings close.
 */
static void loop_end(void)
{
	transport_stop();  /* 1. */
	inval_stop();      /* 2. */
	transport_close(); /* 3. */
}

int fuse_ll_loop(struct fuse_ll *ll)
{
	struct fuse_loop_config *cfg;
	int r;

	/* started here, after mount.pmfs detached: rule (8) */
	r = inval_start(ll->se);
	if (r) {
		fprintf(stderr, "mount.pmfs: cannot start a thread: %s\n",
			strerror(-r));
		return r;
	}
	if (ll->singlethread) {
		r = fuse_session_loop(ll->se);
		loop_end();
		return r < 0 ? -EIO : 0;
	}
	cfg = fuse_loop_cfg_create();
	if (!cfg) {
		loop_end();
		return -ENOMEM;
	}
	/* one /dev/fuse for all workers: cloned fds measured no faster */
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_max_threads(cfg, loop_threads());
	r = fuse_session_loop_mt(ll->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	loop_end();
	/* > 0: ended by SIGTERM/SIGINT/SIGHUP, a normal end */
	return r < 0 ? -EIO : 0;
}

void fuse_ll_unmount(struct fuse_ll *ll)
{
	if (!ll)
		return;
	if (ll->mounted)
		fuse_session_unmount(ll->se);
	if (ll->signals)
		fuse_remove_signal_handlers(ll->se);
	fuse_session_destroy(ll->se);
	dirs_free();
	free(ll);
}

__attribute__((format(printf, 2, 0))) static void
log_syslog(enum fuse_log_level level, const char *fmt, va_list ap)
{
	vsyslog((int)level, fmt, ap);
}

void fuse_ll_log_to_syslog(void)
{
	fuse_set_log_func(log_syslog);
}
