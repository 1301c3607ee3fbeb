/*
 * util.c - small helpers below every other module (util.h).
 */
#include "util/util.h"

#include <errno.h>
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
