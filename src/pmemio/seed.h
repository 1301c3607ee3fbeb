/*
 * seed.h - private to src/pmemio and the crash tests: seeded bugs at the
 * pmemio level, used by the crash harness's mutation test to prove that it
 * can fail.  A seed acts only on mappings opened with PMIO_O_RECORD, and
 * only while armed; when none is armed each hook in pmemio.c costs one
 * load of pmio_seed_on, predicted false.
 *
 * Seeds (spec strings, also accepted from the crash tools' --seed / env
 * PMFS_SEED):
 *   drop-fence:N    the Nth drain after arming does nothing;
 *   skip-flush:N    the Nth flush after arming does nothing (no write-back
 *                   is started, so its words stay in flight until some
 *                   later flush covers them);
 *   early-commit:N  the drain just before the Nth commit store
 *                   (pmio_commit64) after arming is dropped, so the commit
 *                   word is stored while its payload is not yet durable.
 *                   Implemented by deferring every drain while the next
 *                   commit is the Nth: a deferred drain runs at the next
 *                   primitive that is not that commit.
 *   dentry-in-place:N  a hook in the core (not pmemio): the Nth directory
 *                   entry removal or rename after arming rewrites the old
 *                   entry in the parent's log in place instead of logging
 *                   the change.  The core asks pmio_seed_core(); until it
 *                   does, this seed never fires (pmio_seed_hits() == 0).
 */
#ifndef PMFS_PMEMIO_SEED_H
#define PMFS_PMEMIO_SEED_H

#include <stdbool.h>

struct pmio;

enum pmio_seed_kind {
	PMIO_SEED_NONE = 0,
	PMIO_SEED_DROP_FENCE,
	PMIO_SEED_SKIP_FLUSH,
	PMIO_SEED_EARLY_COMMIT,
	PMIO_SEED_DENTRY_IN_PLACE,
};

/* Nonzero while a seed is armed: the only thing the hot path reads. */
extern int pmio_seed_on;

/* Arm a seed from its spec ("drop-fence:3"); counters restart at 0.
 * Returns 0 or -EINVAL (spec not understood: nothing armed). */
int pmio_seed_arm(const char *spec);
/* Disarm; the hit count stays readable. */
void pmio_seed_disarm(void);
/* How many times the armed seed changed behaviour (0: it never fired). */
unsigned long pmio_seed_hits(void);

/*
 * For seeded bugs inside the core: true when the core should commit its
 * bug `kind` now (the Nth call for an armed seed of that kind).  Call only
 * under __builtin_expect(pmio_seed_on, 0).
 */
bool pmio_seed_core(enum pmio_seed_kind kind);

/* Hooks called by pmemio.c only when pmio_seed_on. */
/* Before a drain: true = skip it (no record, no fence). */
bool pmio_seed_drain(struct pmio *p);
/* Before a flush of a range (incl. a non-temporal copy's record): true =
 * skip it. */
bool pmio_seed_flush(struct pmio *p);
/* At the start of pmio_commit64. */
void pmio_seed_commit(struct pmio *p);
/* At the start of any other primitive that stores. */
void pmio_seed_store(struct pmio *p);

#endif /* PMFS_PMEMIO_SEED_H */
