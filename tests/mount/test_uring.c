/*
 * test_uring.c - FUSE-over-io_uring (mount/uring.c, transport.h (4)) on
 * real FUSE mounts: with the kernel offering it, -o io_uring serves every
 * request but FORGET and INTERRUPT from the rings, from callers on every
 * CPU (a queue left unserved would hang its CPU's callers: the suite's
 * timeout turns that into a failure); mount/unmount cycles (umount and
 * SIGTERM) end the daemon cleanly; a SIGKILL under io_uring leaves a dead
 * mount whose recovery mount keeps every answered write; with the kernel
 * not offering it (enable_uring N) the mount works from /dev/fuse and
 * says why; without -o io_uring nothing changes.
 *
 * /sys/module/fuse/parameters/enable_uring is global: each test holds an
 * exclusive lock on URING_LOCK while it sets the parameter, and puts back
 * the value it found before it lets go (its .fini, which runs after a
 * failed assertion too); the value found at the start of the run is put
 * back once more after the whole run, in case a test died outright.
 *
 * Needs /dev/fuse, root, and a kernel with the parameter (6.14+).
 */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mnt.h"
#include "mount/transport.h"

#define IMG_SIZE (64ull << 20)
#define ENABLE_URING "/sys/module/fuse/parameters/enable_uring"
#define URING_LOCK "/dev/shm/pmfs-test-enable_uring.lock"
#define FILE_SZ 8192

static struct mnt m;
static int count_fd = -1;
static int lock_fd = -1;
static char found;     /* enable_uring when this test took the lock */
static char run_start; /* enable_uring when the run started */
static char mount_log[128];

/* enable_uring's value ('Y', 'N'), or 0 when the kernel has none. */
static char param_get(void)
{
	char c = 0;
	int fd = open(ENABLE_URING, O_RDONLY);

	if (fd < 0)
		return 0;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c;
}

/* Write v ('Y' or 'N') to enable_uring; 0 or -1 with errno set. */
static int param_set(char v)
{
	int fd = open(ENABLE_URING, O_WRONLY);
	int r = fd >= 0 && write(fd, &v, 1) == 1 ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return r;
}

ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	(void)set;
	run_start = param_get();
}

ReportHook(POST_ALL)(struct criterion_global_stats *st)
{
	int fd = open(URING_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	(void)st;
	/* under the lock, as the tests: another run may hold it */
	if (fd >= 0)
		flock(fd, LOCK_EX);
	if (run_start && param_get() != run_start)
		param_set(run_start);
	if (fd >= 0)
		close(fd);
}

/* Take the parameter and set it to v, or skip the test. */
static void param_take(char v)
{
	mnt_need_fuse();
	/* this suite says itself which mounts use io_uring */
	unsetenv("PMFS_TEST_MOUNT_OPTS");
	if (access(ENABLE_URING, F_OK) != 0)
		cr_skip_test("%s is missing (no FUSE-over-io_uring in this "
			     "kernel): io_uring tests skipped", ENABLE_URING);
	lock_fd = open(URING_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	cr_assert(lock_fd >= 0, "%s: %s", URING_LOCK, strerror(errno));
	cr_assert_eq(flock(lock_fd, LOCK_EX), 0);
	found = param_get();
	if (param_set(v) != 0)
		cr_skip_test("cannot write %s (%s): io_uring tests skipped",
			     ENABLE_URING, strerror(errno));
	cr_assert_eq(param_get(), v);
}

/* Unmount, remove the log, put enable_uring back and let the lock go. */
static void teardown(void)
{
	if (count_fd >= 0)
		close(count_fd);
	count_fd = -1;
	mnt_teardown(&m);
	if (mount_log[0])
		unlink(mount_log);
	mount_log[0] = 0;
	if (lock_fd >= 0) {
		if (found && param_get() != found)
			param_set(found);
		close(lock_fd); /* and the lock with it */
	}
	lock_fd = -1;
}

TestSuite(uring, .fini = teardown, .timeout = 300);

/* Format, then mount -f -o opts with the daemon's output in mount_log. */
static void start(const char *opts)
{
	snprintf(mount_log, sizeof(mount_log), "/dev/shm/pmfs-uring-log.%d",
		 (int)getpid());
	mnt_mkfs(&m, IMG_SIZE);
	mnt_start(&m, NULL, opts, mount_log);
}

/* The daemon's output so far (stdout and stderr), NUL-terminated. */
static const char *log_text(void)
{
	static char buf[8192];
	int fd = open(mount_log, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : 0;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

/* The content of file i: its number in every byte position's pattern. */
static void pattern(char *buf, size_t n, int i)
{
	for (size_t k = 0; k < n; k++)
		buf[k] = (char)('a' + (i * 7 + (int)k) % 26);
}

/* Create rel holding file i's FILE_SZ bytes. */
static void write_file(const char *rel, int i)
{
	char buf[FILE_SZ], *p = mnt_path(&m, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(fd >= 0, "create %s: %s", p, strerror(errno));
	pattern(buf, sizeof(buf), i);
	cr_assert_eq(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf),
		     "write %s: %s", p, strerror(errno));
	cr_assert_eq(close(fd), 0);
	free(p);
}

/* rel must hold file i's bytes. */
static void check_file(const char *rel, int i)
{
	char want[FILE_SZ], got[FILE_SZ + 1], *p = mnt_path(&m, rel);
	int fd = open(p, O_RDONLY);
	ssize_t n;

	cr_assert(fd >= 0, "open %s: %s", p, strerror(errno));
	n = read(fd, got, sizeof(got));
	close(fd);
	pattern(want, sizeof(want), i);
	cr_assert_eq(n, FILE_SZ, "%s: %zd bytes", p, n);
	cr_assert(!memcmp(got, want, FILE_SZ), "%s: wrong bytes", p);
	free(p);
}

/* CPUs this test may run on (the queues its callers use). */
static int test_cpus(void)
{
	cpu_set_t all;

	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	return CPU_COUNT(&all);
}

/* Entries of directory rel, "." and ".." left out. */
static int list_dir(const char *rel)
{
	char *p = mnt_path(&m, rel);
	DIR *d = opendir(p);
	struct dirent *e;
	int n = 0;

	cr_assert(d, "opendir %s: %s", p, strerror(errno));
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	free(p);
	return n;
}

/*
 * creates, writes, reads, readdir and stat of `files` files in a new
 * directory, from a caller on each CPU it may run on in turn (the kernel
 * picks the queue by the caller's CPU).
 */
static void workload(const char *tag, int files)
{
	cpu_set_t all, one;
	int ncpu = 0;

	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		char dir[64], rel[96];
		struct stat st;
		char *p;

		if (!CPU_ISSET(cpu, &all))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		cr_assert_eq(sched_setaffinity(0, sizeof(one), &one), 0);
		snprintf(dir, sizeof(dir), "%s-cpu%d", tag, cpu);
		p = mnt_path(&m, dir);
		cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s: %s", p,
			     strerror(errno));
		free(p);
		for (int i = 0; i < files; i++) {
			snprintf(rel, sizeof(rel), "%s/f%d", dir, i);
			write_file(rel, i);
		}
		for (int i = 0; i < files; i++) {
			snprintf(rel, sizeof(rel), "%s/f%d", dir, i);
			check_file(rel, i);
			p = mnt_path(&m, rel);
			cr_assert_eq(stat(p, &st), 0);
			cr_assert_eq(st.st_size, FILE_SZ);
			free(p);
		}
		cr_assert_eq(list_dir(dir), files);
		ncpu++;
	}
	cr_assert_eq(sched_setaffinity(0, sizeof(all), &all), 0);
	cr_assert(ncpu > 0);
}

/* ---- the rings serve ---------------------------------------------------- */

/*
 * With io_uring up, every request of the workload but FORGET, BATCH_FORGET
 * and INTERRUPT (which the kernel keeps on /dev/fuse) came from a ring:
 * at least the create and the write of each file, on every CPU.
 */
Test(uring, requests_through_the_rings)
{
	struct pmfs_req_counts a, b;
	uint64_t all = 0, kept;

	param_take('Y');
	start("io_uring");
	mnt_counts(&m, &count_fd, &a);
	cr_assert_gt(a.ring, 0, "no request from a ring yet (ring %llu, "
		     "dev %llu); log:\n%s", (unsigned long long)a.ring,
		     (unsigned long long)a.dev, log_text());
	workload("w", 20);
	mnt_counts(&m, &count_fd, &b);
	for (unsigned op = 0; op < PMFS_REQ_OPCODES; op++)
		all += mnt_req_delta(&a, &b, op);
	kept = mnt_req_delta(&a, &b, PMFS_REQ_FORGET) +
	       mnt_req_delta(&a, &b, PMFS_REQ_BATCH_FORGET) +
	       mnt_req_delta(&a, &b, PMFS_REQ_INTERRUPT);
	cr_assert_eq(b.ring - a.ring + b.dev - a.dev, all,
		     "ring %llu + dev %llu != %llu requests",
		     (unsigned long long)(b.ring - a.ring),
		     (unsigned long long)(b.dev - a.dev),
		     (unsigned long long)all);
	cr_assert_geq(b.ring - a.ring, 2ull * 20 * (unsigned)test_cpus(),
		      "ring-served: %llu on %d CPUs",
		      (unsigned long long)(b.ring - a.ring), test_cpus());
	cr_assert_eq(b.dev - a.dev, kept,
		     "%llu requests from /dev/fuse, %llu of them FORGET or "
		     "INTERRUPT", (unsigned long long)(b.dev - a.dev),
		     (unsigned long long)kept);
	cr_assert_gt(mnt_req_delta(&a, &b, PMFS_REQ_WRITE), 0);
	cr_log_info("workload: %llu requests from the rings, %llu from "
		    "/dev/fuse", (unsigned long long)(b.ring - a.ring),
		    (unsigned long long)(b.dev - a.dev));
	cr_assert(!strstr(log_text(), "io_uring"), "log:\n%s", log_text());
	mnt_umount_counted(&m, &count_fd);
}

/* Without -o io_uring the kernel's offer is left alone. */
Test(uring, classic_unless_asked)
{
	struct pmfs_req_counts c;

	param_take('Y');
	start(NULL);
	workload("w", 5);
	mnt_counts(&m, &count_fd, &c);
	cr_assert_eq(c.ring, 0);
	cr_assert_gt(c.dev, 0);
	cr_assert(!strstr(log_text(), "io_uring"), "log:\n%s", log_text());
	mnt_umount_counted(&m, &count_fd);
}

/* ---- the daemon's end --------------------------------------------------- */

/*
 * Mount and unmount on one image, five times with umount, once with
 * SIGTERM: each daemon exits 0 and says nothing of io_uring, and what each
 * mount wrote is there in the next one.
 */
Test(uring, mount_unmount_cycles)
{
	struct pmfs_req_counts c;
	char rel[32];

	param_take('Y');
	start("io_uring");
	for (int cycle = 0; cycle < 6; cycle++) {
		if (cycle > 0)
			mnt_start(&m, NULL, "io_uring", mount_log);
		for (int i = 0; i < cycle; i++) {
			snprintf(rel, sizeof(rel), "c%d", i);
			check_file(rel, i);
		}
		snprintf(rel, sizeof(rel), "c%d", cycle);
		write_file(rel, cycle);
		cr_assert_eq(list_dir(""), cycle + 2, "cycle %d", cycle);
		mnt_counts(&m, &count_fd, &c);
		cr_assert_gt(c.ring, 0, "cycle %d: ring-served 0", cycle);
		if (cycle < 5) {
			mnt_umount_counted(&m, &count_fd);
			/* the next mnt_start truncates the log */
			cr_assert(!strstr(log_text(), "io_uring"),
				  "cycle %d: log:\n%s", cycle, log_text());
			continue;
		}
		/* the last one ends by SIGTERM: the loop ends, the rings
		 * close, the daemon unmounts and exits 0 */
		close(count_fd);
		count_fd = -1;
		cr_assert_eq(kill(m.fg, SIGTERM), 0);
		cr_assert_eq(mnt_wait(&m), 0, "mount.pmfs after SIGTERM");
		cr_assert(!mnt_is_mounted(m.dir, NULL, 0));
	}
	cr_assert(!strstr(log_text(), "io_uring"), "log:\n%s", log_text());
}

/* Shared with the writer child: files whose create+write was answered. */
struct progress {
	int answered;
	int gone_errno; /* the error that stopped the writer */
};

/* The writer child: files k0, k1, ... of FILE_SZ bytes until an error. */
static void writer(struct progress *pr)
{
	char buf[FILE_SZ], rel[32];

	for (int i = 0;; i++) {
		char *p;
		int fd;

		snprintf(rel, sizeof(rel), "k%d", i);
		p = mnt_path(&m, rel);
		pattern(buf, sizeof(buf), i);
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0 || write(fd, buf, sizeof(buf)) != FILE_SZ) {
			__atomic_store_n(&pr->gone_errno, errno,
					 __ATOMIC_SEQ_CST);
			_exit(0);
		}
		close(fd);
		free(p);
		__atomic_store_n(&pr->answered, i + 1, __ATOMIC_SEQ_CST);
	}
}

/*
 * SIGKILL the daemon while a writer is busy on the rings: the daemon
 * dies (no hang in the rings' teardown), the writer gets an error, the
 * dead mount is detached, and the recovery mount holds every file whose
 * create and write were answered; the one in flight is absent, empty or
 * whole.  Then fsck.pmfs -fn finds nothing to repair.
 */
Test(uring, kill9_keeps_answered_writes)
{
	struct progress *pr;
	char out[8192], err[8192], rel[32];
	struct pmfs_req_counts c;
	int answered, st, r;
	pid_t w;

	param_take('Y');
	start("io_uring");
	mnt_counts(&m, &count_fd, &c);
	cr_assert_gt(c.ring, 0);
	close(count_fd);
	count_fd = -1;
	pr = mmap(NULL, sizeof(*pr), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(pr != MAP_FAILED);
	memset(pr, 0, sizeof(*pr));
	w = fork();
	cr_assert(w >= 0);
	if (w == 0)
		writer(pr);
	/* progress, not time: kill after 200 answered files */
	while (__atomic_load_n(&pr->answered, __ATOMIC_SEQ_CST) < 200) {
		if (waitpid(w, &st, WNOHANG) == w)
			cr_assert_fail("the writer stopped after %d files: %s",
				       pr->answered, strerror(pr->gone_errno));
		usleep(1000);
	}
	cr_assert_eq(kill(m.fg, SIGKILL), 0);
	cr_assert_eq(mnt_wait(&m), 128 + SIGKILL);
	cr_assert_eq(waitpid(w, &st, 0), w);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	answered = pr->answered;
	cr_log_info("killed after %d answered files", answered);
	/* a dead connection's errors; a request the kernel had handed to
	 * a ring entry of the dying daemon ends with ECANCELED */
	cr_assert(pr->gone_errno == ENOTCONN ||
			  pr->gone_errno == ECONNABORTED ||
			  pr->gone_errno == ECANCELED,
		  "writer stopped by %s", strerror(pr->gone_errno));
	cr_assert_eq(umount2(m.dir, MNT_DETACH), 0, "umount: %s",
		     strerror(errno));
	cr_assert(!mnt_is_mounted(m.dir, NULL, 0));

	mnt_start(&m, "-v", "io_uring", mount_log);
	cr_assert(strstr(log_text(), "recovery mount"), "log:\n%s",
		  log_text());
	for (int i = 0; i < answered; i++) {
		snprintf(rel, sizeof(rel), "k%d", i);
		check_file(rel, i);
	}
	/* the file in flight: absent, empty, or whole */
	snprintf(rel, sizeof(rel), "k%d", answered);
	{
		char *p = mnt_path(&m, rel);
		struct stat sb;

		if (stat(p, &sb) == 0) {
			cr_assert(sb.st_size == 0 || sb.st_size == FILE_SZ,
				  "%s: %lld bytes", p, (long long)sb.st_size);
			if (sb.st_size)
				check_file(rel, answered);
		}
		free(p);
	}
	mnt_counts(&m, &count_fd, &c);
	cr_assert_gt(c.ring, 0, "recovery mount: ring-served 0");
	mnt_umount_counted(&m, &count_fd);
	r = mnt_tool(out, sizeof(out), err, sizeof(err), "fsck.pmfs", "-fn",
		     m.img, NULL);
	cr_assert_eq(r, 0, "fsck.pmfs -fn after the kill: %d\n%s%s", r, out,
		     err);
	munmap(pr, sizeof(*pr));
}

/* ---- the fall-back ------------------------------------------------------ */

/*
 * enable_uring N: the kernel does not offer io_uring; -o io_uring mounts
 * anyway, says why in one line, and /dev/fuse serves every request.
 */
Test(uring, falls_back_when_not_offered)
{
	struct pmfs_req_counts c;
	const char *log;

	param_take('N');
	start("io_uring");
	workload("w", 5);
	mnt_counts(&m, &count_fd, &c);
	cr_assert_eq(c.ring, 0);
	/* at least the create and the write of each file, on every CPU */
	cr_assert_geq(c.dev, 2ull * 5 * (unsigned)test_cpus(), "dev: %llu",
		      (unsigned long long)c.dev);
	log = log_text();
	cr_assert(strstr(log, "io_uring: the kernel does not offer "
			      "FUSE-over-io_uring (" ENABLE_URING " is N); "
			      "serving requests from /dev/fuse\n"),
		  "log:\n%s", log);
	mnt_umount_counted(&m, &count_fd);
}

/* ---- remount ------------------------------------------------------------ */

/* mount.pmfs -o opts on the mounted m (a remount); its exit code. */
static int remount(const char *opts, char *err, size_t en)
{
	char out[4096];

	return mnt_tool(out, sizeof(out), err, en, "mount.pmfs", m.img, m.dir,
			"-o", opts, NULL);
}

/*
 * The transport is chosen at INIT: a remount naming the other one is
 * refused with one line and changes nothing; one naming the mount's own,
 * or none, goes through.  Both ways round; enable_uring does not matter
 * (the mount's choice is what it was asked, not what the kernel granted).
 */
Test(uring, remount_keeps_the_transport)
{
	static const char *const mode[2] = { NULL, "io_uring" };
	static const char *const other[2] = { "remount,io_uring",
					      "remount,noio_uring" };
	static const char *const same[2] = { "remount,noio_uring",
					     "remount,io_uring" };
	char err[4096], line[4096];
	int r;

	param_take('N');
	for (int i = 0; i < 2; i++) {
		start(mode[i]);
		r = remount(other[i], err, sizeof(err));
		cr_assert_eq(r, 1, "%s: exit %d: %s", other[i], r, err);
		cr_assert(strstr(err, "the transport is chosen at mount time"),
			  "%s: %s", other[i], err);
		cr_assert_eq(tu_lines(err), 1, "not one line: %s", err);
		cr_assert(mnt_is_mounted(m.dir, line, sizeof(line)));
		r = remount(same[i], err, sizeof(err));
		cr_assert_eq(r, 0, "%s: exit %d: %s", same[i], r, err);
		r = remount("remount,ro", err, sizeof(err));
		cr_assert_eq(r, 0, "remount,ro: exit %d: %s", r, err);
		mnt_umount_counted(&m, &count_fd);
		mnt_teardown(&m);
	}
}
