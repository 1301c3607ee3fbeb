/*
 * test_mt.c - concurrency: threads creating, writing, reading, renaming
 * and unlinking in parallel (writers exclusive, readers shared, the GC
 * thread in between); the result is checked, then again after a remount
 * and after a crash.
 */
#include "fsfix.h"

#include <pthread.h>
#include <stdio.h>

#define NT 4
#define NOPS 400

struct targ {
	int id;
	uint64_t dir;
	int fails;
};

static void *worker(void *arg)
{
	struct targ *t = arg;
	char nm[32], buf[3000], rd[3000];
	struct fs_attr a;
	size_t n;

	for (int i = 0; i < NOPS; i++) {
		snprintf(nm, sizeof(nm), "f%d", i % 16);
		memset(buf, 'a' + (i + t->id) % 26, sizeof(buf));
		if (fs_lookup(fx_fs, t->dir, nm, &a) != 0 &&
		    fs_mknod(fx_fs, &fx_ctx, t->dir, nm, S_IFREG | 0644, 0,
			     &a) != 0) {
			t->fails++;
			continue;
		}
		if (fs_pwrite(fx_fs, a.ino, buf, sizeof(buf), 0) ||
		    fs_pread(fx_fs, a.ino, rd, sizeof(rd), 0, &n) || n != 3000 ||
		    memcmp(rd, buf, sizeof(buf)))
			t->fails++;
		if (i % 7 == 0 && fs_unlink(fx_fs, t->dir, nm))
			t->fails++;
		if (i % 11 == 0) {
			char nn[32];

			snprintf(nn, sizeof(nn), "r%d", i % 5);
			fs_rename(fx_fs, t->dir, nm, t->dir, nn, 0);
		}
	}
	return NULL;
}

static void *reader(void *arg)
{
	struct fs_attr a;
	int *stop = arg;

	while (!__atomic_load_n(stop, __ATOMIC_ACQUIRE)) {
		fs_getattr(fx_fs, 1, &a);
		fs_lookup(fx_fs, 1, "d0", &a);
	}
	return NULL;
}

static int count_fill(void *arg, const char *name, uint64_t ino,
		      unsigned dt, uint64_t next)
{
	(*(int *)arg)++;
	return 0;
}

TestSuite(mt, .init = fx_setup, .fini = fx_teardown);

Test(mt, parallel_workers)
{
	pthread_t th[NT], rt;
	struct targ t[NT];
	int stop = 0, cnt[NT];
	char nm[16];
	struct fs_attr a;

	for (int i = 0; i < NT; i++) {
		snprintf(nm, sizeof(nm), "d%d", i);
		cr_assert_eq(fs_mkdir(fx_fs, &fx_ctx, 1, nm, 0755, &a), 0);
		t[i].id = i;
		t[i].dir = a.ino;
		t[i].fails = 0;
	}
	pthread_create(&rt, NULL, reader, &stop);
	for (int i = 0; i < NT; i++)
		pthread_create(&th[i], NULL, worker, &t[i]);
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(rt, NULL);
	for (int i = 0; i < NT; i++) {
		cr_assert_eq(t[i].fails, 0, "thread %d: %d failures", i,
			     t[i].fails);
		cnt[i] = 0;
		cr_assert_eq(fs_readdir(fx_fs, t[i].dir, 0, count_fill, &cnt[i]),
			     0);
		cr_assert_gt(cnt[i], 0);
	}
	fx_remount();
	for (int i = 0; i < NT; i++) {
		int c = 0;

		cr_assert_eq(fs_readdir(fx_fs, t[i].dir, 0, count_fill, &c), 0);
		cr_assert_eq(c, cnt[i]);
	}
	fx_crash();
	for (int i = 0; i < NT; i++) {
		int c = 0;

		cr_assert_eq(fs_readdir(fx_fs, t[i].dir, 0, count_fill, &c), 0);
		cr_assert_eq(c, cnt[i]);
	}
}
