/*
 * seed.h - seeded bugs for the tests (test code only: product programs
 * carry none), used by the crash harness's mutation test to prove that it
 * can fail.  Arming a seed installs its hooks at the injection points of
 * pmemio (pmemio/inject.h) and the core (fs_inject, fs/fs_int.h); a seed
 * acts only on mappings opened with PMIO_O_RECORD, and only while armed.
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
 *   dentry-in-place:N  in the core (fs_inject): the Nth rename after
 *                   arming removes the source entry by rewriting its
 *                   DENTRY_ADD in the parent's log in place, outside the
 *                   journal, instead of logging a DENTRY_DEL.
 */
#ifndef PMFS_TESTS_SEED_H
#define PMFS_TESTS_SEED_H

#include <stdbool.h>

struct pmio;

enum pmio_seed_kind {
	PMIO_SEED_NONE = 0,
	PMIO_SEED_DROP_FENCE,
	PMIO_SEED_SKIP_FLUSH,
	PMIO_SEED_EARLY_COMMIT,
	PMIO_SEED_DENTRY_IN_PLACE,
};

/* Nonzero while a seed is armed. */
extern int pmio_seed_on;

/* Arm a seed from its spec ("drop-fence:3"); counters restart at 0.
 * Returns 0 or -EINVAL (spec not understood: nothing armed). */
int pmio_seed_arm(const char *spec);
/* Disarm; the hit count stays readable. */
void pmio_seed_disarm(void);
/* How many times the armed seed changed behaviour (0: it never fired). */
unsigned long pmio_seed_hits(void);

#endif /* PMFS_TESTS_SEED_H */
