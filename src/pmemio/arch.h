/*
 * arch.h - private to src/pmemio: the per-architecture flush and drain
 * table.  Each architecture file (arch_x86_64.c, arch_aarch64.c,
 * arch_ppc64.c) fills one table at start-up from what the CPU reports
 * (CPUID, AT_HWCAP, AT_HWCAP2); other architectures refuse to build.
 *
 * flush: write back every cache line touching [addr, addr+len); must not
 *        wait for completion.
 * drain: wait until every flush issued earlier by this thread has reached
 *        the persistence domain, and order later stores after it.
 * memcpy_nt: optional bulk copy with non-temporal stores (no flush needed
 *        for the bytes it wrote, still needs a drain); NULL when the
 *        architecture has none that pmfs trusts.
 */
#ifndef PMFS_PMEMIO_ARCH_H
#define PMFS_PMEMIO_ARCH_H

#include <stddef.h>

struct pmio_arch {
	const char *name; /* e.g. "clwb+sfence" */
	unsigned line;    /* flush stride in bytes: 64 on x86-64, CTR_EL0
			   * DminLine on aarch64 (set at start-up), 128 on
			   * POWER */
	void (*flush)(const void *addr, size_t len);
	void (*drain)(void);
	void (*memcpy_nt)(void *dst, const void *src, size_t len);
};

/* Every table this architecture compiled in, best first; NULL-terminated. */
extern const struct pmio_arch *const pmio_arch_tables[];
/* Short names (PMFS_FLUSH values), parallel to pmio_arch_tables[]. */
extern const char *const pmio_arch_keys[];
/* Non-zero when this CPU has the instructions table t uses. */
int pmio_arch_cpu_has(const struct pmio_arch *t);
/* The table for `want` (a PMFS_FLUSH value, or NULL = best): not cached. */
const struct pmio_arch *pmio_arch_select(const char *want);
/* The table for this CPU (detected once, thread-safe; PMFS_FLUSH honoured). */
const struct pmio_arch *pmio_arch_detect(void);

#endif /* PMFS_PMEMIO_ARCH_H */
