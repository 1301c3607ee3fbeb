/*
 * mktree.c - write a deterministic, source-tree-like directory: NFILES small
 * text files in about NFILES/25 nested directories (up to 6 deep), sizes
 * spread from 100 bytes to 32 KiB with most under 8 KiB.  The same
 * arguments always give the same tree; the harness tars it once and times
 * unpacking and deleting that archive on every peer.
 *
 *   mktree DIR NFILES
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MKTREE_MAX_PATH 512

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static const char *const dir_words[] = {
	"src", "lib", "include", "drivers", "net", "fs", "core", "util",
	"test", "doc", "arch", "mm", "kernel", "tools", "scripts", "crypto",
};
static const char *const suffixes[] = { ".c", ".c", ".c", ".h", ".h",
					".txt", ".S", ".py" };

/* Size in bytes: small-file heavy, like a real tree. */
static size_t file_size(void)
{
	static const size_t top[] = { 512, 2048, 4096, 8192, 8192, 16384,
				      32768, 4096 };

	return 100 + (size_t)(rng() % top[rng() % 8]);
}

static int write_file(const char *path, long idx, size_t size)
{
	FILE *f = fopen(path, "w");
	size_t done = 0;
	long line = 0;

	if (!f)
		return -errno;
	while (done < size) {
		char buf[96];
		int l = snprintf(buf, sizeof(buf),
				 "/* file %ld line %ld: %016llx */\n", idx,
				 line++, (unsigned long long)rng());

		if ((size_t)l > size - done)
			l = (int)(size - done);
		fwrite(buf, 1, (size_t)l, f);
		done += (size_t)l;
	}
	return fclose(f) ? -errno : 0;
}

int main(int argc, char **argv)
{
	long nfiles, ndirs, i;
	char (*dirs)[MKTREE_MAX_PATH];
	int *depth;

	if (argc != 3 || (nfiles = atol(argv[2])) < 1) {
		fprintf(stderr, "usage: mktree DIR NFILES\n");
		return 2;
	}
	ndirs = nfiles / 25 + 1;
	dirs = calloc((size_t)ndirs, sizeof(*dirs));
	depth = calloc((size_t)ndirs, sizeof(*depth));
	if (!dirs || !depth)
		return 1;
	if (mkdir(argv[1], 0755) < 0 && errno != EEXIST) {
		perror(argv[1]);
		return 1;
	}
	snprintf(dirs[0], MKTREE_MAX_PATH, "%s", argv[1]);
	for (i = 1; i < ndirs; i++) {
		long p;

		do
			p = (long)(rng() % (uint64_t)i);
		while (depth[p] >= 6);
		depth[i] = depth[p] + 1;
		snprintf(dirs[i], MKTREE_MAX_PATH, "%.400s/%s%ld", dirs[p],
			 dir_words[rng() % 16], i);
		if (mkdir(dirs[i], 0755) < 0) {
			perror(dirs[i]);
			return 1;
		}
	}
	for (i = 0; i < nfiles; i++) {
		char path[MKTREE_MAX_PATH + 32];
		int err;

		snprintf(path, sizeof(path), "%s/file%06ld%s",
			 dirs[rng() % (uint64_t)ndirs], i, suffixes[rng() % 8]);
		err = write_file(path, i, file_size());
		if (err) {
			fprintf(stderr, "%s: %s\n", path, strerror(-err));
			return 1;
		}
	}
	free(dirs);
	free(depth);
	return 0;
}
