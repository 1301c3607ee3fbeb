/*
 * test_crash_seed.c - the mutation test: with each seeded bug (seed.h)
 * active the harness must report failing crash images, and without one
 * the same workloads must pass.  Every seed must fire (its hook changed
 * behaviour at least once) and be caught.  A seed counts from the first
 * operation after the recorded mount; N is tried from 1 up, since which
 * fence or flush matters depends on the core's protocol.
 */
#include "crash_suite.h"

#include <errno.h>
#include <stdio.h>

#include "seed.h"

#define SEED_MAX_N 4

/* Failures over N = 1..SEED_MAX_N of seed `kind` on workload `name`. */
static uint64_t seeded_failures(const char *kind, const char *name,
				unsigned long *hits)
{
	uint64_t fails = 0;
	char spec[64];

	*hits = 0;
	for (int n = 1; n <= SEED_MAX_N; n++) {
		struct ch_result res;

		snprintf(spec, sizeof(spec), "%s:%d", kind, n);
		cs_run(name, spec, &res);
		fprintf(stderr, "crash: seed %s on %s: images %" PRIu64
			", failures %" PRIu64 "\n", spec, name, res.images,
			res.failures);
		fails += res.failures;
		*hits += res.seed_hits;
	}
	return fails;
}

static void mutation(const char *kind, const char *name)
{
	unsigned long hits;
	uint64_t fails = seeded_failures(kind, name, &hits);

	cr_assert_gt(hits, 0, "seed %s never fired on %s", kind, name);
	cr_assert_gt(fails, 0, "seed %s on %s: the harness found nothing",
		     kind, name);
}

Test(seed, spec_parsing)
{
	cr_assert_eq(pmio_seed_arm("drop-fence:2"), 0);
	cr_assert_eq(pmio_seed_on, 1);
	pmio_seed_disarm();
	cr_assert_eq(pmio_seed_on, 0);
	cr_assert_eq(pmio_seed_arm("drop-fence:0"), -EINVAL);
	cr_assert_eq(pmio_seed_arm("drop-fence"), -EINVAL);
	cr_assert_eq(pmio_seed_arm("no-such:1"), -EINVAL);
	cr_assert_eq(pmio_seed_arm("skip-flush:1x"), -EINVAL);
	cr_assert_eq(pmio_seed_on, 0);
}

/* Controls: the workloads the mutations use pass unseeded. */
Test(seed, control_write, .timeout = 600)
{
	cs_pass("write-overwrite");
}

Test(seed, control_rename, .timeout = 600)
{
	cs_pass("rename-across");
}

Test(seed, drop_fence_write, .timeout = 600)
{
	mutation("drop-fence", "write-overwrite");
}

Test(seed, drop_fence_rename, .timeout = 600)
{
	mutation("drop-fence", "rename-across");
}

Test(seed, skip_flush_write, .timeout = 600)
{
	mutation("skip-flush", "write-overwrite");
}

Test(seed, skip_flush_rename, .timeout = 600)
{
	mutation("skip-flush", "rename-across");
}

Test(seed, early_commit_write, .timeout = 600)
{
	mutation("early-commit", "write-overwrite");
}

Test(seed, early_commit_rename, .timeout = 600)
{
	mutation("early-commit", "rename-across");
}

/* The core's hook (seed.h, dentry-in-place, fs_namei.c) must fire. */
Test(seed, dentry_in_place_rename, .timeout = 600)
{
	mutation("dentry-in-place", "rename-across");
}
