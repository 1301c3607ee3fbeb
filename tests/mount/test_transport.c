/*
 * test_transport.c - mount.pmfs's transport (mount/transport.h) on a real
 * FUSE mount: custom_io installed after fuse_session_mount() serves the
 * whole life of a mount; the request counters (PMFS_IOC_REQ_COUNTS);
 * FUSE_HANDLE_KILLPRIV_V2 added to INIT, so that cached writes stop
 * costing a GETXATTR(security.capability) each; and the setuid/setgid
 * clearing that V2 hands to pmfs (write, truncate, chown, O_TRUNC open;
 * by the owner, by another user, by root), checked against the same
 * expectations with -o nokillpriv_v2, where the kernel clears the bits.
 *
 * Needs /dev/fuse and root (setresuid to 65534 in forked children).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnt.h"
#include "mount/transport.h"

#define IMG_SIZE (64ull << 20)
#define NOBODY 65534

static struct mnt m;

/* -o allow_other[,extra]: uid 65534 acts on the mount too. */
static const char *with_other(const char *extra)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "allow_other%s%s", extra ? "," : "",
		 extra ? extra : "");
	return buf;
}

/* The mount's root, open for the counting ioctl from the first count to
 * the unmount: opening and closing it between two counts would put an
 * OPENDIR and a RELEASEDIR (sent when the kernel gets to it) into them. */
static int count_fd = -1;

/* Format and mount with -o allow_other,opts (foreground child). */
static void start(const char *opts)
{
	mnt_need_fuse();
	mnt_mkfs(&m, IMG_SIZE);
	mnt_start(&m, NULL, with_other(opts), NULL);
}

static void teardown(void)
{
	if (count_fd >= 0)
		close(count_fd);
	count_fd = -1;
	mnt_teardown(&m);
}

/* A file of `size` bytes with the given owner and mode (set by root
 * after the write, so that no clearing happens on the way). */
static char *mkfile(const char *rel, uid_t uid, gid_t gid, mode_t mode)
{
	char *p = mnt_path(&m, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);

	cr_assert(fd >= 0, "create %s: %s", p, strerror(errno));
	cr_assert_eq(write(fd, "0123456789", 10), 10);
	cr_assert_eq(close(fd), 0);
	cr_assert_eq(chown(p, uid, gid), 0);
	cr_assert_eq(chmod(p, mode), 0);
	return p;
}

static mode_t mode_of(const char *p)
{
	struct stat st;

	cr_assert_eq(stat(p, &st), 0, "stat %s: %s", p, strerror(errno));
	return st.st_mode & 07777;
}

enum act { ACT_WRITE, ACT_APPEND, ACT_TRUNCATE, ACT_CHOWN, ACT_OPEN_TRUNC };

/* Do act on p; 0 or an errno. */
static int do_act(enum act a, const char *p)
{
	int fd, err = 0;

	switch (a) {
	case ACT_WRITE:
		fd = open(p, O_WRONLY);
		if (fd < 0)
			return errno;
		if (pwrite(fd, "x", 1, 3) != 1)
			err = errno;
		close(fd);
		return err;
	case ACT_APPEND:
		fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0)
			return errno;
		if (write(fd, "x", 1) != 1)
			err = errno;
		close(fd);
		return err;
	case ACT_TRUNCATE:
		return truncate(p, 4) ? errno : 0;
	case ACT_CHOWN:
		return chown(p, NOBODY, NOBODY) ? errno : 0;
	case ACT_OPEN_TRUNC:
		fd = open(p, O_WRONLY | O_TRUNC);
		if (fd < 0)
			return errno;
		close(fd);
		return 0;
	}
	return EINVAL;
}

/* Do act on p as uid/gid `as` (0: root, in this process). */
static int act_as(uid_t as, enum act a, const char *p)
{
	pid_t pid;
	int st;

	if (as == 0)
		return do_act(a, p);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(as, as, as) ||
		    setresuid(as, as, as))
			_exit(255);
		_exit(do_act(a, p));
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	cr_assert_neq(WEXITSTATUS(st), 255, "cannot become uid %u", as);
	return WEXITSTATUS(st);
}

struct kill_case {
	const char *name;
	enum act act;
	uid_t owner; /* file owner and group */
	uid_t as;    /* who acts */
	mode_t before, after;
};

/* Linux VFS rules: a caller without CAP_FSETID (uid 65534 here) clears
 * setuid on write/truncate/O_TRUNC, and setgid only where the group may
 * execute; root keeps both; chown clears them whoever asks. */
static const struct kill_case kill_cases[] = {
	{ "write-owner", ACT_WRITE, NOBODY, NOBODY, 06775, 0775 },
	{ "write-owner-sgid-noexec", ACT_WRITE, NOBODY, NOBODY, 06765, 02765 },
	{ "write-other", ACT_WRITE, 0, NOBODY, 06777, 0777 },
	{ "write-root", ACT_WRITE, NOBODY, 0, 06775, 06775 },
	{ "append-owner", ACT_APPEND, NOBODY, NOBODY, 06775, 0775 },
	{ "append-other-sgid", ACT_APPEND, 0, NOBODY, 02777, 0777 },
	{ "append-root", ACT_APPEND, NOBODY, 0, 06775, 06775 },
	{ "truncate-owner", ACT_TRUNCATE, NOBODY, NOBODY, 06775, 0775 },
	{ "truncate-root", ACT_TRUNCATE, NOBODY, 0, 06775, 06775 },
	{ "chown-root", ACT_CHOWN, 0, 0, 06775, 0775 },
	{ "chown-owner", ACT_CHOWN, NOBODY, NOBODY, 06775, 0775 },
	{ "otrunc-owner", ACT_OPEN_TRUNC, NOBODY, NOBODY, 06775, 0775 },
	{ "otrunc-other", ACT_OPEN_TRUNC, 0, NOBODY, 04777, 0777 },
	{ "otrunc-root", ACT_OPEN_TRUNC, NOBODY, 0, 06775, 06775 },
};
#define NKILL (sizeof(kill_cases) / sizeof(kill_cases[0]))

/* Every case on its own file; modes checked now and after a remount. */
static void run_kill_cases(const char *opts)
{
	char *paths[NKILL];

	start(opts);
	for (size_t i = 0; i < NKILL; i++) {
		const struct kill_case *k = &kill_cases[i];

		/* the stat leaves the mode in the kernel's cache: what the
		 * kernel shows after the act must not be that stale copy */
		paths[i] = mkfile(k->name, k->owner, k->owner, k->before);
		cr_assert_eq(mode_of(paths[i]), k->before, "%s: set up",
			     k->name);
		cr_assert_eq(act_as(k->as, k->act, paths[i]), 0, "%s failed",
			     k->name);
		cr_expect_eq(mode_of(paths[i]), k->after,
			     "%s (%s): mode %o, expected %o", k->name,
			     opts, mode_of(paths[i]), k->after);
	}
	mnt_umount_counted(&m, &count_fd);
	mnt_start(&m, NULL, with_other(opts), NULL);
	for (size_t i = 0; i < NKILL; i++) {
		cr_expect_eq(mode_of(paths[i]), kill_cases[i].after,
			     "%s (%s) after remount: mode %o",
			     kill_cases[i].name, opts, mode_of(paths[i]));
		free(paths[i]);
	}
	mnt_umount_counted(&m, &count_fd);
}

TestSuite(transport, .fini = teardown, .timeout = 120);

/* custom_io after fuse_session_mount(): INIT and every later request go
 * through the transport, and libfuse unmounts and ends as usual. */
Test(transport, custom_io_after_session_mount)
{
	struct pmfs_req_counts a, b;
	char *f;

	start(NULL);
	mnt_counts(&m, &count_fd, &a);
	cr_expect_eq(a.n[PMFS_REQ_INIT], 1, "INIT seen %llu times",
		     (unsigned long long)a.n[PMFS_REQ_INIT]);
	f = mkfile("f", 0, 0, 0644);
	mnt_counts(&m, &count_fd, &b);
	cr_expect_geq(mnt_req_delta(&a, &b, PMFS_REQ_LOOKUP), 1);
	cr_expect_eq(b.n[PMFS_REQ_IOCTL], 0,
		     "the counters' own IOCTLs are not counted");
	free(f);
	/* the daemon exits 0: the fd was closed once */
	mnt_umount_counted(&m, &count_fd);
	mnt_start(&m, NULL, with_other(NULL), NULL);
	mnt_counts(&m, &count_fd, &b);
	cr_expect_eq(b.n[PMFS_REQ_INIT], 1);
	mnt_umount_counted(&m, &count_fd);
}

/* Under V2 a cached write is one WRITE; without it each write also costs
 * a GETXATTR(security.capability). */
static void cached_writes(const char *opts, uint64_t getxattr_want)
{
	struct pmfs_req_counts a, b;
	char buf[4096], *p;
	int fd;

	start(opts);
	p = mkfile("w", 0, 0, 0644);
	memset(buf, 'w', sizeof(buf));
	fd = open(p, O_WRONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	mnt_counts(&m, &count_fd, &a);
	for (int i = 0; i < 200; i++)
		cr_assert_eq(pwrite(fd, buf, sizeof(buf), (off_t)i * 4096),
			     (ssize_t)sizeof(buf));
	mnt_counts(&m, &count_fd, &b);
	close(fd);
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_WRITE), 200);
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_GETXATTR), getxattr_want,
		     "%s: %llu GETXATTR for 200 writes", opts,
		     (unsigned long long)mnt_req_delta(&a, &b, PMFS_REQ_GETXATTR));
	free(p);
	mnt_umount_counted(&m, &count_fd);
}

Test(transport, killpriv_v2_no_getxattr_per_write)
{
	cached_writes("killpriv_v2", 0);
}

Test(transport, without_v2_getxattr_per_write)
{
	cached_writes("nokillpriv_v2", 200);
}

/* Under V2 the write that clears setuid is one WRITE marked for it: the
 * kernel's own SETATTR before it asks for nothing (no mode), pmfs clears
 * the bits in the write's commit, and the kernel's cached mode follows. */
Test(transport, killpriv_v2_write_clears_with_the_write)
{
	struct pmfs_req_counts a, b;
	struct stat st;
	char *p;

	start("killpriv_v2");
	p = mkfile("s", NOBODY, NOBODY, 06775);
	cr_assert_eq(stat(p, &st), 0); /* the kernel caches 06775 */
	mnt_counts(&m, &count_fd, &a);
	cr_assert_eq(act_as(NOBODY, ACT_APPEND, p), 0);
	cr_expect_eq(mode_of(p), 0775, "mode %o", mode_of(p));
	mnt_counts(&m, &count_fd, &b);
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_WRITE), 1);
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_GETATTR), 1,
		     "the cached mode was dropped and read again: %llu",
		     (unsigned long long)mnt_req_delta(&a, &b, PMFS_REQ_GETATTR));
	free(p);
	mnt_umount_counted(&m, &count_fd);
}

Test(transport, killpriv_v2_clears_suid_sgid)
{
	run_kill_cases("killpriv_v2");
}

Test(transport, kernel_clears_suid_sgid_without_v2)
{
	run_kill_cases("nokillpriv_v2");
}

/* Only PMFS_IOC_REQ_COUNTS is pmfs's; other commands are refused. */
Test(transport, other_ioctls_refused)
{
	int fd, v = 0;

	start(NULL);
	fd = open(m.dir, O_RDONLY | O_DIRECTORY);
	cr_assert(fd >= 0);
	cr_expect_eq(ioctl(fd, _IOR('P', 0x72, int), &v), -1);
	cr_expect_eq(errno, ENOTTY, "errno %d", errno);
	close(fd);
	mnt_umount_counted(&m, &count_fd);
}

/* ---- round trips per operation (fuse_ll.c rule (7)) --------------------- */

TestSuite(requests, .fini = teardown, .timeout = 120);

/* Requests between two snapshots, FORGETs left out (the kernel sends
 * them when it drops inodes, whenever that is). */
static uint64_t total(const struct pmfs_req_counts *a,
		      const struct pmfs_req_counts *b)
{
	uint64_t n = 0;

	for (unsigned op = 0; op < PMFS_REQ_OPCODES; op++)
		if (op != PMFS_REQ_FORGET && op != PMFS_REQ_BATCH_FORGET)
			n += mnt_req_delta(a, b, op);
	return n;
}

/* The requests of a step, as "LOOKUP=1 MKNOD=1", for messages. */
static const char *trace(const struct pmfs_req_counts *a,
			 const struct pmfs_req_counts *b)
{
	static char buf[512];
	size_t k = 0;

	buf[0] = 0;
	for (unsigned op = 0; op < PMFS_REQ_OPCODES && k < sizeof(buf); op++)
		if (mnt_req_delta(a, b, op))
			k += (size_t)snprintf(buf + k, sizeof(buf) - k,
					      " %s=%llu",
					      pmfs_req_name(op) ? pmfs_req_name(op)
								: "?",
					      (unsigned long long)mnt_req_delta(a, b, op));
	return buf;
}

/* open(O_CREAT|O_EXCL) + close of rel. */
static void create_close(const char *rel, int extra)
{
	char *p = mnt_path(&m, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | extra, 0644);

	cr_assert(fd >= 0, "create %s: %s", p, strerror(errno));
	cr_assert_eq(close(fd), 0);
	free(p);
}

/*
 * A create is LOOKUP + MKNOD: the first CREATE is answered ENOSYS and the
 * kernel never sends another, nor OPEN or RELEASE.  Each change to a
 * directory also makes the kernel drop the directory's cached attributes,
 * and under default_permissions the next path walk through it reads them
 * again: one GETATTR per create in a loop, owed by the previous one, so
 * 20 creates in a row cost 20 LOOKUP, 20 MKNOD and 19 GETATTR (the first
 * one's was paid by the walk that opened the counting fd, the last one's
 * is owed to whatever walks the directory next).
 */
Test(requests, create_is_lookup_and_mknod)
{
	struct pmfs_req_counts a, b;
	char name[32];

	start(NULL);
	create_close("warm", 0); /* the kernel learns: no CREATE, no OPEN */
	mnt_counts(&m, &count_fd, &a);
	for (int i = 0; i < 20; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		create_close(name, 0);
	}
	mnt_counts(&m, &count_fd, &b);
	cr_expect_eq(total(&a, &b), 59, "20 creates:%s", trace(&a, &b));
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_LOOKUP), 20);
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_MKNOD), 20);
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_GETATTR), 19, "the directory's");
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_CREATE), 0);
	mnt_umount_counted(&m, &count_fd);
}

/*
 * Per operation, after the kernel has learnt what pmfs does not need:
 * create LOOKUP + MKNOD; cached 4 KiB write 1; the untar step (create,
 * write 1 KiB, fchmod, futimens, close) LOOKUP, MKNOD, WRITE, 2 SETATTR
 * and one GETXATTR(security.capability), which the kernel asks once
 * before the first write to each new inode.  Each is measured with the
 * directory's attributes fresh (the walk that opened the counting fd, or
 * the open of "c", read them): the GETATTR a change to the directory
 * leaves owed is paid by the next walk, outside these windows.
 */
Test(requests, per_operation)
{
	static const struct timespec ts[2] = { { 1000, 0 }, { 2000, 0 } };
	struct pmfs_req_counts a, b;
	char buf[4096], *p;
	int fd;

	memset(buf, 'r', sizeof(buf));
	start(NULL);
	create_close("warm", 0);

	mnt_counts(&m, &count_fd, &a);
	create_close("c", 0);
	mnt_counts(&m, &count_fd, &b);
	cr_expect_eq(total(&a, &b), 2, "create:%s", trace(&a, &b));
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_LOOKUP), 1);
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_MKNOD), 1);

	p = mnt_path(&m, "c");
	fd = open(p, O_WRONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	mnt_counts(&m, &count_fd, &a);
	cr_assert_eq(pwrite(fd, buf, sizeof(buf), 4096), (ssize_t)sizeof(buf));
	mnt_counts(&m, &count_fd, &b);
	cr_expect_eq(total(&a, &b), 1, "cached write:%s", trace(&a, &b));
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_WRITE), 1);
	close(fd);
	free(p);

	p = mnt_path(&m, "t");
	mnt_counts(&m, &count_fd, &a);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, buf, 1024), 1024);
	cr_assert_eq(fchmod(fd, 0600), 0);
	cr_assert_eq(futimens(fd, ts), 0);
	cr_assert_eq(close(fd), 0);
	mnt_counts(&m, &count_fd, &b);
	cr_expect_eq(total(&a, &b), 6, "untar step:%s", trace(&a, &b));
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_GETXATTR), 1,
		     "untar step:%s", trace(&a, &b));
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_SETATTR), 2,
		     "untar step:%s", trace(&a, &b));
	cr_expect_eq(mnt_req_delta(&a, &b, PMFS_REQ_WRITE), 1,
		     "untar step:%s", trace(&a, &b));
	free(p);
	mnt_umount_counted(&m, &count_fd);
}

/* Files made by MKNOD and opened without OPEN keep every open flag's
 * meaning: O_DIRECT writes and reads, O_TRUNC, O_APPEND, and what the
 * files hold after a remount. */
Test(requests, mknod_created_files_keep_open_flags)
{
	char *p, *q;
	void *buf, *back;
	struct stat st;
	int fd;

	start(NULL);
	cr_assert_eq(posix_memalign(&buf, 4096, 8192), 0);
	cr_assert_eq(posix_memalign(&back, 4096, 8192), 0);
	memset(buf, 'd', 8192);
	p = mnt_path(&m, "direct");
	fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_DIRECT, 0640);
	cr_assert(fd >= 0, "O_DIRECT create: %s", strerror(errno));
	cr_assert_eq(pwrite(fd, buf, 8192, 0), 8192);
	cr_assert_eq(pread(fd, back, 8192, 0), 8192);
	cr_expect_eq(memcmp(buf, back, 8192), 0);
	cr_assert_eq(close(fd), 0);
	cr_assert_eq(stat(p, &st), 0);
	cr_expect_eq(st.st_size, 8192);
	cr_expect_eq(st.st_mode & 07777, 0640, "mode %o", st.st_mode);

	q = mnt_path(&m, "appended");
	fd = open(q, O_WRONLY | O_CREAT | O_APPEND, 0644);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "ab", 2), 2);
	cr_assert_eq(close(fd), 0);
	fd = open(q, O_WRONLY | O_CREAT | O_APPEND, 0644); /* exists */
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, "cd", 2), 2);
	cr_assert_eq(close(fd), 0);
	fd = open(q, O_WRONLY | O_CREAT | O_EXCL, 0644);
	cr_expect_eq(fd, -1);
	cr_expect_eq(errno, EEXIST);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert(fd >= 0);
	cr_assert_eq(close(fd), 0);
	cr_assert_eq(stat(p, &st), 0);
	cr_expect_eq(st.st_size, 0);

	mnt_umount_counted(&m, &count_fd);
	mnt_start(&m, NULL, with_other(NULL), NULL);
	cr_assert_eq(stat(q, &st), 0);
	cr_expect_eq(st.st_size, 4);
	fd = open(q, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(read(fd, back, 8), 4);
	cr_expect_eq(memcmp(back, "abcd", 4), 0);
	close(fd);
	cr_assert_eq(stat(p, &st), 0);
	cr_expect_eq(st.st_size, 0);
	free(buf);
	free(back);
	free(p);
	free(q);
	mnt_umount_counted(&m, &count_fd);
}
