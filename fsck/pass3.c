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

#define NSEC_MAX 999999999u

struct fino *fsck_ino(const struct fsck *f, uint64_t ino)
{
	uint64_t c;
	struct fino *ip;

	if (ino == 0 || ino >= PMFS_MAX_INODES)
		return NULL;
	c = fmt_ino_chunk(ino);
	if (!f->chunk[c])
		return NULL;
	ip = f->chunk[c][ino % PMFS_INODES_PER_CHUNK];
	return ip && !ip->cleared ? ip : NULL;
}

/* ---- the model ------------------------------------------------------- */

void fsck_model_reset(struct fino *ip)
{
	for (size_t i = 0; i < ip->nde; i++)
		free(ip->de[i].name);
	for (size_t i = 0; i < ip->nxa; i++)
		free(ip->xa[i].name);
	free(ip->de);
	free(ip->ht);
	free(ip->xa);
	free(ip->ext);
	free(ip->pages);
	ip->de = NULL;
	ip->ht = NULL;
	ip->htcap = 0;
	ip->xa = NULL;
	ip->ext = NULL;
	ip->pages = NULL;
	ip->nde = ip->decap = ip->nxa = ip->xacap = 0;
	ip->next = ip->extcap = ip->npages = ip->pagecap = 0;
	ip->maxcookie = 0;
	ip->has_target = false;
	ip->sllen = 0;
	ip->slblk = 0;
	ip->nentries = 0;
	ip->mode = ip->nlink = 0;
	ip->size = ip->parent = 0;
	memset(&ip->st, 0, sizeof(ip->st));
}

void fsck_model_free(struct fsck *f)
{
	for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES; c++) {
		if (!f->chunk[c])
			continue;
		for (uint64_t i = 0; i < PMFS_INODES_PER_CHUNK; i++) {
			struct fino *ip = f->chunk[c][i];

			if (ip) {
				fsck_model_reset(ip);
				free(ip);
			}
		}
		free(f->chunk[c]);
		f->chunk[c] = NULL;
	}
}

/* Remove file blocks [s, e) from the extent map. */
static int ext_punch(struct fino *ip, uint64_t s, uint64_t e)
{
	struct fext *n;
	size_t k = 0;

	if (!ip->next)
		return 0;
	n = malloc((ip->next + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < ip->next; i++) {
		struct fext x = ip->ext[i];
		uint64_t xe = x.pgoff + x.n;

		if (xe <= s || x.pgoff >= e) {
			n[k++] = x;
			continue;
		}
		if (x.pgoff < s)
			n[k++] = (struct fext){ x.pgoff, s - x.pgoff, x.blk,
						x.flags };
		if (xe > e)
			n[k++] = (struct fext){ e, xe - e,
						x.blk + (e - x.pgoff),
						x.flags };
	}
	free(ip->ext);
	ip->ext = n;
	ip->extcap = ip->next + 1;
	ip->next = k;
	return 0;
}

static int ext_set(struct fino *ip, uint64_t pgoff, uint64_t n, uint64_t blk,
		   uint32_t flags)
{
	size_t i;
	int err = ext_punch(ip, pgoff, pgoff + n);

	if (err || blk == 0)
		return err;
	if (ip->next == ip->extcap) {
		size_t nc = ip->extcap ? ip->extcap * 2 : 8;
		struct fext *x = realloc(ip->ext, nc * sizeof(*x));

		if (!x)
			return -ENOMEM;
		ip->ext = x;
		ip->extcap = nc;
	}
	for (i = ip->next; i > 0 && ip->ext[i - 1].pgoff > pgoff; i--)
		ip->ext[i] = ip->ext[i - 1];
	ip->ext[i] = (struct fext){ pgoff, n, blk, flags };
	ip->next++;
	return 0;
}

/*
 * Directory entries: an array in no particular order (a removal moves the
 * last entry into the hole) and, once a directory has DIR_HASH_MIN
 * entries, an open-addressing hash of their names (linear probing,
 * backward-shift deletion), so that building a directory of n entries
 * from its log costs O(n), not O(n^2).
 */
#define DIR_HASH_MIN 16

static uint64_t name_hash(const char *name, size_t nlen)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < nlen; i++)
		h = (h ^ (uint8_t)name[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static void ht_put(struct fino *dir, size_t idx)
{
	size_t m = dir->htcap - 1;
	size_t s = (size_t)name_hash(dir->de[idx].name, dir->de[idx].nlen) & m;

	while (dir->ht[s])
		s = (s + 1) & m;
	dir->ht[s] = (uint32_t)idx + 1;
}

/* (Re)build the hash with room for twice the entries; 0 or -ENOMEM. */
static int ht_build(struct fino *dir)
{
	size_t cap = 64;
	uint32_t *n;

	while (cap < 2 * (dir->nde + 1))
		cap *= 2;
	n = calloc(cap, sizeof(*n));
	if (!n)
		return -ENOMEM;
	free(dir->ht);
	dir->ht = n;
	dir->htcap = cap;
	for (size_t i = 0; i < dir->nde; i++)
		ht_put(dir, i);
	return 0;
}

/* The hash slot holding entry idx (which must be in the hash). */
static size_t ht_slot(const struct fino *dir, size_t idx)
{
	size_t m = dir->htcap - 1;
	size_t s = (size_t)name_hash(dir->de[idx].name, dir->de[idx].nlen) & m;

	while (dir->ht[s] != idx + 1)
		s = (s + 1) & m;
	return s;
}

/* Take slot s out of the hash (backward-shift deletion). */
static void ht_del(struct fino *dir, size_t s)
{
	size_t m = dir->htcap - 1, j = s;

	dir->ht[s] = 0;
	for (;;) {
		size_t k, i;

		j = (j + 1) & m;
		if (!dir->ht[j])
			return;
		i = dir->ht[j] - 1;
		k = (size_t)name_hash(dir->de[i].name, dir->de[i].nlen) & m;
		/* move j to s unless its home k lies cyclically in (s, j] */
		if (s <= j ? (s < k && k <= j) : (s < k || k <= j))
			continue;
		dir->ht[s] = dir->ht[j];
		dir->ht[j] = 0;
		s = j;
	}
}

struct fdent *fsck_dir_find(struct fino *dir, const char *name, size_t nlen)
{
	if (dir->ht) {
		size_t m = dir->htcap - 1;
		size_t s = (size_t)name_hash(name, nlen) & m;

		for (; dir->ht[s]; s = (s + 1) & m) {
			struct fdent *x = &dir->de[dir->ht[s] - 1];

			if (x->nlen == nlen && memcmp(x->name, name, nlen) == 0)
				return x;
		}
		return NULL;
	}
	for (size_t i = 0; i < dir->nde; i++)
		if (dir->de[i].nlen == nlen &&
		    memcmp(dir->de[i].name, name, nlen) == 0)
			return &dir->de[i];
	return NULL;
}

static void dent_remove(struct fino *dir, struct fdent *x)
{
	size_t i = (size_t)(x - dir->de), last = dir->nde - 1;

	if (dir->ht) {
		ht_del(dir, ht_slot(dir, i));
		if (i != last)
			dir->ht[ht_slot(dir, last)] = (uint32_t)i + 1;
	}
	free(x->name);
	if (i != last)
		dir->de[i] = dir->de[last];
	dir->nde--;
}

static int dent_add(struct fino *dir, const struct pmfs_le_dentry *de)
{
	struct fdent *x = fsck_dir_find(dir, (const char *)de->name,
					de->name_len);

	if (x)
		dent_remove(dir, x);
	if (dir->nde == dir->decap) {
		size_t nc = dir->decap ? dir->decap * 2 : 8;
		struct fdent *n = realloc(dir->de, nc * sizeof(*n));

		if (!n)
			return -ENOMEM;
		dir->de = n;
		dir->decap = nc;
	}
	x = &dir->de[dir->nde];
	x->name = malloc(de->name_len + 1u);
	if (!x->name)
		return -ENOMEM;
	memcpy(x->name, de->name, de->name_len);
	x->name[de->name_len] = 0;
	x->nlen = de->name_len;
	x->ino = de->ino;
	x->cookie = de->cookie;
	x->gen = de->gen;
	x->ftype = de->ftype;
	dir->nde++;
	if (dir->ht && 2 * dir->nde <= dir->htcap) {
		ht_put(dir, dir->nde - 1);
		return 0;
	}
	if (dir->ht || dir->nde >= DIR_HASH_MIN)
		return ht_build(dir);
	return 0;
}

static void xattr_remove(struct fino *ip, const uint8_t *name, size_t nlen)
{
	for (size_t i = 0; i < ip->nxa; i++) {
		if (ip->xa[i].nlen == nlen &&
		    memcmp(ip->xa[i].name, name, nlen) == 0) {
			free(ip->xa[i].name);
			ip->xa[i] = ip->xa[--ip->nxa];
			return;
		}
	}
}

static int xattr_add(struct fino *ip, const char *name, size_t nlen,
		     size_t vlen)
{
	struct fxattr *n;

	if (ip->nxa == ip->xacap) {
		size_t nc = ip->xacap ? ip->xacap * 2 : 4;

		n = realloc(ip->xa, nc * sizeof(*n));
		if (!n)
			return -ENOMEM;
		ip->xa = n;
		ip->xacap = nc;
	}
	n = &ip->xa[ip->nxa];
	n->name = malloc(nlen + 1u);
	if (!n->name)
		return -ENOMEM;
	memcpy(n->name, name, nlen);
	n->name[nlen] = 0;
	n->nlen = (uint8_t)nlen;
	n->vlen = (uint16_t)vlen;
	ip->nxa++;
	return 0;
}

/* ---- the callbacks of ilog_apply (log.h, "replay": the rules) -------- */

static int m_extent(void *arg, uint64_t pgoff, uint64_t n, uint64_t blk,
		    uint32_t flags)
{
	return ext_set(arg, pgoff, n, blk, flags & PMFS_WR_UNWRITTEN);
}

static int m_truncate(void *arg, uint64_t from_pg)
{
	return ext_punch(arg, from_pg, UINT64_MAX);
}

static int m_dentry_add(void *arg, const struct pmfs_le_dentry *de)
{
	return dent_add(arg, de);
}

static int m_dentry_del(void *arg, const struct pmfs_le_dentry *de)
{
	struct fino *dir = arg;
	struct fdent *x = fsck_dir_find(dir, (const char *)de->name,
					de->name_len);

	if (x)
		dent_remove(dir, x);
	return 0;
}

static int m_symlink(void *arg, const char *target, uint32_t len,
		     uint64_t blk)
{
	struct fino *ip = arg;

	(void)target;
	ip->has_target = true;
	ip->sllen = len;
	ip->slblk = blk;
	return 0;
}

static int m_xattr_set(void *arg, const char *name, size_t nlen,
		       const void *val, size_t vlen)
{
	(void)val;
	xattr_remove(arg, (const uint8_t *)name, nlen);
	return xattr_add(arg, name, nlen, vlen);
}

static int m_xattr_del(void *arg, const char *name, size_t nlen)
{
	xattr_remove(arg, (const uint8_t *)name, nlen);
	return 0;
}

static const struct ilog_replay_ops model_ops = {
	.extent = m_extent,
	.truncate = m_truncate,
	.dentry_add = m_dentry_add,
	.dentry_del = m_dentry_del,
	.symlink = m_symlink,
	.xattr_set = m_xattr_set,
	.xattr_del = m_xattr_del,
};

int fsck_model_apply(struct fsck *f, struct fino *ip,
		     const struct pmfs_lentry *e)
{
	int err = ilog_apply(&f->d, &ip->st, e, &model_ops, ip);

	/* the scalars the passes read, as the replay left them */
	ip->nentries = ip->st.nentries;
	ip->mode = ip->st.mode;
	ip->nlink = ip->st.nlink;
	ip->size = ip->st.size;
	ip->parent = ip->st.parent;
	ip->maxcookie = ip->st.maxcookie;
	ip->mtime.sec = (uint64_t)ip->st.mtime.tv_sec;
	ip->mtime.nsec = (uint32_t)ip->st.mtime.tv_nsec;
	return err;
}

/* ---- the walk -------------------------------------------------------- */

#define WALK_BAD 1 /* entry callback: a checksummed but invalid entry */

struct walk {
	struct fsck *f;
	struct fino *ip;
	uint64_t last_end; /* end of the last good entry, 0 = none */
	uint64_t last_seq;
	uint64_t bad_off;
	char why[128];
	int err;
};

/* The message for a walk that ilog_walk2 stopped (not a callback). */
static void why_stopped(const struct ilog_err *ie, char *why, size_t len)
{
	const char *detail = strstr(ie->msg, ": ");
	uint64_t o = ie->off;

	switch (ie->reason) {
	case ILOG_E_HEAD:
		snprintf(why, len, "head %#" PRIx64 " outside the data area",
			 o);
		break;
	case ILOG_E_TAIL:
		snprintf(why, len, "tail %#" PRIx64 " is not in a log page", o);
		break;
	case ILOG_E_CYCLE:
		snprintf(why, len, "more pages than the device holds (a cycle) "
			 "at %#" PRIx64, o);
		break;
	case ILOG_E_PAGE:
		snprintf(why, len, "bad page header at %#" PRIx64, o);
		break;
	case ILOG_E_PAGESEQ:
		snprintf(why, len, "link to page %#" PRIx64 " out of sequence "
			 "(a cycle or a stray link)", o);
		break;
	case ILOG_E_ENTRY:
		snprintf(why, len, "bad entry at %#" PRIx64 "%s", o,
			 detail ? detail : "");
		break;
	case ILOG_E_SEQ:
		snprintf(why, len, "entry at %#" PRIx64 " out of sequence", o);
		break;
	case ILOG_E_NEXT:
		snprintf(why, len, "page at %#" PRIx64
			 " links outside the data area", o);
		break;
	default:
		snprintf(why, len, "%s", ie->msg[0] ? ie->msg : "bad log");
		break;
	}
}

static int walk_entry(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	struct walk *w = arg;
	int err;

	err = fsck_model_apply(w->f, w->ip, e);
	if (err == -EIO) { /* lent_check refused it: the core's rules */
		w->bad_off = off;
		snprintf(w->why, sizeof(w->why), "%s",
			 w->ip->st.bad ? w->ip->st.bad : "invalid entry");
		return WALK_BAD;
	}
	if (err) {
		w->err = err;
		return err;
	}
	w->last_end = off + e->len;
	w->last_seq = e->seq;
	return 0;
}

static int walk_page(void *arg, uint64_t off)
{
	struct walk *w = arg;
	struct fino *ip = w->ip;

	if (ip->npages == ip->pagecap) {
		size_t nc = ip->pagecap ? ip->pagecap * 2 : 4;
		uint64_t *n = realloc(ip->pages, nc * sizeof(*n));

		if (!n) {
			w->err = -ENOMEM;
			return -ENOMEM;
		}
		ip->pages = n;
		ip->pagecap = nc;
	}
	ip->pages[ip->npages++] = off;
	return 0;
}

/* Walk ino's log from head to tail into ip; 0, -EIO (bad) or -ENOMEM. */
static int walk(struct fsck *f, struct fino *ip, uint64_t head, uint64_t tail,
		struct walk *w)
{
	struct ilog_err ie;
	int r;

	fsck_model_reset(ip);
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->ip = ip;
	r = ilog_walk2(&f->d, ip->ino, head, tail, walk_entry, walk_page, w,
		       true, &ip->end, &ie);
	if (w->err)
		return w->err;
	if (r == 0)
		return 0;
	if (!w->why[0])
		why_stopped(&ie, w->why, sizeof(w->why));
	/* pages past the one holding the last good entry leave the chain */
	if (w->last_end) {
		size_t k = 0;

		while (k < ip->npages &&
		       !(w->last_end > ip->pages[k] &&
			 w->last_end <= ip->pages[k] + PMFS_BLOCK_SIZE))
			k++;
		ip->npages = k < ip->npages ? k + 1 : ip->npages;
	}
	return -EIO;
}

struct cutw {
	size_t k, seen;
	uint64_t end;
};

static int cut_page(void *arg, uint64_t off)
{
	struct cutw *c = arg;

	(void)off;
	return c->seen++ == c->k; /* page k: stop before its entries */
}

static int cut_entry(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	struct cutw *c = arg;

	c->end = off + e->len;
	return 0;
}

int fsck_cut_before_page(struct fsck *f, struct fino *ip, size_t k, bool fix)
{
	struct cutw c = { k, 0, 0 };
	uint64_t head = ip->end.head; /* the log as the model has it (pass
					 3 may have cut it, maybe in DRAM) */
	struct walk w;
	int r;

	ilog_walk(&f->d, ip->ino, head, ip->end.tail, cut_entry, cut_page, &c,
		  true, NULL);
	if (!c.end)
		return 1;
	if (fix)
		fsck_set_tail(f, ip->ino, c.end);
	f->logs_cut++;
	r = walk(f, ip, head, c.end, &w); /* entries that walked before */
	if (r == -ENOMEM)
		return r;
	return r || ip->nentries == 0 ? 1 : 0;
}

static void clear_inode(struct fsck *f, struct fino *ip, const char *code,
			const char *what)
{
	if (fsck_problem(f, 0, code, ip->ino, "Clear the inode",
			 "Inode %" PRIu64 ": %s", ip->ino, what))
		fsck_clear_inode(f, ip);
	ip->cleared = true; /* later passes see the repaired state */
	f->inodes_cleared++;
}

static int check_inode(struct fsck *f, uint64_t ino, struct pmfs_inode *slot)
{
	struct fino *ip = calloc(1, sizeof(*ip));
	uint64_t head = fsck_word(f, &slot->head);
	uint64_t tail = fsck_word(f, &slot->tail);
	struct walk w;
	int r;

	if (!ip)
		return -ENOMEM;
	ip->ino = ino;
	ip->gen = slot->gen;
	f->chunk[fmt_ino_chunk(ino)][ino % PMFS_INODES_PER_CHUNK] = ip;
	f->ninodes++;
	r = walk(f, ip, head, tail, &w);
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
		r = walk(f, ip, head, tail, &w);
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
	for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES; c++) {
		if (!f->chunk[c])
			continue;
		for (uint64_t i = 0; i < PMFS_INODES_PER_CHUNK; i++) {
			uint64_t ino = c * PMFS_INODES_PER_CHUNK + i;
			struct pmfs_inode *slot;

			if (fsck_cancel)
				return -1;
			fsck_progress(f, done++, nchunks * PMFS_INODES_PER_CHUNK);
			if (ino == 0)
				continue;
			if (f->chunk_bad[c] &
			    (1ull << (i / PMFS_INODES_PER_BLOCK)))
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
	}
	fsck_progress(f, 1, 1);
	f->ninodes = 0;
	for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES; c++) {
		if (!f->chunk[c])
			continue;
		for (uint64_t i = 0; i < PMFS_INODES_PER_CHUNK; i++) {
			struct fino *ip = f->chunk[c][i];

			if (!ip || ip->cleared)
				continue;
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
	}
	fsck_info(f, "  %" PRIu64 " inodes in %" PRIu64 " chunks: %" PRIu64
		     " files, %" PRIu64 " directories, %" PRIu64
		     " symlinks, %" PRIu64 " other; %" PRIu64
		     " log pages; %" PRIu64 " logs cut, %" PRIu64 " cleared",
		  f->ninodes, nchunks, f->nfiles, f->ndirs, f->nsymlinks,
		  f->nother, f->log_pages, f->logs_cut, f->inodes_cleared);
	return 0;
}
