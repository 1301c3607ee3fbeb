/*
 * test_kill.c - kill the daemon, remount, nothing answered is lost.
 *
 * A child process runs a workload on a real mount (create + write +
 * close, rename, unlink, mkdir, append) and, after each system call
 * returned, logs the operation to a file outside the mount.  The test
 * SIGKILLs mount.pmfs at a chosen point (after N logged operations, so
 * in the middle of the stream of requests), detaches the dead mount,
 * remounts with -v (which must report a recovery mount, not a clean one),
 * checks that every logged operation is there with its data, unmounts,
 * and runs `fsck.pmfs -fn`, which must exit 0.  The operation in flight at
 * the kill is not logged, so either outcome is accepted for it.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "mnt.h"

#define IMG_SIZE (64ull << 20)
#define APPEND_LEN 512

static struct mnt M;
/* the workload's log of operations done, mount -v output */
static char ops_log[128], mount_log[128];

static void setup(void)
{
	mnt_need_fuse();
	mnt_mkfs(&M, IMG_SIZE);
}

static void teardown(void)
{
	mnt_teardown(&M);
	if (ops_log[0])
		unlink(ops_log);
	if (mount_log[0])
		unlink(mount_log);
}

/* Size and content of file i: reproducible from i alone. */
static size_t data_len(long i)
{
	return (size_t)(i * 7919 % 20000) + (i % 3 ? 1 : 9000);
}

static void data_fill(char *p, size_t len, long i)
{
	for (size_t k = 0; k < len; k++)
		p[k] = (char)('a' + (i * 31 + (long)k) % 26);
}

/* The workload, in the child; logs "OP i [n]" after each call returned.
 * Exits when the mount stops answering. */
static void workload(const char *dir, const char *path, long first)
{
	static char buf[32768];
	FILE *log = fopen(path, "a");
	long appended = 0;
	char a[4096], b[4096];

	if (!log)
		_exit(2);
	setvbuf(log, NULL, _IOLBF, 0);
	snprintf(a, sizeof(a), "%s/append", dir);
	{
		struct stat st;

		if (stat(a, &st) == 0)
			appended = (long)st.st_size;
	}
	for (long i = first;; i++) {
		size_t len = data_len(i);
		int fd;

		snprintf(a, sizeof(a), "%s/f%ld", dir, i);
		fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (fd < 0)
			_exit(0);
		data_fill(buf, len, i);
		if (write(fd, buf, len) != (ssize_t)len || close(fd) != 0)
			_exit(0);
		fprintf(log, "C %ld\n", i);
		if (i % 3 == 0) {
			snprintf(b, sizeof(b), "%s/r%ld", dir, i);
			if (rename(a, b) != 0)
				_exit(0);
			fprintf(log, "R %ld\n", i);
		}
		if (i % 6 == 0) {
			if (unlink(b) != 0)
				_exit(0);
			fprintf(log, "U %ld\n", i);
		}
		if (i % 50 == 0) {
			snprintf(b, sizeof(b), "%s/d%ld", dir, i);
			if (mkdir(b, 0755) != 0)
				_exit(0);
			fprintf(log, "D %ld\n", i);
		}
		if (i % 4 == 0) {
			snprintf(b, sizeof(b), "%s/append", dir);
			fd = open(b, O_WRONLY | O_CREAT | O_APPEND, 0644);
			if (fd < 0)
				_exit(0);
			data_fill(buf, APPEND_LEN, appended / APPEND_LEN);
			if (write(fd, buf, APPEND_LEN) != APPEND_LEN) {
				close(fd);
				_exit(0);
			}
			close(fd);
			appended += APPEND_LEN;
			fprintf(log, "A %ld\n", appended);
		}
	}
}

static long log_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int c;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Assert that path holds exactly file i's data. */
static void check_data(const char *path, long i)
{
	static char want[32768], got[32768];
	size_t len = data_len(i);
	int fd = open(path, O_RDONLY);
	ssize_t n;

	cr_assert(fd >= 0, "%s (logged) is missing: %s", path,
		  strerror(errno));
	n = read(fd, got, sizeof(got));
	close(fd);
	data_fill(want, len, i);
	cr_assert_eq(n, (ssize_t)len, "%s: %zd bytes, logged %zu", path, n,
		     len);
	cr_assert(!memcmp(got, want, len), "%s: content differs", path);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Every logged operation must be there; returns the last index seen. */
static long verify(const char *path)
{
	FILE *f = fopen(path, "r");
	char op, p[4096];
	long i, last = -1, appended = 0;
	static char *state; /* per index: 'C', 'R', 'U' */
	static long cap;

	cr_assert(f, "no workload log");
	while (fscanf(f, " %c %ld", &op, &i) == 2) {
		if (op == 'A') {
			appended = i;
			continue;
		}
		if (i >= cap) {
			long nc = i * 2 + 1024;

			state = realloc(state, (size_t)nc);
			cr_assert(state);
			memset(state + cap, 0, (size_t)(nc - cap));
			cap = nc;
		}
		if (op != 'D')
			state[i] = op;
		if (op == 'D') {
			snprintf(p, sizeof(p), "%s/d%ld", M.dir, i);
			cr_assert(exists(p), "logged mkdir d%ld is missing", i);
		}
		if (i > last)
			last = i;
	}
	fclose(f);
	for (i = 0; i <= last; i++) {
		char fp[4096], rp[4096];

		snprintf(fp, sizeof(fp), "%s/f%ld", M.dir, i);
		snprintf(rp, sizeof(rp), "%s/r%ld", M.dir, i);
		if (i == last && state[i] != 'U') {
			/* its next step (rename, unlink) may have been in
			 * flight: the data is under one name or gone */
			if (exists(fp) || exists(rp) || i % 6 != 0)
				check_data(exists(fp) ? fp : rp, i);
			continue;
		}
		if (state[i] == 'C')
			check_data(fp, i);
		if (state[i] == 'R') {
			cr_assert(!exists(fp), "f%ld still there after rename", i);
			check_data(rp, i);
		}
		if (state[i] == 'U') {
			cr_assert(!exists(fp) && !exists(rp),
				  "r%ld still there after unlink", i);
		}
	}
	if (appended) {
		static char want[APPEND_LEN], got[APPEND_LEN];
		struct stat st;
		int fd;

		snprintf(p, sizeof(p), "%s/append", M.dir);
		fd = open(p, O_RDONLY);
		cr_assert(fd >= 0);
		cr_assert_eq(fstat(fd, &st), 0);
		/* the append in flight at the kill may be there too */
		cr_assert(st.st_size == appended ||
				  st.st_size == appended + APPEND_LEN,
			  "append: size %jd, logged %ld", (intmax_t)st.st_size,
			  appended);
		for (long k = 0; k < appended / APPEND_LEN; k++) {
			data_fill(want, APPEND_LEN, k);
			cr_assert_eq(pread(fd, got, APPEND_LEN,
					   (off_t)(k * APPEND_LEN)),
				     APPEND_LEN);
			cr_assert(!memcmp(got, want, APPEND_LEN),
				  "append: block %ld differs", k);
		}
		close(fd);
	}
	return last;
}

static void slurp(const char *path, char *buf, size_t sz)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sz - 1) : 0;

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/*
 * Rounds of: mount, workload until `kill_after[r]` more operations are
 * logged, SIGKILL the daemon, detach, remount -v (recovery), verify.
 * Then a clean unmount and fsck.pmfs -fn.
 */
static void kill_rounds(const long *kill_after, int rounds)
{
	char out[8192], err[8192];
	long first = 0;
	int r;

	snprintf(ops_log, sizeof(ops_log), "/dev/shm/pmfs-kill-ops.%d", getpid());
	snprintf(mount_log, sizeof(mount_log), "/dev/shm/pmfs-kill-mount.%d", getpid());
	unlink(ops_log);
	mnt_start(&M, NULL, NULL, NULL);
	for (int round = 0; round < rounds; round++) {
		long base = log_lines(ops_log), st;
		pid_t w = fork();

		cr_assert(w >= 0);
		if (w == 0) {
			closefrom(3);
			workload(M.dir, ops_log, first);
		}
		/* bounded wait: the workload logs thousands of ops a second */
		for (st = 0; st < 60000 && log_lines(ops_log) < base + kill_after[round];
		     st++)
			usleep(1000);
		cr_assert_eq(kill(M.fg, SIGKILL), 0);
		cr_assert_eq(mnt_wait(&M), 128 + SIGKILL);
		cr_assert_eq(waitpid(w, NULL, 0), w);
		cr_assert(log_lines(ops_log) >= base + kill_after[round],
			  "the workload logged too little before the kill");
		/* the connection is gone; the mount point must be freed */
		cr_assert_eq(umount2(M.dir, MNT_DETACH), 0, "umount: %s",
			     strerror(errno));
		mnt_start(&M, "-v", NULL, mount_log);
		slurp(mount_log, out, sizeof(out));
		cr_assert(strstr(out, "recovery mount"),
			  "mount -v after a kill did not report recovery:\n%s",
			  out);
		first = verify(ops_log) + 2; /* skip the one in flight */
		cr_log_info("round %d: killed after %ld logged operations "
			    "(files up to #%ld), recovered, all there", round,
			    log_lines(ops_log) - base, first - 2);
	}
	mnt_umount(&M);
	r = mnt_tool(out, sizeof(out), err, sizeof(err), "fsck.pmfs", "-fn",
		     M.img, NULL);
	cr_assert_eq(r, 0, "fsck.pmfs -fn after the kills: %d\n%s%s", r, out,
		     err);
	/* and a clean mount after that */
	mnt_start(&M, "-v", NULL, mount_log);
	slurp(mount_log, out, sizeof(out));
	cr_assert(strstr(out, "clean mount"), "mount -v: %s", out);
	verify(ops_log);
	mnt_umount(&M);
	unlink(ops_log);
	unlink(mount_log);
}

TestSuite(kill, .init = setup, .fini = teardown, .timeout = 300);

/* Killed almost at once: the first requests are in flight. */
Test(kill, early)
{
	static const long k[] = { 1 };

	kill_rounds(k, 1);
}

Test(kill, after_300_ops)
{
	static const long k[] = { 300 };

	kill_rounds(k, 1);
}

Test(kill, after_3000_ops)
{
	static const long k[] = { 3000 };

	kill_rounds(k, 1);
}

/* Killed again and again on the same image, recovery after recovery. */
Test(kill, repeatedly)
{
	static const long k[] = { 50, 700, 10, 1500, 200 };

	kill_rounds(k, 5);
}
