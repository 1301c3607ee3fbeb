/*
 * seed.c - seeded bugs for the crash harness's mutation test (seed.h): a
 * test arms one, the recorded workload runs with the bug in place, and the
 * harness must then report failing crash images.  Arming installs the
 * hooks below at pmemio's injection points (pmemio/inject.h) and the
 * core's (fs_inject); only mappings opened with PMIO_O_RECORD are
 * affected, so the harness's own checks (recovery and fsck on scratch
 * images) run with correct persistence.  Test code only: no product
 * program links it.  State is process-global and not locked: the crash
 * tests run a workload on one thread.
 */
#include "seed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format/fmt.h"
#include "fs/fs_int.h"
#include "pmemio/inject.h"
#include "pmemio/pmio_int.h"

int pmio_seed_on;

static const struct pmio_inject pmio_hooks;
static const struct fs_inject core_hooks;

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
			if (seed_kind == PMIO_SEED_DENTRY_IN_PLACE)
				fs_inject = &core_hooks;
			else
				pmio_inject = &pmio_hooks;
			return 0;
		}
	}
	return -EINVAL;
}

void pmio_seed_disarm(void)
{
	pmio_inject = NULL;
	fs_inject = NULL;
	pmio_seed_on = 0;
	seed_kind = PMIO_SEED_NONE;
	seed_deferred = 0;
}

unsigned long pmio_seed_hits(void)
{
	return seed_hit;
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

static bool seed_drain(struct pmio *p)
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

static bool seed_flush(struct pmio *p)
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

static void seed_commit(struct pmio *p)
{
	if (!(p->flags & PMIO_O_RECORD) || seed_kind != PMIO_SEED_EARLY_COMMIT)
		return;
	if (++seed_commits == seed_n && seed_deferred) {
		seed_deferred = 0; /* the drain before this commit is lost */
		seed_hit++;
	}
}

static void seed_store(struct pmio *p)
{
	if ((p->flags & PMIO_O_RECORD) && seed_kind == PMIO_SEED_EARLY_COMMIT)
		seed_release(p);
}

/* ---- the core's seed: dentry-in-place --------------------------------- */

struct seed_find {
	uint64_t cookie, off;
	const char *name;
	size_t nlen;
};

static int seed_find_add(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	struct seed_find *f = arg;
	const struct pmfs_le_dentry *de = (const void *)e;

	if (e->type == PMFS_LE_DENTRY_ADD && de->cookie == f->cookie &&
	    de->name_len == f->nlen && !memcmp(de->name, f->name, f->nlen))
		f->off = off;
	return 0;
}

/*
 * PMIO_SEED_DENTRY_IN_PLACE, a deliberate bug: remove the entry `name`
 * (cookie) from dp by rewriting its DENTRY_ADD in the log into a
 * DENTRY_DEL in place, word by word, outside the journal, so a crash
 * leaves a torn entry or the rename half done.  b holds the DEL; it gets
 * the old entry's seq and crc (the caller applies it to DRAM).
 */
static int seed_dentry_del(struct fs *fs, struct fs_inode *dp,
			   union lent_buf *b)
{
	if (!pmio_seed_on || seed_kind != PMIO_SEED_DENTRY_IN_PLACE ||
	    ++seed_core_calls != seed_n)
		return -EAGAIN;
	seed_hit++;
	const struct pmfs_le_dentry *del = (const void *)&b->h;
	struct seed_find f = { del->cookie, 0, (const char *)del->name,
			       del->name_len };
	uint64_t *old;

	if (ilog_walk(&fs->d, dp->ino, dp->pos.head, dp->pos.tail,
		      seed_find_add, NULL, &f, true, NULL) ||
	    !f.off)
		return -ENOENT;
	old = ilog_ptr(&fs->d, f.off);
	b->h.seq = ((const struct pmfs_lentry *)old)->seq;
	fmt_entry_seal(dp->ino, &b->h);
	for (size_t i = 0; i < b->h.len / 8; i++)
		if (old[i] != b->w[i])
			pmio_store64(fs->d.p, &old[i], b->w[i]);
	pmio_flush(fs->d.p, old, b->h.len);
	return 0;
}

static const struct pmio_inject pmio_hooks = {
	.drain = seed_drain,
	.flush = seed_flush,
	.commit = seed_commit,
	.store = seed_store,
};

static const struct fs_inject core_hooks = {
	.dentry_del = seed_dentry_del,
};
