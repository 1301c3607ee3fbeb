/*
 * test_mount.c - end-to-end suite for mount.pmfs on a real FUSE mount:
 * format an image on /dev/shm with the built mkfs.pmfs, mount it with the
 * built mount.pmfs (foreground child or background), run system calls on
 * it, unmount (fusermount3 -u, umount(2), SIGTERM, SIGINT), remount and
 * check persistence; POSIX error codes, ownership and timestamps (also as
 * an unprivileged user: fork + setuid(65534)); the refusals of mount.pmfs.
 *
 * Tests that need a mount skip with a message where /dev/fuse is missing.
 * The tools come from PMFS_BUILD (tu_tool).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "mnt.h"
#include "testutil.h"

#define IMG_SIZE (64ull << 20)
#define NOBODY 65534

static char *img; /* the image file */
static char *mnt; /* the mountpoint */
static pid_t fg;  /* foreground mount.pmfs, or 0 */

/* ---- helpers ---------------------------------------------------------- */

static char *tool(const char *name)
{
	return strdup(tu_tool(name));
}

static char *path(const char *rel)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", mnt, rel) > 0);
	return p;
}

static void make_image(void)
{
	char err[4096];
	int r;

	img = tu_tmpimg(IMG_SIZE);
	mnt = tu_tmpdir();
	r = mnt_tool(NULL, 0, err, sizeof(err), "mkfs.pmfs", img, NULL);
	cr_assert_eq(r, 0, "mkfs.pmfs failed (%d): %s", r, err);
}

/* Wait (bounded) until the image is no longer locked by a daemon. */
static void wait_released(void)
{
	for (int i = 0; i < 6000; i++) {
		int fd = open(img, O_RDWR);
		bool free_ = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0;

		if (fd >= 0)
			close(fd);
		if (free_)
			return;
		usleep(5000);
	}
	cr_assert_fail("the image stayed locked after unmount");
}

/* Background mount (the default); returns the exit code. */
static int mount_bg(const char *opts, char *out, size_t on, char *err,
		    size_t en)
{
	if (opts)
		return mnt_tool(out, on, err, en, "mount.pmfs", img, mnt, "-o",
			   opts, NULL);
	return mnt_tool(out, on, err, en, "mount.pmfs", img, mnt, NULL);
}

/* Foreground mount.pmfs as a child; returns when the mount is there. */
static void mount_fg(const char *opts)
{
	char *bin = tool("mount.pmfs");
	int st;

	fg = fork();
	cr_assert(fg >= 0);
	if (fg == 0) {
		int nul = open("/dev/null", O_RDWR);

		/* keep none of Criterion's pipes: if this test is killed, the
		 * runner must not wait for the daemon to close them */
		dup2(nul, 0);
		dup2(nul, 1);
		if (getenv("PMFS_MOUNT_LOG"))
			freopen(getenv("PMFS_MOUNT_LOG"), "a", stderr);
		else
			dup2(nul, 2);
		closefrom(3);
		mnt_default_signals();
		if (opts)
			execl(bin, bin, "-f", "-o", opts, img, mnt, (char *)0);
		else
			execl(bin, bin, "-f", img, mnt, (char *)0);
		_exit(127);
	}
	free(bin);
	for (int i = 0; i < 6000; i++) {
		if (mnt_is_mounted(mnt, NULL, 0))
			return;
		if (waitpid(fg, &st, WNOHANG) == fg) {
			fg = 0;
			cr_assert_fail("mount.pmfs -f exited (status %d)", st);
		}
		usleep(5000);
	}
	cr_assert_fail("mount.pmfs -f did not mount");
}

/* Wait for the foreground daemon; its exit code (mnt_reap). */
static int wait_fg(void)
{
	int rc;

	if (!fg)
		return -1;
	rc = mnt_reap(fg);
	fg = 0;
	return rc;
}

static void umount_fuse(void)
{
	char *argv[] = { "/bin/fusermount3", "-u", mnt, NULL };
	char err[1024];
	int r = tu_run(argv, NULL, 0, err, sizeof(err));

	if (r != 0) {
		/* fusermount3 may be elsewhere; umount(2) as root works too */
		r = umount2(mnt, 0) ? errno : 0;
	}
	cr_assert_eq(r, 0, "unmount failed: %s", err);
	if (fg)
		cr_assert_eq(wait_fg(), 0, "mount.pmfs did not exit cleanly");
	else
		wait_released();
	cr_assert(!mnt_is_mounted(mnt, NULL, 0));
}

static void setup(void)
{
	mnt_need_fuse();
	make_image();
	mount_fg("allow_other");
}

static void teardown(void)
{
	if (mnt && mnt_is_mounted(mnt, NULL, 0))
		umount2(mnt, MNT_DETACH);
	if (fg) {
		kill(fg, SIGTERM);
		wait_fg();
	}
	tu_rmimg(img);
	if (mnt)
		rmdir(mnt);
	free(mnt);
	img = mnt = NULL;
}

static void write_file(const char *rel, const char *data, mode_t mode)
{
	char *p = path(rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);

	cr_assert(fd >= 0, "create %s: %s", p, strerror(errno));
	cr_assert_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	cr_assert_eq(close(fd), 0);
	free(p);
}

static char *read_file(const char *rel)
{
	static char buf[65536];
	char *p = path(rel);
	int fd = open(p, O_RDONLY);
	ssize_t n;

	cr_assert(fd >= 0, "open %s: %s", p, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	cr_assert(n >= 0);
	buf[n] = 0;
	close(fd);
	free(p);
	return buf;
}

/* Lines of a message, not counting pmemio's "not DAX storage" warning
 * (printed for every image on /dev/shm). */
static int msg_lines(const char *s)
{
	int n = 0;

	for (const char *l = s; l && *l;) {
		const char *nl = strchr(l, '\n');

		if (strncmp(l, "pmfs: warning:", 14) != 0)
			n++;
		l = nl ? nl + 1 : l + strlen(l);
	}
	return n;
}

/* errno of a call expected to fail, 0 if it succeeded */
#define ERRNO_OF(call) ((call) < 0 ? errno : 0)

typedef int (*as_fn)(void *arg);

/* Run fn as uid/gid 65534 in a child; returns fn's result (an errno). */
static int as_nobody(as_fn fn, void *arg)
{
	pid_t p = fork();
	int st;

	cr_assert(p >= 0);
	if (p == 0) {
		if (setgroups(0, NULL) || setgid(NOBODY) || setuid(NOBODY))
			_exit(255);
		_exit(fn(arg));
	}
	cr_assert_eq(waitpid(p, &st, 0), p);
	cr_assert(WIFEXITED(st));
	cr_assert_neq(WEXITSTATUS(st), 255, "cannot become uid 65534");
	return WEXITSTATUS(st);
}

/* ---- refusals and options (no mount needed) --------------------------- */

TestSuite(refuse, .timeout = 60);

Test(refuse, unknown_option)
{
	char err[4096];
	int r;

	img = tu_tmpimg(4096);
	mnt = tu_tmpdir();
	r = mount_bg("rw,bogus_opt", NULL, 0, err, sizeof(err));
	cr_expect_neq(r, 0);
	cr_expect_eq(msg_lines(err), 1, "stderr: %s", err);
	cr_expect(strstr(err, "bogus_opt"), "stderr: %s", err);
	cr_expect(!mnt_is_mounted(mnt, NULL, 0));
	tu_rmimg(img);
	tu_rmtree(mnt);
}

Test(refuse, unknown_flag)
{
	char err[4096];
	int r = mnt_tool(NULL, 0, err, sizeof(err), "mount.pmfs", "-X", "/a", "/b",
		    NULL);

	cr_expect_neq(r, 0);
	cr_expect_eq(msg_lines(err), 1, "stderr: %s", err);
}

Test(refuse, sloppy_ignores_unknown_option_after_operands)
{
	char err[4096];
	/* -s after the operands is mount(8)'s sloppy: the unknown option is
	 * ignored and the next problem (missing device) is reported */
	int r = mnt_tool(NULL, 0, err, sizeof(err), "mount.pmfs",
		    "/nonexistent/pmfs.img", "/nonexistent/dir", "-s", "-o",
		    "bogus_opt", NULL);

	cr_expect_neq(r, 0);
	cr_expect_eq(msg_lines(err), 1, "stderr: %s", err);
	cr_expect(!strstr(err, "bogus_opt"), "stderr: %s", err);
	cr_expect(strstr(err, "/nonexistent/pmfs.img"), "stderr: %s", err);
}

Test(refuse, missing_operands)
{
	char err[4096];
	int r = mnt_tool(NULL, 0, err, sizeof(err), "mount.pmfs", "/a", NULL);

	cr_expect_neq(r, 0);
	cr_expect_eq(msg_lines(err), 1, "stderr: %s", err);
}

Test(refuse, help)
{
	char out[4096];
	int r = mnt_tool(out, sizeof(out), NULL, 0, "mount.pmfs", "-h", NULL);

	cr_expect_eq(r, 0);
	cr_expect(strstr(out, "usage"), "stdout: %s", out);
}

Test(refuse, missing_device)
{
	char err[4096];
	char *dir = tu_tmpdir();
	int r = mnt_tool(NULL, 0, err, sizeof(err), "mount.pmfs",
		    "/nonexistent/pmfs.img", dir, NULL);

	cr_expect_neq(r, 0);
	cr_expect_eq(msg_lines(err), 1, "stderr: %s", err);
	cr_expect(strstr(err, "/nonexistent/pmfs.img"), "stderr: %s", err);
	tu_rmtree(dir);
}

Test(refuse, missing_mountpoint)
{
	char err[4096];
	char *im = tu_tmpimg(4096);
	int r = mnt_tool(NULL, 0, err, sizeof(err), "mount.pmfs", im,
		    "/nonexistent/mnt", NULL);

	cr_expect_neq(r, 0);
	cr_expect_eq(msg_lines(err), 1, "stderr: %s", err);
	cr_expect(strstr(err, "/nonexistent/mnt"), "stderr: %s", err);
	tu_rmimg(im);
}

Test(refuse, not_a_pmfs_image, .init = mnt_need_fuse)
{
	char err[4096];
	int r;

	img = tu_tmpimg(IMG_SIZE); /* zeros: never formatted */
	mnt = tu_tmpdir();
	r = mount_bg(NULL, NULL, 0, err, sizeof(err));
	cr_expect_neq(r, 0);
	cr_expect_eq(msg_lines(err), 1, "stderr: %s", err);
	cr_expect(strstr(err, "not a pmfs") && strstr(err, "mkfs.pmfs"),
		  "stderr: %s", err);
	cr_expect(!mnt_is_mounted(mnt, NULL, 0));
	tu_rmimg(img);
	tu_rmtree(mnt);
}

Test(refuse, already_mounted, .init = setup, .fini = teardown)
{
	char err[4096];
	char *other = tu_tmpdir();
	int r = mnt_tool(NULL, 0, err, sizeof(err), "mount.pmfs", img, other, NULL);

	cr_expect_neq(r, 0);
	cr_expect_eq(msg_lines(err), 1, "stderr: %s", err);
	cr_expect(strstr(err, "already mounted"), "stderr: %s", err);
	cr_expect(!mnt_is_mounted(other, NULL, 0));
	tu_rmtree(other);
	umount_fuse();
}

/* ---- mount life cycle ------------------------------------------------- */

TestSuite(life, .timeout = 120);

Test(life, background_proc_mounts_verbose)
{
	char out[4096], err[4096], line[4096];
	int r;

	mnt_need_fuse();
	make_image();
	r = mnt_tool(out, sizeof(out), err, sizeof(err), "mount.pmfs", "-v", img,
		mnt, NULL);
	cr_assert_eq(r, 0, "mount.pmfs: %s", err);
	cr_assert(mnt_is_mounted(mnt, line, sizeof(line)));
	cr_expect(strncmp(line, img, strlen(img)) == 0, "%s", line);
	cr_expect(strstr(line, " fuse.pmfs "), "%s", line);
	cr_expect(strstr(line, "default_permissions"), "%s", line);
	cr_expect(strstr(out, "granularity"), "stdout: %s", out);
	cr_expect(strstr(out, "flush path"), "stdout: %s", out);
	umount_fuse();
	teardown();
}

Test(life, persistence_and_clean_flag, .init = setup, .fini = teardown)
{
	char out[4096], err[4096], target[256];
	char *p;
	ssize_t n;

	write_file("a.txt", "hello pmfs\n", 0644);
	p = path("dir");
	cr_assert_eq(mkdir(p, 0750), 0);
	free(p);
	write_file("dir/b", "bbb", 0600);
	p = path("ln");
	cr_assert_eq(symlink("dir/b", p), 0);
	free(p);
	umount_fuse();

	cr_assert_eq(mount_bg(NULL, out, sizeof(out), err, sizeof(err)), 0,
		     "remount: %s", err);
	cr_expect_str_eq(read_file("a.txt"), "hello pmfs\n");
	cr_expect_str_eq(read_file("dir/b"), "bbb");
	cr_expect_str_eq(read_file("ln"), "bbb");
	p = path("ln");
	n = readlink(p, target, sizeof(target));
	cr_expect_eq(n, 5);
	free(p);
	umount_fuse();

	/* -v tells whether the clean flag was found */
	cr_assert_eq(mnt_tool(out, sizeof(out), err, sizeof(err), "mount.pmfs",
			 "-v", img, mnt, NULL),
		     0, "remount: %s", err);
	cr_expect(strstr(out, "clean mount"), "stdout: %s", out);
	umount_fuse();
}

/* How mount(8) runs the helper: operands first, then -n -v -s -o. */
Test(life, mount8_helper_form)
{
	char out[4096], err[4096], line[4096];
	int r;

	mnt_need_fuse();
	make_image();
	r = mnt_tool(out, sizeof(out), err, sizeof(err), "mount.pmfs", img, mnt,
		"-nvs", "-o", "rw,noatime,defaults,nodev,nosuid,x-systemd.foo",
		"-o", "sloppy_unknown", NULL);
	cr_assert_eq(r, 0, "mount.pmfs: %s", err);
	cr_assert(mnt_is_mounted(mnt, line, sizeof(line)));
	cr_expect(strstr(line, "noatime"), "%s", line);
	cr_expect(strstr(out, "granularity"), "stdout: %s", out);
	write_file("f", "helper", 0644);
	cr_expect_str_eq(read_file("f"), "helper");
	umount_fuse();
	teardown();
}

static void signal_unmount(int sig)
{
	char out[4096], err[4096];
	pid_t pid;

	mnt_need_fuse();
	make_image();
	mount_fg(NULL);
	write_file("f", "data", 0644);
	pid = fg;
	cr_assert_eq(kill(pid, sig), 0);
	cr_expect_eq(wait_fg(), 0, "mount.pmfs exit code after signal %d", sig);
	/* the kernel mount is gone too */
	cr_expect(!mnt_is_mounted(mnt, NULL, 0));
	cr_assert_eq(mnt_tool(out, sizeof(out), err, sizeof(err), "mount.pmfs",
			 "-v", img, mnt, NULL),
		     0, "remount: %s", err);
	cr_expect(strstr(out, "clean mount"), "stdout: %s", out);
	cr_expect_str_eq(read_file("f"), "data");
	umount_fuse();
	teardown();
}

Test(life, sigterm_unmounts_cleanly)
{
	signal_unmount(SIGTERM);
}

Test(life, sigint_unmounts_cleanly)
{
	signal_unmount(SIGINT);
}

Test(life, umount_syscall_ends_daemon, .init = setup, .fini = teardown)
{
	write_file("f", "x", 0644);
	cr_assert_eq(umount2(mnt, 0), 0, "umount: %s", strerror(errno));
	cr_expect_eq(wait_fg(), 0);
}

Test(life, read_only, .fini = teardown)
{
	char line[4096];
	char *p;

	mnt_need_fuse();
	make_image();
	mount_fg(NULL);
	write_file("f", "ro data", 0644);
	umount_fuse();
	mount_fg("ro");
	cr_assert(mnt_is_mounted(mnt, line, sizeof(line)));
	cr_expect(strstr(line, " ro,") || strstr(line, " ro "), "%s", line);
	cr_expect_str_eq(read_file("f"), "ro data");
	p = path("g");
	cr_expect_eq(ERRNO_OF(open(p, O_WRONLY | O_CREAT, 0644)), EROFS);
	free(p);
	umount_fuse();
}

/* ---- POSIX behaviour -------------------------------------------------- */

TestSuite(posix, .init = setup, .fini = teardown, .timeout = 120);

Test(posix, errors)
{
	char name[300], buf[64];
	char *d = path("d"), *f = path("d/f"), *x = path("nonexistent");
	char *ff = path("d/f/x"), *dsub = path("d/sub");
	int fd;

	cr_assert_eq(mkdir(d, 0755), 0);
	cr_expect_eq(ERRNO_OF(mkdir(d, 0755)), EEXIST);
	write_file("d/f", "1", 0644);
	cr_expect_eq(ERRNO_OF(open(x, O_RDONLY)), ENOENT);
	cr_expect_eq(ERRNO_OF(unlink(x)), ENOENT);
	/* the negative entry just cached must not hide a new file */
	cr_expect_eq(ERRNO_OF(access(x, F_OK)), ENOENT);
	write_file("nonexistent", "now", 0644);
	cr_expect_eq(access(x, F_OK), 0);
	cr_expect_eq(ERRNO_OF(rmdir(d)), ENOTEMPTY);
	cr_expect_eq(ERRNO_OF(open(d, O_WRONLY)), EISDIR);
	cr_expect_eq(ERRNO_OF(unlink(d)), EISDIR);
	cr_expect_eq(ERRNO_OF(rmdir(f)), ENOTDIR);
	cr_expect_eq(ERRNO_OF(open(ff, O_RDONLY)), ENOTDIR);
	cr_expect_eq(ERRNO_OF(open(f, O_CREAT | O_EXCL | O_WRONLY, 0644)),
		     EEXIST);
	cr_assert_eq(mkdir(dsub, 0755), 0);
	cr_expect_eq(ERRNO_OF(rename(d, dsub)), EINVAL);
	cr_expect_eq(ERRNO_OF(readlink(f, buf, sizeof(buf))), EINVAL);

	memset(name, 'n', 256);
	name[256] = 0;
	free(x);
	x = path(name);
	cr_expect_eq(ERRNO_OF(open(x, O_CREAT | O_WRONLY, 0644)), ENAMETOOLONG);
	name[255] = 0;
	free(x);
	x = path(name);
	fd = open(x, O_CREAT | O_WRONLY, 0644);
	cr_expect(fd >= 0, "255-byte name: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	free(d);
	free(f);
	free(x);
	free(ff);
	free(dsub);
}

Test(posix, symlink_loop)
{
	char *a = path("a"), *b = path("b"), buf[64];

	cr_assert_eq(symlink("b", a), 0);
	cr_assert_eq(symlink("a", b), 0);
	cr_expect_eq(ERRNO_OF(open(a, O_RDONLY)), ELOOP);
	cr_expect_eq(readlink(a, buf, sizeof(buf)), 1);
	cr_expect_eq(buf[0], 'b');
	free(a);
	free(b);
}

Test(posix, readdir_offsets_survive_changes)
{
	enum { N = 200 };
	static bool seen[N], deleted[N];
	char name[32], *d = path("big");
	struct dirent *de;
	int n = 0, dots = 0;
	DIR *dir;

	cr_assert_eq(mkdir(d, 0755), 0);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "big/file%03d", i);
		write_file(name, "", 0644);
	}
	dir = opendir(d);
	cr_assert(dir);
	while (n < 50 && (de = readdir(dir))) {
		int i;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			dots++;
			continue;
		}
		cr_assert_eq(sscanf(de->d_name, "file%d", &i), 1);
		cr_expect(!seen[i], "duplicate %s", de->d_name);
		seen[i] = true;
		n++;
	}
	/* remove 50 entries not yet seen, add 50 new ones */
	for (int i = 0, k = 0; i < N && k < 50; i++) {
		if (seen[i])
			continue;
		snprintf(name, sizeof(name), "big/file%03d", i);
		char *p = path(name);

		cr_assert_eq(unlink(p), 0);
		free(p);
		deleted[i] = true;
		k++;
	}
	for (int i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "big/new%03d", i);
		write_file(name, "", 0644);
	}
	while ((de = readdir(dir))) {
		int i;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
			dots++;
			continue;
		}
		/* POSIX: entries removed or added after opendir may or may
		 * not be listed; every other one exactly once */
		if (sscanf(de->d_name, "file%d", &i) != 1 || deleted[i])
			continue;
		cr_expect(!seen[i], "duplicate %s", de->d_name);
		seen[i] = true;
		n++;
	}
	closedir(dir);
	cr_expect_eq(dots, 2);
	cr_expect_eq(n, N - 50, "entries listed once each");
	free(d);
}

Test(posix, rename_flags)
{
	char *a = path("a"), *b = path("b"), *c = path("c");

	write_file("a", "AAA", 0644);
	write_file("b", "BBB", 0644);
	cr_expect_eq(ERRNO_OF(syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b,
				      RENAME_NOREPLACE)),
		     EEXIST);
	cr_expect_eq(syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b,
			     RENAME_EXCHANGE),
		     0, "exchange: %s", strerror(errno));
	cr_expect_str_eq(read_file("a"), "BBB");
	cr_expect_str_eq(read_file("b"), "AAA");
	cr_expect_eq(ERRNO_OF(syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, c,
				      RENAME_EXCHANGE)),
		     ENOENT);
	cr_expect_eq(rename(a, b), 0);
	cr_expect_str_eq(read_file("b"), "BBB");
	cr_expect_eq(ERRNO_OF(access(a, F_OK)), ENOENT);
	free(a);
	free(b);
	free(c);
}

Test(posix, links_and_unlinked_open_file)
{
	char *a = path("a"), *b = path("b"), buf[16] = "";
	struct stat st;
	int fd;

	write_file("a", "linked", 0644);
	cr_assert_eq(link(a, b), 0);
	cr_assert_eq(stat(a, &st), 0);
	cr_expect_eq(st.st_nlink, 2);
	cr_assert_eq(unlink(a), 0);
	cr_assert_eq(stat(b, &st), 0);
	cr_expect_eq(st.st_nlink, 1);
	fd = open(b, O_RDWR);
	cr_assert(fd >= 0);
	cr_assert_eq(unlink(b), 0);
	cr_expect_eq(ERRNO_OF(stat(b, &st)), ENOENT);
	cr_expect_eq(pwrite(fd, "!", 1, 6), 1);
	cr_expect_eq(pread(fd, buf, sizeof(buf), 0), 7);
	cr_expect_str_eq(buf, "linked!");
	cr_expect_eq(fstat(fd, &st), 0);
	cr_expect_eq(st.st_nlink, 0);
	cr_expect_eq(fsync(fd), 0);
	cr_expect_eq(fsync(fd), 0);
	close(fd);
	free(a);
	free(b);
}

Test(posix, truncate_and_big_io)
{
	size_t len = 3u << 20;
	char *buf = malloc(len), *back = malloc(len), *p = path("big");
	struct stat st;
	int fd;

	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i * 31 + i / 4096);
	fd = open(p, O_RDWR | O_CREAT, 0644);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	cr_assert_eq(pread(fd, back, len, 0), (ssize_t)len);
	cr_expect(memcmp(buf, back, len) == 0, "data read back differs");
	cr_assert_eq(ftruncate(fd, 10000), 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_expect_eq(st.st_size, 10000);
	cr_assert_eq(truncate(p, 20000), 0);
	memset(back, 1, 20000);
	cr_assert_eq(pread(fd, back, 20000, 0), 20000);
	cr_expect(memcmp(buf, back, 10000) == 0);
	for (int i = 10000; i < 20000; i++)
		cr_assert_eq(back[i], 0, "byte %d after extending truncate", i);
	close(fd);
	fd = open(p, O_WRONLY | O_TRUNC);
	cr_assert(fd >= 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_expect_eq(st.st_size, 0);
	close(fd);
	free(buf);
	free(back);
	free(p);
}

Test(posix, timestamps)
{
	char *p;
	struct stat st, st2;
	struct timespec before, ts[2];

	clock_gettime(CLOCK_REALTIME, &before);
	write_file("t", "x", 0644);
	p = path("t");
	cr_assert_eq(stat(p, &st), 0);
	cr_expect_geq(st.st_mtim.tv_sec, before.tv_sec - 1);
	ts[0].tv_sec = 1000;
	ts[0].tv_nsec = 5;
	ts[1].tv_sec = 2000;
	ts[1].tv_nsec = 7;
	cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
	cr_assert_eq(stat(p, &st), 0);
	cr_expect_eq(st.st_atim.tv_sec, 1000);
	cr_expect_eq(st.st_atim.tv_nsec, 5);
	cr_expect_eq(st.st_mtim.tv_sec, 2000);
	cr_expect_eq(st.st_mtim.tv_nsec, 7);
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = 3000;
	ts[1].tv_nsec = 0;
	cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
	cr_assert_eq(stat(p, &st), 0);
	cr_expect_eq(st.st_atim.tv_sec, 1000);
	cr_expect_eq(st.st_mtim.tv_sec, 3000);
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_nsec = UTIME_OMIT;
	cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
	cr_assert_eq(stat(p, &st2), 0);
	cr_expect_geq(st2.st_atim.tv_sec, before.tv_sec - 1);
	cr_expect_eq(st2.st_mtim.tv_sec, 3000);
	cr_expect_geq(st2.st_ctim.tv_sec, before.tv_sec - 1);
	free(p);
}

Test(posix, chmod_chown_mknod_statfs)
{
	char *p = path("f"), *fifo = path("fifo");
	struct statvfs sv;
	struct stat st;

	write_file("f", "x", 0600);
	cr_assert_eq(chmod(p, 0641), 0);
	cr_assert_eq(chown(p, 1234, 5678), 0);
	cr_assert_eq(stat(p, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0641);
	cr_expect_eq(st.st_uid, 1234);
	cr_expect_eq(st.st_gid, 5678);
	cr_expect(S_ISREG(st.st_mode));
	cr_assert_eq(mkfifo(fifo, 0644), 0);
	cr_assert_eq(stat(fifo, &st), 0);
	cr_expect(S_ISFIFO(st.st_mode));
	cr_assert_eq(statvfs(mnt, &sv), 0);
	cr_expect_gt(sv.f_bsize, 0);
	cr_expect_gt(sv.f_blocks, 0);
	cr_expect_eq(sv.f_namemax, 255);
	free(p);
	free(fifo);
}

Test(posix, xattrs)
{
	char *p = path("x"), buf[64];
	ssize_t n;

	write_file("x", "", 0644);
	cr_assert_eq(setxattr(p, "user.color", "blue", 4, 0), 0,
		     "setxattr: %s", strerror(errno));
	cr_expect_eq(ERRNO_OF(setxattr(p, "user.color", "red", 3,
				       XATTR_CREATE)),
		     EEXIST);
	n = getxattr(p, "user.color", buf, sizeof(buf));
	cr_expect_eq(n, 4);
	cr_expect(memcmp(buf, "blue", 4) == 0);
	cr_expect_eq(getxattr(p, "user.color", NULL, 0), 4);
	n = listxattr(p, buf, sizeof(buf));
	cr_expect_eq(n, (ssize_t)sizeof("user.color"));
	cr_expect_str_eq(buf, "user.color");
	cr_expect_eq(ERRNO_OF(getxattr(p, "user.color", buf, 2)), ERANGE);
	cr_assert_eq(removexattr(p, "user.color"), 0);
	cr_expect_eq(ERRNO_OF(getxattr(p, "user.color", buf, sizeof(buf))),
		     ENODATA);
	free(p);
}

Test(posix, fallocate_lseek_copy_file_range)
{
	char *a = path("a"), *b = path("b");
	char *buf = malloc(100000), *back = malloc(100000);
	int fa, fb;
	off_t oin = 0, oout = 0;
	ssize_t n;
	struct stat st;

	for (int i = 0; i < 100000; i++)
		buf[i] = (char)(i % 251);
	fa = open(a, O_RDWR | O_CREAT, 0644);
	fb = open(b, O_RDWR | O_CREAT, 0644);
	cr_assert(fa >= 0 && fb >= 0);
	cr_assert_eq(write(fa, buf, 100000), 100000);
	cr_expect_eq(lseek(fa, 0, SEEK_DATA), 0);
	cr_expect_geq(lseek(fa, 0, SEEK_HOLE), 100000 - 4096);
	cr_expect_eq(ERRNO_OF(lseek(fa, 200000, SEEK_DATA)), ENXIO);
	n = copy_file_range(fa, &oin, fb, &oout, 100000, 0);
	cr_expect_eq(n, 100000, "copy_file_range: %s", strerror(errno));
	cr_assert_eq(pread(fb, back, 100000, 0), 100000);
	cr_expect(memcmp(buf, back, 100000) == 0);
	cr_assert_eq(fallocate(fb, 0, 0, 300000), 0, "fallocate: %s",
		     strerror(errno));
	cr_assert_eq(fstat(fb, &st), 0);
	cr_expect_eq(st.st_size, 300000);
	close(fa);
	close(fb);
	free(buf);
	free(back);
	free(a);
	free(b);
}

/* ---- as an unprivileged user ------------------------------------------ */

static int nobody_create(void *arg)
{
	int fd = open(arg, O_CREAT | O_WRONLY, 0644);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int nobody_mkdir(void *arg)
{
	return mkdir(arg, 0755) ? errno : 0;
}

static int nobody_open_write(void *arg)
{
	int fd = open(arg, O_WRONLY);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int nobody_chmod(void *arg)
{
	return chmod(arg, 0777) ? errno : 0;
}

static int nobody_write(void *arg)
{
	int fd = open(arg, O_WRONLY);

	if (fd < 0)
		return errno;
	if (write(fd, "w", 1) != 1)
		return errno;
	close(fd);
	return 0;
}

/* As the owner: set setuid+setgid, then chgrp to its own group. */
static int nobody_suid_chgrp(void *arg)
{
	if (chmod(arg, 06755) != 0)
		return errno;
	return chown(arg, (uid_t)-1, NOBODY) ? errno : 0;
}

Test(posix, unprivileged_user)
{
	char *pub = path("pub"), *root_f = path("rootfile");
	char *nf = path("pub/nf"), *sg = path("sg"), *sgf = path("sg/f");
	char *sgd = path("sg/d"), *suid = path("pub/suid");
	struct stat st;

	cr_assert_eq(mkdir(pub, 0777), 0);
	cr_assert_eq(chmod(pub, 0777), 0);
	write_file("rootfile", "root", 0644);

	/* ownership of new files */
	cr_expect_eq(as_nobody(nobody_create, nf), 0);
	cr_assert_eq(stat(nf, &st), 0);
	cr_expect_eq(st.st_uid, NOBODY);
	cr_expect_eq(st.st_gid, NOBODY);

	/* the kernel checks modes: default_permissions */
	cr_expect_eq(as_nobody(nobody_open_write, root_f), EACCES);
	cr_expect_eq(as_nobody(nobody_chmod, root_f), EPERM);
	cr_expect_eq(as_nobody(nobody_create, root_f), EACCES);

	/* setgid directory: group and (for directories) the bit inherited */
	cr_assert_eq(mkdir(sg, 0777), 0);
	cr_assert_eq(chown(sg, 0, 100), 0);
	cr_assert_eq(chmod(sg, 02777), 0);
	cr_expect_eq(as_nobody(nobody_create, sgf), 0);
	cr_assert_eq(stat(sgf, &st), 0);
	cr_expect_eq(st.st_gid, 100);
	cr_expect_eq(as_nobody(nobody_mkdir, sgd), 0);
	cr_assert_eq(stat(sgd, &st), 0);
	cr_expect_eq(st.st_gid, 100);
	cr_expect(st.st_mode & S_ISGID, "mode %o", st.st_mode);

	/* setuid cleared when an unprivileged user writes */
	write_file("pub/suid", "s", 0777);
	cr_assert_eq(chmod(suid, 04777), 0);
	cr_expect_eq(as_nobody(nobody_write, suid), 0);
	cr_assert_eq(stat(suid, &st), 0);
	cr_expect_eq(st.st_mode & S_ISUID, 0, "mode %o", st.st_mode);

	/* ... and when an unprivileged owner changes the group */
	cr_expect_eq(as_nobody(nobody_suid_chgrp, nf), 0);
	cr_assert_eq(stat(nf, &st), 0);
	cr_expect_eq(st.st_mode & (S_ISUID | S_ISGID), 0, "mode %o",
		     st.st_mode);
	cr_expect_eq(st.st_mode & 0777, 0755, "mode %o", st.st_mode);

	free(pub);
	free(root_f);
	free(nf);
	free(sg);
	free(sgf);
	free(sgd);
	free(suid);
}

/* ---- open without OPEN, cached listings (the glue's rule (7), (2)) ------ */

static int nobody_open_trunc(void *arg)
{
	int fd = open(arg, O_WRONLY | O_TRUNC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* O_TRUNC reaches the filesystem although OPEN is not sent: truncated,
 * durable, and setuid cleared for an unprivileged caller. */
Test(posix, open_trunc_without_open_request)
{
	char *f = path("t"), *s = path("s");
	struct stat st;
	int fd;

	write_file("t", "0123456789", 0644);
	fd = open(f, O_RDWR | O_TRUNC);
	cr_assert(fd >= 0);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_expect_eq(st.st_size, 0);
	cr_assert_eq(write(fd, "ab", 2), 2);
	close(fd);
	write_file("s", "setuid data", 0777);
	cr_assert_eq(chmod(s, 04777), 0);
	cr_expect_eq(as_nobody(nobody_open_trunc, s), 0);
	cr_assert_eq(stat(s, &st), 0);
	cr_expect_eq(st.st_size, 0);
	cr_expect_eq(st.st_mode & S_ISUID, 0, "mode %o", st.st_mode);
	umount_fuse();
	mount_fg("allow_other");
	cr_expect_str_eq(read_file("t"), "ab");
	cr_assert_eq(stat(s, &st), 0);
	cr_expect_eq(st.st_size, 0);
	cr_expect_eq(st.st_mode & 07777, 0777, "mode %o", st.st_mode);
	free(f);
	free(s);
}

/* Names in a directory listing, sorted and joined by spaces. */
static char *listing(const char *rel)
{
	static char out[4096];
	char *names[64];
	int n = 0;
	char *p = path(rel);
	DIR *d = opendir(p);
	struct dirent *e;

	cr_assert(d, "opendir %s: %s", p, strerror(errno));
	while ((e = readdir(d)) && n < 64)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			names[n++] = strdup(e->d_name);
	closedir(d);
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0;
		     j--) {
			char *t = names[j];

			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	out[0] = 0;
	for (int i = 0; i < n; i++) {
		strcat(out, i ? " " : "");
		strcat(out, names[i]);
		free(names[i]);
	}
	free(p);
	return out;
}

/* The kernel caches listings (cache_readdir); every change made through
 * the mount must show in the next listing. */
Test(posix, cached_listing_follows_changes)
{
	char *d = path("d"), *a = path("d/a"), *b = path("d/b");
	char *c = path("d/c"), *sub = path("d/sub");

	cr_assert_eq(mkdir(d, 0755), 0);
	cr_expect_str_eq(listing("d"), "");
	write_file("d/a", "a", 0644);
	cr_expect_str_eq(listing("d"), "a");
	cr_expect_str_eq(listing("d"), "a"); /* from the cache */
	cr_assert_eq(rename(a, b), 0);
	cr_expect_str_eq(listing("d"), "b");
	cr_assert_eq(mkdir(sub, 0755), 0);
	cr_expect_str_eq(listing("d"), "b sub");
	cr_assert_eq(link(b, c), 0);
	cr_expect_str_eq(listing("d"), "b c sub");
	cr_assert_eq(unlink(b), 0);
	cr_expect_str_eq(listing("d"), "c sub");
	cr_assert_eq(rmdir(sub), 0);
	cr_expect_str_eq(listing("d"), "c");
	cr_assert_eq(symlink("c", a), 0);
	cr_expect_str_eq(listing("d"), "a c");
	umount_fuse();
	mount_fg("allow_other");
	cr_expect_str_eq(listing("d"), "a c");
	free(d);
	free(a);
	free(b);
	free(c);
	free(sub);
}
