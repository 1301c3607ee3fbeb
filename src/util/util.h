/*
 * util.h - small helpers below every other module (it depends on none):
 * growing an array.
 */
#ifndef PMFS_UTIL_H
#define PMFS_UTIL_H

#include <stddef.h>

/*
 * Make room in the array *vp (of *cap elements of elem bytes) for index n:
 * when n reaches the capacity it doubles, starting at first elements.
 * 0, or -ENOMEM with the array unchanged.  vp is the address of the
 * array pointer (T **).
 */
int util_grow(void *vp, size_t *cap, size_t n, size_t elem, size_t first);

#endif /* PMFS_UTIL_H */
