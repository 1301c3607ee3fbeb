/*
 * test_crc32c.c - CRC-32C: the published vectors (RFC 3720 appendix B.4
 * and the "123456789" check value), the hardware implementation against
 * the table on random buffers of every length and alignment, chaining, and
 * the PMFS_CRC32C=sw override.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "format/fmt.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

/* Check the RFC 3720 and check-value vectors against one implementation. */
static void check_vectors(crc_fn f, const char *name)
{
	uint8_t buf[32];

	cr_expect_eq(f(0, "123456789", 9), 0xE3069283u, "%s: 123456789", name);
	memset(buf, 0, sizeof(buf));
	cr_expect_eq(f(0, buf, 32), 0x8A9136AAu, "%s: 32 x 0x00", name);
	memset(buf, 0xff, sizeof(buf));
	cr_expect_eq(f(0, buf, 32), 0x62A8AB43u, "%s: 32 x 0xff", name);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	cr_expect_eq(f(0, buf, 32), 0x46DD794Eu, "%s: ascending", name);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	cr_expect_eq(f(0, buf, 32), 0x113FDB5Cu, "%s: descending", name);
	cr_expect_eq(f(0, buf, 0), 0u, "%s: empty", name);
	cr_expect_eq(f(0x12345678u, buf, 0), 0x12345678u,
		     "%s: empty keeps crc", name);
}

Test(crc32c, vectors_default)
{
	check_vectors(pmfs_crc32c, "default");
}

Test(crc32c, vectors_table)
{
	check_vectors(fmt_crc32c_sw, "table");
}

Test(crc32c, vectors_hardware)
{
	if (!fmt_crc32c_hw_available())
		cr_skip_test("no CRC-32C instruction on this CPU");
	check_vectors(fmt_crc32c_hw, "hardware");
}

Test(crc32c, hardware_equals_table_every_length_and_alignment)
{
	enum { MAXLEN = 1024 };
	uint8_t *buf = malloc(MAXLEN + 16);
	unsigned seed = 12345;

	cr_assert_not_null(buf);
	for (size_t i = 0; i < MAXLEN + 16; i++)
		buf[i] = (uint8_t)rand_r(&seed);
	for (size_t len = 0; len <= MAXLEN; len++) {
		for (size_t al = 0; al < 8; al++) {
			uint32_t init = (uint32_t)(len * 2654435761u + al);
			uint32_t sw = fmt_crc32c_sw(init, buf + al, len);

			cr_assert_eq(fmt_crc32c_hw(init, buf + al, len), sw,
				     "len %zu align %zu", len, al);
			cr_assert_eq(pmfs_crc32c(init, buf + al, len), sw,
				     "len %zu align %zu", len, al);
		}
	}
	free(buf);
}

Test(crc32c, chaining_equals_one_call)
{
	uint8_t buf[777];
	unsigned seed = 7;
	uint32_t whole;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)rand_r(&seed);
	whole = pmfs_crc32c(0, buf, sizeof(buf));
	for (size_t cut = 0; cut <= sizeof(buf); cut += 37) {
		uint32_t c = pmfs_crc32c(0, buf, cut);

		cr_assert_eq(pmfs_crc32c(c, buf + cut, sizeof(buf) - cut),
			     whole, "cut at %zu", cut);
		c = fmt_crc32c_sw(0, buf, cut);
		cr_assert_eq(fmt_crc32c_sw(c, buf + cut, sizeof(buf) - cut),
			     whole, "table, cut at %zu", cut);
	}
	/* byte at a time */
	uint32_t c = 0;
	for (size_t i = 0; i < sizeof(buf); i++)
		c = pmfs_crc32c(c, buf + i, 1);
	cr_assert_eq(c, whole);
}

Test(crc32c, detects_single_bit_flip)
{
	uint8_t buf[64] = { 0 };
	uint32_t ref = pmfs_crc32c(0, buf, sizeof(buf));

	for (size_t bit = 0; bit < sizeof(buf) * 8; bit++) {
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		cr_assert_neq(pmfs_crc32c(0, buf, sizeof(buf)), ref,
			      "bit %zu", bit);
		buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
}

Test(crc32c, implementation_choice)
{
	const char *impl = fmt_crc32c_impl();

	cr_assert_not_null(impl);
	if (getenv("PMFS_CRC32C") && strcmp(getenv("PMFS_CRC32C"), "sw") == 0)
		cr_assert_str_eq(impl, "table");
	else if (fmt_crc32c_hw_available())
		cr_assert_str_neq(impl, "table");
	else
		cr_assert_str_eq(impl, "table");
}

/*
 * The override is read when the implementation is first chosen; Criterion
 * runs every test in a fresh process, so setting it before the first call
 * here takes effect.
 */
Test(crc32c, env_sw_forces_table)
{
	cr_assert_eq(setenv("PMFS_CRC32C", "sw", 1), 0);
	cr_assert_str_eq(fmt_crc32c_impl(), "table");
	cr_assert_eq(pmfs_crc32c(0, "123456789", 9), 0xE3069283u);
}
