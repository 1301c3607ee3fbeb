/*
 * pass5.c - pass 5: the directory tree.
 *
 * Every directory entry must name an inode in use with the generation the
 * entry recorded and the type the inode has; a directory may be named by
 * one entry only (no hard links to directories) and never by itself or the
 * root.  Everything must be reachable from the root: a directory that is
 * not (alone, or in a loop of directories naming each other) and a file
 * that is in no directory are moved to /lost+found (created when missing);
 * an inode with no links and no name (unlinked while open, then a crash;
 * a directory too, after rmdir of a working directory) is freed, as the
 * mount frees it.  Each directory's '..' (its parent
 * attribute) must name the directory that holds it.  A missing root, or
 * one that is not a directory, is made again empty (fsck_new_root): all
 * the rest then goes to /lost+found, which is the directory mkfs made
 * (inode 2) named again when nothing names it, else a new one; a
 * /lost+found that is not a directory is renamed aside (repair.c).
 * Names were checked for validity when pass 3 read the entries;
 * uniqueness holds by the replay rule that a later entry of the same name
 * replaces the earlier.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/fmt.h"
#include "fsck.h"

/* The kind of file a mode says, in words. */
static const char *type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symlink";
	default:
		return "special file";
	}
}

/* Check the entries of dir: targets in use, types, directory links. */
static void check_entries(struct fsck *f, struct fino *dir)
{
	size_t i = 0;

	while (i < dir->nde && !f->operr) {
		struct fdent *x = &dir->de[i];
		struct fino *t = fsck_ino(f, x->ino);

		if (!t || t->gen != x->gen) {
			if (fsck_problem(f, 0, "entry-free-inode", dir->ino,
					 "Remove the entry",
					 "Directory %" PRIu64 ": entry '%s' "
					 "names inode %" PRIu64
					 ", which is %s",
					 dir->ino, x->name, x->ino,
					 t ? "a later use of that slot"
					   : "not in use") &&
			    fsck_unlink(f, dir, x) == 0)
				continue;
			i++;
			continue;
		}
		if (x->ftype != fsck_dtype(t->mode)) {
			char name[PMFS_NAME_MAX + 1];

			memcpy(name, x->name, x->nlen + 1u);
			if (fsck_problem(f, 0, "entry-type", dir->ino,
					 "Fix the entry's type",
					 "Directory %" PRIu64 ": entry '%s' has "
					 "type %u, inode %" PRIu64
					 " is a %s",
					 dir->ino, x->name, x->ftype, t->ino,
					 type_name(t->mode)) &&
			    fsck_unlink(f, dir, x) == 0 &&
			    fsck_link(f, dir, t, name) == 0)
				continue; /* the new entry is checked later */
			x = &dir->de[i];
		}
		if (S_ISDIR(t->mode) &&
		    (t->refs > 0 || t->ino == PMFS_ROOT_INO || t == dir)) {
			if (fsck_problem(f, 0, "dir-hard-link", dir->ino,
					 "Remove the entry",
					 "Directory %" PRIu64 ": entry '%s' is "
					 "a second link to directory %" PRIu64,
					 dir->ino, x->name, t->ino) &&
			    fsck_unlink_extra(f, dir, x) == 0)
				continue;
			i++;
			continue;
		}
		t->refs++;
		if (!t->referrer)
			t->referrer = dir->ino;
		i++;
	}
}

/* Name ip in lost+found as "#ino"; 0 when done. */
static int to_lost_found(struct fsck *f, struct fino *ip)
{
	struct fino *lf = fsck_lost_found(f);
	char name[40];

	if (!lf)
		return -1; /* reported by fsck_lost_found */
	snprintf(name, sizeof(name), "#%" PRIu64, ip->ino);
	for (unsigned k = 1; fsck_dir_find(lf, name, strlen(name)) && k < 1000;
	     k++)
		snprintf(name, sizeof(name), "#%" PRIu64 ".%u", ip->ino, k);
	if (fsck_link(f, lf, ip, name))
		return -1;
	ip->refs++;
	if (S_ISDIR(ip->mode)) {
		ip->referrer = lf->ino;
		if (fsck_set_attr(f, ip, PMFS_AT_PARENT, 0, 0, lf->ino))
			return -1;
	}
	return 0;
}

/* An inode with no links and no name (unlinked while open, then a
 * crash): freed, as the mount frees it. */
static void free_orphan(struct fsck *f, struct fino *ip)
{
	if (fsck_problem(f, PR_PREEN_OK, "orphan-unlinked", ip->ino,
			 "Free it",
			 "Inode %" PRIu64 " (%s) has no links and no name",
			 ip->ino, type_name(ip->mode)))
		fsck_clear_inode(f, ip);
	ip->cleared = true;
}

/* An unreachable directory: find the top of its chain or loop. */
static void reconnect_dir(struct fsck *f, struct fino *d, uint64_t ndirs)
{
	struct fino *top = d, *p;
	uint64_t steps = 0;
	bool loop = false;

	while (top->referrer && (p = fsck_ino(f, top->referrer)) &&
	       !p->reachable) {
		top = p;
		if (++steps > ndirs) {
			loop = true; /* top is inside the loop now */
			break;
		}
	}
	if (loop) {
		p = fsck_ino(f, top->referrer);
		if (fsck_problem(f, 0, "dir-loop", top->ino,
				 "Move it to /lost+found",
				 "Directory %" PRIu64 " is in a loop of "
				 "directories not reachable from the root",
				 top->ino)) {
			for (size_t i = 0; p && i < p->nde; i++) {
				if (p->de[i].ino == top->ino) {
					fsck_unlink(f, p, &p->de[i]);
					break;
				}
			}
			top->refs = 0;
			to_lost_found(f, top);
		}
	} else if (fsck_problem(f, 0, "dir-unreachable", top->ino,
				"Move it to /lost+found",
				"Directory %" PRIu64
				" is not reachable from the root",
				top->ino)) {
		to_lost_found(f, top);
	}
	fsck_mark_reachable(f, top); /* its subtree is reported with it */
}

int fsck_pass5(struct fsck *f)
{
	struct fino *root = fsck_ino(f, PMFS_ROOT_INO), *ip;
	uint64_t ndirs = 0, moved = 0, done = 0;

	fsck_pass(f, 5, "Checking the directory tree");
	if (!root || !S_ISDIR(root->mode)) {
		/* everything is then unreachable: the rest of the pass puts
		 * it in /lost+found */
		if (!fsck_problem(f, 0, "no-root", PMFS_ROOT_INO,
				  "Create an empty root directory",
				  "The root directory (inode 1) is %s",
				  root ? "not a directory" : "missing"))
			return -1;
		root = fsck_new_root(f);
		if (!root)
			return -1;
	}
	FOR_EACH_INO(f, ip, ino)
	{
		fsck_progress(f, done++, f->ninodes);
		if (S_ISDIR(ip->mode)) {
			check_entries(f, ip);
			ndirs++;
		}
	}
	fsck_progress(f, 1, 1);
	if (f->operr)
		return -1;
	{
		struct fdent *x = fsck_dir_find(root, "lost+found", 10);
		struct fino *lf = x ? fsck_ino(f, x->ino) : NULL;

		if (lf && S_ISDIR(lf->mode) && lf->referrer == PMFS_ROOT_INO)
			f->lf_ino = lf->ino;
	}
	if (fsck_mark_reachable(f, root)) {
		fsck_operr(f, "out of memory");
		return -1;
	}
	/* mkfs's lost+found cut off from the root (the root was remade, or
	 * a file took its name): it becomes /lost+found again first */
	if (!f->lf_ino && (ip = fsck_ino(f, PMFS_LOSTFOUND_INO)) &&
	    S_ISDIR(ip->mode) && !ip->reachable && !ip->refs && !ip->referrer)
		fsck_lost_found(f);
	/* a directory removed while the kernel still held it (rmdir of a
	 * working directory, then a crash): nlink 0 and no name; the mount
	 * frees it like any orphan, and so does fsck */
	FOR_EACH_INO(f, ip, ino)
	{
		if (!S_ISDIR(ip->mode) || ip->reachable || ip->refs ||
		    ip->nlink != 0 || ip->ino == PMFS_ROOT_INO)
			continue;
		free_orphan(f, ip);
	}
	FOR_EACH_INO(f, ip, ino)
	{
		if (S_ISDIR(ip->mode) && !ip->reachable) {
			reconnect_dir(f, ip, ndirs);
			moved++;
		}
	}
	FOR_EACH_INO(f, ip, ino)
	{
		if (S_ISDIR(ip->mode) || ip->reachable || ip->refs)
			continue;
		if (ip->nlink == 0) {
			free_orphan(f, ip);
			continue;
		}
		if (fsck_problem(f, 0, "orphan", ip->ino,
				 "Connect it to /lost+found",
				 "Inode %" PRIu64 " (%s, %u links) is in no "
				 "directory",
				 ip->ino, type_name(ip->mode), ip->nlink) &&
		    to_lost_found(f, ip) == 0)
			moved++;
		ip->reachable = true;
	}
	/* '..' of every directory */
	FOR_EACH_INO(f, ip, ino)
	{
		uint64_t want;

		if (!S_ISDIR(ip->mode))
			continue;
		want = ip->ino == PMFS_ROOT_INO ? PMFS_ROOT_INO : ip->referrer;
		if (!want || ip->parent == want)
			continue;
		if (fsck_problem(f, 0, "dotdot", ip->ino, "Fix it",
				 "Directory %" PRIu64 ": '..' is %" PRIu64
				 ", should be %" PRIu64,
				 ip->ino, ip->parent, want))
			fsck_set_attr(f, ip, PMFS_AT_PARENT, 0, 0, want);
	}
	fsck_info(f, "  %" PRIu64 " directories, %" PRIu64
		     " reconnected; lost+found is inode %" PRIu64,
		  ndirs, moved, f->lf_ino);
	return f->operr ? -1 : 0;
}
