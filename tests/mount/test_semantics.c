/*
 * test_semantics.c - what applications expect of a Linux filesystem
 * beyond POSIX conformance, on a real pmfs mount: a directory listing
 * ends and lists every name that stayed exactly once while other names
 * are renamed away and back (Linux's generic/736).
 *
 * Each test mounts a fresh image (mnt.h) with the built mount.pmfs in the
 * foreground and unmounts it cleanly at the end.  Nothing is timed: the
 * concurrent tests bound their loops by counts and assert on what was
 * seen.
 */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "mnt.h"

#define IMG_SIZE (64ull << 20)

static struct mnt M;

static void setup(void)
{
	mnt_need_fuse();
	mnt_mkfs(&M, IMG_SIZE);
	mnt_start(&M, NULL, NULL, NULL);
}

static void teardown(void)
{
	mnt_teardown(&M);
}

TestSuite(semantics, .init = setup, .fini = teardown, .timeout = 300);

/* ---- listings under renames ------------------------------------------- */

/* Create dir/f0000 .. dir/f(n-1) (empty files). */
static void make_files(const char *dir, int n)
{
	char p[4096];

	for (int i = 0; i < n; i++) {
		int fd;

		snprintf(p, sizeof(p), "%s/f%04d", dir, i);
		fd = open(p, O_CREAT | O_WRONLY | O_EXCL, 0644);
		cr_assert(fd >= 0, "create %s: %s", p, strerror(errno));
		close(fd);
	}
}

/* One getdents64 batch from fd into seen[] (counts per file number);
 * returns the number of file entries, 0 at the end of the listing. */
static int read_batch(int fd, int *seen, int n, size_t bufsz)
{
	char buf[65536];
	long got;
	int k = 0;

	cr_assert(bufsz <= sizeof(buf));
	got = syscall(SYS_getdents64, fd, buf, bufsz);
	cr_assert(got >= 0, "getdents64: %s", strerror(errno));
	for (long pos = 0; pos < got;) {
		struct dirent64 *d = (struct dirent64 *)(buf + pos);
		int i;

		pos += d->d_reclen;
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		cr_assert_eq(sscanf(d->d_name, "f%d", &i), 1, "stray %s",
			     d->d_name);
		cr_assert(i >= 0 && i < n, "stray %s", d->d_name);
		seen[i]++;
		k++;
	}
	return got == 0 ? 0 : (k ? k : -1);
}

/* rename(from/fNNNN, to/fNNNN) */
static void move(const char *from, const char *to, int i)
{
	char a[4096], b[4096];

	snprintf(a, sizeof(a), "%s/f%04d", from, i);
	snprintf(b, sizeof(b), "%s/f%04d", to, i);
	cr_assert_eq(rename(a, b), 0, "rename %s %s: %s", a, b,
		     strerror(errno));
}

/*
 * Deterministic form: part of the listing is read, every name read so far
 * is renamed to another directory and back (each gets a new place at the
 * end of the directory), and the rest is read.  Every name stayed in the
 * directory at each getdents call, so each is listed exactly once.
 */
Test(semantics, listing_skips_names_renamed_back)
{
	enum { N = 1000 };
	static int seen[N];
	char *d = mnt_path(&M, "d"), *o = mnt_path(&M, "o");
	int fd, total = 0, k;

	cr_assert_eq(mkdir(d, 0755), 0);
	cr_assert_eq(mkdir(o, 0755), 0);
	make_files(d, N);
	fd = open(d, O_RDONLY | O_DIRECTORY);
	cr_assert(fd >= 0);
	while (total < N / 3 && (k = read_batch(fd, seen, N, 4096)) != 0)
		total += k > 0 ? k : 0;
	cr_assert(total > 0 && total < N, "first part: %d entries", total);
	for (int i = 0; i < N; i++)
		if (seen[i]) {
			move(d, o, i);
			move(o, d, i);
		}
	while ((k = read_batch(fd, seen, N, 4096)) != 0) {
		total += k > 0 ? k : 0;
		cr_assert(total <= N, "the listing goes past %d entries", N);
	}
	close(fd);
	for (int i = 0; i < N; i++)
		cr_expect_eq(seen[i], 1, "f%04d listed %d times", i, seen[i]);
	cr_expect_eq(total, N);
	free(d);
	free(o);
}

/*
 * generic/736's form: a second process renames the names f0000..f(R-1)
 * away and back for as long as the listing runs; the listing must end
 * (it is cut off and fails at 3 N entries) and list each of the other
 * names exactly once, and none more than once.
 */
Test(semantics, listing_ends_while_names_move)
{
	enum { N = 3000, R = 100, ROUNDS = 5 };
	static int seen[N];
	char *d = mnt_path(&M, "d"), *o = mnt_path(&M, "o");
	int pipefd[2], st;
	pid_t child;

	cr_assert_eq(mkdir(d, 0755), 0);
	cr_assert_eq(mkdir(o, 0755), 0);
	make_files(d, N);
	cr_assert_eq(pipe(pipefd), 0);
	child = fork();
	cr_assert(child >= 0);
	if (child == 0) {
		char c;

		/* renames until the parent closes the pipe */
		close(pipefd[1]);
		fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
		for (;;) {
			for (int i = 0; i < R; i++) {
				char a[4096], b[4096];

				snprintf(a, sizeof(a), "%s/f%04d", d, i);
				snprintf(b, sizeof(b), "%s/f%04d", o, i);
				if (rename(a, b) || rename(b, a))
					_exit(2);
			}
			if (read(pipefd[0], &c, 1) == 0)
				_exit(0);
		}
	}
	close(pipefd[0]);
	for (int round = 0; round < ROUNDS; round++) {
		int fd = open(d, O_RDONLY | O_DIRECTORY), total = 0, k;

		cr_assert(fd >= 0);
		memset(seen, 0, sizeof(seen));
		while ((k = read_batch(fd, seen, N, 1024)) != 0) {
			total += k > 0 ? k : 0;
			cr_assert(total <= 3 * N,
				  "round %d: the listing goes past %d entries",
				  round, 3 * N);
		}
		close(fd);
		for (int i = 0; i < N; i++) {
			cr_assert(seen[i] <= 1, "round %d: f%04d listed %d times",
				  round, i, seen[i]);
			if (i >= R)
				cr_assert_eq(seen[i], 1,
					     "round %d: f%04d listed %d times",
					     round, i, seen[i]);
		}
	}
	close(pipefd[1]);
	cr_assert_eq(waitpid(child, &st, 0), child);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the renaming child failed (status %d)", st);
	free(d);
	free(o);
}
