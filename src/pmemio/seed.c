/*
 * seed.c - seeded bugs for the crash harness's mutation test (seed.h): a
 * test arms one, the recorded workload runs with the bug in place, and the
 * harness must then report failing crash images.  Only mappings opened
 * with PMIO_O_RECORD are affected, so the harness's own checks (recovery
 * and fsck on scratch images) run with correct persistence.
 *
 * pmio_seed_on is defined in pmemio.c (which holds weak references to the
 * hooks here, so that programs without seeds do not link this file).
 * State is process-global and not locked: the crash tests run a workload
 * on one thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pmemio/pmio_int.h"
#include "pmemio/seed.h"

static enum pmio_seed_kind seed_kind;
static unsigned long seed_n;      /* the N of the spec, >= 1 */
static unsigned long seed_drains; /* drains seen since arming */
static unsigned long seed_flushes;
static unsigned long seed_commits;
static unsigned long seed_core_calls;
static unsigned long seed_hit;
static int seed_deferred; /* early-commit: a drain is held back */
static int seed_replaying;

/* Parse "kind:N"; 0 or -EINVAL. */
int pmio_seed_arm(const char *spec)
{
	static const struct {
		const char *name;
		enum pmio_seed_kind kind;
	} kinds[] = {
		{ "drop-fence", PMIO_SEED_DROP_FENCE },
		{ "skip-flush", PMIO_SEED_SKIP_FLUSH },
		{ "early-commit", PMIO_SEED_EARLY_COMMIT },
		{ "dentry-in-place", PMIO_SEED_DENTRY_IN_PLACE },
	};
	const char *colon = spec ? strchr(spec, ':') : NULL;
	char *end;
	unsigned long n;

	pmio_seed_disarm();
	if (!colon)
		return -EINVAL;
	errno = 0;
	n = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || n == 0)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strlen(kinds[i].name) == (size_t)(colon - spec) &&
		    !strncmp(spec, kinds[i].name, (size_t)(colon - spec))) {
			seed_kind = kinds[i].kind;
			seed_n = n;
			seed_drains = seed_flushes = seed_commits = 0;
			seed_core_calls = 0;
			seed_hit = 0;
			seed_deferred = 0;
			pmio_seed_on = 1;
			return 0;
		}
	}
	return -EINVAL;
}

void pmio_seed_disarm(void)
{
	pmio_seed_on = 0;
	seed_kind = PMIO_SEED_NONE;
	seed_deferred = 0;
}

unsigned long pmio_seed_hits(void)
{
	return seed_hit;
}

bool pmio_seed_core(enum pmio_seed_kind kind)
{
	if (!pmio_seed_on || seed_kind != kind || ++seed_core_calls != seed_n)
		return false;
	seed_hit++;
	return true;
}

/* Run a held-back drain now (early-commit: the next primitive was not the
 * chosen commit). */
static void seed_release(struct pmio *p)
{
	if (!seed_deferred)
		return;
	seed_deferred = 0;
	seed_replaying = 1;
	pmio_drain(p); /* ORDER: the drain the caller asked for earlier */
	seed_replaying = 0;
}

bool pmio_seed_drain(struct pmio *p)
{
	if (!(p->flags & PMIO_O_RECORD) || seed_replaying)
		return false;
	switch (seed_kind) {
	case PMIO_SEED_DROP_FENCE:
		if (++seed_drains == seed_n) {
			seed_hit++;
			return true;
		}
		return false;
	case PMIO_SEED_EARLY_COMMIT:
		if (seed_deferred) {
			/* two drains in a row: this one covers the first */
			seed_deferred = 0;
			return false;
		}
		if (seed_commits + 1 == seed_n) {
			seed_deferred = 1;
			return true;
		}
		return false;
	default:
		return false;
	}
}

bool pmio_seed_flush(struct pmio *p)
{
	if (!(p->flags & PMIO_O_RECORD))
		return false;
	if (seed_kind == PMIO_SEED_EARLY_COMMIT)
		seed_release(p);
	if (seed_kind == PMIO_SEED_SKIP_FLUSH && ++seed_flushes == seed_n) {
		seed_hit++;
		return true;
	}
	return false;
}

void pmio_seed_commit(struct pmio *p)
{
	if (!(p->flags & PMIO_O_RECORD) || seed_kind != PMIO_SEED_EARLY_COMMIT)
		return;
	if (++seed_commits == seed_n && seed_deferred) {
		seed_deferred = 0; /* the drain before this commit is lost */
		seed_hit++;
	}
}

void pmio_seed_store(struct pmio *p)
{
	if ((p->flags & PMIO_O_RECORD) && seed_kind == PMIO_SEED_EARLY_COMMIT)
		seed_release(p);
}
