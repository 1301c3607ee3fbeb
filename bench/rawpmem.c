/*
 * rawpmem.c - the raw limit for the engine benchmark: what libpmem2 alone
 * costs to make bytes durable on this machine, with no filesystem at all.
 * Maps FILE (on /dev/shm) with cache-line granularity forced
 * (PMEM2_FORCE_GRANULARITY=CACHE_LINE: real CLWB/CLFLUSHOPT + SFENCE; for
 * benchmarks only, unsafe on real storage) and times, over a region larger
 * than the caches:
 *   copy4k       pmem2 memcpy of 4 KiB with flags 0 (non-temporal + drain)
 *   copy4k_p     pmem2 memcpy 4 KiB NOFLUSH + one pmem2 persist
 *   copy1m       pmem2 memcpy of 1 MiB with flags 0
 *   store64_p    one 64-byte store + one persist
 * Prints "name<TAB>ops_per_second<TAB>ns_per_op<TAB>MiB_per_second".
 *
 *   rawpmem FILE [SIZE_MIB] [SECONDS_PER_TEST]
 */
#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct raw {
	char *base;
	size_t size;
	pmem2_memcpy_fn copy;
	pmem2_persist_fn persist;
};

enum raw_kind { RAW_COPY, RAW_COPY_PERSIST, RAW_STORE64 };

/* Run one kind of operation of len bytes for about secs seconds. */
static void run(const struct raw *r, const char *label, enum raw_kind kind,
		size_t len, double secs)
{
	static char src[1 << 20];
	size_t slots = r->size / len, slot = 0;
	uint64_t ops = 0;
	double t0 = now(), t;

	memset(src, 0x5a, sizeof(src));
	do {
		int i;

		for (i = 0; i < 64; i++, ops++) {
			char *dst = r->base + slot * len;

			slot = (slot + 7919) % slots; /* stride past prefetch */
			switch (kind) {
			case RAW_COPY:
				r->copy(dst, src, len, 0);
				break;
			case RAW_COPY_PERSIST:
				r->copy(dst, src, len, PMEM2_F_MEM_NOFLUSH);
				r->persist(dst, len);
				break;
			case RAW_STORE64:
				memcpy(dst, src + (ops & 63), 64);
				r->persist(dst, 64);
				break;
			}
		}
		t = now() - t0;
	} while (t < secs);
	printf("%s\t%.0f\t%.1f\t%.0f\n", label, (double)ops / t,
	       t * 1e9 / (double)ops, (double)ops * (double)len / t / 1048576.0);
}

int main(int argc, char **argv)
{
	size_t size = (argc > 2 ? (size_t)atol(argv[2]) : 256) << 20;
	double secs = argc > 3 ? atof(argv[3]) : 1.0;
	struct pmem2_config *cfg = NULL;
	struct pmem2_source *src = NULL;
	struct pmem2_map *map = NULL;
	struct raw r;
	int fd, ret = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: rawpmem FILE [SIZE_MIB] [SECONDS]\n");
		return 2;
	}
	setenv("PMEM2_FORCE_GRANULARITY", "CACHE_LINE", 1);
	fd = open(argv[1], O_RDWR | O_CREAT, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		perror(argv[1]);
		return 1;
	}
	if (pmem2_config_new(&cfg) || pmem2_source_from_fd(&src, fd) ||
	    pmem2_config_set_required_store_granularity(
		    cfg, PMEM2_GRANULARITY_PAGE) ||
	    pmem2_map_new(&map, cfg, src)) {
		pmem2_perror("rawpmem: map %s", argv[1]);
		goto out;
	}
	if (pmem2_map_get_store_granularity(map) != PMEM2_GRANULARITY_CACHE_LINE) {
		fprintf(stderr, "rawpmem: cache-line granularity not forced\n");
		goto out;
	}
	r.base = pmem2_map_get_address(map);
	r.size = size;
	r.copy = pmem2_get_memcpy_fn(map);
	r.persist = pmem2_get_persist_fn(map);
	memset(r.base, 0, size); /* fault every page in before timing */

	run(&r, "copy4k", RAW_COPY, 4096, secs);
	run(&r, "copy4k_p", RAW_COPY_PERSIST, 4096, secs);
	run(&r, "copy1m", RAW_COPY, 1 << 20, secs);
	run(&r, "store64_p", RAW_STORE64, 64, secs);
	ret = 0;
out:
	if (map)
		pmem2_map_delete(&map);
	pmem2_source_delete(&src);
	pmem2_config_delete(&cfg);
	close(fd);
	return ret;
}
