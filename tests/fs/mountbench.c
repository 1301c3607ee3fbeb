/*
 * mountbench.c - how long mount takes and how much DRAM the core keeps per
 * inode and per directory entry (a measurement, never a test: nothing is
 * asserted).  Creates N empty files spread over D directories through
 * fs_mknod on a fresh image under /dev/shm, unmounts cleanly, then times
 *   fs_mount (clean: saved allocator state), fs_abandon (a crash), and
 *   fs_mount (crash: journals, then every log scanned to rebuild free
 *   space), and a lookup of every name (loads the directory indexes).
 * DRAM figures come from mallinfo2() deltas and the structs' sizes.
 *
 *   mountbench MKFS [N [D]]      (make mountbench MOUNTBENCH_N=...)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/fs_int.h"
#include "pmemio/pmemio.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static struct pmio *cur_p;

/* Map the image as the tests do (cache-line flushes on tmpfs, no msync)
 * and mount it; the mapping is part of the time. */
static int do_mount(const char *img, struct fs **fs,
		    struct fs_mount_info *mi, double *secs)
{
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_FORCE_CL };
	struct fs_opts o = { 0 };
	char err[256] = "";
	double t0 = now_s();
	int r = pmio_open(img, &po, &cur_p, err, sizeof(err));

	if (!r) {
		r = fs_mount_pmio(cur_p, &o, fs, mi, err, sizeof(err));
		if (r)
			pmio_close(cur_p);
	}
	*secs = now_s() - t0;
	if (r)
		fprintf(stderr, "mountbench: mount: %d %s\n", r, err);
	return r;
}

static void do_close(void)
{
	pmio_close(cur_p);
	cur_p = NULL;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 0) : 10000;
	uint64_t ndirs = argc > 3 ? strtoull(argv[3], NULL, 0) : 16;
	uint64_t mb, *dino;
	struct fs_mount_info mi;
	struct fs_attr a;
	struct fs *fs;
	char img[128], cmd[512], nm[64];
	double t, tclean, tcrash, tlook;
	size_t h0, h1, h2;
	int r;

	if (argc < 2 || n == 0 || ndirs == 0) {
		fprintf(stderr, "usage: mountbench MKFS [N [DIRS]]\n");
		return 2;
	}
	/* one log page per inode, the inode table, directory logs, slack */
	mb = n * 4096 / (1 << 20) + n * 64 / (1 << 20) + n * 80 / (1 << 20) +
	     128;
	snprintf(img, sizeof(img), "/dev/shm/pmfs-mountbench-%d.img",
		 (int)getpid());
	snprintf(cmd, sizeof(cmd), "%s --size %lluM -f %s >/dev/null", argv[1],
		 (unsigned long long)mb, img);
	if (system(cmd) != 0) {
		fprintf(stderr, "mountbench: %s failed\n", cmd);
		return 1;
	}
	dino = calloc(ndirs, sizeof(*dino));
	if (!dino || do_mount(img, &fs, &mi, &t))
		goto fail;
	t = now_s();
	for (uint64_t d = 0; d < ndirs; d++) {
		snprintf(nm, sizeof(nm), "d%llu", (unsigned long long)d);
		if ((r = fs_mkdir(fs, NULL, 1, nm, 0755, &a)))
			goto fail_op;
		dino[d] = a.ino;
	}
	for (uint64_t i = 0; i < n; i++) {
		snprintf(nm, sizeof(nm), "file-%llu", (unsigned long long)i);
		if ((r = fs_mknod(fs, NULL, dino[i % ndirs], nm,
				  S_IFREG | 0644, 0, &a)))
			goto fail_op;
	}
	printf("created %llu files in %llu directories: %.2f s (%.2f us "
	       "per create), image %llu MiB\n",
	       (unsigned long long)n, (unsigned long long)ndirs, now_s() - t,
	       (now_s() - t) * 1e6 / (double)n, (unsigned long long)mb);
	if (fs_unmount(fs))
		goto fail;
	do_close();

	h0 = heap_used();
	if (do_mount(img, &fs, &mi, &tclean))
		goto fail;
	h1 = heap_used();
	printf("mount clean: %.3f s  (was_clean %d, %llu inodes) DRAM %.1f "
	       "bytes/inode\n",
	       tclean, mi.was_clean, (unsigned long long)mi.inodes,
	       (double)(h1 - h0) / (double)n);
	fs_abandon(fs); /* the crash: no clean flag, no saved state */
	do_close();

	h0 = heap_used();
	if (do_mount(img, &fs, &mi, &tcrash))
		goto fail;
	h1 = heap_used();
	printf("mount crash: %.3f s  (was_clean %d, %llu inodes) DRAM %.1f "
	       "bytes/inode after the rebuild\n",
	       tcrash, mi.was_clean, (unsigned long long)mi.inodes,
	       (double)(h1 - h0) / (double)n);
	t = now_s();
	for (uint64_t i = 0; i < n; i++) {
		snprintf(nm, sizeof(nm), "file-%llu", (unsigned long long)i);
		if ((r = fs_lookup(fs, dino[i % ndirs], nm, &a)))
			goto fail_op;
	}
	tlook = now_s() - t;
	h2 = heap_used();
	printf("lookup of every name: %.3f s (%.2f us per lookup, the first "
	       "one per directory loads it); DRAM then %.1f bytes per entry "
	       "+ inode\n",
	       tlook, tlook * 1e6 / (double)n, (double)(h2 - h1) / (double)n);
	printf("struct sizes: fs_inode %zu, fs_dent %zu + name, dir slot %zu\n",
	       sizeof(struct fs_inode), sizeof(struct fs_dent),
	       sizeof(struct fs_dent *) * 2 + sizeof(uint64_t));
	fs_unmount(fs);
	do_close();
	unlink(img);
	free(dino);
	return 0;
fail_op:
	fprintf(stderr, "mountbench: operation failed: %d (%s)\n", r, nm);
	fs_abandon(fs);
	do_close();
fail:
	unlink(img);
	free(dino);
	return 1;
}
