/*
 * mnt.h - fixtures shared by the mount suites after test_mount.c (which
 * keeps its own): an image on /dev/shm made by the built mkfs.pmfs, the
 * built mount.pmfs run as a foreground child (-f), unmount and wait.
 * Header-only (static inline) because every tests/mount/test_*.c is built
 * as one binary from one source file.
 *
 * State lives in one struct mnt per test; mnt_teardown() is safe to call
 * at any point (also after a failed assertion).
 */
#ifndef PMFS_TESTS_MNT_H
#define PMFS_TESTS_MNT_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount/transport.h"
#include "testutil.h"

struct mnt {
	char *img; /* the image file */
	char *dir; /* the mountpoint */
	pid_t fg;  /* foreground mount.pmfs, or 0 */
	/* absolute path of mount.pmfs: a test may change its directory */
	char bin[4096];
};

static inline void mnt_need_fuse(void)
{
	if (access("/dev/fuse", R_OK | W_OK) != 0)
		cr_skip_test("/dev/fuse is missing: FUSE mount tests skipped");
}

/* malloc'd "dir/rel" */
static inline char *mnt_path(const struct mnt *m, const char *rel)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", m->dir, rel) > 0);
	return p;
}

/* Run a built tool with NULL-terminated arguments; its exit status. */
static inline int mnt_tool(char *out, size_t on, char *err, size_t en,
			   const char *t, ...)
{
	char *argv[16];
	int n = 0, r;
	va_list ap;

	argv[n++] = strdup(tu_tool(t));
	va_start(ap, t);
	while (n < 15 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	r = tu_run(argv, out, on, err, en);
	free(argv[0]);
	return r;
}

/* The first sz-1 bytes of a file (a daemon's log), NUL-terminated ("" if
 * none). */
static inline void mnt_slurp(const char *path, char *buf, size_t sz)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sz - 1) : 0;

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/* The daemon's request counts (transport.h), through the mount's root,
 * which *fd keeps open (-1: not yet) so that the counting itself adds no
 * LOOKUP; mnt_umount_counted lets go of it. */
static inline void mnt_counts(const struct mnt *m, int *fd,
			      struct pmfs_req_counts *c)
{
	if (*fd < 0)
		*fd = open(m->dir, O_RDONLY | O_DIRECTORY);
	cr_assert(*fd >= 0, "open %s: %s", m->dir, strerror(errno));
	cr_assert_eq(ioctl(*fd, PMFS_IOC_REQ_COUNTS, c), 0,
		     "PMFS_IOC_REQ_COUNTS: %s", strerror(errno));
}

/* Requests of opcode op between two snapshots of the counts. */
static inline uint64_t mnt_req_delta(const struct pmfs_req_counts *a,
				     const struct pmfs_req_counts *b,
				     unsigned op)
{
	return b->n[op] - a->n[op];
}

/* Is something mounted on dir?  If so, copy its /proc/mounts line. */
static inline bool mnt_is_mounted(const char *dir, char *line, size_t sz)
{
	FILE *f = fopen("/proc/mounts", "r");
	char buf[4096];
	bool found = false;

	cr_assert(f);
	while (fgets(buf, sizeof(buf), f)) {
		char src[1024], mp[1024];

		if (sscanf(buf, "%1023s %1023s", src, mp) == 2 &&
		    !strcmp(mp, dir)) {
			found = true;
			if (line)
				snprintf(line, sz, "%s", buf);
		}
	}
	fclose(f);
	return found;
}

/* A fresh image of `size` bytes and an empty mountpoint. */
static inline void mnt_mkfs(struct mnt *m, uint64_t size)
{
	char err[4096] = "";
	int r;

	cr_assert(realpath(tu_tool("mount.pmfs"), m->bin), "no built %s",
		  tu_tool("mount.pmfs"));
	m->img = tu_tmpimg(size);
	m->dir = tu_tmpdir();
	r = mnt_tool(NULL, 0, err, sizeof(err), "mkfs.pmfs", "-q", m->img,
		     NULL);
	cr_assert_eq(r, 0, "mkfs.pmfs failed (%d): %s", r, err);
}

/*
 * In a forked child about to exec mount.pmfs: SIGINT and SIGTERM back to
 * their defaults.  A shell starts background jobs with SIGINT ignored and
 * the ignore survives exec; libfuse then (rightly) leaves SIGINT alone,
 * and a suite run from such a job would see a daemon that ignores it.
 */
static inline void mnt_default_signals(void)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
}

/* Start mount.pmfs -f [extra flag] [-o opts]; returns once mounted.
 * The daemon's stdout (mount -v) goes to the file `log` if given.
 * PMFS_TEST_MOUNT_OPTS in the environment adds one more -o (e.g.
 * io_uring, to run a whole suite over FUSE-over-io_uring). */
static inline void mnt_start(struct mnt *m, const char *flag,
			     const char *opts, const char *log)
{
	char *bin = strdup(m->bin);
	const char *more = getenv("PMFS_TEST_MOUNT_OPTS");
	int st;

	m->fg = fork();
	cr_assert(m->fg >= 0);
	if (m->fg == 0) {
		char *argv[10];
		int n = 0, nul = open("/dev/null", O_RDWR);

		/* keep none of Criterion's pipes open in the daemon */
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		if (log) {
			int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			dup2(fd, 1);
			dup2(fd, 2);
		}
		closefrom(3);
		mnt_default_signals();
		argv[n++] = bin;
		argv[n++] = "-f";
		if (flag)
			argv[n++] = (char *)flag;
		if (opts) {
			argv[n++] = "-o";
			argv[n++] = (char *)opts;
		}
		if (more && *more) {
			argv[n++] = "-o";
			argv[n++] = (char *)more;
		}
		argv[n++] = m->img;
		argv[n++] = m->dir;
		argv[n] = NULL;
		execv(bin, argv);
		_exit(127);
	}
	free(bin);
	for (int i = 0; i < 6000; i++) {
		if (mnt_is_mounted(m->dir, NULL, 0))
			return;
		if (waitpid(m->fg, &st, WNOHANG) == m->fg) {
			m->fg = 0;
			cr_assert_fail("mount.pmfs -f exited (status %d)", st);
		}
		usleep(5000);
	}
	cr_assert_fail("mount.pmfs -f did not mount");
}

/* How long a daemon told to exit (unmounted, signalled) may take. */
#define MNT_EXIT_WAIT_S 120

/*
 * Reap daemon pid: its exit code (128+sig if killed), or -1.  A daemon
 * that has not exited after MNT_EXIT_WAIT_S seconds is killed and -2
 * returned: a daemon that ignores its unmount fails the test, it never
 * hangs the suite.
 */
static inline int mnt_reap(pid_t pid)
{
	int st;

	for (long i = 0;; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return -1;
		if (i >= MNT_EXIT_WAIT_S * 100L) {
			fprintf(stderr, "mount.pmfs (pid %d) still running "
				"%d s after it was told to exit: killed\n",
				(int)pid, MNT_EXIT_WAIT_S);
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			return -2;
		}
		usleep(10000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Wait for the foreground daemon; its exit code (mnt_reap). */
static inline int mnt_wait(struct mnt *m)
{
	int rc;

	if (!m->fg)
		return -1;
	rc = mnt_reap(m->fg);
	m->fg = 0;
	return rc;
}

/*
 * umount(2) (we are root in CI), then wait for the daemon's exit.
 *
 * umount(2) fails with EBUSY while anything still uses the mount, and
 * something outside the test's control (a process still on its way out,
 * a tool that looks at new mounts) may do so for a moment: EBUSY is
 * retried every 10 ms for up to 10 s, and is a failure after that.
 *
 * umount(2) returns once the mount is gone from the namespace, before
 * mount.pmfs has written its clean unmount and released the device lock;
 * fsck.pmfs and the next mount take that lock, so the daemon's exit is
 * waited for here, and must be clean.
 */
static inline void mnt_umount(struct mnt *m)
{
	int r;

	for (int i = 0;; i++) {
		r = umount2(m->dir, 0) ? errno : 0;
		if (r != EBUSY || i == 1000)
			break;
		usleep(10000);
	}
	cr_assert_eq(r, 0, "umount %s: %s", m->dir, strerror(r));
	cr_assert_eq(mnt_wait(m), 0, "mount.pmfs did not exit cleanly");
	cr_assert(!mnt_is_mounted(m->dir, NULL, 0));
}

/* Close the root mnt_counts held (it keeps the mount busy), unmount. */
static inline void mnt_umount_counted(struct mnt *m, int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	mnt_umount(m);
}

static inline void mnt_teardown(struct mnt *m)
{
	if (m->dir && mnt_is_mounted(m->dir, NULL, 0))
		umount2(m->dir, MNT_DETACH);
	if (m->fg) {
		kill(m->fg, SIGKILL);
		mnt_wait(m);
	}
	if (m->img)
		tu_rmimg(m->img);
	if (m->dir)
		rmdir(m->dir);
	free(m->dir);
	m->img = m->dir = NULL;
}

#endif /* PMFS_TESTS_MNT_H */
