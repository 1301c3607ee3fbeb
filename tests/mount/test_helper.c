/*
 * test_helper.c - mount.pmfs as a mount(8) helper: `mount -t pmfs DEV DIR`
 * and an fstab line (`mount --fstab FILE DIR`, util-linux's alternative
 * fstab), with `mount` and `df` showing the device and the type, and
 * umount(8) ending the daemon; fstab lines of type pmfs and fuse.pmfs
 * with the generic options people write there; mount -o remount,ro and
 * remount,rw.
 *
 * mount(8) runs /sbin/mount.TYPE.  The test makes /sbin/mount.pmfs and
 * /sbin/mount.fuse.pmfs symlinks to the built binary for its duration and
 * removes them after; if either already exists and is not such a symlink
 * (a real installation), the test is skipped with a message and touches
 * nothing.
 */
#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>

#include "mnt.h"

#define IMG_SIZE (32ull << 20)
#define HELPER "/sbin/mount.pmfs"
#define FUSE_HELPER "/sbin/mount.fuse.pmfs"

static struct mnt M;
static bool linked, fuse_linked; /* we made HELPER, FUSE_HELPER */

/* Is h a symlink to some build's mount.pmfs (left by a test)? */
static bool is_ours(const char *h)
{
	char t[PATH_MAX];
	ssize_t n = readlink(h, t, sizeof(t) - 1);

	if (n <= 0)
		return false;
	t[n] = 0;
	n = (ssize_t)strlen(t);
	return n > 11 && !strcmp(t + n - 11, "/mount.pmfs") &&
	       strncmp(t, "/usr/", 5) != 0;
}

/* Make h a symlink to the built mount.pmfs; *made says it was. */
static void link_helper(const char *h, bool *made)
{
	char bin[PATH_MAX];
	struct stat st;

	cr_assert(realpath(tu_tool("mount.pmfs"), bin), "no built mount.pmfs");
	if (lstat(h, &st) == 0) {
		if (!is_ours(h))
			cr_skip_test("%s exists and is not a test's symlink: "
				     "mount(8) helper tests skipped", h);
		unlink(h); /* a stale link of an interrupted run */
	}
	if (symlink(bin, h) != 0)
		cr_skip_test("cannot create %s (%s): mount(8) helper tests "
			     "skipped", h, strerror(errno));
	*made = true;
}

static void setup(void)
{
	mnt_need_fuse();
	if (access("/bin/mount", X_OK) != 0)
		cr_skip_test("no /bin/mount: mount(8) helper tests skipped");
	mnt_mkfs(&M, IMG_SIZE);
	link_helper(HELPER, &linked);
	link_helper(FUSE_HELPER, &fuse_linked);
}

static void teardown(void)
{
	if (linked && is_ours(HELPER))
		unlink(HELPER);
	if (fuse_linked && is_ours(FUSE_HELPER))
		unlink(FUSE_HELPER);
	linked = fuse_linked = false;
	mnt_teardown(&M);
}

/* Run a program with its arguments (NULL ends the list); its status. */
static int sh(char *out, size_t on, char *err, size_t en, const char *a0,
	      ...)
{
	char *argv[16] = { (char *)a0 };
	int n = 1;
	va_list ap;

	va_start(ap, a0);
	while (n < 15 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return tu_run(argv, out, on, err, en);
}

/* Wait (bounded) until the background daemon let go of the image. */
static void wait_released(void)
{
	for (int i = 0; i < 6000; i++) {
		int fd = open(M.img, O_RDWR);
		bool free_ = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;

		if (fd >= 0)
			close(fd);
		if (free_)
			return;
		usleep(5000);
	}
	cr_assert_fail("the image stayed locked after umount");
}

/* mount, df and /proc/mounts show the device and the type. */
static void check_shown(const char *want_opt)
{
	char line[4096], out[16384], err[4096];
	char img[PATH_MAX];
	int r;

	cr_assert(realpath(M.img, img));
	cr_assert(mnt_is_mounted(M.dir, line, sizeof(line)), "not mounted");
	cr_assert(strstr(line, img), "/proc/mounts: %s", line);
	cr_assert(strstr(line, " fuse.pmfs "), "/proc/mounts: %s", line);
	if (want_opt)
		cr_assert(strstr(line, want_opt), "/proc/mounts: %s", line);
	r = sh(out, sizeof(out), err, sizeof(err), "/bin/mount", "-t",
	       "fuse.pmfs", NULL);
	cr_assert_eq(r, 0, "mount -t fuse.pmfs (list): %s", err);
	cr_assert(strstr(out, img) && strstr(out, M.dir) &&
			  strstr(out, "type fuse.pmfs"),
		  "mount lists: %s", out);
	r = sh(out, sizeof(out), err, sizeof(err), "/bin/df", "-T", M.dir,
	       NULL);
	cr_assert_eq(r, 0, "df: %s", err);
	cr_assert(strstr(out, img) && strstr(out, "fuse.pmfs"), "df: %s", out);
}

static void write_and_read(const char *name)
{
	char *p = mnt_path(&M, name), buf[16] = "";
	int fd = open(p, O_RDWR | O_CREAT, 0644);

	cr_assert(fd >= 0, "%s: %s", p, strerror(errno));
	cr_assert_eq(pwrite(fd, "helper", 6, 0), 6);
	cr_assert_eq(pread(fd, buf, sizeof(buf), 0), 6);
	cr_assert_str_eq(buf, "helper");
	close(fd);
	free(p);
}

static void umount8(void)
{
	char err[4096];
	int r = sh(NULL, 0, err, sizeof(err), "/bin/umount", M.dir, NULL);

	cr_assert_eq(r, 0, "umount: %s", err);
	cr_assert(!mnt_is_mounted(M.dir, NULL, 0));
	wait_released();
}

TestSuite(helper, .init = setup, .fini = teardown, .timeout = 120);

/* Mount the fstab line "M.img M.dir type opts 0 0" through mount(8);
 * mount(8)'s exit status, its stderr in err. */
static int mount_fstab_line(const char *type, const char *opts, char *err,
			    size_t en)
{
	char *fstab = NULL;
	FILE *f;
	int r;

	cr_assert(asprintf(&fstab, "/dev/shm/pmfs-fstab.%d", getpid()) > 0);
	f = fopen(fstab, "w");
	cr_assert(f);
	fprintf(f, "%s %s %s %s 0 0\n", M.img, M.dir, type, opts);
	fclose(f);
	r = sh(NULL, 0, err, en, "/bin/mount", "--fstab", fstab, M.dir,
	       NULL);
	unlink(fstab);
	free(fstab);
	return r;
}

/* Set rel's atime two days back; return that time. */
static time_t age_atime(const char *rel)
{
	char *p = mnt_path(&M, rel);
	struct timespec ts[2] = { { .tv_sec = time(NULL) - 2 * 86400 },
				  { .tv_nsec = UTIME_OMIT } };

	cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0, "%s", strerror(errno));
	free(p);
	return ts[0].tv_sec;
}

/* rel's atime as the filesystem has it now (not the kernel's cache). */
static time_t atime_of(const char *rel)
{
	char *p = mnt_path(&M, rel);
	struct statx sx;

	cr_assert_eq(statx(AT_FDCWD, p, AT_STATX_FORCE_SYNC, STATX_ATIME, &sx),
		     0);
	free(p);
	return sx.stx_atime.tv_sec;
}

/*
 * fstab lines with the generic options of mount(8) and fstab(5): each is
 * accepted, those the kernel honours reach the mount flags, and the atime
 * ones reach pmfs (nodiratime: listing a directory leaves its atime, a
 * read still updates a file's by relatime).  A fuse.pmfs line mounts
 * through mount.fuse.pmfs.  An unknown option is refused in one line.
 */
static void fstab_generic_options(void)
{
	char err[4096], line[4096], *p;
	time_t old;
	DIR *d;
	int r, fd;

	r = mount_fstab_line("pmfs",
			     "defaults,auto,nouser,nofail,_netdev,"
			     "x-systemd.device-timeout=5s,comment=pm,relatime,"
			     "nodiratime,nolazytime,sync,dirsync,noexec,"
			     "nosuid,nodev,rw",
			     err, sizeof(err));
	cr_assert_eq(r, 0, "mount --fstab (16 generic options): %d: %s", r,
		     err);
	cr_assert(mnt_is_mounted(M.dir, line, sizeof(line)));
	cr_assert(strstr(line, " fuse.pmfs rw,sync,dirsync,nosuid,nodev,"
			       "noexec,relatime,"),
		  "/proc/mounts: %s", line);
	p = mnt_path(&M, "dir");
	cr_assert_eq(mkdir(p, 0755), 0);
	free(p);
	write_and_read("dir/f");
	old = age_atime("dir");
	p = mnt_path(&M, "dir");
	d = opendir(p);
	cr_assert(d);
	while (readdir(d))
		;
	closedir(d);
	free(p);
	cr_expect_eq(atime_of("dir"), old, "nodiratime: readdir changed atime");
	old = age_atime("dir/f");
	p = mnt_path(&M, "dir/f");
	fd = open(p, O_RDONLY);
	cr_assert(fd >= 0);
	/* drop the cached pages so that the read reaches pmfs */
	cr_assert_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	cr_assert_eq(read(fd, line, sizeof(line)), 6);
	close(fd);
	free(p);
	cr_expect_gt(atime_of("dir/f"), old, "relatime: a read left atime");
	umount8();

	/* type fuse.pmfs (the type /proc/mounts shows) */
	r = mount_fstab_line("fuse.pmfs",
			     "noauto,user,noatime,lazytime,ro,exec,"
			     "x-systemd.automount",
			     err, sizeof(err));
	cr_assert_eq(r, 0, "mount --fstab (fuse.pmfs): %d: %s", r, err);
	check_shown(" ro,");
	check_shown("noatime");
	p = mnt_path(&M, "new");
	cr_assert_eq(open(p, O_RDWR | O_CREAT, 0644), -1);
	cr_assert_eq(errno, EROFS);
	free(p);
	umount8();

	/* strictatime is pmfs's own (libfuse 3.14 would refuse it) */
	r = sh(NULL, 0, err, sizeof(err), "/bin/mount", "-t", "pmfs", "-o",
	       "norelatime,strictatime,diratime", M.img, M.dir, NULL);
	cr_assert_eq(r, 0, "mount -o strictatime: %d: %s", r, err);
	umount8();

	/* anything else is still refused, in one line */
	r = sh(NULL, 0, err, sizeof(err), "/bin/mount", "-t", "pmfs", "-o",
	       "defaults,bogus", M.img, M.dir, NULL);
	cr_assert_neq(r, 0);
	cr_assert(strstr(err, "unknown mount option 'bogus'"), "%s", err);
	cr_assert(!mnt_is_mounted(M.dir, NULL, 0));
}

/* fsck.pmfs -n on the mounted image: its status, its output in out. */
static int fsck_n(char *out, size_t on)
{
	char err[4096];
	int r = sh(out, on, err, sizeof(err), tu_tool("fsck.pmfs"), "-n",
		   M.img, NULL);

	strncat(out, err, on - strlen(out) - 1);
	return r;
}

/*
 * mount -o remount,ro and remount,rw through mount(8), which runs
 * mount.fuse.pmfs with the mounted type: refused while a file is open for
 * writing (as ext4 does), then the kernel and the daemon read-only (the
 * image clean, as fsck -n sees it while mounted), the other mount flags
 * kept, and back to read-write (the image in use again).
 */
static void remount_ro_rw(void)
{
	char err[4096], out[8192], line[4096], *p;
	int r, fd;

	r = sh(NULL, 0, err, sizeof(err), "/bin/mount", "-t", "pmfs", "-o",
	       "nosuid,nodev", M.img, M.dir, NULL);
	cr_assert_eq(r, 0, "mount: %d: %s", r, err);
	write_and_read("r");
	p = mnt_path(&M, "r");
	fd = open(p, O_WRONLY);
	cr_assert(fd >= 0);
	r = sh(NULL, 0, err, sizeof(err), "/bin/mount", "-o", "remount,ro",
	       M.dir, NULL);
	cr_assert_neq(r, 0, "remount,ro with a file open for writing");
	cr_assert(strstr(err, "a file is open for writing"), "%s", err);
	check_shown(" rw,");
	close(fd);
	r = sh(NULL, 0, err, sizeof(err), "/bin/mount", "-o", "remount,ro",
	       M.dir, NULL);
	cr_assert_eq(r, 0, "mount -o remount,ro: %d: %s", r, err);
	check_shown(" ro,nosuid,nodev");
	cr_assert_eq(open(p, O_WRONLY), -1);
	cr_assert_eq(errno, EROFS);
	{
		char buf[16] = "";

		fd = open(p, O_RDONLY);
		cr_assert(fd >= 0);
		cr_assert_eq(read(fd, buf, sizeof(buf)), 6);
		close(fd);
	}
	out[0] = 0;
	r = fsck_n(out, sizeof(out));
	cr_assert_eq(r, 0, "fsck -n while read-only: %d: %s", r, out);
	cr_assert(strstr(out, ": clean,"), "not clean while read-only: %s",
		  out);
	r = sh(NULL, 0, err, sizeof(err), "/bin/mount", "-o", "remount,rw",
	       M.dir, NULL);
	cr_assert_eq(r, 0, "mount -o remount,rw: %d: %s", r, err);
	cr_assert(mnt_is_mounted(M.dir, line, sizeof(line)));
	cr_assert(strstr(line, " rw,nosuid,nodev"), "/proc/mounts: %s", line);
	write_and_read("s");
	out[0] = 0;
	fsck_n(out, sizeof(out));
	cr_assert(!strstr(out, ": clean,"), "clean while read-write: %s", out);
	/* the atime mode changes too: noatime, then relatime again */
	for (int noatime = 1; noatime >= 0; noatime--) {
		time_t old;

		r = sh(NULL, 0, err, sizeof(err), "/bin/mount", "-o",
		       noatime ? "remount,noatime" : "remount,relatime", M.dir,
		       NULL);
		cr_assert_eq(r, 0, "mount -o remount,%satime: %d: %s",
			     noatime ? "no" : "rel", r, err);
		cr_assert(mnt_is_mounted(M.dir, line, sizeof(line)));
		cr_assert(!strstr(line, "noatime") == !noatime,
			  "/proc/mounts: %s", line);
		old = age_atime("s");
		{
			char *s = mnt_path(&M, "s");
			char buf[16];

			fd = open(s, O_RDONLY);
			cr_assert(fd >= 0);
			cr_assert_eq(posix_fadvise(fd, 0, 0,
						   POSIX_FADV_DONTNEED), 0);
			cr_assert_eq(read(fd, buf, sizeof(buf)), 6);
			close(fd);
			free(s);
		}
		if (noatime)
			cr_assert_eq(atime_of("s"), old,
				     "noatime after remount: a read set atime");
		else
			cr_assert_gt(atime_of("s"), old,
				     "relatime after remount: a read left "
				     "atime");
	}
	free(p);
	umount8();
	out[0] = 0;
	r = sh(out, sizeof(out), err, sizeof(err), tu_tool("fsck.pmfs"), "-fn",
	       M.img, NULL);
	cr_assert_eq(r, 0, "fsck -fn after the remounts: %d: %s%s", r, out,
		     err);
}

/* One test: the symlinks in /sbin are shared by everything mount(8) runs. */
Test(helper, mount_t_pmfs_and_fstab)
{
	char err[4096], *fstab = NULL, *p;
	FILE *f;
	int r;

	/* mount -t pmfs DEV DIR */
	r = sh(NULL, 0, err, sizeof(err), "/bin/mount", "-t", "pmfs", M.img,
	       M.dir, NULL);
	cr_assert_eq(r, 0, "mount -t pmfs: %d: %s", r, err);
	check_shown(NULL);
	write_and_read("a");
	umount8();

	/* -o passes options through: read-only */
	r = sh(NULL, 0, err, sizeof(err), "/bin/mount", "-t", "pmfs", "-o",
	       "ro", M.img, M.dir, NULL);
	cr_assert_eq(r, 0, "mount -t pmfs -o ro: %d: %s", r, err);
	check_shown(" ro,");
	p = mnt_path(&M, "b");
	cr_assert_eq(open(p, O_RDWR | O_CREAT, 0644), -1);
	cr_assert_eq(errno, EROFS);
	free(p);
	umount8();

	/* an fstab line, through util-linux's --fstab */
	cr_assert(asprintf(&fstab, "/dev/shm/pmfs-fstab.%d", getpid()) > 0);
	f = fopen(fstab, "w");
	cr_assert(f);
	fprintf(f, "# test fstab\n%s %s pmfs defaults,noatime,nosuid 0 0\n",
		M.img, M.dir);
	fclose(f);
	r = sh(NULL, 0, err, sizeof(err), "/bin/mount", "--fstab", fstab,
	       M.dir, NULL);
	unlink(fstab);
	free(fstab);
	cr_assert_eq(r, 0, "mount --fstab (by mountpoint): %d: %s", r, err);
	check_shown("noatime");
	/* the file written through mount -t is still there */
	p = mnt_path(&M, "a");
	{
		char buf[16] = "";
		int fd = open(p, O_RDONLY);

		cr_assert(fd >= 0);
		cr_assert_eq(read(fd, buf, sizeof(buf)), 6);
		cr_assert_str_eq(buf, "helper");
		close(fd);
	}
	free(p);
	umount8();
	fstab_generic_options();
	remount_ro_rw();
}
