/*
 * fuzz_fsck.c - libFuzzer target: fsck.pmfs must survive any image.
 *
 * Inputs are patches to a good image (fuzz_img.h).  fsck_check() runs
 * in-process, with -f: -n, or -y when the mode's FZ_REPAIR bit is set.
 * Checked besides "no crash, no sanitizer report": with -n the image is
 * byte-identical afterwards; with PMFS_FUZZ_STRICT=1 a second repair run
 * after a repair finds nothing.  Crash inputs are kept in fuzz/regress/
 * and replayed by the bounded run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fsck/fsck.h"
#include "fuzz_img.h"

static bool strict;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	strict = getenv("PMFS_FUZZ_STRICT") != NULL;
	fz_init("fuzz_fsck");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsck_opts o = { .force = true, .dev = fz_path };
	uint8_t mode;
	size_t len;
	int r;

	if (size < 1)
		return 0;
	len = fz_build(data, size, &mode);
	o.mode = (mode & FZ_REPAIR) ? FSCK_MODE_YES : FSCK_MODE_NO;
	fsck_cancel = 0;
	r = fsck_check(&o);
	if (o.mode == FSCK_MODE_NO && !fz_unchanged(len)) {
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
