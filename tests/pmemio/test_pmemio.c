/*
 * test_pmemio.c - the mapping and primitives of pmemio.c (with ident.c):
 * a tmpfs file maps at page granularity, or at cache-line granularity when
 * forced (PMIO_O_FORCE_CL / PMFS_FORCE_CACHE_LINE=1) so the real flush
 * instructions run; persist, commit and the copy/set helpers write what
 * they should and move the counters by exact amounts; read-only and
 * exclusive opens behave; every unusable path is refused with -errno and a
 * non-empty one-line message.
 *
 * Criterion runs each test in its own process (its default), so tests may
 * set environment variables and each starts with zero thread counters.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pmemio/pmemio.h"
#include "testutil.h"

#define MIB (1024u * 1024u)

/* err must be non-empty, one line, and name the path. */
static void assert_msg(const char *err, const char *path)
{
	cr_assert(err[0] != '\0', "empty error message");
	cr_assert(strchr(err, '\n') == NULL, "multi-line message: %s", err);
	cr_assert(strstr(err, path) != NULL, "message lacks path: %s", err);
}

static struct pmio *open_ok(const char *path, unsigned flags)
{
	struct pmio_opts o = { .flags = flags | PMIO_O_QUIET, .min_size = 0 };
	struct pmio *p = NULL;
	char err[256] = "";
	int ret = pmio_open(path, &o, &p, err, sizeof(err));

	cr_assert_eq(ret, 0, "pmio_open(%s): %d %s", path, ret, err);
	cr_assert_not_null(p);
	return p;
}

/* Expect pmio_open to fail with `want`; returns the message. */
static void open_fails(const char *path, unsigned flags, uint64_t min_size,
		       int want, char *err, size_t errlen)
{
	struct pmio_opts o = { .flags = flags | PMIO_O_QUIET,
			       .min_size = min_size };
	struct pmio *p = (struct pmio *)0x1;
	int ret = pmio_open(path, &o, &p, err, errlen);

	cr_assert_eq(ret, want, "pmio_open(%s) = %d, want %d (%s)", path, ret,
		     want, err);
	cr_assert_null(p, "result set on failure");
	assert_msg(err, path);
}

Test(pmemio, names)
{
	cr_assert_str_eq(pmio_gran_name(PMIO_GRAN_BYTE), "byte");
	cr_assert_str_eq(pmio_gran_name(PMIO_GRAN_CACHE_LINE), "cache-line");
	cr_assert_str_eq(pmio_gran_name(PMIO_GRAN_PAGE), "page");
	cr_assert_str_eq(pmio_gran_name((enum pmio_gran)0), "unknown");
	cr_assert(pmio_arch_name()[0] != '\0');
}

Test(pmemio, page_mapping)
{
	char *img = tu_tmpimg(MIB);
	struct pmio *p = open_ok(img, 0);
	const struct pmio_badblock *bb = (void *)0x1;

	cr_assert_eq(pmio_gran(p), PMIO_GRAN_PAGE);
	cr_assert_eq(pmio_kind(p), PMIO_KIND_FILE);
	cr_assert_not(pmio_is_dax(p));
	cr_assert_eq(pmio_size(p), MIB);
	cr_assert_not_null(pmio_base(p));
	cr_assert(strncmp(pmio_flush_path(p), "msync+", 6) == 0, "%s",
		  pmio_flush_path(p));
	cr_assert_eq(pmio_badblocks(p, &bb), 0);
	pmio_close(p);
	tu_rmimg(img);
}

Test(pmemio, page_persist_counts_and_data)
{
	char *img = tu_tmpimg(MIB);
	struct pmio *p = open_ok(img, 0);
	uint8_t *base = pmio_base(p);
	struct pmio_stats s0, s1;
	char buf[200];
	int fd;

	s0 = pmio_stats_thread();
	memset(base + 4096 + 100, 0xab, 200);
	pmio_persist(p, base + 4096 + 100, 200);
	s1 = pmio_stats_thread();
	cr_assert_eq(s1.flushes - s0.flushes, 1, "one msync");
	cr_assert_eq(s1.fences - s0.fences, 1);
	/* A range over a page boundary is still one msync call. */
	pmio_flush(p, base + 4000, 200);
	cr_assert_eq(pmio_stats_thread().flushes - s1.flushes, 1);
	pmio_close(p);

	fd = open(img, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, buf, sizeof(buf), 4096 + 100), 200);
	close(fd);
	for (size_t i = 0; i < sizeof(buf); i++)
		cr_assert_eq((uint8_t)buf[i], 0xab);
	tu_rmimg(img);
}

Test(pmemio, forced_cache_line)
{
	char *img = tu_tmpimg(MIB);
	struct pmio *p = open_ok(img, PMIO_O_FORCE_CL);

	cr_assert_eq(pmio_gran(p), PMIO_GRAN_CACHE_LINE);
	cr_assert(pmio_is_dax(p));
	cr_assert_str_eq(pmio_flush_path(p), pmio_arch_name());
	/* The switch is scoped to the one map call. */
	cr_assert_null(getenv("PMEM2_FORCE_GRANULARITY"));
	pmio_close(p);
	tu_rmimg(img);
}

Test(pmemio, forced_cache_line_by_env)
{
	char *img = tu_tmpimg(MIB);
	struct pmio *p;

	setenv("PMEM2_FORCE_GRANULARITY", "page", 1);
	setenv("PMFS_FORCE_CACHE_LINE", "1", 1);
	p = open_ok(img, 0);
	cr_assert_eq(pmio_gran(p), PMIO_GRAN_CACHE_LINE);
	cr_assert_str_eq(getenv("PMEM2_FORCE_GRANULARITY"), "page",
			 "previous value restored");
	pmio_close(p);
	tu_rmimg(img);
}

Test(pmemio, cache_line_counts)
{
	char *img = tu_tmpimg(MIB);
	struct pmio *p = open_ok(img, PMIO_O_FORCE_CL);
	uint8_t *base = pmio_base(p);
	struct pmio_stats a, b;

	/* 200 bytes from a line boundary: 4 lines, one fence. */
	a = pmio_stats_thread();
	memset(base + 640, 1, 200);
	pmio_persist(p, base + 640, 200);
	b = pmio_stats_thread();
	cr_assert_eq(b.flushes - a.flushes, 4);
	cr_assert_eq(b.fences - a.fences, 1);

	/* Two bytes across a line boundary: 2 lines, no fence. */
	a = b;
	pmio_flush(p, base + 127, 2);
	b = pmio_stats_thread();
	cr_assert_eq(b.flushes - a.flushes, 2);
	cr_assert_eq(b.fences, a.fences);

	/* Zero length: nothing. */
	a = b;
	pmio_flush(p, base, 0);
	b = pmio_stats_thread();
	cr_assert_eq(b.flushes, a.flushes);

	/* commit64: one store of 8 bytes, one line, no fence. */
	a = b;
	pmio_commit64(p, (uint64_t *)(base + 4096), 0x1122334455667788ull);
	b = pmio_stats_thread();
	cr_assert_eq(*(uint64_t *)(base + 4096), 0x1122334455667788ull);
	cr_assert_eq(b.flushes - a.flushes, 1);
	cr_assert_eq(b.fences, a.fences);
	cr_assert_eq(b.bytes - a.bytes, 8);

	/* store64: no flush. */
	a = b;
	pmio_store64(p, (uint64_t *)(base + 4104), 42);
	b = pmio_stats_thread();
	cr_assert_eq(*(uint64_t *)(base + 4104), 42);
	cr_assert_eq(b.flushes, a.flushes);
	cr_assert_eq(b.bytes - a.bytes, 8);

	/* memset_nodrain of 100 bytes at offset 64 within a line: 2 lines. */
	a = b;
	pmio_memset_nodrain(p, base + 8192 + 64, 0x5a, 100);
	b = pmio_stats_thread();
	cr_assert_eq(b.flushes - a.flushes, 2);
	cr_assert_eq(b.bytes - a.bytes, 100);
	cr_assert_eq(base[8192 + 64 + 99], 0x5a);
	cr_assert_eq(base[8192 + 64 + 100], 0);

	/* noflush helpers: bytes move, flushes do not. */
	a = b;
	pmio_memset_noflush(p, base + 12288, 7, 300);
	pmio_memcpy_noflush(p, base + 16384, base + 12288, 300);
	b = pmio_stats_thread();
	cr_assert_eq(b.flushes, a.flushes);
	cr_assert_eq(b.bytes - a.bytes, 600);
	cr_assert_eq(base[16384 + 299], 7);
	cr_assert_eq(base[16384 + 300], 0);

	/* A drain alone: one fence, no flush. */
	a = b;
	pmio_drain(p);
	b = pmio_stats_thread();
	cr_assert_eq(b.fences - a.fences, 1);
	cr_assert_eq(b.flushes, a.flushes);
	pmio_close(p);
	tu_rmimg(img);
}

Test(pmemio, memcpy_nodrain_exact)
{
	char *img = tu_tmpimg(MIB);
	struct pmio *p = open_ok(img, PMIO_O_FORCE_CL);
	uint8_t *base = pmio_base(p);
	uint8_t src[5000];
	struct pmio_stats a, b;
	size_t lens[] = { 1, 63, 255, 256, 4096, 5000 };

	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 1);
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		uint8_t *dst = base + 65536 * (k + 1) + 3;

		a = pmio_stats_thread();
		pmio_memcpy_nodrain(p, dst, src, lens[k]);
		b = pmio_stats_thread();
		cr_assert(memcmp(dst, src, lens[k]) == 0, "len %zu", lens[k]);
		cr_assert_eq(dst[-1], 0, "byte before, len %zu", lens[k]);
		cr_assert_eq(dst[lens[k]], 0, "byte after, len %zu", lens[k]);
		cr_assert_eq(b.bytes - a.bytes, lens[k]);
		cr_assert_eq(b.fences, a.fences, "nodrain drained");
		if (lens[k] < 256) /* small copies: memcpy + line flushes */
			cr_assert_eq(b.flushes - a.flushes,
				     (3 + lens[k] + 63) / 64);
	}
	pmio_close(p);
	tu_rmimg(img);
}

static void *thread_fences(void *arg)
{
	struct pmio *p = arg;

	for (int i = 0; i < 3; i++)
		pmio_drain(p);
	cr_assert_eq(pmio_stats_thread().fences, 3);
	return NULL;
}

Test(pmemio, totals_keep_exited_threads)
{
	char *img = tu_tmpimg(MIB);
	struct pmio *p = open_ok(img, 0);
	struct pmio_stats t0, t1, mine0;
	pthread_t th;

	pmio_drain(p);
	t0 = pmio_stats_total();
	mine0 = pmio_stats_thread();
	cr_assert_geq(t0.fences, mine0.fences);
	cr_assert_eq(pthread_create(&th, NULL, thread_fences, p), 0);
	cr_assert_eq(pthread_join(th, NULL), 0);
	t1 = pmio_stats_total();
	cr_assert_eq(t1.fences - t0.fences, 3);
	cr_assert_eq(pmio_stats_thread().fences, mine0.fences,
		     "another thread's fences counted here");
	pmio_close(p);
	tu_rmimg(img);
}

/* In a child without root powers: 0 = results as expected, else a code. */
static int rdonly_child(const char *img)
{
	struct pmio_opts rw = { .flags = PMIO_O_QUIET, .min_size = 0 };
	struct pmio_opts ro = { .flags = PMIO_O_QUIET | PMIO_O_RDONLY,
				.min_size = 0 };
	struct pmio *p = NULL;
	char err[256] = "";

	if (getuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
		return 10;
	if (pmio_open(img, &rw, &p, err, sizeof(err)) != -EACCES)
		return 11;
	if (!err[0] || strchr(err, '\n') || !strstr(err, img))
		return 12;
	if (pmio_open(img, &ro, &p, err, sizeof(err)) != 0)
		return 13;
	if (pmio_size(p) != MIB || ((volatile uint8_t *)pmio_base(p))[0] != 0)
		return 14;
	if (pmio_set_writable(p, true) != -EROFS) /* opened read-only */
		return 15;
	pmio_close(p);
	ro.flags |= PMIO_O_UPGRADE; /* no write permission: read-only */
	if (pmio_open(img, &ro, &p, err, sizeof(err)) != 0)
		return 16;
	if (pmio_set_writable(p, true) != -EROFS)
		return 17;
	pmio_close(p);
	return 0;
}

#define FAULTED 99

static void fault_exit(int sig)
{
	(void)sig;
	_exit(FAULTED);
}

/* A store to p's mapping, in a child: SIGSEGV if it faulted, or 0.  The
 * child catches the fault itself (a sanitizer's handler would report it
 * as an error instead). */
static int store_signal(struct pmio *p)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = fault_exit };

		sigaction(SIGSEGV, &sa, NULL);
		((volatile uint8_t *)pmio_base(p))[1] = 7;
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "the child died of signal %d", WTERMSIG(st));
	return WEXITSTATUS(st) == FAULTED ? SIGSEGV : WEXITSTATUS(st);
}

/* PMIO_O_UPGRADE: a read-only mapping made writable and read-only again
 * (remount); stores fault while it is read-only. */
Test(pmemio, read_only_upgrade)
{
	char *img = tu_tmpimg(MIB);
	struct pmio *p = open_ok(img, PMIO_O_RDONLY | PMIO_O_UPGRADE);
	volatile uint8_t *b = pmio_base(p);

	cr_assert_eq(store_signal(p), SIGSEGV);
	cr_assert_eq(pmio_set_writable(p, true), 0);
	cr_assert_eq(pmio_set_writable(p, true), 0);
	b[0] = 5;
	pmio_persist(p, (const void *)b, 1);
	cr_assert_eq(store_signal(p), 0);
	cr_assert_eq(pmio_set_writable(p, false), 0);
	cr_assert_eq(store_signal(p), SIGSEGV);
	cr_assert_eq(b[0], 5);
	pmio_close(p);
	p = open_ok(img, PMIO_O_RDONLY);
	cr_assert_eq(((volatile uint8_t *)pmio_base(p))[0], 5);
	cr_assert_eq(pmio_set_writable(p, true), -EROFS);
	pmio_close(p);
	tu_rmimg(img);
}

Test(pmemio, read_only)
{
	char *img = tu_tmpimg(MIB);
	pid_t pid;
	int st;

	cr_assert_eq(chmod(img, 0444), 0);
	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(rdonly_child(img));
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st), "child died");
	cr_assert_eq(WEXITSTATUS(st), 0, "child step %d failed",
		     WEXITSTATUS(st));
	tu_rmimg(img);
}

/* Resident pages of [off, off+len) of p's mapping. */
static size_t resident_pages(struct pmio *p, uint64_t off, uint64_t len)
{
	long ps = sysconf(_SC_PAGESIZE);
	size_t n = (size_t)(len / (uint64_t)ps), r = 0;
	unsigned char *vec = malloc(n);

	cr_assert_eq(mincore((uint8_t *)pmio_base(p) + off, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r;
}

/* pmio_prefault makes a sparse file's pages present, stores nothing and
 * counts no flush or fence; read-only and recording mappings are left
 * alone; a range past the end is clipped. */
Test(pmemio, prefault)
{
	char *img = tu_tmpimg(4 * MIB);
	struct pmio *p = open_ok(img, 0);
	struct pmio_stats s0 = pmio_stats_thread(), s1;
	uint8_t *b = pmio_base(p);

	cr_assert_eq(resident_pages(p, MIB, MIB), 0, "not a sparse file");
	cr_assert_eq(pmio_prefault(p, MIB + 100, MIB - 200), 0);
	s1 = pmio_stats_thread();
	cr_assert_eq(resident_pages(p, MIB, MIB), MIB / sysconf(_SC_PAGESIZE));
	for (size_t i = MIB; i < 2 * MIB; i++)
		cr_assert_eq(b[i], 0, "byte %zu changed", i);
	cr_assert_eq(s1.fences, s0.fences);
	cr_assert_eq(s1.flushes, s0.flushes);
	cr_assert_eq(pmio_prefault(p, 3 * MIB, 8 * MIB), 0); /* clipped */
	cr_assert_eq(pmio_prefault(p, 9 * MIB, MIB), 0);     /* past the end */
	pmio_close(p);
	p = open_ok(img, PMIO_O_RDONLY);
	cr_assert_eq(pmio_prefault(p, 0, 4 * MIB), 0);
	pmio_close(p);
	tu_rmimg(img);
}

Test(pmemio, exclusive_lock)
{
	char *img = tu_tmpimg(MIB);
	struct pmio *p1 = open_ok(img, PMIO_O_EXCL);
	struct pmio *p2;
	char err[256] = "";

	open_fails(img, PMIO_O_EXCL, 0, -EBUSY, err, sizeof(err));
	cr_assert(strstr(err, "is in use (mounted?)") != NULL, "%s", err);
	/* Without EXCL the lock is not asked for. */
	p2 = open_ok(img, 0);
	pmio_close(p2);
	pmio_close(p1);
	p2 = open_ok(img, PMIO_O_EXCL);
	pmio_close(p2);
	tu_rmimg(img);
}

Test(pmemio, refuses_directory)
{
	char *dir = tu_tmpdir();
	char err[256] = "";

	open_fails(dir, 0, 0, -EISDIR, err, sizeof(err));
	tu_rmtree(dir);
}

Test(pmemio, refuses_non_dax_char_device)
{
	char err[256] = "";

	open_fails("/dev/null", 0, 0, -ENODEV, err, sizeof(err));
	cr_assert(strstr(err, "dax") != NULL, "%s", err);
}

Test(pmemio, refuses_missing)
{
	char err[256] = "";

	open_fails("/dev/shm/pmfs-test-does-not-exist", 0, 0, -ENOENT, err,
		   sizeof(err));
}

Test(pmemio, refuses_too_small)
{
	char *img = tu_tmpimg(64 * 1024);
	char *empty = tu_tmpimg(0);
	char err[256] = "";

	open_fails(img, 0, MIB, -EINVAL, err, sizeof(err));
	cr_assert(strstr(err, "too small") != NULL, "%s", err);
	open_fails(empty, 0, 0, -EINVAL, err, sizeof(err));
	cr_assert(strstr(err, "empty") != NULL, "%s", err);
	tu_rmimg(img);
	tu_rmimg(empty);
}

Test(pmemio, refuses_bad_arguments)
{
	struct pmio *p = NULL;
	char err[128] = "";

	cr_assert_eq(pmio_open(NULL, NULL, &p, err, sizeof(err)), -EINVAL);
	cr_assert(err[0] != '\0');
	cr_assert_eq(pmio_open("", NULL, &p, NULL, 0), -EINVAL);
	cr_assert_eq(pmio_open("/dev/null", NULL, NULL, err, sizeof(err)),
		     -EINVAL);
}

Test(pmemio, refuses_block_device)
{
	char *img = tu_tmpimg(MIB);
	char *const setup[] = { "/usr/sbin/losetup", "-f", "--show", img,
				NULL };
	char dev[128] = "", err[512] = "";
	char *nl;

	if (tu_run(setup, dev, sizeof(dev), NULL, 0) != 0 || !dev[0]) {
		tu_rmimg(img);
		cr_skip_test("losetup cannot attach a loop device here");
	}
	nl = strchr(dev, '\n');
	if (nl)
		*nl = '\0';
	{
		struct pmio_opts o = { .flags = PMIO_O_QUIET, .min_size = 0 };
		char *const detach[] = { "/usr/sbin/losetup", "-d", dev,
					 NULL };
		struct pmio *p = NULL;
		int ret = pmio_open(dev, &o, &p, err, sizeof(err));

		/* Detach before asserting, so a failure leaves no device. */
		if (p)
			pmio_close(p);
		tu_run(detach, NULL, 0, NULL, 0);
		cr_assert_eq(ret, -EINVAL, "%d %s", ret, err);
		cr_assert_null(p);
	}
	assert_msg(err, dev);
	cr_assert(strstr(err, "-o dax") != NULL, "%s", err);
	cr_assert(strstr(err, "devdax") != NULL, "%s", err);
	tu_rmimg(img);
}

/* pmemio.c tells the recorder of every flush path and every drain. */
Test(pmemio, record_hooks)
{
	char *img = tu_tmpimg(MIB);
	struct pmio *p = open_ok(img, PMIO_O_RECORD | PMIO_O_FORCE_CL);
	uint8_t *base = pmio_base(p);
	uint8_t src[4096];
	uint64_t first = 0;

	memset(src, 0x3c, sizeof(src));
	cr_assert_eq(pmio_rec_fences(p), 0);
	pmio_commit64(p, (uint64_t *)(base + 64), 1);
	pmio_memset_nodrain(p, base + 1024, 9, 100);
	pmio_memcpy_nodrain(p, base + 8192, src, sizeof(src)); /* bulk */
	pmio_memcpy_nodrain(p, base + 20480, src, 40);          /* small */
	memset(base + 24576, 1, 64);
	pmio_persist(p, base + 24576, 64);
	cr_assert_eq(pmio_rec_fences(p), 1);
	cr_assert_eq(pmio_rec_unflushed(p, NULL), 0, "a flush path was not "
						      "reported");
	/* A store with no flush before the drain is caught. */
	base[32768] = 1;
	pmio_drain(p);
	cr_assert_eq(pmio_rec_fences(p), 2);
	cr_assert_eq(pmio_rec_unflushed(p, &first), 1);
	cr_assert_eq(first, 32768);
	pmio_close(p);
	tu_rmimg(img);
}
