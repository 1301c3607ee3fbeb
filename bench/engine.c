/*
 * engine.c - the in-process engine benchmark: pmfs's core (src/fs/fs.h)
 * called directly, no FUSE, on an image made by mkfs.pmfs.  Cache-line
 * granularity is forced (PMFS_FORCE_CACHE_LINE=1) so every flush and fence
 * is a real CLWB/SFENCE.  Per phase it prints the rate and, from pmemio's
 * per-thread counters, the fences, flushed cache lines and bytes written
 * per operation; rawpmem prints the matching raw libpmem2 limit.
 *
 *   engine IMAGE [N] [SECONDS]
 *
 * Phases: create, lookup, rename, unlink, mkdir, rmdir, create2 (the
 * creates again, on blocks and memory used before), create_mt_shared and
 * create_mt_private (two threads, N/2 creates each, in one directory or
 * in one each; the rate is of both), then the data ones.
 * Output: one line "#path<TAB>flush path" and then per phase
 * "op<TAB>ops_per_second<TAB>fences/op<TAB>flushes/op<TAB>bytes/op".
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fs/fs.h"
#include "pmemio/pmemio.h"

#ifndef PMFS_ROOT_INO
#define PMFS_ROOT_INO 1u
#endif

#define ENGINE_FILE_SIZE (64u << 20)

struct phase {
	const char *op;
	double t0;
	struct pmio_stats s0;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void phase_start(struct phase *p, const char *op)
{
	p->op = op;
	p->s0 = pmio_stats_thread();
	p->t0 = now();
}

static void phase_end(const struct phase *p, uint64_t ops)
{
	double t = now() - p->t0;
	struct pmio_stats s = pmio_stats_thread();
	double n = ops ? (double)ops : 1.0;

	printf("%s\t%.0f\t%.2f\t%.2f\t%.0f\n", p->op, t > 0 ? n / t : 0.0,
	       (double)(s.fences - p->s0.fences) / n,
	       (double)(s.flushes - p->s0.flushes) / n,
	       (double)(s.bytes - p->s0.bytes) / n);
	fflush(stdout);
}

static int check(int err, const char *what, long i)
{
	if (err)
		fprintf(stderr, "engine: %s #%ld: %s\n", what, i,
			strerror(-err));
	return err;
}

static uint64_t rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int bench_names(struct fs *fs, uint64_t dir, long n)
{
	const struct fs_ctx ctx = { .uid = 0 };
	struct fs_attr a;
	struct phase ph;
	char nm[32], nm2[32];
	long i;

	phase_start(&ph, "create");
	for (i = 0; i < n; i++) {
		snprintf(nm, sizeof(nm), "f%07ld", i);
		if (check(fs_mknod(fs, &ctx, dir, nm, S_IFREG | 0644, 0, &a),
			  "mknod", i))
			return 1;
	}
	phase_end(&ph, (uint64_t)n);

	phase_start(&ph, "lookup");
	for (i = 0; i < n; i++) {
		snprintf(nm, sizeof(nm), "f%07ld", i);
		if (check(fs_lookup(fs, dir, nm, &a), "lookup", i))
			return 1;
	}
	phase_end(&ph, (uint64_t)n);

	phase_start(&ph, "rename");
	for (i = 0; i + 1 < n; i += 2) {
		snprintf(nm, sizeof(nm), "f%07ld", i);
		snprintf(nm2, sizeof(nm2), "f%07ld", i + 1);
		if (check(fs_rename(fs, dir, nm, dir, nm2, 0), "rename", i))
			return 1;
	}
	phase_end(&ph, (uint64_t)(n / 2));

	phase_start(&ph, "unlink");
	for (i = 1; i < n; i += 2) {
		snprintf(nm, sizeof(nm), "f%07ld", i);
		if (check(fs_unlink(fs, dir, nm), "unlink", i))
			return 1;
	}
	phase_end(&ph, (uint64_t)(n / 2));
	if (n & 1) {
		snprintf(nm, sizeof(nm), "f%07ld", n - 1);
		if (check(fs_unlink(fs, dir, nm), "unlink", n - 1))
			return 1;
	}

	phase_start(&ph, "mkdir");
	for (i = 0; i < n; i++) {
		snprintf(nm, sizeof(nm), "d%07ld", i);
		if (check(fs_mkdir(fs, &ctx, dir, nm, 0755, &a), "mkdir", i))
			return 1;
	}
	phase_end(&ph, (uint64_t)n);

	phase_start(&ph, "rmdir");
	for (i = 0; i < n; i++) {
		snprintf(nm, sizeof(nm), "d%07ld", i);
		if (check(fs_rmdir(fs, dir, nm), "rmdir", i))
			return 1;
	}
	phase_end(&ph, (uint64_t)n);

	/* the same creates again: the blocks, inode slots and memory are
	 * the ones used before (the steady state of a busy filesystem) */
	phase_start(&ph, "create2");
	for (i = 0; i < n; i++) {
		snprintf(nm, sizeof(nm), "f%07ld", i);
		if (check(fs_mknod(fs, &ctx, dir, nm, S_IFREG | 0644, 0, &a),
			  "mknod again", i))
			return 1;
	}
	phase_end(&ph, (uint64_t)n);
	for (i = 0; i < n; i++) {
		snprintf(nm, sizeof(nm), "f%07ld", i);
		if (check(fs_unlink(fs, dir, nm), "unlink again", i))
			return 1;
	}
	return 0;
}

static int bench_data(struct fs *fs, uint64_t dir, double secs)
{
	const struct fs_ctx ctx = { .uid = 0 };
	static char buf[1 << 20];
	uint64_t seed = 88172645463325252ull, ops, off;
	struct fs_attr a;
	struct phase ph;
	size_t got, chunk = sizeof(buf);
	uint64_t ino;

	memset(buf, 0x6b, sizeof(buf));
	if (check(fs_mknod(fs, &ctx, dir, "data", S_IFREG | 0644, 0, &a),
		  "mknod data", 0))
		return 1;
	ino = a.ino;

	phase_start(&ph, "append4k");
	for (off = 0; off < ENGINE_FILE_SIZE; off += 4096)
		if (check(fs_pwrite(fs, ino, buf, 4096, off), "append", 0))
			return 1;
	phase_end(&ph, ENGINE_FILE_SIZE / 4096);

	phase_start(&ph, "write4k");
	for (ops = 0; (ops & 255) || now() - ph.t0 < secs; ops++) {
		off = (rng(&seed) % (ENGINE_FILE_SIZE / 4096)) * 4096;
		if (check(fs_pwrite(fs, ino, buf, 4096, off), "write4k", 0))
			return 1;
	}
	phase_end(&ph, ops);

	phase_start(&ph, "read4k");
	for (ops = 0; (ops & 255) || now() - ph.t0 < secs; ops++) {
		off = (rng(&seed) % (ENGINE_FILE_SIZE / 4096)) * 4096;
		if (check(fs_pread(fs, ino, buf, 4096, off, &got), "read4k",
			  0))
			return 1;
	}
	phase_end(&ph, ops);

	/* a fresh file: the overwrites above may have filled the first log */
	if (check(fs_unlink(fs, dir, "data"), "unlink data", 0) ||
	    check(fs_mknod(fs, &ctx, dir, "data1m", S_IFREG | 0644, 0, &a),
		  "mknod data1m", 0))
		return 1;
	ino = a.ino;
	/* 1 MiB in the largest piece the core accepts (E2BIG: halve it) */
	while (chunk > 4096 &&
	       fs_pwrite(fs, ino, buf, chunk, 0) == -E2BIG)
		chunk /= 2;
	if (chunk != sizeof(buf))
		printf("#write1m\tin pieces of %zu KiB (E2BIG above)\n",
		       chunk >> 10);
	phase_start(&ph, "write1m");
	for (ops = 0; (ops & 15) || now() - ph.t0 < secs; ops++) {
		size_t done;

		off = (ops % (ENGINE_FILE_SIZE >> 20)) << 20;
		for (done = 0; done < sizeof(buf); done += chunk)
			if (check(fs_pwrite(fs, ino, buf, chunk, off + done),
				  "write1m", 0))
				return 1;
	}
	phase_end(&ph, ops);
	return check(fs_unlink(fs, dir, "data1m"), "unlink data1m", 0) ? 1 : 0;
}

/* One thread of the two-thread phases: n creates in dir, names with its
 * own prefix, then their removal (not timed). */
struct mt_arg {
	struct fs *fs;
	uint64_t dir;
	long n;
	int id, err;
	pthread_barrier_t *go;
};

static void *mt_create(void *arg)
{
	struct mt_arg *m = arg;
	const struct fs_ctx ctx = { .uid = 0 };
	struct fs_attr a;
	char nm[32];

	pthread_barrier_wait(m->go);
	for (long i = 0; i < m->n && !m->err; i++) {
		snprintf(nm, sizeof(nm), "t%d-%07ld", m->id, i);
		m->err = check(fs_mknod(m->fs, &ctx, m->dir, nm,
					S_IFREG | 0644, 0, &a),
			       "mknod (2 threads)", i);
	}
	pthread_barrier_wait(m->go);
	for (long i = 0; i < m->n && !m->err; i++) {
		snprintf(nm, sizeof(nm), "t%d-%07ld", m->id, i);
		m->err = check(fs_unlink(m->fs, m->dir, nm),
			       "unlink (2 threads)", i);
	}
	return NULL;
}

/* Creates by 2 threads, n each, in one shared directory (op
 * "create_mt_shared") or each in its own ("create_mt_private"); the rate
 * is of both together, timed from start to the last create. */
static int bench_mt(struct fs *fs, uint64_t dir, long n, bool shared)
{
	const struct fs_ctx ctx = { .uid = 0 };
	struct mt_arg m[2];
	pthread_barrier_t go;
	pthread_t th[2];
	struct fs_attr a;
	double t0;
	int ret = 0;

	pthread_barrier_init(&go, NULL, 3);
	for (int i = 0; i < 2; i++) {
		m[i] = (struct mt_arg){ fs, dir, n, i, 0, &go };
		if (!shared) {
			char nm[16];

			snprintf(nm, sizeof(nm), "p%d", i);
			if (check(fs_mkdir(fs, &ctx, dir, nm, 0755, &a),
				  "mkdir private", i))
				return 1;
			m[i].dir = a.ino;
		}
		pthread_create(&th[i], NULL, mt_create, &m[i]);
	}
	t0 = now();
	pthread_barrier_wait(&go); /* start */
	pthread_barrier_wait(&go); /* both done */
	printf("%s\t%.0f\t\t\t\n",
	       shared ? "create_mt_shared" : "create_mt_private",
	       2.0 * (double)n / (now() - t0));
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		ret |= m[i].err;
	}
	pthread_barrier_destroy(&go);
	for (int i = 0; !shared && !ret && i < 2; i++) {
		char nm[16];

		snprintf(nm, sizeof(nm), "p%d", i);
		ret = check(fs_rmdir(fs, dir, nm), "rmdir private", i);
	}
	return ret ? 1 : 0;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 100000;
	double secs = argc > 3 ? atof(argv[3]) : 1.0;
	struct fs_opts o = { 0, 0 };
	struct fs_mount_info info;
	struct fs_attr a;
	struct fs *fs;
	char err[256] = "";
	const struct fs_ctx ctx = { .uid = 0 };
	int ret, e;

	if (argc < 2 || n < 2) {
		fprintf(stderr, "usage: engine IMAGE [N] [SECONDS]\n");
		return 2;
	}
	setenv("PMFS_FORCE_CACHE_LINE", "1", 1);
	e = fs_mount(argv[1], &o, &fs, &info, err, sizeof(err));
	if (e) {
		fprintf(stderr, "engine: mount %s: %s %s\n", argv[1],
			strerror(-e), err);
		return 1;
	}
	printf("#path\t%s\n", pmio_flush_path(fs_pmio(fs)));
	e = fs_mkdir(fs, &ctx, PMFS_ROOT_INO, "engine", 0755, &a);
	ret = check(e, "mkdir engine", 0) ? 1 : 0;
	if (!ret)
		ret = bench_names(fs, a.ino, n);
	if (!ret)
		ret = bench_mt(fs, a.ino, n / 2, true);
	if (!ret)
		ret = bench_mt(fs, a.ino, n / 2, false);
	if (!ret)
		ret = bench_data(fs, a.ino, secs);
	if (!ret)
		ret = check(fs_rmdir(fs, PMFS_ROOT_INO, "engine"), "rmdir", 0)
			      ? 1 : 0;
	e = fs_unmount(fs);
	if (e) {
		fprintf(stderr, "engine: unmount: %s\n", strerror(-e));
		ret = 1;
	}
	return ret;
}
