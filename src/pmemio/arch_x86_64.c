/*
 * arch_x86_64.c - the x86-64 flush and drain tables.
 *
 * Three tables, best first: CLWB (CPUID.(EAX=7,ECX=0):EBX bit 24),
 * CLFLUSHOPT (same leaf, EBX bit 23), CLFLUSH (CPUID.1:EDX bit 19).  The
 * flushes are weakly ordered write-backs of each 64-byte line; the drain is
 * always SFENCE (also with CLFLUSH, which is ordered on its own: one
 * mechanism, one fence count).  memcpy_nt streams whole destination lines
 * with MOVNTDQ and writes the partial head and tail lines with ordinary
 * stores followed by the table's own flush, so no line mixes the two.
 * Nothing here waits: durability comes from the caller's later drain.
 */
#if defined(__x86_64__)

#include <cpuid.h>
#include <emmintrin.h>
#include <stdint.h>
#include <string.h>

#include "pmemio/arch.h"

#define X86_LINE 64u

/* Write back one line, keeping it in cache (CLWB). */
static inline void line_clwb(uintptr_t p)
{
	__asm__ volatile("clwb (%0)" : : "r"(p) : "memory");
}

/* Write back and invalidate one line, weakly ordered (CLFLUSHOPT). */
static inline void line_clflushopt(uintptr_t p)
{
	__asm__ volatile("clflushopt (%0)" : : "r"(p) : "memory");
}

/* Write back and invalidate one line, ordered (CLFLUSH). */
static inline void line_clflush(uintptr_t p)
{
	__asm__ volatile("clflush (%0)" : : "r"(p) : "memory");
}

/* Line range [first line of addr, end of addr+len), as start/end. */
#define FOR_EACH_LINE(p, addr, len)                                        \
	for (uintptr_t p = (uintptr_t)(addr) & ~(uintptr_t)(X86_LINE - 1), \
		       p##_end = (uintptr_t)(addr) + (len);                \
	     (len) != 0 && p < p##_end; p += X86_LINE)

/* Flush every line of [addr, addr+len) with CLWB; does not wait. */
static void flush_clwb(const void *addr, size_t len)
{
	FOR_EACH_LINE(p, addr, len)
		line_clwb(p);
}

/* Flush every line of [addr, addr+len) with CLFLUSHOPT; does not wait. */
static void flush_clflushopt(const void *addr, size_t len)
{
	FOR_EACH_LINE(p, addr, len)
		line_clflushopt(p);
}

/* Flush every line of [addr, addr+len) with CLFLUSH; does not wait. */
static void flush_clflush(const void *addr, size_t len)
{
	FOR_EACH_LINE(p, addr, len)
		line_clflush(p);
}

/* Wait for earlier flushes and NT stores of this thread (SFENCE). */
static void drain_sfence(void)
{
	/* ORDER: earlier CLWB/CLFLUSHOPT/NT stores complete before later stores */
	__asm__ volatile("sfence" : : : "memory");
}

/*
 * Copy with non-temporal stores for whole destination lines; the partial
 * head and tail lines are copied normally and flushed with `flush`.  Needs
 * a drain afterwards like any flush.
 */
static inline void copy_nt(void *dst, const void *src, size_t len,
			   void (*flush)(const void *, size_t))
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	size_t head = (X86_LINE - ((uintptr_t)d & (X86_LINE - 1))) & (X86_LINE - 1);

	if (len < X86_LINE + head) { /* no whole line to stream */
		memcpy(d, s, len);
		flush(d, len);
		return;
	}
	if (head) {
		memcpy(d, s, head);
		flush(d, head);
		d += head;
		s += head;
		len -= head;
	}
	for (; len >= X86_LINE; len -= X86_LINE, d += X86_LINE, s += X86_LINE) {
		__m128i a = _mm_loadu_si128((const __m128i *)(const void *)s);
		__m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + 16));
		__m128i c = _mm_loadu_si128((const __m128i *)(const void *)(s + 32));
		__m128i e = _mm_loadu_si128((const __m128i *)(const void *)(s + 48));

		_mm_stream_si128((__m128i *)(void *)d, a);
		_mm_stream_si128((__m128i *)(void *)(d + 16), b);
		_mm_stream_si128((__m128i *)(void *)(d + 32), c);
		_mm_stream_si128((__m128i *)(void *)(d + 48), e);
	}
	if (len) {
		memcpy(d, s, len);
		flush(d, len);
	}
}

/* NT copy whose partial lines are flushed with CLWB. */
static void memcpy_nt_clwb(void *dst, const void *src, size_t len)
{
	copy_nt(dst, src, len, flush_clwb);
}

/* NT copy whose partial lines are flushed with CLFLUSHOPT. */
static void memcpy_nt_clflushopt(void *dst, const void *src, size_t len)
{
	copy_nt(dst, src, len, flush_clflushopt);
}

/* NT copy whose partial lines are flushed with CLFLUSH. */
static void memcpy_nt_clflush(void *dst, const void *src, size_t len)
{
	copy_nt(dst, src, len, flush_clflush);
}

static const struct pmio_arch arch_clwb = {
	.name = "clwb+sfence",
	.line = X86_LINE,
	.flush = flush_clwb,
	.drain = drain_sfence,
	.memcpy_nt = memcpy_nt_clwb,
};

static const struct pmio_arch arch_clflushopt = {
	.name = "clflushopt+sfence",
	.line = X86_LINE,
	.flush = flush_clflushopt,
	.drain = drain_sfence,
	.memcpy_nt = memcpy_nt_clflushopt,
};

static const struct pmio_arch arch_clflush = {
	.name = "clflush+sfence",
	.line = X86_LINE,
	.flush = flush_clflush,
	.drain = drain_sfence,
	.memcpy_nt = memcpy_nt_clflush,
};

const struct pmio_arch *const pmio_arch_tables[] = {
	&arch_clwb,
	&arch_clflushopt,
	&arch_clflush,
	NULL,
};

/* PMFS_FLUSH values, parallel to pmio_arch_tables[]. */
const char *const pmio_arch_keys[] = { "clwb", "clflushopt", "clflush", NULL };

/* Nonzero when this CPU can run table `t` (CPUID). */
int pmio_arch_cpu_has(const struct pmio_arch *t)
{
	unsigned a, b, c, d;

	if (t == &arch_clwb || t == &arch_clflushopt) {
		if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
			return 0;
		return t == &arch_clwb ? !!(b & (1u << 24)) : !!(b & (1u << 23));
	}
	if (t == &arch_clflush) {
		if (!__get_cpuid(1, &a, &b, &c, &d))
			return 0;
		return !!(d & (1u << 19));
	}
	return 0;
}

#endif /* __x86_64__ */
