/*
 * fsckbench.c - how long fsck.pmfs takes on a big filesystem (a benchmark,
 * not a test: it asserts nothing about time).
 *
 *   fsckbench [-n INODES] [-d DIRS] [-r ROUNDS] [-j THREADS] [-k] IMAGE
 *
 * Makes IMAGE with mkfs.pmfs (sized for the inodes: one log page each,
 * plus room), populates it through the core's fs_* calls (fs_mount_pmio,
 * DIRS directories, fs_mknod of empty files spread over them, from
 * THREADS threads, each on its own directories), unmounts cleanly, then
 * times ROUNDS runs of `fsck.pmfs -fn IMAGE` and prints each and the best.
 * The image is removed afterwards unless -k.  Tools come from
 * $PMFS_BUILD (default build).  Build: make BUILD=... fsckbench
 * (fuzz/fsckbench.mk).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "format/format.h"
#include "fs/fs.h"
#include "pmemio/pmemio.h"

extern char **environ;

static const struct fs_ctx ctx0 = { .uid = 0, .gid = 0 };

struct worker {
	struct fs *fs;
	const uint64_t *dirs;
	unsigned ndirs, id, nthreads;
	uint64_t from, to; /* file numbers [from, to) */
	int err;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Run argv with stdout/stderr to /dev/null; exit status or -1. */
static int run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r) {
		fprintf(stderr, "fsckbench: %s: %s\n", argv[0], strerror(r));
		return -1;
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void *populate(void *arg)
{
	struct worker *w = arg;
	char name[32];
	struct fs_attr a;

	for (uint64_t i = w->from; i < w->to; i++) {
		/* worker id owns directories id, id + nthreads, ... */
		unsigned per = (w->ndirs + w->nthreads - 1 - w->id) /
			       w->nthreads;
		unsigned k = (unsigned)(i % (per ? per : 1));
		uint64_t dir = w->dirs[w->id + (uint64_t)k * w->nthreads];

		snprintf(name, sizeof(name), "f%" PRIu64, i);
		w->err = fs_mknod(w->fs, &ctx0, dir, name, S_IFREG | 0644, 0,
				  &a);
		if (w->err)
			return NULL;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t n = 100000;
	unsigned ndirs = 100, rounds = 3, nthreads = 2;
	bool keep = false;
	const char *build = getenv("PMFS_BUILD") ? getenv("PMFS_BUILD")
						 : "build";
	char mkfs[512], fsck[512], size[64], err[256] = "", dname[32];
	uint64_t *dirs;
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	struct worker *w;
	pthread_t *th;
	struct pmio *p;
	struct fs *fs;
	double t0, best = 0;
	int c, r;

	while ((c = getopt(argc, argv, "n:d:r:j:k")) != -1) {
		switch (c) {
		case 'n':
			n = strtoull(optarg, NULL, 0);
			break;
		case 'd':
			ndirs = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'r':
			rounds = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'j':
			nthreads = (unsigned)strtoul(optarg, NULL, 0);
			break;
		case 'k':
			keep = true;
			break;
		default:
			fprintf(stderr, "usage: fsckbench [-n INODES] [-d DIRS] "
					"[-r ROUNDS] [-j THREADS] [-k] IMAGE\n");
			return 2;
		}
	}
	if (optind != argc - 1 || !ndirs || !nthreads || nthreads > ndirs ||
	    !rounds) {
		fprintf(stderr, "fsckbench: one IMAGE; DIRS >= THREADS >= 1\n");
		return 2;
	}
	snprintf(mkfs, sizeof(mkfs), "%s/mkfs.pmfs", build);
	snprintf(fsck, sizeof(fsck), "%s/fsck.pmfs", build);
	/* one log page per inode, directory logs, inode table: x1.5 + 64M */
	snprintf(size, sizeof(size), "%" PRIu64,
		 ((n * PMFS_BLOCK_SIZE * 3 / 2) + (64u << 20)) >> 20 << 20);
	unlink(argv[optind]);
	{
		char *av[] = { mkfs, "-q", "-f", "--size", size, argv[optind],
			       NULL };

		if (run(av) != 0) {
			fprintf(stderr, "fsckbench: mkfs.pmfs failed\n");
			return 1;
		}
	}
	t0 = now();
	if (pmio_open(argv[optind], &po, &p, err, sizeof(err)) ||
	    fs_mount_pmio(p, NULL, &fs, NULL, err, sizeof(err))) {
		fprintf(stderr, "fsckbench: %s\n", err);
		return 1;
	}
	dirs = calloc(ndirs, sizeof(*dirs));
	w = calloc(nthreads, sizeof(*w));
	th = calloc(nthreads, sizeof(*th));
	if (!dirs || !w || !th)
		return 1;
	for (unsigned i = 0; i < ndirs; i++) {
		struct fs_attr a;

		snprintf(dname, sizeof(dname), "d%u", i);
		r = fs_mkdir(fs, &ctx0, PMFS_ROOT_INO, dname, 0755, &a);
		if (r) {
			fprintf(stderr, "fsckbench: mkdir: %s\n", strerror(-r));
			return 1;
		}
		dirs[i] = a.ino;
	}
	for (unsigned i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ fs, dirs, ndirs, i, nthreads,
					n * i / nthreads,
					n * (i + 1) / nthreads, 0 };
		pthread_create(&th[i], NULL, populate, &w[i]);
	}
	for (unsigned i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		if (w[i].err) {
			fprintf(stderr, "fsckbench: mknod: %s\n",
				strerror(-w[i].err));
			return 1;
		}
	}
	if (fs_unmount(fs)) {
		fprintf(stderr, "fsckbench: unmount failed\n");
		return 1;
	}
	pmio_close(p);
	printf("populated %" PRIu64 " files in %u directories: %.2f s\n", n,
	       ndirs, now() - t0);
	for (unsigned i = 0; i < rounds; i++) {
		char *av[] = { fsck, "-fn", argv[optind], NULL };
		double t;

		t0 = now();
		r = run(av);
		t = now() - t0;
		printf("fsck.pmfs -fn: %.3f s (exit %d)\n", t, r);
		if (r != 0) {
			fprintf(stderr, "fsckbench: fsck found problems\n");
			return 1;
		}
		if (i == 0 || t < best)
			best = t;
	}
	printf("inodes %" PRIu64 " fsck_best_s %.3f\n", n + ndirs + 2, best);
	if (!keep)
		unlink(argv[optind]);
	free(dirs);
	free(w);
	free(th);
	return 0;
}
