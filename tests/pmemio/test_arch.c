/*
 * test_arch.c - pins the per-architecture flush/drain choice (arch.c and
 * arch_<arch>.c): detection picks what the CPU reports (here: CPUID on
 * x86-64, AT_HWCAP/AT_HWCAP2 elsewhere), every table the CPU supports
 * flushes any alignment and length without touching bytes outside the
 * range, the non-temporal copy is exact, and PMFS_FLUSH selects a lesser
 * table or is refused with a one-line warning.
 *
 * Tests that set PMFS_FLUSH rely on Criterion running each test in its own
 * process (its default), since detection happens once per process.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <cpuid.h>
#else
#include <sys/auxv.h>
#endif

#include "pmemio/arch.h"

/* What the rules of DESIGN.md say this CPU must get, asked independently. */
static const char *expected_best(void)
{
#if defined(__x86_64__)
	unsigned a, b, c, d;

	if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
		if (b & (1u << 24))
			return "clwb+sfence";
		if (b & (1u << 23))
			return "clflushopt+sfence";
	}
	return "clflush+sfence";
#elif defined(__aarch64__)
	return (getauxval(AT_HWCAP) & (1UL << 16)) ? "dc cvap+dsb" : "dc cvac+dsb";
#else
	return (getauxval(AT_HWCAP2) & 0x00040000) ? "dcbstps+phwsync" : "dcbf+hwsync";
#endif
}

/* Index of the table whose PMFS_FLUSH key is `key`, or -1. */
static int key_index(const char *key)
{
	for (int i = 0; pmio_arch_tables[i]; i++)
		if (strcmp(pmio_arch_keys[i], key) == 0)
			return i;
	return -1;
}

Test(arch, tables_are_complete)
{
	int n = 0;

	for (int i = 0; pmio_arch_tables[i]; i++, n++) {
		const struct pmio_arch *t = pmio_arch_tables[i];

		cr_assert_not_null(t->name);
		cr_assert_not_null(pmio_arch_keys[i], "table %s has no key", t->name);
		cr_assert_not_null(t->flush, "%s", t->name);
		cr_assert_not_null(t->drain, "%s", t->name);
		cr_assert(t->line >= 16 && (t->line & (t->line - 1)) == 0,
			  "%s: line %u", t->name, t->line);
	}
	cr_assert(n >= 2, "only %d tables", n);
	cr_assert_null(pmio_arch_keys[n], "keys and tables differ in length");
	/* the last table is the baseline every CPU of the architecture has */
	cr_assert(pmio_arch_cpu_has(pmio_arch_tables[n - 1]));
}

#if defined(__x86_64__)
Test(arch, x86_rules)
{
	cr_assert_eq(key_index("clwb"), 0);
	cr_assert_eq(key_index("clflushopt"), 1);
	cr_assert_eq(key_index("clflush"), 2);
	for (int i = 0; pmio_arch_tables[i]; i++) {
		cr_assert_eq(pmio_arch_tables[i]->line, 64u);
		cr_assert_not_null(pmio_arch_tables[i]->memcpy_nt, "x86 has NT copies");
		/* every x86 table drains with the same SFENCE */
		cr_assert_eq(pmio_arch_tables[i]->drain, pmio_arch_tables[0]->drain);
	}
}
#endif

Test(arch, detection_follows_cpu)
{
	unsetenv("PMFS_FLUSH");
	const struct pmio_arch *t = pmio_arch_detect();

	cr_assert_not_null(t);
	cr_assert_str_eq(t->name, expected_best());
	cr_assert_eq(pmio_arch_select(NULL), t);
	cr_assert(pmio_arch_cpu_has(t));
}

#if defined(__x86_64__)
/* This machine's CPUID reports CLWB (see the brief); pin it explicitly. */
Test(arch, this_cpu_has_clwb)
{
	unsigned a, b, c, d;

	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 24)))
		cr_skip_test("CPU without CLWB: detection_follows_cpu covers it");
	unsetenv("PMFS_FLUSH");
	cr_assert_str_eq(pmio_arch_detect()->name, "clwb+sfence");
}
#endif

static void *detect_thread(void *arg)
{
	(void)arg;
	return (void *)pmio_arch_detect();
}

Test(arch, detection_once_across_threads)
{
	pthread_t th[8];
	void *r[8];

	unsetenv("PMFS_FLUSH");
	for (int i = 0; i < 8; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, detect_thread, NULL), 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(pthread_join(th[i], &r[i]), 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(r[i], (void *)pmio_arch_detect());
}

/*
 * Flush [end-len, end) for many lengths and alignments, where `end` is the
 * end of a mapping followed by an unmapped page: a flush that strays past
 * the range faults.  The bytes must read back unchanged.
 */
static void flush_all_shapes(const struct pmio_arch *t)
{
	static const size_t lens[] = { 0, 1, 63, 64, 65, 127, 128, 129, 4096 };
	long pg = sysconf(_SC_PAGESIZE);
	size_t map = 4 * (size_t)pg + 8192;
	unsigned char *m = mmap(NULL, map + (size_t)pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(m, MAP_FAILED);
	cr_assert_eq(munmap(m + map, (size_t)pg), 0); /* guard after the end */
	for (size_t i = 0; i < map; i++)
		m[i] = (unsigned char)(i * 7 + 3);
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		for (size_t mis = 0; mis < 2 * t->line; mis += 1 + mis / 2) {
			/* ends at the guard, starting misaligned by `mis` */
			unsigned char *p = m + map - lens[l] - mis;

			t->flush(p + mis, lens[l]);
			t->flush(p, lens[l]);
			/* start of the mapping: must not reach below it */
			t->flush(m + mis % 64, lens[l]);
		}
	}
	/* ORDER: only here to check the drain runs after flushes */
	t->drain();
	t->drain(); /* a drain with nothing pending is harmless too */
	for (size_t i = 0; i < map; i++)
		cr_assert_eq(m[i], (unsigned char)(i * 7 + 3), "byte %zu changed", i);
	cr_assert_eq(munmap(m, map), 0);
}

Test(arch, every_supported_table_flushes)
{
	int ran = 0;

	for (int i = 0; pmio_arch_tables[i]; i++) {
		if (!pmio_arch_cpu_has(pmio_arch_tables[i]))
			continue;
		flush_all_shapes(pmio_arch_tables[i]);
		ran++;
	}
	cr_assert(ran >= 1);
}

/* Copy with t->memcpy_nt for many alignments and lengths; canaries around. */
static void nt_copy_all_shapes(const struct pmio_arch *t)
{
	static const size_t lens[] = { 0, 1, 15, 16, 63, 64, 65, 127, 128,
				       191, 256, 1000, 4096, 4097, 9000 };
	size_t cap = 9000 + 256;
	unsigned char *src = malloc(cap), *dst = malloc(cap);

	cr_assert(src && dst);
	for (size_t i = 0; i < cap; i++)
		src[i] = (unsigned char)(i * 13 + 1);
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
		for (size_t da = 0; da < 70; da += 23) {
			for (size_t sa = 0; sa < 70; sa += 29) {
				memset(dst, 0xa5, cap);
				t->memcpy_nt(dst + 64 + da, src + sa, lens[l]);
				/* ORDER: NT stores complete before the checks */
				t->drain();
				for (size_t i = 0; i < cap; i++) {
					size_t o = 64 + da;
					unsigned char want = (i >= o && i < o + lens[l]) ?
						src[sa + i - o] : 0xa5;

					cr_assert_eq(dst[i], want,
						     "%s len %zu da %zu sa %zu byte %zu",
						     t->name, lens[l], da, sa, i);
				}
			}
		}
	}
	free(src);
	free(dst);
}

Test(arch, memcpy_nt_exact)
{
	int ran = 0;

	for (int i = 0; pmio_arch_tables[i]; i++) {
		if (!pmio_arch_cpu_has(pmio_arch_tables[i]) ||
		    !pmio_arch_tables[i]->memcpy_nt)
			continue;
		nt_copy_all_shapes(pmio_arch_tables[i]);
		ran++;
	}
#if defined(__x86_64__)
	cr_assert(ran >= 1, "x86-64 must offer an NT copy");
#endif
}

Test(arch, select_each_supported_key)
{
	for (int i = 0; pmio_arch_tables[i]; i++) {
		const struct pmio_arch *t = pmio_arch_select(pmio_arch_keys[i]);

		if (pmio_arch_cpu_has(pmio_arch_tables[i]))
			cr_assert_eq(t, pmio_arch_tables[i], "%s", pmio_arch_keys[i]);
		else
			cr_assert_str_eq(t->name, expected_best());
	}
}

Test(arch, env_override_lesser_table)
{
	int last = 0;

	while (pmio_arch_tables[last + 1])
		last++;
	cr_assert_eq(setenv("PMFS_FLUSH", pmio_arch_keys[last], 1), 0);
	cr_assert_eq(pmio_arch_detect(), pmio_arch_tables[last]);
	/* detection is once per process: later changes do not apply */
	cr_assert_eq(setenv("PMFS_FLUSH", pmio_arch_keys[0], 1), 0);
	cr_assert_eq(pmio_arch_detect(), pmio_arch_tables[last]);
}

#if defined(__x86_64__)
Test(arch, env_override_clflushopt)
{
	if (!pmio_arch_cpu_has(pmio_arch_tables[1]))
		cr_skip_test("CPU without CLFLUSHOPT");
	cr_assert_eq(setenv("PMFS_FLUSH", "clflushopt", 1), 0);
	cr_assert_str_eq(pmio_arch_detect()->name, "clflushopt+sfence");
}
#endif

Test(arch, env_override_unknown_warns, .init = cr_redirect_stderr)
{
	char want[160];

	cr_assert_eq(setenv("PMFS_FLUSH", "bogus", 1), 0);
	cr_assert_str_eq(pmio_arch_detect()->name, expected_best());
	fflush(stderr);
	snprintf(want, sizeof(want),
		 "pmfs: PMFS_FLUSH=bogus: unknown on this architecture, using %s\n",
		 expected_best());
	cr_assert_stderr_eq_str(want);
}

Test(arch, env_override_empty_is_default, .init = cr_redirect_stderr)
{
	cr_assert_eq(setenv("PMFS_FLUSH", "", 1), 0);
	cr_assert_str_eq(pmio_arch_detect()->name, expected_best());
	fflush(stderr);
	cr_assert_stderr_eq_str("");
}
