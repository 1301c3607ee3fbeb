/*
 * test_ilog.c - per-inode logs: append across page boundaries, the tail
 * rules, checksum failure -> EIO, page seq / cycle detection, range checks.
 */
#include "logfix.h"

TestSuite(ilog, .init = lx_setup, .fini = lx_teardown);

struct cnt {
	uint64_t n, last_seq, pages;
};

static int count_e(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	struct cnt *c = arg;

	cr_assert_eq(e->seq, c->last_seq + 1);
	c->last_seq = e->seq;
	c->n++;
	return 0;
}

static int count_p(void *arg, uint64_t off)
{
	((struct cnt *)arg)->pages++;
	return 0;
}

/* Build a log for inode 3 with n attr entries, committed by hand. */
static struct pmfs_inode *build(uint64_t n, struct ilog_pos *pos)
{
	struct pmfs_inode *s = ilog_slot(&lx_d, 3);
	struct ilog_tx tx;
	struct pmfs_le_attr a;

	ilog_tx_init(&tx, &lx_d, lx_a, 0, 0);
	cr_assert_eq(ilog_new(&tx, 3, pos), 0);
	for (uint64_t i = 0; i < n; i++) {
		memset(&a, 0, sizeof(a));
		a.h.type = PMFS_LE_ATTR;
		a.h.len = sizeof(a);
		a.mask = i == 0 ? PMFS_AT_ALL : PMFS_AT_SIZE;
		a.size = i;
		cr_assert_eq(ilog_append(&tx, 3, pos, &a.h), 0);
	}
	pmio_store64(lx_p, &s->head, pos->head);
	ilog_commit_tail(&lx_d, 3, pos->tail);
	return s;
}

Test(ilog, append_across_pages)
{
	struct ilog_pos pos, end;
	struct pmfs_inode *s = build(100, &pos); /* 128 B each: 4 pages */
	struct cnt c = { 0 };

	cr_assert_eq(pos.npages, 4);
	cr_assert_eq(pos.seq, 100);
	cr_assert(s->tail > fmt_off_blk(s->tail - 1) * 4096 + 32);
	cr_assert_eq(ilog_walk(&lx_d, 3, s->head, s->tail, count_e, count_p,
			       &c, false, &end), 0);
	cr_assert_eq(c.n, 100);
	cr_assert_eq(c.pages, 4);
	cr_assert_eq(end.seq, 100);
	cr_assert_eq(end.pageseq, 3);
	/* a tail exactly at a page end is legal */
}

Test(ilog, entries_past_tail_do_not_exist)
{
	struct ilog_pos pos;
	struct pmfs_inode *s = build(10, &pos);
	struct cnt c = { 0 };
	uint64_t old = s->tail;

	/* an uncommitted append is invisible */
	{
		struct ilog_tx tx;
		struct pmfs_le_attr a;

		ilog_tx_init(&tx, &lx_d, lx_a, 0, 0);
		memset(&a, 0, sizeof(a));
		a.h.type = PMFS_LE_ATTR;
		a.h.len = sizeof(a);
		cr_assert_eq(ilog_append(&tx, 3, &pos, &a.h), 0);
	}
	cr_assert_eq(s->tail, old);
	cr_assert_eq(ilog_walk(&lx_d, 3, s->head, s->tail, count_e, NULL, &c,
			       false, NULL), 0);
	cr_assert_eq(c.n, 10);
}

Test(ilog, crc_failure_is_eio)
{
	struct ilog_pos pos;
	struct pmfs_inode *s = build(5, &pos);
	uint8_t *b = ilog_ptr(&lx_d, s->head);

	b[32 + 128 * 2 + 50] ^= 1;
	cr_assert_eq(ilog_walk(&lx_d, 3, s->head, s->tail, NULL, NULL, NULL,
			       true, NULL), -EIO);
	/* an entry moved to another inode's log does not verify */
	b[32 + 128 * 2 + 50] ^= 1;
	cr_assert_eq(ilog_walk(&lx_d, 4, s->head, s->tail, NULL, NULL, NULL,
			       true, NULL), -EIO);
}

Test(ilog, cycle_and_bad_links_detected)
{
	struct ilog_pos pos;
	struct pmfs_inode *s = build(100, &pos);
	struct pmfs_logpage *p0 = ilog_ptr(&lx_d, s->head);
	struct pmfs_logpage *p1 = ilog_ptr(&lx_d, p0->next);
	uint64_t save = p1->next;

	/* point page 1 back at page 0 */
	p1->next = s->head;
	cr_assert_eq(ilog_walk(&lx_d, 3, s->head, s->tail, NULL, NULL, NULL,
			       true, NULL), -EIO);
	/* out of range */
	p1->next = lx_d.total_blocks * 4096;
	cr_assert_eq(ilog_walk(&lx_d, 3, s->head, s->tail, NULL, NULL, NULL,
			       true, NULL), -EIO);
	p1->next = save + 8; /* misaligned */
	cr_assert_eq(ilog_walk(&lx_d, 3, s->head, s->tail, NULL, NULL, NULL,
			       true, NULL), -EIO);
	p1->next = save;
	cr_assert_eq(ilog_walk(&lx_d, 3, s->head, s->tail, NULL, NULL, NULL,
			       true, NULL), 0);
	/* bad head / tail */
	cr_assert_eq(ilog_walk(&lx_d, 3, 4096, s->tail, NULL, NULL, NULL, true,
			       NULL), -EIO);
	cr_assert_eq(ilog_walk(&lx_d, 3, s->head, s->tail + 4, NULL, NULL,
			       NULL, true, NULL), -EIO);
}

Test(ilog, slot_range_checks)
{
	cr_assert_not_null(ilog_slot(&lx_d, 1));
	cr_assert_null(ilog_slot(&lx_d, 0));
	cr_assert_null(ilog_slot(&lx_d, PMFS_INODES_PER_CHUNK));
	cr_assert_null(ilog_slot(&lx_d, PMFS_MAX_INODES));
	cr_assert(!ilog_page_ok(&lx_d, 4096));
	cr_assert(ilog_page_ok(&lx_d, lx_d.data_start * 4096));
	cr_assert(!ilog_page_ok(&lx_d, lx_d.data_start * 4096 + 64));
}
