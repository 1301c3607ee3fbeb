/*
 * fuzz_mount.c - libFuzzer target: the mount must survive any image, and
 * agree with fsck.pmfs about it.
 *
 * Inputs are patches to a good image (fuzz_img.h; the corpus is shared
 * with fuzz_fsck.c).  Each image goes through the differential check
 * (tests/lib/differ.h): fsck -n -f in-process, then the core's mount
 * (fs_mount_pmio) of a copy and a walk of the whole tree through the fs
 * API (lookup, getattr, readdir, read, readlink, listxattr, getxattr),
 * then the unmount.  Checked besides "no crash, no sanitizer report":
 * the two readers agree (differ.h's rules), and fsck -n changed nothing.
 * With the mode's FZ_REPAIR bit, fsck -y runs first; when it leaves the
 * image repaired or clean, fsck -n must then find nothing and the mount
 * must accept the image without a complaint.  Crash inputs are kept in
 * fuzz/regress/ and replayed by the bounded run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fsck/fsck.h"
#include "fuzz_img.h"
#include "differ.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init("fuzz_mount");
	return 0;
}

/* Stop the run on a broken rule, saying which. */
static void fail(const char *what, const struct differ_result *res)
{
	fprintf(stderr, "fuzz_mount: %s: fsck exit %d, %u findings, mount %d, "
		"%llu warnings, %llu walk problems: %s\n", what,
		res->fsck_status, res->findings, res->mount_err,
		(unsigned long long)res->warnings,
		(unsigned long long)res->walk_problems, res->why);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsck_opts o = { .mode = FSCK_MODE_YES, .force = true,
			       .quiet = true, .dev = fz_path };
	struct differ_result res;
	uint8_t mode;
	size_t len;
	int r;

	if (size < 1)
		return 0;
	len = fz_build(data, size, &mode);
	if (mode & FZ_REPAIR) {
		fsck_cancel = 0;
		if (fsck_check(&o) & ~FSCK_EXIT_FIXED)
			return 0; /* left unrepaired: nothing more to hold */
	}
	fsck_cancel = 0;
	r = differ_check(fz_path, &res);
	if (r == -1)
		fail("the readers disagree", &res);
	if (r == 0 && (mode & FZ_REPAIR) && (res.fsck_status || res.complaint))
		fail("after fsck -y", &res);
	if (!(mode & FZ_REPAIR) && !fz_unchanged(len)) {
		fprintf(stderr, "fuzz_mount: fsck -n changed the image\n");
		abort();
	}
	return 0;
}
