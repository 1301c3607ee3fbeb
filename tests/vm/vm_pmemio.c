/*
 * vm_pmemio.c - pmemio on the guests' storage: which store granularity and
 * flush path pmio_open() chose for a path, and what its flushes and fences
 * cost, counted by pmemio's own counters (tests/vm/t-*.sh).
 *
 *   vm_pmemio PATH GRAN PATH_NAME
 *       Open PATH (its first MiB is overwritten: use it before mkfs.pmfs),
 *       require granularity GRAN (byte, cache-line, page) and flush path
 *       PATH_NAME (as pmio_flush_path() prints it, e.g. "clwb+sfence" or
 *       "none+sfence (eADR)"), then persist VMP_N words on distinct lines,
 *       one flush and one drain each, and require the counters to have
 *       moved by exactly: cache-line: VMP_N flushes, VMP_N fences; byte
 *       (eADR): 0 flushes, VMP_N fences; page: VMP_N flushes (msyncs),
 *       VMP_N fences.  Then a 200-byte copy (cache-line: one flush per
 *       line it touches, of the CPU table's stride, one fence), and the
 *       words are read back through a new mapping.
 *   vm_pmemio --table KEY
 *       Run the flush and drain of the table PMFS_FLUSH=KEY names on a
 *       buffer, whether or not this CPU reports the instructions (the
 *       guest scripts expect SIGILL where the CPU lacks them: proof that
 *       the instructions of the chosen table really execute).
 *
 * Prints one line per fact; exit 0 when every requirement held.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmemio/arch.h"
#include "pmemio/pmemio.h"

#define VMP_N 100
#define VMP_STRIDE 4096 /* one word per page: distinct lines everywhere */

static int vmp_table(const char *key)
{
	static unsigned char buf[8192] __attribute__((aligned(256)));

	for (int i = 0; pmio_arch_tables[i]; i++) {
		const struct pmio_arch *t = pmio_arch_tables[i];

		if (strcmp(pmio_arch_keys[i], key) != 0)
			continue;
		printf("vm_pmemio: table %s (%s): CPU reports it: %s\n", key,
		       t->name, pmio_arch_cpu_has(t) ? "yes" : "no");
		fflush(stdout);
		memset(buf, 0x5a, sizeof(buf));
		t->flush(buf, sizeof(buf));
		printf("vm_pmemio: table %s (%s): flush executed\n", key,
		       t->name);
		fflush(stdout);
		/* ORDER: the flushes above complete before we report */
		t->drain();
		printf("vm_pmemio: table %s (%s): flush and drain executed\n",
		       key, t->name);
		return 0;
	}
	fprintf(stderr, "vm_pmemio: no table '%s' on this architecture\n", key);
	return 2;
}

int main(int argc, char **argv)
{
	struct pmio_opts po = { PMIO_O_EXCL | PMIO_O_QUIET, 0 };
	struct pmio_stats s0, s1;
	struct pmio *p;
	char err[512];
	const char *path, *want_gran, *want_path, *gran;
	uint64_t want_flushes;
	uint8_t *base;
	int bad = 0;

	if (argc == 3 && !strcmp(argv[1], "--table"))
		return vmp_table(argv[2]);
	if (argc != 4) {
		fprintf(stderr, "usage: vm_pmemio PATH GRAN FLUSH-PATH | "
				"vm_pmemio --table KEY\n");
		return 2;
	}
	path = argv[1];
	want_gran = argv[2];
	want_path = argv[3];
	if (pmio_open(path, &po, &p, err, sizeof(err)) != 0) {
		printf("vm_pmemio: %s\n", err);
		return 1;
	}
	gran = pmio_gran_name(pmio_gran(p));
	printf("vm_pmemio: %s: %" PRIu64 " bytes, granularity %s, flush path "
	       "%s, CPU table %s\n",
	       path, pmio_size(p), gran, pmio_flush_path(p), pmio_arch_name());
	fflush(stdout); /* shown even if a flush instruction kills us */
	if (strcmp(gran, want_gran) != 0) {
		printf("vm_pmemio: granularity %s, expected %s\n", gran,
		       want_gran);
		bad++;
	}
	if (strcmp(pmio_flush_path(p), want_path) != 0) {
		printf("vm_pmemio: flush path '%s', expected '%s'\n",
		       pmio_flush_path(p), want_path);
		bad++;
	}
	if (pmio_size(p) < (uint64_t)VMP_N * VMP_STRIDE + 4096) {
		printf("vm_pmemio: %s is too small for the test\n", path);
		pmio_close(p);
		return 1;
	}

	base = pmio_base(p);
	s0 = pmio_stats_thread();
	for (uint64_t i = 0; i < VMP_N; i++) {
		uint64_t *w = (uint64_t *)(base + i * VMP_STRIDE);

		pmio_store64(p, w, 0x706d66730000ull + i);
		pmio_flush(p, w, sizeof(*w));
		/* ORDER: word i durable before word i + 1 is stored */
		pmio_drain(p);
	}
	s1 = pmio_stats_thread();
	want_flushes = pmio_gran(p) == PMIO_GRAN_BYTE ? 0 : VMP_N;
	printf("vm_pmemio: %d persists of one word: %" PRIu64 " flushes, %" PRIu64
	       " fences\n",
	       VMP_N, s1.flushes - s0.flushes, s1.fences - s0.fences);
	if (s1.flushes - s0.flushes != want_flushes ||
	    s1.fences - s0.fences != VMP_N) {
		printf("vm_pmemio: expected %" PRIu64 " flushes and %d fences\n",
		       want_flushes, VMP_N);
		bad++;
	}
	if (pmio_gran(p) == PMIO_GRAN_CACHE_LINE) {
		/* 200 bytes (below the non-temporal threshold) from offset
		 * 60 of a line: lines of the table's stride, flushed each */
		static const char msg[200] = "pmfs vm_pmemio copy";
		unsigned line = pmio_arch_detect()->line;
		uint64_t want;

		s0 = pmio_stats_thread();
		pmio_memcpy_nodrain(p, base + VMP_N * VMP_STRIDE + 60, msg,
				    sizeof(msg));
		/* ORDER: the copy durable before the counters are read */
		pmio_drain(p);
		s1 = pmio_stats_thread();
		want = (60 + sizeof(msg) + line - 1) / line;
		printf("vm_pmemio: a 200-byte copy: %" PRIu64 " flushes (%u-byte "
		       "lines), %" PRIu64 " fence\n",
		       s1.flushes - s0.flushes, line, s1.fences - s0.fences);
		if (s1.flushes - s0.flushes != want ||
		    s1.fences - s0.fences != 1) {
			printf("vm_pmemio: expected %" PRIu64 " flushes and 1 "
			       "fence\n",
			       want);
			bad++;
		}
	}
	pmio_close(p);

	po.flags |= PMIO_O_RDONLY;
	if (pmio_open(path, &po, &p, err, sizeof(err)) != 0) {
		printf("vm_pmemio: reopen: %s\n", err);
		return 1;
	}
	base = pmio_base(p);
	for (uint64_t i = 0; i < VMP_N; i++) {
		uint64_t v = *(uint64_t *)(base + i * VMP_STRIDE);

		if (v != 0x706d66730000ull + i) {
			printf("vm_pmemio: word %" PRIu64 " reads %#" PRIx64
			       " after remapping\n",
			       i, v);
			bad++;
			break;
		}
	}
	pmio_close(p);
	printf("vm_pmemio: %s: %s\n", path, bad ? "FAILED" : "ok");
	return bad ? 1 : 0;
}
