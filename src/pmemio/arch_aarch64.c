/*
 * arch_aarch64.c - the aarch64 flush and drain tables.
 *
 * Two tables, best first: DC CVAP (clean to the point of persistence,
 * ARMv8.2 DCPOP, chosen when getauxval(AT_HWCAP) has HWCAP_DCPOP) and
 * DC CVAC (clean to the point of coherency, every ARMv8 CPU).  Both drain
 * with DSB SY, as Linux's dcache_clean_pop does before it reports memory
 * persistent: only a DSB waits for cache maintenance to complete (a DMB,
 * as libpmem2 1.12 uses, merely orders it), and the full-system domain
 * covers the memory controller and the persistence point beyond the
 * inner-shareable domain that DSB ISH is limited to.  The flush stride is the
 * smallest data cache line, CTR_EL0.DminLine, read once at start-up.
 * There is no non-temporal copy pmfs trusts here (STNP is only a hint), so
 * memcpy_nt is NULL and pmemio copies and flushes.
 */
#if defined(__aarch64__)

#include <stdint.h>
#include <sys/auxv.h>

#include "pmemio/arch.h"

#ifndef HWCAP_DCPOP
#define HWCAP_DCPOP (1UL << 16)
#endif

static unsigned arm_dline; /* CTR_EL0 DminLine in bytes, 0 until read */

/* Smallest data cache line in bytes (CTR_EL0.DminLine, log2 of words). */
static unsigned arm_line(void)
{
	unsigned l = __atomic_load_n(&arm_dline, __ATOMIC_RELAXED);
	uint64_t ctr;

	if (l)
		return l;
	__asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
	l = 4u << ((ctr >> 16) & 0xf);
	__atomic_store_n(&arm_dline, l, __ATOMIC_RELAXED);
	return l;
}

/* Clean every line of [addr, addr+len) to persistence (DC CVAP). */
static void flush_cvap(const void *addr, size_t len)
{
	uintptr_t line = arm_line();
	uintptr_t p = (uintptr_t)addr & ~(line - 1), end = (uintptr_t)addr + len;

	if (!len)
		return;
	for (; p < end; p += line) /* "dc cvap" as SYS: any assembler takes it */
		__asm__ volatile("sys #3, c7, c12, #1, %0" : : "r"(p) : "memory");
}

/* Clean every line of [addr, addr+len) to coherency (DC CVAC). */
static void flush_cvac(const void *addr, size_t len)
{
	uintptr_t line = arm_line();
	uintptr_t p = (uintptr_t)addr & ~(line - 1), end = (uintptr_t)addr + len;

	if (!len)
		return;
	for (; p < end; p += line)
		__asm__ volatile("dc cvac, %0" : : "r"(p) : "memory");
}

/* Wait for this thread's earlier cache maintenance and stores (DSB SY). */
static void drain_dsb(void)
{
	/* ORDER: earlier DC CVAP/CVAC complete, system-wide, before any
	 * later store */
	__asm__ volatile("dsb sy" : : : "memory");
}

static struct pmio_arch arch_cvap = {
	.name = "dc cvap+dsb",
	.line = 64,
	.flush = flush_cvap,
	.drain = drain_dsb,
	.memcpy_nt = NULL,
};

static struct pmio_arch arch_cvac = {
	.name = "dc cvac+dsb",
	.line = 64,
	.flush = flush_cvac,
	.drain = drain_dsb,
	.memcpy_nt = NULL,
};

/* Record the real line size in both tables before main() runs. */
__attribute__((constructor)) static void arm_line_init(void)
{
	arch_cvap.line = arch_cvac.line = arm_line();
}

const struct pmio_arch *const pmio_arch_tables[] = {
	&arch_cvap,
	&arch_cvac,
	NULL,
};

/* PMFS_FLUSH values, parallel to pmio_arch_tables[]. */
const char *const pmio_arch_keys[] = { "cvap", "cvac", NULL };

/* Nonzero when this CPU can run table `t` (AT_HWCAP). */
int pmio_arch_cpu_has(const struct pmio_arch *t)
{
	if (t == &arch_cvap)
		return !!(getauxval(AT_HWCAP) & HWCAP_DCPOP);
	return t == &arch_cvac;
}

#endif /* __aarch64__ */
