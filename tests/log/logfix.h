/*
 * logfix.h - fixture for the tests/log suites: a mkfs.pmfs image on
 * /dev/shm, its ilog_dev view and a rebuilt-empty allocator over its data
 * area (the blocks mkfs used are marked by walking inodes 1 and 2).
 */
#ifndef PMFS_TESTS_LOGFIX_H
#define PMFS_TESTS_LOGFIX_H

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"
#include "format/fmt.h"
#include "log/log.h"
#include "pmemio/pmemio.h"
#include "testutil.h"

static char *lx_path __attribute__((unused));
static struct pmio *lx_p;
static struct ilog_dev lx_d;
static struct alloc *lx_a;

static inline int lx_mark(void *arg, uint64_t off)
{
	return alloc_mark_used(arg, fmt_off_blk(off), 1);
}

static inline void lx_setup(void)
{
	struct pmio_opts o = { .flags = PMIO_O_QUIET | PMIO_O_FORCE_CL };
	char err[512];
	int r;

	lx_path = tu_tmpimg(0);
	{
		char *av[] = { (char *)tu_tool("mkfs.pmfs"), "--size", "16M",
			       "-f", lx_path, NULL };

		r = tu_run(av, NULL, 0, err, sizeof(err));
	}
	cr_assert_eq(r, 0, "mkfs: %s", err);
	cr_assert_eq(pmio_open(lx_path, &o, &lx_p, NULL, 0), 0);
	cr_assert_eq(ilog_dev_init(&lx_d, lx_p, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(alloc_create(NULL, NULL, lx_d.data_start,
				  lx_d.total_blocks, lx_d.nlanes, false, &lx_a),
		     0);
	cr_assert_eq(alloc_mark_used(lx_a, lx_d.itdir[0], PMFS_CHUNK_BLOCKS), 0);
	for (uint64_t ino = 1; ino <= 2; ino++) {
		struct pmfs_inode *s = ilog_slot(&lx_d, ino);

		cr_assert_eq(ilog_walk(&lx_d, ino, s->head, s->tail, NULL,
				       lx_mark, lx_a, false, NULL), 0);
	}
}

static inline void lx_teardown(void)
{
	alloc_destroy(lx_a);
	pmio_close(lx_p);
	tu_rmimg(lx_path);
}

#endif /* PMFS_TESTS_LOGFIX_H */
