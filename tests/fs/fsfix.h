/*
 * fsfix.h - fixture shared by the tests/fs suites: a fresh mkfs.pmfs image
 * on /dev/shm mapped with forced cache-line granularity, mounted with
 * fs_mount_pmio; remount (clean) and crash (abandon) helpers.
 */
#ifndef PMFS_TESTS_FSFIX_H
#define PMFS_TESTS_FSFIX_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/fs.h"
#include "pmemio/pmemio.h"
#include "testutil.h"

static char *fx_path __attribute__((unused));
static struct pmio *fx_p;
static struct fs *fx_fs;
static struct fs_mount_info fx_mi;
static const struct fs_ctx fx_ctx = { .uid = 1000, .gid = 1000 };

static inline void fx_open(void)
{
	struct pmio_opts o = { .flags = PMIO_O_QUIET | PMIO_O_FORCE_CL };

	cr_assert_eq(pmio_open(fx_path, &o, &fx_p, NULL, 0), 0);
}

static inline void fx_mount_flags(unsigned flags)
{
	struct fs_opts fo = { .flags = flags };
	char err[256] = "";
	int r;

	fx_open();
	r = fs_mount_pmio(fx_p, &fo, &fx_fs, &fx_mi, err, sizeof(err));
	cr_assert_eq(r, 0, "mount: %d %s", r, err);
}

static inline void fx_setup_size(const char *size)
{
	char err[1024];
	int r;

	fx_path = tu_tmpimg(0);
	{
		char *av[] = { (char *)tu_tool("mkfs.pmfs"), "--size",
			       (char *)size, "-f", fx_path, NULL };

		r = tu_run(av, NULL, 0, err, sizeof(err));
	}
	cr_assert_eq(r, 0, "mkfs failed: %s", err);
	fx_mount_flags(0);
}

static inline void fx_setup(void)
{
	fx_setup_size("16M");
}

static inline void fx_teardown(void)
{
	if (fx_fs)
		fs_unmount(fx_fs);
	fx_fs = NULL;
	if (fx_p)
		pmio_close(fx_p);
	fx_p = NULL;
	tu_rmimg(fx_path);
	fx_path = NULL;
}

/* Clean unmount and mount again. */
static inline void fx_remount(void)
{
	cr_assert_eq(fs_unmount(fx_fs), 0);
	fx_fs = NULL;
	pmio_close(fx_p);
	fx_p = NULL;
	fx_mount_flags(0);
	cr_assert(fx_mi.was_clean);
}

/* Simulated crash: drop DRAM state, mount again (recovery). */
static inline void fx_crash(void)
{
	fs_abandon(fx_fs);
	fx_fs = NULL;
	pmio_close(fx_p);
	fx_p = NULL;
	fx_mount_flags(0);
	cr_assert(!fx_mi.was_clean);
}

static inline uint64_t fx_fences(void)
{
	return pmio_stats_thread().fences;
}

#endif /* PMFS_TESTS_FSFIX_H */
