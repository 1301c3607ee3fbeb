/*
 * crc32c.c - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the one
 * checksum of the pmfs format: superblock, log pages, log entries, journal
 * records, the bad-block table and the saved allocator state.
 *
 * Two implementations compute identical results: the CPU's instruction
 * (x86-64 SSE4.2 `crc32`, aarch64 `crc32c*` when HWCAP_CRC32 is set) and a
 * slicing-by-8 table everywhere else (ppc64le, old CPUs).  The choice is
 * made once, on first use, and env PMFS_CRC32C=sw forces the table (tests
 * compare the two).  Convention: the caller passes 0 to start and the
 * previous result to continue, so crc(crc(0, a), b) == crc(0, a || b) and
 * pmfs_crc32c(0, "123456789", 9) == 0xE3069283.
 */
#include "format/fmt.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#elif defined(__aarch64__)
#include <arm_acle.h>
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif

#define CRC32C_POLY 0x82F63B78u

typedef uint32_t (*crc_fn)(uint32_t, const uint8_t *, size_t);

static uint32_t crc_table[8][256];
static crc_fn crc_impl;
static const char *crc_impl_name;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* Load 8 bytes little-endian from an unaligned address. */
static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v; /* little-endian targets only (format.h) */
}

/* Slicing-by-8 over an inverted crc; returns the inverted crc. */
static uint32_t crc_sw_raw(uint32_t c, const uint8_t *p, size_t len)
{
	while (len && ((uintptr_t)p & 7)) {
		c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
		len--;
	}
	while (len >= 8) {
		uint64_t w = load_le64(p) ^ c;

		c = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
		    crc_table[5][(w >> 16) & 0xff] ^
		    crc_table[4][(w >> 24) & 0xff] ^
		    crc_table[3][(w >> 32) & 0xff] ^
		    crc_table[2][(w >> 40) & 0xff] ^
		    crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

#if defined(__x86_64__)
#define HAVE_HW_CRC 1
/* SSE4.2 crc32 instruction over an inverted crc. */
__attribute__((target("sse4.2"))) static uint32_t
crc_hw_raw(uint32_t c, const uint8_t *p, size_t len)
{
	uint64_t c64;

	while (len && ((uintptr_t)p & 7)) {
		c = _mm_crc32_u8(c, *p++);
		len--;
	}
	c64 = c;
	while (len >= 8) {
		c64 = _mm_crc32_u64(c64, load_le64(p));
		p += 8;
		len -= 8;
	}
	c = (uint32_t)c64;
	while (len--)
		c = _mm_crc32_u8(c, *p++);
	return c;
}

/* True when this CPU has the SSE4.2 crc32 instruction. */
static int cpu_has_crc(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
}
#elif defined(__aarch64__)
#define HAVE_HW_CRC 1
/* ARMv8 CRC32C instructions over an inverted crc. */
__attribute__((target("+crc"))) static uint32_t
crc_hw_raw(uint32_t c, const uint8_t *p, size_t len)
{
	while (len && ((uintptr_t)p & 7)) {
		c = __crc32cb(c, *p++);
		len--;
	}
	while (len >= 8) {
		c = __crc32cd(c, load_le64(p));
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __crc32cb(c, *p++);
	return c;
}

/* True when the kernel reports the CRC32 extension (HWCAP_CRC32). */
static int cpu_has_crc(void)
{
	return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}
#else
#define HAVE_HW_CRC 0
#endif

/* Build the tables and pick the implementation; runs once. */
static void crc_init(void)
{
	const char *env = getenv("PMFS_CRC32C");

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (CRC32C_POLY & (0u - (c & 1)));
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^
					  crc_table[0][crc_table[t - 1][i] & 0xff];

	crc_impl = crc_sw_raw;
	crc_impl_name = "table";
#if HAVE_HW_CRC
	if (!(env && strcmp(env, "sw") == 0) && cpu_has_crc()) {
		crc_impl = crc_hw_raw;
#if defined(__x86_64__)
		crc_impl_name = "sse4.2";
#else
		crc_impl_name = "armv8-crc";
#endif
	}
#else
	(void)env;
#endif
}

/* CRC-32C with the implementation chosen at first use. */
uint32_t pmfs_crc32c(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	return ~crc_impl(~crc, buf, len);
}

/* CRC-32C with the table, whatever the CPU. */
uint32_t fmt_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	pthread_once(&crc_once, crc_init);
	return ~crc_sw_raw(~crc, buf, len);
}

/* True when this CPU has a CRC-32C instruction pmfs uses. */
bool fmt_crc32c_hw_available(void)
{
#if HAVE_HW_CRC
	return cpu_has_crc() != 0;
#else
	return false;
#endif
}

/* CRC-32C with the instruction (the table without one). */
uint32_t fmt_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
#if HAVE_HW_CRC
	if (cpu_has_crc())
		return ~crc_hw_raw(~crc, buf, len);
#endif
	return fmt_crc32c_sw(crc, buf, len);
}

/* Name of the implementation pmfs_crc32c uses. */
const char *fmt_crc32c_impl(void)
{
	pthread_once(&crc_once, crc_init);
	return crc_impl_name;
}
