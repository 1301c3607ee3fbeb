/*
 * test_ilog_replay.c - the shared meaning of a log (ilog_replay.c) and the
 * walk's error report: ilog_walk2 says why and where it stopped,
 * ilog_apply/ilog_replay follow the override rules of log.h, and
 * ilog_make_inode makes an inode that replays to its first attributes.
 */
#include <dirent.h>

#include "logfix.h"

TestSuite(ilog_replay, .init = lx_setup, .fini = lx_teardown);

#define RINO 3

struct rb {
	struct ilog_tx tx;
	struct ilog_pos pos;
};

static void rb_start(struct rb *b)
{
	ilog_tx_init(&b->tx, &lx_d, lx_a, 0, 0);
	cr_assert_eq(ilog_new(&b->tx, RINO, &b->pos), 0);
}

static void rb_add(struct rb *b, struct pmfs_lentry *e)
{
	cr_assert_eq(ilog_append(&b->tx, RINO, &b->pos, e), 0);
}

static struct pmfs_inode *rb_commit(struct rb *b)
{
	struct pmfs_inode *s = ilog_slot(&lx_d, RINO);

	pmio_store64(lx_p, &s->head, b->pos.head);
	ilog_commit_tail(&lx_d, RINO, b->pos.tail);
	ilog_tx_done(&b->tx);
	return s;
}

static void attr(struct rb *b, uint32_t mask, uint32_t mode, uint64_t size)
{
	struct pmfs_le_attr a;

	memset(&a, 0, sizeof(a));
	a.h.type = PMFS_LE_ATTR;
	a.h.len = sizeof(a);
	a.mask = mask;
	a.mode = mode;
	a.nlink = 1;
	a.size = size;
	a.mtime.sec = 7;
	rb_add(b, &a.h);
}

static void wr(struct rb *b, uint64_t pg, uint32_t n, uint64_t blk,
	       uint32_t flags, uint64_t size)
{
	struct pmfs_le_write w;

	memset(&w, 0, sizeof(w));
	w.h.type = PMFS_LE_WRITE;
	w.h.len = sizeof(w);
	w.pgoff = pg;
	w.nblocks = n;
	w.blk = blk;
	w.flags = flags;
	w.size = size;
	w.mtime.sec = 100 + pg;
	rb_add(b, &w.h);
}

static void dent(struct rb *b, uint16_t type, const char *name,
		 uint64_t cookie, uint32_t nlink)
{
	uint64_t buf[48];
	struct pmfs_le_dentry *d = (void *)buf;
	size_t n = strlen(name);

	memset(buf, 0, sizeof(buf));
	d->h.type = type;
	d->h.len = fmt_dentry_len((unsigned)n);
	d->ino = strcmp(name, ".") ? 9 : 0; /* "." : the compaction marker */
	d->ftype = DT_REG;
	d->cookie = cookie;
	d->dir_nlink = nlink;
	d->name_len = (uint8_t)n;
	memcpy(d->name, name, n);
	rb_add(b, &d->h);
}

static void xat(struct rb *b, uint16_t type, const char *name,
		const char *val)
{
	uint64_t buf[32];
	struct pmfs_le_xattr *x = (void *)buf;
	size_t n = strlen(name), v = val ? strlen(val) : 0;

	memset(buf, 0, sizeof(buf));
	x->h.type = type;
	x->h.len = (uint16_t)((sizeof(*x) + n + v + 7) & ~7u);
	x->name_len = (uint8_t)n;
	x->value_len = (uint16_t)v;
	memcpy(x->data, name, n);
	if (v)
		memcpy(x->data + n, val, v);
	rb_add(b, &x->h);
}

/* A small model the callbacks keep: 16 pages, names, xattrs. */
struct model {
	uint64_t pg[16];
	int names, dels_absent, xsets, xdels, entries, pages;
	char name[8][16];
};

static int m_extent(void *arg, uint64_t pgoff, uint64_t n, uint64_t blk,
		    uint32_t flags)
{
	struct model *m = arg;

	for (uint64_t i = 0; i < n && pgoff + i < 16; i++)
		m->pg[pgoff + i] = (flags & PMFS_WR_HOLE) ? 0 : blk + i;
	return 0;
}

static int m_truncate(void *arg, uint64_t from)
{
	struct model *m = arg;

	for (uint64_t i = from; i < 16; i++)
		m->pg[i] = 0;
	return 0;
}

static int m_add(void *arg, const struct pmfs_le_dentry *de)
{
	struct model *m = arg;

	cr_assert_lt(m->names, 8);
	memcpy(m->name[m->names], de->name, de->name_len);
	m->name[m->names++][de->name_len] = 0;
	return 0;
}

static int m_del(void *arg, const struct pmfs_le_dentry *de)
{
	struct model *m = arg;

	for (int i = 0; i < m->names; i++)
		if (strlen(m->name[i]) == de->name_len &&
		    !memcmp(m->name[i], de->name, de->name_len)) {
			m->name[i][0] = 0;
			return 0;
		}
	m->dels_absent++;
	return 0;
}

static int m_xset(void *arg, const char *name, size_t nlen, const void *val,
		  size_t vlen, uint64_t blk)
{
	((struct model *)arg)->xsets++;
	return 0;
}

static int m_xdel(void *arg, const char *name, size_t nlen)
{
	((struct model *)arg)->xdels++;
	return 0;
}

static int m_entry(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	((struct model *)arg)->entries++;
	return 0;
}

static int m_page(void *arg, uint64_t off)
{
	((struct model *)arg)->pages++;
	return 0;
}

static const struct ilog_replay_ops m_ops = {
	.entry = m_entry,
	.page = m_page,
	.extent = m_extent,
	.truncate = m_truncate,
	.dentry_add = m_add,
	.dentry_del = m_del,
	.xattr_set = m_xset,
	.xattr_del = m_xdel,
};

Test(ilog_replay, later_entries_win_and_truncate_drops)
{
	uint64_t b0 = lx_d.data_start + 200;
	struct model m = { .names = 0 };
	struct ilog_state st;
	struct ilog_pos end;
	struct ilog_err ie;
	struct rb b;

	rb_start(&b);
	attr(&b, PMFS_AT_ALL, 0100644, 0);
	wr(&b, 0, 4, b0, 0, 4 * 4096);         /* pages 0..3 */
	wr(&b, 1, 1, b0 + 10, 0, 4 * 4096);    /* overwrite page 1 */
	wr(&b, 2, 1, 0, PMFS_WR_HOLE, 4 * 4096); /* punch page 2 */
	attr(&b, PMFS_AT_SIZE, 0, 4097);       /* drops page 2 onwards */
	wr(&b, 8, 1, b0 + 20, PMFS_WR_UNWRITTEN, 4097); /* keep-size alloc */
	wr(&b, 0, 1, b0 + 30, 0, 100);         /* shrinking write */
	xat(&b, PMFS_LE_XATTR_SET, "user.a", "v");
	xat(&b, PMFS_LE_XATTR_DEL, "user.a", NULL);
	rb_commit(&b);
	cr_assert_eq(ilog_replay(&lx_d, RINO, &m_ops, &m, &st, &end, &ie), 0);
	cr_assert_eq(ie.reason, ILOG_E_NONE);
	cr_assert_eq(st.nentries, 9);
	cr_assert_eq(m.entries, 9);
	cr_assert_eq(m.pages, 1);
	cr_assert_eq(end.seq, 9);
	cr_assert_eq(st.mode, 0100644);
	cr_assert_eq(st.size, 100);
	cr_assert_eq(m.pg[0], b0 + 30);
	cr_assert_eq(m.pg[1], 0, "page 1 is past size 100");
	cr_assert_eq(m.pg[3], 0);
	cr_assert_eq(m.pg[8], 0, "truncated by the shrinking write");
	cr_assert_eq(st.mtime.tv_sec, 100);
	cr_assert_eq(m.xsets, 1);
	cr_assert_eq(m.xdels, 1);
}

Test(ilog_replay, absent_del_allowed_and_raises_maxcookie)
{
	struct model m = { .names = 0 };
	struct ilog_state st;
	struct rb b;

	rb_start(&b);
	attr(&b, PMFS_AT_ALL, 040755, 0);
	dent(&b, PMFS_LE_DENTRY_ADD, "a", 3, 2);
	dent(&b, PMFS_LE_DENTRY_DEL, ".", 41, 2); /* compaction's "." DEL */
	dent(&b, PMFS_LE_DENTRY_ADD, "b", 5, 3);
	dent(&b, PMFS_LE_DENTRY_DEL, "a", 3, 3);
	rb_commit(&b);
	cr_assert_eq(ilog_replay(&lx_d, RINO, &m_ops, &m, &st, NULL, NULL), 0);
	cr_assert_eq(m.dels_absent, 1);
	cr_assert_eq(st.maxcookie, 41);
	cr_assert_eq(st.nlink, 3);
	cr_assert_str_eq(m.name[1], "b");
	cr_assert_eq(m.name[0][0], 0, "a was removed");
}

Test(ilog_replay, bad_contents_are_eio)
{
	struct model m = { .names = 0 };
	struct ilog_state st;
	struct rb b;

	rb_start(&b);
	attr(&b, PMFS_AT_ALL, 0100644, 0);
	wr(&b, 0, 1, lx_d.total_blocks + 5, 0, 4096); /* outside the device */
	rb_commit(&b);
	cr_assert_eq(ilog_replay(&lx_d, RINO, &m_ops, &m, &st, NULL, NULL),
		     -EIO);
	cr_assert_eq(ilog_replay(&lx_d, 0, &m_ops, &m, &st, NULL, NULL),
		     -EINVAL);
	cr_assert_eq(ilog_replay(&lx_d, 6, &m_ops, &m, &st, NULL, NULL),
		     -ENOENT, "a free slot");
}

static int stop_at_3(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	return e->seq == 3 ? 77 : 0;
}

Test(ilog_replay, walk2_says_why_and_where)
{
	struct pmfs_inode *s;
	struct ilog_err ie;
	uint8_t *p;
	struct rb b;

	rb_start(&b);
	for (int i = 0; i < 5; i++)
		attr(&b, PMFS_AT_ALL, 0100644, (uint64_t)i);
	s = rb_commit(&b);
	cr_assert_eq(ilog_walk2(&lx_d, RINO, s->head, s->tail, NULL, NULL,
				NULL, true, NULL, &ie), 0);
	cr_assert_eq(ie.reason, ILOG_E_NONE);
	cr_assert_eq(ilog_walk2(&lx_d, RINO, s->head, s->tail, stop_at_3, NULL,
				NULL, true, NULL, &ie), 77);
	cr_assert_eq(ie.reason, ILOG_E_CALLBACK);
	cr_assert_eq(ie.off, s->head + 32 + 2 * 128);
	cr_assert_eq(ilog_walk2(&lx_d, RINO, s->head, s->tail + 4, NULL, NULL,
				NULL, true, NULL, &ie), -EIO);
	cr_assert_eq(ie.reason, ILOG_E_TAIL);
	cr_assert_eq(ie.off, s->tail + 4);
	p = ilog_ptr(&lx_d, s->head);
	p[32 + 128 * 3 + 60] ^= 1;
	cr_assert_eq(ilog_walk2(&lx_d, RINO, s->head, s->tail, NULL, NULL,
				NULL, true, NULL, &ie), -EIO);
	cr_assert_eq(ie.reason, ILOG_E_ENTRY);
	cr_assert_eq(ie.off, s->head + 32 + 3 * 128);
	cr_assert(strstr(ie.msg, "bad entry at") != NULL, "%s", ie.msg);
	p[32 + 128 * 3 + 60] ^= 1;
	p[0] ^= 1; /* page header */
	cr_assert_eq(ilog_walk2(&lx_d, RINO, s->head, s->tail, NULL, NULL,
				NULL, true, NULL, &ie), -EIO);
	cr_assert_eq(ie.reason, ILOG_E_PAGE);
	cr_assert_eq(ie.off, s->head);
}

Test(ilog_replay, make_inode_replays_to_its_attributes)
{
	struct pmfs_inode *s = ilog_slot(&lx_d, 5);
	struct ilog_state a;
	struct model m = { .names = 0 };
	struct ilog_state st;
	struct ilog_pos pos;
	uint32_t gen, oldgen = s->gen;
	char why[128];

	memset(&a, 0, sizeof(a));
	a.mode = 040700;
	a.nlink = 2;
	a.parent = 1;
	cr_assert_eq(ilog_make_inode(&lx_d, lx_a, 5, &a, &gen, &pos), 0);
	cr_assert_neq(s->tail, 0);
	cr_assert_eq(s->head, pos.head);
	cr_assert_eq(s->gen, gen);
	cr_assert_eq(gen, oldgen + 1);
	cr_assert_eq(pos.npages, 1);
	cr_assert(!alloc_is_free(lx_a, fmt_off_blk(pos.head)));
	cr_assert_eq(ilog_replay(&lx_d, 5, &m_ops, &m, &st, NULL, NULL), 0);
	cr_assert_eq(st.mode, 040700);
	cr_assert_eq(st.nlink, 2);
	cr_assert_eq(st.parent, 1);
	for (unsigned l = 0; l < lx_d.nlanes; l++)
		cr_assert_eq(jnl_check(&lx_d, l, why, sizeof(why)), 0,
			     "journal lane %u idle after", l);
	cr_assert_eq(ilog_make_inode(&lx_d, lx_a, 5, &a, &gen, &pos), -EEXIST);
	cr_assert_eq(ilog_make_inode(&lx_d, lx_a, 0, &a, &gen, &pos), -EINVAL);
}
