/*
 * fuse_ll.h - the FUSE low-level glue's small interface to mount.pmfs.
 *
 * Owns: turning a mounted struct fs into a FUSE session (kernel mount
 * options, connection parameters, the struct fuse_lowlevel_ops table) and
 * running its request loop.  Only fuse_ll.c includes fuse_lowlevel.h; this
 * header names no libfuse type, so mount/ stays free of libfuse.
 *
 * Sequence used by mount.pmfs:
 *   fs_mount()            -- the namespace is open, locked and recovered
 *   fuse_ll_mount()       -- session created, kernel mount done
 *   (detach into the background, fuse_ll_log_to_syslog())
 *   fuse_ll_loop()        -- until umount, fusermount3 -u, SIGTERM/SIGINT
 *   fuse_ll_unmount()     -- kernel unmount, session destroyed
 *   fs_unmount()          -- clean flag written
 *
 * Durability: every request is answered only after the fs_* call that
 * serves it returned, i.e. after its commit point (fs.h).  By default
 * that makes every write durable when write(2) returns; with -o writeback
 * the kernel's page cache holds buffered and mmap writes until it writes
 * them back, and they are durable when fsync, fdatasync or msync returns,
 * or the O_SYNC/O_DSYNC write itself (fuse_ll.c (11)).
 */
#ifndef PMFS_FUSE_LL_H
#define PMFS_FUSE_LL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>

struct fs;
struct fuse_ll;

/* How atime is kept (also passed to the kernel as a mount flag). */
enum pmfs_atime {
	PMFS_ATIME_RELATIME = 0, /* default */
	PMFS_ATIME_NOATIME = 1,
	PMFS_ATIME_STRICT = 2,
};

/* Parsed mount.pmfs options; everything the glue needs to mount. */
struct pmfs_mount_opts {
	const char *device;     /* absolute path: shown as fsname */
	const char *mountpoint; /* absolute path */
	bool rdonly;            /* -o ro */
	bool allow_other;       /* -o allow_other */
	bool dev, suid, noexec; /* -o dev, -o suid, -o noexec (kernel) */
	bool sync, dirsync;     /* -o sync, -o dirsync (kernel) */
	enum pmfs_atime atime;
	bool nodiratime;        /* -o nodiratime: readdir keeps atime */
	bool debug;        /* -d: libfuse request tracing, implies foreground */
	bool foreground;   /* -f */
	bool singlethread; /* libfuse -s (single-threaded loop) */
	bool verbose;      /* -v */
	bool no_killpriv_v2; /* -o nokillpriv_v2: the kernel clears suid/sgid */
	bool noacl;          /* -o noacl: no POSIX ACLs (FS_O_ACL) */
	bool writeback;      /* -o writeback: the kernel's writeback cache */
	bool io_uring;       /* -o io_uring: FUSE-over-io_uring (transport.h) */
};

/*
 * Create the FUSE session for fs and mount it at o->mountpoint with
 * fsname = o->device and subtype pmfs (fuse.pmfs in /proc/mounts),
 * default_permissions always on.  Installs SIGTERM/SIGINT/SIGHUP handlers
 * that end the loop.  On failure prints a one-line message on stderr and
 * returns -errno; fs is left mounted (the caller unmounts it).
 */
/*
 * mount -o remount: the kernel never tells a FUSE daemon, so mount.pmfs
 * (run by mount(8) as mount.fuse.pmfs) reaches the daemon with this ioctl
 * on the mount's root: rdonly (1 or 0) and the atime mode in; err (0 or
 * an errno) and a one-line reason out.  Only a caller with CAP_SYS_ADMIN
 * may (EPERM).
 */
struct pmfs_remount {
	uint32_t rdonly;
	uint32_t atime; /* the atime mode: FS_ATIME_FLAGS (fs.h) */
	uint32_t err;
	char msg[244];
};
#define PMFS_IOC_REMOUNT _IOWR('P', 0x72, struct pmfs_remount)

/*
 * The daemon's mode, for mount -o remount: writeback is 1 when the kernel
 * took the writeback cache at INIT (-o writeback), else 0; io_uring is 1
 * when the mount was made with -o io_uring (whether or not the kernel let
 * the rings serve), else 0 (a daemon before it left the field 0).  Both
 * are fixed for the life of the mount, so a remount that names either
 * asks first and refuses a change.  Any caller may ask.
 */
struct pmfs_mode {
	uint32_t writeback;
	uint32_t io_uring;
	uint32_t reserved[2];
};
#define PMFS_IOC_MODE _IOR('P', 0x74, struct pmfs_mode)

/*
 * /proc/self/mountinfo on the mount at dir (the topmost): its type into
 * type (n bytes) and, if rdonly is given, whether the mount is read-only.
 * false when dir is no mount point.
 */
bool fuse_ll_mountinfo(const char *dir, char *type, size_t n, bool *rdonly);

int fuse_ll_mount(struct fs *fs, const struct pmfs_mount_opts *o,
		  struct fuse_ll **out);
/* Serve requests until unmounted or signalled; 0 on a normal end. */
int fuse_ll_loop(struct fuse_ll *ll);
/* Kernel unmount (if still mounted), restore signals, free the session. */
void fuse_ll_unmount(struct fuse_ll *ll);
/* Send libfuse's own messages to syslog (after detaching). */
void fuse_ll_log_to_syslog(void);

#endif /* PMFS_FUSE_LL_H */
