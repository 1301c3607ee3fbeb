/*
 * arch.c - choosing the flush and drain table for this CPU.
 *
 * The architecture files (arch_x86_64.c, arch_aarch64.c, arch_ppc64.c)
 * each compile in a best-first list of tables, pmio_arch_tables[], a
 * parallel list of short names, pmio_arch_keys[], and
 * pmio_arch_cpu_has(), which asks the CPU (CPUID, AT_HWCAP, AT_HWCAP2)
 * whether a table can run.  Detection takes the first table the CPU has,
 * once per process (pthread_once).  The environment variable PMFS_FLUSH
 * (x86-64: clwb|clflushopt|clflush; aarch64: cvap|cvac; ppc64le: p10|p9)
 * selects a lesser table for tests and benchmarks; a value the CPU lacks
 * or does not know is ignored with a one-line warning.  Any other
 * architecture refuses to build.
 */
#if !defined(__x86_64__) && !defined(__aarch64__) && \
	!(defined(__powerpc64__) && defined(__LITTLE_ENDIAN__))
#error "pmfs: no flush/drain support for this architecture (x86-64, aarch64, ppc64le only)"
#endif

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmemio/arch.h"

/* Pick the best table the CPU has, or the one `want` names if it has it. */
const struct pmio_arch *pmio_arch_select(const char *want)
{
	const struct pmio_arch *best = NULL;
	size_t i;

	for (i = 0; pmio_arch_tables[i]; i++) {
		if (pmio_arch_cpu_has(pmio_arch_tables[i])) {
			best = pmio_arch_tables[i];
			break;
		}
	}
	if (!best) /* cannot happen: the last table is the baseline */
		best = pmio_arch_tables[i - 1];
	if (!want || !*want)
		return best;
	for (i = 0; pmio_arch_tables[i]; i++) {
		if (strcmp(want, pmio_arch_keys[i]) != 0)
			continue;
		if (pmio_arch_cpu_has(pmio_arch_tables[i]))
			return pmio_arch_tables[i];
		fprintf(stderr, "pmfs: PMFS_FLUSH=%s: this CPU lacks it, using %s\n",
			want, best->name);
		return best;
	}
	fprintf(stderr, "pmfs: PMFS_FLUSH=%s: unknown on this architecture, using %s\n",
		want, best->name);
	return best;
}

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static const struct pmio_arch *detected;

/* pthread_once body: read PMFS_FLUSH and choose. */
static void detect_init(void)
{
	detected = pmio_arch_select(getenv("PMFS_FLUSH"));
}

/* The table for this CPU, chosen on the first call (thread-safe). */
const struct pmio_arch *pmio_arch_detect(void)
{
	pthread_once(&detect_once, detect_init);
	return detected;
}
