/*
 * inject.h - private to src/pmemio and the tests: the points where a test
 * injects a fault into the persistence primitives.  The crash harness's
 * seeded bugs (tests/lib/seed.c) install a table here while one is armed;
 * no product program ever does, and each point then costs one load of a
 * NULL pointer, predicted false.  A hook sees every primitive of every
 * mapping; it acts on mappings opened with PMIO_O_RECORD only.
 */
#ifndef PMFS_PMEMIO_INJECT_H
#define PMFS_PMEMIO_INJECT_H

#include <stdbool.h>

struct pmio;

struct pmio_inject {
	bool (*drain)(struct pmio *p);  /* before a drain: true = skip it */
	bool (*flush)(struct pmio *p);  /* before a flush (also of a
					 * non-temporal copy): true = skip */
	void (*commit)(struct pmio *p); /* at the start of pmio_commit64 */
	void (*store)(struct pmio *p);  /* at the start of any other
					 * primitive that stores */
};

/* NULL, or the armed fault's hooks. */
extern const struct pmio_inject *pmio_inject;

#endif /* PMFS_PMEMIO_INJECT_H */
