/*
 * arch_ppc64.c - the ppc64le (POWER) flush and drain tables.
 *
 * Two tables, best first.  ISA 3.1 (POWER10, AT_HWCAP2 has
 * PPC_FEATURE2_ARCH_3_1): `dcbstps` (dcbf L=6, store to the persistent
 * domain) per 128-byte line and `phwsync` (sync L=4, wait for the
 * persistent domain) as the drain.  Before ISA 3.1: `dcbf` (L=0, flush)
 * per line and `hwsync` (sync L=0) as the drain.  binutils 2.40 disassembles
 * the ISA 3.1 encodings by those names (0x7cc0..ac = dcbstps,
 * 0x7c8004ac = phwsync) and accepts them as mnemonics from gcc (-many).
 * No non-temporal copy: memcpy_nt is NULL.
 */
#if defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)

#include <stdint.h>
#include <sys/auxv.h>

#include "pmemio/arch.h"

#ifndef PPC_FEATURE2_ARCH_3_1
#define PPC_FEATURE2_ARCH_3_1 0x00040000
#endif

#define PPC_LINE 128u

/* Store every line of [addr, addr+len) to persistence (dcbstps). */
static void flush_dcbstps(const void *addr, size_t len)
{
	uintptr_t p = (uintptr_t)addr & ~(uintptr_t)(PPC_LINE - 1);
	uintptr_t end = (uintptr_t)addr + len;

	if (!len)
		return;
	for (; p < end; p += PPC_LINE)
		__asm__ volatile("dcbstps 0, %0" : : "r"(p) : "memory");
}

/* Wait until earlier dcbstps reached the persistent domain (phwsync). */
static void drain_phwsync(void)
{
	/* ORDER: earlier dcbstps persistent before any later store */
	__asm__ volatile("phwsync" : : : "memory");
}

/* Flush every line of [addr, addr+len) (dcbf, L=0). */
static void flush_dcbf(const void *addr, size_t len)
{
	uintptr_t p = (uintptr_t)addr & ~(uintptr_t)(PPC_LINE - 1);
	uintptr_t end = (uintptr_t)addr + len;

	if (!len)
		return;
	for (; p < end; p += PPC_LINE)
		__asm__ volatile("dcbf 0, %0" : : "r"(p) : "memory");
}

/* Wait until earlier dcbf completed (hwsync, i.e. sync L=0). */
static void drain_hwsync(void)
{
	/* ORDER: earlier dcbf complete before any later store */
	__asm__ volatile("hwsync" : : : "memory");
}

static const struct pmio_arch arch_p10 = {
	.name = "dcbstps+phwsync",
	.line = PPC_LINE,
	.flush = flush_dcbstps,
	.drain = drain_phwsync,
	.memcpy_nt = NULL,
};

static const struct pmio_arch arch_p9 = {
	.name = "dcbf+hwsync",
	.line = PPC_LINE,
	.flush = flush_dcbf,
	.drain = drain_hwsync,
	.memcpy_nt = NULL,
};

const struct pmio_arch *const pmio_arch_tables[] = {
	&arch_p10,
	&arch_p9,
	NULL,
};

/* PMFS_FLUSH values, parallel to pmio_arch_tables[]. */
const char *const pmio_arch_keys[] = { "p10", "p9", NULL };

/* Nonzero when this CPU can run table `t` (AT_HWCAP2). */
int pmio_arch_cpu_has(const struct pmio_arch *t)
{
	if (t == &arch_p10)
		return !!(getauxval(AT_HWCAP2) & PPC_FEATURE2_ARCH_3_1);
	return t == &arch_p9;
}

#endif /* __powerpc64__ && __LITTLE_ENDIAN__ */
