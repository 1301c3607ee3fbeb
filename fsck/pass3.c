/*
 * pass3.c - pass 3: the inode table and every log chain.
 *
 * Checks every inode-table directory word by the core's rule
 * (ilog_chunk_check: a chunk inside the data area, not over another;
 * chunk 0 present), then every slot in use (not on a bad block): its log
 * is walked with ilog_walk2() (page headers, owner, page and entry
 * sequence, entry checksums and lengths, cycles; the core's one parser),
 * and every entry goes through ilog_apply, whose lent_check is the one
 * validator of entry contents the mount uses too (the first entry sets
 * every attribute, entry types fit the inode's type, block numbers lie in
 * the data area, names are valid).  A log is cut
 * at its first bad entry: the tail is moved back to the end of the last
 * good entry (the single-inode commit, LOG(4)); an inode with no good
 * entry, or a symlink without a target, is cleared; ilog_walk2 says why
 * a walk stopped, for the message.  The result is the model of every
 * inode (attributes, extents, entries, xattrs, pages) that the later
 * passes check; what each entry means is the core's ilog_apply (log.h,
 * "replay", the rules fs_apply follows too): the model only stores what
 * its callbacks hand over.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/alloc.h"
#include "format/fmt.h"
#include "fsck.h"
#include "pmemio/pmemio.h"

/* Report inode ip as damaged beyond use and clear it (when allowed). */
static void clear_inode(struct fsck *f, struct fino *ip, const char *code,
			const char *what)
{
	if (fsck_problem(f, 0, code, ip->ino, "Clear the inode",
			 "Inode %" PRIu64 ": %s", ip->ino, what))
		fsck_clear_inode(f, ip);
	ip->cleared = true; /* later passes see the repaired state */
	f->inodes_cleared++;
}

/* Walk the log of ino into a new model; cut it after its last good entry or
 * clear the inode. */
static int check_inode(struct fsck *f, uint64_t ino, struct pmfs_inode *slot)
{
	struct fino *ip = calloc(1, sizeof(*ip));
	uint64_t head = fsck_word(f, &slot->head);
	uint64_t tail = fsck_word(f, &slot->tail);
	struct fsck_walk w;
	int r;

	if (!ip)
		return -ENOMEM;
	ip->ino = ino;
	ip->gen = slot->gen;
	f->chunk[fmt_ino_chunk(ino)][ino % PMFS_INODES_PER_CHUNK] = ip;
	f->ninodes++;
	r = fsck_model_walk(f, ip, head, tail, &w);
	if (r == -ENOMEM)
		return r;
	if (r) {
		if (!w.last_end) {
			clear_inode(f, ip, "log-empty",
				    w.why[0] ? w.why
					     : "log has no valid entry");
			return 0;
		}
		if (fsck_problem(f, 0, "log-cut", ino,
				 "Cut the log after the last good entry",
				 "Inode %" PRIu64 ": log damaged after entry %" PRIu64
				 " (%s)",
				 ino, w.last_seq,
				 w.why[0] ? w.why
					  : "bad entry, page or link"))
			fsck_set_tail(f, ino, w.last_end);
		f->logs_cut++;
		tail = w.last_end;
		r = fsck_model_walk(f, ip, head, tail, &w);
		if (r == -ENOMEM)
			return r;
		if (r) { /* cannot happen: the same entries walked before */
			clear_inode(f, ip, "log-empty", "log cannot be cut");
			return 0;
		}
	}
	if (ip->nentries == 0) { /* tail at the start of its first page */
		clear_inode(f, ip, "log-empty", "log has no entry");
		return 0;
	}
	if (S_ISLNK(ip->mode) && !ip->has_target) {
		clear_inode(f, ip, "symlink-no-target",
			    "symlink without a target");
		return 0;
	}
	return 0;
}

/* ilog_chunk_check's view of earlier chunks: those pass 3 kept. */
static bool chunk_kept(void *arg, uint64_t k)
{
	return ((struct fsck *)arg)->chunk[k] != NULL;
}

/* Inode-table directory words, by the core's rule (ilog_chunk_check). */
static void check_itdir(struct fsck *f)
{
	char why[160];

	for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES; c++) {
		if (!f->d.itdir[c])
			continue;
		if (ilog_chunk_check(&f->d, f->d.itdir, c, chunk_kept, f, why,
				     sizeof(why)) != 0) {
			if (fsck_problem(f, 0, "itable-chunk", 0,
					 "Drop the chunk", "%s", why))
				fsck_drop_chunk(f, c);
			continue;
		}
		f->chunk[c] = calloc(PMFS_INODES_PER_CHUNK, sizeof(struct fino *));
		if (!f->chunk[c]) {
			fsck_operr(f, "out of memory");
			return;
		}
		for (uint64_t k = 0; k < PMFS_CHUNK_BLOCKS; k++)
			if (alloc_is_bad(f->a, f->d.itdir[c] + k))
				f->chunk_bad[c] |= 1ull << k;
	}
}

int fsck_pass3(struct fsck *f)
{
	uint64_t nchunks = 0, done = 0;
	struct fino *ip;
	int err;

	fsck_pass(f, 3, "Checking the inode table and every log");
	check_itdir(f);
	if (f->operr)
		return -1;
	if (!f->chunk[0]) {
		fsck_problem(f, PR_NOFIX, "no-root-chunk", 0, "",
			     "Inode-table chunk 0 (the root directory) is "
			     "missing");
		return -1;
	}
	for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES; c++)
		nchunks += f->chunk[c] != NULL;
	FOR_EACH_SLOT(f, c, i, ino)
	{
		struct pmfs_inode *slot;

		if (fsck_cancel)
			return -1;
		fsck_progress(f, done++, nchunks * PMFS_INODES_PER_CHUNK);
		if (ino == 0)
			continue;
		if (f->chunk_bad[c] & (1ull << (i / PMFS_INODES_PER_BLOCK)))
			continue; /* on a bad block: pass 4 says so */
		slot = ilog_slot(&f->d, ino);
		if (!slot || !fsck_word(f, &slot->tail))
			continue;
		err = check_inode(f, ino, slot);
		if (err) {
			fsck_operr(f, "out of memory");
			return -1;
		}
	}
	fsck_progress(f, 1, 1);
	f->ninodes = 0;
	FOR_EACH_INO(f, ip, ino)
	{
		f->ninodes++;
		f->log_pages += ip->npages;
		if (S_ISREG(ip->mode))
			f->nfiles++;
		else if (S_ISDIR(ip->mode))
			f->ndirs++;
		else if (S_ISLNK(ip->mode))
			f->nsymlinks++;
		else
			f->nother++;
	}
	fsck_info(f, "  %" PRIu64 " inodes in %" PRIu64 " chunks: %" PRIu64
		     " files, %" PRIu64 " directories, %" PRIu64
		     " symlinks, %" PRIu64 " other; %" PRIu64
		     " log pages; %" PRIu64 " logs cut, %" PRIu64 " cleared",
		  f->ninodes, nchunks, f->nfiles, f->ndirs, f->nsymlinks,
		  f->nother, f->log_pages, f->logs_cut, f->inodes_cleared);
	return 0;
}
