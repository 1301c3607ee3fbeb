/*
 * test_helper.c - mount.pmfs as a mount(8) helper: `mount -t pmfs DEV DIR`
 * and an fstab line (`mount --fstab FILE DIR`, util-linux's alternative
 * fstab), with `mount` and `df` showing the device and the type, and
 * umount(8) ending the daemon.
 *
 * mount(8) runs /sbin/mount.TYPE.  The test makes /sbin/mount.pmfs a
 * symlink to the built binary for its duration and removes it after; if
 * /sbin/mount.pmfs already exists and is not such a symlink (a real
 * installation), the test is skipped with a message and touches nothing.
 */
#include <limits.h>
#include <sys/stat.h>

#include "mnt.h"

#define IMG_SIZE (32ull << 20)
#define HELPER "/sbin/mount.pmfs"

static struct mnt M;
static bool linked; /* we made HELPER */

/* Is HELPER a symlink to some build's mount.pmfs (left by a test)? */
static bool helper_is_ours(void)
{
	char t[PATH_MAX];
	ssize_t n = readlink(HELPER, t, sizeof(t) - 1);

	if (n <= 0)
		return false;
	t[n] = 0;
	n = (ssize_t)strlen(t);
	return n > 11 && !strcmp(t + n - 11, "/mount.pmfs") &&
	       strncmp(t, "/usr/", 5) != 0;
}

static void link_helper(void)
{
	char bin[PATH_MAX];
	struct stat st;

	cr_assert(realpath(tu_tool("mount.pmfs"), bin), "no built mount.pmfs");
	if (lstat(HELPER, &st) == 0) {
		if (!helper_is_ours())
			cr_skip_test(HELPER " exists and is not a test's "
					    "symlink: mount(8) helper tests "
					    "skipped");
		unlink(HELPER); /* a stale link of an interrupted run */
	}
	if (symlink(bin, HELPER) != 0)
		cr_skip_test("cannot create " HELPER " (%s): mount(8) helper "
			     "tests skipped", strerror(errno));
	linked = true;
}

static void setup(void)
{
	mnt_need_fuse();
	if (access("/bin/mount", X_OK) != 0)
		cr_skip_test("no /bin/mount: mount(8) helper tests skipped");
	mnt_mkfs(&M, IMG_SIZE);
	link_helper();
}

static void teardown(void)
{
	if (linked && helper_is_ours())
		unlink(HELPER);
	linked = false;
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

/* One test: the symlink in /sbin is shared by everything mount(8) runs. */
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
}
