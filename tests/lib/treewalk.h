/*
 * treewalk.h - the mount's side of "one reading of the media": walk a
 * mounted filesystem through the fs API only (lookup, getattr, readdir,
 * read, readlink, listxattr, getxattr), check what a reader of the tree
 * can see, and list what it found.  Used by the differential check
 * (differ.h), the mount fuzz target and the fsck case suite.  Plain C:
 * no Criterion, no aborts; every problem is counted and the first one
 * described.
 *
 * Checked: every directory is listed and reached once (no hard-linked
 * directory, no loop); every listed name looks up to the inode and type
 * readdir gave; "." and ".." look up to the directory and its parent;
 * every file reads back exactly its size; a symlink's size is its
 * target's length; every xattr name lies in a namespace Linux knows and
 * reads back; link counts equal the names found (files) or 2 plus the
 * subdirectories (directories); every inode in use on the media (slots
 * with a tail) is reached from the root; and the mount reported no media
 * damage (fs_media_errors) while this ran.
 */
#ifndef PMFS_TESTS_TREEWALK_H
#define PMFS_TESTS_TREEWALK_H

#include <stddef.h>
#include <stdint.h>

#include "fs/fs.h"

/* A name in a directory. */
struct tw_ent {
	char *name;
	uint64_t ino;
};

/* One inode as the walk saw it (the first name that reached it). */
struct tw_node {
	char *path;      /* from the root: "/", "/a", "/a/b" */
	uint64_t ino;
	uint64_t parent; /* inode of the directory holding that name */
	uint32_t mode;
	uint32_t nlink;
	uint64_t size;   /* regular files and symlinks */
	uint32_t names;  /* entries naming it */
	uint32_t subdirs;
	char *xattrs;    /* sorted names, NUL-separated, "" if none */
	size_t xlen;
	struct tw_ent *ents; /* directories: every name, sorted */
	size_t nents;
};

struct tw_result {
	struct tw_node *n; /* sorted by path */
	size_t nn, cap;
	size_t *byino;     /* indexes of n sorted by inode number */
	uint64_t problems;
	char first[256];   /* the first problem */
};

/* Walk fs (every inode read in full); 0 when no problem was found, else
 * the number of problems.  Free r with tw_free. */
uint64_t tw_walk(struct fs *fs, struct tw_result *r);
void tw_free(struct tw_result *r);

/* The node with that path, or NULL. */
const struct tw_node *tw_find(const struct tw_result *r, const char *path);
/* The node of inode ino, or NULL. */
const struct tw_node *tw_find_ino(const struct tw_result *r, uint64_t ino);

#endif /* PMFS_TESTS_TREEWALK_H */
