/*
 * reqtrace.c - the FUSE requests each common operation costs, from the
 * daemon's own trace: libfuse's -d log ("opcode: NAME (n)"), which every
 * libfuse daemon writes (pmfs of any version, the floor, passthrough_ll).
 *
 *   reqtrace run DIR N      in DIR/rt.<pid>: every step N times, each step
 *                           opened and closed by a statfs(DIR) (a STATFS
 *                           request in the log: the step's boundary)
 *   reqtrace sum LOG N      read the daemon's -d log, print per step
 *                           "step<TAB>requests per op<TAB>by type"
 *
 * Steps (what a user does, not a syscall each):
 *   create    open(O_CREAT|O_EXCL|O_WRONLY) + close
 *   stat      stat() of a file stat'ed before (cached attributes)
 *   write4k   pwrite 4 KiB over an open file's data (cached, no fsync)
 *   untar     create, write 1 KiB, fchmod, futimens, close
 *   rename    rename over an existing file
 *   unlink    unlink
 *   mkdir     mkdir
 *   rmdir     rmdir
 *   ls        opendir + readdir + closedir of a directory of N entries
 * A warm-up of create, write and listing runs first (outside any step),
 * so one-time lessons (ENOSYS to CREATE, OPEN, OPENDIR, FLUSH) are not
 * counted.
 * Requests the kernel sends on its own schedule (FORGET, BATCH_FORGET,
 * INTERRUPT) are left out; the step waits 50 ms before its closing
 * statfs so that asynchronous requests of its own (RELEASE) land in it.
 * A benchmark tool: it asserts nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#define MAX_STEPS 16
#define MAX_OPS 64

static const char *const steps[] = { "create", "stat",	 "write4k",
				     "untar",  "rename", "unlink",
				     "mkdir",  "rmdir",	 "ls" };
#define NSTEPS (sizeof(steps) / sizeof(steps[0]))

static char buf[4096];

/* Exit with a message naming the call that failed. */
static void die(const char *what, const char *name)
{
	fprintf(stderr, "reqtrace: %s %s: %s\n", what, name, strerror(errno));
	exit(1);
}

/* The step boundary: one STATFS request in the daemon's log. */
static void mark(const char *dir)
{
	struct statfs st;

	usleep(50000);
	if (statfs(dir, &st) < 0)
		die("statfs", dir);
}

/* open(O_CREAT|O_EXCL|O_WRONLY) of name; the fd. */
static int create(const char *name)
{
	int fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0644);

	if (fd < 0)
		die("create", name);
	return fd;
}

/* One step, n times, in the current directory. */
static void step(const char *s, long n)
{
	static const struct timespec ts[2] = { { 1000, 0 }, { 2000, 0 } };
	char a[32], b[32];
	struct stat st;
	int fd;

	for (long i = 0; i < n; i++) {
		snprintf(a, sizeof(a), "f%06ld", i);
		snprintf(b, sizeof(b), "t%06ld", i);
		if (!strcmp(s, "create")) {
			close(create(a));
		} else if (!strcmp(s, "stat")) {
			if (stat(a, &st) < 0)
				die("stat", a);
		} else if (!strcmp(s, "write4k")) {
			fd = open("w", O_WRONLY);
			if (fd < 0 || pwrite(fd, buf, 4096, (i % 16) * 4096) != 4096)
				die("write", "w");
			close(fd);
		} else if (!strcmp(s, "untar")) {
			fd = create(b);
			if (write(fd, buf, 1024) != 1024 || fchmod(fd, 0600) ||
			    futimens(fd, ts) || close(fd))
				die("untar", b);
		} else if (!strcmp(s, "rename")) {
			if (rename(b, a) < 0) /* t over f */
				die("rename", b);
		} else if (!strcmp(s, "unlink")) {
			if (unlink(a) < 0)
				die("unlink", a);
		} else if (!strcmp(s, "mkdir")) {
			if (mkdir(a, 0755) < 0)
				die("mkdir", a);
		} else if (!strcmp(s, "rmdir")) {
			if (rmdir(a) < 0)
				die("rmdir", a);
		} else if (!strcmp(s, "ls")) {
			DIR *d = opendir("big");
			long k = 0;

			if (!d)
				die("opendir", "big");
			while (readdir(d))
				k++;
			closedir(d);
			if (k < n)
				die("readdir", "big");
			break; /* once: counted per listing */
		}
	}
}

/* `run`: warm up, then every step between two marks. */
static int run(const char *dir, long n)
{
	char work[4096], nm[32];
	struct stat st;
	int fd;

	memset(buf, 'r', sizeof(buf));
	snprintf(work, sizeof(work), "%s/rt.%d", dir, (int)getpid());
	if (mkdir(work, 0755) < 0 || chdir(work) < 0)
		die("mkdir", work);
	if (mkdir("big", 0755) < 0)
		die("mkdir", "big");
	for (long i = 0; i < n; i++) {
		snprintf(nm, sizeof(nm), "big/e%06ld", i);
		close(create(nm));
	}
	fd = create("w");
	if (pwrite(fd, buf, 4096, 0) != 4096 || close(fd))
		die("write", "w");
	if (stat("w", &st) < 0)
		die("stat", "w");
	/* a write last: every attribute refresh makes the kernel forget
	 * that w has no security.capability, and ask again at its next
	 * write (README: requests per operation) */
	fd = open("w", O_WRONLY);
	if (fd < 0 || pwrite(fd, buf, 4096, 65536) != 4096 || close(fd))
		die("write", "w");
	step("ls", n); /* the first OPENDIR of a mount is a lesson too */
	for (size_t k = 0; k < NSTEPS; k++) {
		if (!strcmp(steps[k], "stat"))
			step("stat", n); /* outside the step: attributes cached */
		mark(dir);
		step(steps[k], n);
	}
	mark(dir);
	return 0;
}

/* The opcode number of a "-d" line "..., opcode: NAME (n), ...", or -1. */
static int opcode_of(const char *line, char *name, size_t nlen)
{
	const char *p = strstr(line, "opcode: ");
	int op;

	if (!p || sscanf(p, "opcode: %31s (%d)", name, &op) != 2 || nlen < 32)
		return -1;
	return op >= 0 && op < MAX_OPS ? op : -1;
}

/* `sum`: requests between STATFS marks, per step and per opcode. */
static int sum(const char *log, long n)
{
	static long cnt[MAX_STEPS][MAX_OPS];
	static char names[MAX_OPS][32];
	char line[1024], name[32];
	FILE *f = fopen(log, "r");
	int sec = -1;

	if (!f)
		die("open", log);
	while (fgets(line, sizeof(line), f)) {
		int op = opcode_of(line, name, sizeof(name));

		if (op < 0)
			continue;
		if (!strcmp(name, "STATFS")) {
			sec++;
			continue;
		}
		if (!strcmp(name, "FORGET") || !strcmp(name, "BATCH_FORGET") ||
		    !strcmp(name, "INTERRUPT"))
			continue;
		if (sec >= 0 && sec < (int)NSTEPS) {
			cnt[sec][op]++;
			snprintf(names[op], sizeof(names[op]), "%s", name);
		}
	}
	fclose(f);
	if (sec < (int)NSTEPS) {
		fprintf(stderr, "reqtrace: %s: %d marks, %zu expected\n", log,
			sec + 1, NSTEPS + 1);
		return 1;
	}
	for (size_t k = 0; k < NSTEPS; k++) {
		long t = 0, per = !strcmp(steps[k], "ls") ? 1 : n;

		for (int op = 0; op < MAX_OPS; op++)
			t += cnt[k][op];
		printf("%s\t%.2f\t", steps[k], (double)t / (double)per);
		for (int op = 0; op < MAX_OPS; op++)
			if (cnt[k][op])
				printf(" %s=%.2f", names[op],
				       (double)cnt[k][op] / (double)per);
		printf("\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc == 4 ? atol(argv[3]) : 0;

	if (argc != 4 || n <= 0 || n > 999999) {
		fprintf(stderr, "usage: reqtrace run DIR N | reqtrace sum LOG N\n");
		return 2;
	}
	if (!strcmp(argv[1], "run"))
		return run(argv[2], n);
	if (!strcmp(argv[1], "sum"))
		return sum(argv[2], n);
	fprintf(stderr, "reqtrace: unknown command %s\n", argv[1]);
	return 2;
}
