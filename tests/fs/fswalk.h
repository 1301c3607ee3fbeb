/*
 * fswalk.h - the consistency walk shared by the tests/fs suites: from the
 * root, every directory is readable and visited once (no cycles), every
 * name looks up to the inode readdir gave, '..' names the parent, every
 * file reads back its whole size, link counts equal the names (files) or
 * 2 + subdirectories (directories), and - when asked - the allocator's
 * free count plus every block in use (data, log pages, symlink blocks,
 * inode-table chunks) equals the total.  Include after fsfix.h.
 */
#ifndef PMFS_TESTS_FSWALK_H
#define PMFS_TESTS_FSWALK_H

#include <stdio.h>

#include "format/format.h"
#include "log/log.h"

#define FW_MAX 65536

struct fw_ino {
	uint64_t ino;
	uint32_t names, subdirs, nlink, mode;
	uint64_t blocks, pages;
};

struct fw {
	struct fw_ino *v;
	size_t n;
	uint64_t dirs_seen;
	uint8_t *buf;
};

struct fw_ent {
	char name[PMFS_NAME_MAX + 1];
	uint64_t ino;
};

struct fw_list {
	struct fw_ent *e;
	size_t n, cap;
};

static inline int fw_fill(void *arg, const char *name, uint64_t ino,
			  unsigned dt, uint64_t next)
{
	struct fw_list *l = arg;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->e = realloc(l->e, l->cap * sizeof(*l->e));
		cr_assert_not_null(l->e);
	}
	snprintf(l->e[l->n].name, sizeof(l->e[l->n].name), "%s", name);
	l->e[l->n++].ino = ino;
	return 0;
}

static inline struct fw_ino *fw_get(struct fw *w, uint64_t ino)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->v[i].ino == ino)
			return &w->v[i];
	cr_assert_lt(w->n, FW_MAX);
	memset(&w->v[w->n], 0, sizeof(w->v[0]));
	w->v[w->n].ino = ino;
	return &w->v[w->n++];
}

static inline void fw_dir(struct fs *fs, struct fw *w, uint64_t dir,
			  uint64_t parent, int depth)
{
	struct fw_list l = { NULL, 0, 0 };
	struct fs_attr a;
	struct fw_ino *d;

	cr_assert_lt(depth, 64, "directory tree too deep (cycle?)");
	d = fw_get(w, dir);
	cr_assert_eq(d->mode, 0, "directory %lu reached twice",
		     (unsigned long)dir);
	cr_assert_eq(fs_getattr(fs, dir, &a), 0);
	d->mode = a.mode;
	d->nlink = a.nlink;
	d->blocks = a.blocks;
	cr_assert_eq(fs_log_pages(fs, dir, &d->pages), 0);
	w->dirs_seen++;
	cr_assert_eq(fs_lookup(fs, dir, "..", &a), 0);
	cr_assert_eq(a.ino, parent, "'..' of %lu is %lu, want %lu",
		     (unsigned long)dir, (unsigned long)a.ino,
		     (unsigned long)parent);
	cr_assert_eq(fs_readdir(fs, dir, 0, fw_fill, &l), 0);
	for (size_t i = 0; i < l.n; i++) {
		struct fw_ino *c;

		cr_assert_eq(fs_lookup(fs, dir, l.e[i].name, &a), 0,
			     "lookup %s", l.e[i].name);
		cr_assert_eq(a.ino, l.e[i].ino);
		if (S_ISDIR(a.mode)) {
			fw_get(w, dir)->subdirs++;
			fw_dir(fs, w, a.ino, dir, depth + 1);
			fw_get(w, a.ino)->names++;
			continue;
		}
		c = fw_get(w, a.ino);
		if (c->names++ == 0) {
			size_t got = 0;

			c->mode = a.mode;
			c->nlink = a.nlink;
			c->blocks = a.blocks;
			cr_assert_eq(fs_log_pages(fs, a.ino, &c->pages), 0);
			if (S_ISREG(a.mode) && a.size) {
				w->buf = realloc(w->buf, a.size);
				cr_assert_not_null(w->buf);
				cr_assert_eq(fs_pread(fs, a.ino, w->buf, a.size,
						      0, &got),
					     0);
				cr_assert_eq(got, a.size);
			}
		}
	}
	free(l.e);
}

/* Walk the whole tree; with accounting, also check free + used = total
 * (call when no GC or change runs: e.g. right after a mount). */
static inline void fw_check(struct fs *fs, bool accounting)
{
	struct fw w = { calloc(FW_MAX, sizeof(struct fw_ino)), 0, 0, NULL };
	uint64_t used = 0;

	cr_assert_not_null(w.v);
	fw_dir(fs, &w, PMFS_ROOT_INO, PMFS_ROOT_INO, 0);
	for (size_t i = 0; i < w.n; i++) {
		struct fw_ino *x = &w.v[i];

		if (S_ISDIR(x->mode)) {
			cr_assert_eq(x->nlink, 2 + x->subdirs,
				     "dir %lu nlink %u, %u subdirs",
				     (unsigned long)x->ino, x->nlink,
				     x->subdirs);
			used += x->pages; /* st_blocks are its pages */
		} else {
			cr_assert_eq(x->nlink, x->names,
				     "inode %lu nlink %u, %u names",
				     (unsigned long)x->ino, x->nlink, x->names);
			used += x->pages + x->blocks / (PMFS_BLOCK_SIZE / 512);
		}
	}
	if (accounting) {
		struct ilog_dev d;
		struct statvfs st;
		char why[128];

		cr_assert_eq(ilog_dev_init(&d, fs_pmio(fs), why, sizeof(why)),
			     0);
		for (uint64_t c = 0; c < PMFS_ITDIR_ENTRIES; c++)
			if (d.itdir[c])
				used += PMFS_CHUNK_BLOCKS;
		cr_assert_eq(fs_statfs(fs, &st), 0);
		cr_assert_eq(st.f_bfree + used, st.f_blocks,
			     "free %lu + used %lu != total %lu",
			     (unsigned long)st.f_bfree, (unsigned long)used,
			     (unsigned long)st.f_blocks);
	}
	free(w.buf);
	free(w.v);
}

#endif /* PMFS_TESTS_FSWALK_H */
