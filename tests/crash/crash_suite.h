/*
 * crash_suite.h - what the crash suites share: one Criterion test per
 * workload, run with the bounded options (make check) in one or more
 * check modes (harness.h), asserting that the workload ran and that no
 * crash image failed.  The harness and the
 * workloads are linked in as objects (crash.mk, CRASH_OBJS).
 */
#ifndef PMFS_TESTS_CRASH_SUITE_H
#define PMFS_TESTS_CRASH_SUITE_H

#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdlib.h>

#include "harness.h"

/* Run workload `name` bounded in `modes` (CH_M(...) bits); *res filled;
 * asserts it ran. */
static inline void cs_run_modes(const char *name, const char *seed,
				unsigned modes, struct ch_result *res)
{
	const struct ch_workload *w = ch_find(name);
	struct ch_opts o;
	int r;

	if (!getenv("PMFS_BUILD"))
		setenv("PMFS_BUILD", "build", 1);
	cr_assert_not_null(w, "no workload %s", name);
	ch_opts_bounded(&o);
	o.modes = modes;
	o.seed = seed;
	if (seed)
		o.quiet = true;
	r = ch_run_workload(w, &o, res);
	cr_assert_eq(r, 0, "workload %s did not run: %s", name, res->first);
	cr_assert_gt(res->images, 0, "%s: no crash image was tested", name);
	cr_assert_eq(res->points, res->fences + 1,
		     "%s: %" PRIu64 " crash points for %" PRIu64 " fences",
		     name, res->points, res->fences);
}

/* Run workload `name` bounded, recovery by mount. */
static inline void cs_run(const char *name, const char *seed,
			  struct ch_result *res)
{
	cs_run_modes(name, seed, CH_M(CH_MODE_MOUNT), res);
}

/* The workload passes in `modes`: every crash image recovers to a right
 * state. */
static inline void cs_pass_modes(const char *name, unsigned modes)
{
	struct ch_result res;

	cs_run_modes(name, NULL, modes, &res);
	cr_assert_eq(res.failures, 0,
		     "%s: %" PRIu64 " of %" PRIu64 " crash images failed; "
		     "first: %s", name, res.failures, res.images, res.first);
}

/* ... recovery by mount. */
static inline void cs_pass(const char *name)
{
	cs_pass_modes(name, CH_M(CH_MODE_MOUNT));
}

#define CRASH_TEST(suite, id, name)                                            \
	Test(suite, id, .timeout = 600)                                        \
	{                                                                      \
		cs_pass(name);                                                 \
	}

#endif /* PMFS_TESTS_CRASH_SUITE_H */
