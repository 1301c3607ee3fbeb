/*
 * snap.h - private to tests/crash: snapshots of a mounted tree for the
 * crash harness.  A snapshot is the tree (or one subtree) as text, one
 * sorted line per name: "PATH ino=.. mode=.. ... data=HASH ...", so two
 * states compare with strcmp and a difference prints as the first line
 * that differs.  What a line holds is listed in harness.h.  Paths are
 * written as they are: workloads use names without spaces or newlines
 * (the first space ends the path).
 */
#ifndef PMFS_TESTS_CRASH_SNAP_H
#define PMFS_TESTS_CRASH_SNAP_H

#include <stddef.h>
#include <stdint.h>

struct fs;

/* ch_snapshot flags */
#define CH_SNAP_ATIME 0x1  /* lines carry atime */
#define CH_SNAP_FORGET 0x2 /* forget every lookup reference the walk takes
			    * (FS_O_REFCOUNT mounts) */

/*
 * Walk the tree under path ("/" = everything): every directory listed and
 * every name looked up, '..' right, every file read, symlinks and xattrs
 * read, link counts equal to the names found.  Returns the malloc'd
 * sorted lines, or NULL with the first problem in err.  *ninodes (may be
 * NULL): the distinct inodes found.  Never stores to the media when the
 * mount does not update atime (FS_O_NOATIME) or atime is already newer
 * than mtime and ctime (relatime).
 */
char *ch_snapshot(struct fs *fs, const char *path, unsigned flags,
		  uint64_t *ninodes, char *err, size_t errlen);

/* Whether line (of a snapshot) is root's own line or under it. */
int ch_snap_under(const char *line, const char *root);

/*
 * The lines of snap under root (root's own line included) or, when root
 * is NULL, the lines under none of roots[0 .. nroots); malloc'd.
 */
char *ch_snap_part(const char *snap, const char *root,
		   const char *const *roots, size_t nroots);

/* snap without the lines whose path is one of drop[] (NULL-ended). */
char *ch_snap_drop(const char *snap, const char *const *drop);

/* The first line where want and got differ, as "expected [..] got [..]". */
void ch_snap_diff(const char *want, const char *got, char *msg, size_t len);

/* A 64-bit mix (splitmix64) and an FNV-1a hash (h = 0 starts one). */
uint64_t ch_mix(uint64_t x);
uint64_t ch_hash(const void *buf, size_t len, uint64_t h);

#endif /* PMFS_TESTS_CRASH_SNAP_H */
