/*
 * testutil.h - fixtures shared by the test suites: small image files on
 * tmpfs (/dev/shm), so no persistent memory is needed, and running the
 * built tools as child processes.
 */
#ifndef PMFS_TESTUTIL_H
#define PMFS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Create a zero-filled file of `size` bytes under /dev/shm; returns its
 * malloc'd path (free with tu_rmimg). Aborts the test on failure. */
char *tu_tmpimg(uint64_t size);
/* Remove the file and free the path. */
void tu_rmimg(char *path);
/* A fresh, empty directory under /dev/shm; remove with tu_rmtree. */
char *tu_tmpdir(void);
/* rm -rf path, then free it. */
void tu_rmtree(char *path);

/* Path of a built tool, e.g. tu_tool("mkfs.pmfs") -> "build/mkfs.pmfs";
 * the build folder comes from env PMFS_BUILD (set by make check). */
const char *tu_tool(const char *name);

/*
 * Run argv[0] with argv (NULL-terminated) and stdin from /dev/null; capture
 * stdout and stderr (each up to outsz-1 bytes, NUL-terminated; either may
 * be NULL).  Returns the exit status, or 128+signal when killed.
 */
int tu_run(char *const argv[], char *out, size_t outsz, char *err,
	   size_t errsz);

/* Number of newline-terminated lines in s. */
int tu_lines(const char *s);

/* A POSIX ACL in its xattr form (system.posix_acl_*, format.h) from n
 * entries {tag (PMFS_ACL_*), perm (rwx), id} into buf (room for 4 + 8n
 * bytes); its length. */
size_t tu_acl(uint8_t *buf, const uint32_t (*ent)[3], size_t n);

#endif /* PMFS_TESTUTIL_H */
