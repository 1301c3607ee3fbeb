/*
 * mount.c - main of mount.pmfs: parse the command line (libfuse style and
 * the mount(8) helper style), mount the namespace with fs_mount(), hand it
 * to the FUSE glue (fuse_ll.h), and unmount it cleanly with
 * fs_unmount() when the kernel unmounts or a signal arrives.
 *
 *   mount.pmfs [-fdsv] [-o opts] DEVICE MOUNTPOINT     (libfuse style)
 *   mount.pmfs SPEC DIR [-sfnv] [-o opts]              (mount(8) helper)
 *
 * -s clashes: libfuse's -s is "single-threaded", a mount(8) helper's -s is
 * "sloppy" (ignore unknown options).  Resolved by position: -s after the
 * two operands (where mount(8) puts it) is sloppy, -s before them is
 * single-threaded; --sloppy and --single-thread say it unambiguously.
 *
 * Background: unless -f or -d, the process forks before mounting; the
 * child does all the work and tells the waiting parent the outcome only
 * once the kernel mount exists, so every error reaches the terminal and
 * the exit code, and mount(8) returns only when the mount is usable.  The
 * child then detaches (setsid, stdio on /dev/null) and logs to syslog
 * (or to the console when no syslog daemon listens).
 * Forking before fs_mount (not after, as fuse_daemonize would) keeps any
 * thread the core starts at mount alive.  The background child is itself
 * run by a small supervisor process that waits for it and logs how it
 * ended when a signal ended it (SIGBUS on a bad block, SIGSEGV, SIGKILL,
 * the OOM killer): the mount is then gone without a clean unmount, and the
 * next mount's recovery must not come as a surprise.
 *
 * Remount: `mount -o remount,ro DIR` runs this helper with the mounted
 * source, DIR and the merged options (remount among them).  The kernel
 * never tells a FUSE daemon of a remount, so the helper does both halves:
 * mount(2) with MS_REMOUNT for the kernel's flags, and PMFS_IOC_REMOUNT
 * (fuse_ll.h) on DIR for the daemon, which then refuses every change
 * (EROFS) and writes the clean state, or marks the filesystem in use
 * again.  Read-only: the kernel first (it refuses while a file is open
 * for writing, and once it is read-only no request that writes comes),
 * then the daemon.  Read-write: the daemon first (it may refuse: a
 * write-protected device), then the kernel; if the kernel refuses, the
 * daemon goes back to read-only.  The writeback cache (-o writeback) is
 * the kernel's choice at INIT and stays for the life of the mount: a
 * remount naming writeback or nowriteback is refused before anything
 * changes unless it names the mode the mount has (PMFS_IOC_MODE); so is
 * one naming io_uring or noio_uring unless it names the mount's.  Under
 * the cache, read-only waits for the cache's writeback (fsync_tree)
 * between the kernel and the daemon.
 *
 * Exit codes follow mount(8): 0 mounted, 1 bad usage (unknown option...),
 * 32 mount failure (device, mountpoint, filesystem).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fuse_ll.h"
#include "pmemio/pmemio.h"

#define EX_OK 0
#define EX_USAGE 1
#define EX_FAIL 32

struct cmdline {
	struct pmfs_mount_opts mo;
	const char *dev;  /* as given */
	const char *dir;  /* as given */
	bool sloppy;      /* mount(8) -s: ignore unknown options */
	bool remount;     /* -o remount: change a mount (see the top) */
	bool wb_named;    /* writeback or nowriteback given (remount) */
	bool ring_named;  /* io_uring or noio_uring given (remount) */
	bool help, version;
};

static bool use_syslog;

__attribute__((format(printf, 1, 2))) static void msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (use_syslog) {
		vsyslog(LOG_ERR, fmt, ap);
	} else {
		fputs("mount.pmfs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

/* Print the usage to fp. */
static void usage(FILE *f)
{
	fputs("usage: mount.pmfs [-fdsv] [-o options] DEVICE MOUNTPOINT\n"
	      "       mount.pmfs DEVICE MOUNTPOINT [-sfnv] [-o options]\n"
	      "  -f  foreground        -d  FUSE debug output (implies -f)\n"
	      "  -s  before DEVICE: single-threaded; after MOUNTPOINT: sloppy\n"
	      "  -n  no mtab (ignored) -v  verbose  -h  help  -V  version\n"
	      "options: ro rw allow_other noatime relatime strictatime atime\n"
	      "  norelatime nostrictatime diratime nodiratime lazytime\n"
	      "  nolazytime dev nodev suid nosuid exec noexec sync async\n"
	      "  dirsync default_permissions (always on) killpriv_v2\n"
	      "  nokillpriv_v2, acl noacl, writeback nowriteback, io_uring\n"
	      "  noio_uring, remount, and those of mount(8) and fstab(5); see\n"
	      "  mount.pmfs(8)\n",
	      f);
}

/*
 * Options that mean nothing to pmfs: those of mount(8) and fstab(5) that
 * mount(8), systemd or the boot scripts act on (who may mount, when, what
 * to do on failure), default_permissions (always on), and lazytime (every
 * change, atime included, is durable when made).
 */
static bool ignored_opt(const char *o)
{
	static const char *const names[] = {
		"defaults", "default_permissions", "auto", "noauto", "nofail",
		"_netdev", "user", "nouser", "users", "owner", "group",
		"lazytime", "nolazytime", NULL,
	};

	for (int i = 0; names[i]; i++)
		if (!strcmp(o, names[i]))
			return true;
	/* user_id= and group_id=: the FUSE kernel options of a mount, which
	 * mount(8) passes back on a remount */
	return !strncmp(o, "x-", 2) || !strncmp(o, "comment=", 8) ||
	       !strncmp(o, "user=", 5) || !strncmp(o, "user_id=", 8) ||
	       !strncmp(o, "group_id=", 9);
}

/* Apply one -o word; 0, or -EINVAL after a message. */
static int apply_opt(struct cmdline *c, const char *o)
{
	struct pmfs_mount_opts *m = &c->mo;

	if (!*o || ignored_opt(o))
		return 0;
	if (!strcmp(o, "ro"))
		m->rdonly = true;
	else if (!strcmp(o, "rw"))
		m->rdonly = false;
	else if (!strcmp(o, "allow_other"))
		m->allow_other = true;
	else if (!strcmp(o, "noatime"))
		m->atime = PMFS_ATIME_NOATIME;
	else if (!strcmp(o, "relatime") || !strcmp(o, "atime") ||
		 !strcmp(o, "nostrictatime"))
		m->atime = PMFS_ATIME_RELATIME;
	else if (!strcmp(o, "strictatime") || !strcmp(o, "norelatime"))
		m->atime = PMFS_ATIME_STRICT;
	else if (!strcmp(o, "diratime") || !strcmp(o, "nodiratime"))
		m->nodiratime = o[0] == 'n';
	else if (!strcmp(o, "sync") || !strcmp(o, "async"))
		m->sync = o[0] == 's';
	else if (!strcmp(o, "dirsync"))
		m->dirsync = true;
	else if (!strcmp(o, "dev") || !strcmp(o, "nodev"))
		m->dev = o[0] == 'd';
	else if (!strcmp(o, "suid") || !strcmp(o, "nosuid"))
		m->suid = o[0] == 's';
	else if (!strcmp(o, "exec") || !strcmp(o, "noexec"))
		m->noexec = o[0] == 'n';
	else if (!strcmp(o, "killpriv_v2") || !strcmp(o, "nokillpriv_v2"))
		m->no_killpriv_v2 = o[0] == 'n';
	else if (!strcmp(o, "remount"))
		c->remount = true;
	else if (!strcmp(o, "acl") || !strcmp(o, "noacl"))
		m->noacl = o[0] == 'n';
	else if (!strcmp(o, "writeback") || !strcmp(o, "nowriteback")) {
		m->writeback = o[0] == 'w';
		c->wb_named = true;
	} else if (!strcmp(o, "io_uring") || !strcmp(o, "noio_uring")) {
		m->io_uring = o[0] == 'i';
		c->ring_named = true;
	} else if (!c->sloppy) {
		msg("unknown mount option '%s' (see mount.pmfs(8))", o);
		return -EINVAL;
	}
	return 0;
}

/* Split a comma-separated -o argument; applied after all flags are read
 * so that a later -s (sloppy) covers earlier -o words. */
static int apply_opts(struct cmdline *c, const char *list)
{
	char *dup = strdup(list), *save = NULL, *w;
	int err = dup ? 0 : -ENOMEM;

	for (w = dup ? strtok_r(dup, ",", &save) : NULL; w && !err;
	     w = strtok_r(NULL, ",", &save))
		err = apply_opt(c, w);
	free(dup);
	return err;
}

/* Parse argv; 0, or the exit code after a message. */
static int parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	const char *optlists[64];
	int nopt = 0, noperand = 0;

	memset(c, 0, sizeof(*c));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "-o") || !strncmp(a, "-o", 2)) {
			const char *v = a[2] ? a + 2 : (i + 1 < argc ? argv[++i] : NULL);

			if (!v) {
				msg("option -o needs an argument");
				return EX_USAGE;
			}
			if (nopt == (int)(sizeof(optlists) / sizeof(optlists[0]))) {
				msg("too many -o options");
				return EX_USAGE;
			}
			optlists[nopt++] = v;
		} else if (!strcmp(a, "-t")) {
			/* mount(8) may name the type: only ours is accepted */
			const char *t = i + 1 < argc ? argv[++i] : "";

			if (strcmp(t, "pmfs") && strcmp(t, "fuse.pmfs")) {
				msg("filesystem type '%s' is not pmfs", t);
				return EX_USAGE;
			}
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			c->help = true;
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			c->version = true;
		} else if (!strcmp(a, "--sloppy")) {
			c->sloppy = true;
		} else if (!strcmp(a, "--single-thread")) {
			c->mo.singlethread = true;
		} else if (a[0] == '-' && a[1] && a[1] != '-') {
			for (const char *f = a + 1; *f; f++) {
				switch (*f) {
				case 'f':
					c->mo.foreground = true;
					break;
				case 'd':
					c->mo.debug = true;
					c->mo.foreground = true;
					break;
				case 's':
					if (noperand >= 2)
						c->sloppy = true;
					else
						c->mo.singlethread = true;
					break;
				case 'n':
					break; /* mtab is /proc/mounts */
				case 'v':
					c->mo.verbose = true;
					break;
				default:
					msg("unknown option '-%c' (see mount.pmfs(8))",
					    *f);
					return EX_USAGE;
				}
			}
		} else if (a[0] == '-' && a[1]) {
			msg("unknown option '%s' (see mount.pmfs(8))", a);
			return EX_USAGE;
		} else if (noperand == 0) {
			c->dev = a;
			noperand++;
		} else if (noperand == 1) {
			c->dir = a;
			noperand++;
		} else {
			msg("unexpected argument '%s'", a);
			return EX_USAGE;
		}
	}
	if (c->help || c->version)
		return 0;
	for (int i = 0; i < nopt; i++)
		if (apply_opts(c, optlists[i]))
			return EX_USAGE;
	if (noperand < 2) {
		msg("need a DEVICE and a MOUNTPOINT (see mount.pmfs -h)");
		return EX_USAGE;
	}
	return 0;
}

/* Resolve the operands; 0 or the exit code after a one-line message. */
static int check_paths(struct cmdline *c, char *dev, char *dir)
{
	struct stat st;

	if (!realpath(c->dev, dev)) {
		msg("%s: %s", c->dev, strerror(errno));
		return EX_FAIL;
	}
	if (!realpath(c->dir, dir) || stat(dir, &st) != 0) {
		msg("mountpoint %s: %s", c->dir, strerror(errno));
		return EX_FAIL;
	}
	if (!S_ISDIR(st.st_mode)) {
		msg("mountpoint %s: %s", c->dir, strerror(ENOTDIR));
		return EX_FAIL;
	}
	c->mo.device = dev;
	c->mo.mountpoint = dir;
	return 0;
}

/* Is dev the source of a mount in /proc/self/mounts? */
static bool dev_in_mounts(const char *dev)
{
	char want[PATH_MAX], line[3 * PATH_MAX];
	bool found = false;
	FILE *f;

	if (!realpath(dev, want))
		return false;
	f = fopen("/proc/self/mounts", "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');
		char real[PATH_MAX];

		if (!sp)
			continue;
		*sp = 0;
		found = strcmp(line, want) == 0 ||
			(realpath(line, real) && strcmp(real, want) == 0);
	}
	fclose(f);
	return found;
}

/*
 * The device lock is held: refuse at once when the device is mounted; else
 * the holder is a daemon finishing its clean unmount after umount(8)
 * returned, or fsck.pmfs, so wait for it a while (PMFS_LOCK_WAIT_MS).
 */
static bool wait_for_lock(const char *dev)
{
	const char *w = getenv("PMFS_LOCK_WAIT_MS");
	long ms = w && *w ? atol(w) : 10000;
	struct pmio *p;

	for (long waited = 0; waited < ms; waited += 50) {
		struct pmio_opts po = { .flags = PMIO_O_EXCL | PMIO_O_QUIET };

		if (dev_in_mounts(dev))
			return false;
		if (pmio_open(dev, &po, &p, NULL, 0) == 0) {
			pmio_close(p);
			return true;
		}
		usleep(50 * 1000);
	}
	return false;
}

/* The FS_O_* atime flags of the options. */
static unsigned atime_flags(const struct pmfs_mount_opts *mo)
{
	return (mo->atime == PMFS_ATIME_NOATIME	  ? FS_O_NOATIME
		: mo->atime == PMFS_ATIME_STRICT ? FS_O_STRICTATIME
						 : 0) |
	       (mo->nodiratime ? FS_O_NODIRATIME : 0);
}

/* fs_mount with the user's options; one-line messages on failure. */
static int mount_fs(const struct cmdline *c, struct fs **fs)
{
	struct fs_opts fo = { .flags = FS_O_REFCOUNT };
	struct fs_mount_info info;
	char err[512] = "";
	int r;

	if (c->mo.rdonly)
		fo.flags |= FS_O_RDONLY;
	fo.flags |= atime_flags(&c->mo);
	if (!c->mo.noacl)
		fo.flags |= FS_O_ACL;
	memset(&info, 0, sizeof(info));
	r = fs_mount(c->mo.device, &fo, fs, &info, err, sizeof(err));
	if (r == -EBUSY && wait_for_lock(c->mo.device)) {
		err[0] = 0;
		memset(&info, 0, sizeof(info));
		r = fs_mount(c->mo.device, &fo, fs, &info, err, sizeof(err));
	}
	if (r == -EBUSY) {
		msg("%s is already mounted (or in use by fsck.pmfs)",
		    c->mo.device);
		return EX_FAIL;
	}
	if (r == -ENOENT || r == -EACCES || r == -EPERM || r == -ENOMEM) {
		msg("%s: %s", c->mo.device, err[0] ? err : strerror(-r));
		return EX_FAIL;
	}
	if (r == -EINVAL && strstr(err, "not a pmfs")) {
		msg("%s: %s; make one with mkfs.pmfs", c->mo.device, err);
		return EX_FAIL;
	}
	if (r == -EUCLEAN) { /* damage: fsck.pmfs repairs it */
		msg("%s: %s; run fsck.pmfs %s", c->mo.device,
		    err[0] ? err : strerror(-r), c->mo.device);
		return EX_FAIL;
	}
	if (r) {
		msg("%s: %s", c->mo.device, err[0] ? err : strerror(-r));
		return EX_FAIL;
	}
	if (c->mo.verbose) {
		struct pmio *p = fs_pmio(*fs);

		printf("mount.pmfs: %s: store granularity %s, flush path %s\n",
		       c->mo.device, pmio_gran_name(pmio_gran(p)),
		       pmio_flush_path(p));
		printf("mount.pmfs: %s: %s mount, %llu journals replayed, "
		       "%llu orphans freed, %llu inodes, %llu free blocks\n",
		       c->mo.device, info.was_clean ? "clean" : "recovery",
		       (unsigned long long)info.journals_replayed,
		       (unsigned long long)info.orphans_freed,
		       (unsigned long long)info.inodes,
		       (unsigned long long)info.free_blocks);
		fflush(stdout);
	}
	return 0;
}

/* Leave the terminal and the caller's session: hold none of the caller's
 * descriptors (a reader of our stdout would otherwise wait until the
 * filesystem process ends), report through syslog from now on. */
static void leave_session(void)
{
	int nul;

	fflush(stdout);
	fflush(stderr);
	nul = open("/dev/null", O_RDWR);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		if (nul > 2)
			close(nul);
	}
	setsid();
	openlog("mount.pmfs", LOG_PID | LOG_CONS, LOG_DAEMON);
	use_syslog = true;
	if (chdir("/") != 0)
		msg("chdir /: %s", strerror(errno));
}

/* In the background filesystem process: leave the session, and have the
 * FUSE glue report through syslog too. */
static void detach(void)
{
	leave_session();
	fuse_ll_log_to_syslog();
}

/*
 * Parent side of the background start: wait for the child's verdict.
 * A byte on the pipe means mounted; EOF means the child exited (its
 * status is the exit code; it printed why).
 */
static int wait_child(pid_t pid, int rfd)
{
	char b;
	ssize_t n;
	int st;

	do
		n = read(rfd, &b, 1);
	while (n < 0 && errno == EINTR);
	if (n == 1)
		return EX_OK;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return EX_FAIL;
	if (WIFEXITED(st))
		return WEXITSTATUS(st) ? WEXITSTATUS(st) : EX_FAIL;
	return EX_FAIL;
}

/* Mount, serve, unmount: the whole life of the filesystem process. */
static int run(struct cmdline *c, int notify_fd)
{
	struct fuse_ll *ll = NULL;
	struct fs *fs = NULL;
	int r, ret = EX_OK;

	r = mount_fs(c, &fs);
	if (r)
		return r;
	if (fuse_ll_mount(fs, &c->mo, &ll) != 0) {
		fs_unmount(fs);
		return EX_FAIL;
	}
	if (c->mo.verbose)
		printf("mount.pmfs: %s mounted on %s%s%s\n", c->mo.device,
		       c->mo.mountpoint, c->mo.rdonly ? " read-only" : "",
		       c->mo.writeback ? ", writeback cache asked for" : "");
	if (notify_fd >= 0) {
		detach();
		if (write(notify_fd, "", 1) != 1)
			msg("cannot notify the parent: %s", strerror(errno));
		close(notify_fd);
	}
	fflush(stdout);
	if (fuse_ll_loop(ll) != 0) {
		msg("%s: FUSE session failed", c->mo.device);
		ret = EX_FAIL;
	}
	fuse_ll_unmount(ll);
	r = fs_unmount(fs);
	if (r) {
		msg("%s: clean unmount failed: %s; run fsck.pmfs %s",
		    c->mo.device, strerror(-r), c->mo.device);
		ret = EX_FAIL;
	}
	return ret;
}

/*
 * The background child: run the filesystem in a process of its own (which
 * tells the waiting parent through notify_fd) and wait for it.  Its own
 * failures it reports itself; a signal that ends it is reported here, in
 * syslog, with the device, the mountpoint and the consequence.
 */
static int supervise(struct cmdline *c, int notify_fd)
{
	int st;
	pid_t w;

	w = fork();
	if (w < 0) {
		msg("fork: %s", strerror(errno));
		return EX_FAIL;
	}
	if (w == 0)
		return run(c, notify_fd);
	close(notify_fd);
	leave_session();
	while (waitpid(w, &st, 0) < 0)
		if (errno != EINTR)
			return EX_FAIL;
	if (!WIFSIGNALED(st))
		return WIFEXITED(st) ? WEXITSTATUS(st) : EX_FAIL;
	msg("%s on %s: the filesystem process %d was killed by signal %d "
	    "(%s)%s; the mount is gone without a clean unmount, and the next "
	    "mount of %s will run recovery",
	    c->mo.device, c->mo.mountpoint, (int)w, WTERMSIG(st),
	    strsignal(WTERMSIG(st)), WCOREDUMP(st) ? ", core dumped" : "",
	    c->mo.device);
	return EX_FAIL;
}

/* Ask the daemon of the mount open at fd; 0 or EX_FAIL after a message. */
static int remount_daemon(int fd, const char *dir, bool rdonly,
			  unsigned atime)
{
	struct pmfs_remount rm;

	memset(&rm, 0, sizeof(rm));
	rm.rdonly = rdonly;
	rm.atime = atime;
	if (ioctl(fd, PMFS_IOC_REMOUNT, &rm) != 0) {
		msg("%s: the filesystem process refused the remount: %s", dir,
		    strerror(errno));
		return EX_FAIL;
	}
	if (rm.err) {
		rm.msg[sizeof(rm.msg) - 1] = 0;
		msg("%s: cannot remount %s: %s", dir,
		    rdonly ? "read-only" : "read-write",
		    rm.msg[0] ? rm.msg : strerror((int)rm.err));
		return EX_FAIL;
	}
	return 0;
}

/* Does the daemon of the mount open at fd have the writeback cache, and
 * was it mounted with io_uring?  0, or EX_FAIL after a message. */
static int daemon_mode(int fd, const char *dir, bool *wb, bool *ring)
{
	struct pmfs_mode m;

	memset(&m, 0, sizeof(m));
	if (ioctl(fd, PMFS_IOC_MODE, &m) != 0 && errno != ENOTTY) {
		msg("%s: cannot ask the filesystem process its mode: %s", dir,
		    strerror(errno));
		return EX_FAIL;
	}
	*wb = m.writeback != 0;
	*ring = m.io_uring != 0;
	return 0;
}

/*
 * What the kernel takes at INIT for the life of the mount - the writeback
 * cache, the transport (io_uring or /dev/fuse) - a remount cannot change:
 * one that names it (named) must name what the mount has (have).  0, or
 * the exit code after a message (nothing changed).
 */
static int remount_check_fixed(bool named, bool have, bool want,
			       const char *what, const char *on,
			       const char *off, const char *dir)
{
	if (!named || have == want)
		return 0;
	msg("%s: %s: the %s is chosen at mount time; unmount and mount "
	    "again to change it", dir, want ? on : off, what);
	return EX_USAGE;
}

/* What fsync_tree found: files it could not write back. */
static struct {
	unsigned long failed;
	char first[PATH_MAX + 64];
} wb_walk;

/* Note a file or folder fsync_tree could not write back (or reach). */
static void wb_walk_fail(const char *name, const char *why)
{
	if (!wb_walk.failed++)
		snprintf(wb_walk.first, sizeof(wb_walk.first), "%s: %s", name,
			 why);
}

/*
 * fsync every regular file below the open folder dfd that lies on device
 * dev, folder by folder through descriptors (openat), so that a path of
 * any length is reached; a folder that cannot be read, or a tree too deep
 * for the descriptors it needs (two a level), is a failure.
 */
static void fsync_dir(int dfd, dev_t dev, const char *name)
{
	int fd = dup(dfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (!d) {
		wb_walk_fail(name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((errno = 0, e = readdir(d)) != NULL) {
		struct stat st;
		int sub, r;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			if (errno != ENOENT)
				wb_walk_fail(e->d_name, strerror(errno));
			continue;
		}
		if (st.st_dev != dev) /* another filesystem mounted here */
			continue;
		if (S_ISDIR(st.st_mode)) {
			sub = openat(dfd, e->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);
			if (sub < 0) {
				if (errno != ENOENT)
					wb_walk_fail(e->d_name,
						     strerror(errno));
				continue;
			}
			fsync_dir(sub, dev, e->d_name);
			close(sub);
		} else if (S_ISREG(st.st_mode)) {
			sub = openat(dfd, e->d_name,
				     O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
					     O_CLOEXEC);
			r = sub < 0 ? errno : fsync(sub) ? errno : 0;
			if (sub >= 0)
				close(sub);
			if (r && r != ENOENT)
				wb_walk_fail(e->d_name, strerror(r));
		}
	}
	if (errno)
		wb_walk_fail(name, strerror(errno));
	closedir(d);
}

/*
 * Going read-only under the writeback cache: the kernel's remount starts
 * writing the cache back but, for a FUSE filesystem, does not wait for it
 * (as sync(2) does not), so the daemon could be told read-only while
 * WRITEs are still queued, and refuse them.  fsync waits for a file's
 * WRITEs: fsync every regular file of the mount (no symbolic link
 * followed, no mount of another filesystem below it entered) once the
 * kernel's mount is read-only, so none can be dirtied again.  Not
 * reached: files under a folder the helper cannot read (counted as
 * failures), under another mount, or seen only through a bind mount
 * elsewhere.  One open and fsync per file.  0, or EX_FAIL after a
 * message.
 */
static int fsync_tree(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	memset(&wb_walk, 0, sizeof(wb_walk));
	if (fd < 0 || fstat(fd, &st) != 0) {
		msg("%s: cannot walk the tree to write the cache back: %s",
		    dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EX_FAIL;
	}
	fsync_dir(fd, st.st_dev, dir);
	close(fd);
	if (!wb_walk.failed)
		return 0;
	msg("%s: %lu file(s) or folder(s) not written back, first %s", dir,
	    wb_walk.failed, wb_walk.first);
	return EX_FAIL;
}

/* mount -o remount (see the top): 0 or the exit code after a message. */
static int remount(const struct cmdline *c, const char *dir)
{
	unsigned long fl = MS_REMOUNT;
	char type[64];
	bool wb = false, ring = false;
	int fd, r;

	if (!fuse_ll_mountinfo(dir, type, sizeof(type), NULL)) {
		msg("%s: not a mount point", dir);
		return EX_FAIL;
	}
	if (strcmp(type, "fuse.pmfs")) {
		msg("%s: a %s mount, not pmfs", dir, type);
		return EX_FAIL;
	}
	if (c->mo.rdonly)
		fl |= MS_RDONLY;
	if (!c->mo.suid)
		fl |= MS_NOSUID;
	if (!c->mo.dev)
		fl |= MS_NODEV;
	if (c->mo.noexec)
		fl |= MS_NOEXEC;
	if (c->mo.sync)
		fl |= MS_SYNCHRONOUS;
	if (c->mo.dirsync)
		fl |= MS_DIRSYNC;
	/* the kernel keeps the old atime flags when a remount names none */
	if (c->mo.atime == PMFS_ATIME_NOATIME)
		fl |= MS_NOATIME;
	else if (c->mo.atime == PMFS_ATIME_STRICT)
		fl |= MS_STRICTATIME;
	else
		fl |= MS_RELATIME;
	if (c->mo.nodiratime)
		fl |= MS_NODIRATIME;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		msg("%s: %s", dir, strerror(errno));
		return EX_FAIL;
	}
	if ((r = daemon_mode(fd, dir, &wb, &ring)) != 0 ||
	    (r = remount_check_fixed(c->wb_named, wb, c->mo.writeback,
				     "writeback cache", "writeback",
				     "nowriteback", dir)) != 0 ||
	    (r = remount_check_fixed(c->ring_named, ring, c->mo.io_uring,
				     "transport", "io_uring", "noio_uring",
				     dir)) != 0)
		goto out;
	if (!c->mo.rdonly &&
	    (r = remount_daemon(fd, dir, false, atime_flags(&c->mo))) != 0)
		goto out;
	r = mount(NULL, dir, NULL, fl, NULL) ? errno : 0;
	if (r) {
		msg("%s: cannot remount %s: %s", dir,
		    c->mo.rdonly ? "read-only" : "read-write",
		    r == EBUSY ? "a file is open for writing" : strerror(r));
		if (!c->mo.rdonly) /* the daemon goes back */
			remount_daemon(fd, dir, true, atime_flags(&c->mo));
		r = EX_FAIL;
		goto out;
	}
	if (c->mo.rdonly && wb && (r = fsync_tree(dir)) != 0)
		goto out; /* the daemon stays read-write: nothing is lost */
	if (c->mo.rdonly)
		r = remount_daemon(fd, dir, true, atime_flags(&c->mo));
out:
	close(fd);
	return r;
}

int main(int argc, char **argv)
{
	static char dev[PATH_MAX], dir[PATH_MAX];
	struct cmdline c;
	int pfd[2], r;
	pid_t pid;

	r = parse_cmdline(argc, argv, &c);
	if (r)
		return r;
	if (c.help) {
		usage(stdout);
		return EX_OK;
	}
	if (c.version) {
		printf("mount.pmfs (pmfs)\n");
		return EX_OK;
	}
	if (c.remount) {
		if (!realpath(c.dir, dir)) {
			msg("%s: %s", c.dir, strerror(errno));
			return EX_FAIL;
		}
		return remount(&c, dir);
	}
	r = check_paths(&c, dev, dir);
	if (r)
		return r;
	/* The kernel checks modes (default_permissions): no umask here. */
	umask(0);
	if (c.mo.foreground)
		return run(&c, -1);
	/* A daemon keeps no descriptor it inherited (a caller's pipe would
	 * otherwise stay open, and its reader wait, until unmount). */
	closefrom(3);
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		msg("pipe: %s", strerror(errno));
		return EX_FAIL;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		msg("fork: %s", strerror(errno));
		return EX_FAIL;
	}
	if (pid > 0) {
		close(pfd[1]);
		return wait_child(pid, pfd[0]);
	}
	close(pfd[0]);
	return supervise(&c, pfd[1]);
}
