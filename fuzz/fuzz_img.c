/*
 * fuzz_img.c - the images both libFuzzer targets run on (fuzz_img.h).
 */
#include "fuzz_img.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/fmt.h"
#include "format/format.h"
#include "fs/fs.h"
#include "log/log.h"
#include "pmemio/pmemio.h"

char fz_path[64];
const char *fz_name = "fuzz";
uint8_t *fz_work;
static uint8_t *base_img;
static uint32_t *nz; /* non-zero blocks of the good image */
static size_t nnz;

struct spot {
	uint64_t ino, off;
};
static struct spot *ents, *pages; /* log entries and pages, good image */
static size_t nents, npages, capents, cappages;

/* Report a failure of the target's own set-up and stop. */
void fz_die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", fz_name, what, strerror(errno));
	abort();
}

/* Write a small tree into the fresh image through the fs API. */
static void populate(void)
{
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	const struct fs_ctx c = { .uid = 0, .gid = 0 };
	struct fs_attr a, d;
	char buf[3 * PMFS_BLOCK_SIZE], err[256];
	struct pmio *p;
	struct fs *fs;

	if (pmio_open(fz_path, &po, &p, err, sizeof(err)))
		fz_die(err);
	if (fs_mount_pmio(p, NULL, &fs, NULL, err, sizeof(err)))
		fz_die(err);
	memset(buf, 'x', sizeof(buf));
	if (fs_mkdir(fs, &c, PMFS_ROOT_INO, "d", 0755, &d) ||
	    fs_mkdir(fs, &c, d.ino, "e", 0755, &a) ||
	    fs_mknod(fs, &c, PMFS_ROOT_INO, "f", S_IFREG | 0644, 0, &a) ||
	    fs_pwrite(fs, a.ino, buf, sizeof(buf), 0) ||
	    fs_setxattr(fs, a.ino, "user.k", "v", 1, 0) ||
	    fs_setxattr(fs, a.ino, "user.big", buf, 5000, 0) ||
	    fs_link(fs, a.ino, d.ino, "h", &a) ||
	    fs_symlink(fs, &c, d.ino, "s", "../f", &a) ||
	    fs_mknod(fs, &c, d.ino, "g", S_IFREG | 0600, 0, &a) ||
	    fs_pwrite(fs, a.ino, buf, 100, 0))
		fz_die("populate");
	fs_unmount(fs);
	pmio_close(p);
}

/* Append (ino, off) to the array *a. */
static void spot_add(struct spot **a, size_t *n, size_t *cap, uint64_t ino,
		     uint64_t off)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*a = realloc(*a, *cap * sizeof(**a));
		if (!*a)
			fz_die("realloc");
	}
	(*a)[*n].ino = ino;
	(*a)[(*n)++].off = off;
}

static uint64_t walk_ino;

/* ilog_walk callback: note a log entry of walk_ino. */
static int rec_entry(void *arg, const struct pmfs_lentry *e, uint64_t off)
{
	(void)arg;
	(void)e;
	spot_add(&ents, &nents, &capents, walk_ino, off);
	return 0;
}

/* ilog_walk callback: note a log page of walk_ino. */
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

	if (pmio_open(fz_path, &po, &p, why, sizeof(why)) ||
	    ilog_dev_init(&d, p, why, sizeof(why)))
		fz_die(why);
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
	struct pmfs_super *sb = (void *)fz_work;
	struct pmfs_super *copy = (void *)(fz_work + PMFS_BLOCK_SIZE);

	sb->crc = fmt_super_crc(sb);
	copy->crc = fmt_super_crc(copy);
	for (size_t i = 0; i < npages; i++) {
		struct pmfs_logpage *pg = (void *)(fz_work + pages[i].off);

		pg->crc = fmt_logpage_crc(pg);
	}
	for (size_t i = 0; i < nents; i++) {
		struct pmfs_lentry *e = (void *)(fz_work + ents[i].off);
		uint64_t room = PMFS_BLOCK_SIZE - ents[i].off % PMFS_BLOCK_SIZE;

		if (e->len >= sizeof(*e) && e->len % 8 == 0 && e->len <= room)
			fmt_entry_seal(ents[i].ino, e);
	}
}

/* The scratch image lives in /dev/shm: remove it when the run ends. */
static void remove_img(void)
{
	unlink(fz_path);
}

void fz_init(const char *name)
{
	const char *mkfs = getenv("PMFS_MKFS");
	char cmd[512];
	int fd;

	fz_name = name;
	if (!mkfs)
		mkfs = "build/mkfs.pmfs";
	snprintf(fz_path, sizeof(fz_path), "/dev/shm/pmfs-%s-%d.img", name,
		 (int)getpid());
	fd = open(fz_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, FZ_IMG_SIZE))
		fz_die(fz_path);
	close(fd);
	atexit(remove_img);
	snprintf(cmd, sizeof(cmd), "%s -q -f %s", mkfs, fz_path);
	if (system(cmd) != 0)
		fz_die("mkfs.pmfs (set PMFS_MKFS)");
	populate();
	find_spots();
	base_img = malloc(FZ_IMG_SIZE);
	fz_work = malloc(FZ_IMG_SIZE);
	nz = malloc(FZ_IMG_SIZE / PMFS_BLOCK_SIZE * sizeof(*nz));
	fd = open(fz_path, O_RDONLY);
	if (!base_img || !fz_work || !nz || fd < 0 ||
	    pread(fd, base_img, FZ_IMG_SIZE, 0) != FZ_IMG_SIZE)
		fz_die("read image");
	close(fd);
	for (uint32_t b = 0; b < FZ_IMG_SIZE / PMFS_BLOCK_SIZE; b++) {
		const uint8_t *p = base_img + (size_t)b * PMFS_BLOCK_SIZE;

		for (size_t i = 0; i < PMFS_BLOCK_SIZE; i++) {
			if (p[i]) {
				nz[nnz++] = b;
				break;
			}
		}
	}
	if (!freopen("/dev/null", "w", stdout))
		fz_die("stdout");
}

size_t fz_build(const uint8_t *data, size_t size, uint8_t *mode)
{
	size_t len = FZ_IMG_SIZE, i = 1;

	*mode = data[0];
	memcpy(fz_work, base_img, FZ_IMG_SIZE);
	if ((*mode & FZ_TRUNCATE) && size > 1) {
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
		memcpy(fz_work + (size_t)blk * PMFS_BLOCK_SIZE + off, data + i,
		       n);
		i += n;
	}
	if (*mode & FZ_RESEAL)
		reseal();
	fz_put(len);
	if (getenv("PMFS_FUZZ_SAVE")) { /* the image of this input, to debug */
		FILE *fp = fopen(getenv("PMFS_FUZZ_SAVE"), "wb");

		if (!fp || fwrite(fz_work, 1, len, fp) != len)
			fz_die("PMFS_FUZZ_SAVE");
		fclose(fp);
	}
	return len;
}

void fz_put(size_t len)
{
	int fd = open(fz_path, O_RDWR);

	/* no O_TRUNC: rewriting pages tmpfs already has is much cheaper */
	if (fd < 0 || ftruncate(fd, (off_t)len) ||
	    pwrite(fd, fz_work, len, 0) != (ssize_t)len)
		fz_die("write image");
	close(fd);
}

bool fz_unchanged(size_t len)
{
	int fd = open(fz_path, O_RDONLY);
	uint8_t *now = malloc(len ? len : 1);
	bool same;

	if (fd < 0 || !now || pread(fd, now, len, 0) != (ssize_t)len)
		fz_die("read back");
	close(fd);
	same = memcmp(now, fz_work, len) == 0;
	free(now);
	return same;
}
