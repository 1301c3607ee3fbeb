/*
 * cross_smoke.c - a plain C smoke program for cross builds run under
 * qemu-user (scripts/cross-check.sh): detect the flush table, flush and
 * drain a buffer through it at several alignments and lengths, check the
 * bytes survived, and print the chosen table's name on one line.  Not a
 * Criterion suite (Criterion re-executes itself, which needs binfmt_misc
 * under qemu), hence not named test_*.c.  Exit 0 on success.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmemio/arch.h"

int main(void)
{
	static const size_t lens[] = { 0, 1, 63, 64, 65, 127, 128, 129, 4096 };
	const struct pmio_arch *t = pmio_arch_detect();
	size_t cap = 4096 + 512;
	unsigned char *buf = malloc(cap), *cpy = malloc(cap);

	if (!t || !buf || !cpy) {
		fprintf(stderr, "cross_smoke: no table or no memory\n");
		return 1;
	}
	for (size_t i = 0; i < cap; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
		for (size_t off = 0; off < 2 * t->line; off += 1 + off / 3)
			t->flush(buf + off, lens[l]);
	/* ORDER: the flushes above complete before the check */
	t->drain();
	for (size_t i = 0; i < cap; i++) {
		if (buf[i] != (unsigned char)(i * 7 + 3)) {
			fprintf(stderr, "cross_smoke: byte %zu changed\n", i);
			return 1;
		}
	}
	if (t->memcpy_nt) {
		t->memcpy_nt(cpy + 1, buf, 4096 + 100);
		/* ORDER: NT stores complete before the comparison */
		t->drain();
		if (memcmp(cpy + 1, buf, 4096 + 100) != 0) {
			fprintf(stderr, "cross_smoke: memcpy_nt mismatch\n");
			return 1;
		}
	}
	printf("%s line=%u\n", t->name, t->line);
	free(buf);
	free(cpy);
	return 0;
}
