/*
 * fs.h - filesystem semantics on top of the per-inode logs: the API the
 * FUSE glue, fsck.pmfs, the crash harness and the benchmarks call.
 *
 * Owns: mount (recovery) and clean unmount of a namespace; lookup, create,
 * unlink, link, rename, symlinks, xattrs, read, write, truncate, fallocate,
 * attributes, statfs; the DRAM indexes (directory name -> entry, file
 * offset -> block) built from the logs on first use; inode lifetime
 * (kernel lookup counts, orphans).
 *
 * Conventions: every function returns 0 or -errno.  Inode numbers are the
 * on-media slot numbers; PMFS_ROOT_INO (1) is the root.  When a mutating
 * call returns 0 its change is durable (every call is synchronous).  After
 * a failure part-way through a persist, the filesystem turns read-only
 * (every later mutating call returns -EROFS) rather than guess.
 *
 * Concurrency: calls on different inodes run in parallel.  Every DRAM
 * inode has a rwlock; reads (lookup, getattr, read, readdir, readlink,
 * getxattr, listxattr, lseek) hold one inode's read lock at a time;
 * changes write-lock every inode they touch.  Journal lanes are taken per
 * operation (a free one, else the thread's own), the allocator has one
 * range and mutex per lane and steals from the others when its own runs
 * dry.  fs_unmount and fs_abandon must not race with other calls.
 *
 * Lock order (outermost first; every path takes a prefix of it; code
 * cites it as order (n)):
 *   (1) fs->rename_mu: held by a rename between two different directories
 *       for the whole call, so that the ancestor check (a directory is not
 *       moved below itself) sees a tree no other rename changes (the
 *       parent of a directory changes only under it; like Linux's
 *       s_vfs_rename_mutex).
 *   (2) inode rwlocks, write-locked in increasing inode number
 *       (fs_ls_lock) after the names were resolved under short read locks
 *       and re-validated after locking; readers (lookup, getattr, read,
 *       readdir, readlink, xattr reads, lseek, log_pages) hold one
 *       inode's read lock at a time, never two.  A new inode is locked
 *       before it enters the cache, when nobody can hold it, so out of
 *       order is safe.  The GC thread takes the write lock of the log it
 *       compacts; an inline compaction (fs_op_commit) runs under the
 *       operation's locks.
 *   (2b) fs->remount_lk, a rwlock: fs_remount holds it exclusively (and
 *       fs->remount_mu, taken before it, around the whole remount,
 *       outside every inode lock); the changes pmfs makes by itself
 *       (atime, the reclaim at the last forget) only try it shared
 *       (fs_bg_begin) with an inode lock held, and skip the change if
 *       they cannot have it, so they never wait for it.
 *   (3) fs->itable_mu (growing the inode table, fs_op_new_inode)
 *   (4) fs->icache_lk, a rwlock: the inode cache hash and loading an inode
 *       from its log (fs_iget: shared to find, exclusive to insert/load).
 *       Inode references (atomic) keep a DRAM inode alive while a thread
 *       waits for its lock; a freed inode is unhashed and marked dead, and
 *       its memory goes with the last reference.
 *   (5) a journal lane's mutex (log.h), held only around jnl_commit;
 *       LOG(7) bookkeeping may trylock another lane, never waits for one.
 *   (6) fs->gc_mu (the GC queue)
 *   (7) alloc lane mutexes, inode-number mutex (leaves, alloc.h)
 *   fs->big is taken only by fs_unmount (exclusive; callers must have
 *   stopped calling by then).
 *
 * atime: relatime by default (a read or readdir updates atime when it is
 * not newer than mtime or ctime, or a day old: one ATTR entry, 2 fences,
 * none when relatime says no); FS_O_STRICTATIME on every read;
 * FS_O_NOATIME never; FS_O_NODIRATIME never for directories.  Directories report st_size = the bytes of their
 * entries in the log (plus "." and ".."), st_blocks = their log pages.
 *
 * Crash invariants (on top of LOG(1)..(8) in log.h):
 *  FS(1) every change is one commit: LOG(4) for one inode (write,
 *        truncate, setattr, xattr set/remove, fallocate: 2 fences) or the
 *        journal LOG(5) for several (mknod, mkdir, symlink, link, unlink,
 *        rmdir, rename of every kind: 3 fences); DRAM changes only after
 *        the commit, by applying the very entries that were written
 *        (fs_apply), so DRAM always equals a replay of the logs;
 *  FS(2) blocks and log pages made unreachable by a change are freed (in
 *        DRAM) only after its commit is durable; a failed operation frees
 *        only what it allocated itself;
 *  FS(3) a new inode is made by LOG(8): slot head/gen while its tail is
 *        0, the tail from the journal;
 *  FS(4) a failure after a partial persist (between the first flush and
 *        the commit's last drain) makes the mount read-only, sticky: it
 *        never guesses.
 * Mount: journals re-applied (recov_journals), then either the saved
 * allocator state (clean) or a rebuild from every log, reclaiming inodes
 * with nlink 0 (orphans) through the journal; clean is cleared (commit +
 * drain) before the first change.  Recovery is itself crash-safe.
 */
#ifndef PMFS_FS_H
#define PMFS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "format/fmt.h"

struct fs;
struct pmio;

/* fs_opts.flags */
#define FS_O_RDONLY 0x01   /* no change reaches the media */
#define FS_O_REFCOUNT 0x02 /* entry-returning calls take a lookup ref
			    * (FUSE); unlinked inodes live until forgotten */
#define FS_O_NOATIME 0x04
#define FS_O_STRICTATIME 0x08 /* default is relatime */
#define FS_O_QUIET 0x10 /* fs_mount: no warnings from pmemio (PMIO_O_QUIET),
			 * e.g. "not DAX storage" */
#define FS_O_NODIRATIME 0x20 /* readdir leaves a directory's atime */
#define FS_O_ACL 0x40 /* POSIX ACLs (fs_acl.c): the xattrs
		       * system.posix_acl_access/default keep the mode in
		       * step, are inherited at create; umask from fs_ctx */

/* The atime flags: none of them is relatime. */
#define FS_ATIME_FLAGS (FS_O_NOATIME | FS_O_STRICTATIME | FS_O_NODIRATIME)

struct fs_opts {
	unsigned flags;
	unsigned recovery_threads; /* 0 = number of CPUs */
};

/* What mount found and did; filled by fs_mount*(). */
struct fs_mount_info {
	bool was_clean;             /* fast path taken */
	uint64_t journals_replayed; /* active journals re-applied */
	uint64_t orphans_freed;     /* nlink 0 inodes reclaimed */
	uint64_t inodes;            /* inodes in use */
	uint64_t free_blocks;
	uint64_t warnings; /* damage the mount went on with (each one
			    * printed on stderr); fsck.pmfs repairs it */
};

/* Caller identity for new files and permission-sensitive changes. */
struct fs_ctx {
	uint32_t uid;
	uint32_t gid;
	/* FS_O_ACL: the creating process's umask, applied by pmfs when the
	 * directory has no default ACL (with ACLs on the kernel leaves it) */
	uint32_t umask;
};

struct fs_attr {
	uint64_t ino;
	uint32_t gen;
	uint32_t mode;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	uint64_t blocks; /* 512-byte units allocated */
	uint64_t rdev;
	struct timespec atime, mtime, ctime, btime;
};

/* fs_setattr.valid */
#define FS_SET_MODE 0x001
#define FS_SET_UID 0x002
#define FS_SET_GID 0x004
#define FS_SET_SIZE 0x008
#define FS_SET_ATIME 0x010
#define FS_SET_MTIME 0x020
#define FS_SET_ATIME_NOW 0x040
#define FS_SET_MTIME_NOW 0x080
#define FS_SET_CTIME 0x100
/* Clear setuid, and setgid if the file is group-executable (without
 * group execute, setgid marks mandatory locking and stays), as the
 * kernel's VFS does on write, truncate and chown. */
#define FS_SET_KILL_SUID 0x200

struct fs_setattr {
	unsigned valid;
	uint32_t mode, uid, gid;
	uint64_t size;
	struct timespec atime, mtime, ctime;
};

/* ---- lifetime ---------------------------------------------------------- */

/* Open the namespace at path, recover if needed, and mount it. */
int fs_mount(const char *path, const struct fs_opts *o, struct fs **out,
	     struct fs_mount_info *info, char *err, size_t errlen);
/* Mount an already-open mapping (tests, the crash harness, fsck). */
int fs_mount_pmio(struct pmio *p, const struct fs_opts *o, struct fs **out,
		  struct fs_mount_info *info, char *err, size_t errlen);
/*
 * Remount read-only or read-write (mount -o remount).  Read-only: the log
 * GC stops, the clean state is written as at unmount (not while an
 * unlinked file is still held: the next mount reclaims it), the mapping
 * turns read-only and every later change returns -EROFS.  Read-write: the
 * mapping turns writable (fs_mount opens the device of a read-only mount
 * read-write when permitted, so it can), the filesystem is marked not clean
 * before the first change, orphans a read-only mount after a crash kept
 * are reclaimed and the GC starts.  The caller has stopped every request
 * that changes the filesystem (the kernel's own remount refuses while a
 * file is open for writing and waits for system calls that write); the
 * changes pmfs makes by itself (atime on read, the reclaim at the last
 * forget) are skipped while it runs.  0 (also when already so), or -EROFS
 * / -EUCLEAN with a one-line reason in err (read-write refused: the
 * device is open read-only, an error made the mount read-only, or the
 * bad-block table is damaged).
 */
int fs_remount(struct fs *fs, bool rdonly, char *err, size_t errlen);
/* From now on, the atime mode of flags (its FS_ATIME_FLAGS; a remount's
 * noatime, relatime, strictatime, nodiratime). */
void fs_set_atime(struct fs *fs, unsigned flags);
/* Clean unmount: save allocator state, set the clean flag, unmap. */
int fs_unmount(struct fs *fs);
/* Drop DRAM state without touching media (a simulated crash in tests).
 * Does not close the pmio of fs_mount_pmio(). */
void fs_abandon(struct fs *fs);
struct pmio *fs_pmio(struct fs *fs);
/*
 * Damage found in the media since the mount: logs that do not pass the
 * validators (their inode answers -EIO), directory entries naming an inode
 * that is not theirs, blocks on the bad-block list.  Each is reported once
 * on stderr with "run fsck.pmfs"; this counts them (the mount warnings
 * not included).
 */
uint64_t fs_media_errors(struct fs *fs);
/* Blocks the mount made present ahead of the allocator so far (the
 * operations then store to them without a page fault; fs_ahead.c). */
uint64_t fs_ahead_blocks(struct fs *fs);

/* ---- making a filesystem (fs_mkfs.c) ----------------------------------- */

struct fs_mkfs_opts {
	uint8_t uuid[16];
	const char *label;   /* NULL or at most PMFS_LABEL_MAX bytes */
	uint64_t mkfs_time;  /* seconds since the epoch */
	const uint64_t *bad; /* blocks kept out of use: sorted, unique */
	size_t nbad;
	uint32_t incompat; /* PMFS_FEATURE_INCOMPAT_* (FS_MKFS_FEATURES) */
};

/* The features mkfs.pmfs gives a new filesystem unless told otherwise. */
#define FS_MKFS_FEATURES PMFS_FEATURE_INCOMPAT_LARGE_XATTR

struct fs_mkfs_info {
	struct fmt_geometry g; /* the layout */
	uint64_t chunk0;       /* first block of inode-table chunk 0 */
	uint64_t free_blocks;  /* free after mkfs */
	size_t nbad;
};

/*
 * Make a filesystem on the namespace of ns_bytes mapped at p (a fresh one
 * or over whatever is there: the caller decided), or with p NULL only plan
 * it.  The steps are at the top of fs_mkfs.c: the superblocks go first,
 * come back last.  0 with *info filled, durable; else -EINVAL (too
 * small), -ERANGE (a bad block outside the data area, or too many),
 * -ENAMETOOLONG (label), -ENOSPC (no room for the initial filesystem) or
 * -ENOMEM, with a one-line reason in err.
 */
int fs_mkfs(struct pmio *p, uint64_t ns_bytes, const struct fs_mkfs_opts *o,
	    struct fs_mkfs_info *info, char *err, size_t errlen);

/* ---- names ------------------------------------------------------------- */

int fs_lookup(struct fs *fs, uint64_t parent, const char *name,
	      struct fs_attr *out);
/*
 * The inode numbered ino itself, of any type, counted as a lookup like
 * fs_lookup's (file handles: the kernel asks for an inode it has dropped
 * by number, as a lookup of "." in it).  -ESTALE when no inode of that
 * number is in use, or when it is unlinked (nlink 0, as ext4 answers a
 * handle of a deleted file); the caller compares the generation.
 */
int fs_lookup_ino(struct fs *fs, uint64_t ino, struct fs_attr *out);
/* Drop nlookup kernel references (FS_O_REFCOUNT). */
void fs_forget(struct fs *fs, uint64_t ino, uint64_t nlookup);

int fs_getattr(struct fs *fs, uint64_t ino, struct fs_attr *out);
int fs_setattr(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino,
	       const struct fs_setattr *sa, struct fs_attr *out);

/* Regular files, fifos, sockets, device nodes (type in mode). */
int fs_mknod(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent,
	     const char *name, uint32_t mode, uint64_t rdev,
	     struct fs_attr *out);
int fs_mkdir(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent,
	     const char *name, uint32_t mode, struct fs_attr *out);
int fs_symlink(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent,
	       const char *name, const char *target, struct fs_attr *out);
/* Copy the target (not NUL-terminated) into buf; *len = its length. */
int fs_readlink(struct fs *fs, uint64_t ino, char *buf, size_t bufsz,
		size_t *len);
int fs_unlink(struct fs *fs, uint64_t parent, const char *name);
int fs_rmdir(struct fs *fs, uint64_t parent, const char *name);
int fs_link(struct fs *fs, uint64_t ino, uint64_t newparent,
	    const char *newname, struct fs_attr *out);
/* flags: 0, RENAME_NOREPLACE or RENAME_EXCHANGE. */
int fs_rename(struct fs *fs, uint64_t parent, const char *name,
	      uint64_t newparent, const char *newname, unsigned flags);
/*
 * fs_rename that also takes RENAME_WHITEOUT (alone or with
 * RENAME_NOREPLACE), as overlayfs asks of its upper layer: in the same
 * commit, the old name then names a new whiteout, a character device 0:0
 * of mode 0 owned by ctx (uid/gid 0 when NULL; the directory's group
 * when it is setgid).
 */
int fs_rename_ctx(struct fs *fs, const struct fs_ctx *ctx, uint64_t parent,
		  const char *name, uint64_t newparent, const char *newname,
		  unsigned flags);

/*
 * Directory listing from position `cookie` (0 = start; "." and ".." are
 * not listed).  fill() is called per entry with the cookie to resume after
 * it; a non-zero return from fill stops the walk (and is not an error).
 * Cookies stay valid while the directory changes.  fill() runs with the
 * directory read-locked: it must not call back into fs_* (collect, then
 * look up after, as the FUSE glue does).
 */
typedef int (*fs_fill_fn)(void *arg, const char *name, uint64_t ino,
			  unsigned dtype, uint64_t next_cookie);
int fs_readdir(struct fs *fs, uint64_t ino, uint64_t cookie, fs_fill_fn fill,
	       void *arg);
/*
 * fs_readdir, stopping after cookie `end`.  Every entry added gets a
 * cookie above all before it, also a name renamed away and back, and the
 * names a rename replaces or exchanges.  A listing that takes `end` from
 * fs_readdir_mark when it starts therefore ends, and lists each name that
 * stays in the directory untouched exactly once, however the directory
 * changes meanwhile (as btrfs does).
 */
int fs_readdir_upto(struct fs *fs, uint64_t ino, uint64_t cookie,
		    uint64_t end, fs_fill_fn fill, void *arg);
/* *mark = the highest cookie directory ino has given out so far. */
int fs_readdir_mark(struct fs *fs, uint64_t ino, uint64_t *mark);

/* ---- data -------------------------------------------------------------- */

/*
 * Read: sink() is called once with iovecs pointing into the mapping (holes
 * point at a shared page of zeros), while the inode is locked (read, or
 * write when an atime update committed just before), so the blocks
 * cannot be reused until sink returns; sink must not call back into fs_*
 * for that inode.  Returns sink's result.
 */
typedef int (*fs_sink_fn)(void *arg, const struct iovec *iov, int iovcnt,
			  size_t total);
int fs_read(struct fs *fs, uint64_t ino, uint64_t off, size_t len,
	    fs_sink_fn sink, void *arg);
/* Convenience: copy into buf; *nread bytes read (short at EOF). */
int fs_pread(struct fs *fs, uint64_t ino, void *buf, size_t len,
	     uint64_t off, size_t *nread);

/* fs_write flags */
#define FS_W_APPEND 0x1    /* write at the current end of file */
#define FS_W_KILL_SUID 0x2 /* FS_SET_KILL_SUID in the write's own commit */
#define FS_W_KEEP_TIMES 0x4 /* mtime and ctime stay (the kernel's writeback
			     * cache owns them and sends them in a setattr) */

/* Atomic write of the whole buffer, with the mode change of
 * FS_W_KILL_SUID if asked (the FUSE glue asks when the kernel leaves the
 * clearing to pmfs); ctx is not used. */
int fs_write(struct fs *fs, const struct fs_ctx *ctx, uint64_t ino,
	     const struct iovec *iov, int iovcnt, uint64_t off,
	     unsigned flags, size_t *written);
int fs_pwrite(struct fs *fs, uint64_t ino, const void *buf, size_t len,
	      uint64_t off);
/* mode: 0, FALLOC_FL_KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE[|KEEP]. */
int fs_fallocate(struct fs *fs, uint64_t ino, int mode, uint64_t off,
		 uint64_t len);
/* whence: SEEK_DATA or SEEK_HOLE; -ENXIO past the data / end. */
int fs_lseek(struct fs *fs, uint64_t ino, uint64_t off, int whence,
	     uint64_t *result);

/* ---- xattrs ------------------------------------------------------------ */

/* flags: 0, XATTR_CREATE, XATTR_REPLACE */
int fs_setxattr(struct fs *fs, uint64_t ino, const char *name,
		const void *value, size_t size, int flags);
/* size 0: *len = value size only; too small: -ERANGE; none: -ENODATA */
int fs_getxattr(struct fs *fs, uint64_t ino, const char *name, void *buf,
		size_t size, size_t *len);
/* NUL-separated names, same size rules */
int fs_listxattr(struct fs *fs, uint64_t ino, char *buf, size_t size,
		 size_t *len);
int fs_removexattr(struct fs *fs, uint64_t ino, const char *name);

/* ---- whole filesystem -------------------------------------------------- */

int fs_statfs(struct fs *fs, struct statvfs *st);
/* Mounted with FS_O_ACL, and not turned off since? */
bool fs_acl_on(const struct fs *fs);
/* ACLs off from now on: FUSE found the kernel cannot enforce them. */
void fs_acl_off(struct fs *fs);

/*
 * Log garbage collection runs by itself (a background thread per mount);
 * fs_gc compacts one inode's log now (tests, tools).  fs_log_pages gives
 * the pages in an inode's log chain.
 */
int fs_gc(struct fs *fs, uint64_t ino);
int fs_log_pages(struct fs *fs, uint64_t ino, uint64_t *pages);

#endif /* PMFS_FS_H */
