/*
 * fuzz_fsck.c - libFuzzer target: fsck.pmfs must survive any image.
 *
 * A good image is made once (mkfs.pmfs from $PMFS_MKFS, default
 * build/mkfs.pmfs, then a small tree written through the fs API).  Each
 * input is a list of patches applied to a copy of it, so mutations land
 * on real structures instead of on an 8 MiB sea of zeros:
 *   byte 0        mode: bit 0 repair (-y) else check (-n); bit 1 truncate
 *                 the image to (byte 1) * 32 KiB first; bit 2 reseal:
 *                 after patching, recompute the checksums of the
 *                 superblocks and of every log page and entry of the good
 *                 image (found once with ilog_walk), so that damage
 *                 reaches the semantic checks behind the checksums
 *   then records  le16 block index (into the list of non-zero blocks of
 *                 the good image), le16 offset in the block, u8 length,
 *                 that many bytes
 * Then fsck_check() runs in-process, with -f.  Checked besides "no crash,
 * no sanitizer report": with -n the image is byte-identical afterwards;
 * with PMFS_FUZZ_STRICT=1 a second repair run after a repair finds nothing.
 * Crash inputs are kept in fuzz/regress/ and replayed by the bounded run;
 * PMFS_FUZZ_SAVE=FILE writes the image an input makes, to run fsck.pmfs
 * on it by hand.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "format/fmt.h"
#include "format/format.h"
#include "log/log.h"
#include "fs/fs.h"
#include "fsck/fsck.h"
#include "pmemio/pmemio.h"

#define IMG_SIZE (8u << 20)

static char img_path[64];
static uint8_t *base_img, *work;
static uint32_t *nz; /* non-zero blocks of the good image */
static size_t nnz;
static bool strict;

struct spot {
	uint64_t ino, off;
};
static struct spot *ents, *pages; /* log entries and pages, good image */
static size_t nents, npages, capents, cappages;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_fsck: %s: %s\n", what, strerror(errno));
	abort();
}

static void populate(void)
{
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	const struct fs_ctx c = { 0, 0 };
	struct fs_attr a, d;
	char buf[3 * PMFS_BLOCK_SIZE], err[256];
	struct pmio *p;
	struct fs *fs;

	if (pmio_open(img_path, &po, &p, err, sizeof(err)))
		die(err);
	if (fs_mount_pmio(p, NULL, &fs, NULL, err, sizeof(err)))
		die(err);
	memset(buf, 'x', sizeof(buf));
	if (fs_mkdir(fs, &c, PMFS_ROOT_INO, "d", 0755, &d) ||
	    fs_mkdir(fs, &c, d.ino, "e", 0755, &a) ||
	    fs_mknod(fs, &c, PMFS_ROOT_INO, "f", S_IFREG | 0644, 0, &a) ||
	    fs_pwrite(fs, a.ino, buf, sizeof(buf), 0) ||
	    fs_setxattr(fs, a.ino, "user.k", "v", 1, 0) ||
	    fs_link(fs, a.ino, d.ino, "h", &a) ||
	    fs_symlink(fs, &c, d.ino, "s", "../f", &a) ||
	    fs_mknod(fs, &c, d.ino, "g", S_IFREG | 0600, 0, &a) ||
	    fs_pwrite(fs, a.ino, buf, 100, 0))
		die("populate");
	fs_unmount(fs);
	pmio_close(p);
}

static void spot_add(struct spot **a, size_t *n, size_t *cap, uint64_t ino,
		     uint64_t off)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*a = realloc(*a, *cap * sizeof(**a));
		if (!*a)
			die("realloc");
	}
	(*a)[*n].ino = ino;
	(*a)[(*n)++].off = off;
}

static uint64_t walk_ino;

static int rec_entry(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	(void)arg;
	(void)e;
	spot_add(&ents, &nents, &capents, walk_ino, off);
	return 0;
}

static int rec_page(void *arg, uint64_t off)
{
	(void)arg;
	spot_add(&pages, &npages, &cappages, walk_ino, off);
	return 0;
}

/* Where the good image's checksummed log structures are. */
static void find_spots(void)
{
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_RDONLY };
	struct ilog_dev d;
	struct pmio *p;
	char why[160];

	if (pmio_open(img_path, &po, &p, why, sizeof(why)) ||
	    ilog_dev_init(&d, p, why, sizeof(why)))
		die(why);
	for (uint64_t ino = 1; ino < PMFS_INODES_PER_CHUNK; ino++) {
		struct pmfs_inode *s = ilog_slot(&d, ino);

		if (!s || !s->tail)
			continue;
		walk_ino = ino;
		ilog_walk(&d, ino, s->head, s->tail, rec_entry, rec_page, NULL,
			  true, NULL);
	}
	pmio_close(p);
}

/* Recompute every checksum the good image had (mode bit 2). */
static void reseal(void)
{
	struct pmfs_super *sb = (void *)work;
	struct pmfs_super *copy = (void *)(work + PMFS_BLOCK_SIZE);

	sb->crc = fmt_super_crc(sb);
	copy->crc = fmt_super_crc(copy);
	for (size_t i = 0; i < npages; i++) {
		struct pmfs_logpage *pg = (void *)(work + pages[i].off);

		pg->crc = fmt_logpage_crc(pg);
	}
	for (size_t i = 0; i < nents; i++) {
		struct pmfs_lentry *e = (void *)(work + ents[i].off);
		uint64_t room = PMFS_BLOCK_SIZE - ents[i].off % PMFS_BLOCK_SIZE;

		if (e->len >= sizeof(*e) && e->len % 8 == 0 && e->len <= room)
			fmt_entry_seal(ents[i].ino, e);
	}
}

/* The scratch image lives in /dev/shm: remove it when the run ends. */
static void remove_img(void)
{
	unlink(img_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *mkfs = getenv("PMFS_MKFS");
	char cmd[512];
	int fd;

	(void)argc;
	(void)argv;
	strict = getenv("PMFS_FUZZ_STRICT") != NULL;
	if (!mkfs)
		mkfs = "build/mkfs.pmfs";
	snprintf(img_path, sizeof(img_path), "/dev/shm/pmfs-fuzz-%d.img",
		 (int)getpid());
	fd = open(img_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, IMG_SIZE))
		die(img_path);
	close(fd);
	atexit(remove_img);
	snprintf(cmd, sizeof(cmd), "%s -q -f %s", mkfs, img_path);
	if (system(cmd) != 0)
		die("mkfs.pmfs (set PMFS_MKFS)");
	populate();
	find_spots();
	base_img = malloc(IMG_SIZE);
	work = malloc(IMG_SIZE);
	nz = malloc(IMG_SIZE / PMFS_BLOCK_SIZE * sizeof(*nz));
	fd = open(img_path, O_RDONLY);
	if (!base_img || !work || !nz || fd < 0 ||
	    pread(fd, base_img, IMG_SIZE, 0) != IMG_SIZE)
		die("read image");
	close(fd);
	for (uint32_t b = 0; b < IMG_SIZE / PMFS_BLOCK_SIZE; b++) {
		const uint8_t *p = base_img + (size_t)b * PMFS_BLOCK_SIZE;

		for (size_t i = 0; i < PMFS_BLOCK_SIZE; i++) {
			if (p[i]) {
				nz[nnz++] = b;
				break;
			}
		}
	}
	if (!freopen("/dev/null", "w", stdout))
		die("stdout");
	return 0;
}

static void put_image(size_t len)
{
	int fd = open(img_path, O_RDWR);

	/* no O_TRUNC: rewriting pages tmpfs already has is much cheaper */
	if (fd < 0 || ftruncate(fd, (off_t)len) ||
	    pwrite(fd, work, len, 0) != (ssize_t)len)
		die("write image");
	close(fd);
}

static bool image_is(size_t len)
{
	int fd = open(img_path, O_RDONLY);
	uint8_t *now = malloc(len ? len : 1);
	bool same;

	if (fd < 0 || !now || pread(fd, now, len, 0) != (ssize_t)len)
		die("read back");
	close(fd);
	same = memcmp(now, work, len) == 0;
	free(now);
	return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsck_opts o = { .force = true, .dev = img_path };
	size_t len = IMG_SIZE, i = 1;
	uint8_t mode;
	int r;

	if (size < 1)
		return 0;
	mode = data[0];
	memcpy(work, base_img, IMG_SIZE);
	if ((mode & 2) && size > 1) {
		len = (size_t)data[1] * 32768u;
		i = 2;
	}
	while (i + 5 <= size) {
		uint32_t blk = nz[(data[i] | data[i + 1] << 8) % nnz];
		uint32_t off = (uint32_t)(data[i + 2] | data[i + 3] << 8) %
			       PMFS_BLOCK_SIZE;
		size_t n = data[i + 4];

		i += 5;
		if (n > size - i)
			n = size - i;
		if (n > PMFS_BLOCK_SIZE - off)
			n = PMFS_BLOCK_SIZE - off;
		memcpy(work + (size_t)blk * PMFS_BLOCK_SIZE + off, data + i, n);
		i += n;
	}
	if (mode & 4)
		reseal();
	put_image(len);
	if (getenv("PMFS_FUZZ_SAVE")) { /* the image of this input, to debug */
		FILE *fp = fopen(getenv("PMFS_FUZZ_SAVE"), "wb");

		if (!fp || fwrite(work, 1, len, fp) != len)
			die("PMFS_FUZZ_SAVE");
		fclose(fp);
	}
	o.mode = (mode & 1) ? FSCK_MODE_YES : FSCK_MODE_NO;
	fsck_cancel = 0;
	r = fsck_check(&o);
	if (o.mode == FSCK_MODE_NO && !image_is(len)) {
		fprintf(stderr, "fuzz_fsck: fsck -n changed the image\n");
		abort();
	}
	if (strict && o.mode == FSCK_MODE_YES && r == FSCK_EXIT_FIXED) {
		r = fsck_check(&o);
		if (r != 0) {
			fprintf(stderr, "fuzz_fsck: second run exit %d\n", r);
			abort();
		}
	}
	return 0;
}
