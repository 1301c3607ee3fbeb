/*
 * test_jnl.c - the per-lane redo journal: commit applies every record and
 * retires, an active journal left by a crash is re-applied by recovery
 * (twice is harmless), corrupt journals are refused, fence count.
 */
#include "logfix.h"

TestSuite(jnl, .init = lx_setup, .fini = lx_teardown);

Test(jnl, commit_applies_and_costs_three_fences)
{
	struct jnl_tx t;
	struct pmfs_inode *s3 = ilog_slot(&lx_d, 3), *s4 = ilog_slot(&lx_d, 4);
	uint64_t f0;

	jnl_tx_init(&t);
	cr_assert_eq(jnl_add(&t, &lx_d, &s3->tail, 0x1234000), 0);
	cr_assert_eq(jnl_add(&t, &lx_d, &s4->tail, 0x5678000), 0);
	cr_assert_eq(jnl_add(&t, &lx_d, &s3->tail, 0x1235000), 0); /* merged */
	cr_assert_eq(t.n, 2);
	f0 = pmio_stats_thread().fences;
	jnl_commit(&lx_d, 1, &t);
	cr_assert_eq(pmio_stats_thread().fences - f0, 3);
	cr_assert_eq(s3->tail, 0x1235000);
	cr_assert_eq(s4->tail, 0x5678000);
	cr_assert_eq(lx_d.jnl[1].state, 0);
	cr_assert_eq(jnl_check(&lx_d, 1, NULL, 0), 0);
}

Test(jnl, recovery_replays_active_journal)
{
	struct pmfs_journal *j = &lx_d.jnl[2];
	struct pmfs_inode *s3 = ilog_slot(&lx_d, 3);
	uint64_t n = 0;
	char why[128];

	/* a crash after step 4: records and state durable, not applied */
	j->rec[0].addr = ilog_off(&lx_d, &s3->tail);
	j->rec[0].val = 0xabc000;
	j->rec[1].addr = ilog_off(&lx_d, &lx_d.itdir[1]);
	j->rec[1].val = lx_d.data_start + 200;
	/* inode PMFS_INODES_PER_CHUNK + 5 lives in the new chunk */
	j->rec[2].addr = fmt_blk_off(lx_d.data_start + 200) + 5 * 64;
	j->rec[2].val = 0xdef000;
	j->state = PMFS_JNL_STATE(3, fmt_jnl_crc(j->rec, 3));
	cr_assert_eq(jnl_check(&lx_d, 2, why, sizeof(why)), 1, "%s", why);
	cr_assert_eq(recov_journals(&lx_d, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(s3->tail, 0xabc000);
	cr_assert_eq(lx_d.itdir[1], lx_d.data_start + 200);
	cr_assert_eq(ilog_slot(&lx_d, PMFS_INODES_PER_CHUNK + 5)->tail,
		     0xdef000);
	cr_assert_eq(j->state, 0);
	/* recovery again: nothing to do */
	cr_assert_eq(recov_journals(&lx_d, &n), 0);
	cr_assert_eq(n, 0);
}

Test(jnl, corrupt_journals_refused)
{
	struct pmfs_journal *j = &lx_d.jnl[0];
	struct pmfs_inode *s3 = ilog_slot(&lx_d, 3);
	char why[128];
	uint64_t n;

	j->rec[0].addr = ilog_off(&lx_d, &s3->tail);
	j->rec[0].val = 0xabc000;
	j->state = PMFS_JNL_STATE(1, fmt_jnl_crc(j->rec, 1) ^ 1);
	cr_assert_eq(jnl_check(&lx_d, 0, why, sizeof(why)), -EUCLEAN);
	/* a record that is not a commit word */
	j->rec[0].addr = ilog_off(&lx_d, s3) + 16;
	j->state = PMFS_JNL_STATE(1, fmt_jnl_crc(j->rec, 1));
	cr_assert_eq(jnl_check(&lx_d, 0, why, sizeof(why)), -EUCLEAN);
	cr_assert_eq(recov_journals(&lx_d, &n), -EUCLEAN);
	cr_assert_eq(s3->tail, 0, "nothing applied");
	j->state = 0x1234; /* bad magic */
	cr_assert_eq(jnl_check(&lx_d, 0, why, sizeof(why)), -EUCLEAN);
	j->state = 0;
}

/* LOG(7)(c): a lane's records are not overwritten while its last retire
 * may still be unfenced: jnl_lane_hold moves to a lane whose retire is
 * durable (no extra fence), and a commit forced onto the unfenced lane
 * drains first (one fence more).  The next drain clears the bit. */
Test(jnl, lane_reuse_waits_for_its_retire)
{
	struct jnl_tx t;
	struct pmfs_inode *s3 = ilog_slot(&lx_d, 3);
	unsigned l0, l1;
	uint64_t f0;

	jnl_tx_init(&t);
	cr_assert_eq(jnl_add(&t, &lx_d, &s3->tail, 0x1234000), 0);
	l0 = jnl_lane_hold(&lx_d, 5);
	cr_assert_eq(l0, 5);
	jnl_commit(&lx_d, l0, &t);
	jnl_lane_release(&lx_d, l0);
	cr_assert_eq(atomic_load(&lx_d.retired), 1ull << 5);
	/* same preference: the unfenced lane is passed over */
	l1 = jnl_lane_hold(&lx_d, 5);
	cr_assert_eq(l1, 6);
	f0 = pmio_stats_thread().fences;
	jnl_commit(&lx_d, l1, &t);
	cr_assert_eq(pmio_stats_thread().fences - f0, 3);
	jnl_lane_release(&lx_d, l1);
	/* lane 5's retire was flushed and fenced by that commit */
	cr_assert_eq(atomic_load(&lx_d.retired), 1ull << 6);
	/* forced onto the unfenced lane: one drain more, then clean */
	f0 = pmio_stats_thread().fences;
	jnl_commit(&lx_d, 6, &t);
	cr_assert_eq(pmio_stats_thread().fences - f0, 4);
	cr_assert_eq(atomic_load(&lx_d.retired), 1ull << 6);
	cr_assert_eq(lx_d.jnl[6].state, 0);
	cr_assert_eq(s3->tail, 0x1234000);
}
