/*
 * test_crash_fsck.c - fsck.pmfs as the recovery path (bounded: make
 * check): for every workload, a sample of each crash point's images gets
 * fsck.pmfs -y (fsck::y) or -p (fsck::p) on the raw image before any
 * mount; fsck must exit 0 or 1, a second fsck.pmfs -f -n must exit 0, and
 * the mount after it must show what recovery by mount would: the
 * interrupted operation all or nothing, everything completed present
 * (harness.h, fsck-first modes).  One test per workload and mode; each
 * prints "crash: <workload>: ... (fsck-y I/X)".
 */
#include "crash_suite.h"

#include <criterion/parameterized.h>

#define CS_MAX_WORKLOADS 128

/* Every workload, by its index in ch_workloads. */
static struct criterion_test_params every_workload(void)
{
	static size_t idx[CS_MAX_WORKLOADS];
	size_t n = ch_nworkloads < CS_MAX_WORKLOADS ? ch_nworkloads
						    : CS_MAX_WORKLOADS;

	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	return cr_make_param_array(size_t, idx, n);
}

Test(fsck, every_workload_has_a_test)
{
	cr_assert_leq(ch_nworkloads, CS_MAX_WORKLOADS,
		      "raise CS_MAX_WORKLOADS to %zu", ch_nworkloads);
}

ParameterizedTestParameters(fsck, y)
{
	return every_workload();
}

ParameterizedTest(size_t *i, fsck, y, .timeout = 600)
{
	cs_pass_modes(ch_workloads[*i].name, CH_M(CH_MODE_FSCK_Y));
}

ParameterizedTestParameters(fsck, p)
{
	return every_workload();
}

ParameterizedTest(size_t *i, fsck, p, .timeout = 600)
{
	cs_pass_modes(ch_workloads[*i].name, CH_M(CH_MODE_FSCK_P));
}
