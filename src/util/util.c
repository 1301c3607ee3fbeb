/*
 * util.c - small helpers below every other module (util.h).
 */
#include "util/util.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int util_grow(void *vp, size_t *cap, size_t n, size_t elem, size_t first)
{
	size_t nc = *cap ? *cap : first;
	void *v, *nv;

	if (n < *cap)
		return 0;
	while (nc <= n) {
		if (nc > SIZE_MAX / 2 / elem)
			return -ENOMEM;
		nc *= 2;
	}
	if (nc < first)
		nc = first;
	memcpy(&v, vp, sizeof(v));
	nv = realloc(v, nc * elem);
	if (!nv)
		return -ENOMEM;
	memcpy(vp, &nv, sizeof(nv));
	*cap = nc;
	return 0;
}

int util_thread_start(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(th, NULL, fn, arg); /* inherits the full mask */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}
