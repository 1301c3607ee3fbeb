/*
 * test_mkfs_crash.c - mkfs interrupted at every fence.  fs_mkfs runs on the
 * recording backend of pmemio, on a blank image and over an existing
 * pmfs holding files (mkfs -f); at every crash point the images a power
 * cut could leave (the durable state, every in-flight word, each alone,
 * all but each) must be either refused by the mount as not a pmfs
 * (-EINVAL, fmt_super_check's "bad magic") or mount without a warning,
 * show a whole tree - the old filesystem's or the new empty one - and
 * agree with fsck (differ_check).  The old filesystem's superblocks must
 * therefore go before anything else is written (fs_mkfs.c, step 1).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "differ.h"
#include "format/fmt.h"
#include "fs/fs.h"
#include "pmemio/pmemio.h"
#include "testutil.h"
#include "treewalk.h"

#define IMG_SIZE (8u << 20)

struct outcome {
	unsigned images, not_pmfs, old_fs, new_fs;
};

static void mkfs_opts(struct fs_mkfs_opts *o)
{
	memset(o, 0, sizeof(*o));
	memset(o->uuid, 0x5a, sizeof(o->uuid));
	o->label = "crash";
	o->mkfs_time = 1700000000;
}

/* The old filesystem: mkfs, then a few files and a directory. */
static void old_fs(const char *img)
{
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	const struct fs_ctx c = { .uid = 0, .gid = 0 };
	struct fs_mkfs_opts mo;
	struct fs_mkfs_info mi;
	struct fs_attr a, d;
	char err[256], buf[6000];
	struct pmio *p;
	struct fs *fs;

	mkfs_opts(&mo);
	memset(mo.uuid, 0x11, sizeof(mo.uuid));
	cr_assert_eq(pmio_open(img, &po, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(fs_mkfs(p, pmio_size(p), &mo, &mi, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(fs_mount_pmio(p, NULL, &fs, NULL, err, sizeof(err)), 0,
		     "%s", err);
	memset(buf, 'o', sizeof(buf));
	cr_assert_eq(fs_mkdir(fs, &c, PMFS_ROOT_INO, "old", 0755, &d), 0);
	for (int i = 0; i < 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", i);
		cr_assert_eq(fs_mknod(fs, &c, d.ino, name, S_IFREG | 0644, 0,
				      &a),
			     0);
		cr_assert_eq(fs_pwrite(fs, a.ino, buf, sizeof(buf), 0), 0);
	}
	cr_assert_eq(fs_unmount(fs), 0);
	pmio_close(p);
}

/* One crash image: refused as not a pmfs, or a clean mount. */
static void check_image(const char *path, struct outcome *o, uint64_t k,
			const char *what)
{
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL };
	struct fs_mount_info mi = { 0 };
	struct differ_result dr;
	struct tw_result w;
	struct pmio *p;
	struct fs *fs;
	char err[256] = "";
	int r;

	o->images++;
	cr_assert_eq(pmio_open(path, &po, &p, err, sizeof(err)), 0, "%s", err);
	r = fs_mount_pmio(p, NULL, &fs, &mi, err, sizeof(err));
	if (r) {
		cr_assert_eq(r, -EINVAL,
			     "fence %lu (%s): mount says %d (%s), not \"not a "
			     "pmfs\"",
			     (unsigned long)k, what, r, err);
		o->not_pmfs++;
		pmio_close(p);
		return;
	}
	cr_assert_eq(mi.warnings, 0, "fence %lu (%s): mount warned",
		     (unsigned long)k, what);
	cr_assert_eq(tw_walk(fs, &w), 0, "fence %lu (%s): %s",
		     (unsigned long)k, what, w.first);
	if (tw_find(&w, "/old"))
		o->old_fs++;
	else
		o->new_fs++;
	cr_assert(tw_find(&w, "/old") || w.nn == 2,
		  "fence %lu (%s): neither the old tree nor the new one",
		  (unsigned long)k, what);
	tw_free(&w);
	cr_assert_eq(fs_unmount(fs), 0);
	pmio_close(p);
	/* the image is left as the mount made it: fsck must agree too */
	cr_assert_eq(differ_check(path, &dr), 0, "fence %lu (%s): %s",
		     (unsigned long)k, what, dr.why);
}

/* Write the image of c keeping the in-flight words of keep; check it. */
static void try_image(struct pmio_rec_cursor *c, const uint8_t *keep,
		      uint8_t *buf, const char *scratch, struct outcome *o,
		      const char *what)
{
	int fd = open(scratch, O_WRONLY);

	pmio_rec_cursor_image(c, keep, buf);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, buf, IMG_SIZE, 0), (ssize_t)IMG_SIZE);
	close(fd);
	check_image(scratch, o, pmio_rec_cursor_fence(c), what);
}

static void crash_mkfs(bool over_old, struct outcome *o)
{
	struct pmio_opts po = { .flags = PMIO_O_QUIET | PMIO_O_EXCL |
					 PMIO_O_RECORD | PMIO_O_FORCE_CL };
	char *img = tu_tmpimg(IMG_SIZE), *scratch = tu_tmpimg(IMG_SIZE);
	uint8_t *buf = malloc(IMG_SIZE), *keep;
	struct pmio_rec_cursor *c;
	struct fs_mkfs_opts mo;
	struct fs_mkfs_info mi;
	char err[256];
	struct pmio *p;

	cr_assert_not_null(buf);
	if (over_old)
		old_fs(img);
	setenv("PMFS_REC_FULLSCAN", "1", 1);
	cr_assert_eq(pmio_open(img, &po, &p, err, sizeof(err)), 0, "%s", err);
	mkfs_opts(&mo);
	cr_assert_eq(fs_mkfs(p, pmio_size(p), &mo, &mi, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(pmio_rec_cursor_new(p, &c), 0);
	pmio_close(p);
	memset(o, 0, sizeof(*o));
	while (pmio_rec_cursor_next(c)) {
		const struct pmio_rec_word *words;
		size_t n = pmio_rec_cursor_inflight(c, &words);

		keep = calloc(n + 1, 1);
		cr_assert_not_null(keep);
		try_image(c, keep, buf, scratch, o, "durable");
		if (n) {
			memset(keep, 1, n);
			try_image(c, keep, buf, scratch, o, "all in flight");
		}
		/* each word alone and all but each, sampled for big fences */
		for (size_t i = 0; n > 1 && i < n; i += 1 + n / 64) {
			memset(keep, 0, n);
			keep[i] = 1;
			try_image(c, keep, buf, scratch, o, "one word");
			memset(keep, 1, n);
			keep[i] = 0;
			try_image(c, keep, buf, scratch, o, "all but one");
		}
		free(keep);
	}
	pmio_rec_cursor_free(c);
	unsetenv("PMFS_REC_FULLSCAN");
	free(buf);
	tu_rmimg(scratch);
	tu_rmimg(img);
}

Test(mkfs_crash, blank_namespace, .timeout = 300)
{
	struct outcome o;

	crash_mkfs(false, &o);
	fprintf(stderr, "mkfs crash, blank: %u images, %u not a pmfs, %u the "
			"new filesystem\n",
		o.images, o.not_pmfs, o.new_fs);
	cr_assert_eq(o.old_fs, 0);
	cr_assert_gt(o.not_pmfs, 0);
	cr_assert_gt(o.new_fs, 0, "the last crash point is the whole mkfs");
}

Test(mkfs_crash, over_an_existing_pmfs, .timeout = 300)
{
	struct outcome o;

	crash_mkfs(true, &o);
	fprintf(stderr, "mkfs crash, -f over a pmfs: %u images, %u not a pmfs,"
			" %u the old filesystem, %u the new one\n",
		o.images, o.not_pmfs, o.old_fs, o.new_fs);
	cr_assert_gt(o.old_fs, 0, "before step 1 the old filesystem stands");
	cr_assert_gt(o.not_pmfs, 0);
	cr_assert_gt(o.new_fs, 0);
}
