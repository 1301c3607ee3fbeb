/*
 * fs_mkfs.c - making a filesystem with the core's own writers: the bad-block
 * table (fmt_badblocks_init), inode-table chunk 0 from the allocator, the
 * root and lost+found made by LOG(8) with logs written by ilog_new,
 * ilog_append and the lent_* builders, the free space stored by
 * alloc_save, and the superblock (fmt_super_init) written last:
 *
 *   step 1  the superblock's magic word to 0, drain, then the copy's, drain:
 *           each is one atomic store, so at any crash the namespace holds
 *           the old filesystem whole, or no pmfs at all (the mount says
 *           "not a pmfs") - never a damaged one, never an old superblock
 *           over new metadata;
 *   step 2  the superblock blocks and the fixed area zeroed (journals
 *           idle, no chunk words), the bad-block table, chunk 0 zeroed and
 *           its directory word, the two directories (pages, entries,
 *           slots, tails), the saved allocator state and a clean
 *           sb_state: flushed, one drain;
 *   step 3  the whole superblock copy and the superblock but its magic,
 *           drain; then the superblock's magic word - the real commit -
 *           drain: until it is durable the namespace is not a pmfs, after
 *           it a clean one.
 *
 * With no mapping nothing is written: the plan and its figures only
 * (mkfs.pmfs -n).  The conventions it establishes are those of fmt.h.
 */
#include "fs/fs_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/fmt.h"
#include "pmemio/pmemio.h"

/* The magic of the superblock in block blk, as a commit word. */
static uint64_t *magic_word(struct ilog_dev *d, uint64_t blk)
{
	struct pmfs_super *sb = ilog_ptr(d, fmt_blk_off(blk));

	return (uint64_t *)(void *)sb->magic;
}

/* Write one new directory ino (slot in chunk 0): its log holds the ATTR of
 * st and, when child is set, the DENTRY_ADD naming child as "lost+found";
 * LOG(8): the slot's head/gen while its tail is 0, then the tail, which
 * nothing reads before the superblock of step 3.  Flushed, no drain. */
static int make_dir(struct ilog_dev *d, struct alloc *a, uint64_t ino,
		    const struct ilog_state *st, uint64_t child)
{
	struct pmfs_inode *slot = ilog_slot(d, ino);
	struct ilog_pos pos;
	struct ilog_tx tx;
	union lent_buf b;
	int err;

	ilog_tx_init(&tx, d, a, 0, 0);
	err = ilog_new(&tx, ino, &pos);
	if (!err)
		err = ilog_append(&tx, ino, &pos, lent_attr(&b, PMFS_AT_ALL, st));
	if (!err && child)
		err = ilog_append(&tx, ino, &pos,
				  lent_dentry(&b, PMFS_LE_DENTRY_ADD, child, 1, 1,
					      DT_DIR, "lost+found", 10,
					      st->nlink, &st->mtime));
	if (err) {
		ilog_tx_abort(&tx);
		return err;
	}
	ilog_slot_init(d, slot, pos.head, ilog_next_gen(slot));
	pmio_commit64(d->p, &slot->tail, pos.tail); /* LOG(8), see step 3 */
	ilog_tx_done(&tx);
	return 0;
}

/* Check the plan: the bad blocks fit the table and lie in the data area. */
static int check_bad(const struct fs_mkfs_opts *o, const struct fmt_geometry *g,
		     char *err, size_t errlen)
{
	for (size_t i = 0; i < o->nbad; i++) {
		if (o->bad[i] >= g->total_blocks) {
			snprintf(err, errlen,
				 "bad block %" PRIu64 " is beyond the end of the "
				 "namespace (%" PRIu64 " blocks)",
				 o->bad[i], g->total_blocks);
			return -ERANGE;
		}
		if (o->bad[i] < g->data_start) {
			snprintf(err, errlen,
				 "bad block %" PRIu64 " is in the fixed metadata "
				 "area (blocks 0..%" PRIu64 "); pmfs cannot use "
				 "this namespace",
				 o->bad[i], g->data_start - 1);
			return -ERANGE;
		}
		if (i && o->bad[i] <= o->bad[i - 1]) {
			snprintf(err, errlen, "bad blocks not sorted");
			return -EINVAL;
		}
	}
	if (o->nbad > PMFS_BADBLK_MAX) {
		snprintf(err, errlen,
			 "%zu bad blocks; the bad-block table holds at most %zu",
			 o->nbad, (size_t)PMFS_BADBLK_MAX);
		return -ERANGE;
	}
	return 0;
}

int fs_mkfs(struct pmio *p, uint64_t ns_bytes, const struct fs_mkfs_opts *o,
	    struct fs_mkfs_info *info, char *err, size_t errlen)
{
	struct pmfs_badblocks *bb = calloc(1, sizeof(*bb));
	struct ilog_state root, lf;
	struct pmfs_sb_state st;
	struct pmfs_super sb;
	struct alloc *a = NULL;
	struct ilog_dev d;
	uint64_t chunk, ino1 = 0, ino2 = 0, head, pages[2], magic;
	int r;

	memset(info, 0, sizeof(*info));
	if (!bb)
		return -ENOMEM;
	r = fmt_geometry(ns_bytes, &info->g);
	if (r) {
		snprintf(err, errlen,
			 "too small (%" PRIu64 " bytes, need at least %u MiB)",
			 ns_bytes, PMFS_MIN_SIZE >> 20);
		goto out;
	}
	r = check_bad(o, &info->g, err, errlen);
	if (!r && (o->incompat & ~PMFS_FEATURE_INCOMPAT_SUPP)) {
		snprintf(err, errlen, "unknown incompatible features 0x%x",
			 o->incompat & ~PMFS_FEATURE_INCOMPAT_SUPP);
		r = -EINVAL;
	}
	if (!r && fmt_super_init(&sb, &info->g, o->uuid, o->label,
				 o->mkfs_time, o->incompat)) {
		snprintf(err, errlen, "label longer than %u bytes",
			 PMFS_LABEL_MAX);
		r = -ENAMETOOLONG;
	}
	if (r)
		goto out;
	/* the plan: free space, chunk 0, then the directories' pages */
	fmt_badblocks_init(bb, o->bad, (uint32_t)o->nbad);
	r = alloc_create(NULL, bb, info->g.data_start, info->g.total_blocks, 1,
			 false, &a);
	if (!r)
		r = alloc_ino_add_chunk(a, 0);
	if (!r)
		r = alloc_contig(a, 0, PMFS_CHUNK_BLOCKS, 0, &chunk);
	if (!r)
		r = alloc_ino_get(a, &ino1);
	if (!r)
		r = alloc_ino_get(a, &ino2);
	if (r == -ENOSPC || ino1 != PMFS_ROOT_INO || ino2 != PMFS_LOSTFOUND_INO)
		snprintf(err, errlen,
			 "not enough good blocks for the initial filesystem");
	if (r)
		goto out;
	info->chunk0 = chunk;
	info->nbad = o->nbad;
	if (!p) { /* a dry run: the pages and the saved state, counted */
		for (int i = 0; i < 2 && !r; i++)
			r = alloc_block(a, 0, 0, &pages[i]);
		if (!r)
			info->free_blocks = alloc_free_blocks(a) -
					    alloc_save_size(a);
		goto out;
	}

	/* step 1: no pmfs on the namespace from here until step 3 */
	ilog_dev_view(&d, p, &info->g);
	d.incompat = o->incompat;
	pmio_commit64(p, magic_word(&d, PMFS_SB_BLOCK), 0);
	pmio_drain(p); /* ORDER: the old superblock void before its copy */
	pmio_commit64(p, magic_word(&d, PMFS_SB_COPY_BLOCK), 0);
	pmio_drain(p); /* ORDER: no old superblock before other writes */

	/* step 2: everything the superblock will point at */
	pmio_memset_nodrain(p, d.base, 0, fmt_blk_off(info->g.data_start));
	pmio_memcpy_nodrain(p, ilog_ptr(&d, fmt_blk_off(PMFS_BADBLK_BLOCK)), bb,
			    sizeof(*bb));
	pmio_memset_nodrain(p, ilog_ptr(&d, fmt_blk_off(chunk)), 0,
			    fmt_blk_off(PMFS_CHUNK_BLOCKS));
	pmio_commit64(p, &d.itdir[0], chunk);
	memset(&root, 0, sizeof(root));
	root.mode = S_IFDIR | 0755;
	root.nlink = 3; /* ".", its own "..", lost+found's ".." */
	root.parent = PMFS_ROOT_INO;
	root.atime.tv_sec = (time_t)o->mkfs_time;
	root.mtime = root.ctime = root.btime = root.atime;
	lf = root;
	lf.mode = S_IFDIR | 0700;
	lf.nlink = 2;
	r = make_dir(&d, a, PMFS_ROOT_INO, &root, PMFS_LOSTFOUND_INO);
	if (!r)
		r = make_dir(&d, a, PMFS_LOSTFOUND_INO, &lf, 0);
	if (!r)
		r = alloc_save(a, p, pmio_base(p), &head);
	if (r) {
		snprintf(err, errlen,
			 "not enough good blocks for the initial filesystem");
		goto out;
	}
	info->free_blocks = alloc_free_blocks(a);
	memset(&st, 0, sizeof(st));
	st.clean = PMFS_STATE_CLEAN;
	st.alloc_head = head;
	st.free_blocks = info->free_blocks;
	st.used_inodes = 2;
	pmio_memcpy_nodrain(p, d.state, &st, sizeof(st));
	pmio_drain(p); /* ORDER: all metadata durable before the superblock */

	/* step 3: the superblocks, the primary's magic last */
	pmio_memcpy_nodrain(p, ilog_ptr(&d, fmt_blk_off(PMFS_SB_COPY_BLOCK)),
			    &sb, sizeof(sb));
	pmio_memcpy_nodrain(p, d.base + PMFS_MAGIC_LEN,
			    (const uint8_t *)&sb + PMFS_MAGIC_LEN,
			    sizeof(sb) - PMFS_MAGIC_LEN);
	pmio_drain(p); /* ORDER: the rest durable before the magic says pmfs */
	memcpy(&magic, sb.magic, sizeof(magic));
	pmio_commit64(p, magic_word(&d, PMFS_SB_BLOCK), magic); /* the real
								     commit */
	pmio_drain(p); /* ORDER: the filesystem exists before mkfs reports */
out:
	alloc_destroy(a);
	free(bb);
	return r;
}
