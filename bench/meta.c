/*
 * meta.c - metadata benchmark: the rate of each namespace operation in one
 * directory holding N entries, through whatever filesystem DIR is on.
 *
 *   meta DIR N            run every phase in DIR/meta.<pid>, print
 *                         "op<TAB>ops_per_second" per phase
 *   meta -p DIR N         populate: N empty files in DIR, 1000 per
 *                         subdirectory (mount-time and fsck benchmarks)
 *
 * Phases, in order (the directory holds N entries during each, except
 * rename, during which it shrinks from N to N/2):
 *   create    open(O_CREAT|O_EXCL|O_WRONLY) + close, N files
 *   stat      stat() of each, after one untimed warm-up pass
 *   readdir   opendir + readdir of the whole directory; entries/s
 *   unlink    N files
 *   mkdir     N directories
 *   rmdir     N directories
 *   cwrite    create + write 4 KiB + close, N files
 *   rename    rename(w<2i>, w<2i+1>): atomic replace of an existing file
 *   tarstep   what tar -x does per file: create, write 1 KiB, fchmod,
 *             futimens, close; N files (the directory grows from 0 to N)
 * Every call is checked; a failure ends the program with exit status 1.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char wbuf[4096];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const char *name)
{
	fprintf(stderr, "meta: %s %s: %s\n", what, name, strerror(errno));
	exit(1);
}

static void name(char *buf, char prefix, long i)
{
	snprintf(buf, 32, "%c%07ld", prefix, i);
}

static void report(const char *op, long n, double t0)
{
	double t = now() - t0;

	printf("%s\t%.0f\n", op, t > 0 ? (double)n / t : 0.0);
	fflush(stdout);
}

static void create_one(const char *nm, int with_data)
{
	int fd = open(nm, O_CREAT | O_EXCL | O_WRONLY, 0644);

	if (fd < 0)
		die("create", nm);
	if (with_data && write(fd, wbuf, sizeof(wbuf)) != sizeof(wbuf))
		die("write", nm);
	if (close(fd) < 0)
		die("close", nm);
}

/* One file the way tar -x writes it. */
static void tar_one(const char *nm)
{
	static const struct timespec ts[2] = { { 1000000000, 0 },
					       { 1000000000, 0 } };
	int fd = open(nm, O_CREAT | O_EXCL | O_WRONLY, 0600);

	if (fd < 0)
		die("create", nm);
	if (write(fd, wbuf, 1024) != 1024)
		die("write", nm);
	if (fchmod(fd, 0644) < 0)
		die("fchmod", nm);
	if (futimens(fd, ts) < 0)
		die("futimens", nm);
	if (close(fd) < 0)
		die("close", nm);
}

static long list_dir(void)
{
	DIR *d = opendir(".");
	struct dirent *de;
	long n = 0;

	if (!d)
		die("opendir", ".");
	errno = 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	if (errno)
		die("readdir", ".");
	closedir(d);
	return n;
}

static int run_phases(long n)
{
	char nm[32], nm2[32];
	struct stat st;
	double t0;
	long i, got, rounds;

	t0 = now();
	for (i = 0; i < n; i++) {
		name(nm, 'f', i);
		create_one(nm, 0);
	}
	report("create", n, t0);

	for (i = 0; i < n; i++) {
		name(nm, 'f', i);
		if (stat(nm, &st) < 0)
			die("stat", nm);
	}
	t0 = now();
	for (i = 0; i < n; i++) {
		name(nm, 'f', i);
		if (stat(nm, &st) < 0)
			die("stat", nm);
	}
	report("stat", n, t0);

	/* at least 3 listings and 0.2 s, so small directories are timed */
	t0 = now();
	got = 0;
	for (rounds = 0; rounds < 3 || now() - t0 < 0.2; rounds++) {
		long c = list_dir();

		if (c != n) {
			fprintf(stderr, "meta: readdir saw %ld of %ld\n", c, n);
			return 1;
		}
		got += c;
	}
	report("readdir", got, t0);

	t0 = now();
	for (i = 0; i < n; i++) {
		name(nm, 'f', i);
		if (unlink(nm) < 0)
			die("unlink", nm);
	}
	report("unlink", n, t0);

	t0 = now();
	for (i = 0; i < n; i++) {
		name(nm, 'd', i);
		if (mkdir(nm, 0755) < 0)
			die("mkdir", nm);
	}
	report("mkdir", n, t0);

	t0 = now();
	for (i = 0; i < n; i++) {
		name(nm, 'd', i);
		if (rmdir(nm) < 0)
			die("rmdir", nm);
	}
	report("rmdir", n, t0);

	t0 = now();
	for (i = 0; i < n; i++) {
		name(nm, 'w', i);
		create_one(nm, 1);
	}
	report("cwrite", n, t0);

	t0 = now();
	for (i = 0; i + 1 < n; i += 2) {
		name(nm, 'w', i);
		name(nm2, 'w', i + 1);
		if (rename(nm, nm2) < 0)
			die("rename", nm);
	}
	report("rename", n / 2, t0);

	for (i = 1; i < n; i += 2) {
		name(nm, 'w', i);
		if (unlink(nm) < 0)
			die("unlink", nm);
	}
	if (n & 1) {
		name(nm, 'w', n - 1);
		if (unlink(nm) < 0)
			die("unlink", nm);
	}

	t0 = now();
	for (i = 0; i < n; i++) {
		name(nm, 'u', i);
		tar_one(nm);
	}
	report("tarstep", n, t0);
	for (i = 0; i < n; i++) {
		name(nm, 'u', i);
		if (unlink(nm) < 0)
			die("unlink", nm);
	}
	return 0;
}

static int populate(long n)
{
	char nm[32];
	long i;

	for (i = 0; i < n; i++) {
		if (i % 1000 == 0) {
			if (i && chdir("..") < 0)
				die("chdir", "..");
			name(nm, 'd', i / 1000);
			if (mkdir(nm, 0755) < 0 || chdir(nm) < 0)
				die("mkdir", nm);
		}
		name(nm, 'f', i);
		create_one(nm, 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	int pop = argc > 1 && strcmp(argv[1], "-p") == 0;
	char sub[64];
	long n;
	int ret;

	if (argc != 3 + pop) {
		fprintf(stderr, "usage: meta [-p] DIR N\n");
		return 2;
	}
	n = atol(argv[2 + pop]);
	if (n < 1 || chdir(argv[1 + pop]) < 0) {
		fprintf(stderr, "meta: bad N or DIR\n");
		return 2;
	}
	memset(wbuf, 'x', sizeof(wbuf));
	if (pop)
		return populate(n);
	snprintf(sub, sizeof(sub), "meta.%ld", (long)getpid());
	if (mkdir(sub, 0755) < 0 || chdir(sub) < 0)
		die("mkdir", sub);
	ret = run_phases(n);
	if (chdir("..") < 0 || rmdir(sub) < 0)
		die("rmdir", sub);
	return ret;
}
