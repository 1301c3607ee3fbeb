/*
 * pass2.c - pass 2: the journals.
 *
 * Each lane's journal is idle, active (an interrupted multi-inode
 * operation whose records are whole) or corrupt, as jnl_check() says.  An
 * active journal is re-applied with recov_journals(), the very code the
 * mount runs, so fsck and the mount always agree.  A corrupt one (bad
 * state word, or records that do not match the checksum in it) holds
 * nothing that can be replayed: either its operation never reached its
 * commit point, or its records were reused after an unfenced retire
 * (LOG(7)) when that operation had already been applied.  Clearing it is
 * right either way.
 * With -n (or a replay declined) nothing is stored: the records are kept
 * in DRAM and the later passes read tails, heads and inode-table words
 * through them (fsck_word, a private copy of the inode-table directory),
 * so they check the state the replay will give rather than report its
 * absence as damage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsck.h"
#include "pmemio/pmemio.h"

/* Keep the records of the valid active journals in DRAM (see above). */
static void replay_virtual(struct fsck *f)
{
	uint64_t it0 = (uint64_t)((uint8_t *)f->d.itdir - f->base);
	uint64_t it1 = it0 + (uint64_t)PMFS_ITDIR_ENTRIES * 8;
	char why[160];

	f->virt = calloc((size_t)f->d.nlanes * PMFS_JREC_MAX,
			 sizeof(*f->virt));
	f->itdir_copy = malloc((size_t)PMFS_ITDIR_ENTRIES * 8);
	if (!f->virt || !f->itdir_copy) {
		fsck_operr(f, "out of memory");
		return;
	}
	memcpy(f->itdir_copy, f->d.itdir, (size_t)PMFS_ITDIR_ENTRIES * 8);
	for (unsigned l = 0; l < f->d.nlanes; l++) {
		const struct pmfs_journal *j = &f->d.jnl[l];
		uint32_t n;

		if (jnl_check(&f->d, l, why, sizeof(why)) != 1)
			continue;
		n = PMFS_JNL_STATE_NREC(j->state); /* <= JREC_MAX: checked */
		for (uint32_t i = 0; i < n; i++) {
			uint64_t a = j->rec[i].addr;

			f->virt[f->nvirt++] = j->rec[i];
			if (a >= it0 && a < it1)
				f->itdir_copy[(a - it0) / 8] = j->rec[i].val;
		}
	}
	f->d.itdir = f->itdir_copy;
	fsck_info(f, "  journals not replayed: checking as if they were");
}

int fsck_pass2(struct fsck *f)
{
	unsigned active = 0, corrupt = 0;
	char why[160];

	fsck_pass(f, 2, "Checking the journals");
	for (unsigned l = 0; l < f->d.nlanes; l++) {
		int r = jnl_check(&f->d, l, why, sizeof(why));

		if (r > 0) {
			active++;
			continue;
		}
		if (r == 0)
			continue;
		corrupt++;
		if (!fsck_problem(f, PR_PREEN_OK, "journal-corrupt", 0,
				  "Clear it",
				  "Journal lane %u is corrupt (%s): there is "
				  "nothing to replay from it",
				  l, why))
			continue;
		fsck_clear_journal(f, l);
	}
	if (active) {
		uint64_t n = 0;

		if (fsck_problem(f, PR_PREEN_OK, "journal-replay", 0,
				 "Replay",
				 "%u journal%s hold%s an interrupted operation",
				 active, active == 1 ? "" : "s",
				 active == 1 ? "s" : "")) {
			if (fsck_replay_journals(f, &n) != 0) {
				fsck_operr(f, "journal replay failed");
				return -1;
			}
			f->journals_replayed = n;
		} else {
			replay_virtual(f);
		}
	}
	fsck_info(f, "  %u lanes, %u active, %u corrupt", f->d.nlanes, active,
		  corrupt);
	return 0;
}
