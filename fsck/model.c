/*
 * model.c - fsck's model of the filesystem: one struct fino per inode in
 * use, built from its log by the core's readers (ilog_walk2 finds the
 * entries, ilog_apply says what each means and runs lent_check, the
 * validator the mount uses: fsck has no parser and no replay rules of its
 * own), holding what the passes check - attributes, extents, directory
 * entries (with a name hash for big directories), xattr names, log pages.
 * Also the image as the checks see it before an interrupted operation is
 * replayed (fsck_word), and reachability from a directory.  Nothing here
 * stores to the media: that is repair.c's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/fmt.h"
#include "util/util.h"
#include "fsck.h"

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

/* Map file pages [pgoff, pgoff+n) to blk.. in the model (blk 0: a hole). */
static int ext_set(struct fino *ip, uint64_t pgoff, uint64_t n, uint64_t blk,
		   uint32_t flags)
{
	size_t i;
	int err = ext_punch(ip, pgoff, pgoff + n);

	if (err || blk == 0)
		return err;
	if (util_grow(&ip->ext, &ip->extcap, ip->next, sizeof(*ip->ext), 8))
		return -ENOMEM;
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

/* Hash of a name for the directory hash (FNV-1a, folded). */
static uint64_t name_hash(const char *name, size_t nlen)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < nlen; i++)
		h = (h ^ (uint8_t)name[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

/* Put entry idx of dir into its name hash. */
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

/* Remove entry x from dir (the last entry moves into its place). */
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

/* Add or replace the entry a DENTRY_ADD names. */
static int dent_add(struct fino *dir, const struct pmfs_le_dentry *de)
{
	struct fdent *x = fsck_dir_find(dir, (const char *)de->name,
					de->name_len);

	if (x)
		dent_remove(dir, x);
	if (util_grow(&dir->de, &dir->decap, dir->nde, sizeof(*dir->de), 8))
		return -ENOMEM;
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

/* Forget the xattr called name, if ip has it. */
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

/* Note an xattr of ip (name, value length and blocks, whether an ACL's
 * value is valid). */
static int xattr_add(struct fino *ip, const char *name, size_t nlen,
		     const void *val, size_t vlen, uint64_t blk)
{
	struct fxattr *n;

	if (util_grow(&ip->xa, &ip->xacap, ip->nxa, sizeof(*ip->xa), 4))
		return -ENOMEM;
	n = &ip->xa[ip->nxa];
	n->name = malloc(nlen + 1u);
	if (!n->name)
		return -ENOMEM;
	memcpy(n->name, name, nlen);
	n->name[nlen] = 0;
	n->nlen = (uint8_t)nlen;
	n->vlen = (uint32_t)vlen;
	n->blk = blk;
	n->bad_acl = fmt_acl_name(name, nlen) &&
		     fmt_acl_check(val, vlen, NULL, 0) != 0;
	ip->nxa++;
	return 0;
}

/* ---- the callbacks of ilog_apply (log.h, "replay": the rules) -------- */

/* ilog_apply: pages mapped (or a hole). */
static int m_extent(void *arg, uint64_t pgoff, uint64_t n, uint64_t blk,
		    uint32_t flags)
{
	return ext_set(arg, pgoff, n, blk, flags & PMFS_WR_UNWRITTEN);
}

/* ilog_apply: the mapping at and past from_pg dropped. */
static int m_truncate(void *arg, uint64_t from_pg)
{
	return ext_punch(arg, from_pg, UINT64_MAX);
}

/* ilog_apply: a directory entry added. */
static int m_dentry_add(void *arg, const struct pmfs_le_dentry *de)
{
	return dent_add(arg, de);
}

/* ilog_apply: a directory entry removed (absent: fine). */
static int m_dentry_del(void *arg, const struct pmfs_le_dentry *de)
{
	struct fino *dir = arg;
	struct fdent *x = fsck_dir_find(dir, (const char *)de->name,
					de->name_len);

	if (x)
		dent_remove(dir, x);
	return 0;
}

/* ilog_apply: the symlink target (its length and block). */
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

/* ilog_apply: an xattr set (replacing one of that name). */
static int m_xattr_set(void *arg, const char *name, size_t nlen,
		       const void *val, size_t vlen, uint64_t blk)
{
	xattr_remove(arg, (const uint8_t *)name, nlen);
	return xattr_add(arg, name, nlen, val, vlen, blk);
}

/* ilog_apply: an xattr removed. */
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

/* The walk: apply entry e to the model; a refused one stops the walk. */
static int walk_entry(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	struct fsck_walk *w = arg;
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

/* The walk: note a log page of the chain. */
static int walk_page(void *arg, uint64_t off)
{
	struct fsck_walk *w = arg;
	struct fino *ip = w->ip;

	if (util_grow(&ip->pages, &ip->pagecap, ip->npages, sizeof(*ip->pages),
		      4)) {
		w->err = -ENOMEM;
		return -ENOMEM;
	}
	ip->pages[ip->npages++] = off;
	return 0;
}

int fsck_model_walk(struct fsck *f, struct fino *ip, uint64_t head,
		    uint64_t tail, struct fsck_walk *w)
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

/* ---- the image as the checks see it, reachability ------------------- */

uint64_t fsck_word(const struct fsck *f, const le64 *w)
{
	uint64_t off = (uint64_t)((const uint8_t *)w - f->base);

	for (size_t i = f->nvirt; i-- > 0;)
		if (f->virt[i].addr == off)
			return f->virt[i].val;
	return *w;
}

/* Mark everything reachable from dir (iterative, bounded by the model). */
int fsck_mark_reachable(struct fsck *f, struct fino *top)
{
	struct fino **stack;
	size_t n = 0, cap = f->ninodes + 2;

	stack = malloc(cap * sizeof(*stack));
	if (!stack)
		return -1;
	top->reachable = true;
	stack[n++] = top;
	while (n) {
		struct fino *d = stack[--n];

		for (size_t i = 0; i < d->nde; i++) {
			struct fino *t = fsck_ino(f, d->de[i].ino);

			if (!t || t->reachable || t->gen != d->de[i].gen)
				continue;
			/* only the first referrer of a directory counts */
			if (S_ISDIR(t->mode) && t->referrer != d->ino)
				continue;
			t->reachable = true;
			if (S_ISDIR(t->mode) && n < cap)
				stack[n++] = t;
		}
	}
	free(stack);
	return 0;
}

uint8_t fsck_dtype(uint32_t mode)
{
	return (uint8_t)((mode & S_IFMT) >> 12);
}
