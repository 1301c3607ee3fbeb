/*
 * test_fsx.c - the random-operation exerciser (tests/mount/fsx.c) on a real
 * pmfs mount: writes, reads, truncates, fallocates, punch holes, zero
 * ranges, mmap reads and writes checked against an in-memory model; one
 * file; two files from two processes at once; a file checked again after
 * a remount.
 *
 * make check runs PMFS_FSX_OPS (default 100000) operations on one file and
 * a quarter as many on each of two files; `make fsx` (mount.mk) sets
 * PMFS_FSX_OPS to a million.
 */
#include "mnt.h"

#define IMG_SIZE (64ull << 20)

static struct mnt M;
static char dlog[64]; /* the daemon's stderr, shown when fsx fails */

static uint64_t fsx_ops(void)
{
	const char *e = getenv("PMFS_FSX_OPS");

	return e && *e ? strtoull(e, NULL, 0) : 100000;
}

static uint64_t fsx_seed(void)
{
	const char *e = getenv("PMFS_FSX_SEED");

	return e && *e ? strtoull(e, NULL, 0) : 1;
}

/* Files under /dev/shm this test made; teardown removes them. */
static char names[4][64];
static char *ref;

/* A log file name under /dev/shm, unique per test process (static). */
static const char *log_name(const char *tag)
{
	static int next;
	char *n = names[next++ % 4];

	snprintf(n, 64, "/dev/shm/pmfs-fsx-%s.%d.log", tag, (int)getpid());
	return n;
}

static char *fsx_bin(void)
{
	char *p;

	cr_assert(asprintf(&p, "%s/tests/mount/fsx",
			   getenv("PMFS_BUILD") ? getenv("PMFS_BUILD")
						: "build") > 0);
	cr_assert(access(p, X_OK) == 0,
		  "%s is missing: the top-level Makefile must -include "
		  "tests/mount/mount.mk", p);
	return p;
}

/* Start fsx on rel with ops operations; its pid.  stdout/stderr go to
 * the file `log` (read back on failure); dump: fsx -d, or NULL. */
static pid_t fsx_start(const char *rel, uint64_t ops, uint64_t seed,
		       const char *log, const char *dump)
{
	char *bin = fsx_bin(), *file = mnt_path(&M, rel);
	char n[32], s[32];
	pid_t p;

	snprintf(n, sizeof(n), "%llu", (unsigned long long)ops);
	snprintf(s, sizeof(s), "%llu", (unsigned long long)seed);
	p = fork();
	cr_assert(p >= 0);
	if (p == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		closefrom(3);
		if (dump)
			execl(bin, bin, "-n", n, "-S", s, "-d", dump, file,
			      (char *)0);
		else
			execl(bin, bin, "-n", n, "-S", s, file, (char *)0);
		_exit(127);
	}
	free(bin);
	free(file);
	return p;
}

/* Wait for an fsx; assert it passed, showing its output (and what the
 * daemon printed: a sanitizer report, say) if not. */
static void fsx_wait(pid_t p, const char *log)
{
	static char out[8192], dout[8192];
	char died[64] = "still running";
	int st, dst;

	cr_assert_eq(waitpid(p, &st, 0), p);
	mnt_slurp(log, out, sizeof(out));
	unlink(log);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		mnt_slurp(dlog, dout, sizeof(dout));
		if (M.fg && waitpid(M.fg, &dst, WNOHANG) == M.fg) {
			M.fg = 0;
			snprintf(died, sizeof(died), "%s %d",
				 WIFSIGNALED(dst) ? "killed by signal"
						  : "exited with",
				 WIFSIGNALED(dst) ? WTERMSIG(dst)
						  : WEXITSTATUS(dst));
		}
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "fsx failed (status %#x):\n%s\nmount.pmfs (%s) said:\n%s",
		  st, out, died, dout);
	cr_assert(strstr(out, "all matched"), "fsx output: %s", out);
	cr_log_info("%s", out);
}

static void setup(void)
{
	mnt_need_fuse();
	mnt_mkfs(&M, IMG_SIZE);
	snprintf(dlog, sizeof(dlog), "/dev/shm/pmfs-fsx-daemon.%d.log",
		 (int)getpid());
	mnt_start(&M, NULL, NULL, dlog);
}

static void teardown(void)
{
	mnt_teardown(&M);
	unlink(dlog);
	for (int i = 0; i < 4; i++)
		if (names[i][0])
			unlink(names[i]);
	if (ref)
		unlink(ref);
	free(ref);
	ref = NULL;
}

TestSuite(fsx, .init = setup, .fini = teardown, .timeout = 7200);

Test(fsx, one_file)
{
	const char *log = log_name("one");

	fsx_wait(fsx_start("one", fsx_ops(), fsx_seed(), log, NULL), log);
}

/* Two processes, two files, at once: requests interleave in the daemon. */
Test(fsx, two_processes_two_files)
{
	const char *la = log_name("a");
	const char *lb = log_name("b");
	uint64_t n = getenv("PMFS_FSX_OPS") ? fsx_ops() : fsx_ops() / 4;
	pid_t a = fsx_start("a", n, fsx_seed() + 100, la, NULL);
	pid_t b = fsx_start("b", n, fsx_seed() + 200, lb, NULL);

	fsx_wait(a, la);
	fsx_wait(b, lb);
}

/* What fsx left is still there after a clean remount: compared with the
 * model fsx dumped at its end (-d). */
Test(fsx, contents_survive_remount)
{
	const char *log = log_name("r");
	char *file = mnt_path(&M, "r");
	static char ba[1 << 18], bb[1 << 18];
	ssize_t na, nb;
	int fa, fb;

	cr_assert(asprintf(&ref, "/dev/shm/pmfs-fsx-ref.%d", getpid()) > 0);
	fsx_wait(fsx_start("r", 5000, fsx_seed() + 300, log, ref), log);
	mnt_umount(&M);
	mnt_start(&M, NULL, NULL, dlog);
	fa = open(file, O_RDONLY);
	fb = open(ref, O_RDONLY);
	cr_assert(fa >= 0 && fb >= 0);
	na = read(fa, ba, sizeof(ba));
	nb = read(fb, bb, sizeof(bb));
	cr_assert(nb >= 0);
	cr_assert_eq(na, nb, "size after remount %zd, expected %zd", na, nb);
	cr_assert(!memcmp(ba, bb, (size_t)na), "contents differ after remount");
	close(fa);
	close(fb);
	free(file);
}
