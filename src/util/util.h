/*
 * util.h - small helpers below every other module (it depends on none):
 * growing an array, starting a background thread.
 */
#ifndef PMFS_UTIL_H
#define PMFS_UTIL_H

#include <pthread.h>
#include <stddef.h>

/*
 * Make room in the array *vp (of *cap elements of elem bytes) for index n:
 * when n reaches the capacity it doubles, starting at first elements.
 * 0, or -ENOMEM with the array unchanged.  vp is the address of the
 * array pointer (T **).
 */
int util_grow(void *vp, size_t *cap, size_t n, size_t elem, size_t first);

/*
 * pthread_create with every signal blocked in the new thread (the
 * caller's mask is kept).  The library's own threads never take a
 * process-directed signal: SIGTERM or SIGINT sent to mount.pmfs reaches
 * a thread that libfuse watches (its main loop), never a worker that
 * would swallow it and leave the daemon mounted.  0 or an errno value,
 * as pthread_create.
 */
int util_thread_start(pthread_t *th, void *(*fn)(void *), void *arg);

#endif /* PMFS_UTIL_H */
